/*
 * Peer health (ua/qualify.c) on the real loop: a real struct ua with a
 * UDP listener on loopback and T1 = 50 ms, and mock peers, UDP sockets
 * of the test's own that answer each OPTIONS as the running case says
 * (200, 404, 407, or nothing at all) and count what they received.
 *
 * Cases: the threshold rule as a table; accounts on one first hop
 * sharing one probe (one OPTIONS per interval whatever their number),
 * and apart when the hop or the settings differ; up and down counted
 * live, with the peer.state and account.qualify events and the owner
 * told of the dead target; any final answer is an answer; a reload
 * (sync) that keeps an untouched peer as it was, starts a new one and
 * drops one no account uses; stop.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_msg.h"
#include "ua/account.h"
#include "ua/events.h"
#include "ua/qualify.h"
#include "ua/ua.h"

static struct event_base *base;
static struct event *tick;
static struct ua *ua;
static struct account_set set;
static struct qualify *q;

/* ---- mock peers ------------------------------------------------------------ */

#define MOCKS	2

static struct mock {
	int		 fd;
	int		 port;
	struct event	*ev;
	unsigned	 status;	/* 0: silent */
	unsigned	 options;	/* OPTIONS received (not copies) */
	char		 last_branch[64];
	char		 uri[64];	/* "sip:127.0.0.1:PORT" */
} mocks[MOCKS];

static void
mock_answer(struct mock *m, const struct sip_msg *req,
    const struct sockaddr_in *from)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "SIP/2.0 %u Whatever\r\n", m->status);
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];

		if (h->id == SIP_HDR_VIA || h->id == SIP_HDR_FROM ||
		    h->id == SIP_HDR_CALL_ID || h->id == SIP_HDR_CSEQ)
			strbuf_addf(&sb, "%.*s: %.*s\r\n", SLICE_ARG(h->name),
			    SLICE_ARG(h->value));
		else if (h->id == SIP_HDR_TO)
			strbuf_addf(&sb, "To: %.*s;tag=mock\r\n",
			    SLICE_ARG(h->value));
	}
	if (m->status == 407)
		strbuf_adds(&sb, "Proxy-Authenticate: Digest realm=\"x\", "
		    "nonce=\"n\"\r\n");
	strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(sendto(m->fd, sb.p, sb.n, 0,
	    (const struct sockaddr *)from, sizeof(*from)), (ssize_t)sb.n);
	strbuf_free(&sb);
}

static void
mock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mock *m = arg;

	(void)fd;
	(void)what;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct sip_parse_error pe;
		struct sip_msg *msg;
		char *buf = xmalloc(65536);
		char branch[64];
		ssize_t n;

		n = recvfrom(m->fd, buf, 65535, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			free(buf);
			return;
		}
		ck_assert_msg(sip_msg_parse(buf, (size_t)n, 0, &msg, &pe) == 0,
		    "the peer got a malformed message: %s", pe.reason);
		msg->owned = buf;
		ck_assert(msg->request && msg->method == SIP_METHOD_OPTIONS);
		snprintf(branch, sizeof(branch), "%.*s",
		    SLICE_ARG(msg->via[0].branch));
		/* Copies of one request (Timer E) are not probes. */
		if (strcmp(branch, m->last_branch) != 0) {
			m->options++;
			snprintf(m->last_branch, sizeof(m->last_branch), "%s",
			    branch);
		}
		if (m->status != 0)
			mock_answer(m, msg, &from);
		sip_msg_free(msg);
	}
}

static void
mocks_open(void)
{
	for (int i = 0; i < MOCKS; i++) {
		struct mock *m = &mocks[i];
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);

		memset(m, 0, sizeof(*m));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m->fd = socket(AF_INET, SOCK_DGRAM, 0);
		ck_assert_int_ge(m->fd, 0);
		ck_assert_int_eq(bind(m->fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(m->fd, (struct sockaddr *)&sin,
		    &len), 0);
		m->port = ntohs(sin.sin_port);
		snprintf(m->uri, sizeof(m->uri), "sip:127.0.0.1:%d", m->port);
		m->status = 200;
		m->ev = event_new(base, m->fd, EV_READ | EV_PERSIST,
		    mock_read_cb, m);
		event_add(m->ev, NULL);
	}
}

