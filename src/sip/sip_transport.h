/*
 * SIP transports (RFC 3261 §18, RFC 3581, RFC 5626 §3.5.1, RFC 7118):
 * UDP, TCP and TLS listeners and connections, and outbound WebSocket
 * (WS, WSS) connections, on the caller's libevent loop.
 * Owns every socket of the SIP stack: datagram I/O, stream framing by
 * Content-Length, outbound connections (reuse per transport and remote
 * address, connect timeout, idle close, CRLF keepalives), TLS with peer
 * verification, the §18.1.1 switch of large UDP requests to TCP, the
 * §18.2.1 received/rport fix-up of incoming requests and the §18.2.2
 * choice of where responses go.  Malformed requests die here with a
 * 400; malformed responses, and responses whose top Via is not ours
 * (§18.1.2), are dropped and counted.
 *
 * It does not own transactions, DNS or message semantics: parsed
 * messages go up through one receive callback (the daemon wires it to
 * sip_trans_recv()), and a lost connection is reported through one
 * failure callback (wired to sip_trans_tp_failed()) and to whoever
 * observes that connection (sip_tp_conn_observe).  Both callbacks, and
 * the trace hook, run from the loop, never inside sip_tp_send().
 *
 * Where a message goes is a struct sip_dest (sip_trans.h).  Its proto is
 * an enum sip_tp_proto; its conn_id is a connection id for TCP/TLS, the
 * id of the UDP listener to send from for UDP (0: any of the family).
 */
#ifndef SIPX_SIP_TRANSPORT_H
#define SIPX_SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/strbuf.h"
#include "sip_msg.h"
#include "sip_trans.h"

struct event_base;
struct sip_tp;

/* Same numbers as enum sip_resolve_tp and enum account_transport. */
enum sip_tp_proto {
	SIP_TP_UDP,
	SIP_TP_TCP,
	SIP_TP_TLS,
	/*
	 * RFC 7118: SIP over WebSocket over TCP (WS) or TLS (WSS).
	 * Outbound only: no listener takes them.
	 */
	SIP_TP_WS,
	SIP_TP_WSS,
	SIP_TP__COUNT
};

/* RFC 3261 §18.1.1: above this, a UDP request goes over TCP. */
#define SIP_TP_MTU_DEFAULT		1300
/* "z9hG4bK" + 32 hex digits (128 random bits) + NUL. */
#define SIP_TP_BRANCH_LEN		40
/* Bytes queued on one connection before sends fail with ENOBUFS. */
#define SIP_TP_OUTPUT_MAX		(1024 * 1024)
/*
 * Live connections (in and out) before new inbound ones are refused.
 * The daemon derives its cap from the descriptor limit instead.
 */
#define SIP_TP_CONNS_DEFAULT		8192
/* Seconds: no SIP message in or out; a message begun but not finished;
 * an inbound TLS handshake. */
#define SIP_TP_IDLE_TIMEOUT_DEFAULT	600
#define SIP_TP_MESSAGE_TIMEOUT_DEFAULT	32
#define SIP_TP_TLS_HANDSHAKE_TIMEOUT_DEFAULT 10
/* RFC 5626 §4.4.1: a ping without its pong for this long: the flow is dead. */
#define SIP_TP_PONG_TIMEOUT_DEFAULT	10
/* A stream listener out of descriptors stops accepting this long. */
#define SIP_TP_ACCEPT_PAUSE_MS		1000
/* After our close frame, the server has this long to close TCP. */
#define SIP_TP_WS_CLOSE_WAIT_MS		2000
/* Listeners per transport instance. */
#define SIP_TP_LISTENERS_MAX		32
/* Receive and send buffer asked for each UDP socket (bytes). */
#define SIP_TP_UDP_BUFFER		(4 * 1024 * 1024)

const char	*sip_tp_proto_name(enum sip_tp_proto);	/* "UDP", "TCP"… */
/* "udp", "tcp", "tls", "ws", "wss" in any case; 0 or EINVAL. */
int		 sip_tp_proto_from(const char *, enum sip_tp_proto *);
/* TLS underneath: TLS and WSS. */
bool		 sip_tp_proto_secure(enum sip_tp_proto);
/* WebSocket framing: WS and WSS. */
bool		 sip_tp_proto_ws(enum sip_tp_proto);
/*
 * How a Contact of ours names proto: the scheme ("sips" over TLS,
 * else "sip") and the transport parameter (";transport=tcp", and
 * ";transport=ws" for WS and WSS alike as RFC 7118 §5.2 writes it;
 * "" for UDP and TLS).
 */
