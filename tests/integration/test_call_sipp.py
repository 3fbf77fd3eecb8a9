#!/usr/bin/env python3
"""Calls against SIPp (issue 10).  The daemon calls a SIPp UAS running
one of tests/integration/sipp/call_uas_*.xml (answer, early media, 100rel
with PRACK, 486, no answer and CANCEL, 407, late offer, a BYE from the
far end, hold both ways, a session timer refresh, forked ringing), and
SIPp UACs (call_uac_*.xml) call the daemon's account under each incoming
policy.  A run with SIPp losing 10 % of the messages checks that calls
still complete.

Each test checks both sides: the scenario's own checks (SIPp exits 0 only
when every message came as it expects), and what the daemon said about
the call (`sipxctl call --wait`, call.* events, `call ID`, `calls
history`).  Every SIPp and sipxd is stopped by PID."""

import hashlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      run_tests, wait_until, TestFailure)
from sipxcall import (CallEvents, Sipp, call_detail, call_id_of,  # noqa
                      ctl_call, hangup, history, history_of, live_calls,
                      media_conf, num, place, placed_ok)
from test_reg_sipp import auth_params  # noqa: E402

PASSWORD = "secret"


def start(env, name="alice", **keys):
    """A daemon with one account NAME (aor sip:NAME@127.0.0.1, no
    registration) and a media port range of its own; returns it and a
    connection following its call events."""
    a = account(name, **keys)
    d = env.daemon(accounts=[a], extra=media_conf())
    return d, CallEvents(d)


def placed(d, ev, uas, *opts, name="alice"):
    """Calls uas (the `call` job on a control connection); checks that
    it is answered and returns the call id."""
    cid = placed_ok(d, name, uas.uri, *opts)
    ev.state(cid, "confirmed", 5)
    return cid


def check_confirmed_out(d, cid, uas):
    rec, local, remote, timeline = call_detail(d, cid)
    check_eq(rec.get("state"), "confirmed", "call %d state" % cid)
    check_eq(rec.get("dir"), "out", "call %d dir" % cid)
    check(uas.uri.split("@")[1] in rec.get("remote", "") or
          "service@" in rec.get("remote", ""),
          "call %d remote %r, want %s" % (cid, rec.get("remote"), uas.uri))
    check(rec.get("dialog_id"), "call %d: no dialog_id: %r" % (cid, rec))
    check("m=audio" in local and "m=audio" in remote,
          "call %d: local/remote SDP: %r / %r" % (cid, local, remote))
    check(rec.get("codec") in ("PCMU", "PCMA"),
          "call %d codec %r" % (cid, rec.get("codec")))
    check(timeline, "call %d: no timeline" % cid)
    return rec


def ended(ev, cid, by, timeout=10):
    """The call.ended event of cid; checks who ended it."""
    f = ev.first("call.ended", timeout, id=cid)
    check_eq(f.get("by"), by, "call %d ended by" % cid)
    return f


# ---- the daemon calls a SIPp UAS -------------------------------------------

