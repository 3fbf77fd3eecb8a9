/*
 * Message builder (see sip_build.h).  Names and values are appended to
 * one buffer; finish sorts the small header index by rank (stable
 * insertion sort: messages have tens of headers) and writes it out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "sip_build.h"

static void
sip_build_reset(struct sip_build *b)
{
	strbuf_reset(&b->start);
	strbuf_reset(&b->text);
	b->nhdrs = 0;
	b->body = NULL;
	b->body_len = 0;
}

void
sip_build_request(struct sip_build *b, const char *method, const char *ruri)
{
	sip_build_reset(b);
	strbuf_addf(&b->start, "%s %s SIP/2.0", method, ruri);
}

void
sip_build_response(struct sip_build *b, unsigned status, const char *reason)
{
	sip_build_reset(b);
	strbuf_addf(&b->start, "SIP/2.0 %03u %s", status, reason);
}

static bool
value_ok(const char *v, size_t n)
{
	return memchr(v, '\r', n) == NULL && memchr(v, '\n', n) == NULL &&
	    memchr(v, '\0', n) == NULL;
}

static bool
name_ok(const char *name)
{
	static const char extra[] = "-.!%*_+`'~";

	if (*name == '\0')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(extra, *p)))
			return false;
	return true;
}

/*
 * Values copied from a parsed message skip the check: they are already
 * valid SIP (folding, or a NUL inside a quoted-pair, RFC 4475 intmeth).
 */
static int
sip_build_push(struct sip_build *b, enum sip_hdr_id id, const char *name,
    const char *value, size_t vlen, bool trusted)
{
	struct sip_build_hdr *h;

	if (!trusted && !value_ok(value, vlen))
		return EINVAL;
	/* Content-Length is always ours to compute. */
	if (id == SIP_HDR_CONTENT_LENGTH)
		return 0;
	if (b->nhdrs == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->hdrs = xreallocarray(b->hdrs, b->cap, sizeof(*b->hdrs));
	}
	h = &b->hdrs[b->nhdrs++];
	h->id = id;
	h->rank = sip_hdr_rank(id);
	h->name_off = b->text.n;
	h->name_len = strlen(name);
	strbuf_add(&b->text, name, h->name_len);
	h->value_off = b->text.n;
	h->value_len = vlen;
	strbuf_add(&b->text, value, vlen);
	return 0;
}

int
sip_build_add(struct sip_build *b, enum sip_hdr_id id, const char *value)
{
	if (id == SIP_HDR_OTHER)
		return EINVAL;
	return sip_build_push(b, id, sip_hdr_name(id), value, strlen(value),
	    false);
}

/* Formats straight into the text buffer: no temporary string. */
int
sip_build_addf(struct sip_build *b, enum sip_hdr_id id, const char *fmt, ...)
{
	struct sip_build_hdr *h;
	size_t name_off = b->text.n, value_off;
	va_list ap;

	if (id == SIP_HDR_OTHER || id == SIP_HDR_CONTENT_LENGTH)
		return id == SIP_HDR_OTHER ? EINVAL : 0;
	strbuf_adds(&b->text, sip_hdr_name(id));
	value_off = b->text.n;
	va_start(ap, fmt);
	strbuf_vaddf(&b->text, fmt, ap);
	va_end(ap);
	if (!value_ok(b->text.p + value_off, b->text.n - value_off)) {
		b->text.n = name_off;
		b->text.p[name_off] = '\0';
		return EINVAL;
	}
	if (b->nhdrs == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->hdrs = xreallocarray(b->hdrs, b->cap, sizeof(*b->hdrs));
	}
	h = &b->hdrs[b->nhdrs++];
	h->id = id;
	h->rank = sip_hdr_rank(id);
	h->name_off = name_off;
	h->name_len = value_off - name_off;
	h->value_off = value_off;
	h->value_len = b->text.n - value_off;
	return 0;
}

int
sip_build_add_named(struct sip_build *b, const char *name, const char *value)
{
	enum sip_hdr_id id;

	if (!name_ok(name))
		return EINVAL;
	id = sip_hdr_lookup(name, strlen(name));
	return sip_build_push(b, id, id != SIP_HDR_OTHER ? sip_hdr_name(id) :
	    name, value, strlen(value), false);
}

int
sip_build_body(struct sip_build *b, const char *content_type,
    const void *body, size_t len)
{
	int rc = 0;

	if (content_type != NULL)
		rc = sip_build_add(b, SIP_HDR_CONTENT_TYPE, content_type);
	if (rc == 0) {
		b->body = body;
		b->body_len = len;
	}
	return rc;
}

static void
sip_build_copy(struct sip_build *b, const struct sip_msg *req,
    enum sip_hdr_id id)
{
	for (unsigned i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];

		if (h->id == id)
			sip_build_push(b, id, sip_hdr_name(id), h->value.p,
			    h->value.n, true);
	}
}

void
sip_build_response_to(struct sip_build *b, const struct sip_msg *req,
    unsigned status, const char *reason, const char *to_tag)
{
	const struct sip_hdr *to;

	sip_build_response(b, status, reason);
	sip_build_copy(b, req, SIP_HDR_VIA);
	sip_build_copy(b, req, SIP_HDR_FROM);
	to = sip_msg_hdr(req, SIP_HDR_TO, 0);
	if (to != NULL) {
		struct strbuf v = STRBUF_INIT;

		strbuf_add(&v, to->value.p, to->value.n);
		/* §8.2.6.2: a UAS adds its tag, except to a 100. */
		if (req->to.tag.p == NULL && status > 100 && to_tag != NULL)
			strbuf_addf(&v, ";tag=%s", to_tag);
		sip_build_push(b, SIP_HDR_TO, "To", v.p, v.n, true);
		strbuf_free(&v);
	}
	sip_build_copy(b, req, SIP_HDR_CALL_ID);
	sip_build_copy(b, req, SIP_HDR_CSEQ);
	if (status == 100)
		sip_build_copy(b, req, SIP_HDR_TIMESTAMP);
}

void
sip_build_finish(struct sip_build *b, struct strbuf *out)
{
	char len[24];
	int n;

	/* Stable insertion sort by rank. */
	for (size_t i = 1; i < b->nhdrs; i++) {
		struct sip_build_hdr h = b->hdrs[i];
		size_t j = i;

		while (j > 0 && b->hdrs[j - 1].rank > h.rank) {
			b->hdrs[j] = b->hdrs[j - 1];
			j--;
		}
		b->hdrs[j] = h;
	}
	strbuf_reserve(out, b->start.n + b->text.n + b->nhdrs * 4 +
	    b->body_len + 48);
	strbuf_add(out, b->start.p, b->start.n);
	strbuf_add(out, "\r\n", 2);
	for (size_t i = 0; i < b->nhdrs; i++) {
		const struct sip_build_hdr *h = &b->hdrs[i];

		strbuf_add(out, b->text.p + h->name_off, h->name_len);
		strbuf_add(out, ": ", 2);
		strbuf_add(out, b->text.p + h->value_off, h->value_len);
		strbuf_add(out, "\r\n", 2);
	}
	n = snprintf(len, sizeof(len), "Content-Length: %zu\r\n\r\n",
	    b->body_len);
	strbuf_add(out, len, (size_t)n);
	if (b->body_len > 0)
		strbuf_add(out, b->body, b->body_len);
	sip_build_reset(b);
}

void
sip_build_free(struct sip_build *b)
{
	strbuf_free(&b->start);
	strbuf_free(&b->text);
	free(b->hdrs);
	memset(b, 0, sizeof(*b));
}
