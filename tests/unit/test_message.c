/*
 * The generic request (src/ua/request.c), the MESSAGE usage
 * (src/ua/message.c) and the text helpers they show bodies with
 * (src/base/text.c), on the real loop: a real struct ua with a UDP
 * listener on loopback and T1 = 20 ms, and a mock peer, a UDP socket of
 * the test's own whose read callback parses each SIP message and answers
 * from the running case's script.  The peer also sends MESSAGEs of its
 * own to the ua, for the server side.
 *
 * Cases: a custom method with a header and a body, every response
 * reported; a Contact only where the method needs one; a 407 answered
 * once with a correct digest, and a second 407 taken as the answer;
 * the caller's timeout and Timer F; a cancel; the refusals (methods,
 * headers, types, URIs, body size, the live cap); a MESSAGE too large
 * for UDP.  As a server: 200 with an event and the inbox, 404, 413,
 * 415, 400, a binary body in base64, the inbox bound, inbox 0, clear,
 * and a reload that removes an account or shrinks its inbox.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "base/limits.h"
#include "base/strbuf.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_auth.h"
#include "sip/sip_msg.h"
#include "ua/account.h"
#include "ua/events.h"
#include "ua/message.h"
#include "ua/request.h"
#include "ua/ua.h"

#define T1_MS		20
#define MOCK_MAX	64
#define REALM		"msgrealm"
#define NONCE		"nonce-0815"

static struct event_base *base;
static struct event *tick;
static struct ua *ua;
static int ua_port;
static struct account_set set;
static struct request_agent *rqa;
static struct message_agent *mga;

/* ---- the mock peer ----------------------------------------------------- */

struct pm {
	struct sip_msg		*msg;
	struct sockaddr_in	 from;
	bool			 retx;
	char			*rsp;
	size_t			 rsplen;
};

typedef void script_fn(struct pm *);

static struct {
	int		 fd;
	int		 port;
	struct event	*ev;
	struct pm	 in[MOCK_MAX];
	size_t		 n;
	script_fn	*script;
} mock;

static char peer_uri[64];

static int
free_udp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int u = socket(AF_INET, SOCK_DGRAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(u, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(u);
	return port;
}

static void
mock_sendto(const char *p, size_t n, const struct sockaddr_in *to)
{
	ck_assert_int_eq(sendto(mock.fd, p, n, 0, (const struct sockaddr *)to,
	    sizeof(*to)), (ssize_t)n);
}

/* A slice as a C string (rotating buffers). */
static const char *
cs(struct slice s)
{
	static char v[8][2048];
	static int k;
	char *p = v[k++ % 8];

	snprintf(p, sizeof(v[0]), "%.*s", SLICE_ARG(s));
	return p;
}

static const char *
hval(const struct pm *q, const char *name)
{
	const struct sip_hdr *h = sip_msg_hdr_named(q->msg, name);

	return h != NULL ? cs(h->value) : NULL;
}

/* Answers q (§8.2.6.2), with hdrs (whole lines) and a text body. */
static void
peer_respond(struct pm *q, unsigned status, const char *reason,
    const char *hdrs, const char *body)
{
	const struct sip_msg *m = q->msg;
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "SIP/2.0 %u %s\r\n", status, reason);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_TO:
			strbuf_addf(&sb, "To: %.*s%s\r\n", SLICE_ARG(h->value),
			    status > 100 ? ";tag=peer" : "");
			break;
		case SIP_HDR_VIA:
		case SIP_HDR_FROM:
		case SIP_HDR_CALL_ID:
		case SIP_HDR_CSEQ:
			strbuf_addf(&sb, "%.*s: %.*s\r\n", SLICE_ARG(h->name),
			    SLICE_ARG(h->value));
			break;
		default:
			break;
		}
	}
	if (hdrs != NULL)
		strbuf_adds(&sb, hdrs);
	if (body != NULL)
		strbuf_addf(&sb, "Content-Type: text/plain\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	else
		strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	mock_sendto(sb.p, sb.n, &q->from);
	free(q->rsp);
	q->rsplen = sb.n;
	q->rsp = strbuf_detach(&sb);
}