static void
mocks_close(void)
{
	for (int i = 0; i < MOCKS; i++) {
		event_free(mocks[i].ev);
		close(mocks[i].fd);
	}
}

/* ---- the loop and the events ------------------------------------------- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
run_for(unsigned ms)
{
	uint64_t until = time_mono_us() + (uint64_t)ms * 1000;

	while (time_mono_us() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

#define WAIT_FOR(cond, ms) do {						\
	uint64_t until_ = time_mono_us() + (uint64_t)(ms) * 1000;	\
									\
	while (!(cond) && time_mono_us() < until_)			\
		event_base_loop(base, EVLOOP_ONCE);			\
	ck_assert_msg((cond), "not within %u ms: %s", (unsigned)(ms),	\
	    #cond);							\
} while (0)

#define EVLOG_MAX	64

/* "TYPE ACCOUNT|uri STATE<PREV target rtt" for each live event. */
static struct {
	char	 text[EVLOG_MAX][256];
	size_t	 n;
} evlog;

static char downs[8][80];	/* targets told to the owner */
static size_t ndowns;

static const char *
kv_get(const struct events_event *ev, const char *key)
{
	for (size_t i = 0; i < ev->nkv; i++)
		if (strcmp(ev->kv[i].key, key) == 0)
			return ev->kv[i].value;
	return "";
}

static void
on_event(const struct events_event *ev, void *arg)
{
	(void)arg;
	if (!ev->live || evlog.n == EVLOG_MAX)
		return;
	snprintf(evlog.text[evlog.n++], sizeof(evlog.text[0]),
	    "%s %s %s<%s %s accounts=%s rtt=%s", ev->type,
	    ev->account != NULL ? ev->account : kv_get(ev, "uri"),
	    kv_get(ev, "state"), kv_get(ev, "prev"), kv_get(ev, "target"),
	    kv_get(ev, "accounts"), kv_get(ev, "rtt_ms")[0] ? "yes" : "no");
}

