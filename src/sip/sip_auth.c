/*
 * Digest authentication (see sip_auth.h).  Owns the grammar of challenge
 * and credentials values (RFC 3261 §25.1, RFC 7235 §2.1 for the list
 * form), the digest computation of RFC 7616 §3.4 and the nonce count.
 * It does not own the choice between several challenges, the password, or
 * the decision to retry: those belong to the usage that sent the request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "sip_auth.h"

static const char *const alg_names[] = {
	[SIP_AUTH_ALG_MD5] = "MD5",
	[SIP_AUTH_ALG_MD5_SESS] = "MD5-sess",
	[SIP_AUTH_ALG_SHA256] = "SHA-256",
	[SIP_AUTH_ALG_SHA256_SESS] = "SHA-256-sess",
	[SIP_AUTH_ALG_SHA512_256] = "SHA-512-256",
	[SIP_AUTH_ALG_SHA512_256_SESS] = "SHA-512-256-sess",
	[SIP_AUTH_ALG_UNKNOWN] = "unknown",
};

const char *
sip_auth_alg_name(enum sip_auth_alg alg)
{
	if ((unsigned)alg > SIP_AUTH_ALG_UNKNOWN)
		return "unknown";
	return alg_names[alg];
}

enum sip_auth_alg
sip_auth_alg_from_name(struct slice s)
{
	for (int i = 0; i < SIP_AUTH_ALG_UNKNOWN; i++)
		if (slice_caseeq_cstr(s, alg_names[i]))
			return (enum sip_auth_alg)i;
	return SIP_AUTH_ALG_UNKNOWN;
}

const char *
sip_auth_qop_name(enum sip_auth_qop qop)
{
	switch (qop) {
	case SIP_AUTH_QOP_AUTH:
		return "auth";
	case SIP_AUTH_QOP_AUTH_INT:
		return "auth-int";
	default:
		return "";
	}
}

static bool
alg_is_sess(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_ALG_MD5_SESS ||
	    alg == SIP_AUTH_ALG_SHA256_SESS ||
	    alg == SIP_AUTH_ALG_SHA512_256_SESS;
}

/*
 * The EVP digest of an algorithm, looked up once: NULL for an unknown one,
 * or one this OpenSSL does not provide (MD5 under a FIPS-only provider:
 * OpenSSL 3 fetches from the providers, so the absence shows here and not
 * later as a failed hash).
 */
static const EVP_MD *
alg_md(enum sip_auth_alg alg)
{
	static const EVP_MD *md[3];
	static bool tried[3];
	static const char *const names[3] = { "MD5", "SHA256", "SHA512-256" };
	int i;

	switch (alg) {
	case SIP_AUTH_ALG_MD5:
	case SIP_AUTH_ALG_MD5_SESS:
		i = 0;
		break;
	case SIP_AUTH_ALG_SHA256:
	case SIP_AUTH_ALG_SHA256_SESS:
		i = 1;
		break;
	case SIP_AUTH_ALG_SHA512_256:
	case SIP_AUTH_ALG_SHA512_256_SESS:
		i = 2;
		break;
	default:
		return NULL;
	}
	if (!tried[i]) {
		tried[i] = true;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		md[i] = EVP_MD_fetch(NULL, names[i], NULL);
#else
		md[i] = EVP_get_digestbyname(names[i]);
#endif
	}
	return md[i];
}

/* ---- grammar ------------------------------------------------------------ */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_ctl(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

/* RFC 7230 tchar, a superset of RFC 3261's token characters. */
static bool
is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 7235 token68 characters, before its trailing '='s. */
static bool
is_t68char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
	    c == '/';
}

/*
 * Characters of an unquoted parameter value.  Wider than token: servers
 * send unquoted base64 nonces and the like; what matters is that the
 * value cannot swallow the next parameter and unquotes to itself.
 */
