/*
 * Config loader and account set.  config_load() is driven by tables of
 * config texts: each text is written to a temporary file and loaded, and
 * the case says how many errors (and warnings) it gives and which
 * "file:line: key.path: message" lines must be among them.  The line is
 * never written down as a number: the text carries a mark ("#<" in a
 * comment) on the line the message must name, so editing a case cannot
 * leave a stale line number behind.  Then the good paths (defaults, the
 * shipped etc/sipxd.conf, explicit values, the secrets warning), and the
 * reload diff of account_set_apply().
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "media/rtp.h"
#include "ua/account.h"
#include "ua/events.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Long strings for the length limits, built at compile time. */
#define S10	"xxxxxxxxxx"
#define S100	S10 S10 S10 S10 S10 S10 S10 S10 S10 S10
#define S1000	S100 S100 S100 S100 S100 S100 S100 S100 S100 S100
#define NAME64	S10 S10 S10 S10 S10 S10 "xxxx"
#define NAME65	NAME64 "x"
#define PATH107	"/" S100 "xxxxxx"		/* 107 bytes: fits sun_path */
#define PATH108	PATH107 "x"
#define STR1024	S1000 S10 S10 "xxxx"
#define STR1025	STR1024 "x"

#define HEX32	"0123456789abcdef0123456789abcdef"
#define HEX64	HEX32 HEX32

/* An account to put one bad key into: ACCOUNT_HEAD "  key;  #<\n" … */
#define ACCOUNT_HEAD \
	"accounts = (\n" \
	"  { name = \"alice\";\n" \
	"    aor = \"sip:alice@example.com\";\n"
#define ACCOUNT_TAIL \
	"  }\n" \
	");\n"
#define ACCOUNT(body)	ACCOUNT_HEAD body ACCOUNT_TAIL

/* ---- helpers ------------------------------------------------------------ */

/* One load of a config text written to a temporary file. */
struct load {
	char			*path;
	int			 rc;
	struct sipxd_config	*cfg;
	struct config_msgs	 msgs;
};

static char *
temp_path(const char *suffix)
{
	const char *dir = getenv("TMPDIR");
	struct strbuf sb = STRBUF_INIT;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	strbuf_addf(&sb, "%s/test_config.%sXXXXXX", dir, suffix);
	return strbuf_detach(&sb);
}

static char *
temp_write(const char *text, mode_t mode)
{
	char *path = temp_path("");
	size_t len = strlen(text), off = 0;
	int fd;

	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp %s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		ck_assert_msg(w > 0, "write %s: %s", path, strerror(errno));
		off += (size_t)w;
	}
	/* fchmod, not the umask: the secrets warning depends on it */
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/* rc, cfg and errors must agree whatever the case. */
static void
load_check_contract(const struct load *ld)
{
	if (ld->rc == 0) {
		ck_assert_ptr_nonnull(ld->cfg);
		ck_assert_uint_eq(ld->msgs.nerrors, 0);
	} else {
		ck_assert_int_eq(ld->rc, EINVAL);
		ck_assert_ptr_null(ld->cfg);
		ck_assert_uint_ge(ld->msgs.nerrors, 1);
	}
}

static void
load_path(struct load *ld, const char *path)
{
	ld->path = xstrdup(path);
	memset(&ld->msgs, 0, sizeof(ld->msgs));
	/* poison: config_load() must set *out either way */
	ld->cfg = (struct sipxd_config *)&ld->cfg;
	ld->rc = config_load(ld->path, &ld->cfg, &ld->msgs);
	load_check_contract(ld);
}

static void
load_text(struct load *ld, const char *text, mode_t mode)
{
	char *path = temp_write(text, mode);

	load_path(ld, path);
	unlink(path);
	free(path);
}

static void
load_free(struct load *ld)
{
	config_free(ld->cfg);
	config_msgs_free(&ld->msgs);
	free(ld->path);
	memset(ld, 0, sizeof(*ld));
}

/* Every message, one per line, for assertion failures. */
static char *
msgs_dump(const struct config_msgs *m)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < m->nerrors; i++)
		strbuf_addf(&sb, "  error: %s\n", m->errors[i]);
	for (size_t i = 0; i < m->nwarnings; i++)
		strbuf_addf(&sb, "  warning: %s\n", m->warnings[i]);
	if (sb.n == 0)
		strbuf_adds(&sb, "  (none)\n");
	return strbuf_detach(&sb);
}

/*
 * The line (from 1) of the mark in text.  A mark is "#<" plus an optional
 * word; "#<" alone does not match "#<first".
 */
static int
line_of(const char *text, const char *mark)
{
	size_t n = strlen(mark);
	const char *at = text;
	int line = 1;

	while ((at = strstr(at, mark)) != NULL) {
		if (!isalnum((unsigned char)at[n]) && at[n] != '_')
			break;
		at += n;
	}
	ck_assert_msg(at != NULL, "mark \"%s\" is not in the text", mark);
	for (const char *p = text; p < at; p++)
		if (*p == '\n')
			line++;
	return line;
}

static bool
msgs_find(char *const *v, size_t n, const char *prefix, const char *frag)
{
	size_t pl = strlen(prefix);

	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i], prefix, pl) == 0 &&
		    strstr(v[i] + pl, frag) != NULL)
			return true;
	return false;
}

/* ---- error cases -------------------------------------------------------- */

struct expect {
	const char	*mark;		/* line of the message; NULL: "#<" */
	const char	*key;		/* key path, or NULL: none */
	const char	*frag;		/* part of the message after "key: " */
	const char	*first;		/* if set: frag goes on with "N)", N the
					   line of this mark */
	bool		 warning;	/* a warning, not an error */
};

struct diag_case {
	const char	*name;
	const char	*text;
	size_t		 nerrors;
	size_t		 nwarnings;
	struct expect	 e[10];
};

