/*
 * The generic client request (see request.h): a request of any
 * non-INVITE method sent as an account, every response reported.
 *
 * One request walks these steps, each from the loop:
 *   resolve   RFC 3263 for the first hop (the account's route, else the
 *             Request-URI) with the account's transport;
 *   try       one client transaction per target, in order; a transport
 *             error, a 503 or silence past the failover timeout (before
 *             any 1xx) moves on to the next target (RFC 3263 §4.3) and
 *             marks the failed one in the resolver's blocklist;
 *   challenge a 401/407 is answered once (RFC 3261 §22.2): the same
 *             target, the same Call-ID and From tag, CSeq + 1;
 *   done      the final response, or why none came; the caller hears
 *             of it from the loop, never nested in its own call.
 * The request owns its copies of everything it sends; the account is
 * looked up by name again when credentials are needed, so that a reload
 * that removes it leaves nothing dangling.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/random.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_transport.h"
#include "sip/sip_uri.h"
#include "account.h"
#include "request.h"
#include "ua_priv.h"

#define REQUEST_DEFAULT_TYPE	"text/plain;charset=UTF-8"

struct request_agent {
	struct ua		*ua;
	struct account_set	*set;
	size_t			 max_live;
	struct request		*head;		/* live requests */
	size_t			 nlive;
};

struct request {
	struct request_agent	*ag;
	struct request		*next, *prev;
	char			*account;
	char			*method;
	char			*ruri;
	char			*from;		/* From value, no tag */
	char			*to;
	char			*user;		/* our Contact's user part */
	char			*route;		/* pre-loaded Route, or NULL */
	char			*hop;		/* what is resolved */
	char			**hdrs;
	size_t			 nhdrs;
	char			*body;		/* NULL: none */
	size_t			 body_len;
	char			*ctype;
	size_t			 udp_max;
	bool			 contact;	/* the method needs one */
	int			 tp;		/* the account's transport */
	char			 call_id[33];
	char			 tag[17];
	uint32_t		 cseq;
	char			*chal;		/* the challenge to answer */
	bool			 chal_proxy;
	struct sip_resolve_query *q;
	struct sip_resolve_target targets[SIP_RESOLVE_TARGETS_MAX];
	size_t			 ntargets, next_target;
	const struct sip_resolve_target *cur;
	struct sip_ctrans	*ct;
	bool			 got_1xx;	/* the target is alive */
	unsigned		 told_1xx;	/* to on_rsp, all targets */
	int			 last_err;
	struct event		*timer;		/* the caller's bound */
	struct event		*failover;
	struct event		*done;
	bool			 finished;
	request_response_fn	*on_rsp;
	request_done_fn		*on_done;
	void			*arg;
	struct request_result	 res;
};

/* ---- checks ------------------------------------------------------------- */

static bool
request_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

static bool
request_is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!request_token_char((unsigned char)s[i]))
			return false;
	return true;
}

int
request_check_method(const char *m, char *err, size_t errlen)
{
	static const struct {
		const char	*name;
		const char	*why;
	} refused[] = {
		{ "INVITE", "a call is placed with 'call ACCOUNT URI'" },
		{ "ACK", "an ACK belongs to its INVITE; 'call' sends it" },
		{ "CANCEL", "a CANCEL belongs to its INVITE; 'hangup ID' "
		    "sends it" },
		{ "BYE", "BYE exists only inside a call's dialog (RFC 3261 "
		    "§15); 'hangup ID' sends it" },
		{ "PRACK", "PRACK exists only inside a call's early dialog "
		    "(RFC 3262 §7)" },
		{ "UPDATE", "UPDATE exists only inside a call's dialog "
		    "(RFC 3311 §5.1)" },
		{ "INFO", "INFO exists only inside a call's dialog (RFC 6086 "
		    "§4.2); 'dtmf ID' sends digits" },
	};
	size_t n = strlen(m);

	if (!request_is_token(m, n) || n > SIPX_REQUEST_METHOD_MAX) {
		snprintf(err, errlen, "'%.40s' is not a SIP method: a token "
		    "(letters, digits, -.!%%*_+`'~) of at most %d bytes", m,
		    SIPX_REQUEST_METHOD_MAX);
		return EINVAL;
	}
	/* Methods are case-sensitive, but "invite" is a mistake. */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcasecmp(m, refused[i].name) == 0) {
			snprintf(err, errlen, "'request' does not send %s: %s",
			    refused[i].name, refused[i].why);
			return EINVAL;
		}
	return 0;
}

