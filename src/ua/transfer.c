/*
 * Call transfer (RFC 3515): REFER in a call's dialog, both ways.
 *
 * As transferor (`transfer ID URI`) we send REFER with Refer-To and
 * Referred-By (RFC 3892), and follow the implicit subscription: every
 * NOTIFY's message/sipfrag status line becomes a call.transfer event,
 * and a final 2xx ends our leg of the call, as a blind transfer does.
 *
 * As transferee (the account's `refer = accept`) we answer 202, place
 * the new call from the same account and NOTIFY its progress back
 * (100, the 18x, then the final status), one NOTIFY in flight at a
 * time with the newest status waiting behind it (RFC 3515 §2.4.5 asks
 * for the final one; the ones between may be skipped).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/slice.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"
#include "call.h"
#include "call_priv.h"
#include "events.h"
#include "ua_priv.h"

/* s the transferor waits for the final NOTIFY after the 202. */
#define XFER_NOTIFY_WAIT_S	120
/* s: a NOTIFY's expires moves that wait, up to this. */
#define XFER_EXPIRES_MAX	3600
/* The longest sipfrag status line we send or keep. */
#define XFER_FRAG_MAX		128

enum xfer_state {
	XFER_QUEUED,		/* ours: REFER waits for the next hop */
	XFER_REFER_SENT,	/* ours: no final answer yet */
	XFER_ACCEPTED,		/* ours: 2xx, NOTIFYs come */
	XFER_NOTIFYING,		/* theirs: we NOTIFY the new call's progress */
};

struct xfer {
	bool			 out;		/* we sent the REFER */
	enum xfer_state		 state;
	char			*target;	/* Refer-To URI */
	struct sip_ctrans	*ct;		/* REFER or NOTIFY in flight */
	/* Ours: the last sipfrag status the transferee reported. */
	unsigned		 status;
	char			 reason[64];
	/* The REFER's CSeq: the subscription's Event id (§2.4.6). */
	uint32_t		 refer_cseq;
	/* Theirs. */
	uint64_t		 new_id;	/* the call we placed */
	unsigned		 expires;	/* s, in Subscription-State */
	char			 frag[XFER_FRAG_MAX];	/* waiting to go */
	bool			 frag_final;
	bool			 frag_pending;
	bool			 final_sent;	/* terminated NOTIFY is out */
	unsigned		 notified;	/* last status we NOTIFYed */
};

static void
xfer_publish(struct call *c, const char *state, unsigned status,
    const char *reason)
{
	struct xfer *x = c->xfer;
	char id[24], st[8], nid[24];

	snprintf(id, sizeof(id), "%" PRIu64, c->id);
	snprintf(st, sizeof(st), "%u", status);
	snprintf(nid, sizeof(nid), "%" PRIu64, x->new_id);
	call_note(c, "transfer %s%s%s", state, status != 0 ? " " : "",
	    status != 0 ? st : "");
	events_publish("call.transfer", c->account, "id", id, "dir",
	    x->out ? "out" : "in", "state", state, "target", x->target,
	    "status", status != 0 ? st : NULL, "reason", reason,
	    "new_id", x->new_id != 0 ? nid : NULL, NULL);
}

void
xfer_free(struct call *c)
{
	struct xfer *x = c->xfer;

	if (x == NULL)
		return;
	if (x->ct != NULL)
		sip_ctrans_detach(x->ct);
	free(x->target);
	free(x);
	c->xfer = NULL;
}

/* ---- as transferor ---------------------------------------------------------- */

static void
xfer_extra_refer(struct call *c, struct sip_build *b)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "<%s>", c->xfer->target);
	sip_build_add_named(b, "Refer-To", sb.p);
	/* RFC 3892: who asked for the new call. */
	sip_build_add_named(b, "Referred-By", c->dlg.local_uri);
	strbuf_free(&sb);
}

int
call_transfer(struct call_agent *ag, uint64_t id, const char *uri,
    char *err, size_t errlen)
{
	struct call *c = call_find(ag, id);
	struct sip_uri u;
	const char *why;
	struct xfer *x;

	if (c == NULL || !c->live) {
		snprintf(err, errlen, "no call %" PRIu64, id);
		return ENOENT;
	}
	if (sip_uri_parse(&u, uri, strlen(uri), &why) != 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS) ||
	    strpbrk(uri, "<>\r\n") != NULL) {
		snprintf(err, errlen, "'%.128s' is not a sip: or sips: URI",
		    uri);
		return EINVAL;
	}
	if (c->state != CALL_STATE_CONFIRMED) {
		snprintf(err, errlen, "call %" PRIu64 " is %s, not confirmed",
		    id, call_state_name(c->state));
		return EALREADY;
	}
	if (c->xfer != NULL) {
		snprintf(err, errlen, "call %" PRIu64 " has a transfer in "
		    "progress", id);
		return EBUSY;
	}
	x = xcalloc(1, sizeof(*x));
	x->out = true;
	x->state = XFER_QUEUED;
	x->target = xstrdup(uri);
	c->xfer = x;
	xfer_publish(c, "trying", 0, NULL);
	call_xfer_kick(c);
	return 0;
}