static bool
is_vchar_unquoted(char c)
{
	return !is_ctl(c) && c != ' ' && c != ',' && c != '"' && c != '\\';
}

/* RFC 3261 §25.1 LWS = [*WSP CRLF] 1*WSP: skips it, if any, at *pp. */
static void
skip_lws(const char **pp, const char *end)
{
	const char *p = *pp;

	for (;;) {
		while (p < end && is_wsp(*p))
			p++;
		if (end - p >= 3 && p[0] == '\r' && p[1] == '\n' &&
		    is_wsp(p[2]))
			p += 3;
		else
			break;
	}
	*pp = p;
}

static const char *
scan_token(const char *p, const char *end)
{
	while (p < end && is_tchar(*p))
		p++;
	return p;
}

/*
 * A quoted string starting at the '"' at *pp: *val gets what lies between
 * the quotes, *pp moves past the closing quote.  Escapes may not carry a
 * control character other than HTAB (RFC 7230 §3.2.6); a CR must start a
 * line fold.
 */
static int
scan_quoted(const char **pp, const char *end, struct slice *val,
    const char **why)
{
	const char *start = *pp + 1, *p = start;

	while (p < end) {
		char c = *p;

		if (c == '"') {
			*val = slice_make(start, (size_t)(p - start));
			*pp = p + 1;
			return 0;
		}
		if (c == '\\') {
			if (p + 1 >= end)
				break;
			if (is_ctl(p[1]) && p[1] != '\t') {
				*why = "bad escape in quoted string";
				return EBADMSG;
			}
			p += 2;
			continue;
		}
		if (c == '\r') {
			if (end - p >= 3 && p[1] == '\n' && is_wsp(p[2])) {
				p += 3;
				continue;
			}
			*why = "bad line folding";
			return EBADMSG;
		}
		if (is_ctl(c) && c != '\t') {
			*why = "control character in quoted string";
			return EBADMSG;
		}
		p++;
	}
	*why = "unterminated quoted string";
	return EBADMSG;
}

void
sip_auth_unquote(struct strbuf *sb, struct slice raw)
{
	size_t i = 0, run = 0;

	/* Copies runs between escapes and fold line ends in one go. */
	while (i < raw.n) {
		char c = raw.p[i];

		if (c == '\\' || c == '\r' || c == '\n') {
			strbuf_add(sb, raw.p + run, i - run);
			if (c == '\\' && i + 1 < raw.n) {
				strbuf_addc(sb, raw.p[i + 1]);
				i++;
			}
			run = ++i;
			continue;
		}
		i++;
	}
	strbuf_add(sb, raw.p + run, raw.n - run);
}

/* The parameter handler of one scheme; returns 0 or EBADMSG with *why. */
typedef int (*param_fn)(void *arg, struct slice name, struct slice value,
    const char **why);

/*
 * One challenge or set of credentials: scheme, then comma-separated
 * auth-params, or for a scheme other than Digest a token68 or
 * auth-params.  Digest parameters go to fn; those of other schemes are
 * only checked for syntax.  A list element that is a token not followed
 * by '=' starts the next challenge (RFC 7235 §4.1): *rest gets it.
 */
