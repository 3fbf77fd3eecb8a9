/*
 * Server transactions: RFC 3261 §17.2.1 (INVITE: Proceeding, Completed,
 * Confirmed, Terminated; Timers G, H, I; 100 Trying when the user is
 * slow), §17.2.2 (non-INVITE: Trying, Proceeding, Completed, Terminated;
 * Timer J) and RFC 6026 §7.1 (INVITE Accepted state, Timer L = 64*T1:
 * the user retransmits its 2xx through the transaction, §13.3.1.4, and
 * INVITE retransmissions are absorbed), plus the RFC 2543 matching rules
 * of §17.2.3 for requests whose branch lacks the magic cookie.
 *
 * One switch per event (request retransmission or ACK, response from
 * the user, timer, transport error); every state change goes through
 * strans_set_state().  Responses are retransmitted by timer only on
 * unreliable transports; the last response is re-sent whenever the
 * request is retransmitted.
 *
 * Once its final response is sent a transaction needs only its keys and
 * that response: the parsed request is freed then (RFC 2543 ones keep
 * the few §17.2.3 fields as strings), so that the many transactions
 * Timer J holds after a burst of requests cost a few hundred bytes each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_trans_priv.h"
#include "sip_uri.h"

enum strans_timer {
	STRANS_TIMER_NONE,
	STRANS_TIMER_TRYING,	/* INVITE: send 100 if the user has not */
	STRANS_TIMER_G,		/* INVITE final retransmit */
	STRANS_TIMER_H,		/* INVITE wait for ACK */
	STRANS_TIMER_I,		/* INVITE Confirmed wait */
	STRANS_TIMER_J,		/* non-INVITE Completed wait */
	STRANS_TIMER_L,		/* INVITE Accepted wait (RFC 6026) */
};

/* The §17.2.3 fields an RFC 2543 transaction is matched by. */
enum {
	OLD_TRANSPORT,		/* of the top Via */
	OLD_RURI,
	OLD_FROM_TAG,
	OLD_TO_TAG,
	OLD_CALL_ID,
	OLD__COUNT
};

struct strans_2543 {
	const char		*k[OLD__COUNT];	/* in the transaction's block */
	uint32_t		 cseq;
	char			*to_tag;	/* of our final: ACK matching */
};

struct sip_strans {
	struct sip_trans	 t;		/* first: the layer's view */
	enum sip_strans_state	 state;
	enum strans_timer	 timer_id;
	bool			 invite;
	uint16_t		 rsp_status;	/* 0: none yet */
	unsigned		 retx_ms;	/* Timer G's interval */
	struct sip_msg		*req;		/* owned; NULL after a final */
	char			*rsp;		/* the last response sent */
	size_t			 rsp_len;
	struct strans_2543	*old;		/* RFC 2543 only */
	sip_strans_h		*h;
	void			*arg;
};

const char *
sip_strans_state_name(enum sip_strans_state s)
{
	switch (s) {
	case SIP_STRANS_TRYING:		return "trying";
	case SIP_STRANS_PROCEEDING:	return "proceeding";
	case SIP_STRANS_COMPLETED:	return "completed";
	case SIP_STRANS_CONFIRMED:	return "confirmed";
	case SIP_STRANS_ACCEPTED:	return "accepted";
	case SIP_STRANS_TERMINATED:	return "terminated";
	}
	return "?";
}

static const char *
strans_state_name_of(const struct sip_trans *t)
{
	return sip_strans_state_name(((const struct sip_strans *)t)->state);
}

static void
strans_report(struct sip_strans *st, enum sip_trans_event ev, int err,
    const struct sip_msg *msg)
{
	if (st->h != NULL)
		st->h(st, ev, err, msg, st->arg);
}

/* The one place states change. */
static void
strans_set_state(struct sip_strans *st, enum sip_strans_state to)
{
	enum sip_strans_state from = st->state;

	st->state = to;
	sip_trans_traced(&st->t, sip_strans_state_name(from),
	    sip_strans_state_name(to));
	if (to == SIP_STRANS_TERMINATED) {
		st->timer_id = STRANS_TIMER_NONE;
		sip_trans_terminate(&st->t);
	}
}

static void
strans_arm(struct sip_strans *st, enum strans_timer id, unsigned ms)
{
	st->timer_id = id;
	sip_trans_timer_set(&st->t, SIP_TRANS_SLOT_TIMER, ms);
}

