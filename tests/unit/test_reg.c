/*
 * The registration usage on the real loop: a real struct ua with a UDP
 * listener on loopback and T1 = 50 ms, and a mock registrar, a UDP
 * socket of the test's own whose read callback parses each REGISTER and
 * answers it from the running case's script.  Every case asserts both
 * what the registrar received (Call-ID, CSeq, Expires, Contact,
 * Authorization) and what the usage made of the answers (the account's
 * state, reg_info_get(), the account.state events).
 *
 * Cases: the arithmetic (refresh point, backoff, spread); digest with
 * qop=auth (password and ha1, 401 and 407), its nonce count on a
 * refresh, stale=true, refused credentials, no password; 423 with
 * Min-Expires; 503 with Retry-After; no answer (Timer F); a refused TCP
 * connection; 403; a Contact rewritten or left out by the registrar;
 * NAT found from received/rport, and gone again; stop and the control
 * calls; the start-up spread; more accounts than REG_INFLIGHT_MAX;
 * reload hooks; Service-Route and Path.
 *
 * test_nat_gone fails on purpose: it shows a bug in reg.c that the
 * lead fixes (see the comment above it).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_auth.h"
#include "sip/sip_msg.h"
#include "ua/account.h"
#include "ua/events.h"
#include "ua/reg.h"
#include "ua/ua.h"

static struct event_base *base;
static struct event *tick;	/* lets EVLOOP_ONCE return when idle */
static struct ua *ua;
static int ua_port;
static char registrar[64];	/* "sip:127.0.0.1:PORT" of the mock */
static char dns_server[32];
static struct account_set set;
static struct reg_agent *ag;
static unsigned changes;	/* reg_change_fn calls */

/* ---- the mock registrar ------------------------------------------------ */

#define MOCK_MAX	4096

/* One REGISTER as the registrar received it (retransmissions apart). */
struct rq {
	struct sip_msg		*msg;	/* owns the datagram */
	uint64_t		 at_us;
	struct sockaddr_in	 from;
	char			*rsp;	/* our answer, for copies */
	size_t			 rsplen;
	unsigned		 retx;	/* copies received after it */
	bool			 has_cred;
	struct sip_auth_credentials cred; /* slices into msg */
};

typedef void script_fn(struct rq *, size_t idx);

static struct {
	int		 fd;
	int		 port;
	struct event	*ev;
	struct rq	 req[MOCK_MAX];
	size_t		 n;
	unsigned	 other;		/* anything but a REGISTER */
	script_fn	*script;
	/* NAT: the address put in received/rport (NULL: the real one). */
	const char	*nat_ip;
	int		 nat_port;
} mock;

/* The digest registrar's side of the protection space. */
static struct {
	const char	*realm;
	const char	*user;
	const char	*password;	/* what the registrar knows */
	const char	*opaque;
	char		 nonce[40];
	int		 grant;		/* expires= in the 200 */
	/* 0: never; else rotate the nonce when credentials with this nc
	 * come (once). */
	uint32_t	 stale_at_nc;
} dig;

static int
free_udp_port(void)
{
	/* Free for UDP and TCP both: the ua listens on the port with each
	 * (other test programs run beside this one). */
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0), port;
		bool ok;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(u, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sin,
		    &len), 0);
		port = ntohs(sin.sin_port);
		ok = bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(t);
		close(u);
		if (ok)
			return port;
	}
	ck_abort_msg("no port free for both UDP and TCP");
	return -1;
}

static struct slice
top_branch(const struct sip_msg *m)
{
	return m->nvia > 0 ? m->via[0].branch : SLICE_NULL;
}

/*
 * The top Via as a registrar returns it (RFC 3581 §4): the empty rport
 * filled in and received added, from where the request came or from
 * the NAT address the case sets.
 */
static void
add_top_via(struct strbuf *sb, const struct rq *q, struct slice v)
{
	char ip[INET_ADDRSTRLEN];
	const char *rip = mock.nat_ip;
	int rport = mock.nat_port;
	size_t i = 0;
	bool done = false;

	if (rip == NULL) {
		inet_ntop(AF_INET, &q->from.sin_addr, ip, sizeof(ip));
		rip = ip;
		rport = ntohs(q->from.sin_port);
	}
	strbuf_adds(sb, "Via: ");
	while (i < v.n) {
		if (!done && v.n - i >= 6 &&
		    strncmp(v.p + i, ";rport", 6) == 0 &&
		    (i + 6 == v.n || v.p[i + 6] == ';' || v.p[i + 6] == ',')) {
			strbuf_addf(sb, ";received=%s;rport=%d", rip, rport);
			i += 6;
			done = true;
			continue;
		}
		strbuf_addc(sb, v.p[i++]);
	}
	strbuf_adds(sb, "\r\n");
}

/*
 * Answers q: its Via fields, From, To (with a tag), Call-ID and CSeq
 * (RFC 3261 §8.2.6.2), then hdrs (whole lines with CRLF, or NULL).
 */
static void
mock_answer(struct rq *q, unsigned status, const char *reason,
    const char *hdrs)
{
	const struct sip_msg *m = q->msg;
	struct strbuf sb = STRBUF_INIT;
	bool first = true;

	strbuf_addf(&sb, "SIP/2.0 %u %s\r\n", status, reason);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_VIA:
			if (first)
				add_top_via(&sb, q, h->value);
			else
				strbuf_addf(&sb, "Via: %.*s\r\n",
				    SLICE_ARG(h->value));
			first = false;
			break;
		case SIP_HDR_TO:
			strbuf_addf(&sb, "To: %.*s%s\r\n", SLICE_ARG(h->value),
			    slice_present(m->to.tag) ? "" : ";tag=mock-reg");
			break;
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
	strbuf_adds(&sb, "Server: reg-mock\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(sendto(mock.fd, sb.p, sb.n, 0,
	    (const struct sockaddr *)&q->from, sizeof(q->from)),
	    (ssize_t)sb.n);
	free(q->rsp);
	q->rsplen = sb.n;
	q->rsp = strbuf_detach(&sb);
}

/* 200 listing the request's own Contact for grant s (< 0: as asked). */
static void
mock_ok_hdrs(struct rq *q, int grant, const char *hdrs)
{
	const struct sip_msg *m = q->msg;
	char h[512];

	if (m->ncontact == 0 || m->expires == 0) {
		mock_answer(q, 200, "OK", hdrs);
		return;
	}
	snprintf(h, sizeof(h), "Contact: <%.*s>;expires=%lld\r\n%s",
	    SLICE_ARG(m->contact[0].addr.uri_str),
	    (long long)(grant >= 0 ? grant : m->expires),
	    hdrs != NULL ? hdrs : "");
	mock_answer(q, 200, "OK", h);
}

static void
mock_ok(struct rq *q, int grant)
{
	mock_ok_hdrs(q, grant, NULL);
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
		struct rq *q;
		bool retx = false;

		n = recvfrom(fd, buf, 65535, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			free(buf);
			return;
		}
		buf = xrealloc(buf, (size_t)n);
		ck_assert_msg(sip_msg_parse(buf, (size_t)n, 0, &m, &pe) == 0,
		    "the registrar got a malformed message: %s", pe.reason);
		if (!m->request || m->method != SIP_METHOD_REGISTER) {
			mock.other++;
			sip_msg_free(m);
			continue;
		}
		/* §17.1.2.2: a copy of one already seen (Timer E). */
		for (size_t i = 0; i < mock.n && !retx; i++) {
			q = &mock.req[i];
			if (!slice_eq(top_branch(q->msg), top_branch(m)))
				continue;
			retx = true;
			q->retx++;
			if (q->rsp != NULL)
				sendto(fd, q->rsp, q->rsplen, 0,
				    (const struct sockaddr *)&from,
				    sizeof(from));
		}
		if (retx) {
			sip_msg_free(m);
			continue;
		}
		ck_assert_uint_lt(mock.n, MOCK_MAX);
		q = &mock.req[mock.n++];
		q->msg = m;
		q->at_us = time_mono_us();
		q->from = from;
		if (mock.script != NULL)
			mock.script(q, mock.n - 1);
	}
}

static void
mock_open(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	mock.fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(mock.fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(mock.fd, (struct sockaddr *)&sin, &len),
	    0);
	mock.port = ntohs(sin.sin_port);
	/* Room for a burst of 1,024 REGISTERs (test_inflight_cap). */
	setsockopt(mock.fd, SOL_SOCKET, SO_RCVBUF, &(int){ 4 << 20 },
	    sizeof(int));
	mock.ev = event_new(base, mock.fd, EV_READ | EV_PERSIST, mock_read_cb,
	    NULL);
	event_add(mock.ev, NULL);
	snprintf(registrar, sizeof(registrar), "sip:127.0.0.1:%d", mock.port);
}

static void
mock_close(void)
{
	event_free(mock.ev);
	close(mock.fd);
	for (size_t i = 0; i < mock.n; i++) {
		sip_msg_free(mock.req[i].msg);
		free(mock.req[i].rsp);
	}
	memset(&mock, 0, sizeof(mock));
}

/* ---- what the registrar saw --------------------------------------------- */

/* The To user of q, as a C string (static buffer). */
static const char *
rq_user(const struct rq *q)
{
	static char u[64];

	snprintf(u, sizeof(u), "%.*s", SLICE_ARG(q->msg->to.uri.user));
	return u;
}

static size_t
nreq_of(const char *user)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++)
		if (strcmp(rq_user(&mock.req[i]), user) == 0)
			k++;
	return k;
}

