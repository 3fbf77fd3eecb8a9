/*
 * Call commands (see cmd_call.h): each parses its arguments, asks the
 * call usage (ua/call.h) and frames the answer; the call usage owns the
 * calls.  `call ACCOUNT URI` is a job: the call's id is the job's id,
 * and the job follows the call on the event bus, forwarding its call.*
 * events to the connection that placed it until the call is answered or
 * ends.  The job only watches: a connection that goes away detaches it
 * and the call goes on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ua/call.h"
#include "ua/events.h"
#include "cmd_call.h"
#include "control.h"
#include "daemon.h"

#define CALL_TIMEOUT_MAX	86400	/* s: timeout= */
#define CALL_HEADERS_MAX	8	/* header= per call */
#define CALL_REJECT_DEFAULT	486

/* ---- small parsers ------------------------------------------------------ */

/* RFC 3261 §25.1 token characters: what a header name is made of. */
static bool
sip_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

/*
 * "Name: value": a token, a colon, a value of printable text (tabs
 * allowed).  A CR or LF would end the header line early and let a
 * control client write arbitrary SIP: never.
 */
static bool
call_header_valid(const char *h)
{
	const char *p = h;

	while (sip_token_char((unsigned char)*p))
		p++;
	if (p == h || *p != ':')
		return false;
	for (p++; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return false;
		else if (*p == 0x7f)
			return false;
	return true;
}

/* ---- placing a call: the job ------------------------------------------- */

struct call_job {
	struct control_job	*job;
	struct call_job		*hnext;		/* call_jobs, by id */
	unsigned long long	 call;
	char			*account;
	char			 id[24];	/* as events carry it */
	/* The call_place() call is still running: a final state now is
	 * kept and reported once the handler has answered. */
	bool			 placing;
	bool			 done;
};

static const char *
ev_get(const struct events_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->nkv; i++)
		if (strcmp(ev->kv[i].key, key) == 0)
			return ev->kv[i].value;
	return NULL;
}

/* The job's result from its call's final call.state. */
static void
call_job_result(struct call_job *cj, const struct events_event *ev,
    bool ok)
{
	struct cmd_reply *r = control_job_reply(cj->job);
	const char *status = ev_get(ev, "status");
	const char *reason = ev_get(ev, "reason");
	const char *by = ev_get(ev, "by");

	if (status == NULL || strcmp(status, "0") == 0)
		status = "";
	if (reason == NULL)
		reason = "";
	if (ok) {
		cmd_reply_ok(r, NULL);
		cmd_record_begin(r);
		cmd_record_kv(r, "state", "confirmed");
		cmd_record_end(r);
		return;
	}
	/* "486 Busy Here"; without a status (a timeout, a transport
	 * error) the reason says what happened. */
	if (status[0] != '\0')
		cmd_reply_err(r, "failed", "%s%s%.200s", status,
		    reason[0] != '\0' ? " " : "", reason);
	else if (reason[0] != '\0')
		cmd_reply_err(r, "failed", "%.200s", reason);
	else
		cmd_reply_err(r, "failed", "the call ended unanswered%s%s",
		    by != NULL ? ", by " : "", by != NULL ? by : "");
	cmd_record_begin(r);
	cmd_record_kv(r, "state", "terminated");
	cmd_record_kv(r, "status", status[0] != '\0' ? status : "0");
	cmd_record_kv(r, "reason", reason);
	cmd_record_kv(r, "by", by != NULL ? by : "");
	cmd_record_end(r);
}

/*
 * Every running call job, by call id, behind one live subscription to
 * the call kind that exists only while a job does: thousands of calls
 * placed per second cost one lookup per event, not one subscriber per
 * call for every event (and every SIP message's trace check) to walk.
 */
#define CALL_JOBS_BUCKETS	1024

static struct call_job	*call_jobs[CALL_JOBS_BUCKETS];
static size_t		 call_njobs;
static struct events_sub *call_jobs_sub;

static void call_jobs_deliver(const struct events_event *, void *);

static void
call_jobs_add(struct call_job *cj)
{
	struct call_job **b = &call_jobs[cj->call % CALL_JOBS_BUCKETS];

	cj->hnext = *b;
	*b = cj;
	if (call_njobs++ == 0)
		call_jobs_sub = events_subscribe_live(EVENTS_KIND_CALL, NULL,
		    call_jobs_deliver, NULL);
}

