/* Slice helpers that are too long to inline (see slice.h). */
#include <errno.h>

#include "slice.h"

static bool
slice_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct slice
slice_trim(struct slice s)
{
	while (s.n > 0 && slice_is_ws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && slice_is_ws(s.p[s.n - 1]))
		s.n--;
	return s;
}

int
slice_to_u64(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0)
		return EINVAL;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d;

		if (s.p[i] < '0' || s.p[i] > '9')
			return EINVAL;
		d = (unsigned)(s.p[i] - '0');
		if (d > max || v > (max - d) / 10)
			return ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
