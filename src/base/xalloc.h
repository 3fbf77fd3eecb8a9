/*
 * Allocation that never returns NULL: running out of memory in a daemon
 * that holds registrations is not recoverable in any useful way, so every
 * allocator here aborts with a message instead of handing NULL upwards.
 */
#ifndef SIPX_BASE_XALLOC_H
#define SIPX_BASE_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

#endif