static void
call_jobs_remove(struct call_job *cj)
{
	for (struct call_job **pp = &call_jobs[cj->call % CALL_JOBS_BUCKETS];
	    *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == cj) {
			*pp = cj->hnext;
			if (--call_njobs == 0) {
				events_unsubscribe(call_jobs_sub);
				call_jobs_sub = NULL;
			}
			return;
		}
}

static void
call_job_end(struct call_job *cj)
{
	call_jobs_remove(cj);
	control_job_finish(cj->job);
	free(cj->account);
	free(cj);
}

/*
 * The bus's subscriber for one placed call: its call.* events go to
 * the connection that placed it, and the first confirmed or terminated
 * state ends the job.  Under the bus: unsubscribing ourselves is
 * allowed, control defers its writes to the loop.
 */
static void
call_job_deliver(struct call_job *cj, const struct events_event *ev)
{
	const char *state;
	bool ok;

	if (cj->done)
		return;
	control_job_event(cj->job, ev);
	if (strcmp(ev->type, "call.state") != 0 ||
	    (state = ev_get(ev, "state")) == NULL)
		return;
	if (strcmp(state, "confirmed") == 0)
		ok = true;
	else if (strcmp(state, "terminated") == 0)
		ok = false;
	else
		return;
	call_job_result(cj, ev, ok);
	cj->done = true;
	if (!cj->placing)
		call_job_end(cj);
}

static void
call_jobs_deliver(const struct events_event *ev, void *arg)
{
	const char *id;
	unsigned long long n;
	char *end;

	(void)arg;
	if (!ev->live || strncmp(ev->type, "call.", 5) != 0 ||
	    (id = ev_get(ev, "id")) == NULL)
		return;
	n = strtoull(id, &end, 10);
	if (*end != '\0')
		return;
	for (struct call_job *cj = call_jobs[n % CALL_JOBS_BUCKETS];
	    cj != NULL; cj = cj->hnext)
		if (cj->call == n && ev->account != NULL &&
		    strcmp(ev->account, cj->account) == 0) {
			call_job_deliver(cj, ev);
			return;
		}
}

/* The connection went away: stop watching; the call goes on. */
static void
call_job_cancel(void *arg)
{
	struct call_job *cj = arg;

	call_jobs_remove(cj);
	free(cj->account);
	free(cj);
}

static void
call_place_error(struct cmd_reply *r, const struct call_params *p, int rc,
    const char *err)
{
	switch (rc) {
	case ENOENT:
		cmd_reply_err(r, "not-found", "no account '%.64s'",
		    p->account);
		break;
	case EINVAL:
		if (err[0] != '\0')
			cmd_reply_err(r, "usage", "%s", err);
		else
			cmd_reply_err(r, "usage", "'%.128s' is not a sip: or "
			    "sips: URI", p->uri);
		break;
	case EBUSY:
		cmd_reply_err(r, "failed", "%s", err[0] != '\0' ? err :
		    "too many calls (calls.max) or no free RTP port "
		    "(media.port_min..port_max); try again later");
		break;
	case ESHUTDOWN:
		cmd_reply_err(r, "failed", "sipxd is stopping");
		break;
	default:
		if (err[0] != '\0')
			cmd_reply_err(r, "failed", "%s", err);
		else
			cmd_reply_err(r, "failed", "call %.64s %.128s: %s",
			    p->account, p->uri, strerror(rc));
		break;
	}
}

/*
 * Options of `call ACCOUNT URI`; 0, or -1 with the ERR in r.  Each
 * option at most once (header= up to CALL_HEADERS_MAX times).
 */
