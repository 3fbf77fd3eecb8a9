/*
 * bench_rtp: N RTP sessions in pairs on loopback, each sending G.711
 * silence to its partner through the engine's 20 ms tick, for a few
 * seconds; prints the share of late ticks (> 10 ms behind), the CPU the
 * process used (sending and receiving: both ends are in it), packets,
 * loss and jitter.  A figure, not a test: it exits non-zero only when
 * the sessions cannot be opened.
 *
 *	bench_rtp [-n sessions] [-s seconds] [-p port_min] [-a address]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/timeutil.h"
#include "media/rtp.h"

static long nivcsw;	/* preemptions: other processes wanted the core */

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	nivcsw = ru.ru_nivcsw;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
remote_to(struct rtp_remote *r, const char *addr, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&r->rtp;

	memset(r, 0, sizeof(*r));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, addr, &in->sin_addr);
	r->rtp_len = sizeof(*in);
	r->pt = 0;
	strcpy(r->encoding, "PCMU");
	r->clock_rate = 8000;
	r->dtmf_pt = 101;
	r->ptime = 20;
}

int
main(int argc, char **argv)
{
	struct rtp_engine_conf conf = { .addr = "127.0.0.1",
	    .port_min = 20000, .timeout_ms = 0 };
	struct rtp_engine_stats st0, st;
	struct rtp_session **s;
	struct rtp_engine *eng;
	struct event_base *base;
	struct rlimit rl;
	struct timeval tv;
	struct rtp_remote r;
	struct rtp_stats rs;
	uint64_t sent = 0, recv = 0;
	int64_t lost = 0;
	double jitter = 0, c0, w0, c1, w1;
	long iv0;
	unsigned n = 1000, secs = 5;
	char err[128];
	int ch, rc;

	while ((ch = getopt(argc, argv, "n:s:p:a:")) != -1) {
		switch (ch) {
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10) & ~1u;
			break;
		case 's':
			secs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			conf.port_min = (uint16_t)(strtoul(optarg, NULL, 10) &
			    ~1ul);
			break;
		case 'a':
			conf.addr = optarg;
			break;
		default:
			fprintf(stderr, "usage: bench_rtp [-n sessions] "
			    "[-s seconds] [-p port_min] [-a address]\n");
			return 2;
		}
	}
	if (n < 2 || secs == 0 || (unsigned)conf.port_min + 4 * n > 65535) {
		fprintf(stderr, "bench_rtp: bad arguments\n");
		return 2;
	}
	/* room for skipped pairs: twice the ports the sessions need */
	conf.port_max = (uint16_t)(conf.port_min + 4 * n - 1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	base = event_base_new();
	if ((rc = rtp_engine_new(&eng, base, &conf, err, sizeof(err))) != 0) {
		fprintf(stderr, "bench_rtp: %s\n", err);
		return 1;
	}
	s = calloc(n, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		if ((rc = rtp_session_open(eng, NULL, NULL, &s[i])) != 0) {
			fprintf(stderr, "bench_rtp: session %u: %s\n", i,
			    strerror(rc));
			return 1;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		remote_to(&r, conf.addr, rtp_session_port(s[i ^ 1]));
		rtp_session_set_remote(s[i], &r);
		rtp_session_set_mode(s[i], RTP_MODE_SILENCE, NULL);
	}
	/* a second to settle, then the measured run */
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rtp_engine_stats(eng, &st0);
	c0 = cpu_s();
	iv0 = nivcsw;
	w0 = time_mono_us() / 1e6;
	tv.tv_sec = secs;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	c1 = cpu_s();
	w1 = time_mono_us() / 1e6;
	rtp_engine_stats(eng, &st);

	for (unsigned i = 0; i < n; i++) {
		rtp_session_stats(s[i], &rs);
		sent += rs.packets_sent;
		recv += rs.packets_recv;
		lost += rs.lost;
		jitter += rs.jitter_ms;
		rtp_session_close(s[i]);
	}
	printf("sessions %u  seconds %.1f  ticks %llu  late %.2f%%  "
	    "cpu %.1f%% of one core  preempted %ld times\n", n, w1 - w0,
	    (unsigned long long)(st.ticks - st0.ticks),
	    st.ticks > st0.ticks ? 100.0 * (double)(st.late_ticks -
	    st0.late_ticks) / (double)(st.ticks - st0.ticks) : 0.0,
	    100.0 * (c1 - c0) / (w1 - w0), nivcsw - iv0);
	printf("packets/s sent %.0f  send errors %llu  "
	    "total sent %llu recv %llu lost %lld  mean jitter %.2f ms\n",
	    (double)(st.packets_sent - st0.packets_sent) / (w1 - w0),
	    (unsigned long long)st.send_errors, (unsigned long long)sent,
	    (unsigned long long)recv, (long long)lost, jitter / n);
	free(s);
	rtp_engine_free(eng);
	event_base_free(base);
	return 0;
}
