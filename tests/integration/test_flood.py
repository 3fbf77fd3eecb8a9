#!/usr/bin/env python3
"""A flood of stateful requests against the transaction cap: SIPp sends
12,000 INVITEs outside any dialog over UDP and never ACKs them (each
answered 404 (no account has the user part sipxd) through a server
INVITE transaction, which then holds for
Timer H) to a sipxd whose
sipxd.max_transactions is 2,000 and whose T1 is 50 ms.  Once over the
cap, requests get a stateless 503 with Retry-After; the daemon says so
in an event and one log line; its memory stays bounded and comes back
near where it started within 10 s of the last transaction ending; and
it still answers sipxctl.  By hand, over a raw socket: the 503 itself,
and `sipxctl options` refused at the cap.  SIPp is started and stopped
by PID."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, free_port,  # noqa: E402
                      run_tests, wait_until, TestFailure)

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = shutil.which("sipp")
LIMIT = int(os.environ.get("FLOOD_LIMIT", "2000"))
REQUESTS = 12000
RATE = 2500             # per second: about 5 s of flood
MB = 1024 * 1024
# RSS "back" means within this of where it was before the flood.
SLACK = 4 * MB


def sanitized():
    """True for a sipxd built with ASan: its allocator keeps freed memory
    in a quarantine and ignores malloc_trim, so RSS says nothing there."""
    with open(T.SIPXD, "rb") as f:
        return b"__asan_init" in f.read()


def rss(pid):
    """VmRSS of pid in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise TestFailure("no VmRSS for pid %d" % pid)


def status(d):
    r = d.ctl("status", json=True)
    check_eq(r.rc, 0, "sipxctl status")
    return r.json()["data"][0]


