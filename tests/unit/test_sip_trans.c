/*
 * Transaction layer: every state machine of RFC 3261 §17 (and the RFC
 * 6026 Accepted states) on the real libevent loop with T1 = 4 ms,
 * T2 = 32 ms, T4 = 40 ms, against a fake transport that records each
 * message sent with its time, can fail sends, and feeds responses and
 * requests back through sip_trans_recv().  Timer intervals are checked
 * with a tolerance for loop latency (sanitizers slow it).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer's own count (its allocator is not malloc's). */
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_trans.h"
#include "sip/sip_trans_priv.h"
#include "sip/sip_transport.h"

#define T1	4
#define T2	32
#define T4	40
/*
 * Timers never fire early, so lower bounds are exact; upper bounds allow
 * this much loop latency (ms): enough for a 2-core machine running the
 * suite with -j2 beside other work, which saw 10 ms overrun.  Tighter
 * for a quiet machine: SIPX_TIMER_TOL_MS=5.
 */
#define TOL_DEFAULT	40
#define MAXSENT	256

struct sent {
	uint64_t	 at_us;
	char		*buf;
	size_t		 len;
	struct sip_msg	*msg;
};

static struct {
	struct sent	 v[MAXSENT];
	int		 n;
	int		 fail;		/* errno returned by send, 0: ok */
	bool		 to_stream;	/* act as a §18.1.1 switch to TCP */
} tp;

struct evrec {
	enum sip_trans_event	 ev[64];
	unsigned		 status[64];
	int			 err[64];
	uint64_t		 at_us[64];
	int			 n;
	bool			 detach_on_final;
};

static struct event_base *base;
static struct sip_trans_layer *layer;
static struct sip_trans_conf conf;
static uint64_t t0;
static double tol = TOL_DEFAULT;
static struct sip_strans *last_st;
static int nrequests;
static int nacks_up;
static struct evrec srec;	/* server handler events */

static int
fake_send(void *arg, struct sip_dest *dst, const char *buf, size_t len)
{
	struct sent *s;
	struct sip_parse_error perr;
	char *copy;

	if (tp.fail != 0)
		return tp.fail;
	if (tp.to_stream && !dst->no_switch)
		dst->reliable = true;
	ck_assert_int_lt(tp.n, MAXSENT);
	s = &tp.v[tp.n++];
	s->at_us = time_mono_us();
	s->buf = malloc(len + 1);
	memcpy(s->buf, buf, len);
	s->buf[len] = '\0';
	s->len = len;
	copy = malloc(len);
	memcpy(copy, buf, len);
	ck_assert_int_eq(sip_msg_parse(copy, len, 0, &s->msg, &perr), 0);
	return 0;
}

static const struct sip_tp_ops fake_ops = { fake_send };

static void
on_request(struct sip_trans_layer *l, struct sip_strans *st,
    const struct sip_msg *msg, void *arg)
{
	nrequests++;
	if (st == NULL)
		nacks_up++;
	last_st = st;
}

static void
setup(void)
{
	struct event_config *cfg = event_config_new();

	memset(&tp, 0, sizeof(tp));
	memset(&srec, 0, sizeof(srec));
	last_st = NULL;
	nrequests = nacks_up = 0;
	/* Millisecond timers need the precise clock, not the coarse one. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	sip_trans_conf_default(&conf);
	conf.t1_ms = T1;
	conf.t2_ms = T2;
	conf.t4_ms = T4;
	conf.trying_ms = 0;
	layer = sip_trans_layer_new(base, &conf, &fake_ops, NULL);
	sip_trans_set_request_handler(layer, on_request, NULL);
	t0 = time_mono_us();
	if (getenv("SIPX_TIMER_TOL_MS") != NULL)
		tol = atof(getenv("SIPX_TIMER_TOL_MS"));
}

static void
teardown(void)
{
	sip_trans_layer_free(layer);
	event_base_free(base);
	for (int i = 0; i < tp.n; i++) {
		free(tp.v[i].buf);
		sip_msg_free(tp.v[i].msg);
	}
}

static void
set_conf(void)
{
	sip_trans_set_conf(layer, &conf);
}

/* Runs the loop for ms milliseconds. */
static void
run(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until cond holds, at most max_ms. */
#define RUN_UNTIL(cond, max_ms) do {					\
	uint64_t until_ = time_mono_us() + (max_ms) * 1000u;		\
	while (!(cond) && time_mono_us() < until_)			\
		run(1);							\
} while (0)

static double
ms_between(uint64_t a, uint64_t b)
{
	return ((double)b - (double)a) / 1000.0;
}

static void
check_interval(int i, double expect)
{
	double d = ms_between(tp.v[i - 1].at_us, tp.v[i].at_us);

	ck_assert_msg(d >= expect - 1 && d <= expect + tol,
	    "interval %d: %.2f ms, expected %.0f", i, d, expect);
}

static struct sip_dest
dest(bool reliable)
{
	struct sip_dest d;

	memset(&d, 0, sizeof(d));
	d.reliable = reliable;
	d.conn_id = reliable ? 7 : 0;
	return d;
}

static char *fmt(const char *, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
	struct strbuf b = STRBUF_INIT;
	va_list ap;

	va_start(ap, f);
	strbuf_vaddf(&b, f, ap);
	va_end(ap);
	return strbuf_detach(&b);
}

static char *
request(const char *method, const char *branch, const char *callid,
    unsigned cseq, const char *cseq_method, const char *to_tag)
{
	return fmt("%s sip:bob@192.0.2.2 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
	    "Max-Forwards: 70\r\n"
	    "Route: <sip:p1.example.com;lr>\r\n"
	    "Route: <sip:p2.example.com;lr>\r\n"
	    "From: Alice <sip:alice@example.com>;tag=ft1\r\n"
	    "To: Bob <sip:bob@example.com>%s%s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u %s\r\n"
	    "Contact: <sip:alice@192.0.2.1>\r\n"
	    "Content-Length: 0\r\n\r\n", method, branch,
	    to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
	    callid, cseq, cseq_method);
}

static char *
response(unsigned status, const char *branch, unsigned cseq,
    const char *method, const char *to_tag)
{
	return fmt("SIP/2.0 %u Whatever\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
	    "From: Alice <sip:alice@example.com>;tag=ft1\r\n"
	    "To: Bob <sip:bob@example.com>%s%s\r\n"
	    "Call-ID: call-1\r\n"
	    "CSeq: %u %s\r\n"
	    "Content-Length: 0\r\n\r\n", status, branch,
	    to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
	    cseq, method);
}

/* Parses text (taken) and hands it to the layer as if from the wire. */
static void
inject(char *text, bool reliable)
{
	struct sip_msg *m = NULL;
	struct sip_parse_error perr;
	struct sip_dest d = dest(reliable);
	size_t n = strlen(text);

	ck_assert_int_eq(sip_msg_parse(text, n, 0, &m, &perr), 0);
	sip_trans_recv(layer, m, &d);
}

static void
crec(struct sip_ctrans *ct, enum sip_trans_event ev, int err,
    const struct sip_msg *msg, void *arg)
{
	struct evrec *r = arg;

	ck_assert_int_lt(r->n, 64);
	r->ev[r->n] = ev;
	r->err[r->n] = err;
	r->status[r->n] = msg != NULL ? msg->status : 0;
	r->at_us[r->n] = time_mono_us();
	r->n++;
	if (r->detach_on_final && msg != NULL && msg->status >= 200)
		sip_ctrans_detach(ct);
}

static void
srec_h(struct sip_strans *st, enum sip_trans_event ev, int err,
    const struct sip_msg *msg, void *arg)
{
	struct evrec *r = arg;

	ck_assert_int_lt(r->n, 64);
	r->ev[r->n] = ev;
	r->err[r->n] = err;
	r->status[r->n] = 0;
	r->at_us[r->n] = time_mono_us();
	r->n++;
}

static struct sip_ctrans *
start(const char *method, const char *branch, bool reliable,
    struct evrec *r)
{
	char *req = request(method, branch, "call-1", 1, method, NULL);
	struct sip_dest d = dest(reliable);
	struct sip_ctrans *ct = NULL;

	ck_assert_int_eq(sip_ctrans_send(layer, req, strlen(req), &d, crec, r,
	    &ct), 0);
	free(req);
	ck_assert_ptr_nonnull(ct);
	return ct;
}

static struct slice
hdr(const struct sip_msg *m, enum sip_hdr_id id, unsigned n)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id, n);

	return h != NULL ? h->value : SLICE_NULL;
}

