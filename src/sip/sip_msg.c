/*
 * SIP message parser (see sip_msg.h).
 *
 * One pass over the bytes: the start line, then each header field
 * (joining folded lines), handing each value to its typed parser as soon
 * as its id is known.  Values keep their folding; the typed parsers treat
 * CR and LF inside a value as whitespace, which is what folding means
 * (RFC 3261 §7.3.1).  Every typed field is a slice of the buffer; arrays
 * come from the message's arena.  Nothing here logs or allocates beyond
 * the message and its arena.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "sip_msg.h"

/* Character classes, RFC 3261 §25.1. */
enum {
	C_TOKEN = 1 << 0,	/* token */
	C_WS = 1 << 1,		/* SP HTAB CR LF (LWS inside a value) */
	C_DIGIT = 1 << 2,
	C_HOST = 1 << 3,	/* hostname and IPv4 characters */
	C_WORD = 1 << 4,	/* word (Call-ID) */
};

static unsigned char cc[256];

static void
cc_init(void)
{
	static const char token_extra[] = "-.!%*_+`'~";
	static const char word_extra[] = "-.!%*_+`'~()<>:\\\"/[]?{}";

	for (int c = 0; c < 256; c++) {
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (alnum)
			cc[c] |= C_TOKEN | C_HOST | C_WORD;
		if (c >= '0' && c <= '9')
			cc[c] |= C_DIGIT;
	}
	for (const char *p = token_extra; *p; p++)
		cc[(unsigned char)*p] |= C_TOKEN;
	for (const char *p = word_extra; *p; p++)
		cc[(unsigned char)*p] |= C_WORD;
	cc['-'] |= C_HOST;
	cc['.'] |= C_HOST;
	cc[' '] |= C_WS;
	cc['\t'] |= C_WS;
	cc['\r'] |= C_WS;
	cc['\n'] |= C_WS;
}

static inline bool
is(unsigned char c, unsigned cls)
{
	return (cc[c] & cls) != 0;
}

/* Parse state for one header value: a cursor and the error slot. */
struct cur {
	const char	*p;
	const char	*e;
};

static inline void
ws(struct cur *c)
{
	while (c->p < c->e && is((unsigned char)*c->p, C_WS))
		c->p++;
}

static inline bool
at_end(struct cur *c)
{
	ws(c);
	return c->p >= c->e;
}

static inline bool
eat(struct cur *c, char ch)
{
	ws(c);
	if (c->p < c->e && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static struct slice
token(struct cur *c)
{
	const char *s;

	ws(c);
	s = c->p;
	while (c->p < c->e && is((unsigned char)*c->p, C_TOKEN))
		c->p++;
	return slice_make(s, (size_t)(c->p - s));
}

/*
 * A quoted string (cursor on the opening quote): the slice is the text
 * between the quotes, escapes kept.  False if unterminated.
 */
static bool
quoted(struct cur *c, struct slice *out)
{
	const char *s = ++c->p;

	while (c->p < c->e) {
		char ch = *c->p;

		if (ch == '"') {
			*out = slice_make(s, (size_t)(c->p - s));
			c->p++;
			return true;
		}
		if (ch == '\\') {
			if (c->p + 1 >= c->e)
				return false;
			c->p += 2;
			continue;
		}
		c->p++;
	}
	return false;
}

static bool
u64_of(struct slice s, uint64_t max, uint64_t *out)
{
	return slice_to_u64(s, max, out) == 0;
}

/*
 * A delta-seconds value (Expires, Retry-After…): digits only, and a
 * number above max is max.  A registrar granting "forever" as
 * 4294967296 still granted something; refusing the whole response
 * would turn its answer into a timeout.
 */
static bool
u64_sat(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		if (n <= max)
			n = n * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = n > max ? max : n;
	return true;
}

static struct slice
digits(struct cur *c)
{
	const char *s;

	ws(c);
	s = c->p;
	while (c->p < c->e && is((unsigned char)*c->p, C_DIGIT))
		c->p++;
	return slice_make(s, (size_t)(c->p - s));
}

/* ---- parameters ------------------------------------------------------- */

/* gen-value = token / host / quoted-string (host covers [IPv6]). */
static bool
param_value(struct cur *c, struct slice *out)
{
	const char *s;

	ws(c);
	if (c->p < c->e && *c->p == '"')
		return quoted(c, out);
	s = c->p;
	if (c->p < c->e && *c->p == '[') {
		while (c->p < c->e && *c->p != ']')
			c->p++;
		if (c->p >= c->e)
			return false;
		c->p++;
	} else {
		while (c->p < c->e && (is((unsigned char)*c->p, C_TOKEN) ||
		    *c->p == ':'))
			c->p++;
	}
	*out = slice_make(s, (size_t)(c->p - s));
	return out->n > 0;
}

/*
 * *( SEMI generic-param ).  Stops before ',' or the end.  Empty
 * parameters (";;") are an error, as RFC 4475 badinv01 expects.
 */
static bool
params(struct sip_msg *m, struct cur *c, struct sip_params *out)
{
	struct sip_param tmp[SIP_MSG_PARAMS_MAX];
	unsigned n = 0;

	while (eat(c, ';')) {
		struct sip_param *p;

		if (n == SIP_MSG_PARAMS_MAX)
			return false;
		p = &tmp[n++];
		p->name = token(c);
		if (p->name.n == 0)
			return false;
		p->value = SLICE_NULL;
		if (eat(c, '=') && !param_value(c, &p->value))
			return false;
	}
	out->n = n;
	out->v = NULL;
	if (n > 0) {
		out->v = arena_alloc(&m->arena, n * sizeof(*out->v));
		memcpy(out->v, tmp, n * sizeof(*out->v));
	}
	return true;
}

bool
sip_params_get(const struct sip_params *ps, const char *name,
    struct slice *value)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < ps->n; i++) {
		if (ps->v[i].name.n == n &&
		    strncasecmp(ps->v[i].name.p, name, n) == 0) {
			if (value != NULL)
				*value = ps->v[i].value;
			return true;
		}
	}
	return false;
}

