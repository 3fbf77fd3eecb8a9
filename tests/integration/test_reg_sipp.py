#!/usr/bin/env python3
"""Registration against SIPp registrars with edge-case behaviour (issue 9):
423 Min-Expires, a nonce that goes stale on refresh (said, or not), 407
from a proxy, a refused password, 503 with Retry-After, a registrar that
rewrites the Contact, a NAT seen in the answer's Via, two challenges in
one 401, Service-Route and Path, 403.

Each test starts a SIPp UAS on loopback with one of
tests/integration/sipp/reg_*.xml, then a sipxd whose account `alice`
registers to it, and checks both sides: what sipxd sent (the scenario's
own regexp checks, and SIPp's message log read here: Call-ID, CSeq,
Contact, Expires, digest responses computed again from the password,
timing) and what sipxd says about it (`account alice`, `accounts`,
account.state events).  Stopping sipxd sends the unregister, which the
scenarios answer and check.  Every SIPp and sipxd is stopped by PID."""
import datetime
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, free_port,  # noqa: E402
                      parse_event, run_tests, wait_until, TestFailure)

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = shutil.which("sipp")

USER = "alice"
PASSWORD = "secret"             # what the scenarios' verifyauth expects
AOR = "sip:%s@127.0.0.1" % USER
# Small retry intervals keep the tests quick; fatal is long enough that no
# retry after a 403 or a refused password falls inside a test.
RETRY = {"base": 1, "max": 2, "fatal": 30}


def scenario(name):
    return os.path.join(HERE, "sipp", name)


def need_sipp():
    if SIPP is None:
        raise TestFailure("sipp not found: install the Debian package "
                          "sip-tester")


# ---- SIP messages as SIPp logged them --------------------------------------

# RFC 3261 §7.3.3 compact forms sipxd might send.
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported"}


def split_list(value):
    """The elements of a comma-separated header value, commas inside <>
    or quotes left alone."""
    out, cur, depth, quoted = [], [], 0, False
    for c in value:
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "<":
            depth += 1
        elif not quoted and c == ">":
            depth -= 1
        if c == "," and not quoted and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


AUTH_PARAM_RE = re.compile(
    r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


def auth_params(value):
    """'Digest a=b, c="d"' -> ('digest', {'a': 'b', 'c': 'd'})."""
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    for m in AUTH_PARAM_RE.finditer(rest):
        v = m.group(2)
        if v.startswith('"'):
            v = v[1:-1]
        params[m.group(1).lower()] = v
    return scheme.lower(), params


class SipMsg:
    """One message from SIPp's -trace_msg log."""

    def __init__(self, when, direction, text):
        self.time = when                    # Unix time SIPp logged it
        self.dir = direction                # "in" (sipxd sent it) or "out"
        self.text = text
        head = text.replace("\r\n", "\n").split("\n\n", 1)[0]
        lines = head.split("\n")
        self.first = lines[0].strip()
        self.headers = []
        for l in lines[1:]:
            if l[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + l.strip())
                continue
            name, _, value = l.partition(":")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))

    @property
    def is_request(self):
        return not self.first.startswith("SIP/2.0 ")

    @property
    def method(self):
        return self.first.split(" ", 1)[0] if self.is_request else None

    @property
    def ruri(self):
        return self.first.split(" ")[1] if self.is_request else None

    @property
    def code(self):
        return None if self.is_request else int(self.first.split(" ")[1])

    def get(self, name):
        """Every value of header name, lists split at commas for the
        headers that are lists."""
        name = name.lower()
        vals = [v for n, v in self.headers if n == name]
        if name in ("contact", "via", "service-route", "path", "route",
                    "record-route"):
            vals = [e for v in vals for e in split_list(v)]
        return vals

    def one(self, name):
        vals = self.get(name)
        check(len(vals) == 1, "%s: want one %s header, got %r"
              % (self.first, name, vals))
        return vals[0]

    @property
    def cseq(self):
        return int(self.one("CSeq").split()[0])

    @property
    def call_id(self):
        return self.one("Call-ID")

    @property
    def branch(self):
        m = re.search(r";\s*branch=([^;,\s]+)", self.get("Via")[0])
        return m.group(1) if m else None

    @property
    def expires(self):
        """The Expires header as an int, None without one."""
        vals = self.get("Expires")
        return int(vals[0]) if vals else None

    def contact_uris(self):
        """(uri, expires param or None) of every Contact."""
        out = []
        for c in self.get("Contact"):
            m = re.match(r'^[^<]*<([^>]*)>(.*)$', c)
            uri, params = (m.group(1), m.group(2)) if m else \
                (c.split(";", 1)[0], ";" + c.split(";", 1)[1]
                 if ";" in c else "")
            e = re.search(r";\s*expires\s*=\s*(\d+)", params, re.I)
            out.append((uri, int(e.group(1)) if e else None))
        return out

    def short(self):
        if self.is_request:
            auth = "+auth" if (self.get("Authorization") or
                               self.get("Proxy-Authorization")) else ""
            return "%s cseq=%s expires=%s%s" % (
                self.method, self.one("CSeq").split()[0],
                self.get("Expires"), auth)
        return "%d cseq=%s" % (self.code, self.one("CSeq").split()[0])


