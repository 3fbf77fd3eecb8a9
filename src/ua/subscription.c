/*
 * The subscription usage (subscription.h): SUBSCRIBE/NOTIFY as
 * subscriber and as notifier.  One struct sub per subscription, owned
 * by the agent; a subscription that ends leaves the live list and is
 * freed from the loop (never under a callback of its own).
 *
 * RFC map:
 *   RFC 6665 §4.1.2.1  our SUBSCRIBE: Event, Accept, Expires, Contact,
 *                      through the account's route, digest (RFC 3261
 *                      §22), 423 → again with Min-Expires.
 *   RFC 6665 §4.1.2.2  refreshed in the dialog before it expires: when
 *                      min(expires/2, 300 s) is left, so a refresh that
 *                      fails has half the time, or five minutes, to be
 *                      tried again; a 481 ends the subscription.
 *   RFC 6665 §4.1.2.3  unsubscribe: Expires: 0, then the final NOTIFY.
 *   RFC 6665 §4.1.2.4  a NOTIFY may come before the 2xx and makes the
 *                      dialog then; after a 2xx, no NOTIFY in 64*T1
 *                      ends the subscription.
 *   RFC 6665 §4.1.3    Subscription-State: active, pending, terminated
 *                      with its reason (deactivated and timeout:
 *                      subscribe again now; probation and giveup: after
 *                      retry-after; the rest: the end).
 *   RFC 6665 §4.1.4    forked NOTIFYs: see sub_on_notify_miss().
 *   RFC 6665 §4.2      as notifier: 489 and Allow-Events (§8.2.2) for a
 *                      package the account does not accept, 423 below
 *                      our least expiry, 200 and an immediate NOTIFY;
 *                      a NOTIFY on change, at expiry, at Expires: 0;
 *                      a 481 or no answer to our NOTIFY ends it.
 *   RFC 6665 (§4.1.2.1, §4.2.2): SUBSCRIBE and NOTIFY are target
 *                      refresh requests: their Contact moves the remote
 *                      target.
 *   RFC 3842           message summaries: parsed (sip/sip_mwi.h).
 *   RFC 3856, 3863     presence served as PIDF.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "base/ids.h"
#include "base/log.h"
#include "base/random.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_build.h"
#include "sip/sip_dialog.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_transport.h"
#include "sip/sip_uri.h"
#include "events.h"
#include "subscription.h"
#include "ua_priv.h"

#define SUB_TARGETS_MAX		8	/* RFC 3263 targets tried */
#define SUB_AUTH_TRIES		2	/* challenged SUBSCRIBEs in a row */
#define SUB_423_TRIES		2
#define SUB_REFRESH_LEAD_MAX	300	/* s: refresh this long ahead, at most */
#define SUB_RETRY_DEFAULT	60	/* s: probation/giveup without a time */
#define SUB_RETRY_MAX		3600	/* s: a longer retry-after is cut */
#define SUB_RESTART_BACKOFF_MAX	64	/* s: between restarts in a row */
#define SUB_RETRY_AFTER		5	/* s: our 503 */

/* One deadline per job a subscription's single timer serves. */
enum sub_timer {
	SUB_T_REFRESH,		/* OUT: refresh now */
	SUB_T_EXPIRE,		/* it ran out */
	SUB_T_NOTIFY_WAIT,	/* OUT: a 2xx and no NOTIFY in 64*T1 */
	SUB_T_RETRY,		/* OUT: subscribe again (probation, restart) */
	SUB_T_END_WAIT,		/* OUT: no final NOTIFY after unsubscribing */
	SUB_T__COUNT
};

/* In-dialog requests waiting for the next hop to resolve. */
enum sub_op {
	SUB_OP_SUBSCRIBE	= 1u << 0,
	SUB_OP_NOTIFY		= 1u << 1,
};

/* What each package's subscriber accepts (RFC 6665 §4.1.2.1: Accept). */
static const struct {
	const char	*name;
	const char	*accept;
} sub_pkgs[SUB_PKG__COUNT] = {
	[SUB_PKG_MWI] = { "message-summary",
	    "application/simple-message-summary" },
	[SUB_PKG_PRESENCE] = { "presence", "application/pidf+xml" },
	[SUB_PKG_DIALOG] = { "dialog", "application/dialog-info+xml" },
};

struct sub_agent;

struct sub {
	uint64_t		 id;
	struct sub_agent	*ag;
	struct sub		*hnext;		/* id table */
	struct sub		*next, *prev;	/* live list */
	enum sub_dir		 dir;
	enum sub_package	 pkg;
	enum sub_state		 state;
	bool			 live;
	char			*account;
	char			*uri;		/* resource, or watcher */
	char			*user;		/* our Contact's user part */
	enum account_transport	 transport;
	char			*event_id;	/* IN: the Event's id param */

	struct sip_dialog	 dlg;
	bool			 has_dlg;
	char			*contact;	/* our Contact value */

	/* OUT: the SUBSCRIBE. */
	struct sip_ctrans	*ct;
	bool			 ct_unsub;	/* ct says Expires: 0 */
	bool			 ct_refresh;	/* ct is in the dialog */
	unsigned		 expires_req;	/* asked for */
	char			*from_uri;	/* From and To, no tag */
	char			*to_uri;
	char			*from_tag;
	char			*call_id;
	char			*route0;	/* pre-loaded Route, or NULL */
	char			*hop0;
	uint32_t		 cseq;		/* out of the dialog */
	struct sip_resolve_query *q0;
	struct sip_resolve_target *targets;
	size_t			 ntargets, next_target;
	unsigned		 auth_tries, tries_423, restarts;
	char			*chal;
	bool			 chal_proxy;
	bool			 got_2xx, got_notify;
	bool			 unsub_wanted;	/* once the SUBSCRIBE is answered */

	/* In the dialog: where its requests go. */
	struct sip_dest		 hop;
	bool			 hop_valid;
	char			*hop_uri;
	struct sip_resolve_query *hq;
	unsigned		 ops;		/* enum sub_op waiting */

	/* IN: our NOTIFYs. */
	struct sip_ctrans	*nct;
	bool			 notify_again;	/* state moved while nct is out */
	const char		*final_reason;	/* terminated;reason= to send */
	bool			 open;		/* what the last NOTIFY said */

	uint64_t		 expires_at;	/* mono us; 0: not known */
	/* The last NOTIFY, received or sent. */
	unsigned		 notifies;
	double			 last_notify;
	char			*ctype;
	char			*body;
	size_t			 body_dropped;
	char			*reason;	/* last reason or status text */
	bool			 mwi_valid;
	struct sip_mwi		 mwi;		/* account slice cleared */
	double			 mwi_at;

	struct event		*tmr;
	uint64_t		 due[SUB_T__COUNT];	/* mono us, 0: off */
};

struct sub_agent {
	struct ua		*ua;
	struct account_set	*set;
	struct sub_conf		 conf;
	struct sub		**ids;		/* by id; power of two */
	size_t			 nids_buckets, nids;
	struct sub		*head, *tail;	/* live, oldest first */
	size_t			 nlive, nin;
	size_t			 counts[SUB_STATE__COUNT];
	struct sub		*dead;		/* freed from the loop */
	struct event		*reaper;
	/* Registration changes, watched while a watcher subscribes. */
	struct events_sub	*acct_sub;
	struct event		*presence_ev;
	bool			 stopping;
	void			(*stop_done)(void *);
	void			*stop_arg;
	struct event		*stop_ev;
};

static void sub_timer_arm(struct sub *);
static void sub_terminate(struct sub *, const char *reason);
static void sub_send_initial(struct sub *);
static void sub_dlg_op(struct sub *, unsigned op);
static void sub_send_notify(struct sub *);
static void sub_presence_kick(struct sub_agent *);

/* ---- names ---------------------------------------------------------------- */

const char *
sub_state_name(enum sub_state s)
{
	switch (s) {
	case SUB_STATE_SUBSCRIBING: return "subscribing";
	case SUB_STATE_PENDING: return "pending";
	case SUB_STATE_ACTIVE: return "active";
	case SUB_STATE_TERMINATING: return "terminating";
	case SUB_STATE_TERMINATED: return "terminated";
	case SUB_STATE__COUNT: break;
	}
	return "?";
}

const char *
sub_dir_name(enum sub_dir d)
{
	return d == SUB_DIR_IN ? "in" : "out";
}

const char *
sub_package_name(enum sub_package p)
{
	return p < SUB_PKG__COUNT ? sub_pkgs[p].name : "?";
}

int
sub_package_from(const char *name, size_t len)
{
	for (int i = 0; i < SUB_PKG__COUNT; i++)
		if (strlen(sub_pkgs[i].name) == len &&
		    strncasecmp(sub_pkgs[i].name, name, len) == 0)
			return i;
	return -1;
}

/* ---- small helpers -------------------------------------------------------- */

static char *
slice_dup(struct slice s)
{
	return xstrndup(s.p != NULL ? s.p : "", s.n);
}

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s != NULL ? xstrdup(s) : NULL;
}

static unsigned
sub_t1(const struct sub *s)
{
	return s->ag->ua->tc.t1_ms;
}

static const struct account *
sub_acct(const struct sub *s)
{
	return account_set_find(s->ag->set, s->account);
}

/* The user part of an aor, as written ("" without one). */
static char *
sub_user_of(const char *aor)
{
	struct sip_uri u;
	const char *why;

	if (sip_uri_parse(&u, aor, strlen(aor), &why) != 0)
		return xstrdup("");
	return slice_dup(u.user);
}

/* ---- the id table --------------------------------------------------------- */

static size_t
sub_bucket(const struct sub_agent *ag, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 7) &
	    (ag->nids_buckets - 1);
}

