/*
 * The registration usage (see reg.h).  One struct reg per account that
 * registers, one evtimer each, one client transaction while a REGISTER
 * is out.  What it costs per account is counted: the 100,000-account
 * process keeps every byte here and little elsewhere.
 *
 * An attempt is one REGISTER exchange as the user sees it: the first
 * request and whatever follows on its own (answers to challenges, a 423
 * retried with Min-Expires, the next RFC 3263 target after a failure).
 * It ends registered, unregistered, or failed; failures schedule the
 * next attempt (RFC 5626 §4.5 backoff, or Retry-After).  At most
 * REG_INFLIGHT_MAX attempts run at once; the others queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "base/log.h"
#include "base/queue.h"
#include "base/random.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_auth.h"
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_uri.h"
#include "events.h"
#include "reg.h"
#include "ua_priv.h"

/* Challenges answered in one attempt before giving up (stale loops). */
#define REG_AUTH_ROUNDS_MAX	4
/* 423 answers followed in one attempt. */
#define REG_423_MAX		2
/* Re-registrations at a NAT's address in one attempt (a registrar
 * naming another address each time must not loop us). */
#define REG_NAT_MAX		2
/* What is kept of the bindings, Service-Route and Path a registrar
 * lists, per account: a hostile one must not grow 100,000 of them. */
#define REG_LISTED_MAX		1024
/* A refresh comes no sooner than this after the last (a registrar
 * granting 1 s must not drive 100,000 accounts at 2 REGISTERs/s). */
#define REG_REFRESH_MIN_MS	1000
/* The largest Min-Expires we accept to ask for (a week). */
#define REG_EXPIRES_MAX		604800
/* Retry-After honoured up to a day; more is a peer's mistake. */
#define REG_RETRY_AFTER_MAX	86400
/* Targets kept for failover within one attempt. */
#define REG_TARGETS_MAX		4
/* RFC 5626 §4.4.1: keep-alive period of a stream flow, no Flow-Timer:
 * 80 % of the recommended 120 s. */
#define REG_FLOW_KEEPALIVE_S	96
/* The slowest pace register_spread can set, attempts a second. */
#define REG_RATE_MIN		20.0
/* A transaction-limit refusal is retried this soon. */
#define REG_BUSY_RETRY_MS	1000

enum reg_admin {
	REG_ADMIN_NONE,
	REG_ADMIN_UNREGISTERED,		/* `unregister NAME` */
	REG_ADMIN_DISABLED,		/* `disable NAME` */
};

/* What an attempt is for. */
enum reg_goal {
	REG_GOAL_BIND,
	REG_GOAL_UNBIND,
};

/*
 * Strings an account keeps while registered live inside its struct reg
 * when they fit.  Allocated during a burst of registrations, between
 * the transactions' short-lived buffers, they would pin the heap's pages
 * long after the burst: measured at 10,000 accounts, 2.3 KB of RSS per
 * account in free fragments.
 */
#define REG_CONTACT_INLINE	96
#define REG_CHAL_INLINE		192
#define REG_TARGETS_KEPT	4096	/* distinct targets named */

/* One protection space answered: the challenge text and its count. */
struct reg_auth {
	char			*chal;		/* "Digest realm=…": inline
						 * (www) or owned */
	uint32_t		 nc;		/* answers to this nonce */
	bool			 proxy;		/* 407: Proxy-Authorization */
	bool			 fresh;		/* came in this attempt */
	bool			 answered;	/* fresh, and answered */
};

/* struct reg_attempt, packed: four of these per account. */
struct reg_hist {
	uint32_t		 time;		/* Unix time, seconds */
	uint32_t		 expires;
	uint16_t		 status;
	uint16_t		 target;	/* reg_agent.targets index + 1 */
	int			 err;		/* its text is rebuilt */
	char			 reason[36];	/* after the status code */
};

/* Per attempt: the targets, released when the attempt ends. */
struct reg_try {
	struct sip_resolve_query	*q;
	struct sip_resolve_target	*targets;	/* ntargets */
	size_t				 ntargets, next;
	const struct sip_resolve_target	*cur;
	unsigned			 auth_rounds;
	unsigned			 rounds_423;
	unsigned			 rounds_nat;
	int				 last_err;
	char				*old_contact;	/* to remove, until a 2xx */
};

struct reg {
	struct reg_agent	*ag;
	struct account		*acct;		/* NULL once removed */
	struct account_cfg	*cfg;		/* the account's, or owned
						 * once removed */
	enum reg_state		 state;
	enum reg_admin		 admin;
	enum reg_goal		 goal;
	bool			 queued;	/* waits for a slot */
	bool			 queued_urgent;	/* in agent.urgent */
	bool			 running;	/* holds a slot */
	bool			 orphan;	/* removed: free when done */
	bool			 flow;		/* counted in its conn's flows */
	/*
	 * A reload moved the account to another binding: the new reg
	 * (after) sends nothing until the old one's Expires: 0 (before)
	 * ended, or a late answer to it would remove the new binding
	 * when the Contact is the same (§10.3 step 7).
	 */
	struct reg		*before, *after;
	bool			 listed_ours;	/* the last 2xx listed just
						 * our Contact (not kept) */
	struct event		*timer;		/* start, refresh, retry,
						 * failover */
	enum { REG_TIMER_NONE, REG_TIMER_START, REG_TIMER_FAILOVER }
				 timer_kind;
	struct sip_ctrans	*ct;
	struct reg_try		*try;
	TAILQ_ENTRY(reg)	 qentry;
	TAILQ_ENTRY(reg)	 aentry;	/* every reg of the agent */

	char			 call_id[25];
	uint16_t		 target;	/* reg_agent.targets index + 1,
						 * 0: none yet */
	uint16_t		 bound_target;	/* of the last 2xx */
	uint32_t		 cseq;
	unsigned		 asked;		/* expires asked */
	unsigned		 granted;
	unsigned		 failures;
	unsigned		 last_status;
	uint64_t		 bound_until_us; /* 0: no binding */
	uint64_t		 conn_id;	/* stream the binding uses */
	uint64_t		 send_conn;	/* of the REGISTER out */
	bool			 send_ws;	/* ... over WS or WSS */
	uint64_t		 next_at_us;	/* 0: nothing scheduled */
	char			 last_reason[96];
	char			*contact;	/* our Contact URI, as sent:
						 * contact_in or owned */
	char			*public_addr;	/* NAT: host:port seen */
	char			*contacts;	/* bindings listed, when
						 * not just ours */
	char			*service_route;
	char			*path;
	struct reg_auth		 auth[2];	/* [0] www, [1] proxy */
	struct reg_hist		 hist[REG_HISTORY];
	unsigned		 nhist;		/* total, ring index */
	char			 contact_in[REG_CONTACT_INLINE];
	char			 chal_in[REG_CHAL_INLINE];
};

TAILQ_HEAD(reg_list, reg);

struct reg_agent {
	struct ua		*ua;
	struct account_set	*set;
	struct reg_conf		 conf;
	reg_change_fn		*change;
	void			*change_arg;
	struct reg_list		 all;
	struct reg_list		 queue;		/* attempts waiting */
	/* Refreshes of live bindings: before the rest, and unpaced (a
	 * pace below the refresh rate would let bindings expire). */
	struct reg_list		 urgent;
	size_t			 running;
	bool			 stopping;
	void			(*stop_done)(void *);
	void			*stop_arg;
	struct event		*stop_ev;
	struct event		*pump;		/* starts queued attempts */
	/*
	 * Attempts start at most rate per second (a token bucket holding
	 * 100 ms worth): register_spread paces every REGISTER, not only
	 * the first ones, so a registrar back from an outage never sees
	 * the whole backlog at once.  0: no limit.
	 */
	double			 rate;
	size_t			 nregs;		/* in all */
	double			 tokens;
	uint64_t		 tokens_us;
	/* While attempts run: bindings that expire under them. */
	struct event		*sweep;
	/* "UDP 192.0.2.1:5060" for each target ever used, shared. */
	char			**targets;
	size_t			 ntargets;
	/* Per target: a REGISTER to it got no answer since it last did. */
	bool			*target_down;
	/* Stream connections bindings use, each observed once. */
	struct reg_conn {
		uint64_t	 conn_id;
		uint64_t	 handle;
		size_t		 flows;		/* outbound regs on it */
	}			*conns;
	size_t			 nconns;
	char			 instance_seed[33];
};

static void reg_attempt_start(struct reg *);
static void reg_try_next(struct reg *);
static void reg_attempt_end(struct reg *);

/* ---- arithmetic --------------------------------------------------------- */

unsigned
reg_refresh_after_ms(unsigned granted_s, double rnd)
{
	uint64_t g = (uint64_t)granted_s * 1000, at, latest;

	/* 80 to 90 % of the interval. */
	at = g * 8 / 10 + (uint64_t)((double)(g / 10) * rnd);
	latest = g > 10000 ? g - 5000 : g / 2;
	if (at > latest)
		at = latest;
	if (at < g / 2)
		at = g / 2;
	return (unsigned)at;
}

uint64_t
reg_backoff_ms(unsigned base_s, unsigned max_s, unsigned failures,
    double rnd)
{
	uint64_t wait = (uint64_t)base_s * 1000, max = (uint64_t)max_s * 1000;

	for (unsigned i = 0; i < failures && wait < max; i++)
		wait *= 2;
	if (wait > max)
		wait = max;
	/* A random 50 to 100 %: clients that failed together spread out. */
	return wait / 2 + (uint64_t)((double)(wait / 2) * rnd);
}

unsigned
reg_spread_ms(size_t i, size_t n, unsigned spread_ms)
{
	if (n <= 1)
		return 0;
	return (unsigned)((uint64_t)spread_ms * i / n);
}

/* A uniform double in [0, 1). */
static double
reg_rnd(void)
{
	char hex[17];

	random_hex(hex, 8);
	return (double)(strtoull(hex, NULL, 16) >> 11) / 9007199254740992.0;
}