static void
mock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct sip_parse_error pe;
		struct sip_msg *m;
		char *buf = xmalloc(65536);
		ssize_t n;
		struct pm *q;

		n = recvfrom(fd, buf, 65535, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			free(buf);
			return;
		}
		buf = xrealloc(buf, (size_t)n);
		ck_assert_msg(sip_msg_parse(buf, (size_t)n, 0, &m, &pe) == 0,
		    "the peer got a malformed message: %s", pe.reason);
		ck_assert_uint_lt(mock.n, MOCK_MAX);
		q = &mock.in[mock.n++];
		memset(q, 0, sizeof(*q));
		q->msg = m;
		q->from = from;
		/* A retransmitted request gets the same answer again. */
		if (m->request)
			for (size_t i = 0; i + 1 < mock.n; i++) {
				struct pm *o = &mock.in[i];

				if (!o->msg->request || o->retx ||
				    !slice_eq(o->msg->via[0].branch,
				    m->via[0].branch))
					continue;
				q->retx = true;
				if (o->rsp != NULL)
					mock_sendto(o->rsp, o->rsplen, &from);
				break;
			}
		if (!q->retx && mock.script != NULL)
			mock.script(q);
	}
}

/* Requests received, retransmissions apart. */
static size_t
nreq(void)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++)
		if (mock.in[i].msg->request && !mock.in[i].retx)
			k++;
	return k;
}

static struct pm *
req(size_t k)
{
	for (size_t i = 0; i < mock.n; i++)
		if (mock.in[i].msg->request && !mock.in[i].retx && k-- == 0)
			return &mock.in[i];
	ck_abort_msg("no request #%zu", k);
	return NULL;
}

/* Responses the peer received (to its own MESSAGEs). */
static const struct sip_msg *
last_rsp(void)
{
	for (size_t i = mock.n; i-- > 0;)
		if (!mock.in[i].msg->request)
			return mock.in[i].msg;
	return NULL;
}

/* The peer sends a MESSAGE to user at the ua. */
static void
peer_message(const char *user, const char *hdrs, const void *body,
    size_t len)
{
	static unsigned seq;
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct strbuf sb = STRBUF_INIT;

	seq++;
	strbuf_addf(&sb, "MESSAGE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-m%u-%d\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: \"Peer\" <sip:peer@127.0.0.1>;tag=pt%u\r\n"
	    "To: <sip:%s@127.0.0.1>\r\n"
	    "Call-ID: peer-msg-%u-%d\r\n"
	    "CSeq: 1 MESSAGE\r\n%s"
	    "Content-Length: %zu\r\n\r\n", user, ua_port, mock.port, seq,
	    (int)getpid(), seq, user, seq, (int)getpid(),
	    hdrs != NULL ? hdrs : "", len);
	strbuf_add(&sb, body, len);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)ua_port);
	mock_sendto(sb.p, sb.n, &to);
	strbuf_free(&sb);
}

/* ---- the loop ----------------------------------------------------------- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

#define WAIT_FOR(cond, ms) do {						\
	uint64_t until_ = time_mono_us() + (uint64_t)(ms) * 1000;	\
									\
	while (!(cond) && time_mono_us() < until_)			\
		event_base_loop(base, EVLOOP_ONCE);			\
	ck_assert_msg((cond), "not within %u ms: %s", (unsigned)(ms),	\
	    #cond);							\
} while (0)

static void
run_for(unsigned ms)
{
	uint64_t until = time_mono_us() + (uint64_t)ms * 1000;

	while (time_mono_us() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

/* ---- what the request told ------------------------------------------------ */

static struct {
	unsigned		 status[16];
	char			 body[16][256];
	size_t			 n;
	size_t			 calls;		/* on_rsp, all of them */
	bool			 done;
	struct request_result	 res;
} got;

static void
on_rsp(const struct sip_msg *m, void *arg)
{
	(void)arg;
	ck_assert(!got.done);
	got.calls++;
	if (got.n < 16) {
		got.status[got.n] = m->status;
		snprintf(got.body[got.n], sizeof(got.body[0]), "%.*s",
		    SLICE_ARG(m->body));
		got.n++;
	}
}

static void
on_done(const struct request_result *res, void *arg)
{
	(void)arg;
	ck_assert(!got.done);
	got.done = true;
	got.res = *res;
}

/* ---- message.received events ---------------------------------------------- */

static struct {
	char	 kv[8][EVENTS_KV_MAX][2][2048];
	size_t	 nkv[8];
	char	 account[8][32];
	size_t	 n;
} evlog;

static void
on_event(const struct events_event *ev, void *arg)
{
	size_t i = evlog.n;

	(void)arg;
	if (!ev->live || strcmp(ev->type, "message.received") != 0 || i == 8)
		return;
	snprintf(evlog.account[i], sizeof(evlog.account[0]), "%s",
	    ev->account);
	for (size_t k = 0; k < ev->nkv; k++) {
		snprintf(evlog.kv[i][k][0], sizeof(evlog.kv[0][0][0]), "%s",
		    ev->kv[k].key);
		snprintf(evlog.kv[i][k][1], sizeof(evlog.kv[0][0][1]), "%s",
		    ev->kv[k].value);
	}
	evlog.nkv[i] = ev->nkv;
	evlog.n++;
}

