/*
 * Header name table (see sip_hdr.h).  Lookup switches on the length and
 * first letter, then compares case-insensitively: a handful of
 * comparisons per header, no hashing, no allocation.
 */
#include <ctype.h>

#include "sip_hdr.h"

static const struct {
	const char	*name;
	int		 rank;
	bool		 list;
} sip_hdrs[SIP_HDR__COUNT] = {
	[SIP_HDR_OTHER] = { NULL, 50, false },
	[SIP_HDR_VIA] = { "Via", 0, true },
	[SIP_HDR_FROM] = { "From", 1, false },
	[SIP_HDR_TO] = { "To", 2, false },
	[SIP_HDR_CALL_ID] = { "Call-ID", 3, false },
	[SIP_HDR_CSEQ] = { "CSeq", 4, false },
	[SIP_HDR_CONTACT] = { "Contact", 5, true },
	[SIP_HDR_MAX_FORWARDS] = { "Max-Forwards", 6, false },
	[SIP_HDR_ROUTE] = { "Route", 7, true },
	[SIP_HDR_RECORD_ROUTE] = { "Record-Route", 7, true },
	[SIP_HDR_AUTHORIZATION] = { "Authorization", 8, false },
	[SIP_HDR_PROXY_AUTHORIZATION] = { "Proxy-Authorization", 8, false },
	[SIP_HDR_WWW_AUTHENTICATE] = { "WWW-Authenticate", 50, false },
	[SIP_HDR_PROXY_AUTHENTICATE] = { "Proxy-Authenticate", 50, false },
	[SIP_HDR_EXPIRES] = { "Expires", 50, false },
	[SIP_HDR_MIN_EXPIRES] = { "Min-Expires", 50, false },
	[SIP_HDR_ALLOW] = { "Allow", 50, true },
	[SIP_HDR_SUPPORTED] = { "Supported", 50, true },
	[SIP_HDR_REQUIRE] = { "Require", 50, true },
	[SIP_HDR_PROXY_REQUIRE] = { "Proxy-Require", 50, true },
	[SIP_HDR_UNSUPPORTED] = { "Unsupported", 50, true },
	[SIP_HDR_ACCEPT] = { "Accept", 50, true },
	[SIP_HDR_ACCEPT_ENCODING] = { "Accept-Encoding", 50, true },
	[SIP_HDR_ACCEPT_LANGUAGE] = { "Accept-Language", 50, true },
	[SIP_HDR_ALLOW_EVENTS] = { "Allow-Events", 50, true },
	[SIP_HDR_RETRY_AFTER] = { "Retry-After", 50, false },
	[SIP_HDR_EVENT] = { "Event", 50, false },
	[SIP_HDR_SUBSCRIPTION_STATE] = { "Subscription-State", 50, false },
	[SIP_HDR_REFER_TO] = { "Refer-To", 50, false },
	[SIP_HDR_REFERRED_BY] = { "Referred-By", 50, false },
	[SIP_HDR_USER_AGENT] = { "User-Agent", 50, false },
	[SIP_HDR_SERVER] = { "Server", 50, false },
	[SIP_HDR_SUBJECT] = { "Subject", 50, false },
	[SIP_HDR_DATE] = { "Date", 50, false },
	[SIP_HDR_TIMESTAMP] = { "Timestamp", 50, false },
	[SIP_HDR_ORGANIZATION] = { "Organization", 50, false },
	[SIP_HDR_PRIORITY] = { "Priority", 50, false },
	[SIP_HDR_WARNING] = { "Warning", 50, true },
	[SIP_HDR_CONTENT_DISPOSITION] = { "Content-Disposition", 50, false },
	[SIP_HDR_CONTENT_ENCODING] = { "Content-Encoding", 50, true },
	[SIP_HDR_CONTENT_LANGUAGE] = { "Content-Language", 50, true },
	[SIP_HDR_CONTENT_TYPE] = { "Content-Type", 90, false },
	[SIP_HDR_CONTENT_LENGTH] = { "Content-Length", 99, false },
};

/* Compact forms (RFC 3261 §7.3.3, 3265, 3515, 3841, 3892, 4028…). */
static enum sip_hdr_id
sip_hdr_compact(char c)
{
	switch (c | 0x20) {
	case 'v': return SIP_HDR_VIA;
	case 'f': return SIP_HDR_FROM;
	case 't': return SIP_HDR_TO;
	case 'i': return SIP_HDR_CALL_ID;
	case 'm': return SIP_HDR_CONTACT;
	case 'e': return SIP_HDR_CONTENT_ENCODING;
	case 'l': return SIP_HDR_CONTENT_LENGTH;
	case 'c': return SIP_HDR_CONTENT_TYPE;
	case 's': return SIP_HDR_SUBJECT;
	case 'k': return SIP_HDR_SUPPORTED;
	case 'o': return SIP_HDR_EVENT;
	case 'r': return SIP_HDR_REFER_TO;
	case 'b': return SIP_HDR_REFERRED_BY;
	case 'u': return SIP_HDR_ALLOW_EVENTS;
	}
	return SIP_HDR_OTHER;
}

