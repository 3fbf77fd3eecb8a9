/*
 * RFC 3263 §4 resolution (see sip_resolve.h).  Owns the c-ares channel,
 * whose sockets and timeouts it watches with libevent events; the DNS
 * queries in flight, shared by every query that asks the same (name,
 * type) at the same time; a cache of raw answers keyed by (name, type),
 * least recently used evicted first; and the short list of targets the
 * caller marked as failed.  Answers are kept raw and parsed again on each
 * hit, so that SRV weights are drawn again for every query (RFC 2782).
 *
 * A query walks three stages, each a batch of DNS lookups answered in any
 * order: NAPTR (RFC 3263 §4.1), SRV (§4.2), and AAAA/A for each SRV target
 * (or for the host).  A stage ends when its last lookup answers; the next
 * stage starts from there.  The user's callback always runs from its own
 * loop event, never from inside a c-ares callback or sip_resolve_uri().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/queue.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_resolve.h"

#define DNS_T_A		1
#define DNS_T_SOA	6
#define DNS_T_AAAA	28
#define DNS_T_SRV	33
#define DNS_T_NAPTR	35
#define DNS_C_IN	1

/* Answers larger than this are used but not cached. */
#define CACHE_ABUF_MAX	16384
/* Targets remembered as failed at one time. */
#define FAILED_MAX	64

struct centry {
	struct centry		*hnext;
	TAILQ_ENTRY(centry)	 lru;
	uint64_t		 expires;	/* time_mono_us() */
	uint32_t		 hash;
	int			 type;
	int			 status;	/* ARES_SUCCESS, _ENO* */
	unsigned char		*abuf;
	int			 alen;
	char			 name[];
};
TAILQ_HEAD(centry_list, centry);

struct waiter {
	struct sip_resolve_query	*q;	/* NULL once cancelled */
	int				 tag;
};

/* One DNS query in flight, and the queries waiting for its answer. */
struct lookup {
	TAILQ_ENTRY(lookup)	 link;
	struct sip_resolve	*res;
	int			 type;
	struct waiter		*w;
	size_t			 nw, capw;
	char			 name[];
};
TAILQ_HEAD(lookup_list, lookup);

struct watch {
	int		 fd;
	struct event	*ev;
};

struct failed {
	enum sip_resolve_tp	 tp;
	struct sockaddr_storage	 addr;
	uint64_t		 until;
};

TAILQ_HEAD(query_list, sip_resolve_query);

struct sip_resolve {
	struct event_base	*base;
	ares_channel		 channel;
	struct event		*timer;
	struct watch		*watches;
	size_t			 nwatches, capwatches;
	struct lookup_list	 lookups;
	struct query_list	 queries;
	struct centry		**buckets;
	size_t			 nbuckets;	/* power of two */
	struct centry_list	 lru;		/* oldest use first */
	struct failed		 failed[FAILED_MAX];
	struct sip_resolve_config cfg;		/* servers not kept */
	struct sip_resolve_stats stats;
};

enum q_stage {
	Q_NAPTR,
	Q_SRV,
	Q_ADDR,
	Q_DONE,
	Q_DELIVERING,
};

struct srv_rec {
	uint16_t	 prio, weight, port;
	char		*target;
};

/* One SRV name to ask, for one transport. */
struct srvset {
	enum sip_resolve_tp	 tp;
	char			*name;
	struct srv_rec		*rec;
	size_t			 n;
	bool			 declined;	/* RFC 2782: target "." */
};

/* One host name to ask AAAA/A for, with the transport and port to use. */
struct slot {
	enum sip_resolve_tp	 tp;
	uint16_t		 port;
	char			*name;
	struct in6_addr		 a6[SIP_RESOLVE_ADDRS_MAX];
	size_t			 n6;
	struct in_addr		 a4[SIP_RESOLVE_ADDRS_MAX];
	size_t			 n4;
};

struct sip_resolve_query {
	TAILQ_ENTRY(sip_resolve_query) link;
	struct sip_resolve	*res;
	sip_resolve_cb		 cb;
	void			*arg;
	struct event		*done_ev;
	enum q_stage		 stage;
	int			 pending;	/* lookups not answered */
	int			 err;		/* worst DNS failure */
	char			 reason[320];	/* …in c-ares' words */
	unsigned		 tps;		/* transports allowed */
	bool			 sips;
	bool			 has_port;
	uint16_t		 port;
	char			 host[SIP_RESOLVE_NAME_MAX + 1];
	struct srvset		 sets[SIP_RESOLVE_NAPTR_MAX];
	size_t			 nsets;
	struct slot		 slots[SIP_RESOLVE_SRV_MAX];
	size_t			 nslots;
	struct sip_resolve_target *targets;	/* grown as found */
	size_t			 ntargets, targets_cap;
	int			 result;
};

static void	res_arm_timer(struct sip_resolve *);
static void	q_lookup(struct sip_resolve_query *, const char *, int, int);
static void	q_stage_done(struct sip_resolve_query *);
static void	q_answer_dispatch(struct sip_resolve_query *, int, int, int,
		    const unsigned char *, int);

static const char *const tp_names[] = { "UDP", "TCP", "TLS", "WS", "WSS" };
/* RFC 3263 §4.1: the SRV prefix of each transport (WebSocket: none). */
static const char *const tp_srv[] = { "_sip._udp.", "_sip._tcp.",
	"_sips._tcp.", NULL, NULL };

