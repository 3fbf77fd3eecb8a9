/*
 * Digest authentication: challenge and credentials parsing (table of
 * header values), the published vectors of RFC 2617 §3.5 and RFC 7616
 * §3.9 (with erratum 4897 for §3.9.2), the other algorithm and qop
 * combinations against values computed independently with `openssl dgst`,
 * the exact form of the credentials written, the nonce count and a
 * write -> parse round trip.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_auth.h"

#define RFC7616_NONCE	"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC7616_OPAQUE	"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
#define RFC7616_CNONCE	"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC7616_CHAL(alg, qop)						\
	"Digest realm=\"http-auth@example.org\", qop=\"" qop "\", "	\
	"algorithm=" alg ", nonce=\"" RFC7616_NONCE "\", "		\
	"opaque=\"" RFC7616_OPAQUE "\""

#define RFC2617_CHAL							\
	"Digest\r\n"							\
	"    realm=\"testrealm@host.com\",\r\n"		\
	"    qop=\"auth,auth-int\",\r\n"			\
	"    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n" \
	"    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""

static struct strbuf sb;

static void
setup(void)
{
	strbuf_reset(&sb);
}

static void
teardown(void)
{
	strbuf_free(&sb);
}

/* unq(raw) as a C string in a static buffer, or "(absent)". */
static const char *
unq(struct slice raw)
{
	static char buf[4][512];
	static int k;
	struct strbuf t = STRBUF_INIT;
	char *b = buf[k++ % 4];

	if (!slice_present(raw))
		return "(absent)";
	sip_auth_unquote(&t, raw);
	snprintf(b, sizeof(buf[0]), "%s", t.p != NULL ? t.p : "");
	strbuf_free(&t);
	return b;
}

static int
chal(struct sip_auth_challenge *c, const char *s)
{
	const char *why = NULL;
	int error = sip_auth_challenge_parse(c, slice_cstr(s), NULL, &why);

	if (error != 0)
		ck_assert_ptr_nonnull(why);
	return error;
}

/* ---- challenge parsing -------------------------------------------------- */

#define ABSENT	"(absent)"
#define QA	SIP_AUTH_QOPF_AUTH
#define QI	SIP_AUTH_QOPF_AUTH_INT
#define QO	SIP_AUTH_QOPF_OTHER