static int
parse_auth(struct slice in, enum sip_auth_scheme *type, struct slice *scheme,
    struct slice *params, struct slice *rest, param_fn fn, void *arg,
    const char **why)
{
	const char *p, *end, *last;
	bool first = true;
	int error;

	in = slice_trim(in);
	p = in.p;
	end = in.p + in.n;
	*rest = SLICE_NULL;
	while (p < end && *p == ',') {
		p++;
		skip_lws(&p, end);
	}
	if (p == end) {
		*why = "empty authentication value";
		return EBADMSG;
	}
	*scheme = slice_make(p, (size_t)(scan_token(p, end) - p));
	if (scheme->n == 0) {
		*why = "bad authentication scheme";
		return EBADMSG;
	}
	if (slice_caseeq_cstr(*scheme, "Digest"))
		*type = SIP_AUTH_SCHEME_DIGEST;
	else {
		*type = SIP_AUTH_SCHEME_OTHER;
		fn = NULL;
	}
	p += scheme->n;
	last = p;
	if (p < end && *p != ',') {
		const char *q = p;

		skip_lws(&p, end);
		if (p == q) {
			*why = "bad authentication scheme";
			return EBADMSG;
		}
	}
	*params = slice_make(p, 0);
	while (p < end) {
		struct slice name, value;
		const char *q;

		if (*p == ',')
			goto next;
		/* RFC 7235 §2.1: token68 only as a non-Digest credential. */
		if (first && *type == SIP_AUTH_SCHEME_OTHER) {
			const char *t68;

			q = p;
			while (q < end && is_t68char(*q))
				q++;
			if (q > p) {
				while (q < end && *q == '=')
					q++;
				t68 = q;
				skip_lws(&q, end);
				if (q == end || *q == ',') {
					last = t68;
					p = q;
					goto next;
				}
			}
		}
		q = scan_token(p, end);
		name = slice_make(p, (size_t)(q - p));
		if (name.n == 0) {
			*why = "bad parameter name";
			return EBADMSG;
		}
		p = q;
		skip_lws(&p, end);
		if (p == end || *p != '=') {
			*why = "missing '=' after parameter name";
			return EBADMSG;
		}
		p++;
		skip_lws(&p, end);
		if (p < end && *p == '"') {
			if ((error = scan_quoted(&p, end, &value, why)) != 0)
				return error;
		} else {
			q = p;
			while (q < end && is_vchar_unquoted(*q))
				q++;
			if (q == p) {
				*why = "bad parameter value";
				return EBADMSG;
			}
			value = slice_make(p, (size_t)(q - p));
			p = q;
		}
		last = p;
		if (fn != NULL && (error = fn(arg, name, value, why)) != 0)
			return error;
		skip_lws(&p, end);
next:
		first = false;
		if (p == end)
			break;
		if (*p != ',') {
			*why = "expected ',' between parameters";
			return EBADMSG;
		}
		while (p < end && *p == ',') {
			p++;
			skip_lws(&p, end);
		}
		if (p == end)
			break;
		/* A token followed by '=' is a parameter; else a scheme. */
		q = scan_token(p, end);
		if (q == p) {
			*why = "bad parameter name";
			return EBADMSG;
		}
		skip_lws(&q, end);
		if (q == end || *q != '=') {
			*rest = slice_make(p, (size_t)(end - p));
			break;
		}
	}
	if (last > params->p)
		params->n = (size_t)(last - params->p);
	if (rest->p == NULL)
		*rest = slice_make(end, 0);
	return 0;
}

/* Duplicate detection for the parameters a scheme knows. */
struct seen {
	unsigned	 bits;
};

static int
once(struct seen *s, unsigned bit, const char **why)
{
	if (s->bits & bit) {
		*why = "duplicate parameter";
		return EBADMSG;
	}
	s->bits |= bit;
	return 0;
}

static bool
value_true(struct slice v)
{
	return slice_caseeq_cstr(v, "true");
}

struct chal_ctx {
	struct sip_auth_challenge	*c;
	struct seen			 seen;
};

/* RFC 7616 §3.3: qop-options is a quoted, comma-separated token list. */
static unsigned
qop_options_parse(struct slice v)
{
	const char *p = v.p, *end = v.p + v.n;
	unsigned bits = 0;

	while (p < end) {
		const char *q;
		struct slice tok;

		while (p < end && (*p == ',' || is_wsp(*p) || *p == '\r' ||
		    *p == '\n'))
			p++;
		q = p;
		while (q < end && *q != ',' && !is_wsp(*q) && *q != '\r' &&
		    *q != '\n')
			q++;
		tok = slice_make(p, (size_t)(q - p));
		if (tok.n == 0)
			break;
		if (slice_caseeq_cstr(tok, "auth"))
			bits |= SIP_AUTH_QOPF_AUTH;
		else if (slice_caseeq_cstr(tok, "auth-int"))
			bits |= SIP_AUTH_QOPF_AUTH_INT;
		else
			bits |= SIP_AUTH_QOPF_OTHER;
		p = q;
	}
	return bits;
}

