#!/usr/bin/env python3
"""sipxd at its descriptor limit (issue 8 §2).  sipxd runs with soft =
hard = 256 descriptors and a TCP listener; the test opens 400 idle TCP
connections to it and, over 5 s, checks that sipxd stays nearly idle
(CPU time under 10 % of wall time), writes only a handful of accept or
refusal lines, and answers `sipxctl status` within 2 s.  Then it closes
the connections and checks that an OPTIONS over TCP is answered.  Once
with the connection cap derived from the limit (excess connections are
refused at once), once with a cap above the limit (accept() fails with
EMFILE and the listener pauses instead of spinning), and once over TLS
with connections that never start a handshake.  Before the fix
sipxd spun at 100 % CPU writing libevent's "Error from accept() call"
millions of times."""
import os
import resource
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sipxtest  # noqa: E402
from sipxtest import check, run_tests  # noqa: E402

NOFILE = 256
NCONNS = 400
WINDOW = 5.0


def limited_sipxd(env):
    """Points sipxtest at a wrapper that starts sipxd with soft = hard =
    NOFILE descriptors (so it cannot raise its own limit)."""
    wrapper = env.path("sipxd-limited")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nulimit -n %d || exit 99\nexec '%s' \"$@\"\n"
                % (NOFILE, sipxtest.SIPXD.replace("'", "'\\''")))
    os.chmod(wrapper, stat.S_IRWXU)
    return wrapper


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15; fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accept_lines(text):
    return [ln for ln in text.splitlines()
            if "accept" in ln or "refused" in ln or
            "Too many open files" in ln]


def open_idle(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Close with a reset: 400 client ports in TIME-WAIT would make
        # other tests' binds of ephemeral port numbers fail.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def options_over_tcp(port, timeout=5.0):
    """Sends one OPTIONS over a new TCP connection; returns the status
    line of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lport = s.getsockname()[1]
    req = ("OPTIONS sip:local@127.0.0.1:%d;transport=tcp SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKfdlimit%d\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:probe@127.0.0.1>;tag=fd1\r\n"
           "To: <sip:local@127.0.0.1>\r\n"
           "Call-ID: fdlimit-%d@127.0.0.1\r\n"
           "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (port, lport, lport, lport))
    s.sendall(req.encode())
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n" not in data and time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def tls_listen_line(env, port):
    cert, key = env.path("cert.pem"), env.path("key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert],
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "openssl req: %r" % p.stderr)
    return ('  listen = ( { transport = "udp"; address = "127.0.0.1:%d"; }, '
            '{ transport = "tls"; address = "127.0.0.1:%d"; '
            'certificate = "%s"; key = "%s"; } );' % (port, port, cert, key))


def run_at_limit(env, sipxd_extra, tls=False):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < NCONNS + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    real = sipxtest.SIPXD
    sipxtest.SIPXD = limited_sipxd(env)
    try:
        d = env.daemon(tcp=True, sipxd_extra=sipxd_extra, start=False)
        if tls:
            text = d.config_text([sipxtest.account("local", register=False)])
            lines = [tls_listen_line(env, d.port) if
                     ln.startswith("  listen = ") else ln
                     for ln in text.splitlines()]
            d.write_config_text("\n".join(lines) + "\n")
        d.start()
    finally:
        sipxtest.SIPXD = real
    with open("/proc/%d/limits" % d.pid) as f:
        lim = [ln.split()[3:5] for ln in f if ln.startswith("Max open files")]
    check(lim == [[str(NOFILE), str(NOFILE)]], "limits: %r" % lim)
    socks = open_idle(d.port, NCONNS)
    try:
        time.sleep(1.0)         # let the flood of connects land
        log0 = len(accept_lines(d.stderr_text()))
        cpu0, t0 = cpu_seconds(d.pid), time.monotonic()
        time.sleep(WINDOW)
        cpu1, t1 = cpu_seconds(d.pid), time.monotonic()
        share = (cpu1 - cpu0) / (t1 - t0)
        lines = accept_lines(d.stderr_text())
        print("# %s: CPU %.1f %% of %.1f s; %d accept/refusal lines "
              "(%d in the window); log %d bytes"
              % (sipxd_extra.strip() or "derived cap", share * 100,
                 t1 - t0, len(lines), len(lines) - log0,
                 len(d.stderr_text())))
        check(share < 0.10, "sipxd used %.0f %% CPU at the descriptor "
              "limit" % (share * 100))
        check(len(lines) <= 10, "%d accept/refusal log lines, e.g. %r"
              % (len(lines), lines[:3]))
        return d, socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def after_close(d, socks):
    for s in socks:
        s.close()
    status = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            status = options_over_tcp(d.port)
            if status.startswith("SIP/2.0 200"):
                break
        except OSError as e:
            status = str(e)
        time.sleep(0.2)
    check(status is not None and status.startswith("SIP/2.0 200"),
          "OPTIONS over TCP after the flood: %r" % status)


def test_derived_cap(env):
    d, socks = run_at_limit(env, "")
    # The cap leaves room for control clients: status answers at once.
    t = time.monotonic()
    r = d.ctl("status", timeout=2)
    check(r.rc == 0, "status: %r" % r)
    check(time.monotonic() - t < 2, "status took too long")
    check("refused" in d.stderr_text(), "no refusal logged")
    check("descriptors: limit %d" % NOFILE in d.stderr_text(),
          "the descriptor limit is not logged")
    after_close(d, socks)


def test_cap_above_limit_pauses(env):
    d, socks = run_at_limit(env, "  tcp = { max_connections = 100000; };")
    check("paused for" in d.stderr_text(),
          "the listener did not pause: %s" % d.stderr_text()[-1500:])
    after_close(d, socks)


def test_tls_never_handshaken(env):
    """TLS: the connections never say hello.  The excess is refused, and
    the handshake timeout (1 s here) frees the rest during the window."""
    d, socks = run_at_limit(env, "  tcp = { tls_handshake_timeout = 1; };",
                            tls=True)
    check("TLS handshake with" in d.stderr_text(),
          "no handshake timeout logged: %s" % d.stderr_text()[-1500:])
    r = d.ctl("status", timeout=2)
    check(r.rc == 0 and "connections" in r.out, "status: %r" % r)
    for s in socks:
        s.close()


if __name__ == "__main__":
    sys.exit(run_tests([
        ("derived_cap", test_derived_cap),
        ("cap_above_limit_pauses", test_cap_above_limit_pauses),
        ("tls_never_handshaken", test_tls_never_handshaken),
    ]))
