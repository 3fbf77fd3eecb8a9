/*
 * RTP engine and sessions (see rtp.h).  The engine owns the port range
 * (a bitmap of the pairs our own sessions hold, so a busy range costs no
 * failed bind for them), one persistent 20 ms tick, the sound file cache
 * and the scratch buffers every send and receive uses (one thread, so
 * one set).  A session owns its two sockets and two read events.
 *
 * The tick does three things, cheaply at any number of sessions:
 *  - walks the list of sessions that send on the clock (silence, play,
 *    a DTMF queue) and writes each one's due packets with one sendmmsg
 *    on its socket.  Packets of different sessions leave from different
 *    ports, so a syscall cannot carry several sessions; what one call
 *    batches is a session's packets of one tick (ptime below 20 ms, a
 *    tick that makes up for lateness).  Payloads are not copied: the
 *    iovec points at a shared silence buffer or into the sound file;
 *  - drains the RTP sockets of the sessions that receive a stream, a
 *    fifth of them each tick, so each every 100 ms: one recvmmsg takes
 *    about five packets where a read event per packet would cost an
 *    epoll wakeup and a syscall each (the kernel's arrival timestamp,
 *    SO_TIMESTAMPNS, keeps the jitter exact).  A session whose socket
 *    stays empty for two drains goes back to a read event, so a silent
 *    session costs nothing; the first packet brings it back to the
 *    drain.  Echo sessions always keep their read event: they answer
 *    at once.  Received digits and RESUMED may so come 100 ms late;
 *  - visits one of BUCKETS buckets, so every session is looked at once a
 *    second: media timeout, and every RTCP_EVERY visits an RTCP report;
 *  - reports deferred events (RTP_EV_PLAY_ERROR), so that no API call
 *    ever calls its caller's handler back from inside itself.
 *
 * Handlers may close any session, their own included.  A session closed
 * while its own handler runs is freed when the handler returns (busy);
 * the walks keep their next element in the engine (a cursor that close
 * moves on), so a handler closing the next session is harmless too.
 *
 * Receive statistics follow RFC 3550 A.1, A.3 and A.8 with one change:
 * no probation.  The first valid packet of an SSRC starts its sequence
 * state at once (A.1 waits for two in sequence): packets from anyone are
 * accepted, and a new SSRC restarts the state after folding the old
 * one's expected and lost counts into the totals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/queue.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "g711.h"
#include "rtp.h"
#include "rtp_packet.h"
#include "wav.h"

#define TICK_US			20000
#define TICK_MS			20
#define TICK_LATE_US		10000	/* rtp_engine_stats.late_ticks */
#define TICK_CATCHUP_MAX	5	/* periods one tick makes up at most */
#define TICK_SLACK_US		2000	/* a timer this early is on time */
#define BUCKETS			50	/* one per tick: each session 1/s */
#define RTCP_EVERY		5	/* bucket visits: a report every 5 s */
#define PKT_PER_TICK		16	/* one session's packets per tick */
#define PAYLOAD_MAX		960	/* ptime 120 ms of G.711 */
#define PTIME_MIN		10
#define PTIME_MAX		120
#define RX_BATCH		8	/* datagrams per recvmmsg */
#define RX_DRAIN_MAX		4	/* recvmmsg calls per drain */
#define RX_POLL_TICKS		5	/* a drain every 5 ticks, 100 ms */
#define RX_IDLE_POLLS		2	/* empty drains before a read event */
#define RX_BUF			2048	/* larger datagrams are dropped */
#define WAV_MAX_DEFAULT		(16u * 1024 * 1024)

/* RFC 3550 A.1 */
#define SEQ_MOD			65536u
#define SEQ_MAX_DROPOUT		3000
#define SEQ_MAX_MISORDER	100

/* RFC 4733 sending */
#define DTMF_QUEUE_MAX		64
#define DTMF_DEFAULT_MS		100
#define DTMF_MAX_MS		5000
#define DTMF_GAP_MS		50
#define DTMF_PAUSE_MS		500
#define DTMF_VOLUME		10
#define DTMF_END_REPEAT		3

union rtp_sa {
	struct sockaddr		 sa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
};

enum rtp_codec {
	CODEC_OTHER,
	CODEC_PCMU,
	CODEC_PCMA,
};

struct media_wav {
	LIST_ENTRY(media_wav)	 entry;
	struct rtp_engine	*eng;		/* NULL once the engine is gone */
	char			*path;
	unsigned		 refs;
	struct wav_audio	 a;
};

enum dtmf_phase {
	DTMF_START,		/* the next queued digit begins */
	DTMF_TONE,		/* event packets, duration growing */
	DTMF_END,		/* the end packets, E bit set */
	DTMF_GAP,		/* voice between digits, or a ',' pause */
};

/* Allocated only while digits are queued. */
struct dtmf_tx {
	char		 digit[DTMF_QUEUE_MAX];
	uint16_t	 dur_ms[DTMF_QUEUE_MAX];
	unsigned	 n, pos;
	enum dtmf_phase	 phase;
	uint32_t	 ev_ts;
	unsigned	 elapsed_ms;
	unsigned	 gap_ms;
	unsigned	 ends;
	bool		 first;		/* the event's first packet is next */
};

struct rtp_session {
	struct rtp_engine	*eng;
	rtp_event_h		*handler;
	void			*arg;
	int			 fd, rfd;
	struct event		*ev, *rev;
	TAILQ_ENTRY(rtp_session) send_entry;	/* on eng->sending */
	TAILQ_ENTRY(rtp_session) bucket_entry;
	TAILQ_ENTRY(rtp_session) pending_entry;
	uint16_t		 port;
	uint8_t			 bucket;
	uint8_t			 busy;		/* inside its handler */
	uint8_t			 mode;		/* enum rtp_mode */
	uint8_t			 codec;		/* enum rtp_codec */
	uint8_t			 rtcp_visits;
	uint8_t			 idle_polls;
	bool			 polled;	/* drained by the tick */
	bool			 closed;
	bool			 has_remote, send, recv;
	bool			 on_tick, counted_sending, pending;
	bool			 play_err_done;
	bool			 timed_out;
	bool			 marker_next;
	bool			 echo_have;
	bool			 rx_have, transit_have, dtmf_end_have;

	/* what offer/answer decided */
	union rtp_sa		 to, rtcp_to;
	socklen_t		 to_len, rtcp_len;
	int16_t			 pt, dtmf_pt;
	uint16_t		 ptime;
	uint32_t		 rate;

	/* sending */
	uint32_t		 ssrc, ts;
	uint16_t		 seq;
	uint16_t		 ms_due;
	uint64_t		 last_tick_us;
	struct media_wav	*wav;
	size_t			 play_pos;
	struct dtmf_tx		*dtmf;
	uint32_t		 echo_last_ts;

	/* receiving, RFC 3550 A.1/A.3/A.8 */
	uint32_t		 rx_ssrc;
	uint16_t		 max_seq;
	uint32_t		 bad_seq;
	uint64_t		 cycles, base_seq;
	uint64_t		 received, expected_prior, received_prior;
	uint64_t		 expected_before;	/* earlier SSRCs */
	int64_t			 lost_before;
	uint32_t		 transit;
	double			 jitter;		/* timestamp units */
	uint32_t		 dtmf_end_ts;
	uint32_t		 lsr;			/* RFC 3550 §6.4.1 */
	uint64_t		 lsr_at_us;
	uint64_t		 rx_last_us, expect_since_us;
	int			 recv_pt;

