/*
 * The RTP engine on the real loop, over loopback in 127.0.0.1 ports
 * 41000-41999 (this suite's share): silence both ways with its counts,
 * loss and jitter; the packets themselves as a plain socket sees them;
 * play through an echo back to the file's bytes; DTMF sent and
 * received; the media timeout and its end; hold; the port range
 * running out and coming back; garbage that counts as nothing; the
 * play error; RTCP reports; handlers that close their own session.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/timeutil.h"
#include "media/g711.h"
#include "media/rtp.h"

#define EV_MAX		16

struct rec {
	int			 n;
	enum rtp_event		 ev[EV_MAX];
	struct rtp_event_info	 info[EV_MAX];
	char			 digits[EV_MAX + 1];
	int			 ndigits;
	bool			 close_on_event;
};

static struct event_base *base;
static struct rtp_engine *eng;
static char tmpdir[64];

static void
rec_event(struct rtp_session *s, enum rtp_event ev,
    const struct rtp_event_info *info, void *arg)
{
	struct rec *r = arg;

	if (r->n < EV_MAX) {
		r->ev[r->n] = ev;
		if (info != NULL)
			r->info[r->n] = *info;
		r->n++;
	}
	if (ev == RTP_EV_DTMF && r->ndigits < EV_MAX)
		r->digits[r->ndigits++] = info->digit;
	if (r->close_on_event)
		rtp_session_close(s);
}

static int
rec_count(const struct rec *r, enum rtp_event ev)
{
	int n = 0;

	for (int i = 0; i < r->n && i < EV_MAX; i++)
		if (r->ev[i] == ev)
			n++;
	return n;
}

static void
run_ms(unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
engine_conf(struct rtp_engine_conf *c, const char *addr, uint16_t min,
    uint16_t max, unsigned timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->addr = addr;
	c->port_min = min;
	c->port_max = max;
	c->timeout_ms = timeout_ms;
}

static void
engine_up(uint16_t min, uint16_t max, unsigned timeout_ms)
{
	struct rtp_engine_conf c;
	char err[128];

	engine_conf(&c, "127.0.0.1", min, max, timeout_ms);
	ck_assert_int_eq(rtp_engine_new(&eng, base, &c, err, sizeof(err)), 0);
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_rtp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	rtp_engine_free(eng);
	eng = NULL;
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
remote(struct rtp_remote *r, const char *ip, uint16_t port, int pt,
    const char *enc, int dtmf_pt)
{
	memset(r, 0, sizeof(*r));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&r->rtp;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		r->rtp_len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&r->rtp;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, ip, &in->sin_addr);
		r->rtp_len = sizeof(*in);
	}
	r->pt = pt;
	snprintf(r->encoding, sizeof(r->encoding), "%s", enc);
	r->clock_rate = 8000;
	r->dtmf_pt = dtmf_pt;
	r->ptime = 20;
}

/* Two sessions pointed at each other, PCMU, telephone-event 101. */
static void
pair(struct rtp_session **a, struct rec *ra, struct rtp_session **b,
    struct rec *rb)
{
	struct rtp_remote r;

	ck_assert_int_eq(rtp_session_open(eng, rec_event, ra, a), 0);
	ck_assert_int_eq(rtp_session_open(eng, rec_event, rb, b), 0);
	remote(&r, "127.0.0.1", rtp_session_port(*b), 0, "PCMU", 101);
	ck_assert_int_eq(rtp_session_set_remote(*a, &r), 0);
	remote(&r, "127.0.0.1", rtp_session_port(*a), 0, "PCMU", 101);
	ck_assert_int_eq(rtp_session_set_remote(*b, &r), 0);
}

/*
 * A plain UDP socket standing in for a peer, non-blocking, on a port
 * the kernel picks (written to *port) so that it never collides.
 */
static int
raw_open(uint16_t *port)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(*port);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
	*port = ntohs(in.sin_port);
	return fd;
}

static void
raw_send(int fd, uint16_t port, const void *p, size_t n)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert_int_eq(sendto(fd, p, n, 0, (struct sockaddr *)&in,
	    sizeof(in)), (ssize_t)n);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A WAV file of µ-law samples in tmpdir; returns its path. */
