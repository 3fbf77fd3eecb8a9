/*
 * SIP transactions (RFC 3261 §17, RFC 6026): the client and server,
 * INVITE and non-INVITE state machines with their timers, retransmission
 * on unreliable transports, the matching of incoming messages to
 * transactions (§17.1.3, §17.2.3 with the RFC 2543 fallback), the ACK
 * for non-2xx final responses (§17.1.1.3), and CANCEL matching (§9.2).
 *
 * The layer owns every transaction and frees it after it terminates.  It
 * never touches a socket: it sends bytes through the transport's
 * struct sip_tp_ops and is fed parsed messages through sip_trans_recv().
 * It knows nothing of dialogs: 2xx responses and ACKs for 2xx go up to
 * the user, which handles them per §13.
 *
 * Lifetimes.  A user holds a struct sip_ctrans * or struct sip_strans *
 * while it is attached (it has a handler).  The layer calls the handler
 * with SIP_TRANS_EV_TERMINATED as its last call; after that call returns
 * the pointer is gone.  A user that loses interest first calls
 * sip_ctrans_detach() / sip_strans_detach() (also allowed inside its
 * handler) and then must forget the pointer.  Objects are freed from the
 * loop, never under a caller; handlers must not free the layer.
 *
 * Memory.  A server transaction keeps the parsed request only until its
 * final response is sent; after that it holds its matching keys and the
 * serialized last response, nothing more (a few hundred bytes), so that
 * the transactions Timer J keeps after a flood stay cheap.  The number
 * of live transactions is capped (sip_trans_set_limit()): above it, new
 * requests get a stateless 503 and new client transactions ENOBUFS.
 */
#ifndef SIPX_SIP_TRANS_H
#define SIPX_SIP_TRANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip_msg.h"

struct event_base;
struct sip_trans_layer;
struct sip_ctrans;
struct sip_strans;

/* ---- the transport interface --------------------------------------------- */

/*
 * Where a message goes.  The transaction layer copies it by value when a
 * transaction starts and hands it back, untouched, to every send of that
 * transaction; it reads only `reliable`.  Everything else belongs to the
 * transport, which fills it in:
 *  - for a client transaction, the target chosen by the resolver
 *    (RFC 3263) and, for a stream, the connection to use (conn_id 0:
 *    open or reuse one);
 *  - for a request given to sip_trans_recv(), where responses to it go
 *    (RFC 3261 §18.2.2, RFC 3581: the connection the request came on, or
 *    the received/rport address of the top Via).
 * conn_id is an id, not a pointer, so that a closed connection leaves no
 * dangling reference behind: the transport fails a send to a connection
 * it no longer has (and may fall back to a new one, §18.2.2).
 */
