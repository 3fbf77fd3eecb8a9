/*
 * sd-daemon wrapper (see notify.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "base/log.h"
#include "notify.h"

#define NOTIFY_FDS_MAX	8

static int notify_fds[NOTIFY_FDS_MAX];
static int notify_nfds;

#ifdef HAVE_SYSTEMD
static void
notify_send(const char *msg)
{
	if (sd_notify(0, msg) < 0)
		log_debug("sd_notify(%s) failed", msg);
}
#else
static void
notify_send(const char *msg)
{
	(void)msg;
}
#endif

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	char msg[64];
	struct timespec ts;

	/* systemd >= 253 wants the time with RELOADING=1; older ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ull +
	    (unsigned long long)ts.tv_nsec / 1000ull);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	notify_send(msg);
}

void
notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

uint64_t
notify_watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		return usec;
#endif
	return 0;
}

void
notify_collect_fds(void)
{
#ifdef HAVE_SYSTEMD
	int n = sd_listen_fds(1);

	if (n < 0) {
		log_warnx("socket activation: sd_listen_fds failed: %s",
		    strerror(-n));
		return;
	}
	if (n > NOTIFY_FDS_MAX) {
		log_warnx("socket activation: %d sockets passed, using the "
		    "first %d", n, NOTIFY_FDS_MAX);
		n = NOTIFY_FDS_MAX;
	}
	for (int i = 0; i < n; i++)
		notify_fds[i] = SD_LISTEN_FDS_START + i;
	notify_nfds = n;
#endif
}

int
notify_take_fd(const char *path)
{
#ifdef HAVE_SYSTEMD
	for (int i = 0; i < notify_nfds; i++) {
		int fd = notify_fds[i];

		if (fd >= 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, path,
		    0) > 0) {
			notify_fds[i] = -1;
			return fd;
		}
	}
#else
	(void)path;
#endif
	return -1;
}

void
notify_close_untaken(void)
{
	for (int i = 0; i < notify_nfds; i++) {
		if (notify_fds[i] < 0)
			continue;
		log_warnx("socket activation: passed socket (fd %d) matches "
		    "neither control.path nor control.readonly_path; closing "
		    "it", notify_fds[i]);
		close(notify_fds[i]);
		notify_fds[i] = -1;
	}
}
