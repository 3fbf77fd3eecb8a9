/*
 * RFC 3263 §4 server location: a SIP or SIPS URI to an ordered list of
 * (transport, address, port) targets, through NAPTR → SRV → AAAA/A, with
 * c-ares driven by the caller's libevent loop (no blocking call, no
 * thread).  Owns the DNS channel, a cache of answers keyed by (name, type)
 * that honours TTLs, and a short memory of targets that failed.  It does
 * not own failover: the caller walks the list on a transport error, a
 * timeout or a 503 (RFC 3263 §4.3), and marks what failed.
 */
#ifndef SIPX_SIP_RESOLVE_H
#define SIPX_SIP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/sip_uri.h"

struct event_base;
struct sip_resolve;
struct sip_resolve_query;

/* At most this many targets in one answer; the rest are dropped. */
#define SIP_RESOLVE_TARGETS_MAX		32
/* Names (hosts, SRV targets) longer than this are not resolved. */
#define SIP_RESOLVE_NAME_MAX		255
/* Records taken from one SRV answer, and NAPTR services followed. */
#define SIP_RESOLVE_SRV_MAX		16
#define SIP_RESOLVE_NAPTR_MAX		6
/* Addresses taken per family from one A or AAAA answer. */
#define SIP_RESOLVE_ADDRS_MAX		8

enum sip_resolve_tp {
	SIP_RESOLVE_UDP,
	SIP_RESOLVE_TCP,
	SIP_RESOLVE_TLS,
	/*
	 * RFC 7118 WebSocket: only when a URI names it (transport=ws;
	 * sips: or transport=wss for WSS); no NAPTR or SRV, the host's
	 * AAAA/A at port 80 (WSS 443) unless the URI gives one.
	 */
	SIP_RESOLVE_WS,
	SIP_RESOLVE_WSS,
};
#define SIP_RESOLVE_TP_BIT(tp)		(1u << (tp))
/* What RFC 3263 may pick when the URI names no transport. */
#define SIP_RESOLVE_TP_ALL		0x7u
#define SIP_RESOLVE_TP_WEBSOCKET	0x18u

/* Order of the addresses of one host name in the target list. */
enum sip_resolve_family {
	SIP_RESOLVE_V6_FIRST,		/* AAAA then A (default) */
	SIP_RESOLVE_V4_FIRST,		/* A then AAAA */
	SIP_RESOLVE_V4_ONLY,
	SIP_RESOLVE_V6_ONLY,
};

struct sip_resolve_config {
	/*
	 * DNS servers as "IP", "IP:port" or "[IPv6]:port"; none (NULL or
	 * nservers 0) means the system's resolv.conf.
	 */
	const char *const	*servers;
	size_t			 nservers;
	int			 timeout_ms;	/* doubled each try */
	int			 tries;		/* per server */
	size_t			 cache_max;	/* 0: no cache */
	uint32_t		 ttl_max;	/* seconds, caps every TTL */
	/*
	 * Seconds a "no such name / no such record" answer is kept when it
	 * carries no SOA to take the RFC 2308 negative TTL from.
	 */
	uint32_t		 neg_ttl;
	unsigned		 transports;	/* SIP_RESOLVE_TP_BITs;
						 * default all five */
	enum sip_resolve_family	 family;
};

struct sip_resolve_target {
	enum sip_resolve_tp	 transport;
	struct sockaddr_storage	 addr;		/* port set */
	socklen_t		 len;
	/*
	 * The domain of the URI (maddr or host): what a TLS client sends
	 * as SNI and matches against the certificate (RFC 5922 §4).
	 */
	char			 domain[SIP_RESOLVE_NAME_MAX + 1];
	/* The host name the address came from (SRV target), for logs. */
	char			 name[SIP_RESOLVE_NAME_MAX + 1];
};

/*
 * Called once per query, from the loop (never from inside
 * sip_resolve_uri).  error is 0 and n >= 1, or: ENOENT (no such name or
 * no usable record), ETIMEDOUT (no DNS server answered), EIO (the server
 * failed, e.g. SERVFAIL) with n == 0.  The targets are valid during the
 * call only; the query handle is dead once the callback has returned.
 */
