#!/usr/bin/env python3
"""Address changes of the host (issue 11, network changes), in network
namespaces the test makes itself: nothing it sends leaves the host.

Two anonymous namespaces, each held by a `sleep` started with
`unshare -n`, joined by a veth pair:

    ns A (sipxd)  sx0 10.77.0.1/24, 10.88.0.1/24
    ns B (Kamailio registrar, tests/integration/kamailio/registrar.cfg)
                  sx1 10.77.0.254/24, 10.88.0.254/24

sipxd listens on the wildcard (UDP and TCP 0.0.0.0:5060) and on UDP
10.77.0.1:5070.  alice (UDP) and bob (TCP) register to 10.77.0.254, so
their Contacts name 10.77.0.1; carol registers to 10.88.0.254 over
10.88.0.1.  Then, in ns A, 10.77.0.1 is replaced by 10.77.0.2: the
change is reported within a second (net.address events, one log line
per address), alice and bob register again with Contacts at 10.77.0.2
(bob over a new TCP connection) and end `registered`, carol is left
alone, the wildcard listener answers OPTIONS at the new address, and
the listener bound to 10.77.0.1 is said to hear nothing until the
address comes back, when it answers again.  An address added alone
moves nobody; a registration that failed for want of any address tries
again as soon as one comes, not after its backoff.

The ports are fixed (5060, 5070): each namespace has its own.  Every
process started (the two holders, Kamailio, sipxd) is stopped by PID;
the namespaces and the veth pair die with their holders.

Making namespaces needs root (CI runs as root).  Without it, or when
unshare is refused, the test fails and says why, unless the environment
says SIPX_TEST_NO_NETNS=1 (a machine known to forbid namespaces), when
it is skipped with that reason."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest as T  # noqa: E402
from sipxtest import (check, check_eq, parse_event, run_tests,  # noqa: E402
                      wait_until, TestFailure)

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO = shutil.which("kamailio") or shutil.which("/usr/sbin/kamailio")
KAMCMD = shutil.which("kamcmd") or shutil.which("/usr/sbin/kamcmd")
IP = shutil.which("ip") or shutil.which("/usr/sbin/ip")
UNSHARE = shutil.which("unshare")
NSENTER = shutil.which("nsenter")
CFG = os.path.join(HERE, "kamailio", "registrar.cfg")

OLD, NEW, THIRD = "10.77.0.1", "10.77.0.2", "10.77.0.3"
OTHER = "10.88.0.1"
REG77, REG88 = "10.77.0.254", "10.88.0.254"
SIP_PORT, PINNED_PORT = 5060, 5070
# Backoff long enough that only the address watch explains a quick
# recovery; fatal long enough to stay out of the test.
RETRY = {"base": 30, "max": 60, "fatal": 120}


# ---- namespaces ----------------------------------------------------------------

class Holder:
    """A `sleep` in a new network namespace: the namespace lives while
    it does.  Stopped by PID."""

    def __init__(self, env):
        self.popen = subprocess.Popen([UNSHARE, "-n", "--", "sleep", "600"],
                                      stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        self.pid = self.popen.pid
        env.register_proc(self)
        mine = os.readlink("/proc/self/ns/net")

        def moved():
            if self.popen.poll() is not None:
                return True
            try:
                return os.readlink("/proc/%d/ns/net" % self.pid) != mine
            except OSError:
                return False
        wait_until(moved, 5)
        if self.popen.poll() is not None:
            err = self.popen.stderr.read().decode(errors="replace").strip()
            raise TestFailure("unshare -n refused (exit %d): %s"
                              % (self.popen.returncode, err))
        check(moved(), "unshare -n: pid %d never entered a new network "
              "namespace" % self.pid)

    def run(self, cmd, timeout=10):
        """A shell command inside the namespace; fails loudly."""
        p = subprocess.run([NSENTER, "-t", str(self.pid), "-n", "sh", "-c",
                            cmd], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        check(p.returncode == 0, "in ns %d: %r failed (%d): %s"
              % (self.pid, cmd, p.returncode,
                 p.stderr.decode(errors="replace").strip()))
        return p.stdout.decode(errors="replace")

    def argv(self, argv):
        """argv run inside the namespace (nsenter execs it: same PID)."""
        return [NSENTER, "-t", str(self.pid), "-n", "--"] + list(argv)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.popen.stderr.close()


def need_netns():
    """None when namespaces can be made here, else why not."""
    missing = [n for n, p in (("unshare", UNSHARE), ("nsenter", NSENTER),
                              ("ip (iproute2)", IP),
                              ("kamailio", KAMAILIO), ("kamcmd", KAMCMD))
               if p is None]
    if missing:
        return "not installed: " + ", ".join(missing)
    if os.geteuid() != 0:
        return ("network namespaces need root (uid %d); run as root, as CI "
                "does" % os.geteuid())
    p = subprocess.run([UNSHARE, "-n", "--", "true"], capture_output=True)
    if p.returncode != 0:
        return "unshare -n refused: %s" % p.stderr.decode(
            errors="replace").strip()
    return None


def make_net(env):
    """(ns A, ns B), joined by sx0 (A) -- sx1 (B)."""
    a, b = Holder(env), Holder(env)
    # No IPv6 link-local address on the veth: its arrival after
    # duplicate address detection would be one more change to count.
    a.run("%s link set lo up && "
          "%s link add sx0 type veth peer name sx1 netns %d && "
          "%s link set sx0 addrgenmode none && "
          "%s addr add %s/24 dev sx0 && %s addr add %s/24 dev sx0 && "
          "%s link set sx0 up"
          % (IP, IP, b.pid, IP, IP, OLD, IP, OTHER, IP))
    b.run("%s link set lo up && %s link set sx1 addrgenmode none && "
          "%s addr add %s/24 dev sx1 && %s addr add %s/24 dev sx1 && "
          "%s link set sx1 up" % (IP, IP, IP, REG77, IP, REG88, IP))
    return a, b


# ---- Kamailio in ns B ------------------------------------------------------------

class Kamailio:
    def __init__(self, env, ns):
        self.dir = env.path("kamailio")
        os.makedirs(self.dir, exist_ok=True)
        self.ctl = "unix:" + os.path.join(self.dir, "ctl")
        self.log = os.path.join(self.dir, "kamailio.log")
        argv = ns.argv([KAMAILIO, "-f", CFG, "-DD", "-E", "-Y", self.dir,
                        "-P", os.path.join(self.dir, "kamailio.pid"),
                        "-m", "32", "-M", "4",
                        "-l", "udp:%s:%d" % (REG77, SIP_PORT),
                        "-l", "tcp:%s:%d" % (REG77, SIP_PORT),
                        "-l", "udp:%s:%d" % (REG88, SIP_PORT),
                        "-A", 'CTL_SOCK="%s"' % self.ctl])
        with open(self.log, "wb") as out:
            # Its own process group, to find children that outlive it.
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=out,
                                          stderr=subprocess.STDOUT,
                                          cwd=self.dir,
                                          start_new_session=True)
        self.pid = self.popen.pid
        env.register_proc(self)
        ok = wait_until(lambda: self.popen.poll() is not None or
                        self.rpc("core.uptime")[0] == 0, 10, 0.05)
        check(ok and self.popen.poll() is None,
              "kamailio not answering: %s" % self.text()[-1500:])

    def rpc(self, *args):
        p = subprocess.run([KAMCMD, "-s", self.ctl] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def saves(self, user):
        """(contact, source) of every REGISTER of user it saved."""
        return re.findall(r"<script>: save %s contact=<?([^>\s]*)>?\S* "
                          r"expires=\S* from (\S+)" % re.escape(user),
                          self.text())

    def contacts(self, user):
        """Addresses of user's live bindings (kamcmd ul.dump)."""
        rc, out, err = self.rpc("ul.dump")
        check(rc == 0, "kamcmd ul.dump: %s" % err.strip())
        found, aor = [], None
        for line in out.splitlines():
            s = line.strip()
            if s.startswith("AoR: "):
                aor = s[5:]
            elif s.startswith("Address: ") and aor == user:
                found.append(s[9:])
            elif s.startswith("Expires: ") and aor == user and \
                    s[9:] in ("expired", "deleted") and found:
                found.pop()
        return found

    def stop(self):
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---- sipxd in ns A ---------------------------------------------------------------