	uint64_t		 packets_sent, bytes_sent;
	uint64_t		 packets_recv, bytes_recv, rtcp_recv;
	uint32_t		 dtmf_sent, dtmf_recv;
};

TAILQ_HEAD(rtp_session_list, rtp_session);

struct rtp_engine {
	struct event_base	*base;
	struct event		*tick;
	bool			 ticking;
	union rtp_sa		 addr;
	socklen_t		 addrlen;
	char			 addrstr[INET6_ADDRSTRLEN];
	uint16_t		 port_min, port_max, port_next;
	unsigned		 timeout_ms;
	size_t			 wav_max;
	char			 cname[24];

	struct rtp_session_list	 sending;
	struct rtp_session_list	 buckets[BUCKETS];
	struct rtp_session_list	 pending;
	struct rtp_session	*send_cursor, *bucket_cursor;
	unsigned		 bucket_fill;
	uint64_t		 tick_due_us;
	LIST_HEAD(, media_wav)	 wavs;
	struct rtp_engine_stats	 st;
	uint8_t			 used[65536 / 16];	/* bit per even port */

	/* scratch for the one thread */
	uint8_t			 silence_ulaw[PAYLOAD_MAX];
	uint8_t			 silence_alaw[PAYLOAD_MAX];
	struct mmsghdr		 msgs[PKT_PER_TICK];
	struct iovec		 iov[PKT_PER_TICK][2];
	uint8_t			 hdr[PKT_PER_TICK][RTP_HDR_LEN + 4];
	uint8_t			 payload[PKT_PER_TICK][PAYLOAD_MAX];
	struct mmsghdr		 rxmsgs[RX_BATCH];
	union {
		char		 buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr	 align;
	}			 rxctl[RX_BATCH];
	unsigned		 tick_no;
	struct iovec		 rxiov[RX_BATCH];
	union rtp_sa		 rxfrom[RX_BATCH];
	uint8_t			 rxbuf[RX_BATCH][RX_BUF];
};

static void	eng_tick(evutil_socket_t, short, void *);
static void	sess_refresh(struct rtp_session *);

/* ---- modes, random, ports -------------------------------------------- */

static const char *const mode_names[] = { "none", "silence", "echo",
    "play" };

const char *
rtp_mode_name(enum rtp_mode m)
{
	if ((unsigned)m >= sizeof(mode_names) / sizeof(mode_names[0]))
		return "unknown";
	return mode_names[m];
}

int
rtp_mode_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]);
	    i++)
		if (s != NULL && strcmp(s, mode_names[i]) == 0)
			return (int)i;
	return -1;
}

/*
 * SSRC, first sequence number and timestamp (RFC 3550 §5.1: random so
 * that a known-plaintext attack gets less).  They need not be secret,
 * so a failing getrandom falls back to the clock instead of failing.
 */
static void
random_bytes(void *p, size_t n)
{
	if (getrandom(p, n, GRND_NONBLOCK) != (ssize_t)n) {
		uint64_t t = time_mono_us() * 0x9e3779b97f4a7c15ull;
		uint8_t *b = p;

		for (size_t i = 0; i < n; i++, t = t * 6364136223846793005ull +
		    1442695040888963407ull)
			b[i] ^= (uint8_t)(t >> 56);
	}
}

static bool
port_used(const struct rtp_engine *eng, unsigned port)
{
	return (eng->used[port >> 4] & (1u << ((port >> 1) & 7))) != 0;
}

static void
port_mark(struct rtp_engine *eng, unsigned port, bool used)
{
	uint8_t bit = (uint8_t)(1u << ((port >> 1) & 7));

	if (used)
		eng->used[port >> 4] |= bit;
	else
		eng->used[port >> 4] &= (uint8_t)~bit;
}

static void
sa_set_port(union rtp_sa *sa, uint16_t port)
{
	if (sa->sa.sa_family == AF_INET)
		sa->sin.sin_port = htons(port);
	else
		sa->sin6.sin6_port = htons(port);
}

static uint16_t
sa_port(const union rtp_sa *sa)
{
	return ntohs(sa->sa.sa_family == AF_INET ? sa->sin.sin_port :
	    sa->sin6.sin6_port);
}

/* 0, or errno from socket() or bind(). */
static int
bind_one(const struct rtp_engine *eng, uint16_t port, int *fdp)
{
	union rtp_sa sa = eng->addr;
	int fd, err;

	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return errno;
	/* arrival times for the jitter of packets the tick drains later */
	if ((port & 1) == 0) {
		int one = 1;

		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
		    sizeof(one));
	}
	sa_set_port(&sa, port);
	if (bind(fd, &sa.sa, eng->addrlen) == -1) {
		err = errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static int
bind_pair(const struct rtp_engine *eng, uint16_t port, int *fd, int *rfd)
{
	int rc;

	if ((rc = bind_one(eng, port, fd)) != 0)
		return rc;
	if ((rc = bind_one(eng, (uint16_t)(port + 1), rfd)) != 0) {
		close(*fd);
		return rc;
	}
	return 0;
}

/* ---- engine -------------------------------------------------------------- */

static int
conf_check(const struct rtp_engine_conf *c, union rtp_sa *sa,
    socklen_t *salen, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 2];
	const char *a = c->addr != NULL ? c->addr : "";
	size_t n = strlen(a);

	/* "[::1]" is accepted as well as "::1" */
	if (n >= 2 && a[0] == '[' && a[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, a + 1, n - 2);
		buf[n - 2] = '\0';
		a = buf;
	}
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, a, &sa->sin.sin_addr) == 1) {
		sa->sin.sin_family = AF_INET;
		*salen = sizeof(sa->sin);
	} else if (inet_pton(AF_INET6, a, &sa->sin6.sin6_addr) == 1) {
		sa->sin6.sin6_family = AF_INET6;
		*salen = sizeof(sa->sin6);
	} else {
		snprintf(err, errlen, "media address \"%s\" is not an IP "
		    "address", c->addr != NULL ? c->addr : "");
		return EINVAL;
	}
	if (c->port_min == 0 || (c->port_min & 1) != 0) {
		snprintf(err, errlen, "RTP port_min %u is not an even port",
		    c->port_min);
		return EINVAL;
	}
	if (c->port_max <= c->port_min) {
		snprintf(err, errlen, "RTP port range %u-%u holds no port pair",
		    c->port_min, c->port_max);
		return EINVAL;
	}
	return 0;
}

static void
conf_apply(struct rtp_engine *eng, const struct rtp_engine_conf *c,
    const union rtp_sa *sa, socklen_t salen)
{
	eng->addr = *sa;
	eng->addrlen = salen;
	if (sa->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &sa->sin.sin_addr, eng->addrstr,
		    sizeof(eng->addrstr));
	else
		inet_ntop(AF_INET6, &sa->sin6.sin6_addr, eng->addrstr,
		    sizeof(eng->addrstr));
	eng->port_min = c->port_min;
	eng->port_max = c->port_max;
	if (eng->port_next < eng->port_min ||
	    (unsigned)eng->port_next + 1 > eng->port_max)
		eng->port_next = eng->port_min;
	eng->timeout_ms = c->timeout_ms;
	eng->wav_max = c->wav_max != 0 ? c->wav_max : WAV_MAX_DEFAULT;
}

