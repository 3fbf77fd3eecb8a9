/*
 * libFuzzer target for the SDP parser and offer/answer: any bytes must
 * parse or fail without reading or writing out of bounds; a body that
 * parses must have every slice inside the input, must print to text
 * that parses again, and must get an answer (from a fixed codec list)
 * whose text parses again with as many m= lines as the offer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
in_buf(struct slice s, const char *buf, size_t n)
{
	if (s.p == NULL)
		return s.n == 0;
	return s.p >= buf && s.n <= n && (size_t)(s.p - buf) <= n - s.n;
}

static void
check_conn(const struct sdp_conn *c, const char *b, size_t n)
{
	if (!in_buf(c->nettype, b, n) || !in_buf(c->addrtype, b, n) ||
	    !in_buf(c->addr, b, n))
		abort();
}

static void
check_slices(const struct sdp_session *s, const char *b, size_t n)
{
	if (!in_buf(s->origin.username, b, n) ||
	    !in_buf(s->origin.nettype, b, n) ||
	    !in_buf(s->origin.addrtype, b, n) ||
	    !in_buf(s->origin.addr, b, n) || !in_buf(s->name, b, n))
		abort();
	check_conn(&s->conn, b, n);
	for (size_t i = 0; i < s->nfields; i++)
		if (!in_buf(s->fields[i].value, b, n))
			abort();
	for (size_t i = 0; i < s->nbw; i++)
		if (!in_buf(s->bw[i].type, b, n))
			abort();
	for (size_t i = 0; i < s->ntimes; i++)
		for (size_t j = 0; j < s->times[i].nrepeats; j++)
			if (!in_buf(s->times[i].repeats[j], b, n))
				abort();
	for (size_t i = 0; i < s->nattrs; i++)
		if (!in_buf(s->attrs[i].name, b, n) ||
		    !in_buf(s->attrs[i].value, b, n))
			abort();
	if (s->nmedia > SDP_MAX_MEDIA)
		abort();
	for (size_t i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];

		if (!in_buf(m->type, b, n) || !in_buf(m->proto, b, n) ||
		    m->nfmts == 0 || m->nfmts > SDP_MAX_FMTS ||
		    m->nattrs > SDP_MAX_ATTRS)
			abort();
		check_conn(&m->conn, b, n);
		check_conn(&m->rtcp_conn, b, n);
		for (size_t j = 0; j < m->nfmts; j++)
			if (!in_buf(m->fmts[j].fmt, b, n) ||
			    !in_buf(m->fmts[j].encoding, b, n) ||
			    !in_buf(m->fmts[j].fmtp, b, n))
				abort();
		for (size_t j = 0; j < m->nfields; j++)
			if (!in_buf(m->fields[j].value, b, n))
				abort();
		for (size_t j = 0; j < m->nbw; j++)
			if (!in_buf(m->bw[j].type, b, n))
				abort();
		for (size_t j = 0; j < m->nattrs; j++)
			if (!in_buf(m->attrs[j].name, b, n) ||
			    !in_buf(m->attrs[j].value, b, n))
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const codecs[] = { "opus", "PCMU", "PCMA",
	    "telephone-event" };
	const struct sdp_local local = {
		.username = "sipxd", .sess_id = 1, .sess_version = 1,
		.addr = "192.0.2.1", .port = 4000, .codecs = codecs,
		.ncodecs = 4, .dir = SDP_DIR_SENDRECV, .ptime = 20,
	};
	struct sdp_stream st[SDP_MAX_MEDIA];
	struct sdp_session offer, answer, back;
	struct strbuf sb = STRBUF_INIT;
	struct arena a;
	const char *why = NULL;
	char *buf;
	size_t n;
	int rc;

	/* an exact-size copy, so that ASan sees any read past the end */
	buf = malloc(size > 0 ? size : 1);
	memcpy(buf, data, size);
	arena_init(&a);
	if (sdp_parse(&offer, &a, buf, size, &why) != 0) {
		if (why == NULL)
			abort();
		goto out;
	}
	check_slices(&offer, buf, size);

	sdp_print(&sb, &offer);
	if (sdp_parse(&back, &a, sb.p, sb.n, &why) != 0 ||
	    back.nmedia != offer.nmedia)
		abort();
	strbuf_reset(&sb);

	rc = sdp_answer(&answer, &a, &offer, &local);
	if (rc != 0 && rc != SDP_ERR_NOT_ACCEPTABLE)
		abort();
	sdp_print(&sb, &answer);
	if (sdp_parse(&back, &a, sb.p, sb.n, &why) != 0 ||
	    back.nmedia != offer.nmedia)
		abort();
	/* the answerer's view of the exchange agrees with sdp_answer() */
	rc = sdp_apply_answer(st, &n, &back, &offer, &why);
	if (rc != 0 && rc != SDP_ERR_NOT_ACCEPTABLE)
		abort();
	for (size_t i = 0; i < n; i++)
		if (st[i].accepted != (answer.media[i].port != 0))
			abort();
out:
	strbuf_free(&sb);
	arena_free(&a);
	free(buf);
	return 0;
}
