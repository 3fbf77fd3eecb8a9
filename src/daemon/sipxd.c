/*
 * sipxd: start-up, signals, reload, graceful stop.  Wiring only: every
 * behaviour lives in a module; this file decides the order in which they
 * start and stop and what a reload hands to each.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip/sip_redact.h"
#include "sip/sip_uri.h"
#include "ua/account.h"
#include "media/rtp.h"
#include "ua/call.h"
#include "ua/qualify.h"
#include "ua/message.h"
#include "ua/request.h"
#include "ua/reg.h"
#include "ua/subscription.h"
#include "ua/events.h"
#include "ua/ua.h"
#include "ua/ua_net.h"
#include "cmd_sys.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "notify.h"

#define STOP_DEADLINE_SEC	10
/* Descriptors kept from SIP connections beyond the control clients:
 * listeners, DNS, logs, outbound connections. */
#define SIPXD_FD_RESERVE	64
#define SIPXD_CONNS_MIN		16

/*
 * What a TLS listener's certificate, key or CA file was when it was
 * loaded: a reload that finds another file (or the same path rewritten,
 * as a renewal does) says that it needs a restart.
 */
struct file_stamp {
	bool		 present;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

struct stop_hook {
	daemon_stop_fn	*fn;
	void		*arg;
};

static struct {
	struct event_base	*base;
	struct sipxd_config	*cfg;
	struct account_set	 accounts;
	struct reg_agent	*reg;
	struct rtp_engine	*rtp;
	struct call_agent	*calls;
	struct qualify		*qualify;
	struct request_agent	*requests;	/* `request`, MESSAGE out */
	struct message_agent	*messages;
	struct sub_agent	*subs;
	struct event		*ev_status;	/* coalesces STATUS= lines */
	struct control		*ctl;
	struct ua		*ua;
	struct file_stamp	*tls_stamps;	/* 3 per listener */
	enum daemon_state	 state;
	uint64_t		 started_us;
	bool			 debug;		/* -d: debug wins over config */
	struct event		*ev_signals[4];
	struct event		*ev_watchdog;
	struct event		*ev_deadline;
	struct stop_hook	*hooks;
	size_t			 nhooks;
	int			 holds;
	rlim_t			 nofile;	/* RLIMIT_NOFILE in force */
	struct sip_netmon	*netmon;	/* NULL: not watching */
	bool			 netmon_failed;	/* no netlink here */
	struct ua_net_stats	 net;
} d;

static void daemon_update_users(void);
static void daemon_net_apply(const struct sipxd_config *);

const char *
daemon_state_name(enum daemon_state s)
{
	switch (s) {
	case DAEMON_STARTING: return "starting";
	case DAEMON_RUNNING: return "running";
	case DAEMON_RELOADING: return "reloading";
	case DAEMON_STOPPING: return "stopping";
	}
	return "?";
}

enum daemon_state
daemon_state(void)
{
	return d.state;
}

const struct sipxd_config *
daemon_config(void)
{
	return d.cfg;
}

const struct account_set *
daemon_accounts(void)
{
	return &d.accounts;
}

uint64_t
daemon_uptime_ms(void)
{
	return (time_mono_us() - d.started_us) / 1000;
}

struct ua *
daemon_ua(void)
{
	return d.ua;
}

size_t
daemon_control_clients(void)
{
	return d.ctl != NULL ? control_client_count(d.ctl) : 0;
}

static void
daemon_set_state(enum daemon_state s)
{
	char pid[24];

	if (d.state == s)
		return;
	d.state = s;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	events_publish("daemon.state", NULL, "state", daemon_state_name(s),
	    "pid", pid, "version", PACKAGE_VERSION, NULL);
}

static void
daemon_snapshot(struct events_sub *sub, void *arg)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	events_emit_to(sub, "daemon.state", NULL, "state",
	    daemon_state_name(d.state), "pid", pid, "version",
	    PACKAGE_VERSION, NULL);
}

static void
daemon_update_status(void)
{
	size_t counts[CALL_STATE__COUNT];

	notify_status("%s: %zu/%zu registered, %zu accounts, %zu calls, %zu "
	    "control clients", daemon_state_name(d.state),
	    account_set_registered(&d.accounts), account_set_registrable(
	    &d.accounts), d.accounts.n, d.calls != NULL ?
	    call_count_states(d.calls, counts) : 0, daemon_control_clients());
}

static void
daemon_status_cb(evutil_socket_t fd, short what, void *arg)
{
	daemon_update_status();
}

/*
 * A registration changed state: STATUS= follows within 200 ms, once for
 * a burst (ten thousand accounts registering need not be ten thousand
 * messages to systemd).
 */
static void
daemon_reg_changed(void *arg)
{
	struct timeval tv = { 0, 200000 };

	if (d.ev_status != NULL && !evtimer_pending(d.ev_status, NULL))
		evtimer_add(d.ev_status, &tv);
}

