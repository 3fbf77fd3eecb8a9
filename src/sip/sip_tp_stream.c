/*
 * SIP over streams (TCP, TLS and WebSocket alike; RFC 3261 §18.3, RFC
 * 5626 §3.5.1, RFC 7118): outbound connections (reuse, connect
 * timeout), accepted connections (the connection cap, pausing the
 * listener when out of descriptors, the TLS handshake timeout), idle
 * and partial-message timeouts, keepalives, and framing through a
 * per-connection framer (Content-Length here; WebSocket in
 * sip_tp_ws.c).
 *
 * Lifetimes: a connection that closes leaves the live list at once (its
 * id stops resolving) and is freed by the reaper event, which also
 * reports the failure; nothing is freed inside its own callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_tp_priv.h"

static struct sip_tp_conn *conn_open(struct sip_tp *, enum sip_tp_proto,
		    const struct sockaddr *, socklen_t, const char *name,
		    int *err);
#define conn_timer_arm	tp_conn_timer_arm
static void	conn_event_cb(struct bufferevent *, short, void *);

/*
 * Calls and forgets every observer of connection id, one at a time: an
 * observer may add or remove others while it runs.
 */
static void
conn_tell_observers(struct sip_tp *tp, uint64_t id, int err)
{
	struct sip_tp_obs *o;
	sip_tp_fail_h *fn;
	void *arg;

	for (;;) {
		TAILQ_FOREACH(o, &tp->obs, entry)
			if (o->conn_id == id)
				break;
		if (o == NULL)
			return;
		TAILQ_REMOVE(&tp->obs, o, entry);
		fn = o->fn;
		arg = o->arg;
		free(o);
		fn(id, err, arg);
	}
}

void
tp_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp *tp = arg;
	struct sip_tp_conn *c;

	while ((c = TAILQ_FIRST(&tp->dead)) != NULL) {
		TAILQ_REMOVE(&tp->dead, c, entry);
		if (c->report && tp->fail_h != NULL)
			tp->fail_h(c->id, c->err, tp->fail_arg);
		conn_tell_observers(tp, c->id,
		    c->err != 0 ? c->err : ECONNRESET);
		bufferevent_free(c->bev);
		event_free(c->timer);
		tp_ws_free(c);
		free(c->server_name);
		free(c);
	}
}

