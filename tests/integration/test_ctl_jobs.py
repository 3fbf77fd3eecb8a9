#!/usr/bin/env python3
"""Lasting work on the control socket (doc/control-protocol.md, "Jobs").

`options` answers at once with `OK id=N` and reports its result as an
`EVENT options.result id=N` line; a later command on the same connection
is answered at once, not behind the probe; a client that half-closes or
says `quit` with a probe running still gets its result before the close;
a client that goes away with probes running leaves the daemon healthy;
a daemon that stops ends each running probe with a failed result;
a connection runs at most 32 jobs at once; `sipxctl options` still prints
the final result and exits 1 on a failure."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (check, check_eq, parse_event, run_tests,  # noqa: E402
                      free_port)


def silent_port(env):
    """A UDP port on loopback that takes requests and never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", free_port()))
    env.silent = getattr(env, "silent", []) + [s]
    return s.getsockname()[1]


def all_lines(conn, timeout):
    """Every line up to EOF, with the time each arrived."""
    out = []
    t0 = time.monotonic()
    while True:
        line = conn.read_line(timeout)
        if line is None:
            return out
        out.append((time.monotonic() - t0, line))


def test_half_close_delivers_result(env):
    d = env.daemon()
    port = silent_port(env)
    c = d.connect()
    c.send("options sip:127.0.0.1:%d timeout=2\n" % port)
    c.sock.shutdown(socket.SHUT_WR)
    got = all_lines(c, 10)
    lines = [l for _, l in got]
    check_eq(lines[:3], ["OK id=1", "id=1", "."], "the job's reply: %r"
             % lines)
    check_eq(len(lines), 4, "reply, then the result, then EOF: %r" % lines)
    t, f = parse_event(lines[3])
    check_eq(t, "options.result", "result event %r" % lines[3])
    check_eq((f["id"], f["result"], f["code"]), ("1", "failed", "failed"),
             "result fields %r" % f)
    check(f["error"].startswith("no answer within 2 s"), "error %r"
          % f["error"])
    check(got[3][0] > 1.5, "the result came after the timeout (%.2f s)"
          % got[3][0])
    check(got[0][0] < 1.0, "the OK came at once (%.2f s)" % got[0][0])


def test_half_close_self_options(env):
    """`printf 'options URI\\n' | socat - UNIX:…`: a script's probe."""
    d = env.daemon()
    c = d.connect()
    c.send("options sip:127.0.0.1:%d\nstatus\n" % d.port)
    c.sock.shutdown(socket.SHUT_WR)
    lines = [l for _, l in all_lines(c, 10)]
    check_eq(lines[:3], ["OK id=1", "id=1", "."], "options reply %r"
             % lines)
    check_eq(lines[3], "OK", "status reply follows at once: %r" % lines)
    results = [parse_event(l) for l in lines if l.startswith("EVENT ")]
    check_eq(len(results), 1, "one result %r" % lines)
    t, f = results[0]
    check_eq((t, f["id"], f["result"], f["status"], f["reason"]),
             ("options.result", "1", "ok", "200", "OK"), "result %r" % f)
    check(float(f["rtt_ms"]) >= 0 and f["target"], "rtt and target %r" % f)


def test_later_command_not_held(env):
    d = env.daemon()
    port = silent_port(env)
    c = d.connect()
    t0 = time.monotonic()
    c.send("options sip:127.0.0.1:%d timeout=3\nstatus\n" % port)
    r = c.reply()
    check_eq(r.status, "OK id=1", "options answers at once")
    r = c.reply()
    took = time.monotonic() - t0
    check(r.ok and r.records[0]["pid"] == str(d.pid), "status %r" % r)
    check(took < 1.0, "status answered after %.2f s, behind the probe"
          % took)
    # And a second probe, and a quick one to ourselves, run beside it.
    f = c.run_job("options sip:127.0.0.1:%d" % d.port)
    check_eq((f["result"], f["status"]), ("ok", "200"), "self probe %r" % f)
    check(time.monotonic() - t0 < 2.0, "self probe waited for the slow one")
    f = c.job_result(1, timeout=6)
    check_eq((f["result"], f["code"]), ("failed", "failed"), "slow %r" % f)
    check(time.monotonic() - t0 > 2.5, "slow probe ended early")


