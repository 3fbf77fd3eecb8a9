#!/usr/bin/env python3
"""SIP over TLS both ways against Kamailio, and RFC 3263 failover with a
real DNS server, all on loopback.

TLS: the test makes a CA and a server certificate (SAN DNS:localhost,
DNS:sip.example.test, IP:127.0.0.1) with the openssl command, and starts Kamailio in the
foreground with its own kamailio.cfg and tls.cfg.  sipxd asks Kamailio
over TLS (`sipxctl options sips:...`), trusting the test CA through
sipxd.tls.ca_file, by address and by a name that dnsmasq resolves; a
name the certificate does not hold fails (RFC 5922), and with another
CA it must fail at once and say why.  Then
Kamailio asks sipxd over TLS: the test sends OPTIONS over UDP to
Kamailio, which relays it to sipxd's TLS listener (checking sipxd's
certificate against the test CA), and sipxd's 200 comes back.

DNS: dnsmasq serves two SRV records for _sip._udp.example.test, the
first (priority 10) to a port where nothing listens, the second
(priority 20) to a SIPp UAS; `sipxctl options sip:example.test` must
try the first, fail over and end with 200 from the second.

Needs: kamailio and kamailio-tls-modules, dnsmasq-base, sip-tester,
openssl (Debian packages).  Every process is started and stopped by PID.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (Sipxd, account, check, check_eq, conf_str,  # noqa: E402
                      free_port, run_tests, TestFailure,
                      wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
OPENSSL = shutil.which("openssl")
SIPP = shutil.which("sipp")
KAMAILIO = shutil.which("kamailio") or next(
    (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio")
     if os.access(p, os.X_OK)), None)
DNSMASQ = shutil.which("dnsmasq") or next(
    (p for p in ("/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq")
     if os.access(p, os.X_OK)), None)
KAMAILIO_MODULES = next(
    (p for p in ("/usr/lib/x86_64-linux-gnu/kamailio/modules",
                 "/usr/lib/aarch64-linux-gnu/kamailio/modules",
                 "/usr/lib/kamailio/modules",
                 "/usr/local/lib64/kamailio/modules",
                 "/usr/local/lib/kamailio/modules")
     if os.path.exists(os.path.join(p, "sl.so"))), None)


def need(what, path, package):
    if path is None:
        raise TestFailure("%s not found: install the Debian package %s"
                          % (what, package))


def need_kamailio():
    need("openssl", OPENSSL, "openssl")
    need("kamailio", KAMAILIO, "kamailio")
    need("Kamailio's modules", KAMAILIO_MODULES, "kamailio")
    if not os.path.exists(os.path.join(KAMAILIO_MODULES, "tls.so")):
        raise TestFailure("Kamailio's tls.so not found in %s: install the "
                          "Debian package kamailio-tls-modules"
                          % KAMAILIO_MODULES)


class Background:
    """A child stopped by PID at the end: SIGTERM, then SIGKILL."""

    def __init__(self, popen, name):
        self.popen = popen
        self.pid = popen.pid
        self.name = name

    def poll(self):
        return self.popen.poll()

    def wait(self, timeout):
        return self.popen.wait(timeout)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def group_members(pgid):
    """PIDs of the live processes in process group pgid, from /proc."""
    pids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
        fields = st[st.rindex(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(e))
    return pids


class Forking(Background):
    """A server that forks workers (Kamailio), started as the leader of
    its own process group.  Stopping it stops the main process; workers
    that outlive it (Kamailio leaves some when stopped while it is still
    forking) are then killed one by one, by PID."""

    def stop(self):
        Background.stop(self)
        if not wait_until(lambda: not group_members(self.pid), 3):
            for pid in group_members(self.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def spawn(env, name, argv, cwd=None, cls=Background):
    out = open(env.path("%s-%d.out" % (name, env.next_id())), "wb")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, cwd=cwd or env.tmp,
                             start_new_session=cls is Forking)
    finally:
        out.close()
    bg = cls(p, name)
    bg.out = out.name
    env.register_proc(bg)
    return bg


def tail(path, n=1500):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-n:]
    except OSError:
        return ""


def tcp_ready(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- certificates -----------------------------------------------------------

def openssl(env, *args):
    p = subprocess.run([OPENSSL] + list(args), cwd=env.tmp,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    check(p.returncode == 0, "openssl %s: %s" % (" ".join(args),
                                                  p.stderr.decode()[-500:]))


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


def make_ca(env, name):
    """A self-signed CA in env.tmp: name.pem, name.key."""
    openssl(env, "req", "-x509", *EC, "-nodes", "-days", "2",
            "-keyout", name + ".key", "-out", name + ".pem",
            "-subj", "/CN=sipxd test %s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return env.path(name + ".pem")


def make_certs(env):
    """ca.pem (trusted), other-ca.pem (not), server.pem/server.key signed
    by ca for localhost and 127.0.0.1.  Returns a dict of paths."""
    make_ca(env, "ca")
    make_ca(env, "other-ca")
    with open(env.path("server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,DNS:sip.example.test,"
                "IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    openssl(env, "req", *EC, "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost")
    openssl(env, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-out", "server.pem", "-extfile", "server.ext")
    return {k: env.path(v) for k, v in (
        ("ca", "ca.pem"), ("other_ca", "other-ca.pem"),
        ("cert", "server.pem"), ("key", "server.key"))}


# ---- Kamailio ---------------------------------------------------------------

def start_kamailio(env, certs, relay_port=None):
    """Kamailio on udp:127.0.0.1:U and tls:127.0.0.1:T; answers OPTIONS
    with 200 itself, except OPTIONS to user "sipxd", which it relays
    over TLS to 127.0.0.1:relay_port.  Returns the process, with the
    ports in .udp and .tls.  Runs unprivileged as well: everything it
    writes is under env.tmp."""
    need_kamailio()
    rundir = env.path("kamailio-run")
    os.makedirs(rundir, exist_ok=True)
    for _ in range(3):
        udp, tls = free_port(), free_port()
        if udp == tls:
            continue
        with open(env.path("tls.cfg"), "w") as f:
            f.write("[server:default]\n"
                    "method = TLSv1.2+\n"
                    "verify_certificate = no\n"
                    "require_certificate = no\n"
                    "private_key = %(key)s\n"
                    "certificate = %(cert)s\n"
                    "ca_list = %(ca)s\n"
                    "\n"
                    "[client:default]\n"
                    "method = TLSv1.2+\n"
                    "verify_certificate = yes\n"
                    "require_certificate = yes\n"
                    "ca_list = %(ca)s\n" % certs)
        relay = ""
        if relay_port:
            relay = ('    if ($rm == "OPTIONS" && $rU == "sipxd") {\n'
                     '        $du = "sip:127.0.0.1:%d;transport=tls";\n'
                     '        if (!t_relay()) sl_send_reply("500", '
                     '"Relay Failed");\n'
                     '        exit;\n'
                     '    }\n' % relay_port)
        with open(env.path("kamailio.cfg"), "w") as f:
            f.write("#!KAMAILIO\n"
                    "debug=2\n"
                    "log_stderror=yes\n"
                    "children=1\n"
                    "tcp_children=1\n"
                    "enable_tls=yes\n"
                    "auto_aliases=no\n"
                    "dns=no\n"
                    "rev_dns=no\n"
                    "listen=udp:127.0.0.1:%d\n"
                    "listen=tls:127.0.0.1:%d\n"
                    'mpath="%s/"\n'
                    'loadmodule "tls.so"\n'
                    'loadmodule "tm.so"\n'
                    'loadmodule "sl.so"\n'
                    'loadmodule "pv.so"\n'
                    'modparam("tls", "config", "%s")\n'
                    "request_route {\n"
                    "%s"
                    '    if ($rm == "OPTIONS") {\n'
                    '        sl_send_reply("200", "OK");\n'
                    "        exit;\n"
                    "    }\n"
                    '    sl_send_reply("403", "Forbidden");\n'
                    "}\n" % (udp, tls, KAMAILIO_MODULES,
                             env.path("tls.cfg"), relay))
        k = spawn(env, "kamailio",
                  [KAMAILIO, "-f", env.path("kamailio.cfg"), "-DD", "-E",
                   "-m", "64", "-M", "8", "-Y", rundir, "-w", env.tmp],
                  cls=Forking)
        k.udp, k.tls = udp, tls
        if wait_until(lambda: k.poll() is not None or tcp_ready(tls), 10) \
                and k.poll() is None:
            # Ready when its UDP worker answers too.
            resp = sip_udp_request(udp, options_request(udp, "ping"), 5)
            check(resp.startswith("SIP/2.0 200 "), "kamailio answered "
                  "OPTIONS with %r" % resp.split("\r\n", 1)[0])
            return k
        k.stop()
        log = tail(k.out)
        if "Address already in use" not in log:
            raise TestFailure("kamailio did not start: %s" % log)
    raise TestFailure("kamailio: no free ports after 3 attempts")


# ---- sipxd with TLS -----------------------------------------------------------

def tls_daemon(env, name="sipxd", certs=None, ca=None, verify=True,
               tls_listen=False, dns=None, timers=None, extra_lines=()):
    """A sipxd with UDP and TCP listeners, a TLS listener on its own port
    when tls_listen, sipxd.tls trusting ca, and sipxd.dns.servers;
    timers replaces the test timers line, extra_lines go into sipxd."""
    d = Sipxd(env, name=name, tcp=True)
    text = d.config_text([account("local", register=False)])
    if timers:
        old = "  timers = { t1 = 50; t2 = 400; t4 = 500; };"
        check(old in text, "no timers line in %r" % text)
        text = text.replace(old, "  timers = %s;" % timers)
    listen = []
    if tls_listen:
        d.tls_port = free_port()
        listen.append('{ transport = "tls"; address = "127.0.0.1:%d"; '
                      'certificate = %s; key = %s; }'
                      % (d.tls_port, conf_str(certs["cert"]),
                         conf_str(certs["key"])))
    extra = []
    if ca is not None or not verify:
        extra.append("  tls = { %sverify = %s; };" % (
            "ca_file = %s; " % conf_str(ca) if ca else "",
            "true" if verify else "false"))
    if dns:
        extra.append('  dns = { servers = [ "127.0.0.1:%d" ]; };' % dns)
    extra += list(extra_lines)
    lines = text.split("\n")
    at = [i for i, l in enumerate(lines) if l.startswith("  listen = (")
          and l.endswith(" );")]
    check(len(at) == 1, "no listen line in %r" % text)
    lines[at[0]] = lines[at[0]][:-3] + "".join(", " + l for l in listen) \
        + " );"
    lines[at[0] + 1:at[0] + 1] = extra
    text = "\n".join(lines)
    d.write_config_text(text)
    d.start()
    return d


def start_trace(d):
    """A control connection that receives every SIP message as an
    EVENT trace.message line."""
    c = d.connect()
    r = c.request("trace")
    check(r.ok, "trace: %r" % r)
    return c


def options(d, uri, timeout=10):
    r = d.ctl("options", uri, "timeout=%d" % timeout, json=True,
              timeout=timeout + 5)
    rec = None
    if r.out.strip():
        data = r.json().get("data") or []
        rec = data[0] if data else None
    return r, rec


def test_tls_to_kamailio(env):
    need_kamailio()
    certs = make_certs(env)
    k = start_kamailio(env, certs)
    # sip.example.test is in the certificate, other.example.test is not.
    dns = start_dnsmasq(env, ["--host-record=sip.example.test,127.0.0.1",
                              "--host-record=other.example.test,127.0.0.1"])
    # sipxd needs a TLS listener for its Via; it also proves the config.
    d = tls_daemon(env, certs=certs, ca=certs["ca"], tls_listen=True,
                   dns=dns.port)
    for uri in ("sips:127.0.0.1:%d" % k.tls,
                "sip:127.0.0.1:%d;transport=tls" % k.tls,
                "sips:sip.example.test:%d" % k.tls,
                "sip:sip.example.test:%d;transport=tls" % k.tls):
        r, rec = options(d, uri)
        check(r.rc == 0 and rec is not None,
              "options %s over TLS to Kamailio: %r; sipxd log: %s"
              % (uri, r, d.stderr_text()[-800:]))
        check_eq(rec["status"], 200, "%s: status" % uri)
        check_eq(rec["target"], "TLS 127.0.0.1:%d" % k.tls, "%s: target"
                 % uri)
        check(rec["user_agent"].startswith("kamailio"),
              "%s: Server %r" % (uri, rec["user_agent"]))
    # RFC 5922: the certificate must name the domain asked for.
    r, rec = options(d, "sips:other.example.test:%d" % k.tls)
    check(r.rc == 1 and rec is None,
          "a certificate that does not name other.example.test: %r" % r)
    check(k.poll() is None, "kamailio still running")


def test_tls_wrong_ca(env):
    need_kamailio()
    certs = make_certs(env)
    k = start_kamailio(env, certs)
    d = tls_daemon(env, certs=certs, ca=certs["other_ca"], tls_listen=True)
    t0 = time.monotonic()
    r, rec = options(d, "sips:127.0.0.1:%d" % k.tls)
    took = time.monotonic() - t0
    check(r.rc == 1, "a certificate from an untrusted CA must fail: %r" % r)
    check(rec is None, "no response record without TLS: %r" % rec)
    msg = r.json()["message"]
    check("TLS 127.0.0.1:%d" % k.tls in msg, "error names the target: %r"
          % msg)
    check(re.search(r"TLS handshake .* failed: its certificate did not verify",
                    msg, re.I), "error says what went wrong: %r" % msg)
    check(took < 8, "the failure is reported at once, not by a timeout "
          "(%.1f s): %r" % (took, msg))
    # Without verification the same server is accepted (labs only).
    d2 = tls_daemon(env, name="sipxd-noverify", certs=certs, verify=False,
                    tls_listen=True)
    r, rec = options(d2, "sips:127.0.0.1:%d" % k.tls)
    check(r.rc == 0 and rec and rec["status"] == 200,
          "verify = false accepts any certificate: %r" % r)


def sip_udp_request(port, text, timeout=8.0):
    """Sends a request over UDP from an ephemeral port and returns the
    first final response's text (retransmitting as Timer E would)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        data = text.replace("LPORT", str(lport)).encode()
        deadline = time.monotonic() + timeout
        interval = 0.5
        while time.monotonic() < deadline:
            s.sendto(data, ("127.0.0.1", port))
            end = min(deadline, time.monotonic() + interval)
            while time.monotonic() < end:
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    msg = s.recv(65536).decode("utf-8", "replace")
                except socket.timeout:
                    break
                m = re.match(r"SIP/2\.0 (\d{3}) ", msg)
                if m and int(m.group(1)) >= 200:
                    return msg
            interval = min(interval * 2, 2.0)
        raise TestFailure("no final response from 127.0.0.1:%d within "
                          "%.0f s" % (port, timeout))
    finally:
        s.close()