const char *
sip_resolve_tp_name(enum sip_resolve_tp tp)
{
	if ((unsigned)tp > SIP_RESOLVE_WSS)
		return "?";
	return tp_names[tp];
}

void
sip_resolve_config_default(struct sip_resolve_config *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 2000;
	c->tries = 2;
	c->cache_max = 1024;
	c->ttl_max = 3600;
	c->neg_ttl = 30;
	c->transports = SIP_RESOLVE_TP_ALL | SIP_RESOLVE_TP_WEBSOCKET;
	c->family = SIP_RESOLVE_V6_FIRST;
}

static uint16_t
tp_default_port(enum sip_resolve_tp tp)
{
	switch (tp) {
	case SIP_RESOLVE_TLS:	return 5061;
	/* RFC 7118 §7: the HTTP ports. */
	case SIP_RESOLVE_WS:	return 80;
	case SIP_RESOLVE_WSS:	return 443;
	default:		return 5060;
	}
}

/* c-ares status to the errno the callback reports; -1: resolver dying. */
static int
status_errno(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return ENOENT;
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED:
		return ETIMEDOUT;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return -1;
	default:
		return EIO;
	}
}

static int
err_rank(int err)
{
	switch (err) {
	case ETIMEDOUT:
		return 3;
	case EIO:
		return 2;
	case ENOENT:
		return 1;
	default:
		return 0;
	}
}

/* ---- raw answers: TTLs (c-ares 1.18 hides them for SRV and NAPTR) ---- */

static int
dns_skip_name(const unsigned char *b, int len, int *off)
{
	int o = *off;

	for (int labels = 0; labels < 128; labels++) {
		if (o >= len)
			return -1;
		if ((b[o] & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return -1;
			*off = o + 2;
			return 0;
		}
		if ((b[o] & 0xc0) != 0)
			return -1;
		if (b[o] == 0) {
			*off = o + 1;
			return 0;
		}
		o += 1 + b[o];
	}
	return -1;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * The lifetime of an answer: the smallest TTL in the answer section
 * (CNAMEs included); for a negative answer, RFC 2308 §5: the smaller of
 * the SOA's TTL and its MINIMUM field.  -1 if there is none to take.
 */
static int
dns_ttl(const unsigned char *b, int len, bool negative, uint32_t *out)
{
	int off = 12, qd, an, ns;
	uint32_t ttl = UINT32_MAX;
	bool found = false;

	if (b == NULL || len < 12)
		return -1;
	qd = b[4] << 8 | b[5];
	an = b[6] << 8 | b[7];
	ns = b[8] << 8 | b[9];
	for (int i = 0; i < qd; i++) {
		if (dns_skip_name(b, len, &off) != 0 || off + 4 > len)
			return -1;
		off += 4;
	}
	for (int i = 0; i < an + ns; i++) {
		int type, rdlen;
		uint32_t t;

		if (dns_skip_name(b, len, &off) != 0 || off + 10 > len)
			return -1;
		type = b[off] << 8 | b[off + 1];
		t = get32(b + off + 4);
		rdlen = b[off + 8] << 8 | b[off + 9];
		off += 10;
		if (off + rdlen > len)
			return -1;
		/* RFC 2181 §8: a TTL with the top bit set means zero. */
		if (t > INT32_MAX)
			t = 0;
		if (i < an && !negative) {
			ttl = t < ttl ? t : ttl;
			found = true;
		} else if (i >= an && negative && type == DNS_T_SOA &&
		    rdlen >= 22) {
			uint32_t min = get32(b + off + rdlen - 4);

			ttl = t < min ? t : min;
			found = true;
			break;
		}
		off += rdlen;
	}
	if (!found)
		return -1;
	*out = ttl;
	return 0;
}

/* ---- cache ---- */

static uint32_t
key_hash(const char *name, int type)
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (uint32_t)type) * 16777619u;
}

