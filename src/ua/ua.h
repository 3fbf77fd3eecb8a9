/*
 * The user agent's SIP core: owns the transport, the resolver and the
 * transaction layer of one daemon, wires them together, and dispatches
 * each request that matches no transaction through a method table that
 * the usages register into (OPTIONS in options.c; registration, calls
 * and subscriptions later).  The core itself answers what no usage
 * takes: 481 in a dialog that does not exist, 405/501 for methods, 420
 * for extensions (see ua.c).  Built from a struct ua_conf that the
 * daemon fills from its config; it knows nothing of the config file.
 */
#ifndef SIPX_UA_UA_H
#define SIPX_UA_UA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/sip_trans.h"
#include "sip/sip_transport.h"

struct event_base;
struct ua;
struct ua_options_req;

struct ua_conf {
	const struct sip_tp_listen_conf	*listen;
	size_t				 nlisten;
	unsigned			 t1_ms, t2_ms, t4_ms;
	const char *const		*dns_servers;
	size_t				 ndns_servers;
	/* Outbound TLS: CA file and/or directory (neither: the system
	 * store); tls_no_verify skips peer verification (tests only). */
	const char			*tls_ca_file;
	const char			*tls_ca_dir;
	bool				 tls_no_verify;
	/* Connection limits and timeouts; NULL: sip_tp_conf_default. */
	const struct sip_tp_conf	*tp;
	const char			*user_agent;
	/* Local identity for requests sent without an account. */
	const char			*default_from;
	/* Cap on live SIP transactions; 0: SIP_TRANS_MAX_DEFAULT. */
	size_t				 max_transactions;
	/*
	 * RFC 3263 failover: a target silent this long is given up for
	 * the next one (0: only Timer F ends it); a target that timed out,
	 * refused or answered 503 goes last in answers for blocklist_ms.
	 */
	unsigned			 failover_ms;
	unsigned			 blocklist_ms;
};

/*
 * Opens every listener and starts the layers.  Returns 0, or an errno
 * value with a reason in err (which listener failed, and why).
 */
int	ua_start(struct ua **out, struct event_base *, const struct ua_conf *,
	    char *err, size_t errlen);
void	ua_free(struct ua *);

struct sip_trans_layer *ua_trans(struct ua *);
/*
 * Applies sipxd.max_transactions (0: the default), at start and on
 * reload.  At the cap the daemon logs (at most once per 10 s) and
 * publishes daemon.overload state=on, then state=off when it clears.
 */
void	ua_set_max_transactions(struct ua *, size_t);
struct sip_resolve *ua_resolver(struct ua *);
const struct sip_tp_stats *ua_tp_stats(const struct ua *);

/*
 * The user parts sipxd answers for (the accounts' aors).  With
 * reject_unknown, an OPTIONS to another user part gets 404 instead of
 * 200 (a request without a user part is always answered).  Called at
 * start and on every reload.
 */
void	ua_set_users(struct ua *, const char *const *users, size_t n,
	    bool reject_unknown);

/* Every message in and out, for `sipxctl trace`; NULL turns it off. */
void	ua_set_trace(struct ua *, sip_tp_trace_h *, void *arg);

/*
 * Applied on reload: the Server/User-Agent text, and the failover and
 * blocklist times (for requests started afterwards).
 */
void	ua_set_user_agent(struct ua *, const char *);
/* T1, T2, T4 for transactions started afterwards (RFC 3261 §17). */
void	ua_set_timers(struct ua *, unsigned t1_ms, unsigned t2_ms,
	    unsigned t4_ms);
/*
 * New DNS servers (at least one), for lookups started afterwards; the
 * cache is flushed.  While DNS queries are in flight c-ares cannot
 * switch: the change then waits for them (retried every 100 ms).
 * Returns 0 or EINVAL.
 */
int	ua_set_dns_servers(struct ua *, const char *const *servers, size_t n);
void	ua_set_failover(struct ua *, unsigned failover_ms,
	    unsigned blocklist_ms);

/* ---- the method table ---------------------------------------------------- */

/*
 * A request that matched no transaction, as a usage sees it.  st is the
 * server transaction of a stateful method; for a stateless one it is
 * NULL and the usage must answer (ua_respond) before it returns, from
 * msg and src, which live only for the call.  For a stateful one msg
 * lives until the final answer is sent (sip_strans_request() gives
 * NULL after it); ua_respond() then returns EALREADY.
 */
struct ua_req {
	const struct sip_msg	*msg;
	struct sip_strans	*st;
	const struct sip_dest	*src;
};

typedef void ua_method_h(struct ua *, const struct ua_req *, void *arg);

enum ua_method_flags {
	/*
	 * Answer without a server transaction (RFC 3261 §8.2.7): no state,
	 * no timers; a retransmitted request is simply answered again.
	 * Only for methods whose answer is cheap and the same each time.
	 */
	UA_METHOD_STATELESS	= 1u << 0,
};

/*
 * A usage takes every out-of-dialog request of this method (a token,
 * case-sensitive, RFC 3261 §7.1); Allow is built from the table.
 * Returns 0, EEXIST (the method is taken), EINVAL (not a token) or
 * ENOSPC (the table is full).
 */
int	ua_register_method(struct ua *, const char *method, ua_method_h *,
	    void *arg, unsigned flags);

/*
 * Answers rq: the §8.2.6 copy of Via, From, To (with our tag), Call-ID
 * and CSeq, Server, then hdrs (whole lines with CRLF, or NULL), no body.
 * Stateless requests go out through sip_trans_send_stateless.  Returns
 * 0 or an errno value.
 */
int	ua_respond(struct ua *, const struct ua_req *, unsigned status,
	    const char *reason, const char *hdrs);
/* "Allow: …\r\nAccept: …\r\nSupported: …\r\n" (RFC 3261 §11.2). */
const char *ua_caps_hdrs(const struct ua *);

/* ---- OPTIONS, as a client ---------------------------------------------- */

struct ua_options_result {
	/*
	 * 0: a final response came.  Else why none did.  With dns set, the
	 * RFC 3263 lookup failed: ETIMEDOUT no DNS server answered, ENOENT
	 * no such name or no usable record, EIO the server failed; detail
	 * has c-ares' words.  Otherwise: ETIME timeout_ms passed;
	 * ETIMEDOUT the last target tried timed out (Timer F, or the
	 * failover timeout); ENOBUFS the transaction limit was reached;
	 * EPROTO a TLS peer did not verify; ENOENT no target could be
	 * used; another errno value: the transport's, for the last target.
	 */
	int		 err;
	bool		 dns;
	char		 detail[320];	/* c-ares' reason; may be "" */
	unsigned	 status;
	char		 reason[128];
	double		 rtt_ms;	/* send to final response */
	char		 target[80];	/* "UDP 192.0.2.1:5060" */
	char		 user_agent[256];	/* User-Agent or Server */
	char		 allow[256];
};

typedef void ua_options_cb(const struct ua_options_result *, void *arg);

/*
 * Sends OPTIONS to uri (RFC 3263 resolution, failover to the next
 * target on a transport error, a timeout or a 503), From from (NULL: the
 * default identity).  The callback comes once, from the loop, unless
 * the request is cancelled first; timeout_ms bounds the whole attempt.
 * Returns 0, or EINVAL for a URI that is not sip:/sips:, EPROTONOSUPPORT
 * for a transport= sipxd cannot use.
 */
int	ua_options_send(struct ua *, const char *uri, const char *from,
	    unsigned timeout_ms, ua_options_cb *, void *arg,
	    struct ua_options_req **out);
void	ua_options_cancel(struct ua_options_req *);

#endif
