/*
 * SIP core of the user agent (see ua.h): transport → transaction layer
 * → this file's dispatch → the usages.  It owns the method table and the
 * checks every request passes before a usage sees it, in RFC 3261 order:
 *
 *   §12.2.2   a To tag: the request belongs to a dialog.  Those the
 *             dialog table knows go to the dialog handler (the call
 *             usage); the rest get 481.
 *   §9.2      CANCEL with no INVITE to cancel: 481.
 *   §8.2.1    a method the parser does not know: 501; one it knows (an
 *             RFC 3261 or extension method) that no usage registered:
 *             405 with Allow.
 *   §8.2.2.3  Require naming an extension we lack: 420 with Unsupported.
 *
 * These answers, and those of methods registered UA_METHOD_STATELESS
 * (OPTIONS), are sent statelessly (§8.2.7) from the transaction layer's
 * stateless hook: no transaction, no timer, the response built in a
 * stack buffer.  Other methods get a server transaction and their
 * usage's handler.  Usages live in their own files (options.c) and
 * share struct ua through ua_priv.h.
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
#include "sip/sip_dialog.h"
#include "sip/sip_msg.h"
#include "sip/sip_resolve.h"
#include "sip/sip_uri.h"
#include "events.h"
#include "ua_priv.h"

/* At most one overload log line this often (a flood must not flood). */
#define UA_OVERLOAD_LOG_US	(10 * 1000000ull)

/*
 * Extensions we support (RFC 3261 §19.2 option tags): reliable
 * provisionals (RFC 3262) and session timers (RFC 4028), both in the
 * call usage.  A request that requires another gets 420.
 */
static const char *const ua_supported[] = { "100rel", "timer", NULL };

/* A response we build in place; larger ones go to the heap. */
#define UA_RESP_STACK		2048

/* ---- building answers ---------------------------------------------------- */

struct ua_out {
	char	*p;
	size_t	 n, cap;
};

static void
ua_out_add(struct ua_out *o, const char *s, size_t n)
{
	/* The caller sized cap for the worst case: this cannot happen. */
	if (n > o->cap - o->n)
		fatalx("ua: response buffer too small");
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
ua_out_str(struct ua_out *o, const char *s)
{
	ua_out_add(o, s, strlen(s));
}

static void
ua_out_hdr(struct ua_out *o, const char *name, const struct sip_hdr *h)
{
	ua_out_str(o, name);
	ua_out_add(o, ": ", 2);
	ua_out_add(o, h->value.p, h->value.n);
}

/*
 * §8.2.7: a stateless UAS must give the same To tag to the same request
 * (a retransmission), so the tag is a keyed hash of what identifies the
 * request: Call-ID, From tag and the top Via branch.  FNV-1a, keyed by a
 * random value per process: unpredictable enough for a tag, and cheap.
 */
static void
ua_stateless_tag(const struct ua *ua, const struct sip_msg *msg,
    char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL ^ ua->tag_key;
	struct slice parts[3] = { msg->call_id, msg->from.tag,
	    msg->nvia > 0 ? msg->via[0].branch : slice_make(NULL, 0) };

	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < parts[i].n; j++) {
			h ^= (unsigned char)parts[i].p[j];
			h *= 0x100000001b3ULL;
		}
		h ^= 0xff;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	for (int i = 15; i >= 0; i--) {
		out[i] = hex[h & 0xf];
		h >>= 4;
	}
	out[16] = '\0';
}

