"""Shared harness for the sipxd integration tests (python3 stdlib only).

It starts the real sipxd in a private temporary directory, drives it with
the real sipxctl or over a raw control socket, and stops every process it
started by PID.  A daemon that does not stop cleanly on SIGTERM (exit
status 0, no sanitizer report on stderr) fails the test that started it.

Environment (set by automake's check target):
  SIPXD, SIPXCTL  absolute paths of the binaries
  SIPX_SRCDIR     the source tree (for etc/sipxd.conf, configure.ac, docs)
"""

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_SKIP = 77

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("SIPX_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
SIPXD = os.environ.get("SIPXD") or os.path.join(SRCDIR, "build", "sipxd")
SIPXCTL = os.environ.get("SIPXCTL") or os.path.join(SRCDIR, "build", "sipxctl")

# Text that ASan, LSan or UBSan print when they find something.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: AddressSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer")

START_TIMEOUT = 10.0    # s for the control socket to accept
STOP_TIMEOUT = 10.0     # s for sipxd to exit after SIGTERM
CTL_TIMEOUT = 10.0      # s for one sipxctl run
IO_TIMEOUT = 5.0        # s for one line on a raw connection


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


def sanitizer_report(text):
    """The first line of a sanitizer report in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line.strip()
    return None


def wait_until(pred, timeout, interval=0.02):
    """Polls pred() until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def stop_popen(popen, grace=5.0):
    """Ends a child we started: SIGTERM, then SIGKILL after grace s."""
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def table_rows(lines):
    """A sipxctl table's lines as (header, [row dicts]), cut at the
    columns where the header's words start (columns are aligned; values
    may hold spaces)."""
    check(len(lines) >= 1, "empty table output")
    cols = [(m.group(0), m.start()) for m in re.finditer(r"\S+", lines[0])]
    header = [name for name, _ in cols]
    check(header and all(re.match(r"^[A-Z][A-Z0-9_.-]*$", h) for h in header),
          "table header %r" % lines[0])
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (name, start) in enumerate(cols):
            end = cols[i + 1][1] if i + 1 < len(cols) else len(line)
            check(start == 0 or line[start - 1] == " ",
                  "row %r not aligned with header %r" % (line, lines[0]))
            row[name] = line[start:end].strip()
        rows.append(row)
    return header, rows


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise TestFailure("no free port on 127.0.0.1")


# ---- the protocol's line syntax ---------------------------------------------

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def split_line(line):
    """Tokens of a protocol line (doc/control-protocol.md, Requests)."""
    toks, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return toks
        tok = []
        while i < n and line[i] not in " \t":
            c = line[i]
            i += 1
            if c != '"':
                tok.append(c)
                continue
            while True:
                if i >= n:
                    raise ValueError("unbalanced quote in %r" % line)
                c = line[i]
                i += 1
                if c == '"':
                    break
                if c == "\\":
                    if i >= n or line[i] not in _ESCAPES:
                        raise ValueError("bad escape in %r" % line)
                    tok.append(_ESCAPES[line[i]])
                    i += 1
                else:
                    tok.append(c)
        toks.append("".join(tok))


KEY_RE = re.compile(r"^[a-z][a-z0-9_.-]*$")


def parse_record(line):
    """A data line as a dict; raises ValueError if it is not one."""
    rec = {}
    for tok in split_line(line):
        key, eq, value = tok.partition("=")
        if not eq or not KEY_RE.match(key):
            raise ValueError("not a key=value field: %r in %r" % (tok, line))
        rec[key] = value
    return rec


def parse_event(line):
    """'EVENT type k=v ...' (or without 'EVENT ') -> (type, dict)."""
    if line.startswith("EVENT "):
        line = line[6:]
    etype, _, rest = line.partition(" ")
    return etype, parse_record(rest)


def quote(value):
    """Quotes a token for a request line when it needs it."""
    if value and not any(c in value for c in ' \t"\\') and \
            all(ord(c) >= 0x20 for c in value):
        return value
    out = ['"']
    for c in value:
        out.append({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t",
                    "\r": "\\r"}.get(c, c))
    out.append('"')
    return "".join(out)


# ---- raw control connections ------------------------------------------------

class Reply:
    def __init__(self, status, lines):
        self.status = status
        self.lines = lines                  # data lines, as sent
        self.records = [parse_record(l) for l in lines]

    @property
    def ok(self):
        return self.status == "OK" or self.status.startswith("OK ")

    @property
    def code(self):
        return self.status.split(" ", 2)[1] if self.status.startswith("ERR ") \
            else None

    def __repr__(self):
        return "Reply(%r, %r)" % (self.status, self.lines)


class Conn:
    """One raw connection to a control socket."""

    def __init__(self, path, greet=True, rcvbuf=None, timeout=IO_TIMEOUT):
        self.path = path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.close()
            raise
        self.buf = b""
        self.eof = False
        self.reset = False
        self.events = []                    # EVENT lines seen between replies
        self.greeting = self.read_line() if greet else None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TestFailure("%s: timed out waiting for a line (have %r)"
                              % (self.path, self.buf[:200]))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TestFailure("%s: timed out waiting for a line (have %r)"
                              % (self.path, self.buf[:200]))
        except ConnectionResetError:
            # The server closed with our bytes unread: an EOF that lost
            # nothing it had written before.
            data = b""
            self.reset = True
        if not data:
            self.eof = True
        self.buf += data

    def read_line(self, timeout=None):
        """The next line without its LF; None at EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            if self.eof:
                if self.buf:
                    raise TestFailure("%s: EOF inside a line: %r"
                                      % (self.path, self.buf[:200]))
                return None
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8")

    def reply(self, timeout=None):
        """Reads one reply; EVENT lines before it go to self.events."""
        while True:
            line = self.read_line(timeout)
            if line is None:
                raise TestFailure("%s: connection closed before a reply"
                                  % self.path)
            if line.startswith("EVENT "):
                self.events.append(line)
                continue
            break
        check(line.startswith("OK") or line.startswith("ERR "),
              "expected a status line, got %r" % line)
        check(line == "OK" or line.startswith("OK ") or
              line.startswith("ERR "), "bad status line %r" % line)
        data = []
        while True:
            l = self.read_line(timeout)
            if l is None:
                raise TestFailure("%s: connection closed inside a reply "
                                  "after %r" % (self.path, [line] + data))
            if l == ".":
                break
            check(not l.startswith("EVENT "),
                  "event line inside a reply: %r" % l)
            check(KEY_RE.match(l.partition("=")[0]) is not None,
                  "data line does not start with a key: %r" % l)
            data.append(l)
        return Reply(line, data)

    def request(self, line, timeout=None):
        self.send(line + "\n")
        return self.reply(timeout)

    def next_event(self, timeout=None):
        """The next EVENT line, from what was collected or the socket."""
        if self.events:
            return self.events.pop(0)
        line = self.read_line(timeout)
        if line is None:
            raise TestFailure("%s: closed while waiting for an event"
                              % self.path)
        check(line.startswith("EVENT "), "expected an EVENT line, got %r"
              % line)
        return line

    def wait_event(self, etype, timeout=None, pred=None):
        """Skips events until one of etype (matching pred) arrives."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("no %s event within the time; saw %r"
                                  % (etype, seen))
            line = self.next_event(remaining)
            t, fields = parse_event(line)
            if t == etype and (pred is None or pred(fields)):
                return fields
            seen.append(line)

    def job_result(self, job_id, timeout=None):
        """The fields of the `EVENT <kind>.result` of job job_id (a job
        answers `OK id=N` at once); other events stay in self.events."""
        for i, line in enumerate(self.events):
            t, fields = parse_event(line)
            if t.endswith(".result") and fields.get("id") == str(job_id):
                del self.events[i]
                return fields
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("no result for job %s; saw %r"
                                  % (job_id, self.events[-5:]))
            line = self.read_line(remaining)
            if line is None:
                raise TestFailure("%s: closed before the result of job %s"
                                  % (self.path, job_id))
            check(line.startswith("EVENT "), "expected an EVENT line while "
                  "waiting for job %s, got %r" % (job_id, line))
            t, fields = parse_event(line)
            if t.endswith(".result") and fields.get("id") == str(job_id):
                return fields
            self.events.append(line)

    def run_job(self, line, timeout=None):
        """Sends a job command (e.g. options); returns the result event's
        fields (result=ok|failed, code, error, and the record's)."""
        r = self.request(line, timeout)
        check(r.ok and r.records and "id" in r.records[0],
              "%s: expected OK id=N, got %r" % (line, r))
        return self.job_result(r.records[0]["id"], timeout)

    def read_until_eof(self, timeout=None):
        """All lines up to EOF; fails if the server keeps it open."""
        lines = []
        while True:
            line = self.read_line(timeout)
            if line is None:
                return lines
            lines.append(line)


