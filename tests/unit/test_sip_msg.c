/*
 * SIP message layer: header name lookup (long, compact, any case), every
 * typed header from a one-header-added request, the limits, stream
 * framing, and the builder (canonical order, exact Content-Length,
 * §8.2.6 response copy, no header injection).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_build.h"
#include "sip/sip_msg.h"

#define BASE_HEADERS \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" \
	"To: Bob <sip:bob@example.com>\r\n" \
	"From: Alice <sip:alice@example.com>;tag=1928301774\r\n" \
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n" \
	"CSeq: 314159 OPTIONS\r\n" \
	"Max-Forwards: 70\r\n"

static struct sip_msg *
parse_text(const char *text, int *rc, struct sip_parse_error *err)
{
	struct sip_msg *m = NULL;
	size_t n = strlen(text);
	char *buf = malloc(n);

	memcpy(buf, text, n);
	*rc = sip_msg_parse(buf, n, 0, &m, err);
	return m;
}

/* An OPTIONS request with one extra header line (or several). */
static struct sip_msg *
with_header(const char *extra, int *rc, struct sip_parse_error *err)
{
	struct strbuf text = STRBUF_INIT;
	struct sip_msg *m;

	strbuf_addf(&text, "OPTIONS sip:bob@example.com SIP/2.0\r\n"
	    BASE_HEADERS "%s\r\nContent-Length: 0\r\n\r\n", extra);
	m = parse_text(text.p, rc, err);
	strbuf_free(&text);
	return m;
}

#define ck_slice(s, want) \
	ck_assert_msg(slice_eq_cstr((s), (want)), "%s: '%.*s' != '%s'", #s, \
	    SLICE_ARG(s), (want))

/* ---- header names ---------------------------------------------------- */

static const struct {
	const char		*name;
	enum sip_hdr_id		 id;
} names[] = {
	{ "Via", SIP_HDR_VIA }, { "v", SIP_HDR_VIA }, { "V", SIP_HDR_VIA },
	{ "vIA", SIP_HDR_VIA }, { "From", SIP_HDR_FROM }, { "f", SIP_HDR_FROM },
	{ "To", SIP_HDR_TO }, { "t", SIP_HDR_TO }, { "Call-ID", SIP_HDR_CALL_ID },
	{ "call-id", SIP_HDR_CALL_ID }, { "i", SIP_HDR_CALL_ID },
	{ "CSeq", SIP_HDR_CSEQ }, { "Contact", SIP_HDR_CONTACT },
	{ "m", SIP_HDR_CONTACT }, { "Content-Type", SIP_HDR_CONTENT_TYPE },
	{ "c", SIP_HDR_CONTENT_TYPE }, { "Content-Length", SIP_HDR_CONTENT_LENGTH },
	{ "l", SIP_HDR_CONTENT_LENGTH }, { "e", SIP_HDR_CONTENT_ENCODING },
	{ "s", SIP_HDR_SUBJECT }, { "k", SIP_HDR_SUPPORTED },
	{ "o", SIP_HDR_EVENT }, { "r", SIP_HDR_REFER_TO },
	{ "b", SIP_HDR_REFERRED_BY }, { "u", SIP_HDR_ALLOW_EVENTS },
	{ "x", SIP_HDR_OTHER }, { "Max-Forwards", SIP_HDR_MAX_FORWARDS },
	{ "Record-Route", SIP_HDR_RECORD_ROUTE }, { "Route", SIP_HDR_ROUTE },
	{ "WWW-Authenticate", SIP_HDR_WWW_AUTHENTICATE },
	{ "Proxy-Authenticate", SIP_HDR_PROXY_AUTHENTICATE },
	{ "Authorization", SIP_HDR_AUTHORIZATION },
	{ "Proxy-Authorization", SIP_HDR_PROXY_AUTHORIZATION },
	{ "Subscription-State", SIP_HDR_SUBSCRIPTION_STATE },
	{ "Accept-Language", SIP_HDR_ACCEPT_LANGUAGE },
	{ "Accept-Encoding", SIP_HDR_ACCEPT_ENCODING },
	{ "Content-Language", SIP_HDR_CONTENT_LANGUAGE },
	{ "Content-Encoding", SIP_HDR_CONTENT_ENCODING },
	{ "Content-Disposition", SIP_HDR_CONTENT_DISPOSITION },
	{ "Retry-After", SIP_HDR_RETRY_AFTER }, { "Referred-By", SIP_HDR_REFERRED_BY },
	{ "Min-Expires", SIP_HDR_MIN_EXPIRES }, { "Unsupported", SIP_HDR_UNSUPPORTED },
	{ "Contactx", SIP_HDR_OTHER }, { "Vias", SIP_HDR_OTHER },
	{ "C%6Fntact", SIP_HDR_OTHER }, { "X-Custom", SIP_HDR_OTHER },
};