static const char *
write_wav(const char *name, const uint8_t *data, uint32_t n)
{
	static char path[128];
	uint8_t h[44];
	uint32_t riff = 36 + n;
	FILE *f;

	memcpy(h, "RIFF", 4);
	memcpy(h + 4, &riff, 4);	/* the test machine is little-endian */
	memcpy(h + 8, "WAVEfmt \x10\0\0\0\x07\0\x01\0", 16);
	memcpy(h + 24, "\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0data", 16);
	memcpy(h + 40, &n, 4);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(h, 1, 44, f), 44);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	return path;
}

START_TEST(test_silence_both_ways)
{
	struct rtp_session *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	struct rtp_stats sa, sb;
	struct rtp_engine_stats es;

	engine_up(41000, 41099, 0);
	pair(&a, &ra, &b, &rb);
	ck_assert_uint_eq(rtp_session_port(a) % 2, 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	ck_assert_int_eq(rtp_session_set_mode(b, RTP_MODE_SILENCE, NULL), 0);
	ck_assert_int_eq(rtp_session_mode(a), RTP_MODE_SILENCE);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sessions, 2);
	ck_assert_uint_eq(es.sending, 2);

	run_ms(310);
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb);
	/* 15 periods in 300 ms; a loaded machine may lose a few ticks */
	ck_assert_uint_ge(sa.packets_sent, 10);
	ck_assert_uint_le(sa.packets_sent, 17);
	ck_assert_uint_ge(sb.packets_recv, 10);
	ck_assert_uint_ge(sa.packets_recv, 10);
	ck_assert_uint_eq(sb.bytes_recv, 160 * sb.packets_recv);
	ck_assert_uint_eq(sa.bytes_sent, 160 * sa.packets_sent);
	ck_assert_int_eq(sa.lost, 0);
	ck_assert_int_eq(sb.lost, 0);
	ck_assert_uint_eq(sb.expected, sb.packets_recv);
	ck_assert(sb.jitter_ms >= 0 && sb.jitter_ms < 30);
	ck_assert(sa.jitter_ms >= 0 && sa.jitter_ms < 30);
	ck_assert(sb.last_recv_age_s >= 0 && sb.last_recv_age_s < 0.1);
	ck_assert_int_eq(sb.recv_pt, 0);
	ck_assert_uint_eq(sb.rtcp_recv, 0);

	rtp_engine_stats(eng, &es);
	ck_assert_uint_ge(es.ticks, 10);
	ck_assert_uint_ge(es.packets_sent, 20);
	ck_assert_uint_eq(es.send_errors, 0);
	ck_assert_uint_le(es.late_ticks, es.ticks);
	ck_assert_int_eq(ra.n + rb.n, 0);
	rtp_session_close(a);
	rtp_session_close(b);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sessions, 0);
	ck_assert_uint_eq(es.sending, 0);
}
END_TEST

