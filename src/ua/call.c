/*
 * The call usage (call.h): INVITE sessions as caller (UAC) and callee
 * (UAS), their dialogs, offer/answer and media.  One struct call per
 * call, owned by the agent; a call that ends moves to the history ring
 * and is freed when the ring drops it (from the loop, never under a
 * callback of its own).
 *
 * RFC map:
 *   RFC 3261 §13.2  UAC: INVITE, 1xx (early dialogs per To tag, §12.1.2),
 *                   2xx → ACK along the route set (again for every
 *                   retransmitted 2xx), a 2xx from a second fork → ACK
 *                   and BYE (§13.2.2.4); 3xx (§8.1.3.4); 401/407 (§22).
 *   RFC 3261 §13.3  UAS: 180/200, 2xx retransmitted until ACK (§13.3.1.4,
 *                   Timer G style, RFC 6026), no ACK in 64*T1 → BYE.
 *   RFC 3261 §9     CANCEL only after a provisional (§9.1); CANCEL in →
 *                   200 and 487.
 *   RFC 3261 §14    re-INVITE: hold and resume, 491 glare (§14.1), 500
 *                   while our own 2xx waits for its ACK (§14.2).
 *   RFC 3261 §15    BYE, never from the callee before the ACK.
 *   RFC 3262        100rel: PRACK for reliable 1xx (RSeq in order); our
 *                   180 sent reliably when the INVITE requires it.
 *   RFC 3264        offer/answer, early or late (offer in 200, answer
 *                   in ACK); hold with sendonly (§8.4).
 *   RFC 3311        UPDATE answered (with or without an offer).
 *   RFC 4028        session timers: negotiated, refreshed by the
 *                   refresher, the call ended when no refresh comes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "base/arena.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/random.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sdp.h"
#include "sip/sip_auth.h"
#include "sip/sip_build.h"
#include "sip/sip_dialog.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_transport.h"
#include "sip/sip_uri.h"
#include "call.h"
#include "call_priv.h"
#include "events.h"
#include "reg.h"
#include "ua_priv.h"

static void call_timer_arm(struct call *);
static void call_terminate(struct call *, unsigned status, const char *reason,
    const char *by);
static void call_send_bye(struct call *);
static void call_flush_ops(struct call *);
static void call_uas_refuse(struct call *, unsigned status,
    const char *reason, const char *why, const char *by);
static void call_cancel(struct call *);

/* ---- names ---------------------------------------------------------------- */

const char *
call_state_name(enum call_state s)
{
	switch (s) {
	case CALL_STATE_CALLING:	return "calling";
	case CALL_STATE_PROCEEDING:	return "proceeding";
	case CALL_STATE_EARLY:		return "early";
	case CALL_STATE_RINGING:	return "ringing";
	case CALL_STATE_CONFIRMED:	return "confirmed";
	case CALL_STATE_TERMINATING:	return "terminating";
	case CALL_STATE_TERMINATED:	return "terminated";
	case CALL_STATE__COUNT:		break;
	}
	return "?";
}

const char *
call_dir_name(enum call_dir d)
{
	return d == CALL_DIR_OUT ? "out" : "in";
}

/* ---- small helpers --------------------------------------------------------- */

static char *
slice_dup(struct slice s)
{
	return xstrndup(s.p != NULL ? s.p : "", s.n);
}

/* s may be *dst itself. */
static void
set_str(char **dst, const char *s)
{
	char *copy = s != NULL ? xstrdup(s) : NULL;

	free(*dst);
	*dst = copy;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* A random number of nbytes (at most 7) bytes. */
static uint64_t
call_rand(size_t nbytes)
{
	char hex[16];

	random_hex(hex, nbytes);
	return strtoull(hex, NULL, 16);
}

/* A string a call keeps for its life: no doubling slack (10,000 calls). */
static char *
call_detach(struct strbuf *sb)
{
	size_t n = sb->n;
	char *p = strbuf_detach(sb);

	return p != NULL ? xrealloc(p, n + 1) : xstrdup("");
}

static double
call_elapsed(const struct call *c)
{
	return (double)(time_mono_us() - c->mono_start) / 1e6;
}

/* One line of the timeline, capped: the first events matter most. */
void
call_note(struct call *c, const char *fmt, ...)
{
	va_list ap;

	if (c->timeline.n >= CALL_TIMELINE_MAX)
		return;
	strbuf_addf(&c->timeline, "t=+%.3f ", call_elapsed(c));
	va_start(ap, fmt);
	strbuf_vaddf(&c->timeline, fmt, ap);
	va_end(ap);
	strbuf_addc(&c->timeline, '\n');
	if (c->timeline.n >= CALL_TIMELINE_MAX)
		strbuf_adds(&c->timeline, "t=… (timeline full)\n");
}

struct account *
call_account(const struct call *c)
{
	return account_set_find(c->ag->set, c->account);
}

/* The value of a header field by name (long or compact), or an empty
 * slice. */
static struct slice
call_hdr(const struct sip_msg *m, const char *name, const char *compact)
{
	const struct sip_hdr *h = sip_msg_hdr_named(m, name);

	if (h == NULL && compact != NULL)
		h = sip_msg_hdr_named(m, compact);
	return h != NULL ? h->value : slice_make(NULL, 0);
}

static bool
call_tokens_have(const struct sip_tokens *t, const char *tag)
{
	for (unsigned i = 0; i < t->n; i++)
		if (slice_caseeq_cstr(t->v[i], tag))
			return true;
	return false;
}

static bool
call_body_is_sdp(const struct sip_msg *m)
{
	return m->body.n > 0 && (!m->has_content_type ||
	    (slice_caseeq_cstr(m->content_type.type, "application") &&
	    slice_caseeq_cstr(m->content_type.subtype, "sdp")));
}

/*
 * RFC 4028 §4: "Session-Expires: delta-seconds [;refresher=uac|uas]".
 * Returns the interval (0: none or unreadable) and the refresher ('c'
 * for uac, 's' for uas, 0 when not given).
 */
static unsigned
call_parse_se(const struct sip_msg *m, char *refresher)
{
	struct slice v = call_hdr(m, "Session-Expires", "x");
	uint64_t n = 0;
	size_t i = 0;

	*refresher = 0;
	while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9' && n < 1000000000)
		n = n * 10 + (uint64_t)(v.p[i++] - '0');
	if (i == 0)
		return 0;
	for (; i + 13 <= v.n; i++)
		if (strncasecmp(v.p + i, "refresher=uac", 13) == 0)
			*refresher = 'c';
		else if (strncasecmp(v.p + i, "refresher=uas", 13) == 0)
			*refresher = 's';
	return (unsigned)n;
}

static unsigned
call_parse_min_se(const struct sip_msg *m)
{
	struct slice v = call_hdr(m, "Min-SE", NULL);
	uint64_t n = 0;
	size_t i = 0;

	while (i < v.n && v.p[i] >= '0' && v.p[i] <= '9' && n < 1000000000)
		n = n * 10 + (uint64_t)(v.p[i++] - '0');
	return (unsigned)n;
}

/* ---- the id table and lists ---------------------------------------------- */

static size_t
call_bucket(const struct call_agent *ag, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) &
	    (ag->nids_buckets - 1);
}

static void
call_ids_grow(struct call_agent *ag)
{
	size_t n = ag->nids_buckets * 2;
	struct call **v = xcalloc(n, sizeof(*v));
	struct call **old = ag->ids;
	size_t oldn = ag->nids_buckets;

	ag->ids = v;
	ag->nids_buckets = n;
	for (size_t i = 0; i < oldn; i++)
		while (old[i] != NULL) {
			struct call *c = old[i];
			size_t b = call_bucket(ag, c->id);

			old[i] = c->hnext;
			c->hnext = v[b];
			v[b] = c;
		}
	free(old);
}

