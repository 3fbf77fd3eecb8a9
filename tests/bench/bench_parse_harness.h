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

#endif
