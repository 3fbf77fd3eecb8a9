/*
 * Subscription commands (see cmd_sub.h); the subscription usage owns the
 * subscriptions.  `subscribe ACCOUNT URI event=E` is a job: the
 * subscription's id is the job's id, and the job forwards the
 * subscription's events to the connection that asked until the first
 * NOTIFY came (result ok, with its state) or the subscription ended
 * before one did (result failed, with why).  That is where the job
 * ends: the subscription lives on (it is refreshed until `unsubscribe`
 * or the stop), and a client that wants to follow it asks for
 * `events kind=subscription`.  The job only watches: a connection that
 * goes away detaches it and the subscription goes on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ua/events.h"
#include "ua/subscription.h"
#include "cmd_sub.h"
#include "control.h"
#include "daemon.h"

/* ---- the job ------------------------------------------------------------- */

struct sub_job {
	struct control_job	*job;
	struct sub_job		*next;
	uint64_t		 sub;
	char			*account;
	/* sub_subscribe() is still running: a result now waits for the
	 * handler's OK. */
	bool			 placing;
	bool			 done;
};

/*
 * Every running job behind one live subscription to the bus's
 * subscription kind, which exists only while a job does.  A job lasts
 * until a first NOTIFY: a list is enough.
 */
static struct sub_job	*sub_jobs;
static struct events_sub *sub_jobs_sub;

static void sub_jobs_deliver(const struct events_event *, void *);

static const char *
ev_get(const struct events_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->nkv; i++)
		if (strcmp(ev->kv[i].key, key) == 0)
			return ev->kv[i].value;
	return NULL;
}

static void
sub_jobs_add(struct sub_job *sj)
{
	sj->next = sub_jobs;
	sub_jobs = sj;
	if (sj->next == NULL)
		sub_jobs_sub = events_subscribe_live(EVENTS_KIND_SUBSCRIPTION,
		    NULL, sub_jobs_deliver, NULL);
}

static void
sub_jobs_remove(struct sub_job *sj)
{
	for (struct sub_job **pp = &sub_jobs; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == sj) {
			*pp = sj->next;
			if (sub_jobs == NULL) {
				events_unsubscribe(sub_jobs_sub);
				sub_jobs_sub = NULL;
			}
			return;
		}
}

static void
sub_job_free(struct sub_job *sj)
{
	free(sj->account);
	free(sj);
}

static void
sub_job_end(struct sub_job *sj)
{
	sub_jobs_remove(sj);
	control_job_finish(sj->job);
	sub_job_free(sj);
}

/* The first NOTIFY (ok) or the end before one (failed). */
static void
sub_job_deliver(struct sub_job *sj, const struct events_event *ev)
{
	struct cmd_reply *r;
	const char *v;

	if (sj->done)
		return;
	control_job_event(sj->job, ev);
	r = control_job_reply(sj->job);
	if (strcmp(ev->type, "subscription.notify") == 0) {
		cmd_reply_ok(r, NULL);
		cmd_record_begin(r);
		v = ev_get(ev, "state");
		cmd_record_kv(r, "state", v != NULL && v[0] != '\0' ? v : "-");
		v = ev_get(ev, "content_type");
		cmd_record_kv(r, "content_type", v != NULL && v[0] != '\0' ?
		    v : "-");
		cmd_record_end(r);
	} else if (strcmp(ev->type, "subscription.state") == 0 &&
	    (v = ev_get(ev, "state")) != NULL &&
	    strcmp(v, "terminated") == 0) {
		v = ev_get(ev, "reason");
		cmd_reply_err(r, "failed", "%.200s", v != NULL && v[0] != '\0' ?
		    v : "the subscription ended before any NOTIFY");
		cmd_record_begin(r);
		cmd_record_kv(r, "state", "terminated");
		cmd_record_kv(r, "reason", v != NULL ? v : "");
		cmd_record_end(r);
	} else {
		return;
	}
	sj->done = true;
	if (!sj->placing)
		sub_job_end(sj);
}

static void
sub_jobs_deliver(const struct events_event *ev, void *arg)
{
	const char *id;
	unsigned long long n;
	char *end;

	(void)arg;
	if (!ev->live || (id = ev_get(ev, "id")) == NULL)
		return;
	n = strtoull(id, &end, 10);
	if (*end != '\0')
		return;
	for (struct sub_job *sj = sub_jobs; sj != NULL; sj = sj->next)
		if (sj->sub == n && ev->account != NULL &&
		    strcmp(ev->account, sj->account) == 0) {
			sub_job_deliver(sj, ev);
			return;
		}
}

/* The connection went away: stop watching; the subscription goes on. */
static void
sub_job_cancel(void *arg)
{
	struct sub_job *sj = arg;

	sub_jobs_remove(sj);
	sub_job_free(sj);
}

/* ---- subscribe ------------------------------------------------------------- */

static void
sub_error(struct cmd_reply *r, const struct sub_params *p, int rc,
    const char *err)
{
	switch (rc) {
	case ENOENT:
		cmd_reply_err(r, "not-found", "no account '%.64s'",
		    p->account);
		break;
	case EINVAL:
	case EEXIST:
		cmd_reply_err(r, "usage", "%s", err);
		break;
	case EBUSY:
		cmd_reply_err(r, "failed", "%s; unsubscribe some first", err);
		break;
	case ESHUTDOWN:
		cmd_reply_err(r, "failed", "sipxd is stopping");
		break;
	default:
		cmd_reply_err(r, "failed", "%s", err[0] != '\0' ? err :
		    strerror(rc));
		break;
	}
}