struct call *
call_find(const struct call_agent *ag, uint64_t id)
{
	for (struct call *c = ag->ids[call_bucket(ag, id)]; c != NULL;
	    c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void
call_ids_add(struct call_agent *ag, struct call *c)
{
	size_t b;

	if (ag->nids + 1 > ag->nids_buckets)
		call_ids_grow(ag);
	b = call_bucket(ag, c->id);
	c->hnext = ag->ids[b];
	ag->ids[b] = c;
	ag->nids++;
}

static void
call_ids_remove(struct call_agent *ag, struct call *c)
{
	for (struct call **pp = &ag->ids[call_bucket(ag, c->id)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			ag->nids--;
			return;
		}
}

static struct call *
call_live(const struct call_agent *ag, uint64_t id)
{
	struct call *c = call_find(ag, id);

	return c != NULL && c->live ? c : NULL;
}

/* ---- events and states ----------------------------------------------------- */

static void
call_publish_state(struct call *c, enum call_state prev, bool first)
{
	struct events_kv kv[EVENTS_KV_MAX];
	char id[24], st[16];
	size_t n = 0;

	if (!events_wanted(EVENTS_KIND_CALL))
		return;
	snprintf(id, sizeof(id), "%" PRIu64, c->id);
	kv[n++] = (struct events_kv){ "id", id };
	kv[n++] = (struct events_kv){ "dir", call_dir_name(c->dir) };
	kv[n++] = (struct events_kv){ "state", call_state_name(c->state) };
	if (!first)
		kv[n++] = (struct events_kv){ "prev", call_state_name(prev) };
	kv[n++] = (struct events_kv){ "remote", c->remote };
	if (c->last_status != 0) {
		snprintf(st, sizeof(st), "%u", c->last_status);
		kv[n++] = (struct events_kv){ "status", st };
	}
	if (c->reason != NULL)
		kv[n++] = (struct events_kv){ "reason", c->reason };
	if (c->ended_by != NULL)
		kv[n++] = (struct events_kv){ "by", c->ended_by };
	events_publishv("call.state", c->account, kv, n);
}

/* Every state change goes through here: counts, log, event. */
static void
call_set_state(struct call *c, enum call_state st)
{
	struct call_agent *ag = c->ag;
	enum call_state prev = c->state;

	if (st == prev)
		return;
	ag->counts[prev]--;
	ag->counts[st]++;
	c->state = st;
	log_debug("call %" PRIu64 ": %s -> %s", c->id, call_state_name(prev),
	    call_state_name(st));
	call_note(c, "%s", call_state_name(st));
	call_publish_state(c, prev, false);
	if (c->referred_by != 0)
		xfer_on_state(c);
	if (ag->change != NULL)
		ag->change(ag->change_arg);
}

static void
call_publish_hold(struct call *c, bool held, const char *by)
{
	char id[24];

	snprintf(id, sizeof(id), "%" PRIu64, c->id);
	call_note(c, "%s by %s", held ? "hold" : "unhold", by);
	events_publish("call.hold", c->account, "id", id, "held",
	    held ? "yes" : "no", "by", by, NULL);
}

/* ---- the one timer --------------------------------------------------------- */

void
call_timer_set(struct call *c, enum call_timer t, uint64_t ms)
{
	c->due[t] = ms == 0 ? 0 : time_mono_us() + ms * 1000;
	call_timer_arm(c);
}

static void
call_timer_stop(struct call *c, enum call_timer t)
{
	if (c->due[t] == 0)
		return;
	c->due[t] = 0;
	call_timer_arm(c);
}

static void call_timer_cb(evutil_socket_t, short, void *);

static void
call_timer_arm(struct call *c)
{
	uint64_t soonest = 0, now;
	struct timeval tv;

	for (int i = 0; i < CALL_T__COUNT; i++)
		if (c->due[i] != 0 && (soonest == 0 || c->due[i] < soonest))
			soonest = c->due[i];
	if (soonest == 0) {
		if (c->tmr != NULL)
			evtimer_del(c->tmr);
		return;
	}
	if (c->tmr == NULL)
		c->tmr = evtimer_new(c->ag->ua->base, call_timer_cb, c);
	now = time_mono_us();
	soonest = soonest > now ? soonest - now : 0;
	tv.tv_sec = (time_t)(soonest / 1000000);
	tv.tv_usec = (suseconds_t)(soonest % 1000000);
	evtimer_add(c->tmr, &tv);
}

static unsigned
call_t1(const struct call *c)
{
	return c->ag->ua->tc.t1_ms;
}

/* ---- life and death -------------------------------------------------------- */

static void
call_dialog_drop(struct call *c, struct sip_dialog *d)
{
	sip_dialog_table_remove(c->ag->ua->dialogs, d);
}

static void
call_forks_free(struct call *c, const struct sip_dialog *keep)
{
	for (size_t i = 0; i < c->nforks; i++) {
		struct sip_dialog *d = c->forks[i];

		if (d == keep)
			continue;
		call_dialog_drop(c, d);
		sip_dialog_clear(d);
		free(d);
	}
	c->nforks = 0;
}

/* Lets go of everything that can still call back into c. */
static void
call_detach_all(struct call *c)
{
	if (c->inv_ct != NULL)
		sip_ctrans_detach(c->inv_ct);
	if (c->bye_ct != NULL)
		sip_ctrans_detach(c->bye_ct);
	if (c->reinv_ct != NULL)
		sip_ctrans_detach(c->reinv_ct);
	if (c->upd_ct != NULL)
		sip_ctrans_detach(c->upd_ct);
	if (c->inv_st != NULL)
		sip_strans_detach(c->inv_st);
	if (c->resp_st != NULL && c->resp_st != c->inv_st)
		sip_strans_detach(c->resp_st);
	c->inv_ct = c->bye_ct = c->reinv_ct = c->upd_ct = NULL;
	c->inv_st = c->resp_st = NULL;
	if (c->q0 != NULL)
		sip_resolve_cancel(c->q0);
	if (c->hq != NULL)
		sip_resolve_cancel(c->hq);
	c->q0 = c->hq = NULL;
	xfer_free(c);
	for (int i = 0; i < CALL_T__COUNT; i++)
		c->due[i] = 0;
	if (c->tmr != NULL) {
		event_free(c->tmr);
		c->tmr = NULL;
	}
}

static void
call_free(struct call *c)
{
	call_detach_all(c);
	if (c->has_dlg)
		call_dialog_drop(c, &c->dlg);
	call_forks_free(c, NULL);
	sip_dialog_clear(&c->dlg);
	if (c->rtp != NULL)
		rtp_session_close(c->rtp);
	if (c->wav != NULL)
		media_wav_unref(c->wav);
	for (size_t i = 0; i < c->nhdrs; i++)
		free(c->hdrs[i]);
	free(c->hdrs);
	free(c->codecs);
	free(c->account);
	free(c->remote);
	free(c->user);
	free(c->contact);
	free(c->ruri);
	free(c->from_uri);
	free(c->to_uri);
	free(c->from_tag);
	free(c->call_id);
	free(c->route0);
	free(c->hop0);
	free(c->targets);
	free(c->inv_dst);
	free(c->forks);
	free(c->chal);
	free(c->ack);
	free(c->resp);
	free(c->hop_uri);
	free(c->local_sdp);
	free(c->remote_sdp);
	free(c->sdp_before);
	free(c->auth_hdr);
	free(c->reason);
	strbuf_free(&c->timeline);
	free(c);
}

static void
call_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call_agent *ag = arg;

	(void)fd;
	(void)what;
	while (ag->dead != NULL) {
		struct call *c = ag->dead;

		ag->dead = c->next;
		call_free(c);
	}
}

/* Frees c from the loop: it may be under one of its own callbacks. */
static void
call_bury(struct call *c)
{
	struct call_agent *ag = c->ag;

	call_ids_remove(ag, c);
	call_detach_all(c);
	c->next = ag->dead;
	ag->dead = c;
	event_active(ag->reaper, EV_TIMEOUT, 0);
}

static void
call_list_unlink_live(struct call *c)
{
	struct call_agent *ag = c->ag;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ag->live_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		ag->live_tail = c->prev;
	c->next = c->prev = NULL;
}

/* Drops the oldest ended calls beyond calls.history. */
static void
call_history_trim(struct call_agent *ag)
{
	while (ag->nhist > ag->conf.history) {
		struct call *old = ag->hist_tail;

		ag->hist_tail = old->prev;
		if (ag->hist_tail != NULL)
			ag->hist_tail->next = NULL;
		else
			ag->hist_head = NULL;
		ag->nhist--;
		old->prev = old->next = NULL;
		call_bury(old);
	}
}

static void
call_history_push(struct call *c)
{
	struct call_agent *ag = c->ag;

	if (ag->conf.history == 0) {
		call_bury(c);
		return;
	}
	c->prev = NULL;
	c->next = ag->hist_head;
	if (ag->hist_head != NULL)
		ag->hist_head->prev = c;
	ag->hist_head = c;
	if (ag->hist_tail == NULL)
		ag->hist_tail = c;
	ag->nhist++;
	call_history_trim(ag);
}

static void call_agent_check_stopped(struct call_agent *);

static void
call_publish_ended(struct call *c)
{
	struct rtp_stats *s = &c->stats;
	char id[24], st[8], dur[32], ps[24], pr[24], bs[24], br[24], lost[24],
	    jit[24];

	snprintf(id, sizeof(id), "%" PRIu64, c->id);
	snprintf(st, sizeof(st), "%u", c->status);
	snprintf(dur, sizeof(dur), "%.3f", c->t_answer > 0 ?
	    c->t_end - c->t_answer : 0.0);
	snprintf(ps, sizeof(ps), "%" PRIu64, s->packets_sent);
	snprintf(pr, sizeof(pr), "%" PRIu64, s->packets_recv);
	snprintf(bs, sizeof(bs), "%" PRIu64, s->bytes_sent);
	snprintf(br, sizeof(br), "%" PRIu64, s->bytes_recv);
	snprintf(lost, sizeof(lost), "%" PRId64, s->lost);
	snprintf(jit, sizeof(jit), "%.2f", s->jitter_ms);
	events_publish("call.ended", c->account, "id", id, "dir",
	    call_dir_name(c->dir), "status", st, "reason",
	    str_or_empty(c->reason), "by", str_or_empty(c->ended_by),
	    "duration", dur, "packets_sent", ps, "packets_recv", pr,
	    "bytes_sent", bs, "bytes_recv", br, "lost", lost, "jitter_ms", jit,
	    NULL);
}

/*
 * The call is over: media stops, its dialogs leave the table, it moves
 * to the history.  Transactions still running (an INVITE in Accepted,
 * our BYE) stay attached so that a retransmitted 2xx is still ACKed.
 */
static void
call_terminate(struct call *c, unsigned status, const char *reason,
    const char *by)
{
	struct call_agent *ag = c->ag;

	if (!c->live)
		return;
	c->status = status;
	set_str(&c->reason, reason);
	c->ended_by = by;
	c->t_end = time_real();
	if (c->rtp != NULL) {
		rtp_session_stats(c->rtp, &c->stats);
		rtp_session_close(c->rtp);
		c->rtp = NULL;
	}
	if (c->wav != NULL) {
		media_wav_unref(c->wav);
		c->wav = NULL;
	}
	for (int i = 0; i < CALL_T__COUNT; i++)
		c->due[i] = 0;
	call_timer_arm(c);
	if (c->has_dlg)
		call_dialog_drop(c, &c->dlg);
	call_forks_free(c, NULL);
	if (c->inv_st != NULL) {
		sip_strans_detach(c->inv_st);
		c->inv_st = NULL;
	}
	if (c->resp_st != NULL) {
		sip_strans_detach(c->resp_st);
		c->resp_st = NULL;
	}
	if (c->q0 != NULL) {
		sip_resolve_cancel(c->q0);
		c->q0 = NULL;
	}
	log_info("call %" PRIu64 " (%s, %s %s) ended: %u %s, by %s", c->id,
	    c->account, call_dir_name(c->dir), c->remote, status,
	    str_or_empty(c->reason), by);
	call_set_state(c, CALL_STATE_TERMINATED);
	call_publish_ended(c);
	c->live = false;
	ag->counts[CALL_STATE_TERMINATED]--;
	ag->nlive--;
	call_list_unlink_live(c);
	/* The history keeps the timeline as it is: no slack. */
	if (c->timeline.p != NULL && c->timeline.cap > c->timeline.n + 1) {
		c->timeline.p = xrealloc(c->timeline.p, c->timeline.n + 1);
		c->timeline.cap = c->timeline.n + 1;
	}
	call_history_push(c);
	/* After a busy hour the heap goes back (as the transactions do). */
	if (ag->peak >= CALL_TRIM_PEAK && ag->nlive < ag->peak / 8) {
		xalloc_trim();
		ag->peak = ag->nlive;
	}
	if (ag->change != NULL)
		ag->change(ag->change_arg);
	call_agent_check_stopped(ag);
}

static struct call *
call_new(struct call_agent *ag, uint64_t id, enum call_dir dir,
    const struct account *a, const char *remote)
{
	struct call *c = xcalloc(1, sizeof(*c));
	const struct account_cfg *cfg = a->cfg;
	struct sip_uri u;
	const char *why;
	size_t total = 0;
	char *p;
	bool have_te = false;

	c->ag = ag;
	c->id = id != 0 ? id : ids_next();
	c->dir = dir;
	c->live = true;
	c->account = xstrdup(cfg->name);
	c->remote = xstrdup(remote);
	if (sip_uri_parse(&u, cfg->aor, strlen(cfg->aor), &why) == 0 &&
	    u.user.n > 0)
		c->user = slice_dup(u.user);
	else
		c->user = xstrdup("sipxd");
	/* Our codecs, and telephone-event for DTMF (RFC 4733). */
	for (size_t i = 0; i < cfg->ncodecs; i++) {
		total += strlen(cfg->codecs[i]) + 1;
		if (strcasecmp(cfg->codecs[i], "telephone-event") == 0)
			have_te = true;
	}
	total += sizeof("telephone-event");
	c->codecs = xmalloc((cfg->ncodecs + 1) * sizeof(char *) + total);
	p = (char *)(c->codecs + cfg->ncodecs + 1);
	for (size_t i = 0; i < cfg->ncodecs; i++) {
		c->codecs[c->ncodecs++] = p;
		p = stpcpy(p, cfg->codecs[i]) + 1;
	}
	if (!have_te) {
		c->codecs[c->ncodecs++] = p;
		strcpy(p, "telephone-event");
	}
	c->transport = cfg->transport;
	c->session_expires = (unsigned)cfg->session_expires;
	c->media = (enum rtp_mode)cfg->media;
	c->t_start = time_real();
	c->mono_start = time_mono_us();
	c->sess_id = call_rand(6);
	c->sess_ver = 1;
	c->state = CALL_STATE_CALLING;
	ag->counts[c->state]++;
	if (++ag->nlive > ag->peak)
		ag->peak = ag->nlive;
	c->prev = ag->live_tail;
	if (ag->live_tail != NULL)
		ag->live_tail->next = c;
	else
		ag->live_head = c;
	ag->live_tail = c;
	call_ids_add(ag, c);
	return c;
}

/* ---- offer/answer and media ------------------------------------------------ */

static void
call_on_rtp(struct rtp_session *s, enum rtp_event ev,
    const struct rtp_event_info *info, void *arg)
{
	struct call *c = arg;
	char id[24], a[24], b[24];

	(void)s;
	snprintf(id, sizeof(id), "%" PRIu64, c->id);
	switch (ev) {
	case RTP_EV_DTMF:
		a[0] = info->digit;
		a[1] = '\0';
		snprintf(b, sizeof(b), "%u", info->duration_ms);
		call_note(c, "DTMF %s received (%s ms)", a, b);
		events_publish("call.dtmf", c->account, "id", id, "digit", a,
		    "duration_ms", b, NULL);
		break;
	case RTP_EV_TIMEOUT:
	case RTP_EV_RESUMED:
		snprintf(a, sizeof(a), "%.1f", info->silent_ms / 1000.0);
		call_note(c, "media %s", ev == RTP_EV_TIMEOUT ?
		    "stopped" : "resumed");
		if (ev == RTP_EV_TIMEOUT)
			log_notice("call %" PRIu64 " (%s): no RTP for %s s",
			    c->id, c->account, a);
		events_publish("call.media", c->account, "id", id, "state",
		    ev == RTP_EV_TIMEOUT ? "timeout" : "resumed", "silent_s",
		    a, NULL);
		break;
	case RTP_EV_PLAY_ERROR:
		call_note(c, "media %s impossible with %s: sending nothing",
		    rtp_mode_name(c->media), c->codec);
		break;
	}
}

/* Our description of the one audio stream, with direction dir. */
static int
call_make_offer(struct call *c, enum sdp_dir dir)
{
	struct sdp_local l = { 0 };
	struct sdp_session s;
	struct arena ar;
	struct strbuf sb = STRBUF_INIT;
	int err;

	l.username = "sipxd";
	l.sess_id = c->sess_id;
	l.sess_version = c->sess_ver;
	l.addr = rtp_engine_addr(c->ag->rtp);
	l.port = rtp_session_port(c->rtp);
	l.codecs = (const char *const *)c->codecs;
	l.ncodecs = c->ncodecs;
	l.dir = dir;
	l.ptime = 20;
	arena_init(&ar);
	err = sdp_build_offer(&s, &ar, &l);
	if (err == 0) {
		sdp_print(&sb, &s);
		free(c->local_sdp);
		c->local_sdp = call_detach(&sb);
	}
	strbuf_free(&sb);
	arena_free(&ar);
	return err;
}

/*
 * Answers the offer in body (RFC 3264 §6).  0; EBADMSG (not SDP we can
 * read: 400), SDP_ERR_NOT_ACCEPTABLE (nothing in common: 488).
 */
static int
call_make_answer(struct call *c, struct slice body)
{
	struct sdp_local l = { 0 };
	struct sdp_session offer, ans;
	struct arena ar;
	struct strbuf sb = STRBUF_INIT;
	const char *why;
	char *copy = slice_dup(body);
	int err;

	arena_init(&ar);
	err = sdp_parse(&offer, &ar, copy, body.n, &why);
	if (err != 0) {
		call_note(c, "offer refused: %s", why);
		goto out;
	}
	l.username = "sipxd";
	l.sess_id = c->sess_id;
	l.sess_version = c->sess_ver;
	l.addr = rtp_engine_addr(c->ag->rtp);
	l.port = rtp_session_port(c->rtp);
	l.codecs = (const char *const *)c->codecs;
	l.ncodecs = c->ncodecs;
	l.dir = c->local_hold ? SDP_DIR_SENDONLY : SDP_DIR_SENDRECV;
	l.ptime = 20;
	err = sdp_answer(&ans, &ar, &offer, &l);
	if (err == 0) {
		sdp_print(&sb, &ans);
		free(c->local_sdp);
		c->local_sdp = call_detach(&sb);
		free(c->remote_sdp);
		c->remote_sdp = copy;
		copy = NULL;
	} else if (err == SDP_ERR_NOT_ACCEPTABLE) {
		call_note(c, "offer refused: no codec in common");
	}
out:
	free(copy);
	strbuf_free(&sb);
	arena_free(&ar);
	return err;
}

static int
call_sockaddr(struct slice addr, enum sdp_addrtype at, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN];

	if (addr.n == 0 || addr.n >= sizeof(buf))
		return EINVAL;
	memcpy(buf, addr.p, addr.n);
	buf[addr.n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (at == SDP_ADDR_IP4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
			return EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (at == SDP_ADDR_IP6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
			return EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return EINVAL;
}

/*
 * The exchange is complete (local_sdp and remote_sdp hold offer and
 * answer): point RTP at what it decided.  0; EBADMSG (the answer does
 * not fit the offer) or SDP_ERR_NOT_ACCEPTABLE (no stream left): the
 * caller ends the call.
 */
static int
call_media_apply(struct call *c)
{
	struct sdp_session l, r;
	struct sdp_stream st[SDP_MAX_MEDIA];
	struct arena ar;
	size_t n = 0;
	const char *why = "";
	char *lcopy, *rcopy;
	int err;
	bool was_held = c->remote_hold;

	if (c->local_sdp == NULL || c->remote_sdp == NULL || c->rtp == NULL)
		return 0;
	lcopy = xstrdup(c->local_sdp);
	rcopy = xstrdup(c->remote_sdp);
	arena_init(&ar);
	err = sdp_parse(&l, &ar, lcopy, strlen(lcopy), &why);
	if (err == 0)
		err = sdp_parse(&r, &ar, rcopy, strlen(rcopy), &why);
	if (err == 0)
		err = sdp_apply_answer(st, &n, &l, &r, &why);
	if (err != 0) {
		call_note(c, "media: %s", err == SDP_ERR_NOT_ACCEPTABLE ?
		    "no stream accepted" : why);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct rtp_remote rr = { 0 };
		char host[INET6_ADDRSTRLEN + 8];

		if (!st[i].accepted || !slice_caseeq_cstr(st[i].type, "audio"))
			continue;
		if (call_sockaddr(st[i].addr, st[i].atype, st[i].port, &rr.rtp,
		    &rr.rtp_len) != 0 || call_sockaddr(st[i].addr,
		    st[i].atype, st[i].rtcp_port, &rr.rtcp, &rr.rtcp_len) != 0) {
			/* Hold with a null address, or a name: no sending. */
			rtp_session_set_direction(c->rtp, false,
			    (st[i].dir & SDP_DIR_RECVONLY) != 0);
			c->remote_hold = st[i].hold;
			break;
		}
		rr.pt = st[i].pt;
		snprintf(rr.encoding, sizeof(rr.encoding), "%.*s",
		    (int)st[i].encoding.n, st[i].encoding.p);
		rr.clock_rate = st[i].clock_rate;
		rr.dtmf_pt = st[i].dtmf_pt;
		rr.ptime = st[i].ptime;
		snprintf(c->codec, sizeof(c->codec), "%s", rr.encoding);
		snprintf(host, sizeof(host), "%.*s", (int)st[i].addr.n,
		    st[i].addr.p);
		snprintf(c->remote_media, sizeof(c->remote_media),
		    st[i].atype == SDP_ADDR_IP6 ? "[%s]:%u" : "%s:%u", host,
		    st[i].port);
		rtp_session_set_remote(c->rtp, &rr);
		rtp_session_set_direction(c->rtp,
		    (st[i].dir & SDP_DIR_SENDONLY) != 0,
		    (st[i].dir & SDP_DIR_RECVONLY) != 0);
		c->remote_hold = st[i].hold;
		break;
	}
	if (c->remote_hold != was_held)
		call_publish_hold(c, c->remote_hold, "remote");
out:
	arena_free(&ar);
	free(lcopy);
	free(rcopy);
	return err;
}

/* Sets the call's media mode (the account's or the command's). */
static int
call_media_mode(struct call *c, enum rtp_mode mode, const char *file,
    char *err, size_t errlen)
{
	struct media_wav *wav = NULL;
	int e;

	if (mode == RTP_MODE_PLAY) {
		if (file == NULL) {
			snprintf(err, errlen, "media play needs a file");
			return EINVAL;
		}
		e = rtp_engine_load_wav(c->ag->rtp, file, &wav, err, errlen);
		if (e != 0)
			return e;
	}
	e = rtp_session_set_mode(c->rtp, mode, wav);
	if (e != 0) {
		if (wav != NULL)
			media_wav_unref(wav);
		snprintf(err, errlen, "media %s: %s", rtp_mode_name(mode),
		    strerror(e));
		return e;
	}
	if (c->wav != NULL)
		media_wav_unref(c->wav);
	c->wav = wav;
	c->media = mode;
	return 0;
}

/* ---- sending --------------------------------------------------------------- */

/*
 * Via (with a fresh branch) for a request to dst, and our Contact
 * towards it (kept for the call: the first one stays, §12.1 says it is
 * the remote target the peer uses).
 */
static int
call_add_via(struct call *c, struct sip_build *b, const struct sip_dest *dst,
    bool set_contact)
{
	char sent_by[INET6_ADDRSTRLEN + 8];
	struct strbuf via = STRBUF_INIT;
	int err;

	err = sip_tp_sent_by(c->ag->ua->tp, dst, sent_by, sizeof(sent_by));
	if (err != 0)
		return err;
	sip_tp_via_at(dst, sent_by, NULL, &via);
	sip_build_add(b, SIP_HDR_VIA, via.p);
	strbuf_free(&via);
	sip_build_add(b, SIP_HDR_MAX_FORWARDS, "70");
	if (set_contact && c->contact == NULL) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "<%s:%s@%s%s>",
		    sip_tp_contact_scheme(dst->proto), c->user, sent_by,
		    sip_tp_contact_param(dst->proto));
		c->contact = call_detach(&sb);
	}
	return 0;
}

/* Our capabilities, on every INVITE, UPDATE and 2xx to them. */
static void
call_add_caps(struct call *c, struct sip_build *b)
{
	struct ua *ua = c->ag->ua;

	sip_build_add(b, SIP_HDR_ALLOW, ua->allow);
	sip_build_add(b, SIP_HDR_SUPPORTED, "100rel, timer");
}

/*
 * RFC 4028: Session-Expires (and Min-SE) in a message of ours.  The
 * refresher is named from the point of view of the transaction: in a
 * request we send we are its UAC, in a response its UAS.
 */
static void
call_add_se(struct call *c, struct sip_build *b, bool request)
{
	char v[48];

	if (c->se == 0) {
		/* Our first INVITE: ask for the account's, let them pick. */
		if (request && c->session_expires > 0) {
			snprintf(v, sizeof(v), "%u", c->session_expires);
			sip_build_add_named(b, "Session-Expires", v);
			snprintf(v, sizeof(v), "%u", c->ag->conf.min_se);
			sip_build_add_named(b, "Min-SE", v);
		}
		return;
	}
	snprintf(v, sizeof(v), "%u;refresher=%s", c->se,
	    c->we_refresh == request ? "uac" : "uas");
	sip_build_add_named(b, "Session-Expires", v);
	snprintf(v, sizeof(v), "%u", c->ag->conf.min_se);
	sip_build_add_named(b, "Min-SE", v);
}

/* The credentials for the challenge we hold (§22.2). */
static int
call_add_auth(struct call *c, struct sip_build *b, const char *method,
    const char *ruri, const char *body)
{
	const struct account *a = call_account(c);
	int err;

	if (c->chal == NULL || a == NULL)
		return 0;
	/* §22.1: the ACK for the 2xx carries the same. */
	err = ua_auth_add(b, a, c->chal, c->chal_proxy, method, ruri, body,
	    &c->auth_hdr);
	if (err == 0)
		c->auth_proxy = c->chal_proxy;
	return err == EINVAL ? 0 : err;
}

/* ---- UAC: the INVITE --------------------------------------------------------- */

static void call_on_inv_ctrans(struct sip_ctrans *, enum sip_trans_event,
    int, const struct sip_msg *, void *);

/* Builds and sends the INVITE to the current target. */
static int
call_invite_send(struct call *c)
{
	const struct sip_resolve_target *t = &c->targets[c->next_target - 1];
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst;
	int err;

	err = ua_target_dest(c->ag->ua, t, &dst);
	if (err != 0)
		return err;
	sip_build_request(&b, "INVITE", c->ruri);
	err = call_add_via(c, &b, &dst, true);
	if (err != 0)
		goto out;
	if (c->route0 != NULL)
		sip_build_add(&b, SIP_HDR_ROUTE, c->route0);
	sip_build_addf(&b, SIP_HDR_FROM, "%s;tag=%s", c->from_uri,
	    c->from_tag);
	sip_build_add(&b, SIP_HDR_TO, c->to_uri);
	sip_build_add(&b, SIP_HDR_CALL_ID, c->call_id);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u INVITE", c->inv_cseq);
	sip_build_add(&b, SIP_HDR_CONTACT, c->contact);
	call_add_caps(c, &b);
	call_add_se(c, &b, true);
	sip_build_add(&b, SIP_HDR_USER_AGENT, c->ag->ua->user_agent);
	for (size_t i = 0; i < c->nhdrs; i++) {
		char *colon = strchr(c->hdrs[i], ':');

		*colon = '\0';
		sip_build_add_named(&b, c->hdrs[i], colon + 1 +
		    strspn(colon + 1, " \t"));
		*colon = ':';
	}
	err = call_add_auth(c, &b, "INVITE", c->ruri, c->offer_out ?
	    c->local_sdp : NULL);
	if (err != 0)
		goto out;
	if (c->offer_out)
		sip_build_body(&b, "application/sdp", c->local_sdp,
		    strlen(c->local_sdp));
	sip_build_finish(&b, &out);
	err = sip_ctrans_send(c->ag->ua->trans, out.p, out.n, &dst,
	    call_on_inv_ctrans, c, &c->inv_ct);
	if (err == 0) {
		char addr[64];

		/* §9.1 holds per transaction: this one had no 1xx yet. */
		c->got_1xx = false;
		c->cancel_sent = false;
		if (c->inv_dst == NULL)
			c->inv_dst = xmalloc(sizeof(*c->inv_dst));
		*c->inv_dst = dst;
		sip_tp_addr_str((const struct sockaddr *)&t->addr, addr,
		    sizeof(addr));
		call_note(c, "INVITE sent to %s %s", sip_tp_proto_name(
		    dst.proto), addr);
	}
out:
	strbuf_free(&out);
	sip_build_free(&b);
	return err;
}

/* The next target that takes the INVITE; false when none is left. */
static bool
call_invite_next(struct call *c, int *last_err)
{
	while (c->next_target < c->ntargets) {
		int err;

		c->next_target++;
		err = call_invite_send(c);
		if (err == 0)
			return true;
		*last_err = err;
		if (err == ENOBUFS)
			break;
	}
	return false;
}

static void
call_fail_err(struct call *c, int err, const char *what)
{
	char reason[160];

	snprintf(reason, sizeof(reason), "%s: %s", what, err == ENOBUFS ?
	    "too many transactions" : err == ETIMEDOUT ? "timeout" :
	    strerror(err));
	call_terminate(c, 0, reason, err == ETIMEDOUT ? "timeout" : "error");
}

static void
call_resolved0(int error, const struct sip_resolve_target *targets, size_t n,
    void *arg)
{
	struct call *c = arg;
	int err = ENOENT;

	c->q0 = NULL;
	if (c->state == CALL_STATE_TERMINATING) {
		/* Hung up while (re)resolving: no INVITE goes out. */
		call_terminate(c, 0, str_or_empty(c->reason), c->ended_by !=
		    NULL ? c->ended_by : "local");
		return;
	}
	if (error != 0) {
		call_fail_err(c, error, "DNS");
		return;
	}
	if (n > CALL_TARGETS_MAX)
		n = CALL_TARGETS_MAX;
	/* A redirect resolves again: the old targets go. */
	c->targets = xreallocarray(c->targets, n, sizeof(*targets));
	memcpy(c->targets, targets, n * sizeof(*targets));
	c->ntargets = n;
	c->next_target = 0;
	if (!call_invite_next(c, &err))
		call_fail_err(c, err, "sending INVITE");
}

/* RFC 3263 for a request of ours, with the account's transport when
 * asked (the first INVITE, as registrations do). */
static int
call_resolve(struct call *c, const char *uri, bool add_transport,
    sip_resolve_cb cb, struct sip_resolve_query **q)
{
	return ua_resolve(c->ag->ua, uri, add_transport ?
	    (int)c->transport : -1, cb, c, q);
}

/* A new INVITE of the same call (auth, 422, 3xx): CSeq + 1 (§8.1.3.5). */
static void
call_invite_again(struct call *c)
{
	int err = ENOENT;

	c->inv_cseq++;
	if (c->inv_ct != NULL) {
		sip_ctrans_detach(c->inv_ct);
		c->inv_ct = NULL;
	}
	c->next_target--;
	if (!call_invite_next(c, &err))
		call_fail_err(c, err, "sending INVITE");
}

/*
 * §9.1: CANCEL, with the INVITE's Request-URI, Call-ID, From, To, CSeq
 * number, Route and top Via, to where the INVITE went.
 */
static void
call_send_cancel(struct call *c)
{
	const struct sip_msg *inv = c->inv_ct != NULL ?
	    sip_ctrans_request(c->inv_ct) : NULL;
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst;
	const struct sip_hdr *h;
	int err;

	if (inv == NULL || c->cancel_sent || c->inv_dst == NULL)
		return;
	c->cancel_sent = true;
	dst = *c->inv_dst;
	sip_build_request(&b, "CANCEL", c->ruri);
	if ((h = sip_msg_hdr(inv, SIP_HDR_VIA, 0)) != NULL) {
		char *v = slice_dup(h->value);
		char *comma = strchr(v, ',');

		/* The top Via alone, if one field carried several. */
		if (comma != NULL)
			*comma = '\0';
		sip_build_add(&b, SIP_HDR_VIA, v);
		free(v);
	}
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	if (c->route0 != NULL)
		sip_build_add(&b, SIP_HDR_ROUTE, c->route0);
	sip_build_addf(&b, SIP_HDR_FROM, "%s;tag=%s", c->from_uri,
	    c->from_tag);
	sip_build_add(&b, SIP_HDR_TO, c->to_uri);
	sip_build_add(&b, SIP_HDR_CALL_ID, c->call_id);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u CANCEL", c->inv_cseq);
	sip_build_add(&b, SIP_HDR_USER_AGENT, c->ag->ua->user_agent);
	sip_build_finish(&b, &out);
	/* Fire and forget: the INVITE's 487 (or 200) tells the outcome. */
	err = sip_ctrans_send(c->ag->ua->trans, out.p, out.n, &dst, NULL,
	    NULL, NULL);
	call_note(c, err == 0 ? "CANCEL sent" : "CANCEL not sent: %s",
	    strerror(err));
	call_timer_set(c, CALL_T_CANCEL, 64 * call_t1(c));
	strbuf_free(&out);
	sip_build_free(&b);
}

/*
 * Ends our unanswered call (reason and ended_by set by the caller):
 * CANCEL now, or (§9.1) once a provisional comes; the call waits in
 * `terminating` for the INVITE's final answer, at most 64*T1.
 */
static void
call_cancel(struct call *c)
{
	if (c->got_1xx) {
		call_send_cancel(c);
	} else {
		c->cancel_wanted = true;
		call_timer_set(c, CALL_T_CANCEL, 64 * call_t1(c));
	}
	call_set_state(c, CALL_STATE_TERMINATING);
}

/* ---- in-dialog requests ---------------------------------------------------- */

static void call_on_dlg_ctrans(struct sip_ctrans *, enum sip_trans_event,
    int, const struct sip_msg *, void *);

static void
call_hop_resolved(int error, const struct sip_resolve_target *targets,
    size_t n, void *arg)
{
	struct call *c = arg;
	int err;

	c->hq = NULL;
	if (error != 0 || n == 0) {
		call_note(c, "next hop %s: DNS failed", c->hop_uri);
		c->ops = 0;
		if (c->live)
			call_terminate(c, 0, "next hop unresolvable", "error");
		return;
	}
	err = ua_target_dest(c->ag->ua, &targets[0], &c->hop);
	if (err != 0) {
		call_note(c, "next hop %s: %s", c->hop_uri, strerror(err));
		c->ops = 0;
		if (c->live)
			call_terminate(c, 0, "next hop unreachable", "error");
		return;
	}
	c->hop_valid = true;
	call_flush_ops(c);
}

/*
 * Queues op for the dialog's next hop (§12.2.1.1), resolving it when it
 * is new: a target refresh without a route set moves it.
 */
static void
call_dialog_op(struct call *c, struct sip_dialog *d, unsigned op)
{
	const char *hop = sip_dialog_next_hop(d);

	if (hop == NULL) {
		/* An early dialog whose 1xx had no Contact: no PRACK then. */
		if (op & (CALL_OP_ACK | CALL_OP_BYE))
			call_terminate(c, 0, "the peer gave no Contact",
			    "error");
		return;
	}
	c->ops |= op;
	if (c->hop_uri != NULL && strcmp(c->hop_uri, hop) != 0) {
		c->hop_valid = false;
		if (c->hq != NULL) {
			sip_resolve_cancel(c->hq);
			c->hq = NULL;
		}
	}
	if (c->hop_valid) {
		call_flush_ops(c);
		return;
	}
	if (c->hq != NULL)
		return;
	set_str(&c->hop_uri, hop);
	if (call_resolve(c, hop, false, call_hop_resolved, &c->hq) != 0) {
		c->ops = 0;
		call_terminate(c, 0, "next hop is not a SIP URI", "error");
	}
}

/* Sends an ACK for the 2xx with CSeq cseq in dialog d (§13.2.2.4). */
static void
call_send_ack(struct call *c, struct sip_dialog *d, uint32_t cseq,
    const char *body)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst = c->hop;
	int err;

	if (sip_dialog_request(d, &b, "ACK", cseq) != 0 ||
	    call_add_via(c, &b, &c->hop, false) != 0) {
		sip_build_free(&b);
		return;
	}
	sip_build_add(&b, SIP_HDR_CONTACT, c->contact);
	sip_build_add(&b, SIP_HDR_USER_AGENT, c->ag->ua->user_agent);
	if (cseq == c->inv_cseq && c->auth_hdr != NULL)
		sip_build_add(&b, c->auth_proxy ? SIP_HDR_PROXY_AUTHORIZATION :
		    SIP_HDR_AUTHORIZATION, c->auth_hdr);
	if (body != NULL)
		sip_build_body(&b, "application/sdp", body, strlen(body));
	sip_build_finish(&b, &out);
	err = sip_tp_send(c->ag->ua->tp, &dst, out.p, out.n);
	if (err != 0)
		call_note(c, "ACK not sent: %s", strerror(err));
	if (d == &c->dlg && cseq == c->inv_cseq) {
		free(c->ack);
		c->ack_len = out.n;
		c->ack = call_detach(&out);
	}
	strbuf_free(&out);
	sip_build_free(&b);
}

/*
 * Starts a request in the call's dialog, sent to the hop: extra() adds
 * headers, body goes in as ctype.
 */
static int
call_dlg_send(struct call *c, const char *method, const char *ctype,
    const char *body,
    void (*extra)(struct call *, struct sip_build *),
    struct sip_ctrans **out_ct)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst = c->hop;
	int err;

	err = sip_dialog_request(&c->dlg, &b, method,
	    sip_dialog_next_cseq(&c->dlg));
	if (err == 0)
		err = call_add_via(c, &b, &c->hop, false);
	if (err != 0)
		goto out;
	sip_build_add(&b, SIP_HDR_CONTACT, c->contact);
	sip_build_add(&b, SIP_HDR_USER_AGENT, c->ag->ua->user_agent);
	if (extra != NULL)
		extra(c, &b);
	if (body != NULL)
		sip_build_body(&b, ctype, body, strlen(body));
	sip_build_finish(&b, &out);
	err = sip_ctrans_send(c->ag->ua->trans, out.p, out.n, &dst,
	    call_on_dlg_ctrans, c, out_ct);
	call_note(c, err == 0 ? "%s sent" : "%s not sent: %s", method,
	    strerror(err));
out:
	strbuf_free(&out);
	sip_build_free(&b);
	return err;
}

