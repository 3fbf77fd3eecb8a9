/*
 * libFuzzer target for the WAV parser: any bytes must parse or fail
 * with a reason, without reading out of bounds; a file that parses has
 * samples, no more than its bytes, and the two laws agree on every
 * sample to within one G.711 step (each is the other transcoded, or
 * both come from the same linear sample).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/g711.h"
#include "media/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wav_audio a;
	const char *why = NULL;
	uint8_t *buf;

	/* an exact-size copy, so that ASan sees any read past the end */
	buf = malloc(size > 0 ? size : 1);
	memcpy(buf, data, size);
	if (wav_parse(&a, buf, size, &why) != 0) {
		if (why == NULL || a.ulaw != NULL || a.alaw != NULL)
			abort();
		free(buf);
		return 0;
	}
	if (a.nsamples == 0 || a.nsamples > size || a.ulaw == NULL ||
	    a.alaw == NULL)
		abort();
	for (size_t i = 0; i < a.nsamples; i++) {
		int u = g711_ulaw_to_linear(a.ulaw[i]);
		int l = g711_alaw_to_linear(a.alaw[i]);
		int m = abs(u) > abs(l) ? abs(u) : abs(l);

		if (abs(u - l) > m / 8 + 32)
			abort();
	}
	wav_audio_free(&a);
	free(buf);
	return 0;
}