/* Timers I and J are zero on a reliable transport: go on at once. */
static void
strans_wait(struct sip_strans *st, enum sip_strans_state state,
    enum strans_timer id, unsigned ms)
{
	sip_trans_timer_stop(&st->t, SIP_TRANS_SLOT_RETX);
	sip_trans_timer_stop(&st->t, SIP_TRANS_SLOT_TIMER);
	st->timer_id = STRANS_TIMER_NONE;
	if (st->t.dest.reliable || ms == 0) {
		strans_set_state(st, SIP_STRANS_TERMINATED);
		return;
	}
	strans_set_state(st, state);
	strans_arm(st, id, ms);
}

static void
strans_fail(struct sip_strans *st, int err, bool report)
{
	if (report)
		strans_report(st, SIP_TRANS_EV_TP_ERROR, err, NULL);
	strans_set_state(st, SIP_STRANS_TERMINATED);
}

/* Re-sends the last response; false if the transport failed. */
static bool
strans_resend(struct sip_strans *st)
{
	int rc;

	if (st->rsp == NULL)
		return true;
	st->t.layer->stats.retrans_sent++;
	rc = sip_trans_tp_send(&st->t, st->rsp, st->rsp_len);
	if (rc != 0) {
		strans_fail(st, rc, true);
		return false;
	}
	return true;
}

/* RFC 2543 peers match an ACK by the To tag of our final response. */
static void
strans_keep_to_tag(struct sip_strans *st)
{
	struct sip_msg *m = NULL;
	struct sip_parse_error perr;

	if (st->old == NULL || st->rsp_status < 200)
		return;
	if (sip_msg_parse(st->rsp, st->rsp_len, SIP_PARSE_BORROW, &m,
	    &perr) != 0)
		return;
	free(st->old->to_tag);
	st->old->to_tag = xstrndup(m->to.tag.p, m->to.tag.n);
	sip_msg_free(m);
}

/* ---- event: the request again, or its ACK -------------------------------- */

/* §17.2.1, RFC 6026 §7.1 */
static void
strans_on_request_invite(struct sip_strans *st, const struct sip_msg *req)
{
	struct sip_trans_layer *l = st->t.layer;
	const struct sip_trans_conf *c = &l->conf;
	bool ack = req->method == SIP_METHOD_ACK;

	switch (st->state) {
	case SIP_STRANS_PROCEEDING:
		l->stats.retrans_absorbed++;
		if (!ack)
			strans_resend(st);
		break;
	case SIP_STRANS_COMPLETED:
		if (!ack) {
			l->stats.retrans_absorbed++;
			strans_resend(st);
			break;
		}
		strans_wait(st, SIP_STRANS_CONFIRMED, STRANS_TIMER_I,
		    c->t4_ms);
		strans_report(st, SIP_TRANS_EV_ACK, 0, req);
		break;
	case SIP_STRANS_ACCEPTED:
		/*
		 * RFC 6026 §7.1: retransmitted INVITEs are absorbed; an ACK
		 * (it answers the user's 2xx) goes up the way every 2xx ACK
		 * does, through the request handler, even when a UAC reused
		 * the INVITE's branch or an RFC 2543 peer matched here.
		 */
		if (ack && l->request_h != NULL)
			l->request_h(l, NULL, req, l->request_arg);
		else if (!ack)
			l->stats.retrans_absorbed++;
		break;
	case SIP_STRANS_TRYING:		/* non-INVITE only */
	case SIP_STRANS_CONFIRMED:
	case SIP_STRANS_TERMINATED:
		l->stats.retrans_absorbed++;
		break;
	}
}

/* §17.2.2 */
static void
strans_on_request_ni(struct sip_strans *st, const struct sip_msg *req)
{
	struct sip_trans_layer *l = st->t.layer;

	switch (st->state) {
	case SIP_STRANS_TRYING:
		/* Nothing sent yet: the retransmission is discarded. */
		l->stats.retrans_absorbed++;
		break;
	case SIP_STRANS_PROCEEDING:
	case SIP_STRANS_COMPLETED:
		l->stats.retrans_absorbed++;
		strans_resend(st);
		break;
	case SIP_STRANS_CONFIRMED:
	case SIP_STRANS_ACCEPTED:
	case SIP_STRANS_TERMINATED:
		l->stats.retrans_absorbed++;
		break;
	}
}

