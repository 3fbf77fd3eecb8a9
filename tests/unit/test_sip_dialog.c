/*
 * Dialogs (RFC 3261 §12) from canned messages: UAC dialogs from a 1xx
 * and a 2xx, early to confirmed, forking, UAS dialogs, the CSeq order,
 * target refresh, in-dialog requests with loose and strict routing
 * (built, finished and parsed back), the errors, and the table up to
 * 100,000 dialogs.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/strbuf.h"
#include "sip/sip_build.h"
#include "sip/sip_dialog.h"
#include "sip/sip_msg.h"

#define ck_slice(s, want) \
	ck_assert_msg(slice_eq_cstr((s), (want)), "%s: '%.*s' != '%s'", #s, \
	    SLICE_ARG(s), (want))

/* Parses text written with "\n" line ends (sent with CRLF). */
static struct sip_msg *
msgf(const char *fmt, ...)
{
	struct strbuf text = STRBUF_INIT, crlf = STRBUF_INIT;
	struct sip_parse_error err = { 0 };
	struct sip_msg *m = NULL;
	va_list ap;
	char *buf;
	int rc;

	va_start(ap, fmt);
	strbuf_vaddf(&text, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < text.n; i++) {
		if (text.p[i] == '\n')
			strbuf_addc(&crlf, '\r');
		strbuf_addc(&crlf, text.p[i]);
	}
	buf = malloc(crlf.n);
	memcpy(buf, crlf.p, crlf.n);
	rc = sip_msg_parse(buf, crlf.n, 0, &m, &err);
	ck_assert_msg(rc == 0, "parse: %s\n%s", err.reason, text.p);
	strbuf_free(&text);
	strbuf_free(&crlf);
	return m;
}

#define VIA	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\n"
#define VIA_CRLF "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\r\n"
#define FROM_A	"From: \"Alice A.\" <sip:alice@example.com>;tag=a1;x=y\n"
#define TO_B	"To: Bob <sip:bob@example.com>"
#define CALLID	"Call-ID: c1@192.0.2.1\n"

/* Our INVITE (UAC) or theirs (UAS): extra holds Contact, Record-Route. */
static struct sip_msg *
invite(const char *ruri, const char *extra)
{
	return msgf("INVITE %s SIP/2.0\n" VIA "Max-Forwards: 70\n" FROM_A
	    TO_B "\n" CALLID "CSeq: 100 INVITE\n%sContent-Length: 0\n\n",
	    ruri, extra);
}

/* A response to that INVITE; to_tag NULL: none. */
static struct sip_msg *
response(unsigned status, const char *to_tag, const char *extra)
{
	return msgf("SIP/2.0 %u Whatever\n" VIA FROM_A TO_B "%s%s\n" CALLID
	    "CSeq: 100 INVITE\n%sContent-Length: 0\n\n", status,
	    to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
	    extra);
}

/* A request from the peer inside the dialog. */
static struct sip_msg *
peer_request(const char *method, unsigned cseq, const char *from_tag,
    const char *to_tag, const char *extra)
{
	return msgf("%s sip:bob@192.0.2.2 SIP/2.0\n"
	    "Via: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bKp%u\n"
	    "Max-Forwards: 70\n"
	    "From: <sip:alice@example.com>;tag=%s\n"
	    "To: <sip:bob@example.com>%s%s\n" CALLID
	    "CSeq: %u %s\n%sContent-Length: 0\n\n", method, cseq, from_tag,
	    to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
	    cseq, method, extra);
}

/* A response from the peer to a request of ours in the dialog. */
static struct sip_msg *
peer_response(unsigned status, const char *method, const char *extra)
{
	return msgf("SIP/2.0 %u Whatever\n" VIA FROM_A TO_B ";tag=b1\n"
	    CALLID "CSeq: 101 %s\n%sContent-Length: 0\n\n", status, method,
	    extra);
}

#define RR_UAC \
	"Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\n"
#define CT_B	"Contact: <sip:bob@192.0.2.2:5062>\n"

/*
 * Builds method in d, adds what the caller adds (Via, Max-Forwards),
 * finishes and parses it back.
 */
static struct sip_msg *
roundtrip(const struct sip_dialog *d, const char *method, uint32_t cseq)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct sip_parse_error err = { 0 };
	struct sip_msg *m = NULL;
	int rc;

	ck_assert_int_eq(sip_dialog_request(d, &b, method, cseq), 0);
	ck_assert_int_eq(sip_build_add(&b, SIP_HDR_VIA,
	    "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnew"), 0);
	ck_assert_int_eq(sip_build_add(&b, SIP_HDR_MAX_FORWARDS, "70"), 0);
	sip_build_finish(&b, &out);
	sip_build_free(&b);
	rc = sip_msg_parse(out.p, out.n, 0, &m, &err);
	ck_assert_msg(rc == 0, "parse back: %s", err.reason);
	/* The message owns the buffer now. */
	(void)strbuf_detach(&out);
	return m;
}

/* ---- UAC ----------------------------------------------------------------- */

