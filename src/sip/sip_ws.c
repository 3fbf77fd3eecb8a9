/*
 * WebSocket for SIP (RFC 6455, RFC 7118), client side, as pure code:
 * the opening GET and the check of the 101 that answers it, masked
 * frames out, an incremental decoder for frames in.  It holds no
 * socket and logs nothing; the transport (sip_tp_ws.c) feeds it bytes
 * and acts on what it returns.  SHA-1, base64 and the random key and
 * masks come from OpenSSL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/slice.h"
#include "base/xalloc.h"
#include "sip_ws.h"

/* RFC 6455 §1.3: appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- handshake ------------------------------------------------------------ */

int
sip_ws_key_new(char key[SIP_WS_KEY_SIZE])
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return EIO;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	return 0;
}

void
sip_ws_accept_for(const char *key, char out[SIP_WS_ACCEPT_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, key, strlen(key)) != 1 ||
	    EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 20) {
		/* Nothing the server sends can match an empty value. */
		out[0] = '\0';
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock((unsigned char *)out, md, 20);
}

/* Copies s leaving out what could end the line or the field. */
static void
add_token(struct strbuf *out, const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x20 && *s != 0x7f)
			strbuf_addc(out, *s);
}

void
sip_ws_request(struct strbuf *out, const char *host, uint16_t port, bool tls,
    const char *path, const char *key)
{
	bool v6 = strchr(host, ':') != NULL;

	strbuf_adds(out, "GET ");
	add_token(out, path != NULL && path[0] == '/' ? path : "/");
	strbuf_adds(out, " HTTP/1.1\r\nHost: ");
	if (v6)
		strbuf_addc(out, '[');
	add_token(out, host);
	if (v6)
		strbuf_addc(out, ']');
	/* RFC 6455 §4.1: the port only when it is not the scheme's own. */
	if (port != (tls ? 443 : 80))
		strbuf_addf(out, ":%u", port);
	strbuf_adds(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: ");
	add_token(out, key);
	/* RFC 7118 §4: the subprotocol is "sip". */
	strbuf_adds(out, "\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: sip\r\n\r\n");
}

/* Is token (case-insensitive) one element of the comma list v? */
static bool
list_has(struct slice v, const char *token)
{
	while (v.n > 0) {
		const char *c = memchr(v.p, ',', v.n);
		size_t n = c != NULL ? (size_t)(c - v.p) : v.n;

		if (slice_caseeq_cstr(slice_trim(slice_make(v.p, n)), token))
			return true;
		if (c == NULL)
			break;
		v.p += n + 1;
		v.n -= n + 1;
	}
	return false;
}

/* The end of the head (after its blank line), or NULL. */
static const char *
head_end(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return p + i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return p + i + 3;
	}
	return NULL;
}

/* "HTTP/1.x NNN": the status, or 0 when the line is not that. */
static unsigned
status_of(const char *p, size_t n)
{
	unsigned st = 0;

	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9' || p[8] != ' ')
		return 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		st = st * 10 + (unsigned)(p[i] - '0');
	}
	if (n > 12 && p[12] != ' ' && p[12] != '\r' && p[12] != '\n')
		return 0;
	return st < 100 ? 0 : st;
}

int
sip_ws_answer_check(const char *buf, size_t n, const char *key,
    struct sip_ws_answer *ans, const char **why)
{
	static const char pre[] = "HTTP/1.";
	char want[SIP_WS_ACCEPT_SIZE];
	const char *end, *p, *eol;
	bool upgrade = false, conn = false, accept = false, proto = false;
	unsigned nf = 0;