static const struct chal_case {
	const char		*in;
	int			 error;
	enum sip_auth_scheme	 scheme;
	const char		*realm;
	const char		*nonce;
	const char		*opaque;
	enum sip_auth_alg	 alg;
	unsigned		 qop;
	bool			 stale;
	bool			 usable;
} chal_cases[] = {
	/* 0: RFC 2617 §3.5, folded over lines as printed */
	{ RFC2617_CHAL, 0, SIP_AUTH_SCHEME_DIGEST, "testrealm@host.com",
	    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
	    "5ccc069c403ebaf9f0171e9517f40e41", SIP_AUTH_ALG_MD5, QA | QI,
	    false, true },
	/* 1: minimal, algorithm absent means MD5, no qop (RFC 2069) */
	{ "Digest realm=\"r\", nonce=\"n\"", 0, SIP_AUTH_SCHEME_DIGEST,
	    "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 2: any order */
	{ "Digest nonce=\"n\", opaque=\"o\", algorithm=SHA-256, realm=\"r\"",
	    0, SIP_AUTH_SCHEME_DIGEST, "r", "n", "o", SIP_AUTH_ALG_SHA256,
	    0, false, true },
	/* 3: case-insensitive scheme, names and values */
	{ "dIgEsT REALM=\"r\", NoNcE=\"n\", ALGORITHM=sha-256-SESS, "
	    "QOP=\"AUTH\"", 0, SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT,
	    SIP_AUTH_ALG_SHA256_SESS, QA, false, true },
	/* 4: backslash escapes */
	{ "Digest realm=\"a \\\"quoted\\\" realm\\\\\", nonce=\"n\\x\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "a \"quoted\" realm\\", "nx", ABSENT,
	    SIP_AUTH_ALG_MD5, 0, false, true },
	/* 5: several qop values, spaced */
	{ "Digest realm=\"r\", nonce=\"n\", qop=\" auth-int ,  auth \"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5,
	    QA | QI, false, true },
	/* 6: an unknown qop value next to a known one */
	{ "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf,auth\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5,
	    QA | QO, false, true },
	/* 7: only auth-int */
	{ "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, QI,
	    false, true },
	/* 8: only unknown qop values: cannot be answered */
	{ "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, QO,
	    false, false },
	/* 9: unknown algorithm parses, is not usable */
	{ "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-384", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_UNKNOWN,
	    0, false, false },
	/* 10: quoted algorithm, as some servers send it */
	{ "Digest realm=\"r\", nonce=\"n\", algorithm=\"SHA-512-256\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT,
	    SIP_AUTH_ALG_SHA512_256, 0, false, true },
	/* 11-14: stale */
	{ "Digest realm=\"r\", nonce=\"n\", stale=TRUE", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    true, true },
	{ "Digest realm=\"r\", nonce=\"n\", stale=\"true\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    true, true },
	{ "Digest realm=\"r\", nonce=\"n\", stale=False", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    false, true },
	{ "Digest realm=\"r\", nonce=\"n\", stale=yes", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    false, true },
	/* 15-16: realm and nonce are required */
	{ .in = "Digest realm=\"r\", qop=\"auth\"", .error = EBADMSG },
	{ .in = "Digest nonce=\"n\", qop=\"auth\"", .error = EBADMSG },
	/* 17: another scheme */
	{ "Basic realm=\"WallyWorld\"", 0, SIP_AUTH_SCHEME_OTHER, ABSENT,
	    ABSENT, ABSENT, SIP_AUTH_ALG_MD5, 0, false, false },
	/* 18: another scheme with a token68 */
	{ "Negotiate YIIBzgYGKwYBBQUC==", 0, SIP_AUTH_SCHEME_OTHER, ABSENT,
	    ABSENT, ABSENT, SIP_AUTH_ALG_MD5, 0, false, false },
	/* 19: unknown parameters ignored, quoted commas included */
	{ "Digest realm=\"r\", foo=bar, nonce=\"n\", baz=\"x, y=z\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    false, true },
	/* 20-21: empty */
	{ .in = "", .error = EBADMSG },
	{ .in = " \t\r\n", .error = EBADMSG },
	/* 22: unterminated quoted string */
	{ .in = "Digest realm=\"r, nonce=\"n", .error = EBADMSG },
	/* 23: a parameter without '=' */
	{ .in = "Digest realm", .error = EBADMSG },
	/* 24: a parameter twice */
	{ .in = "Digest realm=\"r\", nonce=\"n\", realm=\"s\"",
	    .error = EBADMSG },
	/* 25: a line end that does not fold */
	{ .in = "Digest realm=\"r\",\r\nnonce=\"n\"", .error = EBADMSG },
	/* 26: a control character inside quotes */
	{ .in = "Digest realm=\"a\001b\", nonce=\"n\"", .error = EBADMSG },
	/* 27: an escaped control character */
	{ .in = "Digest realm=\"a\\\001b\", nonce=\"n\"", .error = EBADMSG },
	/* 28: empty list elements and a trailing comma */
	{ "Digest , realm=\"r\",, nonce=\"n\" ,", 0, SIP_AUTH_SCHEME_DIGEST,
	    "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 29: white space around '=' and ',' */
	{ "Digest realm = \"r\" ,nonce= \"n\"\t, opaque =\"\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", "", SIP_AUTH_ALG_MD5, 0,
	    false, true },
	/* 30: unquoted values, base64 included */
	{ "Digest realm=r, nonce=abc/def+==", 0, SIP_AUTH_SCHEME_DIGEST,
	    "r", "abc/def+==", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 31: no space after the scheme */
	{ .in = "Digestrealm=\"r\", nonce=\"n\"", .error = EBADMSG },
	/* 32: an empty unquoted value */
	{ .in = "Digest realm=, nonce=\"n\"", .error = EBADMSG },
	/* 33: a missing comma */
	{ .in = "Digest realm=\"r\" nonce=\"n\"", .error = EBADMSG },
	/* 34: folding inside a quoted string reads as the white space */
	{ "Digest realm=\"a\r\n b\", nonce=\"n\"", 0, SIP_AUTH_SCHEME_DIGEST,
	    "a b", "n", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 35: qop present but empty: nothing to answer with */
	{ "Digest realm=\"r\", nonce=\"n\", qop=\"\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0,
	    false, false },
	/* 36: -sess without qop has no cnonce to hash: not usable */
	{ "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess", 0,
	    SIP_AUTH_SCHEME_DIGEST, "r", "n", ABSENT, SIP_AUTH_ALG_MD5_SESS,
	    0, false, false },
	/* 37: surrounding white space and line end */
	{ "  Digest realm=\"r\", nonce=\"n\"\r\n", 0, SIP_AUTH_SCHEME_DIGEST,
	    "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 38: UTF-8 in a realm */
	{ "Digest realm=\"caf\xc3\xa9\", nonce=\"n\"", 0,
	    SIP_AUTH_SCHEME_DIGEST, "caf\xc3\xa9", "n", ABSENT,
	    SIP_AUTH_ALG_MD5, 0, false, true },
	/* 39: a second challenge where only one is allowed */
	{ .in = "Digest realm=\"r\", nonce=\"n\", Basic realm=\"r\"",
	    .error = EBADMSG },
	/* 40: a bad parameter name */
	{ .in = "Digest realm=\"r\", \"nonce\"=\"n\"", .error = EBADMSG },
	/* 41: a backslash at the very end of a quoted string */
	{ .in = "Digest realm=\"r\\", .error = EBADMSG },
	/* 42: the RFC 3261 §20.44 example */
	{ "Digest realm=\"atlanta.com\", domain=\"sip:boxesbybob.com\", "
	    "qop=\"auth\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", "
	    "opaque=\"\", stale=FALSE, algorithm=MD5", 0,
	    SIP_AUTH_SCHEME_DIGEST, "atlanta.com",
	    "f84f1cec41e6cbe5aea9c8e88d359", "", SIP_AUTH_ALG_MD5, QA, false,
	    true },
	/* 43: another scheme, malformed */
	{ .in = "Foo bar baz", .error = EBADMSG },
	/* 44: a quoted first parameter name */
	{ .in = "Digest \"realm\"=\"r\", nonce=\"n\"", .error = EBADMSG },
	/* 45: empty list elements before the scheme */
	{ ", ,Digest realm=\"r\", nonce=\"n\"", 0, SIP_AUTH_SCHEME_DIGEST,
	    "r", "n", ABSENT, SIP_AUTH_ALG_MD5, 0, false, true },
	/* 46: a quoted scheme */
	{ .in = "\"Digest\" realm=\"r\", nonce=\"n\"", .error = EBADMSG },
	/* 47: a line end inside quotes that does not fold */
	{ .in = "Digest realm=\"a\r\nb\", nonce=\"n\"", .error = EBADMSG },
};

START_TEST(test_challenge_table)
{
	const struct chal_case *t = &chal_cases[_i];
	struct sip_auth_challenge c;
	int error = chal(&c, t->in);

	ck_assert_msg(error == t->error, "case %d: error %d, want %d", _i,
	    error, t->error);
	if (error != 0)
		return;
	ck_assert_msg(c.scheme == t->scheme, "case %d: scheme", _i);
	ck_assert_msg(strcmp(unq(c.realm), t->realm) == 0,
	    "case %d: realm [%s]", _i, unq(c.realm));
	ck_assert_msg(strcmp(unq(c.nonce), t->nonce) == 0,
	    "case %d: nonce [%s]", _i, unq(c.nonce));
	ck_assert_msg(strcmp(unq(c.opaque), t->opaque) == 0,
	    "case %d: opaque [%s]", _i, unq(c.opaque));
	ck_assert_msg(c.algorithm == t->alg, "case %d: algorithm %d", _i,
	    c.algorithm);
	ck_assert_msg(c.qop_options == t->qop, "case %d: qop %#x", _i,
	    c.qop_options);
	ck_assert_msg(c.stale == t->stale, "case %d: stale", _i);
	ck_assert_msg(sip_auth_challenge_usable(&c) == t->usable,
	    "case %d: usable", _i);
}
END_TEST

START_TEST(test_challenge_fields)
{
	struct sip_auth_challenge c;

	ck_assert_int_eq(chal(&c, "Digest realm=\"r\", nonce=\"n\", "
	    "domain=\"sip:a.example.com sip:b.example.com\", "
	    "algorithm=sha-512-256, userhash=true, charset=UTF-8"), 0);
	ck_assert_str_eq(unq(c.domain), "sip:a.example.com sip:b.example.com");
	ck_assert(c.userhash);
	ck_assert(slice_eq_cstr(c.charset, "UTF-8"));
	ck_assert(slice_eq_cstr(c.algorithm_name, "sha-512-256"));
	ck_assert(slice_eq_cstr(c.scheme_name, "Digest"));
	ck_assert(slice_eq_cstr(c.params, "realm=\"r\", nonce=\"n\", "
	    "domain=\"sip:a.example.com sip:b.example.com\", "
	    "algorithm=sha-512-256, userhash=true, charset=UTF-8"));

	/* Other schemes keep their raw text for the caller to skip. */
	ck_assert_int_eq(chal(&c, "Basic realm=\"WallyWorld\""), 0);
	ck_assert(slice_eq_cstr(c.scheme_name, "Basic"));
	ck_assert(slice_eq_cstr(c.params, "realm=\"WallyWorld\""));
	ck_assert_int_eq(chal(&c, "NTLM"), 0);
	ck_assert(slice_eq_cstr(c.scheme_name, "NTLM"));
	ck_assert_uint_eq(c.params.n, 0);
	ck_assert(!sip_auth_challenge_usable(&c));
}
END_TEST

START_TEST(test_challenge_list)
{
	const char *v = "Basic realm=\"x\", Digest realm=\"r\", nonce=\"n\", "
	    "algorithm=SHA-256, Negotiate abc==, Digest realm=\"r\", "
	    "nonce=\"m\"";
	static const char *const want[] = { "Basic", "Digest", "Negotiate",
	    "Digest" };
	struct sip_auth_challenge c;
	struct slice rest = slice_cstr(v);
	const char *why;
	int n = 0;

	while (rest.n > 0) {
		ck_assert_int_eq(sip_auth_challenge_parse(&c, rest, &rest,
		    &why), 0);
		ck_assert_int_lt(n, 4);
		ck_assert(slice_eq_cstr(c.scheme_name, want[n]));
		if (n == 1)
			ck_assert_int_eq(c.algorithm, SIP_AUTH_ALG_SHA256);
		if (n == 3)
			ck_assert_str_eq(unq(c.nonce), "m");
		n++;
	}
	ck_assert_int_eq(n, 4);
}
END_TEST

/* ---- credentials parsing ------------------------------------------------ */

static const struct cred_case {
	const char	*in;
	int		 error;
} cred_cases[] = {
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"0123\", charset=UTF-8", 0 },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"0123\", qop=\"auth\", nc=0000000A, cnonce=\"c\"", 0 },
	{ "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", "
	    "nonce=\"n\", uri=\"sip:x\", response=\"0123\"", 0 },
	{ "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 0 },
	/* missing fields */
	{ "Digest realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"1\"",
	    EBADMSG },
	{ "Digest username=\"u\", nonce=\"n\", uri=\"sip:x\", response=\"1\"",
	    EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", uri=\"sip:x\", response=\"1\"",
	    EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"1\"",
	    EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\"",
	    EBADMSG },
	/* qop needs cnonce and nc */
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth, nc=00000001", EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth, cnonce=\"c\"", EBADMSG },
	/* bad nc and qop */
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth, cnonce=\"c\", nc=1", EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth, cnonce=\"c\", nc=0000000g", EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth, cnonce=\"c\", nc=00000000", EBADMSG },
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", qop=auth-conf, cnonce=\"c\", nc=00000001",
	    EBADMSG },
	/* one set of credentials per value */
	{ "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"1\", Basic abc", EBADMSG },
	{ "Digest username=\"u\", username=\"v\", realm=\"r\", nonce=\"n\", "
	    "uri=\"sip:x\", response=\"1\"", EBADMSG },
};

START_TEST(test_credentials_table)
{
	struct sip_auth_credentials c;
	const char *why = NULL;
	int error = sip_auth_credentials_parse(&c,
	    slice_cstr(cred_cases[_i].in), &why);

	ck_assert_msg(error == cred_cases[_i].error, "case %d: %d (%s)", _i,
	    error, why != NULL ? why : "");
}
END_TEST

START_TEST(test_credentials_fields)
{
	/* RFC 2617 §3.5, as printed (folded) */
	const char *v = "Digest username=\"Mufasa\",\r\n"
	    "    realm=\"testrealm@host.com\",\r\n"
	    "    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
	    "    uri=\"/dir/index.html\",\r\n"
	    "    qop=auth,\r\n"
	    "    nc=00000001,\r\n"
	    "    cnonce=\"0a4f113b\",\r\n"
	    "    response=\"6629fae49393a05397450978507c4ef1\",\r\n"
	    "    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	struct sip_auth_credentials c;
	const char *why;

	ck_assert_int_eq(sip_auth_credentials_parse(&c, slice_cstr(v), &why),
	    0);
	ck_assert_int_eq(c.scheme, SIP_AUTH_SCHEME_DIGEST);
	ck_assert_str_eq(unq(c.username), "Mufasa");
	ck_assert_str_eq(unq(c.realm), "testrealm@host.com");
	ck_assert_str_eq(unq(c.nonce), "dcd98b7102dd2f0e8b11d0f600bfb0c093");
	ck_assert_str_eq(unq(c.uri), "/dir/index.html");
	ck_assert_int_eq(c.qop, SIP_AUTH_QOP_AUTH);
	ck_assert_uint_eq(c.nc, 1);
	ck_assert_str_eq(unq(c.cnonce), "0a4f113b");
	ck_assert_str_eq(unq(c.response), "6629fae49393a05397450978507c4ef1");
	ck_assert_str_eq(unq(c.opaque), "5ccc069c403ebaf9f0171e9517f40e41");
	ck_assert_int_eq(c.algorithm, SIP_AUTH_ALG_MD5);
	ck_assert(!slice_present(c.algorithm_name));

	v = "digest USERNAME=\"u\", Realm=\"r\", nonce=\"n\", uri=\"sip:x\", "
	    "response=\"0123\", qop=\"AUTH-INT\", nc=0000000A, cnonce=\"c\", "
	    "algorithm=SHA-256-sess, userhash=true";
	ck_assert_int_eq(sip_auth_credentials_parse(&c, slice_cstr(v), &why),
	    0);
	ck_assert_int_eq(c.qop, SIP_AUTH_QOP_AUTH_INT);
	ck_assert_uint_eq(c.nc, 10);
	ck_assert(slice_eq_cstr(c.nc_text, "0000000A"));
	ck_assert_int_eq(c.algorithm, SIP_AUTH_ALG_SHA256_SESS);
	ck_assert(c.userhash);
}
END_TEST

/* ---- published and independently computed vectors ---------------------- */

static const struct vec {
	const char		*name;
	const char		*challenge;
	const char		*user, *password, *method, *uri, *body;
	const char		*cnonce;
	uint32_t		 nc;
	enum sip_auth_qop	 qop;
	const char		*response;
} vecs[] = {
	/* RFC 2617 §3.5 */
	{ "rfc2617", RFC2617_CHAL, "Mufasa", "Circle Of Life", "GET",
	    "/dir/index.html", "", "0a4f113b", 1, SIP_AUTH_QOP_AUTH,
	    "6629fae49393a05397450978507c4ef1" },
	/* RFC 7616 §3.9.1 (password "Circle of Life", erratum 4495) */
	{ "rfc7616 MD5", RFC7616_CHAL("MD5", "auth, auth-int"), "Mufasa",
	    "Circle of Life", "GET", "/dir/index.html", "", RFC7616_CNONCE, 1,
	    SIP_AUTH_QOP_AUTH, "8ca523f5e9506fed4657c9700eebdbec" },
	{ "rfc7616 SHA-256", RFC7616_CHAL("SHA-256", "auth, auth-int"),
	    "Mufasa", "Circle of Life", "GET", "/dir/index.html", "",
	    RFC7616_CNONCE, 1, SIP_AUTH_QOP_AUTH,
	"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1" },
	/* The same inputs with the other algorithms: openssl dgst */
	{ "SHA-512-256", RFC7616_CHAL("SHA-512-256", "auth"), "Mufasa",
	    "Circle of Life", "GET", "/dir/index.html", "", RFC7616_CNONCE, 1,
	    SIP_AUTH_QOP_AUTH,
	"430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0" },
	{ "MD5-sess", RFC7616_CHAL("MD5-sess", "auth"), "Mufasa",
	    "Circle of Life", "GET", "/dir/index.html", "", RFC7616_CNONCE, 1,
	    SIP_AUTH_QOP_AUTH, "e783283f46242139c486a698fec7211d" },
	{ "SHA-256-sess", RFC7616_CHAL("SHA-256-sess", "auth"), "Mufasa",
	    "Circle of Life", "GET", "/dir/index.html", "", RFC7616_CNONCE, 1,
	    SIP_AUTH_QOP_AUTH,
	"2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7" },
	{ "SHA-512-256-sess", RFC7616_CHAL("SHA-512-256-sess", "auth"),
	    "Mufasa", "Circle of Life", "GET", "/dir/index.html", "",
	    RFC7616_CNONCE, 1, SIP_AUTH_QOP_AUTH,
	"3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e" },
	/* auth-int, the only qop offered, over an SDP-like body */
	{ "MD5 auth-int", RFC7616_CHAL("MD5", "auth-int"), "Mufasa",
	    "Circle of Life", "INVITE", "sip:bob@example.org", "v=0\r\n",
	    RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	    "3dbb0971468cf612bdccd7dff696c5e6" },
	{ "SHA-256 auth-int", RFC7616_CHAL("SHA-256", "auth-int"), "Mufasa",
	    "Circle of Life", "INVITE", "sip:bob@example.org", "v=0\r\n",
	    RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	"21468b02aafd4fe0a3d84bfddaf3618cc087adff4bb3c92d0a5f99c3035fcb9a" },
	{ "SHA-512-256 auth-int", RFC7616_CHAL("SHA-512-256", "auth-int"),
	    "Mufasa", "Circle of Life", "INVITE", "sip:bob@example.org",
	    "v=0\r\n", RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	"959ca26f4f77c10a9a54b19ac24811fbc7f3c7bda8eec5d8521fb4586ed10e90" },
	{ "MD5-sess auth-int", RFC7616_CHAL("MD5-sess", "auth-int"), "Mufasa",
	    "Circle of Life", "INVITE", "sip:bob@example.org", "v=0\r\n",
	    RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	    "11713a2ffc80446ab4c404a4a997b69c" },
	{ "SHA-256-sess auth-int", RFC7616_CHAL("SHA-256-sess", "auth-int"),
	    "Mufasa", "Circle of Life", "INVITE", "sip:bob@example.org",
	    "v=0\r\n", RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	"2c66c095845ec6e7e158c4f689683959329e5296947f1c4930d0ffa7b93c09fd" },
	{ "SHA-512-256-sess auth-int",
	    RFC7616_CHAL("SHA-512-256-sess", "auth-int"), "Mufasa",
	    "Circle of Life", "INVITE", "sip:bob@example.org", "v=0\r\n",
	    RFC7616_CNONCE, 2, SIP_AUTH_QOP_AUTH_INT,
	"39fcf9431af157aced94549f5fff6fea4d427a3e231c8a5557ccc7976e056b09" },
	/* RFC 2069 form: no qop in the challenge */
	{ "MD5 rfc2069", "Digest realm=\"http-auth@example.org\", nonce=\""
	    RFC7616_NONCE "\"", "Mufasa", "Circle of Life", "GET",
	    "/dir/index.html", "", "", 0, SIP_AUTH_QOP_NONE,
	    "7b2cc3b30e75b4777ea31027084363fd" },
	{ "SHA-256 rfc2069", "Digest realm=\"http-auth@example.org\", nonce=\""
	    RFC7616_NONCE "\", algorithm=SHA-256", "Mufasa", "Circle of Life",
	    "GET", "/dir/index.html", "", "", 0, SIP_AUTH_QOP_NONE,
	"a1306b0595a6c7fe96c448631fb5cfbd5107bd1fe1da729d978dd7446b812363" },
	{ "SHA-512-256 rfc2069", "Digest realm=\"http-auth@example.org\", "
	    "nonce=\"" RFC7616_NONCE "\", algorithm=SHA-512-256", "Mufasa",
	    "Circle of Life", "GET", "/dir/index.html", "", "", 0,
	    SIP_AUTH_QOP_NONE,
	"93e9122020ea0624d2ca801426d5bfbeb93d10ff4cc24cb410af3920fa4730e7" },
	/* Escapes undone before hashing: H(a"b\c:x"y:p), nonce q"n */
	{ "escapes", "Digest realm=\"x\\\"y\", nonce=\"q\\\"n\", qop=auth",
	    "a\"b\\c", "p", "MESSAGE", "sip:bob@x", "", "c", 1,
	    SIP_AUTH_QOP_AUTH, "904aa3a6653b9cf8065e6df2f315e2a5" },
	/* A folded realm hashes as "a b" */
	{ "folded realm", "Digest realm=\"a\r\n b\", nonce=n, qop=auth, "
	    "algorithm=SHA-256", "u", "p", "OPTIONS", "sip:x", "", "cc", 3,
	    SIP_AUTH_QOP_AUTH,
	"5f0242782ac5b8b78020f463d604fc256d6857bbce40b73c9fbd6465573cf065" },
};

static void
request_of(const struct vec *v, struct sip_auth_request *r)
{
	memset(r, 0, sizeof(*r));
	r->username = slice_cstr(v->user);
	r->password = slice_cstr(v->password);
	r->method = slice_cstr(v->method);
	r->uri = slice_cstr(v->uri);
	r->body = slice_cstr(v->body);
	r->cnonce = slice_cstr(v->cnonce);
	r->nc = v->nc;
}

START_TEST(test_vectors)
{
	const struct vec *v = &vecs[_i];
	struct sip_auth_challenge c;
	struct sip_auth_credentials cr;
	struct sip_auth_request r;
	struct sip_auth_answer a;
	const char *why;

	ck_assert_int_eq(chal(&c, v->challenge), 0);
	ck_assert_msg(sip_auth_challenge_usable(&c), "%s: usable", v->name);
	request_of(v, &r);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), 0);
	ck_assert_msg(strcmp(a.response, v->response) == 0, "%s: %s", v->name,
	    a.response);
	ck_assert_int_eq(a.qop, v->qop);
	/* What was written says the same. */
	ck_assert_int_eq(sip_auth_credentials_parse(&cr,
	    slice_make(sb.p, sb.n), &why), 0);
	ck_assert_str_eq(unq(cr.response), v->response);
	ck_assert_int_eq(cr.qop, v->qop);
	ck_assert_int_eq(cr.algorithm, c.algorithm);
}
END_TEST

/* RFC 7616 §3.9.2 with the values of erratum 4897: real SHA-512/256. */
START_TEST(test_rfc7616_userhash)
{
	static const char *want =
	    "Digest username=\"793263caabb707a56211940d90411ea4a575adeccb"
	    "7e360aeb624ed06ece9b0b\", realm=\"api@example.org\", "
	    "nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", "
	    "uri=\"/doe.json\", response=\"3798d4131c277846293534c3edc11bd8"
	    "a5e4cdcbff78b05db9d95eeb1cec68a5\", algorithm=SHA-512-256, "
	    "cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\", "
	    "opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\", "
	    "qop=auth, nc=00000001, userhash=true";
	struct sip_auth_challenge c;
	struct sip_auth_request r = { 0 };

	ck_assert_int_eq(chal(&c, "Digest\r\n"
	    "    realm=\"api@example.org\",\r\n"
	    "    qop=\"auth\",\r\n"
	    "    algorithm=SHA-512-256,\r\n"
	    "    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n"
	    "    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n"
	    "    charset=UTF-8,\r\n"
	    "    userhash=true"), 0);
	ck_assert(c.userhash);
	r.username = slice_cstr("J\xc3\xa4s\xc3\xb8n Doe");
	r.password = slice_cstr("Secret, or not?");
	r.method = slice_cstr("GET");
	r.uri = slice_cstr("/doe.json");
	r.cnonce = slice_cstr("NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v");
	r.nc = 1;
	r.userhash = true;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_str_eq(sb.p, want);

	/* Without the caller's consent the username goes in clear. */
	strbuf_reset(&sb);
	r.userhash = false;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sb.p,
	    "username=\"J\xc3\xa4s\xc3\xb8n Doe\""));
	ck_assert_ptr_nonnull(strstr(sb.p, "response=\"3798d4131c27784629"));
	ck_assert_ptr_null(strstr(sb.p, "userhash"));
}
END_TEST