static void
centry_unlink(struct sip_resolve *res, struct centry *e)
{
	struct centry **pp = &res->buckets[e->hash & (res->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	TAILQ_REMOVE(&res->lru, e, lru);
	res->stats.cache_entries--;
	free(e->abuf);
	free(e);
}

static struct centry *
cache_find(struct sip_resolve *res, const char *name, int type)
{
	uint32_t h;
	struct centry *e;

	if (res->nbuckets == 0)
		return NULL;
	h = key_hash(name, type);
	for (e = res->buckets[h & (res->nbuckets - 1)]; e != NULL;
	    e = e->hnext)
		if (e->hash == h && e->type == type &&
		    strcmp(e->name, name) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (e->expires <= time_mono_us()) {
		centry_unlink(res, e);
		return NULL;
	}
	TAILQ_REMOVE(&res->lru, e, lru);
	TAILQ_INSERT_TAIL(&res->lru, e, lru);
	return e;
}

static void
cache_store(struct sip_resolve *res, const char *name, int type,
    int status, const unsigned char *abuf, int alen)
{
	struct centry *e, *old;
	uint32_t ttl;
	size_t nl = strlen(name);

	if (res->cfg.cache_max == 0 || abuf == NULL || alen <= 0 ||
	    alen > CACHE_ABUF_MAX)
		return;
	if (status != ARES_SUCCESS && status != ARES_ENODATA &&
	    status != ARES_ENOTFOUND)
		return;
	if (dns_ttl(abuf, alen, status != ARES_SUCCESS, &ttl) != 0) {
		if (status == ARES_SUCCESS)
			return;
		ttl = res->cfg.neg_ttl;
	}
	if (ttl > res->cfg.ttl_max)
		ttl = res->cfg.ttl_max;
	if (ttl == 0)
		return;
	/* The answer that just came replaces what was left. */
	if ((old = cache_find(res, name, type)) != NULL)
		centry_unlink(res, old);
	while (res->stats.cache_entries >= res->cfg.cache_max)
		centry_unlink(res, TAILQ_FIRST(&res->lru));
	e = xmalloc(sizeof(*e) + nl + 1);
	memcpy(e->name, name, nl + 1);
	e->type = type;
	e->status = status;
	e->hash = key_hash(name, type);
	e->expires = time_mono_us() + (uint64_t)ttl * 1000000;
	e->abuf = xmalloc((size_t)alen);
	memcpy(e->abuf, abuf, (size_t)alen);
	e->alen = alen;
	e->hnext = res->buckets[e->hash & (res->nbuckets - 1)];
	res->buckets[e->hash & (res->nbuckets - 1)] = e;
	TAILQ_INSERT_TAIL(&res->lru, e, lru);
	res->stats.cache_entries++;
}

void
sip_resolve_cache_flush(struct sip_resolve *res)
{
	struct centry *e;

	while ((e = TAILQ_FIRST(&res->lru)) != NULL)
		centry_unlink(res, e);
}

/* ---- c-ares on the loop ---- */

static void
fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_resolve *res = arg;

	ares_process_fd(res->channel,
	    (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	res_arm_timer(res);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_resolve *res = arg;

	ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	res_arm_timer(res);
}

static void
res_arm_timer(struct sip_resolve *res)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(res->channel, NULL, &tv);
	if (tvp == NULL)
		evtimer_del(res->timer);
	else
		evtimer_add(res->timer, tvp);
}

/* c-ares opens, changes interest in, and closes its sockets. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct sip_resolve *res = data;
	struct watch *w = NULL;
	size_t i;

	for (i = 0; i < res->nwatches; i++)
		if (res->watches[i].fd == (int)fd) {
			w = &res->watches[i];
			break;
		}
	if (!readable && !writable) {
		if (w == NULL)
			return;
		event_free(w->ev);
		res->watches[i] = res->watches[--res->nwatches];
		return;
	}
	if (w == NULL) {
		if (res->nwatches == res->capwatches) {
			res->capwatches = res->capwatches ? res->capwatches * 2
			    : 4;
			res->watches = xreallocarray(res->watches,
			    res->capwatches, sizeof(*res->watches));
		}
		w = &res->watches[res->nwatches++];
		w->fd = (int)fd;
	} else
		event_free(w->ev);
	w->ev = event_new(res->base, fd, EV_PERSIST |
	    (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0), fd_cb, res);
	if (w->ev == NULL || event_add(w->ev, NULL) != 0)
		fatalx("resolver: cannot watch a DNS socket");
}

static int
res_servers(struct sip_resolve *res, const char *const *servers, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	int rc = 0, st;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = servers[i];

		if (s == NULL || *s == '\0' || strpbrk(s, ", \t\n") != NULL) {
			rc = EINVAL;
			goto out;
		}
		if (i > 0)
			strbuf_addc(&sb, ',');
		strbuf_adds(&sb, s);
	}
	st = ares_set_servers_ports_csv(res->channel, sb.p);
	if (st == ARES_ENOTIMP)
		rc = EBUSY;	/* c-ares 1.18: queries in flight */
	else if (st == ARES_ENOMEM)
		fatalx("resolver: out of memory");
	else if (st != ARES_SUCCESS)
		rc = EINVAL;
out:
	strbuf_free(&sb);
	return rc;
}

int
sip_resolve_set_servers(struct sip_resolve *res, const char *const *servers,
    size_t n)
{
	return res_servers(res, servers, n);
}

int
sip_resolve_new(struct sip_resolve **out, struct event_base *base,
    const struct sip_resolve_config *cfg)
{
	struct sip_resolve *res;
	struct ares_options opts;
	int rc;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return EIO;
	res = xcalloc(1, sizeof(*res));
	res->base = base;
	res->cfg = *cfg;
	res->cfg.servers = NULL;
	res->cfg.nservers = 0;
	TAILQ_INIT(&res->lookups);
	TAILQ_INIT(&res->queries);
	TAILQ_INIT(&res->lru);
	if (cfg->cache_max > 0) {
		res->nbuckets = 16;
		while (res->nbuckets < cfg->cache_max && res->nbuckets < 65536)
			res->nbuckets *= 2;
		res->buckets = xcalloc(res->nbuckets, sizeof(*res->buckets));
	}
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = res;
	opts.timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
	opts.tries = cfg->tries > 0 ? cfg->tries : 2;
	if (ares_init_options(&res->channel, &opts, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
		free(res->buckets);
		free(res);
		ares_library_cleanup();
		return EIO;
	}
	res->timer = evtimer_new(base, timer_cb, res);
	if (res->timer == NULL)
		fatalx("resolver: evtimer_new");
	if ((rc = res_servers(res, cfg->servers, cfg->nservers)) != 0) {
		sip_resolve_free(res);
		return rc;
	}
	*out = res;
	return 0;
}

static void
q_free(struct sip_resolve_query *q)
{
	for (size_t i = 0; i < q->nsets; i++) {
		for (size_t j = 0; j < q->sets[i].n; j++)
			free(q->sets[i].rec[j].target);
		free(q->sets[i].rec);
		free(q->sets[i].name);
	}
	for (size_t i = 0; i < q->nslots; i++)
		free(q->slots[i].name);
	free(q->targets);
	event_free(q->done_ev);
	free(q);
}

void
sip_resolve_free(struct sip_resolve *res)
{
	struct sip_resolve_query *q;
	struct lookup *lk;

	if (res == NULL)
		return;
	while ((q = TAILQ_FIRST(&res->queries)) != NULL) {
		TAILQ_REMOVE(&res->queries, q, link);
		q_free(q);
	}
	/* Calls back every lookup with ARES_EDESTRUCTION: they free. */
	ares_destroy(res->channel);
	while ((lk = TAILQ_FIRST(&res->lookups)) != NULL) {
		TAILQ_REMOVE(&res->lookups, lk, link);
		free(lk->w);
		free(lk);
	}
	for (size_t i = 0; i < res->nwatches; i++)
		event_free(res->watches[i].ev);
	free(res->watches);
	event_free(res->timer);
	sip_resolve_cache_flush(res);
	free(res->buckets);
	free(res);
	ares_library_cleanup();
}

void
sip_resolve_get_stats(const struct sip_resolve *res,
    struct sip_resolve_stats *st)
{
	*st = res->stats;
}

/* ---- failed targets ---- */

static bool
addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
		    *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
		    *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

void
sip_resolve_mark_failed(struct sip_resolve *res,
    const struct sip_resolve_target *t, unsigned ms)
{
	uint64_t now = time_mono_us();
	struct failed *slot = &res->failed[0];

	for (size_t i = 0; i < FAILED_MAX; i++) {
		struct failed *f = &res->failed[i];

		if (f->until > now && f->tp == t->transport &&
		    addr_eq(&f->addr, &t->addr)) {
			slot = f;
			break;
		}
		/* Otherwise reuse the one that ends first (or has ended). */
		if (f->until < slot->until)
			slot = f;
	}
	slot->tp = t->transport;
	slot->addr = t->addr;
	slot->until = now + (uint64_t)ms * 1000;
}

static bool
is_failed(struct sip_resolve *res, const struct sip_resolve_target *t,
    uint64_t now)
{
	for (size_t i = 0; i < FAILED_MAX; i++) {
		const struct failed *f = &res->failed[i];

		if (f->until > now && f->tp == t->transport &&
		    addr_eq(&f->addr, &t->addr))
			return true;
	}
	return false;
}

/* ---- lookups shared by queries ---- */

static void
lookup_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lookup *lk = arg;
	struct sip_resolve *res = lk->res;

	TAILQ_REMOVE(&res->lookups, lk, link);
	res->stats.in_flight--;
	if (status_errno(status) < 0) {
		free(lk->w);
		free(lk);
		return;
	}
	if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED)
		res->stats.timeouts++;
	cache_store(res, lk->name, lk->type, status, abuf, alen);
	for (size_t i = 0; i < lk->nw; i++) {
		struct sip_resolve_query *q = lk->w[i].q;

		if (q != NULL)
			q_answer_dispatch(q, lk->w[i].tag, lk->type, status,
			    abuf, alen);
	}
	free(lk->w);
	free(lk);
}

static void
name_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
}