def options_request(port, user):
    """An OPTIONS for sip:user@127.0.0.1:port, sent from LPORT over UDP."""
    return ("OPTIONS sip:%s@127.0.0.1:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:LPORT;branch=z9hG4bK%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:tester@127.0.0.1>;tag=%s\r\n"
            "To: <sip:%s@127.0.0.1:%d>\r\n"
            "Call-ID: %s@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Accept: application/sdp\r\n"
            "Content-Length: 0\r\n\r\n"
            % (user, port, os.urandom(8).hex(), os.urandom(4).hex(), user,
               port, os.urandom(8).hex()))


def header(msg, name):
    for line in msg.split("\r\n")[1:]:
        if not line:
            break
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def test_kamailio_to_tls(env):
    need_kamailio()
    certs = make_certs(env)
    d = tls_daemon(env, certs=certs, ca=certs["ca"], tls_listen=True)
    k = start_kamailio(env, certs, relay_port=d.tls_port)
    trace = start_trace(d)
    req = options_request(k.udp, "sipxd")
    resp = sip_udp_request(k.udp, req)
    status = resp.split("\r\n", 1)[0]
    check(status.startswith("SIP/2.0 200 "),
          "Kamailio relayed to sipxd over TLS: got %r; kamailio log: %s"
          % (status, tail(k.out, 800)))
    check((header(resp, "Server") or "").startswith("sipxd/"),
          "the 200 is sipxd's: %r" % resp)
    check_eq(header(resp, "Allow"), "OPTIONS, INVITE, BYE, PRACK, UPDATE, "
             "INFO, REFER, MESSAGE, SUBSCRIBE, NOTIFY, ACK, CANCEL",
             "sipxd's Allow")
    # sipxd saw the OPTIONS come in over TLS, from Kamailio's TLS side.
    f = trace.wait_event("trace.message", 5, lambda f: f.get("dir") == "in"
                         and f.get("text", "").startswith("OPTIONS "))
    check_eq(f.get("transport"), "TLS", "transport of the relayed OPTIONS")
    check(re.search(r"^Via: SIP/2\.0/TLS 127\.0\.0\.1:%d;" % k.tls,
                    f["text"], re.I | re.M),
          "Kamailio's TLS Via on top: %r" % f["text"][:600])