const char	*sip_tp_contact_scheme(enum sip_tp_proto);
const char	*sip_tp_contact_param(enum sip_tp_proto);

struct sip_tp_conf {
	unsigned	 connect_timeout_ms;	/* default 10000 */
	unsigned	 idle_timeout_ms;	/* no SIP message: close;
						 * default 600000, 0: never */
	unsigned	 message_timeout_ms;	/* part of a message and
						 * no more: close; default
						 * 32000, 0: never */
	unsigned	 tls_handshake_timeout_ms; /* inbound; default
						 * 10000, 0: never */
	unsigned	 keepalive_ms;		/* CRLFCRLF ping (WS: a
						 * ping frame) on idle
						 * outbound streams; 0: off */
	unsigned	 pong_timeout_ms;	/* a ping unanswered this
						 * long closes the
						 * connection (ETIMEDOUT);
						 * default 10000, 0: never */
	size_t		 mtu;			/* default 1300 */
	bool		 no_mtu_switch;		/* keep big requests on UDP */
	size_t		 max_conns;		/* inbound refused above;
						 * 0: no limit */
	/* Outbound TLS: CA file and/or directory; neither: system store. */
	const char	*ca_file;
	const char	*ca_dir;
	bool		 tls_no_verify;		/* tests, labs: never default */
	const char	*client_cert;		/* optional, with client_key */
	const char	*client_key;
};

/*
 * connect 10 s, idle 600 s, partial message 32 s, TLS handshake 10 s,
 * keepalive off, pong 10 s, MTU 1300, 8192 connections, TLS
 * verification on.
 */
void	sip_tp_conf_default(struct sip_tp_conf *);

struct sip_tp_listen_conf {
	enum sip_tp_proto	 transport;	/* UDP, TCP or TLS */
	/*
	 * "IP:port" or "[IPv6]:port"; port 0 binds an ephemeral port
	 * (see sip_tp_listener_addr), no port means 5060 (5061 for TLS).
	 */
	const char		*address;
	const char		*cert;		/* TLS: PEM certificate chain */
	const char		*key;		/* TLS: PEM private key */
	const char		*ca_file;	/* TLS: verify client certs
						 * when they send one */
};

/* Per transport. */
struct sip_tp_counters {
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 msgs_in, msgs_out;
};

struct sip_tp_stats {
	struct sip_tp_counters	 tp[SIP_TP__COUNT];
	uint64_t		 garbage_requests;	/* 400 sent or dropped */
	uint64_t		 garbage_responses;	/* dropped */
	uint64_t		 foreign_responses;	/* top Via not ours,
							 * dropped (§18.1.2) */
	uint64_t		 keepalives_in;		/* pings and pongs */
	uint64_t		 keepalives_out;
	uint64_t		 conns_opened;		/* in and out */
	uint64_t		 conns_closed;
	uint64_t		 conns_refused;		/* over max_conns */
	uint64_t		 accept_pauses;		/* out of descriptors */
	uint64_t		 stream_errors;		/* framing, oversize */
	uint64_t		 mtu_switches;		/* §18.1.1 to TCP */
	uint64_t		 send_drops;		/* UDP EAGAIN */
};

/*
 * A message from the network.  The callee takes msg.  For a request src
 * says where its responses go (§18.2.2: the connection it came on, or
 * the received/rport address of the top Via, which the transport has
 * already written into msg's top Via); for a response src is where it
 * came from.
 */
typedef void sip_tp_recv_h(struct sip_msg *msg, const struct sip_dest *src,
    void *arg);
/*
 * Outbound connection conn_id closed or could not be opened (errno
 * value: ECONNREFUSED, ETIMEDOUT for a connect timeout or idle close,
 * ECONNRESET when the peer closed, EPROTO for a TLS failure such as a
 * certificate that does not verify, EBADMSG for a broken stream).
 * Inbound connections are not reported (see sip_tp_send).
 */
typedef void sip_tp_fail_h(uint64_t conn_id, int err, void *arg);

enum sip_tp_dir {
	SIP_TP_IN,
	SIP_TP_OUT,
};

struct sip_tp_trace {
	enum sip_tp_dir		 dir;
	enum sip_tp_proto	 proto;
	uint64_t		 conn_id;	/* UDP: listener id */
	const struct sockaddr	*local;
	socklen_t		 local_len;
	const struct sockaddr	*peer;
	socklen_t		 peer_len;
	const char		*buf;		/* the whole message */
	size_t			 len;
};

