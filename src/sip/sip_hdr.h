/*
 * SIP header names: the ids the stack knows, their canonical spelling,
 * their compact forms (RFC 3261 §7.3.3 and later RFCs), their rank in
 * the order sipxd writes headers, and whether a header may carry a
 * comma-separated list.  Lookup is case-insensitive and allocation-free.
 */
#ifndef SIPX_SIP_HDR_H
#define SIPX_SIP_HDR_H

#include <stdbool.h>

#include "base/slice.h"

enum sip_hdr_id {
	SIP_HDR_OTHER,			/* unknown: kept verbatim */
	SIP_HDR_VIA,
	SIP_HDR_FROM,
	SIP_HDR_TO,
	SIP_HDR_CALL_ID,
	SIP_HDR_CSEQ,
	SIP_HDR_CONTACT,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_EXPIRES,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_ALLOW,
	SIP_HDR_SUPPORTED,
	SIP_HDR_REQUIRE,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALLOW_EVENTS,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_EVENT,
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_REFER_TO,
	SIP_HDR_REFERRED_BY,
	SIP_HDR_USER_AGENT,
	SIP_HDR_SERVER,
	SIP_HDR_SUBJECT,
	SIP_HDR_DATE,
	SIP_HDR_TIMESTAMP,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_PRIORITY,
	SIP_HDR_WARNING,
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING,
	SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR__COUNT
};

/* The id of a header name as written (any case, long or compact). */
enum sip_hdr_id	 sip_hdr_lookup(const char *name, size_t n);
/* Canonical long name ("Call-ID"); NULL for SIP_HDR_OTHER. */
const char	*sip_hdr_name(enum sip_hdr_id);
/*
 * Rank in the order sipxd writes headers: Via, From, To, Call-ID, CSeq,
 * Contact, Max-Forwards, Route/Record-Route, Authorization, others,
 * Content-Type, Content-Length last.
 */
int		 sip_hdr_rank(enum sip_hdr_id);
/* True for headers whose grammar is a comma-separated list (§7.3.1). */
bool		 sip_hdr_is_list(enum sip_hdr_id);

#endif
