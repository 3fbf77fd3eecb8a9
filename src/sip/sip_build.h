/*
 * Building SIP messages field by field.  Headers are written in the
 * canonical order (Via, From, To, Call-ID, CSeq, Contact, Max-Forwards,
 * Route/Record-Route, Authorization, others, Content-Type, and
 * Content-Length last), keeping the order in which fields of the same
 * rank were added; Content-Length is always computed from the body.
 * A response to a request copies Via, From, To, Call-ID and CSeq as
 * RFC 3261 §8.2.6 says.
 */
#ifndef SIPX_SIP_BUILD_H
#define SIPX_SIP_BUILD_H

#include <stddef.h>

#include "base/strbuf.h"
#include "sip_hdr.h"
#include "sip_msg.h"

struct sip_build_hdr {
	enum sip_hdr_id	 id;
	int		 rank;
	size_t		 name_off, name_len;	/* in text */
	size_t		 value_off, value_len;
};

struct sip_build {
	struct strbuf		 start;		/* start line, no CRLF */
	struct strbuf		 text;		/* names and values */
	struct sip_build_hdr	*hdrs;
	size_t			 nhdrs, cap;
	const char		*body;
	size_t			 body_len;
};

void	sip_build_request(struct sip_build *, const char *method,
	    const char *ruri);
void	sip_build_response(struct sip_build *, unsigned status,
	    const char *reason);
/*
 * Adds a header by id (canonical name) or by name (unknown names kept
 * as given).  EINVAL, and nothing added, if the value holds CR, LF or
 * NUL or the name is not a token: no header injection through values
 * that came from outside.
 */
int	sip_build_add(struct sip_build *, enum sip_hdr_id, const char *value);
int	sip_build_addf(struct sip_build *, enum sip_hdr_id, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
int	sip_build_add_named(struct sip_build *, const char *name,
	    const char *value);
/* Sets the body (borrowed until finish) and its Content-Type. */
int	sip_build_body(struct sip_build *, const char *content_type,
	    const void *body, size_t len);
/*
 * Starts a response to req (§8.2.6): every Via in order, From, To (with
 * to_tag added when To has none and status > 100), Call-ID, CSeq, and
 * Timestamp for a 100.
 */
void	sip_build_response_to(struct sip_build *, const struct sip_msg *req,
	    unsigned status, const char *reason, const char *to_tag);
/* Writes the message to out (appending) and resets the builder. */
void	sip_build_finish(struct sip_build *, struct strbuf *out);
void	sip_build_free(struct sip_build *);

#endif
