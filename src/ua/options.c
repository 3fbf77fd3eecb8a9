/*
 * The OPTIONS usage (RFC 3261 §11): as a server, the capabilities answer,
 * sent statelessly (§8.2.7) from the method table — the hot path of a
 * monitoring probe, so it costs a few copies into a stack buffer and no
 * transaction; as a client, `sipxctl options`: RFC 3263 resolution, one
 * client transaction per target, failover to the next target on a
 * transport error, a 503, or silence past the failover timeout, and the
 * targets that failed reported to the resolver's blocklist.  For the
 * probes of qualify.c, one OPTIONS to one target already resolved, with
 * no failover and no blocklist: the prober judges the target itself.
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
#include "ua_priv.h"

/* ---- OPTIONS server ------------------------------------------------------ */

static void
ua_options_answer(struct ua *ua, const struct ua_req *rq, void *arg)
{
	int err;

	if (!ua_user_known(ua, &rq->msg->ruri))
		err = ua_respond(ua, rq, 404, "Not Found", NULL);
	else
		err = ua_respond(ua, rq, 200, "OK", ua_caps_hdrs(ua));
	if (err != 0)
		log_debug("ua: could not answer OPTIONS: %s", strerror(err));
}

void
ua_options_init(struct ua *ua)
{
	if (ua_register_method(ua, "OPTIONS", ua_options_answer, NULL,
	    UA_METHOD_STATELESS) != 0)
		fatalx("ua: cannot register OPTIONS");
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
	const struct sip_resolve_target	*cur;	/* the target ct went to */
	struct event			*timer;
	struct event			*failover;
	struct event			*done;
	uint64_t			 sent_us;
	char				 call_id[33];
	char				 tag[17];
	uint32_t			 cseq;
	int				 last_err;
	bool				 single;	/* one target, no
							 * blocklist */
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
	event_free(r->failover);
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
	evtimer_del(r->failover);
	r->res.err = err;
	event_active(r->done, EV_TIMEOUT, 0);
}

/* The caller's bound, told apart (ETIME) from Timer F (ETIMEDOUT). */
static void
ua_options_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	ua_options_finish(arg, ETIME);
}

/*
 * RFC 3263 §4.3: the current target failed (err); remember it in the
 * resolver's blocklist so that the next request tries the others first,
 * abandon its transaction (it runs out its timers alone) and go on.
 */
static void
ua_options_next(struct ua_options_req *r, int err)
{
	if (r->cur != NULL && r->ua->blocklist_ms > 0 && !r->single)
		sip_resolve_mark_failed(r->ua->res, r->cur,
		    r->ua->blocklist_ms);
	if (r->ct != NULL) {
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
	}
	evtimer_del(r->failover);
	r->last_err = err;
	ua_options_try(r);
}

/* The failover timeout: the target is silent, try the next one. */
static void
ua_options_failover_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ua_options_req *r = arg;

	log_info("options: no answer from %s within %u ms, trying the next "
	    "target", r->res.target, r->ua->failover_ms);
	ua_options_next(r, ETIMEDOUT);
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
		if (msg->status < 200) {
			/* Alive: only Timer F (or the caller) ends it now. */
			evtimer_del(r->failover);
			return;
		}
		/* RFC 3263 §4.3: a 503 sends us to the next target. */
		if (msg->status == 503 && r->next < r->ntargets) {
			ua_options_next(r, EAGAIN);
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
		ua_options_next(r, ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT :
		    err);
		return;
	case SIP_TRANS_EV_TERMINATED:
		r->ct = NULL;
		return;
	case SIP_TRANS_EV_ACK:
		return;
	}
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
		err = ua_target_dest(ua, t, &dst);
		if (err == 0)
			err = sip_tp_via(ua->tp, &dst, NULL, &via);
		if (err != 0) {
			if (r->ua->blocklist_ms > 0 && !r->single)
				sip_resolve_mark_failed(ua->res, t,
				    ua->blocklist_ms);
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
		if (err == 0) {
			r->cur = t;
			/* Not for the last target: Timer F ends that one. */
			if (ua->failover_ms > 0 && r->next < r->ntargets) {
				struct timeval tv = { ua->failover_ms / 1000,
				    (suseconds_t)(ua->failover_ms % 1000) *
				    1000 };

				evtimer_add(r->failover, &tv);
			}
			return;
		}
		r->last_err = err;
		/* The limit holds for every target: no use going on. */
		if (err == ENOBUFS)
			break;
		if (ua->blocklist_ms > 0 && !r->single)
			sip_resolve_mark_failed(ua->res, t, ua->blocklist_ms);
	}
	ua_options_finish(r, r->last_err != 0 ? r->last_err : ENOENT);
}