static int
call_dlg_request(struct call *c, const char *method, const char *body,
    void (*extra)(struct call *, struct sip_build *),
    struct sip_ctrans **out_ct)
{
	return call_dlg_send(c, method, "application/sdp", body, extra,
	    out_ct);
}

int
call_xfer_send(struct call *c, const char *method,
    void (*extra)(struct call *, struct sip_build *), const char *ctype,
    const char *body, struct sip_ctrans **ct)
{
	if (!c->hop_valid)
		return EAGAIN;
	return call_dlg_send(c, method, ctype, body, extra, ct);
}

void
call_xfer_kick(struct call *c)
{
	call_dialog_op(c, &c->dlg, CALL_OP_XFER);
}

static void
call_extra_prack(struct call *c, struct sip_build *b)
{
	char v[48];

	snprintf(v, sizeof(v), "%u %u INVITE", c->prack_rseq, c->prack_cseq);
	sip_build_add_named(b, "RAck", v);
}

static void
call_extra_session(struct call *c, struct sip_build *b)
{
	call_add_caps(c, b);
	call_add_se(c, b, true);
}

/* PRACK goes in the early dialog of the reliable 1xx (RFC 3262 §4). */
static void
call_send_prack(struct call *c)
{
	struct sip_dialog *d = c->prack_dlg;
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_dest dst = c->hop;
	int err;

	if (d == NULL)
		return;
	err = sip_dialog_request(d, &b, "PRACK", sip_dialog_next_cseq(d));
	if (err == 0)
		err = call_add_via(c, &b, &c->hop, false);
	if (err == 0) {
		call_extra_prack(c, &b);
		sip_build_add(&b, SIP_HDR_USER_AGENT, c->ag->ua->user_agent);
		if (c->prack_sdp && c->local_sdp != NULL)
			sip_build_body(&b, "application/sdp", c->local_sdp,
			    strlen(c->local_sdp));
		c->prack_sdp = false;
		sip_build_finish(&b, &out);
		/* Its 200 changes nothing we track. */
		err = sip_ctrans_send(c->ag->ua->trans, out.p, out.n, &dst,
		    NULL, NULL, NULL);
	}
	call_note(c, err == 0 ? "PRACK sent (RSeq %u)" : "PRACK not sent",
	    c->prack_rseq);
	strbuf_free(&out);
	sip_build_free(&b);
}