struct sip_dest {
	bool			 reliable;	/* TCP/TLS: no retransmission */
	/*
	 * Set by the transaction layer when it falls back to UDP after a
	 * refused TCP connect (RFC 3261 §18.1.1): the transport must send
	 * over dst->proto as given, never switch to a stream for size.
	 */
	bool			 no_switch;
	uint8_t			 proto;		/* transport's own code */
	uint64_t		 conn_id;	/* transport's id; 0: none */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

struct sip_tp_ops {
	/*
	 * Sends one whole message (len bytes; buf is not NUL-terminated for
	 * the transport's purposes) to dst.  On success the transport
	 * rewrites *dst to the destination it actually used (a request over
	 * the UDP size limit goes over TCP, §18.1.1: proto, reliable and
	 * conn_id change), so that the transaction retransmits only when the
	 * message really went over an unreliable transport.  Returns 0 when
	 * the bytes are
	 * handed to the kernel or queued on the connection, or an errno
	 * value: the transaction then reports SIP_TRANS_EV_TP_ERROR and
	 * terminates (§17.1.4, §17.2.4).  Must not call back into the
	 * transaction layer.  A failure found later (a TCP connect that
	 * fails) is reported with sip_trans_tp_failed().
	 */
	int	(*send)(void *tp, struct sip_dest *dst, const char *buf,
		    size_t len);
};

/* ---- configuration ------------------------------------------------------- */

struct sip_trans_conf {
	unsigned	 t1_ms;		/* RTT estimate, default 500 */
	unsigned	 t2_ms;		/* retransmit cap, default 4000 */
	unsigned	 t4_ms;		/* network lifetime, default 5000 */
	/*
	 * Timer D (client INVITE, unreliable): 0 means 64*T1, which is the
	 * RFC's "at least 32 s" at the default T1.
	 */
	unsigned	 timer_d_ms;
	/*
	 * Server INVITE: send 100 Trying when the user has sent no response
	 * this long after the INVITE arrived (§17.2.1: 200 ms).  0: never;
	 * the user then sends its own 100.
	 */
	unsigned	 trying_ms;
};

/* RFC values: T1 500, T2 4000, T4 5000, Timer D 64*T1, 100 after 200 ms. */
void	sip_trans_conf_default(struct sip_trans_conf *);

/* ---- events to the user -------------------------------------------------- */

enum sip_trans_event {
	SIP_TRANS_EV_RESPONSE,	/* client: msg is a response (1xx–6xx) */
	SIP_TRANS_EV_TIMEOUT,	/* client: Timer B/F; server: Timer H */
	SIP_TRANS_EV_TP_ERROR,	/* err is the transport's errno value */
	SIP_TRANS_EV_ACK,	/* server INVITE: msg is the ACK for its
				 * non-2xx final (2xx ACKs: request handler) */
	SIP_TRANS_EV_TERMINATED, /* the last call; the pointer dies after */
};

/*
 * msg, when not NULL, lives only for the call: copy what you keep.  The
 * handler may call sip_*trans_detach() and, for a server transaction,
 * sip_strans_respond(); it must not free the layer.
 */
typedef void sip_ctrans_h(struct sip_ctrans *, enum sip_trans_event,
    int err, const struct sip_msg *msg, void *arg);
typedef void sip_strans_h(struct sip_strans *, enum sip_trans_event,
    int err, const struct sip_msg *msg, void *arg);
/*
 * A request that matches no transaction.  For an ACK (it belongs to a
 * 2xx, §13.2.2.4/§17.2.3) st is NULL: nothing to answer, msg lives only
 * for the call.  For any other request st is a new server transaction
 * and msg is its request, valid until st sends its final response (then
 * freed: sip_strans_request() returns NULL after it).
 * The user answers through sip_strans_respond(), now or later, and sets
 * a handler if it keeps st after its final response.  A CANCEL gets its
 * own transaction; find the INVITE it cancels with sip_trans_find_invite().
 */
typedef void sip_trans_request_h(struct sip_trans_layer *,
    struct sip_strans *st, const struct sip_msg *msg, void *arg);
/*
 * Asked first about a request (not an ACK) that matches no transaction,
 * before a server transaction is made for it.  Returns true when it
 * answered the request statelessly (RFC 3261 §8.2.7, with
 * sip_trans_send_stateless()) or dropped it: no transaction is made and
 * the request handler is not called.  msg lives only for the call.
 */
typedef bool sip_trans_stateless_h(struct sip_trans_layer *,
    const struct sip_msg *msg, const struct sip_dest *src, void *arg);

/* ---- states -------------------------------------------------------------- */

enum sip_ctrans_state {
	SIP_CTRANS_CALLING,	/* INVITE */
	SIP_CTRANS_TRYING,	/* non-INVITE */
	SIP_CTRANS_PROCEEDING,
	SIP_CTRANS_COMPLETED,
	SIP_CTRANS_ACCEPTED,	/* INVITE after 2xx, RFC 6026 */
	SIP_CTRANS_TERMINATED,
};

enum sip_strans_state {
	SIP_STRANS_TRYING,	/* non-INVITE */
	SIP_STRANS_PROCEEDING,	/* INVITE starts here */
	SIP_STRANS_COMPLETED,
	SIP_STRANS_CONFIRMED,	/* INVITE after ACK */
	SIP_STRANS_ACCEPTED,	/* INVITE after 2xx, RFC 6026 */
	SIP_STRANS_TERMINATED,
};

const char	*sip_ctrans_state_name(enum sip_ctrans_state);
const char	*sip_strans_state_name(enum sip_strans_state);

/* ---- the layer ----------------------------------------------------------- */

enum sip_trans_kind {
	SIP_TRANS_CLIENT_INVITE,
	SIP_TRANS_CLIENT_NON_INVITE,
	SIP_TRANS_SERVER_INVITE,
	SIP_TRANS_SERVER_NON_INVITE,
	SIP_TRANS_KIND__COUNT
};

const char	*sip_trans_kind_name(enum sip_trans_kind);

struct sip_trans_stats {
	uint64_t	 created[SIP_TRANS_KIND__COUNT];
	uint64_t	 terminated[SIP_TRANS_KIND__COUNT];
	uint64_t	 stray_responses;	/* matched no client trans. */
	uint64_t	 retrans_sent;		/* sent again (any message) */
	uint64_t	 retrans_absorbed;	/* duplicates not passed up */
	uint64_t	 timeouts;		/* Timers B, F, H */
	uint64_t	 tp_errors;
	uint64_t	 dropped;		/* requests without Via, … */
	uint64_t	 overload_503;		/* stateless 503s at the cap */
	uint64_t	 overload_client;	/* sip_ctrans_send ENOBUFS */
	uint64_t	 trims;			/* heap given back when idle */
};

/* The default cap on live transactions (sipxd.max_transactions). */
#define SIP_TRANS_MAX_DEFAULT	100000
/* Retry-After (seconds) of the 503 sent at the limit. */
#define SIP_TRANS_RETRY_AFTER	5

struct sip_trans_layer *sip_trans_layer_new(struct event_base *,
	    const struct sip_trans_conf *, const struct sip_tp_ops *,
	    void *tp);
/* Frees every transaction without calling any handler. */
void	sip_trans_layer_free(struct sip_trans_layer *);
void	sip_trans_set_request_handler(struct sip_trans_layer *,
	    sip_trans_request_h *, void *arg);
void	sip_trans_set_stateless_handler(struct sip_trans_layer *,
	    sip_trans_stateless_h *, void *arg);
/*
 * Sends a response with no transaction (§8.2.7) to src, the dest the
 * request came with.  Returns 0 or the transport's errno value.
 */
int	sip_trans_send_stateless(struct sip_trans_layer *,
	    const struct sip_dest *src, const char *buf, size_t len);
/* Takes effect for transactions started afterwards. */
void	sip_trans_set_conf(struct sip_trans_layer *,
	    const struct sip_trans_conf *);
const struct sip_trans_stats *sip_trans_stats(const struct sip_trans_layer *);

/*
 * A parsed message from the transport.  The layer takes msg (and frees
 * it, or keeps it as a server transaction's request until its final
 * response).  For a request,
 * src says where responses go (see struct sip_dest); for a response it
 * is unused and may be NULL.
 */
void	sip_trans_recv(struct sip_trans_layer *, struct sip_msg *msg,
	    const struct sip_dest *src);

/*
 * The transport lost connection conn_id (or could not open it): every
 * live transaction sending over it reports SIP_TRANS_EV_TP_ERROR with err
 * and terminates.
 */
void	sip_trans_tp_failed(struct sip_trans_layer *, uint64_t conn_id,
	    int err);

/*
 * The INVITE server transaction a CANCEL request cancels (§9.2: matched
 * as in §17.2.3 but for the method), or NULL.  Only live transactions
 * (not Terminated) are returned.
 */
struct sip_strans *sip_trans_find_invite(struct sip_trans_layer *,
	    const struct sip_msg *cancel);

/* One line of `sipxctl transactions`. */
struct sip_trans_info {
	uint64_t		 id;
	enum sip_trans_kind	 kind;
	bool			 server;
	const char		*role;		/* "client", "server" */
	const char		*method;
	const char		*state;
	const char		*branch;
	uint64_t		 age_ms;
};

/* Calls fn for every live transaction, oldest first. */
void	sip_trans_foreach(struct sip_trans_layer *,
	    void (*fn)(const struct sip_trans_info *, void *), void *arg);
size_t	sip_trans_count(const struct sip_trans_layer *);

/*
 * Called on every state change (after log_debug): for tests and for the
 * events bus.  from is NULL for the initial state.
 */
typedef void sip_trans_trace_h(const struct sip_trans_info *,
    const char *from, void *arg);
void	sip_trans_set_trace(struct sip_trans_layer *, sip_trans_trace_h *,
	    void *arg);

/*
 * The cap on live transactions (0: none; default SIP_TRANS_MAX_DEFAULT).
 * At the cap a request that matches no transaction (and that the
 * stateless handler did not take) is answered with a stateless 503 and
 * Retry-After (RFC 3261 §21.5.4), an ACK is never answered, and
 * sip_ctrans_send() fails with ENOBUFS.  Lowering it below the live
 * count refuses new work until enough transactions end.
 */
void	sip_trans_set_limit(struct sip_trans_layer *, size_t max);
size_t	sip_trans_limit(const struct sip_trans_layer *);
bool	sip_trans_overloaded(const struct sip_trans_layer *);
/*
 * Called when the layer first refuses work at the cap (on true) and
 * when the live count has fallen back below nine tenths of it (on
 * false): for an event and a log line.  It must not call back into the
 * layer.
 */
typedef void sip_trans_overload_h(struct sip_trans_layer *, bool on,
    size_t limit, void *arg);
void	sip_trans_set_overload_handler(struct sip_trans_layer *,
	    sip_trans_overload_h *, void *arg);

/* ---- client transactions ------------------------------------------------- */

/*
 * Starts a client transaction for the request in buf[0..len) (copied),
 * as built by the user: its top Via must carry a branch with the magic
 * cookie (§8.1.1.7) and the request must not be an ACK (an ACK for a 2xx
 * goes straight to the transport, §17.1.1.3).  The request is sent at
 * once to dst.  Returns 0 and *out; EINVAL for an unparsable request or
 * an ACK, EEXIST if a transaction with this branch and method lives,
 * ENOBUFS at the limit on live transactions (sip_trans_set_limit()),
 * or the transport's error (no transaction then).
 *
 * RFC 3261 §18.1.1: when the transport switches a large UDP request to
 * TCP and the connect is refused (ECONNREFUSED, from the send or later
 * through sip_trans_tp_failed()), the transaction sends it again over
 * UDP to the original destination with no_switch set, and retransmits
 * it there with Timer A or E as any UDP request.  out may be NULL for
 * a fire-and-forget request with no handler.
 */
int	sip_ctrans_send(struct sip_trans_layer *, const char *buf, size_t len,
	    const struct sip_dest *dst, sip_ctrans_h *, void *arg,
	    struct sip_ctrans **out);
/* No more handler calls; forget the pointer. */
void	sip_ctrans_detach(struct sip_ctrans *);
enum sip_ctrans_state sip_ctrans_state(const struct sip_ctrans *);
/* The request as sent (for building a CANCEL, §9.1); NULL once a
 * non-INVITE transaction has its final response. */
const struct sip_msg *sip_ctrans_request(const struct sip_ctrans *);
uint64_t sip_ctrans_id(const struct sip_ctrans *);

/* ---- server transactions ------------------------------------------------- */

/*
 * Sends a response (buf[0..len), copied; it must start with a status
 * line "SIP/2.0 NNN ") and drives the state machine.  Returns 0; EINVAL
 * for no status line; EALREADY when the state allows no response (after
 * a final one, except a 2xx again in Accepted: the user's §13.3.1.4
 * retransmissions); or the transport's error (the transaction is then
 * Terminated, and no TP_ERROR event comes for it).
 */
int	sip_strans_respond(struct sip_strans *, const char *buf, size_t len);
/*
 * Builds a response with sip_build_response_to() and sends it.  Needs
 * the request: EALREADY once a final response has been sent.
 */
int	sip_strans_reply(struct sip_strans *, unsigned status,
	    const char *reason, const char *to_tag);
void	sip_strans_set_handler(struct sip_strans *, sip_strans_h *, void *);
/* The arg of the handler set, or NULL: which user owns st (CANCEL). */
void	*sip_strans_handler_arg(const struct sip_strans *);
/* Where the responses go (the request's source, §18.2.2). */
const struct sip_dest *sip_strans_dest(const struct sip_strans *);
void	sip_strans_detach(struct sip_strans *);
enum sip_strans_state sip_strans_state(const struct sip_strans *);
/*
 * The request, valid only until the transaction sends its final
 * response (the layer frees it then to keep held transactions small);
 * NULL after that.  Copy what you need before answering.
 */
const struct sip_msg *sip_strans_request(const struct sip_strans *);
uint64_t sip_strans_id(const struct sip_strans *);

#endif
