#!/usr/bin/env python3
"""The registration commands as an operator uses them
(doc/control-protocol.md, "Commands"; sipxctl(1)).

Usage errors and unknown accounts; the read-only socket shows accounts
but refuses register, unregister, enable and disable; `sipxctl account
NAME` for a disabled account, for one whose registrar is a closed local
port (it goes retry-wait and says why) and for one a small registrar in
this script accepts (its bindings and attempts); `sipxctl accounts` and
`status` counting them; disable, enable, unregister and register round
trips with the account.state events each one publishes."""
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, expect_ctl, table_rows,  # noqa: E402
                      free_port, run_tests, wait_until)

ACTIONS = ("register", "unregister", "enable", "disable")

# The first record of `account NAME`, in the daemon's order.
ACCOUNT_KEYS = ["name", "aor", "state", "registrar", "target", "transport",
                "call_id", "cseq", "expires", "granted", "asked",
                "refresh_in", "next_try", "code", "reason", "failures",
                "contact", "public_addr", "service_route", "path",
                "auth_realm", "auth_alg", "outbound", "register", "qualify",
                "rtt_ms", "qualify_peer", "qualify_target", "change",
                "mwi", "mwi_new", "mwi_old", "mwi_urgent_new",
                "mwi_urgent_old"]
ACCOUNTS_KEYS = ["name", "aor", "state", "target", "expires", "code",
                 "reason", "failures", "next_try", "register", "transport",
                 "registrar", "qualify", "rtt_ms", "change"]
# What `sipxctl accounts` shows a person; --json has every key.
ACCOUNTS_COLUMNS = ["NAME", "AOR", "STATE", "TARGET", "EXPIRES", "CODE",
                    "REASON", "FAILURES", "NEXT_TRY", "QUALIFY"]
ATTEMPT_COLUMNS = ["ATTEMPT", "TIME", "EXPIRES", "CODE", "REASON", "TARGET"]
REG_STATES = ["disabled", "unregistered", "registering", "registered",
              "retry-wait", "failed", "unregistering"]
REFUSED = "transport error: Connection refused"
KV_LINE = re.compile(r"^([a-z][a-z0-9_.-]*): +(.*)$")
CLOCK = re.compile(r"^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d$")


# ---- reading sipxctl's text output ------------------------------------------

def account_text(out):
    """`sipxctl account NAME`: (record, [(header, rows) per section]) —
    key: value lines, then tables after blank lines."""
    blocks = out.rstrip("\n").split("\n\n")
    rec, keys = {}, []
    for line in blocks[0].splitlines():
        m = KV_LINE.match(line)
        check(m is not None, "not a 'key: value' line: %r in %r"
              % (line, out))
        rec[m.group(1)] = m.group(2)
        keys.append(m.group(1))
    check_eq(keys, ACCOUNT_KEYS, "account keys (text)")
    return rec, [table_rows(b.splitlines()) for b in blocks[1:]]


def accounts_text(d):
    r = expect_ctl(d.ctl("accounts"), 0, "accounts")
    header, rows = table_rows(r.out.splitlines())
    check_eq(header, ACCOUNTS_COLUMNS, "accounts columns")
    return {row["NAME"]: row for row in rows}


def accounts_json(d, sock=None):
    j = expect_ctl(d.ctl("accounts", json=True, sock=sock), 0).json()
    for rec in j["data"]:
        check_eq(list(rec), ACCOUNTS_KEYS, "accounts --json keys")
    return {rec["name"]: rec for rec in j["data"]}


def account_json(d, name, sock=None):
    j = expect_ctl(d.ctl("account", name, json=True, sock=sock), 0).json()
    check_eq(j["status"], "OK", "account --json status")
    check_eq(list(j["data"][0]), ACCOUNT_KEYS, "account --json keys")
    return j["data"]


def state_of(d, name):
    return accounts_json(d)[name]["state"]


def wait_state(d, name, state, timeout=10):
    check(wait_until(lambda: state_of(d, name) == state, timeout, 0.05),
          "%s not %s within %d s: %r" % (name, state, timeout,
                                         accounts_json(d).get(name)))