START_TEST(test_hdr_lookup)
{
	ck_assert_int_eq(sip_hdr_lookup(names[_i].name,
	    strlen(names[_i].name)), names[_i].id);
}
END_TEST

START_TEST(test_hdr_names_roundtrip)
{
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const char *n = sip_hdr_name((enum sip_hdr_id)id);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(sip_hdr_lookup(n, strlen(n)), id);
	}
}
END_TEST

/* ---- typed headers: good ---------------------------------------------- */

START_TEST(test_base_request)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = with_header("X-Nothing: 1", &rc, &err);

	ck_assert_int_eq(rc, 0);
	ck_assert(m->request);
	ck_assert_int_eq(m->method, SIP_METHOD_OPTIONS);
	ck_slice(m->ruri.user, "bob");
	ck_assert_uint_eq(m->nvia, 1);
	ck_slice(m->via[0].transport, "UDP");
	ck_slice(m->via[0].host, "192.0.2.1");
	ck_assert_uint_eq(m->via[0].port, 5060);
	ck_slice(m->via[0].branch, "z9hG4bK776asdhds");
	ck_slice(m->to.display, "Bob");
	ck_assert(m->to.angle);
	ck_assert_ptr_null(m->to.tag.p);
	ck_slice(m->from.tag, "1928301774");
	ck_slice(m->from.uri.host, "example.com");
	ck_slice(m->call_id, "a84b4c76e66710@pc33.example.com");
	ck_assert_uint_eq(m->cseq.num, 314159);
	ck_assert_int_eq(m->cseq.method, SIP_METHOD_OPTIONS);
	ck_assert_int_eq(m->max_forwards, 70);
	ck_assert_int_eq(m->content_length, 0);
	ck_assert_int_eq(m->expires, -1);
	ck_assert_uint_eq(m->nhdrs, 8);
	ck_slice(sip_msg_hdr_named(m, "x-nothing")->value, "1");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_via_variants)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = with_header(
	    "Via: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKa;rport=5071;"
	    "received=192.0.2.9;maddr=224.0.1.75;ttl=16, SIP/2.0/TLS "
	    "proxy.example.net;rport;branch=z9hG4bKb\r\n"
	    "v: SIP/2.0/WS x.example.org;branch=z9hG4bKc", &rc, &err);

	ck_assert_msg(rc == 0, "%s", err.reason);
	ck_assert_uint_eq(m->nvia, 4);
	ck_slice(m->via[1].host, "[2001:db8::1]");
	ck_assert_uint_eq(m->via[1].port, 5070);
	ck_assert(m->via[1].rport);
	ck_assert_int_eq(m->via[1].rport_value, 5071);
	ck_slice(m->via[1].received, "192.0.2.9");
	ck_slice(m->via[1].maddr, "224.0.1.75");
	ck_assert_int_eq(m->via[1].ttl, 16);
	ck_slice(m->via[2].transport, "TLS");
	ck_assert(m->via[2].rport);
	ck_assert_int_eq(m->via[2].rport_value, -1);
	ck_assert_uint_eq(m->via[2].port, 0);
	ck_slice(m->via[3].transport, "WS");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_contacts)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = with_header(
	    "Contact: \"Mr. Watson\" <sip:watson@worcester.example.com>;q=0.7;"
	    "expires=3600, \"Mr. W\" <mailto:watson@bell.example.com>;q=0.1\r\n"
	    "m: sip:w@192.0.2.4;expires=60;+sip.instance=\"<urn:uuid:1>\"",
	    &rc, &err);

	ck_assert_msg(rc == 0, "%s", err.reason);
	ck_assert_uint_eq(m->ncontact, 3);
	ck_slice(m->contact[0].addr.display, "Mr. Watson");
	ck_assert_int_eq(m->contact[0].q, 700);
	ck_assert_int_eq(m->contact[0].expires, 3600);
	ck_assert_int_eq(m->contact[1].addr.uri.scheme, SIP_URI_OTHER);
	ck_assert_int_eq(m->contact[1].q, 100);
	ck_assert_int_eq(m->contact[1].expires, -1);
	ck_assert(!m->contact[2].addr.angle);
	ck_assert_int_eq(m->contact[2].expires, 60);
	ck_assert(sip_params_get(&m->contact[2].addr.params, "+sip.instance",
	    NULL));
	sip_msg_free(m);

	m = with_header("Contact: *\r\nExpires: 0", &rc, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert(m->contact_star);
	ck_assert_uint_eq(m->ncontact, 0);
	ck_assert_int_eq(m->expires, 0);
	sip_msg_free(m);
}
END_TEST