static void
sub_ids_grow(struct sub_agent *ag)
{
	struct sub **old = ag->ids;
	size_t oldn = ag->nids_buckets;

	ag->nids_buckets *= 2;
	ag->ids = xcalloc(ag->nids_buckets, sizeof(*ag->ids));
	for (size_t i = 0; i < oldn; i++)
		while (old[i] != NULL) {
			struct sub *s = old[i];
			size_t b = sub_bucket(ag, s->id);

			old[i] = s->hnext;
			s->hnext = ag->ids[b];
			ag->ids[b] = s;
		}
	free(old);
}

static struct sub *
sub_find(const struct sub_agent *ag, uint64_t id)
{
	for (struct sub *s = ag->ids[sub_bucket(ag, id)]; s != NULL;
	    s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static void
sub_ids_add(struct sub_agent *ag, struct sub *s)
{
	size_t b;

	if (ag->nids + 1 > ag->nids_buckets)
		sub_ids_grow(ag);
	b = sub_bucket(ag, s->id);
	s->hnext = ag->ids[b];
	ag->ids[b] = s;
	ag->nids++;
}

static void
sub_ids_remove(struct sub_agent *ag, struct sub *s)
{
	for (struct sub **pp = &ag->ids[sub_bucket(ag, s->id)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			ag->nids--;
			return;
		}
}

/* ---- states and events ----------------------------------------------------- */

static long
sub_expires_in(const struct sub *s)
{
	uint64_t now = time_mono_us();

	if (s->expires_at == 0)
		return -1;
	return s->expires_at > now ? (long)((s->expires_at - now + 999999) /
	    1000000) : 0;
}

/* One transition: counts, a log line, the subscription.state event. */
static void
sub_set_state(struct sub *s, enum sub_state st, const char *reason)
{
	struct sub_agent *ag = s->ag;
	char id[24], exp[24];
	long in;

	/* The reason kept may be what is passed: not freed under it. */
	if (reason != NULL && reason != s->reason)
		set_str(&s->reason, reason);
	if (st == s->state && st != SUB_STATE_SUBSCRIBING)
		return;
	ag->counts[s->state]--;
	ag->counts[st]++;
	s->state = st;
	log_debug("subscription %" PRIu64 " (%s %s %s): %s%s%s", s->id,
	    s->account, sub_dir_name(s->dir), sub_package_name(s->pkg),
	    sub_state_name(st), reason != NULL ? ", " : "",
	    reason != NULL ? reason : "");
	if (!events_wanted(EVENTS_KIND_SUBSCRIPTION))
		return;
	snprintf(id, sizeof(id), "%" PRIu64, s->id);
	in = sub_expires_in(s);
	if (in >= 0)
		snprintf(exp, sizeof(exp), "%ld", in);
	else
		exp[0] = '\0';
	events_publish("subscription.state", s->account, "id", id, "dir",
	    sub_dir_name(s->dir), "event", sub_package_name(s->pkg), "uri",
	    s->uri, "state", sub_state_name(st), "reason",
	    reason != NULL ? reason : "", "expires", exp, NULL);
}

/* ---- the timer ---------------------------------------------------------------- */

static void
sub_timer_set(struct sub *s, enum sub_timer t, uint64_t ms)
{
	s->due[t] = time_mono_us() + ms * 1000;
	sub_timer_arm(s);
}

static void
sub_timer_stop(struct sub *s, enum sub_timer t)
{
	s->due[t] = 0;
}

static void
sub_timer_arm(struct sub *s)
{
	uint64_t next = 0, now = time_mono_us();
	struct timeval tv;

	for (int t = 0; t < SUB_T__COUNT; t++)
		if (s->due[t] != 0 && (next == 0 || s->due[t] < next))
			next = s->due[t];
	if (next == 0) {
		evtimer_del(s->tmr);
		return;
	}
	next = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(next / 1000000);
	tv.tv_usec = (suseconds_t)(next % 1000000);
	evtimer_add(s->tmr, &tv);
}

/*
 * RFC 6665 §4.1.2.2: the subscription runs out in secs; refresh when
 * min(secs/2, SUB_REFRESH_LEAD_MAX) is left (OUT), or end it then (IN).
 */
static void
sub_set_expiry(struct sub *s, unsigned secs)
{
	uint64_t ms = (uint64_t)secs * 1000;
	uint64_t lead = ms / 2 < SUB_REFRESH_LEAD_MAX * 1000ull ? ms / 2 :
	    SUB_REFRESH_LEAD_MAX * 1000ull;

	s->expires_at = time_mono_us() + ms * 1000;
	s->due[SUB_T_EXPIRE] = s->expires_at;
	if (s->dir == SUB_DIR_OUT && s->state != SUB_STATE_TERMINATING)
		s->due[SUB_T_REFRESH] = time_mono_us() + (ms - lead) * 1000;
	sub_timer_arm(s);
}

/* ---- life and death ------------------------------------------------------------ */

static void
sub_dialog_drop(struct sub *s)
{
	if (!s->has_dlg)
		return;
	sip_dialog_table_remove(s->ag->ua->dialogs, &s->dlg);
	sip_dialog_clear(&s->dlg);
	s->has_dlg = false;
	s->hop_valid = false;
}

/* Lets go of everything that may call back. */
static void
sub_detach_all(struct sub *s)
{
	if (s->ct != NULL) {
		sip_ctrans_detach(s->ct);
		s->ct = NULL;
	}
	if (s->nct != NULL) {
		sip_ctrans_detach(s->nct);
		s->nct = NULL;
	}
	if (s->q0 != NULL) {
		sip_resolve_cancel(s->q0);
		s->q0 = NULL;
	}
	if (s->hq != NULL) {
		sip_resolve_cancel(s->hq);
		s->hq = NULL;
	}
	for (int t = 0; t < SUB_T__COUNT; t++)
		s->due[t] = 0;
	if (s->tmr != NULL)
		evtimer_del(s->tmr);
	sub_dialog_drop(s);
}

static void
sub_free(struct sub *s)
{
	sub_detach_all(s);
	if (s->tmr != NULL)
		event_free(s->tmr);
	free(s->account);
	free(s->uri);
	free(s->user);
	free(s->event_id);
	free(s->contact);
	free(s->from_uri);
	free(s->to_uri);
	free(s->from_tag);
	free(s->call_id);
	free(s->route0);
	free(s->hop0);
	free(s->targets);
	free(s->chal);
	free(s->hop_uri);
	free(s->ctype);
	free(s->body);
	free(s->reason);
	free(s);
}

static void
sub_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sub_agent *ag = arg;

	(void)fd;
	(void)what;
	while (ag->dead != NULL) {
		struct sub *s = ag->dead;

		ag->dead = s->next;
		sub_free(s);
	}
}

static void
sub_check_stopped(struct sub_agent *ag)
{
	if (!ag->stopping || ag->nlive > 0 || ag->stop_done == NULL)
		return;
	event_active(ag->stop_ev, EV_TIMEOUT, 0);
}

/* Out of the list and the tables; freed from the loop. */
static void
sub_bury(struct sub *s)
{
	struct sub_agent *ag = s->ag;

	sub_detach_all(s);
	sub_ids_remove(ag, s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		ag->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		ag->tail = s->prev;
	ag->nlive--;
	if (s->dir == SUB_DIR_IN && --ag->nin == 0 && ag->acct_sub != NULL) {
		events_unsubscribe(ag->acct_sub);
		ag->acct_sub = NULL;
	}
	ag->counts[s->state]--;
	s->live = false;
	s->next = ag->dead;
	ag->dead = s;
	event_active(ag->reaper, EV_TIMEOUT, 0);
	sub_check_stopped(ag);
}

/* The end: terminated is published, the subscription goes. */
static void
sub_terminate(struct sub *s, const char *reason)
{
	if (!s->live)
		return;
	s->expires_at = 0;
	sub_set_state(s, SUB_STATE_TERMINATED, reason);
	log_info("subscription %" PRIu64 " (%s %s %s): ended: %s", s->id,
	    s->account, sub_package_name(s->pkg), s->uri,
	    reason != NULL ? reason : "");
	sub_bury(s);
}

static void sub_timer_cb(evutil_socket_t, short, void *);

static struct sub *
sub_new(struct sub_agent *ag, uint64_t id, enum sub_dir dir,
    enum sub_package pkg, const struct account *a, const char *uri)
{
	struct sub *s = xcalloc(1, sizeof(*s));

	s->id = id != 0 ? id : ids_next();
	s->ag = ag;
	s->dir = dir;
	s->pkg = pkg;
	s->state = SUB_STATE_SUBSCRIBING;
	s->live = true;
	s->account = xstrdup(a->cfg->name);
	s->uri = xstrdup(uri);
	s->user = sub_user_of(a->cfg->aor);
	s->transport = a->cfg->transport;
	s->tmr = evtimer_new(ag->ua->base, sub_timer_cb, s);
	s->dlg.owner = s;
	s->dlg.usage = UA_USAGE_SUBSCRIPTION;
	sub_ids_add(ag, s);
	s->prev = ag->tail;
	if (ag->tail != NULL)
		ag->tail->next = s;
	else
		ag->head = s;
	ag->tail = s;
	ag->nlive++;
	ag->counts[s->state]++;
	if (dir == SUB_DIR_IN)
		ag->nin++;
	return s;
}

/* ---- building requests ------------------------------------------------------------ */

/* Via and Max-Forwards for dst; our Contact from the first one. */
static int
sub_add_via(struct sub *s, struct sip_build *b, const struct sip_dest *dst)
{
	char sent_by[INET6_ADDRSTRLEN + 8];
	struct strbuf via = STRBUF_INIT;
	int err;

	err = sip_tp_sent_by(s->ag->ua->tp, dst, sent_by, sizeof(sent_by));
	if (err != 0)
		return err;
	sip_tp_via_at(dst, sent_by, NULL, &via);
	sip_build_add(b, SIP_HDR_VIA, via.p);
	strbuf_free(&via);
	sip_build_add(b, SIP_HDR_MAX_FORWARDS, "70");
	if (s->contact == NULL) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "<%s:%s%s%s%s>",
		    sip_tp_contact_scheme(dst->proto), s->user,
		    s->user[0] != '\0' ? "@" : "", sent_by,
		    sip_tp_contact_param(dst->proto));
		s->contact = strbuf_detach(&sb);
	}
	return 0;
}

/* The Request-URI sip_build_request() or sip_dialog_request() wrote. */
static char *
sub_ruri_of(const struct sip_build *b)
{
	const char *sp = strchr(b->start.p, ' ');
	const char *end = strrchr(b->start.p, ' ');

	if (sp == NULL || end == NULL || end <= sp)
		return xstrdup("");
	return xstrndup(sp + 1, (size_t)(end - sp - 1));
}

/*
 * The packages the account serves as notifier, "a, b" (RFC 6665
 * §8.2.2: Allow-Events promises a notifier); false for none.
 */
static bool
sub_allow_list(const struct account *a, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; a != NULL && i < SUB_PKG__COUNT; i++)
		if (a->cfg->accept_events & (1u << i))
			used += (size_t)snprintf(out + used, len - used, "%s%s",
			    used == 0 ? "" : ", ", sub_pkgs[i].name);
	return used > 0;
}

