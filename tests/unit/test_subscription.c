/*
 * The subscription usage (src/ua/subscription.c) on the real loop: a
 * real struct ua with a UDP listener on loopback and T1 = 50 ms, and a
 * mock peer, a UDP socket of the test's own whose read callback parses
 * each SIP message and answers from the running case's script.  The
 * peer plays the notifier (it answers our SUBSCRIBEs and sends NOTIFYs
 * in their dialogs) and the watcher (it subscribes to alice's presence
 * and answers our NOTIFYs).  Every case asserts what the peer received
 * and what the usage made of it: sub_foreach(), sub_mwi_get() and the
 * subscription.* events.
 *
 * As subscriber: a 2xx then a NOTIFY (a message summary counted); a
 * NOTIFY ahead of the 2xx; the refresh of a 4 s subscription; 423;
 * 407; terminated with each kind of reason; 481 to a refresh;
 * unsubscribe, with and without its final NOTIFY; no NOTIFY after the
 * 2xx; a second notifier (forked); a NOTIFY with the wrong Event or no
 * Subscription-State; stop; the limits.  As notifier: 489 by default
 * and for a package not accepted, 404, 400, 406, 423; presence served
 * (200, NOTIFY open, a change to closed, Expires: 0 and the final
 * NOTIFY); a watcher that answers 481; stop.
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

#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_auth.h"
#include "sip/sip_msg.h"
#include "ua/account.h"
#include "ua/events.h"
#include "ua/subscription.h"
#include "ua/ua.h"

#define T1_MS		50
#define MOCK_MAX	256

static struct event_base *base;
static struct event *tick;
static struct ua *ua;
static int ua_port;
static struct account_set set;
static struct sub_agent *ag;

/* ---- the mock peer ----------------------------------------------------- */

struct pm {
	struct sip_msg		*msg;	/* owns the datagram */
	uint64_t		 at_us;
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
	unsigned	 notify_status;	/* our answer to their NOTIFYs */
} mock;

static char peer_uri[64];	/* "sip:vm@127.0.0.1:PORT" */
static char peer_contact[64];

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

static struct slice
top_branch(const struct sip_msg *m)
{
	return m->nvia > 0 ? m->via[0].branch : SLICE_NULL;
}

static void
mock_sendto(const char *p, size_t n, const struct sockaddr_in *to)
{
	ck_assert_int_eq(sendto(mock.fd, p, n, 0, (const struct sockaddr *)to,
	    sizeof(*to)), (ssize_t)n);
}

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
	static char v[4][1024];
	static int k;
	const struct sip_hdr *h = sip_msg_hdr_named(q->msg, name);
	char *s = v[k++ % 4];

	if (h == NULL)
		return NULL;
	snprintf(s, sizeof(v[0]), "%.*s", SLICE_ARG(h->value));
	return s;
}

/* Answers q (§8.2.6.2), a Contact for a 2xx to SUBSCRIBE, then hdrs. */
static void
peer_respond(struct pm *q, unsigned status, const char *reason,
    const char *totag, const char *hdrs)
{
	const struct sip_msg *m = q->msg;
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "SIP/2.0 %u %s\r\n", status, reason);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_TO:
			strbuf_addf(&sb, "To: %.*s", SLICE_ARG(h->value));
			if (!slice_present(m->to.tag) && totag != NULL)
				strbuf_addf(&sb, ";tag=%s", totag);
			strbuf_adds(&sb, "\r\n");
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
	if (m->method == SIP_METHOD_SUBSCRIBE && status >= 200 &&
	    status < 300 && (hdrs == NULL || strstr(hdrs, "Contact:") == NULL))
		strbuf_addf(&sb, "Contact: <%s>\r\n", peer_contact);
	if (hdrs != NULL)
		strbuf_adds(&sb, hdrs);
	strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	mock_sendto(sb.p, sb.n, &q->from);
	free(q->rsp);
	q->rsplen = sb.n;
	q->rsp = strbuf_detach(&sb);
}

static void
peer_send(const char *text)
{
	struct sockaddr_in to = { .sin_family = AF_INET };

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)ua_port);
	mock_sendto(text, strlen(text), &to);
}

static bool
is_req(const struct pm *q, enum sip_method m)
{
	return q->msg->request && q->msg->method == m;
}

static size_t
nreq(enum sip_method method)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++)
		if (is_req(&mock.in[i], method) && !mock.in[i].retx)
			k++;
	return k;
}

static struct pm *
req(enum sip_method method, size_t k)
{
	size_t left = k;

	for (size_t i = 0; i < mock.n; i++)
		if (is_req(&mock.in[i], method) && !mock.in[i].retx &&
		    left-- == 0)
			return &mock.in[i];
	ck_abort_msg("no %s #%zu", sip_method_name(method), k);
	return NULL;
}

/* Responses with this status to method, copies too. */
static size_t
nrsp(unsigned status, enum sip_method method)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->status == status &&
		    m->cseq.method == method)
			k++;
	}
	return k;
}

static struct pm *
rsp_last(enum sip_method method)
{
	for (size_t i = mock.n; i-- > 0;)
		if (!mock.in[i].msg->request &&
		    mock.in[i].msg->cseq.method == method)
			return &mock.in[i];
	ck_abort_msg("no response to %s", sip_method_name(method));
	return NULL;
}

/* What the peer does with what no case script takes. */
static void
peer_default(struct pm *q)
{
	if (is_req(q, SIP_METHOD_NOTIFY))
		peer_respond(q, mock.notify_status, mock.notify_status == 200 ?
		    "OK" : "Call/Transaction Does Not Exist", NULL, NULL);
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
		q->at_us = time_mono_us();
		q->from = from;
		if (m->request)
			for (size_t i = 0; i + 1 < mock.n; i++) {
				struct pm *o = &mock.in[i];

				if (!o->msg->request || o->retx ||
				    o->msg->method != m->method ||
				    !slice_eq(top_branch(o->msg),
				    top_branch(m)))
					continue;
				q->retx = true;
				if (o->rsp != NULL)
					mock_sendto(o->rsp, o->rsplen, &from);
				break;
			}
		if (q->retx)
			continue;
		if (mock.script != NULL)
			mock.script(q);
		else
			peer_default(q);
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
	mock.ev = event_new(base, mock.fd, EV_READ | EV_PERSIST, mock_read_cb,
	    NULL);
	event_add(mock.ev, NULL);
	mock.notify_status = 200;
	snprintf(peer_uri, sizeof(peer_uri), "sip:vm@127.0.0.1:%d",
	    mock.port);
	snprintf(peer_contact, sizeof(peer_contact), "sip:vm@127.0.0.1:%d",
	    mock.port);
}

