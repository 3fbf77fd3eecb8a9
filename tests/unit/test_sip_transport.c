/*
 * The transport on the real loop, over loopback with ephemeral ports:
 * UDP and TCP exchanges between two instances (IPv4 and IPv6), rport and
 * received, connection reuse, stream framing, broken streams, keepalive
 * pings, idle close, the §18.1.1 switch to TCP, 400s for malformed
 * requests, dropped malformed responses, TLS with a certificate made at
 * run time, and the trace hook.  A recorder stands in for the
 * transaction layer.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "sip/sip_build.h"
#include "sip/sip_transport.h"

#define REC_MAX 8

struct rec {
	int			 n;
	struct sip_msg		*m[REC_MAX];
	struct sip_dest		 d[REC_MAX];
	int			 fails;
	uint64_t		 fail_id;
	int			 fail_err;
	int			 trace_in, trace_out;
};

static struct event_base *base;
static struct rec ra, rb;
static char tmpdir[64];
static const char *ips[2] = { "127.0.0.1", "::1" };

static void
rec_recv(struct sip_msg *m, const struct sip_dest *d, void *arg)
{
	struct rec *r = arg;

	if (r->n < REC_MAX) {
		r->m[r->n] = m;
		r->d[r->n] = *d;
	} else
		sip_msg_free(m);
	r->n++;
}

static void
rec_fail(uint64_t id, int err, void *arg)
{
	struct rec *r = arg;

	r->fails++;
	r->fail_id = id;
	r->fail_err = err;
}

static void
rec_trace(const struct sip_tp_trace *t, void *arg)
{
	struct rec *r = arg;

	ck_assert(t->len > 0 && t->buf != NULL && t->peer != NULL &&
	    t->local != NULL);
	if (t->dir == SIP_TP_IN)
		r->trace_in++;
	else
		r->trace_out++;
}

static void
rec_clear(struct rec *r)
{
	for (int i = 0; i < r->n && i < REC_MAX; i++)
		sip_msg_free(r->m[i]);
	memset(r, 0, sizeof(*r));
}

static void
setup(void)
{
	base = event_base_new();
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
}

static void
teardown(void)
{
	rec_clear(&ra);
	rec_clear(&rb);
	event_base_free(base);
}

static void
noop(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop for up to ms, or until *v reaches want (v may be NULL). */
static void
pump(const int *v, int want, int ms)
{
	uint64_t end = time_mono_us() + (uint64_t)ms * 1000;

	while ((v == NULL || *v < want) && time_mono_us() < end) {
		struct timeval tv = { 0, 5000 };

		event_base_once(base, -1, EV_TIMEOUT, noop, NULL, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static struct sip_tp *
tp_make(struct rec *r, const struct sip_tp_conf *cf)
{
	struct sip_tp *tp = sip_tp_new(base, cf);

	sip_tp_set_recv(tp, rec_recv, r);
	sip_tp_set_fail(tp, rec_fail, r);
	sip_tp_set_trace(tp, rec_trace, r);
	return tp;
}

static uint64_t
tp_listen(struct sip_tp *tp, enum sip_tp_proto proto, const char *ip,
    unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sip_tp_listen_conf lc = { 0 };
	char addr[80];
	uint64_t id;
	int err;

	snprintf(addr, sizeof(addr), strchr(ip, ':') ? "[%s]:%u" : "%s:%u",
	    ip, port);
	lc.transport = proto;
	lc.address = addr;
	if (proto == SIP_TP_TLS) {
		static char cert[128], key[128];

		snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
		snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
		lc.cert = cert;
		lc.key = key;
	}
	err = sip_tp_listen(tp, &lc, &id);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(sip_tp_listener_addr(tp, id, ss, len), 0);
	return id;
}

/*
 * A loopback port free for UDP and TCP alike.  An ephemeral UDP port may
 * be held on TCP by a socket in TIME-WAIT (other tests on the machine),
 * so each candidate is tried on both.
 */
static unsigned
port_pair_free(void)
{
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sin = { 0 };
		socklen_t len = sizeof(sin);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0), on = 1, ok;
		unsigned port;

		ck_assert(u >= 0 && t >= 0);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(u, (struct sockaddr *)&sin, len), 0);
		ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sin, &len),
		    0);
		port = ntohs(sin.sin_port);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		ok = bind(t, (struct sockaddr *)&sin, len) == 0;
		close(u);
		close(t);
		if (ok)
			return port;
	}
	ck_abort_msg("no loopback port free for both UDP and TCP");
	return 0;
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static size_t
mkreq(char *out, size_t cap, const char *via, const char *cid,
    size_t body)
{
	int n = snprintf(out, cap, "OPTIONS sip:bob@example.com SIP/2.0\r\n"
	    "Via: %s\r\nMax-Forwards: 70\r\n"
	    "From: <sip:alice@example.com>;tag=a1\r\n"
	    "To: <sip:bob@example.com>\r\nCall-ID: %s\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: %zu\r\n\r\n", via, cid, body);

	ck_assert(n > 0 && (size_t)n + body < cap);
	memset(out + n, 'x', body);
	out[n + body] = '\0';
	return (size_t)n + body;
}

/* Sends a request from tp to dst with our own Via. */
static void
send_req(struct sip_tp *tp, struct sip_dest *dst, const char *cid,
    size_t body)
{
	static char buf[4096];
	struct strbuf via = STRBUF_INIT;
	size_t n;

	ck_assert_int_eq(sip_tp_via(tp, dst, NULL, &via), 0);
	n = mkreq(buf, sizeof(buf), via.p, cid, body);
	ck_assert_int_eq(sip_tp_send(tp, dst, buf, n), 0);
	strbuf_free(&via);
}

static void
reply(struct sip_tp *tp, const struct sip_msg *req, const struct sip_dest *d)
{
	struct sip_build b;
	struct strbuf out = STRBUF_INIT;
	struct sip_dest to = *d;

	memset(&b, 0, sizeof(b));
	sip_build_response_to(&b, req, 200, "OK", "t1");
	sip_build_finish(&b, &out);
	sip_build_free(&b);
	ck_assert_int_eq(sip_tp_send(tp, &to, out.p, out.n), 0);
	strbuf_free(&out);
}