static int
chal_param(void *arg, struct slice name, struct slice v, const char **why)
{
	struct chal_ctx *x = arg;
	struct sip_auth_challenge *c = x->c;

	if (slice_caseeq_cstr(name, "realm")) {
		c->realm = v;
		return once(&x->seen, 0x01, why);
	}
	if (slice_caseeq_cstr(name, "nonce")) {
		c->nonce = v;
		return once(&x->seen, 0x02, why);
	}
	if (slice_caseeq_cstr(name, "opaque")) {
		c->opaque = v;
		return once(&x->seen, 0x04, why);
	}
	if (slice_caseeq_cstr(name, "domain")) {
		c->domain = v;
		return once(&x->seen, 0x08, why);
	}
	if (slice_caseeq_cstr(name, "algorithm")) {
		/* Quoted by some servers, though RFC 7616 §3.3 says not. */
		c->algorithm_name = v;
		c->algorithm = sip_auth_alg_from_name(v);
		return once(&x->seen, 0x10, why);
	}
	if (slice_caseeq_cstr(name, "qop")) {
		c->qop = v;
		c->qop_options = qop_options_parse(v);
		return once(&x->seen, 0x20, why);
	}
	if (slice_caseeq_cstr(name, "stale")) {
		/* RFC 2617 §3.2.1: anything but TRUE means false. */
		c->stale = value_true(v);
		return once(&x->seen, 0x40, why);
	}
	if (slice_caseeq_cstr(name, "userhash")) {
		c->userhash = value_true(v);
		return once(&x->seen, 0x80, why);
	}
	if (slice_caseeq_cstr(name, "charset")) {
		c->charset = v;
		return once(&x->seen, 0x100, why);
	}
	return 0;	/* RFC 7616 §3.3: unknown directives are ignored */
}

int
sip_auth_challenge_parse(struct sip_auth_challenge *c, struct slice value,
    struct slice *rest, const char **why)
{
	struct chal_ctx x = { c, { 0 } };
	struct slice scheme, params, more;
	int error;

	memset(c, 0, sizeof(*c));
	c->algorithm = SIP_AUTH_ALG_MD5;
	if ((error = parse_auth(value, &c->scheme, &scheme, &params, &more,
	    chal_param, &x, why)) != 0)
		return error;
	c->scheme_name = scheme;
	c->params = params;
	if (more.n > 0 && rest == NULL) {
		*why = "more than one challenge";
		return EBADMSG;
	}
	if (rest != NULL)
		*rest = more;
	if (c->scheme != SIP_AUTH_SCHEME_DIGEST)
		return 0;
	/* RFC 7616 §3.3: realm and nonce are required. */
	if (!slice_present(c->realm)) {
		*why = "challenge without realm";
		return EBADMSG;
	}
	if (!slice_present(c->nonce)) {
		*why = "challenge without nonce";
		return EBADMSG;
	}
	return 0;
}

bool
sip_auth_challenge_usable(const struct sip_auth_challenge *c)
{
	if (c->scheme != SIP_AUTH_SCHEME_DIGEST || alg_md(c->algorithm) == NULL)
		return false;
	if (slice_present(c->qop))
		return (c->qop_options &
		    (SIP_AUTH_QOPF_AUTH | SIP_AUTH_QOPF_AUTH_INT)) != 0;
	/* RFC 2617 §3.2.2: a cnonce only comes with a qop. */
	return !alg_is_sess(c->algorithm);
}