START_TEST(test_routes_and_lists)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = with_header(
	    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
	    "Route: <sip:p3.example.com;lr>\r\n"
	    "Record-Route: <sip:rr.example.com;lr;transport=tcp>\r\n"
	    "Allow: INVITE, ACK,CANCEL , BYE\r\n"
	    "Allow: OPTIONS\r\n"
	    "Supported: replaces, timer, 100rel\r\n"
	    "Require: 100rel\r\nProxy-Require: foo\r\nUnsupported: bar\r\n"
	    "k: path\r\nAccept: application/sdp;level=1, text/plain\r\n"
	    "Allow-Events: presence, dialog\r\n"
	    "Content-Type: application/sdp;charset=\"utf-8\"\r\n"
	    "User-Agent: softphone/1.0 (linux)\r\nServer: x",
	    &rc, &err);

	ck_assert_msg(rc == 0, "%s", err.reason);
	ck_assert_uint_eq(m->nroute, 3);
	ck_slice(m->route[2].uri.host, "p3.example.com");
	ck_assert(m->route[0].uri.lr);
	ck_assert_uint_eq(m->nrecord_route, 1);
	ck_slice(m->record_route[0].uri.transport, "tcp");
	ck_assert_uint_eq(m->allow.n, 5);
	ck_slice(m->allow.v[2], "CANCEL");
	ck_slice(m->allow.v[4], "OPTIONS");
	ck_assert_uint_eq(m->supported.n, 4);
	ck_slice(m->supported.v[3], "path");
	ck_assert_uint_eq(m->require.n, 1);
	ck_assert_uint_eq(m->proxy_require.n, 1);
	ck_assert_uint_eq(m->unsupported.n, 1);
	ck_assert_uint_eq(m->accept.n, 2);
	ck_assert_uint_eq(m->allow_events.n, 2);
	ck_assert(m->has_content_type);
	ck_slice(m->content_type.type, "application");
	ck_slice(m->content_type.subtype, "sdp");
	{
		struct slice cs;

		ck_assert(sip_params_get(&m->content_type.params, "CHARSET",
		    &cs));
		ck_slice(cs, "utf-8");
	}
	ck_slice(m->user_agent, "softphone/1.0 (linux)");
	ck_slice(m->server, "x");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_auth_and_events)
{
	struct sip_parse_error err;
	struct slice v;
	int rc;
	struct sip_msg *m = with_header(
	    "WWW-Authenticate: Digest realm=\"atlanta.example.com\", "
	    "qop=\"auth,auth-int\",\r\n nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\""
	    ", opaque=\"\", stale=FALSE, algorithm=MD5\r\n"
	    "Proxy-Authenticate: Digest realm=\"p\", nonce=\"n\"\r\n"
	    "Authorization: Digest username=\"bob\", realm=\"r\", nonce=\"n\", "
	    "uri=\"sip:x\", response=\"0123\"\r\n"
	    "Proxy-Authorization: Digest username=\"a\\\"b\", realm=\"r\", "
	    "nonce=\"n\", uri=\"sip:x\", response=\"1\"\r\n"
	    "Retry-After: 18000 (in a meeting);duration=3600\r\n"
	    "Event: presence;id=9\r\n"
	    "Subscription-State: terminated;reason=timeout;retry-after=30\r\n"
	    "Min-Expires: 60\r\n"
	    "Refer-To: <sip:carol@example.com?Replaces=abc>",
	    &rc, &err);

	ck_assert_msg(rc == 0, "%s", err.reason);
	ck_assert_uint_eq(m->nwww_auth, 1);
	ck_assert_int_eq(m->www_auth[0].scheme, SIP_AUTH_SCHEME_DIGEST);
	ck_slice(m->www_auth[0].nonce, "ea9c8e88df84f1cec4341ae6cbe5a359");
	ck_slice(m->www_auth[0].realm, "atlanta.example.com");
	ck_assert_uint_eq(m->www_auth[0].qop_options,
	    SIP_AUTH_QOPF_AUTH | SIP_AUTH_QOPF_AUTH_INT);
	ck_assert_uint_eq(m->www_auth[0].opaque.n, 0);
	ck_assert(!m->www_auth[0].stale);
	ck_assert_int_eq(m->www_auth[0].algorithm, SIP_AUTH_ALG_MD5);
	ck_assert_uint_eq(m->nproxy_auth, 1);
	ck_slice(m->proxy_auth[0].realm, "p");
	ck_assert_uint_eq(m->nauthorization, 1);
	ck_slice(m->authorization[0].username, "bob");
	ck_slice(m->authorization[0].response, "0123");
	ck_assert_uint_eq(m->nproxy_authorization, 1);
	ck_slice(m->proxy_authorization[0].username, "a\\\"b");
	ck_assert(m->has_retry_after);
	ck_assert_uint_eq(m->retry_after.seconds, 18000);
	ck_slice(m->retry_after.comment, "in a meeting");
	ck_assert(sip_params_get(&m->retry_after.params, "duration", &v));
	ck_assert(m->has_event);
	ck_slice(m->event.package, "presence");
	ck_slice(m->event.id, "9");
	ck_assert(m->has_substate);
	ck_slice(m->substate.state, "terminated");
	ck_slice(m->substate.reason, "timeout");
	ck_assert_int_eq(m->substate.retry_after, 30);
	ck_assert_int_eq(m->substate.expires, -1);
	ck_assert_int_eq(m->min_expires, 60);
	ck_assert(m->has_refer_to);
	ck_slice(m->refer_to.uri.headers, "Replaces=abc");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_response)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = parse_text("SIP/2.0 180 Ringing\r\n" BASE_HEADERS
	    "Content-Length: 0\r\n\r\n", &rc, &err);

	ck_assert_int_eq(rc, 0);
	ck_assert(!m->request);
	ck_assert_uint_eq(m->status, 180);
	ck_slice(m->reason, "Ringing");
	sip_msg_free(m);
}
END_TEST