static void
ua_options_resolved(int error, const struct sip_resolve_target *targets,
    size_t n, void *arg)
{
	struct ua_options_req *r = arg;

	if (error != 0) {
		snprintf(r->res.detail, sizeof(r->res.detail), "%s",
		    sip_resolve_reason(r->q));
		r->q = NULL;
		r->res.dns = true;
		ua_options_finish(r, error);
		return;
	}
	r->q = NULL;
	if (n > SIP_RESOLVE_TARGETS_MAX)
		n = SIP_RESOLVE_TARGETS_MAX;
	memcpy(r->targets, targets, n * sizeof(*targets));
	r->ntargets = n;
	r->next = 0;
	ua_options_try(r);
}

/* A request for uri, not sent yet; NULL for a URI that is not sip:/sips:. */
static struct ua_options_req *
ua_options_new(struct ua *ua, const char *uri, const char *from,
    ua_options_cb *cb, void *arg)
{
	struct ua_options_req *r = xcalloc(1, sizeof(*r));
	const char *why;

	r->ua = ua;
	r->uri_text = xstrdup(uri);
	r->from = xstrdup(from != NULL ? from : ua->default_from);
	r->cb = cb;
	r->arg = arg;
	r->timer = evtimer_new(ua->base, ua_options_timeout_cb, r);
	r->failover = evtimer_new(ua->base, ua_options_failover_cb, r);
	r->done = event_new(ua->base, -1, 0, ua_options_done_cb, r);
	random_hex(r->call_id, 16);
	random_hex(r->tag, 8);
	if (sip_uri_parse(&r->uri, r->uri_text, strlen(r->uri_text),
	    &why) != 0 || (r->uri.scheme != SIP_URI_SIP &&
	    r->uri.scheme != SIP_URI_SIPS)) {
		ua_options_release(r);
		return NULL;
	}
	return r;
}

static void
ua_options_bound(struct ua_options_req *r, unsigned timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000,
	    (suseconds_t)(timeout_ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

int
ua_options_send(struct ua *ua, const char *uri, const char *from,
    unsigned timeout_ms, ua_options_cb *cb, void *arg,
    struct ua_options_req **out)
{
	struct ua_options_req *r;
	int err;

	if ((r = ua_options_new(ua, uri, from, cb, arg)) == NULL)
		return EINVAL;
	err = sip_resolve_uri(ua->res, &r->uri, ua_options_resolved, r, &r->q);
	if (err != 0) {
		ua_options_release(r);
		return err;
	}
	ua_options_bound(r, timeout_ms);
	*out = r;
	return 0;
}

int
ua_options_send_target(struct ua *ua, const char *uri, const char *from,
    const struct sip_resolve_target *t, unsigned timeout_ms,
    ua_options_cb *cb, void *arg, struct ua_options_req **out)
{
	struct ua_options_req *r;

	if ((r = ua_options_new(ua, uri, from, cb, arg)) == NULL)
		return EINVAL;
	r->single = true;
	r->targets[0] = *t;
	r->ntargets = 1;
	ua_options_bound(r, timeout_ms);
	/* A failure to send ends it too: the callback comes from the loop. */
	ua_options_try(r);
	*out = r;
	return 0;
}

void
ua_options_cancel(struct ua_options_req *r)
{
	if (r != NULL)
		ua_options_release(r);
}
