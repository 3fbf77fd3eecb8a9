/*
 * libFuzzer target for digest authentication: any bytes must parse (or
 * fail) as a challenge list and as credentials without reading or writing
 * out of bounds; every usable Digest challenge must be answerable, the
 * credentials written must parse back with the same fields, and answering
 * with the precomputed HA1 must write the same credentials.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
unq_eq(struct slice raw, struct slice want_raw)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	bool eq;

	sip_auth_unquote(&a, raw);
	sip_auth_unquote(&b, want_raw);
	eq = a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
	strbuf_free(&a);
	strbuf_free(&b);
	return eq;
}

static bool
unq_is(struct slice raw, struct slice want)
{
	struct strbuf a = STRBUF_INIT;
	bool eq;

	sip_auth_unquote(&a, raw);
	eq = a.n == want.n && (a.n == 0 || memcmp(a.p, want.p, a.n) == 0);
	strbuf_free(&a);
	return eq;
}

static void
answer(const struct sip_auth_challenge *c, uint32_t nc)
{
	struct sip_auth_request r = { 0 };
	struct sip_auth_credentials cr;
	struct sip_auth_answer a, a2;
	struct strbuf sb = STRBUF_INIT, sb2 = STRBUF_INIT;
	struct strbuf realm = STRBUF_INIT;
	char ha1[SIP_AUTH_HEX_MAX + 1];
	const char *why;
	int error;

	r.username = slice_cstr("al\"ice\\");
	r.password = slice_cstr("secret");
	r.method = slice_cstr("REGISTER");
	r.uri = slice_cstr("sip:example.com");
	r.body = slice_cstr("v=0\r\n");
	r.cnonce = slice_cstr("0a4f\"113b");
	r.nc = nc != 0 ? nc : 1;
	r.userhash = (nc & 1) != 0;
	error = sip_auth_respond(&sb, c, &r, &a);
	if (error != 0)
		abort();	/* usable challenge, valid request */
	if (sip_auth_credentials_parse(&cr, slice_make(sb.p, sb.n), &why)
	    != 0)
		abort();
	if (cr.scheme != SIP_AUTH_SCHEME_DIGEST ||
	    cr.algorithm != c->algorithm || cr.qop != a.qop ||
	    !unq_eq(cr.realm, c->realm) || !unq_eq(cr.nonce, c->nonce) ||
	    !unq_is(cr.uri, r.uri) ||
	    !unq_is(cr.response, slice_cstr(a.response)) ||
	    cr.userhash != (r.userhash && c->userhash))
		abort();
	if (slice_present(cr.opaque) != slice_present(c->opaque) ||
	    (slice_present(c->opaque) && !unq_eq(cr.opaque, c->opaque)))
		abort();
	if (!cr.userhash && !unq_is(cr.username, r.username))
		abort();
	if (a.qop != SIP_AUTH_QOP_NONE &&
	    (cr.nc != r.nc || !unq_is(cr.cnonce, r.cnonce)))
		abort();
	if (a.qop == SIP_AUTH_QOP_NONE &&
	    (slice_present(cr.cnonce) || slice_present(cr.nc_text)))
		abort();

	/* A precomputed HA1 must give the very same credentials. */
	sip_auth_unquote(&realm, c->realm);
	if (sip_auth_ha1(ha1, c->algorithm, r.username,
	    slice_make(realm.p != NULL ? realm.p : "", realm.n),
	    r.password) != 0)
		abort();
	r.password = SLICE_NULL;
	r.ha1 = slice_cstr(ha1);
	r.ha1_alg = c->algorithm;
	if (sip_auth_respond(&sb2, c, &r, &a2) != 0 || sb2.n != sb.n ||
	    memcmp(sb2.p, sb.p, sb.n) != 0 ||
	    strcmp(a2.response, a.response) != 0)
		abort();
	strbuf_free(&realm);
	strbuf_free(&sb2);
	strbuf_free(&sb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_auth_challenge c;
	struct sip_auth_credentials cr;
	struct slice rest;
	const char *why;
	char *buf;
	int n = 0;

	if (size > 8192)
		return 0;
	/* A copy of exactly size bytes, so ASan sees any overread. */
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	rest = slice_make(buf, size);
	while (rest.n > 0 && n++ < 16) {
		if (sip_auth_challenge_parse(&c, rest, &rest, &why) != 0)
			break;
		if (c.scheme == SIP_AUTH_SCHEME_DIGEST &&
		    sip_auth_challenge_usable(&c))
			answer(&c, (uint32_t)size);
	}
	(void)sip_auth_challenge_parse(&c, slice_make(buf, size), NULL, &why);
	(void)sip_auth_credentials_parse(&cr, slice_make(buf, size), &why);
	free(buf);
	return 0;
}
