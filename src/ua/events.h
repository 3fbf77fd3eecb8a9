/*
 * The in-process event bus.  Publishers describe a state change once
 * (type, account, key/value fields); the bus numbers it and hands it, as
 * a structured struct events_event, to every subscriber whose filter
 * matches.  Publishers never know who listens, and the bus knows no wire
 * format: the control layer turns events into protocol lines.
 *
 * A new subscriber first receives a snapshot of the current state: every
 * module that owns state registers a snapshot function, which re-emits
 * that state to the new subscriber alone.  Then an "EVENT sync" line.
 */
#ifndef SIPX_UA_EVENTS_H
#define SIPX_UA_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kinds a subscriber can filter on: the part of the type before '.'. */
enum events_kind {
	EVENTS_KIND_DAEMON	= 1u << 0,
	EVENTS_KIND_CONFIG	= 1u << 1,
	EVENTS_KIND_ACCOUNT	= 1u << 2,
	EVENTS_KIND_REG		= 1u << 3,
	EVENTS_KIND_CALL	= 1u << 4,
	EVENTS_KIND_MESSAGE	= 1u << 5,
	/* Every SIP message in and out: only when asked for by name. */
	EVENTS_KIND_TRACE	= 1u << 6,
	EVENTS_KIND_NET		= 1u << 7,	/* the host's addresses */
	EVENTS_KIND_PEER	= 1u << 8,	/* qualify.c: peer health */
	EVENTS_KIND_SUBSCRIPTION = 1u << 9,	/* subscription.c */
};
/* Bits a kind may take: events.c counts subscribers per bit. */
#define EVENTS_KIND_BITS	16
/* All but trace. */
#define EVENTS_KIND_ALL		(0x3fu | EVENTS_KIND_NET | EVENTS_KIND_PEER | \
				 EVENTS_KIND_SUBSCRIPTION)

struct events_sub;

#define EVENTS_KV_MAX	16	/* fields of one event */

struct events_kv {
	const char	*key;
	const char	*value;		/* never NULL ("" for none) */
};

/* Valid only during the deliver call. */
struct events_event {
	const char		*type;		/* "<kind>.<name>", or "sync" */
	uint64_t		 seq;
	double			 time;		/* Unix time, seconds */
	const char		*account;	/* NULL: about no account */
	const struct events_kv	*kv;
	size_t			 nkv;
	/* false for the snapshot and sync a subscription starts with:
	 * they go to one new subscriber, not to everyone. */
	bool			 live;
};

typedef void events_deliver_fn(const struct events_event *, void *arg);
/* Re-emits the owner's current state to one subscriber. */
typedef void events_snapshot_fn(struct events_sub *, void *arg);

/*
 * Parses a comma-separated list of kind names ("daemon,account") into a
 * mask.  Returns 0, or -1 with *bad pointing at the unknown name's start.
 */
int	events_kinds_parse(const char *list, unsigned *mask, const char **bad);
/* "daemon, config, account, …" for usage messages. */
const char *events_kinds_list(void);

void	events_add_snapshot(events_snapshot_fn *, void *arg);
void	events_remove_snapshot(events_snapshot_fn *, void *arg);

/* account == NULL: every account.  Sends the snapshot and sync first. */
struct events_sub *events_subscribe(unsigned kinds, const char *account,
	    events_deliver_fn *, void *arg);
/*
 * The same without the snapshot and the sync: only what is published
 * from now on.  For a job that follows its own work (a call it just
 * placed): a snapshot would walk every account for nothing.
 */
struct events_sub *events_subscribe_live(unsigned kinds, const char *account,
	    events_deliver_fn *, void *arg);
void	events_unsubscribe(struct events_sub *);

/*
 * Publishes an event.  The variadic part is key, value pairs of strings
 * ended by NULL (at most EVENTS_KV_MAX pairs); account may be NULL for
 * events about no account.
 */
void	events_publish(const char *type, const char *account, ...)
	    __attribute__((sentinel));
void	events_publishv(const char *type, const char *account,
	    const struct events_kv *, size_t n);
/* Same, for one subscriber only, from inside a snapshot function. */
void	events_emit_to(struct events_sub *, const char *type,
	    const char *account, ...) __attribute__((sentinel));
void	events_emit_tov(struct events_sub *, const char *type,
	    const char *account, const struct events_kv *, size_t n);

uint64_t events_last_seq(void);
/* True if some subscriber takes this kind: spares formatting otherwise. */
bool	events_wanted(unsigned kind);
size_t	events_subscriber_count(void);
/* Drops every subscriber and snapshot source (at exit). */
void	events_shutdown(void);

#endif