enum sip_hdr_id
sip_hdr_lookup(const char *name, size_t n)
{
	enum sip_hdr_id c1 = SIP_HDR_OTHER, c2 = SIP_HDR_OTHER;

	if (n == 1)
		return sip_hdr_compact(name[0]);
	/* At most two candidates share a length and first letter. */
	switch (n) {
	case 2: c1 = SIP_HDR_TO; break;
	case 3: c1 = SIP_HDR_VIA; break;
	case 4:
		switch (name[0] | 0x20) {
		case 'f': c1 = SIP_HDR_FROM; break;
		case 'c': c1 = SIP_HDR_CSEQ; break;
		case 'd': c1 = SIP_HDR_DATE; break;
		}
		break;
	case 5:
		switch (name[0] | 0x20) {
		case 'r': c1 = SIP_HDR_ROUTE; break;
		case 'a': c1 = SIP_HDR_ALLOW; break;
		case 'e': c1 = SIP_HDR_EVENT; break;
		}
		break;
	case 6:
		switch (name[0] | 0x20) {
		case 's': c1 = SIP_HDR_SERVER; break;
		case 'a': c1 = SIP_HDR_ACCEPT; break;
		}
		break;
	case 7:
		switch (name[0] | 0x20) {
		case 'c': c1 = SIP_HDR_CALL_ID; c2 = SIP_HDR_CONTACT; break;
		case 'e': c1 = SIP_HDR_EXPIRES; break;
		case 'r': c1 = SIP_HDR_REQUIRE; break;
		case 's': c1 = SIP_HDR_SUBJECT; break;
		case 'w': c1 = SIP_HDR_WARNING; break;
		}
		break;
	case 8:
		switch (name[0] | 0x20) {
		case 'r': c1 = SIP_HDR_REFER_TO; break;
		case 'p': c1 = SIP_HDR_PRIORITY; break;
		}
		break;
	case 9:
		switch (name[0] | 0x20) {
		case 's': c1 = SIP_HDR_SUPPORTED; break;
		case 't': c1 = SIP_HDR_TIMESTAMP; break;
		}
		break;
	case 10: c1 = SIP_HDR_USER_AGENT; break;
	case 11:
		switch (name[0] | 0x20) {
		case 'm': c1 = SIP_HDR_MIN_EXPIRES; break;
		case 'r': c1 = SIP_HDR_RETRY_AFTER; c2 = SIP_HDR_REFERRED_BY;
			break;
		case 'u': c1 = SIP_HDR_UNSUPPORTED; break;
		}
		break;
	case 12:
		switch (name[0] | 0x20) {
		case 'm': c1 = SIP_HDR_MAX_FORWARDS; break;
		case 'r': c1 = SIP_HDR_RECORD_ROUTE; break;
		case 'c': c1 = SIP_HDR_CONTENT_TYPE; break;
		case 'a': c1 = SIP_HDR_ALLOW_EVENTS; break;
		case 'o': c1 = SIP_HDR_ORGANIZATION; break;
		}
		break;
	case 13:
		switch (name[0] | 0x20) {
		case 'a': c1 = SIP_HDR_AUTHORIZATION; break;
		case 'p': c1 = SIP_HDR_PROXY_REQUIRE; break;
		}
		break;
	case 14: c1 = SIP_HDR_CONTENT_LENGTH; break;
	case 15: c1 = SIP_HDR_ACCEPT_ENCODING; break;
	case 16:
		switch (name[0] | 0x20) {
		case 'w': c1 = SIP_HDR_WWW_AUTHENTICATE; break;
		case 'c': c1 = SIP_HDR_CONTENT_ENCODING;
			c2 = SIP_HDR_CONTENT_LANGUAGE; break;
		}
		break;
	case 18:
		switch (name[0] | 0x20) {
		case 'p': c1 = SIP_HDR_PROXY_AUTHENTICATE; break;
		case 's': c1 = SIP_HDR_SUBSCRIPTION_STATE; break;
		}
		break;
	case 19:
		switch (name[0] | 0x20) {
		case 'p': c1 = SIP_HDR_PROXY_AUTHORIZATION; break;
		case 'c': c1 = SIP_HDR_CONTENT_DISPOSITION; break;
		}
		break;
	}
	if (c1 != SIP_HDR_OTHER && strncasecmp(name, sip_hdrs[c1].name, n) == 0)
		return c1;
	if (c2 != SIP_HDR_OTHER && strncasecmp(name, sip_hdrs[c2].name, n) == 0)
		return c2;
	if (n == 15 && strncasecmp(name, "Accept-Language", 15) == 0)
		return SIP_HDR_ACCEPT_LANGUAGE;
	return SIP_HDR_OTHER;
}

const char *
sip_hdr_name(enum sip_hdr_id id)
{
	return sip_hdrs[id].name;
}

int
sip_hdr_rank(enum sip_hdr_id id)
{
	return sip_hdrs[id].rank;
}

bool
sip_hdr_is_list(enum sip_hdr_id id)
{
	return sip_hdrs[id].list;
}
