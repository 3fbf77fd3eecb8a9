/*
 * SIP core of the user agent (see ua.h): transport → transaction layer
 * → this file's request dispatch; and the OPTIONS client.  Usages that
 * come later (registration, calls, MESSAGE) hang off struct ua and take
 * their requests from ua_on_request.
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
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_uri.h"
#include "ua.h"

/* What we answer in OPTIONS (RFC 3261 §11.2). */
#define UA_ALLOW	"INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE"
#define UA_ACCEPT	"application/sdp, text/plain"
#define UA_SUPPORTED	""	/* no extension yet: an empty list */

struct ua {
	struct event_base	*base;
	struct sip_tp		*tp;
	struct sip_resolve	*res;
	struct sip_trans_layer	*trans;
	char			*user_agent;
	char			*default_from;
	char			**users;	/* sorted, for bsearch */
	size_t			 nusers;
	bool			 reject_unknown;
};

/* ---- incoming requests ------------------------------------------------- */

static void
ua_answer_options(struct ua *ua, struct sip_strans *st,
    const struct sip_msg *req)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	char tag[17];

	random_hex(tag, 8);
	sip_build_response_to(&b, req, 200, "OK", tag);
	sip_build_add(&b, SIP_HDR_ALLOW, UA_ALLOW);
	sip_build_add(&b, SIP_HDR_ACCEPT, UA_ACCEPT);
	sip_build_add(&b, SIP_HDR_SUPPORTED, UA_SUPPORTED);
	sip_build_add(&b, SIP_HDR_SERVER, ua->user_agent);
	sip_build_finish(&b, &out);
	if (sip_strans_respond(st, out.p, out.n) != 0)
		log_debug("ua: could not answer OPTIONS");
	strbuf_free(&out);
	sip_build_free(&b);
}