def test_uas_answer(env):
    """INVITE with an offer, 180, 200 with an answer, ACK; media both ways
    (SIPp echoes); `sipxctl hangup` sends the BYE."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_answer.xml")
    res = ctl_call(d, "alice", uas.uri, wait=True)
    expect_ctl(res, 0, "sipxctl call alice %s --wait" % uas.uri)
    cid = call_id_of(res)
    ev.state(cid, "confirmed", 5)
    states = ev.states(cid)
    check(states[0] == "calling" and states[-1] == "confirmed" and
          ("ringing" in states or "early" in states),
          "call %d states %r: want calling ... ringing|early ... confirmed"
          % (cid, states))
    # Silence every 20 ms, echoed back by SIPp.
    time.sleep(1.2)
    rec = check_confirmed_out(d, cid, uas)
    check(num(rec, "packets_sent") >= 25 and num(rec, "packets_recv") >= 20,
          "call %d after 1.2 s: packets_sent=%s packets_recv=%s (want RTP "
          "both ways, SIPp echoes)" % (cid, rec.get("packets_sent"),
                                       rec.get("packets_recv")))
    check_eq(num(rec, "lost"), 0, "call %d lost" % cid)
    rows = live_calls(d)
    check(any(r.get("id") == str(cid) and r.get("state") == "confirmed"
              for r in rows), "`calls`: %r" % rows)
    out = expect_ctl(d.ctl("calls"), 0).out
    check(str(cid) in out and "confirmed" in out, "`sipxctl calls`: %r"
          % out)
    hangup(d, cid)
    uas.expect_success()
    end = ended(ev, cid, "local")
    check(int(end.get("packets_recv", "0")) > 0, "call.ended %r" % end)
    h = history_of(d, cid)
    check_eq(h.get("ended_by"), "local", "history ended_by")
    check(h.get("codec") in ("PCMU", "PCMA"), "history codec %r" % h)
    check(h.get("answer", "-") not in ("-", "0", ""), "history answer %r"
          % h)
    check_eq(live_calls(d), [], "calls left")


# What the contract promises each listing holds.
DETAIL_KEYS = ("id account dir state remote local_uri dialog_id "
               "remote_target route_set codec media hold start answer end "
               "duration status reason ended_by session_expires refresher "
               "local_media remote_media packets_sent packets_recv "
               "bytes_sent bytes_recv lost jitter_ms last_packet_age "
               "dtmf_sent dtmf_recv").split()
CALLS_KEYS = "id account dir state remote duration codec media hold".split()
HISTORY_KEYS = ("id account dir remote start answer end duration status "
                "reason ended_by codec packets_sent packets_recv lost "
                "jitter_ms").split()
ENDED_KEYS = ("account id dir status reason by duration packets_sent "
              "packets_recv bytes_sent bytes_recv lost jitter_ms").split()


def missing(rec, keys):
    return [k for k in keys if k not in rec]


def test_fields(env):
    """`call ID`, `calls`, `calls history` and call.ended carry every
    field the control protocol lists."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_answer.xml")
    cid = placed(d, ev, uas)
    rec, local, remote, timeline = call_detail(d, cid)
    check_eq(missing(rec, DETAIL_KEYS), [], "`call ID` lacks")
    check(local and remote and timeline, "`call ID` sdp/timeline records")
    check(all(re.match(r"^t=\+\d+\.\d{3} \S", t) for t in timeline),
          "timeline lines %r" % timeline)
    rows = live_calls(d)
    check_eq(missing(rows[0], CALLS_KEYS), [], "`calls` lacks")
    st = ev.first("call.state", 5, id=cid, state="confirmed")
    check_eq(missing(st, "account id dir state prev remote".split()), [],
             "call.state lacks")
    hangup(d, cid)
    uas.expect_success()
    check_eq(missing(ev.first("call.ended", 5, id=cid), ENDED_KEYS), [],
             "call.ended lacks")
    check_eq(missing(history_of(d, cid), HISTORY_KEYS), [],
             "`calls history` lacks")
    with d.connect(readonly=True) as c:
        r = c.request("call 424242")
    check_eq(r.code, "not-found", "call of no call: %r" % r)
    r = d.ctl("call", str(cid), json=True)
    check(r.rc == 0 and str(cid) in r.out, "sipxctl --json call: %r" % r)


def test_uas_answer_tcp(env):
    """The same call over TCP: account transport tcp, SIPp on TCP."""
    a = account("alice", transport="tcp")
    d = env.daemon(accounts=[a], extra=media_conf(), tcp=True)
    ev = CallEvents(d)
    uas = Sipp(env, "call_uas_answer.xml", transport="tcp")
    cid = placed(d, ev, uas)
    time.sleep(0.5)
    rec = call_detail(d, cid)[0]
    check(num(rec, "packets_recv") > 0, "no RTP back over the TCP call")
    hangup(d, cid)
    uas.expect_success()
    check(all("SIP/2.0/TCP" in m.one("Via") for m in uas.received()),
          "a request not over TCP; flow: %s" % uas.flow())


def test_uas_early_media(env):
    """183 with SDP: the call is early (with media) before the 200."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_early_media.xml")
    cid = placed(d, ev, uas)
    states = ev.states(cid)
    check("early" in states and states.index("early") <
          states.index("confirmed"),
          "call %d states %r: want early before confirmed" % (cid, states))
    check_confirmed_out(d, cid, uas)
    hangup(d, cid)
    uas.expect_success()
    ended(ev, cid, "local")


def test_uas_100rel(env):
    """183 requiring 100rel: PRACK with RAck, then the 200."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_100rel.xml")
    cid = placed(d, ev, uas)
    check_confirmed_out(d, cid, uas)
    hangup(d, cid)
    uas.expect_success()
    pracks = uas.received("PRACK")
    check_eq(len(pracks), 1, "PRACKs; flow: %s" % uas.flow())
    inv = uas.received("INVITE")[0]
    check_eq(pracks[0].one("RAck").split(), ["1", str(inv.cseq), "INVITE"],
             "RAck")
    check(pracks[0].cseq > inv.cseq, "PRACK CSeq %d after INVITE %d"
          % (pracks[0].cseq, inv.cseq))


