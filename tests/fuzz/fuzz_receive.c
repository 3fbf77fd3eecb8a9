/*
 * libFuzzer target for the whole receive path, in one process: a real
 * struct ua (UDP and TCP listeners on 127.0.0.1, a transaction layer
 * with 1 ms timers so transactions end within the run) on a libevent
 * loop, fed from client sockets.  Every input goes through datagram or
 * stream framing, the parser, transaction matching, the ua's dispatch,
 * the call usage (an account "alice" that answers every call, media
 * none, so INVITE, ACK, BYE, CANCEL, re-INVITE, PRACK and UPDATE reach
 * its dialogs), and the responses it builds are sent back to the client
 * sockets and
 * drained (the capture).  Each message sipxd sends must parse again
 * with its own parser; any crash, sanitizer report or leak is a bug.
 *
 * The input: byte 0 chooses the mode, the rest is split into pieces at
 * each "|NEXT|" (so one input can carry a request and its
 * retransmission, ACK or CANCEL):
 *   bit 0	0: each piece is one UDP datagram; 1: the pieces are
 *		written to one fresh TCP connection, then it is closed
 *   bits 1-3	TCP only: write in chunks of 2 << n bytes (n = 7: whole
 *		pieces; never more than 32 chunks a piece), the loop
 *		running between chunks, so the stream framer sees
 *		messages split anywhere
 *   bit 4	TCP only: keep the connection open at the end (the next
 *		TCP input closes it), so idle connections live on
 *
 * The daemon never reaches beyond loopback: sendto() and connect() are
 * interposed here, and every IP destination is rewritten to the
 * capture sockets (responses follow the top Via, which the input
 * controls).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "media/rtp.h"
#include "sip/sip_msg.h"
#include "sip/sip_transport.h"
#include "ua/account.h"
#include "ua/call.h"
#include "ua/message.h"
#include "ua/request.h"
#include "ua/ua.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPLIT		"|NEXT|"
#define SPLIT_LEN	(sizeof(SPLIT) - 1)
#define LOOP_MAX	64	/* loop turns per piece, at most */
#define CHUNKS_MAX	32	/* TCP writes per piece, at most */

static struct event_base	*base;
static struct ua		*ua;
static struct account_set	 accounts;
static struct rtp_engine	*rtp;
static struct call_agent	*calls;
static struct request_agent	*requests;	/* MESSAGE's sender */
static struct message_agent	*messages;	/* MESSAGE received */
static struct sockaddr_in	 udp_addr, tcp_addr;	/* sipxd's listeners */
static int			 cap_udp = -1;		/* client + capture */
static struct sockaddr_in	 cap_udp_addr;
static int			 cap_tcp = -1;		/* capture listener */
static struct sockaddr_in	 cap_tcp_addr;
static int			 held = -1;		/* bit 4's connection */

/* ---- keeping every packet on loopback ------------------------------------ */

typedef ssize_t sendto_fn(int, const void *, size_t, int,
    const struct sockaddr *, socklen_t);
typedef int connect_fn(int, const struct sockaddr *, socklen_t);

static int
sock_type(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return -1;
	return type;
}

static bool
same_addr(const struct sockaddr *sa, const struct sockaddr_in *sin)
{
	const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

	return a->sin_family == AF_INET && a->sin_port == sin->sin_port &&
	    a->sin_addr.s_addr == sin->sin_addr.s_addr;
}

/*
 * Rewrites an IP destination to the capture socket of fd's kind, but
 * for sipxd's own listeners (our clients, or sipxd sending to itself).
 */
static const struct sockaddr *
redirect(int fd, const struct sockaddr *sa, socklen_t *len)
{
	if (sa == NULL || sa->sa_family != AF_INET || cap_udp == -1 ||
	    same_addr(sa, &udp_addr) || same_addr(sa, &tcp_addr))
		return sa;
	*len = sizeof(struct sockaddr_in);
	if (sock_type(fd) == SOCK_STREAM)
		return (const struct sockaddr *)&cap_tcp_addr;
	return (const struct sockaddr *)&cap_udp_addr;
}

