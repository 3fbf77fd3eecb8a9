/*
 * SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966): parse into slices
 * of the caller's buffer (zero-copy, nothing unescaped in place), compare
 * per RFC 3261 §19.1.4, and write back out.  Other schemes parse as
 * "scheme:opaque" so that a message carrying them is still readable.
 */
#ifndef SIPX_SIP_URI_H
#define SIPX_SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/slice.h"
#include "base/strbuf.h"

/*
 * A URI holds at most SIP_URI_PARAMS_MAX (base/limits.h) uri-parameters,
 * and as many headers; more is rejected ("bad URI: too many
 * parameters").  Equality matches parameters pairwise, so this bounds
 * its cost on hostile input.
 */

enum sip_uri_scheme {
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
	SIP_URI_OTHER,		/* absoluteURI: only scheme and opaque set */
};

enum sip_host_type {
	SIP_HOST_NAME,
	SIP_HOST_IPV4,
	SIP_HOST_IPV6,		/* host holds the brackets: "[::1]" */
};

struct sip_uri {
	enum sip_uri_scheme	 scheme;
	struct slice		 scheme_str;	/* as written */
	struct slice		 user;		/* escaped, as written */
	struct slice		 password;
	struct slice		 host;		/* TEL: the telephone number */
	enum sip_host_type	 host_type;
	uint16_t		 port;		/* valid if has_port */
	bool			 has_port;	/* written, even as ":0" */
	struct slice		 params;	/* after the first ';', raw */
	struct slice		 headers;	/* after '?', raw */
	struct slice		 opaque;	/* SIP_URI_OTHER: after ':' */
	/*
	 * Well-known parameters, picked out of params while parsing (SIP
	 * and SIPS only; the first occurrence wins).  A parameter written
	 * without '=' is present with an empty value.
	 */
	struct slice		 transport;
	struct slice		 user_param;
	struct slice		 method;
	struct slice		 maddr;
	struct slice		 ttl;
	bool			 lr;
};

/*
 * Parses p[0..n), which must be exactly one URI (no surrounding <> or
 * whitespace).  Returns 0, or EBADMSG with *why (if why is not NULL)
 * set to a static reason fit for a 400 reason phrase ("bad URI:
 * invalid host", …).  Absent parts are SLICE_NULL; a part written
 * empty (the password in "sip:a:@h") is present with n == 0.
 */
int	sip_uri_parse(struct sip_uri *, const char *p, size_t n,
	    const char **why);

/*
 * RFC 3261 §19.1.4 equality: scheme, user and password case-sensitive
 * after unescaping; host names case-insensitive, IP literals as
 * addresses ("[::1]" equals "[0:0:0:0:0:0:0:1]", RFC 5954); a port,
 * transport, user, ttl, method or maddr present in one must be present
 * and equal in the other; other parameters compared only if present in
 * both; headers all must match.  SIP never equals SIPS.  TEL per RFC
 * 3966 §4 (visual separators ignored in the number).  Other schemes:
 * scheme case-insensitive, the opaque part octet by octet after
 * decoding escaped RFC 3986 unreserved characters.  Both URIs must
 * come from sip_uri_parse.
 */
bool	sip_uri_equal(const struct sip_uri *, const struct sip_uri *);

/*
 * Looks up a parameter by name (case-insensitive, escapes in names
 * decoded) in a raw "a=b;c" list, as in sip_uri.params; the first of a
 * repeated name wins.  *value (if value is not NULL) is the raw value,
 * empty for a parameter without '='.  False if absent.
 */
bool	sip_param_find(struct slice params, const char *name,
	    struct slice *value);

/*
 * Appends the URI as text: the form it was parsed from with the scheme
 * and host in lower case and the port without leading zeros; user,
 * parameters and headers as written (escapes kept).
 */
void	sip_uri_print(struct strbuf *, const struct sip_uri *);

/*
 * An escaped part (user, password, a value) to raw bytes, %XX decoded;
 * the result may hold NUL bytes ("%00").  Returns the bytes written, or
 * -1 if out is too small or an escape is malformed.
 */
int	sip_unescape(struct slice in, char *out, size_t outlen);

#endif