/* ---- exact form of the credentials -------------------------------------- */

START_TEST(test_format_rfc2617)
{
	struct sip_auth_challenge c;
	struct sip_auth_request r;

	ck_assert_int_eq(chal(&c, RFC2617_CHAL), 0);
	request_of(&vecs[0], &r);
	strbuf_adds(&sb, "Authorization: ");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_str_eq(sb.p, "Authorization: Digest username=\"Mufasa\", "
	    "realm=\"testrealm@host.com\", "
	    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
	    "uri=\"/dir/index.html\", "
	    "response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, "
	    "cnonce=\"0a4f113b\", "
	    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, "
	    "nc=00000001");
}
END_TEST

START_TEST(test_format_rfc2069)
{
	struct sip_auth_challenge c;
	struct sip_auth_request r = { 0 };

	ck_assert_int_eq(chal(&c, "Digest realm=\"r\", nonce=\"n\""), 0);
	r.username = slice_cstr("u");
	r.password = slice_cstr("p");
	r.method = slice_cstr("REGISTER");
	r.uri = slice_cstr("sip:r");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_str_eq(sb.p, "Digest username=\"u\", realm=\"r\", "
	    "nonce=\"n\", uri=\"sip:r\", "
	    "response=\"5790559ba44538767b07fb5adb649909\", algorithm=MD5");
}
END_TEST

