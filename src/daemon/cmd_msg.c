/*
 * MESSAGE and request commands (see cmd_msg.h).  A job here owns its
 * request: the connection going away cancels the request (its
 * transaction runs out alone), and the request's end finishes the job;
 * neither outlives the other.  The responses a job reports are its own
 * progress lines, not bus events: no other client sees them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/strbuf.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "sip/sip_msg.h"
#include "ua/events.h"
#include "ua/message.h"
#include "ua/request.h"
#include "ua/ua.h"
#include "cmd_msg.h"
#include "cmd_sip.h"
#include "control.h"
#include "daemon.h"

#define MSG_TIMEOUT_MAX		(REQUEST_TIMEOUT_MAX_MS / 1000)

struct msg_job {
	struct control_job	*job;
	struct request		*req;
	char			*account;
	bool			 message;	/* else `request` */
	unsigned		 timeout_s;	/* 0: the default */
	char			 id[24];
};

static void
msg_job_free(struct msg_job *mj)
{
	free(mj->account);
	free(mj);
}

/* The connection went away: the request goes too. */
static void
msg_job_cancel(void *arg)
{
	struct msg_job *mj = arg;

	request_cancel(mj->req);
	msg_job_free(mj);
}

/*
 * "EVENT request.response id=N status= reason= headers= body=" for the
 * connection that started the job: every header line as received
 * ("Name: value", one per line), the body as text or base64.
 */
static void
msg_job_response(const struct sip_msg *m, void *arg)
{
	struct msg_job *mj = arg;
	struct events_kv kv[8];
	struct events_event ev = { 0 };
	struct strbuf hdrs = STRBUF_INIT, body = STRBUF_INIT;
	char status[8], reason[256];
	const char *enc;
	size_t n = 0;

	snprintf(status, sizeof(status), "%u", m->status);
	snprintf(reason, sizeof(reason), "%.*s", SLICE_ARG(m->reason));
	for (unsigned i = 0; i < m->nhdrs; i++)
		strbuf_addf(&hdrs, "%s%.*s: %.*s", i > 0 ? "\n" : "",
		    SLICE_ARG(m->hdrs[i].name), SLICE_ARG(m->hdrs[i].value));
	enc = text_show(&body, m->body.p != NULL ? m->body.p : "", m->body.n);
	kv[n++] = (struct events_kv){ "id", mj->id };
	kv[n++] = (struct events_kv){ "status", status };
	kv[n++] = (struct events_kv){ "reason", reason };
	kv[n++] = (struct events_kv){ "headers", hdrs.n > 0 ? hdrs.p : "" };
	kv[n++] = (struct events_kv){ "body", body.n > 0 ? body.p : "" };
	if (enc[0] != '\0')
		kv[n++] = (struct events_kv){ "encoding", enc };
	ev.type = "request.response";
	ev.seq = events_last_seq();
	ev.time = time_real();
	ev.account = mj->account;
	ev.kv = kv;
	ev.nkv = n;
	/* Not a bus event: for this job's connection alone. */
	ev.live = false;
	control_job_event(mj->job, &ev);
	strbuf_free(&hdrs);
	strbuf_free(&body);
}

/* Why no final response came, as an ERR of the job's result. */
static void
msg_job_error(struct cmd_reply *r, const struct msg_job *mj,
    const struct request_result *res)
{
	const char *what = mj->message ? "MESSAGE" : "request";

	if (!res->dns && res->err == EMSGSIZE) {
		cmd_reply_err(r, "failed", "the %s is %zu bytes: over UDP, "
		    "RFC 3428 §8 allows %d; use a tcp or tls account or "
		    "URI (;transport=tcp), or a shorter text", what, res->size,
		    SIPX_MESSAGE_UDP_MAX);
		return;
	}
	cmd_sip_request_error(r, what, res->err, res->dns, res->detail,
	    res->target, mj->timeout_s != 0 ? mj->timeout_s :
	    REQUEST_TIMEOUT_DEFAULT_MS / 1000);
}

static void
msg_job_done(const struct request_result *res, void *arg)
{
	struct msg_job *mj = arg;
	struct cmd_reply *r = control_job_reply(mj->job);

	if (res->err != 0)
		msg_job_error(r, mj, res);
	else if (res->status >= 200 && res->status < 300)
		cmd_reply_ok(r, NULL);
	else
		cmd_reply_err(r, "failed", "%u %s", res->status, res->reason);
	cmd_record_begin(r);
	cmd_record_kvf(r, "status", "%u", res->status);
	cmd_record_kv(r, "reason", res->reason);
	cmd_record_kvf(r, "responses", "%u", res->responses);
	cmd_record_kv(r, "challenged", res->challenged ? "yes" : "no");
	cmd_record_kv(r, "target", res->target);
	cmd_record_end(r);
	/* The request is gone after this callback. */
	control_job_finish(mj->job);
	msg_job_free(mj);
}

