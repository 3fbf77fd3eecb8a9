/*
 * Digest access authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
 * RFC 8760): parses WWW-Authenticate / Proxy-Authenticate values into
 * challenges and Authorization / Proxy-Authorization values into
 * credentials (zero-copy: slices into the caller's buffer), computes the
 * answer to a challenge and writes it out as a header value, and keeps
 * the nonce count.  It knows nothing of messages, accounts or retries:
 * which challenge to answer, with which password, and whether to ask
 * again is the caller's decision (see "Retrying" below).
 *
 * Quoted values are kept as written between the quotes, backslash escapes
 * and line folding included; sip_auth_unquote() gives the value itself.
 * Everything this module hashes or writes out uses the unquoted value.
 *
 * Retrying (RFC 2617 §3.2.1, RFC 3261 §22.2).  After credentials were sent
 * and the answer is again 401/407 for the same realm:
 *   - stale=true: the password was right, only the nonce had expired.
 *     Answer the new challenge at once with the same credentials (the new
 *     nonce restarts the count at 1 by itself, see struct sip_auth_nc).
 *   - stale absent or false: the credentials are wrong; do not retry with
 *     them, or a registrar and a client loop forever.
 * A new challenge for a realm not yet answered is always answered.  When
 * one response carries several challenges for a realm (RFC 8760: a UAS
 * lists them most preferred first, e.g. SHA-256 then MD5), answer the
 * first one that sip_auth_challenge_usable() accepts.
 */
#ifndef SIPX_SIP_AUTH_H
#define SIPX_SIP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/slice.h"
#include "base/strbuf.h"

/* Longest digest in hex (SHA-256, SHA-512/256), without the NUL. */
#define SIP_AUTH_HEX_MAX	64
/* Bytes of randomness in a generated cnonce (written as twice the hex). */
#define SIP_AUTH_CNONCE_BYTES	16

enum sip_auth_scheme {
	SIP_AUTH_SCHEME_DIGEST,
	SIP_AUTH_SCHEME_OTHER,	/* only scheme_name and params are set */
};

enum sip_auth_alg {
	SIP_AUTH_ALG_MD5,		/* also when the parameter is absent */
	SIP_AUTH_ALG_MD5_SESS,
	SIP_AUTH_ALG_SHA256,
	SIP_AUTH_ALG_SHA256_SESS,
	SIP_AUTH_ALG_SHA512_256,
	SIP_AUTH_ALG_SHA512_256_SESS,
	SIP_AUTH_ALG_UNKNOWN,		/* algorithm_name says which */
};

enum sip_auth_qop {
	SIP_AUTH_QOP_NONE,		/* RFC 2069 compatibility form */
	SIP_AUTH_QOP_AUTH,
	SIP_AUTH_QOP_AUTH_INT,
};

/* Bits of sip_auth_challenge.qop_options. */
#define SIP_AUTH_QOPF_AUTH	0x01u
#define SIP_AUTH_QOPF_AUTH_INT	0x02u
#define SIP_AUTH_QOPF_OTHER	0x04u	/* a token not known here */

/*
 * One challenge.  Quoted values are slices of what lay between the quotes;
 * absent parameters are SLICE_NULL (slice_present() tells "" from absent).
 */
struct sip_auth_challenge {
	enum sip_auth_scheme	 scheme;
	struct slice		 scheme_name;	/* as written */
	struct slice		 params;	/* after the scheme */
	struct slice		 realm;
	struct slice		 domain;
	struct slice		 nonce;
	struct slice		 opaque;
	struct slice		 algorithm_name;	/* as written */
	enum sip_auth_alg	 algorithm;
	struct slice		 qop;		/* qop-options, raw */
	unsigned		 qop_options;	/* SIP_AUTH_QOPF_* */
	struct slice		 charset;
	bool			 stale;
	bool			 userhash;
};

/* One set of credentials (an Authorization value), as for the challenge. */
struct sip_auth_credentials {
	enum sip_auth_scheme	 scheme;
	struct slice		 scheme_name;
	struct slice		 params;
	struct slice		 username;
	struct slice		 username_ext;	/* username* (RFC 7616) */
	struct slice		 realm;
	struct slice		 nonce;
	struct slice		 uri;
	struct slice		 response;
	struct slice		 algorithm_name;
	enum sip_auth_alg	 algorithm;
	struct slice		 cnonce;
	struct slice		 opaque;
	enum sip_auth_qop	 qop;
	struct slice		 nc_text;
	uint32_t		 nc;		/* 0 if absent */
	bool			 userhash;
};