/* ---- small helpers ------------------------------------------------------ */

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* Copies s into dst[cap], cut short if need be (a display text). */
static void
copy_cut(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Sets *p to s: into inl when it fits (cap bytes), else a heap copy. */
static void
istr_set(char **p, char *inl, size_t cap, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (*p != NULL && *p != inl)
		free(*p);
	*p = NULL;
	if (n == 0)
		return;
	if (inl != NULL && n < cap) {
		memcpy(inl, s, n + 1);
		*p = inl;
	} else {
		*p = xstrdup(s);
	}
}

/* The index + 1 of the target name t in the agent's table, added if
 * new; 0 once the table is full (a name that then shows as ""). */
static uint16_t
reg_target_id(struct reg_agent *ag, const char *t)
{
	for (size_t i = 0; i < ag->ntargets; i++)
		if (strcmp(ag->targets[i], t) == 0)
			return (uint16_t)(i + 1);
	if (ag->ntargets >= REG_TARGETS_KEPT)
		return 0;
	ag->targets = xreallocarray(ag->targets, ag->ntargets + 1,
	    sizeof(*ag->targets));
	ag->target_down = xreallocarray(ag->target_down, ag->ntargets + 1,
	    sizeof(*ag->target_down));
	ag->target_down[ag->ntargets] = false;
	ag->targets[ag->ntargets++] = xstrdup(t);
	return (uint16_t)ag->ntargets;
}

static const char *
reg_target_name(const struct reg_agent *ag, uint16_t id)
{
	return id == 0 || id > ag->ntargets ? "" : ag->targets[id - 1];
}

static const char *
reg_target(const struct reg *r)
{
	return reg_target_name(r->ag, r->target);
}

static void
reg_timer_set(struct reg *r, uint64_t ms, int kind)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	r->timer_kind = kind;
	evtimer_add(r->timer, &tv);
	if (kind == REG_TIMER_START)
		r->next_at_us = time_mono_us() + ms * 1000;
}

static void
reg_timer_stop(struct reg *r)
{
	evtimer_del(r->timer);
	r->timer_kind = REG_TIMER_NONE;
	r->next_at_us = 0;
}

static const char *
reg_name(const struct reg *r)
{
	return r->cfg->name;
}

/*
 * The state and why: account->reg_state, the account.state event, a
 * log line for the states an operator must notice.
 */
static void
reg_set_state(struct reg *r, enum reg_state st, const char *cause,
    unsigned code, int64_t retry_in_ms)
{
	struct events_kv kv[EVENTS_KV_MAX];
	char codes[12], expires[24], retry[24];
	enum reg_state prev = r->state;
	size_t n = 0;

	if (st == prev)
		return;
	r->state = st;
	if (r->acct != NULL)
		r->acct->reg_state = st;
	if (st == REG_STATE_RETRY_WAIT || st == REG_STATE_FAILED)
		log_notice("account %s: %s (%s), next try in %lld s",
		    reg_name(r), reg_state_name(st), cause,
		    (long long)((retry_in_ms + 999) / 1000));
	else if (st == REG_STATE_REGISTERED && prev != st)
		log_info("account %s: registered with %s for %u s",
		    reg_name(r), reg_target(r), r->granted);
	else
		log_debug("account %s: %s (%s)", reg_name(r),
		    reg_state_name(st), cause);
	if (r->acct != NULL) {
		kv[n++] = (struct events_kv){ "state", reg_state_name(st) };
		kv[n++] = (struct events_kv){ "aor", r->cfg->aor };
		kv[n++] = (struct events_kv){ "prev", reg_state_name(prev) };
		kv[n++] = (struct events_kv){ "cause", cause };
		if (code != 0) {
			snprintf(codes, sizeof(codes), "%u", code);
			kv[n++] = (struct events_kv){ "code", codes };
		}
		if (r->target != 0)
			kv[n++] = (struct events_kv){ "target", reg_target(r) };
		if (st == REG_STATE_REGISTERED) {
			snprintf(expires, sizeof(expires), "%u", r->granted);
			kv[n++] = (struct events_kv){ "expires", expires };
		}
		if (retry_in_ms >= 0) {
			snprintf(retry, sizeof(retry), "%lld",
			    (long long)((retry_in_ms + 999) / 1000));
			kv[n++] = (struct events_kv){ "retry_in", retry };
		}
		events_publishv("account.state", reg_name(r), kv, n);
	}
	if (r->ag->change != NULL)
		r->ag->change(r->ag->change_arg);
}

/* Records the attempt's outcome in the ring shown by `account NAME`. */
static void
reg_hist_add(struct reg *r, unsigned expires)
{
	struct reg_hist *at = &r->hist[r->nhist++ % REG_HISTORY];

	memset(at, 0, sizeof(*at));
	at->time = (uint32_t)time_real();
	at->expires = expires;
	snprintf(at->reason, sizeof(at->reason), "pending");
}

static void
reg_hist_end(struct reg *r, unsigned status, int err, const char *reason)
{
	struct reg_hist *at;

	if (r->nhist == 0)
		return;
	at = &r->hist[(r->nhist - 1) % REG_HISTORY];
	at->status = (uint16_t)status;
	at->err = err;
	/* "401 Unauthorized: …": the code has its own column. */
	if (status != 0 && (unsigned)atoi(reason) == status &&
	    strchr(reason, ' ') != NULL)
		reason = strchr(reason, ' ') + 1;
	copy_cut(at->reason, sizeof(at->reason), reason);
	at->target = r->target;
}

/* ---- the slot queue ------------------------------------------------------ */

static bool
reg_queues_empty(const struct reg_agent *ag)
{
	return TAILQ_EMPTY(&ag->queue) && TAILQ_EMPTY(&ag->urgent);
}

/* Queues r's attempt; the pump starts it when a slot (and a token,
 * unless it refreshes a live binding) is free. */
static void
reg_kick(struct reg *r)
{
	struct reg_agent *ag = r->ag;

	reg_timer_stop(r);
	if (r->running || r->queued || r->before != NULL)
		return;
	r->queued = true;
	r->queued_urgent = r->goal == REG_GOAL_BIND &&
	    r->bound_until_us > time_mono_us();
	TAILQ_INSERT_TAIL(r->queued_urgent ? &ag->urgent : &ag->queue, r,
	    qentry);
	event_active(ag->pump, EV_TIMEOUT, 0);
}

static void
reg_dequeue(struct reg *r)
{
	if (r->queued) {
		TAILQ_REMOVE(r->queued_urgent ? &r->ag->urgent :
		    &r->ag->queue, r, qentry);
		r->queued = r->queued_urgent = false;
	}
}

static void reg_free(struct reg *);
static void reg_agent_check_stopped(struct reg_agent *);

/*
 * A slot came free: queued attempts start from the loop, never nested
 * in the end of another (a queue of attempts failing at once would
 * otherwise recurse as deep as the queue is long).
 */
static void
reg_release_slot(struct reg *r)
{
	struct reg_agent *ag = r->ag;

	if (!r->running)
		return;
	r->running = false;
	ag->running--;
	if (!reg_queues_empty(ag))
		event_active(ag->pump, EV_TIMEOUT, 0);
}

static void reg_sweep_arm(struct reg_agent *);

/*
 * The pace register_spread sets: every account once over the spread,
 * and never below REG_RATE_MIN a second.
 */
static void
reg_rate_update(struct reg_agent *ag)
{
	double r;

	if (ag->conf.spread_ms == 0) {
		ag->rate = 0;
		return;
	}
	r = (double)ag->nregs * 1000.0 / ag->conf.spread_ms;
	ag->rate = r < REG_RATE_MIN ? REG_RATE_MIN : r;
}

/* Tokens for the attempts that may start now. */
static void
reg_tokens_refill(struct reg_agent *ag)
{
	uint64_t now = time_mono_us();
	double cap = ag->rate / 10.0 < 1.0 ? 1.0 : ag->rate / 10.0;

	ag->tokens += (double)(now - ag->tokens_us) / 1e6 * ag->rate;
	if (ag->tokens > cap)
		ag->tokens = cap;
	ag->tokens_us = now;
}

static void
reg_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg_agent *ag = arg;
	struct reg *next;

	if (ag->rate > 0)
		reg_tokens_refill(ag);
	while (ag->running < REG_INFLIGHT_MAX &&
	    (next = TAILQ_FIRST(&ag->urgent)) != NULL) {
		reg_dequeue(next);
		next->running = true;
		ag->running++;
		reg_attempt_start(next);
	}
	while (ag->running < REG_INFLIGHT_MAX &&
	    (next = TAILQ_FIRST(&ag->queue)) != NULL) {
		if (ag->rate > 0 && !ag->stopping) {
			if (ag->tokens < 1.0) {
				/* Back when the next token is there. */
				uint64_t us = (uint64_t)((1.0 - ag->tokens) /
				    ag->rate * 1e6) + 1;
				struct timeval tv = { (time_t)(us / 1000000),
				    (suseconds_t)(us % 1000000) };

				evtimer_add(ag->pump, &tv);
				break;
			}
			ag->tokens -= 1.0;
		}
		reg_dequeue(next);
		next->running = true;
		ag->running++;
		reg_attempt_start(next);
	}
	reg_sweep_arm(ag);
}

/*
 * A binding whose refresh waits in the queue or for an answer can run
 * out: the account is then not registered, whatever comes later.
 */
static void
reg_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg_agent *ag = arg;
	uint64_t now = time_mono_us();
	struct reg *r;

	TAILQ_FOREACH(r, &ag->all, aentry) {
		if (r->state != REG_STATE_REGISTERED ||
		    r->bound_until_us == 0 || r->bound_until_us > now ||
		    (!r->running && !r->queued))
			continue;
		r->bound_until_us = 0;
		reg_set_state(r, REG_STATE_REGISTERING, "the binding expired "
		    "before its refresh was answered", 0, -1);
	}
	reg_sweep_arm(ag);
}

static void
reg_sweep_arm(struct reg_agent *ag)
{
	struct timeval tv = { 1, 0 };

	if ((ag->running > 0 || !reg_queues_empty(ag)) &&
	    !evtimer_pending(ag->sweep, NULL))
		evtimer_add(ag->sweep, &tv);
}

/* ---- building a REGISTER ------------------------------------------------ */

/* The user part of the aor, for our Contact ("" if it has none). */
static struct slice
reg_aor_user(const struct reg *r, struct sip_uri *u)
{
	const char *why;

	if (sip_uri_parse(u, r->cfg->aor, strlen(r->cfg->aor), &why) != 0)
		return slice_make("", 0);
	return u->user;
}

/*
 * RFC 5626 §4.1: an instance ID that stays the same across restarts:
 * a name-based UUID from the account's name and aor, and a per-host
 * seed so that two hosts with one config are still two instances.
 */
static void
reg_instance_id(const struct reg *r, char out[37])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, r->ag->instance_seed,
	    strlen(r->ag->instance_seed));
	EVP_DigestUpdate(ctx, r->cfg->name, strlen(r->cfg->name));
	EVP_DigestUpdate(ctx, r->cfg->aor, strlen(r->cfg->aor));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);	/* version 5 */
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);	/* variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4],
	    md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
	    md[13], md[14], md[15]);
}

/* Our Contact URI towards dst: the public address once the registrar
 * told us of a NAT, else the address we send from. */