/* Writes the response; returns its length. */
static size_t
ua_build(struct ua *ua, const struct ua_req *rq, unsigned status,
    const char *reason, const char *hdrs, struct ua_out *o)
{
	const struct sip_msg *msg = rq->msg;
	const struct sip_hdr *from = NULL, *to = NULL, *cid = NULL;
	const struct sip_hdr *cseq = NULL;
	char line[48];
	int n;

	n = snprintf(line, sizeof(line), "SIP/2.0 %03u ", status);
	ua_out_add(o, line, (size_t)n);
	ua_out_str(o, reason);
	ua_out_add(o, "\r\n", 2);
	/* §8.2.6.2: every Via in order, then From, To, Call-ID, CSeq. */
	for (unsigned i = 0; i < msg->nhdrs; i++) {
		const struct sip_hdr *h = &msg->hdrs[i];

		switch (h->id) {
		case SIP_HDR_VIA:
			ua_out_hdr(o, "Via", h);
			ua_out_add(o, "\r\n", 2);
			break;
		case SIP_HDR_FROM:
			if (from == NULL)
				from = h;
			break;
		case SIP_HDR_TO:
			if (to == NULL)
				to = h;
			break;
		case SIP_HDR_CALL_ID:
			if (cid == NULL)
				cid = h;
			break;
		case SIP_HDR_CSEQ:
			if (cseq == NULL)
				cseq = h;
			break;
		default:
			break;
		}
	}
	if (from != NULL) {
		ua_out_hdr(o, "From", from);
		ua_out_add(o, "\r\n", 2);
	}
	if (to != NULL) {
		ua_out_hdr(o, "To", to);
		if (msg->to.tag.p == NULL && status > 100) {
			char tag[17];

			if (rq->st == NULL)
				ua_stateless_tag(ua, msg, tag);
			else
				random_hex(tag, 8);
			ua_out_add(o, ";tag=", 5);
			ua_out_add(o, tag, 16);
		}
		ua_out_add(o, "\r\n", 2);
	}
	if (cid != NULL) {
		ua_out_hdr(o, "Call-ID", cid);
		ua_out_add(o, "\r\n", 2);
	}
	if (cseq != NULL) {
		ua_out_hdr(o, "CSeq", cseq);
		ua_out_add(o, "\r\n", 2);
	}
	ua_out_str(o, ua->server_hdr);
	if (hdrs != NULL)
		ua_out_str(o, hdrs);
	ua_out_str(o, "Content-Length: 0\r\n\r\n");
	return o->n;
}

int
ua_respond(struct ua *ua, const struct ua_req *rq, unsigned status,
    const char *reason, const char *hdrs)
{
	char stack[UA_RESP_STACK];
	struct ua_out o = { stack, 0, sizeof(stack) };
	struct ua_req now = *rq;
	size_t need;
	int err;

	/*
	 * A server transaction frees its request with its final answer:
	 * read it through the transaction, never through a kept pointer.
	 */
	if (rq->st != NULL &&
	    (now.msg = sip_strans_request(rq->st)) == NULL)
		return EALREADY;
	rq = &now;
	/*
	 * The worst case: every byte of the request's header fields copied
	 * (names shrink or stay: we write long forms, at most 7 bytes, for
	 * fields of at least 1), a tag, our headers and the fixed lines.
	 */
	need = rq->msg->len + rq->msg->nhdrs * 8 + strlen(reason) +
	    strlen(ua->server_hdr) + (hdrs != NULL ? strlen(hdrs) : 0) + 128;
	if (need > sizeof(stack)) {
		o.p = xmalloc(need);
		o.cap = need;
	}
	ua_build(ua, rq, status, reason, hdrs, &o);
	if (rq->st != NULL)
		err = sip_strans_respond(rq->st, o.p, o.n);
	else
		err = sip_trans_send_stateless(ua->trans, rq->src, o.p, o.n);
	if (o.p != stack)
		free(o.p);
	return err;
}

const char *
ua_caps_hdrs(const struct ua *ua)
{
	return ua->caps_hdr;
}

/* Rebuilds the cached header blocks (start, register, reload). */
static void
ua_build_hdrs(struct ua *ua)
{
	size_t used = 0;
	bool invite = false;
	struct strbuf sb = STRBUF_INIT;

	ua->allow[0] = '\0';
	for (size_t i = 0; i < ua->nmethods; i++) {
		used += (size_t)snprintf(ua->allow + used,
		    sizeof(ua->allow) - used, "%s%s", used ? ", " : "",
		    ua->methods[i].name);
		invite |= ua->methods[i].id == SIP_METHOD_INVITE;
	}
	/* ACK and CANCEL exist only with INVITE (§13, §9). */
	if (invite)
		snprintf(ua->allow + used, sizeof(ua->allow) - used,
		    ", ACK, CANCEL");
	snprintf(ua->allow_hdr, sizeof(ua->allow_hdr), "Allow: %s\r\n",
	    ua->allow);
	/*
	 * §11.2, §20.1: Accept lists the bodies we take (SDP, once a usage
	 * takes INVITE), Supported the extensions of ua_supported.
	 */
	{
		char sup[64] = "";
		bool calls = strstr(ua->allow, "INVITE") != NULL;

		for (size_t i = 0; ua_supported[i] != NULL; i++)
			snprintf(sup + strlen(sup), sizeof(sup) - strlen(sup),
			    "%s%s", i > 0 ? ", " : "", ua_supported[i]);
		/* Both belong to the call usage: without it, none. */
		snprintf(ua->caps_hdr, sizeof(ua->caps_hdr),
		    "%sAccept: %s\r\nSupported: %s\r\n", ua->allow_hdr,
		    calls ? "application/sdp" : "", calls ? sup : "");
	}
	if (ua->user_agent[0] != '\0')
		strbuf_addf(&sb, "Server: %s\r\n", ua->user_agent);
	free(ua->server_hdr);
	ua->server_hdr = strbuf_detach(&sb);
}

