/*
 * The daemon's command table and the handlers of the system commands:
 * help, version, status, reload, log, events, quit.  Each handler
 * translates between protocol arguments and a daemon call; none holds
 * state of its own.  Command families (SIP, registrations, calls) have
 * their own cmd_*.c and entries in the table here.
 */
#include <ares.h>
#include <errno.h>
#include <libconfig.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "proto/ctl_line.h"
#include "media/rtp.h"
#include "ua/call.h"
#include "ua/events.h"
#include "ua/message.h"
#include "ua/request.h"
#include "ua/reg.h"
#include "ua/subscription.h"
#include "ua/ua.h"
#include "cmd.h"
#include "cmd_call.h"
#include "cmd_msg.h"
#include "cmd_reg.h"
#include "cmd_sip.h"
#include "cmd_sub.h"
#include "cmd_sys.h"
#include "control.h"
#include "daemon.h"

static void cmd_help_fn(struct cmd_ctx *, int, char **, struct cmd_reply *);

static void
cmd_version(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	/* Built once: the versions do not change while we run. */
	static struct strbuf line = STRBUF_INIT;

	if (line.n == 0) {
		char lc[32];

		ctl_append_kv(&line, "version", PACKAGE_VERSION);
		snprintf(lc, sizeof(lc), "%d", CTL_PROTOCOL_VERSION);
		ctl_append_kv(&line, "protocol", lc);
		snprintf(lc, sizeof(lc), "%d.%d.%d", LIBCONFIG_VER_MAJOR,
		    LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
		ctl_append_kv(&line, "libevent", event_get_version());
		ctl_append_kv(&line, "openssl",
		    OpenSSL_version(OPENSSL_VERSION));
		ctl_append_kv(&line, "libconfig", lc);
		ctl_append_kv(&line, "c-ares", ares_version(NULL));
		strbuf_addc(&line, '\n');
	}
	strbuf_add(&r->data, line.p, line.n);
}

/*
 * Accounts per registration state: reg_disabled=N and so on, the state
 * names with '_' for '-' (reg_retry_wait), as a key reads best.
 */
static void
status_reg_counts(struct cmd_reply *r)
{
	size_t counts[REG_STATE_UNREGISTERING + 1] = { 0 };
	char key[32];

	reg_count_states(daemon_reg(), counts);
	for (int s = REG_STATE_DISABLED; s <= REG_STATE_UNREGISTERING; s++) {
		snprintf(key, sizeof(key), "reg_%s",
		    reg_state_name((enum reg_state)s));
		for (char *p = key; *p != '\0'; p++)
			if (*p == '-')
				*p = '_';
		cmd_record_kvf(r, key, "%zu", counts[s]);
	}
}

/* The media engine: sessions and how its 20 ms tick keeps time. */
static void
status_rtp(struct cmd_reply *r)
{
	struct rtp_engine_stats st = { 0 };

	if (daemon_rtp() != NULL)
		rtp_engine_stats(daemon_rtp(), &st);
	cmd_record_kvf(r, "rtp_sessions", "%zu", st.sessions);
	cmd_record_kvf(r, "rtp_sending", "%zu", st.sending);
	cmd_record_kvf(r, "rtp_ticks", "%llu", (unsigned long long)st.ticks);
	cmd_record_kvf(r, "rtp_late_ticks", "%llu",
	    (unsigned long long)st.late_ticks);
	cmd_record_kvf(r, "rtp_packets_sent", "%llu",
	    (unsigned long long)st.packets_sent);
	cmd_record_kvf(r, "rtp_send_errors", "%llu",
	    (unsigned long long)st.send_errors);
	cmd_record_kvf(r, "rtp_port_exhausted", "%llu",
	    (unsigned long long)st.port_exhausted);
}

/* Live calls: calls=N, then calls_<state>=N as for registrations. */
static void
status_call_counts(struct cmd_reply *r)
{
	size_t counts[CALL_STATE__COUNT] = { 0 }, total = 0;
	char key[32];

	if (daemon_calls() != NULL)
		total = call_count_states(daemon_calls(), counts);
	cmd_record_kvf(r, "calls", "%zu", total);
	for (int s = 0; s < CALL_STATE__COUNT; s++) {
		snprintf(key, sizeof(key), "calls_%s",
		    call_state_name((enum call_state)s));
		for (char *p = key; *p != '\0'; p++)
			if (*p == '-')
				*p = '_';
		cmd_record_kvf(r, key, "%zu", counts[s]);
	}
}

/* The address watch: net_watch=on|off|unavailable and its counts. */
static void
status_net(struct cmd_reply *r)
{
	struct daemon_net_info ni;

	daemon_net_info(&ni);
	cmd_record_kv(r, "net_watch", ni.state);
	cmd_record_kvf(r, "net_addresses", "%zu", ni.addresses);
	cmd_record_kvf(r, "net_changes", "%llu",
	    (unsigned long long)ni.st.changes);
	cmd_record_kvf(r, "net_added", "%llu",
	    (unsigned long long)ni.st.added);
	cmd_record_kvf(r, "net_removed", "%llu",
	    (unsigned long long)ni.st.removed);
	cmd_record_kvf(r, "net_reregistered", "%llu",
	    (unsigned long long)ni.st.reregistered);
	cmd_record_kvf(r, "net_conns_closed", "%llu",
	    (unsigned long long)ni.st.conns_closed);
	cmd_record_kvf(r, "net_listeners_gone", "%zu", ni.listeners_gone);
	cmd_record_kvf(r, "net_overruns", "%llu",
	    (unsigned long long)ni.overruns);
}

/* `request`/`message` in flight, MESSAGEs received and kept. */
static void
status_messages(struct cmd_reply *r)
{
	struct message_stats ms = { 0 };

	if (daemon_messages() != NULL)
		message_stats_get(daemon_messages(), &ms);
	cmd_record_kvf(r, "requests", "%zu", daemon_requests() != NULL ?
	    request_count(daemon_requests()) : 0);
	cmd_record_kvf(r, "messages_received", "%llu",
	    (unsigned long long)ms.received);
	cmd_record_kvf(r, "messages_refused", "%llu",
	    (unsigned long long)ms.refused);
	cmd_record_kvf(r, "messages_kept", "%zu", ms.kept);
	cmd_record_kvf(r, "messages_dropped", "%llu",
	    (unsigned long long)ms.dropped);
}

static void
cmd_status(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	const struct sipxd_config *cfg = daemon_config();
	const struct account_set *set = daemon_accounts();
	uint64_t up = daemon_uptime_ms();

	cmd_record_begin(r);
	cmd_record_kvf(r, "pid", "%ld", (long)getpid());
	cmd_record_kv(r, "state", daemon_state_name(daemon_state()));
	cmd_record_kvf(r, "uptime", "%llu.%03u",
	    (unsigned long long)(up / 1000), (unsigned)(up % 1000));
	cmd_record_kv(r, "config", cfg->file);
	cmd_record_kvf(r, "accounts", "%zu", set->n);
	cmd_record_kvf(r, "registrations", "%zu",
	    account_set_registered(set));
	status_reg_counts(r);
	status_call_counts(r);
	{
		size_t counts[SUB_STATE__COUNT];

		cmd_record_kvf(r, "subscriptions", "%zu", daemon_subs() !=
		    NULL ? sub_count_states(daemon_subs(), counts) : 0);
	}
	status_rtp(r);
	status_messages(r);
	cmd_record_kvf(r, "transactions", "%zu",
	    sip_trans_count(ua_trans(daemon_ua())));
	cmd_record_kvf(r, "transaction_limit", "%zu",
	    sip_trans_limit(ua_trans(daemon_ua())));
	{
		const struct sip_tp_stats *ts = ua_tp_stats(daemon_ua());

		cmd_record_kvf(r, "garbage_requests", "%llu",
		    (unsigned long long)ts->garbage_requests);
		cmd_record_kvf(r, "garbage_responses", "%llu",
		    (unsigned long long)ts->garbage_responses);
		cmd_record_kvf(r, "connections", "%llu", (unsigned long long)
		    (ts->conns_opened - ts->conns_closed));
	}
	status_net(r);
	cmd_record_kvf(r, "clients", "%zu", daemon_control_clients());
	cmd_record_kvf(r, "subscribers", "%zu", events_subscriber_count());
	cmd_record_kv(r, "log_level", log_level_name(log_get_level()));
	cmd_record_end(r);
}

static void
cmd_reload(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	struct config_msgs msgs = { 0 };
	struct account_diff diff;
	int rc = daemon_reload(&msgs, &diff);

	if (rc == EBUSY) {
		cmd_reply_err(r, "failed", "sipxd is stopping");
	} else if (rc != 0) {
		cmd_reply_err(r, "failed", "%s has errors; the running "
		    "config is kept", daemon_config()->file);
		for (size_t i = 0; i < msgs.nerrors; i++) {
			cmd_record_begin(r);
			cmd_record_kv(r, "error", msgs.errors[i]);
			cmd_record_end(r);
		}
	} else {
		cmd_reply_ok(r, "reloaded %s", daemon_config()->file);
		cmd_record_begin(r);
		cmd_record_kvf(r, "added", "%zu", diff.added);
		cmd_record_kvf(r, "removed", "%zu", diff.removed);
		cmd_record_kvf(r, "changed", "%zu", diff.changed);
		cmd_record_kvf(r, "unchanged", "%zu", diff.unchanged);
		cmd_record_end(r);
	}
	for (size_t i = 0; i < msgs.nwarnings; i++) {
		cmd_record_begin(r);
		cmd_record_kv(r, "warning", msgs.warnings[i]);
		cmd_record_end(r);
	}
	config_msgs_free(&msgs);
}

static void
cmd_log(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	enum log_level level;

	if (strcmp(argv[1], "level") != 0) {
		cmd_reply_usage(r, ctx->entry);
		return;
	}
	if (argc == 3) {
		if (ctx->readonly) {
			cmd_reply_err(r, "denied", "changing the log level "
			    "needs the full-access socket");
			return;
		}
		if (log_level_from_name(argv[2], &level) != 0) {
			cmd_reply_err(r, "usage", "'%.32s' is not a level: "
			    "error, warning, notice, info or debug", argv[2]);
			return;
		}
		daemon_set_log_level(level);
	}
	cmd_record_begin(r);
	cmd_record_kv(r, "level", log_level_name(log_get_level()));
	cmd_record_end(r);
}

static void
cmd_events(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	/* The read-only socket's default leaves MESSAGE bodies out. */
	unsigned kinds = ctx->readonly ? EVENTS_KIND_ALL & ~EVENTS_KIND_MESSAGE :
	    EVENTS_KIND_ALL;
	const char *account = NULL;
	char *key, *value;

	if (argc == 2 && strcmp(argv[1], "off") == 0) {
		control_client_unsubscribe(ctx->client);
		cmd_reply_ok(r, "unsubscribed");
		return;
	}
	for (int i = 1; i < argc; i++) {
		const char *bad;

		if (ctl_kv_split(argv[i], &key, &value) != 0) {
			cmd_reply_usage(r, ctx->entry);
			return;
		}
		if (strcmp(key, "kind") == 0) {
			if (events_kinds_parse(value, &kinds, &bad) != 0) {
				cmd_reply_err(r, "usage", "unknown event kind "
				    "'%.*s'; kinds are %s",
				    (int)strcspn(bad, ","), bad,
				    events_kinds_list());
				return;
			}
			/* SIP messages (and credentials) are for the full
			 * socket only, as `trace` is. */
			if ((kinds & EVENTS_KIND_TRACE) && ctx->readonly) {
				cmd_reply_err(r, "denied", "kind=trace shows "
				    "every SIP message and needs the "
				    "full-access socket");
				return;
			}
			/* What people wrote to each other, likewise. */
			if ((kinds & EVENTS_KIND_MESSAGE) && ctx->readonly) {
				cmd_reply_err(r, "denied", "kind=message shows "
				    "the MESSAGEs' bodies and needs the "
				    "full-access socket");
				return;
			}
		} else if (strcmp(key, "account") == 0) {
			account = value;
		} else {
			cmd_reply_err(r, "usage", "unknown filter '%.32s'; "
			    "filters are kind= and account=", key);
			return;
		}
	}
	/* Not an error (it may be added by a reload), but say so. */
	if (account != NULL &&
	    account_set_find(daemon_accounts(), account) == NULL)
		cmd_reply_ok(r, "subscribed (no account '%.64s' now)",
		    account);
	else
		cmd_reply_ok(r, "subscribed");
	r->subscribe = true;
	r->sub_kinds = kinds;
	r->sub_account = account;
}

static void
cmd_quit(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	cmd_reply_ok(r, "bye");
	r->close_after = true;
}

static const struct cmd_entry sys_entries[] = {
	{ "help", 0, 1, CMD_READ, "[COMMAND]",
	    "list the commands, or describe one", cmd_help_fn },
	{ "version", 0, 0, CMD_READ, "",
	    "versions of sipxd, the protocol and the libraries", cmd_version },
	{ "status", 0, 0, CMD_READ, "",
	    "uptime, pid, config file and counts of what sipxd holds",
	    cmd_status },
	{ "accounts", 0, 0, CMD_READ, "",
	    "accounts: registration state, target, expiry, last answer",
	    cmd_accounts },
	{ "account", 1, 1, CMD_READ, "NAME",
	    "one account: its registration, bindings and last attempts",
	    cmd_account },
	{ "peers", 0, 0, CMD_READ, "",
	    "peer health: probe targets, reachable or not, round trip",
	    cmd_peers },
	{ "register", 1, 1, CMD_WRITE, "NAME",
	    "send REGISTER now (refresh, or retry at once)", cmd_reg_action },
	{ "unregister", 1, 1, CMD_WRITE, "NAME",
	    "remove the binding; stays unregistered until register",
	    cmd_reg_action },
	{ "enable", 1, 1, CMD_WRITE, "NAME",
	    "register again after a disable or an unregister",
	    cmd_reg_action },
	{ "disable", 1, 1, CMD_WRITE, "NAME",
	    "unregister and keep it disabled, across reloads too",
	    cmd_reg_action },
	{ "reload", 0, 0, CMD_WRITE, "",
	    "re-read the config file; a bad file keeps the running config",
	    cmd_reload },
	{ "log", 1, 2, CMD_READ, "level [LEVEL]",
	    "show or set the log level (error|warning|notice|info|debug)",
	    cmd_log },
	{ "events", 0, 2, CMD_READ, "[kind=K[,K...]] [account=NAME] | off",
	    "follow events: a snapshot of the state, then live changes",
	    cmd_events },
	{ "options", 1, 3, CMD_WRITE, "URI [account=NAME] [timeout=S]",
	    "send OPTIONS and show the answer, its round trip and Allow",
	    cmd_options },
	{ "call", 1, -1, CMD_READ, "ID | ACCOUNT URI [sdp=early|late] "
	    "[timeout=S] [media=none|silence|echo|play] [file=PATH] "
	    "[header=\"Name: value\"]...",
	    "one call in detail; or place a call (a job; full socket only)",
	    cmd_call },
	{ "calls", 0, 1, CMD_READ, "[history]",
	    "live calls: state, peer, duration, codec; or the ended ones",
	    cmd_calls },
	{ "answer", 1, 1, CMD_WRITE, "ID", "answer a ringing incoming call",
	    cmd_answer },
	{ "reject", 1, 2, CMD_WRITE, "ID [CODE]",
	    "refuse a ringing incoming call (CODE 400..699, default 486)",
	    cmd_reject },
	{ "hangup", 1, 1, CMD_WRITE, "ID",
	    "end a call: CANCEL before the answer, BYE after", cmd_hangup },
	{ "hold", 1, 1, CMD_WRITE, "ID", "put a call on hold (re-INVITE)",
	    cmd_hold },
	{ "unhold", 1, 1, CMD_WRITE, "ID", "take a call off hold (re-INVITE)",
	    cmd_unhold },
	{ "dtmf", 2, 2, CMD_WRITE, "ID DIGITS",
	    "send DTMF digits (RFC 4733; 0-9 * # A-D, ',' a pause)",
	    cmd_dtmf },
	{ "transfer", 2, 2, CMD_WRITE, "ID URI",
	    "blind transfer: REFER the peer to URI (RFC 3515)",
	    cmd_transfer },
	{ "message", 3, 5, CMD_WRITE, "ACCOUNT URI TEXT [type=T] [timeout=S]",
	    "send a MESSAGE (RFC 3428) and show the final answer (a job)",
	    cmd_message },
	{ "messages", 1, 2, CMD_WRITE, "ACCOUNT [clear]",
	    "MESSAGEs received for an account; clear empties the inbox",
	    cmd_messages },
	{ "request", 3, -1, CMD_WRITE, "ACCOUNT METHOD URI "
	    "[header=\"Name: value\"]... [body=B] [type=T] [timeout=S]",
	    "send any request as an account and show every response (a job)",
	    cmd_request },
	{ "subscribe", 3, 4, CMD_WRITE, "ACCOUNT URI event=message-summary|"
	    "presence|dialog [expires=S]",
	    "subscribe to an event package (a job until the first NOTIFY)",
	    cmd_subscribe },
	{ "unsubscribe", 1, 1, CMD_WRITE, "ID",
	    "end one of our subscriptions (Expires: 0, then its last NOTIFY)",
	    cmd_unsubscribe },
	{ "subscriptions", 0, 0, CMD_READ, "",
	    "subscriptions both ways: state, expiry, the last NOTIFY's body",
	    cmd_subscriptions },
	{ "transactions", 0, 0, CMD_READ, "",
	    "live SIP transactions: method, role, state, age",
	    cmd_transactions },
	{ "trace", 0, 1, CMD_WRITE, "[off]",
	    "follow every SIP message sent and received", cmd_trace },
	{ "quit", 0, 0, CMD_READ, "", "close this connection", cmd_quit },
};

const struct cmd_table cmd_sys_table = {
	sys_entries, sizeof(sys_entries) / sizeof(sys_entries[0])
};

static void
cmd_help_fn(struct cmd_ctx *ctx, int argc, char **argv, struct cmd_reply *r)
{
	cmd_help(&cmd_sys_table, argc > 1 ? argv[1] : NULL, r);
}