static void
strans_recv(struct sip_trans *t, const struct sip_msg *req)
{
	struct sip_strans *st = (struct sip_strans *)t;

	if (st->invite)
		strans_on_request_invite(st, req);
	else
		strans_on_request_ni(st, req);
}

/* ---- event: the user sends a response ------------------------------------ */

static int
strans_send_rsp(struct sip_strans *st, unsigned status, const char *buf,
    size_t len)
{
	int rc;

	free(st->rsp);
	st->rsp = xmalloc(len + 1);
	memcpy(st->rsp, buf, len);
	st->rsp[len] = '\0';
	st->rsp_len = len;
	st->rsp_status = (uint16_t)status;
	strans_keep_to_tag(st);
	if (status >= 200) {
		/* Answered: from now on the keys and rsp are enough. */
		sip_msg_free(st->req);
		st->req = NULL;
	}
	rc = sip_trans_tp_send(&st->t, st->rsp, st->rsp_len);
	if (rc != 0)
		strans_fail(st, rc, false);
	return rc;
}

/* §17.2.1, RFC 6026 §7.1 */
static int
strans_on_response_invite(struct sip_strans *st, unsigned status,
    const char *buf, size_t len)
{
	const struct sip_trans_conf *c = &st->t.layer->conf;
	int rc;

	switch (st->state) {
	case SIP_STRANS_PROCEEDING:
		if ((rc = strans_send_rsp(st, status, buf, len)) != 0)
			return rc;
		/* no 100 needed any more */
		sip_trans_timer_stop(&st->t, SIP_TRANS_SLOT_RETX);
		if (status < 200)
			break;
		if (status < 300) {
			strans_set_state(st, SIP_STRANS_ACCEPTED);
			strans_arm(st, STRANS_TIMER_L, 64 * c->t1_ms);
			/*
			 * RFC 6026 §7.1: Accepted only absorbs; the 2xx is the
			 * user's to send again.  Its copy here would cost
			 * every answered call ~700 bytes for 64*T1.
			 */
			free(st->rsp);
			st->rsp = NULL;
			st->rsp_len = 0;
			break;
		}
		strans_set_state(st, SIP_STRANS_COMPLETED);
		if (!st->t.dest.reliable) {
			st->retx_ms = c->t1_ms;
			sip_trans_timer_set(&st->t, SIP_TRANS_SLOT_RETX,
			    st->retx_ms);
		}
		strans_arm(st, STRANS_TIMER_H, 64 * c->t1_ms);
		break;
	case SIP_STRANS_ACCEPTED:
		/* §13.3.1.4: the user's own 2xx retransmissions. */
		if (status < 200 || status >= 300)
			return EALREADY;
		/* A 2xx again: the user's retransmission, sent as is. */
		st->t.layer->stats.retrans_sent++;
		if ((rc = sip_trans_tp_send(&st->t, buf, len)) != 0)
			strans_fail(st, rc, false);
		return rc;
	case SIP_STRANS_TRYING:
	case SIP_STRANS_COMPLETED:
	case SIP_STRANS_CONFIRMED:
	case SIP_STRANS_TERMINATED:
		return EALREADY;
	}
	return 0;
}

/* §17.2.2 */
static int
strans_on_response_ni(struct sip_strans *st, unsigned status,
    const char *buf, size_t len)
{
	const struct sip_trans_conf *c = &st->t.layer->conf;
	int rc;

	switch (st->state) {
	case SIP_STRANS_TRYING:
	case SIP_STRANS_PROCEEDING:
		if ((rc = strans_send_rsp(st, status, buf, len)) != 0)
			return rc;
		if (status < 200) {
			if (st->state == SIP_STRANS_TRYING)
				strans_set_state(st, SIP_STRANS_PROCEEDING);
			break;
		}
		strans_wait(st, SIP_STRANS_COMPLETED, STRANS_TIMER_J,
		    64 * c->t1_ms);
		break;
	case SIP_STRANS_COMPLETED:
	case SIP_STRANS_CONFIRMED:
	case SIP_STRANS_ACCEPTED:
	case SIP_STRANS_TERMINATED:
		return EALREADY;
	}
	return 0;
}

