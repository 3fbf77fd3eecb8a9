/*
 * bench_parse_osip.c - SIP parse benchmark, reference side: GNU oSIP2
 * (libosipparser2).
 *
 *   bench_parse_osip [-r REPEAT] [-d] DIR
 *
 * Reads every .sip file of DIR into memory once, then parses each message fully
 * REPEAT times on one thread and prints
 *
 *   libosip2  N msgs x R  M msgs/s  X ns/msg
 *
 * "Fully" for oSIP2 (see tests/bench/README.md): osip_message_init +
 * osip_message_parse, which already gives typed structures for the request
 * line / status line, Via, From, To, Call-ID, CSeq, Contact, Route,
 * Record-Route, Content-Type, Content-Length, Accept, Accept-Encoding,
 * Accept-Language, Allow, Authorization and WWW-Authenticate (URIs with
 * their parameter lists, header parameter lists, digest fields). oSIP keeps
 * every other header as a raw name/value pair (already split at commas), so
 * the program then walks that list and parses each one the way an oSIP user
 * would: numbers with strtoul, "token;params" headers (Event,
 * Subscription-State, Session-Expires, Reason) with oSIP's own generic
 * token+parameter parser (osip_accept_encoding_parse), token lists and
 * strings as they are. Then it reads the same set of fields as the other
 * reference programs into a digest and frees the message.
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>

#define LIBNAME "libosip2"

/* Corpus loading, timing, digest and main(): shared by the three. */
#include "bench_parse_harness.h"

/* ---- oSIP2 specific ------------------------------------------------------ */

static void
quiet_trace(const char *fi, int li, osip_trace_level_t level, const char *chfr,
	    va_list ap)
{
	(void)fi, (void)li, (void)level, (void)chfr, (void)ap;
}

