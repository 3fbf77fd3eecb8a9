/*
 * SIP transports: UDP, TCP and TLS sockets, and outbound WebSocket
 * connections, on the caller's libevent loop (RFC 3261 §18, RFC 3581,
 * RFC 5626 §3.5.1, RFC 7118).  This file owns the
 * transport object, listeners, addresses, the send dispatch (including
 * the §18.1.1 switch to TCP), our Via, the §18.2.1 fix-up of incoming
 * requests and the 400 for malformed ones.  Datagram I/O lives in
 * sip_tp_udp.c, stream connections in sip_tp_stream.c, OpenSSL in
 * sip_tp_tls.c, WebSocket framing in sip_tp_ws.c.  It knows no transaction: messages go up through the
 * receive callback, lost connections through the failure callback, both
 * from the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "base/random.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_hdr.h"
#include "sip_tp_priv.h"

static const char *const proto_names[SIP_TP__COUNT] = { "UDP", "TCP", "TLS",
	"WS", "WSS" };

const char *
sip_tp_proto_name(enum sip_tp_proto p)
{
	return (unsigned)p < SIP_TP__COUNT ? proto_names[p] : "?";
}

int
sip_tp_proto_from(const char *s, enum sip_tp_proto *out)
{
	for (unsigned i = 0; i < SIP_TP__COUNT; i++)
		if (strcasecmp(s, proto_names[i]) == 0) {
			*out = (enum sip_tp_proto)i;
			return 0;
		}
	return EINVAL;
}

bool
sip_tp_proto_secure(enum sip_tp_proto p)
{
	return p == SIP_TP_TLS || p == SIP_TP_WSS;
}

bool
sip_tp_proto_ws(enum sip_tp_proto p)
{
	return p == SIP_TP_WS || p == SIP_TP_WSS;
}

const char *
sip_tp_contact_scheme(enum sip_tp_proto p)
{
	return p == SIP_TP_TLS ? "sips" : "sip";
}

const char *
sip_tp_contact_param(enum sip_tp_proto p)
{
	switch (p) {
	case SIP_TP_TCP:	return ";transport=tcp";
	case SIP_TP_WS:
	case SIP_TP_WSS:	return ";transport=ws";
	default:		return "";
	}
}

void
sip_tp_conf_default(struct sip_tp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = 10000;
	c->idle_timeout_ms = SIP_TP_IDLE_TIMEOUT_DEFAULT * 1000;
	c->message_timeout_ms = SIP_TP_MESSAGE_TIMEOUT_DEFAULT * 1000;
	c->tls_handshake_timeout_ms = SIP_TP_TLS_HANDSHAKE_TIMEOUT_DEFAULT *
	    1000;
	c->pong_timeout_ms = SIP_TP_PONG_TIMEOUT_DEFAULT * 1000;
	c->mtu = SIP_TP_MTU_DEFAULT;
	c->max_conns = SIP_TP_CONNS_DEFAULT;
}

/* ---- addresses ------------------------------------------------------------ */

uint16_t
tp_sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void
tp_sa_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons(port);
}

/* The address without port; IPv6 without brackets. */
void
tp_sa_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/* "192.0.2.1:5060", "[2001:db8::1]:5060" for logs and Via. */
void
sip_tp_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	tp_sa_ip(sa, ip, sizeof(ip));
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    ip, tp_sa_port(sa));
}

bool
tp_sa_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

bool
tp_sa_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	return tp_sa_same_ip(a, b) && tp_sa_port(a) == tp_sa_port(b);
}

bool
tp_sa_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
	    htonl(INADDR_ANY);
}

