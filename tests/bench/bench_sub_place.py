#!/usr/bin/env python3
"""Subscriptions sipxd holds, started and ended through the control
socket (run-sub-bench.sh).

    bench_sub_place.py -s SOCKET subscribe -a ACCOUNT -u URI -n N
                       [-e EVENT] [-c CONNS]
    bench_sub_place.py -s SOCKET unsubscribe

subscribe: writes N `subscribe ACCOUNT URI event=EVENT` lines over
CONNS connections (default 16), at most 30 outstanding on each (a
subscribe job lasts until its first NOTIFY, SIPX_CTL_JOBS_MAX is 32),
and waits for every job's result.  unsubscribe: reads `subscriptions`
and writes `unsubscribe ID` for each of ours.  Prints one line:
    started=N ok=N failed=N refused=N secs=S per_s=R
(unsubscribe: ended=N refused=N secs=S).  python3 standard library only.
"""
import argparse
import selectors
import socket
import sys
import time

OUT_MAX = 30


def die(msg):
    print("bench_sub_place: %s" % msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            die("connect %s: %s" % (path, e))
        self.buf = b""
        if not self.line().startswith("SIPXD "):
            die("no greeting")
        self.outstanding = 0

    def lines(self):
        """The complete lines buffered now, after one recv."""
        data = self.sock.recv(65536)
        if not data:
            die("the daemon closed the connection")
        self.buf += data
        *done, self.buf = self.buf.split(b"\n")
        return [ln.decode() for ln in done]

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                die("the daemon closed the connection")
            self.buf += data
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode()

    def reply(self):
        """Status line and data lines up to the end line ('.')."""
        status = self.line()
        data = []
        while True:
            ln = self.line()
            if ln == ".":
                return status, data
            if ln.startswith("EVENT "):
                continue
            data.append(ln)


def subscribe(args):
    conns = [Conn(args.s) for _ in range(args.c)]
    sel = selectors.DefaultSelector()
    started = ok = failed = refused = 0
    t0 = time.monotonic()
    line = ("subscribe %s %s event=%s\n" % (args.a, args.u, args.e)).encode()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    while ok + failed + refused < args.n:
        for c in conns:
            while c.outstanding < OUT_MAX and started < args.n:
                c.sock.sendall(line)
                c.outstanding += 1
                started += 1
        for key, _ in sel.select(timeout=10):
            c = key.data
            for ln in c.lines():
                if ln.startswith("EVENT subscribe.result"):
                    c.outstanding -= 1
                    if " result=ok" in ln:
                        ok += 1
                    else:
                        failed += 1
                        if failed <= 3:
                            print(ln, file=sys.stderr)
                elif ln.startswith("ERR"):
                    c.outstanding -= 1
                    refused += 1
                    if refused <= 3:
                        print(ln, file=sys.stderr)
                # OK, data lines, ".", progress events: nothing to count
        if time.monotonic() - t0 > 600:
            die("no end after 600 s: ok=%d failed=%d" % (ok, failed))
    secs = time.monotonic() - t0
    print("started=%d ok=%d failed=%d refused=%d secs=%.2f per_s=%.0f"
          % (started, ok, failed, refused, secs, ok / secs if secs else 0))


def unsubscribe(args):
    c = Conn(args.s)
    c.sock.sendall(b"subscriptions\n")
    status, data = c.reply()
    if not status.startswith("OK"):
        die("subscriptions: %s" % status)
    ids = []
    for d in data:
        f = dict(kv.split("=", 1) for kv in d.split(" ") if "=" in kv)
        if f.get("dir") == "out":
            ids.append(f["id"])
    t0 = time.monotonic()
    ended = refused = 0
    # Pipelined: replies come in request order.
    for i in range(0, len(ids), 200):
        chunk = ids[i:i + 200]
        c.sock.sendall("".join("unsubscribe %s\n" % x
                               for x in chunk).encode())
        for _ in chunk:
            status, _ = c.reply()
            if status.startswith("OK"):
                ended += 1
            else:
                refused += 1
    print("ended=%d refused=%d secs=%.2f" % (ended, refused,
                                             time.monotonic() - t0))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-s", required=True)
    sp = p.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("subscribe")
    s.add_argument("-a", required=True)
    s.add_argument("-u", required=True)
    s.add_argument("-n", type=int, required=True)
    s.add_argument("-e", default="message-summary")
    s.add_argument("-c", type=int, default=16)
    sp.add_parser("unsubscribe")
    args = p.parse_args()
    if args.cmd == "subscribe":
        subscribe(args)
    else:
        unsubscribe(args)


if __name__ == "__main__":
    main()