/* The SUBSCRIBE's own headers (§4.1.2.1), then credentials. */
static int
sub_add_subscribe_hdrs(struct sub *s, struct sip_build *b, bool unsub)
{
	const struct account *a = sub_acct(s);
	char allow[128];
	int err = 0;

	sip_build_add(b, SIP_HDR_CONTACT, s->contact);
	sip_build_add(b, SIP_HDR_EVENT, sub_pkgs[s->pkg].name);
	sip_build_add(b, SIP_HDR_ACCEPT, sub_pkgs[s->pkg].accept);
	sip_build_addf(b, SIP_HDR_EXPIRES, "%u", unsub ? 0 : s->expires_req);
	/* What we notify for, not what we subscribe to (§8.2.2). */
	if (sub_allow_list(a, allow, sizeof(allow)))
		sip_build_add(b, SIP_HDR_ALLOW_EVENTS, allow);
	sip_build_add(b, SIP_HDR_USER_AGENT, s->ag->ua->user_agent);
	if (s->chal != NULL && a != NULL) {
		char *ruri = sub_ruri_of(b);

		err = ua_auth_add(b, a, s->chal, s->chal_proxy, "SUBSCRIBE",
		    ruri, NULL, NULL);
		free(ruri);
		/* A challenge we cannot answer: the 401 again ends it. */
		if (err == EINVAL)
			err = 0;
	}
	return err;
}

/* ---- OUT: the first SUBSCRIBE --------------------------------------------------- */

static void sub_on_ctrans(struct sip_ctrans *, enum sip_trans_event, int,
    const struct sip_msg *, void *);

static int
sub_initial_send(struct sub *s)
{
	const struct sip_resolve_target *t = &s->targets[s->next_target - 1];
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst;
	int err;

	err = ua_target_dest(s->ag->ua, t, &dst);
	if (err != 0)
		return err;
	sip_build_request(&b, "SUBSCRIBE", s->uri);
	err = sub_add_via(s, &b, &dst);
	if (err != 0)
		goto out;
	if (s->route0 != NULL)
		sip_build_add(&b, SIP_HDR_ROUTE, s->route0);
	sip_build_addf(&b, SIP_HDR_FROM, "%s;tag=%s", s->from_uri,
	    s->from_tag);
	sip_build_add(&b, SIP_HDR_TO, s->to_uri);
	sip_build_add(&b, SIP_HDR_CALL_ID, s->call_id);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u SUBSCRIBE", s->cseq);
	err = sub_add_subscribe_hdrs(s, &b, false);
	if (err != 0)
		goto out;
	sip_build_finish(&b, &out);
	err = sip_ctrans_send(s->ag->ua->trans, out.p, out.n, &dst,
	    sub_on_ctrans, s, &s->ct);
	if (err == 0) {
		s->ct_unsub = false;
		s->ct_refresh = false;
	}
out:
	strbuf_free(&out);
	sip_build_free(&b);
	return err;
}

/* The next target that takes the SUBSCRIBE; false when none is left. */
static bool
sub_initial_next(struct sub *s, int *last_err)
{
	while (s->next_target < s->ntargets) {
		int err;

		s->next_target++;
		err = sub_initial_send(s);
		if (err == 0)
			return true;
		*last_err = err;
		if (err == ENOBUFS)
			break;
	}
	return false;
}

static void
sub_fail_err(struct sub *s, int err, const char *what)
{
	char reason[160];

	snprintf(reason, sizeof(reason), "%s: %s", what, err == ENOBUFS ?
	    "too many transactions" : err == ETIMEDOUT ? "timeout" :
	    strerror(err));
	sub_terminate(s, reason);
}

static void
sub_resolved0(int error, const struct sip_resolve_target *targets, size_t n,
    void *arg)
{
	struct sub *s = arg;
	int err = ENOENT;

	s->q0 = NULL;
	if (error != 0) {
		sub_fail_err(s, error, "DNS");
		return;
	}
	if (s->unsub_wanted) {
		/* Unsubscribed before anything went out. */
		sub_terminate(s, s->reason != NULL ? s->reason :
		    "unsubscribed");
		return;
	}
	if (n > SUB_TARGETS_MAX)
		n = SUB_TARGETS_MAX;
	s->targets = xreallocarray(s->targets, n, sizeof(*targets));
	memcpy(s->targets, targets, n * sizeof(*targets));
	s->ntargets = n;
	s->next_target = 0;
	if (!sub_initial_next(s, &err))
		sub_fail_err(s, err, "sending SUBSCRIBE");
}

/*
 * A new subscription (the first, or after a terminated;reason= that
 * asks for one): a new Call-ID and tag, so that no late NOTIFY of the
 * old one can be taken for it.  The Call-ID ends in the id: a NOTIFY
 * that comes before its 2xx finds the subscription by it.
 */
static void
sub_send_initial(struct sub *s)
{
	char hex[33];
	int e;

	sub_dialog_drop(s);
	free(s->chal);
	s->chal = NULL;
	s->auth_tries = 0;
	s->tries_423 = 0;
	s->got_2xx = false;
	s->got_notify = false;
	if (s->from_tag == NULL)
		s->from_tag = xmalloc(17);
	random_hex(s->from_tag, 8);
	random_hex(hex, 16);
	free(s->call_id);
	s->call_id = xmalloc(64);
	snprintf(s->call_id, 64, "%s-s%" PRIu64, hex, s->id);
	random_hex(hex, 3);
	s->cseq = (uint32_t)(strtoul(hex, NULL, 16) & 0x7fffff) + 1;
	e = ua_resolve(s->ag->ua, s->hop0 != NULL ? s->hop0 : s->uri,
	    (int)s->transport, sub_resolved0, s, &s->q0);
	if (e != 0)
		sub_fail_err(s, e, "resolving");
}

/* The same SUBSCRIBE again (credentials, a longer expiry): CSeq + 1. */
static void
sub_again(struct sub *s)
{
	int err = ENOENT;

	if (s->ct != NULL) {
		sip_ctrans_detach(s->ct);
		s->ct = NULL;
	}
	if (s->has_dlg) {
		sub_dlg_op(s, SUB_OP_SUBSCRIBE);
		return;
	}
	s->cseq++;
	s->next_target--;
	if (!sub_initial_next(s, &err))
		sub_fail_err(s, err, "sending SUBSCRIBE");
}

/*
 * Subscribe again after delay_ms (0: now): a fresh subscription with
 * the same id.  Several in a row without a refresh that worked wait
 * longer each time, so a notifier that ends every subscription at once
 * is not hammered.
 */
static void
sub_restart(struct sub *s, uint64_t delay_ms, const char *why)
{
	uint64_t backoff;

	if (s->ct != NULL) {
		sip_ctrans_detach(s->ct);
		s->ct = NULL;
	}
	sub_dialog_drop(s);
	s->expires_at = 0;
	for (int t = 0; t < SUB_T__COUNT; t++)
		s->due[t] = 0;
	backoff = s->restarts == 0 ? 0 : 1000ull << (s->restarts < 7 ?
	    s->restarts - 1 : 6);
	if (backoff > SUB_RESTART_BACKOFF_MAX * 1000ull)
		backoff = SUB_RESTART_BACKOFF_MAX * 1000ull;
	if (delay_ms < backoff)
		delay_ms = backoff;
	s->restarts++;
	sub_set_state(s, SUB_STATE_SUBSCRIBING, why);
	if (delay_ms == 0)
		sub_send_initial(s);
	else
		sub_timer_set(s, SUB_T_RETRY, delay_ms);
	sub_timer_arm(s);
}

/* ---- in the dialog -------------------------------------------------------------- */

static void sub_on_nctrans(struct sip_ctrans *, enum sip_trans_event, int,
    const struct sip_msg *, void *);