def status_counts(d):
    rec = expect_ctl(d.ctl("status", json=True), 0).json()["data"][0]
    return {s: rec["reg_" + s.replace("-", "_")] for s in REG_STATES}, rec


def is_secs(v):
    return isinstance(v, int) and v >= 0


# ---- a registrar small enough to read ----------------------------------------

class Registrar:
    """Answers every REGISTER on a UDP port with 200 OK: Contact lists the
    request's contact with expires=granted, plus one binding of another
    device, as a registrar with two phones registered would.  An
    Expires: 0 request gets a 200 listing only the other device."""

    OTHER = "<sip:bob@192.0.2.7:5060>;expires=3000"

    def __init__(self, granted):
        self.granted = granted
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()

    @staticmethod
    def headers(msg):
        out = []
        for line in msg.split("\r\n")[1:]:
            if not line:
                break
            name, _, value = line.partition(":")
            out.append((name.strip().lower(), value.strip()))
        return out

    def run(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            msg = data.decode("utf-8", "replace")
            if not msg.startswith("REGISTER "):
                continue
            self.requests.append(msg)
            hs = self.headers(msg)
            get = lambda n: [v for k, v in hs if k == n]   # noqa: E731
            expires = get("expires")
            removing = expires and expires[0] == "0"
            lines = ["SIP/2.0 200 OK"]
            lines += ["Via: " + v for v in get("via") + get("v")]
            lines += ["From: " + v for v in get("from") + get("f")]
            to = (get("to") + get("t"))[0]
            lines.append("To: " + to + ("" if ";tag=" in to else
                                        ";tag=reg1"))
            lines += ["Call-ID: " + v for v in get("call-id") + get("i")]
            lines += ["CSeq: " + v for v in get("cseq")]
            if not removing:
                for c in get("contact") + get("m"):
                    uri = c[:c.index(">") + 1] if c.startswith("<") else \
                        "<%s>" % c.split(";")[0]
                    lines.append("Contact: %s;expires=%d"
                                 % (uri, self.granted))
            lines.append("Contact: " + self.OTHER)
            lines += ["Content-Length: 0", "", ""]
            self.sock.sendto("\r\n".join(lines).encode(), peer)


# ---- tests -------------------------------------------------------------------

def test_usage_errors(env):
    d = env.daemon(accounts=[account("alice", register=False)])
    for cmd in ACTIONS + ("account",):
        for args in ((), ("alice", "extra")):
            r = expect_ctl(d.ctl(cmd, *args), 1, cmd)
            check_eq(r.out, "", "%s stdout" % cmd)
            check_eq(r.err, "sipxctl: usage: %s NAME\n" % cmd,
                     "%s %r stderr" % (cmd, args))
    r = expect_ctl(d.ctl("accounts", "alice"), 1, "accounts alice")
    check_eq(r.err, "sipxctl: usage: accounts\n", "accounts with an arg")
    j = expect_ctl(d.ctl("register", json=True), 1).json()
    check_eq((j["status"], j["code"], j["message"], j["data"]),
             ("ERR", "usage", "register NAME", []), "register --json")
    # help lists them with their access.
    j = expect_ctl(d.ctl("help", json=True), 0).json()
    access = {rec["command"]: rec["access"] for rec in j["data"]}
    for cmd in ACTIONS:
        check_eq(access.get(cmd), "write", "help access of " + cmd)
    for cmd in ("accounts", "account"):
        check_eq(access.get(cmd), "read", "help access of " + cmd)


def test_unknown_account(env):
    d = env.daemon(accounts=[account("alice", register=False)])
    for cmd in ACTIONS + ("account",):
        r = expect_ctl(d.ctl(cmd, "nosuch"), 1, cmd)
        check_eq(r.out, "", "%s nosuch stdout" % cmd)
        check_eq(r.err, "sipxctl: not-found: no account 'nosuch'\n",
                 "%s nosuch stderr" % cmd)
        j = expect_ctl(d.ctl(cmd, "nosuch", json=True), 1).json()
        check_eq((j["code"], j["message"]),
                 ("not-found", "no account 'nosuch'"), cmd + " --json")
    # Names are case-sensitive, as in the config.
    expect_ctl(d.ctl("account", "Alice"), 1, "account Alice")


def test_readonly_refuses_actions(env):
    d = env.daemon(accounts=[account("alice", register=False)])
    for cmd in ACTIONS:
        for name in ("alice", "nosuch"):
            r = expect_ctl(d.ctl(cmd, name, sock=d.ro_sock), 1,
                           "%s on the read-only socket" % cmd)
            check(r.err.startswith("sipxctl: denied: '%s' needs the "
                                   "full-access socket" % cmd),
                  "%s %s read-only: %r" % (cmd, name, r.err))
    # Nothing changed, and the read-only socket still shows it all.
    check_eq(accounts_json(d, sock=d.ro_sock)["alice"]["state"], "disabled",
             "state after refused commands")
    data = account_json(d, "alice", sock=d.ro_sock)
    check_eq(data[0]["name"], "alice", "account on the read-only socket")


def test_account_disabled(env):
    d = env.daemon(accounts=[account("alice", register=False,
                                     registrar="sip:127.0.0.1:9")])
    r = expect_ctl(d.ctl("account", "alice"), 0, "account alice")
    rec, sections = account_text(r.out)
    check_eq(sections, [], "no bindings and no attempts: %r" % r.out)
    check_eq((rec["name"], rec["aor"], rec["state"], rec["registrar"],
              rec["transport"], rec["register"], rec["outbound"],
              rec["change"]),
             ("alice", "sip:alice@127.0.0.1", "disabled",
              "sip:127.0.0.1:9", "udp", "no", "no", "unchanged"),
             "disabled account")
    for k in ("target", "call_id", "expires", "granted", "refresh_in",
              "next_try", "code", "reason", "contact", "public_addr",
              "service_route", "path", "auth_realm", "auth_alg"):
        check_eq(rec[k], "-", "%s of a disabled account" % k)
    check_eq(rec["failures"], "0", "failures")
    data = account_json(d, "alice")
    check_eq(len(data), 1, "one record: %r" % data)
    check_eq((data[0]["state"], data[0]["expires"], data[0]["code"],
              data[0]["failures"]), ("disabled", "-", "-", 0),
             "--json disabled")
    row = accounts_text(d)["alice"]
    check_eq((row["STATE"], row["TARGET"], row["EXPIRES"], row["CODE"],
              row["REASON"], row["FAILURES"], row["NEXT_TRY"]),
             ("disabled", "-", "-", "-", "-", "0", "-"), "accounts row")
    # An account with register = false cannot be registered by hand.
    for cmd in ("register", "enable"):
        r = expect_ctl(d.ctl(cmd, "alice"), 1, cmd + " register=false")
        check(r.err.startswith("sipxctl: failed: ") and
              "register = false" in r.err, "%s: %r" % (cmd, r.err))


def retry_daemon(env, name="bob"):
    """A daemon with bob registering over TCP to a closed local port,
    and local with register = false; bob in retry-wait."""
    closed = free_port()
    d = env.daemon(tcp=True, accounts=[
        account("local", register=False),
        account(name, registrar="sip:127.0.0.1:%d;transport=tcp" % closed,
                register=True, transport="tcp", password="pass word",
                expires=300,
                retry={"base": 30, "max": 60, "fatal": 60})])
    wait_state(d, name, "retry-wait")
    return d, "TCP 127.0.0.1:%d" % closed


def test_account_retry_wait(env):
    d, target = retry_daemon(env)
    r = expect_ctl(d.ctl("account", "bob"), 0, "account bob")
    rec, sections = account_text(r.out)
    check_eq((rec["state"], rec["target"], rec["transport"], rec["code"],
              rec["reason"], rec["expires"], rec["register"]),
             ("retry-wait", target, "tcp", "-", REFUSED, "-", "yes"),
             "retry-wait account: %s" % r.out)
    check(int(rec["failures"]) >= 1, "failures %r" % rec["failures"])
    check(0 <= int(rec["next_try"]) <= 60, "next_try %r" % rec["next_try"])
    check(rec["call_id"] != "-" and int(rec["cseq"]) >= 1,
          "call_id/cseq %r %r" % (rec["call_id"], rec["cseq"]))
    check_eq(rec["asked"], "300", "asked")
    check(re.match(r"^<?sip:bob@127\.0\.0\.1:%d;transport=tcp\b"
                   % d.port, rec["contact"]), "contact %r" % rec["contact"])
    check("pass word" not in r.out, "the password is never shown")
    # The attempts table, newest first; no bindings without a 2xx.
    check_eq(len(sections), 1, "one section (attempts): %r" % r.out)
    header, rows = sections[0]
    check_eq(header, ATTEMPT_COLUMNS, "attempts header")
    check(1 <= len(rows) <= 4, "attempt rows %r" % rows)
    check_eq([row["ATTEMPT"] for row in rows],
             [str(i + 1) for i in range(len(rows))], "attempt numbers")
    for row in rows:
        check_eq((row["EXPIRES"], row["CODE"], row["REASON"],
                  row["TARGET"]), ("300", "-", REFUSED, target),
                 "attempt %r" % row)
        check(CLOCK.match(row["TIME"]), "attempt time %r" % row["TIME"])

    data = account_json(d, "bob")
    check_eq(data[0]["state"], "retry-wait", "--json state")
    check(is_secs(data[0]["next_try"]), "--json next_try %r" % data[0])
    att = [x for x in data[1:] if "attempt" in x]
    check_eq(len(att), len(data) - 1, "only attempts follow: %r" % data)
    now = time.time()
    for a in att:
        check_eq((a["expires"], a["code"], a["reason"], a["target"]),
                 (300, "-", REFUSED, target), "--json attempt %r" % a)
        check(now - 30 < float(a["time"]) <= now + 1, "time %r" % a)
    times = [float(a["time"]) for a in att]
    check_eq(times, sorted(times, reverse=True), "newest first")

    row = accounts_text(d)["bob"]
    check_eq((row["STATE"], row["TARGET"], row["EXPIRES"], row["CODE"],
              row["REASON"]), ("retry-wait", target, "-", "-", REFUSED),
             "accounts row %r" % row)
    check(int(row["FAILURES"]) >= 1 and int(row["NEXT_TRY"]) <= 60,
          "accounts row %r" % row)
    counts, rec = status_counts(d)
    check_eq(counts, {"disabled": 1, "unregistered": 0, "registering": 0,
                      "registered": 0, "retry-wait": 1, "failed": 0,
                      "unregistering": 0}, "status counts")
    check_eq(rec["registrations"], 0, "registrations")


def state_events(c, name, n, timeout=10):
    """The next n account.state events of name."""
    out = []
    for _ in range(n):
        out.append(c.wait_event("account.state", timeout,
                                lambda f: f.get("account") == name))
    return out


def events_until(c, name, state, timeout=10):
    """account.state events of name up to the first in state."""
    out = []
    while not out or out[-1]["state"] != state:
        out += state_events(c, name, 1, timeout)
        check(len(out) <= 4, "no %s after %r" % (state, out))
    return out


def subscribe(d, name):
    c = d.connect()
    r = c.request("events kind=account account=%s" % name)
    check_eq(r.status, "OK subscribed", "events")
    snap = c.wait_event("account.state")          # the snapshot
    c.wait_event("sync")
    return c, snap


def test_disable_enable_round_trip(env):
    d, target = retry_daemon(env)
    c, snap = subscribe(d, "bob")
    check_eq(snap["state"], "retry-wait", "snapshot")

    r = expect_ctl(d.ctl("disable", "bob"), 0, "disable bob")
    check_eq(r.out, "disabling bob\n", "disable says so")
    evs = events_until(c, "bob", "disabled")
    check_eq((evs[0]["prev"], evs[0]["aor"], evs[0]["cause"]),
             ("retry-wait", "sip:bob@127.0.0.1", "control"),
             "disable event %r" % evs)
    check_eq([e["state"] for e in evs[:-1]], ["unregistering"][:len(evs) - 1],
             "disable goes straight to disabled or through unregistering")
    check("retry_in" not in evs[-1], "a disabled account retries "
          "nothing: %r" % evs[-1])
    rec = account_json(d, "bob")[0]
    check_eq((rec["state"], rec["next_try"], rec["register"]),
             ("disabled", "-", "yes"), "disabled by control %r" % rec)
    counts, _ = status_counts(d)
    check_eq((counts["disabled"], counts["retry-wait"]), (2, 0),
             "status after disable")

    # Again: already done, still OK, no event.
    r = expect_ctl(d.ctl("disable", "bob"), 0, "disable bob again")
    check_eq(r.out, "nothing to do: bob is disabled\n", "disable again")
    c.request("status")          # a round trip: no event came before it
    check_eq([e for e in c.events if "account.state" in e], [],
             "no event for a disable that changed nothing")

    r = expect_ctl(d.ctl("enable", "bob"), 0, "enable bob")
    check_eq(r.out, "enabling bob\n", "enable says so")
    evs = state_events(c, "bob", 2)
    check_eq((evs[0]["state"], evs[0]["prev"]), ("registering", "disabled"),
             "enable %r" % evs[0])
    check(evs[0]["cause"] in ("control", "sending REGISTER"),
          "enable cause %r" % evs[0])
    check_eq((evs[1]["state"], evs[1]["prev"], evs[1]["target"]),
             ("retry-wait", "registering", target), "refused %r" % evs[1])
    check(REFUSED in evs[1]["cause"], "cause %r" % evs[1])
    check(0 <= int(evs[1]["retry_in"]) <= 60, "retry_in %r" % evs[1])
    check(int(evs[0]["seq"]) < int(evs[1]["seq"]), "seq rises")
    wait_state(d, "bob", "retry-wait")
    counts, _ = status_counts(d)
    check_eq((counts["disabled"], counts["retry-wait"]), (1, 1),
             "status after enable")

    # Enabling an enabled account is no error either.
    expect_ctl(d.ctl("enable", "bob"), 0, "enable bob again")

    # unregister: stays unregistered until register.
    r = expect_ctl(d.ctl("unregister", "bob"), 0, "unregister bob")
    check_eq(r.out, "unregistering bob\n", "unregister says so")
    evs = events_until(c, "bob", "unregistered")
    check_eq((evs[0]["prev"], evs[0]["cause"]), ("retry-wait", "control"),
             "unregister %r" % evs)
    time.sleep(0.3)
    check_eq(state_of(d, "bob"), "unregistered", "stays unregistered")
    expect_ctl(d.ctl("unregister", "bob"), 0, "unregister bob again")
    expect_ctl(d.ctl("register", "bob"), 0, "register bob")
    evs = state_events(c, "bob", 2)
    check_eq([e["state"] for e in evs], ["registering", "retry-wait"],
             "register again %r" % evs)
    # register in retry-wait: retry now, with one more failure counted.
    before = account_json(d, "bob")[0]
    expect_ctl(d.ctl("register", "bob"), 0, "register bob (retry now)")
    evs = state_events(c, "bob", 2)
    check_eq([e["state"] for e in evs], ["registering", "retry-wait"],
             "retry now %r" % evs)
    after = account_json(d, "bob")[0]
    check(after["failures"] > before["failures"] and
          after["cseq"] > before["cseq"] and
          after["call_id"] == before["call_id"],
          "retry now: %r -> %r" % (before, after))


def test_account_registered(env):
    reg = Registrar(granted=120)
    try:
        d = env.daemon(accounts=[
            account("carol", registrar="sip:127.0.0.1:%d" % reg.port,
                    register=True, expires=600)])
        wait_state(d, "carol", "registered")
        target = "UDP 127.0.0.1:%d" % reg.port
        r = expect_ctl(d.ctl("account", "carol"), 0, "account carol")
        rec, sections = account_text(r.out)
        check_eq((rec["state"], rec["target"], rec["code"], rec["reason"],
                  rec["granted"], rec["asked"], rec["failures"]),
                 ("registered", target, "200", "OK", "120", "600", "0"),
                 "registered: %s" % r.out)
        check(100 <= int(rec["expires"]) <= 120, "expires %r"
              % rec["expires"])
        check(60 <= int(rec["refresh_in"]) <= 115, "refresh_in %r"
              % rec["refresh_in"])
        check_eq(rec["next_try"], rec["refresh_in"], "next REGISTER is "
                 "the refresh")
        check_eq(len(sections), 2, "bindings and attempts: %r" % r.out)
        header, rows = sections[0]
        check_eq(header, ["BINDING"], "bindings header")
        check_eq(len(rows), 2, "two bindings: %r" % rows)
        check(rows[0]["BINDING"].startswith(
            "<sip:carol@127.0.0.1:%d>" % d.port) and
            "expires=120" in rows[0]["BINDING"], "ours %r" % rows)
        check_eq(rows[1]["BINDING"], Registrar.OTHER, "the other device")
        header, rows = sections[1]
        check_eq(header, ATTEMPT_COLUMNS, "attempts header")
        check_eq((rows[0]["ATTEMPT"], rows[0]["EXPIRES"], rows[0]["CODE"],
                  rows[0]["REASON"], rows[0]["TARGET"]),
                 ("1", "600", "200", "OK", target), "attempt 1")
        row = accounts_text(d)["carol"]
        check_eq((row["STATE"], row["CODE"], row["REASON"], row["TARGET"]),
                 ("registered", "200", "OK", target), "accounts row")
        check(100 <= int(row["EXPIRES"]) <= 120, "row %r" % row)
        counts, rec = status_counts(d)
        check_eq((counts["registered"], rec["registrations"]), (1, 1),
                 "status")

        # disable: Expires: 0 first, then disabled; nothing bound.
        c, _ = subscribe(d, "carol")
        n = len(reg.requests)
        expect_ctl(d.ctl("disable", "carol"), 0, "disable carol")
        evs = state_events(c, "carol", 2)
        check_eq([(e["state"], e["prev"]) for e in evs],
                 [("unregistering", "registered"),
                  ("disabled", "unregistering")], "disable %r" % evs)
        check(wait_until(lambda: len(reg.requests) > n, 5),
              "no REGISTER for the disable")
        check(re.search(r"(?im)^expires: *0\r?$", reg.requests[n]),
              "disable sent Expires: 0: %r" % reg.requests[n])
        data = account_json(d, "carol")
        check_eq((data[0]["state"], data[0]["expires"]), ("disabled", "-"),
                 "after disable %r" % data[0])
        check([x for x in data[1:] if "carol@" in x.get("binding", "")]
              == [], "no binding of ours after the unregister: %r" % data)
        att = [x for x in data[1:] if "attempt" in x]
        check_eq((att[0]["expires"], att[0]["code"], att[1]["expires"]),
                 (0, 200, 600), "newest attempt: the unregister %r" % att)
        expect_ctl(d.ctl("enable", "carol"), 0, "enable carol")
        evs = state_events(c, "carol", 2)
        check_eq([e["state"] for e in evs], ["registering", "registered"],
                 "enable %r" % evs)
        check_eq((evs[1]["code"], evs[1]["target"], evs[1]["cause"]),
                 ("200", target, "200 OK"), "registered event %r" % evs[1])
        check(100 <= int(evs[1]["expires"]) <= 120, "event expires %r"
              % evs[1])
    finally:
        reg.close()


TESTS = [
    ("usage_errors", test_usage_errors),
    ("unknown_account", test_unknown_account),
    ("readonly_refuses_actions", test_readonly_refuses_actions),
    ("account_disabled", test_account_disabled),
    ("account_retry_wait", test_account_retry_wait),
    ("disable_enable_round_trip", test_disable_enable_round_trip),
    ("account_registered", test_account_registered),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
