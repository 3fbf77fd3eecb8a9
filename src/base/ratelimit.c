/*
 * Log rate limiter (see ratelimit.h): fixed intervals, a burst per
 * interval, a count of what was refused.
 */
#include <stddef.h>

#include "ratelimit.h"

bool
ratelimit_allow(struct ratelimit *rl, uint64_t now_us, uint64_t *suppressed)
{
	if (!rl->started || now_us < rl->start_us ||
	    now_us - rl->start_us >= rl->interval_us) {
		rl->started = true;
		rl->start_us = now_us;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->n++;
	if (suppressed != NULL)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