SEP_RE = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$")


def parse_message_log(text):
    """SIPp's message log -> [SipMsg]."""
    msgs, cur, when = [], None, None
    for line in text.split("\n"):
        m = SEP_RE.match(line)
        if m:
            if cur is not None:
                msgs.append((when, cur))
            when = datetime.datetime.strptime(
                m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            cur = []
            continue
        if cur is not None:
            cur.append(line)
    if cur is not None:
        msgs.append((when, cur))
    out = []
    for when, lines in msgs:
        if not lines:
            continue
        what = lines[0]
        if " message received " in what:
            direction = "in"
        elif " message sent " in what:
            direction = "out"
        else:
            continue
        body = "\n".join(lines[2:]).strip("\n")
        if body.strip():
            out.append(SipMsg(when, direction, body))
    return out


# ---- a SIPp UAS playing a registrar -----------------------------------------

class Registrar:
    """A SIPp UAS running one reg_*.xml on 127.0.0.1 over UDP (one call:
    every REGISTER of the account shares its Call-ID).  The test
    environment stops it by PID."""

    def __init__(self, env, scen, timeout=40):
        need_sipp()
        self.scen = scen
        self.port = free_port()
        self.uri = "sip:127.0.0.1:%d" % self.port
        n = env.next_id()
        self.log = env.path("sipp-reg-%d-messages.log" % n)
        self.err = env.path("sipp-reg-%d-errors.log" % n)
        self.out = env.path("sipp-reg-%d.out" % n)
        argv = [SIPP, "-sf", scenario(scen), "-i", "127.0.0.1",
                "-p", str(self.port), "-t", "u1", "-m", "1", "-nostdin",
                "-timeout", str(timeout), "-timeout_error",
                "-default_behaviors", "all,-bye",
                "-trace_msg", "-message_file", self.log,
                "-trace_err", "-error_file", self.err]
        with open(self.out, "wb") as f:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=f, stderr=subprocess.STDOUT,
                                          cwd=env.tmp)
        self.pid = self.popen.pid
        env.register_proc(self)
        if not wait_until(self._bound, 5):
            raise TestFailure("sipp %s: not listening on UDP 127.0.0.1:%d "
                              "within 5 s: %s" % (scen, self.port,
                                                  self.output()[-800:]))

    def _bound(self):
        if self.popen.poll() is not None:
            raise TestFailure("sipp %s exited with %d at start: %s"
                              % (self.scen, self.popen.returncode,
                                 self.output()[-800:]))
        want = "0100007F:%04X" % self.port
        with open("/proc/net/udp") as f:
            return any(line.split()[1] == want for line in f
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

    def wait(self, timeout):
        """SIPp's exit status: 0 when the scenario ran to its end with
        every check passed."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("sipp %s still running %.0f s on; its flow: "
                              "%s" % (self.scen, timeout, self.flow()))

    def expect_success(self, timeout=5):
        rc = self.wait(timeout)
        check(rc == 0, "sipp %s exited with %d (a scenario check failed); "
              "flow: %s; sipp said: %s" % (self.scen, rc, self.flow(),
                                           self.errors_said()))

    def errors_said(self):
        try:
            with open(self.err, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "-"
        # One line per complaint, without the messages SIPp quotes.
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

    def requests(self):
        """The REGISTERs received, retransmissions left out."""
        seen, out = set(), []
        for m in self.messages():
            if m.dir != "in" or m.method != "REGISTER":
                continue
            key = (m.branch, m.cseq)
            if key in seen:
                continue
            seen.add(key)
            out.append(m)
        return out

    def wait_requests(self, n, timeout):
        regs = wait_until(lambda: len(self.requests()) >= n and
                          self.requests(), timeout, interval=0.05)
        check(regs, "sipp %s: want %d REGISTERs within %.0f s; flow: %s"
              % (self.scen, n, timeout, self.flow()))
        return regs

    def answer(self, req):
        """The first response SIPp sent to req (same CSeq number)."""
        for m in self.messages():
            if m.dir == "out" and not m.is_request and \
                    m.cseq == req.cseq and m.call_id == req.call_id:
                return m
        raise TestFailure("sipp %s sent no answer to %s; flow: %s"
                          % (self.scen, req.short(), self.flow()))

    def flow(self):
        """What went each way, for failure messages."""
        out, seen = [], set()
        for m in self.messages():
            if m.is_request:
                key = (m.branch, m.cseq)
                if key in seen:
                    continue
                seen.add(key)
            out.append(("> " if m.dir == "in" else "< ") + m.short())
        return "; ".join(out) or "(nothing)"


# ---- digest ----------------------------------------------------------------

HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def challenges(resp):
    """[(header, params)] of the challenges in a 401 or 407."""
    out = []
    for h in ("WWW-Authenticate", "Proxy-Authenticate"):
        for v in resp.get(h):
            scheme, p = auth_params(v)
            if scheme == "digest":
                out.append((h, p))
    return out


def check_digest(req, header, challenge, password, what):
    """Recomputes req's credentials in header (RFC 7616 §3.4.1, qop auth
    or none) from password and the challenge it answers; returns the
    credential's parameters."""
    vals = req.get(header)
    check(len(vals) == 1, "%s: want one %s, got %r" % (what, header, vals))
    scheme, p = auth_params(vals[0])
    check_eq(scheme, "digest", "%s: scheme" % what)
    alg = challenge.get("algorithm", "MD5").upper()
    check_eq(p.get("algorithm", "MD5").upper(), alg, "%s: algorithm" % what)
    check_eq(p.get("username"), USER, "%s: username" % what)
    check_eq(p.get("realm"), challenge["realm"], "%s: realm" % what)
    check_eq(p.get("nonce"), challenge["nonce"], "%s: nonce" % what)
    check_eq(p.get("uri"), req.ruri, "%s: uri (the Request-URI)" % what)
    if "opaque" in challenge:
        check_eq(p.get("opaque"), challenge["opaque"], "%s: opaque" % what)

    def h(s):
        return hashlib.new(HASHES[alg], s.encode()).hexdigest()
    ha1 = h("%s:%s:%s" % (USER, challenge["realm"], password))
    ha2 = h("REGISTER:%s" % p["uri"])
    if "qop" in challenge:
        check_eq(p.get("qop"), "auth", "%s: qop" % what)
        check(re.match(r"^[0-9a-f]{8}$", p.get("nc", "")) is not None,
              "%s: nc %r" % (what, p.get("nc")))
        check(p.get("cnonce"), "%s: no cnonce" % what)
        want = h(":".join([ha1, p["nonce"], p["nc"], p["cnonce"], "auth",
                           ha2]))
    else:
        want = h(":".join([ha1, p["nonce"], ha2]))
    check_eq(p.get("response", "").lower(), want,
             "%s: digest response (%s, password %r)" % (what, alg, password))
    return p