static bool
ev_has(const char *prefix)
{
	for (size_t i = 0; i < evlog.n; i++)
		if (strncmp(evlog.text[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void
on_down(const char *target, void *arg)
{
	(void)arg;
	if (ndowns < 8)
		snprintf(downs[ndowns], sizeof(downs[0]), "%s", target);
	ndowns++;
}

/* ---- accounts ----------------------------------------------------------- */

static struct account_cfg *
mk_cfg(const char *name, const struct mock *m, int interval, int up,
    int down)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));
	char aor[128];

	snprintf(aor, sizeof(aor), "sip:%s@test.example", name);
	c->name = xstrdup(name);
	c->aor = xstrdup(aor);
	c->auth_user = xstrdup(name);
	c->registrar = xstrdup(m->uri);
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->register_on = false;
	c->expires = 600;
	c->incoming = ACCOUNT_INCOMING_RING;
	c->qualify_interval = interval;
	c->qualify_timeout = 300;
	c->qualify_up = up;
	c->qualify_down = down;
	return c;
}

/* Applies the accounts (start-up when quiet) and syncs the peers. */
static void
apply(struct account_cfg **cfgs, size_t n, bool quiet)
{
	struct account_cfg **v = xcalloc(n > 0 ? n : 1, sizeof(*v));
	struct account_diff diff;

	if (n > 0)
		memcpy(v, cfgs, n * sizeof(*v));
	account_set_apply(&set, v, n, quiet, &diff);
	if (q == NULL)
		q = qualify_new(ua, &set, on_down, NULL);
	qualify_sync(q);
}

static struct qualify_info
peer_of(const char *name)
{
	const struct account *a = account_set_find(&set, name);
	struct qualify_info i;

	ck_assert_ptr_nonnull(a);
	ck_assert_msg(qualify_info_of(q, a, &i), "%s has no peer", name);
	return i;
}

static enum qualify_state
state_of(const char *name)
{
	return peer_of(name).state;
}

static struct events_sub *sub;

static void
setup(void)
{
	struct sip_tp_listen_conf l = { .transport = SIP_TP_UDP,
	    .address = "127.0.0.1:0" };
	struct ua_conf c = { 0 };
	const char *servers[1] = { "127.0.0.1:1" };
	struct timeval tv = { 0, 20 * 1000 };
	char err[256];

	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	c.listen = &l;
	c.nlisten = 1;
	c.t1_ms = 50;
	c.t2_ms = 400;
	c.t4_ms = 500;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-qualify/1";
	c.default_from = "sip:test@127.0.0.1";
	c.blocklist_ms = 60000;
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	mocks_open();
	memset(&evlog, 0, sizeof(evlog));
	ndowns = 0;
	sub = events_subscribe(EVENTS_KIND_PEER | EVENTS_KIND_ACCOUNT, NULL,
	    on_event, NULL);
	account_set_init(&set);
	q = NULL;
}

static void
teardown(void)
{
	qualify_free(q);
	q = NULL;
	ua_free(ua);
	ua = NULL;
	events_shutdown();
	account_set_clear(&set);
	mocks_close();
	event_free(tick);
	event_base_free(base);
}

/* ---- 1. the rule ------------------------------------------------------- */

START_TEST(test_judge)
{
	static const struct {
		unsigned	 up, down;
		const char	*outcomes;	/* a: answered, f: failed */
		const char	*states;	/* after each: ? + - */
	} cases[] = {
		{ 1, 2, "affaaf", "++-++" "+" },
		{ 1, 1, "fa", "-+" },
		{ 2, 3, "aafffa", "?+++-" "-" },
		{ 2, 3, "aafffaa", "?+++--+" },
		/* Never judged until a run is long enough. */
		{ 3, 3, "affaaf", "??????" },
		/* A failure breaks a run of answers, and back. */
		{ 2, 2, "afafaaff", "?????++-" },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		enum qualify_state st = QUALIFY_UNKNOWN;
		unsigned oks = 0, fails = 0;

		for (size_t i = 0; cases[c].outcomes[i] != '\0'; i++) {
			char got;

			st = qualify_judge(st, cases[c].outcomes[i] == 'a',
			    cases[c].up, cases[c].down, &oks, &fails);
			got = st == QUALIFY_REACHABLE ? '+' :
			    st == QUALIFY_UNREACHABLE ? '-' : '?';
			ck_assert_msg(got == cases[c].states[i],
			    "case %zu (up %u down %u) step %zu: got %c, want "
			    "%c", c, cases[c].up, cases[c].down, i, got,
			    cases[c].states[i]);
		}
	}
	ck_assert_str_eq(qualify_state_name(QUALIFY_UNKNOWN), "unknown");
	ck_assert_str_eq(qualify_state_name(QUALIFY_REACHABLE), "reachable");
	ck_assert_str_eq(qualify_state_name(QUALIFY_UNREACHABLE),
	    "unreachable");
}
END_TEST

/* ---- 2. the peer table ---------------------------------------------------- */

/*
 * Ten accounts on one registrar with the same settings: one peer, one
 * OPTIONS per interval.  Another registrar, or other settings, is
 * another peer; qualify off is none.
 */
START_TEST(test_shared_probe)
{
	struct account_cfg *cfgs[13];
	char name[16];
	struct qualify_info i;
	uint64_t t0;

	for (int k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "a%d", k);
		cfgs[k] = mk_cfg(name, &mocks[0], 1, 1, 2);
	}
	cfgs[10] = mk_cfg("other", &mocks[1], 1, 1, 2);
	cfgs[11] = mk_cfg("stricter", &mocks[0], 1, 1, 1);
	cfgs[12] = mk_cfg("off", &mocks[0], 0, 1, 2);
	t0 = time_mono_us();
	apply(cfgs, 13, true);
	ck_assert_uint_eq(qualify_count(q), 3);
	ck_assert(!qualify_info_of(q, account_set_find(&set, "off"), &i));
	i = peer_of("a3");
	ck_assert_uint_eq(i.accounts, 10);
	ck_assert_str_eq(i.uri, mocks[0].uri);
	ck_assert_str_eq(i.transport, "udp");
	ck_assert_int_eq(i.state, QUALIFY_UNKNOWN);
	ck_assert_uint_eq(peer_of("stricter").accounts, 1);
	/* The first probe comes within the interval, at a random point. */
	WAIT_FOR(state_of("a0") == QUALIFY_REACHABLE, 1500);
	run_for((unsigned)(3500 - (time_mono_us() - t0) / 1000));
	/* 3 or 4 probes in 3.5 s: mocks[0] carries two peers. */
	ck_assert_msg(mocks[0].options >= 6 && mocks[0].options <= 8,
	    "mocks[0] got %u OPTIONS", mocks[0].options);
	ck_assert_msg(mocks[1].options >= 3 && mocks[1].options <= 4,
	    "mocks[1] got %u OPTIONS", mocks[1].options);
	i = peer_of("a9");
	ck_assert_int_eq(i.state, QUALIFY_REACHABLE);
	ck_assert_uint_eq(i.last_status, 200);
	ck_assert(i.rtt_ms >= 0 && i.rtt_ms < 300);
	ck_assert_str_eq(i.last_error, "");
	ck_assert_uint_eq(i.lost, 0);
	{
		char t[80];

		snprintf(t, sizeof(t), "UDP 127.0.0.1:%d", mocks[0].port);
		ck_assert_str_eq(i.target, t);
	}
	/* One change each: peer.state from unknown. */
	{
		char want[128];

		snprintf(want, sizeof(want), "peer.state %s reachable<unknown",
		    mocks[0].uri);
		ck_assert(ev_has(want));
	}
	ck_assert(ev_has("account.qualify a7 reachable<unknown"));
	ck_assert(ev_has("account.qualify other reachable<unknown"));
	ck_assert(!ev_has("account.qualify off"));
}
END_TEST

