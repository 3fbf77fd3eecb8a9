/*
 * RIFF/WAVE parsing for play mode (see wav.h).  The image comes from a
 * file an administrator named, which is still untrusted input: every
 * chunk length is checked against what is left before it is used, odd
 * chunks skip their pad byte, and chunks we do not need (LIST, fact,
 * cue, ...) are stepped over.  The samples end up as both µ-law and
 * A-law codes so that a session sends whichever its codec needs by
 * copying bytes; 16-bit PCM is encoded once here, and a G.711 file is
 * transcoded to the other law through the linear value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "g711.h"
#include "wav.h"

/* WAVEFORMATEX format tags we accept. */
#define WAV_FMT_PCM	1
#define WAV_FMT_ALAW	6
#define WAV_FMT_ULAW	7

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int
wav_parse(struct wav_audio *out, const uint8_t *p, size_t n,
    const char **why)
{
	const uint8_t *fmt = NULL, *data = NULL;
	size_t fmtlen = 0, datalen = 0, off, end, nsamples, i;
	uint16_t tag, channels, bits;
	uint32_t rate, riff;

	memset(out, 0, sizeof(*out));
	if (n < 12 || memcmp(p, "RIFF", 4) != 0 ||
	    memcmp(p + 8, "WAVE", 4) != 0) {
		*why = "not a RIFF/WAVE file";
		return EINVAL;
	}
	/*
	 * The RIFF length bounds the chunks.  Some writers get it wrong by
	 * a few bytes, so one past the end of the file is cut to the file;
	 * a truncated file still fails on the chunk that runs past it.
	 */
	riff = le32(p + 4);
	if (riff < 4) {
		*why = "RIFF length too short";
		return EINVAL;
	}
	end = riff > n - 8 ? n : 8 + (size_t)riff;
	for (off = 12; off < end;) {
		uint32_t len;

		if (end - off < 8) {
			*why = "truncated chunk header";
			return EINVAL;
		}
		len = le32(p + off + 4);
		if (len > end - off - 8) {
			*why = "chunk runs past the end of the file";
			return EINVAL;
		}
		if (memcmp(p + off, "fmt ", 4) == 0) {
			if (fmt != NULL) {
				*why = "two fmt chunks";
				return EINVAL;
			}
			fmt = p + off + 8;
			fmtlen = len;
		} else if (memcmp(p + off, "data", 4) == 0) {
			if (data != NULL) {
				*why = "two data chunks";
				return EINVAL;
			}
			data = p + off + 8;
			datalen = len;
		}
		off += 8 + (size_t)len;
		/* RIFF pads odd chunks; a last chunk may lack its pad */
		if ((len & 1) != 0 && off < end)
			off++;
	}
	if (fmt == NULL) {
		*why = "no fmt chunk";
		return EINVAL;
	}
	if (fmtlen < 16) {
		*why = "fmt chunk too short";
		return EINVAL;
	}
	if (data == NULL) {
		*why = "no data chunk";
		return EINVAL;
	}
	tag = le16(fmt);
	channels = le16(fmt + 2);
	rate = le32(fmt + 4);
	bits = le16(fmt + 14);
	if (tag != WAV_FMT_PCM && tag != WAV_FMT_ALAW && tag != WAV_FMT_ULAW) {
		*why = "format is not PCM, A-law or mu-law";
		return EINVAL;
	}
	if (channels != 1) {
		*why = "not mono";
		return EINVAL;
	}
	if (rate != 8000) {
		*why = "sample rate is not 8000 Hz";
		return EINVAL;
	}
	if ((tag == WAV_FMT_PCM && bits != 16) ||
	    (tag != WAV_FMT_PCM && bits != 8)) {
		*why = "bits per sample do not match the format";
		return EINVAL;
	}
	/* a stray odd byte at the end of 16-bit data is dropped */
	nsamples = tag == WAV_FMT_PCM ? datalen / 2 : datalen;
	if (nsamples == 0) {
		*why = "no samples";
		return EINVAL;
	}

	out->ulaw = xmalloc(nsamples);
	out->alaw = xmalloc(nsamples);
	out->nsamples = nsamples;
	for (i = 0; i < nsamples; i++) {
		int16_t s;

		switch (tag) {
		case WAV_FMT_PCM:
			s = (int16_t)le16(data + 2 * i);
			out->ulaw[i] = g711_linear_to_ulaw(s);
			out->alaw[i] = g711_linear_to_alaw(s);
			break;
		case WAV_FMT_ULAW:
			out->ulaw[i] = data[i];
			out->alaw[i] = g711_linear_to_alaw(
			    g711_ulaw_to_linear(data[i]));
			break;
		default:
			out->alaw[i] = data[i];
			out->ulaw[i] = g711_linear_to_ulaw(
			    g711_alaw_to_linear(data[i]));
			break;
		}
	}
	return 0;
}

void
wav_audio_free(struct wav_audio *a)
{
	if (a == NULL)
		return;
	free(a->ulaw);
	free(a->alaw);
	memset(a, 0, sizeof(*a));
}
