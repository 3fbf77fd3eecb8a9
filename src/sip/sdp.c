/*
 * SDP (see sdp.h): RFC 4566 parsing and printing, RFC 3264 offer/answer.
 * Owns the codec table and the rules that match formats between two
 * descriptions; owns no buffers (slices point into the caller's) and
 * no media (sockets and RTP belong to the call layer).
 *
 * Parsing takes two passes over the lines: the first checks the line
 * syntax, the order of the types and the limits, and counts what each
 * level holds; the second decodes the values into arrays of exactly
 * that size.  So nothing is ever truncated or grown, and a failing
 * body costs no allocation before its structure is known to be sound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sip/sdp.h"

/* What one level of the description holds, counted by the first pass. */
struct sdp_counts {
	size_t	nattrs;
	size_t	nbw;
	size_t	nfields;
};

struct sdp_line {
	char		 type;
	struct slice	 val;
};

/*
 * RFC 4566 §5: the types in their mandatory order.  r= ranks with t=
 * (a t= may follow the r= lines of the one before); m= starts a media
 * description with its own order.
 */
static const char sdp_types[] = "vosiuepcbtrzkam";
static const char sess_order[] = "vosiuepcbtzkam";
static const char sess_multi[] = "epbtra";
static const char media_order[] = "micbka";
static const char media_multi[] = "cba";

/* Codecs we can offer and answer with (sdp.h lists them). */
static const struct sdp_codec sdp_codecs[] = {
	{ "PCMU", 0, 8000, 0, NULL },
	{ "PCMA", 8, 8000, 0, NULL },
	{ "G722", 9, 8000, 0, NULL },	/* RFC 3551 §4.5.2: 8000 on the wire */
	{ "G729", 18, 8000, 0, NULL },
	{ "GSM", 3, 8000, 0, NULL },
	{ "CN", 13, 8000, 0, NULL },
	{ "iLBC", -1, 8000, 0, NULL },
	{ "L16", -1, 8000, 0, NULL },
	{ "opus", -1, 48000, 2, NULL },	/* RFC 7587 §7: always 48000/2 */
	{ "telephone-event", -1, 8000, 0, "0-16" },	/* RFC 4733 */
};

/* RFC 3551 §6, tables 4 and 5: what a static payload number means. */
static const struct sdp_codec sdp_static[] = {
	{ "PCMU", 0, 8000, 1, NULL },
	{ "GSM", 3, 8000, 1, NULL },
	{ "G723", 4, 8000, 1, NULL },
	{ "DVI4", 5, 8000, 1, NULL },
	{ "DVI4", 6, 16000, 1, NULL },
	{ "LPC", 7, 8000, 1, NULL },
	{ "PCMA", 8, 8000, 1, NULL },
	{ "G722", 9, 8000, 1, NULL },
	{ "L16", 10, 44100, 2, NULL },
	{ "L16", 11, 44100, 1, NULL },
	{ "QCELP", 12, 8000, 1, NULL },
	{ "CN", 13, 8000, 1, NULL },
	{ "MPA", 14, 90000, 0, NULL },
	{ "G728", 15, 8000, 1, NULL },
	{ "DVI4", 16, 11025, 1, NULL },
	{ "DVI4", 17, 22050, 1, NULL },
	{ "G729", 18, 8000, 1, NULL },
	{ "CelB", 25, 90000, 0, NULL },
	{ "JPEG", 26, 90000, 0, NULL },
	{ "nv", 28, 90000, 0, NULL },
	{ "H261", 31, 90000, 0, NULL },
	{ "MPV", 32, 90000, 0, NULL },
	{ "MP2T", 33, 90000, 0, NULL },
	{ "H263", 34, 90000, 0, NULL },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- lexing ---------------------------------------------------------- */

/* RFC 4566 §9 token-char. */
static bool
sdp_is_tchar(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a ||
	    c == 0x2b || c == 0x2d || c == 0x2e || (c >= 0x30 && c <= 0x39) ||
	    (c >= 0x41 && c <= 0x5a) || (c >= 0x5e && c <= 0x7e);
}

static bool
sdp_is_token(struct slice s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!sdp_is_tchar((unsigned char)s.p[i]))
			return false;
	return true;
}

