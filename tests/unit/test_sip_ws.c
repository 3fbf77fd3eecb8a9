/*
 * WebSocket for SIP (RFC 6455, RFC 7118): the pure module (sip_ws.c:
 * key and accept, the GET, the check of the 101, frames out, the
 * decoder and its limits) from tables, then the transport's WS framer
 * on the real loop against a WebSocket server played by the test over
 * a loopback socket: SIP held back until the 101, masked frames out,
 * whole messages in (fragments, a ping in between), responses matched
 * by the connection's address, a refused upgrade, an oversize frame,
 * a close from the server, keepalive pings with and without pongs, a
 * server that pings without end and never reads.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/strbuf.h"
#include "base/timeutil.h"
#include "sip/sip_build.h"
#include "sip/sip_transport.h"
#include "sip/sip_ws.h"

/* ---- handshake ------------------------------------------------------------ */

START_TEST(test_accept_vector)
{
	char out[SIP_WS_ACCEPT_SIZE];

	/* RFC 6455 §1.3's own example. */
	sip_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(test_key_new)
{
	char k1[SIP_WS_KEY_SIZE], k2[SIP_WS_KEY_SIZE];

	ck_assert_int_eq(sip_ws_key_new(k1), 0);
	ck_assert_int_eq(sip_ws_key_new(k2), 0);
	/* 16 bytes in base64: 22 characters and "==". */
	ck_assert_uint_eq(strlen(k1), 24);
	ck_assert(k1[22] == '=' && k1[23] == '=');
	ck_assert_str_ne(k1, k2);
}
END_TEST

START_TEST(test_request)
{
	struct strbuf sb = STRBUF_INIT;

	sip_ws_request(&sb, "proxy.example.com", 8080, false, NULL, "KEY");
	ck_assert_str_eq(sb.p, "GET / HTTP/1.1\r\n"
	    "Host: proxy.example.com:8080\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: KEY\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: sip\r\n\r\n");
	strbuf_reset(&sb);
	/* The scheme's own port is left out; IPv6 gets brackets. */
	sip_ws_request(&sb, "2001:db8::1", 443, true, "/", "K");
	ck_assert_ptr_nonnull(strstr(sb.p, "\r\nHost: [2001:db8::1]\r\n"));
	strbuf_reset(&sb);
	sip_ws_request(&sb, "h", 80, false, "/", "K");
	ck_assert_ptr_nonnull(strstr(sb.p, "\r\nHost: h\r\n"));
	strbuf_reset(&sb);
	sip_ws_request(&sb, "h", 443, false, "/", "K");
	ck_assert_ptr_nonnull(strstr(sb.p, "\r\nHost: h:443\r\n"));
	strbuf_reset(&sb);
	/* Nothing can break the request line or a field. */
	sip_ws_request(&sb, "h\r\nX y", 80, false, "/a b", "K");
	ck_assert_ptr_nonnull(strstr(sb.p, "GET /ab HTTP/1.1\r\nHost: hXy\r\n"));
	strbuf_free(&sb);
}
END_TEST

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="
#define ACC	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define GOOD	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" \
		"Connection: Upgrade\r\nSec-WebSocket-Accept: " ACC "\r\n" \
		"Sec-WebSocket-Protocol: sip\r\n\r\n"

static const struct {
	const char	*in;
	int		 rc;
	unsigned	 status;
	const char	*why;		/* a part of it */
} answers[] = {
	{ GOOD, 0, 101, NULL },
	/* Bare LF, other case, other field order, a list in Connection. */
	{ "HTTP/1.1 101 OK\nconnection: keep-alive, upgrade\n"
	  "sec-websocket-protocol: sip\nUPGRADE: WebSocket\n"
	  "Sec-WebSocket-Accept: " ACC "\nServer: x\n\n", 0, 101, NULL },
	{ "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", EPROTO, 404,
	  "did not switch" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
	  EPROTO, 101, "no Sec-WebSocket-Accept" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA" ACC "\r\n"
	  "Sec-WebSocket-Protocol: sip\r\n\r\n", EPROTO, 101, "does not "
	  "match" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACC "\r\n\r\n",
	  EPROTO, 101, "subprotocol" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACC "\r\n"
	  "Sec-WebSocket-Protocol: xmpp\r\n\r\n", EPROTO, 101, "not sip" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACC "\r\n"
	  "Sec-WebSocket-Protocol: sip\r\n"
	  "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", EPROTO,
	  101, "extension" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACC "\r\n"
	  "Sec-WebSocket-Protocol: sip\r\n\r\n", EPROTO, 101, "Upgrade" },
	{ "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	  "Sec-WebSocket-Accept: " ACC "\r\n"
	  "Sec-WebSocket-Protocol: sip\r\n\r\n", EPROTO, 101, "Connection" },
	{ "HTTP/1.1 101 Switching Protocols\r\n folded\r\n\r\n", EPROTO, 101,
	  "bad header" },
	{ "HTTP/1.1 101 Switching Protocols\r\nno colon\r\n\r\n", EPROTO,
	  101, "bad header" },
	{ "HTTP/1.1 1O1 x\r\n\r\n", EPROTO, 0, "status line" },
	{ "SIP/2.0 200 OK\r\n", EPROTO, 0, "not HTTP" },
	{ "HTTP/1.1 101 Switching", EAGAIN, 0, NULL },
	{ "", EAGAIN, 0, NULL },
	{ "HTT", EAGAIN, 0, NULL },
};

START_TEST(test_answer_table)
{
	struct sip_ws_answer a;
	const char *why = NULL;
	size_t n = strlen(answers[_i].in);
	char *copy = malloc(n + 1);
	int rc;

	memcpy(copy, answers[_i].in, n + 1);
	rc = sip_ws_answer_check(copy, n, KEY, &a, &why);
	ck_assert_msg(rc == answers[_i].rc, "case %d: rc %d", _i, rc);
	if (rc != EAGAIN)
		ck_assert_uint_eq(a.status, answers[_i].status);
	if (rc == 0)
		ck_assert_uint_eq(a.len, n);
	if (answers[_i].why != NULL)
		ck_assert_msg(why != NULL && strstr(why, answers[_i].why) !=
		    NULL, "case %d: why %s", _i, why != NULL ? why : "-");
	free(copy);
}
END_TEST

START_TEST(test_answer_incremental)
{
	const char *in = GOOD "\x81\x05hello";
	size_t head = strlen(GOOD), n = head + 7;
	struct sip_ws_answer a;
	const char *why;

	/* Every prefix of the head waits; the frame after it is left. */
	for (size_t i = 0; i < head; i++)
		ck_assert_int_eq(sip_ws_answer_check(in, i, KEY, &a, &why),
		    EAGAIN);
	ck_assert_int_eq(sip_ws_answer_check(in, n, KEY, &a, &why), 0);
	ck_assert_uint_eq(a.len, head);
	/* Another key: refused. */
	ck_assert_int_eq(sip_ws_answer_check(in, n, "AAAAAAAAAAAAAAAAAAAAAA==",
	    &a, &why), EPROTO);
}
END_TEST

START_TEST(test_answer_limits)
{
	size_t n = SIP_WS_ANSWER_MAX + 100;
	char *big = malloc(n);
	struct sip_ws_answer a;
	struct strbuf sb = STRBUF_INIT;
	const char *why;

	memset(big, 'x', n);
	memcpy(big, "HTTP/1.1 101 x\r\nX: ", 19);
	ck_assert_int_eq(sip_ws_answer_check(big, SIP_WS_ANSWER_MAX - 1, KEY,
	    &a, &why), EAGAIN);
	ck_assert_int_eq(sip_ws_answer_check(big, n, KEY, &a, &why),
	    EMSGSIZE);
	free(big);
	strbuf_adds(&sb, "HTTP/1.1 101 x\r\n");
	for (int i = 0; i <= SIP_WS_ANSWER_FIELDS_MAX; i++)
		strbuf_adds(&sb, "X: y\r\n");
	strbuf_adds(&sb, "\r\n");
	ck_assert_int_eq(sip_ws_answer_check(sb.p, sb.n, KEY, &a, &why),
	    EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "too many"));
	strbuf_free(&sb);
}
END_TEST

