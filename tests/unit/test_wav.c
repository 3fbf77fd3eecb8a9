/*
 * WAV parsing and G.711: files of each accepted format built in memory
 * (with the chunks real writers add: LIST, fact, odd lengths and their
 * pad), broken ones (truncated, lengths past the end, huge lengths,
 * wrong rate, channels or width, no data), every prefix of a good file;
 * and the G.711 laws: silence codes, end points, decode(encode(x)) close
 * to x, every code back to itself, monotonic.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/g711.h"
#include "media/wav.h"

struct wbuf {
	uint8_t		 p[4096];
	size_t		 n;
};

static void
put(struct wbuf *b, const void *p, size_t n)
{
	ck_assert_uint_le(b->n + n, sizeof(b->p));
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put16(struct wbuf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put(b, x, 2);
}

static void
put32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 24) };

	put(b, x, 4);
}

/* A chunk with its pad byte when odd. */
static void
chunk(struct wbuf *b, const char *id, const void *p, uint32_t n)
{
	put(b, id, 4);
	put32(b, n);
	put(b, p, n);
	if (n & 1)
		put(b, "", 1);
}

static void
fmt_chunk(struct wbuf *b, uint16_t tag, uint16_t ch, uint32_t rate,
    uint16_t bits)
{
	struct wbuf f = { .n = 0 };

	put16(&f, tag);
	put16(&f, ch);
	put32(&f, rate);
	put32(&f, rate * ch * bits / 8);
	put16(&f, (uint16_t)(ch * bits / 8));
	put16(&f, bits);
	chunk(b, "fmt ", f.p, (uint32_t)f.n);
}

static void
riff_begin(struct wbuf *b)
{
	b->n = 0;
	put(b, "RIFF", 4);
	put32(b, 0);
	put(b, "WAVE", 4);
}

static void
riff_end(struct wbuf *b)
{
	uint32_t n = (uint32_t)b->n - 8;

	b->p[4] = (uint8_t)n;
	b->p[5] = (uint8_t)(n >> 8);
	b->p[6] = (uint8_t)(n >> 16);
	b->p[7] = (uint8_t)(n >> 24);
}

/* A complete file: fmt, then data. */
static void
make(struct wbuf *b, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t bits,
    const void *data, uint32_t n)
{
	riff_begin(b);
	fmt_chunk(b, tag, ch, rate, bits);
	chunk(b, "data", data, n);
	riff_end(b);
}

static int
parse(const struct wbuf *b, struct wav_audio *a, const char **why)
{
	/* an exact-size copy, so that ASan sees a read past the end */
	uint8_t *p = malloc(b->n > 0 ? b->n : 1);
	int rc;

	memcpy(p, b->p, b->n);
	*why = NULL;
	rc = wav_parse(a, p, b->n, why);
	free(p);
	if (rc != 0)
		ck_assert_ptr_nonnull(*why);
	return rc;
}

static void
expect_fail(const struct wbuf *b, const char *why_part)
{
	struct wav_audio a;
	const char *why;

	ck_assert_int_eq(parse(b, &a, &why), EINVAL);
	ck_assert_msg(strstr(why, why_part) != NULL, "why \"%s\", want \"%s\"",
	    why, why_part);
	ck_assert_ptr_null(a.ulaw);
}

START_TEST(test_ulaw_file)
{
	uint8_t data[301];
	struct wbuf b;
	struct wav_audio a;
	const char *why;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	make(&b, 7, 1, 8000, 8, data, sizeof(data));
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_uint_eq(a.nsamples, sizeof(data));
	ck_assert_mem_eq(a.ulaw, data, sizeof(data));
	for (size_t i = 0; i < sizeof(data); i++)
		ck_assert_uint_eq(a.alaw[i],
		    g711_linear_to_alaw(g711_ulaw_to_linear(data[i])));
	wav_audio_free(&a);
	ck_assert_ptr_null(a.ulaw);
}
END_TEST

START_TEST(test_alaw_file)
{
	uint8_t data[160];
	struct wbuf b;
	struct wav_audio a;
	const char *why;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(255 - i);
	make(&b, 6, 1, 8000, 8, data, sizeof(data));
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_uint_eq(a.nsamples, sizeof(data));
	ck_assert_mem_eq(a.alaw, data, sizeof(data));
	for (size_t i = 0; i < sizeof(data); i++)
		ck_assert_uint_eq(a.ulaw[i],
		    g711_linear_to_ulaw(g711_alaw_to_linear(data[i])));
	wav_audio_free(&a);
}
END_TEST

START_TEST(test_pcm16_file)
{
	static const int16_t pcm[] = { 0, 1000, -1000, 32767, -32768, 8 };
	struct wbuf d = { .n = 0 }, b;
	struct wav_audio a;
	const char *why;

	for (size_t i = 0; i < 6; i++)
		put16(&d, (uint16_t)pcm[i]);
	/* a stray odd byte at the end of the samples is dropped */
	put(&d, "\x7f", 1);
	make(&b, 1, 1, 8000, 16, d.p, (uint32_t)d.n);
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_uint_eq(a.nsamples, 6);
	ck_assert_uint_eq(a.ulaw[0], 0xff);
	ck_assert_uint_eq(a.alaw[0], 0xd5);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(a.ulaw[i], g711_linear_to_ulaw(pcm[i]));
		ck_assert_uint_eq(a.alaw[i], g711_linear_to_alaw(pcm[i]));
	}
	wav_audio_free(&a);
}
END_TEST

