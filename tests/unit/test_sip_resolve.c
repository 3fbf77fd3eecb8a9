/*
 * RFC 3263 resolution against a real DNS server: dnsmasq, started on a
 * free loopback port with a "test" zone, serves NAPTR, SRV, A and AAAA
 * records; the resolver runs on the real libevent loop.  Cases: IP
 * literals (no DNS), explicit port (A/AAAA only), SRV priority and weight
 * order, NAPTR → SRV → A, transport=, sips, no SRV, AAAA before A,
 * NXDOMAIN, cancellation, the cache and its TTLs, failed targets, and a
 * dead or silent DNS server.  Without dnsmasq every case fails and says so.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/timeutil.h"
#include "sip/sip_resolve.h"
#include "sip/sip_uri.h"

/* dnsmasq instances, started and stopped by main() (the parent). */
struct dns {
	pid_t	pid;
	int	port;
	char	log[128];
};
static struct dns dns_main, dns_victim;
static char dns_why[256];

static const char *const zone[] = {
	"--local=/test/",
	"--local-ttl=60",
	"--host-record=a.test,127.0.0.2",
	/* SRV: two priorities */
	"--srv-host=_sip._udp.srv.test,lo.test,5063,20,50",
	"--srv-host=_sip._udp.srv.test,hi.test,5062,10,50",
	"--host-record=hi.test,127.0.0.3",
	"--host-record=lo.test,127.0.0.4",
	/* SRV: one priority, weights 90 and 10 */
	"--srv-host=_sip._udp.w.test,w2.test,5060,10,10",
	"--srv-host=_sip._udp.w.test,w1.test,5060,10,90",
	"--host-record=w1.test,127.0.1.1",
	"--host-record=w2.test,127.0.1.2",
	/* NAPTR prefers TCP (order 10) over UDP (order 20) */
	"--naptr-record=n.test,20,50,s,SIP+D2U,,_sip._udp.n.test",
	"--naptr-record=n.test,10,50,s,SIP+D2T,,_sip._tcp.n.test",
	"--naptr-record=n.test,5,50,s,SIP+D2S,,_sip._sctp.n.test",
	"--srv-host=_sip._tcp.n.test,ntcp.test,5070,0,0",
	"--srv-host=_sip._udp.n.test,nudp.test,5071,0,0",
	"--host-record=ntcp.test,127.0.2.1",
	"--host-record=nudp.test,127.0.2.2",
	/* no NAPTR; SRV for UDP and TCP */
	"--srv-host=_sip._udp.t.test,tudp.test,5080,0,0",
	"--srv-host=_sip._tcp.t.test,ttcp.test,5081,0,0",
	"--host-record=tudp.test,127.0.3.1",
	"--host-record=ttcp.test,127.0.3.2",
	/* sips */
	"--srv-host=_sips._tcp.s.test,stls.test,5091,0,0",
	"--srv-host=_sip._udp.s.test,sudp.test,5090,0,0",
	"--host-record=stls.test,127.0.4.1",
	"--host-record=sudp.test,127.0.4.2",
	/* no NAPTR, no SRV */
	"--host-record=plain.test,127.0.5.1",
	"--host-record=dual.test,127.0.6.1,::6",
	"--host-record=ttl.test,127.0.7.1,1",
};

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int u, t, port = 0;

	u = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(u, (struct sockaddr *)&sin, &len) == 0) {
		/* dnsmasq wants TCP on the same port too. */
		t = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			port = ntohs(sin.sin_port);
		close(t);
	}
	close(u);
	return port;
}

