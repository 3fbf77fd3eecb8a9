#!/usr/bin/env python3
"""sipxctl's interactive prompt, on a real pseudo-terminal: commands typed
at 'sipxctl> ' are answered, history is saved to ~/.sipxctl_history, and
'quit' leaves with status 0."""
import os
import pty
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipxtest import SIPXCTL, check, run_tests  # noqa: E402


def read_until(fd, needle, limit=10.0):
    buf = b""
    end = time.time() + limit
    while needle.encode() not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace")


def test_prompt(env):
    d = env.daemon()
    home = os.path.join(env.tmp, "home")
    os.mkdir(home)
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["HOME"] = home
        os.environ["TERM"] = "dumb"
        os.execv(SIPXCTL, [SIPXCTL, "-s", d.sock])
    try:
        out = read_until(fd, "sipxctl> ")
        check("sipxctl> " in out, "no prompt: %r" % out)
        os.write(fd, b"status\r")
        out = read_until(fd, "log_level")
        check("state:" in out and "running" in out, "status: %r" % out)
        out = read_until(fd, "sipxctl> ")
        os.write(fd, b"frobnicate\r")
        out = read_until(fd, "unknown-command")
        check("unknown-command" in out, "error shown: %r" % out)
        tail = out.split("unknown-command", 1)[1]
        if "sipxctl> " not in tail:
            tail += read_until(fd, "sipxctl> ")
        check("sipxctl> " in tail, "prompt after an error: %r" % tail)
        os.write(fd, b"quit\r")
        _, status = os.waitpid(pid, 0)
        pid = 0
        check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
              "exit status %r" % status)
        hist = os.path.join(home, ".sipxctl_history")
        check(os.path.exists(hist), "no history file")
        with open(hist) as f:
            text = f.read()
        check("status" in text and "frobnicate" in text,
              "history: %r" % text)
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


if __name__ == "__main__":
    sys.exit(run_tests([("interactive_prompt", test_prompt)]))
