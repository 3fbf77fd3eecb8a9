/*
 * What an address change of the host means to the user agent.  The
 * daemon hands each settled change from sip_netmon to ua_net_apply():
 * the transport lets go of what used a vanished address (listeners
 * bound to it are passed over until it is back, streams from it are
 * closed), registrations whose Contact used it register again from an
 * address that exists, one line per address is logged and a
 * net.address event published.  Calls are left as they are: their
 * dialogs name the old address, and moving them (a re-INVITE with a
 * new Contact and SDP) is not done.
 */
#ifndef SIPX_UA_UA_NET_H
#define SIPX_UA_UA_NET_H

#include <stdint.h>

#include "sip/sip_netmon.h"

struct ua;
struct reg_agent;

/* Counts since start, for `status`. */
struct ua_net_stats {
	uint64_t	 changes;	/* settled changes applied */
	uint64_t	 added;		/* addresses */
	uint64_t	 removed;
	uint64_t	 reregistered;	/* registrations started again */
	uint64_t	 conns_closed;	/* streams from a vanished one */
};

/* Listeners bound to an address that is gone now. */
size_t	ua_net_listeners_gone(const struct ua *);

/* reg may be NULL (no registrations to move). */
void	ua_net_apply(struct ua *, struct reg_agent *reg,
	    const struct sip_netmon_change *, struct ua_net_stats *);

#endif