START_TEST(test_format_escapes)
{
	struct sip_auth_challenge c;
	struct sip_auth_request r;

	ck_assert_int_eq(chal(&c, vecs[16].challenge), 0);
	request_of(&vecs[16], &r);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_str_eq(sb.p, "Digest username=\"a\\\"b\\\\c\", "
	    "realm=\"x\\\"y\", nonce=\"q\\\"n\", uri=\"sip:bob@x\", "
	    "response=\"904aa3a6653b9cf8065e6df2f315e2a5\", algorithm=MD5, "
	    "cnonce=\"c\", qop=auth, nc=00000001");

	/* Escapes only where needed; a folded or unquoted value requoted. */
	strbuf_reset(&sb);
	ck_assert_int_eq(chal(&c, "Digest realm=\"\\a\r\n b\", nonce=n, "
	    "opaque=o"), 0);
	r.cnonce = SLICE_NULL;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sb.p, ", realm=\"a b\", nonce=\"n\", "));
	ck_assert_ptr_nonnull(strstr(sb.p, ", opaque=\"o\""));
	/* The canonical algorithm name, whatever the challenge's case. */
	strbuf_reset(&sb);
	ck_assert_int_eq(chal(&c, "Digest realm=r, nonce=n, qop=auth, "
	    "algorithm=sha-256-SESS"), 0);
	r.cnonce = slice_cstr("c");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sb.p, ", algorithm=SHA-256-sess, "));
}
END_TEST