/* ---- non-INVITE client --------------------------------------------------- */

START_TEST(test_nict_udp_timer_e_f)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("OPTIONS", "z9hG4bKe1", false, &r);
	const double expect[] = { 4, 8, 16, 32, 32, 32, 32 };

	ck_assert_str_eq(sip_ctrans_state_name(sip_ctrans_state(ct)),
	    "trying");
	RUN_UNTIL(r.n == 2, 64 * T1 + 300);
	/* §17.1.2.2: E at T1, 2T1, 4T1, … capped at T2. */
	ck_assert_int_ge(tp.n, 9);
	for (int i = 1; i <= 7; i++)
		check_interval(i, expect[i - 1]);
	for (int i = 1; i < tp.n; i++)
		ck_assert_mem_eq(tp.v[i].buf, tp.v[0].buf, tp.v[0].len);
	/* Timer F: TIMEOUT at 64*T1, then TERMINATED. */
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0], SIP_TRANS_EV_TIMEOUT);
	ck_assert_int_eq(r.err[0], ETIMEDOUT);
	ck_assert_int_eq(r.ev[1], SIP_TRANS_EV_TERMINATED);
	ck_assert(ms_between(tp.v[0].at_us, r.at_us[0]) >= 64 * T1 - 1);
	ck_assert(ms_between(tp.v[0].at_us, r.at_us[0]) <= 64 * T1 + 20);
	ck_assert_uint_eq(sip_trans_stats(layer)->timeouts, 1);
	ck_assert_uint_eq(sip_trans_stats(layer)->retrans_sent,
	    (uint64_t)tp.n - 1);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
	ck_assert_uint_eq(sip_trans_stats(layer)->terminated[
	    SIP_TRANS_CLIENT_NON_INVITE], 1);
}
END_TEST

START_TEST(test_nict_udp_proceeding_then_k)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("REGISTER", "z9hG4bKe2", false, &r);
	int before;

	inject(response(100, "z9hG4bKe2", 1, "REGISTER", NULL), false);
	ck_assert_str_eq(sip_ctrans_state_name(sip_ctrans_state(ct)),
	    "proceeding");
	before = tp.n;
	RUN_UNTIL(tp.n - before >= 4, 3 * T2 + 300);
	/* §17.1.2.2: in Proceeding, E fires at T2 (first one sooner). */
	ck_assert_int_ge(tp.n - before, 3);
	for (int i = before + 1; i < tp.n; i++)
		check_interval(i, T2);
	inject(response(200, "z9hG4bKe2", 1, "REGISTER", "tt"), false);
	ck_assert_str_eq(sip_ctrans_state_name(sip_ctrans_state(ct)),
	    "completed");
	before = tp.n;
	/* A retransmitted final is absorbed. */
	inject(response(200, "z9hG4bKe2", 1, "REGISTER", "tt"), false);
	ck_assert_uint_eq(sip_trans_stats(layer)->retrans_absorbed, 1);
	ck_assert_int_eq(r.n, 2);
	ck_assert_uint_eq(r.status[0], 100);
	ck_assert_uint_eq(r.status[1], 200);
	RUN_UNTIL(r.n == 3, T4 + 200);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.ev[2], SIP_TRANS_EV_TERMINATED);
	/* Timer K = T4. */
	ck_assert(ms_between(r.at_us[1], r.at_us[2]) >= T4 - 1);
	ck_assert(ms_between(r.at_us[1], r.at_us[2]) <= T4 + tol);
	ck_assert_int_eq(tp.n, before);	/* no sends in Completed */
}
END_TEST

START_TEST(test_nict_reliable)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("OPTIONS", "z9hG4bKr1", true, &r);

	run(40);
	ck_assert_int_eq(tp.n, 1);	/* no retransmission over TCP */
	inject(response(200, "z9hG4bKr1", 1, "OPTIONS", "x"), true);
	/* Timer K = 0: Terminated at once. */
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_TERMINATED);
	ck_assert_int_eq(r.n, 1);
	run(1);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[1], SIP_TRANS_EV_TERMINATED);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
}
END_TEST

START_TEST(test_nict_reliable_timer_f)
{
	struct evrec r = { 0 };

	start("OPTIONS", "z9hG4bKr2", true, &r);
	RUN_UNTIL(r.n == 2, 64 * T1 + 300);
	ck_assert_int_eq(tp.n, 1);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0], SIP_TRANS_EV_TIMEOUT);
}
END_TEST

/* ---- INVITE client ------------------------------------------------------- */

START_TEST(test_ict_timer_a_b)
{
	struct evrec r = { 0 };
	const double expect[] = { 4, 8, 16, 32, 64 };

	start("INVITE", "z9hG4bKa1", false, &r);
	RUN_UNTIL(r.n == 2, 64 * T1 + 300);
	/* §17.1.1.2: Timer A doubles without a cap. */
	ck_assert_int_ge(tp.n, 6);
	ck_assert_int_le(tp.n, 7);
	for (int i = 1; i <= 5; i++)
		check_interval(i, expect[i - 1]);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0], SIP_TRANS_EV_TIMEOUT);
	ck_assert_msg(ms_between(tp.v[0].at_us, r.at_us[0]) >= 64 * T1 - 1,
	    "Timer B after %.2f ms", ms_between(tp.v[0].at_us, r.at_us[0]));
	ck_assert_uint_eq(sip_trans_stats(layer)->timeouts, 1);
}
END_TEST

