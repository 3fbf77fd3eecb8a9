/*
 * Control commands: one table entry per command (name, argument count,
 * usage, summary, access, handler) drives dispatch, the arity check, the
 * read-only check, "help" and the usage text of errors, so they cannot
 * drift apart.  Handlers fill a struct cmd_reply; control.c frames it.
 */
#ifndef SIPX_DAEMON_CMD_H
#define SIPX_DAEMON_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

struct control_client;

struct cmd_reply {
	bool		 ok;
	struct strbuf	 status;	/* the status line, no newline */
	struct strbuf	 data;		/* complete data lines */
	bool		 in_record;
	bool		 close_after;	/* "quit" */
	/* "events": subscribe once the reply is out, so the snapshot
	 * follows the OK instead of preceding it. */
	bool		 subscribe;
	unsigned	 sub_kinds;
	const char	*sub_account;	/* points into the request line */
};

struct cmd_ctx {
	bool			 readonly;	/* read-only socket */
	struct control_client	*client;
	const struct cmd_entry	*entry;		/* being run */
};

typedef void cmd_handler(struct cmd_ctx *, int argc, char **argv,
    struct cmd_reply *);

enum cmd_access {
	CMD_READ,		/* allowed on the read-only socket */
	/* changes state, sends SIP or shows SIP messages: full socket
	 * only (DESIGN.md: the read-only socket changes nothing and sends
	 * nothing) */
	CMD_WRITE,
};

struct cmd_entry {
	const char	*name;
	int		 min_args;	/* not counting the name */
	int		 max_args;	/* -1: no limit */
	enum cmd_access	 access;
	const char	*usage;		/* arguments, e.g. "[COMMAND]" */
	const char	*summary;
	cmd_handler	*handler;
};

struct cmd_table {
	const struct cmd_entry	*entries;
	size_t			 n;
};

void	cmd_reply_init(struct cmd_reply *);
void	cmd_reply_reset(struct cmd_reply *);
void	cmd_reply_free(struct cmd_reply *);
void	cmd_reply_ok(struct cmd_reply *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	cmd_reply_err(struct cmd_reply *, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	cmd_reply_usage(struct cmd_reply *, const struct cmd_entry *);
/* Records: begin, add fields, end (one data line). */
void	cmd_record_begin(struct cmd_reply *);
void	cmd_record_kv(struct cmd_reply *, const char *key, const char *value);
void	cmd_record_kvf(struct cmd_reply *, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	cmd_record_end(struct cmd_reply *);

/* The id of a job (call, subscription): decimal, no sign, > 0; 0 or
 * EINVAL. */
int	cmd_id_parse(const char *, uint64_t *id);

/* An unsigned decimal in [min, max], nothing else; 0 or EINVAL. */
int	cmd_uint_parse(const char *, unsigned min, unsigned max,
	    unsigned *out);

const struct cmd_entry *cmd_find(const struct cmd_table *, const char *name);
/*
 * Runs argv[0] from the table: unknown command, wrong arity and
 * read-only violations are answered here; the handler sees only calls
 * that passed those checks.
 */
void	cmd_dispatch(const struct cmd_table *, struct cmd_ctx *, int argc,
	    char **argv, struct cmd_reply *);
/* The "help [COMMAND]" reply, generated from the table. */
void	cmd_help(const struct cmd_table *, const char *only,
	    struct cmd_reply *);

#endif
