/*
 * Client transactions: RFC 3261 §17.1.1 (INVITE: Calling, Proceeding,
 * Completed, Terminated; Timers A, B, D), §17.1.2 (non-INVITE: Trying,
 * Proceeding, Completed, Terminated; Timers E, F, K) and RFC 6026 §7.2
 * (INVITE Accepted state, Timer M = 64*T1, so that 2xx retransmissions
 * and 2xx from other forks reach the user).  The ACK for a non-2xx
 * final response is built and sent here (§17.1.1.3); the ACK for a 2xx
 * is the user's (§13.2.2.4).
 *
 * One switch per event (response, timer, transport error); every state
 * change goes through ctrans_set_state().  Retransmission happens only
 * on unreliable transports (§17.1.1.2, §17.1.2.2), that is, where the
 * transport really sent the request: a large UDP request it switched to
 * TCP (§18.1.1) is not retransmitted, and goes back to UDP if the TCP
 * connect is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_trans_priv.h"

enum ctrans_timer {
	CTRANS_TIMER_NONE,
	CTRANS_TIMER_A,		/* INVITE retransmit */
	CTRANS_TIMER_B,		/* INVITE timeout */
	CTRANS_TIMER_D,		/* INVITE Completed wait */
	CTRANS_TIMER_E,		/* non-INVITE retransmit */
	CTRANS_TIMER_F,		/* non-INVITE timeout */
	CTRANS_TIMER_K,		/* non-INVITE Completed wait */
	CTRANS_TIMER_M,		/* INVITE Accepted wait (RFC 6026) */
};

struct sip_ctrans {
	struct sip_trans	 t;		/* first: the layer's view */
	enum sip_ctrans_state	 state;
	bool			 invite;
	char			*buf;		/* the request as sent */
	size_t			 len;
	struct sip_msg		*req;		/* parsed, borrowing buf */
	struct strbuf		 ack;		/* §17.1.1.3, once built */
	unsigned		 retx_ms;	/* A or E: current interval */
	enum ctrans_timer	 timer_id;	/* B, D, F, K or M */
	/* The UDP dest of a request the transport switched to TCP. */
	struct sip_dest		*udp;
	sip_ctrans_h		*h;
	void			*arg;
};

const char *
sip_ctrans_state_name(enum sip_ctrans_state s)
{
	switch (s) {
	case SIP_CTRANS_CALLING:	return "calling";
	case SIP_CTRANS_TRYING:		return "trying";
	case SIP_CTRANS_PROCEEDING:	return "proceeding";
	case SIP_CTRANS_COMPLETED:	return "completed";
	case SIP_CTRANS_ACCEPTED:	return "accepted";
	case SIP_CTRANS_TERMINATED:	return "terminated";
	}
	return "?";
}

static const char *
ctrans_state_name_of(const struct sip_trans *t)
{
	return sip_ctrans_state_name(((const struct sip_ctrans *)t)->state);
}

static void
ctrans_report(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *msg)
{
	if (ct->h != NULL)
		ct->h(ct, ev, err, msg, ct->arg);
}

/* The one place states change. */
static void
ctrans_set_state(struct sip_ctrans *ct, enum sip_ctrans_state to)
{
	enum sip_ctrans_state from = ct->state;

	ct->state = to;
	sip_trans_traced(&ct->t, sip_ctrans_state_name(from),
	    sip_ctrans_state_name(to));
	if (to == SIP_CTRANS_TERMINATED) {
		ct->timer_id = CTRANS_TIMER_NONE;
		sip_trans_terminate(&ct->t);
	}
}

static void
ctrans_arm(struct sip_ctrans *ct, enum ctrans_timer id, unsigned ms)
{
	ct->timer_id = id;
	sip_trans_timer_set(&ct->t, SIP_TRANS_SLOT_TIMER, ms);
}

/* Timers D and K are zero on a reliable transport: go on at once. */
static void
ctrans_stop_timers(struct sip_ctrans *ct)
{
	sip_trans_timer_stop(&ct->t, SIP_TRANS_SLOT_RETX);
	sip_trans_timer_stop(&ct->t, SIP_TRANS_SLOT_TIMER);
	ct->timer_id = CTRANS_TIMER_NONE;
}

