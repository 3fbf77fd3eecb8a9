/*
 * Credential masking of raw SIP messages: the digest response, cnonce,
 * rspauth and auts values and non-Digest credentials never survive, in
 * any case, spacing, folding or quoting; nothing else changes (other
 * headers, a "response=" inside a quoted value, the body).
 */
#include <check.h>
#include <string.h>

#include "sip/sip_redact.h"

struct redact_case {
	const char	*in;
	const char	*want;
};

#define REQ	"REGISTER sip:example.com SIP/2.0\r\n"

static const struct redact_case cases[] = {
	/* The plain case, RFC 3261 §22.4 form. */
	{ REQ "Authorization: Digest username=\"alice\", realm=\"ex\", "
	    "nonce=\"abc\", uri=\"sip:example.com\", "
	    "response=\"0123456789abcdef0123456789abcdef\", qop=auth, "
	    "nc=00000001, cnonce=\"c0ffee\"\r\n\r\n",
	  REQ "Authorization: Digest username=\"alice\", realm=\"ex\", "
	    "nonce=\"abc\", uri=\"sip:example.com\", "
	    "response=\"***\", qop=auth, nc=00000001, cnonce=\"***\"\r\n\r\n" },
	/* Case of names and scheme, spaces around '=' and before ':'. */
	{ REQ "PROXY-AUTHORIZATION  :  DIGEST Username=\"a\" , "
	    "RESPONSE = \"deadbeef\",CNonce= 'x'y\r\n\r\n",
	  REQ "PROXY-AUTHORIZATION  :  DIGEST Username=\"a\" , "
	    "RESPONSE = \"***\",CNonce= ***\r\n\r\n" },
	/* Unquoted values, LF-only line ends. */
	{ REQ "authorization: Digest response=abc123,cnonce=zz\n\nbody",
	  REQ "authorization: Digest response=***,cnonce=***\n\nbody" },
	/* Folded over continuation lines (RFC 3261 §7.3.1). */
	{ REQ "Authorization: Digest username=\"a\",\r\n"
	    "  response=\"secret1\",\r\n\tcnonce=\"secret2\"\r\n"
	    "Max-Forwards: 70\r\n\r\n",
	  REQ "Authorization: Digest username=\"a\",\r\n"
	    "  response=\"***\",\r\n\tcnonce=\"***\"\r\n"
	    "Max-Forwards: 70\r\n\r\n" },
	/* A parameter name inside a quoted value is text, not a name. */
	{ REQ "Authorization: Digest username=\"response=x, cnonce=y\", "
	    "response=\"s\\\"ecret\"\r\n\r\n",
	  REQ "Authorization: Digest username=\"response=x, cnonce=y\", "
	    "response=\"***\"\r\n\r\n" },
	/* The server's proof (RFC 7616 §3.5) and AKA's auts. */
	{ "SIP/2.0 200 OK\r\nAuthentication-Info: qop=auth, "
	    "rspauth=\"feedface\", cnonce=\"c1\", nc=00000001, "
	    "nextnonce=\"n2\"\r\n"
	    "Proxy-Authentication-Info: rspauth=\"x\"\r\n\r\n",
	  "SIP/2.0 200 OK\r\nAuthentication-Info: qop=auth, "
	    "rspauth=\"***\", cnonce=\"***\", nc=00000001, "
	    "nextnonce=\"n2\"\r\n"
	    "Proxy-Authentication-Info: rspauth=\"***\"\r\n\r\n" },
	{ REQ "Authorization: Digest auts=\"abcd\", response=\"\"\r\n\r\n",
	  REQ "Authorization: Digest auts=\"***\", response=\"***\"\r\n\r\n" },
	/* Other schemes: the whole credential. */
	{ REQ "Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n",
	  REQ "Authorization: Basic ***\r\n\r\n" },
	{ REQ "Authorization: Basic YWxpY2U6c2VjcmV0==\r\n\r\n",
	  REQ "Authorization: Basic ***\r\n\r\n" },
	{ REQ "Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl\r\n"
	    "Authorization: Digest response=\"r\"\r\n\r\n",
	  REQ "Authorization: Bearer ***\r\n"
	    "Authorization: Digest response=\"***\"\r\n\r\n" },
	/* Other headers, look-alikes and the body are left alone. */
	{ REQ "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
	    "X-Authorization: response=\"keep\"\r\n"
	    "Subject: Authorization: Digest response=\"keep\"\r\n"
	    "Content-Length: 24\r\n\r\n"
	    "Authorization: response=1",
	  REQ "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n"
	    "X-Authorization: response=\"keep\"\r\n"
	    "Subject: Authorization: Digest response=\"keep\"\r\n"
	    "Content-Length: 24\r\n\r\n"
	    "Authorization: response=1" },
	/* Truncated message: no end of headers, unterminated quote. */
	{ REQ "Authorization: Digest response=\"abc",
	  REQ "Authorization: Digest response=\"***\"" },
	{ REQ "Authorization:", REQ "Authorization:" },
	{ "", "" },
};

START_TEST(test_cases)
{
	const struct redact_case *c = &cases[_i];
	struct strbuf out = STRBUF_INIT;

	sip_redact(&out, c->in, strlen(c->in));
	ck_assert_msg(out.n == strlen(c->want) &&
	    memcmp(out.p, c->want, out.n) == 0,
	    "case %d:\n got: %.*s\nwant: %s", _i, (int)out.n, out.p ? out.p :
	    "", c->want);
	strbuf_free(&out);
}
END_TEST

/* Whatever the shape, no byte of a secret survives. */
START_TEST(test_no_secret_left)
{
	static const char *const shapes[][2] = {
		{ "Authorization: Digest response=\"", "\"\r\n" },
		{ "Authorization:Digest cnonce=", "\r\n" },
		{ "proxy-authorization :\tdigest nc=1,response = ", "\r\n" },
		{ "Authorization: Digest a=b,\r\n response=\"", "\"\r\n" },
		{ "AUTHORIZATION: BASIC ", "\r\n" },
	};
	struct strbuf msg = STRBUF_INIT, out = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		strbuf_reset(&msg);
		strbuf_adds(&msg, REQ);
		strbuf_adds(&msg, shapes[i][0]);
		strbuf_adds(&msg, "S3CR3TVALUE");
		strbuf_adds(&msg, shapes[i][1]);
		strbuf_adds(&msg, "\r\n");
		strbuf_reset(&out);
		sip_redact(&out, msg.p, msg.n);
		strbuf_addc(&out, '\0');
		ck_assert_msg(strstr(out.p, "S3CR3T") == NULL, "shape %zu: %s",
		    i, out.p);
		ck_assert_ptr_nonnull(strstr(out.p, SIP_REDACT_MASK));
	}
	strbuf_free(&msg);
	strbuf_free(&out);
}
END_TEST

static Suite *
redact_suite(void)
{
	Suite *s = suite_create("sip_redact");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_cases, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_no_secret_left);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(redact_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