static void
reg_make_contact(struct reg *r, const struct sip_dest *dst,
    const char *sent_by)
{
	const char *hostport = sent_by;
	struct strbuf sb = STRBUF_INIT;
	struct sip_uri u;
	struct slice user;

	if (r->public_addr != NULL && dst->proto == SIP_TP_UDP)
		hostport = r->public_addr;
	user = reg_aor_user(r, &u);
	strbuf_addf(&sb, "%s:", sip_tp_contact_scheme(dst->proto));
	if (user.n > 0)
		strbuf_addf(&sb, "%.*s@", SLICE_ARG(user));
	strbuf_adds(&sb, hostport);
	strbuf_adds(&sb, sip_tp_contact_param(dst->proto));
	if (r->contact != NULL && strcmp(r->contact, sb.p) != 0 &&
	    r->bound_until_us > time_mono_us() && !r->cfg->outbound &&
	    r->try != NULL && r->try->old_contact == NULL)
		/*
		 * Our address moved (an address left the host, a new
		 * stream has another local port): the old binding goes in
		 * the same REGISTER instead of lingering until it expires.
		 * An outbound binding is replaced by its instance and reg-id.
		 */
		r->try->old_contact = xstrdup(r->contact);
	if (r->contact == NULL || strcmp(r->contact, sb.p) != 0)
		istr_set(&r->contact, r->contact_in, sizeof(r->contact_in),
		    sb.p);
	strbuf_free(&sb);
}

/* Appends the credentials for every challenge we hold. */
static int
reg_add_auth(struct reg *r, struct sip_build *b, const char *ruri)
{
	for (int i = 0; i < 2; i++) {
		struct reg_auth *a = &r->auth[i];
		struct sip_auth_challenge ch;
		struct sip_auth_request rq = { 0 };
		struct strbuf out = STRBUF_INIT;
		char cnonce[2 * SIP_AUTH_CNONCE_BYTES + 1];
		struct slice rest;
		const char *why;
		int err;

		if (a->chal == NULL)
			continue;
		if (sip_auth_challenge_parse(&ch, slice_cstr(a->chal), &rest,
		    &why) != 0)
			continue;
		rq.username = slice_cstr(r->cfg->auth_user);
		if (r->cfg->ha1 != NULL) {
			rq.ha1 = slice_cstr(r->cfg->ha1);
			rq.ha1_alg = ch.algorithm;
		} else {
			rq.password = slice_cstr(str_or_empty(
			    r->cfg->password));
		}
		rq.method = slice_cstr("REGISTER");
		rq.uri = slice_cstr(ruri);
		rq.body = slice_make("", 0);
		if (sip_auth_cnonce(cnonce) != 0)
			return EIO;
		rq.cnonce = slice_cstr(cnonce);
		/* RFC 7616 §3.4: one count per nonce; a new one restarts. */
		if (a->nc == UINT32_MAX)
			continue;
		rq.nc = ++a->nc;
		err = sip_auth_respond(&out, &ch, &rq, NULL);
		if (err != 0) {
			strbuf_free(&out);
			return err;
		}
		sip_build_add(b, a->proxy ? SIP_HDR_PROXY_AUTHORIZATION :
		    SIP_HDR_AUTHORIZATION, out.p);
		a->answered = a->fresh;
		strbuf_free(&out);
	}
	return 0;
}

static void reg_on_ctrans(struct sip_ctrans *, enum sip_trans_event, int,
    const struct sip_msg *, void *);

/* The proxy URI already says lr (§19.1.1: no parameter twice). */
static bool
reg_has_lr(const char *uri)
{
	struct sip_uri u;
	const char *why;

	return sip_uri_parse(&u, uri, strlen(uri), &why) == 0 && u.lr;
}

/* Sends one REGISTER of the attempt to its current target. */
static int
reg_send(struct reg *r)
{
	const struct sip_resolve_target *t = r->try->cur;
	struct ua *ua = r->ag->ua;
	struct sip_build b = { 0 };
	struct strbuf via = STRBUF_INIT, out = STRBUF_INIT;
	unsigned expires = r->goal == REG_GOAL_UNBIND ? 0 : r->asked;
	char addr[64], tag[17], inst[37], sent_by[INET6_ADDRSTRLEN + 8];
	struct sip_dest dst;
	int err;

	sip_tp_addr_str((const struct sockaddr *)&t->addr, addr, sizeof(addr));
	{
		char tgt[80];

		snprintf(tgt, sizeof(tgt), "%s %s",
		    sip_tp_proto_name(ua_proto_of(t->transport)), addr);
		r->target = reg_target_id(r->ag, tgt);
	}
	err = ua_target_dest(ua, t, &dst);
	if (err == 0)
		err = sip_tp_sent_by(ua->tp, &dst, sent_by, sizeof(sent_by));
	r->send_conn = dst.conn_id;
	r->send_ws = sip_tp_proto_ws(dst.proto);
	if (err != 0)
		return err;
	/* One sent-by for Via and Contact (a wildcard's costs a socket). */
	sip_tp_via_at(&dst, sent_by, NULL, &via);
	reg_make_contact(r, &dst, sent_by);
	random_hex(tag, 8);
	sip_build_request(&b, "REGISTER", r->cfg->registrar);
	sip_build_add(&b, SIP_HDR_VIA, via.p);
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	if (r->cfg->outbound_proxy != NULL)
		sip_build_addf(&b, SIP_HDR_ROUTE, "<%s%s>",
		    r->cfg->outbound_proxy, reg_has_lr(r->cfg->outbound_proxy) ?
		    "" : ";lr");
	if (r->cfg->display_name != NULL) {
		sip_build_addf(&b, SIP_HDR_FROM, "\"%s\" <%s>;tag=%s",
		    r->cfg->display_name, r->cfg->aor, tag);
		sip_build_addf(&b, SIP_HDR_TO, "\"%s\" <%s>",
		    r->cfg->display_name, r->cfg->aor);
	} else {
		sip_build_addf(&b, SIP_HDR_FROM, "<%s>;tag=%s", r->cfg->aor,
		    tag);
		sip_build_addf(&b, SIP_HDR_TO, "<%s>", r->cfg->aor);
	}
	sip_build_add(&b, SIP_HDR_CALL_ID, r->call_id);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u REGISTER", ++r->cseq);
	if (r->cfg->outbound) {
		reg_instance_id(r, inst);
		sip_build_addf(&b, SIP_HDR_CONTACT, "<%s>;expires=%u;"
		    "+sip.instance=\"<urn:uuid:%s>\";reg-id=1", r->contact,
		    expires, inst);
		sip_build_add(&b, SIP_HDR_SUPPORTED, "outbound, path");
	} else {
		sip_build_addf(&b, SIP_HDR_CONTACT, "<%s>;expires=%u",
		    r->contact, expires);
		sip_build_add(&b, SIP_HDR_SUPPORTED, "path");
	}
	/*
	 * The binding a NAT change left behind goes in the same request,
	 * and in the next one of the attempt too: a challenged REGISTER
	 * removed nothing (§10.3).  reg_on_success lets it go.
	 */
	if (r->try->old_contact != NULL &&
	    strcmp(r->try->old_contact, r->contact) != 0)
		sip_build_addf(&b, SIP_HDR_CONTACT, "<%s>;expires=0",
		    r->try->old_contact);
	sip_build_addf(&b, SIP_HDR_EXPIRES, "%u", expires);
	sip_build_add(&b, SIP_HDR_ALLOW, ua->allow);
	sip_build_add(&b, SIP_HDR_USER_AGENT, ua->user_agent);
	err = reg_add_auth(r, &b, r->cfg->registrar);
	if (err == 0) {
		sip_build_finish(&b, &out);
		err = sip_ctrans_send(ua->trans, out.p, out.n, &dst,
		    reg_on_ctrans, r, &r->ct);
	}
	strbuf_free(&out);
	strbuf_free(&via);
	sip_build_free(&b);
	return err;
}

/* ---- outcomes ----------------------------------------------------------- */

/* The binding is gone (or never was): the state the account rests in. */
static enum reg_state
reg_rest_state(const struct reg *r)
{
	if (!r->cfg->register_on || r->admin == REG_ADMIN_DISABLED)
		return REG_STATE_DISABLED;
	return REG_STATE_UNREGISTERED;
}

/*
 * The attempt failed.  fatal: the answer says trying again soon will
 * not help (403, 404, credentials refused…): `failed`, retry.fatal
 * later.  Otherwise `retry-wait` with backoff.  retry_after_s (0: none)
 * from the answer wins over both.
 */
static void
reg_fail(struct reg *r, bool fatal, unsigned status, const char *cause,
    unsigned retry_after_s)
{
	uint64_t wait;

	reg_hist_end(r, status, r->try != NULL ? r->try->last_err : 0, cause);
	/* The code has its own field: the reason starts after it. */
	copy_cut(r->last_reason, sizeof(r->last_reason), status != 0 &&
	    (unsigned)atoi(cause) == status && strchr(cause, ' ') != NULL ?
	    strchr(cause, ' ') + 1 : cause);
	r->last_status = status;
	reg_attempt_end(r);
	if (r->goal == REG_GOAL_UNBIND) {
		/* Removing a binding is tried once; it expires anyway. */
		r->bound_until_us = 0;
		reg_set_state(r, reg_rest_state(r), cause, status, -1);
		return;
	}
	r->failures++;
	if (r->bound_until_us != 0 && r->bound_until_us <= time_mono_us())
		r->bound_until_us = 0;
	if (fatal)
		wait = (uint64_t)r->cfg->retry_fatal * 1000;
	else
		wait = reg_backoff_ms((unsigned)r->cfg->retry_base,
		    (unsigned)r->cfg->retry_max, r->failures, reg_rnd());
	if (retry_after_s > 0)
		wait = (uint64_t)(retry_after_s > REG_RETRY_AFTER_MAX ?
		    REG_RETRY_AFTER_MAX : retry_after_s) * 1000;
	if (r->ag->stopping)
		return;
	reg_timer_set(r, wait, REG_TIMER_START);
	reg_set_state(r, fatal ? REG_STATE_FAILED : REG_STATE_RETRY_WAIT,
	    cause, status, (int64_t)wait);
}