/* What a peer sees: header fields, PCMA silence, sequence and clock. */
START_TEST(test_packet_format)
{
	struct rtp_session *a;
	struct rtp_remote r;
	uint8_t p[2048];
	uint32_t ssrc = 0, ts = 0;
	uint16_t seq = 0;
	uint16_t port = 0;
	int fd, n = 0;
	ssize_t len;

	engine_up(41100, 41199, 0);
	fd = raw_open(&port);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	remote(&r, "127.0.0.1", port, 8, "PCMA", -1);
	ck_assert_int_eq(rtp_session_set_remote(a, &r), 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	run_ms(130);
	while ((len = recv(fd, p, sizeof(p), 0)) > 0) {
		ck_assert_int_eq(len, 12 + 160);
		ck_assert_uint_eq(p[0], 0x80);
		ck_assert_uint_eq(p[1] & 0x7f, 8);
		/* the marker starts the talkspurt, then stays clear */
		ck_assert_uint_eq(p[1] >> 7, n == 0);
		if (n > 0) {
			ck_assert_uint_eq(be16(p + 2), (uint16_t)(seq + 1));
			ck_assert_uint_eq(be32(p + 4), ts + 160);
			ck_assert_uint_eq(be32(p + 8), ssrc);
		}
		seq = be16(p + 2);
		ts = be32(p + 4);
		ssrc = be32(p + 8);
		for (int i = 0; i < 160; i++)
			ck_assert_uint_eq(p[12 + i], G711_ALAW_SILENCE);
		n++;
	}
	ck_assert_int_ge(n, 4);
	rtp_session_close(a);
	close(fd);
}
END_TEST

/*
 * play -> echo -> a plain socket: the bytes that come back are the
 * file's, looped, with the echo's own SSRC and a clock that moves as
 * the player's does.
 */
START_TEST(test_echo_returns_play)
{
	struct rtp_session *a, *b;
	struct rtp_remote r;
	struct media_wav *w, *w2;
	struct rtp_stats sa, sb;
	uint8_t data[1000], p[2048], got[8192];
	size_t ngot = 0;
	uint32_t ssrc = 0, ts = 0;
	char err[128];
	const char *path;
	ssize_t len;
	uint16_t port = 0;
	int fd, n = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	path = write_wav("play.wav", data, sizeof(data));
	engine_up(41200, 41299, 0);
	ck_assert_int_eq(rtp_engine_load_wav(eng, path, &w, err, sizeof(err)),
	    0);
	/* cached: the same file comes back, with another reference */
	ck_assert_int_eq(rtp_engine_load_wav(eng, path, &w2, err, sizeof(err)),
	    0);
	ck_assert_ptr_eq(w, w2);
	media_wav_unref(w2);

	fd = raw_open(&port);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), 0);
	remote(&r, "127.0.0.1", rtp_session_port(b), 0, "PCMU", -1);
	ck_assert_int_eq(rtp_session_set_remote(a, &r), 0);
	remote(&r, "127.0.0.1", port, 0, "PCMU", -1);
	ck_assert_int_eq(rtp_session_set_remote(b, &r), 0);
	ck_assert_int_eq(rtp_session_set_mode(b, RTP_MODE_ECHO, NULL), 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_PLAY, NULL), EINVAL);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_PLAY, w), 0);
	/* the session holds its own reference */
	media_wav_unref(w);

	run_ms(310);
	/* the player stops; what it sent last comes back too */
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_NONE, NULL), 0);
	run_ms(60);
	while ((len = recv(fd, p, sizeof(p), 0)) > 0) {
		ck_assert_int_eq(len, 12 + 160);
		ck_assert_uint_eq(p[1] & 0x7f, 0);
		if (n > 0) {
			ck_assert_uint_eq(be32(p + 8), ssrc);
			ck_assert_uint_eq(be32(p + 4), ts + 160);
		}
		ssrc = be32(p + 8);
		ts = be32(p + 4);
		ck_assert_uint_le(ngot + 160, sizeof(got));
		memcpy(got + ngot, p + 12, 160);
		ngot += 160;
		n++;
	}
	ck_assert_int_ge(n, 10);
	for (size_t i = 0; i < ngot; i++)
		ck_assert_msg(got[i] == data[i % sizeof(data)],
		    "byte %zu: %02x, file %02x", i, got[i],
		    data[i % sizeof(data)]);
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb);
	ck_assert_uint_ne(ssrc, sb.remote_ssrc);
	ck_assert_uint_eq(sb.packets_sent, (uint64_t)n);
	ck_assert_uint_eq(sb.packets_recv, sa.packets_sent);
	ck_assert_int_eq(sb.lost, 0);
	rtp_session_close(a);
	rtp_session_close(b);
	close(fd);
}
END_TEST

