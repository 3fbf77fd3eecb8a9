/*
 * SIP, SIPS, TEL and other URIs (see sip_uri.h).  This file owns the URI
 * grammar (RFC 3261 §19.1.1 and §25.1, RFC 3966 §3, RFC 4291 §2.2 for
 * IPv6 literals) and URI equality (RFC 3261 §19.1.4, RFC 3966 §4).  It
 * does not own name-addr, header parameters or the Request-Line: the
 * message layer strips "<>" and whitespace before calling in.
 *
 * Parsing is one forward pass driven by a 256-entry character-class
 * table; every field is a slice of the caller's bytes and nothing is
 * allocated or unescaped in place.  The one extra look: a SIP URI is
 * searched for '@' (memchr) first, because only an '@' tells a user
 * part from a host.  Comparison splits parameter lists into arrays on
 * the stack; lists are capped (SIP_URI_PARAMS_MAX) to bound it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sip/sip_uri.h"

/* Reasons: static strings, used as 400 reason phrases by the caller. */
#define R_EMPTY		"bad URI: empty"
#define R_SCHEME	"bad URI: invalid scheme"
#define R_WS		"bad URI: whitespace"
#define R_CTL		"bad URI: control character"
#define R_CHAR		"bad URI: invalid character"
#define R_ESCAPE	"bad URI: bad escape"
#define R_USER		"bad URI: empty user"
#define R_NOHOST	"bad URI: empty host"
#define R_HOST		"bad URI: invalid host"
#define R_IPV4		"bad URI: invalid IPv4 address"
#define R_IPV6		"bad URI: invalid IPv6 address"
#define R_BRACKET	"bad URI: unbalanced '['"
#define R_PORT		"bad URI: invalid port"
#define R_PORTRANGE	"bad URI: port out of range"
#define R_PARAM		"bad URI: invalid parameter"
#define R_HEADER	"bad URI: invalid header"
#define R_TEL		"bad URI: invalid telephone number"
#define R_TELPARAM	"bad URI: invalid tel parameter"
#define R_TELCTX	"bad URI: local number without phone-context"
#define R_OPAQUE	"bad URI: invalid opaque part"
#define R_NPARAMS	"bad URI: too many parameters"
#define R_NHEADERS	"bad URI: too many headers"

/*
 * Character classes.  The table is built at compile time from these
 * predicates, so each class reads as its ABNF rule.
 */
#define C_ALPHA		0x00001u	/* ALPHA */
#define C_DIGIT		0x00002u	/* DIGIT */
#define C_HEX		0x00004u	/* HEXDIG */
#define C_USER		0x00008u	/* unreserved / user-unreserved */
#define C_PASS		0x00010u	/* unreserved / & = + $ , */
#define C_PARAM		0x00020u	/* paramchar but escaped (3261, 3966) */
#define C_HDR		0x00040u	/* unreserved / hnv-unreserved */
#define C_HOST		0x00080u	/* hostname chars: alphanum - . */
#define C_SCHEME	0x00100u	/* alphanum + - . (RFC 3986 §3.1) */
#define C_URIC		0x00200u	/* RFC 3986 unreserved / reserved */
#define C_TELSEP	0x00400u	/* visual-separator: - . ( ) */
#define C_RSVD		0x00800u	/* RFC 2396 reserved */
#define C_UNR3986	0x01000u	/* RFC 3986 unreserved */
#define C_TELPN		0x02000u	/* RFC 3966 pname: alphanum - */
#define C_LOCAL		0x04000u	/* HEXDIG / "*" / "#" */
#define C_ISUB		0x08000u	/* uric less ';' (RFC 3966 isub) */
#define C_V6		0x10000u	/* inside "[...]": HEXDIG : . */
#define C_ALNUM		0x20000u	/* alphanum */

#define IS_ALPHA(c)	(((c) >= 'A' && (c) <= 'Z') || \
			    ((c) >= 'a' && (c) <= 'z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_ALNUM(c)	(IS_ALPHA(c) || IS_DIGIT(c))
#define IS_HEX(c)	(IS_DIGIT(c) || ((c) >= 'A' && (c) <= 'F') || \
			    ((c) >= 'a' && (c) <= 'f'))
#define IS_MARK(c)	((c) == '-' || (c) == '_' || (c) == '.' || \
			    (c) == '!' || (c) == '~' || (c) == '*' || \
			    (c) == '\'' || (c) == '(' || (c) == ')')
#define IS_UNRES(c)	(IS_ALNUM(c) || IS_MARK(c))
#define IS_RSVD(c)	((c) == ';' || (c) == '/' || (c) == '?' || \
			    (c) == ':' || (c) == '@' || (c) == '&' || \
			    (c) == '=' || (c) == '+' || (c) == '$' || \
			    (c) == ',')
#define IS_USERX(c)	((c) == '&' || (c) == '=' || (c) == '+' || \
			    (c) == '$' || (c) == ',' || (c) == ';' || \
			    (c) == '?' || (c) == '/')
#define IS_PASSX(c)	((c) == '&' || (c) == '=' || (c) == '+' || \
			    (c) == '$' || (c) == ',')