/* ---- hosts ------------------------------------------------------------ */

/* host = hostname / IPv4address / IPv6reference, checked loosely here
 * (full checks live in the URI parser); enough to refuse garbage. */
static bool
host(struct cur *c, struct slice *out)
{
	const char *s;

	ws(c);
	s = c->p;
	if (c->p < c->e && *c->p == '[') {
		while (c->p < c->e && *c->p != ']') {
			char ch = *c->p;

			if (!(is((unsigned char)ch, C_HOST) || ch == ':' ||
			    ch == '['))
				return false;
			c->p++;
		}
		if (c->p >= c->e)
			return false;
		c->p++;
	} else {
		while (c->p < c->e && is((unsigned char)*c->p, C_HOST))
			c->p++;
	}
	*out = slice_make(s, (size_t)(c->p - s));
	return out->n > 0;
}

static bool
port(struct cur *c, uint16_t *out)
{
	uint64_t v;

	*out = 0;
	if (!eat(c, ':'))
		return true;
	if (!u64_of(digits(c), 65535, &v) || v == 0)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* ---- typed headers ---------------------------------------------------- */

#define FAIL(why)	do { *reason = (why); return false; } while (0)

/* Grows a message-owned array by one element (arena, doubling). */
static void *
grow(struct sip_msg *m, void *v, unsigned n, unsigned *cap, size_t size)
{
	void *nv;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 4;
	nv = arena_alloc(&m->arena, *cap * size);
	if (n > 0)
		memcpy(nv, v, n * size);
	return nv;
}

struct caps {
	unsigned	via, contact, route, record_route;
	unsigned	www, proxy, authz, pauthz;
};

static bool
parse_via(struct sip_msg *m, struct caps *caps, struct cur *c,
    const char **reason)
{
	do {
		struct sip_via *v;
		struct slice name, ver;

		if (m->nvia == SIP_MSG_LIST_MAX)
			FAIL("too many Via entries");
		m->via = grow(m, m->via, m->nvia, &caps->via, sizeof(*v));
		v = &m->via[m->nvia++];
		memset(v, 0, sizeof(*v));
		v->ttl = -1;
		v->rport_value = -1;
		name = token(c);
		if (!eat(c, '/'))
			FAIL("bad Via: no protocol");
		ver = token(c);
		if (!slice_caseeq_cstr(name, "SIP") ||
		    !slice_eq_cstr(ver, "2.0"))
			FAIL("bad Via: not SIP/2.0");
		v->protocol = slice_make(name.p, (size_t)(ver.p + ver.n -
		    name.p));
		if (!eat(c, '/'))
			FAIL("bad Via: no transport");
		v->transport = token(c);
		if (v->transport.n == 0)
			FAIL("bad Via: no transport");
		if (!host(c, &v->host))
			FAIL("bad Via: bad sent-by host");
		if (!port(c, &v->port))
			FAIL("bad Via: bad port");
		if (!params(m, c, &v->params))
			FAIL("bad Via: bad parameter");
		for (unsigned i = 0; i < v->params.n; i++) {
			struct sip_param *p = &v->params.v[i];
			uint64_t n;

			if (slice_caseeq_cstr(p->name, "branch"))
				v->branch = p->value;
			else if (slice_caseeq_cstr(p->name, "received"))
				v->received = p->value;
			else if (slice_caseeq_cstr(p->name, "maddr"))
				v->maddr = p->value;
			else if (slice_caseeq_cstr(p->name, "ttl")) {
				if (!u64_of(p->value, 255, &n))
					FAIL("bad Via: bad ttl");
				v->ttl = (int)n;
			} else if (slice_caseeq_cstr(p->name, "rport")) {
				v->rport = true;
				if (p->value.n > 0) {
					if (!u64_of(p->value, 65535, &n))
						FAIL("bad Via: bad rport");
					v->rport_value = (int32_t)n;
				}
			}
		}
	} while (eat(c, ','));
	if (!at_end(c))
		FAIL("bad Via: trailing characters");
	return true;
}

/* An unquoted display name: tokens separated by LWS. */
static bool
display_tokens(struct cur *c, struct slice *out)
{
	const char *s, *last;

	ws(c);
	s = last = c->p;
	for (;;) {
		struct slice t = token(c);

		if (t.n == 0)
			break;
		last = t.p + t.n;
	}
	*out = slice_make(s, (size_t)(last - s));
	return true;
}

/*
 * name-addr / addr-spec with header parameters (From, To, Contact,
 * Route, Record-Route, Refer-To).  In addr-spec form the URI ends at the
 * first ';', ',' or whitespace and may not carry '?' headers (§20: such
 * a URI must be in angle brackets).
 */
static bool
parse_nameaddr(struct sip_msg *m, struct cur *c, struct sip_nameaddr *na,
    bool list, const char **reason)
{
	const char *why;

	memset(na, 0, sizeof(*na));
	ws(c);
	if (c->p < c->e && *c->p == '"') {
		if (!quoted(c, &na->display))
			FAIL("unterminated quoted display name");
		if (!eat(c, '<'))
			FAIL("quoted display name without <URI>");
		na->angle = true;
	} else {
		struct cur probe = *c;

		display_tokens(&probe, &na->display);
		if (eat(&probe, '<')) {
			*c = probe;
			na->angle = true;
		} else {
			na->display = SLICE_NULL;
		}
	}
	if (na->angle) {
		const char *s = c->p;

		while (c->p < c->e && *c->p != '>')
			c->p++;
		if (c->p >= c->e)
			FAIL("unterminated <URI>");
		na->uri_str = slice_make(s, (size_t)(c->p - s));
		c->p++;
	} else {
		const char *s;

		ws(c);
		s = c->p;
		while (c->p < c->e && *c->p != ';' && !(list && *c->p == ',')
		    && !is((unsigned char)*c->p, C_WS))
			c->p++;
		na->uri_str = slice_make(s, (size_t)(c->p - s));
		if (memchr(s, '?', na->uri_str.n) != NULL)
			FAIL("URI with headers outside <>");
		if (na->uri_str.n > 0 && memchr(s, '"', na->uri_str.n))
			FAIL("bad display name");
	}
	if (na->uri_str.n == 0)
		FAIL("empty URI");
	if (sip_uri_parse(&na->uri, na->uri_str.p, na->uri_str.n, &why) != 0)
		FAIL(why);
	if (!params(m, c, &na->params))
		FAIL("bad header parameter");
	/* tag-param = "tag" EQUAL token: never empty. */
	if (sip_params_get(&na->params, "tag", &na->tag) && na->tag.n == 0)
		FAIL("tag without a value");
	return true;
}

static bool
parse_single_nameaddr(struct sip_msg *m, struct cur *c,
    struct sip_nameaddr *na, const char **reason)
{
	if (!parse_nameaddr(m, c, na, false, reason))
		return false;
	if (!at_end(c))
		FAIL("trailing characters after the address");
	return true;
}

static bool
parse_nameaddr_list(struct sip_msg *m, struct cur *c,
    struct sip_nameaddr **v, unsigned *n, unsigned *cap,
    const char **reason)
{
	do {
		if (*n == SIP_MSG_LIST_MAX)
			FAIL("too many addresses in one header");
		*v = grow(m, *v, *n, cap, sizeof(**v));
		if (!parse_nameaddr(m, c, &(*v)[*n], true, reason))
			return false;
		(*n)++;
	} while (eat(c, ','));
	if (!at_end(c))
		FAIL("trailing characters after the address list");
	return true;
}

/* q-value: 0[.ddd] or 1[.000], as thousandths. */
static int
qvalue(struct slice s)
{
	int q, scale = 100;

	if (s.n == 0 || (s.p[0] != '0' && s.p[0] != '1'))
		return -1;
	q = (s.p[0] - '0') * 1000;
	if (s.n == 1)
		return q;
	if (s.p[1] != '.' || s.n > 5)
		return -1;
	for (size_t i = 2; i < s.n; i++, scale /= 10) {
		if (!is((unsigned char)s.p[i], C_DIGIT))
			return -1;
		q += (s.p[i] - '0') * scale;
	}
	return q <= 1000 ? q : -1;
}

static bool
parse_contact(struct sip_msg *m, struct caps *caps, struct cur *c,
    const char **reason)
{
	if (eat(c, '*')) {
		if (!at_end(c) || m->ncontact > 0)
			FAIL("Contact '*' mixed with addresses");
		m->contact_star = true;
		return true;
	}
	if (m->contact_star)
		FAIL("Contact '*' mixed with addresses");
	do {
		struct sip_contact *ct;
		struct slice v;
		uint64_t n;

		if (m->ncontact == SIP_MSG_LIST_MAX)
			FAIL("too many Contact addresses");
		m->contact = grow(m, m->contact, m->ncontact, &caps->contact,
		    sizeof(*ct));
		ct = &m->contact[m->ncontact++];
		if (!parse_nameaddr(m, c, &ct->addr, true, reason))
			return false;
		ct->expires = -1;
		ct->q = -1;
		if (sip_params_get(&ct->addr.params, "expires", &v)) {
			if (!u64_sat(v, UINT32_MAX, &n))
				FAIL("bad Contact expires");
			ct->expires = (int64_t)n;
		}
		if (sip_params_get(&ct->addr.params, "q", &v) &&
		    (ct->q = qvalue(v)) < 0)
			FAIL("bad Contact q");
	} while (eat(c, ','));
	if (!at_end(c))
		FAIL("trailing characters after Contact");
	return true;
}

static bool
parse_cseq(struct sip_msg *m, struct cur *c, const char **reason)
{
	uint64_t n;

	if (!u64_of(digits(c), UINT32_MAX, &n))
		FAIL("bad CSeq number");
	m->cseq.num = (uint32_t)n;
	m->cseq.method_str = token(c);
	if (m->cseq.method_str.n == 0 || !at_end(c))
		FAIL("bad CSeq method");
	m->cseq.method = sip_method_from(m->cseq.method_str);
	return true;
}

/* A single non-negative integer value (Max-Forwards, Expires, …). */
static bool
parse_uint(struct cur *c, uint64_t max, int64_t *out)
{
	uint64_t n;

	if (!u64_of(digits(c), max, &n) || !at_end(c))
		return false;
	*out = (int64_t)n;
	return true;
}

/* As parse_uint, a delta-seconds above max being max (u64_sat). */
static bool
parse_delta(struct cur *c, uint64_t max, int64_t *out)
{
	uint64_t n;

	if (!u64_sat(digits(c), max, &n) || !at_end(c))
		return false;
	*out = (int64_t)n;
	return true;
}

/* Comma-separated elements kept as trimmed slices (Allow, Accept…). */
static bool
parse_tokens(struct sip_msg *m, struct cur *c, struct sip_tokens *t)
{
	struct slice tmp[SIP_MSG_LIST_MAX];
	unsigned n = 0;

	for (;;) {
		const char *s;
		struct slice el;

		ws(c);
		s = c->p;
		while (c->p < c->e && *c->p != ',')
			c->p++;
		el = slice_trim(slice_make(s, (size_t)(c->p - s)));
		if (el.n > 0) {
			if (t->n + n == SIP_MSG_LIST_MAX)
				return false;
			tmp[n++] = el;
		}
		if (c->p >= c->e)
			break;
		c->p++;
	}
	if (n > 0) {
		struct slice *v = arena_alloc(&m->arena,
		    (t->n + n) * sizeof(*v));

		if (t->n > 0)
			memcpy(v, t->v, t->n * sizeof(*v));
		memcpy(v + t->n, tmp, n * sizeof(*v));
		t->v = v;
		t->n += n;
	}
	return true;
}

static bool
parse_tokens_or(struct sip_msg *m, struct cur *c, struct sip_tokens *t,
    const char *why, const char **reason)
{
	if (!parse_tokens(m, c, t))
		FAIL(why);
	return true;
}

static bool
parse_ctype(struct sip_msg *m, struct cur *c, const char **reason)
{
	m->content_type.type = token(c);
	if (m->content_type.type.n == 0 || !eat(c, '/'))
		FAIL("bad Content-Type");
	m->content_type.subtype = token(c);
	if (m->content_type.subtype.n == 0 ||
	    !params(m, c, &m->content_type.params) || !at_end(c))
		FAIL("bad Content-Type");
	m->has_content_type = true;
	return true;
}

/* Every challenge in a WWW-/Proxy-Authenticate value (sip_auth.c). */
static bool
parse_challenges(struct sip_msg *m, struct slice value,
    struct sip_auth_challenge **v, unsigned *n, unsigned *cap,
    const char **reason)
{
	struct slice rest = value;

	do {
		if (*n == SIP_MSG_LIST_MAX)
			FAIL("too many authentication challenges");
		*v = grow(m, *v, *n, cap, sizeof(**v));
		if (sip_auth_challenge_parse(&(*v)[*n], rest, &rest,
		    reason) != 0)
			return false;
		(*n)++;
	} while (rest.n > 0);
	return true;
}

static bool
parse_credentials(struct sip_msg *m, struct slice value,
    struct sip_auth_credentials **v, unsigned *n, unsigned *cap,
    const char **reason)
{
	if (*n == SIP_MSG_LIST_MAX)
		FAIL("too many credentials");
	*v = grow(m, *v, *n, cap, sizeof(**v));
	if (sip_auth_credentials_parse(&(*v)[*n], value, reason) != 0)
		return false;
	(*n)++;
	return true;
}

static bool
parse_retry_after(struct sip_msg *m, struct cur *c, const char **reason)
{
	uint64_t n;

	if (!u64_sat(digits(c), UINT32_MAX, &n))
		FAIL("bad Retry-After");
	m->retry_after.seconds = (uint32_t)n;
	ws(c);
	if (c->p < c->e && *c->p == '(') {
		const char *s = ++c->p;
		int depth = 1;

		while (c->p < c->e && depth > 0) {
			if (*c->p == '(')
				depth++;
			else if (*c->p == ')')
				depth--;
			else if (*c->p == '\\')
				c->p++;
			c->p++;
		}
		if (depth != 0)
			FAIL("bad Retry-After comment");
		m->retry_after.comment = slice_make(s, (size_t)(c->p - 1 - s));
	}
	if (!params(m, c, &m->retry_after.params) || !at_end(c))
		FAIL("bad Retry-After");
	m->has_retry_after = true;
	return true;
}

static bool
parse_event(struct sip_msg *m, struct cur *c, const char **reason)
{
	m->event.package = token(c);
	if (m->event.package.n == 0 || !params(m, c, &m->event.params) ||
	    !at_end(c))
		FAIL("bad Event");
	sip_params_get(&m->event.params, "id", &m->event.id);
	m->has_event = true;
	return true;
}

static bool
parse_substate(struct sip_msg *m, struct cur *c, const char **reason)
{
	struct sip_substate *s = &m->substate;
	struct slice v;
	uint64_t n;

	s->state = token(c);
	if (s->state.n == 0 || !params(m, c, &s->params) || !at_end(c))
		FAIL("bad Subscription-State");
	s->expires = s->retry_after = -1;
	if (sip_params_get(&s->params, "expires", &v)) {
		if (!u64_sat(v, UINT32_MAX, &n))
			FAIL("bad Subscription-State expires");
		s->expires = (int64_t)n;
	}
	if (sip_params_get(&s->params, "retry-after", &v)) {
		if (!u64_sat(v, UINT32_MAX, &n))
			FAIL("bad Subscription-State retry-after");
		s->retry_after = (int64_t)n;
	}
	sip_params_get(&s->params, "reason", &s->reason);
	m->has_substate = true;
	return true;
}

/* Headers that may appear once only (RFC 4475 multi01). */
static bool
once(struct sip_msg *m, enum sip_hdr_id id, const char **reason)
{
	static const char *const dup[SIP_HDR__COUNT] = {
		[SIP_HDR_FROM] = "more than one From",
		[SIP_HDR_TO] = "more than one To",
		[SIP_HDR_CALL_ID] = "more than one Call-ID",
		[SIP_HDR_CSEQ] = "more than one CSeq",
		[SIP_HDR_MAX_FORWARDS] = "more than one Max-Forwards",
		[SIP_HDR_CONTENT_TYPE] = "more than one Content-Type",
		[SIP_HDR_EXPIRES] = "more than one Expires",
	};

	for (unsigned i = 0; i + 1 < m->nhdrs; i++)
		if (m->hdrs[i].id == id)
			FAIL(dup[id]);
	return true;
}

static bool
parse_typed(struct sip_msg *m, struct caps *caps, struct sip_hdr *h,
    const char **reason)
{
	struct cur c = { h->value.p, h->value.p + h->value.n };
	int64_t v;

	switch (h->id) {
	case SIP_HDR_VIA:
		return parse_via(m, caps, &c, reason);
	case SIP_HDR_FROM:
		return once(m, h->id, reason) &&
		    parse_single_nameaddr(m, &c, &m->from, reason);
	case SIP_HDR_TO:
		return once(m, h->id, reason) &&
		    parse_single_nameaddr(m, &c, &m->to, reason);
	case SIP_HDR_CALL_ID: {
		const char *s;

		if (!once(m, h->id, reason))
			return false;
		ws(&c);
		s = c.p;
		while (c.p < c.e && is((unsigned char)*c.p, C_WORD))
			c.p++;
		/* word [ "@" word ] */
		if (c.p < c.e && *c.p == '@') {
			c.p++;
			while (c.p < c.e && is((unsigned char)*c.p, C_WORD))
				c.p++;
		}
		m->call_id = slice_make(s, (size_t)(c.p - s));
		if (m->call_id.n == 0 || !at_end(&c))
			FAIL("bad Call-ID");
		return true;
	}
	case SIP_HDR_CSEQ:
		return once(m, h->id, reason) && parse_cseq(m, &c, reason);
	case SIP_HDR_MAX_FORWARDS:
		if (!once(m, h->id, reason))
			return false;
		if (!parse_uint(&c, 255, &v))
			FAIL("bad Max-Forwards");
		m->max_forwards = (int)v;
		return true;
	case SIP_HDR_CONTACT:
		return parse_contact(m, caps, &c, reason);
	case SIP_HDR_ROUTE:
		return parse_nameaddr_list(m, &c, &m->route, &m->nroute,
		    &caps->route, reason);
	case SIP_HDR_RECORD_ROUTE:
		return parse_nameaddr_list(m, &c, &m->record_route,
		    &m->nrecord_route, &caps->record_route, reason);
	case SIP_HDR_EXPIRES:
		if (!once(m, h->id, reason))
			return false;
		if (!parse_delta(&c, UINT32_MAX, &m->expires))
			FAIL("bad Expires");
		return true;
	case SIP_HDR_MIN_EXPIRES:
		if (!parse_delta(&c, UINT32_MAX, &m->min_expires))
			FAIL("bad Min-Expires");
		return true;
	case SIP_HDR_CONTENT_LENGTH:
		if (!parse_uint(&c, SIP_MSG_SIZE_MAX, &v))
			FAIL("bad Content-Length");
		/* Two different lengths: nobody knows where the body ends. */
		if (m->content_length >= 0 && m->content_length != v)
			FAIL("conflicting Content-Length values");
		m->content_length = v;
		return true;
	case SIP_HDR_CONTENT_TYPE:
		return once(m, h->id, reason) && parse_ctype(m, &c, reason);
	case SIP_HDR_ALLOW:
		return parse_tokens_or(m, &c, &m->allow,
		    "too many Allow values", reason);
	case SIP_HDR_SUPPORTED:
		return parse_tokens_or(m, &c, &m->supported,
		    "too many Supported values", reason);
	case SIP_HDR_REQUIRE:
		return parse_tokens_or(m, &c, &m->require,
		    "too many Require values", reason);
	case SIP_HDR_PROXY_REQUIRE:
		return parse_tokens_or(m, &c, &m->proxy_require,
		    "too many Proxy-Require values", reason);
	case SIP_HDR_UNSUPPORTED:
		return parse_tokens_or(m, &c, &m->unsupported,
		    "too many Unsupported values", reason);
	case SIP_HDR_ACCEPT:
		return parse_tokens_or(m, &c, &m->accept,
		    "too many Accept values", reason);
	case SIP_HDR_ALLOW_EVENTS:
		return parse_tokens_or(m, &c, &m->allow_events,
		    "too many Allow-Events values", reason);
	case SIP_HDR_WWW_AUTHENTICATE:
		return parse_challenges(m, h->value, &m->www_auth,
		    &m->nwww_auth, &caps->www, reason);
	case SIP_HDR_PROXY_AUTHENTICATE:
		return parse_challenges(m, h->value, &m->proxy_auth,
		    &m->nproxy_auth, &caps->proxy, reason);
	case SIP_HDR_AUTHORIZATION:
		return parse_credentials(m, h->value, &m->authorization,
		    &m->nauthorization, &caps->authz, reason);
	case SIP_HDR_PROXY_AUTHORIZATION:
		return parse_credentials(m, h->value, &m->proxy_authorization,
		    &m->nproxy_authorization, &caps->pauthz, reason);
	case SIP_HDR_RETRY_AFTER:
		return parse_retry_after(m, &c, reason);
	case SIP_HDR_EVENT:
		return parse_event(m, &c, reason);
	case SIP_HDR_SUBSCRIPTION_STATE:
		return parse_substate(m, &c, reason);
	case SIP_HDR_REFER_TO:
		m->has_refer_to = true;
		return parse_single_nameaddr(m, &c, &m->refer_to, reason);
	case SIP_HDR_USER_AGENT:
		m->user_agent = slice_trim(h->value);
		return true;
	case SIP_HDR_SERVER:
		m->server = slice_trim(h->value);
		return true;
	default:
		/* Kept verbatim; Date, Subject, unknown headers… */
		return true;
	}
}

/* ---- methods ---------------------------------------------------------- */

static const char *const sip_methods[] = {
	[SIP_METHOD_OTHER] = NULL,
	[SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",
	[SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_OPTIONS] = "OPTIONS",
	[SIP_METHOD_REGISTER] = "REGISTER",
	[SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_REFER] = "REFER",
	[SIP_METHOD_INFO] = "INFO",
	[SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_UPDATE] = "UPDATE",
	[SIP_METHOD_PUBLISH] = "PUBLISH",
};

/* Methods are case-sensitive (RFC 3261 §7.1). */
enum sip_method
sip_method_from(struct slice s)
{
	for (size_t i = 1; i < sizeof(sip_methods) / sizeof(sip_methods[0]);
	    i++)
		if (slice_eq_cstr(s, sip_methods[i]))
			return (enum sip_method)i;
	return SIP_METHOD_OTHER;
}

const char *
sip_method_name(enum sip_method m)
{
	return sip_methods[m];
}

/* ---- start line ------------------------------------------------------- */

static bool
version_ok(struct slice v, struct sip_parse_error *err)
{
	if (v.n == 7 && strncasecmp(v.p, "SIP/2.0", 7) == 0)
		return true;
	if (v.n >= 5 && strncasecmp(v.p, "SIP/", 4) == 0) {
		err->status = 505;
		err->reason = "Version Not Supported";
	} else {
		err->reason = "bad SIP version";
	}
	return false;
}

static bool
start_line(struct sip_msg *m, const char *p, const char *e,
    struct sip_parse_error *err)
{
	const char *sp1, *sp2;
	const char *why;

	sp1 = memchr(p, ' ', (size_t)(e - p));
	if (sp1 == NULL) {
		err->reason = "bad start line";
		return false;
	}
	if ((size_t)(e - p) >= 4 && strncasecmp(p, "SIP/", 4) == 0) {
		uint64_t code;

		m->request = false;
		err->request = false;
		if (!version_ok(slice_make(p, (size_t)(sp1 - p)), err)) {
			err->status = 0;
			return false;
		}
		if (e - sp1 < 4 || !u64_of(slice_make(sp1 + 1, 3), 999, &code)
		    || code < 100 || code > 699 ||
		    (e - sp1 > 4 && sp1[4] != ' ')) {
			err->reason = "bad status code";
			return false;
		}
		m->status = (unsigned)code;
		m->reason = e - sp1 > 4 ? slice_make(sp1 + 5,
		    (size_t)(e - sp1 - 5)) : slice_make(e, 0);
		for (size_t i = 0; i < m->reason.n; i++) {
			unsigned char ch = (unsigned char)m->reason.p[i];

			if (ch < 0x20 && ch != '\t') {
				err->reason = "bad reason phrase";
				return false;
			}
		}
		return true;
	}

	m->request = true;
	err->request = true;
	err->status = 400;
	m->method_str = slice_make(p, (size_t)(sp1 - p));
	for (const char *q = p; q < sp1; q++)
		if (!is((unsigned char)*q, C_TOKEN)) {
			err->reason = "bad method";
			return false;
		}
	if (m->method_str.n == 0) {
		err->reason = "bad method";
		return false;
	}
	m->method = sip_method_from(m->method_str);
	sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1) {
		err->reason = "bad Request-Line";
		return false;
	}
	/* Exactly "Method SP Request-URI SP SIP-Version": no extra SP. */
	if (memchr(sp2 + 1, ' ', (size_t)(e - sp2 - 1)) != NULL) {
		err->reason = "bad Request-Line: extra whitespace";
		return false;
	}
	if (!version_ok(slice_make(sp2 + 1, (size_t)(e - sp2 - 1)), err))
		return false;
	m->ruri_str = slice_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (sip_uri_parse(&m->ruri, m->ruri_str.p, m->ruri_str.n, &why) != 0) {
		err->reason = why;
		return false;
	}
	if (m->ruri.headers.n > 0) {
		err->reason = "Request-URI with headers";
		return false;
	}
	return true;
}

/* ---- message ---------------------------------------------------------- */

/* Required in every request (RFC 3261 §8.1.1); RFC 4475 insuf. */
static const char *
missing_header(const struct sip_msg *m)
{
	if (m->call_id.n == 0)
		return "missing Call-ID";
	if (m->cseq.method_str.n == 0)
		return "missing CSeq";
	if (m->from.uri_str.n == 0)
		return "missing From";
	if (m->to.uri_str.n == 0)
		return "missing To";
	if (m->nvia == 0)
		return "missing Via";
	return NULL;
}

static struct sip_msg *
sip_msg_new(const char *buf, size_t len, unsigned flags)
{
	struct sip_msg *m = xmalloc(sizeof(*m));

	/* Zero everything but the arena's inline block. */
	memset(m, 0, offsetof(struct sip_msg, arena));
	arena_init(&m->arena);
	m->buf = buf;
	m->len = len;
	m->owned = (flags & SIP_PARSE_BORROW) ? NULL : (char *)buf;
	m->max_forwards = -1;
	m->expires = -1;
	m->min_expires = -1;
	m->content_length = -1;
	return m;
}

void
sip_msg_free(struct sip_msg *m)
{
	if (m == NULL)
		return;
	arena_free(&m->arena);
	free(m->owned);
	free(m);
}

static int
fail(struct sip_msg *m, struct sip_parse_error *err, const char *reason,
    int rc)
{
	if (reason != NULL)
		err->reason = reason;
	sip_msg_free(m);
	return rc;
}

int
sip_msg_parse(const char *buf, size_t len, unsigned flags,
    struct sip_msg **out, struct sip_parse_error *err)
{
	static bool ready;
	struct sip_msg *m;
	struct caps caps = { 0 };
	const char *p = buf, *e = buf + len, *eol, *why = NULL;
	unsigned hcap = 0;

	if (!ready) {
		cc_init();
		ready = true;
	}
	*out = NULL;
	err->status = 0;
	err->reason = NULL;
	err->request = false;
	m = sip_msg_new(buf, len, flags);
	if (len > SIP_MSG_SIZE_MAX)
		return fail(m, err, "message too large", EMSGSIZE);

	/* Leading CRLFs are keepalives, not part of the message (§7.5). */
	while (p < e && (*p == '\r' || *p == '\n'))
		p++;
	eol = memchr(p, '\n', (size_t)(e - p));
	if (eol == NULL)
		return fail(m, err, "no end of start line", EBADMSG);
	if ((size_t)(eol - p) > SIP_MSG_LINE_MAX)
		return fail(m, err, "start line too long", EMSGSIZE);
	if (!start_line(m, p, eol > p && eol[-1] == '\r' ? eol - 1 : eol,
	    err))
		return fail(m, err, NULL, EBADMSG);
	if (m->request)
		err->status = 400;
	p = eol + 1;

	/* Header fields until the empty line. */
	for (;;) {
		const char *name, *colon, *line_end, *vstart;
		struct sip_hdr *h;

		if (p >= e)
			return fail(m, err, "no empty line after headers",
			    EBADMSG);
		if (*p == '\n') {
			p++;
			break;
		}
		if (*p == '\r' && p + 1 < e && p[1] == '\n') {
			p += 2;
			break;
		}
		if (*p == ' ' || *p == '\t')
			return fail(m, err, "folded line without a header",
			    EBADMSG);
		name = p;
		while (p < e && is((unsigned char)*p, C_TOKEN))
			p++;
		colon = p;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= e || *p != ':' || colon == name)
			return fail(m, err, "bad header line", EBADMSG);
		vstart = ++p;
		/* The value runs to a line end not followed by SP/HT. */
		for (;;) {
			line_end = memchr(p, '\n', (size_t)(e - p));
			if (line_end == NULL)
				return fail(m, err, "unterminated header",
				    EBADMSG);
			p = line_end + 1;
			if (p >= e || (*p != ' ' && *p != '\t'))
				break;
		}
		if (m->nhdrs == SIP_MSG_HDRS_MAX)
			return fail(m, err, "too many header fields",
			    EMSGSIZE);
		/* A CR not ending a line would split it for some peer. */
		for (const char *q = memchr(vstart, '\r',
		    (size_t)(line_end - vstart)); q != NULL;
		    q = memchr(q + 1, '\r', (size_t)(line_end - q - 1)))
			if (q[1] != '\n')
				return fail(m, err, "bare CR in a header",
				    EBADMSG);
		/* The field's length without its final CRLF. */
		if ((size_t)(line_end - name) - (line_end[-1] == '\r') >
		    SIP_MSG_LINE_MAX)
			return fail(m, err, "header field too long", EMSGSIZE);
		m->hdrs = grow(m, m->hdrs, m->nhdrs, &hcap, sizeof(*h));
		h = &m->hdrs[m->nhdrs++];
		h->name = slice_make(name, (size_t)(colon - name));
		h->id = sip_hdr_lookup(name, h->name.n);
		h->value = slice_trim(slice_make(vstart,
		    (size_t)(line_end - vstart)));
		if (!parse_typed(m, &caps, h, &why))
			return fail(m, err, why, EBADMSG);
	}

	/* Body: Content-Length bytes; on a datagram, the rest if absent. */
	if (m->content_length >= 0) {
		if ((size_t)m->content_length > (size_t)(e - p))
			return fail(m, err, "Content-Length larger than the "
			    "message", EBADMSG);
		m->body = slice_make(p, (size_t)m->content_length);
	} else if (flags & SIP_PARSE_STREAM) {
		return fail(m, err, "no Content-Length on a stream", EBADMSG);
	} else {
		m->body = slice_make(p, (size_t)(e - p));
	}
	m->len = (size_t)(m->body.p + m->body.n - buf);

	if ((why = missing_header(m)) != NULL)
		return fail(m, err, why, EBADMSG);
	if (m->request && !slice_eq(m->cseq.method_str, m->method_str))
		return fail(m, err, "CSeq method does not match the request",
		    EBADMSG);
	*out = m;
	return 0;
}