START_TEST(test_dtmf)
{
	struct rtp_session *a, *b, *c;
	struct rec ra = { 0 }, rb = { 0 };
	struct rtp_remote r;
	struct rtp_stats sa, sb;
	char many[80];
	bool done = false;
	uint64_t end;

	engine_up(41300, 41399, 0);
	pair(&a, &ra, &b, &rb);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	ck_assert_int_eq(rtp_session_set_mode(b, RTP_MODE_SILENCE, NULL), 0);
	ck_assert_int_eq(rtp_session_send_dtmf(a, "1x", 0), EINVAL);
	ck_assert_int_eq(rtp_session_send_dtmf(a, "", 0), EINVAL);
	memset(many, '5', 65);
	many[65] = '\0';
	ck_assert_int_eq(rtp_session_send_dtmf(a, many, 0), EBUSY);
	ck_assert_int_eq(rtp_session_send_dtmf(a, "12#", 0), 0);

	end = time_mono_us() + 3000000;
	while (!done && time_mono_us() < end) {
		run_ms(20);
		done = rb.ndigits >= 3;
	}
	/* the trailing end packets and gap: nothing more arrives */
	run_ms(150);
	ck_assert_int_eq(rb.ndigits, 3);
	ck_assert_mem_eq(rb.digits, "12#", 3);
	for (int i = 0; i < rb.n; i++) {
		ck_assert_int_eq(rb.ev[i], RTP_EV_DTMF);
		ck_assert_uint_eq(rb.info[i].duration_ms, 100);
	}
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb);
	ck_assert_uint_eq(sa.dtmf_sent, 3);
	ck_assert_uint_eq(sb.dtmf_recv, 3);
	ck_assert_int_eq(sb.lost, 0);
	ck_assert(sb.jitter_ms < 30);
	ck_assert_int_eq(ra.n, 0);

	/* lower case and a pause; the queue is full at 64 */
	ck_assert_int_eq(rtp_session_send_dtmf(a, "a,d", 40), 0);
	memset(many, '5', 61);
	many[61] = '\0';
	ck_assert_int_eq(rtp_session_send_dtmf(a, many, 40), 0);
	ck_assert_int_eq(rtp_session_send_dtmf(a, "1", 40), EBUSY);

	/* no telephone-event, or no remote: nothing to send them with */
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &c), 0);
	ck_assert_int_eq(rtp_session_send_dtmf(c, "1", 0), ENOTSUP);
	remote(&r, "127.0.0.1", rtp_session_port(b), 0, "PCMU", -1);
	ck_assert_int_eq(rtp_session_set_remote(c, &r), 0);
	ck_assert_int_eq(rtp_session_send_dtmf(c, "1", 0), ENOTSUP);
	rtp_session_close(c);
	rtp_session_close(a);
	rtp_session_close(b);
}
END_TEST

/* A mode none session sends digits too; the receiver closes itself. */
START_TEST(test_dtmf_close_in_handler)
{
	struct rtp_session *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	struct rtp_engine_stats es;

	engine_up(41400, 41499, 0);
	pair(&a, &ra, &b, &rb);
	rb.close_on_event = true;
	ck_assert_int_eq(rtp_session_send_dtmf(a, "9", 40), 0);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 1);
	for (int i = 0; i < 50 && rb.n == 0; i++)
		run_ms(20);
	ck_assert_int_eq(rb.n, 1);
	ck_assert_int_eq(rb.digits[0], '9');
	/* a's queue drained: it leaves the send list */
	run_ms(100);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sessions, 1);
	ck_assert_uint_eq(es.sending, 0);
	rtp_session_close(a);
}
END_TEST

static bool
has_event(const struct rec *r, enum rtp_event ev)
{
	return rec_count(r, ev) > 0;
}

START_TEST(test_timeout_and_resume)
{
	struct rtp_session *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	bool flag = false;
	uint64_t end;

	engine_up(41500, 41599, 200);
	pair(&a, &ra, &b, &rb);
	/* only a sends; b does not expect anything back */
	rtp_session_set_direction(a, true, false);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	run_ms(1200);
	ck_assert_int_eq(rb.n, 0);

	rtp_session_set_direction(a, false, false);
	end = time_mono_us() + 2500000;
	while (!flag && time_mono_us() < end) {
		run_ms(20);
		flag = has_event(&rb, RTP_EV_TIMEOUT);
	}
	ck_assert_int_eq(rb.n, 1);
	ck_assert_int_eq(rb.ev[0], RTP_EV_TIMEOUT);
	ck_assert_uint_ge(rb.info[0].silent_ms, 200);
	ck_assert_uint_le(rb.info[0].silent_ms, 1500);
	/* once */
	run_ms(1100);
	ck_assert_int_eq(rb.n, 1);

	rtp_session_set_direction(a, true, false);
	flag = false;
	end = time_mono_us() + 1000000;
	while (!flag && time_mono_us() < end) {
		run_ms(20);
		flag = has_event(&rb, RTP_EV_RESUMED);
	}
	ck_assert_int_eq(rb.n, 2);
	ck_assert_int_eq(rb.ev[1], RTP_EV_RESUMED);
	ck_assert_int_eq(ra.n, 0);

	/* a session that expects nothing never times out; the handler
	 * may close its session on the timeout */
	rtp_session_set_direction(a, false, false);
	rb.close_on_event = true;
	flag = false;
	end = time_mono_us() + 2500000;
	while (!flag && time_mono_us() < end) {
		run_ms(20);
		flag = rec_count(&rb, RTP_EV_TIMEOUT) == 2;
	}
	ck_assert_int_eq(rb.n, 3);
	ck_assert_int_eq(ra.n, 0);
	rtp_session_close(a);
}
END_TEST