/* A host of a Via (IPv6 in brackets) as an address, if it is one. */
bool
tp_host_to_sa(struct slice host, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];

	memset(ss, 0, sizeof(*ss));
	if (host.n >= 2 && host.p[0] == '[' && host.p[host.n - 1] == ']') {
		host.p++;
		host.n -= 2;
	}
	if (host.n == 0 || host.n >= sizeof(buf))
		return false;
	memcpy(buf, host.p, host.n);
	buf[host.n] = '\0';
	if (inet_pton(AF_INET, buf,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

bool
tp_is_ip_literal(const char *s)
{
	struct sockaddr_storage ss;

	return tp_host_to_sa(slice_cstr(s), &ss);
}

bool
tp_is_response(const char *buf, size_t len)
{
	return len >= 8 && memcmp(buf, "SIP/2.0 ", 8) == 0;
}

/* ---- stats and trace ------------------------------------------------------ */

void
tp_trace(struct sip_tp *tp, enum sip_tp_dir dir, enum sip_tp_proto proto,
    uint64_t id, const struct sockaddr_storage *local, socklen_t llen,
    const struct sockaddr_storage *peer, socklen_t plen, const char *buf,
    size_t len)
{
	struct sip_tp_trace t;

	if (tp->trace_h == NULL)
		return;
	t.dir = dir;
	t.proto = proto;
	t.conn_id = id;
	t.local = (const struct sockaddr *)local;
	t.local_len = llen;
	t.peer = (const struct sockaddr *)peer;
	t.peer_len = plen;
	t.buf = buf;
	t.len = len;
	tp->trace_h(&t, tp->trace_arg);
}

/* ---- the transport -------------------------------------------------------- */

static char *
dup_opt(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct sip_tp *
sip_tp_new(struct event_base *base, const struct sip_tp_conf *conf)
{
	struct sip_tp *tp = xcalloc(1, sizeof(*tp));

	tp->base = base;
	if (conf != NULL)
		tp->conf = *conf;
	else
		sip_tp_conf_default(&tp->conf);
	if (tp->conf.mtu == 0)
		tp->conf.mtu = SIP_TP_MTU_DEFAULT;
	tp->conf.ca_file = dup_opt(tp->conf.ca_file);
	tp->conf.ca_dir = dup_opt(tp->conf.ca_dir);
	tp->conf.client_cert = dup_opt(tp->conf.client_cert);
	tp->conf.client_key = dup_opt(tp->conf.client_key);
	TAILQ_INIT(&tp->conns);
	TAILQ_INIT(&tp->dead);
	TAILQ_INIT(&tp->obs);
	tp->reaper = event_new(base, -1, 0, tp_reaper_cb, tp);
	if (tp->reaper == NULL)
		fatalx("sip_tp: event_new failed");
	tp->next_id = 1;
	tp->rl_peer = (struct ratelimit)RATELIMIT_INIT(10000, 10);
	tp->rl_accept = (struct ratelimit)RATELIMIT_INIT(10000, 1);
	tp->rl_refuse = (struct ratelimit)RATELIMIT_INIT(10000, 1);
	tp->rbuf = xmalloc(SIP_MSG_SIZE_MAX + 1);
	return tp;
}

static void
listener_free(struct sip_tp_listener *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd >= 0)
		close(l->fd);
	if (l->lev != NULL)
		evconnlistener_free(l->lev);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	if (l->ssl != NULL)
		SSL_CTX_free(l->ssl);
	free(l);
}

void
sip_tp_free(struct sip_tp *tp)
{
	struct sip_tp_conn *c;

	if (tp == NULL)
		return;
	struct sip_tp_obs *o;

	tp->fail_h = NULL;
	tp->trace_h = NULL;
	while ((o = TAILQ_FIRST(&tp->obs)) != NULL) {
		TAILQ_REMOVE(&tp->obs, o, entry);
		free(o);
	}
	while ((c = TAILQ_FIRST(&tp->conns)) != NULL)
		tp_conn_close(c, 0, false);
	tp_reaper_cb(-1, 0, tp);
	event_free(tp->reaper);
	for (unsigned i = 0; i < tp->nls; i++)
		listener_free(tp->ls[i]);
	if (tp->client_ctx != NULL)
		SSL_CTX_free(tp->client_ctx);
	free((char *)tp->conf.ca_file);
	free((char *)tp->conf.ca_dir);
	free((char *)tp->conf.client_cert);
	free((char *)tp->conf.client_key);
	free(tp->rbuf);
	free(tp);
}

void
sip_tp_set_recv(struct sip_tp *tp, sip_tp_recv_h *h, void *arg)
{
	tp->recv_h = h;
	tp->recv_arg = arg;
}

void
sip_tp_set_fail(struct sip_tp *tp, sip_tp_fail_h *h, void *arg)
{
	tp->fail_h = h;
	tp->fail_arg = arg;
}

void
sip_tp_set_trace(struct sip_tp *tp, sip_tp_trace_h *h, void *arg)
{
	tp->trace_h = h;
	tp->trace_arg = arg;
}

const struct sip_tp_stats *
sip_tp_stats(const struct sip_tp *tp)
{
	return &tp->stats;
}

struct sip_tp_listener *
tp_listener_by_id(const struct sip_tp *tp, uint64_t id)
{
	for (unsigned i = 0; i < tp->nls; i++)
		if (tp->ls[i]->id == id)
			return tp->ls[i];
	return NULL;
}

/*
 * The first listener of proto and family; any proto if none.  A
 * listener whose address left the host is never chosen: nothing sent
 * from it would arrive, and nothing said in its name could be answered.
 */
struct sip_tp_listener *
tp_listener_for(const struct sip_tp *tp, enum sip_tp_proto proto, int family,
    bool any_proto)
{
	for (unsigned i = 0; i < tp->nls; i++)
		if (tp->ls[i]->proto == proto &&
		    tp->ls[i]->addr.ss_family == family &&
		    !tp->ls[i]->addr_gone)
			return tp->ls[i];
	if (any_proto)
		for (unsigned i = 0; i < tp->nls; i++)
			if (tp->ls[i]->addr.ss_family == family &&
			    !tp->ls[i]->addr_gone)
				return tp->ls[i];
	return NULL;
}

int
sip_tp_dest_make(struct sip_dest *d, enum sip_tp_proto proto,
    const struct sockaddr *sa, socklen_t len)
{
	memset(d, 0, sizeof(*d));
	if ((unsigned)proto >= SIP_TP__COUNT || len > sizeof(d->addr) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return EINVAL;
	d->proto = (uint8_t)proto;
	d->reliable = proto != SIP_TP_UDP;
	memcpy(&d->addr, sa, len);
	d->addrlen = len;
	return 0;
}

bool
sip_tp_wants_stream(const struct sip_tp *tp, const struct sip_dest *d,
    size_t len)
{
	return d->proto == SIP_TP_UDP && !tp->conf.no_mtu_switch &&
	    len > tp->conf.mtu;
}

/*
 * The top Via's transport of a request in buf, as an offset, so that a
 * §18.1.1 switch can say TCP instead of UDP; false if not found.
 */
static bool
via_transport_at(const char *buf, size_t len, size_t *off)
{
	const char *p = buf, *e = buf + len, *eol;

	eol = memchr(p, '\n', len);
	while (eol != NULL && eol + 1 < e) {
		const char *name = eol + 1, *c = name;

		if (*name == '\r' || *name == '\n')
			return false;		/* end of headers */
		while (c < e && *c != ':' && *c != ' ' && *c != '\t' &&
		    *c != '\n')
			c++;
		eol = memchr(name, '\n', (size_t)(e - name));
		if (sip_hdr_lookup(name, (size_t)(c - name)) != SIP_HDR_VIA)
			continue;
		/* "SIP/2.0/UDP", with optional LWS around the slashes. */
		for (const char *q = c; eol != NULL && q + 3 <= eol; q++) {
			if (*q != '/' || q + 1 >= eol)
				continue;
			if (q[1] == '2')	/* the version's slash */
				continue;
			q++;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q + 3 <= eol && strncasecmp(q, "UDP", 3) == 0) {
				*off = (size_t)(q - buf);
				return true;
			}
			return false;
		}
		return false;
	}
	return false;
}

int
sip_tp_send_ex(struct sip_tp *tp, const struct sip_dest *dst,
    const char *buf, size_t len, struct sip_dest *used)
{
	const struct sockaddr *sa = (const struct sockaddr *)&dst->addr;
	struct sip_tp_conn *c = NULL;
	struct sip_dest d = *dst;
	int err = 0;

	if (dst->proto >= SIP_TP__COUNT || dst->addrlen == 0)
		return EINVAL;
	if (dst->proto == SIP_TP_UDP) {
		size_t off;

		if (!tp_is_response(buf, len) && !dst->no_switch &&
		    sip_tp_wants_stream(tp, dst, len) &&
		    via_transport_at(buf, len, &off)) {
			char *copy = xmalloc(len);

			/* RFC 3261 §18.1.1: too big for UDP. */
			memcpy(copy, buf, len);
			memcpy(copy + off, "TCP", 3);
			d.proto = SIP_TP_TCP;
			d.reliable = true;
			d.conn_id = 0;
			if ((err = sip_tp_open(tp, &d, NULL)) == 0 &&
			    (c = tp_conn_by_id(tp, d.conn_id)) != NULL)
				err = tp_conn_write(c, copy, len, true);
			free(copy);
			if (err == 0) {
				tp->stats.mtu_switches++;
				if (used != NULL)
					*used = d;
			}
			return err;
		}
		err = tp_udp_send(tp, dst->conn_id, sa, dst->addrlen, buf, len);
		if (err == 0 && used != NULL)
			*used = d;
		return err;
	}
	if (dst->conn_id != 0) {
		c = tp_conn_by_id(tp, dst->conn_id);
		/*
		 * §18.2.2: a response falls back to a new connection; not
		 * on WebSocket, where a new connection of ours would reach
		 * the server's HTTP side, not the flow the request came on.
		 */
		if (c == NULL && (!tp_is_response(buf, len) ||
		    sip_tp_proto_ws(dst->proto)))
			return ENOTCONN;
	}
	if (c == NULL) {
		d.conn_id = 0;
		if ((err = sip_tp_open(tp, &d, NULL)) != 0)
			return err;
		if ((c = tp_conn_by_id(tp, d.conn_id)) == NULL)
			return ENOTCONN;
	}
	if ((err = tp_conn_write(c, buf, len, true)) != 0)
		return err;
	if (used != NULL) {
		*used = d;
		used->conn_id = c->id;
		used->reliable = true;
	}
	return 0;
}

int
sip_tp_send(void *arg, struct sip_dest *dst, const char *buf, size_t len)
{
	return sip_tp_send_ex(arg, dst, buf, len, dst);
}

const struct sip_tp_ops sip_tp_ops = { sip_tp_send };

/* ---- Via ------------------------------------------------------------------ */

void
sip_tp_branch(char out[SIP_TP_BRANCH_LEN])
{
	memcpy(out, "z9hG4bK", 7);
	random_hex(out + 7, 16);
}

/* The local address a wildcard socket would use towards sa (no I/O). */
static bool
local_towards(const struct sockaddr *sa, socklen_t len,
    struct sockaddr_storage *out)
{
	socklen_t olen = sizeof(*out);
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, sa, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)out, &olen) == 0;
	close(fd);
	return ok;
}

