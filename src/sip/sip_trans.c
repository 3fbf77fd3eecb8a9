/*
 * The transaction layer (see sip_trans.h): the layer object, the tables
 * that find a transaction for an incoming message (RFC 3261 §17.1.3 for
 * responses, §17.2.3 for requests, with the RFC 2543 fallback), the
 * dispatch of what matches nothing, CANCEL matching (§9.2), counters,
 * the listing, and what client and server transactions share (timers,
 * sending, the deferred free).  The state machines live in sip_ctrans.c
 * and sip_strans.c; this file has no state of its own to speak of.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_trans.h"

#define SIP_TRANS_BUCKETS_MIN	256
/* RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this. */
#define SIP_BRANCH_COOKIE	"z9hG4bK"

void
sip_trans_conf_default(struct sip_trans_conf *c)
{
	c->t1_ms = 500;
	c->t2_ms = 4000;
	c->t4_ms = 5000;
	c->timer_d_ms = 0;
	c->trying_ms = 200;
}

const char *
sip_trans_kind_name(enum sip_trans_kind k)
{
	switch (k) {
	case SIP_TRANS_CLIENT_INVITE:		return "client-invite";
	case SIP_TRANS_CLIENT_NON_INVITE:	return "client-non-invite";
	case SIP_TRANS_SERVER_INVITE:		return "server-invite";
	case SIP_TRANS_SERVER_NON_INVITE:	return "server-non-invite";
	case SIP_TRANS_KIND__COUNT:		break;
	}
	return "?";
}

static bool
kind_is_server(enum sip_trans_kind k)
{
	return k == SIP_TRANS_SERVER_INVITE || k == SIP_TRANS_SERVER_NON_INVITE;
}

/* ---- hash tables --------------------------------------------------------- */

/* FNV-1a over the branch folded to lower case (§7.3.1: case-insensitive). */
static size_t
branch_hash(struct slice b)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < b.n; i++) {
		unsigned char c = (unsigned char)b.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static void
table_init(struct sip_trans_table *tb)
{
	tb->n = SIP_TRANS_BUCKETS_MIN;
	tb->v = xcalloc(tb->n, sizeof(*tb->v));
	tb->count = 0;
}

static void
table_grow(struct sip_trans_table *tb)
{
	size_t n = tb->n * 2;
	struct sip_trans **v = xcalloc(n, sizeof(*v));

	for (size_t i = 0; i < tb->n; i++) {
		struct sip_trans *t, *next;

		for (t = tb->v[i]; t != NULL; t = next) {
			size_t b = branch_hash(slice_cstr(t->branch)) &
			    (n - 1);

			next = t->hnext;
			t->hnext = v[b];
			v[b] = t;
		}
	}
	free(tb->v);
	tb->v = v;
	tb->n = n;
}

static void
table_add(struct sip_trans_table *tb, struct sip_trans *t)
{
	size_t b;

	if (tb->count >= tb->n * 2)
		table_grow(tb);
	b = branch_hash(slice_cstr(t->branch)) & (tb->n - 1);
	t->hnext = tb->v[b];
	tb->v[b] = t;
	tb->count++;
	t->in_table = true;
}

static void
table_del(struct sip_trans_table *tb, struct sip_trans *t)
{
	size_t b = branch_hash(slice_cstr(t->branch)) & (tb->n - 1);

	for (struct sip_trans **pp = &tb->v[b]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			t->hnext = NULL;
			tb->count--;
			t->in_table = false;
			return;
		}
	}
}

/* §17.1.3: branch of the top Via and the CSeq method. */
struct sip_trans *
sip_trans_find_client(struct sip_trans_layer *l, struct slice branch,
    struct slice method)
{
	size_t b = branch_hash(branch) & (l->clients.n - 1);

	for (struct sip_trans *t = l->clients.v[b]; t != NULL; t = t->hnext)
		if (slice_caseeq_cstr(branch, t->branch) &&
		    slice_eq_cstr(method, t->method))
			return t;
	return NULL;
}