int
rtp_engine_new(struct rtp_engine **out, struct event_base *base,
    const struct rtp_engine_conf *c, char *err, size_t errlen)
{
	struct rtp_engine *eng;
	union rtp_sa sa;
	socklen_t salen;
	uint8_t r[8];
	int rc;

	*out = NULL;
	if ((rc = conf_check(c, &sa, &salen, err, errlen)) != 0)
		return rc;
	eng = xcalloc(1, sizeof(*eng));
	eng->base = base;
	/* Re-armed by each tick for the next due time: a persistent timer
	 * slips by the tick's own work when the work is long. */
	eng->tick = event_new(base, -1, 0, eng_tick, eng);
	if (eng->tick == NULL) {
		free(eng);
		snprintf(err, errlen, "event_new failed");
		return ENOMEM;
	}
	conf_apply(eng, c, &sa, salen);
	eng->port_next = c->port_min;
	TAILQ_INIT(&eng->sending);
	TAILQ_INIT(&eng->pending);
	for (size_t i = 0; i < BUCKETS; i++)
		TAILQ_INIT(&eng->buckets[i]);
	LIST_INIT(&eng->wavs);
	memset(eng->silence_ulaw, G711_ULAW_SILENCE, PAYLOAD_MAX);
	memset(eng->silence_alaw, G711_ALAW_SILENCE, PAYLOAD_MAX);
	/* RFC 7022: a random CNAME, the same for every session we open */
	random_bytes(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(eng->cname + 2 * i, 3, "%02x", r[i]);
	*out = eng;
	return 0;
}

int
rtp_engine_set_conf(struct rtp_engine *eng, const struct rtp_engine_conf *c,
    char *err, size_t errlen)
{
	union rtp_sa sa;
	socklen_t salen;
	int rc;

	if ((rc = conf_check(c, &sa, &salen, err, errlen)) != 0)
		return rc;
	conf_apply(eng, c, &sa, salen);
	return 0;
}

void
rtp_engine_free(struct rtp_engine *eng)
{
	struct media_wav *w;

	if (eng == NULL)
		return;
	/* files still held by their users outlive the cache */
	while ((w = LIST_FIRST(&eng->wavs)) != NULL) {
		LIST_REMOVE(w, entry);
		w->eng = NULL;
	}
	event_free(eng->tick);
	free(eng);
}

const char *
rtp_engine_addr(const struct rtp_engine *eng)
{
	return eng->addrstr;
}

void
rtp_engine_stats(const struct rtp_engine *eng, struct rtp_engine_stats *st)
{
	*st = eng->st;
}

/* The next tick at the schedule's next due time (at once if past). */
static void
eng_tick_rearm(struct rtp_engine *eng)
{
	uint64_t now = time_mono_us();
	uint64_t wait = eng->tick_due_us > now ? eng->tick_due_us - now : 0;
	struct timeval tv = { (time_t)(wait / 1000000),
	    (suseconds_t)(wait % 1000000) };

	if (eng->ticking)
		event_add(eng->tick, &tv);
}

static void
eng_tick_start(struct rtp_engine *eng)
{
	const struct timeval tv = { 0, TICK_US };

	if (eng->ticking)
		return;
	eng->ticking = true;
	eng->tick_due_us = 0;
	event_add(eng->tick, &tv);
}

/* ---- sound files --------------------------------------------------------- */

int
rtp_engine_load_wav(struct rtp_engine *eng, const char *path,
    struct media_wav **out, char *err, size_t errlen)
{
	struct media_wav *w;
	struct stat sb;
	const char *why = NULL;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc;

	*out = NULL;
	LIST_FOREACH(w, &eng->wavs, entry) {
		if (strcmp(w->path, path) == 0) {
			w->refs++;
			*out = w;
			return 0;
		}
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
		return rc;
	}
	if (fstat(fd, &sb) == -1) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)sb.st_size > eng->wav_max) {
		rc = EFBIG;
		snprintf(err, errlen, "%s: %lld bytes, more than the %zu "
		    "allowed", path, (long long)sb.st_size, eng->wav_max);
		goto out;
	}
	buf = xmalloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			rc = errno;
			snprintf(err, errlen, "%s: %s", path, strerror(rc));
			goto out;
		}
		if (r == 0)
			break;		/* shrank under us: parse what came */
		got += (size_t)r;
	}
	w = xcalloc(1, sizeof(*w));
	if ((rc = wav_parse(&w->a, buf, got, &why)) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(w);
		goto out;
	}
	w->path = xstrdup(path);
	w->refs = 1;
	w->eng = eng;
	LIST_INSERT_HEAD(&eng->wavs, w, entry);
	*out = w;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

void
media_wav_unref(struct media_wav *w)
{
	if (w == NULL || --w->refs > 0)
		return;
	if (w->eng != NULL)
		LIST_REMOVE(w, entry);
	wav_audio_free(&w->a);
	free(w->path);
	free(w);
}

/* ---- sessions: open, close, settings ------------------------------------- */

static void sess_rtp_read(evutil_socket_t, short, void *);
static void sess_rtcp_read(evutil_socket_t, short, void *);

int
rtp_session_open(struct rtp_engine *eng, rtp_event_h *h, void *arg,
    struct rtp_session **out)
{
	struct rtp_session *s;
	unsigned p = eng->port_next, npairs;
	int fd = -1, rfd = -1, rc;
	uint8_t r[10];

	*out = NULL;
	npairs = ((unsigned)eng->port_max - eng->port_min + 1) / 2;
	for (unsigned i = 0; i < npairs; i++) {
		unsigned cur = p;

		p += 2;
		if (p + 1 > eng->port_max)
			p = eng->port_min;
		if (port_used(eng, cur))
			continue;
		rc = bind_pair(eng, (uint16_t)cur, &fd, &rfd);
		if (rc == 0) {
			eng->port_next = (uint16_t)p;
			p = cur;
			goto found;
		}
		/* someone else holds it: try the next; anything else is ours */
		if (rc != EADDRINUSE)
			return rc;
	}
	eng->st.port_exhausted++;
	return EADDRINUSE;

found:
	s = xcalloc(1, sizeof(*s));
	s->eng = eng;
	s->handler = h;
	s->arg = arg;
	s->fd = fd;
	s->rfd = rfd;
	s->port = (uint16_t)p;
	s->ev = event_new(eng->base, fd, EV_READ | EV_PERSIST, sess_rtp_read,
	    s);
	s->rev = event_new(eng->base, rfd, EV_READ | EV_PERSIST,
	    sess_rtcp_read, s);
	if (s->ev == NULL || s->rev == NULL || event_add(s->ev, NULL) != 0 ||
	    event_add(s->rev, NULL) != 0) {
		if (s->ev != NULL)
			event_free(s->ev);
		if (s->rev != NULL)
			event_free(s->rev);
		close(fd);
		close(rfd);
		free(s);
		return ENOMEM;
	}
	port_mark(eng, p, true);
	s->send = s->recv = true;
	s->mode = RTP_MODE_NONE;
	s->pt = 0;
	s->dtmf_pt = -1;
	s->ptime = TICK_MS;
	s->rate = 8000;
	s->recv_pt = -1;
	s->marker_next = true;
	random_bytes(r, sizeof(r));
	s->ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3];
	s->seq = (uint16_t)(r[4] << 8 | r[5]);
	s->ts = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 |
	    (uint32_t)r[8] << 8 | r[9];
	s->bucket = (uint8_t)(eng->bucket_fill++ % BUCKETS);
	/* RFC 3550 §6.2: the first report after half the interval or so */
	s->rtcp_visits = RTCP_EVERY - 3;
	TAILQ_INSERT_TAIL(&eng->buckets[s->bucket], s, bucket_entry);
	eng->st.sessions++;
	eng_tick_start(eng);
	*out = s;
	return 0;
}