static int
call_options_parse(int argc, char **argv, struct call_params *p,
    const char **headers, struct cmd_reply *r)
{
	bool seen_sdp = false, seen_timeout = false, seen_file = false;
	char *key, *value;
	int m;

	for (int i = 3; i < argc; i++) {
		if (ctl_kv_split(argv[i], &key, &value) != 0) {
			cmd_reply_err(r, "usage", "'%.64s' is not an option; "
			    "options are sdp=, timeout=, media=, file= and "
			    "header=", argv[i]);
			return -1;
		}
		if (strcmp(key, "header") != 0 &&
		    ((strcmp(key, "sdp") == 0 && seen_sdp) ||
		    (strcmp(key, "timeout") == 0 && seen_timeout) ||
		    (strcmp(key, "media") == 0 && p->media_set) ||
		    (strcmp(key, "file") == 0 && seen_file))) {
			cmd_reply_err(r, "usage", "%s= given twice", key);
			return -1;
		}
		if (strcmp(key, "sdp") == 0) {
			seen_sdp = true;
			if (strcmp(value, "early") == 0)
				p->late_offer = false;
			else if (strcmp(value, "late") == 0)
				p->late_offer = true;
			else {
				cmd_reply_err(r, "usage", "sdp must be early "
				    "(offer in the INVITE) or late (offer in "
				    "the answer)");
				return -1;
			}
			p->late_offer_set = true;
		} else if (strcmp(key, "timeout") == 0) {
			seen_timeout = true;
			if (cmd_uint_parse(value, 1, CALL_TIMEOUT_MAX,
			    &p->timeout_s) != 0) {
				cmd_reply_err(r, "usage", "timeout must be "
				    "1..%d seconds", CALL_TIMEOUT_MAX);
				return -1;
			}
		} else if (strcmp(key, "media") == 0) {
			if ((m = rtp_mode_parse(value)) < 0) {
				cmd_reply_err(r, "usage", "media must be none, "
				    "silence, echo or play");
				return -1;
			}
			p->media = (enum rtp_mode)m;
			p->media_set = true;
		} else if (strcmp(key, "file") == 0) {
			seen_file = true;
			if (value[0] == '\0') {
				cmd_reply_err(r, "usage", "file= needs a path");
				return -1;
			}
			p->play_file = value;
		} else if (strcmp(key, "header") == 0) {
			if (p->nheaders == CALL_HEADERS_MAX) {
				cmd_reply_err(r, "usage", "at most %d header= "
				    "options", CALL_HEADERS_MAX);
				return -1;
			}
			if (!call_header_valid(value)) {
				cmd_reply_err(r, "usage", "header must be "
				    "\"Name: value\": a token name, a colon, "
				    "printable text on one line");
				return -1;
			}
			headers[p->nheaders++] = value;
		} else {
			cmd_reply_err(r, "usage", "unknown option '%.32s'; "
			    "options are sdp=, timeout=, media=, file= and "
			    "header=", key);
			return -1;
		}
	}
	if (seen_file && !(p->media_set && p->media == RTP_MODE_PLAY)) {
		cmd_reply_err(r, "usage", "file= goes with media=play");
		return -1;
	}
	return 0;
}

static void
call_place_cmd(struct cmd_ctx *ctx, int argc, char **argv,
    struct cmd_reply *r)
{
	struct call_params p = { 0 };
	const char *headers[CALL_HEADERS_MAX];
	struct call_job *cj;
	unsigned long long id;
	uint64_t placed;
	char err[256];
	int rc;

	/* `call ID` is read-only; placing one sends SIP. */
	if (ctx->readonly) {
		cmd_reply_err(r, "denied", "placing a call needs the "
		    "full-access socket: the read-only one changes nothing, "
		    "sends nothing and shows no SIP message");
		return;
	}
	p.account = argv[1];
	p.uri = argv[2];
	p.headers = headers;
	if (call_options_parse(argc, argv, &p, headers, r) != 0)
		return;

	cj = xcalloc(1, sizeof(*cj));
	cj->job = control_job_start(ctx->client, "call", call_job_cancel, cj,
	    &rc);
	if (cj->job == NULL) {
		free(cj);
		cmd_reply_err(r, "failed", "%d jobs already running on this "
		    "connection (calls not yet answered, probes); wait for "
		    "their results or use another connection",
		    SIPX_CTL_JOBS_MAX);
		return;
	}
	id = control_job_id(cj->job);
	snprintf(cj->id, sizeof(cj->id), "%llu", id);
	cj->call = id;
	cj->account = xstrdup(p.account);
	p.id = id;
	/* Watch before placing: the first call.state may come at once. */
	cj->placing = true;
	call_jobs_add(cj);
	err[0] = '\0';
	rc = call_place(daemon_calls(), &p, &placed, err, sizeof(err));
	cj->placing = false;
	if (rc != 0) {
		call_jobs_remove(cj);
		control_job_abandon(cj->job);
		free(cj->account);
		free(cj);
		call_place_error(r, &p, rc, err);
		return;
	}
	cmd_reply_ok(r, "id=%llu", id);
	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", id);
	cmd_record_end(r);
	/* Control frames a result after this OK, never before it. */
	if (cj->done)
		call_job_end(cj);
}

/* ---- records ------------------------------------------------------------ */

static void
kv_time(struct cmd_reply *r, const char *key, double t)
{
	if (t > 0)
		cmd_record_kvf(r, key, "%.3f", t);
	else
		cmd_record_kv(r, key, "-");
}