struct reg_agent *
daemon_reg(void)
{
	return d.reg;
}

struct call_agent *
daemon_calls(void)
{
	return d.calls;
}

struct sub_agent *
daemon_subs(void)
{
	return d.subs;
}

static struct sub_conf
daemon_sub_conf(const struct sipxd_config *cfg)
{
	struct sub_conf sc = {
		.max = (size_t)cfg->max_subscriptions,
		.body_max = (size_t)cfg->notify_body_max,
	};

	return sc;
}

struct rtp_engine *
daemon_rtp(void)
{
	return d.rtp;
}

struct qualify *
daemon_qualify(void)
{
	return d.qualify;
}

/* Peer health found a target dead: the registrations there move on. */
static void
daemon_peer_down(const char *target, void *arg)
{
	reg_peer_down(d.reg, target);
}

static void
daemon_qualify_stop(void *arg)
{
	qualify_stop(d.qualify);
}

struct request_agent *
daemon_requests(void)
{
	return d.requests;
}

struct message_agent *
daemon_messages(void)
{
	return d.messages;
}

static struct call_conf
daemon_call_conf(const struct sipxd_config *cfg)
{
	struct call_conf cc = {
		.max_calls = (size_t)cfg->max_calls,
		.history = (size_t)cfg->call_history,
		.min_se = 90,
	};

	return cc;
}

static struct rtp_engine_conf
daemon_rtp_conf(const struct sipxd_config *cfg)
{
	struct rtp_engine_conf rc = {
		.addr = cfg->media_address,
		.port_min = (uint16_t)cfg->rtp_port_min,
		.port_max = (uint16_t)cfg->rtp_port_max,
		.timeout_ms = (unsigned)cfg->media_timeout * 1000,
	};

	return rc;
}

static struct reg_conf
daemon_reg_conf(const struct sipxd_config *cfg)
{
	struct reg_conf rc = { .spread_ms = (unsigned)cfg->register_spread };

	return rc;
}

void
daemon_set_log_level(enum log_level level)
{
	if (level == log_get_level())
		return;
	log_set_level(level);
	log_notice("log level is now %s", log_level_name(level));
	events_publish("daemon.log-level", NULL, "level",
	    log_level_name(level), NULL);
}

static void
daemon_apply_policy(const struct sipxd_config *cfg)
{
	struct control_policy p = {
		.max_clients = cfg->control.max_clients,
		.readonly_max_clients = cfg->control.readonly_max_clients,
		.readonly_max_per_uid = cfg->control.readonly_max_per_uid,
		.output_limit = cfg->control.output_limit,
		.allow_uids = cfg->control.allow_uids,
		.nallow_uids = cfg->control.nallow_uids,
		.allow_gids = cfg->control.allow_gids,
		.nallow_gids = cfg->control.nallow_gids,
	};

	control_set_policy(d.ctl, &p);
}

static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
file_stamp_get(const char *path, struct file_stamp *fs)
{
	struct stat st;

	memset(fs, 0, sizeof(*fs));
	if (path == NULL || stat(path, &st) != 0)
		return;
	fs->present = true;
	fs->dev = st.st_dev;
	fs->ino = st.st_ino;
	fs->size = st.st_size;
	fs->mtime = st.st_mtim;
}

static bool
file_stamp_differs(const struct file_stamp *a, const struct file_stamp *b)
{
	return a->present != b->present || a->dev != b->dev ||
	    a->ino != b->ino || a->size != b->size ||
	    a->mtime.tv_sec != b->mtime.tv_sec ||
	    a->mtime.tv_nsec != b->mtime.tv_nsec;
}

/* The files of the running TLS listeners, as loaded. */
static void
daemon_stamp_tls(void)
{
	free(d.tls_stamps);
	d.tls_stamps = xcalloc(d.cfg->nlisten * 3 + 1, sizeof(*d.tls_stamps));
	for (size_t i = 0; i < d.cfg->nlisten; i++) {
		file_stamp_get(d.cfg->listen[i].certificate,
		    &d.tls_stamps[i * 3]);
		file_stamp_get(d.cfg->listen[i].key, &d.tls_stamps[i * 3 + 1]);
		file_stamp_get(d.cfg->listen[i].ca_file,
		    &d.tls_stamps[i * 3 + 2]);
	}
}

/* A needs-restart change: in the log and in the reload reply. */
static void __attribute__((format(printf, 2, 3)))
daemon_restart_needed(struct config_msgs *msgs, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warnx("reload: %s changed; it needs a restart", what);
	config_msgs_warn(msgs, "%s changed: needs restart (sipxd keeps "
	    "running with the old value)", what);
}

/*
 * Settings only a restart can change: say so rather than pretend, and
 * keep the running values in the new config, so that the next reload
 * still compares the file with what runs.
 */
