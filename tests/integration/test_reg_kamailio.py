#!/usr/bin/env python3
"""Registrations against a real registrar: Kamailio on loopback with the
registrar, usrloc (in memory) and auth modules, digest required
(tests/integration/kamailio/registrar.cfg).  The scenarios of issue 9:
three accounts over UDP and TCP land in Kamailio's location table; a
wrong password fails that account alone; a short expires is refreshed
before it runs out; a registrar that goes away puts the accounts in
retry-wait with growing waits, and they come back when it returns; a
reload touches only the accounts it adds, removes or changes; SIGTERM
removes every binding.  What Kamailio holds is read with `kamcmd ul.dump`
over a private socket, what it was sent from the line its script logs
per REGISTER.  Kamailio runs in the foreground in the test's directory
and is stopped by PID (then its process group, which it leads, if a
child lingers)."""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      free_port, parse_event, run_tests, wait_until,
                      TestFailure)

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO = shutil.which("kamailio") or shutil.which("/usr/sbin/kamailio")
KAMCMD = shutil.which("kamcmd") or shutil.which("/usr/sbin/kamcmd")
CFG = os.path.join(HERE, "kamailio", "registrar.cfg")

# What registrar.cfg knows: user NAME has password NAME-secret.
REALM = "sipxtest"
RETRY = {"base": 1, "max": 8, "fatal": 30}


def password(user):
    return user + "-secret"


# ---- Kamailio ---------------------------------------------------------------