/* Our new offer was refused: the agreed description is ours again. */
static void
call_sdp_restore(struct call *c)
{
	if (c->sdp_before == NULL)
		return;
	free(c->local_sdp);
	c->local_sdp = c->sdp_before;
	c->sdp_before = NULL;
	c->sess_ver--;
}

/* A re-INVITE or UPDATE of ours waits for its final answer. */
static bool
call_reinv_busy(const struct call *c)
{
	return (c->reinv_ct != NULL && !c->reinv_done) || c->upd_ct != NULL;
}

static void
call_send_reinvite(struct call *c)
{
	enum sdp_dir dir = c->local_hold ? SDP_DIR_SENDONLY : SDP_DIR_SENDRECV;
	enum call_reinv what = c->reinv_next;
	bool update = what == CALL_REINV_REFRESH && c->peer_update;

	c->reinv_next = CALL_REINV_NONE;
	if (what == CALL_REINV_NONE || call_reinv_busy(c))
		return;
	/* The last one's 2xx is ACKed for good: its transaction may go. */
	if (c->reinv_ct != NULL) {
		sip_ctrans_detach(c->reinv_ct);
		c->reinv_ct = NULL;
	}
	c->reinv_done = false;
	c->reinv = what;
	if (update) {
		/* RFC 4028 §9: an UPDATE without a body refreshes. */
		if (call_dlg_request(c, "UPDATE", NULL, call_extra_session,
		    &c->upd_ct) != 0)
			c->reinv = CALL_REINV_NONE;
		return;
	}
	if (what != CALL_REINV_REFRESH) {
		/* Kept to put back if the peer refuses the new offer. */
		set_str(&c->sdp_before, c->local_sdp);
		c->sess_ver++;
		if (call_make_offer(c, dir) != 0) {
			c->reinv = CALL_REINV_NONE;
			return;
		}
	}
	c->offer_out = true;
	if (call_dlg_request(c, "INVITE", c->local_sdp, call_extra_session,
	    &c->reinv_ct) != 0) {
		c->offer_out = false;
		c->reinv = CALL_REINV_NONE;
	}
}

static void
call_send_bye(struct call *c)
{
	if (c->bye_ct != NULL)
		return;
	if (call_dlg_request(c, "BYE", NULL, NULL, &c->bye_ct) != 0)
		call_terminate(c, c->status, c->reason != NULL ? c->reason :
		    "BYE not sent", c->ended_by != NULL ? c->ended_by :
		    "local");
}

static void
call_flush_ops(struct call *c)
{
	unsigned ops = c->ops;

	c->ops = 0;
	/* An ended call (its BYE came while the hop resolved) only ACKs. */
	if (!c->live)
		ops &= CALL_OP_ACK;
	if (ops & CALL_OP_ACK)
		call_send_ack(c, &c->dlg, c->inv_cseq, c->ack_sdp ?
		    c->local_sdp : NULL);
	if (ops & CALL_OP_PRACK)
		call_send_prack(c);
	if ((ops & (CALL_OP_REINVITE | CALL_OP_UPDATE)) && c->live &&
	    !(ops & CALL_OP_BYE))
		call_send_reinvite(c);
	if (ops & CALL_OP_XFER)
		xfer_flush(c);
	if (ops & CALL_OP_BYE)
		call_send_bye(c);
}

/*
 * Ends a call that has a dialog: BYE (the call is `terminating` until
 * its answer).  status/reason/by are what the history will say.
 */
void
call_end(struct call *c, const char *reason, const char *by)
{
	if (!c->live || c->bye_ct != NULL || (c->ops & CALL_OP_BYE) ||
	    c->bye_after_ack)
		return;
	/* §15: an early dialog ends with a final answer or a CANCEL. */
	if (c->state == CALL_STATE_RINGING) {
		call_uas_refuse(c, 480, "Temporarily Unavailable", reason, by);
		return;
	}
	if (c->state != CALL_STATE_CONFIRMED &&
	    c->state != CALL_STATE_TERMINATING) {
		set_str(&c->reason, reason);
		c->ended_by = by;
		call_cancel(c);
		return;
	}
	/* A call already going (a CANCEL that crossed the 200) keeps why. */
	if (c->state != CALL_STATE_TERMINATING) {
		set_str(&c->reason, reason);
		c->ended_by = by;
		call_set_state(c, CALL_STATE_TERMINATING);
	}
	if (c->rtp != NULL)
		rtp_session_set_direction(c->rtp, false, false);
	for (int i = 0; i < CALL_T__COUNT; i++)
		if (i != CALL_T_2XX && i != CALL_T_2XX_END)
			c->due[i] = 0;
	call_timer_arm(c);
	/* §15: the callee waits for the ACK of its 2xx before a BYE. */
	if (c->want_ack) {
		c->bye_after_ack = true;
		call_timer_set(c, CALL_T_2XX_END, 64 * call_t1(c));
		return;
	}
	call_dialog_op(c, &c->dlg, CALL_OP_BYE);
}

/* ---- UAC: responses to the INVITE ------------------------------------------ */

/* An early dialog per To tag (§12.1.2), up to CALL_FORKS_MAX. */
static struct sip_dialog *
call_fork_get(struct call *c, const struct sip_msg *req,
    const struct sip_msg *resp)
{
	struct sip_dialog *d;

	for (size_t i = 0; i < c->nforks; i++)
		if (slice_eq_cstr(resp->to.tag, c->forks[i]->remote_tag))
			return c->forks[i];
	if (c->nforks == CALL_FORKS_MAX)
		return NULL;
	if (c->forks == NULL)
		c->forks = xcalloc(CALL_FORKS_MAX, sizeof(*c->forks));
	d = xcalloc(1, sizeof(*d));
	if (sip_dialog_uac(d, req, resp) != 0) {
		sip_dialog_clear(d);
		free(d);
		return NULL;
	}
	d->owner = c;
	if (sip_dialog_table_add(c->ag->ua->dialogs, d) != 0) {
		sip_dialog_clear(d);
		free(d);
		return NULL;
	}
	c->forks[c->nforks++] = d;
	call_note(c, "early dialog with tag %s", d->remote_tag);
	return d;
}

/* A stray 2xx (another fork, or after the call ended): ACK and BYE. */
struct call_stray {
	struct call_agent		*ag;
	struct sip_dialog		 d;
	uint32_t			 cseq;
	char				*user;
	struct sip_resolve_query	*q;
};

static void
call_stray_send(struct call_stray *s, struct sip_dest *dst, const char *method,
    uint32_t cseq)
{
	struct sip_build b = { 0 };
	struct strbuf via = STRBUF_INIT, out = STRBUF_INIT;
	struct sip_dest d = *dst;

	if (sip_dialog_request(&s->d, &b, method, cseq) != 0 ||
	    sip_tp_via(s->ag->ua->tp, dst, NULL, &via) != 0)
		goto out;
	sip_build_add(&b, SIP_HDR_VIA, via.p);
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	sip_build_add(&b, SIP_HDR_USER_AGENT, s->ag->ua->user_agent);
	sip_build_finish(&b, &out);
	if (strcmp(method, "ACK") == 0)
		sip_tp_send(s->ag->ua->tp, &d, out.p, out.n);
	else
		sip_ctrans_send(s->ag->ua->trans, out.p, out.n, &d, NULL, NULL,
		    NULL);
out:
	strbuf_free(&via);
	strbuf_free(&out);
	sip_build_free(&b);
}

static void
call_stray_resolved(int error, const struct sip_resolve_target *t, size_t n,
    void *arg)
{
	struct call_stray *s = arg;
	struct sip_dest dst;

	if (error == 0 && n > 0 && ua_target_dest(s->ag->ua, &t[0],
	    &dst) == 0) {
		call_stray_send(s, &dst, "ACK", s->cseq);
		call_stray_send(s, &dst, "BYE", sip_dialog_next_cseq(&s->d));
	}
	sip_dialog_clear(&s->d);
	free(s);
}

static void
call_stray_2xx(struct call *c, const struct sip_msg *req,
    const struct sip_msg *m)
{
	struct call_stray *s = xcalloc(1, sizeof(*s));
	struct sip_uri u;
	const char *why, *hop;

	s->ag = c->ag;
	s->cseq = m->cseq.num;
	if (sip_dialog_uac(&s->d, req, m) != 0 ||
	    (hop = sip_dialog_next_hop(&s->d)) == NULL ||
	    sip_uri_parse(&u, hop, strlen(hop), &why) != 0 ||
	    sip_resolve_uri(c->ag->ua->res, &u, call_stray_resolved, s,
	    &s->q) != 0) {
		sip_dialog_clear(&s->d);
		free(s);
		return;
	}
	call_note(c, "2xx from another fork (tag %.*s): ACK and BYE",
	    (int)m->to.tag.n, m->to.tag.p);
}

static void
call_set_reason(struct call *c, const struct sip_msg *m)
{
	char *r = slice_dup(m->reason);

	c->last_status = m->status;
	free(c->reason);
	c->reason = r;
}

/* RFC 4028 §7.2: what the 2xx decided; arms our refresh or the guard. */
static void
call_se_apply(struct call *c, unsigned se, char refresher, bool we_are_uac)
{
	call_timer_stop(c, CALL_T_REFRESH);
	call_timer_stop(c, CALL_T_EXPIRE);
	/* A peer's 2xx below our Min-SE would have us refresh in a loop. */
	if (se != 0 && se < c->ag->conf.min_se)
		se = c->ag->conf.min_se;
	c->se = se;
	if (se == 0)
		return;
	if (refresher == 0)
		refresher = 'c';
	c->we_refresh = (refresher == 'c') == we_are_uac;
	if (c->we_refresh)
		call_timer_set(c, CALL_T_REFRESH, (uint64_t)se * 500);
	else
		call_timer_set(c, CALL_T_EXPIRE, (uint64_t)(se - (se / 3 < 32 ?
		    se / 3 : 32)) * 1000);
}