struct sip_tp_conn *
tp_conn_by_id(const struct sip_tp *tp, uint64_t id)
{
	struct sip_tp_conn *c;

	TAILQ_FOREACH(c, &tp->conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/*
 * RFC 5922 §4 / RFC 5246: a TLS connection may carry requests for the
 * name (or, without a name, the address) its certificate was verified
 * for, and for nothing else: not an inbound connection, not one
 * verified for another name or for the bare address.
 */
static bool
conn_verified_for(const struct sip_tp_conn *c, const char *name)
{
	char ip[INET6_ADDRSTRLEN];

	if (!sip_tp_proto_secure(c->proto))
		return true;
	if (name == NULL) {
		tp_sa_ip((const struct sockaddr *)&c->peer, ip, sizeof(ip));
		name = ip;
	}
	return c->outbound && c->server_name != NULL &&
	    strcasecmp(c->server_name, name) == 0;
}

/* A live connection to (proto, addr) that may carry a request to name. */
static struct sip_tp_conn *
conn_by_addr(const struct sip_tp *tp, enum sip_tp_proto proto,
    const struct sockaddr *sa, const char *name)
{
	struct sip_tp_conn *c;

	TAILQ_FOREACH(c, &tp->conns, entry) {
		if (c->proto != proto || c->closing ||
		    !tp_sa_eq((struct sockaddr *)&c->peer, sa))
			continue;
		if (!conn_verified_for(c, name))
			continue;
		return c;
	}
	return NULL;
}

bool
sip_tp_conn_alive(const struct sip_tp *tp, uint64_t id)
{
	const struct sip_tp_conn *c = tp_conn_by_id(tp, id);

	return c != NULL && !c->closing;
}

size_t
sip_tp_conn_count(const struct sip_tp *tp)
{
	return tp->nconns;
}

int
tp_conn_write(struct sip_tp_conn *c, const char *buf, size_t len, bool msg)
{
	struct sip_tp *tp = c->tp;

	if (c->closing)
		return ENOTCONN;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    tp_ws_queued(c) + len > SIP_TP_OUTPUT_MAX)
		return ENOBUFS;
	if (c->framer->write != NULL) {
		int err = c->framer->write(c, bufferevent_get_output(c->bev),
		    buf, len);

		if (err != 0)
			return err;
	} else if (bufferevent_write(c->bev, buf, len) < 0)
		return EIO;
	tp->stats.tp[c->proto].bytes_out += len;
	if (!msg)
		return 0;
	tp->stats.tp[c->proto].msgs_out++;
	c->last_msg_us = time_mono_us();
	tp_trace(tp, SIP_TP_OUT, c->proto, c->id, &c->local, c->local_len,
	    &c->peer, c->peer_len, buf, len);
	return 0;
}

int
sip_tp_open(struct sip_tp *tp, struct sip_dest *dst, const char *name)
{
	struct sip_tp_conn *c;
	int err = 0;

	if (dst->proto >= SIP_TP__COUNT)
		return EINVAL;
	if (dst->proto == SIP_TP_UDP)
		return 0;
	c = tp_conn_by_id(tp, dst->conn_id);
	if (c != NULL && (c->closing || (name != NULL &&
	    !conn_verified_for(c, name))))
		c = NULL;
	if (c == NULL)
		c = conn_by_addr(tp, dst->proto,
		    (const struct sockaddr *)&dst->addr, name);
	if (c == NULL)
		c = conn_open(tp, dst->proto,
		    (const struct sockaddr *)&dst->addr, dst->addrlen, name,
		    &err);
	if (c == NULL)
		return err;
	dst->conn_id = c->id;
	dst->reliable = true;
	return 0;
}

int
sip_tp_ping(struct sip_tp *tp, uint64_t id)
{
	struct sip_tp_conn *c = tp_conn_by_id(tp, id);
	int err;

	if (c == NULL || c->closing)
		return ENOTCONN;
	/*
	 * RFC 5626 §3.5.1: the client pings with CRLFCRLF; RFC 7118 §6
	 * leaves keepalives to WebSocket's own ping.
	 */
	if (c->ws != NULL)
		err = tp_ws_ping(c);
	else
		err = tp_conn_write(c, "\r\n\r\n", 4, false);
	if (err != 0)
		return err;
	c->last_ping_us = time_mono_us();
	/* The pong clock runs from the first ping left unanswered. */
	if (!c->ping_out)
		c->ping_out_us = c->last_ping_us;
	c->ping_out = true;
	tp->stats.keepalives_out++;
	conn_timer_arm(c);
	return 0;
}

uint64_t
sip_tp_conn_observe(struct sip_tp *tp, uint64_t id, sip_tp_fail_h *fn,
    void *arg)
{
	struct sip_tp_obs *o;

	if (fn == NULL || tp_conn_by_id(tp, id) == NULL)
		return 0;
	o = xcalloc(1, sizeof(*o));
	o->handle = tp->next_id++;
	o->conn_id = id;
	o->fn = fn;
	o->arg = arg;
	TAILQ_INSERT_TAIL(&tp->obs, o, entry);
	return o->handle;
}

void
sip_tp_conn_unobserve(struct sip_tp *tp, uint64_t handle)
{
	struct sip_tp_obs *o;

	TAILQ_FOREACH(o, &tp->obs, entry)
		if (o->handle == handle) {
			TAILQ_REMOVE(&tp->obs, o, entry);
			free(o);
			return;
		}
}

int
sip_tp_conn_set_keepalive(struct sip_tp *tp, uint64_t id, unsigned seconds)
{
	struct sip_tp_conn *c = tp_conn_by_id(tp, id);

	if (c == NULL || c->closing)
		return ENOTCONN;
	c->keepalive_ms = seconds * 1000u;
	c->flow = seconds > 0;
	c->last_ping_us = time_mono_us();
	conn_timer_arm(c);
	return 0;
}

/* ---- framing by Content-Length (RFC 3261 §18.3) --------------------------- */

static int
clen_feed(struct sip_tp_conn *c, struct evbuffer *in, const char **why)
{
	struct sip_tp *tp = c->tp;

	while (!c->dead) {
		size_t n = evbuffer_get_length(in), ml = 0;
		const char *p, *ping;
		char *msg;

		if (n == 0)
			return 0;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		switch (sip_msg_frame(p, n, &ml, why)) {
		case SIP_FRAME_NEED_MORE:
			return 0;
		case SIP_FRAME_ERROR:
			return EBADMSG;
		case SIP_FRAME_KEEPALIVE:
			/* RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong. */
			ping = memmem(p, ml, "\r\n\r\n", 4);
			if (ping != NULL) {
				ml = (size_t)(ping - p) + 4;
				tp->stats.tp[c->proto].bytes_in += ml;
				tp->stats.keepalives_in++;
				evbuffer_drain(in, ml);
				if (tp_conn_write(c, "\r\n", 2, false) == 0)
					tp->stats.keepalives_out++;
				continue;
			}
			/* Maybe the start of a ping: wait for the rest. */
			if (ml == n && ml < 4 && !c->ping_out &&
			    memcmp(p, "\r\n\r\n", ml) == 0)
				return 0;
			c->ping_out = false;
			tp->stats.tp[c->proto].bytes_in += ml;
			tp->stats.keepalives_in++;
			evbuffer_drain(in, ml);
			continue;
		case SIP_FRAME_MESSAGE:
			msg = xmalloc(ml + 1);
			evbuffer_remove(in, msg, ml);
			msg[ml] = '\0';
			tp_conn_message(c, msg, ml);
			continue;
		}
	}
	return 0;
}

/* Content-Length framing sends messages as they are. */
const struct sip_tp_framer tp_framer_clen = { "content-length", clen_feed,
    NULL };

/* ---- stream connections --------------------------------------------------- */

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * One timer per connection, armed for the earliest of: the connect (or,
 * inbound, TLS handshake) deadline; the idle deadline; the deadline of
 * a half-received message; the pong a ping waits for; the next
 * keepalive ping.
 */
void
tp_conn_timer_arm(struct sip_tp_conn *c)
{
	const struct sip_tp_conf *cf = &c->tp->conf;
	uint64_t due = UINT64_MAX, now = time_mono_us();
	unsigned ms;
	struct timeval tv;

	if (c->dead)
		return;
	if (c->closing) {
		due = c->closing_us + (uint64_t)SIP_TP_WS_CLOSE_WAIT_MS * 1000;
	} else if (!c->connected || (c->ws != NULL && !tp_ws_open(c))) {
		/* A WebSocket is up with its 101, within the same time. */
		ms = c->outbound ? cf->connect_timeout_ms :
		    cf->tls_handshake_timeout_ms;
		if (ms > 0)
			due = c->opened_us + (uint64_t)ms * 1000;
	} else {
		if (cf->idle_timeout_ms > 0 && !c->flow)
			due = c->last_msg_us +
			    (uint64_t)cf->idle_timeout_ms * 1000;
		if (c->partial_since_us != 0 && cf->message_timeout_ms > 0)
			due = min_u64(due, c->partial_since_us +
			    (uint64_t)cf->message_timeout_ms * 1000);
		if (c->keepalive_ms > 0)
			due = min_u64(due, c->last_ping_us +
			    (uint64_t)c->keepalive_ms * 1000);
		/* RFC 5626 §4.4.1, RFC 6455 §5.5.2: a ping is answered. */
		if (c->ping_out && cf->pong_timeout_ms > 0)
			due = min_u64(due, c->ping_out_us +
			    (uint64_t)cf->pong_timeout_ms * 1000);
	}
	if (due == UINT64_MAX) {
		evtimer_del(c->timer);
		return;
	}
	due = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(due / 1000000);
	tv.tv_usec = (suseconds_t)(due % 1000000);
	evtimer_add(c->timer, &tv);
}

void
tp_conn_close(struct sip_tp_conn *c, int err, bool report)
{
	struct sip_tp *tp = c->tp;

	if (c->dead)
		return;
	c->dead = true;
	/* What made us linger is the cause, not the peer's closing. */
	c->err = c->closing && c->err != 0 ? c->err : err;
	/*
	 * Only connections we opened are reported: a response whose
	 * inbound connection is gone still goes out over a new one
	 * (§18.2.2), so its server transaction must not fail.
	 */
	c->report = report && c->outbound;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	TAILQ_REMOVE(&tp->conns, c, entry);
	TAILQ_INSERT_TAIL(&tp->dead, c, entry);
	tp->nconns--;
	tp->stats.conns_closed++;
	event_active(tp->reaper, EV_TIMEOUT, 0);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp_conn *c = arg;
	struct sip_tp *tp = c->tp;
	const struct sip_tp_conf *cf = &tp->conf;
	uint64_t now = time_mono_us();
	char peer[INET6_ADDRSTRLEN + 8];

	sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (c->closing) {
		tp_conn_close(c, c->err, true);
		return;
	}
	if (!c->connected || (c->ws != NULL && !tp_ws_open(c))) {
		if (c->outbound)
			log_info("sip_tp: %s connection to %s timed out%s",
			    sip_tp_proto_name(c->proto), peer,
			    c->connected ? " (no WebSocket upgrade)" : "");
		else
			log_limited(&tp->rl_peer, LOG_LEVEL_INFO, "sip_tp: "
			    "TLS handshake with %s timed out", peer);
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	if (c->partial_since_us != 0 && cf->message_timeout_ms > 0 &&
	    now - c->partial_since_us >=
	    (uint64_t)cf->message_timeout_ms * 1000) {
		log_limited(&tp->rl_peer, LOG_LEVEL_NOTICE, "sip_tp: %s "
		    "connection %s closed: no complete message in %u ms",
		    sip_tp_proto_name(c->proto), peer, cf->message_timeout_ms);
		tp->stats.stream_errors++;
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	/*
	 * RFC 5626 §4.4.1: no pong in time, the flow has failed.  This is
	 * also how a connection that the network silently dropped (a NAT
	 * binding gone, a peer host off) is found: writes into it still
	 * succeed for minutes.
	 */
	if (c->ping_out && cf->pong_timeout_ms > 0 &&
	    now - c->ping_out_us >= (uint64_t)cf->pong_timeout_ms * 1000) {
		log_notice("sip_tp: %s connection %s closed: no pong within "
		    "%u ms of a keepalive ping", sip_tp_proto_name(c->proto),
		    peer, cf->pong_timeout_ms);
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	if (cf->idle_timeout_ms > 0 && !c->flow &&
	    now - c->last_msg_us >= (uint64_t)cf->idle_timeout_ms * 1000) {
		log_debug("sip_tp: %s connection %s idle, closed",
		    sip_tp_proto_name(c->proto), peer);
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	if (c->keepalive_ms > 0 && now - c->last_ping_us >=
	    (uint64_t)c->keepalive_ms * 1000 &&
	    sip_tp_ping(tp, c->id) != 0)
		c->last_ping_us = now;		/* no busy loop on ENOBUFS */
	conn_timer_arm(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct sip_tp_conn *c = arg;

	if (c->closing)
		tp_conn_close(c, c->err, true);
}

void
tp_conn_linger(struct sip_tp_conn *c, int err)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	c->err = err;
	c->closing_us = time_mono_us();
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		tp_conn_close(c, err, true);
		return;
	}
	bufferevent_setcb(c->bev, NULL, conn_write_cb, conn_event_cb, c);
	conn_timer_arm(c);
}

void
tp_conn_message(struct sip_tp_conn *c, char *buf, size_t len)
{
	struct sip_tp *tp = c->tp;
	unsigned flags = c->ws != NULL ? 0 : SIP_PARSE_STREAM;
	struct sip_parse_error pe;
	struct sip_msg *m = NULL;

	tp->stats.tp[c->proto].bytes_in += len;
	tp->stats.tp[c->proto].msgs_in++;
	c->last_msg_us = time_mono_us();
	c->msgs_in++;
	tp_trace(tp, SIP_TP_IN, c->proto, c->id, &c->local, c->local_len,
	    &c->peer, c->peer_len, buf, len);
	/*
	 * Borrowed, so that a refused message is still there to answer.
	 * A WebSocket message is whole (RFC 7118 §5.2): Content-Length is
	 * not needed, but must be right when present.
	 */
	if (sip_msg_parse(buf, len, flags | SIP_PARSE_BORROW, &m, &pe) == 0 &&
	    c->ws != NULL && m->content_length >= 0 && m->len != len) {
		pe.status = 400;
		pe.reason = "Content-Length does not match the WebSocket "
		    "message";
		pe.request = m->request;
		sip_msg_free(m);
		m = NULL;
	}
	if (m == NULL) {
		/*
		 * The framing held, so the stream is still in step: answer
		 * and keep the connection.
		 */
		tp_garbage(tp, c, NULL, &c->peer, c->peer_len, buf, len, &pe);
		free(buf);
		return;
	}
	m->owned = buf;
	tp_deliver(tp, c->proto, c->id, &c->peer, c->peer_len, m, flags);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sip_tp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t before = c->msgs_in;
	const char *why = NULL;
	char peer[INET6_ADDRSTRLEN + 8];

	if (c->framer->feed(c, in, &why) != 0 && !c->dead && !c->closing) {
		sip_tp_addr_str((struct sockaddr *)&c->peer, peer,
		    sizeof(peer));
		log_limited(&c->tp->rl_peer, LOG_LEVEL_NOTICE,
		    "sip_tp: %s connection %s closed: %s",
		    sip_tp_proto_name(c->proto), peer,
		    why != NULL ? why : "framing error");
		c->tp->stats.stream_errors++;
		tp_conn_close(c, EBADMSG, true);
		return;
	}
	if (c->dead || c->closing)
		return;
	/* The clock of a half-received message starts with its first byte. */
	if (evbuffer_get_length(in) == 0 && !tp_ws_partial(c))
		c->partial_since_us = 0;
	else if (c->partial_since_us == 0 || c->msgs_in != before) {
		c->partial_since_us = time_mono_us();
		conn_timer_arm(c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct sip_tp_conn *c = arg;
	char peer[INET6_ADDRSTRLEN + 8], why[256];
	int err;

	sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (events & BEV_EVENT_CONNECTED) {
		c->local_len = sizeof(c->local);
		if (getsockname(bufferevent_getfd(bev),
		    (struct sockaddr *)&c->local, &c->local_len) != 0)
			c->local_len = 0;
		if (!c->connected) {
			c->connected = true;
			c->last_msg_us = time_mono_us();
			conn_timer_arm(c);
		}
		log_debug("sip_tp: %s connection %s up",
		    sip_tp_proto_name(c->proto), peer);
		return;
	}
	if (events & BEV_EVENT_EOF) {
		if (c->ws != NULL && !tp_ws_open(c))
			log_info("sip_tp: %s connection %s closed by the "
			    "peer before the WebSocket upgrade",
			    sip_tp_proto_name(c->proto), peer);
		else
			log_debug("sip_tp: %s connection %s closed by the "
			    "peer", sip_tp_proto_name(c->proto), peer);
		tp_conn_close(c, ECONNRESET, true);
		return;
	}
	if (events & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		err = EVUTIL_SOCKET_ERROR();
		if (sip_tp_proto_secure(c->proto) &&
		    tp_tls_conn_error(c, why, sizeof(why))) {
			if (c->outbound)
				log_info("sip_tp: TLS connection %s: %s", peer,
				    why);
			else
				log_limited(&c->tp->rl_peer, LOG_LEVEL_INFO,
				    "sip_tp: TLS connection %s: %s", peer, why);
			err = EPROTO;
		} else if (c->outbound)
			log_info("sip_tp: %s connection %s: %s",
			    sip_tp_proto_name(c->proto), peer,
			    err != 0 ? strerror(err) : "error");
		else
			log_debug("sip_tp: %s connection %s: %s",
			    sip_tp_proto_name(c->proto), peer,
			    err != 0 ? strerror(err) : "error");
		tp_conn_close(c, err != 0 ? err : ECONNRESET, true);
	}
}

static struct sip_tp_conn *
conn_new(struct sip_tp *tp, enum sip_tp_proto proto, struct bufferevent *bev,
    const struct sockaddr *peer, socklen_t plen, bool outbound)
{
	struct sip_tp_conn *c = xcalloc(1, sizeof(*c));

	c->tp = tp;
	c->id = tp->next_id++;
	c->proto = proto;
	c->bev = bev;
	c->framer = &tp_framer_clen;
	memcpy(&c->peer, peer, plen);
	c->peer_len = plen;
	c->outbound = outbound;
	c->opened_us = c->last_msg_us = c->last_ping_us = time_mono_us();
	if (outbound)
		c->keepalive_ms = tp->conf.keepalive_ms;
	c->timer = evtimer_new(tp->base, conn_timer_cb, c);
	if (c->timer == NULL)
		fatalx("sip_tp: evtimer_new failed");
	if (sip_tp_proto_secure(proto))
		tp_tls_bev_setup(bev);
	bufferevent_setcb(bev, conn_read_cb, NULL, conn_event_cb, c);
	TAILQ_INSERT_TAIL(&tp->conns, c, entry);
	tp->nconns++;
	tp->stats.conns_opened++;
	return c;
}

static struct sip_tp_conn *
conn_open(struct sip_tp *tp, enum sip_tp_proto proto,
    const struct sockaddr *sa, socklen_t salen, const char *name, int *err)
{
	struct bufferevent *bev;
	struct sip_tp_conn *c;
	char ip[INET6_ADDRSTRLEN];

	if (sip_tp_proto_secure(proto))
		bev = tp_tls_bev_connect(tp, sa, name);
	else
		bev = bufferevent_socket_new(tp->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	c = conn_new(tp, proto, bev, sa, salen, true);
	/*
	 * What the certificate is checked against (conn_verified_for),
	 * and a WebSocket's Host.
	 */
	if (name == NULL && (sip_tp_proto_secure(proto) ||
	    sip_tp_proto_ws(proto))) {
		tp_sa_ip(sa, ip, sizeof(ip));
		name = ip;
	}
	if (name != NULL)
		c->server_name = xstrdup(name);
	if (sip_tp_proto_ws(proto) &&
	    (*err = tp_ws_start(c, name, tp_sa_port(sa))) != 0) {
		tp_conn_close(c, *err, false);
		c->report = false;
		return NULL;
	}
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, sa, (int)salen) != 0) {
		*err = errno != 0 ? errno : ECONNREFUSED;
		tp_conn_close(c, *err, false);
		return NULL;
	}
	/*
	 * The local address is bound by now: a WebSocket's Via and
	 * Contact name it before the connection is up (sip_tp_sent_by).
	 */
	c->local_len = sizeof(c->local);
	if (getsockname(bufferevent_getfd(bev), (struct sockaddr *)&c->local,
	    &c->local_len) != 0)
		c->local_len = 0;
	if (c->dead) {
		*err = c->err;
		c->report = false;
		return NULL;
	}
	conn_timer_arm(c);
	return c;
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sip_tp_listener *l = arg;
	struct sip_tp *tp = l->tp;
	struct bufferevent *bev;
	struct sip_tp_conn *c;
	char peer[INET6_ADDRSTRLEN + 8];

	/*
	 * The cap sits below the descriptor limit, so the control socket,
	 * DNS and our own outbound connections always find a descriptor.
	 */
	if (tp->conf.max_conns > 0 && tp->nconns >= tp->conf.max_conns) {
		tp->stats.conns_refused++;
		sip_tp_addr_str(sa, peer, sizeof(peer));
		log_limited(&tp->rl_refuse, LOG_LEVEL_WARNING, "sip_tp: %s "
		    "connection from %s refused: %zu connections open "
		    "(the limit)", sip_tp_proto_name(l->proto), peer,
		    tp->nconns);
		close(fd);
		return;
	}
	if (l->proto == SIP_TP_TLS)
		bev = tp_tls_bev_accept(l, fd);
	else
		bev = bufferevent_socket_new(tp->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	c = conn_new(tp, l->proto, bev, sa, (socklen_t)salen, false);
	/* An inbound TLS connection is up once its handshake is done. */
	c->connected = l->proto != SIP_TP_TLS;
	c->local_len = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &c->local_len) != 0)
		c->local_len = 0;
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	conn_timer_arm(c);
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp_listener *l = arg;

	evconnlistener_enable(l->lev);
}

/*
 * accept() failed.  Out of descriptors (or memory) the pending
 * connection stays in the backlog and the socket stays readable: the
 * loop would spin on it, so the listener pauses for a while.
 */
static void
listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct sip_tp_listener *l = arg;
	struct sip_tp *tp = l->tp;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { SIP_TP_ACCEPT_PAUSE_MS / 1000,
	    (SIP_TP_ACCEPT_PAUSE_MS % 1000) * 1000 };
	char where[INET6_ADDRSTRLEN + 8];

	sip_tp_addr_str((struct sockaddr *)&l->addr, where, sizeof(where));
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		evconnlistener_disable(lev);
		evtimer_add(l->ev_resume, &tv);
		tp->stats.accept_pauses++;
		log_limited(&tp->rl_accept, LOG_LEVEL_WARNING, "sip_tp: %s "
		    "listener %s: accept: %s; paused for %d ms",
		    sip_tp_proto_name(l->proto), where, strerror(err),
		    SIP_TP_ACCEPT_PAUSE_MS);
		return;
	}
	log_limited(&tp->rl_accept, LOG_LEVEL_WARNING,
	    "sip_tp: %s listener %s: accept: %s",
	    sip_tp_proto_name(l->proto), where, strerror(err));
}

int
tp_stream_listen(struct sip_tp_listener *l, int fd)
{
	l->ev_resume = evtimer_new(l->tp->base, listener_resume_cb, l);
	if (l->ev_resume == NULL)
		return ENOMEM;
	l->lev = evconnlistener_new(l->tp->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->lev == NULL)
		return errno != 0 ? errno : EIO;
	evconnlistener_set_error_cb(l->lev, listener_error_cb);
	return 0;
}