struct cred_ctx {
	struct sip_auth_credentials	*c;
	struct seen			 seen;
	bool				 bad_nc;
	bool				 bad_qop;
};

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
cred_param(void *arg, struct slice name, struct slice v, const char **why)
{
	struct cred_ctx *x = arg;
	struct sip_auth_credentials *c = x->c;

	if (slice_caseeq_cstr(name, "username")) {
		c->username = v;
		return once(&x->seen, 0x01, why);
	}
	if (slice_caseeq_cstr(name, "username*")) {
		c->username_ext = v;
		return once(&x->seen, 0x02, why);
	}
	if (slice_caseeq_cstr(name, "realm")) {
		c->realm = v;
		return once(&x->seen, 0x04, why);
	}
	if (slice_caseeq_cstr(name, "nonce")) {
		c->nonce = v;
		return once(&x->seen, 0x08, why);
	}
	if (slice_caseeq_cstr(name, "uri")) {
		c->uri = v;
		return once(&x->seen, 0x10, why);
	}
	if (slice_caseeq_cstr(name, "response")) {
		c->response = v;
		return once(&x->seen, 0x20, why);
	}
	if (slice_caseeq_cstr(name, "algorithm")) {
		c->algorithm_name = v;
		c->algorithm = sip_auth_alg_from_name(v);
		return once(&x->seen, 0x40, why);
	}
	if (slice_caseeq_cstr(name, "cnonce")) {
		c->cnonce = v;
		return once(&x->seen, 0x80, why);
	}
	if (slice_caseeq_cstr(name, "opaque")) {
		c->opaque = v;
		return once(&x->seen, 0x100, why);
	}
	if (slice_caseeq_cstr(name, "qop")) {
		if (slice_caseeq_cstr(v, "auth"))
			c->qop = SIP_AUTH_QOP_AUTH;
		else if (slice_caseeq_cstr(v, "auth-int"))
			c->qop = SIP_AUTH_QOP_AUTH_INT;
		else
			x->bad_qop = true;
		return once(&x->seen, 0x200, why);
	}
	if (slice_caseeq_cstr(name, "nc")) {
		/* RFC 7616 §3.4: nc = 8LHEX (upper case tolerated). */
		uint32_t n = 0;

		c->nc_text = v;
		if (v.n != 8)
			x->bad_nc = true;
		for (size_t i = 0; i < v.n && !x->bad_nc; i++) {
			char h = v.p[i];

			if (!is_hex(h)) {
				x->bad_nc = true;
				break;
			}
			n = n << 4 | (uint32_t)(h <= '9' ? h - '0' :
			    (h | 0x20) - 'a' + 10);
		}
		c->nc = n;
		return once(&x->seen, 0x400, why);
	}
	if (slice_caseeq_cstr(name, "userhash")) {
		c->userhash = value_true(v);
		return once(&x->seen, 0x800, why);
	}
	return 0;
}

int
sip_auth_credentials_parse(struct sip_auth_credentials *c,
    struct slice value, const char **why)
{
	struct cred_ctx x = { c, { 0 }, false, false };
	struct slice scheme, params, more;
	int error;

	memset(c, 0, sizeof(*c));
	c->algorithm = SIP_AUTH_ALG_MD5;
	if ((error = parse_auth(value, &c->scheme, &scheme, &params, &more,
	    cred_param, &x, why)) != 0)
		return error;
	c->scheme_name = scheme;
	c->params = params;
	if (more.n > 0) {
		*why = "more than one set of credentials";
		return EBADMSG;
	}
	if (c->scheme != SIP_AUTH_SCHEME_DIGEST)
		return 0;
	if (x.bad_qop) {
		*why = "unknown qop in credentials";
		return EBADMSG;
	}
	if (x.bad_nc || (slice_present(c->nc_text) && c->nc == 0)) {
		*why = "bad nc";
		return EBADMSG;
	}
	if (!slice_present(c->username) && !slice_present(c->username_ext)) {
		*why = "credentials without username";
		return EBADMSG;
	}
	if (!slice_present(c->realm)) {
		*why = "credentials without realm";
		return EBADMSG;
	}
	if (!slice_present(c->nonce)) {
		*why = "credentials without nonce";
		return EBADMSG;
	}
	if (!slice_present(c->uri)) {
		*why = "credentials without uri";
		return EBADMSG;
	}
	if (!slice_present(c->response)) {
		*why = "credentials without response";
		return EBADMSG;
	}
	if (c->qop != SIP_AUTH_QOP_NONE && !slice_present(c->cnonce)) {
		*why = "qop without cnonce";
		return EBADMSG;
	}
	if (c->qop != SIP_AUTH_QOP_NONE && !slice_present(c->nc_text)) {
		*why = "qop without nc";
		return EBADMSG;
	}
	return 0;
}

