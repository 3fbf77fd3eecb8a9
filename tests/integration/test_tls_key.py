#!/usr/bin/env python3
"""A TLS listener whose key file OpenSSL refuses: `sipxd -t` fails and
names the file with OpenSSL's reason, and so does the start (which used
to say only "Protocol error" after -t had passed the file).  A key that
belongs to another certificate is caught the same way; a good pair
passes."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import (SIPXD, check, free_port, run_tests,  # noqa: E402
                      TestFailure)


def make_pair(env, name):
    cert, key = env.path(name + ".pem"), env.path(name + "-key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", key, "-out", cert],
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "openssl req: %r" % p.stderr)
    return cert, key


def write_conf(env, cert, key):
    conf = env.path("tls.conf")
    with open(conf, "w") as f:
        f.write('sipxd: { listen = ( { transport = "tls"; '
                'address = "127.0.0.1:%d"; certificate = "%s"; '
                'key = "%s"; } ); };\n'
                'control: { path = "%s"; };\n'
                % (free_port(), cert, key, env.path("tls.sock")))
    os.chmod(conf, 0o600)
    return conf


def run_sipxd(args, timeout=10):
    try:
        p = subprocess.run([SIPXD] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("sipxd %s still running after %d s"
                          % (" ".join(args), timeout))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_garbage_key(env):
    cert, _ = make_pair(env, "server")
    key = env.path("garbage-key.pem")
    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nthis is not a key\n"
                "-----END PRIVATE KEY-----\n")
    os.chmod(key, 0o600)
    conf = write_conf(env, cert, key)
    rc, out, err = run_sipxd(["-t", "-c", conf])
    check(rc != 0, "sipxd -t passed a garbage key: %r" % out)
    check(key in err and "error:" in err,
          "-t does not name the key and OpenSSL's reason: %r" % err)
    check("%s:1:" % conf in err, "-t gives no file:line: %r" % err)
    rc, out, err = run_sipxd(["-c", conf])
    check(rc != 0, "sipxd started with a garbage key")
    check(key in err and "error:" in err and "Protocol error" not in err,
          "start does not give OpenSSL's reason: %r" % err[-1000:])


def test_mismatched_key(env):
    cert, _ = make_pair(env, "server")
    _, other_key = make_pair(env, "other")
    conf = write_conf(env, cert, other_key)
    rc, out, err = run_sipxd(["-t", "-c", conf])
    check(rc != 0, "sipxd -t passed another certificate's key")
    check(other_key in err and "mismatch" in err, "-t: %r" % err)


def test_good_pair(env):
    cert, key = make_pair(env, "server")
    conf = write_conf(env, cert, key)
    rc, out, err = run_sipxd(["-t", "-c", conf])
    check(rc == 0, "sipxd -t refused a good pair: %r" % err)


if __name__ == "__main__":
    sys.exit(run_tests([
        ("garbage_key", test_garbage_key),
        ("mismatched_key", test_mismatched_key),
        ("good_pair", test_good_pair),
    ]))
