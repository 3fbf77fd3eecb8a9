/*
 * Command table dispatch: unknown commands, the central arity check, the
 * read-only check, handler arguments, help generated from the table, the
 * reply builder's framing rules, and the control client's state names.
 * Then the daemon's own table for the registration commands: their
 * access and arity, unknown accounts, and how the reg usage's errno
 * values become replies.  The daemon's wiring (sipxd.c) is stubbed below
 * so that the real table links, and the call usage is the fake of
 * call_fake.c (test_cmd_call.c tests the call commands); no handler here
 * reaches the reg usage.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cmd.h"
#include "daemon/cmd_reg.h"
#include "daemon/cmd_sys.h"
#include "daemon/control.h"
#include "daemon/daemon.h"

/* ---- the daemon's wiring, stubbed: no accounts, nothing running ---- */

static struct account_set stub_accounts;

const char *
daemon_state_name(enum daemon_state s)
{
	return "running";
}

enum daemon_state
daemon_state(void)
{
	return DAEMON_RUNNING;
}

const struct sipxd_config *
daemon_config(void)
{
	return NULL;
}

const struct account_set *
daemon_accounts(void)
{
	return &stub_accounts;
}

uint64_t
daemon_uptime_ms(void)
{
	return 0;
}

size_t
daemon_control_clients(void)
{
	return 0;
}

struct ua *
daemon_ua(void)
{
	return NULL;
}

struct reg_agent *
daemon_reg(void)
{
	return NULL;
}

struct qualify *
daemon_qualify(void)
{
	return NULL;
}

struct rtp_engine *
daemon_rtp(void)
{
	return NULL;
}

struct sub_agent *
daemon_subs(void)
{
	return NULL;
}

struct call_agent *
daemon_calls(void)
{
	return NULL;
}

/* The MESSAGE and request commands are not run here. */
struct request_agent *
daemon_requests(void)
{
	return NULL;
}

struct message_agent *
daemon_messages(void)
{
	return NULL;
}

void
daemon_set_log_level(enum log_level l)
{
}

void
daemon_net_info(struct daemon_net_info *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->state = "off";
}

int
daemon_reload(struct config_msgs *msgs, struct account_diff *diff)
{
	return EBUSY;
}

static int calls;
static int last_argc;
static char last_arg1[64];

static void
h_echo(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	calls++;
	last_argc = argc;
	snprintf(last_arg1, sizeof(last_arg1), "%s", argc > 1 ? argv[1] : "");
	cmd_record_begin(r);
	cmd_record_kv(r, "argc", argc == 1 ? "1" : "more");
	cmd_record_kv(r, "first", argc > 1 ? argv[1] : "");
	cmd_record_end(r);
}

static void
h_fail(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	calls++;
	cmd_reply_err(r, "failed", "line one\nline two");
}

static const struct cmd_entry entries[] = {
	{ "echo", 0, 1, CMD_READ, "[WORD]", "echo a word", h_echo },
	{ "many", 1, -1, CMD_READ, "WORD...", "at least one word", h_echo },
	{ "write", 0, 0, CMD_WRITE, "", "changes state", h_echo },
	{ "fail", 0, 0, CMD_READ, "", "always fails", h_fail },
};
static const struct cmd_table table = { entries, 4 };

static void
vrun(const struct cmd_table *t, bool readonly, struct cmd_reply *r,
    int argc, va_list ap)
{
	char *argv[16];
	struct cmd_ctx ctx = { readonly, NULL, NULL };

	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	argv[argc] = NULL;
	cmd_reply_reset(r);
	cmd_dispatch(t, &ctx, argc, argv, r);
}

static void
run(bool readonly, struct cmd_reply *r, int argc, ...)
{
	va_list ap;

	va_start(ap, argc);
	vrun(&table, readonly, r, argc, ap);
	va_end(ap);
}

/* The same through the daemon's table. */
static void
run_sys(bool readonly, struct cmd_reply *r, int argc, ...)
{
	va_list ap;

	va_start(ap, argc);
	vrun(&cmd_sys_table, readonly, r, argc, ap);
	va_end(ap);
}

static struct cmd_reply r;

static void
setup(void)
{
	calls = 0;
	cmd_reply_init(&r);
}

static void
teardown(void)
{
	cmd_reply_free(&r);
}

START_TEST(test_unknown)
{
	run(false, &r, 1, "frobnicate");
	ck_assert(!r.ok);
	ck_assert_int_eq(calls, 0);
	ck_assert_str_eq(r.status.p, "ERR unknown-command 'frobnicate' is "
	    "not a command; 'help' lists them");
	/* names are case-sensitive */
	run(false, &r, 1, "ECHO");
	ck_assert(!r.ok);
	ck_assert_int_eq(calls, 0);
}
END_TEST

