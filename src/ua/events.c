/*
 * Event bus (see events.h).  Owns the subscriber list and the sequence
 * counter; it owns none of the state that the events describe, and no
 * wire format (control.c formats the protocol's event lines).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/queue.h"

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "events.h"

struct events_sub {
	TAILQ_ENTRY(events_sub)	 entry;
	unsigned		 kinds;
	char			*account;	/* NULL: all */
	events_deliver_fn	*deliver;
	void			*arg;
};

struct events_source {
	TAILQ_ENTRY(events_source) entry;
	events_snapshot_fn	*fn;
	void			*arg;
};

static TAILQ_HEAD(, events_sub) events_subs =
    TAILQ_HEAD_INITIALIZER(events_subs);
static TAILQ_HEAD(, events_source) events_sources =
    TAILQ_HEAD_INITIALIZER(events_sources);
static uint64_t events_seq;
static size_t events_nsubs;

static const struct {
	const char	*name;
	unsigned	 bit;
} events_kinds[] = {
	{ "daemon", EVENTS_KIND_DAEMON },
	{ "config", EVENTS_KIND_CONFIG },
	{ "account", EVENTS_KIND_ACCOUNT },
	{ "reg", EVENTS_KIND_REG },
	{ "call", EVENTS_KIND_CALL },
	{ "message", EVENTS_KIND_MESSAGE },
	{ "peer", EVENTS_KIND_PEER },
	{ "trace", EVENTS_KIND_TRACE },
	{ "net", EVENTS_KIND_NET },
	{ "subscription", EVENTS_KIND_SUBSCRIPTION },
};

const char *
events_kinds_list(void)
{
	return "daemon, config, account, reg, call, message, subscription, "
	    "peer, net, trace";
}

static unsigned
events_kind_lookup(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(events_kinds) / sizeof(events_kinds[0]);
	    i++)
		if (strlen(events_kinds[i].name) == n &&
		    memcmp(events_kinds[i].name, name, n) == 0)
			return events_kinds[i].bit;
	return 0;
}

int
events_kinds_parse(const char *list, unsigned *mask, const char **bad)
{
	const char *p = list;

	*mask = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = events_kind_lookup(p, n);

		if (bit == 0) {
			*bad = p;
			return -1;
		}
		*mask |= bit;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* The kind of a type is its part before the first '.'. */
static unsigned
events_type_kind(const char *type)
{
	return events_kind_lookup(type, strcspn(type, "."));
}

static bool
events_matches(const struct events_sub *sub, unsigned kind,
    const char *account)
{
	if ((sub->kinds & kind) == 0)
		return false;
	if (sub->account != NULL &&
	    (account == NULL || strcmp(sub->account, account) != 0))
		return false;
	return true;
}

/* The variadic key, value, ..., NULL list as fields. */
static size_t
events_collect(struct events_kv *kv, va_list ap)
{
	const char *key, *value;
	size_t n = 0;

	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (n == EVENTS_KV_MAX)
			fatalx("events: more than %d fields", EVENTS_KV_MAX);
		kv[n].key = key;
		kv[n].value = value != NULL ? value : "";
		n++;
	}
	return n;
}

void
events_publishv(const char *type, const char *account,
    const struct events_kv *kv, size_t n)
{
	struct events_sub *sub, *next;
	unsigned kind = events_type_kind(type);
	struct events_event ev = { type, ++events_seq, 0, account, kv, n,
	    true };

	ev.time = time_real();
	/* A deliver callback may unsubscribe (cut off a slow client). */
	TAILQ_FOREACH_SAFE(sub, &events_subs, entry, next)
		if (events_matches(sub, kind, account))
			sub->deliver(&ev, sub->arg);
}

void
events_publish(const char *type, const char *account, ...)
{
	struct events_kv kv[EVENTS_KV_MAX];
	size_t n;
	va_list ap;

	va_start(ap, account);
	n = events_collect(kv, ap);
	va_end(ap);
	events_publishv(type, account, kv, n);
}