static void
ctrans_complete(struct sip_ctrans *ct, enum ctrans_timer id, unsigned ms)
{
	ctrans_stop_timers(ct);
	ct->timer_id = CTRANS_TIMER_NONE;
	if (ct->t.dest.reliable || ms == 0) {
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		return;
	}
	ctrans_set_state(ct, SIP_CTRANS_COMPLETED);
	ctrans_arm(ct, id, ms);
}

/*
 * Copies the first value of a (possibly comma-joined) Via field.  With
 * tcp, a request the transport switched from UDP to TCP (§18.1.1): the
 * Via it sent said TCP, and the ACK's must be the same (§17.1.1.3).
 */
static void
add_top_via(struct sip_build *b, const struct sip_msg *req, bool tcp)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_VIA, 0);
	struct strbuf v = STRBUF_INIT;
	struct slice top;
	bool quoted = false;
	size_t n;

	if (h == NULL)
		return;
	for (n = 0; n < h->value.n; n++) {
		char c = h->value.p[n];

		if (c == '"')
			quoted = !quoted;
		else if (c == ',' && !quoted)
			break;
	}
	top = slice_trim(slice_make(h->value.p, n));
	/* We wrote this Via ourselves: "SIP/2.0/UDP " exactly. */
	if (tcp && top.n > 11 && strncasecmp(top.p, "SIP/2.0/UDP", 11) == 0) {
		strbuf_adds(&v, "SIP/2.0/TCP");
		top.p += 11;
		top.n -= 11;
	}
	strbuf_add(&v, top.p, top.n);
	if (v.p != NULL)
		sip_build_add(b, SIP_HDR_VIA, v.p);
	strbuf_free(&v);
}

/*
 * RFC 3261 §17.1.1.3: the ACK for a non-2xx final response has the
 * request's Request-URI, Call-ID, From, top Via and Route set, the To of
 * the response (with its tag) and the CSeq number with method ACK.
 */
static void
ctrans_build_ack(struct sip_ctrans *ct, const struct sip_msg *rsp)
{
	const struct sip_msg *req = ct->req;
	const struct sip_hdr *h;
	struct sip_build b = { 0 };
	char *ruri = xstrndup(req->ruri_str.p, req->ruri_str.n);
	struct strbuf v = STRBUF_INIT;

	sip_build_request(&b, "ACK", ruri);
	free(ruri);
	add_top_via(&b, req, ct->udp != NULL);
	if ((h = sip_msg_hdr(req, SIP_HDR_FROM, 0)) != NULL) {
		strbuf_add(&v, h->value.p, h->value.n);
		sip_build_add(&b, SIP_HDR_FROM, v.p);
		strbuf_reset(&v);
	}
	if ((h = sip_msg_hdr(rsp, SIP_HDR_TO, 0)) != NULL) {
		strbuf_add(&v, h->value.p, h->value.n);
		sip_build_add(&b, SIP_HDR_TO, v.p);
		strbuf_reset(&v);
	}
	strbuf_add(&v, req->call_id.p, req->call_id.n);
	sip_build_add(&b, SIP_HDR_CALL_ID, v.p);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u ACK", req->cseq.num);
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	for (unsigned i = 0; (h = sip_msg_hdr(req, SIP_HDR_ROUTE, i)) != NULL;
	    i++) {
		strbuf_reset(&v);
		strbuf_add(&v, h->value.p, h->value.n);
		sip_build_add(&b, SIP_HDR_ROUTE, v.p);
	}
	strbuf_reset(&ct->ack);
	sip_build_finish(&b, &ct->ack);
	sip_build_free(&b);
	strbuf_free(&v);
}

static void
ctrans_send_ack(struct sip_ctrans *ct, bool again)
{
	int rc = sip_trans_tp_send(&ct->t, ct->ack.p, ct->ack.n);

	if (again)
		ct->t.layer->stats.retrans_sent++;
	/* §17.1.1.2: a failed ACK only costs the peer a retransmission. */
	if (rc != 0)
		log_debug("transaction %llu: ACK not sent: %s",
		    (unsigned long long)ct->t.id, strerror(rc));
}

static void
ctrans_fail(struct sip_ctrans *ct, int err)
{
	ctrans_report(ct, SIP_TRANS_EV_TP_ERROR, err, NULL);
	ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
}

/* ---- event: a response --------------------------------------------------- */