static bool
tcp_ready(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

static const char *
dnsmasq_path(void)
{
	static const char *const paths[] = { "/usr/sbin/dnsmasq",
		"/usr/local/sbin/dnsmasq", "/usr/bin/dnsmasq" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static int
dns_start(struct dns *d, const char *tag)
{
	const char *bin = dnsmasq_path();
	char port[32], pidf[128];
	const char *argv[64];
	size_t n = 0;
	int status;

	if (bin == NULL) {
		snprintf(dns_why, sizeof(dns_why), "dnsmasq not found "
		    "(install the Debian package dnsmasq-base)");
		return -1;
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		d->port = free_port();
		snprintf(port, sizeof(port), "--port=%d", d->port);
		snprintf(pidf, sizeof(pidf), "--pid-file=/tmp/test_sip_resolve."
		    "%d.%s.pid", (int)getpid(), tag);
		snprintf(d->log, sizeof(d->log), "/tmp/test_sip_resolve.%d.%s"
		    ".log", (int)getpid(), tag);
		n = 0;
		argv[n++] = bin;
		argv[n++] = "--keep-in-foreground";
		argv[n++] = "--no-resolv";
		argv[n++] = "--no-hosts";
		argv[n++] = port;
		argv[n++] = "--listen-address=127.0.0.1";
		argv[n++] = "--bind-interfaces";
		argv[n++] = "--conf-file=/dev/null";
		argv[n++] = pidf;
		argv[n++] = "--user=root";
		argv[n++] = "--log-queries";
		argv[n++] = "--log-facility=-";
		for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
			argv[n++] = zone[i];
		argv[n] = NULL;

		d->pid = fork();
		if (d->pid == 0) {
			int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC,
			    0644);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execv(bin, (char *const *)argv);
			_exit(127);
		}
		for (int i = 0; i < 200; i++) {	/* 2 s */
			if (tcp_ready(d->port))
				return 0;
			if (waitpid(d->pid, &status, WNOHANG) == d->pid)
				break;
			usleep(10000);
		}
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		d->pid = 0;
	}
	d->port = 0;
	snprintf(dns_why, sizeof(dns_why), "dnsmasq (%s) did not start "
	    "listening; see %s", bin, d->log);
	return -1;
}

static void
dns_stop(struct dns *d)
{
	char pidf[128];
	int status;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	snprintf(pidf, sizeof(pidf), "/tmp/test_sip_resolve.%d.%s.pid",
	    (int)getpid(), d == &dns_main ? "main" : "victim");
	unlink(pidf);
}

/* Lines of the dnsmasq log that contain what. */
static int
log_count(const struct dns *d, const char *what)
{
	char line[512];
	FILE *f = fopen(d->log, "r");
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, what) != NULL)
			n++;
	fclose(f);
	return n;
}

/* ---- the resolver on the loop ---- */

static struct event_base *base;
static struct sip_resolve *res;

struct result {
	int				 calls;
	int				 err;
	size_t				 n;
	struct sip_resolve_target	 t[SIP_RESOLVE_TARGETS_MAX];
	struct sip_resolve_query	*q;
	char				 reason[320];
};

static void
on_result(int err, const struct sip_resolve_target *t, size_t n, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->err = err;
	r->n = n;
	if (r->q != NULL)
		snprintf(r->reason, sizeof(r->reason), "%s",
		    sip_resolve_reason(r->q));
	if (n > 0)
		memcpy(r->t, t, n * sizeof(*t));
}

static struct sip_resolve *
mkres(int port, int timeout_ms, int tries, size_t cache_max,
    enum sip_resolve_family fam)
{
	struct sip_resolve_config cfg;
	struct sip_resolve *r;
	char server[64];
	const char *servers[1] = { server };

	ck_assert_msg(port > 0, "no DNS server for the test: %s", dns_why);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	sip_resolve_config_default(&cfg);
	cfg.servers = servers;
	cfg.nservers = 1;
	cfg.timeout_ms = timeout_ms;
	cfg.tries = tries;
	cfg.cache_max = cache_max;
	cfg.family = fam;
	ck_assert_int_eq(sip_resolve_new(&r, base, &cfg), 0);
	return r;
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	res = mkres(dns_main.port, 500, 2, 1024, SIP_RESOLVE_V6_FIRST);
}

