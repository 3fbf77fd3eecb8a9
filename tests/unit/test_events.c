/*
 * Event bus: kind parsing, filters by kind and account, snapshot then
 * sync on subscribe, sequence numbers, the structured event a subscriber
 * gets (type, account, fields, live or snapshot), the control layer's
 * line format with its quoting, and a subscriber that unsubscribes
 * itself while being delivered to.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "daemon/control.h"
#include "ua/events.h"

struct sink {
	struct strbuf		 lines;
	int			 count;
	struct events_sub	*self;
	bool			 leave_on_first;
	int			 live;		/* events with live set */
};

static void
deliver(const struct events_event *ev, void *arg)
{
	struct sink *s = arg;

	/* The bus hands structure; the control layer makes the line. */
	control_event_format(&s->lines, ev);
	s->count++;
	if (ev->live)
		s->live++;
	if (s->leave_on_first && s->self != NULL) {
		events_unsubscribe(s->self);
		s->self = NULL;
	}
}

static void
snapshot(struct events_sub *sub, void *arg)
{
	events_emit_to(sub, "account.state", "alice", "state",
	    "registered", NULL);
	events_emit_to(sub, "account.state", "bob", "state", "disabled",
	    NULL);
	events_emit_to(sub, "daemon.state", NULL, "state", "running", NULL);
}

static void
teardown(void)
{
	events_shutdown();
}

START_TEST(test_kinds_parse)
{
	unsigned mask;
	const char *bad;

	ck_assert_int_eq(events_kinds_parse("daemon", &mask, &bad), 0);
	ck_assert_uint_eq(mask, EVENTS_KIND_DAEMON);
	ck_assert_int_eq(events_kinds_parse("account,reg,call", &mask, &bad),
	    0);
	ck_assert_uint_eq(mask, EVENTS_KIND_ACCOUNT | EVENTS_KIND_REG |
	    EVENTS_KIND_CALL);
	ck_assert_int_eq(events_kinds_parse("account,bogus", &mask, &bad),
	    -1);
	ck_assert_str_eq(bad, "bogus");
	ck_assert_int_eq(events_kinds_parse("", &mask, &bad), -1);
	ck_assert_int_eq(events_kinds_parse("account,", &mask, &bad), -1);
	ck_assert_int_eq(events_kinds_parse("accounts", &mask, &bad), -1);
}
END_TEST

START_TEST(test_snapshot_then_sync)
{
	struct sink s = { STRBUF_INIT, 0, NULL, false, 0 };
	struct events_sub *sub;

	events_add_snapshot(snapshot, NULL);
	sub = events_subscribe(EVENTS_KIND_ALL, NULL, deliver, &s);
	ck_assert_int_eq(s.count, 4);
	ck_assert_ptr_nonnull(strstr(s.lines.p, "EVENT account.state seq="));
	ck_assert_ptr_nonnull(strstr(s.lines.p,
	    "account=alice state=registered\n"));
	ck_assert_ptr_nonnull(strstr(s.lines.p,
	    "account=bob state=disabled\n"));
	/* sync is the last line, after every snapshot line */
	s.lines.p[s.lines.n - 1] = '\0';
	ck_assert_ptr_nonnull(strrchr(s.lines.p, '\n'));
	ck_assert_int_eq(strncmp(strrchr(s.lines.p, '\n') + 1,
	    "EVENT sync seq=", 15), 0);
	ck_assert_uint_eq(events_subscriber_count(), 1);
	events_unsubscribe(sub);
	ck_assert_uint_eq(events_subscriber_count(), 0);
	strbuf_free(&s.lines);
}
END_TEST

START_TEST(test_filters)
{
	struct sink all = { STRBUF_INIT, 0, NULL, false, 0 };
	struct sink acct = { STRBUF_INIT, 0, NULL, false, 0 };
	struct sink alice = { STRBUF_INIT, 0, NULL, false, 0 };
	struct events_sub *a, *b, *c;

	events_add_snapshot(snapshot, NULL);
	a = events_subscribe(EVENTS_KIND_ALL, NULL, deliver, &all);
	b = events_subscribe(EVENTS_KIND_ACCOUNT, NULL, deliver, &acct);
	c = events_subscribe(EVENTS_KIND_ALL, "alice", deliver, &alice);
	/* snapshots were filtered too */
	ck_assert_int_eq(all.count, 4);
	ck_assert_int_eq(acct.count, 3);
	ck_assert_int_eq(alice.count, 2);

	events_publish("account.changed", "bob", "aor", "sip:bob@x", NULL);
	events_publish("daemon.log-level", NULL, "level", "debug", NULL);
	events_publish("account.state", "alice", "state", "registering",
	    NULL);
	ck_assert_int_eq(all.count, 7);
	ck_assert_int_eq(acct.count, 5);
	ck_assert_int_eq(alice.count, 3);
	ck_assert_ptr_null(strstr(alice.lines.p, "account=bob"));
	ck_assert_ptr_null(strstr(acct.lines.p, "daemon.log-level"));
	events_unsubscribe(a);
	events_unsubscribe(b);
	events_unsubscribe(c);
	strbuf_free(&all.lines);
	strbuf_free(&acct.lines);
	strbuf_free(&alice.lines);
}
END_TEST