static void
mock_close(void)
{
	event_free(mock.ev);
	close(mock.fd);
	for (size_t i = 0; i < mock.n; i++) {
		sip_msg_free(mock.in[i].msg);
		free(mock.in[i].rsp);
	}
	memset(&mock, 0, sizeof(mock));
}

/* ---- the peer as notifier: its side of our subscription's dialog ------- */

struct pnot {
	char		 call_id[128];
	char		 our_tag[64];	/* the subscription's From tag */
	char		 tag[32];	/* the notifier's */
	char		 ruri[128];	/* our Contact */
	char		 to[256];	/* our From, whole */
	uint32_t	 cseq;
};

/* Learns the dialog from SUBSCRIBE q (peer tag tag). */
static void
pnot_init(struct pnot *d, const struct pm *q, const char *tag)
{
	const struct sip_msg *m = q->msg;

	memset(d, 0, sizeof(*d));
	snprintf(d->call_id, sizeof(d->call_id), "%s", cs(m->call_id));
	snprintf(d->our_tag, sizeof(d->our_tag), "%s", cs(m->from.tag));
	snprintf(d->tag, sizeof(d->tag), "%s", tag);
	ck_assert_uint_ge(m->ncontact, 1);
	snprintf(d->ruri, sizeof(d->ruri), "%s",
	    cs(m->contact[0].addr.uri_str));
	snprintf(d->to, sizeof(d->to), "%s", hval(q, "From"));
	d->cseq = 100;
}

static unsigned branch_seq;

/* A NOTIFY of the peer's in d. */
static void
peer_notify(struct pnot *d, const char *event, const char *substate,
    const char *ctype, const char *body)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "NOTIFY %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-n%u-%d;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <%s>;tag=%s\r\n"
	    "To: %s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u NOTIFY\r\n"
	    "Contact: <%s>\r\n", d->ruri, mock.port, ++branch_seq,
	    (int)getpid(), peer_uri, d->tag, d->to, d->call_id, ++d->cseq,
	    peer_contact);
	if (event != NULL)
		strbuf_addf(&sb, "Event: %s\r\n", event);
	if (substate != NULL)
		strbuf_addf(&sb, "Subscription-State: %s\r\n", substate);
	if (body != NULL)
		strbuf_addf(&sb, "Content-Type: %s\r\n"
		    "Content-Length: %zu\r\n\r\n%s", ctype, strlen(body), body);
	else
		strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	peer_send(sb.p);
	strbuf_free(&sb);
}

/* Answers to the NOTIFY with this CSeq (the last one sent: d->cseq). */
static size_t
notify_answers(const struct pnot *d, unsigned status)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->cseq.method == SIP_METHOD_NOTIFY &&
		    m->cseq.num == d->cseq && m->status == status &&
		    slice_eq_cstr(m->call_id, d->call_id))
			k++;
	}
	return k;
}

/* ---- the loop ------------------------------------------------------------ */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
run_for(unsigned ms)
{
	uint64_t until = time_mono_us() + (uint64_t)ms * 1000;

	while (time_mono_us() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

#define WAIT_FOR(cond, ms) do {						\
	uint64_t until_ = time_mono_us() + (uint64_t)(ms) * 1000;	\
									\
	while (!(cond) && time_mono_us() < until_)			\
		event_base_loop(base, EVLOOP_ONCE);			\
	ck_assert_msg((cond), "not within %u ms: %s", (unsigned)(ms),	\
	    #cond);							\
} while (0)

/* ---- events ------------------------------------------------------------- */

#define EVLOG_MAX	256

static struct {
	char		 type[EVLOG_MAX][32];
	char		 id[EVLOG_MAX][24];
	char		 state[EVLOG_MAX][24];
	char		 reason[EVLOG_MAX][64];
	char		 extra[EVLOG_MAX][64];	/* body / new= */
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
	size_t i = evlog.n;

	(void)arg;
	if (!ev->live || i == EVLOG_MAX)
		return;
	ck_assert_str_eq(ev->account, "alice");
	snprintf(evlog.type[i], sizeof(evlog.type[0]), "%s", ev->type);
	snprintf(evlog.id[i], sizeof(evlog.id[0]), "%s", kv_get(ev, "id"));
	snprintf(evlog.state[i], sizeof(evlog.state[0]), "%s",
	    kv_get(ev, "state"));
	snprintf(evlog.reason[i], sizeof(evlog.reason[0]), "%s",
	    kv_get(ev, "reason"));
	if (strcmp(ev->type, "subscription.mwi") == 0)
		snprintf(evlog.extra[i], sizeof(evlog.extra[0]), "%s/%s",
		    kv_get(ev, "new"), kv_get(ev, "old"));
	else
		snprintf(evlog.extra[i], sizeof(evlog.extra[0]), "%.63s",
		    kv_get(ev, "body"));
	evlog.n++;
}

/* The states of id's subscription.state events, space-separated. */
static const char *
ev_states(uint64_t id)
{
	static char s[512];
	char want[24];
	size_t n = 0;

	snprintf(want, sizeof(want), "%llu", (unsigned long long)id);
	s[0] = '\0';
	for (size_t i = 0; i < evlog.n; i++)
		if (strcmp(evlog.type[i], "subscription.state") == 0 &&
		    strcmp(evlog.id[i], want) == 0)
			n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%s",
			    n > 0 ? " " : "", evlog.state[i]);
	return s;
}

static int
ev_last(const char *type)
{
	for (size_t i = evlog.n; i-- > 0;)
		if (strcmp(evlog.type[i], type) == 0)
			return (int)i;
	return -1;
}

/* ---- accounts, the agent, what it shows -------------------------------- */

static struct account_cfg *
mk_cfg(void)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));

	c->name = xstrdup("alice");
	c->aor = xstrdup("sip:alice@127.0.0.1");
	c->auth_user = xstrdup("alice");
	c->password = xstrdup("secret");
	c->registrar = xstrdup("sip:127.0.0.1:9");
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->register_on = false;
	c->expires = 600;
	c->codecs = xcalloc(1, sizeof(char *));
	return c;
}

static void
start_with(struct account_cfg *cfg, const struct sub_conf *conf)
{
	struct account_cfg **v = xcalloc(1, sizeof(*v));
	struct sub_conf def = { .max = 100, .body_max = 4096 };
	struct account_diff diff;

	v[0] = cfg;
	account_set_apply(&set, v, 1, true, &diff);
	ag = sub_agent_new(ua, &set, conf != NULL ? conf : &def);
	ck_assert_ptr_nonnull(ag);
}

static void
start(void)
{
	start_with(mk_cfg(), NULL);
}

