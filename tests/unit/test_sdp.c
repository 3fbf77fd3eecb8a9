/*
 * SDP: parsing (valid bodies, each rejection reason, the limits),
 * building and printing (build -> print -> parse gives the same
 * fields), and RFC 3264 offer/answer (codec intersection in the
 * offerer's order, dynamic payload numbers, rejected streams, 488,
 * direction mirroring, telephone-event, hold).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sdp.h"

#define V	"v=0\r\n"
#define O	"o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
#define S	"s=-\r\n"
#define C	"c=IN IP4 192.0.2.10\r\n"
#define T	"t=0 0\r\n"
#define HDR	V O S C T
#define AUDIO	"m=audio 49170 RTP/AVP 0 8 96\r\n" \
		"a=rtpmap:96 opus/48000/2\r\n"

static struct arena ar;
static struct sdp_session sess;
static const char *why;

static void
setup(void)
{
	arena_init(&ar);
	why = NULL;
}

static void
teardown(void)
{
	arena_free(&ar);
}

static int
parse_n(struct sdp_session *s, const char *body, size_t n)
{
	why = NULL;
	return sdp_parse(s, &ar, body, n, &why);
}

static int
parse(struct sdp_session *s, const char *body)
{
	return parse_n(s, body, strlen(body));
}

static bool
in_buf(struct slice s, const char *buf, size_t n)
{
	if (s.p == NULL)
		return s.n == 0;
	return s.p >= buf && s.n <= n && s.p - buf <= (ptrdiff_t)(n - s.n);
}

/* Every slice of a parsed session points into its body (zero-copy). */
static bool
all_in_buf(const struct sdp_session *s, const char *b, size_t n)
{
	bool ok = in_buf(s->origin.username, b, n) &&
	    in_buf(s->origin.nettype, b, n) &&
	    in_buf(s->origin.addrtype, b, n) && in_buf(s->origin.addr, b, n) &&
	    in_buf(s->name, b, n) && in_buf(s->conn.nettype, b, n) &&
	    in_buf(s->conn.addrtype, b, n) && in_buf(s->conn.addr, b, n);

	for (size_t i = 0; i < s->nfields; i++)
		ok &= in_buf(s->fields[i].value, b, n);
	for (size_t i = 0; i < s->nbw; i++)
		ok &= in_buf(s->bw[i].type, b, n);
	for (size_t i = 0; i < s->ntimes; i++)
		for (size_t j = 0; j < s->times[i].nrepeats; j++)
			ok &= in_buf(s->times[i].repeats[j], b, n);
	for (size_t i = 0; i < s->nattrs; i++)
		ok &= in_buf(s->attrs[i].name, b, n) &&
		    in_buf(s->attrs[i].value, b, n);
	for (size_t i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];

		ok &= in_buf(m->type, b, n) && in_buf(m->proto, b, n) &&
		    in_buf(m->conn.addr, b, n) &&
		    in_buf(m->rtcp_conn.addr, b, n);
		for (size_t j = 0; j < m->nfmts; j++)
			ok &= in_buf(m->fmts[j].fmt, b, n) &&
			    in_buf(m->fmts[j].encoding, b, n) &&
			    in_buf(m->fmts[j].fmtp, b, n);
		for (size_t j = 0; j < m->nfields; j++)
			ok &= in_buf(m->fields[j].value, b, n);
		for (size_t j = 0; j < m->nbw; j++)
			ok &= in_buf(m->bw[j].type, b, n);
		for (size_t j = 0; j < m->nattrs; j++)
			ok &= in_buf(m->attrs[j].name, b, n) &&
			    in_buf(m->attrs[j].value, b, n);
	}
	return ok;
}

#define ck_assert_slice(s, str) do {					\
	struct slice s_ = (s);						\
	ck_assert_msg(slice_eq_cstr(s_, (str)), "'%.*s' != '%s'",	\
	    SLICE_ARG(s_), (str));					\
} while (0)

/* ---- parse: table of bodies ------------------------------------------ */

struct parse_case {
	const char	*name;
	const char	*body;
	size_t		 len;		/* 0: strlen */
	const char	*why;		/* NULL: must parse */
};

