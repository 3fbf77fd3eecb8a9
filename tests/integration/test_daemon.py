#!/usr/bin/env python3
"""Integration tests of sipxd and sipxctl: the control protocol, the client,
reload, signals, the control socket's life cycle, -t and logging.

Run by `make check` (env SIPXD, SIPXCTL, SIPX_SRCDIR), or by hand:
    SIPXD=build/sipxd SIPXCTL=build/sipxctl python3 tests/integration/test_daemon.py [NAME...]
Prints PASS/FAIL per case and "N passed, M failed"; exit 0, 1 or 77.
"""

import json
import os
import re
import signal
import socket
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sipxtest import (SIPXCTL, SIPXD, SRCDIR, Sipxd, TestFailure, account, check,
                      table_rows,
                      check_eq, expect_ctl, parse_event, run_ctl, run_tests,
                      sanitizer_report, wait_until)

COMMANDS = {"help", "version", "status", "accounts", "account", "register",
            "unregister", "enable", "disable", "reload", "log", "events",
            "options", "transactions", "trace", "quit", "call", "calls",
            "answer", "reject", "hangup", "hold", "unhold", "dtmf", "transfer",
            "peers", "message", "messages", "request",
            "subscribe", "unsubscribe", "subscriptions"}



def package_version():
    with open(os.path.join(SRCDIR, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[sipxd\],\s*\[([^\]]+)\]", f.read())
    check(m is not None, "no AC_INIT version in configure.ac")
    return m.group(1)


VERSION = package_version()

# "key: value" lines of a single-record reply (sipxctl(1), OUTPUT, Text).
KV_LINE = re.compile(r"^([a-z][a-z0-9_.-]*): +(.*)$")


def kv_output(out):
    rec = {}
    for line in out.splitlines():
        m = KV_LINE.match(line)
        check(m is not None, "not a 'key: value' line: %r in %r" % (line, out))
        rec[m.group(1)] = m.group(2)
    return rec


def table_output(out):
    """A sipxctl table as (header, [row dicts])."""
    return table_rows(out.splitlines())


def events_until_sync(conn_or_proc, timeout=5):
    """Lines up to and including the sync event."""
    lines = []
    while True:
        line = conn_or_proc.read_line(timeout)
        check(line is not None, "closed before sync; got %r" % lines)
        lines.append(line)
        body = line[6:] if line.startswith("EVENT ") else line
        if body.startswith("sync ") or body == "sync":
            return lines


def subscribe(d, args="", readonly=False):
    """A raw connection subscribed to events, snapshot consumed;
    returns (conn, snapshot lines)."""
    c = d.connect(readonly=readonly)
    r = c.request(("events " + args).strip())
    check_eq(r.status, "OK subscribed", "events reply")
    snap = events_until_sync(c)
    return c, snap


def seq_of(line):
    return int(parse_event(line)[1]["seq"])


def two_accounts():
    return [account("local", register=False), account("bob")]


# ---- 1. every command through sipxctl --------------------------------------

def doc_commands():
    """Command names in the table of doc/control-protocol.md."""
    names = set()
    with open(os.path.join(SRCDIR, "doc", "control-protocol.md")) as f:
        in_table = False
        for line in f:
            if line.startswith("| command | RO |"):
                in_table = True
                continue
            if in_table:
                m = re.match(r"^\| `([a-z]+)", line)
                if not m:
                    if not line.startswith("| ---"):
                        break
                    continue
                names.add(m.group(1))
    check(names, "no command table found in doc/control-protocol.md")
    return names


def test_cli_help(env):
    d = env.daemon()
    r = expect_ctl(d.ctl("help"), 0, "help")
    header, rows = table_output(r.out)
    check_eq(header, ["COMMAND", "USAGE", "ACCESS", "SUMMARY"], "help header")
    names = [row["COMMAND"] for row in rows]
    check_eq(set(names), COMMANDS, "commands listed by help")
    check_eq(len(names), len(set(names)), "help rows unique")
    for row in rows:
        check(row["USAGE"].split()[0] == row["COMMAND"],
              "usage does not start with the command: %r" % row)
    by = {row["COMMAND"]: row for row in rows}
    check_eq(by["help"]["USAGE"], "help [COMMAND]", "usage of help")
    check_eq(by["log"]["USAGE"], "log level [LEVEL]", "usage of log")
    check_eq(doc_commands(), COMMANDS,
             "commands in doc/control-protocol.md")

    j = expect_ctl(d.ctl("help", json=True), 0, "help --json").json()
    check_eq(j["status"], "OK", "help --json status")
    check_eq([rec["command"] for rec in j["data"]], names,
             "help --json commands")
    for rec in j["data"]:
        check_eq(sorted(rec), ["access", "command", "summary", "usage"],
                 "help record keys")
    for rec in j["data"]:
        check_eq(by[rec["command"]], {"COMMAND": rec["command"],
                                      "USAGE": rec["usage"],
                                      "ACCESS": rec["access"],
                                      "SUMMARY": rec["summary"]},
                 "table row vs --json record")
    access = {rec["command"]: rec["access"] for rec in j["data"]}
    check(access["reload"] != access["status"],
          "reload and status have the same access: %r" % access)
    for c in ("help", "version", "status", "accounts", "events", "quit"):
        check_eq(access[c], access["status"], "access of " + c)

    r = expect_ctl(d.ctl("help", "status"), 0, "help status")
    header, rows = table_output(r.out)
    check_eq([row["COMMAND"] for row in rows], ["status"], "help status rows")
    j = expect_ctl(d.ctl("help", "status", json=True), 0).json()
    check_eq(len(j["data"]), 1, "help status --json records")
    check_eq(j["data"][0]["command"], "status", "help status --json")
    check_eq(j["data"][0]["usage"], "status", "usage of status")

    r = expect_ctl(d.ctl("help", "nosuch"), 1, "help nosuch")
    check_eq(r.out, "", "help nosuch stdout")
    check(r.err.startswith("sipxctl: not-found: ") and "nosuch" in r.err,
          "help nosuch stderr: %r" % r.err)
    r = expect_ctl(d.ctl("help", "nosuch", json=True), 1, "help nosuch json")
    j = r.json()
    check_eq((j["status"], j["code"], j["data"]), ("ERR", "not-found", []),
             "help nosuch --json")
    check("nosuch" in j["message"], "message names it: %r" % j)


def test_cli_version(env):
    d = env.daemon()
    r = expect_ctl(d.ctl("version"), 0, "version")
    rec = kv_output(r.out)
    check_eq(rec.get("version"), VERSION, "version")
    check_eq(rec.get("protocol"), "1", "protocol")
    for k in ("libevent", "openssl", "libconfig"):
        check(rec.get(k), "version lacks %s: %r" % (k, r.out))
    j = expect_ctl(d.ctl("version", json=True), 0).json()
    check_eq((j["status"], j["message"]), ("OK", ""), "version --json")
    check_eq(j["data"][0]["version"], VERSION, "json version")
    check_eq(j["data"][0]["protocol"], 1, "json protocol (a number)")
    check_eq(run_ctl(["-V"]).out.strip(), "sipxctl " + VERSION,
             "sipxctl -V")


def test_cli_status(env):
    d = env.daemon(accounts=two_accounts())
    # First client since start: it is the only one.
    j = expect_ctl(d.ctl("status", json=True), 0, "status --json").json()
    rec = j["data"][0]
    check_eq(rec["pid"], d.pid, "status pid")
    check_eq(rec["accounts"], 2, "status accounts")
    check_eq(rec["clients"], 1, "status clients")
    check_eq(rec["state"], "running", "status state")
    check_eq(rec["log_level"], "info", "status log_level")
    check_eq(rec["config"], d.conf, "status config")
    check_eq((rec["registrations"], rec["calls"], rec["transactions"]),
             (0, 0, 0), "status counts")
    check(re.match(r"^\d+(\.\d+)?$", str(rec["uptime"])), "uptime %r"
          % rec["uptime"])
    r = expect_ctl(d.ctl("status"), 0, "status")
    rec = kv_output(r.out)
    check_eq(rec["pid"], str(d.pid), "status pid (text)")
    check_eq(rec["accounts"], "2", "status accounts (text)")
    check(int(rec["clients"]) >= 1, "clients %r" % rec["clients"])
    check_eq(rec["state"], "running", "status state (text)")


def test_cli_accounts(env):
    # bob registers over TCP with a port nothing listens on: refused at
    # once, so it rests in retry-wait (retry.base 3600 s).
    d = env.daemon(accounts=[account("local", register=False),
                             account("bob", "sip:bob@example.com",
                                     transport="tcp", register=True,
                                     registrar="sip:127.0.0.1:9",
                                     retry={"base": 3600, "max": 3600})])
    wait_until(lambda: d.ctl("accounts", json=True).json()["data"][1]
               ["state"] == "retry-wait", 10)
    r = expect_ctl(d.ctl("accounts"), 0, "accounts")
    header, rows = table_output(r.out)
    # The text table keeps what says which account is down and why;
    # the settings are in --json (test_reg_ctl.py has the rest).
    check_eq(header, ["NAME", "AOR", "STATE", "TARGET", "EXPIRES", "CODE",
                      "REASON", "FAILURES", "NEXT_TRY", "QUALIFY"],
             "accounts header")
    by = {row["NAME"]: row for row in rows}
    check_eq(sorted(by), ["bob", "local"], "account rows")
    check_eq(by["local"]["STATE"], "disabled", "local (register=false)")
    check_eq((by["bob"]["STATE"], by["bob"]["AOR"], by["bob"]["TARGET"]),
             ("retry-wait", "sip:bob@example.com", "TCP 127.0.0.1:9"),
             "bob (register=true)")

    j = expect_ctl(d.ctl("accounts", json=True), 0).json()
    check_eq([rec["name"] for rec in j["data"]], ["local", "bob"],
             "accounts --json names in config order")
    by = {rec["name"]: rec for rec in j["data"]}
    check_eq((by["local"]["state"], by["bob"]["state"]),
             ("disabled", "retry-wait"), "json states")
    check_eq((by["local"]["register"], by["bob"]["register"],
              by["bob"]["transport"], by["bob"]["registrar"]),
             ("no", "yes", "tcp", "sip:127.0.0.1:9"), "json settings")
    check_eq({rec["change"] for rec in j["data"]}, {"unchanged"},
             "change at start-up")
    for rec in j["data"]:
        for k in ("name", "aor", "state", "register", "transport",
                  "registrar", "change"):
            check(k in rec, "accounts record lacks %s: %r" % (k, rec))


def test_cli_log_level(env):
    d = env.daemon()
    check_eq(kv_output(expect_ctl(d.ctl("log", "level"), 0).out),
             {"level": "info"}, "log level")
    j = expect_ctl(d.ctl("log", "level", json=True), 0).json()
    check_eq(j["data"], [{"level": "info"}], "log level --json")
    check_eq(kv_output(expect_ctl(d.ctl("log", "level", "debug"), 0).out),
             {"level": "debug"}, "log level debug")
    check_eq(kv_output(expect_ctl(d.ctl("log", "level"), 0).out),
             {"level": "debug"}, "log level after debug")
    check_eq(d.ctl("status", json=True).json()["data"][0]["log_level"],
             "debug", "status log_level")
    d.wait_log("log level is now debug")
    j = expect_ctl(d.ctl("log", "level", "info", json=True), 0).json()
    check_eq(j["data"], [{"level": "info"}], "log level info --json")
    r = expect_ctl(d.ctl("log", "level", "bogus"), 1, "bogus level")
    check(r.err.startswith("sipxctl: usage: ") and "bogus" in r.err,
          "bogus level stderr: %r" % r.err)
    check_eq(kv_output(d.ctl("log", "level").out), {"level": "info"},
             "level kept after a bogus one")
    expect_ctl(d.ctl("log"), 1, "log without args")
    expect_ctl(d.ctl("log", "lvl"), 1, "log lvl")
    expect_ctl(d.ctl("log", "level", "debug", "x"), 1, "too many args")


def test_cli_reload(env):
    d = env.daemon(accounts=two_accounts())
    r = expect_ctl(d.ctl("reload"), 0, "reload")
    check_eq(kv_output(r.out), {"added": "0", "removed": "0", "changed": "0",
                                "unchanged": "2"}, "reload output")
    j = expect_ctl(d.ctl("reload", json=True), 0).json()
    check_eq(j["data"], [{"added": 0, "removed": 0, "changed": 0,
                          "unchanged": 2}], "reload --json")
    check(d.conf in j["message"], "reload message names the file: %r" % j)


def test_cli_events(env):
    d = env.daemon(accounts=two_accounts())
    p = d.ctl_events()
    check_eq(p.read_line(), "subscribed", "first line of sipxctl events")
    snap = events_until_sync(p)
    types = [parse_event(l)[0] for l in snap]
    check_eq(types, ["daemon.state", "account.state", "account.state",
                     "sync"], "snapshot %r" % snap)
    t, f = parse_event(snap[0])
    check_eq((f["state"], f["pid"], f["version"]),
             ("running", str(d.pid), VERSION), "daemon.state")
    acc = {parse_event(l)[1]["account"]: parse_event(l)[1] for l in snap[1:3]}
    check_eq(acc["local"]["state"], "disabled", "local state")
    check_eq(acc["bob"]["state"], "disabled", "bob state")
    check_eq(acc["bob"]["aor"], "sip:bob@127.0.0.1", "bob aor")
    sync_seq = seq_of(snap[-1])
    for l in snap:
        check_eq(seq_of(l), sync_seq, "snapshot seq of %r" % l)
        check(re.match(r"^\d+\.\d{3}$", parse_event(l)[1]["time"]),
              "time field of %r" % l)

    expect_ctl(d.ctl("log", "level", "debug"), 0)
    line = p.read_line()
    t, f = parse_event(line)
    check_eq((t, f.get("level")), ("daemon.log-level", "debug"),
             "live event %r" % line)
    check_eq(int(f["seq"]), sync_seq + 1, "live seq")

    os.kill(p.pid, signal.SIGINT)
    check_eq(p.wait(5), 0, "sipxctl events exit after SIGINT")
    check_eq(p.stderr_text(), "", "sipxctl events stderr")

    # The same as newline-delimited JSON.
    p = d.ctl_events(json=True)
    first = json.loads(p.read_line())
    check_eq(first, {"status": "OK", "message": "subscribed", "data": []},
             "events --json reply")
    ev = json.loads(p.read_line())
    check_eq((ev["type"], ev["state"], ev["pid"]),
             ("daemon.state", "running", d.pid), "json daemon.state")
    check(isinstance(ev["seq"], int) and isinstance(ev["time"], str),
          "json seq/time types: %r" % ev)
    types = [json.loads(p.read_line())["type"] for _ in range(3)]
    check_eq(types, ["account.state", "account.state", "sync"],
             "json snapshot")
    expect_ctl(d.ctl("log", "level", "info"), 0)
    ev = json.loads(p.read_line())
    check_eq((ev["type"], ev["level"]), ("daemon.log-level", "info"),
             "json live event")
    os.kill(p.pid, signal.SIGINT)
    check_eq(p.wait(5), 0, "sipxctl --json events exit after SIGINT")


def test_cli_events_filter(env):
    accs = [account("alice"), account("bob", register=False),
            account("carol")]
    d = env.daemon(accounts=accs)
    p = d.ctl_events("kind=account", "account=bob")
    check_eq(p.read_line(), "subscribed", "reply")
    snap = events_until_sync(p)
    check_eq(len(snap), 2, "filtered snapshot %r" % snap)
    t, f = parse_event(snap[0])
    check_eq((t, f["account"], f["state"]), ("account.state", "bob",
                                             "disabled"), "snapshot event")

    # Neither daemon events nor other accounts pass the filter.
    expect_ctl(d.ctl("log", "level", "debug"), 0)
    accs[0]["expires"] = 300
    accs[1]["expires"] = 300
    d.write_config(accs)
    expect_ctl(d.ctl("reload"), 0)
    accs[1]["expires"] = 600
    accs[2]["expires"] = 300
    d.write_config(accs)
    expect_ctl(d.ctl("reload"), 0)
    l1, l2 = p.read_line(), p.read_line()
    t1, f1 = parse_event(l1)
    t2, f2 = parse_event(l2)
    check_eq((t1, f1["account"]), ("account.changed", "bob"), "1st: %r" % l1)
    check_eq((t2, f2["account"]), ("account.changed", "bob"), "2nd: %r" % l2)
    check(int(f2["seq"]) > int(f1["seq"]) + 1,
          "the events between were filtered out: %r %r" % (l1, l2))
    os.kill(p.pid, signal.SIGINT)
    check_eq(p.wait(5), 0, "exit after SIGINT")

    r = expect_ctl(d.ctl("events", "kind=bogus"), 1, "events kind=bogus")
    check(r.err.startswith("sipxctl: usage: ") and "bogus" in r.err,
          "kind=bogus stderr: %r" % r.err)
    r = expect_ctl(d.ctl("events", "kind=account,bogus"), 1, "kind list")
    expect_ctl(d.ctl("events", "colour=red"), 1, "events colour=red")

    # Several kinds at once, on a raw connection; then events off.
    c, snap = subscribe(d, "kind=daemon,config")
    check_eq([parse_event(l)[0] for l in snap], ["daemon.state", "sync"],
             "kind=daemon,config snapshot")
    r = c.request("events off")
    check_eq(r.status, "OK unsubscribed", "events off")
    expect_ctl(d.ctl("log", "level", "info"), 0)
    r = c.request("version")
    check(r.ok and c.events == [], "event after events off: %r" % c.events)


def test_cli_quit(env):
    d = env.daemon()
    c = d.connect()
    r = c.request("quit")
    check_eq((r.status, r.lines), ("OK bye", []), "quit reply")
    check_eq(c.read_until_eof(), [], "after quit")
    # Requests pipelined after quit are not answered.
    c = d.connect()
    c.send("quit\nversion\n")
    check_eq(c.reply().status, "OK bye", "pipelined quit")
    check_eq(c.read_until_eof(), [], "lines after a pipelined quit")
    r = expect_ctl(d.ctl("quit"), 0, "sipxctl quit")
    check_eq(r.out, "bye\n", "sipxctl quit output")


# ---- 2. exit codes ------------------------------------------------------------

def test_exit_codes(env):
    d = env.daemon()
    expect_ctl(d.ctl("version"), 0, "OK")
    r = expect_ctl(d.ctl("frobnicate"), 1, "ERR")
    check(r.err.startswith("sipxctl: unknown-command: ") and
          "frobnicate" in r.err, "unknown command stderr %r" % r.err)
    r = expect_ctl(d.ctl("frobnicate", json=True), 1, "ERR --json")
    check_eq(r.json()["code"], "unknown-command", "json code")

    missing = env.path("nothing-here.sock")
    r = expect_ctl(run_ctl(["-s", missing, "status"]), 2, "no socket")
    check("cannot connect" in r.err and "is sipxd running" in r.err and
          missing in r.err, "no socket stderr: %r" % r.err)
    check_eq(r.out, "", "no socket stdout")

    dead = env.path("dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)
    s.close()
    r = expect_ctl(run_ctl(["-s", dead, "status"]), 2, "nobody listening")
    check("cannot connect" in r.err and "is sipxd running" in r.err,
          "refused stderr: %r" % r.err)

    r = expect_ctl(run_ctl(["--bogus"]), 2, "usage error")
    check("usage" in r.err, "--bogus stderr: %r" % r.err)
    r = expect_ctl(run_ctl(["-s", d.sock]), 2, "no command, no terminal")
    check("usage" in r.err, "no command stderr: %r" % r.err)

    # SIPXCTL_SOCKET, and -s winning over it.
    r = expect_ctl(run_ctl(["version"], env={"SIPXCTL_SOCKET": d.sock}), 0,
                   "SIPXCTL_SOCKET")
    expect_ctl(run_ctl(["-s", d.sock, "version"],
                       env={"SIPXCTL_SOCKET": missing}), 0, "-s wins")
    expect_ctl(run_ctl(["version"], env={"SIPXCTL_SOCKET": missing}), 2,
               "SIPXCTL_SOCKET to nothing")


def test_ctl_timeout(env):
    """A socket that accepts and never greets: sipxctl gives up after its
    connect-and-greeting timeout with a clear message, exit status 2."""
    mute = env.path("mute.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(mute)
    srv.listen(16)
    held = []
    try:
        for args, env_, want in ((["-t", "1"], None, 1),
                                 (["--timeout", "0.5"], None, 0.5),
                                 ([], {"SIPXCTL_TIMEOUT": "1"}, 1),
                                 ([], None, 5)):
            t0 = time.monotonic()
            r = expect_ctl(run_ctl(args + ["-s", mute, "status"], env=env_,
                                   timeout=15), 2, "mute socket %r" % args)
            took = time.monotonic() - t0
            check(want - 0.1 <= took < want + 2, "gave up after %.2f s, "
                  "want %g" % (took, want))
            check("sent no greeting within %g s" % want in r.err and
                  mute in r.err, "stderr %r" % r.err)
            conn, _ = srv.accept()
            held.append(conn)
    finally:
        for c in held:
            c.close()
        srv.close()
    for bad in ("0", "x", "-1", "1e9"):
        r = expect_ctl(run_ctl(["-t", bad, "-s", mute, "status"]), 2,
                       "-t %s" % bad)
        check("-t: '%s' is not a number of seconds" % bad in r.err,
              "stderr %r" % r.err)
    # A daemon that greets is not affected by a short timeout, even for a
    # command whose result takes longer.
    d = env.daemon()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    r = run_ctl(["-t", "0.5", "-s", d.sock, "options",
                 "sip:127.0.0.1:%d" % silent.getsockname()[1], "timeout=1"])
    silent.close()
    check(r.rc == 1 and "no answer within 1 s" in r.err, "options: %r" % r)


# ---- 3. the raw protocol ------------------------------------------------------

def test_proto_greeting(env):
    d = env.daemon()
    c = d.connect()
    m = re.match(r"^SIPXD protocol=1 version=(\S+) access=full$", c.greeting)
    check(m is not None, "greeting %r" % c.greeting)
    check_eq(m.group(1), VERSION, "greeting version")
    r = c.request("version")
    check(r.ok and r.records[0]["version"] == VERSION, "version %r" % r)


def test_proto_bad_lines(env):
    d = env.daemon()
    c = d.connect()
    r = c.request('status "x')
    check(r.status.startswith("ERR syntax ") and r.lines == [],
          "unbalanced quote: %r" % r)
    r = c.request("version")
    check(r.ok and r.records[0]["version"] == VERSION,
          "same connection after ERR syntax: %r" % r)

    for bad in (b"version\x01", b"ver\x00sion", b"help \x7f", b"status\x1b[A",
                b'help "a\x02b"', b'help "a\\qb"'):
        c.send(bad + b"\n")
        r = c.reply()
        check(r.status.startswith("ERR syntax "), "%r: %r" % (bad, r))
    check("control character" in c.request("version\x01").status,
          "control character named")

    # Empty and blank lines get no reply at all.
    c.send(b"\n\n   \n\t\n\r\nversion\n")
    r = c.reply()
    check(r.ok and "version" in r.records[0], "after empty lines: %r" % r)
    r = c.request("status")
    check(r.ok and "pid" in r.records[0], "next reply is status: %r" % r)

    # CR LF, tabs.
    c.send(b"version\r\n")
    check_eq(c.reply().records[0]["version"], VERSION, "CR LF")
    r = c.request("help\tstatus")
    check_eq([x["command"] for x in r.records], ["status"], "tab")

    r = c.request("frobnicate")
    check_eq(r.status, "ERR unknown-command 'frobnicate' is not a command; "
             "'help' lists them", "unknown command")
    r = c.request("version extra")
    check(r.status.startswith("ERR usage ") and "version" in r.status,
          "extra argument: %r" % r)
    r = c.request("STATUS")
    check_eq(r.code, "unknown-command", "commands are case-sensitive")

    # 64 tokens are allowed (then help's arity says usage); 65 are not.
    r = c.request("help" + " x" * 63)
    check_eq(r.code, "usage", "64 tokens")
    r = c.request("help" + " x" * 64)
    check_eq(r.code, "syntax", "65 tokens")
    r = c.request("version")
    check(r.ok, "still usable: %r" % r)


def test_proto_too_long(env):
    d = env.daemon()
    other = d.connect()

    c = d.connect()
    c.send(b"x" * 5000)
    r = c.reply()
    check(r.status.startswith("ERR too-long "), "5000 bytes, no LF: %r" % r)
    check_eq(c.read_until_eof(), [], "closed after too-long (no LF)")

    c = d.connect()
    c.send(b"help " + b"x" * 4995 + b"\n")
    r = c.reply()
    check(r.status.startswith("ERR too-long "), "5000 bytes + LF: %r" % r)
    check_eq(c.read_until_eof(), [], "closed after too-long (LF)")

    # A valid request before it in the same write is still answered.
    c = d.connect()
    c.send(b"version\n" + b"y" * 5000 + b"\n")
    check(c.reply().ok, "request before the long line")
    check(c.reply().status.startswith("ERR too-long "), "then too-long")
    check_eq(c.read_until_eof(), [], "closed")

    # The limit counts the LF: 4096 bytes pass, 4097 do not.
    c = d.connect()
    c.send(b"help " + b"z" * 4090 + b"\n")
    check_eq(c.reply().code, "not-found", "4096-byte line")
    c.send(b"help " + b"z" * 4090)          # 4095 bytes, LF comes later
    time.sleep(0.1)
    c.send(b"\n")
    check_eq(c.reply().code, "not-found", "4096-byte line in two writes")
    check(c.request("version").ok, "usable after 4096-byte lines")
    c.send(b"help " + b"z" * 4091 + b"\n")
    check(c.reply().status.startswith("ERR too-long "), "4097-byte line")
    check_eq(c.read_until_eof(), [], "closed after 4097 bytes")
    # The same with the LF in the second write: the server then sees the
    # whole line at once rather than 4096 bytes without an end.
    c = d.connect()
    c.send(b"help " + b"z" * 95)
    time.sleep(0.1)
    c.send(b"z" * 3995 + b"\n")
    check_eq(c.reply().code, "not-found", "4096 bytes as 100 + 3996")
    c.send(b"help " + b"z" * 95)
    time.sleep(0.1)
    c.send(b"z" * 3996 + b"\n")
    check(c.reply().status.startswith("ERR too-long "),
          "4097 bytes as 100 + 3997")
    check_eq(c.read_until_eof(), [], "closed after 4097 bytes in two")

    r = other.request("version")
    check(r.ok and r.records[0]["version"] == VERSION,
          "other client unaffected: %r" % r)
    check(d.connect().request("status").ok, "new client")
    d.wait_log("longer than 4096")


def test_proto_pipelining(env):
    d = env.daemon()
    c = d.connect()
    c.send("version\n" * 100)
    for i in range(100):
        r = c.reply()
        check(r.ok and r.records == [r.records[0]] and
              r.records[0]["version"] == VERSION, "reply %d: %r" % (i, r))
    check(c.request("status").records[0]["pid"] == str(d.pid),
          "no extra replies after 100")

    # Distinct requests come back in order.
    names = sorted(COMMANDS) * 13
    c.send("".join("help %s\n" % n for n in names))
    got = [c.reply().records[0]["command"] for _ in names]
    check_eq(got, names, "pipelined help replies in order")
    c.send("version\nstatus\nfrobnicate\nlog level\naccounts\n")
    r = [c.reply() for _ in range(5)]
    check("version" in r[0].records[0] and "pid" in r[1].records[0] and
          r[2].code == "unknown-command" and
          r[3].records == [{"level": "info"}] and
          r[4].records[0]["name"] == "local", "mixed pipeline: %r" % r)


def test_proto_quoting(env):
    d = env.daemon()
    c = d.connect()
    for req in ('help "status"', 'help "sta"tus', 'help sta"tus"',
                'help ""status', 'help  \t "status"  '):
        r = c.request(req)
        check(r.ok and [x["command"] for x in r.records] == ["status"],
              "%s: %r" % (req, r))
    r = c.request('help "no such"')
    check_eq(r.status, "ERR not-found no command 'no such'; 'help' lists "
             "them", "quoted space")
    r = c.request('help "a\\"b\\\\c"')
    check_eq(r.status, "ERR not-found no command 'a\"b\\c'; 'help' lists "
             "them", "escapes")
    # Values with spaces come back quoted.
    r = c.request("help status")
    check('summary="uptime, pid, config file' in r.lines[0],
          "quoted value in %r" % r.lines[0])
    check_eq(r.records[0]["summary"],
             "uptime, pid, config file and counts of what sipxd holds",
             "unquoted summary")
    # sipxctl quotes each argument so it reaches the daemon as one token.
    res = expect_ctl(d.ctl("help", "no such"), 1, "sipxctl quoting")
    check("'no such'" in res.err, "sipxctl quoted arg: %r" % res.err)
    res = expect_ctl(d.ctl("help", 'a"b'), 1, "sipxctl quoting a quote")
    check("'a\"b'" in res.err, "sipxctl quoted quote: %r" % res.err)


# ---- 4. the read-only socket --------------------------------------------------

def test_readonly_socket(env):
    d = env.daemon(accounts=two_accounts())
    check_eq(os.stat(d.sock).st_mode & 0o7777, 0o660, "mode of the socket")
    check_eq(os.stat(d.ro_sock).st_mode & 0o7777, 0o666,
             "mode of the read-only socket")
    c = d.connect(readonly=True)
    check_eq(c.greeting, "SIPXD protocol=1 version=%s access=readonly"
             % VERSION, "read-only greeting")
    check_eq(c.request("status").records[0]["pid"], str(d.pid), "status")
    check_eq(len(c.request("accounts").records), 2, "accounts")
    check_eq(len(c.request("help").records), len(COMMANDS), "help")
    check(c.request("version").ok, "version")
    check_eq(c.request("log level").records, [{"level": "info"}],
             "log level (show)")
    r = c.request("reload")
    check_eq(r.code, "denied", "reload on read-only: %r" % r)
    r = c.request("log level debug")
    check_eq(r.code, "denied", "log level debug on read-only: %r" % r)
    check_eq(c.request("log level").records, [{"level": "info"}],
             "level unchanged")
    check("reloading" not in d.stderr_text(), "a denied reload reloaded")
    r = c.request("events")
    check_eq(r.status, "OK subscribed", "events on read-only")
    snap = events_until_sync(c)
    check_eq(len(snap), 4, "read-only snapshot %r" % snap)
    check_eq(c.request("events off").status, "OK unsubscribed", "events off")
    check_eq(c.request("quit").status, "OK bye", "quit")

    r = expect_ctl(d.ctl("status", sock=d.ro_sock), 0, "sipxctl status ro")
    check_eq(kv_output(r.out)["pid"], str(d.pid), "ro status pid")
    r = expect_ctl(d.ctl("reload", sock=d.ro_sock), 1, "sipxctl reload ro")
    check(r.err.startswith("sipxctl: denied: "), "denied stderr %r" % r.err)
    r = expect_ctl(d.ctl("log", "level", "debug", sock=d.ro_sock), 1,
                   "sipxctl log level debug ro")
    check(r.err.startswith("sipxctl: denied: "), "denied stderr %r" % r.err)
    r = expect_ctl(d.ctl("log", "level", sock=d.ro_sock), 0, "log level ro")
    check_eq(kv_output(r.out), {"level": "info"}, "ro log level")
    # The full socket still may.
    expect_ctl(d.ctl("log", "level", "debug"), 0, "full socket")


def test_peer_credentials(env):
    """control.allow_users: other users get ERR denied on the full socket
    but are served on the read-only one (needs root to be another user)."""
    me = os.geteuid()
    d = env.daemon(control={"mode": "0666", "allow_users": ["0"]})
    expect_ctl(d.ctl("status"), 0, "own user (uid %d) allowed" % me)
    if me != 0:
        return
    if not os.stat("/").st_mode & 0o001:
        # A chroot whose / is 0700 (tools/fresh-debian): no other user can
        # load libc there, so the other-user half cannot run.  Say so.
        print("  note: / is not searchable by other users; the 'nobody' "
              "half of peer_credentials needs a normal root directory")
        return
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.chmod(env.tmp, 0o755)
    # The build tree may sit where nobody cannot reach (/root): a copy.
    ctl_copy = os.path.join(env.tmp, "sipxctl")
    shutil.copy(SIPXCTL, ctl_copy)
    os.chmod(ctl_copy, 0o755)
    as_nobody = {"user": nobody.pw_uid, "group": nobody.pw_gid,
                 "extra_groups": [], "binary": ctl_copy}
    r = expect_ctl(run_ctl(["-s", d.sock, "status"], **as_nobody), 2,
                   "nobody on the full socket")
    check("refused the connection: denied" in r.err and
          str(nobody.pw_uid) in r.err, "denied stderr %r" % r.err)
    d.wait_log("not in control.allow_users")
    r = expect_ctl(run_ctl(["-s", d.ro_sock, "status"], **as_nobody), 0,
                   "nobody on the read-only socket")
    expect_ctl(d.ctl("status"), 0, "root after a refusal")

    d2 = env.daemon(name="second", control={"mode": "0666",
                                            "allow_users": ["nobody"]})
    expect_ctl(run_ctl(["-s", d2.sock, "status"], **as_nobody), 0,
               "nobody when listed")


# ---- 5. many clients ----------------------------------------------------------

def test_clients_50(env):
    d = env.daemon()
    conns = [d.connect() for _ in range(50)]
    for i, c in enumerate(conns):
        check(c.greeting.startswith("SIPXD protocol=1 "),
              "client %d greeting %r" % (i, c.greeting))
    for c in conns:
        c.send("status\n")
    for i, c in enumerate(conns):
        r = c.reply()
        check(r.ok, "client %d: %r" % (i, r))
        check_eq(r.records[0]["pid"], str(d.pid), "client %d pid" % i)
        check_eq(r.records[0]["clients"], "50", "client %d clients" % i)
    for c in conns:
        c.close()
    check(wait_until(lambda: d.ctl("status", json=True).json()["data"][0]
                     ["clients"] == 1, 5),
          "clients not back to 1 after 50 closed")


def test_clients_max(env):
    d = env.daemon(control={"max_clients": 5, "readonly_max_clients": 5,
                            "readonly_max_per_uid": 5})
    # Root (these tests' user) has 2 slots beyond max_clients.
    conns = [d.connect() for _ in range(7)]
    for c in conns:
        check(c.greeting.startswith("SIPXD "), "greeting %r" % c.greeting)
    extra = d.connect()
    check_eq(extra.greeting, "ERR busy too many control clients (max 5)",
             "8th client")
    check_eq(extra.read_until_eof(), [], "8th client closed")
    r = expect_ctl(d.ctl("status"), 2, "sipxctl when busy")
    check("busy" in r.err, "sipxctl busy stderr %r" % r.err)
    # The read-only socket has its own room.
    ro = [d.connect(readonly=True) for _ in range(5)]
    for c in ro:
        check(c.greeting.endswith("access=readonly"), "read-only greeting "
              "while the full socket is full: %r" % c.greeting)
    extra = d.connect(readonly=True)
    check_eq(extra.greeting, "ERR busy too many read-only control clients "
             "(max 5)", "6th read-only client")
    check_eq(extra.read_until_eof(), [], "6th read-only client closed")
    for i, c in enumerate(conns):
        r = c.request("status")
        check(r.ok and r.records[0]["clients"] == "12",
              "client %d after refusals: %r" % (i, r))
    d.wait_log("control.max_clients")
    d.wait_log("control.readonly_max_clients")
    # A freed slot is usable again.
    check_eq(conns[0].request("quit").status, "OK bye", "quit")
    check_eq(conns[0].read_until_eof(), [], "closed")
    c = d.connect()
    check(c.greeting.endswith("access=full"), "slot reused: %r"
          % c.greeting)


# ---- 6. a client that does not read ------------------------------------------

def test_slow_client(env):
    d = env.daemon(control={"output_limit": 65536})
    slow = d.connect(rcvbuf=4096)
    slow.send("events\n")
    gen = d.connect()
    batch = "log level debug\nlog level info\n" * 250
    # About 3000 changes fill the kernel's buffer and 64 KiB more; stop
    # trying well beyond that.
    deadline = time.monotonic() + 15
    sent = 0
    while "output_limit" not in d.stderr_text():
        check(time.monotonic() < deadline and sent < 100000,
              "slow client not cut off after %d changes; log tail: %s"
              % (sent, d.stderr_text()[-500:]))
        gen.send(batch)
        for _ in range(500):
            r = gen.reply()
            check(r.ok, "generator reply %r" % r)
        sent += 500
    log = d.stderr_text()
    check(re.search(r"control client \d+ .*over control\.output_limit; "
                    r"disconnecting it", log), "log line: %s" % log[-500:])
    r = gen.request("version")
    check(r.ok and r.records[0]["version"] == VERSION,
          "generator after the cut: %r" % r)
    rec = d.connect().request("status").records[0]
    check_eq((rec["clients"], rec["subscribers"]), ("2", "0"),
             "clients/subscribers after the cut")
    # The slow client sees what the kernel held, then EOF.
    slow.sock.settimeout(10)
    data = b""
    while True:
        chunk = slow.sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    check(data.startswith(b"OK subscribed\n.\nEVENT daemon.state "),
          "slow client's stream starts %r" % data[:80])


def test_subscriber_unread_replies(env):
    """Replies a subscriber has not read yet do not count towards
    control.output_limit: a subscriber paused on pipelined replies far
    bigger than the limit gets every reply, and the live events that
    came meanwhile, once it reads."""
    # One reply bigger than the kernel's socket buffer (about 200 KiB)
    # and the limit together: it stays queued in the daemon.
    accts = [account("a%04d" % i, register=False) for i in range(5000)]
    d = env.daemon(accounts=accts, control={"output_limit": 65536},
                   log_level="debug")
    gen = d.connect()
    size = len("\n".join(gen.request("accounts").lines))
    check(size > 4 * 65536 + 212992, "one accounts reply is %d bytes"
          % size)
    n = 3
    sub = d.connect(rcvbuf=4096)
    r = sub.request("events kind=daemon")
    check(r.ok, "subscribe: %r" % r)
    sub.send("accounts\n" * n)
    # The daemon writes what the kernel takes, then pauses for good
    # with the rest queued: wait until it stays paused.
    last, deadline = None, time.monotonic() + 15
    while True:
        log = d.stderr_text()
        state = (log.count("(replies unread)"), log.count("(replies read)"))
        if state == last and state[0] == state[1] + 1:
            break
        check(time.monotonic() < deadline, "subscriber never stayed "
              "paused: %r" % (state,))
        last = state
        time.sleep(0.5)
    # Live events while the batch's replies sit unread.
    for level in ("info", "debug") * 5:
        check(gen.request("log level " + level).ok, "log level " + level)
    check(gen.request("version").ok, "generator")
    for i in range(n):
        r = sub.reply()
        check(r.ok and len(r.records) == 5000, "reply %d of %d: %r"
              % (i + 1, n, r.status))
    got = [e for e in sub.events if e.startswith("EVENT daemon.log-level ")]
    while len(got) < 10:
        e = sub.next_event()
        if e.startswith("EVENT daemon.log-level "):
            got.append(e)
    check("over control.output_limit" not in d.stderr_text(),
          "subscriber cut off: %s" % d.stderr_text()[-500:])
    check(sub.request("version").ok, "subscriber still served")


# ---- 7. reload ----------------------------------------------------------------

def test_reload_diff(env):
    accs = [account("alice"), account("bob"),
            account("carol", register=False)]
    d = env.daemon(accounts=accs)
    sub, _ = subscribe(d)
    # alice stays, bob goes, carol changes, dave comes (none registers:
    # test_reg_kamailio.py reloads registering accounts).
    new = [account("alice"), account("carol", expires=300),
           account("dave")]
    d.write_config(new)
    r = expect_ctl(d.ctl("reload"), 0, "reload")
    check_eq(kv_output(r.out), {"added": "1", "removed": "1", "changed": "1",
                                "unchanged": "1"}, "reload counts")

    j = expect_ctl(d.ctl("accounts", json=True), 0).json()
    check_eq([(a["name"], a["change"], a["state"]) for a in j["data"]],
             [("alice", "unchanged", "disabled"),
              ("carol", "changed", "disabled"),
              ("dave", "added", "disabled")], "accounts after reload")
    # The text table leaves the reload's mark to --json and `account`.
    header, rows = table_output(expect_ctl(d.ctl("accounts"), 0).out)
    check_eq([row["NAME"] for row in rows], ["alice", "carol", "dave"],
             "accounts rows after reload")
    check_eq({n: kv_output(expect_ctl(d.ctl("account", n), 0).out)["change"]
              for n in ("alice", "carol", "dave")},
             {"alice": "unchanged", "carol": "changed", "dave": "added"},
             "account NAME change")

    evs = []
    while not evs or evs[-1][0] != "daemon.state" or \
            evs[-1][1]["state"] != "running":
        evs.append(parse_event(sub.next_event()))
    types = [t for t, _ in evs]
    check_eq(types[0], "daemon.state", "first event %r" % types)
    check_eq(evs[0][1]["state"], "reloading", "state while reloading")
    want = {("account.removed", "bob"), ("account.added", "dave"),
            ("account.changed", "carol"), ("account.state", "dave")}
    got = {(t, f.get("account")) for t, f in evs if t.startswith("account.")}
    check_eq(got, want, "account events")
    states = {f["account"]: f["state"] for t, f in evs
              if t == "account.state"}
    check_eq(states, {"dave": "disabled"},
             "account.state events")
    rel = [f for t, f in evs if t == "config.reloaded"]
    check_eq(len(rel), 1, "config.reloaded events %r" % types)
    check_eq({k: rel[0][k] for k in ("file", "added", "removed", "changed",
                                     "unchanged")},
             {"file": d.conf, "added": "1", "removed": "1", "changed": "1",
              "unchanged": "1"}, "config.reloaded fields")
    seqs = [int(f["seq"]) for _, f in evs]
    check_eq(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
             "seq rises by one")
    f = dict(evs)["account.removed"]
    check_eq(f["aor"], "sip:bob@127.0.0.1", "removed aor")


def test_reload_bad_file(env):
    accs = [account("alice"), account("local", register=False)]
    d = env.daemon(accounts=accs)
    before = expect_ctl(d.ctl("accounts", json=True), 0).json()
    sub, _ = subscribe(d)

    text = d.config_text(accs).replace(
        'name = "alice";', 'name = "alice";\n    bogus_key = 1;\n'
        '    expires = "600";')
    d.write_config_text(text)
    lines = text.splitlines()
    l_unknown = 1 + next(i for i, l in enumerate(lines) if "bogus_key" in l)
    l_type = 1 + next(i for i, l in enumerate(lines) if 'expires = "600"'
                      in l)

    r = expect_ctl(d.ctl("reload"), 1, "reload of a bad file")
    check(r.err.startswith("sipxctl: failed: "), "stderr %r" % r.err)
    check_eq(r.out, "", "stdout of a failed reload")
    errs = [l.strip() for l in r.err.splitlines()[1:]]
    check(any(e.startswith("%s:%d: " % (d.conf, l_unknown)) and
              "bogus_key" in e for e in errs),
          "unknown key at line %d in %r" % (l_unknown, errs))
    check(any(e.startswith("%s:%d: " % (d.conf, l_type)) and
              "expires" in e for e in errs),
          "wrong type at line %d in %r" % (l_type, errs))
    j = expect_ctl(d.ctl("reload", json=True), 1, "--json").json()
    check_eq((j["status"], j["code"]), ("ERR", "failed"), "json status")
    check_eq(sorted(k for rec in j["data"] for k in rec), ["error", "error"],
             "json error records %r" % j["data"])

    after = expect_ctl(d.ctl("accounts", json=True), 0).json()
    check_eq(after, before, "accounts kept")
    f = sub.wait_event("config.reload-failed")
    check_eq(f["file"], d.conf, "reload-failed file")
    check(f["error"].startswith(d.conf + ":"), "reload-failed error %r" % f)
    check_eq(d.ctl("status", json=True).json()["data"][0]["state"],
             "running", "state after a failed reload")
    d.wait_log("keeping the running config")


def test_reload_sighup(env):
    accs = [account("local", register=False)]
    d = env.daemon(accounts=accs)
    sub, _ = subscribe(d, "kind=config,account")
    d.write_config(accs + [account("eve")])
    d.signal(signal.SIGHUP)
    f = sub.wait_event("config.reloaded")
    check_eq((f["added"], f["unchanged"]), ("1", "1"), "SIGHUP reload")
    j = d.ctl("accounts", json=True).json()
    check_eq([(a["name"], a["change"]) for a in j["data"]],
             [("local", "unchanged"), ("eve", "added")], "accounts")
    d.write_config_text("accounts = ( { name = 1; } );\n")
    d.signal(signal.SIGHUP)
    f = sub.wait_event("config.reload-failed")
    check(f["error"].startswith(d.conf + ":1: "), "error %r" % f)
    check_eq(len(d.ctl("accounts", json=True).json()["data"]), 2,
             "accounts kept after a bad SIGHUP")


# ---- 8. stopping, stale and busy socket files ----------------------------------

def test_sigterm_clean(env):
    d = env.daemon()
    sub, _ = subscribe(d, "kind=daemon")
    follower = d.ctl_events("kind=daemon")
    check_eq(follower.read_line(), "subscribed", "sipxctl events")
    events_until_sync(follower)
    d.signal(signal.SIGTERM)
    rc = d.wait()
    check(rc is not None, "sipxd still running after SIGTERM")
    d.check_clean()
    check_eq(rc, 0, "exit status")
    lines = sub.read_until_eof()
    check(any(parse_event(l)[0] == "daemon.state" and
              parse_event(l)[1]["state"] == "stopping" for l in lines),
          "subscriber did not see state=stopping: %r" % lines)
    line = follower.read_line()
    check(line is not None and line.startswith("daemon.state ") and
          "state=stopping" in line, "sipxctl events saw %r" % line)
    # Losing the daemon is an error for a follower (sipxctl(1): status 2).
    check_eq(follower.wait(5), 2, "sipxctl events after the daemon stopped")
    check("closed the connection" in follower.stderr_text(),
          "sipxctl events stderr %r" % follower.stderr_text())
    check(not os.path.exists(d.sock), "socket file left behind")
    check(not os.path.exists(d.ro_sock), "read-only socket file left behind")
    log = d.stderr_text()
    check("stopping (SIGTERM)" in log and re.search(r": stopped$", log, re.M),
          "stop not logged: %s" % log[-500:])

    d2 = env.daemon(name="second")
    d2.signal(signal.SIGINT)
    check_eq(d2.wait(), 0, "exit status after SIGINT")
    d2.check_clean()
    check(not os.path.exists(d2.sock), "socket left after SIGINT")


def test_stale_socket(env):
    d = Sipxd(env)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.sock)
    s.close()
    check(os.path.exists(d.sock), "stale socket file made")
    d.start()
    expect_ctl(d.ctl("status"), 0, "status on a replaced stale socket")
    d.wait_log("removing stale socket")


def test_socket_in_use(env):
    d = env.daemon()
    d2 = Sipxd(env, name="second", control={"path": d.sock})
    d2.expect_clean = False
    d2.spawn()
    rc = d2.wait()
    check(rc is not None and rc != 0, "second sipxd exit status %r" % rc)
    d2.check_clean()
    check("in use" in d2.stderr_text(), "second sipxd stderr: %s"
          % d2.stderr_text())
    check(os.path.exists(d.sock), "first sipxd's socket removed")
    j = expect_ctl(d.ctl("status", json=True), 0, "first sipxd").json()
    check_eq(j["data"][0]["pid"], d.pid, "first still answers")

    # A file that is not a socket is never removed.
    d3 = Sipxd(env, name="third")
    with open(d3.sock, "w") as f:
        f.write("precious\n")
    d3.expect_clean = False
    d3.spawn()
    rc = d3.wait()
    check(rc is not None and rc != 0, "not-a-socket exit status %r" % rc)
    d3.check_clean()
    check("not a socket" in d3.stderr_text(), "stderr: %s"
          % d3.stderr_text())
    with open(d3.sock) as f:
        check_eq(f.read(), "precious\n", "file at the socket path")


# ---- 9. sipxd -t and the command line -------------------------------------------

def run_sipxd(args, timeout=10):
    try:
        p = subprocess.run([SIPXD] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("sipxd %s did not exit within %d s"
                          % (" ".join(args), timeout))
    out, err = p.stdout.decode(), p.stderr.decode()
    san = sanitizer_report(err)
    check(san is None, "sipxd %s: sanitizer report %s\n%s"
          % (" ".join(args), san, err))
    return p.returncode, out, err


def test_check_config(env):
    conf = os.path.join(SRCDIR, "etc", "sipxd.conf")
    rc, out, err = run_sipxd(["-t", "-c", conf])
    check_eq(rc, 0, "sipxd -t etc/sipxd.conf (stderr %r)" % err)
    check("ok" in out, "-t output %r" % out)

    bad = env.path("bad.conf")
    sock = env.path("never.sock")
    text = ('control: { path = "%s"; };\n'     # 1
            'accounts = (\n'                   # 2
            '  { name = "a"; aor = "sip:a@h";\n'   # 3
            '    bogus_key = 1;\n'             # 4
            '    expires = "600"; },\n'        # 5
            '  { name = "a"; aor = "sip:b@h"; }\n'  # 6
            ');\n' % sock)
    with open(bad, "w") as f:
        f.write(text)
    rc, out, err = run_sipxd(["-t", "-c", bad])
    check(rc != 0, "-t on a bad file exit %d" % rc)
    lines = err.splitlines()
    for line_no, key in ((4, "bogus_key"), (5, "expires"), (6, "name")):
        check(any(l.startswith("%s:%d: " % (bad, line_no)) and key in l
                  for l in lines), "no %s:%d: error naming %s in %r"
              % (bad, line_no, key, err))
    check(any("unknown key" in l for l in lines), "unknown key %r" % err)
    check(any("duplicate" in l for l in lines), "duplicate name %r" % err)
    check(not os.path.exists(sock), "-t created the control socket")

    rc, out, err = run_sipxd(["-t", "-c", env.path("missing.conf")])
    check(rc != 0 and env.path("missing.conf") + ":" in err,
          "-t on a missing file: %d %r" % (rc, err))
    syn = env.path("syntax.conf")
    with open(syn, "w") as f:
        f.write("log: { level = \"info\" };\naccounts = ( { name = ; } );\n")
    rc, out, err = run_sipxd(["-t", "-c", syn])
    check(rc != 0 and re.search(r"^%s:\d+: " % re.escape(syn), err, re.M),
          "-t on a syntax error: %d %r" % (rc, err))

    # A password readable by everyone is a warning, not an error.
    pw = env.path("pw.conf")
    with open(pw, "w") as f:
        f.write('control: { path = "%s"; };\naccounts = ( { name = "a"; '
                'aor = "sip:a@h"; password = "s"; } );\n' % sock)
    os.chmod(pw, 0o644)
    rc, out, err = run_sipxd(["-t", "-c", pw])
    check(rc == 0 and "readable" in err and err.startswith(pw + ":"),
          "-t with a world-readable password: %d %r" % (rc, err))

    # A bad file stops a real start too, before any socket.
    rc, out, err = run_sipxd(["-c", bad])
    check(rc == 1 and "bogus_key" in err and not os.path.exists(sock),
          "start with a bad file: %d %r" % (rc, err))


def test_options(env):
    rc, out, err = run_sipxd(["-V"])
    check_eq((rc, out), (0, "sipxd %s\n" % VERSION), "sipxd -V")
    rc, out, err = run_sipxd(["-h"])
    check(rc == 0 and out.startswith("usage: sipxd"), "sipxd -h: %d %r"
          % (rc, out))
    rc, out, err = run_sipxd(["-x"])
    check(rc != 0 and "usage" in err, "sipxd -x: %d %r" % (rc, err))
    rc, out, err = run_sipxd(["extra"])
    check(rc != 0 and "usage" in err, "sipxd extra: %d %r" % (rc, err))

    # -d: debug, whatever the file or a reload says.
    d = env.daemon(name="debug", start=False).start(args=["-d"])
    check_eq(d.ctl("log", "level", json=True).json()["data"][0]["level"],
             "debug", "level with -d")
    expect_ctl(d.ctl("reload"), 0)
    check_eq(d.ctl("log", "level", json=True).json()["data"][0]["level"],
             "debug", "level with -d after reload")
    check(re.search(r": debug: control client \d+ connected",
                    d.stderr_text()), "debug lines with -d")


# ---- 10. log format -------------------------------------------------------------

TS_LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sipxd\[%d\]: " \
          r"(error|warning|notice|info|debug): \S"


def test_log_timestamps(env):
    d = env.daemon()
    pid = d.pid
    d.stop()
    lines = d.stderr_text().splitlines()
    check(len(lines) >= 3, "too few log lines %r" % lines)
    bad = [l for l in lines if not re.match(TS_LINE % pid, l)]
    check(not bad, "lines without the timestamp format: %r" % bad)
    check(any(re.search(r": notice: sipxd %s started" % re.escape(VERSION), l)
              for l in lines), "start line %r" % lines)

    # JOURNAL_STREAM naming another stream changes nothing.
    d = env.daemon(name="other", start=False)
    d.start(env={"JOURNAL_STREAM": "1:1"})
    pid = d.pid
    d.stop()
    lines = d.stderr_text().splitlines()
    bad = [l for l in lines if not re.match(TS_LINE % pid, l)]
    check(lines and not bad, "JOURNAL_STREAM of another file: %r" % bad)


def test_log_journal(env):
    d = env.daemon(start=False)
    with open(d.stderr_path, "wb") as f:
        st = os.fstat(f.fileno())
        d.start(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)},
                stderr_fd=f)
    expect_ctl(d.ctl("log", "level", "debug"), 0)
    d.stop()
    lines = d.stderr_text().splitlines()
    check(len(lines) >= 4, "too few log lines %r" % lines)
    bad = [l for l in lines if not re.match(r"^<[3-7]>\S", l)]
    check(not bad, "lines without a <N> prefix: %r" % bad)
    check(not any(re.search(r"\d{4}-\d\d-\d\dT", l) for l in lines),
          "timestamps in journal lines")
    for want in ("<6>control: listening on %s" % d.sock,
                 "<5>sipxd %s started" % VERSION, "<5>log level is now debug",
                 "<5>stopping (SIGTERM)", "<5>stopped"):
        check(any(l.startswith(want) for l in lines), "no line %r in %r"
              % (want, lines))


def test_large_replies(env):
    """Replies bigger than control.output_limit reach a client that
    reads them (the server pauses reading instead of cutting off), and
    a half-closed connection still gets every reply."""
    accts = [account("a%04d" % i) for i in range(2000)]
    d = env.daemon(accounts=accts, control={"output_limit": 65536})
    r = d.ctl("accounts")
    check(r.rc == 0, "accounts over the limit: %r" % (r,))
    check_eq(len(r.out.strip().splitlines()), 2001, "accounts rows")
    c = d.connect()
    c.send("accounts\n" * 5)
    for i in range(5):
        check_eq(len(c.reply().records), 2000, "pipelined reply %d" % i)
    ev = d.ctl_events("kind=account")
    got = [ev.read_line() for _ in range(2002)]
    check(got[-1] is not None and got[-1].startswith("sync"),
          "subscribed, 2000 accounts, then sync: %r"
          % got[-3:])
    ev.stop()
    # Half-close: send, shut down writing, read everything.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.sock)
    s.sendall(b"accounts\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.decode().splitlines()
    check(lines and lines[-1] == ".", "half-closed reply not terminated")
    check_eq(len(lines), 1 + 1 + 2000 + 1, "half-closed reply lines")


TESTS = [
    ("large_replies", test_large_replies),
    ("cli_help", test_cli_help),
    ("cli_version", test_cli_version),
    ("cli_status", test_cli_status),
    ("cli_accounts", test_cli_accounts),
    ("cli_log_level", test_cli_log_level),
    ("cli_reload", test_cli_reload),
    ("cli_events", test_cli_events),
    ("cli_events_filter", test_cli_events_filter),
    ("cli_quit", test_cli_quit),
    ("exit_codes", test_exit_codes),
    ("ctl_timeout", test_ctl_timeout),
    ("proto_greeting", test_proto_greeting),
    ("proto_bad_lines", test_proto_bad_lines),
    ("proto_too_long", test_proto_too_long),
    ("proto_pipelining", test_proto_pipelining),
    ("proto_quoting", test_proto_quoting),
    ("readonly_socket", test_readonly_socket),
    ("peer_credentials", test_peer_credentials),
    ("clients_50", test_clients_50),
    ("clients_max", test_clients_max),
    ("slow_client", test_slow_client),
    ("subscriber_unread_replies", test_subscriber_unread_replies),
    ("reload_diff", test_reload_diff),
    ("reload_bad_file", test_reload_bad_file),
    ("reload_sighup", test_reload_sighup),
    ("sigterm_clean", test_sigterm_clean),
    ("stale_socket", test_stale_socket),
    ("socket_in_use", test_socket_in_use),
    ("check_config", test_check_config),
    ("options", test_options),
    ("log_timestamps", test_log_timestamps),
    ("log_journal", test_log_journal),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