/* A job for the request about to start; NULL with the ERR in r. */
static struct msg_job *
msg_job_new(struct cmd_ctx *ctx, const char *kind, const char *account,
    struct cmd_reply *r)
{
	struct msg_job *mj;
	int err;

	if (ctx->readonly) {
		cmd_reply_err(r, "denied", "'%s' sends SIP and needs the "
		    "full-access socket", kind);
		return NULL;
	}
	mj = xcalloc(1, sizeof(*mj));
	mj->job = control_job_start(ctx->client, kind, msg_job_cancel, mj,
	    &err);
	if (mj->job == NULL) {
		free(mj);
		cmd_reply_err(r, "failed", "%d jobs already running on this "
		    "connection; wait for their results or use another "
		    "connection", SIPX_CTL_JOBS_MAX);
		return NULL;
	}
	mj->account = xstrdup(account);
	mj->message = strcmp(kind, "message") == 0;
	snprintf(mj->id, sizeof(mj->id), "%llu", control_job_id(mj->job));
	return mj;
}

/* The request did not start: no job, the reason as the reply. */
static void
msg_job_refused(struct msg_job *mj, int rc, const char *err,
    struct cmd_reply *r)
{
	control_job_abandon(mj->job);
	msg_job_free(mj);
	switch (rc) {
	case ENOENT:
		cmd_reply_err(r, "not-found", "%s", err);
		break;
	case EINVAL:
	case EMSGSIZE:
		cmd_reply_err(r, "usage", "%s", err);
		break;
	default:
		cmd_reply_err(r, "failed", "%s", err[0] != '\0' ? err :
		    strerror(rc));
		break;
	}
}

static void
msg_job_started(struct msg_job *mj, struct cmd_reply *r)
{
	/* The resolver answers from the loop: nothing has come yet. */
	cmd_reply_ok(r, "id=%s", mj->id);
	cmd_record_begin(r);
	cmd_record_kv(r, "id", mj->id);
	cmd_record_end(r);
}

void
cmd_message(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	struct message_params p = { 0 };
	bool seen_type = false, seen_timeout = false;
	unsigned timeout_s = 0;
	struct msg_job *mj;
	char *key, *value, err[256];
	int rc;

	p.account = argv[1];
	p.uri = argv[2];
	p.text = argv[3];
	p.len = strlen(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (ctl_kv_split(argv[i], &key, &value) != 0 ||
		    (strcmp(key, "type") != 0 && strcmp(key, "timeout") != 0)) {
			cmd_reply_err(r, "usage", "'%.64s' is not an option; "
			    "options are type= and timeout= (quote a TEXT "
			    "with spaces)", argv[i]);
			return;
		}
		if ((strcmp(key, "type") == 0 && seen_type) ||
		    (strcmp(key, "timeout") == 0 && seen_timeout)) {
			cmd_reply_err(r, "usage", "%s= given twice", key);
			return;
		}
		if (strcmp(key, "type") == 0) {
			seen_type = true;
			if (request_check_type(value, err, sizeof(err)) != 0) {
				cmd_reply_err(r, "usage", "%s", err);
				return;
			}
			p.content_type = value;
		} else {
			seen_timeout = true;
			if (cmd_uint_parse(value, 1, MSG_TIMEOUT_MAX,
			    &timeout_s) != 0) {
				cmd_reply_err(r, "usage", "timeout must be "
				    "1..%d seconds", MSG_TIMEOUT_MAX);
				return;
			}
			p.timeout_ms = timeout_s * 1000;
		}
	}
	if ((mj = msg_job_new(ctx, "message", p.account, r)) == NULL)
		return;
	mj->timeout_s = timeout_s;
	rc = message_send(daemon_messages(), &p, msg_job_response,
	    msg_job_done, mj, &mj->req, err, sizeof(err));
	if (rc != 0) {
		msg_job_refused(mj, rc, err, r);
		return;
	}
	msg_job_started(mj, r);
}

