/*
 * What the files of src/ua share and nothing outside sees: struct ua
 * itself, the method table the usages register into, and the helpers a
 * usage answers with.  ua.c owns the struct and the dispatch; each usage
 * (options.c today; reg.c, call.c, subscription files later) owns one
 * method or a few and reaches the layers below through these fields.
 */
#ifndef SIPX_UA_UA_PRIV_H
#define SIPX_UA_UA_PRIV_H

#include "ua.h"

struct sip_resolve;
struct sip_dialog;
struct sip_dialog_table;

/*
 * A request inside a dialog the table holds (§12.2.2), including the
 * ACK for a 2xx (rq->st NULL, nothing to answer).  CANCEL goes to the
 * INVITE method's handler instead, with the INVITE's transaction found
 * by sip_trans_find_invite().
 */
typedef void ua_dialog_h(struct ua *, const struct ua_req *,
    struct sip_dialog *, void *arg);

/* The usages that own dialogs: a dialog's `usage` field names one. */
enum ua_usage {
	UA_USAGE_CALL,			/* INVITE sessions (call.c) */
	UA_USAGE_SUBSCRIPTION,		/* SUBSCRIBE/NOTIFY (subscription.c) */
	UA_USAGE__COUNT
};

/*
 * A NOTIFY may come before the 2xx to its SUBSCRIBE (RFC 6665 §4.1.2.4):
 * its dialog is not in the table yet.  The usage that may own it is
 * asked first (with a server transaction); it answers and returns true,
 * or returns false and the core answers 481.
 */
typedef bool ua_dialog_miss_h(struct ua *, const struct ua_req *,
    void *arg);

/* Methods a UA can register (RFC 3261 and its extensions). */
#define UA_METHODS_MAX		16
#define UA_METHOD_NAME_MAX	16
/* Allow holds every method with ", " and ACK, CANCEL: it cannot overflow. */
#define UA_ALLOW_MAX		(UA_METHODS_MAX * (UA_METHOD_NAME_MAX + 2) + 16)

struct ua_method {
	char		 name[UA_METHOD_NAME_MAX];
	enum sip_method	 id;		/* SIP_METHOD_OTHER: match name */
	ua_method_h	*h;
	void		*arg;
	unsigned	 flags;		/* UA_METHOD_* */
};

struct ua {
	struct event_base	*base;
	struct sip_tp		*tp;
	struct sip_resolve	*res;
	struct sip_trans_layer	*trans;
	char			*user_agent;
	char			*default_from;
	char			**users;	/* sorted, for bsearch */
	size_t			 nusers;
	bool			 reject_unknown;
	struct sip_trans_conf	 tc;		/* as given to the layer */
	/* DNS servers waiting for the queries in flight to end (reload). */
	char			**dns_pending;
	size_t			 ndns_pending;
	struct event		*dns_retry;
	unsigned		 failover_ms;	/* per target, 0: Timer F */
	unsigned		 blocklist_ms;	/* a dead target's penalty */

	struct ua_method	 methods[UA_METHODS_MAX];
	size_t			 nmethods;
	/*
	 * Built when the table or the user agent changes, so that an
	 * answer is a few copies (the stateless OPTIONS hot path):
	 * allow_hdr is "Allow: …\r\n"; caps_hdr adds Accept and Supported
	 * (RFC 3261 §11.2); server_hdr is "Server: …\r\n" or empty.
	 */
	char			 allow[UA_ALLOW_MAX];
	char			 allow_hdr[UA_ALLOW_MAX + 16];
	char			 caps_hdr[UA_ALLOW_MAX + 128];
	char			*server_hdr;	/* any length */
	/* Keys the stateless To tag (RFC 3261 §8.2.7). */
	uint64_t		 tag_key;
	/* Every dialog of every usage, for §12.2.2 matching. */
	struct sip_dialog_table	*dialogs;
	ua_dialog_h		*dialog_h[UA_USAGE__COUNT];
	void			*dialog_arg[UA_USAGE__COUNT];
	ua_dialog_miss_h	*notify_miss_h;
	void			*notify_miss_arg;
	uint64_t		 overload_logged_us;	/* last log line */
	bool			 overload_said;	/* logged "on", no "off" yet */
};

/*
 * What the usages share to send a request of their own: the transport
 * of a resolved target, a destination for it with its connection
 * opened (SNI from the target's domain), and RFC 3263 resolution of a
 * URI with the account's transport when the URI names none (tp: 0 udp,
 * 1 tcp, 2 tls, 3 ws, 4 wss, as enum account_transport; -1: the URI as
 * written).  0 or an errno value; EINVAL
 * for a URI that does not parse.
 */
enum sip_resolve_tp;
struct sip_resolve_target;
struct sip_resolve_query;
enum sip_tp_proto ua_proto_of(enum sip_resolve_tp);
int	ua_target_dest(struct ua *, const struct sip_resolve_target *,
	    struct sip_dest *);
int	ua_resolve(struct ua *, const char *uri, int tp,
	    void (*cb)(int, const struct sip_resolve_target *, size_t, void *),
	    void *arg, struct sip_resolve_query **q);

/* The handler of in-dialog requests of one usage's dialogs. */
void	ua_set_dialog_handler(struct ua *, enum ua_usage, ua_dialog_h *,
	    void *arg);
/* Who is asked about a NOTIFY whose dialog is unknown (NULL: 481). */
void	ua_set_notify_miss_handler(struct ua *, ua_dialog_miss_h *,
	    void *arg);

/*
 * What an account's requests outside a dialog start with (RFC 3261
 * §8.1.2): its outbound proxy, else the Service-Route its registration
 * learned (RFC 3608).  *route is the Route header value to pre-load and
 * *hop the URI to resolve (both NULL: send to the Request-URI); the
 * caller frees both.
 */
struct account;
void	ua_account_route(const struct account *, char **route, char **hop);

/*
 * Digest (RFC 3261 §22, RFC 7616).  ua_auth_challenge() copies the first
 * usable challenge of a 401 (WWW-Authenticate) or 407
 * (Proxy-Authenticate) as the header value, or NULL.  ua_auth_add() adds
 * the account's answer to it to b as Authorization or (proxy)
 * Proxy-Authorization; with saved, it also gives a copy of the value (an
 * ACK for a 2xx repeats it).  0, or an errno value (EINVAL: the
 * challenge does not parse; the account has no secret: 0, nothing
 * added).
 */
struct sip_build;
struct sip_msg;
char	*ua_auth_challenge(const struct sip_msg *);
int	ua_auth_add(struct sip_build *, const struct account *,
	    const char *chal, bool proxy, const char *method,
	    const char *ruri, const char *body, char **saved);

/* options.c */
void	ua_options_init(struct ua *);
/*
 * One OPTIONS to the target t alone (already resolved from uri, the
 * Request-URI): no failover, nothing marked in the blocklist; as
 * ua_options_send() otherwise (res.target names t).  0 or EINVAL.
 */
int	ua_options_send_target(struct ua *, const char *uri,
	    const char *from, const struct sip_resolve_target *t,
	    unsigned timeout_ms, ua_options_cb *, void *arg,
	    struct ua_options_req **out);

/* ua.c: the user part of uri is one of the accounts' (or need not be). */
bool	ua_user_known(const struct ua *, const struct sip_uri *);

#endif
