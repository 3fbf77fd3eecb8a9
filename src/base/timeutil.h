/* Clocks: monotonic for intervals, real time for what people read. */
#ifndef SIPX_BASE_TIMEUTIL_H
#define SIPX_BASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

uint64_t	time_mono_us(void);
/* Seconds since the epoch with millisecond precision. */
double		time_real(void);
/* "2026-11-25T12:00:00.123Z" into buf (at least 32 bytes). */
void		time_iso8601(char *buf, size_t len);

#endif
