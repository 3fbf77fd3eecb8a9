#!/usr/bin/env python3
"""sipxd under a systemd-like supervisor: sd_notify messages (READY after
the control socket listens, STATUS, RELOADING/READY around a reload,
STOPPING, WATCHDOG pings at the requested rate) read from a NOTIFY_SOCKET
of our own, and socket activation through systemd-socket-activate."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SIPXD = os.environ.get("SIPXD", "./sipxd")
SIPXCTL = os.environ.get("SIPXCTL", "./sipxctl")
results = []


def check(name, cond, why=""):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + why))
    sys.stdout.flush()


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_conf(d):
    path = os.path.join(d, "sipxd.conf")
    port = free_udp_port()
    with open(path, "w") as f:
        f.write(f"""
sipxd: {{ listen = ( {{ transport = "udp"; address = "127.0.0.1:{port}"; }} ); }};
control: {{ path = "{d}/control.sock"; }};
log: {{ level = "debug"; }};
accounts = ( {{ name = "local"; aor = "sip:sipxd@127.0.0.1"; register = false; }} );
""")
    return path


def stop(proc, name):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            check(name + " stops on SIGTERM", False, "had to SIGKILL")
            return
    check(name + " exits 0", proc.returncode == 0, f"status {proc.returncode}")


def test_notify(d):
    conf = write_conf(d)
    nsock_path = os.path.join(d, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock_path)
    ns.settimeout(5)
    env = dict(os.environ, NOTIFY_SOCKET=nsock_path, WATCHDOG_USEC="200000")
    env.pop("WATCHDOG_PID", None)
    err = open(os.path.join(d, "notify.err"), "w")
    proc = subprocess.Popen([SIPXD, "-c", conf], env=env, stderr=err)
    msgs = []

    def wait_for(prefix, limit=5.0):
        end = time.time() + limit
        while time.time() < end:
            try:
                m = ns.recv(4096).decode()
            except socket.timeout:
                break
            msgs.append(m)
            if m.startswith(prefix):
                return m
        return None

    try:
        ready = wait_for("READY=1")
        check("READY=1 sent", ready is not None, repr(msgs))
        # READY means the socket is there and answers.
        out = subprocess.run([SIPXCTL, "-s", f"{d}/control.sock", "status"],
                             capture_output=True, text=True, timeout=10)
        check("control socket answers once READY=1 is sent",
              out.returncode == 0 and "running" in out.stdout, out.stderr)
        status = wait_for("STATUS=")
        check("STATUS= summary", status is not None and "1 accounts" in status,
              repr(status))
        t0 = time.time()
        pings = 0
        while time.time() - t0 < 1.0:
            m = wait_for("WATCHDOG=1", 1.0)
            if m:
                pings += 1
        # 200 ms interval, pinged every 100 ms: about 10 in a second.
        check("watchdog pings at half the interval", 6 <= pings <= 14,
              f"{pings} pings in 1 s")
        proc.send_signal(signal.SIGHUP)
        rel = wait_for("RELOADING=1")
        check("RELOADING=1 on SIGHUP", rel is not None, repr(msgs[-5:]))
        check("MONOTONIC_USEC with RELOADING=1",
              rel is not None and "MONOTONIC_USEC=" in rel, repr(rel))
        check("READY=1 after reload", wait_for("READY=1") is not None,
              repr(msgs[-5:]))
        proc.send_signal(signal.SIGTERM)
        check("STOPPING=1 on SIGTERM", wait_for("STOPPING=1") is not None,
              repr(msgs[-5:]))
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    finally:
        stop(proc, "sipxd (notify)")
        err.close()
        ns.close()


def test_socket_activation(d):
    conf = write_conf(d)
    sock = f"{d}/control.sock"
    activate = shutil.which("systemd-socket-activate")
    check("systemd-socket-activate available", activate is not None,
          "install the systemd package")
    if activate is None:
        return
    errpath = os.path.join(d, "activate.err")
    err = open(errpath, "w")
    # Non-accept mode: the activator listens, then execs sipxd with the
    # listening socket as fd 3 (LISTEN_FDS=1) on the first connection.
    proc = subprocess.Popen([activate, "-l", sock, SIPXD, "-c", conf],
                            stderr=err, stdout=err)
    try:
        end = time.time() + 10
        while not os.path.exists(sock) and time.time() < end:
            time.sleep(0.05)
        out = subprocess.run([SIPXCTL, "-s", sock, "status"],
                             capture_output=True, text=True, timeout=20)
        check("sipxctl works through an activated socket",
              out.returncode == 0 and "running" in out.stdout,
              out.stdout + out.stderr)
        time.sleep(0.2)
        with open(errpath) as f:
            log = f.read()
        check("sipxd took the passed socket", "from systemd" in log, log[-500:])
        check("no stale-socket replacement with a passed socket",
              "stale" not in log, log[-500:])
    finally:
        stop(proc, "sipxd (activated)")
        err.close()
    check("passed socket file left to its owner", os.path.exists(sock),
          "sipxd removed a socket it did not create")


def test_unit_exposure(d):
    """The shipped unit stays hardened: exposure below 2.0."""
    unit = os.environ.get("SIPX_UNIT")
    if not unit or not os.path.exists(unit):
        check("generated sipxd.service present", False, f"{unit!r}")
        return
    copy = os.path.join(d, "sipxd.service")
    shutil.copy(unit, copy)
    out = subprocess.run(["systemd-analyze", "security", "--offline=true",
                          "--no-pager", "sipxd.service"], cwd=d,
                         capture_output=True, text=True, timeout=60)
    last = [l for l in out.stdout.splitlines() if "Overall exposure" in l]
    score = None
    if last:
        try:
            score = float(last[0].split(":")[1].split()[0])
        except (IndexError, ValueError):
            pass
    check("systemd-analyze security exposure below 2.0",
          score is not None and score < 2.0, f"{last} {out.stderr[-300:]}")
    print(f"  (exposure {score})")


def main():
    d = tempfile.mkdtemp(prefix="sipxd-systemd-")
    try:
        test_unit_exposure(d)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        test_notify(d)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        test_socket_activation(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
