/*
 * The registration usage (RFC 3261 §10): one registration client per
 * account with register = true, kept registered for as long as the
 * account lives.  It sends REGISTER to the account's registrar (RFC 3263
 * targets, or the outbound proxy), answers digest challenges with the
 * account's credentials, refreshes before the granted expiry runs out,
 * retries with backoff after failures and fails over between targets.
 *
 * The agent is told of the account set's changes through the account
 * hooks (account.h): added and changed accounts are (re-)registered,
 * removed ones unregistered, unchanged ones left alone.  First REGISTERs
 * after start-up and reload are spread over spread_ms; refreshes are
 * jittered.  Every state change sets account->reg_state and publishes an
 * account.state event with its cause.
 */
#ifndef SIPX_UA_REG_H
#define SIPX_UA_REG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "account.h"

struct ua;
struct reg_agent;

/* Attempts kept per account for `sipxctl account NAME`. */
#define REG_HISTORY		4
/* REGISTER transactions in flight at once, all accounts together;
 * more wait their turn (start-up of 100,000 accounts, a stop). */
#define REG_INFLIGHT_MAX	1024

struct reg_conf {
	unsigned	 spread_ms;	/* sipxd.register_spread */
};

/* Told after every state change (the daemon's STATUS= line). */
typedef void reg_change_fn(void *arg);

/*
 * An agent on ua for the accounts of set; installs the set's hooks.
 * Nothing is sent until reg_agent_start().
 */
struct reg_agent *reg_agent_new(struct ua *, struct account_set *,
	    const struct reg_conf *, reg_change_fn *, void *arg);
/* Start-up: every account with register = true, spread over spread_ms. */
void	reg_agent_start(struct reg_agent *);
/* Reload: the new spread, for what the reload starts and the pace of
 * every later REGISTER that does not refresh a live binding. */
void	reg_agent_set_conf(struct reg_agent *, const struct reg_conf *);
/*
 * Graceful stop: every binding is removed (REGISTER with Expires: 0);
 * done() is called once, from the loop, when the last answer came or
 * failed.  Nothing is re-registered afterwards.
 */
void	reg_agent_stop(struct reg_agent *, void (*done)(void *), void *arg);
/* Frees every client without sending anything. */
void	reg_agent_free(struct reg_agent *);

/*
 * The host's addresses changed: gone[ngone] left it (ports ignored),
 * added says whether any came.  A registration whose Contact names a
 * vanished address (behind a NAT: any vanished address of its family)
 * registers again at once, from an address that exists; with added,
 * one waiting out a failure for want of an address (no route, nothing
 * to send from) tries now.  Others are not touched.  Returns how many
 * registrations were started again.
 */
size_t	reg_agent_net_change(struct reg_agent *,
	    const struct sockaddr_storage *gone, size_t ngone, bool added);

/*
 * The Service-Route of the account's last successful registration
 * (RFC 3608: the route its calls take), "<uri>, <uri>" as received, or
 * NULL when none (or r is NULL).
 */
const char *reg_service_route(const struct reg *r);

/* ---- control ------------------------------------------------------------ */

/* One REGISTER and how it ended, newest first in struct reg_info. */
struct reg_attempt {
	double		 time;		/* Unix time it was sent */
	unsigned	 expires;	/* asked for; 0: an unregister */
	unsigned	 status;	/* final status, 0: none came */
	int		 err;		/* errno value when status is 0 */
	char		 reason[48];	/* reason phrase or error text */
	char		 target[48];	/* "UDP 192.0.2.1:5060" */
};

/* Everything known of one account's registration; strings owned by it. */
struct reg_info {
	enum reg_state		 state;
	const char		*target;	/* "" before the first try */
	const char		*call_id;
	uint32_t		 cseq;
	int64_t			 expires_in;	/* s left, -1: not bound */
	unsigned		 granted;	/* s, by the registrar */
	unsigned		 asked;		/* s, asked for (423 raises) */
	int64_t			 refresh_in;	/* s to the refresh, -1 */
	int64_t			 next_try_in;	/* s to the retry, -1 */
	unsigned		 last_status;	/* 0: none yet */
	const char		*last_reason;	/* or the error text */
	unsigned		 failures;	/* in a row */
	const char		*contact;	/* what we send */
	const char		*public_addr;	/* NAT: as the registrar saw
						 * us, "" if not behind one */
	const char		*contacts;	/* bindings the registrar
						 * listed, "\n"-separated */
	const char		*service_route;	/* RFC 3608, "" if none */
	const char		*path;		/* RFC 3327, "" if none */
	const char		*auth_realm;	/* "" before a challenge */
	const char		*auth_alg;
	struct reg_attempt	 attempts[REG_HISTORY];
	size_t			 nattempts;
};

/* Fills info for a (valid until the next loop iteration). */
void	reg_info_get(const struct reg_agent *, const struct account *,
	    struct reg_info *);

/*
 * `register NAME`: refresh now (or start at once from retry-wait or
 * failed).  `unregister NAME`: remove the binding and stay unregistered
 * until `register` or a reload that changes the account.  `disable`:
 * unregister and stay disabled (kept across reloads that leave the
 * account unchanged); `enable`: register again.  Return 0, or
 * EPERM (the account has register = false), EALREADY (nothing to do),
 * ESHUTDOWN (the daemon is stopping).
 */
int	reg_register_now(struct reg_agent *, struct account *);
int	reg_unregister(struct reg_agent *, struct account *);
int	reg_disable(struct reg_agent *, struct account *);
int	reg_enable(struct reg_agent *, struct account *);

/*
 * Peer health (qualify.c) found target ("UDP 192.0.2.1:5060", as
 * struct reg_info shows it) unreachable: every binding registered
 * there registers again now (spread over register_spread), so that the
 * RFC 3263 resolution, with target at the end of its blocklist, takes
 * it to the next target before the binding runs out.  Registrations
 * already busy (an attempt out, a retry waiting) are left to their own
 * failover and backoff.  Returns how many were moved.
 */
size_t	reg_peer_down(struct reg_agent *, const char *target);

/* Accounts per state, indexed by enum reg_state. */
void	reg_count_states(const struct reg_agent *, size_t counts[]);

/* ---- arithmetic (exposed for the unit tests) ---------------------------- */

/*
 * Seconds after a 2xx to send the refresh: 80–90 % of granted (rnd in
 * [0, 1) picks where), never later than granted minus 5 s when granted
 * leaves room, never before half of granted.
 */
unsigned reg_refresh_after_ms(unsigned granted_s, double rnd);
/*
 * RFC 5626 §4.5: wait = min(max, base * 2^failures) and a random 50–100 %
 * of it (rnd in [0, 1)); failures >= 1.  Milliseconds.
 */
uint64_t reg_backoff_ms(unsigned base_s, unsigned max_s, unsigned failures,
	    double rnd);
/* The delay of the i-th of n first REGISTERs spread over spread_ms. */
unsigned reg_spread_ms(size_t i, size_t n, unsigned spread_ms);

#endif
