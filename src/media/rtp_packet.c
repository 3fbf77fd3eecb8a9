/* RTP header and telephone-event payloads (see rtp_packet.h). */
#include <errno.h>
#include <string.h>

#include "rtp_packet.h"

static const char dtmf_digits[] = "0123456789*#ABCD";

int
rtp_parse(const uint8_t *p, size_t n, struct rtp_hdr *h)
{
	size_t off, cc;

	if (n < RTP_HDR_LEN || (p[0] >> 6) != 2)
		return EINVAL;
	if (p[1] >= 192 && p[1] <= 223)
		return EINVAL;
	cc = p[0] & 0x0f;
	off = RTP_HDR_LEN + 4 * cc;
	if (off > n)
		return EINVAL;
	if (p[0] & 0x10) {
		size_t words;

		/* RFC 3550 §5.3.1: 16-bit profile word, 16-bit length */
		if (n - off < 4)
			return EINVAL;
		words = (size_t)(p[off + 2] << 8 | p[off + 3]);
		off += 4;
		if (words * 4 > n - off)
			return EINVAL;
		off += words * 4;
	}
	h->payload_len = n - off;
	if (p[0] & 0x20) {
		/* the last octet counts the padding, itself included */
		size_t pad = p[n - 1];

		if (pad == 0 || pad > h->payload_len)
			return EINVAL;
		h->payload_len -= pad;
	}
	h->marker = (p[1] & 0x80) != 0;
	h->pt = p[1] & 0x7f;
	h->seq = (uint16_t)(p[2] << 8 | p[3]);
	h->ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	    (uint32_t)p[6] << 8 | p[7];
	h->ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
	    (uint32_t)p[10] << 8 | p[11];
	h->payload = p + off;
	return 0;
}

void
rtp_hdr_write(uint8_t *p, bool marker, uint8_t pt, uint16_t seq,
    uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
}

int
rtp_dtmf_parse(const uint8_t *p, size_t n, struct rtp_dtmf *d)
{
	if (n < 4)
		return EINVAL;
	d->event = p[0];
	d->end = (p[1] & 0x80) != 0;
	d->volume = p[1] & 0x3f;
	d->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

void
rtp_dtmf_write(uint8_t *p, const struct rtp_dtmf *d)
{
	p[0] = d->event;
	p[1] = (uint8_t)((d->end ? 0x80 : 0) | (d->volume & 0x3f));
	p[2] = (uint8_t)(d->duration >> 8);
	p[3] = (uint8_t)d->duration;
}

char
rtp_dtmf_digit(uint8_t event)
{
	return event < 16 ? dtmf_digits[event] : 0;
}

int
rtp_dtmf_event(char digit)
{
	const char *q;

	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	if (digit == '\0' || (q = strchr(dtmf_digits, digit)) == NULL)
		return -1;
	return (int)(q - dtmf_digits);
}
