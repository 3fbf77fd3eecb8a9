/*
 * Credential masking (see sip_redact.h).  A small scanner over the
 * header section: header names are matched without regard to case and
 * with any whitespace before the colon; a field's value runs over its
 * folded continuation lines (RFC 3261 §7.3.1); parameters are
 * "name LWS = LWS value" with a token or quoted-string value (RFC 3261
 * §25.1), so a parameter name inside a quoted value is never taken for
 * one.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sip_redact.h"

static const char *const redact_headers[] = {
	"authorization", "proxy-authorization", "authentication-info",
	"proxy-authentication-info", NULL,
};

/* Digest parameters that let an eavesdropper attack the password. */
static const char *const redact_params[] = {
	"response", "cnonce", "rspauth", "auts", "password", NULL,
};

static bool
redact_in(const char *const *list, const char *p, size_t n)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strlen(list[i]) == n && strncasecmp(list[i], p, n) == 0)
			return true;
	return false;
}

static bool
redact_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 §25.1 token characters. */
static bool
redact_tokenc(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-.!%*_+`'~", c) != NULL;
}

/* RFC 7235 §2.1 token68 characters (before the '=' padding). */
static bool
redact_token68c(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-._~+/", c) != NULL;
}

static size_t
redact_skip_lws(const char *v, size_t i, size_t n)
{
	while (i < n && redact_lws(v[i]))
		i++;
	return i;
}

/* End of a quoted-string starting at v[i] == '"' (past its close). */
static size_t
redact_quoted_end(const char *v, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (v[i] == '\\' && i + 1 < n)
			i++;
		else if (v[i] == '"')
			return i + 1;
	}
	return n;
}

/* The value of one credentials/auth-info field, masked into out. */
static void
redact_value(struct strbuf *out, const char *v, size_t n)
{
	bool after_scheme = false, digest = true;
	size_t i = 0, j, k, e;

	while (i < n) {
		if (redact_lws(v[i]) || v[i] == ',') {
			strbuf_addc(out, v[i++]);
			continue;
		}
		if (after_scheme && !digest) {
			/* Basic/Bearer: a token68 is the whole secret. */
			for (j = i; j < n && redact_token68c(v[j]); j++)
				;
			while (j < n && v[j] == '=')
				j++;
			k = redact_skip_lws(v, j, n);
			if (j > i && (k == n || v[k] == ',')) {
				strbuf_adds(out, SIP_REDACT_MASK);
				i = j;
				after_scheme = false;
				continue;
			}
		}
		if (v[i] == '"') {
			e = redact_quoted_end(v, i, n);
			strbuf_add(out, v + i, e - i);
			i = e;
			continue;
		}
		for (j = i; j < n && redact_tokenc(v[j]); j++)
			;
		if (j == i) {
			strbuf_addc(out, v[i++]);
			continue;
		}
		k = redact_skip_lws(v, j, n);
		if (k == n || v[k] != '=') {
			/* A scheme: "Digest", "Basic", ... */
			digest = j - i == 6 &&
			    strncasecmp(v + i, "digest", 6) == 0;
			after_scheme = true;
			strbuf_add(out, v + i, j - i);
			i = j;
			continue;
		}
		after_scheme = false;
		k = redact_skip_lws(v, k + 1, n);
		if (k < n && v[k] == '"')
			e = redact_quoted_end(v, k, n);
		else
			for (e = k; e < n && !redact_lws(v[e]) && v[e] != ',';
			    e++)
				;
		strbuf_add(out, v + i, k - i);	/* name, LWS, '=', LWS */
		if (redact_in(redact_params, v + i, j - i)) {
			bool quoted = k < n && v[k] == '"';

			if (quoted)
				strbuf_addc(out, '"');
			strbuf_adds(out, SIP_REDACT_MASK);
			if (quoted)
				strbuf_addc(out, '"');
		} else
			strbuf_add(out, v + k, e - k);
		i = e;
	}
}

/* Length of the line at p (its LF included), within end. */
static size_t
redact_line_len(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
}

void
sip_redact(struct strbuf *out, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	size_t n;

	/* The start line. */
	n = redact_line_len(p, end);
	strbuf_add(out, p, n);
	p += n;
	while (p < end) {
		const char *colon, *name_end, *v, *vend;

		n = redact_line_len(p, end);
		/* The empty line: the body follows, copied as it is. */
		if (p[0] == '\n' || (p[0] == '\r' && n >= 2 && p[1] == '\n')) {
			strbuf_add(out, p, (size_t)(end - p));
			return;
		}
		colon = memchr(p, ':', n);
		name_end = colon;
		while (name_end != NULL && name_end > p &&
		    (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		if (colon == NULL ||
		    !redact_in(redact_headers, p, (size_t)(name_end - p))) {
			strbuf_add(out, p, n);
			p += n;
			continue;
		}
		/* The value runs over folded lines (SP or HT first). */
		v = colon + 1;
		vend = p + n;
		while (vend < end && (*vend == ' ' || *vend == '\t'))
			vend += redact_line_len(vend, end);
		/* Keep the field's own line end out of the value. */
		n = 0;
		if (vend > v && vend[-1] == '\n')
			n++;
		if (vend - n > v && vend[-1 - n] == '\r')
			n++;
		strbuf_add(out, p, (size_t)(v - p));
		redact_value(out, v, (size_t)(vend - n - v));
		strbuf_add(out, vend - n, n);
		p = vend;
	}
}