/* ---- frames out ----------------------------------------------------------- */

static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };

START_TEST(test_frame_write)
{
	size_t len = sizes[_i], fs = sip_ws_frame_size(len), hl;
	uint8_t *p = malloc(len + 1), *f = malloc(fs);
	const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint64_t got = 0;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7);
	ck_assert_uint_eq(sip_ws_frame_write(f, SIP_WS_OP_BINARY, p, len,
	    mask), fs);
	ck_assert_uint_eq(f[0], 0x82);		/* FIN, binary */
	ck_assert(f[1] & 0x80);			/* masked */
	if (len < 126) {
		got = f[1] & 0x7f;
		hl = 2;
	} else if (len <= 0xffff) {
		ck_assert_uint_eq(f[1] & 0x7f, 126);
		got = (uint64_t)f[2] << 8 | f[3];
		hl = 4;
	} else {
		ck_assert_uint_eq(f[1] & 0x7f, 127);
		for (int i = 2; i < 10; i++)
			got = got << 8 | f[i];
		hl = 10;
	}
	ck_assert_uint_eq(got, len);
	ck_assert_mem_eq(f + hl, mask, 4);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq(f[hl + 4 + i] ^ mask[i & 3], p[i]);
	free(p);
	free(f);
}
END_TEST

static const struct {
	const char	*s;
	bool		 ok;
} utf8[] = {
	{ "INVITE sip:a@b SIP/2.0", true },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true },
	{ "\xc0\xaf", false },			/* overlong '/' */
	{ "\xe0\x80\xaf", false },		/* overlong */
	{ "\xed\xa0\x80", false },		/* surrogate */
	{ "\xf4\x90\x80\x80", false },		/* above U+10FFFF */
	{ "\xc3", false },			/* cut short */
	{ "\x80", false },
	{ "\xff", false },
};

START_TEST(test_utf8)
{
	ck_assert_msg(sip_ws_utf8_valid(utf8[_i].s, strlen(utf8[_i].s)) ==
	    utf8[_i].ok, "case %d", _i);
}
END_TEST

/* ---- frames in ------------------------------------------------------------ */

