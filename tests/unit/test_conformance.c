/*
 * RFC 4475 torture messages: every file in tests/conformance/rfc4475 is
 * parsed and its outcome asserted against INDEX.tsv (valid and
 * valid-but-semantically-odd: accepted; invalid: rejected, requests with
 * the status the RFC asks for).  Accepted messages are then checked
 * field by field where the RFC says what a parser must get right.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_msg.h"

static const char *dir;

static char *
slurp(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	buf = malloc(70000);
	*len = fread(buf, 1, 70000, f);
	fclose(f);
	return buf;
}

static struct sip_msg *
parse_ok(const char *name)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	size_t len;
	char *buf = slurp(name, &len);
	int rc = sip_msg_parse(buf, len, 0, &m, &err);

	ck_assert_msg(rc == 0, "%s: rejected: %s", name, err.reason);
	return m;
}

static bool
eq(struct slice s, const char *want)
{
	return slice_eq_cstr(s, want);
}

#define ck_slice(s, want) \
	ck_assert_msg(eq((s), (want)), "%s: '%.*s' != '%s'", #s, \
	    SLICE_ARG(s), (want))

/* ---- the whole index ---------------------------------------------------- */

struct expect {
	char	file[64];
	char	cls[40];
};

static struct expect cases[64];
static int ncases;

static void
load_index(void)
{
	char path[1024], line[2048];
	FILE *f;

	snprintf(path, sizeof(path), "%s/INDEX.tsv", dir);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	fgets(line, sizeof(line), f);	/* header */
	while (fgets(line, sizeof(line), f) != NULL && ncases < 64) {
		char *file = strtok(line, "\t");
		char *sect = strtok(NULL, "\t");
		char *cls = strtok(NULL, "\t");

		if (file == NULL || sect == NULL || cls == NULL)
			continue;
		snprintf(cases[ncases].file, sizeof(cases[ncases].file), "%s",
		    file);
		snprintf(cases[ncases].cls, sizeof(cases[ncases].cls), "%s",
		    cls);
		ncases++;
	}
	fclose(f);
}

/* Statuses RFC 4475 asks for, where it names one other than 400. */
static unsigned
want_status(const char *file)
{
	if (strcmp(file, "badvers.dat") == 0)
		return 505;
	return 400;
}

START_TEST(test_index_case)
{
	const struct expect *c = &cases[_i];
	struct sip_parse_error err;
	struct sip_msg *m;
	size_t len;
	char *buf = slurp(c->file, &len);
	int rc = sip_msg_parse(buf, len, 0, &m, &err);

	if (strcmp(c->cls, "invalid") == 0 &&
	    strcmp(c->file, "baddate.dat") != 0) {
		ck_assert_msg(rc == EBADMSG, "%s: accepted an invalid message",
		    c->file);
		ck_assert_ptr_null(m);
		ck_assert_ptr_nonnull(err.reason);
		if (err.request)
			ck_assert_msg(err.status == want_status(c->file),
			    "%s: status %u", c->file, err.status);
		else
			ck_assert_uint_eq(err.status, 0);	/* drop */
	} else {
		/* baddate: RFC 4475 §3.1.2.12 prefers ignoring the Date. */
		ck_assert_msg(rc == 0, "%s (%s): rejected: %s", c->file,
		    c->cls, err.reason);
		ck_assert_ptr_nonnull(m);
		sip_msg_free(m);
	}
}
END_TEST

START_TEST(test_index_complete)
{
	ck_assert_int_eq(ncases, 49);
}
END_TEST

/* ---- valid messages, field by field -------------------------------------- */