static uint64_t
subscribe(const char *event, unsigned expires)
{
	struct sub_params p = { .account = "alice", .uri = peer_uri,
	    .event = event, .expires = expires };
	char err[256] = "";
	uint64_t id = 0;

	ck_assert_msg(sub_subscribe(ag, &p, &id, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_ne(id, 0);
	return id;
}

static struct {
	struct sub_summary	 s;
	char			 body[4096];
	char			 reason[128];
	bool			 found;
} got;

static void
find_cb(const struct sub_summary *s, void *arg)
{
	if (s->id != *(uint64_t *)arg)
		return;
	got.s = *s;
	snprintf(got.body, sizeof(got.body), "%s", s->body);
	snprintf(got.reason, sizeof(got.reason), "%s", s->reason);
	got.found = true;
}

/* The summary of id, or found false. */
static bool
lookup(uint64_t id)
{
	memset(&got, 0, sizeof(got));
	sub_foreach(ag, find_cb, &id);
	return got.found;
}

static enum sub_state
state_of(uint64_t id)
{
	return lookup(id) ? got.s.state : SUB_STATE__COUNT;
}

static size_t
live(void)
{
	size_t counts[SUB_STATE__COUNT];

	return sub_count_states(ag, counts);
}

static struct events_sub *esub;

static void
setup(void)
{
	struct sip_tp_listen_conf l[1] = { { .transport = SIP_TP_UDP } };
	struct ua_conf c = { 0 };
	static const char *servers[1] = { "127.0.0.1:1" };
	struct timeval tv = { 0, 20 * 1000 };
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
	c.t2_ms = 400;
	c.t4_ms = 500;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-sub/1";
	c.default_from = "sip:test@127.0.0.1";
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	mock_open();
	memset(&evlog, 0, sizeof(evlog));
	esub = events_subscribe_live(EVENTS_KIND_SUBSCRIPTION, NULL, on_event,
	    NULL);
	account_set_init(&set);
	ag = NULL;
}

static void
teardown(void)
{
	sub_agent_free(ag);
	ag = NULL;
	ua_free(ua);
	ua = NULL;
	events_shutdown();
	account_set_clear(&set);
	mock_close();
	event_free(tick);
	event_base_free(base);
}

/* ---- scripts --------------------------------------------------------------- */

static const char *answer_expires = "3600";
static struct pnot pn;
static bool pn_set;

/* 200 to every SUBSCRIBE (peer tag vm-1), learning the dialog. */
static void
script_accept(struct pm *q)
{
	char h[64];

	if (is_req(q, SIP_METHOD_SUBSCRIBE)) {
		if (!slice_present(q->msg->to.tag)) {
			pnot_init(&pn, q, "vm-1");
			pn_set = true;
		}
		snprintf(h, sizeof(h), "Expires: %s\r\n",
		    slice_present(q->msg->to.tag) && q->msg->expires == 0 ?
		    "0" : answer_expires);
		peer_respond(q, 200, "OK", "vm-1", h);
		return;
	}
	peer_default(q);
}

/* The SUBSCRIBEs are held: the case answers them. */
static void
script_hold(struct pm *q)
{
	if (is_req(q, SIP_METHOD_SUBSCRIBE))
		return;
	peer_default(q);
}

#define MWI_BODY "Messages-Waiting: yes\r\n" \
	"Message-Account: sip:alice@vm.example\r\n" \
	"Voice-Message: 2/8 (1/0)\r\n"
#define MWI_TYPE "application/simple-message-summary"

/* ---- 1. as subscriber ------------------------------------------------------ */

START_TEST(test_2xx_then_notify)
{
	struct pm *s0;
	struct sip_mwi m;
	double when;
	char want[64];
	uint64_t id;
	int i;

	start();
	mock.script = script_accept;
	pn_set = false;
	id = subscribe("message-summary", 0);
	ck_assert_int_eq(state_of(id), SUB_STATE_SUBSCRIBING);
	WAIT_FOR(nrsp(200, SIP_METHOD_SUBSCRIBE) == 0 &&
	    nreq(SIP_METHOD_SUBSCRIBE) == 1 && pn_set, 2000);
	s0 = req(SIP_METHOD_SUBSCRIBE, 0);
	/* RFC 6665 §4.1.2.1 and RFC 3842 §4. */
	ck_assert_str_eq(cs(s0->msg->ruri_str), peer_uri);
	ck_assert_str_eq(cs(s0->msg->to.uri_str), peer_uri);
	ck_assert(!slice_present(s0->msg->to.tag));
	ck_assert_uint_ge(s0->msg->from.tag.n, 8);
	ck_assert_str_eq(cs(s0->msg->from.uri_str), "sip:alice@127.0.0.1");
	ck_assert_str_eq(hval(s0, "Event"), "message-summary");
	ck_assert_str_eq(hval(s0, "Accept"), MWI_TYPE);
	ck_assert_int_eq((int)s0->msg->expires, 3600);
	/* §8.2.2: Allow-Events promises a notifier; alice serves none. */
	ck_assert_ptr_null(hval(s0, "Allow-Events"));
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(cs(s0->msg->contact[0].addr.uri_str), want);
	snprintf(want, sizeof(want), "-s%llu", (unsigned long long)id);
	ck_assert_ptr_nonnull(strstr(cs(s0->msg->call_id), want));
	ck_assert_ptr_null(hval(s0, "Route"));
	/* The 2xx alone says nothing of the state (§4.1.2.4). */
	run_for(100);
	ck_assert_int_eq(state_of(id), SUB_STATE_SUBSCRIBING);
	ck_assert_int_eq(sub_mwi_get(ag, "alice", &m, &when), ENOENT);

	peer_notify(&pn, "message-summary", "active;expires=3000", MWI_TYPE,
	    MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert_int_eq(state_of(id), SUB_STATE_ACTIVE);
	ck_assert_uint_eq(got.s.notifies, 1);
	ck_assert_str_eq(got.s.content_type, MWI_TYPE);
	ck_assert_str_eq(got.body, MWI_BODY);
	ck_assert_int_ge(got.s.expires_in, 2990);
	ck_assert_int_le(got.s.expires_in, 3000);
	ck_assert_int_eq(got.s.dir, SUB_DIR_OUT);
	ck_assert_int_eq(got.s.package, SUB_PKG_MWI);
	/* RFC 3842: the summary, counted. */
	ck_assert_int_eq(sub_mwi_get(ag, "alice", &m, &when), 0);
	ck_assert(m.waiting);
	ck_assert_uint_eq(m.cls[SIP_MWI_VOICE].new_msgs, 2);
	ck_assert_uint_eq(m.cls[SIP_MWI_VOICE].old_msgs, 8);
	ck_assert_uint_eq(m.cls[SIP_MWI_VOICE].new_urgent, 1);
	ck_assert_int_eq(sub_mwi_get(ag, "bob", &m, &when), ENOENT);
	i = ev_last("subscription.mwi");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(evlog.extra[i], "2/8");
	i = ev_last("subscription.notify");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(evlog.state[i], "active");
	ck_assert_str_eq(ev_states(id), "subscribing active");
	/* The same counts again: no second mwi event. */
	peer_notify(&pn, "message-summary", "active;expires=3000", MWI_TYPE,
	    MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	run_for(50);
	{
		size_t k = 0;

		for (size_t j = 0; j < evlog.n; j++)
			k += strcmp(evlog.type[j], "subscription.mwi") == 0;
		ck_assert_uint_eq(k, 1);
	}
	ck_assert_uint_eq(live(), 1);
}
END_TEST

/* §4.1.2.4: the NOTIFY overtakes the 2xx and makes the dialog. */
START_TEST(test_notify_before_2xx)
{
	struct pm *s0, *u;
	uint64_t id;

	start();
	mock.script = script_hold;
	id = subscribe("presence", 0);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 1, 2000);
	s0 = req(SIP_METHOD_SUBSCRIBE, 0);
	ck_assert_str_eq(hval(s0, "Accept"), "application/pidf+xml");
	pnot_init(&pn, s0, "pres-1");
	peer_notify(&pn, "presence", "active;expires=600",
	    "application/pidf+xml", "<presence/>");
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert_int_eq(state_of(id), SUB_STATE_ACTIVE);
	/* The 2xx, late, with the same tag: one dialog still. */
	peer_respond(s0, 200, "OK", "pres-1", "Expires: 600\r\n");
	run_for(100);
	ck_assert_int_eq(state_of(id), SUB_STATE_ACTIVE);
	/* The dialog is the NOTIFY's: unsubscribe goes in it. */
	mock.script = script_accept;
	ck_assert_int_eq(sub_unsubscribe(ag, id), 0);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 2, 1000);
	u = req(SIP_METHOD_SUBSCRIBE, 1);
	ck_assert_str_eq(cs(u->msg->to.tag), "pres-1");
	ck_assert_str_eq(cs(u->msg->call_id), cs(s0->msg->call_id));
	ck_assert_uint_eq(u->msg->cseq.num, s0->msg->cseq.num + 1);
	ck_assert_str_eq(cs(u->msg->ruri_str), peer_contact);
	ck_assert_int_eq((int)u->msg->expires, 0);
}
END_TEST

/* §4.1.2.2: a 4 s subscription is refreshed at 2 s, in its dialog. */
START_TEST(test_refresh)
{
	struct pm *s0, *s1;
	uint64_t id, t_notify;

	start();
	mock.script = script_accept;
	answer_expires = "4";
	pn_set = false;
	id = subscribe("message-summary", 4);
	WAIT_FOR(pn_set && nrsp(200, SIP_METHOD_SUBSCRIBE) == 0, 2000);
	peer_notify(&pn, "message-summary", "active;expires=4", MWI_TYPE,
	    MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	t_notify = time_mono_us();
	ck_assert_int_eq(state_of(id), SUB_STATE_ACTIVE);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 2, 4000);
	s0 = req(SIP_METHOD_SUBSCRIBE, 0);
	s1 = req(SIP_METHOD_SUBSCRIBE, 1);
	ck_assert_uint_ge(s1->at_us - t_notify, 1500 * 1000);
	ck_assert_uint_le(s1->at_us - t_notify, 3000 * 1000);
	ck_assert_str_eq(cs(s1->msg->call_id), cs(s0->msg->call_id));
	ck_assert_str_eq(cs(s1->msg->from.tag), cs(s0->msg->from.tag));
	ck_assert_str_eq(cs(s1->msg->to.tag), "vm-1");
	ck_assert_uint_eq(s1->msg->cseq.num, s0->msg->cseq.num + 1);
	ck_assert_int_eq((int)s1->msg->expires, 4);
	ck_assert_str_eq(hval(s1, "Event"), "message-summary");
	/* And again: it lives on past its first 4 s. */
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 3, 4000);
	ck_assert_int_eq(state_of(id), SUB_STATE_ACTIVE);
	answer_expires = "3600";
}
END_TEST

static void
script_423(struct pm *q)
{
	if (is_req(q, SIP_METHOD_SUBSCRIBE) && q->msg->expires < 7200) {
		peer_respond(q, 423, "Interval Too Brief", "x",
		    "Min-Expires: 7200\r\n");
		return;
	}
	script_accept(q);
}

START_TEST(test_423)
{
	struct pm *s0, *s1;
	uint64_t id;

	start();
	mock.script = script_423;
	answer_expires = "7200";
	id = subscribe("message-summary", 0);
	WAIT_FOR(nrsp(200, SIP_METHOD_SUBSCRIBE) == 0 &&
	    nreq(SIP_METHOD_SUBSCRIBE) == 2, 2000);
	s0 = req(SIP_METHOD_SUBSCRIBE, 0);
	s1 = req(SIP_METHOD_SUBSCRIBE, 1);
	ck_assert_int_eq((int)s0->msg->expires, 3600);
	ck_assert_int_eq((int)s1->msg->expires, 7200);
	ck_assert_uint_eq(s1->msg->cseq.num, s0->msg->cseq.num + 1);
	ck_assert_str_eq(cs(s1->msg->call_id), cs(s0->msg->call_id));
	run_for(100);
	ck_assert_int_eq(state_of(id), SUB_STATE_SUBSCRIBING);
	answer_expires = "3600";
}
END_TEST

#define REALM	"vm.test"
#define NONCE	"nonce-77"

static void
script_407(struct pm *q)
{
	if (is_req(q, SIP_METHOD_SUBSCRIBE) &&
	    hval(q, "Proxy-Authorization") == NULL) {
		peer_respond(q, 407, "Proxy Authentication Required", "p",
		    "Proxy-Authenticate: Digest realm=\"" REALM "\", "
		    "nonce=\"" NONCE "\", algorithm=MD5, qop=\"auth\"\r\n");
		return;
	}
	script_accept(q);
}

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

START_TEST(test_407)
{
	struct sip_auth_credentials c;
	const struct sip_hdr *h;
	const char *why = NULL;
	char ha1[33], ha2[33], want[33];
	struct pm *s1;

	start();
	mock.script = script_407;
	pn_set = false;
	subscribe("message-summary", 0);
	WAIT_FOR(pn_set, 2000);
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 2);
	s1 = req(SIP_METHOD_SUBSCRIBE, 1);
	ck_assert_uint_eq(s1->msg->cseq.num,
	    req(SIP_METHOD_SUBSCRIBE, 0)->msg->cseq.num + 1);
	h = sip_msg_hdr(s1->msg, SIP_HDR_PROXY_AUTHORIZATION, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sip_auth_credentials_parse(&c, h->value, &why) == 0,
	    "%s", why);
	ck_assert(slice_eq_cstr(c.username, "alice"));
	ck_assert(slice_eq_cstr(c.uri, peer_uri));
	md5_hex(ha1, "alice:" REALM ":secret");
	md5_hex(ha2, "SUBSCRIBE:%s", peer_uri);
	md5_hex(want, "%s:" NONCE ":%s:%s:auth:%s", ha1, cs(c.nc_text),
	    cs(c.cnonce), ha2);
	ck_assert_str_eq(cs(c.response), want);
}
END_TEST

