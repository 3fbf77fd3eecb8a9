/*
 * Peer health (see qualify.h).  Owns the peer table (a vector in the
 * order peers came, and a hash by key for sync), one probe timer and one
 * deadline timer per peer, and at most one probe out per peer (a DNS
 * query or an OPTIONS request).  It owns no account: each account points
 * at its peer (account->qpeer), which sync rewrites.
 *
 * One probe, one judgement (qualify_judge), one place that changes the
 * state and says so (peer_set_state):
 *
 *	unknown ──up answers──▶ reachable ──down failures──▶ unreachable
 *	   └────────down failures──────────────────────────────▲   │
 *	                    reachable ◀──────up answers─────────────┘
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/random.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_resolve.h"
#include "account.h"
#include "events.h"
#include "qualify.h"
#include "ua_priv.h"

/* Runs of answers or failures are counted up to here (no wrap). */
#define QUALIFY_RUN_MAX		1000000u
/* Our deadline wins over the OPTIONS request's own bound by this much. */
#define QUALIFY_SLACK_MS	1000u

struct qualify_peer {
	struct qualify			*q;
	struct qualify_peer		*hnext;		/* hash chain */
	char				*key;
	char				*uri;
	enum account_transport		 tp;
	unsigned			 interval_s, timeout_ms, up, down;
	enum qualify_state		 state;
	unsigned			 oks, fails;	/* runs */
	uint64_t			 probes, lost;
	size_t				 naccounts;
	bool				 started;
	double				 changed;
	double				 rtt_ms;
	unsigned			 last_status;
	char				 last_error[160];
	char				 target[80];
	struct sip_resolve_target	 cur;		/* probed last */
	bool				 have_cur;
	struct sip_resolve_query	*rq;
	struct ua_options_req		*req;
	struct event			*timer;		/* next probe */
	struct event			*deadline;	/* this probe's */
};

struct qualify {
	struct ua		*ua;
	struct account_set	*set;
	qualify_down_fn		*down;
	void			*down_arg;
	struct qualify_peer	**peers;	/* in the order they came */
	size_t			 npeers;
	struct qualify_peer	**buckets;	/* by key; power of two */
	size_t			 nbuckets;
	bool			 stopped;
};

const char *
qualify_state_name(enum qualify_state s)
{
	switch (s) {
	case QUALIFY_UNKNOWN: return "unknown";
	case QUALIFY_REACHABLE: return "reachable";
	case QUALIFY_UNREACHABLE: return "unreachable";
	}
	return "?";
}

enum qualify_state
qualify_judge(enum qualify_state st, bool answered, unsigned up,
    unsigned down, unsigned *oks, unsigned *fails)
{
	if (answered) {
		*fails = 0;
		if (*oks < QUALIFY_RUN_MAX)
			(*oks)++;
		if (st != QUALIFY_REACHABLE && *oks >= up)
			return QUALIFY_REACHABLE;
	} else {
		*oks = 0;
		if (*fails < QUALIFY_RUN_MAX)
			(*fails)++;
		if (st != QUALIFY_UNREACHABLE && *fails >= down)
			return QUALIFY_UNREACHABLE;
	}
	return st;
}

/* ---- the table ----------------------------------------------------------- */

/* FNV-1a. */
static size_t
qualify_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

/* The account's first hop: what its REGISTER and its calls go to. */
static const char *
qualify_hop(const struct account_cfg *c)
{
	return c->outbound_proxy != NULL ? c->outbound_proxy : c->registrar;
}

/* Accounts share a probe when all of this is the same. */
static char *
qualify_key(const struct account_cfg *c)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s\t%d\t%d\t%d\t%d\t%d", qualify_hop(c),
	    (int)c->transport, c->qualify_interval, c->qualify_timeout,
	    c->qualify_up, c->qualify_down);
	return strbuf_detach(&sb);
}

static struct qualify_peer *
qualify_find(const struct qualify *q, const char *key)
{
	struct qualify_peer *p;

	if (q->nbuckets == 0)
		return NULL;
	for (p = q->buckets[qualify_hash(key) & (q->nbuckets - 1)]; p != NULL;
	    p = p->hnext)
		if (strcmp(p->key, key) == 0)
			return p;
	return NULL;
}

