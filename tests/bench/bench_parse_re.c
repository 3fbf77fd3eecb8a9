/*
 * bench_parse_re.c - SIP parse benchmark, reference side: libre (the
 * baresip "re" library, Debian's libre 1.1.0 from creytiv).
 *
 *   bench_parse_re [-r REPEAT] [-d] DIR
 *
 * Reads every .sip file of DIR into memory once, then parses each message
 * fully REPEAT times on one thread and prints
 *
 *   libre  N msgs x R  M msgs/s  X ns/msg
 *
 * "Fully" for libre (see tests/bench/README.md): the message is put in a
 * fresh mbuf (mbuf_alloc + mbuf_write_mem, as libre's UDP/TCP receive path
 * hands each packet to the SIP stack in its own mbuf), then sip_msg_decode,
 * which decodes the start line (uri_decode of the Request-URI), the first
 * Via, From, To (with tag), CSeq and Content-Type, caches Call-ID,
 * Max-Forwards, Expires and Content-Length, splits comma lists and indexes
 * every header. Everything else stays a pointer-length string until the
 * user decodes it, so the program then decodes every header the way baresip
 * code does: sip_via_decode for the other Vias, sip_addr_decode (which
 * includes uri_decode) for every Contact, Route and Record-Route, with
 * msg_param_decode / msg_param_exists for expires / lr,
 * httpauth_digest_challenge_decode for WWW-Authenticate,
 * httpauth_digest_response_decode for Authorization, sipevent_event_decode /
 * sipevent_substate_decode for Event / Subscription-State, msg_ctype_decode
 * for each Accept entry, pl_u32 for the numeric headers, re_regex +
 * msg_param_decode for Session-Expires and Reason. Token lists and strings
 * (Allow, Supported, User-Agent, ...) are already in their final form. Then
 * it reads the same set of fields as the other reference programs into a
 * digest and releases the message and the mbuf with mem_deref.
 *
 * -d prints the per-message digest (REJECTED for a message the library
 * rejects) instead of timing (used by
 * bench-parse-compare.sh to check that all libraries parsed the same data).
 *
 * Exit status: 0, or 1 when any message failed to parse (each failure is
 * reported on stderr and the figures are still printed).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libre's headers expect the build system to say what libc provides (as
 * baresip's makefiles do); libre itself was built with all three. */
#define HAVE_INTTYPES_H 1
#define HAVE_STDBOOL_H 1
#define HAVE_INET6 1
#include <netinet/in.h>
#include <re.h>
#include <sys/socket.h>

#define LIBNAME "libre"

/* Corpus loading, timing, digest and main(): shared by the three. */
#include "bench_parse_harness.h"

/* ---- libre specific ------------------------------------------------------ */

static void
lib_init(void)
{
	if (libre_init() != 0) {
		fprintf(stderr, "libre_init failed\n");
		exit(2);
	}
}

struct walk {
	uint64_t dg;
	int err;
	int idx;
};

static void
mix_uri(uint64_t *dg, int khost, int kport, const struct uri *u)
{
	MIX(*dg, khost, host_len(u->host.p, u->host.l));
	if (u->port)
		MIX(*dg, kport, u->port);
}

static bool
via_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct sip_via via;
	const struct sip_via *v = &via;
	struct pl host, port;

	if (w->idx++ == 0) {
		v = &msg->via; /* sip_msg_decode already decoded the top Via */
	} else if (sip_via_decode(&via, &hdr->val)) {
		w->err = 1;
		return true;
	}
	if (uri_decode_hostport(&v->sentby, &host, &port)) {
		w->err = 1;
		return true;
	}
	MIX(w->dg, 5, host_len(host.p, host.l));
	if (pl_isset(&port))
		MIX(w->dg, 6, pl_u32(&port));
	if (pl_isset(&v->branch))
		MIX(w->dg, 7, v->branch.l);
	return false;
}

static bool
contact_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct sip_addr addr;
	struct pl ex;
	(void)msg;

	if (sip_addr_decode(&addr, &hdr->val)) {
		w->err = 1;
		return true;
	}
	mix_uri(&w->dg, 15, 16, &addr.uri);
	if (0 == msg_param_decode(&addr.params, "expires", &ex))
		MIX(w->dg, 17, pl_u32(&ex));
	return false;
}

static bool
route_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct sip_addr addr;
	struct pl end;
	unsigned long v;
	(void)msg;

	if (sip_addr_decode(&addr, &hdr->val)) {
		w->err = 1;
		return true;
	}
	v = host_len(addr.uri.host.p, addr.uri.host.l) + addr.uri.port;
	if (0 == msg_param_exists(&addr.uri.params, "lr", &end))
		v += 1000;
	MIX(w->dg, w->idx, v); /* idx carries the digest key (18 or 19) */
	return false;
}