def test_uas_486(env):
    """486: the call fails with status 486, said by --wait and events."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_486.xml")
    res = ctl_call(d, "alice", uas.uri, wait=True)
    expect_ctl(res, 1, "call to a busy UAS")
    check("486" in res.out + res.err, "--wait output names 486: %r" % res)
    uas.expect_success()
    f = ev.first("call.state", 5, state="terminated")
    cid = int(f["id"])
    check_eq(f.get("status"), "486", "terminated status")
    h = history_of(d, cid)
    check_eq(h.get("status"), "486", "history status")
    check_eq(h.get("reason"), "Busy Here", "history reason")
    check_eq(h.get("ended_by"), "remote", "history ended_by")
    check(h.get("answer") in ("-", "0", ""), "history answer %r of an "
          "unanswered call" % h.get("answer"))


def test_uas_486_job(env):
    """The raw `call` job: OK id=N at once, then call.result failed with
    status 486 and reason on the same connection."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_486.xml")
    c = d.connect()
    f = c.run_job("call alice %s" % uas.uri, timeout=10)
    check_eq(f.get("result"), "failed", "call.result result")
    check_eq(f.get("status"), "486", "call.result status")
    check_eq(f.get("reason"), "Busy Here", "call.result reason")
    check("486" in f.get("error", ""), "call.result error %r" % f)
    uas.expect_success()


def test_uas_no_answer_timeout(env):
    """180 and nothing more: timeout=2 cancels the call (CANCEL after the
    provisional, 487 ACKed)."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_noanswer.xml")
    t0 = time.monotonic()
    cid, res = place(d, "alice", uas.uri, "timeout=2")
    took = time.monotonic() - t0
    check_eq(res.get("result"), "failed", "call.result of an unanswered "
             "call with timeout=2")
    check(1.5 <= took <= 8, "call.result after %.1f s, want about 2"
          % took)
    uas.expect_success()
    h = history_of(d, cid)
    check(h.get("ended_by") in ("timeout", "local"),
          "history ended_by %r, want timeout" % h.get("ended_by"))
    check_eq(len(uas.received("CANCEL")), 1, "CANCELs; flow: %s"
             % uas.flow())


def test_uas_no_answer_hangup(env):
    """`sipxctl hangup` of a ringing call: CANCEL, 487, ACK."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_noanswer.xml")
    t0 = time.monotonic()
    res = expect_ctl(ctl_call(d, "alice", uas.uri), 0, "sipxctl call "
                     "without --wait")
    check(time.monotonic() - t0 < 3, "sipxctl call without --wait waited")
    cid = call_id_of(res)
    f = ev.wait(lambda t, f: t == "call.state" and f.get("id") == str(cid)
                and f.get("state") in ("ringing", "early"), 5,
                "call %d ringing" % cid)
    check_eq(f.get("dir"), "out", "dir")
    hangup(d, cid)
    uas.expect_success()
    ended(ev, cid, "local")
    check(history_of(d, cid).get("ended_by") == "local", "ended_by")


def check_invite_digest(inv, challenge_resp, user, password):
    """Recomputes the INVITE's Proxy-Authorization (RFC 7616, qop auth)."""
    _, ch = auth_params(challenge_resp.one("Proxy-Authenticate"))
    _, p = auth_params(inv.one("Proxy-Authorization"))
    check_eq(p.get("username"), user, "digest username")
    check_eq(p.get("realm"), ch["realm"], "digest realm")
    check_eq(p.get("nonce"), ch["nonce"], "digest nonce")
    check_eq(p.get("uri"), inv.ruri, "digest uri")
    check_eq(p.get("qop"), "auth", "digest qop")

    def h(s):
        return hashlib.md5(s.encode()).hexdigest()
    ha1 = h("%s:%s:%s" % (user, ch["realm"], password))
    ha2 = h("INVITE:%s" % p["uri"])
    want = h(":".join([ha1, p["nonce"], p["nc"], p["cnonce"], "auth", ha2]))
    check_eq(p.get("response", "").lower(), want, "digest response")


def test_uas_407(env):
    """407 to the INVITE: ACK, the INVITE again with Proxy-Authorization
    computed from the account's password; then answered."""
    d, ev = start(env, password=PASSWORD)
    uas = Sipp(env, "call_uas_407.xml")
    cid = placed(d, ev, uas)
    hangup(d, cid)
    uas.expect_success()
    invs = uas.received("INVITE")
    check_eq(len(invs), 2, "INVITEs; flow: %s" % uas.flow())
    check_eq(invs[0].call_id, invs[1].call_id, "Call-ID of the retry")
    check(invs[1].cseq > invs[0].cseq, "retry CSeq %d after %d"
          % (invs[1].cseq, invs[0].cseq))
    resp = [m for m in uas.messages() if m.dir == "out" and
            not m.is_request and m.code == 407][0]
    check_invite_digest(invs[1], resp, "alice", PASSWORD)