START_TEST(test_uac_from_180)
{
	struct sip_msg *req = invite("sip:bob@example.com", "Contact: "
	    "<sip:alice@192.0.2.1>\n");
	struct sip_msg *r180 = response(180, "b1", RR_UAC CT_B);
	struct sip_dialog d = { 0 };
	char id[128];

	ck_assert_int_eq(sip_dialog_uac(&d, req, r180), 0);
	ck_assert_int_eq(d.state, SIP_DIALOG_EARLY);
	ck_assert_str_eq(sip_dialog_state_name(d.state), "early");
	ck_assert(d.uac);
	ck_assert(!d.secure);
	ck_assert_str_eq(d.call_id, "c1@192.0.2.1");
	ck_assert_str_eq(d.local_tag, "a1");
	ck_assert_str_eq(d.remote_tag, "b1");
	ck_assert_str_eq(d.local_uri,
	    "\"Alice A.\" <sip:alice@example.com>;x=y");
	ck_assert_str_eq(d.remote_uri, "\"Bob\" <sip:bob@example.com>");
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.2:5062");
	/* §12.1.2: the UAC reverses Record-Route. */
	ck_assert_uint_eq(d.nroute, 2);
	ck_assert_str_eq(d.route[0], "sip:p1.example.com;lr");
	ck_assert_str_eq(d.route[1], "sip:p2.example.com;lr");
	ck_assert_uint_eq(d.local_cseq, 100);
	ck_assert(!d.remote_cseq_set);
	ck_assert_str_eq(sip_dialog_next_hop(&d), "sip:p1.example.com;lr");
	sip_dialog_id_str(&d, id, sizeof(id));
	ck_assert_str_eq(id, "c1@192.0.2.1;local=a1;remote=b1");
	sip_dialog_id_str(&d, id, 10);
	ck_assert_str_eq(id, "c1@192.0.");
	sip_dialog_clear(&d);
	ck_assert_ptr_null(d.call_id);
	ck_assert_uint_eq(d.nroute, 0);
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r180);
}
END_TEST

START_TEST(test_uac_from_200)
{
	struct sip_msg *req = invite("sips:bob@example.com", "");
	struct sip_msg *r200 = response(200, "b9", CT_B);
	struct sip_dialog d = { 0 };
	int owner;

	d.owner = &owner;
	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	ck_assert_ptr_eq(d.owner, &owner);
	ck_assert_int_eq(d.state, SIP_DIALOG_CONFIRMED);
	ck_assert_str_eq(sip_dialog_state_name(d.state), "confirmed");
	ck_assert(d.secure);
	ck_assert_uint_eq(d.nroute, 0);
	ck_assert_str_eq(d.remote_tag, "b9");
	ck_assert_str_eq(sip_dialog_next_hop(&d), "sip:bob@192.0.2.2:5062");
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r200);
}
END_TEST

START_TEST(test_early_to_confirmed)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *r180 = response(180, "b1", RR_UAC CT_B);
	struct sip_msg *r200 = response(200, "b1",
	    "Record-Route: <sip:p3.example.com;lr>\n"
	    "Contact: \"Bob\" <sip:bob@192.0.2.3;transport=tcp>\n");
	struct sip_msg *again = response(200, "b1",
	    "Record-Route: <sip:p9.example.com;lr>\n"
	    "Contact: <sip:bob@192.0.2.9>\n");
	struct sip_msg *nocontact = response(200, "b1", RR_UAC);
	struct sip_dialog d = { 0 };

	ck_assert_int_eq(sip_dialog_uac(&d, req, r180), 0);
	/* A 2xx without Contact: refused, the early dialog as it was. */
	ck_assert_int_eq(sip_dialog_confirm(&d, nocontact), EINVAL);
	ck_assert_int_eq(d.state, SIP_DIALOG_EARLY);
	ck_assert_uint_eq(d.nroute, 2);
	ck_assert_int_eq(sip_dialog_confirm(&d, NULL), EINVAL);
	ck_assert_int_eq(sip_dialog_confirm(&d, r180), EINVAL);

	/* §13.2.2.4: the 2xx's Record-Route replaces the early set. */
	ck_assert_int_eq(sip_dialog_confirm(&d, r200), 0);
	ck_assert_int_eq(d.state, SIP_DIALOG_CONFIRMED);
	ck_assert_uint_eq(d.nroute, 1);
	ck_assert_str_eq(d.route[0], "sip:p3.example.com;lr");
	ck_assert_ptr_null(d.route[1]);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.3;transport=tcp");

	/* A retransmitted 2xx changes nothing once confirmed. */
	ck_assert_int_eq(sip_dialog_confirm(&d, again), 0);
	ck_assert_uint_eq(d.nroute, 1);
	ck_assert_str_eq(d.route[0], "sip:p3.example.com;lr");
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.3;transport=tcp");

	d.state = SIP_DIALOG_TERMINATED;
	ck_assert_str_eq(sip_dialog_state_name(d.state), "terminated");
	ck_assert_int_eq(sip_dialog_confirm(&d, r200), EINVAL);
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r180);
	sip_msg_free(r200);
	sip_msg_free(again);
	sip_msg_free(nocontact);
}
END_TEST

