/*
 * sipxctl: the control client.  Connects to sipxd's control socket, sends
 * one command (or reads them at an interactive prompt), prints the reply
 * for people or as JSON, and follows events.  Exit status: 0 OK, 1 ERR,
 * 2 connection or usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "base/strbuf.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ctl_output.h"

#define DEFAULT_SOCKET	"/run/sipxd/control.sock"
#define EXIT_CONN	2
#define DEFAULT_TIMEOUT	5.0	/* seconds: connect and greeting */
#define MAX_TIMEOUT	3600.0

/*
 * How each known command's reply is shown.  Commands not listed are
 * still sent (a newer daemon may know them) and shown in OUT_AUTO.
 */
static const struct ctl_command {
	const char	*name;
	enum out_style	 style;
	bool		 follows;	/* keeps printing events */
	bool		 job;		/* OK id=N, then a result event */
	const char	*columns;	/* of a text table; NULL: all */
} ctl_commands[] = {
	{ "help", OUT_TABLE, false, false, NULL },
	{ "version", OUT_RECORD, false, false, NULL },
	{ "status", OUT_RECORD, false, false, NULL },
	/* What tells at a glance which account is not registered and why;
	 * the settings are in `account NAME` and --json. */
	{ "accounts", OUT_TABLE, false, false,
	    "name aor state target expires code reason failures next_try "
	    "qualify" },
	{ "account", OUT_SECTIONS, false, false, NULL },
	/* Which probe target is down, since when and why. */
	{ "peers", OUT_TABLE, false, false,
	    "uri transport state target rtt_ms failures since accounts "
	    "error" },
	{ "register", OUT_AUTO, false, false, NULL },
	{ "unregister", OUT_AUTO, false, false, NULL },
	{ "enable", OUT_AUTO, false, false, NULL },
	{ "disable", OUT_AUTO, false, false, NULL },
	{ "reload", OUT_RECORD, false, false, NULL },
	{ "log", OUT_RECORD, false, false, NULL },
	{ "events", OUT_AUTO, true, false, NULL },
	{ "options", OUT_RECORD, false, true, NULL },
	/* `call ID`; `call ACCOUNT URI` has its own path (run_call). */
	{ "call", OUT_DETAIL, false, false, NULL },
	{ "calls", OUT_TABLE, false, false, NULL },
	{ "calls history", OUT_TABLE_TIMES, false, false,
	    "id account dir remote start duration status reason ended_by "
	    "codec packets_sent packets_recv lost jitter_ms" },
	{ "answer", OUT_AUTO, false, false, NULL },
	{ "reject", OUT_AUTO, false, false, NULL },
	{ "hangup", OUT_AUTO, false, false, NULL },
	{ "hold", OUT_AUTO, false, false, NULL },
	{ "unhold", OUT_AUTO, false, false, NULL },
	{ "dtmf", OUT_AUTO, false, false, NULL },
	{ "transfer", OUT_AUTO, false, false, NULL },
	/* `message` and `request` have their own path (run_request). */
	{ "messages", OUT_TABLE_TIMES, false, false,
	    "id time from content_type encoding body" },
	/* `subscribe ...` has its own path (run_job, as `call`). */
	{ "unsubscribe", OUT_AUTO, false, false, NULL },
	{ "subscriptions", OUT_TABLE_TIMES, false, false,
	    "id account dir event uri state expires_in notifies "
	    "last_notify_at content_type reason" },
	{ "transactions", OUT_TABLE, false, false, NULL },
	{ "trace", OUT_AUTO, true, false, NULL },
	{ "quit", OUT_AUTO, false, false, NULL },
};

struct conn {
	int		 fd;
	const char	*path;
	struct strbuf	 in;
	size_t		 off;		/* start of unread bytes in in */
};

static volatile sig_atomic_t interrupted;
static bool opt_json;
static double opt_timeout = DEFAULT_TIMEOUT;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const struct ctl_command *
ctl_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
	    i++)
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	return NULL;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("sipxctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_CONN);
}

/*
 * Reads one line (without its "\n") into a NUL-terminated string owned
 * by the connection, valid until the next call.  NULL at EOF, or when
 * interrupted (SIGINT) and stop_on_signal is set.
 */