# ---- sipxd and what it says -------------------------------------------------

def start_daemon(env, reg, **keys):
    """sipxd with account alice registering to reg; returns the daemon, a
    control connection and one following alice's account events."""
    a = account(USER, registrar=reg.uri, password=PASSWORD, register=True,
                expires=600, retry=dict(RETRY))
    a.update(keys)
    d = env.daemon(accounts=[a])
    ev = d.connect()
    r = ev.request("events kind=account account=%s" % USER)
    check(r.ok, "events: %r" % (r,))
    ctl = d.connect()
    return d, ctl, ev


class AccountView:
    """The reply to `account NAME`: the first record, the bindings the
    registrar listed, the recent attempts (newest first)."""

    def __init__(self, reply):
        self.reply = reply
        self.main = reply.records[0]
        self.bindings = [r["binding"] for r in reply.records[1:]
                         if "binding" in r]
        self.attempts = [r for r in reply.records[1:] if "attempt" in r]

    def __getitem__(self, key):
        check(key in self.main, "account record has no %r: %r"
              % (key, self.main))
        return self.main[key]

    def num(self, key):
        v = self[key]
        check(re.match(r"^-?\d+$", v) is not None,
              "account %s=%r is not a number" % (key, v))
        return int(v)

    def __repr__(self):
        return " | ".join(self.reply.lines)


