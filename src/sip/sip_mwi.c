/*
 * RFC 3842 §5.2 message summaries (see sip_mwi.h).  The body is read
 * line by line up to the first blank line: the status line, the
 * optional account and one summary line per message class.  A summary
 * line is "class: new/old" with an optional "(urgent-new/urgent-old)";
 * the grammar's separators (SLASH, LPAREN, RPAREN) allow white space
 * around them.  Nothing is allocated: the result holds counts and one
 * slice into the body.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip_mwi.h"

static const char *const mwi_class_names[SIP_MWI_CLASS__COUNT] = {
	[SIP_MWI_VOICE] = "voice-message",
	[SIP_MWI_FAX] = "fax-message",
	[SIP_MWI_PAGER] = "pager-message",
	[SIP_MWI_MULTIMEDIA] = "multimedia-message",
	[SIP_MWI_TEXT] = "text-message",
	[SIP_MWI_NONE] = "none",
};

const char *
sip_mwi_class_name(enum sip_mwi_class c)
{
	return c < SIP_MWI_CLASS__COUNT ? mwi_class_names[c] : "?";
}

static bool
mwi_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* A cursor over one line's value. */
struct mwi_cur {
	const char	*p, *end;
};

static void
mwi_skip_ws(struct mwi_cur *c)
{
	while (c->p < c->end && mwi_ws(*c->p))
		c->p++;
}

/* SWS c SWS: true and past it when the next byte is c. */
static bool
mwi_sep(struct mwi_cur *c, char ch)
{
	mwi_skip_ws(c);
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	mwi_skip_ws(c);
	return true;
}

/* msg-count = 1*DIGIT, at most SIP_MWI_COUNT_MAX. */
static int
mwi_count(struct mwi_cur *c, uint32_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (uint64_t)(*c->p - '0');
		if (v > SIP_MWI_COUNT_MAX)
			return ERANGE;
		c->p++;
	}
	if (c->p == start)
		return EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs
 * RPAREN ] */
static int
mwi_summary(struct mwi_cur *c, struct sip_mwi_counts *k)
{
	int rc;

	if ((rc = mwi_count(c, &k->new_msgs)) != 0)
		return rc;
	if (!mwi_sep(c, '/'))
		return EINVAL;
	if ((rc = mwi_count(c, &k->old_msgs)) != 0)
		return rc;
	if (mwi_sep(c, '(')) {
		if ((rc = mwi_count(c, &k->new_urgent)) != 0)
			return rc;
		if (!mwi_sep(c, '/'))
			return EINVAL;
		if ((rc = mwi_count(c, &k->old_urgent)) != 0)
			return rc;
		if (!mwi_sep(c, ')'))
			return EINVAL;
	}
	mwi_skip_ws(c);
	return c->p == c->end ? 0 : EINVAL;
}

static bool
mwi_name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

int
sip_mwi_parse(struct sip_mwi *out, const char *body, size_t len,
    const char **why)
{
	const char *p = body, *end = body + len;
	bool status_seen = false, account_seen = false;
	int rc;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len > SIP_MWI_BODY_MAX) {
		*why = "the summary is too long";
		return EMSGSIZE;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		const char *colon, *ne;
		struct mwi_cur v;
		int cls = -1;

		if (le > p && le[-1] == '\r')
			le--;
		for (const char *q = p; q < le; q++)
			if (((unsigned char)*q < 0x20 && *q != '\t') ||
			    *q == 0x7f) {
				*why = "a control byte in the summary";
				return EINVAL;
			}
		if (le == p)
			break;	/* the blank line: opt-msg-headers follow */
		if (mwi_ws(*p)) {
			/* A folded continuation of a line we skipped. */
			if (!status_seen) {
				*why = "the summary does not start with "
				    "Messages-Waiting";
				return EINVAL;
			}
			out->unknown++;
			goto next;
		}
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL) {
			*why = "a summary line without a colon";
			return EINVAL;
		}
		for (ne = colon; ne > p && mwi_ws(ne[-1]); ne--)
			;
		v.p = colon + 1;
		v.end = le;
		mwi_skip_ws(&v);
		while (v.end > v.p && mwi_ws(v.end[-1]))
			v.end--;
		if (!status_seen) {
			if (!mwi_name_is(p, (size_t)(ne - p),
			    "Messages-Waiting")) {
				*why = "the summary does not start with "
				    "Messages-Waiting";
				return EINVAL;
			}
			if (mwi_name_is(v.p, (size_t)(v.end - v.p), "yes"))
				out->waiting = true;
			else if (!mwi_name_is(v.p, (size_t)(v.end - v.p),
			    "no")) {
				*why = "Messages-Waiting is neither yes nor no";
				return EINVAL;
			}
			status_seen = true;
			goto next;
		}
		if (mwi_name_is(p, (size_t)(ne - p), "Messages-Waiting")) {
			*why = "Messages-Waiting given twice";
			return EINVAL;
		}
		if (mwi_name_is(p, (size_t)(ne - p), "Message-Account")) {
			if (account_seen || v.p == v.end) {
				*why = account_seen ? "Message-Account given "
				    "twice" : "an empty Message-Account";
				return EINVAL;
			}
			account_seen = true;
			out->account = slice_make(v.p, (size_t)(v.end - v.p));
			goto next;
		}
		for (int i = 0; i < SIP_MWI_CLASS__COUNT; i++)
			if (mwi_name_is(p, (size_t)(ne - p),
			    mwi_class_names[i]))
				cls = i;
		if (cls < 0) {
			out->unknown++;
			goto next;
		}
		if (out->cls[cls].present) {
			*why = "a message class given twice";
			return EINVAL;
		}
		rc = mwi_summary(&v, &out->cls[cls]);
		if (rc != 0) {
			memset(&out->cls[cls], 0, sizeof(out->cls[cls]));
			*why = rc == ERANGE ? "a message count is too large" :
			    "a summary line is not new/old (urgent-new/"
			    "urgent-old)";
			return rc;
		}
		out->cls[cls].present = true;
next:
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (!status_seen) {
		*why = "the summary does not start with Messages-Waiting";
		return EINVAL;
	}
	return 0;
}