/* An active subscription, its dialog learned into pn. */
static uint64_t
active_sub(unsigned expires)
{
	uint64_t id;
	char ss[48];

	mock.script = script_accept;
	pn_set = false;
	id = subscribe("message-summary", expires);
	WAIT_FOR(pn_set && nrsp(200, SIP_METHOD_SUBSCRIBE) == 0, 2000);
	snprintf(ss, sizeof(ss), "active;expires=%u", expires != 0 ?
	    expires : 3600);
	peer_notify(&pn, "message-summary", ss, MWI_TYPE, MWI_BODY);
	WAIT_FOR(state_of(id) == SUB_STATE_ACTIVE, 1000);
	return id;
}

/* §4.1.3: rejected and noresource end it; the rest subscribe again. */
START_TEST(test_terminated_reasons)
{
	char old[128];
	struct pm *s;
	uint64_t id, t0;

	start();
	id = active_sub(0);
	peer_notify(&pn, "message-summary", "terminated;reason=rejected",
	    NULL, NULL);
	WAIT_FOR(!lookup(id), 1000);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert_str_eq(ev_states(id), "subscribing active terminated");
	ck_assert_str_eq(evlog.reason[ev_last("subscription.state")],
	    "rejected");
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 1);

	/* deactivated: a new subscription at once, a new Call-ID. */
	id = active_sub(0);
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 2);
	snprintf(old, sizeof(old), "%s", pn.call_id);
	peer_notify(&pn, "message-summary", "terminated;reason=deactivated",
	    NULL, NULL);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 3, 1000);
	s = req(SIP_METHOD_SUBSCRIBE, 2);
	ck_assert(!slice_present(s->msg->to.tag));
	ck_assert_str_ne(cs(s->msg->call_id), old);
	WAIT_FOR(pn_set && strcmp(pn.call_id, cs(s->msg->call_id)) == 0,
	    1000);
	ck_assert(lookup(id));
	ck_assert_int_eq(got.s.state, SUB_STATE_SUBSCRIBING);
	ck_assert_str_eq(got.reason, "deactivated");
	peer_notify(&pn, "message-summary", "active;expires=3600", MWI_TYPE,
	    MWI_BODY);
	WAIT_FOR(state_of(id) == SUB_STATE_ACTIVE, 1000);

	/* probation with retry-after=1: again after a second (a second
	 * restart in a row waits at least that much anyway). */
	t0 = time_mono_us();
	peer_notify(&pn, "message-summary",
	    "terminated;reason=probation;retry-after=1", NULL, NULL);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 4, 3000);
	ck_assert_uint_ge(req(SIP_METHOD_SUBSCRIBE, 3)->at_us - t0,
	    900 * 1000);
	ck_assert_int_eq(state_of(id), SUB_STATE_SUBSCRIBING);

	/* noresource: over. */
	WAIT_FOR(pn_set && strcmp(pn.call_id, cs(req(SIP_METHOD_SUBSCRIBE,
	    3)->msg->call_id)) == 0, 1000);
	peer_notify(&pn, "message-summary", "terminated;reason=noresource",
	    NULL, NULL);
	WAIT_FOR(!lookup(id), 1000);
	ck_assert_uint_eq(live(), 0);
}
END_TEST