START_TEST(test_forking)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *r1 = response(180, "b1", RR_UAC CT_B);
	struct sip_msg *r2 = response(180, "b2",
	    "Record-Route: <sip:p4.example.com;lr>, <sip:p1.example.com;lr>\n"
	    "Contact: <sip:bob@192.0.2.4>\n");
	struct sip_msg *ok2 = response(200, "b2",
	    "Record-Route: <sip:p4.example.com;lr>, <sip:p1.example.com;lr>\n"
	    "Contact: <sip:bob@192.0.2.4>\n");
	struct sip_dialog_table *t = sip_dialog_table_new();
	struct sip_dialog d1 = { 0 }, d2 = { 0 };
	struct slice cid = SLICE_LIT("c1@192.0.2.1");

	ck_assert_int_eq(sip_dialog_uac(&d1, req, r1), 0);
	ck_assert_int_eq(sip_dialog_uac(&d2, req, r2), 0);
	ck_assert_str_eq(d1.remote_tag, "b1");
	ck_assert_str_eq(d2.remote_tag, "b2");
	ck_assert_str_eq(d2.route[0], "sip:p1.example.com;lr");
	ck_assert_str_eq(d2.route[1], "sip:p4.example.com;lr");
	ck_assert_int_eq(sip_dialog_table_add(t, &d1), 0);
	ck_assert_int_eq(sip_dialog_table_add(t, &d2), 0);
	ck_assert_uint_eq(sip_dialog_table_count(t), 2);
	/* A response finds its dialog: From tag local, To tag remote. */
	ck_assert_ptr_eq(sip_dialog_table_find(t, cid, SLICE_LIT("a1"),
	    r1->to.tag), &d1);
	ck_assert_ptr_eq(sip_dialog_table_find(t, cid, SLICE_LIT("a1"),
	    ok2->to.tag), &d2);
	ck_assert_ptr_null(sip_dialog_table_find(t, cid, SLICE_LIT("a1"),
	    SLICE_LIT("b3")));

	/* The 2xx names b2: it confirms d2 and is refused by d1. */
	ck_assert_int_eq(sip_dialog_confirm(&d1, ok2), EINVAL);
	ck_assert_int_eq(d1.state, SIP_DIALOG_EARLY);
	ck_assert_int_eq(sip_dialog_confirm(&d2, ok2), 0);
	ck_assert_int_eq(d2.state, SIP_DIALOG_CONFIRMED);

	sip_dialog_table_remove(t, &d1);
	ck_assert(!d1.in_table);
	ck_assert_uint_eq(sip_dialog_table_count(t), 1);
	sip_dialog_table_free(t);
	ck_assert(!d2.in_table);
	sip_dialog_clear(&d1);
	sip_dialog_clear(&d2);
	sip_msg_free(req);
	sip_msg_free(r1);
	sip_msg_free(r2);
	sip_msg_free(ok2);
}
END_TEST

/* ---- UAS ----------------------------------------------------------------- */

START_TEST(test_uas)
{
	struct sip_msg *req = invite("sip:bob@192.0.2.2",
	    "Record-Route: <sip:p1.example.com;lr>\n"
	    "Record-Route: <sip:p2.example.com;lr;ftag=a1>\n"
	    "Contact: Alice <sip:alice@192.0.2.1:5070;ob>;expires=60\n");
	struct sip_msg *sreq = invite("sips:bob@192.0.2.2",
	    "Contact: <sips:alice@192.0.2.1>\n");
	struct sip_dialog d = { 0 }, s = { 0 };
	struct sip_msg *info;

	ck_assert_int_eq(sip_dialog_uas(&d, req, "l1"), 0);
	ck_assert_int_eq(d.state, SIP_DIALOG_EARLY);
	ck_assert(!d.uac);
	ck_assert(!d.secure);
	ck_assert_str_eq(d.local_tag, "l1");
	ck_assert_str_eq(d.remote_tag, "a1");
	ck_assert_str_eq(d.local_uri, "\"Bob\" <sip:bob@example.com>");
	ck_assert_str_eq(d.remote_uri,
	    "\"Alice A.\" <sip:alice@example.com>;x=y");
	ck_assert_str_eq(d.remote_target, "sip:alice@192.0.2.1:5070;ob");
	/* §12.1.1: the UAS keeps Record-Route's order. */
	ck_assert_uint_eq(d.nroute, 2);
	ck_assert_str_eq(d.route[0], "sip:p1.example.com;lr");
	ck_assert_str_eq(d.route[1], "sip:p2.example.com;lr;ftag=a1");
	ck_assert(d.remote_cseq_set);
	ck_assert_uint_eq(d.remote_cseq, 100);
	ck_assert_uint_lt(d.local_cseq, 1u << 31);
	ck_assert_int_eq(sip_dialog_confirm(&d, NULL), 0);
	ck_assert_int_eq(d.state, SIP_DIALOG_CONFIRMED);

	/* Our request: From is our side (their To), To is theirs. */
	info = roundtrip(&d, "INFO", sip_dialog_next_cseq(&d));
	ck_slice(info->ruri_str, "sip:alice@192.0.2.1:5070;ob");
	ck_slice(info->from.tag, "l1");
	ck_slice(info->from.display, "Bob");
	ck_slice(info->from.uri_str, "sip:bob@example.com");
	ck_slice(info->to.tag, "a1");
	ck_slice(info->to.display, "Alice A.");
	ck_assert_uint_eq(info->to.params.n, 2);
	ck_slice(info->to.params.v[0].name, "x");
	ck_slice(info->to.params.v[0].value, "y");
	ck_assert_uint_eq(info->cseq.num, d.local_cseq);
	ck_assert_uint_eq(info->nroute, 2);
	ck_slice(info->route[1].uri_str, "sip:p2.example.com;lr;ftag=a1");
	sip_msg_free(info);

	ck_assert_int_eq(sip_dialog_uas(&s, sreq, "l2"), 0);
	ck_assert(s.secure);
	ck_assert_uint_eq(s.nroute, 0);
	ck_assert_str_eq(sip_dialog_next_hop(&s), "sips:alice@192.0.2.1");
	sip_dialog_clear(&d);
	sip_dialog_clear(&s);
	sip_msg_free(req);
	sip_msg_free(sreq);
}
END_TEST

