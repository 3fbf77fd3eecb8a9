/*
 * libFuzzer target for the RFC 3842 message-summary parser: any bytes
 * must parse or fail with a reason, without reading out of bounds; a
 * summary that parses must have its account inside the input, counts
 * within the limit, and no class marked present on failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_mwi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_mwi m;
	const char *why = NULL;
	char *buf;
	int rc;

	/* An exact-size copy, so that ASan sees any read past the end. */
	buf = malloc(size > 0 ? size : 1);
	memcpy(buf, data, size);
	rc = sip_mwi_parse(&m, buf, size, &why);
	if (rc != 0) {
		if (why == NULL || (rc != EINVAL && rc != ERANGE &&
		    rc != EMSGSIZE))
			abort();
		goto out;
	}
	if (why != NULL)
		abort();
	if (m.account.n > 0 && (m.account.p < buf ||
	    m.account.p + m.account.n > buf + size))
		abort();
	for (int i = 0; i < SIP_MWI_CLASS__COUNT; i++) {
		const struct sip_mwi_counts *k = &m.cls[i];

		if (k->new_msgs > SIP_MWI_COUNT_MAX ||
		    k->old_msgs > SIP_MWI_COUNT_MAX ||
		    k->new_urgent > SIP_MWI_COUNT_MAX ||
		    k->old_urgent > SIP_MWI_COUNT_MAX)
			abort();
		if (!k->present && (k->new_msgs | k->old_msgs |
		    k->new_urgent | k->old_urgent) != 0)
			abort();
	}
out:
	free(buf);
	return 0;
}