/* Rebuilds the hash for q->peers, at most half full. */
static void
qualify_index(struct qualify *q)
{
	size_t nb = 16;

	while (nb < q->npeers * 2)
		nb *= 2;
	free(q->buckets);
	q->buckets = xcalloc(nb, sizeof(*q->buckets));
	q->nbuckets = nb;
	for (size_t i = 0; i < q->npeers; i++) {
		struct qualify_peer *p = q->peers[i];
		size_t b = qualify_hash(p->key) & (nb - 1);

		p->hnext = q->buckets[b];
		q->buckets[b] = p;
	}
}

/* ---- events ---------------------------------------------------------------- */

static void
peer_fields(const struct qualify_peer *p, struct events_kv *kv, size_t *n,
    char rtt[32], char code[12], char accts[24], char fails[12])
{
	kv[(*n)++] = (struct events_kv){ "uri", p->uri };
	kv[(*n)++] = (struct events_kv){ "transport",
	    account_transport_name(p->tp) };
	kv[(*n)++] = (struct events_kv){ "state",
	    qualify_state_name(p->state) };
	if (p->target[0] != '\0')
		kv[(*n)++] = (struct events_kv){ "target", p->target };
	if (p->state == QUALIFY_REACHABLE && p->rtt_ms >= 0) {
		snprintf(rtt, 32, "%.1f", p->rtt_ms);
		kv[(*n)++] = (struct events_kv){ "rtt_ms", rtt };
	}
	if (p->state == QUALIFY_REACHABLE && p->last_status != 0) {
		snprintf(code, 12, "%u", p->last_status);
		kv[(*n)++] = (struct events_kv){ "code", code };
	}
	if (p->state == QUALIFY_UNREACHABLE && p->last_error[0] != '\0')
		kv[(*n)++] = (struct events_kv){ "error", p->last_error };
	snprintf(fails, 12, "%u", p->fails);
	kv[(*n)++] = (struct events_kv){ "failures", fails };
	snprintf(accts, 24, "%zu", p->naccounts);
	kv[(*n)++] = (struct events_kv){ "accounts", accts };
}

static void
peer_publish(struct qualify_peer *p, enum qualify_state prev)
{
	struct events_kv kv[EVENTS_KV_MAX];
	char rtt[32], code[12], accts[24], fails[12];
	size_t n = 0;

	peer_fields(p, kv, &n, rtt, code, accts, fails);
	kv[n++] = (struct events_kv){ "prev", qualify_state_name(prev) };
	events_publishv("peer.state", NULL, kv, n);
	/* The view of each account on it, for clients that follow one. */
	if (!events_wanted(EVENTS_KIND_ACCOUNT))
		return;
	for (size_t i = 0; i < p->q->set->n; i++) {
		const struct account *a = p->q->set->items[i];

		if (a->qpeer != p)
			continue;
		events_publish("account.qualify", a->cfg->name, "state",
		    qualify_state_name(p->state), "prev",
		    qualify_state_name(prev), "peer", p->uri, "target",
		    p->target, "rtt_ms", p->state == QUALIFY_REACHABLE &&
		    p->rtt_ms >= 0 ? rtt : "", NULL);
	}
}

static void
qualify_snapshot(struct events_sub *sub, void *arg)
{
	const struct qualify *q = arg;

	for (size_t i = 0; i < q->npeers; i++) {
		const struct qualify_peer *p = q->peers[i];
		char rtt[32], code[12], accts[24], fails[12];
		struct events_kv kv[EVENTS_KV_MAX];
		size_t n = 0;

		peer_fields(p, kv, &n, rtt, code, accts, fails);
		events_emit_tov(sub, "peer.state", NULL, kv, n);
	}
	for (size_t i = 0; i < q->set->n; i++) {
		const struct account *a = q->set->items[i];
		const struct qualify_peer *p = a->qpeer;
		char rtt[32] = "";

		if (p == NULL)
			continue;
		if (p->state == QUALIFY_REACHABLE && p->rtt_ms >= 0)
			snprintf(rtt, sizeof(rtt), "%.1f", p->rtt_ms);
		events_emit_to(sub, "account.qualify", a->cfg->name, "state",
		    qualify_state_name(p->state), "peer", p->uri, "target",
		    p->target, "rtt_ms", rtt, NULL);
	}
}

