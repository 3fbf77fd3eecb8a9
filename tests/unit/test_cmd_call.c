/*
 * The call commands (daemon/cmd_call.c) over a fake call agent
 * (call_fake.c: the real call.o is never linked): their table entries,
 * arity and access, the options of `call ACCOUNT URI`, how each errno
 * of the call usage becomes a reply, the records of `calls`, `calls
 * history` and `call ID`, and, through a real control server on the
 * libevent loop and a socket, the `call` job: "OK id=N" first, then the
 * call's own call.state lines, then exactly one call.result.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/strbuf.h"
#include "daemon/cmd.h"
#include "daemon/cmd_call.h"
#include "daemon/cmd_sys.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "ua/events.h"
#include "call_fake.h"

/* ---- the daemon's wiring, stubbed ---- */

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
	return call_fake_agent;
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

/* ---- running commands without a connection (nothing starts a job) ---- */

static struct cmd_reply r;

static void
run(bool readonly, int argc, ...)
{
	char *argv[32];
	struct cmd_ctx ctx = { readonly, NULL, NULL };
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	cmd_reply_reset(&r);
	cmd_dispatch(&cmd_sys_table, &ctx, argc, argv, &r);
}

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
setup(void)
{
	call_fake_reset();
	cmd_reply_init(&r);
}

static void
teardown(void)
{
	cmd_reply_free(&r);
	events_shutdown();
}

START_TEST(test_table)
{
	static const struct {
		const char	*name;
		int		 min, max;
		enum cmd_access	 access;
	} want[] = {
		{ "call", 1, -1, CMD_READ },
		{ "calls", 0, 1, CMD_READ },
		{ "answer", 1, 1, CMD_WRITE },
		{ "reject", 1, 2, CMD_WRITE },
		{ "hangup", 1, 1, CMD_WRITE },
		{ "hold", 1, 1, CMD_WRITE },
		{ "unhold", 1, 1, CMD_WRITE },
		{ "dtmf", 2, 2, CMD_WRITE },
		{ "transfer", 2, 2, CMD_WRITE },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct cmd_entry *e = cmd_find(&cmd_sys_table,
		    want[i].name);

		ck_assert_msg(e != NULL, "%s", want[i].name);
		ck_assert_int_eq(e->min_args, want[i].min);
		ck_assert_int_eq(e->max_args, want[i].max);
		ck_assert_int_eq(e->access, want[i].access);
	}
}
END_TEST

START_TEST(test_arity)
{
	run(false, 1, "call");
	ck_assert(starts(r.status.p, "ERR usage call ID | ACCOUNT URI"));
	run(false, 3, "calls", "history", "x");
	ck_assert_str_eq(r.status.p, "ERR usage calls [history]");
	run(false, 2, "calls", "old");
	ck_assert_str_eq(r.status.p, "ERR usage calls [history]");
	run(false, 1, "answer");
	ck_assert_str_eq(r.status.p, "ERR usage answer ID");
	run(false, 4, "reject", "1", "486", "x");
	ck_assert_str_eq(r.status.p, "ERR usage reject ID [CODE]");
	run(false, 2, "dtmf", "1");
	ck_assert_str_eq(r.status.p, "ERR usage dtmf ID DIGITS");
	run(false, 3, "hangup", "1", "2");
	ck_assert_str_eq(r.status.p, "ERR usage hangup ID");
	/* One argument that is no id: not a half-typed call either. */
	run(false, 2, "call", "alice");
	ck_assert(starts(r.status.p, "ERR usage 'alice' is not a call id"));
	ck_assert_int_eq(call_fake.nplace, 0);
	ck_assert_int_eq(call_fake.nactions, 0);
}
END_TEST