static const char *
ev_val(size_t i, const char *key)
{
	for (size_t k = 0; k < evlog.nkv[i]; k++)
		if (strcmp(evlog.kv[i][k][0], key) == 0)
			return evlog.kv[i][k][1];
	return NULL;
}

/* ---- accounts ------------------------------------------------------------ */

static struct account_cfg *
mk_cfg(const char *name, int inbox)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));
	char aor[64];

	snprintf(aor, sizeof(aor), "sip:%s@127.0.0.1", name);
	c->name = xstrdup(name);
	c->aor = xstrdup(aor);
	c->auth_user = xstrdup(name);
	c->password = xstrdup("secret");
	c->registrar = xstrdup("sip:127.0.0.1:9");
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->codecs = xcalloc(1, sizeof(char *));
	c->inbox = inbox;
	return c;
}

/* Applies the accounts (alice's inbox first, then bob's, -1: no bob). */
static void
apply(int alice_inbox, int bob_inbox, bool quiet)
{
	struct account_cfg **v = xcalloc(2, sizeof(*v));
	struct account_diff diff;
	size_t n = 0;

	v[n++] = mk_cfg("alice", alice_inbox);
	if (bob_inbox >= 0)
		v[n++] = mk_cfg("bob", bob_inbox);
	account_set_apply(&set, v, n, quiet, &diff);
	if (mga != NULL)
		message_agent_accounts_changed(mga);
}

static struct events_sub *sub;

static void
setup(void)
{
	struct sip_tp_listen_conf l[1] = { { .transport = SIP_TP_UDP } };
	struct ua_conf c = { 0 };
	static const char *servers[1] = { "127.0.0.1:1" };
	struct timeval tv = { 0, 20 * 1000 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char addr[32], err[256];

	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	ua_port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ua_port);
	l[0].address = addr;
	c.listen = l;
	c.nlisten = 1;
	c.t1_ms = T1_MS;
	c.t2_ms = 160;
	c.t4_ms = 200;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-message/1";
	c.default_from = "sip:test@127.0.0.1";
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	memset(&mock, 0, sizeof(mock));
	mock.fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(mock.fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(mock.fd, (struct sockaddr *)&sin, &len),
	    0);
	mock.port = ntohs(sin.sin_port);
	mock.ev = event_new(base, mock.fd, EV_READ | EV_PERSIST, mock_read_cb,
	    NULL);
	event_add(mock.ev, NULL);
	snprintf(peer_uri, sizeof(peer_uri), "sip:bob@127.0.0.1:%d",
	    mock.port);
	memset(&got, 0, sizeof(got));
	memset(&evlog, 0, sizeof(evlog));
	sub = events_subscribe(EVENTS_KIND_MESSAGE, NULL, on_event, NULL);
	account_set_init(&set);
	mga = NULL;
	apply(100, 100, true);
	rqa = request_agent_new(ua, &set, 4);
	mga = message_agent_new(ua, &set, rqa);
}

static void
teardown(void)
{
	message_agent_free(mga);
	mga = NULL;
	request_agent_free(rqa);
	rqa = NULL;
	ua_free(ua);
	ua = NULL;
	events_shutdown();
	account_set_clear(&set);
	event_free(mock.ev);
	close(mock.fd);
	for (size_t i = 0; i < mock.n; i++) {
		sip_msg_free(mock.in[i].msg);
		free(mock.in[i].rsp);
	}
	event_free(tick);
	event_base_free(base);
}

static void
send_req(const struct request_params *extra, unsigned timeout_ms)
{
	struct request_params p = { 0 };
	char err[256] = "";

	if (extra != NULL)
		p = *extra;
	p.account = "alice";
	if (p.method == NULL)
		p.method = "FOO";
	if (p.uri == NULL)
		p.uri = peer_uri;
	p.timeout_ms = timeout_ms;
	ck_assert_msg(request_send(rqa, &p, on_rsp, on_done, NULL, NULL, err,
	    sizeof(err)) == 0, "%s", err);
}

static int
refused(const struct request_params *extra, const char *want)
{
	struct request_params p = *extra;
	char err[256] = "";
	int e;

	if (p.account == NULL)
		p.account = "alice";
	if (p.method == NULL)
		p.method = "FOO";
	if (p.uri == NULL)
		p.uri = peer_uri;
	e = request_send(rqa, &p, on_rsp, on_done, NULL, NULL, err,
	    sizeof(err));
	ck_assert_int_ne(e, 0);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	return e;
}

/* ---- 1. the client request ---------------------------------------------- */

static void
script_182_200(struct pm *q)
{
	peer_respond(q, 182, "Queued", "X-Peer: early\r\n", NULL);
	peer_respond(q, 200, "OK", "X-Peer: final\r\n", "pong");
}