/* SUBSCRIBE in the dialog: a refresh, or Expires: 0. */
static void
sub_send_dlg_subscribe(struct sub *s)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst = s->hop;
	bool unsub = s->state == SUB_STATE_TERMINATING;
	int err;

	err = sip_dialog_request(&s->dlg, &b, "SUBSCRIBE",
	    sip_dialog_next_cseq(&s->dlg));
	if (err == 0)
		err = sub_add_via(s, &b, &s->hop);
	if (err == 0)
		err = sub_add_subscribe_hdrs(s, &b, unsub);
	if (err == 0) {
		sip_build_finish(&b, &out);
		err = sip_ctrans_send(s->ag->ua->trans, out.p, out.n, &dst,
		    sub_on_ctrans, s, &s->ct);
	}
	strbuf_free(&out);
	sip_build_free(&b);
	if (err == 0) {
		s->ct_unsub = unsub;
		s->ct_refresh = true;
		return;
	}
	log_debug("subscription %" PRIu64 ": SUBSCRIBE not sent: %s", s->id,
	    strerror(err));
	if (unsub)
		sub_terminate(s, "unsubscribed (not sent)");
	else
		/* Try again before it runs out (the expiry ends it). */
		sub_timer_set(s, SUB_T_REFRESH, 5000);
}

static void
sub_flush_ops(struct sub *s)
{
	unsigned ops = s->ops;

	s->ops = 0;
	if ((ops & SUB_OP_SUBSCRIBE) && s->live)
		sub_send_dlg_subscribe(s);
	if ((ops & SUB_OP_NOTIFY) && s->live)
		sub_send_notify(s);
}

static void
sub_hop_resolved(int error, const struct sip_resolve_target *targets,
    size_t n, void *arg)
{
	struct sub *s = arg;

	s->hq = NULL;
	if (error != 0 || n == 0 ||
	    ua_target_dest(s->ag->ua, &targets[0], &s->hop) != 0) {
		s->ops = 0;
		sub_terminate(s, "next hop unreachable");
		return;
	}
	s->hop_valid = true;
	sub_flush_ops(s);
}

/* Queues op for the dialog's next hop, resolving it when it is new. */
static void
sub_dlg_op(struct sub *s, unsigned op)
{
	const char *hop = sip_dialog_next_hop(&s->dlg);

	if (hop == NULL) {
		sub_terminate(s, "the peer gave no Contact");
		return;
	}
	s->ops |= op;
	if (s->hop_uri != NULL && strcmp(s->hop_uri, hop) != 0) {
		s->hop_valid = false;
		if (s->hq != NULL) {
			sip_resolve_cancel(s->hq);
			s->hq = NULL;
		}
	}
	if (s->hop_valid) {
		sub_flush_ops(s);
		return;
	}
	if (s->hq != NULL)
		return;
	set_str(&s->hop_uri, hop);
	if (ua_resolve(s->ag->ua, hop, -1, sub_hop_resolved, s, &s->hq) != 0) {
		s->ops = 0;
		sub_terminate(s, "next hop is not a SIP URI");
	}
}

/* RFC 6665: SUBSCRIBE, NOTIFY and their 2xx move the remote target. */
static void
sub_refresh_target(struct sub *s, const struct sip_msg *m)
{
	const struct sip_nameaddr *na;

	if (!s->has_dlg || m->contact_star || m->ncontact == 0)
		return;
	na = &m->contact[0].addr;
	if (na->uri.scheme != SIP_URI_SIP && na->uri.scheme != SIP_URI_SIPS)
		return;
	if (s->dlg.remote_target != NULL &&
	    slice_eq_cstr(na->uri_str, s->dlg.remote_target))
		return;
	free(s->dlg.remote_target);
	s->dlg.remote_target = slice_dup(na->uri_str);
}

static int
sub_dialog_insert(struct sub *s)
{
	int err;

	/* A dialog has its own next hop: the first SUBSCRIBE's targets
	 * (600 bytes each) are done with. */
	free(s->targets);
	s->targets = NULL;
	s->ntargets = s->next_target = 0;

	s->dlg.owner = s;
	s->dlg.usage = UA_USAGE_SUBSCRIPTION;
	err = sip_dialog_table_add(s->ag->ua->dialogs, &s->dlg);
	if (err != 0) {
		sip_dialog_clear(&s->dlg);
		return err;
	}
	s->has_dlg = true;
	s->hop_valid = false;
	return 0;
}

/* ---- OUT: answers to our SUBSCRIBE -------------------------------------------- */

/* The expiry a 2xx grants: its Expires, never more than we asked. */
static unsigned
sub_granted(const struct sub *s, const struct sip_msg *m)
{
	if (m->expires >= 0 && (uint64_t)m->expires < s->expires_req)
		return (unsigned)m->expires;
	return s->expires_req;
}

static void
sub_on_2xx(struct sub *s, const struct sip_msg *req, const struct sip_msg *m)
{
	bool unsub = s->ct_unsub;
	unsigned granted = sub_granted(s, m);

	s->got_2xx = true;
	if (unsub) {
		/* §4.1.2.3: the final NOTIFY follows; at stop, no wait. */
		if (s->ag->stopping)
			sub_terminate(s, "unsubscribed");
		return;
	}
	if (!s->has_dlg && req != NULL) {
		/* §4.1.2.4: without a NOTIFY yet, the 2xx makes the dialog. */
		if (sip_dialog_uac(&s->dlg, req, m) == 0 &&
		    sub_dialog_insert(s) == 0)
			;
		else
			log_debug("subscription %" PRIu64 ": the 2xx makes "
			    "no dialog; waiting for a NOTIFY", s->id);
	} else if (s->has_dlg && slice_eq_cstr(m->to.tag,
	    s->dlg.remote_tag)) {
		sub_refresh_target(s, m);
	}
	if (s->ct_refresh)
		/* A refresh went through: restarts in a row are over. */
		s->restarts = 0;
	if (granted == 0) {
		/* A notifier that grants nothing: a one-time fetch. */
		sub_timer_stop(s, SUB_T_REFRESH);
	} else {
		sub_set_expiry(s, granted);
	}
	if (!s->got_notify)
		sub_timer_set(s, SUB_T_NOTIFY_WAIT, 64ull * sub_t1(s));
	if (s->unsub_wanted && s->has_dlg) {
		s->unsub_wanted = false;
		sub_set_state(s, SUB_STATE_TERMINATING, s->reason);
		sub_timer_stop(s, SUB_T_REFRESH);
		sub_timer_set(s, SUB_T_END_WAIT, 64ull * sub_t1(s));
		sub_dlg_op(s, SUB_OP_SUBSCRIBE);
	} else if (s->unsub_wanted) {
		sub_terminate(s, s->reason);
	}
}

static void
sub_on_final(struct sub *s, const struct sip_msg *m)
{
	const struct account *a = sub_acct(s);
	char reason[160];

	if ((m->status == 401 || m->status == 407) &&
	    s->auth_tries < SUB_AUTH_TRIES && a != NULL &&
	    (a->cfg->password != NULL || a->cfg->ha1 != NULL)) {
		char *chal = ua_auth_challenge(m);

		if (chal != NULL) {
			free(s->chal);
			s->chal = chal;
			s->chal_proxy = m->status == 407;
			s->auth_tries++;
			sub_again(s);
			return;
		}
	}
	/* §4.1.2.1: too brief; ask for what the notifier wants. */
	if (m->status == 423 && m->min_expires > 0 &&
	    m->min_expires <= SUB_EXPIRES_MAX && !s->ct_unsub &&
	    s->tries_423 < SUB_423_TRIES &&
	    (uint64_t)m->min_expires > s->expires_req) {
		s->tries_423++;
		s->expires_req = (unsigned)m->min_expires;
		sub_again(s);
		return;
	}
	snprintf(reason, sizeof(reason), "%u %.*s", m->status,
	    (int)m->reason.n, m->reason.p);
	if (s->ct_unsub) {
		sub_terminate(s, "unsubscribed");
		return;
	}
	if (s->ct_refresh && m->status != 481 && m->status != 408 &&
	    s->expires_at != 0) {
		/*
		 * §4.1.2.2: a refresh refused otherwise leaves the
		 * subscription as it was until it runs out: try once more
		 * halfway there.
		 */
		long left = sub_expires_in(s);

		set_str(&s->reason, reason);
		if (left > 10)
			sub_timer_set(s, SUB_T_REFRESH,
			    (uint64_t)left * 500);
		return;
	}
	/* §4.1.2.2: 481, the subscription is gone; else it never was. */
	sub_terminate(s, reason);
}

static void
sub_on_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct sub *s = arg;
	int e = err;

	switch (ev) {
	case SIP_TRANS_EV_RESPONSE: {
		const struct sip_msg *req = sip_ctrans_request(ct);

		if (m->status < 200)
			return;
		/* Answered: the next SUBSCRIBE may go (the transaction
		 * absorbs copies of the answer on its own). */
		if (s->ct == ct) {
			sip_ctrans_detach(ct);
			s->ct = NULL;
		}
		s->auth_tries = m->status == 401 || m->status == 407 ?
		    s->auth_tries : 0;
		if (m->status < 300)
			sub_on_2xx(s, req, m);
		else
			sub_on_final(s, m);
		return;
	}
	case SIP_TRANS_EV_TIMEOUT:
	case SIP_TRANS_EV_TP_ERROR:
		if (s->ct != ct)
			return;
		sip_ctrans_detach(ct);
		s->ct = NULL;
		if (s->ct_unsub) {
			sub_terminate(s, "unsubscribed (no answer)");
			return;
		}
		if (s->ct_refresh) {
			/* §4.1.2.2: a refresh that got no answer. */
			sub_terminate(s, ev == SIP_TRANS_EV_TIMEOUT ?
			    "refresh: timeout" : "refresh: transport error");
			return;
		}
		/* RFC 3263 §4.3: a silent or unreachable target → the next. */
		if (!s->got_2xx && !s->has_dlg && sub_initial_next(s, &e))
			return;
		sub_fail_err(s, ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT : e,
		    "SUBSCRIBE");
		return;
	case SIP_TRANS_EV_TERMINATED:
		if (s->ct == ct)
			s->ct = NULL;
		return;
	case SIP_TRANS_EV_ACK:
		return;
	}
}

/* ---- OUT: NOTIFY received -------------------------------------------------------- */

