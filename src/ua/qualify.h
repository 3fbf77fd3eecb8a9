/*
 * Peer health ("qualify", as PBXes call it): OPTIONS probes to the first
 * hop of the accounts that ask for them (qualify.interval > 0), the
 * outbound proxy, else the registrar.  Accounts whose first hop, transport
 * and qualify settings are the same share one probe (a peer), so ten
 * thousand accounts on one registrar cost one OPTIONS per interval.
 *
 * A probe resolves the peer's URI as the registration does (RFC 3263,
 * the account's transport) and sends one OPTIONS to the first target:
 * any final response, 404 or 407 as well as 200, means the target is
 * there; no answer within the timeout, a transport error or a failed
 * lookup is a failure.  `up` answers in a row make the peer reachable,
 * `down` failures in a row unreachable; each change is logged and
 * published (peer.state, and account.qualify for each account on the
 * peer).  A target found unreachable goes to the end of the resolver's
 * blocklist and the owner is told (qualify_down_fn), so that
 * registrations bound there move to the next RFC 3263 target; the next
 * probe then goes to that target too.
 *
 * It does not own the accounts: qualify_sync() reads the account set
 * after start-up and after every reload, keeps the peers whose key did
 * not change as they are (state, counters, timer), starts the new ones
 * at a random point of their interval so that probes do not come in
 * bursts, and drops the ones no account uses any more.
 */
#ifndef SIPX_UA_QUALIFY_H
#define SIPX_UA_QUALIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ua;
struct account;
struct account_set;
struct qualify;

enum qualify_state {
	QUALIFY_UNKNOWN,		/* not judged yet */
	QUALIFY_REACHABLE,
	QUALIFY_UNREACHABLE,
};

const char *qualify_state_name(enum qualify_state);

/* target ("UDP 192.0.2.1:5060") was found unreachable (again). */
typedef void qualify_down_fn(const char *target, void *arg);

struct qualify *qualify_new(struct ua *, struct account_set *,
	    qualify_down_fn *, void *arg);
/* After start-up and every reload: peers follow the accounts. */
void	qualify_sync(struct qualify *);
/* A graceful stop: no probe is sent any more. */
void	qualify_stop(struct qualify *);
void	qualify_free(struct qualify *);

/* One peer as `peers` and `account NAME` show it; valid until the
 * loop runs again. */
struct qualify_info {
	const char		*uri;		/* as the accounts name it */
	const char		*transport;	/* account_transport_name() */
	enum qualify_state	 state;
	const char		*target;	/* last probed, "" before */
	double			 rtt_ms;	/* last answer's, < 0: none */
	unsigned		 last_status;	/* 0: no answer yet */
	const char		*last_error;	/* last failure, "" if none */
	unsigned		 interval_s, timeout_ms, up, down;
	unsigned		 failures;	/* in a row */
	uint64_t		 probes, lost;	/* sent, and failed */
	size_t			 accounts;
	double			 changed;	/* Unix time, 0: never */
};

size_t	qualify_count(const struct qualify *);
/* The i-th peer (0 <= i < qualify_count), in the order they came. */
void	qualify_info_at(const struct qualify *, size_t i,
	    struct qualify_info *);
/* The account's peer; false when it has none (qualify off). */
bool	qualify_info_of(const struct qualify *, const struct account *,
	    struct qualify_info *);

/*
 * The threshold rule alone (exposed for the unit tests): the state after
 * one probe's outcome, given the runs of answers and failures so far
 * (updated here).
 */
enum qualify_state qualify_judge(enum qualify_state, bool answered,
	    unsigned up, unsigned down, unsigned *oks, unsigned *fails);

#endif