/*
 * Headers the request writes itself (long and compact forms): a second
 * Call-ID or Content-Length would make a request no peer can read, a
 * Route or Contact would change where things go behind our back.
 */
static const char *const request_ours[] = { "Via", "v", "From", "f", "To",
	"t", "Call-ID", "i", "CSeq", "Max-Forwards", "Contact", "m",
	"Content-Length", "l", "Content-Type", "c", "Route", "Record-Route",
	"Authorization", "Proxy-Authorization", "User-Agent", NULL };

int
request_check_header(const char *h, char *err, size_t errlen)
{
	const char *colon = strchr(h, ':');
	size_t n;

	if (colon == NULL || !request_is_token(h, (size_t)(colon - h))) {
		snprintf(err, errlen, "header '%.64s' is not \"Name: value\" "
		    "with a token name", h);
		return EINVAL;
	}
	for (const char *p = colon + 1; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			/* A CR or LF would let a client write raw SIP. */
			snprintf(err, errlen, "header '%.*s' holds a control "
			    "character: a value is one line of text",
			    (int)(colon - h), h);
			return EINVAL;
		}
	n = (size_t)(colon - h);
	for (size_t i = 0; request_ours[i] != NULL; i++)
		if (strlen(request_ours[i]) == n &&
		    strncasecmp(h, request_ours[i], n) == 0) {
			snprintf(err, errlen, "header '%.*s' is one sipxd "
			    "writes itself%s", (int)n, h, strcasecmp(
			    request_ours[i], "Content-Type") == 0 ||
			    strcasecmp(request_ours[i], "c") == 0 ?
			    " (give type= instead)" : "");
			return EINVAL;
		}
	return 0;
}

/* "type/subtype" of tokens, then parameters on one line (RFC 3261 §20.15). */
int
request_check_type(const char *t, char *err, size_t errlen)
{
	size_t a = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
	    "VWXYZ0123456789-.!%*_+`'~");
	size_t b = t[a] == '/' ? strspn(t + a + 1, "abcdefghijklmnopqrstuvwx"
	    "yzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") : 0;
	const char *rest = t + a + 1 + b;

	if (a == 0 || t[a] != '/' || b == 0 ||
	    (*rest != '\0' && *rest != ';' && *rest != ' ')) {
		snprintf(err, errlen, "type '%.64s' is not a media type "
		    "(type/subtype[;param=value])", t);
		return EINVAL;
	}
	for (; *rest != '\0'; rest++)
		if ((unsigned char)*rest < 0x20 || *rest == 0x7f) {
			snprintf(err, errlen, "type '%.64s' holds a control "
			    "character", t);
			return EINVAL;
		}
	return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

static void request_try(struct request *);

static void
request_unlink(struct request *r)
{
	struct request_agent *ag = r->ag;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		ag->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	ag->nlive--;
}

static void
request_free(struct request *r)
{
	if (r->ct != NULL)
		sip_ctrans_detach(r->ct);
	if (r->q != NULL)
		sip_resolve_cancel(r->q);
	request_unlink(r);
	event_free(r->timer);
	event_free(r->failover);
	event_free(r->done);
	for (size_t i = 0; i < r->nhdrs; i++)
		free(r->hdrs[i]);
	free(r->hdrs);
	free(r->account);
	free(r->method);
	free(r->ruri);
	free(r->from);
	free(r->to);
	free(r->user);
	free(r->route);
	free(r->hop);
	free(r->body);
	free(r->ctype);
	free(r->chal);
	free(r);
}

static void
request_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;

	(void)fd;
	(void)what;
	r->on_done(&r->res, r->arg);
	request_free(r);
}