START_TEST(test_arity)
{
	run(false, &r, 3, "echo", "a", "b");
	ck_assert(!r.ok);
	ck_assert_int_eq(calls, 0);
	ck_assert_str_eq(r.status.p, "ERR usage echo [WORD]");
	run(false, &r, 1, "many");
	ck_assert_str_eq(r.status.p, "ERR usage many WORD...");
	ck_assert_int_eq(calls, 0);
	run(false, &r, 6, "many", "1", "2", "3", "4", "5");
	ck_assert(r.ok);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(last_argc, 6);
}
END_TEST

START_TEST(test_handler_args_and_record)
{
	run(false, &r, 2, "echo", "hello world");
	ck_assert(r.ok);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(last_arg1, "hello world");
	ck_assert_str_eq(r.status.p, "OK");
	ck_assert_str_eq(r.data.p, "argc=more first=\"hello world\"\n");
}
END_TEST

START_TEST(test_readonly)
{
	run(true, &r, 1, "write");
	ck_assert(!r.ok);
	ck_assert_int_eq(calls, 0);
	ck_assert_ptr_nonnull(strstr(r.status.p, "ERR denied"));
	run(true, &r, 1, "echo");
	ck_assert(r.ok);
	run(false, &r, 1, "write");
	ck_assert(r.ok);
	ck_assert_int_eq(calls, 2);
}
END_TEST

/* The state names the debug log shows for each transition. */
START_TEST(test_state_names)
{
	ck_assert_str_eq(control_client_state_name(CONTROL_CLIENT_OPEN),
	    "open");
	ck_assert_str_eq(control_client_state_name(CONTROL_CLIENT_PAUSED),
	    "paused");
	ck_assert_str_eq(control_client_state_name(CONTROL_CLIENT_DRAINING),
	    "draining");
	ck_assert_str_eq(control_client_state_name(CONTROL_CLIENT_CLOSED),
	    "closed");
}
END_TEST

START_TEST(test_status_one_line)
{
	run(false, &r, 1, "fail");
	ck_assert(!r.ok);
	ck_assert_str_eq(r.status.p, "ERR failed line one line two");
}
END_TEST

START_TEST(test_help_all)
{
	cmd_help(&table, NULL, &r);
	ck_assert(r.ok);
	ck_assert_str_eq(r.data.p,
	    "command=echo usage=\"echo [WORD]\" access=read "
	    "summary=\"echo a word\"\n"
	    "command=many usage=\"many WORD...\" access=read "
	    "summary=\"at least one word\"\n"
	    "command=write usage=write access=write "
	    "summary=\"changes state\"\n"
	    "command=fail usage=fail access=read summary=\"always fails\"\n");
}
END_TEST

START_TEST(test_help_one)
{
	cmd_help(&table, "write", &r);
	ck_assert_str_eq(r.data.p, "command=write usage=write access=write "
	    "summary=\"changes state\"\n");
	cmd_reply_reset(&r);
	cmd_help(&table, "nope", &r);
	ck_assert(!r.ok);
	ck_assert_ptr_nonnull(strstr(r.status.p, "ERR not-found"));
	ck_assert_uint_eq(r.data.n, 0);
}
END_TEST

START_TEST(test_reset_reuses)
{
	run(false, &r, 2, "echo", "x");
	ck_assert_uint_gt(r.data.n, 0);
	run(false, &r, 1, "fail");
	ck_assert_uint_eq(r.data.n, 0);
	run(false, &r, 1, "echo");
	ck_assert(r.ok);
	ck_assert_str_eq(r.data.p, "argc=1 first=\"\"\n");
}
END_TEST

/* ---- the registration commands in the daemon's table ---- */

static const char *const reg_actions[] = {
	"register", "unregister", "enable", "disable",
};

START_TEST(test_number_parsers)
{
	static const struct { const char *s; int rc; uint64_t v; } ids[] = {
		{ "1", 0, 1 }, { "42", 0, 42 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", EINVAL, 0 }, { "0", EINVAL, 0 },
		{ "", EINVAL, 0 }, { "-1", EINVAL, 0 }, { "+1", EINVAL, 0 },
		{ "1x", EINVAL, 0 }, { " 1", EINVAL, 0 },
	};
	uint64_t id;
	unsigned u;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		id = 0;
		ck_assert_int_eq(cmd_id_parse(ids[i].s, &id), ids[i].rc);
		if (ids[i].rc == 0)
			ck_assert_uint_eq(id, ids[i].v);
	}
	ck_assert_int_eq(cmd_uint_parse("30", 1, 30, &u), 0);
	ck_assert_uint_eq(u, 30);
	ck_assert_int_eq(cmd_uint_parse("31", 1, 30, &u), EINVAL);
	ck_assert_int_eq(cmd_uint_parse("0", 1, 30, &u), EINVAL);
	ck_assert_int_eq(cmd_uint_parse("99999999999999999999", 1, 30, &u),
	    EINVAL);
	ck_assert_int_eq(cmd_uint_parse("", 0, 30, &u), EINVAL);
	ck_assert_int_eq(cmd_uint_parse("4a", 0, 30, &u), EINVAL);
}
END_TEST