def account_view(ctl, name=USER):
    r = ctl.request("account %s" % name)
    check(r.ok and r.records and r.records[0].get("name") == name,
          "account %s: %r" % (name, r))
    return AccountView(r)


def wait_state(ctl, state, timeout, pred=None, reg=None):
    """Polls `account alice` until its state is state (and pred holds)."""
    last = [None]

    def ok():
        v = account_view(ctl)
        last[0] = v
        return v if v["state"] == state and (pred is None or pred(v)) \
            else None
    v = wait_until(ok, timeout, interval=0.05)
    check(v, "account %s: want state %s within %.0f s; last: %r%s"
          % (USER, state, timeout, last[0],
             "; flow: " + reg.flow() if reg else ""))
    return v


def drain_events(ev, quiet=0.3):
    """Every event line received so far (and for quiet s more)."""
    lines = list(ev.events)
    ev.events.clear()
    while True:
        try:
            line = ev.read_line(timeout=quiet)
        except TestFailure:
            return lines
        if line is None:
            return lines
        lines.append(line)


def state_events(lines):
    out = []
    for l in lines:
        t, f = parse_event(l)
        if t == "account.state" and f.get("account") == USER:
            out.append(f)
    return out


def wait_state_event(ev, state, timeout, reg):
    """The fields of the account.state event that enters state."""
    try:
        return ev.wait_event("account.state", timeout,
                             pred=lambda f: f.get("account") == USER and
                             f.get("state") == state)
    except TestFailure as e:
        raise TestFailure("%s; flow: %s" % (e, reg.flow()))


def check_registers(reg, d, regs, public=None):
    """What every REGISTER of one account must show (RFC 3261 §10.2):
    the registrar as Request-URI, the AOR in From and To, one Call-ID,
    CSeq rising by one, one Contact at sipxd's listener (or at the public
    address the registrar reported, beside the private one with
    expires=0 that it replaces), asking in Expires and in the Contact's
    expires alike."""
    here = "127.0.0.1:%d" % d.port
    first = regs[0]
    for i, r in enumerate(regs):
        what = "REGISTER #%d (%s)" % (i + 1, r.short())
        check_eq(r.ruri, reg.uri, what + ": Request-URI")
        check(AOR in r.one("To"), "%s: To %r" % (what, r.one("To")))
        check(AOR in r.one("From") and ";tag=" in r.one("From"),
              "%s: From %r" % (what, r.one("From")))
        check_eq(r.call_id, first.call_id, what + ": Call-ID stays")
        check_eq(r.cseq, first.cseq + i, what + ": CSeq rises by one")
        check(r.expires is not None, what + ": no Expires header")
        if r.get("Contact") == ["*"] and r.expires == 0:
            continue            # RFC 3261 §10.2.2: remove all
        cs = r.contact_uris()
        where = [here] + ([public] if public else [])
        for uri, cexp in cs:
            m = re.match(r"^sips?:(?:([^@]*)@)?([^;>]+)", uri)
            check(m is not None and m.group(1) == USER,
                  "%s: Contact user: %r" % (what, uri))
            check(m.group(2) in where, "%s: Contact %r not at %s"
                  % (what, uri, " or ".join(where)))
        asked = [(u, e) for u, e in cs if e != 0 or r.expires == 0]
        gone = [(u, e) for u, e in cs if e == 0 and r.expires != 0]
        check(len(asked) == 1, "%s: want one Contact asking %s s, got %r"
              % (what, r.expires, r.get("Contact")))
        check_eq(asked[0][1], r.expires,
                 what + ": Contact expires= and Expires")
        check(not gone or (public and all(here in u for u, e in gone)),
              "%s: Contacts removed beside the one registered: %r"
              % (what, gone))


def finish_registered(d, reg, nregs, public=None):
    """Stops sipxd, which must remove its binding (REGISTER Expires: 0,
    same Call-ID, next CSeq) before it exits; the scenario answers that
    and must have run to its end."""
    d.stop()
    regs = reg.wait_requests(nregs + 1, 5)
    check_registers(reg, d, regs[:nregs + 1], public=public)
    last = regs[nregs]
    check_eq(last.expires, 0, "the REGISTER at stop unregisters")
    check_eq(len(regs), nregs + 1, "REGISTERs in all")
    reg.expect_success()