/*
 * Asks (name, type) for q; the answer comes through q_answer_dispatch(),
 * at once from the cache, or later from the network.  The lookup of
 * another query for the same key, if one is in flight, is shared.
 */
static void
q_lookup(struct sip_resolve_query *q, const char *name, int type, int tag)
{
	struct sip_resolve *res = q->res;
	char key[SIP_RESOLVE_NAME_MAX + 1];
	size_t nl = strlen(name);
	struct centry *e;
	struct lookup *lk;

	q->pending++;
	if (nl > SIP_RESOLVE_NAME_MAX) {
		q_answer_dispatch(q, tag, type, ARES_EBADNAME, NULL, 0);
		return;
	}
	name_lower(key, name, nl);
	if ((e = cache_find(res, key, type)) != NULL) {
		res->stats.cache_hits++;
		q_answer_dispatch(q, tag, type, e->status, e->abuf, e->alen);
		return;
	}
	TAILQ_FOREACH(lk, &res->lookups, link)
		if (lk->type == type && strcmp(lk->name, key) == 0)
			break;
	if (lk == NULL) {
		lk = xcalloc(1, sizeof(*lk) + nl + 1);
		memcpy(lk->name, key, nl + 1);
		lk->type = type;
		lk->res = res;
	}
	if (lk->nw == lk->capw) {
		lk->capw = lk->capw ? lk->capw * 2 : 2;
		lk->w = xreallocarray(lk->w, lk->capw, sizeof(*lk->w));
	}
	lk->w[lk->nw].q = q;
	lk->w[lk->nw].tag = tag;
	if (lk->nw++ > 0)
		return;		/* already in flight */
	TAILQ_INSERT_TAIL(&res->lookups, lk, link);
	res->stats.in_flight++;
	res->stats.queries++;
	switch (type) {
	case DNS_T_A:
		res->stats.queries_a++;
		break;
	case DNS_T_AAAA:
		res->stats.queries_aaaa++;
		break;
	case DNS_T_SRV:
		res->stats.queries_srv++;
		break;
	case DNS_T_NAPTR:
		res->stats.queries_naptr++;
		break;
	}
	/* May call lookup_cb before it returns: lk is not touched after. */
	ares_query(res->channel, key, DNS_C_IN, type, lookup_cb, lk);
	res_arm_timer(res);
}