/* ---- the method table ---------------------------------------------------- */

static bool
ua_is_token(const char *s)
{
	static const char extra[] = "-.!%*_+`'~";

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
			return false;
	return true;
}

int
ua_register_method(struct ua *ua, const char *method, ua_method_h *h,
    void *arg, unsigned flags)
{
	struct ua_method *m;

	if (!ua_is_token(method) || strlen(method) >= UA_METHOD_NAME_MAX)
		return EINVAL;
	for (size_t i = 0; i < ua->nmethods; i++)
		if (strcmp(ua->methods[i].name, method) == 0)
			return EEXIST;
	if (ua->nmethods == UA_METHODS_MAX)
		return ENOSPC;
	m = &ua->methods[ua->nmethods++];
	snprintf(m->name, sizeof(m->name), "%s", method);
	m->id = sip_method_from(slice_cstr(method));
	m->h = h;
	m->arg = arg;
	m->flags = flags;
	ua_build_hdrs(ua);
	return 0;
}

static const struct ua_method *
ua_method_find(const struct ua *ua, const struct sip_msg *msg)
{
	for (size_t i = 0; i < ua->nmethods; i++) {
		const struct ua_method *m = &ua->methods[i];

		if (msg->method != SIP_METHOD_OTHER ? m->id == msg->method :
		    slice_eq_cstr(msg->method_str, m->name))
			return m;
	}
	return NULL;
}

static bool
ua_option_supported(struct slice tag)
{
	for (size_t i = 0; ua_supported[i] != NULL; i++)
		if (slice_eq_cstr(tag, ua_supported[i]))
			return true;
	return false;
}

/*
 * §8.2.2.3: the option tags of Require we do not support, as an
 * Unsupported header line in out; false when there is none.  Every such
 * tag is listed, however long: the request's own size bounds it.
 */
static bool
ua_unsupported(const struct sip_msg *msg, struct strbuf *out)
{
	bool any = false;

	for (unsigned i = 0; i < msg->require.n; i++) {
		struct slice t = msg->require.v[i];

		if (ua_option_supported(t))
			continue;
		strbuf_adds(out, any ? ", " : "Unsupported: ");
		strbuf_add(out, t.p, t.n);
		any = true;
	}
	if (any)
		strbuf_adds(out, "\r\n");
	return any;
}

/*
 * The checks every request that matches no transaction goes through,
 * and the stateless answers.  Returns true when the request is answered
 * here; false hands it to a new server transaction and ua_on_request.
 */