static void
lib_init(void)
{
	/* oSIP logs its own parse errors to stderr; failures are reported (by
	 * file name) by this program instead. */
	osip_trace_initialize_func(TRACE_LEVEL0, quiet_trace);
	for (int l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	parser_init();
}

static size_t
slen(const char *s)
{
	return s ? strlen(s) : 0;
}

static void
mix_uri(uint64_t *dg, int khost, int kport, const osip_uri_t *u)
{
	MIX(*dg, khost, host_len(u->host, slen(u->host)));
	if (u->port)
		MIX(*dg, kport, strtoul(u->port, NULL, 10));
}

/* Route / Record-Route entry: host, port, lr flag. */
static void
mix_route(uint64_t *dg, int k, const osip_uri_t *u)
{
	osip_uri_param_t *lr = NULL;
	unsigned long v = host_len(u->host, slen(u->host));
	if (u->port)
		v += strtoul(u->port, NULL, 10);
	if (osip_uri_uparam_get_byname((osip_uri_t *)u, "lr", &lr) ==
		OSIP_SUCCESS &&
	    lr)
		v += 1000;
	MIX(*dg, k, v);
}

/* oSIP's generic "token *(;param)" parser, reused for headers it keeps raw. */
static int
parse_token_params(const char *value, osip_accept_encoding_t **out)
{
	osip_accept_encoding_t *h;
	if (osip_accept_encoding_init(&h) != OSIP_SUCCESS)
		return -1;
	if (osip_accept_encoding_parse(h, value) != OSIP_SUCCESS) {
		osip_accept_encoding_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

static const char *
tp_param(osip_accept_encoding_t *h, const char *name)
{
	osip_generic_param_t *p = NULL;
	if (osip_accept_encoding_param_get_byname(h, (char *)name, &p) ==
		OSIP_SUCCESS &&
	    p)
		return p->gvalue;
	return NULL;
}

static int
parse_one(const struct corpus_msg *cm, uint64_t *digest, const char **why)
{
	osip_message_t *m;
	osip_list_iterator_t it;
	uint64_t dg = 0;
	int rc = 0;

	if (osip_message_init(&m) != OSIP_SUCCESS) {
		*why = "osip_message_init";
		return -1;
	}
	if (osip_message_parse(m, cm->data, cm->len) != OSIP_SUCCESS) {
		*why = "osip_message_parse";
		osip_message_free(m);
		return -1;
	}
	if (!m->from || !m->to || !m->call_id || !m->cseq ||
	    osip_list_size(&m->vias) < 1) {
		*why = "missing From/To/Call-ID/CSeq/Via";
		rc = -1;
		goto out;
	}

	/* Start line. */
	if (MSG_IS_REQUEST(m)) {
		osip_uri_t *u = m->req_uri;
		MIX(dg, 1, slen(m->sip_method));
		MIX(dg, 2, slen(u->username));
		mix_uri(&dg, 3, 4, u);
	} else {
		MIX(dg, 1, m->status_code);
	}

	/* Via (all). */
	{
		osip_via_t *v = osip_list_get_first(&m->vias, &it);
		while (v) {
			osip_generic_param_t *br = NULL;
			MIX(dg, 5, host_len(v->host, slen(v->host)));
			if (v->port)
				MIX(dg, 6, strtoul(v->port, NULL, 10));
			if (osip_via_param_get_byname(v, "branch", &br) ==
				OSIP_SUCCESS &&
			    br)
				MIX(dg, 7, slen(br->gvalue));
			v = osip_list_get_next(&it);
		}
	}

	/* From / To / Call-ID / CSeq. */
	{
		osip_generic_param_t *tag = NULL;
		MIX(dg, 8,
		    slen(m->from->url->username) +
			host_len(m->from->url->host, slen(m->from->url->host)));
		if (osip_from_get_tag(m->from, &tag) == OSIP_SUCCESS && tag)
			MIX(dg, 9, slen(tag->gvalue));
		tag = NULL;
		MIX(dg, 10,
		    slen(m->to->url->username) +
			host_len(m->to->url->host, slen(m->to->url->host)));
		if (osip_to_get_tag(m->to, &tag) == OSIP_SUCCESS && tag)
			MIX(dg, 11, slen(tag->gvalue));
		MIX(dg, 12,
		    slen(m->call_id->number) +
			(m->call_id->host ? 1 + slen(m->call_id->host) : 0));
		MIX(dg, 13, strtoul(m->cseq->number, NULL, 10));
		MIX(dg, 14, slen(m->cseq->method));
	}

	/* Contact (all), with expires parameter. */
	{
		osip_contact_t *c = osip_list_get_first(&m->contacts, &it);
		while (c) {
			osip_generic_param_t *ex = NULL;
			if (c->url) {
				MIX(dg, 15,
				    host_len(c->url->host, slen(c->url->host)));
				if (c->url->port)
					MIX(dg, 16,
					    strtoul(c->url->port, NULL, 10));
			}
			if (osip_contact_param_get_byname(c, "expires", &ex) ==
				OSIP_SUCCESS &&
			    ex)
				MIX(dg, 17, strtoul(ex->gvalue, NULL, 10));
			c = osip_list_get_next(&it);
		}
	}

	/* Route / Record-Route (all). */
	{
		osip_route_t *r = osip_list_get_first(&m->routes, &it);
		while (r) {
			mix_route(&dg, 18, r->url);
			r = osip_list_get_next(&it);
		}
		r = osip_list_get_first(&m->record_routes, &it);
		while (r) {
			mix_route(&dg, 19, r->url);
			r = osip_list_get_next(&it);
		}
	}

	if (m->content_length)
		MIX(dg, 21, strtoul(m->content_length->value, NULL, 10));

	/* WWW-Authenticate / Authorization (digest fields). */
	{
		osip_www_authenticate_t *w =
		    osip_list_get_first(&m->www_authenticates, &it);
		while (w) {
			MIX(dg, 23, unq_len(w->realm, slen(w->realm)));
			MIX(dg, 24, unq_len(w->nonce, slen(w->nonce)));
			w = osip_list_get_next(&it);
		}
		osip_authorization_t *a =
		    osip_list_get_first(&m->authorizations, &it);
		while (a) {
			MIX(dg, 25, unq_len(a->username, slen(a->username)));
			MIX(dg, 26, unq_len(a->response, slen(a->response)));
			a = osip_list_get_next(&it);
		}
	}

	/* Allow / Accept / Accept-Encoding / Accept-Language items. */
	{
		osip_allow_t *al = osip_list_get_first(&m->allows, &it);
		while (al) {
			MIX(dg, 29, slen(al->value));
			al = osip_list_get_next(&it);
		}
		osip_accept_t *ac = osip_list_get_first(&m->accepts, &it);
		while (ac) {
			MIX(dg, 33, slen(ac->type) + 1 + slen(ac->subtype));
			ac = osip_list_get_next(&it);
		}
		osip_accept_encoding_t *ae =
		    osip_list_get_first(&m->accept_encodings, &it);
		while (ae) {
			MIX(dg, 43, slen(ae->element));
			ae = osip_list_get_next(&it);
		}
		osip_accept_language_t *alng =
		    osip_list_get_first(&m->accept_languages, &it);
		while (alng) {
			MIX(dg, 44, slen(alng->element));
			alng = osip_list_get_next(&it);
		}
	}

	if (m->content_type)
		MIX(dg, 34, slen(m->content_type->subtype));

	/* Headers oSIP keeps raw: give each its typed form. */
	{
		osip_header_t *h = osip_list_get_first(&m->headers, &it);
		while (h) {
			const char *n = h->hname,
				   *v = h->hvalue ? h->hvalue : "";
			osip_accept_encoding_t *tp = NULL;

			if (!strcmp(n, "max-forwards")) {
				MIX(dg, 20, strtoul(v, NULL, 10));
			} else if (!strcmp(n, "expires")) {
				MIX(dg, 22, strtoul(v, NULL, 10));
			} else if (!strcmp(n, "event") || !strcmp(n, "o")) {
				if (parse_token_params(v, &tp) != 0)
					goto bad_raw;
				MIX(dg, 27, slen(tp->element));
			} else if (!strcmp(n, "subscription-state")) {
				const char *ex;
				if (parse_token_params(v, &tp) != 0)
					goto bad_raw;
				ex = tp_param(tp, "expires");
				if (ex)
					MIX(dg, 28, strtoul(ex, NULL, 10));
			} else if (!strcmp(n, "supported") || !strcmp(n, "k")) {
				MIX(dg, 30, strlen(v));
			} else if (!strcmp(n, "require")) {
				MIX(dg, 31, strlen(v));
			} else if (!strcmp(n, "allow-events") ||
				   !strcmp(n, "u")) {
				MIX(dg, 32, strlen(v));
			} else if (!strcmp(n, "user-agent")) {
				MIX(dg, 35, strlen(v));
			} else if (!strcmp(n, "server")) {
				MIX(dg, 36, strlen(v));
			} else if (!strcmp(n, "session-expires") ||
				   !strcmp(n, "x")) {
				const char *rf;
				if (parse_token_params(v, &tp) != 0)
					goto bad_raw;
				MIX(dg, 37, strtoul(tp->element, NULL, 10));
				rf = tp_param(tp, "refresher");
				if (rf)
					MIX(dg, 38, strlen(rf));
			} else if (!strcmp(n, "min-se")) {
				MIX(dg, 39, strtoul(v, NULL, 10));
			} else if (!strcmp(n, "rseq")) {
				MIX(dg, 40, strtoul(v, NULL, 10));
			} else if (!strcmp(n, "reason")) {
				const char *cause;
				if (parse_token_params(v, &tp) != 0)
					goto bad_raw;
				MIX(dg, 42, slen(tp->element));
				cause = tp_param(tp, "cause");
				if (cause)
					MIX(dg, 41, strtoul(cause, NULL, 10));
			}
			/* Anything else (Date, ...) stays a string in oSIP. */
			if (tp)
				osip_accept_encoding_free(tp);
			h = osip_list_get_next(&it);
			continue;
		bad_raw:
			*why = "raw header value did not parse";
			rc = -1;
			goto out;
		}
	}

	/* Body. */
	{
		osip_body_t *b = osip_list_get_first(&m->bodies, &it);
		size_t bl = 0;
		while (b) {
			bl += b->length;
			b = osip_list_get_next(&it);
		}
		MIX(dg, 46, bl);
	}

out:
	osip_message_free(m);
	*digest += dg;
	return rc;
}

/* Digest mode: oSIP's standalone header parsers (the ones
 * osip_message_parse calls for these two headers). */
static int
parse_auth(int kind, const char *v, size_t n, uint64_t *digest,
	   const char **why)
{
	uint64_t dg = 0;
	(void)n;

	if (kind == AUTH_CHALLENGE) {
		osip_www_authenticate_t *w;
		if (osip_www_authenticate_init(&w) != 0)
			abort();
		if (osip_www_authenticate_parse(w, v) != 0) {
			osip_www_authenticate_free(w);
			*why = "osip_www_authenticate_parse";
			return -1;
		}
		MIX(dg, 60, unq_len(w->realm, slen(w->realm)));
		MIX(dg, 61, unq_len(w->nonce, slen(w->nonce)));
		MIX(dg, 62, unq_len(w->opaque, slen(w->opaque)));
		MIX(dg, 63, unq_len(w->algorithm, slen(w->algorithm)));
		MIX(dg, 64, unq_len(w->qop_options, slen(w->qop_options)));
		osip_www_authenticate_free(w);
	} else {
		osip_authorization_t *a;
		if (osip_authorization_init(&a) != 0)
			abort();
		if (osip_authorization_parse(a, v) != 0) {
			osip_authorization_free(a);
			*why = "osip_authorization_parse";
			return -1;
		}
		MIX(dg, 70, unq_len(a->username, slen(a->username)));
		MIX(dg, 71, unq_len(a->realm, slen(a->realm)));
		MIX(dg, 72, unq_len(a->nonce, slen(a->nonce)));
		MIX(dg, 73, unq_len(a->uri, slen(a->uri)));
		MIX(dg, 74, unq_len(a->response, slen(a->response)));
		MIX(dg, 75, unq_len(a->cnonce, slen(a->cnonce)));
		MIX(dg, 76, unq_len(a->nonce_count, slen(a->nonce_count)));
		MIX(dg, 77, unq_len(a->message_qop, slen(a->message_qop)));
		osip_authorization_free(a);
	}
	*digest += dg;
	return 0;
}