void
rtp_session_close(struct rtp_session *s)
{
	struct rtp_engine *eng;

	if (s == NULL || s->closed)
		return;
	eng = s->eng;
	if (s->on_tick) {
		if (eng->send_cursor == s)
			eng->send_cursor = TAILQ_NEXT(s, send_entry);
		TAILQ_REMOVE(&eng->sending, s, send_entry);
	}
	if (s->counted_sending)
		eng->st.sending--;
	if (eng->bucket_cursor == s)
		eng->bucket_cursor = TAILQ_NEXT(s, bucket_entry);
	TAILQ_REMOVE(&eng->buckets[s->bucket], s, bucket_entry);
	if (s->pending)
		TAILQ_REMOVE(&eng->pending, s, pending_entry);
	event_free(s->ev);
	event_free(s->rev);
	close(s->fd);
	close(s->rfd);
	port_mark(eng, s->port, false);
	media_wav_unref(s->wav);
	free(s->dtmf);
	if (--eng->st.sessions == 0 && eng->ticking) {
		event_del(eng->tick);
		eng->ticking = false;
	}
	s->closed = true;
	if (s->busy == 0)
		free(s);
}

uint16_t
rtp_session_port(const struct rtp_session *s)
{
	return s->port;
}

static int
remote_addr(const struct rtp_session *s, const struct sockaddr_storage *ss,
    socklen_t len, union rtp_sa *out, socklen_t *outlen)
{
	int fam = s->eng->addr.sa.sa_family;

	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)ss;

		if (fam == AF_INET) {
			out->sin = *in;
			*outlen = sizeof(out->sin);
		} else {
			/* an IPv4 peer from a dual-stack IPv6 socket */
			out->sin6.sin6_family = AF_INET6;
			out->sin6.sin6_port = in->sin_port;
			out->sin6.sin6_addr.s6_addr[10] = 0xff;
			out->sin6.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&out->sin6.sin6_addr.s6_addr[12],
			    &in->sin_addr, 4);
			*outlen = sizeof(out->sin6);
		}
	} else if (ss->ss_family == AF_INET6 && fam == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		out->sin6 = *(const struct sockaddr_in6 *)(const void *)ss;
		*outlen = sizeof(out->sin6);
	} else
		return EINVAL;
	return sa_port(out) != 0 ? 0 : EINVAL;
}

static enum rtp_codec
codec_of(const char *enc)
{
	if (strcasecmp(enc, "PCMU") == 0)
		return CODEC_PCMU;
	if (strcasecmp(enc, "PCMA") == 0)
		return CODEC_PCMA;
	return CODEC_OTHER;
}

int
rtp_session_set_remote(struct rtp_session *s, const struct rtp_remote *r)
{
	union rtp_sa to, rtcp_to;
	socklen_t to_len, rtcp_len;
	char enc[sizeof(r->encoding)];
	enum rtp_codec codec;
	unsigned ptime;

	if (remote_addr(s, &r->rtp, r->rtp_len, &to, &to_len) != 0)
		return EINVAL;
	if (r->rtcp_len == 0) {
		/* RFC 3550 §11: RTCP on the next port up */
		rtcp_to = to;
		rtcp_len = to_len;
		sa_set_port(&rtcp_to, (uint16_t)(sa_port(&to) + 1));
	} else if (remote_addr(s, &r->rtcp, r->rtcp_len, &rtcp_to,
	    &rtcp_len) != 0)
		return EINVAL;
	if (r->pt < 0 || r->pt > 127 || r->dtmf_pt < -1 || r->dtmf_pt > 127)
		return EINVAL;
	memcpy(enc, r->encoding, sizeof(enc));
	enc[sizeof(enc) - 1] = '\0';
	codec = codec_of(enc);
	ptime = r->ptime != 0 ? r->ptime : TICK_MS;
	if (ptime < PTIME_MIN)
		ptime = PTIME_MIN;
	if (ptime > PTIME_MAX)
		ptime = PTIME_MAX;

	if (codec != s->codec || r->pt != s->pt)
		s->play_err_done = false;
	s->to = to;
	s->to_len = to_len;
	s->rtcp_to = rtcp_to;
	s->rtcp_len = rtcp_len;
	s->pt = (int16_t)r->pt;
	s->dtmf_pt = (int16_t)r->dtmf_pt;
	s->codec = (uint8_t)codec;
	s->ptime = (uint16_t)ptime;
	s->rate = r->clock_rate != 0 ? r->clock_rate : 8000;
	if (!s->has_remote) {
		s->has_remote = true;
		s->expect_since_us = time_mono_us();
	}
	if (s->dtmf != NULL && s->dtmf_pt < 0) {
		free(s->dtmf);
		s->dtmf = NULL;
	}
	sess_refresh(s);
	return 0;
}

void
rtp_session_set_direction(struct rtp_session *s, bool send, bool recv)
{
	if (recv && !s->recv)
		s->expect_since_us = time_mono_us();
	s->send = send;
	s->recv = recv;
	sess_refresh(s);
}

int
rtp_session_set_mode(struct rtp_session *s, enum rtp_mode mode,
    struct media_wav *wav)
{
	if ((unsigned)mode > RTP_MODE_PLAY || (mode == RTP_MODE_PLAY &&
	    wav == NULL))
		return EINVAL;
	if (mode == RTP_MODE_PLAY) {
		/* the reference first: wav may be the one we drop */
		wav->refs++;
		media_wav_unref(s->wav);
		s->wav = wav;
		s->play_pos = 0;
	} else {
		media_wav_unref(s->wav);
		s->wav = NULL;
	}
	if (mode != s->mode) {
		s->play_err_done = false;
		s->marker_next = true;
		s->echo_have = false;
	}
	s->mode = (uint8_t)mode;
	sess_refresh(s);
	return 0;
}

enum rtp_mode
rtp_session_mode(const struct rtp_session *s)
{
	return (enum rtp_mode)s->mode;
}

