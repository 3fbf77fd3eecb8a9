#!/usr/bin/env python3
"""Subscriptions (issue 11, RFC 6665).  The daemon subscribes to a SIPp
notifier running sipp/sub_notifier_mwi.xml: the message summary of its
first NOTIFY shows as counts in `sipxctl account NAME`, the subscription
is refreshed before its 4 s run out (the scenario checks the refresh's
dialog and Expires), the second NOTIFY's counts replace the first, and
`sipxctl unsubscribe ID` ends it (Expires: 0, then the final NOTIFY).
SIPp watchers subscribe to an account's presence: 489 Bad Event by
default, 200 and a PIDF NOTIFY when the account accepts presence.

Each test checks both sides: the scenario's own checks (SIPp exits 0
only when every message came as it expects) and what the daemon said
(`subscribe --wait`, `subscriptions`, `account NAME`, subscription.*
events).  Every SIPp and sipxd is stopped by PID."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      free_port, run_tests, wait_until)
from sipxcall import Sipp  # noqa: E402


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


TESTS = [
    ("mwi_refresh_unsubscribe", test_mwi_refresh_unsubscribe),
    ("subscribe_refused", test_subscribe_refused),
    ("serve_489", test_serve_489),
    ("serve_presence", test_serve_presence),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