static void
ctrans_on_response(struct sip_ctrans *ct, const struct sip_msg *rsp)
{
	struct sip_trans_layer *l = ct->t.layer;
	const struct sip_trans_conf *c = &l->conf;
	unsigned st = rsp->status;

	switch (ct->state) {
	case SIP_CTRANS_CALLING:
	case SIP_CTRANS_PROCEEDING:
		/* §17.1.1.2 */
		if (st < 200) {
			/* No Timer B in Proceeding (figure 5). */
			ctrans_stop_timers(ct);
			if (ct->state == SIP_CTRANS_CALLING)
				ctrans_set_state(ct, SIP_CTRANS_PROCEEDING);
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
		} else if (st < 300) {
			/* RFC 6026 §7.2: Accepted, Timer M. */
			ctrans_stop_timers(ct);
			ctrans_set_state(ct, SIP_CTRANS_ACCEPTED);
			ctrans_arm(ct, CTRANS_TIMER_M, 64 * c->t1_ms);
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
		} else {
			ctrans_build_ack(ct, rsp);
			ctrans_send_ack(ct, false);
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
			ctrans_complete(ct, CTRANS_TIMER_D, c->timer_d_ms != 0 ?
			    c->timer_d_ms : 64 * c->t1_ms);
		}
		break;
	case SIP_CTRANS_TRYING:		/* non-INVITE only */
		break;
	case SIP_CTRANS_COMPLETED:
		/* §17.1.1.2: a retransmitted final gets the same ACK. */
		l->stats.retrans_absorbed++;
		if (st >= 300)
			ctrans_send_ack(ct, true);
		break;
	case SIP_CTRANS_ACCEPTED:
		/* RFC 6026 §7.2: 2xx go up (retransmissions, forks). */
		if (st >= 200 && st < 300)
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
		else
			l->stats.retrans_absorbed++;
		break;
	case SIP_CTRANS_TERMINATED:
		l->stats.stray_responses++;
		break;
	}
}

/* §17.1.2.2 */
static void
ctrans_on_response_ni(struct sip_ctrans *ct, const struct sip_msg *rsp)
{
	const struct sip_trans_conf *c = &ct->t.layer->conf;
	unsigned st = rsp->status;

	switch (ct->state) {
	case SIP_CTRANS_TRYING:
	case SIP_CTRANS_PROCEEDING:
		if (st < 200) {
			if (ct->state == SIP_CTRANS_TRYING)
				ctrans_set_state(ct, SIP_CTRANS_PROCEEDING);
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
		} else {
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
			/*
			 * Completed only absorbs retransmitted responses: the
			 * keys do that.  The request goes now, or a burst of
			 * registrations holds every one for T4.
			 */
			sip_msg_free(ct->req);
			ct->req = NULL;
			free(ct->buf);
			ct->buf = NULL;
			ct->len = 0;
			ctrans_complete(ct, CTRANS_TIMER_K, c->t4_ms);
		}
		break;
	case SIP_CTRANS_COMPLETED:
		ct->t.layer->stats.retrans_absorbed++;
		break;
	case SIP_CTRANS_CALLING:
	case SIP_CTRANS_ACCEPTED:
	case SIP_CTRANS_TERMINATED:
		ct->t.layer->stats.stray_responses++;
		break;
	}
}

static void
ctrans_recv(struct sip_trans *t, const struct sip_msg *rsp)
{
	struct sip_ctrans *ct = (struct sip_ctrans *)t;

	if (ct->invite)
		ctrans_on_response(ct, rsp);
	else
		ctrans_on_response_ni(ct, rsp);
}

/* ---- event: a timer fires ------------------------------------------------ */

static void
ctrans_retransmit(struct sip_ctrans *ct)
{
	int rc = sip_trans_tp_send(&ct->t, ct->buf, ct->len);

	ct->t.layer->stats.retrans_sent++;
	if (rc != 0)
		ctrans_fail(ct, rc);
}