/* ---- probes ------------------------------------------------------------- */

static void
peer_set_state(struct qualify_peer *p, enum qualify_state st)
{
	enum qualify_state prev = p->state;

	p->state = st;
	p->changed = time_real();
	if (st == QUALIFY_UNREACHABLE)
		log_notice("qualify: %s (%s) is unreachable: %s (%u failure%s "
		    "in a row)", p->uri, p->target[0] ? p->target : "no target",
		    p->last_error, p->fails, p->fails == 1 ? "" : "s");
	else
		log_info("qualify: %s (%s) is reachable, %.1f ms", p->uri,
		    p->target, p->rtt_ms);
	peer_publish(p, prev);
}

/* The probe's outcome: judged, and the state changed if it must. */
static void
peer_outcome(struct qualify_peer *p, bool answered, unsigned status,
    double rtt_ms, const char *why)
{
	struct qualify *q = p->q;
	enum qualify_state st;

	evtimer_del(p->deadline);
	p->probes++;
	if (answered) {
		p->last_status = status;
		p->rtt_ms = rtt_ms;
		p->last_error[0] = '\0';
	} else {
		p->lost++;
		snprintf(p->last_error, sizeof(p->last_error), "%s", why);
		log_debug("qualify: %s: %s", p->uri, why);
	}
	st = qualify_judge(p->state, answered, p->up, p->down, &p->oks,
	    &p->fails);
	if (st != p->state)
		peer_set_state(p, st);
	/*
	 * RFC 3263 §4.3: what failed goes last, for the registrations and
	 * for the next probe; on every failure while unreachable, so that
	 * a second dead target is passed over as the first was.
	 */
	if (p->state == QUALIFY_UNREACHABLE && !answered && p->have_cur) {
		if (q->ua->blocklist_ms > 0)
			sip_resolve_mark_failed(q->ua->res, &p->cur,
			    q->ua->blocklist_ms);
		if (q->down != NULL)
			q->down(p->target, q->down_arg);
	}
}

static void
peer_answered(const struct ua_options_result *res, void *arg)
{
	struct qualify_peer *p = arg;
	char why[160];

	p->req = NULL;		/* it frees itself after this call */
	if (res->err == 0) {
		/* Any final answer: something is there and speaks SIP. */
		peer_outcome(p, true, res->status, res->rtt_ms, "");
		return;
	}
	if (res->err == ETIMEDOUT || res->err == ETIME)
		snprintf(why, sizeof(why), "timeout: no answer from %s",
		    p->target);
	else if (res->err == EPROTO)
		snprintf(why, sizeof(why), "TLS: %s did not verify", p->target);
	else if (res->err == ENOBUFS)
		snprintf(why, sizeof(why), "too many SIP transactions "
		    "(sipxd.max_transactions)");
	else
		snprintf(why, sizeof(why), "transport error: %s",
		    strerror(res->err));
	peer_outcome(p, false, 0, -1, why);
}

static void
peer_resolved(int error, const struct sip_resolve_target *targets, size_t n,
    void *arg)
{
	struct qualify_peer *p = arg;
	struct qualify *q = p->q;
	char addr[64], why[160];
	int err;

	p->rq = NULL;
	if (error != 0) {
		snprintf(why, sizeof(why), "DNS: %s", error == ETIMEDOUT ?
		    "no answer from the DNS servers" : error == ENOENT ?
		    "no such name or record" : "the DNS server failed");
		p->have_cur = false;
		peer_outcome(p, false, 0, -1, why);
		return;
	}
	/* The first target: the one a request sent now would go to. */
	p->cur = targets[0];
	p->have_cur = true;
	sip_tp_addr_str((const struct sockaddr *)&p->cur.addr, addr,
	    sizeof(addr));
	snprintf(p->target, sizeof(p->target), "%s %s",
	    sip_tp_proto_name(ua_proto_of(p->cur.transport)), addr);
	err = ua_options_send_target(q->ua, p->uri, NULL, &p->cur,
	    p->timeout_ms + QUALIFY_SLACK_MS, peer_answered, p, &p->req);
	if (err != 0) {
		snprintf(why, sizeof(why), "cannot send OPTIONS: %s",
		    strerror(err));
		peer_outcome(p, false, 0, -1, why);
	}
}