int
sip_tp_sent_by(struct sip_tp *tp, const struct sip_dest *dst, char *out,
    size_t len)
{
	const struct sockaddr *sa = (const struct sockaddr *)&dst->addr;
	struct sip_tp_listener *l;
	struct sockaddr_storage ss;
	struct sip_tp_conn *c;

	if (dst->proto >= SIP_TP__COUNT)
		return EINVAL;
	if (sip_tp_proto_ws(dst->proto) &&
	    (c = tp_conn_by_id(tp, dst->conn_id)) != NULL &&
	    c->local_len > 0) {
		sip_tp_addr_str((struct sockaddr *)&c->local, out, len);
		return 0;
	}
	l = tp_listener_for(tp, dst->proto, sa->sa_family, true);
	if (l == NULL)
		return EADDRNOTAVAIL;
	ss = l->addr;
	if (tp_sa_is_any((struct sockaddr *)&ss)) {
		c = tp_conn_by_id(tp, dst->conn_id);
		if (c != NULL && c->local_len > 0)
			ss = c->local;
		else if (!local_towards(sa, dst->addrlen, &ss))
			return EADDRNOTAVAIL;
		tp_sa_set_port((struct sockaddr *)&ss,
		    tp_sa_port((struct sockaddr *)&l->addr));
	}
	sip_tp_addr_str((struct sockaddr *)&ss, out, len);
	return 0;
}