def check_refresh_in(v, granted):
    """Refresh at 80-90 % of granted, never later than granted - 5 s when
    granted > 10 s, never before half (allowing a second gone by)."""
    lo = granted * 0.8 - 2
    hi = min(granted * 0.9, granted - 5 if granted > 10 else granted)
    r = v.num("refresh_in")
    check(lo <= r <= hi, "refresh_in=%d, want %.0f..%.0f for %d s granted"
          % (r, lo, hi, granted))


# ---- the scenarios ---------------------------------------------------------

def test_423_min_expires(env):
    """423 with Min-Expires: 3600 -> the same REGISTER again at once with
    Expires 3600 and expires=3600 in the Contact -> 200: registered,
    asked=3600."""
    reg = Registrar(env, "reg_423.xml")
    d, ctl, ev = start_daemon(env, reg, expires=600)
    v = wait_state(ctl, "registered", 5, reg=reg)
    regs = reg.wait_requests(2, 2)
    check_registers(reg, d, regs)
    check_eq(regs[0].expires, 600, "first REGISTER asks for the config's "
             "expires")
    check_eq(reg.answer(regs[0]).code, 423, "first answer")
    check_eq(regs[1].expires, 3600, "REGISTER after 423 asks Min-Expires")
    gap = regs[1].time - reg.answer(regs[0]).time
    check(gap < 1.0, "REGISTER after the 423 came %.2f s later, want at "
          "once" % gap)
    check_eq(len(regs), 2, "REGISTERs before the stop")
    check_eq(v["asked"], "3600", "asked")
    check_eq(v["granted"], "3600", "granted")
    check_eq(v["code"], "200", "code")
    check_eq(v["failures"], "0", "failures")
    check(3590 <= v.num("expires") <= 3600, "expires %r" % v["expires"])
    check_refresh_in(v, 3600)
    check(len(v.bindings) == 1 and "expires=3600" in v.bindings[0] and
          "127.0.0.1:%d" % d.port in v.bindings[0],
          "bindings %r" % v.bindings)
    check(len(v.attempts) >= 2, "attempts %r" % v.attempts)
    check_eq((v.attempts[0]["expires"], v.attempts[0]["code"]),
             ("3600", "200"), "newest attempt")
    check_eq((v.attempts[1]["expires"], v.attempts[1]["code"]),
             ("600", "423"), "attempt before it")
    # sipxctl says the same, and so does the summary line.
    r = d.ctl("account", USER, json=True)
    check_eq(r.rc, 0, "sipxctl account %s: %r" % (USER, r))
    data = r.json()["data"]
    check_eq((data[0]["state"], str(data[0]["asked"])),
             ("registered", "3600"), "sipxctl --json account")
    check_eq([x["binding"] for x in data[1:] if "binding" in x], v.bindings,
             "sipxctl --json account: bindings")
    r = ctl.request("accounts")
    check(r.ok and len(r.records) == 1, "accounts: %r" % (r,))
    a = r.records[0]
    check_eq((a["name"], a["state"], a["code"], a["failures"]),
             (USER, "registered", "200", "0"), "accounts record")
    check_eq(a["target"], "UDP 127.0.0.1:%d" % reg.port, "accounts target")
    finish_registered(d, reg, 2)


