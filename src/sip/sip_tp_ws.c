/*
 * SIP over WebSocket (RFC 7118) on an outbound TCP or TLS connection:
 * the connection's framer.  It sends the upgrade GET first, holds SIP
 * back until the server's 101 has been checked, then sends each
 * message as one masked frame (text when it is UTF-8, binary
 * otherwise, RFC 7118 §5.2) and hands each received message whole to
 * the SIP parser.  Pings are answered, pongs end a keepalive's wait,
 * a close is answered with a close, and a broken stream is failed
 * with a close frame (1002, or 1009 for a message above the limit) and
 * a log line.  The protocol itself (handshake text, frame coding) is
 * sip_ws.c; connection life (timers, lingering, reporting) is
 * sip_tp_stream.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_tp_priv.h"
#include "sip_ws.h"

struct tp_ws {
	struct sip_ws_dec	 dec;
	struct evbuffer		*pending;	/* frames until the 101 */
	char			 key[SIP_WS_KEY_SIZE];
	bool			 open;
};

bool
tp_ws_open(const struct sip_tp_conn *c)
{
	return c->ws != NULL && c->ws->open;
}

size_t
tp_ws_queued(const struct sip_tp_conn *c)
{
	return c->ws != NULL ? evbuffer_get_length(c->ws->pending) : 0;
}

bool
tp_ws_partial(const struct sip_tp_conn *c)
{
	return c->ws != NULL && c->ws->dec.frag;
}

/* One frame of ours, into the socket once open, held back before. */
static int
ws_frame_out(struct sip_tp_conn *c, unsigned op, const void *p, size_t len)
{
	struct tp_ws *w = c->ws;
	struct evbuffer *dst = w->open ? bufferevent_get_output(c->bev) :
	    w->pending;
	uint8_t mask[4], *f;
	size_t n;
	int rc;

	if (sip_ws_mask_new(mask) != 0)
		return EIO;
	f = xmalloc(sip_ws_frame_size(len));
	n = sip_ws_frame_write(f, op, p, len, mask);
	rc = evbuffer_add(dst, f, n);
	free(f);
	return rc == 0 ? 0 : ENOMEM;
}

static int
ws_write(struct sip_tp_conn *c, struct evbuffer *out, const char *buf,
    size_t len)
{
	(void)out;
	return ws_frame_out(c, sip_ws_utf8_valid(buf, len) ? SIP_WS_OP_TEXT :
	    SIP_WS_OP_BINARY, buf, len);
}

int
tp_ws_ping(struct sip_tp_conn *c)
{
	return ws_frame_out(c, SIP_WS_OP_PING, NULL, 0);
}

/* Our close frame (RFC 6455 §5.5.1), then the connection lingers. */
static void
ws_close(struct sip_tp_conn *c, unsigned code, int err)
{
	uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (c->ws->open)
		(void)ws_frame_out(c, SIP_WS_OP_CLOSE, p, code != 0 ? 2 : 0);
	tp_conn_linger(c, err);
}

/* RFC 6455 §7.1.7: fail the WebSocket connection, and say why. */
static void
ws_fail(struct sip_tp_conn *c, int err, const char *why)
{
	char peer[INET6_ADDRSTRLEN + 8];

	sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	log_limited(&c->tp->rl_peer, LOG_LEVEL_NOTICE,
	    "sip_tp: %s connection %s closed: %s",
	    sip_tp_proto_name(c->proto), peer, why);
	c->tp->stats.stream_errors++;
	ws_close(c, err == EMSGSIZE ? SIP_WS_CLOSE_TOO_BIG :
	    SIP_WS_CLOSE_PROTOCOL, EBADMSG);
}

/* The server's answer to our GET; false when the connection failed. */
static bool
ws_handshake(struct sip_tp_conn *c, struct evbuffer *in, const char **why)
{
	struct tp_ws *w = c->ws;
	size_t n = evbuffer_get_length(in);
	struct sip_ws_answer a;
	char peer[INET6_ADDRSTRLEN + 8];
	const char *p;
	int err;

	if (n > SIP_WS_ANSWER_MAX)
		n = SIP_WS_ANSWER_MAX;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	err = sip_ws_answer_check(p, n, w->key, &a, why);
	if (err == EAGAIN)
		return true;
	sip_tp_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (err != 0) {
		/* The caller logs *why; the status is worth a line too. */
		if (a.status != 0 && a.status != 101)
			log_info("sip_tp: %s connection %s: the server "
			    "answered the WebSocket upgrade with HTTP %u",
			    sip_tp_proto_name(c->proto), peer, a.status);
		return false;
	}
	evbuffer_drain(in, a.len);
	w->open = true;
	c->last_msg_us = c->last_ping_us = time_mono_us();
	log_debug("sip_tp: %s connection %s: WebSocket open",
	    sip_tp_proto_name(c->proto), peer);
	/* What waited for the 101 goes now, in order. */
	if (evbuffer_add_buffer(bufferevent_get_output(c->bev),
	    w->pending) != 0) {
		*why = "out of memory";
		return false;
	}
	tp_conn_timer_arm(c);
	return true;
}