static char *
conn_readline(struct conn *c, bool stop_on_signal)
{
	for (;;) {
		char *start = c->in.p + c->off;
		char *nl = c->in.n > c->off ?
		    memchr(start, '\n', c->in.n - c->off) : NULL;
		ssize_t n;

		if (nl != NULL) {
			*nl = '\0';
			if (nl > start && nl[-1] == '\r')
				nl[-1] = '\0';
			c->off = (size_t)(nl - c->in.p) + 1;
			return start;
		}
		/* Compact before reading more. */
		if (c->off > 0) {
			memmove(c->in.p, c->in.p + c->off, c->in.n - c->off);
			c->in.n -= c->off;
			c->off = 0;
		}
		strbuf_reserve(&c->in, 65536);
		if (stop_on_signal && interrupted)
			return NULL;
		n = read(c->fd, c->in.p + c->in.n, c->in.cap - c->in.n - 1);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			die("%s accepted the connection but sent no greeting "
			    "within %g s; is sipxd stuck, or is this not its "
			    "control socket? (-t sets the wait)", c->path,
			    opt_timeout);
		if (n < 0 && errno == EINTR) {
			if (stop_on_signal && interrupted)
				return NULL;
			if (interrupted) {
				/* Ctrl-C while waiting for a reply: leave. */
				fputs("sipxctl: interrupted\n", stderr);
				exit(130);
			}
			continue;
		}
		if (n < 0)
			die("read from %s: %s", c->path, strerror(errno));
		if (n == 0)
			return NULL;
		c->in.n += (size_t)n;
	}
}

static void
conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write to %s: %s", c->path, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Bounds connect(2) (a full backlog blocks it) and reads, or lifts it. */
static void
conn_set_timeout(struct conn *c, double seconds)
{
	struct timeval tv = { 0, 0 };

	if (seconds > 0) {
		tv.tv_sec = (time_t)seconds;
		tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) *
		    1e6);
	}
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ==
	    -1 || setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1)
		die("setsockopt: %s", strerror(errno));
}

static void
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *line;

	memset(c, 0, sizeof(*c));
	c->path = path;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket: %s", strerror(errno));
	conn_set_timeout(c, opt_timeout);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			die("cannot connect to %s within %g s: its backlog is "
			    "full; is sipxd stuck?", path, opt_timeout);
		die("cannot connect to %s: %s — is sipxd running?", path,
		    strerror(errno));
	}
	line = conn_readline(c, false);
	if (line == NULL)
		die("%s closed the connection before greeting", path);
	if (strncmp(line, "ERR ", 4) == 0)
		die("%s refused the connection: %s", path, line + 4);
	if (strncmp(line, "SIPXD protocol=1", 16) != 0 ||
	    (line[16] != ' ' && line[16] != '\0'))
		die("%s does not speak sipxd control protocol 1 (greeting: "
		    "%.80s)", path, line);
	/* Greeted: replies and events may take as long as they take. */
	conn_set_timeout(c, 0);
}

/* Reads one whole reply, skipping event lines; false at EOF. */
static bool
conn_read_reply(struct conn *c, struct out_reply *r)
{
	char *line;

	out_reply_init(r);
	for (;;) {
		line = conn_readline(c, false);
		if (line == NULL)
			return false;
		if (strncmp(line, "EVENT ", 6) == 0)
			continue;
		if (out_reply_status(r, line) != 0)
			die("protocol error: expected a status line, got "
			    "'%.80s'", line);
		break;
	}
	while ((line = conn_readline(c, false)) != NULL) {
		if (strcmp(line, ".") == 0)
			return true;
		if (out_reply_add_line(r, line) != 0)
			die("protocol error: bad data line '%.80s'", line);
	}
	return false;
}

/* Prints event lines until EOF or Ctrl-C. */
static void
follow_events(struct conn *c)
{
	char *line;

	while ((line = conn_readline(c, true)) != NULL)
		if (strncmp(line, "EVENT ", 6) == 0)
			out_print_event(line, opt_json, stdout);
	if (!interrupted)
		die("sipxd closed the connection");
}

/*
 * A job answered "OK id=N" with an id record: wait for its result event
 * and show that as the reply, as if the daemon had waited.
 */
static void
conn_wait_result(struct conn *c, struct out_reply *r)
{
	char id[32];
	char *line;
	const char *v = NULL;
	int got;

	if (!r->ok || r->nrecords != 1)
		return;
	for (size_t i = 0; i < r->records[0].n; i++)
		if (strcmp(r->records[0].fields[i].key, "id") == 0)
			v = r->records[0].fields[i].value;
	if (v == NULL)
		return;
	snprintf(id, sizeof(id), "%s", v);
	out_reply_free(r);
	for (;;) {
		line = conn_readline(c, false);
		if (line == NULL)
			die("sipxd closed the connection before the result of "
			    "job %s", id);
		got = out_reply_from_result(r, line, id);
		if (got < 0)
			die("protocol error: bad result line '%.80s'", line);
		if (got > 0)
			return;
	}
}

