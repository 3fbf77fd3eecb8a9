/*
 * Config loading and validation (see config.h).  libconfig does the
 * syntax; this file does the schema: known keys, types, ranges, required
 * keys, cross-checks, defaults.  The schema is written as code, one
 * function per group, each reading its keys in the order a reader of
 * sipxd.conf(5) would expect.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "media/rtp.h"
#include "sip/sip_netmon.h"
#include "ua/subscription.h"
#include "config.h"

#define CONFIG_ERRORS_MAX	50

/* RFC 4028 §5: no Session-Expires below the 90 s floor of Min-SE. */
#define CONFIG_SESSION_EXPIRES_MIN	90
/* Calls: defaults and bounds of the media and calls groups. */
#define CONFIG_RTP_PORT_MIN_DEFAULT	20000
#define CONFIG_RTP_PORT_MAX_DEFAULT	29999
#define CONFIG_RTP_PORT_LOW		1024	/* no privileged ports */
#define CONFIG_MEDIA_TIMEOUT_DEFAULT	10
#define CONFIG_CALLS_MAX_DEFAULT	10000
#define CONFIG_CALLS_MAX_MAX		1000000
#define CONFIG_CALL_HISTORY_DEFAULT	1000
#define CONFIG_CALL_HISTORY_MAX		100000

struct cfgctx {
	const char		*file;
	struct config_msgs	*msgs;
	bool			 secrets;	/* a password or ha1 was seen */
};

static void
msgs_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

/* The dotted path of a setting, e.g. "accounts[1].retry.base". */
static void
key_path(const config_setting_t *s, struct strbuf *sb)
{
	const config_setting_t *parent;

	if (s == NULL || config_setting_is_root(s))
		return;
	parent = config_setting_parent(s);
	key_path(parent, sb);
	if (config_setting_name(s) != NULL) {
		if (!config_setting_is_root(parent))
			strbuf_addc(sb, '.');
		strbuf_adds(sb, config_setting_name(s));
	} else {
		strbuf_addf(sb, "[%d]", config_setting_index(s));
	}
}

static void __attribute__((format(printf, 4, 5)))
diag(struct cfgctx *cx, bool error, const config_setting_t *s,
    const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	const char *file = NULL;
	int line = 0;
	va_list ap;

	if (error && cx->msgs->nerrors == CONFIG_ERRORS_MAX) {
		strbuf_addf(&sb, "%s: too many errors, stopping here",
		    cx->file);
		msgs_push(&cx->msgs->errors, &cx->msgs->nerrors,
		    strbuf_detach(&sb));
		return;
	}
	if (error && cx->msgs->nerrors > CONFIG_ERRORS_MAX)
		return;
	if (s != NULL) {
		file = config_setting_source_file(s);
		line = (int)config_setting_source_line(s);
	}
	strbuf_addf(&sb, "%s:%d: ", file != NULL ? file : cx->file, line);
	if (s != NULL && !config_setting_is_root(s)) {
		size_t mark = sb.n;

		key_path(s, &sb);
		if (sb.n > mark)
			strbuf_adds(&sb, ": ");
	}
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (error)
		msgs_push(&cx->msgs->errors, &cx->msgs->nerrors,
		    strbuf_detach(&sb));
	else
		msgs_push(&cx->msgs->warnings, &cx->msgs->nwarnings,
		    strbuf_detach(&sb));
}

#define cfg_error(cx, s, ...)	diag((cx), true, (s), __VA_ARGS__)
#define cfg_warning(cx, s, ...)	diag((cx), false, (s), __VA_ARGS__)

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number with a fraction";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	}
	return "something else";
}

/*
 * Reports every member of a group whose name is not in known[], so a
 * misspelt key never silently becomes a default.
 */
static void
check_known(struct cfgctx *cx, const config_setting_t *group,
    const char *const *known)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;

		for (const char *const *k = known; *k != NULL; k++)
			if (strcmp(*k, name) == 0)
				ok = true;
		if (!ok)
			cfg_error(cx, m, "unknown key");
	}
}

/* Returns the member if present and of the wanted type, else NULL. */
static config_setting_t *
get_typed(struct cfgctx *cx, const config_setting_t *group, const char *name,
    int type)
{
	config_setting_t *s;
	int t;

	if (group == NULL)
		return NULL;
	s = config_setting_get_member(group, name);
	if (s == NULL)
		return NULL;
	t = config_setting_type(s);
	if (type == CONFIG_TYPE_INT &&
	    (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64))
		return s;
	if (t != type) {
		cfg_error(cx, s, "expected %s, got %s", type_name(type),
		    type_name(t));
		return NULL;
	}
	return s;
}

static config_setting_t *
get_group(struct cfgctx *cx, const config_setting_t *parent, const char *name)
{
	return get_typed(cx, parent, name, CONFIG_TYPE_GROUP);
}

/* String member, NULL if absent (or wrong type, reported). */
static const char *
get_string(struct cfgctx *cx, const config_setting_t *group, const char *name,
    const config_setting_t **where)
{
	config_setting_t *s = get_typed(cx, group, name, CONFIG_TYPE_STRING);
	const char *v;

	if (where != NULL)
		*where = s;
	if (s == NULL)
		return NULL;
	v = config_setting_get_string(s);
	if (strlen(v) > SIPX_CONFIG_STRING_MAX) {
		cfg_error(cx, s, "longer than %d bytes", SIPX_CONFIG_STRING_MAX);
		return NULL;
	}
	return v;
}

/* False only if the key is present and wrong (already reported). */
static bool
get_int(struct cfgctx *cx, const config_setting_t *group, const char *name,
    long long lo, long long hi, int *out)
{
	config_setting_t *s = get_typed(cx, group, name, CONFIG_TYPE_INT);
	long long v;

	if (s == NULL)
		return group == NULL ||
		    config_setting_get_member(group, name) == NULL;
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		cfg_error(cx, s, "%lld is out of range (%lld..%lld)", v, lo, hi);
		return false;
	}
	*out = (int)v;
	return true;
}

static void
get_bool(struct cfgctx *cx, const config_setting_t *group, const char *name,
    bool *out)
{
	config_setting_t *s = get_typed(cx, group, name, CONFIG_TYPE_BOOL);

	if (s != NULL)
		*out = config_setting_get_bool(s) != 0;
}