/* "-" for a value the call does not have (yet). */
static void
kv_str(struct cmd_reply *r, const char *key, const char *v)
{
	cmd_record_kv(r, key, v != NULL && v[0] != '\0' ? v : "-");
}

static void
kv_status(struct cmd_reply *r, const struct call_summary *s)
{
	if (s->status != 0)
		cmd_record_kvf(r, "status", "%u", s->status);
	else
		cmd_record_kv(r, "status", "-");
	kv_str(r, "reason", s->reason);
	kv_str(r, "ended_by", s->ended_by);
}

static void
calls_row(const struct call_summary *s, void *arg)
{
	struct cmd_reply *r = arg;

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)s->id);
	cmd_record_kv(r, "account", s->account);
	cmd_record_kv(r, "dir", call_dir_name(s->dir));
	cmd_record_kv(r, "state", call_state_name(s->state));
	kv_str(r, "remote", s->remote);
	cmd_record_kvf(r, "duration", "%.1f", s->duration);
	kv_str(r, "codec", s->codec);
	cmd_record_kv(r, "media", rtp_mode_name(s->media));
	cmd_record_kv(r, "hold", s->hold ? "yes" : "no");
	cmd_record_end(r);
}

static void
history_row(const struct call_summary *s, void *arg)
{
	struct cmd_reply *r = arg;

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)s->id);
	cmd_record_kv(r, "account", s->account);
	cmd_record_kv(r, "dir", call_dir_name(s->dir));
	kv_str(r, "remote", s->remote);
	kv_time(r, "start", s->start);
	kv_time(r, "answer", s->answer);
	kv_time(r, "end", s->end);
	cmd_record_kvf(r, "duration", "%.1f", s->duration);
	kv_status(r, s);
	kv_str(r, "codec", s->codec);
	cmd_record_kvf(r, "packets_sent", "%llu",
	    (unsigned long long)s->stats.packets_sent);
	cmd_record_kvf(r, "packets_recv", "%llu",
	    (unsigned long long)s->stats.packets_recv);
	cmd_record_kvf(r, "lost", "%lld", (long long)s->stats.lost);
	cmd_record_kvf(r, "jitter_ms", "%.1f", s->stats.jitter_ms);
	cmd_record_end(r);
}

static void
call_detail_reply(struct cmd_reply *r, const struct call_detail *d)
{
	const struct call_summary *s = &d->sum;
	const struct rtp_stats *st = &s->stats;

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)s->id);
	cmd_record_kv(r, "account", s->account);
	cmd_record_kv(r, "dir", call_dir_name(s->dir));
	cmd_record_kv(r, "state", call_state_name(s->state));
	kv_str(r, "remote", s->remote);
	kv_str(r, "local_uri", d->local_uri);
	kv_str(r, "dialog_id", d->dialog_id);
	kv_str(r, "remote_target", d->remote_target);
	kv_str(r, "route_set", d->route_set);
	kv_str(r, "codec", s->codec);
	cmd_record_kv(r, "media", rtp_mode_name(s->media));
	cmd_record_kv(r, "hold", s->hold ? "yes" : "no");
	kv_time(r, "start", s->start);
	kv_time(r, "answer", s->answer);
	kv_time(r, "end", s->end);
	cmd_record_kvf(r, "duration", "%.1f", s->duration);
	kv_status(r, s);
	if (d->session_expires != 0)
		cmd_record_kvf(r, "session_expires", "%u", d->session_expires);
	else
		cmd_record_kv(r, "session_expires", "-");
	kv_str(r, "refresher", d->refresher);
	kv_str(r, "local_media", d->local_media);
	kv_str(r, "remote_media", d->remote_media);
	cmd_record_kvf(r, "packets_sent", "%llu",
	    (unsigned long long)st->packets_sent);
	cmd_record_kvf(r, "packets_recv", "%llu",
	    (unsigned long long)st->packets_recv);
	cmd_record_kvf(r, "bytes_sent", "%llu",
	    (unsigned long long)st->bytes_sent);
	cmd_record_kvf(r, "bytes_recv", "%llu",
	    (unsigned long long)st->bytes_recv);
	cmd_record_kvf(r, "lost", "%lld", (long long)st->lost);
	cmd_record_kvf(r, "jitter_ms", "%.1f", st->jitter_ms);
	if (st->last_recv_age_s >= 0)
		cmd_record_kvf(r, "last_packet_age", "%.1f",
		    st->last_recv_age_s);
	else
		cmd_record_kv(r, "last_packet_age", "-");
	cmd_record_kvf(r, "dtmf_sent", "%u", (unsigned)st->dtmf_sent);
	cmd_record_kvf(r, "dtmf_recv", "%u", (unsigned)st->dtmf_recv);
	cmd_record_end(r);
	/* The bodies whole, escaped by the codec: one record each. */
	cmd_record_begin(r);
	cmd_record_kv(r, "local_sdp", d->local_sdp);
	cmd_record_end(r);
	cmd_record_begin(r);
	cmd_record_kv(r, "remote_sdp", d->remote_sdp);
	cmd_record_end(r);
	for (size_t i = 0; i < d->ntimeline; i++) {
		cmd_record_begin(r);
		cmd_record_kv(r, "event", d->timeline[i]);
		cmd_record_end(r);
	}
}