static void
daemon_warn_restart_needed(struct sipxd_config *old,
    struct sipxd_config *new, struct config_msgs *msgs)
{
	bool listen_changed = old->nlisten != new->nlisten;
	bool tls_files = false;

	for (size_t i = 0; !listen_changed && i < old->nlisten; i++) {
		const struct listen_cfg *o = &old->listen[i], *n = &new->listen[i];
		struct file_stamp fs;

		if (o->transport != n->transport ||
		    str_differs(o->address, n->address))
			listen_changed = true;
		if (str_differs(o->certificate, n->certificate) ||
		    str_differs(o->key, n->key) ||
		    str_differs(o->ca_file, n->ca_file))
			tls_files = true;
		for (int k = 0; k < 3 && !tls_files; k++) {
			file_stamp_get(k == 0 ? n->certificate : k == 1 ?
			    n->key : n->ca_file, &fs);
			if (file_stamp_differs(&fs, &d.tls_stamps[i * 3 + k]))
				tls_files = true;
		}
	}
	if (listen_changed)
		daemon_restart_needed(msgs, "sipxd.listen");
	else if (tls_files)
		daemon_restart_needed(msgs, "a TLS listener's certificate, "
		    "key or ca_file");
	if (listen_changed || tls_files) {
		struct listen_cfg *l = old->listen;
		size_t nl = old->nlisten;

		old->listen = new->listen;
		old->nlisten = new->nlisten;
		new->listen = l;
		new->nlisten = nl;
	}
	if (str_differs(old->tls_ca_file, new->tls_ca_file) ||
	    str_differs(old->tls_ca_dir, new->tls_ca_dir) ||
	    old->tls_verify != new->tls_verify) {
		char *f = old->tls_ca_file, *dir = old->tls_ca_dir;
		bool v = old->tls_verify;

		daemon_restart_needed(msgs, "sipxd.tls");
		old->tls_ca_file = new->tls_ca_file;
		old->tls_ca_dir = new->tls_ca_dir;
		old->tls_verify = new->tls_verify;
		new->tls_ca_file = f;
		new->tls_ca_dir = dir;
		new->tls_verify = v;
	}
	if (old->ndns_servers > 0 && new->ndns_servers == 0) {
		char **s = old->dns_servers;
		size_t n = old->ndns_servers;

		daemon_restart_needed(msgs, "sipxd.dns.servers (removed: "
		    "back to resolv.conf)");
		old->dns_servers = new->dns_servers;
		old->ndns_servers = new->ndns_servers;
		new->dns_servers = s;
		new->ndns_servers = n;
	}
	/* The transport takes these once, at start. */
	if (old->tcp_idle_timeout != new->tcp_idle_timeout ||
	    old->tcp_message_timeout != new->tcp_message_timeout ||
	    old->tcp_tls_handshake_timeout !=
	    new->tcp_tls_handshake_timeout ||
	    old->tcp_max_connections != new->tcp_max_connections ||
	    old->tcp_pong_timeout != new->tcp_pong_timeout) {
		daemon_restart_needed(msgs, "sipxd.tcp");
		new->tcp_idle_timeout = old->tcp_idle_timeout;
		new->tcp_message_timeout = old->tcp_message_timeout;
		new->tcp_tls_handshake_timeout =
		    old->tcp_tls_handshake_timeout;
		new->tcp_max_connections = old->tcp_max_connections;
		new->tcp_pong_timeout = old->tcp_pong_timeout;
	}
	if (str_differs(old->control.path, new->control.path) ||
	    str_differs(old->control.readonly_path,
	    new->control.readonly_path) ||
	    old->control.mode != new->control.mode ||
	    old->control.readonly_mode != new->control.readonly_mode ||
	    str_differs(old->control.group, new->control.group))
		log_warnx("reload: control socket path, mode or group "
		    "changed; restart sipxd to apply it");
}

static bool
dns_servers_differ(const struct sipxd_config *a, const struct sipxd_config *b)
{
	if (a->ndns_servers != b->ndns_servers)
		return true;
	for (size_t i = 0; i < a->ndns_servers; i++)
		if (strcmp(a->dns_servers[i], b->dns_servers[i]) != 0)
			return true;
	return false;
}

/*
 * What a reload applies to the running SIP core: timers (transactions
 * started afterwards), user_agent, DNS servers, failover and blocklist.
 */
static void
daemon_apply_sip(const struct sipxd_config *old,
    const struct sipxd_config *new)
{
	int err;

	if (old->t1 != new->t1 || old->t2 != new->t2 || old->t4 != new->t4) {
		ua_set_timers(d.ua, (unsigned)new->t1, (unsigned)new->t2,
		    (unsigned)new->t4);
		log_info("reload: timers t1=%d t2=%d t4=%d ms for new "
		    "transactions", new->t1, new->t2, new->t4);
	}
	if (strcmp(old->user_agent, new->user_agent) != 0)
		ua_set_user_agent(d.ua, new->user_agent);
	if (new->ndns_servers > 0 && dns_servers_differ(old, new)) {
		err = ua_set_dns_servers(d.ua,
		    (const char *const *)new->dns_servers, new->ndns_servers);
		if (err != 0)
			log_warnx("reload: sipxd.dns.servers: %s",
			    strerror(err));
	}
	ua_set_failover(d.ua, (unsigned)new->failover_timeout,
	    (unsigned)new->blocklist_ttl * 1000);
}