/* The k-th REGISTER (from 0) of user. */
static struct rq *
req_of(const char *user, size_t k)
{
	size_t left = k;

	for (size_t i = 0; i < mock.n; i++)
		if (strcmp(rq_user(&mock.req[i]), user) == 0 && left-- == 0)
			return &mock.req[i];
	ck_abort_msg("no REGISTER #%zu from %s", k, user);
	return NULL;
}

/* The first value of header id in q, as a C string (static), or NULL. */
static const char *
hval(const struct rq *q, enum sip_hdr_id id)
{
	static char v[1024];
	const struct sip_hdr *h = sip_msg_hdr(q->msg, id, 0);

	if (h == NULL)
		return NULL;
	snprintf(v, sizeof(v), "%.*s", SLICE_ARG(h->value));
	return v;
}

static const char *
call_id(const struct rq *q)
{
	static char v[128];

	snprintf(v, sizeof(v), "%.*s", SLICE_ARG(q->msg->call_id));
	return v;
}

/*
 * The Contact q asks to bind: its only one, or the one beside a
 * Contact with expires=0 (the binding a NAT change left behind).
 */
static const struct sip_contact *
bound_contact(const struct rq *q)
{
	unsigned n = q->msg->ncontact;

	ck_assert(n == 1 || n == 2);
	if (n == 2) {
		unsigned gone = q->msg->contact[0].expires == 0 ? 0 : 1;

		ck_assert_int_eq(q->msg->contact[gone].expires, 0);
		return &q->msg->contact[1 - gone];
	}
	return &q->msg->contact[0];
}

/* The URI of bound_contact(q) (static buffer). */
static const char *
contact_uri(const struct rq *q)
{
	static char v[256];

	snprintf(v, sizeof(v), "%.*s",
	    SLICE_ARG(bound_contact(q)->addr.uri_str));
	return v;
}

/*
 * One REGISTER: its Expires header and its Contact's expires= both say
 * what it asks (RFC 3261 §10.2.1.1), the Contact is ours.
 */
static void
check_asks(const struct rq *q, unsigned expires)
{
	char want[128];

	ck_assert_int_eq(q->msg->expires, (int64_t)expires);
	ck_assert_uint_eq(q->msg->ncontact, 1);
	ck_assert_int_eq(q->msg->contact[0].expires, (int64_t)expires);
	snprintf(want, sizeof(want), "sip:%s@127.0.0.1:%d", rq_user(q),
	    ua_port);
	if (mock.nat_ip == NULL)
		ck_assert_str_eq(contact_uri(q), want);
}

/*
 * Every REGISTER of user since the k-th shares one Call-ID, and their
 * CSeq numbers go up by one (RFC 3261 §10.2.4).
 */
static void
check_call_seq(const char *user, size_t k)
{
	const struct rq *first = req_of(user, k);
	char cid[128];

	snprintf(cid, sizeof(cid), "%s", call_id(first));
	ck_assert_uint_gt(strlen(cid), 0);
	for (size_t i = k + 1; i < nreq_of(user); i++) {
		const struct rq *q = req_of(user, i);

		ck_assert_str_eq(call_id(q), cid);
		ck_assert_uint_eq(q->msg->cseq.num,
		    first->msg->cseq.num + (i - k));
	}
}

/* ---- digest, computed here from RFC 2617 §3.2.2 ----------------------- */

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
	ck_assert_uint_eq(mdlen, 16);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

enum { AUTH_NONE, AUTH_OK, AUTH_BAD, AUTH_OLD_NONCE };

/*
 * Checks q's Authorization against the protection space: every field
 * the client must send is asserted, the response is recomputed with the
 * registrar's password.
 */
static int
digest_check_hdr(struct rq *q, enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_msg_hdr(q->msg, id, 0);
	struct sip_auth_credentials *c = &q->cred;
	char ha1[33], ha2[33], want[33];
	const char *why = NULL;

	if (h == NULL)
		return AUTH_NONE;
	ck_assert_msg(sip_auth_credentials_parse(c, h->value, &why) == 0,
	    "Authorization: %s", why);
	q->has_cred = true;
	ck_assert_int_eq(c->scheme, SIP_AUTH_SCHEME_DIGEST);
	ck_assert(slice_eq_cstr(c->username, dig.user));
	ck_assert(slice_eq_cstr(c->realm, dig.realm));
	ck_assert(slice_eq_cstr(c->uri, registrar));
	ck_assert(slice_eq_cstr(c->opaque, dig.opaque));
	ck_assert_int_eq(c->algorithm, SIP_AUTH_ALG_MD5);
	ck_assert_int_eq(c->qop, SIP_AUTH_QOP_AUTH);
	ck_assert_uint_ge(c->cnonce.n, 8);
	ck_assert_uint_eq(c->nc_text.n, 8);
	ck_assert_uint_ge(c->nc, 1);
	if (!slice_eq_cstr(c->nonce, dig.nonce))
		return AUTH_OLD_NONCE;
	md5_hex(ha1, "%s:%s:%s", dig.user, dig.realm, dig.password);
	md5_hex(ha2, "REGISTER:%s", registrar);
	md5_hex(want, "%s:%s:%.*s:%.*s:auth:%s", ha1, dig.nonce,
	    SLICE_ARG(c->nc_text), SLICE_ARG(c->cnonce), ha2);
	return slice_caseeq_cstr(c->response, want) ? AUTH_OK : AUTH_BAD;
}

static int
digest_check(struct rq *q)
{
	return digest_check_hdr(q, SIP_HDR_AUTHORIZATION);
}

static void
mock_challenge_as(struct rq *q, bool stale, bool proxy)
{
	char h[512];

	snprintf(h, sizeof(h), "%s: Digest realm=\"%s\", nonce=\"%s\", "
	    "opaque=\"%s\", algorithm=MD5, qop=\"auth\"%s\r\n",
	    proxy ? "Proxy-Authenticate" : "WWW-Authenticate", dig.realm,
	    dig.nonce, dig.opaque, stale ? ", stale=true" : "");
	if (proxy)
		mock_answer(q, 407, "Proxy Authentication Required", h);
	else
		mock_answer(q, 401, "Unauthorized", h);
}

static void
mock_challenge(struct rq *q, bool stale)
{
	mock_challenge_as(q, stale, false);
}

/* A registrar that wants digest credentials for every REGISTER. */
static void
script_digest(struct rq *q, size_t idx)
{
	(void)idx;
	switch (digest_check(q)) {
	case AUTH_NONE:
	case AUTH_BAD:
		mock_challenge(q, false);
		break;
	case AUTH_OLD_NONCE:
		mock_challenge(q, true);
		break;
	case AUTH_OK:
		if (dig.stale_at_nc != 0 && q->cred.nc == dig.stale_at_nc) {
			/* The nonce ran out: a fresh one, stale=true, once. */
			snprintf(dig.nonce, sizeof(dig.nonce), "nonce-rotated");
			dig.stale_at_nc = 0;
			mock_challenge(q, true);
			break;
		}
		mock_ok(q, dig.grant);
		break;
	}
}

/* A registrar that grants what is asked. */
static void
script_ok(struct rq *q, size_t idx)
{
	(void)idx;
	mock_ok(q, -1);
}

