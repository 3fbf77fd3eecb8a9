/*
 * What the command handlers may ask of the running daemon.  The daemon
 * (sipxd.c) owns the running config, the account set, the control server
 * and the process state; it is wiring, not behaviour.
 */
#ifndef SIPX_DAEMON_DAEMON_H
#define SIPX_DAEMON_DAEMON_H

#include <stdint.h>

#include "base/log.h"
#include "ua/account.h"
#include "ua/ua_net.h"
#include "config.h"

enum daemon_state {
	DAEMON_STARTING,
	DAEMON_RUNNING,
	DAEMON_RELOADING,
	DAEMON_STOPPING,
};

const char		*daemon_state_name(enum daemon_state);
enum daemon_state	 daemon_state(void);
const struct sipxd_config *daemon_config(void);
const struct account_set *daemon_accounts(void);
uint64_t		 daemon_uptime_ms(void);
size_t			 daemon_control_clients(void);
struct ua		*daemon_ua(void);
struct reg_agent	*daemon_reg(void);
struct call_agent	*daemon_calls(void);
struct sub_agent	*daemon_subs(void);
struct rtp_engine	*daemon_rtp(void);
struct qualify		*daemon_qualify(void);

/* The address watch (network group), for `status`. */
struct daemon_net_info {
	const char		*state;		/* on, off, unavailable */
	size_t			 addresses;	/* usable now */
	uint64_t		 overruns;	/* lists read again */
	size_t			 listeners_gone; /* bound to a vanished
						 * address */
	struct ua_net_stats	 st;
};
void	daemon_net_info(struct daemon_net_info *);

struct request_agent	*daemon_requests(void);
struct message_agent	*daemon_messages(void);

/*
 * Re-reads the config file.  On success applies it and fills diff; on
 * a bad file keeps the running config, fills msgs and returns EINVAL.
 * Logs and publishes either way.
 */
int	daemon_reload(struct config_msgs *msgs, struct account_diff *diff);
void	daemon_set_log_level(enum log_level);

/*
 * Graceful stop: a module with work to finish (unregistering, hanging
 * up) takes a hold when the stop begins and releases it when done; the
 * loop ends when no hold is left or the stop deadline passes.
 */
typedef void daemon_stop_fn(void *arg);
void	daemon_on_stop(daemon_stop_fn *, void *arg);
void	daemon_stop_hold(void);
void	daemon_stop_release(void);

#endif
