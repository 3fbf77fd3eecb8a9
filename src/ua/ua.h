/*
 * The user agent's SIP core: owns the transport, the resolver and the
 * transaction layer of one daemon, wires them together, answers the
 * requests no usage takes (OPTIONS with 200, the rest with 501), and
 * offers the usages' entry points.  Built from a struct ua_conf that the
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
};

/*
 * Opens every listener and starts the layers.  Returns 0, or an errno
 * value with a reason in err (which listener failed, and why).
 */
int	ua_start(struct ua **out, struct event_base *, const struct ua_conf *,
	    char *err, size_t errlen);
void	ua_free(struct ua *);

struct sip_trans_layer *ua_trans(struct ua *);
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

/* ---- OPTIONS, as a client ---------------------------------------------- */

struct ua_options_result {
	int		 err;		/* 0: a final response came; ETIME:
					 * timeout_ms passed; ETIMEDOUT: the
					 * transaction timed out (Timer F) */
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
 * Returns 0, or EINVAL for a URI that is not sip:/sips:.
 */
int	ua_options_send(struct ua *, const char *uri, const char *from,
	    unsigned timeout_ms, ua_options_cb *, void *arg,
	    struct ua_options_req **out);
void	ua_options_cancel(struct ua_options_req *);

#endif