static bool
ua_on_stateless(struct sip_trans_layer *layer, const struct sip_msg *msg,
    const struct sip_dest *src, void *arg)
{
	struct ua *ua = arg;
	struct ua_req rq = { msg, NULL, src };
	const struct ua_method *m;
	struct strbuf unsup = STRBUF_INIT;

	if (msg->to.tag.p != NULL) {
		/*
		 * §12.2.2: a request inside a dialog.  A dialog we hold gets
		 * a transaction and its handler; any other gets 481 (CANCEL
		 * included: it would have matched its INVITE's transaction).
		 */
		if (sip_dialog_table_find_request(ua->dialogs, msg) != NULL) {
			/* §8.2.2.3 holds inside a dialog too. */
			if (msg->require.n > 0 && msg->method != SIP_METHOD_ACK &&
			    msg->method != SIP_METHOD_CANCEL &&
			    ua_unsupported(msg, &unsup)) {
				ua_respond(ua, &rq, 420, "Bad Extension",
				    unsup.p);
				strbuf_free(&unsup);
				return true;
			}
			return false;
		}
		/* A NOTIFY may be ahead of its subscription's 2xx. */
		if (msg->method == SIP_METHOD_NOTIFY &&
		    ua->notify_miss_h != NULL)
			return false;
		ua_respond(ua, &rq, 481, "Call/Transaction Does Not Exist",
		    NULL);
		return true;
	}
	if (msg->method == SIP_METHOD_CANCEL) {
		/* §9.2: nothing to cancel, or the call usage's to answer. */
		if (sip_trans_find_invite(layer, msg) != NULL)
			return false;
		ua_respond(ua, &rq, 481, "Call/Transaction Does Not Exist",
		    NULL);
		return true;
	}
	m = ua_method_find(ua, msg);
	if (m == NULL && msg->method == SIP_METHOD_INVITE)
		/*
		 * §17.2.1: the final answer to an INVITE is retransmitted
		 * until its ACK comes; a transaction does that, and the
		 * call usage will take INVITE here.
		 */
		return false;
	if (m == NULL) {
		/* §8.2.1: 405 for a method we know of, 501 for the rest. */
		if (msg->method != SIP_METHOD_OTHER)
			ua_respond(ua, &rq, 405, "Method Not Allowed",
			    ua->allow_hdr);
		else
			ua_respond(ua, &rq, 501, "Not Implemented",
			    ua->allow_hdr);
		return true;
	}
	if (msg->require.n > 0 && ua_unsupported(msg, &unsup)) {
		ua_respond(ua, &rq, 420, "Bad Extension", unsup.p);
		strbuf_free(&unsup);
		return true;
	}
	if (!(m->flags & UA_METHOD_STATELESS))
		return false;
	m->h(ua, &rq, m->arg);
	return true;
}

static void
ua_on_request(struct sip_trans_layer *layer, struct sip_strans *st,
    const struct sip_msg *msg, void *arg)
{
	struct ua *ua = arg;
	struct ua_req rq = { msg, st, NULL };
	const struct ua_method *m;

	if (msg->to.tag.p != NULL && msg->method != SIP_METHOD_CANCEL) {
		struct sip_dialog *d =
		    sip_dialog_table_find_request(ua->dialogs, msg);

		/* An ACK for a 2xx (st NULL) ends here too (§13.2.2.4). */
		if (d != NULL && d->usage < UA_USAGE__COUNT &&
		    ua->dialog_h[d->usage] != NULL)
			ua->dialog_h[d->usage](ua, &rq, d,
			    ua->dialog_arg[d->usage]);
		else if (st != NULL && d == NULL &&
		    msg->method == SIP_METHOD_NOTIFY &&
		    ua->notify_miss_h != NULL &&
		    ua->notify_miss_h(ua, &rq, ua->notify_miss_arg))
			return;
		else if (st != NULL)
			ua_respond(ua, &rq, 481,
			    "Call/Transaction Does Not Exist", NULL);
		return;
	}
	if (st == NULL)
		return;		/* an ACK that matches nothing: dropped */
	m = ua_method_find(ua, msg);
	if (msg->method == SIP_METHOD_CANCEL) {
		const struct ua_method *inv = NULL;

		/*
		 * §9.2: it matched an INVITE's transaction (else the
		 * stateless check answered 481).  The usage that took the
		 * INVITE answers both; without one, 200 and nothing else.
		 */
		for (size_t i = 0; i < ua->nmethods; i++)
			if (ua->methods[i].id == SIP_METHOD_INVITE)
				inv = &ua->methods[i];
		if (inv != NULL)
			inv->h(ua, &rq, inv->arg);
		else
			ua_respond(ua, &rq, 200, "OK", NULL);
		return;
	}
	if (m == NULL) {
		/* An INVITE while no usage takes calls (see above). */
		ua_respond(ua, &rq, 405, "Method Not Allowed", ua->allow_hdr);
		return;
	}
	m->h(ua, &rq, m->arg);
}

/* ---- requests of the usages --------------------------------------------- */