def test_uas_late_offer(env):
    """sdp=late: INVITE without a body, the offer in the 200, the answer
    in the ACK (the scenario checks both)."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_late_offer.xml")
    cid = placed(d, ev, uas, "sdp=late")
    check_confirmed_out(d, cid, uas)
    hangup(d, cid)
    uas.expect_success()
    ack = [m for m in uas.received("ACK")]
    check(ack and "m=audio" in ack[0].text, "ACK without SDP: %s"
          % (ack[0].text if ack else uas.flow()))


def test_uas_remote_bye(env):
    """The far end hangs up one second after the answer."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_remote_bye.xml")
    cid = placed(d, ev, uas)
    f = ev.state(cid, "terminated", 8)
    check_eq(f.get("by"), "remote", "terminated by")
    ended(ev, cid, "remote")
    uas.expect_success()
    h = history_of(d, cid)
    check_eq(h.get("ended_by"), "remote", "history ended_by")
    check(num(h, "duration") >= 0.8, "history duration %r" % h)


def test_uas_remote_hold(env):
    """The far end holds (re-INVITE sendonly, we answer recvonly) and
    resumes (sendrecv): call.hold events by=remote."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_remote_hold.xml")
    cid = placed(d, ev, uas)
    f = ev.first("call.hold", 5, id=cid, held="yes")
    check_eq(f.get("by"), "remote", "hold by")
    f = ev.first("call.hold", 5, id=cid, held="no")
    check_eq(f.get("by"), "remote", "unhold by")
    rec = call_detail(d, cid)[0]
    check_eq(rec.get("hold"), "no", "call %d hold after resume" % cid)
    hangup(d, cid)
    uas.expect_success()


def test_uas_local_hold(env):
    """`sipxctl hold`: re-INVITE sendonly; `sipxctl unhold`: sendrecv."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_local_hold.xml")
    cid = placed(d, ev, uas)
    expect_ctl(d.ctl("hold", str(cid)), 0, "hold")
    f = ev.first("call.hold", 5, id=cid, held="yes")
    check_eq(f.get("by"), "local", "hold by")
    rec = call_detail(d, cid)[0]
    check(rec.get("hold") not in ("no", "", None), "call %d hold %r"
          % (cid, rec.get("hold")))
    expect_ctl(d.ctl("unhold", str(cid)), 0, "unhold")
    f = ev.first("call.hold", 5, id=cid, held="no")
    check_eq(f.get("by"), "local", "unhold by")
    hangup(d, cid)
    uas.expect_success()
    check_eq(len(uas.received("INVITE")), 3, "INVITEs; flow: %s"
             % uas.flow())


def test_uas_session_timer(env):
    """Session-Expires: 90;refresher=uac in the 200: we refresh (re-INVITE
    or UPDATE) at about half of it (RFC 4028 §10), well before 90 s."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_session_timer.xml", timeout=90)
    cid = placed(d, ev, uas)
    rec = call_detail(d, cid)[0]
    check_eq(rec.get("session_expires"), "90", "session_expires")
    check_eq(rec.get("refresher"), "uac", "refresher")

    def refresh():
        return [m for m in uas.received() if
                (m.method == "UPDATE" or
                 (m.method == "INVITE" and m.cseq > 1 and
                  m.get("To") and "tag=" in m.one("To")))]
    got = wait_until(refresh, 60, 0.5)
    check(got, "no refresh within 60 s of the answer; flow: %s"
          % uas.flow())
    ack = [m for m in uas.messages() if m.dir == "in" and
           m.method == "ACK"][0]
    after = got[0].time - ack.time
    check(25 <= after <= 60, "refresh %.1f s after the ACK, want about 45"
          % after)
    check(got[0].get("Session-Expires"), "refresh without Session-Expires:"
          " %s" % got[0].text)
    time.sleep(0.3)
    check_eq(call_detail(d, cid)[0].get("state"), "confirmed", "state")
    hangup(d, cid)
    uas.expect_success()


def test_uas_forked(env):
    """Two 180s with different To tags, 200 from the second: the dialog,
    the ACK and the BYE are the second branch's."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_forked.xml")
    cid = placed(d, ev, uas)
    rec = check_confirmed_out(d, cid, uas)
    check(re.search(r"SIPpTag\d+b", rec.get("dialog_id", "")),
          "dialog_id %r is not the second branch's" % rec.get("dialog_id"))
    check("branch-b@" in rec.get("remote_target", ""),
          "remote_target %r" % rec.get("remote_target"))
    hangup(d, cid)
    uas.expect_success()


