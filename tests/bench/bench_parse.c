/*
 * Parse benchmark for sipxd's message layer, on the harness the reference
 * benchmarks (bench_parse_*.c) share: every *.sip file of a directory is
 * parsed fully and the same fields as the references read are folded
 * into the same digest (-d prints it per message, so
 * bench-parse-compare.sh checks that sipxd did the same work), R times,
 * one thread.  Then times building a typical INVITE with an SDP body.
 * Figures, never pass/fail.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sip/sip_build.h"
#include "sip/sip_msg.h"

/* The shared harness (corpus, timing, digest, -d); its main is ours'. */
#define LIBNAME	"sipxd"
#define main	harness_main
int	harness_main(int, char **);
#include "bench_parse_harness.h"
#undef main

static void	lib_init(void) { }

static void
mix_uri(uint64_t *dg, int khost, int kport, const struct sip_uri *u)
{
	MIX(*dg, khost, host_len(u->host.p, u->host.n));
	if (u->has_port)
		MIX(*dg, kport, u->port);
}

static void
mix_route(uint64_t *dg, int k, const struct sip_nameaddr *a)
{
	uint64_t v = host_len(a->uri.host.p, a->uri.host.n);

	if (a->uri.has_port)
		v += a->uri.port;
	if (a->uri.lr)
		v += 1000;
	MIX(*dg, k, v);
}

static void
mix_tokens(uint64_t *dg, int k, const struct sip_tokens *t)
{
	for (unsigned i = 0; i < t->n; i++)
		MIX(*dg, k, t->v[i].n);
}