void
cmd_call(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	struct call_detail d;
	uint64_t id;

	if (argc >= 3) {
		call_place_cmd(ctx, argc, argv, r);
		return;
	}
	if (cmd_id_parse(argv[1], &id) != 0) {
		cmd_reply_err(r, "usage", "'%.64s' is not a call id; to place "
		    "a call: call ACCOUNT URI [options]", argv[1]);
		return;
	}
	if (call_detail_get(daemon_calls(), id, &d) != 0) {
		cmd_reply_err(r, "not-found", "no call %llu",
		    (unsigned long long)id);
		return;
	}
	call_detail_reply(r, &d);
}

void
cmd_calls(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	if (argc == 1) {
		call_foreach(daemon_calls(), calls_row, r);
		return;
	}
	if (strcmp(argv[1], "history") != 0) {
		cmd_reply_usage(r, ctx->entry);
		return;
	}
	call_history_foreach(daemon_calls(), history_row, r);
}

/* ---- commands on a live call -------------------------------------------- */

enum call_action {
	CALL_ANSWER,
	CALL_REJECT,
	CALL_HANGUP,
	CALL_HOLD,
	CALL_UNHOLD,
	CALL_DTMF,
};

/*
 * Why the call usage said EALREADY: the call's state does not allow
 * the action.  Says which state it is in and which one it needs.
 */
static void
call_action_not_now(struct cmd_reply *r, enum call_action a, uint64_t id)
{
	struct call_detail d;
	const char *state;
	unsigned long long n = (unsigned long long)id;

	if (call_detail_get(daemon_calls(), id, &d) != 0) {
		cmd_reply_err(r, "not-found", "no call %llu", n);
		return;
	}
	state = call_state_name(d.sum.state);
	switch (a) {
	case CALL_ANSWER:
	case CALL_REJECT:
		cmd_reply_err(r, "failed", "call %llu is %s, not ringing", n,
		    state);
		break;
	case CALL_HANGUP:
		cmd_reply_err(r, "failed", "call %llu is already %s", n,
		    state);
		break;
	case CALL_HOLD:
		if (d.sum.state != CALL_STATE_CONFIRMED)
			cmd_reply_err(r, "failed", "call %llu is %s, not "
			    "confirmed", n, state);
		else
			cmd_reply_err(r, "failed", "call %llu is already on "
			    "hold", n);
		break;
	case CALL_UNHOLD:
		if (d.sum.state != CALL_STATE_CONFIRMED)
			cmd_reply_err(r, "failed", "call %llu is %s, not "
			    "confirmed", n, state);
		else
			cmd_reply_err(r, "failed", "call %llu is not on hold",
			    n);
		break;
	case CALL_DTMF:
		cmd_reply_err(r, "failed", "call %llu is %s, not confirmed "
		    "or early", n, state);
		break;
	}
}

/* ENOENT: ended calls stay in the history, so say which it is. */
static void
call_not_found(struct cmd_reply *r, uint64_t id)
{
	struct call_detail d;
	unsigned long long n = (unsigned long long)id;

	if (call_detail_get(daemon_calls(), id, &d) == 0)
		cmd_reply_err(r, "not-found", "no call %llu (it has ended)", n);
	else
		cmd_reply_err(r, "not-found", "no call %llu", n);
}

