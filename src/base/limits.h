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
#define SIPX_CTL_RO_PER_UID_DEFAULT	8	/* read-only connections per uid */
#define SIPX_CTL_JOBS_MAX		32	/* running jobs per connection */
#define SIPX_CTL_ADMIN_RESERVE		2	/* full-socket slots for root */

/* SIP messages (src/sip/sip_msg.c). */
#define SIP_MSG_SIZE_MAX		65535	/* bytes, datagram or framed */
#define SIP_MSG_HDRS_MAX		128	/* header fields (lines) */
#define SIP_MSG_LINE_MAX		8192	/* one field, folding included */
#define SIP_MSG_LIST_MAX		64	/* elements in one list header */
#define SIP_MSG_PARAMS_MAX		32	/* parameters on one element */
#define SIP_URI_PARAMS_MAX		64	/* parameters on one URI */

/* SDP bodies (src/sip/sdp.c). */
#define SDP_MAX_MEDIA			16	/* m= lines per description */
#define SDP_MAX_FMTS			64	/* formats on one m= line */
#define SDP_MAX_ATTRS			128	/* a= lines at one level */

/* `request` and `message` (src/ua/request.c, src/ua/message.c). */
#define SIPX_REQUESTS_MAX		1024	/* live requests, daemon-wide */
#define SIPX_REQUEST_HEADERS_MAX	16	/* header= of one request */
#define SIPX_REQUEST_BODY_MAX		16384	/* bytes of a body we send */
#define SIPX_REQUEST_METHOD_MAX		32	/* bytes of a method name */
#define SIPX_REQUEST_PROVISIONAL_MAX	32	/* 1xx told of one request */
#define SIPX_MESSAGE_UDP_MAX		1300	/* RFC 3428 §8: whole MESSAGE */
#define SIPX_MESSAGE_IN_MAX		16384	/* body we take; more: 413 */
#define SIPX_INBOX_MAX			10000	/* an account's `inbox` */
#define SIPX_INBOX_DEFAULT		100
#define SIPX_INBOX_BYTES_MAX		(64 * 1024 * 1024) /* all inboxes */

/* Config file. */
#define SIPX_ACCOUNT_NAME_MAX		64
#define SIPX_ACCOUNTS_MAX		100000
#define SIPX_CONFIG_STRING_MAX		1024

#endif