/* ---- computation (RFC 7616 §3.4) ---------------------------------------- */

struct hash {
	const EVP_MD	*md;
	EVP_MD_CTX	*ctx;
	bool		 failed;
};

static void
h_begin(struct hash *h)
{
	if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
		h->failed = true;
}

static void
h_add(struct hash *h, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		h->failed = true;
}

static void
h_adds(struct hash *h, const char *s)
{
	h_add(h, s, strlen(s));
}

static void
h_colon(struct hash *h)
{
	h_add(h, ":", 1);
}

/* Feeds unq(raw), as sip_auth_unquote() writes it, without a copy. */
static void
h_add_unq(struct hash *h, struct slice raw)
{
	size_t i = 0, run = 0;

	while (i < raw.n) {
		char c = raw.p[i];

		if (c == '\\' || c == '\r' || c == '\n') {
			h_add(h, raw.p + run, i - run);
			if (c == '\\' && i + 1 < raw.n) {
				h_add(h, raw.p + i + 1, 1);
				i++;
			}
			run = ++i;
			continue;
		}
		i++;
	}
	h_add(h, raw.p + run, raw.n - run);
}

static void
h_end(struct hash *h, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 ||
	    n * 2 > SIP_AUTH_HEX_MAX) {
		h->failed = true;
		n = 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[2 * n] = '\0';
}

static bool
hash_open(struct hash *h, enum sip_auth_alg alg)
{
	h->failed = false;
	if ((h->md = alg_md(alg)) == NULL)
		return false;
	if ((h->ctx = EVP_MD_CTX_new()) == NULL)
		fatalx("out of memory (EVP_MD_CTX_new)");
	return true;
}

int
sip_auth_ha1(char out[SIP_AUTH_HEX_MAX + 1], enum sip_auth_alg alg,
    struct slice username, struct slice realm, struct slice password)
{
	struct hash h;

	if (!hash_open(&h, alg))
		return ENOTSUP;
	h_begin(&h);
	h_add(&h, username.p, username.n);
	h_colon(&h);
	h_add(&h, realm.p, realm.n);
	h_colon(&h);
	h_add(&h, password.p, password.n);
	h_end(&h, out);
	EVP_MD_CTX_free(h.ctx);
	return h.failed ? EIO : 0;
}

/* Bytes that may go between quotes once '"' and '\' are escaped. */
static bool
quotable(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (is_ctl(s.p[i]) && s.p[i] != '\t')
			return false;
	return true;
}

static void
put_quoted(struct strbuf *sb, struct slice s)
{
	size_t run = 0;

	strbuf_addc(sb, '"');
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\') {
			strbuf_add(sb, s.p + run, i - run);
			strbuf_addc(sb, '\\');
			run = i;
		}
	}
	strbuf_add(sb, s.p + run, s.n - run);
	strbuf_addc(sb, '"');
}

/* A value from a parsed challenge, quoted anew in canonical form. */
static void
put_requoted(struct strbuf *sb, struct strbuf *tmp, struct slice raw)
{
	strbuf_reset(tmp);
	sip_auth_unquote(tmp, raw);
	put_quoted(sb, slice_make(tmp->p != NULL ? tmp->p : "", tmp->n));
}

