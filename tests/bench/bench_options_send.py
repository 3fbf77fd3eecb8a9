#!/usr/bin/env python3
"""OPTIONS the daemon sends per second, driven through the control socket.

    bench_options_send.py -s SOCKET -u URI [-c CONNS] [-P DEPTH] [-d SECS]

Opens CONNS control connections (default 16) and keeps DEPTH (default 4)
`options URI` requests written ahead on each.  The daemon runs one
`options` at a time per connection (later requests wait, replies stay in
order), so CONNS is the number of OPTIONS transactions in flight.  After a
warm-up of 0.5 s it counts completed replies for SECS seconds (default 5),
then stops writing and drains what is in flight.

Prints one line:  completed=N ok=N failed=N seconds=S per_sec=R
(an exchange ends with its `EVENT options.result` — ok: `result=ok`, a
2xx; failed: any other result, a non-2xx, a timeout, an error — or
with an `ERR` reply when the daemon refused to start it) and, for the first few failures, their status lines on stderr.
Exit status 0 after printing; 1 on a connection or protocol error (no
greeting, ERR busy, a malformed reply, the server closing, 10 s without
any reply); 2 on bad arguments.  python3 standard library only.
"""
import argparse
import selectors
import socket
import sys
import time


def die(msg):
    print("bench_options_send: %s" % msg, file=sys.stderr)
    sys.exit(1)


class Client:
    def __init__(self, path, line):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            die("connect %s: %s" % (path, e))
        self.line = line
        self.buf = b""
        self.greeted = False
        self.in_reply = False       # between a status line and "."
        self.status = None
        self.outstanding = 0

    def send(self, n):
        self.sock.sendall(self.line * n)
        self.outstanding += n

    def feed(self, data):
        """Returns [(ok, status)] for every reply completed by data."""
        self.buf += data
        done = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return done
            line = self.buf[:nl].rstrip(b"\r")
            self.buf = self.buf[nl + 1:]
            if not self.greeted:
                if not line.startswith(b"SIPXD "):
                    die("bad greeting %r" % line.decode("utf-8", "replace"))
                self.greeted = True
            elif not self.in_reply:
                # options is a job: "OK id=N" at once, then the end of
                # the exchange as "EVENT options.result id=N result=…".
                if line.startswith(b"EVENT options.result "):
                    self.outstanding -= 1
                    done.append((b" result=ok" in line, line))
                    continue
                if line.startswith(b"EVENT "):
                    continue
                if not (line == b"OK" or line.startswith(b"OK ") or
                        line.startswith(b"ERR ")):
                    die("expected a status line, got %r" % line)
                self.status = line
                self.in_reply = True
            elif line == b".":
                self.in_reply = False
                if self.status.startswith(b"ERR "):
                    # Refused before it started: no result will come.
                    self.outstanding -= 1
                    done.append((False, self.status))
            elif not line[:1].islower():
                die("bad data line %r" % line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-s", dest="sock", required=True)
    ap.add_argument("-u", dest="uri", required=True)
    ap.add_argument("-c", dest="conns", type=int, default=16)
    ap.add_argument("-P", dest="depth", type=int, default=4)
    ap.add_argument("-d", dest="secs", type=float, default=5.0)
    ap.add_argument("-t", dest="timeout", type=int, default=0,
                    help="timeout= for each options (0: the default)")
    a = ap.parse_args()
    if not (1 <= a.conns <= 1000 and 1 <= a.depth <= 1000 and
            0.1 <= a.secs <= 3600):
        ap.error("option value out of range")
    line = "options %s%s\n" % (a.uri, " timeout=%d" % a.timeout
                               if a.timeout else "")
    line = line.encode()

    sel = selectors.DefaultSelector()
    clients = [Client(a.sock, line) for _ in range(a.conns)]
    for c in clients:
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, c)
        c.send(a.depth)

    warm = 0.5
    t_start = time.monotonic()
    t0 = t_start + warm
    t_end = t0 + a.secs
    counting = False
    completed = ok = failed = 0
    shown = 0
    last_reply = time.monotonic()
    stopping = False
    while True:
        now = time.monotonic()
        if not counting and now >= t0:
            counting = True
            t0 = now
        if not stopping and now >= t_end:
            stopping = True
            t_stop = now
        if stopping and all(c.outstanding == 0 for c in clients):
            break
        if now - last_reply > 10:
            die("no reply for 10 s (%d outstanding)"
                % sum(c.outstanding for c in clients))
        for key, _ in sel.select(0.2):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                die("the server closed a connection%s" %
                    (": %r" % c.buf[:200] if c.buf else ""))
            done = c.feed(data)
            if not done:
                continue
            last_reply = time.monotonic()
            if counting and not stopping:
                completed += len(done)
                for good, status in done:
                    if good:
                        ok += 1
                    else:
                        failed += 1
                        if shown < 5:
                            shown += 1
                            print("bench_options_send: %s"
                                  % status.decode("utf-8", "replace"),
                                  file=sys.stderr)
            if not stopping:
                try:
                    c.sock.setblocking(True)
                    c.send(len(done))
                finally:
                    c.sock.setblocking(False)
    secs = t_stop - t0
    for c in clients:
        c.sock.close()
    print("completed=%d ok=%d failed=%d seconds=%.2f per_sec=%.0f"
          % (completed, ok, failed, secs, completed / secs if secs else 0))


if __name__ == "__main__":
    main()