static const struct diag_case diag_cases[] = {
	/* syntax, from libconfig */
	{ "syntax: missing value",
	    "log = { level = \"info\"; };\n"
	    "sipxd = {\n"
	    "  timers = { t1 = ; };  #<\n"
	    "};\n",
	    1, 0, { { .frag = "syntax error" } } },
	{ "syntax: list elements without a comma",
	    "accounts = (\n"
	    "  { name = \"a\"; aor = \"sip:a@example.com\"; }\n"
	    "  { name = \"b\"; aor = \"sip:b@example.com\"; }  #<\n"
	    ");\n",
	    1, 0, { { .frag = "syntax error" } } },
	{ "syntax: a key given twice",
	    "log = {\n"
	    "  level = \"info\";\n"
	    "  level = \"debug\";  #<\n"
	    "};\n",
	    1, 0, { { .frag = "duplicate setting name" } } },
	{ "syntax: include of a missing file",
	    "log = { level = \"info\"; };\n"
	    "@include \"test_config-no-such-file.conf\"  #<\n",
	    1, 0, { { .frag = "cannot open include file" } } },

	/* unknown keys, at every level */
	{ "unknown key at top level",
	    "log = { level = \"info\"; };\n"
	    "bogus = 1;  #<\n",
	    1, 0, { { .key = "bogus", .frag = "unknown key" } } },
	{ "unknown key in sipxd",
	    "sipxd = {\n"
	    "  user_agent = \"x\";\n"
	    "  listen_on = \"127.0.0.1:5060\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.listen_on", .frag = "unknown key" } } },
	{ "unknown key in sipxd.timers",
	    "sipxd = {\n"
	    "  timers = { t1 = 500;\n"
	    "    t3 = 100; };  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.timers.t3", .frag = "unknown key" } } },
	{ "unknown_user not a choice",
	    "sipxd = {\n"
	    "  unknown_user = \"drop\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.unknown_user",
	    .frag = "'drop' is not one of answer, 404" } } },
	{ "sipxd.tcp: a timeout out of range",
	    "sipxd = {\n"
	    "  tcp = {\n"
	    "    message_timeout = -1;  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.tcp.message_timeout",
	    .frag = "-1 is out of range (0..3600)" } } },
	{ "sipxd.tcp: no handshake timeout at all is refused",
	    "sipxd = {\n"
	    "  tcp = {\n"
	    "    tls_handshake_timeout = 0;  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.tcp.tls_handshake_timeout",
	    .frag = "0 is out of range (1..600)" } } },
	{ "sipxd.tcp: unknown key",
	    "sipxd = {\n"
	    "  tcp = {\n"
	    "    idle = 5;  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.tcp.idle", .frag = "unknown key" } } },
	{ "sipxd.tcp: message_timeout above idle_timeout is a warning",
	    "sipxd = {\n"
	    "  tcp = {  #<\n"
	    "    idle_timeout = 30; message_timeout = 60;\n"
	    "  };\n"
	    "};\n",
	    0, 1, { { .key = "sipxd.tcp",
	    .frag = "message_timeout (60 s) above idle_timeout (30 s) has "
	    "no effect", .warning = true } } },
	{ "tls CA file that cannot be read",
	    "sipxd = {\n"
	    "  tls = {\n"
	    "    ca_file = \"/nonexistent/ca.pem\";  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.tls.ca_file",
	    .frag = "cannot read '/nonexistent/ca.pem'" } } },
	{ "unknown key in sipxd.tls",
	    "sipxd = {\n"
	    "  tls = {\n"
	    "    cafile = \"/x\";  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.tls.cafile", .frag = "unknown key" } } },
	{ "unknown key in sipxd.dns",
	    "sipxd = {\n"
	    "  dns = {\n"
	    "    server = [ \"192.0.2.53\" ];  #<\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.dns.server", .frag = "unknown key" } } },
	{ "unknown key in control",
	    "control = {\n"
	    "  path = \"/run/x.sock\";\n"
	    "  socket = \"/run/y.sock\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.socket", .frag = "unknown key" } } },
	{ "unknown key in log",
	    "log = {\n"
	    "  lvl = \"debug\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "log.lvl", .frag = "unknown key" } } },
	{ "unknown key in an account",
	    ACCOUNT("    passwd = \"secret\";  #<\n"),
	    1, 0, { { .key = "accounts[0].passwd", .frag = "unknown key" } } },
	{ "unknown key in an account's retry",
	    "accounts = (\n"
	    "  { name = \"alice\"; aor = \"sip:alice@example.com\"; },\n"
	    "  { name = \"bob\"; aor = \"sip:bob@example.com\";\n"
	    "    retry = { base = 10;\n"
	    "      bse = 20; };  #<\n"
	    "  }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[1].retry.bse",
	    .frag = "unknown key" } } },
	{ "unknown key in a listen entry",
	    "sipxd = {\n"
	    "  listen = (\n"
	    "    { transport = \"udp\"; address = \"127.0.0.1:5060\"; },\n"
	    "    { transport = \"tcp\"; address = \"127.0.0.1:5060\";\n"
	    "      port = 5060; } );  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.listen[1].port",
	    .frag = "unknown key" } } },

	/* wrong types */
	{ "type: string where an integer is wanted",
	    "sipxd = { timers = {\n"
	    "  t1 = \"500\";  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.timers.t1",
	    .frag = "expected an integer, got a string" } } },
	{ "type: fraction where an integer is wanted",
	    "sipxd = { timers = {\n"
	    "  t2 = 4000.0;  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.timers.t2",
	    .frag = "expected an integer, got a number with a fraction" } } },
	{ "type: boolean where an integer is wanted",
	    ACCOUNT("    expires = true;  #<\n"),
	    1, 0, { { .key = "accounts[0].expires",
	    .frag = "expected an integer, got a boolean" } } },
	{ "type: integer where a string is wanted",
	    "sipxd = {\n"
	    "  user_agent = 5;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.user_agent",
	    .frag = "expected a string, got an integer" } } },
	{ "type: string where a boolean is wanted",
	    ACCOUNT("    register = \"yes\";  #<\n"),
	    1, 0, { { .key = "accounts[0].register",
	    .frag = "expected a boolean, got a string" } } },
	{ "type: list where an array is wanted",
	    ACCOUNT("    codecs = ( \"PCMU\" );  #<\n"),
	    1, 0, { { .key = "accounts[0].codecs",
	    .frag = "expected an array [ ], got a list ( )" } } },
	{ "type: array where a list is wanted (accounts)",
	    "accounts = [ \"alice\" ];  #<\n",
	    1, 0, { { .key = "accounts",
	    .frag = "expected a list ( ), got an array [ ]" } } },
	{ "type: group where a list is wanted (listen)",
	    "sipxd = {\n"
	    "  listen = { transport = \"udp\";  #<\n"
	    "    address = \"127.0.0.1:5060\"; };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.listen",
	    .frag = "expected a list ( ), got a group" } } },
	{ "type: integer where a group is wanted",
	    "sipxd = {\n"
	    "  timers = 500;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.timers",
	    .frag = "expected a group, got an integer" } } },
	{ "type: string where a top-level group is wanted",
	    "log = \"debug\";  #<\n",
	    1, 0, { { .key = "log",
	    .frag = "expected a group, got a string" } } },
	{ "type: integer where the account's retry group is wanted",
	    ACCOUNT("    retry = 30;  #<\n"),
	    1, 0, { { .key = "accounts[0].retry",
	    .frag = "expected a group, got an integer" } } },
	{ "type: listen entry that is not a group",
	    "sipxd = {\n"
	    "  listen = ( \"127.0.0.1:5060\" );  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.listen[0]",
	    .frag = "expected a group { transport = …; address = …; }, got a "
	    "string" } } },
	/* libconfig gives a scalar list element the line of the token after
	   it: keep that token on the same line */
	{ "type: account that is not a group",
	    "accounts = (\n"
	    "  { name = \"alice\"; aor = \"sip:alice@example.com\"; },\n"
	    "  \"bob\" );  #<\n",
	    1, 0, { { .key = "accounts[1]",
	    .frag = "expected an account group { name = …; aor = …; }, got a "
	    "string" } } },
	{ "type: dns server that is not a string",
	    "sipxd = { dns = {\n"
	    "  servers = [ 53 ];  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.dns.servers[0]",
	    .frag = "expected a string" } } },
	{ "type: codec that is not a string",
	    ACCOUNT("    codecs = [ 0 ];  #<\n"),
	    1, 0, { { .key = "accounts[0].codecs[0]",
	    .frag = "expected a string" } } },
	{ "type: allow_users entry that is not a string",
	    "control = {\n"
	    "  allow_users = [ 1000 ];  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.allow_users[0]",
	    .frag = "expected a string" } } },
	{ "string longer than the limit",
	    "sipxd = {\n"
	    "  user_agent = \"" STR1025 "\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.user_agent",
	    .frag = "longer than 1024 bytes" } } },

	/* ranges */
	{ "range: t1 0",
	    "sipxd = { timers = {\n"
	    "  t1 = 0;  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.timers.t1",
	    .frag = "0 is out of range (1..60000)" } } },
	{ "range: t1 60001",
	    "sipxd = { timers = { t2 = 600000;\n"
	    "  t1 = 60001;  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.timers.t1",
	    .frag = "60001 is out of range (1..60000)" } } },
	{ "range: t4 beyond 32 bits",
	    "sipxd = { timers = {\n"
	    "  t4 = 5000000000L;  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.timers.t4",
	    .frag = "5000000000 is out of range (1..600000)" } } },
	{ "range: register_spread -1",
	    "sipxd = {\n"
	    "  register_spread = -1;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.register_spread",
	    .frag = "-1 is out of range (0..3600000)" } } },
	{ "range: failover_timeout -1",
	    "sipxd = {\n"
	    "  failover_timeout = -1;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.failover_timeout",
	    .frag = "-1 is out of range (0..600000)" } } },
	{ "range: blocklist_ttl a day and a second",
	    "sipxd = {\n"
	    "  blocklist_ttl = 86401;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.blocklist_ttl",
	    .frag = "86401 is out of range (0..86400)" } } },
	{ "value: user_agent with a line break",
	    "sipxd = {\n"
	    "  user_agent = \"sipxd\\r\\nX-Injected: 1\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.user_agent",
	    .frag = "control characters are not allowed" } } },
	{ "range: max_transactions 9",
	    "sipxd = {\n"
	    "  max_transactions = 9;  #<\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.max_transactions",
	    .frag = "9 is out of range (10..10000000)" } } },
	{ "range: max_clients 0",
	    "control = {\n"
	    "  max_clients = 0;  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.max_clients",
	    .frag = "0 is out of range (1..4096)" } } },
	{ "range: max_clients 5000",
	    "control = {\n"
	    "  max_clients = 5000;  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.max_clients",
	    .frag = "5000 is out of range (1..4096)" } } },
	{ "range: output_limit too small",
	    "control = {\n"
	    "  output_limit = 65535;  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.output_limit",
	    .frag = "65535 is out of range (65536..67108864)" } } },
	{ "range: output_limit too large",
	    "control = {\n"
	    "  output_limit = 67108865;  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.output_limit",
	    .frag = "67108865 is out of range (65536..67108864)" } } },
	{ "range: expires 5",
	    ACCOUNT("    expires = 5;  #<\n"),
	    1, 0, { { .key = "accounts[0].expires",
	    .frag = "5 is out of range (10..604800)" } } },
	{ "range: retry base 0",
	    ACCOUNT("    retry = {\n"
	    "      base = 0;  #<\n"
	    "    };\n"),
	    1, 0, { { .key = "accounts[0].retry.base",
	    .frag = "0 is out of range (1..86400)" } } },
	{ "range: retry fatal 86401",
	    ACCOUNT("    retry = { fatal = 86401; };  #<\n"),
	    1, 0, { { .key = "accounts[0].retry.fatal",
	    .frag = "86401 is out of range (1..86400)" } } },

	/* combinations */
	{ "t2 below t1",
	    "sipxd = {\n"
	    "  timers = {  #<\n"
	    "    t1 = 1000;\n"
	    "    t2 = 500;\n"
	    "  };\n"
	    "};\n",
	    1, 0, { { .key = "sipxd.timers",
	    .frag = "t2 (500 ms) must not be below t1 (1000 ms)" } } },
	{ "retry max below base",
	    ACCOUNT("    retry = { base = 60;  #<\n"
	    "      max = 10; };\n"),
	    1, 0, { { .key = "accounts[0].retry",
	    .frag = "max (10 s) must not be below base (60 s)" } } },

	{ "qualify timeout not below interval",
	    ACCOUNT("    qualify = { interval = 2;  #<\n"
	    "      timeout = 2000; };\n"),
	    1, 0, { { .key = "accounts[0].qualify",
	    .frag = "timeout (2000 ms) must be below interval (2 s)" } } },
	{ "range: qualify down 0",
	    ACCOUNT("    qualify = { interval = 30; down = 0; };  #<\n"),
	    1, 0, { { .key = "accounts[0].qualify.down",
	    .frag = "0 is out of range (1..100)" } } },
	{ "range: qualify timeout 50",
	    ACCOUNT("    qualify = { interval = 30; timeout = 50; };  #<\n"),
	    1, 0, { { .key = "accounts[0].qualify.timeout",
	    .frag = "50 is out of range (100..60000)" } } },
	{ "unknown key in an account's qualify",
	    ACCOUNT("    qualify = { interval = 30; retries = 3; };  #<\n"),
	    1, 0, { { .key = "accounts[0].qualify.retries",
	    .frag = "unknown key" } } },
	{ "range: sipxd.tcp.pong_timeout 601",
	    "sipxd = { tcp = {\n"
	    "  pong_timeout = 601;  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.tcp.pong_timeout",
	    .frag = "601 is out of range (0..600)" } } },

	/* listeners */
	{ "listen: address without a port",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"127.0.0.1\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'127.0.0.1' is not IP:PORT (IPv6 as [ADDR]:PORT, port "
	    "1..65535)" } } },
	{ "listen: bad IPv6 address",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"[::g]:5060\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'[::g]:5060' is not IP:PORT" } } },
	{ "listen: IPv6 address without brackets",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"::1:5060\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'::1:5060' is not IP:PORT" } } },
	{ "listen: IPv6 address without a port",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"[::1]\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'[::1]' is not IP:PORT" } } },
	{ "listen: port 70000",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"127.0.0.1:70000\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'127.0.0.1:70000' is not IP:PORT" } } },
	{ "listen: port 0",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"127.0.0.1:0\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'127.0.0.1:0' is not IP:PORT" } } },
	{ "listen: host name instead of an address",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"localhost:5060\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].address",
	    .frag = "'localhost:5060' is not IP:PORT" } } },
	{ "listen: tls without certificate and key",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"127.0.0.1:5060\"; },\n"
	    "  { transport = \"tls\"; address = \"127.0.0.1:5061\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[1]",
	    .frag = "tls needs 'certificate' and 'key'" } } },
	{ "listen: tls with a certificate but no key",
	    "sipxd = { listen = (\n"
	    "  { transport = \"tls\"; address = \"127.0.0.1:5061\";  #<\n"
	    "    certificate = \"/etc/passwd\"; }\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0]",
	    .frag = "tls needs 'certificate' and 'key'" } } },
	{ "listen: certificate on a udp listener",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"127.0.0.1:5060\";  #<\n"
	    "    ca_file = \"/etc/passwd\"; }\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0]",
	    .frag = "certificate, key and ca_file only apply to transport "
	    "\"tls\"" } } },
	{ "listen: missing transport",
	    "sipxd = { listen = (\n"
	    "  { address = \"127.0.0.1:5060\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0]",
	    .frag = "missing required key 'transport'" } } },
	{ "listen: missing address",
	    "sipxd = { listen = (\n"
	    "  { transport = \"tcp\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0]",
	    .frag = "missing required key 'address'" } } },
	{ "listen: unknown transport",
	    "sipxd = { listen = (\n"
	    "  { transport = \"sctp\"; address = \"127.0.0.1:5060\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].transport",
	    .frag = "'sctp' is not one of udp, tcp, tls" } } },
	/* WebSocket is for accounts only: sipxd is never its server. */
	{ "listen: ws is not a listener",
	    "sipxd = { listen = (\n"
	    "  { transport = \"ws\"; address = \"127.0.0.1:8080\"; }  #<\n"
	    "); };\n",
	    1, 0, { { .key = "sipxd.listen[0].transport",
	    .frag = "'ws' is not one of udp, tcp, tls" } } },
	{ "listen: empty list is a warning",
	    "sipxd = {\n"
	    "  listen = ( );  #<\n"
	    "};\n",
	    0, 1, { { .key = "sipxd.listen",
	    .frag = "empty: sipxd will not hear any SIP",
	    .warning = true } } },

	/* dns */
	{ "dns: host name",
	    "sipxd = { dns = { servers = [ \"192.0.2.53\",\n"
	    "  \"dns.example.com\" ]; }; };  #<\n",
	    1, 0, { { .key = "sipxd.dns.servers[1]",
	    .frag = "'dns.example.com' is not an IP address with an optional "
	    ":PORT" } } },
	{ "dns: port 0",
	    "sipxd = { dns = {\n"
	    "  servers = [ \"192.0.2.53:0\" ];  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.dns.servers[0]",
	    .frag = "'192.0.2.53:0' is not an IP address" } } },
	{ "dns: bad IPv6",
	    "sipxd = { dns = {\n"
	    "  servers = [ \"[2001:db8::zz]:53\" ];  #<\n"
	    "}; };\n",
	    1, 0, { { .key = "sipxd.dns.servers[0]",
	    .frag = "'[2001:db8::zz]:53' is not an IP address" } } },

	/* control */
	{ "control: relative path",
	    "control = {\n"
	    "  path = \"run/sipxd/control.sock\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.path",
	    .frag = "'run/sipxd/control.sock' is not an absolute path" } } },
	{ "control: path of 108 bytes",
	    "control = {\n"
	    "  path = \"" PATH108 "\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.path",
	    .frag = "longer than 107 bytes, the limit of a UNIX socket "
	    "path" } } },
	{ "control: relative readonly_path",
	    "control = {\n"
	    "  readonly_path = \"monitor.sock\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.readonly_path",
	    .frag = "'monitor.sock' is not an absolute path" } } },
	{ "control: readonly_path same as path",
	    "control = {\n"
	    "  path = \"/run/sipxd/a.sock\";\n"
	    "  readonly_path = \"/run/sipxd/a.sock\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.readonly_path",
	    .frag = "the same as path" } } },
	{ "control: readonly_path same as the default path",
	    "control = {\n"
	    "  readonly_path = \"" CONFIG_DEFAULT_SOCKET "\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.readonly_path",
	    .frag = "the same as path" } } },
	{ "control: mode 0999",
	    "control = {\n"
	    "  mode = \"0999\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.mode",
	    .frag = "'0999' is not an octal mode such as \"0660\"" } } },
	{ "control: mode rw",
	    "control = {\n"
	    "  mode = \"rw\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.mode",
	    .frag = "'rw' is not an octal mode" } } },
	{ "control: mode with the sticky bit",
	    "control = {\n"
	    "  mode = \"1777\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.mode",
	    .frag = "'1777' is not an octal mode" } } },
	{ "control: readonly_mode of five digits",
	    "control = {\n"
	    "  readonly_mode = \"00666\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.readonly_mode",
	    .frag = "'00666' is not an octal mode" } } },
	{ "control: mode as an integer",
	    "control = {\n"
	    "  mode = 660;  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.mode",
	    .frag = "expected a string, got an integer" } } },
	{ "control: unknown group",
	    "control = {\n"
	    "  group = \"sipxd-test-no-such-group\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.group",
	    .frag = "no such group 'sipxd-test-no-such-group'" } } },
	{ "control: unknown user in allow_users",
	    "control = {\n"
	    "  allow_users = [ \"root\",\n"
	    "    \"sipxd-test-no-such-user\" ];  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.allow_users[1]",
	    .frag = "no such user 'sipxd-test-no-such-user'" } } },
	{ "control: unknown group in allow_groups",
	    "control = {\n"
	    "  allow_groups = [ \"sipxd-test-no-such-group\" ];  #<\n"
	    "};\n",
	    1, 0, { { .key = "control.allow_groups[0]",
	    .frag = "no such group 'sipxd-test-no-such-group'" } } },

	/* log */
	{ "log: level that is not a level",
	    "log = {\n"
	    "  level = \"verbose\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "log.level",
	    .frag = "'verbose' is not one of error, warning, notice, info, "
	    "debug" } } },

	/* accounts */
	{ "account: missing name",
	    "accounts = (\n"
	    "  { name = \"alice\"; aor = \"sip:alice@example.com\"; },\n"
	    "  {  #<\n"
	    "    aor = \"sip:bob@example.com\";\n"
	    "  }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[1]",
	    .frag = "missing required key 'name'" } } },
	{ "account: missing aor",
	    "accounts = (\n"
	    "  { name = \"alice\";  #<\n"
	    "    password = \"x\"; }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0]",
	    .frag = "missing required key 'aor'" } } },
	{ "account: name with a space",
	    "accounts = (\n"
	    "  { name = \"my account\";  #<\n"
	    "    aor = \"sip:alice@example.com\"; }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].name",
	    .frag = "'my account' is not a valid account name "
	    "(1..64 of A-Z a-z 0-9 _ . -)" } } },
	{ "account: name of 65 characters",
	    "accounts = (\n"
	    "  { name = \"" NAME65 "\";  #<\n"
	    "    aor = \"sip:alice@example.com\"; }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].name",
	    .frag = "'" NAME65 "' is not a valid account name" } } },
	{ "account: empty name",
	    "accounts = (\n"
	    "  { name = \"\";  #<\n"
	    "    aor = \"sip:alice@example.com\"; }\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].name",
	    .frag = "'' is not a valid account name" } } },
	{ "account: aor that is not sip:",
	    "accounts = (\n"
	    "  { name = \"alice\";\n"
	    "    aor = \"tel:+15551234567\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].aor",
	    .frag = "'tel:+15551234567' is not a sip: or sips: URI of the form "
	    "sip:user@domain" } } },
	{ "account: aor without a user",
	    "accounts = (\n"
	    "  { name = \"alice\";\n"
	    "    aor = \"sip:example.com\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].aor",
	    .frag = "'sip:example.com' is not a sip: or sips: URI" } } },
	{ "account: aor with an empty user",
	    "accounts = (\n"
	    "  { name = \"alice\";\n"
	    "    aor = \"sip:@example.com\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].aor",
	    .frag = "'sip:@example.com' is not a sip: or sips: URI" } } },
	{ "account: aor without a host",
	    "accounts = (\n"
	    "  { name = \"alice\";\n"
	    "    aor = \"sip:alice@\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].aor",
	    .frag = "'sip:alice@' is not a sip: or sips: URI" } } },
	{ "account: bad registrar",
	    ACCOUNT("    registrar = \"http://example.com\";  #<\n"),
	    1, 0, { { .key = "accounts[0].registrar",
	    .frag = "'http://example.com' is not a sip: or sips: URI" } } },
	{ "account: registrar with a space",
	    ACCOUNT("    registrar = \"sip:reg example.com\";  #<\n"),
	    1, 0, { { .key = "accounts[0].registrar",
	    .frag = "'sip:reg example.com' is not a sip: or sips: URI" } } },
	{ "account: bad outbound_proxy",
	    ACCOUNT("    outbound_proxy = \"sip:\";  #<\n"),
	    1, 0, { { .key = "accounts[0].outbound_proxy",
	    .frag = "'sip:' is not a sip: or sips: URI" } } },
	{ "account: password and ha1",
	    ACCOUNT("    password = \"secret\";  #<\n"
	    "    ha1 = \"" HEX32 "\";\n"),
	    1, 0, { { .key = "accounts[0].password",
	    .frag = "give either password or ha1, not both" } } },
	{ "account: ha1 of 31 hex digits",
	    ACCOUNT("    ha1 = \"0123456789abcdef0123456789abcde\";  #<\n"),
	    1, 0, { { .key = "accounts[0].ha1",
	    .frag = "must be 32 (MD5) or 64 (SHA-256) hex digits" } } },
	{ "account: ha1 with a non-hex digit",
	    ACCOUNT("    ha1 = \"0123456789abcdef0123456789abcdeg\";  #<\n"),
	    1, 0, { { .key = "accounts[0].ha1",
	    .frag = "must be 32 (MD5) or 64 (SHA-256) hex digits" } } },
	{ "account: unknown transport",
	    ACCOUNT("    transport = \"sctp\";  #<\n"),
	    1, 0, { { .key = "accounts[0].transport",
	    .frag = "'sctp' is not one of udp, tcp, tls, ws, wss" } } },
	{ "account: unknown incoming",
	    ACCOUNT("    incoming = \"voicemail\";  #<\n"),
	    1, 0, { { .key = "accounts[0].incoming",
	    .frag = "'voicemail' is not one of answer, ring, reject" } } },
	{ "account: unknown codec",
	    ACCOUNT("    codecs = [ \"PCMU\",\n"
	    "      \"G711\" ];  #<\n"),
	    1, 0, { { .key = "accounts[0].codecs[1]",
	    .frag = "unknown codec 'G711' (known: PCMU, PCMA, G722, G729, GSM, "
	    "iLBC, "
	    "L16, opus, telephone-event)" } } },
	{ "account: codec listed twice (case aside)",
	    ACCOUNT("    codecs = [ \"PCMU\", \"PCMA\",\n"
	    "      \"pcmu\" ];  #<\n"),
	    1, 0, { { .key = "accounts[0].codecs[2]",
	    .frag = "codec 'PCMU' listed twice" } } },
	{ "account: empty codecs",
	    ACCOUNT("    codecs = [ ];  #<\n"),
	    1, 0, { { .key = "accounts[0].codecs",
	    .frag = "needs at least one codec" } } },
	{ "account: duplicate name",
	    "accounts = (\n"
	    "  { name = \"alice\";  #<first\n"
	    "    aor = \"sip:alice@example.com\"; },\n"
	    "  { name = \"bob\"; aor = \"sip:bob@example.com\"; },\n"
	    "  { aor = \"sip:alice@example.org\";\n"
	    "    name = \"alice\"; }  #<dup\n"
	    ");\n",
	    1, 0, { { .mark = "#<dup", .key = "accounts[2].name",
	    .frag = "duplicate account name 'alice' (first defined at line ",
	    .first = "#<first" } } },

	{ "account: a third duplicate names the first, not the second",
	    "accounts = (\n"
	    "  { name = \"alice\"; aor = \"sip:a@example.com\"; },  #<first\n"
	    "  { name = \"alice\"; aor = \"sip:b@example.com\"; },  #<second\n"
	    "  { name = \"alice\"; aor = \"sip:c@example.com\"; }  #<third\n"
	    ");\n",
	    2, 0, {
		{ .mark = "#<second", .key = "accounts[1].name",
		    .frag = "duplicate account name 'alice' (first defined "
		    "at line ", .first = "#<first" },
		{ .mark = "#<third", .key = "accounts[2].name",
		    .frag = "duplicate account name 'alice' (first defined "
		    "at line ", .first = "#<first" } } },
	{ "account: duplicates on one line blame the second",
	    "accounts = (\n"
	    "  { name = \"x\"; aor = \"sip:x@h\"; }, { name = \"x\"; "
	    "aor = \"sip:y@h\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[1].name",
	    .frag = "duplicate account name 'x'" } } },
	{ "account: aor with a port but no host",
	    "accounts = (\n"
	    "  { name = \"alice\";\n"
	    "    aor = \"sip:alice@:5060\"; }  #<\n"
	    ");\n",
	    1, 0, { { .key = "accounts[0].aor",
	    .frag = "'sip:alice@:5060' is not a sip: or sips: URI" } } },
	{ "a bad t1 does not also blame t2",
	    "sipxd = { timers = {\n"
	    "  t1 = 0;  #<\n"
	    "  t2 = 100; }; };\n",
	    1, 0, { { .key = "sipxd.timers.t1", .frag = "0 is out of range" } } },

	/* accounts: the call keys */
	{ "call: unknown key next to the call keys",
	    ACCOUNT("    ring_timeout = 30;\n"
	    "    ringtimeout = 30;  #<\n"),
	    1, 0, { { .key = "accounts[0].ringtimeout",
	    .frag = "unknown key" } } },
	{ "call: ring_timeout 0",
	    ACCOUNT("    ring_timeout = 0;  #<\n"),
	    1, 0, { { .key = "accounts[0].ring_timeout",
	    .frag = "0 is out of range (1..3600)" } } },
	{ "call: ring_timeout an hour and a second",
	    ACCOUNT("    ring_timeout = 3601;  #<\n"),
	    1, 0, { { .key = "accounts[0].ring_timeout",
	    .frag = "3601 is out of range (1..3600)" } } },
	{ "call: ring_timeout as a string",
	    ACCOUNT("    ring_timeout = \"60\";  #<\n"),
	    1, 0, { { .key = "accounts[0].ring_timeout",
	    .frag = "expected an integer, got a string" } } },
	{ "call: reject_code 399",
	    ACCOUNT("    reject_code = 399;  #<\n"),
	    1, 0, { { .key = "accounts[0].reject_code",
	    .frag = "399 is out of range (400..699)" } } },
	{ "call: reject_code 700",
	    ACCOUNT("    reject_code = 700;  #<\n"),
	    1, 0, { { .key = "accounts[0].reject_code",
	    .frag = "700 is out of range (400..699)" } } },
	{ "call: reject_code 200",
	    ACCOUNT("    incoming = \"reject\";\n"
	    "    reject_code = 200;  #<\n"),
	    1, 0, { { .key = "accounts[0].reject_code",
	    .frag = "200 is out of range (400..699)" } } },
	{ "call: call_timeout 0",
	    ACCOUNT("    call_timeout = 0;  #<\n"),
	    1, 0, { { .key = "accounts[0].call_timeout",
	    .frag = "0 is out of range (1..86400)" } } },
	{ "call: call_timeout a day and a second",
	    ACCOUNT("    call_timeout = 86401;  #<\n"),
	    1, 0, { { .key = "accounts[0].call_timeout",
	    .frag = "86401 is out of range (1..86400)" } } },
	{ "call: sdp not a choice",
	    ACCOUNT("    sdp = \"delayed\";  #<\n"),
	    1, 0, { { .key = "accounts[0].sdp",
	    .frag = "'delayed' is not one of early, late" } } },
	{ "call: sdp as a boolean",
	    ACCOUNT("    sdp = true;  #<\n"),
	    1, 0, { { .key = "accounts[0].sdp",
	    .frag = "expected a string, got a boolean" } } },
	{ "call: session_expires 89, below RFC 4028's floor",
	    ACCOUNT("    session_expires = 89;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "89 is below 90 s, the least session interval RFC 4028 "
	    "allows (0 turns session timers off)" } } },
	{ "call: session_expires 1",
	    ACCOUNT("    session_expires = 1;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "1 is below 90 s" } } },
	{ "call: session_expires -1",
	    ACCOUNT("    session_expires = -1;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "-1 is out of range (0 or 90..86400)" } } },
	{ "call: session_expires a day and a second",
	    ACCOUNT("    session_expires = 86401;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "86401 is out of range (0 or 90..86400)" } } },
	{ "call: session_expires beyond 32 bits",
	    ACCOUNT("    session_expires = 4294967386L;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "4294967386 is out of range (0 or 90..86400)" } } },
	{ "call: session_expires with a fraction",
	    ACCOUNT("    session_expires = 90.5;  #<\n"),
	    1, 0, { { .key = "accounts[0].session_expires",
	    .frag = "expected an integer, got a number with a fraction" } } },
	{ "call: follow_redirects as a string",
	    ACCOUNT("    follow_redirects = \"yes\";  #<\n"),
	    1, 0, { { .key = "accounts[0].follow_redirects",
	    .frag = "expected a boolean, got a string" } } },
	{ "call: refer not a policy",
	    ACCOUNT("    refer = \"yes\";  #<\n"),
	    1, 0, { { .key = "accounts[0].refer",
	    .frag = "'yes' is not one of accept, reject" } } },
	{ "call: media not a mode",
	    ACCOUNT("    media = \"music\";  #<\n"),
	    1, 0, { { .key = "accounts[0].media",
	    .frag = "'music' is not one of none, silence, echo, play" } } },
	{ "call: media as a group",
	    ACCOUNT("    media = { address = \"127.0.0.1\"; };  #<\n"),
	    1, 0, { { .key = "accounts[0].media",
	    .frag = "expected a string, got a group" } } },
	{ "call: media play without play_file",
	    ACCOUNT("    media = \"play\";  #<\n"),
	    1, 0, { { .key = "accounts[0].media",
	    .frag = "\"play\" needs play_file, the WAV file to play" } } },
	{ "call: play_file relative",
	    ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"sounds/prompt.wav\";  #<\n"),
	    1, 0, { { .key = "accounts[0].play_file",
	    .frag = "'sounds/prompt.wav' is not an absolute path" } } },
	{ "call: play_file that does not exist",
	    ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"/nonexistent/prompt.wav\";  #<\n"),
	    1, 0, { { .key = "accounts[0].play_file",
	    .frag = "cannot read '/nonexistent/prompt.wav': No such file or "
	    "directory" } } },
	{ "call: play_file a directory",
	    ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"/etc\";  #<\n"),
	    1, 0, { { .key = "accounts[0].play_file",
	    .frag = "'/etc' is not a regular file" } } },
	{ "call: play_file a device",
	    ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"/dev/null\";  #<\n"),
	    1, 0, { { .key = "accounts[0].play_file",
	    .frag = "'/dev/null' is not a regular file" } } },
	{ "call: play_file as an integer: one error, not two",
	    ACCOUNT("    media = \"play\";\n"
	    "    play_file = 1;  #<\n"),
	    1, 0, { { .key = "accounts[0].play_file",
	    .frag = "expected a string, got an integer" } } },
	{ "call: play_file without media play is a warning",
	    ACCOUNT("    media = \"echo\";\n"
	    "    play_file = \"/etc/passwd\";  #<\n"),
	    0, 1, { { .key = "accounts[0].play_file",
	    .frag = "only used with media = \"play\" (this account's media "
	    "is \"echo\")", .warning = true } } },
	{ "call: play_file with the default media is a warning",
	    ACCOUNT("    play_file = \"/etc/passwd\";  #<\n"),
	    0, 1, { { .key = "accounts[0].play_file",
	    .frag = "only used with media = \"play\" (this account's media "
	    "is \"silence\")", .warning = true } } },
	{ "call: a bad play_file without media play: error and warning",
	    ACCOUNT("    play_file = \"relative.wav\";  #<\n"),
	    1, 1, { { .key = "accounts[0].play_file",
	    .frag = "'relative.wav' is not an absolute path" } } },

	/* media */
	{ "media: unknown key",
	    "media = {\n"
	    "  port = 20000;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.port", .frag = "unknown key" } } },
	{ "media: not a group",
	    "media = \"silence\";  #<\n",
	    1, 0, { { .key = "media",
	    .frag = "expected a group, got a string" } } },
	{ "media: address 0.0.0.0 cannot go into SDP",
	    "media = {\n"
	    "  address = \"0.0.0.0\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'0.0.0.0' is a wildcard; it goes into SDP as the address "
	    "peers send RTP to, so it must be one address of this "
	    "host" } } },
	{ "media: address :: cannot go into SDP",
	    "media = {\n"
	    "  address = \"::\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'::' is a wildcard" } } },
	{ "media: address ::0 is :: written long",
	    "media = {\n"
	    "  address = \"0:0::0\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'0:0::0' is a wildcard" } } },
	{ "media: address a host name",
	    "media = {\n"
	    "  address = \"localhost\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'localhost' is not an IPv4 or IPv6 address (IPv6 without "
	    "brackets)" } } },
	{ "media: address IPv6 in brackets",
	    "media = {\n"
	    "  address = \"[::1]\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'[::1]' is not an IPv4 or IPv6 address" } } },
	{ "media: address with a port",
	    "media = {\n"
	    "  address = \"127.0.0.1:20000\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'127.0.0.1:20000' is not an IPv4 or IPv6 address" } } },
	{ "media: empty address",
	    "media = {\n"
	    "  address = \"\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "'' is not an IPv4 or IPv6 address" } } },
	{ "media: address as an integer",
	    "media = {\n"
	    "  address = 127;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.address",
	    .frag = "expected a string, got an integer" } } },
	{ "media: port_min odd",
	    "media = {\n"
	    "  port_min = 20001;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.port_min",
	    .frag = "20001 is odd; RTP takes an even port and RTCP the odd one "
	    "above it" } } },
	{ "media: port_min a privileged port",
	    "media = {\n"
	    "  port_min = 1022;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.port_min",
	    .frag = "1022 is out of range (1024..65535)" } } },
	{ "media: port_max past 65535",
	    "media = {\n"
	    "  port_max = 65536;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.port_max",
	    .frag = "65536 is out of range (1024..65535)" } } },
	{ "media: port_max below port_min",
	    "media = {  #<\n"
	    "  port_min = 30000;\n"
	    "  port_max = 20000;\n"
	    "};\n",
	    1, 0, { { .key = "media",
	    .frag = "port_max (20000) must be above port_min (30000)" } } },
	{ "media: port_max equal to port_min",
	    "media = {  #<\n"
	    "  port_min = 20000; port_max = 20000;\n"
	    "};\n",
	    1, 0, { { .key = "media",
	    .frag = "port_max (20000) must be above port_min (20000)" } } },
	{ "media: port_min alone above the default port_max",
	    "media = {  #<\n"
	    "  port_min = 40000;\n"
	    "};\n",
	    1, 0, { { .key = "media",
	    .frag = "port_max (29999) must be above port_min (40000)" } } },
	{ "media: a range of one pair",
	    "media = {  #<\n"
	    "  port_min = 20000; port_max = 20001;\n"
	    "};\n",
	    1, 0, { { .key = "media",
	    .frag = "ports 20000..20001 hold one RTP/RTCP pair; the range "
	    "needs at least 2" } } },
	{ "media: a range of three ports is still one pair",
	    "media = {  #<\n"
	    "  port_min = 20000; port_max = 20002;\n"
	    "};\n",
	    1, 0, { { .key = "media",
	    .frag = "ports 20000..20002 hold one RTP/RTCP pair" } } },
	{ "media: an odd port_min is not also blamed for the range",
	    "media = {\n"
	    "  port_min = 20001;  #<\n"
	    "  port_max = 20001; };\n",
	    1, 0, { { .key = "media.port_min", .frag = "20001 is odd" } } },
	{ "media: timeout -1",
	    "media = {\n"
	    "  timeout = -1;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.timeout",
	    .frag = "-1 is out of range (0..3600)" } } },
	{ "media: timeout an hour and a second",
	    "media = {\n"
	    "  timeout = 3601;  #<\n"
	    "};\n",
	    1, 0, { { .key = "media.timeout",
	    .frag = "3601 is out of range (0..3600)" } } },
	{ "media: a wildcard listener without media.address is a warning",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"0.0.0.0:5060\"; },  #<\n"
	    "  { transport = \"tcp\"; address = \"127.0.0.1:5060\"; } ); };\n",
	    0, 1, { { .key = "sipxd.listen[0].address",
	    .frag = "a wildcard, which cannot go into SDP, and media.address "
	    "is not set: RTP uses 127.0.0.1, which peers on other hosts "
	    "cannot reach; set media.address", .warning = true } } },
	{ "media: an IPv6 wildcard listener without media.address too",
	    "sipxd = { listen = (\n"
	    "  { transport = \"tcp\"; address = \"[::]:5060\"; } ); };  #<\n",
	    0, 1, { { .key = "sipxd.listen[0].address",
	    .frag = "a wildcard, which cannot go into SDP",
	    .warning = true } } },
	{ "media: an empty group does not set address either",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"0.0.0.0:5060\"; } ); };  #<\n"
	    "media = { };\n",
	    0, 1, { { .key = "sipxd.listen[0].address",
	    .frag = "set media.address", .warning = true } } },

	/* calls */
	{ "calls: unknown key",
	    "calls = {\n"
	    "  max_calls = 5;  #<\n"
	    "};\n",
	    1, 0, { { .key = "calls.max_calls", .frag = "unknown key" } } },
	{ "calls: max 0",
	    "calls = {\n"
	    "  max = 0;  #<\n"
	    "};\n",
	    1, 0, { { .key = "calls.max",
	    .frag = "0 is out of range (1..1000000)" } } },
	{ "calls: max a million and one",
	    "calls = {\n"
	    "  max = 1000001;  #<\n"
	    "};\n",
	    1, 0, { { .key = "calls.max",
	    .frag = "1000001 is out of range (1..1000000)" } } },
	{ "calls: history -1",
	    "calls = {\n"
	    "  history = -1;  #<\n"
	    "};\n",
	    1, 0, { { .key = "calls.history",
	    .frag = "-1 is out of range (0..100000)" } } },
	{ "calls: history 100001",
	    "calls = {\n"
	    "  history = 100001;  #<\n"
	    "};\n",
	    1, 0, { { .key = "calls.history",
	    .frag = "100001 is out of range (0..100000)" } } },
	{ "calls: not a group",
	    "calls = 100;  #<\n",
	    1, 0, { { .key = "calls",
	    .frag = "expected a group, got an integer" } } },

	/* network */
	{ "network: unknown key",
	    "network = {\n"
	    "  settle = 100;  #<\n"
	    "};\n",
	    1, 0, { { .key = "network.settle", .frag = "unknown key" } } },
	{ "network: settle_ms past a second",
	    "network = {\n"
	    "  settle_ms = 1001;  #<\n"
	    "};\n",
	    1, 0, { { .key = "network.settle_ms",
	    .frag = "1001 is out of range (0..1000)" } } },
	{ "network: watch as a string",
	    "network = {\n"
	    "  watch = \"yes\";  #<\n"
	    "};\n",
	    1, 0, { { .key = "network.watch",
	    .frag = "expected a boolean, got a string" } } },
	/* subscriptions */
	{ "subscriptions: unknown key",
	    "subscriptions = {\n"
	    "  maximum = 5;  #<\n"
	    "};\n",
	    1, 0, { { .key = "subscriptions.maximum", .frag = "unknown key" } } },
	{ "subscriptions: max 0",
	    "subscriptions = {\n"
	    "  max = 0;  #<\n"
	    "};\n",
	    1, 0, { { .key = "subscriptions.max",
	    .frag = "0 is out of range (1..1000000)" } } },
	{ "subscriptions: notify_body_max 65536",
	    "subscriptions = {\n"
	    "  notify_body_max = 65536;  #<\n"
	    "};\n",
	    1, 0, { { .key = "subscriptions.notify_body_max",
	    .frag = "65536 is out of range (256..65535)" } } },
	{ "subscriptions: accept_events names a package sipxd cannot serve",
	    ACCOUNT("    accept_events = [ \"presence\",\n"
	    "        \"message-summary\" ];  #<\n"),
	    1, 0, { { .key = "accounts[0].accept_events[1]",
	    .frag = "sipxd cannot serve 'message-summary' (it serves "
	    "presence only)" } } },
	{ "subscriptions: accept_events twice",
	    ACCOUNT("    accept_events = [ \"presence\", \"Presence\" ];  #<\n"),
	    1, 0, { { .key = "accounts[0].accept_events[1]",
	    .frag = "'Presence' listed twice" } } },

	/* several errors at once: all of them, each at its place */
	{ "several errors in one file",
	    "sipxd = {\n"
	    "  listen = ( { transport = \"udp\";\n"
	    "               address = \"127.0.0.1\"; } );  #<a\n"
	    "  timers = { t1 = 0; };  #<b\n"
	    "};\n"
	    "control = { max_clients = 0; };  #<c\n"
	    "log = { level = \"loud\"; };  #<d\n"
	    "accounts = (\n"
	    "  { name = \"alice\";  #<n\n"
	    "    aor = \"sip:alice@example.com\"; expires = 5; },  #<e\n"
	    "  { name = \"bob\"; aor = \"tel:+1555\";  #<f\n"
	    "    codecs = [ \"PCMU\", \"speex\" ]; },  #<s\n"
	    "  { name = \"alice\"; aor = \"sip:alice@example.net\"; }  #<g\n"
	    ");\n"
	    "typo = 1;  #<h\n",
	    9, 0, {
		{ .mark = "#<a", .key = "sipxd.listen[0].address",
		    .frag = "is not IP:PORT" },
		{ .mark = "#<b", .key = "sipxd.timers.t1",
		    .frag = "0 is out of range" },
		{ .mark = "#<c", .key = "control.max_clients",
		    .frag = "0 is out of range" },
		{ .mark = "#<d", .key = "log.level",
		    .frag = "'loud' is not one of" },
		{ .mark = "#<e", .key = "accounts[0].expires",
		    .frag = "5 is out of range" },
		{ .mark = "#<f", .key = "accounts[1].aor",
		    .frag = "'tel:+1555' is not a sip:" },
		{ .mark = "#<s", .key = "accounts[1].codecs[1]",
		    .frag = "unknown codec 'speex'" },
		{ .mark = "#<g", .key = "accounts[2].name",
		    .frag = "duplicate account name 'alice' "
		    "(first defined at line ", .first = "#<n" },
		{ .mark = "#<h", .key = "typo", .frag = "unknown key" },
	    } },
	{ "errors and a warning together",
	    "sipxd = { listen = ( );  #<a\n"
	    "  timers = { t1 = 2000; t2 = 1000; };  #<b\n"
	    "};\n"
	    ACCOUNT("    retry = { base = 100; max = 50; };  #<c\n"),
	    2, 1, {
		{ .mark = "#<a", .key = "sipxd.listen", .frag = "empty",
		    .warning = true },
		{ .mark = "#<b", .key = "sipxd.timers",
		    .frag = "t2 (1000 ms) must not be below" },
		{ .mark = "#<c", .key = "accounts[0].retry",
		    .frag = "max (50 s) must not be below" },
	    } },
};

