/*
 * bench_parse_sofia.c - SIP parse benchmark, reference side: Sofia-SIP
 * (libsofia-sip-ua, msg/sip parser).
 *
 *   bench_parse_sofia [-r REPEAT] [-d] DIR
 *
 * Reads every .sip file of DIR into memory once, then parses each message
 * fully REPEAT times on one thread and prints
 *
 *   sofia-sip  N msgs x R  M msgs/s  X ns/msg
 *
 * "Fully" for Sofia-SIP (see tests/bench/README.md): msg_make(
 * sip_default_mclass(), 0, buf, len), which is msg_create + msg_recv_iovec
 * + copy into the message buffer + msg_recv_commit(eos) + msg_extract: the
 * same steps as tport does for a datagram. msg_extract runs the class parser
 * of every header in the default SIP mclass eagerly (there is no lazy
 * parsing in msg_extract): URLs split into parts, header parameters into
 * msg_param_t arrays with their shortcuts (v_branch, a_tag, m_expires, ...),
 * token lists into k_items, numbers converted, Authorization/WWW-Authenticate
 * into scheme + parameter list, Date into a time value. Headers outside the
 * mclass would land in sip_unknown (name/value): there are none in the
 * corpus, and the program counts them if any appear. A parse error in any
 * header (sip_error, msg_extract_errors(), MSG_FLG_ERROR, incomplete
 * message) counts as a failure. The program then reads the same set of
 * fields as the other reference programs into a digest (URL parameters with
 * url_has_param, auth parameters with msg_params_find) and calls
 * msg_destroy.
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

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su.h>
#include <sofia-sip/url.h>

#define LIBNAME "sofia-sip"

#ifndef SOFIA_MSG_FLAGS
#define SOFIA_MSG_FLAGS 0 /* what msg_make()'s documentation example uses */
#endif

/* Corpus loading, timing, digest and main(): shared by the three. */
#include "bench_parse_harness.h"

/* ---- Sofia-SIP specific -------------------------------------------------- */

static void
lib_init(void)
{
	su_init();
}

static size_t
slen(const char *s)
{
	return s ? strlen(s) : 0;
}

static void
mix_url(uint64_t *dg, int khost, int kport, const url_t *u)
{
	MIX(*dg, khost, host_len(u->url_host, slen(u->url_host)));
	if (u->url_port)
		MIX(*dg, kport, strtoul(u->url_port, NULL, 10));
}

static void
mix_route(uint64_t *dg, int k, const url_t *u)
{
	unsigned long v = host_len(u->url_host, slen(u->url_host));
	if (u->url_port)
		v += strtoul(u->url_port, NULL, 10);
	if (url_has_param(u, "lr"))
		v += 1000;
	MIX(*dg, k, v);
}

static void
mix_list(uint64_t *dg, int k, const msg_list_t *l)
{
	for (; l; l = l->k_next)
		for (msg_param_t const *it = l->k_items; it && *it; it++)
			MIX(*dg, k, strlen(*it));
}

static size_t
auth_param_len(msg_param_t const *params, const char *name)
{
	const char *v = msg_params_find(params, name);
	return v ? unq_len(v, strlen(v)) : 0;
}

