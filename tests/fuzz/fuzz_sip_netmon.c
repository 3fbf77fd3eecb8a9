/*
 * libFuzzer target for the rtnetlink parser: any datagram must parse
 * message by message or stop with EBADMSG, never reading outside the
 * input (the input is copied to its exact size), always moving forward,
 * and every message it yields must hold a valid address of its family
 * and NUL-terminated, printable names.
 */
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_netmon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size + 1);
	struct sip_netmon_msg m;
	size_t off = 0, prev;
	char text[64];
	int err;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	for (;;) {
		prev = off;
		err = sip_netmon_parse(copy, size, &off, &m);
		if (err != 0)
			break;
		if (off <= prev || off > size)
			abort();
		check_name(m.ifname, sizeof(m.ifname));
		check_name(m.addr.ifname, sizeof(m.addr.ifname));
		if (m.type == SIP_NETMON_MSG_NEWADDR ||
		    m.type == SIP_NETMON_MSG_DELADDR) {
			if (!(m.addr.addr.ss_family == AF_INET &&
			    m.addr.addrlen == sizeof(struct sockaddr_in)) &&
			    !(m.addr.addr.ss_family == AF_INET6 &&
			    m.addr.addrlen == sizeof(struct sockaddr_in6)))
				abort();
			sip_netmon_addr_str(&m.addr, text, sizeof(text));
			(void)sip_netmon_addr_usable(&m.addr);
		}
		if (m.type == SIP_NETMON_MSG_ERROR &&
		    (m.error < 0 || m.error > 4095))
			abort();
	}
	if (err != ENOENT && err != EBADMSG)
		abort();
	free(copy);
	return 0;
}