#define IS_PARAMX(c)	((c) == '[' || (c) == ']' || (c) == '/' || \
			    (c) == ':' || (c) == '&' || (c) == '+' || \
			    (c) == '$')
#define IS_HNVX(c)	((c) == '[' || (c) == ']' || (c) == '/' || \
			    (c) == '?' || (c) == ':' || (c) == '+' || \
			    (c) == '$')
#define IS_U3986(c)	(IS_ALNUM(c) || (c) == '-' || (c) == '.' || \
			    (c) == '_' || (c) == '~')
#define IS_GSDELIM(c)	((c) == ':' || (c) == '/' || (c) == '?' || \
			    (c) == '#' || (c) == '[' || (c) == ']' || \
			    (c) == '@' || (c) == '!' || (c) == '$' || \
			    (c) == '&' || (c) == '\'' || (c) == '(' || \
			    (c) == ')' || (c) == '*' || (c) == '+' || \
			    (c) == ',' || (c) == ';' || (c) == '=')
#define IS_TELSEP(c)	((c) == '-' || (c) == '.' || (c) == '(' || (c) == ')')

#define CC(c) (							\
	(IS_ALPHA(c) ? C_ALPHA : 0) |					\
	(IS_DIGIT(c) ? C_DIGIT : 0) |					\
	(IS_HEX(c) ? C_HEX | C_LOCAL | C_V6 : 0) |			\
	(IS_UNRES(c) || IS_USERX(c) ? C_USER : 0) |			\
	(IS_UNRES(c) || IS_PASSX(c) ? C_PASS : 0) |			\
	(IS_UNRES(c) || IS_PARAMX(c) ? C_PARAM : 0) |			\
	(IS_UNRES(c) || IS_HNVX(c) ? C_HDR : 0) |			\
	(IS_ALNUM(c) || (c) == '-' || (c) == '.' ? C_HOST : 0) |	\
	(IS_ALNUM(c) || (c) == '+' || (c) == '-' || (c) == '.' ?	\
	    C_SCHEME : 0) |						\
	(IS_U3986(c) || IS_GSDELIM(c) ? C_URIC : 0) |			\
	(IS_TELSEP(c) ? C_TELSEP : 0) |					\
	(IS_RSVD(c) ? C_RSVD : 0) |					\
	(IS_U3986(c) ? C_UNR3986 : 0) |					\
	(IS_ALNUM(c) || (c) == '-' ? C_TELPN : 0) |			\
	((c) == '*' || (c) == '#' ? C_LOCAL : 0) |			\
	((IS_UNRES(c) || IS_RSVD(c)) && (c) != ';' ? C_ISUB : 0) |	\
	((c) == ':' || (c) == '.' ? C_V6 : 0) |				\
	(IS_ALNUM(c) ? C_ALNUM : 0))

#define CC4(n)	CC(n), CC((n) + 1), CC((n) + 2), CC((n) + 3)
#define CC16(n)	CC4(n), CC4((n) + 4), CC4((n) + 8), CC4((n) + 12)
#define CC64(n)	CC16(n), CC16((n) + 16), CC16((n) + 32), CC16((n) + 48)

static const uint32_t cc[256] = {
	CC64(0), CC64(64), CC64(128), CC64(192)
};

#define CLS(c)		(cc[(unsigned char)(c)])

#define FAIL(r)	do {		\
	*why = (r);		\
	return EBADMSG;		\
} while (0)