static const struct parse_case parse_cases[] = {
	/* valid */
	{ "minimal, no media", V O S T, 0, NULL },
	{ "audio", HDR AUDIO, 0, NULL },
	{ "LF line ends", "v=0\no=- 1 1 IN IP4 h\ns=x\nc=IN IP4 h\nt=0 0\n"
	    "m=audio 1 RTP/AVP 0\n", 0, NULL },
	{ "last line without end", HDR "m=audio 1 RTP/AVP 0", 0, NULL },
	{ "trailing empty lines", HDR AUDIO "\r\n\r\n", 0, NULL },
	{ "c= only in media", V O S T "m=audio 1 RTP/AVP 0\r\n" C
	    "m=video 2 RTP/AVP 31\r\n" C, 0, NULL },
	{ "port 0 media needs no c=", V O S T "m=video 0 RTP/AVP 31\r\n", 0,
	    NULL },
	{ "all session fields", V O S "i=info\r\nu=http://x/\r\n"
	    "e=a@b.example\r\ne=c@d.example\r\np=+1 555\r\n" C
	    "b=CT:128\r\nb=AS:64\r\nt=1 2\r\nr=7d 1h 0 25h\r\nr=1 2 3\r\n"
	    "t=3 4\r\nz=2882844526 -1h\r\nk=prompt\r\na=tool:x\r\n"
	    "m=audio 1 RTP/AVP 0\r\ni=m\r\n" C C "b=AS:1\r\nk=clear:x\r\n"
	    "a=foo\r\n", 0, NULL },
	{ "IPv6", V "o=- 1 1 IN IP6 2001:db8::1\r\n" S
	    "c=IN IP6 2001:db8::1\r\n" T "m=audio 1 RTP/AVP 0\r\n", 0, NULL },
	{ "multicast", V O S "c=IN IP4 224.2.1.1/127/3\r\n" T, 0, NULL },
	{ "rtpmap without rate (RFC 4475)", HDR
	    "m=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n", 0, NULL },
	{ "spaces", HDR "m=audio  1  RTP/AVP  0  8 \r\n"
	    "a=rtpmap:8  PCMA/8000 \r\n", 0, NULL },
	{ "empty s=", V O "s=\r\n" C T, 0, NULL },
	{ "fractional ptime", HDR AUDIO "a=ptime:20.0\r\n", 0, NULL },
	{ "rtcp with address", HDR AUDIO
	    "a=rtcp:53020 IN IP4 126.16.64.4\r\n", 0, NULL },
	{ "non-RTP media", HDR "m=image 9 udptl t38\r\n"
	    "m=application 9 TCP/MSRP *\r\n", 0, NULL },
	{ "rtpmap for a format not listed", HDR "m=audio 1 RTP/AVP 0\r\n"
	    "a=rtpmap:96 opus/48000/2\r\n", 0, NULL },
	/* the body must be SDP */
	{ "empty body", "", 0, "empty SDP body" },
	{ "only line ends", "\r\n\r\n", 0, "empty SDP body" },
	{ "o= first", O S C T, 0, "SDP body does not start with v=" },
	{ "v=1", "v=1\r\n" O S C T, 0, "unsupported SDP version" },
	{ "only v=", V, 0, "no o= line" },
	{ "no s= at end", V O, 0, "no s= line" },
	{ "missing o=", V S C T, 0, "second SDP line is not o=" },
	{ "missing s=", V O C T, 0, "third SDP line is not s=" },
	{ "missing t= before m=", V O S C "m=audio 1 RTP/AVP 0\r\n", 0,
	    "no t= line before m=" },
	{ "missing t=", V O S C, 0, "no t= line" },
	{ "missing t= before a=", V O S C "a=recvonly\r\n", 0, "no t= line" },
	{ "not type=value", V O S "c IN IP4 h\r\n" T, 0,
	    "SDP line is not <type>=<value>" },
	{ "upper-case type", "V=0\r\n" O S C T, 0,
	    "SDP line is not <type>=<value>" },
	{ "space before =", V O S C T "m =audio 1 RTP/AVP 0\r\n", 0,
	    "SDP line is not <type>=<value>" },
	{ "empty line inside", V O "\r\n" S C T, 0, "empty line in SDP body" },
	{ "NUL in a line", V O "s=a\0b\r\n" C T, sizeof(V O "s=a\0b\r\n" C T)
	    - 1, "NUL or CR inside an SDP line" },
	{ "bare CR in a line", V O "s=a\rb\r\n" C T, 0,
	    "NUL or CR inside an SDP line" },
	{ "unknown type", HDR "x=foo\r\n", 0, "unknown SDP line type" },
	/* order (RFC 4566 §5) */
	{ "b= before c=", V O S "b=AS:64\r\n" C T, 0,
	    "SDP session lines out of order" },
	{ "a= before t=", V O S C "a=x\r\n" T, 0, "no t= line" },
	{ "two c= at session", V O S C C T, 0,
	    "SDP session line type repeated" },
	{ "two s=", V O S S C T, 0, "SDP session line type repeated" },
	{ "r= not after t=", HDR "z=0 -1h\r\nr=1 2 3\r\n", 0,
	    "r= line not after t=" },
	{ "s= in media", HDR "m=audio 1 RTP/AVP 0\r\ns=x\r\n", 0,
	    "line type not allowed in an SDP media description" },
	{ "a= before c= in media", V O S T "m=audio 1 RTP/AVP 0\r\na=x\r\n" C,
	    0, "SDP media lines out of order" },
	{ "two i= in media", HDR "m=audio 1 RTP/AVP 0\r\ni=a\r\ni=b\r\n", 0,
	    "SDP media line type repeated" },
	{ "media without c=", V O S T "m=audio 1 RTP/AVP 0\r\n", 0,
	    "no c= line for a media description" },
	/* values */
	{ "o= short", V "o=- 1 1 IN IP4\r\n" S C T, 0, "bad o= line" },
	{ "o= long", V "o=- 1 1 IN IP4 h x\r\n" S C T, 0, "bad o= line" },
	{ "o= bad id", V "o=- 1x 1 IN IP4 h\r\n" S C T, 0,
	    "bad o= session id or version" },
	{ "o= id overflow", V "o=- 18446744073709551616 1 IN IP4 h\r\n" S C T,
	    0, "bad o= session id or version" },
	{ "c= short", V O S "c=IN IP4\r\n" T, 0, "bad c= line" },
	{ "c= ttl over 255", V O S "c=IN IP4 224.2.1.1/256\r\n" T, 0,
	    "bad c= line" },
	{ "c= IP6 ttl/num", V O S "c=IN IP6 ff15::101/3/2\r\n" T, 0,
	    "bad c= line" },
	{ "b= without value", V O S C "b=AS\r\n" T, 0, "bad b= line" },
	{ "b= not a number", V O S C "b=AS:x\r\n" T, 0, "bad b= line" },
	{ "t= one time", V O S C "t=0\r\n", 0, "bad t= line" },
	{ "t= not a number", V O S C "t=0 x\r\n", 0, "bad t= line" },
	{ "empty r=", HDR "r=\r\n", 0, "empty r= line" },
	{ "bad media type", HDR "m=au:dio 1 RTP/AVP 0\r\n", 0,
	    "bad m= media type" },
	{ "port not a number", HDR "m=audio 49170x RTP/AVP 0\r\n", 0,
	    "bad m= port" },
	{ "port too big", HDR "m=audio 65536 RTP/AVP 0\r\n", 0,
	    "bad m= port" },
	{ "port/0", HDR "m=audio 49170/0 RTP/AVP 0\r\n", 0, "bad m= port" },
	{ "no port", HDR "m=audio\r\n", 0, "bad m= port" },
	{ "bad proto", HDR "m=audio 1 RTP//AVP 0\r\n", 0, "bad m= proto" },
	{ "no formats", HDR "m=audio 1 RTP/AVP\r\n", 0,
	    "m= line without formats" },
	{ "payload type 128", HDR "m=audio 1 RTP/AVP 0 128\r\n", 0,
	    "bad RTP payload type on m= line" },
	{ "payload type word", HDR "m=audio 1 RTP/AVP PCMU\r\n", 0,
	    "bad RTP payload type on m= line" },
	{ "format repeated", HDR "m=audio 1 RTP/AVP 0 8 0\r\n", 0,
	    "format repeated on an m= line" },
	{ "rtpmap bad pt", HDR AUDIO "a=rtpmap:x PCMU/8000\r\n", 0,
	    "bad rtpmap payload type" },
	{ "rtpmap pt 300", HDR AUDIO "a=rtpmap:300 PCMU/8000\r\n", 0,
	    "bad rtpmap payload type" },
	{ "rtpmap no encoding", HDR AUDIO "a=rtpmap:0\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap bad rate", HDR AUDIO "a=rtpmap:0 PCMU/8k\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap rate 0", HDR AUDIO "a=rtpmap:0 PCMU/0\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap empty rate", HDR AUDIO "a=rtpmap:0 PCMU/\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap channels 0", HDR AUDIO "a=rtpmap:0 PCMU/8000/0\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap trailing word", HDR AUDIO "a=rtpmap:0 PCMU/8000 x\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap no name", HDR AUDIO "a=rtpmap:0 /8000\r\n", 0,
	    "bad rtpmap encoding" },
	{ "rtpmap without value", HDR AUDIO "a=rtpmap\r\n", 0,
	    "rtpmap without value" },
	{ "rtpmap repeated", HDR AUDIO "a=rtpmap:96 opus/48000/2\r\n", 0,
	    "rtpmap repeated for a format" },
	{ "fmtp repeated", HDR AUDIO "a=fmtp:96 x=1\r\na=fmtp:96 y=2\r\n", 0,
	    "fmtp repeated for a format" },
	{ "fmtp empty", HDR AUDIO "a=fmtp:\r\n", 0, "bad fmtp format" },
	{ "bad ptime", HDR AUDIO "a=ptime:abc\r\n", 0, "bad ptime" },
	{ "bad maxptime", HDR AUDIO "a=maxptime:-1\r\n", 0, "bad maxptime" },
	{ "bad rtcp port", HDR AUDIO "a=rtcp:70000\r\n", 0,
	    "bad rtcp attribute" },
	{ "bad rtcp address", HDR AUDIO "a=rtcp:9 IN IP4\r\n", 0,
	    "bad rtcp attribute" },
	{ "two directions in media", HDR AUDIO "a=sendonly\r\na=inactive\r\n",
	    0, "more than one direction attribute" },
	{ "two directions in session", HDR "a=sendonly\r\na=sendonly\r\n", 0,
	    "more than one direction attribute" },
	{ "bad attribute name", HDR "a=:x\r\n", 0, "bad SDP attribute name" },
};

START_TEST(test_parse_table)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t n = c->len ? c->len : strlen(c->body);
	int rc = parse_n(&sess, c->body, n);

	if (c->why == NULL) {
		ck_assert_msg(rc == 0, "%s: %s", c->name, why);
		ck_assert_msg(all_in_buf(&sess, c->body, n), "%s: slice "
		    "outside the body", c->name);
	} else {
		ck_assert_msg(rc == EBADMSG, "%s: parsed", c->name);
		ck_assert_msg(why != NULL && strcmp(why, c->why) == 0,
		    "%s: got '%s', want '%s'", c->name, why, c->why);
	}
}
END_TEST