enum sip_tp_proto
ua_proto_of(enum sip_resolve_tp t)
{
	switch (t) {
	case SIP_RESOLVE_TCP: return SIP_TP_TCP;
	case SIP_RESOLVE_TLS: return SIP_TP_TLS;
	case SIP_RESOLVE_WS: return SIP_TP_WS;
	case SIP_RESOLVE_WSS: return SIP_TP_WSS;
	case SIP_RESOLVE_UDP: break;
	}
	return SIP_TP_UDP;
}

int
ua_target_dest(struct ua *ua, const struct sip_resolve_target *t,
    struct sip_dest *dst)
{
	int err = sip_tp_dest_make(dst, ua_proto_of(t->transport),
	    (const struct sockaddr *)&t->addr, t->len);

	if (err == 0)
		err = sip_tp_open(ua->tp, dst, t->domain[0] ? t->domain : NULL);
	return err;
}

int
ua_resolve(struct ua *ua, const char *uri, int tp,
    void (*cb)(int, const struct sip_resolve_target *, size_t, void *),
    void *arg, struct sip_resolve_query **q)
{
	static const char *const tp_names[] = { "udp", "tcp", "tls", "ws",
	    "wss" };
	struct strbuf sb = STRBUF_INIT;
	struct sip_uri u;
	const char *why;
	int err;

	strbuf_adds(&sb, uri);
	if (sip_uri_parse(&u, sb.p, sb.n, &why) != 0) {
		strbuf_free(&sb);
		return EINVAL;
	}
	if (tp >= 0 && tp <= 4 && !slice_present(u.transport) &&
	    u.scheme == SIP_URI_SIP && !slice_present(u.headers)) {
		strbuf_addf(&sb, ";transport=%s", tp_names[tp]);
		if (sip_uri_parse(&u, sb.p, sb.n, &why) != 0) {
			strbuf_free(&sb);
			return EINVAL;
		}
	}
	err = sip_resolve_uri(ua->res, &u, cb, arg, q);
	strbuf_free(&sb);
	return err;
}

void
ua_set_dialog_handler(struct ua *ua, enum ua_usage usage, ua_dialog_h *h,
    void *arg)
{
	ua->dialog_h[usage] = h;
	ua->dialog_arg[usage] = arg;
}

void
ua_set_notify_miss_handler(struct ua *ua, ua_dialog_miss_h *h, void *arg)
{
	ua->notify_miss_h = h;
	ua->notify_miss_arg = arg;
}

/* ---- users --------------------------------------------------------------- */

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
bool
ua_user_known(const struct ua *ua, const struct sip_uri *uri)
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

/* ---- the transaction cap ------------------------------------------------ */

static void
ua_on_overload(struct sip_trans_layer *layer, bool on, size_t limit,
    void *arg)
{
	struct ua *ua = arg;
	uint64_t now = time_mono_us();
	char lim[24];

	snprintf(lim, sizeof(lim), "%zu", limit);
	events_publish("daemon.overload", NULL, "state", on ? "on" : "off",
	    "limit", lim, NULL);
	if (on && (ua->overload_logged_us == 0 ||
	    now - ua->overload_logged_us >= UA_OVERLOAD_LOG_US)) {
		log_warnx("transaction limit %zu reached: answering 503",
		    limit);
		ua->overload_logged_us = now;
		ua->overload_said = true;
	} else if (!on && ua->overload_said) {
		log_notice("transactions below the limit %zu again", limit);
		ua->overload_said = false;
	}
}

void
ua_set_max_transactions(struct ua *ua, size_t max)
{
	sip_trans_set_limit(ua->trans, max != 0 ? max :
	    SIP_TRANS_MAX_DEFAULT);
}

/* ---- wiring --------------------------------------------------------------- */

