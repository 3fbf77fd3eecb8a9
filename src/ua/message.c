/*
 * The MESSAGE usage (see message.h): the server half answers and keeps
 * what arrives, the client half is a thin layer on request.c.
 *
 * Memory.  Messages live in one allocation each (header, strings, body)
 * on two lists: their account's inbox, oldest first, and one list of
 * every kept message in arrival order.  The oldest message of all is
 * therefore the head of its own inbox, so the byte cap over every inbox
 * drops from that end in constant time.  Inboxes sit in a hash table by
 * account name, made at their first message and freed when empty: at
 * 100,000 accounts that never receive one, the agent holds its user
 * table and nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"
#include "account.h"
#include "events.h"
#include "message.h"
#include "ua_priv.h"

#define MESSAGE_DEFAULT_TYPE	"text/plain;charset=UTF-8"
#define INBOX_BUCKETS_MIN	64

struct inbox;

struct msg {
	struct msg	*next;		/* in the inbox, newer */
	struct msg	*gnext, *gprev;	/* every message, by arrival */
	struct inbox	*box;
	uint64_t	 id;
	double		 time;
	size_t		 size;		/* of this allocation */
	size_t		 body_len;
	const char	*from, *to, *ctype;	/* in data[] */
	const char	*body;
	char		 data[];
};

struct inbox {
	struct inbox	*hnext;
	struct msg	*head, *tail;	/* oldest, newest */
	size_t		 n;
	char		 account[];
};

struct message_agent {
	struct ua		*ua;
	struct account_set	*set;
	struct request_agent	*req;
	/* account name → inbox, only for inboxes that hold messages. */
	struct inbox		**boxes;
	size_t			 nboxes_buckets, nboxes;
	struct msg		*ghead, *gtail;
	struct message_stats	 st;
};

/* ---- hashing ------------------------------------------------------------ */

static size_t
message_hash(const char *p, size_t n, size_t nb)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 32)) & (nb - 1);
}

/* ---- inboxes ------------------------------------------------------------ */

static struct inbox **
inbox_slot(struct message_agent *ma, const char *account)
{
	struct inbox **pp;

	if (ma->nboxes_buckets == 0)
		return NULL;
	for (pp = &ma->boxes[message_hash(account, strlen(account),
	    ma->nboxes_buckets)]; *pp != NULL; pp = &(*pp)->hnext)
		if (strcmp((*pp)->account, account) == 0)
			return pp;
	return pp;
}

static struct inbox *
inbox_find(struct message_agent *ma, const char *account)
{
	struct inbox **pp = inbox_slot(ma, account);

	return pp != NULL ? *pp : NULL;
}

static void
inbox_grow(struct message_agent *ma)
{
	size_t nb = ma->nboxes_buckets != 0 ? ma->nboxes_buckets * 2 :
	    INBOX_BUCKETS_MIN;
	struct inbox **nt = xcalloc(nb, sizeof(*nt));

	for (size_t i = 0; i < ma->nboxes_buckets; i++)
		while (ma->boxes[i] != NULL) {
			struct inbox *b = ma->boxes[i];
			size_t k = message_hash(b->account,
			    strlen(b->account), nb);

			ma->boxes[i] = b->hnext;
			b->hnext = nt[k];
			nt[k] = b;
		}
	free(ma->boxes);
	ma->boxes = nt;
	ma->nboxes_buckets = nb;
}

static struct inbox *
inbox_get(struct message_agent *ma, const char *account)
{
	struct inbox *b = inbox_find(ma, account), **pp;
	size_t n = strlen(account);

	if (b != NULL)
		return b;
	if (ma->nboxes >= ma->nboxes_buckets)
		inbox_grow(ma);
	b = xcalloc(1, sizeof(*b) + n + 1);
	memcpy(b->account, account, n + 1);
	pp = inbox_slot(ma, account);
	*pp = b;
	ma->nboxes++;
	ma->st.inboxes = ma->nboxes;
	return b;
}

static void
inbox_free_if_empty(struct message_agent *ma, struct inbox *b)
{
	struct inbox **pp;

	if (b->n > 0)
		return;
	pp = inbox_slot(ma, b->account);
	*pp = b->hnext;
	free(b);
	ma->nboxes--;
	ma->st.inboxes = ma->nboxes;
}

/* Drops the oldest message of b (its head); frees b when emptied. */
static void
inbox_drop_oldest(struct message_agent *ma, struct inbox *b)
{
	struct msg *m = b->head;

	b->head = m->next;
	if (b->head == NULL)
		b->tail = NULL;
	b->n--;
	if (m->gprev != NULL)
		m->gprev->gnext = m->gnext;
	else
		ma->ghead = m->gnext;
	if (m->gnext != NULL)
		m->gnext->gprev = m->gprev;
	else
		ma->gtail = m->gprev;
	ma->st.kept--;
	ma->st.bytes -= m->size;
	free(m);
	inbox_free_if_empty(ma, b);
}