static void
call_uac_1xx(struct call *c, const struct sip_msg *req, const struct sip_msg *m)
{
	struct sip_dialog *d;
	struct slice rseq_v;
	bool sdp = call_body_is_sdp(m), changed = m->status != c->last_status;

	c->got_1xx = true;
	if (c->cancel_wanted) {
		call_send_cancel(c);
		return;
	}
	/* Cancelled: only the final answer matters now. */
	if (c->state == CALL_STATE_TERMINATING)
		return;
	call_note(c, "%u %.*s", m->status, (int)m->reason.n, m->reason.p);
	if (m->status == 100 || m->to.tag.n == 0) {
		call_set_reason(c, m);
		if (c->state == CALL_STATE_CALLING)
			call_set_state(c, CALL_STATE_PROCEEDING);
		else if (changed)
			call_publish_state(c, c->state, false);
		return;
	}
	d = call_fork_get(c, req, m);
	rseq_v = call_hdr(m, "RSeq", NULL);
	if (d != NULL && call_tokens_have(&m->require, "100rel") &&
	    rseq_v.n > 0) {
		uint64_t rseq;

		/* RFC 3262 §4: a retransmission (or an old one) is dropped. */
		if (slice_to_u64(slice_trim(rseq_v), UINT32_MAX, &rseq) != 0 ||
		    (c->rseq_seen && rseq <= c->last_rseq))
			return;
		c->rseq_seen = true;
		c->last_rseq = (uint32_t)rseq;
		c->prack_rseq = (uint32_t)rseq;
		c->prack_cseq = m->cseq.num;
		c->prack_dlg = d;
		/* RFC 3262 §5: their offer in it; our answer in the PRACK. */
		if (sdp && !c->offer_out && c->remote_sdp == NULL &&
		    call_make_answer(c, m->body) == 0) {
			c->prack_sdp = true;
			call_media_apply(c);
		}
		call_dialog_op(c, d, CALL_OP_PRACK);
		if (!c->live)
			return;
	}
	/*
	 * Early media (RFC 3960): SDP in a 1xx answers our offer (for good
	 * with 100rel, as a preview without); play and listen now.
	 */
	if (sdp && c->offer_out && c->remote_sdp == NULL) {
		c->remote_sdp = slice_dup(m->body);
		if (call_media_apply(c) != 0) {
			free(c->remote_sdp);
			c->remote_sdp = NULL;
		} else {
			call_note(c, "early media (%s)", c->codec);
		}
	}
	call_set_reason(c, m);
	if (c->state != CALL_STATE_EARLY)
		call_set_state(c, CALL_STATE_EARLY);
	else if (changed)
		call_publish_state(c, c->state, false);
}

static void
call_uac_2xx(struct call *c, const struct sip_msg *req, const struct sip_msg *m)
{
	struct sip_dialog *fork = NULL;
	char refresher;
	unsigned se;
	int err;

	if (c->has_dlg) {
		struct sip_dest dst = c->hop;

		/* §13.2.2.4: every 2xx of the dialog gets the same ACK. */
		if (slice_eq_cstr(m->to.tag, c->dlg.remote_tag)) {
			if (c->ack != NULL && c->hop_valid)
				sip_tp_send(c->ag->ua->tp, &dst, c->ack,
				    c->ack_len);
			return;
		}
		call_stray_2xx(c, req, m);
		return;
	}
	if (!c->live) {
		call_stray_2xx(c, req, m);
		return;
	}
	for (size_t i = 0; i < c->nforks; i++)
		if (slice_eq_cstr(m->to.tag, c->forks[i]->remote_tag))
			fork = c->forks[i];
	if (fork != NULL) {
		/* The early dialog becomes the call's: it moves into c. */
		call_dialog_drop(c, fork);
		c->dlg = *fork;
		c->dlg.hnext = NULL;
		c->dlg.in_table = false;
		memset(fork, 0, sizeof(*fork));
		for (size_t i = 0; i < c->nforks; i++)
			if (c->forks[i] == fork)
				c->forks[i] = c->forks[--c->nforks];
		free(fork);
		/* A retried INVITE (401, 422) used a higher CSeq. */
		if (c->dlg.local_cseq < c->inv_cseq)
			c->dlg.local_cseq = c->inv_cseq;
		err = sip_dialog_confirm(&c->dlg, m);
	} else {
		err = sip_dialog_uac(&c->dlg, req, m);
	}
	call_forks_free(c, NULL);
	c->prack_dlg = NULL;
	if (err != 0) {
		sip_dialog_clear(&c->dlg);
		call_note(c, "2xx unusable: %s", err == EMSGSIZE ?
		    "too many Record-Route entries" : "no Contact");
		call_terminate(c, m->status, "the 2xx had no usable Contact",
		    "error");
		return;
	}
	c->has_dlg = true;
	c->dlg.owner = c;
	sip_dialog_table_add(c->ag->ua->dialogs, &c->dlg);
	c->peer_update = call_tokens_have(&m->allow, "UPDATE");
	call_set_reason(c, m);
	call_note(c, "%u %.*s", m->status, (int)m->reason.n, m->reason.p);
	/* Offer/answer (RFC 3264): ours answered, or theirs to answer. */
	err = 0;
	if (c->offer_out) {
		if (call_body_is_sdp(m)) {
			set_str(&c->remote_sdp, NULL);
			c->remote_sdp = slice_dup(m->body);
		}
		c->offer_out = false;
		err = c->remote_sdp == NULL ? EBADMSG : call_media_apply(c);
	} else if (c->remote_sdp != NULL && c->local_sdp != NULL) {
		/* Offer and answer went in a reliable 1xx and its PRACK. */
		err = 0;
	} else if (call_body_is_sdp(m)) {
		err = call_make_answer(c, m->body);
		if (err == 0) {
			c->ack_sdp = true;
			err = call_media_apply(c);
		}
	} else {
		err = EBADMSG;
	}
	call_dialog_op(c, &c->dlg, CALL_OP_ACK);
	if (!c->live)
		return;
	if (c->cancel_wanted || c->cancel_sent) {
		/* Our CANCEL crossed the 200 (§9.1): the call goes now. */
		call_end(c, "cancelled", "local");
		return;
	}
	if (err != 0) {
		call_end(c, err == SDP_ERR_NOT_ACCEPTABLE ?
		    "no codec in common" : "no usable SDP answer", "error");
		return;
	}
	c->t_answer = time_real();
	call_timer_stop(c, CALL_T_ANSWER);
	se = call_parse_se(m, &refresher);
	call_se_apply(c, se, refresher, true);
	call_set_state(c, CALL_STATE_CONFIRMED);
}

static void
call_uac_final(struct call *c, const struct sip_msg *m)
{
	const struct account *a = call_account(c);
	char reason[160];

	call_note(c, "%u %.*s", m->status, (int)m->reason.n, m->reason.p);
	if ((m->status == 401 || m->status == 407) && c->live &&
	    !c->cancel_wanted && !c->cancel_sent &&
	    c->auth_tries < CALL_AUTH_TRIES && a != NULL &&
	    (a->cfg->password != NULL || a->cfg->ha1 != NULL)) {
		char *chal = ua_auth_challenge(m);

		if (chal != NULL) {
			free(c->chal);
			c->chal = chal;
			c->chal_proxy = m->status == 407;
			c->auth_tries++;
			call_invite_again(c);
			return;
		}
	}
	if (m->status == 422 && !c->se_retried && c->live) {
		unsigned min = call_parse_min_se(m);

		if (min > 0 && min <= 86400) {
			c->se_retried = true;
			c->session_expires = min;
			call_invite_again(c);
			return;
		}
	}
	if (m->status >= 300 && m->status < 400 && m->ncontact > 0 &&
	    c->live && a != NULL && a->cfg->follow_redirects &&
	    c->redirects < CALL_REDIRECTS_MAX && !c->cancel_wanted &&
	    !c->cancel_sent) {
		const struct sip_nameaddr *to = &m->contact[0].addr;

		c->redirects++;
		c->got_1xx = false;
		free(c->ruri);
		c->ruri = slice_dup(to->uri_str);
		call_note(c, "redirected to %s", c->ruri);
		c->inv_cseq++;
		if (c->inv_ct != NULL) {
			sip_ctrans_detach(c->inv_ct);
			c->inv_ct = NULL;
		}
		free(c->chal);
		c->chal = NULL;
		if (call_resolve(c, c->route0 != NULL ? c->hop0 : c->ruri,
		    true, call_resolved0, &c->q0) == 0)
			return;
	}
	snprintf(reason, sizeof(reason), "%.*s", (int)m->reason.n,
	    m->reason.p);
	c->last_status = m->status;
	/* After our CANCEL the 487 says nothing new: keep why and who. */
	if (c->cancel_sent || c->cancel_wanted)
		call_terminate(c, m->status, c->reason != NULL ? c->reason :
		    reason, c->ended_by != NULL ? c->ended_by : "local");
	else
		call_terminate(c, m->status, reason, "remote");
}

static void
call_on_inv_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct call *c = arg;
	const struct sip_msg *req = sip_ctrans_request(ct);
	int e = err;

	switch (ev) {
	case SIP_TRANS_EV_RESPONSE:
		if (m->status < 200) {
			if (c->live && req != NULL)
				call_uac_1xx(c, req, m);
			else if (c->cancel_wanted)
				/* Hung up before any 1xx (§9.1): now it can go. */
				call_send_cancel(c);
		} else if (m->status < 300) {
			if (req != NULL)
				call_uac_2xx(c, req, m);
		} else if (c->live) {
			call_uac_final(c, m);
		}
		break;
	case SIP_TRANS_EV_TIMEOUT:
	case SIP_TRANS_EV_TP_ERROR:
		if (!c->live)
			break;
		if (c->state == CALL_STATE_TERMINATING) {
			call_terminate(c, 0, str_or_empty(c->reason),
			    c->ended_by != NULL ? c->ended_by : "local");
			break;
		}
		/* RFC 3263 §4.3: a silent or unreachable target → the next. */
		if (!c->got_1xx && !c->cancel_sent) {
			sip_ctrans_detach(ct);
			c->inv_ct = NULL;
			call_note(c, "target failed: %s", ev ==
			    SIP_TRANS_EV_TIMEOUT ? "timeout" : strerror(err));
			if (call_invite_next(c, &e))
				break;
		}
		call_fail_err(c, ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT : e,
		    "INVITE");
		break;
	case SIP_TRANS_EV_TERMINATED:
		if (c->inv_ct == ct)
			c->inv_ct = NULL;
		break;
	case SIP_TRANS_EV_ACK:
		break;
	}
}

/* ---- UAC: placing a call ---------------------------------------------------- */

/*
 * "Name: value" with a token name, nothing that ends a line, and not a
 * header the INVITE's own machinery writes (a second Call-ID or
 * Content-Length would make a request no peer can read).
 */
static bool
call_header_ok(const char *h)
{
	static const char *const ours[] = { "Via", "v", "From", "f", "To",
		"t", "Call-ID", "i", "CSeq", "Contact", "m", "Max-Forwards",
		"Content-Length", "l", "Content-Type", "c", "Route",
		"Record-Route", "Authorization", "Proxy-Authorization",
		"Session-Expires", "x", "Min-SE", "Supported", "k", "Require",
		"Allow", "RSeq", "RAck", NULL };
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
		return false;
	for (const char *p = h; p < colon; p++)
		if (strchr("()<>@,;:\\\"/[]?={} \t", *p) != NULL ||
		    (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return false;
	for (size_t i = 0; ours[i] != NULL; i++)
		if (strlen(ours[i]) == (size_t)(colon - h) &&
		    strncasecmp(h, ours[i], (size_t)(colon - h)) == 0)
			return false;
	return true;
}

/* A call that was never placed: no event, no history. */
static void
call_unplace(struct call *c)
{
	struct call_agent *ag = c->ag;

	c->live = false;
	ag->counts[c->state]--;
	ag->nlive--;
	call_list_unlink_live(c);
	call_bury(c);
}

int
call_place(struct call_agent *ag, const struct call_params *p, uint64_t *id,
    char *err, size_t errlen)
{
	struct account *a;
	struct call *c;
	struct sip_uri u;
	const char *why;
	struct strbuf sb = STRBUF_INIT;
	int e;

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
	if (p->nheaders > CALL_HEADERS_MAX) {
		snprintf(err, errlen, "at most %d extra headers",
		    CALL_HEADERS_MAX);
		return EINVAL;
	}
	for (size_t i = 0; i < p->nheaders; i++)
		if (!call_header_ok(p->headers[i])) {
			snprintf(err, errlen, "header '%.64s' is not "
			    "\"Name: value\", or names a header sipxd writes "
			    "itself", p->headers[i]);
			return EINVAL;
		}
	if (p->id != 0 && call_find(ag, p->id) != NULL) {
		snprintf(err, errlen, "id %" PRIu64 " is taken", p->id);
		return EEXIST;
	}
	if (ag->nlive >= ag->conf.max_calls) {
		snprintf(err, errlen, "%zu calls already (calls.max)",
		    ag->nlive);
		return EBUSY;
	}
	c = call_new(ag, p->id, CALL_DIR_OUT, a, p->uri);
	e = rtp_session_open(ag->rtp, call_on_rtp, c, &c->rtp);
	if (e == 0)
		e = call_media_mode(c, p->media_set ? p->media :
		    (enum rtp_mode)a->cfg->media, p->media_set ? p->play_file :
		    a->cfg->play_file, err, errlen);
	else
		snprintf(err, errlen, "no media port free (%s)", strerror(e));
	if (e != 0) {
		call_unplace(c);
		return e == EADDRINUSE || e == EMFILE || e == ENFILE ?
		    EBUSY : e;
	}
	c->ruri = xstrdup(p->uri);
	if (a->cfg->display_name != NULL)
		strbuf_addf(&sb, "\"%s\" <%s>", a->cfg->display_name,
		    a->cfg->aor);
	else
		strbuf_addf(&sb, "<%s>", a->cfg->aor);
	c->from_uri = call_detach(&sb);
	strbuf_addf(&sb, "<%s>", p->uri);
	c->to_uri = call_detach(&sb);
	strbuf_free(&sb);
	c->from_tag = xmalloc(17);
	random_hex(c->from_tag, 8);
	c->call_id = xmalloc(33);
	random_hex(c->call_id, 16);
	c->inv_cseq = (uint32_t)(call_rand(3) & 0x7fffff) + 1;
	c->nhdrs = p->nheaders;
	c->hdrs = xreallocarray(NULL, p->nheaders + 1, sizeof(char *));
	for (size_t i = 0; i < p->nheaders; i++)
		c->hdrs[i] = xstrdup(p->headers[i]);
	ua_account_route(a, &c->route0, &c->hop0);
	if (!(p->late_offer_set ? p->late_offer : a->cfg->late_offer)) {
		call_make_offer(c, SDP_DIR_SENDRECV);
		c->offer_out = true;
	}
	call_timer_set(c, CALL_T_ANSWER, (uint64_t)(p->timeout_s != 0 ?
	    p->timeout_s : (unsigned)a->cfg->call_timeout) * 1000);
	e = call_resolve(c, c->hop0 != NULL ? c->hop0 : c->ruri, true,
	    call_resolved0, &c->q0);
	if (e != 0) {
		snprintf(err, errlen, "'%.128s' cannot be resolved (%s)",
		    c->hop0 != NULL ? c->hop0 : c->ruri, strerror(e));
		call_unplace(c);
		return EINVAL;
	}
	*id = c->id;
	log_info("call %" PRIu64 ": %s calls %s", c->id, c->account, c->remote);
	call_note(c, "placed by control (%s offer, media %s)", c->offer_out ?
	    "early" : "late", rtp_mode_name(c->media));
	/* The resolver answers from the loop: nothing has happened yet. */
	call_publish_state(c, c->state, true);
	if (ag->change != NULL)
		ag->change(ag->change_arg);
	return 0;
}

/* The usual phrase of a status we send or report (RFC 3261 §21). */
const char *
call_reason_phrase(unsigned status)
{
	switch (status) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 181: return "Call Is Being Forwarded";
	case 182: return "Queued";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 480: return "Temporarily Unavailable";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	case 604: return "Does Not Exist Anywhere";
	case 606: return "Not Acceptable";
	}
	return status < 200 ? "Session Progress" : status < 300 ? "OK" :
	    status < 500 ? "Rejected" : status < 600 ? "Server Error" :
	    "Declined";
}

/* ---- UAS: INVITE received ----------------------------------------------------- */

/* Appends "Server: …" the way every answer of ours carries it. */
static void
call_add_server(struct call *c, struct sip_build *b)
{
	if (c->ag->ua->user_agent != NULL && c->ag->ua->user_agent[0] != '\0')
		sip_build_add(b, SIP_HDR_SERVER, c->ag->ua->user_agent);
}

/*
 * Answers the INVITE (or re-INVITE) st: status, our Contact and
 * capabilities for 1xx/2xx, the session timer for a 2xx, RSeq for a
 * reliable 1xx, and the body.  A 2xx and a reliable 1xx are kept to be
 * sent again until their ACK or PRACK.
 */
static int
call_uas_send(struct call *c, struct sip_strans *st, const struct sip_msg *req,
    unsigned status, const char *reason, const char *body, bool reliable,
    const char *extra_name, const char *extra_value)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint32_t cseq;
	bool invite;
	int err;

	if (st == NULL || req == NULL)
		return EALREADY;
	/* A final answer frees req (sip_strans_request()). */
	cseq = req->cseq.num;
	invite = req->method == SIP_METHOD_INVITE;
	sip_build_response_to(&b, req, status, reason, c->dlg.local_tag);
	if (status > 100 && status < 300) {
		/* §12.1.1: the dialog's route set, in the request's order. */
		for (unsigned i = 0; i < req->nhdrs; i++) {
			const struct sip_hdr *h = &req->hdrs[i];
			char *v;

			if (h->id != SIP_HDR_RECORD_ROUTE)
				continue;
			v = slice_dup(h->value);
			sip_build_add(&b, SIP_HDR_RECORD_ROUTE, v);
			free(v);
		}
		sip_build_add(&b, SIP_HDR_CONTACT, c->contact);
		call_add_caps(c, &b);
	}
	if (status >= 200 && status < 300 && c->se != 0) {
		call_add_se(c, &b, false);
		if (c->req_timer)
			sip_build_add(&b, SIP_HDR_REQUIRE, "timer");
	}
	if (reliable) {
		char v[16];

		sip_build_add(&b, SIP_HDR_REQUIRE, "100rel");
		snprintf(v, sizeof(v), "%u", ++c->rseq);
		sip_build_add_named(&b, "RSeq", v);
	}
	if (extra_name != NULL)
		sip_build_add_named(&b, extra_name, extra_value);
	call_add_server(c, &b);
	if (body != NULL)
		sip_build_body(&b, "application/sdp", body, strlen(body));
	sip_build_finish(&b, &out);
	err = sip_strans_respond(st, out.p, out.n);
	call_note(c, err == 0 ? "%u %s sent" : "%u %s not sent", status,
	    reason);
	/* Only an INVITE's 2xx waits for an ACK (an UPDATE's gets none). */
	if (err == 0 && invite && (reliable || (status >= 200 &&
	    status < 300))) {
		free(c->resp);
		c->resp_len = out.n;
		c->resp = strbuf_detach(&out);
		c->resp_st = st;
		c->resp_ms = call_t1(c);
		/* Over a stream the transport does not lose it (§17.1.1). */
		if (!sip_strans_dest(st)->reliable) {
			call_timer_set(c, reliable ? CALL_T_REL1XX : CALL_T_2XX,
			    c->resp_ms);
		}
		if (reliable) {
			c->prack_wait = true;
			c->rel_end_us = time_mono_us() + 64000ull * call_t1(c);
		} else {
			c->want_ack = true;
			c->ack_cseq = cseq;
			call_timer_set(c, CALL_T_2XX_END, 64 * call_t1(c));
		}
	}
	strbuf_free(&out);
	sip_build_free(&b);
	return err;
}

