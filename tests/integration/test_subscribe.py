#!/usr/bin/env python3
"""Subscriptions (issue 11, RFC 6665).  The daemon subscribes to a SIPp
notifier running sipp/sub_notifier_mwi.xml: the message summary of its
first NOTIFY shows as counts in `sipxctl account NAME`, the subscription
is refreshed before its 4 s run out (the scenario checks the refresh's
dialog and Expires), the second NOTIFY's counts replace the first, and
`sipxctl unsubscribe ID` ends it (Expires: 0, then the final NOTIFY).
SIPp watchers subscribe to an account's presence: 489 Bad Event by
default, 200 and a PIDF NOTIFY when the account accepts presence.
Kamailio's presence server (kamailio/presence.cfg: presence,
presence_xml, presence_mwi on db_text) serves presence and message
summaries that SIPp PUBLISHes: the daemon subscribes to both and sees
the NOTIFYs.

Each test checks both sides: the scenario's own checks (SIPp exits 0
only when every message came as it expects) and what the daemon said
(`subscribe --wait`, `subscriptions`, `account NAME`, subscription.*
events).  Every SIPp and sipxd is stopped by PID."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      free_port, run_tests, wait_until, TestFailure)
from sipxcall import Sipp  # noqa: E402
import test_reg_kamailio as K  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PRESENCE_CFG = os.path.join(HERE, "kamailio", "presence.cfg")
DBTEXT = "/usr/share/kamailio/dbtext/kamailio"


def start(env, name="alice", **keys):
    d = env.daemon(accounts=[account(name, **keys)])
    return d


def subs(d, readonly=True):
    """`subscriptions` on a raw connection: [record]."""
    c = d.connect(readonly=readonly)
    r = c.request("subscriptions")
    check(r.ok, "subscriptions: %r" % r)
    c.close()
    return r.records


def account_rec(d, name):
    c = d.connect(readonly=True)
    r = c.request("account %s" % name)
    check(r.ok and r.records, "account %s: %r" % (name, r))
    c.close()
    return r.records[0]


def test_mwi_refresh_unsubscribe(env):
    """MWI counts from a NOTIFY, a refresh before expiry, unsubscribe."""
    d = start(env)
    vm = Sipp(env, "sub_notifier_mwi.xml", echo=False, service="vm",
              timeout=30)
    ev = d.connect()
    r = ev.request("events kind=subscription")
    check(r.ok, "events: %r" % r)
    rec = account_rec(d, "alice")
    check_eq(rec.get("mwi"), "-", "mwi before any subscription")

    res = d.ctl("subscribe", "alice", vm.uri, "event=message-summary",
                "expires=4", "--wait", timeout=15)
    expect_ctl(res, 0, "sipxctl subscribe --wait")
    check("NOTIFY active" in res.out and
          "application/simple-message-summary" in res.out,
          "subscribe --wait said %r" % res.out)
    sid = int(res.out.split()[1].rstrip(":"))
    # RFC 3842: the summary as counts on the account.
    rec = account_rec(d, "alice")
    check_eq((rec.get("mwi"), rec.get("mwi_new"), rec.get("mwi_old"),
              rec.get("mwi_urgent_new")), ("yes", "2", "8", "1"),
             "account alice after the first NOTIFY")
    # The refresh (SIPp checks it) brings the second NOTIFY: 3 new.
    check(wait_until(lambda: account_rec(d, "alice").get("mwi_new") == "3",
                     8), "no second NOTIFY (3 new) after the refresh: %r"
          % account_rec(d, "alice"))
    rows = subs(d)
    check_eq(len(rows), 1, "subscriptions")
    row = rows[0]
    check_eq((row.get("id"), row.get("account"), row.get("dir"),
              row.get("event"), row.get("state"), row.get("notifies")),
             (str(sid), "alice", "out", "message-summary", "active", "2"),
             "the subscription")
    check(int(row.get("expires_in")) <= 60, "expires_in %r" % row)
    check(row.get("body") == "Messages-Waiting: yes\r\nVoice-Message: 3/8\r\n",
          "the last body %r" % row.get("body"))
    check_eq(row.get("content_type"), "application/simple-message-summary",
             "content type")
    # The table for people, and --json.
    res = expect_ctl(d.ctl("subscriptions"), 0, "sipxctl subscriptions")
    check("message-summary" in res.out and "active" in res.out,
          "table %r" % res.out)
    js = expect_ctl(d.ctl("subscriptions", json=True), 0, "--json").json()
    check("3/8" in str(js), "--json %r" % js)
    # The read-only socket shows, but does not subscribe.
    res = d.ctl("subscribe", "alice", vm.uri, "event=presence",
                sock=d.ro_sock)
    expect_ctl(res, 1, "subscribe on the read-only socket")

    res = d.ctl("unsubscribe", str(sid))
    expect_ctl(res, 0, "sipxctl unsubscribe")
    check(wait_until(lambda: subs(d) == [], 5),
          "still subscribed: %r" % subs(d))
    vm.expect_success(10)
    # The events: active, terminating, terminated (unsubscribed).
    seen = []
    while True:
        f = ev.wait_event("subscription.state", 5,
                          lambda f: f.get("id") == str(sid))
        seen.append(f.get("state"))
        if f.get("state") == "terminated":
            check_eq(f.get("reason"), "unsubscribed", "terminated reason")
            break
    check("active" in seen and "terminating" in seen,
          "states seen %r" % seen)
    res = d.ctl("unsubscribe", str(sid))
    expect_ctl(res, 1, "unsubscribe again")
    rec = account_rec(d, "alice")
    check_eq(rec.get("mwi"), "-", "mwi once the subscription is gone")


def test_subscribe_refused(env):
    """Bad arguments and a notifier that is not there."""
    d = start(env)
    for args, code in ((["nobody", "sip:x@127.0.0.1", "event=presence"], 1),
                       (["alice", "sip:x@127.0.0.1", "event=weather"], 1),
                       (["alice", "sip:x@127.0.0.1"], 1),
                       (["alice", "mailto:x@y", "event=presence"], 1),
                       (["alice", "sip:x@127.0.0.1", "event=presence",
                         "expires=0"], 1)):
        expect_ctl(d.ctl("subscribe", *args), code, "subscribe %s" % args)
    # Nothing listens there: the SUBSCRIBE times out (Timer F, 32*T1
    # with the tests' T1 of 50 ms) or the port is refused.
    vm_port = free_port()
    res = d.ctl("subscribe", "alice", "sip:vm@127.0.0.1:%d" % vm_port,
                "event=presence", "--wait", timeout=15)
    expect_ctl(res, 1, "subscribe to nothing --wait")
    check("failed" in res.err, "stderr %r" % res.err)
    check_eq(subs(d), [], "subscriptions after the failure")


def test_serve_489(env):
    """By default an account accepts no package: 489 Bad Event."""
    d = start(env)
    w = Sipp(env, "sub_watcher_489.xml", target="127.0.0.1:%d" % d.port,
             service="alice", echo=False, timeout=10)
    w.expect_success(10)
    check_eq(subs(d), [], "subscriptions")


def test_serve_presence(env):
    """accept_events = [ "presence" ]: 200, a PIDF NOTIFY (open: the
    account does not register), Expires: 0 and the final NOTIFY."""
    d = start(env, accept_events=["presence"])
    ev = d.connect()
    r = ev.request("events kind=subscription")
    check(r.ok, "events: %r" % r)
    w = Sipp(env, "sub_watcher_presence.xml",
             target="127.0.0.1:%d" % d.port, service="alice", echo=False,
             timeout=10)
    f = ev.wait_event("subscription.state", 5,
                      lambda f: f.get("state") == "active")
    check_eq((f.get("dir"), f.get("event")), ("in", "presence"),
             "the watcher's subscription")
    w.expect_success(10)
    ev.wait_event("subscription.state", 5,
                  lambda f: f.get("state") == "terminated")
    check(wait_until(lambda: subs(d) == [], 3), "watcher still listed")


class Presence(K.Kamailio):
    """test_reg_kamailio's Kamailio, running presence.cfg on db_text
    tables of its own: the config is written with the table directory
    in it (DBURL), a copy of the Debian package's empty tables."""

    def start(self, timeout=10):
        db = os.path.join(self.dir, "db")
        if not os.path.isdir(db):
            os.makedirs(db)
            for t in ("version", "presentity", "active_watchers",
                      "watchers", "xcap", "pua"):
                shutil.copy(os.path.join(DBTEXT, t), db)
        cfg = os.path.join(self.dir, "presence.cfg")
        with open(PRESENCE_CFG) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write('#!define DBURL "text://%s"\n' % db + text)
        saved = K.CFG
        K.CFG = cfg
        try:
            return super().start(timeout)
        finally:
            K.CFG = saved