/* Ends the request; the caller hears of it from the loop. */
static void
request_finish(struct request *r, int err)
{
	if (r->finished)
		return;
	r->finished = true;
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

void
request_cancel(struct request *r)
{
	if (r != NULL)
		request_free(r);
}

/* The caller's bound: told apart (ETIME) from Timer F (ETIMEDOUT). */
static void
request_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	request_finish(arg, ETIME);
}

/* RFC 3263 §4.3: the current target failed; on to the next. */
static void
request_next(struct request *r, int err)
{
	struct ua *ua = r->ag->ua;

	if (r->cur != NULL && ua->blocklist_ms > 0)
		sip_resolve_mark_failed(ua->res, r->cur, ua->blocklist_ms);
	if (r->ct != NULL) {
		sip_ctrans_detach(r->ct);
		r->ct = NULL;
	}
	evtimer_del(r->failover);
	r->last_err = err;
	r->cur = NULL;
	request_try(r);
}

static void
request_failover_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;

	(void)fd;
	(void)what;
	log_info("request: %s: no answer from %s within %u ms, trying the "
	    "next target", r->method, r->res.target, r->ag->ua->failover_ms);
	request_next(r, ETIMEDOUT);
}

/* ---- responses ---------------------------------------------------------- */

/* A 401/407 we can answer: once per request, with a secret to answer. */
static bool
request_take_challenge(struct request *r, const struct sip_msg *m)
{
	const struct account *a;
	char *chal;

	if (r->res.challenged || (m->status != 401 && m->status != 407))
		return false;
	a = account_set_find(r->ag->set, r->account);
	if (a == NULL || (a->cfg->password == NULL && a->cfg->ha1 == NULL))
		return false;
	if ((chal = ua_auth_challenge(m)) == NULL)
		return false;
	free(r->chal);
	r->chal = chal;
	r->chal_proxy = m->status == 407;
	r->res.challenged = true;
	return true;
}

static void
request_on_ctrans(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *m, void *arg)
{
	struct request *r = arg;

	(void)ct;
	switch (ev) {
	case SIP_TRANS_EV_RESPONSE:
		r->res.responses++;
		/*
		 * Told first: what follows may end the request.  A peer
		 * may send 1xx without end; each is an event for a client.
		 */
		if (r->on_rsp != NULL && (m->status >= 200 ||
		    r->told_1xx++ < SIPX_REQUEST_PROVISIONAL_MAX))
			r->on_rsp(m, r->arg);
		if (m->status < 200) {
			/* Alive: only Timer F (or the caller) ends it now. */
			r->got_1xx = true;
			evtimer_del(r->failover);
			return;
		}
		if (m->status == 503 && r->next_target < r->ntargets) {
			request_next(r, EAGAIN);
			return;
		}
		if (request_take_challenge(r, m)) {
			/* §8.1.3.5: the same target, a new CSeq. */
			sip_ctrans_detach(r->ct);
			r->ct = NULL;
			r->next_target--;
			r->cur = NULL;
			evtimer_del(r->failover);
			request_try(r);
			return;
		}
		r->res.status = m->status;
		snprintf(r->res.reason, sizeof(r->res.reason), "%.*s",
		    SLICE_ARG(m->reason));
		request_finish(r, 0);
		return;
	case SIP_TRANS_EV_TIMEOUT:
	case SIP_TRANS_EV_TP_ERROR:
		if (r->got_1xx) {
			/* It answered: another target would be a second
			 * request, not a failover. */
			request_finish(r, ev == SIP_TRANS_EV_TIMEOUT ?
			    ETIMEDOUT : err);
			return;
		}
		request_next(r, ev == SIP_TRANS_EV_TIMEOUT ? ETIMEDOUT : err);
		return;
	case SIP_TRANS_EV_TERMINATED:
		if (r->ct == ct)
			r->ct = NULL;
		return;
	case SIP_TRANS_EV_ACK:
		return;
	}
}

/* ---- sending ------------------------------------------------------------ */

