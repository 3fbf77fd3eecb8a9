/*
 * libFuzzer target for the SIP message layer: the input is parsed as a
 * datagram, then fed as a stream through the framer with every framed
 * message parsed in stream mode, then every accepted message is rebuilt
 * as a response (§8.2.6 copy) and the result must parse again.  Any
 * slice outside the input, crash or leak is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_build.h"
#include "sip/sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const struct sip_msg *m, struct slice s)
{
	if (s.n > 0 && (s.p < m->buf || s.p + s.n > m->buf + m->len))
		abort();
}

static void
check(const struct sip_msg *m)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_parse_error err;
	struct sip_msg *r;

	for (unsigned i = 0; i < m->nhdrs; i++)
		inside(m, m->hdrs[i].value);
	for (unsigned i = 0; i < m->nvia; i++) {
		inside(m, m->via[i].host);
		inside(m, m->via[i].branch);
	}
	inside(m, m->from.uri.host);
	inside(m, m->to.tag);
	inside(m, m->call_id);
	inside(m, m->body);
	if (!m->request)
		return;
	sip_build_response_to(&b, m, 200, "OK", "fuzztag");
	sip_build_finish(&b, &out);
	if (sip_msg_parse(out.p, out.n, SIP_PARSE_BORROW, &r, &err) != 0)
		abort();	/* our own output must always parse */
	if (!slice_eq(r->call_id, m->call_id) || r->nvia != m->nvia)
		abort();
	sip_msg_free(r);
	strbuf_free(&out);
	sip_build_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	const char *why;
	size_t off = 0, len;
	char *copy;

	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (sip_msg_parse(copy, size, 0, &m, &err) == 0) {
		check(m);
		sip_msg_free(m);
	}

	while (off < size) {
		enum sip_frame f = sip_msg_frame((const char *)data + off,
		    size - off, &len, &why);

		if (f == SIP_FRAME_NEED_MORE || f == SIP_FRAME_ERROR)
			break;
		if (len == 0 || len > size - off)
			abort();
		if (f == SIP_FRAME_MESSAGE) {
			copy = malloc(len);
			memcpy(copy, data + off, len);
			if (sip_msg_parse(copy, len, SIP_PARSE_STREAM, &m,
			    &err) == 0) {
				check(m);
				sip_msg_free(m);
			}
		}
		off += len;
	}
	return 0;
}
