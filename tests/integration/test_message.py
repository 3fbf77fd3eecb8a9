#!/usr/bin/env python3
"""MESSAGE (RFC 3428) and `request` (issue 11).

Against SIPp: a MESSAGE the daemon sends and SIPp's 200 (message_uas.xml,
which checks the body, Content-Type and From tag); a 407 answered with
the account's credentials (message_uas_407.xml; the digest is checked
here from SIPp's log); a MESSAGE from SIPp (message_uac.xml) published
as a message.received event and listed by `messages`, the read-only
socket seeing it but not clearing it; a MESSAGE to no account's user
part answered 404; `request` with a custom method FOO
(request_uas_foo.xml: an extra header and a body sent; a 182 and a 200
with headers and a body printed in order); the refusals (INVITE, a
header sipxd writes, a MESSAGE too large for UDP, the read-only socket)
and a connection that goes away mid-request (the request ends with it).

Through Kamailio (kamailio/message.cfg: registrar, 407 to every
MESSAGE): two daemons, alice and bob, registered with it as their
outbound proxy; alice messages bob and bob messages alice, each
challenged and authenticated, each received by the other.

Every SIPp, Kamailio and sipxd is stopped by PID."""

import hashlib
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      parse_event, quote, run_tests, table_rows,
                      wait_until, TestFailure)
from sipxcall import Sipp  # noqa: E402
from test_reg_sipp import auth_params  # noqa: E402
import test_reg_kamailio as K  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MESSAGE_CFG = os.path.join(HERE, "kamailio", "message.cfg")
PASSWORD = "secret"


def start(env, name="alice", **keys):
    a = account(name, password=PASSWORD, **keys)
    return env.daemon(accounts=[a])


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def check_digest(req, user, password, realm, nonce, method):
    """req (SIPp's log) carries a Proxy-Authorization that is the right
    answer (RFC 2617 §3.2.2, qop=auth) for user's password."""
    pa = req.get("Proxy-Authorization")
    check(len(pa) == 1 and not req.get("Authorization"),
          "want one Proxy-Authorization and no Authorization: %r"
          % req.headers)
    scheme, p = auth_params(pa[0])
    check_eq(scheme, "digest", "scheme")
    check_eq(p.get("username"), user, "username")
    check_eq(p.get("realm"), realm, "realm")
    check_eq(p.get("nonce"), nonce, "nonce")
    check_eq(p.get("qop"), "auth", "qop")
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, p.get("uri")))
    want = md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, p.get("nc"),
                                        p.get("cnonce"), ha2))
    check_eq(p.get("response"), want, "digest response")