/* ---- parse: fields --------------------------------------------------- */

static const char full[] =
    "v=0\r\n"
    "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    "s=SDP Seminar\r\n"
    "i=A Seminar on the session description protocol\r\n"
    "u=http://www.example.com/seminars/sdp.pdf\r\n"
    "e=j.doe@example.com (Jane Doe)\r\n"
    "c=IN IP4 224.2.17.12/127\r\n"
    "b=AS:256\r\n"
    "t=2873397496 2873404696\r\n"
    "r=604800 3600 0 90000\r\n"
    "a=recvonly\r\n"
    "a=tool:x y\r\n"
    "m=audio 49170 RTP/AVP 0 8 97 101\r\n"
    "b=TIAS:64000\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=fmtp:97 mode=30\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "a=maxptime:150\r\n"
    "a=rtcp:49171\r\n"
    "a=x-unknown:some value\r\n"
    "a=flag\r\n"
    "m=video 51372/2 RTP/AVP 99\r\n"
    "c=IN IP4 192.0.2.99\r\n"
    "a=rtpmap:99 h263-1998/90000\r\n"
    "a=sendrecv\r\n";

START_TEST(test_parse_fields)
{
	const struct sdp_media *m;

	ck_assert_int_eq(parse(&sess, full), 0);
	ck_assert_uint_eq(sess.version, 0);
	ck_assert_slice(sess.origin.username, "jdoe");
	ck_assert(sess.origin.sess_id == 2890844526u);
	ck_assert(sess.origin.sess_version == 2890842807u);
	ck_assert_slice(sess.origin.nettype, "IN");
	ck_assert_slice(sess.origin.addrtype, "IP4");
	ck_assert_slice(sess.origin.addr, "10.47.16.5");
	ck_assert_slice(sess.name, "SDP Seminar");
	ck_assert_uint_eq(sess.nfields, 3);
	ck_assert_int_eq(sess.fields[1].type, 'u');
	ck_assert_slice(sess.fields[2].value, "j.doe@example.com (Jane Doe)");
	ck_assert(sess.conn.present);
	ck_assert_int_eq(sess.conn.atype, SDP_ADDR_IP4);
	ck_assert_slice(sess.conn.addr, "224.2.17.12");
	ck_assert_uint_eq(sess.conn.ttl, 127);
	ck_assert_uint_eq(sess.conn.num, 0);
	ck_assert_uint_eq(sess.nbw, 1);
	ck_assert_slice(sess.bw[0].type, "AS");
	ck_assert_uint_eq(sess.bw[0].value, 256);
	ck_assert_uint_eq(sess.ntimes, 1);
	ck_assert(sess.times[0].start == 2873397496u);
	ck_assert(sess.times[0].stop == 2873404696u);
	ck_assert_uint_eq(sess.times[0].nrepeats, 1);
	ck_assert_slice(sess.times[0].repeats[0], "604800 3600 0 90000");
	ck_assert_int_eq(sess.dir, SDP_DIR_RECVONLY);
	ck_assert_uint_eq(sess.nattrs, 2);
	ck_assert_slice(sess.attrs[1].name, "tool");
	ck_assert_slice(sess.attrs[1].value, "x y");
	ck_assert_uint_eq(sess.nmedia, 2);

	m = &sess.media[0];
	ck_assert_slice(m->type, "audio");
	ck_assert_uint_eq(m->port, 49170);
	ck_assert_uint_eq(m->nports, 0);
	ck_assert_slice(m->proto, "RTP/AVP");
	ck_assert_uint_eq(m->nfmts, 4);
	ck_assert_int_eq(m->fmts[0].pt, 0);
	ck_assert(!m->fmts[0].has_rtpmap);
	ck_assert_int_eq(m->fmts[2].pt, 97);
	ck_assert(m->fmts[2].has_rtpmap);
	ck_assert_slice(m->fmts[2].encoding, "iLBC");
	ck_assert_uint_eq(m->fmts[2].clock_rate, 8000);
	ck_assert_uint_eq(m->fmts[2].channels, 0);
	ck_assert_slice(m->fmts[2].fmtp, "mode=30");
	ck_assert_slice(m->fmts[3].encoding, "telephone-event");
	ck_assert_slice(m->fmts[3].fmtp, "0-15");
	ck_assert_ptr_null(m->fmts[0].fmtp.p);
	ck_assert_uint_eq(m->ptime, 20);
	ck_assert_uint_eq(m->maxptime, 150);
	ck_assert(m->has_rtcp);
	ck_assert_uint_eq(m->rtcp_port, 49171);
	ck_assert(!m->rtcp_conn.present);
	/* no own attribute: the session's recvonly */
	ck_assert_int_eq(m->dir, SDP_DIR_RECVONLY);
	ck_assert(!m->conn.present);
	ck_assert_ptr_eq(sdp_media_conn(&sess, m), &sess.conn);
	ck_assert_uint_eq(m->nbw, 1);
	ck_assert_slice(m->bw[0].type, "TIAS");
	ck_assert_uint_eq(m->bw[0].value, 64000);
	/* every a= line is kept verbatim, the decoded ones too */
	ck_assert_uint_eq(m->nattrs, 9);
	ck_assert_slice(m->attrs[7].name, "x-unknown");
	ck_assert_slice(m->attrs[7].value, "some value");
	ck_assert_slice(m->attrs[8].name, "flag");
	ck_assert_ptr_null(m->attrs[8].value.p);

	m = &sess.media[1];
	ck_assert_slice(m->type, "video");
	ck_assert_uint_eq(m->port, 51372);
	ck_assert_uint_eq(m->nports, 2);
	ck_assert_int_eq(m->dir, SDP_DIR_SENDRECV);
	ck_assert(m->conn.present);
	ck_assert_slice(m->conn.addr, "192.0.2.99");
	ck_assert_ptr_eq(sdp_media_conn(&sess, m), &m->conn);
	ck_assert_slice(m->fmts[0].encoding, "h263-1998");
	ck_assert_uint_eq(m->fmts[0].clock_rate, 90000);
	ck_assert(all_in_buf(&sess, full, sizeof(full) - 1));
}
END_TEST

START_TEST(test_parse_ipv6)
{
	static const char b[] = "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\n"
	    "c=IN IP6 2001:db8::1\r\nt=0 0\r\n"
	    "m=audio 5004 RTP/AVP 0\r\nc=IN IP6 ff15::101/3\r\n";

	ck_assert_int_eq(parse(&sess, b), 0);
	ck_assert_slice(sess.origin.addrtype, "IP6");
	ck_assert_int_eq(sess.conn.atype, SDP_ADDR_IP6);
	ck_assert_slice(sess.conn.addr, "2001:db8::1");
	ck_assert_int_eq(sess.media[0].conn.atype, SDP_ADDR_IP6);
	ck_assert_slice(sess.media[0].conn.addr, "ff15::101");
	ck_assert_uint_eq(sess.media[0].conn.num, 3);
	ck_assert_uint_eq(sess.media[0].conn.ttl, 0);
}
END_TEST

START_TEST(test_parse_multicast_ttl_num)
{
	ck_assert_int_eq(parse(&sess, V O S "c=IN IP4 224.2.1.1/127/3\r\n" T),
	    0);
	ck_assert_slice(sess.conn.addr, "224.2.1.1");
	ck_assert_uint_eq(sess.conn.ttl, 127);
	ck_assert_uint_eq(sess.conn.num, 3);
}
END_TEST