/* RFC 4566 §9 non-ws-string: VCHAR or any byte above 0x7f. */
static bool
sdp_is_nonws(struct slice s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* proto = token *("/" token) */
static bool
sdp_is_proto(struct slice s)
{
	size_t start = 0;

	for (size_t i = 0; i <= s.n; i++) {
		if (i == s.n || s.p[i] == '/') {
			if (!sdp_is_token(slice_make(s.p + start, i - start)))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, TCP/RTP/AVP, ... */
static bool
sdp_proto_is_rtp(struct slice s)
{
	size_t start = 0;

	for (size_t i = 0; i <= s.n; i++) {
		if (i == s.n || s.p[i] == '/') {
			if (slice_caseeq_cstr(slice_make(s.p + start,
			    i - start), "RTP"))
				return true;
			start = i + 1;
		}
	}
	return false;
}

static struct slice
sdp_skip_sp(struct slice s)
{
	while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	return s;
}

/*
 * The next space-separated token of *rest.  Runs of spaces count as
 * one, trailing ones as none (real traffic has both).
 */
static bool
sdp_tok(struct slice *rest, struct slice *tok)
{
	size_t i = 0;

	*rest = sdp_skip_sp(*rest);
	if (rest->n == 0)
		return false;
	while (i < rest->n && rest->p[i] != ' ' && rest->p[i] != '\t')
		i++;
	*tok = slice_make(rest->p, i);
	rest->p += i;
	rest->n -= i;
	return true;
}

/* Splits s at the first c: *head before it, *tail after; false if none. */
static bool
sdp_split(struct slice s, char c, struct slice *head, struct slice *tail)
{
	const char *q = s.n > 0 ? memchr(s.p, c, s.n) : NULL;

	if (q == NULL) {
		*head = s;
		*tail = SLICE_NULL;
		return false;
	}
	*head = slice_make(s.p, (size_t)(q - s.p));
	*tail = slice_make(q + 1, s.n - (size_t)(q - s.p) - 1);
	return true;
}

static bool
sdp_only_line_ends(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] != '\r' && s.p[i] != '\n')
			return false;
	return true;
}

/*
 * Takes the next "<type>=<value>" line off *rest: 0, ENOENT when only
 * line ends remain, EBADMSG for a line that is not one.
 */
static int
sdp_line_next(struct slice *rest, struct sdp_line *l, const char **why)
{
	const char *nl;
	size_t len, adv;

	if (sdp_only_line_ends(*rest))
		return ENOENT;
	nl = memchr(rest->p, '\n', rest->n);
	len = nl != NULL ? (size_t)(nl - rest->p) : rest->n;
	adv = nl != NULL ? len + 1 : len;
	if (len > 0 && rest->p[len - 1] == '\r')
		len--;
	l->type = rest->p[0];
	l->val = len >= 2 ? slice_make(rest->p + 2, len - 2) : SLICE_NULL;
	if (len == 0) {
		*why = "empty line in SDP body";
		return EBADMSG;
	}
	if (len < 2 || rest->p[1] != '=' || l->type < 'a' || l->type > 'z') {
		*why = "SDP line is not <type>=<value>";
		return EBADMSG;
	}
	/* RFC 4566 §9 byte-string: no NUL, CR or LF inside a value. */
	if (memchr(l->val.p, '\0', l->val.n) != NULL ||
	    memchr(l->val.p, '\r', l->val.n) != NULL) {
		*why = "NUL or CR inside an SDP line";
		return EBADMSG;
	}
	rest->p += adv;
	rest->n -= adv;
	return 0;
}

/* ---- pass 1: structure ----------------------------------------------- */

static int
sdp_scan(struct slice body, struct sdp_counts *cnt, size_t *nmedia,
    size_t *ntimes, size_t *nrepeats, const char **why)
{
	const int t_rank = (int)(strchr(sess_order, 't') - sess_order);
	struct sdp_line l;
	size_t lineno = 0, level = 0;
	int last = -1, rank, rc;
	char prev = 0;
	bool seen_t = false;

	*nmedia = *ntimes = *nrepeats = 0;
	while ((rc = sdp_line_next(&body, &l, why)) == 0) {
		static const char *const first[] = {
			"SDP body does not start with v=",
			"second SDP line is not o=",
			"third SDP line is not s=",
		};

		if (strchr(sdp_types, l.type) == NULL) {
			/* RFC 4566 §5: ignore the whole description */
			*why = "unknown SDP line type";
			return EBADMSG;
		}
		if (lineno < 3 && l.type != "vos"[lineno]) {
			*why = first[lineno];
			return EBADMSG;
		}
		lineno++;
		if (l.type == 'm') {
			if (!seen_t) {
				*why = "no t= line before m=";
				return EBADMSG;
			}
			if (*nmedia == SDP_MAX_MEDIA) {
				*why = "too many m= lines";
				return EBADMSG;
			}
			level = ++*nmedia;
			last = 0;
			prev = 'm';
			continue;
		}
		if (level == 0) {
			char t = l.type == 'r' ? 't' : l.type;

			rank = (int)(strchr(sess_order, t) - sess_order);
			if (l.type == 'r' && prev != 't' && prev != 'r') {
				*why = "r= line not after t=";
				return EBADMSG;
			}
			if (rank > t_rank && !seen_t) {
				*why = "no t= line";
				return EBADMSG;
			}
			if (rank < last) {
				*why = "SDP session lines out of order";
				return EBADMSG;
			}
			if (rank == last &&
			    strchr(sess_multi, l.type) == NULL) {
				*why = "SDP session line type repeated";
				return EBADMSG;
			}
			if (l.type == 't') {
				seen_t = true;
				++*ntimes;
			} else if (l.type == 'r')
				++*nrepeats;
		} else {
			const char *o = strchr(media_order, l.type);

			if (o == NULL) {
				*why = "line type not allowed in an SDP media "
				    "description";
				return EBADMSG;
			}
			rank = (int)(o - media_order);
			if (rank < last) {
				*why = "SDP media lines out of order";
				return EBADMSG;
			}
			if (rank == last && strchr(media_multi, l.type) ==
			    NULL) {
				*why = "SDP media line type repeated";
				return EBADMSG;
			}
		}
		last = rank;
		prev = l.type;
		switch (l.type) {
		case 'a':
			if (cnt[level].nattrs == SDP_MAX_ATTRS) {
				*why = "too many SDP attributes";
				return EBADMSG;
			}
			cnt[level].nattrs++;
			break;
		case 'b':
			cnt[level].nbw++;
			break;
		case 'i': case 'u': case 'e': case 'p': case 'z': case 'k':
			cnt[level].nfields++;
			break;
		}
	}
	if (rc != ENOENT)
		return rc;
	if (lineno < 3) {
		*why = lineno == 0 ? "empty SDP body" : lineno == 1 ?
		    "no o= line" : "no s= line";
		return EBADMSG;
	}
	if (!seen_t) {
		*why = "no t= line";
		return EBADMSG;
	}
	return 0;
}

/* ---- pass 2: values -------------------------------------------------- */

static void *
sdp_alloc(struct arena *a, size_t n, size_t size)
{
	return n > 0 ? arena_alloc(a, n * size) : NULL;
}

static int
sdp_parse_origin(struct sdp_origin *o, struct slice v, const char **why)
{
	struct slice id, ver, extra;

	*why = "bad o= line";
	if (!sdp_tok(&v, &o->username) || !sdp_tok(&v, &id) ||
	    !sdp_tok(&v, &ver) || !sdp_tok(&v, &o->nettype) ||
	    !sdp_tok(&v, &o->addrtype) || !sdp_tok(&v, &o->addr) ||
	    sdp_tok(&v, &extra))
		return EBADMSG;
	if (!sdp_is_nonws(o->username) || !sdp_is_token(o->nettype) ||
	    !sdp_is_token(o->addrtype) || !sdp_is_nonws(o->addr))
		return EBADMSG;
	if (slice_to_u64(id, UINT64_MAX, &o->sess_id) != 0 ||
	    slice_to_u64(ver, UINT64_MAX, &o->sess_version) != 0) {
		*why = "bad o= session id or version";
		return EBADMSG;
	}
	return 0;
}

/* RFC 4566 §5.7: <addr>[/<ttl>[/<num>]] for IP4, <addr>[/<num>] for IP6. */
static int
sdp_conn_fill(struct sdp_conn *c, struct slice nettype, struct slice addrtype,
    struct slice addr)
{
	struct slice a, suf, s1, s2;
	uint64_t u;

	memset(c, 0, sizeof(*c));
	if (!sdp_is_token(nettype) || !sdp_is_token(addrtype) ||
	    !sdp_is_nonws(addr))
		return EBADMSG;
	c->present = true;
	c->nettype = nettype;
	c->addrtype = addrtype;
	c->addr = addr;
	if (slice_caseeq_cstr(addrtype, "IP4"))
		c->atype = SDP_ADDR_IP4;
	else if (slice_caseeq_cstr(addrtype, "IP6"))
		c->atype = SDP_ADDR_IP6;
	else
		return 0;	/* other address types: kept whole */
	if (!sdp_split(addr, '/', &a, &suf))
		return 0;
	if (a.n == 0)
		return EBADMSG;
	c->addr = a;
	if (c->atype == SDP_ADDR_IP6) {
		if (slice_to_u64(suf, UINT32_MAX, &u) != 0 || u == 0)
			return EBADMSG;
		c->num = (unsigned)u;
		return 0;
	}
	if (sdp_split(suf, '/', &s1, &s2)) {
		if (slice_to_u64(s2, UINT32_MAX, &u) != 0 || u == 0)
			return EBADMSG;
		c->num = (unsigned)u;
	}
	if (slice_to_u64(s1, 255, &u) != 0)
		return EBADMSG;
	c->ttl = (unsigned)u;
	return 0;
}

static int
sdp_parse_conn(struct sdp_conn *c, struct slice v, const char **why)
{
	struct slice nt, at, addr, extra;

	*why = "bad c= line";
	if (!sdp_tok(&v, &nt) || !sdp_tok(&v, &at) || !sdp_tok(&v, &addr) ||
	    sdp_tok(&v, &extra))
		return EBADMSG;
	return sdp_conn_fill(c, nt, at, addr);
}

static int
sdp_parse_bw(struct sdp_bw *b, struct slice v, const char **why)
{
	struct slice val;
	uint64_t u;

	*why = "bad b= line";
	if (!sdp_split(v, ':', &b->type, &val) || !sdp_is_token(b->type) ||
	    slice_to_u64(val, UINT32_MAX, &u) != 0)
		return EBADMSG;
	b->value = (uint32_t)u;
	return 0;
}

static int
sdp_parse_time(struct sdp_time *t, struct slice v, const char **why)
{
	struct slice start, stop, extra;

	*why = "bad t= line";
	if (!sdp_tok(&v, &start) || !sdp_tok(&v, &stop) ||
	    sdp_tok(&v, &extra))
		return EBADMSG;
	if (slice_to_u64(start, UINT64_MAX, &t->start) != 0 ||
	    slice_to_u64(stop, UINT64_MAX, &t->stop) != 0)
		return EBADMSG;
	return 0;
}

static int
sdp_parse_media(struct sdp_media *m, struct arena *a, struct slice v,
    const char **why)
{
	struct slice tok, port, nports, fmts;
	uint64_t u;
	size_t n = 0;
	bool rtp;

	if (!sdp_tok(&v, &m->type) || !sdp_is_token(m->type)) {
		*why = "bad m= media type";
		return EBADMSG;
	}
	*why = "bad m= port";
	if (!sdp_tok(&v, &tok))
		return EBADMSG;
	if (sdp_split(tok, '/', &port, &nports)) {
		if (slice_to_u64(nports, UINT16_MAX, &u) != 0 || u == 0)
			return EBADMSG;
		m->nports = (unsigned)u;
	}
	if (slice_to_u64(port, UINT16_MAX, &u) != 0)
		return EBADMSG;
	m->port = (uint16_t)u;
	if (!sdp_tok(&v, &m->proto) || !sdp_is_proto(m->proto)) {
		*why = "bad m= proto";
		return EBADMSG;
	}
	fmts = v;
	while (sdp_tok(&v, &tok))
		n++;
	if (n == 0) {
		*why = "m= line without formats";
		return EBADMSG;
	}
	if (n > SDP_MAX_FMTS) {
		*why = "too many formats on an m= line";
		return EBADMSG;
	}
	rtp = sdp_proto_is_rtp(m->proto);
	m->fmts = sdp_alloc(a, n, sizeof(*m->fmts));
	while (sdp_tok(&fmts, &tok)) {
		struct sdp_fmt *f = &m->fmts[m->nfmts];

		if (!sdp_is_token(tok)) {
			*why = "bad m= format";
			return EBADMSG;
		}
		f->fmt = tok;
		f->pt = -1;
		if (rtp) {
			if (slice_to_u64(tok, SDP_PT_MAX, &u) != 0) {
				*why = "bad RTP payload type on m= line";
				return EBADMSG;
			}
			f->pt = (int)u;
		}
		for (size_t i = 0; i < m->nfmts; i++) {
			if (rtp ? m->fmts[i].pt == f->pt :
			    slice_eq(m->fmts[i].fmt, tok)) {
				*why = "format repeated on an m= line";
				return EBADMSG;
			}
		}
		m->nfmts++;
	}
	return 0;
}

static int
sdp_parse_attr(struct sdp_attr *at, struct slice v, const char **why)
{
	sdp_split(v, ':', &at->name, &at->value);
	if (!sdp_is_token(at->name)) {
		*why = "bad SDP attribute name";
		return EBADMSG;
	}
	return 0;
}

static bool
sdp_dir_parse(struct slice name, enum sdp_dir *d)
{
	static const enum sdp_dir dirs[] = { SDP_DIR_INACTIVE,
	    SDP_DIR_SENDONLY, SDP_DIR_RECVONLY, SDP_DIR_SENDRECV };

	for (size_t i = 0; i < NELEM(dirs); i++) {
		if (slice_eq_cstr(name, sdp_dir_name(dirs[i]))) {
			*d = dirs[i];
			return true;
		}
	}
	return false;
}

/* The format an rtpmap or fmtp names: by number for RTP, else by text. */
static struct sdp_fmt *
sdp_fmt_lookup(struct sdp_media *m, struct slice name)
{
	uint64_t pt;
	bool num = slice_to_u64(name, SDP_PT_MAX, &pt) == 0;

	for (size_t i = 0; i < m->nfmts; i++) {
		struct sdp_fmt *f = &m->fmts[i];

		if (f->pt >= 0 ? num && (uint64_t)f->pt == pt :
		    slice_eq(f->fmt, name))
			return f;
	}
	return NULL;
}

/* RFC 4566 §6: a=rtpmap:<pt> <name>/<rate>[/<parameters>] */
static int
sdp_decode_rtpmap(struct sdp_media *m, struct slice v, const char **why)
{
	struct slice ptok, enc, extra, name, rest, rate, ch;
	uint64_t pt, r = 0, c = 0;
	struct sdp_fmt *f;

	if (!sdp_tok(&v, &ptok) || slice_to_u64(ptok, SDP_PT_MAX, &pt) != 0) {
		*why = "bad rtpmap payload type";
		return EBADMSG;
	}
	*why = "bad rtpmap encoding";
	if (!sdp_tok(&v, &enc) || sdp_tok(&v, &extra))
		return EBADMSG;
	if (sdp_split(enc, '/', &name, &rest)) {
		if (sdp_split(rest, '/', &rate, &ch) &&
		    (slice_to_u64(ch, 255, &c) != 0 || c == 0))
			return EBADMSG;
		if (slice_to_u64(rate, UINT32_MAX, &r) != 0 || r == 0)
			return EBADMSG;
	}
	if (!sdp_is_token(name))
		return EBADMSG;
	if ((f = sdp_fmt_lookup(m, ptok)) == NULL)
		return 0;	/* not on the m= line: meaningless, ignored */
	if (f->has_rtpmap) {
		*why = "rtpmap repeated for a format";
		return EBADMSG;
	}
	f->has_rtpmap = true;
	f->encoding = name;
	f->clock_rate = (uint32_t)r;
	f->channels = (unsigned)c;
	return 0;
}

/* RFC 4566 §6: a=fmtp:<format> <format specific parameters> */
static int
sdp_decode_fmtp(struct sdp_media *m, struct slice v, const char **why)
{
	struct slice ftok;
	struct sdp_fmt *f;

	if (!sdp_tok(&v, &ftok) || !sdp_is_token(ftok)) {
		*why = "bad fmtp format";
		return EBADMSG;
	}
	if ((f = sdp_fmt_lookup(m, ftok)) == NULL)
		return 0;
	if (f->fmtp.p != NULL) {
		*why = "fmtp repeated for a format";
		return EBADMSG;
	}
	f->fmtp = sdp_skip_sp(v);
	return 0;
}

/* Milliseconds; a fraction ("20.0", seen in the wild) is dropped. */
static int
sdp_decode_ms(unsigned *out, struct slice v)
{
	struct slice whole, frac;
	uint64_t u;

	v = slice_trim(v);
	if (sdp_split(v, '.', &whole, &frac)) {
		if (frac.n == 0)
			return EBADMSG;
		for (size_t i = 0; i < frac.n; i++)
			if (frac.p[i] < '0' || frac.p[i] > '9')
				return EBADMSG;
	}
	if (slice_to_u64(whole, UINT16_MAX, &u) != 0)
		return EBADMSG;
	*out = (unsigned)u;
	return 0;
}

/* RFC 3605: a=rtcp:<port> [<nettype> <addrtype> <connection-address>] */
static int
sdp_decode_rtcp(struct sdp_media *m, struct slice v)
{
	struct slice port, nt, at, addr, extra;
	uint64_t u;

	if (!sdp_tok(&v, &port) || slice_to_u64(port, UINT16_MAX, &u) != 0)
		return EBADMSG;
	m->has_rtcp = true;
	m->rtcp_port = (uint16_t)u;
	if (!sdp_tok(&v, &nt))
		return 0;
	if (!sdp_tok(&v, &at) || !sdp_tok(&v, &addr) || sdp_tok(&v, &extra))
		return EBADMSG;
	return sdp_conn_fill(&m->rtcp_conn, nt, at, addr);
}

static int
sdp_decode_media_attr(struct sdp_media *m, const struct sdp_attr *at,
    bool *dir_seen, const char **why)
{
	enum sdp_dir d;

	if (sdp_dir_parse(at->name, &d)) {
		if (*dir_seen) {
			*why = "more than one direction attribute";
			return EBADMSG;
		}
		*dir_seen = true;
		m->dir = d;
		return 0;
	}
	if (slice_eq_cstr(at->name, "rtpmap")) {
		if (at->value.p == NULL) {
			*why = "rtpmap without value";
			return EBADMSG;
		}
		return sdp_decode_rtpmap(m, at->value, why);
	}
	if (slice_eq_cstr(at->name, "fmtp")) {
		if (at->value.p == NULL) {
			*why = "fmtp without value";
			return EBADMSG;
		}
		return sdp_decode_fmtp(m, at->value, why);
	}
	if (slice_eq_cstr(at->name, "ptime")) {
		*why = "bad ptime";
		return sdp_decode_ms(&m->ptime, at->value);
	}
	if (slice_eq_cstr(at->name, "maxptime")) {
		*why = "bad maxptime";
		return sdp_decode_ms(&m->maxptime, at->value);
	}
	if (slice_eq_cstr(at->name, "rtcp")) {
		*why = "bad rtcp attribute";
		return sdp_decode_rtcp(m, at->value);
	}
	return 0;
}

int
sdp_parse(struct sdp_session *s, struct arena *a, const char *p, size_t n,
    const char **why)
{
	struct sdp_counts cnt[SDP_MAX_MEDIA + 1];
	struct slice body = slice_make(p, n), *repeats = NULL;
	struct sdp_line l;
	struct sdp_media *m = NULL;
	struct sdp_time *t = NULL;
	size_t nmedia, ntimes, nrepeats, nrep = 0;
	bool dir_seen = false;
	int rc;

	memset(s, 0, sizeof(*s));
	memset(cnt, 0, sizeof(cnt));
	if (p == NULL)
		body = slice_make("", 0);
	if ((rc = sdp_scan(body, cnt, &nmedia, &ntimes, &nrepeats, why)) != 0)
		return rc;

	s->dir = SDP_DIR_SENDRECV;
	s->fields = sdp_alloc(a, cnt[0].nfields, sizeof(*s->fields));
	s->bw = sdp_alloc(a, cnt[0].nbw, sizeof(*s->bw));
	s->attrs = sdp_alloc(a, cnt[0].nattrs, sizeof(*s->attrs));
	s->times = sdp_alloc(a, ntimes, sizeof(*s->times));
	s->media = sdp_alloc(a, nmedia, sizeof(*s->media));
	repeats = sdp_alloc(a, nrepeats, sizeof(*repeats));

	while ((rc = sdp_line_next(&body, &l, why)) == 0) {
		struct sdp_field **fields = m ? &m->fields : &s->fields;
		size_t *nfields = m ? &m->nfields : &s->nfields;
		struct sdp_attr *at;
		struct sdp_conn c;

		switch (l.type) {
		case 'v':
			if (!slice_eq_cstr(l.val, "0")) {
				*why = "unsupported SDP version";
				return EBADMSG;
			}
			break;
		case 'o':
			rc = sdp_parse_origin(&s->origin, l.val, why);
			break;
		case 's':
			s->name = l.val;
			break;
		case 'i': case 'u': case 'e': case 'p': case 'z': case 'k':
			(*fields)[*nfields].type = l.type;
			(*fields)[(*nfields)++].value = l.val;
			break;
		case 'c':
			rc = sdp_parse_conn(&c, l.val, why);
			/* RFC 4566 §5.7: further media c= are more multicast
			 * layers; a unicast UA keeps the first. */
			if (rc == 0 && m == NULL)
				s->conn = c;
			else if (rc == 0 && !m->conn.present)
				m->conn = c;
			break;
		case 'b':
			if (m != NULL)
				rc = sdp_parse_bw(&m->bw[m->nbw++], l.val, why);
			else
				rc = sdp_parse_bw(&s->bw[s->nbw++], l.val, why);
			break;
		case 't':
			t = &s->times[s->ntimes++];
			t->repeats = repeats != NULL ? repeats + nrep : NULL;
			rc = sdp_parse_time(t, l.val, why);
			break;
		case 'r':
			if (slice_trim(l.val).n == 0) {
				*why = "empty r= line";
				return EBADMSG;
			}
			t->repeats[t->nrepeats++] = l.val;
			nrep++;
			break;
		case 'a':
			if (m != NULL) {
				at = &m->attrs[m->nattrs++];
				if ((rc = sdp_parse_attr(at, l.val, why)) == 0)
					rc = sdp_decode_media_attr(m, at,
					    &dir_seen, why);
				break;
			}
			at = &s->attrs[s->nattrs++];
			if ((rc = sdp_parse_attr(at, l.val, why)) != 0)
				break;
			if (sdp_dir_parse(at->name, &s->dir)) {
				if (dir_seen) {
					*why = "more than one direction "
					    "attribute";
					return EBADMSG;
				}
				dir_seen = true;
			}
			break;
		case 'm':
			m = &s->media[s->nmedia++];
			m->fields = sdp_alloc(a, cnt[s->nmedia].nfields,
			    sizeof(*m->fields));
			m->bw = sdp_alloc(a, cnt[s->nmedia].nbw,
			    sizeof(*m->bw));
			m->attrs = sdp_alloc(a, cnt[s->nmedia].nattrs,
			    sizeof(*m->attrs));
			/* RFC 3264 §5.1: the session attribute is the
			 * default for every stream. */
			m->dir = s->dir;
			dir_seen = false;
			rc = sdp_parse_media(m, a, l.val, why);
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (rc != ENOENT)
		return rc;
	/* RFC 4566 §5.7: a c= in every media or one at session level. */
	for (size_t i = 0; i < s->nmedia; i++) {
		if (s->media[i].port != 0 && !s->media[i].conn.present &&
		    !s->conn.present) {
			*why = "no c= line for a media description";
			return EBADMSG;
		}
	}
	return 0;
}

/* ---- printing -------------------------------------------------------- */

static void
sdp_print_slice(struct strbuf *sb, struct slice s)
{
	if (s.n > 0)
		strbuf_add(sb, s.p, s.n);
}

static void
sdp_print_fields(struct strbuf *sb, const struct sdp_field *f, size_t n,
    const char *types)
{
	for (; *types != '\0'; types++) {
		for (size_t i = 0; i < n; i++) {
			if (f[i].type != *types)
				continue;
			strbuf_addf(sb, "%c=", *types);
			sdp_print_slice(sb, f[i].value);
			strbuf_adds(sb, "\r\n");
		}
	}
}

static void
sdp_print_conn_addr(struct strbuf *sb, const struct sdp_conn *c)
{
	strbuf_addf(sb, SLICE_FMT " " SLICE_FMT " " SLICE_FMT,
	    SLICE_ARG(c->nettype), SLICE_ARG(c->addrtype), SLICE_ARG(c->addr));
	if (c->atype == SDP_ADDR_IP4 && (c->ttl > 0 || c->num > 0))
		strbuf_addf(sb, "/%u", c->ttl);
	if (c->atype != SDP_ADDR_OTHER && c->num > 0)
		strbuf_addf(sb, "/%u", c->num);
}

static void
sdp_print_conn(struct strbuf *sb, const struct sdp_conn *c)
{
	if (!c->present)
		return;
	strbuf_adds(sb, "c=");
	sdp_print_conn_addr(sb, c);
	strbuf_adds(sb, "\r\n");
}

static void
sdp_print_bw(struct strbuf *sb, const struct sdp_bw *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "b=" SLICE_FMT ":%" PRIu32 "\r\n",
		    SLICE_ARG(b[i].type), b[i].value);
}

static void
sdp_print_attr(struct strbuf *sb, const struct sdp_attr *at)
{
	strbuf_adds(sb, "a=");
	sdp_print_slice(sb, at->name);
	if (at->value.p != NULL) {
		strbuf_addc(sb, ':');
		sdp_print_slice(sb, at->value);
	}
	strbuf_adds(sb, "\r\n");
}

/* The attributes the printer writes from decoded fields instead. */
static bool
sdp_attr_decoded(struct slice name, bool media)
{
	static const char *const names[] = { "rtpmap", "fmtp", "ptime",
	    "maxptime", "rtcp" };
	enum sdp_dir d;

	if (sdp_dir_parse(name, &d))
		return true;
	if (!media)
		return false;
	for (size_t i = 0; i < NELEM(names); i++)
		if (slice_eq_cstr(name, names[i]))
			return true;
	return false;
}

static void
sdp_print_media(struct strbuf *sb, const struct sdp_media *m)
{
	strbuf_addf(sb, "m=" SLICE_FMT " %u", SLICE_ARG(m->type),
	    (unsigned)m->port);
	if (m->nports > 1)
		strbuf_addf(sb, "/%u", m->nports);
	strbuf_addf(sb, " " SLICE_FMT, SLICE_ARG(m->proto));
	for (size_t i = 0; i < m->nfmts; i++)
		strbuf_addf(sb, " " SLICE_FMT, SLICE_ARG(m->fmts[i].fmt));
	strbuf_adds(sb, "\r\n");
	sdp_print_fields(sb, m->fields, m->nfields, "i");
	sdp_print_conn(sb, &m->conn);
	sdp_print_bw(sb, m->bw, m->nbw);
	sdp_print_fields(sb, m->fields, m->nfields, "k");
	for (size_t i = 0; i < m->nfmts; i++) {
		const struct sdp_fmt *f = &m->fmts[i];

		if (!f->has_rtpmap)
			continue;
		strbuf_addf(sb, "a=rtpmap:" SLICE_FMT " " SLICE_FMT,
		    SLICE_ARG(f->fmt), SLICE_ARG(f->encoding));
		if (f->clock_rate > 0)
			strbuf_addf(sb, "/%" PRIu32, f->clock_rate);
		if (f->clock_rate > 0 && f->channels > 0)
			strbuf_addf(sb, "/%u", f->channels);
		strbuf_adds(sb, "\r\n");
	}
	for (size_t i = 0; i < m->nfmts; i++) {
		const struct sdp_fmt *f = &m->fmts[i];

		if (f->fmtp.p == NULL)
			continue;
		strbuf_addf(sb, "a=fmtp:" SLICE_FMT, SLICE_ARG(f->fmt));
		if (f->fmtp.n > 0)
			strbuf_addf(sb, " " SLICE_FMT, SLICE_ARG(f->fmtp));
		strbuf_adds(sb, "\r\n");
	}
	if (m->ptime > 0)
		strbuf_addf(sb, "a=ptime:%u\r\n", m->ptime);
	if (m->maxptime > 0)
		strbuf_addf(sb, "a=maxptime:%u\r\n", m->maxptime);
	if (m->has_rtcp) {
		strbuf_addf(sb, "a=rtcp:%u", (unsigned)m->rtcp_port);
		if (m->rtcp_conn.present) {
			strbuf_addc(sb, ' ');
			sdp_print_conn_addr(sb, &m->rtcp_conn);
		}
		strbuf_adds(sb, "\r\n");
	}
	strbuf_addf(sb, "a=%s\r\n", sdp_dir_name(m->dir));
	for (size_t i = 0; i < m->nattrs; i++)
		if (!sdp_attr_decoded(m->attrs[i].name, true))
			sdp_print_attr(sb, &m->attrs[i]);
}

void
sdp_print(struct strbuf *sb, const struct sdp_session *s)
{
	const struct sdp_origin *o = &s->origin;

	strbuf_addf(sb, "v=%u\r\n", s->version);
	strbuf_addf(sb, "o=" SLICE_FMT " %" PRIu64 " %" PRIu64 " " SLICE_FMT
	    " " SLICE_FMT " " SLICE_FMT "\r\n",
	    SLICE_ARG(o->username.n > 0 ? o->username : SLICE_LIT("-")),
	    o->sess_id, o->sess_version, SLICE_ARG(o->nettype),
	    SLICE_ARG(o->addrtype), SLICE_ARG(o->addr));
	/* RFC 4566 §5.3: s= must not be empty; "-" is the usual filler. */
	strbuf_addf(sb, "s=" SLICE_FMT "\r\n",
	    SLICE_ARG(s->name.n > 0 ? s->name : SLICE_LIT("-")));
	sdp_print_fields(sb, s->fields, s->nfields, "iuep");
	sdp_print_conn(sb, &s->conn);
	sdp_print_bw(sb, s->bw, s->nbw);
	if (s->ntimes == 0)
		strbuf_adds(sb, "t=0 0\r\n");
	for (size_t i = 0; i < s->ntimes; i++) {
		const struct sdp_time *t = &s->times[i];

		strbuf_addf(sb, "t=%" PRIu64 " %" PRIu64 "\r\n", t->start,
		    t->stop);
		for (size_t j = 0; j < t->nrepeats; j++) {
			strbuf_adds(sb, "r=");
			sdp_print_slice(sb, t->repeats[j]);
			strbuf_adds(sb, "\r\n");
		}
	}
	sdp_print_fields(sb, s->fields, s->nfields, "zk");
	if (s->dir != SDP_DIR_SENDRECV)
		strbuf_addf(sb, "a=%s\r\n", sdp_dir_name(s->dir));
	for (size_t i = 0; i < s->nattrs; i++)
		if (!sdp_attr_decoded(s->attrs[i].name, false))
			sdp_print_attr(sb, &s->attrs[i]);
	for (size_t i = 0; i < s->nmedia; i++)
		sdp_print_media(sb, &s->media[i]);
}

/* ---- codecs ---------------------------------------------------------- */

const struct sdp_codec *
sdp_codec_find(struct slice name)
{
	for (size_t i = 0; i < NELEM(sdp_codecs); i++)
		if (slice_caseeq_cstr(name, sdp_codecs[i].name))
			return &sdp_codecs[i];
	return NULL;
}

const struct sdp_codec *
sdp_codec_static(int pt)
{
	for (size_t i = 0; i < NELEM(sdp_static); i++)
		if (sdp_static[i].pt == pt)
			return &sdp_static[i];
	return NULL;
}

bool
sdp_fmt_codec(const struct sdp_fmt *f, struct slice *name,
    uint32_t *clock_rate, unsigned *channels)
{
	const struct sdp_codec *c;

	if (f->has_rtpmap) {
		*name = f->encoding;
		*clock_rate = f->clock_rate;
		*channels = f->channels;
		return true;
	}
	if (f->pt < 0 || f->pt >= SDP_PT_DYNAMIC ||
	    (c = sdp_codec_static(f->pt)) == NULL)
		return false;
	*name = slice_cstr(c->name);
	*clock_rate = c->clock_rate;
	*channels = c->channels;
	return true;
}

/* Formats that ride along with a codec but are not one on their own. */
static bool
sdp_is_aux(struct slice name)
{
	return slice_caseeq_cstr(name, "telephone-event") ||
	    slice_caseeq_cstr(name, "CN");
}

/* Mono is written either way: no channel count means one. */
static unsigned
sdp_chan(unsigned ch)
{
	return ch == 0 ? 1 : ch;
}

/*
 * Does format f stand for codec c?  With an rtpmap that gives a clock
 * rate: same name (case-insensitive, RFC 4855 §3), rate and channels.
 * Otherwise only a static type can say, by its number.
 */
static bool
sdp_fmt_is_codec(const struct sdp_fmt *f, const struct sdp_codec *c)
{
	if (f->pt < 0)
		return false;
	if (f->has_rtpmap && f->clock_rate > 0)
		return slice_caseeq_cstr(f->encoding, c->name) &&
		    f->clock_rate == c->clock_rate &&
		    sdp_chan(f->channels) == sdp_chan(c->channels);
	return f->pt < SDP_PT_DYNAMIC && f->pt == c->pt;
}

/* Do formats a and b, of two descriptions, stand for the same thing? */
static bool
sdp_fmt_same(const struct sdp_fmt *a, const struct sdp_fmt *b)
{
	struct slice na, nb;
	uint32_t ra, rb;
	unsigned ca, cb;

	if ((a->pt < 0) != (b->pt < 0))
		return false;
	if (a->pt < 0)
		return slice_eq(a->fmt, b->fmt);
	if (sdp_fmt_codec(a, &na, &ra, &ca) && ra > 0 &&
	    sdp_fmt_codec(b, &nb, &rb, &cb) && rb > 0)
		return slice_caseeq(na, nb) && ra == rb &&
		    sdp_chan(ca) == sdp_chan(cb);
	return a->pt == b->pt;
}

/* ---- offer/answer ---------------------------------------------------- */

const char *
sdp_dir_name(enum sdp_dir d)
{
	switch (d) {
	case SDP_DIR_INACTIVE:
		return "inactive";
	case SDP_DIR_SENDONLY:
		return "sendonly";
	case SDP_DIR_RECVONLY:
		return "recvonly";
	case SDP_DIR_SENDRECV:
		break;
	}
	return "sendrecv";
}

enum sdp_dir
sdp_dir_mirror(enum sdp_dir d)
{
	return (enum sdp_dir)(((d & SDP_DIR_SENDONLY) ? SDP_DIR_RECVONLY : 0) |
	    ((d & SDP_DIR_RECVONLY) ? SDP_DIR_SENDONLY : 0));
}

const struct sdp_conn *
sdp_media_conn(const struct sdp_session *s, const struct sdp_media *m)
{
	if (m->conn.present)
		return &m->conn;
	if (s->conn.present)
		return &s->conn;
	return NULL;
}

static bool
sdp_conn_is_null(const struct sdp_conn *c)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	int af;

	if (c == NULL || c->addr.n == 0 || c->addr.n >= sizeof(buf))
		return false;
	if (c->atype == SDP_ADDR_IP4)
		af = AF_INET;
	else if (c->atype == SDP_ADDR_IP6)
		af = AF_INET6;
	else
		return false;
	memcpy(buf, c->addr.p, c->addr.n);
	buf[c->addr.n] = '\0';
	if (inet_pton(af, buf, bin) != 1)
		return false;
	for (size_t i = 0; i < (af == AF_INET ? 4u : 16u); i++)
		if (bin[i] != 0)
			return false;
	return true;
}

enum sdp_dir
sdp_media_dir(const struct sdp_session *s, const struct sdp_media *m)
{
	enum sdp_dir d = m->dir;

	/* RFC 3264 §8.4: neither RTP nor RTCP goes to a null address */
	if (sdp_conn_is_null(sdp_media_conn(s, m)))
		d = (enum sdp_dir)(d & ~SDP_DIR_RECVONLY);
	return d;
}

bool
sdp_media_is_hold(const struct sdp_session *s, const struct sdp_media *m)
{
	return m->port != 0 && !(sdp_media_dir(s, m) & SDP_DIR_RECVONLY);
}

/* The local codec list, resolved and without repeats. */
static int
sdp_local_codecs(const struct sdp_local *l, const struct sdp_codec **out,
    size_t *n)
{
	*n = 0;
	if (l->addr == NULL || l->addr[0] == '\0' || l->port == 0 ||
	    l->ncodecs == 0 || l->codecs == NULL)
		return EINVAL;
	for (size_t i = 0; i < l->ncodecs; i++) {
		const struct sdp_codec *c;
		bool dup = false;

		if (l->codecs[i] == NULL ||
		    (c = sdp_codec_find(slice_cstr(l->codecs[i]))) == NULL)
			return EINVAL;
		for (size_t j = 0; j < *n; j++)
			dup |= out[j] == c;
		if (!dup)
			out[(*n)++] = c;
	}
	return 0;
}

/* o=, s=, c= and t= of a description of ours. */
static void
sdp_local_session(struct sdp_session *s, struct arena *a,
    const struct sdp_local *l)
{
	struct slice at = strchr(l->addr, ':') != NULL ? SLICE_LIT("IP6") :
	    SLICE_LIT("IP4");

	memset(s, 0, sizeof(*s));
	s->origin.username = l->username != NULL ? slice_cstr(l->username) :
	    SLICE_LIT("-");
	s->origin.sess_id = l->sess_id;
	s->origin.sess_version = l->sess_version;
	s->origin.nettype = SLICE_LIT("IN");
	s->origin.addrtype = at;
	s->origin.addr = slice_cstr(l->addr);
	s->name = l->session_name != NULL ? slice_cstr(l->session_name) :
	    SLICE_LIT("-");
	s->conn.present = true;
	s->conn.nettype = SLICE_LIT("IN");
	s->conn.addrtype = at;
	s->conn.atype = at.p[2] == '6' ? SDP_ADDR_IP6 : SDP_ADDR_IP4;
	s->conn.addr = slice_cstr(l->addr);
	s->times = arena_alloc(a, sizeof(*s->times));
	s->ntimes = 1;		/* t=0 0: RFC 3264 §5 */
	s->dir = SDP_DIR_SENDRECV;
}

int
sdp_build_offer(struct sdp_session *s, struct arena *a,
    const struct sdp_local *l)
{
	const struct sdp_codec *codecs[NELEM(sdp_codecs)];
	struct sdp_media *m;
	size_t n;
	int dyn = SDP_PT_DYNAMIC, rc;

	memset(s, 0, sizeof(*s));
	if ((rc = sdp_local_codecs(l, codecs, &n)) != 0)
		return rc;
	sdp_local_session(s, a, l);
	m = s->media = arena_alloc(a, sizeof(*m));
	s->nmedia = 1;
	m->type = SLICE_LIT("audio");
	m->port = l->port;
	m->proto = SLICE_LIT("RTP/AVP");
	m->dir = l->dir;
	m->ptime = l->ptime;
	m->fmts = arena_alloc(a, n * sizeof(*m->fmts));
	m->nfmts = n;
	for (size_t i = 0; i < n; i++) {
		struct sdp_fmt *f = &m->fmts[i];
		char num[4];
		int len;

		f->pt = codecs[i]->pt >= 0 ? codecs[i]->pt : dyn++;
		len = snprintf(num, sizeof(num), "%d", f->pt);
		f->fmt = slice_make(arena_strndup(a, num, (size_t)len),
		    (size_t)len);
		f->has_rtpmap = true;	/* static ones too: common usage */
		f->encoding = slice_cstr(codecs[i]->name);
		f->clock_rate = codecs[i]->clock_rate;
		f->channels = codecs[i]->channels;
		f->fmtp = codecs[i]->fmtp != NULL ?
		    slice_cstr(codecs[i]->fmtp) : SLICE_NULL;
	}
	return 0;
}

/*
 * The answer's formats for one offered stream: the offered ones that
 * are one of our codecs, in the offer's order and with its numbers
 * (RFC 3264 §6.1).  Returns how many are codecs proper.
 */
static size_t
sdp_answer_fmts(struct sdp_media *am, const struct sdp_media *om,
    const struct sdp_codec *const *codecs, size_t ncodecs)
{
	size_t real = 0;

	for (size_t i = 0; i < om->nfmts; i++) {
		const struct sdp_fmt *of = &om->fmts[i];
		struct sdp_fmt *f;
		const struct sdp_codec *c = NULL;

		for (size_t j = 0; j < ncodecs && c == NULL; j++)
			if (sdp_fmt_is_codec(of, codecs[j]))
				c = codecs[j];
		if (c == NULL)
			continue;
		f = &am->fmts[am->nfmts++];
		f->fmt = of->fmt;
		f->pt = of->pt;
		f->has_rtpmap = true;
		f->encoding = of->has_rtpmap ? of->encoding :
		    slice_cstr(c->name);
		f->clock_rate = c->clock_rate;
		f->channels = of->has_rtpmap ? of->channels : c->channels;
		/* what we receive: our parameters, not the offerer's */
		f->fmtp = c->fmtp != NULL ? slice_cstr(c->fmtp) : SLICE_NULL;
		if (!sdp_is_aux(slice_cstr(c->name)))
			real++;
	}
	return real;
}

int
sdp_answer(struct sdp_session *s, struct arena *a,
    const struct sdp_session *offer, const struct sdp_local *l)
{
	const struct sdp_codec *codecs[NELEM(sdp_codecs)];
	size_t ncodecs;
	bool accepted = false;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = sdp_local_codecs(l, codecs, &ncodecs)) != 0)
		return rc;
	sdp_local_session(s, a, l);
	s->media = sdp_alloc(a, offer->nmedia, sizeof(*s->media));
	s->nmedia = offer->nmedia;
	for (size_t i = 0; i < offer->nmedia; i++) {
		const struct sdp_media *om = &offer->media[i];
		struct sdp_media *am = &s->media[i];

		/* RFC 3264 §6: same type and transport, in the same place */
		am->type = om->type;
		am->proto = om->proto;
		am->fmts = arena_alloc(a, om->nfmts * sizeof(*am->fmts));
		if (!accepted && om->port != 0 &&
		    slice_caseeq_cstr(om->type, "audio") &&
		    slice_caseeq_cstr(om->proto, "RTP/AVP") &&
		    sdp_answer_fmts(am, om, codecs, ncodecs) > 0) {
			accepted = true;
			am->port = l->port;
			am->ptime = l->ptime;
			am->dir = (enum sdp_dir)(sdp_dir_mirror(
			    sdp_media_dir(offer, om)) & l->dir);
			continue;
		}
		/*
		 * Rejected (§6: port 0).  The m= line still needs a format:
		 * the offered ones, which say what was turned down.
		 */
		am->port = 0;
		am->dir = SDP_DIR_INACTIVE;
		am->nfmts = om->nfmts;
		for (size_t j = 0; j < om->nfmts; j++) {
			am->fmts[j].fmt = om->fmts[j].fmt;
			am->fmts[j].pt = om->fmts[j].pt;
		}
	}
	return accepted ? 0 : SDP_ERR_NOT_ACCEPTABLE;
}