static void
q_note_err(struct sip_resolve_query *q, int err)
{
	if (err_rank(err) > err_rank(q->err))
		q->err = err;
}

static int
srvset_add(struct sip_resolve_query *q, enum sip_resolve_tp tp,
    const char *prefix, const char *name)
{
	struct srvset *s;
	struct strbuf sb = STRBUF_INIT;

	if (q->nsets == SIP_RESOLVE_NAPTR_MAX)
		return -1;
	strbuf_adds(&sb, prefix);
	strbuf_adds(&sb, name);
	if (sb.n > SIP_RESOLVE_NAME_MAX) {
		strbuf_free(&sb);
		return -1;
	}
	for (size_t i = 0; i < q->nsets; i++)
		if (q->sets[i].tp == tp &&
		    strcasecmp(q->sets[i].name, sb.p) == 0) {
			strbuf_free(&sb);
			return 0;
		}
	s = &q->sets[q->nsets++];
	memset(s, 0, sizeof(*s));
	s->tp = tp;
	s->name = strbuf_detach(&sb);
	return 0;
}

/* RFC 3263 §4.1: the NAPTR services a SIP client understands. */
static int
naptr_service_tp(const char *service, enum sip_resolve_tp *tp)
{
	if (strcasecmp(service, "SIP+D2U") == 0)
		*tp = SIP_RESOLVE_UDP;
	else if (strcasecmp(service, "SIP+D2T") == 0)
		*tp = SIP_RESOLVE_TCP;
	else if (strcasecmp(service, "SIPS+D2T") == 0)
		*tp = SIP_RESOLVE_TLS;
	else
		return -1;
	return 0;
}

static void
q_take_naptr(struct sip_resolve_query *q, const unsigned char *abuf,
    int alen)
{
	struct ares_naptr_reply *list = NULL, *r;
	struct ares_naptr_reply *keep[16];
	size_t nkeep = 0;

	if (ares_parse_naptr_reply(abuf, alen, &list) != ARES_SUCCESS)
		return;
	for (r = list; r != NULL && nkeep < 16; r = r->next) {
		enum sip_resolve_tp tp;

		/*
		 * RFC 3263 §4.1: flag "s" (the next lookup is SRV), a
		 * service we support and may use for this URI, and a
		 * replacement (SIP does not use the regexp field).
		 */
		if (strcasecmp((const char *)r->flags, "s") != 0 ||
		    naptr_service_tp((const char *)r->service, &tp) != 0 ||
		    (q->tps & SIP_RESOLVE_TP_BIT(tp)) == 0 ||
		    r->replacement == NULL || r->replacement[0] == '\0' ||
		    strcmp(r->replacement, ".") == 0)
			continue;
		keep[nkeep++] = r;
	}
	/* Order, then preference (RFC 3403 §4.1); stable. */
	for (size_t i = 1; i < nkeep; i++)
		for (size_t j = i; j > 0; j--) {
			struct ares_naptr_reply *a = keep[j - 1], *b = keep[j];

			if (a->order < b->order || (a->order == b->order &&
			    a->preference <= b->preference))
				break;
			keep[j - 1] = b;
			keep[j] = a;
		}
	for (size_t i = 0; i < nkeep; i++) {
		enum sip_resolve_tp tp;

		naptr_service_tp((const char *)keep[i]->service, &tp);
		srvset_add(q, tp, "", keep[i]->replacement);
	}
	ares_free_data(list);
}

/* RFC 2782: by priority, then a weighted random draw within a priority. */
static void
srv_order(struct srv_rec *r, size_t n)
{
	struct srv_rec t;

	/* Priority ascending, weight 0 first within one (stable). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			if (r[j - 1].prio < r[j].prio ||
			    (r[j - 1].prio == r[j].prio &&
			    (r[j - 1].weight == 0 || r[j].weight != 0)))
				break;
			t = r[j - 1];
			r[j - 1] = r[j];
			r[j] = t;
		}
	for (size_t i = 0; i < n;) {
		size_t end = i;

		while (end < n && r[end].prio == r[i].prio)
			end++;
		for (size_t k = i; k + 1 < end; k++) {
			uint32_t sum = 0, run = 0, pick;
			size_t m;

			for (m = k; m < end; m++)
				sum += r[m].weight;
			pick = arc4random_uniform(sum + 1);
			for (m = k; m < end; m++) {
				run += r[m].weight;
				if (run >= pick)
					break;
			}
			if (m == end)
				m = end - 1;
			t = r[m];
			memmove(&r[k + 1], &r[k], (m - k) * sizeof(*r));
			r[k] = t;
		}
		i = end;
	}
}

static void
q_take_srv(struct sip_resolve_query *q, struct srvset *s,
    const unsigned char *abuf, int alen)
{
	struct ares_srv_reply *list = NULL, *r;

	if (ares_parse_srv_reply(abuf, alen, &list) != ARES_SUCCESS)
		return;
	s->rec = xcalloc(SIP_RESOLVE_SRV_MAX, sizeof(*s->rec));
	for (r = list; r != NULL && s->n < SIP_RESOLVE_SRV_MAX; r = r->next) {
		/* RFC 2782: a lone "." target: the service is not here. */
		if (r->host == NULL || r->host[0] == '\0' ||
		    strcmp(r->host, ".") == 0) {
			s->declined = true;
			continue;
		}
		if (strlen(r->host) > SIP_RESOLVE_NAME_MAX)
			continue;
		s->rec[s->n].prio = r->priority;
		s->rec[s->n].weight = r->weight;
		s->rec[s->n].port = r->port;
		s->rec[s->n].target = xstrdup(r->host);
		s->n++;
	}
	ares_free_data(list);
	srv_order(s->rec, s->n);
}