/* ---- typed headers: bad --------------------------------------------------- */

static const struct {
	const char	*extra;
	const char	*reason;
} bad[] = {
	{ "Via: SIP/2.0/UDP", "Via" },
	{ "Via: SIP/3.0/UDP h;branch=x", "Via" },
	{ "Via: SIP/2.0/UDP h:0;branch=x", "port" },
	{ "Via: SIP/2.0/UDP h:65536", "port" },
	{ "Via: SIP/2.0/UDP h;ttl=256", "ttl" },
	{ "Via: SIP/2.0/UDP h;rport=x", "rport" },
	{ "Via: SIP/2.0/UDP h;;branch=x", "parameter" },
	{ "Via: SIP/2.0/UDP h,", "Via" },
	{ "Via: SIP/2.0/UDP h junk", "trailing" },
	{ "Contact: <sip:a@b>;q=1.5", "q" },
	{ "Contact: <sip:a@b>;q=0.1234", "q" },
	{ "Contact: <sip:a@b>;expires=abc", "expires" },
	{ "Contact: *, <sip:a@b>", "Contact" },
	{ "Contact: <sip:a@b>\r\nContact: *", "Contact" },
	{ "Contact: <sip:a@b", "unterminated" },
	{ "Contact: sip:a@b?subject=x", "headers" },
	{ "Route: <sip:a@b>,", "empty URI" },
	{ "Max-Forwards: 256", "Max-Forwards" },
	{ "Expires: -1", "Expires" },
	{ "Expires: 4294967295x", "Expires" },
	{ "Content-Type: text", "Content-Type" },
	{ "Content-Type: text/plain;", "Content-Type" },
	{ "WWW-Authenticate: Digest realm", "parameter" },
	{ "WWW-Authenticate: Digest realm=\"x", "quoted" },
	{ "Retry-After: soon", "Retry-After" },
	{ "Retry-After: 10 (unclosed", "Retry-After" },
	{ "Event: ;id=1", "Event" },
	{ "Subscription-State: active;expires=x", "expires" },
	{ "Refer-To: <sip:a@b> <sip:c@d>", "trailing" },
	{ "To: <sip:x@y>", "more than one To" },
	{ "Call-ID: abc def", "Call-ID" },
	{ "Bad Header: x", "header line" },
	{ ": novalue", "header line" },
	{ "X-A: 1\rContact: <sip:evil@e>", "bare CR" },
	{ "Refer-To: <sip:a@b>;tag", "tag without a value" },
};