START_TEST(test_wsinv)
{
	struct sip_msg *m = parse_ok("wsinv.dat");

	ck_assert(m->request);
	ck_assert_int_eq(m->method, SIP_METHOD_INVITE);
	ck_slice(m->to.tag, "1918181833n");
	ck_slice(m->from.tag, "98asjd8");
	ck_slice(m->from.display, "J Rosenberg \\\\\\\"");
	ck_assert_int_eq(m->max_forwards, 68);
	ck_assert_uint_eq(m->cseq.num, 9);
	ck_assert_int_eq(m->cseq.method, SIP_METHOD_INVITE);
	ck_assert_uint_eq(m->nvia, 3);
	ck_slice(m->via[0].transport, "UDP");
	ck_slice(m->via[0].host, "192.0.2.2");
	ck_slice(m->via[0].branch, "390skdjuw");
	ck_slice(m->via[1].transport, "TCP");
	ck_slice(m->via[1].host, "spindle.example.com");
	ck_slice(m->via[1].branch, "z9hG4bK9ikj8");
	ck_slice(m->via[2].host, "192.168.255.111");
	ck_slice(m->via[2].branch, "z9hG4bK30239");
	ck_assert_uint_eq(m->ncontact, 1);
	ck_assert_int_eq(m->contact[0].q, 330);
	ck_slice(m->contact[0].addr.display, "Quoted string \\\"\\\"");
	ck_assert_uint_eq(m->nroute, 1);
	ck_assert(m->route[0].uri.lr);
	ck_assert_int_eq(m->content_length, 150);
	ck_assert_uint_eq(m->body.n, 150);
	ck_slice(m->content_type.subtype, "sdp");
	/* unknown header kept verbatim, folding included */
	ck_assert_ptr_nonnull(sip_msg_hdr_named(m, "newfangledheader"));
	ck_assert_ptr_nonnull(strstr(sip_msg_hdr_named(m,
	    "NewFangledHeader")->value.p, "continued newfangled value"));
	ck_slice(sip_msg_hdr_named(m, "UnknownHeaderWithUnusualValue")->value,
	    ";;,,;;,;");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_intmeth)
{
	struct sip_msg *m = parse_ok("intmeth.dat");

	ck_assert_int_eq(m->method, SIP_METHOD_OTHER);
	ck_slice(m->method_str, "!interesting-Method0123456789_*+`.%indeed'~");
	ck_slice(m->cseq.method_str, "!interesting-Method0123456789_*+`.%indeed'~");
	ck_slice(m->ruri.host, "example.com");
	ck_assert_uint_gt(m->ruri.user.n, 20);
	ck_slice(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	ck_slice(m->from.tag, "_token~1'+`*%!-.");
	ck_assert_int_eq(m->max_forwards, 255);
	sip_msg_free(m);
}
END_TEST

START_TEST(test_escapes)
{
	struct sip_msg *m = parse_ok("esc01.dat");

	/* slices keep the escapes: never unescaped in place */
	ck_slice(m->ruri.user, "sips%3Auser%40example.com");
	ck_slice(m->to.uri.user, "%75se%72");
	ck_assert_uint_eq(m->ncontact, 1);
	sip_msg_free(m);

	m = parse_ok("escnull.dat");
	ck_slice(m->to.uri.user, "null-%00-null");
	ck_assert_uint_eq(m->ncontact, 2);
	ck_assert_int_eq(m->content_length, 0);
	sip_msg_free(m);

	m = parse_ok("esc02.dat");
	/* %47 in a method is not unescaped: not REGISTER */
	ck_assert_int_eq(m->method, SIP_METHOD_OTHER);
	ck_assert_uint_eq(m->ncontact, 2);	/* C%6Fntact is another header */
	ck_assert_ptr_nonnull(sip_msg_hdr_named(m, "C%6Fntact"));
	sip_msg_free(m);
}
END_TEST

START_TEST(test_misc_valid)
{
	struct sip_msg *m = parse_ok("lwsdisp.dat");

	ck_slice(m->from.display, "caller");
	sip_msg_free(m);

	m = parse_ok("longreq.dat");
	ck_assert_uint_ge(m->nvia, 20);
	ck_assert_uint_gt(m->to.display.n, 90);
	sip_msg_free(m);

	m = parse_ok("dblreq.dat");
	ck_assert_int_eq(m->method, SIP_METHOD_REGISTER);
	ck_assert_uint_eq(m->body.n, 0);
	ck_assert_ptr_null(memmem(m->buf, m->len, "INVITE", 6));
	sip_msg_free(m);

	m = parse_ok("semiuri.dat");
	ck_slice(m->ruri.user, "user;par=u%40example.net");
	ck_slice(m->ruri.host, "example.com");
	ck_assert_uint_eq(m->accept.n, 6);
	ck_slice(m->accept.v[5], "message/sipfrag");
	sip_msg_free(m);

	m = parse_ok("transports.dat");
	ck_assert_uint_eq(m->nvia, 5);
	ck_slice(m->via[1].transport, "SCTP");
	ck_slice(m->via[3].transport, "UNKNOWN");
	sip_msg_free(m);

	m = parse_ok("mpart01.dat");
	ck_assert_int_eq(m->content_length, 553);
	ck_assert_uint_eq(m->body.n, 553);	/* NULs inside: not strlen */
	ck_assert(m->via[0].rport);
	ck_assert_int_eq(m->via[0].rport_value, -1);
	sip_msg_free(m);

	m = parse_ok("unreason.dat");
	ck_assert(!m->request);
	ck_assert_uint_eq(m->status, 200);
	ck_assert_uint_gt(m->reason.n, 20);
	sip_msg_free(m);

	m = parse_ok("noreason.dat");
	ck_assert_uint_eq(m->status, 100);
	ck_assert_uint_eq(m->reason.n, 0);
	sip_msg_free(m);
}
END_TEST

START_TEST(test_odd_but_parsed)
{
	struct sip_msg *m = parse_ok("cparam01.dat");

	/* addr-spec form: ;unknownparam is a header parameter */
	ck_assert(!m->contact[0].addr.angle);
	ck_assert(sip_params_get(&m->contact[0].addr.params, "unknownparam",
	    NULL));
	ck_assert_uint_eq(m->contact[0].addr.uri.params.n, 0);
	sip_msg_free(m);

	m = parse_ok("cparam02.dat");
	ck_assert(m->contact[0].addr.angle);
	ck_assert_uint_eq(m->contact[0].addr.params.n, 0);
	ck_assert_uint_gt(m->contact[0].addr.uri.params.n, 0);
	sip_msg_free(m);

	m = parse_ok("unkscm.dat");
	ck_assert_int_eq(m->ruri.scheme, SIP_URI_OTHER);
	sip_msg_free(m);

	m = parse_ok("zeromf.dat");
	ck_assert_int_eq(m->max_forwards, 0);
	sip_msg_free(m);

	m = parse_ok("regaut01.dat");
	ck_assert_uint_eq(m->nauthorization, 1);
	ck_assert_int_eq(m->authorization[0].scheme, SIP_AUTH_SCHEME_OTHER);
	ck_slice(m->authorization[0].scheme_name, "NoOneKnowsThisScheme");
	sip_msg_free(m);

	m = parse_ok("badbranch.dat");
	ck_slice(m->via[0].branch, "z9hG4bK");
	sip_msg_free(m);

	m = parse_ok("inv2543.dat");
	ck_assert_int_eq(m->content_length, -1);	/* none: to the end */
	ck_assert_uint_gt(m->body.n, 0);
	ck_assert_uint_eq(m->via[0].branch.n, 0);
	sip_msg_free(m);

	m = parse_ok("bcast.dat");
	ck_slice(m->via[1].host, "255.255.255.255");
	sip_msg_free(m);
}
END_TEST

START_TEST(test_reasons)
{
	static const struct {
		const char	*file;
		const char	*fragment;
	} want[] = {
		{ "insuf.dat", "missing" },
		{ "multi01.dat", "more than one" },
		{ "mcl01.dat", "Content-Length" },
		{ "ncl.dat", "Content-Length" },
		{ "clerr.dat", "Content-Length" },
		{ "scalar02.dat", "CSeq" },
		{ "quotbal.dat", "quoted" },
		{ "mismatch01.dat", "CSeq method" },
		{ "badvers.dat", "Version" },
		{ "regbadct.dat", "headers" },
		{ "escruri.dat", "headers" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct sip_parse_error err;
		struct sip_msg *m;
		size_t len;
		char *buf = slurp(want[i].file, &len);

		ck_assert_int_eq(sip_msg_parse(buf, len, 0, &m, &err),
		    EBADMSG);
		ck_assert_msg(strstr(err.reason, want[i].fragment) != NULL,
		    "%s: reason '%s'", want[i].file, err.reason);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rfc4475");
	TCase *tc = tcase_create("torture");
	SRunner *sr;
	int failed;

	dir = getenv("SIPX_CONFORMANCE");
	if (dir == NULL)
		dir = "../tests/conformance/rfc4475";
	load_index();
	tcase_add_test(tc, test_index_complete);
	tcase_add_loop_test(tc, test_index_case, 0, ncases);
	tcase_add_test(tc, test_wsinv);
	tcase_add_test(tc, test_intmeth);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_misc_valid);
	tcase_add_test(tc, test_odd_but_parsed);
	tcase_add_test(tc, test_reasons);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