static void
log_config_msgs(const struct config_msgs *msgs)
{
	for (size_t i = 0; i < msgs->nwarnings; i++)
		log_warnx("%s", msgs->warnings[i]);
	for (size_t i = 0; i < msgs->nerrors; i++)
		log_error("%s", msgs->errors[i]);
}

int
daemon_reload(struct config_msgs *msgs, struct account_diff *diff)
{
	struct sipxd_config *cfg;
	struct account_cfg **accounts;
	char counts[4][24];
	size_t n;

	/* A stop in progress is never undone by a reload. */
	if (d.state != DAEMON_RUNNING)
		return EBUSY;
	notify_reloading();
	daemon_set_state(DAEMON_RELOADING);
	log_info("reloading %s", d.cfg->file);
	if (config_load(d.cfg->file, &cfg, msgs) != 0) {
		log_config_msgs(msgs);
		log_error("reload: %s has %zu error%s; keeping the running "
		    "config", d.cfg->file, msgs->nerrors,
		    msgs->nerrors == 1 ? "" : "s");
		events_publish("config.reload-failed", NULL, "file",
		    d.cfg->file, "error", msgs->errors[0], NULL);
		daemon_set_state(DAEMON_RUNNING);
		notify_ready();
		daemon_update_status();
		return EINVAL;
	}
	log_config_msgs(msgs);
	daemon_warn_restart_needed(d.cfg, cfg, msgs);
	daemon_apply_sip(d.cfg, cfg);
	if (!d.debug)
		daemon_set_log_level(cfg->log_level);
	daemon_apply_policy(cfg);
	daemon_net_apply(cfg);
	{
		struct reg_conf rc = daemon_reg_conf(cfg);

		reg_agent_set_conf(d.reg, &rc);
	}
	{
		struct rtp_engine_conf rc = daemon_rtp_conf(cfg);
		char err[256];

		if (rtp_engine_set_conf(d.rtp, &rc, err, sizeof(err)) != 0)
			log_warnx("reload: media: %s; keeping the running "
			    "media settings", err);
	}
	accounts = config_take_accounts(cfg, &n);
	account_set_apply(&d.accounts, accounts, n, false, diff);
	qualify_sync(d.qualify);
	{
		struct call_conf cc = daemon_call_conf(cfg);

		/* After the apply: it re-reads the accounts' user parts. */
		call_agent_set_conf(d.calls, &cc);
	}
	/* After the apply too: user parts and inbox sizes. */
	message_agent_accounts_changed(d.messages);
	{
		struct sub_conf sc = daemon_sub_conf(cfg);

		/* After the apply too: removed accounts' subscriptions end. */
		sub_agent_set_conf(d.subs, &sc);
	}
	config_free(d.cfg);
	d.cfg = cfg;
	/* libconfig's parse tree is gone: give its pages back. */
	xalloc_trim();
	daemon_update_users();
	ua_set_max_transactions(d.ua, (size_t)cfg->max_transactions);

	log_notice("reloaded %s: %zu accounts added, %zu removed, %zu "
	    "changed, %zu unchanged", cfg->file, diff->added, diff->removed,
	    diff->changed, diff->unchanged);
	snprintf(counts[0], sizeof(counts[0]), "%zu", diff->added);
	snprintf(counts[1], sizeof(counts[1]), "%zu", diff->removed);
	snprintf(counts[2], sizeof(counts[2]), "%zu", diff->changed);
	snprintf(counts[3], sizeof(counts[3]), "%zu", diff->unchanged);
	events_publish("config.reloaded", NULL, "file", cfg->file,
	    "added", counts[0], "removed", counts[1], "changed", counts[2],
	    "unchanged", counts[3], NULL);
	daemon_set_state(DAEMON_RUNNING);
	notify_ready();
	daemon_update_status();
	return 0;
}

/* ---- network: the host's address changes -------------------------------- */

static void
daemon_net_changed(const struct sip_netmon_change *ch, void *arg)
{
	if (d.state == DAEMON_STOPPING)
		return;
	ua_net_apply(d.ua, d.reg, ch, &d.net);
}

/*
 * network.watch: the monitor starts, stops or takes the new settle
 * time.  A kernel without netlink (or a sandbox that forbids it) is
 * said once and the daemon goes on without noticing address changes.
 */