/* Does the Contact c name the URI we registered? */
static bool
reg_contact_is_ours(const struct reg *r, const struct sip_contact *c)
{
	struct sip_uri mine;
	const char *why;

	if (r->contact == NULL || sip_uri_parse(&mine, r->contact,
	    strlen(r->contact), &why) != 0)
		return false;
	return slice_eq(mine.user, c->addr.uri.user) &&
	    slice_caseeq(mine.host, c->addr.uri.host) &&
	    mine.port == c->addr.uri.port;
}

/* Joins every value of the header named name (Service-Route, Path). */
static char *
reg_join_named(const struct sip_msg *msg, const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	for (unsigned i = 0; i < msg->nhdrs; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];

		if (h->name.n != strlen(name) ||
		    strncasecmp(h->name.p, name, h->name.n) != 0)
			continue;
		if (sb.n > 0)
			strbuf_adds(&sb, ", ");
		strbuf_add(&sb, h->value.p, h->value.n);
	}
	/* A route cut short would be a wrong route: none rather. */
	if (sb.n == 0 || sb.n > REG_LISTED_MAX) {
		if (sb.n > REG_LISTED_MAX)
			log_info("reg: a %s of %zu bytes ignored (at most %d)",
			    name, sb.n, REG_LISTED_MAX);
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

/*
 * RFC 3581: the registrar saw us at received:rport.  When that is not
 * the address in our Contact, we are behind a NAT: remember the public
 * address and register it instead (UDP only: over a stream the
 * connection itself is the way back).
 */
static bool
reg_nat_detect(struct reg *r, const struct sip_msg *msg)
{
	const struct sip_via *v;
	char pub[INET6_ADDRSTRLEN + 8], local[INET6_ADDRSTRLEN + 8];
	unsigned port;

	if (msg->nvia == 0 || r->contact == NULL)
		return false;
	v = &msg->via[0];
	if (!slice_present(v->received) || v->received.n == 0 ||
	    v->received.n >= INET6_ADDRSTRLEN ||
	    !slice_caseeq_cstr(v->transport, "UDP"))
		return false;
	/* It goes into our Contact: an address, nothing else. */
	{
		char ip[INET6_ADDRSTRLEN];
		unsigned char bin[sizeof(struct in6_addr)];

		memcpy(ip, v->received.p, v->received.n);
		ip[v->received.n] = '\0';
		if (inet_pton(AF_INET, ip, bin) != 1 &&
		    inet_pton(AF_INET6, ip, bin) != 1)
			return false;
	}
	port = v->rport_value > 0 ? (unsigned)v->rport_value : v->port;
	if (port == 0)
		port = 5060;
	if (memchr(v->received.p, ':', v->received.n) != NULL)
		snprintf(pub, sizeof(pub), "[%.*s]:%u",
		    SLICE_ARG(v->received), port);
	else
		snprintf(pub, sizeof(pub), "%.*s:%u", SLICE_ARG(v->received),
		    port);
	/* Our Via's sent-by, as the response carries it back. */
	snprintf(local, sizeof(local), "%.*s:%u", SLICE_ARG(v->host),
	    v->port != 0 ? v->port : 5060);
	if (strcmp(pub, local) == 0) {
		if (r->public_addr == NULL)
			return false;
		/* The NAT is gone: our own address again. */
		log_notice("account %s: the registrar sees us at our own "
		    "address %s again: registering it", reg_name(r), local);
		set_str(&r->public_addr, NULL);
		return true;
	}
	if (r->public_addr != NULL && strcmp(r->public_addr, pub) == 0)
		return false;
	log_notice("account %s: the registrar sees us at %s, not at %s: "
	    "registering that address (NAT)", reg_name(r), pub, local);
	set_str(&r->public_addr, pub);
	return true;
}

static void reg_conn_lost(uint64_t conn_id, int err, void *arg);

static struct reg_conn *
reg_conn_find(struct reg_agent *ag, uint64_t id)
{
	for (size_t i = 0; i < ag->nconns; i++)
		if (ag->conns[i].conn_id == id)
			return &ag->conns[i];
	return NULL;
}

/*
 * r no longer uses its connection.  RFC 5626 §4.4.1 keeps a connection
 * alive as a flow only for the bindings made over it: when no outbound
 * registration is left on it, its pings stop and the transport's idle
 * timeout applies again (else it would be pinged for ever).
 */
static void
reg_flow_leave(struct reg *r)
{
	struct reg_conn *rc;
	uint64_t id = r->conn_id;

	r->conn_id = 0;
	if (!r->flow)
		return;
	r->flow = false;
	if ((rc = reg_conn_find(r->ag, id)) != NULL && rc->flows > 0 &&
	    --rc->flows == 0)
		(void)sip_tp_conn_set_keepalive(r->ag->ua->tp, id, 0);
}

/*
 * A binding over TCP or TLS lives as long as its connection: the
 * registrar reaches us through it.  The agent watches each connection
 * once, however many accounts use it.
 */
static void
reg_watch_conn(struct reg *r, const struct sip_msg *msg)
{
	struct reg_agent *ag = r->ag;
	struct reg_conn *rc;
	const struct sip_hdr *ft;
	uint64_t h, secs = REG_FLOW_KEEPALIVE_S;
	/*
	 * A WebSocket has no listener behind it (RFC 7118): the binding
	 * is reached through this connection alone, which must then be
	 * kept as a flow, outbound or not.
	 */
	bool flow = r->cfg->outbound || r->send_ws;

	if (r->conn_id != r->send_conn || !flow)
		reg_flow_leave(r);
	r->conn_id = r->send_conn;
	if (r->conn_id == 0)
		return;
	if ((rc = reg_conn_find(ag, r->conn_id)) == NULL) {
		h = sip_tp_conn_observe(ag->ua->tp, r->conn_id, reg_conn_lost,
		    ag);
		if (h == 0) {
			r->conn_id = 0;
			return;
		}
		ag->conns = xreallocarray(ag->conns, ag->nconns + 1,
		    sizeof(*ag->conns));
		rc = &ag->conns[ag->nconns++];
		rc->conn_id = r->conn_id;
		rc->handle = h;
		rc->flows = 0;
	}
	/*
	 * RFC 5626 §4.4.1: an outbound flow is kept alive with CRLFCRLF
	 * pings, at 80 % of the registrar's Flow-Timer when it gives one.
	 */
	if (flow) {
		ft = sip_msg_hdr_named(msg, "Flow-Timer");
		if (ft != NULL && slice_to_u64(slice_trim(ft->value), 86400,
		    &secs) == 0 && secs >= 5)
			secs = secs * 8 / 10;
		else
			secs = REG_FLOW_KEEPALIVE_S;
		sip_tp_conn_set_keepalive(ag->ua->tp, r->conn_id,
		    (unsigned)secs);
		if (!r->flow) {
			r->flow = true;
			rc->flows++;
		}
	}
}

/*
 * The connection is gone, and with it the way to reach us: every
 * binding over it registers again (over a new one), spread out so
 * that ten thousand accounts on one connection are not one burst.
 */
static void
reg_conn_lost(uint64_t conn_id, int err, void *arg)
{
	struct reg_agent *ag = arg;
	struct reg *r;
	size_t n = 0;

	for (size_t i = 0; i < ag->nconns; i++)
		if (ag->conns[i].conn_id == conn_id) {
			ag->conns[i] = ag->conns[--ag->nconns];
			break;
		}
	if (ag->stopping)
		return;
	TAILQ_FOREACH(r, &ag->all, aentry) {
		if (r->conn_id != conn_id)
			continue;
		r->conn_id = 0;
		r->flow = false;
		if (r->orphan || r->running || r->queued ||
		    r->state != REG_STATE_REGISTERED)
			continue;
		/*
		 * An outbound flow (RFC 5626) was the binding: it is gone.
		 * Otherwise the registrar may still reach us at our Contact
		 * until the binding expires, and the new REGISTER comes
		 * before that.
		 */
		if (r->cfg->outbound) {
			r->bound_until_us = 0;
			reg_set_state(r, REG_STATE_REGISTERING, "the flow's "
			    "connection closed", 0, -1);
		}
		{
			uint64_t ms = (uint64_t)(reg_rnd() *
			    ag->conf.spread_ms);
			uint64_t now = time_mono_us();

			if (r->bound_until_us > now &&
			    ms * 1000 > (r->bound_until_us - now) / 2)
				ms = (r->bound_until_us - now) / 2000;
			if (r->cfg->outbound)
				ms = 0;
			reg_timer_set(r, ms, REG_TIMER_START);
		}
		n++;
	}
	if (n > 0)
		log_notice("sip: connection %llu closed (%s): registering "
		    "%zu account%s again", (unsigned long long)conn_id,
		    err != 0 ? strerror(err) : "by the peer", n,
		    n == 1 ? "" : "s");
}

static void
reg_on_success(struct reg *r, const struct sip_msg *msg)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t granted = -1;
	char cause[160];
	uint64_t refresh;

	r->last_status = msg->status;
	snprintf(cause, sizeof(cause), "%u %.*s", msg->status,
	    SLICE_ARG(msg->reason));
	copy_cut(r->last_reason, sizeof(r->last_reason), cause + 4);
	reg_hist_end(r, msg->status, 0, cause + 4);
	/* A 2xx: the binding left behind, if any, is gone. */
	free(r->try->old_contact);
	r->try->old_contact = NULL;

	if (r->goal == REG_GOAL_UNBIND) {
		r->bound_until_us = 0;
		set_str(&r->contacts, NULL);
		r->listed_ours = false;
		reg_flow_leave(r);
		reg_attempt_end(r);
		reg_set_state(r, reg_rest_state(r), r->ag->stopping ?
		    "stopping" : cause, msg->status, -1);
		return;
	}
	/* The bindings the registrar lists; ours gives the expiry. */
	for (unsigned i = 0; i < msg->ncontact; i++) {
		const struct sip_contact *c = &msg->contact[i];

		if (granted < 0 && reg_contact_is_ours(r, c))
			granted = c->expires;
		if (sb.n + c->addr.uri_str.n + 32 > REG_LISTED_MAX)
			continue;	/* kept: what fits */
		if (sb.n > 0)
			strbuf_addc(&sb, '\n');
		strbuf_addf(&sb, "<%.*s>", SLICE_ARG(c->addr.uri_str));
		if (c->expires >= 0)
			strbuf_addf(&sb, ";expires=%lld",
			    (long long)c->expires);
	}
	/*
	 * A registrar that rewrote our Contact (a NAT fix-up) lists ours
	 * under another name: the soonest expiry listed is the safe guess.
	 */
	for (unsigned i = 0; granted < 0 && i < msg->ncontact; i++)
		if (msg->contact[i].expires >= 0)
			for (unsigned k = 0; k < msg->ncontact; k++)
				if (msg->contact[k].expires >= 0 &&
				    (granted < 0 ||
				    msg->contact[k].expires < granted))
					granted = msg->contact[k].expires;
	if (granted < 0)
		granted = msg->expires;
	if (granted < 0)
		granted = r->asked;
	/* Just ours, as the common case is: nothing to keep. */
	free(r->contacts);
	r->contacts = NULL;
	r->listed_ours = msg->ncontact == 1 &&
	    reg_contact_is_ours(r, &msg->contact[0]);
	if (sb.n > 0 && !r->listed_ours)
		r->contacts = strbuf_detach(&sb);
	strbuf_free(&sb);
	free(r->service_route);
	r->service_route = reg_join_named(msg, "Service-Route");
	free(r->path);
	r->path = reg_join_named(msg, "Path");

	if (granted == 0) {
		reg_fail(r, false, msg->status, "the registrar granted 0 s",
		    0);
		return;
	}
	if (granted > REG_EXPIRES_MAX)
		granted = REG_EXPIRES_MAX;
	r->granted = (unsigned)granted;
	r->bound_until_us = time_mono_us() + (uint64_t)granted * 1000000;
	if (++r->try->rounds_nat <= REG_NAT_MAX && reg_nat_detect(r, msg)) {
		/* Same attempt, same slot: register the public address. */
		if (r->ct != NULL) {
			sip_ctrans_detach(r->ct);
			r->ct = NULL;
		}
		r->try->auth_rounds = 0;
		r->try->old_contact = xstrdup(r->contact);
		if (reg_send(r) == 0)
			return;
	}
	r->failures = 0;
	reg_watch_conn(r, msg);
	reg_attempt_end(r);
	if (r->ag->stopping)
		return;
	refresh = reg_refresh_after_ms(r->granted, reg_rnd());
	if (refresh < REG_REFRESH_MIN_MS)
		refresh = REG_REFRESH_MIN_MS;
	reg_timer_set(r, refresh, REG_TIMER_START);
	/* A refresh that failed over is no state change: say so apart. */
	if (r->state == REG_STATE_REGISTERED && r->bound_target != 0 &&
	    r->bound_target != r->target && r->acct != NULL) {
		const char *from = reg_target_name(r->ag, r->bound_target);

		log_notice("account %s: registered with %s now (was %s)",
		    reg_name(r), reg_target(r), from);
		events_publish("account.target", reg_name(r), "aor",
		    r->cfg->aor, "target", reg_target(r), "prev", from, NULL);
	}
	r->bound_target = r->target;
	reg_set_state(r, REG_STATE_REGISTERED, cause, msg->status, -1);
}

