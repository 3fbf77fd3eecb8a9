/*
 * The subscription usage (RFC 6665): SUBSCRIBE/NOTIFY both ways.
 *
 * As subscriber, an account subscribes to a URI for one event package
 * (message-summary, RFC 3842; presence, RFC 3856; dialog, RFC 4235):
 * SUBSCRIBE through the account's route with its credentials, the
 * dialog made by the 2xx or by a NOTIFY that comes first, every NOTIFY
 * answered and published (subscription.notify) with its body kept,
 * refreshed before it expires, ended by sub_unsubscribe() and by the
 * daemon's stop.  Message summaries are parsed (sip/sip_mwi.h): the
 * latest one of an account is what `account NAME` shows, and a change
 * publishes subscription.mwi.
 *
 * As notifier, an account answers SUBSCRIBE per its accept_events:
 * 489 Bad Event for a package it does not accept (all of them by
 * default).  The one package sipxd can back with real state is presence
 * (RFC 3856, PIDF per RFC 3863): "open" while the account is registered
 * or does not register, "closed" otherwise, with a NOTIFY on change.
 *
 * Every subscription has an id from the process-wide counter
 * (base/ids.h) and publishes subscription.state on each change (kind
 * subscription, with account= and id=).  States: subscribing (our
 * SUBSCRIBE is out, no NOTIFY yet), pending, active, terminating (our
 * unsubscribe, or our final NOTIFY, waits for its answer), terminated
 * (the subscription is gone: it leaves the list).
 */
#ifndef SIPX_UA_SUBSCRIPTION_H
#define SIPX_UA_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "sip/sip_mwi.h"

struct ua;
struct sub_agent;

enum sub_state {
	SUB_STATE_SUBSCRIBING,
	SUB_STATE_PENDING,
	SUB_STATE_ACTIVE,
	SUB_STATE_TERMINATING,
	SUB_STATE_TERMINATED,
	SUB_STATE__COUNT
};

enum sub_dir {
	SUB_DIR_OUT,		/* we subscribe */
	SUB_DIR_IN,		/* a watcher subscribes to an account */
};

/* The event packages sipxd knows (the bit is account_cfg.accept_events). */
enum sub_package {
	SUB_PKG_MWI,		/* message-summary */
	SUB_PKG_PRESENCE,	/* presence */
	SUB_PKG_DIALOG,		/* dialog */
	SUB_PKG__COUNT
};

const char	*sub_state_name(enum sub_state);
const char	*sub_dir_name(enum sub_dir);
const char	*sub_package_name(enum sub_package);
/* By name (case-insensitive, RFC 6665 §8.2.1 tokens); -1 if unknown. */
int		 sub_package_from(const char *name, size_t len);

/* Defaults and bounds (config.c and the commands use them too). */
#define SUB_MAX_DEFAULT		10000	/* live subscriptions, both ways */
#define SUB_BODY_MAX_DEFAULT	16384	/* bytes of a NOTIFY body kept */
#define SUB_BODY_MAX_MAX	65535
#define SUB_EXPIRES_DEFAULT	3600	/* RFC 3842, 3856, 4235 */
#define SUB_EXPIRES_MAX		86400
/* As notifier: the least and most we grant (423 below the least). */
#define SUB_SERVE_MIN_EXPIRES	60
#define SUB_SERVE_MAX_EXPIRES	3600

struct sub_conf {
	size_t		 max;		/* 0: SUB_MAX_DEFAULT */
	size_t		 body_max;	/* 0: SUB_BODY_MAX_DEFAULT */
};

struct sub_agent *sub_agent_new(struct ua *, struct account_set *,
	    const struct sub_conf *);
/* Reload: the limits, and the accounts (call after account_set_apply:
 * subscriptions of removed accounts end, watchers learn new policies). */
void	sub_agent_set_conf(struct sub_agent *, const struct sub_conf *);
/*
 * Graceful stop: our subscriptions are unsubscribed (Expires: 0), each
 * watcher gets a final NOTIFY (terminated;reason=deactivated); done()
 * is called once, from the loop, when every one has ended.  New
 * subscriptions are refused (ESHUTDOWN, or 503 to a SUBSCRIBE).
 */
void	sub_agent_stop(struct sub_agent *, void (*done)(void *), void *arg);
/* Frees every subscription without sending anything. */
void	sub_agent_free(struct sub_agent *);

struct sub_params {
	const char	*account;	/* its name */
	const char	*uri;		/* sip:/sips: resource */
	const char	*event;		/* a package name */
	unsigned	 expires;	/* s; 0: SUB_EXPIRES_DEFAULT */
	uint64_t	 id;		/* 0: the next from base/ids.h */
};

/*
 * Subscribes; the SUBSCRIBE goes out from the loop.  0 and *id; or
 * ENOENT (no such account), EINVAL (a bad URI or package, or an
 * expires out of 1..SUB_EXPIRES_MAX: err says which), EEXIST (the id is
 * taken), EBUSY (the cap), ESHUTDOWN (stopping).
 */
int	sub_subscribe(struct sub_agent *, const struct sub_params *,
	    uint64_t *id, char *err, size_t errlen);
/*
 * Ends one of our subscriptions: SUBSCRIBE with Expires: 0 (RFC 6665
 * §4.1.2.3), terminated at the final NOTIFY, at a 481, or 64*T1 later.
 * 0; ENOENT (no such subscription of ours); EALREADY (already ending).
 */
int	sub_unsubscribe(struct sub_agent *, uint64_t id);

/* ---- what the control protocol shows ----------------------------------- */

struct sub_summary {
	uint64_t		 id;
	const char		*account;
	enum sub_dir		 dir;
	enum sub_package	 package;
	const char		*uri;		/* the resource, or the watcher */
	enum sub_state		 state;
	long			 expires_in;	/* s; -1: not known yet */
	unsigned		 notifies;	/* NOTIFYs received / sent */
	double			 last_notify;	/* Unix time, 0: none */
	const char		*content_type;	/* of the last, "" none */
	const char		*body;		/* of the last, "" none */
	size_t			 body_dropped;	/* bytes over the cap */
	const char		*reason;	/* last reason, "" none */
};

/* Calls fn for each live subscription, oldest first. */
void	sub_foreach(struct sub_agent *,
	    void (*fn)(const struct sub_summary *, void *), void *arg);
/* Live subscriptions per state (counts[SUB_STATE__COUNT]); the total. */
size_t	sub_count_states(const struct sub_agent *, size_t counts[]);

/*
 * The latest message summary an account's message-summary
 * subscriptions brought, and when.  0, or ENOENT when none has.
 */
int	sub_mwi_get(const struct sub_agent *, const char *account,
	    struct sip_mwi *out, double *when);

#endif
