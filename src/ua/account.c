/*
 * Account set and reload diff (see account.h).  Owns struct account and
 * its config; registration behaviour (issue: registration client) will
 * hang off struct account and react to the diff applied here.  Accounts
 * are found by name through a hash table (chained, at most 1/2 full), so
 * a lookup costs the same at 100,000 accounts as at ten, and a reload's
 * diff is linear in the number of accounts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/slice.h"
#include "base/xalloc.h"
#include "sip/sip_uri.h"
#include "events.h"
#include "account.h"

static const char *const reg_state_names[] = {
	[REG_STATE_DISABLED] = "disabled",
	[REG_STATE_UNREGISTERED] = "unregistered",
	[REG_STATE_REGISTERING] = "registering",
	[REG_STATE_REGISTERED] = "registered",
	[REG_STATE_RETRY_WAIT] = "retry-wait",
	[REG_STATE_FAILED] = "failed",
	[REG_STATE_UNREGISTERING] = "unregistering",
};

const char *
reg_state_name(enum reg_state s)
{
	return reg_state_names[s];
}

const char *
account_transport_name(enum account_transport t)
{
	switch (t) {
	case ACCOUNT_TRANSPORT_UDP: return "udp";
	case ACCOUNT_TRANSPORT_TCP: return "tcp";
	case ACCOUNT_TRANSPORT_TLS: return "tls";
	case ACCOUNT_TRANSPORT_WS: return "ws";
	case ACCOUNT_TRANSPORT_WSS: return "wss";
	}
	return "?";
}

const char *
account_incoming_name(enum account_incoming i)
{
	switch (i) {
	case ACCOUNT_INCOMING_ANSWER: return "answer";
	case ACCOUNT_INCOMING_RING: return "ring";
	case ACCOUNT_INCOMING_REJECT: return "reject";
	}
	return "?";
}

const char *
account_change_name(enum account_change c)
{
	switch (c) {
	case ACCOUNT_UNCHANGED: return "unchanged";
	case ACCOUNT_ADDED: return "added";
	case ACCOUNT_CHANGED: return "changed";
	}
	return "?";
}

void
account_cfg_free(struct account_cfg *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->display_name);
	free(c->aor);
	free(c->auth_user);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	if (c->ha1 != NULL) {
		explicit_bzero(c->ha1, strlen(c->ha1));
		free(c->ha1);
	}
	free(c->registrar);
	free(c->outbound_proxy);
	free(c->play_file);
	for (size_t i = 0; i < c->ncodecs; i++)
		free(c->codecs[i]);
	free(c->codecs);
	free(c);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct account_cfg *
account_cfg_dup(const struct account_cfg *c)
{
	struct account_cfg *d = xmalloc(sizeof(*d));

	*d = *c;
	d->name = xstrdup(c->name);
	d->display_name = dup_or_null(c->display_name);
	d->aor = xstrdup(c->aor);
	d->auth_user = dup_or_null(c->auth_user);
	d->password = dup_or_null(c->password);
	d->ha1 = dup_or_null(c->ha1);
	d->registrar = dup_or_null(c->registrar);
	d->outbound_proxy = dup_or_null(c->outbound_proxy);
	d->play_file = dup_or_null(c->play_file);
	d->codecs = xreallocarray(NULL, c->ncodecs > 0 ? c->ncodecs : 1,
	    sizeof(*d->codecs));
	for (size_t i = 0; i < c->ncodecs; i++)
		d->codecs[i] = xstrdup(c->codecs[i]);
	return d;
}

static bool
str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The config line is where a setting lives, not a setting: ignored. */
bool
account_cfg_equal(const struct account_cfg *a, const struct account_cfg *b)
{
	if (!str_equal(a->name, b->name) ||
	    !str_equal(a->display_name, b->display_name) ||
	    !str_equal(a->aor, b->aor) ||
	    !str_equal(a->auth_user, b->auth_user) ||
	    !str_equal(a->password, b->password) ||
	    !str_equal(a->ha1, b->ha1) ||
	    !str_equal(a->registrar, b->registrar) ||
	    !str_equal(a->outbound_proxy, b->outbound_proxy) ||
	    a->transport != b->transport || a->register_on != b->register_on ||
	    a->outbound != b->outbound ||
	    a->expires != b->expires || a->retry_base != b->retry_base ||
	    a->retry_max != b->retry_max || a->retry_fatal != b->retry_fatal ||
	    a->incoming != b->incoming || a->ncodecs != b->ncodecs ||
	    a->ring_timeout != b->ring_timeout ||
	    a->reject_code != b->reject_code ||
	    a->call_timeout != b->call_timeout ||
	    a->late_offer != b->late_offer ||
	    a->session_expires != b->session_expires ||
	    a->follow_redirects != b->follow_redirects ||
	    a->media != b->media || !str_equal(a->play_file, b->play_file) ||
	    a->refer_accept != b->refer_accept ||
	    a->qualify_interval != b->qualify_interval ||
	    a->qualify_timeout != b->qualify_timeout ||
	    a->qualify_up != b->qualify_up ||
	    a->qualify_down != b->qualify_down ||
	    a->inbox != b->inbox ||
	    a->accept_events != b->accept_events)
		return false;
	for (size_t i = 0; i < a->ncodecs; i++)
		if (strcmp(a->codecs[i], b->codecs[i]) != 0)
			return false;
	return true;
}

