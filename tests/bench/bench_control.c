/*
 * bench_control: measures the sipxd control socket from the client's side
 * (round trips, pipelined throughput, event latency) and prints figures.
 * It never passes or fails. It links nothing of the daemon and speaks the
 * protocol from doc/control-protocol.md alone, so a figure here is what any
 * client would see. It exits non-zero only when the server cannot be
 * reached or breaks the protocol, an ERR reply included.
 *
 * The client is one thread. With one connection it uses blocking reads; with
 * several it uses poll() over them. On a two-core machine a thread per
 * connection would take CPU away from the server being measured. The
 * "client cpu" column shows how much of one core the client itself used. If
 * it nears 100% the figure is the client's limit, not the server's.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BUF_SIZE		65536	/* per connection; a line must fit */
#define BENCH_IO_TIMEOUT	5	/* seconds without a byte: give up */
#define BENCH_WARMUP_MAX	0.5	/* seconds, not counted */
#define BENCH_CLIENTS_MAX	4096	/* SIPX_CTL_CLIENTS_MAX */
#define BENCH_DEPTH_MAX		4096
#define BENCH_EVENTS_MAX	1000000
#define BENCH_EVENTS_WARMUP	10	/* changes made before timing */
#define BENCH_SHOW_MAX		200	/* bytes of a bad line quoted */

#define BENCH_GREETING		"SIPXD protocol=1"
#define BENCH_REQUEST		"version\n"

#define NSEC_PER_SEC		1000000000LL

enum line_kind {
	LINE_DATA,
	LINE_EVENT,
};

struct conn {
	int		 fd;
	bool		 greeted;
	bool		 in_reply;	/* status seen, "." not yet */
	size_t		 len;		/* unparsed bytes at buf */
	const char	*wp;		/* bytes still to send */
	size_t		 wn;
	unsigned	 outstanding;	/* requests awaiting replies */
	uint64_t	 replies;
	/* Called for data lines and event lines; NULL ignores them. */
	void		(*on_line)(struct conn *, enum line_kind,
			    const char *, size_t);
	void		*arg;
	char		 buf[BENCH_BUF_SIZE];
};

struct load_result {
	double		 rate;		/* replies per second */
	double		 cpu;		/* client CPU, share of a core */
};

struct ev_state {
	bool		 synced;
	const char	*want;		/* level the event must carry */
	bool		 got;
	char		 level[32];	/* from the "log level" reply */
};

static const char	*sock_path;
static char		 greeting[256];

static void __attribute__((noreturn, format(printf, 1, 2)))
fatalx(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench_control: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	char msg[512];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fatalx("%s: %s", msg, strerror(saved));
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t
now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int
show_len(size_t n)
{
	return n > BENCH_SHOW_MAX ? BENCH_SHOW_MAX : (int)n;
}

/*
 * Finds key=value among the space-separated fields of a data or event line
 * and copies the value (unquoted, escapes kept as they are) into out.
 * Spaces inside double quotes do not end a field.
 */
static bool
field_get(const char *p, size_t n, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key), i = 0, j, o;
	bool quoted;

	while (i < n) {
		for (j = i, quoted = false; j < n; j++) {
			if (p[j] == '\\' && quoted && j + 1 < n)
				j++;
			else if (p[j] == '"')
				quoted = !quoted;
			else if (p[j] == ' ' && !quoted)
				break;
		}
		if (j - i > klen && memcmp(p + i, key, klen) == 0 &&
		    p[i + klen] == '=') {
			for (i += klen + 1, o = 0; i < j && o + 1 < outsz; i++)
				if (p[i] != '"')
					out[o++] = p[i];
			out[o] = '\0';
			return true;
		}
		i = j + 1;
	}
	return false;
}