/* Drops the probe out, if any, without judging it. */
static void
peer_abandon(struct qualify_peer *p)
{
	if (p->rq != NULL) {
		sip_resolve_cancel(p->rq);
		p->rq = NULL;
	}
	if (p->req != NULL) {
		ua_options_cancel(p->req);
		p->req = NULL;
	}
	evtimer_del(p->deadline);
}

static void
peer_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qualify_peer *p = arg;
	char why[160];

	if (p->rq != NULL)
		snprintf(why, sizeof(why), "DNS: no answer within %u ms",
		    p->timeout_ms);
	else
		snprintf(why, sizeof(why), "timeout: no answer from %s "
		    "within %u ms", p->target, p->timeout_ms);
	peer_abandon(p);
	peer_outcome(p, false, 0, -1, why);
}

static void
peer_arm(struct qualify_peer *p, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(p->timer, &tv);
}

static void
peer_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qualify_peer *p = arg;
	struct qualify *q = p->q;
	struct timeval tv = { p->timeout_ms / 1000,
	    (suseconds_t)(p->timeout_ms % 1000) * 1000 };
	char why[160];
	int err;

	if (q->stopped)
		return;
	/* A fixed period from probe to probe: the phase is the jitter. */
	peer_arm(p, (uint64_t)p->interval_s * 1000);
	/* The timeout is below the interval: nothing can be out, but a
	 * stuck probe must not pile others up behind it. */
	if (p->rq != NULL || p->req != NULL)
		return;
	evtimer_add(p->deadline, &tv);
	err = ua_resolve(q->ua, p->uri, (int)p->tp, peer_resolved, p, &p->rq);
	if (err != 0) {
		p->rq = NULL;
		p->have_cur = false;
		snprintf(why, sizeof(why), "cannot resolve %s: %s", p->uri,
		    strerror(err));
		peer_outcome(p, false, 0, -1, why);
	}
}

/* A uniform double in [0, 1). */
static double
qualify_rnd(void)
{
	char hex[17];

	random_hex(hex, 8);
	return (double)(strtoull(hex, NULL, 16) >> 11) / 9007199254740992.0;
}

static struct qualify_peer *
peer_new(struct qualify *q, const struct account_cfg *c, char *key)
{
	struct qualify_peer *p = xcalloc(1, sizeof(*p));

	p->q = q;
	p->key = key;
	p->uri = xstrdup(qualify_hop(c));
	p->tp = c->transport;
	p->interval_s = (unsigned)c->qualify_interval;
	p->timeout_ms = (unsigned)c->qualify_timeout;
	p->up = c->qualify_up > 0 ? (unsigned)c->qualify_up : 1;
	p->down = c->qualify_down > 0 ? (unsigned)c->qualify_down : 1;
	p->rtt_ms = -1;
	p->timer = evtimer_new(q->ua->base, peer_probe_cb, p);
	p->deadline = evtimer_new(q->ua->base, peer_deadline_cb, p);
	return p;
}

static void
peer_free(struct qualify_peer *p)
{
	peer_abandon(p);
	event_free(p->timer);
	event_free(p->deadline);
	free(p->key);
	free(p->uri);
	free(p);
}

/* ---- the agent -------------------------------------------------------------- */

struct qualify *
qualify_new(struct ua *ua, struct account_set *set, qualify_down_fn *down,
    void *arg)
{
	struct qualify *q = xcalloc(1, sizeof(*q));

	q->ua = ua;
	q->set = set;
	q->down = down;
	q->down_arg = arg;
	events_add_snapshot(qualify_snapshot, q);
	return q;
}