static enum sip_auth_qop
choose_qop(const struct sip_auth_challenge *c)
{
	if (!slice_present(c->qop))
		return SIP_AUTH_QOP_NONE;
	if (c->qop_options & SIP_AUTH_QOPF_AUTH)
		return SIP_AUTH_QOP_AUTH;
	return SIP_AUTH_QOP_AUTH_INT;
}

static bool
same_hash(enum sip_auth_alg a, enum sip_auth_alg b)
{
	return alg_md(a) != NULL && alg_md(a) == alg_md(b);
}

static int
check_request(const struct sip_auth_challenge *c,
    const struct sip_auth_request *r, enum sip_auth_qop qop, size_t hexlen)
{
	if (!quotable(r->username) || !quotable(r->uri))
		return EINVAL;
	if (qop != SIP_AUTH_QOP_NONE &&
	    (r->cnonce.n == 0 || !quotable(r->cnonce) || r->nc == 0))
		return EINVAL;
	if (slice_present(r->ha1)) {
		if (!same_hash(r->ha1_alg, c->algorithm))
			return ENOTSUP;
		if (r->ha1.n != hexlen)
			return EINVAL;
		for (size_t i = 0; i < r->ha1.n; i++)
			if (!is_hex(r->ha1.p[i]))
				return EINVAL;
	}
	return 0;
}