static int
raw_sock(int type, const struct sockaddr_storage *peer, socklen_t len)
{
	int fd = socket(peer->ss_family, type, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (const struct sockaddr *)peer, len), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Pumps the loop until fd has data: bytes read, 0 at EOF, -1 timeout. */
static ssize_t
raw_recv(int fd, char *buf, size_t cap, int ms)
{
	uint64_t end = time_mono_us() + (uint64_t)ms * 1000;

	while (time_mono_us() < end) {
		ssize_t n = recv(fd, buf, cap - 1, 0);

		if (n >= 0) {
			buf[n] = '\0';
			return n;
		}
		if (errno == ECONNRESET)
			return 0;
		pump(NULL, 0, 5);
	}
	return -1;
}

static void
raw_send(int fd, const char *buf, size_t n)
{
	ck_assert_int_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- UDP ------------------------------------------------------------------ */

START_TEST(test_udp_exchange)
{
	const char *ip = ips[_i];
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp *a = tp_make(&ra, NULL), *b = tp_make(&rb, NULL);
	struct sip_dest d;
	char want[64];

	tp_listen(a, SIP_TP_UDP, ip, 0, &aa, &al);
	tp_listen(b, SIP_TP_UDP, ip, 0, &ba, &bl);
	ck_assert_int_ne(port_of(&aa), 0);
	ck_assert_int_eq(sip_tp_dest_make(&d, SIP_TP_UDP,
	    (struct sockaddr *)&aa, al), 0);
	send_req(b, &d, "udp1", 0);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert(ra.m[0]->request);
	ck_assert(!ra.d[0].reliable);
	ck_assert_int_eq(ra.d[0].proto, SIP_TP_UDP);
	/* The source is b's socket; rport was asked for. */
	ck_assert_int_eq(port_of(&ra.d[0].addr), port_of(&ba));
	ck_assert(ra.m[0]->via[0].rport);
	ck_assert_int_eq(ra.m[0]->via[0].rport_value, (int)port_of(&ba));
	ck_assert(slice_eq_cstr(ra.m[0]->via[0].received, ip));
	ck_assert(slice_eq_cstr(ra.m[0]->via[0].branch, "") == false);
	ck_assert_int_eq(strncmp(ra.m[0]->via[0].branch.p, "z9hG4bK", 7), 0);

	reply(a, ra.m[0], &ra.d[0]);
	pump(&rb.n, 1, 2000);
	ck_assert_int_eq(rb.n, 1);
	ck_assert(!rb.m[0]->request);
	ck_assert_int_eq(rb.m[0]->status, 200);
	snprintf(want, sizeof(want), "received=%s", ip);
	ck_assert_ptr_nonnull(memmem(rb.m[0]->buf, rb.m[0]->len, want,
	    strlen(want)));
	/* The trace hook saw both directions on both sides. */
	ck_assert_int_eq(ra.trace_in, 1);
	ck_assert_int_eq(ra.trace_out, 1);
	ck_assert_int_eq(rb.trace_in, 1);
	ck_assert_int_eq(rb.trace_out, 1);
	ck_assert_uint_eq(sip_tp_stats(a)->tp[SIP_TP_UDP].msgs_in, 1);
	ck_assert_uint_eq(sip_tp_stats(a)->tp[SIP_TP_UDP].msgs_out, 1);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

START_TEST(test_rport_received)
{
	struct sockaddr_storage aa, me;
	socklen_t al, ml = sizeof(me);
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[2048], want[80];
	size_t n;
	int fd;

	tp_listen(a, SIP_TP_UDP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_DGRAM, &aa, al);
	getsockname(fd, (struct sockaddr *)&me, &ml);

	/* rport: received and rport filled, responses to the source. */
	n = mkreq(buf, sizeof(buf),
	    "SIP/2.0/UDP 192.0.2.1:5080;rport;branch=z9hG4bKr1", "rp1", 0);
	raw_send(fd, buf, n);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert(slice_eq_cstr(ra.m[0]->via[0].received, "127.0.0.1"));
	ck_assert_int_eq(ra.m[0]->via[0].rport_value, (int)port_of(&me));
	ck_assert(slice_eq_cstr(ra.m[0]->via[0].branch, "z9hG4bKr1"));
	ck_assert_int_eq(port_of(&ra.d[0].addr), port_of(&me));
	reply(a, ra.m[0], &ra.d[0]);
	ck_assert_int_gt(raw_recv(fd, buf, sizeof(buf), 2000), 0);
	snprintf(want, sizeof(want), "Via: SIP/2.0/UDP 192.0.2.1:5080;"
	    "branch=z9hG4bKr1;received=127.0.0.1;rport=%u", port_of(&me));
	ck_assert_ptr_nonnull(strstr(buf, want));

	/* No rport: received only, responses to the sent-by port. */
	n = mkreq(buf, sizeof(buf),
	    "SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bKr2", "rp2", 0);
	raw_send(fd, buf, n);
	pump(&ra.n, 2, 2000);
	ck_assert_int_eq(ra.n, 2);
	ck_assert(slice_eq_cstr(ra.m[1]->via[0].received, "127.0.0.1"));
	ck_assert(!ra.m[1]->via[0].rport);
	ck_assert_int_eq(port_of(&ra.d[1].addr), 5080);

	/* sent-by is the source: nothing to add. */
	snprintf(want, sizeof(want), "SIP/2.0/UDP 127.0.0.1:%u;branch=z9"
	    "hG4bKr3", port_of(&me));
	n = mkreq(buf, sizeof(buf), want, "rp3", 0);
	raw_send(fd, buf, n);
	pump(&ra.n, 3, 2000);
	ck_assert_int_eq(ra.n, 3);
	ck_assert(!slice_present(ra.m[2]->via[0].received));
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_udp_malformed_request_400)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[2048];
	int fd;
	static const char bad[] = "OPTIONS sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbad\r\n"
	    "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\n"
	    "To: <sip:b@example.com>\r\nCall-ID: bad400\r\n"
	    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

	tp_listen(a, SIP_TP_UDP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_DGRAM, &aa, al);
	raw_send(fd, bad, sizeof(bad) - 1);
	ck_assert_int_gt(raw_recv(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_int_eq(strncmp(buf, "SIP/2.0 400 CSeq method does not "
	    "match the request\r\n", 52), 0);
	ck_assert_ptr_nonnull(strstr(buf, "Call-ID: bad400\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "branch=z9hG4bKbad"));
	ck_assert_ptr_nonnull(strstr(buf, "To: <sip:b@example.com>;tag="));
	ck_assert_int_eq(ra.n, 0);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_requests, 1);
	/* Without a Call-ID there is nothing to answer to. */
	raw_send(fd, "OPTIONS sip:x SIP/2.0\r\nVia: bogus\r\n\r\n", 37);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 200), -1);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_requests, 2);
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_udp_malformed_response_dropped)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[256];
	int fd;
	static const char bad[] = "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

	tp_listen(a, SIP_TP_UDP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_DGRAM, &aa, al);
	raw_send(fd, bad, sizeof(bad) - 1);
	raw_send(fd, "\r\n\r\n", 4);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 200), -1);
	ck_assert_int_eq(ra.n, 0);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_responses, 1);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_requests, 0);
	ck_assert_uint_eq(sip_tp_stats(a)->keepalives_in, 1);
	close(fd);
	sip_tp_free(a);
}
END_TEST