/* Builds the request for dst into out; 0 or an errno value. */
static int
request_build(struct request *r, const struct sip_dest *dst,
    struct strbuf *out)
{
	struct ua *ua = r->ag->ua;
	struct sip_build b = { 0 };
	struct strbuf via = STRBUF_INIT;
	char sent_by[INET6_ADDRSTRLEN + 8];
	int err;

	err = sip_tp_sent_by(ua->tp, dst, sent_by, sizeof(sent_by));
	if (err != 0)
		return err;
	sip_tp_via_at(dst, sent_by, NULL, &via);
	sip_build_request(&b, r->method, r->ruri);
	sip_build_add(&b, SIP_HDR_VIA, via.p);
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	if (r->route != NULL)
		sip_build_add(&b, SIP_HDR_ROUTE, r->route);
	sip_build_addf(&b, SIP_HDR_FROM, "%s;tag=%s", r->from, r->tag);
	sip_build_add(&b, SIP_HDR_TO, r->to);
	sip_build_add(&b, SIP_HDR_CALL_ID, r->call_id);
	sip_build_addf(&b, SIP_HDR_CSEQ, "%u %s", r->cseq, r->method);
	if (r->contact)
		sip_build_addf(&b, SIP_HDR_CONTACT, "<%s:%s%s%s%s>",
		    sip_tp_contact_scheme(dst->proto), r->user,
		    r->user[0] != '\0' ? "@" : "", sent_by,
		    sip_tp_contact_param(dst->proto));
	if (ua->user_agent[0] != '\0')
		sip_build_add(&b, SIP_HDR_USER_AGENT, ua->user_agent);
	for (size_t i = 0; i < r->nhdrs; i++) {
		char *colon = strchr(r->hdrs[i], ':');

		*colon = '\0';
		err = sip_build_add_named(&b, r->hdrs[i], colon + 1 +
		    strspn(colon + 1, " \t"));
		*colon = ':';
		if (err != 0)
			goto out;
	}
	if (r->chal != NULL) {
		const struct account *a = account_set_find(r->ag->set,
		    r->account);

		/* Gone in a reload: the challenge stays unanswered. */
		if (a != NULL && (err = ua_auth_add(&b, a, r->chal,
		    r->chal_proxy, r->method, r->ruri, r->body, NULL)) != 0 &&
		    err != EINVAL)
			goto out;
		err = 0;
	}
	if (r->body != NULL)
		sip_build_body(&b, r->ctype, r->body, r->body_len);
	sip_build_finish(&b, out);
out:
	strbuf_free(&via);
	sip_build_free(&b);
	return err;
}

/* Sends to the next target; finishes when none is left. */
static void
request_try(struct request *r)
{
	struct ua *ua = r->ag->ua;

	while (r->next_target < r->ntargets) {
		const struct sip_resolve_target *t =
		    &r->targets[r->next_target++];
		struct strbuf out = STRBUF_INIT;
		struct sip_dest dst;
		char addr[64];
		int err;

		sip_tp_addr_str((const struct sockaddr *)&t->addr, addr,
		    sizeof(addr));
		snprintf(r->res.target, sizeof(r->res.target), "%s %s",
		    sip_tp_proto_name(ua_proto_of(t->transport)), addr);
		r->cseq++;
		err = ua_target_dest(ua, t, &dst);
		if (err == 0)
			err = request_build(r, &dst, &out);
		if (err == 0 && r->udp_max > 0 && dst.proto == SIP_TP_UDP &&
		    out.n > r->udp_max) {
			/* RFC 3428 §8: not over UDP; a stream target may
			 * still take it. */
			r->res.size = out.n;
			r->last_err = EMSGSIZE;
			strbuf_free(&out);
			continue;
		}
		if (err == 0)
			err = sip_ctrans_send(ua->trans, out.p, out.n, &dst,
			    request_on_ctrans, r, &r->ct);
		strbuf_free(&out);
		if (err == 0) {
			r->cur = t;
			r->got_1xx = false;
			/* Not for the last target: Timer F ends that one. */
			if (ua->failover_ms > 0 &&
			    r->next_target < r->ntargets) {
				struct timeval tv = { ua->failover_ms / 1000,
				    (suseconds_t)(ua->failover_ms % 1000) *
				    1000 };

				evtimer_add(r->failover, &tv);
			}
			return;
		}
		/* An EMSGSIZE of another target says more than this. */
		if (r->last_err != EMSGSIZE)
			r->last_err = err;
		/* The limit holds for every target: no use going on. */
		if (err == ENOBUFS) {
			r->last_err = err;
			break;
		}
		if (ua->blocklist_ms > 0)
			sip_resolve_mark_failed(ua->res, t, ua->blocklist_ms);
	}
	request_finish(r, r->last_err != 0 ? r->last_err : ENOENT);
}