static void
q_take_addr(struct sip_resolve_query *q, struct slot *sl, int type,
    const unsigned char *abuf, int alen)
{
	if (type == DNS_T_A) {
		struct ares_addrttl a[SIP_RESOLVE_ADDRS_MAX];
		int n = SIP_RESOLVE_ADDRS_MAX;

		if (ares_parse_a_reply(abuf, alen, NULL, a, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++)
			sl->a4[sl->n4++] = a[i].ipaddr;
	} else {
		struct ares_addr6ttl a[SIP_RESOLVE_ADDRS_MAX];
		int n = SIP_RESOLVE_ADDRS_MAX;

		if (ares_parse_aaaa_reply(abuf, alen, NULL, a, &n) !=
		    ARES_SUCCESS)
			return;
		for (int i = 0; i < n; i++)
			memcpy(&sl->a6[sl->n6++], &a[i].ip6addr, 16);
	}
}

static void
q_answer_dispatch(struct sip_resolve_query *q, int tag, int type,
    int status, const unsigned char *abuf, int alen)
{
	int err = status_errno(status);

	if (err > 0 && err_rank(err) >= err_rank(q->err)) {
		const char *name = type == DNS_T_NAPTR ? q->host :
		    type == DNS_T_SRV ? q->sets[tag].name :
		    q->slots[tag / 2].name;

		snprintf(q->reason, sizeof(q->reason), "%s %s: %s", name,
		    type == DNS_T_NAPTR ? "NAPTR" : type == DNS_T_SRV ?
		    "SRV" : type == DNS_T_A ? "A" : "AAAA",
		    ares_strerror(status));
	}
	if (err != 0)
		q_note_err(q, err);
	else if (type == DNS_T_NAPTR)
		q_take_naptr(q, abuf, alen);
	else if (type == DNS_T_SRV)
		q_take_srv(q, &q->sets[tag], abuf, alen);
	else
		q_take_addr(q, &q->slots[tag / 2], type, abuf, alen);
	if (--q->pending == 0)
		q_stage_done(q);
}

static enum sip_resolve_tp
q_first_tp(const struct sip_resolve_query *q)
{
	for (int tp = SIP_RESOLVE_UDP; tp <= SIP_RESOLVE_WSS; tp++)
		if (q->tps & SIP_RESOLVE_TP_BIT(tp))
			return (enum sip_resolve_tp)tp;
	return SIP_RESOLVE_UDP;
}

static void
q_finish(struct sip_resolve_query *q, int err)
{
	q->stage = Q_DONE;
	q->result = err;
	event_active(q->done_ev, EV_TIMEOUT, 1);
}

static void
slot_add(struct sip_resolve_query *q, enum sip_resolve_tp tp,
    const char *name, uint16_t port)
{
	struct slot *sl;

	if (q->nslots == SIP_RESOLVE_SRV_MAX)
		return;
	for (size_t i = 0; i < q->nslots; i++)
		if (q->slots[i].tp == tp && q->slots[i].port == port &&
		    strcasecmp(q->slots[i].name, name) == 0)
			return;
	sl = &q->slots[q->nslots++];
	memset(sl, 0, sizeof(*sl));
	sl->tp = tp;
	sl->port = port;
	sl->name = xstrdup(name);
}

static void
q_start_srv(struct sip_resolve_query *q)
{
	q->stage = Q_SRV;
	q->pending++;
	for (size_t i = 0; i < q->nsets; i++)
		q_lookup(q, q->sets[i].name, DNS_T_SRV, (int)i);
	if (--q->pending == 0)
		q_stage_done(q);
}

static void
q_start_addr(struct sip_resolve_query *q)
{
	enum sip_resolve_family fam = q->res->cfg.family;

	q->stage = Q_ADDR;
	q->pending++;
	for (size_t i = 0; i < q->nslots; i++) {
		if (fam != SIP_RESOLVE_V4_ONLY)
			q_lookup(q, q->slots[i].name, DNS_T_AAAA,
			    (int)i * 2 + 1);
		if (fam != SIP_RESOLVE_V6_ONLY)
			q_lookup(q, q->slots[i].name, DNS_T_A, (int)i * 2);
	}
	if (--q->pending == 0)
		q_stage_done(q);
}

static void
q_add_target(struct sip_resolve_query *q, enum sip_resolve_tp tp,
    const struct sockaddr_storage *ss, socklen_t len, const char *name)
{
	struct sip_resolve_target *t;

	if (q->ntargets == SIP_RESOLVE_TARGETS_MAX)
		return;
	for (size_t i = 0; i < q->ntargets; i++)
		if (q->targets[i].transport == tp &&
		    addr_eq(&q->targets[i].addr, ss))
			return;
	/* Most answers hold one or two: 650 bytes each, not 32 zeroed. */
	if (q->ntargets == q->targets_cap) {
		q->targets_cap = q->targets_cap == 0 ? 2 : q->targets_cap * 2;
		if (q->targets_cap > SIP_RESOLVE_TARGETS_MAX)
			q->targets_cap = SIP_RESOLVE_TARGETS_MAX;
		q->targets = xreallocarray(q->targets, q->targets_cap,
		    sizeof(*q->targets));
	}
	t = &q->targets[q->ntargets++];
	memset(t, 0, sizeof(*t));
	t->transport = tp;
	t->addr = *ss;
	t->len = len;
	snprintf(t->domain, sizeof(t->domain), "%s", q->host);
	snprintf(t->name, sizeof(t->name), "%s", name);
}

static void
slot_targets(struct sip_resolve_query *q, const struct slot *sl, bool v6)
{
	struct sockaddr_storage ss;

	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		for (size_t i = 0; i < sl->n6; i++) {
			memset(&ss, 0, sizeof(ss));
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(sl->port);
			s6->sin6_addr = sl->a6[i];
			q_add_target(q, sl->tp, &ss, sizeof(*s6), sl->name);
		}
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		for (size_t i = 0; i < sl->n4; i++) {
			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_port = htons(sl->port);
			s4->sin_addr = sl->a4[i];
			q_add_target(q, sl->tp, &ss, sizeof(*s4), sl->name);
		}
	}
}