/* Picks one of names[] for a string key; returns its index or dflt. */
static int
get_choice(struct cfgctx *cx, const config_setting_t *group, const char *name,
    const char *const *names, int dflt)
{
	const config_setting_t *s;
	const char *v = get_string(cx, group, name, &s);
	struct strbuf sb = STRBUF_INIT;

	if (v == NULL)
		return dflt;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	for (int i = 0; names[i] != NULL; i++)
		strbuf_addf(&sb, "%s%s", i ? ", " : "", names[i]);
	cfg_error(cx, s, "'%s' is not one of %s", v, sb.p);
	strbuf_free(&sb);
	return dflt;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static bool
parse_mode(const char *s, mode_t *out)
{
	size_t n = strlen(s);
	mode_t m = 0;

	if (n < 3 || n > 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		m = (mode_t)(m * 8 + (mode_t)(s[i] - '0'));
	}
	if (m > 0777)
		return false;
	*out = m;
	return true;
}

static bool
parse_port(const char *s, bool optional)
{
	char *end;
	long v;

	if (*s == '\0')
		return optional;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' && v >= 1 && v <= 65535;
}

/* "IPv4[:port]" or "[IPv6][:port]"; a port is required if need_port. */
static bool
parse_hostport(const char *s, bool need_port)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *port = NULL;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return false;
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, buf) != 1)
			return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return false;
	} else if (!need_port && strchr(s, ':') != strrchr(s, ':')) {
		/* Two colons and no brackets: a bare IPv6 address. */
		return inet_pton(AF_INET6, s, buf) == 1;
	} else {
		const char *colon = strchr(s, ':');

		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, buf) != 1)
			return false;
		if (colon != NULL)
			port = colon + 1;
	}
	if (port == NULL)
		return !need_port;
	return parse_port(port, false);
}

/*
 * A light check of a SIP/SIPS URI until the full URI parser exists:
 * scheme, optional user@, non-empty host.  Sets *host to the host[:port]
 * part (allocated) when host != NULL.
 */
static bool
check_sip_uri(const char *uri, bool need_user, char **host)
{
	const char *p, *at, *end;

	if (strncasecmp(uri, "sip:", 4) == 0)
		p = uri + 4;
	else if (strncasecmp(uri, "sips:", 5) == 0)
		p = uri + 5;
	else
		return false;
	end = p + strcspn(p, ";?");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL) {
		if (at == p)
			return false;
		p = at + 1;
	} else if (need_user) {
		return false;
	}
	if (p == end || *p == ':')
		return false;
	/* RFC 3986: anything but visible ASCII must be %-escaped. */
	for (const char *q = uri; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return false;
	if (host != NULL)
		*host = xstrndup(p, (size_t)(end - p));
	return true;
}

static char *
uri_user_part(const char *uri)
{
	const char *p = strchr(uri, ':') + 1;
	const char *end = p + strcspn(p, ";?");
	const char *at = memchr(p, '@', (size_t)(end - p));
	size_t ulen;

	if (at == NULL)
		return NULL;
	ulen = strcspn(p, ":@");	/* user[:password]@ */
	return xstrndup(p, ulen < (size_t)(at - p) ? ulen : (size_t)(at - p));
}

static bool
is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A listener's; an account's adds WebSocket (client only, RFC 7118). */
static const char *const listen_transport_names[] = { "udp", "tcp", "tls",
	NULL };
static const char *const transport_names[] = { "udp", "tcp", "tls", "ws",
	"wss", NULL };

/*
 * A file sipxd will need later (certificate, key, CA): say so now, at
 * start-up or `sipxd -t`, rather than at the first TLS connection.
 */
static char *
get_readable(struct cfgctx *cx, const config_setting_t *g, const char *name,
    bool dir)
{
	const config_setting_t *where;
	const char *v = get_string(cx, g, name, &where);
	struct stat st;

	if (v == NULL)
		return NULL;
	if (stat(v, &st) == -1 || access(v, R_OK) == -1)
		cfg_error(cx, where, "cannot read '%s': %s", v,
		    strerror(errno));
	else if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		cfg_error(cx, where, "'%s' is not a %s", v,
		    dir ? "directory" : "regular file");
	return xstrdup(v);
}

static void
load_listen(struct cfgctx *cx, const config_setting_t *sipxd,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "transport", "address",
	    "certificate", "key", "ca_file", NULL };
	config_setting_t *list = get_typed(cx, sipxd, "listen",
	    CONFIG_TYPE_LIST);
	int n;

	if (list == NULL) {
		if (sipxd != NULL && config_setting_get_member(sipxd, "listen"))
			return;		/* wrong type, reported */
		cfg->listen = xcalloc(2, sizeof(*cfg->listen));
		cfg->listen[0].transport = ACCOUNT_TRANSPORT_UDP;
		cfg->listen[0].address = xstrdup("127.0.0.1:5060");
		cfg->listen[1].transport = ACCOUNT_TRANSPORT_TCP;
		cfg->listen[1].address = xstrdup("127.0.0.1:5060");
		cfg->nlisten = 2;
		return;
	}
	n = config_setting_length(list);
	if (n == 0)
		cfg_warning(cx, list, "empty: sipxd will not hear any SIP");
	cfg->listen = xcalloc((size_t)n + 1, sizeof(*cfg->listen));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct listen_cfg *l = &cfg->listen[cfg->nlisten++];
		const config_setting_t *where;
		const char *v;

		l->line = (int)config_setting_source_line(g);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			cfg_error(cx, g, "expected a group { transport = …; "
			    "address = …; }, got %s",
			    type_name(config_setting_type(g)));
			continue;
		}
		check_known(cx, g, known);
		if (config_setting_get_member(g, "transport") == NULL)
			cfg_error(cx, g, "missing required key 'transport'");
		l->transport = (enum account_transport)get_choice(cx, g,
		    "transport", listen_transport_names,
		    ACCOUNT_TRANSPORT_UDP);
		v = get_string(cx, g, "address", &where);
		if (v == NULL) {
			if (where == NULL &&
			    config_setting_get_member(g, "address") == NULL)
				cfg_error(cx, g,
				    "missing required key 'address'");
		} else if (!parse_hostport(v, true)) {
			cfg_error(cx, where, "'%s' is not IP:PORT (IPv6 as "
			    "[ADDR]:PORT, port 1..65535)", v);
		}
		l->address = dup_or_null(v);
		l->certificate = get_readable(cx, g, "certificate", false);
		l->key = get_readable(cx, g, "key", false);
		l->ca_file = get_readable(cx, g, "ca_file", false);
		if (l->transport == ACCOUNT_TRANSPORT_TLS &&
		    (l->certificate == NULL || l->key == NULL))
			cfg_error(cx, g, "tls needs 'certificate' and 'key'");
		if (l->transport != ACCOUNT_TRANSPORT_TLS &&
		    (l->certificate != NULL || l->key != NULL ||
		    l->ca_file != NULL))
			cfg_error(cx, g, "certificate, key and ca_file only "
			    "apply to transport \"tls\"");
	}
}