/* A final non-2xx to their INVITE, and the end of the call. */
static void
call_uas_refuse(struct call *c, unsigned status, const char *reason,
    const char *why, const char *by)
{
	const struct sip_msg *req = c->inv_st != NULL ?
	    sip_strans_request(c->inv_st) : NULL;

	call_uas_send(c, c->inv_st, req, status, reason, NULL, false, NULL,
	    NULL);
	c->last_status = status;
	call_terminate(c, status, why, by);
}

/* Answers their INVITE with 200 and the SDP (RFC 4028 §9 decided here). */
static void
call_uas_answer(struct call *c)
{
	const struct sip_msg *req = c->inv_st != NULL ?
	    sip_strans_request(c->inv_st) : NULL;
	unsigned se = c->req_se;
	char refresher = c->req_refresher;

	if (req == NULL)
		return;
	if (se == 0 && c->session_expires > 0)
		se = c->session_expires;
	if (se != 0 && refresher == 0)
		refresher = c->req_timer ? 'c' : 's';
	call_se_apply(c, se, refresher, false);
	/* After an exchange in 1xx/PRACK the 200 carries no SDP. */
	if (call_uas_send(c, c->inv_st, req, 200, "OK", c->sdp_in_1xx ? NULL :
	    c->local_sdp, false, NULL, NULL) != 0) {
		call_terminate(c, 0, "the 200 could not be sent", "error");
		return;
	}
	c->last_status = 200;
	set_str(&c->reason, "OK");
	c->t_answer = time_real();
	call_timer_stop(c, CALL_T_ANSWER);
	call_timer_stop(c, CALL_T_REL1XX);
	c->prack_wait = false;
	if (c->rtp != NULL && c->remote_sdp != NULL)
		call_media_apply(c);
	call_set_state(c, CALL_STATE_CONFIRMED);
}

static void
call_on_inv_strans(struct sip_strans *st, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct call *c = arg;

	(void)m;
	switch (ev) {
	case SIP_TRANS_EV_TP_ERROR:
		if (c->live && c->state == CALL_STATE_RINGING) {
			c->inv_st = NULL;
			call_fail_err(c, err, "answering");
		}
		break;
	case SIP_TRANS_EV_TERMINATED:
		if (c->inv_st == st)
			c->inv_st = NULL;
		if (c->resp_st == st)
			c->resp_st = NULL;
		break;
	default:
		break;
	}
}

/* CANCEL (§9.2): 200 for it; 487 for the INVITE if still unanswered. */
static void
call_on_cancel(struct call_agent *ag, const struct ua_req *rq)
{
	struct sip_strans *inv = sip_trans_find_invite(ag->ua->trans, rq->msg);
	struct call *c = inv != NULL ? sip_strans_handler_arg(inv) : NULL;

	/* §9.2: a CANCEL in a dialog, with nothing pending to cancel. */
	if (inv == NULL) {
		ua_respond(ag->ua, rq, 481, "Call/Transaction Does Not Exist",
		    NULL);
		return;
	}
	ua_respond(ag->ua, rq, 200, "OK", NULL);
	if (c == NULL || !c->live || c->inv_st != inv ||
	    c->state != CALL_STATE_RINGING)
		return;
	call_note(c, "CANCEL received");
	call_uas_refuse(c, 487, "Request Terminated", "cancelled by the caller",
	    "remote");
}

static void
call_reply(struct call_agent *ag, const struct ua_req *rq, unsigned status,
    const char *reason, const char *hdrs)
{
	ua_respond(ag->ua, rq, status, reason, hdrs);
}

static void
call_on_invite(struct ua *ua, const struct ua_req *rq, void *arg)
{
	struct call_agent *ag = arg;
	const struct sip_msg *m = rq->msg;
	struct account *a;
	struct call *c;
	char tag[17], sent_by[INET6_ADDRSTRLEN + 8], hdr[64], err[160];
	const struct sip_dest *src;
	struct strbuf sb = STRBUF_INIT;
	int e;

	(void)ua;
	if (m->method == SIP_METHOD_CANCEL) {
		call_on_cancel(ag, rq);
		return;
	}
	if (ag->stopping || ag->nlive >= ag->conf.max_calls) {
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n",
		    CALL_RETRY_AFTER);
		call_reply(ag, rq, 503, "Service Unavailable", hdr);
		return;
	}
	if ((a = account_set_find_user(ag->set, m->ruri.user)) == NULL) {
		call_reply(ag, rq, 404, "Not Found", NULL);
		return;
	}
	if (m->ncontact == 0 || m->contact_star || m->from.tag.n == 0) {
		call_reply(ag, rq, 400, m->ncontact == 0 ? "Missing Contact" :
		    "Missing From tag", NULL);
		return;
	}
	{
		char r;
		unsigned se = call_parse_se(m, &r);

		/* RFC 4028 §8.1: too short an interval costs us refreshes. */
		if (se != 0 && se < ag->conf.min_se) {
			snprintf(hdr, sizeof(hdr), "Min-SE: %u\r\n",
			    ag->conf.min_se);
			call_reply(ag, rq, 422, "Session Interval Too Small",
			    hdr);
			return;
		}
	}
	strbuf_add(&sb, m->from.uri_str.p, m->from.uri_str.n);
	c = call_new(ag, 0, CALL_DIR_IN, a, sb.p);
	strbuf_free(&sb);
	ag->counts[c->state]--;
	c->state = CALL_STATE_RINGING;
	ag->counts[c->state]++;
	random_hex(tag, 8);
	if (sip_dialog_uas(&c->dlg, m, tag) != 0) {
		call_unplace(c);
		call_reply(ag, rq, 400, "Bad Dialog Request", NULL);
		return;
	}
	c->has_dlg = true;
	c->dlg.owner = c;
	if (sip_dialog_table_add(ag->ua->dialogs, &c->dlg) != 0) {
		call_unplace(c);
		call_reply(ag, rq, 482, "Loop Detected", NULL);
		return;
	}
	c->inv_st = rq->st;
	sip_strans_set_handler(rq->st, call_on_inv_strans, c);
	c->inv_cseq = m->cseq.num;
	c->peer_update = call_tokens_have(&m->allow, "UPDATE");
	c->rel1xx = call_tokens_have(&m->require, "100rel");
	c->req_timer = call_tokens_have(&m->supported, "timer") ||
	    call_tokens_have(&m->require, "timer");
	c->req_se = call_parse_se(m, &c->req_refresher);
	src = sip_strans_dest(rq->st);
	if (sip_tp_sent_by(ag->ua->tp, src, sent_by, sizeof(sent_by)) != 0)
		snprintf(sent_by, sizeof(sent_by), "127.0.0.1");
	strbuf_addf(&sb, "<%s:%s@%s%s>", sip_tp_contact_scheme(src->proto),
	    c->user, sent_by, sip_tp_contact_param(src->proto));
	c->contact = call_detach(&sb);
	strbuf_free(&sb);
	call_note(c, "INVITE received from %s", c->remote);
	call_publish_state(c, c->state, true);
	log_info("call %" PRIu64 ": %s called by %s", c->id, c->account,
	    c->remote);
	e = rtp_session_open(ag->rtp, call_on_rtp, c, &c->rtp);
	if (e != 0) {
		log_warnx("call %" PRIu64 ": no media port free: %s", c->id,
		    strerror(e));
		call_uas_refuse(c, 503, "Service Unavailable",
		    "no media port free", "local");
		return;
	}
	if (call_media_mode(c, (enum rtp_mode)a->cfg->media,
	    a->cfg->play_file, err, sizeof(err)) != 0) {
		call_note(c, "%s: media none", err);
		rtp_session_set_mode(c->rtp, RTP_MODE_NONE, NULL);
		c->media = RTP_MODE_NONE;
	}
	if (call_body_is_sdp(m)) {
		e = call_make_answer(c, m->body);
		if (e == SDP_ERR_NOT_ACCEPTABLE) {
			call_uas_refuse(c, 488, "Not Acceptable Here",
			    "no codec in common", "local");
			return;
		}
		if (e != 0) {
			call_uas_refuse(c, 400, "Bad SDP", "unreadable SDP offer",
			    "local");
			return;
		}
	} else {
		/* Late offer (RFC 3264 §4): ours goes in the answer. */
		call_make_offer(c, SDP_DIR_SENDRECV);
		c->offer_in_2xx = true;
	}
	switch (a->cfg->incoming) {
	case ACCOUNT_INCOMING_REJECT:
		call_uas_refuse(c, (unsigned)a->cfg->reject_code,
		    call_reason_phrase((unsigned)a->cfg->reject_code),
		    "rejected by policy", "local");
		return;
	case ACCOUNT_INCOMING_ANSWER:
		call_uas_answer(c);
		return;
	case ACCOUNT_INCOMING_RING:
		break;
	}
	/* RFC 3262 §3: a late offer goes in the first reliable answer. */
	call_uas_send(c, c->inv_st, m, 180, "Ringing", c->rel1xx &&
	    c->offer_in_2xx ? c->local_sdp : NULL, c->rel1xx, NULL, NULL);
	if (c->rel1xx && c->offer_in_2xx) {
		c->offer_in_2xx = false;
		c->offer_out = true;
		c->sdp_in_1xx = true;
	}
	call_timer_set(c, CALL_T_ANSWER, (uint64_t)a->cfg->ring_timeout * 1000);
}

/* ---- requests inside a dialog ------------------------------------------------ */

/* A 200 with our SDP (or none) to a re-INVITE or UPDATE. */
static void
call_answer_session(struct call *c, const struct ua_req *rq, bool invite)
{
	const struct sip_msg *m = rq->msg;
	const char *body = NULL;
	char refresher;
	unsigned se = call_parse_se(m, &refresher);
	int err;

	/* RFC 4028 §8.1: a refresh below our Min-SE is refused. */
	if (se != 0 && se < c->ag->conf.min_se) {
		char h[32];

		snprintf(h, sizeof(h), "Min-SE: %u\r\n", c->ag->conf.min_se);
		ua_respond(c->ag->ua, rq, 422, "Session Interval Too Small",
		    h);
		return;
	}
	c->req_timer = call_tokens_have(&m->supported, "timer") ||
	    call_tokens_have(&m->require, "timer");
	if (call_body_is_sdp(m)) {
		c->sess_ver++;
		err = call_make_answer(c, m->body);
		if (err != 0) {
			/* §14.2: the session stays as it was. */
			ua_respond(c->ag->ua, rq, err == SDP_ERR_NOT_ACCEPTABLE ?
			    488 : 400, err == SDP_ERR_NOT_ACCEPTABLE ?
			    "Not Acceptable Here" : "Bad SDP", NULL);
			return;
		}
		body = c->local_sdp;
		call_media_apply(c);
	} else if (invite) {
		/* An offerless re-INVITE: ours in the 200, theirs in ACK. */
		c->sess_ver++;
		call_make_offer(c, c->local_hold ? SDP_DIR_SENDONLY :
		    SDP_DIR_SENDRECV);
		body = c->local_sdp;
		c->offer_in_2xx = true;
	}
	sip_dialog_refresh_target(&c->dlg, m);
	/* RFC 4028 §9: a refresh (any 2xx to it) restarts the interval. */
	if (se != 0)
		call_se_apply(c, se, refresher != 0 ? refresher :
		    (c->req_timer ? 'c' : 's'), false);
	else if (c->se != 0)
		call_se_apply(c, c->se, c->we_refresh ? 's' : 'c', false);
	if (invite)
		/* Its transaction's end must reach us (resp_st). */
		sip_strans_set_handler(rq->st, call_on_inv_strans, c);
	call_uas_send(c, rq->st, m, 200, "OK", body, false, NULL, NULL);
}