/* RFC 3261 §18.1.2: a response whose top Via is not ours is dropped. */
START_TEST(test_foreign_via_response_dropped)
{
	struct sockaddr_storage aa, wa;
	socklen_t al, wl;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[512], via[128];
	int fd;
	static const struct {
		const char	*host;
		unsigned	 dport;
	} foreign[] = {
	    { "192.0.2.1", 0 },		/* another address */
	    { "127.0.0.1", 1 },		/* our address, another port */
	    { "localhost", 0 },		/* a name: we never send one */
	    { "[::1]", 0 },		/* no IPv6 listener */
	};

	tp_listen(a, SIP_TP_UDP, "127.0.0.1", 0, &aa, &al);
	/* A wildcard listener: any local IPv4 address with its port. */
	tp_listen(a, SIP_TP_TCP, "0.0.0.0", 0, &wa, &wl);
	fd = raw_sock(SOCK_DGRAM, &aa, al);
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		snprintf(via, sizeof(via), "%s:%u", foreign[i].host,
		    port_of(&aa) + foreign[i].dport);
		snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\n"
		    "Via: SIP/2.0/UDP %s;branch=z9hG4bKf%zu\r\n"
		    "From: <sip:a@example.com>;tag=1\r\n"
		    "To: <sip:b@example.com>;tag=2\r\nCall-ID: f%zu\r\n"
		    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", via, i, i);
		raw_send(fd, buf, strlen(buf));
	}
	pump(NULL, 0, 100);
	ck_assert_int_eq(ra.n, 0);
	ck_assert_uint_eq(sip_tp_stats(a)->foreign_responses, 4);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_responses, 0);
	/* Ours: the UDP listener's address, and the wildcard's port. */
	snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKo1\r\n"
	    "From: <sip:a@example.com>;tag=1\r\n"
	    "To: <sip:b@example.com>;tag=2\r\nCall-ID: o1\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port_of(&aa));
	raw_send(fd, buf, strlen(buf));
	snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/TCP 127.0.0.2:%u;branch=z9hG4bKo2\r\n"
	    "From: <sip:a@example.com>;tag=1\r\n"
	    "To: <sip:b@example.com>;tag=2\r\nCall-ID: o2\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port_of(&wa));
	raw_send(fd, buf, strlen(buf));
	pump(&ra.n, 2, 2000);
	ck_assert_int_eq(ra.n, 2);
	ck_assert_uint_eq(sip_tp_stats(a)->foreign_responses, 4);
	close(fd);
	sip_tp_free(a);
}
END_TEST

/* ---- TCP ------------------------------------------------------------------ */

START_TEST(test_tcp_reuse)
{
	const char *ip = ips[_i];
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp *a = tp_make(&ra, NULL), *b = tp_make(&rb, NULL);
	struct sip_dest d;

	tp_listen(a, SIP_TP_TCP, ip, 0, &aa, &al);
	tp_listen(b, SIP_TP_TCP, ip, 0, &ba, &bl);
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&aa, al);
	send_req(b, &d, "tcp1", 0);
	send_req(b, &d, "tcp2", 10);
	pump(&ra.n, 2, 2000);
	ck_assert_int_eq(ra.n, 2);
	ck_assert(ra.d[0].reliable && ra.d[1].reliable);
	ck_assert_int_eq(ra.d[0].proto, SIP_TP_TCP);
	ck_assert_uint_ne(ra.d[0].conn_id, 0);
	ck_assert_uint_eq(ra.d[0].conn_id, ra.d[1].conn_id);
	ck_assert(sip_tp_conn_alive(a, ra.d[0].conn_id));
	ck_assert_uint_eq(ra.m[1]->body.n, 10);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_opened, 1);
	ck_assert_uint_eq(sip_tp_stats(b)->conns_opened, 1);
	reply(a, ra.m[0], &ra.d[0]);
	reply(a, ra.m[1], &ra.d[1]);
	pump(&rb.n, 2, 2000);
	ck_assert_int_eq(rb.n, 2);
	ck_assert_int_eq(rb.m[0]->status, 200);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_opened, 1);
	ck_assert_int_eq(rb.trace_out, 2);
	ck_assert_int_eq(rb.trace_in, 2);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

START_TEST(test_tcp_framing)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[4096];
	size_t n, m;
	int fd;

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_STREAM, &aa, al);
	n = mkreq(buf, sizeof(buf),
	    "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKf1", "frame1", 5);
	/* One byte at a time. */
	for (size_t i = 0; i < n; i++) {
		raw_send(fd, buf + i, 1);
		pump(NULL, 0, i % 16 == 0 ? 2 : 0);
	}
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_uint_eq(ra.m[0]->body.n, 5);
	/* Two messages in one write. */
	n = mkreq(buf, sizeof(buf),
	    "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKf2", "frame2", 3);
	m = mkreq(buf + n, sizeof(buf) - n,
	    "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKf3", "frame3", 0);
	raw_send(fd, buf, n + m);
	pump(&ra.n, 3, 2000);
	ck_assert_int_eq(ra.n, 3);
	ck_assert(slice_eq_cstr(ra.m[1]->call_id, "frame2"));
	ck_assert(slice_eq_cstr(ra.m[2]->call_id, "frame3"));
	ck_assert_uint_eq(ra.d[1].conn_id, ra.d[2].conn_id);
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_tcp_garbage_closes_one)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[4096];
	size_t n;
	int f1, f2;
	static const char bad[] = "OPTIONS sip:x SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP h;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:b@c>\r\nCall-ID: q\r\nCSeq: x OPTIONS\r\n"
	    "Content-Length: 0\r\n\r\n";

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	f1 = raw_sock(SOCK_STREAM, &aa, al);
	f2 = raw_sock(SOCK_STREAM, &aa, al);
	pump(NULL, 0, 20);
	raw_send(f1, "HELLO garbage\r\nfoo: bar\r\n\r\n", 27);
	ck_assert_int_eq(raw_recv(f1, buf, sizeof(buf), 2000), 0);
	ck_assert_uint_eq(sip_tp_stats(a)->stream_errors, 1);
	n = mkreq(buf, sizeof(buf),
	    "SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKg1", "g1", 0);
	raw_send(f2, buf, n);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	/* A framed but malformed request gets a 400, the stream lives. */
	raw_send(f2, bad, sizeof(bad) - 1);
	ck_assert_int_gt(raw_recv(f2, buf, sizeof(buf), 2000), 0);
	ck_assert_int_eq(strncmp(buf, "SIP/2.0 400 ", 12), 0);
	ck_assert_uint_eq(sip_tp_stats(a)->garbage_requests, 1);
	close(f1);
	close(f2);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_tcp_oversize)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[256];
	int fd;
	static const char big[] = "OPTIONS sip:x SIP/2.0\r\n"
	    "Content-Length: 70000\r\n\r\n";

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_STREAM, &aa, al);
	raw_send(fd, big, sizeof(big) - 1);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_uint_eq(sip_tp_stats(a)->stream_errors, 1);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_closed, 1);
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_tcp_ping_pong)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	char buf[256];
	int fd;

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_STREAM, &aa, al);
	/* Split in two to check that half a ping waits. */
	raw_send(fd, "\r\n", 2);
	pump(NULL, 0, 20);
	raw_send(fd, "\r\n", 2);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 2000), 2);
	ck_assert_str_eq(buf, "\r\n");
	ck_assert_uint_eq(sip_tp_stats(a)->keepalives_in, 1);
	ck_assert_uint_eq(sip_tp_stats(a)->keepalives_out, 1);
	ck_assert_int_eq(ra.trace_in, 0);
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_idle_close_and_keepalive)
{
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp_conf cf;
	struct sip_tp *a, *b;
	struct sip_dest d;
	char buf[64];
	int fd;

	sip_tp_conf_default(&cf);
	cf.idle_timeout_ms = 300;
	a = tp_make(&ra, &cf);
	cf.idle_timeout_ms = 0;
	cf.keepalive_ms = 50;
	b = tp_make(&rb, &cf);
	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	tp_listen(b, SIP_TP_TCP, "127.0.0.1", 0, &ba, &bl);
	/* b keeps pinging, a answers; pings are not traffic, so a closes. */
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&aa, al);
	send_req(b, &d, "idle1", 0);
	fd = raw_sock(SOCK_STREAM, &aa, al);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 2000), 0);
	pump(&rb.fails, 1, 1000);
	ck_assert_int_eq(rb.fails, 1);
	ck_assert_int_eq(rb.fail_err, ECONNRESET);
	ck_assert_uint_ge(sip_tp_stats(b)->keepalives_out, 2);
	ck_assert_uint_ge(sip_tp_stats(a)->keepalives_in, 2);
	ck_assert_uint_ge(sip_tp_stats(b)->keepalives_in, 2);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_closed, 2);
	ck_assert(!sip_tp_conn_alive(a, ra.d[0].conn_id));
	close(fd);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *b = tp_make(&rb, NULL);
	struct sip_dest d;

	tp_listen(b, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	/* Port 1 on loopback: nobody listens. */
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&aa, al);
	((struct sockaddr_in *)&d.addr)->sin_port = htons(1);
	ck_assert_int_eq(sip_tp_open(b, &d, NULL), 0);
	ck_assert_uint_ne(d.conn_id, 0);
	send_req(b, &d, "refused", 0);
	pump(&rb.fails, 1, 2000);
	ck_assert_int_eq(rb.fails, 1);
	ck_assert_uint_eq(rb.fail_id, d.conn_id);
	ck_assert_int_eq(rb.fail_err, ECONNREFUSED);
	/* A request to a connection that is gone fails at once. */
	ck_assert_int_eq(sip_tp_send(b, &d, "OPTIONS x", 9), ENOTCONN);
	sip_tp_free(b);
}
END_TEST