# ---- RFC 3263 failover -------------------------------------------------------

def start_dnsmasq(env, records):
    need("dnsmasq", DNSMASQ, "dnsmasq-base")
    user = pwd.getpwuid(os.getuid()).pw_name
    for _ in range(3):
        port = free_port()
        argv = [DNSMASQ, "--keep-in-foreground", "--no-resolv",
                "--no-hosts", "--port=%d" % port,
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--conf-file=/dev/null",
                "--pid-file=%s" % env.path("dnsmasq.pid"),
                "--user=%s" % user, "--log-queries", "--log-facility=-",
                "--local=/test/", "--local-ttl=60"]
        p = spawn(env, "dnsmasq", argv + list(records))
        if wait_until(lambda: p.poll() is not None or tcp_ready(port), 5) \
                and p.poll() is None:
            p.port = port
            return p
        p.stop()
    raise TestFailure("dnsmasq did not start: %s" % tail(p.out))


def test_srv_failover(env):
    need("sipp", SIPP, "sip-tester")
    dead, live = free_port(), free_port()
    while live == dead:
        live = free_port()
    dns = start_dnsmasq(env, [
        "--srv-host=_sip._udp.example.test,dead.example.test,%d,10,0"
        % dead,
        "--srv-host=_sip._udp.example.test,live.example.test,%d,20,0"
        % live,
        "--host-record=dead.example.test,127.0.0.1",
        "--host-record=live.example.test,127.0.0.1",
    ])
    uas = spawn(env, "sipp-uas",
                [SIPP, "-sf", os.path.join(HERE, "sipp", "options_uas.xml"),
                 "-i", "127.0.0.1", "-p", str(live), "-m", "1", "-nostdin",
                 "-timeout", "60"])
    d = tls_daemon(env, dns=dns.port)
    check(uas.poll() is None, "sipp UAS exited at once: %s" % tail(uas.out))
    trace = start_trace(d)
    t0 = time.monotonic()
    r, rec = options(d, "sip:example.test", timeout=20)
    took = time.monotonic() - t0
    check(r.rc == 0 and rec is not None,
          "options sip:example.test: %r; dnsmasq: %s" % (r, tail(dns.out)))
    check_eq(rec["status"], 200, "status")
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % live,
             "target: the priority 20 SRV record")
    check_eq(rec["user_agent"], "sipp-uas-under-test", "the SIPp UAS answered")
    # Timer F at 64*T1 (3.2 s) at most, or an ICMP error at once.
    check(took < 8, "failover took %.1f s" % took)
    # The priority 10 target was tried first.
    outs = []

    def out_to_live(f):
        if f.get("dir") == "out" and f.get("text", "").startswith("OPTIONS "):
            outs.append(f.get("peer"))
        return outs and outs[-1] == "127.0.0.1:%d" % live
    trace.wait_event("trace.message", 5, out_to_live)
    check(outs[0] == "127.0.0.1:%d" % dead,
          "first OPTIONS to the dead priority 10 target: %r" % outs)
    check(uas.wait(10) == 0, "sipp UAS saw its exchange")