/* The URIs keep display names and parameters but never the tag. */
START_TEST(test_uri_values)
{
	struct sip_msg *req = msgf("INVITE sip:bob@example.com SIP/2.0\n" VIA
	    "From: sip:alice@example.com;tag=a1;foo=\"a b\"\n"
	    "To: Bob Smith <sip:bob@example.com;user=phone>;p\n" CALLID
	    "CSeq: 1 INVITE\nContact: sip:alice@192.0.2.1\n"
	    "Content-Length: 0\n\n");
	struct sip_msg *req2 = msgf("INVITE sip:bob@example.com SIP/2.0\n" VIA
	    "From: \"A \\\"q\\\" B\" <sip:alice@example.com> ; tag = a1 ;"
	    " z=1\n"
	    "To: <sip:bob@example.com>\n" CALLID
	    "CSeq: 1 INVITE\nContact: <sip:alice@192.0.2.1>\n"
	    "Content-Length: 0\n\n");
	struct sip_dialog d = { 0 };
	struct sip_msg *bye;

	ck_assert_int_eq(sip_dialog_uas(&d, req, "l1"), 0);
	ck_assert_str_eq(d.remote_uri, "<sip:alice@example.com>;foo=\"a b\"");
	ck_assert_str_eq(d.local_uri,
	    "\"Bob Smith\" <sip:bob@example.com;user=phone>;p");
	ck_assert_str_eq(d.remote_target, "sip:alice@192.0.2.1");
	bye = roundtrip(&d, "BYE", 7);
	ck_slice(bye->to.uri_str, "sip:alice@example.com");
	ck_slice(bye->to.tag, "a1");
	ck_assert(sip_params_get(&bye->to.params, "foo", NULL));
	ck_slice(bye->from.display, "Bob Smith");
	ck_slice(bye->from.uri.user_param, "phone");
	ck_slice(bye->from.tag, "l1");
	sip_msg_free(bye);
	sip_dialog_clear(&d);

	ck_assert_int_eq(sip_dialog_uas(&d, req2, "l1"), 0);
	ck_assert_str_eq(d.remote_uri,
	    "\"A \\\"q\\\" B\" <sip:alice@example.com>;z=1");
	ck_assert_str_eq(d.local_uri, "<sip:bob@example.com>");
	ck_assert_str_eq(d.remote_tag, "a1");
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(req2);
}
END_TEST

/*
 * What a peer may put in a display name that must not reach our
 * headers as it came: folding (CRLF), and a NUL as a quoted-pair
 * (RFC 4475 intmeth), whose backslash would escape our closing quote.
 */
START_TEST(test_uri_hostile)
{
	static const char text[] = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"
	    VIA_CRLF
	    "From: \"A\\#B\\\\\" <sip:alice@example.com>;tag=a1\r\n"
	    "To: \"Bob\r\n Smith\" <sip:bob@example.com>\r\n"
	    "Call-ID: c1@192.0.2.1\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";
	struct sip_parse_error err = { 0 };
	struct sip_msg *req = NULL, *bye;
	struct sip_dialog d = { 0 };
	char *buf = malloc(sizeof(text) - 1);

	memcpy(buf, text, sizeof(text) - 1);
	*strchr(buf, '#') = '\0';
	ck_assert_int_eq(sip_msg_parse(buf, sizeof(text) - 1, 0, &req, &err),
	    0);
	ck_assert_int_eq(sip_dialog_uas(&d, req, "l1"), 0);
	ck_assert_str_eq(d.remote_uri, "\"AB\\\\\" <sip:alice@example.com>");
	ck_assert_str_eq(d.local_uri, "\"Bob Smith\" <sip:bob@example.com>");
	bye = roundtrip(&d, "BYE", 2);
	ck_slice(bye->to.display, "AB\\\\");
	ck_slice(bye->to.tag, "a1");
	ck_slice(bye->from.display, "Bob Smith");
	sip_msg_free(bye);
	sip_dialog_clear(&d);
	sip_msg_free(req);
}
END_TEST

/* ---- CSeq and target ----------------------------------------------------- */