/* A delta-seconds above 2^32 - 1 is that much, not a broken message. */
START_TEST(test_delta_seconds_saturate)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	int rc;

	m = with_header("Expires: 99999999999999999999999\r\n"
	    "Min-Expires: 4294967296\r\nRetry-After: 4294967296 (later)\r\n"
	    "Contact: <sip:a@b>;expires=18446744073709551616", &rc, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(m->expires, (int64_t)UINT32_MAX);
	ck_assert_int_eq(m->min_expires, (int64_t)UINT32_MAX);
	ck_assert_uint_eq(m->retry_after.seconds, UINT32_MAX);
	ck_assert_int_eq(m->contact[0].expires, (int64_t)UINT32_MAX);
	sip_msg_free(m);
}
END_TEST

START_TEST(test_bad_headers)
{
	struct sip_parse_error err;
	int rc;
	struct sip_msg *m = with_header(bad[_i].extra, &rc, &err);

	ck_assert_msg(rc == EBADMSG, "case %d (%s) accepted", _i,
	    bad[_i].extra);
	ck_assert_ptr_null(m);
	ck_assert(err.request);
	ck_assert_uint_eq(err.status, 400);
	ck_assert_msg(strstr(err.reason, bad[_i].reason) != NULL,
	    "case %d: reason '%s' lacks '%s'", _i, err.reason, bad[_i].reason);
}
END_TEST

START_TEST(test_start_lines)
{
	static const struct {
		const char	*line;
		int		 rc;
		unsigned	 status;
	} t[] = {
		{ "OPTIONS sip:b@example.com SIP/2.0", 0, 0 },
		{ "OPTIONS sip:b@example.com sip/2.0", 0, 0 },
		{ "OPTIONS sip:b@example.com SIP/2.1", EBADMSG, 505 },
		{ "OPTIONS sip:b@example.com HTTP/1.1", EBADMSG, 400 },
		{ "OPTIONS  sip:b@example.com SIP/2.0", EBADMSG, 400 },
		{ "OPTIONS sip:b@example.com SIP/2.0 ", EBADMSG, 400 },
		{ "OPTIONS <sip:b@example.com> SIP/2.0", EBADMSG, 400 },
		{ "OPT(ONS sip:b@example.com SIP/2.0", EBADMSG, 400 },
	};
	char text[2048];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_parse_error err;
		struct sip_msg *m;
		int rc;

		snprintf(text, sizeof(text), "%s\r\n" BASE_HEADERS
		    "Content-Length: 0\r\n\r\n", t[i].line);
		/* CSeq must match the method: keep OPTIONS everywhere */
		m = parse_text(text, &rc, &err);
		ck_assert_msg(rc == t[i].rc, "'%s': rc %d (%s)", t[i].line, rc,
		    err.reason ? err.reason : "");
		if (rc != 0)
			ck_assert_uint_eq(err.status, t[i].status);
		sip_msg_free(m);
	}
}
END_TEST

START_TEST(test_bad_status_lines)
{
	static const char *const t[] = {
		"SIP/2.0 99 Too Small", "SIP/2.0 700 Too Big",
		"SIP/2.0 2000 OK", "SIP/2.0 20a OK", "SIP/2.0", "SIP/2.0 200OK",
	};
	char text[2048];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_parse_error err;
		struct sip_msg *m;
		int rc;

		snprintf(text, sizeof(text), "%s\r\n" BASE_HEADERS
		    "Content-Length: 0\r\n\r\n", t[i]);
		m = parse_text(text, &rc, &err);
		ck_assert_msg(rc == EBADMSG, "'%s' accepted", t[i]);
		ck_assert(!err.request);
		ck_assert_uint_eq(err.status, 0);
		sip_msg_free(m);
	}
}
END_TEST

