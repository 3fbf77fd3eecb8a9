/*
 * The transaction layer (see sip_trans.h): the layer object, the tables
 * that find a transaction for an incoming message (RFC 3261 §17.1.3 for
 * responses, §17.2.3 for requests; RFC 2543 requests in their own table;
 * keyed hashes so that peers cannot pick colliding keys), the dispatch of what matches nothing, the
 * cap on live transactions with its stateless 503, CANCEL matching
 * (§9.2), counters, the listing, and what client and server
 * transactions share (one allocation and one timer each, sending, the
 * deferred free, giving memory back after a flood).  The state machines
 * live in sip_ctrans.c and sip_strans.c, reached through their
 * struct sip_trans_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_trans_priv.h"

#define SIP_TRANS_BUCKETS_MIN	256
/* Extra key strings a transaction may keep (RFC 2543 matching). */
#define SIP_TRANS_MAX_EXTRA	8
/*
 * Memory back after a flood: checked every second once the live count
 * has reached SIP_TRANS_TRIM_PEAK, trimmed when it has fallen below
 * 1/SIP_TRANS_TRIM_RATIO of its peak.
 */
#define SIP_TRANS_TRIM_PEAK	1024
#define SIP_TRANS_TRIM_RATIO	8
#define SIP_TRANS_TRIM_EVERY_MS	1000
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

/* ---- hash tables --------------------------------------------------------- */

/*
 * The tables are keyed with SipHash-2-4 under a random per-layer key:
 * with an unkeyed hash a peer can compute keys that share a bucket and
 * make every lookup walk a chain as long as the transaction cap.  Each
 * hash covers every field that the match compares exactly (folded where
 * the match ignores case), so no field an attacker varies freely while
 * keeping the others fixed leaves the bucket unchanged.
 */
struct khash {
	uint64_t	v[4];
	uint64_t	tail;		/* bytes not yet compressed */
	size_t		len;		/* bytes fed in all */
};

#define ROTL64(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