START_TEST(test_diag_case)
{
	const struct diag_case *c = &diag_cases[_i];
	struct load ld;
	char *dump;

	load_text(&ld, c->text, 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.msgs.nerrors == c->nerrors &&
	    ld.msgs.nwarnings == c->nwarnings,
	    "%s: want %zu errors, %zu warnings; got:\n%s", c->name,
	    c->nerrors, c->nwarnings, dump);
	ck_assert_int_eq(ld.rc, c->nerrors > 0 ? EINVAL : 0);
	/* the main file names every message of a file without @include */
	for (size_t i = 0; i < ld.msgs.nerrors; i++)
		ck_assert_msg(strncmp(ld.msgs.errors[i], ld.path,
		    strlen(ld.path)) == 0 &&
		    ld.msgs.errors[i][strlen(ld.path)] == ':',
		    "%s: not prefixed by the file name:\n%s", c->name, dump);
	for (size_t i = 0; i < NELEM(c->e) && c->e[i].frag != NULL; i++) {
		const struct expect *e = &c->e[i];
		struct strbuf want = STRBUF_INIT, frag = STRBUF_INIT;
		bool found;

		strbuf_addf(&want, "%s:%d: ", ld.path,
		    line_of(c->text, e->mark != NULL ? e->mark : "#<"));
		if (e->key != NULL)
			strbuf_addf(&want, "%s: ", e->key);
		strbuf_adds(&frag, e->frag);
		if (e->first != NULL)
			strbuf_addf(&frag, "%d)", line_of(c->text, e->first));
		found = e->warning ?
		    msgs_find(ld.msgs.warnings, ld.msgs.nwarnings, want.p,
		    frag.p) :
		    msgs_find(ld.msgs.errors, ld.msgs.nerrors, want.p, frag.p);
		ck_assert_msg(found, "%s: no %s \"%s…%s\" among:\n%s",
		    c->name, e->warning ? "warning" : "error", want.p, frag.p,
		    dump);
		strbuf_free(&want);
		strbuf_free(&frag);
	}
	free(dump);
	load_free(&ld);
}
END_TEST