START_TEST(test_parse_session_vs_media_conn)
{
	/* media c= wins over session c= for its own stream only */
	ck_assert_int_eq(parse(&sess, HDR "m=audio 1 RTP/AVP 0\r\n"
	    "c=IN IP4 198.51.100.1\r\nm=audio 2 RTP/AVP 0\r\n"), 0);
	ck_assert_slice(sdp_media_conn(&sess, &sess.media[0])->addr,
	    "198.51.100.1");
	ck_assert_slice(sdp_media_conn(&sess, &sess.media[1])->addr,
	    "192.0.2.10");
	/* two media c= (layered multicast): the first is kept */
	ck_assert_int_eq(parse(&sess, V O S T "m=audio 1 RTP/AVP 0\r\n"
	    "c=IN IP4 224.2.1.1/1\r\nc=IN IP4 224.2.1.2/1\r\n"), 0);
	ck_assert_slice(sess.media[0].conn.addr, "224.2.1.1");
}
END_TEST

START_TEST(test_parse_directions)
{
	static const char *const names[] = { "sendrecv", "sendonly",
	    "recvonly", "inactive" };
	static const enum sdp_dir dirs[] = { SDP_DIR_SENDRECV,
	    SDP_DIR_SENDONLY, SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };
	char b[512];

	for (size_t i = 0; i < 4; i++) {
		snprintf(b, sizeof(b), HDR "a=%s\r\nm=audio 1 RTP/AVP 0\r\n"
		    "m=audio 2 RTP/AVP 0\r\na=sendrecv\r\n", names[i]);
		ck_assert_int_eq(parse(&sess, b), 0);
		ck_assert_int_eq(sess.dir, dirs[i]);
		ck_assert_int_eq(sess.media[0].dir, dirs[i]);
		ck_assert_int_eq(sess.media[1].dir, SDP_DIR_SENDRECV);
		ck_assert_str_eq(sdp_dir_name(dirs[i]), names[i]);
	}
	ck_assert_int_eq(parse(&sess, HDR AUDIO), 0);
	ck_assert_int_eq(sess.dir, SDP_DIR_SENDRECV);
	ck_assert_int_eq(sess.media[0].dir, SDP_DIR_SENDRECV);
	ck_assert_int_eq(sdp_dir_mirror(SDP_DIR_SENDONLY), SDP_DIR_RECVONLY);
	ck_assert_int_eq(sdp_dir_mirror(SDP_DIR_RECVONLY), SDP_DIR_SENDONLY);
	ck_assert_int_eq(sdp_dir_mirror(SDP_DIR_SENDRECV), SDP_DIR_SENDRECV);
	ck_assert_int_eq(sdp_dir_mirror(SDP_DIR_INACTIVE), SDP_DIR_INACTIVE);
}
END_TEST

START_TEST(test_parse_rfc4475_body)
{
	/* the body the RFC 4475 torture messages carry (sdp01.dat) */
	static const char b[] = "v=0\r\n"
	    "o=mhandley 29739 7272939 IN IP4 192.0.2.5\r\n"
	    "s=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n"
	    "m=audio 49217 RTP/AVP 0 12\r\n"
	    "m=video 3227 RTP/AVP 31\r\n"
	    "a=rtpmap:31 LPC\r\n";

	ck_assert_int_eq(parse(&sess, b), 0);
	ck_assert_uint_eq(sess.nmedia, 2);
	ck_assert_uint_eq(sess.media[0].nfmts, 2);
	ck_assert_int_eq(sess.media[0].fmts[1].pt, 12);
	ck_assert(sess.media[1].fmts[0].has_rtpmap);
	ck_assert_slice(sess.media[1].fmts[0].encoding, "LPC");
	ck_assert_uint_eq(sess.media[1].fmts[0].clock_rate, 0);
}
END_TEST

START_TEST(test_parse_non_rtp)
{
	ck_assert_int_eq(parse(&sess, HDR "m=image 9 udptl t38\r\n"
	    "a=fmtp:t38 T38FaxVersion=0\r\n"), 0);
	ck_assert_int_eq(sess.media[0].fmts[0].pt, -1);
	ck_assert_slice(sess.media[0].fmts[0].fmt, "t38");
	ck_assert_slice(sess.media[0].fmts[0].fmtp, "T38FaxVersion=0");
}
END_TEST

START_TEST(test_parse_static_codec)
{
	struct slice name;
	uint32_t rate;
	unsigned ch;

	ck_assert_int_eq(parse(&sess, HDR AUDIO), 0);
	ck_assert(sdp_fmt_codec(&sess.media[0].fmts[1], &name, &rate, &ch));
	ck_assert_slice(name, "PCMA");
	ck_assert_uint_eq(rate, 8000);
	ck_assert(sdp_fmt_codec(&sess.media[0].fmts[2], &name, &rate, &ch));
	ck_assert_slice(name, "opus");
	ck_assert_uint_eq(ch, 2);
	ck_assert_int_eq(parse(&sess, HDR "m=audio 1 RTP/AVP 100\r\n"), 0);
	ck_assert(!sdp_fmt_codec(&sess.media[0].fmts[0], &name, &rate, &ch));
}
END_TEST

/* ---- parse: limits --------------------------------------------------- */

static char *
gen_media(size_t nmedia, size_t nfmts, size_t nattrs)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, HDR);
	for (size_t i = 0; i < nmedia; i++) {
		strbuf_addf(&sb, "m=audio %zu RTP/AVP", 1000 + i);
		for (size_t j = 0; j < nfmts; j++)
			strbuf_addf(&sb, " %zu", j);
		strbuf_adds(&sb, "\r\n");
		for (size_t j = 0; j < nattrs; j++)
			strbuf_addf(&sb, "a=x-%zu\r\n", j);
	}
	return strbuf_detach(&sb);
}

START_TEST(test_limits)
{
	static const struct {
		size_t		 media, fmts, attrs;
		const char	*why;
	} c[] = {
		{ SDP_MAX_MEDIA, 1, 0, NULL },
		{ SDP_MAX_MEDIA + 1, 1, 0, "too many m= lines" },
		{ 1, SDP_MAX_FMTS, 0, NULL },
		{ 1, SDP_MAX_FMTS + 1, 0, "too many formats on an m= line" },
		{ 1, 1, SDP_MAX_ATTRS, NULL },
		{ 1, 1, SDP_MAX_ATTRS + 1, "too many SDP attributes" },
		/* the limit is per level, not per description */
		{ 3, 1, SDP_MAX_ATTRS, NULL },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *b = gen_media(c[i].media, c[i].fmts, c[i].attrs);
		int rc = parse(&sess, b);

		if (c[i].why == NULL) {
			ck_assert_msg(rc == 0, "case %zu: %s", i, why);
			ck_assert_uint_eq(sess.nmedia, c[i].media);
			ck_assert_uint_eq(sess.media[0].nfmts, c[i].fmts);
			ck_assert_uint_eq(sess.media[0].nattrs, c[i].attrs);
		} else {
			ck_assert_int_eq(rc, EBADMSG);
			ck_assert_str_eq(why, c[i].why);
		}
		free(b);
	}
}
END_TEST

START_TEST(test_limit_session_attrs)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, HDR);
	for (int i = 0; i <= SDP_MAX_ATTRS; i++)
		strbuf_addf(&sb, "a=x-%d\r\n", i);
	ck_assert_int_eq(parse(&sess, sb.p), EBADMSG);
	ck_assert_str_eq(why, "too many SDP attributes");
	strbuf_free(&sb);
}
END_TEST

/* ---- build and print ------------------------------------------------- */

static const char *const all_codecs[] = { "PCMU", "PCMA", "G722", "G729",
    "GSM", "iLBC", "L16", "opus", "telephone-event" };

static struct sdp_local
local_default(void)
{
	static const char *const codecs[] = { "PCMU", "PCMA",
	    "telephone-event" };
	struct sdp_local l = {
		.username = "sipxd", .sess_id = 42, .sess_version = 7,
		.session_name = "sipxd", .addr = "203.0.113.5", .port = 40000,
		.codecs = codecs, .ncodecs = 3, .dir = SDP_DIR_SENDRECV,
		.ptime = 20,
	};

	return l;
}

