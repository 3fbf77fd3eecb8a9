/* The process's id counter (ids.h); single-threaded like the loop. */
#include "ids.h"

static uint64_t ids_last;

uint64_t
ids_next(void)
{
	return ++ids_last;
}