static void
script_481_refresh(struct pm *q)
{
	if (is_req(q, SIP_METHOD_SUBSCRIBE) && slice_present(q->msg->to.tag)) {
		peer_respond(q, 481, "Subscription Does Not Exist", NULL,
		    NULL);
		return;
	}
	script_accept(q);
}

START_TEST(test_481_on_refresh)
{
	uint64_t id;

	start();
	answer_expires = "2";
	id = active_sub(2);
	mock.script = script_481_refresh;
	WAIT_FOR(!lookup(id), 3000);
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 2);
	ck_assert_str_eq(evlog.reason[ev_last("subscription.state")],
	    "481 Subscription Does Not Exist");
	answer_expires = "3600";
}
END_TEST

/* §4.1.2.3: Expires: 0, then the final NOTIFY ends it. */
START_TEST(test_unsubscribe)
{
	struct pm *u;
	uint64_t id;

	start();
	id = active_sub(0);
	ck_assert_int_eq(sub_unsubscribe(ag, id), 0);
	ck_assert_int_eq(sub_unsubscribe(ag, id), EALREADY);
	ck_assert_int_eq(state_of(id), SUB_STATE_TERMINATING);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 2, 1000);
	u = req(SIP_METHOD_SUBSCRIBE, 1);
	ck_assert_int_eq((int)u->msg->expires, 0);
	ck_assert_str_eq(cs(u->msg->to.tag), "vm-1");
	run_for(100);
	/* The 2xx is not the end: the final NOTIFY is. */
	ck_assert_int_eq(state_of(id), SUB_STATE_TERMINATING);
	peer_notify(&pn, "message-summary", "terminated;reason=timeout",
	    MWI_TYPE, "Messages-Waiting: no\r\n");
	WAIT_FOR(!lookup(id), 1000);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert_str_eq(ev_states(id),
	    "subscribing active terminating terminated");
	ck_assert_str_eq(evlog.reason[ev_last("subscription.state")],
	    "unsubscribed");
	/* timeout, but ours: no new subscription. */
	run_for(100);
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 2);
	ck_assert_int_eq(sub_unsubscribe(ag, id), ENOENT);
	ck_assert_int_eq(sub_unsubscribe(ag, 987654), ENOENT);
}
END_TEST

/* No final NOTIFY: 64*T1 later it is over all the same. */
START_TEST(test_unsubscribe_no_final)
{
	uint64_t id, t0;

	start();
	id = active_sub(0);
	t0 = time_mono_us();
	ck_assert_int_eq(sub_unsubscribe(ag, id), 0);
	WAIT_FOR(!lookup(id), 64 * T1_MS + 1500);
	ck_assert_uint_ge(time_mono_us() - t0, 64 * T1_MS * 1000 - 100000);
}
END_TEST