/* LIST before fmt, an odd chunk with its pad, fact between, a long fmt. */
START_TEST(test_extra_chunks)
{
	struct wbuf b, f = { .n = 0 };
	struct wav_audio a;
	const char *why;
	uint8_t data[3] = { 1, 2, 3 };

	riff_begin(&b);
	chunk(&b, "LIST", "INFOabc", 7);
	put16(&f, 7);
	put16(&f, 1);
	put32(&f, 8000);
	put32(&f, 8000);
	put16(&f, 1);
	put16(&f, 8);
	put16(&f, 0);		/* cbSize: the 18-byte WAVEFORMATEX */
	chunk(&b, "fmt ", f.p, (uint32_t)f.n);
	chunk(&b, "fact", "\x03\0\0\0", 4);
	chunk(&b, "data", data, 3);
	riff_end(&b);
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_uint_eq(a.nsamples, 3);
	ck_assert_mem_eq(a.ulaw, data, 3);
	wav_audio_free(&a);

	/* the last odd chunk without its pad byte */
	b.n--;
	riff_end(&b);
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_uint_eq(a.nsamples, 3);
	wav_audio_free(&a);

	/* data before fmt, and a RIFF length past the end of the file */
	riff_begin(&b);
	chunk(&b, "data", data, 3);
	fmt_chunk(&b, 6, 1, 8000, 8);
	riff_end(&b);
	b.p[4] += 100;
	ck_assert_int_eq(parse(&b, &a, &why), 0);
	ck_assert_mem_eq(a.alaw, data, 3);
	wav_audio_free(&a);
}
END_TEST

START_TEST(test_bad_files)
{
	uint8_t data[16] = { 0 };
	struct wbuf b;

	b.n = 0;
	expect_fail(&b, "not a RIFF");
	put(&b, "RIFF\4\0\0\0WAVX", 12);
	expect_fail(&b, "not a RIFF");
	make(&b, 7, 1, 8000, 8, data, 16);
	memcpy(b.p, "RIFX", 4);
	expect_fail(&b, "not a RIFF");
	b.n = 0;
	put(&b, "RIFF\3\0\0\0WAVE", 12);
	expect_fail(&b, "RIFF length");

	make(&b, 7, 1, 16000, 8, data, 16);
	expect_fail(&b, "8000");
	make(&b, 7, 2, 8000, 8, data, 16);
	expect_fail(&b, "mono");
	make(&b, 1, 1, 8000, 8, data, 16);
	expect_fail(&b, "bits");
	make(&b, 7, 1, 8000, 16, data, 16);
	expect_fail(&b, "bits");
	make(&b, 3, 1, 8000, 32, data, 16);
	expect_fail(&b, "format");
	make(&b, 0xfffe, 1, 8000, 16, data, 16);
	expect_fail(&b, "format");
	make(&b, 7, 1, 8000, 8, data, 0);
	expect_fail(&b, "no samples");
	make(&b, 1, 1, 8000, 16, data, 1);
	expect_fail(&b, "no samples");

	/* no data chunk, no fmt chunk, a short fmt */
	riff_begin(&b);
	fmt_chunk(&b, 7, 1, 8000, 8);
	chunk(&b, "LIST", "x", 1);
	riff_end(&b);
	expect_fail(&b, "no data");
	riff_begin(&b);
	chunk(&b, "data", data, 4);
	riff_end(&b);
	expect_fail(&b, "no fmt");
	riff_begin(&b);
	chunk(&b, "fmt ", data, 14);
	chunk(&b, "data", data, 4);
	riff_end(&b);
	expect_fail(&b, "too short");

	/* two of a kind */
	riff_begin(&b);
	fmt_chunk(&b, 7, 1, 8000, 8);
	chunk(&b, "data", data, 4);
	chunk(&b, "data", data, 4);
	riff_end(&b);
	expect_fail(&b, "two data");
	riff_begin(&b);
	fmt_chunk(&b, 7, 1, 8000, 8);
	fmt_chunk(&b, 7, 1, 8000, 8);
	chunk(&b, "data", data, 4);
	riff_end(&b);
	expect_fail(&b, "two fmt");
}
END_TEST

