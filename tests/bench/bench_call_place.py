#!/usr/bin/env python3
"""Calls sipxd places per second, driven through the control socket.

    bench_call_place.py -s SOCKET -a ACCOUNT -u URI -r RATE -d SECS
                        [-c CONNS] [-m MEDIA] [-t TIMEOUT] [-l LINE]

Writes `call ACCOUNT URI media=MEDIA timeout=TIMEOUT` lines at RATE a
second for SECS seconds (RATE * SECS calls), spread over CONNS control
connections (default 32).  With -l, LINE is written instead (another
job, e.g. `message ACCOUNT URI TEXT`, run-message-bench.sh): any
`EVENT <kind>.result` of a job ends it.  A connection runs at most 32 jobs at once
(SIPX_CTL_JOBS_MAX: a call's job lasts until it is answered or fails),
so a call is written on a connection with room; when every connection
is full the pacer falls behind and catches up as results come (the
figure `behind_max` says how far it fell).  The callee hangs up (the
SIPp UAS sends BYE), so no hangup command is needed.  After the last
call is written, waits for every job's result (at most TIMEOUT + 5 s).

Prints one line:
    placed=N ok=N failed=N refused=N lost=N send_s=S placed_per_s=R
    ok_per_s=R behind_max=N answer_ms_p50=X answer_ms_p99=X answer_ms_max=X
placed: `call` lines written; ok: `EVENT call.result result=ok`
(answered); failed: `result=failed`; refused: an `ERR` reply (the
daemon did not start the call); lost: no result before the deadline.
ok_per_s: ok over the time from the first line written to the last
result; answer_ms: from writing the line to reading its result.  The
first few failures and refusals go to stderr.  Exit 0 after printing; 1
on a connection or protocol error; 2 on bad arguments.  python3
standard library only.
"""
import argparse
import selectors
import socket
import sys
import time

JOBS_MAX = 32


