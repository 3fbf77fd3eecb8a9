"""Helpers shared by the call tests (issue 10): SIPp as the far end of a
call, the daemon's call events, `call ID` and `calls history` read back,
a free media port range per daemon.  Everything started here is stopped
by PID through the test's environment (sipxtest.Env)."""

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (check, free_port, parse_event,  # noqa: E402
                      wait_until, TestFailure)
from test_reg_sipp import parse_message_log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = shutil.which("sipp")


def scenario(name):
    return os.path.join(HERE, "sipp", name)


def need_sipp():
    if SIPP is None:
        raise TestFailure("sipp not found: install the Debian package "
                          "sip-tester")


def udp_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_udp_run(n, lo=10000, hi=20000):
    """The first of n consecutive UDP ports free on 127.0.0.1 now, even,
    picked at random so that tests running at once rarely meet.  Below
    the kernel's ephemeral range (32768 up), which a benchmark with
    thousands of sockets can fill, and below sipxd's default RTP range
    (20000-29999), which other daemons use."""
    for _ in range(200):
        base = random.randrange(lo, hi - n) & ~1
        if all(udp_free(base + i) for i in range(n)):
            return base
    raise TestFailure("no run of %d free UDP ports" % n)


def media_conf(timeout=10, nports=40):
    """The global media block for a daemon: loopback, a port range of its
    own (RTP on even ports, RTCP on the next)."""
    base = free_udp_run(nports)
    return ('media: { address = "127.0.0.1"; port_min = %d; port_max = %d;'
            ' timeout = %d; };' % (base, base + nports - 1, timeout))


# ---- SIPp -------------------------------------------------------------------

