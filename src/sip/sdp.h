/*
 * SDP bodies (RFC 4566) and the offer/answer model (RFC 3264): parse a
 * body into slices of the caller's buffer, build a description from code
 * and print it in RFC 4566 order, make our offer from a codec list,
 * answer an offer, and read the outcome of a finished exchange.  This
 * module knows nothing of SIP messages or dialogs: the call layer hands
 * it bodies and decides what a failure means (400, 488, BYE).
 *
 * Memory: a parsed or built struct sdp_session holds slices into the
 * parsed buffer (or into the strings the caller gave the builder) and
 * arrays allocated from a caller-provided arena; it lives as long as
 * both.  An answer made by sdp_answer() also points into the offer's
 * buffer.
 */
#ifndef SIPX_SIP_SDP_H
#define SIPX_SIP_SDP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/limits.h"
#include "base/slice.h"
#include "base/strbuf.h"

/* Limits (SDP_MAX_* in base/limits.h): going over one fails the parse. */

/* RTP payload types: 0-95 static or reserved, 96-127 dynamic. */
#define SDP_PT_MAX		127
#define SDP_PT_DYNAMIC		96

/*
 * sdp_answer() and sdp_apply_answer(): no media stream could be
 * accepted.  The call layer answers an INVITE with 488 Not Acceptable
 * Here (RFC 3261 §13.3.1.1), or ends a call whose answer left nothing.
 */
#define SDP_ERR_NOT_ACCEPTABLE	ENOTSUP

/*
 * Stream direction (RFC 4566 §6, RFC 3264 §5.1), from the point of view
 * of whoever wrote the description.  The values are bit sets, so that
 * mirroring swaps the bits and limiting is a bitwise AND.
 */
enum sdp_dir {
	SDP_DIR_INACTIVE = 0,
	SDP_DIR_SENDONLY = 1,
	SDP_DIR_RECVONLY = 2,
	SDP_DIR_SENDRECV = 3,
};

enum sdp_addrtype {
	SDP_ADDR_OTHER,		/* anything but IP4/IP6, kept as written */
	SDP_ADDR_IP4,
	SDP_ADDR_IP6,
};

struct sdp_origin {		/* o= (RFC 4566 §5.2) */
	struct slice		 username;
	uint64_t		 sess_id;
	uint64_t		 sess_version;
	struct slice		 nettype;	/* "IN" */
	struct slice		 addrtype;	/* "IP4", "IP6" */
	struct slice		 addr;
};

struct sdp_conn {		/* c= (RFC 4566 §5.7) */
	bool			 present;
	struct slice		 nettype;
	struct slice		 addrtype;
	enum sdp_addrtype	 atype;
	struct slice		 addr;		/* without "/ttl/num" */
	unsigned		 ttl;		/* IP4 multicast; 0 if absent */
	unsigned		 num;		/* multicast count; 0: absent */
};

struct sdp_bw {			/* b=<type>:<value> */
	struct slice		 type;		/* "AS", "CT", "TIAS", ... */
	uint32_t		 value;
};

struct sdp_time {		/* t= and the r= lines under it */
	uint64_t		 start;
	uint64_t		 stop;
	struct slice		*repeats;	/* r= values, verbatim */
	size_t			 nrepeats;
};

/*
 * The lines this module keeps but does not interpret: i=, u=, e=, p=,
 * z=, k= at session level, i= and k= in a media description.  The
 * printer writes each type at its RFC 4566 place, whatever the order
 * of the array.
 */
struct sdp_field {
	char			 type;
	struct slice		 value;
};

struct sdp_attr {		/* a=<name>[:<value>], verbatim */
	struct slice		 name;
	struct slice		 value;		/* p == NULL: no ':' */
};

/*
 * One format of an m= line with what a=rtpmap and a=fmtp say about it.
 * A static payload type without rtpmap has has_rtpmap false and an
 * empty encoding: sdp_fmt_codec() fills in RFC 3551's table.
 */
struct sdp_fmt {
	struct slice		 fmt;		/* as written on the m= line */
	int			 pt;		/* 0-127; -1 if not RTP */
	bool			 has_rtpmap;
	struct slice		 encoding;	/* "PCMU", "opus", ... */
	uint32_t		 clock_rate;	/* 0: rtpmap gave none */
	unsigned		 channels;	/* 0: rtpmap gave none */
	struct slice		 fmtp;		/* a=fmtp parameters; p == NULL:
						   none */
};