START_TEST(test_reg_table)
{
	const struct cmd_entry *e;

	/* The read-only socket shows accounts but sends no REGISTER. */
	e = cmd_find(&cmd_sys_table, "accounts");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->access, CMD_READ);
	ck_assert_int_eq(e->max_args, 0);
	e = cmd_find(&cmd_sys_table, "account");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->access, CMD_READ);
	ck_assert_int_eq(e->min_args, 1);
	ck_assert_int_eq(e->max_args, 1);
	ck_assert_str_eq(e->usage, "NAME");
	for (size_t i = 0; i < 4; i++) {
		e = cmd_find(&cmd_sys_table, reg_actions[i]);
		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(e->access, CMD_WRITE);
		ck_assert_int_eq(e->min_args, 1);
		ck_assert_int_eq(e->max_args, 1);
		ck_assert_str_eq(e->usage, "NAME");
	}
}
END_TEST

START_TEST(test_reg_usage_and_access)
{
	char want[64];

	for (size_t i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "ERR usage %s NAME",
		    reg_actions[i]);
		run_sys(false, &r, 1, reg_actions[i]);
		ck_assert_str_eq(r.status.p, want);
		run_sys(false, &r, 3, reg_actions[i], "a", "b");
		ck_assert_str_eq(r.status.p, want);
		/* Refused before the account is even looked up. */
		run_sys(true, &r, 2, reg_actions[i], "nosuch");
		ck_assert(!r.ok);
		ck_assert_ptr_nonnull(strstr(r.status.p, "ERR denied '"));
		ck_assert_ptr_nonnull(strstr(r.status.p, reg_actions[i]));
	}
	run_sys(false, &r, 1, "account");
	ck_assert_str_eq(r.status.p, "ERR usage account NAME");
	run_sys(true, &r, 1, "accounts");
	ck_assert(r.ok);
	ck_assert_uint_eq(r.data.n, 0);
}
END_TEST

START_TEST(test_reg_not_found)
{
	const char *const cmds[] = { "account", "register", "unregister",
	    "enable", "disable" };

	for (size_t i = 0; i < 5; i++) {
		run_sys(false, &r, 2, cmds[i], "alice");
		ck_assert(!r.ok);
		ck_assert_str_eq(r.status.p, "ERR not-found no account "
		    "'alice'");
		ck_assert_uint_eq(r.data.n, 0);
	}
	run_sys(true, &r, 2, "account", "alice");
	ck_assert_str_eq(r.status.p, "ERR not-found no account 'alice'");
}
END_TEST

/* What each errno of the reg usage's action calls answers. */
START_TEST(test_reg_result)
{
	static const struct {
		const char	*cmd;
		const char	*state;
		int		 err;
		const char	*status;
	} cases[] = {
		{ "register", "registering", 0, "OK registering alice" },
		{ "unregister", "unregistering", 0, "OK unregistering alice" },
		{ "enable", "registering", 0, "OK enabling alice" },
		{ "disable", "unregistering", 0, "OK disabling alice" },
		{ "disable", "disabled", EALREADY,
		    "OK nothing to do: alice is disabled" },
		{ "unregister", "unregistered", EALREADY,
		    "OK nothing to do: alice is unregistered" },
		{ "register", "disabled", EPERM, "ERR failed account 'alice' "
		    "has register = false in the config; set it to true and "
		    "reload" },
		{ "enable", "registered", ESHUTDOWN,
		    "ERR failed sipxd is stopping" },
		{ "register", "registered", EALREADY, "OK nothing to do: a "
		    "REGISTER for alice is on its way" },
		{ "register", "registered", ENOMEM, "ERR failed register "
		    "alice: Cannot allocate memory" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cmd_reply_reset(&r);
		cmd_reg_result(&r, cases[i].cmd, "alice", cases[i].state,
		    cases[i].err);
		ck_assert_str_eq(r.status.p, cases[i].status);
		ck_assert(r.ok == (cases[i].status[0] == 'O'));
		ck_assert_uint_eq(r.data.n, 0);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc = tcase_create("dispatch");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_arity);
	tcase_add_test(tc, test_handler_args_and_record);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_status_one_line);
	tcase_add_test(tc, test_help_all);
	tcase_add_test(tc, test_help_one);
	tcase_add_test(tc, test_reset_reuses);
	tcase_add_test(tc, test_number_parsers);
	suite_add_tcase(s, tc);
	tc = tcase_create("reg");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reg_table);
	tcase_add_test(tc, test_reg_usage_and_access);
	tcase_add_test(tc, test_reg_not_found);
	tcase_add_test(tc, test_reg_result);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