/* §17.2.3: branch, sent-by of the top Via, and method. */
static struct sip_trans *
find_server(struct sip_trans_layer *l, const struct sip_via *via,
    const char *method)
{
	size_t b = branch_hash(via->branch) & (l->servers.n - 1);

	for (struct sip_trans *t = l->servers.v[b]; t != NULL; t = t->hnext)
		if (slice_caseeq_cstr(via->branch, t->branch) &&
		    slice_caseeq_cstr(via->host, t->sent_by_host) &&
		    via->port == t->sent_by_port &&
		    strcmp(method, t->method) == 0)
			return t;
	return NULL;
}

static bool
has_cookie(struct slice branch)
{
	return branch.n > strlen(SIP_BRANCH_COOKIE) &&
	    memcmp(branch.p, SIP_BRANCH_COOKIE, strlen(SIP_BRANCH_COOKIE)) == 0;
}

/* ---- shared transaction plumbing ----------------------------------------- */

void
sip_trans_init(struct sip_trans_layer *l, struct sip_trans *t,
    enum sip_trans_kind kind, const struct sip_msg *req,
    const struct sip_dest *dst, void (*reap)(int, short, void *), void *obj)
{
	const struct sip_via *via = req->nvia > 0 ? &req->via[0] : NULL;

	t->layer = l;
	t->id = ++l->next_id;
	t->kind = kind;
	t->method = xstrndup(req->method_str.p, req->method_str.n);
	t->branch = via != NULL ? xstrndup(via->branch.p, via->branch.n) :
	    xstrdup("");
	if (kind_is_server(kind)) {
		t->sent_by_host = via != NULL ?
		    xstrndup(via->host.p, via->host.n) : xstrdup("");
		t->sent_by_port = via != NULL ? via->port : 0;
		t->rfc2543 = via == NULL || !has_cookie(via->branch);
	}
	t->created_us = time_mono_us();
	if (dst != NULL)
		t->dest = *dst;
	t->reap = event_new(l->base, -1, 0, reap, obj);
	if (t->reap == NULL)
		fatalx("event_new");
	l->stats.created[kind]++;
}

void
sip_trans_link(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	TAILQ_INSERT_TAIL(&l->all, t, entry);
	l->live++;
	if (kind_is_server(t->kind)) {
		if (!t->rfc2543)
			table_add(&l->servers, t);
	} else
		table_add(&l->clients, t);
}

void
sip_trans_terminate(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	if (t->dead)
		return;
	t->dead = true;
	if (t->in_table)
		table_del(kind_is_server(t->kind) ? &l->servers : &l->clients,
		    t);
	l->live--;
	l->stats.terminated[t->kind]++;
	/* Never freed under a caller: the reap runs from the loop. */
	event_active(t->reap, EV_TIMEOUT, 0);
}

void
sip_trans_fini(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	if (!t->dead) {
		/* Layer teardown of a live transaction. */
		if (t->in_table)
			table_del(kind_is_server(t->kind) ? &l->servers :
			    &l->clients, t);
		l->live--;
	}
	TAILQ_REMOVE(&l->all, t, entry);
	event_free(t->reap);
	free(t->method);
	free(t->branch);
	free(t->sent_by_host);
}

int
sip_trans_tp_send(struct sip_trans *t, const char *buf, size_t len)
{
	struct sip_trans_layer *l = t->layer;
	int rc = l->ops->send(l->tp, &t->dest, buf, len);

	if (rc != 0)
		l->stats.tp_errors++;
	return rc;
}

static void
trans_info(const struct sip_trans *t, struct sip_trans_info *i,
    const char *state)
{
	i->id = t->id;
	i->kind = t->kind;
	i->server = kind_is_server(t->kind);
	i->role = i->server ? "server" : "client";
	i->method = t->method;
	i->state = state;
	i->branch = t->branch;
	i->age_ms = (time_mono_us() - t->created_us) / 1000;
}