/* ---- limits --------------------------------------------------------------- */

START_TEST(test_limits)
{
	struct strbuf sb = STRBUF_INIT;
	struct sip_parse_error err;
	struct sip_msg *m;
	int rc;

	/* SIP_MSG_HDRS_MAX header fields are fine, one more is not. */
	for (int extra = 0; extra < 2; extra++) {
		strbuf_reset(&sb);
		for (int i = 0; i < SIP_MSG_HDRS_MAX - 7 + extra; i++)
			strbuf_addf(&sb, "%sX-H%d: v", i ? "\r\n" : "", i);
		m = with_header(sb.p, &rc, &err);
		if (extra == 0) {
			ck_assert_msg(rc == 0, "%s", err.reason);
			ck_assert_uint_eq(m->nhdrs, SIP_MSG_HDRS_MAX);
			sip_msg_free(m);
		} else {
			ck_assert_int_eq(rc, EMSGSIZE);
			ck_assert_ptr_nonnull(strstr(err.reason,
			    "too many header"));
		}
	}
	/* Over SIP_MSG_SIZE_MAX bytes. */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "X-Big: ");
	for (int i = 0; i < SIP_MSG_SIZE_MAX; i++)
		strbuf_addc(&sb, 'a');
	m = with_header(sb.p, &rc, &err);
	ck_assert_int_eq(rc, EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(err.reason, "too large"));
	/* A header field of SIP_MSG_LINE_MAX bytes is fine, one more is not. */
	for (int extra = 0; extra < 2; extra++) {
		strbuf_reset(&sb);
		strbuf_adds(&sb, "X-Long: ");
		while (sb.n < SIP_MSG_LINE_MAX + (size_t)extra)
			strbuf_addc(&sb, 'v');
		m = with_header(sb.p, &rc, &err);
		if (extra == 0) {
			ck_assert_msg(rc == 0, "%s", err.reason);
			sip_msg_free(m);
		} else {
			ck_assert_int_eq(rc, EMSGSIZE);
			ck_assert_ptr_nonnull(strstr(err.reason, "too long"));
		}
	}
	/* 65 Via entries in one header. */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "Via: ");
	for (int i = 0; i < SIP_MSG_LIST_MAX; i++)
		strbuf_addf(&sb, "SIP/2.0/UDP h%d, ", i);
	strbuf_adds(&sb, "SIP/2.0/UDP last");
	m = with_header(sb.p, &rc, &err);
	ck_assert_int_eq(rc, EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.reason, "too many Via"));
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_body_and_length)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	char text[1024];
	int rc;

	snprintf(text, sizeof(text), "MESSAGE sip:b@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@example.com>\r\n"
	    "From: <sip:a@example.com>;tag=1\r\nCall-ID: x\r\n"
	    "CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
	    "l: 5\r\n\r\nhello world");
	m = parse_text(text, &rc, &err);
	ck_assert_int_eq(rc, 0);
	ck_slice(m->body, "hello");
	ck_assert_uint_eq(m->len, strlen(text) - strlen(" world"));
	sip_msg_free(m);

	/* The same without Content-Length is fine on UDP, not on a stream. */
	snprintf(text, sizeof(text), "MESSAGE sip:b@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@example.com>\r\n"
	    "From: <sip:a@example.com>;tag=1\r\nCall-ID: x\r\n"
	    "CSeq: 1 MESSAGE\r\n\r\nhello");
	m = parse_text(text, &rc, &err);
	ck_assert_int_eq(rc, 0);
	ck_slice(m->body, "hello");
	sip_msg_free(m);
	{
		char *copy = strdup(text);

		rc = sip_msg_parse(copy, strlen(copy), SIP_PARSE_STREAM, &m,
		    &err);
		ck_assert_int_eq(rc, EBADMSG);
		ck_assert_ptr_nonnull(strstr(err.reason, "Content-Length"));
	}
}
END_TEST

/* ---- framing -------------------------------------------------------------- */

