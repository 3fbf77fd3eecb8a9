/*
 * Private to the SIP transport (sip_transport.c and sip_tp_*.c): the
 * listener, connection and transport structs and the helpers the parts
 * share.  sip_transport.c owns the transport object, addresses, the
 * send dispatch, Via and the receive path common to every transport;
 * sip_tp_udp.c datagrams; sip_tp_stream.c stream connections (TCP,
 * TLS and WebSocket alike: connect, accept, timers, framing);
 * sip_tp_tls.c OpenSSL contexts and TLS sessions; sip_tp_ws.c the
 * WebSocket framer (handshake, frames, ping/pong, close).  Nothing outside src/sip/sip_t*.c includes
 * this header.
 */
#ifndef SIPX_SIP_TP_PRIV_H
#define SIPX_SIP_TP_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/util.h>
#include <openssl/ssl.h>

#include "base/queue.h"
#include "base/ratelimit.h"
#include "base/slice.h"
#include "sip_transport.h"

struct bufferevent;
struct evbuffer;
struct tp_ws;
struct event;
struct evconnlistener;

struct sip_tp_listener {
	struct sip_tp		*tp;
	uint64_t		 id;
	enum sip_tp_proto	 proto;
	struct sockaddr_storage	 addr;		/* as bound, port filled */
	socklen_t		 addrlen;
	int			 fd;		/* UDP */
	struct event		*ev;		/* UDP */
	struct evconnlistener	*lev;		/* TCP, TLS */
	struct event		*ev_resume;	/* after EMFILE */
	SSL_CTX			*ssl;		/* TLS */
	bool			 addr_gone;	/* its address left the host
						 * (sip_tp_addr_gone) */
};

struct sip_tp_conn {
	TAILQ_ENTRY(sip_tp_conn) entry;
	struct sip_tp		*tp;
	uint64_t		 id;
	enum sip_tp_proto	 proto;
	struct bufferevent	*bev;
	struct sockaddr_storage	 peer, local;
	socklen_t		 peer_len, local_len;
	const struct sip_tp_framer *framer;
	struct tp_ws		*ws;		/* WS, WSS: sip_tp_ws.c */
	/* TLS client: the name (or IP) the certificate was checked for. */
	char			*server_name;
	struct event		*timer;		/* see conn_timer_arm */
	uint64_t		 opened_us;
	uint64_t		 last_msg_us;	/* SIP message in or out */
	uint64_t		 last_ping_us;
	uint64_t		 ping_out_us;	/* the oldest ping without
						 * its pong */
	uint64_t		 partial_since_us; /* 0: no partial message */
	uint64_t		 closing_us;	/* tp_conn_linger */
	uint64_t		 msgs_in;
	unsigned		 keepalive_ms;	/* 0: no pings */
	bool			 outbound;
	bool			 connected;
	bool			 ping_out;	/* waiting for a pong */
	bool			 flow;		/* RFC 5626: kept alive by
						 * pings, never idle */
	bool			 dead;
	/* Our last bytes (a WebSocket close) go out, then it closes. */
	bool			 closing;
	bool			 report;	/* tell fail_h when reaped */
	int			 err;
};

TAILQ_HEAD(sip_tp_conns, sip_tp_conn);

/* One sip_tp_conn_observe() registration. */
struct sip_tp_obs {
	TAILQ_ENTRY(sip_tp_obs)	 entry;
	uint64_t		 handle;
	uint64_t		 conn_id;
	sip_tp_fail_h		*fn;
	void			*arg;
};

TAILQ_HEAD(sip_tp_obs_list, sip_tp_obs);

struct sip_tp {
	struct event_base	*base;
	struct sip_tp_conf	 conf;
	struct sip_tp_listener	*ls[SIP_TP_LISTENERS_MAX];
	unsigned		 nls;
	struct sip_tp_conns	 conns;
	struct sip_tp_conns	 dead;
	struct sip_tp_obs_list	 obs;
	size_t			 nconns;	/* live */
	struct event		*reaper;
	SSL_CTX			*client_ctx;
	uint64_t		 next_id;
	sip_tp_recv_h		*recv_h;
	void			*recv_arg;
	sip_tp_fail_h		*fail_h;
	void			*fail_arg;
	sip_tp_trace_h		*trace_h;
	void			*trace_arg;
	struct sip_tp_stats	 stats;
	char			*rbuf;		/* one datagram */
	/* Log lines remote peers can cause (ratelimit.h). */
	struct ratelimit	 rl_peer;	/* framing, handshakes */
	struct ratelimit	 rl_accept;	/* accept() errors */
	struct ratelimit	 rl_refuse;	/* over max_conns */
};

/*
 * How a stream carries SIP messages.  feed() takes what it can from in:
 * each complete message goes to tp_conn_message(), keepalives are
 * answered; it returns 0 when it needs more bytes (what is left in in
 * is a partial message), or EBADMSG with *why when the stream is out of
 * step and the connection must close.  write() (NULL: the bytes go as
 * they are) puts one message into out, framed; 0 or errno.
 */