/* Called for every message sent or received (not for keepalives). */
typedef void sip_tp_trace_h(const struct sip_tp_trace *, void *arg);

struct sip_tp	*sip_tp_new(struct event_base *, const struct sip_tp_conf *);
/*
 * Closes everything at once, calling no callback.  Not from inside one
 * of the transport's own callbacks.
 */
void		 sip_tp_free(struct sip_tp *);
void		 sip_tp_set_recv(struct sip_tp *, sip_tp_recv_h *, void *);
void		 sip_tp_set_fail(struct sip_tp *, sip_tp_fail_h *, void *);
void		 sip_tp_set_trace(struct sip_tp *, sip_tp_trace_h *, void *);
const struct sip_tp_stats *sip_tp_stats(const struct sip_tp *);

/*
 * Opens a listener.  Returns 0 and *id (may be NULL), EINVAL for a bad
 * address, a WS or WSS listener (not supported) or a TLS listener
 * without cert/key, EPROTO for a certificate
 * or key OpenSSL refuses, or the socket's errno.
 */
int	sip_tp_listen(struct sip_tp *, const struct sip_tp_listen_conf *,
	    uint64_t *id);
/*
 * Loads a TLS certificate chain and private key as a listener would:
 * 0, or EINVAL/EPROTO with err saying which file and OpenSSL's reason.
 * For `sipxd -t` and for the error message of a failed listen.
 */
int	sip_tp_check_tls(const char *cert, const char *key, char *err,
	    size_t errlen);
/* The bound address of listener id (port filled in); 0 or ENOENT. */
int	sip_tp_listener_addr(const struct sip_tp *, uint64_t id,
	    struct sockaddr_storage *, socklen_t *);

/*
 * Address changes of the host (sip_netmon).  sip_tp_addr_gone: address
 * sa (port ignored) left the host.  Listeners bound to it (not
 * wildcards) are logged and no longer chosen to send from or to name
 * in a Via; their sockets keep the binding and hear again once the
 * address is back.  Stream connections whose local end is sa are
 * closed with EADDRNOTAVAIL, reported from the loop as any lost
 * connection (fail callback, observers).  Returns the connections
 * closed; *listeners (may be NULL) the listeners affected.
 * sip_tp_addr_back: sa is there again; returns the listeners that
 * hear again.
 */
size_t	sip_tp_addr_gone(struct sip_tp *, const struct sockaddr *sa,
	    size_t *listeners);
size_t	sip_tp_addr_back(struct sip_tp *, const struct sockaddr *sa);
/* Listeners whose address is gone now. */
size_t	sip_tp_listeners_gone(const struct sip_tp *);

/* ---- sending -------------------------------------------------------------- */

/* A destination for proto at addr (port set); conn_id 0. */
int	sip_tp_dest_make(struct sip_dest *, enum sip_tp_proto,
	    const struct sockaddr *, socklen_t);
/*
 * TCP/TLS/WS/WSS: finds a live connection to (proto, addr) or starts
 * one and sets dst->conn_id; sends queue until the connection is up.
 * For TLS and WSS, server_name (the target's domain, RFC 5922) is sent
 * as SNI and matched against the certificate; NULL matches the address
 * against the certificate's IP entries.  A WebSocket connection first
 * sends the RFC 6455 upgrade (Host: server_name, else the address;
 * path "/"), and SIP waits for the server's 101.  UDP: nothing to do.
 * 0 or errno.
 */
int	sip_tp_open(struct sip_tp *, struct sip_dest *dst,
	    const char *server_name);
bool	sip_tp_conn_alive(const struct sip_tp *, uint64_t conn_id);
/* Live stream connections, in and out. */
size_t	sip_tp_conn_count(const struct sip_tp *);
/*
 * Observes stream connection conn_id (in or out): when it closes for
 * any reason, fn gets (conn_id, errno value as for sip_tp_fail_h) once,
 * from the loop, and the registration ends.  For users of one
 * connection, such as a registration over an RFC 5626 flow; the
 * transport's fail callback still hears of outbound connections.
 * Returns a handle for sip_tp_conn_unobserve, or 0 when conn_id is not
 * a live connection.  sip_tp_free() drops registrations unheard.
 */
uint64_t sip_tp_conn_observe(struct sip_tp *, uint64_t conn_id,
	    sip_tp_fail_h *fn, void *arg);