static void
khash_round(uint64_t *v)
{
	v[0] += v[1]; v[1] = ROTL64(v[1], 13); v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3]; v[3] = ROTL64(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL64(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL64(v[1], 17); v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

static void
khash_init(struct khash *h, const uint64_t key[2])
{
	h->v[0] = key[0] ^ 0x736f6d6570736575ULL;
	h->v[1] = key[1] ^ 0x646f72616e646f6dULL;
	h->v[2] = key[0] ^ 0x6c7967656e657261ULL;
	h->v[3] = key[1] ^ 0x7465646279746573ULL;
	h->tail = 0;
	h->len = 0;
}

static void
khash_byte(struct khash *h, unsigned char c)
{
	h->tail |= (uint64_t)c << (8 * (h->len & 7));
	if ((++h->len & 7) == 0) {
		h->v[3] ^= h->tail;
		khash_round(h->v);
		khash_round(h->v);
		h->v[0] ^= h->tail;
		h->tail = 0;
	}
}

/* A field: its length first, so that no two splits of a text collide. */
static void
khash_add(struct khash *h, struct slice s, bool fold)
{
	for (int i = 0; i < 4; i++)
		khash_byte(h, (unsigned char)(s.n >> (8 * i)));
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		khash_byte(h, c);
	}
}

static void
khash_add_u32(struct khash *h, uint32_t u)
{
	for (int i = 0; i < 4; i++)
		khash_byte(h, (unsigned char)(u >> (8 * i)));
}

static uint32_t
khash_end(struct khash *h)
{
	uint64_t b = ((uint64_t)h->len << 56) | h->tail;

	h->v[3] ^= b;
	khash_round(h->v);
	khash_round(h->v);
	h->v[0] ^= b;
	h->v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		khash_round(h->v);
	b = h->v[0] ^ h->v[1] ^ h->v[2] ^ h->v[3];
	return (uint32_t)(b ^ (b >> 32));
}

/* §17.1.3: branch (case-insensitive, §7.3.1) and CSeq method. */
static uint32_t
client_hash(const struct sip_trans_layer *l, struct slice branch,
    struct slice method)
{
	struct khash h;

	khash_init(&h, l->hash_key);
	khash_add(&h, branch, true);
	khash_add(&h, method, false);
	return khash_end(&h);
}

/*
 * §17.2.3: branch and sent-by host (case-insensitive), port, method
 * (an ACK looks up with INVITE, the method of its transaction).
 */
static uint32_t
server_hash(const struct sip_trans_layer *l, struct slice branch,
    struct slice host, uint16_t port, struct slice method)
{
	struct khash h;

	khash_init(&h, l->hash_key);
	khash_add(&h, branch, true);
	khash_add(&h, host, true);
	khash_add_u32(&h, port);
	khash_add(&h, method, false);
	return khash_end(&h);
}

/*
 * RFC 2543 requests have no usable branch: the key is what
 * sip_strans_match_2543() compares and an INVITE shares with its
 * retransmissions, its ACK and its CANCEL: Call-ID, CSeq number, From
 * tag, the top Via (transport and host folded, port, branch if any) and
 * the method looked up.  Not the To tag (the ACK's differs) nor the
 * Request-URI (compared by URI rules, not as text).
 */
static uint32_t
old_hash(const struct sip_trans_layer *l, const struct sip_msg *req,
    struct slice method)
{
	static const struct sip_via none;
	const struct sip_via *v = req->nvia > 0 ? &req->via[0] : &none;
	struct khash h;

	khash_init(&h, l->hash_key);
	khash_add(&h, req->call_id, false);
	khash_add_u32(&h, req->cseq.num);
	khash_add(&h, req->from.tag, false);
	khash_add(&h, v->transport, true);
	khash_add(&h, v->host, true);
	khash_add_u32(&h, v->port);
	khash_add(&h, v->branch, false);
	khash_add(&h, method, false);
	return khash_end(&h);
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
			size_t b = t->hash & (n - 1);

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
	b = t->hash & (tb->n - 1);
	t->hnext = tb->v[b];
	tb->v[b] = t;
	tb->count++;
	t->in_table = true;
}

static void
table_del(struct sip_trans_table *tb, struct sip_trans *t)
{
	size_t b = t->hash & (tb->n - 1);

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

static size_t
table_longest(const struct sip_trans_table *tb)
{
	size_t max = 0;

	for (size_t i = 0; i < tb->n; i++) {
		size_t len = 0;

		for (const struct sip_trans *t = tb->v[i]; t != NULL;
		    t = t->hnext)
			len++;
		if (len > max)
			max = len;
	}
	return max;
}

size_t
sip_trans_longest_chain(const struct sip_trans_layer *l)
{
	size_t a = table_longest(&l->clients);
	size_t b = table_longest(&l->servers);
	size_t c = table_longest(&l->old);

	return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

static struct sip_trans_table *
table_of(struct sip_trans_layer *l, const struct sip_trans *t)
{
	if (!t->server)
		return &l->clients;
	return t->rfc2543 ? &l->old : &l->servers;
}

/* §17.1.3: branch of the top Via and the CSeq method. */
struct sip_trans *
sip_trans_find_client(struct sip_trans_layer *l, struct slice branch,
    struct slice method)
{
	size_t b = client_hash(l, branch, method) & (l->clients.n - 1);

	for (struct sip_trans *t = l->clients.v[b]; t != NULL; t = t->hnext)
		if (slice_caseeq_cstr(branch, t->branch) &&
		    slice_eq_cstr(method, t->method))
			return t;
	return NULL;
}

/* §17.2.3: branch, sent-by of the top Via, and method. */
static struct sip_trans *
find_server(struct sip_trans_layer *l, const struct sip_via *via,
    struct slice method)
{
	size_t b = server_hash(l, via->branch, via->host, via->port,
	    method) & (l->servers.n - 1);

	for (struct sip_trans *t = l->servers.v[b]; t != NULL; t = t->hnext)
		if (slice_caseeq_cstr(via->branch, t->branch) &&
		    slice_caseeq_cstr(via->host, t->sent_by_host) &&
		    via->port == t->sent_by_port &&
		    slice_eq_cstr(method, t->method))
			return t;
	return NULL;
}

/* §17.2.3, RFC 2543 peers: the fields that made the transaction. */
static struct sip_trans *
find_old(struct sip_trans_layer *l, const struct sip_msg *req,
    struct slice method, bool cancel)
{
	size_t b = old_hash(l, req, method) & (l->old.n - 1);

	for (struct sip_trans *t = l->old.v[b]; t != NULL; t = t->hnext)
		if (slice_eq_cstr(method, t->method) &&
		    sip_strans_match_2543((struct sip_strans *)t, req, cancel))
			return t;
	return NULL;
}

static bool
has_cookie(struct slice branch)
{
	return branch.n > strlen(SIP_BRANCH_COOKIE) &&
	    memcmp(branch.p, SIP_BRANCH_COOKIE, strlen(SIP_BRANCH_COOKIE)) == 0;
}

bool
sip_trans_is_2543(const struct sip_msg *req)
{
	return req->nvia == 0 || !has_cookie(req->via[0].branch);
}

/* ---- shared transaction plumbing ----------------------------------------- */

#define ALIGN16(n)	(((n) + 15) & ~(size_t)15)

static void	trans_timer_cb(int, short, void *);

void *
sip_trans_new(struct sip_trans_layer *l, size_t size,
    enum sip_trans_kind kind, const struct sip_trans_ops *ops,
    const struct sip_msg *req, const struct sip_dest *dst,
    const struct slice *extra, const char **extra_out, size_t n)
{
	const struct sip_via *via = req->nvia > 0 ? &req->via[0] : NULL;
	bool server = kind == SIP_TRANS_SERVER_INVITE ||
	    kind == SIP_TRANS_SERVER_NON_INVITE;
	struct slice keys[3 + SIP_TRANS_MAX_EXTRA];
	const char **outs[3 + SIP_TRANS_MAX_EXTRA];
	size_t nk = 0, total, evsize = event_get_struct_event_size();
	struct sip_trans *t;
	char *p;

	if (n > SIP_TRANS_MAX_EXTRA)
		fatalx("sip_trans_new: too many keys");
	/*
	 * One block: the object, its timer event and its key strings, so
	 * that a held transaction costs one allocation besides its
	 * response, and comes back as a unit.
	 */
	total = ALIGN16(size) + ALIGN16(evsize);
	keys[nk] = req->method_str;
	nk++;
	keys[nk] = via != NULL ? via->branch : SLICE_NULL;
	nk++;
	if (server) {
		keys[nk] = via != NULL ? via->host : SLICE_NULL;
		nk++;
	}
	for (size_t i = 0; i < n; i++)
		keys[nk++] = extra[i];
	for (size_t i = 0; i < nk; i++)
		total += keys[i].n + 1;
	t = xcalloc(1, total);
	t->ev = (struct event *)((char *)t + ALIGN16(size));
	p = (char *)t->ev + ALIGN16(evsize);
	outs[0] = &t->method;
	outs[1] = &t->branch;
	if (server)
		outs[2] = &t->sent_by_host;
	for (size_t i = 0; i < n; i++)
		outs[nk - n + i] = &extra_out[i];
	for (size_t i = 0; i < nk; i++) {
		/* An absent part is an empty string (never memcpy NULL). */
		if (keys[i].n > 0)
			memcpy(p, keys[i].p, keys[i].n);
		p[keys[i].n] = '\0';
		*outs[i] = p;
		p += keys[i].n + 1;
	}

	t->layer = l;
	t->ops = ops;
	t->id = ++l->next_id;
	t->kind = kind;
	t->server = server;
	if (server) {
		t->sent_by_port = via != NULL ? via->port : 0;
		t->rfc2543 = sip_trans_is_2543(req);
	}
	if (!server)
		t->hash = client_hash(l, slice_cstr(t->branch),
		    slice_cstr(t->method));
	else if (t->rfc2543)
		t->hash = old_hash(l, req, slice_cstr(t->method));
	else
		t->hash = server_hash(l, slice_cstr(t->branch),
		    slice_cstr(t->sent_by_host), t->sent_by_port,
		    slice_cstr(t->method));
	t->created_us = time_mono_us();
	if (dst != NULL)
		t->dest = *dst;
	if (event_assign(t->ev, l->base, -1, 0, trans_timer_cb, t) != 0)
		fatalx("event_assign");
	l->stats.created[kind]++;
	return t;
}

static void
trim_arm(struct sip_trans_layer *l)
{
	struct timeval tv = { SIP_TRANS_TRIM_EVERY_MS / 1000,
	    (SIP_TRANS_TRIM_EVERY_MS % 1000) * 1000 };

	if (!event_pending(l->trim, EV_TIMEOUT, NULL))
		event_add(l->trim, &tv);
}

void
sip_trans_link(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	TAILQ_INSERT_TAIL(&l->all, t, entry);
	l->live++;
	if (l->live > l->peak) {
		l->peak = l->live;
		if (l->peak >= SIP_TRANS_TRIM_PEAK)
			trim_arm(l);
	}
	table_add(table_of(l, t), t);
}

static void
overload_set(struct sip_trans_layer *l, bool on)
{
	if (l->overloaded == on)
		return;
	l->overloaded = on;
	if (l->overload_h != NULL)
		l->overload_h(l, on, l->max, l->overload_arg);
}

/* Overload ends with some room, so that it does not flap per request. */
static void
overload_check(struct sip_trans_layer *l)
{
	if (l->overloaded && (l->max == 0 || l->live < l->max - l->max / 10))
		overload_set(l, false);
}

bool
sip_trans_admit(struct sip_trans_layer *l)
{
	if (l->max == 0 || l->live < l->max)
		return true;
	overload_set(l, true);
	return false;
}

void
sip_trans_terminate(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	if (t->dead)
		return;
	t->dead = true;
	t->due[0] = t->due[1] = 0;
	event_del(t->ev);
	if (t->in_table)
		table_del(table_of(l, t), t);
	TAILQ_REMOVE(&l->all, t, entry);
	TAILQ_INSERT_TAIL(&l->dead, t, entry);
	l->live--;
	l->stats.terminated[t->kind]++;
	overload_check(l);
	/* Never freed under a caller: the reap runs from the loop. */
	event_active(l->reap, EV_TIMEOUT, 0);
}

void
sip_trans_fini(struct sip_trans *t)
{
	struct sip_trans_layer *l = t->layer;

	event_del(t->ev);
	if (t->dead) {
		TAILQ_REMOVE(&l->dead, t, entry);
		return;
	}
	/* Layer teardown of a live transaction. */
	if (t->in_table)
		table_del(table_of(l, t), t);
	TAILQ_REMOVE(&l->all, t, entry);
	l->live--;
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
	i->server = t->server;
	i->role = i->server ? "server" : "client";
	i->method = t->method;
	i->state = state;
	i->branch = t->branch;
	i->age_ms = (time_mono_us() - t->created_us) / 1000;
}

void
sip_trans_traced(struct sip_trans *t, const char *from, const char *to)
{
	struct sip_trans_layer *l = t->layer;
	struct sip_trans_info i;

	log_debug("transaction %llu %s %s: %s -> %s",
	    (unsigned long long)t->id, sip_trans_kind_name(t->kind),
	    t->method, from != NULL ? from : "-", to);
	if (l->trace_h != NULL) {
		trans_info(t, &i, to);
		l->trace_h(&i, from, l->trace_arg);
	}
}

/* ---- one timer, two deadlines -------------------------------------------- */

/* Arms the event for the nearer deadline, or stops it. */
static void
trans_timer_rearm(struct sip_trans *t, uint64_t now)
{
	uint64_t next = 0, d;
	struct timeval tv;

	for (int i = 0; i < SIP_TRANS_NSLOTS; i++)
		if (t->due[i] != 0 && (next == 0 || t->due[i] < next))
			next = t->due[i];
	if (next == 0) {
		event_del(t->ev);
		return;
	}
	d = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(d / 1000000);
	tv.tv_usec = (suseconds_t)(d % 1000000);
	event_add(t->ev, &tv);
}

void
sip_trans_timer_set(struct sip_trans *t, int slot, unsigned ms)
{
	uint64_t now = time_mono_us();

	t->due[slot] = now + (uint64_t)ms * 1000;
	if (t->due[slot] == 0)
		t->due[slot] = 1;
	trans_timer_rearm(t, now);
}

void
sip_trans_timer_stop(struct sip_trans *t, int slot)
{
	if (t->due[slot] == 0)
		return;
	t->due[slot] = 0;
	trans_timer_rearm(t, time_mono_us());
}

/*
 * The deadlines that came due, earliest first.  libevent may wake us a
 * little before our clock says (it counts from its cached time): what
 * is not due yet is simply waited for again.
 */
static void
trans_timer_cb(int fd, short what, void *arg)
{
	struct sip_trans *t = arg;

	for (;;) {
		uint64_t now = time_mono_us();
		int slot = -1;

		for (int i = 0; i < SIP_TRANS_NSLOTS; i++)
			if (t->due[i] != 0 && t->due[i] <= now &&
			    (slot < 0 || t->due[i] < t->due[slot]))
				slot = i;
		if (slot < 0) {
			trans_timer_rearm(t, now);
			return;
		}
		t->due[slot] = 0;
		t->ops->on_timer(t, slot);
		if (t->dead)
			return;
	}
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

/* ---- the deferred free and the memory given back ------------------------- */

static void
reap_cb(int fd, short what, void *arg)
{
	struct sip_trans_layer *l = arg;
	struct sip_trans *t;

	/* A handler may end more transactions: they join this list. */
	while ((t = TAILQ_FIRST(&l->dead)) != NULL)
		t->ops->reap(t);
}

/*
 * After a flood the heap holds the freed memory of every transaction
 * that was live at the peak; malloc keeps it (glibc does not give back
 * the middle of its heap by itself).  Once the live count has fallen far
 * below its peak, hand the free pages back to the system.  The check
 * runs only while a peak is worth it, never on an idle daemon.
 */
static void
trim_cb(int fd, short what, void *arg)
{
	struct sip_trans_layer *l = arg;

	if (l->live > l->peak / SIP_TRANS_TRIM_RATIO) {
		trim_arm(l);
		return;
	}
	xalloc_trim();
	l->stats.trims++;
	l->peak = l->live;
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
	l->max = SIP_TRANS_MAX_DEFAULT;
	/* Fatal if it fails: a known key is the unkeyed hash again. */
	if (RAND_bytes((unsigned char *)l->hash_key,
	    (int)sizeof(l->hash_key)) != 1)
		fatalx("RAND_bytes");
	table_init(&l->clients);
	table_init(&l->servers);
	table_init(&l->old);
	TAILQ_INIT(&l->all);
	TAILQ_INIT(&l->dead);
	l->reap = event_new(base, -1, 0, reap_cb, l);
	l->trim = event_new(base, -1, 0, trim_cb, l);
	if (l->reap == NULL || l->trim == NULL)
		fatalx("event_new");
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
	while ((t = TAILQ_FIRST(&l->all)) != NULL)
		t->ops->free(t);
	while ((t = TAILQ_FIRST(&l->dead)) != NULL)
		t->ops->free(t);
	event_free(l->reap);
	event_free(l->trim);
	free(l->clients.v);
	free(l->servers.v);
	free(l->old.v);
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

void
sip_trans_set_overload_handler(struct sip_trans_layer *l,
    sip_trans_overload_h *h, void *arg)
{
	l->overload_h = h;
	l->overload_arg = arg;
}

void
sip_trans_set_limit(struct sip_trans_layer *l, size_t max)
{
	l->max = max;
	overload_check(l);
}

size_t
sip_trans_limit(const struct sip_trans_layer *l)
{
	return l->max;
}

bool
sip_trans_overloaded(const struct sip_trans_layer *l)
{
	return l->overloaded;
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
		trans_info(t, &i, t->ops->state_name(t));
		fn(&i, arg);
	}
}

void
sip_trans_tp_failed(struct sip_trans_layer *l, uint64_t conn_id, int err)
{
	struct sip_trans *t, **v = NULL;
	size_t n = 0, cap = 0;

	if (conn_id == 0)
		return;
	/*
	 * Handlers may start or end other transactions, which moves them
	 * between lists: take the set first.  Nothing is freed before the
	 * loop runs again, so the pointers hold; the ended are skipped.
	 */
	TAILQ_FOREACH(t, &l->all, entry) {
		if (t->dest.conn_id != conn_id)
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = t;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i]->dead || v[i]->dest.conn_id != conn_id)
			continue;
		l->stats.tp_errors++;
		v[i]->ops->tp_failed(v[i], err);
	}
	free(v);
}

/* A request's server transaction by §17.2.3; ACK finds its INVITE. */
static struct sip_strans *
match_request(struct sip_trans_layer *l, const struct sip_msg *req,
    struct slice method, bool cancel)
{
	const struct sip_via *via = &req->via[0];

	if (has_cookie(via->branch))
		return (struct sip_strans *)find_server(l, via, method);
	return (struct sip_strans *)find_old(l, req, method, cancel);
}

struct sip_strans *
sip_trans_find_invite(struct sip_trans_layer *l, const struct sip_msg *cancel)
{
	if (cancel == NULL || !cancel->request || cancel->nvia == 0)
		return NULL;
	return match_request(l, cancel, slice_cstr("INVITE"), true);
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
	t->ops->recv(t, msg);
}

/*
 * At the limit: a stateless 503 (§8.2.7, §21.5.4) with Retry-After.  Its
 * To tag is derived from the request, so a retransmission of the same
 * request gets the same answer.
 */
static void
refuse_request(struct sip_trans_layer *l, const struct sip_msg *msg,
    const struct sip_dest *src)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct khash h;
	char tag[9];

	khash_init(&h, l->hash_key);
	khash_add(&h, msg->call_id, false);
	khash_add(&h, msg->from.tag, false);
	khash_add(&h, msg->via[0].branch, false);
	snprintf(tag, sizeof(tag), "%08x", (unsigned)khash_end(&h));
	l->stats.overload_503++;
	sip_build_response_to(&b, msg, 503, "Service Unavailable", tag);
	sip_build_addf(&b, SIP_HDR_RETRY_AFTER, "%u", SIP_TRANS_RETRY_AFTER);
	sip_build_finish(&b, &out);
	sip_build_free(&b);
	sip_trans_send_stateless(l, src, out.p, out.n);
	strbuf_free(&out);
}

static void
recv_request(struct sip_trans_layer *l, struct sip_msg *msg,
    const struct sip_dest *src)
{
	struct sip_strans *st;
	struct slice method;

	if (msg->nvia == 0) {
		l->stats.dropped++;
		sip_msg_free(msg);
		return;
	}
	method = msg->method == SIP_METHOD_ACK ? slice_cstr("INVITE") :
	    msg->method_str;
	st = match_request(l, msg, method, false);
	if (st != NULL) {
		((struct sip_trans *)st)->ops->recv((struct sip_trans *)st,
		    msg);
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
	if (!sip_trans_admit(l)) {
		refuse_request(l, msg, src);
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