static struct slice
trim(struct slice s)
{
	while (s.n > 0 && (*s.p == ' ' || *s.p == '\t'))
		s.p++, s.n--;
	while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/*
 * The next comma-separated item of *rest: its value before any ';'
 * (trimmed) and its raw parameters after it.  False at the end.
 */
static bool
next_item(struct slice *rest, struct slice *value, struct slice *params)
{
	const char *comma, *semi;
	struct slice item;

	if (rest->n == 0)
		return false;
	comma = memchr(rest->p, ',', rest->n);
	item = slice_make(rest->p, comma != NULL ?
	    (size_t)(comma - rest->p) : rest->n);
	rest->p += item.n;
	rest->n -= item.n;
	if (comma != NULL)
		rest->p++, rest->n--;
	semi = memchr(item.p, ';', item.n);
	*value = trim(slice_make(item.p, semi != NULL ?
	    (size_t)(semi - item.p) : item.n));
	*params = semi != NULL ? trim(slice_make(semi + 1,
	    item.n - (size_t)(semi + 1 - item.p))) : SLICE_NULL;
	return true;
}

static bool
num(struct slice s, uint64_t *v)
{
	return slice_to_u64(trim(s), UINT32_MAX, v) == 0;
}

/*
 * The headers sipxd's parser keeps as name and value only (it has no use
 * for them yet): typed here the way a usage would, with the parser's own
 * sip_param_find for parameters, so the work matches the references.
 * False for a value that does not parse.
 */
static bool
mix_raw(uint64_t *dg, const struct sip_hdr *h)
{
	struct slice rest = h->value, v, params, pv;
	uint64_t n;

	switch (h->id) {
	case SIP_HDR_ACCEPT_ENCODING:
	case SIP_HDR_ACCEPT_LANGUAGE:
		while (next_item(&rest, &v, &params))
			MIX(*dg, h->id == SIP_HDR_ACCEPT_ENCODING ? 43 : 44,
			    v.n);
		return true;
	case SIP_HDR_OTHER:
		break;
	default:
		return true;
	}
	if (slice_caseeq_cstr(h->name, "Session-Expires") ||
	    slice_caseeq_cstr(h->name, "x")) {
		if (!next_item(&rest, &v, &params) || !num(v, &n))
			return false;
		MIX(*dg, 37, n);
		if (sip_param_find(params, "refresher", &pv))
			MIX(*dg, 38, pv.n);
	} else if (slice_caseeq_cstr(h->name, "Min-SE")) {
		if (!next_item(&rest, &v, &params) || !num(v, &n))
			return false;
		MIX(*dg, 39, n);
	} else if (slice_caseeq_cstr(h->name, "RSeq")) {
		if (!num(h->value, &n))
			return false;
		MIX(*dg, 40, n);
	} else if (slice_caseeq_cstr(h->name, "Reason")) {
		while (next_item(&rest, &v, &params)) {
			MIX(*dg, 42, v.n);
			if (sip_param_find(params, "cause", &pv)) {
				if (!num(pv, &n))
					return false;
				MIX(*dg, 41, n);
			}
		}
	} else
		MIX(*dg, 47, h->value.n);	/* unknown: counted */
	return true;
}

/*
 * One message: sip_msg_parse (zero-copy, every header the stack knows
 * typed), then the same fields as the references read, in the same
 * digest; Session-Expires, Min-SE, RSeq, Reason, Accept-Encoding and
 * Accept-Language typed from their raw values; sip_msg_free.
 */
static int
parse_one(const struct corpus_msg *cm, uint64_t *digest, const char **why)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	uint64_t dg = 0;
	int rc = 0;

	if (sip_msg_parse(cm->data, cm->len, SIP_PARSE_BORROW, &m, &err) != 0) {
		*why = err.reason;
		return -1;
	}
	if (m->request) {
		MIX(dg, 1, m->method_str.n);
		MIX(dg, 2, m->ruri.user.n);
		mix_uri(&dg, 3, 4, &m->ruri);
	} else
		MIX(dg, 1, m->status);
	for (unsigned i = 0; i < m->nvia; i++) {
		const struct sip_via *v = &m->via[i];

		MIX(dg, 5, host_len(v->host.p, v->host.n));
		if (v->port != 0)
			MIX(dg, 6, v->port);
		if (slice_present(v->branch))
			MIX(dg, 7, v->branch.n);
	}
	MIX(dg, 8, m->from.uri.user.n +
	    host_len(m->from.uri.host.p, m->from.uri.host.n));
	if (slice_present(m->from.tag))
		MIX(dg, 9, m->from.tag.n);
	MIX(dg, 10, m->to.uri.user.n +
	    host_len(m->to.uri.host.p, m->to.uri.host.n));
	if (slice_present(m->to.tag))
		MIX(dg, 11, m->to.tag.n);
	MIX(dg, 12, m->call_id.n);
	MIX(dg, 13, m->cseq.num);
	MIX(dg, 14, m->cseq.method_str.n);
	for (unsigned i = 0; i < m->ncontact; i++) {
		mix_uri(&dg, 15, 16, &m->contact[i].addr.uri);
		if (m->contact[i].expires >= 0)
			MIX(dg, 17, m->contact[i].expires);
	}
	for (unsigned i = 0; i < m->nroute; i++)
		mix_route(&dg, 18, &m->route[i]);
	for (unsigned i = 0; i < m->nrecord_route; i++)
		mix_route(&dg, 19, &m->record_route[i]);
	if (m->max_forwards >= 0)
		MIX(dg, 20, m->max_forwards);
	if (m->content_length >= 0)
		MIX(dg, 21, m->content_length);
	if (m->expires >= 0)
		MIX(dg, 22, m->expires);
	for (unsigned i = 0; i < m->nwww_auth; i++) {
		MIX(dg, 23, m->www_auth[i].realm.n);
		MIX(dg, 24, m->www_auth[i].nonce.n);
	}
	for (unsigned i = 0; i < m->nauthorization; i++) {
		MIX(dg, 25, m->authorization[i].username.n);
		MIX(dg, 26, m->authorization[i].response.n);
	}
	if (m->has_event)
		MIX(dg, 27, m->event.package.n);
	if (m->has_substate && m->substate.expires >= 0)
		MIX(dg, 28, m->substate.expires);
	mix_tokens(&dg, 29, &m->allow);
	mix_tokens(&dg, 30, &m->supported);
	mix_tokens(&dg, 31, &m->require);
	mix_tokens(&dg, 32, &m->allow_events);
	for (unsigned i = 0; i < m->accept.n; i++) {
		struct slice rest = m->accept.v[i], v, params;

		if (next_item(&rest, &v, &params))
			MIX(dg, 33, v.n);
	}
	if (m->has_content_type)
		MIX(dg, 34, m->content_type.subtype.n);
	if (slice_present(m->user_agent))
		MIX(dg, 35, m->user_agent.n);
	if (slice_present(m->server))
		MIX(dg, 36, m->server.n);
	for (unsigned i = 0; i < m->nhdrs && rc == 0; i++)
		if (!mix_raw(&dg, &m->hdrs[i])) {
			*why = "bad Session-Expires, Min-SE, RSeq or Reason";
			rc = -1;
		}
	MIX(dg, 46, m->body.n);
	sip_msg_free(m);
	*digest += dg;
	return rc;
}