static void
daemon_net_apply(const struct sipxd_config *cfg)
{
	struct sip_netmon_conf nc = { .settle_ms =
	    (unsigned)cfg->net_settle_ms, .fd = -1 };
	int err;

	if (!cfg->net_watch) {
		if (d.netmon != NULL)
			log_info("network: no longer watching address "
			    "changes (network.watch = false)");
		sip_netmon_free(d.netmon);
		d.netmon = NULL;
		d.netmon_failed = false;
		return;
	}
	if (d.netmon != NULL) {
		sip_netmon_set_settle(d.netmon, nc.settle_ms);
		return;
	}
	err = sip_netmon_new(&d.netmon, d.base, &nc, daemon_net_changed,
	    NULL);
	if (err != 0) {
		d.netmon_failed = true;
		log_warnx("network: cannot watch address changes (netlink: "
		    "%s); sipxd runs on, but a registration whose address "
		    "goes away waits for its next refresh to move",
		    strerror(err));
		return;
	}
	d.netmon_failed = false;
	log_info("network: watching address changes (settle %d ms)",
	    cfg->net_settle_ms);
}

void
daemon_net_info(struct daemon_net_info *ni)
{
	const struct sip_netmon_addr *as;

	memset(ni, 0, sizeof(*ni));
	ni->state = d.netmon != NULL ? "on" : d.netmon_failed ?
	    "unavailable" : "off";
	ni->st = d.net;
	if (d.netmon != NULL) {
		ni->addresses = sip_netmon_addrs(d.netmon, &as);
		ni->overruns = sip_netmon_stats(d.netmon)->overruns;
	}
	if (d.ua != NULL)
		ni->listeners_gone = ua_net_listeners_gone(d.ua);
}

/* ---- stop ------------------------------------------------------------- */

static void
daemon_reg_stopped(void *arg)
{
	log_info("stop: every registration removed or given up");
	daemon_stop_release();
}

static void
daemon_calls_stopped(void *arg)
{
	log_info("stop: every call ended");
	daemon_stop_release();
}

/* Calls are hung up before the loop ends, within the stop deadline. */
static void
daemon_calls_stop(void *arg)
{
	daemon_stop_hold();
	call_agent_stop(d.calls, daemon_calls_stopped, NULL);
}

static void
daemon_subs_stopped(void *arg)
{
	log_info("stop: every subscription ended");
	daemon_stop_release();
}

/* Subscriptions are ended (both ways) within the stop deadline. */
static void
daemon_subs_stop(void *arg)
{
	daemon_stop_hold();
	sub_agent_stop(d.subs, daemon_subs_stopped, NULL);
}

/* Bindings are removed before the loop ends, within the stop deadline. */
static void
daemon_reg_stop(void *arg)
{
	daemon_stop_hold();
	reg_agent_stop(d.reg, daemon_reg_stopped, NULL);
}

void
daemon_on_stop(daemon_stop_fn *fn, void *arg)
{
	d.hooks = xreallocarray(d.hooks, d.nhooks + 1, sizeof(*d.hooks));
	d.hooks[d.nhooks].fn = fn;
	d.hooks[d.nhooks].arg = arg;
	d.nhooks++;
}

void
daemon_stop_hold(void)
{
	d.holds++;
}

void
daemon_stop_release(void)
{
	if (d.holds > 0 && --d.holds == 0 && d.state == DAEMON_STOPPING)
		event_base_loopexit(d.base, NULL);
}

static void
daemon_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("stop: %d task%s still running after %d s; stopping "
	    "anyway", d.holds, d.holds == 1 ? "" : "s", STOP_DEADLINE_SEC);
	event_base_loopexit(d.base, NULL);
}

static void
daemon_stop(const char *why)
{
	struct timeval deadline = { STOP_DEADLINE_SEC, 0 };

	if (d.state == DAEMON_STOPPING)
		return;
	log_notice("stopping (%s)", why);
	notify_stopping();
	daemon_set_state(DAEMON_STOPPING);
	/* No new clients; connected ones still see the stop happen. */
	control_close_listeners(d.ctl);
	for (size_t i = 0; i < d.nhooks; i++)
		d.hooks[i].fn(d.hooks[i].arg);
	if (d.holds == 0) {
		event_base_loopexit(d.base, NULL);
		return;
	}
	d.ev_deadline = evtimer_new(d.base, daemon_deadline_cb, NULL);
	evtimer_add(d.ev_deadline, &deadline);
}

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct config_msgs msgs = { 0 };
	struct account_diff diff;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		daemon_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	case SIGHUP:
		if (d.state == DAEMON_RUNNING)
			daemon_reload(&msgs, &diff);
		config_msgs_free(&msgs);
		break;
	}
}

static void
daemon_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_watchdog();
}

/* ---- start-up --------------------------------------------------------- */

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: sipxd [-c FILE] [-t] [-d] [-V] [-h]\n"
	    "  -c FILE  config file (default %s)\n"
	    "  -t       check the config file and exit\n"
	    "  -d       log at debug level\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n", CONFIG_DEFAULT_FILE);
}

