#!/usr/bin/env python3
"""OPTIONS end to end against SIPp on loopback: SIPp asks sipxd over UDP
and TCP (also with 20 % packet loss, and mixed with malformed requests
from 100 parallel calls), sipxd asks a SIPp UAS through `sipxctl options`,
a UAS that never answers gives Timer F at 64*T1, and sipxd answers
itself.  Every SIPp is started and stopped by PID."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, free_port,  # noqa: E402
                      run_tests, TestFailure)

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = shutil.which("sipp")


def scenario(name):
    return os.path.join(HERE, "sipp", name)


def sipp_argv(env, scen, target=None, extra=()):
    argv = [SIPP, "-sf", scenario(scen), "-i", "127.0.0.1",
            "-p", str(free_port()), "-nostdin", "-timeout", "60",
            "-timeout_error", "-trace_err",
            "-error_file", env.path("sipp-%d-errors.log" % env.next_id())]
    argv += list(extra)
    if target:
        argv.append(target)
    return argv


def run_sipp(env, scen, target, extra=(), timeout=90):
    """Runs a SIPp client to completion; returns its exit status."""
    out = env.path("sipp-%d.out" % env.next_id())
    with open(out, "wb") as f:
        p = subprocess.Popen(sipp_argv(env, scen, target, extra),
                             stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, cwd=env.tmp)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise TestFailure("sipp %s did not finish in %d s" %
                              (scen, timeout))


class Background:
    """A child the test environment stops by PID at the end."""

    def __init__(self, popen):
        self.popen = popen
        self.pid = popen.pid

    def wait(self, timeout):
        return self.popen.wait(timeout)

    def poll(self):
        return self.popen.poll()

    def stop(self):
        T.stop_popen(self.popen)


def start_sipp_uas(env, scen, port, transport="u1"):
    """A SIPp server in the background, stopped by PID at the end."""
    argv = [SIPP, "-sf", scenario(scen), "-i", "127.0.0.1",
            "-p", str(port), "-m", "1", "-nostdin", "-timeout", "60",
            "-t", transport]
    out = open(env.path("sipp-uas-%d.out" % env.next_id()), "wb")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, cwd=env.tmp)
    out.close()
    bg = Background(p)
    env.register_proc(bg)
    time.sleep(0.3)		# let it bind
    check(p.poll() is None, "sipp UAS exited at once")
    return bg


def need_sipp():
    if SIPP is None:
        raise TestFailure("sipp not found: install the Debian package "
                          "sip-tester")


def test_sipp_asks_udp(env):
    need_sipp()
    d = env.daemon(tcp=True)
    rc = run_sipp(env, "options_uac.xml", "127.0.0.1:%d" % d.port,
                  ["-m", "50", "-r", "100", "-t", "u1"])
    check_eq(rc, 0, "sipp OPTIONS over UDP: exit status")


def test_sipp_asks_tcp(env):
    need_sipp()
    d = env.daemon(tcp=True)
    rc = run_sipp(env, "options_uac.xml", "127.0.0.1:%d" % d.port,
                  ["-m", "50", "-r", "100", "-t", "t1"])
    check_eq(rc, 0, "sipp OPTIONS over TCP: exit status")


def test_sipp_asks_with_loss(env):
    need_sipp()
    d = env.daemon()
    rc = run_sipp(env, "options_uac.xml", "127.0.0.1:%d" % d.port,
                  ["-m", "30", "-r", "30", "-t", "u1", "-lost", "20"])
    check_eq(rc, 0, "sipp OPTIONS with 20 % loss: exit status")
    st = d.ctl("status", json=True).json()["data"][0]
    check(st["pid"] == d.pid, "daemon still there")


def test_garbage_mixed(env):
    need_sipp()
    d = env.daemon()
    rc = run_sipp(env, "garbage_uac.xml", "127.0.0.1:%d" % d.port,
                  ["-m", "300", "-l", "100", "-r", "300", "-t", "u1"])
    check_eq(rc, 0, "300 calls (100 in parallel) of garbage + OPTIONS")
    st = d.ctl("status", json=True).json()["data"][0]
    check(st["garbage_requests"] >= 300,
          "garbage counted: %r" % st["garbage_requests"])
    r = d.ctl("options", "sip:127.0.0.1:%d" % d.port)
    check_eq(r.rc, 0, "still answering after the garbage")


def test_daemon_asks_sipp(env):
    need_sipp()
    d = env.daemon()
    port = free_port()
    uas = start_sipp_uas(env, "options_uas.xml", port)
    r = d.ctl("options", "sip:127.0.0.1:%d" % port, json=True)
    check_eq(r.rc, 0, "sipxctl options to the SIPp UAS")
    rec = r.json()["data"][0]
    check_eq(rec["status"], 200, "status")
    check_eq(rec["user_agent"], "sipp-uas-under-test", "peer User-Agent")
    check("OPTIONS" in rec["allow"], "peer Allow: %r" % rec["allow"])
    check(rec["target"].startswith("UDP 127.0.0.1:"), "target %r"
          % rec["target"])
    check(uas.wait(10) == 0, "sipp UAS saw its exchange")


def test_daemon_asks_sipp_tcp(env):
    need_sipp()
    d = env.daemon()
    port = free_port()
    uas = start_sipp_uas(env, "options_uas.xml", port, transport="t1")
    r = d.ctl("options", "sip:127.0.0.1:%d;transport=tcp" % port,
              json=True)
    check_eq(r.rc, 0, "sipxctl options to the SIPp UAS over TCP")
    rec = r.json()["data"][0]
    check_eq(rec["status"], 200, "status")
    check(rec["target"].startswith("TCP 127.0.0.1:"), "target %r"
          % rec["target"])
    check(uas.wait(10) == 0, "sipp UAS saw its exchange")


def test_unknown_user(env):
    """sipxd.unknown_user = "404": OPTIONS to a user part no account
    has gets 404; the accounts' users and a request without a user part
    get 200.  The default answers everyone."""
    d = env.daemon(sipxd_extra='  unknown_user = "404";')
    for user, want in (("local", 200), ("nobody", 404), ("", 200)):
        uri = "sip:%s127.0.0.1:%d" % (user + "@" if user else "", d.port)
        r = d.ctl("options", uri, json=True)
        check_eq(r.json()["data"][0]["status"], want, "OPTIONS %s" % uri)
    d2 = env.daemon(name="open")
    r = d2.ctl("options", "sip:nobody@127.0.0.1:%d" % d2.port, json=True)
    check_eq(r.json()["data"][0]["status"], 200, "default: answer all")


def test_timer_f(env):
    need_sipp()
    d = env.daemon()		# t1 = 50 ms: Timer F = 64*T1 = 3.2 s
    port = free_port()
    start_sipp_uas(env, "options_silent.xml", port)
    t0 = time.monotonic()
    r = d.ctl("options", "sip:127.0.0.1:%d" % port, "timeout=30",
              timeout=40)
    took = time.monotonic() - t0
    check_eq(r.rc, 1, "a silent UAS is an error")
    check("no answer" in r.err, "error text %r" % r.err)
    check(3.0 <= took <= 8.0, "Timer F after %.2f s, want ~3.2 s" % took)


def test_self(env):
    d = env.daemon(tcp=True)
    for uri in ("sip:127.0.0.1:%d" % d.port,
                "sip:127.0.0.1:%d;transport=tcp" % d.port):
        r = d.ctl("options", uri, json=True)
        check_eq(r.rc, 0, "options %s" % uri)
        check_eq(r.json()["data"][0]["status"], 200, "self 200")
    # RFC 6761: localhost is loopback without asking DNS.
    r = d.ctl("options", "sip:localhost:%d" % d.port, json=True)
    check_eq(r.rc, 0, "options sip:localhost")
    check(r.json()["data"][0]["target"] == "UDP 127.0.0.1:%d" % d.port,
          "localhost target %r" % r.json()["data"][0]["target"])
    r = d.ctl("options", "mailto:x@y")
    check_eq(r.rc, 1, "a mailto: URI is refused")
    check("not a sip: or sips: URI" in r.err, "mailto: error %r" % (r,))
    # A refused TCP connect is a transport error, said as such.
    closed = free_port()
    r = d.ctl("options", "sip:127.0.0.1:%d;transport=tcp" % closed)
    check_eq(r.rc, 1, "options to a closed TCP port")
    check("transport error: Connection refused" in r.err and
          "TCP 127.0.0.1:%d" % closed in r.err, "refused error %r" % (r,))
    # The client side of a self exchange lingers (Timer K, T4 over UDP);
    # the server side was answered statelessly and left nothing.
    r = d.ctl("options", "sip:127.0.0.1:%d" % d.port, json=True)
    check_eq(r.rc, 0, "options over UDP")
    r = d.ctl("transactions", json=True)
    check_eq(r.rc, 0, "transactions")
    roles = [t["role"] for t in r.json()["data"]]
    check("client" in roles, "the self exchange is listed: %r" % roles)
    check("server" not in roles, "no server transaction: %r" % roles)


def test_request_checks(env):
    """RFC 3261 checks before any usage, over UDP and TCP: 420 with
    Unsupported, 481 for a dialog or a CANCEL that does not exist, 405
    with Allow, 501, and an OPTIONS 200 whose Allow lists OPTIONS only
    (ua_checks_uac.xml).  Every one of them is answered statelessly
    (§8.2.7): no server transaction is left behind."""
    need_sipp()
    d = env.daemon(tcp=True)
    for tp in ("u1", "t1"):
        rc = run_sipp(env, "ua_checks_uac.xml", "127.0.0.1:%d" % d.port,
                      ["-m", "1", "-t", tp])
        check_eq(rc, 0, "sipp request checks over %s: exit status" % tp)
    r = d.ctl("transactions", json=True)
    check_eq(r.rc, 0, "transactions")
    servers = [t for t in r.json()["data"] if t["role"] == "server"]
    check_eq(servers, [], "server transactions left by stateless answers")


def reload_with(d, text):
    """Rewrites d's config with text in its sipxd group and reloads."""
    d.sipxd_extra = text
    d.write_config([account("local", register=False)])
    r = d.ctl("reload")
    check_eq(r.rc, 0, "reload: %r" % (r,))
    return r