/* The ACK for a 2xx of ours (§13.3.1.4): stop sending it again. */
static void
call_on_ack(struct call *c, const struct sip_msg *m)
{
	if (!c->want_ack || m->cseq.num != c->ack_cseq)
		return;
	c->want_ack = false;
	call_timer_stop(c, CALL_T_2XX);
	call_timer_stop(c, CALL_T_2XX_END);
	free(c->resp);
	c->resp = NULL;
	call_note(c, "ACK received");
	if (c->offer_in_2xx) {
		c->offer_in_2xx = false;
		if (call_body_is_sdp(m)) {
			set_str(&c->remote_sdp, NULL);
			c->remote_sdp = slice_dup(m->body);
			if (call_media_apply(c) != 0 && c->live)
				call_end(c, "no codec in common", "error");
		} else if (c->live && c->state == CALL_STATE_CONFIRMED) {
			call_end(c, "no SDP answer in the ACK", "error");
		}
	}
	if (c->bye_after_ack) {
		c->bye_after_ack = false;
		call_dialog_op(c, &c->dlg, CALL_OP_BYE);
	}
}

/* RFC 3262 §3: the PRACK for our reliable 1xx. */
static void
call_on_prack(struct call *c, const struct ua_req *rq)
{
	const struct sip_msg *m = rq->msg;
	struct slice rack = slice_trim(call_hdr(m, "RAck", NULL));
	uint64_t rseq = 0;
	size_t i = 0;

	while (i < rack.n && rack.p[i] >= '0' && rack.p[i] <= '9' &&
	    rseq < UINT32_MAX)
		rseq = rseq * 10 + (uint64_t)(rack.p[i++] - '0');
	if (!c->prack_wait || rseq != c->rseq) {
		ua_respond(c->ag->ua, rq, 481, "Call/Transaction Does Not Exist",
		    NULL);
		return;
	}
	c->prack_wait = false;
	call_timer_stop(c, CALL_T_REL1XX);
	if (c->offer_out && call_body_is_sdp(m)) {
		/* The answer to the offer our reliable 1xx carried. */
		c->offer_out = false;
		set_str(&c->remote_sdp, NULL);
		c->remote_sdp = slice_dup(m->body);
		call_media_apply(c);
	}
	call_note(c, "PRACK received");
	ua_respond(c->ag->ua, rq, 200, "OK", NULL);
	if (c->answer_wanted && c->live && c->state == CALL_STATE_RINGING) {
		c->answer_wanted = false;
		call_uas_answer(c);
	}
}

/* INFO (RFC 6086): 200; DTMF relayed as application/dtmf-relay shown. */
static void
call_on_info(struct call *c, const struct ua_req *rq)
{
	const struct sip_msg *m = rq->msg;

	if (m->has_content_type &&
	    slice_caseeq_cstr(m->content_type.subtype, "dtmf-relay")) {
		for (size_t i = 0; i + 7 < m->body.n; i++) {
			if (strncasecmp(m->body.p + i, "Signal=", 7) != 0)
				continue;
			i += 7;
			while (i < m->body.n && m->body.p[i] == ' ')
				i++;
			if (i < m->body.n && strchr("0123456789*#ABCDabcd",
			    m->body.p[i]) != NULL) {
				char id[24], d[2] = { m->body.p[i], '\0' };

				snprintf(id, sizeof(id), "%" PRIu64, c->id);
				call_note(c, "DTMF %s received in INFO", d);
				events_publish("call.dtmf", c->account, "id",
				    id, "digit", d, "duration_ms", "0",
				    "via", "info", NULL);
			}
			break;
		}
	}
	ua_respond(c->ag->ua, rq, 200, "OK", NULL);
}

static void
call_on_dialog(struct ua *ua, const struct ua_req *rq, struct sip_dialog *d,
    void *arg)
{
	struct call *c = d->owner;
	const struct sip_msg *m = rq->msg;
	unsigned st;

	(void)arg;
	if (rq->st == NULL) {
		if (d == &c->dlg)
			call_on_ack(c, m);
		return;
	}
	if ((st = sip_dialog_check_cseq(d, m)) != 0) {
		ua_respond(ua, rq, st, "Server Internal Error",
		    "Retry-After: 1\r\n");
		return;
	}
	call_note(c, "%.*s received", (int)m->method_str.n, m->method_str.p);
	switch (m->method) {
	case SIP_METHOD_BYE:
		ua_respond(ua, rq, 200, "OK", NULL);
		if (!c->live)
			return;
		if (d != &c->dlg) {
			/* §15: that early dialog ends; the other forks ring on. */
			for (size_t i = 0; i < c->nforks; i++)
				if (c->forks[i] == d) {
					c->forks[i] = c->forks[--c->nforks];
					if (c->prack_dlg == d)
						c->prack_dlg = NULL;
					call_dialog_drop(c, d);
					sip_dialog_clear(d);
					free(d);
					break;
				}
			return;
		}
		if (c->inv_st != NULL && c->state == CALL_STATE_RINGING)
			call_uas_send(c, c->inv_st, sip_strans_request(
			    c->inv_st), 487, "Request Terminated", NULL, false,
			    NULL, NULL);
		call_terminate(c, c->last_status, "BYE", c->state ==
		    CALL_STATE_TERMINATING ? (c->ended_by != NULL ?
		    c->ended_by : "local") : "remote");
		return;
	case SIP_METHOD_INVITE:
	case SIP_METHOD_UPDATE:
		if (!c->live || c->state == CALL_STATE_TERMINATING) {
			ua_respond(ua, rq, 481, "Call/Transaction Does Not "
			    "Exist", NULL);
			return;
		}
		/*
		 * An early dialog (RFC 3311 §5.1): an UPDATE without a body
		 * is acknowledged; a new offer there, or a session timer
		 * before the call is up, is not something we renegotiate.
		 */
		if (d != &c->dlg || c->state != CALL_STATE_CONFIRMED) {
			if (m->method == SIP_METHOD_UPDATE && m->body.n == 0)
				ua_respond(ua, rq, 200, "OK", NULL);
			else
				ua_respond(ua, rq, 500, "Server Internal Error",
				    "Retry-After: 1\r\n");
			return;
		}
		/* §14.1 glare, and RFC 3311 §5.2 for an UPDATE. */
		if (call_reinv_busy(c) || ((c->offer_out || c->offer_in_2xx) &&
		    m->body.n > 0)) {
			ua_respond(ua, rq, 491, "Request Pending", NULL);
			return;
		}
		/* §14.2: our 2xx still waits for its ACK. */
		if (m->method == SIP_METHOD_INVITE && (c->want_ack ||
		    c->state != CALL_STATE_CONFIRMED)) {
			char h[32];

			snprintf(h, sizeof(h), "Retry-After: %u\r\n",
			    (unsigned)(call_rand(1) % 10));
			ua_respond(ua, rq, 500, "Server Internal Error", h);
			return;
		}
		call_answer_session(c, rq, m->method == SIP_METHOD_INVITE);
		return;
	case SIP_METHOD_PRACK:
		call_on_prack(c, rq);
		return;
	case SIP_METHOD_INFO:
		call_on_info(c, rq);
		return;
	case SIP_METHOD_OPTIONS:
		ua_respond(ua, rq, 200, "OK", ua_caps_hdrs(ua));
		return;
	case SIP_METHOD_REFER:
		if (d != &c->dlg || c->state != CALL_STATE_CONFIRMED) {
			ua_respond(ua, rq, 481, "Call/Transaction Does Not "
			    "Exist", NULL);
			return;
		}
		xfer_on_refer(c, rq);
		return;
	case SIP_METHOD_NOTIFY:
		if (d != &c->dlg) {
			ua_respond(ua, rq, 481, "Subscription Does Not Exist",
			    NULL);
			return;
		}
		xfer_on_notify(c, rq);
		return;
	default:
		ua_respond(ua, rq, m->method == SIP_METHOD_OTHER ? 501 : 405,
		    m->method == SIP_METHOD_OTHER ? "Not Implemented" :
		    "Method Not Allowed", ua->allow_hdr);
		return;
	}
}

/* Out of any dialog these mean nothing (§12.2.2). */
static void
call_on_stray(struct ua *ua, const struct ua_req *rq, void *arg)
{
	(void)arg;
	/* REFER may start a dialog (RFC 3515 §2.4.7): we take it in calls
	 * only, which is a refusal, not a missing dialog. */
	if (rq->msg->method == SIP_METHOD_REFER)
		ua_respond(ua, rq, 403, "REFER Only Inside A Call", NULL);
	else
		ua_respond(ua, rq, 481, "Call/Transaction Does Not Exist",
		    NULL);
}

/* ---- responses to our in-dialog requests ------------------------------------- */

static void
call_on_dlg_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct call *c = arg;
	bool final = ev == SIP_TRANS_EV_TIMEOUT ||
	    ev == SIP_TRANS_EV_TP_ERROR ||
	    (ev == SIP_TRANS_EV_RESPONSE && m->status >= 200);

	(void)err;
	if (xfer_on_response(c, ct, ev, m))
		return;
	if (ev == SIP_TRANS_EV_TERMINATED) {
		if (c->bye_ct == ct)
			c->bye_ct = NULL;
		if (c->reinv_ct == ct) {
			c->reinv_ct = NULL;
			c->reinv_done = false;
		}
		if (c->upd_ct == ct)
			c->upd_ct = NULL;
		return;
	}
	if (ct == c->bye_ct) {
		if (!final)
			return;
		call_note(c, "BYE answered: %s", ev == SIP_TRANS_EV_RESPONSE ?
		    "response" : "timeout");
		sip_ctrans_detach(ct);
		c->bye_ct = NULL;
		call_terminate(c, c->last_status, c->reason != NULL ?
		    c->reason : "BYE", c->ended_by != NULL ? c->ended_by :
		    "local");
		return;
	}
	if (ct != c->reinv_ct && ct != c->upd_ct)
		return;
	if (!final || (ct == c->reinv_ct && c->reinv_done &&
	    (ev != SIP_TRANS_EV_RESPONSE || m->status >= 300)))
		return;
	if (ct == c->upd_ct) {
		sip_ctrans_detach(ct);
		c->upd_ct = NULL;
	} else if (ev != SIP_TRANS_EV_RESPONSE || m->status >= 300) {
		/* No 2xx to ACK again: the transaction ACKs a failure. */
		sip_ctrans_detach(ct);
		c->reinv_ct = NULL;
	}
	if (ev == SIP_TRANS_EV_RESPONSE && m->status < 300) {
		char refresher;
		unsigned se;

		if (ct == c->reinv_ct && c->reinv_ct != NULL) {
			/* Every 2xx of the re-INVITE gets its ACK. */
			call_send_ack(c, &c->dlg, m->cseq.num, NULL);
			if (c->reinv_done)
				return;
			c->reinv_done = true;
		}
		call_note(c, "%s answered %u", ct == c->reinv_ct ?
		    "re-INVITE" : "UPDATE", m->status);
		if (c->offer_out && call_body_is_sdp(m)) {
			set_str(&c->remote_sdp, NULL);
			c->remote_sdp = slice_dup(m->body);
			call_media_apply(c);
		}
		c->offer_out = false;
		sip_dialog_refresh_target(&c->dlg, m);
		se = call_parse_se(m, &refresher);
		call_se_apply(c, se != 0 ? se : c->se, se != 0 ? refresher :
		    (c->we_refresh ? 'c' : 's'), true);
		if (c->reinv == CALL_REINV_HOLD || c->reinv == CALL_REINV_UNHOLD)
			call_publish_hold(c, c->reinv == CALL_REINV_HOLD,
			    "local");
		set_str(&c->sdp_before, NULL);
		c->reinv = CALL_REINV_NONE;
		return;
	}
	/* A failure leaves the session as it was (§14.1). */
	c->offer_out = false;
	if (ev == SIP_TRANS_EV_RESPONSE && m->status == 491 &&
	    c->reinv != CALL_REINV_NONE) {
		/* §14.1: the owner of the Call-ID waits 2.1–4 s, else 0–2 s. */
		uint64_t ms = c->dir == CALL_DIR_OUT ?
		    2100 + call_rand(2) % 1900 : call_rand(2) % 2000;

		call_note(c, "491: trying again in %" PRIu64 " ms", ms);
		c->reinv_next = c->reinv;
		c->reinv = CALL_REINV_NONE;
		/* The retry makes its offer from the agreed one. */
		call_sdp_restore(c);
		call_timer_set(c, CALL_T_GLARE, ms);
		return;
	}
	if (c->reinv == CALL_REINV_HOLD)
		c->local_hold = false;
	else if (c->reinv == CALL_REINV_UNHOLD)
		c->local_hold = true;
	/* The refused offer goes; the agreed one stays ours. */
	call_sdp_restore(c);
	/* RFC 4028 §10: a refused refresh is tried again before expiry. */
	if (c->reinv == CALL_REINV_REFRESH && c->se != 0 &&
	    ev == SIP_TRANS_EV_RESPONSE && m->status != 481 &&
	    m->status != 408) {
		unsigned min = call_parse_min_se(m);

		if (m->status == 422 && min > c->se && min <= 86400)
			c->se = min;
		call_timer_set(c, CALL_T_REFRESH, c->se / 4 < 10 ?
		    (uint64_t)c->se * 250 : 10000);
	}
	c->reinv = CALL_REINV_NONE;
	/* RFC 4028 §10, §12.2.1.2: the dialog is gone or unreachable. */
	if (ev != SIP_TRANS_EV_RESPONSE || m->status == 481 ||
	    m->status == 408) {
		call_note(c, "session refresh failed");
		call_end(c, ev != SIP_TRANS_EV_RESPONSE ? "no answer in the "
		    "dialog" : "the peer lost the dialog", "error");
		return;
	}
	call_note(c, "%s refused: %u", ct == c->reinv_ct ? "re-INVITE" :
	    "UPDATE", m->status);
}

/* ---- the timer --------------------------------------------------------------- */