static void
conn_line(struct conn *c, const char *p, size_t n)
{
	const size_t glen = sizeof(BENCH_GREETING) - 1;

	if (!c->greeted) {
		if (n >= 4 && memcmp(p, "ERR ", 4) == 0)
			fatalx("%s refused the connection: %.*s", sock_path,
			    show_len(n), p);
		if (n < glen || memcmp(p, BENCH_GREETING, glen) != 0 ||
		    (n > glen && p[glen] != ' '))
			fatalx("bad greeting (want \"%s ...\"): %.*s",
			    BENCH_GREETING, show_len(n), p);
		if (greeting[0] == '\0')
			snprintf(greeting, sizeof(greeting), "%.*s",
			    (int)(n < sizeof(greeting) ? n :
			    sizeof(greeting) - 1), p);
		c->greeted = true;
		return;
	}
	if (c->in_reply) {
		if (n == 1 && p[0] == '.') {
			c->in_reply = false;
			c->replies++;
			if (c->outstanding > 0)
				c->outstanding--;
			return;
		}
		/* Data lines start with a lower-case key; nothing else may. */
		if (n == 0 || p[0] < 'a' || p[0] > 'z')
			fatalx("bad data line in a reply: %.*s", show_len(n),
			    p);
		if (c->on_line != NULL)
			c->on_line(c, LINE_DATA, p, n);
		return;
	}
	if (n >= 6 && memcmp(p, "EVENT ", 6) == 0) {
		if (c->on_line != NULL)
			c->on_line(c, LINE_EVENT, p, n);
		return;
	}
	if (n >= 2 && memcmp(p, "OK", 2) == 0 && (n == 2 || p[2] == ' ')) {
		c->in_reply = true;
		return;
	}
	if (n >= 4 && memcmp(p, "ERR ", 4) == 0)
		fatalx("server replied: %.*s", show_len(n), p);
	fatalx("unexpected line from server: %.*s", show_len(n), p);
}

static void
conn_parse(struct conn *c)
{
	char *p = c->buf, *end = c->buf + c->len, *nl;
	size_t n, rest;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		conn_line(c, p, n);
		p = nl + 1;
	}
	rest = (size_t)(end - p);
	if (rest == sizeof(c->buf))
		fatalx("server sent a line longer than %zu bytes",
		    sizeof(c->buf));
	if (rest > 0 && p != c->buf)
		memmove(c->buf, p, rest);
	c->len = rest;
}

/*
 * Reads what is there and parses every complete line. flags is 0 to block
 * (up to BENCH_IO_TIMEOUT, from SO_RCVTIMEO) or MSG_DONTWAIT. Returns false
 * if nothing came: it would block, or the timeout passed.
 */
static bool
conn_read(struct conn *c, int flags)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
		    flags);
		if (n > 0)
			break;
		if (n == 0)
			fatalx("server closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		fatal("recv");
	}
	c->len += (size_t)n;
	conn_parse(c);
	return true;
}

static void
conn_read_wait(struct conn *c)
{
	if (!conn_read(c, 0))
		fatalx("no reply from server within %d s", BENCH_IO_TIMEOUT);
}

/* Sends what it can of c->wp without blocking. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->wn > 0) {
		n = send(c->fd, c->wp, c->wn, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fatal("send");
		}
		c->wp += n;
		c->wn -= (size_t)n;
	}
}

/* For the one-off requests of the event test: short, so block for them. */
static void
conn_send(struct conn *c, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, s, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("send");
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Reads until the reply now awaited has ended. */
static void
conn_wait_reply(struct conn *c)
{
	uint64_t want = c->replies + 1;

	while (c->replies < want)
		conn_read_wait(c);
}

static void
conn_request(struct conn *c, const char *s)
{
	conn_send(c, s);
	conn_wait_reply(c);
}

static struct conn *
conn_open(void)
{
	struct sockaddr_un sun;
	struct timeval tv = { .tv_sec = BENCH_IO_TIMEOUT };
	struct conn *c;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sun.sun_path))
		fatalx("%s: socket path too long", sock_path);
	memcpy(sun.sun_path, sock_path, strlen(sock_path));

	c = xcalloc(1, sizeof(*c));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("connect %s", sock_path);
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		fatal("setsockopt SO_RCVTIMEO");
	while (!c->greeted)
		conn_read_wait(c);
	return c;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

static void
conn_send_batch(struct conn *c, const char *req, size_t len, unsigned depth)
{
	c->wp = req;
	c->wn = len;
	c->outstanding = depth;
	conn_flush(c);
}

/*
 * nclients connections each keep depth "version" requests in flight, sent
 * in one write, and send the next batch once all replies of the last one
 * have been read. Replies are counted for `seconds` after a short warm-up;
 * then requests in flight are drained so every reply is checked.
 */