/* ---- the loop ----------------------------------------------------------- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static uint64_t
now_us(void)
{
	return time_mono_us();
}

/* Runs the loop for ms. */
static void
run_for(unsigned ms)
{
	uint64_t until = now_us() + (uint64_t)ms * 1000;

	while (now_us() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Runs the loop until cond holds, at most ms; fails the case if not. */
#define WAIT_FOR(cond, ms) do {						\
	uint64_t until_ = now_us() + (uint64_t)(ms) * 1000;		\
									\
	while (!(cond) && now_us() < until_)				\
		event_base_loop(base, EVLOOP_ONCE);			\
	ck_assert_msg((cond), "not within %u ms: %s", (unsigned)(ms),	\
	    #cond);							\
} while (0)

/* ---- events ------------------------------------------------------------- */

#define EVLOG_MAX	128

/* account.state events: "ACCOUNT STATE|CAUSE" and when. */
static struct {
	char		 text[EVLOG_MAX][256];
	uint64_t	 at_us[EVLOG_MAX];
	size_t		 n;
} evlog;

static const char *
kv_get(const struct events_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->nkv; i++)
		if (strcmp(ev->kv[i].key, key) == 0)
			return ev->kv[i].value;
	return "";
}

static void
on_event(const struct events_event *ev, void *arg)
{
	(void)arg;
	if (!ev->live || strcmp(ev->type, "account.state") != 0 ||
	    evlog.n == EVLOG_MAX)
		return;
	snprintf(evlog.text[evlog.n], sizeof(evlog.text[0]), "%s %s|%s",
	    ev->account, kv_get(ev, "state"), kv_get(ev, "cause"));
	evlog.at_us[evlog.n++] = now_us();
}

/* Index of the first event from `from` on that starts with prefix, or -1. */
static int
ev_find(size_t from, const char *prefix)
{
	for (size_t i = from; i < evlog.n; i++)
		if (strncmp(evlog.text[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

/* ---- accounts and the agent --------------------------------------------- */

static struct account_cfg *
mk_cfg(const char *name, const char *password, int expires)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));
	char aor[128];

	snprintf(aor, sizeof(aor), "sip:%s@test.example", name);
	c->name = xstrdup(name);
	c->aor = xstrdup(aor);
	c->auth_user = xstrdup(name);
	c->password = password != NULL ? xstrdup(password) : NULL;
	c->registrar = xstrdup(registrar);
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->register_on = true;
	c->expires = expires;
	c->retry_base = 1;
	c->retry_max = 4;
	c->retry_fatal = 30;
	c->incoming = ACCOUNT_INCOMING_RING;
	return c;
}

static void
on_change(void *arg)
{
	(void)arg;
	changes++;
}

/* Applies cfgs[0..n) at start-up and starts the agent on them. */
static void
start_agent(struct account_cfg **cfgs, size_t n)
{
	struct account_cfg **v = xcalloc(n, sizeof(*v));
	struct reg_conf conf = { .spread_ms = 0 };
	struct account_diff diff;

	memcpy(v, cfgs, n * sizeof(*v));
	account_set_apply(&set, v, n, true, &diff);
	ck_assert_uint_eq(diff.added, n);
	ag = reg_agent_new(ua, &set, &conf, on_change, NULL);
	reg_agent_start(ag);
}

/* One account with the given password and expires. */
static struct account *
start_one(const char *name, const char *password, int expires)
{
	struct account_cfg *c = mk_cfg(name, password, expires);

	start_agent(&c, 1);
	return account_set_find(&set, name);
}

static struct reg_info
info_of(const struct account *a)
{
	struct reg_info i;

	reg_info_get(ag, a, &i);
	return i;
}

static struct events_sub *sub;

static void
setup(void)
{
	struct sip_tp_listen_conf l[2] = { { .transport = SIP_TP_UDP },
	    { .transport = SIP_TP_TCP } };
	struct ua_conf c = { 0 };
	const char *servers[1] = { dns_server };
	struct timeval tv = { 0, 20 * 1000 };
	char addr[32], err[256];

	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	ua_port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ua_port);
	/* The registrar is an IP literal: no DNS server is ever asked. */
	snprintf(dns_server, sizeof(dns_server), "127.0.0.1:1");
	l[0].address = l[1].address = addr;
	c.listen = l;
	c.nlisten = 2;
	c.t1_ms = 50;
	c.t2_ms = 400;
	c.t4_ms = 500;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-reg/1";
	c.default_from = "sip:test@127.0.0.1";
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	mock_open();
	mock.script = script_ok;
	memset(&dig, 0, sizeof(dig));
	dig.realm = "test.example";
	dig.user = "alice";
	dig.password = "secret";
	dig.opaque = "op-42";
	snprintf(dig.nonce, sizeof(dig.nonce), "nonce-one");
	dig.grant = 120;
	memset(&evlog, 0, sizeof(evlog));
	sub = events_subscribe(EVENTS_KIND_ACCOUNT, NULL, on_event, NULL);
	account_set_init(&set);
	ag = NULL;
	changes = 0;
}

static void
teardown(void)
{
	reg_agent_free(ag);
	ag = NULL;
	ua_free(ua);
	ua = NULL;
	events_shutdown();
	account_set_clear(&set);
	mock_close();
	event_free(tick);
	event_base_free(base);
}

/* ---- 1. arithmetic ------------------------------------------------------ */

START_TEST(test_refresh_after)
{
	static const unsigned granted[] = { 3600, 600, 30, 10, 2 };
	static const double rnds[] = { 0.0, 0.5, 0.999 };

	for (size_t i = 0; i < sizeof(granted) / sizeof(granted[0]); i++) {
		uint64_t g = (uint64_t)granted[i] * 1000;
		/* Later than granted - 5 s only where that leaves half. */
		uint64_t cap = g > 10000 ? g - 5000 : g / 2;
		unsigned prev = 0;

		for (size_t k = 0; k < sizeof(rnds) / sizeof(rnds[0]); k++) {
			unsigned at = reg_refresh_after_ms(granted[i], rnds[k]);
			uint64_t lo = g * 8 / 10 < cap ? g * 8 / 10 : cap;

			ck_assert_msg(at >= g / 2, "granted %u rnd %.3f: %u ms "
			    "is before half", granted[i], rnds[k], at);
			ck_assert_msg(at <= g * 9 / 10, "granted %u rnd %.3f: "
			    "%u ms is after 90 %%", granted[i], rnds[k], at);
			ck_assert_msg(at >= lo, "granted %u rnd %.3f: %u ms is "
			    "before 80 %% with no cap forcing it", granted[i],
			    rnds[k], at);
			if (granted[i] > 10)
				ck_assert_msg(at <= g - 5000, "granted %u rnd "
				    "%.3f: %u ms leaves under 5 s", granted[i],
				    rnds[k], at);
			ck_assert_uint_ge(at, prev);
			prev = at;
		}
	}
	/* Where nothing caps it, rnd spans the whole 80-90 %. */
	ck_assert_uint_eq(reg_refresh_after_ms(3600, 0.0), 2880000);
	ck_assert_uint_ge(reg_refresh_after_ms(3600, 0.999), 3230000);
	ck_assert_uint_eq(reg_refresh_after_ms(600, 0.0), 480000);
	ck_assert_uint_eq(reg_refresh_after_ms(30, 0.999), 25000);
	ck_assert_uint_eq(reg_refresh_after_ms(2, 0.5), 1000);
}
END_TEST

START_TEST(test_backoff)
{
	uint64_t prev_lo = 0, prev_hi = 0;
	bool capped = false;

	for (unsigned f = 1; f <= 8; f++) {
		uint64_t full = 30000, lo, hi;

		for (unsigned i = 0; i < f && full < 1800000; i++)
			full *= 2;
		if (full > 1800000)
			full = 1800000;
		lo = reg_backoff_ms(30, 1800, f, 0.0);
		hi = reg_backoff_ms(30, 1800, f, 0.999);
		ck_assert_msg(lo >= full / 2 && lo <= full, "f %u: %llu of "
		    "%llu", f, (unsigned long long)lo,
		    (unsigned long long)full);
		ck_assert_msg(hi >= full / 2 && hi <= full, "f %u: %llu of "
		    "%llu", f, (unsigned long long)hi,
		    (unsigned long long)full);
		ck_assert_uint_ge(hi, full * 99 / 100);
		ck_assert_uint_eq(lo, full / 2);
		for (int k = 0; k < 100; k++) {
			uint64_t w = reg_backoff_ms(30, 1800, f,
			    (double)k / 100);

			ck_assert_uint_ge(w, full / 2);
			ck_assert_uint_le(w, full);
		}
		/* Grows until the cap, then stays. */
		if (capped) {
			ck_assert_uint_eq(lo, prev_lo);
			ck_assert_uint_eq(hi, prev_hi);
		} else if (f > 1) {
			ck_assert_uint_gt(lo, prev_lo);
		}
		capped = full == 1800000;
		prev_lo = lo;
		prev_hi = hi;
	}
	ck_assert_uint_eq(reg_backoff_ms(30, 1800, 1, 0.0), 30000);
	ck_assert_uint_eq(reg_backoff_ms(30, 1800, 5, 0.0), 480000);
	ck_assert_uint_eq(reg_backoff_ms(30, 1800, 6, 0.0), 900000);
	/* A huge count neither overflows nor passes the cap. */
	ck_assert_uint_eq(reg_backoff_ms(30, 1800, 4000000000u, 0.0),
	    900000);
	/* The test accounts' own: base 1, max 4. */
	ck_assert_uint_eq(reg_backoff_ms(1, 4, 1, 0.0), 1000);
	ck_assert_uint_eq(reg_backoff_ms(1, 4, 9, 0.0), 2000);
}
END_TEST

START_TEST(test_spread)
{
	unsigned prev = 0;

	ck_assert_uint_eq(reg_spread_ms(0, 0, 1000), 0);
	ck_assert_uint_eq(reg_spread_ms(0, 1, 1000), 0);
	ck_assert_uint_eq(reg_spread_ms(0, 10, 0), 0);
	ck_assert_uint_eq(reg_spread_ms(9, 10, 0), 0);
	for (size_t i = 0; i < 7; i++) {
		unsigned at = reg_spread_ms(i, 7, 1000);

		ck_assert_uint_lt(at, 1000);
		if (i > 0) {
			/* Even: steps of 1000/7 give or take a rounding. */
			ck_assert_uint_ge(at - prev, 142);
			ck_assert_uint_le(at - prev, 143);
		}
		prev = at;
	}
	ck_assert_uint_eq(reg_spread_ms(0, 4, 1000), 0);
	ck_assert_uint_eq(reg_spread_ms(3, 4, 1000), 750);
	/* 100,000 accounts over 1 s: no overflow, the last before 1 s. */
	ck_assert_uint_lt(reg_spread_ms(99999, 100000, 1000), 1000);
	ck_assert_uint_eq(reg_spread_ms(50000, 100000, 1000), 500);
}
END_TEST

/* ---- 2-5. digest -------------------------------------------------------- */

/* Starts alice against the digest registrar; registered after n. */
static struct account *
digest_registered_n(int expires, size_t n)
{
	struct account *a;

	mock.script = script_digest;
	a = start_one("alice", "secret", expires);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	ck_assert_uint_eq(nreq_of("alice"), n);
	return a;
}

/* 401, credentials, 200. */
static struct account *
digest_registered(int expires)
{
	return digest_registered_n(expires, 2);
}

START_TEST(test_digest)
{
	struct account *a = digest_registered(3600);
	const struct rq *q0 = req_of("alice", 0), *q1 = req_of("alice", 1);
	struct reg_info i = info_of(a);
	char want[128];

	/* The first REGISTER: no credentials, the request line and To. */
	ck_assert(!q0->has_cred);
	snprintf(want, sizeof(want), "%s", registrar);
	ck_assert(slice_eq_cstr(q0->msg->ruri_str, want));
	ck_assert(slice_eq_cstr(q0->msg->to.uri_str, "sip:alice@test.example"));
	ck_assert(slice_eq_cstr(q0->msg->from.uri_str,
	    "sip:alice@test.example"));
	ck_assert(slice_present(q0->msg->from.tag));
	ck_assert_int_eq(q0->msg->max_forwards, 70);
	ck_assert_str_eq(hval(q0, SIP_HDR_USER_AGENT), "test-reg/1");
	check_asks(q0, 3600);
	/* The answer to the 401: every field checked in digest_check. */
	ck_assert(q1->has_cred);
	ck_assert(slice_eq_cstr(q1->cred.nonce, "nonce-one"));
	ck_assert_uint_eq(q1->cred.nc, 1);
	ck_assert(slice_eq_cstr(q1->cred.nc_text, "00000001"));
	check_asks(q1, 3600);
	check_call_seq("alice", 0);
	ck_assert(q1->msg->cseq.method == SIP_METHOD_REGISTER);

	ck_assert_int_eq(i.state, REG_STATE_REGISTERED);
	ck_assert_uint_eq(i.granted, 120);
	ck_assert_uint_eq(i.asked, 3600);
	ck_assert_uint_eq(i.last_status, 200);
	ck_assert_str_eq(i.last_reason, "OK");
	ck_assert_uint_eq(i.failures, 0);
	ck_assert_int_ge(i.expires_in, 119);
	ck_assert_int_le(i.expires_in, 120);
	/* 80-90 % of 120 s, rounded up. */
	ck_assert_int_ge(i.refresh_in, 96);
	ck_assert_int_le(i.refresh_in, 108);
	ck_assert_int_eq(i.next_try_in, -1);
	ck_assert_str_eq(i.auth_realm, "test.example");
	ck_assert_str_eq(i.auth_alg, "MD5");
	ck_assert_str_eq(i.call_id, call_id(q1));
	ck_assert_uint_eq(i.cseq, q1->msg->cseq.num);
	snprintf(want, sizeof(want), "UDP 127.0.0.1:%d", mock.port);
	ck_assert_str_eq(i.target, want);
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(i.contact, want);
	ck_assert_str_eq(i.public_addr, "");
	/* Newest first: the 200, then the challenged one. */
	ck_assert_uint_ge(i.nattempts, 2);
	ck_assert_uint_eq(i.attempts[0].status, 200);
	ck_assert_uint_eq(i.attempts[0].expires, 3600);
	snprintf(want, sizeof(want), "UDP 127.0.0.1:%d", mock.port);
	ck_assert_str_eq(i.attempts[0].target, want);
	ck_assert_uint_eq(i.attempts[1].status, 401);
	/* Events: registering, then registered with the 200's words. */
	ck_assert_int_ge(ev_find(0, "alice registering|"), 0);
	ck_assert_int_gt(ev_find(0, "alice registered|200 OK"),
	    ev_find(0, "alice registering|"));
	ck_assert_uint_ge(changes, 2);
}
END_TEST

START_TEST(test_digest_refresh_nc)
{
	struct account *a;
	const struct rq *q1, *q2;
	double gap;

	/* The registrar grants 2 s of the 60 asked: refresh at half. */
	dig.grant = 2;
	a = digest_registered(60);
	WAIT_FOR(nreq_of("alice") >= 3, 3000);
	q1 = req_of("alice", 1);
	q2 = req_of("alice", 2);
	gap = (double)(q2->at_us - q1->at_us) / 1e6;
	ck_assert_msg(gap >= 0.9 && gap <= 1.6, "refresh %.3f s after the "
	    "200 for 2 s", gap);
	/* The same nonce, counted on; a new cnonce. */
	ck_assert(q2->has_cred);
	ck_assert(slice_eq_cstr(q2->cred.nonce, "nonce-one"));
	ck_assert_uint_eq(q2->cred.nc, 2);
	ck_assert(slice_eq_cstr(q2->cred.nc_text, "00000002"));
	ck_assert(!slice_eq(q2->cred.cnonce, q1->cred.cnonce));
	/* The refresh asks for the configured time again. */
	check_asks(q2, 60);
	check_call_seq("alice", 0);
	run_for(100);
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);
	/* Answered with credentials: no challenge round on a refresh. */
	ck_assert_uint_eq(nreq_of("alice"), 3);
	ck_assert_uint_eq(info_of(a).granted, 2);
	/* No state change for a refresh. */
	ck_assert_int_eq(ev_find(ev_find(0, "alice registered|") + 1,
	    "alice "), -1);
}
END_TEST