static bool reg_ha1_fits(const char *, enum sip_auth_alg);

/*
 * 401/407: keep the first usable challenge of each kind and send again,
 * unless the same protection space just refused fresh credentials.
 */
static void
reg_on_challenge(struct reg *r, const struct sip_msg *msg)
{
	bool proxy = msg->status == 407;
	const struct sip_auth_challenge *chs = proxy ? msg->proxy_auth :
	    msg->www_auth;
	unsigned n = proxy ? msg->nproxy_auth : msg->nwww_auth;
	struct reg_auth *a = &r->auth[proxy ? 1 : 0];
	const struct sip_auth_challenge *ch = NULL;
	char cause[200];

	/* The first we can answer; with an ha1, of its hash. */
	for (unsigned i = 0; i < n && ch == NULL; i++)
		if (sip_auth_challenge_usable(&chs[i]) &&
		    reg_ha1_fits(r->cfg->ha1, chs[i].algorithm))
			ch = &chs[i];
	if (ch == NULL) {
		snprintf(cause, sizeof(cause), "%u %.*s: no usable challenge",
		    msg->status, SLICE_ARG(msg->reason));
		log_warnx("account %s: the registrar's challenges are none "
		    "sipxd can answer (Digest with MD5, SHA-256 or "
		    "SHA-512-256%s)", reg_name(r), r->cfg->ha1 != NULL ?
		    ", of the ha1's hash" : "");
		reg_fail(r, true, msg->status, cause, 0);
		return;
	}
	if (r->cfg->password == NULL && r->cfg->ha1 == NULL) {
		snprintf(cause, sizeof(cause), "%u %.*s: the registrar wants "
		    "credentials and the account has no password or ha1",
		    msg->status, SLICE_ARG(msg->reason));
		reg_fail(r, true, msg->status, cause, 0);
		return;
	}
	/* RFC 2617 §3.2.1: a refusal of fresh credentials is final. */
	if (a->answered && !ch->stale) {
		snprintf(cause, sizeof(cause), "%u %.*s: credentials refused",
		    msg->status, SLICE_ARG(msg->reason));
		log_warnx("account %s: the registrar refused its credentials: "
		    "check auth_user and the password (or ha1)", reg_name(r));
		reg_fail(r, true, msg->status, cause, 0);
		return;
	}
	if (++r->try->auth_rounds > REG_AUTH_ROUNDS_MAX) {
		snprintf(cause, sizeof(cause), "%u %.*s: still challenged "
		    "after %d answers", msg->status, SLICE_ARG(msg->reason),
		    REG_AUTH_ROUNDS_MAX);
		reg_fail(r, true, msg->status, cause, 0);
		return;
	}
	/* Keep the challenge's own text: it outlives msg. */
	{
		char *text = xstrndup(ch->scheme_name.p, (size_t)(ch->params.p +
		    ch->params.n - ch->scheme_name.p));

		istr_set(&a->chal, proxy ? NULL : r->chal_in,
		    sizeof(r->chal_in), text);
		free(text);
	}
	a->nc = 0;
	a->proxy = proxy;
	a->fresh = true;
	reg_hist_end(r, msg->status, 0, ch->stale ? "stale nonce" :
	    "challenged");
	reg_hist_add(r, r->goal == REG_GOAL_UNBIND ? 0 : r->asked);
	if (r->ct != NULL) {
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
	}
	if ((r->try->last_err = reg_send(r)) == EINVAL ||
	    r->try->last_err == ENOTSUP) {
		/* Ours, not the target's: another target would fare alike. */
		snprintf(cause, sizeof(cause), "%u %.*s: cannot answer the "
		    "challenge (%s)", msg->status, SLICE_ARG(msg->reason),
		    r->try->last_err == ENOTSUP ? "the ha1 is of another "
		    "hash" : "malformed ha1 or a value that cannot be sent");
		reg_fail(r, true, msg->status, cause, 0);
	} else if (r->try->last_err != 0) {
		reg_try_next(r);
	}
}

/* An ha1 answers only challenges of its own hash (MD5: 32 hex digits,
 * SHA-256 and SHA-512/256: 64, told apart by nothing but trying). */
static bool
reg_ha1_fits(const char *ha1, enum sip_auth_alg alg)
{
	size_t n = ha1 != NULL ? strlen(ha1) : 0;

	if (ha1 == NULL)
		return true;
	switch (alg) {
	case SIP_AUTH_ALG_MD5:
	case SIP_AUTH_ALG_MD5_SESS:
		return n == 32;
	case SIP_AUTH_ALG_SHA256:
	case SIP_AUTH_ALG_SHA256_SESS:
	case SIP_AUTH_ALG_SHA512_256:
	case SIP_AUTH_ALG_SHA512_256_SESS:
		return n == 64;
	case SIP_AUTH_ALG_UNKNOWN:
		break;
	}
	return false;
}

static unsigned
reg_retry_after(const struct sip_msg *msg)
{
	return msg->has_retry_after ? msg->retry_after.seconds : 0;
}

static void
reg_on_final(struct reg *r, const struct sip_msg *msg)
{
	char cause[200];
	unsigned st = msg->status;

	snprintf(cause, sizeof(cause), "%u %.*s", st, SLICE_ARG(msg->reason));
	if (st >= 200 && st < 300) {
		reg_on_success(r, msg);
		return;
	}
	if (st == 401 || st == 407) {
		reg_on_challenge(r, msg);
		return;
	}
	if (st == 423 && r->goal == REG_GOAL_BIND && msg->min_expires > 0 &&
	    msg->min_expires <= REG_EXPIRES_MAX &&
	    (unsigned)msg->min_expires > r->asked &&
	    ++r->try->rounds_423 <= REG_423_MAX) {
		r->asked = (unsigned)msg->min_expires;
		snprintf(cause, sizeof(cause), "423: retrying with "
		    "Min-Expires %u", r->asked);
		reg_hist_end(r, st, 0, cause);
		log_info("account %s: %s", reg_name(r), cause);
		reg_hist_add(r, r->asked);
		if (r->ct != NULL) {
			sip_ctrans_detach(r->ct);
			r->ct = NULL;
		}
		if ((r->try->last_err = reg_send(r)) != 0)
			reg_try_next(r);
		return;
	}
	/* RFC 3263 §4.3: 503 moves on to the next target, if any. */
	if (st == 503 && r->try->next < r->try->ntargets) {
		r->try->last_err = EAGAIN;
		if (r->try->cur != NULL && r->ag->ua->blocklist_ms > 0)
			sip_resolve_mark_failed(r->ag->ua->res, r->try->cur,
			    r->ag->ua->blocklist_ms);
		reg_try_next(r);
		return;
	}
	if (st >= 500 && st < 600)
		reg_fail(r, false, st, cause, reg_retry_after(msg));
	else if (st == 408 || st == 480)
		reg_fail(r, false, st, cause, reg_retry_after(msg));
	else
		reg_fail(r, true, st, cause, reg_retry_after(msg));
}

/*
 * A target that had left REGISTERs unanswered answers again: the
 * accounts waiting out a backoff because of that silence try now
 * (paced by register_spread) instead of after up to retry.max.  A
 * registrar that answered with Retry-After is not asked again early.
 */
static void
reg_target_back(struct reg_agent *ag, uint16_t target)
{
	struct reg *r;
	size_t n = 0;

	ag->target_down[target - 1] = false;
	if (ag->stopping)
		return;
	TAILQ_FOREACH(r, &ag->all, aentry) {
		if (r->target != target || r->orphan || r->running ||
		    r->queued || r->last_status != 0 ||
		    r->timer_kind != REG_TIMER_START ||
		    (r->state != REG_STATE_RETRY_WAIT &&
		    r->state != REG_STATE_REGISTERING))
			continue;
		r->goal = REG_GOAL_BIND;
		reg_kick(r);
		n++;
	}
	if (n > 0)
		log_notice("reg: %s answers again: %zu account%s waiting on "
		    "it try now", reg_target_name(ag, target), n, n == 1 ?
		    "" : "s");
}