/* ---- HA1, errors -------------------------------------------------------- */

START_TEST(test_ha1)
{
	static const struct {
		enum sip_auth_alg	 alg;
		const char		*hex;
	} t[] = {
		{ SIP_AUTH_ALG_MD5, "3d78807defe7de2157e2b0b6573a855f" },
		{ SIP_AUTH_ALG_SHA256, "7987c64c30e25f1b74be53f966b49b90"
		    "f2808aa92faf9a00262392d7b4794232" },
		{ SIP_AUTH_ALG_SHA512_256, "fb174f5c3c7802721517cae13b98e2b8"
		    "dae2e0118cb705d94ee29946319204ce" },
	};
	char hex[SIP_AUTH_HEX_MAX + 1];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(sip_auth_ha1(hex, t[i].alg,
		    slice_cstr("Mufasa"), slice_cstr("http-auth@example.org"),
		    slice_cstr("Circle of Life")), 0);
		ck_assert_str_eq(hex, t[i].hex);
	}
	ck_assert_int_eq(sip_auth_ha1(hex, SIP_AUTH_ALG_UNKNOWN,
	    slice_cstr("u"), slice_cstr("r"), slice_cstr("p")), ENOTSUP);
}
END_TEST

START_TEST(test_precomputed_ha1)
{
	struct sip_auth_challenge c;
	struct sip_auth_request r;
	struct sip_auth_answer a;
	char upper[] = "3D78807DEFE7DE2157E2B0B6573A855F";

	/* MD5 and MD5-sess both take H(user:realm:pass), upper case too. */
	ck_assert_int_eq(chal(&c, vecs[1].challenge), 0);
	request_of(&vecs[1], &r);
	r.password = SLICE_NULL;
	r.ha1 = slice_cstr(upper);
	r.ha1_alg = SIP_AUTH_ALG_MD5;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), 0);
	ck_assert_str_eq(a.response, vecs[1].response);
	ck_assert_int_eq(chal(&c, vecs[4].challenge), 0);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), 0);
	ck_assert_str_eq(a.response, vecs[4].response);

	/* An HA1 of another hash cannot answer. */
	ck_assert_int_eq(chal(&c, vecs[2].challenge), 0);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), ENOTSUP);
	r.ha1 = slice_cstr("7987c64c30e25f1b74be53f966b49b90"
	    "f2808aa92faf9a00262392d7b4794232");
	r.ha1_alg = SIP_AUTH_ALG_SHA256_SESS;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), 0);
	ck_assert_str_eq(a.response, vecs[2].response);
	/* Malformed HA1s. */
	r.ha1 = slice_cstr("7987c64c30e25f1b74be53f966b49b90");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), EINVAL);
	r.ha1 = slice_cstr("7987c64c30e25f1b74be53f966b49b90"
	    "f2808aa92faf9a00262392d7b479423z");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), EINVAL);
}
END_TEST