START_TEST(test_digest_stale)
{
	struct account *a;
	const struct rq *q2, *q3;
	size_t ev0;

	dig.grant = 2;
	dig.stale_at_nc = 2;
	a = digest_registered(60);
	ev0 = evlog.n;
	WAIT_FOR(nreq_of("alice") >= 4, 3000);
	run_for(100);
	q2 = req_of("alice", 2);
	q3 = req_of("alice", 3);
	ck_assert_uint_eq(q2->cred.nc, 2);
	/* Answered at once, with the new nonce counted from 1. */
	ck_assert_msg(q3->at_us - q2->at_us < 300000, "%.3f s after the "
	    "stale challenge", (double)(q3->at_us - q2->at_us) / 1e6);
	ck_assert(slice_eq_cstr(q3->cred.nonce, "nonce-rotated"));
	ck_assert_uint_eq(q3->cred.nc, 1);
	check_asks(q3, 60);
	check_call_seq("alice", 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);
	ck_assert_uint_eq(info_of(a).failures, 0);
	ck_assert_uint_eq(info_of(a).last_status, 200);
	/* Registered all along: no state change at all. */
	ck_assert_uint_eq(evlog.n, ev0);
}
END_TEST

/*
 * stale=true right after fresh credentials, in one attempt: the one
 * place where the flag decides between answering and giving up.
 */
START_TEST(test_digest_stale_in_attempt)
{
	struct account *a;
	const struct rq *q2;

	mock.script = script_digest;
	dig.stale_at_nc = 1;
	a = start_one("alice", "secret", 3600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	run_for(100);
	ck_assert_uint_eq(nreq_of("alice"), 3);
	ck_assert(slice_eq_cstr(req_of("alice", 1)->cred.nonce, "nonce-one"));
	q2 = req_of("alice", 2);
	ck_assert(slice_eq_cstr(q2->cred.nonce, "nonce-rotated"));
	ck_assert_uint_eq(q2->cred.nc, 1);
	check_call_seq("alice", 0);
	ck_assert_uint_eq(info_of(a).failures, 0);
	ck_assert_int_eq(ev_find(0, "alice failed"), -1);
}
END_TEST

/* ha1 = H(user:realm:password) in the config instead of a password. */
START_TEST(test_digest_ha1)
{
	struct account_cfg *c = mk_cfg("alice", NULL, 600);
	struct account *a;
	char ha1[33];

	md5_hex(ha1, "%s:%s:%s", dig.user, dig.realm, dig.password);
	c->ha1 = xstrdup(ha1);
	mock.script = script_digest;
	start_agent(&c, 1);
	a = account_set_find(&set, "alice");
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	ck_assert(req_of("alice", 1)->has_cred);
}
END_TEST

/*
 * Challenged with no password or ha1 configured: failed, once, and the
 * reason says why, in full (last_reason once cut off the part that
 * tells the operator what to fix).
 */
START_TEST(test_digest_no_password)
{
	struct account *a;
	struct reg_info i;
	int e;

	mock.script = script_digest;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_FAILED, 3000);
	i = info_of(a);
	ck_assert_uint_eq(i.last_status, 401);
	ck_assert_int_ge(i.next_try_in, 29);
	e = ev_find(0, "alice failed|");
	ck_assert_int_ge(e, 0);
	ck_assert_msg(strstr(evlog.text[e], "no password") != NULL, "%s",
	    evlog.text[e]);
	run_for(300);
	ck_assert_uint_eq(nreq_of("alice"), 1);
	ck_assert_msg(strstr(i.last_reason, "no password") != NULL,
	    "last_reason cut short: \"%s\"", i.last_reason);
}
END_TEST

/* An outbound proxy's 407: Proxy-Authorization, nothing else. */
static void
script_proxy(struct rq *q, size_t idx)
{
	(void)idx;
	ck_assert_ptr_null(sip_msg_hdr(q->msg, SIP_HDR_AUTHORIZATION, 0));
	switch (digest_check_hdr(q, SIP_HDR_PROXY_AUTHORIZATION)) {
	case AUTH_OK:
		mock_ok(q, -1);
		break;
	default:
		mock_challenge_as(q, false, true);
		break;
	}
}