def test_srv_failover_503(env):
    """RFC 3263 §4.3: a 503 from the first target sends the request on
    to the next one at once, with a new transaction."""
    need("sipp", SIPP, "sip-tester")
    busy, live = free_port(), free_port()
    while live == busy:
        live = free_port()
    dns = start_dnsmasq(env, [
        "--srv-host=_sip._udp.example.test,busy.example.test,%d,10,0"
        % busy,
        "--srv-host=_sip._udp.example.test,live.example.test,%d,20,0"
        % live,
        "--host-record=busy.example.test,127.0.0.1",
        "--host-record=live.example.test,127.0.0.1",
    ])
    b = spawn(env, "sipp-503",
              [SIPP, "-sf", os.path.join(HERE, "sipp", "options_503.xml"),
               "-i", "127.0.0.1", "-p", str(busy), "-m", "1", "-nostdin",
               "-timeout", "60"])
    uas = spawn(env, "sipp-uas",
                [SIPP, "-sf", os.path.join(HERE, "sipp", "options_uas.xml"),
                 "-i", "127.0.0.1", "-p", str(live), "-m", "1", "-nostdin",
                 "-timeout", "60"])
    d = tls_daemon(env, dns=dns.port)
    check(b.poll() is None and uas.poll() is None, "a SIPp exited at once")
    t0 = time.monotonic()
    r, rec = options(d, "sip:example.test", timeout=20)
    took = time.monotonic() - t0
    check(r.rc == 0 and rec is not None, "options after a 503: %r" % (r,))
    check_eq(rec["status"], 200, "status from the second target")
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % live, "target")
    check(took < 2, "a 503 fails over at once, not by a timeout (%.1f s)"
          % took)
    check(b.wait(10) == 0, "the 503 SIPp saw its OPTIONS")
    check(uas.wait(10) == 0, "the live SIPp saw its OPTIONS")