static void
ctrans_on_timer(struct sip_ctrans *ct, enum ctrans_timer id)
{
	const struct sip_trans_conf *c = &ct->t.layer->conf;

	switch (id) {
	case CTRANS_TIMER_A:
		/* §17.1.1.2: Timer A doubles, no cap; Calling only. */
		if (ct->state != SIP_CTRANS_CALLING)
			break;
		ct->retx_ms *= 2;
		sip_trans_timer_set(&ct->t, SIP_TRANS_SLOT_RETX, ct->retx_ms);
		ctrans_retransmit(ct);
		break;
	case CTRANS_TIMER_E:
		/* §17.1.2.2: doubles up to T2; T2 in Proceeding. */
		if (ct->state == SIP_CTRANS_TRYING) {
			ct->retx_ms = ct->retx_ms * 2 < c->t2_ms ?
			    ct->retx_ms * 2 : c->t2_ms;
		} else if (ct->state == SIP_CTRANS_PROCEEDING)
			ct->retx_ms = c->t2_ms;
		else
			break;
		sip_trans_timer_set(&ct->t, SIP_TRANS_SLOT_RETX, ct->retx_ms);
		ctrans_retransmit(ct);
		break;
	case CTRANS_TIMER_B:
	case CTRANS_TIMER_F:
		if (ct->state == SIP_CTRANS_COMPLETED ||
		    ct->state == SIP_CTRANS_TERMINATED)
			break;
		ct->t.layer->stats.timeouts++;
		ctrans_report(ct, SIP_TRANS_EV_TIMEOUT, ETIMEDOUT, NULL);
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		break;
	case CTRANS_TIMER_D:
	case CTRANS_TIMER_K:
	case CTRANS_TIMER_M:
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		break;
	case CTRANS_TIMER_NONE:
		break;
	}
}

static void
ctrans_on_slot(struct sip_trans *t, int slot)
{
	struct sip_ctrans *ct = (struct sip_ctrans *)t;
	enum ctrans_timer id;

	if (slot == SIP_TRANS_SLOT_RETX) {
		ctrans_on_timer(ct, ct->invite ? CTRANS_TIMER_A :
		    CTRANS_TIMER_E);
		return;
	}
	id = ct->timer_id;
	ct->timer_id = CTRANS_TIMER_NONE;
	ctrans_on_timer(ct, id);
}

/* ---- event: the transport failed ----------------------------------------- */

/* §17.1.1.2, §17.1.2.2: A or E from T1, over an unreliable transport. */
static void
ctrans_arm_retx(struct sip_ctrans *ct)
{
	if (ct->t.dest.reliable)
		return;
	ct->retx_ms = ct->t.layer->conf.t1_ms;
	sip_trans_timer_set(&ct->t, SIP_TRANS_SLOT_RETX, ct->retx_ms);
}

/*
 * RFC 3261 §18.1.1: a request switched to TCP for its size whose
 * connect was refused goes out over UDP after all ("the client MUST
 * then attempt to use UDP"), as any UDP request: retransmitted by A or
 * E, while B or F keep running from the first send.  Returns 0, or the
 * error that ends the transaction.
 */
static int
ctrans_fall_back(struct sip_ctrans *ct, int err)
{
	int rc;

	if (err != ECONNREFUSED || ct->udp == NULL ||
	    (ct->state != SIP_CTRANS_CALLING &&
	    ct->state != SIP_CTRANS_TRYING))
		return err;
	ct->t.dest = *ct->udp;
	ct->t.dest.no_switch = true;
	free(ct->udp);
	ct->udp = NULL;
	log_debug("transaction %llu: TCP refused, falling back to UDP",
	    (unsigned long long)ct->t.id);
	if ((rc = sip_trans_tp_send(&ct->t, ct->buf, ct->len)) != 0)
		return rc;
	ctrans_arm_retx(ct);
	return 0;
}

static void
ctrans_tp_failed(struct sip_trans *t, int err)
{
	struct sip_ctrans *ct = (struct sip_ctrans *)t;

	switch (ct->state) {
	case SIP_CTRANS_CALLING:
	case SIP_CTRANS_TRYING:
		if ((err = ctrans_fall_back(ct, err)) == 0)
			break;
		/* §17.1.4: inform the TU, go to Terminated. */
		ctrans_fail(ct, err);
		break;
	case SIP_CTRANS_PROCEEDING:
		/* §17.1.4: inform the TU, go to Terminated. */
		ctrans_fail(ct, err);
		break;
	case SIP_CTRANS_COMPLETED:
	case SIP_CTRANS_ACCEPTED:
	case SIP_CTRANS_TERMINATED:
		/* The outcome is known; only absorbing is left. */
		break;
	}
}

/* ---- life cycle ---------------------------------------------------------- */

static void
ctrans_free(struct sip_trans *t)
{
	struct sip_ctrans *ct = (struct sip_ctrans *)t;

	sip_trans_fini(&ct->t);
	sip_msg_free(ct->req);
	free(ct->buf);
	free(ct->udp);
	strbuf_free(&ct->ack);
	free(ct);
}