/* Chunk lengths that point past the end, small and huge. */
START_TEST(test_chunk_lengths)
{
	static const uint32_t lens[] = { 17, 100, 0x7fffffff, 0xfffffff0,
	    0xffffffff };
	uint8_t data[16] = { 0 };
	struct wbuf b;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make(&b, 7, 1, 8000, 8, data, 16);
		/* the data chunk's length field is the last header */
		memcpy(b.p + b.n - 16 - 4, &(uint8_t[4]){ (uint8_t)lens[i],
		    (uint8_t)(lens[i] >> 8), (uint8_t)(lens[i] >> 16),
		    (uint8_t)(lens[i] >> 24) }, 4);
		expect_fail(&b, "past the end");

		riff_begin(&b);
		put(&b, "LIST", 4);
		put32(&b, lens[i]);
		put(&b, "abcd", 4);
		riff_end(&b);
		expect_fail(&b, "past the end");
	}
	/* RIFF length huge: cut to the file, the chunks still parse */
	make(&b, 7, 1, 8000, 8, data, 16);
	memset(b.p + 4, 0xff, 4);
	{
		struct wav_audio a;
		const char *why;

		ck_assert_int_eq(parse(&b, &a, &why), 0);
		wav_audio_free(&a);
	}
}
END_TEST

/* Every prefix of a good file parses or fails with a reason. */
START_TEST(test_truncated)
{
	uint8_t data[41];
	struct wbuf b, t;
	struct wav_audio a;
	const char *why;
	int ok = 0;

	memset(data, 0x55, sizeof(data));
	riff_begin(&b);
	chunk(&b, "LIST", "INFOx", 5);
	fmt_chunk(&b, 6, 1, 8000, 8);
	chunk(&b, "data", data, sizeof(data));
	riff_end(&b);
	for (size_t n = 0; n <= b.n; n++) {
		memcpy(t.p, b.p, n);
		t.n = n;
		if (parse(&t, &a, &why) == 0) {
			ok++;
			wav_audio_free(&a);
		}
	}
	/* only the whole file, and the one lacking its last pad byte */
	ck_assert_int_eq(ok, 2);
}
END_TEST

START_TEST(test_g711_known)
{
	ck_assert_uint_eq(g711_linear_to_ulaw(0), G711_ULAW_SILENCE);
	ck_assert_uint_eq(g711_linear_to_alaw(0), G711_ALAW_SILENCE);
	ck_assert_uint_eq(G711_ULAW_SILENCE, 0xff);
	ck_assert_uint_eq(G711_ALAW_SILENCE, 0xd5);
	ck_assert_int_eq(g711_ulaw_to_linear(0xff), 0);
	ck_assert_int_eq(g711_ulaw_to_linear(0x7f), 0);
	ck_assert_int_eq(g711_alaw_to_linear(0xd5), 8);
	ck_assert_int_eq(g711_alaw_to_linear(0x55), -8);
	/* the ends of the scale */
	ck_assert_uint_eq(g711_linear_to_ulaw(32767), 0x80);
	ck_assert_uint_eq(g711_linear_to_ulaw(-32768), 0x00);
	ck_assert_uint_eq(g711_linear_to_alaw(32767), 0xaa);
	ck_assert_uint_eq(g711_linear_to_alaw(-32768), 0x2a);
	ck_assert_int_eq(g711_ulaw_to_linear(0x80), 32124);
	ck_assert_int_eq(g711_ulaw_to_linear(0x00), -32124);
	ck_assert_int_eq(g711_alaw_to_linear(0xaa), 32256);
	ck_assert_int_eq(g711_alaw_to_linear(0x2a), -32256);
	/* a few values in between (the step doubles per segment) */
	ck_assert_uint_eq(g711_linear_to_ulaw(1000), 0xce);
	ck_assert_uint_eq(g711_linear_to_ulaw(-1000), 0x4e);
	ck_assert_uint_eq(g711_linear_to_alaw(1000), 0xfa);
	ck_assert_uint_eq(g711_linear_to_alaw(-1000), 0x7a);
}
END_TEST

START_TEST(test_g711_round_trip)
{
	int prev_u = -32768, prev_a = -32768;

	for (int x = -32768; x <= 32767; x++) {
		int u = g711_ulaw_to_linear(g711_linear_to_ulaw((int16_t)x));
		int a = g711_alaw_to_linear(g711_linear_to_alaw((int16_t)x));
		int m = x < 0 ? -x : x;
		/* half a step: 1/32 of the value in the log part, 8 near 0 */
		int bound = m > 32124 ? 650 : m / 32 + 16;

		ck_assert_msg(abs(u - x) <= bound, "ulaw %d -> %d", x, u);
		ck_assert_msg(abs(a - x) <= bound, "alaw %d -> %d", x, a);
		ck_assert_int_ge(u, prev_u);
		ck_assert_int_ge(a, prev_a);
		prev_u = u;
		prev_a = a;
	}
	for (int c = 0; c < 256; c++) {
		if (c != 0x7f)	/* µ-law has two zeros; 0 encodes as 0xff */
			ck_assert_uint_eq(g711_linear_to_ulaw(
			    g711_ulaw_to_linear((uint8_t)c)), c);
		ck_assert_uint_eq(g711_linear_to_alaw(
		    g711_alaw_to_linear((uint8_t)c)), c);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("wav");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_ulaw_file);
	tcase_add_test(tc, test_alaw_file);
	tcase_add_test(tc, test_pcm16_file);
	tcase_add_test(tc, test_extra_chunks);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_chunk_lengths);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_g711_known);
	tcase_add_test(tc, test_g711_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
