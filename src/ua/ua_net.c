/*
 * Address changes applied to the user agent (see ua_net.h).  Owns
 * nothing: it tells the transport and the registration agent, in that
 * order (a REGISTER started here must find the old connections closed
 * and the vanished listeners passed over), then logs and publishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "events.h"
#include "reg.h"
#include "ua_net.h"
#include "ua_priv.h"

/* The first added address of fam, as text, or NULL. */
static const char *
ua_net_new_of(const struct sip_netmon_change *ch, int fam, char *buf,
    size_t len)
{
	for (size_t i = 0; i < ch->nadded; i++)
		if (ch->added[i].addr.ss_family == fam) {
			sip_netmon_addr_str(&ch->added[i], buf, len);
			return buf;
		}
	return NULL;
}

void
ua_net_apply(struct ua *ua, struct reg_agent *reg,
    const struct sip_netmon_change *ch, struct ua_net_stats *st)
{
	char addr[64], moved[24], conns[24], to[64], more[128];
	size_t *nmoved, *nconns, retried = 0;

	st->changes++;
	st->added += ch->nadded;
	st->removed += ch->nremoved;
	nmoved = xcalloc(ch->nremoved + 1, sizeof(*nmoved));
	nconns = xcalloc(ch->nremoved + 1, sizeof(*nconns));
	/* The transport first: what is started below must not use it. */
	for (size_t i = 0; i < ch->nremoved; i++)
		nconns[i] = sip_tp_addr_gone(ua->tp,
		    (const struct sockaddr *)&ch->removed[i].addr, NULL);
	for (size_t i = 0; i < ch->nadded; i++)
		sip_tp_addr_back(ua->tp,
		    (const struct sockaddr *)&ch->added[i].addr);
	/* One address at a time, so that each line says its own count. */
	for (size_t i = 0; reg != NULL && i < ch->nremoved; i++)
		nmoved[i] = reg_agent_net_change(reg, &ch->removed[i].addr, 1,
		    false);
	if (reg != NULL && ch->nadded > 0)
		retried = reg_agent_net_change(reg, NULL, 0, true);

	for (size_t i = 0; i < ch->nremoved; i++) {
		const struct sip_netmon_addr *a = &ch->removed[i];
		const char *nw = ua_net_new_of(ch, a->addr.ss_family, to,
		    sizeof(to));

		st->reregistered += nmoved[i];
		st->conns_closed += nconns[i];
		sip_netmon_addr_str(a, addr, sizeof(addr));
		more[0] = '\0';
		if (nconns[i] > 0)
			snprintf(more, sizeof(more), ", %zu connection%s from "
			    "it closed", nconns[i], nconns[i] == 1 ? "" : "s");
		if (nmoved[i] == 0)
			log_notice("net: address %s removed from %s: no "
			    "registration used it%s", addr, a->ifname, more);
		else if (nw != NULL)
			log_notice("net: address %s removed from %s: %zu "
			    "registration%s move%s to %s%s", addr, a->ifname,
			    nmoved[i], nmoved[i] == 1 ? "" : "s",
			    nmoved[i] == 1 ? "s" : "", nw, more);
		else
			log_notice("net: address %s removed from %s: %zu "
			    "registration%s register%s again from the "
			    "addresses left%s", addr, a->ifname, nmoved[i],
			    nmoved[i] == 1 ? "" : "s",
			    nmoved[i] == 1 ? "s" : "", more);
		snprintf(moved, sizeof(moved), "%zu", nmoved[i]);
		snprintf(conns, sizeof(conns), "%zu", nconns[i]);
		events_publish("net.address", NULL, "change", "removed",
		    "address", addr, "interface", a->ifname,
		    "registrations", moved, "connections", conns, NULL);
	}
	for (size_t i = 0; i < ch->nadded; i++) {
		const struct sip_netmon_addr *a = &ch->added[i];

		sip_netmon_addr_str(a, addr, sizeof(addr));
		log_notice("net: address %s added on %s", addr, a->ifname);
		events_publish("net.address", NULL, "change", "added",
		    "address", addr, "interface", a->ifname, NULL);
	}
	if (retried > 0) {
		st->reregistered += retried;
		log_notice("net: %zu registration%s that had no address to "
		    "use try%s again", retried, retried == 1 ? "" : "s",
		    retried == 1 ? "s" : "");
	}
	free(nmoved);
	free(nconns);
}

size_t
ua_net_listeners_gone(const struct ua *ua)
{
	return sip_tp_listeners_gone(ua->tp);
}