static bool
sub_counts_eq(const struct sip_mwi *a, const struct sip_mwi *b)
{
	if (a->waiting != b->waiting)
		return false;
	for (int i = 0; i < SIP_MWI_CLASS__COUNT; i++)
		if (a->cls[i].present != b->cls[i].present ||
		    a->cls[i].new_msgs != b->cls[i].new_msgs ||
		    a->cls[i].old_msgs != b->cls[i].old_msgs ||
		    a->cls[i].new_urgent != b->cls[i].new_urgent ||
		    a->cls[i].old_urgent != b->cls[i].old_urgent)
			return false;
	return true;
}

/* A message summary: kept, and subscription.mwi when it changed. */
static void
sub_take_mwi(struct sub *s, const struct sip_msg *m)
{
	struct sip_mwi mwi;
	const char *why;
	char id[24], c[4][16];
	const struct sip_mwi_counts *v;

	if (m->body.n == 0)
		return;
	if (sip_mwi_parse(&mwi, m->body.p, m->body.n, &why) != 0) {
		log_info("subscription %" PRIu64 ": message summary: %s",
		    s->id, why);
		return;
	}
	mwi.account = SLICE_NULL;
	s->mwi_at = time_real();
	if (s->mwi_valid && sub_counts_eq(&s->mwi, &mwi))
		return;
	s->mwi = mwi;
	s->mwi_valid = true;
	v = &mwi.cls[SIP_MWI_VOICE];
	snprintf(id, sizeof(id), "%" PRIu64, s->id);
	snprintf(c[0], sizeof(c[0]), "%u", v->new_msgs);
	snprintf(c[1], sizeof(c[1]), "%u", v->old_msgs);
	snprintf(c[2], sizeof(c[2]), "%u", v->new_urgent);
	snprintf(c[3], sizeof(c[3]), "%u", v->old_urgent);
	events_publish("subscription.mwi", s->account, "id", id, "waiting",
	    mwi.waiting ? "yes" : "no", "new", c[0], "old", c[1],
	    "urgent_new", c[2], "urgent_old", c[3], NULL);
}

/* The NOTIFY's state, body and event (the request is answered after). */
static void
sub_take_notify(struct sub *s, const struct sip_msg *m)
{
	char id[24], n[24], st[32];
	struct strbuf ct = STRBUF_INIT;

	s->notifies++;
	s->last_notify = time_real();
	if (m->has_content_type)
		strbuf_addf(&ct, "%.*s/%.*s", (int)m->content_type.type.n,
		    m->content_type.type.p, (int)m->content_type.subtype.n,
		    m->content_type.subtype.p);
	free(s->ctype);
	s->ctype = strbuf_detach(&ct);
	free(s->body);
	s->body = NULL;
	s->body_dropped = 0;
	if (m->body.n > s->ag->conf.body_max) {
		s->body_dropped = m->body.n;
		log_info("subscription %" PRIu64 ": a NOTIFY body of %zu "
		    "bytes is over subscriptions.notify_body_max (%zu): not "
		    "kept", s->id, m->body.n, s->ag->conf.body_max);
	} else if (m->body.n > 0) {
		s->body = slice_dup(m->body);
	}
	if (s->pkg == SUB_PKG_MWI && s->body != NULL)
		sub_take_mwi(s, m);
	if (!events_wanted(EVENTS_KIND_SUBSCRIPTION))
		return;
	snprintf(id, sizeof(id), "%" PRIu64, s->id);
	snprintf(n, sizeof(n), "%zu", s->body_dropped);
	snprintf(st, sizeof(st), "%.*s", m->has_substate ?
	    (int)m->substate.state.n : 0, m->has_substate ?
	    m->substate.state.p : "");
	events_publish("subscription.notify", s->account, "id", id, "event",
	    sub_package_name(s->pkg), "state", st, "content_type", s->ctype,
	    "body", s->body != NULL ? s->body : "", "body_dropped", n, NULL);
}

/* The Event names this subscription's package (and id, if it has one). */
static bool
sub_event_matches(const struct sub *s, const struct sip_msg *m)
{
	if (!m->has_event || !slice_caseeq_cstr(m->event.package,
	    sub_pkgs[s->pkg].name))
		return false;
	if (s->event_id == NULL)
		return m->event.id.n == 0;
	return slice_eq_cstr(m->event.id, s->event_id);
}

/* §4.1.3: what a NOTIFY must have; false when it was answered here. */
static bool
sub_notify_ok(struct ua *ua, const struct sub *s, const struct ua_req *rq)
{
	if (!sub_event_matches(s, rq->msg)) {
		ua_respond(ua, rq, 489, "Bad Event", NULL);
		return false;
	}
	if (!rq->msg->has_substate) {
		ua_respond(ua, rq, 400, "Missing Subscription-State", NULL);
		return false;
	}
	return true;
}

static bool
slice_is(struct slice s, const char *v)
{
	return slice_caseeq_cstr(s, v);
}

/*
 * A NOTIFY of one of our subscriptions, its checks passed: answered
 * 200, then its state applied (§4.1.3).
 */
static void
sub_notify_out(struct sub *s, const struct ua_req *rq)
{
	const struct sip_msg *m = rq->msg;
	const struct sip_substate *ss = &m->substate;
	char hdr[512], why[96];
	bool active, pending, terminated;
	int64_t expires, retry_after;
	struct slice r = ss->reason;

	/* The answer frees the request: what it says is copied first. */
	active = slice_is(ss->state, "active");
	pending = slice_is(ss->state, "pending");
	terminated = slice_is(ss->state, "terminated");
	expires = ss->expires;
	retry_after = ss->retry_after;
	snprintf(why, sizeof(why), "%.*s", r.n > 0 ? (int)(r.n < 64 ? r.n :
	    64) : 10, r.n > 0 ? r.p : "terminated");
	sub_refresh_target(s, m);
	sub_take_notify(s, m);
	s->got_notify = true;
	sub_timer_stop(s, SUB_T_NOTIFY_WAIT);
	/* NOTIFY refreshes the target: the 2xx says where we are. */
	if (s->contact != NULL && strlen(s->contact) < sizeof(hdr) - 16)
		snprintf(hdr, sizeof(hdr), "Contact: %s\r\n", s->contact);
	else
		hdr[0] = '\0';
	ua_respond(s->ag->ua, rq, 200, "OK", hdr[0] != '\0' ? hdr : NULL);
	m = NULL;
	ss = NULL;

	if (active || pending) {
		if (s->state == SUB_STATE_TERMINATING)
			return;		/* the final one is still to come */
		if (expires > 0) {
			uint64_t e = (uint64_t)expires;

			sub_set_expiry(s, e > SUB_EXPIRES_MAX ?
			    SUB_EXPIRES_MAX : (unsigned)e);
		} else if (s->expires_at == 0) {
			sub_set_expiry(s, s->expires_req);
		}
		sub_set_state(s, active ? SUB_STATE_ACTIVE : SUB_STATE_PENDING,
		    NULL);
		return;
	}
	if (!terminated)
		return;		/* an extension state: nothing we act on */
	if (s->state == SUB_STATE_TERMINATING || s->ag->stopping) {
		sub_terminate(s, s->reason != NULL ? s->reason : why);
		return;
	}
	if (strcasecmp(why, "deactivated") == 0 ||
	    strcasecmp(why, "timeout") == 0) {
		/* §4.1.3: subscribe again, at once. */
		sub_restart(s, 0, why);
	} else if (strcasecmp(why, "probation") == 0 ||
	    strcasecmp(why, "giveup") == 0) {
		/* §4.1.3: again after retry-after, if it says. */
		int64_t ra = retry_after >= 0 ? retry_after :
		    SUB_RETRY_DEFAULT;

		if (ra > SUB_RETRY_MAX)
			ra = SUB_RETRY_MAX;
		sub_restart(s, (uint64_t)ra * 1000, why);
	} else {
		/* rejected, noresource, invariant, none or another: over. */
		sub_terminate(s, why);
	}
}

/*
 * A NOTIFY whose dialog the table lacks: it may be ahead of its
 * SUBSCRIBE's 2xx (§4.1.2.4).  The Call-ID ends in "-s<id>" (see
 * sub_send_initial): that finds the subscription, whose Call-ID and
 * tag must then match too.
 */
static bool
sub_on_notify_miss(struct ua *ua, const struct ua_req *rq, void *arg)
{
	struct sub_agent *ag = arg;
	const struct sip_msg *m = rq->msg;
	struct slice cid = m->call_id;
	uint64_t id = 0;
	size_t i = cid.n;
	struct sub *s;

	while (i > 0 && cid.p[i - 1] >= '0' && cid.p[i - 1] <= '9')
		i--;
	if (i < 2 || i == cid.n || cid.n - i > 19 || cid.p[i - 1] != 's' ||
	    cid.p[i - 2] != '-')
		return false;
	for (; i < cid.n; i++)
		id = id * 10 + (uint64_t)(cid.p[i] - '0');
	s = sub_find(ag, id);
	if (s == NULL || s->dir != SUB_DIR_OUT || s->call_id == NULL ||
	    s->from_tag == NULL || !slice_eq_cstr(cid, s->call_id) ||
	    !slice_eq_cstr(m->to.tag, s->from_tag))
		return false;
	if (s->has_dlg) {
		/*
		 * RFC 6665 §4.1.4: the SUBSCRIBE forked and a second
		 * notifier answers.  We keep one subscription per id, the
		 * first notifier's (its 2xx or NOTIFY came first): the
		 * control protocol shows one state and one last body per
		 * id, and two notifiers' would mix there.  A 481 tells the
		 * other to drop its subscription (§4.2.2).
		 */
		ua_respond(ua, rq, 481, "Subscription Does Not Exist", NULL);
		return true;
	}
	if (!sub_notify_ok(ua, s, rq))
		return true;
	if (sip_dialog_uas(&s->dlg, m, s->from_tag) != 0) {
		ua_respond(ua, rq, 400, "Missing Contact", NULL);
		return true;
	}
	/* Our dialog as subscriber: our CSeq goes on from the SUBSCRIBE. */
	s->dlg.uac = true;
	s->dlg.state = SIP_DIALOG_CONFIRMED;
	s->dlg.local_cseq = s->cseq;
	if (sub_dialog_insert(s) != 0) {
		ua_respond(ua, rq, 500, "Server Internal Error", NULL);
		return true;
	}
	sub_notify_out(s, rq);
	return true;
}