static void
load_sipxd(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "listen", "user_agent", "timers",
	    "register_spread", "dns", "tls", "unknown_user", "tcp",
	    "failover_timeout", "blocklist_ttl", "max_transactions", NULL };
	static const char *const unknown_user_names[] = { "answer", "404",
	    NULL };
	static const char *const timers_known[] = { "t1", "t2", "t4", NULL };
	static const char *const dns_known[] = { "servers", NULL };
	static const char *const tls_known[] = { "ca_file", "ca_dir",
	    "verify", NULL };
	static const char *const tcp_known[] = { "idle_timeout",
	    "message_timeout", "tls_handshake_timeout", "max_connections",
	    "pong_timeout", NULL };
	config_setting_t *g = get_group(cx, root, "sipxd");
	config_setting_t *timers, *dns, *servers, *tls, *tcp;
	const char *ua;

	cfg->t1 = 500;
	cfg->t2 = 4000;
	cfg->t4 = 5000;
	cfg->register_spread = 1000;
	/* sip_trans.h SIP_TRANS_MAX_DEFAULT: ~1 KB each at most when held. */
	cfg->max_transactions = 100000;
	if (g != NULL)
		check_known(cx, g, known);
	load_listen(cx, g, cfg);

	ua = get_string(cx, g, "user_agent", NULL);
	cfg->user_agent = xstrdup(ua != NULL ? ua : "sipxd/" PACKAGE_VERSION);
	/* It goes into Server and User-Agent as it is (RFC 3261 §20.35). */
	if (strlen(cfg->user_agent) > CONFIG_USER_AGENT_MAX)
		cfg_error(cx, config_setting_get_member(g, "user_agent"),
		    "longer than %d bytes", CONFIG_USER_AGENT_MAX);
	for (const char *p = cfg->user_agent; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cfg_error(cx, config_setting_get_member(g,
			    "user_agent"), "control characters are not "
			    "allowed");
			break;
		}

	timers = get_group(cx, g, "timers");
	if (timers != NULL) {
		check_known(cx, timers, timers_known);
		bool t1_ok = get_int(cx, timers, "t1", 1, 60000, &cfg->t1);
		bool t2_ok = get_int(cx, timers, "t2", 1, 600000, &cfg->t2);

		get_int(cx, timers, "t4", 1, 600000, &cfg->t4);
		/* Cross-check only values that were themselves valid. */
		if (t1_ok && t2_ok && cfg->t2 < cfg->t1)
			cfg_error(cx, timers, "t2 (%d ms) must not be below "
			    "t1 (%d ms)", cfg->t2, cfg->t1);
	}
	get_int(cx, g, "register_spread", 0, 3600000, &cfg->register_spread);
	/*
	 * RFC 3263 §4.3 failover: a silent target would cost Timer F
	 * (32 s at the default T1) before the next is tried.
	 */
	cfg->failover_timeout = 2000;
	cfg->blocklist_ttl = 60;
	get_int(cx, g, "failover_timeout", 0, 600000, &cfg->failover_timeout);
	get_int(cx, g, "blocklist_ttl", 0, 86400, &cfg->blocklist_ttl);
	get_int(cx, g, "max_transactions", 10, 10000000,
	    &cfg->max_transactions);
	/* RFC 3261 §11.2: OPTIONS to a user we do not have may get 404. */
	cfg->reject_unknown_users = get_choice(cx, g, "unknown_user",
	    unknown_user_names, 0) == 1;

	cfg->tcp_idle_timeout = 600;
	cfg->tcp_message_timeout = 32;
	cfg->tcp_tls_handshake_timeout = 10;
	cfg->tcp_pong_timeout = 10;	/* RFC 5626 §4.4.1 */
	tcp = get_group(cx, g, "tcp");
	if (tcp != NULL) {
		check_known(cx, tcp, tcp_known);
		bool idle_ok = get_int(cx, tcp, "idle_timeout", 0, 86400,
		    &cfg->tcp_idle_timeout);
		bool msg_ok = get_int(cx, tcp, "message_timeout", 0, 3600,
		    &cfg->tcp_message_timeout);

		get_int(cx, tcp, "tls_handshake_timeout", 1, 600,
		    &cfg->tcp_tls_handshake_timeout);
		get_int(cx, tcp, "max_connections", 0, 1000000,
		    &cfg->tcp_max_connections);
		get_int(cx, tcp, "pong_timeout", 0, 600,
		    &cfg->tcp_pong_timeout);
		if (idle_ok && msg_ok && cfg->tcp_idle_timeout > 0 &&
		    cfg->tcp_message_timeout > cfg->tcp_idle_timeout)
			cfg_warning(cx, tcp, "message_timeout (%d s) above "
			    "idle_timeout (%d s) has no effect",
			    cfg->tcp_message_timeout, cfg->tcp_idle_timeout);
	}

	cfg->tls_verify = true;
	tls = get_group(cx, g, "tls");
	if (tls != NULL) {
		check_known(cx, tls, tls_known);
		cfg->tls_ca_file = get_readable(cx, tls, "ca_file", false);
		cfg->tls_ca_dir = get_readable(cx, tls, "ca_dir", true);
		get_bool(cx, tls, "verify", &cfg->tls_verify);
		if (!cfg->tls_verify)
			cfg_warning(cx, tls, "verify = false: TLS peers are "
			    "not authenticated (for tests and labs only)");
	}

	dns = get_group(cx, g, "dns");
	if (dns == NULL)
		return;
	check_known(cx, dns, dns_known);
	servers = get_typed(cx, dns, "servers", CONFIG_TYPE_ARRAY);
	if (servers == NULL)
		return;
	cfg->dns_servers = xcalloc((size_t)config_setting_length(servers) + 1,
	    sizeof(char *));
	for (int i = 0; i < config_setting_length(servers); i++) {
		config_setting_t *e = config_setting_get_elem(servers,
		    (unsigned)i);
		const char *v;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(cx, e, "expected a string");
			continue;
		}
		v = config_setting_get_string(e);
		if (!parse_hostport(v, false))
			cfg_error(cx, e, "'%s' is not an IP address with an "
			    "optional :PORT", v);
		cfg->dns_servers[cfg->ndns_servers++] = xstrdup(v);
	}
}

static bool
lookup_uid(const char *name, uid_t *out)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name != '\0' && *end == '\0' && errno == 0 && v < UINT32_MAX) {
		*out = (uid_t)v;
		return true;
	}
	pw = getpwnam(name);
	if (pw == NULL)
		return false;
	*out = pw->pw_uid;
	return true;
}