START_TEST(test_proxy_auth)
{
	struct account *a;
	struct reg_info i;

	mock.script = script_proxy;
	a = start_one("alice", "secret", 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	ck_assert(req_of("alice", 1)->has_cred);
	ck_assert_uint_eq(req_of("alice", 1)->cred.nc, 1);
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_str_eq(i.auth_realm, "test.example");
	/* The refresh carries them again, counted on. */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") == 3, 2000);
	ck_assert_uint_eq(req_of("alice", 2)->cred.nc, 2);
}
END_TEST

START_TEST(test_digest_refused)
{
	struct account *a;
	struct reg_info i;
	const struct rq *q1;
	int e;

	mock.script = script_digest;
	a = start_one("alice", "not-the-password", 3600);
	WAIT_FOR(a->reg_state == REG_STATE_FAILED, 3000);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	q1 = req_of("alice", 1);
	ck_assert(q1->has_cred);
	ck_assert(slice_eq_cstr(q1->cred.nonce, "nonce-one"));
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_uint_eq(i.last_status, 401);
	ck_assert_msg(strstr(i.last_reason, "credentials refused") != NULL,
	    "%s", i.last_reason);
	ck_assert_uint_eq(i.failures, 1);
	ck_assert_int_ge(i.next_try_in, 29);
	ck_assert_int_le(i.next_try_in, 30);
	ck_assert_int_eq(i.expires_in, -1);
	e = ev_find(0, "alice failed|");
	ck_assert_int_ge(e, 0);
	ck_assert_msg(strstr(evlog.text[e], "credentials refused") != NULL,
	    "%s", evlog.text[e]);
	/* Not again with the same credentials. */
	run_for(1000);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	ck_assert_int_eq(a->reg_state, REG_STATE_FAILED);
}
END_TEST

/* ---- 6-9. answers that are not 200 -------------------------------------- */

static void
script_423(struct rq *q, size_t idx)
{
	if (idx == 0)
		mock_answer(q, 423, "Interval Too Brief",
		    "Min-Expires: 3600\r\n");
	else
		mock_ok(q, -1);
}

START_TEST(test_423)
{
	struct account *a;
	struct reg_info i;

	mock.script = script_423;
	a = start_one("alice", NULL, 60);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	check_asks(req_of("alice", 0), 60);
	check_asks(req_of("alice", 1), 3600);
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_uint_eq(i.asked, 3600);
	ck_assert_uint_eq(i.granted, 3600);
	ck_assert_uint_eq(i.failures, 0);
	ck_assert_uint_eq(i.attempts[0].expires, 3600);
	ck_assert_uint_eq(i.attempts[1].status, 423);
	ck_assert_uint_eq(i.attempts[1].expires, 60);
	/* No retry-wait on the way. */
	ck_assert_int_eq(ev_find(0, "alice retry-wait"), -1);
}
END_TEST

static void
script_503(struct rq *q, size_t idx)
{
	if (idx == 0)
		mock_answer(q, 503, "Service Unavailable",
		    "Retry-After: 2\r\n");
	else
		mock_ok(q, -1);
}

START_TEST(test_503_retry_after)
{
	struct account *a;
	struct reg_info i;
	double gap;

	mock.script = script_503;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_RETRY_WAIT, 3000);
	i = info_of(a);
	ck_assert_uint_eq(i.last_status, 503);
	ck_assert_uint_eq(i.failures, 1);
	ck_assert_int_ge(i.next_try_in, 1);
	ck_assert_int_le(i.next_try_in, 3);
	ck_assert_int_eq(i.refresh_in, -1);
	ck_assert_int_ge(ev_find(0, "alice retry-wait|503"), 0);
	WAIT_FOR(nreq_of("alice") >= 2, 4000);
	gap = (double)(req_of("alice", 1)->at_us -
	    req_of("alice", 0)->at_us) / 1e6;
	ck_assert_msg(gap >= 1.9 && gap <= 2.6, "retried %.3f s after "
	    "Retry-After: 2", gap);
	check_call_seq("alice", 0);
	check_asks(req_of("alice", 1), 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 1000);
	ck_assert_uint_eq(info_of(a).failures, 0);
}
END_TEST

static void
script_silent_once(struct rq *q, size_t idx)
{
	if (idx > 0)
		mock_ok(q, -1);
}

START_TEST(test_timeout)
{
	struct account *a;
	struct reg_info i;
	const struct rq *q0;
	double took, gap;
	unsigned retx;
	int e;

	mock.script = script_silent_once;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_RETRY_WAIT, 5000);
	q0 = req_of("alice", 0);
	e = ev_find(0, "alice retry-wait|");
	ck_assert_int_ge(e, 0);
	/* Timer F: 64 * T1 = 3.2 s. */
	took = (double)(evlog.at_us[e] - q0->at_us) / 1e6;
	ck_assert_msg(took >= 3.1 && took <= 4.0, "gave up after %.3f s",
	    took);
	/* Timer E retransmitted it meanwhile. */
	ck_assert_uint_ge(q0->retx, 5);
	i = info_of(a);
	ck_assert_uint_eq(i.failures, 1);
	ck_assert_uint_eq(i.last_status, 0);
	ck_assert_msg(strstr(i.last_reason, "timeout") != NULL, "%s",
	    i.last_reason);
	ck_assert_uint_eq(i.attempts[0].status, 0);
	ck_assert_int_eq(i.attempts[0].err, ETIMEDOUT);
	/* Backoff: min(4, 1 * 2^1) s, 50-100 % of it. */
	ck_assert_int_ge(i.next_try_in, 1);
	ck_assert_int_le(i.next_try_in, 2);
	retx = q0->retx;
	WAIT_FOR(nreq_of("alice") >= 2, 3000);
	gap = (double)(req_of("alice", 1)->at_us - evlog.at_us[e]) / 1e6;
	ck_assert_msg(gap >= 0.95 && gap <= 2.2, "retried %.3f s after the "
	    "timeout", gap);
	/* A new transaction, the same registration. */
	ck_assert_uint_eq(q0->retx, retx);
	ck_assert(!slice_eq(top_branch(q0->msg),
	    top_branch(req_of("alice", 1)->msg)));
	check_call_seq("alice", 0);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 1000);
	ck_assert_uint_eq(info_of(a).failures, 0);
}
END_TEST

/*
 * Nobody listens at the registrar's TCP port: the refusal is a
 * transport error, known at once, and a retry-wait.  (Over UDP the
 * ICMP error does not reach the unconnected listener socket: that ends
 * with Timer F, as in test_timeout.)
 */
START_TEST(test_tcp_refused)
{
	struct account_cfg *c;
	struct account *a;
	struct reg_info i;
	uint64_t t0;

	snprintf(registrar, sizeof(registrar), "sip:127.0.0.1:%d",
	    free_udp_port());
	c = mk_cfg("alice", NULL, 600);
	c->transport = ACCOUNT_TRANSPORT_TCP;
	t0 = now_us();
	start_agent(&c, 1);
	a = account_set_find(&set, "alice");
	WAIT_FOR(a->reg_state == REG_STATE_RETRY_WAIT, 2000);
	ck_assert_uint_lt(now_us() - t0, 1000000);
	i = info_of(a);
	ck_assert_uint_eq(i.failures, 1);
	ck_assert_uint_eq(i.last_status, 0);
	ck_assert_str_eq(i.last_reason, "transport error: Connection refused");
	ck_assert_uint_eq(i.attempts[0].err, ECONNREFUSED);
	ck_assert_int_ge(i.next_try_in, 1);
	ck_assert_int_le(i.next_try_in, 2);
	ck_assert_int_ge(ev_find(0, "alice retry-wait|transport error: "
	    "Connection refused"), 0);
}
END_TEST

static void
script_403(struct rq *q, size_t idx)
{
	(void)idx;
	mock_answer(q, 403, "Forbidden", NULL);
}

START_TEST(test_403)
{
	struct account *a;
	struct reg_info i;

	mock.script = script_403;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_FAILED, 3000);
	i = info_of(a);
	ck_assert_uint_eq(i.last_status, 403);
	ck_assert_str_eq(i.last_reason, "Forbidden");
	ck_assert_uint_eq(i.failures, 1);
	ck_assert_int_ge(i.next_try_in, 29);
	ck_assert_int_le(i.next_try_in, 30);
	ck_assert_int_ge(ev_find(0, "alice failed|403 Forbidden"), 0);
	run_for(500);
	ck_assert_uint_eq(nreq_of("alice"), 1);
	/* `register NAME` from failed: at once, not in 30 s. */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") == 2, 500);
	check_call_seq("alice", 0);
	WAIT_FOR(info_of(a).failures == 2, 1000);
	ck_assert_int_eq(a->reg_state, REG_STATE_FAILED);
	/* `unregister NAME` from failed: nothing bound, nothing sent, and
	 * the retry is off. */
	ck_assert_int_eq(reg_unregister(ag, a), 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_UNREGISTERED);
	ck_assert_int_eq(info_of(a).next_try_in, -1);
	run_for(300);
	ck_assert_uint_eq(nreq_of("alice"), 2);
}
END_TEST

/* ---- 10-11. what the 200 says ------------------------------------------- */

static void
script_rewrite(struct rq *q, size_t idx)
{
	char h[512];

	if (idx == 0) {
		mock_answer(q, 200, "OK",
		    "Contact: <sip:alice-x@10.9.8.7:5099>;expires=60\r\n");
		return;
	}
	if (idx == 2) {
		mock_answer(q, 200, "OK", "Expires: 45\r\n");
		return;
	}
	/* Ours and another device's: ours gives the expiry. */
	snprintf(h, sizeof(h), "Contact: <sip:desk@192.0.2.9:5060>;"
	    "expires=30, <%s>;expires=90\r\n", contact_uri(q));
	mock_answer(q, 200, "OK", h);
}

START_TEST(test_contact_rewritten)
{
	struct account *a;
	struct reg_info i;
	char want[256];

	mock.script = script_rewrite;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	i = info_of(a);
	ck_assert_uint_eq(i.granted, 60);
	ck_assert_str_eq(i.contacts, "<sip:alice-x@10.9.8.7:5099>;expires=60");
	ck_assert_int_ge(i.refresh_in, 47);
	ck_assert_int_le(i.refresh_in, 55);
	ck_assert_uint_eq(nreq_of("alice"), 1);

	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") >= 2, 2000);
	run_for(100);
	check_asks(req_of("alice", 1), 600);
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_int_eq(i.state, REG_STATE_REGISTERED);
	ck_assert_uint_eq(i.granted, 90);
	snprintf(want, sizeof(want), "<sip:desk@192.0.2.9:5060>;expires=30\n"
	    "<sip:alice@127.0.0.1:%d>;expires=90", ua_port);
	ck_assert_str_eq(i.contacts, want);

	/*
	 * No Contact listed (against RFC 3261 §10.3 step 8): the Expires
	 * header grants, and reg_info lists nothing it was not told.
	 */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") >= 3, 2000);
	run_for(100);
	i = info_of(a);
	ck_assert_int_eq(i.state, REG_STATE_REGISTERED);
	ck_assert_uint_eq(i.granted, 45);
	ck_assert_str_eq(i.contacts, "");
}
END_TEST

