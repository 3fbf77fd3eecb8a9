/*
 * SIP commands: `options` (a request through resolver and transactions;
 * a job: "OK id=N" at once, then an options.result event when the final
 * response, a timeout or an error comes),
 * `transactions` (the live ones) and `trace` (every message in and out).
 * Each translates between protocol arguments and a ua call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ua/events.h"
#include "ua/ua.h"
#include "cmd_sip.h"
#include "control.h"
#include "daemon.h"

#define OPTIONS_TIMEOUT_DEFAULT	5	/* seconds */
#define OPTIONS_TIMEOUT_MAX	300

struct options_job {
	struct control_job	*job;
	struct ua_options_req	*req;
	unsigned		 timeout_s;
};

static void
options_cancel(void *arg)
{
	struct options_job *job = arg;

	ua_options_cancel(job->req);
	free(job);
}

/*
 * Why a request of ours got no final response, as the ERR of its job:
 * what ("request", "MESSAGE") names it; err, dns, detail and target as
 * the usage reports them; timeout_s is the job's own limit (ETIME).
 */
void
cmd_sip_request_error(struct cmd_reply *r, const char *what, int err,
    bool dns, const char *detail, const char *target, unsigned timeout_s)
{
	if (dns) {
		if (err == ETIMEDOUT)
			cmd_reply_err(r, "failed", "DNS lookup failed: no answer "
			    "from the DNS servers (%s)", detail);
		else if (err == ENOENT)
			cmd_reply_err(r, "failed", "DNS lookup failed: no such "
			    "name or record (%s)", detail);
		else
			cmd_reply_err(r, "failed", "DNS lookup failed: %s",
			    detail);
		return;
	}
	switch (err) {
	case ETIME:
		cmd_reply_err(r, "failed", "no answer within %u s%s%s",
		    timeout_s, target[0] ? "; last tried " : "", target);
		break;
	case ETIMEDOUT:
		cmd_reply_err(r, "failed", "no answer: the %s timed out "
		    "(Timer F, 64*T1, or the failover timeout); last tried %s",
		    what, target);
		break;
	case EPROTO:
		cmd_reply_err(r, "failed", "TLS handshake with %s failed: its "
		    "certificate did not verify (untrusted CA or another "
		    "name; see sipxd.tls.ca_file and the log)", target);
		break;
	case ENOENT:
		cmd_reply_err(r, "failed", "no target to send to: every "
		    "address found was unusable");
		break;
	case ENOBUFS:
		cmd_reply_err(r, "failed", "too many SIP transactions: "
		    "sipxd.max_transactions (%zu) reached; try again later",
		    sip_trans_limit(ua_trans(daemon_ua())));
		break;
	default:
		cmd_reply_err(r, "failed", "transport error: %s%s%s",
		    strerror(err), target[0] ? " sending to " : "", target);
		break;
	}
}

static void
options_done(const struct ua_options_result *res, void *arg)
{
	struct options_job *job = arg;
	struct cmd_reply *r = control_job_reply(job->job);

	if (res->err != 0) {
		cmd_sip_request_error(r, "request", res->err, res->dns,
		    res->detail, res->target, job->timeout_s);
	} else {
		if (res->status >= 200 && res->status < 300)
			cmd_reply_ok(r, NULL);
		else
			cmd_reply_err(r, "failed", "%u %s", res->status,
			    res->reason);
		cmd_record_begin(r);
		cmd_record_kvf(r, "status", "%u", res->status);
		cmd_record_kv(r, "reason", res->reason);
		cmd_record_kvf(r, "rtt_ms", "%.1f", res->rtt_ms);
		cmd_record_kv(r, "target", res->target);
		cmd_record_kv(r, "user_agent", res->user_agent);
		cmd_record_kv(r, "allow", res->allow);
		cmd_record_end(r);
	}
	/* The request object is gone after this callback. */
	control_job_finish(job->job);
	free(job);
}