	memset(ans, 0, sizeof(*ans));
	/* Refuse what cannot become a status line without waiting for it. */
	if (memcmp(buf, pre, n < sizeof(pre) - 1 ? n : sizeof(pre) - 1)
	    != 0) {
		*why = "the answer is not HTTP/1.x";
		return EPROTO;
	}
	end = head_end(buf, n < SIP_WS_ANSWER_MAX ? n : SIP_WS_ANSWER_MAX);
	if (end == NULL) {
		if (n >= SIP_WS_ANSWER_MAX) {
			*why = "the HTTP answer is too long";
			return EMSGSIZE;
		}
		return EAGAIN;
	}
	ans->len = (size_t)(end - buf);
	eol = memchr(buf, '\n', ans->len);
	if ((ans->status = status_of(buf, (size_t)(eol - buf))) == 0) {
		*why = "bad HTTP status line";
		return EPROTO;
	}
	if (ans->status != 101) {
		*why = "the server did not switch to WebSocket";
		return EPROTO;
	}
	sip_ws_accept_for(key, want);
	for (p = eol + 1; p < end; p = eol + 1) {
		struct slice name, v;
		const char *colon;

		eol = memchr(p, '\n', (size_t)(end - p));
		v = slice_make(p, (size_t)(eol - p));
		if (v.n > 0 && v.p[v.n - 1] == '\r')
			v.n--;
		if (v.n == 0)
			break;			/* the blank line */
		if (++nf > SIP_WS_ANSWER_FIELDS_MAX) {
			*why = "too many header fields in the HTTP answer";
			return EPROTO;
		}
		if (*p == ' ' || *p == '\t' ||
		    (colon = memchr(v.p, ':', v.n)) == NULL ||
		    colon == v.p) {
			*why = "bad header field in the HTTP answer";
			return EPROTO;
		}
		name = slice_make(p, (size_t)(colon - p));
		v = slice_trim(slice_make(colon + 1,
		    (size_t)(v.p + v.n - colon - 1)));
		if (slice_caseeq_cstr(name, "Upgrade")) {
			/* RFC 6455 §4.1, the answer's point 2. */
			if (!slice_caseeq_cstr(v, "websocket")) {
				*why = "Upgrade is not websocket";
				return EPROTO;
			}
			upgrade = true;
		} else if (slice_caseeq_cstr(name, "Connection")) {
			conn = conn || list_has(v, "upgrade");
		} else if (slice_caseeq_cstr(name, "Sec-WebSocket-Accept")) {
			if (accept || !slice_eq_cstr(v, want)) {
				*why = "Sec-WebSocket-Accept does not match "
				    "our key";
				return EPROTO;
			}
			accept = true;
		} else if (slice_caseeq_cstr(name,
		    "Sec-WebSocket-Protocol")) {
			/* RFC 7118 §4: one subprotocol, ours. */
			if (proto || !slice_eq_cstr(v, "sip")) {
				*why = "Sec-WebSocket-Protocol is not sip";
				return EPROTO;
			}
			proto = true;
		} else if (slice_caseeq_cstr(name,
		    "Sec-WebSocket-Extensions") && v.n > 0) {
			/* RFC 6455 §4.1: we asked for none. */
			*why = "the server chose an extension we did not "
			    "offer";
			return EPROTO;
		}
	}
	if (!upgrade || !conn) {
		*why = "no Upgrade: websocket / Connection: Upgrade in the "
		    "answer";
		return EPROTO;
	}
	if (!accept) {
		*why = "no Sec-WebSocket-Accept in the answer";
		return EPROTO;
	}
	if (!proto) {
		*why = "the server did not accept the sip subprotocol";
		return EPROTO;
	}
	return 0;
}

/* ---- frames out ----------------------------------------------------------- */

size_t
sip_ws_frame_size(size_t len)
{
	return len + 6 + (len < 126 ? 0 : len <= 0xffff ? 2 : 8);
}

size_t
sip_ws_frame_write(uint8_t *out, unsigned opcode, const void *p, size_t len,
    const uint8_t mask[4])
{
	const uint8_t *src = p;
	size_t h = 0;

	out[h++] = (uint8_t)(0x80 | (opcode & 0x0f));	/* FIN */
	if (len < 126)
		out[h++] = (uint8_t)(0x80 | len);
	else if (len <= 0xffff) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(out + h, mask, 4);
	h += 4;
	/* RFC 6455 §5.3: every client frame is masked. */
	for (size_t i = 0; i < len; i++)
		out[h + i] = src[i] ^ mask[i & 3];
	return h + len;
}

int
sip_ws_mask_new(uint8_t mask[4])
{
	return RAND_bytes(mask, 4) == 1 ? 0 : EIO;
}

bool
sip_ws_utf8_valid(const void *buf, size_t len)
{
	const uint8_t *p = buf, *e = p + len;

	while (p < e) {
		uint8_t c = *p++;
		uint32_t cp;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
		} else
			return false;
		if (e - p < more)
			return false;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*p & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	return true;
}

/* ---- frames in ------------------------------------------------------------ */

void
sip_ws_dec_init(struct sip_ws_dec *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
}

void
sip_ws_dec_free(struct sip_ws_dec *d)
{
	free(d->msg);
	memset(d, 0, sizeof(*d));
}

static int
dec_fail(const char **why, const char *text, int err)
{
	*why = text;
	return err;
}

/* RFC 6455 §7.4: the codes a peer may send in a close frame. */
static bool
close_code_ok(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return true;
	return code >= 1000 && code <= 1014 && code != 1004 &&
	    code != 1005 && code != 1006;
}