static int
parse_one(const struct corpus_msg *cm, uint64_t *digest, const char **why)
{
	msg_t *msg;
	sip_t *sip;
	uint64_t dg = 0;
	int rc = 0;

	msg = msg_make(sip_default_mclass(), SOFIA_MSG_FLAGS, cm->data,
		       (ssize_t)cm->len);
	if (!msg) {
		*why = "msg_make returned NULL";
		return -1;
	}
	sip = sip_object(msg);
	if (!sip || msg_has_error(msg) || !msg_is_complete(msg)) {
		*why = "msg_make: MSG_FLG_ERROR or incomplete message";
		rc = -1;
		goto out;
	}
	if (sip->sip_error || msg_extract_errors(msg)) {
		*why =
		    "a header failed to parse (sip_error / msg_extract_errors)";
		rc = -1;
		goto out;
	}
	if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id ||
	    !sip->sip_cseq || !sip->sip_via ||
	    !(sip->sip_request || sip->sip_status)) {
		*why = "missing start line/From/To/Call-ID/CSeq/Via";
		rc = -1;
		goto out;
	}

	if (sip->sip_request) {
		const url_t *u = sip->sip_request->rq_url;
		MIX(dg, 1, slen(sip->sip_request->rq_method_name));
		MIX(dg, 2, slen(u->url_user));
		mix_url(&dg, 3, 4, u);
	} else {
		MIX(dg, 1, sip->sip_status->st_status);
	}

	for (const sip_via_t *v = sip->sip_via; v; v = v->v_next) {
		MIX(dg, 5, host_len(v->v_host, slen(v->v_host)));
		if (v->v_port)
			MIX(dg, 6, strtoul(v->v_port, NULL, 10));
		if (v->v_branch)
			MIX(dg, 7, strlen(v->v_branch));
	}

	MIX(dg, 8,
	    slen(sip->sip_from->a_url->url_user) +
		host_len(sip->sip_from->a_url->url_host,
			 slen(sip->sip_from->a_url->url_host)));
	if (sip->sip_from->a_tag)
		MIX(dg, 9, strlen(sip->sip_from->a_tag));
	MIX(dg, 10,
	    slen(sip->sip_to->a_url->url_user) +
		host_len(sip->sip_to->a_url->url_host,
			 slen(sip->sip_to->a_url->url_host)));
	if (sip->sip_to->a_tag)
		MIX(dg, 11, strlen(sip->sip_to->a_tag));
	MIX(dg, 12, slen(sip->sip_call_id->i_id));
	MIX(dg, 13, sip->sip_cseq->cs_seq);
	MIX(dg, 14, slen(sip->sip_cseq->cs_method_name));

	for (const sip_contact_t *c = sip->sip_contact; c; c = c->m_next) {
		mix_url(&dg, 15, 16, c->m_url);
		if (c->m_expires)
			MIX(dg, 17, strtoul(c->m_expires, NULL, 10));
	}
	for (const sip_route_t *r = sip->sip_route; r; r = r->r_next)
		mix_route(&dg, 18, r->r_url);
	for (const sip_record_route_t *r = sip->sip_record_route; r;
	     r = r->r_next)
		mix_route(&dg, 19, r->r_url);

	if (sip->sip_max_forwards)
		MIX(dg, 20, sip->sip_max_forwards->mf_count);
	if (sip->sip_content_length)
		MIX(dg, 21, sip->sip_content_length->l_length);
	if (sip->sip_expires)
		MIX(dg, 22, sip->sip_expires->ex_delta);

	for (const sip_www_authenticate_t *w = sip->sip_www_authenticate; w;
	     w = w->au_next) {
		MIX(dg, 23, auth_param_len(w->au_params, "realm"));
		MIX(dg, 24, auth_param_len(w->au_params, "nonce"));
	}
	for (const sip_authorization_t *a = sip->sip_authorization; a;
	     a = a->au_next) {
		MIX(dg, 25, auth_param_len(a->au_params, "username"));
		MIX(dg, 26, auth_param_len(a->au_params, "response"));
	}

	if (sip->sip_event)
		MIX(dg, 27, slen(sip->sip_event->o_type));
	if (sip->sip_subscription_state &&
	    sip->sip_subscription_state->ss_expires)
		MIX(dg, 28,
		    strtoul(sip->sip_subscription_state->ss_expires, NULL, 10));

	if (sip->sip_allow)
		mix_list(&dg, 29, (const msg_list_t *)sip->sip_allow);
	mix_list(&dg, 30, sip->sip_supported);
	mix_list(&dg, 31, sip->sip_require);
	mix_list(&dg, 32, sip->sip_allow_events);
	for (const sip_accept_t *a = sip->sip_accept; a; a = a->ac_next)
		MIX(dg, 33, slen(a->ac_type));
	for (const sip_accept_encoding_t *a = sip->sip_accept_encoding; a;
	     a = a->aa_next)
		MIX(dg, 43, slen(a->aa_value));
	for (const sip_accept_language_t *a = sip->sip_accept_language; a;
	     a = a->aa_next)
		MIX(dg, 44, slen(a->aa_value));

	if (sip->sip_content_type)
		MIX(dg, 34, slen(sip->sip_content_type->c_subtype));
	if (sip->sip_user_agent)
		MIX(dg, 35, slen(sip->sip_user_agent->g_string));
	if (sip->sip_server)
		MIX(dg, 36, slen(sip->sip_server->g_string));

	if (sip->sip_session_expires) {
		MIX(dg, 37, sip->sip_session_expires->x_delta);
		if (sip->sip_session_expires->x_refresher)
			MIX(dg, 38,
			    strlen(sip->sip_session_expires->x_refresher));
	}
	if (sip->sip_min_se)
		MIX(dg, 39, sip->sip_min_se->min_delta);
	if (sip->sip_rseq)
		MIX(dg, 40, sip->sip_rseq->rs_response);
	for (const sip_reason_t *r = sip->sip_reason; r; r = r->re_next) {
		MIX(dg, 42, slen(r->re_protocol));
		if (r->re_cause)
			MIX(dg, 41, strtoul(r->re_cause, NULL, 10));
	}

	{
		size_t bl = 0;
		for (const sip_payload_t *p = sip->sip_payload; p;
		     p = p->pl_next)
			bl += p->pl_len;
		MIX(dg, 46, bl);
	}

	/* Headers outside the default mclass stay name/value: just count them.
	 */
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		MIX(dg, 47, slen(u->un_value));

out:
	msg_destroy(msg);
	*digest += dg;
	return rc;
}

/* Digest mode: the header classes' own parsers, through msg_header_make
 * with a home per header (as a msg_t owns its headers' memory). */
static int
parse_auth(int kind, const char *v, size_t n, uint64_t *digest,
	   const char **why)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	msg_auth_t *au;
	uint64_t dg = 0;
	(void)n;

	au = (msg_auth_t *)msg_header_make(home,
					   kind == AUTH_CHALLENGE
					       ? sip_www_authenticate_class
					       : sip_authorization_class,
					   v);
	if (!au) {
		su_home_deinit(home);
		*why = "msg_header_make";
		return -1;
	}
	if (kind == AUTH_CHALLENGE) {
		MIX(dg, 60, auth_param_len(au->au_params, "realm"));
		MIX(dg, 61, auth_param_len(au->au_params, "nonce"));
		MIX(dg, 62, auth_param_len(au->au_params, "opaque"));
		MIX(dg, 63, auth_param_len(au->au_params, "algorithm"));
		MIX(dg, 64, auth_param_len(au->au_params, "qop"));
	} else {
		MIX(dg, 70, auth_param_len(au->au_params, "username"));
		MIX(dg, 71, auth_param_len(au->au_params, "realm"));
		MIX(dg, 72, auth_param_len(au->au_params, "nonce"));
		MIX(dg, 73, auth_param_len(au->au_params, "uri"));
		MIX(dg, 74, auth_param_len(au->au_params, "response"));
		MIX(dg, 75, auth_param_len(au->au_params, "cnonce"));
		MIX(dg, 76, auth_param_len(au->au_params, "nc"));
		MIX(dg, 77, auth_param_len(au->au_params, "qop"));
	}
	su_home_deinit(home);
	*digest += dg;
	return 0;
}