/* §4.1.2.4: a 2xx and no NOTIFY in 64*T1: failed. */
START_TEST(test_no_notify)
{
	uint64_t id;

	start();
	mock.script = script_accept;
	id = subscribe("dialog", 0);
	WAIT_FOR(nreq(SIP_METHOD_SUBSCRIBE) == 1, 1000);
	ck_assert_str_eq(hval(req(SIP_METHOD_SUBSCRIBE, 0), "Accept"),
	    "application/dialog-info+xml");
	WAIT_FOR(!lookup(id), 64 * T1_MS + 1500);
	ck_assert_str_eq(evlog.reason[ev_last("subscription.state")],
	    "no NOTIFY after the 2xx");
}
END_TEST

/* A final error to the SUBSCRIBE ends it, with the status. */
static void
script_404(struct pm *q)
{
	if (is_req(q, SIP_METHOD_SUBSCRIBE)) {
		peer_respond(q, 404, "Not Found", "x", NULL);
		return;
	}
	peer_default(q);
}

START_TEST(test_refused)
{
	uint64_t id;

	start();
	mock.script = script_404;
	id = subscribe("presence", 0);
	WAIT_FOR(!lookup(id), 1000);
	ck_assert_str_eq(ev_states(id), "subscribing terminated");
	ck_assert_str_eq(evlog.reason[ev_last("subscription.state")],
	    "404 Not Found");
}
END_TEST

/* §4.1.4: a second notifier's NOTIFY gets 481; the first one stays. */
START_TEST(test_forked_notify)
{
	struct pnot other;
	uint64_t id;

	start();
	id = active_sub(0);
	other = pn;
	snprintf(other.tag, sizeof(other.tag), "vm-2");
	peer_notify(&other, "message-summary", "active;expires=100",
	    MWI_TYPE, "Messages-Waiting: no\r\n");
	WAIT_FOR(notify_answers(&other, 481) == 1, 1000);
	ck_assert(lookup(id));
	ck_assert_str_eq(got.body, MWI_BODY);
	ck_assert_uint_eq(got.s.notifies, 1);
}
END_TEST

START_TEST(test_notify_checks)
{
	uint64_t id;

	start();
	id = active_sub(0);
	peer_notify(&pn, "presence", "active", MWI_TYPE, MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 489) == 1, 1000);
	peer_notify(&pn, "message-summary", NULL, MWI_TYPE, MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 400) == 1, 1000);
	peer_notify(&pn, NULL, "active", MWI_TYPE, MWI_BODY);
	WAIT_FOR(notify_answers(&pn, 489) == 1, 1000);
	ck_assert(lookup(id));
	ck_assert_uint_eq(got.s.notifies, 1);
	/* A body the summary parser refuses: kept, not counted. */
	peer_notify(&pn, "message-summary", "active", MWI_TYPE,
	    "Voice-Message: 1/1\r\n");
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert(lookup(id));
	ck_assert_str_eq(got.body, "Voice-Message: 1/1\r\n");
	{
		struct sip_mwi m;
		double when;

		ck_assert_int_eq(sub_mwi_get(ag, "alice", &m, &when), 0);
		ck_assert_uint_eq(m.cls[SIP_MWI_VOICE].new_msgs, 2);
	}
	/* A NOTIFY without a To tag belongs to nothing. */
	{
		char text[512];

		snprintf(text, sizeof(text), "NOTIFY sip:alice@127.0.0.1 "
		    "SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch="
		    "z9hG4bK-stray1\r\nMax-Forwards: 70\r\nFrom: <sip:x@y>;"
		    "tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: stray\r\n"
		    "CSeq: 1 NOTIFY\r\nEvent: presence\r\n"
		    "Subscription-State: active\r\nContent-Length: 0\r\n\r\n",
		    mock.port);
		peer_send(text);
		WAIT_FOR(nrsp(481, SIP_METHOD_NOTIFY) == 1, 1000);
	}
}
END_TEST

static unsigned stopped;

static void
on_stopped(void *arg)
{
	(void)arg;
	stopped++;
}

START_TEST(test_stop)
{
	struct sub_params p = { .account = "alice", .event = "presence" };
	char err[128];
	uint64_t a, b, id;

	start();
	a = active_sub(0);
	b = active_sub(0);
	stopped = 0;
	sub_agent_stop(ag, on_stopped, NULL);
	ck_assert_int_eq(state_of(a), SUB_STATE_TERMINATING);
	ck_assert_int_eq(state_of(b), SUB_STATE_TERMINATING);
	p.uri = peer_uri;
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)),
	    ESHUTDOWN);
	/* At stop the 2xx to the unsubscribe is enough. */
	WAIT_FOR(stopped == 1, 2000);
	ck_assert_uint_eq(nreq(SIP_METHOD_SUBSCRIBE), 4);
	ck_assert_int_eq((int)req(SIP_METHOD_SUBSCRIBE, 2)->msg->expires, 0);
	ck_assert_int_eq((int)req(SIP_METHOD_SUBSCRIBE, 3)->msg->expires, 0);
	ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(test_limits)
{
	struct sub_conf conf = { .max = 2, .body_max = 256 };
	struct sub_params p = { .account = "alice", .event = "presence" };
	char err[256], big[400];
	uint64_t id, a;

	start_with(mk_cfg(), &conf);
	p.uri = peer_uri;
	a = active_sub(0);
	/* A body over the cap: answered, its state applied, not kept. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	peer_notify(&pn, "message-summary", "active;expires=100", MWI_TYPE,
	    big);
	WAIT_FOR(notify_answers(&pn, 200) == 1, 1000);
	ck_assert(lookup(a));
	ck_assert_uint_eq(got.s.body_dropped, sizeof(big) - 1);
	ck_assert_str_eq(got.body, "");
	ck_assert_int_le(got.s.expires_in, 100);

	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), 0);
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "subscriptions.max"));
	p.id = a;
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EEXIST);
	p.id = 0;
	p.account = "bob";
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), ENOENT);
	p.account = "alice";
	p.uri = "mailto:x@y";
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EINVAL);
	p.uri = peer_uri;
	p.event = "weather";
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EINVAL);
	p.event = "presence";
	p.expires = SUB_EXPIRES_MAX + 1;
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EINVAL);
	ck_assert_uint_eq(live(), 2);
}
END_TEST

/* ---- 2. as notifier -------------------------------------------------------- */

struct pwatch {
	char		 call_id[48];
	char		 tag[24];
	char		 to_tag[64];	/* ours, from the 200 */
	char		 ruri[128];	/* where the in-dialog requests go */
	uint32_t	 cseq;
};

static void
pwatch_init(struct pwatch *w)
{
	static unsigned seq;

	memset(w, 0, sizeof(*w));
	snprintf(w->call_id, sizeof(w->call_id), "watch-%u-%d", ++seq,
	    (int)getpid());
	snprintf(w->tag, sizeof(w->tag), "w%u", seq);
	snprintf(w->ruri, sizeof(w->ruri), "sip:alice@127.0.0.1:%d", ua_port);
	w->cseq = 1;
}

/* The watcher's SUBSCRIBE (in its dialog once to_tag is known). */
static void
watch_subscribe(struct pwatch *w, const char *user, const char *event,
    const char *hdrs)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "SUBSCRIBE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-w%u-%d;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:watcher@127.0.0.1>;tag=%s\r\n"
	    "To: <sip:%s@127.0.0.1>%s%s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u SUBSCRIBE\r\n"
	    "Contact: <sip:watcher@127.0.0.1:%d>\r\n",
	    w->to_tag[0] != '\0' ? w->ruri : "sip:alice@127.0.0.1",
	    mock.port, ++branch_seq, (int)getpid(), w->tag, user,
	    w->to_tag[0] != '\0' ? ";tag=" : "", w->to_tag, w->call_id,
	    w->cseq++, mock.port);
	if (w->to_tag[0] == '\0') {
		/* The initial one goes to the ua's own address. */
		strbuf_free(&sb);
		strbuf_addf(&sb, "SUBSCRIBE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-w%u-%d;"
		    "rport\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:watcher@127.0.0.1>;tag=%s\r\n"
		    "To: <sip:%s@127.0.0.1>\r\n"
		    "Call-ID: %s\r\n"
		    "CSeq: %u SUBSCRIBE\r\n"
		    "Contact: <sip:watcher@127.0.0.1:%d>\r\n", user, ua_port,
		    mock.port, ++branch_seq, (int)getpid(), w->tag, user,
		    w->call_id, w->cseq - 1, mock.port);
	}
	if (event != NULL)
		strbuf_addf(&sb, "Event: %s\r\n", event);
	if (hdrs != NULL)
		strbuf_adds(&sb, hdrs);
	strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	peer_send(sb.p);
	strbuf_free(&sb);
}