int
sip_tp_via(struct sip_tp *tp, const struct sip_dest *dst, const char *branch,
    struct strbuf *out)
{
	char host[INET6_ADDRSTRLEN + 8];
	int err;

	if ((err = sip_tp_sent_by(tp, dst, host, sizeof(host))) != 0)
		return err;
	sip_tp_via_at(dst, host, branch, out);
	return 0;
}

void
sip_tp_via_at(const struct sip_dest *dst, const char *sent_by,
    const char *branch, struct strbuf *out)
{
	char br[SIP_TP_BRANCH_LEN];

	if (branch == NULL) {
		sip_tp_branch(br);
		branch = br;
	}
	/* RFC 3581 §3: always ask for rport. */
	strbuf_addf(out, "SIP/2.0/%s %s;rport;branch=%s",
	    sip_tp_proto_name(dst->proto), sent_by, branch);
}

/* Where the first Via element of a field value ends (a ',' or the end). */
static const char *
via_elem_end(struct slice v)
{
	bool q = false;

	for (size_t i = 0; i < v.n; i++) {
		if (q && v.p[i] == '\\' && i + 1 < v.n)
			i++;
		else if (v.p[i] == '"')
			q = !q;
		else if (!q && v.p[i] == ',')
			return v.p + i;
	}
	return v.p + v.n;
}