START_TEST(test_mtu_switch)
{
	struct sockaddr_storage aa, at, ba;
	socklen_t al, tl, bl;
	struct sip_tp_conf cf;
	struct sip_tp *a = tp_make(&ra, NULL), *b;
	struct sip_dest d, used;
	struct strbuf via = STRBUF_INIT;
	static char buf[4096];
	size_t n;

	tp_listen(a, SIP_TP_UDP, "127.0.0.1", port_pair_free(), &aa, &al);
	tp_listen(a, SIP_TP_TCP, "127.0.0.1", port_of(&aa), &at, &tl);
	b = tp_make(&rb, NULL);
	tp_listen(b, SIP_TP_UDP, "127.0.0.1", 0, &ba, &bl);
	sip_tp_dest_make(&d, SIP_TP_UDP, (struct sockaddr *)&aa, al);
	ck_assert(sip_tp_wants_stream(b, &d, 1301));
	ck_assert(!sip_tp_wants_stream(b, &d, 1300));
	sip_tp_via(b, &d, NULL, &via);
	n = mkreq(buf, sizeof(buf), via.p, "big1", 1400);
	ck_assert_int_eq(sip_tp_send_ex(b, &d, buf, n, &used), 0);
	ck_assert_int_eq(used.proto, SIP_TP_TCP);
	ck_assert(used.reliable);
	ck_assert_uint_ne(used.conn_id, 0);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_int_eq(ra.d[0].proto, SIP_TP_TCP);
	ck_assert(slice_caseeq_cstr(ra.m[0]->via[0].transport, "TCP"));
	ck_assert_uint_eq(sip_tp_stats(b)->mtu_switches, 1);
	/* Responses come back on the connection. */
	reply(a, ra.m[0], &ra.d[0]);
	pump(&rb.n, 1, 2000);
	ck_assert_int_eq(rb.n, 1);
	sip_tp_free(b);

	/* Switched off: UDP it is. */
	sip_tp_conf_default(&cf);
	cf.no_mtu_switch = true;
	b = tp_make(&rb, &cf);
	tp_listen(b, SIP_TP_UDP, "127.0.0.1", 0, &ba, &bl);
	ck_assert_int_eq(sip_tp_send_ex(b, &d, buf, n, &used), 0);
	ck_assert_int_eq(used.proto, SIP_TP_UDP);
	pump(&ra.n, 2, 2000);
	ck_assert_int_eq(ra.n, 2);
	ck_assert_int_eq(ra.d[1].proto, SIP_TP_UDP);
	strbuf_free(&via);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

/* ---- TLS ------------------------------------------------------------------ */

static void
tls_run(const char *ca, const char *name, bool expect_ok)
{
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp_conf cf;
	struct sip_tp *a = tp_make(&ra, NULL), *b;
	struct sip_dest d;
	char cafile[128];

	snprintf(cafile, sizeof(cafile), "%s/%s", tmpdir, ca);
	sip_tp_conf_default(&cf);
	cf.ca_file = cafile;
	b = tp_make(&rb, &cf);
	tp_listen(a, SIP_TP_TLS, "127.0.0.1", 0, &aa, &al);
	tp_listen(b, SIP_TP_TLS, "127.0.0.1", 0, &ba, &bl);
	sip_tp_dest_make(&d, SIP_TP_TLS, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_open(b, &d, name), 0);
	send_req(b, &d, "tls1", 0);
	if (expect_ok) {
		pump(&ra.n, 1, 3000);
		ck_assert_int_eq(ra.n, 1);
		ck_assert_int_eq(ra.d[0].proto, SIP_TP_TLS);
		ck_assert(ra.d[0].reliable);
		reply(a, ra.m[0], &ra.d[0]);
		pump(&rb.n, 1, 3000);
		ck_assert_int_eq(rb.n, 1);
		ck_assert_int_eq(rb.m[0]->status, 200);
		ck_assert_uint_eq(sip_tp_stats(b)->tp[SIP_TP_TLS].msgs_in, 1);
	} else {
		pump(&rb.fails, 1, 3000);
		ck_assert_int_eq(rb.fails, 1);
		ck_assert_uint_eq(rb.fail_id, d.conn_id);
		ck_assert_int_eq(rb.fail_err, EPROTO);
		pump(NULL, 0, 50);
		ck_assert_int_eq(ra.n, 0);
	}
	sip_tp_free(a);
	sip_tp_free(b);
}

START_TEST(test_tls_ok_by_name)
{
	tls_run("cert.pem", "localhost", true);
}
END_TEST

START_TEST(test_tls_ok_by_ip)
{
	tls_run("cert.pem", NULL, true);
}
END_TEST

START_TEST(test_tls_wrong_name)
{
	tls_run("cert.pem", "sip.example.com", false);
}
END_TEST

START_TEST(test_tls_wrong_ca)
{
	tls_run("other.pem", "localhost", false);
}
END_TEST

/* ---- descriptors and slow peers (issue 8 §2) ------------------------------ */

START_TEST(test_partial_message_timeout)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp_conf cf;
	struct sip_tp *a;
	char buf[2048];
	size_t n;
	int idle, part;
	uint64_t t0;

	sip_tp_conf_default(&cf);
	cf.message_timeout_ms = 200;
	a = tp_make(&ra, &cf);
	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	/* An idle connection (nothing begun) stays for the idle timeout. */
	idle = raw_sock(SOCK_STREAM, &aa, al);
	part = raw_sock(SOCK_STREAM, &aa, al);
	n = mkreq(buf, sizeof(buf), "SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKp1",
	    "part1", 0);
	/* A whole message, then half of the next one. */
	raw_send(part, buf, n);
	raw_send(part, buf, n / 2);
	t0 = time_mono_us();
	ck_assert_int_eq(raw_recv(part, buf, sizeof(buf), 3000), 0);
	/* The clock started at the half message, not at the connect. */
	ck_assert_uint_ge(time_mono_us() - t0, 150000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_int_eq(raw_recv(idle, buf, sizeof(buf), 300), -1);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_closed, 1);
	ck_assert_uint_eq(sip_tp_conn_count(a), 1);
	close(idle);
	close(part);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_tls_handshake_timeout)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp_conf cf;
	struct sip_tp *a;
	char buf[64];
	int fd;

	sip_tp_conf_default(&cf);
	cf.tls_handshake_timeout_ms = 200;
	a = tp_make(&ra, &cf);
	tp_listen(a, SIP_TP_TLS, "127.0.0.1", 0, &aa, &al);
	/* Connects over TCP and never says hello. */
	fd = raw_sock(SOCK_STREAM, &aa, al);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 3000), 0);
	ck_assert_uint_eq(sip_tp_conn_count(a), 0);
	close(fd);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_conn_cap_refuses_inbound)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp_conf cf;
	struct sip_tp *a;
	char buf[64];
	int fd[3];

	sip_tp_conf_default(&cf);
	cf.max_conns = 2;
	a = tp_make(&ra, &cf);
	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	for (int i = 0; i < 3; i++) {
		fd[i] = raw_sock(SOCK_STREAM, &aa, al);
		pump(NULL, 0, 30);
	}
	ck_assert_int_eq(raw_recv(fd[2], buf, sizeof(buf), 2000), 0);
	ck_assert_int_eq(raw_recv(fd[0], buf, sizeof(buf), 50), -1);
	ck_assert_uint_eq(sip_tp_conn_count(a), 2);
	ck_assert_uint_eq(sip_tp_stats(a)->conns_refused, 1);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	sip_tp_free(a);
}
END_TEST

