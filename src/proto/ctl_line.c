/*
 * Control line codec (see ctl_line.h).  The grammar is deliberately
 * shell-like and small: a client in any language can produce it with a
 * few lines of code, and a human can type it.
 */
#include <errno.h>
#include <string.h>

#include "ctl_line.h"

static bool
ctl_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Control characters other than tab are never valid on a line. */
static bool
ctl_is_forbidden(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

int
ctl_line_split(char *line, size_t len, struct ctl_tokens *out,
    const char **why)
{
	size_t i = 0;
	char *w;

	out->argc = 0;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';

	for (;;) {
		while (i < len && ctl_is_space(line[i]))
			i++;
		if (i >= len)
			break;
		if (out->argc == SIPX_CTL_TOKENS_MAX) {
			*why = "too many tokens";
			return EINVAL;
		}
		/* Writing never overtakes reading: unescaping only shrinks. */
		w = line + i;
		out->argv[out->argc++] = w;
		while (i < len && !ctl_is_space(line[i])) {
			unsigned char c = (unsigned char)line[i];

			if (ctl_is_forbidden(c)) {
				*why = "control character in line";
				return EINVAL;
			}
			if (c != '"') {
				*w++ = line[i++];
				continue;
			}
			i++;	/* opening quote */
			for (;;) {
				if (i >= len) {
					*why = "unbalanced double quote";
					return EINVAL;
				}
				c = (unsigned char)line[i++];
				if (c == '"')
					break;
				if (ctl_is_forbidden(c)) {
					*why = "control character in line";
					return EINVAL;
				}
				if (c != '\\') {
					*w++ = (char)c;
					continue;
				}
				if (i >= len) {
					*why = "unbalanced double quote";
					return EINVAL;
				}
				switch (line[i++]) {
				case '\\': *w++ = '\\'; break;
				case '"': *w++ = '"'; break;
				case 'n': *w++ = '\n'; break;
				case 't': *w++ = '\t'; break;
				case 'r': *w++ = '\r'; break;
				default:
					*why = "unknown backslash escape";
					return EINVAL;
				}
			}
		}
		/* The separator (or the end) becomes the terminator. */
		if (i < len)
			i++;
		*w = '\0';
	}
	out->argv[out->argc] = NULL;
	return 0;
}

bool
ctl_key_valid(const char *key, size_t n)
{
	if (n == 0 || !(key[0] >= 'a' && key[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int
ctl_kv_split(char *tok, char **key, char **value)
{
	char *eq = strchr(tok, '=');

	if (eq == NULL || !ctl_key_valid(tok, (size_t)(eq - tok)))
		return EINVAL;
	*eq = '\0';
	*key = tok;
	*value = eq + 1;
	return 0;
}

bool
ctl_value_needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

void
ctl_append_value(struct strbuf *sb, const char *s, size_t n)
{
	if (!ctl_value_needs_quotes(s, n)) {
		strbuf_add(sb, s, n);
		return;
	}
	strbuf_reserve(sb, n + 2);
	strbuf_addc(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': strbuf_add(sb, "\\\"", 2); break;
		case '\\': strbuf_add(sb, "\\\\", 2); break;
		case '\n': strbuf_add(sb, "\\n", 2); break;
		case '\t': strbuf_add(sb, "\\t", 2); break;
		case '\r': strbuf_add(sb, "\\r", 2); break;
		default:
			/* Other control bytes have no escape: drop, never
			 * let them break the line structure. */
			if (c < 0x20 || c == 0x7f)
				strbuf_addc(sb, '?');
			else
				strbuf_addc(sb, (char)c);
		}
	}
	strbuf_addc(sb, '"');
}

void
ctl_append_kv(struct strbuf *sb, const char *key, const char *value)
{
	if (sb->n > 0 && sb->p[sb->n - 1] != '\n')
		strbuf_addc(sb, ' ');
	strbuf_adds(sb, key);
	strbuf_addc(sb, '=');
	ctl_append_value(sb, value, strlen(value));
}
