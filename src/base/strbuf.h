/*
 * A growable byte buffer that always keeps a terminating NUL after its
 * contents, so its data can be handed to string functions directly.
 */
#ifndef SIPX_BASE_STRBUF_H
#define SIPX_BASE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char	*p;
	size_t	 n;	/* bytes used, not counting the NUL */
	size_t	 cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void	strbuf_reserve(struct strbuf *, size_t extra);
void	strbuf_add(struct strbuf *, const void *, size_t);
void	strbuf_adds(struct strbuf *, const char *);
void	strbuf_addc(struct strbuf *, char);
void	strbuf_addf(struct strbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	strbuf_vaddf(struct strbuf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	strbuf_reset(struct strbuf *);
void	strbuf_free(struct strbuf *);
/* Hands the contents to the caller (never NULL) and empties the buffer. */
char	*strbuf_detach(struct strbuf *);

#endif