START_TEST(test_hold)
{
	struct rtp_session *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	struct rtp_stats sa, sb, sb2;
	struct rtp_engine_stats es;
	uint64_t sent;

	engine_up(41600, 41699, 0);
	pair(&a, &ra, &b, &rb);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	run_ms(100);
	rtp_session_set_direction(a, false, true);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 0);
	/* b drains its socket every 100 ms */
	run_ms(150);
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb);
	ck_assert_uint_gt(sb.packets_recv, 0);
	ck_assert_uint_eq(sb.packets_recv, sa.packets_sent);
	sent = sa.packets_sent;
	run_ms(200);
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb2);
	ck_assert_uint_eq(sa.packets_sent, sent);
	ck_assert_uint_eq(sb2.packets_recv, sb.packets_recv);

	/* unhold: the stream goes on, no loss counted */
	rtp_session_set_direction(a, true, true);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 1);
	run_ms(100);
	rtp_session_stats(b, &sb2);
	ck_assert_uint_gt(sb2.packets_recv, sb.packets_recv);
	ck_assert_int_eq(sb2.lost, 0);

	/* no remote: nothing to send to */
	rtp_session_close(a);
	rtp_session_close(b);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 0);
	rtp_session_close(a);
}
END_TEST

START_TEST(test_ports)
{
	struct rtp_session *a, *b, *c;
	struct rtp_engine_stats es;
	struct rtp_engine_conf conf;
	char err[128];
	uint16_t port;
	int fd;

	/* two pairs: 41700 and 41702 (41704 would need 41705) */
	engine_up(41700, 41704, 0);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_port(a), 41700);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), 0);
	ck_assert_int_eq(rtp_session_port(b), 41702);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &c), EADDRINUSE);
	ck_assert_ptr_null(c);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.port_exhausted, 1);
	ck_assert_uint_eq(es.sessions, 2);
	rtp_session_close(a);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &c), 0);
	ck_assert_int_eq(rtp_session_port(c), 41700);
	rtp_session_close(b);
	rtp_session_close(c);
	/* round robin: after 41700 comes 41702, though 41700 is free */
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_port(a), 41702);
	rtp_session_close(a);

	/* a pair someone else holds (here the odd port) is skipped */
	port = 41701;
	fd = raw_open(&port);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_port(a), 41702);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), EADDRINUSE);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.port_exhausted, 2);
	close(fd);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), 0);
	ck_assert_int_eq(rtp_session_port(b), 41700);
	rtp_session_close(a);
	rtp_session_close(b);

	/* a reload moves the range for the next sessions */
	engine_conf(&conf, "127.0.0.1", 41710, 41711, 0);
	ck_assert_int_eq(rtp_engine_set_conf(eng, &conf, err, sizeof(err)),
	    0);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &a), 0);
	ck_assert_int_eq(rtp_session_port(a), 41710);
	rtp_session_close(a);

	/* bad configurations */
	engine_conf(&conf, "127.0.0.1", 41711, 41720, 0);
	ck_assert_int_eq(rtp_engine_set_conf(eng, &conf, err, sizeof(err)),
	    EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "even"));
	engine_conf(&conf, "127.0.0.1", 41710, 41710, 0);
	ck_assert_int_eq(rtp_engine_set_conf(eng, &conf, err, sizeof(err)),
	    EINVAL);
	engine_conf(&conf, "localhost", 41710, 41720, 0);
	ck_assert_int_eq(rtp_engine_set_conf(eng, &conf, err, sizeof(err)),
	    EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "localhost"));
	ck_assert_str_eq(rtp_engine_addr(eng), "127.0.0.1");
}
END_TEST

