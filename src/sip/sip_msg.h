/*
 * SIP messages (RFC 3261 §7, §20, §25): parse a datagram or a framed
 * stream message into a struct sip_msg whose fields are slices into the
 * message's own buffer (zero-copy), with every header the stack uses in
 * typed form; find a message's end in a stream; build messages field by
 * field in the canonical header order with an exact Content-Length.
 *
 * Parsing never logs and never reads past the buffer.  A malformed
 * message yields an error with the status a server should answer (400,
 * or 505 for a bad version) and a reason fit for its reason phrase.
 */
#ifndef SIPX_SIP_MSG_H
#define SIPX_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/limits.h"
#include "base/slice.h"
#include "base/strbuf.h"
#include "sip_auth.h"
#include "sip_hdr.h"
#include "sip_uri.h"

/* Limits on untrusted input: SIP_MSG_*_MAX in base/limits.h. */

enum sip_method {
	SIP_METHOD_OTHER,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_REGISTER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_REFER,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_PUBLISH,
};

struct sip_param {
	struct slice	name;
	struct slice	value;		/* empty (p NULL) without '=' */
};

struct sip_params {
	struct sip_param	*v;
	unsigned		 n;
};

struct sip_via {
	struct slice		 protocol;	/* "SIP/2.0" parts, checked */
	struct slice		 transport;	/* as written: "UDP", "TLS"… */
	struct slice		 host;		/* IPv6 with brackets */
	uint16_t		 port;		/* 0: none */
	struct sip_params	 params;
	struct slice		 branch;
	struct slice		 received;
	struct slice		 maddr;
	int			 ttl;		/* -1: none */
	bool			 rport;		/* parameter present */
	int32_t			 rport_value;	/* -1: no value */
};

struct sip_nameaddr {
	struct slice		 display;	/* unquoted, still escaped */
	struct slice		 uri_str;
	struct sip_uri		 uri;
	bool			 angle;		/* name-addr form */
	struct sip_params	 params;	/* header parameters */
	struct slice		 tag;
};

struct sip_contact {
	struct sip_nameaddr	 addr;
	int64_t			 expires;	/* -1: none */
	int			 q;		/* 0..1000, -1: none */
};

struct sip_cseq {
	uint32_t		 num;
	struct slice		 method_str;
	enum sip_method		 method;
};

struct sip_tokens {
	struct slice	*v;
	unsigned	 n;
};

struct sip_ctype {
	struct slice		 type;
	struct slice		 subtype;
	struct sip_params	 params;
};

struct sip_retry_after {
	uint32_t		 seconds;
	struct slice		 comment;
	struct sip_params	 params;
};

struct sip_event {
	struct slice		 package;
	struct slice		 id;
	struct sip_params	 params;
};

struct sip_substate {
	struct slice		 state;
	int64_t			 expires;	/* -1: none */
	int64_t			 retry_after;	/* -1: none */
	struct slice		 reason;
	struct sip_params	 params;
};

struct sip_hdr {
	enum sip_hdr_id	 id;
	struct slice	 name;		/* as written */
	struct slice	 value;		/* trimmed; may hold folding */
};

struct sip_msg {
	const char		*buf;
	size_t			 len;		/* message only, no trailer */
	char			*owned;		/* freed with the message */
	bool			 request;

	/* Request line. */
	enum sip_method		 method;
	struct slice		 method_str;
	struct slice		 ruri_str;
	struct sip_uri		 ruri;
	/* Status line. */
	unsigned		 status;
	struct slice		 reason;

	struct sip_hdr		*hdrs;		/* in message order */
	unsigned		 nhdrs;
	struct slice		 body;

	/* Typed headers: list headers gather all their fields, in order. */
	struct sip_via		*via;
	unsigned		 nvia;
	struct sip_nameaddr	 from;
	struct sip_nameaddr	 to;
	struct slice		 call_id;
	struct sip_cseq		 cseq;
	int			 max_forwards;	/* -1: none */
	bool			 contact_star;
	struct sip_contact	*contact;
	unsigned		 ncontact;
	struct sip_nameaddr	*route;
	unsigned		 nroute;
	struct sip_nameaddr	*record_route;
	unsigned		 nrecord_route;
	int64_t			 expires;	/* -1: none */
	int64_t			 min_expires;	/* -1: none */
	int64_t			 content_length; /* -1: none */
	bool			 has_content_type;
	struct sip_ctype	 content_type;
	struct sip_tokens	 allow;
	struct sip_tokens	 supported;
	struct sip_tokens	 require;
	struct sip_tokens	 proxy_require;
	struct sip_tokens	 unsupported;
	struct sip_tokens	 accept;
	struct sip_tokens	 allow_events;
	/* Every challenge of every WWW-/Proxy-Authenticate field. */
	struct sip_auth_challenge *www_auth;
	unsigned		 nwww_auth;
	struct sip_auth_challenge *proxy_auth;
	unsigned		 nproxy_auth;
	struct sip_auth_credentials *authorization;
	unsigned		 nauthorization;
	struct sip_auth_credentials *proxy_authorization;
	unsigned		 nproxy_authorization;
	bool			 has_retry_after;
	struct sip_retry_after	 retry_after;
	bool			 has_event;
	struct sip_event	 event;
	bool			 has_substate;
	struct sip_substate	 substate;
	bool			 has_refer_to;
	struct sip_nameaddr	 refer_to;
	struct slice		 user_agent;
	struct slice		 server;

	struct arena		 arena;
};

/* Why a message was refused, and how a server should answer it. */
struct sip_parse_error {
	unsigned	 status;	/* 400, 505; 0 for a response */
	const char	*reason;	/* static text for the reason phrase */
	bool		 request;	/* the start line was a request */
};

enum sip_parse_flags {
	/* Stream transport: Content-Length is required and exact. */
	SIP_PARSE_STREAM	= 1u << 0,
	/* The message keeps a pointer to buf and never frees it. */
	SIP_PARSE_BORROW	= 1u << 1,
};

/*
 * Parses buf[0..len).  Without SIP_PARSE_BORROW, buf must be malloc'd
 * and the message takes it (also on error).  Returns 0 and *out, or
 * EBADMSG / EMSGSIZE with err filled and *out NULL.  On a datagram,
 * bytes after Content-Length are ignored (RFC 3261 §18.3).
 */
int	sip_msg_parse(const char *buf, size_t len, unsigned flags,
	    struct sip_msg **out, struct sip_parse_error *err);
void	sip_msg_free(struct sip_msg *);

enum sip_frame {
	SIP_FRAME_MESSAGE,	/* *msglen bytes form one message */
	SIP_FRAME_NEED_MORE,	/* keep reading */
	SIP_FRAME_KEEPALIVE,	/* *msglen bytes of CRLF ping/pong */
	SIP_FRAME_ERROR,	/* close the connection; *why says why */
};

/* Finds the first message (or keepalive) in a stream's buffered bytes. */
enum sip_frame sip_msg_frame(const char *p, size_t n, size_t *msglen,
	    const char **why);

enum sip_method	 sip_method_from(struct slice);
const char	*sip_method_name(enum sip_method);

/* Looks up a parameter by name, case-insensitively. */
bool	sip_params_get(const struct sip_params *, const char *name,
	    struct slice *value);
/* The n-th header field with this id (n from 0), or NULL. */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *, enum sip_hdr_id,
	    unsigned n);
/* The first header field with this name (any case), or NULL. */
const struct sip_hdr *sip_msg_hdr_named(const struct sip_msg *,
	    const char *name);

#endif