START_TEST(test_missing_file)
{
	char *dir = temp_path("d");
	struct strbuf path = STRBUF_INIT, want = STRBUF_INIT;
	struct load ld;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	strbuf_addf(&path, "%s/absent.conf", dir);
	load_path(&ld, path.p);
	ck_assert_int_eq(ld.rc, EINVAL);
	ck_assert_uint_eq(ld.msgs.nerrors, 1);
	ck_assert_uint_eq(ld.msgs.nwarnings, 0);
	strbuf_addf(&want, "%s:0: cannot open: %s", path.p, strerror(ENOENT));
	ck_assert_str_eq(ld.msgs.errors[0], want.p);
	load_free(&ld);
	ck_assert_int_eq(rmdir(dir), 0);
	strbuf_free(&path);
	strbuf_free(&want);
	free(dir);
}
END_TEST

/* libconfig's scanner would exit(2) on a directory: never reach it. */
START_TEST(test_directory)
{
	char *dir = temp_path("d");
	struct strbuf want = STRBUF_INIT;
	struct load ld;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	load_path(&ld, dir);
	ck_assert_int_eq(ld.rc, EINVAL);
	ck_assert_uint_eq(ld.msgs.nerrors, 1);
	strbuf_addf(&want, "%s:0: cannot open: Is a directory", dir);
	ck_assert_str_eq(ld.msgs.errors[0], want.p);
	load_free(&ld);
	ck_assert_int_eq(rmdir(dir), 0);
	strbuf_free(&want);
	free(dir);
}
END_TEST

/* After CONFIG_ERRORS_MAX (50) errors, one line says so and the rest go. */
START_TEST(test_too_many_errors)
{
	struct strbuf text = STRBUF_INIT, want = STRBUF_INIT;
	struct load ld;

	for (int i = 0; i < 60; i++)
		strbuf_addf(&text, "typo%d = %d;\n", i, i);
	load_text(&ld, text.p, 0600);
	ck_assert_int_eq(ld.rc, EINVAL);
	ck_assert_uint_eq(ld.msgs.nerrors, 51);
	strbuf_addf(&want, "%s:1: typo0: unknown key", ld.path);
	ck_assert_str_eq(ld.msgs.errors[0], want.p);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s:50: typo49: unknown key", ld.path);
	ck_assert_str_eq(ld.msgs.errors[49], want.p);
	strbuf_reset(&want);
	strbuf_addf(&want, "%s: too many errors, stopping here", ld.path);
	ck_assert_str_eq(ld.msgs.errors[50], want.p);
	load_free(&ld);
	strbuf_free(&text);
	strbuf_free(&want);
}
END_TEST

