#!/usr/bin/env python3
"""Local users cannot lock root out (issue 8, section 3).

User `nobody` opens 70 connections to the read-only socket (mode 0666 by
default): it gets control.readonly_max_per_uid of them and `ERR busy` for
the rest, and root's full socket (and root's own read-only connections)
still answer.  Allowed users who fill the full socket leave root two
more slots.  Needs root, to be another user; the test says so
otherwise."""
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import check, check_eq, expect_ctl, run_tests  # noqa: E402

# Run as nobody: open N connections, print what each greeting was, then
# hold them until stdin closes.
HOLDER = r"""
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
held, greetings = [], []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    greetings.append(buf.split(b"\n")[0].decode())
    held.append(s)
for g in greetings:
    print(g)
print("HOLDING", flush=True)
sys.stdin.read()
"""


def as_nobody_possible():
    if os.geteuid() != 0:
        print("  note: not root; the read-only flood needs another user")
        return False
    if not os.stat("/").st_mode & 0o001:
        print("  note: / is not searchable by other users; the 'nobody' "
              "flood needs a normal root directory")
        return False
    return True


def system_python():
    """An interpreter nobody can run (sys.executable may sit in /root)."""
    for p in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(p, os.X_OK):
            return p
    return sys.executable


def hold_as_nobody(env, path, n):
    nobody = pwd.getpwnam("nobody")
    os.chmod(env.tmp, 0o755)
    p = subprocess.Popen([system_python(), "-c", HOLDER, path, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, user=nobody.pw_uid,
                         group=nobody.pw_gid, extra_groups=[])
    lines = []
    while True:
        line = p.stdout.readline().decode()
        if line == "":
            check(False, "holder ended early: %r %s"
                  % (lines, p.stderr.read().decode()))
        line = line.rstrip("\n")
        if line == "HOLDING":
            return p, lines, nobody.pw_uid
        lines.append(line)


def test_readonly_flood(env):
    if not as_nobody_possible():
        return
    d = env.daemon()
    p, greetings, uid = hold_as_nobody(env, d.ro_sock, 70)
    try:
        ok = [g for g in greetings if g.endswith("access=readonly")]
        busy = [g for g in greetings if g.startswith("ERR busy")]
        check_eq((len(ok), len(busy)), (8, 62),
                 "nobody's 70 read-only connections: %r" % greetings[:10])
        check_eq(busy[0], "ERR busy uid %d already has 8 read-only "
                 "connections (max per uid)" % uid, "busy text")
        d.wait_log("control.readonly_max_per_uid")
        # Root is not locked out, on either socket.
        r = expect_ctl(d.ctl("status", json=True), 0,
                       "root's full socket while nobody floods")
        check_eq(r.json()["data"][0]["clients"], 9, "clients")
        c = d.connect()
        check(c.greeting.endswith("access=full"), "raw full connection: %r"
              % c.greeting)
        expect_ctl(d.ctl("status", sock=d.ro_sock), 0,
                   "root's read-only connection while nobody floods")
        for _ in range(20):
            d.connect()
        expect_ctl(d.ctl("version"), 0, "root after 21 more of its own")
    finally:
        p.stdin.close()
        p.wait(10)


def test_readonly_total(env):
    """Several users together stop at control.readonly_max_clients, and
    the full socket keeps its own room."""
    if not as_nobody_possible():
        return
    d = env.daemon(control={"readonly_max_clients": 10,
                            "readonly_max_per_uid": 8, "max_clients": 3})
    ro = [d.connect(readonly=True) for _ in range(4)]
    for c in ro:
        check(c.greeting.endswith("access=readonly"), "root ro %r"
              % c.greeting)
    p, greetings, uid = hold_as_nobody(env, d.ro_sock, 8)
    try:
        ok = [g for g in greetings if g.endswith("access=readonly")]
        check_eq(len(ok), 6, "nobody's share of the rest: %r" % greetings)
        check_eq(greetings[-1], "ERR busy too many read-only control "
                 "clients (max 10)", "busy text")
        full = [d.connect() for _ in range(3)]
        for c in full:
            check(c.greeting.endswith("access=full"), "full %r"
                  % c.greeting)
    finally:
        p.stdin.close()
        p.wait(10)


def test_full_socket_reserve(env):
    """Allowed users filling control.max_clients leave root its reserve
    of 2 connections on the full socket."""
    if not as_nobody_possible():
        return
    d = env.daemon(control={"max_clients": 3, "mode": "0666",
                            "allow_users": ["nobody"]})
    p, greetings, uid = hold_as_nobody(env, d.sock, 5)
    try:
        ok = [g for g in greetings if g.endswith("access=full")]
        check_eq(len(ok), 3, "nobody's full connections: %r" % greetings)
        check_eq(greetings[3], "ERR busy too many control clients (max 3)",
                 "nobody past max_clients")
        r = expect_ctl(d.ctl("status", json=True), 0,
                       "root while nobody holds every slot")
        check_eq(r.json()["data"][0]["clients"], 4, "clients")
        a, b, c = d.connect(), d.connect(), d.connect()
        check(a.greeting.endswith("access=full") and
              b.greeting.endswith("access=full"), "root's two reserved "
              "slots: %r %r" % (a.greeting, b.greeting))
        check_eq(c.greeting, "ERR busy too many control clients (max 3)",
                 "root past its reserve")
    finally:
        p.stdin.close()
        p.wait(10)


TESTS = [
    ("readonly_flood", test_readonly_flood),
    ("readonly_total", test_readonly_total),
    ("full_socket_reserve", test_full_socket_reserve),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