int
rtp_session_send_dtmf(struct rtp_session *s, const char *digits,
    unsigned duration_ms)
{
	struct dtmf_tx *d;
	size_t n = strlen(digits), left;

	if (!s->has_remote || s->dtmf_pt < 0)
		return ENOTSUP;
	if (n == 0)
		return EINVAL;
	for (size_t i = 0; i < n; i++)
		if (digits[i] != ',' && rtp_dtmf_event(digits[i]) < 0)
			return EINVAL;
	left = s->dtmf != NULL ? s->dtmf->n - s->dtmf->pos : 0;
	if (n > DTMF_QUEUE_MAX || left + n > DTMF_QUEUE_MAX)
		return EBUSY;
	if (duration_ms == 0)
		duration_ms = DTMF_DEFAULT_MS;
	if (duration_ms > DTMF_MAX_MS)
		duration_ms = DTMF_MAX_MS;
	if ((d = s->dtmf) == NULL) {
		d = s->dtmf = xcalloc(1, sizeof(*d));
		d->phase = DTMF_START;
	} else if (d->pos > 0) {
		/* keep the digit being sent at the front */
		memmove(d->digit, d->digit + d->pos, left);
		memmove(d->dur_ms, d->dur_ms + d->pos,
		    left * sizeof(d->dur_ms[0]));
		d->n = (unsigned)left;
		d->pos = 0;
	}
	for (size_t i = 0; i < n; i++) {
		d->digit[d->n] = digits[i];
		d->dur_ms[d->n] = (uint16_t)duration_ms;
		d->n++;
	}
	sess_refresh(s);
	return 0;
}

void
rtp_session_stats(const struct rtp_session *s, struct rtp_stats *st)
{
	uint64_t expected = 0;

	memset(st, 0, sizeof(*st));
	st->packets_sent = s->packets_sent;
	st->bytes_sent = s->bytes_sent;
	st->packets_recv = s->packets_recv;
	st->bytes_recv = s->bytes_recv;
	st->rtcp_recv = s->rtcp_recv;
	if (s->rx_have)
		expected = s->cycles + s->max_seq - s->base_seq + 1;
	st->expected = s->expected_before + expected;
	st->lost = s->lost_before + (int64_t)expected - (int64_t)s->received;
	st->jitter_ms = s->jitter * 1000.0 / s->rate;
	st->last_recv_age_s = s->packets_recv == 0 ? -1.0 :
	    (double)(time_mono_us() - s->rx_last_us) / 1e6;
	st->dtmf_sent = s->dtmf_sent;
	st->dtmf_recv = s->dtmf_recv;
	st->remote_ssrc = s->rx_ssrc;
	st->recv_pt = s->recv_pt;
}

/* Silence and play with a codec that is not G.711, not yet reported. */
static bool
play_error(const struct rtp_session *s)
{
	return (s->mode == RTP_MODE_SILENCE || s->mode == RTP_MODE_PLAY) &&
	    s->codec == CODEC_OTHER && s->has_remote && !s->play_err_done;
}

/*
 * Puts the session on the lists its settings call for: the tick's send
 * list, the sending count, the deferred PLAY_ERROR.  Every setter ends
 * here, so the rules live in one place.
 */
static void
sess_refresh(struct rtp_session *s)
{
	struct rtp_engine *eng = s->eng;
	bool voice = s->mode == RTP_MODE_SILENCE || s->mode == RTP_MODE_PLAY;
	bool g711 = s->codec != CODEC_OTHER;
	bool may = s->has_remote && s->send;
	bool tick = may && ((voice && g711) || s->dtmf != NULL);
	bool sending = may && ((s->mode == RTP_MODE_ECHO) || (voice && g711) ||
	    s->dtmf != NULL);

	if (s->mode == RTP_MODE_ECHO && s->polled) {
		s->polled = false;
		event_add(s->ev, NULL);
	}
	if (play_error(s) && !s->pending) {
		s->pending = true;
		TAILQ_INSERT_TAIL(&eng->pending, s, pending_entry);
	}
	if (tick && !s->on_tick) {
		uint64_t now = time_mono_us();

		/*
		 * RFC 3550 §5.1: the timestamp follows the clock, so a
		 * session back from hold skips the time it kept quiet.
		 */
		if (s->last_tick_us != 0)
			s->ts += (uint32_t)((now - s->last_tick_us) / 1000 *
			    s->rate / 1000);
		s->ms_due = 0;
		s->marker_next = true;
		s->on_tick = true;
		TAILQ_INSERT_TAIL(&eng->sending, s, send_entry);
	} else if (!tick && s->on_tick) {
		if (eng->send_cursor == s)
			eng->send_cursor = TAILQ_NEXT(s, send_entry);
		TAILQ_REMOVE(&eng->sending, s, send_entry);
		s->on_tick = false;
	}
	if (sending != s->counted_sending) {
		s->counted_sending = sending;
		if (sending)
			eng->st.sending++;
		else
			eng->st.sending--;
	}
}

/*
 * Calls the handler.  False when the handler closed the session: it is
 * freed here and the caller must not touch it again.
 */
static bool
sess_emit(struct rtp_session *s, enum rtp_event ev,
    const struct rtp_event_info *info)
{
	if (s->handler != NULL) {
		s->busy++;
		s->handler(s, ev, info, s->arg);
		s->busy--;
	}
	if (s->closed) {
		if (s->busy == 0)
			free(s);
		return false;
	}
	return true;
}

/* ---- sending ------------------------------------------------------------- */

static void
pkt_hdr(struct rtp_session *s, unsigned slot, bool marker, uint8_t pt,
    uint32_t ts)
{
	struct rtp_engine *eng = s->eng;
	struct mmsghdr *m = &eng->msgs[slot];

	rtp_hdr_write(eng->hdr[slot], marker, pt, s->seq++, ts, s->ssrc);
	eng->iov[slot][0].iov_base = eng->hdr[slot];
	eng->iov[slot][0].iov_len = RTP_HDR_LEN;
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &s->to;
	m->msg_hdr.msg_namelen = s->to_len;
	m->msg_hdr.msg_iov = eng->iov[slot];
	m->msg_hdr.msg_iovlen = 2;
}

static void
pkt_voice(struct rtp_session *s, unsigned slot, size_t samples)
{
	struct rtp_engine *eng = s->eng;
	struct iovec *pl = &eng->iov[slot][1];
	bool ulaw = s->codec == CODEC_PCMU;

	pkt_hdr(s, slot, s->marker_next, (uint8_t)s->pt, s->ts);
	s->marker_next = false;
	pl->iov_len = samples;
	if (s->mode == RTP_MODE_SILENCE) {
		pl->iov_base = ulaw ? eng->silence_ulaw : eng->silence_alaw;
		return;
	}
	const uint8_t *src = ulaw ? s->wav->a.ulaw : s->wav->a.alaw;
	size_t n = s->wav->a.nsamples;

	if (n - s->play_pos >= samples) {
		/* straight from the file, no copy */
		pl->iov_base = (void *)(uintptr_t)(src + s->play_pos);
		s->play_pos += samples;
	} else {
		uint8_t *b = eng->payload[slot];

		for (size_t i = 0; i < samples; i++) {
			b[i] = src[s->play_pos++];
			if (s->play_pos == n)
				s->play_pos = 0;
		}
		pl->iov_base = b;
	}
	if (s->play_pos == n)
		s->play_pos = 0;
}