def test_uas_forked_2xx(env):
    """Two branches answer: the first 200 is the call; the second is
    ACKed and its dialog ended with a BYE (RFC 3261 §13.2.2.4)."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_forked_2xx.xml")
    cid = placed(d, ev, uas)

    def bye_a():
        return [m for m in uas.received("BYE")
                if re.search(r"SIPpTag\d+a", m.one("To"))]
    check(wait_until(bye_a, 5, 0.05), "no BYE to the second branch; flow: "
          "%s" % uas.flow())
    rec = call_detail(d, cid)[0]
    check_eq(rec.get("state"), "confirmed", "the call after the extra 2xx")
    check(re.search(r"SIPpTag\d+b", rec.get("dialog_id", "")),
          "dialog_id %r is not the first 200's" % rec.get("dialog_id"))
    check_eq(len([f for t, f in ev.of(cid, "call.state")
                  if f.get("state") == "confirmed"]), 1,
             "confirmed events of call %d" % cid)
    hangup(d, cid)
    uas.expect_success()


def test_uas_in_dialog(env):
    """UPDATE, OPTIONS and INFO inside the call get 200; a BYE naming no
    dialog gets 481 and the call stays; the real BYE ends it."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_in_dialog.xml")
    cid = placed(d, ev, uas)
    f = ev.state(cid, "terminated", 8)
    check_eq(f.get("by"), "remote", "terminated by")
    uas.expect_success()
    h = history_of(d, cid)
    check_eq(h.get("ended_by"), "remote", "history ended_by")
    bye = [m for m in uas.messages() if m.dir == "in" and
           not m.is_request and m.code == 481]
    check(bye, "no 481 for the stray BYE; flow: %s" % uas.flow())


def test_uas_2xx_retrans(env):
    """A 2xx that comes again after its ACK is ACKed again."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_2xx_retrans.xml")
    cid = placed(d, ev, uas)

    def acks():
        return [m for m in uas.messages() if m.dir == "in" and
                m.method == "ACK"]
    check(wait_until(lambda: len(acks()) >= 2, 5, 0.05),
          "one ACK for two 200s; flow: %s" % uas.flow())
    check_eq(call_detail(d, cid)[0].get("state"), "confirmed", "state")
    hangup(d, cid)
    uas.expect_success()


def test_uas_service_route(env):
    """The account registered and learned a Service-Route: its call goes
    to that hop (Route header, loose routing), whatever the domain of
    the Request-URI."""
    uas = Sipp(env, "call_uas_service_route.xml")
    sroute = "sip:orig-sipxtest@127.0.0.1:%d;lr" % uas.port
    reg = Sipp(env, "call_reg_service_route.xml", echo=False,
               extra=["-key", "sroute", sroute])
    a = account("alice", register=True, registrar="sip:127.0.0.1:%d"
                % reg.port, expires=600,
                retry={"base": 1, "max": 2, "fatal": 30})
    d = env.daemon(accounts=[a], extra=media_conf())
    ev = CallEvents(d)
    with d.connect() as c:
        check(wait_until(lambda: c.request("accounts").records[0].get(
            "state") == "registered", 5, 0.05), "alice not registered")
    cid = placed_ok(d, "alice", "sip:bob@sipxtest.invalid")
    ev.state(cid, "confirmed", 5)
    hangup(d, cid)
    uas.expect_success()
    d.stop()
    reg.expect_success()


def test_uas_302_follow(env):
    """follow_redirects = true: 302 with a Contact, a new INVITE there,
    answered by the second SIPp."""
    d, ev = start(env, follow_redirects=True)
    moved = Sipp(env, "call_uas_answer.xml")
    target = "sip:moved@127.0.0.1:%d" % moved.port
    uas = Sipp(env, "call_uas_302.xml", extra=["-key", "target", target])
    cid = placed(d, ev, uas)
    uas.expect_success()
    rec = call_detail(d, cid)[0]
    check(":%d" % moved.port in rec.get("remote_target", ""),
          "remote_target %r, want the 302's Contact's %s"
          % (rec.get("remote_target"), target))
    invs = moved.received("INVITE")
    check(invs and invs[0].ruri == target, "the new INVITE's Request-URI: "
          "%r, want %s" % (invs and invs[0].ruri, target))
    hangup(d, cid)
    moved.expect_success()


def test_uas_302_no_follow(env):
    """follow_redirects off (the default): the call fails with 302."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_302.xml",
               extra=["-key", "target", "sip:moved@127.0.0.1:9"])
    cid, res = place(d, "alice", uas.uri)
    check_eq((res.get("result"), res.get("status")), ("failed", "302"),
             "call.result")
    uas.expect_success()
    check_eq(history_of(d, cid).get("status"), "302", "history status")


