/*
 * SIP over streams (TCP and TLS alike; RFC 3261 §18.3, RFC 5626
 * §3.5.1): outbound connections (reuse, connect timeout), accepted
 * connections, idle close, CRLF keepalives and framing by
 * Content-Length.
 *
 * Lifetimes: a connection that closes leaves the live list at once (its
 * id stops resolving) and is freed by the reaper event, which also
 * reports the failure; nothing is freed inside its own callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/random.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_hdr.h"
#include "sip_tp_priv.h"

static struct sip_tp_conn *conn_open(struct sip_tp *, enum sip_tp_proto,
		    const struct sockaddr *, socklen_t, const char *name,
		    int *err);

void
tp_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp *tp = arg;
	struct sip_tp_conn *c;

	while ((c = TAILQ_FIRST(&tp->dead)) != NULL) {
		TAILQ_REMOVE(&tp->dead, c, entry);
		if (c->report && tp->fail_h != NULL)
			tp->fail_h(c->id, c->err, tp->fail_arg);
		bufferevent_free(c->bev);
		event_free(c->timer);
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
 * A live connection to (proto, addr).  With a name, only a TLS
 * connection verified for that name will do.
 */
static struct sip_tp_conn *
conn_by_addr(const struct sip_tp *tp, enum sip_tp_proto proto,
    const struct sockaddr *sa, const char *name)
{
	struct sip_tp_conn *c;

	TAILQ_FOREACH(c, &tp->conns, entry) {
		if (c->proto != proto ||
		    !tp_sa_eq((struct sockaddr *)&c->peer, sa))
			continue;
		if (name != NULL && proto == SIP_TP_TLS &&
		    (c->server_name == NULL ||
		    strcasecmp(c->server_name, name) != 0))
			continue;
		return c;
	}
	return NULL;
}

bool
sip_tp_conn_alive(const struct sip_tp *tp, uint64_t id)
{
	return tp_conn_by_id(tp, id) != NULL;
}
int
tp_conn_write(struct sip_tp_conn *c, const char *buf, size_t len, bool msg)
{
	struct sip_tp *tp = c->tp;

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) + len >
	    SIP_TP_OUTPUT_MAX)
		return ENOBUFS;
	if (bufferevent_write(c->bev, buf, len) < 0)
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

	if (c == NULL)
		return ENOTCONN;
	/* RFC 5626 §3.5.1: the client pings with CRLFCRLF. */
	if ((err = tp_conn_write(c, "\r\n\r\n", 4, false)) != 0)
		return err;
	c->ping_out = true;
	c->last_ping_us = time_mono_us();
	tp->stats.keepalives_out++;
	return 0;
}

/* ---- stream connections --------------------------------------------------- */