START_TEST(test_too_many_accounts)
{
	struct strbuf text = STRBUF_INIT, want = STRBUF_INIT;
	struct load ld;

	strbuf_adds(&text, "# one too many\naccounts = ( 0");
	for (int i = 0; i < SIPX_ACCOUNTS_MAX; i++)
		strbuf_adds(&text, ", 0");
	strbuf_adds(&text, " );\n");
	load_text(&ld, text.p, 0600);
	ck_assert_int_eq(ld.rc, EINVAL);
	ck_assert_uint_eq(ld.msgs.nerrors, 1);
	strbuf_addf(&want, "%s:2: accounts: %d accounts, more than the limit "
	    "of %d", ld.path, SIPX_ACCOUNTS_MAX + 1, SIPX_ACCOUNTS_MAX);
	ck_assert_str_eq(ld.msgs.errors[0], want.p);
	load_free(&ld);
	strbuf_free(&text);
	strbuf_free(&want);
}
END_TEST

/* Errors in an @include'd file name that file and its own lines. */
START_TEST(test_include)
{
	static const char inc_good[] =
	    "accounts = (\n"
	    "  { name = \"inc\"; aor = \"sip:inc@example.com\"; }\n"
	    ");\n";
	static const char inc_bad[] =
	    "accounts = (\n"
	    "  { name = \"inc\"; aor = \"sip:inc@example.com\";\n"
	    "    colour = \"blue\"; }\n"
	    ");\n";
	const char *const incs[] = { inc_good, inc_bad };

	for (size_t k = 0; k < NELEM(incs); k++) {
		char *inc = temp_write(incs[k], 0600);
		const char *base = strrchr(inc, '/') + 1;
		struct strbuf text = STRBUF_INIT, tail = STRBUF_INIT;
		struct load ld;
		char *dump;

		strbuf_addf(&text, "log = { level = \"debug\"; };\n"
		    "@include \"%s\"\n", base);
		load_text(&ld, text.p, 0600);
		unlink(inc);
		dump = msgs_dump(&ld.msgs);
		if (k == 0) {
			ck_assert_msg(ld.rc == 0, "include:\n%s", dump);
			ck_assert_uint_eq(ld.cfg->naccounts, 1);
			ck_assert_str_eq(ld.cfg->accounts[0]->name, "inc");
			ck_assert_int_eq(ld.cfg->log_level, LOG_LEVEL_DEBUG);
		} else {
			const char *e, *colon;

			ck_assert_msg(ld.msgs.nerrors == 1, "include:\n%s",
			    dump);
			e = ld.msgs.errors[0];
			strbuf_adds(&tail,
			    ":3: accounts[0].colour: unknown key");
			colon = strstr(e, tail.p);
			ck_assert_msg(colon != NULL &&
			    strcmp(colon, tail.p) == 0,
			    "include: want \"…%s\":\n%s", tail.p, dump);
			/* the file part is the included file, as libconfig
			   names it (written name or full path) */
			ck_assert_msg((size_t)(colon - e) >= strlen(base) &&
			    strncmp(colon - strlen(base), base,
			    strlen(base)) == 0,
			    "include: not named after %s:\n%s", base, dump);
		}
		free(dump);
		load_free(&ld);
		strbuf_free(&text);
		strbuf_free(&tail);
		free(inc);
	}
}
END_TEST

/* ---- good paths --------------------------------------------------------- */

static const char *
shipped_config_path(struct strbuf *sb)
{
	const char *src = getenv("SIPX_SRCDIR");

	if (src == NULL || *src == '\0')
		return "../etc/sipxd.conf";
	strbuf_addf(sb, "%s/etc/sipxd.conf", src);
	return sb->p;
}

START_TEST(test_shipped_config)
{
	struct strbuf sb = STRBUF_INIT;
	const char *path = shipped_config_path(&sb);
	struct load ld;
	char *dump;

	load_path(&ld, path);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0 && ld.msgs.nerrors == 0 &&
	    ld.msgs.nwarnings == 0, "%s (set SIPX_SRCDIR):\n%s", path, dump);
	ck_assert_uint_eq(ld.cfg->nlisten, 2);
	ck_assert_uint_eq(ld.cfg->naccounts, 1);
	ck_assert_str_eq(ld.cfg->accounts[0]->name, "local");
	ck_assert(!ld.cfg->accounts[0]->register_on);
	ck_assert_int_eq(ld.cfg->accounts[0]->incoming,
	    ACCOUNT_INCOMING_ANSWER);
	/* calls to sip:sipxd@127.0.0.1 are answered, with audio */
	ck_assert_int_eq(ld.cfg->accounts[0]->media, RTP_MODE_SILENCE);
	ck_assert_str_eq(ld.cfg->media_address, "127.0.0.1");
	ck_assert_str_eq(ld.cfg->control.path, CONFIG_DEFAULT_SOCKET);
	free(dump);
	load_free(&ld);
	strbuf_free(&sb);
}
END_TEST

static const char *const defaults_texts[] = {
	"",
	"# nothing but a comment\n",
	"sipxd = { };\ncontrol = { };\nlog = { };\naccounts = ( );\n",
	"sipxd: { timers: { }; dns: { }; };\n",
	"media = { };\ncalls = { };\n",
};

START_TEST(test_defaults)
{
	struct load ld;
	const struct sipxd_config *c;

	load_text(&ld, defaults_texts[_i], 0644);
	ck_assert_int_eq(ld.rc, 0);
	ck_assert_uint_eq(ld.msgs.nwarnings, 0);
	c = ld.cfg;
	ck_assert_str_eq(c->file, ld.path);
	ck_assert_int_eq(c->t1, 500);
	ck_assert_int_eq(c->t2, 4000);
	ck_assert_int_eq(c->t4, 5000);
	ck_assert_int_eq(c->register_spread, 1000);
	ck_assert_int_eq(c->failover_timeout, 2000);
	ck_assert_int_eq(c->blocklist_ttl, 60);
	ck_assert_int_eq(c->max_transactions, 100000);
	ck_assert_int_eq(c->tcp_idle_timeout, 600);
	ck_assert_int_eq(c->tcp_message_timeout, 32);
	ck_assert_int_eq(c->tcp_tls_handshake_timeout, 10);
	ck_assert_int_eq(c->tcp_max_connections, 0);
	ck_assert_str_eq(c->user_agent, "sipxd/" PACKAGE_VERSION);
	ck_assert_uint_eq(c->ndns_servers, 0);
	ck_assert_uint_eq(c->nlisten, 2);
	ck_assert_int_eq(c->listen[0].transport, ACCOUNT_TRANSPORT_UDP);
	ck_assert_str_eq(c->listen[0].address, "127.0.0.1:5060");
	ck_assert_int_eq(c->listen[1].transport, ACCOUNT_TRANSPORT_TCP);
	ck_assert_str_eq(c->listen[1].address, "127.0.0.1:5060");
	for (size_t i = 0; i < c->nlisten; i++) {
		ck_assert_ptr_null(c->listen[i].certificate);
		ck_assert_ptr_null(c->listen[i].key);
		ck_assert_ptr_null(c->listen[i].ca_file);
	}
	ck_assert_str_eq(c->control.path, "/run/sipxd/control.sock");
	ck_assert_uint_eq(c->control.mode, 0660);
	ck_assert_ptr_null(c->control.group);
	ck_assert_int_eq(c->control.max_clients, 64);
	ck_assert_ptr_null(c->control.readonly_path);
	ck_assert_uint_eq(c->control.readonly_mode, 0666);
	ck_assert_uint_eq(c->control.nallow_uids, 0);
	ck_assert_uint_eq(c->control.nallow_gids, 0);
	ck_assert_uint_eq(c->control.output_limit, 1048576);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
	/* media.address from the default listener, 127.0.0.1:5060 */
	ck_assert_str_eq(c->media_address, "127.0.0.1");
	ck_assert_int_eq(c->rtp_port_min, 20000);
	ck_assert_int_eq(c->rtp_port_max, 29999);
	ck_assert_int_eq(c->media_timeout, 10);
	ck_assert_int_eq(c->max_calls, 10000);
	ck_assert_int_eq(c->call_history, 1000);
	ck_assert(c->net_watch);
	ck_assert_int_eq(c->net_settle_ms, 200);
	ck_assert_uint_eq(c->naccounts, 0);
	load_free(&ld);
}
END_TEST

static void
check_account_defaults(const struct account_cfg *a)
{
	ck_assert_ptr_null(a->display_name);
	ck_assert_ptr_null(a->password);
	ck_assert_ptr_null(a->ha1);
	ck_assert_ptr_null(a->outbound_proxy);
	ck_assert_int_eq(a->transport, ACCOUNT_TRANSPORT_UDP);
	ck_assert(a->register_on);
	ck_assert_int_eq(a->expires, 600);
	ck_assert_int_eq(a->retry_base, 30);
	ck_assert_int_eq(a->retry_max, 1800);
	ck_assert_int_eq(a->retry_fatal, 600);
	ck_assert_int_eq(a->qualify_interval, 0);
	ck_assert_int_eq(a->qualify_timeout, 2000);
	ck_assert_int_eq(a->qualify_up, 1);
	ck_assert_int_eq(a->qualify_down, 2);
	ck_assert_int_eq(a->incoming, ACCOUNT_INCOMING_RING);
	ck_assert_uint_eq(a->ncodecs, 2);
	ck_assert_str_eq(a->codecs[0], "PCMU");
	ck_assert_str_eq(a->codecs[1], "PCMA");
	ck_assert_int_eq(a->ring_timeout, 60);
	ck_assert_int_eq(a->reject_code, 486);
	ck_assert_int_eq(a->call_timeout, 120);
	ck_assert(!a->late_offer);
	ck_assert_int_eq(a->session_expires, 1800);
	ck_assert(!a->follow_redirects);
	ck_assert_int_eq(a->media, RTP_MODE_SILENCE);
	ck_assert_ptr_null(a->play_file);
	ck_assert(!a->refer_accept);
}

/* auth_user and registrar come from the aor when not given. */
static const struct {
	const char	*aor;
	const char	*auth_user;
	const char	*registrar;
} aor_cases[] = {
	{ "sip:alice@example.com", "alice", "sip:example.com" },
	{ "sip:bob@example.com:5070;transport=tcp", "bob",
	    "sip:example.com:5070" },
	{ "sips:carol@secure.example.com", "carol", "sips:secure.example.com" },
	{ "SIPS:dave@example.org", "dave", "sips:example.org" },
	{ "sip:erin@[2001:db8::1]:5060", "erin", "sip:[2001:db8::1]:5060" },
	{ "sip:+15551234567@gw.example.com?subject=x", "+15551234567",
	    "sip:gw.example.com" },
	{ "sip:frank:oldpw@example.com", "frank", "sip:example.com" },
};

START_TEST(test_account_defaults)
{
	struct strbuf text = STRBUF_INIT;
	struct load ld;
	const struct account_cfg *a;
	char *dump;

	strbuf_addf(&text, "accounts = (\n"
	    "  {\n"
	    "    name = \"acct\";\n"
	    "    aor = \"%s\";\n"
	    "  }\n"
	    ");\n", aor_cases[_i].aor);
	load_text(&ld, text.p, 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0, "%s:\n%s", aor_cases[_i].aor, dump);
	ck_assert_uint_eq(ld.cfg->naccounts, 1);
	a = ld.cfg->accounts[0];
	ck_assert_str_eq(a->name, "acct");
	ck_assert_str_eq(a->aor, aor_cases[_i].aor);
	ck_assert_str_eq(a->auth_user, aor_cases[_i].auth_user);
	ck_assert_str_eq(a->registrar, aor_cases[_i].registrar);
	ck_assert_int_eq(a->line, 2);
	check_account_defaults(a);
	free(dump);
	load_free(&ld);
	strbuf_free(&text);
}
END_TEST