bool
sip_tp_via_fixed(const struct sip_msg *req, const struct sockaddr *src,
    struct strbuf *out)
{
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_VIA, 0);
	const struct sip_via *v;
	struct sockaddr_storage sent;
	const char *end, *p;
	char ip[INET6_ADDRSTRLEN];
	bool need_received;

	if (h == NULL || req->nvia == 0)
		return false;
	v = &req->via[0];
	/* §18.2.1; RFC 3581 §4: received always goes with rport. */
	need_received = v->rport || !tp_host_to_sa(v->host, &sent) ||
	    !tp_sa_same_ip((struct sockaddr *)&sent, src);
	tp_sa_ip(src, ip, sizeof(ip));
	if (!need_received)
		return false;
	if (!v->rport && slice_eq_cstr(v->received, ip))
		return false;
	if (v->rport && v->rport_value >= 0 && slice_eq_cstr(v->received, ip))
		return false;
	end = via_elem_end(h->value);
	while (end > h->value.p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	/* Copy the element without its received and rport parameters. */
	p = h->value.p;
	for (unsigned i = 0; i < v->params.n; i++) {
		const struct sip_param *pr = &v->params.v[i];
		const char *s, *e;

		if (!slice_caseeq_cstr(pr->name, "received") &&
		    !slice_caseeq_cstr(pr->name, "rport"))
			continue;
		s = pr->name.p;
		while (s > p && s[-1] != ';')
			s--;
		if (s > p)
			s--;			/* the ';' */
		while (s > p && (s[-1] == ' ' || s[-1] == '\t'))
			s--;
		e = pr->name.p + pr->name.n;
		if (pr->value.p != NULL && pr->value.p + pr->value.n > e)
			e = pr->value.p + pr->value.n;
		if (e < end && *e == '"')
			e++;
		strbuf_add(out, p, (size_t)(s - p));
		p = e;
	}
	strbuf_add(out, p, (size_t)(end - p));
	strbuf_addf(out, ";received=%s", ip);
	if (v->rport)
		strbuf_addf(out, ";rport=%u", tp_sa_port(src));
	strbuf_add(out, end, (size_t)(h->value.p + h->value.n - end));
	return true;
}

/* ---- receiving ------------------------------------------------------------ */

/* Copies a raw header value without folding (CR, LF → SP). */
static void
raw_value(struct strbuf *sb, const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		e--;
	for (; p < e; p++)
		strbuf_addc(sb, *p == '\r' || *p == '\n' || *p == '\0' ?
		    ' ' : *p);
}

/*
 * A 400 for a request the parser refused, from the raw bytes: the
 * parser gives nothing back, so Via, From, To, Call-ID and CSeq are
 * found here, leniently.  False when any is missing (nothing to answer
 * to) or the request is an ACK.
 */
static bool
build_400(const char *buf, size_t len, const char *reason,
    struct strbuf *out)
{
	static const enum sip_hdr_id need[] = { SIP_HDR_VIA, SIP_HDR_FROM,
	    SIP_HDR_TO, SIP_HDR_CALL_ID, SIP_HDR_CSEQ };
	const char *p = buf, *e = buf + len, *eol;
	struct sip_build b;
	unsigned seen = 0;
	char why[128];
	size_t n = 0;
	bool ok = false;

	while (p < e && (*p == '\r' || *p == '\n'))
		p++;
	if ((size_t)(e - p) >= 4 && memcmp(p, "ACK ", 4) == 0)
		return false;
	if ((eol = memchr(p, '\n', (size_t)(e - p))) == NULL)
		return false;
	for (const char *r = reason != NULL ? reason : "Bad Request";
	    *r != '\0' && n < sizeof(why) - 1; r++)
		why[n++] = (*r >= 0x20 && *r < 0x7f) ? *r : ' ';
	why[n] = '\0';
	memset(&b, 0, sizeof(b));
	sip_build_response(&b, 400, why);
	for (p = eol + 1; p < e;) {
		const char *name = p, *c = p, *ve;
		struct strbuf v = STRBUF_INIT;
		enum sip_hdr_id id;

		if (*p == '\r' || *p == '\n')
			break;
		while (c < e && *c != ':' && *c != ' ' && *c != '\t' &&
		    *c != '\n')
			c++;
		ve = c;
		for (;;) {
			ve = memchr(ve, '\n', (size_t)(e - ve));
			if (ve == NULL)
				ve = e;
			if (ve + 1 >= e || (ve[1] != ' ' && ve[1] != '\t'))
				break;
			ve++;
		}
		id = sip_hdr_lookup(name, (size_t)(c - name));
		while (c < ve && *c != ':')
			c++;
		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
			if (id != need[i] || c >= ve)
				continue;
			raw_value(&v, c + 1, ve);
			if (id == SIP_HDR_TO && strstr(v.p != NULL ? v.p : "",
			    ";tag=") == NULL) {
				char tag[SIP_TP_BRANCH_LEN];

				sip_tp_branch(tag);
				strbuf_addf(&v, ";tag=%s", tag + 7);
			}
			if (v.n > 0 && sip_build_add(&b, id, v.p) == 0)
				seen |= 1u << i;
		}
		strbuf_free(&v);
		p = ve < e ? ve + 1 : e;
	}
	if (seen == (1u << (sizeof(need) / sizeof(need[0]))) - 1) {
		sip_build_finish(&b, out);
		ok = true;
	}
	sip_build_free(&b);
	return ok;
}

