/*
 * RTP media (RFC 3550) for calls: one engine per daemon owns the port
 * range, a single 20 ms send tick shared by every session, and the
 * loaded sound files; one session per call owns an RTP/RTCP socket pair
 * (even port, odd port + 1) and its statistics.
 *
 * What a session sends is its mode: none (receive and count only),
 * silence (G.711 silence every ptime), echo (every packet received is
 * sent back at once with our SSRC, sequence and timestamp) or play (a
 * WAV file, looped).  Telephone events (RFC 4733) are sent on request and
 * reported when received.  Receive statistics follow RFC 3550 A.1/A.3/
 * A.8 (extended highest sequence, cumulative loss, interarrival jitter).
 *
 * Cost: nothing per session but its two sockets and about 700 bytes
 * (the session and its two libevent events); no timer per session (the
 * engine's tick walks the sending sessions, one sendmmsg per session
 * per tick, and drains the receiving ones every 100 ms instead of a
 * wake-up per packet); no thread.  This layer knows
 * nothing of SIP or SDP: the call usage hands it the negotiated remote
 * address, payload types and ptime.
 */
#ifndef SIPX_MEDIA_RTP_H
#define SIPX_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct rtp_engine;
struct rtp_session;
struct media_wav;

enum rtp_mode {
	RTP_MODE_NONE,
	RTP_MODE_SILENCE,
	RTP_MODE_ECHO,
	RTP_MODE_PLAY,
};

/* "none", "silence", "echo", "play"; parse returns -1 for others. */
const char	*rtp_mode_name(enum rtp_mode);
int		 rtp_mode_parse(const char *);

struct rtp_engine_conf {
	/* IPv4 or IPv6 literal the sockets bind to and SDP announces. */
	const char	*addr;
	uint16_t	 port_min;	/* even; the range holds pairs */
	uint16_t	 port_max;
	/*
	 * A session that expects media and got none this long reports
	 * RTP_EV_TIMEOUT (once; RTP_EV_RESUMED when media comes back).
	 * 0: never.
	 */
	unsigned	 timeout_ms;
	/* Largest WAV file play accepts, bytes (0: 16 MiB). */
	size_t		 wav_max;
};

/*
 * 0, or an errno value with a reason in err (EINVAL: not an address
 * literal, an odd or empty range).  Nothing is bound until a session
 * opens.
 */
int	rtp_engine_new(struct rtp_engine **out, struct event_base *,
	    const struct rtp_engine_conf *, char *err, size_t errlen);
/* Reload: applies to sessions opened afterwards (timeout_ms: to all). */
int	rtp_engine_set_conf(struct rtp_engine *, const struct rtp_engine_conf *,
	    char *err, size_t errlen);
/* Every session must be closed first. */
void	rtp_engine_free(struct rtp_engine *);
const char *rtp_engine_addr(const struct rtp_engine *);

struct rtp_engine_stats {
	size_t		 sessions;	/* open */
	size_t		 sending;	/* with a send mode and a remote */
	uint64_t	 ticks;
	uint64_t	 late_ticks;	/* a tick that ran > 10 ms late */
	uint64_t	 packets_sent;
	uint64_t	 send_errors;
	uint64_t	 port_exhausted;	/* opens refused: no free pair */
};
void	rtp_engine_stats(const struct rtp_engine *, struct rtp_engine_stats *);

/*
 * A sound file for play mode, loaded once and shared by every session
 * that plays it (reference counted: each session that plays it holds a
 * reference, dropped when it stops playing).  8 kHz mono WAV: G.711
 * µ-law or A-law, or 16-bit linear PCM (encoded once on load).  Files
 * are cached by path; a file is read only the first time it is named
 * (that read is the one blocking file access at run time: small, and
 * bounded by wav_max).  0, or ENOENT/EACCES (open), EFBIG (over
 * wav_max), EINVAL with a reason in err (not a WAV sipxd can play).
 */
int	rtp_engine_load_wav(struct rtp_engine *, const char *path,
	    struct media_wav **out, char *err, size_t errlen);