static void
teardown(void)
{
	sip_resolve_free(res);
	event_base_free(base);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Runs the loop until r has its answer or ms have passed. */
static void
run_until(struct result *r, int ms)
{
	bool expired = false;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *ev = evtimer_new(base, stop_cb, &expired);

	evtimer_add(ev, &tv);
	while ((r == NULL || r->calls == 0) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
}

static int
start(struct sip_resolve *rs, const char *text, struct result *r,
    struct sip_resolve_query **q)
{
	struct sip_uri uri;
	char buf[256];
	const char *why = NULL;
	int rc;

	/* The URI's buffer goes away before the answer: it must be copied. */
	snprintf(buf, sizeof(buf), "%s", text);
	ck_assert_msg(sip_uri_parse(&uri, buf, strlen(buf), &why) == 0,
	    "%s: %s", text, why);
	memset(r, 0, sizeof(*r));
	rc = sip_resolve_uri(rs, &uri, on_result, r, &r->q);
	if (q != NULL)
		*q = r->q;
	memset(buf, 'x', sizeof(buf));
	return rc;
}

static void
resolve(const char *text, struct result *r)
{
	ck_assert_int_eq(start(res, text, r, NULL), 0);
	ck_assert_int_eq(r->calls, 0);		/* never synchronous */
	run_until(r, 5000);
	ck_assert_msg(r->calls == 1, "%s: no answer", text);
}

static void
check_target(const struct result *r, size_t i, enum sip_resolve_tp tp,
    const char *ip, int port)
{
	char txt[INET6_ADDRSTRLEN];
	const struct sip_resolve_target *t = &r->t[i];
	int got;

	ck_assert_msg(i < r->n, "target %zu missing (%zu targets)", i, r->n);
	if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&t->addr;

		inet_ntop(AF_INET, &s->sin_addr, txt, sizeof(txt));
		got = ntohs(s->sin_port);
		ck_assert_uint_eq(t->len, sizeof(*s));
	} else {
		const struct sockaddr_in6 *s = (const void *)&t->addr;

		ck_assert_int_eq(t->addr.ss_family, AF_INET6);
		inet_ntop(AF_INET6, &s->sin6_addr, txt, sizeof(txt));
		got = ntohs(s->sin6_port);
		ck_assert_uint_eq(t->len, sizeof(*s));
	}
	ck_assert_msg(strcmp(txt, ip) == 0 && got == port &&
	    t->transport == tp, "target %zu: got %s %s:%d, want %s %s:%d",
	    i, sip_resolve_tp_name(t->transport), txt, got,
	    sip_resolve_tp_name(tp), ip, port);
}

static struct sip_resolve_stats
stats(void)
{
	struct sip_resolve_stats st;

	sip_resolve_get_stats(res, &st);
	return st;
}

START_TEST(test_ip_literal)
{
	struct result r;
	int before = log_count(&dns_main, "query[");

	resolve("sip:127.0.0.1:5070", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.1", 5070);
	resolve("sip:[::1]", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "::1", 5060);
	resolve("sips:10.0.0.1", &r);
	check_target(&r, 0, SIP_RESOLVE_TLS, "10.0.0.1", 5061);
	ck_assert_str_eq(r.t[0].domain, "10.0.0.1");
	resolve("sip:10.0.0.1;transport=tcp", &r);
	check_target(&r, 0, SIP_RESOLVE_TCP, "10.0.0.1", 5060);
	/* RFC 3263 §4: maddr wins over the host. */
	resolve("sip:a.test;maddr=10.1.2.3", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "10.1.2.3", 5060);
	ck_assert_uint_eq(stats().queries, 0);
	ck_assert_int_eq(log_count(&dns_main, "query["), before);
}
END_TEST

START_TEST(test_bad_uri)
{
	struct result r;

	ck_assert_int_eq(start(res, "tel:+15551234", &r, NULL), EINVAL);
	ck_assert_int_eq(start(res, "sip:a.test;transport=sctp", &r, NULL),
	    EPROTONOSUPPORT);
	ck_assert_int_eq(start(res, "sips:a.test;transport=udp", &r, NULL),
	    EPROTONOSUPPORT);
	run_until(NULL, 50);
	ck_assert_int_eq(r.calls, 0);
}
END_TEST

START_TEST(test_explicit_port)
{
	struct result r;
	struct sip_resolve_stats st;

	resolve("sip:a.test:5080", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.2", 5080);
	ck_assert_str_eq(r.t[0].name, "a.test");
	st = stats();
	ck_assert_uint_eq(st.queries_naptr, 0);
	ck_assert_uint_eq(st.queries_srv, 0);
	ck_assert_uint_eq(st.queries_a, 1);
	ck_assert_uint_eq(st.queries_aaaa, 1);
	/* RFC 3263 §4.1: sips with a port: TLS to that port. */
	resolve("sips:a.test:5999", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TLS, "127.0.0.2", 5999);
}
END_TEST

START_TEST(test_srv_priority)
{
	struct result r;

	resolve("sip:srv.test", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
	check_target(&r, 1, SIP_RESOLVE_UDP, "127.0.0.4", 5063);
	ck_assert_str_eq(r.t[0].name, "hi.test");
	ck_assert_str_eq(r.t[0].domain, "srv.test");
}
END_TEST

START_TEST(test_srv_weights)
{
	struct result r;
	int w1 = 0, w2 = 0;

	/* Cached answers are drawn again each time (RFC 2782). */
	for (int i = 0; i < 200; i++) {
		resolve("sip:w.test", &r);
		ck_assert_uint_eq(r.n, 2);
		if (strcmp(r.t[0].name, "w1.test") == 0)
			w1++;
		else
			w2++;
	}
	/* Expect about 90 % w1 first; bounds far out in the tails. */
	ck_assert_msg(w1 >= 150 && w2 >= 1, "w1 first %d times, w2 %d",
	    w1, w2);
	ck_assert_uint_eq(stats().queries_srv, 3);	/* udp, tcp, tls */
}
END_TEST

START_TEST(test_naptr_chain)
{
	struct result r;
	struct sip_resolve_stats st;

	resolve("sip:n.test", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 2);
	/* SIP+D2S (order 5) is not ours; TCP (10) before UDP (20). */
	check_target(&r, 0, SIP_RESOLVE_TCP, "127.0.2.1", 5070);
	check_target(&r, 1, SIP_RESOLVE_UDP, "127.0.2.2", 5071);
	st = stats();
	ck_assert_uint_eq(st.queries_naptr, 1);
	ck_assert_uint_eq(st.queries_srv, 2);	/* the two replacements */
	ck_assert_int_eq(log_count(&dns_main, "query[SRV] _sip._tcp.n.test"),
	    1);
}
END_TEST

START_TEST(test_naptr_unsupported_transport)
{
	struct result r;
	struct sip_resolve_config cfg;
	const char *servers[1];
	char server[64];

	/* A resolver for a UA without TCP: the NAPTR gives UDP only. */
	snprintf(server, sizeof(server), "127.0.0.1:%d", dns_main.port);
	servers[0] = server;
	sip_resolve_config_default(&cfg);
	cfg.servers = servers;
	cfg.nservers = 1;
	cfg.transports = SIP_RESOLVE_TP_BIT(SIP_RESOLVE_UDP);
	sip_resolve_free(res);
	ck_assert_int_eq(sip_resolve_new(&res, base, &cfg), 0);
	resolve("sip:n.test", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.2.2", 5071);
}
END_TEST

START_TEST(test_transport_param)
{
	struct result r;

	resolve("sip:t.test;transport=tcp", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TCP, "127.0.3.2", 5081);
	ck_assert_uint_eq(stats().queries_naptr, 0);
	ck_assert_uint_eq(stats().queries_srv, 1);
	/* Without it: no NAPTR, SRV in our order: UDP, then TCP. */
	resolve("sip:t.test", &r);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.3.1", 5080);
	check_target(&r, 1, SIP_RESOLVE_TCP, "127.0.3.2", 5081);
}
END_TEST

START_TEST(test_sips_tls)
{
	struct result r;

	resolve("sips:s.test", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TLS, "127.0.4.1", 5091);
	ck_assert_str_eq(r.t[0].domain, "s.test");	/* SNI: RFC 5922 */
	ck_assert_str_eq(r.t[0].name, "stls.test");
	/* sip: may also use TLS, after UDP (our order). */
	resolve("sip:s.test", &r);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.4.2", 5090);
	check_target(&r, 1, SIP_RESOLVE_TLS, "127.0.4.1", 5091);
	resolve("sip:s.test;transport=tls", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TLS, "127.0.4.1", 5091);
}
END_TEST

START_TEST(test_no_srv)
{
	struct result r;
	struct sip_resolve_stats st;

	resolve("sip:plain.test", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.5.1", 5060);
	st = stats();
	ck_assert_uint_eq(st.queries_naptr, 1);
	ck_assert_uint_eq(st.queries_srv, 3);
	ck_assert_uint_eq(st.queries_a, 1);
	resolve("sips:plain.test", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TLS, "127.0.5.1", 5061);
	resolve("sip:plain.test;transport=tcp", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_TCP, "127.0.5.1", 5060);
}
END_TEST

/* RFC 7118: no NAPTR or SRV of its own; the HTTP ports by default. */
START_TEST(test_websocket)
{
	struct result r;
	struct sip_resolve_stats st;

	resolve("sip:10.0.0.1;transport=ws", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_WS, "10.0.0.1", 80);
	resolve("sip:10.0.0.1:8080;transport=WS", &r);
	check_target(&r, 0, SIP_RESOLVE_WS, "10.0.0.1", 8080);
	/* Secure: sips: over ws, or transport=wss. */
	resolve("sips:10.0.0.1;transport=ws", &r);
	check_target(&r, 0, SIP_RESOLVE_WSS, "10.0.0.1", 443);
	resolve("sip:10.0.0.1;transport=wss", &r);
	check_target(&r, 0, SIP_RESOLVE_WSS, "10.0.0.1", 443);
	ck_assert_uint_eq(stats().queries, 0);
	/* A name: its A and AAAA only, even where SRV records exist. */
	resolve("sip:plain.test;transport=wss", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_WSS, "127.0.5.1", 443);
	ck_assert_str_eq(r.t[0].domain, "plain.test");	/* SNI and Host */
	/* t.test has SRV records and no address: nothing for ws. */
	resolve("sip:t.test;transport=ws", &r);
	ck_assert_int_eq(r.err, ENOENT);
	st = stats();
	ck_assert_uint_eq(st.queries_naptr, 0);
	ck_assert_uint_eq(st.queries_srv, 0);
	ck_assert_str_eq(sip_resolve_tp_name(SIP_RESOLVE_WSS), "WSS");
}
END_TEST

START_TEST(test_dual_stack)
{
	struct result r;

	resolve("sip:dual.test:5099", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "::6", 5099);
	check_target(&r, 1, SIP_RESOLVE_UDP, "127.0.6.1", 5099);
	sip_resolve_free(res);
	res = mkres(dns_main.port, 500, 2, 1024, SIP_RESOLVE_V4_FIRST);
	resolve("sip:dual.test:5099", &r);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.6.1", 5099);
	check_target(&r, 1, SIP_RESOLVE_UDP, "::6", 5099);
	sip_resolve_free(res);
	res = mkres(dns_main.port, 500, 2, 1024, SIP_RESOLVE_V4_ONLY);
	resolve("sip:dual.test:5099", &r);
	ck_assert_uint_eq(r.n, 1);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.6.1", 5099);
	ck_assert_uint_eq(stats().queries_aaaa, 0);
}
END_TEST

START_TEST(test_nxdomain)
{
	struct result r;
	uint64_t queries;

	resolve("sip:nope.test", &r);
	ck_assert_int_eq(r.err, ENOENT);
	ck_assert_uint_eq(r.n, 0);
	resolve("sip:nope.test:5060", &r);
	ck_assert_int_eq(r.err, ENOENT);
	/* Negative answers are cached too (no SOA here: cfg.neg_ttl). */
	queries = stats().queries;
	resolve("sip:nope.test", &r);
	ck_assert_int_eq(r.err, ENOENT);
	ck_assert_uint_eq(stats().queries, queries);
}
END_TEST

static struct sip_resolve_query *self_q;
static int self_calls;

static void
on_result_cancel_self(int err, const struct sip_resolve_target *t, size_t n,
    void *arg)
{
	self_calls++;
	sip_resolve_cancel(self_q);	/* the owner cleans up: a no-op */
}

START_TEST(test_cancel)
{
	struct result r, r2;
	struct sip_resolve_query *q, *q2;
	struct sip_uri uri;

	ck_assert_int_eq(start(res, "sip:srv.test", &r, &q), 0);
	ck_assert_int_eq(start(res, "sip:srv.test", &r2, &q2), 0);
	sip_resolve_cancel(q);
	run_until(&r2, 3000);
	run_until(NULL, 200);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(r2.calls, 1);	/* the other one is served */
	ck_assert_uint_eq(r2.n, 2);
	ck_assert_uint_eq(stats().in_flight, 0);

	/* Cancelled in the middle of the chain (after NAPTR). */
	ck_assert_int_eq(start(res, "sip:n.test", &r, &q), 0);
	while (stats().queries_srv == 0)
		event_base_loop(base, EVLOOP_ONCE);
	sip_resolve_cancel(q);
	run_until(NULL, 300);
	ck_assert_int_eq(r.calls, 0);

	/* An IP literal's answer is pending on the loop: cancel drops it. */
	ck_assert_int_eq(start(res, "sip:127.0.0.1", &r, &q), 0);
	sip_resolve_cancel(q);
	run_until(NULL, 50);
	ck_assert_int_eq(r.calls, 0);

	/* Cancel from inside the callback does nothing. */
	ck_assert_int_eq(sip_uri_parse(&uri, "sip:a.test:1", 12, NULL), 0);
	ck_assert_int_eq(sip_resolve_uri(res, &uri, on_result_cancel_self,
	    NULL, &self_q), 0);
	run_until(NULL, 1000);
	ck_assert_int_eq(self_calls, 1);

	/* Freeing the resolver with queries in flight: no callback. */
	ck_assert_int_eq(start(res, "sip:plain.test", &r, &q), 0);
	ck_assert_int_eq(start(res, "sip:10.0.0.1", &r2, &q2), 0);
	sip_resolve_free(res);
	res = mkres(dns_main.port, 500, 2, 1024, SIP_RESOLVE_V6_FIRST);
	run_until(NULL, 200);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(r2.calls, 0);
}
END_TEST

START_TEST(test_cache_hit)
{
	struct result r;
	struct sip_resolve_stats st, st2;
	int logged;

	resolve("sip:srv.test", &r);
	st = stats();
	/* NAPTR, 3 SRV, AAAA and A for 2 targets */
	ck_assert_uint_eq(st.queries, 1 + 3 + 4);
	logged = log_count(&dns_main, "query[");
	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
	st2 = stats();
	ck_assert_uint_eq(st2.queries, st.queries);
	ck_assert_uint_eq(st2.cache_hits, st.cache_hits + 8);
	ck_assert_int_eq(log_count(&dns_main, "query["), logged);
	/* Names are case-insensitive. */
	resolve("sip:SRV.Test", &r);
	ck_assert_uint_eq(stats().queries, st.queries);
	sip_resolve_cache_flush(res);
	ck_assert_uint_eq(stats().cache_entries, 0);
	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(stats().queries, 2 * st.queries);
}
END_TEST

START_TEST(test_cache_max)
{
	struct result r;

	sip_resolve_free(res);
	res = mkres(dns_main.port, 500, 2, 3, SIP_RESOLVE_V6_FIRST);
	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_le(stats().cache_entries, 3);
	resolve("sip:n.test", &r);
	ck_assert_uint_le(stats().cache_entries, 3);
}
END_TEST

START_TEST(test_ttl_expiry)
{
	struct result r;

	resolve("sip:ttl.test:5060", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.7.1", 5060);
	ck_assert_uint_eq(stats().queries_a, 1);
	resolve("sip:ttl.test:5060", &r);
	ck_assert_uint_eq(stats().queries_a, 1);	/* TTL 1 s: cached */
	run_until(NULL, 1200);
	resolve("sip:ttl.test:5060", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.7.1", 5060);
	ck_assert_uint_eq(stats().queries_a, 2);	/* expired */
	/* The 60 s records are still cached. */
	resolve("sip:a.test:1", &r);
	resolve("sip:a.test:1", &r);
	ck_assert_uint_eq(stats().queries_a, 3);
}
END_TEST

START_TEST(test_mark_failed)
{
	struct result r;
	struct sip_resolve_target first;

	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(r.n, 2);
	first = r.t[0];
	sip_resolve_mark_failed(res, &first, 300);
	resolve("sip:srv.test", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.4", 5063);
	check_target(&r, 1, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
	run_until(NULL, 350);
	resolve("sip:srv.test", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
}
END_TEST

/* The blocklist puts a failed target last but never drops it. */
START_TEST(test_blocklist_all_failed)
{
	struct result r;
	struct sip_resolve_target t0, t1;

	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(r.n, 2);
	t0 = r.t[0];
	t1 = r.t[1];
	sip_resolve_mark_failed(res, &t1, 5000);
	sip_resolve_mark_failed(res, &t0, 5000);
	resolve("sip:srv.test", &r);
	ck_assert_uint_eq(r.n, 2);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
	check_target(&r, 1, SIP_RESOLVE_UDP, "127.0.0.4", 5063);
	/* A literal address is the only target: still given. */
	resolve("sip:127.0.0.3:5062", &r);
	ck_assert_uint_eq(r.n, 1);
}
END_TEST

/* Marking a target again extends its time; other ports are not it. */
START_TEST(test_blocklist_refresh)
{
	struct result r;
	struct sip_resolve_target first, other;

	resolve("sip:srv.test", &r);
	first = r.t[0];
	other = first;
	((struct sockaddr_in *)&other.addr)->sin_port = htons(9);
	sip_resolve_mark_failed(res, &other, 5000);
	resolve("sip:srv.test", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
	sip_resolve_mark_failed(res, &first, 150);
	run_until(NULL, 100);
	sip_resolve_mark_failed(res, &first, 300);
	run_until(NULL, 100);
	resolve("sip:srv.test", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.4", 5063);
	run_until(NULL, 250);
	resolve("sip:srv.test", &r);
	check_target(&r, 0, SIP_RESOLVE_UDP, "127.0.0.3", 5062);
}
END_TEST

/* A failed lookup says what failed, in c-ares' words. */
START_TEST(test_reason)
{
	struct result r;

	resolve("sip:nope.test:5060", &r);
	ck_assert_int_eq(r.err, ENOENT);
	ck_assert_msg(strstr(r.reason, "nope.test A") != NULL ||
	    strstr(r.reason, "nope.test AAAA") != NULL, "reason %s", r.reason);
	ck_assert_msg(strstr(r.reason, "not found") != NULL, "reason %s",
	    r.reason);
	resolve("sip:a.test:5060", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_str_eq(r.reason, "");
}
END_TEST

START_TEST(test_dns_killed)
{
	struct result r;
	uint64_t t0;

	ck_assert_msg(dns_victim.pid > 0, "no DNS server: %s", dns_why);
	sip_resolve_free(res);
	res = mkres(dns_victim.port, 200, 2, 1024, SIP_RESOLVE_V6_FIRST);
	resolve("sip:a.test:5080", &r);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(kill(dns_victim.pid, SIGKILL), 0);
	usleep(100000);
	t0 = time_mono_us();
	resolve("sip:plain.test", &r);
	ck_assert_int_eq(r.err, ETIMEDOUT);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_msg(time_mono_us() - t0 < 3000000, "took %llu us",
	    (unsigned long long)(time_mono_us() - t0));
	/* What was cached is still served. */
	resolve("sip:a.test:5080", &r);
	ck_assert_int_eq(r.err, 0);
}
END_TEST

START_TEST(test_dns_silent)
{
	struct result r;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint64_t t0;

	/* A server that reads nothing and answers nothing. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	sip_resolve_free(res);
	res = mkres(ntohs(sin.sin_port), 200, 2, 1024, SIP_RESOLVE_V6_FIRST);
	t0 = time_mono_us();
	resolve("sip:plain.test", &r);
	ck_assert_int_eq(r.err, ETIMEDOUT);
	ck_assert_msg(time_mono_us() - t0 < 3000000, "took %llu us",
	    (unsigned long long)(time_mono_us() - t0));
	ck_assert_uint_eq(stats().timeouts, 1);
	ck_assert_uint_eq(stats().queries, 1);	/* stopped after NAPTR */
	close(fd);
}
END_TEST

START_TEST(test_bad_servers)
{
	struct sip_resolve_config cfg;
	struct sip_resolve *r;
	const char *bad[] = { "not an address" };
	const char *good[] = { "127.0.0.1:53", "[::1]:5353" };

	sip_resolve_config_default(&cfg);
	cfg.servers = bad;
	cfg.nservers = 1;
	ck_assert_int_eq(sip_resolve_new(&r, base, &cfg), EINVAL);
	cfg.servers = good;
	cfg.nservers = 2;
	ck_assert_int_eq(sip_resolve_new(&r, base, &cfg), 0);
	ck_assert_int_eq(sip_resolve_set_servers(r, bad, 1), EINVAL);
	sip_resolve_free(r);

	/* Reload: c-ares 1.18 refuses while queries are in flight. */
	{
		struct result res1;
		char server[64];
		const char *one[1] = { server };

		snprintf(server, sizeof(server), "127.0.0.1:%d",
		    dns_main.port);
		ck_assert_int_eq(start(res, "sip:a.test:5080", &res1, NULL),
		    0);
		ck_assert_int_eq(sip_resolve_set_servers(res, one, 1), EBUSY);
		run_until(&res1, 3000);
		ck_assert_int_eq(res1.err, 0);
		ck_assert_int_eq(sip_resolve_set_servers(res, one, 1), 0);
		resolve("sip:plain.test", &res1);
		ck_assert_int_eq(res1.err, 0);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_resolve");
	TCase *tc = tcase_create("rfc3263");
	SRunner *sr;
	int failed;

	if (dns_start(&dns_main, "main") != 0 ||
	    dns_start(&dns_victim, "victim") != 0)
		fprintf(stderr, "test_sip_resolve: %s\n", dns_why);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_ip_literal);
	tcase_add_test(tc, test_bad_uri);
	tcase_add_test(tc, test_explicit_port);
	tcase_add_test(tc, test_srv_priority);
	tcase_add_test(tc, test_srv_weights);
	tcase_add_test(tc, test_naptr_chain);
	tcase_add_test(tc, test_naptr_unsupported_transport);
	tcase_add_test(tc, test_transport_param);
	tcase_add_test(tc, test_sips_tls);
	tcase_add_test(tc, test_no_srv);
	tcase_add_test(tc, test_websocket);
	tcase_add_test(tc, test_dual_stack);
	tcase_add_test(tc, test_nxdomain);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_cache_hit);
	tcase_add_test(tc, test_cache_max);
	tcase_add_test(tc, test_ttl_expiry);
	tcase_add_test(tc, test_mark_failed);
	tcase_add_test(tc, test_blocklist_all_failed);
	tcase_add_test(tc, test_blocklist_refresh);
	tcase_add_test(tc, test_reason);
	tcase_add_test(tc, test_dns_killed);
	tcase_add_test(tc, test_dns_silent);
	tcase_add_test(tc, test_bad_servers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	dns_stop(&dns_victim);
	dns_stop(&dns_main);
	if (failed == 0) {	/* kept for a look otherwise */
		unlink(dns_main.log);
		unlink(dns_victim.log);
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