START_TEST(test_build_offer_text)
{
	struct sdp_local l = local_default();
	struct strbuf sb = STRBUF_INIT;

	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), 0);
	sdp_print(&sb, &sess);
	ck_assert_str_eq(sb.p,
	    "v=0\r\n"
	    "o=sipxd 42 7 IN IP4 203.0.113.5\r\n"
	    "s=sipxd\r\n"
	    "c=IN IP4 203.0.113.5\r\n"
	    "t=0 0\r\n"
	    "m=audio 40000 RTP/AVP 0 8 96\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=rtpmap:8 PCMA/8000\r\n"
	    "a=rtpmap:96 telephone-event/8000\r\n"
	    "a=fmtp:96 0-16\r\n"
	    "a=ptime:20\r\n"
	    "a=sendrecv\r\n");
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_build_offer_round_trip)
{
	struct sdp_local l = local_default();
	struct strbuf sb = STRBUF_INIT;
	struct sdp_session back;
	const struct sdp_media *m;
	static const int pts[] = { 0, 8, 9, 18, 3, 96, 97, 98, 99 };

	l.codecs = all_codecs;
	l.ncodecs = 9;
	l.addr = "2001:db8::5";
	l.dir = SDP_DIR_SENDONLY;
	l.ptime = 30;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), 0);
	sdp_print(&sb, &sess);
	ck_assert_int_eq(parse(&back, sb.p), 0);
	ck_assert(back.origin.sess_id == 42 && back.origin.sess_version == 7);
	ck_assert_slice(back.origin.username, "sipxd");
	ck_assert_slice(back.origin.addrtype, "IP6");
	ck_assert_slice(back.origin.addr, "2001:db8::5");
	ck_assert_int_eq(back.conn.atype, SDP_ADDR_IP6);
	ck_assert_slice(back.conn.addr, "2001:db8::5");
	ck_assert_uint_eq(back.nmedia, 1);
	m = &back.media[0];
	ck_assert_slice(m->type, "audio");
	ck_assert_slice(m->proto, "RTP/AVP");
	ck_assert_uint_eq(m->port, 40000);
	ck_assert_uint_eq(m->ptime, 30);
	ck_assert_int_eq(m->dir, SDP_DIR_SENDONLY);
	ck_assert_uint_eq(m->nfmts, 9);
	for (size_t i = 0; i < 9; i++) {
		const struct sdp_fmt *f = &m->fmts[i], *o =
		    &sess.media[0].fmts[i];

		ck_assert_int_eq(f->pt, pts[i]);
		ck_assert(f->has_rtpmap);
		ck_assert(slice_eq(f->encoding, o->encoding));
		ck_assert_slice(f->encoding, all_codecs[i]);
		ck_assert_uint_eq(f->clock_rate, o->clock_rate);
		ck_assert_uint_eq(f->channels, o->channels);
	}
	ck_assert_uint_eq(m->fmts[7].clock_rate, 48000);
	ck_assert_uint_eq(m->fmts[7].channels, 2);
	ck_assert_uint_eq(m->fmts[2].clock_rate, 8000);	/* G722 */
	ck_assert_slice(m->fmts[8].fmtp, "0-16");
	ck_assert_ptr_null(m->fmts[7].fmtp.p);
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_build_offer_bad)
{
	struct sdp_local l = local_default();
	static const char *const bad[] = { "PCMU", "AMR-WB" };
	static const char *const dup[] = { "pcmu", "PCMU", "opus" };

	l.codecs = bad;
	l.ncodecs = 2;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), EINVAL);
	l.ncodecs = 0;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), EINVAL);
	l = local_default();
	l.addr = NULL;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), EINVAL);
	l = local_default();
	l.port = 0;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), EINVAL);
	/* names are case-insensitive and a repeat is offered once */
	l = local_default();
	l.codecs = dup;
	l.ncodecs = 3;
	ck_assert_int_eq(sdp_build_offer(&sess, &ar, &l), 0);
	ck_assert_uint_eq(sess.media[0].nfmts, 2);
	ck_assert_int_eq(sess.media[0].fmts[1].pt, 96);
}
END_TEST

/* print(parse(x)) parses to a session that prints the same. */
START_TEST(test_print_round_trip)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct sdp_session back;

	ck_assert_int_eq(parse(&sess, full), 0);
	sdp_print(&a, &sess);
	ck_assert_int_eq(parse(&back, a.p), 0);
	sdp_print(&b, &back);
	ck_assert_str_eq(a.p, b.p);
	ck_assert_uint_eq(back.nmedia, 2);
	ck_assert_uint_eq(back.media[1].nports, 2);
	ck_assert_uint_eq(back.conn.ttl, 127);
	ck_assert_slice(back.media[0].fmts[2].fmtp, "mode=30");
	ck_assert_int_eq(back.media[0].dir, SDP_DIR_RECVONLY);
	ck_assert(strstr(a.p, "a=x-unknown:some value\r\n") != NULL);
	ck_assert(strstr(a.p, "a=flag\r\n") != NULL);
	ck_assert(strstr(a.p, "a=rtcp:49171\r\n") != NULL);
	strbuf_free(&a);
	strbuf_free(&b);
}
END_TEST

/* A description filled in by code, out of RFC order, prints in order. */
START_TEST(test_build_by_code)
{
	struct sdp_field fields[] = { { 'k', SLICE_LIT("prompt") },
	    { 'e', SLICE_LIT("ops@example.com") },
	    { 'i', SLICE_LIT("info") } };
	struct slice reps[] = { SLICE_LIT("7d 1h 0 25h") };
	struct sdp_time times[] = { { 10, 20, reps, 1 }, { 0, 0, NULL, 0 } };
	struct sdp_bw bw[] = { { SLICE_LIT("AS"), 64 } };
	struct sdp_attr attrs[] = { { SLICE_LIT("group"),
	    SLICE_LIT("BUNDLE a") }, { SLICE_LIT("ice-lite"), SLICE_NULL } };
	struct sdp_fmt fmts[] = {
		{ SLICE_LIT("0"), 0, false, SLICE_NULL, 0, 0, SLICE_NULL },
		{ SLICE_LIT("101"), 101, true, SLICE_LIT("telephone-event"),
		    8000, 0, SLICE_LIT("0-15") },
	};
	struct sdp_media media = {
		.type = SLICE_LIT("audio"), .port = 7078,
		.proto = SLICE_LIT("RTP/AVP"), .fmts = fmts, .nfmts = 2,
		.conn = { true, SLICE_LIT("IN"), SLICE_LIT("IP4"),
		    SDP_ADDR_IP4, SLICE_LIT("192.0.2.1"), 0, 0 },
		.dir = SDP_DIR_INACTIVE, .ptime = 20, .has_rtcp = true,
		.rtcp_port = 7079,
	};
	struct sdp_session s = {
		.origin = { SLICE_LIT("u"), 1, 2, SLICE_LIT("IN"),
		    SLICE_LIT("IP4"), SLICE_LIT("192.0.2.1") },
		.name = SLICE_LIT("call"), .fields = fields, .nfields = 3,
		.bw = bw, .nbw = 1, .times = times, .ntimes = 2,
		.attrs = attrs, .nattrs = 2, .dir = SDP_DIR_SENDRECV,
		.media = &media, .nmedia = 1,
	};
	struct strbuf sb = STRBUF_INIT;
	struct sdp_session back;

	sdp_print(&sb, &s);
	ck_assert_msg(parse(&back, sb.p) == 0, "%s\n%s", why, sb.p);
	ck_assert_uint_eq(back.nfields, 3);
	ck_assert_int_eq(back.fields[0].type, 'i');
	ck_assert_int_eq(back.fields[1].type, 'e');
	ck_assert_int_eq(back.fields[2].type, 'k');
	ck_assert_uint_eq(back.ntimes, 2);
	ck_assert(back.times[0].start == 10 && back.times[0].stop == 20);
	ck_assert_slice(back.times[0].repeats[0], "7d 1h 0 25h");
	ck_assert_uint_eq(back.nbw, 1);
	ck_assert_uint_eq(back.bw[0].value, 64);
	ck_assert_uint_eq(back.nattrs, 2);
	ck_assert_slice(back.attrs[0].value, "BUNDLE a");
	ck_assert_ptr_null(back.attrs[1].value.p);
	ck_assert_slice(back.media[0].conn.addr, "192.0.2.1");
	ck_assert_int_eq(back.media[0].dir, SDP_DIR_INACTIVE);
	ck_assert_uint_eq(back.media[0].ptime, 20);
	ck_assert_uint_eq(back.media[0].rtcp_port, 7079);
	ck_assert(!back.media[0].fmts[0].has_rtpmap);
	ck_assert_slice(back.media[0].fmts[1].encoding, "telephone-event");
	ck_assert_slice(back.media[0].fmts[1].fmtp, "0-15");
	strbuf_free(&sb);
}
END_TEST