static bool
lookup_gid(const char *name, gid_t *out)
{
	struct group *gr;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name != '\0' && *end == '\0' && errno == 0 && v < UINT32_MAX) {
		*out = (gid_t)v;
		return true;
	}
	gr = getgrnam(name);
	if (gr == NULL)
		return false;
	*out = gr->gr_gid;
	return true;
}

/* Reads an array of user or group names into ids. */
static void
load_id_list(struct cfgctx *cx, const config_setting_t *g, const char *name,
    bool users, void **ids, size_t *nids)
{
	config_setting_t *arr = get_typed(cx, g, name, CONFIG_TYPE_ARRAY);
	int n;

	if (arr == NULL)
		return;
	n = config_setting_length(arr);
	*ids = xcalloc((size_t)n + 1, users ? sizeof(uid_t) : sizeof(gid_t));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(arr, (unsigned)i);
		const char *v;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(cx, e, "expected a string");
			continue;
		}
		v = config_setting_get_string(e);
		if (users ? !lookup_uid(v, &((uid_t *)*ids)[*nids]) :
		    !lookup_gid(v, &((gid_t *)*ids)[*nids])) {
			cfg_error(cx, e, "no such %s '%s'",
			    users ? "user" : "group", v);
			continue;
		}
		(*nids)++;
	}
}

static void
load_socket_path(struct cfgctx *cx, const config_setting_t *g,
    const char *name, char **out)
{
	const config_setting_t *where;
	const char *v = get_string(cx, g, name, &where);
	struct sockaddr_un sun;

	if (v == NULL)
		return;
	if (v[0] != '/')
		cfg_error(cx, where, "'%s' is not an absolute path", v);
	else if (strlen(v) >= sizeof(sun.sun_path))
		cfg_error(cx, where, "longer than %zu bytes, the limit of a "
		    "UNIX socket path", sizeof(sun.sun_path) - 1);
	free(*out);
	*out = xstrdup(v);
}

static void
load_mode(struct cfgctx *cx, const config_setting_t *g, const char *name,
    mode_t *out)
{
	const config_setting_t *where;
	const char *v = get_string(cx, g, name, &where);

	if (v != NULL && !parse_mode(v, out))
		cfg_error(cx, where, "'%s' is not an octal mode such as "
		    "\"0660\"", v);
}

static void
load_control(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "path", "mode", "group",
	    "max_clients", "readonly_path", "readonly_mode", "allow_users",
	    "allow_groups", "output_limit", "readonly_max_clients",
	    "readonly_max_per_uid", NULL };
	struct control_cfg *c = &cfg->control;
	config_setting_t *g = get_group(cx, root, "control");
	const config_setting_t *where;
	const char *group;
	int limit = SIPX_CTL_OUTPUT_DEFAULT;

	c->path = xstrdup(CONFIG_DEFAULT_SOCKET);
	c->mode = 0660;
	c->readonly_mode = 0666;
	c->max_clients = SIPX_CTL_CLIENTS_DEFAULT;
	c->readonly_max_clients = SIPX_CTL_CLIENTS_DEFAULT;
	c->readonly_max_per_uid = SIPX_CTL_RO_PER_UID_DEFAULT;
	c->output_limit = SIPX_CTL_OUTPUT_DEFAULT;
	if (g == NULL)
		return;
	check_known(cx, g, known);
	load_socket_path(cx, g, "path", &c->path);
	load_mode(cx, g, "mode", &c->mode);
	group = get_string(cx, g, "group", &where);
	if (group != NULL) {
		c->group = xstrdup(group);
		if (!lookup_gid(group, &c->gid))
			cfg_error(cx, where, "no such group '%s'", group);
	}
	get_int(cx, g, "max_clients", 1, SIPX_CTL_CLIENTS_MAX,
	    &c->max_clients);
	get_int(cx, g, "readonly_max_clients", 1, SIPX_CTL_CLIENTS_MAX,
	    &c->readonly_max_clients);
	get_int(cx, g, "readonly_max_per_uid", 1, SIPX_CTL_CLIENTS_MAX,
	    &c->readonly_max_per_uid);
	load_socket_path(cx, g, "readonly_path", &c->readonly_path);
	load_mode(cx, g, "readonly_mode", &c->readonly_mode);
	if (c->readonly_path != NULL && strcmp(c->readonly_path, c->path) == 0)
		cfg_error(cx, config_setting_get_member(g, "readonly_path"),
		    "the same as path; the read-only socket needs its own");
	load_id_list(cx, g, "allow_users", true, (void **)&c->allow_uids,
	    &c->nallow_uids);
	load_id_list(cx, g, "allow_groups", false, (void **)&c->allow_gids,
	    &c->nallow_gids);
	get_int(cx, g, "output_limit", SIPX_CTL_OUTPUT_MIN,
	    SIPX_CTL_OUTPUT_MAX, &limit);
	c->output_limit = (size_t)limit;
}

static void
load_log(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "level", NULL };
	static const char *const levels[] = { "error", "warning", "notice",
	    "info", "debug", NULL };
	config_setting_t *g = get_group(cx, root, "log");

	cfg->log_level = LOG_LEVEL_INFO;
	if (g == NULL)
		return;
	check_known(cx, g, known);
	/* levels[] is in enum log_level order */
	cfg->log_level = (enum log_level)get_choice(cx, g, "level", levels,
	    LOG_LEVEL_INFO);
}

/* An IPv4 or IPv6 literal; *wildcard says whether it is 0.0.0.0 or ::. */
static bool
ip_literal(const char *s, bool *wildcard)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		*wildcard = a4.s_addr == htonl(INADDR_ANY);
		return true;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		*wildcard = IN6_IS_ADDR_UNSPECIFIED(&a6);
		return true;
	}
	return false;
}

/*
 * The host of a listen address ("IP:PORT" or "[IPv6]:PORT"), allocated,
 * or NULL when it is no IP literal (an error already reported).
 */
static char *
listen_host(const char *addr, bool *wildcard)
{
	const char *rb;
	char *host;

	if (addr == NULL)
		return NULL;
	if (addr[0] == '[') {
		if ((rb = strchr(addr, ']')) == NULL)
			return NULL;
		host = xstrndup(addr + 1, (size_t)(rb - addr - 1));
	} else {
		host = xstrndup(addr, strcspn(addr, ":"));
	}
	if (!ip_literal(host, wildcard)) {
		free(host);
		return NULL;
	}
	return host;
}

