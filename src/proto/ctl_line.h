/*
 * The control protocol's line codec, shared by sipxd and sipxctl: split a
 * line into tokens (spaces, double quotes, backslash escapes inside
 * quotes), split key=value tokens, and write values back with quoting
 * where needed.  See doc/control-protocol.md, "Requests" and "Replies".
 * No I/O, no allocation except into the caller's strbuf.
 */
#ifndef SIPX_PROTO_CTL_LINE_H
#define SIPX_PROTO_CTL_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "base/strbuf.h"

#define CTL_PROTOCOL_VERSION	1

struct ctl_tokens {
	int	 argc;
	char	*argv[SIPX_CTL_TOKENS_MAX + 1];	/* argv[argc] == NULL */
};

/*
 * Splits line[0..len) in place (the bytes are rewritten; tokens end up
 * NUL-terminated inside line, which needs room for len + 1 bytes).
 * A trailing "\n" or "\r\n" is ignored.  Returns 0, or EINVAL with *why
 * set to a static reason (unbalanced quote, bad escape, control
 * character, too many tokens).
 */
int	ctl_line_split(char *line, size_t len, struct ctl_tokens *out,
	    const char **why);

/*
 * For a "key=value" token: points *key and *value into tok (the '=' is
 * replaced by NUL) and returns 0; EINVAL if tok has no '=' or the key is
 * not [a-z][a-z0-9_.-]*.
 */
int	ctl_kv_split(char *tok, char **key, char **value);

bool	ctl_key_valid(const char *key, size_t n);
bool	ctl_value_needs_quotes(const char *s, size_t n);
/* Appends s, quoted and escaped only if it needs it. */
void	ctl_append_value(struct strbuf *, const char *s, size_t n);
/* Appends " key=value" (no leading space when the buffer is empty or
 * ends in a newline). */
void	ctl_append_kv(struct strbuf *, const char *key, const char *value);

#endif