/* The transfer failed or ended: say so, and let it go. */
static void
xfer_out_end(struct call *c, const char *state, unsigned status,
    const char *reason)
{
	xfer_publish(c, state, status, reason);
	xfer_free(c);
	c->due[CALL_T_XFER] = 0;
}

/*
 * "SIP/2.0 180 Ringing" (RFC 3420): the status and reason of the first
 * line of a sipfrag body.  0 when it is not a status line.
 */
static unsigned
xfer_sipfrag_status(struct slice body, char *reason, size_t reasonlen)
{
	const char *p = body.p, *end = body.p + body.n, *eol;
	unsigned status = 0;
	int i;

	reason[0] = '\0';
	if (body.n < 12 || strncasecmp(p, "SIP/2.0 ", 8) != 0)
		return 0;
	p += 8;
	for (i = 0; i < 3; i++, p++) {
		if (*p < '0' || *p > '9')
			return 0;
		status = status * 10 + (unsigned)(*p - '0');
	}
	if (status < 100 || status > 699 || (p < end && *p != ' ' &&
	    *p != '\r' && *p != '\n'))
		return 0;
	while (p < end && *p == ' ')
		p++;
	for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
		;
	snprintf(reason, reasonlen, "%.*s", (int)(eol - p), p);
	/* The reason goes into events: printable ASCII only. */
	for (char *r = reason; *r != '\0'; r++)
		if ((unsigned char)*r < 0x20 || (unsigned char)*r > 0x7e)
			*r = '?';
	return status;
}

/* The Event id is the decimal number cseq. */
static bool
xfer_id_is(struct slice id, uint32_t cseq)
{
	char v[16];

	snprintf(v, sizeof(v), "%" PRIu32, cseq);
	return slice_eq_cstr(id, v);
}

void
xfer_on_notify(struct call *c, const struct ua_req *rq)
{
	const struct sip_msg *m = rq->msg;
	struct ua *ua = c->ag->ua;
	struct xfer *x = c->xfer;
	char reason[64];
	unsigned status;
	int64_t expires;
	bool final;

	if (!m->has_event || !slice_caseeq_cstr(m->event.package,
	    "refer")) {
		ua_respond(ua, rq, 489, "Bad Event", "Allow-Events: refer\r\n");
		return;
	}
	/* §2.4.6: the id names the REFER; another's NOTIFY is not ours. */
	if (x == NULL || !x->out || x->state == XFER_QUEUED ||
	    (slice_present(m->event.id) && !xfer_id_is(m->event.id,
	    x->refer_cseq))) {
		ua_respond(ua, rq, 481, "Subscription Does Not Exist", NULL);
		return;
	}
	status = xfer_sipfrag_status(m->body, reason, sizeof(reason));
	final = m->has_substate && slice_caseeq_cstr(m->substate.state,
	    "terminated");
	expires = m->has_substate ? m->substate.expires : -1;
	ua_respond(ua, rq, 200, "OK", NULL);
	/* A NOTIFY may pass the 202 (RFC 3515 §2.4.4). */
	if (x->state == XFER_REFER_SENT)
		x->state = XFER_ACCEPTED;
	if (status != 0) {
		x->status = status;
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
	}
	if (!final) {
		/*
		 * RFC 6665 §4.1.3: the subscription lasts expires s; the
		 * final NOTIFY (or one with reason=timeout) comes by then.
		 */
		if (expires > 0)
			call_timer_set(c, CALL_T_XFER, (uint64_t)(expires <
			    XFER_EXPIRES_MAX ? expires : XFER_EXPIRES_MAX) *
			    1000 + 64ull * ua->tc.t1_ms);
		if (status != 0)
			xfer_publish(c, "progress", status, reason);
		return;
	}
	if (x->status >= 200 && x->status < 300) {
		xfer_out_end(c, "done", x->status, x->reason);
		/* The transferee has the call now: our leg ends. */
		call_end(c, "transferred", "local");
		return;
	}
	xfer_out_end(c, "failed", x->status, x->status != 0 ? x->reason :
	    "the subscription ended without a final status");
}

/* ---- as transferee ---------------------------------------------------------- */