static inline unsigned
hexval(unsigned char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static inline unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/*
 * Advances over characters of class m and well-formed "%" HEX HEX
 * escapes; NULL on a malformed escape.  A '%' can never stand for
 * itself in any URI part parsed here, so a bad one is fatal wherever
 * it is met.  *esc (if esc is not NULL) is set when an escape was seen.
 */
static inline const char *
scan_esc(const char *p, const char *end, uint32_t m, bool *esc)
{
	for (;;) {
		/* m is one class bit: four bytes at a time while all match */
		while (end - p >= 4 &&
		    (CLS(p[0]) & CLS(p[1]) & CLS(p[2]) & CLS(p[3]) & m))
			p += 4;
		while (p < end && (CLS(*p) & m))
			p++;
		if (p == end || *p != '%')
			break;
		if (end - p < 3 || !(CLS(p[1]) & C_HEX) ||
		    !(CLS(p[2]) & C_HEX))
			return NULL;
		if (esc != NULL)
			*esc = true;
		p += 3;
	}
	return p;
}

static inline const char *
scan(const char *p, const char *end, uint32_t m)
{
	return scan_esc(p, end, m, NULL);
}

/* The reason for an unexpected byte at p (or for the end of input). */
static const char *
char_reason(const char *p, const char *end, const char *dflt)
{
	unsigned char c;

	if (p >= end)
		return dflt;
	c = (unsigned char)*p;
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return R_WS;
	if (c < 0x20 || c == 0x7f)
		return R_CTL;
	if (c >= 0x80)
		return R_CHAR;
	return dflt;
}

/*
 * IPv4address, 1*3DIGIT each (RFC 3261 §25.1; leading zeros allowed)
 * and at most 255 (RFC 5954 §4.1 tightens the grammar to dec-octet).
 */
static bool
ipv4_parse(const char *p, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		size_t st = i;
		unsigned v = 0;

		while (i < n && i - st < 3 && IS_DIGIT(p[i]))
			v = v * 10 + (unsigned)(p[i++] - '0');
		if (i == st || v > 255)
			return false;
		if (out != NULL)
			out[k] = (uint8_t)v;
		if (k < 3) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

/*
 * IPv6address without brackets, in the RFC 4291 §2.2 text forms: eight
 * 1*4HEXDIG groups, one "::" standing for one or more zero groups, an
 * IPv4 dotted quad as the last 32 bits.  No zone index (RFC 6874 is not
 * part of SIP).
 */
static bool
ipv6_parse(const char *p, size_t n, uint8_t out[16])
{
	uint16_t g[8];
	int ng = 0, dc = -1;
	size_t i = 0;

	if (n >= 2 && p[0] == ':' && p[1] == ':') {
		dc = 0;
		i = 2;
	} else if (n == 0 || p[0] == ':')
		return false;
	while (i < n) {
		size_t st = i;
		unsigned v = 0;

		while (i < n && i - st < 5 && (CLS(p[i]) & C_HEX))
			v = v * 16 + hexval((unsigned char)p[i++]);
		if (i < n && p[i] == '.') {
			uint8_t q[4];

			if (ng > 6 || !ipv4_parse(p + st, n - st, q))
				return false;
			g[ng++] = (uint16_t)(q[0] << 8 | q[1]);
			g[ng++] = (uint16_t)(q[2] << 8 | q[3]);
			break;
		}
		if (i == st || i - st > 4 || ng == 8)
			return false;
		g[ng++] = (uint16_t)v;
		if (i == n)
			break;
		if (p[i++] != ':')
			return false;
		if (i < n && p[i] == ':') {
			if (dc >= 0)
				return false;
			dc = ng;
			i++;
		} else if (i == n)
			return false;	/* a trailing single ':' */
	}
	if (dc >= 0 ? ng > 7 : ng != 8)
		return false;
	if (out != NULL) {
		memset(out, 0, 16);
		for (int j = 0; j < ng; j++) {
			int k = dc >= 0 && j >= dc ? j + 8 - ng : j;

			out[2 * k] = (uint8_t)(g[j] >> 8);
			out[2 * k + 1] = (uint8_t)g[j];
		}
	}
	return true;
}

enum host_kind {
	HK_NAME,
	HK_IPV4,
	HK_BAD,
	HK_BADV4,	/* digits and three dots, not an address */
};

/*
 * Reads the hostname or IPv4address at p, up to the first character
 * that cannot continue it, and says which it is:
 *   hostname    = *( domainlabel "." ) toplabel [ "." ]
 *   domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
 *   toplabel    = ALPHA / ALPHA *( alphanum / "-" ) alphanum
 * A toplabel never starts with a digit, so a run whose last label does
 * is an IPv4address or nothing.  Labels are consumed a run of alphanums
 * at a time; the checks happen only at '-' and '.'.
 */
static const char *
scan_host(const char *p, const char *end, enum host_kind *kind)
{
	const char *s = p;
	unsigned char top = 0;
	int dots = 0;

	for (;;) {
		/* a label: alphanum *( *"-" 1*alphanum ) */
		if (p == end || !(CLS(*p) & C_ALNUM)) {
			/* only a trailing dot may end the host here */
			*kind = dots > 0 && IS_ALPHA(top) && (p == end ||
			    !(CLS(*p) & C_HOST)) ? HK_NAME : HK_BAD;
			return p;
		}
		top = (unsigned char)*p++;
		for (;;) {
			while (end - p >= 4 && (CLS(p[0]) & CLS(p[1]) &
			    CLS(p[2]) & CLS(p[3]) & C_ALNUM))
				p += 4;
			while (p < end && (CLS(*p) & C_ALNUM))
				p++;
			if (p == end || *p != '-')
				break;
			while (p < end && *p == '-')
				p++;
			if (p == end || !(CLS(*p) & C_ALNUM)) {
				*kind = HK_BAD;		/* label ends in '-' */
				return p;
			}
		}
		if (p == end || *p != '.')
			break;
		p++;
		dots++;
	}
	if (IS_ALPHA(top))
		*kind = HK_NAME;
	else if (ipv4_parse(s, (size_t)(p - s), NULL))
		*kind = HK_IPV4;
	else
		*kind = dots == 3 ? HK_BADV4 : HK_BAD;
	return p;
}

static inline bool
lc_eq(const char *p, size_t n, const char *lit, size_t litn)
{
	if (n != litn)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)p[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/*
 * Picks the well-known SIP URI parameters (RFC 3261 §19.1.1).  A name
 * written with escapes ("%6Cr") is decoded first, so that these fields
 * agree with what sip_uri_equal sees.
 */
static void
note_param(struct sip_uri *u, const char *name, size_t n, bool esc,
    struct slice v)
{
	char buf[sizeof("transport") - 1];
	struct slice *f = NULL;

	if (esc) {
		int dn;

		if (n > 3 * sizeof(buf))
			return;
		dn = sip_unescape(slice_make(name, n), buf, sizeof(buf));
		if (dn < 0)
			return;
		name = buf;
		n = (size_t)dn;
	}
	switch (n) {
	case 2:
		if (lc_eq(name, n, "lr", 2))
			u->lr = true;
		return;
	case 3:
		if (lc_eq(name, n, "ttl", 3))
			f = &u->ttl;
		break;
	case 4:
		if (lc_eq(name, n, "user", 4))
			f = &u->user_param;
		break;
	case 5:
		if (lc_eq(name, n, "maddr", 5))
			f = &u->maddr;
		break;
	case 6:
		if (lc_eq(name, n, "method", 6))
			f = &u->method;
		break;
	case 9:
		if (lc_eq(name, n, "transport", 9))
			f = &u->transport;
		break;
	default:
		return;
	}
	if (f != NULL && f->p == NULL)
		*f = v;
}

/*
 *   SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
 */
static int
parse_sip(struct sip_uri *u, const char *p, const char *end,
    const char **why)
{
	const char *q, *r;
	enum host_kind kind;

	/*
	 * '@' occurs nowhere in a SIP URI but after userinfo.  Without one
	 * (memchr, vectorised, is cheaper than a byte loop) there is no
	 * userinfo; with one, user characters must run up to it, through
	 * an optional ":" password, or the URI is read as if it had no
	 * userinfo and fails where the '@' stands.
	 */
	q = p;
	if (memchr(p, '@', (size_t)(end - p)) != NULL &&
	    (q = scan(p, end, C_USER)) == NULL)
		FAIL(R_ESCAPE);
	if (q < end && *q == '@') {
		if (q == p)
			FAIL(R_USER);
		u->user = slice_make(p, (size_t)(q - p));
		p = q + 1;
	} else if (q < end && *q == ':') {
		if ((r = scan(q + 1, end, C_PASS)) == NULL)
			FAIL(R_ESCAPE);
		if (r < end && *r == '@') {
			if (q == p)
				FAIL(R_USER);
			u->user = slice_make(p, (size_t)(q - p));
			u->password = slice_make(q + 1, (size_t)(r - q - 1));
			p = r + 1;
		}
	}

	/* host = hostname / IPv4address / IPv6reference */
	if (p == end || *p == ';' || *p == '?' || *p == ':')
		FAIL(R_NOHOST);
	if (*p == '[') {
		q = p + 1;
		while (q < end && (CLS(*q) & C_V6))
			q++;
		if (q == end || *q == ';' || *q == '?')
			FAIL(R_BRACKET);
		if (*q != ']')
			FAIL(char_reason(q, end, R_IPV6));
		if (!ipv6_parse(p + 1, (size_t)(q - p - 1), NULL))
			FAIL(R_IPV6);
		u->host_type = SIP_HOST_IPV6;
		q++;
	} else {
		q = scan_host(p, end, &kind);
		if (kind == HK_BAD || kind == HK_BADV4)
			FAIL(kind == HK_BADV4 ? R_IPV4 :
			    q == p ? char_reason(q, end, R_HOST) : R_HOST);
		u->host_type = kind == HK_IPV4 ? SIP_HOST_IPV4 : SIP_HOST_NAME;
	}
	u->host = slice_make(p, (size_t)(q - p));
	p = q;

	/* port = 1*DIGIT, leading zeros allowed */
	if (p < end && *p == ':') {
		uint32_t v = 0;

		q = ++p;
		while (p < end && IS_DIGIT(*p)) {
			v = v * 10 + (uint32_t)(*p++ - '0');
			if (v > 65535)
				FAIL(R_PORTRANGE);
		}
		if (p == q || (p < end && *p != ';' && *p != '?'))
			FAIL(char_reason(p, end, R_PORT));
		u->port = (uint16_t)v;
		u->has_port = true;
	} else if (p < end && *p != ';' && *p != '?')
		FAIL(char_reason(p, end, *p == '[' || *p == ']' ?
		    R_BRACKET : R_HOST));

	/* uri-parameters = *( ";" pname [ "=" pvalue ] ) */
	if (p < end && *p == ';') {
		int np = 0;

		u->params.p = ++p;
		for (;;) {
			const char *ns = p, *ne, *vs;
			struct slice v;
			bool esc = false;

			if (++np > SIP_URI_PARAMS_MAX)
				FAIL(R_NPARAMS);
			if ((p = scan_esc(p, end, C_PARAM, &esc)) == NULL)
				FAIL(R_ESCAPE);
			if (p == ns)
				FAIL(char_reason(p, end, R_PARAM));
			ne = p;
			v = slice_make(p, 0);
			if (p < end && *p == '=') {
				vs = ++p;
				if ((p = scan(p, end, C_PARAM)) == NULL)
					FAIL(R_ESCAPE);
				if (p == vs)
					FAIL(char_reason(p, end, R_PARAM));
				v = slice_make(vs, (size_t)(p - vs));
			}
			note_param(u, ns, (size_t)(ne - ns), esc, v);
			if (p == end || *p == '?')
				break;
			if (*p != ';')
				FAIL(char_reason(p, end, R_PARAM));
			p++;
		}
		u->params.n = (size_t)(p - u->params.p);
	}

	/* headers = "?" header *( "&" header ); header = hname "=" hvalue */
	if (p < end && *p == '?') {
		int nh = 0;

		u->headers.p = ++p;
		for (;;) {
			if (++nh > SIP_URI_PARAMS_MAX)
				FAIL(R_NHEADERS);
			q = p;
			if ((p = scan(p, end, C_HDR)) == NULL)
				FAIL(R_ESCAPE);
			if (p == q || p == end || *p != '=')
				FAIL(char_reason(p, end, R_HEADER));
			if ((p = scan(p + 1, end, C_HDR)) == NULL)
				FAIL(R_ESCAPE);
			if (p == end)
				break;
			if (*p != '&')
				FAIL(char_reason(p, end, R_HEADER));
			p++;
		}
		u->headers.n = (size_t)(p - u->headers.p);
	}
	return 0;
}

/* global-number-digits = "+" *phonedigit DIGIT *phonedigit */
static bool
tel_global_ok(const char *p, const char *end)
{
	bool digit = false;

	if (p == end || *p++ != '+')
		return false;
	for (; p < end; p++) {
		if (IS_DIGIT(*p))
			digit = true;
		else if (!(CLS(*p) & C_TELSEP))
			return false;
	}
	return digit;
}

/*
 *   telephone-uri = "tel:" telephone-subscriber            (RFC 3966 §3)
 *   global-number = global-number-digits *par
 *   local-number  = local-number-digits *par context *par
 */
static int
parse_tel(struct sip_uri *u, const char *p, const char *end,
    const char **why)
{
	const char *s = p;
	bool global = false, context = false;
	int sig = 0;

	if (p < end && *p == '+') {
		global = true;
		for (p++; p < end && (CLS(*p) & (C_DIGIT | C_TELSEP)); p++)
			sig += IS_DIGIT(*p);
	} else
		for (; p < end && (CLS(*p) & (C_LOCAL | C_TELSEP)); p++)
			sig += (CLS(*p) & C_LOCAL) != 0;
	if (sig == 0 || (p < end && *p != ';'))
		FAIL(char_reason(p, end, R_TEL));
	u->host = slice_make(s, (size_t)(p - s));

	if (p < end) {
		int np = 0;

		u->params.p = ++p;
		for (;;) {
			const char *ns = p, *vs = NULL;
			size_t nn;
			enum { P_OTHER, P_EXT, P_ISUB, P_CTX } which;

			if (++np > SIP_URI_PARAMS_MAX)
				FAIL(R_NPARAMS);
			while (p < end && (CLS(*p) & C_TELPN))
				p++;
			nn = (size_t)(p - ns);
			if (nn == 0)
				FAIL(char_reason(p, end, R_TELPARAM));
			which = lc_eq(ns, nn, "ext", 3) ? P_EXT :
			    lc_eq(ns, nn, "isub", 4) ? P_ISUB :
			    lc_eq(ns, nn, "phone-context", 13) ? P_CTX :
			    P_OTHER;
			if (p < end && *p == '=') {
				vs = ++p;
				p = scan(p, end,
				    which == P_ISUB ? C_ISUB : C_PARAM);
				if (p == NULL)
					FAIL(R_ESCAPE);
				if (p == vs)
					FAIL(char_reason(p, end, R_TELPARAM));
			} else if (which != P_OTHER)
				FAIL(char_reason(p, end, R_TELPARAM));
			if (which == P_EXT) {
				/* extension = ";ext=" 1*phonedigit */
				for (const char *e = vs; e < p; e++)
					if (!(CLS(*e) & (C_DIGIT | C_TELSEP)))
						FAIL(R_TELPARAM);
			} else if (which == P_CTX) {
				/* domainname / global-number-digits */
				enum host_kind kind;

				if (*vs == '+' ? !tel_global_ok(vs, p) :
				    scan_host(vs, p, &kind) != p ||
				    kind != HK_NAME)
					FAIL(R_TELPARAM);
				context = true;
			}
			if (p == end)
				break;
			if (*p != ';')
				FAIL(char_reason(p, end, R_TELPARAM));
			p++;
		}
		u->params.n = (size_t)(p - u->params.p);
	}
	if (!global && !context)
		FAIL(R_TELCTX);
	return 0;
}

int
sip_uri_parse(struct sip_uri *u, const char *p, size_t n, const char **why)
{
	const char *end, *s;
	const char *dummy;
	size_t sn;

	if (why == NULL)
		why = &dummy;
	/*
	 * Field by field: a whole-struct zeroing compiles to "rep stos",
	 * whose start-up cost was a quarter of a short URI's parse time.
	 */
	u->scheme = SIP_URI_OTHER;
	u->scheme_str = u->user = u->password = u->host = SLICE_NULL;
	u->params = u->headers = u->opaque = SLICE_NULL;
	u->transport = u->user_param = u->method = u->maddr = u->ttl =
	    SLICE_NULL;
	u->host_type = SIP_HOST_NAME;
	u->port = 0;
	u->has_port = false;
	u->lr = false;
	if (n == 0)
		FAIL(R_EMPTY);
	end = p + n;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!(CLS(*p) & C_ALPHA))
		FAIL(char_reason(p, end, R_SCHEME));
	for (s = p + 1; s < end && (CLS(*s) & C_SCHEME); s++)
		;
	if (s == end || *s != ':')
		FAIL(char_reason(s, end, R_SCHEME));
	sn = (size_t)(s - p);
	u->scheme_str = slice_make(p, sn);
	s++;

	/*
	 * Case-insensitive match on "sip", "sips", "tel": among scheme
	 * characters, c | 0x20 is a given lower-case letter only for that
	 * letter in either case.
	 */
	if (sn == 3 || sn == 4) {
		unsigned c0 = (unsigned char)p[0] | 0x20;
		unsigned c1 = (unsigned char)p[1] | 0x20;
		unsigned c2 = (unsigned char)p[2] | 0x20;

		if (c0 == 's' && c1 == 'i' && c2 == 'p' &&
		    (sn == 3 || ((unsigned char)p[3] | 0x20) == 's')) {
			u->scheme = sn == 3 ? SIP_URI_SIP : SIP_URI_SIPS;
			return parse_sip(u, s, end, why);
		}
		if (sn == 3 && c0 == 't' && c1 == 'e' && c2 == 'l') {
			u->scheme = SIP_URI_TEL;
			return parse_tel(u, s, end, why);
		}
	}

	/* absoluteURI: scheme ":" opaque, RFC 3986 characters */
	if (s == end)
		FAIL(R_OPAQUE);
	if ((p = scan(s, end, C_URIC)) == NULL)
		FAIL(R_ESCAPE);
	if (p != end)
		FAIL(char_reason(p, end, R_OPAQUE));
	u->opaque = slice_make(s, (size_t)(end - s));
	return 0;
}

/* ---- comparison -------------------------------------------------------- */

/*
 * Next comparison unit of an escaped string.  RFC 3261 §19.1.4: a
 * character other than an RFC 2396 "reserved" one equals its "%" HEX HEX
 * form, so "%61" yields 'a'; an escaped reserved character stays apart
 * from the literal one (0x100 | c).  For other schemes (opaque3986) only
 * RFC 3986 unreserved characters decode (RFC 3986 §6.2.2.2).
 */
static inline unsigned
unit_next(const char **pp, const char *end, bool opaque3986)
{
	const unsigned char *p = (const unsigned char *)*pp;

	if (p[0] == '%' && end - *pp >= 3 && (cc[p[1]] & C_HEX) &&
	    (cc[p[2]] & C_HEX)) {
		unsigned c = hexval(p[1]) << 4 | hexval(p[2]);
		bool keep = opaque3986 ? !(cc[c] & C_UNR3986) :
		    (cc[c] & C_RSVD) != 0;

		*pp += 3;
		return keep ? 0x100 | c : c;
	}
	*pp += 1;
	return p[0];
}

/*
 * Equality of two escaped strings from parsed URIs (no NUL bytes: the
 * parser lets none through unescaped).
 */
static bool
esc_eq(struct slice a, struct slice b, bool icase, bool opaque3986)
{
	const char *pa, *ea, *pb, *eb;

	if (a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0))
		return true;
	if (a.n == 0 || b.n == 0)
		return false;
	if (memchr(a.p, '%', a.n) == NULL && memchr(b.p, '%', b.n) == NULL)
		return icase && a.n == b.n && strncasecmp(a.p, b.p, a.n) == 0;
	pa = a.p;
	ea = a.p + a.n;
	pb = b.p;
	eb = b.p + b.n;
	while (pa < ea && pb < eb) {
		unsigned ua = unit_next(&pa, ea, opaque3986);
		unsigned ub = unit_next(&pb, eb, opaque3986);

		if (icase && ua < 0x100 && ub < 0x100) {
			ua = lower((unsigned char)ua);
			ub = lower((unsigned char)ub);
		}
		if (ua != ub)
			return false;
	}
	return pa == ea && pb == eb;
}

/* Optional parts: both absent, or both present and equal. */
static bool
opt_eq(struct slice a, struct slice b, bool icase)
{
	if (slice_present(a) != slice_present(b))
		return false;
	return !slice_present(a) || esc_eq(a, b, icase, false);
}

struct kv {
	struct slice	name;
	struct slice	value;
	bool		has_value;
};

/* Next "name[=value]" of a list already validated by the parser. */
static bool
kv_next(struct slice *rest, char sep, struct kv *kv)
{
	const char *p, *end, *s;

	if (rest->n == 0)	/* also keeps NULL + 0 out */
		return false;
	p = rest->p;
	end = p + rest->n;
	while (p < end && *p == sep)
		p++;
	if (p == end)
		return false;
	for (s = p; p < end && *p != sep && *p != '='; p++)
		;
	kv->name = slice_make(s, (size_t)(p - s));
	kv->has_value = p < end && *p == '=';
	if (kv->has_value) {
		for (s = ++p; p < end && *p != sep; p++)
			;
		kv->value = slice_make(s, (size_t)(p - s));
	} else
		kv->value = slice_make(p, 0);
	rest->p = p;
	rest->n = (size_t)(end - p);
	return true;
}

/*
 * A parsed list, split once: the parser caps lists at
 * SIP_URI_PARAMS_MAX, which bounds the quadratic matching below.
 */
struct kv_list {
	size_t		n;
	struct kv	kv[SIP_URI_PARAMS_MAX];
};

static void
kv_split(struct slice list, char sep, struct kv_list *l)
{
	l->n = 0;
	while (l->n < SIP_URI_PARAMS_MAX && kv_next(&list, sep, &l->kv[l->n]))
		l->n++;
}

/* Index of the first entry named like name, or l->n. */
static size_t
kv_index(const struct kv_list *l, struct slice name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (esc_eq(l->kv[i].name, name, true, false))
			break;
	return i;
}

bool
sip_param_find(struct slice params, const char *name, struct slice *value)
{
	struct slice want = slice_cstr(name);
	struct kv kv;

	while (kv_next(&params, ';', &kv))
		if (esc_eq(kv.name, want, true, false)) {
			if (value != NULL)
				*value = kv.value;
			return true;
		}
	return false;
}

/*
 * RFC 3261 §19.1.4 for uri-parameters: user, ttl, method and maddr
 * never match a URI without them, and neither does transport (as a
 * component with a default value); any parameter in both URIs must
 * match, names and values case-insensitively; the rest is ignored.
 * Of a repeated name (which §19.1.1 forbids) the first one counts.
 */
static bool
sip_params_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	struct kv_list la, lb;

	if (slice_present(a->user_param) != slice_present(b->user_param) ||
	    slice_present(a->ttl) != slice_present(b->ttl) ||
	    slice_present(a->method) != slice_present(b->method) ||
	    slice_present(a->maddr) != slice_present(b->maddr) ||
	    slice_present(a->transport) != slice_present(b->transport))
		return false;
	if (a->params.n == 0 || b->params.n == 0 ||
	    slice_eq(a->params, b->params))
		return true;
	kv_split(a->params, ';', &la);
	kv_split(b->params, ';', &lb);
	for (size_t i = 0; i < la.n; i++) {
		const struct kv *x = &la.kv[i], *y;
		size_t j;

		if (kv_index(&la, x->name) != i)
			continue;		/* a repeat */
		if ((j = kv_index(&lb, x->name)) == lb.n)
			continue;		/* only in a */
		y = &lb.kv[j];
		if (x->has_value != y->has_value ||
		    !esc_eq(x->value, y->value, true, false))
			return false;
	}
	return true;
}