void
qualify_sync(struct qualify *q)
{
	struct qualify_peer **keep;
	size_t nkeep = 0, nfresh = 0;

	for (size_t i = 0; i < q->npeers; i++)
		q->peers[i]->naccounts = 0;
	for (size_t i = 0; i < q->set->n; i++) {
		struct account *a = q->set->items[i];
		const struct account_cfg *c = a->cfg;
		struct qualify_peer *p;
		char *key;

		a->qpeer = NULL;
		if (c->qualify_interval <= 0 || qualify_hop(c) == NULL)
			continue;
		key = qualify_key(c);
		if ((p = qualify_find(q, key)) != NULL) {
			free(key);
		} else {
			/* New: in the table at once, for the accounts after. */
			p = peer_new(q, c, key);
			q->peers = xreallocarray(q->peers, q->npeers + 1,
			    sizeof(*q->peers));
			q->peers[q->npeers++] = p;
			p->hnext = NULL;
			if (q->nbuckets == 0 || q->npeers * 2 > q->nbuckets)
				qualify_index(q);
			else {
				size_t b = qualify_hash(key) &
				    (q->nbuckets - 1);

				p->hnext = q->buckets[b];
				q->buckets[b] = p;
			}
			nfresh++;
		}
		a->qpeer = p;
		p->naccounts++;
	}
	/* Peers no account uses any more go; the rest keep their order. */
	keep = xreallocarray(NULL, q->npeers > 0 ? q->npeers : 1,
	    sizeof(*keep));
	for (size_t i = 0; i < q->npeers; i++) {
		struct qualify_peer *p = q->peers[i];

		if (p->naccounts == 0) {
			log_debug("qualify: %s: no account left, not probed "
			    "any more", p->uri);
			peer_free(p);
			continue;
		}
		keep[nkeep++] = p;
		/* Each at a random point of its interval: no bursts. */
		if (!p->started && !q->stopped) {
			p->started = true;
			peer_arm(p, (uint64_t)(qualify_rnd() *
			    (double)p->interval_s * 1000.0));
		}
	}
	free(q->peers);
	q->peers = keep;
	q->npeers = nkeep;
	qualify_index(q);
	if (nfresh > 0)
		log_info("qualify: %zu peer%s probed, %zu new", q->npeers,
		    q->npeers == 1 ? "" : "s", nfresh);
}

void
qualify_stop(struct qualify *q)
{
	q->stopped = true;
	for (size_t i = 0; i < q->npeers; i++) {
		peer_abandon(q->peers[i]);
		evtimer_del(q->peers[i]->timer);
	}
}

void
qualify_free(struct qualify *q)
{
	if (q == NULL)
		return;
	events_remove_snapshot(qualify_snapshot, q);
	for (size_t i = 0; i < q->set->n; i++)
		q->set->items[i]->qpeer = NULL;
	for (size_t i = 0; i < q->npeers; i++)
		peer_free(q->peers[i]);
	free(q->peers);
	free(q->buckets);
	free(q);
}

/* ---- control ------------------------------------------------------------ */

size_t
qualify_count(const struct qualify *q)
{
	return q != NULL ? q->npeers : 0;
}

static void
peer_info(const struct qualify_peer *p, struct qualify_info *i)
{
	memset(i, 0, sizeof(*i));
	i->uri = p->uri;
	i->transport = account_transport_name(p->tp);
	i->state = p->state;
	i->target = p->target;
	i->rtt_ms = p->rtt_ms;
	i->last_status = p->last_status;
	i->last_error = p->last_error;
	i->interval_s = p->interval_s;
	i->timeout_ms = p->timeout_ms;
	i->up = p->up;
	i->down = p->down;
	i->failures = p->fails;
	i->probes = p->probes;
	i->lost = p->lost;
	i->accounts = p->naccounts;
	i->changed = p->changed;
}

void
qualify_info_at(const struct qualify *q, size_t i, struct qualify_info *out)
{
	peer_info(q->peers[i], out);
}

bool
qualify_info_of(const struct qualify *q, const struct account *a,
    struct qualify_info *out)
{
	if (q == NULL || a->qpeer == NULL)
		return false;
	peer_info(a->qpeer, out);
	return true;
}