/*
 * Out of descriptors, accept() fails while the listening socket stays
 * readable: the listener must pause, not spin (before: libevent logged
 * and retried on every loop turn).
 */
START_TEST(test_accept_emfile_pauses)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	struct rlimit rl, low;
	int fd[4], top, turns = 0;
	uint64_t end;

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	for (int i = 0; i < 4; i++)
		fd[i] = raw_sock(SOCK_STREAM, &aa, al);
	/* No descriptor left for accept(). */
	top = dup(0);
	ck_assert_int_ge(top, 0);
	close(top);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)top;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* Count loop turns over 300 ms: a spinning loop makes thousands. */
	end = time_mono_us() + 300000;
	while (time_mono_us() < end) {
		struct timeval tv = { 0, 20000 };

		event_base_once(base, -1, EV_TIMEOUT, noop, NULL, &tv);
		event_base_loop(base, EVLOOP_ONCE);
		turns++;
	}
	ck_assert_uint_ge(sip_tp_stats(a)->accept_pauses, 1);
	ck_assert_int_lt(turns, 100);
	ck_assert_uint_eq(sip_tp_conn_count(a), 0);
	/* Descriptors back: the listener resumes and takes them all. */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	end = time_mono_us() + 3000000;
	while (sip_tp_conn_count(a) < 4 && time_mono_us() < end)
		pump(NULL, 0, 20);
	ck_assert_uint_eq(sip_tp_conn_count(a), 4);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	sip_tp_free(a);
}
END_TEST

START_TEST(test_check_tls_garbage_key)
{
	char cert[128], key[128], err[512];
	FILE *fp;

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/garbage.pem", tmpdir);
	fp = fopen(key, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("-----BEGIN PRIVATE KEY-----\nnot a key\n"
	    "-----END PRIVATE KEY-----\n", fp);
	fclose(fp);
	ck_assert_int_eq(sip_tp_check_tls(cert, key, err, sizeof(err)),
	    EPROTO);
	/* The file and OpenSSL's own reason, not "Protocol error". */
	ck_assert_ptr_nonnull(strstr(err, key));
	ck_assert_ptr_nonnull(strstr(err, "error:"));
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "%s\n", err);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	ck_assert_int_eq(sip_tp_check_tls(cert, key, err, sizeof(err)), 0);
	/* A key that is not the certificate's. */
	snprintf(key, sizeof(key), "%s/otherkey.pem", tmpdir);
	ck_assert_int_eq(sip_tp_check_tls(cert, key, err, sizeof(err)),
	    EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "otherkey.pem"));
	ck_assert_ptr_nonnull(strstr(err, "mismatch"));
}
END_TEST

/*
 * An outbound TLS request reuses only a connection whose certificate
 * was checked for the same name (or, without a name, the address).
 */