static struct load_result
bench_load(unsigned nclients, unsigned depth, double seconds)
{
	struct load_result res;
	struct conn **cs;
	struct pollfd *pfd;
	char *req;
	size_t reqlen = depth * (sizeof(BENCH_REQUEST) - 1);
	double warmup = seconds / 10;
	int64_t t, t_start, t_warm, t_deadline, t_begin = 0, t_last_io;
	int64_t cpu_begin = 0, cpu_end = 0;
	uint64_t base = 0, counted = 0;
	bool counting = false, stopping = false, idle, progress;
	unsigned i;
	int r;

	if (warmup > BENCH_WARMUP_MAX)
		warmup = BENCH_WARMUP_MAX;
	req = xcalloc(reqlen + 1, 1);
	for (i = 0; i < depth; i++)
		memcpy(req + i * (sizeof(BENCH_REQUEST) - 1), BENCH_REQUEST,
		    sizeof(BENCH_REQUEST) - 1);
	cs = xcalloc(nclients, sizeof(*cs));
	pfd = xcalloc(nclients, sizeof(*pfd));
	for (i = 0; i < nclients; i++) {
		cs[i] = conn_open();
		pfd[i].fd = cs[i]->fd;
	}

	t_start = t_last_io = now_ns();
	t_warm = t_start + (int64_t)(warmup * NSEC_PER_SEC);
	t_deadline = t_warm + (int64_t)(seconds * NSEC_PER_SEC);
	for (i = 0; i < nclients; i++)
		conn_send_batch(cs[i], req, reqlen, depth);

	for (;;) {
		progress = false;
		if (nclients == 1 && cs[0]->wn == 0) {
			/* One connection: a blocking read is the cheapest. */
			conn_read_wait(cs[0]);
			progress = true;
			if (cs[0]->outstanding == 0 && !stopping)
				conn_send_batch(cs[0], req, reqlen, depth);
		} else {
			for (i = 0; i < nclients; i++)
				pfd[i].events = POLLIN |
				    (cs[i]->wn > 0 ? POLLOUT : 0);
			r = poll(pfd, nclients, 1000);
			if (r == -1 && errno != EINTR)
				fatal("poll");
			for (i = 0; r > 0 && i < nclients; i++) {
				if (pfd[i].revents == 0)
					continue;
				if ((pfd[i].revents & POLLOUT) &&
				    cs[i]->wn > 0)
					conn_flush(cs[i]);
				if ((pfd[i].revents & ~POLLOUT) &&
				    conn_read(cs[i], MSG_DONTWAIT))
					progress = true;
				if (cs[i]->outstanding == 0 && !stopping)
					conn_send_batch(cs[i], req, reqlen,
					    depth);
			}
		}

		t = now_ns();
		if (progress)
			t_last_io = t;
		else if (t - t_last_io > BENCH_IO_TIMEOUT * NSEC_PER_SEC)
			fatalx("no reply from server within %d s",
			    BENCH_IO_TIMEOUT);
		if (!counting && t >= t_warm) {
			counting = true;
			t_begin = t;
			cpu_begin = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
			for (i = 0; i < nclients; i++)
				base += cs[i]->replies;
		}
		if (!stopping && t >= t_deadline) {
			stopping = true;
			cpu_end = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
			for (i = 0; i < nclients; i++)
				counted += cs[i]->replies;
			counted -= base;
			res.rate = (double)counted * NSEC_PER_SEC /
			    (double)(t - t_begin);
			res.cpu = (double)(cpu_end - cpu_begin) /
			    (double)(t - t_begin);
		}
		if (stopping) {
			for (i = 0, idle = true; i < nclients; i++)
				if (cs[i]->outstanding > 0)
					idle = false;
			if (idle)
				break;
		}
	}

	for (i = 0; i < nclients; i++)
		conn_close(cs[i]);
	free(pfd);
	free(cs);
	free(req);
	return res;
}