/* ---- offer/answer ---------------------------------------------------- */

static struct sdp_session offer, answer;

/* Parses an offer, answers it with l, prints and re-parses the answer. */
static int
do_answer(const char *body, const struct sdp_local *l)
{
	struct strbuf sb = STRBUF_INIT;
	struct sdp_session back;
	int rc;

	ck_assert_msg(parse(&offer, body) == 0, "offer: %s", why);
	rc = sdp_answer(&answer, &ar, &offer, l);
	if (rc == 0 || rc == SDP_ERR_NOT_ACCEPTABLE) {
		sdp_print(&sb, &answer);
		ck_assert_msg(parse(&back, sb.p) == 0, "answer: %s\n%s", why,
		    sb.p);
		ck_assert_uint_eq(back.nmedia, offer.nmedia);
	}
	strbuf_free(&sb);
	return rc;
}

static void
assert_pts(const struct sdp_media *m, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < m->nfmts; i++)
		strbuf_addf(&sb, "%s" SLICE_FMT, i ? " " : "",
		    SLICE_ARG(m->fmts[i].fmt));
	ck_assert_str_eq(sb.p ? sb.p : "", want);
	strbuf_free(&sb);
}

START_TEST(test_answer_offerer_order)
{
	struct sdp_local l = local_default();	/* PCMU PCMA te */
	const struct sdp_media *m;

	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 18 8 3 0 101\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n", &l), 0);
	m = &answer.media[0];
	/* §6.1: offerer's order, not ours (we prefer PCMU) */
	assert_pts(m, "8 0 101");
	ck_assert_uint_eq(m->port, 40000);
	ck_assert_slice(m->type, "audio");
	ck_assert_slice(m->proto, "RTP/AVP");
	ck_assert_slice(m->fmts[0].encoding, "PCMA");
	ck_assert_slice(m->fmts[2].encoding, "telephone-event");
	/* what we receive: our fmtp */
	ck_assert_slice(m->fmts[2].fmtp, "0-16");
	ck_assert_uint_eq(m->ptime, 20);
	ck_assert_int_eq(m->dir, SDP_DIR_SENDRECV);
	/* o= and c= are ours */
	ck_assert_slice(answer.origin.username, "sipxd");
	ck_assert(answer.origin.sess_id == 42);
	ck_assert_slice(answer.origin.addr, "203.0.113.5");
	ck_assert_slice(answer.conn.addr, "203.0.113.5");
	ck_assert_int_eq(answer.conn.atype, SDP_ADDR_IP4);
}
END_TEST

START_TEST(test_answer_dynamic_pt)
{
	static const char *const codecs[] = { "opus", "PCMU",
	    "telephone-event" };
	struct sdp_local l = local_default();
	const struct sdp_media *m;

	l.codecs = codecs;
	l.ncodecs = 3;
	/* we would number opus 96 and te 97; the offer's numbers win */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 111 0 126\r\n"
	    "a=rtpmap:111 OPUS/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"
	    "a=rtpmap:126 Telephone-Event/8000\r\n", &l), 0);
	m = &answer.media[0];
	assert_pts(m, "111 0 126");
	ck_assert_slice(m->fmts[0].encoding, "OPUS");
	ck_assert_uint_eq(m->fmts[0].clock_rate, 48000);
	ck_assert_uint_eq(m->fmts[0].channels, 2);
	ck_assert_ptr_null(m->fmts[0].fmtp.p);
	ck_assert_int_eq(m->fmts[2].pt, 126);
}
END_TEST

START_TEST(test_answer_rate_and_channels_must_match)
{
	static const char *const codecs[] = { "opus", "PCMU",
	    "telephone-event" };
	struct sdp_local l = local_default();

	l.codecs = codecs;
	l.ncodecs = 3;
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 96 97 0 98\r\n"
	    "a=rtpmap:96 opus/48000/1\r\na=rtpmap:97 opus/16000/2\r\n"
	    "a=rtpmap:98 telephone-event/48000\r\n", &l), 0);
	assert_pts(&answer.media[0], "0");
	/* a dynamic number without rtpmap means nothing */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 96\r\n", &l),
	    SDP_ERR_NOT_ACCEPTABLE);
	/* a static number is matched by what it means */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 0\r\n", &l), 0);
	ck_assert_slice(answer.media[0].fmts[0].encoding, "PCMU");
	ck_assert(answer.media[0].fmts[0].has_rtpmap);
	/* a static number remapped by rtpmap is what the rtpmap says */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 0\r\n"
	    "a=rtpmap:0 G729/8000\r\n", &l), SDP_ERR_NOT_ACCEPTABLE);
}
END_TEST

START_TEST(test_answer_reject_video)
{
	struct sdp_local l = local_default();
	const struct sdp_media *v;

	ck_assert_int_eq(do_answer(HDR "m=video 6000 RTP/AVP 31 99\r\n"
	    "a=rtpmap:99 H264/90000\r\n" AUDIO, &l), 0);
	ck_assert_uint_eq(answer.nmedia, 2);
	v = &answer.media[0];
	ck_assert_slice(v->type, "video");
	ck_assert_uint_eq(v->port, 0);
	assert_pts(v, "31 99");
	ck_assert_uint_eq(answer.media[1].port, 40000);
	assert_pts(&answer.media[1], "0 8");
}
END_TEST

START_TEST(test_answer_reject_other)
{
	struct sdp_local l = local_default();

	/* a second audio stream: we have one port */
	ck_assert_int_eq(do_answer(HDR AUDIO AUDIO, &l), 0);
	ck_assert_uint_eq(answer.media[0].port, 40000);
	ck_assert_uint_eq(answer.media[1].port, 0);
	/* a stream the offerer disabled stays disabled (§8.2) */
	ck_assert_int_eq(do_answer(HDR "m=audio 0 RTP/AVP 0\r\n" AUDIO, &l),
	    0);
	ck_assert_uint_eq(answer.media[0].port, 0);
	ck_assert_uint_eq(answer.media[1].port, 40000);
	/* SRTP and non-RTP transports */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/SAVP 0\r\n"
	    "m=image 5002 udptl t38\r\n", &l), SDP_ERR_NOT_ACCEPTABLE);
	ck_assert_uint_eq(answer.media[0].port, 0);
	ck_assert_slice(answer.media[0].proto, "RTP/SAVP");
	ck_assert_uint_eq(answer.media[1].port, 0);
	assert_pts(&answer.media[1], "t38");
}
END_TEST

