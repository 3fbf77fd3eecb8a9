/*
 * Allocation wrappers: abort on failure (see xalloc.h), and the one
 * place that knows the C library's allocator (xalloc_trim).  Writes the message
 * with write(2) because stdio may itself need memory.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

static void
xalloc_die(void)
{
	static const char msg[] = "fatal: out of memory\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		xalloc_die();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		xalloc_die();
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		xalloc_die();
	return p;
}

void *
xreallocarray(void *old, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		xalloc_die();
	return xrealloc(old, nmemb * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	/* An empty slice may have no pointer: memcpy from NULL is UB. */
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
xalloc_trim(void)
{
#ifdef __GLIBC__
	return malloc_trim(0);
#else
	return 0;
#endif
}