def refresh_challenged(env, scen, stale):
    """401 (nonce A) -> credentials -> 200 for 10 s; the refresh reuses
    nonce A with nc 2 and gets 401 with nonce B (stale=true or not): the
    credentials it refused were not fresh, so nonce B is answered at once
    and the account stays registered, never failed."""
    reg = Registrar(env, scen)
    d, ctl, ev = start_daemon(env, reg, expires=10)
    wait_state(ctl, "registered", 5, reg=reg)
    regs = reg.wait_requests(4, 16)
    check_registers(reg, d, regs)
    check(not regs[0].get("Authorization"),
          "first REGISTER carries credentials before any challenge")
    a401 = reg.answer(regs[0])
    check_eq(a401.code, 401, "first answer")
    cha = challenges(a401)[0][1]
    p1 = check_digest(regs[1], "Authorization", cha, PASSWORD,
                      "answer to the 401")
    check_eq(p1.get("nc"), "00000001", "nc of the first use of nonce A")
    ok1 = reg.answer(regs[1])
    check_eq(ok1.code, 200, "answer with nonce A")

    # The refresh: sipxd refreshes a 10 s binding at half of it (5 s
    # are its safety margin); never before half, never after expiry.
    gap = regs[2].time - ok1.time
    check(4.9 <= gap <= 10.0, "refresh %.2f s after the 200 for 10 s"
          % gap)
    # Issue 9: "nonce reuse with nc++ on refresh".
    p2 = check_digest(regs[2], "Authorization", cha, PASSWORD,
                      "refresh reusing nonce A")
    check_eq(p2.get("nc"), "00000002", "nc of the second use of nonce A")
    again = reg.answer(regs[2])
    check_eq(again.code, 401, "answer to the refresh")
    chb = challenges(again)[0][1]
    check_eq(chb.get("stale") == "true", stale, "the scenario's stale flag")
    p3 = check_digest(regs[3], "Authorization", chb, PASSWORD,
                      "answer to the second 401")
    check_eq(p3.get("nc"), "00000001", "nc of the first use of nonce B")
    gap = regs[3].time - again.time
    check(gap < 1.0, "answer to nonce B came %.2f s later, want at once"
          % gap)
    check_eq(reg.answer(regs[3]).code, 200, "answer with nonce B")

    v = wait_state(ctl, "registered", 3, reg=reg,
                   pred=lambda v: v["cseq"] == str(regs[3].cseq) and
                   v["code"] == "200")
    check_eq(v["failures"], "0", "failures")
    check_eq(v["granted"], "10", "granted")
    check_eq(v["auth_realm"], "sipxtest", "auth_realm")
    bad = [f for f in state_events(drain_events(ev))
           if f.get("state") in ("failed", "retry-wait")]
    check(not bad, "a second 401 to reused credentials is no failure: %r"
          % bad)
    check_eq(len(reg.requests()), 4, "REGISTERs before the stop")
    finish_registered(d, reg, 4)


def test_stale_nonce(env):
    """The refresh gets 401 stale=true (RFC 7616 §3.3)."""
    refresh_challenged(env, "reg_stale.xml", True)


def test_nonce_rotated(env):
    """The refresh gets a plain 401 with a new nonce, no stale=true."""
    refresh_challenged(env, "reg_nonce_rotated.xml", False)


def test_407_proxy_auth(env):
    """407 with Proxy-Authenticate -> Proxy-Authorization -> 200."""
    reg = Registrar(env, "reg_407.xml")
    d, ctl, ev = start_daemon(env, reg)
    v = wait_state(ctl, "registered", 5, reg=reg)
    regs = reg.wait_requests(2, 2)
    check_registers(reg, d, regs)
    check(not regs[0].get("Proxy-Authorization"),
          "first REGISTER carries credentials before any challenge")
    a407 = reg.answer(regs[0])
    check_eq(a407.code, 407, "first answer")
    h, ch = challenges(a407)[0]
    check_eq(h, "Proxy-Authenticate", "the scenario's challenge header")
    check_digest(regs[1], "Proxy-Authorization", ch, PASSWORD,
                 "answer to the 407")
    check(not regs[1].get("Authorization"),
          "answer to a 407 carries Authorization: %r"
          % regs[1].get("Authorization"))
    check_eq(v["code"], "200", "code")
    check_eq(v["failures"], "0", "failures")
    check_eq(v["auth_realm"], "proxytest", "auth_realm")
    check_eq(len(regs), 2, "REGISTERs before the stop")
    finish_registered(d, reg, 2)


def test_wrong_password(env):
    """401 -> credentials -> 401 again, not stale: failed, "credentials"
    in the cause, no third REGISTER (the scenario waits 4 s for one)."""
    reg = Registrar(env, "reg_wrong_password.xml")
    d, ctl, ev = start_daemon(env, reg, password="wrong")
    f = wait_state_event(ev, "failed", 5, reg)
    check("credential" in f.get("cause", "").lower(),
          "cause of failed: %r" % f)
    if "code" in f:
        check_eq(f["code"], "401", "code in the event")
    v = account_view(ctl)
    check_eq(v["state"], "failed", "state")
    check_eq(v["code"], "401", "code")
    check(v.num("failures") >= 1, "failures %r" % v["failures"])
    nt = v.num("next_try")
    check(RETRY["fatal"] - 5 <= nt <= RETRY["fatal"],
          "next_try=%d, want about retry.fatal (%d)" % (nt, RETRY["fatal"]))
    regs = reg.wait_requests(2, 1)
    check_registers(reg, d, regs)
    a1 = reg.answer(regs[0])
    check_digest(regs[1], "Authorization", challenges(a1)[0][1], "wrong",
                 "answer to the 401 with the configured password")
    # The scenario ends with success only if no REGISTER came in 4 s.
    reg.expect_success(8)
    check_eq(len(reg.requests()), 2, "REGISTERs in all (no loop on a "
             "refused password); flow: %s" % reg.flow())
    v = account_view(ctl)
    check_eq(v["state"], "failed", "state 4 s later")