def die(msg):
    print("bench_call_place: %s" % msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            die("connect %s: %s" % (path, e))
        self.buf = b""
        self.greeted = False
        self.in_reply = False
        self.outstanding = 0
        # Write times of calls whose OK has not come yet, in order;
        # then by id once the OK names it.
        self.unacked = []
        self.by_id = {}
        self.out = b""


class Bench:
    def __init__(self, args):
        self.a = args
        if args.line:
            self.line = (args.line + "\n").encode()
        else:
            self.line = ("call %s %s media=%s timeout=%d\n" % (
                args.account, args.uri, args.media,
                args.timeout)).encode()
        self.sel = selectors.DefaultSelector()
        self.conns = [Conn(args.socket) for _ in range(args.conns)]
        for c in self.conns:
            c.sock.setblocking(False)
            self.sel.register(c.sock, selectors.EVENT_READ, c)
        self.ok = self.failed = self.refused = 0
        self.placed = 0
        self.answer = []
        self.t_last = 0.0
        self.shown = 0
        self.next_conn = 0

    def note(self, what):
        if self.shown < 5:
            print("bench_call_place: %s" % what, file=sys.stderr)
        self.shown += 1

    def handle(self, c, line, now):
        if not c.greeted:
            if not line.startswith(b"SIPXD "):
                die("bad greeting: %r" % line[:200])
            c.greeted = True
            return
        if line.startswith(b"EVENT "):
            kind = line.split(b" ", 2)[1]
            if not kind.endswith(b".result"):
                return
            fields = line.split(b" ")
            cid = None
            res = None
            for f in fields:
                if f.startswith(b"id="):
                    cid = f[3:]
                elif f.startswith(b"result="):
                    res = f[7:]
            t0 = c.by_id.pop(cid, None)
            if t0 is None:
                die("result for an unknown id: %r" % line[:200])
            c.outstanding -= 1
            self.t_last = now
            if res == b"ok":
                self.ok += 1
                self.answer.append(now - t0)
            else:
                self.failed += 1
                self.note("failed: %s" % line.decode(errors="replace"))
            return
        if not c.in_reply:
            c.in_reply = True
            if not c.unacked:
                die("reply with no request: %r" % line[:200])
            t0 = c.unacked.pop(0)
            if line.startswith(b"OK id="):
                c.by_id[line[6:].split(b" ")[0]] = t0
            elif line.startswith(b"ERR"):
                c.outstanding -= 1
                self.refused += 1
                self.t_last = now
                self.note("refused: %s" % line.decode(errors="replace"))
            else:
                die("bad status line: %r" % line[:200])
            return
        if line == b".":
            c.in_reply = False

    def read(self, c, now):
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            die("recv: %s" % e)
        if not data:
            die("the daemon closed a connection")
        c.buf += data
        lines = c.buf.split(b"\n")
        c.buf = lines.pop()
        for line in lines:
            self.handle(c, line.rstrip(b"\r"), now)

    def flush(self, c):
        while c.out:
            try:
                n = c.sock.send(c.out)
            except BlockingIOError:
                return
            except OSError as e:
                die("send: %s" % e)
            c.out = c.out[n:]

    def place(self, n, now):
        """Writes up to n calls on connections with room; the count."""
        done = 0
        tried = 0
        nc = len(self.conns)
        while done < n and tried < nc:
            c = self.conns[self.next_conn]
            self.next_conn = (self.next_conn + 1) % nc
            room = JOBS_MAX - c.outstanding
            if room <= 0:
                tried += 1
                continue
            k = min(room, n - done, max(1, n // nc + 1))
            c.out += self.line * k
            c.outstanding += k
            c.unacked.extend([now] * k)
            done += k
            tried = 0
            self.flush(c)
        return done

    def run(self):
        a = self.a
        total = int(a.rate * a.duration)
        # Greetings first, so the clock starts on a ready daemon.
        deadline = time.monotonic() + 10
        while not all(c.greeted for c in self.conns):
            if time.monotonic() > deadline:
                die("no greeting in 10 s")
            for key, _ in self.sel.select(0.1):
                self.read(key.data, time.monotonic())
        t0 = time.monotonic()
        behind_max = 0
        t_sent = t0
        while self.placed < total:
            now = time.monotonic()
            due = min(total, int(a.rate * (now - t0)) + 1)
            if due > self.placed:
                self.placed += self.place(due - self.placed, now)
                if self.placed == total:
                    t_sent = now
            behind_max = max(behind_max, due - self.placed)
            for key, _ in self.sel.select(0.001):
                self.read(key.data, time.monotonic())
            for c in self.conns:
                self.flush(c)
        deadline = time.monotonic() + a.timeout + 5
        while any(c.outstanding for c in self.conns):
            now = time.monotonic()
            if now > deadline:
                break
            for key, _ in self.sel.select(0.05):
                self.read(key.data, time.monotonic())
            for c in self.conns:
                self.flush(c)
        lost = sum(c.outstanding for c in self.conns)
        span = (self.t_last or time.monotonic()) - t0
        send_s = t_sent - t0
        ans = sorted(self.answer)

        def q(p):
            if not ans:
                return 0.0
            return ans[min(len(ans) - 1, int(p * len(ans)))] * 1000

        print("placed=%d ok=%d failed=%d refused=%d lost=%d send_s=%.2f "
              "placed_per_s=%.0f ok_per_s=%.0f behind_max=%d "
              "answer_ms_p50=%.1f answer_ms_p99=%.1f answer_ms_max=%.1f" % (
                  self.placed, self.ok, self.failed, self.refused, lost,
                  send_s, self.placed / send_s if send_s > 0 else 0,
                  self.ok / span if span > 0 else 0, behind_max,
                  q(0.5), q(0.99), ans[-1] * 1000 if ans else 0.0))
        if self.shown > 5:
            print("bench_call_place: %d more failures not shown" %
                  (self.shown - 5), file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-s", dest="socket", required=True)
    p.add_argument("-a", dest="account", required=True)
    p.add_argument("-u", dest="uri", required=True)
    p.add_argument("-r", dest="rate", type=float, required=True)
    p.add_argument("-d", dest="duration", type=float, required=True)
    p.add_argument("-c", dest="conns", type=int, default=32)
    p.add_argument("-m", dest="media", default="none")
    p.add_argument("-t", dest="timeout", type=int, default=10)
    p.add_argument("-l", dest="line", default=None)
    args = p.parse_args()
    if args.rate <= 0 or args.duration <= 0 or not 1 <= args.conns <= 256:
        p.error("rate and duration must be > 0, conns 1..256")
    Bench(args).run()


if __name__ == "__main__":
    main()