static int
run_line(struct conn *c, const char *request, const char *name)
{
	const struct ctl_command *cmd = ctl_command_find(name);
	struct out_reply r;
	int rc;

	if (strcmp(name, "calls") == 0 && strstr(request, " history") != NULL)
		cmd = ctl_command_find("calls history");

	conn_write(c, request, strlen(request));
	if (!conn_read_reply(c, &r))
		die("sipxd closed the connection (its log says why, e.g. "
		    "control.output_limit)");
	if (cmd != NULL && cmd->job)
		conn_wait_result(c, &r);
	rc = out_print_reply(&r, cmd != NULL ? cmd->style : OUT_AUTO,
	    cmd != NULL ? cmd->columns : NULL, opt_json, stdout, stderr);
	fflush(stdout);
	if (rc == 0 && cmd != NULL && cmd->follows &&
	    strstr(request, " off") == NULL)
		follow_events(c);
	out_reply_free(&r);
	return rc;
}

/*
 * Sends a job's request line and reads its reply: the job's id (the
 * "id" of "OK id=N"'s one record), or NULL when the daemon refused it.
 */
static const char *
job_start(struct conn *c, const char *request, struct out_reply *r)
{
	conn_write(c, request, strlen(request));
	if (!conn_read_reply(c, r))
		die("sipxd closed the connection (its log says why)");
	if (r->ok && r->nrecords == 1)
		for (size_t i = 0; i < r->records[0].n; i++)
			if (strcmp(r->records[0].fields[i].key, "id") == 0)
				return r->records[0].fields[i].value;
	return NULL;
}

/*
 * `call ACCOUNT URI ...`: the daemon answers "OK id=N" at once and
 * reports the call as events on this connection.  Without wait: print
 * the id and go; closing the connection leaves the call going (the
 * daemon only stops reporting to us).  With wait: one line per state
 * until the call.result says answered (0) or failed (1).
 */
static int
run_call(struct conn *c, const char *request, bool wait, bool sub)
{
	struct out_reply r;
	char id[32];
	const char *v = NULL;
	char *line;
	int got, rc;

	v = job_start(c, request, &r);
	if (!r.ok || v == NULL || !wait) {
		/* The bare id, for `id=$(sipxctl call ...)`. */
		if (r.ok && v != NULL && !opt_json) {
			printf("%s\n", v);
			rc = 0;
		} else
			rc = out_print_reply(&r, OUT_RECORD, NULL, opt_json,
			    stdout, stderr);
		out_reply_free(&r);
		return rc;
	}
	snprintf(id, sizeof(id), "%s", v);
	out_reply_free(&r);
	for (;;) {
		line = conn_readline(c, true);
		if (line == NULL && interrupted) {
			if (sub)
				fprintf(stderr, "sipxctl: stopped waiting; "
				    "subscription %s goes on ('sipxctl "
				    "unsubscribe %s' ends it)\n", id, id);
			else
				fprintf(stderr, "sipxctl: stopped waiting; "
				    "call %s goes on ('sipxctl hangup %s' ends "
				    "it)\n", id, id);
			return 130;
		}
		if (line == NULL)
			die("sipxd closed the connection before %s %s %s",
			    sub ? "subscription" : "call", id, sub ?
			    "had its first NOTIFY or failed" :
			    "was answered or failed");
		if (sub ? out_print_sub_progress(line, id, opt_json, stdout) :
		    out_print_call_progress(line, id, opt_json, stdout))
			continue;
		got = out_reply_from_result(&r, line, id);
		if (got < 0)
			die("protocol error: bad result line '%.80s'", line);
		if (got > 0)
			break;
	}
	if (opt_json) {
		/* The result's record without its id: put it back first. */
		if (r.nrecords == 0) {
			r.records = xcalloc(1, sizeof(*r.records));
			r.nrecords = 1;
		}
		r.records[0].fields = xreallocarray(r.records[0].fields,
		    r.records[0].n + 1, sizeof(*r.records[0].fields));
		memmove(&r.records[0].fields[1], &r.records[0].fields[0],
		    r.records[0].n * sizeof(*r.records[0].fields));
		r.records[0].fields[0].key = xstrdup("id");
		r.records[0].fields[0].value = xstrdup(id);
		r.records[0].n++;
		rc = out_print_reply(&r, OUT_RECORD, NULL, true, stdout,
		    stderr);
	} else if (r.ok) {
		rc = 0;
	} else {
		fprintf(stderr, "sipxctl: %s %s failed: %s\n", sub ?
		    "subscription" : "call", id, r.message);
		rc = 1;
	}
	fflush(stdout);
	out_reply_free(&r);
	return rc;
}