START_TEST(test_seq_and_quoting)
{
	struct sink s = { STRBUF_INIT, 0, NULL, false, 0 };
	struct events_sub *sub;
	uint64_t before = events_last_seq();
	char want[64];

	sub = events_subscribe(EVENTS_KIND_CONFIG, NULL, deliver, &s);
	events_publish("config.reload-failed", NULL, "file", "/etc/a b.conf",
	    "error", "x:1: \"bad\"", NULL);
	ck_assert_uint_eq(events_last_seq(), before + 1);
	snprintf(want, sizeof(want), "EVENT config.reload-failed seq=%llu ",
	    (unsigned long long)(before + 1));
	ck_assert_ptr_nonnull(strstr(s.lines.p, want));
	ck_assert_ptr_nonnull(strstr(s.lines.p,
	    "file=\"/etc/a b.conf\" error=\"x:1: \\\"bad\\\"\"\n"));
	/* unmatched events still advance seq: gaps show filtered events */
	events_publish("daemon.state", NULL, "state", "running", NULL);
	ck_assert_uint_eq(events_last_seq(), before + 2);
	events_unsubscribe(sub);
	strbuf_free(&s.lines);
}
END_TEST

struct capture {
	char	 type[32];
	char	 account[16];
	bool	 has_account;
	size_t	 nkv;
	char	 kv[4][2][32];
	uint64_t seq;
	bool	 live;
};

static void
capture(const struct events_event *ev, void *arg)
{
	struct capture *c = arg;

	snprintf(c->type, sizeof(c->type), "%s", ev->type);
	c->has_account = ev->account != NULL;
	snprintf(c->account, sizeof(c->account), "%s",
	    ev->account != NULL ? ev->account : "");
	c->nkv = ev->nkv;
	for (size_t i = 0; i < ev->nkv && i < 4; i++) {
		snprintf(c->kv[i][0], sizeof(c->kv[i][0]), "%s",
		    ev->kv[i].key);
		snprintf(c->kv[i][1], sizeof(c->kv[i][1]), "%s",
		    ev->kv[i].value);
	}
	c->seq = ev->seq;
	c->live = ev->live;
}

/* The bus carries (type, account, fields) and no wire format. */
START_TEST(test_structured)
{
	struct capture c;
	struct events_sub *sub;
	struct events_kv kv[2] = { { "state", "registered" },
	    { "aor", "sip:a b@x" } };

	memset(&c, 0, sizeof(c));
	sub = events_subscribe(EVENTS_KIND_ALL, NULL, capture, &c);
	ck_assert_str_eq(c.type, "sync");
	ck_assert(!c.live);
	events_publish("account.state", "alice", "state", "registered",
	    "aor", NULL, NULL);
	ck_assert_str_eq(c.type, "account.state");
	ck_assert(c.has_account);
	ck_assert_str_eq(c.account, "alice");
	ck_assert_uint_eq(c.nkv, 2);
	ck_assert_str_eq(c.kv[0][0], "state");
	ck_assert_str_eq(c.kv[0][1], "registered");
	ck_assert_str_eq(c.kv[1][0], "aor");
	ck_assert_str_eq(c.kv[1][1], "");	/* NULL value: empty */
	ck_assert_uint_eq(c.seq, events_last_seq());
	ck_assert(c.live);
	events_publishv("daemon.state", NULL, kv, 2);
	ck_assert(!c.has_account);
	ck_assert_str_eq(c.kv[1][1], "sip:a b@x");	/* not quoted */
	events_unsubscribe(sub);
}
END_TEST

/* Snapshot lines are not live (no output limit applies to them). */
START_TEST(test_snapshot_not_live)
{
	struct sink s = { STRBUF_INIT, 0, NULL, false, 0 };
	struct events_sub *sub;

	events_add_snapshot(snapshot, NULL);
	sub = events_subscribe(EVENTS_KIND_ALL, NULL, deliver, &s);
	ck_assert_int_eq(s.count, 4);
	ck_assert_int_eq(s.live, 0);
	events_publish("daemon.state", NULL, "state", "stopping", NULL);
	ck_assert_int_eq(s.count, 5);
	ck_assert_int_eq(s.live, 1);
	events_unsubscribe(sub);
	strbuf_free(&s.lines);
}
END_TEST

START_TEST(test_unsubscribe_during_delivery)
{
	struct sink leaver = { STRBUF_INIT, 0, NULL, true, 0 };
	struct sink stayer = { STRBUF_INIT, 0, NULL, false, 0 };
	struct events_sub *st;

	leaver.self = events_subscribe(EVENTS_KIND_ALL, NULL, deliver,
	    &leaver);
	leaver.count = 0;
	st = events_subscribe(EVENTS_KIND_ALL, NULL, deliver, &stayer);
	stayer.count = 0;
	events_publish("daemon.state", NULL, "state", "running", NULL);
	events_publish("daemon.state", NULL, "state", "stopping", NULL);
	ck_assert_int_eq(leaver.count, 1);
	ck_assert_int_eq(stayer.count, 2);
	ck_assert_uint_eq(events_subscriber_count(), 1);
	events_unsubscribe(st);
	strbuf_free(&leaver.lines);
	strbuf_free(&stayer.lines);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("bus");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_kinds_parse);
	tcase_add_test(tc, test_snapshot_then_sync);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_seq_and_quoting);
	tcase_add_test(tc, test_unsubscribe_during_delivery);
	tcase_add_test(tc, test_structured);
	tcase_add_test(tc, test_snapshot_not_live);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