# ---- background processes whose stdout is read line by line ---------------

class LineProc:
    """A child whose stdout is read line by line with timeouts."""

    def __init__(self, argv, env=None, stderr_path=None):
        self.stderr_path = stderr_path
        errf = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=errf,
                                         env=env)
        finally:
            if stderr_path:
                errf.close()
        self.pid = self.proc.pid
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.eof = False

    def read_line(self, timeout=IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("pid %d: no output line within %.1f s "
                                  "(have %r)" % (self.pid, timeout,
                                                 self.buf[:200]))
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(remaining):
                    continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                self.eof = True
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8")

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Kills it by PID if still running; idempotent."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self.proc.stdout.close()

    def stderr_text(self):
        if not self.stderr_path or not os.path.exists(self.stderr_path):
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


# ---- config files ------------------------------------------------------------

def conf_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, conf_value(x))
                               for k, x in v.items()) + " }"
    return conf_str(str(v))


def account(name, aor=None, **keys):
    """An account as a dict for Sipxd.write_config; keys as in sipxd.conf.

    register defaults to false here (sipxd's default is true): a test
    account registers only when the test says where, so that no test
    sends REGISTERs to 127.0.0.1:5060 or to a real domain by accident.
    """
    a = {"name": name, "aor": aor or "sip:%s@127.0.0.1" % name,
         "register": False}
    a.update(keys)
    return a