class NsSipxd(T.Sipxd):
    """T.Sipxd started inside a namespace (its PID is sipxd's own: nsenter
    execs it).  The control socket is a path: reachable from here."""

    def __init__(self, env, ns, accounts):
        self.ns = ns
        super().__init__(env, name="sipxd", accounts=[], readonly=False)
        self.write_config_text(self.config(accounts))

    def config(self, accounts):
        lines = [
            "sipxd: {",
            '  listen = ( { transport = "udp"; address = "0.0.0.0:%d"; },'
            % SIP_PORT,
            '    { transport = "tcp"; address = "0.0.0.0:%d"; },' % SIP_PORT,
            '    { transport = "udp"; address = "%s:%d"; } );'
            % (OLD, PINNED_PORT),
            "  timers = { t1 = 100; t2 = 400; t4 = 500; };",
            "  register_spread = 0;",
            "};",
            "control: { path = %s; };" % T.conf_str(self.sock),
            'log: { level = "info"; };',
            'media: { address = "127.0.0.1"; };',
            "network: { watch = true; settle_ms = 200; };",
            "accounts = (",
            ",\n".join("  { " + " ".join("%s = %s;" % (k, T.conf_value(v))
                                         for k, v in a.items()) + " }"
                       for a in accounts),
            ");",
        ]
        return "\n".join(lines) + "\n"

    def spawn(self, args=(), env=None, stderr_fd=None):
        e = dict(os.environ)
        for k in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS",
                  "LISTEN_PID", "WATCHDOG_USEC"):
            e.pop(k, None)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.ns.argv([T.SIPXD, "-c", self.conf] + list(args)),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=e)
        finally:
            out.close()
            err.close()
        self.env.register(self)
        return self


