/* Random tokens for tags, Call-IDs and branches (OpenSSL's CSPRNG). */
#ifndef SIPX_BASE_RANDOM_H
#define SIPX_BASE_RANDOM_H

#include <stddef.h>

/*
 * Writes 2 * nbytes lower-case hex digits and a NUL to out (which holds
 * at least 2 * nbytes + 1 bytes).  A failing generator is fatal: a
 * predictable tag or branch is worse than no daemon.
 */
void	random_hex(char *out, size_t nbytes);

#endif