def sipp(env, target, count, rate):
    argv = [SIPP, "-sf", os.path.join(HERE, "sipp", "invite_flood_uac.xml"),
            "-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1",
            "-m", str(count), "-r", str(rate), "-nostdin",
            "-timeout", "60", "-timeout_error", "-trace_logs",
            "-trace_err", "-error_file",
            env.path("sipp-%d-errors.log" % env.next_id()), target]
    out = open(env.path("sipp-%d.out" % env.next_id()), "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, cwd=env.tmp)
    out.close()
    return p


def refused_lines(env):
    n = 0
    for path in glob.glob(os.path.join(env.tmp, "*_logs.log")):
        with open(path, errors="replace") as f:
            for line in f:
                if "refused-503" in line:
                    check("retry-after=5" in line, "Retry-After in %r"
                          % line.strip())
                    n += 1
    return n


def flood(env, d, count):
    """Runs one flood to the end; returns the RSS peak seen meanwhile."""
    p = sipp(env, "127.0.0.1:%d" % d.port, count, RATE)
    env.register_proc(Proc(p))
    peak = rss(d.pid)
    deadline = time.monotonic() + 50
    while p.poll() is None and time.monotonic() < deadline:
        peak = max(peak, rss(d.pid))
        time.sleep(0.05)
    check_eq(p.wait(10), 0, "flood sipp exit status (every request "
             "answered; 503s with Retry-After)")
    return peak


def drained(d):
    """Waits for every transaction to end (Timer H is 64*T1 = 3.2 s)."""
    check(wait_until(lambda: status(d)["transactions"] == 0, 15, 0.2),
          "transactions end after the flood")
    return time.monotonic()


def test_flood(env):
    if SIPP is None:
        raise TestFailure("sipp not found: install the Debian package "
                          "sip-tester")
    d = env.daemon(sipxd_extra="  max_transactions = %d;" % LIMIT)
    check_eq(status(d)["transaction_limit"], LIMIT, "transaction_limit")
    ev = d.connect()
    check(ev.request("events kind=daemon").ok, "events kind=daemon")
    ev.wait_event("sync")

    # A few requests first, so that the baseline has every buffer and
    # table a request touches, and they are done.
    p = sipp(env, "127.0.0.1:%d" % d.port, 200, 400)
    check_eq(p.wait(60), 0, "warm-up sipp exit status")
    drained(d)
    base = rss(d.pid)

    # 1. Over the cap: stateless 503 with Retry-After, event, log line.
    peak1 = flood(env, d, REQUESTS)
    refused = refused_lines(env)
    print("# capped at %d: rss before %.1f MB, peak %.1f MB; %d of %d "
          "refused with 503" % (LIMIT, base / MB, peak1 / MB, refused,
                                REQUESTS))
    sys.stdout.flush()
    check(refused > 0, "some requests got 503 at the cap")
    on = ev.wait_event("daemon.overload",
                       pred=lambda f: f.get("state") == "on")
    check_eq(on.get("limit"), str(LIMIT), "overload event limit")
    drained(d)
    ev.wait_event("daemon.overload", pred=lambda f: f.get("state") == "off")
    lines = d.stderr_text().count("transaction limit %d reached: "
                                  "answering 503" % LIMIT)
    check(1 <= lines <= 2, "one log line per 10 s at most, saw %d" % lines)

    # 2. The cap raised by a reload: every request held by Timer H
    # (about RATE * 3.2 s at once); memory stays small and comes back.
    d.sipxd_extra = "  max_transactions = 100000;"
    d.write_config([account("local", register=False)])
    check_eq(d.ctl("reload").rc, 0, "reload")
    check_eq(status(d)["transaction_limit"], 100000, "limit after reload")
    base2 = rss(d.pid)
    peak2 = flood(env, d, REQUESTS)
    check_eq(refused_lines(env), refused, "no 503 under the raised cap")
    ended = drained(d)
    back = wait_until(lambda: rss(d.pid) <= base2 + SLACK, 10, 0.2)
    after = rss(d.pid)
    print("# uncapped: rss before %.1f MB, peak %.1f MB, after %.1f MB "
          "(%.1f s after the last transaction ended)"
          % (base2 / MB, peak2 / MB, after / MB, time.monotonic() - ended))
    st = status(d)
    check_eq(st["pid"], d.pid, "the daemon answers status")
    check_eq(st["transactions"], 0, "no transaction left")
    if sanitized():
        print("# ASan build: RSS figures not checked")
        return
    check(peak1 <= base + 16 * MB, "RSS peak at the cap: %.1f MB over "
          "%.1f MB" % (peak1 / MB, base / MB))
    check(peak2 <= base2 + 48 * MB, "RSS peak of held transactions: "
          "%.1f MB over %.1f MB" % (peak2 / MB, base2 / MB))
    check(back, "RSS back within %d MB of %.1f MB within 10 s: %.1f MB"
          % (SLACK / MB, base2 / MB, after / MB))


def invite(port, branch, call_id):
    return ("INVITE sip:sipxd@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "From: <sip:t@127.0.0.1>;tag=t%s\r\n"
            "To: <sip:sipxd@127.0.0.1>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 INVITE\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
            % (port, port, branch, branch, call_id)).encode()


def recv_not_404(s):
    """The next datagram that is not one of Timer G's retransmissions of
    the held INVITEs' 404."""
    while True:
        data = s.recv(4096)
        if not data.startswith(b"SIP/2.0 404 "):
            return data


def test_cap_by_hand(env):
    """Ten INVITEs held by Timer H fill a cap of 10: the eleventh gets a
    stateless 503 (Retry-After, a To tag, the same on a retransmission),
    an ACK gets nothing, and `sipxctl options` fails at once saying why."""
    d = env.daemon(sipxd_extra="  max_transactions = 10;")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    me = s.getsockname()[1]
    to = ("127.0.0.1", d.port)
    for i in range(10):
        s.sendto(invite(me, "held%d" % i, "held-%d" % i), to)
        check(b" 404 " in s.recv(4096).split(b"\r\n")[0], "404 %d" % i)
    t0 = time.monotonic()
    answers = []
    for _ in range(2):
        s.sendto(invite(me, "over", "over-1"), to)
        answers.append(recv_not_404(s).decode())
    for a in answers:
        check(a.startswith("SIP/2.0 503 Service Unavailable\r\n"),
              "503 at the cap: %r" % a[:40])
        check("\r\nRetry-After: 5\r\n" in a, "Retry-After in %r" % a)
        check(";tag=" in a.split("\r\nTo:")[1].split("\r\n")[0],
              "a To tag in %r" % a)
    check_eq(answers[0], answers[1], "the same answer to a retransmission")
    s.sendto(invite(me, "ack", "ack-1").replace(b"INVITE", b"ACK"), to)
    r = d.ctl("options", "sip:127.0.0.1:%d" % d.port, "timeout=2")
    took = time.monotonic() - t0
    check(took < 3, "still within Timer H (%.1f s): the test is valid"
          % took)
    check_eq(r.rc, 1, "options at the cap fails")
    check("max_transactions (10) reached" in r.err + r.out,
          "a clear reason: %r" % (r.err + r.out))
    s.settimeout(0.3)
    try:
        extra = recv_not_404(s)
        raise TestFailure("the ACK was answered: %r" % extra[:40])
    except socket.timeout:
        pass
    s.close()
    check(wait_until(lambda: status(d)["transactions"] == 0, 10, 0.2),
          "the held transactions end")
    r = d.ctl("options", "sip:127.0.0.1:%d" % d.port, "timeout=2")
    check_eq(r.rc, 0, "options below the cap")


class Proc:
    """Stops a child by PID at the end of the test."""

    def __init__(self, popen):
        self.popen = popen
        self.pid = popen.pid

    def stop(self):
        T.stop_popen(self.popen)


TESTS = [
    ("cap_by_hand", test_cap_by_hand),
    ("flood", test_flood),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