/*
 * Without media.address, RTP goes where SIP is heard: the first listener's
 * address.  A wildcard cannot be announced in SDP (the peer would send
 * its RTP to 0.0.0.0), so then loopback, with a warning: calls set up,
 * but no peer on another host hears them.
 */
static char *
default_media_address(struct cfgctx *cx, const config_setting_t *root,
    const struct sipxd_config *cfg)
{
	config_setting_t *s;
	bool wildcard = false;
	char *host;

	if (cfg->nlisten == 0)
		return xstrdup("127.0.0.1");
	host = listen_host(cfg->listen[0].address, &wildcard);
	if (host != NULL && !wildcard)
		return host;
	free(host);
	if (wildcard) {
		s = config_setting_get_member(root, "sipxd");
		s = s != NULL ? config_setting_get_member(s, "listen") : NULL;
		s = s != NULL ? config_setting_get_elem(s, 0) : NULL;
		s = s != NULL ? config_setting_get_member(s, "address") : NULL;
		cfg_warning(cx, s, "a wildcard, which cannot go into SDP, and "
		    "media.address is not set: RTP uses 127.0.0.1, which "
		    "peers on other hosts cannot reach; set media.address");
	}
	return xstrdup("127.0.0.1");
}

static void
load_media(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "address", "port_min",
	    "port_max", "timeout", NULL };
	config_setting_t *g = get_group(cx, root, "media");
	const config_setting_t *where;
	const char *v;
	bool min_ok, max_ok, wildcard;

	cfg->rtp_port_min = CONFIG_RTP_PORT_MIN_DEFAULT;
	cfg->rtp_port_max = CONFIG_RTP_PORT_MAX_DEFAULT;
	cfg->media_timeout = CONFIG_MEDIA_TIMEOUT_DEFAULT;
	if (g != NULL)
		check_known(cx, g, known);

	v = get_string(cx, g, "address", &where);
	if (v == NULL) {
		cfg->media_address = default_media_address(cx, root, cfg);
	} else {
		/* The sockets bind to it and SDP's c= line announces it. */
		if (!ip_literal(v, &wildcard))
			cfg_error(cx, where, "'%s' is not an IPv4 or IPv6 "
			    "address (IPv6 without brackets)", v);
		else if (wildcard)
			cfg_error(cx, where, "'%s' is a wildcard; it goes "
			    "into SDP as the address peers send RTP to, so "
			    "it must be one address of this host", v);
		cfg->media_address = xstrdup(v);
	}

	min_ok = get_int(cx, g, "port_min", CONFIG_RTP_PORT_LOW, 65535,
	    &cfg->rtp_port_min);
	max_ok = get_int(cx, g, "port_max", CONFIG_RTP_PORT_LOW, 65535,
	    &cfg->rtp_port_max);
	/* RFC 3550 §11: RTP on an even port, its RTCP on the next one. */
	if (min_ok && cfg->rtp_port_min % 2 != 0)
		cfg_error(cx, config_setting_get_member(g, "port_min"),
		    "%d is odd; RTP takes an even port and RTCP the odd one "
		    "above it", cfg->rtp_port_min);
	else if (min_ok && max_ok && cfg->rtp_port_max <= cfg->rtp_port_min)
		cfg_error(cx, g, "port_max (%d) must be above port_min (%d)",
		    cfg->rtp_port_max, cfg->rtp_port_min);
	else if (min_ok && max_ok &&
	    cfg->rtp_port_max - cfg->rtp_port_min + 1 < 4)
		cfg_error(cx, g, "ports %d..%d hold one RTP/RTCP pair; the "
		    "range needs at least 2", cfg->rtp_port_min,
		    cfg->rtp_port_max);
	get_int(cx, g, "timeout", 0, 3600, &cfg->media_timeout);
}

static void
load_calls(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "max", "history", NULL };
	config_setting_t *g = get_group(cx, root, "calls");

	cfg->max_calls = CONFIG_CALLS_MAX_DEFAULT;
	cfg->call_history = CONFIG_CALL_HISTORY_DEFAULT;
	if (g == NULL)
		return;
	check_known(cx, g, known);
	get_int(cx, g, "max", 1, CONFIG_CALLS_MAX_MAX, &cfg->max_calls);
	get_int(cx, g, "history", 0, CONFIG_CALL_HISTORY_MAX,
	    &cfg->call_history);
}

static void
load_network(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "watch", "settle_ms", NULL };
	config_setting_t *g = get_group(cx, root, "network");

	cfg->net_watch = true;
	cfg->net_settle_ms = SIP_NETMON_SETTLE_DEFAULT;
	if (g == NULL)
		return;
	check_known(cx, g, known);
	get_bool(cx, g, "watch", &cfg->net_watch);
	/* A change is to be acted on within a second: the settle time
	 * cannot take all of it. */
	get_int(cx, g, "settle_ms", 0, SIP_NETMON_SETTLE_MAX,
	    &cfg->net_settle_ms);
}

static void
load_subscriptions(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	static const char *const known[] = { "max", "notify_body_max",
	    NULL };
	config_setting_t *g = get_group(cx, root, "subscriptions");

	cfg->max_subscriptions = SUB_MAX_DEFAULT;
	cfg->notify_body_max = SUB_BODY_MAX_DEFAULT;
	if (g == NULL)
		return;
	check_known(cx, g, known);
	get_int(cx, g, "max", 1, CONFIG_CALLS_MAX_MAX,
	    &cfg->max_subscriptions);
	get_int(cx, g, "notify_body_max", 256, SUB_BODY_MAX_MAX,
	    &cfg->notify_body_max);
}

static const char *const known_codecs[] = { "PCMU", "PCMA", "G722", "G729",
	"GSM", "iLBC", "L16", "opus", "telephone-event", NULL };

static void
load_codecs(struct cfgctx *cx, const config_setting_t *g,
    struct account_cfg *a)
{
	config_setting_t *arr = get_typed(cx, g, "codecs", CONFIG_TYPE_ARRAY);
	int n;