def test_srv_failover_silent(env):
    """RFC 3263 §4.3 against a silent first target with the RFC's timers
    (T1 500 ms: Timer F is 32 s, longer than the options timeout): after
    sipxd.failover_timeout the request moves on to the second target.
    The silent one is then blocklisted (sipxd.blocklist_ttl): the next
    request goes straight to the live target."""
    need("sipp", SIPP, "sip-tester")
    silent, live = free_port(), free_port()
    while live == silent:
        live = free_port()
    dns = start_dnsmasq(env, [
        "--srv-host=_sip._udp.example.test,silent.example.test,%d,10,0"
        % silent,
        "--srv-host=_sip._udp.example.test,live.example.test,%d,20,0"
        % live,
        "--host-record=silent.example.test,127.0.0.1",
        "--host-record=live.example.test,127.0.0.1",
    ])
    s = spawn(env, "sipp-silent",
              [SIPP, "-sf", os.path.join(HERE, "sipp", "options_silent.xml"),
               "-i", "127.0.0.1", "-p", str(silent), "-m", "1", "-nostdin",
               "-timeout", "60"])
    uas = spawn(env, "sipp-uas",
                [SIPP, "-sf", os.path.join(HERE, "sipp", "options_uas.xml"),
                 "-i", "127.0.0.1", "-p", str(live), "-m", "2", "-nostdin",
                 "-timeout", "60"])
    d = tls_daemon(env, dns=dns.port,
                   timers="{ t1 = 500; t2 = 4000; t4 = 5000; }",
                   extra_lines=["  failover_timeout = 800;",
                                "  blocklist_ttl = 60;"])
    check(s.poll() is None and uas.poll() is None, "a SIPp exited at once")
    trace = start_trace(d)
    t0 = time.monotonic()
    r, rec = options(d, "sip:example.test", timeout=5)
    took = time.monotonic() - t0
    check(r.rc == 0 and rec is not None,
          "options past a silent target: %r" % (r,))
    check_eq(rec["status"], 200, "status from the second target")
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % live, "target")
    check(0.7 <= took < 2.5, "failed over after %.2f s, want ~0.8 s" % took)
    outs = []

    def out_options(f):
        # Distinct peers in order (the silent one gets retransmissions).
        if f.get("dir") == "out" and f.get("text", "").startswith("OPTIONS ") \
                and f.get("peer") not in outs:
            outs.append(f.get("peer"))
        return len(outs) >= 2
    trace.wait_event("trace.message", 5, out_options)
    check_eq(outs[:2], ["127.0.0.1:%d" % silent, "127.0.0.1:%d" % live],
             "first the silent target, then the live one")
    # The next request skips the blocklisted target.
    del outs[:]
    t0 = time.monotonic()
    r, rec = options(d, "sip:example.test", timeout=5)
    took = time.monotonic() - t0
    check(r.rc == 0 and rec is not None, "second options: %r" % (r,))
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % live, "second target")
    check(took < 0.7, "second request took %.2f s" % took)
    trace.wait_event("trace.message", 5, lambda f: out_options(f) or
                     len(outs) >= 1)
    check_eq(outs[0], "127.0.0.1:%d" % live,
             "the second request went straight to the live target")
    check(uas.wait(10) == 0, "the live SIPp saw both OPTIONS")