START_TEST(test_explicit_values)
{
	static const char text[] =
	    "sipxd = {\n"
	    "  listen = (\n"
	    "    { transport = \"udp\"; address = \"0.0.0.0:5070\"; },  #<udp\n"
	    "    { transport = \"tls\"; address = \"[::1]:5061\";  #<tls\n"
	    "      certificate = \"/etc/passwd\";\n"
	    "      key = \"/etc/group\";\n"
	    "      ca_file = \"/etc/passwd\"; } );\n"
	    "  user_agent = \"test-agent/1\";\n"
	    "  timers = { t1 = 100; t2 = 2000; t4 = 3000; };\n"
	    "  register_spread = 0;\n"
	    "  dns = { servers = [ \"192.0.2.53\",\n"
	    "                      \"[2001:db8::53]:5353\" ]; };\n"
	    "};\n"
	    "media = { address = \"192.0.2.10\"; port_min = 40000;\n"
	    "  port_max = 40999; timeout = 0; };\n"
	    "calls = { max = 20; history = 0; };\n"
	    "network = { watch = false; settle_ms = 0; };\n"
	    "control = {\n"
	    "  path = \"/tmp/sipxd-test/control.sock\";\n"
	    "  mode = \"0600\";\n"
	    "  group = \"root\";\n"
	    "  max_clients = 4096;\n"
	    "  readonly_path = \"/tmp/sipxd-test/monitor.sock\";\n"
	    "  readonly_mode = \"0644\";\n"
	    "  allow_users = [ \"root\", \"1234\" ];\n"
	    "  allow_groups = [ \"0\" ];\n"
	    "  output_limit = 65536;\n"
	    "};\n"
	    "log = { level = \"debug\"; };\n"
	    "accounts = (\n"
	    "  { name = \"office.main-1\";  #<a0\n"
	    "    display_name = \"Office \\\"Main\\\"\";\n"
	    "    aor = \"sips:2001@sip.example.net\";\n"
	    "    auth_user = \"u2001\";\n"
	    "    ha1 = \"0123456789abcdefABCDEF0123456789\";\n"
	    "    registrar = \"sip:registrar.example.net:5080\";\n"
	    "    outbound_proxy = \"sip:proxy.example.net;transport=tcp\";\n"
	    "    transport = \"tls\";\n"
	    "    register = false;\n"
	    "    expires = 300;\n"
	    "    retry = { base = 5; max = 60; fatal = 120; };\n"
	    "    incoming = \"reject\";\n"
	    "    codecs = [ \"G722\", \"opus\", \"telephone-event\" ];\n"
	    "    ring_timeout = 15; reject_code = 603; call_timeout = 30;\n"
	    "    sdp = \"late\"; session_expires = 0;\n"
	    "    follow_redirects = true; refer = \"accept\";\n"
	    "    media = \"play\"; play_file = \"/etc/passwd\";\n"
	    "    qualify = { interval = 30; timeout = 1500; up = 2; down = 3; };\n"
	    "  },\n"
	    "  { name = \"second\"; aor = \"sip:second@example.com\";  #<a1\n"
	    "    password = \"pw\"; transport = \"tcp\";\n"
	    "    incoming = \"answer\"; sdp = \"early\"; media = \"echo\";\n"
	    "    session_expires = 90; follow_redirects = false;\n"
	    "    retry = { base = 60; max = 60; }; }\n"
	    ");\n";
	struct load ld;
	const struct sipxd_config *c;
	const struct account_cfg *a;
	char *dump;

	load_text(&ld, text, 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0 && ld.msgs.nwarnings == 0, "\n%s", dump);
	free(dump);
	c = ld.cfg;

	ck_assert_uint_eq(c->nlisten, 2);
	ck_assert_int_eq(c->listen[0].transport, ACCOUNT_TRANSPORT_UDP);
	ck_assert_str_eq(c->listen[0].address, "0.0.0.0:5070");
	ck_assert_int_eq(c->listen[0].line, line_of(text, "#<udp"));
	ck_assert_int_eq(c->listen[1].transport, ACCOUNT_TRANSPORT_TLS);
	ck_assert_str_eq(c->listen[1].address, "[::1]:5061");
	ck_assert_str_eq(c->listen[1].certificate, "/etc/passwd");
	ck_assert_str_eq(c->listen[1].key, "/etc/group");
	ck_assert_str_eq(c->listen[1].ca_file, "/etc/passwd");
	ck_assert_int_eq(c->listen[1].line, line_of(text, "#<tls"));
	ck_assert_str_eq(c->user_agent, "test-agent/1");
	ck_assert_int_eq(c->t1, 100);
	ck_assert_int_eq(c->t2, 2000);
	ck_assert_int_eq(c->t4, 3000);
	ck_assert_int_eq(c->register_spread, 0);
	ck_assert_uint_eq(c->ndns_servers, 2);
	ck_assert_str_eq(c->dns_servers[0], "192.0.2.53");
	ck_assert_str_eq(c->dns_servers[1], "[2001:db8::53]:5353");
	ck_assert_str_eq(c->media_address, "192.0.2.10");
	ck_assert_int_eq(c->rtp_port_min, 40000);
	ck_assert_int_eq(c->rtp_port_max, 40999);
	ck_assert_int_eq(c->media_timeout, 0);
	ck_assert_int_eq(c->max_calls, 20);
	ck_assert_int_eq(c->call_history, 0);
	ck_assert(!c->net_watch);
	ck_assert_int_eq(c->net_settle_ms, 0);

	ck_assert_str_eq(c->control.path, "/tmp/sipxd-test/control.sock");
	ck_assert_uint_eq(c->control.mode, 0600);
	ck_assert_str_eq(c->control.group, "root");
	ck_assert_uint_eq(c->control.gid, 0);
	ck_assert_int_eq(c->control.max_clients, 4096);
	ck_assert_str_eq(c->control.readonly_path,
	    "/tmp/sipxd-test/monitor.sock");
	ck_assert_uint_eq(c->control.readonly_mode, 0644);
	ck_assert_uint_eq(c->control.nallow_uids, 2);
	ck_assert_uint_eq(c->control.allow_uids[0], 0);
	ck_assert_uint_eq(c->control.allow_uids[1], 1234);
	ck_assert_uint_eq(c->control.nallow_gids, 1);
	ck_assert_uint_eq(c->control.allow_gids[0], 0);
	ck_assert_uint_eq(c->control.output_limit, 65536);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);

	ck_assert_uint_eq(c->naccounts, 2);
	a = c->accounts[0];
	ck_assert_str_eq(a->name, "office.main-1");
	ck_assert_str_eq(a->display_name, "Office \"Main\"");
	ck_assert_str_eq(a->aor, "sips:2001@sip.example.net");
	ck_assert_str_eq(a->auth_user, "u2001");
	ck_assert_ptr_null(a->password);
	ck_assert_str_eq(a->ha1, "0123456789abcdefABCDEF0123456789");
	ck_assert_str_eq(a->registrar, "sip:registrar.example.net:5080");
	ck_assert_str_eq(a->outbound_proxy,
	    "sip:proxy.example.net;transport=tcp");
	ck_assert_int_eq(a->transport, ACCOUNT_TRANSPORT_TLS);
	ck_assert(!a->register_on);
	ck_assert_int_eq(a->expires, 300);
	ck_assert_int_eq(a->retry_base, 5);
	ck_assert_int_eq(a->retry_max, 60);
	ck_assert_int_eq(a->retry_fatal, 120);
	ck_assert_int_eq(a->incoming, ACCOUNT_INCOMING_REJECT);
	ck_assert_uint_eq(a->ncodecs, 3);
	ck_assert_str_eq(a->codecs[0], "G722");
	ck_assert_str_eq(a->codecs[1], "opus");
	ck_assert_str_eq(a->codecs[2], "telephone-event");
	ck_assert_int_eq(a->ring_timeout, 15);
	ck_assert_int_eq(a->reject_code, 603);
	ck_assert_int_eq(a->call_timeout, 30);
	ck_assert(a->late_offer);
	ck_assert_int_eq(a->session_expires, 0);
	ck_assert(a->follow_redirects);
	ck_assert(a->refer_accept);
	ck_assert_int_eq(a->media, RTP_MODE_PLAY);
	ck_assert_str_eq(a->play_file, "/etc/passwd");
	ck_assert_int_eq(a->qualify_interval, 30);
	ck_assert_int_eq(a->qualify_timeout, 1500);
	ck_assert_int_eq(a->qualify_up, 2);
	ck_assert_int_eq(a->qualify_down, 3);
	ck_assert_int_eq(a->line, line_of(text, "#<a0"));

	a = c->accounts[1];
	ck_assert_str_eq(a->name, "second");
	ck_assert_str_eq(a->password, "pw");
	ck_assert_ptr_null(a->ha1);
	ck_assert_str_eq(a->auth_user, "second");
	ck_assert_str_eq(a->registrar, "sip:example.com");
	ck_assert_int_eq(a->transport, ACCOUNT_TRANSPORT_TCP);
	ck_assert_int_eq(a->incoming, ACCOUNT_INCOMING_ANSWER);
	ck_assert_int_eq(a->retry_base, 60);
	ck_assert_int_eq(a->retry_max, 60);
	ck_assert_int_eq(a->retry_fatal, 600);
	ck_assert(!a->late_offer);
	ck_assert_int_eq(a->media, RTP_MODE_ECHO);
	ck_assert_ptr_null(a->play_file);
	ck_assert_int_eq(a->session_expires, 90);
	ck_assert(!a->follow_redirects);
	ck_assert_int_eq(a->ring_timeout, 60);
	ck_assert_int_eq(a->line, line_of(text, "#<a1"));
	load_free(&ld);
}
END_TEST

START_TEST(test_codecs_canonical)
{
	static const char text[] = ACCOUNT(
	    "    codecs = [ \"pcmu\", \"Pcma\", \"g722\", \"G729\", \"gsm\",\n"
	    "      \"ILBC\", \"l16\", \"OPUS\", \"Telephone-Event\" ];\n");
	static const char *const want[] = { "PCMU", "PCMA", "G722", "G729",
	    "GSM", "iLBC", "L16", "opus", "telephone-event" };
	struct load ld;
	const struct account_cfg *a;

	load_text(&ld, text, 0600);
	ck_assert_int_eq(ld.rc, 0);
	a = ld.cfg->accounts[0];
	ck_assert_uint_eq(a->ncodecs, NELEM(want));
	for (size_t i = 0; i < NELEM(want); i++)
		ck_assert_str_eq(a->codecs[i], want[i]);
	load_free(&ld);
}
END_TEST

/* Values at the edges of their ranges, and forms that must be accepted. */
static const struct {
	const char	*name;
	const char	*text;
} ok_cases[] = {
	{ "t1 1, t2 1", "sipxd = { timers = { t1 = 1; t2 = 1; t4 = 1; }; };" },
	{ "t1 60000, t2 600000, t4 600000",
	    "sipxd = { timers = { t1 = 60000; t2 = 600000;\n"
	    "  t4 = 600000; }; };" },
	{ "t2 equal to t1", "sipxd = { timers = { t1 = 800; t2 = 800; }; };" },
	{ "unknown_user 404", "sipxd = { unknown_user = \"404\"; };" },
	{ "tls CA file and directory",
	    "sipxd = { tls = { ca_file = \"/etc/passwd\";\n"
	    "  ca_dir = \"/etc\"; verify = true; }; };" },
	{ "dns servers in every form",
	    "sipxd = { dns = { servers = [ \"127.0.0.1\", \"127.0.0.1:5353\",\n"
	    "  \"::1\", \"[::1]\", \"[::1]:5353\" ]; }; };" },
	{ "hex and 64-bit integers",
	    "sipxd = { timers = { t1 = 0x1F4; t2 = 4000L; }; };" },
	{ "register_spread 0 and 3600000",
	    "sipxd = { register_spread = 3600000; };" },
	{ "max_transactions at its top",
	    "sipxd = { max_transactions = 10000000; };" },
	{ "colon for equals", "log: { level: \"error\"; };" },
	{ "log level notice", "log = { level = \"notice\"; };" },
	{ "listen on every address, media on one",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"0.0.0.0:1\"; },\n"
	    "  { transport = \"tcp\"; address = \"[::]:65535\"; } ); };\n"
	    "media = { address = \"192.0.2.1\"; };" },
	{ "a wildcard listener that is not the first",
	    "sipxd = { listen = (\n"
	    "  { transport = \"udp\"; address = \"192.0.2.1:5060\"; },\n"
	    "  { transport = \"tcp\"; address = \"0.0.0.0:5060\"; } ); };" },
	{ "dns servers without a port",
	    "sipxd = { dns = { servers = [ \"192.0.2.1\", \"[::1]\" ]; }; };" },
	{ "max_clients 1, output_limit 64 MiB",
	    "control = { max_clients = 1; output_limit = 67108864; };" },
	{ "modes 0000 and 0777",
	    "control = { mode = \"0000\"; readonly_mode = \"0777\"; };" },
	{ "path of 107 bytes", "control = { path = \"" PATH107 "\"; };" },
	{ "numeric user and group ids",
	    "control = { group = \"0\"; allow_users = [ \"0\" ];"
	    " allow_groups = [ \"0\", \"root\" ]; };" },
	{ "string of 1024 bytes",
	    "sipxd = { user_agent = \"" STR1024 "\"; };" },
	{ "account name of 64 characters",
	    "accounts = ( { name = \"" NAME64 "\"; aor = \"sip:a@b\"; } );" },
	{ "account name of every allowed character",
	    "accounts = ( { name = \"Az09_.-\"; aor = \"sip:a@b\"; } );" },
	{ "expires 10 and 604800, retry at its edges",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\"; expires = 10;\n"
	    "  retry = { base = 1; max = 1; fatal = 1; }; },\n"
	    "  { name = \"b\"; aor = \"sip:b@b\"; expires = 604800;\n"
	    "  retry = { base = 86400; max = 86400; fatal = 86400; }; } );" },
	{ "ha1 of 64 hex digits, upper case",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  ha1 = \"" HEX32 "ABCDEF0123456789ABCDEF0123456789\"; } );" },
	{ "ha1 of 64 hex digits", "accounts = ( { name = \"a\"; aor = "
	    "\"sip:a@b\"; ha1 = \"" HEX64 "\"; } );" },
	{ "empty password", "accounts = ( { name = \"a\"; aor = \"sip:a@b\";"
	    " password = \"\"; } );" },
	{ "names that differ only in case",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\"; },\n"
	    "  { name = \"A\"; aor = \"sip:A@b\"; } );" },
	{ "no accounts", "accounts = ( );" },
	{ "call keys at the low edges",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  ring_timeout = 1; reject_code = 400; call_timeout = 1;\n"
	    "  session_expires = 0; } );" },
	{ "call keys at the high edges",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  ring_timeout = 3600; reject_code = 699; call_timeout = 86400;\n"
	    "  session_expires = 86400; } );" },
	{ "session_expires 90", "accounts = ( { name = \"a\"; aor = "
	    "\"sip:a@b\"; session_expires = 90; } );" },
	{ "sdp early and late",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  sdp = \"early\"; },\n"
	    "  { name = \"b\"; aor = \"sip:b@b\"; sdp = \"late\"; } );" },
	{ "every media mode",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  media = \"none\"; },\n"
	    "  { name = \"b\"; aor = \"sip:b@b\"; media = \"silence\"; },\n"
	    "  { name = \"c\"; aor = \"sip:c@b\"; media = \"echo\"; },\n"
	    "  { name = \"d\"; aor = \"sip:d@b\"; media = \"play\";\n"
	    "    play_file = \"/etc/passwd\"; } );" },
	{ "follow_redirects both ways",
	    "accounts = ( { name = \"a\"; aor = \"sip:a@b\";\n"
	    "  follow_redirects = true; },\n"
	    "  { name = \"b\"; aor = \"sip:b@b\";\n"
	    "  follow_redirects = false; } );" },
	{ "media: the smallest port range, at the bottom",
	    "media = { port_min = 1024; port_max = 1027; };" },
	{ "media: the smallest port range, at the top",
	    "media = { port_min = 65532; port_max = 65535; };" },
	{ "media: an even port_max",
	    "media = { port_min = 30000; port_max = 30004; };" },
	{ "media: IPv6 addresses",
	    "media = { address = \"2001:db8::10\"; timeout = 3600; };" },
	{ "media: loopback IPv6", "media = { address = \"::1\"; };" },
	{ "media: timeout 0", "media = { timeout = 0; };" },
	{ "calls at the edges",
	    "calls = { max = 1; history = 0; };" },
	{ "calls at the top",
	    "calls = { max = 1000000; history = 100000; };" },
	{ "comments of every kind",
	    "# hash\n// slashes\n/* block\n */ log = { level = \"info\"; };" },
};

START_TEST(test_ok_case)
{
	struct load ld;
	char *dump;

	load_text(&ld, ok_cases[_i].text, 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0 && ld.msgs.nwarnings == 0, "%s:\n%s",
	    ok_cases[_i].name, dump);
	free(dump);
	load_free(&ld);
}
END_TEST