/* What the caller knows when answering a challenge.  All raw bytes. */
struct sip_auth_request {
	struct slice		 username;
	/* The password, or ha1 (used when present): hex
	 * H(username:realm:password) made with ha1_alg; an algorithm and
	 * its -sess flavour take the same HA1. */
	struct slice		 password;
	struct slice		 ha1;
	enum sip_auth_alg	 ha1_alg;
	struct slice		 method;
	struct slice		 uri;		/* Request-URI as sent */
	struct slice		 body;		/* for auth-int */
	struct slice		 cnonce;	/* see sip_auth_cnonce() */
	uint32_t		 nc;		/* see sip_auth_nc_next() */
	bool			 userhash;	/* hash it if offered */
};

/* What sip_auth_respond() chose and computed, for the caller's records. */
struct sip_auth_answer {
	enum sip_auth_qop	 qop;
	char			 response[SIP_AUTH_HEX_MAX + 1];
};

/*
 * Nonce count of one protection space (keep one per realm answered: two
 * realms answered in turn would otherwise restart each other's count).
 */
struct sip_auth_nc {
	char		*nonce;		/* owned copy, raw */
	size_t		 nonce_len;
	uint32_t	 nc;
};
#define SIP_AUTH_NC_INIT	{ NULL, 0, 0 }

/* "MD5", "SHA-256-sess", …; "unknown" for SIP_AUTH_ALG_UNKNOWN. */
const char	*sip_auth_alg_name(enum sip_auth_alg);
/* Case-insensitive; SIP_AUTH_ALG_UNKNOWN for any other name. */
enum sip_auth_alg sip_auth_alg_from_name(struct slice);
/* "auth", "auth-int"; "" for SIP_AUTH_QOP_NONE. */
const char	*sip_auth_qop_name(enum sip_auth_qop);

/*
 * Parses the first challenge of a WWW-Authenticate or Proxy-Authenticate
 * value.  If rest is not NULL it receives the text of any challenges that
 * follow in the same value (an HTTP-style list; empty if none); if rest is
 * NULL a second challenge is an error.  Any scheme parses: check
 * sip_auth_challenge_usable() before answering.  Returns 0, or EBADMSG
 * with *why set to a static reason.
 */
int	sip_auth_challenge_parse(struct sip_auth_challenge *,
	    struct slice value, struct slice *rest, const char **why);

/*
 * True for a Digest challenge this module can answer: a known algorithm
 * that the crypto library provides, and a qop it knows (or none; a -sess
 * algorithm needs one, for its cnonce).
 */
bool	sip_auth_challenge_usable(const struct sip_auth_challenge *);

/*
 * Parses an Authorization or Proxy-Authorization value (one set of
 * credentials).  Digest credentials must carry username (or username*),
 * realm, nonce, uri and response, and cnonce and nc if they carry qop.
 * Returns 0, or EBADMSG with *why set to a static reason.
 */
int	sip_auth_credentials_parse(struct sip_auth_credentials *,
	    struct slice value, const char **why);

/* Appends the value of a parsed quoted string: escapes and folding undone. */
void	sip_auth_unquote(struct strbuf *, struct slice raw);

/*
 * Hex H(username ":" realm ":" password) with the hash of alg (its -sess
 * flavour gives the same), realm raw; what a config's "ha1" holds.
 * Returns 0, or ENOTSUP for an algorithm the crypto library lacks.
 */
int	sip_auth_ha1(char out[SIP_AUTH_HEX_MAX + 1], enum sip_auth_alg,
	    struct slice username, struct slice realm, struct slice password);

/*
 * Answers a challenge: chooses the qop ("auth" when offered, "auth-int"
 * only when it is the only one, none when the challenge has no qop),
 * computes the response and appends the credentials, e.g.
 *   Digest username="alice", realm="r", nonce="n", uri="sip:r",
 *   response="…", algorithm=MD5, cnonce="c", opaque="o", qop=auth,
 *   nc=00000001
 * to out.  Returns 0; ENOTSUP if the challenge is not usable or ha1 is of
 * another hash; EINVAL for a request that cannot be sent (control
 * characters in a quoted value, a malformed ha1, no cnonce or nc 0 when a
 * qop is used).  On error out is left as it was.  ans may be NULL.
 */
int	sip_auth_respond(struct strbuf *out,
	    const struct sip_auth_challenge *, const struct sip_auth_request *,
	    struct sip_auth_answer *ans);

/* A fresh cnonce: SIP_AUTH_CNONCE_BYTES random bytes in lower-case hex.
 * Returns 0, or EIO if the random generator fails. */
int	sip_auth_cnonce(char out[2 * SIP_AUTH_CNONCE_BYTES + 1]);

/*
 * The nc for the next request answering a challenge with this nonce: 1
 * for a nonce not seen last time, one more than last time for the same
 * one.  Returns 0 once 2^32 - 1 requests have used one nonce: the caller
 * must then get a fresh challenge.
 */
uint32_t sip_auth_nc_next(struct sip_auth_nc *, struct slice nonce);
/* Forgets the nonce (frees the copy); the struct is ready for reuse. */
void	sip_auth_nc_reset(struct sip_auth_nc *);

#endif