static void
reg_on_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *msg, void *arg)
{
	struct reg *r = arg;

	switch (ev) {
	case SIP_TRANS_EV_RESPONSE:
		if (msg->status < 200) {
			/* Alive: only Timer F ends it now. */
			if (r->timer_kind == REG_TIMER_FAILOVER)
				reg_timer_stop(r);
			return;
		}
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
		if (r->timer_kind == REG_TIMER_FAILOVER)
			reg_timer_stop(r);
		if (r->target != 0 && r->ag->target_down[r->target - 1])
			reg_target_back(r->ag, r->target);
		reg_on_final(r, msg);
		return;
	case SIP_TRANS_EV_TIMEOUT:
	case SIP_TRANS_EV_TP_ERROR:
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
		r->try->last_err = ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT :
		    err;
		if (r->target != 0)
			r->ag->target_down[r->target - 1] = true;
		if (r->try->cur != NULL && r->ag->ua->blocklist_ms > 0)
			sip_resolve_mark_failed(r->ag->ua->res, r->try->cur,
			    r->ag->ua->blocklist_ms);
		reg_try_next(r);
		return;
	case SIP_TRANS_EV_TERMINATED:
		r->ct = NULL;
		return;
	case SIP_TRANS_EV_ACK:
		return;
	}
}

/* ---- attempts ----------------------------------------------------------- */

/* Why the attempt's last target failed, in words. */
static void
reg_err_text_to(const char *target, int err, char *out, size_t len)
{
	if (err == ETIMEDOUT)
		snprintf(out, len, "timeout: no answer from %s", target);
	else if (err == ENOBUFS)
		snprintf(out, len, "too many SIP transactions "
		    "(sipxd.max_transactions)");
	else if (err == EPROTO)
		snprintf(out, len, "TLS: %s did not verify", target);
	else if (err == EADDRNOTAVAIL)
		snprintf(out, len, "no listener to send from over that "
		    "transport and address family");
	else
		snprintf(out, len, "transport error: %s", strerror(err));
}

static void
reg_err_text(const struct reg *r, int err, char *out, size_t len)
{
	reg_err_text_to(reg_target(r), err, out, len);
}

/* Sends to the next target; every target tried: the attempt failed. */
static void
reg_try_next(struct reg *r)
{
	struct reg_try *t = r->try;
	char cause[200];
	int err;

	if (r->timer_kind == REG_TIMER_FAILOVER)
		reg_timer_stop(r);
	while (t->next < t->ntargets) {
		t->cur = &t->targets[t->next++];
		/* A new target answers a new challenge. */
		for (int i = 0; i < 2; i++)
			r->auth[i].answered = r->auth[i].fresh = false;
		err = reg_send(r);
		if (err == 0) {
			unsigned fo = r->ag->ua->failover_ms;

			if (fo > 0 && t->next < t->ntargets)
				reg_timer_set(r, fo, REG_TIMER_FAILOVER);
			return;
		}
		t->last_err = err;
		if (err == ENOBUFS)
			break;
		/* Only the target's own failures count against it. */
		if (r->ag->ua->blocklist_ms > 0 && err != EINVAL &&
		    err != ENOTSUP && err != EADDRNOTAVAIL && err != EIO)
			sip_resolve_mark_failed(r->ag->ua->res, t->cur,
			    r->ag->ua->blocklist_ms);
	}
	if (t->last_err == ENOBUFS) {
		/* Our own limit, not the registrar's fault: soon again. */
		reg_err_text(r, ENOBUFS, cause, sizeof(cause));
		reg_hist_end(r, 0, ENOBUFS, cause);
		reg_attempt_end(r);
		if (r->goal == REG_GOAL_UNBIND) {
			reg_set_state(r, reg_rest_state(r), cause, 0, -1);
			return;
		}
		reg_timer_set(r, REG_BUSY_RETRY_MS, REG_TIMER_START);
		reg_set_state(r, REG_STATE_RETRY_WAIT, cause, 0,
		    REG_BUSY_RETRY_MS);
		return;
	}
	reg_err_text(r, t->last_err != 0 ? t->last_err : ENOENT, cause,
	    sizeof(cause));
	reg_fail(r, false, 0, cause, 0);
}

static void
reg_resolved(int error, const struct sip_resolve_target *targets, size_t n,
    void *arg)
{
	struct reg *r = arg;
	struct reg_try *t = r->try;
	char cause[400];

	t->q = NULL;
	if (error != 0) {
		snprintf(cause, sizeof(cause), "DNS: %s", error == ETIMEDOUT ?
		    "no answer from the DNS servers" : error == ENOENT ?
		    "no such name or record" : "the DNS server failed");
		t->last_err = error;
		reg_fail(r, false, 0, cause, 0);
		return;
	}
	if (n > REG_TARGETS_MAX)
		n = REG_TARGETS_MAX;
	t->targets = xreallocarray(NULL, n, sizeof(*targets));
	memcpy(t->targets, targets, n * sizeof(*targets));
	t->ntargets = n;
	t->next = 0;
	reg_try_next(r);
}

/*
 * Where to send: the outbound proxy, else the registrar (RFC 3261
 * §10.2), with the account's transport unless the URI names one.
 */
static int
reg_resolve(struct reg *r)
{
	const char *base = r->cfg->outbound_proxy != NULL ?
	    r->cfg->outbound_proxy : r->cfg->registrar;

	return ua_resolve(r->ag->ua, base, (int)r->cfg->transport,
	    reg_resolved, r, &r->try->q);
}

static void
reg_attempt_start(struct reg *r)
{
	char cause[64];
	int err;

	r->try = xcalloc(1, sizeof(*r->try));
	for (int i = 0; i < 2; i++)
		r->auth[i].answered = r->auth[i].fresh = false;
	if (r->goal == REG_GOAL_BIND && r->state != REG_STATE_REGISTERED)
		reg_set_state(r, REG_STATE_REGISTERING, "sending REGISTER", 0,
		    -1);
	else if (r->goal == REG_GOAL_UNBIND)
		reg_set_state(r, REG_STATE_UNREGISTERING, r->ag->stopping ?
		    "stopping" : "removing the binding", 0, -1);
	reg_hist_add(r, r->goal == REG_GOAL_UNBIND ? 0 : r->asked);
	err = reg_resolve(r);
	if (err != 0) {
		snprintf(cause, sizeof(cause), "cannot resolve the %s: %s",
		    r->cfg->outbound_proxy != NULL ? "outbound proxy" :
		    "registrar", strerror(err));
		reg_fail(r, true, 0, cause, 0);
	}
}

static bool reg_wants_binding(const struct reg *);

/* The old binding is gone: the new one may register now. */
static void
reg_unlink_after(struct reg *r)
{
	struct reg *next = r->after;

	if (next == NULL)
		return;
	r->after = NULL;
	next->before = NULL;
	if (!next->running && !next->queued &&
	    next->timer_kind == REG_TIMER_NONE &&
	    reg_wants_binding(next) && !r->ag->stopping)
		reg_kick(next);
}

/* Drops the attempt's transaction, DNS query and targets. */
static void
reg_try_free(struct reg *r)
{
	if (r->ct != NULL) {
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
	}
	if (r->try != NULL) {
		if (r->try->q != NULL)
			sip_resolve_cancel(r->try->q);
		free(r->try->old_contact);
		free(r->try->targets);
		free(r->try);
		r->try = NULL;
	}
}

/* Frees what the attempt held and its slot; r itself stays. */
static void
reg_attempt_end(struct reg *r)
{
	reg_try_free(r);
	if (r->timer_kind == REG_TIMER_FAILOVER)
		reg_timer_stop(r);
	reg_release_slot(r);
	/* Freed from the loop: callers up the stack still use r. */
	if (r->orphan) {
		reg_unlink_after(r);
		reg_timer_set(r, 0, REG_TIMER_NONE);
	}
	reg_agent_check_stopped(r->ag);
}

/* Abandons whatever r is doing: no answer will reach it. */
static void
reg_abort(struct reg *r)
{
	reg_dequeue(r);
	reg_try_free(r);
	reg_timer_stop(r);
	reg_release_slot(r);
}

static void
reg_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg *r = arg;
	int kind = r->timer_kind;

	r->timer_kind = REG_TIMER_NONE;
	r->next_at_us = 0;
	if (kind == REG_TIMER_FAILOVER) {
		log_info("account %s: no answer from %s within %u ms, trying "
		    "the next target", reg_name(r), reg_target(r),
		    r->ag->ua->failover_ms);
		if (r->ct != NULL) {
			sip_ctrans_detach(r->ct);
			r->ct = NULL;
		}
		r->try->last_err = ETIMEDOUT;
		if (r->try->cur != NULL && r->ag->ua->blocklist_ms > 0)
			sip_resolve_mark_failed(r->ag->ua->res, r->try->cur,
			    r->ag->ua->blocklist_ms);
		reg_try_next(r);
		return;
	}
	if (r->orphan) {
		struct reg_agent *ag = r->ag;

		reg_free(r);
		reg_agent_check_stopped(ag);
		return;
	}
	if (r->ag->stopping)
		return;
	r->goal = REG_GOAL_BIND;
	reg_kick(r);
}

/* ---- lifetime ----------------------------------------------------------- */

static void
reg_new_call_id(struct reg *r)
{
	random_hex(r->call_id, 12);
	r->cseq = 0;
}

static struct reg *
reg_new(struct reg_agent *ag, struct account *a)
{
	struct reg *r = xcalloc(1, sizeof(*r));

	r->ag = ag;
	r->acct = a;
	r->cfg = a->cfg;
	r->state = a->reg_state;
	r->asked = (unsigned)a->cfg->expires;
	r->timer = evtimer_new(ag->ua->base, reg_timer_cb, r);
	reg_new_call_id(r);
	a->reg = r;
	TAILQ_INSERT_TAIL(&ag->all, r, aentry);
	ag->nregs++;
	reg_rate_update(ag);
	return r;
}

static void
reg_free(struct reg *r)
{
	reg_abort(r);
	if (r->before != NULL)
		r->before->after = NULL;
	if (r->after != NULL) {
		r->after->before = NULL;
		r->after = NULL;
	}
	reg_flow_leave(r);
	TAILQ_REMOVE(&r->ag->all, r, aentry);
	r->ag->nregs--;
	reg_rate_update(r->ag);
	if (r->acct != NULL)
		r->acct->reg = NULL;
	if (r->orphan)
		account_cfg_free(r->cfg);
	event_free(r->timer);
	istr_set(&r->auth[0].chal, r->chal_in, 0, NULL);
	istr_set(&r->auth[1].chal, NULL, 0, NULL);
	istr_set(&r->contact, r->contact_in, 0, NULL);
	free(r->public_addr);
	free(r->contacts);
	free(r->service_route);
	free(r->path);
	free(r);
}

