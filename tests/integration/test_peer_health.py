#!/usr/bin/env python3
"""Peer health (issue 11), against real registrars on loopback.

qualify: Kamailio as the registrar (tests/integration/kamailio/
registrar.cfg) and an account with qualify = { interval = 1; timeout =
500; down = 2; }.  The registrar stopped: `unreachable` within
interval * down + timeout (and a second of slack) with a peer.state
event; started again: `reachable` within an interval.  `peers`,
`accounts` and `account NAME` say the same, on the read-only socket
too.

Failover: dnsmasq gives _sip._udp.example.test two SRV records, two
Kamailios.  The account registers at the first; the first stops
answering (SIGSTOP, its socket still open: no ICMP, no refusal); qualify
finds it unreachable and the account registers at the second well
before its binding would have run out.

RFC 5626 outbound over TCP: a TCP relay of the test's own between
sipxd and Kamailio (which adds Flow-Timer: 5, so sipxd pings every
4 s).  The relay closes the connection (a cut): sipxd registers again
over a new one at once.  The relay keeps the connection open but
forwards nothing more either way (a black hole): the ping finds no
pong, and within keepalive + sipxd.tcp.pong_timeout the flow is
declared dead and the account registered over a new connection.  Before
that, pings on a working flow get their pongs and keep it.  An account
that leaves the config leaves its flow too: the pings stop and the
connection idles out (sipxd.tcp.idle_timeout).

Needs kamailio, kamcmd, dnsmasq-base.  Every process is stopped by PID.
"""
import os
import selectors
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (account, check, check_eq, expect_ctl,  # noqa: E402
                      run_tests, table_rows, wait_until)
import test_reg_kamailio as K  # noqa: E402
from test_sip_tls_dns import start_dnsmasq  # noqa: E402

QUALIFY = {"interval": 1, "timeout": 500, "up": 1, "down": 2}
# interval * down + timeout, and slack for a loaded machine.
DOWN_WITHIN = QUALIFY["interval"] * QUALIFY["down"] + \
    QUALIFY["timeout"] / 1000.0 + 1.5


def alice(registrar, **keys):
    a = account("alice", "sip:alice@127.0.0.1", register=True,
                registrar=registrar, password=K.password("alice"),
                expires=60, retry={"base": 1, "max": 4, "fatal": 30})
    a.update(keys)
    return a


def account_rec(d, name="alice"):
    return d.ctl("account", name, json=True).json()["data"][0]


def wait_registered(d, timeout=10, target=None):
    def ok():
        a = account_rec(d)
        return a["state"] == "registered" and \
            (target is None or a["target"] == target)
    check(wait_until(ok, timeout, 0.1),
          "alice not registered%s within %d s: %r; log: %s"
          % (" at " + target if target else "", timeout, account_rec(d),
             d.stderr_text()[-1500:]))


def peers(d, sock=None):
    r = expect_ctl(d.ctl("peers", json=True, sock=sock), 0, "peers")
    return r.json()["data"]


# ---- qualify: a registrar that goes away and comes back ---------------------