typedef void	(*sip_resolve_cb)(int error,
		    const struct sip_resolve_target *targets, size_t n,
		    void *arg);

struct sip_resolve_stats {
	uint64_t	queries;	/* DNS queries sent, all types */
	uint64_t	queries_a;
	uint64_t	queries_aaaa;
	uint64_t	queries_srv;
	uint64_t	queries_naptr;
	uint64_t	cache_hits;
	uint64_t	timeouts;	/* DNS queries that got no answer */
	size_t		cache_entries;
	size_t		in_flight;	/* DNS queries unanswered */
};

/* Defaults: resolv.conf, 2000 ms × 2 tries, 1024 entries, TTLs ≤ 1 h. */
void	sip_resolve_config_default(struct sip_resolve_config *);

/*
 * A resolver on the loop.  0, EINVAL for a bad server string, or EIO
 * if c-ares cannot start (for instance, no usable resolv.conf).
 */
int	sip_resolve_new(struct sip_resolve **out, struct event_base *,
	    const struct sip_resolve_config *);
/* Ends every query without calling back, and the DNS channel. */
void	sip_resolve_free(struct sip_resolve *);
/*
 * Replaces the DNS servers (config reload); 0, EINVAL, or EBUSY while
 * DNS queries are in flight (c-ares 1.18 refuses then: retry later).
 */
int	sip_resolve_set_servers(struct sip_resolve *,
	    const char *const *servers, size_t nservers);

/*
 * Starts locating the server for uri (RFC 3263 §4: its maddr, else its
 * host).  The list comes in this order:
 *  - IP address: that one target, no DNS.
 *  - a port: the host's AAAA and A (per cfg.family), that port.
 *  - transport=: SRV for that transport only, no NAPTR; ws or wss
 *    (RFC 7118 has no DNS records of its own): the host's AAAA and A,
 *    port 80 for ws, 443 for wss.
 *  - else NAPTR: every usable record (flag "s", a service we support
 *    that the URI allows), by order then preference, each one's SRV in
 *    turn; none usable, or no NAPTR: SRV for _sip._udp, _sip._tcp,
 *    _sips._tcp (sips: _sips._tcp only), in that order.
 *  - SRV records by priority, weighted random within one (RFC 2782);
 *    each target's AAAA and A.  No SRV: the host's, with the default
 *    port (5060, 5061 for TLS) and the first transport allowed.
 * Targets marked failed go last.  If no DNS server answers the NAPTR or
 * SRV stage, the query ends there with ETIMEDOUT rather than falling
 * back to the next stage (which would only wait again).
 *
 * The URI is copied: its buffer may go away on return.  Returns
 * 0 and *out (if out is not NULL) for sip_resolve_cancel, or, without
 * calling back: EINVAL (not SIP or SIPS, bad host), EPROTONOSUPPORT
 * (a transport= we do not support, or udp with sips).
 */
int	sip_resolve_uri(struct sip_resolve *, const struct sip_uri *,
	    sip_resolve_cb, void *arg, struct sip_resolve_query **out);
/*
 * The owner goes away: the callback will not be called.  Safe from
 * inside the query's own callback (it does nothing then).  DNS queries
 * already sent still complete and fill the cache.
 */
void	sip_resolve_cancel(struct sip_resolve_query *);
/*
 * Inside the query's callback, when error is not 0: what failed, in
 * c-ares' words, with the name and type asked ("example.com SRV: Domain
 * name not found"); "" after success.
 */
const char *sip_resolve_reason(const struct sip_resolve_query *);

/*
 * The caller could not reach target: for the next ms milliseconds,
 * answers that contain it list it after the others (order kept among
 * the failed ones).
 */
void	sip_resolve_mark_failed(struct sip_resolve *,
	    const struct sip_resolve_target *, unsigned ms);

void	sip_resolve_cache_flush(struct sip_resolve *);
void	sip_resolve_get_stats(const struct sip_resolve *,
	    struct sip_resolve_stats *);

/* "UDP", "TCP", "TLS", "WS", "WSS": the Via transport token. */
const char	*sip_resolve_tp_name(enum sip_resolve_tp);

#endif