static void
conn_timer_arm(struct sip_tp_conn *c)
{
	const struct sip_tp_conf *cf = &c->tp->conf;
	unsigned ms = 0;
	struct timeval tv;

	if (!c->connected)
		ms = cf->connect_timeout_ms;
	else {
		if (cf->idle_timeout_ms > 0)
			ms = cf->idle_timeout_ms;
		if (c->outbound && cf->keepalive_ms > 0 &&
		    (ms == 0 || cf->keepalive_ms < ms))
			ms = cf->keepalive_ms;
	}
	if (ms == 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

void
tp_conn_close(struct sip_tp_conn *c, int err, bool report)
{
	struct sip_tp *tp = c->tp;

	if (c->dead)
		return;
	c->dead = true;
	c->err = err;
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
	const struct sip_tp_conf *cf = &c->tp->conf;
	uint64_t now = time_mono_us();
	char peer[INET6_ADDRSTRLEN + 8];

	sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (!c->connected) {
		log_info("sip_tp: %s connection to %s timed out",
		    sip_tp_proto_name(c->proto), peer);
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	if (cf->idle_timeout_ms > 0 &&
	    now - c->last_msg_us >= (uint64_t)cf->idle_timeout_ms * 1000) {
		log_debug("sip_tp: %s connection %s idle, closed",
		    sip_tp_proto_name(c->proto), peer);
		tp_conn_close(c, ETIMEDOUT, true);
		return;
	}
	if (c->outbound && cf->keepalive_ms > 0 && now - c->last_ping_us >=
	    (uint64_t)cf->keepalive_ms * 1000)
		(void)sip_tp_ping(c->tp, c->id);
	conn_timer_arm(c);
}

static void
conn_message(struct sip_tp_conn *c, char *buf, size_t len)
{
	struct sip_tp *tp = c->tp;
	struct sip_parse_error pe;
	struct sip_msg *m;

	tp->stats.tp[c->proto].bytes_in += len;
	tp->stats.tp[c->proto].msgs_in++;
	c->last_msg_us = time_mono_us();
	tp_trace(tp, SIP_TP_IN, c->proto, c->id, &c->local, c->local_len,
	    &c->peer, c->peer_len, buf, len);
	/* Borrowed, so that a refused message is still there to answer. */
	if (sip_msg_parse(buf, len, SIP_PARSE_STREAM | SIP_PARSE_BORROW, &m,
	    &pe) != 0) {
		/*
		 * The framing held, so the stream is still in step: answer
		 * and keep the connection.
		 */
		tp_garbage(tp, c, NULL, &c->peer, c->peer_len, buf, len, &pe);
		free(buf);
		return;
	}
	m->owned = buf;
	tp_deliver(tp, c->proto, c->id, &c->peer, c->peer_len, m,
	    SIP_PARSE_STREAM);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sip_tp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->dead) {
		size_t n = evbuffer_get_length(in), ml = 0;
		const char *why = NULL, *p, *ping;
		char peer[INET6_ADDRSTRLEN + 8], *msg;

		if (n == 0)
			return;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		switch (sip_msg_frame(p, n, &ml, &why)) {
		case SIP_FRAME_NEED_MORE:
			return;
		case SIP_FRAME_ERROR:
			sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
			log_notice("sip_tp: %s connection %s closed: %s",
			    sip_tp_proto_name(c->proto), peer,
			    why != NULL ? why : "framing error");
			c->tp->stats.stream_errors++;
			tp_conn_close(c, EBADMSG, true);
			return;
		case SIP_FRAME_KEEPALIVE:
			/* RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong. */
			ping = memmem(p, ml, "\r\n\r\n", 4);
			if (ping != NULL) {
				ml = (size_t)(ping - p) + 4;
				c->tp->stats.tp[c->proto].bytes_in += ml;
				c->tp->stats.keepalives_in++;
				evbuffer_drain(in, ml);
				if (tp_conn_write(c, "\r\n", 2, false) == 0)
					c->tp->stats.keepalives_out++;
				continue;
			}
			/* Maybe the start of a ping: wait for the rest. */
			if (ml == n && ml < 4 && !c->ping_out &&
			    memcmp(p, "\r\n\r\n", ml) == 0)
				return;
			c->ping_out = false;
			c->tp->stats.tp[c->proto].bytes_in += ml;
			c->tp->stats.keepalives_in++;
			evbuffer_drain(in, ml);
			continue;
		case SIP_FRAME_MESSAGE:
			msg = xmalloc(ml + 1);
			evbuffer_remove(in, msg, ml);
			msg[ml] = '\0';
			conn_message(c, msg, ml);
			continue;
		}
	}
}

static void
conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
	struct sip_tp_conn *c = arg;
	char peer[INET6_ADDRSTRLEN + 8];
	unsigned long ssl_err;
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
			evtimer_del(c->timer);
			conn_timer_arm(c);
		}
		log_debug("sip_tp: %s connection %s up",
		    sip_tp_proto_name(c->proto), peer);
		return;
	}
	if (events & BEV_EVENT_EOF) {
		log_debug("sip_tp: %s connection %s closed by the peer",
		    sip_tp_proto_name(c->proto), peer);
		tp_conn_close(c, ECONNRESET, true);
		return;
	}
	if (events & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		err = EVUTIL_SOCKET_ERROR();
		if (c->proto == SIP_TP_TLS &&
		    (ssl_err = bufferevent_get_openssl_error(bev)) != 0) {
			char buf[256];

			ERR_error_string_n(ssl_err, buf, sizeof(buf));
			log_info("sip_tp: TLS connection %s: %s", peer, buf);
			err = EPROTO;
			while (bufferevent_get_openssl_error(bev) != 0)
				;
		} else
			log_info("sip_tp: %s connection %s: %s",
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
	memcpy(&c->peer, peer, plen);
	c->peer_len = plen;
	c->outbound = outbound;
	c->last_msg_us = c->last_ping_us = time_mono_us();
	c->timer = evtimer_new(tp->base, conn_timer_cb, c);
	if (c->timer == NULL)
		fatalx("sip_tp: evtimer_new failed");
	if (proto == SIP_TP_TLS)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
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

	if (proto == SIP_TP_TLS) {
		SSL_CTX *ctx = tp_tls_client_ctx(tp);
		char ip[INET6_ADDRSTRLEN];
		SSL *ssl;

		if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL) {
			*err = ENOMEM;
			return NULL;
		}
		/* RFC 5922 §4: the domain, not the address, is checked. */
		if (name != NULL && !tp_is_ip_literal(name)) {
			SSL_set_tlsext_host_name(ssl, name);
			SSL_set1_host(ssl, name);
		} else {
			if (name == NULL)
				tp_sa_ip(sa, ip, sizeof(ip));
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    name != NULL ? name : ip);
		}
		bev = bufferevent_openssl_socket_new(tp->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			SSL_free(ssl);
	} else
		bev = bufferevent_socket_new(tp->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	c = conn_new(tp, proto, bev, sa, salen, true);
	if (name != NULL)
		c->server_name = xstrdup(name);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, sa, (int)salen) != 0) {
		*err = errno != 0 ? errno : ECONNREFUSED;
		tp_conn_close(c, *err, false);
		return NULL;
	}
	if (c->dead) {
		*err = c->err;
		c->report = false;
		return NULL;
	}
	conn_timer_arm(c);
	return c;
}

void
tp_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sip_tp_listener *l = arg;
	struct sip_tp *tp = l->tp;
	struct bufferevent *bev;
	struct sip_tp_conn *c;

	if (tp->conf.max_conns > 0 && tp->nconns >= tp->conf.max_conns) {
		tp->stats.conns_refused++;
		close(fd);
		return;
	}
	if (l->proto == SIP_TP_TLS) {
		SSL *ssl = SSL_new(l->ssl);

		if (ssl == NULL) {
			close(fd);
			return;
		}
		bev = bufferevent_openssl_socket_new(tp->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			SSL_free(ssl);
	} else
		bev = bufferevent_socket_new(tp->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	c = conn_new(tp, l->proto, bev, sa, (socklen_t)salen, false);
	c->connected = true;
	c->local_len = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &c->local_len) != 0)
		c->local_len = 0;
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	conn_timer_arm(c);
}