struct sdp_media {		/* m= and its lines (RFC 4566 §5.14) */
	struct slice		 type;		/* "audio", "video", ... */
	uint16_t		 port;		/* 0: disabled or rejected */
	unsigned		 nports;	/* "port/n"; 0 or 1: one */
	struct slice		 proto;		/* "RTP/AVP", ... */
	struct sdp_fmt		*fmts;
	size_t			 nfmts;
	struct sdp_field	*fields;	/* i=, k= */
	size_t			 nfields;
	struct sdp_conn		 conn;		/* !present: session c= */
	struct sdp_bw		*bw;
	size_t			 nbw;
	/*
	 * Every a= line, verbatim and in order, including those decoded
	 * below; the printer writes the decoded ones from the fields and
	 * skips them here (rtpmap, fmtp, ptime, maxptime, rtcp and the
	 * four direction attributes).
	 */
	struct sdp_attr		*attrs;
	size_t			 nattrs;
	enum sdp_dir		 dir;		/* own a=, else session's */
	unsigned		 ptime;		/* ms; 0: absent */
	unsigned		 maxptime;	/* ms; 0: absent */
	bool			 has_rtcp;	/* a=rtcp (RFC 3605) */
	uint16_t		 rtcp_port;
	struct sdp_conn		 rtcp_conn;	/* !present: none given */
};

struct sdp_session {
	unsigned		 version;	/* v=, always 0 */
	struct sdp_origin	 origin;
	struct slice		 name;		/* s= */
	struct sdp_field	*fields;	/* i= u= e= p= z= k= */
	size_t			 nfields;
	struct sdp_conn		 conn;
	struct sdp_bw		*bw;
	size_t			 nbw;
	struct sdp_time		*times;		/* at least one when parsed */
	size_t			 ntimes;
	struct sdp_attr		*attrs;		/* as for sdp_media */
	size_t			 nattrs;
	enum sdp_dir		 dir;		/* session default: sendrecv */
	struct sdp_media	*media;
	size_t			 nmedia;
};

/*
 * Parses the body p[0..n).  Lines end in CRLF or LF; the last line may
 * lack its end and empty lines after the last one are ignored.  Order
 * and presence of the line types are checked as RFC 4566 §5 requires
 * (v= o= s= first, at least one t=, a c= for every media with a
 * non-zero port, unknown type letters rejected as §5 asks); unknown
 * attributes are kept verbatim.  Returns 0, or EBADMSG with *why set
 * to a static reason.  Arrays come from the arena; on error the arena
 * may hold garbage that the caller's reset frees.
 *
 * Leniencies, each met in real traffic: runs of spaces where the
 * grammar has one, trailing spaces, an empty s=, and an rtpmap without
 * clock rate ("a=rtpmap:31 LPC", as in RFC 4475's bodies: clock_rate 0,
 * it then never matches a dynamic type).
 */
int	sdp_parse(struct sdp_session *, struct arena *, const char *p,
	    size_t n, const char **why);

/* Appends the description as RFC 4566 text with CRLF line ends. */
void	sdp_print(struct strbuf *, const struct sdp_session *);

/* What we offer or accept: one per call or account, kept by the caller. */
struct sdp_local {
	const char		*username;	/* o=; NULL: "-" */
	uint64_t		 sess_id;
	uint64_t		 sess_version;
	const char		*session_name;	/* s=; NULL: "-" */
	const char		*addr;		/* IPv4 or IPv6 literal */
	uint16_t		 port;		/* RTP port of our one stream */
	const char *const	*codecs;	/* names, preferred first */
	size_t			 ncodecs;
	enum sdp_dir		 dir;		/* what we are willing to do */
	unsigned		 ptime;		/* ms; 0: no a=ptime */
};

/*
 * Codec names sdp_build_offer() and sdp_answer() know (case does not
 * matter): PCMU 0, PCMA 8, G722 9, G729 18, GSM 3 (static types, RFC
 * 3551); iLBC/8000, L16/8000, opus/48000/2, telephone-event/8000 with
 * fmtp 0-16 (RFC 4733), numbered from 96 in list order when offered.
 */
struct sdp_codec {
	const char		*name;
	int			 pt;		/* static type, or -1 */
	uint32_t		 clock_rate;
	unsigned		 channels;	/* 0: not written (mono) */
	const char		*fmtp;		/* NULL: none */
};

/* The table entry for a codec name, or NULL if we do not know it. */
const struct sdp_codec	*sdp_codec_find(struct slice name);

/*
 * RFC 3551 §6 for a static payload type without rtpmap, or NULL.  The
 * returned entry's name is what sdp_fmt_codec() reports.
 */
const struct sdp_codec	*sdp_codec_static(int pt);

/*
 * The encoding a format stands for: its rtpmap, else the static table.
 * False if neither says (a dynamic type without rtpmap, a non-RTP
 * format).  name may then point to static storage.
 */
bool	sdp_fmt_codec(const struct sdp_fmt *, struct slice *name,
	    uint32_t *clock_rate, unsigned *channels);

