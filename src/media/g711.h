/*
 * G.711 (ITU-T G.711) µ-law and A-law: 16-bit linear samples to and from
 * the 8-bit codes PCMU and PCMA carry, and the code each uses for silence.
 */
#ifndef SIPX_MEDIA_G711_H
#define SIPX_MEDIA_G711_H

#include <stdint.h>

#define G711_ULAW_SILENCE	0xff
#define G711_ALAW_SILENCE	0xd5

uint8_t	g711_linear_to_ulaw(int16_t);
uint8_t	g711_linear_to_alaw(int16_t);
int16_t	g711_ulaw_to_linear(uint8_t);
int16_t	g711_alaw_to_linear(uint8_t);

#endif