/* A server frame: unmasked unless told. */
static size_t
sframe(uint8_t *out, unsigned b0, const void *p, size_t len, bool masked)
{
	size_t h = 0;

	out[h++] = (uint8_t)b0;
	if (len < 126)
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | len);
	else if (len <= 0xffff) {
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | 126);
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = (uint8_t)((masked ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (masked) {
		memset(out + h, 0, 4);		/* a zero mask */
		h += 4;
	}
	if (len > 0)
		memcpy(out + h, p, len);
	return h + len;
}

START_TEST(test_decode_one)
{
	struct sip_ws_dec d;
	struct sip_ws_ev ev;
	uint8_t buf[64];
	size_t n = sframe(buf, 0x81, "OPTIONS", 7, false), used;
	const char *why;

	sip_ws_dec_init(&d, 1000);
	/* Byte by byte: nothing until the whole frame is there. */
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(sip_ws_decode(&d, buf, i, &used, &ev, &why),
		    0);
		ck_assert_uint_eq(used, 0);
		ck_assert_int_eq(ev.type, SIP_WS_EV_NONE);
	}
	ck_assert_int_eq(sip_ws_decode(&d, buf, n, &used, &ev, &why), 0);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(ev.type, SIP_WS_EV_MESSAGE);
	ck_assert(!ev.binary);
	ck_assert_uint_eq(ev.len, 7);
	/* No copy for a message in one frame. */
	ck_assert_ptr_eq(ev.data, buf + 2);
	sip_ws_dec_free(&d);
}
END_TEST

START_TEST(test_decode_fragments_and_control)
{
	struct sip_ws_dec d;
	struct sip_ws_ev ev;
	uint8_t buf[512];
	size_t n = 0, off = 0, used;
	const char *why;

	n += sframe(buf + n, 0x02, "ab", 2, false);	/* binary, not FIN */
	n += sframe(buf + n, 0x89, "p1", 2, false);	/* ping between */
	n += sframe(buf + n, 0x00, "cd", 2, false);	/* continuation */
	n += sframe(buf + n, 0x8a, "", 0, false);	/* pong */
	n += sframe(buf + n, 0x80, "ef", 2, false);	/* last */
	n += sframe(buf + n, 0x88, "\x03\xe8" "bye", 5, false);
	sip_ws_dec_init(&d, 6);
	ck_assert_int_eq(sip_ws_decode(&d, buf, n, &used, &ev, &why), 0);
	ck_assert(used > 0 && ev.type == SIP_WS_EV_NONE && d.frag);
	off += used;
	ck_assert_int_eq(sip_ws_decode(&d, buf + off, n - off, &used, &ev,
	    &why), 0);
	ck_assert_int_eq(ev.type, SIP_WS_EV_PING);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert_mem_eq(ev.data, "p1", 2);
	off += used;
	ck_assert_int_eq(sip_ws_decode(&d, buf + off, n - off, &used, &ev,
	    &why), 0);
	ck_assert_int_eq(ev.type, SIP_WS_EV_NONE);
	off += used;
	ck_assert_int_eq(sip_ws_decode(&d, buf + off, n - off, &used, &ev,
	    &why), 0);
	ck_assert_int_eq(ev.type, SIP_WS_EV_PONG);
	off += used;
	ck_assert_int_eq(sip_ws_decode(&d, buf + off, n - off, &used, &ev,
	    &why), 0);
	ck_assert_int_eq(ev.type, SIP_WS_EV_MESSAGE);
	ck_assert(ev.binary);
	ck_assert_uint_eq(ev.len, 6);
	ck_assert_mem_eq(ev.data, "abcdef", 6);
	off += used;
	ck_assert_int_eq(sip_ws_decode(&d, buf + off, n - off, &used, &ev,
	    &why), 0);
	ck_assert_int_eq(ev.type, SIP_WS_EV_CLOSE);
	ck_assert_uint_eq(ev.code, 1000);
	off += used;
	ck_assert_uint_eq(off, n);
	sip_ws_dec_free(&d);
}
END_TEST

START_TEST(test_decode_lengths)
{
	struct sip_ws_dec d;
	struct sip_ws_ev ev;
	size_t len = sizes[_i], used;
	uint8_t *p = calloc(1, len + 1), *f = malloc(len + 14);
	size_t n = sframe(f, 0x82, p, len, false);
	const char *why;

	sip_ws_dec_init(&d, 70000);
	ck_assert_int_eq(sip_ws_decode(&d, f, n, &used, &ev, &why), 0);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(ev.type, SIP_WS_EV_MESSAGE);
	ck_assert_uint_eq(ev.len, len);
	/* One byte short: wait. */
	ck_assert_int_eq(sip_ws_decode(&d, f, n - 1, &used, &ev, &why), 0);
	ck_assert_uint_eq(used, 0);
	sip_ws_dec_free(&d);
	free(p);
	free(f);
}
END_TEST

static const struct {
	const char	*name;
	const uint8_t	*in;
	size_t		 n;
	int		 rc;
	const char	*why;
} bad[] = {
	{ "masked", (const uint8_t *)"\x81\x81\0\0\0\0a", 7, EPROTO,
	  "masked" },
	{ "rsv1", (const uint8_t *)"\xc1\x01" "a", 3, EPROTO, "reserved" },
	{ "rsv3", (const uint8_t *)"\x91\x01" "a", 3, EPROTO, "reserved" },
	{ "opcode 3", (const uint8_t *)"\x83\x01" "a", 3, EPROTO, "opcode" },
	{ "opcode 0xb", (const uint8_t *)"\x8b\x00", 2, EPROTO, "opcode" },
	{ "ping not FIN", (const uint8_t *)"\x09\x00", 2, EPROTO,
	  "fragmented" },
	{ "ping 126", (const uint8_t *)"\x89\x7e\x00\x7e", 4, EPROTO,
	  "125" },
	{ "continuation first", (const uint8_t *)"\x80\x01" "a", 3, EPROTO,
	  "continuation" },
	{ "text inside", (const uint8_t *)"\x01\x01" "a\x81\x01" "b", 6,
	  EPROTO, "inside" },
	{ "close 1 byte", (const uint8_t *)"\x88\x01\x03", 3, EPROTO,
	  "one byte" },
	{ "close 1005", (const uint8_t *)"\x88\x02\x03\xed", 4, EPROTO,
	  "status code" },
	{ "close 999", (const uint8_t *)"\x88\x02\x03\xe7", 4, EPROTO,
	  "status code" },
	{ "length top bit", (const uint8_t *)"\x82\x7f\x80\0\0\0\0\0\0\x01",
	  10, EPROTO, "top bit" },
	/* Refused on the header alone: the payload never came. */
	{ "frame over the limit", (const uint8_t *)"\x82\x7e\x04\x01", 4,
	  EMSGSIZE, "frame above" },
	{ "64-bit over the limit",
	  (const uint8_t *)"\x82\x7f\0\0\0\x01\0\0\0\0", 10, EMSGSIZE,
	  "frame above" },
};