START_TEST(test_frame)
{
	const char msg[] = "OPTIONS sip:b@example.com SIP/2.0\r\n" BASE_HEADERS
	    "Content-Length: 4\r\n\r\nbody";
	char buf[2048];
	size_t len, n = sizeof(msg) - 1;
	const char *why;

	ck_assert_int_eq(sip_msg_frame(msg, n, &len, &why), SIP_FRAME_MESSAGE);
	ck_assert_uint_eq(len, n);
	/* every prefix needs more */
	for (size_t cut = 1; cut < n; cut += 7)
		ck_assert_int_eq(sip_msg_frame(msg, cut, &len, &why),
		    SIP_FRAME_NEED_MORE);
	/* two messages back to back: the first one only */
	memcpy(buf, msg, n);
	memcpy(buf + n, msg, n);
	ck_assert_int_eq(sip_msg_frame(buf, 2 * n, &len, &why),
	    SIP_FRAME_MESSAGE);
	ck_assert_uint_eq(len, n);
	/* RFC 5626 keepalives */
	ck_assert_int_eq(sip_msg_frame("\r\n\r\n", 4, &len, &why),
	    SIP_FRAME_KEEPALIVE);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(sip_msg_frame("\r\nOPT", 5, &len, &why),
	    SIP_FRAME_KEEPALIVE);
	ck_assert_uint_eq(len, 2);
	/* no Content-Length on a stream: close */
	ck_assert_int_eq(sip_msg_frame("OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n",
	    33, &len, &why), SIP_FRAME_ERROR);
	ck_assert_ptr_nonnull(strstr(why, "Content-Length"));
	/* compact, folded and negative lengths */
	ck_assert_int_eq(sip_msg_frame("OPTIONS sip:x SIP/2.0\r\nl:\r\n 2\r\n\r\nab",
	    35, &len, &why), SIP_FRAME_MESSAGE);
	ck_assert_uint_eq(len, 35);
	ck_assert_int_eq(sip_msg_frame("OPTIONS sip:x SIP/2.0\r\nl: -2\r\n\r\n",
	    32, &len, &why), SIP_FRAME_ERROR);
	ck_assert_int_eq(sip_msg_frame("A\r\nl: 99999999\r\n\r\n", 19, &len,
	    &why), SIP_FRAME_ERROR);
	ck_assert_int_eq(sip_msg_frame("A\r\nl: 1\r\nContent-Length: 2\r\n\r\n",
	    31, &len, &why), SIP_FRAME_ERROR);
}
END_TEST

START_TEST(test_frame_oversize_headers)
{
	size_t n = SIP_MSG_SIZE_MAX + 10, len;
	char *big = malloc(n);
	const char *why;

	memset(big, 'a', n);
	ck_assert_int_eq(sip_msg_frame(big, n, &len, &why), SIP_FRAME_ERROR);
	free(big);
}
END_TEST

/* ---- builder -------------------------------------------------------------- */

START_TEST(test_build_order)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_parse_error err;
	struct sip_msg *m;

	sip_build_request(&b, "MESSAGE", "sip:bob@example.com");
	sip_build_add(&b, SIP_HDR_CONTENT_LENGTH, "999");	/* ignored */
	sip_build_add_named(&b, "X-Extra", "1");
	sip_build_add(&b, SIP_HDR_CSEQ, "2 MESSAGE");
	sip_build_body(&b, "text/plain", "hi!", 3);
	sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70");
	sip_build_add(&b, SIP_HDR_CALL_ID, "c1");
	sip_build_add(&b, SIP_HDR_TO, "<sip:bob@example.com>");
	sip_build_add(&b, SIP_HDR_FROM, "<sip:a@example.com>;tag=7");
	sip_build_add(&b, SIP_HDR_VIA, "SIP/2.0/UDP h;branch=z9hG4bK1");
	sip_build_add(&b, SIP_HDR_VIA, "SIP/2.0/UDP g;branch=z9hG4bK2");
	sip_build_add_named(&b, "route", "<sip:p;lr>");
	sip_build_add(&b, SIP_HDR_CONTACT, "<sip:a@h>");
	sip_build_finish(&b, &out);
	ck_assert_str_eq(out.p,
	    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
	    "Via: SIP/2.0/UDP g;branch=z9hG4bK2\r\n"
	    "From: <sip:a@example.com>;tag=7\r\n"
	    "To: <sip:bob@example.com>\r\n"
	    "Call-ID: c1\r\n"
	    "CSeq: 2 MESSAGE\r\n"
	    "Contact: <sip:a@h>\r\n"
	    "Max-Forwards: 70\r\n"
	    "Route: <sip:p;lr>\r\n"
	    "X-Extra: 1\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 3\r\n"
	    "\r\n"
	    "hi!");
	ck_assert_int_eq(sip_msg_parse(out.p, out.n, SIP_PARSE_BORROW |
	    SIP_PARSE_STREAM, &m, &err), 0);
	ck_slice(m->body, "hi!");
	sip_msg_free(m);
	strbuf_free(&out);
	sip_build_free(&b);
}
END_TEST