/*
 * A message that failed to parse: requests get a 400 from the same
 * socket (UDP: to the packet's source) when the parser read a request
 * line and the raw text has the headers to answer with.
 */
void
tp_garbage(struct sip_tp *tp, struct sip_tp_conn *c, struct sip_tp_listener *l,
    const struct sockaddr_storage *src, socklen_t srclen, const char *buf,
    size_t len, const struct sip_parse_error *pe)
{
	struct strbuf out = STRBUF_INIT;
	char from[INET6_ADDRSTRLEN + 8];

	sip_tp_addr_str((const struct sockaddr *)src, from, sizeof(from));
	while (len > 0 && (*buf == '\r' || *buf == '\n')) {
		buf++;
		len--;
	}
	if (!pe->request && len >= 4 && memcmp(buf, "SIP/", 4) == 0) {
		tp->stats.garbage_responses++;
		log_limited(&tp->rl_peer, LOG_LEVEL_DEBUG,
		    "sip_tp: dropped a malformed response from %s: %s",
		    from, pe->reason != NULL ? pe->reason : "?");
		return;
	}
	tp->stats.garbage_requests++;
	log_limited(&tp->rl_peer, LOG_LEVEL_DEBUG,
	    "sip_tp: malformed request from %s: %s", from,
	    pe->reason != NULL ? pe->reason : "?");
	if (pe->status == 0 || !build_400(buf, len, pe->reason, &out))
		return;
	if (c != NULL)
		(void)tp_conn_write(c, out.p, out.n, true);
	else
		(void)tp_udp_send(tp, l->id, (const struct sockaddr *)src,
		    srclen, out.p, out.n);
	strbuf_free(&out);
}

/*
 * A parsed message goes up.  A request first gets its top Via fixed
 * (§18.2.1; the message is rebuilt and parsed again, so every layer
 * above sees the received/rport values) and the §18.2.2 destination of
 * its responses.
 */
/*
 * RFC 3261 §18.1.2: is the sent-by of a response's top Via one of ours?
 * Our Via (sip_tp_via) carries a listener's address and port, or, for a
 * wildcard listener, a local address of its family and its port.  No
 * port means the transport's default.
 */
static bool
via_is_ours(const struct sip_tp *tp, const struct sip_via *v,
    const struct sip_tp_conn *c)
{
	struct sockaddr_storage ss;

	if (!tp_host_to_sa(v->host, &ss))
		return false;		/* we never put a name there */
	/* WebSocket: the connection's own address (sip_tp_sent_by). */
	if (c != NULL && c->ws != NULL && c->local_len > 0 &&
	    tp_sa_same_ip((const struct sockaddr *)&c->local,
	    (const struct sockaddr *)&ss) &&
	    tp_sa_port((const struct sockaddr *)&c->local) == v->port)
		return true;
	for (unsigned i = 0; i < tp->nls; i++) {
		const struct sip_tp_listener *l = tp->ls[i];
		const struct sockaddr *la = (const struct sockaddr *)&l->addr;
		uint16_t port = v->port;

		if (port == 0)
			port = l->proto == SIP_TP_TLS ? 5061 : 5060;
		if (la->sa_family != ss.ss_family || tp_sa_port(la) != port)
			continue;
		if (tp_sa_is_any(la) ||
		    tp_sa_same_ip(la, (const struct sockaddr *)&ss))
			return true;
	}
	return false;
}

void
tp_deliver(struct sip_tp *tp, enum sip_tp_proto proto, uint64_t id,
    const struct sockaddr_storage *src, socklen_t srclen,
    struct sip_msg *m, unsigned flags)
{
	struct sip_dest d;
	struct strbuf via = STRBUF_INIT;