/* Is there a binding to remove (or might the REGISTER out make one)? */
static bool
reg_maybe_bound(const struct reg *r)
{
	/* A REGISTER out may bind; an Expires: 0 out may not have yet. */
	if (r->running)
		return true;
	return r->bound_until_us > time_mono_us();
}

/* Starts removing the binding (Expires: 0) or rests at once. */
static void
reg_unbind(struct reg *r, const char *cause)
{
	bool bound = reg_maybe_bound(r);

	reg_abort(r);
	if (!bound) {
		r->bound_until_us = 0;
		reg_set_state(r, reg_rest_state(r), cause, 0, -1);
		reg_agent_check_stopped(r->ag);
		return;
	}
	r->goal = REG_GOAL_UNBIND;
	reg_kick(r);
}

/* An account's first REGISTER, after delay_ms (the spread). */
static void
reg_schedule_first(struct reg *r, unsigned delay_ms)
{
	r->failures = 0;
	r->goal = REG_GOAL_BIND;
	if (r->state == REG_STATE_DISABLED)
		reg_set_state(r, REG_STATE_UNREGISTERED, "enabled", 0, -1);
	if (delay_ms == 0)
		reg_kick(r);
	else
		reg_timer_set(r, delay_ms, REG_TIMER_START);
}

static bool
reg_wants_binding(const struct reg *r)
{
	return r->cfg->register_on && r->admin == REG_ADMIN_NONE;
}

/* ---- account hooks ------------------------------------------------------ */

static void
reg_hook_added(struct account *a, void *arg)
{
	struct reg_agent *ag = arg;
	struct reg *r;

	/* An account that never registers costs nothing here. */
	if (!a->cfg->register_on)
		return;
	r = reg_new(ag, a);
	if (reg_wants_binding(r) && !ag->stopping)
		reg_schedule_first(r, (unsigned)(reg_rnd() *
		    ag->conf.spread_ms));
}

/* The same binding: same Call-ID, credentials may differ (§10.2.4). */
static bool
reg_same_binding(const struct account_cfg *a, const struct account_cfg *b)
{
	return strcmp(a->aor, b->aor) == 0 &&
	    strcmp(a->registrar, b->registrar) == 0 &&
	    a->transport == b->transport && a->outbound == b->outbound &&
	    ((a->outbound_proxy == NULL && b->outbound_proxy == NULL) ||
	    (a->outbound_proxy != NULL && b->outbound_proxy != NULL &&
	    strcmp(a->outbound_proxy, b->outbound_proxy) == 0)) &&
	    strcmp(a->auth_user, b->auth_user) == 0;
}

/* Nothing the registration sends or waits for differs. */
static bool
reg_same_settings(const struct account_cfg *a, const struct account_cfg *b)
{
	return reg_same_binding(a, b) && a->register_on == b->register_on &&
	    a->expires == b->expires && a->retry_base == b->retry_base &&
	    a->retry_max == b->retry_max && a->retry_fatal == b->retry_fatal &&
	    (a->password == NULL) == (b->password == NULL) &&
	    (a->password == NULL || strcmp(a->password, b->password) == 0) &&
	    (a->ha1 == NULL) == (b->ha1 == NULL) &&
	    (a->ha1 == NULL || strcmp(a->ha1, b->ha1) == 0);
}

static void reg_hook_removed(struct account *, void *);

static void
reg_hook_changed(struct account *a, const struct account_cfg *old, void *arg)
{
	struct reg_agent *ag = arg;
	struct reg *r = a->reg;

	if (r != NULL && !reg_same_binding(a->cfg, old)) {
		/*
		 * Another binding: the old one is removed as if the old
		 * account had gone (its own Call-ID and credentials), and
		 * the new one starts afresh.
		 */
		struct account_cfg *cur = a->cfg;
		struct reg *gone = r, *nr;

		a->cfg = account_cfg_dup(old);
		reg_hook_removed(a, arg);
		a->cfg = cur;
		a->reg_state = cur->register_on ? REG_STATE_UNREGISTERED :
		    REG_STATE_DISABLED;
		events_publish("account.state", cur->name, "state",
		    reg_state_name(a->reg_state), "aor", cur->aor, "prev",
		    reg_state_name(gone->state), "cause",
		    "reload: another binding", NULL);
		if (ag->change != NULL)
			ag->change(ag->change_arg);
		if (!cur->register_on || ag->stopping)
			return;
		nr = reg_new(ag, a);
		if (gone->running || gone->queued) {
			gone->after = nr;
			nr->before = gone;
		}
		reg_schedule_first(nr, (unsigned)(reg_rnd() *
		    ag->conf.spread_ms));
		return;
	}
	if (r == NULL) {
		reg_hook_added(a, arg);
		return;
	}
	r->cfg = a->cfg;
	/* A change of call, media or qualify settings: no REGISTER. */
	if (reg_same_settings(a->cfg, old))
		return;
	r->admin = REG_ADMIN_NONE;
	r->asked = (unsigned)a->cfg->expires;
	r->failures = 0;
	if (ag->stopping)
		return;
	if (!r->cfg->register_on) {
		reg_unbind(r, "reload: register = false");
		return;
	}
	reg_abort(r);
	reg_schedule_first(r, (unsigned)(reg_rnd() * ag->conf.spread_ms));
}

static void
reg_hook_removed(struct account *a, void *arg)
{
	struct reg *r = a->reg;

	if (r == NULL)
		return;
	/* The account goes now; r keeps its config to say goodbye. */
	r->cfg = a->cfg;
	r->acct = NULL;
	a->reg = NULL;
	a->cfg = NULL;
	r->orphan = true;
	if (reg_maybe_bound(r)) {
		reg_abort(r);
		r->goal = REG_GOAL_UNBIND;
		reg_kick(r);
		return;
	}
	reg_abort(r);
	reg_timer_set(r, 0, REG_TIMER_NONE);
}

/* ---- the agent ---------------------------------------------------------- */

static void
reg_instance_seed(struct reg_agent *ag)
{
	FILE *f = fopen("/etc/machine-id", "r");

	ag->instance_seed[0] = '\0';
	if (f != NULL) {
		if (fgets(ag->instance_seed, sizeof(ag->instance_seed), f) ==
		    NULL)
			ag->instance_seed[0] = '\0';
		fclose(f);
	}
	ag->instance_seed[strcspn(ag->instance_seed, "\n")] = '\0';
}

struct reg_agent *
reg_agent_new(struct ua *ua, struct account_set *set,
    const struct reg_conf *conf, reg_change_fn *change, void *arg)
{
	struct reg_agent *ag = xcalloc(1, sizeof(*ag));
	struct account_hooks h = { reg_hook_added, reg_hook_changed,
	    reg_hook_removed, ag };

	ag->ua = ua;
	ag->set = set;
	ag->conf = *conf;
	ag->tokens_us = time_mono_us();
	ag->change = change;
	ag->change_arg = arg;
	TAILQ_INIT(&ag->all);
	TAILQ_INIT(&ag->queue);
	TAILQ_INIT(&ag->urgent);
	ag->pump = evtimer_new(ua->base, reg_pump_cb, ag);
	ag->sweep = evtimer_new(ua->base, reg_sweep_cb, ag);
	reg_instance_seed(ag);
	account_set_hooks(set, &h);
	return ag;
}

void
reg_agent_start(struct reg_agent *ag)
{
	size_t n = 0, i = 0;

	for (size_t k = 0; k < ag->set->n; k++)
		if (ag->set->items[k]->reg == NULL &&
		    ag->set->items[k]->cfg->register_on)
			reg_new(ag, ag->set->items[k]);
	for (size_t k = 0; k < ag->set->n; k++)
		if (ag->set->items[k]->reg != NULL)
			n++;
	/* Evenly over the spread, in config order. */
	for (size_t k = 0; k < ag->set->n; k++) {
		struct reg *r = ag->set->items[k]->reg;

		if (r != NULL && reg_wants_binding(r))
			reg_schedule_first(r, reg_spread_ms(i++, n,
			    ag->conf.spread_ms));
	}
}

void
reg_agent_set_conf(struct reg_agent *ag, const struct reg_conf *conf)
{
	ag->conf = *conf;
	reg_rate_update(ag);
}

static void
reg_stop_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reg_agent *ag = arg;
	void (*done)(void *) = ag->stop_done;

	ag->stop_done = NULL;
	if (done != NULL)
		done(ag->stop_arg);
}

/* During a stop: the last removal ended. */
static void
reg_agent_check_stopped(struct reg_agent *ag)
{
	if (!ag->stopping || ag->stop_done == NULL || ag->running > 0 ||
	    !reg_queues_empty(ag))
		return;
	if (!evtimer_pending(ag->stop_ev, NULL))
		event_active(ag->stop_ev, EV_TIMEOUT, 0);
}

void
reg_agent_stop(struct reg_agent *ag, void (*done)(void *), void *arg)
{
	struct reg *r, *tmp;
	size_t n = 0;

	ag->stopping = true;
	ag->stop_done = done;
	ag->stop_arg = arg;
	ag->stop_ev = event_new(ag->ua->base, -1, 0, reg_stop_done_cb, ag);
	TAILQ_FOREACH_SAFE(r, &ag->all, aentry, tmp) {
		if (r->orphan && !r->running && !r->queued)
			continue;
		if (reg_maybe_bound(r)) {
			reg_abort(r);
			r->goal = REG_GOAL_UNBIND;
			reg_kick(r);
			n++;
		} else {
			reg_abort(r);
		}
	}
	log_info("stop: removing %zu registration%s", n, n == 1 ? "" : "s");
	reg_agent_check_stopped(ag);
}

void
reg_agent_free(struct reg_agent *ag)
{
	struct reg *r;

	if (ag == NULL)
		return;
	while ((r = TAILQ_FIRST(&ag->all)) != NULL)
		reg_free(r);
	for (size_t i = 0; i < ag->nconns; i++)
		sip_tp_conn_unobserve(ag->ua->tp, ag->conns[i].handle);
	free(ag->conns);
	for (size_t i = 0; i < ag->ntargets; i++)
		free(ag->targets[i]);
	free(ag->targets);
	free(ag->target_down);
	account_set_hooks(ag->set, NULL);
	if (ag->stop_ev != NULL)
		event_free(ag->stop_ev);
	event_free(ag->pump);
	event_free(ag->sweep);
	free(ag);
}

