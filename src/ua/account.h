/*
 * Accounts: the identities sipxd acts for, built from the config.  This
 * module owns the set of live accounts and applies a new configuration
 * to it as a diff (added, removed, changed, unchanged), so that a reload
 * never disturbs an account whose settings did not change.
 */
#ifndef SIPX_UA_ACCOUNT_H
#define SIPX_UA_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

/* Same numbers as enum sip_tp_proto. */
enum account_transport {
	ACCOUNT_TRANSPORT_UDP,
	ACCOUNT_TRANSPORT_TCP,
	ACCOUNT_TRANSPORT_TLS,
	ACCOUNT_TRANSPORT_WS,		/* RFC 7118, accounts only */
	ACCOUNT_TRANSPORT_WSS,
};

enum account_incoming {
	ACCOUNT_INCOMING_ANSWER,
	ACCOUNT_INCOMING_RING,
	ACCOUNT_INCOMING_REJECT,
};

/* Registration states as the control protocol names them (DESIGN.md). */
enum reg_state {
	REG_STATE_DISABLED,
	REG_STATE_UNREGISTERED,
	REG_STATE_REGISTERING,
	REG_STATE_REGISTERED,
	REG_STATE_RETRY_WAIT,
	REG_STATE_FAILED,
	REG_STATE_UNREGISTERING,
};

enum account_change {
	ACCOUNT_UNCHANGED,
	ACCOUNT_ADDED,
	ACCOUNT_CHANGED,
};

/* One account's settings, exactly as validated from the config. */
struct account_cfg {
	char			*name;
	char			*display_name;		/* may be NULL */
	char			*aor;
	char			*auth_user;		/* defaulted from aor */
	char			*password;		/* NULL if ha1 */
	char			*ha1;			/* NULL if password */
	char			*registrar;		/* defaulted from aor */
	char			*outbound_proxy;	/* may be NULL */
	enum account_transport	 transport;
	bool			 register_on;
	int			 expires;		/* seconds */
	int			 retry_base;		/* seconds */
	int			 retry_max;
	int			 retry_fatal;
	bool			 outbound;		/* RFC 5626 */
	enum account_incoming	 incoming;
	char			**codecs;
	size_t			 ncodecs;
	/* Calls (call.c).  Seconds unless said. */
	int			 ring_timeout;	/* ring: unanswered → 480 */
	int			 reject_code;	/* reject: 486, 4xx–6xx */
	int			 call_timeout;	/* ours unanswered → CANCEL */
	bool			 late_offer;	/* INVITE without SDP */
	int			 session_expires;	/* RFC 4028, 0: off */
	bool			 follow_redirects;	/* 3xx: try Contact */
	int			 media;		/* enum rtp_mode */
	char			*play_file;	/* media = "play" */
	bool			 refer_accept;	/* REFER: place the call */
	/* Peer health (qualify.c): OPTIONS to the first hop. */
	int			 qualify_interval;	/* s, 0: off */
	int			 qualify_timeout;	/* ms */
	int			 qualify_up;	/* answers in a row: up */
	int			 qualify_down;	/* failures in a row: down */
	int			 inbox;		/* MESSAGEs kept, 0: none */
	/* Subscriptions (subscription.c): the event packages watchers may
	 * subscribe to, bit (1u << enum sub_package); 0: none (489). */
	unsigned		 accept_events;
	int			 line;			/* in the config file */
};

struct reg;
struct qualify_peer;

struct account {
	struct account_cfg	*cfg;
	enum account_change	 change;	/* what the last apply did */
	enum reg_state		 reg_state;	/* set by the reg usage */
	struct reg		*reg;		/* its registration client */
	struct qualify_peer	*qpeer;		/* its probe (qualify.c),
						 * NULL: none */
	struct account		*hnext;		/* the set's name table */
	bool			 kept;		/* during an apply */
};

/*
 * Told of each change an apply makes: removed first, while the set
 * still holds the old accounts (the account is freed after the call:
 * whoever hung state on it takes it off now, and may take a->cfg by
 * setting it NULL); then, with the set consistent again, added and
 * changed (old is the previous config, freed after the call).  Not
 * called at start-up (quiet): the owner of the state walks the set.
 */
struct account_hooks {
	void	(*added)(struct account *, void *arg);
	void	(*changed)(struct account *, const struct account_cfg *old,
		    void *arg);
	void	(*removed)(struct account *, void *arg);
	void	 *arg;
};

struct account_set {
	struct account	**items;	/* config order */
	size_t		  n;
	struct account	**buckets;	/* by name; power of two */
	size_t		  nbuckets;
	struct account	**ubuckets;	/* by aor user part; power of two */
	size_t		  nubuckets;
	struct account_hooks hooks;	/* all NULL: none */
};

struct account_diff {
	size_t	added, removed, changed, unchanged;
};

const char	*reg_state_name(enum reg_state);
const char	*account_transport_name(enum account_transport);
const char	*account_incoming_name(enum account_incoming);
const char	*account_change_name(enum account_change);

void	account_cfg_free(struct account_cfg *);
struct account_cfg *account_cfg_dup(const struct account_cfg *);
bool	account_cfg_equal(const struct account_cfg *,
	    const struct account_cfg *);

void	account_set_init(struct account_set *);
/*
 * Replaces the set's accounts with cfgs[0..n) (taking ownership of every
 * cfg and of the array), keeping the account objects whose name and
 * settings are unchanged, and publishes account.added/removed/changed
 * events unless quiet is set (start-up).
 */
void	account_set_apply(struct account_set *, struct account_cfg **cfgs,
	    size_t n, bool quiet, struct account_diff *out);
void	account_set_hooks(struct account_set *, const struct account_hooks *);
/* By name, in constant time (a hash table). */
struct account *account_set_find(const struct account_set *,
	    const char *name);
/*
 * The account a request's Request-URI user part is for: the first in
 * config order whose aor has it; NULL for none.  Constant time.
 */
struct account *account_set_find_user(const struct account_set *,
	    struct slice user);
/* Counts accounts in state REGISTERED. */
size_t	account_set_registered(const struct account_set *);
/* Counts accounts that should be registered (not disabled). */
size_t	account_set_registrable(const struct account_set *);
void	account_set_clear(struct account_set *);
/* Registers the set as an events snapshot source (account.state). */
void	account_set_publish_snapshots(struct account_set *);

#endif