START_TEST(test_decode_bad)
{
	struct sip_ws_dec d;
	struct sip_ws_ev ev;
	size_t off = 0, used;
	const char *why = NULL;
	int rc = 0;

	sip_ws_dec_init(&d, 1024);
	/* Decode until an error or the end. */
	while (off < bad[_i].n) {
		rc = sip_ws_decode(&d, bad[_i].in + off, bad[_i].n - off,
		    &used, &ev, &why);
		if (rc != 0 || used == 0)
			break;
		off += used;
	}
	ck_assert_msg(rc == bad[_i].rc, "%s: rc %d", bad[_i].name, rc);
	if (bad[_i].why != NULL)
		ck_assert_msg(why != NULL && strstr(why, bad[_i].why) != NULL,
		    "%s: why %s", bad[_i].name, why != NULL ? why : "-");
	sip_ws_dec_free(&d);
}
END_TEST

START_TEST(test_decode_fragments_over_limit)
{
	struct sip_ws_dec d;
	struct sip_ws_ev ev;
	uint8_t buf[2048], part[600] = { 0 };
	size_t n = 0, used;
	const char *why;

	n += sframe(buf + n, 0x01, part, 600, false);
	n += sframe(buf + n, 0x00, part, 600, false);
	sip_ws_dec_init(&d, 1000);
	ck_assert_int_eq(sip_ws_decode(&d, buf, n, &used, &ev, &why), 0);
	ck_assert_int_eq(sip_ws_decode(&d, buf + used, n - used, &used, &ev,
	    &why), EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(why, "fragmented"));
	sip_ws_dec_free(&d);
}
END_TEST

/* ---- the transport's WS framer on the loop ---------------------------------- */

static struct event_base *base;

struct rec {
	int			 n;
	struct sip_msg		*m[8];
	struct sip_dest		 d[8];
	int			 fails, fail_err, obs, obs_err;
};

static struct rec rc;

static void
rec_recv(struct sip_msg *m, const struct sip_dest *d, void *arg)
{
	struct rec *r = arg;

	if (r->n < 8) {
		r->m[r->n] = m;
		r->d[r->n] = *d;
	} else
		sip_msg_free(m);
	r->n++;
}

static void
rec_fail(uint64_t id, int err, void *arg)
{
	struct rec *r = arg;

	r->fails++;
	r->fail_err = err;
}

static void
rec_obs(uint64_t id, int err, void *arg)
{
	struct rec *r = arg;

	r->obs++;
	r->obs_err = err;
}

static void
noop(evutil_socket_t fd, short what, void *arg)
{
}

static void
pump(const int *v, int want, int ms)
{
	uint64_t end = time_mono_us() + (uint64_t)ms * 1000;

	while ((v == NULL || *v < want) && time_mono_us() < end) {
		struct timeval tv = { 0, 5000 };

		event_base_once(base, -1, EV_TIMEOUT, noop, NULL, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
loop_setup(void)
{
	base = event_base_new();
	memset(&rc, 0, sizeof(rc));
}

static void
loop_teardown(void)
{
	for (int i = 0; i < rc.n && i < 8; i++)
		sip_msg_free(rc.m[i]);
	event_base_free(base);
}

/* The server the test plays: a listening socket, one accepted peer. */
struct srv {
	int		 lfd, fd;
	struct sockaddr_in addr;
	uint8_t		 buf[80000];
	size_t		 n;
};

static void
srv_listen(struct srv *s)
{
	socklen_t len = sizeof(s->addr);

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	s->addr.sin_family = AF_INET;
	s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&s->addr, len), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&s->addr,
	    &len), 0);
	ck_assert_int_eq(listen(s->lfd, 4), 0);
	fcntl(s->lfd, F_SETFL, O_NONBLOCK);
}

static void
srv_close(struct srv *s)
{
	if (s->fd >= 0)
		close(s->fd);
	close(s->lfd);
}

/* Pumps the loop, reading what the client sends; false on EOF. */
static bool
srv_poll(struct srv *s)
{
	ssize_t r;

	if (s->fd < 0) {
		s->fd = accept(s->lfd, NULL, NULL);
		if (s->fd >= 0)
			fcntl(s->fd, F_SETFL, O_NONBLOCK);
	}
	pump(NULL, 0, 5);
	if (s->fd < 0)
		return true;
	r = recv(s->fd, s->buf + s->n, sizeof(s->buf) - s->n, 0);
	if (r > 0)
		s->n += (size_t)r;
	return r != 0;
}