START_TEST(test_garbage)
{
	static const uint8_t valid[12 + 4] = { 0x80, 0, 0, 1, 0, 0, 0, 160,
	    1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff };
	struct rtp_session *b;
	struct rtp_stats sb;
	uint8_t p[64];
	uint16_t port = 0;
	int fd;

	engine_up(41800, 41899, 0);
	fd = raw_open(&port);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), 0);
	ck_assert_int_eq(rtp_session_set_mode(b, RTP_MODE_ECHO, NULL), 0);

	raw_send(fd, rtp_session_port(b), valid, 5);		/* short */
	memcpy(p, valid, 16);
	p[0] = 0x40;						/* version 1 */
	raw_send(fd, rtp_session_port(b), p, 16);
	p[0] = 0x8f;					/* 15 CSRCs, 4 bytes */
	raw_send(fd, rtp_session_port(b), p, 16);
	p[0] = 0x90;			/* an extension longer than the rest */
	p[12] = 0xbe; p[13] = 0xde; p[14] = 0; p[15] = 9;
	raw_send(fd, rtp_session_port(b), p, 16);
	p[0] = 0xa0;					/* padding 0 */
	p[15] = 0;
	raw_send(fd, rtp_session_port(b), p, 16);
	p[15] = 5;					/* padding > payload */
	raw_send(fd, rtp_session_port(b), p, 16);
	p[0] = 0x80;
	p[1] = 200;					/* an RTCP SR */
	raw_send(fd, rtp_session_port(b), p, 16);
	raw_send(fd, rtp_session_port(b), p, 0);
	memset(p, 0xff, sizeof(p));
	raw_send(fd, rtp_session_port(b), p, sizeof(p));
	/* and on the RTCP port: garbage, then one that looks right */
	raw_send(fd, rtp_session_port(b) + 1, p, 3);
	raw_send(fd, rtp_session_port(b) + 1, p, 16);
	run_ms(50);
	rtp_session_stats(b, &sb);
	ck_assert_uint_eq(sb.packets_recv, 0);
	ck_assert_uint_eq(sb.bytes_recv, 0);
	ck_assert_uint_eq(sb.rtcp_recv, 0);
	ck_assert(sb.last_recv_age_s < 0);
	ck_assert_int_eq(sb.recv_pt, -1);

	/* padding and an extension done right: 4 bytes of payload left */
	memcpy(p, valid, 12);
	p[0] = 0xb0;
	memcpy(p + 12, "\xbe\xde\0\1abcd", 8);
	memcpy(p + 20, "\xff\xff\xff\xff\0\0\3", 7);
	raw_send(fd, rtp_session_port(b), p, 27);
	raw_send(fd, rtp_session_port(b), valid, 16);		/* a duplicate */
	p[0] = 0x80;
	p[1] = 201;
	p[2] = 0;
	p[3] = 1;
	raw_send(fd, rtp_session_port(b) + 1, p, 8);
	run_ms(50);
	rtp_session_stats(b, &sb);
	ck_assert_uint_eq(sb.packets_recv, 2);
	ck_assert_uint_eq(sb.bytes_recv, 8);
	ck_assert_uint_eq(sb.remote_ssrc, 0x01020304);
	ck_assert_int_eq(sb.lost, -1);
	ck_assert_uint_eq(sb.rtcp_recv, 1);
	/* echo without a remote sends nothing */
	ck_assert_uint_eq(sb.packets_sent, 0);
	rtp_session_close(b);
	close(fd);
}
END_TEST