/* Ends a registration; an unknown or spent handle is ignored. */
void	sip_tp_conn_unobserve(struct sip_tp *, uint64_t handle);
/*
 * RFC 5626 §4.4.1: CRLFCRLF pings every seconds on stream connection
 * conn_id (0 stops them), instead of the transport's keepalive_ms
 * (which only outbound connections get).  Such a connection is a flow:
 * its pongs prove it alive, so the idle timeout no longer closes it; a
 * ping left without a pong for pong_timeout_ms closes it (ETIMEDOUT,
 * told to its observers), as does a peer that vanished without a
 * word.  On WS and WSS the ping is a WebSocket ping frame and
 * its pong a pong frame.  0 or ENOTCONN.
 */
int	sip_tp_conn_set_keepalive(struct sip_tp *, uint64_t conn_id,
	    unsigned seconds);

/*
 * The struct sip_tp_ops send.  TCP/TLS: over dst->conn_id; when that
 * connection is gone, a response goes over a new connection to
 * dst->addr (§18.2.2) and a request fails with ENOTCONN; conn_id 0:
 * reuse or open one to (proto, addr).  UDP: a request above the MTU
 * goes over TCP to the same address unless conn.no_mtu_switch (see
 * sip_tp_send_ex; dst->no_switch forbids it).  On success *dst says
 * how the bytes went (as *used of sip_tp_send_ex).  Calls no callback
 * but the trace hook.
 */
int	sip_tp_send(void *tp, struct sip_dest *dst, const char *buf,
	    size_t len);
/*
 * As sip_tp_send, and *used (may be NULL) says how the bytes actually
 * went: after a §18.1.1 switch, proto TCP, reliable and the TCP
 * connection's id; the top Via's transport was rewritten UDP → TCP in
 * what was sent.  A caller that knows the size before it writes the Via
 * asks sip_tp_wants_stream() first and builds for TCP.
 */
int	sip_tp_send_ex(struct sip_tp *, const struct sip_dest *dst,
	    const char *buf, size_t len, struct sip_dest *used);
/* True if a request of len bytes to dst must go over TCP (§18.1.1). */
bool	sip_tp_wants_stream(const struct sip_tp *, const struct sip_dest *,
	    size_t len);
/* Sends a CRLFCRLF ping (WS: a ping frame) on a stream connection
 * now; 0 or ENOTCONN. */
int	sip_tp_ping(struct sip_tp *, uint64_t conn_id);

extern const struct sip_tp_ops sip_tp_ops;

/* ---- Via ------------------------------------------------------------------ */

/* "192.0.2.1:5060" or "[2001:db8::1]:5060"; "-" for NULL. */
void	sip_tp_addr_str(const struct sockaddr *, char *out, size_t len);

/* A fresh branch: the RFC 3261 magic cookie and 128 random bits. */
void	sip_tp_branch(char out[SIP_TP_BRANCH_LEN]);
/*
 * Appends our top Via value for a request to dst:
 * "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=<branch>", sent-by being a
 * listener of dst's transport and family (the address a wildcard
 * listener would use towards dst).  branch NULL: a fresh one.  0, or
 * EADDRNOTAVAIL when no listener of the family exists.
 */
int	sip_tp_via(struct sip_tp *, const struct sip_dest *dst,
	    const char *branch, struct strbuf *out);
/*
 * The sent-by of that Via alone, "192.0.2.1:5060" or "[2001:db8::1]:5060":
 * where a peer reaches us over dst's transport (a registration's
 * Contact).  0, or EADDRNOTAVAIL as sip_tp_via.  On WS and WSS, which
 * have no listener, it is the local address and port of dst's
 * connection: the peer that wants to reach us finds that connection by
 * this address (a registrar's lookup without NAT handling does), and
 * responses whose Via says it are ours.
 */
int	sip_tp_sent_by(struct sip_tp *, const struct sip_dest *dst,
	    char *out, size_t len);
/* sip_tp_via with the sent-by already known (one lookup for a Via and
 * a Contact: a wildcard listener's costs a socket). */
void	sip_tp_via_at(const struct sip_dest *dst, const char *sent_by,
	    const char *branch, struct strbuf *out);
/*
 * The value of req's first Via header field with the RFC 3261 §18.2.1 /
 * RFC 3581 §4 parameters set for a request from src: received= when the
 * sent-by is not src's address (always when rport is present), rport=
 * the source port when rport came without a value.  Returns true and
 * appends to out when something changed, false (nothing appended)
 * otherwise.  Incoming requests are already fixed when they reach the
 * receive callback, so sip_build_response_to() copies the fixed Via.
 */
bool	sip_tp_via_fixed(const struct sip_msg *req,
	    const struct sockaddr *src, struct strbuf *out);

#endif