def test_retry_after(env):
    """503 with Retry-After: 7 -> retry-wait for ~7 s (not the 1-2 s
    backoff) -> the next REGISTER 6-9 s later -> 200."""
    reg = Registrar(env, "reg_retry_after.xml")
    d, ctl, ev = start_daemon(env, reg)
    f = wait_state_event(ev, "retry-wait", 5, reg)
    if "retry_in" in f:
        check(6 <= float(f["retry_in"]) <= 7,
              "retry_in in the event: %r" % f)
    if "code" in f:
        check_eq(f["code"], "503", "code in the event")
    v = account_view(ctl)
    check_eq(v["state"], "retry-wait", "state")
    check_eq(v["code"], "503", "code")
    check_eq(v["failures"], "1", "failures")
    nt = v.num("next_try")
    check(5 <= nt <= 7, "next_try=%d, want about 7 (Retry-After)" % nt)
    regs = reg.wait_requests(2, 12)
    sent503 = reg.answer(regs[0])
    check_eq(sent503.code, 503, "first answer")
    gap = regs[1].time - sent503.time
    check(6.0 <= gap <= 9.0, "REGISTER %.2f s after the 503 with "
          "Retry-After: 7" % gap)
    v = wait_state(ctl, "registered", 3, reg=reg)
    check_eq(v["failures"], "0", "failures once registered")
    check_registers(reg, d, regs)
    check_eq(len(regs), 2, "REGISTERs before the stop")
    finish_registered(d, reg, 2)


def test_rewritten_contact(env):
    """200 listing a binding that is not sipxd's Contact (another user,
    host and port; expires=60) and Expires: 60: registered for 60 s, the
    binding shown as written, no re-REGISTER loop."""
    reg = Registrar(env, "reg_rewrite_contact.xml")
    d, ctl, ev = start_daemon(env, reg)
    v = wait_state(ctl, "registered", 5, reg=reg)
    check_eq(v["granted"], "60", "granted")
    check_eq(v["asked"], "600", "asked")
    check(50 <= v.num("expires") <= 60, "expires %r" % v["expires"])
    check_refresh_in(v, 60)
    check_eq(v.bindings, ["<sip:alice-7f3a@192.0.2.55:5099;transport=udp>"
                          ";expires=60"], "bindings")
    time.sleep(1.5)
    regs = reg.requests()
    check_eq(len(regs), 1, "REGISTERs after the 200 (a loop?); flow: %s"
             % reg.flow())
    check_registers(reg, d, regs)
    v = account_view(ctl)
    check_eq(v["state"], "registered", "state 1.5 s later")
    finish_registered(d, reg, 1)


def test_nat_rport(env):
    """The 200's Via says received=198.51.100.7;rport=40000: sipxd
    registers again with that address in its Contact at once, and shows
    it as public_addr."""
    public = "198.51.100.7:40000"
    reg = Registrar(env, "reg_nat.xml")
    d, ctl, ev = start_daemon(env, reg)
    v = wait_state(ctl, "registered", 5, reg=reg,
                   pred=lambda v: v["public_addr"] == public and
                   public in v["contact"])
    regs = reg.requests()
    check_registers(reg, d, regs, public=public)
    check("127.0.0.1:%d" % d.port in regs[0].contact_uris()[0][0],
          "first Contact %r" % regs[0].get("Contact"))
    ok1 = reg.answer(regs[0])
    nat = [r for r in regs[1:] if r.expires and
           any(public in u and e for u, e in r.contact_uris())]
    check(nat, "no REGISTER with Contact at %s; flow: %s"
          % (public, reg.flow()))
    gap = nat[0].time - ok1.time
    check(gap < 1.0, "REGISTER with the public address %.2f s after the "
          "200, want at once" % gap)
    # The private binding must not linger at the registrar (it would get
    # calls nobody can answer until it expires): removed with expires=0,
    # in that REGISTER or one of its own.
    private = regs[0].contact_uris()[0][0]
    check(any(u == private and e == 0 for r in regs[1:]
              for u, e in r.contact_uris()),
          "the private binding %s is never removed; flow: %s"
          % (private, reg.flow()))
    check(any(public in b for b in v.bindings), "bindings %r" % v.bindings)
    check_eq(v["code"], "200", "code")
    check_eq(v["failures"], "0", "failures")
    time.sleep(0.5)
    n = len(reg.requests())
    check(n <= 3, "REGISTERs before the stop: %d (a loop?); flow: %s"
          % (n, reg.flow()))
    d.stop()
    regs = reg.wait_requests(n + 1, 5)
    last = regs[-1]
    check_eq(last.expires, 0, "the REGISTER at stop unregisters")
    check(any(public in u for u, e in last.contact_uris()) or
          last.get("Contact") == ["*"],
          "unregister at stop removes the public binding: %r"
          % last.get("Contact"))
    reg.expect_success()


