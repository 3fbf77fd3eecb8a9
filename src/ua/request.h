/*
 * The generic client request usage: one out-of-dialog, non-INVITE
 * request of any method (custom ones included) sent as one of the
 * accounts, for `sipxctl request` and as the sending half of MESSAGE
 * (message.c).  It owns the request's identity (From with a tag, To,
 * Call-ID, CSeq), its route (the account's outbound proxy or
 * Service-Route, ua_account_route), RFC 3263 resolution and failover
 * over the targets, one answer to a 401/407 with the account's
 * credentials, and an overall timeout.  Every response, provisional and
 * final, is handed to the caller as it comes.  It owns no dialog: a
 * request that would create one (SUBSCRIBE, REFER) gets a Contact, but
 * what comes back inside that dialog is answered 481 by the core.
 *
 * Methods refused, with a reason (request_check_method): INVITE, ACK
 * and CANCEL (a call is `call`, its CANCEL `hangup`), and BYE, PRACK,
 * UPDATE and INFO, which exist only inside an INVITE dialog (RFC 3261
 * §15, RFC 3262 §7, RFC 3311 §5.1, RFC 6086 §4.2): out of one, a peer
 * can only answer 481.  REGISTER is allowed as a query of the bindings
 * (RFC 3261 §10.2.3): no Contact is written and none may be given, so
 * the account's own registration is never disturbed.
 */
#ifndef SIPX_UA_REQUEST_H
#define SIPX_UA_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

struct ua;
struct account_set;
struct sip_msg;
struct request_agent;
struct request;

/* Whole request, including failover and a challenge answered. */
#define REQUEST_TIMEOUT_DEFAULT_MS	32000
#define REQUEST_TIMEOUT_MAX_MS		300000

struct request_params {
	const char		*account;	/* its name */
	const char		*method;	/* an RFC 3261 token */
	const char		*uri;		/* sip:/sips: Request-URI */
	/* Extra header lines "Name: value" (no CRLF), checked. */
	const char *const	*headers;
	size_t			 nheaders;
	/* A body (NULL: none), and its Content-Type (NULL: text/plain). */
	const char		*body;
	size_t			 body_len;
	const char		*content_type;
	unsigned		 timeout_ms;	/* 0: the default */
	/*
	 * The largest request sent to a UDP target (0: no limit; the
	 * transport then moves a request above 1300 bytes to TCP, RFC
	 * 3261 §18.1.1).  A larger one skips that target with EMSGSIZE.
	 */
	size_t			 udp_max;
};

struct request_result {
	/*
	 * 0: a final response came (status, reason).  Else why none did:
	 * with dns set, the RFC 3263 lookup failed (ENOENT no such name,
	 * ETIMEDOUT no DNS answer, EIO a server failure; detail has
	 * c-ares' words).  Otherwise ETIME (timeout_ms passed), ETIMEDOUT
	 * (Timer F at the last target), EMSGSIZE (over udp_max for every
	 * UDP target: size says how big), ENOBUFS (the transaction limit),
	 * EPROTO (a TLS peer did not verify), ENOENT (no usable target),
	 * or the transport's errno value.
	 */
	int		 err;
	bool		 dns;
	char		 detail[320];
	unsigned	 status;
	char		 reason[128];
	char		 target[80];	/* "UDP 192.0.2.1:5060", last tried */
	unsigned	 responses;	/* responses seen, 1xx included */
	bool		 challenged;	/* a 401/407 was answered */
	size_t		 size;		/* EMSGSIZE: the request's bytes */
};

/*
 * Every response, in order of arrival (retransmissions filtered by the
 * transaction layer), the 401/407 that gets answered and a 503 that
 * sends us to the next target included; provisional ones only up to
 * SIPX_REQUEST_PROVISIONAL_MAX (the rest are counted in responses).
 * msg lives for the call.
 */
typedef void request_response_fn(const struct sip_msg *, void *arg);
/* Once, from the loop; the request is gone after it returns. */
typedef void request_done_fn(const struct request_result *, void *arg);

/* max_live: requests in flight at once (0: SIPX_REQUESTS_MAX). */
struct request_agent *request_agent_new(struct ua *, struct account_set *,
	    size_t max_live);
/* Ends every live request without calling back. */
void	request_agent_free(struct request_agent *);
size_t	request_count(const struct request_agent *);

/*
 * The checks request_send makes, for a command that wants to say what
 * is wrong before it starts anything: 0, or EINVAL with a sentence in
 * err.
 */
int	request_check_method(const char *method, char *err, size_t errlen);
int	request_check_header(const char *line, char *err, size_t errlen);
int	request_check_type(const char *content_type, char *err,
	    size_t errlen);

/*
 * Starts the request; nothing goes out before the loop runs.  0 and
 * *out (for request_cancel; may be NULL); or ENOENT (no such account),
 * EINVAL (a bad method, URI, header, type or timeout: err says which),
 * EMSGSIZE (a body over SIPX_REQUEST_BODY_MAX), EBUSY (max_live
 * requests in flight).  Nothing is called back on an error.
 */
int	request_send(struct request_agent *, const struct request_params *,
	    request_response_fn *, request_done_fn *, void *arg,
	    struct request **out, char *err, size_t errlen);
/* No more callbacks; the request's transaction runs out alone. */
void	request_cancel(struct request *);

#endif