/* A sample of ok_cases whose values are worth reading back. */
START_TEST(test_ok_values)
{
	struct load ld;

	load_text(&ld, "sipxd = { timers = { t1 = 0x1F4; t2 = 4000L; }; };",
	    0600);
	ck_assert_int_eq(ld.rc, 0);
	ck_assert_int_eq(ld.cfg->t1, 500);
	ck_assert_int_eq(ld.cfg->t2, 4000);
	load_free(&ld);

	load_text(&ld, "control = { mode = \"0000\"; readonly_mode = "
	    "\"0777\"; };", 0600);
	ck_assert_int_eq(ld.rc, 0);
	ck_assert_uint_eq(ld.cfg->control.mode, 0);
	ck_assert_uint_eq(ld.cfg->control.readonly_mode, 0777);
	load_free(&ld);

	load_text(&ld, "log: { level: \"error\"; };", 0600);
	ck_assert_int_eq(ld.rc, 0);
	ck_assert_int_eq(ld.cfg->log_level, LOG_LEVEL_ERROR);
	load_free(&ld);
}
END_TEST

/* media.address, when not set, from the first listener. */
static const struct {
	const char	*listen;	/* the sipxd group's listen list */
	const char	*media;		/* the media group, or NULL */
	const char	*want;
	size_t		 nwarnings;
} media_address_cases[] = {
	{ NULL, NULL, "127.0.0.1", 0 },
	{ "{ transport = \"udp\"; address = \"192.0.2.7:5060\"; }", NULL,
	    "192.0.2.7", 0 },
	{ "{ transport = \"tcp\"; address = \"[::1]:5070\"; },\n"
	    "{ transport = \"udp\"; address = \"192.0.2.7:5060\"; }", NULL,
	    "::1", 0 },
	{ "{ transport = \"udp\"; address = \"[2001:db8::5]:5060\"; }", NULL,
	    "2001:db8::5", 0 },
	{ "{ transport = \"udp\"; address = \"0.0.0.0:5060\"; }", NULL,
	    "127.0.0.1", 1 },
	{ "{ transport = \"udp\"; address = \"[::]:5060\"; }", NULL,
	    "127.0.0.1", 1 },
	{ "{ transport = \"udp\"; address = \"0.0.0.0:5060\"; }",
	    "address = \"192.0.2.9\";", "192.0.2.9", 0 },
	{ "{ transport = \"udp\"; address = \"192.0.2.7:5060\"; }",
	    "address = \"::1\";", "::1", 0 },
	/* nothing heard: the empty list's own warning, no second one */
	{ "", NULL, "127.0.0.1", 1 },
};

START_TEST(test_media_address_default)
{
	struct strbuf text = STRBUF_INIT;
	struct load ld;
	char *dump;

	if (media_address_cases[_i].listen != NULL)
		strbuf_addf(&text, "sipxd = { listen = ( %s ); };\n",
		    media_address_cases[_i].listen);
	if (media_address_cases[_i].media != NULL)
		strbuf_addf(&text, "media = { %s };\n",
		    media_address_cases[_i].media);
	load_text(&ld, text.p != NULL ? text.p : "", 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0 && ld.msgs.nwarnings ==
	    media_address_cases[_i].nwarnings, "%s\n%s", text.p, dump);
	ck_assert_str_eq(ld.cfg->media_address, media_address_cases[_i].want);
	free(dump);
	load_free(&ld);
	strbuf_free(&text);
}
END_TEST

/* A play_file that exists but cannot be read, and one that is a FIFO. */
START_TEST(test_play_file_unreadable)
{
	char *dir = temp_path("d");
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	struct strbuf want = STRBUF_INIT;
	struct load ld;
	char *dump;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));

	/* a FIFO with no writer must not hang the load */
	strbuf_addf(&path, "%s/prompt.fifo", dir);
	ck_assert_int_eq(mkfifo(path.p, 0600), 0);
	strbuf_addf(&text, ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"%s\";\n"), path.p);
	load_text(&ld, text.p, 0600);
	dump = msgs_dump(&ld.msgs);
	strbuf_addf(&want, "accounts[0].play_file: '%s' is not a regular file",
	    path.p);
	ck_assert_msg(ld.msgs.nerrors == 1 &&
	    strstr(ld.msgs.errors[0], want.p) != NULL &&
	    strstr(ld.msgs.errors[0], ":5: ") != NULL, "fifo:\n%s", dump);
	free(dump);
	load_free(&ld);
	ck_assert_int_eq(unlink(path.p), 0);

	/* mode 0: only a user who is not root is refused */
	strbuf_reset(&path);
	strbuf_reset(&text);
	strbuf_reset(&want);
	strbuf_addf(&path, "%s/prompt.wav", dir);
	fd = open(path.p, O_WRONLY | O_CREAT | O_EXCL, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(close(fd), 0);
	strbuf_addf(&text, ACCOUNT("    media = \"play\";\n"
	    "    play_file = \"%s\";\n"), path.p);
	load_text(&ld, text.p, 0600);
	dump = msgs_dump(&ld.msgs);
	if (geteuid() == 0) {
		ck_assert_msg(ld.rc == 0, "root, mode 0:\n%s", dump);
	} else {
		strbuf_addf(&want, "accounts[0].play_file: cannot read '%s': "
		    "%s", path.p, strerror(EACCES));
		ck_assert_msg(ld.msgs.nerrors == 1 &&
		    strstr(ld.msgs.errors[0], want.p) != NULL,
		    "mode 0:\n%s", dump);
	}
	free(dump);
	load_free(&ld);
	ck_assert_int_eq(unlink(path.p), 0);

	ck_assert_int_eq(rmdir(dir), 0);
	strbuf_free(&path);
	strbuf_free(&text);
	strbuf_free(&want);
	free(dir);
}
END_TEST

static const struct {
	const char	*name;
	const char	*text;
	mode_t		 mode;
	bool		 warn;
} secret_cases[] = {
	{ "password, 0644", ACCOUNT("    password = \"secret\";\n"), 0644,
	    true },
	{ "ha1, 0604", ACCOUNT("    ha1 = \"" HEX32 "\";\n"), 0604, true },
	{ "password, 0640", ACCOUNT("    password = \"secret\";\n"), 0640,
	    false },
	{ "password, 0600", ACCOUNT("    password = \"secret\";\n"), 0600,
	    false },
	{ "no secret, 0644", ACCOUNT("    register = false;\n"), 0644, false },
};

START_TEST(test_secret_warning)
{
	struct strbuf want = STRBUF_INIT;
	struct load ld;
	char *dump;

	load_text(&ld, secret_cases[_i].text, secret_cases[_i].mode);
	dump = msgs_dump(&ld.msgs);
	/* a warning, never an error */
	ck_assert_msg(ld.rc == 0, "%s:\n%s", secret_cases[_i].name, dump);
	ck_assert_msg(ld.msgs.nwarnings == (secret_cases[_i].warn ? 1 : 0),
	    "%s:\n%s", secret_cases[_i].name, dump);
	if (secret_cases[_i].warn) {
		strbuf_addf(&want, "%s:0: holds passwords but is readable by "
		    "every user (mode %04o); chmod o-r %s", ld.path,
		    (unsigned)secret_cases[_i].mode, ld.path);
		ck_assert_str_eq(ld.msgs.warnings[0], want.p);
	}
	strbuf_free(&want);
	free(dump);
	load_free(&ld);
}
END_TEST

START_TEST(test_take_accounts)
{
	struct load ld;
	struct account_cfg **accts, **before;
	size_t n = 99;

	load_text(&ld, "accounts = (\n"
	    "  { name = \"a\"; aor = \"sip:a@example.com\"; },\n"
	    "  { name = \"b\"; aor = \"sip:b@example.com\"; }\n"
	    ");\n", 0600);
	ck_assert_int_eq(ld.rc, 0);
	before = ld.cfg->accounts;
	accts = config_take_accounts(ld.cfg, &n);
	ck_assert_ptr_eq(accts, before);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_null(ld.cfg->accounts);
	ck_assert_uint_eq(ld.cfg->naccounts, 0);
	/* the config no longer owns them: freeing it leaves them alone */
	load_free(&ld);
	ck_assert_str_eq(accts[0]->name, "a");
	ck_assert_str_eq(accts[1]->name, "b");
	for (size_t i = 0; i < n; i++)
		account_cfg_free(accts[i]);
	free(accts);

	/* no accounts: still an array that can be freed, and n 0 */
	load_text(&ld, "", 0600);
	ck_assert_int_eq(ld.rc, 0);
	n = 99;
	accts = config_take_accounts(ld.cfg, &n);
	ck_assert_ptr_nonnull(accts);
	ck_assert_uint_eq(n, 0);
	free(accts);
	load_free(&ld);
}
END_TEST

/* ---- account set -------------------------------------------------------- */

static struct account_cfg *
cfg_new(const char *name)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));
	struct strbuf sb = STRBUF_INIT;

	c->name = xstrdup(name);
	c->display_name = xstrdup("Some One");
	strbuf_addf(&sb, "sip:%s@example.com", name);
	c->aor = strbuf_detach(&sb);
	c->auth_user = xstrdup(name);
	c->password = xstrdup("secret");
	c->registrar = xstrdup("sip:example.com");
	c->outbound_proxy = NULL;
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->register_on = true;
	c->expires = 600;
	c->retry_base = 30;
	c->retry_max = 1800;
	c->retry_fatal = 600;
	c->incoming = ACCOUNT_INCOMING_RING;
	c->codecs = xcalloc(3, sizeof(char *));
	c->codecs[0] = xstrdup("PCMU");
	c->codecs[1] = xstrdup("PCMA");
	c->ncodecs = 2;
	c->ring_timeout = 60;
	c->reject_code = 486;
	c->call_timeout = 120;
	c->session_expires = 1800;
	c->media = RTP_MODE_SILENCE;
	c->line = 10;
	return c;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static struct account_cfg *
cfg_clone(const struct account_cfg *o)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));

	*c = *o;
	c->name = dup_or_null(o->name);
	c->display_name = dup_or_null(o->display_name);
	c->aor = dup_or_null(o->aor);
	c->auth_user = dup_or_null(o->auth_user);
	c->password = dup_or_null(o->password);
	c->ha1 = dup_or_null(o->ha1);
	c->registrar = dup_or_null(o->registrar);
	c->outbound_proxy = dup_or_null(o->outbound_proxy);
	c->play_file = dup_or_null(o->play_file);
	c->codecs = xcalloc(o->ncodecs + 1, sizeof(char *));
	for (size_t i = 0; i < o->ncodecs; i++)
		c->codecs[i] = xstrdup(o->codecs[i]);
	return c;
}

static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = dup_or_null(v);
}

/* What to change in b (and sometimes a), starting from two equal copies. */
enum mutation {
	MUT_NONE,
	MUT_LINE,
	MUT_DISPLAY_BOTH_NULL,
	MUT_NAME,
	MUT_DISPLAY_NULL,
	MUT_AOR,
	MUT_AUTH_USER,
	MUT_PASSWORD,
	MUT_PASSWORD_TO_HA1,
	MUT_REGISTRAR,
	MUT_PROXY,
	MUT_TRANSPORT,
	MUT_REGISTER,
	MUT_EXPIRES,
	MUT_RETRY_BASE,
	MUT_RETRY_MAX,
	MUT_RETRY_FATAL,
	MUT_INCOMING,
	MUT_CODEC_DROPPED,
	MUT_CODEC_ORDER,
	MUT_CODEC_RENAMED,
	MUT_RING_TIMEOUT,
	MUT_REJECT_CODE,
	MUT_CALL_TIMEOUT,
	MUT_LATE_OFFER,
	MUT_SESSION_EXPIRES,
	MUT_FOLLOW_REDIRECTS,
	MUT_MEDIA,
	MUT_PLAY_FILE_ADDED,
	MUT_PLAY_FILE_BOTH,
	MUT_PLAY_FILE_CHANGED,
	MUT_QUALIFY_INTERVAL,
	MUT_QUALIFY_TIMEOUT,
	MUT_QUALIFY_UP,
	MUT_QUALIFY_DOWN,
};

static void
mutate(enum mutation m, struct account_cfg *a, struct account_cfg *b)
{
	char *t;

	switch (m) {
	case MUT_NONE:
		break;
	case MUT_LINE:
		b->line = 99;
		break;
	case MUT_DISPLAY_BOTH_NULL:
		set_str(&a->display_name, NULL);
		set_str(&b->display_name, NULL);
		break;
	case MUT_NAME:
		set_str(&b->name, "other");
		break;
	case MUT_DISPLAY_NULL:
		set_str(&b->display_name, NULL);
		break;
	case MUT_AOR:
		set_str(&b->aor, "sip:x@example.org");
		break;
	case MUT_AUTH_USER:
		set_str(&b->auth_user, "x");
		break;
	case MUT_PASSWORD:
		set_str(&b->password, "Secret");
		break;
	case MUT_PASSWORD_TO_HA1:
		set_str(&b->password, NULL);
		set_str(&b->ha1, HEX32);
		break;
	case MUT_REGISTRAR:
		set_str(&b->registrar, "sips:example.com");
		break;
	case MUT_PROXY:
		set_str(&b->outbound_proxy, "sip:proxy.example.com");
		break;
	case MUT_TRANSPORT:
		b->transport = ACCOUNT_TRANSPORT_TCP;
		break;
	case MUT_REGISTER:
		b->register_on = false;
		break;
	case MUT_EXPIRES:
		b->expires++;
		break;
	case MUT_RETRY_BASE:
		b->retry_base++;
		break;
	case MUT_RETRY_MAX:
		b->retry_max++;
		break;
	case MUT_RETRY_FATAL:
		b->retry_fatal++;
		break;
	case MUT_INCOMING:
		b->incoming = ACCOUNT_INCOMING_ANSWER;
		break;
	case MUT_CODEC_DROPPED:
		set_str(&b->codecs[--b->ncodecs], NULL);
		break;
	case MUT_CODEC_ORDER:
		t = b->codecs[0];
		b->codecs[0] = b->codecs[1];
		b->codecs[1] = t;
		break;
	case MUT_CODEC_RENAMED:
		set_str(&b->codecs[1], "G722");
		break;
	case MUT_RING_TIMEOUT:
		b->ring_timeout++;
		break;
	case MUT_REJECT_CODE:
		b->reject_code = 603;
		break;
	case MUT_CALL_TIMEOUT:
		b->call_timeout++;
		break;
	case MUT_LATE_OFFER:
		b->late_offer = true;
		break;
	case MUT_SESSION_EXPIRES:
		b->session_expires = 0;
		break;
	case MUT_FOLLOW_REDIRECTS:
		b->follow_redirects = true;
		break;
	case MUT_MEDIA:
		b->media = RTP_MODE_ECHO;
		break;
	case MUT_PLAY_FILE_ADDED:
		set_str(&b->play_file, "/x.wav");
		break;
	case MUT_PLAY_FILE_BOTH:
		set_str(&a->play_file, "/x.wav");
		set_str(&b->play_file, "/x.wav");
		break;
	case MUT_PLAY_FILE_CHANGED:
		set_str(&a->play_file, "/x.wav");
		set_str(&b->play_file, "/y.wav");
		break;
	case MUT_QUALIFY_INTERVAL:
		b->qualify_interval++;
		break;
	case MUT_QUALIFY_TIMEOUT:
		b->qualify_timeout++;
		break;
	case MUT_QUALIFY_UP:
		b->qualify_up++;
		break;
	case MUT_QUALIFY_DOWN:
		b->qualify_down++;
		break;
	}
}