static int
ua_user_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ua_set_users(struct ua *ua, const char *const *users, size_t n,
    bool reject_unknown)
{
	for (size_t i = 0; i < ua->nusers; i++)
		free(ua->users[i]);
	free(ua->users);
	ua->users = xreallocarray(NULL, n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		ua->users[i] = xstrdup(users[i]);
	ua->nusers = n;
	qsort(ua->users, n, sizeof(char *), ua_user_cmp);
	ua->reject_unknown = reject_unknown;
}

/* User parts compare as written after unescaping (RFC 3261 §19.1.4). */
static bool
ua_knows_user(const struct ua *ua, const struct sip_uri *uri)
{
	char user[256];
	const char *key = user;
	int n;

	if (!ua->reject_unknown || uri->user.n == 0)
		return true;
	n = sip_unescape(uri->user, user, sizeof(user) - 1);
	if (n < 0)
		return false;
	user[n] = '\0';
	return bsearch(&key, ua->users, ua->nusers, sizeof(char *),
	    ua_user_cmp) != NULL;
}

static void
ua_on_request(struct sip_trans_layer *layer, struct sip_strans *st,
    const struct sip_msg *msg, void *arg)
{
	struct ua *ua = arg;
	char tag[17];

	if (st == NULL)
		return;		/* an ACK for a 2xx: no dialog yet */
	random_hex(tag, 8);
	switch (msg->method) {
	case SIP_METHOD_OPTIONS:
		if (!ua_knows_user(ua, &msg->ruri))
			sip_strans_reply(st, 404, "Not Found", tag);
		else
			ua_answer_options(ua, st, msg);
		break;
	case SIP_METHOD_CANCEL:
		/* §9.2: nothing to cancel (no INVITE server yet). */
		sip_strans_reply(st, 481, "Call/Transaction Does Not Exist",
		    tag);
		break;
	default:
		sip_strans_reply(st, 501, "Not Implemented", tag);
		break;
	}
}

/* ---- wiring --------------------------------------------------------------- */

static void
ua_tp_recv(struct sip_msg *msg, const struct sip_dest *src, void *arg)
{
	struct ua *ua = arg;

	sip_trans_recv(ua->trans, msg, src);
}

static void
ua_tp_fail(uint64_t conn_id, int err, void *arg)
{
	struct ua *ua = arg;

	sip_trans_tp_failed(ua->trans, conn_id, err);
}

int
ua_start(struct ua **out, struct event_base *base, const struct ua_conf *conf,
    char *err, size_t errlen)
{
	struct ua *ua = xcalloc(1, sizeof(*ua));
	struct sip_tp_conf tpc;
	struct sip_resolve_config rc;
	struct sip_trans_conf tc;
	int rc_err;

	*out = NULL;
	ua->base = base;
	ua->user_agent = xstrdup(conf->user_agent);
	ua->default_from = xstrdup(conf->default_from);
	if (conf->tp != NULL)
		tpc = *conf->tp;
	else
		sip_tp_conf_default(&tpc);
	tpc.ca_file = conf->tls_ca_file;
	tpc.ca_dir = conf->tls_ca_dir;
	tpc.tls_no_verify = conf->tls_no_verify;
	ua->tp = sip_tp_new(base, &tpc);
	for (size_t i = 0; i < conf->nlisten; i++) {
		const struct sip_tp_listen_conf *l = &conf->listen[i];

		rc_err = sip_tp_listen(ua->tp, l, NULL);
		if (rc_err != 0) {
			char why[512];

			/* OpenSSL's reason, not "Protocol error". */
			if (rc_err != EPROTO || sip_tp_check_tls(l->cert,
			    l->key, why, sizeof(why)) == 0)
				snprintf(why, sizeof(why), "%s",
				    strerror(rc_err));
			snprintf(err, errlen, "cannot listen on %s %s: %s",
			    sip_tp_proto_name(l->transport), l->address, why);
			ua_free(ua);
			return rc_err;
		}
	}
	sip_resolve_config_default(&rc);
	rc.servers = conf->dns_servers;
	rc.nservers = conf->ndns_servers;
	rc_err = sip_resolve_new(&ua->res, base, &rc);
	if (rc_err != 0) {
		snprintf(err, errlen, "cannot start the DNS resolver: %s",
		    strerror(rc_err));
		ua_free(ua);
		return rc_err;
	}
	sip_trans_conf_default(&tc);
	tc.t1_ms = conf->t1_ms;
	tc.t2_ms = conf->t2_ms;
	tc.t4_ms = conf->t4_ms;
	ua->trans = sip_trans_layer_new(base, &tc, &sip_tp_ops, ua->tp);
	sip_trans_set_request_handler(ua->trans, ua_on_request, ua);
	sip_tp_set_recv(ua->tp, ua_tp_recv, ua);
	sip_tp_set_fail(ua->tp, ua_tp_fail, ua);
	*out = ua;
	return 0;
}

void
ua_free(struct ua *ua)
{
	if (ua == NULL)
		return;
	/* Transactions first: they hold no transport state once gone. */
	if (ua->trans != NULL)
		sip_trans_layer_free(ua->trans);
	if (ua->res != NULL)
		sip_resolve_free(ua->res);
	if (ua->tp != NULL)
		sip_tp_free(ua->tp);
	for (size_t i = 0; i < ua->nusers; i++)
		free(ua->users[i]);
	free(ua->users);
	free(ua->user_agent);
	free(ua->default_from);
	free(ua);
}

struct sip_trans_layer *
ua_trans(struct ua *ua)
{
	return ua->trans;
}

const struct sip_tp_stats *
ua_tp_stats(const struct ua *ua)
{
	return sip_tp_stats(ua->tp);
}

void
ua_set_trace(struct ua *ua, sip_tp_trace_h *h, void *arg)
{
	sip_tp_set_trace(ua->tp, h, arg);
}

/* ---- OPTIONS client ----------------------------------------------------- */

struct ua_options_req {
	struct ua			*ua;
	char				*uri_text;
	struct sip_uri			 uri;
	char				*from;
	ua_options_cb			*cb;
	void				*arg;
	struct sip_resolve_query	*q;
	struct sip_resolve_target	 targets[SIP_RESOLVE_TARGETS_MAX];
	size_t				 ntargets, next;
	struct sip_ctrans		*ct;
	struct event			*timer;
	struct event			*done;
	uint64_t			 sent_us;
	char				 call_id[33];
	char				 tag[17];
	uint32_t			 cseq;
	int				 last_err;
	struct ua_options_result	 res;
};

static void ua_options_try(struct ua_options_req *);

static void
ua_options_release(struct ua_options_req *r)
{
	if (r->ct != NULL)
		sip_ctrans_detach(r->ct);
	if (r->q != NULL)
		sip_resolve_cancel(r->q);
	event_free(r->timer);
	event_free(r->done);
	free(r->uri_text);
	free(r->from);
	free(r);
}

static void
ua_options_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ua_options_req *r = arg;

	r->cb(&r->res, r->arg);
	ua_options_release(r);
}