static const struct {
	const char	*method;
	unsigned	 cseq;
	unsigned	 want;		/* the answer */
	uint32_t	 after;		/* remote_cseq after it */
} cseq_cases[] = {
	{ "BYE", 99, 500, 100 },	/* lower */
	{ "INFO", 100, 500, 100 },	/* equal, not ACK or CANCEL */
	{ "ACK", 100, 0, 100 },
	{ "CANCEL", 100, 0, 100 },
	{ "ACK", 7, 0, 100 },		/* never checked, never moves */
	{ "INFO", 101, 0, 101 },
	{ "INFO", 101, 500, 101 },
	{ "ACK", 500, 0, 101 },
	{ "BYE", 4000000000u, 0, 4000000000u },
	{ "BYE", 200, 500, 4000000000u },
};

START_TEST(test_cseq_order)
{
	struct sip_msg *req = invite("sip:bob@192.0.2.2", CT_B);
	struct sip_dialog d = { 0 };

	ck_assert_int_eq(sip_dialog_uas(&d, req, "l1"), 0);
	for (size_t i = 0; i < sizeof(cseq_cases) / sizeof(cseq_cases[0]);
	    i++) {
		struct sip_msg *m = peer_request(cseq_cases[i].method,
		    cseq_cases[i].cseq, "a1", "l1", "");

		ck_assert_msg(sip_dialog_check_cseq(&d, m) ==
		    cseq_cases[i].want, "case %zu", i);
		ck_assert_msg(d.remote_cseq == cseq_cases[i].after,
		    "case %zu: %u", i, d.remote_cseq);
		sip_msg_free(m);
	}
	sip_dialog_clear(&d);
	sip_msg_free(req);
}
END_TEST

/* A UAC's remote CSeq is empty until the first request sets it. */
START_TEST(test_cseq_first)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *r200 = response(200, "b1", CT_B);
	struct sip_msg *ack = peer_request("ACK", 3, "b1", "a1", "");
	struct sip_msg *first = peer_request("INFO", 5, "b1", "a1", "");
	struct sip_msg *lower = peer_request("BYE", 4, "b1", "a1", "");
	struct sip_dialog d = { 0 };

	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	ck_assert(!d.remote_cseq_set);
	ck_assert_uint_eq(sip_dialog_check_cseq(&d, ack), 0);
	ck_assert(!d.remote_cseq_set);
	ck_assert_uint_eq(sip_dialog_check_cseq(&d, first), 0);
	ck_assert(d.remote_cseq_set);
	ck_assert_uint_eq(d.remote_cseq, 5);
	ck_assert_uint_eq(sip_dialog_check_cseq(&d, lower), 500);
	ck_assert_uint_eq(d.remote_cseq, 5);
	/* Ours: one up from the INVITE's. */
	ck_assert_uint_eq(sip_dialog_next_cseq(&d), 101);
	ck_assert_uint_eq(sip_dialog_next_cseq(&d), 102);
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r200);
	sip_msg_free(ack);
	sip_msg_free(first);
	sip_msg_free(lower);
}
END_TEST

START_TEST(test_refresh_target)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *r200 = response(200, "b1", RR_UAC CT_B);
	struct sip_msg *reinv = peer_request("INVITE", 7, "b1", "a1",
	    "Contact: <sip:bob@192.0.2.7>\n");
	struct sip_msg *bye = peer_request("BYE", 8, "b1", "a1",
	    "Contact: <sip:bob@192.0.2.8>\n");
	struct sip_msg *bare = peer_request("INVITE", 9, "b1", "a1", "");
	struct sip_msg *star = peer_request("UPDATE", 10, "b1", "a1",
	    "Contact: *\n");
	struct sip_msg *http = peer_request("UPDATE", 11, "b1", "a1",
	    "Contact: <http://example.com/x>\n");
	struct sip_msg *upd200 = peer_response(200, "UPDATE",
	    "Contact: <sip:bob@192.0.2.10>\n");
	struct sip_msg *inv180 = peer_response(180, "INVITE",
	    "Contact: <sip:bob@192.0.2.11>\n");
	struct sip_msg *inv200 = peer_response(200, "INVITE",
	    "Contact: <sip:bob@192.0.2.12>\n");
	struct sip_msg *info200 = peer_response(200, "INFO",
	    "Contact: <sip:bob@192.0.2.13>\n");
	struct sip_dialog d = { 0 };

	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	ck_assert_int_eq(sip_dialog_refresh_target(&d, reinv), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.7");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, bye), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.7");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, bare), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.7");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, star), EINVAL);
	ck_assert_int_eq(sip_dialog_refresh_target(&d, http), EINVAL);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.7");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, upd200), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.10");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, inv180), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.10");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, info200), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.10");
	ck_assert_int_eq(sip_dialog_refresh_target(&d, inv200), 0);
	ck_assert_str_eq(d.remote_target, "sip:bob@192.0.2.12");
	/* The route set is the dialog's for good (§12.2.1.2). */
	ck_assert_uint_eq(d.nroute, 2);
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r200);
	sip_msg_free(reinv);
	sip_msg_free(bye);
	sip_msg_free(bare);
	sip_msg_free(star);
	sip_msg_free(http);
	sip_msg_free(upd200);
	sip_msg_free(inv180);
	sip_msg_free(inv200);
	sip_msg_free(info200);
}
END_TEST

/* ---- requests in the dialog ---------------------------------------------- */