/*
 * Our offer: one audio RTP/AVP stream with the local codecs in order,
 * c= and o= from local->addr (IP6 if it holds a ':'), t=0 0, a
 * direction attribute and a=ptime if set.  0, or EINVAL for an unknown
 * codec name, no codec, no address or port 0.
 */
int	sdp_build_offer(struct sdp_session *, struct arena *,
	    const struct sdp_local *);

/*
 * RFC 3264 §6: answers the offer with one m= line per offered one, in
 * order.  The first audio RTP/AVP stream with a codec in common gets
 * local->port; its formats are the common ones in the offerer's order
 * with the offerer's payload numbers (§6.1), dynamic types matched by
 * encoding name (case-insensitive), clock rate and channels, static
 * ones by what their number means; telephone-event is kept when both
 * have it but is not a codec on its own.  Its direction mirrors the
 * offer's (a null c= address counting as "do not send to me", §8.4),
 * limited to local->dir.  Every other stream is rejected with port 0
 * and the offered formats.
 *
 * 0; EINVAL for a bad local (as sdp_build_offer); SDP_ERR_NOT_ACCEPTABLE
 * if no stream was accepted (the answer is still filled in).
 */
int	sdp_answer(struct sdp_session *answer, struct arena *,
	    const struct sdp_session *offer, const struct sdp_local *);

/* The outcome of one m= line of a finished offer/answer exchange. */
struct sdp_stream {
	bool			 accepted;	/* both sides gave a port */
	struct slice		 type;		/* media type */
	struct slice		 addr;		/* remote RTP address */
	enum sdp_addrtype	 atype;
	uint16_t		 port;		/* remote RTP port */
	uint16_t		 rtcp_port;	/* a=rtcp, else port + 1 */
	enum sdp_dir		 dir;		/* what we may do */
	bool			 hold;		/* remote does not want media */
	/* The remote's formats we also listed, in its order. */
	uint8_t			 fmt_idx[SDP_MAX_FMTS];
	size_t			 nfmts;
	const struct sdp_media	*remote;	/* fmt_idx indexes its fmts */
	/* The first common format that is a codec: what we send. */
	int			 pt;		/* -1: none */
	struct slice		 encoding;
	uint32_t		 clock_rate;
	unsigned		 channels;
	int			 dtmf_pt;	/* telephone-event; -1: none */
	unsigned		 ptime;		/* remote's; 0: absent */
};

/*
 * Reads a finished exchange, one sdp_stream per m= line (out has room
 * for SDP_MAX_MEDIA).  local is the description we sent and remote the
 * one we got: our offer and their answer, or their offer and our
 * answer.  Payload numbers are the remote's (RFC 3264 §6.1: we send
 * what it said it receives).  A stream is accepted if both ports are
 * non-zero, the media types agree, and a codec is in common.
 *
 * 0; EBADMSG with *why if the answer does not fit the offer (another
 * number of m= lines or a changed media type, §6);
 * SDP_ERR_NOT_ACCEPTABLE if no stream was accepted.
 */
int	sdp_apply_answer(struct sdp_stream *out, size_t *nout,
	    const struct sdp_session *local, const struct sdp_session *remote,
	    const char **why);

/*
 * The direction the writer of a description meant for one of its
 * streams: the attribute, except that a null connection address
 * (c=IN IP4 0.0.0.0, RFC 2543 hold; also "::") means "do not send to
 * me" (RFC 3264 §8.4) and takes the receive bit away.
 */
enum sdp_dir	sdp_media_dir(const struct sdp_session *,
		    const struct sdp_media *);

/*
 * True if the writer put the stream on hold: it does not want to
 * receive (sendonly, inactive, or a null c= address, RFC 3264 §8.4).
 */
bool	sdp_media_is_hold(const struct sdp_session *,
	    const struct sdp_media *);

/* The connection that applies to a media description (its own or the
 * session's); NULL if none. */
const struct sdp_conn	*sdp_media_conn(const struct sdp_session *,
			    const struct sdp_media *);

/* Mirror of a direction: what the other side does (sendonly<->recvonly). */
enum sdp_dir	sdp_dir_mirror(enum sdp_dir);
/* "sendrecv", "sendonly", "recvonly", "inactive". */
const char	*sdp_dir_name(enum sdp_dir);

/*
 * Early media (RFC 3960 §3, gateway model): a 180 or 183 provisional
 * response to our INVITE that carries an SDP body is the answer (or,
 * without 100rel, the preview of it) and its media should be played
 * before the call is answered.  True for status 180 or 183 and a body
 * that is not empty or all whitespace; the caller passes the body only
 * when its Content-Type is application/sdp and parses it on its own.
 * Any other status, or no body, is not early media (a 180 without body
 * means local ringback).
 */
bool	sdp_is_early_media(int status, struct slice body);

#endif
