/*
 * Credential masking for what sipxd shows of SIP messages (the `trace`
 * stream, logs): works on the raw bytes of one message, so it applies to
 * messages that do not parse too.  In the Authorization,
 * Proxy-Authorization, Authentication-Info and Proxy-Authentication-Info
 * header fields (RFC 3261 §22, RFC 7616 §3.4, §3.5) the values of the
 * digest parameters that prove knowledge of the password (response,
 * cnonce, rspauth, auts, and any "password") become "***", and so does
 * the whole credential of any scheme other than Digest (Basic, Bearer
 * tokens).  Everything else, the body included, is copied unchanged.
 * No I/O, no logging; the output goes into the caller's strbuf.
 */
#ifndef SIPX_SIP_REDACT_H
#define SIPX_SIP_REDACT_H

#include <stddef.h>

#include "base/strbuf.h"

#define SIP_REDACT_MASK	"***"

/* Appends msg[0..len) to out, credentials masked. */
void	sip_redact(struct strbuf *out, const char *msg, size_t len);

#endif