void
sip_trans_traced(struct sip_trans *t, const char *method, const char *from,
    const char *to)
{
	struct sip_trans_layer *l = t->layer;
	struct sip_trans_info i;

	log_debug("transaction %llu %s %s: %s -> %s",
	    (unsigned long long)t->id, sip_trans_kind_name(t->kind), method,
	    from != NULL ? from : "-", to);
	if (l->trace_h != NULL) {
		trans_info(t, &i, to);
		l->trace_h(&i, from, l->trace_arg);
	}
}

struct event *
sip_trans_timer_new(struct sip_trans_layer *l, void (*cb)(int, short, void *),
    void *arg)
{
	struct event *ev = event_new(l->base, -1, 0, cb, arg);

	if (ev == NULL)
		fatalx("event_new");
	return ev;
}

void
sip_trans_timer_arm(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(ev, &tv);
}

unsigned
sip_trans_status_of(const char *buf, size_t len)
{
	unsigned st = 0;

	if (len < 12 || memcmp(buf, "SIP/2.0 ", 8) != 0 || buf[11] != ' ')
		return 0;
	for (int i = 8; i < 11; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return 0;
		st = st * 10 + (unsigned)(buf[i] - '0');
	}
	return st >= 100 && st <= 699 ? st : 0;
}

/* ---- the layer ----------------------------------------------------------- */

struct sip_trans_layer *
sip_trans_layer_new(struct event_base *base, const struct sip_trans_conf *c,
    const struct sip_tp_ops *ops, void *tp)
{
	struct sip_trans_layer *l = xcalloc(1, sizeof(*l));

	l->base = base;
	sip_trans_set_conf(l, c);
	l->ops = ops;
	l->tp = tp;
	table_init(&l->clients);
	table_init(&l->servers);
	TAILQ_INIT(&l->all);
	return l;
}

void
sip_trans_set_conf(struct sip_trans_layer *l, const struct sip_trans_conf *c)
{
	if (c != NULL)
		l->conf = *c;
	else
		sip_trans_conf_default(&l->conf);
	if (l->conf.t1_ms == 0)
		l->conf.t1_ms = 500;
	if (l->conf.t2_ms < l->conf.t1_ms)
		l->conf.t2_ms = l->conf.t1_ms;
}

void
sip_trans_layer_free(struct sip_trans_layer *l)
{
	struct sip_trans *t;

	if (l == NULL)
		return;
	while ((t = TAILQ_FIRST(&l->all)) != NULL) {
		if (kind_is_server(t->kind))
			sip_strans_free((struct sip_strans *)t);
		else
			sip_ctrans_free((struct sip_ctrans *)t);
	}
	free(l->clients.v);
	free(l->servers.v);
	free(l);
}

void
sip_trans_set_request_handler(struct sip_trans_layer *l,
    sip_trans_request_h *h, void *arg)
{
	l->request_h = h;
	l->request_arg = arg;
}

void
sip_trans_set_stateless_handler(struct sip_trans_layer *l,
    sip_trans_stateless_h *h, void *arg)
{
	l->stateless_h = h;
	l->stateless_arg = arg;
}

int
sip_trans_send_stateless(struct sip_trans_layer *l,
    const struct sip_dest *src, const char *buf, size_t len)
{
	struct sip_dest d = *src;
	int rc = l->ops->send(l->tp, &d, buf, len);

	if (rc != 0)
		l->stats.tp_errors++;
	return rc;
}

void
sip_trans_set_trace(struct sip_trans_layer *l, sip_trans_trace_h *h,
    void *arg)
{
	l->trace_h = h;
	l->trace_arg = arg;
}

const struct sip_trans_stats *
sip_trans_stats(const struct sip_trans_layer *l)
{
	return &l->stats;
}

size_t
sip_trans_count(const struct sip_trans_layer *l)
{
	return l->live;
}

void
sip_trans_foreach(struct sip_trans_layer *l,
    void (*fn)(const struct sip_trans_info *, void *), void *arg)
{
	struct sip_trans *t;
	struct sip_trans_info i;

	TAILQ_FOREACH(t, &l->all, entry) {
		if (t->dead)
			continue;
		trans_info(t, &i, kind_is_server(t->kind) ?
		    sip_strans_state_name_of(t) : sip_ctrans_state_name_of(t));
		fn(&i, arg);
	}
}