/* Keeps at most keep messages in b (which may be freed). */
static size_t
inbox_trim(struct message_agent *ma, struct inbox *b, size_t keep)
{
	size_t dropped = 0;

	while (b->n > keep) {
		bool last = b->n == 1;

		inbox_drop_oldest(ma, b);
		dropped++;
		if (last)
			break;
	}
	return dropped;
}

static void
inbox_keep(struct message_agent *ma, const struct account *a,
    const struct sip_msg *m, struct slice ctype, uint64_t id, double now)
{
	struct slice from = m->from.uri_str, to = m->to.uri_str;
	size_t size = sizeof(struct msg) + from.n + to.n + ctype.n +
	    m->body.n + 4;
	struct inbox *b;
	struct msg *e;
	char *p;

	if (a->cfg->inbox <= 0 || size > SIPX_INBOX_BYTES_MAX)
		return;
	/* Room under the cap over every inbox: the oldest of all go. */
	while (ma->ghead != NULL && ma->st.bytes + size > SIPX_INBOX_BYTES_MAX) {
		inbox_drop_oldest(ma, ma->ghead->box);
		ma->st.dropped++;
	}
	b = inbox_get(ma, a->cfg->name);
	if (b->n >= (size_t)a->cfg->inbox) {
		ma->st.dropped += inbox_trim(ma, b,
		    (size_t)a->cfg->inbox - 1);
		/* Emptied and freed when inbox is 1. */
		b = inbox_get(ma, a->cfg->name);
	}
	e = xmalloc(size);
	memset(e, 0, sizeof(*e));
	e->box = b;
	e->id = id;
	e->time = now;
	e->size = size;
	p = e->data;
	e->from = p;
	memcpy(p, from.p, from.n);
	p[from.n] = '\0';
	p += from.n + 1;
	e->to = p;
	memcpy(p, to.p, to.n);
	p[to.n] = '\0';
	p += to.n + 1;
	e->ctype = p;
	if (ctype.n > 0)
		memcpy(p, ctype.p, ctype.n);
	p[ctype.n] = '\0';
	p += ctype.n + 1;
	e->body = p;
	if (m->body.n > 0)
		memcpy(p, m->body.p, m->body.n);
	p[m->body.n] = '\0';
	e->body_len = m->body.n;
	if (b->tail != NULL)
		b->tail->next = e;
	else
		b->head = e;
	b->tail = e;
	b->n++;
	e->gprev = ma->gtail;
	if (ma->gtail != NULL)
		ma->gtail->gnext = e;
	else
		ma->ghead = e;
	ma->gtail = e;
	ma->st.kept++;
	ma->st.bytes += size;
}

/* ---- the server --------------------------------------------------------- */

static void
message_refuse(struct message_agent *ma, const struct ua_req *rq,
    unsigned status, const char *reason, const char *hdrs)
{
	int err;

	ma->st.refused++;
	if ((err = ua_respond(ma->ua, rq, status, reason, hdrs)) != 0)
		log_debug("message: could not answer %u: %s", status,
		    strerror(err));
}

static void
message_publish(const struct account *a, const struct sip_msg *m,
    struct slice ctype, uint64_t id)
{
	struct events_kv kv[8];
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT, ct = STRBUF_INIT;
	struct strbuf body = STRBUF_INIT;
	char ids[24];
	const char *enc;
	size_t n = 0;

	snprintf(ids, sizeof(ids), "%" PRIu64, id);
	strbuf_add(&from, m->from.uri_str.p, m->from.uri_str.n);
	strbuf_add(&to, m->to.uri_str.p, m->to.uri_str.n);
	strbuf_add(&ct, ctype.p, ctype.n);
	enc = text_show(&body, m->body.p != NULL ? m->body.p : "",
	    m->body.n);
	kv[n++] = (struct events_kv){ "id", ids };
	kv[n++] = (struct events_kv){ "from", from.p };
	kv[n++] = (struct events_kv){ "to", to.p };
	kv[n++] = (struct events_kv){ "content_type", ct.p };
	kv[n++] = (struct events_kv){ "body", body.p };
	if (enc[0] != '\0')
		kv[n++] = (struct events_kv){ "encoding", enc };
	events_publishv("message.received", a->cfg->name, kv, n);
	strbuf_free(&from);
	strbuf_free(&to);
	strbuf_free(&ct);
	strbuf_free(&body);
}

