/*
 * The MESSAGE usage (RFC 3428): instant messages sent as an account
 * (through request.c: the account's route, digest, RFC 3263 failover)
 * and received for one (the Request-URI's user part names the account,
 * as for calls).
 *
 * Received: answered 200 at once by its server transaction; 404 when no
 * account has the user part, 413 above SIPX_MESSAGE_IN_MAX bytes of
 * body, 415 (with Accept-Encoding: identity) for a Content-Encoding we
 * cannot undo (RFC 3261 §8.2.3), 400 for a body without Content-Type.
 * Any media type is taken: sipxd stores and shows bodies, it does not
 * interpret them.  Each one is published as a message.received event
 * (kind message) and kept in the account's inbox: its `inbox` newest,
 * oldest dropped first, and no more than SIPX_INBOX_BYTES_MAX bytes over
 * every inbox (the oldest message of all goes then).  An inbox costs
 * nothing until its first message.
 *
 * Sent: text/plain;charset=UTF-8 unless said.  RFC 3428 §8: a MESSAGE
 * over UDP stays within 1300 bytes (SIPX_MESSAGE_UDP_MAX, the whole
 * request): a larger one is never sent over UDP; it goes to a TCP or
 * TLS target when the resolution gave one, else fails with EMSGSIZE.
 */
#ifndef SIPX_UA_MESSAGE_H
#define SIPX_UA_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct ua;
struct account_set;
struct message_agent;

/*
 * Registers MESSAGE with ua.  Requests go out through req (which the
 * caller owns and frees after this agent).
 */
struct message_agent *message_agent_new(struct ua *, struct account_set *,
	    struct request_agent *req);
void	message_agent_free(struct message_agent *);
/*
 * After a reload applied the accounts: the user parts are read again,
 * the inboxes of removed accounts go, the others are cut to their new
 * `inbox`.  Must run before the loop does (it holds account pointers).
 */
void	message_agent_accounts_changed(struct message_agent *);

struct message_params {
	const char	*account;
	const char	*uri;
	const char	*text;		/* the body */
	size_t		 len;
	const char	*content_type;	/* NULL: text/plain;charset=UTF-8 */
	unsigned	 timeout_ms;	/* 0: the request default */
};

/*
 * Sends a MESSAGE; as request_send (the same errors and callbacks),
 * plus EINVAL for an empty text.
 */
int	message_send(struct message_agent *, const struct message_params *,
	    request_response_fn *, request_done_fn *, void *arg,
	    struct request **out, char *err, size_t errlen);

/* One message of an inbox, valid during the callback. */
struct message_entry {
	uint64_t	 id;		/* as its event carried it */
	double		 time;		/* Unix time received */
	const char	*from;		/* the From URI */
	const char	*to;		/* the To URI */
	const char	*content_type;	/* "" when none */
	const char	*body;		/* body_len bytes, NUL after */
	size_t		 body_len;
};

/*
 * Oldest first.  0, or ENOENT when no account has that name (an
 * account with an empty inbox calls nothing and returns 0).
 */
int	message_inbox_foreach(struct message_agent *, const char *account,
	    void (*fn)(const struct message_entry *, void *), void *arg);
/* Empties the inbox; 0 and *n removed, or ENOENT. */
int	message_inbox_clear(struct message_agent *, const char *account,
	    size_t *n);

struct message_stats {
	uint64_t	 received;	/* answered 200 */
	uint64_t	 refused;	/* 4xx answers */
	uint64_t	 dropped;	/* pushed out of an inbox */
	size_t		 kept;		/* in every inbox now */
	size_t		 bytes;		/* their bytes */
	size_t		 inboxes;	/* holding at least one */
};
void	message_stats_get(const struct message_agent *,
	    struct message_stats *);

#endif