START_TEST(test_answer_not_acceptable)
{
	struct sdp_local l = local_default();

	/* RFC 3261 §13.3.1.1: no codec in common -> 488 */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 18 9\r\n", &l),
	    SDP_ERR_NOT_ACCEPTABLE);
	ck_assert_uint_eq(answer.media[0].port, 0);
	assert_pts(&answer.media[0], "18 9");
	/* only video */
	ck_assert_int_eq(do_answer(HDR "m=video 5000 RTP/AVP 31\r\n", &l),
	    SDP_ERR_NOT_ACCEPTABLE);
	/* telephone-event alone is no codec */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 101\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\n", &l),
	    SDP_ERR_NOT_ACCEPTABLE);
	/* no media at all */
	ck_assert_int_eq(do_answer(HDR, &l), SDP_ERR_NOT_ACCEPTABLE);
	ck_assert_uint_eq(answer.nmedia, 0);
	/* a bad local config is not a 488 */
	l.ncodecs = 0;
	ck_assert_int_eq(do_answer(HDR AUDIO, &l), EINVAL);
}
END_TEST

static const struct {
	const char	*offer;		/* direction attribute line(s) */
	enum sdp_dir	 local;
	enum sdp_dir	 want;
} dir_cases[] = {
	{ "a=sendrecv\r\n", SDP_DIR_SENDRECV, SDP_DIR_SENDRECV },
	{ "", SDP_DIR_SENDRECV, SDP_DIR_SENDRECV },
	{ "a=sendonly\r\n", SDP_DIR_SENDRECV, SDP_DIR_RECVONLY },
	{ "a=recvonly\r\n", SDP_DIR_SENDRECV, SDP_DIR_SENDONLY },
	{ "a=inactive\r\n", SDP_DIR_SENDRECV, SDP_DIR_INACTIVE },
	/* our own limits */
	{ "a=sendrecv\r\n", SDP_DIR_SENDONLY, SDP_DIR_SENDONLY },
	{ "a=sendrecv\r\n", SDP_DIR_RECVONLY, SDP_DIR_RECVONLY },
	{ "a=sendrecv\r\n", SDP_DIR_INACTIVE, SDP_DIR_INACTIVE },
	{ "a=sendonly\r\n", SDP_DIR_SENDONLY, SDP_DIR_INACTIVE },
	{ "a=recvonly\r\n", SDP_DIR_SENDONLY, SDP_DIR_SENDONLY },
	{ "a=recvonly\r\n", SDP_DIR_RECVONLY, SDP_DIR_INACTIVE },
	{ "a=sendonly\r\n", SDP_DIR_RECVONLY, SDP_DIR_RECVONLY },
};

START_TEST(test_answer_direction)
{
	struct sdp_local l = local_default();
	char b[512];

	l.dir = dir_cases[_i].local;
	snprintf(b, sizeof(b), HDR AUDIO "%s", dir_cases[_i].offer);
	ck_assert_int_eq(do_answer(b, &l), 0);
	ck_assert_msg(answer.media[0].dir == dir_cases[_i].want,
	    "offer '%s' local %s: got %s", dir_cases[_i].offer,
	    sdp_dir_name(l.dir), sdp_dir_name(answer.media[0].dir));
}
END_TEST

START_TEST(test_answer_session_direction)
{
	struct sdp_local l = local_default();

	/* a session-level attribute applies to each stream */
	ck_assert_int_eq(do_answer(HDR "a=sendonly\r\n" AUDIO, &l), 0);
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_RECVONLY);
	ck_assert_int_eq(do_answer(HDR "a=sendonly\r\n" AUDIO "a=sendrecv\r\n",
	    &l), 0);
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_SENDRECV);
}
END_TEST

START_TEST(test_answer_telephone_event)
{
	static const char *const no_te[] = { "PCMU" };
	struct sdp_local l = local_default();
	static const char te_offer[] = HDR "m=audio 5000 RTP/AVP 0 101\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

	ck_assert_int_eq(do_answer(te_offer, &l), 0);
	assert_pts(&answer.media[0], "0 101");
	/* offered without: not in the answer */
	ck_assert_int_eq(do_answer(HDR "m=audio 5000 RTP/AVP 0\r\n", &l), 0);
	assert_pts(&answer.media[0], "0");
	/* we do not have it */
	l.codecs = no_te;
	l.ncodecs = 1;
	ck_assert_int_eq(do_answer(te_offer, &l), 0);
	assert_pts(&answer.media[0], "0");
}
END_TEST

START_TEST(test_hold)
{
	struct sdp_local l = local_default();
	const struct sdp_media *m;

	/* RFC 3264 §8.4: sendonly and inactive are hold */
	ck_assert_int_eq(do_answer(HDR AUDIO "a=sendonly\r\n", &l), 0);
	ck_assert(sdp_media_is_hold(&offer, &offer.media[0]));
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_RECVONLY);
	ck_assert_int_eq(do_answer(HDR AUDIO "a=inactive\r\n", &l), 0);
	ck_assert(sdp_media_is_hold(&offer, &offer.media[0]));
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_INACTIVE);
	ck_assert_int_eq(do_answer(HDR AUDIO "a=recvonly\r\n", &l), 0);
	ck_assert(!sdp_media_is_hold(&offer, &offer.media[0]));
	ck_assert_int_eq(do_answer(HDR AUDIO, &l), 0);
	ck_assert(!sdp_media_is_hold(&offer, &offer.media[0]));

	/* RFC 2543 hold: c=0.0.0.0 means "send nothing to me" */
	ck_assert_int_eq(do_answer(V O S "c=IN IP4 0.0.0.0\r\n" T AUDIO, &l),
	    0);
	m = &offer.media[0];
	ck_assert(sdp_media_is_hold(&offer, m));
	ck_assert_int_eq(m->dir, SDP_DIR_SENDRECV);
	ck_assert_int_eq(sdp_media_dir(&offer, m), SDP_DIR_SENDONLY);
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_RECVONLY);
	/* the media c= decides, and recvonly + null is inactive */
	ck_assert_int_eq(do_answer(HDR "m=audio 49170 RTP/AVP 0\r\n"
	    "c=IN IP4 0.0.0.0\r\na=recvonly\r\n", &l), 0);
	ck_assert_int_eq(sdp_media_dir(&offer, &offer.media[0]),
	    SDP_DIR_INACTIVE);
	ck_assert_int_eq(answer.media[0].dir, SDP_DIR_INACTIVE);
	/* IPv6 null address too */
	ck_assert_int_eq(do_answer(V O S "c=IN IP6 ::\r\n" T AUDIO, &l), 0);
	ck_assert(sdp_media_is_hold(&offer, &offer.media[0]));
	/* a disabled stream is not on hold */
	ck_assert_int_eq(parse(&offer, HDR "m=audio 0 RTP/AVP 0\r\n"
	    "a=sendonly\r\n"), 0);
	ck_assert(!sdp_media_is_hold(&offer, &offer.media[0]));
}
END_TEST

START_TEST(test_answer_ipv6_local)
{
	struct sdp_local l = local_default();

	l.addr = "2001:db8::7";
	ck_assert_int_eq(do_answer(HDR AUDIO, &l), 0);
	ck_assert_slice(answer.conn.addrtype, "IP6");
	ck_assert_int_eq(answer.conn.atype, SDP_ADDR_IP6);
	ck_assert_slice(answer.origin.addrtype, "IP6");
}
END_TEST

/* ---- applying an answer ---------------------------------------------- */

static int
apply(struct sdp_stream *st, size_t *n, const struct sdp_session *local,
    const char *remote_body, struct sdp_session *remote)
{
	ck_assert_msg(parse(remote, remote_body) == 0, "%s", why);
	why = NULL;
	return sdp_apply_answer(st, n, local, remote, &why);
}

