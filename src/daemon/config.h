/*
 * Config file: libconfig text in, validated structs out.  Every problem is
 * reported as "file:line: key: what is wrong", all of them at once, and a
 * file with any error yields no config at all: nothing is half-applied.
 * Defaults live here, in one place.
 */
#ifndef SIPX_DAEMON_CONFIG_H
#define SIPX_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/log.h"
#include "ua/account.h"

#define CONFIG_DEFAULT_FILE	SYSCONFDIR "/sipxd/sipxd.conf"
#define CONFIG_DEFAULT_SOCKET	"/run/sipxd/control.sock"
#define CONFIG_USER_AGENT_MAX	1024

struct listen_cfg {
	enum account_transport	 transport;
	char			*address;	/* as written */
	char			*certificate;
	char			*key;
	char			*ca_file;
	int			 line;
};

struct control_cfg {
	char		*path;
	mode_t		 mode;
	char		*group;		/* NULL: the daemon's own group */
	gid_t		 gid;
	int		 max_clients;
	int		 readonly_max_clients;
	int		 readonly_max_per_uid;
	char		*readonly_path;	/* NULL: no read-only socket */
	mode_t		 readonly_mode;
	uid_t		*allow_uids;
	size_t		 nallow_uids;
	gid_t		*allow_gids;
	size_t		 nallow_gids;
	size_t		 output_limit;
};

struct sipxd_config {
	char			 *file;
	struct listen_cfg	 *listen;
	size_t			  nlisten;
	char			 *user_agent;
	int			  t1, t2, t4;		/* ms */
	int			  register_spread;	/* ms */
	int			  failover_timeout;	/* ms, 0: Timer F */
	int			  blocklist_ttl;	/* s, 0: none */
	int			  max_transactions;	/* live cap */
	char			**dns_servers;
	size_t			  ndns_servers;
	/* sipxd.tls: outbound TLS; NULL CA file and dir: system store. */
	char			 *tls_ca_file;
	char			 *tls_ca_dir;
	bool			  tls_verify;
	bool			  reject_unknown_users;	/* unknown_user "404" */
	/* sipxd.tcp: stream connections (TCP and TLS), seconds. */
	int			  tcp_idle_timeout;	/* 0: never */
	int			  tcp_message_timeout;	/* 0: never */
	int			  tcp_tls_handshake_timeout;
	int			  tcp_max_connections;	/* 0: from the fd limit */
	int			  tcp_pong_timeout;	/* 0: never */
	/* media: RTP for calls. */
	char			 *media_address;	/* IP literal */
	int			  rtp_port_min, rtp_port_max;
	int			  media_timeout;	/* s, 0: never */
	/* calls: limits. */
	int			  max_calls;
	int			  call_history;
	/* network: the host's address changes (sip_netmon). */
	bool			  net_watch;
	int			  net_settle_ms;
	/* subscriptions: limits. */
	int			  max_subscriptions;
	int			  notify_body_max;	/* bytes */
	struct control_cfg	  control;
	enum log_level		  log_level;
	struct account_cfg	**accounts;
	size_t			  naccounts;
};

/* Diagnostics of one load: each string is one complete line. */
struct config_msgs {
	char	**errors;
	size_t	  nerrors;
	char	**warnings;
	size_t	  nwarnings;
};

/*
 * Loads and validates path.  Returns 0 and *out, or EINVAL with at least
 * one error in msgs (and *out NULL).  Warnings may come either way.
 */
int	config_load(const char *path, struct sipxd_config **out,
	    struct config_msgs *msgs);
void	config_free(struct sipxd_config *);
void	config_msgs_free(struct config_msgs *);
/* Adds a warning line that is no file's (a reload's "needs restart"). */
void	config_msgs_warn(struct config_msgs *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Detaches the accounts array (for account_set_apply) from cfg. */
struct account_cfg **config_take_accounts(struct sipxd_config *,
	    size_t *n);

#endif
