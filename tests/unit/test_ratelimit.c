/*
 * The log rate limiter: a burst per interval, the count of refused
 * events handed to the next allowed one, a new interval after the old
 * one ends; and log_limited() on top of it writing the "suppressed"
 * note.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/ratelimit.h"

START_TEST(test_burst_then_quiet)
{
	struct ratelimit rl = RATELIMIT_INIT(1000, 3);
	uint64_t sup = 99;
	int allowed = 0;

	/* 1,000 events in the first 0.9 s: 3 pass. */
	for (uint64_t t = 0; t < 1000; t++)
		if (ratelimit_allow(&rl, 5000000 + t * 900, &sup))
			allowed++;
	ck_assert_int_eq(allowed, 3);
	ck_assert_uint_eq(sup, 0);
	/* The next interval: the first one hears of the 997 refused. */
	ck_assert(ratelimit_allow(&rl, 5000000 + 1000000, &sup));
	ck_assert_uint_eq(sup, 997);
	ck_assert(ratelimit_allow(&rl, 5000000 + 1000001, &sup));
	ck_assert_uint_eq(sup, 0);
}
END_TEST

START_TEST(test_clock_at_zero_and_backwards)
{
	struct ratelimit rl = RATELIMIT_INIT(1000, 1);
	uint64_t sup;

	/* A clock reading 0 is a time like any other. */
	ck_assert(ratelimit_allow(&rl, 0, &sup));
	ck_assert(!ratelimit_allow(&rl, 999999, &sup));
	ck_assert(ratelimit_allow(&rl, 5000000, &sup));
	ck_assert_uint_eq(sup, 1);
	/* A clock that went back starts a new interval, never a stall. */
	ck_assert(ratelimit_allow(&rl, 4000000, NULL));
	ck_assert(!ratelimit_allow(&rl, 4000001, &sup));
	ck_assert(ratelimit_allow(&rl, 5000000, &sup));
	ck_assert_uint_eq(sup, 1);
}
END_TEST

/* log_limited() writes to stderr: capture it through a pipe. */
START_TEST(test_log_limited_note)
{
	struct ratelimit rl = RATELIMIT_INIT(60000, 2);
	char buf[8192];
	int p[2], saved;
	ssize_t n;
	size_t lines = 0;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(2);
	dup2(p[1], 2);
	log_set_level(LOG_LEVEL_INFO);
	for (int i = 0; i < 50; i++)
		log_limited(&rl, LOG_LEVEL_WARNING, "peer %d misbehaved", i);
	/* Below the level: neither logged nor counted. */
	log_limited(&rl, LOG_LEVEL_DEBUG, "quiet");
	rl.start_us -= 61000000;	/* the interval is over */
	log_limited(&rl, LOG_LEVEL_WARNING, "peer %d misbehaved", 50);
	fflush(stderr);
	dup2(saved, 2);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (char *q = buf; (q = strchr(q, '\n')) != NULL; q++)
		lines++;
	ck_assert_uint_eq(lines, 3);
	ck_assert_ptr_nonnull(strstr(buf, "peer 0 misbehaved"));
	ck_assert_ptr_nonnull(strstr(buf, "peer 1 misbehaved"));
	ck_assert_ptr_null(strstr(buf, "peer 2 "));
	ck_assert_ptr_nonnull(strstr(buf,
	    "peer 50 misbehaved (suppressed 48 similar messages)"));
	close(p[0]);
	close(saved);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_burst_then_quiet);
	tcase_add_test(tc, test_clock_at_zero_and_backwards);
	tcase_add_test(tc, test_log_limited_note);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