static int
check_only(const char *path)
{
	struct sipxd_config *cfg;
	struct config_msgs msgs = { 0 };
	int rc = config_load(path, &cfg, &msgs);

	for (size_t i = 0; i < msgs.nwarnings; i++)
		fprintf(stderr, "%s\n", msgs.warnings[i]);
	for (size_t i = 0; i < msgs.nerrors; i++)
		fprintf(stderr, "%s\n", msgs.errors[i]);
	/* Load TLS certificates and keys as the listeners will. */
	for (size_t i = 0; rc == 0 && i < cfg->nlisten; i++) {
		const struct listen_cfg *l = &cfg->listen[i];
		char err[512];

		if (l->transport != ACCOUNT_TRANSPORT_TLS ||
		    sip_tp_check_tls(l->certificate, l->key, err,
		    sizeof(err)) == 0)
			continue;
		fprintf(stderr, "%s:%d: sipxd.listen[%zu]: %s\n", path,
		    l->line, i, err);
		rc = EINVAL;
	}
	if (rc == 0)
		printf("%s: ok (%zu account%s)\n", path, cfg->naccounts,
		    cfg->naccounts == 1 ? "" : "s");
	config_msgs_free(&msgs);
	config_free(cfg);
	return rc == 0 ? 0 : 1;
}

static void
daemon_open_control(void)
{
	const struct control_cfg *c = &d.cfg->control;
	gid_t gid = c->group != NULL ? c->gid : (gid_t)-1;
	char err[256];

	d.ctl = control_new(d.base, &cmd_sys_table);
	daemon_apply_policy(d.cfg);
	notify_collect_fds();
	if (control_listen(d.ctl, c->path, c->mode, gid, false,
	    notify_take_fd(c->path), err, sizeof(err)) == -1)
		fatalx("control socket: %s", err);
	if (c->readonly_path != NULL &&
	    control_listen(d.ctl, c->readonly_path, c->readonly_mode, gid,
	    true, notify_take_fd(c->readonly_path), err, sizeof(err)) == -1)
		fatalx("read-only control socket: %s", err);
	notify_close_untaken();
}

/* `trace`: only formatted when a control client asked for it. */
static void
daemon_trace_cb(const struct sip_tp_trace *t, void *arg)
{
	char local[64], peer[64];
	struct strbuf text = STRBUF_INIT;

	if (!events_wanted(EVENTS_KIND_TRACE))
		return;
	/* Credentials never leave in a trace (sip_redact.h). */
	sip_redact(&text, t->buf, t->len);
	sip_tp_addr_str(t->local, local, sizeof(local));
	sip_tp_addr_str(t->peer, peer, sizeof(peer));
	events_publish("trace.message", NULL, "dir",
	    t->dir == SIP_TP_IN ? "in" : "out", "transport",
	    sip_tp_proto_name(t->proto), "local", local, "peer", peer,
	    "text", text.p, NULL);
	strbuf_free(&text);
}

/* The user parts of the accounts' aors: who OPTIONS may ask for. */
static void
daemon_update_users(void)
{
	const char **users = xcalloc(d.accounts.n + 1, sizeof(char *));
	char **owned = xcalloc(d.accounts.n + 1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < d.accounts.n; i++) {
		struct sip_uri u;
		const char *aor = d.accounts.items[i]->cfg->aor, *why;
		char user[256];
		int len;

		if (sip_uri_parse(&u, aor, strlen(aor), &why) != 0 ||
		    u.user.n == 0)
			continue;
		len = sip_unescape(u.user, user, sizeof(user) - 1);
		if (len < 0)
			continue;
		owned[n] = xstrndup(user, (size_t)len);
		users[n] = owned[n];
		n++;
	}
	ua_set_users(d.ua, users, n, d.cfg->reject_unknown_users);
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	free(owned);
	free(users);
}

/*
 * libevent's own messages (an accept() error, a failed epoll_ctl) go to
 * our log, not straight to stderr; remote peers can cause them at will,
 * so they are rate-limited.
 */
static void
daemon_event_log_cb(int severity, const char *msg)
{
	static struct ratelimit rl = RATELIMIT_INIT(10000, 5);
	enum log_level level;

	switch (severity) {
	case EVENT_LOG_DEBUG: level = LOG_LEVEL_DEBUG; break;
	case EVENT_LOG_MSG: level = LOG_LEVEL_INFO; break;
	case EVENT_LOG_WARN: level = LOG_LEVEL_WARNING; break;
	default: level = LOG_LEVEL_ERROR; break;
	}
	log_limited(&rl, level, "libevent: %s", msg);
}

/*
 * Many connections need many descriptors: take the hard limit (systemd
 * sets it with LimitNOFILE=).  Returns the soft limit now in force.
 */