/* A peer that never stops ringing: 1xx after 1xx, each another. */
static void
script_many_1xx(struct pm *q)
{
	char h[32];

	for (int i = 0; i < 3 * SIPX_REQUEST_PROVISIONAL_MAX; i++) {
		snprintf(h, sizeof(h), "X-N: %d\r\n", i);
		peer_respond(q, 182, "Queued", h, NULL);
	}
	peer_respond(q, 200, "OK", NULL, NULL);
}

/*
 * Provisional answers are told up to SIPX_REQUEST_PROVISIONAL_MAX (a
 * control client gets one event each): the rest are counted only; the
 * final one is always told.
 */
START_TEST(test_request_many_1xx)
{
	mock.script = script_many_1xx;
	send_req(NULL, 3000);
	WAIT_FOR(got.done, 3000);
	ck_assert_int_eq(got.res.err, 0);
	ck_assert_uint_eq(got.res.status, 200);
	ck_assert_uint_eq(got.res.responses,
	    3 * SIPX_REQUEST_PROVISIONAL_MAX + 1);
	ck_assert_uint_eq(got.calls, SIPX_REQUEST_PROVISIONAL_MAX + 1);
}
END_TEST

START_TEST(test_request_custom)
{
	const char *hdrs[] = { "X-Test: 42", "Subject:  spaced" };
	struct request_params p = { .headers = hdrs, .nheaders = 2,
	    .body = "ping", .body_len = 4, .content_type = "application/x-t" };
	struct pm *q;

	mock.script = script_182_200;
	send_req(&p, 2000);
	WAIT_FOR(got.done, 2000);
	ck_assert_int_eq(got.res.err, 0);
	ck_assert_uint_eq(got.res.status, 200);
	ck_assert_str_eq(got.res.reason, "OK");
	ck_assert_uint_eq(got.n, 2);
	ck_assert_uint_eq(got.status[0], 182);
	ck_assert_uint_eq(got.status[1], 200);
	ck_assert_str_eq(got.body[1], "pong");
	ck_assert_uint_eq(got.res.responses, 2);
	ck_assert(!got.res.challenged);
	ck_assert_uint_eq(nreq(), 1);
	q = req(0);
	ck_assert_str_eq(cs(q->msg->method_str), "FOO");
	ck_assert_str_eq(cs(q->msg->ruri_str), peer_uri);
	ck_assert_str_eq(cs(q->msg->to.uri_str), peer_uri);
	ck_assert(!slice_present(q->msg->to.tag));
	ck_assert_uint_ge(q->msg->from.tag.n, 8);
	ck_assert_str_eq(cs(q->msg->from.uri_str), "sip:alice@127.0.0.1");
	ck_assert_str_eq(cs(q->msg->cseq.method_str), "FOO");
	ck_assert_int_eq(q->msg->max_forwards, 70);
	ck_assert_uint_eq(q->msg->ncontact, 0);
	ck_assert_str_eq(hval(q, "X-Test"), "42");
	ck_assert_str_eq(hval(q, "Subject"), "spaced");
	ck_assert_str_eq(hval(q, "User-Agent"), "test-message/1");
	ck_assert_str_eq(hval(q, "Content-Type"), "application/x-t");
	ck_assert_str_eq(cs(q->msg->body), "ping");
	ck_assert_ptr_null(hval(q, "Route"));
	ck_assert_uint_eq(request_count(rqa), 0);
}
END_TEST

static void
script_200(struct pm *q)
{
	peer_respond(q, 200, "OK", NULL, NULL);
}

/* A SUBSCRIBE makes a dialog: it gets a Contact; REGISTER never. */
START_TEST(test_request_contact)
{
	const char *ev[] = { "Event: presence" };
	struct request_params p = { .method = "SUBSCRIBE", .headers = ev,
	    .nheaders = 1 };
	char want[64];

	mock.script = script_200;
	send_req(&p, 2000);
	WAIT_FOR(got.done, 2000);
	ck_assert_uint_eq(req(0)->msg->ncontact, 1);
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(cs(req(0)->msg->contact[0].addr.uri_str), want);
	memset(&got, 0, sizeof(got));
	p.method = "REGISTER";
	p.nheaders = 0;
	send_req(&p, 2000);
	WAIT_FOR(got.done, 2000);
	ck_assert_uint_eq(req(1)->msg->ncontact, 0);
	ck_assert_uint_eq(got.res.status, 200);
}
END_TEST

