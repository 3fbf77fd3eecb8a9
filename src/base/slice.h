/*
 * A slice is a pointer and a length into a buffer someone else owns: the
 * message layer's zero-copy fields are slices into the received bytes.
 * A slice is never NUL-terminated; compare and print it with these
 * helpers or "%.*s" (SLICE_FMT / SLICE_ARG).
 */
#ifndef SIPX_BASE_SLICE_H
#define SIPX_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct slice {
	const char	*p;
	size_t		 n;
};

#define SLICE_NULL		((struct slice){ NULL, 0 })
#define SLICE_LIT(s)		((struct slice){ (s), sizeof(s) - 1 })
#define SLICE_FMT		"%.*s"
#define SLICE_ARG(s)		(int)(s).n, (s).p

static inline struct slice
slice_make(const char *p, size_t n)
{
	return (struct slice){ p, n };
}

static inline struct slice
slice_cstr(const char *s)
{
	return (struct slice){ s, s != NULL ? strlen(s) : 0 };
}

static inline bool
slice_empty(struct slice s)
{
	return s.n == 0;
}

/* True if the slice was set (p != NULL), even to an empty value. */
static inline bool
slice_present(struct slice s)
{
	return s.p != NULL;
}

static inline bool
slice_eq(struct slice a, struct slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline bool
slice_eq_cstr(struct slice a, const char *b)
{
	return slice_eq(a, slice_cstr(b));
}

/* ASCII case-insensitive equality (SIP tokens, header names). */
static inline bool
slice_caseeq(struct slice a, struct slice b)
{
	return a.n == b.n && (a.n == 0 || strncasecmp(a.p, b.p, a.n) == 0);
}

static inline bool
slice_caseeq_cstr(struct slice a, const char *b)
{
	return slice_caseeq(a, slice_cstr(b));
}

/* Removes leading and trailing SP, HTAB, CR and LF. */
struct slice	slice_trim(struct slice);
/*
 * Decimal unsigned integer of the whole slice (leading zeros allowed);
 * 0 and *out, or ERANGE above max, EINVAL if not all digits or empty.
 */
int		slice_to_u64(struct slice, uint64_t max, uint64_t *out);

#endif