/* How many headers of l equal h (name case-insensitive). */
static size_t
hdr_count(const struct kv_list *l, const struct kv *h)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += esc_eq(l->kv[i].name, h->name, true, false) &&
		    esc_eq(l->kv[i].value, h->value, false, false);
	return n;
}

/*
 * RFC 3261 §19.1.4: headers are never ignored; order does not matter.
 * Compared as multisets of (name, value); values octet by octet after
 * decoding escapes (§20 defines per-header matching, which a URI layer
 * cannot apply; exact values are the conservative reading).
 */
static bool
sip_headers_eq(struct slice a, struct slice b)
{
	struct kv_list la, lb;

	if (slice_present(a) != slice_present(b))
		return false;
	if (!slice_present(a) || slice_eq(a, b))
		return true;
	kv_split(a, '&', &la);
	kv_split(b, '&', &lb);
	if (la.n != lb.n)
		return false;
	for (size_t i = 0; i < la.n; i++)
		if (hdr_count(&la, &la.kv[i]) != hdr_count(&lb, &la.kv[i]))
			return false;
	return true;
}

/*
 * Hosts: names case-insensitively; IP literals as addresses (RFC 5954
 * clarifies that textual forms of one address are equivalent, so
 * "[::1]" equals "[0:0::1]").  A name never equals the address it
 * resolves to.
 */