static void
srv_take(struct srv *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->n - n);
	s->n -= n;
}

/* The client's GET, whole: its key goes to key. */
static void
srv_read_get(struct srv *s, char key[SIP_WS_KEY_SIZE], char *host,
    size_t hostcap)
{
	uint64_t end = time_mono_us() + 2000000;
	char *e = NULL, *k, *h;

	while (time_mono_us() < end) {
		srv_poll(s);
		s->buf[s->n] = '\0';
		if ((e = strstr((char *)s->buf, "\r\n\r\n")) != NULL)
			break;
	}
	ck_assert_ptr_nonnull(e);
	ck_assert(strncmp((char *)s->buf, "GET / HTTP/1.1\r\n", 16) == 0);
	ck_assert_ptr_nonnull(strstr((char *)s->buf,
	    "\r\nSec-WebSocket-Protocol: sip\r\n"));
	ck_assert_ptr_nonnull(strstr((char *)s->buf,
	    "\r\nUpgrade: websocket\r\n"));
	k = strstr((char *)s->buf, "Sec-WebSocket-Key: ");
	ck_assert_ptr_nonnull(k);
	memcpy(key, k + 19, 24);
	key[24] = '\0';
	h = strstr((char *)s->buf, "\r\nHost: ");
	ck_assert_ptr_nonnull(h);
	snprintf(host, hostcap, "%.*s", (int)strcspn(h + 8, "\r"), h + 8);
	srv_take(s, (size_t)(e + 4 - (char *)s->buf));
}