/* ---- IN: watchers ------------------------------------------------------------- */

/* Presence (RFC 3856 §6.6 basis): open while registered or not
 * registering at all. */
static bool
sub_presence_open(const struct account *a)
{
	return a != NULL && (a->reg_state == REG_STATE_REGISTERED ||
	    !a->cfg->register_on);
}

static void
xml_escape(struct strbuf *sb, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&': strbuf_adds(sb, "&amp;"); break;
		case '<': strbuf_adds(sb, "&lt;"); break;
		case '>': strbuf_adds(sb, "&gt;"); break;
		case '"': strbuf_adds(sb, "&quot;"); break;
		case '\'': strbuf_adds(sb, "&apos;"); break;
		default: strbuf_addc(sb, *s); break;
		}
}

/* RFC 3863 §4: one tuple, its basic status. */
static char *
sub_pidf(const struct account *a, bool open)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
	    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"");
	xml_escape(&sb, a->cfg->aor);
	strbuf_addf(&sb, "\">\r\n <tuple id=\"sipxd\">\r\n  <status><basic>"
	    "%s</basic></status>\r\n </tuple>\r\n</presence>\r\n",
	    open ? "open" : "closed");
	return strbuf_detach(&sb);
}

static void
sub_send_notify(struct sub *s)
{
	const struct account *a = sub_acct(s);
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst = s->hop;
	bool final = s->final_reason != NULL;
	char *body = NULL;
	int err;

	if (s->nct != NULL) {
		s->notify_again = true;
		return;
	}
	err = sip_dialog_request(&s->dlg, &b, "NOTIFY",
	    sip_dialog_next_cseq(&s->dlg));
	if (err == 0)
		err = sub_add_via(s, &b, &s->hop);
	if (err != 0)
		goto out;
	sip_build_add(&b, SIP_HDR_CONTACT, s->contact);
	if (s->event_id != NULL)
		sip_build_addf(&b, SIP_HDR_EVENT, "%s;id=%s",
		    sub_pkgs[s->pkg].name, s->event_id);
	else
		sip_build_add(&b, SIP_HDR_EVENT, sub_pkgs[s->pkg].name);
	if (final)
		sip_build_addf(&b, SIP_HDR_SUBSCRIPTION_STATE,
		    "terminated;reason=%s", s->final_reason);
	else
		sip_build_addf(&b, SIP_HDR_SUBSCRIPTION_STATE,
		    "active;expires=%ld", sub_expires_in(s));
	sip_build_add(&b, SIP_HDR_USER_AGENT, s->ag->ua->user_agent);
	/* A resource that is gone, or refused, has no state to tell. */
	if (a != NULL && (!final || (strcmp(s->final_reason, "noresource") !=
	    0 && strcmp(s->final_reason, "rejected") != 0))) {
		body = sub_pidf(a, s->open);
		sip_build_body(&b, sub_pkgs[s->pkg].accept, body, strlen(body));
	}
	sip_build_finish(&b, &out);
	err = sip_ctrans_send(s->ag->ua->trans, out.p, out.n, &dst,
	    sub_on_nctrans, s, &s->nct);
out:
	strbuf_free(&out);
	sip_build_free(&b);
	if (err != 0) {
		free(body);
		log_debug("subscription %" PRIu64 ": NOTIFY not sent: %s",
		    s->id, strerror(err));
		if (final)
			sub_terminate(s, s->final_reason);
		return;
	}
	s->notifies++;
	s->last_notify = time_real();
	set_str(&s->ctype, body != NULL ? sub_pkgs[s->pkg].accept : "");
	free(s->body);
	s->body = body;
}

static void
sub_on_nctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct sub *s = arg;
	bool final = s->final_reason != NULL;

	(void)err;
	if (ev == SIP_TRANS_EV_TERMINATED) {
		if (s->nct == ct)
			s->nct = NULL;
		return;
	}
	if (ev == SIP_TRANS_EV_RESPONSE && m->status < 200)
		return;
	if (ev == SIP_TRANS_EV_ACK)
		return;
	sip_ctrans_detach(ct);
	s->nct = NULL;
	/* §4.2.2: a 481 or no answer at all: the watcher is gone. */
	if (ev != SIP_TRANS_EV_RESPONSE) {
		sub_terminate(s, final ? s->final_reason : "the watcher does "
		    "not answer");
		return;
	}
	if (m->status == 481) {
		sub_terminate(s, final ? s->final_reason : "481 from the "
		    "watcher");
		return;
	}
	if (s->notify_again) {
		s->notify_again = false;
		sub_dlg_op(s, SUB_OP_NOTIFY);
		return;
	}
	if (final)
		sub_terminate(s, s->final_reason);
}

/* Ends a watcher's subscription with a final NOTIFY (reason static). */
static void
sub_in_end(struct sub *s, const char *reason)
{
	if (s->final_reason != NULL || !s->live)
		return;
	s->final_reason = reason;
	s->expires_at = 0;
	for (int t = 0; t < SUB_T__COUNT; t++)
		s->due[t] = 0;
	sub_timer_arm(s);
	sub_set_state(s, SUB_STATE_TERMINATING, reason);
	sub_dlg_op(s, SUB_OP_NOTIFY);
}

/* The expiry a SUBSCRIBE asks, as we grant it; 0 with *min set: 423. */
static unsigned
sub_in_expires(const struct sip_msg *m, bool *too_brief)
{
	*too_brief = false;
	if (m->expires < 0)
		return SUB_EXPIRES_DEFAULT < SUB_SERVE_MAX_EXPIRES ?
		    SUB_EXPIRES_DEFAULT : SUB_SERVE_MAX_EXPIRES;
	if (m->expires == 0)
		return 0;
	if (m->expires < SUB_SERVE_MIN_EXPIRES) {
		*too_brief = true;
		return 0;
	}
	return m->expires > SUB_SERVE_MAX_EXPIRES ? SUB_SERVE_MAX_EXPIRES :
	    (unsigned)m->expires;
}

/* RFC 3261 §20.1: no Accept means the package's default; else ours
 * must be in it (or a wildcard). */
static bool
sub_accepts(const struct sip_msg *m, enum sub_package pkg)
{
	const char *want = sub_pkgs[pkg].accept;

	if (m->accept.n == 0)
		return true;
	for (unsigned i = 0; i < m->accept.n; i++) {
		struct slice t = m->accept.v[i];
		size_t n = t.n;

		/* The media range, without parameters. */
		for (size_t k = 0; k < t.n; k++)
			if (t.p[k] == ';' || t.p[k] == ' ') {
				n = k;
				break;
			}
		t.n = n;
		if (slice_caseeq_cstr(t, want) || slice_eq_cstr(t, "*/*") ||
		    slice_caseeq_cstr(t, "application/*"))
			return true;
	}
	return false;
}

static void
sub_allow_events(const struct account *a, char *out, size_t len)
{
	char list[128];

	out[0] = '\0';
	if (sub_allow_list(a, list, sizeof(list)))
		snprintf(out, len, "Allow-Events: %s\r\n", list);
}

static void
sub_acct_deliver(const struct events_event *ev, void *arg)
{
	(void)ev;
	sub_presence_kick(arg);
}

/* Builds our Contact for answers sent to dst (a watcher's SUBSCRIBE). */
static void
sub_contact_for(struct sub *s, const struct sip_dest *dst)
{
	char sent_by[INET6_ADDRSTRLEN + 8];
	struct strbuf sb = STRBUF_INIT;

	if (sip_tp_sent_by(s->ag->ua->tp, dst, sent_by, sizeof(sent_by)) != 0)
		snprintf(sent_by, sizeof(sent_by), "127.0.0.1");
	strbuf_addf(&sb, "<%s:%s%s%s%s>", sip_tp_contact_scheme(dst->proto),
	    s->user, s->user[0] != '\0' ? "@" : "", sent_by,
	    sip_tp_contact_param(dst->proto));
	free(s->contact);
	s->contact = strbuf_detach(&sb);
}

