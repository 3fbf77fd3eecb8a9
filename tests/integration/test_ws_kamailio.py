#!/usr/bin/env python3
"""SIP over WebSocket (RFC 7118) against a real server (issue 11):
Kamailio on loopback with its xhttp and websocket modules
(tests/integration/kamailio/ws.cfg) listening for SIP on UDP, for
WebSocket on a TCP port (ws) and on a TLS port (wss, a certificate made
by the test for 127.0.0.1).

- ws: alice's daemon registers over ws with digest auth; Kamailio saw
  the HTTP upgrade asking for the "sip" subprotocol and a REGISTER over
  ws whose Contact says transport=ws.  alice calls bob (a second daemon,
  over UDP, registered at the same Kamailio, answering) through it and
  bob hangs up, so that Kamailio's in-dialog BYE reaches alice over her
  WebSocket; then bob calls alice, Kamailio finds her binding and
  reaches her over the same connection, and alice hangs up.  sipxctl
  shows the account's transport and a live connection.
- wss: the same REGISTER over the TLS WebSocket port, the certificate
  verified against the test CA; a daemon that trusts another CA fails
  (TLS verification) and never reaches the registrar.

Everything is stopped by PID."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (account, check, check_eq, conf_str,  # noqa: E402
                      expect_ctl, free_port, run_tests, wait_until,
                      TestFailure)
from sipxcall import (CallEvents, hangup, history_of,  # noqa: E402
                      media_conf, placed_ok)
import test_reg_kamailio as K  # noqa: E402
import test_sip_tls_dns as TLS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WS_CFG = os.path.join(HERE, "kamailio", "ws.cfg")
RETRY = {"base": 1, "max": 4, "fatal": 30}


class WsKamailio(K.Kamailio):
    """test_reg_kamailio's Kamailio running ws.cfg, with a WebSocket
    port (.ws, TCP) and a secure one (.wss, TLS) beside its UDP/TCP
    SIP port (.port)."""

    def __init__(self, env, certs):
        super().__init__(env)
        self.certs = certs
        self.ws = free_port()
        self.wss = free_port()
        while len({self.port, self.ws, self.wss}) < 3:
            self.wss = free_port()

    def start(self, timeout=10):
        self.runs += 1
        log = os.path.join(self.dir, "kamailio-%d.log" % self.runs)
        self.logs.append(log)
        tls_cfg = os.path.join(self.dir, "tls.cfg")
        with open(tls_cfg, "w") as f:
            f.write("[server:default]\n"
                    "method = TLSv1.2+\n"
                    "verify_certificate = no\n"
                    "require_certificate = no\n"
                    "private_key = %(key)s\n"
                    "certificate = %(cert)s\n" % self.certs)
        argv = [K.KAMAILIO, "-f", WS_CFG, "-DD", "-E", "-Y", self.dir,
                "-P", os.path.join(self.dir, "kamailio.pid"),
                "-m", "32", "-M", "4",
                "-l", "udp:127.0.0.1:%d" % self.port,
                "-l", "tcp:127.0.0.1:%d" % self.port,
                "-l", "tcp:127.0.0.1:%d" % self.ws,
                "-l", "tls:127.0.0.1:%d" % self.wss,
                "-A", 'CTL_SOCK="%s"' % self.ctl,
                "-A", 'TLS_CFG="%s"' % tls_cfg]
        with open(log, "wb") as out:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          cwd=self.dir, start_new_session=True)
        self.pid = self.popen.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise TestFailure("kamailio exited with %d at start-up: %s"
                                  % (self.popen.returncode, self.log_tail()))
            if self.ping() and self.rpc("core.uptime")[0] == 0:
                return self
            time.sleep(0.05)
        raise TestFailure("kamailio not answering within %.0f s: %s"
                          % (timeout, self.log_tail()))

    def lines(self, pattern):
        pat = re.compile(pattern)
        return [l for l in self.log_text().splitlines() if pat.search(l)]


def need():
    if not K.KAMAILIO or not K.KAMCMD:
        raise TestFailure("kamailio or kamcmd not found: install the "
                          "Debian package kamailio")
    TLS.need_kamailio()
    for mod in ("websocket.so", "xhttp.so", "nathelper.so"):
        if not os.path.exists(os.path.join(TLS.KAMAILIO_MODULES, mod)):
            raise TestFailure("Kamailio's %s not found in %s: install the "
                              "Debian packages kamailio-websocket-modules "
                              "and kamailio-extra-modules"
                              % (mod, TLS.KAMAILIO_MODULES))


def ws_account(name, port, transport="ws", **kw):
    """An account that registers and calls over a WebSocket to Kamailio."""
    scheme = "sip:127.0.0.1:%d" % port
    return account(name, register=True, registrar=scheme,
                   outbound_proxy=scheme + ";transport=" + transport,
                   transport=transport, expires=60, incoming="answer",
                   password=K.password(name), retry=RETRY, **kw)


def udp_account(name, kam):
    proxy = "sip:127.0.0.1:%d" % kam.port
    return account(name, register=True, registrar=proxy,
                   outbound_proxy=proxy, expires=60, incoming="answer",
                   password=K.password(name), retry=RETRY)


def account_rec(d, name):
    j = expect_ctl(d.ctl("accounts", json=True), 0, "accounts").json()
    for rec in j["data"]:
        if rec["name"] == name:
            return rec
    raise TestFailure("no account %s in %r" % (name, j))


def status(d):
    return expect_ctl(d.ctl("status", json=True), 0, "status").json()["data"][0]


def call_confirmed(caller, callee, account_name, uri):
    """caller (daemon, events) calls uri; both sides confirmed; returns
    (caller's id, callee's id)."""
    dc, evc = caller
    dd, evd = callee
    cid = placed_ok(dc, account_name, uri)
    evc.state(cid, "confirmed", 10)
    f = evd.wait(lambda t, f: t == "call.state" and f.get("dir") == "in" and
                 f.get("state") == "confirmed", 10, "the callee confirmed")
    return cid, int(f["id"])


def test_ws_register_and_calls(env):
    need()
    certs = TLS.make_certs(env)
    kam = WsKamailio(env, certs).start()
    da = env.daemon(name="sipxd-alice", accounts=[ws_account("alice",
                                                             kam.ws)],
                    extra=media_conf())
    db = env.daemon(name="sipxd-bob", accounts=[udp_account("bob", kam)],
                    extra=media_conf())
    alice, bob = (da, CallEvents(da)), (db, CallEvents(db))
    table = K.wait_location(kam, lambda t: "alice" in t and "bob" in t, 10,
                            "alice and bob registered")

    # The upgrade Kamailio saw, and what it bound.
    http = kam.lines(r"http GET / from 127\.0\.0\.1:\d+ proto=tcp "
                     r"host=127\.0\.0\.1:%d protocol=sip" % kam.ws)
    check(http, "no WebSocket upgrade in kamailio's log: %s"
          % kam.log_tail())
    saves = kam.lines(r"save alice ct=\S+ proto=ws ")
    check(saves, "no REGISTER of alice over ws: %s" % kam.log_tail())
    check(";transport=ws" in saves[-1] and "SIP/2.0/WS 127.0.0.1:" in
          saves[-1], "alice's Contact / Via over ws: %s" % saves[-1])
    addr = table["alice"][0]["Address"]
    check(";transport=ws" in addr, "alice's binding %r" % addr)
    # Digest was asked and answered over the WebSocket too.
    check(kam.lines(r"challenge REGISTER alice"),
          "alice was not challenged: %s" % kam.log_tail())
    rec = account_rec(da, "alice")
    check_eq((rec["state"], rec["transport"]), ("registered", "ws"),
             "alice's account")
    check(rec.get("target", "").startswith("WS 127.0.0.1:%d" % kam.ws),
          "alice's target %r" % rec.get("target"))
    check(int(status(da)["connections"]) >= 1, "alice's status shows no "
          "connection: %r" % status(da))

    # alice (ws) calls bob (udp); bob hangs up: the BYE reaches alice
    # over her WebSocket.
    aid, bid = call_confirmed(alice, bob, "alice", "sip:bob@127.0.0.1")
    invites = kam.lines(r"req INVITE sip:bob@\S+ from 127\.0\.0\.1:(\d+) "
                        r"proto=ws ")
    check(invites, "alice's INVITE did not come over ws: %s"
          % kam.log_tail())
    # Her connection's port: her Contact names it (sip_tp_sent_by).
    wsport = int(re.search(r"from 127\.0\.0\.1:(\d+) proto=ws",
                           invites[-1]).group(1))
    contact = "sip:alice@127.0.0.1:%d;transport=ws" % wsport
    check(contact in saves[-1], "alice's Contact %r is not her "
          "connection's address: %s" % (contact, saves[-1]))
    check(wait_until(lambda: kam.lines(r"req ACK .* proto=ws "), 3),
          "alice's ACK did not go over ws: %s" % kam.log_tail())
    time.sleep(0.3)
    hangup(db, bid)
    bob[1].first("call.ended", 5, id=bid, by="local")
    alice[1].first("call.ended", 5, id=aid, by="remote")
    check(kam.lines(r"in-dialog BYE to %s " % re.escape(contact)),
          "the BYE to alice did not go to her WebSocket: %s"
          % kam.lines("BYE"))

    # bob (udp) calls alice: Kamailio reaches her over the same flow.
    bid2, aid2 = call_confirmed(bob, alice, "bob", "sip:alice@127.0.0.1")
    check(kam.lines(r"to alice at %s " % re.escape(contact)),
          "kamailio did not route bob's INVITE to alice's ws binding: %s"
          % kam.lines("to alice"))
    time.sleep(0.3)
    hangup(da, aid2)
    alice[1].first("call.ended", 5, id=aid2, by="local")
    bob[1].first("call.ended", 5, id=bid2, by="remote")
    check(kam.lines(r"req BYE \S+ from \S+ proto=ws "),
          "alice's BYE did not go over ws: %s" % kam.log_tail())
    check_eq(history_of(db, bid2).get("ended_by"), "remote",
             "bob's history ended_by")
    # One WebSocket carried all of it: one upgrade only.
    check_eq(len(kam.lines(r"http GET ")), 1, "upgrades kamailio saw")
    # Stopped first, while Kamailio still answers their unregister.
    da.stop()
    db.stop()
    check(wait_until(lambda: "alice" not in kam.location(), 5),
          "alice's binding left after her daemon stopped: %r"
          % kam.location())


def test_wss_register(env):
    need()
    certs = TLS.make_certs(env)
    kam = WsKamailio(env, certs).start()
    da = env.daemon(name="sipxd-alice",
                    accounts=[ws_account("alice", kam.wss, "wss")],
                    sipxd_extra="  tls = { ca_file = %s; verify = true; };"
                    % conf_str(certs["ca"]))
    K.wait_location(kam, lambda t: "alice" in t, 10, "alice registered")
    check(kam.lines(r"http GET / from \S+ proto=tls host=127\.0\.0\.1:%d "
                    r"protocol=sip" % kam.wss),
          "no upgrade over TLS in kamailio's log: %s" % kam.log_tail())
    saves = kam.lines(r"save alice ct=\S+ proto=wss ")
    check(saves and "SIP/2.0/WSS 127.0.0.1:" in saves[-1] and
          ";transport=ws" in saves[-1],
          "alice's REGISTER over wss: %s" % kam.log_tail())
    rec = account_rec(da, "alice")
    check_eq((rec["state"], rec["transport"]), ("registered", "wss"),
             "alice's account")
    # Another CA: the certificate does not verify, nothing is sent.
    db = env.daemon(name="sipxd-bob",
                    accounts=[ws_account("bob", kam.wss, "wss")],
                    sipxd_extra="  tls = { ca_file = %s; verify = true; };"
                    % conf_str(certs["other_ca"]))
    db.wait_log("certificate verify failed", 10)
    check(wait_until(lambda: account_rec(db, "bob")["state"] ==
                     "retry-wait", 5),
          "bob's account: %r" % account_rec(db, "bob"))
    check(not kam.lines(r"save bob "), "bob reached the registrar")
    da.stop()
    db.stop()


def test_ws_subscribe_contact(env):
    """A SUBSCRIBE over ws, from `subscribe` and from `request`, names
    the WebSocket in its Contact (RFC 7118 §5): the dialog's requests
    must come back over it."""
    need()
    certs = TLS.make_certs(env)
    kam = WsKamailio(env, certs).start()
    da = env.daemon(name="sipxd-alice", accounts=[ws_account("alice",
                                                             kam.ws)])
    K.wait_location(kam, lambda t: "alice" in t, 10, "alice registered")
    expect_ctl(da.ctl("subscribe", "alice", "sip:nobody@127.0.0.1",
                      "event=presence"), 0, "subscribe")
    da.ctl("request", "alice", "SUBSCRIBE", "sip:nobody@127.0.0.1",
           "header=Event: presence", timeout=15)
    check(wait_until(lambda: len(kam.lines(r"subscribe ct=\S+ proto=ws\b")) >=
                     2, 5), "two SUBSCRIBEs over ws: %s" % kam.log_tail())
    for line in kam.lines(r"subscribe ct=\S+ proto=ws\b"):
        check(";transport=ws" in line, "a SUBSCRIBE's Contact over ws: %s"
              % line)
    da.stop()


def test_ws_binding_kept(env):
    """A WebSocket has no listener behind it: the binding made over it
    is reachable only through that connection, so the connection is
    not idle-closed under it (sipxd.tcp.idle_timeout), even without
    outbound, and the registrar is left with one binding, not a new one
    per idle period."""
    need()
    certs = TLS.make_certs(env)
    kam = WsKamailio(env, certs).start()
    idle = 2
    a = ws_account("alice", kam.ws)
    a["expires"] = 3600
    da = env.daemon(name="sipxd-alice", accounts=[a],
        sipxd_extra="  tcp = { idle_timeout = %d; message_timeout = 1; };"
        % idle)
    K.wait_location(kam, lambda t: "alice" in t, 10, "alice registered")
    time.sleep(3 * idle + 1)
    ups = kam.lines(r"http GET / from 127\.0\.0\.1:\d+ proto=tcp")
    check_eq(len(ups), 1, "WebSocket upgrades (a new connection each "
             "idle period?)")
    table = kam.location()
    check_eq(len(table.get("alice", [])), 1, "alice's bindings: %r"
             % table.get("alice"))
    check_eq(account_rec(da, "alice")["state"], "registered", "alice")


TESTS = [
    ("ws_register_and_calls", test_ws_register_and_calls),
    ("ws_subscribe_contact", test_ws_subscribe_contact),
    ("wss_register", test_wss_register),
    ("ws_binding_kept", test_ws_binding_kept),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