/* Targets marked failed go last, in their order (stable partition). */
static void
q_demote_failed(struct sip_resolve_query *q)
{
	struct sip_resolve_target tmp[SIP_RESOLVE_TARGETS_MAX];
	bool bad[SIP_RESOLVE_TARGETS_MAX];
	uint64_t now = time_mono_us();
	size_t k = 0, nbad = 0;

	for (size_t i = 0; i < q->ntargets; i++)
		if ((bad[i] = is_failed(q->res, &q->targets[i], now)))
			nbad++;
	if (nbad == 0 || nbad == q->ntargets)
		return;
	for (size_t i = 0; i < q->ntargets; i++)
		if (!bad[i])
			tmp[k++] = q->targets[i];
	for (size_t i = 0; i < q->ntargets; i++)
		if (bad[i])
			tmp[k++] = q->targets[i];
	memcpy(q->targets, tmp, q->ntargets * sizeof(*tmp));
}

static void
q_stage_done(struct sip_resolve_query *q)
{
	bool declined = false;

	switch (q->stage) {
	case Q_NAPTR:
		/*
		 * No DNS server answered: asking SRV and A next would only
		 * multiply the wait.  Any other failure, or no usable
		 * record: RFC 3263 §4.1, SRV for each transport we may use,
		 * in our order of preference.
		 */
		if (q->err == ETIMEDOUT) {
			q_finish(q, ETIMEDOUT);
			return;
		}
		if (q->nsets == 0)
			for (int tp = SIP_RESOLVE_UDP; tp <= SIP_RESOLVE_TLS;
			    tp++)
				if (q->tps & SIP_RESOLVE_TP_BIT(tp))
					srvset_add(q, (enum sip_resolve_tp)tp,
					    tp_srv[tp], q->host);
		q_start_srv(q);
		break;
	case Q_SRV:
		for (size_t i = 0; i < q->nsets; i++) {
			declined |= q->sets[i].declined;
			for (size_t j = 0; j < q->sets[i].n; j++)
				slot_add(q, q->sets[i].tp,
				    q->sets[i].rec[j].target,
				    q->sets[i].rec[j].port);
		}
		if (q->nslots == 0) {
			if (q->err == ETIMEDOUT) {
				q_finish(q, ETIMEDOUT);
				return;
			}
			if (declined) {
				q_finish(q, ENOENT);
				return;
			}
			/*
			 * RFC 3263 §4.2: no SRV: the host's addresses with
			 * the default port of the transport chosen.
			 */
			enum sip_resolve_tp tp = q->nsets > 0 ? q->sets[0].tp :
			    q_first_tp(q);

			slot_add(q, tp, q->host, tp_default_port(tp));
		}
		q_start_addr(q);
		break;
	case Q_ADDR:
		for (size_t i = 0; i < q->nslots; i++) {
			bool v4first = q->res->cfg.family ==
			    SIP_RESOLVE_V4_FIRST;

			slot_targets(q, &q->slots[i], !v4first);
			slot_targets(q, &q->slots[i], v4first);
		}
		q_demote_failed(q);
		q_finish(q, q->ntargets > 0 ? 0 :
		    (q->err != 0 ? q->err : ENOENT));
		break;
	default:
		break;
	}
}

static void
q_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_resolve_query *q = arg;

	q->stage = Q_DELIVERING;
	TAILQ_REMOVE(&q->res->queries, q, link);
	q->cb(q->result, q->result == 0 ? q->targets : NULL,
	    q->result == 0 ? q->ntargets : 0, q->arg);
	q_free(q);
}

const char *
sip_resolve_reason(const struct sip_resolve_query *q)
{
	if (q->result == 0)
		return "";
	return q->reason[0] != '\0' ? q->reason : "no usable record";
}

void
sip_resolve_cancel(struct sip_resolve_query *q)
{
	struct lookup *lk;

	if (q == NULL || q->stage == Q_DELIVERING)
		return;
	TAILQ_FOREACH(lk, &q->res->lookups, link)
		for (size_t i = 0; i < lk->nw; i++)
			if (lk->w[i].q == q)
				lk->w[i].q = NULL;
	TAILQ_REMOVE(&q->res->queries, q, link);
	q_free(q);
}