static void
request_resolved(int error, const struct sip_resolve_target *targets,
    size_t n, void *arg)
{
	struct request *r = arg;

	if (error != 0) {
		snprintf(r->res.detail, sizeof(r->res.detail), "%s",
		    sip_resolve_reason(r->q));
		r->q = NULL;
		r->res.dns = true;
		request_finish(r, error);
		return;
	}
	r->q = NULL;
	if (n > SIP_RESOLVE_TARGETS_MAX)
		n = SIP_RESOLVE_TARGETS_MAX;
	memcpy(r->targets, targets, n * sizeof(*targets));
	r->ntargets = n;
	r->next_target = 0;
	request_try(r);
}

/* ---- starting ----------------------------------------------------------- */

static int
request_check(const struct request_agent *ag, const struct request_params *p,
    const struct account **ap, char *err, size_t errlen)
{
	struct sip_uri u;
	const char *why;
	int e;

	if ((*ap = account_set_find(ag->set, p->account)) == NULL) {
		snprintf(err, errlen, "no account '%.64s'", p->account);
		return ENOENT;
	}
	if ((e = request_check_method(p->method, err, errlen)) != 0)
		return e;
	if (sip_uri_parse(&u, p->uri, strlen(p->uri), &why) != 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS) ||
	    slice_present(u.headers)) {
		snprintf(err, errlen, "'%.128s' is not a sip: or sips: URI "
		    "fit for a Request-URI (no ?headers)", p->uri);
		return EINVAL;
	}
	if (p->nheaders > SIPX_REQUEST_HEADERS_MAX) {
		snprintf(err, errlen, "at most %d extra headers",
		    SIPX_REQUEST_HEADERS_MAX);
		return EINVAL;
	}
	for (size_t i = 0; i < p->nheaders; i++)
		if ((e = request_check_header(p->headers[i], err, errlen)) != 0)
			return e;
	if (p->content_type != NULL && p->body == NULL) {
		snprintf(err, errlen, "a type without a body");
		return EINVAL;
	}
	if (p->content_type != NULL &&
	    (e = request_check_type(p->content_type, err, errlen)) != 0)
		return e;
	if (p->body != NULL && p->body_len > SIPX_REQUEST_BODY_MAX) {
		snprintf(err, errlen, "the body is %zu bytes; at most %d",
		    p->body_len, SIPX_REQUEST_BODY_MAX);
		return EMSGSIZE;
	}
	if (p->timeout_ms > REQUEST_TIMEOUT_MAX_MS) {
		snprintf(err, errlen, "the timeout is at most %d s",
		    REQUEST_TIMEOUT_MAX_MS / 1000);
		return EINVAL;
	}
	if (ag->nlive >= ag->max_live) {
		snprintf(err, errlen, "%zu requests in flight already; try "
		    "again when some have ended", ag->nlive);
		return EBUSY;
	}
	return 0;
}

/* The user part of the account's aor, unescaped as written. */
static char *
request_aor_user(const char *aor)
{
	struct sip_uri u;
	const char *why;

	if (sip_uri_parse(&u, aor, strlen(aor), &why) != 0)
		return xstrdup("");
	return xstrndup(u.user.p != NULL ? u.user.p : "", u.user.n);
}

int
request_send(struct request_agent *ag, const struct request_params *p,
    request_response_fn *on_rsp, request_done_fn *on_done, void *arg,
    struct request **out, char *err, size_t errlen)
{
	static const char *const with_contact[] = { "SUBSCRIBE", "REFER",
	    "NOTIFY", NULL };
	const struct account *a;
	struct request *r;
	struct strbuf sb = STRBUF_INIT;
	unsigned ms = p->timeout_ms != 0 ? p->timeout_ms :
	    REQUEST_TIMEOUT_DEFAULT_MS;
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	int e;