/*
 * `message ACCOUNT URI TEXT` and `request ACCOUNT METHOD URI ...`: the
 * daemon answers "OK id=N" at once, then sends a request.response per
 * response and a result.  For `request` every response is printed as
 * it comes (status line, headers, body); for `message` only the final
 * answer.  Exit 0 for a 2xx, 1 otherwise.
 */
static int
run_request(struct conn *c, const char *request, bool show)
{
	struct out_reply r;
	char id[32];
	const char *v = NULL;
	char *line;
	int got, rc;

	v = job_start(c, request, &r);
	if (!r.ok || v == NULL) {
		rc = out_print_reply(&r, OUT_RECORD, NULL, opt_json, stdout,
		    stderr);
		out_reply_free(&r);
		return rc;
	}
	snprintf(id, sizeof(id), "%s", v);
	out_reply_free(&r);
	for (;;) {
		line = conn_readline(c, true);
		if (line == NULL && interrupted) {
			/* Closing the connection cancels the request. */
			fprintf(stderr, "sipxctl: stopped waiting; request %s "
			    "abandoned\n", id);
			return 130;
		}
		if (line == NULL)
			die("sipxd closed the connection before the result of "
			    "request %s", id);
		if (out_print_response(line, id, show, opt_json, stdout))
			continue;
		got = out_reply_from_result(&r, line, id);
		if (got < 0)
			die("protocol error: bad result line '%.80s'", line);
		if (got > 0)
			break;
	}
	if (opt_json) {
		rc = out_print_reply(&r, OUT_RECORD, NULL, true, stdout,
		    stderr);
	} else {
		const char *status = "", *reason = "";

		for (size_t i = 0; r.nrecords > 0 && i < r.records[0].n;
		    i++) {
			if (strcmp(r.records[0].fields[i].key, "status") == 0)
				status = r.records[0].fields[i].value;
			else if (strcmp(r.records[0].fields[i].key,
			    "reason") == 0)
				reason = r.records[0].fields[i].value;
		}
		/* request printed the final with the others. */
		if (r.ok && !show)
			printf("%s %s\n", status, reason);
		if (!r.ok)
			fprintf(stderr, "sipxctl: %s failed: %s\n", show ?
			    "request" : "message", r.message);
		rc = r.ok ? 0 : 1;
	}
	fflush(stdout);
	out_reply_free(&r);
	return rc;
}

static int
run_argv(struct conn *c, int argc, char **argv)
{
	struct strbuf req = STRBUF_INIT;
	bool wait = false, placing = false;
	int rc;

	/* --wait is sipxctl's, never sent: `call ACCOUNT URI ... --wait`. */
	if (strcmp(argv[0], "call") == 0 || strcmp(argv[0], "subscribe") ==
	    0) {
		int n = 0;

		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], "--wait") == 0)
				wait = true;
			else
				argv[n++] = argv[i];
		argc = n;
		placing = argc >= 3;
	}
	if (wait && !placing) {
		fprintf(stderr, "sipxctl: --wait goes with 'call ACCOUNT "
		    "URI' and 'subscribe ACCOUNT URI event=E'\n");
		return EXIT_CONN;
	}

	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strbuf_addc(&req, ' ');
		ctl_append_value(&req, argv[i], strlen(argv[i]));
	}
	strbuf_addc(&req, '\n');
	if (req.n > SIPX_CTL_LINE_MAX) {
		fprintf(stderr, "sipxctl: command longer than %d bytes\n",
		    SIPX_CTL_LINE_MAX);
		strbuf_free(&req);
		return EXIT_CONN;
	}
	if (placing)
		rc = run_call(c, req.p, wait, strcmp(argv[0], "subscribe") ==
		    0);
	else if (strcmp(argv[0], "message") == 0 ||
	    strcmp(argv[0], "request") == 0)
		rc = run_request(c, req.p, strcmp(argv[0], "request") == 0);
	else
		rc = run_line(c, req.p, argv[0]);
	strbuf_free(&req);
	return rc;
}