def need_presence():
    if not K.KAMAILIO or not K.KAMCMD:
        raise TestFailure("kamailio or kamcmd not found: install the "
                          "Debian package kamailio")
    for mod in ("presence", "presence_xml", "presence_mwi", "db_text"):
        if not os.path.exists("/usr/lib/x86_64-linux-gnu/kamailio/modules/"
                              "%s.so" % mod):
            raise TestFailure("kamailio module %s missing: install "
                              "kamailio-presence-modules" % mod)
    if not os.path.isdir(DBTEXT):
        raise TestFailure("%s missing: the db_text tables come with the "
                          "Debian package kamailio" % DBTEXT)


def publish(env, kam, scen, user):
    p = Sipp(env, scen, target="127.0.0.1:%d" % kam.port, service=user,
             echo=False, timeout=10)
    p.expect_success(10)


def test_kamailio_presence_and_mwi(env):
    """sipxd subscribes to bob's presence and message summary at
    Kamailio; SIPp PUBLISHes both; the NOTIFYs reach sipxd."""
    need_presence()
    kam = Presence(env).start()
    d = start(env)
    ev = d.connect()
    check(ev.request("events kind=subscription").ok, "events")
    kuri = "sip:bob@127.0.0.1:%d" % kam.port
    res = d.ctl("subscribe", "alice", kuri, "event=presence", "--wait",
                timeout=15)
    expect_ctl(res, 0, "subscribe to presence at kamailio")
    pid = int(res.out.split()[1].rstrip(":"))
    res = d.ctl("subscribe", "alice", kuri, "event=message-summary",
                "--wait", timeout=15)
    expect_ctl(res, 0, "subscribe to message-summary at kamailio")
    mid = int(res.out.split()[1].rstrip(":"))

    publish(env, kam, "sub_publish_presence.xml", "bob")
    f = ev.wait_event("subscription.notify", 10,
                      lambda f: f.get("id") == str(pid) and
                      "<basic>open</basic>" in f.get("body", ""))
    check_eq(f.get("content_type"), "application/pidf+xml",
             "presence NOTIFY type")
    publish(env, kam, "sub_publish_mwi.xml", "bob")
    ev.wait_event("subscription.notify", 10,
                  lambda f: f.get("id") == str(mid) and
                  "5/1" in f.get("body", ""))
    rec = account_rec(d, "alice")
    check_eq((rec.get("mwi"), rec.get("mwi_new"), rec.get("mwi_old")),
             ("yes", "5", "1"), "account alice from Kamailio's NOTIFY")
    states = {r["id"]: r["state"] for r in subs(d)}
    check_eq(states, {str(pid): "active", str(mid): "active"},
             "both subscriptions")
    # Unsubscribing both: Kamailio sends the final NOTIFYs.
    for i in (pid, mid):
        expect_ctl(d.ctl("unsubscribe", str(i)), 0, "unsubscribe %d" % i)
    check(wait_until(lambda: subs(d) == [], 5),
          "still subscribed: %r" % subs(d))


TESTS = [
    ("mwi_refresh_unsubscribe", test_mwi_refresh_unsubscribe),
    ("subscribe_refused", test_subscribe_refused),
    ("serve_489", test_serve_489),
    ("serve_presence", test_serve_presence),
    ("kamailio_presence_and_mwi", test_kamailio_presence_and_mwi),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