void
account_set_init(struct account_set *set)
{
	memset(set, 0, sizeof(*set));
}

static uint64_t
account_fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

static size_t
account_hash(const char *name)
{
	uint64_t h = account_fnv(name, strlen(name));

	return (size_t)(h ^ (h >> 32));
}

/* Builds the name table for the set's items (after every apply). */
static void
account_set_index(struct account_set *set)
{
	size_t nb = 16;

	while (nb < set->n * 2)
		nb *= 2;
	free(set->buckets);
	set->buckets = xcalloc(nb, sizeof(*set->buckets));
	set->nbuckets = nb;
	for (size_t i = 0; i < set->n; i++) {
		struct account *a = set->items[i];
		size_t b = account_hash(a->cfg->name) & (nb - 1);

		a->hnext = set->buckets[b];
		set->buckets[b] = a;
	}
}

/* The user part of an account's aor ({ NULL, 0 } if it has none). */
static struct slice
account_user(const struct account *a, struct sip_uri *u)
{
	const char *why;

	if (sip_uri_parse(u, a->cfg->aor, strlen(a->cfg->aor), &why) != 0)
		return (struct slice){ NULL, 0 };
	return u->user;
}

static size_t
account_user_hash(struct slice s, size_t nb)
{
	return (size_t)account_fnv(s.p, s.n) & (nb - 1);
}

/*
 * The user-part table (open addressing, at most half full): which
 * account a request's Request-URI user is for.  The first account of a
 * user part in config order holds it.
 */
static void
account_set_index_users(struct account_set *set)
{
	size_t nb = 16;

	while (nb < set->n * 2)
		nb *= 2;
	free(set->ubuckets);
	set->ubuckets = xcalloc(nb, sizeof(*set->ubuckets));
	set->nubuckets = nb;
	for (size_t i = 0; i < set->n; i++) {
		struct account *a = set->items[i];
		struct sip_uri u, o;
		struct slice user = account_user(a, &u);
		size_t b;

		if (user.p == NULL)
			continue;
		for (b = account_user_hash(user, nb); set->ubuckets[b] != NULL;
		    b = (b + 1) & (nb - 1))
			if (slice_eq(account_user(set->ubuckets[b], &o), user))
				break;
		if (set->ubuckets[b] == NULL)
			set->ubuckets[b] = a;
	}
}

struct account *
account_set_find_user(const struct account_set *set, struct slice user)
{
	struct sip_uri u;

	if (set->nubuckets == 0)
		return NULL;
	for (size_t b = account_user_hash(user, set->nubuckets);
	    set->ubuckets[b] != NULL; b = (b + 1) & (set->nubuckets - 1))
		if (slice_eq(account_user(set->ubuckets[b], &u), user))
			return set->ubuckets[b];
	return NULL;
}

static void
account_free(struct account *a)
{
	account_cfg_free(a->cfg);
	free(a);
}


static enum reg_state
account_initial_state(const struct account_cfg *cfg)
{
	return cfg->register_on ? REG_STATE_UNREGISTERED : REG_STATE_DISABLED;
}

static void
account_publish(const char *type, const struct account *a)
{
	events_publish(type, a->cfg->name, "aor", a->cfg->aor, NULL);
}

static void
account_publish_state(const struct account *a)
{
	events_publish("account.state", a->cfg->name,
	    "state", reg_state_name(a->reg_state), "aor", a->cfg->aor, NULL);
}