static void
srv_send(struct srv *s, const void *p, size_t n)
{
	ck_assert_int_eq(send(s->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
srv_accept_ws(struct srv *s, const char *key)
{
	char acc[SIP_WS_ACCEPT_SIZE], ans[256];
	int n;

	sip_ws_accept_for(key, acc);
	n = snprintf(ans, sizeof(ans), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
	    acc);
	srv_send(s, ans, (size_t)n);
}

/*
 * One client frame: its opcode and unmasked payload (NUL added); -1
 * when none came in ms, -2 at EOF.
 */
static int
srv_frame(struct srv *s, char *out, size_t cap, size_t *len, int ms)
{
	uint64_t end = time_mono_us() + (uint64_t)ms * 1000;

	while (time_mono_us() < end) {
		size_t hl = 2, pl;
		const uint8_t *m;

		if (s->n >= 2) {
			pl = s->buf[1] & 0x7f;
			ck_assert(s->buf[1] & 0x80);	/* always masked */
			if (pl == 126 && s->n >= 4) {
				pl = (size_t)s->buf[2] << 8 | s->buf[3];
				hl = 4;
			} else if (pl == 126 || pl == 127)
				goto more;
			if (s->n >= hl + 4 + pl) {
				int op = s->buf[0] & 0x0f;

				ck_assert(s->buf[0] & 0x80);	/* FIN */
				ck_assert(pl < cap);
				m = s->buf + hl;
				for (size_t i = 0; i < pl; i++)
					out[i] = (char)(s->buf[hl + 4 + i] ^
					    m[i & 3]);
				out[pl] = '\0';
				*len = pl;
				srv_take(s, hl + 4 + pl);
				return op;
			}
		}
more:
		if (!srv_poll(s))
			return -2;
	}
	return -1;
}

static struct sip_tp *
ws_client(const struct sip_tp_conf *cf)
{
	struct sip_tp *tp = sip_tp_new(base, cf);

	sip_tp_set_recv(tp, rec_recv, &rc);
	sip_tp_set_fail(tp, rec_fail, &rc);
	return tp;
}

static size_t
mkreq(char *out, size_t cap, const char *via, const char *method,
    const char *cl)
{
	int n = snprintf(out, cap, "%s sip:bob@127.0.0.1;transport=ws "
	    "SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\n"
	    "From: <sip:alice@example.com>;tag=a1\r\n"
	    "To: <sip:bob@example.com>\r\nCall-ID: ws1\r\n"
	    "CSeq: 1 %s\r\n%s\r\n", method, via, method, cl);

	ck_assert(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* A client connected through the upgrade; the dest names its conn. */
static struct sip_tp *
ws_connected(struct srv *s, struct sip_dest *d, char *via, size_t vcap)
{
	struct sip_tp_conf cf;
	struct sip_tp *tp;
	struct strbuf v = STRBUF_INIT;
	char key[SIP_WS_KEY_SIZE], host[64], req[1024], got[2048], want[64];
	size_t n, len;

	/* A ping waits a second for its pong (RFC 5626 §4.4.1 says 10). */
	sip_tp_conf_default(&cf);
	cf.pong_timeout_ms = 1000;
	tp = ws_client(&cf);
	srv_listen(s);
	sip_tp_dest_make(d, SIP_TP_WS, (struct sockaddr *)&s->addr,
	    sizeof(s->addr));
	ck_assert_int_eq(sip_tp_open(tp, d, NULL), 0);
	ck_assert_uint_ne(d->conn_id, 0);
	/* The Via names the connection itself: no listener is needed. */
	ck_assert_int_eq(sip_tp_via(tp, d, NULL, &v), 0);
	ck_assert(strncmp(v.p, "SIP/2.0/WS 127.0.0.1:", 21) == 0);
	snprintf(via, vcap, "%s", v.p);
	strbuf_free(&v);
	n = mkreq(req, sizeof(req), via, "OPTIONS", "Content-Length: 0\r\n");
	/* Sent before the upgrade: held back until the 101. */
	ck_assert_int_eq(sip_tp_send(tp, d, req, n), 0);
	srv_read_get(s, key, host, sizeof(host));
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(s->addr.sin_port));
	ck_assert_str_eq(host, want);
	for (int i = 0; i < 10; i++)
		srv_poll(s);
	ck_assert_uint_eq(s->n, 0);
	srv_accept_ws(s, key);
	ck_assert_int_eq(srv_frame(s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_TEXT);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(got, req, n);
	return tp;
}

START_TEST(test_ws_exchange)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	char via[256], msg[1024], got[2048], frame[2100];
	struct strbuf v = STRBUF_INIT;
	size_t n, len, fl;
	const char *br;
	struct sip_build b;
	struct strbuf out = STRBUF_INIT;

	ck_assert_int_eq(sip_tp_via(tp, &d, "z9hG4bKws1", &v), 0);
	snprintf(via, sizeof(via), "%s", v.p);
	strbuf_free(&v);
	/* A response whose Via is the connection's address is ours. */
	br = strchr(via, ' ');
	n = (size_t)snprintf(msg, sizeof(msg), "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/WS%s;received=127.0.0.1\r\n"
	    "From: <sip:alice@example.com>;tag=a1\r\n"
	    "To: <sip:bob@example.com>;tag=b\r\nCall-ID: ws1\r\n"
	    "CSeq: 1 OPTIONS\r\n\r\n", br);
	fl = sframe((uint8_t *)frame, 0x81, msg, n, false);
	srv_send(&s, frame, fl);
	pump(&rc.n, 1, 2000);
	ck_assert_int_eq(rc.n, 1);
	ck_assert(!rc.m[0]->request && rc.m[0]->status == 200);
	ck_assert_uint_eq(rc.d[0].proto, SIP_TP_WS);
	ck_assert_uint_eq(rc.d[0].conn_id, d.conn_id);
	/* A request in two fragments with a ping between them. */
	n = mkreq(msg, sizeof(msg), "SIP/2.0/WS k.invalid;branch=z9hG4bKk1",
	    "INVITE", "");
	fl = sframe((uint8_t *)frame, 0x01, msg, 20, false);
	fl += sframe((uint8_t *)frame + fl, 0x89, "hi", 2, false);
	fl += sframe((uint8_t *)frame + fl, 0x80, msg + 20, n - 20, false);
	srv_send(&s, frame, fl);
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_PONG);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_eq(got, "hi");
	pump(&rc.n, 2, 2000);
	ck_assert_int_eq(rc.n, 2);
	ck_assert(rc.m[1]->request);
	ck_assert_uint_eq(rc.d[1].conn_id, d.conn_id);
	/* Its answer goes back over the same connection, framed. */
	memset(&b, 0, sizeof(b));
	sip_build_response_to(&b, rc.m[1], 180, "Ringing", "t1");
	sip_build_finish(&b, &out);
	sip_build_free(&b);
	ck_assert_int_eq(sip_tp_send(tp, &rc.d[1], out.p, out.n), 0);
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_TEXT);
	ck_assert(strncmp(got, "SIP/2.0 180 Ringing\r\n", 21) == 0);
	strbuf_free(&out);
	/* Non-UTF-8 goes binary (RFC 7118 §5.2). */
	n = mkreq(msg, sizeof(msg), via, "MESSAGE", "Content-Length: 2\r\n");
	memcpy(msg + n, "\xff\xfe", 2);
	ck_assert_int_eq(sip_tp_send(tp, &d, msg, n + 2), 0);
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_BINARY);
	ck_assert_uint_eq(len, n + 2);
	/* A Content-Length that lies gets a 400, the connection stays. */
	n = mkreq(msg, sizeof(msg), "SIP/2.0/WS k.invalid;branch=z9hG4bKk2",
	    "OPTIONS", "Content-Length: 1\r\n");
	memcpy(msg + n, "abc", 3);
	fl = sframe((uint8_t *)frame, 0x81, msg, n + 3, false);
	srv_send(&s, frame, fl);
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_TEXT);
	ck_assert(strncmp(got, "SIP/2.0 400 ", 12) == 0);
	ck_assert(sip_tp_conn_alive(tp, d.conn_id));
	/* No Content-Length at all: fine on WebSocket. */
	n = mkreq(msg, sizeof(msg), "SIP/2.0/WS k.invalid;branch=z9hG4bKk3",
	    "OPTIONS", "");
	memcpy(msg + n, "body", 4);
	fl = sframe((uint8_t *)frame, 0x82, msg, n + 4, false);
	srv_send(&s, frame, fl);
	pump(&rc.n, 3, 2000);
	ck_assert_int_eq(rc.n, 3);
	ck_assert_uint_eq(rc.m[2]->body.n, 4);
	ck_assert_uint_eq(sip_tp_stats(tp)->tp[SIP_TP_WS].msgs_in, 4);
	ck_assert_int_eq(rc.fails, 0);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

/* The server answers the GET with ans; the connection must fail. */
static void
refused(const char *ans)
{
	struct srv s;
	struct sip_tp *tp = ws_client(NULL);
	struct sip_dest d;
	char key[SIP_WS_KEY_SIZE], host[64];

	srv_listen(&s);
	sip_tp_dest_make(&d, SIP_TP_WS, (struct sockaddr *)&s.addr,
	    sizeof(s.addr));
	ck_assert_int_eq(sip_tp_open(tp, &d, "ws.example.com"), 0);
	ck_assert_uint_ne(sip_tp_conn_observe(tp, d.conn_id, rec_obs, &rc),
	    0);
	srv_read_get(&s, key, host, sizeof(host));
	ck_assert(strncmp(host, "ws.example.com:", 15) == 0);
	srv_send(&s, ans, strlen(ans));
	pump(&rc.obs, 1, 2000);
	ck_assert_int_eq(rc.obs, 1);
	ck_assert_int_eq(rc.obs_err, EBADMSG);
	ck_assert_int_eq(rc.fails, 1);
	ck_assert(!sip_tp_conn_alive(tp, d.conn_id));
	ck_assert_uint_eq(sip_tp_stats(tp)->stream_errors, 1);
	sip_tp_free(tp);
	srv_close(&s);
}

START_TEST(test_ws_refused)
{
	refused("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
}
END_TEST

START_TEST(test_ws_bad_accept)
{
	refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: "
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip"
	    "\r\n\r\n");
}
END_TEST

START_TEST(test_ws_oversize_frame)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	uint8_t head[10] = { 0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0 };
	char got[256];
	size_t len;

	ck_assert_uint_ne(sip_tp_conn_observe(tp, d.conn_id, rec_obs, &rc),
	    0);
	/* 65536 bytes announced, one above the limit: refused at once. */
	srv_send(&s, head, sizeof(head));
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_CLOSE);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(((uint8_t)got[0] << 8 | (uint8_t)got[1]),
	    SIP_WS_CLOSE_TOO_BIG);
	pump(&rc.obs, 1, 3000);
	ck_assert_int_eq(rc.obs, 1);
	ck_assert_int_eq(rc.obs_err, EBADMSG);
	ck_assert_uint_eq(sip_tp_stats(tp)->stream_errors, 1);
	/* Nothing more is sent on it. */
	ck_assert_int_eq(sip_tp_ping(tp, d.conn_id), ENOTCONN);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