START_TEST(test_request_loose)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *r200 = response(200, "b1", RR_UAC CT_B);
	struct sip_dialog d = { 0 };
	struct sip_msg *bye;

	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	bye = roundtrip(&d, "BYE", sip_dialog_next_cseq(&d));
	ck_assert(bye->request);
	ck_assert_int_eq(bye->method, SIP_METHOD_BYE);
	/* §12.2.1.1, loose: R-URI the remote target, Route the set. */
	ck_slice(bye->ruri_str, "sip:bob@192.0.2.2:5062");
	ck_assert_uint_eq(bye->nroute, 2);
	ck_slice(bye->route[0].uri_str, "sip:p1.example.com;lr");
	ck_assert(bye->route[0].angle);
	ck_slice(bye->route[1].uri_str, "sip:p2.example.com;lr");
	ck_assert_ptr_nonnull(sip_msg_hdr(bye, SIP_HDR_ROUTE, 1));
	ck_slice(bye->from.tag, "a1");
	ck_slice(bye->from.display, "Alice A.");
	ck_slice(bye->from.uri_str, "sip:alice@example.com");
	ck_assert(sip_params_get(&bye->from.params, "x", NULL));
	ck_slice(bye->to.tag, "b1");
	ck_slice(bye->to.display, "Bob");
	ck_slice(bye->call_id, "c1@192.0.2.1");
	ck_assert_uint_eq(bye->cseq.num, 101);
	ck_assert_int_eq(bye->cseq.method, SIP_METHOD_BYE);
	ck_assert_int_eq(bye->max_forwards, 70);
	ck_assert_uint_eq(bye->nvia, 1);
	sip_msg_free(bye);
	sip_dialog_clear(&d);
	sip_msg_free(req);
	sip_msg_free(r200);
}
END_TEST

START_TEST(test_request_strict)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	/* Reversed: the strict p1 comes first. */
	struct sip_msg *r200 = response(200, "b1",
	    "Record-Route: <sip:p2.example.com;lr>\n"
	    "Record-Route: <sip:p1.example.com;method=INVITE;transport=tcp>\n"
	    CT_B);
	struct sip_dialog d = { 0 };
	struct sip_msg *bye;

	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	ck_assert_str_eq(d.route[0],
	    "sip:p1.example.com;method=INVITE;transport=tcp");
	ck_assert_str_eq(sip_dialog_next_hop(&d), d.route[0]);
	bye = roundtrip(&d, "BYE", 101);
	/*
	 * §12.2.1.1, strict: R-URI the first route (less what a R-URI may
	 * not carry), Route the rest and the remote target last.
	 */
	ck_slice(bye->ruri_str, "sip:p1.example.com;transport=tcp");
	ck_assert_uint_eq(bye->nroute, 2);
	ck_slice(bye->route[0].uri_str, "sip:p2.example.com;lr");
	ck_slice(bye->route[1].uri_str, "sip:bob@192.0.2.2:5062");
	ck_slice(bye->to.tag, "b1");
	ck_assert_uint_eq(bye->cseq.num, 101);
	sip_msg_free(bye);
	sip_dialog_clear(&d);
	sip_msg_free(r200);

	/* One strict route alone: Route holds just the target. */
	r200 = response(200, "b1", "Record-Route: <sip:p1.example.com>\n"
	    "Contact: <sip:bob@192.0.2.2;ob?Subject=x>\n");
	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	bye = roundtrip(&d, "BYE", 102);
	ck_slice(bye->ruri_str, "sip:p1.example.com");
	ck_assert_uint_eq(bye->nroute, 1);
	ck_slice(bye->route[0].uri_str, "sip:bob@192.0.2.2;ob?Subject=x");
	sip_msg_free(bye);
	sip_dialog_clear(&d);
	sip_msg_free(r200);

	/* Loose: a target with headers loses them in the R-URI only. */
	r200 = response(200, "b1",
	    "Contact: <sip:bob@192.0.2.2;ob?Subject=x>\n");
	ck_assert_int_eq(sip_dialog_uac(&d, req, r200), 0);
	bye = roundtrip(&d, "BYE", 103);
	ck_slice(bye->ruri_str, "sip:bob@192.0.2.2;ob");
	ck_assert_uint_eq(bye->nroute, 0);
	sip_msg_free(bye);
	sip_dialog_clear(&d);
	sip_msg_free(r200);
	sip_msg_free(req);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

static char *
record_routes(unsigned n)
{
	struct strbuf sb = STRBUF_INIT;

	for (unsigned i = 0; i < n; i++)
		strbuf_addf(&sb, "Record-Route: <sip:p%u.example.com;lr>\n", i);
	strbuf_adds(&sb, CT_B);
	return strbuf_detach(&sb);
}

