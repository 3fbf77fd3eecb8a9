/*
 * libFuzzer target for the config loader: libconfig's parser plus our
 * schema validation.  Any file must load or be rejected with at least
 * one error, never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct sipxd_config *cfg;
	struct config_msgs msgs = { 0 };
	int rc;

	if (size > 65536)
		return 0;
	if (fd == -1) {
		fd = memfd_create("fuzz-config", 0);
		if (fd == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	rc = config_load(path, &cfg, &msgs);
	if (rc != 0 && msgs.nerrors == 0)
		abort();
	config_free(cfg);
	config_msgs_free(&msgs);
	return 0;
}
