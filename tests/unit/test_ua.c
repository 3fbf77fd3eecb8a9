/*
 * The user agent core on the real loop: a UDP listener on loopback, a
 * test socket that sends requests and reads the answers.  Cases: the
 * method table (registration errors, Allow built from it), the stateless
 * OPTIONS answer (headers, the same To tag for a retransmission, no
 * transaction), the checks before any usage (420 with Unsupported, 481
 * in a dialog that does not exist and for a CANCEL with nothing to
 * cancel, 405 with Allow, 501), a stateful usage, a request too large for
 * the stack buffer, Server after ua_set_user_agent, 404 for an unknown
 * user; and the account set's name table at 100,000 accounts.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_trans.h"
#include "ua/account.h"
#include "ua/ua.h"

static struct event_base *base;
static struct ua *ua;
static int peer = -1;		/* the test's UDP socket */
static int ua_port, peer_port;
static char rx[65536];
static char dns_server[32];

static int
free_udp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
setup(void)
{
	struct sip_tp_listen_conf l = { .transport = SIP_TP_UDP };
	struct ua_conf c = { 0 };
	const char *servers[1] = { dns_server };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char addr[32], err[256];
	struct timeval tv = { 0, 100 * 1000 };

	base = event_base_new();
	ua_port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ua_port);
	/* Nothing is resolved here: a server that is never asked. */
	snprintf(dns_server, sizeof(dns_server), "127.0.0.1:1");
	l.address = addr;
	c.listen = &l;
	c.nlisten = 1;
	c.t1_ms = 50;
	c.t2_ms = 400;
	c.t4_ms = 500;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-ua/1";
	c.default_from = "sip:test@127.0.0.1";
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	peer = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(peer, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(peer, (struct sockaddr *)&sin, &len), 0);
	peer_port = ntohs(sin.sin_port);
	setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static void
teardown(void)
{
	ua_free(ua);
	ua = NULL;
	close(peer);
	event_base_free(base);
}

/* Sends text (with "%P" for the peer's port) to the ua. */
static void
send_req(const char *text)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = text; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'P') {
			strbuf_addf(&sb, "%d", peer_port);
			p++;
		} else {
			strbuf_addc(&sb, *p);
		}
	}
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)ua_port);
	ck_assert_int_eq(sendto(peer, sb.p, sb.n, 0, (struct sockaddr *)&to,
	    sizeof(to)), (ssize_t)sb.n);
	strbuf_free(&sb);
}

/* Runs the loop until the answer comes; returns it (NUL-terminated). */
static const char *
recv_rsp(void)
{
	for (int i = 0; i < 200; i++) {
		ssize_t n;

		event_base_loop(base, EVLOOP_NONBLOCK);
		n = recv(peer, rx, sizeof(rx) - 1, MSG_DONTWAIT);
		if (n > 0) {
			rx[n] = '\0';
			return rx;
		}
		usleep(5000);
	}
	ck_abort_msg("no answer from the ua");
	return NULL;
}