START_TEST(test_tls_reuse_by_name)
{
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp_conf cf;
	struct sip_tp *a = tp_make(&ra, NULL), *b;
	struct sip_dest d, d2;
	char cafile[128];
	uint64_t by_name;

	snprintf(cafile, sizeof(cafile), "%s/cert.pem", tmpdir);
	sip_tp_conf_default(&cf);
	cf.ca_file = cafile;
	b = tp_make(&rb, &cf);
	tp_listen(a, SIP_TP_TLS, "127.0.0.1", 0, &aa, &al);
	tp_listen(b, SIP_TP_TLS, "127.0.0.1", 0, &ba, &bl);
	sip_tp_dest_make(&d, SIP_TP_TLS, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_open(b, &d, "localhost"), 0);
	by_name = d.conn_id;
	send_req(b, &d, "tlsr1", 0);
	pump(&ra.n, 1, 3000);
	ck_assert_int_eq(ra.n, 1);
	/* Same name: reused, found by address or by id. */
	sip_tp_dest_make(&d2, SIP_TP_TLS, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_open(b, &d2, "LOCALHOST"), 0);
	ck_assert_uint_eq(d2.conn_id, by_name);
	/* Another name on the same address: a connection of its own. */
	sip_tp_dest_make(&d2, SIP_TP_TLS, (struct sockaddr *)&aa, al);
	d2.conn_id = by_name;
	ck_assert_int_eq(sip_tp_open(b, &d2, "sip.example.com"), 0);
	ck_assert_uint_ne(d2.conn_id, by_name);
	/* No name (the address is checked): not the one checked by name. */
	sip_tp_dest_make(&d2, SIP_TP_TLS, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_open(b, &d2, NULL), 0);
	ck_assert_uint_ne(d2.conn_id, by_name);
	send_req(b, &d2, "tlsr2", 0);
	pump(&ra.n, 2, 3000);
	ck_assert_int_eq(ra.n, 2);
	/* a's requests to b never ride b's connection: a never checked it. */
	sip_tp_dest_make(&d2, SIP_TP_TLS, (struct sockaddr *)&ba, bl);
	d2.conn_id = ra.d[0].conn_id;
	ck_assert_int_eq(sip_tp_open(a, &d2, "localhost"), 0);
	ck_assert_uint_ne(d2.conn_id, ra.d[0].conn_id);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

/* ---- observers and keepalives per connection (RFC 5626) ------------------- */

struct obs_rec {
	int		 n;
	uint64_t	 id;
	int		 err;
	struct sip_tp	*tp;
	uint64_t	 also;		/* a handle to drop when called */
};

static void
obs_cb(uint64_t id, int err, void *arg)
{
	struct obs_rec *o = arg;

	o->n++;
	o->id = id;
	o->err = err;
	if (o->also != 0)
		sip_tp_conn_unobserve(o->tp, o->also);
}

START_TEST(test_conn_observers)
{
	struct sockaddr_storage aa, ba;
	socklen_t al, bl;
	struct sip_tp *a = tp_make(&ra, NULL), *b = tp_make(&rb, NULL);
	struct obs_rec o1 = { 0 }, o2 = { 0 }, o3 = { 0 }, o4 = { 0 };
	struct sip_dest d;
	uint64_t h2, h4, in_id;

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	tp_listen(b, SIP_TP_TCP, "127.0.0.1", 0, &ba, &bl);
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&aa, al);
	send_req(b, &d, "obs1", 0);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	in_id = ra.d[0].conn_id;
	/* No such connection: no handle. */
	ck_assert_uint_eq(sip_tp_conn_observe(b, 999999, obs_cb, &o1), 0);
	ck_assert_uint_ne(sip_tp_conn_observe(b, d.conn_id, obs_cb, &o1), 0);
	h2 = sip_tp_conn_observe(b, d.conn_id, obs_cb, &o2);
	ck_assert_uint_ne(h2, 0);
	sip_tp_conn_unobserve(b, h2);
	sip_tp_conn_unobserve(b, h2);		/* spent: ignored */
	/* o3 runs first and drops o4: o4 is never called. */
	o3.tp = b;
	ck_assert_uint_ne(sip_tp_conn_observe(b, d.conn_id, obs_cb, &o3), 0);
	h4 = sip_tp_conn_observe(b, d.conn_id, obs_cb, &o4);
	o3.also = h4;
	/* The inbound side can be observed too. */
	ck_assert_uint_ne(sip_tp_conn_observe(a, in_id, obs_cb, &o2), 0);
	/* a closes its end: every observer of b's connection hears it. */
	sip_tp_free(a);
	pump(&o1.n, 1, 2000);
	pump(NULL, 0, 20);
	ck_assert_int_eq(o1.n, 1);
	ck_assert_uint_eq(o1.id, d.conn_id);
	ck_assert_int_eq(o1.err, ECONNRESET);
	ck_assert_int_eq(o3.n, 1);
	ck_assert_int_eq(o4.n, 0);
	/* sip_tp_free calls nobody. */
	ck_assert_int_eq(o2.n, 0);
	/* The global callback still hears of the outbound connection. */
	ck_assert_int_eq(rb.fails, 1);
	/* Spent: closing again calls nobody twice. */
	pump(NULL, 0, 50);
	ck_assert_int_eq(o1.n, 1);
	sip_tp_free(b);
}
END_TEST

/*
 * The host loses an address: a listener bound to it is passed over for
 * Via and sending (the wildcard answers for it) until it is back, and a
 * stream whose local end it was is closed, its observers told.  A
 * wildcard listener and connections on other addresses are untouched.
 */
START_TEST(test_addr_gone_and_back)
{
	struct sockaddr_storage sa, wa, ta, gone;
	socklen_t sl, wl, tl;
	struct sip_tp *a = tp_make(&ra, NULL), *b = tp_make(&rb, NULL);
	struct obs_rec o = { 0 };
	struct sip_dest d, u;
	char sb[64], want[64];
	size_t nl = 9;

	/* 127.0.0.2 is ours without configuring it (127/8 is local). */
	tp_listen(a, SIP_TP_UDP, "127.0.0.2", 0, &sa, &sl);
	tp_listen(a, SIP_TP_UDP, "0.0.0.0", 0, &wa, &wl);
	tp_listen(b, SIP_TP_TCP, "127.0.0.1", 0, &ta, &tl);
	sip_tp_dest_make(&u, SIP_TP_UDP, (struct sockaddr *)&ta, tl);
	ck_assert_int_eq(sip_tp_sent_by(a, &u, sb, sizeof(sb)), 0);
	snprintf(want, sizeof(want), "127.0.0.2:%u",
	    ntohs(((struct sockaddr_in *)&sa)->sin_port));
	ck_assert_str_eq(sb, want);
	/* a's TCP connection to b leaves from 127.0.0.1. */
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&ta, tl);
	send_req(a, &d, "gone1", 0);
	pump(&rb.n, 1, 2000);
	ck_assert_int_eq(rb.n, 1);
	ck_assert_uint_ne(sip_tp_conn_observe(a, d.conn_id, obs_cb, &o), 0);

	/* 127.0.0.3 was nobody's: nothing happens. */
	memset(&gone, 0, sizeof(gone));
	gone.ss_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.3", &((struct sockaddr_in *)&gone)->
	    sin_addr);
	ck_assert_uint_eq(sip_tp_addr_gone(a, (struct sockaddr *)&gone, &nl),
	    0);
	ck_assert_uint_eq(nl, 0);
	/* 127.0.0.2 goes: its listener is passed over, the wildcard
	 * names the address the kernel picks. */
	inet_pton(AF_INET, "127.0.0.2", &((struct sockaddr_in *)&gone)->
	    sin_addr);
	ck_assert_uint_eq(sip_tp_addr_gone(a, (struct sockaddr *)&gone, &nl),
	    0);
	ck_assert_uint_eq(nl, 1);
	ck_assert_uint_eq(sip_tp_listeners_gone(a), 1);
	ck_assert_int_eq(sip_tp_sent_by(a, &u, sb, sizeof(sb)), 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u",
	    ntohs(((struct sockaddr_in *)&wa)->sin_port));
	ck_assert_str_eq(sb, want);
	/* Said twice: said once. */
	ck_assert_uint_eq(sip_tp_addr_gone(a, (struct sockaddr *)&gone, &nl),
	    0);
	ck_assert_uint_eq(nl, 0);
	ck_assert_int_eq(o.n, 0);
	/* Back: chosen again. */
	ck_assert_uint_eq(sip_tp_addr_back(a, (struct sockaddr *)&gone), 1);
	ck_assert_uint_eq(sip_tp_listeners_gone(a), 0);
	ck_assert_int_eq(sip_tp_sent_by(a, &u, sb, sizeof(sb)), 0);
	snprintf(want, sizeof(want), "127.0.0.2:%u",
	    ntohs(((struct sockaddr_in *)&sa)->sin_port));
	ck_assert_str_eq(sb, want);

	/* 127.0.0.1 goes: the TCP connection from it is closed and its
	 * observer hears why; the wildcard listener stays. */
	inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&gone)->
	    sin_addr);
	ck_assert_uint_eq(sip_tp_addr_gone(a, (struct sockaddr *)&gone, &nl),
	    1);
	ck_assert_uint_eq(nl, 0);
	ck_assert(!sip_tp_conn_alive(a, d.conn_id));
	pump(&o.n, 1, 2000);
	ck_assert_int_eq(o.n, 1);
	ck_assert_int_eq(o.err, EADDRNOTAVAIL);
	ck_assert_int_eq(ra.fails, 1);
	ck_assert_int_eq(ra.fail_err, EADDRNOTAVAIL);
	sip_tp_free(a);
	sip_tp_free(b);
}
END_TEST