static void
md5_hex(char out[33], const char *fmt, ...)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char in[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in, sizeof(in), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(EVP_Digest(in, strlen(in), md, &mdlen, EVP_md5(),
	    NULL), 1);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#define CHALLENGE	"Proxy-Authenticate: Digest realm=\"" REALM "\", " \
	"nonce=\"" NONCE "\", algorithm=MD5, qop=\"auth\"\r\n"

static void
script_407(struct pm *q)
{
	if (hval(q, "Proxy-Authorization") == NULL)
		peer_respond(q, 407, "Proxy Authentication Required",
		    CHALLENGE, NULL);
	else
		peer_respond(q, 200, "OK", NULL, NULL);
}

START_TEST(test_request_407)
{
	struct request_params p = { .method = "MESSAGE", .body = "hi",
	    .body_len = 2 };
	struct sip_auth_credentials c;
	const struct sip_hdr *h;
	const char *why = NULL;
	char ha1[33], ha2[33], want[33];
	struct pm *r0, *r1;

	mock.script = script_407;
	send_req(&p, 2000);
	WAIT_FOR(got.done, 2000);
	ck_assert_int_eq(got.res.err, 0);
	ck_assert_uint_eq(got.res.status, 200);
	ck_assert(got.res.challenged);
	ck_assert_uint_eq(got.n, 2);
	ck_assert_uint_eq(got.status[0], 407);
	ck_assert_uint_eq(nreq(), 2);
	r0 = req(0);
	r1 = req(1);
	/* §8.1.3.5, §22.2: the same Call-ID and tag, CSeq + 1. */
	ck_assert_str_eq(cs(r0->msg->call_id), cs(r1->msg->call_id));
	ck_assert_str_eq(cs(r0->msg->from.tag), cs(r1->msg->from.tag));
	ck_assert_uint_eq(r1->msg->cseq.num, r0->msg->cseq.num + 1);
	ck_assert(!slice_eq(r0->msg->via[0].branch, r1->msg->via[0].branch));
	ck_assert_str_eq(cs(r1->msg->body), "hi");
	ck_assert_str_eq(hval(r1, "Content-Type"), "text/plain;charset=UTF-8");
	h = sip_msg_hdr(r1->msg, SIP_HDR_PROXY_AUTHORIZATION, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_null(hval(r1, "Authorization"));
	ck_assert_msg(sip_auth_credentials_parse(&c, h->value, &why) == 0,
	    "%s", why);
	ck_assert(slice_eq_cstr(c.username, "alice"));
	ck_assert(slice_eq_cstr(c.realm, REALM));
	ck_assert(slice_eq_cstr(c.nonce, NONCE));
	ck_assert(slice_eq_cstr(c.uri, peer_uri));
	md5_hex(ha1, "alice:" REALM ":secret");
	md5_hex(ha2, "MESSAGE:%s", peer_uri);
	md5_hex(want, "%s:" NONCE ":%s:%s:auth:%s", ha1, cs(c.nc_text),
	    cs(c.cnonce), ha2);
	ck_assert_str_eq(cs(c.response), want);
}
END_TEST

/* A peer that refuses the credentials: answered once, then final. */
static void
script_always_401(struct pm *q)
{
	peer_respond(q, 401, "Unauthorized", "WWW-Authenticate: Digest "
	    "realm=\"" REALM "\", nonce=\"" NONCE "\"\r\n", NULL);
}

START_TEST(test_request_401_twice)
{
	mock.script = script_always_401;
	send_req(NULL, 2000);
	WAIT_FOR(got.done, 2000);
	ck_assert_int_eq(got.res.err, 0);
	ck_assert_uint_eq(got.res.status, 401);
	ck_assert(got.res.challenged);
	ck_assert_uint_eq(nreq(), 2);
	ck_assert_ptr_nonnull(hval(req(1), "Authorization"));
	ck_assert_uint_eq(got.n, 2);
}
END_TEST

/* Silence: the caller's bound (ETIME), then Timer F (ETIMEDOUT). */
START_TEST(test_request_timeouts)
{
	mock.script = NULL;
	send_req(NULL, 200);
	WAIT_FOR(got.done, 1000);
	ck_assert_int_eq(got.res.err, ETIME);
	ck_assert_uint_eq(got.res.status, 0);
	ck_assert_uint_eq(got.n, 0);
	memset(&got, 0, sizeof(got));
	/* 64*T1 = 1.28 s. */
	send_req(NULL, 10000);
	run_for(1000);
	ck_assert(!got.done);
	WAIT_FOR(got.done, 2000);
	ck_assert_int_eq(got.res.err, ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(got.res.target, "UDP 127.0.0.1:"));
}
END_TEST

START_TEST(test_request_cancel)
{
	struct request_params p = { .account = "alice", .method = "FOO",
	    .uri = peer_uri };
	struct request *r = NULL;
	char err[128];

	mock.script = NULL;
	ck_assert_int_eq(request_send(rqa, &p, on_rsp, on_done, NULL, &r, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(request_count(rqa), 1);
	WAIT_FOR(nreq() == 1, 1000);
	request_cancel(r);
	ck_assert_uint_eq(request_count(rqa), 0);
	run_for(300);
	ck_assert(!got.done);
}
END_TEST

START_TEST(test_request_refusals)
{
	const char *via[] = { "Via: SIP/2.0/UDP x" };
	const char *compact[] = { "i: call-id" };
	const char *ct[] = { "content-type: text/plain" };
	const char *crlf[] = { "X-A: b\r\nVia: evil" };
	const char *noname[] = { ": b" };
	const char *nocolon[] = { "X-A b" };
	const char *many[SIPX_REQUEST_HEADERS_MAX + 1];
	static char big[SIPX_REQUEST_BODY_MAX + 2];
	struct request_params p;
	char err[256];

	for (size_t i = 0; i <= SIPX_REQUEST_HEADERS_MAX; i++)
		many[i] = "X-Many: 1";
	memset(big, 'x', sizeof(big) - 1);
#define REFUSE(want, ...) do {						\
	p = (struct request_params){ __VA_ARGS__ };			\
	refused(&p, want);						\
} while (0)
	REFUSE("a call", .method = "INVITE");
	REFUSE("ACK", .method = "ACK");
	REFUSE("CANCEL", .method = "cancel");
	REFUSE("dialog", .method = "BYE");
	REFUSE("PRACK", .method = "PRACK");
	REFUSE("UPDATE", .method = "UPDATE");
	REFUSE("INFO", .method = "INFO");
	REFUSE("token", .method = "F O");
	REFUSE("token", .method = "");
	REFUSE("token", .method = "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ");
	REFUSE("writes itself", .headers = via, .nheaders = 1);
	REFUSE("writes itself", .headers = compact, .nheaders = 1);
	REFUSE("type=", .headers = ct, .nheaders = 1);
	REFUSE("control character", .headers = crlf, .nheaders = 1);
	REFUSE("Name: value", .headers = noname, .nheaders = 1);
	REFUSE("Name: value", .headers = nocolon, .nheaders = 1);
	REFUSE("at most", .headers = many,
	    .nheaders = SIPX_REQUEST_HEADERS_MAX + 1);
	REFUSE("media type", .body = "x", .body_len = 1,
	    .content_type = "text");
	REFUSE("media type", .body = "x", .body_len = 1,
	    .content_type = "text/plain\r\nX: y");
	REFUSE("without a body", .content_type = "text/plain");
	REFUSE("sip:", .uri = "tel:+123");
	REFUSE("sip:", .uri = "sip:bob@127.0.0.1?Subject=x");
	REFUSE("no account", .account = "nobody");
	REFUSE("timeout", .timeout_ms = REQUEST_TIMEOUT_MAX_MS + 1);
	p = (struct request_params){ .body = big, .body_len = sizeof(big) -
	    1 };
	ck_assert_int_eq(refused(&p, "bytes"), EMSGSIZE);
	/* The live cap (4 here): EBUSY, nothing sent for it. */
	p = (struct request_params){ .account = "alice", .method = "FOO",
	    .uri = peer_uri };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(request_send(rqa, &p, on_rsp, on_done, NULL,
		    NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(refused(&p, "in flight"), EBUSY);
	ck_assert_uint_eq(request_count(rqa), 4);
	ck_assert_int_eq(request_check_type("text/plain;charset=UTF-8", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(request_check_header("X-Ok: a\tb", err,
	    sizeof(err)), 0);
#undef REFUSE
}
END_TEST

/* RFC 3428 §8: over UDP at most 1300 bytes, the whole request. */
START_TEST(test_message_udp_limit)
{
	static char text[1300];
	struct message_params p = { .account = "alice", .uri = peer_uri,
	    .text = text, .len = sizeof(text) };
	char err[128];

	memset(text, 'y', sizeof(text));
	mock.script = script_200;
	ck_assert_int_eq(message_send(mga, &p, on_rsp, on_done, NULL, NULL,
	    err, sizeof(err)), 0);
	WAIT_FOR(got.done, 1000);
	ck_assert_int_eq(got.res.err, EMSGSIZE);
	ck_assert_uint_gt(got.res.size, SIPX_MESSAGE_UDP_MAX);
	ck_assert_uint_eq(nreq(), 0);
	/* A short one goes. */
	memset(&got, 0, sizeof(got));
	p.len = 800;
	ck_assert_int_eq(message_send(mga, &p, on_rsp, on_done, NULL, NULL,
	    err, sizeof(err)), 0);
	WAIT_FOR(got.done, 1000);
	ck_assert_int_eq(got.res.err, 0);
	ck_assert_uint_le(req(0)->msg->len, SIPX_MESSAGE_UDP_MAX);
	ck_assert_str_eq(cs(req(0)->msg->method_str), "MESSAGE");
	p.len = 0;
	ck_assert_int_eq(message_send(mga, &p, on_rsp, on_done, NULL, NULL,
	    err, sizeof(err)), EINVAL);
}
END_TEST

/* ---- 2. the server --------------------------------------------------------- */

static struct {
	struct message_entry	 e[8];
	char			 body[8][256];
	char			 from[8][64];
	size_t			 n;
} box;

static void
box_cb(const struct message_entry *e, void *arg)
{
	(void)arg;
	if (box.n == 8)
		return;
	box.e[box.n] = *e;
	memcpy(box.body[box.n], e->body, e->body_len < 255 ? e->body_len :
	    255);
	snprintf(box.from[box.n], sizeof(box.from[0]), "%s", e->from);
	box.n++;
}

static size_t
inbox(const char *account)
{
	memset(&box, 0, sizeof(box));
	ck_assert_int_eq(message_inbox_foreach(mga, account, box_cb, NULL),
	    0);
	return box.n;
}

#define TEXT_CT		"Content-Type: text/plain;charset=UTF-8\r\n"

START_TEST(test_server_ok)
{
	char id[24];
	struct message_stats st;

	peer_message("alice", TEXT_CT, "hello \"alice\"\n", 14);
	WAIT_FOR(last_rsp() != NULL, 1000);
	ck_assert_uint_eq(last_rsp()->status, 200);
	ck_assert_uint_ge(last_rsp()->to.tag.n, 1);
	ck_assert_uint_eq(evlog.n, 1);
	ck_assert_str_eq(evlog.account[0], "alice");
	ck_assert_str_eq(ev_val(0, "from"), "sip:peer@127.0.0.1");
	ck_assert_str_eq(ev_val(0, "to"), "sip:alice@127.0.0.1");
	ck_assert_str_eq(ev_val(0, "content_type"),
	    "text/plain;charset=UTF-8");
	ck_assert_str_eq(ev_val(0, "body"), "hello \"alice\"\n");
	ck_assert_ptr_null(ev_val(0, "encoding"));
	ck_assert_uint_eq(inbox("alice"), 1);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)box.e[0].id);
	ck_assert_str_eq(ev_val(0, "id"), id);
	ck_assert_str_eq(box.body[0], "hello \"alice\"\n");
	ck_assert_str_eq(box.from[0], "sip:peer@127.0.0.1");
	ck_assert(box.e[0].time > 0);
	ck_assert_uint_eq(inbox("bob"), 0);
	ck_assert_int_eq(message_inbox_foreach(mga, "nobody", box_cb, NULL),
	    ENOENT);
	message_stats_get(mga, &st);
	ck_assert_uint_eq(st.received, 1);
	ck_assert_uint_eq(st.kept, 1);
	ck_assert_uint_eq(st.inboxes, 1);
}
END_TEST

START_TEST(test_server_refusals)
{
	static char big[SIPX_MESSAGE_IN_MAX + 1];
	struct message_stats st;

	memset(big, 'z', sizeof(big));
	peer_message("nobody", TEXT_CT, "x", 1);
	WAIT_FOR(last_rsp() != NULL && last_rsp()->status == 404, 1000);
	/* Over UDP the peer's own datagram limit is not ours: 64 KiB. */
	peer_message("alice", TEXT_CT, big, sizeof(big));
	WAIT_FOR(last_rsp() != NULL && last_rsp()->status == 413, 1000);
	peer_message("alice", TEXT_CT "Content-Encoding: gzip\r\n", "x", 1);
	WAIT_FOR(last_rsp() != NULL && last_rsp()->status == 415, 1000);
	ck_assert_ptr_nonnull(sip_msg_hdr_named(last_rsp(),
	    "Accept-Encoding"));
	peer_message("alice", NULL, "x", 1);
	WAIT_FOR(last_rsp() != NULL && last_rsp()->status == 400, 1000);
	ck_assert_uint_eq(evlog.n, 0);
	ck_assert_uint_eq(inbox("alice"), 0);
	message_stats_get(mga, &st);
	ck_assert_uint_eq(st.refused, 4);
	ck_assert_uint_eq(st.received, 0);
	ck_assert_uint_eq(st.inboxes, 0);
}
END_TEST

START_TEST(test_server_binary)
{
	static const unsigned char bin[] = { 0x00, 0xff, 0x10, 'a', 0xc3 };

	peer_message("alice", "Content-Type: application/octet-stream\r\n",
	    bin, sizeof(bin));
	WAIT_FOR(evlog.n == 1, 1000);
	ck_assert_str_eq(ev_val(0, "encoding"), "base64");
	ck_assert_str_eq(ev_val(0, "body"), "AP8QYcM=");
	ck_assert_uint_eq(inbox("alice"), 1);
	ck_assert_uint_eq(box.e[0].body_len, sizeof(bin));
	ck_assert_int_eq(memcmp(box.e[0].body, bin, sizeof(bin)), 0);
}
END_TEST

START_TEST(test_inbox_bounds)
{
	char text[16];
	size_t n;
	struct message_stats st;

	apply(2, 0, false);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		peer_message("alice", TEXT_CT, text, strlen(text));
		peer_message("bob", TEXT_CT, text, strlen(text));
	}
	WAIT_FOR(evlog.n == 6, 2000);
	/* Published, kept only within the bound; bob keeps none. */
	ck_assert_uint_eq(inbox("alice"), 2);
	ck_assert_str_eq(box.body[0], "m1");
	ck_assert_str_eq(box.body[1], "m2");
	ck_assert_uint_lt(box.e[0].id, box.e[1].id);
	ck_assert_uint_eq(inbox("bob"), 0);
	message_stats_get(mga, &st);
	ck_assert_uint_eq(st.dropped, 1);
	ck_assert_uint_eq(st.kept, 2);
	/* A reload that shrinks alice's inbox cuts it at once. */
	apply(1, 5, false);
	ck_assert_uint_eq(inbox("alice"), 1);
	ck_assert_str_eq(box.body[0], "m2");
	peer_message("bob", TEXT_CT, "b", 1);
	WAIT_FOR(evlog.n == 7, 1000);
	ck_assert_uint_eq(inbox("bob"), 1);
	/* bob goes: his inbox with him. */
	apply(1, -1, false);
	message_stats_get(mga, &st);
	ck_assert_uint_eq(st.kept, 1);
	ck_assert_uint_eq(st.inboxes, 1);
	ck_assert_int_eq(message_inbox_foreach(mga, "bob", box_cb, NULL),
	    ENOENT);
	peer_message("bob", TEXT_CT, "b", 1);
	WAIT_FOR(last_rsp() != NULL && last_rsp()->status == 404, 1000);
	ck_assert_int_eq(message_inbox_clear(mga, "alice", &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(inbox("alice"), 0);
	ck_assert_int_eq(message_inbox_clear(mga, "alice", &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(message_inbox_clear(mga, "bob", &n), ENOENT);
	message_stats_get(mga, &st);
	ck_assert_uint_eq(st.kept, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_eq(st.inboxes, 0);
}
END_TEST

/* ---- 3. text -------------------------------------------------------------- */

START_TEST(test_text)
{
	static const struct {
		const char	*in;
		size_t		 n;
		bool		 plain;
	} cases[] = {
		{ "", 0, true },
		{ "hello\r\n\tworld", 13, true },
		{ "caf\xc3\xa9", 5, true },
		{ "\xf0\x9f\x98\x80", 4, true },
		{ "a\0b", 3, false },
		{ "\x1b[31m", 5, false },
		{ "\x7f", 1, false },
		{ "\xc3", 1, false },		/* cut short */
		{ "\xc0\xaf", 2, false },	/* overlong */
		{ "\xe0\x80\xaf", 3, false },	/* overlong */
		{ "\xed\xa0\x80", 3, false },	/* a surrogate */
		{ "\xf4\x90\x80\x80", 4, false },	/* above U+10FFFF */
		{ "\xff", 1, false },
	};
	static const struct {
		const char	*in;
		const char	*out;
	} b64[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(text_is_plain(cases[i].in, cases[i].n) ==
		    cases[i].plain, "case %zu", i);
	/* RFC 4648 §10. */
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		strbuf_reset(&sb);
		text_base64(&sb, b64[i].in, strlen(b64[i].in));
		ck_assert_str_eq(sb.n > 0 ? sb.p : "", b64[i].out);
	}
	strbuf_reset(&sb);
	ck_assert_str_eq(text_show(&sb, "ok", 2), "");
	ck_assert_str_eq(sb.p, "ok");
	strbuf_free(&sb);
}
END_TEST

static Suite *
message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("request");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_request_custom);
	tcase_add_test(tc, test_request_many_1xx);
	tcase_add_test(tc, test_request_contact);
	tcase_add_test(tc, test_request_407);
	tcase_add_test(tc, test_request_401_twice);
	tcase_add_test(tc, test_request_timeouts);
	tcase_add_test(tc, test_request_cancel);
	tcase_add_test(tc, test_request_refusals);
	tcase_add_test(tc, test_message_udp_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_server_ok);
	tcase_add_test(tc, test_server_refusals);
	tcase_add_test(tc, test_server_binary);
	tcase_add_test(tc, test_inbox_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_add_test(tc, test_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(message_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