START_TEST(test_errors)
{
	struct sip_msg *req = invite("sip:bob@example.com", "");
	struct sip_msg *notag = response(180, NULL, CT_B);
	struct sip_msg *ok_nocontact = response(200, "b1", "");
	struct sip_msg *ok_star = response(200, "b1", "Contact: *\n");
	struct sip_msg *early_nocontact = response(180, "b1", "");
	struct sip_msg *trying = response(100, "b1", CT_B);
	struct sip_msg *busy = response(486, "b1", CT_B);
	struct sip_msg *uas_nocontact = invite("sip:bob@192.0.2.2", "");
	struct sip_msg *uas_notag = msgf("INVITE sip:bob@192.0.2.2 SIP/2.0\n"
	    VIA "From: <sip:alice@example.com>\n" TO_B "\n" CALLID
	    "CSeq: 1 INVITE\n" CT_B "Content-Length: 0\n\n");
	char *rr16 = record_routes(16), *rr17 = record_routes(17);
	struct sip_msg *ok16 = response(200, "b1", rr16);
	struct sip_msg *ok17 = response(200, "b1", rr17);
	struct sip_msg *inv16 = invite("sip:bob@192.0.2.2", rr16);
	struct sip_msg *inv17 = invite("sip:bob@192.0.2.2", rr17);
	struct sip_dialog d = { 0 };
	struct sip_build b = { 0 };

	ck_assert_int_eq(sip_dialog_uac(&d, req, notag), EINVAL);
	ck_assert_int_eq(sip_dialog_uac(&d, req, ok_nocontact), EINVAL);
	ck_assert_int_eq(sip_dialog_uac(&d, req, ok_star), EINVAL);
	ck_assert_int_eq(sip_dialog_uac(&d, req, trying), EINVAL);
	ck_assert_int_eq(sip_dialog_uac(&d, req, busy), EINVAL);
	ck_assert_int_eq(sip_dialog_uac(&d, req, req), EINVAL);
	ck_assert_int_eq(sip_dialog_uas(&d, uas_nocontact, "l1"), EINVAL);
	ck_assert_int_eq(sip_dialog_uas(&d, uas_notag, "l1"), EINVAL);
	ck_assert_int_eq(sip_dialog_uas(&d, notag, "l1"), EINVAL);
	ck_assert_ptr_null(d.call_id);

	ck_assert_int_eq(sip_dialog_uac(&d, req, ok17), EMSGSIZE);
	ck_assert_int_eq(sip_dialog_uas(&d, inv17, "l1"), EMSGSIZE);
	ck_assert_ptr_null(d.call_id);
	ck_assert_int_eq(sip_dialog_uac(&d, req, ok16), 0);
	ck_assert_uint_eq(d.nroute, 16);
	ck_assert_str_eq(d.route[0], "sip:p15.example.com;lr");
	sip_dialog_clear(&d);
	ck_assert_int_eq(sip_dialog_uas(&d, inv16, "l1"), 0);
	ck_assert_str_eq(d.route[15], "sip:p15.example.com;lr");
	sip_dialog_clear(&d);

	/* An early dialog without a target: no request, no next hop. */
	ck_assert_int_eq(sip_dialog_uac(&d, req, early_nocontact), 0);
	ck_assert_str_eq(d.remote_target, "");
	ck_assert_ptr_null(sip_dialog_next_hop(&d));
	ck_assert_int_eq(sip_dialog_request(&d, &b, "PRACK", 101), EINVAL);
	/* A too long 2xx leaves the early dialog whole. */
	ck_assert_int_eq(sip_dialog_confirm(&d, ok17), EMSGSIZE);
	ck_assert_int_eq(d.state, SIP_DIALOG_EARLY);
	ck_assert_int_eq(sip_dialog_confirm(&d, ok16), 0);
	ck_assert_uint_eq(d.nroute, 16);
	sip_dialog_clear(&d);
	sip_build_free(&b);

	free(rr16);
	free(rr17);
	sip_msg_free(req);
	sip_msg_free(notag);
	sip_msg_free(ok_nocontact);
	sip_msg_free(ok_star);
	sip_msg_free(early_nocontact);
	sip_msg_free(trying);
	sip_msg_free(busy);
	sip_msg_free(uas_nocontact);
	sip_msg_free(uas_notag);
	sip_msg_free(ok16);
	sip_msg_free(ok17);
	sip_msg_free(inv16);
	sip_msg_free(inv17);
}
END_TEST

/* ---- the table ----------------------------------------------------------- */