# ---- sipxd ----------------------------------------------------------------------

class Sipxd:
    """One sipxd in the foreground, stderr to a file."""

    def __init__(self, env, name="sipxd", accounts=None, control=None,
                 log_level="info", readonly=True, extra="", port=None,
                 tcp=False, sipxd_extra=""):
        self.env = env
        self.name = name
        self.dir = env.tmp
        self.conf = os.path.join(self.dir, name + ".conf")
        self.sock = os.path.join(self.dir, name + ".sock")
        self.ro_sock = os.path.join(self.dir, name + "-ro.sock") \
            if readonly else None
        self.stderr_path = os.path.join(self.dir, name + ".stderr")
        self.stdout_path = os.path.join(self.dir, name + ".stdout")
        self.port = port or free_port()
        self.tcp = tcp
        self.sipxd_extra = sipxd_extra
        self.proc = None
        self.returncode = None
        self.checked = False
        self.expect_clean = True
        self.write_config(accounts if accounts is not None else
                          [account("local", register=False)],
                          control=control, log_level=log_level, extra=extra)

    # -- config --
    def config_text(self, accounts, control=None, log_level="info", extra=""):
        ctl = {"path": self.sock}
        if self.ro_sock:
            ctl["readonly_path"] = self.ro_sock
        ctl.update(control or {})
        lines = [
            "# written by tests/integration/sipxtest.py",
            "sipxd: {",
            '  listen = ( { transport = "udp"; address = "127.0.0.1:%d"; }%s );'
            % (self.port, ', { transport = "tcp"; address = "127.0.0.1:%d"; }'
               % self.port if self.tcp else ""),
            "  timers = { t1 = 50; t2 = 400; t4 = 500; };",
            "  register_spread = 0;",
            self.sipxd_extra,
            "};",
            "control: {",
        ]
        lines += ["  %s = %s;" % (k, conf_value(v)) for k, v in ctl.items()]
        lines += ["};", "log: { level = %s; };" % conf_str(log_level)]
        if accounts:
            lines.append("accounts = (")
            for i, a in enumerate(accounts):
                sep = "," if i + 1 < len(accounts) else ""
                lines.append("  { " + " ".join(
                    "%s = %s;" % (k, conf_value(v)) for k, v in a.items())
                    + " }" + sep)
            lines.append(");")
        if extra:
            lines.append(extra)
        return "\n".join(lines) + "\n"

    def write_config(self, accounts, control=None, log_level="info",
                     extra=""):
        self.write_config_text(self.config_text(accounts, control, log_level,
                                                extra))

    def write_config_text(self, text):
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.conf)

    # -- process --
    def spawn(self, args=(), env=None, stderr_fd=None):
        """Starts sipxd; does not wait for it."""
        argv = [SIPXD, "-c", self.conf] + list(args)
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("LISTEN_FDS", None)
        e.pop("LISTEN_PID", None)
        e.pop("WATCHDOG_USEC", None)
        if env:
            e.update(env)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb") if stderr_fd is None else None
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=stderr_fd if stderr_fd is not None else err, env=e)
        finally:
            out.close()
            if err:
                err.close()
        self.env.register(self)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def start(self, args=(), env=None, stderr_fd=None):
        self.spawn(args, env, stderr_fd)
        self.wait_ready()
        return self

    def wait_ready(self):
        """Waits for a greeting on the control socket, then says quit and
        waits for the server to close, so that it counts no stray client."""
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # Reported here; teardown only looks for sanitizer text.
                self.returncode = self.proc.returncode
                self.expect_clean = False
                raise TestFailure("%s exited with %d at start-up: %s"
                                  % (self.name, self.proc.returncode,
                                     self.stderr_text()[-2000:]))
            try:
                with Conn(self.sock, timeout=2) as c:
                    check(c.greeting is not None and
                          c.greeting.startswith("SIPXD "),
                          "bad greeting %r" % c.greeting)
                    r = c.request("quit")
                    check_eq(r.status, "OK bye", "quit")
                    check_eq(c.read_until_eof(), [], "lines after quit")
                return
            except (FileNotFoundError, ConnectionRefusedError) as e:
                last = e
                time.sleep(0.02)
        raise TestFailure("%s: control socket %s not accepting within %.0f s"
                          " (%s)" % (self.name, self.sock, START_TIMEOUT,
                                     last))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Exit status, or None if still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM, bounded wait, SIGKILL if needed; returns the status.
        Raises TestFailure when the stop was not clean."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                raise TestFailure("%s (pid %d) still running %.0f s after "
                                  "SIGTERM; killed" % (self.name, self.pid,
                                                       STOP_TIMEOUT))
        self.returncode = self.proc.returncode
        self.check_clean()
        return self.returncode

    def check_clean(self):
        self.checked = True
        err = self.stderr_text()
        san = sanitizer_report(err)
        if san:
            raise TestFailure("%s: sanitizer report: %s\n%s" %
                              (self.name, san, err[-4000:]))
        if self.expect_clean and self.returncode != 0:
            raise TestFailure("%s exited with status %r after SIGTERM: %s"
                              % (self.name, self.returncode, err[-2000:]))

    def kill(self):
        """Last resort, by PID; no checks."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=IO_TIMEOUT):
        check(wait_until(lambda: text in self.stderr_text(), timeout),
              "%s: %r not logged within %.0f s; log tail: %s"
              % (self.name, text, timeout, self.stderr_text()[-1500:]))

    # -- clients --
    def ctl(self, *args, json=False, sock=None, timeout=CTL_TIMEOUT):
        return run_ctl(["-s", sock or self.sock] + (["--json"] if json else [])
                       + list(args), timeout=timeout)

    def connect(self, readonly=False, **kw):
        c = Conn(self.ro_sock if readonly else self.sock, **kw)
        self.env.conns.append(c)
        return c

    def ctl_events(self, *args, json=False, sock=None):
        """`sipxctl events ARGS` in the background, stdout read by lines."""
        argv = [SIPXCTL, "-s", sock or self.sock] + \
            (["--json"] if json else []) + ["events"] + list(args)
        p = LineProc(argv, stderr_path=self.env.path(
            "ctl-events-%d.stderr" % self.env.next_id()))
        self.env.register_proc(p)
        return p


class CtlResult:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return "sipxctl %s -> %d\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.rc, self.out, self.err)

    def json(self):
        import json as _json
        lines = self.out.splitlines()
        check(len(lines) == 1, "--json: expected one line, got %r" % self.out)
        return _json.loads(lines[0])


def run_ctl(args, timeout=CTL_TIMEOUT, env=None, stdin=subprocess.DEVNULL,
            binary=None, **popen):
    """Runs sipxctl (or a copy at binary); popen may carry user=, group=,
    extra_groups=."""
    argv = [binary or SIPXCTL] + list(args)
    e = dict(os.environ)
    e.pop("SIPXCTL_SOCKET", None)
    if env:
        e.update(env)
    try:
        p = subprocess.run(argv, stdin=stdin, capture_output=True,
                           timeout=timeout, env=e, **popen)
    except subprocess.TimeoutExpired:
        raise TestFailure("sipxctl %s did not finish within %.0f s"
                          % (" ".join(args), timeout))
    res = CtlResult(list(args), p.returncode, p.stdout.decode(),
                    p.stderr.decode())
    san = sanitizer_report(res.err)
    check(san is None, "sipxctl sanitizer report: %s\n%s" % (san, res.err))
    return res


def expect_ctl(res, rc, what=None):
    check(res.rc == rc, "%sexpected exit %d: %r" %
          ((what + ": ") if what else "", rc, res))
    return res


# ---- per-test environment and the runner ----------------------------------------

class Env:
    """A temporary directory and every process a test started."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="sipxt-")
        self.daemons = []
        self.procs = []
        self.conns = []
        self._id = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def next_id(self):
        self._id += 1
        return self._id

    def register(self, d):
        if d not in self.daemons:
            self.daemons.append(d)

    def register_proc(self, p):
        self.procs.append(p)

    def daemon(self, name="sipxd", start=True, **kw):
        d = Sipxd(self, name=name, **kw)
        if start:
            d.start()
        return d

    def close(self):
        """Stops everything; returns a list of problems found."""
        problems = []
        for c in self.conns:
            c.close()
        for p in self.procs:
            try:
                p.stop()
            except Exception as e:      # keep cleaning up
                problems.append("stopping pid %d: %s" % (p.pid, e))
        for d in self.daemons:
            try:
                if d.proc is not None and d.returncode is None:
                    d.stop()
                elif d.proc is not None and not d.checked:
                    d.check_clean()
            except TestFailure as e:
                problems.append(str(e))
            finally:
                d.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