/*
 * up = 2, down = 3, live: reachable only after the second answer,
 * unreachable only after the third silence (and the owner told which
 * target, with every failure after), reachable again after two
 * answers.
 */
START_TEST(test_thresholds)
{
	struct account_cfg *c = mk_cfg("alice", &mocks[0], 1, 2, 3);
	char target[80];
	unsigned n;

	snprintf(target, sizeof(target), "UDP 127.0.0.1:%d", mocks[0].port);
	apply(&c, 1, true);
	WAIT_FOR(mocks[0].options == 1, 1500);
	run_for(400);
	ck_assert_int_eq(state_of("alice"), QUALIFY_UNKNOWN);
	WAIT_FOR(mocks[0].options == 2, 1500);
	WAIT_FOR(state_of("alice") == QUALIFY_REACHABLE, 400);
	/* Silence: failures 1 and 2 change nothing. */
	mocks[0].status = 0;
	n = mocks[0].options;
	WAIT_FOR(mocks[0].options == n + 2, 2500);
	run_for(400);
	ck_assert_int_eq(state_of("alice"), QUALIFY_REACHABLE);
	ck_assert_uint_eq(peer_of("alice").failures, 2);
	ck_assert_uint_eq(ndowns, 0);
	WAIT_FOR(state_of("alice") == QUALIFY_UNREACHABLE, 1500);
	ck_assert_uint_eq(peer_of("alice").failures, 3);
	ck_assert(strstr(peer_of("alice").last_error, "timeout") != NULL);
	ck_assert_uint_eq(ndowns, 1);
	ck_assert_str_eq(downs[0], target);
	ck_assert(ev_has("peer.state sip:127.0.0.1"));
	ck_assert(ev_has("account.qualify alice unreachable<reachable"));
	/* Each failure while down tells the owner again. */
	WAIT_FOR(ndowns == 2, 1500);
	/* Back: two answers in a row. */
	mocks[0].status = 200;
	n = mocks[0].options;
	WAIT_FOR(mocks[0].options == n + 1, 1500);
	run_for(400);
	ck_assert_int_eq(state_of("alice"), QUALIFY_UNREACHABLE);
	WAIT_FOR(state_of("alice") == QUALIFY_REACHABLE, 1500);
	ck_assert(ev_has("account.qualify alice reachable<unreachable"));
	ck_assert_uint_eq(peer_of("alice").failures, 0);
	ck_assert_uint_ge(peer_of("alice").lost, 3);
}
END_TEST