	sip_tp_dest_make(&d, proto, (const struct sockaddr *)src, srclen);
	d.conn_id = id;
	if (!m->request && (m->nvia == 0 || !via_is_ours(tp, &m->via[0],
	    proto == SIP_TP_UDP ? NULL : tp_conn_by_id(tp, id)))) {
		char from[INET6_ADDRSTRLEN + 8];

		/* RFC 3261 §18.1.2: not for us; silently discarded. */
		tp->stats.foreign_responses++;
		sip_tp_addr_str((const struct sockaddr *)src, from,
		    sizeof(from));
		log_limited(&tp->rl_peer, LOG_LEVEL_DEBUG, "sip_tp: dropped "
		    "a response from %s whose top Via is not ours", from);
		sip_msg_free(m);
		return;
	}
	if (m->request && m->nvia > 0) {
		const struct sip_via *v = &m->via[0];
		uint16_t port = v->port;

		if (port == 0)
			port = proto == SIP_TP_TLS ? 5061 : 5060;
		if (v->rport)
			port = tp_sa_port((const struct sockaddr *)src);
		tp_sa_set_port((struct sockaddr *)&d.addr, port);
		if (sip_tp_via_fixed(m, (const struct sockaddr *)src, &via)) {
			const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_VIA,
			    0);
			size_t pre = (size_t)(h->value.p - m->buf);
			size_t post = pre + h->value.n;
			size_t nlen = pre + via.n + (m->len - post);
			char *nb = xmalloc(nlen + 1);
			struct sip_parse_error pe;
			struct sip_msg *nm;

			memcpy(nb, m->buf, pre);
			memcpy(nb + pre, via.p, via.n);
			memcpy(nb + pre + via.n, m->buf + post, m->len - post);
			if (sip_msg_parse(nb, nlen, flags, &nm, &pe) == 0) {
				sip_msg_free(m);
				m = nm;
			}
		}
		strbuf_free(&via);
	}
	if (tp->recv_h != NULL)
		tp->recv_h(m, &d, tp->recv_arg);
	else
		sip_msg_free(m);
}

/* ---- listeners ------------------------------------------------------------ */

static int
parse_listen_addr(const char *s, enum sip_tp_proto proto,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *h = s, *port = NULL, *rb;
	size_t hn;
	uint64_t pv;

	if (s == NULL)
		return EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if ((rb = strchr(s, ']')) == NULL ||
		    (rb[1] != '\0' && rb[1] != ':'))
			return EINVAL;
		h = s + 1;
		hn = (size_t)(rb - h);
		if (rb[1] == ':')
			port = rb + 2;
	} else if ((rb = strchr(s, ':')) != NULL && strchr(rb + 1, ':') ==
	    NULL) {
		hn = (size_t)(rb - s);
		port = rb + 1;
	} else
		hn = strlen(s);
	if (hn == 0 || hn >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hn);
	host[hn] = '\0';
	pv = proto == SIP_TP_TLS ? 5061 : 5060;
	if (port != NULL && slice_to_u64(slice_cstr(port), 65535, &pv) != 0)
		return EINVAL;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
	} else
		return EINVAL;
	tp_sa_set_port((struct sockaddr *)ss, (uint16_t)pv);
	return 0;
}

/*
 * One UDP socket carries every account's answers: a burst of ten
 * thousand registrations overflows the kernel's default 208 KB and each
 * lost answer costs a retransmission 500 ms later.  Ask for
 * SIP_TP_UDP_BUFFER; beyond net.core.rmem_max only CAP_NET_ADMIN gets
 * it (SO_RCVBUFFORCE), so say what we got.
 */
static void
tp_udp_buffers(int fd)
{
	static const struct {
		int	 force, plain;
		const char *name;
	} opt[] = {
		{ SO_RCVBUFFORCE, SO_RCVBUF, "receive" },
		{ SO_SNDBUFFORCE, SO_SNDBUF, "send" },
	};
	int want = SIP_TP_UDP_BUFFER;

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		int got = 0;
		socklen_t len = sizeof(got);

		if (setsockopt(fd, SOL_SOCKET, opt[i].force, &want,
		    sizeof(want)) != 0)
			(void)setsockopt(fd, SOL_SOCKET, opt[i].plain, &want,
			    sizeof(want));
		/* Linux reports twice what it books for its own overhead. */
		if (getsockopt(fd, SOL_SOCKET, opt[i].plain, &got, &len) == 0 &&
		    got / 2 < want)
			log_info("sip_tp: UDP %s buffer is %d KB, not the %d KB "
			    "asked for (raise net.core.%cmem_max)", opt[i].name,
			    got / 2 / 1024, want / 1024, i == 0 ? 'r' : 'w');
	}
}