struct sip_tp_framer {
	const char	*name;
	int		(*feed)(struct sip_tp_conn *, struct evbuffer *in,
			    const char **why);
	int		(*write)(struct sip_tp_conn *, struct evbuffer *out,
			    const char *buf, size_t len);
};

/* Content-Length framing, RFC 3261 §18.3. */
extern const struct sip_tp_framer tp_framer_clen;
/* WebSocket framing, RFC 7118 (sip_tp_ws.c). */
extern const struct sip_tp_framer tp_framer_ws;

/* sip_transport.c: addresses */
uint16_t	 tp_sa_port(const struct sockaddr *);
void		 tp_sa_set_port(struct sockaddr *, uint16_t);
void		 tp_sa_ip(const struct sockaddr *, char *, size_t);
bool		 tp_sa_same_ip(const struct sockaddr *,
		    const struct sockaddr *);
bool		 tp_sa_eq(const struct sockaddr *, const struct sockaddr *);
bool		 tp_sa_is_any(const struct sockaddr *);
bool		 tp_host_to_sa(struct slice, struct sockaddr_storage *);
bool		 tp_is_ip_literal(const char *);
bool		 tp_is_response(const char *, size_t);

/* sip_transport.c: listeners, trace, the receive path */
struct sip_tp_listener *tp_listener_by_id(const struct sip_tp *, uint64_t);
struct sip_tp_listener *tp_listener_for(const struct sip_tp *,
		    enum sip_tp_proto, int family, bool any_proto);
void		 tp_trace(struct sip_tp *, enum sip_tp_dir, enum sip_tp_proto,
		    uint64_t id, const struct sockaddr_storage *local,
		    socklen_t llen, const struct sockaddr_storage *peer,
		    socklen_t plen, const char *buf, size_t len);
void		 tp_garbage(struct sip_tp *, struct sip_tp_conn *,
		    struct sip_tp_listener *, const struct sockaddr_storage *,
		    socklen_t, const char *, size_t,
		    const struct sip_parse_error *);
void		 tp_deliver(struct sip_tp *, enum sip_tp_proto, uint64_t id,
		    const struct sockaddr_storage *, socklen_t,
		    struct sip_msg *, unsigned flags);

/* sip_tp_udp.c */
int		 tp_udp_send(struct sip_tp *, uint64_t lid,
		    const struct sockaddr *, socklen_t, const char *, size_t);
void		 tp_udp_read_cb(evutil_socket_t, short, void *);

/* sip_tp_stream.c */
void		 tp_reaper_cb(evutil_socket_t, short, void *);
struct sip_tp_conn *tp_conn_by_id(const struct sip_tp *, uint64_t);
int		 tp_conn_write(struct sip_tp_conn *, const char *, size_t,
		    bool msg);
void		 tp_conn_close(struct sip_tp_conn *, int err, bool report);
/*
 * Stops reading and sending SIP; closes once the output has gone (at
 * most SIP_TP_WS_CLOSE_WAIT_MS), reporting err as tp_conn_close.
 */
void		 tp_conn_linger(struct sip_tp_conn *, int err);
void		 tp_conn_timer_arm(struct sip_tp_conn *);
/* Takes the message buffer. */
void		 tp_conn_message(struct sip_tp_conn *, char *, size_t);
/* Starts accepting on a bound stream socket; 0 or errno (fd not taken). */
int		 tp_stream_listen(struct sip_tp_listener *, int fd);

/* sip_tp_tls.c */
SSL_CTX		*tp_tls_client_ctx(struct sip_tp *);
/* NULL and errbuf set to OpenSSL's reason, naming the file. */
SSL_CTX		*tp_tls_server_ctx(const struct sip_tp_listen_conf *,
		    char *errbuf, size_t errlen);
struct bufferevent *tp_tls_bev_connect(struct sip_tp *,
		    const struct sockaddr *, const char *name);
struct bufferevent *tp_tls_bev_accept(struct sip_tp_listener *,
		    evutil_socket_t);
void		 tp_tls_bev_setup(struct bufferevent *);
/* True, and why filled, when OpenSSL reported an error on c. */
bool		 tp_tls_conn_error(struct sip_tp_conn *, char *why, size_t);

/* sip_tp_ws.c */
/*
 * Makes c a WebSocket client connection: its framer, a fresh key, the
 * GET for host and port in its output (ahead of everything else).
 * 0 or EIO (no random key).
 */
int		 tp_ws_start(struct sip_tp_conn *, const char *host,
		    uint16_t port);
void		 tp_ws_free(struct sip_tp_conn *);
/* The 101 has come: SIP may flow. */
bool		 tp_ws_open(const struct sip_tp_conn *);
/* Bytes of SIP waiting for the 101. */
size_t		 tp_ws_queued(const struct sip_tp_conn *);
/* A fragmented message is half-received. */
bool		 tp_ws_partial(const struct sip_tp_conn *);
int		 tp_ws_ping(struct sip_tp_conn *);

#endif
