/*
 * rtp_sink: the far end of the media benchmark (run-call-bench.sh).
 * Binds 127.0.0.1:PORT (RTP of every call: the bench's SIPp UAC offers
 * this one port in all its SDP) and PORT+1 (their RTCP, read and
 * dropped, so no ICMP comes back), and counts how late each RTP packet
 * arrives against its own stream's clock.
 *
 * A stream is an SSRC.  A packet is late when it arrives more than LATE
 * ms (default 10) later after its predecessor than their RTP timestamps
 * are apart (8 kHz: 125 us a tick), arrival times being the kernel's
 * (SO_TIMESTAMPNS, so a sink that falls behind does not make packets
 * look late).  A sender whose tick runs late sends the missed packets
 * in one burst: the first of the burst counts, the rest come early.
 * So "late" counts late sends, per stream, whatever the sender's clock
 * did before.
 *
 * A stream's drift is how far its last packet's arrival lies behind its
 * own timestamps, measured from the earliest arrival against them: a
 * sender that makes up missed ticks only in whole packets falls behind
 * real time for good.  The line gives the largest drift of any stream
 * and the mean over streams, in ms.
 *
 * Once a second, and at the end, one line of cumulative counts:
 *     t=SECONDS packets=N late=N streams=N rtcp=N drift_max_ms=X
 *     drift_mean_ms=X
 * Runs until SIGTERM or SIGINT, or -d SECONDS.  Standalone C17, libc
 * only:  rtp_sink -p PORT [-l LATE_MS] [-d SECONDS]
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH		64
#define PKT_MAX		2048
#define STREAMS_BITS	16			/* 65536 slots */
#define STREAMS		(1u << STREAMS_BITS)

struct stream {
	uint32_t	ssrc;
	uint32_t	ts0;
	uint32_t	ts_last;
	int64_t		at_last;
	int64_t		base_us;	/* smallest arrival - media time */
	int64_t		drift_us;	/* the last one's, over base_us */
	int		used;
};

static struct stream streams[STREAMS];
static unsigned long nstreams;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct stream *
stream_get(uint32_t ssrc)
{
	uint32_t h = (ssrc * 2654435761u) >> (32 - STREAMS_BITS);

	for (unsigned i = 0; i < STREAMS; i++) {
		struct stream *s = &streams[(h + i) & (STREAMS - 1)];

		if (!s->used) {
			if (nstreams >= STREAMS - 1)
				return NULL;
			s->used = 1;
			s->ssrc = ssrc;
			nstreams++;
			return s;
		}
		if (s->ssrc == ssrc)
			return s;
	}
	return NULL;
}

static void
report(int64_t t_us, unsigned long long packets, unsigned long long late,
    unsigned long long rtcp)
{
	int64_t max = 0, sum = 0;

	for (unsigned i = 0; i < STREAMS; i++) {
		if (!streams[i].used)
			continue;
		sum += streams[i].drift_us;
		if (streams[i].drift_us > max)
			max = streams[i].drift_us;
	}
	printf("t=%.3f packets=%llu late=%llu streams=%lu rtcp=%llu "
	    "drift_max_ms=%.1f drift_mean_ms=%.1f\n", t_us / 1e6, packets,
	    late, nstreams, rtcp, max / 1e3,
	    nstreams > 0 ? sum / 1e3 / (double)nstreams : 0.0);
}

static int
bind_udp(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1, buf = 16 * 1024 * 1024;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	/* As root the kernel's rmem_max does not cap it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf,
	    sizeof(buf)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static unsigned char bufs[BATCH][PKT_MAX];
	static char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct pollfd pfd[2];
	unsigned long long packets = 0, late = 0, rtcp = 0;
	int64_t late_us = 10000, t_start, t_next, t_end = 0;
	int port = 0, opt;

	while ((opt = getopt(argc, argv, "p:l:d:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'l':
			late_us = (int64_t)atoi(optarg) * 1000;
			break;
		case 'd':
			t_end = (int64_t)atoi(optarg) * 1000000;
			break;
		default:
			fprintf(stderr, "usage: rtp_sink -p PORT [-l LATE_MS] "
			    "[-d SECONDS]\n");
			return 2;
		}
	}
	if (port <= 0 || port >= 65535 || late_us <= 0) {
		fprintf(stderr, "rtp_sink: -p PORT (even, < 65535) needed\n");
		return 2;
	}
	if ((pfd[0].fd = bind_udp(port)) == -1 ||
	    (pfd[1].fd = bind_udp(port + 1)) == -1) {
		fprintf(stderr, "rtp_sink: bind %d/%d: %s\n", port, port + 1,
		    strerror(errno));
		return 1;
	}
	pfd[0].events = pfd[1].events = POLLIN;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_start = now_us(CLOCK_MONOTONIC);
	t_next = t_start + 1000000;
	if (t_end != 0)
		t_end += t_start;

	while (!stop) {
		int64_t now = now_us(CLOCK_MONOTONIC);

		if (now >= t_next) {
			report(now - t_start, packets, late, rtcp);
			t_next += 1000000;
		}
		if (t_end != 0 && now >= t_end)
			break;
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			int n;

			memset(msgs, 0, sizeof(msgs));
			for (int i = 0; i < BATCH; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = PKT_MAX;
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			if ((n = recvmmsg(pfd[1].fd, msgs, BATCH, 0, NULL)) > 0)
				rtcp += (unsigned)n;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		for (;;) {
			int n;

			memset(msgs, 0, sizeof(msgs));
			for (int i = 0; i < BATCH; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = PKT_MAX;
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
				msgs[i].msg_hdr.msg_control = ctl[i];
				msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
			}
			n = recvmmsg(pfd[0].fd, msgs, BATCH, 0, NULL);
			if (n <= 0)
				break;
			for (int i = 0; i < n; i++) {
				const unsigned char *p = bufs[i];
				struct cmsghdr *cm;
				struct stream *s;
				int64_t at = -1, off;
				uint32_t ts, ssrc;
				int32_t d;

				if (msgs[i].msg_len < 12 || (p[0] >> 6) != 2)
					continue;
				for (cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
				    cm != NULL;
				    cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
					struct timespec t;

					if (cm->cmsg_level != SOL_SOCKET ||
					    cm->cmsg_type != SCM_TIMESTAMPNS)
						continue;
					memcpy(&t, CMSG_DATA(cm), sizeof(t));
					at = (int64_t)t.tv_sec * 1000000 +
					    t.tv_nsec / 1000;
				}
				if (at < 0)
					at = now_us(CLOCK_REALTIME);
				ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
				    (uint32_t)p[6] << 8 | p[7];
				ssrc = (uint32_t)p[8] << 24 |
				    (uint32_t)p[9] << 16 |
				    (uint32_t)p[10] << 8 | p[11];
				packets++;
				if ((s = stream_get(ssrc)) == NULL)
					continue;
				if (s->base_us == 0) {
					s->ts0 = s->ts_last = ts;
					s->base_us = s->at_last = at;
					continue;
				}
				d = (int32_t)(ts - s->ts_last);
				if (d > 0 && (at - s->at_last) -
				    (int64_t)d * 125 > late_us)
					late++;
				if (d > 0) {
					s->ts_last = ts;
					s->at_last = at;
				}
				/* Unwrapped against the first timestamp. */
				d = (int32_t)(ts - s->ts0);
				off = at - (int64_t)d * 125;
				if (off < s->base_us)
					s->base_us = off;
				s->drift_us = off - s->base_us;
			}
			if (n < BATCH)
				break;
		}
	}
	report(now_us(CLOCK_MONOTONIC) - t_start, packets, late, rtcp);
	return 0;
}
