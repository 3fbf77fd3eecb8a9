/*
 * G.711 companding (see g711.h).  Both laws split the magnitude into
 * eight segments, each twice as wide as the one below, and keep four
 * mantissa bits inside the segment.  µ-law adds a bias of 33 (in 14-bit
 * units) so that the segments start at powers of two, and inverts every
 * bit; A-law works on 13 bits and inverts the even bits (XOR 0x55).
 * Only used at load time and in tests: the send path copies codes.
 */
#include "g711.h"

/* µ-law, on the 16-bit scale: the bias 33 << 2 and the clip point. */
#define ULAW_BIAS	0x84
#define ULAW_CLIP	32635

/* Index of the highest set bit of v (v > 0). */
static int
top_bit(unsigned v)
{
	int b = 0;

	while (v >>= 1)
		b++;
	return b;
}

uint8_t
g711_linear_to_ulaw(int16_t pcm)
{
	int v = pcm;
	uint8_t sign = 0;
	int seg, mant;

	if (v < 0) {
		v = -v;
		sign = 0x80;
	}
	if (v > ULAW_CLIP)
		v = ULAW_CLIP;
	v += ULAW_BIAS;
	/* v is in [0x84, 0x7fff]: bit 7 up to bit 14 gives segment 0-7 */
	seg = top_bit((unsigned)v) - 7;
	mant = (v >> (seg + 3)) & 0x0f;
	return (uint8_t)~(sign | (seg << 4) | mant);
}

int16_t
g711_ulaw_to_linear(uint8_t code)
{
	unsigned u = (uint8_t)~code;
	int seg = (u >> 4) & 0x07;
	int mag;

	mag = ((((int)u & 0x0f) << 3) + ULAW_BIAS) << seg;
	mag -= ULAW_BIAS;
	return (int16_t)((u & 0x80) ? -mag : mag);
}

uint8_t
g711_linear_to_alaw(int16_t pcm)
{
	int v = pcm >> 3;		/* 13 significant bits */
	uint8_t mask;
	int seg, mant;

	if (v >= 0)
		mask = 0xd5;		/* sign bit set means positive */
	else {
		mask = 0x55;
		v = -v - 1;
	}
	if (v > 0xfff)
		v = 0xfff;
	if (v < 0x20) {
		/* segments 0 and 1 share the same step: the linear part */
		seg = 0;
		mant = (v >> 1) & 0x0f;
	} else {
		seg = top_bit((unsigned)v) - 4;
		mant = (v >> seg) & 0x0f;
	}
	return (uint8_t)(((seg << 4) | mant) ^ mask);
}

int16_t
g711_alaw_to_linear(uint8_t code)
{
	unsigned a = code ^ 0x55u;
	int seg = (a >> 4) & 0x07;
	int mag = (int)(a & 0x0f) << 4;

	/* the middle of the step, on the 16-bit scale */
	if (seg == 0)
		mag += 8;
	else
		mag = (mag + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? mag : -mag);
}