def test_srv_failover_provisional(env):
    """A target that sends 100 Trying is alive: the failover timeout does
    not leave it, and its 200 (1.5 s later) is the answer."""
    need("sipp", SIPP, "sip-tester")
    slow, live = free_port(), free_port()
    while live == slow:
        live = free_port()
    dns = start_dnsmasq(env, [
        "--srv-host=_sip._udp.example.test,slow.example.test,%d,10,0"
        % slow,
        "--srv-host=_sip._udp.example.test,live.example.test,%d,20,0"
        % live,
        "--host-record=slow.example.test,127.0.0.1",
        "--host-record=live.example.test,127.0.0.1",
    ])
    s = spawn(env, "sipp-slow",
              [SIPP, "-sf", os.path.join(HERE, "sipp", "options_slow_uas.xml"),
               "-i", "127.0.0.1", "-p", str(slow), "-m", "1", "-nostdin",
               "-timeout", "60"])
    d = tls_daemon(env, dns=dns.port,
                   timers="{ t1 = 500; t2 = 4000; t4 = 5000; }",
                   extra_lines=["  failover_timeout = 800;"])
    check(s.poll() is None, "SIPp exited at once: %s" % tail(s.out))
    r, rec = options(d, "sip:example.test", timeout=5)
    check(r.rc == 0 and rec is not None, "options to a slow target: %r"
          % (r,))
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % slow, "target")
    check_eq(rec["user_agent"], "sipp-slow-uas", "the slow SIPp answered")
    check(s.wait(10) == 0, "the slow SIPp saw its exchange")