static void
xfer_extra_notify(struct call *c, struct sip_build *b)
{
	struct xfer *x = c->xfer;
	char v[64];

	snprintf(v, sizeof(v), "refer;id=%" PRIu32, x->refer_cseq);
	sip_build_add_named(b, "Event", v);
	if (x->frag_final)
		snprintf(v, sizeof(v), "terminated;reason=noresource");
	else
		snprintf(v, sizeof(v), "active;expires=%u", x->expires);
	sip_build_add_named(b, "Subscription-State", v);
}

/* Sends the status waiting, if the last NOTIFY is answered. */
static void
xfer_notify_next(struct call *c)
{
	struct xfer *x = c->xfer;
	int err;

	if (x == NULL || x->out || x->ct != NULL || !x->frag_pending)
		return;
	err = call_xfer_send(c, "NOTIFY", xfer_extra_notify,
	    "message/sipfrag;version=2.0", x->frag, &x->ct);
	if (err == EAGAIN) {
		call_xfer_kick(c);
		return;
	}
	x->frag_pending = false;
	if (err != 0) {
		call_note(c, "transfer NOTIFY not sent: %s", strerror(err));
		xfer_free(c);
		return;
	}
	if (x->frag_final)
		x->final_sent = true;
}

static void
xfer_notify(struct call *c, unsigned status, const char *reason, bool final)
{
	struct xfer *x = c->xfer;

	if (x == NULL || x->out || x->final_sent)
		return;
	snprintf(x->frag, sizeof(x->frag), "SIP/2.0 %u %s\r\n", status,
	    reason);
	x->notified = status;
	x->frag_final = final;
	x->frag_pending = true;
	xfer_notify_next(c);
}

/* The Refer-To URI, or NULL with the answer to give in *status. */
static char *
xfer_refer_target(const struct sip_msg *m, unsigned *status,
    const char **reason)
{
	const struct sip_uri *u = &m->refer_to.uri;

	*status = 400;
	*reason = "Bad Refer-To";
	if (!m->has_refer_to || sip_msg_hdr(m, SIP_HDR_REFER_TO, 1) != NULL)
		return NULL;
	if (u->scheme != SIP_URI_SIP && u->scheme != SIP_URI_SIPS) {
		*status = 416;
		*reason = "Unsupported URI Scheme";
		return NULL;
	}
	if (slice_present(u->headers)) {
		/* Replaces (RFC 3891) and friends: an attended transfer. */
		*status = 501;
		*reason = "Refer-To With Headers Not Supported";
		return NULL;
	}
	/* RFC 3515 §2.1: the method asked for; we place calls only. */
	if (slice_present(u->method) && !slice_eq_cstr(u->method, "INVITE")) {
		*status = 501;
		*reason = "Refer-To Method Not Supported";
		return NULL;
	}
	return xstrndup(m->refer_to.uri_str.p, m->refer_to.uri_str.n);
}

void
xfer_on_refer(struct call *c, const struct ua_req *rq)
{
	const struct sip_msg *m = rq->msg;
	struct ua *ua = c->ag->ua;
	const struct account *a = call_account(c);
	const struct sip_hdr *rb;
	struct call_params p = { 0 };
	const char *hdrs[1], *why;
	struct strbuf hb = STRBUF_INIT;
	char err[160], *target;
	unsigned status;
	struct xfer *x;
	uint64_t nid;
	int e;

	if (a == NULL || !a->cfg->refer_accept) {
		ua_respond(ua, rq, 603, "Decline", NULL);
		return;
	}
	if (c->xfer != NULL) {
		ua_respond(ua, rq, 491, "Request Pending", NULL);
		return;
	}
	if ((target = xfer_refer_target(m, &status, &why)) == NULL) {
		ua_respond(ua, rq, status, why, NULL);
		return;
	}
	x = xcalloc(1, sizeof(*x));
	x->state = XFER_NOTIFYING;
	x->target = target;
	x->refer_cseq = m->cseq.num;
	x->expires = (unsigned)a->cfg->call_timeout + 60;
	c->xfer = x;

	p.account = c->account;
	p.uri = target;
	rb = sip_msg_hdr_named(m, "Referred-By");
	if (rb != NULL && rb->value.n < 512 &&
	    memchr(rb->value.p, '\r', rb->value.n) == NULL &&
	    memchr(rb->value.p, '\n', rb->value.n) == NULL) {
		strbuf_addf(&hb, "Referred-By: %.*s", (int)rb->value.n,
		    rb->value.p);
		hdrs[0] = hb.p;
		p.headers = hdrs;
		p.nheaders = 1;
	}
	/* The answer frees the request: what it says is copied above. */
	ua_respond(ua, rq, 202, "Accepted", NULL);
	m = NULL;
	e = call_place(c->ag, &p, &nid, err, sizeof(err));
	strbuf_free(&hb);
	if (e != 0) {
		call_note(c, "transfer to %s not placed: %s", target, err);
		status = e == EBUSY ? 503 : 400;
		xfer_publish(c, "failed", status, err);
		xfer_notify(c, status, call_reason_phrase(status), true);
		return;
	}
	x->new_id = nid;
	call_find(c->ag, nid)->referred_by = c->id;
	xfer_publish(c, "trying", 0, NULL);
	xfer_notify(c, 100, "Trying", false);
}

