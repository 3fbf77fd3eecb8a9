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
 * on unreliable transports (§17.1.1.2, §17.1.2.2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_trans.h"

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
	struct event		*retx;		/* A or E */
	unsigned		 retx_ms;	/* its current interval */
	struct event		*timer;		/* B, D, F, K or M */
	enum ctrans_timer	 timer_id;
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

const char *
sip_ctrans_state_name_of(const struct sip_trans *t)
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
	sip_trans_traced(&ct->t, ct->t.method, sip_ctrans_state_name(from),
	    sip_ctrans_state_name(to));
	if (to == SIP_CTRANS_TERMINATED) {
		event_del(ct->retx);
		event_del(ct->timer);
		ct->timer_id = CTRANS_TIMER_NONE;
		sip_trans_terminate(&ct->t);
	}
}

static void
ctrans_arm(struct sip_ctrans *ct, enum ctrans_timer id, unsigned ms)
{
	ct->timer_id = id;
	sip_trans_timer_arm(ct->timer, ms);
}

/* Timers D and K are zero on a reliable transport: go on at once. */
static void
ctrans_complete(struct sip_ctrans *ct, enum ctrans_timer id, unsigned ms)
{
	event_del(ct->retx);
	event_del(ct->timer);
	ct->timer_id = CTRANS_TIMER_NONE;
	if (ct->t.dest.reliable || ms == 0) {
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		return;
	}
	ctrans_set_state(ct, SIP_CTRANS_COMPLETED);
	ctrans_arm(ct, id, ms);
}

/* Copies the first value of a (possibly comma-joined) Via field. */
static void
add_top_via(struct sip_build *b, const struct sip_msg *req)
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
	add_top_via(&b, req);
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
			event_del(ct->retx);
			event_del(ct->timer);
			ct->timer_id = CTRANS_TIMER_NONE;
			if (ct->state == SIP_CTRANS_CALLING)
				ctrans_set_state(ct, SIP_CTRANS_PROCEEDING);
			ctrans_report(ct, SIP_TRANS_EV_RESPONSE, 0, rsp);
		} else if (st < 300) {
			/* RFC 6026 §7.2: Accepted, Timer M. */
			event_del(ct->retx);
			event_del(ct->timer);
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

void
sip_ctrans_recv(struct sip_ctrans *ct, const struct sip_msg *rsp)
{
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
		sip_trans_timer_arm(ct->retx, ct->retx_ms);
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
		sip_trans_timer_arm(ct->retx, ct->retx_ms);
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
ctrans_retx_cb(int fd, short what, void *arg)
{
	struct sip_ctrans *ct = arg;

	ctrans_on_timer(ct, ct->invite ? CTRANS_TIMER_A : CTRANS_TIMER_E);
}

static void
ctrans_timer_cb(int fd, short what, void *arg)
{
	struct sip_ctrans *ct = arg;
	enum ctrans_timer id = ct->timer_id;

	ct->timer_id = CTRANS_TIMER_NONE;
	ctrans_on_timer(ct, id);
}

/* ---- event: the transport failed ----------------------------------------- */

void
sip_ctrans_tp_failed(struct sip_ctrans *ct, int err)
{
	switch (ct->state) {
	case SIP_CTRANS_CALLING:
	case SIP_CTRANS_TRYING:
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

void
sip_ctrans_free(struct sip_ctrans *ct)
{
	if (ct == NULL)
		return;
	sip_trans_fini(&ct->t);
	event_free(ct->retx);
	event_free(ct->timer);
	sip_msg_free(ct->req);
	free(ct->buf);
	strbuf_free(&ct->ack);
	free(ct);
}

static void
ctrans_reap_cb(int fd, short what, void *arg)
{
	struct sip_ctrans *ct = arg;

	ctrans_report(ct, SIP_TRANS_EV_TERMINATED, 0, NULL);
	sip_ctrans_free(ct);
}

int
sip_ctrans_send(struct sip_trans_layer *l, const char *buf, size_t len,
    const struct sip_dest *dst, sip_ctrans_h *h, void *arg,
    struct sip_ctrans **out)
{
	struct sip_ctrans *ct;
	struct sip_msg *req = NULL;
	struct sip_parse_error perr;
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
	    req->nvia == 0 || slice_empty(req->via[0].branch)) {
		sip_msg_free(req);
		free(copy);
		return EINVAL;
	}
	if (!slice_eq(req->method_str, req->cseq.method_str)) {
		sip_msg_free(req);
		free(copy);
		return EINVAL;
	}
	/* §17.1.3: branch + method must be unique among ours. */
	if (sip_trans_find_client(l, req->via[0].branch,
	    req->method_str) != NULL) {
		sip_msg_free(req);
		free(copy);
		return EEXIST;
	}

	ct = xcalloc(1, sizeof(*ct));
	ct->buf = copy;
	ct->len = len;
	ct->req = req;
	ct->invite = req->method == SIP_METHOD_INVITE;
	sip_trans_init(l, &ct->t, ct->invite ? SIP_TRANS_CLIENT_INVITE :
	    SIP_TRANS_CLIENT_NON_INVITE, req, dst, ctrans_reap_cb, ct);
	ct->retx = sip_trans_timer_new(l, ctrans_retx_cb, ct);
	ct->timer = sip_trans_timer_new(l, ctrans_timer_cb, ct);
	ct->state = ct->invite ? SIP_CTRANS_CALLING : SIP_CTRANS_TRYING;
	sip_trans_link(&ct->t);
	sip_trans_traced(&ct->t, ct->t.method, NULL,
	    sip_ctrans_state_name(ct->state));

	if ((rc = sip_trans_tp_send(&ct->t, ct->buf, ct->len)) != 0) {
		ctrans_set_state(ct, SIP_CTRANS_TERMINATED);
		return rc;
	}
	ct->h = h;
	ct->arg = arg;
	/*
	 * §17.1.1.2, §17.1.2.2: A or E at T1 (unreliable), B or F at 64*T1.
	 * t.dest is where the transport really sent it (§18.1.1 switch).
	 */
	if (!ct->t.dest.reliable) {
		ct->retx_ms = l->conf.t1_ms;
		sip_trans_timer_arm(ct->retx, ct->retx_ms);
	}
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