#ifdef HAVE_LIBEDIT
static int
interactive(struct conn *c)
{
	char hist[4096];
	const char *home = getenv("HOME");
	char *line;
	int rc = 0;

	hist[0] = '\0';
	if (home != NULL)
		snprintf(hist, sizeof(hist), "%s/.sipxctl_history", home);
	using_history();
	if (hist[0])
		read_history(hist);
	while ((line = readline("sipxctl> ")) != NULL) {
		struct strbuf req = STRBUF_INIT;
		char name[64];
		size_t skip = strspn(line, " \t");
		size_t n = strcspn(line + skip, " \t");

		if (line[skip] == '\0') {
			free(line);
			continue;
		}
		add_history(line);
		if (strlen(line) + 1 > SIPX_CTL_LINE_MAX) {
			fprintf(stderr, "sipxctl: command longer than %d "
			    "bytes\n", SIPX_CTL_LINE_MAX);
			free(line);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, line + skip);
		strbuf_adds(&req, line);
		strbuf_addc(&req, '\n');
		free(line);
		interrupted = 0;
		if (strcmp(name, "message") == 0 ||
		    strcmp(name, "request") == 0)
			rc = run_request(c, req.p, strcmp(name, "request") ==
			    0);
		else
			rc = run_line(c, req.p, name);
		strbuf_free(&req);
		if ((strcmp(name, "events") == 0 ||
		    strcmp(name, "trace") == 0) && interrupted) {
			struct out_reply r;

			/* Back to the prompt: stop the stream first. */
			conn_write(c, "events off\n", 11);
			if (conn_read_reply(c, &r))
				out_reply_free(&r);
			fputc('\n', stdout);
		}
		if (strcmp(name, "quit") == 0)
			break;
	}
	if (hist[0])
		write_history(hist);
	return rc;
}
#endif

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: sipxctl [-s SOCKET] [-t SECONDS] [--json] "
	    "[COMMAND [ARGS...]]\n"
	    "  -s, --socket SOCKET  control socket (default %s,\n"
	    "                       or $SIPXCTL_SOCKET)\n"
	    "  -t, --timeout SECONDS  wait at most this long to connect and "
	    "be greeted\n"
	    "                       (default 5, or $SIPXCTL_TIMEOUT)\n"
	    "  -j, --json           JSON output for programs\n"
	    "  -V, --version        print sipxctl's version\n"
	    "  -h, --help           this help; 'sipxctl help' lists the "
	    "daemon's commands\n"
	    "Without a command on a terminal: an interactive prompt.\n"
	    "'sipxctl call ACCOUNT URI [OPTIONS] --wait' follows the call "
	    "until it is\n"
	    "answered (exit 0) or fails (exit 1).\n"
	    "'sipxctl message' and 'sipxctl request' wait for the final "
	    "answer: exit 0\n"
	    "for a 2xx, 1 otherwise.\n"
	    "'sipxctl subscribe ACCOUNT URI event=E [expires=S] --wait' "
	    "follows the\n"
	    "subscription until its first NOTIFY (exit 0) or its end before "
	    "one (exit 1).\n",
	    DEFAULT_SOCKET);
}

static int
parse_timeout(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.1) ||
	    v > MAX_TIMEOUT)
		return EINVAL;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("SIPXCTL_SOCKET"), *tmo;
	struct sigaction sa;
	struct conn c;
	int ch, rc;

	if (path == NULL || path[0] == '\0')
		path = DEFAULT_SOCKET;
	if ((tmo = getenv("SIPXCTL_TIMEOUT")) != NULL && tmo[0] != '\0' &&
	    parse_timeout(tmo, &opt_timeout) != 0) {
		fprintf(stderr, "sipxctl: SIPXCTL_TIMEOUT: '%s' is not a "
		    "number of seconds (0.1 to %g)\n", tmo, MAX_TIMEOUT);
		return EXIT_CONN;
	}
	/* "+": options end at the command, whose args may look like them. */
	while ((ch = getopt_long(argc, argv, "+s:t:jVh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 't':
			if (parse_timeout(optarg, &opt_timeout) != 0) {
				fprintf(stderr, "sipxctl: -t: '%s' is not a "
				    "number of seconds (0.1 to %g)\n", optarg,
				    MAX_TIMEOUT);
				return EXIT_CONN;
			}
			break;
		case 'j': opt_json = true; break;
		case 'V': printf("sipxctl %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_CONN;
		}
	}
	argc -= optind;
	argv += optind;

	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: a blocked read returns EINTR on Ctrl-C. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, NULL);

	if (argc == 0) {
#ifdef HAVE_LIBEDIT
		if (isatty(STDIN_FILENO)) {
			conn_open(&c, path);
			rc = interactive(&c);
			close(c.fd);
			strbuf_free(&c.in);
			return rc;
		}
#endif
		usage(stderr);
		return EXIT_CONN;
	}
	conn_open(&c, path);
	rc = run_argv(&c, argc, argv);
	close(c.fd);
	strbuf_free(&c.in);
	return rc;
}