class Sipp:
    """One SIPp on 127.0.0.1 over UDP running a call_*.xml scenario: a UAS
    (target None) waiting for calls, or a UAC calling target.  Its RTP
    port echoes what arrives when echo is set (-rtp_echo), so that the
    daemon receives its own packets back."""

    def __init__(self, env, scen, target=None, calls=1, timeout=30,
                 service="service", echo=True, extra=(), port=None,
                 transport="udp"):
        need_sipp()
        self.env = env
        self.scen = scen
        self.port = port or free_port()
        self.transport = transport
        self.uri = "sip:%s@127.0.0.1:%d" % (service, self.port)
        if transport == "tcp":
            self.uri += ";transport=tcp"
        self.mport = free_udp_run(4)
        n = env.next_id()
        self.log = env.path("sipp-%d-messages.log" % n)
        self.err = env.path("sipp-%d-errors.log" % n)
        self.out = env.path("sipp-%d.out" % n)
        argv = [SIPP, "-sf", scenario(scen), "-i", "127.0.0.1",
                "-p", str(self.port), "-t",
                "t1" if transport == "tcp" else "u1", "-m", str(calls),
                "-nostdin", "-timeout", str(timeout), "-timeout_error",
                "-mi", "127.0.0.1", "-mp", str(self.mport),
                "-trace_msg", "-message_file", self.log,
                "-trace_err", "-error_file", self.err]
        if target is None:
            # A UAS answers what arrives; nothing of its own by default.
            argv += ["-default_behaviors", "all,-bye"]
        else:
            argv += ["-s", service, "-d", "1000", "-r", "1", "-l", "1"]
        if echo:
            argv.append("-rtp_echo")
        argv += list(extra)
        if target is not None:
            argv.append(target)
        self.argv = argv
        with open(self.out, "wb") as f:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=f, stderr=subprocess.STDOUT,
                                          cwd=env.tmp)
        self.pid = self.popen.pid
        env.register_proc(self)
        if target is None and not wait_until(self._bound, 5):
            raise TestFailure("sipp %s: not listening on %s 127.0.0.1:%d "
                              "within 5 s: %s" % (scen, transport, self.port,
                                                  self.output()[-800:]))

    def _bound(self):
        if self.popen.poll() is not None:
            raise TestFailure("sipp %s exited with %d at start: %s"
                              % (self.scen, self.popen.returncode,
                                 self.output()[-800:]))
        want = "0100007F:%04X" % self.port
        # TCP: a socket in LISTEN (0A); UDP: any bound socket.
        table, state = ("/proc/net/tcp", "0A") if self.transport == "tcp" \
            else ("/proc/net/udp", None)
        with open(table) as f:
            return any(line.split()[1] == want and
                       (state is None or line.split()[3] == state)
                       for line in f
                       if line.strip() and not line.startswith("  sl"))

    def output(self):
        text = ""
        for p in (self.err, self.out):
            try:
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        return text

    def stop(self):
        T.stop_popen(self.popen)

    def running(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("sipp %s still running %.0f s on; its flow: "
                              "%s" % (self.scen, timeout, self.flow()))

    def expect_success(self, timeout=10):
        """SIPp's exit status is 0: every call of the scenario ran to its
        end with each check passed."""
        rc = self.wait(timeout)
        check(rc == 0, "sipp %s exited with %d (a scenario check failed "
              "or a message did not come); flow: %s; sipp said: %s"
              % (self.scen, rc, self.flow(), self.errors_said()))

    def expect_failure(self, timeout=10):
        rc = self.wait(timeout)
        check(rc != 0, "sipp %s: exit 0, but it should have failed; "
              "flow: %s" % (self.scen, self.flow()))

    def errors_said(self):
        try:
            with open(self.err, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "-"
        said = [l.strip() for l in text.splitlines()
                if re.match(r"^\d{4}-\d\d-\d\d\s", l)]
        return " | ".join(said)[-1200:] or "-"

    def messages(self):
        try:
            with open(self.log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return parse_message_log(text)

    def received(self, method=None):
        """Requests SIPp received (in = the daemon sent them), each once:
        retransmissions left out."""
        seen, out = set(), []
        for m in self.messages():
            if m.dir != "in" or not m.is_request:
                continue
            if method and m.method != method:
                continue
            key = (m.method, m.branch, m.cseq, m.call_id)
            if key in seen:
                continue
            seen.add(key)
            out.append(m)
        return out

    def flow(self):
        """What went each way, for failure messages: > from the daemon,
        < from SIPp; retransmissions left out."""
        out, seen = [], set()
        for m in self.messages():
            key = (m.dir, m.first, m.get("CSeq")[:1] and m.one("CSeq"),
                   m.branch if m.get("Via") else None)
            if key in seen:
                continue
            seen.add(key)
            if m.is_request:
                what = "%s %s" % (m.method, m.one("CSeq").split()[0]
                                  if m.get("CSeq") else "?")
            else:
                what = "%d %s" % (m.code, " ".join(m.one("CSeq").split())
                                  if m.get("CSeq") else "?")
            out.append(("> " if m.dir == "in" else "< ") + what)
        return "; ".join(out) or "(nothing)"


# ---- the daemon's side ----------------------------------------------------

class CallEvents:
    """A control connection following call events (optionally of one
    account); keeps every event read, in order, as (type, fields)."""

    def __init__(self, d, account=None):
        self.c = d.connect()
        r = self.c.request("events kind=call" +
                           (" account=%s" % account if account else ""))
        check(r.ok, "events: %r" % r)
        self.seen = []
        self.wait(lambda t, f: t == "sync", 5, "the snapshot's sync")

    def pump(self, timeout):
        """Reads what arrives within timeout seconds (at least what is
        already waiting on the socket)."""
        deadline = time.monotonic() + max(timeout, 0.01)
        while True:
            while self.c.events:
                self.seen.append(parse_event(self.c.events.pop(0)))
            if b"\n" not in self.c.buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    line = self.c.read_line(remaining)
                except TestFailure:
                    return
            else:
                line = self.c.read_line()
            if line is None:
                raise TestFailure("the events connection closed")
            check(line.startswith("EVENT "), "not an event: %r" % line)
            self.seen.append(parse_event(line))

    def wait(self, pred, timeout, what, since=0):
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.seen):
                t, f = self.seen[i]
                i += 1
                if pred(t, f):
                    return f
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("no event for %s within %.0f s; saw %s"
                                  % (what, timeout, self.tail(since)))
            self.pump(min(remaining, 0.2))

    def tail(self, since=0, n=14):
        return "; ".join("%s %s" % (t, " ".join(
            "%s=%s" % (k, v) for k, v in f.items()
            if k not in ("seq", "time")))
            for t, f in self.seen[since:][-n:]) or "(none)"

    def state(self, cid, state, timeout=10):
        """The call.state event of call cid entering state."""
        return self.wait(lambda t, f: t == "call.state" and
                         f.get("id") == str(cid) and f.get("state") == state,
                         timeout, "call %s %s" % (cid, state))

    def first(self, etype, timeout=10, **want):
        """The first event of etype whose fields include want."""
        return self.wait(lambda t, f: t == etype and all(
            f.get(k) == str(v) for k, v in want.items()), timeout,
            "%s %s" % (etype, want))

    def states(self, cid):
        """The states call cid went through, in order."""
        self.pump(0)
        return [f.get("state") for t, f in self.seen
                if t == "call.state" and f.get("id") == str(cid)]

    def of(self, cid, etype=None):
        self.pump(0)
        return [(t, f) for t, f in self.seen if f.get("id") == str(cid) and
                (etype is None or t == etype)]


CALL_ID_RE = re.compile(r"(?:^|\bid[= ]|\bcall )(\d+)\b", re.M)


def ctl_call(d, account, uri, *opts, wait=False, timeout=20):
    """`sipxctl call ACCOUNT URI OPTS [--wait]` -> CtlResult."""
    args = ["call", account, uri] + list(opts) + (["--wait"] if wait else [])
    return d.ctl(*args, timeout=timeout)


def place(d, account, uri, *opts, wait=True, timeout=15):
    """`call ACCOUNT URI OPTS` on a raw control connection (the job of
    doc/control-protocol.md): returns (call id, the call.result fields,
    or None without wait).  The connection stays open (the environment
    closes it): its going away would not end the call anyway."""
    c = d.connect()
    line = " ".join(["call", account, uri] + [T.quote(o) for o in opts])
    r = c.request(line)
    check(r.ok and r.records and "id" in r.records[0],
          "%s: expected OK id=N, got %r" % (line, r))
    cid = int(r.records[0]["id"])
    if not wait:
        return cid, None
    return cid, c.job_result(cid, timeout)


def placed_ok(d, account, uri, *opts, timeout=15):
    """place() that must be answered; returns the call id."""
    cid, res = place(d, account, uri, *opts, timeout=timeout)
    check(res.get("result") == "ok", "call %s %s: %r" % (uri, " ".join(opts),
                                                        res))
    return cid


def call_id_of(res):
    """The call id sipxctl printed."""
    m = re.search(r"\b(\d+)\s*$", res.out.strip()) or \
        CALL_ID_RE.search(res.out)
    check(m is not None, "no call id in sipxctl's output: %r" % res)
    return int(m.group(1))


def call_detail(d, cid, conn=None):
    """`call ID` on a raw connection: (detail record, local_sdp,
    remote_sdp, [timeline lines])."""
    c = conn or d.connect(readonly=True)
    r = c.request("call %d" % cid)
    check(r.ok and r.records, "call %d: %r" % (cid, r))
    rec = r.records[0]
    local = remote = ""
    timeline = []
    for x in r.records[1:]:
        if "local_sdp" in x:
            local = x["local_sdp"]
        elif "remote_sdp" in x:
            remote = x["remote_sdp"]
        elif "event" in x:
            timeline.append(x["event"])
    if conn is None:
        c.close()
    return rec, local, remote, timeline


def history(d, conn=None):
    """`calls history` records, newest first."""
    c = conn or d.connect(readonly=True)
    r = c.request("calls history")
    check(r.ok, "calls history: %r" % r)
    if conn is None:
        c.close()
    return r.records


def live_calls(d):
    with d.connect(readonly=True) as c:
        r = c.request("calls")
        check(r.ok, "calls: %r" % r)
        return r.records


def history_of(d, cid, timeout=5):
    """The history record of call cid, waiting for it to end."""
    got = []

    def ended():
        got[:] = [h for h in history(d) if h.get("id") == str(cid)]
        return bool(got)
    check(wait_until(ended, timeout, 0.05),
          "call %s not in `calls history` within %.0f s; live: %r"
          % (cid, timeout, live_calls(d)))
    return got[0]


def num(rec, key):
    """A numeric field of a record (int or float)."""
    check(key in rec, "no %s in %r" % (key, rec))
    v = rec[key]
    try:
        return int(v)
    except ValueError:
        return float(v)


def hangup(d, cid):
    T.expect_ctl(d.ctl("hangup", str(cid)), 0, "hangup %d" % cid)