START_TEST(test_ws_server_close)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	uint8_t fr[16];
	char got[256];
	size_t len, n = sframe(fr, 0x88, "\x03\xe9", 2, false);

	ck_assert_uint_ne(sip_tp_conn_observe(tp, d.conn_id, rec_obs, &rc),
	    0);
	srv_send(&s, fr, n);
	/* RFC 6455 §5.5.1: a close is answered with one. */
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_CLOSE);
	ck_assert_uint_eq(len, 2);
	/* Then the client waits for the server to close TCP. */
	ck_assert(!sip_tp_conn_alive(tp, d.conn_id));
	close(s.fd);
	s.fd = -1;
	pump(&rc.obs, 1, 2000);
	ck_assert_int_eq(rc.obs, 1);
	ck_assert_int_eq(rc.obs_err, ECONNRESET);
	ck_assert_int_eq(rc.fails, 1);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

START_TEST(test_ws_masked_from_server)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	uint8_t fr[16];
	char got[256];
	size_t len, n = sframe(fr, 0x81, "x", 1, true);

	srv_send(&s, fr, n);
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2000),
	    SIP_WS_OP_CLOSE);
	ck_assert_uint_eq(((uint8_t)got[0] << 8 | (uint8_t)got[1]),
	    SIP_WS_CLOSE_PROTOCOL);
	pump(&rc.fails, 1, 3000);
	ck_assert_int_eq(rc.fails, 1);
	ck_assert_int_eq(rc.fail_err, EBADMSG);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

START_TEST(test_ws_keepalive)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	uint8_t fr[16];
	char got[256];
	size_t len, n;

	ck_assert_uint_ne(sip_tp_conn_observe(tp, d.conn_id, rec_obs, &rc),
	    0);
	/* RFC 5626 §4.4.1 on WS: a ping frame instead of CRLFCRLF. */
	ck_assert_int_eq(sip_tp_conn_set_keepalive(tp, d.conn_id, 1), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2500),
		    SIP_WS_OP_PING);
		n = sframe(fr, 0x8a, got, len, false);
		srv_send(&s, fr, n);
	}
	/* Answered: still alive.  Now the server stops answering. */
	ck_assert_int_eq(rc.obs, 0);
	ck_assert(sip_tp_conn_alive(tp, d.conn_id));
	ck_assert_int_eq(srv_frame(&s, got, sizeof(got), &len, 2500),
	    SIP_WS_OP_PING);
	pump(&rc.obs, 1, 2500);
	ck_assert_int_eq(rc.obs, 1);
	ck_assert_int_eq(rc.obs_err, ETIMEDOUT);
	ck_assert_uint_ge(sip_tp_stats(tp)->keepalives_in, 2);
	ck_assert_uint_ge(sip_tp_stats(tp)->keepalives_out, 3);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

/*
 * The client's end of the server's accepted socket, found by address,
 * so that a test can shrink its kernel buffer.
 */
static int
client_fd_of(int sfd)
{
	struct sockaddr_storage want, got;
	socklen_t wl = sizeof(want), gl;

	ck_assert_int_eq(getpeername(sfd, (struct sockaddr *)&want, &wl), 0);
	for (int fd = 3; fd < 1024; fd++) {
		gl = sizeof(got);
		if (fd != sfd && getsockname(fd, (struct sockaddr *)&got,
		    &gl) == 0 && gl == wl && memcmp(&got, &want, wl) == 0)
			return fd;
	}
	return -1;
}

