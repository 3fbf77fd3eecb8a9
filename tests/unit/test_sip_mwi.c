/*
 * RFC 3842 message summaries (src/sip/sip_mwi.c): the examples of RFC
 * 3842 §6 and what servers send in the wild (LF line ends, spacing,
 * case, extra lines, opt-msg-headers after the blank line), then every
 * refusal with its errno value.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_mwi.h"

struct mwi_ok {
	const char	*body;
	bool		 waiting;
	const char	*account;	/* "" none */
	int		 cls;		/* the class checked, -1 none */
	uint32_t	 nw, old, unw, uold;
	unsigned	 unknown;
};

static const struct mwi_ok oks[] = {
	/* RFC 3842 §6's first example, in form. */
	{ "Messages-Waiting: yes\r\n"
	  "Message-Account: sip:alice@vmail.example.com\r\n"
	  "Voice-Message: 2/8 (0/2)\r\n", true,
	  "sip:alice@vmail.example.com", SIP_MWI_VOICE, 2, 8, 0, 2, 0 },
	{ "Messages-Waiting: no\r\n", false, "", -1, 0, 0, 0, 0, 0 },
	/* LF only, no final line end, no urgent part. */
	{ "Messages-Waiting: yes\nvoice-message: 4/0", true, "",
	  SIP_MWI_VOICE, 4, 0, 0, 0, 0 },
	/* Separators with white space (SLASH, LPAREN are SWS-padded). */
	{ "messages-waiting:YES\r\nfax-message :  1 / 2 ( 3 / 4 ) \r\n",
	  true, "", SIP_MWI_FAX, 1, 2, 3, 4, 0 },
	/* Lines of other names are skipped and counted. */
	{ "Messages-Waiting: yes\r\nX-Vendor: 7\r\n"
	  "text-message: 0/1\r\n", true, "", SIP_MWI_TEXT, 0, 1, 0, 0, 1 },
	/* What follows the blank line is opt-msg-headers: not read. */
	{ "Messages-Waiting: yes\r\nVoice-Message: 1/1\r\n\r\n"
	  "To: <sip:alice@example.com>\r\nVoice-Message: 99/99\r\n", true,
	  "", SIP_MWI_VOICE, 1, 1, 0, 0, 0 },
	{ "Messages-Waiting: yes\r\nnone: 3/4\r\n", true, "", SIP_MWI_NONE,
	  3, 4, 0, 0, 0 },
	{ "Messages-Waiting: no\r\nmultimedia-message: 0/999999999\r\n",
	  false, "", SIP_MWI_MULTIMEDIA, 0, 999999999, 0, 0, 0 },
	{ "Messages-Waiting: yes\r\npager-message: 0/0 (0/0)\r\n", true, "",
	  SIP_MWI_PAGER, 0, 0, 0, 0, 0 },
};

START_TEST(test_ok)
{
	const struct mwi_ok *c = &oks[_i];
	struct sip_mwi m;
	const char *why;
	char *buf = strdup(c->body);

	ck_assert_msg(sip_mwi_parse(&m, buf, strlen(buf), &why) == 0,
	    "case %d: %s", _i, why);
	ck_assert_ptr_null(why);
	ck_assert(m.waiting == c->waiting);
	ck_assert_int_eq((int)m.account.n, (int)strlen(c->account));
	if (m.account.n > 0)
		ck_assert_int_eq(memcmp(m.account.p, c->account,
		    m.account.n), 0);
	ck_assert_uint_eq(m.unknown, c->unknown);
	for (int k = 0; k < SIP_MWI_CLASS__COUNT; k++) {
		const struct sip_mwi_counts *n = &m.cls[k];

		if (k != c->cls) {
			ck_assert_msg(!n->present, "case %d: class %s", _i,
			    sip_mwi_class_name((enum sip_mwi_class)k));
			continue;
		}
		ck_assert(n->present);
		ck_assert_uint_eq(n->new_msgs, c->nw);
		ck_assert_uint_eq(n->old_msgs, c->old);
		ck_assert_uint_eq(n->new_urgent, c->unw);
		ck_assert_uint_eq(n->old_urgent, c->uold);
	}
	free(buf);
}
END_TEST

struct mwi_bad {
	const char	*body;
	int		 err;
};

static const struct mwi_bad bads[] = {
	{ "", EINVAL },
	{ "\r\n", EINVAL },
	{ "Voice-Message: 1/2\r\nMessages-Waiting: yes\r\n", EINVAL },
	{ "Messages-Waiting: maybe\r\n", EINVAL },
	{ "Messages-Waiting yes\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nMessages-Waiting: no\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: /2\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: -1/2\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1/2 x\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1/2\r\n"
	  "voice-message: 3/4\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nMessage-Account:\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nMessage-Account: sip:a@b\r\n"
	  "Message-Account: sip:c@d\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice-Message: 1000000000/0\r\n",
	  ERANGE },
	{ "Messages-Waiting: yes\r\nVoice-Message: "
	  "99999999999999999999999/0\r\n", ERANGE },
	{ "Messages-Waiting: yes\rVoice-Message: 1/2\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nVoice\x01-Message: 1/2\r\n", EINVAL },
	{ "Messages-Waiting: yes\r\nno colon here\r\n", EINVAL },
	{ " Messages-Waiting: yes\r\n", EINVAL },
};

START_TEST(test_bad)
{
	const struct mwi_bad *c = &bads[_i];
	struct sip_mwi m;
	const char *why;
	char *buf = strdup(c->body);

	ck_assert_int_eq(sip_mwi_parse(&m, buf, strlen(buf), &why), c->err);
	ck_assert_ptr_nonnull(why);
	free(buf);
}
END_TEST

/* A NUL inside (strlen would stop there: the length says more). */
START_TEST(test_nul)
{
	static const char body[] = "Messages-Waiting: yes\r\nVoice-Message: "
	    "1/2\0\r\n";
	struct sip_mwi m;
	const char *why;

	ck_assert_int_eq(sip_mwi_parse(&m, body, sizeof(body) - 1, &why),
	    EINVAL);
}
END_TEST

START_TEST(test_too_long)
{
	size_t n = SIP_MWI_BODY_MAX + 1;
	char *buf = malloc(n);
	struct sip_mwi m;
	const char *why;

	memset(buf, 'a', n);
	memcpy(buf, "Messages-Waiting: yes\r\n", 23);
	ck_assert_int_eq(sip_mwi_parse(&m, buf, n, &why), EMSGSIZE);
	/* At the limit it is only a matter of content. */
	ck_assert_int_eq(sip_mwi_parse(&m, buf, n - 1, &why), EINVAL);
	free(buf);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(sip_mwi_class_name(SIP_MWI_VOICE), "voice-message");
	ck_assert_str_eq(sip_mwi_class_name(SIP_MWI_NONE), "none");
	ck_assert_str_eq(sip_mwi_class_name(SIP_MWI_CLASS__COUNT), "?");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_mwi");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_ok, 0, (int)(sizeof(oks) /
	    sizeof(oks[0])));
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) /
	    sizeof(bads[0])));
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