def test_uas_lossy(env):
    """SIPp loses 10 % of the messages each way: five calls in a row are
    still answered and hung up (retransmissions do their work)."""
    d, ev = start(env)
    n = 5
    uas = Sipp(env, "call_uas_answer_lossy.xml", calls=n, timeout=60,
               extra=["-lost", "10"])
    for i in range(n):
        try:
            cid = placed(d, ev, uas)
            hangup(d, cid)
            ev.first("call.ended", 10, id=cid)
        except TestFailure as e:
            raise TestFailure("call %d of %d: %s; sipp said: %s; flow: %s"
                              % (i + 1, n, e, uas.errors_said(),
                                 uas.flow()[-1500:]))
    uas.expect_success(20)


def test_history_bounded(env):
    """calls.history = 2: three ended calls leave the two newest, newest
    first."""
    a = account("alice")
    d = env.daemon(accounts=[a], extra=media_conf() +
                   "\ncalls: { max = 100; history = 2; };")
    uas = Sipp(env, "call_uas_486.xml", calls=3)
    ids = []
    for i in range(3):
        cid, res = place(d, "alice", uas.uri)
        check_eq(res.get("status"), "486", "call %d status" % cid)
        ids.append(cid)
    uas.expect_success()
    hist = [h.get("id") for h in history(d)]
    check_eq(hist, [str(ids[2]), str(ids[1])], "history ids")
    with d.connect(readonly=True) as c:
        r = c.request("call %d" % ids[0])
    check(r.code == "not-found", "call %d after it left the history: %r"
          % (ids[0], r))


def test_max_calls(env):
    """calls.max = 1: with one call ringing, a second `call` is refused
    at once and an incoming INVITE gets 503."""
    a = account("alice", incoming="answer")
    d = env.daemon(accounts=[a], extra=media_conf() +
                   "\ncalls: { max = 1; history = 10; };")
    ev = CallEvents(d)
    uas = Sipp(env, "call_uas_noanswer.xml")
    cid, _ = place(d, "alice", uas.uri, wait=False)
    ev.wait(lambda t, f: t == "call.state" and f.get("id") == str(cid) and
            f.get("state") in ("ringing", "early"), 5, "call ringing")
    with d.connect() as c:
        r = c.request("call alice %s" % uas.uri)
    check(not r.ok and r.code == "failed", "a second call: %r" % r)
    uac = Sipp(env, "call_uac_503.xml", target="127.0.0.1:%d" % d.port,
               service="alice")
    uac.expect_success()
    hangup(d, cid)
    uas.expect_success()


# ---- SIPp calls the daemon ------------------------------------------------

def incoming(ev, timeout=10):
    """The first call.state of an incoming call."""
    return ev.wait(lambda t, f: t == "call.state" and f.get("dir") == "in",
                   timeout, "an incoming call")


