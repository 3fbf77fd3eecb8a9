/*
 * Growable buffer (see strbuf.h).  Grows geometrically; never shrinks
 * until freed, so a buffer reused per request stops allocating.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

void
strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t want = sb->n + extra + 1;
	size_t cap;

	if (want <= sb->cap)
		return;
	cap = sb->cap ? sb->cap : 64;
	while (cap < want)
		cap *= 2;
	sb->p = xrealloc(sb->p, cap);
	sb->cap = cap;
}

void
strbuf_add(struct strbuf *sb, const void *data, size_t n)
{
	strbuf_reserve(sb, n);
	if (n > 0)
		memcpy(sb->p + sb->n, data, n);
	sb->n += n;
	sb->p[sb->n] = '\0';
}

void
strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void
strbuf_addc(struct strbuf *sb, char c)
{
	strbuf_reserve(sb, 1);
	sb->p[sb->n++] = c;
	sb->p[sb->n] = '\0';
}

void
strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int len;

	strbuf_reserve(sb, 64);
	va_copy(ap2, ap);
	len = vsnprintf(sb->p + sb->n, sb->cap - sb->n, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return;
	if ((size_t)len >= sb->cap - sb->n) {
		strbuf_reserve(sb, (size_t)len);
		len = vsnprintf(sb->p + sb->n, sb->cap - sb->n, fmt, ap);
		if (len < 0)
			return;
	}
	sb->n += (size_t)len;
}

void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void
strbuf_reset(struct strbuf *sb)
{
	sb->n = 0;
	if (sb->p != NULL)
		sb->p[0] = '\0';
}

void
strbuf_free(struct strbuf *sb)
{
	free(sb->p);
	sb->p = NULL;
	sb->n = sb->cap = 0;
}

char *
strbuf_detach(struct strbuf *sb)
{
	char *p = sb->p ? sb->p : xstrdup("");

	sb->p = NULL;
	sb->n = sb->cap = 0;
	return p;
}