def test_registrar_down_and_back(env):
    kam = K.Kamailio(env).start()
    d = env.daemon(accounts=[alice("sip:127.0.0.1:%d" % kam.port,
                                   qualify=QUALIFY),
                             account("bob", "sip:bob@127.0.0.1",
                                     register=False,
                                     registrar="sip:127.0.0.1:%d"
                                     % kam.port, qualify=QUALIFY),
                             account("carol", register=False)])
    wait_registered(d)
    check(wait_until(lambda: peers(d) and
                     peers(d)[0]["state"] == "reachable", 3, 0.1),
          "peer reachable: %r" % peers(d))
    p = peers(d)
    check_eq(len(p), 1, "alice and bob share one probe: %r" % p)
    p = p[0]
    check_eq((p["uri"], p["transport"], p["target"], p["accounts"],
              p["failures"], p["interval"], p["timeout"], p["up"],
              p["down"]),
             ("sip:127.0.0.1:%d" % kam.port, "udp",
              "UDP 127.0.0.1:%d" % kam.port, 2, 0, 1, 500, 1, 2),
             "the peer")
    check_eq(p["code"], 200, "Kamailio answers OPTIONS 200")
    check(float(p["rtt_ms"]) < 500,
          "rtt_ms %r" % p["rtt_ms"])
    # The read-only socket shows it too.
    check_eq(peers(d, sock=d.ro_sock)[0]["state"], "reachable",
             "peers on the read-only socket")
    a = account_rec(d)
    check_eq((a["qualify"], a["qualify_peer"], a["qualify_target"]),
             ("reachable", "sip:127.0.0.1:%d" % kam.port,
              "UDP 127.0.0.1:%d" % kam.port), "account alice")
    accs = {x["name"]: x for x in d.ctl("accounts", json=True).json()
            ["data"]}
    check_eq((accs["carol"]["qualify"], accs["carol"]["rtt_ms"]),
             ("-", "-"), "carol has qualify off")
    check_eq(accs["bob"]["qualify"], "reachable", "bob's view")
    # Text: sipxctl peers is a table.
    r = expect_ctl(d.ctl("peers"), 0, "sipxctl peers")
    header, rows = table_rows(r.out.splitlines())
    check_eq(header[:4], ["URI", "TRANSPORT", "STATE", "TARGET"],
             "peers columns: %r" % header)
    check_eq(rows[0]["STATE"], "reachable", "peers row")
    r = expect_ctl(d.ctl("accounts"), 0, "sipxctl accounts")
    header, rows = table_rows(r.out.splitlines())
    check_eq({x["NAME"]: x["QUALIFY"] for x in rows},
             {"alice": "reachable", "bob": "reachable", "carol": "-"},
             "accounts QUALIFY column")

    ev = d.connect()
    check(ev.request("events kind=peer,account").ok, "events")
    ev.wait_event("sync", 5)
    t0 = time.monotonic()
    kam.stop()
    f = ev.wait_event("peer.state", DOWN_WITHIN + 1,
                      lambda f: f.get("state") == "unreachable")
    took = time.monotonic() - t0
    check(took <= DOWN_WITHIN, "unreachable after %.1f s, not within "
          "%.1f s" % (took, DOWN_WITHIN))
    check_eq((f["uri"], f["prev"], f["target"], f["accounts"]),
             ("sip:127.0.0.1:%d" % kam.port, "reachable",
              "UDP 127.0.0.1:%d" % kam.port, "2"), "peer.state down")
    check("timeout" in f.get("error", ""), "why: %r" % f)
    ev.wait_event("account.qualify", 2, lambda f: f.get("state") ==
                  "unreachable")
    check_eq(peers(d)[0]["state"], "unreachable", "peers after the stop")
    check_eq(account_rec(d)["qualify"], "unreachable", "account alice")
    d.wait_log("qualify: sip:127.0.0.1:%d (UDP 127.0.0.1:%d) is "
               "unreachable" % (kam.port, kam.port))

    t0 = time.monotonic()
    kam.start()
    f = ev.wait_event("peer.state", 5, lambda f: f.get("state") ==
                      "reachable")
    check(time.monotonic() - t0 <= QUALIFY["interval"] + 2.5,
          "reachable again after %.1f s" % (time.monotonic() - t0))
    check_eq(f["prev"], "unreachable", "back")
    check("rtt_ms" in f and f.get("code") == "200", "rtt and code: %r" % f)
    p = peers(d)[0]
    check(p["lost"] >= QUALIFY["down"] and p["probes"] > p["lost"],
          "counters: %r" % p)
    check(p["since"] != "-" and p["since"] < 5, "since: %r" % p)


# ---- failover between RFC 3263 targets -------------------------------------------