void
account_set_hooks(struct account_set *set, const struct account_hooks *h)
{
	if (h != NULL)
		set->hooks = *h;
	else
		memset(&set->hooks, 0, sizeof(set->hooks));
}

void
account_set_apply(struct account_set *set, struct account_cfg **cfgs,
    size_t n, bool quiet, struct account_diff *out)
{
	const struct account_hooks *h = &set->hooks;
	struct account **items, *hit;
	struct account_cfg **old;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < set->n; i++)
		set->items[i]->kept = false;
	items = xreallocarray(NULL, n, sizeof(*items));
	/* A changed account's previous config, for the hook, then freed. */
	old = xcalloc(n > 0 ? n : 1, sizeof(*old));

	/* Each new account is looked up among the old ones by hash. */
	for (size_t i = 0; i < n; i++) {
		struct account *a;

		hit = account_set_find(set, cfgs[i]->name);
		if (hit == NULL) {
			a = xcalloc(1, sizeof(*a));
			a->cfg = cfgs[i];
			a->change = ACCOUNT_ADDED;
			a->reg_state = account_initial_state(a->cfg);
			out->added++;
		} else {
			a = hit;
			a->kept = true;
			if (account_cfg_equal(a->cfg, cfgs[i])) {
				account_cfg_free(cfgs[i]);
				a->change = ACCOUNT_UNCHANGED;
				out->unchanged++;
			} else {
				old[i] = a->cfg;
				a->cfg = cfgs[i];
				a->change = ACCOUNT_CHANGED;
				out->changed++;
			}
		}
		items[i] = a;
	}
	free(cfgs);

	for (size_t i = 0; i < set->n; i++) {
		struct account *a = set->items[i];

		if (a->kept)
			continue;
		out->removed++;
		if (!quiet)
			account_publish("account.removed", a);
		if (h->removed != NULL)
			h->removed(a, h->arg);
		account_free(a);
	}
	free(set->items);
	set->items = items;
	set->n = n;
	account_set_index(set);
	account_set_index_users(set);

	for (size_t i = 0; i < n; i++) {
		struct account *a = items[i];
		enum reg_state want = account_initial_state(a->cfg);

		if (quiet) {
			/* Start-up: nothing was there before, all is new. */
			a->change = ACCOUNT_UNCHANGED;
			account_cfg_free(old[i]);
			continue;
		}
		if (a->change == ACCOUNT_ADDED) {
			account_publish("account.added", a);
			account_publish_state(a);
			if (h->added != NULL)
				h->added(a, h->arg);
		} else if (a->change == ACCOUNT_CHANGED) {
			account_publish("account.changed", a);
			if (h->changed != NULL) {
				h->changed(a, old[i], h->arg);
			} else if ((a->reg_state == REG_STATE_DISABLED) !=
			    (want == REG_STATE_DISABLED)) {
				/* register on/off flipped */
				a->reg_state = want;
				account_publish_state(a);
			}
			account_cfg_free(old[i]);
		}
	}
	free(old);
}

struct account *
account_set_find(const struct account_set *set, const char *name)
{
	struct account *a;

	if (set->nbuckets == 0)
		return NULL;
	a = set->buckets[account_hash(name) & (set->nbuckets - 1)];
	for (; a != NULL; a = a->hnext)
		if (strcmp(a->cfg->name, name) == 0)
			return a;
	return NULL;
}

size_t
account_set_registered(const struct account_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		if (set->items[i]->reg_state == REG_STATE_REGISTERED)
			n++;
	return n;
}

size_t
account_set_registrable(const struct account_set *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		if (set->items[i]->reg_state != REG_STATE_DISABLED)
			n++;
	return n;
}

void
account_set_clear(struct account_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		account_free(set->items[i]);
	free(set->items);
	free(set->buckets);
	free(set->ubuckets);
	set->items = NULL;
	set->n = 0;
	set->buckets = NULL;
	set->nbuckets = 0;
	set->ubuckets = NULL;
	set->nubuckets = 0;
}

static void
account_snapshot(struct events_sub *sub, void *arg)
{
	const struct account_set *set = arg;

	for (size_t i = 0; i < set->n; i++) {
		const struct account *a = set->items[i];

		events_emit_to(sub, "account.state", a->cfg->name,
		    "state", reg_state_name(a->reg_state),
		    "aor", a->cfg->aor, NULL);
	}
}

void
account_set_publish_snapshots(struct account_set *set)
{
	events_add_snapshot(account_snapshot, set);
}
