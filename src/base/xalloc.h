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
/* s may be NULL when n is 0 (an empty slice). */
char	*xstrndup(const char *, size_t);
/*
 * Gives the free memory the allocator holds back to the system (glibc's
 * malloc_trim; elsewhere nothing).  Returns 1 if some was released.
 */
int	 xalloc_trim(void);

#endif