static const char sdp[] =
    "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

static void
build_invite(struct sip_build *b, struct strbuf *out, unsigned i)
{
	sip_build_request(b, "INVITE", "sip:bob@example.com");
	sip_build_addf(b, SIP_HDR_VIA, "SIP/2.0/UDP 192.0.2.10:5060;"
	    "branch=z9hG4bK%08x;rport", i);
	sip_build_add(b, SIP_HDR_MAX_FORWARDS, "70");
	sip_build_add(b, SIP_HDR_FROM, "\"Alice\" <sip:alice@example.com>;"
	    "tag=9fxced76sl");
	sip_build_add(b, SIP_HDR_TO, "<sip:bob@example.com>");
	sip_build_addf(b, SIP_HDR_CALL_ID, "%08x-3848276298220188511@192.0.2.10",
	    i);
	sip_build_add(b, SIP_HDR_CSEQ, "1 INVITE");
	sip_build_add(b, SIP_HDR_CONTACT, "<sip:alice@192.0.2.10:5060>");
	sip_build_add(b, SIP_HDR_ALLOW, "INVITE, ACK, BYE, CANCEL, OPTIONS, "
	    "MESSAGE");
	sip_build_add(b, SIP_HDR_SUPPORTED, "replaces, timer");
	sip_build_add(b, SIP_HDR_USER_AGENT, "sipxd/0.1.0");
	sip_build_body(b, "application/sdp", sdp, sizeof(sdp) - 1);
	strbuf_reset(out);
	sip_build_finish(b, out);
}

/* Digest mode: sip_auth's parsers, as sip_msg_parse calls them. */
static int
parse_auth(int kind, const char *v, size_t n, uint64_t *digest,
    const char **why)
{
	struct sip_auth_challenge ch;
	struct sip_auth_credentials cr;
	uint64_t dg = 0;

	if (kind == AUTH_CHALLENGE) {
		if (sip_auth_challenge_parse(&ch, slice_make(v, n), NULL,
		    why) != 0)
			return -1;
		MIX(dg, 60, ch.realm.n);
		MIX(dg, 61, ch.nonce.n);
		MIX(dg, 62, ch.opaque.n);
		MIX(dg, 63, ch.algorithm_name.n);
		MIX(dg, 64, ch.qop.n);
	} else {
		if (sip_auth_credentials_parse(&cr, slice_make(v, n), why) != 0)
			return -1;
		MIX(dg, 70, cr.username.n);
		MIX(dg, 71, cr.realm.n);
		MIX(dg, 72, cr.nonce.n);
		MIX(dg, 73, cr.uri.n);
		MIX(dg, 74, cr.response.n);
		MIX(dg, 75, cr.cnonce.n);
		MIX(dg, 76, cr.nc_text.n);
		MIX(dg, 77, cr.qop == SIP_AUTH_QOP_NONE ? 0 :
		    strlen(sip_auth_qop_name(cr.qop)));
	}
	*digest += dg;
	return 0;
}

/*
 * The harness's parse figure (or -d digests), then, unless -d, the time
 * to serialise a typical INVITE with SDP (-b BUILDS, default 1000000;
 * -b is taken out before the harness sees the arguments).
 */
int
main(int argc, char **argv)
{
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	long builds = 1000000;
	bool dump = false;
	double t0, t;
	int rc, n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
			builds = strtol(argv[++i], NULL, 10);
			continue;
		}
		if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "-a") == 0)
			dump = true;	/* no build figure either */
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	rc = harness_main(n, argv);
	if (dump || builds <= 0)
		return rc;
	fflush(stdout);
	build_invite(&b, &out, 0);
	t0 = now_ns();
	for (long i = 0; i < builds; i++)
		build_invite(&b, &out, (unsigned)i);
	t = now_ns() - t0;
	printf("sipxd-build  INVITE+SDP (%zu bytes) x %ld  %.1f ns/msg\n",
	    out.n, builds, t / (double)builds);
	sip_build_free(&b);
	strbuf_free(&out);
	return rc;
}