static const struct {
	const char	*name;
	enum mutation	 m;
	bool		 equal;
} equal_cases[] = {
	{ "identical", MUT_NONE, true },
	{ "only the line differs", MUT_LINE, true },
	{ "both display names NULL", MUT_DISPLAY_BOTH_NULL, true },
	{ "name", MUT_NAME, false },
	{ "display_name NULL on one side", MUT_DISPLAY_NULL, false },
	{ "aor", MUT_AOR, false },
	{ "auth_user", MUT_AUTH_USER, false },
	{ "password (case)", MUT_PASSWORD, false },
	{ "password replaced by ha1", MUT_PASSWORD_TO_HA1, false },
	{ "registrar", MUT_REGISTRAR, false },
	{ "outbound_proxy added", MUT_PROXY, false },
	{ "transport", MUT_TRANSPORT, false },
	{ "register", MUT_REGISTER, false },
	{ "expires", MUT_EXPIRES, false },
	{ "retry base", MUT_RETRY_BASE, false },
	{ "retry max", MUT_RETRY_MAX, false },
	{ "retry fatal", MUT_RETRY_FATAL, false },
	{ "incoming", MUT_INCOMING, false },
	{ "a codec fewer", MUT_CODEC_DROPPED, false },
	{ "codec order", MUT_CODEC_ORDER, false },
	{ "a codec renamed", MUT_CODEC_RENAMED, false },
	{ "ring_timeout", MUT_RING_TIMEOUT, false },
	{ "reject_code", MUT_REJECT_CODE, false },
	{ "call_timeout", MUT_CALL_TIMEOUT, false },
	{ "sdp", MUT_LATE_OFFER, false },
	{ "session_expires", MUT_SESSION_EXPIRES, false },
	{ "follow_redirects", MUT_FOLLOW_REDIRECTS, false },
	{ "media", MUT_MEDIA, false },
	{ "play_file added", MUT_PLAY_FILE_ADDED, false },
	{ "the same play_file", MUT_PLAY_FILE_BOTH, true },
	{ "another play_file", MUT_PLAY_FILE_CHANGED, false },
	{ "qualify.interval", MUT_QUALIFY_INTERVAL, false },
	{ "qualify.timeout", MUT_QUALIFY_TIMEOUT, false },
	{ "qualify.up", MUT_QUALIFY_UP, false },
	{ "qualify.down", MUT_QUALIFY_DOWN, false },
};

START_TEST(test_cfg_equal)
{
	struct account_cfg *a = cfg_new("alice");
	struct account_cfg *b = cfg_clone(a);

	mutate(equal_cases[_i].m, a, b);
	ck_assert_msg(account_cfg_equal(a, b) == equal_cases[_i].equal,
	    "%s: a == b", equal_cases[_i].name);
	ck_assert_msg(account_cfg_equal(b, a) == equal_cases[_i].equal,
	    "%s: b == a", equal_cases[_i].name);
	ck_assert(account_cfg_equal(a, a));
	account_cfg_free(a);
	account_cfg_free(b);
}
END_TEST

/* account_cfg_dup() copies the call keys, play_file into its own memory. */
START_TEST(test_cfg_dup_calls)
{
	struct account_cfg *a = cfg_new("alice"), *d;

	a->ring_timeout = 5;
	a->reject_code = 603;
	a->call_timeout = 7;
	a->late_offer = true;
	a->session_expires = 0;
	a->follow_redirects = true;
	a->media = RTP_MODE_PLAY;
	a->play_file = xstrdup("/x.wav");
	d = account_cfg_dup(a);
	ck_assert(account_cfg_equal(a, d));
	ck_assert_int_eq(d->ring_timeout, 5);
	ck_assert_int_eq(d->reject_code, 603);
	ck_assert_int_eq(d->call_timeout, 7);
	ck_assert(d->late_offer);
	ck_assert_int_eq(d->session_expires, 0);
	ck_assert(d->follow_redirects);
	ck_assert_int_eq(d->media, RTP_MODE_PLAY);
	ck_assert_ptr_ne(d->play_file, a->play_file);
	ck_assert_str_eq(d->play_file, "/x.wav");
	/* each frees its own (ASan: no double free) */
	account_cfg_free(a);
	account_cfg_free(d);
}
END_TEST

/* Collects event lines. */
struct sink {
	struct strbuf	 lines;
	int		 count;
};

static void
sink_deliver(const struct events_event *ev, void *arg)
{
	struct sink *s = arg;

	control_event_format(&s->lines, ev);
	s->count++;
}

/* The n-th line (from 0) of the sink holds every fragment in frags. */
static void
sink_expect(const struct sink *s, int n, const char *const *frags)
{
	const char *p = s->lines.p;
	char *line;

	for (int i = 0; i < n && p != NULL; i++) {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	ck_assert_msg(p != NULL && *p != '\0', "no event line %d in:\n%s", n,
	    s->lines.p);
	line = xstrndup(p, strcspn(p, "\n"));
	for (; *frags != NULL; frags++)
		ck_assert_msg(strstr(line, *frags) != NULL,
		    "event %d \"%s\" lacks \"%s\"", n, line, *frags);
	free(line);
}

static struct account_cfg **
load_accounts(const char *text, size_t *n)
{
	struct load ld;
	struct account_cfg **accts;
	char *dump;

	load_text(&ld, text, 0600);
	dump = msgs_dump(&ld.msgs);
	ck_assert_msg(ld.rc == 0, "\n%s", dump);
	free(dump);
	accts = config_take_accounts(ld.cfg, n);
	load_free(&ld);
	return accts;
}

static void
events_teardown(void)
{
	events_shutdown();
}

START_TEST(test_apply_diff)
{
	static const char start[] =
	    "accounts = (\n"
	    "  { name = \"alice\"; aor = \"sip:alice@example.com\";\n"
	    "    register = false; },\n"
	    "  { name = \"bob\"; aor = \"sip:bob@example.com\"; },\n"
	    "  { name = \"carol\"; aor = \"sip:carol@example.com\"; }\n"
	    ");\n";
	/* alice removed, dave added (not registering), bob unchanged but
	   on other lines, carol changed (stops registering) */
	static const char reload[] =
	    "# reloaded\n"
	    "accounts = (\n"
	    "  { name = \"dave\"; aor = \"sip:dave@example.com\";\n"
	    "    register = false; },\n"
	    "\n"
	    "  { name = \"bob\";\n"
	    "    aor = \"sip:bob@example.com\"; },\n"
	    "  { name = \"carol\"; aor = \"sip:carol@example.com\";\n"
	    "    register = false; }\n"
	    ");\n";
	struct account_set set;
	struct account_diff diff;
	struct account_cfg **cfgs, *bob_cfg, *carol_new_cfg;
	struct account *bob, *carol;
	struct sink sink = { STRBUF_INIT, 0 };
	struct events_sub *sub;
	size_t n;

	account_set_init(&set);
	sub = events_subscribe(EVENTS_KIND_ACCOUNT, NULL, sink_deliver, &sink);
	ck_assert_int_eq(sink.count, 1);	/* EVENT sync */

	/* start-up: quiet, nothing published */
	cfgs = load_accounts(start, &n);
	ck_assert_uint_eq(n, 3);
	account_set_apply(&set, cfgs, n, true, &diff);
	ck_assert_uint_eq(diff.added, 3);
	ck_assert_uint_eq(diff.removed, 0);
	ck_assert_uint_eq(diff.changed, 0);
	ck_assert_uint_eq(diff.unchanged, 0);
	ck_assert_int_eq(sink.count, 1);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_str_eq(set.items[0]->cfg->name, "alice");
	ck_assert_str_eq(set.items[1]->cfg->name, "bob");
	ck_assert_str_eq(set.items[2]->cfg->name, "carol");
	for (size_t i = 0; i < set.n; i++)
		ck_assert_int_eq(set.items[i]->change, ACCOUNT_UNCHANGED);
	ck_assert_int_eq(set.items[0]->reg_state, REG_STATE_DISABLED);
	ck_assert_int_eq(set.items[1]->reg_state, REG_STATE_UNREGISTERED);
	ck_assert_int_eq(set.items[2]->reg_state, REG_STATE_UNREGISTERED);
	ck_assert_uint_eq(account_set_registered(&set), 0);

	bob = account_set_find(&set, "bob");
	ck_assert_ptr_nonnull(bob);
	bob_cfg = bob->cfg;

	/* reload: one of each kind */
	cfgs = load_accounts(reload, &n);
	ck_assert_uint_eq(n, 3);
	carol_new_cfg = cfgs[2];
	account_set_apply(&set, cfgs, n, false, &diff);
	ck_assert_uint_eq(diff.added, 1);
	ck_assert_uint_eq(diff.removed, 1);
	ck_assert_uint_eq(diff.changed, 1);
	ck_assert_uint_eq(diff.unchanged, 1);

	ck_assert_uint_eq(set.n, 3);
	ck_assert_ptr_null(account_set_find(&set, "alice"));
	ck_assert_str_eq(set.items[0]->cfg->name, "dave");
	ck_assert_int_eq(set.items[0]->change, ACCOUNT_ADDED);
	ck_assert_int_eq(set.items[0]->reg_state, REG_STATE_DISABLED);

	/* unchanged: the same object, with its old settings */
	ck_assert_ptr_eq(set.items[1], bob);
	ck_assert_ptr_eq(account_set_find(&set, "bob"), bob);
	ck_assert_int_eq(bob->change, ACCOUNT_UNCHANGED);
	ck_assert_ptr_eq(bob->cfg, bob_cfg);
	ck_assert_int_eq(bob->reg_state, REG_STATE_UNREGISTERED);

	/* changed: the new settings; register turned off disables it */
	carol = set.items[2];
	ck_assert_ptr_eq(account_set_find(&set, "carol"), carol);
	ck_assert_int_eq(carol->change, ACCOUNT_CHANGED);
	ck_assert_ptr_eq(carol->cfg, carol_new_cfg);
	ck_assert(!carol->cfg->register_on);
	ck_assert_int_eq(carol->reg_state, REG_STATE_DISABLED);

	/* published: removed first, then in config order */
	ck_assert_int_eq(sink.count, 1 + 5);
	sink_expect(&sink, 1, (const char *const[]){ "EVENT account.removed ",
	    "account=alice", "aor=sip:alice@example.com", NULL });
	sink_expect(&sink, 2, (const char *const[]){ "EVENT account.added ",
	    "account=dave", NULL });
	sink_expect(&sink, 3, (const char *const[]){ "EVENT account.state ",
	    "account=dave", "state=disabled", NULL });
	sink_expect(&sink, 4, (const char *const[]){ "EVENT account.changed ",
	    "account=carol", NULL });
	sink_expect(&sink, 5, (const char *const[]){ "EVENT account.state ",
	    "account=carol", "state=disabled", NULL });

	/* the same file again: all unchanged, nothing published */
	cfgs = load_accounts(reload, &n);
	account_set_apply(&set, cfgs, n, false, &diff);
	ck_assert_uint_eq(diff.unchanged, 3);
	ck_assert_uint_eq(diff.added + diff.removed + diff.changed, 0);
	ck_assert_ptr_eq(set.items[1], bob);
	for (size_t i = 0; i < set.n; i++)
		ck_assert_int_eq(set.items[i]->change, ACCOUNT_UNCHANGED);
	ck_assert_int_eq(sink.count, 6);

	/* an empty file: everything removed */
	cfgs = load_accounts("accounts = ( );\n", &n);
	account_set_apply(&set, cfgs, n, false, &diff);
	ck_assert_uint_eq(diff.removed, 3);
	ck_assert_uint_eq(set.n, 0);
	ck_assert_int_eq(sink.count, 9);

	account_set_clear(&set);
	events_unsubscribe(sub);
	strbuf_free(&sink.lines);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_diag_case, 0, (int)NELEM(diag_cases));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_too_many_errors);
	tcase_add_test(tc, test_too_many_accounts);
	tcase_add_test(tc, test_include);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_shipped_config);
	tcase_add_loop_test(tc, test_defaults, 0, (int)NELEM(defaults_texts));
	tcase_add_loop_test(tc, test_account_defaults, 0,
	    (int)NELEM(aor_cases));
	tcase_add_test(tc, test_explicit_values);
	tcase_add_test(tc, test_codecs_canonical);
	tcase_add_loop_test(tc, test_ok_case, 0, (int)NELEM(ok_cases));
	tcase_add_test(tc, test_ok_values);
	tcase_add_loop_test(tc, test_secret_warning, 0,
	    (int)NELEM(secret_cases));
	tcase_add_test(tc, test_take_accounts);
	tcase_add_loop_test(tc, test_media_address_default, 0,
	    (int)NELEM(media_address_cases));
	tcase_add_test(tc, test_play_file_unreadable);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *
account_suite(void)
{
	Suite *s = suite_create("account");
	TCase *tc = tcase_create("set");

	tcase_add_checked_fixture(tc, NULL, events_teardown);
	tcase_add_loop_test(tc, test_cfg_equal, 0, (int)NELEM(equal_cases));
	tcase_add_test(tc, test_cfg_dup_calls);
	tcase_add_test(tc, test_apply_diff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_add_suite(sr, account_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