int
sip_strans_respond(struct sip_strans *st, const char *buf, size_t len)
{
	unsigned status = sip_trans_status_of(buf, len);

	if (status == 0)
		return EINVAL;
	if (st->invite)
		return strans_on_response_invite(st, status, buf, len);
	return strans_on_response_ni(st, status, buf, len);
}

int
sip_strans_reply(struct sip_strans *st, unsigned status, const char *reason,
    const char *to_tag)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	int rc;

	if (st->req == NULL)
		return EALREADY;	/* a final was sent: see sip_trans.h */
	sip_build_response_to(&b, st->req, status, reason, to_tag);
	sip_build_finish(&b, &out);
	sip_build_free(&b);
	rc = sip_strans_respond(st, out.p, out.n);
	strbuf_free(&out);
	return rc;
}

/* ---- event: a timer fires ------------------------------------------------ */

static void
strans_on_timer(struct sip_strans *st, enum strans_timer id)
{
	const struct sip_trans_conf *c = &st->t.layer->conf;

	switch (id) {
	case STRANS_TIMER_TRYING:
		/* §17.2.1: the user was slow; the 100 stops retransmits. */
		if (st->state == SIP_STRANS_PROCEEDING && st->rsp == NULL)
			sip_strans_reply(st, 100, "Trying", NULL);
		break;
	case STRANS_TIMER_G:
		/* §17.2.1: G doubles up to T2 until the ACK. */
		if (st->state != SIP_STRANS_COMPLETED)
			break;
		st->retx_ms = st->retx_ms * 2 < c->t2_ms ? st->retx_ms * 2 :
		    c->t2_ms;
		sip_trans_timer_set(&st->t, SIP_TRANS_SLOT_RETX, st->retx_ms);
		strans_resend(st);
		break;
	case STRANS_TIMER_H:
		if (st->state != SIP_STRANS_COMPLETED)
			break;
		st->t.layer->stats.timeouts++;
		strans_report(st, SIP_TRANS_EV_TIMEOUT, ETIMEDOUT, NULL);
		strans_set_state(st, SIP_STRANS_TERMINATED);
		break;
	case STRANS_TIMER_I:
	case STRANS_TIMER_J:
	case STRANS_TIMER_L:
		strans_set_state(st, SIP_STRANS_TERMINATED);
		break;
	case STRANS_TIMER_NONE:
		break;
	}
}

/* The retransmit slot: the 100 in Proceeding, else Timer G. */
static void
strans_on_slot(struct sip_trans *t, int slot)
{
	struct sip_strans *st = (struct sip_strans *)t;
	enum strans_timer id;

	if (slot == SIP_TRANS_SLOT_RETX) {
		strans_on_timer(st, st->state == SIP_STRANS_PROCEEDING ?
		    STRANS_TIMER_TRYING : STRANS_TIMER_G);
		return;
	}
	id = st->timer_id;
	st->timer_id = STRANS_TIMER_NONE;
	strans_on_timer(st, id);
}

/* ---- event: the transport failed ----------------------------------------- */

static void
strans_tp_failed(struct sip_trans *t, int err)
{
	struct sip_strans *st = (struct sip_strans *)t;

	switch (st->state) {
	case SIP_STRANS_TRYING:
	case SIP_STRANS_PROCEEDING:
	case SIP_STRANS_COMPLETED:
	case SIP_STRANS_ACCEPTED:
		/* §17.2.4: inform the TU, go to Terminated. */
		strans_fail(st, err, true);
		break;
	case SIP_STRANS_CONFIRMED:
	case SIP_STRANS_TERMINATED:
		break;
	}
}

/* ---- RFC 2543 matching (§17.2.3) ----------------------------------------- */

static bool
uri_equal_str(const struct sip_uri *a, const char *b)
{
	struct sip_uri u;

	if (sip_uri_parse(&u, b, strlen(b), NULL) != 0)
		return false;
	return sip_uri_equal(a, &u);
}

