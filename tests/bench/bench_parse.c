/*
 * Parse benchmark for sipxd's message layer: reads every *.sip file of a
 * directory once, then parses each message fully (every header the stack
 * knows into its typed form: Via, From/To/Contact/Route/Record-Route with
 * their URIs, CSeq, auth headers, token lists…) R times, single thread.
 * Prints the same line as the reference benchmarks (bench_parse_*.c) so
 * bench-parse-compare.sh can put them side by side.  Then times building
 * a typical INVITE with an SDP body.  Figures, never pass/fail.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sip/sip_build.h"
#include "sip/sip_msg.h"

struct item {
	char	*buf;
	size_t	 len;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
load(const char *dir, struct item *items, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL) {
		perror(dir);
		exit(2);
	}
	while ((de = readdir(d)) != NULL && n < max) {
		size_t l = strlen(de->d_name);
		char path[4096];
		FILE *f;

		if (l < 5 || strcmp(de->d_name + l - 4, ".sip") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		items[n].buf = malloc(70000);
		items[n].len = fread(items[n].buf, 1, 70000, f);
		fclose(f);
		n++;
	}
	closedir(d);
	return n;
}

static uint64_t sink;

/* Touches typed results so the work cannot be optimised away. */
static void
use(const struct sip_msg *m)
{
	sink += m->nvia + m->cseq.num + m->ncontact + m->nroute +
	    m->nrecord_route + m->from.tag.n + m->to.uri.host.n +
	    m->call_id.n + (uint64_t)m->content_length;
}

static int
parse_all(struct item *items, size_t n)
{
	struct sip_parse_error err;
	struct sip_msg *m;
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (sip_msg_parse(items[i].buf, items[i].len, SIP_PARSE_BORROW,
		    &m, &err) != 0) {
			bad++;
			continue;
		}
		use(m);
		sip_msg_free(m);
	}
	return bad;
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

int
main(int argc, char **argv)
{
	static struct item items[4096];
	struct sip_build b = { 0 };
	struct strbuf out = STRBUF_INIT;
	long reps = 0, builds = 1000000;
	size_t n;
	double t0, t;
	int ch, bad;

	while ((ch = getopt(argc, argv, "r:b:")) != -1) {
		if (ch == 'r')
			reps = strtol(optarg, NULL, 10);
		else if (ch == 'b')
			builds = strtol(optarg, NULL, 10);
		else {
			fprintf(stderr, "usage: bench_parse [-r REPEAT] [-b BUILDS] DIR\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: bench_parse [-r REPEAT] [-b BUILDS] DIR\n");
		return 2;
	}
	n = load(argv[optind], items, sizeof(items) / sizeof(items[0]));
	if (n == 0) {
		fprintf(stderr, "no *.sip files in %s\n", argv[optind]);
		return 2;
	}
	bad = parse_all(items, n);	/* warm-up, and the failure count */
	if (bad > 0)
		fprintf(stderr, "bench_parse: %d of %zu messages rejected\n",
		    bad, n);
	if (reps <= 0) {
		/* About 2.5 s. */
		t0 = now();
		for (reps = 0; now() - t0 < 0.25; reps++)
			parse_all(items, n);
		reps *= 10;
	}
	t0 = now();
	for (long r = 0; r < reps; r++)
		parse_all(items, n);
	t = now() - t0;
	printf("sipxd  %zu msgs x %ld  %.0f msgs/s  %.1f ns/msg\n", n, reps,
	    (double)n * (double)reps / t, t * 1e9 / ((double)n * (double)reps));

	/* Serialising a typical INVITE with SDP. */
	build_invite(&b, &out, 0);
	t0 = now();
	for (long i = 0; i < builds; i++)
		build_invite(&b, &out, (unsigned)i);
	t = now() - t0;
	if (builds > 0)
		printf("sipxd-build  INVITE+SDP (%zu bytes) x %ld  %.1f ns/msg\n",
		    out.n, builds, t * 1e9 / (double)builds);
	sip_build_free(&b);
	strbuf_free(&out);
	return sink == 42 ? 1 : 0;
}