def one_line(s, limit=600):
    s = " | ".join(x.strip() for x in str(s).splitlines() if x.strip())
    return s if len(s) <= limit else s[:limit] + " ..."


def run_tests(tests, argv=None):
    """Runs [(name, fn(env))]; prints PASS/FAIL lines and the summary;
    returns the exit status (0 all passed, 1 any failure)."""
    argv = sys.argv[1:] if argv is None else argv
    if not (os.access(SIPXD, os.X_OK) and os.access(SIPXCTL, os.X_OK)):
        print("SKIP: no sipxd/sipxctl binaries (SIPXD=%s SIPXCTL=%s)"
              % (SIPXD, SIPXCTL))
        return EXIT_SKIP
    only = set(argv)
    passed = failed = 0
    t0 = time.monotonic()
    for name, fn in tests:
        if only and name not in only:
            continue
        env = Env(name)
        err = None
        start = time.monotonic()
        try:
            fn(env)
        except TestFailure as e:
            err = one_line(e)
        except Exception as e:
            tb = traceback.extract_tb(e.__traceback__)
            where = "%s:%d" % (os.path.basename(tb[-1].filename),
                               tb[-1].lineno) if tb else "?"
            err = one_line("%s: %s (at %s)" % (type(e).__name__, e, where))
        problems = env.close()
        if problems:
            err = (err + "; " if err else "") + one_line("; ".join(problems))
        took = time.monotonic() - start
        if err:
            failed += 1
            print("FAIL %s: %s" % (name, err))
        else:
            passed += 1
            print("PASS %s (%.2f s)" % (name, took) if
                  os.environ.get("SIPXTEST_TIMES") else "PASS %s" % name)
        sys.stdout.flush()
    if os.environ.get("SIPXTEST_TIMES"):
        print("# %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