START_TEST(test_nat)
{
	struct account *a;
	struct reg_info i;
	const struct rq *q1;

	mock.nat_ip = "198.51.100.7";
	mock.nat_port = 40000;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	run_for(200);
	/* The private Contact, then the public one, and no more. */
	ck_assert_uint_eq(nreq_of("alice"), 2);
	check_asks(req_of("alice", 0), 600);
	ck_assert(strstr(contact_uri(req_of("alice", 0)), "@127.0.0.1:") !=
	    NULL);
	q1 = req_of("alice", 1);
	ck_assert_str_eq(contact_uri(q1), "sip:alice@198.51.100.7:40000");
	ck_assert_int_eq(q1->msg->expires, 600);
	/* The private binding is removed in the same request. */
	ck_assert_uint_eq(q1->msg->ncontact, 2);
	ck_assert_int_eq(bound_contact(q1)->expires, 600);
	{
		const struct sip_contact *gone = bound_contact(q1) ==
		    &q1->msg->contact[0] ? &q1->msg->contact[1] :
		    &q1->msg->contact[0];

		ck_assert(slice_eq_cstr(gone->addr.uri.host, "127.0.0.1"));
		ck_assert_int_eq(gone->expires, 0);
	}
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_str_eq(i.public_addr, "198.51.100.7:40000");
	ck_assert_str_eq(i.contact, "sip:alice@198.51.100.7:40000");
	ck_assert_uint_eq(i.granted, 600);
	/* A refresh keeps the public Contact and finds nothing new. */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") >= 3, 2000);
	run_for(200);
	ck_assert_uint_eq(nreq_of("alice"), 3);
	ck_assert_str_eq(contact_uri(req_of("alice", 2)),
	    "sip:alice@198.51.100.7:40000");
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);
}
END_TEST

/* NAT behind a digest registrar: the public Contact goes with creds. */
START_TEST(test_nat_digest)
{
	struct account *a;
	const struct rq *q2;

	mock.nat_ip = "198.51.100.7";
	mock.nat_port = 40000;
	a = digest_registered_n(3600, 3);
	run_for(200);
	ck_assert_uint_eq(nreq_of("alice"), 3);
	q2 = req_of("alice", 2);
	ck_assert_str_eq(contact_uri(q2), "sip:alice@198.51.100.7:40000");
	ck_assert(q2->has_cred);
	ck_assert(slice_eq_cstr(q2->cred.nonce, "nonce-one"));
	ck_assert_uint_eq(q2->cred.nc, 2);
	check_call_seq("alice", 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);
	ck_assert_str_eq(info_of(a).public_addr, "198.51.100.7:40000");
}
END_TEST

/*
 * The REGISTER that removes the private binding is challenged again
 * (stale nonce): its answer, with new credentials, removes it still.
 * A challenged REGISTER binds and removes nothing (RFC 3261 §10.3).
 */
START_TEST(test_nat_digest_stale)
{
	const struct rq *q2, *q3;

	mock.nat_ip = "198.51.100.7";
	mock.nat_port = 40000;
	dig.stale_at_nc = 2;
	(void)digest_registered_n(3600, 4);
	q2 = req_of("alice", 2);
	q3 = req_of("alice", 3);
	ck_assert_uint_eq(q2->cred.nc, 2);
	ck_assert_uint_eq(q2->msg->ncontact, 2);
	ck_assert(slice_eq_cstr(q3->cred.nonce, "nonce-rotated"));
	ck_assert_str_eq(contact_uri(q3), "sip:alice@198.51.100.7:40000");
	ck_assert_uint_eq(q3->msg->ncontact, 2);
	check_call_seq("alice", 0);
}
END_TEST

/*
 * The NAT goes away (the registrar sees our own address again): the
 * Contact goes back to the local address, and public_addr must say
 * "" ("not behind one", reg.h), not our own address as if it were a
 * NAT's.
 */
START_TEST(test_nat_gone)
{
	struct account *a;
	struct reg_info i;
	char local[64];

	mock.nat_ip = "198.51.100.7";
	mock.nat_port = 40000;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	run_for(100);
	ck_assert_uint_eq(nreq_of("alice"), 2);
	ck_assert_str_eq(info_of(a).public_addr, "198.51.100.7:40000");

	mock.nat_ip = NULL;
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") >= 4, 2000);
	run_for(200);
	ck_assert_uint_eq(nreq_of("alice"), 4);
	snprintf(local, sizeof(local), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(contact_uri(req_of("alice", 3)), local);
	check_call_seq("alice", 0);
	i = info_of(a);
	ck_assert_int_eq(i.state, REG_STATE_REGISTERED);
	ck_assert_str_eq(i.contact, local);
	ck_assert_msg(strcmp(i.public_addr, "") == 0, "public_addr is "
	    "\"%s\" with no NAT in the way (reg.h: \"\" if not behind one)",
	    i.public_addr);
}
END_TEST

/* No NAT: received/rport naming our own address change nothing. */
START_TEST(test_no_nat)
{
	struct account *a = start_one("alice", NULL, 600);

	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	run_for(200);
	ck_assert_uint_eq(nreq_of("alice"), 1);
	ck_assert_str_eq(info_of(a).public_addr, "");
}
END_TEST

/* ---- 12. stop and the control calls ------------------------------------- */

static int stop_done_calls;

static void
on_stop_done(void *arg)
{
	ck_assert_ptr_eq(arg, &stop_done_calls);
	stop_done_calls++;
}

START_TEST(test_control_and_stop)
{
	struct account_cfg *cfgs[2];
	struct account *a, *b;
	const struct rq *q;
	size_t n;

	cfgs[0] = mk_cfg("alice", NULL, 600);
	cfgs[1] = mk_cfg("bob", NULL, 600);
	cfgs[1]->register_on = false;
	start_agent(cfgs, 2);
	a = account_set_find(&set, "alice");
	b = account_set_find(&set, "bob");
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	ck_assert_int_eq(b->reg_state, REG_STATE_DISABLED);
	{
		size_t counts[REG_STATE_UNREGISTERING + 1] = { 0 };

		reg_count_states(ag, counts);
		ck_assert_uint_eq(counts[REG_STATE_REGISTERED], 1);
		ck_assert_uint_eq(counts[REG_STATE_DISABLED], 1);
		ck_assert_uint_eq(counts[REG_STATE_UNREGISTERED], 0);
	}

	/* register = false: every call refused, nothing sent. */
	ck_assert_int_eq(reg_register_now(ag, b), EPERM);
	ck_assert_int_eq(reg_unregister(ag, b), EPERM);
	ck_assert_int_eq(reg_disable(ag, b), EPERM);
	ck_assert_int_eq(reg_enable(ag, b), EPERM);

	/* register: a refresh now. */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") == 2, 2000);
	check_asks(req_of("alice", 1), 600);
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);

	/* unregister: Expires: 0, then it stays unregistered. */
	ck_assert_int_eq(reg_unregister(ag, a), 0);
	WAIT_FOR(a->reg_state == REG_STATE_UNREGISTERED, 2000);
	ck_assert_uint_eq(nreq_of("alice"), 3);
	check_asks(req_of("alice", 2), 0);
	ck_assert_int_ge(ev_find(0, "alice unregistering|"), 0);
	ck_assert_int_eq(reg_unregister(ag, a), EALREADY);
	ck_assert_int_eq(info_of(a).expires_in, -1);
	ck_assert_int_eq(info_of(a).refresh_in, -1);
	run_for(300);
	ck_assert_uint_eq(nreq_of("alice"), 3);

	/* disable: no binding left, so nothing to send. */
	ck_assert_int_eq(reg_disable(ag, a), 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_DISABLED);
	ck_assert_int_eq(reg_disable(ag, a), EALREADY);
	run_for(300);
	ck_assert_uint_eq(nreq_of("alice"), 3);

	/* enable: registered again, in the same registration. */
	ck_assert_int_eq(reg_enable(ag, a), 0);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 2000);
	ck_assert_int_eq(reg_enable(ag, a), EALREADY);
	ck_assert_uint_eq(nreq_of("alice"), 4);
	check_asks(req_of("alice", 3), 600);
	check_call_seq("alice", 0);

	/* stop: the binding removed, then done() once. */
	n = nreq_of("alice");
	reg_agent_stop(ag, on_stop_done, &stop_done_calls);
	WAIT_FOR(stop_done_calls == 1, 3000);
	ck_assert_uint_eq(nreq_of("alice"), n + 1);
	q = req_of("alice", n);
	check_asks(q, 0);
	check_call_seq("alice", 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_UNREGISTERED);
	ck_assert_int_ge(ev_find(0, "alice unregistered|stopping"), 0);
	ck_assert_int_eq(reg_register_now(ag, a), ESHUTDOWN);
	ck_assert_int_eq(reg_unregister(ag, a), ESHUTDOWN);
	run_for(300);
	ck_assert_int_eq(stop_done_calls, 1);
	ck_assert_uint_eq(nreq_of("alice"), n + 1);
	ck_assert_uint_eq(nreq_of("bob"), 0);
}
END_TEST

/* The unregister at stop answers the registrar's challenge too. */
START_TEST(test_stop_digest)
{
	struct account *a = digest_registered(3600);
	const struct rq *q;

	reg_agent_stop(ag, on_stop_done, &stop_done_calls);
	WAIT_FOR(stop_done_calls == 1, 3000);
	ck_assert_uint_eq(nreq_of("alice"), 3);
	q = req_of("alice", 2);
	check_asks(q, 0);
	ck_assert(q->has_cred);
	ck_assert_uint_eq(q->cred.nc, 2);
	check_call_seq("alice", 0);
	ck_assert_int_eq(a->reg_state, REG_STATE_UNREGISTERED);
}
END_TEST