void
xfer_on_state(struct call *nc)
{
	struct call *c = call_find(nc->ag, nc->referred_by);
	struct xfer *x = c != NULL ? c->xfer : NULL;
	unsigned status;

	if (x == NULL || x->out || x->new_id != nc->id || !c->live)
		return;
	/* The final status is told: the new call's life is its own now. */
	if (x->final_sent || (x->frag_pending && x->frag_final))
		return;
	switch (nc->state) {
	case CALL_STATE_PROCEEDING:
	case CALL_STATE_EARLY:
		status = nc->last_status;
		if (status > 100 && status < 200 && status != x->notified) {
			const char *phrase = call_reason_phrase(status);

			xfer_publish(c, "progress", status, phrase);
			xfer_notify(c, status, phrase, false);
		}
		return;
	case CALL_STATE_CONFIRMED:
		xfer_publish(c, "done", 200, "OK");
		xfer_notify(c, 200, "OK", true);
		return;
	case CALL_STATE_TERMINATED:
		/* Not answered: the call's final status, or 503 for none. */
		status = nc->status >= 300 ? nc->status : 503;
		xfer_publish(c, "failed", status, nc->reason);
		xfer_notify(c, status, call_reason_phrase(status), true);
		return;
	default:
		return;
	}
}

/* ---- shared ------------------------------------------------------------------ */

void
xfer_flush(struct call *c)
{
	struct xfer *x = c->xfer;
	int err;

	if (x == NULL)
		return;
	if (!x->out) {
		xfer_notify_next(c);
		return;
	}
	if (x->state != XFER_QUEUED)
		return;
	err = call_xfer_send(c, "REFER", xfer_extra_refer, NULL, NULL,
	    &x->ct);
	if (err == EAGAIN) {
		call_xfer_kick(c);
		return;
	}
	if (err != 0) {
		xfer_out_end(c, "failed", 0, strerror(err));
		return;
	}
	x->refer_cseq = c->dlg.local_cseq;
	x->state = XFER_REFER_SENT;
}

bool
xfer_on_response(struct call *c, struct sip_ctrans *ct,
    enum sip_trans_event ev, const struct sip_msg *m)
{
	struct xfer *x = c->xfer;
	bool ok;

	if (x == NULL || ct != x->ct)
		return false;
	if (ev == SIP_TRANS_EV_TERMINATED) {
		x->ct = NULL;
		return true;
	}
	if (ev == SIP_TRANS_EV_RESPONSE && m->status < 200)
		return true;
	ok = ev == SIP_TRANS_EV_RESPONSE && m->status < 300;
	sip_ctrans_detach(ct);
	x->ct = NULL;
	if (x->out) {
		char reason[64];

		if (!ok) {
			if (ev == SIP_TRANS_EV_RESPONSE)
				snprintf(reason, sizeof(reason), "%.*s",
				    (int)m->reason.n, m->reason.p);
			xfer_out_end(c, "failed", ev == SIP_TRANS_EV_RESPONSE ?
			    m->status : 0, ev == SIP_TRANS_EV_RESPONSE ?
			    reason : "no answer to the REFER");
			return true;
		}
		if (x->state == XFER_REFER_SENT) {
			x->state = XFER_ACCEPTED;
			xfer_publish(c, "accepted", m->status, NULL);
		}
		/* A NOTIFY that passed the 2xx set the wait already. */
		if (c->due[CALL_T_XFER] == 0)
			call_timer_set(c, CALL_T_XFER,
			    XFER_NOTIFY_WAIT_S * 1000);
		return true;
	}
	/* Our NOTIFY: the transferor is gone, or we said the last word. */
	if (!ok || x->final_sent) {
		if (!ok)
			call_note(c, "transfer NOTIFY refused: the "
			    "transferor's subscription is gone");
		xfer_free(c);
		return true;
	}
	xfer_notify_next(c);
	return true;
}

void
xfer_on_timer(struct call *c)
{
	struct xfer *x = c->xfer;

	if (x != NULL && x->out)
		xfer_out_end(c, "failed", x->status, "no final NOTIFY");
}