/*
 * A server that pings without end and reads nothing: the pongs that
 * cannot go out are not queued without bound (RFC 6455 §5.5.3 lets
 * us answer only the latest ping); the connection lives on.
 */
START_TEST(test_ws_ping_flood)
{
	struct srv s;
	struct sip_dest d;
	struct sip_tp *tp = ws_connected(&s, &d, (char[256]){ 0 }, 256);
	static uint8_t pings[64 * 127];
	char pay[125];
	int small = 4096, cfd = client_fd_of(s.fd);
	size_t per = sframe(pings, 0x89, pay, sizeof(pay), false), sent = 0;
	size_t want = 3 * SIP_TP_OUTPUT_MAX, off = 0;
	uint64_t end = time_mono_us() + 20000000;
	const struct sip_tp_stats *st = sip_tp_stats(tp);

	memset(pay, 'p', sizeof(pay));
	for (size_t i = 0; i < 64; i++)
		sframe(pings + i * per, 0x89, pay, sizeof(pay), false);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	ck_assert_int_eq(setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	while (sent < want && time_mono_us() < end) {
		ssize_t r = send(s.fd, pings + off, 64 * per - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0) {
			sent += (size_t)r;
			off = (off + (size_t)r) % (64 * per);
		}
		pump(NULL, 0, 1);
	}
	ck_assert_uint_ge(sent, want);
	pump(NULL, 0, 100);
	ck_assert_uint_ge(st->keepalives_in, want / per / 2);
	/* What was answered fits in the output limit and the buffers. */
	ck_assert_msg(st->keepalives_out * (per + 4) <= SIP_TP_OUTPUT_MAX +
	    256 * 1024, "%llu pongs queued",
	    (unsigned long long)st->keepalives_out);
	ck_assert(sip_tp_conn_alive(tp, d.conn_id));
	ck_assert_int_eq(rc.fails, 0);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

START_TEST(test_ws_no_upgrade_timeout)
{
	struct srv s;
	struct sip_tp_conf cf;
	struct sip_tp *tp;
	struct sip_dest d;
	char key[SIP_WS_KEY_SIZE], host[64];

	sip_tp_conf_default(&cf);
	cf.connect_timeout_ms = 200;
	tp = ws_client(&cf);
	srv_listen(&s);
	sip_tp_dest_make(&d, SIP_TP_WS, (struct sockaddr *)&s.addr,
	    sizeof(s.addr));
	ck_assert_int_eq(sip_tp_open(tp, &d, NULL), 0);
	/* TCP is up, the GET is read, no 101 comes. */
	srv_read_get(&s, key, host, sizeof(host));
	pump(&rc.fails, 1, 2000);
	ck_assert_int_eq(rc.fails, 1);
	ck_assert_int_eq(rc.fail_err, ETIMEDOUT);
	sip_tp_free(tp);
	srv_close(&s);
}
END_TEST

START_TEST(test_ws_no_listener)
{
	struct sip_tp *tp = ws_client(NULL);
	struct sip_tp_listen_conf lc = { SIP_TP_WS, "127.0.0.1:0", NULL,
	    NULL, NULL };
	enum sip_tp_proto p;

	ck_assert_int_eq(sip_tp_listen(tp, &lc, NULL), EINVAL);
	lc.transport = SIP_TP_WSS;
	ck_assert_int_eq(sip_tp_listen(tp, &lc, NULL), EINVAL);
	ck_assert_int_eq(sip_tp_proto_from("wss", &p), 0);
	ck_assert_int_eq(p, SIP_TP_WSS);
	ck_assert_str_eq(sip_tp_proto_name(SIP_TP_WS), "WS");
	ck_assert_str_eq(sip_tp_contact_param(SIP_TP_WSS), ";transport=ws");
	ck_assert_str_eq(sip_tp_contact_scheme(SIP_TP_WSS), "sip");
	sip_tp_free(tp);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("sip_ws");
	TCase *tc = tcase_create("pure");
	TCase *tl = tcase_create("loop");

	tcase_add_test(tc, test_accept_vector);
	tcase_add_test(tc, test_key_new);
	tcase_add_test(tc, test_request);
	tcase_add_loop_test(tc, test_answer_table, 0,
	    sizeof(answers) / sizeof(answers[0]));
	tcase_add_test(tc, test_answer_incremental);
	tcase_add_test(tc, test_answer_limits);
	tcase_add_loop_test(tc, test_frame_write, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_loop_test(tc, test_utf8, 0, sizeof(utf8) / sizeof(utf8[0]));
	tcase_add_test(tc, test_decode_one);
	tcase_add_test(tc, test_decode_fragments_and_control);
	tcase_add_loop_test(tc, test_decode_lengths, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_loop_test(tc, test_decode_bad, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_decode_fragments_over_limit);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tl, loop_setup, loop_teardown);
	tcase_set_timeout(tl, 30);
	tcase_add_test(tl, test_ws_exchange);
	tcase_add_test(tl, test_ws_refused);
	tcase_add_test(tl, test_ws_bad_accept);
	tcase_add_test(tl, test_ws_oversize_frame);
	tcase_add_test(tl, test_ws_server_close);
	tcase_add_test(tl, test_ws_masked_from_server);
	tcase_add_test(tl, test_ws_keepalive);
	tcase_add_test(tl, test_ws_ping_flood);
	tcase_add_test(tl, test_ws_no_upgrade_timeout);
	tcase_add_test(tl, test_ws_no_listener);
	suite_add_tcase(s, tl);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ws_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