class Job:
    """A `message` or `request` job on a raw connection: its progress
    lines (request.response) and its result."""

    def __init__(self, d, line):
        self.c = d.connect()
        r = self.c.request(line)
        check(r.ok and r.records and "id" in r.records[0],
              "%s: want OK id=N, got %r" % (line, r))
        self.id = r.records[0]["id"]
        self.responses = []
        self.result = None

    def finish(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.result is None:
            line = self.c.next_event(max(0.1, deadline - time.monotonic()))
            t, f = parse_event(line)
            if f.get("id") != self.id:
                continue
            if t == "request.response":
                self.responses.append(f)
            elif t.endswith(".result"):
                self.result = f
        return self


# ---- the daemon sends MESSAGE to SIPp ----------------------------------------

def test_message_to_sipp(env):
    d = start(env)
    uas = Sipp(env, "message_uas.xml")
    res = expect_ctl(d.ctl("message", "alice", uas.uri, "hello from sipxd"),
                     0, "sipxctl message")
    check_eq(res.out.strip(), "200 OK", "sipxctl message output")
    uas.expect_success()
    msgs = uas.received("MESSAGE")
    check_eq(len(msgs), 1, "MESSAGEs SIPp got")
    m = msgs[0]
    check("sip:alice@127.0.0.1" in m.one("From"), "From %r" % m.one("From"))
    check_eq(m.get("Contact"), [], "a MESSAGE carries no Contact")
    check_eq(m.one("CSeq").split()[1], "MESSAGE", "CSeq method")


def test_message_json_and_failure(env):
    """--json carries the result record; a 4xx answer exits 1."""
    d = start(env)
    uas = Sipp(env, "message_uas.xml")
    res = expect_ctl(d.ctl("message", "alice", uas.uri, "hello from sipxd",
                           json=True), 0, "sipxctl --json message")
    j = json.loads(res.out.splitlines()[-1])
    check_eq(j["status"], "OK", "json status")
    check_eq(str(j["data"][0]["status"]), "200", "json data status")
    uas.expect_success()
    # Nobody listens there now: SIPp is gone, the port answers nothing
    # (ICMP refusal or silence): a failure, exit 1, with a reason.
    res = expect_ctl(d.ctl("message", "alice", uas.uri, "anyone?",
                           "timeout=2"), 1, "message to a closed port")
    check("failed" in res.err, "stderr %r" % res.err)


def test_message_407(env):
    d = start(env)
    uas = Sipp(env, "message_uas_407.xml")
    job = Job(d, "message alice %s %s" % (uas.uri, quote("a secret note")))
    job.finish()
    check_eq(job.result.get("result"), "ok", "result %r" % job.result)
    check_eq(job.result.get("status"), "200", "final status")
    check_eq(job.result.get("challenged"), "yes", "challenged")
    check_eq([f["status"] for f in job.responses], ["407", "200"],
             "responses reported")
    check("Proxy-Authenticate: Digest" in job.responses[0]["headers"],
          "the 407's headers %r" % job.responses[0]["headers"])
    uas.expect_success()
    msgs = uas.received("MESSAGE")
    check_eq(len(msgs), 2, "MESSAGEs SIPp got")
    check_eq(msgs[0].call_id, msgs[1].call_id, "the same Call-ID")
    check(msgs[1].cseq > msgs[0].cseq, "CSeq %d then %d" %
          (msgs[0].cseq, msgs[1].cseq))
    check_digest(msgs[1], "alice", PASSWORD, "msgtest", "mnonce4b1c77e0",
                 "MESSAGE")


# ---- SIPp sends MESSAGE to the daemon ----------------------------------------

def test_message_from_sipp(env):
    d = start(env, inbox=5)
    ev = d.connect()
    check(ev.request("events kind=message").ok, "events")
    ev.wait_event("sync", 5)
    uac = Sipp(env, "message_uac.xml", target="127.0.0.1:%d" % d.port,
               service="alice")
    uac.expect_success()
    f = ev.wait_event("message.received", 5)
    check_eq(f.get("account"), "alice", "event account")
    check(f.get("from", "").startswith("sip:sipp@127.0.0.1"),
          "from %r" % f.get("from"))
    check(f.get("to", "").startswith("sip:alice@127.0.0.1"),
          "to %r" % f.get("to"))
    check_eq(f.get("content_type"), "text/plain;charset=UTF-8",
             "content_type")
    body = f.get("body", "")
    check('hi "alice" \\o/' in body and "second line" in body,
          "body %r" % body)
    check("encoding" not in f, "a text body has no encoding=: %r" % f)
    mid = f.get("id")
    # The inbox, for people and for programs.
    res = expect_ctl(d.ctl("messages", "alice"), 0, "messages alice")
    hdr, rows = table_rows(res.out.splitlines()[:2])
    check_eq(rows[0]["ID"], mid, "inbox id")
    check("sip:sipp@" in rows[0]["FROM"], "inbox from %r" % rows[0])
    j = expect_ctl(d.ctl("messages", "alice", json=True), 0,
                   "messages --json").json()
    check_eq(len(j["data"]), 1, "inbox size")
    check_eq(j["data"][0]["body"], body, "inbox body")
    check_eq(str(j["data"][0]["id"]), mid, "inbox id")
    # What people wrote is not for monitoring agents: the read-only
    # socket neither lists the inbox nor follows message events.
    for args in (("messages", "alice"), ("messages", "alice", "clear")):
        res = expect_ctl(d.ctl(*args, sock=d.ro_sock), 1,
                         "%s on the read-only socket" % " ".join(args))
        check("denied" in res.err, "stderr %r" % res.err)
    ro = d.connect(readonly=True)
    check(not ro.request("events kind=message").ok,
          "events kind=message on the read-only socket")
    res = expect_ctl(d.ctl("messages", "alice", "clear"), 0, "clear")
    check_eq(res.out.strip(), "1 message removed", "clear output")
    j = expect_ctl(d.ctl("messages", "alice", json=True), 0, "").json()
    check_eq(j["data"], [], "inbox after clear")
    res = expect_ctl(d.ctl("messages", "nobody"), 1, "messages nobody")
    check("not-found" in res.err, "stderr %r" % res.err)
    # To no account's user part: 404 (SIPp checks it).
    uac = Sipp(env, "message_uac_404.xml", target="127.0.0.1:%d" % d.port,
               service="nobody")
    uac.expect_success()
    st = expect_ctl(d.ctl("status", json=True), 0, "status").json()
    check_eq(str(st["data"][0]["messages_received"]), "1", "received")
    check_eq(str(st["data"][0]["messages_refused"]), "1", "refused")


def test_inbox_bound(env):
    """inbox = 2: a third MESSAGE pushes out the first."""
    d = start(env, inbox=2)
    uac = Sipp(env, "message_uac.xml", target="127.0.0.1:%d" % d.port,
               service="alice", calls=3)
    uac.expect_success(15)
    j = expect_ctl(d.ctl("messages", "alice", json=True), 0, "").json()
    check_eq(len(j["data"]), 2, "inbox kept")
    st = expect_ctl(d.ctl("status", json=True), 0, "status").json()
    check_eq(str(st["data"][0]["messages_dropped"]), "1", "dropped")
    ids = [int(r["id"]) for r in j["data"]]
    check(ids == sorted(ids), "oldest first: %r" % ids)


# ---- request ---------------------------------------------------------------------

def test_request_custom_method(env):
    d = start(env)
    uas = Sipp(env, "request_uas_foo.xml")
    res = expect_ctl(d.ctl("request", "alice", "FOO", uas.uri,
                           "header=X-Test: 42", "body=ping",
                           "type=application/x-test"), 0, "request FOO")
    out = res.out
    i182, i200 = out.find("SIP/2.0 182 Queued"), out.find("SIP/2.0 200 OK")
    check(0 <= i182 < i200, "182 then 200 in %r" % out)
    check("X-Sipp: provisional" in out[i182:i200], "182's header: %r" % out)
    check("X-Sipp: final" in out[i200:], "200's header: %r" % out)
    check("pong from sipp" in out[i200:], "200's body: %r" % out)
    check("Content-Type: text/plain" in out[i200:], "200's type: %r" % out)
    uas.expect_success()
    foo = uas.received("FOO")
    check_eq(len(foo), 1, "FOOs SIPp got")
    check_eq(foo[0].one("X-Test"), "42", "X-Test")


def test_request_json(env):
    """--json: one line per response, then the result record."""
    d = start(env)
    uas = Sipp(env, "request_uas_foo.xml")
    res = expect_ctl(d.ctl("request", "alice", "FOO", uas.uri,
                           "header=X-Test: 42", "body=ping",
                           "type=application/x-test", json=True), 0,
                     "request --json")
    lines = [json.loads(l) for l in res.out.splitlines()]
    progress = lines[:-1]
    check(all(l.get("type") == "request.response" for l in progress),
          "progress lines %r" % progress)
    # SIPp answers our retransmissions with its 182 again (T1 50 ms,
    # it waits 200 ms): every copy is reported, the 200 last.
    statuses = [str(l.get("status")) for l in progress]
    check(len(statuses) >= 2 and set(statuses[:-1]) == {"182"} and
          statuses[-1] == "200", "statuses %r" % statuses)
    check("pong from sipp" in progress[-1]["body"], "body %r"
          % progress[-1])
    check_eq(lines[-1]["status"], "OK", "result")
    check_eq(str(lines[-1]["data"][0]["responses"]), str(len(statuses)),
             "responses")
    uas.expect_success()


def test_request_refusals(env):
    d = start(env)
    cases = [
        (("request", "alice", "INVITE", "sip:x@127.0.0.1"), "call"),
        (("request", "alice", "ACK", "sip:x@127.0.0.1"), "ACK"),
        (("request", "alice", "BYE", "sip:x@127.0.0.1"), "dialog"),
        (("request", "alice", "F(O)O", "sip:x@127.0.0.1"), "token"),
        (("request", "alice", "FOO", "sip:x@127.0.0.1", "header=Via: x"),
         "writes itself"),
        (("request", "alice", "FOO", "sip:x@127.0.0.1", "header=Bad"),
         "Name: value"),
        (("request", "alice", "FOO", "sip:x@127.0.0.1", "type=text/plain"),
         "body"),
        (("request", "alice", "FOO", "http://x"), "sip:"),
        (("request", "nobody", "FOO", "sip:x@127.0.0.1"), "no account"),
        (("message", "alice", "sip:x@127.0.0.1", ""), "empty"),
        (("message", "alice", "sip:x@127.0.0.1", "hi", "type=bad"),
         "media type"),
    ]
    for args, want in cases:
        res = expect_ctl(d.ctl(*args), 1, " ".join(args))
        check(want in res.err, "%s: stderr %r lacks %r"
              % (" ".join(args), res.err, want))
    # The read-only socket sends nothing.
    res = expect_ctl(d.ctl("request", "alice", "FOO", "sip:x@127.0.0.1",
                           sock=d.ro_sock), 1, "request on the ro socket")
    check("denied" in res.err, "stderr %r" % res.err)
    # RFC 3428 §8: over UDP a MESSAGE stays within 1300 bytes.
    port = K.free_port()
    res = expect_ctl(d.ctl("message", "alice", "sip:x@127.0.0.1:%d" % port,
                           "x" * 1400), 1, "a large MESSAGE over UDP")
    check("1300" in res.err and "RFC 3428" in res.err, "stderr %r"
          % res.err)


def test_connection_gone(env):
    """A job whose connection closes ends its request: nothing is left
    in flight."""
    d = start(env)
    port = K.free_port()
    c = d.connect()
    r = c.request("request alice FOO sip:x@127.0.0.1:%d timeout=30" % port)
    check(r.ok, "request: %r" % r)
    st = expect_ctl(d.ctl("status", json=True), 0, "").json()
    check_eq(str(st["data"][0]["requests"]), "1", "requests in flight")
    c.close()

    def none_left():
        st = expect_ctl(d.ctl("status", json=True), 0, "").json()
        return str(st["data"][0]["requests"]) == "0"
    check(wait_until(none_left, 5), "the request outlived its connection")


# ---- through Kamailio --------------------------------------------------------

class MsgProxy(K.Kamailio):
    """test_reg_kamailio's Kamailio, running message.cfg."""

    def start(self, timeout=10):
        saved = K.CFG
        K.CFG = MESSAGE_CFG
        try:
            return super().start(timeout)
        finally:
            K.CFG = saved


def test_kamailio_both_ways(env):
    if not K.KAMAILIO or not K.KAMCMD:
        raise TestFailure("kamailio or kamcmd not found: install the "
                          "Debian package kamailio")
    kam = MsgProxy(env).start()
    proxy = "sip:127.0.0.1:%d" % kam.port
    daemons = {}
    for name in ("alice", "bob"):
        a = account(name, register=True, registrar=proxy,
                    outbound_proxy=proxy, expires=60,
                    password=K.password(name),
                    retry={"base": 1, "max": 4, "fatal": 30})
        d = env.daemon(name="sipxd-" + name, accounts=[a])
        ev = d.connect()
        check(ev.request("events kind=message").ok, "events")
        ev.wait_event("sync", 5)
        daemons[name] = (d, ev)
    K.wait_location(kam, lambda t: "alice" in t and "bob" in t, 10,
                    "alice and bob registered")
    for sender, receiver in (("alice", "bob"), ("bob", "alice")):
        ds, _ = daemons[sender]
        dr, evr = daemons[receiver]
        text = "hello %s, from %s" % (receiver, sender)
        res = expect_ctl(ds.ctl("message", sender, "sip:%s@127.0.0.1"
                                % receiver, text), 0,
                         "%s messages %s" % (sender, receiver))
        check_eq(res.out.strip(), "200 OK", "output")
        f = evr.wait_event("message.received", 5)
        check_eq(f.get("account"), receiver, "receiving account")
        check_eq(f.get("body"), text, "body")
        check(f.get("from", "").startswith("sip:%s@" % sender),
              "from %r" % f.get("from"))
        j = expect_ctl(dr.ctl("messages", receiver, json=True), 0,
                       "").json()
        check_eq([r["body"] for r in j["data"]], [text], "inbox")
        log = kam.log_text()
        check("challenge MESSAGE from %s" % sender in log and
              "authenticated MESSAGE from %s to %s" % (sender, receiver)
              in log, "no 407 round through kamailio: %s" % kam.log_tail())
    check_eq(len(re.findall(r"reply 200 to MESSAGE", kam.log_text())), 2,
             "200s relayed by kamailio")
    for d, _ in daemons.values():
        d.stop()


TESTS = [
    ("message_to_sipp", test_message_to_sipp),
    ("message_json_and_failure", test_message_json_and_failure),
    ("message_407", test_message_407),
    ("message_from_sipp", test_message_from_sipp),
    ("inbox_bound", test_inbox_bound),
    ("request_custom_method", test_request_custom_method),
    ("request_json", test_request_json),
    ("request_refusals", test_request_refusals),
    ("connection_gone", test_connection_gone),
    ("kamailio_both_ways", test_kamailio_both_ways),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
