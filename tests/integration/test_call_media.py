#!/usr/bin/env python3
"""RTP that flows (issue 10): two daemons on loopback, alice's calling
bob's, with media both ways; `play` of a WAV made here to a callee in
`echo` (and to SIPp's RTP echo) comes back and the stats count it; DTMF
digits sent as RFC 4733 events arrive as call.dtmf events; a call with
no RTP either way raises call.media state=timeout; and the bundled
configuration calls itself with `sipxctl call local
sip:sipxd@127.0.0.1:PORT --wait`.  Everything is stopped by PID."""

import math
import os
import struct
import sys
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      run_tests, wait_until)
from sipxcall import (CallEvents, Sipp, call_detail, call_id_of,  # noqa
                      ctl_call, hangup, history_of, live_calls, media_conf,
                      num, placed_ok)


def pair(env, caller=None, callee=None, timeout=10):
    """Daemons A (account alice) and B (account bob, incoming answer);
    keys for each account.  Returns (A, A's events, B, B's events)."""
    a = env.daemon(name="sipxd-a",
                   accounts=[account("alice", **(caller or {}))],
                   extra=media_conf(timeout))
    b = env.daemon(name="sipxd-b",
                   accounts=[account("bob", incoming="answer",
                                     **(callee or {}))],
                   extra=media_conf(timeout))
    return a, CallEvents(a), b, CallEvents(b)


def call_b(a, eva, b, evb, *opts):
    """alice calls bob; returns (A's call id, B's call id)."""
    aid = placed_ok(a, "alice", "sip:bob@127.0.0.1:%d" % b.port, *opts)
    eva.state(aid, "confirmed", 5)
    f = evb.wait(lambda t, f: t == "call.state" and f.get("dir") == "in" and
                 f.get("state") == "confirmed", 5, "B's call confirmed")
    return aid, int(f["id"])


def stats(d, cid):
    return call_detail(d, cid)[0]


def flowing(d, cid, n=20):
    """Waits for n packets received on call cid; returns its record."""
    last = {}

    def ok():
        last.clear()
        last.update(stats(d, cid))
        return num(last, "packets_recv") >= n
    check(wait_until(ok, 5, 0.1), "call %d: packets_recv %s after 5 s "
          "(sent %s); want %d" % (cid, last.get("packets_recv"),
                                  last.get("packets_sent"), n))
    return dict(last)


def make_wav(path, seconds=1.0, rate=8000):
    """A 440 Hz tone, 8 kHz mono 16-bit PCM."""
    n = int(seconds * rate)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(
        2 * math.pi * 440 * i / rate))) for i in range(n))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_silence_both_ways(env):
    """media silence on both sides: packets both ways, nothing lost."""
    a, eva, b, evb = pair(env, {"media": "silence"}, {"media": "silence"})
    aid, bid = call_b(a, eva, b, evb)
    time.sleep(1.0)
    for d, cid, who in ((a, aid, "caller"), (b, bid, "callee")):
        rec = flowing(d, cid, 20)
        check(num(rec, "packets_sent") >= 20, "%s packets_sent %r"
              % (who, rec.get("packets_sent")))
        check_eq(num(rec, "lost"), 0, "%s lost" % who)
        check(rec.get("codec") in ("PCMU", "PCMA"), "%s codec %r"
              % (who, rec.get("codec")))
        check(rec.get("local_media") and rec.get("remote_media"),
              "%s media addresses %r / %r" % (who, rec.get("local_media"),
                                              rec.get("remote_media")))
    ra, rb = stats(a, aid), stats(b, bid)
    check_eq(ra.get("local_media"), rb.get("remote_media"),
             "A's local media is where B sends")
    check_eq(rb.get("local_media"), ra.get("remote_media"),
             "B's local media is where A sends")
    hangup(a, aid)
    evb.first("call.ended", 5, id=bid, by="remote")
    h = history_of(a, aid)
    check(num(h, "packets_recv") > 0 and num(h, "packets_sent") > 0,
          "history stats %r" % h)


def test_play_to_echo(env):
    """media=play FILE to a callee in echo: what A sends comes back."""
    wav = env.path("tone.wav")
    make_wav(wav)
    a, eva, b, evb = pair(env, {"media": "none"}, {"media": "echo"})
    aid, bid = call_b(a, eva, b, evb, "media=play", "file=" + wav)
    time.sleep(1.5)
    ra = flowing(a, aid, 30)
    rb = stats(b, bid)
    check_eq(ra.get("media"), "play", "A's media")
    check_eq(rb.get("media"), "echo", "B's media")
    sent, back = num(ra, "bytes_sent"), num(ra, "bytes_recv")
    check(sent > 0 and 0.8 * sent <= back <= sent,
          "A sent %d bytes, got %d back: want nearly all" % (sent, back))
    check(abs(num(rb, "packets_recv") - num(rb, "packets_sent")) <= 3,
          "B echoed %s of %s packets" % (rb.get("packets_sent"),
                                         rb.get("packets_recv")))
    check_eq(num(ra, "lost"), 0, "A lost")
    hangup(a, aid)
    end = eva.first("call.ended", 5, id=aid)
    check(int(end.get("bytes_recv", "0")) > 0, "call.ended %r" % end)