/* 404, 407: an answer is an answer (something speaks SIP there). */
START_TEST(test_any_answer)
{
	struct account_cfg *c[2] = { mk_cfg("alice", &mocks[0], 1, 1, 1),
	    mk_cfg("bob", &mocks[1], 1, 1, 1) };

	mocks[0].status = 404;
	mocks[1].status = 407;
	apply(c, 2, true);
	WAIT_FOR(state_of("alice") == QUALIFY_REACHABLE &&
	    state_of("bob") == QUALIFY_REACHABLE, 1500);
	ck_assert_uint_eq(peer_of("alice").last_status, 404);
	ck_assert_uint_eq(peer_of("bob").last_status, 407);
}
END_TEST

/*
 * A reload: alice unchanged keeps her peer as it was (state, probes);
 * bob moves to another registrar (a new peer, started at once, the old
 * one dropped with no account left); carol turns qualify off.
 */
START_TEST(test_sync)
{
	struct account_cfg *c[3] = { mk_cfg("alice", &mocks[0], 1, 1, 2),
	    mk_cfg("bob", &mocks[0], 1, 1, 1),
	    mk_cfg("carol", &mocks[0], 1, 1, 1) };
	struct account_cfg *n[3];
	struct qualify_info before, after;
	const struct account *a;

	apply(c, 3, true);
	ck_assert_uint_eq(qualify_count(q), 2);
	WAIT_FOR(state_of("alice") == QUALIFY_REACHABLE &&
	    state_of("bob") == QUALIFY_REACHABLE, 1500);
	before = peer_of("alice");
	ck_assert_uint_eq(peer_of("bob").accounts, 2);
	n[0] = mk_cfg("alice", &mocks[0], 1, 1, 2);
	n[1] = mk_cfg("bob", &mocks[1], 1, 1, 1);
	n[2] = mk_cfg("carol", &mocks[0], 0, 1, 1);
	apply(n, 3, false);
	a = account_set_find(&set, "alice");
	ck_assert_int_eq(a->change, ACCOUNT_UNCHANGED);
	ck_assert_int_eq(account_set_find(&set, "carol")->change,
	    ACCOUNT_CHANGED);
	ck_assert_uint_eq(qualify_count(q), 2);
	after = peer_of("alice");
	ck_assert_int_eq(after.state, QUALIFY_REACHABLE);
	ck_assert_uint_ge(after.probes, before.probes);
	ck_assert(after.changed == before.changed);
	ck_assert_int_eq(state_of("bob"), QUALIFY_UNKNOWN);
	ck_assert_str_eq(peer_of("bob").uri, mocks[1].uri);
	ck_assert(!qualify_info_of(q, account_set_find(&set, "carol"),
	    &after));
	WAIT_FOR(state_of("bob") == QUALIFY_REACHABLE, 1500);
	/* Removing every account drops every peer. */
	apply(NULL, 0, false);
	ck_assert_uint_eq(qualify_count(q), 0);
}
END_TEST

/* Every transport an account may have names its peer (ws, wss too). */
START_TEST(test_transport_names)
{
	struct account_cfg *c[2] = { mk_cfg("alice", &mocks[0], 30, 1, 2),
	    mk_cfg("bob", &mocks[0], 30, 1, 2) };

	c[0]->transport = ACCOUNT_TRANSPORT_WS;
	c[1]->transport = ACCOUNT_TRANSPORT_WSS;
	apply(c, 2, true);
	ck_assert_uint_eq(qualify_count(q), 2);
	ck_assert_str_eq(peer_of("alice").transport, "ws");
	ck_assert_str_eq(peer_of("bob").transport, "wss");
}
END_TEST

/* A stopped agent sends nothing more. */
START_TEST(test_stop)
{
	struct account_cfg *c = mk_cfg("alice", &mocks[0], 1, 1, 2);
	unsigned got;

	apply(&c, 1, true);
	WAIT_FOR(mocks[0].options == 1, 1500);
	qualify_stop(q);
	got = mocks[0].options;
	run_for(1500);
	ck_assert_uint_eq(mocks[0].options, got);
}
END_TEST

static Suite *
qualify_suite(void)
{
	Suite *s = suite_create("qualify");
	TCase *tc = tcase_create("rule");

	tcase_add_test(tc, test_judge);
	suite_add_tcase(s, tc);
	tc = tcase_create("peers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_shared_probe);
	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_any_answer);
	tcase_add_test(tc, test_sync);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_transport_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(qualify_suite());
	int failed;

	log_init("test_qualify");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