START_TEST(test_build_injection)
{
	struct sip_build b = { 0 };

	sip_build_request(&b, "OPTIONS", "sip:x");
	ck_assert_int_eq(sip_build_add(&b, SIP_HDR_SUBJECT,
	    "hi\r\nVia: evil"), EINVAL);
	ck_assert_int_eq(sip_build_add_named(&b, "X-A\r\nB", "v"), EINVAL);
	ck_assert_int_eq(sip_build_add_named(&b, "X A", "v"), EINVAL);
	ck_assert_int_eq(sip_build_add_named(&b, "", "v"), EINVAL);
	ck_assert_int_eq(sip_build_add(&b, SIP_HDR_OTHER, "v"), EINVAL);
	ck_assert_uint_eq(b.nhdrs, 0);
	sip_build_free(&b);
}
END_TEST

START_TEST(test_build_response_to)
{
	const char req[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP p1;branch=z9hG4bKa\r\n"
	    "Via: SIP/2.0/UDP p2;branch=z9hG4bKb, SIP/2.0/UDP p3;branch=z9hG4bKc\r\n"
	    "To: Bob <sip:bob@example.com>\r\n"
	    "From: <sip:a@example.com>;tag=1\r\nCall-ID: c9\r\nCSeq: 5 INVITE\r\n"
	    "Timestamp: 54\r\nMax-Forwards: 10\r\nContent-Length: 0\r\n\r\n";
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_parse_error err;
	struct sip_msg *m, *r;

	ck_assert_int_eq(sip_msg_parse(req, sizeof(req) - 1, SIP_PARSE_BORROW,
	    &m, &err), 0);
	sip_build_response_to(&b, m, 180, "Ringing", "xyz");
	sip_build_finish(&b, &out);
	ck_assert_str_eq(out.p, "SIP/2.0 180 Ringing\r\n"
	    "Via: SIP/2.0/UDP p1;branch=z9hG4bKa\r\n"
	    "Via: SIP/2.0/UDP p2;branch=z9hG4bKb, SIP/2.0/UDP p3;branch=z9hG4bKc\r\n"
	    "From: <sip:a@example.com>;tag=1\r\n"
	    "To: Bob <sip:bob@example.com>;tag=xyz\r\n"
	    "Call-ID: c9\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(sip_msg_parse(out.p, out.n, SIP_PARSE_BORROW, &r,
	    &err), 0);
	ck_assert_uint_eq(r->nvia, 3);
	ck_slice(r->to.tag, "xyz");
	sip_msg_free(r);

	/* 100 Trying: no To tag, Timestamp copied (§8.2.6.1) */
	strbuf_reset(&out);
	sip_build_response_to(&b, m, 100, "Trying", "xyz");
	sip_build_finish(&b, &out);
	ck_assert_ptr_null(strstr(out.p, "tag=xyz"));
	ck_assert_ptr_nonnull(strstr(out.p, "Timestamp: 54\r\n"));
	sip_msg_free(m);
	strbuf_free(&out);
	sip_build_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_msg");
	TCase *tc = tcase_create("msg");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_hdr_lookup, 0,
	    sizeof(names) / sizeof(names[0]));
	tcase_add_test(tc, test_hdr_names_roundtrip);
	tcase_add_test(tc, test_base_request);
	tcase_add_test(tc, test_via_variants);
	tcase_add_test(tc, test_contacts);
	tcase_add_test(tc, test_routes_and_lists);
	tcase_add_test(tc, test_auth_and_events);
	tcase_add_test(tc, test_response);
	tcase_add_test(tc, test_delta_seconds_saturate);
	tcase_add_loop_test(tc, test_bad_headers, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_start_lines);
	tcase_add_test(tc, test_bad_status_lines);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_body_and_length);
	tcase_add_test(tc, test_frame);
	tcase_add_test(tc, test_frame_oversize_headers);
	tcase_add_test(tc, test_build_order);
	tcase_add_test(tc, test_build_injection);
	tcase_add_test(tc, test_build_response_to);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
