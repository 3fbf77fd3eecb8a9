/*
 * libFuzzer target for the WebSocket decoder and the check of the
 * handshake answer (sip_ws.c).  The first byte picks a limit and a way
 * to cut the input; the rest is fed to sip_ws_answer_check (every
 * prefix must wait, refuse or accept consistently with the whole) and
 * then to the decoder in chunks, as a stream would bring it.  Every
 * event must stay inside the input or the decoder's own buffer, no
 * message may exceed the limit, and every call must take at least one
 * byte or ask for more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static void
fuzz_answer(const uint8_t *data, size_t size)
{
	struct sip_ws_answer a;
	const char *why = NULL;
	char *in = malloc(size > 0 ? size : 1);
	int rc;

	if (in == NULL)
		return;
	if (size > 0)
		memcpy(in, data, size);
	rc = sip_ws_answer_check(in, size, KEY, &a, &why);
	if (rc == 0 && (a.len == 0 || a.len > size || a.status != 101))
		abort();
	if (rc != 0 && rc != EAGAIN && why == NULL)
		abort();
	if (rc != 0 && rc != EAGAIN && rc != EPROTO && rc != EMSGSIZE)
		abort();
	/* Accepted: the head alone is accepted too, with the same length. */
	if (rc == 0) {
		struct sip_ws_answer b;

		if (sip_ws_answer_check(in, a.len, KEY, &b, &why) != 0 ||
		    b.len != a.len)
			abort();
	}
	free(in);
}

static void
fuzz_frames(const uint8_t *data, size_t size, size_t max, size_t chunk)
{
	struct sip_ws_dec d;
	uint8_t *buf = malloc(size > 0 ? size : 1);
	size_t have = 0, fed = 0;

	if (buf == NULL)
		return;
	sip_ws_dec_init(&d, max);
	for (;;) {
		struct sip_ws_ev ev;
		const char *why = NULL;
		size_t used;
		int rc;

		/* The stream brings chunk bytes at a time. */
		if (fed < size) {
			size_t n = size - fed < chunk ? size - fed : chunk;

			memcpy(buf + have, data + fed, n);
			have += n;
			fed += n;
		}
		rc = sip_ws_decode(&d, buf, have, &used, &ev, &why);
		if (rc != 0) {
			if (why == NULL || (rc != EPROTO && rc != EMSGSIZE))
				abort();
			break;
		}
		if (used > have)
			abort();
		if (ev.type == SIP_WS_EV_MESSAGE) {
			if (ev.len > max)
				abort();
			if (ev.len > 0 && !((ev.data >= buf &&
			    ev.data + ev.len <= buf + have) ||
			    (ev.data >= d.msg &&
			    ev.data + ev.len <= d.msg + d.msg_cap)))
				abort();
		}
		if ((ev.type == SIP_WS_EV_PING || ev.type == SIP_WS_EV_PONG ||
		    ev.type == SIP_WS_EV_CLOSE) && ev.len > SIP_WS_CONTROL_MAX)
			abort();
		if (used == 0) {
			if (fed == size)
				break;
			continue;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	sip_ws_dec_free(&d);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 0, 1, 125, 126, 200, 65535 };
	size_t max, chunk;

	if (size < 1)
		return 0;
	max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
	chunk = (size_t)(data[0] >> 3) + 1;
	fuzz_answer(data + 1, size - 1);
	fuzz_frames(data + 1, size - 1, max, chunk);
	return 0;
}