ssize_t
sendto(int fd, const void *buf, size_t n, int flags,
    const struct sockaddr *sa, socklen_t len)
{
	static sendto_fn *real;

	if (real == NULL)
		real = (sendto_fn *)dlsym(RTLD_NEXT, "sendto");
	if (sa != NULL && sa->sa_family == AF_INET6 && cap_udp != -1)
		return (ssize_t)n;	/* our sockets are IPv4: a lost datagram */
	sa = redirect(fd, sa, &len);
	return real(fd, buf, n, flags, sa, len);
}

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static connect_fn *real;

	if (real == NULL)
		real = (connect_fn *)dlsym(RTLD_NEXT, "connect");
	if (sa != NULL && sa->sa_family == AF_INET6 && cap_udp != -1) {
		errno = ENETUNREACH;
		return -1;
	}
	sa = redirect(fd, sa, &len);
	return real(fd, sa, len);
}

/* ---- the capture ------------------------------------------------------------ */

/*
 * What sipxd sends must frame: a status line, one header section ended
 * by the first CRLFCRLF, and a Content-Length equal to the bytes after
 * it, so no input can inject a second message into a stream.
 */
static bool
frames(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
	size_t body;

	if (len < 13 || memcmp(buf, "SIP/2.0 ", 8) != 0 || end == NULL)
		return false;
	body = len - (size_t)(end + 4 - buf);
	cl = memmem(buf, (size_t)(end - buf), "\r\nContent-Length: ", 18);
	return cl != NULL && strtoul(cl + 18, NULL, 10) == body;
}

/*
 * The capture: sipxd's output must parse with its own parser.  Only a
 * 400 or 505 to a request the parser refused may echo its broken
 * headers (§8.2.6 copies Via, From, To, Call-ID, CSeq), and it must
 * still frame.
 */
static void
on_trace(const struct sip_tp_trace *t, void *arg)
{
	struct sip_parse_error err;
	struct sip_msg *m;

	(void)arg;
	if (t->dir != SIP_TP_OUT)
		return;
	if (sip_msg_parse(t->buf, t->len, SIP_PARSE_BORROW, &m, &err) == 0) {
		sip_msg_free(m);
		return;
	}
	if (frames(t->buf, t->len) && (memcmp(t->buf + 8, "400 ", 4) == 0 ||
	    memcmp(t->buf + 8, "505 ", 4) == 0))
		return;
	fprintf(stderr, "sipxd sent a message that does not parse (%s):\n"
	    "%.*s\n", err.reason != NULL ? err.reason : "?", (int)t->len,
	    t->buf);
	abort();
}

static void
drain_fd(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
drain(void)
{
	int fd;

	drain_fd(cap_udp);
	while ((fd = accept4(cap_tcp, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		drain_fd(fd);
		close(fd);
	}
}

/* Runs the loop until the counters stop moving (bounded). */
static void
turn(void)
{
	const struct sip_tp_stats *st = ua_tp_stats(ua);
	uint64_t last = UINT64_MAX, now;
	int quiet = 0;

	for (int i = 0; i < LOOP_MAX && quiet < 3; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		now = st->tp[SIP_TP_UDP].bytes_in + st->tp[SIP_TP_TCP].bytes_in +
		    st->tp[SIP_TP_UDP].bytes_out +
		    st->tp[SIP_TP_TCP].bytes_out + st->conns_opened +
		    st->conns_closed + st->garbage_requests +
		    st->garbage_responses + st->stream_errors +
		    st->keepalives_in;
		quiet = now == last ? quiet + 1 : 0;
		last = now;
	}
	drain();
}

/* ---- setup ------------------------------------------------------------------ */

static int
bound_socket(int type, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) != 0) ||
	    getsockname(fd, (struct sockaddr *)sin, &len) != 0) {
		perror("fuzz_receive: capture socket");
		exit(1);
	}
	return fd;
}