static void
ev_subscriber_line(struct conn *c, enum line_kind kind, const char *p,
    size_t n)
{
	struct ev_state *st = c->arg;
	char level[32];

	if (kind != LINE_EVENT)
		return;
	if (n >= 10 && memcmp(p, "EVENT sync", 10) == 0 &&
	    (n == 10 || p[10] == ' ')) {
		st->synced = true;
		return;
	}
	if (st->want == NULL || n < 23 ||
	    memcmp(p, "EVENT daemon.log-level ", 23) != 0)
		return;
	if (!field_get(p + 23, n - 23, "level", level, sizeof(level)))
		fatalx("daemon.log-level event without level: %.*s",
		    show_len(n), p);
	if (strcmp(level, st->want) == 0)
		st->got = true;
}

static void
ev_changer_line(struct conn *c, enum line_kind kind, const char *p, size_t n)
{
	struct ev_state *st = c->arg;

	if (kind == LINE_DATA)
		field_get(p, n, "level", st->level, sizeof(st->level));
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile_us(const int64_t *v, size_t n, double pct)
{
	size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

/*
 * Client A subscribes to daemon events; client B flips the log level
 * between debug and info. The latency is from just before B's send to A
 * having read the matching daemon.log-level event. B's own reply is read
 * after that, so it does not count. The level found at the start is put
 * back at the end.
 */
static void
bench_events(unsigned count, double seconds)
{
	struct ev_state st;
	struct conn *a, *b;
	const char *levels[2];
	char line[64], orig[sizeof(st.level)];
	int64_t *lat, t0, t1, t_end = 0;
	unsigned i, k = 0, total = count + BENCH_EVENTS_WARMUP;

	memset(&st, 0, sizeof(st));
	lat = xcalloc(count, sizeof(*lat));
	a = conn_open();
	a->on_line = ev_subscriber_line;
	a->arg = &st;
	b = conn_open();
	b->on_line = ev_changer_line;
	b->arg = &st;

	conn_request(a, "events kind=daemon\n");
	while (!st.synced)
		conn_read_wait(a);
	conn_request(b, "log level\n");
	if (st.level[0] == '\0')
		fatalx("\"log level\" reply has no level field");
	memcpy(orig, st.level, sizeof(orig));

	/* Start with a real change: an unchanged level may send no event. */
	levels[0] = strcmp(orig, "debug") == 0 ? "info" : "debug";
	levels[1] = levels[0][0] == 'd' ? "info" : "debug";
	for (i = 0; i < total; i++) {
		if (i == BENCH_EVENTS_WARMUP)
			t_end = now_ns() + (int64_t)(seconds * NSEC_PER_SEC);
		else if (i > BENCH_EVENTS_WARMUP && now_ns() >= t_end)
			break;
		st.want = levels[i % 2];
		st.got = false;
		snprintf(line, sizeof(line), "log level %s\n", st.want);
		t0 = now_ns();
		conn_send(b, line);
		while (!st.got) {
			if (conn_read(a, 0))
				continue;
			/* An ERR (say, a read-only socket) would be on b. */
			conn_read(b, MSG_DONTWAIT);
			fatalx("no daemon.log-level event within %d s of "
			    "\"log level %s\"", BENCH_IO_TIMEOUT, st.want);
		}
		t1 = now_ns();
		conn_wait_reply(b);
		if (strcmp(st.level, st.want) != 0)
			fatalx("\"log level %s\" replied level=%s", st.want,
			    st.level);
		if (i >= BENCH_EVENTS_WARMUP)
			lat[k++] = t1 - t0;
	}
	st.want = NULL;
	if (strcmp(orig, st.level) != 0) {
		snprintf(line, sizeof(line), "log level %s\n", orig);
		conn_request(b, line);
	}
	conn_close(a);
	conn_close(b);

	qsort(lat, k, sizeof(*lat), cmp_i64);
	printf("%-38s %-12s min %.0f  median %.0f  p99 %.0f  max %.0f us"
	    "  (%u changes)\n", "event latency (log level -> EVENT)",
	    "1+1 clients", percentile_us(lat, k, 0),
	    percentile_us(lat, k, 50), percentile_us(lat, k, 99),
	    percentile_us(lat, k, 100), k);
	fflush(stdout);
	free(lat);
}

static void
print_load(const char *what, unsigned nclients, struct load_result r)
{
	char who[32];

	snprintf(who, sizeof(who), "%u client%s", nclients,
	    nclients == 1 ? "" : "s");
	printf("%-38s %-12s %10.0f /s   (client cpu %3.0f%%)\n", what, who,
	    r.rate, r.cpu * 100.0);
	fflush(stdout);
}

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: bench_control -s SOCKET [-d SECONDS] [-c CLIENTS] "
	    "[-P DEPTH] [-n CHANGES]\n"
	    "                     [--rtt] [--pipeline] [--events]\n"
	    "  -s SOCKET   sipxd control socket (the full-access one for "
	    "--events)\n"
	    "  -d SECONDS  time per measurement (default 3)\n"
	    "  -c CLIENTS  concurrent clients for the multi-client rows "
	    "(default 10)\n"
	    "  -P DEPTH    requests in flight per client when pipelining "
	    "(default 16)\n"
	    "  -n CHANGES  log level changes timed by --events "
	    "(default 2000)\n"
	    "  --rtt       only the version round trips, 1 and CLIENTS "
	    "clients\n"
	    "  --pipeline  only the pipelined replies, 1 and CLIENTS clients\n"
	    "  --events    only the event latency\n"
	    "With no mode flag all measurements run in turn.\n");
	exit(status);
}