/* The last answer to the watcher's SUBSCRIBEs. */
static struct pm *
watch_answer(void)
{
	return rsp_last(SIP_METHOD_SUBSCRIBE);
}

static size_t
nrsp_any(enum sip_method m)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++)
		k += !mock.in[i].msg->request &&
		    mock.in[i].msg->cseq.method == m;
	return k;
}

static void
start_presence(bool accept, bool registers)
{
	struct account_cfg *c = mk_cfg();

	if (accept)
		c->accept_events = 1u << SUB_PKG_PRESENCE;
	c->register_on = registers;
	start_with(c, NULL);
}

START_TEST(test_serve_refusals)
{
	struct pwatch w;
	struct pm *a;
	size_t n = 0;

	/* By default every package: 489, and no Allow-Events to list. */
	start_presence(false, false);
	pwatch_init(&w);
	watch_subscribe(&w, "alice", "presence", NULL);
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	a = watch_answer();
	ck_assert_uint_eq(a->msg->status, 489);
	ck_assert_ptr_null(hval(a, "Allow-Events"));
	ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(test_serve_refusals_accepting)
{
	struct pwatch w;
	struct pm *a;
	size_t n = 0;

	start_presence(true, false);
	/* A package not accepted: 489 with what is (§8.2.2). */
	pwatch_init(&w);
	watch_subscribe(&w, "alice", "message-summary", NULL);
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	a = watch_answer();
	ck_assert_uint_eq(a->msg->status, 489);
	ck_assert_str_eq(hval(a, "Allow-Events"), "presence");
	/* No such user: 404. */
	pwatch_init(&w);
	watch_subscribe(&w, "carol", "presence", NULL);
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	ck_assert_uint_eq(watch_answer()->msg->status, 404);
	/* No Event: 400. */
	pwatch_init(&w);
	watch_subscribe(&w, "alice", NULL, NULL);
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	ck_assert_uint_eq(watch_answer()->msg->status, 400);
	/* An Accept without PIDF: 406. */
	pwatch_init(&w);
	watch_subscribe(&w, "alice", "presence", "Accept: text/plain\r\n");
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	a = watch_answer();
	ck_assert_uint_eq(a->msg->status, 406);
	ck_assert_str_eq(hval(a, "Accept"), "application/pidf+xml");
	/* Too brief: 423 with Min-Expires. */
	pwatch_init(&w);
	watch_subscribe(&w, "alice", "presence", "Expires: 5\r\n");
	n++;
	WAIT_FOR(nrsp_any(SIP_METHOD_SUBSCRIBE) == n, 1000);
	a = watch_answer();
	ck_assert_uint_eq(a->msg->status, 423);
	ck_assert_int_eq((int)a->msg->min_expires, SUB_SERVE_MIN_EXPIRES);
	ck_assert_uint_eq(live(), 0);
}
END_TEST

/* The watcher's side: answers our NOTIFYs; learns our tag. */
static struct pwatch wt;

static void
learn_to_tag(struct pwatch *w)
{
	struct pm *a = watch_answer();

	ck_assert_uint_eq(a->msg->status, 200);
	snprintf(w->to_tag, sizeof(w->to_tag), "%s", cs(a->msg->to.tag));
	ck_assert_uint_ge(a->msg->ncontact, 1);
	snprintf(w->ruri, sizeof(w->ruri), "%s",
	    cs(a->msg->contact[0].addr.uri_str));
}

static const char *
notify_body(size_t k)
{
	return cs(req(SIP_METHOD_NOTIFY, k)->msg->body);
}

START_TEST(test_serve_presence)
{
	struct pm *a, *n0;
	char want[64];

	start_presence(true, false);
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", "Expires: 600\r\n"
	    "Accept: application/pidf+xml\r\n");
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 1, 1000);
	a = watch_answer();
	ck_assert_uint_eq(a->msg->status, 200);
	ck_assert_int_eq((int)a->msg->expires, 600);
	ck_assert_uint_ge(a->msg->to.tag.n, 8);
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(cs(a->msg->contact[0].addr.uri_str), want);
	learn_to_tag(&wt);
	/* RFC 6665 §4.2.1.2: the state at once, in the dialog. */
	n0 = req(SIP_METHOD_NOTIFY, 0);
	snprintf(want, sizeof(want), "sip:watcher@127.0.0.1:%d", mock.port);
	ck_assert_str_eq(cs(n0->msg->ruri_str), want);
	ck_assert_str_eq(cs(n0->msg->call_id), wt.call_id);
	ck_assert_str_eq(cs(n0->msg->to.tag), wt.tag);
	ck_assert_str_eq(cs(n0->msg->from.tag), wt.to_tag);
	ck_assert_str_eq(hval(n0, "Event"), "presence");
	ck_assert_ptr_nonnull(strstr(hval(n0, "Subscription-State"),
	    "active;expires="));
	ck_assert_str_eq(hval(n0, "Content-Type"), "application/pidf+xml");
	ck_assert_ptr_nonnull(strstr(notify_body(0),
	    "entity=\"sip:alice@127.0.0.1\""));
	ck_assert_ptr_nonnull(strstr(notify_body(0), "<basic>open</basic>"));
	ck_assert_uint_eq(live(), 1);
	ck_assert_int_eq(ev_last("subscription.state") >= 0, 1);
	ck_assert_str_eq(evlog.state[ev_last("subscription.state")], "active");

	/* Expires: 0: 200 and the final NOTIFY (§4.4.3). */
	watch_subscribe(&wt, "alice", "presence", "Expires: 0\r\n");
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 2, 1000);
	ck_assert_uint_eq(watch_answer()->msg->status, 200);
	ck_assert_ptr_nonnull(strstr(hval(req(SIP_METHOD_NOTIFY, 1),
	    "Subscription-State"), "terminated;reason=timeout"));
	WAIT_FOR(live() == 0, 1000);
}
END_TEST