static rlim_t
daemon_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return 1024;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("setrlimit(RLIMIT_NOFILE, %llu)",
			    (unsigned long long)rl.rlim_max);
			rl.rlim_cur = was;
		}
	}
	log_info("descriptors: limit %llu (was %llu, hard %llu)",
	    (unsigned long long)rl.rlim_cur, (unsigned long long)was,
	    (unsigned long long)rl.rlim_max);
	return rl.rlim_cur;
}

/*
 * The cap on SIP connections: the descriptor limit less a reserve for
 * the control socket's clients, DNS, listeners, logs and our own
 * outbound connections, so those always find a descriptor.
 */
static size_t
daemon_max_conns(rlim_t nofile)
{
	/* Every control client either socket admits keeps its descriptor. */
	rlim_t reserve = SIPXD_FD_RESERVE +
	    (rlim_t)d.cfg->control.max_clients + SIPX_CTL_ADMIN_RESERVE +
	    (d.cfg->control.readonly_path != NULL ?
	    (rlim_t)d.cfg->control.readonly_max_clients : 0);

	if (d.cfg->tcp_max_connections > 0)
		return (size_t)d.cfg->tcp_max_connections;
	if (nofile == RLIM_INFINITY || nofile > 1000000)
		nofile = 1000000;
	if (nofile < reserve + SIPXD_CONNS_MIN) {
		log_warnx("descriptors: limit %llu leaves room for only %d "
		    "SIP connections; raise LimitNOFILE",
		    (unsigned long long)nofile, SIPXD_CONNS_MIN);
		return SIPXD_CONNS_MIN;
	}
	return (size_t)(nofile - reserve);
}

static void
daemon_start_sip(void)
{
	struct sip_tp_listen_conf *listen;
	struct ua_conf uc = { 0 };
	struct sip_tp_conf tpc;
	char err[256];

	listen = xcalloc(d.cfg->nlisten + 1, sizeof(*listen));
	for (size_t i = 0; i < d.cfg->nlisten; i++) {
		const struct listen_cfg *l = &d.cfg->listen[i];

		/* Same order: udp, tcp, tls. */
		listen[i].transport = (enum sip_tp_proto)l->transport;
		listen[i].address = l->address;
		listen[i].cert = l->certificate;
		listen[i].key = l->key;
		listen[i].ca_file = l->ca_file;
	}
	uc.listen = listen;
	uc.nlisten = d.cfg->nlisten;
	uc.t1_ms = (unsigned)d.cfg->t1;
	uc.t2_ms = (unsigned)d.cfg->t2;
	uc.t4_ms = (unsigned)d.cfg->t4;
	uc.dns_servers = (const char *const *)d.cfg->dns_servers;
	uc.ndns_servers = d.cfg->ndns_servers;
	uc.tls_ca_file = d.cfg->tls_ca_file;
	uc.tls_ca_dir = d.cfg->tls_ca_dir;
	uc.tls_no_verify = !d.cfg->tls_verify;
	uc.user_agent = d.cfg->user_agent;
	uc.max_transactions = (size_t)d.cfg->max_transactions;
	sip_tp_conf_default(&tpc);
	tpc.idle_timeout_ms = (unsigned)d.cfg->tcp_idle_timeout * 1000;
	tpc.message_timeout_ms = (unsigned)d.cfg->tcp_message_timeout * 1000;
	tpc.tls_handshake_timeout_ms =
	    (unsigned)d.cfg->tcp_tls_handshake_timeout * 1000;
	tpc.pong_timeout_ms = (unsigned)d.cfg->tcp_pong_timeout * 1000;
	tpc.max_conns = daemon_max_conns(d.nofile);
	log_info("sip: at most %zu inbound TCP/TLS connections",
	    tpc.max_conns);
	uc.tp = &tpc;
	uc.default_from = d.accounts.n > 0 ? d.accounts.items[0]->cfg->aor :
	    "sip:sipxd@localhost";
	uc.failover_ms = (unsigned)d.cfg->failover_timeout;
	uc.blocklist_ms = (unsigned)d.cfg->blocklist_ttl * 1000;
	if (ua_start(&d.ua, d.base, &uc, err, sizeof(err)) != 0)
		fatalx("sip: %s", err);
	daemon_update_users();
	daemon_stamp_tls();
	free(listen);
	ua_set_trace(d.ua, daemon_trace_cb, NULL);
}

