/*
 * Registration commands: `accounts` and `account NAME` show what each
 * account's registration client knows, with its peer health, `peers`
 * the probe targets themselves (all three on the read-only socket too),
 * and
 * `register`, `unregister`, `enable`, `disable` act on one account
 * (full access only: they send REGISTERs).  The actions answer at once;
 * what follows comes as account.state events.  Each handler translates
 * between protocol arguments and the reg usage (ua/reg.h); none holds
 * state, and none knows how a registration works.
 *
 * Every value the client has not got yet (no target before the first
 * try, no binding, no answer) reads "-", so a table never has a hole and
 * a script tests one token.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "ua/qualify.h"
#include "ua/reg.h"
#include "ua/subscription.h"
#include "cmd_reg.h"
#include "daemon.h"

#define ABSENT	"-"

static void
kv_str(struct cmd_reply *r, const char *key, const char *v)
{
	cmd_record_kv(r, key, v != NULL && v[0] != '\0' ? v : ABSENT);
}

/* Seconds from now; negative: nothing scheduled. */
static void
kv_secs(struct cmd_reply *r, const char *key, int64_t v)
{
	if (v < 0)
		cmd_record_kv(r, key, ABSENT);
	else
		cmd_record_kvf(r, key, "%lld", (long long)v);
}

/* A count or code where 0 means none (no answer, nothing granted). */
static void
kv_nonzero(struct cmd_reply *r, const char *key, unsigned v)
{
	if (v == 0)
		cmd_record_kv(r, key, ABSENT);
	else
		cmd_record_kvf(r, key, "%u", v);
}

static void
kv_bool(struct cmd_reply *r, const char *key, bool v)
{
	cmd_record_kv(r, key, v ? "yes" : "no");
}

/*
 * The next REGISTER of any kind: an operator asking "when does it try
 * again" does not care whether the client calls it a refresh or a retry.
 */
static int64_t
next_register_in(const struct reg_info *ri)
{
	if (ri->next_try_in < 0)
		return ri->refresh_in;
	if (ri->refresh_in >= 0 && ri->refresh_in < ri->next_try_in)
		return ri->refresh_in;
	return ri->next_try_in;
}

static const char *
attempt_reason(const struct reg_attempt *at)
{
	if (at->reason[0] != '\0')
		return at->reason;
	if (at->status == 0 && at->err != 0)
		return strerror(at->err);
	return "";
}

/* The account's peer health: qualify=STATE rtt_ms=MS, "-" when off. */
static void
kv_qualify(struct cmd_reply *r, const struct account *a)
{
	struct qualify_info qi;

	if (!qualify_info_of(daemon_qualify(), a, &qi)) {
		cmd_record_kv(r, "qualify", ABSENT);
		cmd_record_kv(r, "rtt_ms", ABSENT);
		return;
	}
	cmd_record_kv(r, "qualify", qualify_state_name(qi.state));
	if (qi.state == QUALIFY_REACHABLE && qi.rtt_ms >= 0)
		cmd_record_kvf(r, "rtt_ms", "%.1f", qi.rtt_ms);
	else
		cmd_record_kv(r, "rtt_ms", ABSENT);
}

void
cmd_accounts(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	const struct account_set *set = daemon_accounts();
	struct reg_agent *ag = daemon_reg();
	struct reg_info ri;

	for (size_t i = 0; i < set->n; i++) {
		const struct account *a = set->items[i];

		reg_info_get(ag, a, &ri);
		cmd_record_begin(r);
		cmd_record_kv(r, "name", a->cfg->name);
		cmd_record_kv(r, "aor", a->cfg->aor);
		cmd_record_kv(r, "state", reg_state_name(ri.state));
		kv_str(r, "target", ri.target);
		kv_secs(r, "expires", ri.expires_in);
		kv_nonzero(r, "code", ri.last_status);
		kv_str(r, "reason", ri.last_reason);
		cmd_record_kvf(r, "failures", "%u", ri.failures);
		kv_secs(r, "next_try", next_register_in(&ri));
		kv_bool(r, "register", a->cfg->register_on);
		cmd_record_kv(r, "transport",
		    account_transport_name(a->cfg->transport));
		cmd_record_kv(r, "registrar", a->cfg->registrar);
		kv_qualify(r, a);
		cmd_record_kv(r, "change", account_change_name(a->change));
		cmd_record_end(r);
	}
}