/*
 * The ua binds port 0 and does not say which port it got: find its two
 * listeners among the descriptors opened by ua_start.
 */
static void
find_listeners(int first_fd)
{
	bool udp = false, tcp = false;

	for (int fd = first_fd; fd < first_fd + 64; fd++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		int type = sock_type(fd), acc = 0;
		socklen_t alen = sizeof(acc);

		if (type < 0 || getsockname(fd, (struct sockaddr *)&sin,
		    &len) != 0 || sin.sin_family != AF_INET ||
		    sin.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			continue;
		if (type == SOCK_DGRAM && !udp) {
			udp_addr = sin;
			udp = true;
		} else if (type == SOCK_STREAM && !tcp &&
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc,
		    &alen) == 0 && acc) {
			tcp_addr = sin;
			tcp = true;
		}
	}
	if (!udp || !tcp) {
		fprintf(stderr, "fuzz_receive: listeners not found\n");
		exit(1);
	}
}

/*
 * Transactions outlive the input that made them (Timer J: 64 ms), so
 * libFuzzer's per-input leak check would fire on nearly every input and
 * cost a heap scan each (8 runs/s).  It is turned off unless asked for;
 * at exit the ua is freed, and LSan reports whatever it did not free.
 */
static void
add_flag(int *argc, char ***argv, const char *flag)
{
	static char *args[256];

	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-detect_leaks=", 14) == 0)
			return;
	if (*argc + 2 > (int)(sizeof(args) / sizeof(args[0])))
		return;
	memcpy(args, *argv, (size_t)*argc * sizeof(char *));
	args[(*argc)++] = (char *)flag;
	args[*argc] = NULL;
	*argv = args;
}

static void
stop(void)
{
	if (held != -1)
		close(held);
	call_agent_free(calls);
	message_agent_free(messages);
	request_agent_free(requests);
	rtp_engine_free(rtp);
	ua_free(ua);
	account_set_clear(&accounts);
	event_base_free(base);
}

