/*
 * The harness shared by the reference parse benchmarks
 * (bench_parse_osip.c, bench_parse_sofia.c, bench_parse_re.c): corpus
 * loading, timing, the field digest and main().  Each includer defines
 * LIBNAME and, after including this, lib_init() and parse_one().  It is a
 * header with definitions on purpose: each benchmark is one translation
 * unit built by bench-parse-compare.sh with a single compiler call.
 */
#ifndef SIPX_BENCH_PARSE_HARNESS_H
#define SIPX_BENCH_PARSE_HARNESS_H

#include <strings.h>


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
load_corpus_ext(const char *dir, const char *ext, struct corpus_msg **out,
		int *count)
{
	size_t el = strlen(ext);
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

		if (l <= el || strcmp(de->d_name + l - el, ext) != 0)
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
		fprintf(stderr, "%s: no *%s files\n", dir, ext);
		return -1;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_name);
	*out = v;
	*count = n;
	return 0;
}

static int
load_corpus(const char *dir, struct corpus_msg **out, int *count)
{
	return load_corpus_ext(dir, ".sip", out, count);
}

static double
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint64_t sink;

static void lib_init(void);
static int parse_one(const struct corpus_msg *m, uint64_t *digest,
		     const char **why);

/*
 * Digest mode (-a): each DIR/NAME.auth file is one header line, "WWW-Authenticate:
 * VALUE" (kind AUTH_CHALLENGE) or "Authorization: VALUE" (AUTH_CREDENTIALS).
 * parse_auth() parses VALUE (NUL-terminated, n bytes, without the name) with
 * the library's own digest parser and mixes into *digest: for a challenge
 * realm (60), nonce (61), opaque (62), algorithm (63), qop (64); for
 * credentials username (70), realm (71), nonce (72), uri (73), response
 * (74), cnonce (75), nc (76), qop (77); each the unquoted length, 0 when
 * absent (so "present but empty" and "absent" need not agree).
 */
enum { AUTH_CHALLENGE, AUTH_CREDENTIALS };
static int parse_auth(int kind, const char *v, size_t n, uint64_t *digest,
		      const char **why);

struct auth_item {
	char *name;
	int kind;
	char *value;
	size_t len;
};

static int
load_auth(const char *dir, struct auth_item **out, int *count)
{
	struct corpus_msg *msgs;
	struct auth_item *v;
	int n;

	if (load_corpus_ext(dir, ".auth", &msgs, &n) != 0)
		return -1;
	v = calloc((size_t)n, sizeof *v);
	if (!v)
		abort();
	for (int i = 0; i < n; i++) {
		char *p = msgs[i].data, *colon = strchr(p, ':');
		size_t l;

		if (!colon) {
			fprintf(stderr, "%s: no ':'\n", msgs[i].name);
			return -1;
		}
		if ((size_t)(colon - p) == 16 &&
		    strncasecmp(p, "WWW-Authenticate", 16) == 0)
			v[i].kind = AUTH_CHALLENGE;
		else if ((size_t)(colon - p) == 13 &&
			 strncasecmp(p, "Authorization", 13) == 0)
			v[i].kind = AUTH_CREDENTIALS;
		else {
			fprintf(stderr, "%s: not WWW-Authenticate or "
					"Authorization\n", msgs[i].name);
			return -1;
		}
		for (p = colon + 1; *p == ' ' || *p == '\t'; p++)
			;
		l = strcspn(p, "\r\n");
		p[l] = '\0';
		v[i].name = msgs[i].name;
		v[i].value = p;
		v[i].len = l;
	}
	*out = v;
	*count = n;
	return 0;
}

static int
auth_main(const char *dir, long repeat, int dump)
{
	struct auth_item *items;
	unsigned long fails = 0;
	uint64_t sum = 0;
	double t0, t1;
	long passes = 0;
	int n;

	if (load_auth(dir, &items, &n) != 0)
		return 2;
	for (int i = 0; i < n; i++) {
		const char *why = NULL;
		uint64_t dg = 0;

		if (parse_auth(items[i].kind, items[i].value, items[i].len, &dg,
			       &why) != 0) {
			fails++;
			fprintf(stderr, "%s: %s: digest parse FAILED: %s\n",
				LIBNAME, items[i].name, why ? why : "?");
			if (dump)
				printf("%-28s REJECTED\n", items[i].name);
		} else if (dump)
			printf("%-28s %016llx\n", items[i].name,
			       (unsigned long long)dg);
	}
	if (dump || fails)
		return fails ? 1 : 0;
	t0 = now_ns();
	do {
		for (int i = 0; i < n; i++) {
			const char *why;
			(void)parse_auth(items[i].kind, items[i].value,
					 items[i].len, &sum, &why);
		}
		passes++;
		t1 = now_ns();
	} while (t1 - t0 < 3e8);
	if (repeat == 0) {
		repeat = (long)(2.5e9 / ((t1 - t0) / (double)passes));
		if (repeat < 1)
			repeat = 1;
	}
	t0 = now_ns();
	for (long r = 0; r < repeat; r++)
		for (int i = 0; i < n; i++) {
			const char *why;
			if (parse_auth(items[i].kind, items[i].value,
				       items[i].len, &sum, &why) != 0)
				fails++;
		}
	t1 = now_ns();
	sink = sum;
	{
		double total = (double)n * (double)repeat;
		double ns = (t1 - t0) / total;
		printf("%s  %d auth x %ld  %.0f hdrs/s  %.1f ns/hdr\n", LIBNAME,
		       n, repeat, 1e9 / ns, ns);
	}
	return fails ? 1 : 0;
}


static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-r REPEAT] [-d] [-a] DIR\n", prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct corpus_msg *msgs;
	int n, opt, dump = 0, auth = 0;
	long repeat = 0;
	unsigned long fails = 0, warm_fails = 0;
	uint64_t sum = 0;
	double t0, t1, pass_ns;
	long passes;

	while ((opt = getopt(argc, argv, "r:da")) != -1) {
		switch (opt) {
		case 'r':
			repeat = strtol(optarg, NULL, 10);
			if (repeat <= 0)
				usage(argv[0]);
			break;
		case 'd':
			dump = 1;
			break;
		case 'a':
			auth = 1;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc - 1)
		usage(argv[0]);

	lib_init();
	if (auth)
		return auth_main(argv[optind], repeat, dump);
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

#endif