def test_uac_answer(env):
    """incoming = answer: 200 with an SDP answer, ACK, then SIPp's BYE."""
    d, ev = start(env, "bob", incoming="answer")
    uac = Sipp(env, "call_uac_answer.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    cid = int(incoming(ev)["id"])
    ev.state(cid, "confirmed", 5)
    time.sleep(0.5)
    rec = call_detail(d, cid)[0]
    check_eq(rec.get("dir"), "in", "dir")
    check(num(rec, "packets_recv") > 0, "call %d: no RTP from SIPp's echo: "
          "%r" % (cid, rec))
    uac.expect_success()
    ended(ev, cid, "remote")
    h = history_of(d, cid)
    check_eq(h.get("dir"), "in", "history dir")
    check_eq(h.get("ended_by"), "remote", "history ended_by")


def test_uac_ring_answer(env):
    """incoming = ring: 180, the call rings until `sipxctl answer`."""
    d, ev = start(env, "bob", incoming="ring")
    uac = Sipp(env, "call_uac_ring.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    f = incoming(ev)
    cid = int(f["id"])
    ev.state(cid, "ringing", 5)
    time.sleep(0.3)
    check(uac.running(), "SIPp ended before the answer: %s" % uac.flow())
    rows = live_calls(d)
    check(any(r.get("id") == str(cid) and r.get("state") == "ringing" and
              r.get("dir") == "in" for r in rows), "`calls`: %r" % rows)
    with d.connect(readonly=True) as c:
        st = c.request("status").records[0]
    check_eq((st.get("calls"), st.get("calls_ringing")), ("1", "1"),
             "status calls, calls_ringing")
    # A new subscriber's snapshot holds the live call.
    late = CallEvents(d)
    snap = [f for t, f in late.seen if t == "call.state"]
    check(len(snap) == 1 and snap[0].get("id") == str(cid) and
          snap[0].get("state") == "ringing", "snapshot %s" % late.tail())
    expect_ctl(d.ctl("answer", str(cid)), 0, "answer")
    ev.state(cid, "confirmed", 5)
    r = d.ctl("answer", str(cid))
    check(r.rc != 0 and "ringing" in r.out + r.err,
          "answer of a confirmed call: %r" % r)
    uac.expect_success()
    ended(ev, cid, "remote")


def test_uac_ring_reject(env):
    """incoming = ring, then `sipxctl reject ID`: 486."""
    d, ev = start(env, "bob", incoming="ring")
    uac = Sipp(env, "call_uac_reject.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    cid = int(incoming(ev)["id"])
    ev.state(cid, "ringing", 5)
    r = d.ctl("answer", "99999")
    check(r.rc != 0, "answer of no call: %r" % r)
    expect_ctl(d.ctl("reject", str(cid)), 0, "reject")
    uac.expect_success()
    h = history_of(d, cid)
    check_eq(h.get("status"), "486", "history status")
    check_eq(h.get("ended_by"), "local", "history ended_by")


def test_uac_cancel(env):
    """incoming = ring; the caller gives up: CANCEL gets 200, the INVITE
    487, and the call ends by=remote."""
    d, ev = start(env, "bob", incoming="ring")
    uac = Sipp(env, "call_uac_cancel.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    cid = int(incoming(ev)["id"])
    uac.expect_success()
    ended(ev, cid, "remote")
    h = history_of(d, cid)
    check_eq(h.get("status"), "487", "history status")
    check_eq(h.get("ended_by"), "remote", "history ended_by")


def test_uac_no_ack(env):
    """A caller that never ACKs: the 2xx is retransmitted, then after
    64*T1 the call ends with our BYE (RFC 3261 §13.3.1.4)."""
    d, ev = start(env, "bob", incoming="answer")
    uac = Sipp(env, "call_uac_no_ack.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    cid = int(incoming(ev)["id"])
    uac.expect_success(15)
    f = ev.first("call.ended", 5, id=cid)
    check(f.get("by") in ("timeout", "error"), "call.ended by %r, want "
          "timeout" % f.get("by"))
    oks = [m for m in uac.messages() if m.dir == "in" and
           not m.is_request and m.code == 200]
    check(len(oks) >= 3, "the 200 was not retransmitted: %d copies; flow:"
          " %s" % (len(oks), uac.flow()))


def test_uac_reject_policy(env):
    """incoming = reject with reject_code = 603."""
    d, ev = start(env, "bob", incoming="reject", reject_code=603)
    uac = Sipp(env, "call_uac_reject_603.xml",
               target="127.0.0.1:%d" % d.port, service="bob")
    uac.expect_success()
    f = ev.first("call.ended", 5)
    check_eq(f.get("status"), "603", "call.ended status")


def test_uac_ring_timeout(env):
    """incoming = ring, ring_timeout = 1: 480 when nobody answers."""
    d, ev = start(env, "bob", incoming="ring", ring_timeout=1)
    t0 = time.monotonic()
    uac = Sipp(env, "call_uac_ring_timeout.xml",
               target="127.0.0.1:%d" % d.port, service="bob")
    uac.expect_success()
    check(time.monotonic() - t0 < 6, "480 came late")
    f = ev.first("call.ended", 5)
    check_eq(f.get("status"), "480", "call.ended status")
    check_eq(f.get("by"), "timeout", "call.ended by")


def test_uac_no_codec(env):
    """An offer of G.729 only: 488, and no call left."""
    d, ev = start(env, "bob", incoming="answer")
    uac = Sipp(env, "call_uac_nocodec.xml", target="127.0.0.1:%d" % d.port,
               service="bob")
    uac.expect_success()
    time.sleep(0.2)
    check_eq(live_calls(d), [], "calls after a 488")


# ---- blind transfer (RFC 3515) ---------------------------------------------

def test_transfer_out(env):
    """`sipxctl transfer ID URI`: REFER in the call's dialog, SIPp's 202
    and two sipfrag NOTIFYs (100, then 200 ending the subscription) come
    back as call.transfer events, and our leg ends with BYE."""
    d, ev = start(env)
    uas = Sipp(env, "call_uas_refer.xml")
    cid = placed(d, ev, uas)
    expect_ctl(d.ctl("transfer", "x", "sip:carol@127.0.0.1"), 1,
               "transfer with a bad id")
    expect_ctl(d.ctl("transfer", str(cid), "sip:carol@127.0.0.1:5999"), 0,
               "sipxctl transfer %d" % cid)
    f = ev.first("call.transfer", 5, id=cid, state="accepted")
    check_eq(f.get("dir"), "out", "transfer dir")
    check_eq(f.get("target"), "sip:carol@127.0.0.1:5999", "transfer target")
    ev.first("call.transfer", 5, id=cid, state="progress")
    f = ev.first("call.transfer", 5, id=cid, state="done")
    check_eq(f.get("status"), "200", "the transferee's final status")
    uas.expect_success()
    ended(ev, cid, "local")
    check_eq(history_of(d, cid).get("reason"), "transferred",
             "history reason")


def test_transfer_in(env):
    """refer = accept: SIPp's REFER gets 202; the daemon calls the
    Refer-To target (a second SIPp) with Referred-By, and NOTIFYs 100
    Trying then 200 OK back; the transferor's BYE leaves the new call up
    until `hangup`."""
    target = Sipp(env, "call_uas_target.xml", service="carol")
    d, ev = start(env, "bob", incoming="answer", refer="accept")
    uac = Sipp(env, "call_uac_refer.xml", target="127.0.0.1:%d" % d.port,
               service="bob", extra=["-set", "target", target.uri])
    cid = int(incoming(ev)["id"])
    f = ev.first("call.transfer", 10, id=cid, state="done")
    check_eq(f.get("dir"), "in", "transfer dir")
    check_eq(f.get("target"), target.uri, "transfer target")
    nid = int(f["new_id"])
    ev.state(nid, "confirmed", 5)
    uac.expect_success()
    ended(ev, cid, "remote")
    rows = live_calls(d)
    check([r.get("id") for r in rows] == [str(nid)],
          "live calls after the transfer: %r" % rows)
    hangup(d, nid)
    target.expect_success()


def test_transfer_in_refused(env):
    """refer = reject (the default): the REFER gets 603 and nothing is
    placed."""
    d, ev = start(env, "bob", incoming="answer")
    uac = Sipp(env, "call_uac_refer.xml", target="127.0.0.1:%d" % d.port,
               service="bob", extra=["-set", "target",
                                     "sip:carol@127.0.0.1:9"])
    cid = int(incoming(ev)["id"])
    ev.state(cid, "confirmed", 5)
    uac.expect_failure()
    check("> 603 2 REFER" in uac.flow(),
          "SIPp saw no 603 to its REFER: %s" % uac.flow())
    time.sleep(0.3)
    check(not [f for t, f in ev.seen
               if t == "call.state" and f.get("dir") == "out"],
          "a refused REFER placed a call: %s" % ev.tail())


TESTS = [
    ("uas_answer", test_uas_answer),
    ("fields", test_fields),
    ("uas_answer_tcp", test_uas_answer_tcp),
    ("uas_early_media", test_uas_early_media),
    ("uas_100rel", test_uas_100rel),
    ("uas_486", test_uas_486),
    ("uas_486_job", test_uas_486_job),
    ("uas_no_answer_timeout", test_uas_no_answer_timeout),
    ("uas_no_answer_hangup", test_uas_no_answer_hangup),
    ("uas_407", test_uas_407),
    ("uas_late_offer", test_uas_late_offer),
    ("uas_remote_bye", test_uas_remote_bye),
    ("uas_remote_hold", test_uas_remote_hold),
    ("uas_local_hold", test_uas_local_hold),
    ("uas_forked", test_uas_forked),
    ("uas_forked_2xx", test_uas_forked_2xx),
    ("uas_in_dialog", test_uas_in_dialog),
    ("uas_2xx_retrans", test_uas_2xx_retrans),
    ("uas_service_route", test_uas_service_route),
    ("uas_302_follow", test_uas_302_follow),
    ("uas_302_no_follow", test_uas_302_no_follow),
    ("uas_lossy", test_uas_lossy),
    ("history_bounded", test_history_bounded),
    ("max_calls", test_max_calls),
    ("uac_answer", test_uac_answer),
    ("uac_ring_answer", test_uac_ring_answer),
    ("uac_ring_reject", test_uac_ring_reject),
    ("uac_cancel", test_uac_cancel),
    ("uac_no_ack", test_uac_no_ack),
    ("uac_reject_policy", test_uac_reject_policy),
    ("uac_ring_timeout", test_uac_ring_timeout),
    ("uac_no_codec", test_uac_no_codec),
    ("transfer_out", test_transfer_out),
    ("transfer_in", test_transfer_in),
    ("transfer_in_refused", test_transfer_in_refused),
    ("uas_session_timer", test_uas_session_timer),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