/* Ends the attempt: the user hears of it from the loop, never nested. */
static void
ua_options_finish(struct ua_options_req *r, int err)
{
	if (r->ct != NULL) {
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
	}
	if (r->q != NULL) {
		sip_resolve_cancel(r->q);
		r->q = NULL;
	}
	evtimer_del(r->timer);
	r->res.err = err;
	event_active(r->done, EV_TIMEOUT, 0);
}

/* The caller's bound, told apart (ETIME) from Timer F (ETIMEDOUT). */
static void
ua_options_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	ua_options_finish(arg, ETIME);
}

static void
ua_options_copy_tokens(char *out, size_t len, const struct sip_tokens *t)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < t->n && used + 1 < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%.*s",
		    i ? ", " : "", SLICE_ARG(t->v[i]));
}

static void
ua_options_on_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev,
    int err, const struct sip_msg *msg, void *arg)
{
	struct ua_options_req *r = arg;
	struct slice ua;

	switch (ev) {
	case SIP_TRANS_EV_RESPONSE:
		if (msg->status < 200)
			return;
		/* RFC 3263 §4.3: a 503 sends us to the next target. */
		if (msg->status == 503 && r->next < r->ntargets) {
			sip_ctrans_detach(r->ct);
			r->ct = NULL;
			r->last_err = EAGAIN;
			ua_options_try(r);
			return;
		}
		r->res.status = msg->status;
		snprintf(r->res.reason, sizeof(r->res.reason), "%.*s",
		    SLICE_ARG(msg->reason));
		r->res.rtt_ms = (double)(time_mono_us() - r->sent_us) / 1000.0;
		ua = msg->user_agent.n > 0 ? msg->user_agent : msg->server;
		snprintf(r->res.user_agent, sizeof(r->res.user_agent),
		    "%.*s", SLICE_ARG(ua));
		ua_options_copy_tokens(r->res.allow, sizeof(r->res.allow),
		    &msg->allow);
		ua_options_finish(r, 0);
		return;
	case SIP_TRANS_EV_TIMEOUT:
	case SIP_TRANS_EV_TP_ERROR:
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
		r->last_err = ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT : err;
		ua_options_try(r);
		return;
	case SIP_TRANS_EV_TERMINATED:
		r->ct = NULL;
		return;
	case SIP_TRANS_EV_ACK:
		return;
	}
}

static enum sip_tp_proto
ua_proto_of(enum sip_resolve_tp t)
{
	switch (t) {
	case SIP_RESOLVE_TCP: return SIP_TP_TCP;
	case SIP_RESOLVE_TLS: return SIP_TP_TLS;
	case SIP_RESOLVE_UDP: break;
	}
	return SIP_TP_UDP;
}