def acct(name, registrar, transport):
    return {"name": name, "aor": "sip:%s@%s" % (name, registrar),
            "password": name + "-secret", "registrar": "sip:%s:%d"
            % (registrar, SIP_PORT), "transport": transport,
            "register": True, "expires": 300, "retry": RETRY}


def accounts(c):
    r = c.request("accounts")
    check(r.ok, "accounts: %r" % r)
    return {rec["name"]: rec for rec in r.records}


def wait_states(c, want, timeout, what):
    last = {}

    def ok():
        last.clear()
        last.update(accounts(c))
        return all(last.get(n, {}).get("state") == s for n, s in want.items())
    check(wait_until(ok, timeout, 0.05), "%s: want %s within %.0f s; have %s"
          % (what, want, timeout, {n: (a.get("state"), a.get("reason"))
                                   for n, a in last.items()}))


def contact_of(c, name):
    r = c.request("account " + name)
    check(r.ok and r.records, "account %s: %r" % (name, r))
    return r.records[0].get("contact", "")


def status(c):
    r = c.request("status")
    check(r.ok and r.records, "status: %r" % r)
    return r.records[0]


def options_from(ns, addr, port, timeout=2.0):
    """Sends OPTIONS over UDP from inside ns to addr:port; the status
    line of the answer, or None."""
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.settimeout(%r)\n"
        "s.connect((%r,%d))\n"
        "l=s.getsockname()\n"
        "m=('OPTIONS sip:%s:%d SIP/2.0\\r\\n'\n"
        "'Via: SIP/2.0/UDP %%s:%%d;rport;branch=z9hG4bK-nc%%d\\r\\n'\n"
        "'Max-Forwards: 70\\r\\nFrom: <sip:probe@%s>;tag=p\\r\\n'\n"
        "'To: <sip:%s:%d>\\r\\nCall-ID: nc-%%d@probe\\r\\n'\n"
        "'CSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n')%%(l[0],l[1],"
        "l[1],l[1])\n"
        "s.send(m.encode())\n"
        "try:\n"
        "  print(s.recv(65535).decode().split('\\r\\n')[0])\n"
        "except OSError as e:\n"
        "  print('none: %%s'%%e)\n"
        % (timeout, addr, port, addr, port, REG77, addr, port))
    out = ns.run("exec %s -c %s" % (sys.executable, _sh_quote(script)),
                 timeout=timeout + 8)
    line = out.strip()
    return line if line.startswith("SIP/2.0 ") else None


def _sh_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def net_events(conn, want, timeout):
    """Collects net.address events until each (change, address) in want
    came; returns {(change, address): fields}."""
    got = {}
    deadline = time.monotonic() + timeout
    while not all(w in got for w in want):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TestFailure("net.address events: want %s, got %s"
                              % (sorted(want), sorted(got)))
        f = conn.wait_event("net.address", remaining)
        got[(f.get("change"), f.get("address"))] = f
    return got


# ---- the test ----------------------------------------------------------------------

