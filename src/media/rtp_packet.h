/*
 * RTP packets on the wire (RFC 3550 §5.1) and telephone-event payloads
 * (RFC 4733 §2.3): pure functions over bytes, no sockets, so that the
 * receive path can be fuzzed alone.
 */
#ifndef SIPX_MEDIA_RTP_PACKET_H
#define SIPX_MEDIA_RTP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HDR_LEN	12

struct rtp_hdr {
	bool		 marker;
	uint8_t		 pt;
	uint16_t	 seq;
	uint32_t	 ts;
	uint32_t	 ssrc;
	const uint8_t	*payload;	/* into the packet; padding removed */
	size_t		 payload_len;
};

/*
 * 0, or EINVAL: shorter than a header, version not 2, CSRC list,
 * extension or padding running past the packet, or a second byte in
 * 192-223 (an RTCP packet type, RFC 5761 §4, never valid RTP here).
 */
int	rtp_parse(const uint8_t *p, size_t n, struct rtp_hdr *);

/* Writes the 12-byte header (no CSRC, no extension, no padding). */
void	rtp_hdr_write(uint8_t *p, bool marker, uint8_t pt, uint16_t seq,
	    uint32_t ts, uint32_t ssrc);

struct rtp_dtmf {
	uint8_t		 event;		/* 0-15: 0-9 * # A-D */
	bool		 end;
	uint8_t		 volume;	/* -dBm0, 0-63 */
	uint16_t	 duration;	/* timestamp units */
};

/* 0, or EINVAL for a payload shorter than 4 bytes. */
int	rtp_dtmf_parse(const uint8_t *p, size_t n, struct rtp_dtmf *);
void	rtp_dtmf_write(uint8_t *p, const struct rtp_dtmf *);
/* '0'-'9' '*' '#' 'A'-'D' for events 0-15, else 0. */
char	rtp_dtmf_digit(uint8_t event);
/* The event for a digit (either case), or -1. */
int	rtp_dtmf_event(char digit);

#endif