/* A new watcher (RFC 6665 §4.2.1.1). */
static void
sub_on_subscribe(struct ua *ua, const struct ua_req *rq, void *arg)
{
	struct sub_agent *ag = arg;
	const struct sip_msg *m = rq->msg;
	struct account *a;
	struct sub *s;
	char hdr[256], tag[17], *from;
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	unsigned expires;
	bool brief;
	int pkg;

	/*
	 * Watchers get half of subscriptions.max at most: a flood of
	 * SUBSCRIBEs from outside must leave room for our own.
	 */
	if (ag->stopping || ag->nlive >= ag->conf.max ||
	    ag->nin >= (ag->conf.max + 1) / 2) {
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n",
		    SUB_RETRY_AFTER);
		ua_respond(ua, rq, 503, "Service Unavailable", hdr);
		return;
	}
	if ((a = account_set_find_user(ag->set, m->ruri.user)) == NULL) {
		ua_respond(ua, rq, 404, "Not Found", NULL);
		return;
	}
	if (!m->has_event) {
		ua_respond(ua, rq, 400, "Missing Event", NULL);
		return;
	}
	pkg = sub_package_from(m->event.package.p, m->event.package.n);
	if (pkg < 0 || !(a->cfg->accept_events & (1u << pkg))) {
		/* §8.3.2, §8.2.2: with what it does take (if anything: an
		 * Allow-Events without a package would not parse). */
		sub_allow_events(a, hdr, sizeof(hdr));
		ua_respond(ua, rq, 489, "Bad Event", hdr[0] != '\0' ? hdr :
		    NULL);
		return;
	}
	if (!sub_accepts(m, (enum sub_package)pkg)) {
		snprintf(hdr, sizeof(hdr), "Accept: %s\r\n",
		    sub_pkgs[pkg].accept);
		ua_respond(ua, rq, 406, "Not Acceptable", hdr);
		return;
	}
	expires = sub_in_expires(m, &brief);
	if (brief) {
		snprintf(hdr, sizeof(hdr), "Min-Expires: %d\r\n",
		    SUB_SERVE_MIN_EXPIRES);
		ua_respond(ua, rq, 423, "Interval Too Brief", hdr);
		return;
	}
	from = slice_dup(m->from.uri_str);
	s = sub_new(ag, 0, SUB_DIR_IN, (enum sub_package)pkg, a, from);
	free(from);
	if (m->event.id.n > 0)
		s->event_id = slice_dup(m->event.id);
	random_hex(tag, 8);
	if (sip_dialog_uas(&s->dlg, m, tag) != 0 ||
	    sip_dialog_confirm(&s->dlg, NULL) != 0 ||
	    sub_dialog_insert(s) != 0) {
		sip_dialog_clear(&s->dlg);
		ag->counts[s->state]--;
		s->state = SUB_STATE_TERMINATED;
		ag->counts[s->state]++;
		sub_bury(s);
		ua_respond(ua, rq, 400, "Missing Contact", NULL);
		return;
	}
	if (ag->nin == 1 && ag->acct_sub == NULL)
		ag->acct_sub = events_subscribe_live(EVENTS_KIND_ACCOUNT, NULL,
		    sub_acct_deliver, ag);
	sub_contact_for(s, sip_strans_dest(rq->st));
	sip_build_response_to(&b, m, 200, "OK", tag);
	sip_build_add(&b, SIP_HDR_CONTACT, s->contact);
	sip_build_addf(&b, SIP_HDR_EXPIRES, "%u", expires);
	if (ua->user_agent[0] != '\0')
		sip_build_add(&b, SIP_HDR_SERVER, ua->user_agent);
	sip_build_finish(&b, &out);
	sip_strans_respond(rq->st, out.p, out.n);
	strbuf_free(&out);
	sip_build_free(&b);
	log_info("subscription %" PRIu64 ": %s watches %s (%s, %u s)", s->id,
	    s->uri, s->account, sub_pkgs[pkg].name, expires);
	s->open = sub_presence_open(a);
	if (expires == 0) {
		/* §4.4.3: a fetch: the state once, and the end. */
		sub_set_state(s, SUB_STATE_ACTIVE, "fetch");
		sub_in_end(s, "timeout");
		return;
	}
	sub_set_expiry(s, expires);
	sub_set_state(s, SUB_STATE_ACTIVE, NULL);
	sub_dlg_op(s, SUB_OP_NOTIFY);
}

/* A watcher's SUBSCRIBE in its dialog: a refresh, or Expires: 0. */
static void
sub_in_refresh(struct sub *s, const struct ua_req *rq)
{
	struct ua *ua = s->ag->ua;
	const struct sip_msg *m = rq->msg;
	char hdr[512];
	unsigned expires;
	bool brief;

	if (s->final_reason != NULL) {
		ua_respond(ua, rq, 481, "Subscription Does Not Exist", NULL);
		return;
	}
	if (!sub_event_matches(s, m)) {
		ua_respond(ua, rq, 489, "Bad Event", NULL);
		return;
	}
	expires = sub_in_expires(m, &brief);
	if (brief) {
		snprintf(hdr, sizeof(hdr), "Min-Expires: %d\r\n",
		    SUB_SERVE_MIN_EXPIRES);
		ua_respond(ua, rq, 423, "Interval Too Brief", hdr);
		return;
	}
	sub_refresh_target(s, m);
	snprintf(hdr, sizeof(hdr), "Expires: %u\r\nContact: %.400s\r\n",
	    expires, s->contact);
	ua_respond(ua, rq, 200, "OK", hdr);
	if (expires == 0) {
		sub_in_end(s, "timeout");
		return;
	}
	sub_set_expiry(s, expires);
	s->open = sub_presence_open(sub_acct(s));
	sub_dlg_op(s, SUB_OP_NOTIFY);
}

/* Registration states moved: each watcher hears of a change once. */
static void
sub_presence_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sub_agent *ag = arg;
	struct sub *s, *next;

	(void)fd;
	(void)what;
	for (s = ag->head; s != NULL; s = next) {
		const struct account *a;
		bool open;

		next = s->next;
		if (s->dir != SUB_DIR_IN || s->final_reason != NULL)
			continue;
		a = sub_acct(s);
		if (a == NULL) {
			sub_in_end(s, "noresource");
			continue;
		}
		if (!(a->cfg->accept_events & (1u << s->pkg))) {
			sub_in_end(s, "rejected");
			continue;
		}
		open = sub_presence_open(a);
		if (open == s->open)
			continue;
		s->open = open;
		sub_dlg_op(s, SUB_OP_NOTIFY);
	}
}

static void
sub_presence_kick(struct sub_agent *ag)
{
	if (ag->nin > 0)
		event_active(ag->presence_ev, EV_TIMEOUT, 0);
}

/* ---- requests in the dialogs --------------------------------------------------- */

static void
sub_on_dialog(struct ua *ua, const struct ua_req *rq, struct sip_dialog *d,
    void *arg)
{
	struct sub *s = d->owner;
	const struct sip_msg *m = rq->msg;
	unsigned st;

	(void)arg;
	if (rq->st == NULL)
		return;		/* an ACK: no INVITE here */
	if ((st = sip_dialog_check_cseq(d, m)) != 0) {
		ua_respond(ua, rq, st, "Server Internal Error",
		    "Retry-After: 1\r\n");
		return;
	}
	if (s->dir == SUB_DIR_OUT && m->method == SIP_METHOD_NOTIFY) {
		if (sub_notify_ok(ua, s, rq))
			sub_notify_out(s, rq);
		return;
	}
	if (s->dir == SUB_DIR_IN && m->method == SIP_METHOD_SUBSCRIBE) {
		sub_in_refresh(s, rq);
		return;
	}
	if (m->method == SIP_METHOD_OPTIONS) {
		ua_respond(ua, rq, 200, "OK", ua_caps_hdrs(ua));
		return;
	}
	ua_respond(ua, rq, m->method == SIP_METHOD_OTHER ? 501 : 405,
	    m->method == SIP_METHOD_OTHER ? "Not Implemented" :
	    "Method Not Allowed", ua->allow_hdr);
}

/* A NOTIFY with no To tag belongs to no subscription (§4.1.3). */
static void
sub_on_stray(struct ua *ua, const struct ua_req *rq, void *arg)
{
	(void)arg;
	ua_respond(ua, rq, 481, "Subscription Does Not Exist", NULL);
}

/* ---- the timer ------------------------------------------------------------------- */

/* Ends one of ours: Expires: 0 in the dialog, or once there is one. */
static void
sub_unsub(struct sub *s, const char *why)
{
	sub_timer_stop(s, SUB_T_REFRESH);
	sub_timer_stop(s, SUB_T_RETRY);
	sub_timer_stop(s, SUB_T_NOTIFY_WAIT);
	sub_timer_stop(s, SUB_T_EXPIRE);
	if (s->has_dlg) {
		if (s->ct != NULL) {
			/* A refresh in flight is superseded. */
			sip_ctrans_detach(s->ct);
			s->ct = NULL;
		}
		sub_set_state(s, SUB_STATE_TERMINATING, why);
		sub_timer_set(s, SUB_T_END_WAIT, 64ull * sub_t1(s));
		sub_dlg_op(s, SUB_OP_SUBSCRIBE);
	} else if (s->ct != NULL || s->q0 != NULL) {
		/* The SUBSCRIBE is out: its answer makes the dialog first. */
		s->unsub_wanted = true;
		sub_set_state(s, SUB_STATE_TERMINATING, why);
		sub_timer_set(s, SUB_T_END_WAIT, 64ull * sub_t1(s));
	} else {
		sub_terminate(s, why);
	}
}

static void
sub_on_timer(struct sub *s, enum sub_timer t)
{
	switch (t) {
	case SUB_T_REFRESH:
		if (s->dir != SUB_DIR_OUT)
			break;
		if (sub_acct(s) == NULL) {
			sub_unsub(s, "account removed");
			break;
		}
		if (!s->has_dlg) {
			sub_restart(s, 0, "no dialog to refresh");
			break;
		}
		if (s->ct != NULL) {
			/* One SUBSCRIBE at a time: a little later. */
			sub_timer_set(s, SUB_T_REFRESH, 1000);
			break;
		}
		sub_dlg_op(s, SUB_OP_SUBSCRIBE);
		break;
	case SUB_T_EXPIRE:
		if (s->dir == SUB_DIR_IN)
			sub_in_end(s, "timeout");
		else
			sub_terminate(s, "expired");
		break;
	case SUB_T_NOTIFY_WAIT:
		if (!s->got_notify)
			sub_terminate(s, "no NOTIFY after the 2xx");
		break;
	case SUB_T_RETRY:
		sub_send_initial(s);
		break;
	case SUB_T_END_WAIT:
		sub_terminate(s, s->reason != NULL ? s->reason :
		    "unsubscribed");
		break;
	case SUB_T__COUNT:
		break;
	}
}