void
sip_trans_tp_failed(struct sip_trans_layer *l, uint64_t conn_id, int err)
{
	struct sip_trans *t;

	if (conn_id == 0)
		return;
	/* Handlers may start transactions (appended) but free none. */
	TAILQ_FOREACH(t, &l->all, entry) {
		if (t->dead || t->dest.conn_id != conn_id)
			continue;
		l->stats.tp_errors++;
		if (kind_is_server(t->kind))
			sip_strans_tp_failed((struct sip_strans *)t, err);
		else
			sip_ctrans_tp_failed((struct sip_ctrans *)t, err);
	}
}

/* A request's server transaction by §17.2.3; ACK finds its INVITE. */
static struct sip_strans *
match_request(struct sip_trans_layer *l, const struct sip_msg *req,
    const char *method, bool cancel)
{
	const struct sip_via *via = &req->via[0];
	struct sip_trans *t;

	if (has_cookie(via->branch)) {
		t = find_server(l, via, method);
		return (struct sip_strans *)t;
	}
	/* RFC 2543 peers: compare the fields that made the transaction. */
	TAILQ_FOREACH(t, &l->all, entry)
		if (!t->dead && t->rfc2543 && strcmp(t->method, method) == 0 &&
		    sip_strans_match_2543((struct sip_strans *)t, req, cancel))
			return (struct sip_strans *)t;
	return NULL;
}

struct sip_strans *
sip_trans_find_invite(struct sip_trans_layer *l, const struct sip_msg *cancel)
{
	if (!cancel->request || cancel->nvia == 0)
		return NULL;
	return match_request(l, cancel, "INVITE", true);
}

static void
recv_response(struct sip_trans_layer *l, struct sip_msg *msg)
{
	struct sip_trans *t = NULL;

	if (msg->nvia > 0 && !slice_empty(msg->via[0].branch))
		t = sip_trans_find_client(l, msg->via[0].branch,
		    msg->cseq.method_str);
	if (t == NULL) {
		/* §17.1.3 / §18.1.2: no transaction, a stray: drop it. */
		l->stats.stray_responses++;
		log_debug("stray %u response to %.*s dropped", msg->status,
		    SLICE_ARG(msg->cseq.method_str));
		return;
	}
	sip_ctrans_recv((struct sip_ctrans *)t, msg);
}

static void
recv_request(struct sip_trans_layer *l, struct sip_msg *msg,
    const struct sip_dest *src)
{
	struct sip_strans *st;
	char *method;

	if (msg->nvia == 0) {
		l->stats.dropped++;
		sip_msg_free(msg);
		return;
	}
	method = xstrndup(msg->method_str.p, msg->method_str.n);
	st = match_request(l, msg, msg->method == SIP_METHOD_ACK ? "INVITE" :
	    method, false);
	free(method);
	if (st != NULL) {
		sip_strans_recv(st, msg);
		sip_msg_free(msg);
		return;
	}
	if (msg->method == SIP_METHOD_ACK) {
		/* §17.2.3: an ACK for a 2xx matches nothing: the TU's. */
		if (l->request_h != NULL)
			l->request_h(l, NULL, msg, l->request_arg);
		sip_msg_free(msg);
		return;
	}
	if (l->stateless_h != NULL &&
	    l->stateless_h(l, msg, src, l->stateless_arg)) {
		sip_msg_free(msg);
		return;
	}
	st = sip_strans_new(l, msg, src);
	if (l->request_h != NULL)
		l->request_h(l, st, msg, l->request_arg);
	else
		sip_strans_reply(st, 503, "Service Unavailable", NULL);
}

void
sip_trans_recv(struct sip_trans_layer *l, struct sip_msg *msg,
    const struct sip_dest *src)
{
	if (msg->request) {
		recv_request(l, msg, src);
		return;
	}
	recv_response(l, msg);
	sip_msg_free(msg);
}