static bool
chall_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct httpauth_digest_chall ch;
	(void)msg;

	if (httpauth_digest_challenge_decode(&ch, &hdr->val)) {
		w->err = 1;
		return true;
	}
	MIX(w->dg, 23, ch.realm.l);
	MIX(w->dg, 24, ch.nonce.l);
	return false;
}

static bool
resp_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct httpauth_digest_resp rs;
	(void)msg;

	if (httpauth_digest_response_decode(&rs, &hdr->val)) {
		w->err = 1;
		return true;
	}
	MIX(w->dg, 25, rs.username.l);
	MIX(w->dg, 26, rs.response.l);
	return false;
}

/* Token list entry (already split at commas by sip_msg_decode). */
static bool
token_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	(void)msg;
	MIX(w->dg, w->idx, hdr->val.l);
	return false;
}

/* Token with parameters (Accept-Encoding, Accept-Language): the token. */
static bool
tokparam_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct pl tok, params;
	(void)msg;

	if (re_regex(hdr->val.p, hdr->val.l, "[^; \t]+[^]*", &tok, &params)) {
		w->err = 1;
		return true;
	}
	MIX(w->dg, w->idx, tok.l);
	return false;
}

static bool
accept_h(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	struct walk *w = arg;
	struct msg_ctype ct;
	(void)msg;

	if (msg_ctype_decode(&ct, &hdr->val)) {
		w->err = 1;
		return true;
	}
	MIX(w->dg, 33, ct.type.l + 1 + ct.subtype.l);
	return false;
}

static void
walk(const struct sip_msg *msg, enum sip_hdrid id, sip_hdr_h *h, struct walk *w,
     int idx)
{
	w->idx = idx;
	(void)sip_msg_hdr_apply(msg, true, id, h, w);
}