static void	ua_dns_pending_free(struct ua *);

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
	char key[17];
	int rc_err;

	*out = NULL;
	ua->base = base;
	ua->user_agent = xstrdup(conf->user_agent);
	ua->default_from = xstrdup(conf->default_from);
	ua->failover_ms = conf->failover_ms;
	ua->blocklist_ms = conf->blocklist_ms;
	random_hex(key, 8);
	ua->tag_key = strtoull(key, NULL, 16);
	ua->dialogs = sip_dialog_table_new();
	ua_build_hdrs(ua);
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
	ua->tc = tc;
	sip_trans_set_stateless_handler(ua->trans, ua_on_stateless, ua);
	sip_trans_set_request_handler(ua->trans, ua_on_request, ua);
	sip_trans_set_overload_handler(ua->trans, ua_on_overload, ua);
	ua_set_max_transactions(ua, conf->max_transactions);
	sip_tp_set_recv(ua->tp, ua_tp_recv, ua);
	sip_tp_set_fail(ua->tp, ua_tp_fail, ua);
	/* The usages: each registers its methods. */
	ua_options_init(ua);
	*out = ua;
	return 0;
}

void
ua_free(struct ua *ua)
{
	if (ua == NULL)
		return;
	ua_dns_pending_free(ua);
	if (ua->dns_retry != NULL)
		event_free(ua->dns_retry);
	/* Transactions first: they hold no transport state once gone. */
	if (ua->trans != NULL)
		sip_trans_layer_free(ua->trans);
	if (ua->res != NULL)
		sip_resolve_free(ua->res);
	if (ua->tp != NULL)
		sip_tp_free(ua->tp);
	if (ua->dialogs != NULL)
		sip_dialog_table_free(ua->dialogs);
	for (size_t i = 0; i < ua->nusers; i++)
		free(ua->users[i]);
	free(ua->users);
	free(ua->user_agent);
	free(ua->server_hdr);
	free(ua->default_from);
	free(ua);
}

struct sip_trans_layer *
ua_trans(struct ua *ua)
{
	return ua->trans;
}

struct sip_resolve *
ua_resolver(struct ua *ua)
{
	return ua->res;
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

void
ua_set_user_agent(struct ua *ua, const char *user_agent)
{
	free(ua->user_agent);
	ua->user_agent = xstrdup(user_agent);
	ua_build_hdrs(ua);
}

void
ua_set_timers(struct ua *ua, unsigned t1_ms, unsigned t2_ms, unsigned t4_ms)
{
	ua->tc.t1_ms = t1_ms;
	ua->tc.t2_ms = t2_ms;
	ua->tc.t4_ms = t4_ms;
	sip_trans_set_conf(ua->trans, &ua->tc);
}

static void
ua_dns_pending_free(struct ua *ua)
{
	for (size_t i = 0; i < ua->ndns_pending; i++)
		free(ua->dns_pending[i]);
	free(ua->dns_pending);
	ua->dns_pending = NULL;
	ua->ndns_pending = 0;
}

static void
ua_dns_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ua *ua = arg;
	struct timeval tv = { 0, 100 * 1000 };
	int err;

	err = sip_resolve_set_servers(ua->res,
	    (const char *const *)ua->dns_pending, ua->ndns_pending);
	if (err == EBUSY) {
		evtimer_add(ua->dns_retry, &tv);
		return;
	}
	if (err != 0)
		log_warnx("dns: cannot use the new servers: %s",
		    strerror(err));
	else
		log_info("dns: new servers in use");
	sip_resolve_cache_flush(ua->res);
	ua_dns_pending_free(ua);
}

int
ua_set_dns_servers(struct ua *ua, const char *const *servers, size_t n)
{
	struct timeval tv = { 0, 100 * 1000 };
	int err;

	if (n == 0)
		return EINVAL;
	ua_dns_pending_free(ua);
	if (ua->dns_retry != NULL)
		evtimer_del(ua->dns_retry);
	err = sip_resolve_set_servers(ua->res, servers, n);
	if (err != EBUSY) {
		if (err == 0)
			sip_resolve_cache_flush(ua->res);
		return err;
	}
	ua->dns_pending = xreallocarray(NULL, n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		ua->dns_pending[i] = xstrdup(servers[i]);
	ua->ndns_pending = n;
	if (ua->dns_retry == NULL)
		ua->dns_retry = evtimer_new(ua->base, ua_dns_retry_cb, ua);
	evtimer_add(ua->dns_retry, &tv);
	log_info("dns: new servers wait for the queries in flight");
	return 0;
}

void
ua_set_failover(struct ua *ua, unsigned failover_ms, unsigned blocklist_ms)
{
	ua->failover_ms = failover_ms;
	ua->blocklist_ms = blocklist_ms;
}
