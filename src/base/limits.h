/*
 * Every explicit limit on untrusted input, in one place, so that the
 * documentation, the tests and the code agree on the numbers.
 */
#ifndef SIPX_BASE_LIMITS_H
#define SIPX_BASE_LIMITS_H

/* Control protocol (doc/control-protocol.md, "Limits"). */
#define SIPX_CTL_LINE_MAX		4096	/* bytes, line end included */
#define SIPX_CTL_TOKENS_MAX		64
#define SIPX_CTL_CLIENTS_DEFAULT	64
#define SIPX_CTL_CLIENTS_MAX		4096
#define SIPX_CTL_OUTPUT_DEFAULT		(1024 * 1024)
#define SIPX_CTL_OUTPUT_MIN		(64 * 1024)
#define SIPX_CTL_OUTPUT_MAX		(64 * 1024 * 1024)

/* Config file. */
#define SIPX_ACCOUNT_NAME_MAX		64
#define SIPX_ACCOUNTS_MAX		100000
#define SIPX_CONFIG_STRING_MAX		1024

#endif