static void
call_action_result(struct cmd_reply *r, enum call_action a, uint64_t id,
    int rc, const char *name)
{
	unsigned long long n = (unsigned long long)id;

	switch (rc) {
	case 0:
		break;
	case ENOENT:
		call_not_found(r, id);
		return;
	case EALREADY:
		call_action_not_now(r, a, id);
		return;
	case EBUSY:
		if (a == CALL_DTMF)
			cmd_reply_err(r, "failed", "call %llu has too many "
			    "digits queued; try again when they are sent",
			    n);
		else
			cmd_reply_err(r, "failed", "a re-INVITE is in progress "
			    "on call %llu; try again", n);
		return;
	case ENOTSUP:
		cmd_reply_err(r, "failed", "call %llu has no telephone-event "
		    "(RFC 4733) negotiated: the peer takes no DTMF", n);
		return;
	case EINVAL:
		if (a == CALL_DTMF)
			cmd_reply_err(r, "usage", "digits are 0-9, *, #, A-D "
			    "and ',' (a pause)");
		else
			cmd_reply_err(r, "usage", "%s: bad argument", name);
		return;
	case ESHUTDOWN:
		cmd_reply_err(r, "failed", "sipxd is stopping");
		return;
	default:
		cmd_reply_err(r, "failed", "%s %llu: %s", name, n,
		    strerror(rc));
		return;
	}
	switch (a) {
	case CALL_ANSWER:
		cmd_reply_ok(r, "answering call %llu", n);
		break;
	case CALL_REJECT:
		cmd_reply_ok(r, "rejecting call %llu", n);
		break;
	case CALL_HANGUP:
		cmd_reply_ok(r, "hanging up call %llu", n);
		break;
	case CALL_HOLD:
		cmd_reply_ok(r, "holding call %llu", n);
		break;
	case CALL_UNHOLD:
		cmd_reply_ok(r, "resuming call %llu", n);
		break;
	case CALL_DTMF:
		cmd_reply_ok(r, "sending digits on call %llu", n);
		break;
	}
}

static bool
call_action_id(struct cmd_reply *r, const char *s, uint64_t *id)
{
	if (cmd_id_parse(s, id) == 0)
		return true;
	cmd_reply_err(r, "usage", "'%.64s' is not a call id (see 'calls')",
	    s);
	return false;
}

void
cmd_answer(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	uint64_t id;

	if (call_action_id(r, argv[1], &id))
		call_action_result(r, CALL_ANSWER, id,
		    call_answer(daemon_calls(), id), argv[0]);
}

void
cmd_reject(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	unsigned code = CALL_REJECT_DEFAULT;
	uint64_t id;

	if (!call_action_id(r, argv[1], &id))
		return;
	if (argc == 3 && cmd_uint_parse(argv[2], 400, 699, &code) != 0) {
		cmd_reply_err(r, "usage", "the code must be 400..699 (default "
		    "%d Busy Here)", CALL_REJECT_DEFAULT);
		return;
	}
	call_action_result(r, CALL_REJECT, id,
	    call_reject(daemon_calls(), id, code), argv[0]);
}

void
cmd_hangup(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	uint64_t id;

	if (call_action_id(r, argv[1], &id))
		call_action_result(r, CALL_HANGUP, id,
		    call_hangup(daemon_calls(), id), argv[0]);
}

void
cmd_hold(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	uint64_t id;

	if (call_action_id(r, argv[1], &id))
		call_action_result(r, CALL_HOLD, id,
		    call_hold(daemon_calls(), id), argv[0]);
}

void
cmd_unhold(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	uint64_t id;

	if (call_action_id(r, argv[1], &id))
		call_action_result(r, CALL_UNHOLD, id,
		    call_unhold(daemon_calls(), id), argv[0]);
}

void
cmd_dtmf(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	uint64_t id;

	if (!call_action_id(r, argv[1], &id))
		return;
	if (strspn(argv[2], "0123456789*#ABCDabcd,") != strlen(argv[2]) ||
	    argv[2][0] == '\0') {
		cmd_reply_err(r, "usage", "digits are 0-9, *, #, A-D and ',' "
		    "(a pause)");
		return;
	}
	call_action_result(r, CALL_DTMF, id,
	    call_dtmf(daemon_calls(), id, argv[2]), argv[0]);
}

void
cmd_transfer(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	char err[200];
	uint64_t id;
	int rc;

	if (!call_action_id(r, argv[1], &id))
		return;
	rc = call_transfer(daemon_calls(), id, argv[2], err, sizeof(err));
	switch (rc) {
	case 0:
		cmd_reply_ok(r, "transferring call %llu to %s",
		    (unsigned long long)id, argv[2]);
		return;
	case ENOENT:
		call_not_found(r, id);
		return;
	case EINVAL:
		cmd_reply_err(r, "usage", "%s", err);
		return;
	default:
		cmd_reply_err(r, "failed", "%s", err);
		return;
	}
}