void	media_wav_unref(struct media_wav *);

/* ---- sessions ----------------------------------------------------------- */

enum rtp_event {
	RTP_EV_DTMF,		/* a telephone-event ended: digit, duration */
	RTP_EV_TIMEOUT,		/* no media for timeout_ms */
	RTP_EV_RESUMED,		/* media again after a timeout */
	RTP_EV_PLAY_ERROR,	/* send mode impossible for the codec */
};

struct rtp_event_info {
	char		 digit;		/* '0'-'9', '*', '#', 'A'-'D' */
	unsigned	 duration_ms;
	unsigned	 silent_ms;	/* TIMEOUT: how long without media */
};

typedef void rtp_event_h(struct rtp_session *, enum rtp_event,
    const struct rtp_event_info *, void *arg);

/*
 * Opens a socket pair from the engine's range (the next free even port,
 * round robin).  0; EADDRINUSE when the range has no free pair (counted
 * in port_exhausted); EMFILE/ENFILE from socket().
 */
int	rtp_session_open(struct rtp_engine *, rtp_event_h *, void *arg,
	    struct rtp_session **out);
/* Closes the sockets; no handler call after it. */
void	rtp_session_close(struct rtp_session *);
uint16_t rtp_session_port(const struct rtp_session *);

/*
 * What offer/answer decided: where to send RTP and RTCP, the payload
 * type and encoding name we send ("PCMU", "PCMA", … as in SDP) and its
 * clock rate, the telephone-event type (-1: none), ptime (0: 20 ms).
 * Called again after a re-INVITE or UPDATE changes any of it.  0, or
 * EINVAL for a bad address.
 */
struct rtp_remote {
	struct sockaddr_storage	 rtp;
	socklen_t		 rtp_len;
	struct sockaddr_storage	 rtcp;
	socklen_t		 rtcp_len;
	int			 pt;
	char			 encoding[16];
	uint32_t		 clock_rate;
	int			 dtmf_pt;
	unsigned		 ptime;
};
int	rtp_session_set_remote(struct rtp_session *, const struct rtp_remote *);

/*
 * Hold and resume (RFC 3264 §8.4): whether we may send and whether we
 * expect to receive (a session not expecting media never times out).
 */
void	rtp_session_set_direction(struct rtp_session *, bool send, bool recv);

/*
 * Silence and play need PCMU or PCMA: with another codec the session
 * reports RTP_EV_PLAY_ERROR once and sends nothing (echo works with any
 * codec).  wav is borrowed until the mode changes or the session
 * closes (the session takes its own reference).  0 or EINVAL (play
 * without a wav).
 */
int	rtp_session_set_mode(struct rtp_session *, enum rtp_mode,
	    struct media_wav *wav);
enum rtp_mode rtp_session_mode(const struct rtp_session *);

/*
 * Queues RFC 4733 events for digits ("0-9*#A-D", case-insensitive; ','
 * is a 500 ms pause), each duration_ms long (0: 100) with 50 ms gaps,
 * sent by the tick in place of the voice packets.  0; EINVAL for a bad
 * digit; ENOTSUP when no telephone-event was negotiated or no remote is
 * set; EBUSY when more than 64 digits would be queued.
 */
int	rtp_session_send_dtmf(struct rtp_session *, const char *digits,
	    unsigned duration_ms);

struct rtp_stats {
	uint64_t	 packets_sent, bytes_sent;	/* payload bytes */
	uint64_t	 packets_recv, bytes_recv;
	uint64_t	 rtcp_recv;
	int64_t		 lost;		/* RFC 3550 A.3, may be < 0 */
	uint64_t	 expected;
	double		 jitter_ms;	/* A.8, in ms at the clock rate */
	double		 last_recv_age_s;	/* -1: nothing received */
	uint32_t	 dtmf_sent;	/* digits */
	uint32_t	 dtmf_recv;
	uint32_t	 remote_ssrc;
	int		 recv_pt;	/* last payload type seen, -1 */
};
void	rtp_session_stats(const struct rtp_session *, struct rtp_stats *);

#endif