static void
call_on_timer(struct call *c, enum call_timer t)
{
	switch (t) {
	case CALL_T_ANSWER:
		if (c->dir == CALL_DIR_IN) {
			if (c->state == CALL_STATE_RINGING)
				call_uas_refuse(c, 480,
				    "Temporarily Unavailable", "no answer",
				    "timeout");
			return;
		}
		if (c->state == CALL_STATE_CONFIRMED)
			return;
		call_note(c, "no answer in time");
		set_str(&c->reason, "no answer");
		c->ended_by = "timeout";
		call_cancel(c);
		return;
	case CALL_T_2XX:
		if (c->resp == NULL || c->resp_st == NULL || !c->want_ack)
			return;
		sip_strans_respond(c->resp_st, c->resp, c->resp_len);
		c->resp_ms = c->resp_ms * 2 < c->ag->ua->tc.t2_ms ?
		    c->resp_ms * 2 : c->ag->ua->tc.t2_ms;
		call_timer_set(c, CALL_T_2XX, c->resp_ms);
		return;
	case CALL_T_2XX_END:
		if (!c->want_ack)
			return;
		c->want_ack = false;
		call_timer_stop(c, CALL_T_2XX);
		call_note(c, "no ACK for our 2xx");
		if (c->bye_after_ack) {
			c->bye_after_ack = false;
			call_dialog_op(c, &c->dlg, CALL_OP_BYE);
			return;
		}
		/* §13.3.1.4: the session ends with a BYE. */
		call_end(c, "no ACK", "timeout");
		return;
	case CALL_T_REL1XX:
		if (!c->prack_wait || c->inv_st == NULL || c->resp == NULL)
			return;
		if (time_mono_us() >= c->rel_end_us) {
			call_uas_refuse(c, 504, "Server Time-out",
			    "no PRACK for the reliable 1xx", "timeout");
			return;
		}
		sip_strans_respond(c->inv_st, c->resp, c->resp_len);
		c->resp_ms *= 2;
		call_timer_set(c, CALL_T_REL1XX, c->resp_ms);
		return;
	case CALL_T_REFRESH:
		if (c->state != CALL_STATE_CONFIRMED)
			return;
		if (call_reinv_busy(c) || c->want_ack) {
			call_timer_set(c, CALL_T_REFRESH, 1000);
			return;
		}
		c->reinv_next = CALL_REINV_REFRESH;
		call_dialog_op(c, &c->dlg, c->peer_update ? CALL_OP_UPDATE :
		    CALL_OP_REINVITE);
		return;
	case CALL_T_EXPIRE:
		call_note(c, "session timer expired");
		call_end(c, "session expired (no refresh)", "timeout");
		return;
	case CALL_T_GLARE:
		if (c->state == CALL_STATE_CONFIRMED &&
		    c->reinv_next != CALL_REINV_NONE)
			call_dialog_op(c, &c->dlg, CALL_OP_REINVITE);
		return;
	case CALL_T_CANCEL:
		/* §9.1: the INVITE transaction counts as destroyed. */
		call_note(c, "no final answer after our CANCEL");
		call_terminate(c, 0, c->reason != NULL ? c->reason :
		    "cancelled", c->ended_by != NULL ? c->ended_by : "local");
		return;
	case CALL_T_XFER:
		xfer_on_timer(c);
		return;
	case CALL_T__COUNT:
		break;
	}
}

static void
call_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	uint64_t now = time_mono_us();

	(void)fd;
	(void)what;
	for (int t = 0; t < CALL_T__COUNT && (c->live ||
	    c->state == CALL_STATE_TERMINATED); t++) {
		if (c->due[t] == 0 || c->due[t] > now)
			continue;
		c->due[t] = 0;
		call_on_timer(c, (enum call_timer)t);
	}
	call_timer_arm(c);
}

/* ---- commands ------------------------------------------------------------------ */

int
call_answer(struct call_agent *ag, uint64_t id)
{
	struct call *c = call_live(ag, id);

	if (c == NULL)
		return ENOENT;
	if (c->dir != CALL_DIR_IN || c->state != CALL_STATE_RINGING)
		return EALREADY;
	call_note(c, "answered by control");
	/* RFC 3262 §3: no 2xx before the PRACK that answers our offer. */
	if (c->prack_wait && c->sdp_in_1xx) {
		c->answer_wanted = true;
		return 0;
	}
	call_uas_answer(c);
	return 0;
}

int
call_reject(struct call_agent *ag, uint64_t id, unsigned code)
{
	struct call *c = call_live(ag, id);

	if (c == NULL)
		return ENOENT;
	if (code < 400 || code > 699)
		return EINVAL;
	if (c->dir != CALL_DIR_IN || c->state != CALL_STATE_RINGING)
		return EALREADY;
	call_note(c, "rejected by control");
	call_uas_refuse(c, code, call_reason_phrase(code), "rejected",
	    "local");
	return 0;
}

int
call_hangup(struct call_agent *ag, uint64_t id)
{
	struct call *c = call_live(ag, id);

	if (c == NULL)
		return ENOENT;
	call_note(c, "hangup by control");
	switch (c->state) {
	case CALL_STATE_CALLING:
	case CALL_STATE_PROCEEDING:
	case CALL_STATE_EARLY:
		set_str(&c->reason, "cancelled");
		c->ended_by = "local";
		call_cancel(c);
		return 0;
	case CALL_STATE_RINGING:
		call_uas_refuse(c, 603, "Decline", "declined", "local");
		return 0;
	case CALL_STATE_CONFIRMED:
		call_end(c, "hangup", "local");
		return 0;
	case CALL_STATE_TERMINATING:
	case CALL_STATE_TERMINATED:
	case CALL_STATE__COUNT:
		break;
	}
	return EALREADY;
}

static int
call_set_hold(struct call_agent *ag, uint64_t id, bool hold)
{
	struct call *c = call_live(ag, id);

	if (c == NULL)
		return ENOENT;
	if (c->state != CALL_STATE_CONFIRMED)
		return EALREADY;
	if (call_reinv_busy(c) || c->want_ack ||
	    c->reinv_next != CALL_REINV_NONE || c->offer_out)
		return EBUSY;
	if (c->local_hold == hold)
		return 0;
	c->local_hold = hold;
	c->reinv_next = hold ? CALL_REINV_HOLD : CALL_REINV_UNHOLD;
	call_note(c, "%s by control", hold ? "hold" : "unhold");
	call_dialog_op(c, &c->dlg, CALL_OP_REINVITE);
	return 0;
}

int
call_hold(struct call_agent *ag, uint64_t id)
{
	return call_set_hold(ag, id, true);
}

int
call_unhold(struct call_agent *ag, uint64_t id)
{
	return call_set_hold(ag, id, false);
}

int
call_dtmf(struct call_agent *ag, uint64_t id, const char *digits)
{
	struct call *c = call_live(ag, id);
	int err;

	if (c == NULL)
		return ENOENT;
	if (c->rtp == NULL || (c->state != CALL_STATE_CONFIRMED &&
	    c->state != CALL_STATE_EARLY))
		return EALREADY;
	err = rtp_session_send_dtmf(c->rtp, digits, 0);
	if (err == 0)
		call_note(c, "DTMF %s sent", digits);
	return err;
}

/* ---- what the control protocol shows ------------------------------------------ */

static void
call_summary_fill(struct call *c, struct call_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->id = c->id;
	s->account = c->account;
	s->dir = c->dir;
	s->state = c->state;
	s->remote = c->remote;
	s->codec = c->codec;
	s->start = c->t_start;
	s->answer = c->t_answer;
	s->end = c->t_end;
	if (c->t_answer > 0)
		s->duration = (c->t_end > 0 ? c->t_end : time_real()) -
		    c->t_answer;
	s->hold = c->local_hold || c->remote_hold;
	s->media = c->media;
	s->status = c->status;
	s->reason = str_or_empty(c->reason);
	s->ended_by = str_or_empty(c->ended_by);
	if (c->rtp != NULL)
		rtp_session_stats(c->rtp, &s->stats);
	else
		s->stats = c->stats;
}

void
call_foreach(struct call_agent *ag,
    void (*fn)(const struct call_summary *, void *), void *arg)
{
	struct call_summary s;

	for (struct call *c = ag->live_head; c != NULL; c = c->next) {
		call_summary_fill(c, &s);
		fn(&s, arg);
	}
}

void
call_history_foreach(struct call_agent *ag,
    void (*fn)(const struct call_summary *, void *), void *arg)
{
	struct call_summary s;

	for (struct call *c = ag->hist_head; c != NULL; c = c->next) {
		call_summary_fill(c, &s);
		fn(&s, arg);
	}
}

int
call_detail_get(struct call_agent *ag, uint64_t id, struct call_detail *d)
{
	struct call *c = call_find(ag, id);
	char *p;

	if (c == NULL)
		return ENOENT;
	memset(d, 0, sizeof(*d));
	call_summary_fill(c, &d->sum);
	ag->dlg_id[0] = '\0';
	strbuf_reset(&ag->routes);
	if (c->has_dlg) {
		sip_dialog_id_str(&c->dlg, ag->dlg_id, sizeof(ag->dlg_id));
		for (size_t i = 0; i < c->dlg.nroute; i++)
			strbuf_addf(&ag->routes, "%s<%s>", i > 0 ? ", " : "",
			    c->dlg.route[i]);
	}
	d->dialog_id = ag->dlg_id;
	d->route_set = ag->routes.p != NULL ? ag->routes.p : "";
	d->local_uri = c->has_dlg ? str_or_empty(c->dlg.local_uri) :
	    str_or_empty(c->from_uri);
	d->remote_target = c->has_dlg ? str_or_empty(c->dlg.remote_target) :
	    "";
	d->local_sdp = str_or_empty(c->local_sdp);
	d->remote_sdp = str_or_empty(c->remote_sdp);
	d->remote_media = c->remote_media;
	d->local_media = "";
	if (c->rtp != NULL) {
		snprintf(ag->local_media, sizeof(ag->local_media), strchr(
		    rtp_engine_addr(ag->rtp), ':') != NULL ? "[%s]:%u" :
		    "%s:%u", rtp_engine_addr(ag->rtp),
		    rtp_session_port(c->rtp));
		d->local_media = ag->local_media;
	}
	d->session_expires = c->se;
	d->refresher = c->se == 0 ? "" : (c->we_refresh ==
	    (c->dir == CALL_DIR_OUT)) ? "uac" : "uas";
	/* The timeline, one line each. */
	free(ag->tl_copy);
	free(ag->tl);
	ag->tl_copy = xstrndup(c->timeline.p != NULL ? c->timeline.p : "",
	    c->timeline.n);
	ag->ntl = 0;
	for (p = ag->tl_copy; *p != '\0'; p++)
		if (*p == '\n')
			ag->ntl++;
	ag->tl = xreallocarray(NULL, ag->ntl + 1, sizeof(char *));
	ag->ntl = 0;
	for (p = ag->tl_copy; *p != '\0';) {
		char *nl = strchr(p, '\n');

		ag->tl[ag->ntl++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	d->timeline = ag->tl;
	d->ntimeline = ag->ntl;
	return 0;
}

size_t
call_count_states(const struct call_agent *ag, size_t counts[])
{
	for (int i = 0; i < CALL_STATE__COUNT; i++)
		counts[i] = ag->counts[i];
	return ag->nlive;
}

/* ---- the agent ------------------------------------------------------------------- */

static void
call_snapshot(struct events_sub *sub, void *arg)
{
	struct call_agent *ag = arg;
	char id[24];

	for (struct call *c = ag->live_head; c != NULL; c = c->next) {
		snprintf(id, sizeof(id), "%" PRIu64, c->id);
		events_emit_to(sub, "call.state", c->account, "id", id, "dir",
		    call_dir_name(c->dir), "state", call_state_name(c->state),
		    "remote", c->remote, NULL);
	}
}

static void
call_conf_apply(struct call_agent *ag, const struct call_conf *conf)
{
	ag->conf = *conf;
	if (ag->conf.max_calls == 0)
		ag->conf.max_calls = 10000;
	if (ag->conf.min_se < CALL_MIN_SE_DEFAULT)
		ag->conf.min_se = CALL_MIN_SE_DEFAULT;
}

struct call_agent *
call_agent_new(struct ua *ua, struct account_set *set, struct rtp_engine *rtp,
    const struct call_conf *conf, call_change_fn *change, void *arg)
{
	struct call_agent *ag = xcalloc(1, sizeof(*ag));
	static const char *const in_dialog[] = { "BYE", "PRACK", "UPDATE",
		"INFO", "REFER" };

	ag->ua = ua;
	ag->set = set;
	ag->rtp = rtp;
	ag->change = change;
	ag->change_arg = arg;
	call_conf_apply(ag, conf);
	ag->nids_buckets = 64;
	ag->ids = xcalloc(ag->nids_buckets, sizeof(*ag->ids));
	ag->reaper = event_new(ua->base, -1, 0, call_reap_cb, ag);
	ua_register_method(ua, "INVITE", call_on_invite, ag, 0);
	for (size_t i = 0; i < sizeof(in_dialog) / sizeof(*in_dialog); i++)
		ua_register_method(ua, in_dialog[i], call_on_stray, ag,
		    UA_METHOD_STATELESS);
	ua_set_dialog_handler(ua, UA_USAGE_CALL, call_on_dialog, ag);
	events_add_snapshot(call_snapshot, ag);
	return ag;
}

void
call_agent_set_conf(struct call_agent *ag, const struct call_conf *conf)
{
	call_conf_apply(ag, conf);
	call_history_trim(ag);
	/* The accounts may have changed: a reload calls this after. */
}

static void
call_stop_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct call_agent *ag = arg;
	void (*done)(void *) = ag->stop_done;

	(void)fd;
	(void)what;
	ag->stop_done = NULL;
	if (done != NULL)
		done(ag->stop_arg);
}

static void
call_agent_check_stopped(struct call_agent *ag)
{
	if (!ag->stopping || ag->nlive > 0 || ag->stop_done == NULL)
		return;
	if (ag->stop_ev == NULL)
		ag->stop_ev = event_new(ag->ua->base, -1, 0, call_stop_done_cb,
		    ag);
	event_active(ag->stop_ev, EV_TIMEOUT, 0);
}

void
call_agent_stop(struct call_agent *ag, void (*done)(void *), void *arg)
{
	struct call *c, *next;

	ag->stopping = true;
	ag->stop_done = done;
	ag->stop_arg = arg;
	for (c = ag->live_head; c != NULL; c = next) {
		next = c->next;
		switch (c->state) {
		case CALL_STATE_RINGING:
			call_uas_refuse(c, 480, "Temporarily Unavailable",
			    "sipxd is stopping", "local");
			break;
		case CALL_STATE_CONFIRMED:
			call_end(c, "sipxd is stopping", "local");
			break;
		case CALL_STATE_TERMINATING:
			/* Waiting for a 1xx to CANCEL: not worth the stop. */
			if (c->cancel_wanted)
				call_terminate(c, 0, str_or_empty(c->reason),
				    c->ended_by != NULL ? c->ended_by :
				    "local");
			break;
		default:
			if (c->got_1xx) {
				set_str(&c->reason, "sipxd is stopping");
				c->ended_by = "local";
				call_send_cancel(c);
				call_set_state(c, CALL_STATE_TERMINATING);
			} else {
				c->cancel_wanted = true;
				call_terminate(c, 0, "sipxd is stopping",
				    "local");
			}
			break;
		}
	}
	call_agent_check_stopped(ag);
}

void
call_agent_free(struct call_agent *ag)
{
	if (ag == NULL)
		return;
	events_remove_snapshot(call_snapshot, ag);
	ua_set_dialog_handler(ag->ua, UA_USAGE_CALL, NULL, NULL);
	while (ag->live_head != NULL) {
		struct call *c = ag->live_head;

		ag->live_head = c->next;
		call_free(c);
	}
	while (ag->hist_head != NULL) {
		struct call *c = ag->hist_head;

		ag->hist_head = c->next;
		call_free(c);
	}
	call_reap_cb(-1, 0, ag);
	if (ag->reaper != NULL)
		event_free(ag->reaper);
	if (ag->stop_ev != NULL)
		event_free(ag->stop_ev);
	strbuf_free(&ag->routes);
	free(ag->tl);
	free(ag->tl_copy);
	free(ag->ids);
	free(ag);
}