static void
pkt_dtmf(struct rtp_session *s, unsigned slot, bool end, unsigned dur_ms)
{
	struct rtp_engine *eng = s->eng;
	struct dtmf_tx *d = s->dtmf;
	struct rtp_dtmf ev;
	uint64_t dur = (uint64_t)dur_ms * s->rate / 1000;

	/* §2.5.1.2: the marker on the event's first packet */
	pkt_hdr(s, slot, d->first, (uint8_t)s->dtmf_pt, d->ev_ts);
	d->first = false;
	ev.event = (uint8_t)rtp_dtmf_event(d->digit[d->pos]);
	ev.end = end;
	ev.volume = DTMF_VOLUME;
	/* RFC 4733 §2.5.2.3 splits longer events; DTMF_MAX_MS keeps most
	 * clock rates inside 16 bits, and the rest saturate */
	ev.duration = (uint16_t)(dur > 0xffff ? 0xffff : dur);
	rtp_dtmf_write(eng->hdr[slot] + RTP_HDR_LEN, &ev);
	eng->iov[slot][0].iov_len = RTP_HDR_LEN + 4;
	eng->iov[slot][1].iov_base = NULL;
	eng->iov[slot][1].iov_len = 0;
}

/*
 * One ptime of the digit queue (RFC 4733 §2.5): true when it wrote a
 * packet in slot, false when the period is the voice's (a gap between
 * digits, a pause, or the queue just ran out).
 */
static bool
dtmf_period(struct rtp_session *s, unsigned slot)
{
	struct dtmf_tx *d = s->dtmf;
	unsigned dur;

	for (;;) {
		dur = d->dur_ms[d->pos < d->n ? d->pos : 0];
		switch (d->phase) {
		case DTMF_START:
			if (d->pos >= d->n) {
				free(d);
				s->dtmf = NULL;
				return false;
			}
			if (d->digit[d->pos] == ',') {
				d->gap_ms = DTMF_PAUSE_MS;
				d->phase = DTMF_GAP;
				continue;
			}
			d->ev_ts = s->ts;
			d->elapsed_ms = s->ptime;
			d->ends = 0;
			d->first = true;
			d->phase = DTMF_TONE;
			if (d->elapsed_ms >= dur) {
				d->phase = DTMF_END;
				continue;
			}
			pkt_dtmf(s, slot, false, d->elapsed_ms);
			return true;
		case DTMF_TONE:
			d->elapsed_ms += s->ptime;
			if (d->elapsed_ms >= dur) {
				d->phase = DTMF_END;
				continue;
			}
			pkt_dtmf(s, slot, false, d->elapsed_ms);
			return true;
		case DTMF_END:
			/* §2.5.1.4: the end packet three times */
			pkt_dtmf(s, slot, true, dur);
			if (++d->ends == DTMF_END_REPEAT) {
				s->dtmf_sent++;
				d->gap_ms = DTMF_GAP_MS;
				d->phase = DTMF_GAP;
				s->marker_next = true;
			}
			return true;
		case DTMF_GAP:
			if (d->gap_ms > 0) {
				d->gap_ms -= d->gap_ms < s->ptime ? d->gap_ms :
				    s->ptime;
				return false;
			}
			d->pos++;
			d->phase = DTMF_START;
			continue;
		}
	}
}

static void
sess_flush(struct rtp_session *s, unsigned npk)
{
	struct rtp_engine *eng = s->eng;
	int r;

	r = sendmmsg(s->fd, eng->msgs, npk, 0);
	if (r < 0)
		r = 0;
	for (int i = 0; i < r; i++) {
		s->packets_sent++;
		s->bytes_sent += eng->iov[i][0].iov_len - RTP_HDR_LEN +
		    eng->iov[i][1].iov_len;
	}
	eng->st.packets_sent += (unsigned)r;
	eng->st.send_errors += npk - (unsigned)r;
}

/* The session's share of a tick: ms of media, in ptime packets. */
static void
sess_tick(struct rtp_session *s, unsigned ms, uint64_t now)
{
	bool voice = s->mode == RTP_MODE_SILENCE || s->mode == RTP_MODE_PLAY;
	unsigned npk = 0;
	uint32_t samples = s->rate * s->ptime / 1000;

	s->ms_due = (uint16_t)(s->ms_due + ms);
	while (s->ms_due >= s->ptime && npk < PKT_PER_TICK) {
		s->ms_due = (uint16_t)(s->ms_due - s->ptime);
		if (s->dtmf != NULL && dtmf_period(s, npk))
			npk++;
		else if (voice && s->codec != CODEC_OTHER)
			pkt_voice(s, npk++, 8 * s->ptime);
		/* the clock runs whether or not a packet went */
		s->ts += samples;
	}
	if (s->ms_due >= s->ptime)
		s->ms_due = 0;
	s->last_tick_us = now;
	if (npk > 0)
		sess_flush(s, npk);
	if (s->dtmf == NULL && !(voice && s->codec != CODEC_OTHER))
		sess_refresh(s);
}

/* The echo: this packet, at once, with our SSRC, sequence and clock. */
static void
sess_echo(struct rtp_session *s, const struct rtp_hdr *h)
{
	struct rtp_engine *eng = s->eng;
	struct msghdr m;
	struct iovec iov[2];
	uint8_t hdr[RTP_HDR_LEN];

	/* our clock moves as the sender's did, sent or not */
	if (s->echo_have)
		s->ts += h->ts - s->echo_last_ts;
	s->echo_have = true;
	s->echo_last_ts = h->ts;
	if (!s->send || !s->has_remote || s->dtmf != NULL)
		return;
	rtp_hdr_write(hdr, s->marker_next || h->marker, h->pt, s->seq++, s->ts,
	    s->ssrc);
	s->marker_next = false;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)h->payload;
	iov[1].iov_len = h->payload_len;
	memset(&m, 0, sizeof(m));
	m.msg_name = &s->to;
	m.msg_namelen = s->to_len;
	m.msg_iov = iov;
	m.msg_iovlen = 2;
	if (sendmsg(s->fd, &m, 0) == -1) {
		eng->st.send_errors++;
		return;
	}
	s->packets_sent++;
	s->bytes_sent += h->payload_len;
	eng->st.packets_sent++;
}

/* ---- RTCP (RFC 3550 §6.4) ------------------------------------------------ */

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One report block (§6.4.1) about the source we hear; 24 bytes. */
static void
rtcp_block(struct rtp_session *s, uint8_t *p, uint64_t now)
{
	uint64_t ext = s->cycles + s->max_seq;
	uint64_t expected = ext - s->base_seq + 1;
	int64_t lost = (int64_t)expected - (int64_t)s->received;
	uint64_t exp_int = expected - s->expected_prior;
	uint64_t rcv_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rcv_int;
	uint32_t fraction = 0, dlsr = 0;

	/* A.3: the fraction over this interval, the count since the start */
	s->expected_prior = expected;
	s->received_prior = s->received;
	if (exp_int != 0 && lost_int > 0)
		fraction = (uint32_t)(((uint64_t)lost_int << 8) / exp_int);
	if (fraction > 255)
		fraction = 255;
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	if (s->lsr_at_us != 0)
		dlsr = (uint32_t)((now - s->lsr_at_us) * 65536 / 1000000);
	put32(p, s->rx_ssrc);
	put32(p + 4, fraction << 24 | ((uint32_t)lost & 0xffffff));
	put32(p + 8, (uint32_t)ext);
	put32(p + 12, (uint32_t)s->jitter);
	put32(p + 16, s->lsr);
	put32(p + 20, dlsr);
}