/* One record per contact the registrar listed in its last 2xx. */
static void
account_bindings(struct cmd_reply *r, const char *contacts)
{
	const char *p = contacts;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, "\n");

		if (n > 0) {
			char *one = xstrndup(p, n);

			cmd_record_begin(r);
			cmd_record_kv(r, "binding", one);
			cmd_record_end(r);
			free(one);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

static void
account_attempts(struct cmd_reply *r, const struct reg_info *ri)
{
	size_t n = ri->nattempts < REG_HISTORY ? ri->nattempts : REG_HISTORY;

	for (size_t i = 0; i < n; i++) {
		const struct reg_attempt *at = &ri->attempts[i];

		cmd_record_begin(r);
		cmd_record_kvf(r, "attempt", "%zu", i + 1);
		cmd_record_kvf(r, "time", "%.0f", at->time);
		cmd_record_kvf(r, "expires", "%u", at->expires);
		kv_nonzero(r, "code", at->status);
		kv_str(r, "reason", attempt_reason(at));
		kv_str(r, "target", at->target);
		cmd_record_end(r);
	}
}

/*
 * RFC 3842: the voice-message counts of the account's latest message
 * summary (its message-summary subscriptions'), "-" before any.
 */
static void
account_mwi(struct cmd_reply *r, const char *name)
{
	const struct sip_mwi_counts *v;
	struct sip_mwi m;
	double when;

	if (daemon_subs() == NULL ||
	    sub_mwi_get(daemon_subs(), name, &m, &when) != 0) {
		cmd_record_kv(r, "mwi", ABSENT);
		cmd_record_kv(r, "mwi_new", ABSENT);
		cmd_record_kv(r, "mwi_old", ABSENT);
		cmd_record_kv(r, "mwi_urgent_new", ABSENT);
		cmd_record_kv(r, "mwi_urgent_old", ABSENT);
		return;
	}
	v = &m.cls[SIP_MWI_VOICE];
	kv_bool(r, "mwi", m.waiting);
	cmd_record_kvf(r, "mwi_new", "%u", v->new_msgs);
	cmd_record_kvf(r, "mwi_old", "%u", v->old_msgs);
	cmd_record_kvf(r, "mwi_urgent_new", "%u", v->new_urgent);
	cmd_record_kvf(r, "mwi_urgent_old", "%u", v->old_urgent);
}

void
cmd_account(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	const struct account *a = account_set_find(daemon_accounts(),
	    argv[1]);
	const struct account_cfg *c;
	struct reg_info ri;

	if (a == NULL) {
		cmd_reply_err(r, "not-found", "no account '%.64s'", argv[1]);
		return;
	}
	c = a->cfg;
	reg_info_get(daemon_reg(), a, &ri);
	cmd_record_begin(r);
	cmd_record_kv(r, "name", c->name);
	cmd_record_kv(r, "aor", c->aor);
	cmd_record_kv(r, "state", reg_state_name(ri.state));
	cmd_record_kv(r, "registrar", c->registrar);
	kv_str(r, "target", ri.target);
	cmd_record_kv(r, "transport", account_transport_name(c->transport));
	kv_str(r, "call_id", ri.call_id);
	kv_nonzero(r, "cseq", ri.cseq);
	kv_secs(r, "expires", ri.expires_in);
	kv_nonzero(r, "granted", ri.granted);
	kv_nonzero(r, "asked", ri.asked);
	kv_secs(r, "refresh_in", ri.refresh_in);
	kv_secs(r, "next_try", next_register_in(&ri));
	kv_nonzero(r, "code", ri.last_status);
	kv_str(r, "reason", ri.last_reason);
	cmd_record_kvf(r, "failures", "%u", ri.failures);
	kv_str(r, "contact", ri.contact);
	kv_str(r, "public_addr", ri.public_addr);
	kv_str(r, "service_route", ri.service_route);
	kv_str(r, "path", ri.path);
	kv_str(r, "auth_realm", ri.auth_realm);
	kv_str(r, "auth_alg", ri.auth_alg);
	kv_bool(r, "outbound", c->outbound);
	kv_bool(r, "register", c->register_on);
	kv_qualify(r, a);
	{
		struct qualify_info qi;
		bool on = qualify_info_of(daemon_qualify(), a, &qi);

		kv_str(r, "qualify_peer", on ? qi.uri : NULL);
		kv_str(r, "qualify_target", on ? qi.target : NULL);
	}
	cmd_record_kv(r, "change", account_change_name(a->change));
	account_mwi(r, c->name);
	cmd_record_end(r);
	account_bindings(r, ri.contacts);
	account_attempts(r, &ri);
}

static const struct reg_action {
	const char	*cmd;
	const char	*doing;		/* the OK text when it starts */
	int		(*fn)(struct reg_agent *, struct account *);
} reg_actions[] = {
	{ "register", "registering", reg_register_now },
	{ "unregister", "unregistering", reg_unregister },
	{ "enable", "enabling", reg_enable },
	{ "disable", "disabling", reg_disable },
};

static const struct reg_action *
reg_action_find(const char *cmd)
{
	for (size_t i = 0; i < sizeof(reg_actions) / sizeof(reg_actions[0]);
	    i++)
		if (strcmp(reg_actions[i].cmd, cmd) == 0)
			return &reg_actions[i];
	return NULL;
}

void
cmd_reg_result(struct cmd_reply *r, const char *cmd, const char *name,
    const char *state, int err)
{
	const struct reg_action *act = reg_action_find(cmd);

	switch (err) {
	case 0:
		cmd_reply_ok(r, "%s %s", act != NULL ? act->doing : cmd, name);
		break;
	case EALREADY:
		/* Asking twice is not an error: the goal is reached. */
		if (strcmp(cmd, "register") == 0)
			cmd_reply_ok(r, "nothing to do: a REGISTER for %s is "
			    "on its way", name);
		else
			cmd_reply_ok(r, "nothing to do: %s is %s", name,
			    state);
		break;
	case EPERM:
		cmd_reply_err(r, "failed", "account '%s' has register = false "
		    "in the config; set it to true and reload", name);
		break;
	case ESHUTDOWN:
		cmd_reply_err(r, "failed", "sipxd is stopping");
		break;
	default:
		cmd_reply_err(r, "failed", "%s %s: %s", cmd, name,
		    strerror(err));
		break;
	}
}

void
cmd_reg_action(struct cmd_ctx *ctx, int argc, char **argv,
    struct cmd_reply *r)
{
	const struct reg_action *act = reg_action_find(argv[0]);
	struct account *a = account_set_find(daemon_accounts(), argv[1]);
	int err;

	if (a == NULL) {
		cmd_reply_err(r, "not-found", "no account '%.64s'", argv[1]);
		return;
	}
	if (act == NULL) {
		/* A table entry without its action: a programming error. */
		cmd_reply_err(r, "failed", "'%s' has no action", argv[0]);
		return;
	}
	err = act->fn(daemon_reg(), a);
	cmd_reg_result(r, act->cmd, a->cfg->name, reg_state_name(a->reg_state),
	    err);
}

void
cmd_peers(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	const struct qualify *q = daemon_qualify();
	double now = time_real();
	struct qualify_info qi;

	for (size_t i = 0; i < qualify_count(q); i++) {
		qualify_info_at(q, i, &qi);
		cmd_record_begin(r);
		cmd_record_kv(r, "uri", qi.uri);
		cmd_record_kv(r, "transport", qi.transport);
		cmd_record_kv(r, "state", qualify_state_name(qi.state));
		kv_str(r, "target", qi.target);
		if (qi.rtt_ms >= 0)
			cmd_record_kvf(r, "rtt_ms", "%.1f", qi.rtt_ms);
		else
			cmd_record_kv(r, "rtt_ms", ABSENT);
		kv_nonzero(r, "code", qi.last_status);
		kv_str(r, "error", qi.last_error);
		cmd_record_kvf(r, "failures", "%u", qi.failures);
		cmd_record_kvf(r, "accounts", "%zu", qi.accounts);
		if (qi.changed > 0) {
			cmd_record_kvf(r, "changed", "%.0f", qi.changed);
			cmd_record_kvf(r, "since", "%.0f", now > qi.changed ?
			    now - qi.changed : 0.0);
		} else {
			cmd_record_kv(r, "changed", ABSENT);
			cmd_record_kv(r, "since", ABSENT);
		}
		cmd_record_kvf(r, "probes", "%llu",
		    (unsigned long long)qi.probes);
		cmd_record_kvf(r, "lost", "%llu", (unsigned long long)qi.lost);
		cmd_record_kvf(r, "interval", "%u", qi.interval_s);
		cmd_record_kvf(r, "timeout", "%u", qi.timeout_ms);
		cmd_record_kvf(r, "up", "%u", qi.up);
		cmd_record_kvf(r, "down", "%u", qi.down);
		cmd_record_end(r);
	}
}