void
cmd_request(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	struct request_params p = { 0 };
	const char *headers[SIPX_REQUEST_HEADERS_MAX];
	bool seen_type = false, seen_timeout = false;
	unsigned timeout_s = 0;
	struct msg_job *mj;
	char *key, *value, err[256];
	int rc;

	p.account = argv[1];
	p.method = argv[2];
	p.uri = argv[3];
	p.headers = headers;
	for (int i = 4; i < argc; i++) {
		if (ctl_kv_split(argv[i], &key, &value) != 0) {
			cmd_reply_err(r, "usage", "'%.64s' is not an option; "
			    "options are header=, body=, type= and timeout=",
			    argv[i]);
			return;
		}
		if ((strcmp(key, "body") == 0 && p.body != NULL) ||
		    (strcmp(key, "type") == 0 && seen_type) ||
		    (strcmp(key, "timeout") == 0 && seen_timeout)) {
			cmd_reply_err(r, "usage", "%s= given twice", key);
			return;
		}
		if (strcmp(key, "header") == 0) {
			if (p.nheaders == SIPX_REQUEST_HEADERS_MAX) {
				cmd_reply_err(r, "usage", "at most %d header= "
				    "options", SIPX_REQUEST_HEADERS_MAX);
				return;
			}
			if (request_check_header(value, err,
			    sizeof(err)) != 0) {
				cmd_reply_err(r, "usage", "%s", err);
				return;
			}
			headers[p.nheaders++] = value;
		} else if (strcmp(key, "body") == 0) {
			p.body = value;
			p.body_len = strlen(value);
		} else if (strcmp(key, "type") == 0) {
			seen_type = true;
			if (request_check_type(value, err, sizeof(err)) != 0) {
				cmd_reply_err(r, "usage", "%s", err);
				return;
			}
			p.content_type = value;
		} else if (strcmp(key, "timeout") == 0) {
			seen_timeout = true;
			if (cmd_uint_parse(value, 1, MSG_TIMEOUT_MAX,
			    &timeout_s) != 0) {
				cmd_reply_err(r, "usage", "timeout must be "
				    "1..%d seconds", MSG_TIMEOUT_MAX);
				return;
			}
			p.timeout_ms = timeout_s * 1000;
		} else {
			cmd_reply_err(r, "usage", "unknown option '%.32s'; "
			    "options are header=, body=, type= and timeout=",
			    key);
			return;
		}
	}
	if (p.content_type != NULL && p.body == NULL) {
		cmd_reply_err(r, "usage", "type= goes with body=");
		return;
	}
	if (request_check_method(p.method, err, sizeof(err)) != 0) {
		cmd_reply_err(r, "usage", "%s", err);
		return;
	}
	if ((mj = msg_job_new(ctx, "request", p.account, r)) == NULL)
		return;
	mj->timeout_s = timeout_s;
	rc = request_send(daemon_requests(), &p, msg_job_response,
	    msg_job_done, mj, &mj->req, err, sizeof(err));
	if (rc != 0) {
		msg_job_refused(mj, rc, err, r);
		return;
	}
	msg_job_started(mj, r);
}

/* ---- the inbox ----------------------------------------------------------- */

static void
messages_row(const struct message_entry *e, void *arg)
{
	struct cmd_reply *r = arg;
	struct strbuf body = STRBUF_INIT;
	const char *enc = text_show(&body, e->body, e->body_len);

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%" PRIu64, e->id);
	cmd_record_kvf(r, "time", "%.3f", e->time);
	cmd_record_kv(r, "from", e->from);
	cmd_record_kv(r, "to", e->to);
	cmd_record_kv(r, "content_type", e->content_type);
	cmd_record_kv(r, "body", body.n > 0 ? body.p : "");
	if (enc[0] != '\0')
		cmd_record_kv(r, "encoding", enc);
	cmd_record_end(r);
	strbuf_free(&body);
}

void
cmd_messages(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	size_t n;

	if (argc == 3 && strcmp(argv[2], "clear") != 0) {
		cmd_reply_usage(r, ctx->entry);
		return;
	}
	if (argc == 3) {
		if (message_inbox_clear(daemon_messages(), argv[1], &n) != 0) {
			cmd_reply_err(r, "not-found", "no account '%.64s'",
			    argv[1]);
			return;
		}
		cmd_reply_ok(r, "%zu message%s removed", n, n == 1 ? "" : "s");
		return;
	}
	if (message_inbox_foreach(daemon_messages(), argv[1], messages_row,
	    r) != 0)
		cmd_reply_err(r, "not-found", "no account '%.64s'", argv[1]);
}