def test_address_replaced(env):
    ns_a, ns_b = make_net(env)
    kam = Kamailio(env, ns_b)
    d = NsSipxd(env, ns_a, [acct("alice", REG77, "udp"),
                             acct("bob", REG77, "tcp"),
                             acct("carol", REG88, "udp")])
    d.start()
    c = d.connect()
    check_eq(c.request("events").status, "OK subscribed", "events")
    wait_states(c, {"alice": "registered", "bob": "registered",
                    "carol": "registered"}, 10, "first registrations")
    check_eq(contact_of(c, "alice"), "sip:alice@%s:%d" % (OLD, SIP_PORT),
             "alice's Contact before")
    check_eq(contact_of(c, "bob"), "sip:bob@%s:%d;transport=tcp"
             % (OLD, SIP_PORT), "bob's Contact before")
    check_eq(contact_of(c, "carol"), "sip:carol@%s:%d" % (OTHER, SIP_PORT),
             "carol's Contact before")
    st = status(c)
    check_eq(st.get("net_watch"), "on", "status net_watch")
    check_eq(st.get("net_changes"), "0", "no change yet")
    carol_saves = len(kam.saves("carol"))
    check(carol_saves >= 1, "Kamailio saw no REGISTER of carol")
    # Everything settled: from here on, events are about the change.
    c.events.clear()

    t0 = time.monotonic()
    ns_a.run("%s addr del %s/24 dev sx0 && %s addr add %s/24 dev sx0"
             % (IP, OLD, IP, NEW))
    evs = net_events(c, {("removed", OLD), ("added", NEW)}, 3)
    took = time.monotonic() - t0
    check(took < 1.0, "the change was reported %.2f s after it (more than "
          "the second issue 11 allows)" % took)
    gone = evs[("removed", OLD)]
    check_eq(gone.get("interface"), "sx0", "interface of the removed address")
    check_eq(gone.get("registrations"), "2", "registrations moved")
    check_eq(gone.get("connections"), "1", "TCP connections closed")
    check_eq(evs[("added", NEW)].get("interface"), "sx0", "added interface")
    d.wait_log("net: address %s removed from sx0: 2 registrations move to "
               "%s" % (OLD, NEW))
    d.wait_log("listener UDP %s:%d: its address left the host"
               % (OLD, PINNED_PORT))

    # Kamailio sees both again from the new address, bob over TCP.
    def moved():
        return (any(ct.startswith("sip:alice@%s:%d" % (NEW, SIP_PORT)) and
                    src.startswith("udp:%s:" % NEW)
                    for ct, src in kam.saves("alice")) and
                any(ct.startswith("sip:bob@%s:%d" % (NEW, SIP_PORT)) and
                    src.startswith("tcp:%s:" % NEW)
                    for ct, src in kam.saves("bob")))
    check(wait_until(moved, 3), "Kamailio saw no REGISTER from %s within "
          "3 s: alice %r bob %r" % (NEW, kam.saves("alice")[-2:],
                                    kam.saves("bob")[-2:]))
    check(any(a.startswith("sip:alice@%s:%d" % (NEW, SIP_PORT))
              for a in kam.contacts("alice")),
          "alice's new binding not in the location table: %r"
          % kam.contacts("alice"))
    wait_states(c, {"alice": "registered", "bob": "registered",
                    "carol": "registered"}, 5, "after the change")
    check_eq(contact_of(c, "alice"), "sip:alice@%s:%d" % (NEW, SIP_PORT),
             "alice's Contact after")
    check_eq(contact_of(c, "bob"), "sip:bob@%s:%d;transport=tcp"
             % (NEW, SIP_PORT), "bob's Contact after")
    # carol's address did not change: not one more REGISTER, no event.
    check_eq(len(kam.saves("carol")), carol_saves, "carol's REGISTERs")
    for line in c.events:
        t, f = parse_event(line)
        check(not (t == "account.state" and f.get("account") == "carol"),
              "carol was disturbed: %s" % line)
    # The wildcard listener answers at the new address.
    check_eq(options_from(ns_b, NEW, SIP_PORT), "SIP/2.0 200 OK",
             "OPTIONS to the wildcard listener at %s" % NEW)
    st = status(c)
    for key, want in (("net_changes", "1"), ("net_added", "1"),
                      ("net_removed", "1"), ("net_reregistered", "2"),
                      ("net_conns_closed", "1"),
                      ("net_listeners_gone", "1")):
        check_eq(st.get(key), want, "status " + key)

    # The old address comes back beside the new one: the pinned
    # listener hears again; nobody moves for a new address alone.
    saves = {u: len(kam.saves(u)) for u in ("alice", "bob", "carol")}
    c.events.clear()
    ns_a.run("%s addr add %s/24 dev sx0" % (IP, OLD))
    net_events(c, {("added", OLD)}, 3)
    d.wait_log("listener UDP %s:%d: its address is back" % (OLD, PINNED_PORT))
    check_eq(options_from(ns_b, OLD, PINNED_PORT), "SIP/2.0 200 OK",
             "OPTIONS to the listener bound to %s, back" % OLD)
    time.sleep(0.5)
    check_eq({u: len(kam.saves(u)) for u in saves}, saves,
             "REGISTERs after an address was only added")
    check_eq(status(c).get("net_listeners_gone"), "0", "listeners gone")

    # Every 10.77 address goes: alice and bob have none to use and
    # wait out a backoff of at least 15 s; one address comes back
    # and they register at once.
    c.events.clear()
    ns_a.run("%s addr del %s/24 dev sx0 && %s addr del %s/24 dev sx0"
             % (IP, OLD, IP, NEW))
    net_events(c, {("removed", OLD), ("removed", NEW)}, 3)
    wait_states(c, {"alice": "retry-wait", "bob": "retry-wait",
                    "carol": "registered"}, 5, "without an address")
    ns_a.run("%s addr add %s/24 dev sx0" % (IP, THIRD))
    net_events(c, {("added", THIRD)}, 3)
    d.wait_log("net: 2 registrations that had no address to use try again")
    wait_states(c, {"alice": "registered", "bob": "registered"}, 5,
                "once %s came" % THIRD)
    check_eq(contact_of(c, "alice"), "sip:alice@%s:%d" % (THIRD, SIP_PORT),
             "alice's Contact at last")
    check_eq(len(kam.saves("carol")), carol_saves, "carol's REGISTERs")
    c.close()
    # The stop removes the bindings while Kamailio still runs.
    d.stop()