	if (arr == NULL) {
		if (config_setting_get_member(g, "codecs") != NULL)
			return;		/* wrong type, reported */
		a->codecs = xcalloc(2, sizeof(char *));
		a->codecs[0] = xstrdup("PCMU");
		a->codecs[1] = xstrdup("PCMA");
		a->ncodecs = 2;
		return;
	}
	n = config_setting_length(arr);
	if (n == 0)
		cfg_error(cx, arr, "needs at least one codec");
	a->codecs = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(arr, (unsigned)i);
		const char *v, *canon = NULL;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(cx, e, "expected a string");
			continue;
		}
		v = config_setting_get_string(e);
		for (const char *const *k = known_codecs; *k != NULL; k++)
			if (strcasecmp(*k, v) == 0)
				canon = *k;
		if (canon == NULL) {
			cfg_error(cx, e, "unknown codec '%s' (known: PCMU, "
			    "PCMA, G722, G729, GSM, iLBC, L16, opus, "
			    "telephone-event)", v);
			continue;
		}
		for (size_t j = 0; j < a->ncodecs; j++)
			if (strcmp(a->codecs[j], canon) == 0) {
				cfg_error(cx, e, "codec '%s' listed twice",
				    canon);
				canon = NULL;
				break;
			}
		if (canon != NULL)
			a->codecs[a->ncodecs++] = xstrdup(canon);
	}
}

static bool
valid_account_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SIPX_ACCOUNT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/*
 * The file media = "play" sends, opened now so that a wrong path shows at
 * start-up or `sipxd -t` and not as a silent call.  Absolute, because a
 * relative one would name a file relative to wherever sipxd was started;
 * O_NONBLOCK, because a FIFO named here must not hang the load.
 */
static void
check_play_file(struct cfgctx *cx, const config_setting_t *where,
    const char *path)
{
	struct stat st;
	int fd;

	if (path[0] != '/') {
		cfg_error(cx, where, "'%s' is not an absolute path", path);
		return;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		cfg_error(cx, where, "cannot read '%s': %s", path,
		    strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		cfg_error(cx, where, "cannot read '%s': %s", path,
		    strerror(errno));
	else if (!S_ISREG(st.st_mode))
		cfg_error(cx, where, "'%s' is not a regular file", path);
	close(fd);
}

/* The account's call keys: what it does with calls, both ways. */
static void
load_account_calls(struct cfgctx *cx, const config_setting_t *g,
    struct account_cfg *a)
{
	static const char *const sdp_names[] = { "early", "late", NULL };
	static const char *const refer_names[] = { "accept", "reject", NULL };
	/* In enum rtp_mode order: get_choice() returns the index. */
	static const char *const media_names[] = {
		[RTP_MODE_NONE] = "none",
		[RTP_MODE_SILENCE] = "silence",
		[RTP_MODE_ECHO] = "echo",
		[RTP_MODE_PLAY] = "play",
		NULL
	};
	const config_setting_t *where;
	config_setting_t *s;
	const char *v;

	a->ring_timeout = 60;
	a->reject_code = 486;
	a->call_timeout = 120;
	a->session_expires = 1800;
	a->media = RTP_MODE_SILENCE;
	get_int(cx, g, "ring_timeout", 1, 3600, &a->ring_timeout);
	get_int(cx, g, "reject_code", 400, 699, &a->reject_code);
	get_int(cx, g, "call_timeout", 1, 86400, &a->call_timeout);
	a->late_offer = get_choice(cx, g, "sdp", sdp_names, 0) == 1;

	s = get_typed(cx, g, "session_expires", CONFIG_TYPE_INT);
	if (s != NULL) {
		long long se = config_setting_get_int64(s);

		if (se > 0 && se < CONFIG_SESSION_EXPIRES_MIN)
			cfg_error(cx, s, "%lld is below %d s, the least "
			    "session interval RFC 4028 allows (0 turns "
			    "session timers off)", se,
			    CONFIG_SESSION_EXPIRES_MIN);
		else if (se < 0 || se > 86400)
			cfg_error(cx, s, "%lld is out of range (0 or "
			    "%d..86400)", se, CONFIG_SESSION_EXPIRES_MIN);
		else
			a->session_expires = (int)se;
	}

	get_bool(cx, g, "follow_redirects", &a->follow_redirects);
	a->media = get_choice(cx, g, "media", media_names, RTP_MODE_SILENCE);
	v = get_string(cx, g, "play_file", &where);
	if (v != NULL) {
		check_play_file(cx, where, v);
		a->play_file = xstrdup(v);
	}
	if (a->media == RTP_MODE_PLAY && a->play_file == NULL &&
	    config_setting_get_member(g, "play_file") == NULL)
		cfg_error(cx, config_setting_get_member(g, "media"),
		    "\"play\" needs play_file, the WAV file to play");
	else if (a->media != RTP_MODE_PLAY && a->play_file != NULL)
		cfg_warning(cx, where, "only used with media = \"play\" "
		    "(this account's media is \"%s\")", media_names[a->media]);
	/* A REFER makes us call anyone the peer names: off by default. */
	a->refer_accept = get_choice(cx, g, "refer", refer_names, 1) == 0;
}

/*
 * qualify = { interval = 30; timeout = 2000; up = 1; down = 2; }: OPTIONS
 * probes of the account's first hop (ua/qualify.c).  Off by default: at
 * 100,000 accounts on as many registrars, a probe each is a flood.
 */
static void
load_account_qualify(struct cfgctx *cx, const config_setting_t *g,
    struct account_cfg *a)
{
	static const char *const known[] = { "interval", "timeout", "up",
	    "down", NULL };
	config_setting_t *q = get_group(cx, g, "qualify");
	bool iv_ok, to_ok;

	a->qualify_interval = 0;
	a->qualify_timeout = 2000;
	a->qualify_up = 1;
	a->qualify_down = 2;
	if (q == NULL)
		return;
	check_known(cx, q, known);
	iv_ok = get_int(cx, q, "interval", 0, 86400, &a->qualify_interval);
	to_ok = get_int(cx, q, "timeout", 100, 60000, &a->qualify_timeout);
	get_int(cx, q, "up", 1, 100, &a->qualify_up);
	get_int(cx, q, "down", 1, 100, &a->qualify_down);
	/* One probe out at a time: the next would find the last unjudged. */
	if (iv_ok && to_ok && a->qualify_interval > 0 &&
	    a->qualify_timeout >= a->qualify_interval * 1000)
		cfg_error(cx, q, "timeout (%d ms) must be below interval "
		    "(%d s)", a->qualify_timeout, a->qualify_interval);
}

/*
 * accept_events: the packages watchers may subscribe to.  Only those
 * sipxd backs with real state (presence: the registration); the others
 * it knows as a subscriber are refused here, not answered with nothing.
 */
static void
load_account_events(struct cfgctx *cx, const config_setting_t *g,
    struct account_cfg *a)
{
	config_setting_t *arr = get_typed(cx, g, "accept_events",
	    CONFIG_TYPE_ARRAY);
	int n;

	if (arr == NULL)
		return;
	n = config_setting_length(arr);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(arr, (unsigned)i);
		const char *v;
		int pkg;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(cx, e, "expected a string");
			continue;
		}
		v = config_setting_get_string(e);
		/* By name here: the config links without the usage. */
		pkg = strcasecmp(v, "presence") == 0 ? SUB_PKG_PRESENCE : -1;
		if (pkg < 0) {
			cfg_error(cx, e, "sipxd cannot serve '%s' (it serves "
			    "presence only)", v);
			continue;
		}
		if (a->accept_events & (1u << pkg)) {
			cfg_error(cx, e, "'%s' listed twice", v);
			continue;
		}
		a->accept_events |= 1u << pkg;
	}
}

