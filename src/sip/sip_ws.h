/*
 * WebSocket (RFC 6455) as SIP needs it (RFC 7118), client side only,
 * with no socket: the opening handshake (the GET we send and the check
 * of the server's 101 answer), the framing of what we send (masked,
 * one SIP message per frame, text or binary by RFC 7118 §5.2) and an
 * incremental decoder of what the server sends (fragments reassembled,
 * control frames in between, every protocol rule checked, explicit
 * size limits).  The transport (sip_tp_ws.c) owns the connection and
 * decides what to do with each decoded event; nothing here logs.
 */
#ifndef SIPX_SIP_WS_H
#define SIPX_SIP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

/* base64 of 16 random bytes (RFC 6455 §4.1) and of a SHA-1, plus NUL. */
#define SIP_WS_KEY_SIZE		25
#define SIP_WS_ACCEPT_SIZE	29
/* The server's answer head (status line and fields) may not exceed this. */
#define SIP_WS_ANSWER_MAX	8192
/* Header fields in that answer. */
#define SIP_WS_ANSWER_FIELDS_MAX 64
/* A frame header we write: 2 + 8 (length) + 4 (mask). */
#define SIP_WS_HEAD_MAX		14
/* RFC 6455 §5.5: control frames carry at most 125 bytes. */
#define SIP_WS_CONTROL_MAX	125

enum sip_ws_opcode {
	SIP_WS_OP_CONT	= 0x0,
	SIP_WS_OP_TEXT	= 0x1,
	SIP_WS_OP_BINARY = 0x2,
	SIP_WS_OP_CLOSE	= 0x8,
	SIP_WS_OP_PING	= 0x9,
	SIP_WS_OP_PONG	= 0xa,
};

/* RFC 6455 §7.4.1 status codes of a close frame that we send. */
#define SIP_WS_CLOSE_NORMAL	1000
#define SIP_WS_CLOSE_PROTOCOL	1002
#define SIP_WS_CLOSE_TOO_BIG	1009

/* ---- handshake (RFC 6455 §4.1, RFC 7118 §4) ----------------------------- */

/* A fresh Sec-WebSocket-Key from OpenSSL's generator; 0 or EIO. */
int	sip_ws_key_new(char key[SIP_WS_KEY_SIZE]);
/* base64(SHA-1(key + the RFC 6455 GUID)): what the server must answer. */
void	sip_ws_accept_for(const char *key, char out[SIP_WS_ACCEPT_SIZE]);
/*
 * Appends the opening GET.  host is a name or an IP literal (IPv6
 * without brackets: they are added); port goes in Host unless it is the
 * scheme's default (80, 443 with tls).  path "/" when NULL.
 */
void	sip_ws_request(struct strbuf *out, const char *host, uint16_t port,
	    bool tls, const char *path, const char *key);

struct sip_ws_answer {
	unsigned	 status;	/* of the status line, once read */
	size_t		 len;		/* bytes of the head, blank line in */
};

/*
 * Checks the server's answer to the GET sent with key, from the first
 * n bytes of the stream.  Returns 0 when buf starts with a complete 101
 * that accepts the upgrade to the "sip" subprotocol (ans->len bytes are
 * the head; what follows is frames), EAGAIN when the head is not
 * complete yet, EMSGSIZE when it grew past SIP_WS_ANSWER_MAX, or
 * EPROTO with *why (static text) for any other answer: ans->status says
 * which when the status line was read.
 */
int	sip_ws_answer_check(const char *buf, size_t n, const char *key,
	    struct sip_ws_answer *ans, const char **why);

/* ---- frames we send (RFC 6455 §5.2, §5.3) ------------------------------- */

/* Bytes sip_ws_frame_write() writes for a payload of len bytes. */
size_t	sip_ws_frame_size(size_t len);
/*
 * One final, masked client frame of opcode carrying p[0..len) into
 * out, which has room for sip_ws_frame_size(len) bytes.  Returns the
 * bytes written.
 */
size_t	sip_ws_frame_write(uint8_t *out, unsigned opcode, const void *p,
	    size_t len, const uint8_t mask[4]);
/* A fresh masking key (RFC 6455 §5.3: unpredictable); 0 or EIO. */
int	sip_ws_mask_new(uint8_t mask[4]);
/* RFC 7118 §5.2: UTF-8 goes in a text frame, anything else binary. */
bool	sip_ws_utf8_valid(const void *p, size_t len);

/* ---- frames we receive ---------------------------------------------------- */

enum sip_ws_ev_type {
	SIP_WS_EV_NONE,		/* used == 0: need more bytes; else a
				 * fragment was taken: call again */
	SIP_WS_EV_MESSAGE,	/* a whole data message */
	SIP_WS_EV_PING,
	SIP_WS_EV_PONG,
	SIP_WS_EV_CLOSE,	/* code 0: the frame gave none */
};

struct sip_ws_ev {
	enum sip_ws_ev_type	 type;
	/* Valid until the next call or until the input moves. */
	const uint8_t		*data;
	size_t			 len;
	bool			 binary;	/* MESSAGE */
	unsigned		 code;		/* CLOSE */
};

struct sip_ws_dec {
	size_t		 max;		/* a frame's or a message's payload */
	uint8_t		*msg;		/* fragments so far */
	size_t		 msg_len, msg_cap;
	bool		 frag;		/* a fragmented message is open */
	bool		 binary;
};

/* max: the largest frame or reassembled message accepted. */
void	sip_ws_dec_init(struct sip_ws_dec *, size_t max);
void	sip_ws_dec_free(struct sip_ws_dec *);
/*
 * Decodes at most one frame from buf[0..n).  0 with *used bytes taken
 * and ev filled (see enum sip_ws_ev_type), or, with *why (static text),
 * EMSGSIZE for a frame or message above max, EPROTO for a broken
 * frame (masked, reserved bits set, unknown opcode, a control frame
 * fragmented or too long, a continuation with nothing to continue, a
 * data frame inside a fragmented message, a bad close code).  After an
 * error the decoder is spent: the connection must close.
 */
int	sip_ws_decode(struct sip_ws_dec *, const uint8_t *buf, size_t n,
	    size_t *used, struct sip_ws_ev *ev, const char **why);

#endif