START_TEST(test_inbound_conn_observed)
{
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	struct obs_rec o = { 0 };
	char buf[2048];
	size_t n;
	int fd;

	tp_listen(a, SIP_TP_TCP, "127.0.0.1", 0, &aa, &al);
	fd = raw_sock(SOCK_STREAM, &aa, al);
	n = mkreq(buf, sizeof(buf), "SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKo1",
	    "obs2", 0);
	raw_send(fd, buf, n);
	pump(&ra.n, 1, 2000);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_uint_ne(sip_tp_conn_observe(a, ra.d[0].conn_id, obs_cb, &o),
	    0);
	close(fd);
	pump(&o.n, 1, 2000);
	ck_assert_int_eq(o.n, 1);
	ck_assert_uint_eq(o.id, ra.d[0].conn_id);
	/* Inbound: never reported to the transaction layer's callback. */
	ck_assert_int_eq(ra.fails, 0);
	sip_tp_free(a);
}
END_TEST

/* RFC 5626 §4.4.1: pings on one connection, at its own interval. */
START_TEST(test_conn_keepalive)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct sockaddr_in sin = { 0 };
	struct sip_tp *b = tp_make(&rb, NULL);
	struct sip_dest d;
	char buf[64];
	int lfd, fd, on = 1;
	uint64_t t0;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&ss, sl);
	ck_assert_int_eq(sip_tp_open(b, &d, NULL), 0);
	pump(NULL, 0, 50);
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ck_assert_int_eq(sip_tp_conn_set_keepalive(b, 999999, 1), ENOTCONN);
	/* The transport's default is off: nothing comes. */
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 300), -1);
	t0 = time_mono_us();
	ck_assert_int_eq(sip_tp_conn_set_keepalive(b, d.conn_id, 1), 0);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 3000), 4);
	ck_assert_str_eq(buf, "\r\n\r\n");
	ck_assert_uint_ge(time_mono_us() - t0, 900000);
	raw_send(fd, "\r\n", 2);
	pump(NULL, 0, 50);
	ck_assert_uint_eq(sip_tp_stats(b)->keepalives_in, 1);
	/* 0 stops them. */
	ck_assert_int_eq(sip_tp_conn_set_keepalive(b, d.conn_id, 0), 0);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 1300), -1);
	ck_assert(sip_tp_conn_alive(b, d.conn_id));
	close(fd);
	close(lfd);
	sip_tp_free(b);
}
END_TEST

/* A listener of the test's own that b connects to; *fd is its end. */
static void
raw_peer(struct sip_tp *b, int *lfd, int *fd, struct sip_dest *d)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct sockaddr_in sin = { 0 };
	int on = 1;

	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(*lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(*lfd, 4), 0);
	ck_assert_int_eq(getsockname(*lfd, (struct sockaddr *)&ss, &sl), 0);
	sip_tp_dest_make(d, SIP_TP_TCP, (struct sockaddr *)&ss, sl);
	ck_assert_int_eq(sip_tp_open(b, d, NULL), 0);
	pump(NULL, 0, 50);
	*fd = accept(*lfd, NULL, NULL);
	ck_assert_int_ge(*fd, 0);
	fcntl(*fd, F_SETFL, O_NONBLOCK);
}

/*
 * RFC 5626 §4.4.1: a peer that takes the pings and never answers (a
 * black-holed flow: the socket stays open, writes succeed) is declared
 * dead pong_timeout after the first unanswered ping, and its observers
 * hear ETIMEDOUT.  Pings sent meanwhile do not move that deadline.
 */
START_TEST(test_conn_pong_timeout)
{
	struct sip_tp_conf cf;
	struct sip_tp *b;
	struct obs_rec o = { 0 };
	struct sip_dest d;
	char buf[64];
	int lfd, fd;
	uint64_t t0, took;

	sip_tp_conf_default(&cf);
	cf.pong_timeout_ms = 1500;
	b = tp_make(&rb, &cf);
	raw_peer(b, &lfd, &fd, &d);
	ck_assert_uint_ne(sip_tp_conn_observe(b, d.conn_id, obs_cb, &o), 0);
	/* A ping a second: the second one finds the first unanswered. */
	ck_assert_int_eq(sip_tp_conn_set_keepalive(b, d.conn_id, 1), 0);
	ck_assert_int_eq(raw_recv(fd, buf, sizeof(buf), 3000), 4);
	t0 = time_mono_us();
	pump(&o.n, 1, 3000);
	took = time_mono_us() - t0;
	ck_assert_int_eq(o.n, 1);
	ck_assert_int_eq(o.err, ETIMEDOUT);
	ck_assert_uint_eq(o.id, d.conn_id);
	ck_assert_uint_ge(sip_tp_stats(b)->keepalives_out, 2);
	ck_assert_msg(took >= 1400000 && took < 1900000, "closed after %llu us",
	    (unsigned long long)took);
	ck_assert(!sip_tp_conn_alive(b, d.conn_id));
	/* The peer sees its end closed, after the pings it was sent. */
	{
		ssize_t n;

		while ((n = raw_recv(fd, buf, sizeof(buf), 2000)) > 0)
			;
		ck_assert_int_eq(n, 0);
	}
	close(fd);
	close(lfd);
	sip_tp_free(b);
}
END_TEST

/*
 * A flow answered with pongs lives on, and the idle timeout (which a
 * ping is not traffic for) does not close it: the registration the
 * flow carries would lose its way back.
 */