static struct account_cfg *
load_account(struct cfgctx *cx, const config_setting_t *g)
{
	static const char *const known[] = { "name", "display_name", "aor",
	    "auth_user", "password", "ha1", "registrar", "outbound_proxy",
	    "transport", "register", "expires", "retry", "incoming", "codecs",
	    "outbound", "ring_timeout", "reject_code", "call_timeout", "sdp",
	    "session_expires", "follow_redirects", "media", "play_file",
	    "refer", "qualify",
	    "inbox",
	    "accept_events", NULL };
	static const char *const retry_known[] = { "base", "max", "fatal",
	    NULL };
	static const char *const incoming_names[] = { "answer", "ring",
	    "reject", NULL };
	struct account_cfg *a = xcalloc(1, sizeof(*a));
	const config_setting_t *where, *pw_where = NULL;
	config_setting_t *retry;
	const char *v;
	char *host = NULL;

	a->line = (int)config_setting_source_line(g);
	a->register_on = true;
	a->expires = 600;
	a->retry_base = 30;
	a->retry_max = 1800;
	a->retry_fatal = 600;
	a->incoming = ACCOUNT_INCOMING_RING;
	check_known(cx, g, known);

	v = get_string(cx, g, "name", &where);
	if (v == NULL && where == NULL &&
	    config_setting_get_member(g, "name") == NULL)
		cfg_error(cx, g, "missing required key 'name'");
	else if (v != NULL && !valid_account_name(v))
		cfg_error(cx, where, "'%s' is not a valid account name "
		    "(1..%d of A-Z a-z 0-9 _ . -)", v, SIPX_ACCOUNT_NAME_MAX);
	a->name = dup_or_null(v);

	a->display_name = dup_or_null(get_string(cx, g, "display_name", NULL));

	v = get_string(cx, g, "aor", &where);
	if (v == NULL && where == NULL &&
	    config_setting_get_member(g, "aor") == NULL)
		cfg_error(cx, g, "missing required key 'aor'");
	else if (v != NULL && !check_sip_uri(v, true, &host))
		cfg_error(cx, where, "'%s' is not a sip: or sips: URI of the "
		    "form sip:user@domain", v);
	a->aor = dup_or_null(v);

	v = get_string(cx, g, "auth_user", NULL);
	a->auth_user = v != NULL ? xstrdup(v) :
	    (a->aor != NULL && host != NULL ? uri_user_part(a->aor) : NULL);

	v = get_string(cx, g, "password", &pw_where);
	a->password = dup_or_null(v);
	v = get_string(cx, g, "ha1", &where);
	if (v != NULL && !is_hex(v, 32) && !is_hex(v, 64))
		cfg_error(cx, where, "must be 32 (MD5) or 64 (SHA-256) hex "
		    "digits");
	a->ha1 = dup_or_null(v);
	if (a->password != NULL && a->ha1 != NULL)
		cfg_error(cx, pw_where, "give either password or ha1, not "
		    "both");
	if (a->password != NULL || a->ha1 != NULL)
		cx->secrets = true;

	v = get_string(cx, g, "registrar", &where);
	if (v != NULL && !check_sip_uri(v, false, NULL))
		cfg_error(cx, where, "'%s' is not a sip: or sips: URI", v);
	if (v != NULL)
		a->registrar = xstrdup(v);
	else if (host != NULL) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s:%s",
		    strncasecmp(a->aor, "sips:", 5) == 0 ? "sips" : "sip",
		    host);
		a->registrar = strbuf_detach(&sb);
	}
	free(host);

	v = get_string(cx, g, "outbound_proxy", &where);
	if (v != NULL && !check_sip_uri(v, false, NULL))
		cfg_error(cx, where, "'%s' is not a sip: or sips: URI", v);
	a->outbound_proxy = dup_or_null(v);

	a->transport = (enum account_transport)get_choice(cx, g, "transport",
	    transport_names, ACCOUNT_TRANSPORT_UDP);
	get_bool(cx, g, "register", &a->register_on);
	get_bool(cx, g, "outbound", &a->outbound);
	get_int(cx, g, "expires", 10, 604800, &a->expires);
	retry = get_group(cx, g, "retry");
	if (retry != NULL) {
		check_known(cx, retry, retry_known);
		bool base_ok = get_int(cx, retry, "base", 1, 86400,
		    &a->retry_base);
		bool max_ok = get_int(cx, retry, "max", 1, 86400,
		    &a->retry_max);

		get_int(cx, retry, "fatal", 1, 86400, &a->retry_fatal);
		if (base_ok && max_ok && a->retry_max < a->retry_base)
			cfg_error(cx, retry, "max (%d s) must not be below "
			    "base (%d s)", a->retry_max, a->retry_base);
	}
	a->incoming = (enum account_incoming)get_choice(cx, g, "incoming",
	    incoming_names, ACCOUNT_INCOMING_RING);
	load_codecs(cx, g, a);
	load_account_calls(cx, g, a);
	load_account_qualify(cx, g, a);
	/* MESSAGEs received and kept (message.c); 0 keeps none. */
	a->inbox = SIPX_INBOX_DEFAULT;
	get_int(cx, g, "inbox", 0, SIPX_INBOX_MAX, &a->inbox);
	load_account_events(cx, g, a);
	return a;
}

struct name_ref {
	const char	*name;
	int		 index;		/* in the accounts list */
	int		 line;
};

static int
name_ref_cmp(const void *x, const void *y)
{
	const struct name_ref *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : a->index - b->index;
}

static void
load_accounts(struct cfgctx *cx, const config_setting_t *root,
    struct sipxd_config *cfg)
{
	config_setting_t *list = get_typed(cx, root, "accounts",
	    CONFIG_TYPE_LIST);
	struct name_ref *refs;
	size_t nrefs = 0;
	int n;

