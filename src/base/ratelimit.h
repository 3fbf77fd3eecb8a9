/*
 * A log rate limiter: at most `burst` events per interval, counting the
 * ones it refuses so the next allowed line can say how many were
 * suppressed.  For log lines a remote peer can cause at will (framing,
 * parse and accept errors): without it a flood of bad input becomes a
 * flood of disk writes.  Pure arithmetic on a caller-given clock; knows
 * nothing of logging (log_limited() in log.h uses it).
 */
#ifndef SIPX_BASE_RATELIMIT_H
#define SIPX_BASE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t	 interval_us;
	unsigned	 burst;
	bool		 started;
	uint64_t	 start_us;	/* of the current interval */
	unsigned	 n;		/* allowed in it */
	uint64_t	 suppressed;	/* refused since the last allowed */
};

#define RATELIMIT_INIT(ms, burst)	\
	{ (uint64_t)(ms) * 1000, (burst), false, 0, 0, 0 }

/*
 * True when an event at now_us may be logged.  *suppressed (may be
 * NULL) gets how many events were refused since the last allowed one;
 * the count then restarts.
 */
bool	ratelimit_allow(struct ratelimit *, uint64_t now_us,
	    uint64_t *suppressed);

#endif
