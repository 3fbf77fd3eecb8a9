/* Random hex tokens (see random.h). */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "random.h"

void
random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];

	while (nbytes > 0) {
		size_t n = nbytes < sizeof(raw) ? nbytes : sizeof(raw);

		if (RAND_bytes(raw, (int)n) != 1) {
			static const char msg[] = "fatal: RAND_bytes failed\n";

			(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
			abort();
		}
		for (size_t i = 0; i < n; i++) {
			*out++ = hex[raw[i] >> 4];
			*out++ = hex[raw[i] & 15];
		}
		nbytes -= n;
	}
	*out = '\0';
}