static void
sub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sub *s = arg;
	uint64_t now = time_mono_us();

	(void)fd;
	(void)what;
	for (int t = 0; t < SUB_T__COUNT && s->live; t++) {
		if (s->due[t] == 0 || s->due[t] > now)
			continue;
		s->due[t] = 0;
		sub_on_timer(s, (enum sub_timer)t);
	}
	if (s->live)
		sub_timer_arm(s);
}

/* ---- commands -------------------------------------------------------------------- */

int
sub_subscribe(struct sub_agent *ag, const struct sub_params *p, uint64_t *id,
    char *err, size_t errlen)
{
	struct account *a;
	struct sub *s;
	struct sip_uri u;
	struct strbuf sb = STRBUF_INIT;
	const char *why;
	int pkg;

	if (ag->stopping) {
		snprintf(err, errlen, "sipxd is stopping");
		return ESHUTDOWN;
	}
	if ((a = account_set_find(ag->set, p->account)) == NULL) {
		snprintf(err, errlen, "no account '%.64s'", p->account);
		return ENOENT;
	}
	if (sip_uri_parse(&u, p->uri, strlen(p->uri), &why) != 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)) {
		snprintf(err, errlen, "'%.128s' is not a sip: or sips: URI",
		    p->uri);
		return EINVAL;
	}
	if ((pkg = sub_package_from(p->event, strlen(p->event))) < 0) {
		snprintf(err, errlen, "unknown event package '%.32s' "
		    "(message-summary, presence or dialog)", p->event);
		return EINVAL;
	}
	if (p->expires > SUB_EXPIRES_MAX) {
		snprintf(err, errlen, "expires must be 1..%d seconds",
		    SUB_EXPIRES_MAX);
		return EINVAL;
	}
	if (p->id != 0 && sub_find(ag, p->id) != NULL) {
		snprintf(err, errlen, "id %" PRIu64 " is taken", p->id);
		return EEXIST;
	}
	if (ag->nlive >= ag->conf.max) {
		snprintf(err, errlen, "%zu subscriptions already "
		    "(subscriptions.max)", ag->nlive);
		return EBUSY;
	}
	s = sub_new(ag, p->id, SUB_DIR_OUT, (enum sub_package)pkg, a, p->uri);
	s->expires_req = p->expires != 0 ? p->expires : SUB_EXPIRES_DEFAULT;
	if (a->cfg->display_name != NULL)
		strbuf_addf(&sb, "\"%s\" <%s>", a->cfg->display_name,
		    a->cfg->aor);
	else
		strbuf_addf(&sb, "<%s>", a->cfg->aor);
	s->from_uri = strbuf_detach(&sb);
	strbuf_addf(&sb, "<%s>", p->uri);
	s->to_uri = strbuf_detach(&sb);
	ua_account_route(a, &s->route0, &s->hop0);
	*id = s->id;
	log_info("subscription %" PRIu64 ": %s subscribes to %s of %s "
	    "(%u s)", s->id, s->account, sub_pkgs[pkg].name, s->uri,
	    s->expires_req);
	/* The resolver answers from the loop: nothing has happened yet. */
	sub_set_state(s, SUB_STATE_SUBSCRIBING, NULL);
	sub_send_initial(s);
	return 0;
}

int
sub_unsubscribe(struct sub_agent *ag, uint64_t id)
{
	struct sub *s = sub_find(ag, id);

	if (s == NULL || s->dir != SUB_DIR_OUT)
		return ENOENT;
	if (s->state == SUB_STATE_TERMINATING)
		return EALREADY;
	sub_unsub(s, "unsubscribed");
	return 0;
}

void
sub_foreach(struct sub_agent *ag,
    void (*fn)(const struct sub_summary *, void *), void *arg)
{
	for (struct sub *s = ag->head; s != NULL; s = s->next) {
		struct sub_summary sum = {
			.id = s->id,
			.account = s->account,
			.dir = s->dir,
			.package = s->pkg,
			.uri = s->uri,
			.state = s->state,
			.expires_in = sub_expires_in(s),
			.notifies = s->notifies,
			.last_notify = s->last_notify,
			.content_type = s->ctype != NULL ? s->ctype : "",
			.body = s->body != NULL ? s->body : "",
			.body_dropped = s->body_dropped,
			.reason = s->reason != NULL ? s->reason : "",
		};

		fn(&sum, arg);
	}
}

size_t
sub_count_states(const struct sub_agent *ag, size_t counts[])
{
	for (int i = 0; i < SUB_STATE__COUNT; i++)
		counts[i] = ag->counts[i];
	return ag->nlive;
}

int
sub_mwi_get(const struct sub_agent *ag, const char *account,
    struct sip_mwi *out, double *when)
{
	const struct sub *best = NULL;

	for (const struct sub *s = ag->head; s != NULL; s = s->next)
		if (s->dir == SUB_DIR_OUT && s->mwi_valid &&
		    strcmp(s->account, account) == 0 &&
		    (best == NULL || s->mwi_at > best->mwi_at))
			best = s;
	if (best == NULL)
		return ENOENT;
	*out = best->mwi;
	*when = best->mwi_at;
	return 0;
}

/* ---- the agent --------------------------------------------------------------------- */

static void
sub_snapshot(struct events_sub *sub, void *arg)
{
	struct sub_agent *ag = arg;
	char id[24], exp[24];

	for (struct sub *s = ag->head; s != NULL; s = s->next) {
		long in = sub_expires_in(s);

		snprintf(id, sizeof(id), "%" PRIu64, s->id);
		if (in >= 0)
			snprintf(exp, sizeof(exp), "%ld", in);
		else
			exp[0] = '\0';
		events_emit_to(sub, "subscription.state", s->account, "id", id,
		    "dir", sub_dir_name(s->dir), "event",
		    sub_package_name(s->pkg), "uri", s->uri, "state",
		    sub_state_name(s->state), "reason", s->reason != NULL ?
		    s->reason : "", "expires", exp, NULL);
	}
}

static void
sub_conf_apply(struct sub_agent *ag, const struct sub_conf *conf)
{
	ag->conf = *conf;
	if (ag->conf.max == 0)
		ag->conf.max = SUB_MAX_DEFAULT;
	if (ag->conf.body_max == 0)
		ag->conf.body_max = SUB_BODY_MAX_DEFAULT;
}

static void
sub_stop_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sub_agent *ag = arg;
	void (*done)(void *) = ag->stop_done;

	(void)fd;
	(void)what;
	ag->stop_done = NULL;
	if (done != NULL)
		done(ag->stop_arg);
}

struct sub_agent *
sub_agent_new(struct ua *ua, struct account_set *set,
    const struct sub_conf *conf)
{
	struct sub_agent *ag = xcalloc(1, sizeof(*ag));
	int err;

	ag->ua = ua;
	ag->set = set;
	sub_conf_apply(ag, conf);
	ag->nids_buckets = 64;
	ag->ids = xcalloc(ag->nids_buckets, sizeof(*ag->ids));
	ag->reaper = event_new(ua->base, -1, 0, sub_reap_cb, ag);
	ag->presence_ev = event_new(ua->base, -1, 0, sub_presence_cb, ag);
	ag->stop_ev = event_new(ua->base, -1, 0, sub_stop_done_cb, ag);
	ua_register_method(ua, "SUBSCRIBE", sub_on_subscribe, ag, 0);
	/* Another usage may answer stray NOTIFYs already: it does. */
	err = ua_register_method(ua, "NOTIFY", sub_on_stray, ag,
	    UA_METHOD_STATELESS);
	if (err != 0 && err != EEXIST)
		log_warnx("subscriptions: cannot take NOTIFY: %s",
		    strerror(err));
	ua_set_dialog_handler(ua, UA_USAGE_SUBSCRIPTION, sub_on_dialog, ag);
	ua_set_notify_miss_handler(ua, sub_on_notify_miss, ag);
	events_add_snapshot(sub_snapshot, ag);
	return ag;
}

void
sub_agent_set_conf(struct sub_agent *ag, const struct sub_conf *conf)
{
	struct sub *s, *next;

	sub_conf_apply(ag, conf);
	for (s = ag->head; s != NULL; s = next) {
		next = s->next;
		if (s->dir == SUB_DIR_OUT && s->state !=
		    SUB_STATE_TERMINATING && sub_acct(s) == NULL)
			sub_unsub(s, "account removed");
	}
	sub_presence_kick(ag);
}

void
sub_agent_stop(struct sub_agent *ag, void (*done)(void *), void *arg)
{
	struct sub *s, *next;

	ag->stopping = true;
	ag->stop_done = done;
	ag->stop_arg = arg;
	for (s = ag->head; s != NULL; s = next) {
		next = s->next;
		if (s->dir == SUB_DIR_IN)
			/* §4.1.3: deactivated, "subscribe again": to the next
			 * instance, or to this one once it is back. */
			sub_in_end(s, "deactivated");
		else if (s->state != SUB_STATE_TERMINATING)
			sub_unsub(s, "sipxd is stopping");
	}
	sub_check_stopped(ag);
}

void
sub_agent_free(struct sub_agent *ag)
{
	if (ag == NULL)
		return;
	events_remove_snapshot(sub_snapshot, ag);
	ua_set_dialog_handler(ag->ua, UA_USAGE_SUBSCRIPTION, NULL, NULL);
	ua_set_notify_miss_handler(ag->ua, NULL, NULL);
	if (ag->acct_sub != NULL)
		events_unsubscribe(ag->acct_sub);
	while (ag->head != NULL) {
		struct sub *s = ag->head;

		ag->head = s->next;
		sub_free(s);
	}
	sub_reap_cb(-1, 0, ag);
	event_free(ag->reaper);
	event_free(ag->presence_ev);
	event_free(ag->stop_ev);
	free(ag->ids);
	free(ag);
}