static bool
host_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	uint8_t x[16], y[16];

	if (a->host_type != b->host_type)
		return false;
	if (slice_caseeq(a->host, b->host))
		return true;
	switch (a->host_type) {
	case SIP_HOST_IPV4:
		return ipv4_parse(a->host.p, a->host.n, x) &&
		    ipv4_parse(b->host.p, b->host.n, y) &&
		    memcmp(x, y, 4) == 0;
	case SIP_HOST_IPV6:
		return a->host.n >= 2 && b->host.n >= 2 &&
		    ipv6_parse(a->host.p + 1, a->host.n - 2, x) &&
		    ipv6_parse(b->host.p + 1, b->host.n - 2, y) &&
		    memcmp(x, y, 16) == 0;
	case SIP_HOST_NAME:
	default:
		return false;
	}
}

/* Phone digits without visual separators, case-insensitive (hex). */
static bool
tel_digits_eq(struct slice a, struct slice b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a.n && (CLS(a.p[i]) & C_TELSEP))
			i++;
		while (j < b.n && (CLS(b.p[j]) & C_TELSEP))
			j++;
		if (i == a.n || j == b.n)
			return i == a.n && j == b.n;
		if (lower((unsigned char)a.p[i++]) !=
		    lower((unsigned char)b.p[j++]))
			return false;
	}
}

