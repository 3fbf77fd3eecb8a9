#!/usr/bin/env python3
"""`trace`: every SIP message sent or received reaches trace subscribers.

`sipxctl trace` (human and --json) sees both requests and both responses
of a `sipxctl options` the daemon sends to itself, over UDP and TCP; a
plain `events` subscription gets no trace lines; `trace off` stops them;
a trace subscriber that never reads is cut off at control.output_limit
while a second subscriber that reads keeps every line."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (check, check_eq, parse_event, run_tests,  # noqa: E402
                      LineProc, SIPXCTL)


def self_uri(d, tcp=False):
    return "sip:127.0.0.1:%d%s" % (d.port, ";transport=tcp" if tcp else "")


def ctl_trace(d, json=False):
    """`sipxctl [--json] trace` in the background; returns it once the
    subscription is in place (its sync line has been read)."""
    argv = [SIPXCTL, "-s", d.sock] + (["--json"] if json else []) + ["trace"]
    p = LineProc(argv, stderr_path=d.env.path(
        "ctl-trace-%d.stderr" % d.env.next_id()))
    d.env.register_proc(p)
    seen = []
    while True:
        line = p.read_line()
        check(line is not None, "sipxctl trace ended early: %r; stderr %s"
              % (seen, p.stderr_text()))
        seen.append(line)
        if (json and '"type":"sync"' in line) or \
                (not json and line.startswith("sync ")):
            return p
        check(len(seen) < 20, "no sync line from sipxctl trace: %r" % seen)


def read_human_blocks(p, want, timeout=5.0):
    """Reads `--- header` blocks from human `sipxctl trace` output until
    want of them are complete; returns [(header, text)]."""
    blocks, cur = [], None
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        check(remaining > 0, "only %d of %d trace blocks: %r"
              % (len(blocks), want, blocks))
        line = p.read_line(remaining)
        check(line is not None, "sipxctl trace ended: %s" % p.stderr_text())
        if line.startswith("--- "):
            if cur is not None:
                blocks.append((cur[0], "\n".join(cur[1])))
            cur = (line, [])
        elif cur is not None:
            cur[1].append(line)
            # A message without a body ends with an empty line (the
            # message's own CRLF CRLF, then print_trace's newline).
            if len(cur[1]) >= 2 and cur[1][-1] == "" and \
                    cur[1][-2] in ("\r", ""):
                blocks.append((cur[0], "\n".join(cur[1])))
                cur = None
                if len(blocks) >= want:
                    return blocks


def read_json_traces(p, want, timeout=5.0):
    import json
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want:
        remaining = deadline - time.monotonic()
        check(remaining > 0, "only %d of %d trace events: %r"
              % (len(out), want, out))
        line = p.read_line(remaining)
        check(line is not None, "sipxctl --json trace ended: %s"
              % p.stderr_text())
        ev = json.loads(line)
        if ev.get("type") == "trace.message":
            out.append(ev)
    return out


def check_exchange(msgs, transport, port):
    """msgs: 4 dicts dir/transport/local/peer/text of one self OPTIONS."""
    dirs = [(m["dir"], m["text"].split("\r\n", 1)[0]) for m in msgs]
    req = "OPTIONS %s SIP/2.0" % ("sip:127.0.0.1:%d" % port +
                                  (";transport=tcp" if transport == "TCP"
                                   else ""))
    check_eq(sorted(dirs), sorted([("out", req), ("in", req),
                                   ("out", "SIP/2.0 200 OK"),
                                   ("in", "SIP/2.0 200 OK")]),
             "directions and start lines")
    for m in msgs:
        check_eq(m["transport"], transport, "transport")
        check(re.match(r"^127\.0\.0\.1:\d+$", m["peer"]), "peer %r"
              % m["peer"])
        check("local" in m, "local address present: %r" % m)
        check(m["text"].startswith("OPTIONS sip:") or
              m["text"].startswith("SIP/2.0 200 OK\r\n"), "text %r"
              % m["text"][:80])
        check(m["text"].endswith("\r\n\r\n"), "whole message: %r"
              % m["text"][-40:])
        check("\r\nCSeq: 1 OPTIONS\r\n" in m["text"], "CSeq in %r"
              % m["text"])
    # The request goes out to our own port and comes in on it.
    out_req = [m for m in msgs if m["dir"] == "out" and
               m["text"].startswith("OPTIONS")][0]
    in_req = [m for m in msgs if m["dir"] == "in" and
              m["text"].startswith("OPTIONS")][0]
    check_eq(out_req["peer"], "127.0.0.1:%d" % port, "request's peer")
    check_eq(in_req["local"], "127.0.0.1:%d" % port, "request's local")
    resp = [m for m in msgs if m["text"].startswith("SIP/2.0 200 OK")]
    for m in resp:
        check("\r\nServer: sipxd/" in m["text"] or m["dir"] == "in",
              "Server header in %r" % m["text"])
        check("\r\nAllow: " in m["text"], "Allow in the 200")


# ---- sipxctl trace, human -------------------------------------------------------

def test_human(env):
    d = env.daemon(tcp=True)
    p = ctl_trace(d)
    r = d.ctl("options", self_uri(d))
    check_eq(r.rc, 0, "options to itself: %r" % r)
    blocks = read_human_blocks(p, 4)
    hdr_re = re.compile(r"^--- \d+\.\d{3} (UDP|TCP) (\S+) (->|<-) (\S+)$")
    msgs = []
    for hdr, text in blocks:
        m = hdr_re.match(hdr)
        check(m, "trace header line %r" % hdr)
        # Human output shows the message as sent: lines end in CR LF.
        msgs.append({"transport": m.group(1), "local": m.group(2),
                     "dir": "out" if m.group(3) == "->" else "in",
                     "peer": m.group(4),
                     "text": text})
    for m in msgs:
        first = m["text"].split("\n", 1)[0].rstrip("\r")
        check(first in ("OPTIONS %s SIP/2.0" % self_uri(d),
                        "SIP/2.0 200 OK"), "start line %r" % first)
    starts = sorted((m["dir"], m["text"].split("\r", 1)[0]) for m in msgs)
    check_eq(starts, sorted([("out", "OPTIONS %s SIP/2.0" % self_uri(d)),
                             ("in", "OPTIONS %s SIP/2.0" % self_uri(d)),
                             ("out", "SIP/2.0 200 OK"),
                             ("in", "SIP/2.0 200 OK")]), "human blocks")
    for m in msgs:
        check_eq(m["transport"], "UDP", "transport")
        check_eq(m["peer"], "127.0.0.1:%d" % d.port, "peer (self)")
    # Ctrl-C ends it with status 0, like events.
    os.kill(p.pid, signal.SIGINT)
    check_eq(p.wait(5), 0, "sipxctl trace after SIGINT: exit status")


# ---- sipxctl --json trace ----------------------------------------------------------

def test_json(env):
    d = env.daemon(tcp=True)
    p = ctl_trace(d, json=True)
    for tcp in (False, True):
        r = d.ctl("options", self_uri(d, tcp))
        check_eq(r.rc, 0, "options to itself: %r" % r)
        evs = read_json_traces(p, 4)
        for e in evs:
            check(isinstance(e["seq"], int), "seq %r" % e["seq"])
        check_exchange(evs, "TCP" if tcp else "UDP", d.port)


# ---- raw protocol: events without kind, events kind=trace, trace off ---------------

def self_options(d):
    r = d.ctl("options", self_uri(d))
    check_eq(r.rc, 0, "options to itself: %r" % r)


def traces_in(conn):
    """Trace events collected so far on conn (read up to a `version`
    reply, which comes after every event published before it)."""
    r = conn.request("version")
    check(r.ok, "version: %r" % r)
    got = [parse_event(l) for l in conn.events]
    conn.events = []
    return [f for t, f in got if t == "trace.message"]


def test_events_without_kind(env):
    d = env.daemon()
    plain = d.connect()
    check_eq(plain.request("events").status, "OK subscribed", "events")
    named = d.connect()
    check_eq(named.request("events kind=trace").status, "OK subscribed",
             "events kind=trace")
    tr = d.connect()
    check_eq(tr.request("trace").status, "OK tracing", "trace")
    self_options(d)
    check_eq(traces_in(plain), [], "trace lines on a plain `events`")
    check_eq(len(traces_in(named)), 4, "trace lines on `events kind=trace`")
    check_eq(len(traces_in(tr)), 4, "trace lines on `trace`")


def test_trace_off(env):
    d = env.daemon()
    c = d.connect()
    check_eq(c.request("trace").status, "OK tracing", "trace")
    self_options(d)
    check_eq(len(traces_in(c)), 4, "trace lines while on")
    r = c.request("trace off")
    check(r.ok, "trace off: %r" % r)
    c.events = [l for l in c.events if not l.startswith("EVENT trace.")]
    self_options(d)
    check_eq(traces_in(c), [], "trace lines after trace off")
    # And on again.
    check_eq(c.request("trace").status, "OK tracing", "trace again")
    self_options(d)
    check_eq(len(traces_in(c)), 4, "trace lines after trace on again")
    r = c.request("trace bogus")
    check_eq(r.code, "usage", "trace with a bad argument: %r" % r)


def test_sipxctl_trace_off_errors(env):
    d = env.daemon()
    r = d.ctl("trace", "off")
    check_eq(r.rc, 0, "sipxctl trace off (nothing to stop): %r" % r)


# ---- a trace subscriber that never reads -----------------------------------------

def test_slow_subscriber(env):
    d = env.daemon(control={"output_limit": 65536}, log_level="notice")
    slow = d.connect(rcvbuf=4096)
    slow.send("trace\n")
    gen = d.connect()
    check_eq(gen.request("trace").status, "OK tracing", "generator's trace")
    uri = self_uri(d)
    batch = 10
    sent = traced = 0
    deadline = time.monotonic() + 20
    # Each exchange is 4 traced messages of ~500 bytes; a few hundred
    # fill the kernel's buffer and 64 KiB more.
    while "output_limit" not in d.stderr_text() or sent < 300:
        check(time.monotonic() < deadline and sent < 5000,
              "slow subscriber not cut off after %d options; log tail: %s"
              % (sent, d.stderr_text()[-500:]))
        gen.send(("options %s\n" % uri) * batch)
        ids = []
        for _ in range(batch):
            r = gen.reply()
            check(r.ok and "id" in r.records[0], "generator's options: %r"
                  % r)
            ids.append(r.records[0]["id"])
        for i in ids:
            f = gen.job_result(i)
            check(f["result"] == "ok" and f["status"] == "200",
                  "generator's options result: %r" % f)
        sent += batch
        traced += sum(1 for l in gen.events
                      if l.startswith("EVENT trace.message "))
        gen.events = []
    log = d.stderr_text()
    check(re.search(r"control client \d+ .*over control\.output_limit; "
                    r"disconnecting it", log), "log line: %s" % log[-500:])
    traced += len(traces_in(gen))
    check_eq(traced, 4 * sent, "trace lines the reading subscriber got")
    f = gen.run_job("options %s" % uri)
    check_eq(f["result"], "ok", "generator after the cut: %r" % f)
    check_eq(len(traces_in(gen)), 4, "generator still traced after the cut")
    rec = d.connect().request("status").records[0]
    check_eq((rec["clients"], rec["subscribers"]), ("2", "1"),
             "clients/subscribers after the cut")
    # The slow one sees what the kernel held, then EOF.
    slow.sock.settimeout(10)
    data = b""
    while True:
        try:
            chunk = slow.sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    check(data.startswith(b"OK tracing\n"), "slow subscriber's stream "
          "starts %r" % data[:80])
    check(b"EVENT trace.message " in data, "slow one got some trace lines")


# ---- the read-only socket never shows SIP messages nor sends SIP ------------------

def test_readonly_refused(env):
    d = env.daemon()
    full = d.connect()
    check_eq(full.request("trace").status, "OK tracing", "full trace")
    ro = d.connect(readonly=True)
    for line in ("trace", "events kind=trace", "events kind=account,trace",
                 "options %s" % self_uri(d),
                 "options %s timeout=1" % self_uri(d)):
        r = ro.request(line)
        check_eq(r.code, "denied", "%s on the read-only socket: %r"
                 % (line, r))
        check("full-access socket" in r.status, "clear text: %r" % r)
    check(ro.request("version").ok, "read-only connection still usable")
    check_eq(traces_in(full), [], "SIP sent or traced after the refusals")
    r = d.ctl("options", self_uri(d), sock=d.ro_sock)
    check(r.rc == 1 and r.err.startswith("sipxctl: denied: "),
          "sipxctl options on the read-only socket: %r" % r)
    r = d.ctl("trace", sock=d.ro_sock)
    check(r.rc == 1 and r.err.startswith("sipxctl: denied: "),
          "sipxctl trace on the read-only socket: %r" % r)
    check_eq(traces_in(full), [], "SIP traced after sipxctl's refusals")


# ---- credentials are masked ----------------------------------------------------

def test_credentials_masked(env):
    import socket
    d = env.daemon()
    c = d.connect()
    check_eq(c.request("trace").status, "OK tracing", "trace")
    p = ctl_trace(d)
    secrets = ["6629fae49393a05397450978507c4ef1", "0a4f113b", "S3cr3tB4s1c"]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKredact1\r\n"
           "Max-Forwards: 70\r\n"
           "To: <sip:127.0.0.1:%d>\r\n"
           "From: <sip:probe@127.0.0.1>;tag=r1\r\n"
           "Call-ID: redact-1@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "authorization  : DIGEST username=\"alice\", realm=\"r\",\r\n"
           "  nonce=\"n\", uri=\"sip:127.0.0.1\", RESPONSE = \"%s\",\r\n"
           "  qop=auth, nc=00000001, cnonce=%s\r\n"
           "Proxy-Authorization: Basic %s\r\n"
           "Content-Length: 0\r\n\r\n"
           % (d.port, s.getsockname()[1], d.port, secrets[0], secrets[1],
              secrets[2]))
    s.sendto(msg.encode(), ("127.0.0.1", d.port))
    s.settimeout(5)
    check(s.recv(65536).startswith(b"SIP/2.0 200 "), "the OPTIONS answered")
    s.close()
    got = [f for f in traces_in(c) if f["dir"] == "in"]
    check_eq(len(got), 1, "one message in: %r" % got)
    text = got[0]["text"]
    for sec in secrets:
        check(sec not in text, "secret %s in the trace: %r" % (sec, text))
    check('RESPONSE = "***"' in text and "cnonce=***" in text and
          "Proxy-Authorization: Basic ***" in text and
          'username="alice"' in text, "masked fields: %r" % text)
    # sipxctl trace shows the same masked text.
    blocks = read_human_blocks(p, 2)
    shown = "\n".join(t for _, t in blocks)
    for sec in secrets:
        check(sec not in shown, "secret %s in sipxctl trace" % sec)
    check('RESPONSE = "***"' in shown, "sipxctl trace masked: %r" % shown)


TESTS = [
    ("human", test_human),
    ("json", test_json),
    ("events_without_kind", test_events_without_kind),
    ("trace_off", test_trace_off),
    ("sipxctl_trace_off", test_sipxctl_trace_off_errors),
    ("slow_subscriber", test_slow_subscriber),
    ("readonly_refused", test_readonly_refused),
    ("credentials_masked", test_credentials_masked),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