START_TEST(test_apply_answer)
{
	static const char *const codecs[] = { "PCMU", "PCMA", "opus",
	    "telephone-event" };
	struct sdp_local l = local_default();
	struct sdp_stream st[SDP_MAX_MEDIA];
	struct sdp_session ours, theirs;
	size_t n;

	l.codecs = codecs;
	l.ncodecs = 4;
	ck_assert_int_eq(sdp_build_offer(&ours, &ar, &l), 0);
	/* our te is 97; they answer with 101 and a changed order */
	ck_assert_int_eq(apply(st, &n, &ours, V O S
	    "c=IN IP4 198.51.100.7\r\n" T "m=audio 6000 RTP/AVP 8 0 101\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n"
	    "a=sendonly\r\n", &theirs), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(st[0].accepted);
	ck_assert_slice(st[0].type, "audio");
	ck_assert_slice(st[0].addr, "198.51.100.7");
	ck_assert_int_eq(st[0].atype, SDP_ADDR_IP4);
	ck_assert_uint_eq(st[0].port, 6000);
	ck_assert_uint_eq(st[0].rtcp_port, 6001);
	ck_assert_int_eq(st[0].pt, 8);
	ck_assert_slice(st[0].encoding, "PCMA");
	ck_assert_uint_eq(st[0].clock_rate, 8000);
	ck_assert_uint_eq(st[0].channels, 1);
	ck_assert_int_eq(st[0].dtmf_pt, 101);
	ck_assert_uint_eq(st[0].nfmts, 3);
	ck_assert_uint_eq(st[0].fmt_idx[1], 1);
	ck_assert_ptr_eq(st[0].remote, &theirs.media[0]);
	ck_assert_uint_eq(st[0].ptime, 30);
	/* they only send: we only receive */
	ck_assert_int_eq(st[0].dir, SDP_DIR_RECVONLY);
	ck_assert(st[0].hold);

	/* opus by another number, media-level c= and a=rtcp */
	ck_assert_int_eq(apply(st, &n, &ours, V O S T
	    "m=audio 6000 RTP/AVP 109\r\nc=IN IP6 2001:db8::9\r\n"
	    "a=rtpmap:109 opus/48000/2\r\na=rtcp:7000\r\n", &theirs), 0);
	ck_assert_int_eq(st[0].pt, 109);
	ck_assert_slice(st[0].encoding, "opus");
	ck_assert_uint_eq(st[0].channels, 2);
	ck_assert_int_eq(st[0].dtmf_pt, -1);
	ck_assert_int_eq(st[0].atype, SDP_ADDR_IP6);
	ck_assert_uint_eq(st[0].rtcp_port, 7000);
	ck_assert_int_eq(st[0].dir, SDP_DIR_SENDRECV);
	ck_assert(!st[0].hold);
}
END_TEST

START_TEST(test_apply_answer_bad)
{
	struct sdp_local l = local_default();
	struct sdp_stream st[SDP_MAX_MEDIA];
	struct sdp_session ours, theirs;
	size_t n;

	ck_assert_int_eq(sdp_build_offer(&ours, &ar, &l), 0);
	/* §6: as many m= lines as the offer, same types */
	ck_assert_int_eq(apply(st, &n, &ours, HDR AUDIO AUDIO, &theirs),
	    EBADMSG);
	ck_assert_str_eq(why, "answer has another number of m= lines than "
	    "the offer");
	ck_assert_int_eq(apply(st, &n, &ours, HDR "m=video 1 RTP/AVP 31\r\n",
	    &theirs), EBADMSG);
	ck_assert_str_eq(why, "answer changed the media type of a stream");
	/* rejected, or nothing we offered */
	ck_assert_int_eq(apply(st, &n, &ours, HDR "m=audio 0 RTP/AVP 0\r\n",
	    &theirs), SDP_ERR_NOT_ACCEPTABLE);
	ck_assert_uint_eq(n, 1);
	ck_assert(!st[0].accepted);
	ck_assert_int_eq(apply(st, &n, &ours, HDR "m=audio 5 RTP/AVP 18\r\n",
	    &theirs), SDP_ERR_NOT_ACCEPTABLE);
	ck_assert(!st[0].accepted);
	ck_assert_int_eq(st[0].pt, -1);
}
END_TEST

/* After answering an offer, the same call tells where to send. */
START_TEST(test_apply_answer_answerer_side)
{
	struct sdp_local l = local_default();
	struct sdp_stream st[SDP_MAX_MEDIA];
	size_t n;

	ck_assert_int_eq(do_answer(HDR "m=video 6000 RTP/AVP 31\r\n"
	    "m=audio 5000 RTP/AVP 18 8 0\r\na=recvonly\r\n", &l), 0);
	ck_assert_int_eq(sdp_apply_answer(st, &n, &answer, &offer, &why), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(!st[0].accepted);
	ck_assert(st[1].accepted);
	ck_assert_slice(st[1].addr, "192.0.2.10");
	ck_assert_uint_eq(st[1].port, 5000);
	ck_assert_int_eq(st[1].pt, 8);
	ck_assert_int_eq(st[1].dir, SDP_DIR_SENDONLY);
	ck_assert(!st[1].hold);
}
END_TEST

START_TEST(test_early_media)
{
	struct slice body = SLICE_LIT(HDR AUDIO);

	ck_assert(sdp_is_early_media(183, body));
	ck_assert(sdp_is_early_media(180, body));
	ck_assert(!sdp_is_early_media(180, SLICE_NULL));
	ck_assert(!sdp_is_early_media(183, SLICE_LIT("\r\n")));
	ck_assert(!sdp_is_early_media(200, body));
	ck_assert(!sdp_is_early_media(181, body));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sdp");
	TCase *tp = tcase_create("parse");
	TCase *tb = tcase_create("build");
	TCase *to = tcase_create("offer-answer");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_loop_test(tp, test_parse_table, 0,
	    (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_test(tp, test_parse_fields);
	tcase_add_test(tp, test_parse_ipv6);
	tcase_add_test(tp, test_parse_multicast_ttl_num);
	tcase_add_test(tp, test_parse_session_vs_media_conn);
	tcase_add_test(tp, test_parse_directions);
	tcase_add_test(tp, test_parse_rfc4475_body);
	tcase_add_test(tp, test_parse_non_rtp);
	tcase_add_test(tp, test_parse_static_codec);
	tcase_add_test(tp, test_limits);
	tcase_add_test(tp, test_limit_session_attrs);
	suite_add_tcase(s, tp);

	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_add_test(tb, test_build_offer_text);
	tcase_add_test(tb, test_build_offer_round_trip);
	tcase_add_test(tb, test_build_offer_bad);
	tcase_add_test(tb, test_print_round_trip);
	tcase_add_test(tb, test_build_by_code);
	suite_add_tcase(s, tb);

	tcase_add_checked_fixture(to, setup, teardown);
	tcase_add_test(to, test_answer_offerer_order);
	tcase_add_test(to, test_answer_dynamic_pt);
	tcase_add_test(to, test_answer_rate_and_channels_must_match);
	tcase_add_test(to, test_answer_reject_video);
	tcase_add_test(to, test_answer_reject_other);
	tcase_add_test(to, test_answer_not_acceptable);
	tcase_add_loop_test(to, test_answer_direction, 0,
	    (int)(sizeof(dir_cases) / sizeof(dir_cases[0])));
	tcase_add_test(to, test_answer_session_direction);
	tcase_add_test(to, test_answer_telephone_event);
	tcase_add_test(to, test_hold);
	tcase_add_test(to, test_answer_ipv6_local);
	tcase_add_test(to, test_apply_answer);
	tcase_add_test(to, test_apply_answer_bad);
	tcase_add_test(to, test_apply_answer_answerer_side);
	tcase_add_test(to, test_early_media);
	suite_add_tcase(s, to);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