static unsigned long
parse_ulong(const char *s, const char *what, unsigned long min,
    unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v < min || v > max)
		fatalx("%s must be an integer from %lu to %lu: %s", what, min,
		    max, s);
	return v;
}

int
main(int argc, char *argv[])
{
	enum { OPT_RTT = 256, OPT_PIPELINE, OPT_EVENTS };
	static const struct option longopts[] = {
		{ "rtt",	no_argument, NULL, OPT_RTT },
		{ "pipeline",	no_argument, NULL, OPT_PIPELINE },
		{ "events",	no_argument, NULL, OPT_EVENTS },
		{ "help",	no_argument, NULL, 'h' },
		{ NULL,		0,	     NULL, 0 },
	};
	bool do_rtt = false, do_pipeline = false, do_events = false;
	unsigned clients = 10, depth = 16, changes = 2000;
	double seconds = 3;
	char label[64], *end;
	int ch;

	while ((ch = getopt_long(argc, argv, "s:d:c:P:n:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			sock_path = optarg;
			break;
		case 'd':
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(seconds > 0 && seconds <= 3600))
				fatalx("-d must be a number of seconds from "
				    "0 to 3600: %s", optarg);
			break;
		case 'c':
			clients = (unsigned)parse_ulong(optarg, "-c", 1,
			    BENCH_CLIENTS_MAX);
			break;
		case 'P':
			depth = (unsigned)parse_ulong(optarg, "-P", 1,
			    BENCH_DEPTH_MAX);
			break;
		case 'n':
			changes = (unsigned)parse_ulong(optarg, "-n", 1,
			    BENCH_EVENTS_MAX);
			break;
		case OPT_RTT:
			do_rtt = true;
			break;
		case OPT_PIPELINE:
			do_pipeline = true;
			break;
		case OPT_EVENTS:
			do_events = true;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc || sock_path == NULL)
		usage(2);
	if (!do_rtt && !do_pipeline && !do_events)
		do_rtt = do_pipeline = do_events = true;

	/* Connect once first so a wrong path fails before any measurement. */
	conn_close(conn_open());
	printf("sipxd control benchmark: %s\n", sock_path);
	printf("server: %s\n", greeting);
	printf("%g s per measurement (+%g s warm-up)\n\n", seconds,
	    seconds / 10 > BENCH_WARMUP_MAX ? BENCH_WARMUP_MAX : seconds / 10);
	fflush(stdout);

	if (do_rtt) {
		print_load("control round trips (version)", 1,
		    bench_load(1, 1, seconds));
		if (clients > 1)
			print_load("control round trips (version)", clients,
			    bench_load(clients, 1, seconds));
	}
	if (do_pipeline) {
		snprintf(label, sizeof(label), "pipelined replies (%u deep)",
		    depth);
		print_load(label, 1, bench_load(1, depth, seconds));
		if (clients > 1)
			print_load(label, clients,
			    bench_load(clients, depth, seconds));
	}
	if (do_events)
		bench_events(changes, seconds);

	printf("\ntargets: >= 60000 /s round trips with 10 clients, "
	    ">= 500000 /s pipelined\n");
	return 0;
}