int
sdp_apply_answer(struct sdp_stream *out, size_t *nout,
    const struct sdp_session *local, const struct sdp_session *remote,
    const char **why)
{
	size_t accepted = 0;

	*nout = 0;
	if (local->nmedia != remote->nmedia ||
	    remote->nmedia > SDP_MAX_MEDIA) {
		*why = "answer has another number of m= lines than the offer";
		return EBADMSG;
	}
	for (size_t i = 0; i < remote->nmedia; i++) {
		const struct sdp_media *lm = &local->media[i];
		const struct sdp_media *rm = &remote->media[i];
		const struct sdp_conn *c = sdp_media_conn(remote, rm);
		struct sdp_stream *st = &out[i];
		bool rtp;

		if (!slice_caseeq(lm->type, rm->type)) {
			*why = "answer changed the media type of a stream";
			return EBADMSG;
		}
		memset(st, 0, sizeof(*st));
		st->type = rm->type;
		st->remote = rm;
		st->pt = st->dtmf_pt = -1;
		st->dir = SDP_DIR_INACTIVE;
		if (lm->port == 0 || rm->port == 0 || c == NULL)
			continue;
		for (size_t j = 0; j < rm->nfmts && j < SDP_MAX_FMTS; j++) {
			const struct sdp_fmt *rf = &rm->fmts[j];
			struct slice name = SLICE_NULL;
			uint32_t rate = 0;
			unsigned ch = 0;
			bool ours = false;

			for (size_t k = 0; k < lm->nfmts && !ours; k++)
				ours = sdp_fmt_same(rf, &lm->fmts[k]);
			if (!ours)
				continue;
			st->fmt_idx[st->nfmts++] = (uint8_t)j;
			if (rf->pt < 0 || !sdp_fmt_codec(rf, &name, &rate, &ch))
				continue;	/* not RTP: nothing to pick */
			if (slice_caseeq_cstr(name, "telephone-event")) {
				if (st->dtmf_pt < 0)
					st->dtmf_pt = rf->pt;
			} else if (st->pt < 0 && !sdp_is_aux(name)) {
				st->pt = rf->pt;
				st->encoding = name;
				st->clock_rate = rate;
				st->channels = sdp_chan(ch);
			}
		}
		rtp = rm->nfmts > 0 && rm->fmts[0].pt >= 0;
		if (rtp ? st->pt < 0 : st->nfmts == 0)
			continue;	/* nothing in common */
		st->accepted = true;
		st->addr = c->addr;
		st->atype = c->atype;
		st->port = rm->port;
		st->rtcp_port = rm->has_rtcp ? rm->rtcp_port :
		    (uint16_t)(rm->port < UINT16_MAX ? rm->port + 1 : 0);
		st->hold = sdp_media_is_hold(remote, rm);
		st->dir = (enum sdp_dir)(sdp_dir_mirror(sdp_media_dir(remote,
		    rm)) & sdp_media_dir(local, lm));
		st->ptime = rm->ptime;
		accepted++;
	}
	*nout = remote->nmedia;
	return accepted > 0 ? 0 : SDP_ERR_NOT_ACCEPTABLE;
}

bool
sdp_is_early_media(int status, struct slice body)
{
	return (status == 180 || status == 183) && slice_trim(body).n > 0;
}