static void
daemon_start_watchdog(void)
{
	uint64_t usec = notify_watchdog_usec();
	struct timeval tv;

	if (usec == 0)
		return;
	/* Ping at half the interval: one late loop turn is not a death. */
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	d.ev_watchdog = event_new(d.base, -1, EV_PERSIST, daemon_watchdog_cb,
	    NULL);
	event_add(d.ev_watchdog, &tv);
	log_info("watchdog: pinging systemd every %llu ms",
	    (unsigned long long)(usec / 1000));
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	const char *path = CONFIG_DEFAULT_FILE;
	struct config_msgs msgs = { 0 };
	struct account_cfg **accounts;
	struct account_diff diff;
	bool check = false;
	size_t n;
	int ch;

	while ((ch = getopt(argc, argv, "c:tdVh")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 't': check = true; break;
		case 'd': d.debug = true; break;
		case 'V': printf("sipxd %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sipxd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	if (check)
		return check_only(path);

	log_init("sipxd");
	d.started_us = time_mono_us();
	d.state = DAEMON_STARTING;
	if (config_load(path, &d.cfg, &msgs) != 0) {
		log_config_msgs(&msgs);
		fatalx("%s: %zu error%s; not starting", path, msgs.nerrors,
		    msgs.nerrors == 1 ? "" : "s");
	}
	log_config_msgs(&msgs);
	config_msgs_free(&msgs);
	log_set_level(d.debug ? LOG_LEVEL_DEBUG : d.cfg->log_level);

	/* A client vanishing mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(daemon_event_log_cb);
	d.nofile = daemon_raise_nofile();
	d.base = event_base_new();
	if (d.base == NULL)
		fatalx("cannot create the event loop");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		d.ev_signals[i] = evsignal_new(d.base, sigs[i],
		    daemon_signal_cb, NULL);
		evsignal_add(d.ev_signals[i], NULL);
	}

	account_set_init(&d.accounts);
	accounts = config_take_accounts(d.cfg, &n);
	account_set_apply(&d.accounts, accounts, n, true, &diff);
	/* libconfig's parse tree is gone: give its pages back (190 MB
	 * resident at 100,000 accounts otherwise). */
	xalloc_trim();
	events_add_snapshot(daemon_snapshot, NULL);
	account_set_publish_snapshots(&d.accounts);

	daemon_start_sip();
	{
		struct reg_conf rc = daemon_reg_conf(d.cfg);

		d.ev_status = evtimer_new(d.base, daemon_status_cb, NULL);
		d.reg = reg_agent_new(d.ua, &d.accounts, &rc,
		    daemon_reg_changed, NULL);
		daemon_on_stop(daemon_reg_stop, NULL);
	}
	{
		struct rtp_engine_conf rc = daemon_rtp_conf(d.cfg);
		struct call_conf cc = daemon_call_conf(d.cfg);
		char err[256];

		if (rtp_engine_new(&d.rtp, d.base, &rc, err, sizeof(err)) != 0)
			fatalx("media: %s", err);
		d.calls = call_agent_new(d.ua, &d.accounts, d.rtp, &cc,
		    daemon_reg_changed, NULL);
		daemon_on_stop(daemon_calls_stop, NULL);
	}
	daemon_net_apply(d.cfg);
	d.qualify = qualify_new(d.ua, &d.accounts, daemon_peer_down, NULL);
	daemon_on_stop(daemon_qualify_stop, NULL);
	d.requests = request_agent_new(d.ua, &d.accounts, 0);
	d.messages = message_agent_new(d.ua, &d.accounts, d.requests);
	{
		struct sub_conf sc = daemon_sub_conf(d.cfg);

		d.subs = sub_agent_new(d.ua, &d.accounts, &sc);
		daemon_on_stop(daemon_subs_stop, NULL);
	}
	daemon_open_control();
	daemon_start_watchdog();
	daemon_set_state(DAEMON_RUNNING);
	log_notice("sipxd %s started (pid %ld, config %s, %zu account%s)",
	    PACKAGE_VERSION, (long)getpid(), path, d.accounts.n,
	    d.accounts.n == 1 ? "" : "s");
	notify_ready();
	daemon_update_status();
	reg_agent_start(d.reg);
	qualify_sync(d.qualify);

	event_base_dispatch(d.base);

	/* Subscribers get to see the stop they are watching. */
	control_flush_all(d.ctl);
	control_free(d.ctl);
	sip_netmon_free(d.netmon);
	qualify_free(d.qualify);
	reg_agent_free(d.reg);
	call_agent_free(d.calls);
	message_agent_free(d.messages);
	request_agent_free(d.requests);
	sub_agent_free(d.subs);
	rtp_engine_free(d.rtp);
	event_free(d.ev_status);
	ua_free(d.ua);
	events_shutdown();
	account_set_clear(&d.accounts);
	config_free(d.cfg);
	free(d.tls_stamps);
	/* Freeing the signal events restores the default actions: a second
	 * SIGTERM during clean-up would then kill us mid-way. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		event_free(d.ev_signals[i]);
		signal(sigs[i], SIG_IGN);
	}
	if (d.ev_watchdog != NULL)
		event_free(d.ev_watchdog);
	if (d.ev_deadline != NULL)
		event_free(d.ev_deadline);
	free(d.hooks);
	event_base_free(d.base);
	log_notice("stopped");
	return 0;
}
