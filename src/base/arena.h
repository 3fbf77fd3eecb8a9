/*
 * A bump allocator: many small allocations that all die together (the
 * typed fields of one parsed SIP message).  The first block lives inside
 * the arena struct, so a small message costs no allocation beyond its
 * own; further blocks are malloc'd and freed with the arena.
 */
#ifndef SIPX_BASE_ARENA_H
#define SIPX_BASE_ARENA_H

#include <stddef.h>

#define ARENA_INLINE	2048

struct arena_block;

struct arena {
	char			*cur;	/* next free byte */
	char			*end;
	struct arena_block	*blocks;	/* malloc'd, newest first */
	_Alignas(16) char	 first[ARENA_INLINE];
};

void	 arena_init(struct arena *);
/* Zero-filled, aligned for any type; never NULL (aborts on OOM). */
void	*arena_alloc(struct arena *, size_t);
/* Copies n bytes and adds a NUL. */
char	*arena_strndup(struct arena *, const char *, size_t);
/* Frees every block; the arena is empty and usable again. */
void	 arena_reset(struct arena *);
void	 arena_free(struct arena *);

#endif