def test_play_to_sipp_echo(env):
    """media=play to SIPp's RTP echo: the stats count what returns."""
    wav = env.path("tone.wav")
    make_wav(wav)
    a = env.daemon(accounts=[account("alice")], extra=media_conf())
    ev = CallEvents(a)
    uas = Sipp(env, "call_uas_answer.xml", echo=True)
    cid = placed_ok(a, "alice", uas.uri, "media=play", "file=" + wav)
    time.sleep(1.5)
    rec = flowing(a, cid, 30)
    sent, back = num(rec, "bytes_sent"), num(rec, "bytes_recv")
    check(sent > 0 and 0.8 * sent <= back <= sent,
          "sent %d bytes, %d came back from SIPp's echo" % (sent, back))
    hangup(a, cid)
    uas.expect_success()


def test_dtmf(env):
    """`sipxctl dtmf ID 123#`: call.dtmf events 1, 2, 3, # on the other
    side, in order."""
    a, eva, b, evb = pair(env, {"media": "silence"}, {"media": "silence"})
    aid, bid = call_b(a, eva, b, evb)
    expect_ctl(a.ctl("dtmf", str(aid), "123#"), 0, "dtmf")
    digits = []

    def got():
        evb.pump(0)
        digits[:] = [f.get("digit") for t, f in evb.seen
                     if t == "call.dtmf" and f.get("id") == str(bid)]
        return len(digits) >= 4
    check(wait_until(got, 5, 0.1), "call.dtmf digits on B: %r; events: %s"
          % (digits, evb.tail()))
    check_eq(digits, ["1", "2", "3", "#"], "digits received")
    for t, f in evb.seen:
        if t == "call.dtmf":
            check(int(f.get("duration_ms", "0")) > 0, "duration %r" % f)
    check(wait_until(lambda: stats(a, aid).get("dtmf_sent") == "4", 3),
          "A dtmf_sent %r" % stats(a, aid).get("dtmf_sent"))
    check_eq(stats(b, bid).get("dtmf_recv"), "4", "B dtmf_recv")
    r = a.ctl("dtmf", str(aid), "12x")
    check(r.rc != 0, "dtmf with a bad digit: %r" % r)
    hangup(a, aid)


def test_media_timeout(env):
    """Neither side sends (media none): after media.timeout = 1 s the
    caller reports call.media state=timeout; the call stays up."""
    a, eva, b, evb = pair(env, {"media": "none"}, {"media": "none"},
                          timeout=1)
    aid, bid = call_b(a, eva, b, evb)
    f = eva.first("call.media", 4, id=aid, state="timeout")
    check(float(f.get("silent_s", "0")) >= 1, "silent_s %r" % f)
    rec = stats(a, aid)
    check_eq(rec.get("state"), "confirmed", "state after the timeout")
    check_eq(num(rec, "packets_recv"), 0, "packets_recv")
    check_eq(num(rec, "packets_sent"), 0, "packets_sent with media none")
    hangup(a, aid)


def bundled_config(d):
    """etc/sipxd.conf with the test's port and sockets."""
    with open(os.path.join(T.SRCDIR, "etc", "sipxd.conf")) as f:
        text = f.read()
    text = text.replace("127.0.0.1:5060", "127.0.0.1:%d" % d.port)
    text = text.replace('"/run/sipxd/control.sock"', T.conf_str(d.sock))
    text = text.replace('# readonly_path = "/run/sipxd/monitor.sock";',
                        "readonly_path = %s;" % T.conf_str(d.ro_sock))
    check(d.sock in text and "127.0.0.1:%d" % d.port in text,
          "etc/sipxd.conf no longer has the lines this test rewrites")
    return text


def test_self_call(env):
    """The README's tour: the bundled config calls itself, answered,
    media flowing both ways; hangup ends both legs."""
    d = env.daemon(start=False)
    d.write_config_text(bundled_config(d))
    d.start()
    ev = CallEvents(d)
    uri = "sip:sipxd@127.0.0.1:%d" % d.port
    res = ctl_call(d, "local", uri, wait=True)
    expect_ctl(res, 0, "sipxctl call local %s --wait" % uri)
    out = call_id_of(res)
    f = ev.wait(lambda t, f: t == "call.state" and f.get("dir") == "in" and
                f.get("state") == "confirmed", 5, "the incoming leg")
    inc = int(f["id"])
    check(out != inc, "one id for both legs")
    flowing(d, out, 20)
    flowing(d, inc, 20)
    rows = live_calls(d)
    check_eq(sorted(r.get("dir") for r in rows), ["in", "out"],
             "`calls` dirs: %r" % rows)
    hangup(d, out)
    ev.first("call.ended", 5, id=inc, by="remote")
    ev.first("call.ended", 5, id=out, by="local")
    with d.connect(readonly=True) as c:
        r = c.request("status")
        check_eq(r.records[0].get("calls"), "0", "status calls after hangup")


TESTS = [
    ("silence_both_ways", test_silence_both_ways),
    ("play_to_echo", test_play_to_echo),
    ("play_to_sipp_echo", test_play_to_sipp_echo),
    ("dtmf", test_dtmf),
    ("media_timeout", test_media_timeout),
    ("self_call", test_self_call),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