/* ---- stream framing --------------------------------------------------- */

/*
 * Finds the end of the header block, then Content-Length among the
 * headers (long or compact name, any case).  Only what framing needs:
 * the full parse happens on the framed message.
 */
enum sip_frame
sip_msg_frame(const char *p, size_t n, size_t *msglen, const char **why)
{
	static bool ready;
	const char *s = p, *e = p + n, *hdr_end, *q;
	int64_t cl = -1;

	if (!ready) {
		cc_init();
		ready = true;
	}
	/* RFC 5626 §3.5.1: CRLFCRLF ping, CRLF pong. */
	while (s < e && (*s == '\r' || *s == '\n'))
		s++;
	if (s > p) {
		*msglen = (size_t)(s - p);
		return SIP_FRAME_KEEPALIVE;
	}
	hdr_end = NULL;
	for (q = p; q + 1 < e; q++) {
		q = memchr(q, '\n', (size_t)(e - q));
		if (q == NULL || q + 1 >= e)
			break;
		if (q[1] == '\n') {
			hdr_end = q + 2;
			break;
		}
		if (q[1] == '\r' && q + 2 < e && q[2] == '\n') {
			hdr_end = q + 3;
			break;
		}
	}
	if (hdr_end == NULL) {
		if (n > SIP_MSG_SIZE_MAX) {
			*why = "header block larger than the message limit";
			return SIP_FRAME_ERROR;
		}
		return SIP_FRAME_NEED_MORE;
	}
	/* Scan header lines for Content-Length. */
	for (q = (const char *)memchr(p, '\n', (size_t)(hdr_end - p)) + 1;
	    q < hdr_end;) {
		const char *line_end = memchr(q, '\n', (size_t)(hdr_end - q));
		const char *name = q, *c;

		if (line_end == NULL)
			break;
		c = name;
		while (c < line_end && is((unsigned char)*c, C_TOKEN))
			c++;
		if (sip_hdr_lookup(name, (size_t)(c - name)) ==
		    SIP_HDR_CONTENT_LENGTH) {
			struct cur cu;
			int64_t v;

			while (c < line_end && (*c == ' ' || *c == '\t'))
				c++;
			if (c < line_end && *c == ':') {
				const char *ve = line_end;

				/* Folded continuation lines belong to it. */
				while (ve + 1 < hdr_end && (ve[1] == ' ' ||
				    ve[1] == '\t'))
					ve = memchr(ve + 1, '\n',
					    (size_t)(hdr_end - ve - 1));
				cu.p = c + 1;
				cu.e = ve;
				if (!parse_uint(&cu, SIP_MSG_SIZE_MAX, &v) ||
				    (cl >= 0 && cl != v)) {
					*why = "bad Content-Length";
					return SIP_FRAME_ERROR;
				}
				cl = v;
			}
		}
		q = line_end + 1;
	}
	if (cl < 0) {
		*why = "no Content-Length on a stream";
		return SIP_FRAME_ERROR;
	}
	if ((size_t)(hdr_end - p) + (size_t)cl > SIP_MSG_SIZE_MAX) {
		*why = "message larger than the limit";
		return SIP_FRAME_ERROR;
	}
	if ((size_t)(e - hdr_end) < (size_t)cl)
		return SIP_FRAME_NEED_MORE;
	*msglen = (size_t)(hdr_end - p) + (size_t)cl;
	return SIP_FRAME_MESSAGE;
}

/* ---- lookups ---------------------------------------------------------- */

const struct sip_hdr *
sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id, unsigned n)
{
	for (unsigned i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].id == id && n-- == 0)
			return &m->hdrs[i];
	return NULL;
}

const struct sip_hdr *
sip_msg_hdr_named(const struct sip_msg *m, const char *name)
{
	enum sip_hdr_id id = sip_hdr_lookup(name, strlen(name));

	for (unsigned i = 0; i < m->nhdrs; i++) {
		if (id != SIP_HDR_OTHER ? m->hdrs[i].id == id :
		    slice_caseeq_cstr(m->hdrs[i].name, name))
			return &m->hdrs[i];
	}
	return NULL;
}
