#!/usr/bin/env python3
"""Registration churn: a soak for the registration client, not a figure.

    python3 tests/bench/reg_churn.py SIPXD SIPXCTL [N [ROUNDS]]

N accounts (2,000) register with digest to Kamailio on loopback
(kamailio-registrar.cfg, password "pw-" + user) over UDP and TCP.  Then
ROUNDS (6) times: a reload that removes ~10 % of the accounts, moves
~10 % to another aor, gives ~5 % a wrong password, changes expires and
transport at random and adds ~10 % new ones; 40 random register /
unregister / disable / enable commands; Kamailio restarted in round 3
(its location table is in memory: sipxd learns of the loss only at
each account's next refresh, so the count there drops for a while).
After each round it prints the accounts per state; at the end, SIGTERM,
and the bindings left at Kamailio.

A binding can be left only where the registrar refused the Expires: 0:
an account whose configured password became wrong keeps its old binding
there until it expires.  Run it with the ASan build (build-asan/sipxd)
to check the lifetimes; the script prints any sanitizer report and
exits 1 on one.  Every process it starts is stopped by PID.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"


def free_port():
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
        finally:
            u.close()
            t.close()


def config(rnd, n, rounds_seen, kport, sport, ctl):
    accs = []
    for i in range(n):
        if rounds_seen and rnd.random() < 0.10:
            continue
        user = "u%d" % i
        if rounds_seen and rnd.random() < 0.10:
            user = "v%d_%d" % (i, rounds_seen)
        pw = "pw-" + user
        if rounds_seen and rnd.random() < 0.05:
            pw = "wrong"
        accs.append('{ name = "a%d"; aor = "sip:%s@example.com"; '
                    'password = "%s"; registrar = "sip:127.0.0.1:%d"; '
                    'expires = %d; transport = "%s"; retry = { base = 1; '
                    'max = 4; fatal = 5; }; }'
                    % (i, user, pw, kport,
                       rnd.choice([3600, 30, 20]) if rounds_seen else 3600,
                       rnd.choice(["udp", "udp", "tcp"])))
    for j in range(n // 10 if rounds_seen else 0):
        k = n + rounds_seen * n + j
        accs.append('{ name = "n%d"; aor = "sip:n%d@example.com"; '
                    'password = "pw-n%d"; registrar = "sip:127.0.0.1:%d"; }'
                    % (k, k, k, kport))
    return ('sipxd: { listen = ( { transport = "udp"; address = '
            '"127.0.0.1:%d"; }, { transport = "tcp"; address = '
            '"127.0.0.1:%d"; } ); register_spread = 500; '
            'max_transactions = 200000; };\n'
            'control: { path = "%s"; };\nlog: { level = "info"; };\n'
            'accounts = (\n  %s\n);\n' % (sport, sport, ctl,
                                          ",\n  ".join(accs)))


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1].strip())
        return 2
    sipxd, sipxctl = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    if not shutil.which("kamailio") or not shutil.which("kamcmd"):
        print("reg churn: skipped (no kamailio or kamcmd)")
        return 0
    d = tempfile.mkdtemp(prefix="sipxd-churn.")
    kport, sport = free_port(), free_port()
    ctl, kctl = os.path.join(d, "ctl.sock"), os.path.join(d, "kam.ctl")
    with open(os.path.join(HERE, "kamailio-registrar.cfg")) as f:
        kcfg = f.read()
    for k, v in (("@PORT@", str(kport)), ("@MPATH@", MPATH),
                 ("@CHILDREN@", "2"), ("@RCVBUF@", "4194304"),
                 ("@CTL@", kctl), ("@HASH@", "12")):
        kcfg = kcfg.replace(k, v)
    # The bench's registrar listens on UDP only: TCP accounts too.
    kcfg = kcfg.replace("disable_tcp=yes", "disable_tcp=no")
    kcfg = kcfg.replace("listen=udp:127.0.0.1:%d" % kport,
                        "listen=udp:127.0.0.1:%d\nlisten=tcp:127.0.0.1:%d"
                        % (kport, kport))
    with open(os.path.join(d, "kam.cfg"), "w") as f:
        f.write(kcfg)
    conf = os.path.join(d, "sipxd.conf")
    procs = {}

    def kam_start():
        procs["kam"] = subprocess.Popen(
            ["kamailio", "-f", os.path.join(d, "kam.cfg"), "-DD", "-E",
             "-Y", d, "-P", os.path.join(d, "kam.pid"), "-m", "256"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if kam("core.version") is not None:
                return
            time.sleep(0.05)
        raise RuntimeError("kamailio did not start")

    def kam(*args):
        r = subprocess.run(["kamcmd", "-s", "unix:" + kctl] + list(args),
                           capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def contacts():
        out = kam("stats.get_statistics", "all") or ""
        m = re.search(r"usrloc:location_contacts = (\d+)", out)
        return int(m.group(1)) if m else -1

    def ctl_cmd(*args):
        return subprocess.run([sipxctl, "-s", ctl] + list(args),
                              capture_output=True, text=True)

    def states():
        r = ctl_cmd("--json", "accounts")
        counts = {}
        for a in json.loads(r.stdout)["data"]:
            counts[a["state"]] = counts.get(a["state"], 0) + 1
        return counts

    rnd = random.Random(1)
    rc = 0
    log = open(os.path.join(d, "sipxd.log"), "w")
    try:
        kam_start()
        with open(conf, "w") as f:
            f.write(config(rnd, n, 0, kport, sport, ctl))
        os.chmod(conf, 0o600)
        env = dict(os.environ, LSAN_OPTIONS="suppressions=" + os.path.join(
            HERE, "..", "lsan.supp"))
        procs["sipxd"] = subprocess.Popen([sipxd, "-c", conf], stdout=log,
                                          stderr=subprocess.STDOUT, env=env)
        time.sleep(3)
        print("start: %s; bindings at Kamailio %d" % (states(), contacts()))
        for r in range(1, rounds + 1):
            with open(conf, "w") as f:
                f.write(config(rnd, n, r, kport, sport, ctl))
            ctl_cmd("reload")
            for k in rnd.sample(range(n), 40):
                ctl_cmd(rnd.choice(["register", "unregister", "disable",
                                    "enable"]), "a%d" % k)
            if r == 3:
                procs["kam"].send_signal(signal.SIGTERM)
                procs["kam"].wait(10)
                time.sleep(3)
                kam_start()
            time.sleep(4)
            print("round %d: %s; bindings at Kamailio %d"
                  % (r, states(), contacts()))
        t0 = time.time()
        procs["sipxd"].send_signal(signal.SIGTERM)
        code = procs["sipxd"].wait(20)
        print("SIGTERM: exit %d after %.2f s; bindings left at Kamailio %d"
              % (code, time.time() - t0, contacts()))
        rc = 1 if code != 0 else 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        log.close()
        with open(os.path.join(d, "sipxd.log")) as f:
            bad = [l for l in f if "ERROR: AddressSanitizer" in l or
                   "ERROR: LeakSanitizer" in l or "runtime error:" in l]
        for l in bad[:10]:
            print("sanitizer: " + l.rstrip())
        if bad:
            rc = 1
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