int
sip_tp_listen(struct sip_tp *tp, const struct sip_tp_listen_conf *lc,
    uint64_t *id)
{
	struct sip_tp_listener *l;
	int fd = -1, on = 1, err;
	char where[INET6_ADDRSTRLEN + 8], why[512];

	/* WebSocket is client-only here: no listener. */
	if ((unsigned)lc->transport > SIP_TP_TLS ||
	    tp->nls == SIP_TP_LISTENERS_MAX)
		return EINVAL;
	if (lc->transport == SIP_TP_TLS && (lc->cert == NULL ||
	    lc->key == NULL))
		return EINVAL;
	l = xcalloc(1, sizeof(*l));
	l->tp = tp;
	l->fd = -1;
	l->proto = lc->transport;
	if ((err = parse_listen_addr(lc->address, lc->transport, &l->addr,
	    &l->addrlen)) != 0)
		goto fail;
	if (lc->transport == SIP_TP_TLS &&
	    (l->ssl = tp_tls_server_ctx(lc, why, sizeof(why))) == NULL) {
		log_debug("sip_tp: TLS listener %s: %s", lc->address, why);
		err = EPROTO;
		goto fail;
	}
	fd = socket(l->addr.ss_family, (lc->transport == SIP_TP_UDP ?
	    SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	/*
	 * Streams only: on UDP, SO_REUSEADDR would let a second sipxd bind
	 * the same port and silently share its traffic.
	 */
	if (lc->transport != SIP_TP_UDP)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* Let [::]:5060 and 0.0.0.0:5060 live side by side. */
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) != 0)
		goto fail_errno;
	l->addrlen = sizeof(l->addr);
	if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addrlen) != 0)
		goto fail_errno;
	if (lc->transport == SIP_TP_UDP) {
		tp_udp_buffers(fd);
		l->fd = fd;
		fd = -1;
		l->ev = event_new(tp->base, l->fd, EV_READ | EV_PERSIST,
		    tp_udp_read_cb, l);
		if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
			err = ENOMEM;
			goto fail;
		}
	} else {
		if ((err = tp_stream_listen(l, fd)) != 0)
			goto fail;
		fd = -1;
	}
	l->id = tp->next_id++;
	tp->ls[tp->nls++] = l;
	if (id != NULL)
		*id = l->id;
	sip_tp_addr_str((struct sockaddr *)&l->addr, where, sizeof(where));
	log_info("sip_tp: listening on %s %s", sip_tp_proto_name(l->proto),
	    where);
	return 0;
fail_errno:
	err = errno != 0 ? errno : EIO;
fail:
	if (fd >= 0)
		close(fd);
	listener_free(l);
	return err;
}

int
sip_tp_listener_addr(const struct sip_tp *tp, uint64_t id,
    struct sockaddr_storage *ss, socklen_t *len)
{
	const struct sip_tp_listener *l = tp_listener_by_id(tp, id);

	if (l == NULL)
		return ENOENT;
	*ss = l->addr;
	*len = l->addrlen;
	return 0;
}

/* ---- address changes ---------------------------------------------------- */

size_t
sip_tp_addr_gone(struct sip_tp *tp, const struct sockaddr *sa,
    size_t *listeners)
{
	struct sip_tp_conn *c, *next;
	char where[INET6_ADDRSTRLEN + 8];
	size_t nl = 0, nc = 0;

	for (unsigned i = 0; i < tp->nls; i++) {
		struct sip_tp_listener *l = tp->ls[i];

		if (l->addr_gone || tp_sa_is_any((struct sockaddr *)&l->addr) ||
		    !tp_sa_same_ip((struct sockaddr *)&l->addr, sa))
			continue;
		/*
		 * The socket keeps its binding and hears again when the
		 * address comes back: nothing to re-bind, only to say.
		 */
		l->addr_gone = true;
		nl++;
		sip_tp_addr_str((struct sockaddr *)&l->addr, where,
		    sizeof(where));
		log_warnx("sip_tp: listener %s %s: its address left the host; "
		    "it hears nothing and sends nothing until the address is "
		    "back", sip_tp_proto_name(l->proto), where);
	}
	/* A stream over the vanished address is dead: its packets go
	 * nowhere, and waiting for TCP to notice takes minutes. */
	TAILQ_FOREACH_SAFE(c, &tp->conns, entry, next) {
		if (c->local_len == 0 ||
		    !tp_sa_same_ip((struct sockaddr *)&c->local, sa))
			continue;
		tp_conn_close(c, EADDRNOTAVAIL, true);
		nc++;
	}
	if (listeners != NULL)
		*listeners = nl;
	return nc;
}

size_t
sip_tp_addr_back(struct sip_tp *tp, const struct sockaddr *sa)
{
	char where[INET6_ADDRSTRLEN + 8];
	size_t n = 0;

	for (unsigned i = 0; i < tp->nls; i++) {
		struct sip_tp_listener *l = tp->ls[i];

		if (!l->addr_gone ||
		    !tp_sa_same_ip((struct sockaddr *)&l->addr, sa))
			continue;
		l->addr_gone = false;
		n++;
		sip_tp_addr_str((struct sockaddr *)&l->addr, where,
		    sizeof(where));
		log_notice("sip_tp: listener %s %s: its address is back; it "
		    "hears again", sip_tp_proto_name(l->proto), where);
	}
	return n;
}

size_t
sip_tp_listeners_gone(const struct sip_tp *tp)
{
	size_t n = 0;

	for (unsigned i = 0; i < tp->nls; i++)
		if (tp->ls[i]->addr_gone)
			n++;
	return n;
}