	err[0] = '\0';
	if ((e = request_check(ag, p, &a, err, errlen)) != 0)
		return e;
	r = xcalloc(1, sizeof(*r));
	r->ag = ag;
	r->account = xstrdup(a->cfg->name);
	r->method = xstrdup(p->method);
	r->ruri = xstrdup(p->uri);
	if (a->cfg->display_name != NULL) {
		/* A quoted string: its quotes and backslashes escaped. */
		strbuf_addc(&sb, '"');
		for (const char *s = a->cfg->display_name; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				strbuf_addc(&sb, '\\');
			strbuf_addc(&sb, *s);
		}
		strbuf_addf(&sb, "\" <%s>", a->cfg->aor);
	} else {
		strbuf_addf(&sb, "<%s>", a->cfg->aor);
	}
	r->from = strbuf_detach(&sb);
	strbuf_addf(&sb, "<%s>", p->uri);
	r->to = strbuf_detach(&sb);
	r->user = request_aor_user(a->cfg->aor);
	r->hdrs = xreallocarray(NULL, p->nheaders + 1, sizeof(char *));
	for (size_t i = 0; i < p->nheaders; i++)
		r->hdrs[i] = xstrdup(p->headers[i]);
	r->nhdrs = p->nheaders;
	if (p->body != NULL) {
		r->body = xmalloc(p->body_len + 1);
		memcpy(r->body, p->body, p->body_len);
		r->body[p->body_len] = '\0';
		r->body_len = p->body_len;
		r->ctype = xstrdup(p->content_type != NULL ?
		    p->content_type : REQUEST_DEFAULT_TYPE);
	}
	r->udp_max = p->udp_max;
	for (size_t i = 0; with_contact[i] != NULL; i++)
		if (strcmp(p->method, with_contact[i]) == 0)
			r->contact = true;
	r->tp = (int)a->cfg->transport;
	random_hex(r->call_id, 16);
	random_hex(r->tag, 8);
	/* §8.1.1.5: any start below 2**31; small leaves room for retries. */
	r->cseq = 0;
	r->on_rsp = on_rsp;
	r->on_done = on_done;
	r->arg = arg;
	r->timer = evtimer_new(ag->ua->base, request_timeout_cb, r);
	r->failover = evtimer_new(ag->ua->base, request_failover_cb, r);
	r->done = event_new(ag->ua->base, -1, 0, request_done_cb, r);
	r->next = ag->head;
	if (ag->head != NULL)
		ag->head->prev = r;
	ag->head = r;
	ag->nlive++;
	ua_account_route(a, &r->route, &r->hop);
	e = ua_resolve(ag->ua, r->hop != NULL ? r->hop : r->ruri, r->tp,
	    request_resolved, r, &r->q);
	if (e != 0) {
		snprintf(err, errlen, "'%.128s' cannot be resolved: %s",
		    r->hop != NULL ? r->hop : r->ruri, e == EPROTONOSUPPORT ?
		    "sipxd cannot use its transport" : strerror(e));
		r->q = NULL;
		request_free(r);
		return EINVAL;
	}
	evtimer_add(r->timer, &tv);
	if (out != NULL)
		*out = r;
	return 0;
}

/* ---- the agent ---------------------------------------------------------- */

struct request_agent *
request_agent_new(struct ua *ua, struct account_set *set, size_t max_live)
{
	struct request_agent *ag = xcalloc(1, sizeof(*ag));

	ag->ua = ua;
	ag->set = set;
	ag->max_live = max_live != 0 ? max_live : SIPX_REQUESTS_MAX;
	return ag;
}

void
request_agent_free(struct request_agent *ag)
{
	if (ag == NULL)
		return;
	while (ag->head != NULL)
		request_free(ag->head);
	free(ag);
}

size_t
request_count(const struct request_agent *ag)
{
	return ag->nlive;
}