START_TEST(test_respond_errors)
{
	struct sip_auth_challenge c;
	struct sip_auth_request r;

	strbuf_adds(&sb, "kept");
	request_of(&vecs[1], &r);
	ck_assert_int_eq(chal(&c, "Basic realm=\"r\""), 0);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), ENOTSUP);
	ck_assert_int_eq(chal(&c,
	    "Digest realm=r, nonce=n, algorithm=AKAv1-MD5"), 0);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), ENOTSUP);
	ck_assert_int_eq(chal(&c, "Digest realm=r, nonce=n, qop=\"auth-conf\""),
	    0);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), ENOTSUP);
	ck_assert_int_eq(chal(&c, vecs[1].challenge), 0);
	r.nc = 0;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), EINVAL);
	r.nc = 1;
	r.cnonce = SLICE_NULL;
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), EINVAL);
	r.cnonce = slice_cstr("a\"b");		/* escaped, fine */
	r.username = slice_cstr("evil\r\nVia: x");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), EINVAL);
	r.username = slice_cstr("u");
	r.uri = slice_cstr("sip:x\n");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), EINVAL);
	r.uri = slice_cstr("sip:x");
	r.cnonce = slice_cstr("c\001");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), EINVAL);
	ck_assert_str_eq(sb.p, "kept");
	r.cnonce = slice_cstr("a\"b");
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sb.p, "cnonce=\"a\\\"b\""));
}
END_TEST