START_TEST(test_flow_not_idle)
{
	struct sip_tp_conf cf;
	struct sip_tp *b;
	struct sip_dest d;
	char buf[64];
	int lfd, fd, pings = 0;
	uint64_t until;

	sip_tp_conf_default(&cf);
	cf.idle_timeout_ms = 400;
	cf.pong_timeout_ms = 500;
	b = tp_make(&rb, &cf);
	raw_peer(b, &lfd, &fd, &d);
	ck_assert_int_eq(sip_tp_conn_set_keepalive(b, d.conn_id, 1), 0);
	until = time_mono_us() + 2600000;
	while (time_mono_us() < until) {
		if (raw_recv(fd, buf, sizeof(buf), 50) == 4) {
			pings++;
			raw_send(fd, "\r\n", 2);
		}
		pump(NULL, 0, 10);
	}
	ck_assert_int_ge(pings, 2);
	ck_assert(sip_tp_conn_alive(b, d.conn_id));
	ck_assert_int_eq(rb.fails, 0);
	close(fd);
	close(lfd);
	sip_tp_free(b);
}
END_TEST

/* ---- misc ----------------------------------------------------------------- */

START_TEST(test_via_fixed_params)
{
	static char buf[2048];
	struct sockaddr_in src = { 0 };
	struct sip_parse_error pe;
	struct strbuf out = STRBUF_INIT;
	struct sip_msg *m;
	size_t n;
	char *copy;

	src.sin_family = AF_INET;
	src.sin_port = htons(4242);
	inet_pton(AF_INET, "198.51.100.7", &src.sin_addr);
	n = mkreq(buf, sizeof(buf), "SIP/2.0/UDP h.example.com;rport ; "
	    "received=1.2.3.4;branch=z9hG4bKv, SIP/2.0/UDP p.example.com",
	    "vf", 0);
	copy = malloc(n);
	memcpy(copy, buf, n);
	ck_assert_int_eq(sip_msg_parse(copy, n, 0, &m, &pe), 0);
	ck_assert(sip_tp_via_fixed(m, (struct sockaddr *)&src, &out));
	ck_assert_str_eq(out.p, "SIP/2.0/UDP h.example.com;branch=z9hG4bKv;"
	    "received=198.51.100.7;rport=4242, SIP/2.0/UDP p.example.com");
	sip_msg_free(m);
	strbuf_free(&out);
}
END_TEST

START_TEST(test_branch_and_via)
{
	char b1[SIP_TP_BRANCH_LEN], b2[SIP_TP_BRANCH_LEN];
	struct sockaddr_storage aa;
	socklen_t al;
	struct sip_tp *a = tp_make(&ra, NULL);
	struct sip_dest d;
	struct strbuf via = STRBUF_INIT;
	char want[96];

	sip_tp_branch(b1);
	sip_tp_branch(b2);
	ck_assert_int_eq(strncmp(b1, "z9hG4bK", 7), 0);
	ck_assert_uint_eq(strlen(b1), 39);
	ck_assert_str_ne(b1, b2);
	/* No IPv4 listener yet. */
	tp_listen(a, SIP_TP_UDP, "::1", 0, &aa, &al);
	sip_tp_dest_make(&d, SIP_TP_UDP, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_via(a, &d, "z9hG4bKabc", &via), 0);
	snprintf(want, sizeof(want), "SIP/2.0/UDP [::1]:%u;rport;"
	    "branch=z9hG4bKabc", port_of(&aa));
	ck_assert_str_eq(via.p, want);
	/* A wildcard listener: the address towards the peer. */
	strbuf_reset(&via);
	tp_listen(a, SIP_TP_TCP, "0.0.0.0", 0, &aa, &al);
	((struct sockaddr_in *)&aa)->sin_addr.s_addr = htonl(0x7f000001);
	sip_tp_dest_make(&d, SIP_TP_TCP, (struct sockaddr *)&aa, al);
	ck_assert_int_eq(sip_tp_via(a, &d, "z9hG4bKdef", &via), 0);
	snprintf(want, sizeof(want), "SIP/2.0/TCP 127.0.0.1:%u;rport;"
	    "branch=z9hG4bKdef", port_of(&aa));
	ck_assert_str_eq(via.p, want);
	strbuf_free(&via);
	sip_tp_free(a);
}
END_TEST

static void
make_certs(void)
{
	char cmd[1024];
	static const char *names[] = { "cert.pem", "other.pem" };
	static const char *keys[] = { "key.pem", "otherkey.pem" };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sipxtpXXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec "
		    "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
		    "-subj /CN=localhost -addext "
		    "subjectAltName=DNS:localhost,IP:127.0.0.1 "
		    "-keyout %s/%s -out %s/%s >/dev/null 2>&1", tmpdir,
		    keys[i], tmpdir, names[i]);
		if (system(cmd) != 0) {
			fprintf(stderr, "cannot run openssl req\n");
			exit(EXIT_FAILURE);
		}
	}
}

static void
remove_certs(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	(void)system(cmd);
}

int
main(void)
{
	Suite *s = suite_create("sip_transport");
	TCase *tc = tcase_create("loop");
	SRunner *sr;
	int failed;

	log_set_level(getenv("TEST_VERBOSE") != NULL ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_WARNING);
	make_certs();
	tcase_set_timeout(tc, 15);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_udp_exchange, 0, 2);
	tcase_add_test(tc, test_rport_received);
	tcase_add_test(tc, test_udp_malformed_request_400);
	tcase_add_test(tc, test_udp_malformed_response_dropped);
	tcase_add_test(tc, test_foreign_via_response_dropped);
	tcase_add_loop_test(tc, test_tcp_reuse, 0, 2);
	tcase_add_test(tc, test_tcp_framing);
	tcase_add_test(tc, test_tcp_garbage_closes_one);
	tcase_add_test(tc, test_tcp_oversize);
	tcase_add_test(tc, test_tcp_ping_pong);
	tcase_add_test(tc, test_idle_close_and_keepalive);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_mtu_switch);
	tcase_add_test(tc, test_tls_ok_by_name);
	tcase_add_test(tc, test_tls_ok_by_ip);
	tcase_add_test(tc, test_tls_wrong_name);
	tcase_add_test(tc, test_tls_wrong_ca);
	tcase_add_test(tc, test_tls_reuse_by_name);
	tcase_add_test(tc, test_partial_message_timeout);
	tcase_add_test(tc, test_tls_handshake_timeout);
	tcase_add_test(tc, test_conn_cap_refuses_inbound);
	tcase_add_test(tc, test_accept_emfile_pauses);
	tcase_add_test(tc, test_check_tls_garbage_key);
	tcase_add_test(tc, test_conn_observers);
	tcase_add_test(tc, test_inbound_conn_observed);
	tcase_add_test(tc, test_addr_gone_and_back);
	tcase_add_test(tc, test_conn_keepalive);
	tcase_add_test(tc, test_conn_pong_timeout);
	tcase_add_test(tc, test_flow_not_idle);
	tcase_add_test(tc, test_via_fixed_params);
	tcase_add_test(tc, test_branch_and_via);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_certs();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