static int
ws_feed(struct sip_tp_conn *c, struct evbuffer *in, const char **why)
{
	struct sip_tp *tp = c->tp;
	struct tp_ws *w = c->ws;

	while (!c->dead && !c->closing) {
		size_t n = evbuffer_get_length(in), used;
		struct sip_ws_ev ev;
		uint8_t ctl[SIP_WS_CONTROL_MAX];
		const uint8_t *p;
		char *msg;
		int err;

		if (n == 0)
			return 0;
		if (!w->open) {
			if (!ws_handshake(c, in, why))
				return EBADMSG;
			if (!w->open)
				return 0;
			continue;
		}
		p = evbuffer_pullup(in, (ev_ssize_t)n);
		err = sip_ws_decode(&w->dec, p, n, &used, &ev, why);
		if (err != 0) {
			ws_fail(c, err, *why);
			return 0;
		}
		if (used == 0)
			return 0;		/* the rest of a frame */
		switch (ev.type) {
		case SIP_WS_EV_NONE:
			evbuffer_drain(in, used);
			break;
		case SIP_WS_EV_MESSAGE:
			if (ev.len == 0) {
				/* Nothing to parse: a keepalive at most. */
				evbuffer_drain(in, used);
				break;
			}
			msg = xmalloc(ev.len + 1);
			memcpy(msg, ev.data, ev.len);
			msg[ev.len] = '\0';
			evbuffer_drain(in, used);
			tp_conn_message(c, msg, ev.len);
			break;
		case SIP_WS_EV_PING:
			/* RFC 6455 §5.5.3: the pong echoes the ping. */
			memcpy(ctl, ev.data, ev.len);
			n = ev.len;
			evbuffer_drain(in, used);
			tp->stats.keepalives_in++;
			/*
			 * A server that pings and never reads would fill
			 * our output: §5.5.3 lets a pong answer only the
			 * latest ping, so one that cannot go out is left.
			 */
			if (evbuffer_get_length(bufferevent_get_output(
			    c->bev)) + sip_ws_frame_size(n) > SIP_TP_OUTPUT_MAX)
				break;
			if (ws_frame_out(c, SIP_WS_OP_PONG, ctl, n) == 0)
				tp->stats.keepalives_out++;
			break;
		case SIP_WS_EV_PONG:
			evbuffer_drain(in, used);
			tp->stats.keepalives_in++;
			if (c->ping_out) {
				c->ping_out = false;
				tp_conn_timer_arm(c);
			}
			break;
		case SIP_WS_EV_CLOSE:
			evbuffer_drain(in, used);
			log_debug("sip_tp: %s connection %llu: the server "
			    "closed the WebSocket (%u)",
			    sip_tp_proto_name(c->proto),
			    (unsigned long long)c->id, ev.code);
			/* §5.5.1: answered with a close, then TCP ends. */
			ws_close(c, ev.code != 0 ? SIP_WS_CLOSE_NORMAL : 0,
			    ECONNRESET);
			return 0;
		}
	}
	return 0;
}

const struct sip_tp_framer tp_framer_ws = { "websocket", ws_feed, ws_write };

int
tp_ws_start(struct sip_tp_conn *c, const char *host, uint16_t port)
{
	struct tp_ws *w = xcalloc(1, sizeof(*w));
	struct strbuf get = STRBUF_INIT;
	int err = 0;

	c->ws = w;
	c->framer = &tp_framer_ws;
	sip_ws_dec_init(&w->dec, SIP_MSG_SIZE_MAX);
	if ((w->pending = evbuffer_new()) == NULL)
		fatalx("sip_tp: evbuffer_new failed");
	if (sip_ws_key_new(w->key) != 0)
		return EIO;
	/* RFC 7118 has no path of its own: "/" (see sipxd.conf(5)). */
	sip_ws_request(&get, host, port, c->proto == SIP_TP_WSS, "/", w->key);
	if (bufferevent_write(c->bev, get.p, get.n) != 0)
		err = ENOMEM;
	strbuf_free(&get);
	return err;
}

void
tp_ws_free(struct sip_tp_conn *c)
{
	if (c->ws == NULL)
		return;
	sip_ws_dec_free(&c->ws->dec);
	evbuffer_free(c->ws->pending);
	free(c->ws);
	c->ws = NULL;
}