/* ---- cnonce and nonce count --------------------------------------------- */

START_TEST(test_cnonce)
{
	char a[2 * SIP_AUTH_CNONCE_BYTES + 1], b[sizeof(a)];

	ck_assert_int_eq(sip_auth_cnonce(a), 0);
	ck_assert_int_eq(sip_auth_cnonce(b), 0);
	ck_assert_uint_eq(strlen(a), 2 * SIP_AUTH_CNONCE_BYTES);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), strlen(a));
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_nc)
{
	struct sip_auth_nc nc = SIP_AUTH_NC_INIT;

	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("A")), 1);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("A")), 2);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("A")), 3);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("B")), 1);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("A")), 1);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("")), 1);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("")), 2);
	nc.nc = UINT32_MAX - 1;
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("")), UINT32_MAX);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("")), 0);
	sip_auth_nc_reset(&nc);
	ck_assert_ptr_null(nc.nonce);
	ck_assert_uint_eq(sip_auth_nc_next(&nc, slice_cstr("A")), 1);
	sip_auth_nc_reset(&nc);
}
END_TEST

/* A REGISTER answered twice on one nonce, then a stale challenge. */
START_TEST(test_nc_stale_flow)
{
	struct sip_auth_nc nc = SIP_AUTH_NC_INIT;
	struct sip_auth_challenge c;
	struct sip_auth_credentials cr;
	struct sip_auth_request r = { 0 };
	const char *why;

	r.username = slice_cstr("alice");
	r.password = slice_cstr("secret");
	r.method = slice_cstr("REGISTER");
	r.uri = slice_cstr("sip:example.com");
	r.cnonce = slice_cstr("0a4f113b");
	ck_assert_int_eq(chal(&c, "Digest realm=\"example.com\", "
	    "nonce=\"n1\", qop=\"auth\""), 0);
	for (uint32_t want = 1; want <= 2; want++) {
		strbuf_reset(&sb);
		r.nc = sip_auth_nc_next(&nc, c.nonce);
		ck_assert_uint_eq(r.nc, want);
		ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
		ck_assert_int_eq(sip_auth_credentials_parse(&cr,
		    slice_make(sb.p, sb.n), &why), 0);
		ck_assert_uint_eq(cr.nc, want);
	}
	ck_assert_ptr_nonnull(strstr(sb.p, ", nc=00000002"));
	ck_assert_int_eq(chal(&c, "Digest realm=\"example.com\", "
	    "nonce=\"n2\", qop=\"auth\", stale=true"), 0);
	ck_assert(c.stale);
	strbuf_reset(&sb);
	r.nc = sip_auth_nc_next(&nc, c.nonce);
	ck_assert_uint_eq(r.nc, 1);
	ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sb.p, "nonce=\"n2\""));
	ck_assert_ptr_nonnull(strstr(sb.p, ", nc=00000001"));
	sip_auth_nc_reset(&nc);
}
END_TEST

