/* Bump allocator (see arena.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xalloc.h"

struct arena_block {
	struct arena_block	*next;
	size_t			 size;
	_Alignas(16) char	 data[];
};

#define ARENA_ALIGN	16
#define ARENA_BLOCK_MIN	8192

void
arena_init(struct arena *a)
{
	a->cur = a->first;
	a->end = a->first + sizeof(a->first);
	a->blocks = NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct arena_block *b;
	char *p;

	if (need < n)
		abort();	/* size_t overflow: a caller bug */
	if ((size_t)(a->end - a->cur) < need) {
		size_t size = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;

		b = xmalloc(sizeof(*b) + size);
		b->next = a->blocks;
		b->size = size;
		a->blocks = b;
		a->cur = b->data;
		a->end = b->data + size;
	}
	p = a->cur;
	a->cur += need;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	arena_init(a);
}

void
arena_free(struct arena *a)
{
	arena_reset(a);
}
