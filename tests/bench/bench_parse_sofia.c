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

/* ---- shared harness (same in the three bench_parse_*.c) ---------------- */

struct corpus_msg {
	char *name;
	char *data;
	size_t len;
};

/* Order-independent digest: every field read adds (value+1) * key-odd.
 * Build with -DTRACE_DIGEST to print each field (to compare libraries). */
#ifdef TRACE_DIGEST
#define MIX(dg, k, v)                                                          \
	(fprintf(stderr, "  k%-2d %llu\n", (int)(k), (unsigned long long)(v)), \
	 (dg) += ((uint64_t)(v) + 1u) *                                        \
		 ((0x9E3779B97F4A7C15ull * (uint64_t)(k)) | 1u))
#else
#define MIX(dg, k, v)                                                          \
	((dg) += ((uint64_t)(v) + 1u) *                                        \
		 ((0x9E3779B97F4A7C15ull * (uint64_t)(k)) | 1u))
#endif

static inline size_t
host_len(const char *p, size_t n) /* without [ ] of IPv6 */
{
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']')
		return n - 2;
	return n;
}

static inline size_t
unq_len(const char *p, size_t n) /* without surrounding "" */
{
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
		return n - 2;
	return n;
}

static int
cmp_name(const void *a, const void *b)
{
	const struct corpus_msg *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int
load_corpus(const char *dir, struct corpus_msg **out, int *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct corpus_msg *v = NULL;
	int n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[4096];
		FILE *f;
		long sz;

		if (l < 5 || strcmp(de->d_name + l - 4, ".sip") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 0 ||
		    fseek(f, 0, SEEK_SET) != 0) {
			fprintf(stderr, "%s: cannot read\n", path);
			if (f)
				fclose(f);
			closedir(d);
			return -1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			v = realloc(v, (size_t)cap * sizeof *v);
			if (!v)
				abort();
		}
		v[n].name = strdup(de->d_name);
		v[n].data = malloc((size_t)sz + 1);
		if (!v[n].name || !v[n].data)
			abort();
		v[n].len = fread(v[n].data, 1, (size_t)sz, f);
		v[n].data[v[n].len] = '\0';
		fclose(f);
		if (v[n].len != (size_t)sz) {
			fprintf(stderr, "%s: short read\n", path);
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "%s: no *.sip files\n", dir);
		return -1;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_name);
	*out = v;
	*count = n;
	return 0;
}

static double
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void lib_init(void);
static int parse_one(const struct corpus_msg *m, uint64_t *digest,
		     const char **why);

static volatile uint64_t sink;

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-r REPEAT] [-d] DIR\n", prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct corpus_msg *msgs;
	int n, opt, dump = 0;
	long repeat = 0;
	unsigned long fails = 0, warm_fails = 0;
	uint64_t sum = 0;
	double t0, t1, pass_ns;
	long passes;

	while ((opt = getopt(argc, argv, "r:d")) != -1) {
		switch (opt) {
		case 'r':
			repeat = strtol(optarg, NULL, 10);
			if (repeat <= 0)
				usage(argv[0]);
			break;
		case 'd':
			dump = 1;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		usage(argv[0]);

	lib_init();
	if (load_corpus(argv[optind], &msgs, &n) != 0)
		return 2;

	/* First pass: report every message the library rejects, by name. */
	for (int i = 0; i < n; i++) {
		const char *why = NULL;
		uint64_t dg = 0;
		int bad;
#ifdef TRACE_DIGEST
		fprintf(stderr, "== %s\n", msgs[i].name);
#endif
		bad = parse_one(&msgs[i], &dg, &why) != 0;
		if (bad) {
			warm_fails++;
			fprintf(stderr, "%s: %s: parse FAILED: %s\n", LIBNAME,
				msgs[i].name, why ? why : "?");
		}
		if (dump && bad)
			printf("%-28s REJECTED\n", msgs[i].name);
		else if (dump)
			printf("%-28s %016llx\n", msgs[i].name,
			       (unsigned long long)dg);
	}
	if (dump)
		return warm_fails ? 1 : 0;

	/* Warm-up (not counted), also used to pick REPEAT for a ~2.5 s run. */
	passes = 0;
	t0 = now_ns();
	do {
		for (int i = 0; i < n; i++) {
			const char *why;
			(void)parse_one(&msgs[i], &sum, &why);
		}
		passes++;
		t1 = now_ns();
	} while (t1 - t0 < 3e8);
	pass_ns = (t1 - t0) / (double)passes;
	if (repeat == 0) {
		repeat = (long)(2.5e9 / pass_ns);
		if (repeat < 1)
			repeat = 1;
	}

	sum = 0;
	t0 = now_ns();
	for (long r = 0; r < repeat; r++) {
		for (int i = 0; i < n; i++) {
			const char *why;
			if (parse_one(&msgs[i], &sum, &why) != 0)
				fails++;
		}
	}
	t1 = now_ns();
	sink = sum;

	{
		double total = (double)n * (double)repeat;
		double ns = (t1 - t0) / total;
		printf("%s  %d msgs x %ld  %.0f msgs/s  %.1f ns/msg\n", LIBNAME,
		       n, repeat, 1e9 / ns, ns);
	}
	if (fails || warm_fails) {
		fprintf(stderr,
			"%s: %lu of %d corpus messages rejected; %lu failed "
			"parses in the timed loop\n",
			LIBNAME, warm_fails, n, fails);
		return 1;
	}
	return 0;
}

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