START_TEST(test_ict_486_ack_timer_d)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct;
	const struct sip_msg *ack, *inv;
	int n;

	conf.timer_d_ms = 60;
	set_conf();
	ct = start("INVITE", "z9hG4bKd1", false, &r);
	inject(response(180, "z9hG4bKd1", 1, "INVITE", "tt"), false);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_PROCEEDING);
	n = tp.n;
	run(20);
	ck_assert_int_eq(tp.n, n);		/* no Timer A in Proceeding */
	inject(response(486, "z9hG4bKd1", 1, "INVITE", "busy7"), false);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_COMPLETED);
	ck_assert_int_eq(tp.n, n + 1);

	/* §17.1.1.3: the ACK. */
	ack = tp.v[n].msg;
	inv = tp.v[0].msg;
	ck_assert(ack->request && ack->method == SIP_METHOD_ACK);
	ck_assert(slice_eq(ack->ruri_str, inv->ruri_str));
	ck_assert_int_eq(ack->nvia, 1);
	ck_assert(slice_eq(hdr(ack, SIP_HDR_VIA, 0), hdr(inv, SIP_HDR_VIA, 0)));
	ck_assert(slice_eq(hdr(ack, SIP_HDR_FROM, 0),
	    hdr(inv, SIP_HDR_FROM, 0)));
	ck_assert(slice_eq_cstr(ack->to.tag, "busy7"));
	ck_assert(slice_eq(ack->call_id, inv->call_id));
	ck_assert_uint_eq(ack->cseq.num, inv->cseq.num);
	ck_assert(ack->cseq.method == SIP_METHOD_ACK);
	ck_assert_int_eq(ack->nroute, 2);
	ck_assert(slice_eq(hdr(ack, SIP_HDR_ROUTE, 0),
	    hdr(inv, SIP_HDR_ROUTE, 0)));
	ck_assert(slice_eq(hdr(ack, SIP_HDR_ROUTE, 1),
	    hdr(inv, SIP_HDR_ROUTE, 1)));
	ck_assert_int_eq(ack->content_length, 0);

	/* A retransmitted 486 gets the same ACK again, not passed up. */
	inject(response(486, "z9hG4bKd1", 1, "INVITE", "busy7"), false);
	ck_assert_int_eq(tp.n, n + 2);
	ck_assert_uint_eq(tp.v[n + 1].len, tp.v[n].len);
	ck_assert_mem_eq(tp.v[n + 1].buf, tp.v[n].buf, tp.v[n].len);
	ck_assert_int_eq(r.n, 2);		/* 180, 486 */
	ck_assert_uint_eq(r.status[1], 486);

	/* Timer D. */
	RUN_UNTIL(r.n == 3, 300);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.ev[2], SIP_TRANS_EV_TERMINATED);
	ck_assert(ms_between(r.at_us[1], r.at_us[2]) >= 60 - 1);
	ck_assert(ms_between(r.at_us[1], r.at_us[2]) <= 60 + tol);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
}
END_TEST

/* §17.1.1.3 after a §18.1.1 switch: the ACK's Via says TCP too. */
START_TEST(test_ict_switched_ack_via)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct;
	struct slice via;

	tp.to_stream = true;
	ct = start("INVITE", "z9hG4bKsw3", false, &r);
	inject(response(486, "z9hG4bKsw3", 1, "INVITE", "b"), true);
	ck_assert_int_eq(tp.n, 2);		/* INVITE, ACK; no Timer A */
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_TERMINATED);
	via = hdr(tp.v[1].msg, SIP_HDR_VIA, 0);
	ck_assert_msg(slice_eq_cstr(via,
	    "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKsw3"), "%.*s",
	    SLICE_ARG(via));
	tp.to_stream = false;
}
END_TEST

START_TEST(test_ict_reliable_no_timer_d)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("INVITE", "z9hG4bKd2", true, &r);

	inject(response(603, "z9hG4bKd2", 1, "INVITE", "x"), true);
	ck_assert_int_eq(tp.n, 2);		/* INVITE, ACK */
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_TERMINATED);
}
END_TEST

START_TEST(test_ict_2xx_accepted)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("INVITE", "z9hG4bKm1", false, &r);

	inject(response(200, "z9hG4bKm1", 1, "INVITE", "a"), false);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_ACCEPTED);
	/* RFC 6026: retransmitted and forked 2xx go up; no ACK here. */
	inject(response(200, "z9hG4bKm1", 1, "INVITE", "a"), false);
	inject(response(200, "z9hG4bKm1", 1, "INVITE", "fork2"), false);
	inject(response(486, "z9hG4bKm1", 1, "INVITE", "b"), false);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(tp.n, 1);
	RUN_UNTIL(r.n == 4, 64 * T1 + 300);
	ck_assert_int_eq(tp.n, 1);		/* Timer A stopped */
	ck_assert_int_eq(r.n, 4);
	ck_assert_int_eq(r.ev[3], SIP_TRANS_EV_TERMINATED);
	/* Timer M = 64*T1 (RFC 6026). */
	ck_assert(ms_between(r.at_us[0], r.at_us[3]) >= 64 * T1 - 1);
}
END_TEST

START_TEST(test_ctrans_detach)
{
	struct evrec r = { 0 };
	struct sip_ctrans *ct = start("INVITE", "z9hG4bKx1", false, &r);

	run(10);
	sip_ctrans_detach(ct);
	RUN_UNTIL(sip_trans_count(layer) == 0, 64 * T1 + 300);
	ck_assert_int_eq(r.n, 0);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
	ck_assert_uint_eq(sip_trans_stats(layer)->timeouts, 1);
}
END_TEST

START_TEST(test_ctrans_detach_in_handler)
{
	struct evrec r = { 0 };

	r.detach_on_final = true;
	start("OPTIONS", "z9hG4bKx2", false, &r);
	inject(response(200, "z9hG4bKx2", 1, "OPTIONS", "q"), false);
	RUN_UNTIL(sip_trans_count(layer) == 0, T4 + 300);
	run(1);
	ck_assert_int_eq(r.n, 1);	/* no TERMINATED after detach */
}
END_TEST

START_TEST(test_ctrans_bad_and_duplicate)
{
	struct evrec r = { 0 };
	struct sip_dest d = dest(false);
	char *ack = request("ACK", "z9hG4bKy1", "c", 1, "ACK", NULL);
	char *nobranch = fmt("OPTIONS sip:a@b SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
	    "Content-Length: 0\r\n\r\n");
	char *dup;
	struct sip_ctrans *ct;

	ck_assert_int_eq(sip_ctrans_send(layer, ack, strlen(ack), &d, crec,
	    &r, &ct), EINVAL);
	ck_assert_ptr_null(ct);
	ck_assert_int_eq(sip_ctrans_send(layer, nobranch, strlen(nobranch),
	    &d, crec, &r, &ct), EINVAL);
	start("OPTIONS", "z9hG4bKy2", false, &r);
	dup = request("OPTIONS", "z9hG4bKy2", "call-1", 1, "OPTIONS", NULL);
	ck_assert_int_eq(sip_ctrans_send(layer, dup, strlen(dup), &d, crec,
	    &r, &ct), EEXIST);
	/* CANCEL with the same branch is another transaction (§9.1). */
	free(dup);
	dup = request("CANCEL", "z9hG4bKy2", "call-1", 1, "CANCEL", NULL);
	ck_assert_int_eq(sip_ctrans_send(layer, dup, strlen(dup), &d, crec,
	    &r, &ct), 0);
	/* ... and a response to the CANCEL matches only the CANCEL. */
	inject(response(200, "z9hG4bKy2", 1, "CANCEL", "z"), false);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_COMPLETED);
	free(dup);
	free(ack);
	free(nobranch);
}
END_TEST

START_TEST(test_ctrans_tp_error)
{
	struct evrec r = { 0 };
	struct sip_dest d = dest(false);
	char *req = request("OPTIONS", "z9hG4bKf1", "c", 1, "OPTIONS", NULL);
	struct sip_ctrans *ct;

	tp.fail = ENETUNREACH;
	ck_assert_int_eq(sip_ctrans_send(layer, req, strlen(req), &d, crec,
	    &r, &ct), ENETUNREACH);
	ck_assert_ptr_null(ct);
	run(1);
	ck_assert_int_eq(r.n, 0);
	/* A retransmission that fails ends the transaction. */
	tp.fail = 0;
	start("OPTIONS", "z9hG4bKf2", false, &r);
	tp.fail = EHOSTUNREACH;
	RUN_UNTIL(r.n == 2, 200);
	ck_assert_int_eq(r.n, 2);
	ck_assert_int_eq(r.ev[0], SIP_TRANS_EV_TP_ERROR);
	ck_assert_int_eq(r.err[0], EHOSTUNREACH);
	ck_assert_int_eq(r.ev[1], SIP_TRANS_EV_TERMINATED);
	/* A lost connection fails what used it. */
	tp.fail = 0;
	memset(&r, 0, sizeof(r));
	start("OPTIONS", "z9hG4bKf3", true, &r);
	sip_trans_tp_failed(layer, 99, ECONNRESET);
	ck_assert_int_eq(r.n, 0);
	sip_trans_tp_failed(layer, 7, ECONNRESET);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.err[0], ECONNRESET);
	free(req);
}
END_TEST

