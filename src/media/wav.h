/*
 * WAV files for play mode: parses a RIFF/WAVE image in memory (never
 * touches a file; the engine reads it) into 8 kHz mono samples held as
 * both µ-law and A-law codes, ready to send as PCMU or PCMA.  Accepts
 * format 7 (µ-law), 6 (A-law) and 1 (16-bit linear PCM), 8000 Hz, one
 * channel; anything else is refused with a reason.
 */
#ifndef SIPX_MEDIA_WAV_H
#define SIPX_MEDIA_WAV_H

#include <stddef.h>
#include <stdint.h>

struct wav_audio {
	uint8_t		*ulaw;		/* nsamples codes each */
	uint8_t		*alaw;
	size_t		 nsamples;
};

/* 0, or EINVAL with a static reason in *why.  Free with wav_audio_free. */
int	wav_parse(struct wav_audio *, const uint8_t *p, size_t n,
	    const char **why);
void	wav_audio_free(struct wav_audio *);

#endif