START_TEST(test_access)
{
	static const char *const writes[][3] = {
		{ "answer", "7", NULL }, { "reject", "7", NULL },
		{ "hangup", "7", NULL }, { "hold", "7", NULL },
		{ "unhold", "7", NULL }, { "dtmf", "7", "1" },
		{ "transfer", "7", "sip:carol@example.com" },
	};

	call_fake.known = true;
	call_fake.known_id = 7;
	run(true, 2, "call", "7");
	ck_assert_str_eq(r.status.p, "OK");
	run(true, 1, "calls");
	ck_assert(r.ok);
	run(true, 2, "calls", "history");
	ck_assert(r.ok);
	run(true, 3, "call", "alice", "sip:bob@example.com");
	ck_assert(starts(r.status.p, "ERR denied placing a call needs the "
	    "full-access socket"));
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		run(true, writes[i][2] != NULL ? 3 : 2, writes[i][0],
		    writes[i][1], writes[i][2]);
		ck_assert_msg(starts(r.status.p, "ERR denied"), "%s: %s",
		    writes[i][0], r.status.p);
	}
	ck_assert_int_eq(call_fake.nplace, 0);
	ck_assert_int_eq(call_fake.nactions, 0);
}
END_TEST

/* Bad options are refused before a job starts (no connection needed). */
START_TEST(test_bad_options)
{
	static const struct {
		const char	*opt[10];
		const char	*status;	/* prefix */
	} cases[] = {
		{ { "sdp=medium" }, "ERR usage sdp must be early" },
		{ { "sdp=early", "sdp=late" }, "ERR usage sdp= given twice" },
		{ { "timeout=0" }, "ERR usage timeout must be 1..86400" },
		{ { "timeout=86401" }, "ERR usage timeout must be 1..86400" },
		{ { "timeout=-1" }, "ERR usage timeout must be" },
		{ { "timeout=1x" }, "ERR usage timeout must be" },
		{ { "timeout=" }, "ERR usage timeout must be" },
		{ { "timeout=99999999999999999999" },
		    "ERR usage timeout must be" },
		{ { "media=loud" }, "ERR usage media must be none, silence" },
		{ { "media=echo", "media=none" }, "ERR usage media= given" },
		{ { "file=/tmp/a.wav" },
		    "ERR usage file= goes with media=play" },
		{ { "media=echo", "file=/tmp/a.wav" },
		    "ERR usage file= goes with media=play" },
		{ { "media=play", "file=" }, "ERR usage file= needs a path" },
		{ { "header=NoColon" }, "ERR usage header must be" },
		{ { "header=Bad Name: v" }, "ERR usage header must be" },
		{ { "header=: v" }, "ERR usage header must be" },
		{ { "header=X-A: a\r\nVia: evil" },
		    "ERR usage header must be" },
		{ { "header=X-A: a\nB: c" }, "ERR usage header must be" },
		{ { "header=X-A: bell\a" }, "ERR usage header must be" },
		{ { "header=X: 1", "header=X: 2", "header=X: 3",
		    "header=X: 4", "header=X: 5", "header=X: 6",
		    "header=X: 7", "header=X: 8", "header=X: 9" },
		    "ERR usage at most 8 header=" },
		{ { "colour=red" }, "ERR usage unknown option 'colour'" },
		{ { "loud" }, "ERR usage 'loud' is not an option" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[16], copies[10][64];
		struct cmd_ctx ctx = { false, NULL, NULL };
		int argc = 0;

		argv[argc++] = "call";
		argv[argc++] = "alice";
		argv[argc++] = "sip:bob@example.com";
		/* ctl_kv_split writes into its token: work on copies. */
		for (int j = 0; j < 10 && cases[i].opt[j] != NULL; j++) {
			snprintf(copies[j], sizeof(copies[j]), "%s",
			    cases[i].opt[j]);
			argv[argc++] = copies[j];
		}
		argv[argc] = NULL;
		cmd_reply_reset(&r);
		cmd_dispatch(&cmd_sys_table, &ctx, argc, argv, &r);
		ck_assert_msg(starts(r.status.p, cases[i].status),
		    "case %zu: %s", i, r.status.p);
	}
	ck_assert_int_eq(call_fake.nplace, 0);
}
END_TEST

/* Each errno of the commands on a live call, as the client reads it. */
START_TEST(test_action_errors)
{
	static const struct {
		const char	*cmd;
		const char	*arg;
		int		 rc;
		bool		 known;		/* in live calls or history */
		enum call_state	 state;
		const char	*status;
	} cases[] = {
		{ "answer", NULL, 0, true, CALL_STATE_RINGING,
		    "OK answering call 7" },
		{ "answer", NULL, ENOENT, false, 0,
		    "ERR not-found no call 7" },
		{ "hangup", NULL, ENOENT, true, CALL_STATE_TERMINATED,
		    "ERR not-found no call 7 (it has ended)" },
		{ "answer", NULL, EALREADY, true, CALL_STATE_CONFIRMED,
		    "ERR failed call 7 is confirmed, not ringing" },
		{ "reject", NULL, EALREADY, true, CALL_STATE_EARLY,
		    "ERR failed call 7 is early, not ringing" },
		{ "hangup", NULL, EALREADY, true, CALL_STATE_TERMINATING,
		    "ERR failed call 7 is already terminating" },
		{ "hold", NULL, EALREADY, true, CALL_STATE_PROCEEDING,
		    "ERR failed call 7 is proceeding, not confirmed" },
		{ "hold", NULL, EALREADY, true, CALL_STATE_CONFIRMED,
		    "ERR failed call 7 is already on hold" },
		{ "unhold", NULL, EALREADY, true, CALL_STATE_CONFIRMED,
		    "ERR failed call 7 is not on hold" },
		{ "hold", NULL, EBUSY, true, CALL_STATE_CONFIRMED,
		    "ERR failed a re-INVITE is in progress on call 7; try "
		    "again" },
		{ "unhold", NULL, 0, true, CALL_STATE_CONFIRMED,
		    "OK resuming call 7" },
		{ "dtmf", "123#", ENOTSUP, true, CALL_STATE_CONFIRMED,
		    "ERR failed call 7 has no telephone-event (RFC 4733) "
		    "negotiated: the peer takes no DTMF" },
		{ "dtmf", "1", EINVAL, true, CALL_STATE_CONFIRMED,
		    "ERR usage digits are 0-9, *, #, A-D and ',' (a pause)" },
		{ "dtmf", "1", EBUSY, true, CALL_STATE_CONFIRMED,
		    "ERR failed call 7 has too many digits queued; try again "
		    "when they are sent" },
		{ "hangup", NULL, ESHUTDOWN, true, CALL_STATE_CONFIRMED,
		    "ERR failed sipxd is stopping" },
		{ "hangup", NULL, ENOMEM, true, CALL_STATE_CONFIRMED,
		    "ERR failed hangup 7: Cannot allocate memory" },
		{ "hangup", NULL, 0, true, CALL_STATE_CONFIRMED,
		    "OK hanging up call 7" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		call_fake_reset();
		call_fake.action_rc = cases[i].rc;
		call_fake.known = cases[i].known;
		call_fake.known_id = 7;
		call_fake.detail.sum.state = cases[i].state;
		if (cases[i].arg != NULL)
			run(false, 3, cases[i].cmd, "7", cases[i].arg);
		else
			run(false, 2, cases[i].cmd, "7");
		ck_assert_msg(strcmp(r.status.p, cases[i].status) == 0,
		    "case %zu: %s", i, r.status.p);
		ck_assert_int_eq(call_fake.nactions, 1);
		ck_assert_str_eq(call_fake.action, cases[i].cmd);
		ck_assert_uint_eq(call_fake.action_id, 7);
	}
}
END_TEST

START_TEST(test_action_args)
{
	static const char *const bad_ids[] = { "0", "-1", "abc", "7x", "",
	    "99999999999999999999999" };

	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		run(false, 2, "hangup", bad_ids[i]);
		ck_assert_msg(starts(r.status.p, "ERR usage '"), "%s",
		    r.status.p);
		run(false, 2, "call", bad_ids[i]);
		ck_assert_msg(starts(r.status.p, "ERR usage '"), "%s",
		    r.status.p);
	}
	/* The largest id there is still is one. */
	run(false, 2, "hangup", "18446744073709551615");
	ck_assert_uint_eq(call_fake.action_id, UINT64_MAX);
	ck_assert_int_eq(call_fake.nactions, 1);

	run(false, 2, "reject", "7");
	ck_assert_str_eq(r.status.p, "OK rejecting call 7");
	ck_assert_uint_eq(call_fake.code, 486);
	run(false, 3, "reject", "7", "603");
	ck_assert_uint_eq(call_fake.code, 603);
	ck_assert_int_eq(call_fake.nactions, 3);
	run(false, 3, "reject", "7", "399");
	ck_assert(starts(r.status.p, "ERR usage the code must be 400..699"));
	run(false, 3, "reject", "7", "700");
	ck_assert(starts(r.status.p, "ERR usage the code must be 400..699"));
	run(false, 3, "reject", "7", "4x6");
	ck_assert(starts(r.status.p, "ERR usage the code must be 400..699"));
	ck_assert_int_eq(call_fake.nactions, 3);

	run(false, 3, "dtmf", "7", "12x");
	ck_assert(starts(r.status.p, "ERR usage digits are"));
	ck_assert_int_eq(call_fake.nactions, 3);
	run(false, 3, "dtmf", "7", "0123456789*#ABCDabcd,");
	ck_assert_str_eq(r.status.p, "OK sending digits on call 7");
	ck_assert_str_eq(call_fake.digits, "0123456789*#ABCDabcd,");

	/* transfer: the usage's own words come back on an error. */
	run(false, 3, "transfer", "7", "sip:carol@example.com");
	ck_assert_str_eq(r.status.p, "OK transferring call 7 to "
	    "sip:carol@example.com");
	ck_assert_str_eq(call_fake.action, "transfer");
	ck_assert_str_eq(call_fake.digits, "sip:carol@example.com");
	call_fake.action_rc = EBUSY;
	run(false, 3, "transfer", "7", "sip:carol@example.com");
	ck_assert_str_eq(r.status.p, "ERR failed fake: transfer refused");
	call_fake.action_rc = EINVAL;
	run(false, 3, "transfer", "7", "tel:123");
	ck_assert_str_eq(r.status.p, "ERR usage fake: transfer refused");
	call_fake.action_rc = ENOENT;
	call_fake.known = false;
	run(false, 3, "transfer", "7", "sip:carol@example.com");
	ck_assert_str_eq(r.status.p, "ERR not-found no call 7");
	call_fake.action_rc = 0;
	run(false, 3, "transfer", "x", "sip:carol@example.com");
	ck_assert(starts(r.status.p, "ERR usage 'x' is not a call id"));
}
END_TEST

START_TEST(test_records)
{
	static const char *const timeline[] = { "t=+0.000 INVITE sent",
	    "t=+0.012 180 Ringing" };
	struct call_summary *s = &call_fake.live[0];

	s->id = 3;
	s->account = "alice";
	s->dir = CALL_DIR_OUT;
	s->state = CALL_STATE_CONFIRMED;
	s->remote = "sip:bob@example.com";
	s->codec = "PCMU";
	s->start = 1764074000.5;
	s->answer = 1764074001.25;
	s->duration = 12.34;
	s->media = RTP_MODE_ECHO;
	s->hold = true;
	s->reason = "";
	s->ended_by = "";
	s->stats.last_recv_age_s = -1;
	call_fake.nlive = 1;
	run(false, 1, "calls");
	ck_assert_str_eq(r.data.p, "id=3 account=alice dir=out "
	    "state=confirmed remote=sip:bob@example.com duration=12.3 "
	    "codec=PCMU media=echo hold=yes\n");

	call_fake.hist[0] = *s;
	s = &call_fake.hist[0];
	s->state = CALL_STATE_TERMINATED;
	s->end = 1764074010;
	s->status = 0;
	s->reason = "BYE";
	s->ended_by = "remote";
	s->stats.packets_sent = 500;
	s->stats.packets_recv = 498;
	s->stats.lost = -2;
	s->stats.jitter_ms = 1.25;
	call_fake.hist[1] = *s;
	call_fake.hist[1].id = 2;
	call_fake.hist[1].codec = "";
	call_fake.hist[1].answer = 0;
	call_fake.hist[1].status = 486;
	call_fake.hist[1].reason = "Busy Here";
	call_fake.nhist = 2;
	run(false, 2, "calls", "history");
	ck_assert_str_eq(r.data.p,
	    "id=3 account=alice dir=out remote=sip:bob@example.com "
	    "start=1764074000.500 answer=1764074001.250 end=1764074010.000 "
	    "duration=12.3 status=- reason=BYE ended_by=remote codec=PCMU "
	    "packets_sent=500 packets_recv=498 lost=-2 jitter_ms=1.2\n"
	    "id=2 account=alice dir=out remote=sip:bob@example.com "
	    "start=1764074000.500 answer=- end=1764074010.000 "
	    "duration=12.3 status=486 reason=\"Busy Here\" ended_by=remote "
	    "codec=- packets_sent=500 packets_recv=498 lost=-2 "
	    "jitter_ms=1.2\n");

	call_fake.known = true;
	call_fake.known_id = 3;
	call_fake.detail.sum = call_fake.live[0];
	call_fake.detail.dialog_id = "abc;local-tag=1;remote-tag=2";
	call_fake.detail.local_uri = "sip:alice@example.com";
	call_fake.detail.remote_target = "sip:bob@192.0.2.2";
	call_fake.detail.route_set = "";
	call_fake.detail.local_sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";
	call_fake.detail.remote_sdp = "";
	call_fake.detail.local_media = "127.0.0.1:20000";
	call_fake.detail.remote_media = "192.0.2.2:30000";
	call_fake.detail.session_expires = 1800;
	call_fake.detail.refresher = "uac";
	call_fake.detail.timeline = timeline;
	call_fake.detail.ntimeline = 2;
	run(true, 2, "call", "3");
	ck_assert_str_eq(r.status.p, "OK");
	ck_assert_str_eq(r.data.p,
	    "id=3 account=alice dir=out state=confirmed "
	    "remote=sip:bob@example.com local_uri=sip:alice@example.com "
	    "dialog_id=abc;local-tag=1;remote-tag=2 "
	    "remote_target=sip:bob@192.0.2.2 route_set=- codec=PCMU "
	    "media=echo hold=yes start=1764074000.500 "
	    "answer=1764074001.250 end=- duration=12.3 status=- reason=- "
	    "ended_by=- session_expires=1800 refresher=uac "
	    "local_media=127.0.0.1:20000 remote_media=192.0.2.2:30000 "
	    "packets_sent=0 packets_recv=0 bytes_sent=0 bytes_recv=0 lost=0 "
	    "jitter_ms=0.0 last_packet_age=- dtmf_sent=0 dtmf_recv=0\n"
	    "local_sdp=\"v=0\\r\\no=- 1 1 IN IP4 127.0.0.1\\r\\n\"\n"
	    "remote_sdp=\"\"\n"
	    "event=\"t=+0.000 INVITE sent\"\n"
	    "event=\"t=+0.012 180 Ringing\"\n");
	run(true, 2, "call", "4");
	ck_assert_str_eq(r.status.p, "ERR not-found no call 4");
	ck_assert_uint_eq(r.data.n, 0);
}
END_TEST

/* ---- the job, through a real control server and a socket ---- */

static struct event_base *base;
static struct control *ctl;
static char sockdir[64], full_path[96], ro_path[96];

struct client {
	int		 fd;
	struct strbuf	 in;
	size_t		 off;
};

static void
loop_setup(void)
{
	char err[256];

	setup();
	snprintf(sockdir, sizeof(sockdir), "/tmp/test_cmd_call.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(full_path, sizeof(full_path), "%s/full.sock", sockdir);
	snprintf(ro_path, sizeof(ro_path), "%s/ro.sock", sockdir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ctl = control_new(base, &cmd_sys_table);
	ck_assert_msg(control_listen(ctl, full_path, 0600, (gid_t)-1, false,
	    -1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(control_listen(ctl, ro_path, 0600, (gid_t)-1, true,
	    -1, err, sizeof(err)) == 0, "%s", err);
}

static void
loop_teardown(void)
{
	control_free(ctl);
	event_base_free(base);
	rmdir(sockdir);
	teardown();
}

/* Runs the loop and reads what the daemon wrote, for a little while. */
static void
pump(struct client *c, int ms)
{
	struct pollfd p = { c->fd, POLLIN, 0 };

	event_base_loop(base, EVLOOP_NONBLOCK);
	if (poll(&p, 1, ms) == 1 && (p.revents & (POLLIN | POLLHUP))) {
		ssize_t n;

		strbuf_reserve(&c->in, 4096);
		n = read(c->fd, c->in.p + c->in.n, 4095);
		if (n > 0) {
			c->in.n += (size_t)n;
			c->in.p[c->in.n] = '\0';
		}
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* The next line (without "\n"), or NULL when none comes within 2 s. */
static const char *
next_line(struct client *c)
{
	static char line[4096];

	for (int i = 0; i < 400; i++) {
		char *start = c->in.p != NULL ? c->in.p + c->off : NULL;
		char *nl = start != NULL ? memchr(start, '\n',
		    c->in.n - c->off) : NULL;

		if (nl != NULL) {
			snprintf(line, sizeof(line), "%.*s",
			    (int)(nl - start), start);
			c->off = (size_t)(nl - c->in.p) + 1;
			return line;
		}
		pump(c, 5);
	}
	return NULL;
}

/* True when nothing more arrives for a while. */
static bool
quiet(struct client *c)
{
	for (int i = 0; i < 10; i++)
		pump(c, 5);
	return c->off == c->in.n;
}

static void
client_open(struct client *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *l;

	memset(c, 0, sizeof(*c));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sun,
	    sizeof(sun)), 0);
	l = next_line(c);
	ck_assert_ptr_nonnull(l);
	ck_assert(starts(l, "SIPXD protocol=1"));
}

static void
client_close(struct client *c)
{
	close(c->fd);
	strbuf_free(&c->in);
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
send_line(struct client *c, const char *line)
{
	ck_assert_int_eq(write(c->fd, line, strlen(line)),
	    (ssize_t)strlen(line));
}

static void
expect(struct client *c, const char *want)
{
	const char *l = next_line(c);

	ck_assert_msg(l != NULL, "nothing came; wanted %s", want);
	ck_assert_str_eq(l, want);
}

/* The next line starts with want_prefix and holds each of the parts. */
static void
expect_event(struct client *c, const char *type, ...)
{
	const char *l = next_line(c), *part;
	char prefix[64];
	va_list ap;

	ck_assert_msg(l != NULL, "no %s event came", type);
	snprintf(prefix, sizeof(prefix), "EVENT %s seq=", type);
	ck_assert_msg(starts(l, prefix), "wanted %s, got %s", type, l);
	va_start(ap, type);
	while ((part = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(l, part) != NULL, "no '%s' in %s", part,
		    l);
	va_end(ap);
}

START_TEST(test_job_answered)
{
	struct client c;

	call_fake.place_states[0] = "calling";
	client_open(&c, full_path);
	send_line(&c, "call alice sip:bob@example.com sdp=late timeout=86400 "
	    "media=play file=/tmp/a.wav header=\"X-A: 1\" "
	    "\"header=X-B: two words\"\n");
	/* The reply first, even though call_place published already. */
	expect(&c, "OK id=1");
	expect(&c, "id=1");
	expect(&c, ".");
	expect_event(&c, "call.state", " account=alice id=1 dir=out "
	    "state=calling", NULL);
	ck_assert_int_eq(call_fake.nplace, 1);
	ck_assert_str_eq(call_fake.account, "alice");
	ck_assert_str_eq(call_fake.uri, "sip:bob@example.com");
	ck_assert_uint_eq(call_fake.id, 1);
	ck_assert(call_fake.late_offer && call_fake.late_offer_set);
	ck_assert_uint_eq(call_fake.timeout_s, 86400);
	ck_assert(call_fake.media_set);
	ck_assert_int_eq(call_fake.media, RTP_MODE_PLAY);
	ck_assert_str_eq(call_fake.play_file, "/tmp/a.wav");
	ck_assert_uint_eq(call_fake.nheaders, 2);
	ck_assert_str_eq(call_fake.headers[0], "X-A: 1");
	ck_assert_str_eq(call_fake.headers[1], "X-B: two words");

	/* Another call's events, another account's: not this job's. */
	call_fake_state(2, "alice", "proceeding", "100", "Trying", NULL);
	call_fake_state(1, "bob", "confirmed", NULL, NULL, NULL);
	call_fake_state(1, "alice", "proceeding", "180", "Ringing", NULL);
	expect_event(&c, "call.state", "id=1", "state=proceeding",
	    "status=180 reason=Ringing", NULL);
	/* Commands on the connection are answered meanwhile. */
	send_line(&c, "calls\n");
	expect(&c, "OK");
	expect(&c, ".");
	events_publish("call.hold", "alice", "id", "1", "held", "no", "by",
	    "remote", NULL);
	expect_event(&c, "call.hold", "id=1 held=no", NULL);
	call_fake_state(1, "alice", "confirmed", "200", "OK", NULL);
	expect_event(&c, "call.state", "id=1", "state=confirmed", NULL);
	expect_event(&c, "call.result", "id=1 result=ok state=confirmed",
	    NULL);
	/* The job is over: later changes are not its business. */
	call_fake_state(1, "alice", "terminated", NULL, "BYE", "remote");
	ck_assert(quiet(&c));
	ck_assert_uint_eq(events_subscriber_count(), 0);
	client_close(&c);
}
END_TEST

START_TEST(test_job_failed)
{
	struct client c;

	client_open(&c, full_path);
	send_line(&c, "call alice sip:bob@example.com\n");
	expect(&c, "OK id=1");
	expect(&c, "id=1");
	expect(&c, ".");
	ck_assert_uint_eq(call_fake.nheaders, 0);
	ck_assert(!call_fake.late_offer_set && !call_fake.media_set);
	ck_assert_uint_eq(call_fake.timeout_s, 0);
	call_fake_state(1, "alice", "terminated", "486", "Busy Here",
	    "remote");
	expect_event(&c, "call.state", "id=1", "state=terminated", NULL);
	expect_event(&c, "call.result", "id=1 result=failed code=failed "
	    "error=\"486 Busy Here\" state=terminated status=486 "
	    "reason=\"Busy Here\" by=remote", NULL);

	/* No status: the reason is the error. */
	send_line(&c, "call alice sip:bob@example.com timeout=5\n");
	expect(&c, "OK id=2");
	expect(&c, "id=2");
	expect(&c, ".");
	call_fake_state(2, "alice", "terminating", NULL, NULL, NULL);
	expect_event(&c, "call.state", "id=2", "state=terminating", NULL);
	call_fake_state(2, "alice", "terminated", "0", "no answer within 5 s",
	    "timeout");
	expect_event(&c, "call.state", "id=2", "state=terminated", NULL);
	expect_event(&c, "call.result", "id=2 result=failed code=failed "
	    "error=\"no answer within 5 s\" state=terminated status=0 "
	    "reason=\"no answer within 5 s\" by=timeout", NULL);
	ck_assert(quiet(&c));
	client_close(&c);
}
END_TEST

/* A call that ends while call_place() runs still reports after its OK. */
START_TEST(test_job_ends_while_placing)
{
	struct client c;

	call_fake.place_states[0] = "calling";
	call_fake.place_states[1] = "terminated";
	client_open(&c, full_path);
	send_line(&c, "call alice sip:bob@example.com\nversion\n");
	expect(&c, "OK id=1");
	expect(&c, "id=1");
	expect(&c, ".");
	expect_event(&c, "call.state", "id=1", "state=calling", NULL);
	expect_event(&c, "call.state", "id=1", "state=terminated", NULL);
	expect_event(&c, "call.result", "id=1 result=failed code=failed "
	    "error=\"503 Service Unavailable\"", NULL);
	expect(&c, "OK");
	ck_assert_uint_eq(events_subscriber_count(), 0);
	client_close(&c);
}
END_TEST

/* What call_place() refuses: the job is forgotten, the reply says why. */
START_TEST(test_job_place_errors)
{
	static const struct {
		int		 rc;
		const char	*err;
		const char	*status;
	} cases[] = {
		{ ENOENT, NULL, "ERR not-found no account 'alice'" },
		{ EINVAL, NULL, "ERR usage 'sip:bob@example.com' is not a "
		    "sip: or sips: URI" },
		{ EINVAL, "header Call-ID is sipxd's own", "ERR usage header "
		    "Call-ID is sipxd's own" },
		{ EBUSY, NULL, "ERR failed too many calls (calls.max) or no "
		    "free RTP port (media.port_min..port_max); try again "
		    "later" },
		{ EBUSY, "calls.max (10) reached", "ERR failed calls.max (10) "
		    "reached" },
		{ ESHUTDOWN, NULL, "ERR failed sipxd is stopping" },
		{ EACCES, "/tmp/a.wav: Permission denied",
		    "ERR failed /tmp/a.wav: Permission denied" },
	};
	struct client c;

	client_open(&c, full_path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		call_fake.place_rc = cases[i].rc;
		call_fake.place_err = cases[i].err;
		send_line(&c, "call alice sip:bob@example.com\n");
		expect(&c, cases[i].status);
		expect(&c, ".");
		ck_assert_uint_eq(events_subscriber_count(), 0);
	}
	ck_assert(quiet(&c));
	client_close(&c);
}
END_TEST

/* On the read-only socket `call ID` works and placing is refused. */
START_TEST(test_job_readonly)
{
	struct client c;

	client_open(&c, ro_path);
	send_line(&c, "call alice sip:bob@example.com\n");
	expect(&c, "ERR denied placing a call needs the full-access socket: "
	    "the read-only one changes nothing, sends nothing and shows no "
	    "SIP message");
	expect(&c, ".");
	send_line(&c, "call 1\n");
	expect(&c, "ERR not-found no call 1");
	expect(&c, ".");
	ck_assert_int_eq(call_fake.nplace, 0);
	client_close(&c);
}
END_TEST

/* A connection that follows call events too sees each line once. */
START_TEST(test_job_and_subscription)
{
	struct client c;

	client_open(&c, full_path);
	send_line(&c, "events kind=call\n");
	expect(&c, "OK subscribed");
	expect(&c, ".");
	expect_event(&c, "sync", NULL);
	send_line(&c, "call alice sip:bob@example.com\n");
	expect(&c, "OK id=1");
	expect(&c, "id=1");
	expect(&c, ".");
	call_fake_state(1, "alice", "ringing", NULL, NULL, NULL);
	call_fake_state(5, "bob", "ringing", NULL, NULL, NULL);
	call_fake_state(1, "alice", "confirmed", NULL, NULL, NULL);
	expect_event(&c, "call.state", "id=1", "state=ringing", NULL);
	/* Not the job's, but the subscription's. */
	expect_event(&c, "call.state", "id=5", NULL);
	expect_event(&c, "call.state", "id=1", "state=confirmed", NULL);
	expect_event(&c, "call.result", "id=1 result=ok", NULL);
	ck_assert(quiet(&c));
	client_close(&c);
}
END_TEST

/*
 * A half-closed client still gets its job's result; one that closes
 * for good detaches the job at once, and the call goes on.
 */
START_TEST(test_job_half_close_and_close)
{
	struct client c;

	client_open(&c, full_path);
	send_line(&c, "call alice sip:bob@example.com\n");
	shutdown(c.fd, SHUT_WR);
	expect(&c, "OK id=1");
	expect(&c, "id=1");
	expect(&c, ".");
	ck_assert_uint_eq(control_client_count(ctl), 1);
	call_fake_state(1, "alice", "confirmed", NULL, NULL, NULL);
	expect_event(&c, "call.state", "id=1", NULL);
	expect_event(&c, "call.result", "id=1 result=ok", NULL);
	ck_assert(quiet(&c));
	ck_assert_uint_eq(control_client_count(ctl), 0);
	client_close(&c);

	client_open(&c, full_path);
	send_line(&c, "call alice sip:bob@example.com\n");
	expect(&c, "OK id=2");
	expect(&c, "id=2");
	expect(&c, ".");
	ck_assert_uint_eq(events_subscriber_count(), 1);
	client_close(&c);
	ck_assert_uint_eq(control_client_count(ctl), 0);
	ck_assert_uint_eq(events_subscriber_count(), 0);
	/* Watching stopped; nothing was asked of the call. */
	ck_assert_int_eq(call_fake.nactions, 0);
	call_fake_state(2, "alice", "confirmed", NULL, NULL, NULL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cmd_call");
	TCase *tc = tcase_create("commands");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_arity);
	tcase_add_test(tc, test_access);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_action_errors);
	tcase_add_test(tc, test_action_args);
	tcase_add_test(tc, test_records);
	suite_add_tcase(s, tc);
	tc = tcase_create("job");
	tcase_add_checked_fixture(tc, loop_setup, loop_teardown);
	tcase_add_test(tc, test_job_answered);
	tcase_add_test(tc, test_job_failed);
	tcase_add_test(tc, test_job_ends_while_placing);
	tcase_add_test(tc, test_job_place_errors);
	tcase_add_test(tc, test_job_readonly);
	tcase_add_test(tc, test_job_and_subscription);
	tcase_add_test(tc, test_job_half_close_and_close);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