/* A stop with nothing bound still calls done(), and sends nothing. */
START_TEST(test_stop_nothing_bound)
{
	struct account *a;

	mock.script = script_403;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_FAILED, 3000);
	reg_agent_stop(ag, on_stop_done, &stop_done_calls);
	WAIT_FOR(stop_done_calls == 1, 1000);
	run_for(200);
	ck_assert_uint_eq(nreq_of("alice"), 1);
	ck_assert_int_eq(stop_done_calls, 1);
}
END_TEST

/*
 * register_spread paces what is not a refresh: 30 accounts over 1 s
 * make 30 attempts a second, at most 3 at once (100 ms' worth).
 * Refreshes of live bindings go first and are not paced.
 */
START_TEST(test_pace)
{
	struct account_cfg *cfgs[30], **v;
	struct reg_conf conf = { .spread_ms = 1000 };
	struct account_diff diff;
	uint64_t first, last;
	size_t from;

	for (int k = 0; k < 30; k++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", k);
		cfgs[k] = mk_cfg(name, NULL, 600);
	}
	v = xcalloc(30, sizeof(*v));
	memcpy(v, cfgs, sizeof(cfgs));
	account_set_apply(&set, v, 30, true, &diff);
	ag = reg_agent_new(ua, &set, &conf, on_change, NULL);
	reg_agent_start(ag);
	WAIT_FOR(account_set_registered(&set) == 30, 3000);

	/* 30 refreshes at once: unpaced, all out within 300 ms. */
	from = mock.n;
	for (size_t k = 0; k < set.n; k++)
		ck_assert_int_eq(reg_register_now(ag, set.items[k]), 0);
	WAIT_FOR(mock.n >= from + 30, 2000);
	first = mock.req[from].at_us;
	last = mock.req[from + 29].at_us;
	ck_assert_msg(last - first <= 300000, "refreshes took %llu ms",
	    (unsigned long long)((last - first) / 1000));

	/* Unbound, then all at once again: paced at 30/s, 3 at a time. */
	for (size_t k = 0; k < set.n; k++)
		ck_assert_int_eq(reg_unregister(ag, set.items[k]), 0);
	WAIT_FOR(account_set_registered(&set) == 0, 3000);
	run_for(200);
	from = mock.n;
	for (size_t k = 0; k < set.n; k++)
		ck_assert_int_eq(reg_register_now(ag, set.items[k]), 0);
	WAIT_FOR(mock.n >= from + 30, 3000);
	first = mock.req[from].at_us;
	last = mock.req[from + 29].at_us;
	/* 3 from the bucket, then 27 more at 33 ms each: about 0.9 s. */
	ck_assert_msg(last - first >= 750000 && last - first <= 1500000,
	    "30 paced attempts took %llu ms",
	    (unsigned long long)((last - first) / 1000));
	WAIT_FOR(account_set_registered(&set) == 30, 3000);
}
END_TEST

static void
script_silent_twice(struct rq *q, size_t idx)
{
	if (idx > 1)
		mock_ok(q, -1);
}

/*
 * A registrar silent long enough for two accounts to time out (and
 * back off 30-60 s) answers one of them again: the other does not wait
 * out its backoff.
 */
START_TEST(test_target_back)
{
	struct account_cfg *cfgs[2];
	struct account *a, *b;
	uint64_t t0;

	mock.script = script_silent_twice;
	cfgs[0] = mk_cfg("alice", NULL, 600);
	cfgs[1] = mk_cfg("bob", NULL, 600);
	for (int k = 0; k < 2; k++) {
		cfgs[k]->retry_base = 30;
		cfgs[k]->retry_max = 60;
	}
	start_agent(cfgs, 2);
	a = account_set_find(&set, "alice");
	b = account_set_find(&set, "bob");
	WAIT_FOR(a->reg_state == REG_STATE_RETRY_WAIT &&
	    b->reg_state == REG_STATE_RETRY_WAIT, 6000);
	ck_assert_int_ge(info_of(b).next_try_in, 29);
	/* alice now, and the registrar answers: bob follows at once. */
	t0 = now_us();
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED &&
	    b->reg_state == REG_STATE_REGISTERED, 2000);
	ck_assert_msg(now_us() - t0 < 1000000, "bob took %llu ms",
	    (unsigned long long)((now_us() - t0) / 1000));
	ck_assert_uint_eq(nreq_of("bob"), 2);
}
END_TEST

/* ---- start-up spread ---------------------------------------------------- */

START_TEST(test_spread_start)
{
	struct account_cfg *cfgs[4], **next;
	struct reg_conf conf = { .spread_ms = 400 };
	struct account_diff diff;
	uint64_t t0;

	for (int k = 0; k < 4; k++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", k);
		cfgs[k] = mk_cfg(name, NULL, 600);
	}
	next = xcalloc(4, sizeof(*next));
	memcpy(next, cfgs, sizeof(cfgs));
	account_set_apply(&set, next, 4, true, &diff);
	ag = reg_agent_new(ua, &set, &conf, on_change, NULL);
	/* Nothing before reg_agent_start(). */
	run_for(100);
	ck_assert_uint_eq(mock.n, 0);
	reg_agent_start(ag);
	WAIT_FOR(account_set_registered(&set) == 4, 2000);
	/* In config order, 400/4 ms apart. */
	t0 = req_of("s0", 0)->at_us;
	for (int k = 1; k < 4; k++) {
		char name[16];
		int64_t off;

		snprintf(name, sizeof(name), "s%d", k);
		off = (int64_t)(req_of(name, 0)->at_us - t0) / 1000;
		ck_assert_msg(off >= 100 * k - 20 && off <= 100 * k + 80,
		    "%s sent %lld ms after s0", name, (long long)off);
	}
	/* A reload's new account: within the spread set then. */
	conf.spread_ms = 300;
	reg_agent_set_conf(ag, &conf);
	next = xcalloc(5, sizeof(*next));
	for (int k = 0; k < 4; k++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", k);
		next[k] = mk_cfg(name, NULL, 600);
	}
	next[4] = mk_cfg("late", NULL, 600);
	t0 = now_us();
	account_set_apply(&set, next, 5, false, &diff);
	ck_assert_uint_eq(diff.added, 1);
	ck_assert_uint_eq(diff.unchanged, 4);
	WAIT_FOR(nreq_of("late") == 1, 1000);
	ck_assert_uint_lt(req_of("late", 0)->at_us - t0, 380000);
	ck_assert_uint_eq(mock.n, 5);
}
END_TEST

/*
 * More accounts than REG_INFLIGHT_MAX: no more REGISTERs out at once
 * than that, the rest follow as answers free slots; a stop then
 * removes every binding through the same queue, and done() comes once.
 */
#define NMANY	(REG_INFLIGHT_MAX + 76)

START_TEST(test_inflight_cap)
{
	struct account_cfg **cfgs = xcalloc(NMANY, sizeof(*cfgs));
	size_t answered = 0, unbinds = 0;
	struct reg_conf conf = { .spread_ms = 0 };
	struct account_diff diff;

	for (size_t k = 0; k < NMANY; k++) {
		char name[16];

		snprintf(name, sizeof(name), "m%zu", k);
		cfgs[k] = mk_cfg(name, NULL, 600);
	}
	/* A line per account would bury the other cases' logs. */
	log_set_level(LOG_LEVEL_WARNING);
	account_set_apply(&set, cfgs, NMANY, true, &diff);
	ag = reg_agent_new(ua, &set, &conf, on_change, NULL);
	/* The registrar holds its answers for now. */
	mock.script = NULL;
	reg_agent_start(ag);
	WAIT_FOR(mock.n >= REG_INFLIGHT_MAX, 2000);
	run_for(300);
	ck_assert_uint_eq(mock.n, REG_INFLIGHT_MAX);
	/* Answer them all: the queued ones go out. */
	mock.script = script_ok;
	for (size_t k = 0; k < REG_INFLIGHT_MAX; k++)
		mock_ok(&mock.req[k], -1);
	WAIT_FOR(account_set_registered(&set) == NMANY, 3000);
	ck_assert_uint_eq(mock.n, NMANY);

	reg_agent_stop(ag, on_stop_done, &stop_done_calls);
	WAIT_FOR(stop_done_calls == 1, 3000);
	run_for(100);
	ck_assert_int_eq(stop_done_calls, 1);
	for (size_t k = 0; k < mock.n; k++) {
		if (mock.req[k].msg->expires == 0)
			unbinds++;
		if (mock.req[k].rsp != NULL)
			answered++;
	}
	ck_assert_uint_eq(unbinds, NMANY);
	ck_assert_uint_eq(answered, mock.n);
	ck_assert_uint_eq(account_set_registered(&set), 0);
}
END_TEST

/* ---- 13. reload --------------------------------------------------------- */

START_TEST(test_reload_call_settings)
{
	struct account_cfg *cfgs[1], **next;
	struct account_diff diff;
	struct account *a;
	size_t n;

	cfgs[0] = mk_cfg("calm", NULL, 600);
	start_agent(cfgs, 1);
	a = account_set_find(&set, "calm");
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	n = nreq_of("calm");

	/* What calls, transfers and probes use is no REGISTER's business. */
	next = xcalloc(1, sizeof(*next));
	next[0] = mk_cfg("calm", NULL, 600);
	next[0]->ring_timeout = 5;
	next[0]->refer_accept = true;
	next[0]->qualify_interval = 30;
	account_set_apply(&set, next, 1, false, &diff);
	ck_assert_uint_eq(diff.changed, 1);
	run_for(300);
	ck_assert_uint_eq(nreq_of("calm"), n);
	ck_assert_int_eq(a->reg_state, REG_STATE_REGISTERED);
	ck_assert_int_eq(a->cfg->ring_timeout, 5);
}
END_TEST