static void
rtcp_send(struct rtp_session *s, uint64_t now)
{
	uint8_t b[128];
	size_t off, cl = strlen(s->eng->cname), sdes;
	unsigned rc = s->rx_have ? 1 : 0;

	if (s->counted_sending && s->packets_sent > 0) {
		struct timespec ts;
		uint64_t frac;

		/* SR: NTP time (seconds since 1900), our clock, counts */
		clock_gettime(CLOCK_REALTIME, &ts);
		frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
		b[0] = (uint8_t)(0x80 | rc);
		b[1] = 200;
		put32(b + 4, s->ssrc);
		put32(b + 8, (uint32_t)(ts.tv_sec + 2208988800u));
		put32(b + 12, (uint32_t)frac);
		put32(b + 16, s->ts);
		put32(b + 20, (uint32_t)s->packets_sent);
		put32(b + 24, (uint32_t)s->bytes_sent);
		off = 28;
	} else {
		b[0] = (uint8_t)(0x80 | rc);
		b[1] = 201;
		put32(b + 4, s->ssrc);
		off = 8;
	}
	if (rc) {
		rtcp_block(s, b + off, now);
		off += 24;
	}
	b[2] = (uint8_t)((off / 4 - 1) >> 8);
	b[3] = (uint8_t)(off / 4 - 1);

	/* SDES with the CNAME, then a null item, padded to 32 bits */
	sdes = off;
	b[off] = 0x81;
	b[off + 1] = 202;
	put32(b + off + 4, s->ssrc);
	b[off + 8] = 1;
	b[off + 9] = (uint8_t)cl;
	memcpy(b + off + 10, s->eng->cname, cl);
	off += 10 + cl;
	do
		b[off++] = 0;
	while (off % 4 != 0);
	b[sdes + 2] = (uint8_t)(((off - sdes) / 4 - 1) >> 8);
	b[sdes + 3] = (uint8_t)((off - sdes) / 4 - 1);
	if (sendto(s->rfd, b, off, 0, &s->rtcp_to.sa, s->rtcp_len) == -1)
		s->eng->st.send_errors++;
}

static void
sess_rtcp_read(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_session *s = arg;
	uint8_t *b = s->eng->rxbuf[0];
	ssize_t n;

	n = recv(fd, b, RX_BUF, MSG_DONTWAIT);
	if (n < 8 || (b[0] >> 6) != 2 || b[1] < 192 || b[1] > 223)
		return;
	s->rtcp_recv++;
	/* an SR's middle 32 bits of NTP time, for our LSR/DLSR */
	if (b[1] == 200 && n >= 28) {
		s->lsr = (uint32_t)b[10] << 24 | (uint32_t)b[11] << 16 |
		    (uint32_t)b[12] << 8 | b[13];
		s->lsr_at_us = time_mono_us();
	}
}

/* ---- receiving ----------------------------------------------------------- */

static void
rx_seq_init(struct rtp_session *s, uint16_t seq)
{
	uint64_t expected = s->cycles + s->max_seq - s->base_seq + 1;

	/* what the previous SSRC or sequence run counted stays counted */
	if (s->rx_have) {
		s->expected_before += expected;
		s->lost_before += (int64_t)expected - (int64_t)s->received;
	}
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = SEQ_MOD + 1;
	s->cycles = 0;
	s->received = 0;
	s->expected_prior = 0;
	s->received_prior = 0;
	s->transit_have = false;
}

/* RFC 3550 A.1, without probation (see the top of the file). */
static void
rx_seq(struct rtp_session *s, const struct rtp_hdr *h)
{
	uint16_t udelta;

	if (!s->rx_have || h->ssrc != s->rx_ssrc) {
		rx_seq_init(s, h->seq);
		s->rx_have = true;
		s->rx_ssrc = h->ssrc;
		s->received = 1;
		return;
	}
	udelta = (uint16_t)(h->seq - s->max_seq);
	if (udelta < SEQ_MAX_DROPOUT) {
		if (h->seq < s->max_seq)
			s->cycles += SEQ_MOD;
		s->max_seq = h->seq;
	} else if (udelta <= SEQ_MOD - SEQ_MAX_MISORDER) {
		/* a jump: believed when the next packet follows it */
		if (h->seq != s->bad_seq) {
			s->bad_seq = (h->seq + 1u) & (SEQ_MOD - 1);
			return;
		}
		rx_seq_init(s, h->seq);
	}
	/* else a duplicate or a late packet: counted, lost may go < 0 */
	s->received++;
}

/*
 * RFC 3550 A.8, the arrival time (real time, from the kernel's stamp,
 * µs) read on the media clock.
 */
static void
rx_jitter(struct rtp_session *s, const struct rtp_hdr *h, uint64_t at)
{
	uint32_t arrival, transit;
	int64_t d;

	arrival = (uint32_t)((at / 1000000) * s->rate +
	    (at % 1000000) * s->rate / 1000000);
	transit = arrival - h->ts;
	if (s->transit_have) {
		d = (int32_t)(transit - s->transit);
		if (d < 0)
			d = -d;
		s->jitter += ((double)d - s->jitter) / 16.0;
	}
	s->transit = transit;
	s->transit_have = true;
}

/* RFC 4733 §2.5.1.4: an event is reported by its first end packet. */
static bool
rx_dtmf(struct rtp_session *s, const struct rtp_hdr *h)
{
	struct rtp_event_info info;
	struct rtp_dtmf d;
	char digit;

	if (rtp_dtmf_parse(h->payload, h->payload_len, &d) != 0 || !d.end ||
	    (digit = rtp_dtmf_digit(d.event)) == 0)
		return true;
	if (s->dtmf_end_have && s->dtmf_end_ts == h->ts)
		return true;
	s->dtmf_end_have = true;
	s->dtmf_end_ts = h->ts;
	s->dtmf_recv++;
	memset(&info, 0, sizeof(info));
	info.digit = digit;
	info.duration_ms = (unsigned)((uint64_t)d.duration * 1000 / s->rate);
	return sess_emit(s, RTP_EV_DTMF, &info);
}

/*
 * One datagram; now is the monotonic clock, at the real-time arrival.
 * False when a handler closed the session.
 */
static bool
rx_packet(struct rtp_session *s, const uint8_t *p, size_t n, uint64_t now,
    uint64_t at)
{
	struct rtp_hdr h;
	bool event;

	if (rtp_parse(p, n, &h) != 0)
		return true;
	s->packets_recv++;
	s->bytes_recv += h.payload_len;
	s->recv_pt = h.pt;
	s->rx_last_us = now;
	rx_seq(s, &h);
	event = s->dtmf_pt >= 0 && h.pt == s->dtmf_pt;
	if (!event)
		rx_jitter(s, &h, at);
	if (s->mode == RTP_MODE_ECHO)
		sess_echo(s, &h);
	if (s->timed_out) {
		s->timed_out = false;
		if (!sess_emit(s, RTP_EV_RESUMED, NULL))
			return false;
	}
	if (event)
		return rx_dtmf(s, &h);
	return true;
}