int
sip_auth_respond(struct strbuf *out, const struct sip_auth_challenge *c,
    const struct sip_auth_request *r, struct sip_auth_answer *ans)
{
	char ha1[SIP_AUTH_HEX_MAX + 1], ha2[SIP_AUTH_HEX_MAX + 1];
	char resp[SIP_AUTH_HEX_MAX + 1], uhash[SIP_AUTH_HEX_MAX + 1];
	char hbody[SIP_AUTH_HEX_MAX + 1], nc[9];
	struct strbuf tmp = STRBUF_INIT;
	enum sip_auth_qop qop;
	struct hash h;
	size_t hexlen;
	bool userhash;
	int error;

	if (!sip_auth_challenge_usable(c) || !hash_open(&h, c->algorithm))
		return ENOTSUP;
	hexlen = 2 * (size_t)EVP_MD_size(h.md);
	qop = choose_qop(c);
	if ((error = check_request(c, r, qop, hexlen)) != 0)
		goto out;
	snprintf(nc, sizeof(nc), "%08x", (unsigned)r->nc);

	/* A1 = unq(username) ":" unq(realm) ":" passwd */
	if (slice_present(r->ha1)) {
		for (size_t i = 0; i < hexlen; i++)
			ha1[i] = (char)(r->ha1.p[i] | 0x20);	/* lower */
		ha1[hexlen] = '\0';
	} else {
		h_begin(&h);
		h_add(&h, r->username.p, r->username.n);
		h_colon(&h);
		h_add_unq(&h, c->realm);
		h_colon(&h);
		h_add(&h, r->password.p, r->password.n);
		h_end(&h, ha1);
	}
	/* -sess: A1 = H(...) ":" unq(nonce) ":" unq(cnonce) */
	if (alg_is_sess(c->algorithm)) {
		h_begin(&h);
		h_add(&h, ha1, hexlen);
		h_colon(&h);
		h_add_unq(&h, c->nonce);
		h_colon(&h);
		h_add(&h, r->cnonce.p, r->cnonce.n);
		h_end(&h, ha1);
	}
	/* A2 = Method ":" request-uri [":" H(entity-body)] */
	if (qop == SIP_AUTH_QOP_AUTH_INT) {
		h_begin(&h);
		h_add(&h, r->body.p, r->body.n);
		h_end(&h, hbody);
	}
	h_begin(&h);
	h_add(&h, r->method.p, r->method.n);
	h_colon(&h);
	h_add(&h, r->uri.p, r->uri.n);
	if (qop == SIP_AUTH_QOP_AUTH_INT) {
		h_colon(&h);
		h_adds(&h, hbody);
	}
	h_end(&h, ha2);
	/* response = KD(H(A1), unq(nonce) [":" nc ":" unq(cnonce) ":" qop]
	 * ":" H(A2)); without qop the RFC 2069 form. */
	h_begin(&h);
	h_adds(&h, ha1);
	h_colon(&h);
	h_add_unq(&h, c->nonce);
	if (qop != SIP_AUTH_QOP_NONE) {
		h_colon(&h);
		h_adds(&h, nc);
		h_colon(&h);
		h_add(&h, r->cnonce.p, r->cnonce.n);
		h_colon(&h);
		h_adds(&h, sip_auth_qop_name(qop));
	}
	h_colon(&h);
	h_adds(&h, ha2);
	h_end(&h, resp);
	/* RFC 7616 §3.4.4: username = H(unq(username) ":" unq(realm)) */
	userhash = r->userhash && c->userhash;
	if (userhash) {
		h_begin(&h);
		h_add(&h, r->username.p, r->username.n);
		h_colon(&h);
		h_add_unq(&h, c->realm);
		h_end(&h, uhash);
	}
	if (h.failed) {
		error = EIO;
		goto out;
	}

	strbuf_adds(out, "Digest username=");
	if (userhash)
		strbuf_addf(out, "\"%s\"", uhash);
	else
		put_quoted(out, r->username);
	strbuf_adds(out, ", realm=");
	put_requoted(out, &tmp, c->realm);
	strbuf_adds(out, ", nonce=");
	put_requoted(out, &tmp, c->nonce);
	strbuf_adds(out, ", uri=");
	put_quoted(out, r->uri);
	strbuf_addf(out, ", response=\"%s\", algorithm=%s", resp,
	    sip_auth_alg_name(c->algorithm));
	if (qop != SIP_AUTH_QOP_NONE) {
		strbuf_adds(out, ", cnonce=");
		put_quoted(out, r->cnonce);
	}
	if (slice_present(c->opaque)) {
		strbuf_adds(out, ", opaque=");
		put_requoted(out, &tmp, c->opaque);
	}
	if (qop != SIP_AUTH_QOP_NONE)
		strbuf_addf(out, ", qop=%s, nc=%s", sip_auth_qop_name(qop), nc);
	if (userhash)
		strbuf_adds(out, ", userhash=true");
	if (ans != NULL) {
		ans->qop = qop;
		memcpy(ans->response, resp, sizeof(resp));
	}
out:
	strbuf_free(&tmp);
	EVP_MD_CTX_free(h.ctx);
	return error;
}

int
sip_auth_cnonce(char out[2 * SIP_AUTH_CNONCE_BYTES + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[SIP_AUTH_CNONCE_BYTES];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		out[0] = '\0';
		return EIO;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0x0f];
	}
	out[2 * sizeof(b)] = '\0';
	return 0;
}

/* ---- nonce count (RFC 7616 §3.4: nc counts requests per nonce) ---------- */

uint32_t
sip_auth_nc_next(struct sip_auth_nc *s, struct slice nonce)
{
	if (s->nonce != NULL && slice_eq(slice_make(s->nonce, s->nonce_len),
	    nonce)) {
		if (s->nc == UINT32_MAX)
			return 0;
		return ++s->nc;
	}
	free(s->nonce);
	s->nonce = xmalloc(nonce.n + 1);
	if (nonce.n > 0)
		memcpy(s->nonce, nonce.p, nonce.n);
	s->nonce[nonce.n] = '\0';
	s->nonce_len = nonce.n;
	s->nc = 1;
	return 1;
}

void
sip_auth_nc_reset(struct sip_auth_nc *s)
{
	free(s->nonce);
	s->nonce = NULL;
	s->nonce_len = 0;
	s->nc = 0;
}