START_TEST(test_reload)
{
	struct account_cfg *cfgs[7], **next;
	struct account_diff diff;
	struct account *keep, *chg, *off, *moved, *quit, *join;
	char keep_cid[128], chg_cid[128], moved_cid[128], gone_cid[128];
	size_t keep_n, off_n, gone_n, chg_n, moved_n;
	const struct rq *q;

	cfgs[0] = mk_cfg("keep", NULL, 600);
	cfgs[1] = mk_cfg("chg", NULL, 600);
	cfgs[2] = mk_cfg("gone", NULL, 600);
	cfgs[3] = mk_cfg("off", NULL, 600);
	cfgs[4] = mk_cfg("moved", NULL, 600);
	cfgs[5] = mk_cfg("quit", NULL, 600);
	cfgs[6] = mk_cfg("join", NULL, 600);
	cfgs[6]->register_on = false;
	start_agent(cfgs, 7);
	keep = account_set_find(&set, "keep");
	chg = account_set_find(&set, "chg");
	off = account_set_find(&set, "off");
	moved = account_set_find(&set, "moved");
	quit = account_set_find(&set, "quit");
	join = account_set_find(&set, "join");
	WAIT_FOR(account_set_registered(&set) == 6, 3000);
	ck_assert_int_eq(join->reg_state, REG_STATE_DISABLED);
	ck_assert_int_eq(reg_disable(ag, off), 0);
	WAIT_FOR(off->reg_state == REG_STATE_DISABLED, 2000);
	run_for(100);
	snprintf(keep_cid, sizeof(keep_cid), "%s", info_of(keep).call_id);
	snprintf(chg_cid, sizeof(chg_cid), "%s", info_of(chg).call_id);
	snprintf(moved_cid, sizeof(moved_cid), "%s", info_of(moved).call_id);
	snprintf(gone_cid, sizeof(gone_cid), "%s",
	    call_id(req_of("gone", 0)));
	keep_n = nreq_of("keep");
	off_n = nreq_of("off");
	gone_n = nreq_of("gone");
	chg_n = nreq_of("chg");
	moved_n = nreq_of("moved");

	/* keep and off the same, chg asks 300, gone goes, new comes,
	 * moved gets another aor (and so another registration). */
	next = xcalloc(7, sizeof(*next));
	next[0] = mk_cfg("keep", NULL, 600);
	next[1] = mk_cfg("chg", NULL, 300);
	next[2] = mk_cfg("off", NULL, 600);
	next[3] = mk_cfg("new", NULL, 600);
	next[4] = mk_cfg("moved", NULL, 600);
	free(next[4]->aor);
	next[4]->aor = xstrdup("sip:moved2@test.example");
	next[5] = mk_cfg("quit", NULL, 600);
	next[5]->register_on = false;
	next[6] = mk_cfg("join", NULL, 600);
	account_set_apply(&set, next, 7, false, &diff);
	ck_assert_uint_eq(diff.added, 1);
	ck_assert_uint_eq(diff.removed, 1);
	ck_assert_uint_eq(diff.changed, 4);
	ck_assert_uint_eq(diff.unchanged, 2);
	ck_assert_ptr_null(account_set_find(&set, "gone"));
	ck_assert_ptr_eq(account_set_find(&set, "keep"), keep);

	WAIT_FOR(nreq_of("gone") == gone_n + 1 &&
	    nreq_of("chg") == chg_n + 1 && nreq_of("new") == 1 &&
	    nreq_of("moved2") == 1 && nreq_of("moved") == moved_n + 1 &&
	    nreq_of("quit") == 2 &&
	    nreq_of("join") == 1, 3000);
	WAIT_FOR(account_set_registered(&set) == 5, 2000);
	run_for(300);

	/* register = false now: the binding removed, then disabled. */
	ck_assert_uint_eq(nreq_of("quit"), 2);
	check_asks(req_of("quit", 1), 0);
	check_call_seq("quit", 0);
	ck_assert_int_eq(quit->reg_state, REG_STATE_DISABLED);
	ck_assert_int_eq(reg_enable(ag, quit), EPERM);
	/* register = true now: registers. */
	check_asks(req_of("join", 0), 600);
	ck_assert_int_eq(join->reg_state, REG_STATE_REGISTERED);

	/* Removed: its binding goes, in its own registration. */
	ck_assert_uint_eq(nreq_of("gone"), gone_n + 1);
	q = req_of("gone", gone_n);
	check_asks(q, 0);
	ck_assert_str_eq(call_id(q), gone_cid);
	check_call_seq("gone", 0);
	/* Changed: registered again with the new expires, same Call-ID. */
	ck_assert_uint_eq(nreq_of("chg"), chg_n + 1);
	check_asks(req_of("chg", chg_n), 300);
	check_call_seq("chg", 0);
	ck_assert_str_eq(call_id(req_of("chg", chg_n)), chg_cid);
	ck_assert_int_eq(chg->reg_state, REG_STATE_REGISTERED);
	ck_assert_uint_eq(info_of(chg).granted, 300);
	/* Another aor: the old binding goes in the old registration,
	 * the new one has a Call-ID of its own. */
	ck_assert_uint_eq(nreq_of("moved"), moved_n + 1);
	check_asks(req_of("moved", moved_n), 0);
	check_call_seq("moved", 0);
	ck_assert_str_eq(call_id(req_of("moved", moved_n)), moved_cid);
	q = req_of("moved2", 0);
	ck_assert_str_ne(call_id(q), moved_cid);
	check_asks(q, 600);
	ck_assert_int_eq(moved->reg_state, REG_STATE_REGISTERED);
	ck_assert_str_eq(info_of(moved).call_id, call_id(q));
	/* Added. */
	ck_assert_int_eq(account_set_find(&set, "new")->reg_state,
	    REG_STATE_REGISTERED);
	check_asks(req_of("new", 0), 600);
	/* Unchanged: nothing sent, nothing touched. */
	ck_assert_uint_eq(nreq_of("keep"), keep_n);
	ck_assert_int_eq(keep->reg_state, REG_STATE_REGISTERED);
	ck_assert_str_eq(info_of(keep).call_id, keep_cid);
	ck_assert_int_ge(info_of(keep).refresh_in, 400);
	/* Disabled and unchanged: stays disabled. */
	ck_assert_uint_eq(nreq_of("off"), off_n);
	ck_assert_int_eq(off->reg_state, REG_STATE_DISABLED);
}
END_TEST

/* ---- 14. Service-Route and Path ----------------------------------------- */

static void
script_routes(struct rq *q, size_t idx)
{
	if (idx == 0)
		mock_ok_hdrs(q, -1,
		    "Service-Route: <sip:sr1@127.0.0.1;lr>\r\n"
		    "Path: <sip:edge@127.0.0.1;lr>\r\n"
		    "Service-Route: <sip:sr2@127.0.0.1;lr>\r\n");
	else
		mock_ok(q, -1);
}

START_TEST(test_routes)
{
	struct account *a;
	struct reg_info i;

	mock.script = script_routes;
	a = start_one("alice", NULL, 600);
	WAIT_FOR(a->reg_state == REG_STATE_REGISTERED, 3000);
	i = info_of(a);
	ck_assert_str_eq(i.service_route, "<sip:sr1@127.0.0.1;lr>, "
	    "<sip:sr2@127.0.0.1;lr>");
	ck_assert_str_eq(i.path, "<sip:edge@127.0.0.1;lr>");
	/* RFC 3608 §6: a REGISTER does not follow the service route. */
	ck_assert_int_eq(reg_register_now(ag, a), 0);
	WAIT_FOR(nreq_of("alice") == 2, 2000);
	run_for(100);
	ck_assert_ptr_null(hval(req_of("alice", 1), SIP_HDR_ROUTE));
	/* Each registration replaces the route set: now none. */
	i = info_of(a);
	ck_assert_str_eq(i.service_route, "");
	ck_assert_str_eq(i.path, "");
}
END_TEST

static Suite *
reg_suite(void)
{
	Suite *s = suite_create("reg");
	TCase *tc = tcase_create("arithmetic");

	tcase_add_test(tc, test_refresh_after);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_spread);
	suite_add_tcase(s, tc);

	tc = tcase_create("registrar");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_digest_refresh_nc);
	tcase_add_test(tc, test_digest_stale);
	tcase_add_test(tc, test_digest_stale_in_attempt);
	tcase_add_test(tc, test_digest_ha1);
	tcase_add_test(tc, test_digest_no_password);
	tcase_add_test(tc, test_proxy_auth);
	tcase_add_test(tc, test_digest_refused);
	tcase_add_test(tc, test_423);
	tcase_add_test(tc, test_503_retry_after);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_tcp_refused);
	tcase_add_test(tc, test_403);
	tcase_add_test(tc, test_contact_rewritten);
	tcase_add_test(tc, test_nat);
	tcase_add_test(tc, test_nat_digest);
	tcase_add_test(tc, test_nat_digest_stale);
	tcase_add_test(tc, test_nat_gone);
	tcase_add_test(tc, test_no_nat);
	tcase_add_test(tc, test_control_and_stop);
	tcase_add_test(tc, test_stop_digest);
	tcase_add_test(tc, test_stop_nothing_bound);
	tcase_add_test(tc, test_spread_start);
	tcase_add_test(tc, test_inflight_cap);
	tcase_add_test(tc, test_pace);
	tcase_add_test(tc, test_target_back);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_reload_call_settings);
	tcase_add_test(tc, test_routes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