def test_watch_off(env):
    """network.watch = false: no monitor, status says so, nothing moves
    (the change is seen at the next refresh only)."""
    ns_a, ns_b = make_net(env)
    kam = Kamailio(env, ns_b)
    d = NsSipxd(env, ns_a, [acct("alice", REG77, "udp")])
    d.write_config_text(d.config([acct("alice", REG77, "udp")]).replace(
        "watch = true", "watch = false"))
    d.start()
    c = d.connect()
    wait_states(c, {"alice": "registered"}, 10, "registration")
    check_eq(status(c).get("net_watch"), "off", "status net_watch")
    saves = len(kam.saves("alice"))
    ns_a.run("%s addr del %s/24 dev sx0 && %s addr add %s/24 dev sx0"
             % (IP, OLD, IP, NEW))
    time.sleep(1.0)
    check_eq(len(kam.saves("alice")), saves, "REGISTERs with watch off")
    check_eq(status(c).get("net_changes"), "0", "net_changes")
    # Turned on by a reload: a later change is seen.
    d.write_config_text(d.config([acct("alice", REG77, "udp")]))
    check(c.request("reload").ok, "reload")
    check(wait_until(lambda: status(c).get("net_watch") == "on", 3),
          "net_watch after the reload")
    time.sleep(0.3)
    ns_a.run("%s addr del %s/24 dev sx0" % (IP, OTHER))
    check(wait_until(lambda: status(c).get("net_removed") == "1", 3),
          "a change after the reload was not seen: %r" % status(c))
    c.close()
    d.stop()


TESTS = [("address_replaced", test_address_replaced),
         ("watch_off", test_watch_off)]

if __name__ == "__main__":
    why = need_netns()
    if why is not None:
        if os.environ.get("SIPX_TEST_NO_NETNS") == "1":
            print("SKIP: %s (SIPX_TEST_NO_NETNS=1)" % why)
            sys.exit(T.EXIT_SKIP)
        print("FAIL netchange: %s; set SIPX_TEST_NO_NETNS=1 only on a "
              "machine known to forbid network namespaces" % why)
        print("0 passed, 1 failed")
        sys.exit(1)
    sys.exit(run_tests(TESTS))