/* Every parameter name of la is in lb, with an equal value. */
static bool
tel_params_sub(const struct kv_list *la, const struct kv_list *lb)
{
	for (size_t i = 0; i < la->n; i++) {
		const struct kv *x = &la->kv[i], *y;
		size_t j;

		if (kv_index(la, x->name) != i)
			continue;
		if ((j = kv_index(lb, x->name)) == lb->n)
			return false;
		y = &lb->kv[j];
		if (x->has_value != y->has_value)
			return false;
		if (slice_caseeq_cstr(x->name, "ext") ||
		    (slice_caseeq_cstr(x->name, "phone-context") &&
		    x->value.n > 0 && x->value.p[0] == '+')) {
			if (y->value.n == 0 || y->value.p[0] != x->value.p[0] ||
			    !tel_digits_eq(x->value, y->value))
				return false;
		} else if (!esc_eq(x->value, y->value, true, false))
			return false;
	}
	return true;
}

/*
 * RFC 3966 §4: both global or both local; numbers equal without visual
 * separators; the same set of parameter names with equal values (the
 * phone-context as a host name or as digits, the extension as digits);
 * all case-insensitive.
 */
static bool
tel_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	struct kv_list la, lb;
	bool ga = a->host.n > 0 && a->host.p[0] == '+';
	bool gb = b->host.n > 0 && b->host.p[0] == '+';

	if (ga != gb || !tel_digits_eq(a->host, b->host))
		return false;
	if (slice_eq(a->params, b->params))
		return true;
	kv_split(a->params, ';', &la);
	kv_split(b->params, ';', &lb);
	return tel_params_sub(&la, &lb) && tel_params_sub(&lb, &la);
}