bool
sip_strans_match_2543(const struct sip_strans *st, const struct sip_msg *req,
    bool cancel)
{
	const struct strans_2543 *o = st->old;
	const struct sip_via *v;
	bool ack = !cancel && req->method == SIP_METHOD_ACK;

	if (o == NULL || req->nvia == 0)
		return false;
	v = &req->via[0];
	/* The cheap fields first: Call-ID and CSeq chose the bucket. */
	if (req->cseq.num != o->cseq ||
	    !slice_eq_cstr(req->call_id, o->k[OLD_CALL_ID]) ||
	    !slice_eq_cstr(req->from.tag, o->k[OLD_FROM_TAG]) ||
	    !slice_caseeq_cstr(v->transport, o->k[OLD_TRANSPORT]) ||
	    !slice_caseeq_cstr(v->host, st->t.sent_by_host) ||
	    v->port != st->t.sent_by_port ||
	    !slice_eq_cstr(v->branch, st->t.branch) ||
	    !uri_equal_str(&req->ruri, o->k[OLD_RURI]))
		return false;
	if (ack)
		/* The ACK carries the tag of our final response. */
		return o->to_tag != NULL &&
		    slice_eq_cstr(req->to.tag, o->to_tag);
	return slice_eq_cstr(req->to.tag, o->k[OLD_TO_TAG]);
}

/* ---- life cycle ---------------------------------------------------------- */

static void
strans_free(struct sip_trans *t)
{
	struct sip_strans *st = (struct sip_strans *)t;

	sip_trans_fini(&st->t);
	sip_msg_free(st->req);
	free(st->rsp);
	if (st->old != NULL) {
		free(st->old->to_tag);
		free(st->old);
	}
	free(st);
}

static void
strans_reap(struct sip_trans *t)
{
	struct sip_strans *st = (struct sip_strans *)t;

	strans_report(st, SIP_TRANS_EV_TERMINATED, 0, NULL);
	strans_free(t);
}

static const struct sip_trans_ops strans_ops = {
	.recv = strans_recv,
	.tp_failed = strans_tp_failed,
	.on_timer = strans_on_slot,
	.reap = strans_reap,
	.free = strans_free,
	.state_name = strans_state_name_of,
};

struct sip_strans *
sip_strans_new(struct sip_trans_layer *l, struct sip_msg *req,
    const struct sip_dest *src)
{
	struct sip_strans *st;
	struct strans_2543 *old = NULL;
	struct slice extra[OLD__COUNT];
	bool invite = req->method == SIP_METHOD_INVITE;
	size_t nextra = 0;

	if (sip_trans_is_2543(req)) {
		old = xcalloc(1, sizeof(*old));
		old->cseq = req->cseq.num;
		extra[OLD_TRANSPORT] = req->nvia > 0 ? req->via[0].transport :
		    SLICE_NULL;
		extra[OLD_RURI] = req->ruri_str;
		extra[OLD_FROM_TAG] = req->from.tag;
		extra[OLD_TO_TAG] = req->to.tag;
		extra[OLD_CALL_ID] = req->call_id;
		nextra = OLD__COUNT;
	}
	st = sip_trans_new(l, sizeof(*st), invite ? SIP_TRANS_SERVER_INVITE :
	    SIP_TRANS_SERVER_NON_INVITE, &strans_ops, req, src, extra,
	    old != NULL ? old->k : NULL, nextra);
	st->req = req;
	st->invite = invite;
	st->old = old;
	st->state = st->invite ? SIP_STRANS_PROCEEDING : SIP_STRANS_TRYING;
	sip_trans_link(&st->t);
	sip_trans_traced(&st->t, NULL, sip_strans_state_name(st->state));
	if (st->invite && l->conf.trying_ms > 0)
		sip_trans_timer_set(&st->t, SIP_TRANS_SLOT_RETX,
		    l->conf.trying_ms);
	return st;
}

void
sip_strans_set_handler(struct sip_strans *st, sip_strans_h *h, void *arg)
{
	st->h = h;
	st->arg = arg;
}

void *
sip_strans_handler_arg(const struct sip_strans *st)
{
	return st->h != NULL ? st->arg : NULL;
}

const struct sip_dest *
sip_strans_dest(const struct sip_strans *st)
{
	return &st->t.dest;
}

void
sip_strans_detach(struct sip_strans *st)
{
	sip_strans_set_handler(st, NULL, NULL);
}

enum sip_strans_state
sip_strans_state(const struct sip_strans *st)
{
	return st->state;
}

const struct sip_msg *
sip_strans_request(const struct sip_strans *st)
{
	return st->req;
}

uint64_t
sip_strans_id(const struct sip_strans *st)
{
	return st->t.id;
}