void
events_emit_to(struct events_sub *sub, const char *type, const char *account,
    ...)
{
	struct events_kv kv[EVENTS_KV_MAX];
	struct events_event ev = { type, events_seq, 0, account, kv, 0,
	    false };
	va_list ap;

	if (!events_matches(sub, events_type_kind(type), account))
		return;
	va_start(ap, account);
	ev.nkv = events_collect(kv, ap);
	va_end(ap);
	ev.time = time_real();
	sub->deliver(&ev, sub->arg);
}

void
events_emit_tov(struct events_sub *sub, const char *type,
    const char *account, const struct events_kv *kv, size_t n)
{
	struct events_event ev = { type, events_seq, 0, account, kv, n,
	    false };

	if (!events_matches(sub, events_type_kind(type), account))
		return;
	ev.time = time_real();
	sub->deliver(&ev, sub->arg);
}

void
events_add_snapshot(events_snapshot_fn *fn, void *arg)
{
	struct events_source *src = xcalloc(1, sizeof(*src));

	src->fn = fn;
	src->arg = arg;
	TAILQ_INSERT_TAIL(&events_sources, src, entry);
}

void
events_remove_snapshot(events_snapshot_fn *fn, void *arg)
{
	struct events_source *src;

	TAILQ_FOREACH(src, &events_sources, entry) {
		if (src->fn == fn && src->arg == arg) {
			TAILQ_REMOVE(&events_sources, src, entry);
			free(src);
			return;
		}
	}
}

/* Subscribers per kind bit: asked for every SIP message (trace). */
static size_t events_kind_subs[EVENTS_KIND_BITS];

static void
events_count(unsigned kinds, int delta)
{
	for (unsigned b = 0; b < EVENTS_KIND_BITS; b++)
		if (kinds & (1u << b))
			events_kind_subs[b] += (size_t)delta;
}

struct events_sub *
events_subscribe(unsigned kinds, const char *account,
    events_deliver_fn *deliver, void *arg)
{
	struct events_sub *sub = xcalloc(1, sizeof(*sub));
	struct events_source *src;
	struct events_event sync = { "sync", 0, 0, NULL, NULL, 0, false };

	sub->kinds = kinds;
	sub->account = account != NULL ? xstrdup(account) : NULL;
	sub->deliver = deliver;
	sub->arg = arg;
	TAILQ_FOREACH(src, &events_sources, entry)
		src->fn(sub, src->arg);
	sync.seq = events_seq;
	sync.time = time_real();
	deliver(&sync, arg);
	TAILQ_INSERT_TAIL(&events_subs, sub, entry);
	events_nsubs++;
	events_count(kinds, 1);
	return sub;
}

struct events_sub *
events_subscribe_live(unsigned kinds, const char *account,
    events_deliver_fn *deliver, void *arg)
{
	struct events_sub *sub = xcalloc(1, sizeof(*sub));

	sub->kinds = kinds;
	sub->account = account != NULL ? xstrdup(account) : NULL;
	sub->deliver = deliver;
	sub->arg = arg;
	TAILQ_INSERT_TAIL(&events_subs, sub, entry);
	events_nsubs++;
	events_count(kinds, 1);
	return sub;
}

void
events_unsubscribe(struct events_sub *sub)
{
	if (sub == NULL)
		return;
	TAILQ_REMOVE(&events_subs, sub, entry);
	events_nsubs--;
	events_count(sub->kinds, -1);
	free(sub->account);
	free(sub);
}

bool
events_wanted(unsigned kind)
{
	/* Per SIP message (trace) and per event: only the bits asked. */
	for (unsigned k = kind & ((1u << EVENTS_KIND_BITS) - 1); k != 0;
	    k &= k - 1)
		if (events_kind_subs[__builtin_ctz(k)] > 0)
			return true;
	return false;
}

uint64_t
events_last_seq(void)
{
	return events_seq;
}

size_t
events_subscriber_count(void)
{
	return events_nsubs;
}

void
events_shutdown(void)
{
	struct events_source *src;

	while (!TAILQ_EMPTY(&events_subs))
		events_unsubscribe(TAILQ_FIRST(&events_subs));
	while ((src = TAILQ_FIRST(&events_sources)) != NULL) {
		TAILQ_REMOVE(&events_sources, src, entry);
		free(src);
	}
}