static int
parse_one(const struct corpus_msg *cm, uint64_t *digest, const char **why)
{
	struct mbuf *mb;
	struct sip_msg *msg = NULL;
	const struct sip_hdr *hdr;
	struct walk w = {0, 0, 0};
	int err, rc = 0;

	mb = mbuf_alloc(cm->len);
	if (!mb) {
		*why = "mbuf_alloc";
		return -1;
	}
	if (mbuf_write_mem(mb, (const uint8_t *)cm->data, cm->len)) {
		*why = "mbuf_write_mem";
		mem_deref(mb);
		return -1;
	}
	mb->pos = 0;

	err = sip_msg_decode(&msg, mb);
	if (err) {
		*why = "sip_msg_decode";
		mem_deref(mb);
		return -1;
	}

	if (msg->req) {
		MIX(w.dg, 1, msg->met.l);
		MIX(w.dg, 2, msg->uri.user.l);
		mix_uri(&w.dg, 3, 4, &msg->uri);
	} else {
		MIX(w.dg, 1, msg->scode);
	}

	if (!pl_isset(&msg->via.sentby) || !pl_isset(&msg->from.auri) ||
	    !pl_isset(&msg->to.auri) || !pl_isset(&msg->callid) ||
	    !pl_isset(&msg->cseq.met)) {
		*why = "missing Via/From/To/Call-ID/CSeq";
		rc = -1;
		goto out;
	}

	walk(msg, SIP_HDR_VIA, via_h, &w, 0);

	MIX(w.dg, 8,
	    msg->from.uri.user.l +
		host_len(msg->from.uri.host.p, msg->from.uri.host.l));
	if (pl_isset(&msg->from.tag))
		MIX(w.dg, 9, msg->from.tag.l);
	MIX(w.dg, 10,
	    msg->to.uri.user.l +
		host_len(msg->to.uri.host.p, msg->to.uri.host.l));
	if (pl_isset(&msg->to.tag))
		MIX(w.dg, 11, msg->to.tag.l);
	MIX(w.dg, 12, msg->callid.l);
	MIX(w.dg, 13, msg->cseq.num);
	MIX(w.dg, 14, msg->cseq.met.l);

	walk(msg, SIP_HDR_CONTACT, contact_h, &w, 0);
	walk(msg, SIP_HDR_ROUTE, route_h, &w, 18);
	walk(msg, SIP_HDR_RECORD_ROUTE, route_h, &w, 19);

	if (pl_isset(&msg->maxfwd))
		MIX(w.dg, 20, pl_u32(&msg->maxfwd));
	if (pl_isset(&msg->clen))
		MIX(w.dg, 21, pl_u32(&msg->clen));
	if (pl_isset(&msg->expires))
		MIX(w.dg, 22, pl_u32(&msg->expires));

	walk(msg, SIP_HDR_WWW_AUTHENTICATE, chall_h, &w, 0);
	walk(msg, SIP_HDR_AUTHORIZATION, resp_h, &w, 0);

	hdr = sip_msg_hdr(msg, SIP_HDR_EVENT);
	if (hdr) {
		struct sipevent_event se;
		if (sipevent_event_decode(&se, &hdr->val)) {
			w.err = 1;
			goto out;
		}
		MIX(w.dg, 27, se.event.l);
	}
	hdr = sip_msg_hdr(msg, SIP_HDR_SUBSCRIPTION_STATE);
	if (hdr) {
		struct sipevent_substate ss;
		if (sipevent_substate_decode(&ss, &hdr->val)) {
			w.err = 1;
			goto out;
		}
		if (pl_isset(&ss.expires))
			MIX(w.dg, 28, pl_u32(&ss.expires));
	}

	walk(msg, SIP_HDR_ALLOW, token_h, &w, 29);
	walk(msg, SIP_HDR_SUPPORTED, token_h, &w, 30);
	walk(msg, SIP_HDR_REQUIRE, token_h, &w, 31);
	walk(msg, SIP_HDR_ALLOW_EVENTS, token_h, &w, 32);
	walk(msg, SIP_HDR_ACCEPT, accept_h, &w, 0);
	walk(msg, SIP_HDR_ACCEPT_ENCODING, tokparam_h, &w, 43);
	walk(msg, SIP_HDR_ACCEPT_LANGUAGE, tokparam_h, &w, 44);

	if (pl_isset(&msg->ctyp.subtype))
		MIX(w.dg, 34, msg->ctyp.subtype.l);
	hdr = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	if (hdr)
		MIX(w.dg, 35, hdr->val.l);
	hdr = sip_msg_hdr(msg, SIP_HDR_SERVER);
	if (hdr)
		MIX(w.dg, 36, hdr->val.l);

	hdr = sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES);
	if (hdr) {
		struct pl delta, params, rf;
		if (re_regex(hdr->val.p, hdr->val.l, "[0-9]+[^]*", &delta,
			     &params)) {
			w.err = 1;
			goto out;
		}
		MIX(w.dg, 37, pl_u32(&delta));
		if (0 == msg_param_decode(&params, "refresher", &rf))
			MIX(w.dg, 38, rf.l);
	}
	hdr = sip_msg_hdr(msg, SIP_HDR_MIN_SE);
	if (hdr)
		MIX(w.dg, 39, pl_u32(&hdr->val));
	hdr = sip_msg_hdr(msg, SIP_HDR_RSEQ);
	if (hdr)
		MIX(w.dg, 40, pl_u32(&hdr->val));
	for (hdr = sip_msg_hdr(msg, SIP_HDR_REASON); hdr; hdr = NULL) {
		struct pl proto, params, cause;
		if (re_regex(hdr->val.p, hdr->val.l, "[^; \t]+[^]*", &proto,
			     &params)) {
			w.err = 1;
			goto out;
		}
		MIX(w.dg, 42, proto.l);
		if (0 == msg_param_decode(&params, "cause", &cause))
			MIX(w.dg, 41, pl_u32(&cause));
	}

	MIX(w.dg, 46, mbuf_get_left(mb));

out:
	if (w.err && !rc) {
		*why = "a header failed to decode";
		rc = -1;
	}
	mem_deref(msg);
	mem_deref(mb);
	*digest += w.dg;
	return rc;
}

/* Digest mode: libre's httpauth decoders (what its SIP code calls). */
static int
parse_auth(int kind, const char *v, size_t n, uint64_t *digest,
	   const char **why)
{
	struct pl hval = {v, n};
	uint64_t dg = 0;

	if (kind == AUTH_CHALLENGE) {
		struct httpauth_digest_chall ch;
		if (httpauth_digest_challenge_decode(&ch, &hval)) {
			*why = "httpauth_digest_challenge_decode";
			return -1;
		}
		MIX(dg, 60, ch.realm.l);
		MIX(dg, 61, ch.nonce.l);
		MIX(dg, 62, ch.opaque.l);
		MIX(dg, 63, ch.algorithm.l);
		MIX(dg, 64, ch.qop.l);
	} else {
		struct httpauth_digest_resp rs;
		if (httpauth_digest_response_decode(&rs, &hval)) {
			*why = "httpauth_digest_response_decode";
			return -1;
		}
		MIX(dg, 70, rs.username.l);
		MIX(dg, 71, rs.realm.l);
		MIX(dg, 72, rs.nonce.l);
		MIX(dg, 73, rs.uri.l);
		MIX(dg, 74, rs.response.l);
		MIX(dg, 75, rs.cnonce.l);
		MIX(dg, 76, rs.nc.l);
		MIX(dg, 77, rs.qop.l);
	}
	*digest += dg;
	return 0;
}