START_TEST(test_stray_response)
{
	struct evrec r = { 0 };

	inject(response(200, "z9hG4bKnone", 1, "OPTIONS", "x"), false);
	ck_assert_uint_eq(sip_trans_stats(layer)->stray_responses, 1);
	/* Right branch, wrong CSeq method: no match either (§17.1.3). */
	start("OPTIONS", "z9hG4bKs1", false, &r);
	inject(response(200, "z9hG4bKs1", 1, "INFO", "x"), false);
	ck_assert_uint_eq(sip_trans_stats(layer)->stray_responses, 2);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

/* ---- non-INVITE server --------------------------------------------------- */

START_TEST(test_nist_retransmit_and_j)
{
	struct sip_strans *st;
	int n;

	inject(request("OPTIONS", "z9hG4bKn1", "c1", 5, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(nrequests, 1);
	st = last_st;
	ck_assert_ptr_nonnull(st);
	sip_strans_set_handler(st, srec_h, &srec);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_TRYING);
	/* Trying: a retransmission is absorbed, nothing to send. */
	inject(request("OPTIONS", "z9hG4bKn1", "c1", 5, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(nrequests, 1);
	ck_assert_int_eq(tp.n, 0);
	ck_assert_int_eq(sip_strans_reply(st, 180, "Wait", "tg"), 0);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_PROCEEDING);
	inject(request("OPTIONS", "z9hG4bKn1", "c1", 5, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(tp.n, 2);
	ck_assert_uint_eq(tp.v[1].msg->status, 180);
	ck_assert_int_eq(sip_strans_reply(st, 200, "OK", "tg"), 0);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_COMPLETED);
	n = tp.n;
	inject(request("OPTIONS", "z9hG4bKn1", "c1", 5, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(tp.n, n + 1);
	ck_assert_mem_eq(tp.v[n].buf, tp.v[n - 1].buf, tp.v[n].len);
	ck_assert_uint_eq(tp.v[n].msg->status, 200);
	ck_assert_int_eq(sip_strans_reply(st, 202, "Again", "tg"), EALREADY);
	ck_assert_uint_eq(sip_trans_stats(layer)->retrans_absorbed, 3);
	/* Timer J = 64*T1. */
	RUN_UNTIL(srec.n == 1, 64 * T1 + 300);
	ck_assert_int_eq(srec.n, 1);
	ck_assert(ms_between(tp.v[n - 1].at_us, srec.at_us[0]) >= 64 * T1 - 1);
	ck_assert_int_eq(srec.ev[0], SIP_TRANS_EV_TERMINATED);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
	ck_assert_int_eq(nrequests, 1);
}
END_TEST

START_TEST(test_nist_reliable_j_zero)
{
	inject(request("MESSAGE", "z9hG4bKn2", "c2", 1, "MESSAGE", NULL),
	    true);
	ck_assert_int_eq(sip_strans_reply(last_st, 200, "OK", "t"), 0);
	ck_assert_int_eq(sip_strans_state(last_st), SIP_STRANS_TERMINATED);
	run(1);
	ck_assert_uint_eq(sip_trans_count(layer), 0);
}
END_TEST

START_TEST(test_no_handler_503)
{
	sip_trans_set_request_handler(layer, NULL, NULL);
	inject(request("OPTIONS", "z9hG4bKn3", "c3", 1, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(tp.n, 1);
	ck_assert_uint_eq(tp.v[0].msg->status, 503);
}
END_TEST

/* ---- INVITE server ------------------------------------------------------- */

START_TEST(test_ist_trying_g_h)
{
	struct sip_strans *st;
	const double expect[] = { 4, 8, 16, 32, 32, 32 };
	int n;

	conf.trying_ms = 10;
	set_conf();
	inject(request("INVITE", "z9hG4bKi1", "c4", 1, "INVITE", NULL),
	    false);
	st = last_st;
	sip_strans_set_handler(st, srec_h, &srec);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_PROCEEDING);
	RUN_UNTIL(tp.n == 1, 200);
	/* §17.2.1: 100 Trying from the transaction, after trying_ms. */
	ck_assert_int_eq(tp.n, 1);
	ck_assert(ms_between(t0, tp.v[0].at_us) >= 10 - 1);
	ck_assert_uint_eq(tp.v[0].msg->status, 100);
	ck_assert(slice_empty(tp.v[0].msg->to.tag));
	/* A retransmitted INVITE gets the 100 again. */
	inject(request("INVITE", "z9hG4bKi1", "c4", 1, "INVITE", NULL),
	    false);
	ck_assert_int_eq(tp.n, 2);
	n = tp.n;
	ck_assert_int_eq(sip_strans_reply(st, 486, "Busy Here", "ut"), 0);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_COMPLETED);
	RUN_UNTIL(srec.n == 2, 64 * T1 + 300);
	/* Timer G: T1, 2T1, … capped at T2, until Timer H. */
	ck_assert_int_ge(tp.n - n, 9);
	for (int i = n + 1; i <= n + 6; i++)
		check_interval(i, expect[i - n - 1]);
	for (int i = n; i < tp.n; i++)
		ck_assert_uint_eq(tp.v[i].msg->status, 486);
	ck_assert_int_eq(srec.n, 2);
	ck_assert_int_eq(srec.ev[0], SIP_TRANS_EV_TIMEOUT);
	ck_assert(ms_between(tp.v[n].at_us, srec.at_us[0]) >= 64 * T1 - 1);
	ck_assert_int_eq(srec.ev[1], SIP_TRANS_EV_TERMINATED);
	ck_assert_uint_eq(sip_trans_stats(layer)->timeouts, 1);
}
END_TEST

START_TEST(test_ist_ack_timer_i)
{
	struct sip_strans *st;
	int n;

	inject(request("INVITE", "z9hG4bKi2", "c5", 1, "INVITE", NULL),
	    false);
	st = last_st;
	sip_strans_set_handler(st, srec_h, &srec);
	ck_assert_int_eq(sip_strans_reply(st, 404, "Not Found", "ut"), 0);
	RUN_UNTIL(tp.n >= 2, 200);		/* Timer G */
	n = tp.n;
	inject(request("INVITE", "z9hG4bKi2", "c5", 1, "INVITE", NULL),
	    false);
	ck_assert_int_eq(tp.n, n + 1);		/* answered again */
	ck_assert_uint_eq(tp.v[n].msg->status, 404);
	/* The ACK (same branch, §17.1.1.3) ends the retransmissions. */
	inject(request("ACK", "z9hG4bKi2", "c5", 1, "ACK", "ut"), false);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_CONFIRMED);
	ck_assert_int_eq(srec.n, 1);
	ck_assert_int_eq(srec.ev[0], SIP_TRANS_EV_ACK);
	n = tp.n;
	inject(request("ACK", "z9hG4bKi2", "c5", 1, "ACK", "ut"), false);
	ck_assert_int_eq(srec.n, 1);		/* absorbed */
	ck_assert_int_eq(nacks_up, 0);
	RUN_UNTIL(srec.n == 2, T4 + 300);
	ck_assert_int_eq(tp.n, n);		/* no Timer G after ACK */
	ck_assert_int_eq(srec.n, 2);
	ck_assert_int_eq(srec.ev[1], SIP_TRANS_EV_TERMINATED);
	/* Timer I = T4. */
	ck_assert(ms_between(srec.at_us[0], srec.at_us[1]) >= T4 - 1);
	ck_assert(ms_between(srec.at_us[0], srec.at_us[1]) <= T4 + tol);
	ck_assert_int_eq(nrequests, 1);
}
END_TEST

START_TEST(test_ist_2xx_accepted)
{
	struct sip_strans *st;
	struct strbuf ok = STRBUF_INIT;
	struct sip_build b = { 0 };

	inject(request("INVITE", "z9hG4bKi3", "c6", 1, "INVITE", NULL),
	    false);
	st = last_st;
	sip_strans_set_handler(st, srec_h, &srec);
	sip_build_response_to(&b, sip_strans_request(st), 200, "OK", "ut");
	sip_build_finish(&b, &ok);
	sip_build_free(&b);
	ck_assert_int_eq(sip_strans_respond(st, ok.p, ok.n), 0);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_ACCEPTED);
	run(20);
	ck_assert_int_eq(tp.n, 1);	/* the user retransmits 2xx, not us */
	inject(request("INVITE", "z9hG4bKi3", "c6", 1, "INVITE", NULL),
	    false);
	ck_assert_int_eq(tp.n, 1);	/* absorbed */
	ck_assert_int_eq(sip_strans_respond(st, ok.p, ok.n), 0);
	ck_assert_int_eq(tp.n, 2);
	ck_assert_int_eq(sip_strans_reply(st, 486, "Busy", "ut"), EALREADY);
	/* The ACK for a 2xx has its own branch: it goes to the user. */
	inject(request("ACK", "z9hG4bKother", "c6", 1, "ACK", "ut"), false);
	ck_assert_int_eq(nacks_up, 1);
	RUN_UNTIL(srec.n == 1, 64 * T1 + 300);
	ck_assert_int_eq(tp.n, 2);
	ck_assert_int_eq(srec.n, 1);
	ck_assert_int_eq(srec.ev[0], SIP_TRANS_EV_TERMINATED);
	strbuf_free(&ok);
}
END_TEST

START_TEST(test_ist_reliable)
{
	struct sip_strans *st;

	inject(request("INVITE", "z9hG4bKi4", "c7", 1, "INVITE", NULL), true);
	st = last_st;
	ck_assert_int_eq(sip_strans_reply(st, 486, "Busy", "ut"), 0);
	run(30);
	ck_assert_int_eq(tp.n, 1);		/* no Timer G over TCP */
	inject(request("ACK", "z9hG4bKi4", "c7", 1, "ACK", "ut"), true);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_TERMINATED);
}
END_TEST

START_TEST(test_cancel_matching)
{
	struct sip_strans *inv, *cancel;

	inject(request("INVITE", "z9hG4bKc1", "c8", 3, "INVITE", NULL),
	    false);
	inv = last_st;
	inject(request("INVITE", "z9hG4bKc2", "c9", 3, "INVITE", NULL),
	    false);
	inject(request("CANCEL", "z9hG4bKc1", "c8", 3, "CANCEL", NULL),
	    false);
	ck_assert_int_eq(nrequests, 3);
	cancel = last_st;
	ck_assert_ptr_ne(cancel, inv);
	ck_assert_ptr_eq(sip_trans_find_invite(layer,
	    sip_strans_request(cancel)), inv);
	ck_assert_int_eq(sip_strans_reply(cancel, 200, "OK", "ut"), 0);
	ck_assert_int_eq(sip_strans_reply(inv, 487, "Request Terminated",
	    "ut"), 0);
	ck_assert_int_eq(sip_strans_state(inv), SIP_STRANS_COMPLETED);
	/* A CANCEL for no INVITE finds nothing. */
	inject(request("CANCEL", "z9hG4bKc3", "c10", 3, "CANCEL", NULL),
	    false);
	ck_assert_ptr_null(sip_trans_find_invite(layer,
	    sip_strans_request(last_st)));
}
END_TEST

/* §17.2.3: branches without the cookie match on the old fields. */
START_TEST(test_rfc2543_matching)
{
	struct sip_strans *st, *cancel;

	inject(request("INVITE", "old1", "c11", 9, "INVITE", NULL), false);
	st = last_st;
	sip_strans_set_handler(st, srec_h, &srec);
	/* Same fields: a retransmission. */
	inject(request("INVITE", "old1", "c11", 9, "INVITE", NULL), false);
	ck_assert_int_eq(nrequests, 1);
	/* Another Call-ID: a new transaction. */
	inject(request("INVITE", "old1", "c12", 9, "INVITE", NULL), false);
	ck_assert_int_eq(nrequests, 2);
	ck_assert_ptr_ne(last_st, st);
	/* CANCEL matched to its INVITE by the same rules. */
	inject(request("CANCEL", "old1", "c11", 9, "CANCEL", NULL), false);
	ck_assert_int_eq(nrequests, 3);
	cancel = last_st;
	ck_assert_ptr_eq(sip_trans_find_invite(layer,
	    sip_strans_request(cancel)), st);
	ck_assert_int_eq(sip_strans_reply(st, 486, "Busy", "t2543"), 0);
	/* An ACK with a To tag not ours does not match. */
	inject(request("ACK", "old1", "c11", 9, "ACK", "other"), false);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_COMPLETED);
	ck_assert_int_eq(nacks_up, 1);
	/* The ACK with the tag of our final matches. */
	inject(request("ACK", "old1", "c11", 9, "ACK", "t2543"), false);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_CONFIRMED);
	ck_assert_int_eq(srec.ev[0], SIP_TRANS_EV_ACK);
	/* The non-INVITE sent-by + branch path does not confuse them. */
	inject(request("INVITE", "z9hG4bKold1", "c11", 9, "INVITE", NULL),
	    false);
	ck_assert_int_eq(nrequests, 5);
}
END_TEST

/* An ACK that matches an INVITE in Accepted still reaches the user's
 * request handler, like any ACK for a 2xx. */
START_TEST(test_ack_in_accepted)
{
	struct sip_strans *st;

	inject(request("INVITE", "old2", "c13", 4, "INVITE", NULL), false);
	st = last_st;
	sip_strans_set_handler(st, srec_h, &srec);
	ck_assert_int_eq(sip_strans_reply(st, 200, "OK", "t6026"), 0);
	ck_assert_int_eq(sip_strans_state(st), SIP_STRANS_ACCEPTED);
	inject(request("ACK", "old2", "c13", 4, "ACK", "t6026"), false);
	ck_assert_int_eq(nacks_up, 1);
	ck_assert_int_eq(srec.n, 0);
	inject(request("ACK", "z9hG4bKsame", "c14", 1, "ACK", "t"), false);
	ck_assert_int_eq(nacks_up, 2);
}
END_TEST

/* ---- the layer: listing, names, teardown --------------------------------- */

struct listing {
	int		 n;
	char		 line[8][128];
};

static void
list_cb(const struct sip_trans_info *i, void *arg)
{
	struct listing *ls = arg;

	ck_assert_int_lt(ls->n, 8);
	snprintf(ls->line[ls->n++], sizeof(ls->line[0]), "%llu %s %s %s %s",
	    (unsigned long long)i->id, i->method, i->role, i->state,
	    i->age_ms >= 15 ? "old" : "new");
}

START_TEST(test_listing)
{
	struct evrec r = { 0 };
	struct listing ls = { 0 };

	start("INVITE", "z9hG4bKl1", false, &r);
	run(20);
	inject(request("OPTIONS", "z9hG4bKl2", "c", 1, "OPTIONS", NULL),
	    false);
	sip_trans_foreach(layer, list_cb, &ls);
	ck_assert_int_eq(ls.n, 2);
	ck_assert_str_eq(ls.line[0], "1 INVITE client calling old");
	ck_assert_str_eq(ls.line[1], "2 OPTIONS server trying new");
	ck_assert_uint_eq(sip_trans_count(layer), 2);
	ck_assert_uint_eq(sip_trans_stats(layer)->created[
	    SIP_TRANS_CLIENT_INVITE], 1);
	ck_assert_uint_eq(sip_trans_stats(layer)->created[
	    SIP_TRANS_SERVER_NON_INVITE], 1);
}
END_TEST

struct trace {
	int	 n;
	char	 s[32][48];
};

static void
trace_cb(const struct sip_trans_info *i, const char *from, void *arg)
{
	struct trace *t = arg;

	if (t->n < 32)
		snprintf(t->s[t->n++], sizeof(t->s[0]), "%s>%s",
		    from != NULL ? from : "-", i->state);
}

START_TEST(test_trace_hook)
{
	struct evrec r = { 0 };
	struct trace tr = { 0 };

	sip_trans_set_trace(layer, trace_cb, &tr);
	start("INVITE", "z9hG4bKt1", false, &r);
	inject(response(100, "z9hG4bKt1", 1, "INVITE", NULL), false);
	inject(response(500, "z9hG4bKt1", 1, "INVITE", "x"), false);
	ck_assert_int_eq(tr.n, 3);
	ck_assert_str_eq(tr.s[0], "->calling");
	ck_assert_str_eq(tr.s[1], "calling>proceeding");
	ck_assert_str_eq(tr.s[2], "proceeding>completed");
}
END_TEST

START_TEST(test_state_names)
{
	ck_assert_str_eq(sip_ctrans_state_name(SIP_CTRANS_ACCEPTED),
	    "accepted");
	ck_assert_str_eq(sip_strans_state_name(SIP_STRANS_CONFIRMED),
	    "confirmed");
	ck_assert_str_eq(sip_trans_kind_name(SIP_TRANS_SERVER_INVITE),
	    "server-invite");
}
END_TEST

/* Teardown with live transactions of every kind frees everything. */
START_TEST(test_free_live)
{
	struct evrec r = { 0 };

	start("INVITE", "z9hG4bKz1", false, &r);
	start("OPTIONS", "z9hG4bKz2", false, &r);
	inject(request("INVITE", "z9hG4bKz3", "c", 1, "INVITE", NULL), false);
	inject(request("INFO", "z9hG4bKz4", "c", 2, "INFO", NULL), false);
	sip_strans_reply(last_st, 200, "OK", "t");
	run(10);
	ck_assert_uint_eq(sip_trans_count(layer), 4);
	/* teardown frees them; ASan reports anything left. */
}
END_TEST

/* ---- issue 8: bugs, the cap, memory, §18.1.1 ----------------------------- */

/*
 * A Via without a branch is an RFC 2543 request whose branch key is an
 * empty slice with no pointer: copying it must not memcpy from NULL
 * (UBSan aborted here), and it still gets a transaction.
 */
START_TEST(test_via_without_branch)
{
	char *nb = fmt("MESSAGE sip:bob@192.0.2.2 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1:5060\r\n"
	    "From: <sip:alice@example.com>;tag=f1\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: nobranch-1\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n");
	char *copy = strdup(nb);
	char *e = xstrndup(NULL, 0);

	ck_assert_str_eq(e, "");
	free(e);
	inject(nb, false);
	ck_assert_int_eq(nrequests, 1);
	ck_assert_int_eq(sip_strans_reply(last_st, 501, "Not Implemented",
	    "t"), 0);
	ck_assert_int_eq(tp.n, 1);
	/* The retransmission matches by the §17.2.3 fields. */
	inject(copy, false);
	ck_assert_int_eq(nrequests, 1);
	ck_assert_int_eq(tp.n, 2);
	ck_assert_uint_eq(sip_trans_stats(layer)->retrans_absorbed, 1);
}
END_TEST

/* Cookie-less requests are hashed: many of them, each still found. */
START_TEST(test_rfc2543_many)
{
	char cid[32];

	for (int i = 0; i < 3000; i++) {
		snprintf(cid, sizeof(cid), "many-%d", i);
		inject(request("MESSAGE", "old", cid, 1, "MESSAGE", NULL),
		    false);
	}
	ck_assert_int_eq(nrequests, 3000);
	inject(request("MESSAGE", "old", "many-1500", 1, "MESSAGE", NULL),
	    false);
	inject(request("MESSAGE", "old", "many-2999", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(nrequests, 3000);
	ck_assert_uint_eq(sip_trans_stats(layer)->retrans_absorbed, 2);
	/* Same Call-ID, another CSeq: a new transaction. */
	inject(request("MESSAGE", "old", "many-1500", 2, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(nrequests, 3001);
}
END_TEST

static int overload_on, overload_off;
static size_t overload_limit;

static void
on_overload(struct sip_trans_layer *l, bool on, size_t limit, void *arg)
{
	if (on)
		overload_on++;
	else
		overload_off++;
	overload_limit = limit;
}

/* At the cap: stateless 503 + Retry-After, ENOBUFS, on/off reports. */
START_TEST(test_limit)
{
	struct sip_ctrans *ct = NULL;
	struct sip_dest d = dest(false);
	char *req;
	struct slice tag1;
	struct sip_strans *st2;

	overload_on = overload_off = 0;
	ck_assert_uint_eq(sip_trans_limit(layer), SIP_TRANS_MAX_DEFAULT);
	sip_trans_set_limit(layer, 2);
	sip_trans_set_overload_handler(layer, on_overload, NULL);
	inject(request("MESSAGE", "z9hG4bKl1", "l1", 1, "MESSAGE", NULL),
	    false);
	inject(request("MESSAGE", "z9hG4bKl2", "l2", 1, "MESSAGE", NULL),
	    false);
	st2 = last_st;
	ck_assert_int_eq(nrequests, 2);
	ck_assert(!sip_trans_overloaded(layer));
	inject(request("MESSAGE", "z9hG4bKl3", "l3", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(nrequests, 2);		/* no transaction */
	ck_assert_uint_eq(sip_trans_count(layer), 2);
	ck_assert_int_eq(tp.n, 1);
	ck_assert_uint_eq(tp.v[0].msg->status, 503);
	ck_assert(slice_eq_cstr(hdr(tp.v[0].msg, SIP_HDR_RETRY_AFTER, 0),
	    "5"));
	ck_assert(slice_eq_cstr(tp.v[0].msg->call_id, "l3"));
	tag1 = tp.v[0].msg->to.tag;
	ck_assert_uint_gt(tag1.n, 0);
	ck_assert_uint_eq(sip_trans_stats(layer)->overload_503, 1);
	ck_assert_int_eq(overload_on, 1);
	ck_assert_uint_eq(overload_limit, 2);
	ck_assert(sip_trans_overloaded(layer));
	/* Its retransmission gets the same answer, same tag. */
	inject(request("MESSAGE", "z9hG4bKl3", "l3", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(tp.n, 2);
	ck_assert(slice_eq(tp.v[1].msg->to.tag, tag1));
	ck_assert_int_eq(overload_on, 1);
	/* An ACK is never answered. */
	inject(request("ACK", "z9hG4bKl4", "l4", 1, "ACK", "x"), false);
	ck_assert_int_eq(tp.n, 2);
	/* A retransmission of a live one is still absorbed, not refused. */
	inject(request("MESSAGE", "z9hG4bKl1", "l1", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(tp.n, 2);
	/* New client transactions fail at once. */
	req = request("OPTIONS", "z9hG4bKc1", "lc", 1, "OPTIONS", NULL);
	ck_assert_int_eq(sip_ctrans_send(layer, req, strlen(req), &d, NULL,
	    NULL, &ct), ENOBUFS);
	ck_assert_ptr_null(ct);
	free(req);
	ck_assert_uint_eq(sip_trans_stats(layer)->overload_client, 1);
	ck_assert_int_eq(tp.n, 2);
	/* One ends (Timer J): the overload ends, work is taken again. */
	ck_assert_int_eq(sip_strans_reply(st2, 200, "OK", "a"), 0);
	RUN_UNTIL(sip_trans_count(layer) == 1, 64 * T1 + 300);
	ck_assert_int_eq(overload_off, 1);
	ck_assert(!sip_trans_overloaded(layer));
	inject(request("MESSAGE", "z9hG4bKl5", "l5", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(nrequests, 4);		/* 2 + ACK + this one */
}
END_TEST

/* The stateless hook runs before the cap: it may still answer. */
static bool
stateless_all(struct sip_trans_layer *l, const struct sip_msg *msg,
    const struct sip_dest *src, void *arg)
{
	(*(int *)arg)++;
	return msg->method == SIP_METHOD_OPTIONS;
}

START_TEST(test_limit_after_stateless)
{
	int asked = 0;

	sip_trans_set_limit(layer, 1);
	sip_trans_set_stateless_handler(layer, stateless_all, &asked);
	inject(request("MESSAGE", "z9hG4bKs1", "s1", 1, "MESSAGE", NULL),
	    false);
	inject(request("OPTIONS", "z9hG4bKs2", "s2", 1, "OPTIONS", NULL),
	    false);
	ck_assert_int_eq(asked, 2);
	ck_assert_int_eq(tp.n, 0);		/* taken by the hook */
	inject(request("MESSAGE", "z9hG4bKs3", "s3", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(asked, 3);
	ck_assert_int_eq(tp.n, 1);
	ck_assert_uint_eq(tp.v[0].msg->status, 503);
}
END_TEST

/* The request goes once answered; its keys and response stay. */
START_TEST(test_request_freed_when_answered)
{
	struct sip_strans *st;

	inject(request("MESSAGE", "z9hG4bKf1", "f1", 1, "MESSAGE", NULL),
	    false);
	st = last_st;
	ck_assert_ptr_nonnull(sip_strans_request(st));
	ck_assert_int_eq(sip_strans_reply(st, 180, "Wait", "t"), 0);
	ck_assert_ptr_nonnull(sip_strans_request(st));
	ck_assert_int_eq(sip_strans_reply(st, 404, "Nope", "t"), 0);
	ck_assert_ptr_null(sip_strans_request(st));
	ck_assert_int_eq(sip_strans_reply(st, 500, "Again", "t"), EALREADY);
	inject(request("MESSAGE", "z9hG4bKf1", "f1", 1, "MESSAGE", NULL),
	    false);
	ck_assert_int_eq(tp.n, 3);
	ck_assert_uint_eq(tp.v[2].msg->status, 404);
}
END_TEST

static int
null_send(void *arg, struct sip_dest *dst, const char *buf, size_t len)
{
	return 0;
}

static const struct sip_tp_ops null_ops = { null_send };

/*
 * Bytes per held UDP non-INVITE server transaction in Completed (Timer
 * J), over 10,000 of them, as malloc counts them: the object, its keys
 * and timer, its response, and its share of the tables.
 */
#define HELD	10000

/* Bytes in use by the program, as its allocator counts them. */
static double
heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return (double)__sanitizer_get_current_allocated_bytes();
#else
	malloc_trim(0);
	return (double)mallinfo2().uordblks;
#endif
}

START_TEST(test_bytes_per_held_transaction)
{
	struct sip_trans_layer *l;
	struct sip_trans_conf c;
	struct sip_dest d = dest(false);
	double before, after, per;

	sip_trans_conf_default(&c);
	l = sip_trans_layer_new(base, &c, &null_ops, NULL);
	sip_trans_set_request_handler(l, on_request, NULL);
	before = heap_in_use();
	for (int i = 0; i < HELD; i++) {
		char branch[32], cid[48];
		struct sip_msg *m = NULL;
		struct sip_parse_error perr;
		char *text;

		snprintf(branch, sizeof(branch), "z9hG4bKheld%d", i);
		snprintf(cid, sizeof(cid), "%08d-held@192.0.2.1", i);
		text = request("MESSAGE", branch, cid, 1, "MESSAGE", NULL);
		ck_assert_int_eq(sip_msg_parse(text, strlen(text), 0, &m,
		    &perr), 0);
		sip_trans_recv(l, m, &d);
		ck_assert_int_eq(sip_strans_reply(last_st, 501,
		    "Not Implemented", "a6b3f09c21d4e587"), 0);
		ck_assert_int_eq(sip_strans_state(last_st),
		    SIP_STRANS_COMPLETED);
	}
	after = heap_in_use();
	ck_assert_uint_eq(sip_trans_count(l), HELD);
	per = (after - before) / HELD;
	printf("bytes per held UDP non-INVITE server transaction "
	    "(Completed): %.0f\n", per);
	ck_assert_msg(per <= 1024, "%.0f bytes per held transaction", per);
	sip_trans_layer_free(l);
}
END_TEST

/*
 * A flood that fixes every key field but one must not pile into one
 * bucket: INVITEs answered 405 and held by Timer H without ACK, first
 * with one branch and a Via port per request, then without the cookie,
 * one Call-ID and CSeq and a From tag per request.
 */
#define FLOOD	5000
#define CHAIN_MAX	16

static char *
flood_invite(const char *branch, unsigned port, const char *from_tag)
{
	return fmt("INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 192.0.2.1:%u;branch=%s\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@example.com>;tag=%s\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: flood@192.0.2.1\r\n"
	    "CSeq: 1 INVITE\r\n"
	    "Content-Length: 0\r\n\r\n", port, branch, from_tag);
}

/* Hands text (taken) to l; a new transaction is answered 405 and held. */
static void
flood_to(struct sip_trans_layer *l, char *text)
{
	struct sip_msg *m = NULL;
	struct sip_parse_error perr;
	struct sip_dest d = dest(false);

	ck_assert_int_eq(sip_msg_parse(text, strlen(text), 0, &m, &perr), 0);
	last_st = NULL;
	sip_trans_recv(l, m, &d);
	if (last_st != NULL)
		ck_assert_int_eq(sip_strans_reply(last_st, 405,
		    "Method Not Allowed", "a6b3f09c21d4e587"), 0);
}

START_TEST(test_hash_flood)
{
	struct sip_trans_layer *l;
	char tag[32];
	size_t longest;

	/* Sends go nowhere: the capture keeps only a few hundred. */
	l = sip_trans_layer_new(base, &conf, &null_ops, NULL);
	sip_trans_set_request_handler(l, on_request, NULL);
	for (int i = 0; i < FLOOD; i++)
		flood_to(l, flood_invite("z9hG4bKfixed", 1024 + i, "ft1"));
	ck_assert_uint_eq(sip_trans_count(l), FLOOD);
	longest = sip_trans_longest_chain(l);
	printf("longest chain, %d INVITEs with one branch: %zu\n", FLOOD,
	    longest);
	ck_assert_msg(longest <= CHAIN_MAX, "cookie table: %zu in one bucket",
	    longest);
	for (int i = 0; i < FLOOD; i++) {
		snprintf(tag, sizeof(tag), "ft%d", i);
		flood_to(l, flood_invite("old", 5060, tag));
	}
	ck_assert_uint_eq(sip_trans_count(l), 2 * FLOOD);
	longest = sip_trans_longest_chain(l);
	printf("longest chain, and %d RFC 2543 INVITEs with one Call-ID: "
	    "%zu\n", FLOOD, longest);
	ck_assert_msg(longest <= CHAIN_MAX, "RFC 2543 table: %zu in one "
	    "bucket", longest);
	/* Still found: the retransmissions are absorbed. */
	flood_to(l, flood_invite("z9hG4bKfixed", 1024 + 4321, "ft1"));
	flood_to(l, flood_invite("old", 5060, "ft4321"));
	ck_assert_int_eq(nrequests, 2 * FLOOD);
	ck_assert_uint_eq(sip_trans_stats(l)->retrans_absorbed, 2);
	sip_trans_layer_free(l);
}
END_TEST

/* ---- §18.1.1 with the real transport ------------------------------------- */

static struct sip_trans_layer *rl;

static void
rl_fail(uint64_t conn_id, int err, void *arg)
{
	sip_trans_tp_failed(rl, conn_id, err);
}

static struct sip_tp *
real_tp(void)
{
	struct sip_tp *t = sip_tp_new(base, NULL);
	struct sip_tp_listen_conf lc = { 0 };

	lc.transport = SIP_TP_UDP;
	lc.address = "127.0.0.1:0";
	ck_assert_int_eq(sip_tp_listen(t, &lc, NULL), 0);
	conf.t1_ms = 20;
	rl = sip_trans_layer_new(base, &conf, &sip_tp_ops, t);
	sip_tp_set_fail(t, rl_fail, NULL);
	return t;
}

static int
bound(int type, unsigned port, unsigned *out)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*out = ntohs(sin.sin_port);
	return fd;
}

/*
 * A TCP and a UDP socket on one port number.  Other tests on the
 * machine may hold the UDP twin of an ephemeral TCP port: try again.
 */
static void
bound_pair(int *tcp, int *udp, unsigned *port)
{
	unsigned p2;

	for (int i = 0; i < 50; i++) {
		*tcp = bound(SOCK_STREAM, 0, port);
		ck_assert_int_ge(*tcp, 0);
		if ((*udp = bound(SOCK_DGRAM, *port, &p2)) >= 0)
			return;
		close(*tcp);
	}
	ck_abort_msg("no port free for both TCP and UDP");
}

static char *
big_request(const char *branch, unsigned port)
{
	char body[1401];

	memset(body, 'x', 1400);
	body[1400] = '\0';
	return fmt("MESSAGE sip:bob@127.0.0.1:%u SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=%s\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@example.com>;tag=b1\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: big-%s\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 1400\r\n\r\n%s", port, branch, branch, body);
}

static int
count_of(const char *buf, size_t n, const char *what)
{
	int c = 0;

	for (const char *p = buf; (p = memmem(p, n - (size_t)(p - buf),
	    what, strlen(what))) != NULL; p++)
		c++;
	return c;
}

static struct sip_dest
udp_to(unsigned port)
{
	struct sockaddr_in sin = { 0 };
	struct sip_dest d;

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(sip_tp_dest_make(&d, SIP_TP_UDP,
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	return d;
}

/* Switched to TCP: one copy arrives, Timer E never fires over TCP. */
START_TEST(test_switch_to_tcp_one_copy)
{
	struct sip_tp *t = real_tp();
	unsigned port;
	int lfd, ufd, cfd;
	struct sip_dest d;
	struct sip_ctrans *ct = NULL;
	char *req;
	static char buf[65536];
	ssize_t n;

	bound_pair(&lfd, &ufd, &port);
	d = udp_to(port);
	req = big_request("z9hG4bKsw1", port);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(sip_ctrans_send(rl, req, strlen(req), &d, NULL,
	    NULL, &ct), 0);
	run(300);			/* E would fire at 20, 60, 140, 300 */
	cfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(cfd, 0);
	n = recv(cfd, buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(count_of(buf, (size_t)n, "MESSAGE sip:"), 1);
	ck_assert_int_eq(count_of(buf, (size_t)n, "SIP/2.0/TCP"), 1);
	ck_assert_int_lt(recv(ufd, buf, sizeof(buf), MSG_DONTWAIT), 0);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_TRYING);
	ck_assert_uint_eq(sip_trans_stats(rl)->retrans_sent, 0);
	sip_trans_layer_free(rl);
	sip_tp_free(t);
	close(cfd);
	close(lfd);
	close(ufd);
	free(req);
}
END_TEST

/* The TCP connect is refused: the request goes over UDP after all. */
START_TEST(test_switch_refused_falls_back_to_udp)
{
	struct sip_tp *t = real_tp();
	unsigned port;
	int tfd, ufd;
	struct sip_dest d;
	struct sip_ctrans *ct = NULL;
	char *req;
	static char buf[65536];
	int copies = 0;
	ssize_t n;

	/* Bound but not listening: the port is ours, connects are refused. */
	bound_pair(&tfd, &ufd, &port);
	d = udp_to(port);
	req = big_request("z9hG4bKsw2", port);

	ck_assert_int_eq(sip_ctrans_send(rl, req, strlen(req), &d, NULL,
	    NULL, &ct), 0);
	run(200);
	while ((n = recv(ufd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		copies++;
		ck_assert_int_eq(count_of(buf, (size_t)n, "SIP/2.0/UDP"), 1);
		ck_assert_int_eq(count_of(buf, (size_t)n,
		    "branch=z9hG4bKsw2"), 1);
	}
	/* The fallback send, then Timer E at T1 = 20 ms, doubling. */
	ck_assert_int_ge(copies, 2);
	ck_assert_int_eq(sip_ctrans_state(ct), SIP_CTRANS_TRYING);
	ck_assert_uint_ge(sip_trans_stats(rl)->retrans_sent, 1);
	sip_trans_layer_free(rl);
	sip_tp_free(t);
	close(tfd);
	close(ufd);
	free(req);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_trans");
	TCase *tc = tcase_create("trans");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_nict_udp_timer_e_f);
	tcase_add_test(tc, test_nict_udp_proceeding_then_k);
	tcase_add_test(tc, test_nict_reliable);
	tcase_add_test(tc, test_nict_reliable_timer_f);
	tcase_add_test(tc, test_ict_timer_a_b);
	tcase_add_test(tc, test_ict_486_ack_timer_d);
	tcase_add_test(tc, test_ict_reliable_no_timer_d);
	tcase_add_test(tc, test_ict_switched_ack_via);
	tcase_add_test(tc, test_ict_2xx_accepted);
	tcase_add_test(tc, test_ctrans_detach);
	tcase_add_test(tc, test_ctrans_detach_in_handler);
	tcase_add_test(tc, test_ctrans_bad_and_duplicate);
	tcase_add_test(tc, test_ctrans_tp_error);
	tcase_add_test(tc, test_stray_response);
	tcase_add_test(tc, test_nist_retransmit_and_j);
	tcase_add_test(tc, test_nist_reliable_j_zero);
	tcase_add_test(tc, test_no_handler_503);
	tcase_add_test(tc, test_ist_trying_g_h);
	tcase_add_test(tc, test_ist_ack_timer_i);
	tcase_add_test(tc, test_ist_2xx_accepted);
	tcase_add_test(tc, test_ist_reliable);
	tcase_add_test(tc, test_cancel_matching);
	tcase_add_test(tc, test_rfc2543_matching);
	tcase_add_test(tc, test_ack_in_accepted);
	tcase_add_test(tc, test_listing);
	tcase_add_test(tc, test_trace_hook);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_free_live);
	tcase_add_test(tc, test_via_without_branch);
	tcase_add_test(tc, test_rfc2543_many);
	tcase_add_test(tc, test_hash_flood);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_limit_after_stateless);
	tcase_add_test(tc, test_request_freed_when_answered);
	tcase_add_test(tc, test_bytes_per_held_transaction);
	tcase_add_test(tc, test_switch_to_tcp_one_copy);
	tcase_add_test(tc, test_switch_refused_falls_back_to_udp);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
