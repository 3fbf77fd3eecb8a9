/*
 * systemd integration in one place: readiness and status notifications,
 * the watchdog, and sockets passed by socket activation.  Without
 * systemd support compiled in (or not run by systemd) every call is a
 * cheap no-op, so callers never test for it.
 */
#ifndef SIPX_DAEMON_NOTIFY_H
#define SIPX_DAEMON_NOTIFY_H

#include <stdint.h>

void	 notify_ready(void);
void	 notify_reloading(void);
void	 notify_stopping(void);
void	 notify_status(const char *fmt, ...)
	     __attribute__((format(printf, 1, 2)));
void	 notify_watchdog(void);
/* The watchdog interval systemd asks for, 0 if none. */
uint64_t notify_watchdog_usec(void);
/* Takes the sockets systemd passed (once, at start-up). */
void	 notify_collect_fds(void);
/* The passed socket bound to path, or -1; each fd is handed out once. */
int	 notify_take_fd(const char *path);
/* Closes passed sockets nobody took, with a warning. */
void	 notify_close_untaken(void);

#endif