def test_failover(env):
    k1 = K.Kamailio(env, name="kamailio-1").start()
    k2 = K.Kamailio(env, name="kamailio-2").start()
    dns = start_dnsmasq(env, [
        "--srv-host=_sip._udp.example.test,one.example.test,%d,10,0"
        % k1.port,
        "--srv-host=_sip._udp.example.test,two.example.test,%d,20,0"
        % k2.port,
        "--host-record=one.example.test,127.0.0.1",
        "--host-record=two.example.test,127.0.0.1",
    ])
    d = env.daemon(accounts=[alice("sip:example.test", qualify=QUALIFY,
                                   aor="sip:alice@example.test")],
                   sipxd_extra='  dns = { servers = [ "127.0.0.1:%d" ]; };'
                   % dns.port)
    first, second = ("UDP 127.0.0.1:%d" % k1.port,
                     "UDP 127.0.0.1:%d" % k2.port)
    wait_registered(d, target=first)
    check(wait_until(lambda: peers(d)[0]["state"] == "reachable", 3, 0.1),
          "peer reachable: %r" % peers(d))
    check_eq(peers(d)[0]["target"], first, "the probe asks the first target")
    check("alice" in k1.location() and "alice" not in k2.location(),
          "registered at the first only")
    ev = d.connect()
    check(ev.request("events kind=peer,account account=alice").ok, "events")
    ev.wait_event("sync", 5)
    granted = account_rec(d)["expires"]
    # The first stops answering: its socket stays, nothing comes back.
    os.killpg(k1.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        f = ev.wait_event("account.qualify", DOWN_WITHIN + 1,
                          lambda f: f.get("state") == "unreachable")
        check_eq(f["target"], first, "the dead target")
        # A refresh that lands elsewhere is no state change: it has an
        # event of its own, account.target.
        f = ev.wait_event("account.target", 10)
        check_eq((f.get("target"), f.get("prev")), (second, first),
                 "account.target")
        wait_registered(d, 10, target=second)
        took = time.monotonic() - t0
        check(took < DOWN_WITHIN + 3 and took < granted / 2,
              "registered at the second after %.1f s (binding %s s)"
              % (took, granted))
        check(wait_until(lambda: "alice" in k2.location(), 3, 0.1),
              "the second registrar holds alice: %r" % k2.location())
        d.wait_log("reg: %s is unreachable: 1 account registered there "
                   "registers again" % first)
        # The probe follows to the second target: reachable again (its
        # event may have passed while account.target was awaited).
        check(wait_until(lambda: peers(d)[0]["state"] == "reachable" and
                         peers(d)[0]["target"] == second, 4, 0.1),
              "probed at the second now: %r" % peers(d))
    finally:
        os.killpg(k1.pid, signal.SIGCONT)


# ---- RFC 5626: a flow cut, a flow black-holed -------------------------------------

class Relay:
    """A TCP relay on 127.0.0.1 to upstream_port, run by one thread.
    cut() closes every connection it carries; blackhole() keeps them
    open but drops every byte either way from then on.  New
    connections are always relayed."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.pairs = []             # [client, upstream, blackholed]
        self.accepted = 0
        self.dropped = 0            # bytes swallowed by the black hole
        self.lock = threading.Lock()
        self.todo = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            with self.lock:
                todo, self.todo = self.todo, []
            for what in todo:
                what()
            for key, _ in self.sel.select(0.05):
                if key.data is None:
                    self.accept()
                else:
                    self.pump(key.fileobj, key.data)
        for pair in list(self.pairs):
            self.close_pair(pair)
        self.sel.close()
        self.lsock.close()

    def accept(self):
        try:
            c, _ = self.lsock.accept()
        except BlockingIOError:
            return
        u = socket.create_connection(("127.0.0.1", self.upstream), 2)
        pair = [c, u, False]
        self.pairs.append(pair)
        self.accepted += 1
        self.sel.register(c, selectors.EVENT_READ, (pair, 1))
        self.sel.register(u, selectors.EVENT_READ, (pair, 0))

    def pump(self, sock, data):
        pair, other = data
        try:
            buf = sock.recv(65536)
        except OSError:
            buf = b""
        if not buf:
            self.close_pair(pair)
            return
        if pair[2]:
            self.dropped += len(buf)
            return
        try:
            pair[other].sendall(buf)
        except OSError:
            self.close_pair(pair)

    def close_pair(self, pair):
        if pair not in self.pairs:
            return
        self.pairs.remove(pair)
        for s in pair[:2]:
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    def _do(self, fn):
        done = threading.Event()

        def run():
            fn()
            done.set()
        with self.lock:
            self.todo.append(run)
        check(done.wait(5), "relay thread did not run the request")

    def cut(self):
        self._do(lambda: [self.close_pair(p) for p in list(self.pairs)])

    def blackhole(self):
        def mark():
            for p in self.pairs:
                p[2] = True
        self._do(mark)

    def live(self):
        return len(self.pairs)

    def stop(self):
        self.running = False
        self.thread.join(5)


def outbound_setup(env, pong_timeout=2, tcp_extra=""):
    kam = K.Kamailio(env, defines=["WITH_FLOW_TIMER"]).start()
    relay = Relay(kam.port)
    env.register_proc(RelayProc(relay))
    d = env.daemon(accounts=[alice("sip:127.0.0.1:%d" % relay.port,
                                   transport="tcp", outbound=True,
                                   expires=600)],
                   tcp=True,
                   sipxd_extra="  tcp = { pong_timeout = %d; %s };"
                   % (pong_timeout, tcp_extra))
    wait_registered(d)
    check_eq(relay.accepted, 1, "one flow")
    ev = d.connect()
    check(ev.request("events kind=account account=alice").ok, "events")
    ev.wait_event("sync", 5)
    return kam, relay, d, ev


class RelayProc:
    """Lets Env stop the relay's thread with the processes."""

    def __init__(self, relay):
        self.relay = relay
        self.pid = 0

    def stop(self):
        self.relay.stop()


def wait_reregistered(ev, within, cause):
    t0 = time.monotonic()
    f = ev.wait_event("account.state", within,
                      lambda f: f.get("state") == "registering")
    check(cause in f.get("cause", ""), "cause: %r" % f)
    ev.wait_event("account.state", within,
                  lambda f: f.get("state") == "registered")
    return time.monotonic() - t0


def test_outbound_cut(env):
    kam, relay, d, ev = outbound_setup(env)
    t0 = time.monotonic()
    relay.cut()
    wait_reregistered(ev, 5, "the flow's connection closed")
    check(time.monotonic() - t0 < 3, "re-registered %.1f s after the cut"
          % (time.monotonic() - t0))
    check_eq(relay.accepted, 2, "a new connection")
    check_eq(relay.live(), 1, "one flow carried")
    check(wait_until(lambda: "alice" in kam.location(), 3, 0.1),
          "Kamailio holds alice")


def test_outbound_blackhole(env):
    pong = 2
    kam, relay, d, ev = outbound_setup(env, pong_timeout=pong)
    # Flow-Timer 5: a ping every 4 s, answered by Kamailio.  Longer than
    # one ping and its pong wait: the working flow is kept.
    time.sleep(4 + pong + 1)
    check_eq(relay.accepted, 1, "a flow with pongs is kept")
    check(d.running(), "sipxd running")
    keepalive = 4
    relay.blackhole()
    took = wait_reregistered(ev, keepalive + pong + 4,
                             "the flow's connection closed")
    check(took <= keepalive + pong + 2, "dead flow found after %.1f s, "
          "not within the keepalive interval (%d s) and the pong wait "
          "(%d s)" % (took, keepalive, pong))
    check(relay.dropped > 0, "the black hole swallowed the ping")
    check_eq(relay.accepted, 2, "registered over a new connection")
    d.wait_log("no pong within %d ms of a keepalive ping" % (pong * 1000))


def test_outbound_released(env):
    """A flow whose account leaves the config is no flow any more: its
    pings stop and the connection idles out like any other."""
    idle = 3
    kam, relay, d, ev = outbound_setup(
        env, tcp_extra="idle_timeout = %d; message_timeout = 2;" % idle)
    # Longer than the idle timeout: a working flow is never idle.
    time.sleep(idle + 2)
    check_eq(relay.live(), 1, "the flow is kept while alice uses it")
    d.write_config([account("local", register=False)])
    expect_ctl(d.ctl("reload"), 0, "reload")
    # alice's binding is removed over the flow, then nothing uses it:
    # idle_timeout after that, the connection closes.
    check(wait_until(lambda: relay.live() == 0, idle + 4, 0.1),
          "the flow's connection is still open %d s after its account "
          "left the config (pings keep it forever)" % (idle + 4))
    check(wait_until(lambda: "alice" not in kam.location(), 3, 0.1),
          "Kamailio still holds alice")


def with_kamailio_stop(fn):
    """On success sipxd stops first, while Kamailio still answers its
    REGISTERs with Expires: 0."""
    def run(env):
        fn(env)
        for dmn in env.daemons:
            if dmn.running():
                dmn.stop()
    return run


TESTS = [(name, with_kamailio_stop(fn)) for name, fn in [
    ("registrar_down_and_back", test_registrar_down_and_back),
    ("failover", test_failover),
    ("outbound_cut", test_outbound_cut),
    ("outbound_blackhole", test_outbound_blackhole),
    ("outbound_released", test_outbound_released),
]]

if __name__ == "__main__":
    if not (K.KAMAILIO and K.KAMCMD):
        print("SKIP: kamailio or kamcmd not installed")
        sys.exit(T.EXIT_SKIP)
    sys.exit(run_tests(TESTS))