void
cmd_subscribe(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	struct sub_params p = { 0 };
	struct sub_job *sj;
	char *key, *value, err[256];
	uint64_t id;
	int rc;

	p.account = argv[1];
	p.uri = argv[2];
	for (int i = 3; i < argc; i++) {
		if (ctl_kv_split(argv[i], &key, &value) != 0) {
			cmd_reply_err(r, "usage", "'%.64s' is not an option; "
			    "options are event= and expires=", argv[i]);
			return;
		}
		if (strcmp(key, "event") == 0 && p.event == NULL) {
			if (sub_package_from(value, strlen(value)) < 0) {
				cmd_reply_err(r, "usage", "event must be "
				    "message-summary, presence or dialog");
				return;
			}
			p.event = value;
		} else if (strcmp(key, "expires") == 0 && p.expires == 0) {
			unsigned long v;
			char *end;

			v = strtoul(value, &end, 10);
			if (value[0] < '0' || value[0] > '9' || *end != '\0' ||
			    v < 1 || v > SUB_EXPIRES_MAX) {
				cmd_reply_err(r, "usage", "expires must be "
				    "1..%d seconds", SUB_EXPIRES_MAX);
				return;
			}
			p.expires = (unsigned)v;
		} else if (strcmp(key, "event") == 0 ||
		    strcmp(key, "expires") == 0) {
			cmd_reply_err(r, "usage", "%s= given twice", key);
			return;
		} else {
			cmd_reply_err(r, "usage", "unknown option '%.32s'; "
			    "options are event= and expires=", key);
			return;
		}
	}
	if (p.event == NULL) {
		cmd_reply_err(r, "usage", "event= is required "
		    "(message-summary, presence or dialog)");
		return;
	}
	if (daemon_subs() == NULL) {
		cmd_reply_err(r, "failed", "subscriptions are not running");
		return;
	}
	sj = xcalloc(1, sizeof(*sj));
	sj->job = control_job_start(ctx->client, "subscribe", sub_job_cancel,
	    sj, &rc);
	if (sj->job == NULL) {
		free(sj);
		cmd_reply_err(r, "failed", "%d jobs already running on this "
		    "connection; wait for their results or use another "
		    "connection", SIPX_CTL_JOBS_MAX);
		return;
	}
	sj->sub = control_job_id(sj->job);
	sj->account = xstrdup(p.account);
	p.id = sj->sub;
	/* Watch before subscribing: the first event may come at once. */
	sj->placing = true;
	sub_jobs_add(sj);
	err[0] = '\0';
	rc = sub_subscribe(daemon_subs(), &p, &id, err, sizeof(err));
	sj->placing = false;
	if (rc != 0) {
		sub_jobs_remove(sj);
		control_job_abandon(sj->job);
		sub_job_free(sj);
		sub_error(r, &p, rc, err);
		return;
	}
	cmd_reply_ok(r, "id=%llu", (unsigned long long)id);
	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)id);
	cmd_record_end(r);
	/* Control frames a result after this OK, never before it. */
	if (sj->done)
		sub_job_end(sj);
}

void
cmd_unsubscribe(struct cmd_ctx *ctx, int argc, char **argv,
    struct cmd_reply *r)
{
	uint64_t id;
	int rc;

	if (cmd_id_parse(argv[1], &id) != 0) {
		cmd_reply_err(r, "usage", "'%.64s' is not a subscription id "
		    "(see 'subscriptions')", argv[1]);
		return;
	}
	rc = daemon_subs() != NULL ? sub_unsubscribe(daemon_subs(), id) :
	    ENOENT;
	if (rc == ENOENT)
		cmd_reply_err(r, "not-found", "no subscription %llu of ours",
		    (unsigned long long)id);
	else if (rc == EALREADY)
		cmd_reply_err(r, "failed", "subscription %llu is already "
		    "ending", (unsigned long long)id);
	else
		cmd_reply_ok(r, "unsubscribing %llu", (unsigned long long)id);
}

/* ---- subscriptions ---------------------------------------------------------- */

static void
subs_row(const struct sub_summary *s, void *arg)
{
	struct cmd_reply *r = arg;

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)s->id);
	cmd_record_kv(r, "account", s->account);
	cmd_record_kv(r, "dir", sub_dir_name(s->dir));
	cmd_record_kv(r, "event", sub_package_name(s->package));
	cmd_record_kv(r, "uri", s->uri);
	cmd_record_kv(r, "state", sub_state_name(s->state));
	if (s->expires_in >= 0)
		cmd_record_kvf(r, "expires_in", "%ld", s->expires_in);
	else
		cmd_record_kv(r, "expires_in", "-");
	cmd_record_kvf(r, "notifies", "%u", s->notifies);
	if (s->last_notify > 0)
		cmd_record_kvf(r, "last_notify_at", "%.3f", s->last_notify);
	else
		cmd_record_kv(r, "last_notify_at", "-");
	cmd_record_kv(r, "reason", s->reason[0] != '\0' ? s->reason : "-");
	cmd_record_kv(r, "content_type", s->content_type[0] != '\0' ?
	    s->content_type : "-");
	cmd_record_kvf(r, "body_dropped", "%zu", s->body_dropped);
	/* The body whole, escaped by the codec. */
	cmd_record_kv(r, "body", s->body);
	cmd_record_end(r);
}

void
cmd_subscriptions(struct cmd_ctx *ctx, int argc, char **argv,
    struct cmd_reply *r)
{
	if (daemon_subs() != NULL)
		sub_foreach(daemon_subs(), subs_row, r);
}