class Kamailio:
    """One Kamailio on 127.0.0.1:port (UDP and TCP).  It can be stopped
    and started again on the same port; the location table starts empty
    each time (usrloc db_mode 0)."""

    def __init__(self, env, port=None, name="kamailio", defines=()):
        self.env = env
        self.port = port or free_port()
        self.dir = env.path(name)
        self.defines = list(defines)
        os.makedirs(self.dir, exist_ok=True)
        self.ctl = "unix:" + os.path.join(self.dir, "ctl")
        self.popen = None
        self.pid = None
        self.runs = 0
        self.logs = []
        env.register_proc(self)

    def start(self, timeout=10):
        self.runs += 1
        log = os.path.join(self.dir, "kamailio-%d.log" % self.runs)
        self.logs.append(log)
        argv = [KAMAILIO, "-f", CFG, "-DD", "-E", "-Y", self.dir,
                "-P", os.path.join(self.dir, "kamailio.pid"),
                "-m", "32", "-M", "4",
                "-l", "udp:127.0.0.1:%d" % self.port,
                "-l", "tcp:127.0.0.1:%d" % self.port,
                "-A", 'CTL_SOCK="%s"' % self.ctl]
        for d in self.defines:
            argv += ["-A", d]
        with open(log, "wb") as out:
            # Its own session, so that its children can be found (and, as
            # a last resort, killed) by its process group id.
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          cwd=self.dir, start_new_session=True)
        self.pid = self.popen.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise TestFailure("kamailio exited with %d at start-up: %s"
                                  % (self.popen.returncode,
                                     self.log_tail()))
            if self.ping() and self.rpc("core.uptime")[0] == 0:
                return self
            time.sleep(0.05)
        raise TestFailure("kamailio not answering within %.0f s: %s"
                          % (timeout, self.log_tail()))

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def stop(self):
        """SIGTERM by PID, then waits for it and its children; idempotent.
        Returns its exit status."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Its main process waits for its children; one that outlived it
        # would hold the port a restart needs.
        def gone():
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                return True
            return False
        if not wait_until(gone, 3, 0.05):
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.popen.returncode

    def ping(self):
        """True when an OPTIONS over UDP gets its 200."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(0.3)
            s.bind(("127.0.0.1", 0))
            lport = s.getsockname()[1]
            s.sendto(("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ping%d\r\n"
                      "Max-Forwards: 70\r\n"
                      "From: <sip:ping@127.0.0.1>;tag=ping\r\n"
                      "To: <sip:127.0.0.1>\r\n"
                      "Call-ID: ping-%d@127.0.0.1\r\n"
                      "CSeq: 1 OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n"
                      % (self.port, lport, lport, lport)).encode(),
                     ("127.0.0.1", self.port))
            return s.recv(65535).startswith(b"SIP/2.0 200 ")
        except OSError:
            return False
        finally:
            s.close()

    def rpc(self, *args):
        p = subprocess.run([KAMCMD, "-s", self.ctl] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def location(self):
        """The location table: AoR (user part) -> list of its live contacts,
        each a dict of ul.dump's fields (Address, Expires, Call-ID, CSeq,
        Socket, ...).  Contacts ul.dump shows as expired are left out."""
        rc, out, err = self.rpc("ul.dump")
        check(rc == 0, "kamcmd ul.dump failed (%d): %s" % (rc, err.strip()))
        table, aor, contact = {}, None, None
        for line in out.splitlines():
            s = line.strip()
            if s.startswith("AoR: "):
                aor = s[5:]
                table.setdefault(aor, [])
            elif s == "Contact: {" and aor is not None:
                contact = {}
            elif s == "}" and contact is not None:
                if contact.get("Expires") not in ("expired", "deleted"):
                    table[aor].append(contact)
                contact = None
            elif contact is not None:
                key, _, value = s.partition(": ")
                contact[key] = value
        return {a: c for a, c in table.items() if c}

    def log_text(self):
        text = []
        for path in self.logs:
            with open(path, "rb") as f:
                text.append(f.read().decode("utf-8", "replace"))
        return "".join(text)

    def log_tail(self, n=1500):
        return self.log_text()[-n:]

    def registers(self, user):
        """Lines the script logged for REGISTERs of user, in order: one
        per REGISTER ("save USER ..." or "challenge USER: ...")."""
        pat = re.compile(r"<script>: (save|challenge) %s[ :]"
                         % re.escape(user))
        return [l for l in self.log_text().splitlines() if pat.search(l)]


def wait_location(kam, pred, timeout, what):
    """Polls the location table until pred(table) holds; returns it."""
    last = {}

    def ok():
        last.clear()
        last.update(kam.location())
        return pred(last)
    check(wait_until(ok, timeout, 0.1),
          "%s: not within %.0f s; location table: %s"
          % (what, timeout, loc_summary(last)))
    return dict(last)


def loc_summary(table):
    return "; ".join("%s: %s" % (aor, ", ".join(
        "%s expires=%s cseq=%s" % (c.get("Address"), c.get("Expires"),
                                   c.get("CSeq")) for c in cs))
        for aor, cs in sorted(table.items())) or "(empty)"


def only_contact(table, aor):
    cs = table.get(aor, [])
    check(len(cs) == 1, "%s: want one binding, have %s"
          % (aor, loc_summary({aor: cs}) if cs else "none"))
    return cs[0]


# ---- a tiny digest client, to check the registrar on its own ----------------

def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class UdpRegistrar:
    """REGISTERs over UDP by hand: qop=auth digest, one Call-ID."""

    def __init__(self, port, user, pw):
        self.port, self.user, self.pw = port, user, pw
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        self.sock.bind(("127.0.0.1", 0))
        self.lport = self.sock.getsockname()[1]
        self.call_id = "hand-%d@127.0.0.1" % self.lport
        self.cseq = 0

    def close(self):
        self.sock.close()

    def send(self, expires, auth=None):
        self.cseq += 1
        uri = "sip:127.0.0.1:%d" % self.port
        hdr = ""
        if auth:
            realm, nonce, nc = auth
            ha1 = md5("%s:%s:%s" % (self.user, realm, self.pw))
            ha2 = md5("REGISTER:" + uri)
            ncs = "%08x" % nc
            resp = md5("%s:%s:%s:0a4f113b:auth:%s" % (ha1, nonce, ncs, ha2))
            hdr = ('Authorization: Digest username="%s", realm="%s", '
                   'nonce="%s", uri="%s", response="%s", algorithm=MD5, '
                   'qop=auth, nc=%s, cnonce="0a4f113b"\r\n'
                   % (self.user, realm, nonce, uri, resp, ncs))
        msg = ("REGISTER %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d-%d;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:%s@127.0.0.1>;tag=hand\r\n"
               "To: <sip:%s@127.0.0.1>\r\n"
               "Call-ID: %s\r\nCSeq: %d REGISTER\r\n"
               "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: %d\r\n%s"
               "Content-Length: 0\r\n\r\n"
               % (uri, self.lport, self.lport, self.cseq, self.user,
                  self.user, self.call_id, self.cseq, self.user, self.lport,
                  expires, hdr))
        self.sock.sendto(msg.encode(), ("127.0.0.1", self.port))
        text = self.sock.recv(65535).decode()
        status = int(text.split(" ", 2)[1])
        chal = None
        m = re.search(r"^WWW-Authenticate: *Digest (.*)$", text, re.M | re.I)
        if m:
            p = dict(re.findall(r'(\w+)="?([^",]*)"?', m.group(1)))
            chal = (p.get("realm"), p.get("nonce"), p.get("stale"))
        return status, chal

    def register(self, expires):
        """Challenge, answer; returns the final status."""
        status, chal = self.send(expires)
        check_eq(status, 401, "%s: first REGISTER" % self.user)
        status, _ = self.send(expires, (chal[0], chal[1], 1))
        return status


# ---- sipxd side -------------------------------------------------------------

def reg_account(kam, user, transport="udp", pw=None, expires=60):
    registrar = "sip:127.0.0.1:%d" % kam.port
    if transport == "tcp":
        registrar += ";transport=tcp"
    return account(user, "sip:%s@127.0.0.1" % user, register=True,
                   registrar=registrar, transport=transport,
                   password=pw or password(user), expires=expires,
                   retry=dict(RETRY))


def start_sipxd(env, kam, accounts):
    # A TCP listener too: the TCP account's Contact names it.
    return env.daemon(accounts=accounts, tcp=True)


def accounts(c):
    r = c.request("accounts")
    check(r.ok, "accounts: %r" % r)
    return {rec["name"]: rec for rec in r.records}


def account_info(c, name):
    """(first record, binding values, attempt records) of `account NAME`."""
    r = c.request("account " + name)
    check(r.ok and r.records, "account %s: %r" % (name, r))
    rest = r.records[1:]
    return (r.records[0], [x["binding"] for x in rest if "binding" in x],
            [x for x in rest if "attempt" in x])


def acc_summary(accs):
    return "; ".join("%s %s code=%s reason=%r failures=%s next_try=%s"
                     % (n, a.get("state"), a.get("code"), a.get("reason"),
                        a.get("failures"), a.get("next_try"))
                     for n, a in sorted(accs.items())) or "(none)"


def wait_states(c, want, timeout, what):
    """Polls `accounts` until every account in want has its state."""
    last = {}

    def ok():
        last.clear()
        last.update(accounts(c))
        return all(n in last and last[n]["state"] == s
                   for n, s in want.items())
    check(wait_until(ok, timeout, 0.05), "%s: want %s within %.0f s; have %s"
          % (what, want, timeout, acc_summary(last)))
    return dict(last)


def contact_uri(contact):
    """The URI of a Contact: inside <...>, or the value itself (`account`
    shows the bare URI, its parameters included)."""
    m = re.search(r"<([^>]*)>", contact)
    return m.group(1) if m else contact


def check_binding(kam, table, c, name, transport, d):
    """The location table holds name's binding as sipxd sent it."""
    info, bindings, _ = account_info(c, name)
    b = only_contact(table, name)
    uri = contact_uri(info["contact"])
    check_eq(b["Address"], uri, "%s: the registrar's Address is our Contact"
             % name)
    want = "sip:%s@127.0.0.1:%d" % (name, d.port)
    if transport == "tcp":
        want += ";transport=tcp"
    check_eq(uri, want, "%s: Contact" % name)
    check_eq(b["Socket"], "%s:127.0.0.1:%d" % (transport, kam.port),
             "%s: where the registrar got it" % name)
    check_eq(info["target"], "%s 127.0.0.1:%d" % (transport.upper(),
                                                  kam.port),
             "%s: target" % name)
    check_eq(b["Call-ID"], info["call_id"], "%s: Call-ID" % name)
    check_eq(b["CSeq"], info["cseq"], "%s: CSeq" % name)
    check(any(uri in x for x in bindings),
          "%s: `account` lists the binding %s: %r" % (name, uri, bindings))
    return b


class Events:
    """A control connection following account and config events; keeps
    every event it read, in order, as (type, fields)."""

    def __init__(self, d):
        self.c = d.connect()
        r = self.c.request("events kind=account,config")
        check(r.ok, "events: %r" % r)
        self.seen = []
        self.wait(lambda t, f: t == "sync", 5, "the snapshot's sync")

    def pump(self, timeout):
        """Reads what arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
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
                    return              # nothing more within the time
            else:
                line = self.c.read_line()
            if line is None:
                raise TestFailure("the events connection closed")
            check(line.startswith("EVENT "), "not an event: %r" % line)
            self.seen.append(parse_event(line))

    def mark(self):
        self.pump(0)
        return len(self.seen)

    def wait(self, pred, timeout, what, since=0):
        """The fields of the first event from index since matching
        pred(type, fields)."""
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

    def states(self, name, since=0):
        """The account.state events of name from index since."""
        self.pump(0)
        return [f for t, f in self.seen[since:]
                if t == "account.state" and f.get("account") == name]

    def tail(self, since=0, n=12):
        return " | ".join("%s %s" % (t, " ".join(
            "%s=%s" % kv for kv in f.items() if kv[0] not in ("seq", "time")))
            for t, f in self.seen[since:][-n:]) or "(none)"


# ---- the scenarios ----------------------------------------------------------

def test_registrar_alone(env, kam):
    """The registrar and this file's reading of it, without sipxd: digest
    is required, a right password binds, a wrong one is challenged
    again (not stale), Expires: 0 removes the binding."""
    kam.start()
    ua = UdpRegistrar(kam.port, "alice", password("alice"))
    try:
        check_eq(ua.register(30), 200, "alice with her password")
        b = only_contact(kam.location(), "alice")
        check_eq(b["Address"], "sip:alice@127.0.0.1:%d" % ua.lport,
                 "alice's Address")
        check_eq((b["Call-ID"], b["CSeq"]), (ua.call_id, "2"),
                 "alice's Call-ID and CSeq")
        check(0 < int(b["Expires"]) <= 30, "granted %s" % b["Expires"])
        check_eq(ua.register(0), 200, "alice's unregister")
        check_eq(kam.location(), {}, "location table after Expires: 0")
    finally:
        ua.close()
    bad = UdpRegistrar(kam.port, "bob", "not-" + password("bob"))
    try:
        status, chal = bad.send(30)
        check_eq(status, 401, "bob: first REGISTER")
        status, again = bad.send(30, (chal[0], chal[1], 1))
        check_eq(status, 401, "bob with a wrong password")
        check(again is not None and again[0] == REALM and again[2] is None,
              "a wrong password is challenged again without stale: %r"
              % (again,))
    finally:
        bad.close()
    check_eq(kam.location(), {}, "nothing bound for bob")


def test_three_accounts(env, kam):
    """Two accounts over UDP and one over TCP all reach `registered`, and
    the registrar holds each with sipxd's Contact."""
    kam.start()
    names = (("alice", "udp"), ("bob", "udp"), ("carol", "tcp"))
    d = start_sipxd(env, kam, [reg_account(kam, n, t) for n, t in names])
    c = d.connect()
    wait_states(c, {n: "registered" for n, _ in names}, 10, "all three")
    table = wait_location(kam, lambda t: all(n in t for n, _ in names), 5,
                          "all three in the location table")
    check_eq(sorted(table), ["alice", "bob", "carol"], "AoRs bound")
    for n, t in names:
        b = check_binding(kam, table, c, n, t, d)
        check(50 <= int(b["Expires"]) <= 60, "%s: Expires %s for 60 asked"
              % (n, b["Expires"]))
    # As a user reads it.
    j = expect_ctl(d.ctl("accounts", json=True), 0, "accounts").json()
    for rec in j["data"]:
        check_eq((rec["name"], rec["state"], rec["code"], rec["failures"]),
                 (rec["name"], "registered", 200, 0), "accounts --json")
        check(isinstance(rec["expires"], int) and
              0 < rec["expires"] <= 60, "%s: expires %r"
              % (rec["name"], rec["expires"]))


def test_wrong_password(env, kam):
    """A wrong password fails that account (credentials refused, no loop,
    the long retry) and leaves the other two registered and untouched."""
    kam.start()
    d = start_sipxd(env, kam, [
        reg_account(kam, "alice"),
        reg_account(kam, "bob", pw="not-" + password("bob")),
        reg_account(kam, "carol", "tcp")])
    c = d.connect()
    accs = wait_states(c, {"alice": "registered", "bob": "failed",
                           "carol": "registered"}, 10, "bob failed")
    check_eq((accs["bob"]["code"], accs["bob"]["failures"]), ("401", "1"),
             "bob's code and failures")
    check(accs["bob"]["next_try"] != "-" and
          20 <= int(accs["bob"]["next_try"]) <= RETRY["fatal"],
          "bob waits retry.fatal (%d s): next_try %s"
          % (RETRY["fatal"], accs["bob"]["next_try"]))
    table = wait_location(kam, lambda t: "alice" in t and "carol" in t, 5,
                          "alice and carol bound")
    check("bob" not in table, "bob bound: %s" % loc_summary(table))
    before = {n: (only_contact(table, n)["Call-ID"],
                  only_contact(table, n)["CSeq"]) for n in ("alice", "carol")}
    bob_sent = len(kam.registers("bob"))
    check_eq(bob_sent, 2, "REGISTERs of bob (challenge, refused answer): %r"
             % kam.registers("bob"))

    # Asked to try again now, bob fails again, and says why.
    ev = Events(d)
    since = ev.mark()
    expect_ctl(d.ctl("register", "bob"), 0, "register bob")
    f = ev.wait(lambda t, f: t == "account.state" and
                f.get("account") == "bob" and f.get("state") == "failed",
                10, "bob failed again", since)
    check("credentials" in f.get("cause", ""), "bob's cause names the "
          "credentials: %r" % f.get("cause"))
    check_eq(f.get("code"), "401", "bob's event code")
    time.sleep(1.0)                     # room for a loop to show
    n = len(kam.registers("bob"))
    check(n <= bob_sent + 2, "bob is not retried in a loop: %d REGISTERs: %r"
          % (n, kam.registers("bob")[-6:]))

    # The others saw none of it.
    accs = accounts(c)
    for name in ("alice", "carol"):
        check_eq((accs[name]["state"], accs[name]["failures"]),
                 ("registered", "0"), name)
        check_eq(ev.states(name, since), [], "%s's state events" % name)
    table = kam.location()
    check_eq({n: (only_contact(table, n)["Call-ID"],
                  only_contact(table, n)["CSeq"]) for n in ("alice", "carol")},
             before, "alice's and carol's bindings")
    check("bob" not in table, "bob bound: %s" % loc_summary(table))


def test_refresh(env, kam):
    """Expires 10 (granted as asked): the binding is refreshed before it
    runs out, again and again, under the same Call-ID, and never leaves
    the location table."""
    kam.start()
    names = (("alice", "udp"), ("carol", "tcp"))
    d = start_sipxd(env, kam, [reg_account(kam, n, t, expires=10)
                               for n, t in names])
    c = d.connect()
    wait_states(c, {n: "registered" for n, _ in names}, 10, "both")
    for n, _ in names:
        info, _, _ = account_info(c, n)
        check_eq((info["asked"], info["granted"]), ("10", "10"),
                 "%s: asked and granted" % n)
    table = wait_location(kam, lambda t: all(n in t for n, _ in names), 5,
                          "both bound")
    first = {n: only_contact(table, n) for n, _ in names}
    changes = {n: [time.monotonic()] for n, _ in names}
    last = {n: int(first[n]["CSeq"]) for n, _ in names}
    end = time.monotonic() + 12
    while time.monotonic() < end:
        table = kam.location()
        now = time.monotonic()
        for n, _ in names:
            check(n in table, "%s's binding disappeared %.1f s after the "
                  "first: %s; sipxd: %s" % (n, now - changes[n][0],
                                           loc_summary(table),
                                           acc_summary(accounts(c))))
            b = only_contact(table, n)
            check_eq(b["Call-ID"], first[n]["Call-ID"], "%s: Call-ID" % n)
            cseq = int(b["CSeq"])
            check(cseq >= last[n], "%s: CSeq went back" % n)
            if cseq > last[n]:
                changes[n].append(now)
                last[n] = cseq
        time.sleep(0.2)
    for n, _ in names:
        gaps = [b - a for a, b in zip(changes[n], changes[n][1:])]
        check(len(gaps) >= 2, "%s: want at least two refreshes in 12 s, "
              "saw CSeq %s -> %d" % (n, first[n]["CSeq"], last[n]))
        check(max(gaps) < 9.5, "%s: refreshes %s s apart for 10 s granted"
              % (n, ["%.1f" % g for g in gaps]))
        info, _, attempts = account_info(c, n)
        check_eq(info["state"], "registered", "%s: state" % n)
        check(attempts and all(a["code"] == "200" and a["expires"] == "10"
                               for a in attempts[:2]),
              "%s: the last attempts: %r" % (n, attempts))
    # Refreshes answer the nonce they have (nc + 1); one challenge each.
    for n, _ in names:
        ch = [l for l in kam.registers(n) if "challenge" in l]
        check_eq(len(ch), 1, "%s: challenges over %d REGISTERs: %r"
                 % (n, len(kam.registers(n)), ch))


def test_registrar_restart(env, kam):
    """Kamailio stopped: refreshes fail, the accounts wait in retry-wait
    with growing waits (RFC 5626 §4.5, base 1 s, max 8 s); Kamailio
    started again on the same port: all registered again, same Call-IDs."""
    kam.start()
    names = (("alice", "udp"), ("bob", "udp"), ("carol", "tcp"))
    d = start_sipxd(env, kam, [reg_account(kam, n, t, expires=10)
                               for n, t in names])
    c = d.connect()
    ev = Events(d)
    wait_states(c, {n: "registered" for n, _ in names}, 10, "all three")
    table = wait_location(kam, lambda t: all(n in t for n, _ in names), 5,
                          "all three bound")
    before = {n: only_contact(table, n) for n, _ in names}

    since = ev.mark()
    kam.stop()
    stopped = time.monotonic()

    # UDP attempts end in a timeout (64*T1 = 3.2 s here), TCP ones at
    # once: two waits for every account, three for carol.
    want = {"alice": 2, "bob": 2, "carol": 3}

    def waits(name):
        return [f for f in ev.states(name, since)
                if f.get("state") == "retry-wait"]

    def enough():
        return all(len(waits(n)) >= k for n, k in want.items())
    ev.pump(0)
    check(wait_until(lambda: (ev.pump(0.1), enough())[1], 25, 0.05),
          "retry-wait events within 25 s of the stop: %s; accounts: %s"
          % (ev.tail(since, 20), acc_summary(accounts(c))))
    report = {}
    for n, k in want.items():
        got = []
        for i, f in enumerate(waits(n)[:k]):
            check("retry_in" in f, "%s: retry-wait without retry_in: %r"
                  % (n, f))
            r = float(f["retry_in"])
            hi = min(RETRY["max"], RETRY["base"] * 2 ** (i + 1))
            check(hi / 2 - 1 <= r <= hi, "%s: wait %d is %s s, want %g..%g"
                  % (n, i + 1, f["retry_in"], hi / 2, hi))
            got.append(r)
        report[n] = got
    check(report["carol"][-1] > report["carol"][0],
          "carol's waits grow: %r" % report["carol"])
    accs = accounts(c)
    for n, _ in names:
        check(int(accs[n]["failures"]) >= want[n], "%s: failures %s"
              % (n, accs[n]["failures"]))

    kam.start()
    restarted = time.monotonic()
    wait_states(c, {n: "registered" for n, _ in names}, 15,
                "all registered again after the restart")
    table = wait_location(kam, lambda t: all(n in t for n, _ in names), 5,
                          "all three bound again")
    back = time.monotonic() - restarted
    for n, t in names:
        b = check_binding(kam, table, c, n, t, d)
        check_eq(b["Call-ID"], before[n]["Call-ID"], "%s: Call-ID kept" % n)
        check(int(b["CSeq"]) > int(before[n]["CSeq"]), "%s: CSeq grew" % n)
    accs = accounts(c)
    for n, _ in names:
        check_eq(accs[n]["failures"], "0", "%s: failures after" % n)
    print("# waits after the stop %s; all back %.1f s after the restart "
          "(%.1f s after the stop)" % (report, back,
                                       time.monotonic() - stopped))


def test_reload(env, kam):
    """A reload that adds dave, removes bob, changes carol's expires and
    leaves alice alone: dave is bound, bob unbound (Expires: 0), carol
    registered again, and nothing is sent for alice."""
    kam.start()
    alice, bob = reg_account(kam, "alice"), reg_account(kam, "bob")
    carol = reg_account(kam, "carol", "tcp", expires=60)
    d = start_sipxd(env, kam, [alice, bob, carol])
    c = d.connect()
    wait_states(c, {"alice": "registered", "bob": "registered",
                    "carol": "registered"}, 10, "the first three")
    table = wait_location(kam, lambda t: len(t) == 3, 5, "three bound")
    before = {n: only_contact(table, n) for n in ("alice", "carol")}
    alice_sent = len(kam.registers("alice"))
    ev = Events(d)
    since = ev.mark()

    carol2 = reg_account(kam, "carol", "tcp", expires=120)
    d.write_config([alice, carol2, reg_account(kam, "dave")])
    expect_ctl(d.ctl("reload"), 0, "reload")
    f = ev.wait(lambda t, f: t == "config.reloaded", 5, "config.reloaded",
                since)
    check_eq((f.get("added"), f.get("removed"), f.get("changed"),
              f.get("unchanged")), ("1", "1", "1", "1"), "reload counts")

    def settled(t):
        return ("dave" in t and "bob" not in t and "carol" in t and
                int(t["carol"][0]["CSeq"]) > int(before["carol"]["CSeq"]))
    table = wait_location(kam, settled, 10, "dave bound, bob unbound, "
                          "carol registered again")
    accs = wait_states(c, {"alice": "registered", "carol": "registered",
                           "dave": "registered"}, 5, "after the reload")
    check("bob" not in accs, "bob still listed: %s" % acc_summary(accs))
    check_binding(kam, table, c, "dave", "udp", d)
    b = check_binding(kam, table, c, "carol", "tcp", d)
    check(100 < int(b["Expires"]) <= 120, "carol's new Expires: %s"
          % b["Expires"])
    check_eq(b["Call-ID"], before["carol"]["Call-ID"], "carol's Call-ID")
    unreg = [l for l in kam.registers("bob") if "expires=0 " in l]
    check(unreg, "bob's binding removed by Expires: 0: %r"
          % kam.registers("bob"))

    time.sleep(1.0)                     # room for a stray REGISTER
    table = kam.location()
    a = only_contact(table, "alice")
    check_eq((a["Call-ID"], a["CSeq"], a["Address"]),
             (before["alice"]["Call-ID"], before["alice"]["CSeq"],
              before["alice"]["Address"]), "alice's binding")
    check_eq(len(kam.registers("alice")), alice_sent,
             "REGISTERs of alice after the reload: %r"
             % kam.registers("alice")[alice_sent:])
    info, _, _ = account_info(c, "alice")
    check_eq(info["cseq"], before["alice"]["CSeq"], "alice's CSeq in sipxd")
    check_eq([f.get("state") for f in ev.states("alice", since)], [],
             "alice's state events")


def test_sigterm(env, kam):
    """SIGTERM: sipxd removes every binding, then exits 0."""
    kam.start()
    names = (("alice", "udp"), ("bob", "udp"), ("carol", "tcp"))
    d = start_sipxd(env, kam, [reg_account(kam, n, t) for n, t in names])
    c = d.connect()
    wait_states(c, {n: "registered" for n, _ in names}, 10, "all three")
    wait_location(kam, lambda t: len(t) == 3, 5, "three bound")
    c.close()
    t0 = time.monotonic()
    check_eq(d.stop(), 0, "sipxd's exit status")
    took = time.monotonic() - t0
    table = kam.location()
    check_eq(table, {}, "location table after sipxd stopped (%s)"
             % loc_summary(table))
    for n, _ in names:
        check(any("expires=0 " in l for l in kam.registers(n)),
              "%s: an Expires: 0 REGISTER: %r" % (n, kam.registers(n)))
    print("# sipxd stopped in %.2f s" % took)


def with_kamailio(fn):
    """fn(env, kam) with a Kamailio that is stopped by PID whatever
    happens; on success sipxd is stopped first, while its REGISTERs with
    Expires: 0 still find the registrar."""
    def run(env):
        kam = Kamailio(env)
        try:
            fn(env, kam)
            for d in env.daemons:
                if d.running():
                    d.stop()
        finally:
            kam.stop()
    return run


TESTS = [(name, with_kamailio(fn)) for name, fn in [
    ("registrar_alone", test_registrar_alone),
    ("three_accounts", test_three_accounts),
    ("wrong_password", test_wrong_password),
    ("refresh", test_refresh),
    ("registrar_restart", test_registrar_restart),
    ("reload", test_reload),
    ("sigterm", test_sigterm),
]]

if __name__ == "__main__":
    if not (KAMAILIO and KAMCMD):
        print("SKIP: kamailio or kamcmd not installed")
        sys.exit(T.EXIT_SKIP)
    sys.exit(run_tests(TESTS))