static uint64_t
real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Reads what the RTP socket holds, RX_BATCH datagrams per call.  The
 * number read, or -1 when a handler closed the session.
 */
static int
sess_drain(struct rtp_session *s, uint64_t now)
{
	struct rtp_engine *eng = s->eng;
	uint64_t now_real = 0;
	int n, total = 0;

	for (int round = 0; round < RX_DRAIN_MAX; round++) {
		for (int i = 0; i < RX_BATCH; i++) {
			struct msghdr *m = &eng->rxmsgs[i].msg_hdr;

			eng->rxiov[i].iov_base = eng->rxbuf[i];
			eng->rxiov[i].iov_len = RX_BUF;
			memset(m, 0, sizeof(*m));
			m->msg_name = &eng->rxfrom[i];
			m->msg_namelen = sizeof(eng->rxfrom[i]);
			m->msg_iov = &eng->rxiov[i];
			m->msg_iovlen = 1;
			m->msg_control = eng->rxctl[i].buf;
			m->msg_controllen = sizeof(eng->rxctl[i].buf);
		}
		n = recvmmsg(s->fd, eng->rxmsgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		if (now_real == 0)
			now_real = real_us();
		for (int i = 0; i < n; i++) {
			struct msghdr *m = &eng->rxmsgs[i].msg_hdr;
			struct cmsghdr *c;
			uint64_t at = now_real, mono = now;

			if (m->msg_flags & MSG_TRUNC)
				continue;
			for (c = CMSG_FIRSTHDR(m); c != NULL;
			    c = CMSG_NXTHDR(m, c)) {
				struct timespec ts;

				if (c->cmsg_level != SOL_SOCKET ||
				    c->cmsg_type != SCM_TIMESTAMPNS)
					continue;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				at = (uint64_t)ts.tv_sec * 1000000 +
				    (uint64_t)ts.tv_nsec / 1000;
			}
			/* the same moment on the monotonic clock */
			if (at < now_real && now_real - at < mono)
				mono -= now_real - at;
			if (!rx_packet(s, eng->rxbuf[i],
			    eng->rxmsgs[i].msg_len, mono, at))
				return -1;
		}
		total += n;
		if (n < RX_BATCH)
			break;
	}
	return total;
}

static void
sess_rtp_read(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_session *s = arg;

	if (sess_drain(s, time_mono_us()) <= 0)
		return;
	/* a stream has started: the tick drains it from now on */
	if (s->mode != RTP_MODE_ECHO && !s->polled) {
		event_del(s->ev);
		s->polled = true;
		s->idle_polls = 0;
	}
}

/* The tick's drain of a polled session; a silent one goes back to events. */
static void
sess_poll(struct rtp_session *s, uint64_t now)
{
	int n;

	if (!s->polled)
		return;
	if ((n = sess_drain(s, now)) < 0)
		return;
	if (n > 0)
		s->idle_polls = 0;
	else if (++s->idle_polls >= RX_IDLE_POLLS) {
		s->polled = false;
		event_add(s->ev, NULL);
	}
}

/* ---- the tick ------------------------------------------------------------ */

/* A bucket visit: media timeout, RTCP.  False when the session closed. */
static bool
sess_visit(struct rtp_session *s, uint64_t now)
{
	struct rtp_engine *eng = s->eng;

	if (eng->timeout_ms != 0 && s->recv && s->has_remote &&
	    !s->timed_out) {
		uint64_t since = s->rx_last_us > s->expect_since_us ?
		    s->rx_last_us : s->expect_since_us;

		if (now - since >= (uint64_t)eng->timeout_ms * 1000) {
			struct rtp_event_info info;

			memset(&info, 0, sizeof(info));
			info.silent_ms = (unsigned)((now - since) / 1000);
			s->timed_out = true;
			if (!sess_emit(s, RTP_EV_TIMEOUT, &info))
				return false;
		}
	}
	if (s->has_remote && ++s->rtcp_visits >= RTCP_EVERY) {
		s->rtcp_visits = 0;
		rtcp_send(s, now);
	}
	return true;
}

static void
eng_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rtp_engine *eng = arg;
	struct rtp_session *s;
	uint64_t now = time_mono_us();
	unsigned periods;

	eng->st.ticks++;
	if (eng->tick_due_us == 0)
		eng->tick_due_us = now;
	/*
	 * Media time follows an absolute schedule: a tick sends every
	 * period due by now, never one ahead (a burst sent early leaves a
	 * gap after it that a receiver counts as late), and the schedule
	 * moves by exactly those periods, so lateness is made up and never
	 * lost.  A timer that fires a little early (TICK_SLACK_US) counts
	 * as on time.  Only when more than TICK_CATCHUP_MAX periods are
	 * due (an overloaded or stopped process) does it start again from
	 * now.
	 */
	if (now + TICK_SLACK_US < eng->tick_due_us) {
		periods = 0;
	} else {
		uint64_t late = now > eng->tick_due_us ?
		    now - eng->tick_due_us : 0;
		uint64_t due = 1 + late / TICK_US;

		if (late > TICK_LATE_US)
			eng->st.late_ticks++;
		if (due > TICK_CATCHUP_MAX) {
			periods = TICK_CATCHUP_MAX;
			eng->tick_due_us = now + TICK_US;
		} else {
			periods = (unsigned)due;
			eng->tick_due_us += due * TICK_US;
		}
	}

	while ((s = TAILQ_FIRST(&eng->pending)) != NULL) {
		TAILQ_REMOVE(&eng->pending, s, pending_entry);
		s->pending = false;
		if (!play_error(s))
			continue;	/* put right since it was queued */
		s->play_err_done = true;
		(void)sess_emit(s, RTP_EV_PLAY_ERROR, NULL);
	}

	for (s = periods > 0 ? TAILQ_FIRST(&eng->sending) : NULL; s != NULL;
	    s = eng->send_cursor) {
		eng->send_cursor = TAILQ_NEXT(s, send_entry);
		sess_tick(s, periods * TICK_MS, now);
	}
	eng->send_cursor = NULL;

	/* the receive drain: buckets tick_no modulo RX_POLL_TICKS */
	eng->tick_no++;
	for (unsigned b = eng->tick_no % RX_POLL_TICKS; b < BUCKETS;
	    b += RX_POLL_TICKS) {
		for (s = TAILQ_FIRST(&eng->buckets[b]); s != NULL;
		    s = eng->bucket_cursor) {
			eng->bucket_cursor = TAILQ_NEXT(s, bucket_entry);
			sess_poll(s, now);
		}
	}
	eng->bucket_cursor = NULL;

	/* this tick's visits, in a bucket drained just now */
	for (s = TAILQ_FIRST(&eng->buckets[eng->tick_no % BUCKETS]); s != NULL;
	    s = eng->bucket_cursor) {
		eng->bucket_cursor = TAILQ_NEXT(s, bucket_entry);
		(void)sess_visit(s, now);
	}
	eng->bucket_cursor = NULL;
	eng_tick_rearm(eng);
}