static void
ctrans_reap(struct sip_trans *t)
{
	ctrans_report((struct sip_ctrans *)t, SIP_TRANS_EV_TERMINATED, 0,
	    NULL);
	ctrans_free(t);
}

static const struct sip_trans_ops ctrans_ops = {
	.recv = ctrans_recv,
	.tp_failed = ctrans_tp_failed,
	.on_timer = ctrans_on_slot,
	.reap = ctrans_reap,
	.free = ctrans_free,
	.state_name = ctrans_state_name_of,
};

int
sip_ctrans_send(struct sip_trans_layer *l, const char *buf, size_t len,
    const struct sip_dest *dst, sip_ctrans_h *h, void *arg,
    struct sip_ctrans **out)
{
	struct sip_ctrans *ct;
	struct sip_msg *req = NULL;
	struct sip_parse_error perr;
	bool invite;
	char *copy;
	int rc;

	if (out != NULL)
		*out = NULL;
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	rc = sip_msg_parse(copy, len, SIP_PARSE_BORROW |
	    (dst->reliable ? SIP_PARSE_STREAM : 0), &req, &perr);
	if (rc != 0 || !req->request || req->method == SIP_METHOD_ACK ||
	    req->nvia == 0 || slice_empty(req->via[0].branch) ||
	    !slice_eq(req->method_str, req->cseq.method_str))
		rc = EINVAL;
	/* §17.1.3: branch + method must be unique among ours. */
	else if (sip_trans_find_client(l, req->via[0].branch,
	    req->method_str) != NULL)
		rc = EEXIST;
	else if (!sip_trans_admit(l)) {
		l->stats.overload_client++;
		rc = ENOBUFS;
	}
	if (rc != 0) {
		sip_msg_free(req);
		free(copy);
		return rc;
	}

	invite = req->method == SIP_METHOD_INVITE;
	ct = sip_trans_new(l, sizeof(*ct), invite ? SIP_TRANS_CLIENT_INVITE :
	    SIP_TRANS_CLIENT_NON_INVITE, &ctrans_ops, req, dst, NULL, NULL, 0);
	ct->buf = copy;
	ct->len = len;
	ct->req = req;
	ct->invite = invite;
	ct->state = ct->invite ? SIP_CTRANS_CALLING : SIP_CTRANS_TRYING;
	sip_trans_link(&ct->t);
	sip_trans_traced(&ct->t, NULL, sip_ctrans_state_name(ct->state));

	rc = sip_trans_tp_send(&ct->t, ct->buf, ct->len);
	if (rc == ECONNREFUSED && !dst->reliable && !dst->no_switch) {
		/* §18.1.1: the switch to TCP was refused at once. */
		ct->udp = xmalloc(sizeof(*ct->udp));
		*ct->udp = *dst;
		rc = ctrans_fall_back(ct, rc);
	} else if (rc == 0 && !dst->reliable && ct->t.dest.reliable) {
		/* Switched to TCP (§18.1.1): keep UDP for a refusal. */
		ct->udp = xmalloc(sizeof(*ct->udp));
		*ct->udp = *dst;
	}
	if (rc != 0) {
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		return rc;
	}
	ct->h = h;
	ct->arg = arg;
	/*
	 * §17.1.1.2, §17.1.2.2: A or E at T1 (unreliable), B or F at 64*T1.
	 * t.dest is where the transport really sent it (§18.1.1 switch).
	 */
	if (ct->retx_ms == 0)
		ctrans_arm_retx(ct);
	ctrans_arm(ct, ct->invite ? CTRANS_TIMER_B : CTRANS_TIMER_F,
	    64 * l->conf.t1_ms);
	if (out != NULL)
		*out = ct;
	return 0;
}

void
sip_ctrans_detach(struct sip_ctrans *ct)
{
	ct->h = NULL;
	ct->arg = NULL;
}

enum sip_ctrans_state
sip_ctrans_state(const struct sip_ctrans *ct)
{
	return ct->state;
}

const struct sip_msg *
sip_ctrans_request(const struct sip_ctrans *ct)
{
	return ct->req;
}

uint64_t
sip_ctrans_id(const struct sip_ctrans *ct)
{
	return ct->t.id;
}