/* ---- round trip ------------------------------------------------------- */

START_TEST(test_round_trip)
{
	static const char *const algs[] = { "MD5", "MD5-sess", "SHA-256",
	    "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess" };
	static const char *const qops[] = { "auth", "auth-int",
	    "auth-int, auth", NULL };

	for (size_t i = 0; i < 6; i++) {
		for (size_t j = 0; j < 4; j++) {
			struct sip_auth_challenge c;
			struct sip_auth_credentials cr;
			struct sip_auth_request r = { 0 };
			struct sip_auth_answer a;
			char in[256];
			const char *why;

			if (qops[j] == NULL && strstr(algs[i], "-sess"))
				continue;
			snprintf(in, sizeof(in), "Digest realm=\"re\\\"alm\", "
			    "nonce=\"no,nce\", opaque=\"op\", userhash=true, "
			    "algorithm=%s%s%s%s", algs[i],
			    qops[j] ? ", qop=\"" : "", qops[j] ? qops[j] : "",
			    qops[j] ? "\"" : "");
			ck_assert_int_eq(chal(&c, in), 0);
			r.username = slice_cstr("us\\er");
			r.password = slice_cstr("pw");
			r.method = slice_cstr("MESSAGE");
			r.uri = slice_cstr("sip:bob@example.com;transport=tcp");
			r.body = slice_cstr("hello");
			r.cnonce = slice_cstr("c\"n");
			r.nc = 0x1234abcd;
			r.userhash = (j == 1);
			strbuf_reset(&sb);
			ck_assert_int_eq(sip_auth_respond(&sb, &c, &r, &a), 0);
			ck_assert_msg(sip_auth_credentials_parse(&cr,
			    slice_make(sb.p, sb.n), &why) == 0, "%s: %s",
			    sb.p, why);
			ck_assert_int_eq(cr.algorithm, c.algorithm);
			ck_assert_str_eq(unq(cr.realm), "re\"alm");
			ck_assert_str_eq(unq(cr.nonce), "no,nce");
			ck_assert_str_eq(unq(cr.opaque), "op");
			ck_assert_str_eq(unq(cr.uri),
			    "sip:bob@example.com;transport=tcp");
			ck_assert_str_eq(unq(cr.response), a.response);
			ck_assert_int_eq(cr.qop, a.qop);
			ck_assert_int_eq(cr.userhash, r.userhash);
			if (!r.userhash)
				ck_assert_str_eq(unq(cr.username), "us\\er");
			if (qops[j] == NULL) {
				ck_assert_int_eq(a.qop, SIP_AUTH_QOP_NONE);
				ck_assert(!slice_present(cr.cnonce));
				ck_assert(!slice_present(cr.nc_text));
			} else {
				ck_assert_int_eq(a.qop, j == 1 ?
				    SIP_AUTH_QOP_AUTH_INT : SIP_AUTH_QOP_AUTH);
				ck_assert_str_eq(unq(cr.cnonce), "c\"n");
				ck_assert_uint_eq(cr.nc, 0x1234abcd);
				ck_assert(slice_eq_cstr(cr.nc_text,
				    "1234abcd"));
			}
		}
	}
}
END_TEST

START_TEST(test_names)
{
	for (int i = 0; i < SIP_AUTH_ALG_UNKNOWN; i++)
		ck_assert_int_eq(sip_auth_alg_from_name(slice_cstr(
		    sip_auth_alg_name((enum sip_auth_alg)i))), i);
	ck_assert_int_eq(sip_auth_alg_from_name(slice_cstr("md5-SESS")),
	    SIP_AUTH_ALG_MD5_SESS);
	ck_assert_int_eq(sip_auth_alg_from_name(slice_cstr("SHA-512")),
	    SIP_AUTH_ALG_UNKNOWN);
	ck_assert_str_eq(sip_auth_alg_name(SIP_AUTH_ALG_UNKNOWN), "unknown");
	ck_assert_str_eq(sip_auth_qop_name(SIP_AUTH_QOP_AUTH_INT), "auth-int");
	ck_assert_str_eq(sip_auth_qop_name(SIP_AUTH_QOP_NONE), "");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_auth");
	TCase *tp = tcase_create("parse");
	TCase *tc = tcase_create("compute");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tp, test_challenge_table, 0,
	    (int)(sizeof(chal_cases) / sizeof(chal_cases[0])));
	tcase_add_test(tp, test_challenge_fields);
	tcase_add_test(tp, test_challenge_list);
	tcase_add_loop_test(tp, test_credentials_table, 0,
	    (int)(sizeof(cred_cases) / sizeof(cred_cases[0])));
	tcase_add_test(tp, test_credentials_fields);
	tcase_add_test(tp, test_names);
	suite_add_tcase(s, tp);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_vectors, 0,
	    (int)(sizeof(vecs) / sizeof(vecs[0])));
	tcase_add_test(tc, test_rfc7616_userhash);
	tcase_add_test(tc, test_format_rfc2617);
	tcase_add_test(tc, test_format_rfc2069);
	tcase_add_test(tc, test_format_escapes);
	tcase_add_test(tc, test_ha1);
	tcase_add_test(tc, test_precomputed_ha1);
	tcase_add_test(tc, test_respond_errors);
	tcase_add_test(tc, test_cnonce);
	tcase_add_test(tc, test_nc);
	tcase_add_test(tc, test_nc_stale_flow);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