def test_reload_applies(env):
    """A reload applies user_agent (the Server of the next answer) and
    the timers (Timer F of the next transaction), and says which keys
    need a restart, in its reply and in the log."""
    need_sipp()
    d = env.daemon()
    self_uri = "sip:127.0.0.1:%d" % d.port
    r = d.ctl("options", self_uri, json=True)
    check(r.json()["data"][0]["user_agent"].startswith("sipxd/"),
          "default Server: %r" % r.out)
    r = reload_with(d, '  user_agent = "renamed/2.0";')
    check("needs restart" not in r.out + r.err, "nothing needs a restart: "
          "%r" % (r,))
    r = d.ctl("options", self_uri, json=True)
    check_eq(r.json()["data"][0]["user_agent"], "renamed/2.0",
             "Server after the reload")

    # T1 50 -> 20 ms: Timer F 3.2 s -> 1.28 s.
    text = d.config_text([account("local", register=False)])
    old = "timers = { t1 = 50; t2 = 400; t4 = 500; };"
    check(old in text, "timers line in %r" % text)
    d.write_config_text(text.replace(old, "timers = { t1 = 20; t2 = 400; "
                                     "t4 = 500; };"))
    r = d.ctl("reload")
    check_eq(r.rc, 0, "reload with new timers: %r" % (r,))
    port = free_port()
    start_sipp_uas(env, "options_silent.xml", port)
    t0 = time.monotonic()
    r = d.ctl("options", "sip:127.0.0.1:%d" % port, "timeout=30",
              timeout=40)
    took = time.monotonic() - t0
    check_eq(r.rc, 1, "a silent UAS is an error")
    check(1.1 <= took <= 2.5, "Timer F after %.2f s, want ~1.28 s" % took)

    # A new listen address needs a restart: said, and the old one stays.
    other = free_port()
    text = d.config_text([account("local", register=False)])
    text = text.replace("127.0.0.1:%d" % d.port, "127.0.0.1:%d" % other)
    d.write_config_text(text)
    r = d.ctl("reload")
    check_eq(r.rc, 0, "reload with a new listen address")
    check("sipxd.listen changed: needs restart" in r.out,
          "reload reply: %r" % (r,))
    r = d.ctl("options", self_uri, json=True)
    check_eq(r.rc, 0, "still answering on the old address")
    # Reloading the same file again still says so: nothing was applied.
    r = d.ctl("reload")
    check("sipxd.listen changed: needs restart" in r.out,
          "second reload reply: %r" % (r,))
    log = open(d.stderr_path).read()
    check("sipxd.listen changed; it needs a restart" in log,
          "log: %r" % log[-2000:])

    # The TCP/TLS timeouts are the transport's from its start: said too.
    r = reload_with(d, '  user_agent = "renamed/2.0";\n'
                    '  tcp = { pong_timeout = 3; };')
    check("sipxd.tcp changed: needs restart" in r.out,
          "reload with a new pong_timeout: %r" % (r,))


TESTS = [
    ("self", test_self),
    ("reload_applies", test_reload_applies),
    ("request_checks", test_request_checks),
    ("sipp_asks_udp", test_sipp_asks_udp),
    ("sipp_asks_tcp", test_sipp_asks_tcp),
    ("sipp_asks_with_loss", test_sipp_asks_with_loss),
    ("garbage_mixed", test_garbage_mixed),
    ("daemon_asks_sipp", test_daemon_asks_sipp),
    ("daemon_asks_sipp_tcp", test_daemon_asks_sipp_tcp),
    ("unknown_user", test_unknown_user),
    ("timer_f", test_timer_f),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