START_TEST(test_table)
{
	struct sip_msg *req = invite("sip:bob@192.0.2.2", CT_B);
	struct sip_msg *bye = peer_request("BYE", 101, "a1", "l1", "");
	struct sip_msg *swapped = peer_request("BYE", 101, "l1", "a1", "");
	struct sip_msg *fresh = peer_request("INVITE", 1, "a1", NULL, "");
	struct sip_dialog_table *t = sip_dialog_table_new();
	struct sip_dialog d = { 0 }, twin = { 0 }, none = { 0 };

	ck_assert_int_eq(sip_dialog_uas(&d, req, "l1"), 0);
	ck_assert_int_eq(sip_dialog_uas(&twin, req, "l1"), 0);
	ck_assert_int_eq(sip_dialog_table_add(t, &none), EINVAL);
	ck_assert_int_eq(sip_dialog_table_add(t, &d), 0);
	ck_assert(d.in_table);
	ck_assert_int_eq(sip_dialog_table_add(t, &d), EEXIST);
	ck_assert_int_eq(sip_dialog_table_add(t, &twin), EEXIST);
	ck_assert(!twin.in_table);
	ck_assert_uint_eq(sip_dialog_table_count(t), 1);

	/* §12.2.2: To tag = local, From tag = remote. */
	ck_assert_ptr_eq(sip_dialog_table_find_request(t, bye), &d);
	ck_assert_ptr_null(sip_dialog_table_find_request(t, swapped));
	ck_assert_ptr_null(sip_dialog_table_find_request(t, fresh));

	sip_dialog_table_remove(t, &twin);
	ck_assert_uint_eq(sip_dialog_table_count(t), 1);
	sip_dialog_table_remove(t, &d);
	ck_assert(!d.in_table);
	ck_assert_uint_eq(sip_dialog_table_count(t), 0);
	ck_assert_ptr_null(sip_dialog_table_find_request(t, bye));
	sip_dialog_table_remove(t, &d);
	ck_assert_int_eq(sip_dialog_table_add(t, &twin), 0);
	ck_assert_ptr_eq(sip_dialog_table_find_request(t, bye), &twin);
	sip_dialog_table_remove(t, &twin);

	/* A UAC dialog without a remote tag yet stays out. */
	free(twin.remote_tag);
	twin.remote_tag = strdup("");
	ck_assert_int_eq(sip_dialog_table_add(t, &twin), EINVAL);

	sip_dialog_table_free(t);
	sip_dialog_table_free(NULL);
	sip_dialog_clear(&d);
	sip_dialog_clear(&twin);
	sip_msg_free(req);
	sip_msg_free(bye);
	sip_msg_free(swapped);
	sip_msg_free(fresh);
}
END_TEST

#define MANY	100000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Looks d up by its ID, as a message would. */
static struct sip_dialog *
find(const struct sip_dialog_table *t, const struct sip_dialog *d)
{
	return sip_dialog_table_find(t, slice_cstr(d->call_id),
	    slice_cstr(d->local_tag), slice_cstr(d->remote_tag));
}

START_TEST(test_table_many)
{
	struct sip_dialog_table *t = sip_dialog_table_new();
	struct sip_dialog *v = calloc(MANY, sizeof(*v));
	char cid[64], lt[32], rt[32];
	double t0, spent;

	for (unsigned i = 0; i < MANY; i++) {
		/* Keys that share most of their bytes, as real ones do. */
		snprintf(cid, sizeof(cid), "%08u@192.0.2.1", i);
		snprintf(lt, sizeof(lt), "l%u", i % 7);
		snprintf(rt, sizeof(rt), "r%u", i % 3);
		v[i].call_id = strdup(cid);
		v[i].local_tag = strdup(lt);
		v[i].remote_tag = strdup(rt);
		ck_assert_int_eq(sip_dialog_table_add(t, &v[i]), 0);
	}
	ck_assert_uint_eq(sip_dialog_table_count(t), MANY);

	t0 = now_s();
	for (unsigned i = 0; i < MANY; i++) {
		const struct sip_dialog *d = &v[(i * 7919u) % MANY];

		ck_assert_ptr_eq(find(t, d), d);
	}
	spent = now_s() - t0;
	/*
	 * O(1): 100,000 lookups in well under a second even under ASan; a
	 * table that stopped growing (chains of ~1,500 at 64 buckets)
	 * would take tens of seconds.
	 */
	ck_assert_msg(spent < 2.0, "100,000 lookups took %.3f s", spent);
	/* 1 % 7, but 1 % 3 is 1: no such dialog. */
	ck_assert_ptr_null(sip_dialog_table_find(t,
	    SLICE_LIT("00000001@192.0.2.1"), SLICE_LIT("l1"), SLICE_LIT("r2")));
	ck_assert_ptr_null(sip_dialog_table_find(t, SLICE_LIT("nope"),
	    SLICE_LIT("l1"), SLICE_LIT("r1")));

	for (unsigned i = 0; i < MANY; i += 2)
		sip_dialog_table_remove(t, &v[i]);
	ck_assert_uint_eq(sip_dialog_table_count(t), MANY / 2);
	for (unsigned i = 0; i < MANY; i++) {
		const struct sip_dialog *d = &v[i];
		ck_assert_ptr_eq(find(t, d), i % 2 ? d : NULL);
	}
	/* Shrinking on the way down keeps every dialog findable. */
	for (unsigned i = 1; i < MANY - 1; i += 2)
		sip_dialog_table_remove(t, &v[i]);
	ck_assert_uint_eq(sip_dialog_table_count(t), 1);
	ck_assert_ptr_eq(find(t, &v[MANY - 1]), &v[MANY - 1]);
	sip_dialog_table_free(t);
	ck_assert(!v[MANY - 1].in_table);
	for (unsigned i = 0; i < MANY; i++)
		sip_dialog_clear(&v[i]);
	free(v);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_dialog");
	TCase *tc = tcase_create("dialog");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_uac_from_180);
	tcase_add_test(tc, test_uac_from_200);
	tcase_add_test(tc, test_early_to_confirmed);
	tcase_add_test(tc, test_forking);
	tcase_add_test(tc, test_uas);
	tcase_add_test(tc, test_uri_values);
	tcase_add_test(tc, test_uri_hostile);
	tcase_add_test(tc, test_cseq_order);
	tcase_add_test(tc, test_cseq_first);
	tcase_add_test(tc, test_refresh_target);
	tcase_add_test(tc, test_request_loose);
	tcase_add_test(tc, test_request_strict);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_table_many);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