START_TEST(test_play_error)
{
	struct rtp_session *a;
	struct rec ra = { 0 };
	struct rtp_remote r;
	struct rtp_stats sa;
	struct rtp_engine_stats es;
	struct media_wav *w;
	uint8_t data[200] = { 0 };
	char err[128];
	uint16_t port = 0;
	int fd;

	engine_up(41000, 41099, 0);
	fd = raw_open(&port);
	ck_assert_int_eq(rtp_engine_load_wav(eng, write_wav("e.wav", data,
	    sizeof(data)), &w, err, sizeof(err)), 0);
	ck_assert_int_eq(rtp_session_open(eng, rec_event, &ra, &a), 0);
	remote(&r, "127.0.0.1", port, 111, "opus", 101);
	r.clock_rate = 48000;
	ck_assert_int_eq(rtp_session_set_remote(a, &r), 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_PLAY, w), 0);
	run_ms(60);
	ck_assert_int_eq(ra.n, 1);
	ck_assert_int_eq(ra.ev[0], RTP_EV_PLAY_ERROR);
	run_ms(60);
	ck_assert_int_eq(ra.n, 1);
	rtp_session_stats(a, &sa);
	ck_assert_uint_eq(sa.packets_sent, 0);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 0);

	/* silence as well; echo works with any codec */
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	run_ms(40);
	ck_assert_int_eq(ra.n, 2);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_ECHO, NULL), 0);
	run_ms(40);
	ck_assert_int_eq(ra.n, 2);
	rtp_engine_stats(eng, &es);
	ck_assert_uint_eq(es.sending, 1);

	/* set right before the tick: no error */
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_PLAY, w), 0);
	remote(&r, "127.0.0.1", port, 8, "PCMA", 101);
	ck_assert_int_eq(rtp_session_set_remote(a, &r), 0);
	run_ms(60);
	ck_assert_int_eq(ra.n, 2);
	rtp_session_stats(a, &sa);
	ck_assert_uint_gt(sa.packets_sent, 0);
	media_wav_unref(w);
	rtp_session_close(a);
	close(fd);
}
END_TEST

START_TEST(test_load_wav_errors)
{
	struct rtp_engine_conf c;
	struct media_wav *w;
	char err[256], path[128];
	uint8_t data[100] = { 0 };
	FILE *f;

	engine_conf(&c, "127.0.0.1", 41000, 41099, 0);
	c.wav_max = 100;
	ck_assert_int_eq(rtp_engine_new(&eng, base, &c, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/none.wav", tmpdir);
	ck_assert_int_eq(rtp_engine_load_wav(eng, path, &w, err, sizeof(err)),
	    ENOENT);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(rtp_engine_load_wav(eng, write_wav("big.wav", data,
	    sizeof(data)), &w, err, sizeof(err)), EFBIG);
	snprintf(path, sizeof(path), "%s/junk.wav", tmpdir);
	f = fopen(path, "w");
	fputs("not a wav at all", f);
	fclose(f);
	ck_assert_int_eq(rtp_engine_load_wav(eng, path, &w, err, sizeof(err)),
	    EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "RIFF"));
	ck_assert_int_eq(rtp_engine_load_wav(eng, tmpdir, &w, err,
	    sizeof(err)), EINVAL);

	/* a file still held when the engine goes */
	ck_assert_int_eq(rtp_engine_load_wav(eng, write_wav("ok.wav", data, 50),
	    &w, err, sizeof(err)), 0);
	rtp_engine_free(eng);
	eng = NULL;
	media_wav_unref(w);
}
END_TEST

START_TEST(test_rtcp)
{
	struct rtp_session *a, *b;
	struct rec ra = { 0 }, rb = { 0 };
	struct rtp_stats sa, sb;

	struct rtp_session *c;
	struct rtp_remote r;
	uint8_t p[512];
	ssize_t n;
	size_t len;
	uint16_t port = 0, rport = 0;
	int fd, rfd;

	engine_up(41100, 41199, 0);
	pair(&a, &ra, &b, &rb);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	/* and one to a plain socket pair, to read its report */
	fd = raw_open(&port);
	rfd = raw_open(&rport);
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &c), 0);
	remote(&r, "127.0.0.1", port, 0, "PCMU", -1);
	memcpy(&r.rtcp, &r.rtp, r.rtp_len);
	r.rtcp_len = r.rtp_len;
	((struct sockaddr_in *)&r.rtcp)->sin_port = htons(rport);
	ck_assert_int_eq(rtp_session_set_remote(c, &r), 0);
	ck_assert_int_eq(rtp_session_set_mode(c, RTP_MODE_SILENCE, NULL), 0);
	run_ms(5300);
	rtp_session_stats(a, &sa);
	rtp_session_stats(b, &sb);
	/* a sends an SR, b (not sending) an RR: each hears one */
	ck_assert_uint_ge(sa.rtcp_recv, 1);
	ck_assert_uint_ge(sb.rtcp_recv, 1);
	ck_assert_int_eq(sb.lost, 0);

	/* an SR without report blocks (c hears nothing), then SDES */
	n = recv(rfd, p, sizeof(p), 0);
	ck_assert_int_ge(n, 28 + 8 + 4);
	ck_assert_int_eq(n % 4, 0);
	ck_assert_uint_eq(p[0], 0x80);
	ck_assert_uint_eq(p[1], 200);
	ck_assert_uint_eq(be16(p + 2), 6);
	ck_assert_uint_ge(be32(p + 20), 50);		/* packets sent */
	ck_assert_uint_eq(be32(p + 24), 160 * be32(p + 20));
	ck_assert_uint_eq(p[28], 0x81);
	ck_assert_uint_eq(p[29], 202);
	len = 4u * (be16(p + 30) + 1u);
	ck_assert_uint_eq(28 + len, (size_t)n);
	ck_assert_uint_eq(be32(p + 32), be32(p + 4));	/* our SSRC */
	ck_assert_uint_eq(p[36], 1);			/* CNAME */
	ck_assert_uint_gt(p[37], 0);
	ck_assert_uint_le(38u + p[37], (size_t)n);
	rtp_session_close(a);
	rtp_session_close(b);
	rtp_session_close(c);
	close(fd);
	close(rfd);
}
END_TEST