/* A registration that comes and goes: closed, then open (a NOTIFY). */
START_TEST(test_serve_presence_change)
{
	struct account *acct;

	start_presence(true, true);
	acct = account_set_find(&set, "alice");
	acct->reg_state = REG_STATE_UNREGISTERED;
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 1, 1000);
	learn_to_tag(&wt);
	ck_assert_int_eq((int)watch_answer()->msg->expires, 3600);
	ck_assert_ptr_nonnull(strstr(notify_body(0),
	    "<basic>closed</basic>"));
	acct->reg_state = REG_STATE_REGISTERED;
	events_publish("account.state", "alice", "state", "registered",
	    NULL);
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 2, 1000);
	ck_assert_ptr_nonnull(strstr(notify_body(1), "<basic>open</basic>"));
	/* Another event that changes nothing: no NOTIFY. */
	events_publish("account.state", "alice", "state", "registered",
	    NULL);
	run_for(100);
	ck_assert_uint_eq(nreq(SIP_METHOD_NOTIFY), 2);
	/* A refresh: 200 and the state again. */
	watch_subscribe(&wt, "alice", "presence", "Expires: 120\r\n");
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 3, 1000);
	ck_assert_int_eq((int)watch_answer()->msg->expires, 120);
	ck_assert_ptr_nonnull(strstr(hval(req(SIP_METHOD_NOTIFY, 2),
	    "Subscription-State"), "active;expires=12"));
}
END_TEST

/* §4.2.2: a watcher that answers 481 is dropped. */
START_TEST(test_serve_481)
{
	start_presence(true, false);
	mock.notify_status = 481;
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 1, 1000);
	WAIT_FOR(live() == 0, 1000);
}
END_TEST

START_TEST(test_serve_stop)
{
	start_presence(true, false);
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 1, 1000);
	learn_to_tag(&wt);
	stopped = 0;
	sub_agent_stop(ag, on_stopped, NULL);
	WAIT_FOR(stopped == 1, 2000);
	ck_assert_uint_eq(nreq(SIP_METHOD_NOTIFY), 2);
	ck_assert_ptr_nonnull(strstr(hval(req(SIP_METHOD_NOTIFY, 1),
	    "Subscription-State"), "terminated;reason=deactivated"));
	/* A stopping notifier takes no one new. */
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nrsp(503, SIP_METHOD_SUBSCRIBE) == 1, 1000);
}
END_TEST

/* The cap counts watchers too: 503 over it. */
START_TEST(test_serve_cap)
{
	struct sub_conf conf = { .max = 1, .body_max = 1024 };
	struct account_cfg *c = mk_cfg();

	c->accept_events = 1u << SUB_PKG_PRESENCE;
	start_with(c, &conf);
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nreq(SIP_METHOD_NOTIFY) == 1, 1000);
	pwatch_init(&wt);
	watch_subscribe(&wt, "alice", "presence", NULL);
	WAIT_FOR(nrsp(503, SIP_METHOD_SUBSCRIBE) == 1, 1000);
	ck_assert_ptr_nonnull(hval(watch_answer(), "Retry-After"));
	ck_assert_uint_eq(live(), 1);
}
END_TEST

/* Watchers take half of subscriptions.max at most: ours keep room. */
START_TEST(test_serve_cap_half)
{
	struct sub_conf conf = { .max = 4, .body_max = 1024 };
	struct sub_params p = { .account = "alice", .event = "presence" };
	struct account_cfg *c = mk_cfg();
	char err[256];
	uint64_t id;

	c->accept_events = 1u << SUB_PKG_PRESENCE;
	start_with(c, &conf);
	for (int i = 0; i < 3; i++) {
		pwatch_init(&wt);
		watch_subscribe(&wt, "alice", "presence", NULL);
	}
	WAIT_FOR(nrsp(503, SIP_METHOD_SUBSCRIBE) == 1, 1000);
	ck_assert_uint_eq(live(), 2);
	p.uri = peer_uri;
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), 0);
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), 0);
	ck_assert_int_eq(sub_subscribe(ag, &p, &id, err, sizeof(err)), EBUSY);
}
END_TEST

static Suite *
sub_suite(void)
{
	Suite *s = suite_create("subscription");
	TCase *tc = tcase_create("subscriber");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_2xx_then_notify);
	tcase_add_test(tc, test_notify_before_2xx);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_423);
	tcase_add_test(tc, test_407);
	tcase_add_test(tc, test_terminated_reasons);
	tcase_add_test(tc, test_481_on_refresh);
	tcase_add_test(tc, test_unsubscribe);
	tcase_add_test(tc, test_unsubscribe_no_final);
	tcase_add_test(tc, test_no_notify);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_forked_notify);
	tcase_add_test(tc, test_notify_checks);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("notifier");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_serve_refusals);
	tcase_add_test(tc, test_serve_refusals_accepting);
	tcase_add_test(tc, test_serve_presence);
	tcase_add_test(tc, test_serve_presence_change);
	tcase_add_test(tc, test_serve_481);
	tcase_add_test(tc, test_serve_stop);
	tcase_add_test(tc, test_serve_cap);
	tcase_add_test(tc, test_serve_cap_half);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sub_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