def test_quit_delivers_result(env):
    d = env.daemon()
    port = silent_port(env)
    c = d.connect()
    c.send("options sip:127.0.0.1:%d timeout=1\nquit\nstatus\n" % port)
    lines = [l for _, l in all_lines(c, 10)]
    check_eq(lines[:5], ["OK id=1", "id=1", ".", "OK bye", "."],
             "replies %r" % lines)
    check_eq(len(lines), 6, "nothing runs after quit: %r" % lines)
    t, f = parse_event(lines[5])
    check_eq((t, f["id"], f["result"]), ("options.result", "1", "failed"),
             "result after quit %r" % lines[5])


def test_stop_reports_jobs(env):
    """A daemon that stops still ends every running job with a result."""
    import signal
    d = env.daemon()
    port = silent_port(env)
    c = d.connect()
    r = c.request("options sip:127.0.0.1:%d timeout=60" % port)
    check_eq(r.status, "OK id=1", "job started")
    d.signal(signal.SIGTERM)
    lines = c.read_until_eof(10)
    check_eq(len(lines), 1, "the result, then EOF: %r" % lines)
    t, f = parse_event(lines[0])
    check_eq((t, f["id"], f["result"], f["code"], f["error"]),
             ("options.result", "1", "failed", "failed",
              "sipxd is stopping"), "result at stop %r" % lines[0])
    check_eq(d.wait(), 0, "sipxd exit status")


def test_client_gone(env):
    """Probes of a client that vanished are cancelled; nothing is sent to
    it and the daemon stays well (the sanitizer build checks the frees)."""
    d = env.daemon()
    port = silent_port(env)
    for _ in range(5):
        c = d.connect()
        c.send("options sip:127.0.0.1:%d timeout=1\n" % port * 3)
        c.reply()
        c.close()
    time.sleep(1.5)
    r = d.connect().request("status")
    check(r.ok and r.records[0]["clients"] == "1", "status %r" % r)


def test_job_limit(env):
    d = env.daemon()
    port = silent_port(env)
    c = d.connect()
    c.send("options sip:127.0.0.1:%d timeout=2\n" % port * 33)
    ids = []
    for i in range(32):
        r = c.reply()
        check(r.ok, "job %d: %r" % (i + 1, r))
        ids.append(r.records[0]["id"])
    check_eq(len(set(ids)), 32, "distinct ids")
    r = c.reply()
    check_eq(r.code, "failed", "33rd job: %r" % r)
    check("32 probes already running" in r.status, "text %r" % r.status)
    for i in ids:
        check_eq(c.job_result(i, timeout=6)["result"], "failed",
                 "result of %s" % i)
    check(c.run_job("options sip:127.0.0.1:%d" % d.port)["result"] == "ok",
          "a new job once the others ended")


def test_sipxctl_options(env):
    d = env.daemon()
    port = silent_port(env)
    t0 = time.monotonic()
    r = d.ctl("options", "sip:127.0.0.1:%d" % port, "timeout=1")
    check_eq(r.rc, 1, "sipxctl options to a silent port: %r" % r)
    check(r.err.startswith("sipxctl: failed: no answer within 1 s"),
          "stderr %r" % r.err)
    check(time.monotonic() - t0 < 5, "sipxctl waited too long")
    r = d.ctl("options", "sip:127.0.0.1:%d" % d.port, json=True)
    check_eq(r.rc, 0, "sipxctl options to itself: %r" % r)
    j = r.json()
    check_eq((j["status"], j["data"][0]["status"]), ("OK", 200),
             "json %r" % j)
    check("id" not in j["data"][0] and "result" not in j["data"][0],
          "job fields are not shown: %r" % j)


TESTS = [
    ("half_close_delivers_result", test_half_close_delivers_result),
    ("half_close_self_options", test_half_close_self_options),
    ("later_command_not_held", test_later_command_not_held),
    ("quit_delivers_result", test_quit_delivers_result),
    ("stop_reports_jobs", test_stop_reports_jobs),
    ("client_gone", test_client_gone),
    ("job_limit", test_job_limit),
    ("sipxctl_options", test_sipxctl_options),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