def test_two_challenges(env):
    """One 401 with WWW-Authenticate SHA-256 first, then MD5: the answer
    uses SHA-256 and is right."""
    reg = Registrar(env, "reg_multi_challenge.xml")
    d, ctl, ev = start_daemon(env, reg)
    v = wait_state(ctl, "registered", 5, reg=reg)
    regs = reg.wait_requests(2, 2)
    check_registers(reg, d, regs)
    chs = [p for h, p in challenges(reg.answer(regs[0]))]
    check_eq([p.get("algorithm") for p in chs], ["SHA-256", "MD5"],
             "the scenario's challenges")
    check_digest(regs[1], "Authorization", chs[0], PASSWORD,
                 "answer to the SHA-256 challenge")
    check_eq(v["auth_alg"], "SHA-256", "auth_alg")
    check_eq(v["auth_realm"], "sipxtest", "auth_realm")
    check_eq(len(regs), 2, "REGISTERs before the stop")
    finish_registered(d, reg, 2)


def test_service_route_path(env):
    """Service-Route (two hops) and Path in the 200: kept, in order."""
    reg = Registrar(env, "reg_routes.xml")
    d, ctl, ev = start_daemon(env, reg)
    v = wait_state(ctl, "registered", 5, reg=reg)
    sr = v["service_route"]
    hop1 = "<sip:orig@scscf.sipxtest.invalid:5070;lr>"
    hop2 = "<sip:as1@as.sipxtest.invalid;lr>"
    check(hop1 in sr and hop2 in sr and sr.index(hop1) < sr.index(hop2),
          "service_route=%r, want %s then %s" % (sr, hop1, hop2))
    check("<sip:term@pcscf.sipxtest.invalid;lr>" in v["path"],
          "path=%r" % v["path"])
    regs = reg.wait_requests(1, 1)
    check_registers(reg, d, regs)
    check_eq(len(regs), 1, "REGISTERs before the stop")
    finish_registered(d, reg, 1)


def test_403_forbidden(env):
    """403 -> failed, next_try about retry.fatal, nothing sent for the
    4 s the scenario waits."""
    reg = Registrar(env, "reg_403.xml")
    d, ctl, ev = start_daemon(env, reg)
    f = wait_state_event(ev, "failed", 5, reg)
    check("403" in f.get("cause", ""), "cause of failed: %r" % f)
    v = account_view(ctl)
    check_eq(v["state"], "failed", "state")
    check_eq(v["code"], "403", "code")
    check_eq(v["reason"], "Forbidden", "reason (the phrase)")
    nt = v.num("next_try")
    check(RETRY["fatal"] - 5 <= nt <= RETRY["fatal"],
          "next_try=%d, want about retry.fatal (%d)" % (nt, RETRY["fatal"]))
    check(v.attempts and v.attempts[0]["code"] == "403",
          "attempts %r" % v.attempts)
    reg.expect_success(8)
    regs = reg.requests()
    check_registers(reg, d, regs)
    check_eq(len(regs), 1, "REGISTERs in all after a 403; flow: %s"
             % reg.flow())


TESTS = [
    ("423_min_expires", test_423_min_expires),
    ("stale_nonce", test_stale_nonce),
    ("nonce_rotated", test_nonce_rotated),
    ("407_proxy_auth", test_407_proxy_auth),
    ("wrong_password", test_wrong_password),
    ("retry_after", test_retry_after),
    ("rewritten_contact", test_rewritten_contact),
    ("nat_rport", test_nat_rport),
    ("two_challenges", test_two_challenges),
    ("service_route_path", test_service_route_path),
    ("403_forbidden", test_403_forbidden),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