/* Sends to the next target; finishes when none is left. */
static void
ua_options_try(struct ua_options_req *r)
{
	struct ua *ua = r->ua;

	while (r->next < r->ntargets) {
		const struct sip_resolve_target *t = &r->targets[r->next++];
		struct sip_build b = { 0 };
		struct strbuf via = STRBUF_INIT, out = STRBUF_INIT;
		struct sip_dest dst;
		char addr[64];
		int err;

		sip_tp_addr_str((const struct sockaddr *)&t->addr, addr,
		    sizeof(addr));
		snprintf(r->res.target, sizeof(r->res.target), "%s %s",
		    sip_tp_proto_name(ua_proto_of(t->transport)), addr);
		err = sip_tp_dest_make(&dst, ua_proto_of(t->transport),
		    (const struct sockaddr *)&t->addr, t->len);
		if (err == 0)
			err = sip_tp_open(ua->tp, &dst, t->domain[0] ?
			    t->domain : NULL);
		if (err == 0)
			err = sip_tp_via(ua->tp, &dst, NULL, &via);
		if (err != 0) {
			r->last_err = err;
			strbuf_free(&via);
			continue;
		}
		sip_build_request(&b, "OPTIONS", r->uri_text);
		sip_build_add(&b, SIP_HDR_VIA, via.p);
		sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
		sip_build_addf(&b, SIP_HDR_FROM, "<%s>;tag=%s", r->from, r->tag);
		sip_build_addf(&b, SIP_HDR_TO, "<%s>", r->uri_text);
		sip_build_add(&b, SIP_HDR_CALL_ID, r->call_id);
		sip_build_addf(&b, SIP_HDR_CSEQ, "%u OPTIONS", ++r->cseq);
		sip_build_add(&b, SIP_HDR_ACCEPT, "application/sdp");
		sip_build_add(&b, SIP_HDR_USER_AGENT, ua->user_agent);
		sip_build_finish(&b, &out);
		r->sent_us = time_mono_us();
		err = sip_ctrans_send(ua->trans, out.p, out.n, &dst,
		    ua_options_on_ctrans, r, &r->ct);
		strbuf_free(&out);
		strbuf_free(&via);
		sip_build_free(&b);
		if (err == 0)
			return;
		r->last_err = err;
	}
	ua_options_finish(r, r->last_err != 0 ? r->last_err : ENOENT);
}

static void
ua_options_resolved(int error, const struct sip_resolve_target *targets,
    size_t n, void *arg)
{
	struct ua_options_req *r = arg;

	r->q = NULL;
	if (error != 0) {
		ua_options_finish(r, error);
		return;
	}
	if (n > SIP_RESOLVE_TARGETS_MAX)
		n = SIP_RESOLVE_TARGETS_MAX;
	memcpy(r->targets, targets, n * sizeof(*targets));
	r->ntargets = n;
	r->next = 0;
	ua_options_try(r);
}

int
ua_options_send(struct ua *ua, const char *uri, const char *from,
    unsigned timeout_ms, ua_options_cb *cb, void *arg,
    struct ua_options_req **out)
{
	struct ua_options_req *r = xcalloc(1, sizeof(*r));
	struct timeval tv = { timeout_ms / 1000,
	    (suseconds_t)(timeout_ms % 1000) * 1000 };
	const char *why;
	int err;

	r->ua = ua;
	r->uri_text = xstrdup(uri);
	r->from = xstrdup(from != NULL ? from : ua->default_from);
	r->cb = cb;
	r->arg = arg;
	r->timer = evtimer_new(ua->base, ua_options_timeout_cb, r);
	r->done = event_new(ua->base, -1, 0, ua_options_done_cb, r);
	random_hex(r->call_id, 16);
	random_hex(r->tag, 8);
	if (sip_uri_parse(&r->uri, r->uri_text, strlen(r->uri_text),
	    &why) != 0 || (r->uri.scheme != SIP_URI_SIP &&
	    r->uri.scheme != SIP_URI_SIPS)) {
		ua_options_release(r);
		return EINVAL;
	}
	err = sip_resolve_uri(ua->res, &r->uri, ua_options_resolved, r, &r->q);
	if (err != 0) {
		ua_options_release(r);
		return err;
	}
	evtimer_add(r->timer, &tv);
	*out = r;
	return 0;
}

void
ua_options_cancel(struct ua_options_req *r)
{
	if (r != NULL)
		ua_options_release(r);
}
