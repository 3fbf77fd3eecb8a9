/*
 * Line logger (see log.h).  Owns the log level and the choice between
 * journal priorities and timestamps; knows nothing of what it logs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ratelimit.h"
#include "timeutil.h"

static const char *log_progname = "sipxd";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_journal;

static const struct {
	const char	*name;
	int		 syslog_prio;
} log_levels[] = {
	[LOG_LEVEL_ERROR] = { "error", 3 },
	[LOG_LEVEL_WARNING] = { "warning", 4 },
	[LOG_LEVEL_NOTICE] = { "notice", 5 },
	[LOG_LEVEL_INFO] = { "info", 6 },
	[LOG_LEVEL_DEBUG] = { "debug", 7 },
};

/*
 * systemd sets JOURNAL_STREAM to "device:inode" of the stream it gave us;
 * it is only ours if stderr still is that stream (a child may inherit the
 * variable with stderr redirected elsewhere).
 */
static bool
log_detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname)
{
	log_progname = progname;
	log_journal = log_detect_journal();
}

bool
log_to_journal(void)
{
	return log_journal;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

const char *
log_level_name(enum log_level level)
{
	return log_levels[level].name;
}

int
log_level_from_name(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcmp(name, log_levels[i].name) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vemit(enum log_level level, const char *fmt, va_list ap, int errnum)
{
	char msg[2048];
	char ts[32];
	int n;

	if (level > log_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(errnum));
	/* One line per event: a newline inside a message would split it. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_journal) {
		fprintf(stderr, "<%d>%s\n", log_levels[level].syslog_prio, msg);
	} else {
		time_iso8601(ts, sizeof(ts));
		fprintf(stderr, "%s %s[%ld]: %s: %s\n", ts, log_progname,
		    (long)getpid(), log_levels[level].name, msg);
	}
	fflush(stderr);
}

static void LOG_PRINTF(2, 3)
log_emit(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, fmt, ap, 0);
	va_end(ap);
}

#define LOG_BODY(level, errnum) do {			\
	va_list ap;					\
	int saved = (errnum);				\
	va_start(ap, fmt);				\
	log_vemit((level), fmt, ap, saved);		\
	va_end(ap);					\
} while (0)

void log_error(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_ERROR, 0); }
void log_warn(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARNING, errno); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARNING, 0); }
void log_notice(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_NOTICE, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, 0); }

void
log_limited(struct ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	char msg[1024];
	uint64_t sup = 0;
	va_list ap;

	if (level > log_level || !ratelimit_allow(rl, time_mono_us(), &sup))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sup > 0)
		log_emit(level, "%s (suppressed %llu similar messages)", msg,
		    (unsigned long long)sup);
	else
		log_emit(level, "%s", msg);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, errno);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}
