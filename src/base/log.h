/*
 * Logging: one line per event on stderr.  Under systemd (stderr is the
 * journal stream) each line carries a <N> syslog priority prefix so the
 * journal keeps the level; elsewhere each line carries a timestamp.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() and
 * fatalx() log and exit(1).
 */
#ifndef SIPX_BASE_LOG_H
#define SIPX_BASE_LOG_H

#include <stdbool.h>

struct ratelimit;

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void		 log_init(const char *progname);
void		 log_set_level(enum log_level);
enum log_level	 log_get_level(void);
const char	*log_level_name(enum log_level);
/* 0 and *out set, or -1 for a name that is not a level. */
int		 log_level_from_name(const char *, enum log_level *out);
bool		 log_to_journal(void);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
void	log_error(const char *, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_notice(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
/*
 * Logs at level unless rl refuses it (ratelimit.h); the first line
 * allowed after refusals ends with "(suppressed N similar messages)".
 * For lines a remote peer can cause at will.
 */
void	log_limited(struct ratelimit *, enum log_level, const char *, ...)
	    LOG_PRINTF(3, 4);
void	fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