def test_dns_errors(env):
    """`options` says what went wrong: a name that does not exist is a
    DNS failure with c-ares' reason, not a bad URI."""
    dns = start_dnsmasq(env, ["--host-record=sip.example.test,127.0.0.1"])
    d = tls_daemon(env, dns=dns.port)
    r = d.ctl("options", "sip:nowhere.example.test:5060", "timeout=5",
              timeout=10)
    check_eq(r.rc, 1, "options to a name without records")
    check("DNS lookup failed" in r.err and "nowhere.example.test" in r.err
          and "not found" in r.err.lower(), "error text %r" % (r,))
    r = d.ctl("options", "sip:x@", timeout=10)
    check_eq(r.rc, 1, "a bad URI")
    check("not a sip: or sips: URI" in r.err, "error text %r" % (r,))


def test_reload_dns_and_tls(env):
    """A reload applies new sipxd.dns.servers at once (a name only the
    new server knows resolves; the old server's negative answer is not
    kept), and a renewed TLS listener certificate is reported as needing
    a restart in the reload reply."""
    need_kamailio()		# for openssl
    certs = make_certs(env)
    dns1 = start_dnsmasq(env, ["--host-record=other.example.test,127.0.0.9"])
    dns2 = start_dnsmasq(env, ["--host-record=moved.example.test,127.0.0.1"])
    d = tls_daemon(env, certs=certs, ca=certs["ca"], tls_listen=True,
                   dns=dns1.port)
    uri = "sip:moved.example.test:%d" % d.port
    r = d.ctl("options", uri, "timeout=5", timeout=10)
    check_eq(r.rc, 1, "the first DNS server does not know the name")
    check("DNS lookup failed" in r.err, "error %r" % (r,))
    with open(d.conf) as f:
        text = f.read()
    old = '"127.0.0.1:%d"' % dns1.port
    check(old in text, "dns line in %r" % text)
    d.write_config_text(text.replace(old, '"127.0.0.1:%d"' % dns2.port))
    r = d.ctl("reload")
    check_eq(r.rc, 0, "reload with new DNS servers: %r" % (r,))
    check("needs restart" not in r.out, "reload reply %r" % (r,))
    r, rec = options(d, uri, timeout=5)
    check(r.rc == 0 and rec is not None, "after the reload: %r" % (r,))
    check_eq(rec["target"], "UDP 127.0.0.1:%d" % d.port, "target")

    # A renewed certificate (same path, new file) needs a restart.
    st = os.stat(certs["cert"])
    os.utime(certs["cert"], (st.st_atime, st.st_mtime + 10))
    r = d.ctl("reload")
    check_eq(r.rc, 0, "reload after renewing the certificate")
    check("certificate, key or ca_file changed: needs restart" in r.out,
          "reload reply %r" % (r,))


TESTS = [
    ("tls_to_kamailio", test_tls_to_kamailio),
    ("tls_wrong_ca", test_tls_wrong_ca),
    ("kamailio_to_tls", test_kamailio_to_tls),
    ("srv_failover", test_srv_failover),
    ("srv_failover_503", test_srv_failover_503),
    ("srv_failover_silent", test_srv_failover_silent),
    ("srv_failover_provisional", test_srv_failover_provisional),
    ("dns_errors", test_dns_errors),
    ("reload_dns_and_tls", test_reload_dns_and_tls),
]

if __name__ == "__main__":
    sys.exit(run_tests(TESTS))