/* The value of header name in msg, or NULL (static buffer). */
static const char *
hdr(const char *msg, const char *name)
{
	static char v[1024];
	size_t nl = strlen(name);
	const char *p = strstr(msg, "\r\n");

	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *e = strstr(p, "\r\n");
			const char *s = p + nl + 1;

			while (*s == ' ')
				s++;
			snprintf(v, sizeof(v), "%.*s", (int)(e - s), s);
			return v;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

#define REQ(method, extra)						\
	method " sip:u@127.0.0.1 SIP/2.0\r\n"				\
	"Via: SIP/2.0/UDP 127.0.0.1:%P;branch=z9hG4bK-" method "-1\r\n"	\
	"From: <sip:t@127.0.0.1>;tag=ft1\r\n"				\
	"To: <sip:u@127.0.0.1>" extra "\r\n"				\
	"Call-ID: call-" method "@test\r\n"				\
	"CSeq: 1 " method "\r\n"					\
	"Max-Forwards: 70\r\n"

START_TEST(test_options_stateless)
{
	const char *r;
	char tag[64];

	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 200 OK\r\n", 16) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "Allow"), "OPTIONS");
	ck_assert_str_eq(hdr(r, "Accept"), "");
	ck_assert_str_eq(hdr(r, "Supported"), "");
	ck_assert_str_eq(hdr(r, "Server"), "test-ua/1");
	ck_assert_str_eq(hdr(r, "Call-ID"), "call-OPTIONS@test");
	ck_assert_str_eq(hdr(r, "CSeq"), "1 OPTIONS");
	ck_assert_str_eq(hdr(r, "Content-Length"), "0");
	ck_assert_ptr_nonnull(strstr(hdr(r, "Via"), "branch=z9hG4bK-OPTIONS"));
	ck_assert_ptr_nonnull(strstr(hdr(r, "To"), ";tag="));
	snprintf(tag, sizeof(tag), "%s", strstr(hdr(r, "To"), ";tag="));
	/* No transaction: nothing held, no timer. */
	ck_assert_uint_eq(sip_trans_count(ua_trans(ua)), 0);
	/* §8.2.7: a retransmission gets the same To tag. */
	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_str_eq(strstr(hdr(r, "To"), ";tag="), tag);
	ck_assert_uint_eq(sip_trans_count(ua_trans(ua)), 0);
}
END_TEST

START_TEST(test_checks)
{
	const char *r;

	/* §8.2.2.3: every unknown option tag, in order. */
	send_req(REQ("OPTIONS", "") "Require: foo, bar\r\nRequire: baz\r\n"
	    "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 420 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "Unsupported"), "foo, bar, baz");
	/* §12.2.2: in a dialog that does not exist. */
	send_req(REQ("BYE", ";tag=gone") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 481 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "To"), "<sip:u@127.0.0.1>;tag=gone");
	/* §9.2: nothing to cancel. */
	send_req(REQ("CANCEL", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 481 ", 12) == 0, "%s", r);
	/* §8.2.1: known but not taken, and unknown. */
	send_req(REQ("MESSAGE", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 405 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "Allow"), "OPTIONS");
	send_req(REQ("FROB", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 501 ", 12) == 0, "%s", r);
	ck_assert_uint_eq(sip_trans_count(ua_trans(ua)), 0);
	/* §17.2.1: an INVITE's 405 goes through a transaction (Timer G). */
	send_req(REQ("INVITE", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 405 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "Allow"), "OPTIONS");
	ck_assert_uint_eq(sip_trans_count(ua_trans(ua)), 1);
	/* §9.2: a CANCEL that matches it gets 200 (and changes nothing). */
	send_req("CANCEL sip:u@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%P;branch=z9hG4bK-INVITE-1\r\n"
	    "From: <sip:t@127.0.0.1>;tag=ft1\r\n"
	    "To: <sip:u@127.0.0.1>\r\n"
	    "Call-ID: call-INVITE@test\r\n"
	    "CSeq: 1 CANCEL\r\n"
	    "Max-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n");
	do
		r = recv_rsp();	/* past Timer G's copies of the 405 */
	while (strncmp(r, "SIP/2.0 405 ", 12) == 0);
	ck_assert_msg(strncmp(r, "SIP/2.0 200 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "CSeq"), "1 CANCEL");
}
END_TEST

/* An option tag too long for a fixed buffer is still unsupported. */
START_TEST(test_require_long_tag)
{
	char req[2048], tag[251];
	const char *r;

	memset(tag, 'x', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	snprintf(req, sizeof(req), "%sRequire: %s\r\n"
	    "Content-Length: 0\r\n\r\n", REQ("OPTIONS", ""), tag);
	send_req(req);
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 420 ", 12) == 0, "%s", r);
	ck_assert_str_eq(hdr(r, "Unsupported"), tag);
}
END_TEST

static int message_calls;

static void
on_message(struct ua *u, const struct ua_req *rq, void *arg)
{
	message_calls++;
	ck_assert_ptr_nonnull(rq->st);
	ck_assert_int_eq(ua_respond(u, rq, 202, "Accepted", "X-Test: 1\r\n"),
	    0);
	/* The request went with the final answer: a second one is refused. */
	ck_assert_int_eq(ua_respond(u, rq, 500, "Again", NULL), EALREADY);
}

START_TEST(test_register)
{
	const char *r;

	ck_assert_int_eq(ua_register_method(ua, "OPTIONS", on_message, NULL,
	    0), EEXIST);
	ck_assert_int_eq(ua_register_method(ua, "BAD METHOD", on_message,
	    NULL, 0), EINVAL);
	ck_assert_int_eq(ua_register_method(ua, "", on_message, NULL, 0),
	    EINVAL);
	ck_assert_int_eq(ua_register_method(ua, "MESSAGE", on_message, NULL,
	    0), 0);
	send_req(REQ("MESSAGE", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 202 Accepted\r\n", 22) == 0, "%s",
	    r);
	ck_assert_str_eq(hdr(r, "X-Test"), "1");
	ck_assert_int_eq(message_calls, 1);
	/* Stateful: the server transaction holds the answer (Timer J). */
	ck_assert_uint_eq(sip_trans_count(ua_trans(ua)), 1);
	/* A retransmission is absorbed by it: the handler is not asked. */
	send_req(REQ("MESSAGE", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 202 ", 12) == 0, "%s", r);
	ck_assert_int_eq(message_calls, 1);

	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_str_eq(hdr(r, "Allow"), "OPTIONS, MESSAGE");
	/* ACK and CANCEL come with INVITE. */
	ck_assert_int_eq(ua_register_method(ua, "INVITE", on_message, NULL,
	    0), 0);
	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_str_eq(hdr(r, "Allow"), "OPTIONS, MESSAGE, INVITE, ACK, "
	    "CANCEL");
	/* The table has room for 16 methods, no more. */
	for (int i = 0; i < 13; i++) {
		char m[16];

		snprintf(m, sizeof(m), "X-M%d", i);
		ck_assert_int_eq(ua_register_method(ua, m, on_message, NULL,
		    0), 0);
	}
	ck_assert_int_eq(ua_register_method(ua, "ONE-MORE", on_message, NULL,
	    0), ENOSPC);
}
END_TEST

START_TEST(test_large_and_server)
{
	struct strbuf sb = STRBUF_INIT;
	const char *r;
	const char *users[] = { "u" };

	/* 60 Via fields: the answer outgrows the stack buffer. */
	strbuf_adds(&sb, "OPTIONS sip:u@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%P;branch=z9hG4bK-big\r\n");
	for (int i = 0; i < 60; i++)
		strbuf_addf(&sb, "Via: SIP/2.0/UDP proxy%d.example.com:5060;"
		    "branch=z9hG4bK-hop-%d-padding-padding\r\n", i, i);
	strbuf_adds(&sb, "From: <sip:t@127.0.0.1>;tag=ft1\r\n"
	    "To: <sip:u@127.0.0.1>\r\nCall-ID: big@test\r\n"
	    "CSeq: 9 OPTIONS\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n");
	send_req(sb.p);
	strbuf_free(&sb);
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 200 OK\r\n", 16) == 0, "%s", r);
	ck_assert_ptr_nonnull(strstr(r, "proxy59.example.com"));
	ck_assert_str_eq(hdr(r, "CSeq"), "9 OPTIONS");

	ua_set_user_agent(ua, "renamed/2");
	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_str_eq(hdr(r, "Server"), "renamed/2");

	/* sipxd.unknown_user = "404". */
	ua_set_users(ua, users, 1, true);
	send_req(REQ("OPTIONS", "") "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 200 ", 12) == 0, "%s", r);
	send_req("OPTIONS sip:nobody@127.0.0.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%P;branch=z9hG4bK-nobody\r\n"
	    "From: <sip:t@127.0.0.1>;tag=ft1\r\nTo: <sip:nobody@127.0.0.1>\r\n"
	    "Call-ID: nobody@test\r\nCSeq: 1 OPTIONS\r\n"
	    "Content-Length: 0\r\n\r\n");
	r = recv_rsp();
	ck_assert_msg(strncmp(r, "SIP/2.0 404 ", 12) == 0, "%s", r);
}
END_TEST

/* ---- the account set's name table ---- */

#define NACCOUNTS	100000

static struct account_cfg **
mk_cfgs(size_t n, size_t first, int expires)
{
	struct account_cfg **v = xcalloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		char name[32], aor[64];

		snprintf(name, sizeof(name), "acct%zu", first + i);
		snprintf(aor, sizeof(aor), "sip:%s@example.com", name);
		v[i] = xcalloc(1, sizeof(*v[i]));
		v[i]->name = xstrdup(name);
		v[i]->aor = xstrdup(aor);
		v[i]->auth_user = xstrdup(name);
		v[i]->registrar = xstrdup("sip:example.com");
		v[i]->expires = (first + i) % 2 ? expires : 600;
	}
	return v;
}

START_TEST(test_account_hash)
{
	struct account_set set;
	struct account_diff diff;
	uint64_t t0;
	double apply_s, find_s;
	char name[32];

	account_set_init(&set);
	ck_assert_ptr_null(account_set_find(&set, "acct1"));
	account_set_apply(&set, mk_cfgs(NACCOUNTS, 0, 600), NACCOUNTS, true,
	    &diff);
	ck_assert_uint_eq(diff.added, NACCOUNTS);
	t0 = time_mono_us();
	for (size_t i = 0; i < NACCOUNTS; i++) {
		struct account *a;

		snprintf(name, sizeof(name), "acct%zu", i);
		a = account_set_find(&set, name);
		ck_assert_ptr_nonnull(a);
		ck_assert_str_eq(a->cfg->name, name);
	}
	find_s = (double)(time_mono_us() - t0) / 1e6;
	ck_assert_ptr_null(account_set_find(&set, "acct100000"));
	ck_assert_ptr_null(account_set_find(&set, "acct"));
	/* By the aor's user part too, for requests to the accounts. */
	for (size_t i = 0; i < NACCOUNTS; i += 997) {
		snprintf(name, sizeof(name), "acct%zu", i);
		ck_assert_ptr_eq(account_set_find_user(&set, slice_cstr(name)),
		    account_set_find(&set, name));
	}
	ck_assert_ptr_null(account_set_find_user(&set, slice_cstr("acct")));
	ck_assert_ptr_null(account_set_find_user(&set, slice_cstr("")));

	/*
	 * Reload: the first 1,000 go, 1,000 new come, every odd one
	 * changes.  A linear lookup per account would take minutes here.
	 */
	t0 = time_mono_us();
	account_set_apply(&set, mk_cfgs(NACCOUNTS, 1000, 300), NACCOUNTS,
	    true, &diff);
	apply_s = (double)(time_mono_us() - t0) / 1e6;
	ck_assert_uint_eq(diff.removed, 1000);
	ck_assert_uint_eq(diff.added, 1000);
	ck_assert_uint_eq(diff.changed, (NACCOUNTS - 1000) / 2);
	ck_assert_uint_eq(diff.unchanged, (NACCOUNTS - 1000) / 2);
	ck_assert_ptr_null(account_set_find(&set, "acct999"));
	ck_assert_ptr_nonnull(account_set_find(&set, "acct1000"));
	ck_assert_ptr_nonnull(account_set_find(&set, "acct100999"));
	/* The user table follows the reload. */
	ck_assert_ptr_null(account_set_find_user(&set, slice_cstr("acct999")));
	ck_assert_ptr_eq(account_set_find_user(&set, slice_cstr("acct100999")),
	    account_set_find(&set, "acct100999"));
	ck_assert_int_eq(account_set_find(&set, "acct1001")->cfg->expires,
	    300);
	/* Linear lookups would take minutes; a loaded sanitizer build
	 * takes seconds.  The bound catches the first, not the second. */
	ck_assert_msg(find_s < 30.0 && apply_s < 60.0, "100,000 finds %.2f "
	    "s, reload diff %.2f s", find_s, apply_s);
	account_set_clear(&set);
	ck_assert_ptr_null(account_set_find(&set, "acct1000"));
	ck_assert_ptr_null(account_set_find_user(&set, slice_cstr("acct1000")));
}
END_TEST

static Suite *
ua_suite(void)
{
	Suite *s = suite_create("ua");
	TCase *tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_options_stateless);
	tcase_add_test(tc, test_checks);
	tcase_add_test(tc, test_require_long_tag);
	tcase_add_test(tc, test_register);
	tcase_add_test(tc, test_large_and_server);
	suite_add_tcase(s, tc);
	tc = tcase_create("accounts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_account_hash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ua_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