/* The call usage, with one account that answers every call. */
static void
start_calls(void)
{
	static const struct rtp_engine_conf rc = { .addr = "127.0.0.1",
		.port_min = 50000, .port_max = 50999, .timeout_ms = 0 };
	static const struct call_conf cc = { .max_calls = 100, .history = 50,
		.min_se = 90 };
	struct account_cfg **cfgs = xcalloc(1, sizeof(*cfgs));
	struct account_cfg *a = xcalloc(1, sizeof(*a));
	struct account_diff diff;
	char err[256];

	a->name = xstrdup("alice");
	a->aor = xstrdup("sip:alice@127.0.0.1");
	a->auth_user = xstrdup("alice");
	a->registrar = xstrdup("sip:127.0.0.1");
	a->password = xstrdup("secret");
	a->expires = 600;
	a->incoming = ACCOUNT_INCOMING_ANSWER;
	a->codecs = xcalloc(2, sizeof(char *));
	a->codecs[0] = xstrdup("PCMU");
	a->codecs[1] = xstrdup("PCMA");
	a->ncodecs = 2;
	a->ring_timeout = 60;
	a->reject_code = 486;
	a->call_timeout = 120;
	a->session_expires = 1800;
	a->media = RTP_MODE_NONE;
	a->refer_accept = true;
	a->inbox = 4;
	cfgs[0] = a;
	account_set_init(&accounts);
	account_set_apply(&accounts, cfgs, 1, true, &diff);
	if (rtp_engine_new(&rtp, base, &rc, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_receive: %s\n", err);
		exit(1);
	}
	calls = call_agent_new(ua, &accounts, rtp, &cc, NULL, NULL);
	/* MESSAGEs to alice: answered, kept in a small inbox. */
	requests = request_agent_new(ua, &accounts, 0);
	messages = message_agent_new(ua, &accounts, requests);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct sip_tp_listen_conf listen[] = {
		{ .transport = SIP_TP_UDP, .address = "127.0.0.1:0" },
		{ .transport = SIP_TP_TCP, .address = "127.0.0.1:0" },
	};
	/* A closed port: nothing here resolves names, but never ask. */
	static const char *const dns[] = { "127.0.0.1:9" };
	static const char *const users[] = { "alice" };
	struct ua_conf uc = { 0 };
	char err[256];
	int first_fd;

	add_flag(argc, argv, "-detect_leaks=0");
	log_init("fuzz_receive");
	log_set_level(LOG_LEVEL_ERROR);
	base = event_base_new();
	first_fd = dup(0);
	close(first_fd);
	uc.listen = listen;
	uc.nlisten = 2;
	/* 1 ms: Timer J (64*T1) ends a transaction 64 ms after it answers. */
	uc.t1_ms = 1;
	uc.t2_ms = 4;
	uc.t4_ms = 5;
	uc.dns_servers = dns;
	uc.ndns_servers = 1;
	uc.user_agent = "sipxd-fuzz";
	uc.default_from = "sip:fuzz@127.0.0.1";
	if (base == NULL || ua_start(&ua, base, &uc, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_receive: %s\n", err);
		exit(1);
	}
	ua_set_users(ua, users, 1, true);
	ua_set_trace(ua, on_trace, NULL);
	find_listeners(first_fd);
	start_calls();
	cap_udp = bound_socket(SOCK_DGRAM, &cap_udp_addr);
	cap_tcp = bound_socket(SOCK_STREAM, &cap_tcp_addr);
	atexit(stop);
	return 0;
}

/* ---- one input ---------------------------------------------------------------- */

static int
tcp_open(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	/* No Nagle: each chunk leaves now, as the input says. */
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) != 0 || connect(fd, (struct sockaddr *)&tcp_addr,
	    sizeof(tcp_addr)) != 0) {
		perror("fuzz_receive: connect");
		exit(1);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/*
 * Writes one piece in chunks, the loop turning once between them so the
 * framer reads each chunk alone.  At most CHUNKS_MAX chunks a piece:
 * byte-at-a-time over a whole input costs more than it finds.
 */
static void
tcp_write(int fd, const uint8_t *p, size_t n, size_t chunk)
{
	int stuck = 0;

	if (chunk < n / CHUNKS_MAX)
		chunk = n / CHUNKS_MAX + 1;
	while (n > 0 && stuck < LOOP_MAX) {
		size_t k = n < chunk ? n : chunk;
		ssize_t w = send(fd, p, k, MSG_NOSIGNAL);

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;		/* sipxd closed it */
		if (w <= 0) {
			stuck++;	/* sipxd stopped reading */
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	turn();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p, *end, *cut;
	unsigned mode;
	size_t chunk;
	int fd = -1;

	if (size < 1)
		return 0;
	mode = data[0];
	p = data + 1;
	end = data + size;
	chunk = ((mode >> 1) & 7) == 7 ? SIZE_MAX :
	    (size_t)2 << ((mode >> 1) & 7);
	if (mode & 1) {
		if (held != -1) {
			close(held);
			held = -1;
		}
		fd = tcp_open();
	}
	for (;;) {
		cut = memmem(p, (size_t)(end - p), SPLIT, SPLIT_LEN);
		if (cut == NULL)
			cut = end;
		if (mode & 1)
			tcp_write(fd, p, (size_t)(cut - p), chunk);
		else {
			sendto(cap_udp, p, (size_t)(cut - p), 0,
			    (struct sockaddr *)&udp_addr, sizeof(udp_addr));
			turn();
		}
		if (cut == end)
			break;
		p = cut + SPLIT_LEN;
	}
	if (fd != -1) {
		drain_fd(fd);
		if (mode & 16)
			held = fd;
		else
			close(fd);
	}
	turn();
	return 0;
}