	if (list == NULL)
		return;
	n = config_setting_length(list);
	if (n > SIPX_ACCOUNTS_MAX) {
		cfg_error(cx, list, "%d accounts, more than the limit of %d",
		    n, SIPX_ACCOUNTS_MAX);
		return;
	}
	cfg->accounts = xcalloc((size_t)n + 1, sizeof(*cfg->accounts));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			cfg_error(cx, g, "expected an account group { name = "
			    "…; aor = …; }, got %s",
			    type_name(config_setting_type(g)));
			continue;
		}
		cfg->accounts[cfg->naccounts++] = load_account(cx, g);
	}

	/* Duplicate names: sort references, compare each to its run's first. */
	refs = xcalloc((size_t)n + 1, sizeof(*refs));
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const char *name;

		if (config_setting_type(g) == CONFIG_TYPE_GROUP &&
		    config_setting_lookup_string(g, "name", &name)) {
			refs[nrefs].name = name;
			refs[nrefs].index = i;
			refs[nrefs].line = (int)config_setting_source_line(g);
			nrefs++;
		}
	}
	qsort(refs, nrefs, sizeof(*refs), name_ref_cmp);
	for (size_t i = 1, first = 0; i < nrefs; i++) {
		if (strcmp(refs[i].name, refs[first].name) != 0) {
			first = i;
			continue;
		}
		cfg_error(cx, config_setting_get_member(config_setting_get_elem(
		    list, (unsigned)refs[i].index), "name"), "duplicate "
		    "account name '%s' (first defined at line %d)",
		    refs[i].name, refs[first].line);
	}
	free(refs);
}

/*
 * Secrets readable by other users are a mistake worth saying out loud:
 * others, or a group that is not the daemon's own (a daemon reading its
 * file through its group, root:sipxd 0640, is the intended setup).
 */
static void
check_secret_mode(struct cfgctx *cx, const char *path)
{
	struct stat st;

	if (!cx->secrets || stat(path, &st) == -1)
		return;
	if (st.st_mode & S_IROTH)
		cfg_warning(cx, NULL, "holds passwords but is readable by "
		    "every user (mode %04o); chmod o-r %s",
		    (unsigned)(st.st_mode & 07777), path);
	else if ((st.st_mode & S_IRGRP) && st.st_gid != getegid())
		cfg_warning(cx, NULL, "holds passwords but is readable by "
		    "group %ld (mode %04o), which sipxd does not run as; "
		    "chmod g-r %s", (long)st.st_gid,
		    (unsigned)(st.st_mode & 07777), path);
}

int
config_load(const char *path, struct sipxd_config **out,
    struct config_msgs *msgs)
{
	static const char *const known[] = { "sipxd", "control", "log",
	    "media", "calls", "network", "subscriptions",
	    "accounts", NULL };
	struct sipxd_config *cfg;
	struct cfgctx cx = { path, msgs, false };
	config_t lc;
	struct stat st;
	FILE *fp;
	char *dir, *slash;

	*out = NULL;
	/* libconfig only says "file I/O error": open it ourselves first. */
	if ((fp = fopen(path, "r")) == NULL) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s:0: cannot open: %s", path,
		    strerror(errno));
		msgs_push(&msgs->errors, &msgs->nerrors, strbuf_detach(&sb));
		return EINVAL;
	}
	/* libconfig's scanner exits the process on a directory. */
	if (fstat(fileno(fp), &st) == 0 && !S_ISREG(st.st_mode)) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s:0: cannot open: %s", path,
		    S_ISDIR(st.st_mode) ? "Is a directory" :
		    "not a regular file");
		msgs_push(&msgs->errors, &msgs->nerrors, strbuf_detach(&sb));
		fclose(fp);
		return EINVAL;
	}
	config_init(&lc);
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		config_set_include_dir(&lc, dir[0] ? dir : "/");
	}
	if (!config_read(&lc, fp)) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "%s:%d: %s", config_error_file(&lc) ?
		    config_error_file(&lc) : path, config_error_line(&lc),
		    config_error_text(&lc));
		msgs_push(&msgs->errors, &msgs->nerrors, strbuf_detach(&sb));
		fclose(fp);
		config_destroy(&lc);
		free(dir);
		return EINVAL;
	}
	fclose(fp);
	free(dir);

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->file = xstrdup(path);
	check_known(&cx, config_root_setting(&lc), known);
	load_sipxd(&cx, config_root_setting(&lc), cfg);
	load_control(&cx, config_root_setting(&lc), cfg);
	load_log(&cx, config_root_setting(&lc), cfg);
	load_media(&cx, config_root_setting(&lc), cfg);
	load_calls(&cx, config_root_setting(&lc), cfg);
	load_network(&cx, config_root_setting(&lc), cfg);
	load_subscriptions(&cx, config_root_setting(&lc), cfg);
	load_accounts(&cx, config_root_setting(&lc), cfg);
	check_secret_mode(&cx, path);
	config_destroy(&lc);

	if (msgs->nerrors > 0) {
		config_free(cfg);
		return EINVAL;
	}
	*out = cfg;
	return 0;
}

struct account_cfg **
config_take_accounts(struct sipxd_config *cfg, size_t *n)
{
	struct account_cfg **a = cfg->accounts;

	if (a == NULL)
		a = xcalloc(1, sizeof(*a));
	*n = cfg->naccounts;
	cfg->accounts = NULL;
	cfg->naccounts = 0;
	return a;
}

void
config_free(struct sipxd_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->file);
	for (size_t i = 0; i < cfg->nlisten; i++) {
		free(cfg->listen[i].address);
		free(cfg->listen[i].certificate);
		free(cfg->listen[i].key);
		free(cfg->listen[i].ca_file);
	}
	free(cfg->listen);
	free(cfg->user_agent);
	for (size_t i = 0; i < cfg->ndns_servers; i++)
		free(cfg->dns_servers[i]);
	free(cfg->dns_servers);
	free(cfg->tls_ca_file);
	free(cfg->tls_ca_dir);
	free(cfg->media_address);
	free(cfg->control.path);
	free(cfg->control.group);
	free(cfg->control.readonly_path);
	free(cfg->control.allow_uids);
	free(cfg->control.allow_gids);
	for (size_t i = 0; i < cfg->naccounts; i++)
		account_cfg_free(cfg->accounts[i]);
	free(cfg->accounts);
	free(cfg);
}

void
config_msgs_warn(struct config_msgs *m, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	msgs_push(&m->warnings, &m->nwarnings, strbuf_detach(&sb));
}

void
config_msgs_free(struct config_msgs *m)
{
	for (size_t i = 0; i < m->nerrors; i++)
		free(m->errors[i]);
	for (size_t i = 0; i < m->nwarnings; i++)
		free(m->warnings[i]);
	free(m->errors);
	free(m->warnings);
	memset(m, 0, sizeof(*m));
}
