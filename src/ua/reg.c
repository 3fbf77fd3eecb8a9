/*
 * The registration usage (see reg.h).  CONTRACT STUB: the arithmetic is
 * real, the client is being written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "reg.h"
#include "ua_priv.h"

struct reg_agent {
	struct ua		*ua;
	struct account_set	*set;
	struct reg_conf		 conf;
	reg_change_fn		*change;
	void			*change_arg;
};

unsigned
reg_refresh_after_ms(unsigned granted_s, double rnd)
{
	uint64_t g = (uint64_t)granted_s * 1000, at, latest;

	/* 80 to 90 % of the interval. */
	at = g * 8 / 10 + (uint64_t)((double)(g / 10) * rnd);
	latest = g > 10000 ? g - 5000 : g / 2;
	if (at > latest)
		at = latest;
	if (at < g / 2)
		at = g / 2;
	return (unsigned)at;
}

uint64_t
reg_backoff_ms(unsigned base_s, unsigned max_s, unsigned failures,
    double rnd)
{
	uint64_t wait = (uint64_t)base_s * 1000, max = (uint64_t)max_s * 1000;

	for (unsigned i = 0; i < failures && wait < max; i++)
		wait *= 2;
	if (wait > max)
		wait = max;
	/* A random 50 to 100 %: clients that failed together spread out. */
	return wait / 2 + (uint64_t)((double)(wait / 2) * rnd);
}

unsigned
reg_spread_ms(size_t i, size_t n, unsigned spread_ms)
{
	if (n <= 1)
		return 0;
	return (unsigned)((uint64_t)spread_ms * i / n);
}

struct reg_agent *
reg_agent_new(struct ua *ua, struct account_set *set,
    const struct reg_conf *conf, reg_change_fn *change, void *arg)
{
	struct reg_agent *ag = xcalloc(1, sizeof(*ag));

	ag->ua = ua;
	ag->set = set;
	ag->conf = *conf;
	ag->change = change;
	ag->change_arg = arg;
	return ag;
}

void
reg_agent_start(struct reg_agent *ag)
{
}

void
reg_agent_set_conf(struct reg_agent *ag, const struct reg_conf *conf)
{
	ag->conf = *conf;
}

void
reg_agent_stop(struct reg_agent *ag, void (*done)(void *), void *arg)
{
	done(arg);
}

void
reg_agent_free(struct reg_agent *ag)
{
	free(ag);
}

void
reg_info_get(const struct reg_agent *ag, const struct account *a,
    struct reg_info *info)
{
	memset(info, 0, sizeof(*info));
	info->state = a->reg_state;
	info->target = info->call_id = info->last_reason = "";
	info->contact = info->public_addr = info->contacts = "";
	info->service_route = info->path = "";
	info->auth_realm = info->auth_alg = "";
	info->expires_in = info->refresh_in = info->next_try_in = -1;
}

int
reg_register_now(struct reg_agent *ag, struct account *a)
{
	return ENOSYS;
}

int
reg_unregister(struct reg_agent *ag, struct account *a)
{
	return ENOSYS;
}

int
reg_disable(struct reg_agent *ag, struct account *a)
{
	return ENOSYS;
}

int
reg_enable(struct reg_agent *ag, struct account *a)
{
	return ENOSYS;
}

void
reg_count_states(const struct reg_agent *ag, size_t counts[])
{
	for (size_t i = 0; i < ag->set->n; i++)
		counts[ag->set->items[i]->reg_state]++;
}
