/*
 * libFuzzer target for the RTP receive parser and the telephone-event
 * payload: any datagram must parse or fail without reading out of
 * bounds; a packet that parses has its payload inside the datagram,
 * after the header and CSRCs, and its header fields written back give
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtp_hdr h;
	struct rtp_dtmf d;
	uint8_t *buf, hdr[RTP_HDR_LEN], ev[4];

	buf = malloc(size > 0 ? size : 1);
	memcpy(buf, data, size);
	if (rtp_parse(buf, size, &h) != 0)
		goto out;
	if (h.payload < buf + RTP_HDR_LEN + 4 * (buf[0] & 0x0f) ||
	    h.payload > buf + size || h.payload_len > size ||
	    (size_t)(h.payload - buf) > size - h.payload_len)
		abort();
	rtp_hdr_write(hdr, h.marker, h.pt, h.seq, h.ts, h.ssrc);
	if (memcmp(hdr + 1, buf + 1, RTP_HDR_LEN - 1) != 0)
		abort();
	if (rtp_dtmf_parse(h.payload, h.payload_len, &d) == 0) {
		rtp_dtmf_write(ev, &d);
		if ((h.payload[1] & 0x40) == 0 && memcmp(ev, h.payload, 4) != 0)
			abort();
		if (rtp_dtmf_digit(d.event) != 0 &&
		    rtp_dtmf_event(rtp_dtmf_digit(d.event)) != d.event)
			abort();
	}
out:
	free(buf);
	return 0;
}