/*
 * The host's addresses changed (see reg.h).  A live binding whose
 * Contact names a vanished address cannot be reached there: it is
 * registered again at once, and reg_send picks the address to use
 * afresh (for UDP on a wildcard listener, the one the kernel now sends
 * from; over TCP/TLS the connection from the old address is already
 * closed and a new one made).  Behind a NAT the Contact names the
 * public side, so any vanished address of its family may have been
 * ours.  A new address only matters to a registration that failed for
 * want of one: it tries now instead of after its backoff.
 */
size_t
reg_agent_net_change(struct reg_agent *ag, const struct sockaddr_storage *gone,
    size_t ngone, bool added)
{
	struct reg *r;
	size_t n = 0;

	if (ag->stopping)
		return 0;
	TAILQ_FOREACH(r, &ag->all, aentry) {
		const struct reg_hist *h = r->nhist > 0 ?
		    &r->hist[(r->nhist - 1) % REG_HISTORY] : NULL;
		unsigned char bin[sizeof(struct in6_addr)];
		char host[INET6_ADDRSTRLEN + 2], cause[160];
		const char *why;
		struct sip_uri u;
		int fam = 0;
		bool hit = false;

		if (r->orphan || !reg_wants_binding(r) || r->queued ||
		    r->before != NULL || r->goal != REG_GOAL_BIND)
			continue;
		cause[0] = '\0';
		if (ngone > 0 && r->contact != NULL &&
		    (r->state == REG_STATE_REGISTERED || r->running) &&
		    sip_uri_parse(&u, r->contact, strlen(r->contact),
		    &why) == 0 && u.host.n > 0 && u.host.n < sizeof(host)) {
			struct slice hs = u.host;

			if (hs.n >= 2 && hs.p[0] == '[') {
				hs.p++;
				hs.n -= 2;
			}
			memcpy(host, hs.p, hs.n);
			host[hs.n] = '\0';
			if (inet_pton(AF_INET, host, bin) == 1)
				fam = AF_INET;
			else if (inet_pton(AF_INET6, host, bin) == 1)
				fam = AF_INET6;
		}
		for (size_t i = 0; fam != 0 && i < ngone && !hit; i++) {
			const void *a = gone[i].ss_family == AF_INET6 ?
			    (const void *)&((const struct sockaddr_in6 *)
			    &gone[i])->sin6_addr : (const void *)&((const
			    struct sockaddr_in *)&gone[i])->sin_addr;

			if (gone[i].ss_family != fam)
				continue;
			if (memcmp(a, bin, fam == AF_INET ? 4 : 16) == 0)
				snprintf(cause, sizeof(cause), "address %s of "
				    "its Contact left the host", host);
			else if (r->public_addr != NULL)
				snprintf(cause, sizeof(cause), "an address "
				    "left the host and the NAT's mapping may "
				    "have been from it");
			hit = cause[0] != '\0';
		}
		if (!hit && added && !r->running &&
		    r->state == REG_STATE_RETRY_WAIT && r->last_status == 0 &&
		    h != NULL && (h->err == ENETUNREACH ||
		    h->err == EHOSTUNREACH || h->err == EADDRNOTAVAIL ||
		    h->err == ENETDOWN)) {
			snprintf(cause, sizeof(cause), "an address came to "
			    "the host");
			hit = true;
		}
		if (!hit)
			continue;
		if (r->running)
			reg_abort(r);
		if (r->state == REG_STATE_REGISTERED)
			reg_set_state(r, REG_STATE_REGISTERING, cause, 0, -1);
		log_info("account %s: %s: registering again", reg_name(r),
		    cause);
		r->goal = REG_GOAL_BIND;
		reg_kick(r);
		n++;
	}
	return n;
}

/* ---- control ------------------------------------------------------------ */

static int64_t
reg_secs_until(uint64_t at_us)
{
	uint64_t now = time_mono_us();

	if (at_us == 0)
		return -1;
	return at_us > now ? (int64_t)((at_us - now + 999999) / 1000000) : 0;
}

void
reg_info_get(const struct reg_agent *ag, const struct account *a,
    struct reg_info *info)
{
	const struct reg *r = a->reg;

	memset(info, 0, sizeof(*info));
	info->state = a->reg_state;
	info->target = info->call_id = info->last_reason = "";
	info->contact = info->public_addr = info->contacts = "";
	info->service_route = info->path = "";
	info->auth_realm = info->auth_alg = "";
	info->expires_in = info->refresh_in = info->next_try_in = -1;
	info->asked = (unsigned)a->cfg->expires;
	if (r == NULL)
		return;
	info->target = reg_target(r);
	info->call_id = r->call_id;
	info->cseq = r->cseq;
	info->expires_in = reg_secs_until(r->bound_until_us);
	if (info->expires_in == 0)
		info->expires_in = -1;
	info->granted = r->granted;
	info->asked = r->asked;
	if (r->timer_kind == REG_TIMER_START) {
		if (r->state == REG_STATE_REGISTERED)
			info->refresh_in = reg_secs_until(r->next_at_us);
		else
			info->next_try_in = reg_secs_until(r->next_at_us);
	}
	info->last_status = r->last_status;
	info->last_reason = r->last_reason;
	info->failures = r->failures;
	info->contact = str_or_empty(r->contact);
	info->public_addr = str_or_empty(r->public_addr);
	info->contacts = str_or_empty(r->contacts);
	if (r->listed_ours && r->contact != NULL && info->expires_in > 0) {
		/* Not kept when the registrar listed just ours: rebuilt. */
		static char mine[REG_CONTACT_INLINE + 64];

		snprintf(mine, sizeof(mine), "<%s>;expires=%u", r->contact,
		    r->granted);
		info->contacts = mine;
	}
	info->service_route = str_or_empty(r->service_route);
	info->path = str_or_empty(r->path);
	for (int i = 0; i < 2; i++) {
		struct sip_auth_challenge ch;
		struct slice rest;
		const char *why;
		static char realm[128];

		if (r->auth[i].chal == NULL || sip_auth_challenge_parse(&ch,
		    slice_cstr(r->auth[i].chal), &rest, &why) != 0)
			continue;
		snprintf(realm, sizeof(realm), "%.*s", SLICE_ARG(ch.realm));
		info->auth_realm = realm;
		info->auth_alg = sip_auth_alg_name(ch.algorithm);
		break;
	}
	for (unsigned k = 0; k < REG_HISTORY && k < r->nhist; k++) {
		const struct reg_hist *h = &r->hist[(r->nhist - 1 - k) %
		    REG_HISTORY];
		struct reg_attempt *at = &info->attempts[info->nattempts++];

		at->time = h->time;
		at->expires = h->expires;
		at->status = h->status;
		at->err = h->err;
		snprintf(at->target, sizeof(at->target), "%s",
		    reg_target_name(ag, h->target));
		/* A transport error's text was cut to fit: said again. */
		snprintf(at->reason, sizeof(at->reason), "%s", h->reason);
		if (h->status == 0 && h->err != 0) {
			char full[sizeof(at->reason)];

			reg_err_text_to(at->target, h->err, full,
			    sizeof(full));
			if (strncmp(full, h->reason, strlen(h->reason)) == 0)
				memcpy(at->reason, full, sizeof(full));
		}
	}
}

int
reg_register_now(struct reg_agent *ag, struct account *a)
{
	struct reg *r = a->reg;

	if (ag->stopping)
		return ESHUTDOWN;
	if (r == NULL || !a->cfg->register_on)
		return EPERM;
	r->admin = REG_ADMIN_NONE;
	if (r->running && r->goal == REG_GOAL_BIND)
		return EALREADY;
	if (r->running)
		reg_abort(r);
	r->goal = REG_GOAL_BIND;
	reg_kick(r);
	return 0;
}

static int
reg_admin_unbind(struct reg_agent *ag, struct account *a,
    enum reg_admin admin, const char *cause)
{
	struct reg *r = a->reg;

	if (ag->stopping)
		return ESHUTDOWN;
	if (r == NULL || !a->cfg->register_on)
		return EPERM;
	if (r->admin == admin)
		return EALREADY;
	r->admin = admin;
	if (r->running && r->goal == REG_GOAL_UNBIND)
		return 0;
	reg_unbind(r, cause);
	return 0;
}

int
reg_unregister(struct reg_agent *ag, struct account *a)
{
	return reg_admin_unbind(ag, a, REG_ADMIN_UNREGISTERED, "control");
}

int
reg_disable(struct reg_agent *ag, struct account *a)
{
	return reg_admin_unbind(ag, a, REG_ADMIN_DISABLED, "control");
}

int
reg_enable(struct reg_agent *ag, struct account *a)
{
	struct reg *r = a->reg;

	if (ag->stopping)
		return ESHUTDOWN;
	if (r == NULL || !a->cfg->register_on)
		return EPERM;
	if (r->admin == REG_ADMIN_NONE)
		return EALREADY;
	return reg_register_now(ag, a);
}

const char *
reg_service_route(const struct reg *r)
{
	return r != NULL && r->state == REG_STATE_REGISTERED ?
	    r->service_route : NULL;
}

size_t
reg_peer_down(struct reg_agent *ag, const char *target)
{
	uint16_t id = 0;
	struct reg *r;
	size_t n = 0;

	for (size_t i = 0; i < ag->ntargets; i++)
		if (strcmp(ag->targets[i], target) == 0)
			id = (uint16_t)(i + 1);
	if (id == 0 || ag->stopping)
		return 0;
	TAILQ_FOREACH(r, &ag->all, aentry) {
		uint64_t ms = (uint64_t)(reg_rnd() * ag->conf.spread_ms);
		uint64_t now = time_mono_us();

		if (r->target != id || r->orphan || r->running || r->queued ||
		    r->state != REG_STATE_REGISTERED ||
		    r->goal != REG_GOAL_BIND || r->before != NULL)
			continue;
		/* Spread, and well before the binding runs out. */
		if (r->bound_until_us > now &&
		    ms * 1000 > (r->bound_until_us - now) / 2)
			ms = (r->bound_until_us - now) / 2000;
		reg_timer_set(r, ms, REG_TIMER_START);
		n++;
	}
	if (n > 0)
		log_notice("reg: %s is unreachable: %zu account%s registered "
		    "there register%s again", target, n, n == 1 ? "" : "s",
		    n == 1 ? "s" : "");
	return n;
}

void
reg_count_states(const struct reg_agent *ag, size_t counts[])
{
	for (size_t i = 0; i < ag->set->n; i++)
		counts[ag->set->items[i]->reg_state]++;
}