bool
sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme)
		return false;
	switch (a->scheme) {
	case SIP_URI_TEL:
		return tel_eq(a, b);
	case SIP_URI_OTHER:
		return slice_caseeq(a->scheme_str, b->scheme_str) &&
		    esc_eq(a->opaque, b->opaque, false, true);
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
	default:
		break;
	}
	/* userinfo is case-sensitive; everything else is not. */
	return a->has_port == b->has_port && a->port == b->port &&
	    opt_eq(a->user, b->user, false) &&
	    opt_eq(a->password, b->password, false) &&
	    host_eq(a, b) &&
	    sip_params_eq(a, b) &&
	    sip_headers_eq(a->headers, b->headers);
}

/* ---- printing ---------------------------------------------------------- */

static void
add_slice(struct strbuf *sb, struct slice s)
{
	strbuf_add(sb, s.p, s.n);
}

static void
add_lower(struct strbuf *sb, struct slice s)
{
	strbuf_reserve(sb, s.n);
	for (size_t i = 0; i < s.n; i++)
		sb->p[sb->n++] = (char)lower((unsigned char)s.p[i]);
	sb->p[sb->n] = '\0';
}

void
sip_uri_print(struct strbuf *sb, const struct sip_uri *u)
{
	char num[8], *d = num + sizeof(num);
	unsigned port = u->port;

	switch (u->scheme) {
	case SIP_URI_TEL:
		strbuf_add(sb, "tel:", 4);
		add_slice(sb, u->host);
		if (slice_present(u->params)) {
			strbuf_addc(sb, ';');
			add_slice(sb, u->params);
		}
		return;
	case SIP_URI_OTHER:
		add_lower(sb, u->scheme_str);
		strbuf_addc(sb, ':');
		add_slice(sb, u->opaque);
		return;
	case SIP_URI_SIPS:
		strbuf_add(sb, "sips:", 5);
		break;
	case SIP_URI_SIP:
	default:
		strbuf_add(sb, "sip:", 4);
		break;
	}
	if (slice_present(u->user)) {
		add_slice(sb, u->user);
		if (slice_present(u->password)) {
			strbuf_addc(sb, ':');
			add_slice(sb, u->password);
		}
		strbuf_addc(sb, '@');
	}
	add_lower(sb, u->host);
	if (u->has_port) {
		do
			*--d = (char)('0' + port % 10);
		while ((port /= 10) != 0);
		*--d = ':';
		strbuf_add(sb, d, (size_t)(num + sizeof(num) - d));
	}
	if (slice_present(u->params)) {
		strbuf_addc(sb, ';');
		add_slice(sb, u->params);
	}
	if (slice_present(u->headers)) {
		strbuf_addc(sb, '?');
		add_slice(sb, u->headers);
	}
}

int
sip_unescape(struct slice in, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < in.n; i++) {
		unsigned char c = (unsigned char)in.p[i];

		if (c == '%') {
			if (in.n - i < 3 || !(CLS(in.p[i + 1]) & C_HEX) ||
			    !(CLS(in.p[i + 2]) & C_HEX))
				return -1;
			c = (unsigned char)(hexval((unsigned char)in.p[i + 1])
			    << 4 | hexval((unsigned char)in.p[i + 2]));
			i += 2;
		}
		if (o == outlen || o >= INT32_MAX)
			return -1;
		out[o++] = (char)c;
	}
	return (int)o;
}