int
sip_ws_decode(struct sip_ws_dec *d, const uint8_t *buf, size_t n,
    size_t *used, struct sip_ws_ev *ev, const char **why)
{
	unsigned op;
	uint64_t len;
	size_t hl = 2;
	bool fin;

	*used = 0;
	memset(ev, 0, sizeof(*ev));
	if (n < 2)
		return 0;
	fin = (buf[0] & 0x80) != 0;
	op = buf[0] & 0x0f;
	/* RFC 6455 §5.2: no extension was negotiated. */
	if (buf[0] & 0x70)
		return dec_fail(why, "WebSocket frame with reserved bits set",
		    EPROTO);
	switch (op) {
	case SIP_WS_OP_CONT:
	case SIP_WS_OP_TEXT:
	case SIP_WS_OP_BINARY:
	case SIP_WS_OP_CLOSE:
	case SIP_WS_OP_PING:
	case SIP_WS_OP_PONG:
		break;
	default:
		return dec_fail(why, "WebSocket frame with an unknown opcode",
		    EPROTO);
	}
	/* RFC 6455 §5.1: a server never masks. */
	if (buf[1] & 0x80)
		return dec_fail(why, "masked WebSocket frame from the server",
		    EPROTO);
	len = buf[1] & 0x7f;
	if (op >= SIP_WS_OP_CLOSE) {
		/* §5.5: control frames are short and whole. */
		if (!fin)
			return dec_fail(why, "fragmented WebSocket control "
			    "frame", EPROTO);
		if (len > SIP_WS_CONTROL_MAX)
			return dec_fail(why, "WebSocket control frame longer "
			    "than 125 bytes", EPROTO);
	} else if (op == SIP_WS_OP_CONT && !d->frag)
		return dec_fail(why, "WebSocket continuation frame with no "
		    "message to continue", EPROTO);
	else if (op != SIP_WS_OP_CONT && d->frag)
		return dec_fail(why, "new WebSocket message inside a "
		    "fragmented one", EPROTO);
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		hl = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | buf[i];
		hl = 10;
		if (len >> 63)
			return dec_fail(why, "WebSocket frame length with its "
			    "top bit set", EPROTO);
	}
	/* Refused on its header: the payload need not arrive first. */
	if (len > d->max)
		return dec_fail(why, "WebSocket frame above the message "
		    "size limit", EMSGSIZE);
	if (op == SIP_WS_OP_CONT && d->msg_len + len > d->max)
		return dec_fail(why, "fragmented WebSocket message above "
		    "the message size limit", EMSGSIZE);
	if (n - hl < len)
		return 0;
	*used = hl + (size_t)len;
	ev->data = buf + hl;
	ev->len = (size_t)len;
	switch (op) {
	case SIP_WS_OP_PING:
		ev->type = SIP_WS_EV_PING;
		return 0;
	case SIP_WS_OP_PONG:
		ev->type = SIP_WS_EV_PONG;
		return 0;
	case SIP_WS_OP_CLOSE:
		ev->type = SIP_WS_EV_CLOSE;
		if (len == 1)
			return dec_fail(why, "WebSocket close frame of one "
			    "byte", EPROTO);
		if (len >= 2) {
			ev->code = (unsigned)buf[hl] << 8 | buf[hl + 1];
			if (!close_code_ok(ev->code))
				return dec_fail(why, "WebSocket close frame "
				    "with a bad status code", EPROTO);
		}
		return 0;
	default:
		break;
	}
	if (op != SIP_WS_OP_CONT && fin) {
		/* The common case: one frame, no copy. */
		ev->type = SIP_WS_EV_MESSAGE;
		ev->binary = op == SIP_WS_OP_BINARY;
		return 0;
	}
	if (op != SIP_WS_OP_CONT) {
		d->frag = true;
		d->binary = op == SIP_WS_OP_BINARY;
		d->msg_len = 0;
	}
	if (d->msg_len + len > d->msg_cap) {
		d->msg_cap = d->msg_len + (size_t)len;
		d->msg = xrealloc(d->msg, d->msg_cap > 0 ? d->msg_cap : 1);
	}
	if (len > 0)
		memcpy(d->msg + d->msg_len, buf + hl, (size_t)len);
	d->msg_len += (size_t)len;
	ev->data = NULL;
	ev->len = 0;
	if (!fin)
		return 0;		/* SIP_WS_EV_NONE, *used > 0 */
	ev->type = SIP_WS_EV_MESSAGE;
	ev->data = d->msg;
	ev->len = d->msg_len;
	ev->binary = d->binary;
	d->frag = false;
	d->msg_len = 0;
	return 0;
}
