#!/usr/bin/env python3
"""Calls through a real proxy (issue 10): Kamailio on loopback as
registrar and record-routing proxy with digest authentication
(tests/integration/kamailio/proxy.cfg: 401 to REGISTER, 407 to a new
INVITE), two daemons, alice's and bob's, registered to it with it as
their outbound proxy.  alice calls bob through it twice: the call
is confirmed on both sides, each side's route set holds Kamailio's
Record-Route, the in-dialog requests (ACK, BYE) go through Kamailio, and
the call is hung up by the caller the first time and by the callee the
second.  Kamailio logs one line per request it handles; that log tells
what went through it.  Everything is stopped by PID."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, run_tests,  # noqa: E402
                      wait_until, TestFailure)
from sipxcall import (CallEvents, call_detail, hangup,  # noqa: E402
                      history_of, media_conf, placed_ok)
import test_reg_kamailio as K  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_CFG = os.path.join(HERE, "kamailio", "proxy.cfg")


class Proxy(K.Kamailio):
    """test_reg_kamailio's Kamailio, running proxy.cfg."""

    def start(self, timeout=10):
        saved = K.CFG
        K.CFG = PROXY_CFG
        try:
            return super().start(timeout)
        finally:
            K.CFG = saved

    def requests(self, method, call_id=None):
        """Lines it logged for requests of method (and Call-ID)."""
        pat = re.compile(r"req %s \S+ from (\S+) ci=(\S+)" % method)
        out = []
        for l in self.log_text().splitlines():
            m = pat.search(l)
            if m and (call_id is None or m.group(2) == call_id):
                out.append(m.group(1))
        return out


def need_kamailio():
    if not K.KAMAILIO or not K.KAMCMD:
        raise TestFailure("kamailio or kamcmd not found: install the "
                          "Debian package kamailio")


def setup(env):
    need_kamailio()
    kam = Proxy(env).start()
    proxy = "sip:127.0.0.1:%d" % kam.port
    daemons = {}
    for name in ("alice", "bob"):
        a = account(name, register=True, registrar=proxy,
                    outbound_proxy=proxy, expires=60, incoming="answer",
                    password=K.password(name),
                    retry={"base": 1, "max": 4, "fatal": 30})
        d = env.daemon(name="sipxd-" + name, accounts=[a],
                       extra=media_conf())
        daemons[name] = (d, CallEvents(d))
    K.wait_location(kam, lambda t: "alice" in t and "bob" in t, 10,
                    "alice and bob registered")
    return kam, daemons


def call_through(kam, daemons):
    """alice calls bob through the proxy; returns (alice's id, bob's id,
    the SIP Call-ID)."""
    da, eva = daemons["alice"]
    db, evb = daemons["bob"]
    aid = placed_ok(da, "alice", "sip:bob@127.0.0.1")
    eva.state(aid, "confirmed", 5)
    f = evb.wait(lambda t, f: t == "call.state" and f.get("dir") == "in" and
                 f.get("state") == "confirmed", 5, "bob's call confirmed")
    bid = int(f["id"])
    ra = call_detail(da, aid)[0]
    rb = call_detail(db, bid)[0]
    rr = "127.0.0.1:%d" % kam.port
    for who, rec in (("alice", ra), ("bob", rb)):
        check_eq(rec.get("state"), "confirmed", "%s's call state" % who)
        check(rr in rec.get("route_set", ""),
              "%s's route_set %r lacks the proxy's Record-Route %s"
              % (who, rec.get("route_set"), rr))
    check_eq(ra.get("dialog_id", "x").split(";")[0].strip() != "", True,
             "alice's dialog id")
    # The SIP Call-ID is the same on both sides: it is in each dialog id.
    ci = [l for l in kam.log_text().splitlines() if "req INVITE" in l]
    check(ci, "kamailio logged no INVITE: %s" % kam.log_tail())
    call_id = re.search(r"ci=(\S+)", ci[-1]).group(1)
    check(call_id in ra.get("dialog_id", "") and
          call_id in rb.get("dialog_id", ""),
          "Call-ID %s not in the dialog ids %r / %r"
          % (call_id, ra.get("dialog_id"), rb.get("dialog_id")))
    check(wait_until(lambda: kam.requests("ACK", call_id), 3),
          "the ACK did not go through kamailio: %s" % kam.log_tail())
    # The proxy challenged the INVITE and took the credentials.
    log = kam.log_text()
    check("challenge INVITE from alice" in log and
          "authenticated INVITE from alice" in log,
          "no 407 round through kamailio: %s" % kam.log_tail())
    return aid, bid, call_id


def check_bye(kam, call_id, sender, daemons):
    d = daemons[sender][0]
    froms = wait_until(lambda: kam.requests("BYE", call_id), 5)
    check(froms, "no BYE through kamailio for %s: %s"
          % (call_id, kam.log_tail()))
    check_eq(froms[0], "127.0.0.1:%d" % d.port,
             "the BYE came to kamailio from %s's daemon" % sender)


def stop_daemons(daemons):
    """The daemons go first, while the proxy still answers their
    unregister."""
    for d, _ in daemons.values():
        d.stop()


def test_caller_hangs_up(env):
    kam, daemons = setup(env)
    aid, bid, call_id = call_through(kam, daemons)
    time.sleep(0.5)
    hangup(daemons["alice"][0], aid)
    daemons["alice"][1].first("call.ended", 5, id=aid, by="local")
    daemons["bob"][1].first("call.ended", 5, id=bid, by="remote")
    check_bye(kam, call_id, "alice", daemons)
    check_eq(history_of(daemons["bob"][0], bid).get("ended_by"), "remote",
             "bob's history ended_by")
    stop_daemons(daemons)


def test_callee_hangs_up(env):
    kam, daemons = setup(env)
    aid, bid, call_id = call_through(kam, daemons)
    time.sleep(0.5)
    hangup(daemons["bob"][0], bid)
    daemons["bob"][1].first("call.ended", 5, id=bid, by="local")
    daemons["alice"][1].first("call.ended", 5, id=aid, by="remote")
    check_bye(kam, call_id, "bob", daemons)
    check_eq(history_of(daemons["alice"][0], aid).get("ended_by"), "remote",
             "alice's history ended_by")
    stop_daemons(daemons)


TESTS = [
    ("caller_hangs_up", test_caller_hangs_up),
    ("callee_hangs_up", test_callee_hangs_up),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