void
cmd_options(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	const char *account = NULL, *from = NULL;
	unsigned timeout_s = OPTIONS_TIMEOUT_DEFAULT;
	struct options_job *job;
	char *key, *value, *end;
	int err;

	for (int i = 2; i < argc; i++) {
		if (ctl_kv_split(argv[i], &key, &value) != 0) {
			cmd_reply_usage(r, ctx->entry);
			return;
		}
		if (strcmp(key, "account") == 0) {
			account = value;
		} else if (strcmp(key, "timeout") == 0) {
			unsigned long t = strtoul(value, &end, 10);

			if (*value == '\0' || *end != '\0' || t == 0 ||
			    t > OPTIONS_TIMEOUT_MAX) {
				cmd_reply_err(r, "usage", "timeout must be 1..%d "
				    "seconds", OPTIONS_TIMEOUT_MAX);
				return;
			}
			timeout_s = (unsigned)t;
		} else {
			cmd_reply_err(r, "usage", "unknown option '%.32s'; "
			    "options are account= and timeout=", key);
			return;
		}
	}
	if (account != NULL) {
		const struct account *a = account_set_find(daemon_accounts(),
		    account);

		if (a == NULL) {
			cmd_reply_err(r, "not-found", "no account '%.64s'",
			    account);
			return;
		}
		from = a->cfg->aor;
	}
	job = xcalloc(1, sizeof(*job));
	job->timeout_s = timeout_s;
	/* Lasting work: answered now, the result comes as an event. */
	job->job = control_job_start(ctx->client, "options", options_cancel,
	    job, &err);
	if (job->job == NULL) {
		free(job);
		cmd_reply_err(r, "failed", "%d probes already running on this "
		    "connection; wait for their results", SIPX_CTL_JOBS_MAX);
		return;
	}
	err = ua_options_send(daemon_ua(), argv[1], from, timeout_s * 1000,
	    options_done, job, &job->req);
	if (err != 0) {
		control_job_abandon(job->job);
		free(job);
		if (err == EPROTONOSUPPORT)
			cmd_reply_err(r, "usage", "'%.128s': sipxd cannot use "
			    "its transport (udp, tcp or tls; no udp with "
			    "sips:)", argv[1]);
		else
			cmd_reply_err(r, "usage", "'%.128s' is not a sip: or "
			    "sips: URI", argv[1]);
		return;
	}
	/* The resolver answers from the loop: nothing has completed yet. */
	cmd_reply_ok(r, "id=%llu", control_job_id(job->job));
	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", control_job_id(job->job));
	cmd_record_end(r);
}

static void
transactions_row(const struct sip_trans_info *ti, void *arg)
{
	struct cmd_reply *r = arg;

	cmd_record_begin(r);
	cmd_record_kvf(r, "id", "%llu", (unsigned long long)ti->id);
	cmd_record_kv(r, "method", ti->method);
	cmd_record_kv(r, "role", ti->role);
	cmd_record_kv(r, "state", ti->state);
	cmd_record_kvf(r, "age", "%llu.%03u",
	    (unsigned long long)(ti->age_ms / 1000),
	    (unsigned)(ti->age_ms % 1000));
	cmd_record_kv(r, "branch", ti->branch);
	cmd_record_end(r);
}

void
cmd_transactions(struct cmd_ctx *ctx, int argc, char **argv,
    struct cmd_reply *r)
{
	sip_trans_foreach(ua_trans(daemon_ua()), transactions_row, r);
}

void
cmd_trace(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	if (argc == 2 && strcmp(argv[1], "off") == 0) {
		control_client_unsubscribe(ctx->client);
		cmd_reply_ok(r, "unsubscribed");
		return;
	}
	if (argc != 1) {
		cmd_reply_usage(r, ctx->entry);
		return;
	}
	cmd_reply_ok(r, "tracing");
	r->subscribe = true;
	r->sub_kinds = EVENTS_KIND_TRACE;
	r->sub_account = NULL;
}