static void
message_on_request(struct ua *ua, const struct ua_req *rq, void *arg)
{
	struct message_agent *ma = arg;
	const struct sip_msg *m = rq->msg;
	const struct sip_hdr *ct = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE, 0);
	const struct sip_hdr *ce = sip_msg_hdr(m, SIP_HDR_CONTENT_ENCODING, 0);
	struct slice ctype = ct != NULL ? ct->value : slice_make("", 0);
	const struct account *a;
	uint64_t id;
	double now;

	(void)ua;
	if ((a = account_set_find_user(ma->set, m->ruri.user)) == NULL) {
		message_refuse(ma, rq, 404, "Not Found", NULL);
		return;
	}
	if (m->body.n > SIPX_MESSAGE_IN_MAX) {
		message_refuse(ma, rq, 413, "Request Entity Too Large", NULL);
		return;
	}
	/* §8.2.3: we store bodies as they come, so none we cannot read. */
	if (ce != NULL && !slice_caseeq_cstr(slice_trim(ce->value),
	    "identity")) {
		message_refuse(ma, rq, 415, "Unsupported Media Type",
		    "Accept-Encoding: identity\r\n");
		return;
	}
	/* §7.4.1: a body says what it is. */
	if (m->body.n > 0 && ct == NULL) {
		message_refuse(ma, rq, 400, "Missing Content-Type", NULL);
		return;
	}
	/*
	 * Kept and told before the answer: the transaction frees the
	 * request with its final response.  A retransmission of the
	 * request is answered by the transaction, never seen here again.
	 */
	ma->st.received++;
	id = ids_next();
	now = time_real();
	if (events_wanted(EVENTS_KIND_MESSAGE))
		message_publish(a, m, ctype, id);
	inbox_keep(ma, a, m, ctype, id, now);
	if (ua_respond(ma->ua, rq, 200, "OK", NULL) != 0)
		log_debug("message: could not answer a MESSAGE to %s",
		    a->cfg->name);
}

/* ---- the client --------------------------------------------------------- */

int
message_send(struct message_agent *ma, const struct message_params *p,
    request_response_fn *on_rsp, request_done_fn *on_done, void *arg,
    struct request **out, char *err, size_t errlen)
{
	struct request_params rp = { 0 };

	if (p->len == 0) {
		snprintf(err, errlen, "the text is empty: nothing to send");
		return EINVAL;
	}
	rp.account = p->account;
	rp.method = "MESSAGE";
	rp.uri = p->uri;
	rp.body = p->text;
	rp.body_len = p->len;
	rp.content_type = p->content_type != NULL ? p->content_type :
	    MESSAGE_DEFAULT_TYPE;
	rp.timeout_ms = p->timeout_ms;
	rp.udp_max = SIPX_MESSAGE_UDP_MAX;
	return request_send(ma->req, &rp, on_rsp, on_done, arg, out, err,
	    errlen);
}

/* ---- what the control protocol shows ------------------------------------ */

int
message_inbox_foreach(struct message_agent *ma, const char *account,
    void (*fn)(const struct message_entry *, void *), void *arg)
{
	struct inbox *b;

	if (account_set_find(ma->set, account) == NULL)
		return ENOENT;
	if ((b = inbox_find(ma, account)) == NULL)
		return 0;
	for (const struct msg *m = b->head; m != NULL; m = m->next) {
		struct message_entry e = { m->id, m->time, m->from, m->to,
		    m->ctype, m->body, m->body_len };

		fn(&e, arg);
	}
	return 0;
}

int
message_inbox_clear(struct message_agent *ma, const char *account,
    size_t *n)
{
	struct inbox *b;

	*n = 0;
	if (account_set_find(ma->set, account) == NULL)
		return ENOENT;
	if ((b = inbox_find(ma, account)) != NULL)
		*n = inbox_trim(ma, b, 0);
	return 0;
}

void
message_stats_get(const struct message_agent *ma, struct message_stats *st)
{
	*st = ma->st;
}

/* ---- the agent ---------------------------------------------------------- */

struct message_agent *
message_agent_new(struct ua *ua, struct account_set *set,
    struct request_agent *req)
{
	struct message_agent *ma = xcalloc(1, sizeof(*ma));

	ma->ua = ua;
	ma->set = set;
	ma->req = req;
	if (ua_register_method(ua, "MESSAGE", message_on_request, ma, 0) != 0)
		fatalx("message: cannot register MESSAGE");
	return ma;
}

void
message_agent_accounts_changed(struct message_agent *ma)
{
	for (size_t i = 0; i < ma->nboxes_buckets; i++) {
		struct inbox *b = ma->boxes[i], *next;

		for (; b != NULL; b = next) {
			const struct account *a =
			    account_set_find(ma->set, b->account);

			next = b->hnext;
			/* May free b: next was read first. */
			inbox_trim(ma, b, a != NULL && a->cfg->inbox > 0 ?
			    (size_t)a->cfg->inbox : 0);
		}
	}
}

void
message_agent_free(struct message_agent *ma)
{
	if (ma == NULL)
		return;
	while (ma->ghead != NULL)
		inbox_drop_oldest(ma, ma->ghead->box);
	free(ma->boxes);
	free(ma);
}