START_TEST(test_ipv6)
{
	struct rtp_engine_conf c;
	struct rtp_session *a, *b;
	struct rtp_remote r;
	struct rtp_stats sb;
	char err[128];
	int fd;

	/* skipped where the machine has no ::1 */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	close(fd);
	engine_conf(&c, "[::1]", 41200, 41299, 0);
	ck_assert_int_eq(rtp_engine_new(&eng, base, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(rtp_engine_addr(eng), "::1");
	if (rtp_session_open(eng, NULL, NULL, &a) != 0)
		return;
	ck_assert_int_eq(rtp_session_open(eng, NULL, NULL, &b), 0);
	remote(&r, "::1", rtp_session_port(b), 0, "PCMU", -1);
	ck_assert_int_eq(rtp_session_set_remote(a, &r), 0);
	ck_assert_int_eq(rtp_session_set_mode(a, RTP_MODE_SILENCE, NULL), 0);
	run_ms(250);
	rtp_session_stats(b, &sb);
	ck_assert_uint_ge(sb.packets_recv, 5);
	ck_assert_int_eq(sb.lost, 0);
	rtp_session_close(a);
	rtp_session_close(b);
}
END_TEST

START_TEST(test_modes)
{
	ck_assert_str_eq(rtp_mode_name(RTP_MODE_NONE), "none");
	ck_assert_str_eq(rtp_mode_name(RTP_MODE_PLAY), "play");
	for (int m = RTP_MODE_NONE; m <= RTP_MODE_PLAY; m++)
		ck_assert_int_eq(rtp_mode_parse(rtp_mode_name(m)), m);
	ck_assert_int_eq(rtp_mode_parse("Echo"), -1);
	ck_assert_int_eq(rtp_mode_parse(""), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rtp");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_silence_both_ways);
	tcase_add_test(tc, test_packet_format);
	tcase_add_test(tc, test_echo_returns_play);
	tcase_add_test(tc, test_dtmf);
	tcase_add_test(tc, test_dtmf_close_in_handler);
	tcase_add_test(tc, test_timeout_and_resume);
	tcase_add_test(tc, test_hold);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_play_error);
	tcase_add_test(tc, test_load_wav_errors);
	tcase_add_test(tc, test_rtcp);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_modes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