/* The transports a URI allows (RFC 3263 §4.1), or EPROTONOSUPPORT. */
static int
uri_transports(const struct sip_uri *uri, unsigned supported, unsigned *out)
{
	unsigned want;

	if (!slice_present(uri->transport))
		want = uri->scheme == SIP_URI_SIPS ?
		    SIP_RESOLVE_TP_BIT(SIP_RESOLVE_TLS) : SIP_RESOLVE_TP_ALL;
	else if (slice_caseeq_cstr(uri->transport, "udp"))
		want = uri->scheme == SIP_URI_SIPS ? 0 :
		    SIP_RESOLVE_TP_BIT(SIP_RESOLVE_UDP);
	else if (slice_caseeq_cstr(uri->transport, "tcp"))
		want = SIP_RESOLVE_TP_BIT(uri->scheme == SIP_URI_SIPS ?
		    SIP_RESOLVE_TLS : SIP_RESOLVE_TCP);
	else if (slice_caseeq_cstr(uri->transport, "tls"))
		want = SIP_RESOLVE_TP_BIT(SIP_RESOLVE_TLS);
	else if (slice_caseeq_cstr(uri->transport, "ws"))
		/* RFC 7118 §5.3: a SIPS URI over ws means a secure one. */
		want = SIP_RESOLVE_TP_BIT(uri->scheme == SIP_URI_SIPS ?
		    SIP_RESOLVE_WSS : SIP_RESOLVE_WS);
	else if (slice_caseeq_cstr(uri->transport, "wss"))
		want = SIP_RESOLVE_TP_BIT(SIP_RESOLVE_WSS);
	else
		want = 0;
	*out = want & supported;
	return *out != 0 ? 0 : EPROTONOSUPPORT;
}

int
sip_resolve_uri(struct sip_resolve *res, const struct sip_uri *uri,
    sip_resolve_cb cb, void *arg, struct sip_resolve_query **out)
{
	struct sip_resolve_query *q;
	struct slice h;
	unsigned tps;
	union {
		struct in_addr a4;
		struct in6_addr a6;
	} ip;
	int rc, af = 0;

	if (uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS)
		return EINVAL;
	if ((rc = uri_transports(uri, res->cfg.transports, &tps)) != 0)
		return rc;
	/* RFC 3263 §4: the target is maddr if present, else the host. */
	h = slice_present(uri->maddr) && !slice_empty(uri->maddr) ?
	    uri->maddr : uri->host;
	if (h.n >= 2 && h.p[0] == '[' && h.p[h.n - 1] == ']') {
		h.p++;
		h.n -= 2;
		af = AF_INET6;
	}
	if (h.n == 0 || h.n > SIP_RESOLVE_NAME_MAX ||
	    memchr(h.p, '\0', h.n) != NULL)
		return EINVAL;
	q = xcalloc(1, sizeof(*q));
	q->res = res;
	q->cb = cb;
	q->arg = arg;
	q->tps = tps;
	q->sips = uri->scheme == SIP_URI_SIPS;
	q->has_port = uri->has_port;
	q->port = uri->port;
	name_lower(q->host, h.p, h.n);
	q->done_ev = event_new(res->base, -1, 0, q_done_cb, q);
	if (q->done_ev == NULL)
		fatalx("resolver: event_new");
	/* A bracketed host must be an IPv6 address; maddr may be bare. */
	if (inet_pton(AF_INET6, q->host, &ip) == 1)
		af = AF_INET6;
	else if (af == AF_INET6) {
		q_free(q);
		return EINVAL;
	} else if (inet_pton(AF_INET, q->host, &ip) == 1)
		af = AF_INET;
	else if (strcmp(q->host, "localhost") == 0) {
		/* RFC 6761 §6.3: never asked of DNS; the loopback address. */
		af = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", &ip);
	}
	TAILQ_INSERT_TAIL(&res->queries, q, link);
	if (out != NULL)
		*out = q;

	if (af != 0) {
		/* RFC 3263 §4.2: an IP address: no DNS at all. */
		struct sockaddr_storage ss;
		enum sip_resolve_tp tp = q_first_tp(q);
		uint16_t port = q->has_port ? q->port : tp_default_port(tp);
		socklen_t len;

		memset(&ss, 0, sizeof(ss));
		if (af == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			s4->sin_addr = ip.a4;
			len = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(port);
			s6->sin6_addr = ip.a6;
			len = sizeof(*s6);
		}
		q_add_target(q, tp, &ss, len, q->host);
		q_finish(q, 0);
	} else if (q->has_port || (tps & SIP_RESOLVE_TP_WEBSOCKET) != 0) {
		/*
		 * RFC 3263 §4.2: a port: AAAA/A of the host, no SRV.  RFC
		 * 7118 defines no NAPTR service or SRV name: the same.
		 */
		enum sip_resolve_tp tp = q_first_tp(q);

		slot_add(q, tp, q->host, q->has_port ? q->port :
		    tp_default_port(tp));
		q_start_addr(q);
	} else if (slice_present(uri->transport)) {
		/* RFC 3263 §4.1: transport given: SRV for it, no NAPTR. */
		q->stage = Q_NAPTR;
		q_stage_done(q);
	} else {
		q->stage = Q_NAPTR;
		q->pending++;
		q_lookup(q, q->host, DNS_T_NAPTR, 0);
		if (--q->pending == 0)
			q_stage_done(q);
	}
	return 0;
}
