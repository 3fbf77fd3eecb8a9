/*
 * The call usage (src/ua/call.c) on the real loop: a real struct ua with
 * a UDP listener on loopback and T1 = 50 ms, an RTP engine on 127.0.0.1
 * (ports 42000-42999), and a mock peer, a UDP socket of the test's own
 * whose read callback parses each SIP message and answers from the
 * running case's script.  The peer also sends requests of its own
 * (INVITE, ACK, CANCEL, PRACK, BYE) for the cases where we are the
 * callee.  Every case asserts both what the peer received and what the
 * usage made of it: call_detail_get(), call_foreach(),
 * call_history_foreach() and the call.* events.
 *
 * Cases, as caller: a basic call and its BYE; a retransmitted 2xx; a
 * late offer; 486; a 407 challenge; hangup before any 1xx (CANCEL
 * waits for one); the no-answer timeout; a CANCEL that crosses the
 * 200; a reliable 183 and PRACK; forking; Record-Route; hold and
 * resume; the session timer.  As callee: answer, ring, reject, ring
 * timeout, no codec in common, CANCEL, no ACK, a re-INVITE that holds
 * us, one before our 2xx's ACK, a request in no dialog, a reliable
 * 180, Session-Expires below Min-SE.  Then stop, RTP, and
 * call_place's refusals.
 *
 * The refresh of a session timer takes 45 s of real time: that case
 * runs only with SIPX_SLOW_TESTS=1 set (CK_RUN_CASE=slow runs it
 * alone); the others check the timer is armed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "media/rtp.h"
#include "sip/sip_auth.h"
#include "sip/sip_msg.h"
#include "ua/account.h"
#include "ua/call.h"
#include "ua/events.h"
#include "ua/ua.h"

#define RTP_PORT_MIN	42000
#define RTP_PORT_MAX	42999
#define T1_MS		50

static struct event_base *base;
static struct event *tick;	/* lets EVLOOP_ONCE return when idle */
static struct ua *ua;
static int ua_port;
static struct rtp_engine *rtp;
static struct account_set set;
static struct call_agent *ag;
static unsigned changes;	/* call_change_fn calls */

/* ---- the mock peer ----------------------------------------------------- */

#define MOCK_MAX	512

/* One message the peer received. */
struct pm {
	struct sip_msg		*msg;	/* owns the datagram */
	uint64_t		 at_us;
	struct sockaddr_in	 from;
	bool			 retx;	/* a request seen before */
	char			*rsp;	/* our last answer */
	size_t			 rsplen;
	bool			 final;	/* a final answer was sent */
};

typedef void script_fn(struct pm *);

static struct {
	int		 fd;
	int		 port;
	struct event	*ev;
	struct pm	 in[MOCK_MAX];
	size_t		 n;
	/* Requests the peer sent, parsed, for ACKs of non-2xx finals. */
	struct sip_msg	*sent[MOCK_MAX];
	size_t		 nsent;
	script_fn	*script;
	/* The peer's own RTP socket and port, announced in its SDP. */
	int		 rtp_fd;
	int		 rtp_port;
	/* Answer re-INVITEs and ACK the 2xx of our INVITEs by itself. */
	bool		 auto_ack;
	/* 200 to a CANCEL, but no 487: the INVITE is answered late. */
	bool		 ignore_cancel;
	/* Allow header for the peer's 2xx ("" none). */
	const char	*allow;
} mock;

static char peer_uri[64];	/* "sip:bob@127.0.0.1:PORT" */
static char peer_contact[64];	/* "sip:peer@127.0.0.1:PORT" */

static int
free_udp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int u = socket(AF_INET, SOCK_DGRAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(u, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(u, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(u);
	return port;
}

static struct slice
top_branch(const struct sip_msg *m)
{
	return m->nvia > 0 ? m->via[0].branch : SLICE_NULL;
}

static void
mock_sendto(const char *p, size_t n, const struct sockaddr_in *to)
{
	ck_assert_int_eq(sendto(mock.fd, p, n, 0, (const struct sockaddr *)to,
	    sizeof(*to)), (ssize_t)n);
}

/* The peer's SDP: PCMU (and PCMA, telephone-event when full). */
static const char *
peer_sdp(unsigned version, const char *dir, bool full)
{
	static char b[4][512];
	static int k;
	char *s = b[k++ % 4];

	snprintf(s, sizeof(b[0]), "v=0\r\n"
	    "o=peer 4242 %u IN IP4 127.0.0.1\r\n"
	    "s=-\r\n"
	    "c=IN IP4 127.0.0.1\r\n"
	    "t=0 0\r\n"
	    "m=audio %d RTP/AVP %s\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "%s"
	    "a=ptime:20\r\n"
	    "a=%s\r\n", version, mock.rtp_port, full ? "0 8 101" : "0",
	    full ? "a=rtpmap:8 PCMA/8000\r\n"
	    "a=rtpmap:101 telephone-event/8000\r\n"
	    "a=fmtp:101 0-15\r\n" : "", dir);
	return s;
}

/*
 * Answers q: its Vias, From, To (with totag when it has none), Call-ID
 * and CSeq (RFC 3261 §8.2.6.2); a Contact for 1xx/2xx to an INVITE
 * unless hdrs has one; hdrs (whole lines with CRLF, or NULL); the SDP.
 */
static void
peer_respond(struct pm *q, unsigned status, const char *reason,
    const char *totag, const char *hdrs, const char *sdp)
{
	const struct sip_msg *m = q->msg;
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "SIP/2.0 %u %s\r\n", status, reason);
	for (unsigned i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_TO:
			strbuf_addf(&sb, "To: %.*s", SLICE_ARG(h->value));
			if (!slice_present(m->to.tag) && totag != NULL &&
			    status > 100)
				strbuf_addf(&sb, ";tag=%s", totag);
			strbuf_adds(&sb, "\r\n");
			break;
		case SIP_HDR_VIA:
		case SIP_HDR_FROM:
		case SIP_HDR_CALL_ID:
		case SIP_HDR_CSEQ:
			strbuf_addf(&sb, "%.*s: %.*s\r\n", SLICE_ARG(h->name),
			    SLICE_ARG(h->value));
			break;
		default:
			break;
		}
	}
	if (m->method == SIP_METHOD_INVITE && status > 100 && status < 300 &&
	    (hdrs == NULL || strstr(hdrs, "Contact:") == NULL))
		strbuf_addf(&sb, "Contact: <%s>\r\n", peer_contact);
	if (m->method == SIP_METHOD_INVITE && status >= 200 && status < 300 &&
	    mock.allow[0] != '\0')
		strbuf_addf(&sb, "Allow: %s\r\n", mock.allow);
	if (hdrs != NULL)
		strbuf_adds(&sb, hdrs);
	strbuf_adds(&sb, "Server: call-mock\r\n");
	if (sdp != NULL)
		strbuf_addf(&sb, "Content-Type: application/sdp\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(sdp), sdp);
	else
		strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	mock_sendto(sb.p, sb.n, &q->from);
	free(q->rsp);
	q->rsplen = sb.n;
	q->rsp = strbuf_detach(&sb);
	if (status >= 200)
		q->final = true;
}

/* Sends the text of a request of the peer's to the ua, keeping a copy. */
static void
peer_send(const char *text)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct sip_parse_error pe;
	struct sip_msg *m;
	char *copy = xstrdup(text);

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)ua_port);
	mock_sendto(text, strlen(text), &to);
	ck_assert_msg(sip_msg_parse(copy, strlen(copy), 0, &m, &pe) == 0,
	    "the peer built a malformed request: %s", pe.reason);
	ck_assert_uint_lt(mock.nsent, MOCK_MAX);
	mock.sent[mock.nsent++] = m;
}

/* The request the peer sent with this top branch and method, or NULL. */
static const struct sip_msg *
sent_find(struct slice branch, enum sip_method method)
{
	for (size_t i = mock.nsent; i-- > 0;)
		if (slice_eq(top_branch(mock.sent[i]), branch) &&
		    mock.sent[i]->method == method)
			return mock.sent[i];
	return NULL;
}

/*
 * RFC 3261 §17.1.1.3: the ACK of a non-2xx final answer to an INVITE
 * of the peer's: its branch, Request-URI, From, Call-ID, the To of the
 * answer, the CSeq number.
 */
static void
peer_ack_non2xx(const struct pm *r)
{
	const struct sip_msg *m = r->msg;
	const struct sip_msg *inv = sent_find(top_branch(m),
	    SIP_METHOD_INVITE);
	struct strbuf sb = STRBUF_INIT;

	if (inv == NULL)
		return;
	strbuf_addf(&sb, "ACK %.*s SIP/2.0\r\n"
	    "Via: %.*s\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: %.*s\r\n"
	    "To: %.*s\r\n"
	    "Call-ID: %.*s\r\n"
	    "CSeq: %u ACK\r\n"
	    "Content-Length: 0\r\n\r\n", SLICE_ARG(inv->ruri_str),
	    SLICE_ARG(sip_msg_hdr(inv, SIP_HDR_VIA, 0)->value),
	    SLICE_ARG(sip_msg_hdr(inv, SIP_HDR_FROM, 0)->value),
	    SLICE_ARG(sip_msg_hdr(m, SIP_HDR_TO, 0)->value),
	    SLICE_ARG(m->call_id), m->cseq.num);
	peer_send(sb.p);
	strbuf_free(&sb);
}

/* ---- the peer's side of a dialog (we are the callee) ------------------- */

struct pdlg {
	char		 call_id[48];
	char		 from_tag[24];
	char		 to_tag[64];	/* ours, from a 1xx/2xx */
	char		 ruri[96];	/* where in-dialog requests go */
	char		 inv_branch[48];
	uint32_t	 cseq;		/* of the last request */
	uint32_t	 inv_cseq;	/* of the last INVITE */
	unsigned	 sdp_ver;
};

static unsigned branch_seq;

static void
pdlg_init(struct pdlg *d, const char *user)
{
	static unsigned seq;

	memset(d, 0, sizeof(*d));
	seq++;
	snprintf(d->call_id, sizeof(d->call_id), "peer-call-%u-%d", seq,
	    (int)getpid());
	snprintf(d->from_tag, sizeof(d->from_tag), "ptag%u", seq);
	snprintf(d->ruri, sizeof(d->ruri), "sip:%s@127.0.0.1:%d", user,
	    ua_port);
	d->sdp_ver = 1;
}

/*
 * A request of the peer's in d.  branch NULL: a fresh one (returned in
 * d->inv_branch for an INVITE).  to_tag false: the To has no tag (an
 * initial INVITE, its CANCEL).
 */
static void
peer_request_typed(struct pdlg *d, const char *method, uint32_t cseq,
    const char *branch, bool to_tag, const char *hdrs, const char *ctype,
    const char *body);

static void
peer_request(struct pdlg *d, const char *method, uint32_t cseq,
    const char *branch, bool to_tag, const char *hdrs, const char *sdp)
{
	peer_request_typed(d, method, cseq, branch, to_tag, hdrs,
	    "application/sdp", sdp);
}

/* The same with a body of any type (NOTIFY's sipfrag). */
static void
peer_request_typed(struct pdlg *d, const char *method, uint32_t cseq,
    const char *branch, bool to_tag, const char *hdrs, const char *ctype,
    const char *sdp)
{
	struct strbuf sb = STRBUF_INIT;
	char br[48];

	if (branch == NULL)
		snprintf(br, sizeof(br), "z9hG4bK-peer-%u-%d", ++branch_seq,
		    (int)getpid());
	else
		snprintf(br, sizeof(br), "%s", branch);
	if (strcmp(method, "INVITE") == 0)
		snprintf(d->inv_branch, sizeof(d->inv_branch), "%s", br);
	strbuf_addf(&sb, "%s %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:peer@127.0.0.1>;tag=%s\r\n"
	    "To: <sip:alice@127.0.0.1>%s%s\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %u %s\r\n", method, d->ruri, mock.port, br, d->from_tag,
	    to_tag ? ";tag=" : "", to_tag ? d->to_tag : "", d->call_id, cseq,
	    method);
	if (strcmp(method, "INVITE") == 0 || strcmp(method, "ACK") == 0)
		strbuf_addf(&sb, "Contact: <%s>\r\n", peer_contact);
	if (strcmp(method, "INVITE") == 0)
		strbuf_adds(&sb, "Allow: INVITE, ACK, CANCEL, BYE, PRACK, "
		    "UPDATE\r\n");
	if (hdrs != NULL)
		strbuf_adds(&sb, hdrs);
	if (sdp != NULL)
		strbuf_addf(&sb, "Content-Type: %s\r\n"
		    "Content-Length: %zu\r\n\r\n%s", ctype, strlen(sdp), sdp);
	else
		strbuf_adds(&sb, "Content-Length: 0\r\n\r\n");
	peer_send(sb.p);
	strbuf_free(&sb);
	if (strcmp(method, "ACK") != 0 && strcmp(method, "CANCEL") != 0)
		d->cseq = cseq;
	if (strcmp(method, "INVITE") == 0)
		d->inv_cseq = cseq;
}

/* The initial INVITE of d, with the peer's offer (or sdp). */
static void
peer_invite(struct pdlg *d, const char *hdrs, const char *sdp)
{
	peer_request(d, "INVITE", 1, NULL, false, hdrs, sdp);
}

/* ---- what the peer saw -------------------------------------------------- */

static bool
is_method(const struct pm *q, enum sip_method m)
{
	return q->msg->request && q->msg->method == m;
}

/* Requests of method received (retransmissions apart, ACKs all). */
static size_t
nreq(enum sip_method method)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++)
		if (is_method(&mock.in[i], method) && !mock.in[i].retx)
			k++;
	return k;
}

/* The k-th (from 0) such request. */
static struct pm *
req(enum sip_method method, size_t k)
{
	size_t left = k;

	for (size_t i = 0; i < mock.n; i++)
		if (is_method(&mock.in[i], method) && !mock.in[i].retx &&
		    left-- == 0)
			return &mock.in[i];
	ck_abort_msg("no %s #%zu", sip_method_name(method), k);
	return NULL;
}

/* Responses received with this status and CSeq method, copies too. */
static size_t
nrsp(unsigned status, enum sip_method method)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->status == status &&
		    m->cseq.method == method)
			k++;
	}
	return k;
}

/* The first value of a header in q, as a C string (rotating), or NULL. */
static const char *
hval(const struct pm *q, const char *name)
{
	static char v[4][1024];
	static int k;
	const struct sip_hdr *h = sip_msg_hdr_named(q->msg, name);
	char *s = v[k++ % 4];

	if (h == NULL)
		return NULL;
	snprintf(s, sizeof(v[0]), "%.*s", SLICE_ARG(h->value));
	return s;
}

/* A slice as a C string (rotating buffers). */
static const char *
cs(struct slice s)
{
	static char v[8][1024];
	static int k;
	char *p = v[k++ % 8];

	snprintf(p, sizeof(v[0]), "%.*s", SLICE_ARG(s));
	return p;
}

static const char *
body(const struct pm *q)
{
	return cs(q->msg->body);
}

static bool
tokens_have(const struct sip_tokens *t, const char *tag)
{
	for (unsigned i = 0; i < t->n; i++)
		if (slice_caseeq_cstr(t->v[i], tag))
			return true;
	return false;
}

/* The port of the m=audio line of an SDP body, or -1. */
static int
sdp_port(const char *sdp)
{
	const char *m = strstr(sdp, "m=audio ");

	return m != NULL ? atoi(m + 8) : -1;
}

/* ---- default answers and the read callback ------------------------------ */

/* The INVITE a CANCEL is for: same branch (§9.2). */
static struct pm *
invite_of(const struct pm *cancel)
{
	for (size_t i = 0; i < mock.n; i++)
		if (is_method(&mock.in[i], SIP_METHOD_INVITE) &&
		    !mock.in[i].retx && slice_eq(top_branch(mock.in[i].msg),
		    top_branch(cancel->msg)))
			return &mock.in[i];
	return NULL;
}

/* What the peer does with what no case script takes. */
static void
peer_default(struct pm *q)
{
	const struct sip_msg *m = q->msg;

	if (!m->request) {
		/* The ACK of a non-2xx final to our own INVITE. */
		if (m->cseq.method == SIP_METHOD_INVITE && m->status >= 300)
			peer_ack_non2xx(q);
		return;
	}
	switch (m->method) {
	case SIP_METHOD_INVITE:
		/* A re-INVITE: the answer mirrors the direction. */
		if (slice_present(m->to.tag) && mock.auto_ack) {
			const char *dir = strstr(body(q), "a=sendonly") ?
			    "recvonly" : strstr(body(q), "a=inactive") ?
			    "inactive" : "sendrecv";
			static unsigned ver = 2;

			peer_respond(q, 200, "OK", NULL, NULL,
			    peer_sdp(ver++, dir, false));
		}
		break;
	case SIP_METHOD_CANCEL:
		peer_respond(q, 200, "OK", NULL, NULL, NULL);
		if (!mock.ignore_cancel) {
			struct pm *inv = invite_of(q);

			if (inv != NULL && !inv->final)
				peer_respond(inv, 487, "Request Terminated",
				    "peer-1", NULL, NULL);
		}
		break;
	case SIP_METHOD_BYE:
	case SIP_METHOD_PRACK:
	case SIP_METHOD_UPDATE:
	case SIP_METHOD_INFO:
	case SIP_METHOD_OPTIONS:
	case SIP_METHOD_NOTIFY:
		peer_respond(q, 200, "OK", NULL, NULL, NULL);
		break;
	default:
		break;
	}
}

static void
mock_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct sip_parse_error pe;
		struct sip_msg *m;
		char *buf = xmalloc(65536);
		ssize_t n;
		struct pm *q;

		n = recvfrom(fd, buf, 65535, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			free(buf);
			return;
		}
		buf = xrealloc(buf, (size_t)n);
		ck_assert_msg(sip_msg_parse(buf, (size_t)n, 0, &m, &pe) == 0,
		    "the peer got a malformed message: %s", pe.reason);
		ck_assert_uint_lt(mock.n, MOCK_MAX);
		q = &mock.in[mock.n++];
		memset(q, 0, sizeof(*q));
		q->msg = m;
		q->at_us = time_mono_us();
		q->from = from;
		/* §17.2: a copy of a request seen before gets the same answer
		 * (ACKs are all counted: a 2xx's ACK is sent again as is). */
		if (m->request && m->method != SIP_METHOD_ACK)
			for (size_t i = 0; i + 1 < mock.n; i++) {
				struct pm *o = &mock.in[i];

				if (!o->msg->request || o->retx ||
				    o->msg->method != m->method ||
				    !slice_eq(top_branch(o->msg),
				    top_branch(m)))
					continue;
				q->retx = true;
				if (o->rsp != NULL)
					mock_sendto(o->rsp, o->rsplen, &from);
				break;
			}
		if (q->retx)
			continue;
		if (mock.script != NULL)
			mock.script(q);
		else
			peer_default(q);
	}
}

static void
mock_open(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	mock.fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(mock.fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(mock.fd, (struct sockaddr *)&sin, &len),
	    0);
	mock.port = ntohs(sin.sin_port);
	mock.ev = event_new(base, mock.fd, EV_READ | EV_PERSIST, mock_read_cb,
	    NULL);
	event_add(mock.ev, NULL);
	/* The peer's RTP socket (read by the media case only). */
	mock.rtp_fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_port = 0;
	ck_assert_int_eq(bind(mock.rtp_fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	len = sizeof(sin);
	ck_assert_int_eq(getsockname(mock.rtp_fd, (struct sockaddr *)&sin,
	    &len), 0);
	mock.rtp_port = ntohs(sin.sin_port);
	mock.allow = "INVITE, ACK, CANCEL, BYE, PRACK";
	mock.auto_ack = true;
	snprintf(peer_uri, sizeof(peer_uri), "sip:bob@127.0.0.1:%d",
	    mock.port);
	snprintf(peer_contact, sizeof(peer_contact), "sip:peer@127.0.0.1:%d",
	    mock.port);
}

static void
mock_close(void)
{
	event_free(mock.ev);
	close(mock.fd);
	close(mock.rtp_fd);
	for (size_t i = 0; i < mock.n; i++) {
		sip_msg_free(mock.in[i].msg);
		free(mock.in[i].rsp);
	}
	for (size_t i = 0; i < mock.nsent; i++)
		sip_msg_free(mock.sent[i]);
	memset(&mock, 0, sizeof(mock));
}

/* ---- digest, computed here from RFC 2617 §3.2.2 ----------------------- */

static void
md5_hex(char out[33], const char *fmt, ...)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char in[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in, sizeof(in), fmt, ap);
	va_end(ap);
	ck_assert_int_eq(EVP_Digest(in, strlen(in), md, &mdlen, EVP_md5(),
	    NULL), 1);
	ck_assert_uint_eq(mdlen, 16);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- the loop ----------------------------------------------------------- */

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static uint64_t
now_us(void)
{
	return time_mono_us();
}

/* Runs the loop for ms. */
static void
run_for(unsigned ms)
{
	uint64_t until = now_us() + (uint64_t)ms * 1000;

	while (now_us() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Runs the loop until cond holds, at most ms; fails the case if not. */
#define WAIT_FOR(cond, ms) do {						\
	uint64_t until_ = now_us() + (uint64_t)(ms) * 1000;		\
									\
	while (!(cond) && now_us() < until_)				\
		event_base_loop(base, EVLOOP_ONCE);			\
	ck_assert_msg((cond), "not within %u ms: %s", (unsigned)(ms),	\
	    #cond);							\
} while (0)

/* ---- events ------------------------------------------------------------- */

#define EVLOG_MAX	256
#define EVKV_MAX	16

/* call.* events: their type and key=value pairs, copied. */
static struct {
	char		 type[EVLOG_MAX][32];
	char		 kv[EVLOG_MAX][EVKV_MAX][2][96];
	size_t		 nkv[EVLOG_MAX];
	size_t		 n;
} evlog;

static void
on_event(const struct events_event *ev, void *arg)
{
	size_t i = evlog.n;

	(void)arg;
	if (!ev->live || strncmp(ev->type, "call.", 5) != 0 ||
	    i == EVLOG_MAX)
		return;
	snprintf(evlog.type[i], sizeof(evlog.type[0]), "%s", ev->type);
	for (size_t k = 0; k < ev->nkv && k < EVKV_MAX; k++) {
		snprintf(evlog.kv[i][k][0], sizeof(evlog.kv[0][0][0]), "%s",
		    ev->kv[k].key);
		snprintf(evlog.kv[i][k][1], sizeof(evlog.kv[0][0][1]), "%s",
		    ev->kv[k].value);
		evlog.nkv[i]++;
	}
	ck_assert_str_eq(ev->account, "alice");
	evlog.n++;
}

/* The value of key in event i, "" when absent. */
static const char *
ev_val(size_t i, const char *key)
{
	for (size_t k = 0; k < evlog.nkv[i]; k++)
		if (strcmp(evlog.kv[i][k][0], key) == 0)
			return evlog.kv[i][k][1];
	return "";
}

static bool
ev_of(size_t i, const char *type, uint64_t id)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
	return strcmp(evlog.type[i], type) == 0 &&
	    strcmp(ev_val(i, "id"), s) == 0;
}

/* The states of call id's call.state events, space-separated. */
static const char *
ev_states(uint64_t id)
{
	static char s[512];
	size_t n = 0;

	s[0] = '\0';
	for (size_t i = 0; i < evlog.n; i++)
		if (ev_of(i, "call.state", id))
			n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%s",
			    n > 0 ? " " : "", ev_val(i, "state"));
	return s;
}

/* Index of the last event of type for id, or -1. */
static int
ev_last(const char *type, uint64_t id)
{
	for (size_t i = evlog.n; i-- > 0;)
		if (ev_of(i, type, id))
			return (int)i;
	return -1;
}

/* Events of type for id whose key has value. */
static size_t
ev_count(const char *type, uint64_t id, const char *key, const char *value)
{
	size_t k = 0;

	for (size_t i = 0; i < evlog.n; i++)
		if (ev_of(i, type, id) && (key == NULL ||
		    strcmp(ev_val(i, key), value) == 0))
			k++;
	return k;
}

/* ---- accounts, the agent, what it shows -------------------------------- */

static struct account_cfg *
mk_cfg(enum account_incoming incoming)
{
	struct account_cfg *c = xcalloc(1, sizeof(*c));
	static const char *codecs[] = { "PCMU", "PCMA" };

	c->name = xstrdup("alice");
	c->aor = xstrdup("sip:alice@127.0.0.1");
	c->auth_user = xstrdup("alice");
	c->password = xstrdup("secret");
	c->registrar = xstrdup("sip:127.0.0.1:9");
	c->transport = ACCOUNT_TRANSPORT_UDP;
	c->register_on = false;
	c->expires = 600;
	c->retry_base = 30;
	c->retry_max = 1800;
	c->retry_fatal = 600;
	c->incoming = incoming;
	c->codecs = xcalloc(2, sizeof(char *));
	for (size_t i = 0; i < 2; i++)
		c->codecs[i] = xstrdup(codecs[i]);
	c->ncodecs = 2;
	c->ring_timeout = 60;
	c->reject_code = 486;
	c->call_timeout = 120;
	c->session_expires = 1800;
	c->media = RTP_MODE_NONE;
	return c;
}

static void
on_change(void *arg)
{
	(void)arg;
	changes++;
}

/* Applies cfg at start-up and starts the agent on it. */
static void
start_with(struct account_cfg *cfg)
{
	struct account_cfg **v = xcalloc(1, sizeof(*v));
	struct call_conf conf = { .max_calls = 100, .history = 50,
	    .min_se = 90 };
	struct account_diff diff;

	v[0] = cfg;
	account_set_apply(&set, v, 1, true, &diff);
	ck_assert_uint_eq(diff.added, 1);
	ag = call_agent_new(ua, &set, rtp, &conf, on_change, NULL);
	ck_assert_ptr_nonnull(ag);
}

static void
start(enum account_incoming incoming)
{
	start_with(mk_cfg(incoming));
}

/* Places a call to the peer (user bob unless uri). */
static uint64_t
place(const struct call_params *extra)
{
	struct call_params p = { 0 };
	char err[256] = "";
	uint64_t id = 0;

	if (extra != NULL)
		p = *extra;
	p.account = "alice";
	if (p.uri == NULL)
		p.uri = peer_uri;
	ck_assert_msg(call_place(ag, &p, &id, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_ne(id, 0);
	return id;
}

static struct call_detail
detail(uint64_t id)
{
	struct call_detail d;

	ck_assert_int_eq(call_detail_get(ag, id, &d), 0);
	return d;
}

static enum call_state
state_of(uint64_t id)
{
	struct call_detail d;

	if (call_detail_get(ag, id, &d) != 0)
		return CALL_STATE__COUNT;
	return d.sum.state;
}

/* The summaries call_foreach / call_history_foreach gave, copied. */
#define SUMS_MAX	8
static struct {
	struct call_summary	 s[SUMS_MAX];
	char			 reason[SUMS_MAX][64];
	char			 by[SUMS_MAX][16];
	size_t			 n;
} sums;

static void
sum_cb(const struct call_summary *s, void *arg)
{
	(void)arg;
	if (sums.n == SUMS_MAX)
		return;
	sums.s[sums.n] = *s;
	snprintf(sums.reason[sums.n], sizeof(sums.reason[0]), "%s",
	    s->reason);
	snprintf(sums.by[sums.n], sizeof(sums.by[0]), "%s", s->ended_by);
	sums.n++;
}

static size_t
live_calls(void)
{
	memset(&sums, 0, sizeof(sums));
	call_foreach(ag, sum_cb, NULL);
	return sums.n;
}

static size_t
history(void)
{
	memset(&sums, 0, sizeof(sums));
	call_history_foreach(ag, sum_cb, NULL);
	return sums.n;
}

/* The single history entry of id: asserts its outcome. */
static void
check_ended(uint64_t id, unsigned status, const char *by)
{
	size_t i;

	live_calls();
	for (i = 0; i < sums.n; i++)
		ck_assert_uint_ne(sums.s[i].id, id);
	history();
	for (i = 0; i < sums.n && sums.s[i].id != id; i++)
		;
	ck_assert_msg(i < sums.n, "call %llu is not in the history",
	    (unsigned long long)id);
	ck_assert_int_eq(sums.s[i].state, CALL_STATE_TERMINATED);
	ck_assert_uint_eq(sums.s[i].status, status);
	ck_assert_str_eq(sums.by[i], by);
	ck_assert(sums.s[i].end > 0);
	ck_assert(sums.s[i].end >= sums.s[i].start);
	/* Leaves sums holding the history, the call at sums.s[0]. */
	if (i != 0) {
		sums.s[0] = sums.s[i];
		memcpy(sums.reason[0], sums.reason[i], sizeof(sums.reason[0]));
		memcpy(sums.by[0], sums.by[i], sizeof(sums.by[0]));
	}
}

/* The id of the newest incoming call (its first call.state). */
static uint64_t
incoming_id(void)
{
	for (size_t i = evlog.n; i-- > 0;)
		if (strcmp(evlog.type[i], "call.state") == 0 &&
		    strcmp(ev_val(i, "dir"), "in") == 0)
			return strtoull(ev_val(i, "id"), NULL, 10);
	ck_abort_msg("no incoming call");
	return 0;
}

static struct events_sub *sub;

static void
setup(void)
{
	struct sip_tp_listen_conf l[1] = { { .transport = SIP_TP_UDP } };
	struct rtp_engine_conf rc = { .addr = "127.0.0.1",
	    .port_min = RTP_PORT_MIN, .port_max = RTP_PORT_MAX };
	struct ua_conf c = { 0 };
	static const char *servers[1] = { "127.0.0.1:1" };
	struct timeval tv = { 0, 20 * 1000 };
	char addr[32], err[256];

	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	ua_port = free_udp_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ua_port);
	l[0].address = addr;
	c.listen = l;
	c.nlisten = 1;
	c.t1_ms = T1_MS;
	c.t2_ms = 400;
	c.t4_ms = 500;
	c.dns_servers = servers;
	c.ndns_servers = 1;
	c.user_agent = "test-call/1";
	c.default_from = "sip:test@127.0.0.1";
	ck_assert_msg(ua_start(&ua, base, &c, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_msg(rtp_engine_new(&rtp, base, &rc, err, sizeof(err)) == 0,
	    "%s", err);
	mock_open();
	mock.script = NULL;
	memset(&evlog, 0, sizeof(evlog));
	sub = events_subscribe(EVENTS_KIND_CALL, NULL, on_event, NULL);
	account_set_init(&set);
	ag = NULL;
	changes = 0;
}

static void
teardown(void)
{
	call_agent_free(ag);
	ag = NULL;
	rtp_engine_free(rtp);
	rtp = NULL;
	ua_free(ua);
	ua = NULL;
	events_shutdown();
	account_set_clear(&set);
	mock_close();
	event_free(tick);
	event_base_free(base);
}

/*
 * Our tag and Contact, from the first 1xx/2xx to d's INVITE: the peer's
 * in-dialog requests go there (RFC 3261 §12.1.1).
 */
static void
pdlg_learn(struct pdlg *d)
{
	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (m->request || !slice_eq_cstr(m->call_id, d->call_id) ||
		    m->cseq.method != SIP_METHOD_INVITE ||
		    !slice_present(m->to.tag))
			continue;
		snprintf(d->to_tag, sizeof(d->to_tag), "%s", cs(m->to.tag));
		if (m->ncontact > 0)
			snprintf(d->ruri, sizeof(d->ruri), "%s",
			    cs(m->contact[0].addr.uri_str));
		return;
	}
	ck_abort_msg("no answer with a tag to %s", d->call_id);
}

/* Answers of status to method with this CSeq number, copies too. */
static size_t
nrsp_cseq(unsigned status, enum sip_method method, uint32_t cseq)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->status == status &&
		    m->cseq.method == method && m->cseq.num == cseq)
			k++;
	}
	return k;
}

static void
check_same_dialog(const struct pm *a, const struct pm *b)
{
	ck_assert_str_eq(cs(a->msg->call_id), cs(b->msg->call_id));
	ck_assert_str_eq(cs(a->msg->from.tag), cs(b->msg->from.tag));
}

/* ---- 1. as caller ------------------------------------------------------- */

/* The peer rings at once (tag peer-1); the case sends the rest. */
static void
script_ring(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 180, "Ringing", "peer-1", NULL, NULL);
		return;
	}
	peer_default(q);
}

/* The peer answers at once with its SDP. */
static void
script_answer(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 200, "OK", "peer-1", NULL,
		    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_basic)
{
	struct call_detail d;
	struct pm *inv, *ack, *bye;
	char want[128], sdp[1024];
	uint64_t id;
	int port, i;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_ring;
	id = place(NULL);
	ck_assert_uint_eq(live_calls(), 1);
	ck_assert_int_eq(sums.s[0].state, CALL_STATE_CALLING);
	ck_assert_int_eq(sums.s[0].dir, CALL_DIR_OUT);
	WAIT_FOR(state_of(id) == CALL_STATE_EARLY, 2000);

	/* RFC 3261 §13.2.1: the INVITE and its offer (RFC 3264 §5). */
	ck_assert_uint_eq(nreq(SIP_METHOD_INVITE), 1);
	inv = req(SIP_METHOD_INVITE, 0);
	ck_assert_str_eq(cs(inv->msg->ruri_str), peer_uri);
	ck_assert_str_eq(cs(inv->msg->to.uri_str), peer_uri);
	ck_assert(!slice_present(inv->msg->to.tag));
	ck_assert_uint_ge(inv->msg->from.tag.n, 8);
	ck_assert_str_eq(cs(inv->msg->from.uri_str), "sip:alice@127.0.0.1");
	ck_assert_uint_eq(inv->msg->ncontact, 1);
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(cs(inv->msg->contact[0].addr.uri_str), want);
	ck_assert(tokens_have(&inv->msg->supported, "100rel"));
	ck_assert(tokens_have(&inv->msg->supported, "timer"));
	ck_assert(tokens_have(&inv->msg->allow, "INVITE"));
	ck_assert(tokens_have(&inv->msg->allow, "BYE"));
	ck_assert_str_eq(hval(inv, "Session-Expires"), "1800");
	ck_assert_str_eq(hval(inv, "Min-SE"), "90");
	ck_assert_ptr_null(hval(inv, "Route"));
	ck_assert_str_eq(hval(inv, "Content-Type"), "application/sdp");
	snprintf(sdp, sizeof(sdp), "%s", body(inv));
	port = sdp_port(sdp);
	ck_assert_int_ge(port, RTP_PORT_MIN);
	ck_assert_int_le(port, RTP_PORT_MAX);
	ck_assert_int_eq(port % 2, 0);
	ck_assert_ptr_nonnull(strstr(sdp, "c=IN IP4 127.0.0.1\r\n"));
	ck_assert_ptr_nonnull(strstr(sdp, " RTP/AVP 0 8 "));
	ck_assert_ptr_nonnull(strstr(sdp, "a=rtpmap:0 PCMU/8000"));
	ck_assert_ptr_nonnull(strstr(sdp, "a=rtpmap:8 PCMA/8000"));
	ck_assert_ptr_nonnull(strstr(sdp, " telephone-event/8000"));

	/* The 200: ACK to its Contact, in its dialog (§13.2.2.4). */
	peer_respond(inv, 200, "OK", "peer-1", NULL,
	    peer_sdp(1, "sendrecv", false));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 2000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_str_eq(cs(ack->msg->ruri_str), peer_contact);
	ck_assert_uint_eq(ack->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_int_eq(ack->msg->cseq.method, SIP_METHOD_ACK);
	ck_assert_str_eq(cs(ack->msg->to.tag), "peer-1");
	check_same_dialog(ack, inv);
	ck_assert(!slice_eq(top_branch(ack->msg), top_branch(inv->msg)));
	ck_assert_uint_eq(ack->msg->body.n, 0);

	d = detail(id);
	ck_assert_int_eq(d.sum.state, CALL_STATE_CONFIRMED);
	ck_assert_int_eq(d.sum.dir, CALL_DIR_OUT);
	ck_assert_str_eq(d.sum.account, "alice");
	ck_assert_str_eq(d.sum.remote, peer_uri);
	ck_assert_str_eq(d.sum.codec, "PCMU");
	ck_assert(d.sum.answer >= d.sum.start && d.sum.start > 0);
	ck_assert(d.sum.end == 0);
	ck_assert_ptr_nonnull(strstr(d.dialog_id, cs(inv->msg->call_id)));
	ck_assert_ptr_nonnull(strstr(d.dialog_id, "remote=peer-1"));
	ck_assert_str_eq(d.remote_target, peer_contact);
	ck_assert_str_eq(d.route_set, "");
	ck_assert_str_eq(d.local_sdp, sdp);
	ck_assert_str_eq(d.remote_sdp, peer_sdp(1, "sendrecv", false));
	snprintf(want, sizeof(want), "127.0.0.1:%d", mock.rtp_port);
	ck_assert_str_eq(d.remote_media, want);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	ck_assert_str_eq(d.local_media, want);
	/* The 200 had no Session-Expires: no timer (RFC 4028 §7.2). */
	ck_assert_uint_eq(d.session_expires, 0);
	ck_assert_uint_ge(d.ntimeline, 3);
	ck_assert_ptr_nonnull(strstr(d.timeline[0], "t=+"));
	ck_assert_uint_eq(live_calls(), 1);
	ck_assert_int_eq(sums.s[0].state, CALL_STATE_CONFIRMED);
	ck_assert_str_eq(sums.s[0].codec, "PCMU");

	/* BYE (§15.1.1): CSeq + 1, the same dialog. */
	ck_assert_int_eq(call_hangup(ag, id), 0);
	ck_assert_int_eq(state_of(id), CALL_STATE_TERMINATING);
	ck_assert_int_eq(call_hangup(ag, id), EALREADY);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 2000);
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 1);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_str_eq(cs(bye->msg->ruri_str), peer_contact);
	ck_assert_uint_eq(bye->msg->cseq.num, inv->msg->cseq.num + 1);
	ck_assert_int_eq(bye->msg->cseq.method, SIP_METHOD_BYE);
	ck_assert_str_eq(cs(bye->msg->to.tag), "peer-1");
	check_same_dialog(bye, inv);
	check_ended(id, 200, "local");
	ck_assert_str_eq(sums.reason[0], "hangup");
	ck_assert(sums.s[0].duration >= 0);
	ck_assert_uint_eq(live_calls(), 0);
	ck_assert_int_eq(call_hangup(ag, id), ENOENT);

	ck_assert_str_eq(ev_states(id),
	    "calling early confirmed terminating terminated");
	i = ev_last("call.state", id);
	ck_assert_str_eq(ev_val((size_t)i, "prev"), "terminating");
	ck_assert_str_eq(ev_val((size_t)i, "dir"), "out");
	ck_assert_str_eq(ev_val((size_t)i, "remote"), peer_uri);
	ck_assert_str_eq(ev_val((size_t)i, "by"), "local");
	i = ev_last("call.ended", id);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(ev_val((size_t)i, "status"), "200");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "local");
	ck_assert_str_eq(ev_val((size_t)i, "dir"), "out");
	ck_assert_uint_gt(changes, 0);
}
END_TEST

START_TEST(test_uac_2xx_retransmitted)
{
	struct pm *inv, *a0, *a1;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_answer;
	id = place(NULL);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 2000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	/* The 200 again, as if the ACK was lost (§13.3.1.4). */
	inv = req(SIP_METHOD_INVITE, 0);
	mock_sendto(inv->rsp, inv->rsplen, &inv->from);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 2, 2000);
	a0 = req(SIP_METHOD_ACK, 0);
	a1 = req(SIP_METHOD_ACK, 1);
	ck_assert_uint_eq(a0->msg->len, a1->msg->len);
	ck_assert(memcmp(a0->msg->buf, a1->msg->buf, a0->msg->len) == 0);
	ck_assert_uint_eq(a1->msg->cseq.num, inv->msg->cseq.num);
	run_for(200);
	ck_assert_uint_eq(nreq(SIP_METHOD_ACK), 2);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert_uint_eq(ev_count("call.state", id, "state", "confirmed"), 1);
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 0);
}
END_TEST

/* The peer's offer in the 200 (late offer). */
static void
script_offer_in_200(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 200, "OK", "peer-1", NULL,
		    peer_sdp(1, "sendrecv", true));
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_late_offer)
{
	struct call_params p = { .late_offer = true, .late_offer_set = true };
	struct call_detail d;
	struct pm *inv, *ack;
	char sdp[1024];
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_offer_in_200;
	id = place(&p);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 2000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	inv = req(SIP_METHOD_INVITE, 0);
	ck_assert_uint_eq(inv->msg->body.n, 0);
	ck_assert_ptr_null(hval(inv, "Content-Type"));
	/* RFC 3264 §5 via RFC 3261 §13.2.2.4: the answer in the ACK. */
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_str_eq(hval(ack, "Content-Type"), "application/sdp");
	snprintf(sdp, sizeof(sdp), "%s", body(ack));
	ck_assert_int_ge(sdp_port(sdp), RTP_PORT_MIN);
	ck_assert_int_le(sdp_port(sdp), RTP_PORT_MAX);
	ck_assert_ptr_nonnull(strstr(sdp, "m=audio "));
	ck_assert_ptr_nonnull(strstr(sdp, " RTP/AVP 0"));
	ck_assert_ptr_nonnull(strstr(sdp, "c=IN IP4 127.0.0.1\r\n"));
	ck_assert_ptr_null(strstr(sdp, "a=sendonly"));
	d = detail(id);
	ck_assert_str_eq(d.local_sdp, sdp);
	ck_assert_str_eq(d.remote_sdp, peer_sdp(1, "sendrecv", true));
	ck_assert_str_eq(d.sum.codec, "PCMU");
}
END_TEST

/* 100, 180, then 486. */
static void
script_busy(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 100, "Trying", NULL, NULL, NULL);
		peer_respond(q, 180, "Ringing", "peer-1", NULL, NULL);
		peer_respond(q, 486, "Busy Here", "peer-1", NULL, NULL);
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_486)
{
	struct pm *inv, *ack;
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_busy;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 2000);
	/* §17.1.1.3: the transaction ACKs the 486, with its branch. */
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	inv = req(SIP_METHOD_INVITE, 0);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert(slice_eq(top_branch(ack->msg), top_branch(inv->msg)));
	ck_assert_uint_eq(ack->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_str_eq(cs(ack->msg->to.tag), "peer-1");
	ck_assert_str_eq(cs(ack->msg->ruri_str), peer_uri);
	check_ended(id, 486, "remote");
	ck_assert_str_eq(sums.reason[0], "Busy Here");
	ck_assert_str_eq(ev_states(id),
	    "calling proceeding early terminated");
	i = ev_last("call.state", id);
	ck_assert_str_eq(ev_val((size_t)i, "status"), "486");
	ck_assert_str_eq(ev_val((size_t)i, "reason"), "Busy Here");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "remote");
	i = ev_last("call.ended", id);
	ck_assert_str_eq(ev_val((size_t)i, "status"), "486");
	ck_assert_str_eq(ev_val((size_t)i, "reason"), "Busy Here");
	run_for(200);
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 0);
	ck_assert_uint_eq(nreq(SIP_METHOD_CANCEL), 0);
}
END_TEST

#define REALM	"proxy.test"
#define NONCE	"nonce-4711"

/* A proxy that wants digest credentials for every INVITE. */
static void
script_407(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		if (hval(q, "Proxy-Authorization") == NULL)
			peer_respond(q, 407, "Proxy Authentication Required",
			    "proxy-1", "Proxy-Authenticate: Digest realm=\""
			    REALM "\", nonce=\"" NONCE "\", opaque=\"op-7\", "
			    "algorithm=MD5, qop=\"auth\"\r\n", NULL);
		else
			peer_respond(q, 200, "OK", "peer-1", NULL,
			    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_407)
{
	struct sip_auth_credentials c;
	struct pm *i0, *i1, *ack;
	const struct sip_hdr *h;
	const char *why = NULL;
	char ha1[33], ha2[33], want[33];
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_407;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	ck_assert_uint_eq(nreq(SIP_METHOD_INVITE), 2);
	i0 = req(SIP_METHOD_INVITE, 0);
	i1 = req(SIP_METHOD_INVITE, 1);
	/* §8.1.3.5 and §22.2: the same call, CSeq + 1, a new branch. */
	check_same_dialog(i0, i1);
	ck_assert(!slice_present(i1->msg->to.tag));
	ck_assert_uint_eq(i1->msg->cseq.num, i0->msg->cseq.num + 1);
	ck_assert(!slice_eq(top_branch(i0->msg), top_branch(i1->msg)));
	ck_assert_str_eq(body(i0), body(i1));
	ck_assert_ptr_null(hval(i0, "Proxy-Authorization"));
	h = sip_msg_hdr(i1->msg, SIP_HDR_PROXY_AUTHORIZATION, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(sip_auth_credentials_parse(&c, h->value, &why) == 0,
	    "Proxy-Authorization: %s", why);
	ck_assert_int_eq(c.scheme, SIP_AUTH_SCHEME_DIGEST);
	ck_assert(slice_eq_cstr(c.username, "alice"));
	ck_assert(slice_eq_cstr(c.realm, REALM));
	ck_assert(slice_eq_cstr(c.nonce, NONCE));
	ck_assert(slice_eq_cstr(c.uri, peer_uri));
	ck_assert(slice_eq_cstr(c.opaque, "op-7"));
	ck_assert_int_eq(c.algorithm, SIP_AUTH_ALG_MD5);
	ck_assert_int_eq(c.qop, SIP_AUTH_QOP_AUTH);
	ck_assert_uint_eq(c.nc, 1);
	ck_assert_uint_eq(c.nc_text.n, 8);
	ck_assert_uint_ge(c.cnonce.n, 8);
	/* RFC 2617 §3.2.2, recomputed with the account's password. */
	md5_hex(ha1, "alice:" REALM ":secret");
	md5_hex(ha2, "INVITE:%s", peer_uri);
	md5_hex(want, "%s:" NONCE ":%s:%s:auth:%s", ha1, cs(c.nc_text),
	    cs(c.cnonce), ha2);
	ck_assert_str_eq(cs(c.response), want);
	/* The 407 is ACKed by its transaction, the 200 by the call. */
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 2, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert(slice_eq(top_branch(ack->msg), top_branch(i0->msg)));
	ck_assert_str_eq(cs(ack->msg->to.tag), "proxy-1");
	ack = req(SIP_METHOD_ACK, 1);
	ck_assert_uint_eq(ack->msg->cseq.num, i1->msg->cseq.num);
	ck_assert_str_eq(cs(ack->msg->to.tag), "peer-1");
	ck_assert_str_eq(ev_states(id), "calling confirmed");
}
END_TEST

/*
 * RFC 3261 §9.1: a hangup before any provisional waits for one, then
 * sends the CANCEL; the call ends with the 487.
 */
START_TEST(test_uac_hangup_before_1xx)
{
	struct pm *inv, *can;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	id = place(NULL);
	WAIT_FOR(nreq(SIP_METHOD_INVITE) == 1, 2000);
	ck_assert_int_eq(call_hangup(ag, id), 0);
	/* §9.1: no CANCEL before a provisional. */
	run_for(300);
	ck_assert_uint_eq(nreq(SIP_METHOD_CANCEL), 0);
	inv = req(SIP_METHOD_INVITE, 0);
	peer_respond(inv, 180, "Ringing", "peer-1", NULL, NULL);
	WAIT_FOR(nreq(SIP_METHOD_CANCEL) == 1, 1000);
	can = req(SIP_METHOD_CANCEL, 0);
	ck_assert(slice_eq(top_branch(can->msg), top_branch(inv->msg)));
	ck_assert_uint_eq(can->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_int_eq(can->msg->cseq.method, SIP_METHOD_CANCEL);
	ck_assert_str_eq(cs(can->msg->ruri_str), cs(inv->msg->ruri_str));
	ck_assert(!slice_present(can->msg->to.tag));
	check_same_dialog(can, inv);
	/* The peer: 200 to the CANCEL, 487 to the INVITE. */
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	check_ended(id, 487, "local");
}
END_TEST

/* No answer in time: CANCEL, and the call ended by "timeout". */
START_TEST(test_uac_no_answer_timeout)
{
	struct call_params p = { .timeout_s = 1 };
	struct pm *inv, *can;
	uint64_t id, ms;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_ring;
	id = place(&p);
	WAIT_FOR(state_of(id) == CALL_STATE_EARLY, 2000);
	inv = req(SIP_METHOD_INVITE, 0);
	WAIT_FOR(nreq(SIP_METHOD_CANCEL) == 1, 2000);
	can = req(SIP_METHOD_CANCEL, 0);
	ms = (can->at_us - inv->at_us) / 1000;
	ck_assert_msg(ms >= 900 && ms <= 1500, "CANCEL after %llu ms",
	    (unsigned long long)ms);
	ck_assert(slice_eq(top_branch(can->msg), top_branch(inv->msg)));
	ck_assert_uint_eq(can->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_int_eq(can->msg->cseq.method, SIP_METHOD_CANCEL);
	ck_assert(!slice_present(can->msg->to.tag));
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	ck_assert(slice_eq(top_branch(req(SIP_METHOD_ACK, 0)->msg),
	    top_branch(inv->msg)));
	ck_assert_str_eq(ev_states(id),
	    "calling early terminating terminated");
	check_ended(id, 487, "timeout");
}
END_TEST

/* §9.1, §15: the CANCEL crossed the 200: ACK it, then BYE. */
START_TEST(test_uac_cancel_crosses_200)
{
	struct pm *inv, *can, *ack, *bye;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_ring;
	mock.ignore_cancel = true;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_EARLY, 2000);
	ck_assert_int_eq(call_hangup(ag, id), 0);
	ck_assert_int_eq(state_of(id), CALL_STATE_TERMINATING);
	WAIT_FOR(nreq(SIP_METHOD_CANCEL) == 1, 1000);
	inv = req(SIP_METHOD_INVITE, 0);
	can = req(SIP_METHOD_CANCEL, 0);
	ck_assert(slice_eq(top_branch(can->msg), top_branch(inv->msg)));
	ck_assert_uint_eq(can->msg->cseq.num, inv->msg->cseq.num);
	peer_respond(inv, 200, "OK", "peer-1", NULL,
	    peer_sdp(1, "sendrecv", false));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_str_eq(cs(ack->msg->to.tag), "peer-1");
	ck_assert_uint_eq(ack->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_str_eq(cs(bye->msg->to.tag), "peer-1");
	ck_assert_uint_eq(bye->msg->cseq.num, inv->msg->cseq.num + 1);
	ck_assert(bye->at_us >= ack->at_us);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	check_ended(id, 200, "local");
	ck_assert_uint_eq(ev_count("call.state", id, "state", "confirmed"), 0);
}
END_TEST

/* 183 reliable with SDP (RFC 3262 §3). */
static void
script_183_rel(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 183, "Session Progress", "peer-1",
		    "Require: 100rel\r\nRSeq: 1\r\n",
		    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_prack)
{
	struct pm *inv, *pr, *pr2, *ack, *bye;
	char want[64];
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_183_rel;
	id = place(NULL);
	WAIT_FOR(nreq(SIP_METHOD_PRACK) == 1, 2000);
	inv = req(SIP_METHOD_INVITE, 0);
	pr = req(SIP_METHOD_PRACK, 0);
	/* RFC 3262 §7.2: RAck = RSeq, CSeq number and method. */
	snprintf(want, sizeof(want), "1 %u INVITE", inv->msg->cseq.num);
	ck_assert_str_eq(hval(pr, "RAck"), want);
	ck_assert_str_eq(cs(pr->msg->ruri_str), peer_contact);
	ck_assert_str_eq(cs(pr->msg->to.tag), "peer-1");
	ck_assert_uint_eq(pr->msg->cseq.num, inv->msg->cseq.num + 1);
	check_same_dialog(pr, inv);
	WAIT_FOR(state_of(id) == CALL_STATE_EARLY, 1000);
	/* Early media from the 183's answer (RFC 3960). */
	ck_assert_str_eq(detail(id).sum.codec, "PCMU");
	/* The same 183 again: RFC 3262 §4, no second PRACK. */
	mock_sendto(inv->rsp, inv->rsplen, &inv->from);
	run_for(300);
	ck_assert_uint_eq(nreq(SIP_METHOD_PRACK), 1);
	/* A new reliable 1xx (RSeq 2) is PRACKed. */
	peer_respond(inv, 180, "Ringing", "peer-1",
	    "Require: 100rel\r\nRSeq: 2\r\n", NULL);
	WAIT_FOR(nreq(SIP_METHOD_PRACK) == 2, 1000);
	pr2 = req(SIP_METHOD_PRACK, 1);
	snprintf(want, sizeof(want), "2 %u INVITE", inv->msg->cseq.num);
	ck_assert_str_eq(hval(pr2, "RAck"), want);
	ck_assert_uint_eq(pr2->msg->cseq.num, pr->msg->cseq.num + 1);
	/* The 200 has no SDP: the 183 answered the offer already. */
	peer_respond(inv, 200, "OK", "peer-1", NULL, NULL);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_uint_eq(ack->msg->cseq.num, inv->msg->cseq.num);
	ck_assert_str_eq(detail(id).sum.codec, "PCMU");
	ck_assert_int_eq(call_hangup(ag, id), 0);
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_uint_eq(bye->msg->cseq.num, pr2->msg->cseq.num + 1);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	check_ended(id, 200, "local");
}
END_TEST

/*
 * RFC 3262 §5: our INVITE has no offer; the callee's is in a reliable
 * 183; our answer goes in the PRACK, and a 200 without SDP completes.
 */
START_TEST(test_uac_late_offer_rel183)
{
	struct call_params p = { .late_offer = true, .late_offer_set = true };
	struct pm *inv, *pr, *ack;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_183_rel;
	id = place(&p);
	WAIT_FOR(nreq(SIP_METHOD_PRACK) == 1, 2000);
	inv = req(SIP_METHOD_INVITE, 0);
	ck_assert_uint_eq(inv->msg->body.n, 0);
	pr = req(SIP_METHOD_PRACK, 0);
	ck_assert_msg(strstr(cs(pr->msg->body), "m=audio ") != NULL,
	    "the PRACK carries our answer: %s", cs(pr->msg->body));
	peer_respond(inv, 200, "OK", "peer-1", NULL, NULL);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_uint_eq(ack->msg->body.n, 0);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	ck_assert_str_eq(detail(id).sum.codec, "PCMU");
	ck_assert_int_eq(call_hangup(ag, id), 0);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
}
END_TEST

/* Two forks ring: tag fork-a (Contact a) and fork-b (Contact b). */
static char fork_a[64], fork_b[64];
static char hdr_a[96], hdr_b[96];

static void
script_forks(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 180, "Ringing", "fork-a", hdr_a, NULL);
		peer_respond(q, 180, "Ringing", "fork-b", hdr_b, NULL);
		return;
	}
	peer_default(q);
}

START_TEST(test_uac_forking)
{
	struct call_detail d;
	struct pm *inv, *ack, *bye;
	uint64_t id;

	snprintf(fork_a, sizeof(fork_a), "sip:a@127.0.0.1:%d", mock.port);
	snprintf(fork_b, sizeof(fork_b), "sip:b@127.0.0.1:%d", mock.port);
	snprintf(hdr_a, sizeof(hdr_a), "Contact: <%s>\r\n", fork_a);
	snprintf(hdr_b, sizeof(hdr_b), "Contact: <%s>\r\n", fork_b);
	start(ACCOUNT_INCOMING_RING);
	mock.script = script_forks;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_EARLY, 2000);
	inv = req(SIP_METHOD_INVITE, 0);
	/* Fork b answers: the call is its dialog. */
	peer_respond(inv, 200, "OK", "fork-b", hdr_b,
	    peer_sdp(1, "sendrecv", false));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_str_eq(cs(ack->msg->to.tag), "fork-b");
	ck_assert_str_eq(cs(ack->msg->ruri_str), fork_b);
	d = detail(id);
	ck_assert_ptr_nonnull(strstr(d.dialog_id, "remote=fork-b"));
	ck_assert_str_eq(d.remote_target, fork_b);
	/* Fork a answers too: §13.2.2.4, ACK it and BYE it. */
	peer_respond(inv, 200, "OK", "fork-a", hdr_a,
	    peer_sdp(1, "sendrecv", false));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 2 && nreq(SIP_METHOD_BYE) == 1,
	    1000);
	ack = req(SIP_METHOD_ACK, 1);
	ck_assert_str_eq(cs(ack->msg->to.tag), "fork-a");
	ck_assert_str_eq(cs(ack->msg->ruri_str), fork_a);
	ck_assert_uint_eq(ack->msg->cseq.num, inv->msg->cseq.num);
	check_same_dialog(ack, inv);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_str_eq(cs(bye->msg->to.tag), "fork-a");
	ck_assert_str_eq(cs(bye->msg->ruri_str), fork_a);
	ck_assert_uint_gt(bye->msg->cseq.num, inv->msg->cseq.num);
	check_same_dialog(bye, inv);
	run_for(200);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	d = detail(id);
	ck_assert_ptr_nonnull(strstr(d.dialog_id, "remote=fork-b"));
	ck_assert_uint_eq(live_calls(), 1);
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 1);
}
END_TEST

static char rr_hdr[160];

static void
script_rr(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 200, "OK", "peer-1", rr_hdr,
		    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

/* The Route fields of q, as "<a>, <b>". */
static const char *
routes(const struct pm *q)
{
	static char s[256];
	size_t n = 0;

	s[0] = '\0';
	for (unsigned i = 0; i < q->msg->nroute; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s<%s>",
		    i > 0 ? ", " : "", cs(q->msg->route[i].uri_str));
	return s;
}

START_TEST(test_uac_record_route)
{
	char want[160];
	struct pm *ack, *bye;
	uint64_t id;

	snprintf(rr_hdr, sizeof(rr_hdr), "Record-Route: "
	    "<sip:p1@127.0.0.1:%d;lr>, <sip:p2@127.0.0.1:%d;lr>\r\n",
	    mock.port, mock.port);
	snprintf(want, sizeof(want), "<sip:p2@127.0.0.1:%d;lr>, "
	    "<sip:p1@127.0.0.1:%d;lr>", mock.port, mock.port);
	start(ACCOUNT_INCOMING_RING);
	mock.script = script_rr;
	id = place(NULL);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 2000);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	/* §12.1.2: the route set is the Record-Route reversed. */
	ack = req(SIP_METHOD_ACK, 0);
	ck_assert_str_eq(routes(ack), want);
	ck_assert_str_eq(cs(ack->msg->ruri_str), peer_contact);
	ck_assert_str_eq(detail(id).route_set, want);
	ck_assert_int_eq(call_hangup(ag, id), 0);
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_str_eq(routes(bye), want);
	ck_assert_str_eq(cs(bye->msg->ruri_str), peer_contact);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
}
END_TEST

/* The session version of the o= line of an SDP body. */
static unsigned long
sdp_version(const char *sdp)
{
	const char *o = strstr(sdp, "o=");
	char user[64];
	unsigned long long sid, ver;

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(sscanf(o, "o=%63s %llu %llu", user, &sid, &ver), 3);
	return (unsigned long)ver;
}

START_TEST(test_uac_hold)
{
	struct pm *inv, *re, *ack;
	unsigned long v0;
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_answer;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	inv = req(SIP_METHOD_INVITE, 0);
	v0 = sdp_version(body(inv));

	/* RFC 3264 §8.4: hold is a re-INVITE with a=sendonly. */
	ck_assert_int_eq(call_hold(ag, id), 0);
	/* One re-INVITE at a time (the command says try again). */
	ck_assert_int_eq(call_unhold(ag, id), EBUSY);
	WAIT_FOR(nreq(SIP_METHOD_INVITE) == 2, 1000);
	re = req(SIP_METHOD_INVITE, 1);
	ck_assert_str_eq(cs(re->msg->to.tag), "peer-1");
	ck_assert_str_eq(cs(re->msg->ruri_str), peer_contact);
	ck_assert_uint_eq(re->msg->cseq.num, inv->msg->cseq.num + 1);
	check_same_dialog(re, inv);
	ck_assert_ptr_nonnull(strstr(body(re), "a=sendonly"));
	ck_assert_uint_eq(sdp_version(body(re)), v0 + 1);
	ck_assert_int_eq(sdp_port(body(re)), sdp_port(body(inv)));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 2, 1000);
	ack = req(SIP_METHOD_ACK, 1);
	ck_assert_uint_eq(ack->msg->cseq.num, re->msg->cseq.num);
	WAIT_FOR(ev_count("call.hold", id, NULL, NULL) == 1, 1000);
	i = ev_last("call.hold", id);
	ck_assert_str_eq(ev_val((size_t)i, "held"), "yes");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "local");
	ck_assert(detail(id).sum.hold);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	/* Held already: nothing to send. */
	ck_assert_int_eq(call_hold(ag, id), 0);
	run_for(100);
	ck_assert_uint_eq(nreq(SIP_METHOD_INVITE), 2);

	ck_assert_int_eq(call_unhold(ag, id), 0);
	WAIT_FOR(nreq(SIP_METHOD_INVITE) == 3, 1000);
	re = req(SIP_METHOD_INVITE, 2);
	ck_assert_ptr_nonnull(strstr(body(re), "a=sendrecv"));
	ck_assert_uint_eq(sdp_version(body(re)), v0 + 2);
	ck_assert_uint_eq(re->msg->cseq.num, inv->msg->cseq.num + 2);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 3, 1000);
	WAIT_FOR(ev_count("call.hold", id, NULL, NULL) == 2, 1000);
	i = ev_last("call.hold", id);
	ck_assert_str_eq(ev_val((size_t)i, "held"), "no");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "local");
	ck_assert(!detail(id).sum.hold);
	/* The peer's recvonly answer is no hold of theirs. */
	ck_assert_uint_eq(ev_count("call.hold", id, "by", "remote"), 0);
}
END_TEST

/* 200 with a session timer; Allow as the case sets (mock.allow). */
static void
script_se(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		peer_respond(q, 200, "OK", "peer-1",
		    "Session-Expires: 90;refresher=uac\r\n"
		    "Require: timer\r\n", peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

/*
 * RFC 4028 §7.2: the 200 makes us the refresher of a 90 s session.
 * The refresh itself comes at 45 s: test_session_refresh_slow.
 */
START_TEST(test_uac_session_timer)
{
	struct call_detail d;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	mock.allow = "INVITE, ACK, CANCEL, BYE, UPDATE";
	mock.script = script_se;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	d = detail(id);
	ck_assert_uint_eq(d.session_expires, 90);
	ck_assert_str_eq(d.refresher, "uac");
	run_for(300);
	ck_assert_uint_eq(nreq(SIP_METHOD_UPDATE), 0);
	ck_assert_uint_eq(nreq(SIP_METHOD_INVITE), 1);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
}
END_TEST

/* The same, with Allow per callee: upd lists UPDATE, reinv does not. */
static void
script_se_allow(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) && !slice_present(q->msg->to.tag)) {
		bool upd = slice_eq_cstr(q->msg->ruri.user, "upd");

		peer_respond(q, 200, "OK", "peer-1", upd ?
		    "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n"
		    "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\r\n" :
		    "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n"
		    "Allow: INVITE, ACK, BYE, CANCEL\r\n",
		    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

/* RFC 4028 §10: the refresher refreshes at half the interval. */
START_TEST(test_session_refresh_slow)
{
	struct call_params p = { 0 };
	char upd_uri[64], reinv_uri[64];
	struct pm *u, *re, *i0 = NULL;
	uint64_t a, b, ms;

	snprintf(upd_uri, sizeof(upd_uri), "sip:upd@127.0.0.1:%d", mock.port);
	snprintf(reinv_uri, sizeof(reinv_uri), "sip:reinv@127.0.0.1:%d",
	    mock.port);
	start(ACCOUNT_INCOMING_RING);
	mock.allow = "";
	mock.script = script_se_allow;
	p.uri = upd_uri;
	a = place(&p);
	p.uri = reinv_uri;
	b = place(&p);
	WAIT_FOR(state_of(a) == CALL_STATE_CONFIRMED &&
	    state_of(b) == CALL_STATE_CONFIRMED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_UPDATE) == 1 &&
	    nreq(SIP_METHOD_INVITE) == 3, 50000);
	u = req(SIP_METHOD_UPDATE, 0);
	ck_assert(slice_eq_cstr(u->msg->to.tag, "peer-1"));
	ck_assert_str_eq(hval(u, "Session-Expires"), "90;refresher=uac");
	ck_assert_uint_eq(u->msg->body.n, 0);
	for (size_t k = 0; k < 2; k++)
		if (slice_eq_cstr(req(SIP_METHOD_INVITE, k)->msg->ruri.user,
		    "upd"))
			i0 = req(SIP_METHOD_INVITE, k);
	ck_assert_ptr_nonnull(i0);
	check_same_dialog(u, i0);
	ms = (u->at_us - i0->at_us) / 1000;
	ck_assert_msg(ms >= 44000 && ms <= 47000, "UPDATE after %llu ms",
	    (unsigned long long)ms);
	re = req(SIP_METHOD_INVITE, 2);
	ck_assert(slice_eq_cstr(re->msg->ruri.user, "peer"));
	ck_assert_str_eq(hval(re, "Session-Expires"), "90;refresher=uac");
	ck_assert_ptr_nonnull(strstr(body(re), "m=audio "));
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 3, 1000);
	ck_assert_int_eq(state_of(a), CALL_STATE_CONFIRMED);
	ck_assert_int_eq(state_of(b), CALL_STATE_CONFIRMED);
}
END_TEST

/* ---- 2. as callee -------------------------------------------------------- */

/* The first final (or 1xx) answer of status to d's INVITE. */
static struct pm *
answer_to(const struct pdlg *d, unsigned status)
{
	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->status == status &&
		    m->cseq.method == SIP_METHOD_INVITE &&
		    slice_eq_cstr(m->call_id, d->call_id))
			return &mock.in[i];
	}
	ck_abort_msg("no %u to %s", status, d->call_id);
	return NULL;
}

/* Answers of status to d's INVITE, copies too. */
static size_t
nanswer(const struct pdlg *d, unsigned status)
{
	size_t k = 0;

	for (size_t i = 0; i < mock.n; i++) {
		const struct sip_msg *m = mock.in[i].msg;

		if (!m->request && m->status == status &&
		    m->cseq.method == SIP_METHOD_INVITE &&
		    slice_eq_cstr(m->call_id, d->call_id))
			k++;
	}
	return k;
}

/* The ACK of our 2xx (§13.2.2.4): a new branch, the INVITE's CSeq. */
static void
peer_ack(struct pdlg *d, const char *sdp)
{
	peer_request(d, "ACK", d->inv_cseq, NULL, true, NULL, sdp);
}

START_TEST(test_uas_answer)
{
	struct call_detail d;
	struct pdlg p;
	struct pm *ok;
	char want[96], sdp[1024];
	size_t n;
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, "Supported: timer, 100rel\r\n",
	    peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	ok = answer_to(&p, 200);
	ck_assert_uint_eq(nanswer(&p, 180), 0);
	ck_assert_uint_ge(ok->msg->to.tag.n, 8);
	ck_assert_str_eq(cs(ok->msg->from.tag), p.from_tag);
	ck_assert_uint_eq(ok->msg->ncontact, 1);
	snprintf(want, sizeof(want), "sip:alice@127.0.0.1:%d", ua_port);
	ck_assert_str_eq(cs(ok->msg->contact[0].addr.uri_str), want);
	ck_assert_str_eq(hval(ok, "Content-Type"), "application/sdp");
	/* RFC 3264 §6: the answer, PCMU first as in the offer. */
	snprintf(sdp, sizeof(sdp), "%s", body(ok));
	ck_assert_int_ge(sdp_port(sdp), RTP_PORT_MIN);
	ck_assert_int_le(sdp_port(sdp), RTP_PORT_MAX);
	ck_assert_ptr_nonnull(strstr(sdp, " RTP/AVP 0"));
	ck_assert_ptr_nonnull(strstr(sdp, "c=IN IP4 127.0.0.1\r\n"));
	ck_assert_ptr_null(strstr(sdp, "a=sendonly"));
	/* RFC 4028 §9: the account's interval, they refresh (they can). */
	ck_assert_str_eq(hval(ok, "Session-Expires"), "1800;refresher=uac");
	ck_assert(tokens_have(&ok->msg->require, "timer"));

	/* §13.3.1.4: the 200 again (T1, 2*T1, …) until the ACK. */
	WAIT_FOR(nanswer(&p, 200) >= 4, 1000);
	for (size_t k = 0; k < mock.n; k++) {
		const struct sip_msg *m = mock.in[k].msg;

		if (!m->request && m->status == 200 &&
		    slice_eq_cstr(m->call_id, p.call_id)) {
			ck_assert_uint_eq(m->len, ok->msg->len);
			ck_assert(memcmp(m->buf, ok->msg->buf, m->len) == 0);
		}
	}
	id = incoming_id();
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	run_for(100);
	n = nanswer(&p, 200);
	run_for(600);
	ck_assert_uint_eq(nanswer(&p, 200), n);

	d = detail(id);
	ck_assert_int_eq(d.sum.dir, CALL_DIR_IN);
	ck_assert_str_eq(d.sum.remote, "sip:peer@127.0.0.1");
	ck_assert_str_eq(d.sum.codec, "PCMU");
	ck_assert_str_eq(d.remote_target, peer_contact);
	ck_assert_str_eq(d.local_sdp, sdp);
	ck_assert_str_eq(d.remote_sdp, peer_sdp(1, "sendrecv", true));
	ck_assert_uint_eq(d.session_expires, 1800);
	ck_assert_str_eq(d.refresher, "uac");
	ck_assert_ptr_nonnull(strstr(d.dialog_id, p.call_id));
	ck_assert_ptr_nonnull(strstr(d.dialog_id, p.from_tag));
	snprintf(want, sizeof(want), "127.0.0.1:%d", mock.rtp_port);
	ck_assert_str_eq(d.remote_media, want);

	/* In the dialog: an unknown Require gets 420 (§8.2.2.3), a CANCEL
	 * with nothing pending 481 (§9.2); the call goes on. */
	peer_request(&p, "OPTIONS", 2, NULL, true, "Require: x-nothing\r\n",
	    NULL);
	WAIT_FOR(nrsp_cseq(420, SIP_METHOD_OPTIONS, 2) == 1, 1000);
	peer_request(&p, "CANCEL", 1, NULL, true, NULL, NULL);
	WAIT_FOR(nrsp_cseq(481, SIP_METHOD_CANCEL, 1) == 1, 1000);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);

	/* Their BYE: 200, and the call ends by them. */
	peer_request(&p, "BYE", 3, NULL, true, NULL, NULL);
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_BYE, 3) == 1, 1000);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	check_ended(id, 200, "remote");
	ck_assert_str_eq(ev_states(id), "ringing confirmed terminated");
	i = ev_last("call.ended", id);
	ck_assert_str_eq(ev_val((size_t)i, "dir"), "in");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "remote");
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 0);
}
END_TEST

START_TEST(test_uas_ring_answer)
{
	struct pdlg p;
	struct pm *r, *bye;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	r = answer_to(&p, 180);
	ck_assert_uint_ge(r->msg->to.tag.n, 8);
	ck_assert_uint_eq(r->msg->ncontact, 1);
	ck_assert(!tokens_have(&r->msg->require, "100rel"));
	id = incoming_id();
	ck_assert_int_eq(state_of(id), CALL_STATE_RINGING);
	ck_assert_uint_eq(live_calls(), 1);
	ck_assert_int_eq(sums.s[0].dir, CALL_DIR_IN);
	ck_assert_int_eq(sums.s[0].state, CALL_STATE_RINGING);
	ck_assert_int_eq(call_hold(ag, id), EALREADY);
	ck_assert_int_eq(call_answer(ag, id + 1000), ENOENT);

	ck_assert_int_eq(call_answer(ag, id), 0);
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	r = answer_to(&p, 200);
	/* The same tag as the 180 (one dialog). */
	ck_assert_str_eq(cs(r->msg->to.tag), cs(answer_to(&p,
	    180)->msg->to.tag));
	ck_assert_ptr_nonnull(strstr(body(r), " RTP/AVP 0"));
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert_int_eq(call_answer(ag, id), EALREADY);
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	run_for(100);

	/* Our BYE: to their Contact, their tag in To (§12.2.1.1). */
	ck_assert_int_eq(call_hangup(ag, id), 0);
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
	bye = req(SIP_METHOD_BYE, 0);
	ck_assert_str_eq(cs(bye->msg->ruri_str), peer_contact);
	ck_assert_str_eq(cs(bye->msg->to.tag), p.from_tag);
	ck_assert_str_eq(cs(bye->msg->from.tag), p.to_tag);
	ck_assert_str_eq(cs(bye->msg->call_id), p.call_id);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	check_ended(id, 200, "local");
	ck_assert_str_eq(ev_states(id),
	    "ringing confirmed terminating terminated");
}
END_TEST

START_TEST(test_uas_reject)
{
	struct pdlg p;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	id = incoming_id();
	ck_assert_int_eq(call_reject(ag, id, 399), EINVAL);
	ck_assert_int_eq(call_reject(ag, id, 700), EINVAL);
	ck_assert_int_eq(call_reject(ag, id, 603), 0);
	WAIT_FOR(nanswer(&p, 603) == 1, 1000);
	ck_assert(slice_eq_cstr(answer_to(&p, 603)->msg->reason, "Decline"));
	ck_assert_int_eq(state_of(id), CALL_STATE_TERMINATED);
	check_ended(id, 603, "local");
	/* Our ACK stopped it (§17.2.1). */
	run_for(300);
	ck_assert_uint_eq(nanswer(&p, 603), 1);
	ck_assert_int_eq(call_reject(ag, id, 603), ENOENT);
}
END_TEST

START_TEST(test_uas_ring_timeout)
{
	struct account_cfg *c = mk_cfg(ACCOUNT_INCOMING_RING);
	struct pdlg p;
	struct pm *r180, *r480;
	uint64_t id, ms;

	c->ring_timeout = 1;
	start_with(c);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	id = incoming_id();
	WAIT_FOR(nanswer(&p, 480) == 1, 2500);
	r180 = answer_to(&p, 180);
	r480 = answer_to(&p, 480);
	ms = (r480->at_us - r180->at_us) / 1000;
	ck_assert_msg(ms >= 900 && ms <= 1600, "480 after %llu ms",
	    (unsigned long long)ms);
	ck_assert_str_eq(cs(r480->msg->to.tag), cs(r180->msg->to.tag));
	check_ended(id, 480, "timeout");
	ck_assert_str_eq(ev_states(id), "ringing terminated");
}
END_TEST

START_TEST(test_uas_policy_reject)
{
	struct account_cfg *c = mk_cfg(ACCOUNT_INCOMING_REJECT);
	struct pdlg p;
	uint64_t id;

	c->reject_code = 486;
	start_with(c);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 486) == 1, 1000);
	ck_assert(slice_eq_cstr(answer_to(&p, 486)->msg->reason,
	    "Busy Here"));
	ck_assert_uint_eq(nanswer(&p, 180), 0);
	id = incoming_id();
	check_ended(id, 486, "local");
}
END_TEST

/* RFC 3264 §6: nothing in common → 488. */
START_TEST(test_uas_no_codec)
{
	static const char only_foo[] = "v=0\r\n"
	    "o=peer 1 1 IN IP4 127.0.0.1\r\n"
	    "s=-\r\n"
	    "c=IN IP4 127.0.0.1\r\n"
	    "t=0 0\r\n"
	    "m=audio 30000 RTP/AVP 99\r\n"
	    "a=rtpmap:99 foo/8000\r\n";
	struct pdlg p;
	uint64_t id;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, only_foo);
	WAIT_FOR(nanswer(&p, 488) == 1, 1000);
	ck_assert_uint_eq(nanswer(&p, 200), 0);
	id = incoming_id();
	check_ended(id, 488, "local");
	ck_assert_uint_eq(live_calls(), 0);
}
END_TEST

/* §9.2: CANCEL of a ringing call: 200 to it, 487 to the INVITE. */
START_TEST(test_uas_cancel)
{
	struct pdlg p;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	id = incoming_id();
	peer_request(&p, "CANCEL", 1, p.inv_branch, false, NULL, NULL);
	WAIT_FOR(nrsp(200, SIP_METHOD_CANCEL) == 1 && nanswer(&p, 487) == 1,
	    1000);
	ck_assert_uint_eq(nanswer(&p, 200), 0);
	ck_assert_str_eq(cs(answer_to(&p, 487)->msg->to.tag),
	    cs(answer_to(&p, 180)->msg->to.tag));
	check_ended(id, 487, "remote");
	ck_assert_str_eq(ev_states(id), "ringing terminated");
}
END_TEST

/* §13.3.1.4: no ACK within 64*T1: the 2xx stops, a BYE ends it. */
START_TEST(test_uas_no_ack)
{
	struct pdlg p;
	struct pm *ok, *bye;
	uint64_t id, ms;
	size_t n;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	ok = answer_to(&p, 200);
	id = incoming_id();
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 64 * T1_MS + 1500);
	bye = req(SIP_METHOD_BYE, 0);
	ms = (bye->at_us - ok->at_us) / 1000;
	ck_assert_msg(ms >= 64 * T1_MS - 100, "BYE after %llu ms",
	    (unsigned long long)ms);
	ck_assert_uint_ge(nanswer(&p, 200), 5);
	ck_assert_str_eq(cs(bye->msg->ruri_str), peer_contact);
	ck_assert_str_eq(cs(bye->msg->to.tag), p.from_tag);
	ck_assert_str_eq(cs(bye->msg->from.tag), cs(ok->msg->to.tag));
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	check_ended(id, 200, "timeout");
	n = nanswer(&p, 200);
	run_for(500);
	ck_assert_uint_eq(nanswer(&p, 200), n);
}
END_TEST

/* Answered and ACKed: the peer's dialog state filled in. */
static uint64_t
uas_confirmed(struct pdlg *p)
{
	uint64_t id;

	pdlg_init(p, "alice");
	peer_invite(p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(p, 200) >= 1, 1000);
	id = incoming_id();
	pdlg_learn(p);
	peer_ack(p, NULL);
	run_for(50);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	return id;
}

/* Their re-INVITE holds us (RFC 3264 §8.4), then resumes. */
START_TEST(test_uas_reinvite_hold)
{
	struct pdlg p;
	struct pm *ok = NULL;
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_ANSWER);
	id = uas_confirmed(&p);
	peer_request(&p, "INVITE", 2, NULL, true, NULL,
	    peer_sdp(2, "sendonly", true));
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_INVITE, 2) >= 1, 1000);
	for (size_t k = 0; k < mock.n && ok == NULL; k++)
		if (!mock.in[k].msg->request && mock.in[k].msg->status == 200 &&
		    mock.in[k].msg->cseq.num == 2)
			ok = &mock.in[k];
	ck_assert_ptr_nonnull(strstr(body(ok), "a=recvonly"));
	ck_assert_str_eq(cs(ok->msg->to.tag), p.to_tag);
	peer_ack(&p, NULL);
	WAIT_FOR(ev_count("call.hold", id, NULL, NULL) == 1, 1000);
	i = ev_last("call.hold", id);
	ck_assert_str_eq(ev_val((size_t)i, "held"), "yes");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "remote");
	ck_assert(detail(id).sum.hold);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	run_for(100);

	peer_request(&p, "INVITE", 3, NULL, true, NULL,
	    peer_sdp(3, "sendrecv", true));
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_INVITE, 3) >= 1, 1000);
	peer_ack(&p, NULL);
	WAIT_FOR(ev_count("call.hold", id, NULL, NULL) == 2, 1000);
	i = ev_last("call.hold", id);
	ck_assert_str_eq(ev_val((size_t)i, "held"), "no");
	ck_assert_str_eq(ev_val((size_t)i, "by"), "remote");
	ck_assert(!detail(id).sum.hold);
}
END_TEST

/* §14.2: a re-INVITE while our 2xx still waits for its ACK: 500. */
START_TEST(test_uas_reinvite_before_ack)
{
	struct pdlg p;
	struct pm *r = NULL;
	uint64_t id;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	id = incoming_id();
	pdlg_learn(&p);
	peer_request(&p, "INVITE", 2, NULL, true, NULL,
	    peer_sdp(2, "sendonly", true));
	WAIT_FOR(nrsp_cseq(500, SIP_METHOD_INVITE, 2) >= 1, 1000);
	for (size_t k = 0; k < mock.n && r == NULL; k++)
		if (!mock.in[k].msg->request && mock.in[k].msg->status == 500)
			r = &mock.in[k];
	ck_assert_ptr_nonnull(hval(r, "Retry-After"));
	ck_assert_uint_eq(ev_count("call.hold", id, NULL, NULL), 0);
	/* The ACK of the first 200 still counts. */
	p.inv_cseq = 1;
	peer_ack(&p, NULL);
	run_for(100);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert(!detail(id).sum.hold);
}
END_TEST

/* §12.2.2: a request with a To tag no dialog knows gets 481. */
START_TEST(test_uas_no_dialog)
{
	struct pdlg p;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	snprintf(p.to_tag, sizeof(p.to_tag), "no-such-tag-%d",
	    (int)getpid());
	peer_request(&p, "BYE", 7, NULL, true, NULL, NULL);
	peer_request(&p, "INVITE", 8, NULL, true, NULL,
	    peer_sdp(1, "sendrecv", true));
	peer_request(&p, "UPDATE", 9, NULL, true, NULL, NULL);
	WAIT_FOR(nrsp(481, SIP_METHOD_BYE) == 1 &&
	    nrsp(481, SIP_METHOD_INVITE) == 1 &&
	    nrsp(481, SIP_METHOD_UPDATE) == 1, 1000);
	run_for(100);
	ck_assert_uint_eq(live_calls(), 0);
	ck_assert_uint_eq(history(), 0);
	ck_assert_uint_eq(evlog.n, 0);
}
END_TEST

/* RFC 3262 §3: a reliable 180, sent again until its PRACK. */
START_TEST(test_uas_100rel)
{
	struct pdlg p;
	struct pm *r;
	uint64_t id;
	size_t n;

	start(ACCOUNT_INCOMING_RING);
	pdlg_init(&p, "alice");
	peer_invite(&p, "Require: 100rel\r\nSupported: 100rel, timer\r\n",
	    peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	r = answer_to(&p, 180);
	ck_assert(tokens_have(&r->msg->require, "100rel"));
	ck_assert_str_eq(hval(r, "RSeq"), "1");
	id = incoming_id();
	WAIT_FOR(nanswer(&p, 180) >= 3, 1000);
	for (size_t k = 0; k < mock.n; k++) {
		const struct sip_msg *m = mock.in[k].msg;

		if (!m->request && m->status == 180)
			ck_assert_str_eq(hval(&mock.in[k], "RSeq"), "1");
	}
	pdlg_learn(&p);
	peer_request(&p, "PRACK", 2, NULL, true, "RAck: 1 1 INVITE\r\n", NULL);
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_PRACK, 2) == 1, 1000);
	run_for(100);
	n = nanswer(&p, 180);
	run_for(500);
	ck_assert_uint_eq(nanswer(&p, 180), n);
	ck_assert_int_eq(state_of(id), CALL_STATE_RINGING);
	/* A PRACK for nothing we sent: 481 (RFC 3262 §3). */
	peer_request(&p, "PRACK", 3, NULL, true, "RAck: 5 1 INVITE\r\n", NULL);
	WAIT_FOR(nrsp_cseq(481, SIP_METHOD_PRACK, 3) == 1, 1000);
	ck_assert_int_eq(call_answer(ag, id), 0);
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	peer_ack(&p, NULL);
	run_for(50);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
}
END_TEST

/*
 * Late offer with 100rel: our offer goes in the reliable 180, and an
 * answer from control waits for the PRACK that answers it (RFC 3262
 * §3).  An UPDATE in the early dialog is acknowledged and arms no
 * session timer: the call still rings, nobody sends BYE (§15).
 */
START_TEST(test_uas_answer_waits_for_prack)
{
	struct pdlg p;
	struct pm *r;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	pdlg_init(&p, "alice");
	peer_invite(&p, "Require: 100rel\r\nSupported: 100rel, timer\r\n",
	    NULL);
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	r = answer_to(&p, 180);
	ck_assert_msg(strstr(cs(r->msg->body), "m=audio ") != NULL,
	    "our offer in the reliable 180");
	id = incoming_id();
	pdlg_learn(&p);
	peer_request(&p, "UPDATE", 2, NULL, true,
	    "Session-Expires: 1;refresher=uac\r\n", NULL);
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_UPDATE, 2) == 1, 1000);
	ck_assert_int_eq(call_answer(ag, id), 0);
	run_for(1500);
	ck_assert_uint_eq(nanswer(&p, 200), 0);
	ck_assert_uint_eq(nreq(SIP_METHOD_BYE), 0);
	ck_assert_int_eq(state_of(id), CALL_STATE_RINGING);
	peer_request(&p, "PRACK", 3, NULL, true, "RAck: 1 1 INVITE\r\n",
	    peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	r = answer_to(&p, 200);
	ck_assert_uint_eq(r->msg->body.n, 0);
	peer_ack(&p, NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	ck_assert_str_eq(detail(id).sum.codec, "PCMU");
}
END_TEST

/* RFC 4028 §8.1: an interval below our Min-SE gets 422; one above is
 * kept, with the refresher they named. */
START_TEST(test_uas_session_expires)
{
	struct call_detail d;
	struct pdlg p;
	struct pm *r;
	uint64_t id;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, "Session-Expires: 60\r\nSupported: timer\r\n",
	    peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 422) == 1, 1000);
	r = answer_to(&p, 422);
	ck_assert_str_eq(hval(r, "Min-SE"), "90");
	run_for(100);
	ck_assert_uint_eq(live_calls(), 0);
	ck_assert_uint_eq(history(), 0);
	ck_assert_uint_eq(evlog.n, 0);

	pdlg_init(&p, "alice");
	peer_invite(&p, "Session-Expires: 120;refresher=uas\r\n"
	    "Supported: timer\r\n", peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	r = answer_to(&p, 200);
	ck_assert_str_eq(hval(r, "Session-Expires"), "120;refresher=uas");
	id = incoming_id();
	d = detail(id);
	ck_assert_uint_eq(d.session_expires, 120);
	ck_assert_str_eq(d.refresher, "uas");
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	run_for(50);
}
END_TEST

/* ---- 3. stop and media --------------------------------------------------- */

static unsigned stop_done;

static void
on_stop_done(void *arg)
{
	(void)arg;
	stop_done++;
}

/* ---- transfer (RFC 3515) ------------------------------------------------ */

/* The peer answers our INVITE and takes a REFER with refer_status. */
static unsigned refer_status = 202;

static void
script_refer(struct pm *q)
{
	if (is_method(q, SIP_METHOD_REFER)) {
		peer_respond(q, refer_status, refer_status == 202 ?
		    "Accepted" : "Decline", NULL, NULL, NULL);
		return;
	}
	script_answer(q);
}

/* The peer's side of a dialog we opened with our INVITE inv. */
static void
pdlg_of_uac(struct pdlg *d, const struct pm *inv)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->call_id, sizeof(d->call_id), "%s", cs(inv->msg->call_id));
	snprintf(d->from_tag, sizeof(d->from_tag), "peer-1");
	snprintf(d->to_tag, sizeof(d->to_tag), "%s", cs(inv->msg->from.tag));
	snprintf(d->ruri, sizeof(d->ruri), "%s",
	    cs(inv->msg->contact[0].addr.uri_str));
}

static void
peer_notify(struct pdlg *d, uint32_t cseq, const char *substate,
    const char *frag)
{
	char h[160];

	snprintf(h, sizeof(h), "Event: refer\r\nSubscription-State: %s\r\n"
	    "Contact: <%s>\r\n", substate, peer_contact);
	peer_request_typed(d, "NOTIFY", cseq, NULL, true, h,
	    "message/sipfrag;version=2.0", frag);
}

START_TEST(test_transfer_out)
{
	char err[200], target[96];
	struct pm *inv, *refer;
	struct pdlg p;
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_RING);
	refer_status = 202;
	mock.script = script_refer;
	id = place(NULL);
	/* Only a confirmed call can be transferred. */
	ck_assert_int_eq(call_transfer(ag, id, "sip:carol@127.0.0.1", err,
	    sizeof(err)), EALREADY);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	ck_assert_int_eq(call_transfer(ag, id, "mailto:carol@example.com",
	    err, sizeof(err)), EINVAL);
	ck_assert_int_eq(call_transfer(ag, id + 100, "sip:carol@127.0.0.1",
	    err, sizeof(err)), ENOENT);
	snprintf(target, sizeof(target), "sip:carol@127.0.0.1:%d", mock.port);
	ck_assert_int_eq(call_transfer(ag, id, target, err, sizeof(err)), 0);
	ck_assert_int_eq(call_transfer(ag, id, target, err, sizeof(err)),
	    EBUSY);
	WAIT_FOR(nreq(SIP_METHOD_REFER) == 1, 1000);
	inv = req(SIP_METHOD_INVITE, 0);
	refer = req(SIP_METHOD_REFER, 0);
	check_same_dialog(refer, inv);
	ck_assert_str_eq(cs(refer->msg->to.tag), "peer-1");
	ck_assert_uint_eq(refer->msg->cseq.num, inv->msg->cseq.num + 1);
	ck_assert(refer->msg->has_refer_to);
	ck_assert_str_eq(cs(refer->msg->refer_to.uri_str), target);
	ck_assert_ptr_nonnull(hval(refer, "Referred-By"));
	WAIT_FOR(ev_count("call.transfer", id, "state", "accepted") == 1,
	    1000);

	/* The transferee's progress (RFC 3515 §2.4.5). */
	pdlg_of_uac(&p, inv);
	peer_notify(&p, 1, "active;expires=60", "SIP/2.0 100 Trying\r\n");
	peer_notify(&p, 2, "active;expires=60", "SIP/2.0 180 Ringing\r\n");
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_NOTIFY, 2) == 1, 1000);
	WAIT_FOR(ev_count("call.transfer", id, "status", "180") == 1, 1000);
	/* Some other package in this dialog: 489 (RFC 6665 §8.2.2). */
	peer_request_typed(&p, "NOTIFY", 3, NULL, true,
	    "Event: presence\r\nSubscription-State: active\r\n",
	    "text/plain", "x");
	WAIT_FOR(nrsp_cseq(489, SIP_METHOD_NOTIFY, 3) == 1, 1000);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);

	/* The new call is up: our leg ends with BYE. */
	peer_notify(&p, 4, "terminated;reason=noresource",
	    "SIP/2.0 200 OK\r\n");
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	i = ev_last("call.transfer", id);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(ev_val((size_t)i, "state"), "done");
	ck_assert_str_eq(ev_val((size_t)i, "dir"), "out");
	ck_assert_str_eq(detail(id).sum.reason, "transferred");
	/* A NOTIFY after that finds no dialog. */
	peer_notify(&p, 5, "terminated", "SIP/2.0 200 OK\r\n");
	WAIT_FOR(nrsp_cseq(481, SIP_METHOD_NOTIFY, 5) == 1, 1000);
}
END_TEST

/*
 * RFC 3515 §2.4.6: a NOTIFY's Event id is the CSeq of its REFER; one
 * that names another REFER (an earlier transfer's late NOTIFY) is not
 * this transfer's: 481, and the call stays.
 */
START_TEST(test_transfer_out_other_id)
{
	char err[200], ev[64];
	struct pm *inv, *refer;
	struct pdlg p;
	uint64_t id;

	start(ACCOUNT_INCOMING_RING);
	refer_status = 202;
	mock.script = script_refer;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	ck_assert_int_eq(call_transfer(ag, id, "sip:carol@127.0.0.1", err,
	    sizeof(err)), 0);
	WAIT_FOR(ev_count("call.transfer", id, "state", "accepted") == 1,
	    1000);
	inv = req(SIP_METHOD_INVITE, 0);
	refer = req(SIP_METHOD_REFER, 0);
	pdlg_of_uac(&p, inv);
	snprintf(ev, sizeof(ev), "Event: refer;id=%u\r\n"
	    "Subscription-State: terminated\r\n",
	    (unsigned)refer->msg->cseq.num - 1);
	peer_request_typed(&p, "NOTIFY", 1, NULL, true, ev,
	    "message/sipfrag;version=2.0", "SIP/2.0 200 OK\r\n");
	WAIT_FOR(nrsp_cseq(481, SIP_METHOD_NOTIFY, 1) == 1, 1000);
	run_for(50);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert_int_eq(nreq(SIP_METHOD_BYE), 0);
	/* Its own id, or none: taken. */
	snprintf(ev, sizeof(ev), "Event: refer;id=%u\r\n"
	    "Subscription-State: active\r\n",
	    (unsigned)refer->msg->cseq.num);
	peer_request_typed(&p, "NOTIFY", 2, NULL, true, ev,
	    "message/sipfrag;version=2.0", "SIP/2.0 180 Ringing\r\n");
	WAIT_FOR(nrsp_cseq(200, SIP_METHOD_NOTIFY, 2) == 1, 1000);
	peer_notify(&p, 3, "terminated", "SIP/2.0 200 OK\r\n");
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1, 1000);
}
END_TEST

/*
 * The transferee's NOTIFY says how long its subscription lasts (RFC
 * 6665 §4.1.3): the wait for the final NOTIFY follows it, 64*T1 past
 * it at most, not a fixed two minutes.
 */
START_TEST(test_transfer_out_expiry)
{
	char err[200];
	struct pdlg p;
	uint64_t id, t0;
	int i;

	start(ACCOUNT_INCOMING_RING);
	refer_status = 202;
	mock.script = script_refer;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	WAIT_FOR(nreq(SIP_METHOD_ACK) == 1, 1000);
	ck_assert_int_eq(call_transfer(ag, id, "sip:carol@127.0.0.1", err,
	    sizeof(err)), 0);
	WAIT_FOR(ev_count("call.transfer", id, "state", "accepted") == 1,
	    1000);
	pdlg_of_uac(&p, req(SIP_METHOD_INVITE, 0));
	t0 = time_mono_us();
	peer_notify(&p, 1, "active;expires=1", "SIP/2.0 180 Ringing\r\n");
	WAIT_FOR(ev_count("call.transfer", id, "state", "failed") == 1,
	    1000 + 64 * T1_MS + 1000);
	ck_assert_uint_ge(time_mono_us() - t0, 1000 * 1000);
	i = ev_last("call.transfer", id);
	ck_assert_str_eq(ev_val((size_t)i, "reason"), "no final NOTIFY");
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
}
END_TEST

START_TEST(test_transfer_out_refused)
{
	char err[200];
	uint64_t id;
	int i;

	start(ACCOUNT_INCOMING_RING);
	refer_status = 603;
	mock.script = script_refer;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	ck_assert_int_eq(call_transfer(ag, id, "sip:carol@127.0.0.1", err,
	    sizeof(err)), 0);
	WAIT_FOR(ev_count("call.transfer", id, "state", "failed") == 1, 2000);
	i = ev_last("call.transfer", id);
	ck_assert_str_eq(ev_val((size_t)i, "status"), "603");
	/* The call goes on, and a new transfer may be tried. */
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert_int_eq(call_transfer(ag, id, "sip:carol@127.0.0.1", err,
	    sizeof(err)), 0);
	refer_status = 202;
}
END_TEST

/* The transfer target (user carol) rings, then answers. */
static void
script_target(struct pm *q)
{
	if (is_method(q, SIP_METHOD_INVITE) &&
	    !slice_present(q->msg->to.tag) &&
	    slice_eq_cstr(q->msg->ruri.user, "carol")) {
		peer_respond(q, 180, "Ringing", "carol-1", NULL, NULL);
		peer_respond(q, 200, "OK", "carol-1", NULL,
		    peer_sdp(1, "sendrecv", false));
		return;
	}
	peer_default(q);
}

/* The NOTIFYs we sent in the dialog of the peer's call p, in order. */
static size_t
notifies(const struct pdlg *p, const struct pm **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < mock.n && n < max; i++)
		if (is_method(&mock.in[i], SIP_METHOD_NOTIFY) &&
		    !mock.in[i].retx &&
		    slice_eq_cstr(mock.in[i].msg->call_id, p->call_id))
			out[n++] = &mock.in[i];
	return n;
}

START_TEST(test_transfer_in)
{
	struct account_cfg *cfg = mk_cfg(ACCOUNT_INCOMING_ANSWER);
	const struct pm *nt[8];
	struct pdlg p;
	char h[256];
	uint64_t id, nid;
	size_t n;
	int i;

	cfg->refer_accept = true;
	start_with(cfg);
	mock.script = script_target;
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	id = incoming_id();
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);

	/* An attended transfer (Replaces) is not ours to do. */
	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d?Replaces="
	    "abc%%3Bto-tag%%3D1%%3Bfrom-tag%%3D2>\r\n", mock.port);
	peer_request(&p, "REFER", 2, NULL, true, h, NULL);
	WAIT_FOR(nrsp_cseq(501, SIP_METHOD_REFER, 2) == 1, 1000);
	/* A method other than INVITE (RFC 3515 §2.1): not ours either. */
	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d;"
	    "method=BYE>\r\n", mock.port);
	peer_request(&p, "REFER", 3, NULL, true, h, NULL);
	WAIT_FOR(nrsp_cseq(501, SIP_METHOD_REFER, 3) == 1, 1000);
	ck_assert_uint_eq(live_calls(), 1);

	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d>\r\n"
	    "Referred-By: <sip:peer@127.0.0.1>\r\n", mock.port);
	peer_request(&p, "REFER", 4, NULL, true, h, NULL);
	WAIT_FOR(nrsp_cseq(202, SIP_METHOD_REFER, 4) == 1, 1000);
	/* The new call, its 180 and 200, each told in a NOTIFY. */
	WAIT_FOR(notifies(&p, nt, 8) >= 2 && strstr(body(nt[notifies(&p,
	    nt, 8) - 1]), "200 OK") != NULL, 2000);
	n = notifies(&p, nt, 8);
	ck_assert_str_eq(body(nt[0]), "SIP/2.0 100 Trying\r\n");
	ck_assert_str_eq(hval(nt[0], "Event"), "refer;id=4");
	ck_assert_ptr_nonnull(strstr(hval(nt[0], "Subscription-State"),
	    "active"));
	ck_assert_str_eq(hval(nt[0], "Content-Type"),
	    "message/sipfrag;version=2.0");
	ck_assert_str_eq(body(nt[n - 1]), "SIP/2.0 200 OK\r\n");
	ck_assert_ptr_nonnull(strstr(hval(nt[n - 1], "Subscription-State"),
	    "terminated"));
	ck_assert_str_eq(cs(nt[0]->msg->to.tag), p.from_tag);
	/* The new call carries who referred it (RFC 3892). */
	i = ev_last("call.transfer", id);
	ck_assert_str_eq(ev_val((size_t)i, "state"), "done");
	ck_assert_str_eq(ev_val((size_t)i, "dir"), "in");
	nid = strtoull(ev_val((size_t)i, "new_id"), NULL, 10);
	ck_assert_uint_ne(nid, 0);
	WAIT_FOR(state_of(nid) == CALL_STATE_CONFIRMED, 1000);
	for (size_t k = 0; k < mock.n; k++)
		if (is_method(&mock.in[k], SIP_METHOD_INVITE) &&
		    slice_eq_cstr(mock.in[k].msg->ruri.user, "carol"))
			ck_assert_str_eq(hval(&mock.in[k], "Referred-By"),
			    "<sip:peer@127.0.0.1>");
	/* The transferor hangs up; the new call stays. */
	peer_request(&p, "BYE", 5, NULL, true, NULL, NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	ck_assert_int_eq(state_of(nid), CALL_STATE_CONFIRMED);
}
END_TEST

/* script_target, but the final NOTIFY (200) waits for its answer. */
static void
script_target_slow_notify(struct pm *q)
{
	if (is_method(q, SIP_METHOD_NOTIFY) && strstr(body(q), "200 OK"))
		return;
	script_target(q);
}

/*
 * The new call is up and said so (done); it ends before the transferor
 * answers that NOTIFY: the transfer stays done, no "failed" after it.
 */
START_TEST(test_transfer_in_done_once)
{
	struct account_cfg *cfg = mk_cfg(ACCOUNT_INCOMING_ANSWER);
	struct pdlg p;
	char h[256];
	uint64_t id, nid;
	int i;

	cfg->refer_accept = true;
	start_with(cfg);
	mock.script = script_target_slow_notify;
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	id = incoming_id();
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d>\r\n",
	    mock.port);
	peer_request(&p, "REFER", 2, NULL, true, h, NULL);
	WAIT_FOR(ev_count("call.transfer", id, "state", "done") == 1, 2000);
	i = ev_last("call.transfer", id);
	nid = strtoull(ev_val((size_t)i, "new_id"), NULL, 10);
	WAIT_FOR(state_of(nid) == CALL_STATE_CONFIRMED, 1000);
	ck_assert_int_eq(call_hangup(ag, nid), 0);
	WAIT_FOR(state_of(nid) == CALL_STATE_TERMINATED, 1000);
	run_for(100);
	ck_assert_int_eq(ev_count("call.transfer", id, "state", "failed"), 0);
	i = ev_last("call.transfer", id);
	ck_assert_str_eq(ev_val((size_t)i, "state"), "done");
}
END_TEST

START_TEST(test_transfer_in_refused)
{
	struct pdlg p;
	char h[128];
	uint64_t id;

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 200) >= 1, 1000);
	pdlg_learn(&p);
	peer_ack(&p, NULL);
	id = incoming_id();
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 1000);
	/* refer = reject, the default: nobody makes us call elsewhere. */
	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d>\r\n",
	    mock.port);
	peer_request(&p, "REFER", 2, NULL, true, h, NULL);
	WAIT_FOR(nrsp_cseq(603, SIP_METHOD_REFER, 2) == 1, 1000);
	/* No Refer-To at all. */
	peer_request(&p, "REFER", 3, NULL, true, NULL, NULL);
	WAIT_FOR(nrsp_cseq(603, SIP_METHOD_REFER, 3) == 1, 1000);
	/* A NOTIFY for a REFER we never sent. */
	peer_request_typed(&p, "NOTIFY", 4, NULL, true,
	    "Event: refer\r\nSubscription-State: active\r\n",
	    "message/sipfrag", "SIP/2.0 100 Trying\r\n");
	WAIT_FOR(nrsp_cseq(481, SIP_METHOD_NOTIFY, 4) == 1, 1000);
	ck_assert_int_eq(state_of(id), CALL_STATE_CONFIRMED);
	ck_assert_uint_eq(live_calls(), 1);
}
END_TEST

/*
 * A REFER outside any dialog (RFC 3515 §2.4.7) is a request we refuse,
 * not one whose dialog is missing: 403, never 481.
 */
START_TEST(test_transfer_in_no_dialog)
{
	struct pdlg p;
	char h[128];

	start(ACCOUNT_INCOMING_ANSWER);
	pdlg_init(&p, "alice");
	snprintf(h, sizeof(h), "Refer-To: <sip:carol@127.0.0.1:%d>\r\n"
	    "Contact: <%s>\r\n", mock.port, peer_contact);
	peer_request(&p, "REFER", 7, NULL, false, h, NULL);
	WAIT_FOR(nrsp_cseq(403, SIP_METHOD_REFER, 7) == 1, 1000);
	ck_assert_uint_eq(nrsp_cseq(481, SIP_METHOD_REFER, 7), 0);
	ck_assert_uint_eq(live_calls(), 0);
}
END_TEST

START_TEST(test_stop)
{
	struct call_params cp = { 0 };
	struct pdlg p, q;
	uint64_t out, in, id;
	char err[128];

	start(ACCOUNT_INCOMING_RING);
	mock.script = script_answer;
	out = place(NULL);
	WAIT_FOR(state_of(out) == CALL_STATE_CONFIRMED, 2000);
	pdlg_init(&p, "alice");
	peer_invite(&p, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&p, 180) == 1, 1000);
	in = incoming_id();
	ck_assert_uint_eq(live_calls(), 2);

	call_agent_stop(ag, on_stop_done, NULL);
	WAIT_FOR(nreq(SIP_METHOD_BYE) == 1 && nanswer(&p, 480) == 1, 1000);
	ck_assert_str_eq(cs(req(SIP_METHOD_BYE, 0)->msg->call_id),
	    cs(req(SIP_METHOD_INVITE, 0)->msg->call_id));
	WAIT_FOR(stop_done == 1, 2000);
	ck_assert_uint_eq(live_calls(), 0);
	check_ended(out, 200, "local");
	check_ended(in, 480, "local");
	run_for(100);
	ck_assert_uint_eq(stop_done, 1);
	/* Stopping: no new call either way. */
	cp.account = "alice";
	cp.uri = peer_uri;
	ck_assert_int_eq(call_place(ag, &cp, &id, err, sizeof(err)),
	    ESHUTDOWN);
	pdlg_init(&q, "alice");
	peer_invite(&q, NULL, peer_sdp(1, "sendrecv", true));
	WAIT_FOR(nanswer(&q, 503) == 1, 1000);
	ck_assert_ptr_nonnull(hval(answer_to(&q, 503), "Retry-After"));
}
END_TEST

/* Silence between the usage and the peer's own RTP socket. */
START_TEST(test_media_silence)
{
	struct account_cfg *c = mk_cfg(ACCOUNT_INCOMING_RING);
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct call_detail d;
	unsigned char pkt[512];
	char want[64];
	uint64_t id;
	int port, got = 0;

	c->media = RTP_MODE_SILENCE;
	start_with(c);
	mock.script = script_answer;
	id = place(NULL);
	WAIT_FOR(state_of(id) == CALL_STATE_CONFIRMED, 2000);
	port = sdp_port(body(req(SIP_METHOD_INVITE, 0)));
	d = detail(id);
	ck_assert_int_eq(d.sum.media, RTP_MODE_SILENCE);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	ck_assert_str_eq(d.local_media, want);
	run_for(300);
	/* What the usage sends: PCMU, 20 ms, from its SDP's port. */
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(mock.rtp_fd, pkt, sizeof(pkt),
		    MSG_DONTWAIT, (struct sockaddr *)&from, &fl);

		if (n < 0)
			break;
		ck_assert_int_eq(n, 12 + 160);
		ck_assert_int_eq(pkt[0] >> 6, 2);
		ck_assert_int_eq(pkt[1] & 0x7f, 0);
		ck_assert_int_eq(ntohs(from.sin_port), port);
		ck_assert_uint_eq(ntohl(from.sin_addr.s_addr),
		    INADDR_LOOPBACK);
		got++;
	}
	ck_assert_int_ge(got, 8);
	/* What the peer sends to that port is counted. */
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)port);
	for (unsigned k = 0; k < 10; k++) {
		memset(pkt, 0xff, 12 + 160);
		pkt[0] = 0x80;
		pkt[1] = 0;
		pkt[2] = (unsigned char)(k >> 8);
		pkt[3] = (unsigned char)k;
		pkt[4] = pkt[5] = pkt[6] = 0;
		pkt[7] = (unsigned char)(k * 160 & 0xff);
		pkt[8] = 0x12;
		pkt[9] = 0x34;
		pkt[10] = 0x56;
		pkt[11] = 0x78;
		ck_assert_int_eq(sendto(mock.rtp_fd, pkt, 12 + 160, 0,
		    (struct sockaddr *)&to, sizeof(to)), 12 + 160);
	}
	run_for(200);
	d = detail(id);
	ck_assert_uint_eq(d.sum.stats.packets_recv, 10);
	ck_assert_uint_eq(d.sum.stats.bytes_recv, 1600);
	ck_assert_uint_ge(d.sum.stats.packets_sent, (uint64_t)got);
	ck_assert_uint_eq(d.sum.stats.remote_ssrc, 0x12345678);
	ck_assert_int_eq(call_hangup(ag, id), 0);
	WAIT_FOR(state_of(id) == CALL_STATE_TERMINATED, 1000);
	history();
	ck_assert_uint_eq(sums.s[0].stats.packets_recv, 10);
}
END_TEST

static unsigned snapshots;

static void
on_snapshot(const struct events_event *ev, void *arg)
{
	(void)arg;
	if (!ev->live && strcmp(ev->type, "call.state") == 0)
		snapshots++;
}

/* call_place's refusals, ids, counts, the events snapshot. */
START_TEST(test_place_errors)
{
	static const char *bad_hdr[] = { "Bad Name: x" };
	static const char *crlf_hdr[] = { "X-A: 1\r\nX-B: 2" };
	static const char *good_hdr[] = { "X-Test: yes" };
	struct call_params p = { 0 };
	size_t counts[CALL_STATE__COUNT];
	struct events_sub *s2;
	struct call_detail d;
	char err[256];
	uint64_t id = 0;

	start(ACCOUNT_INCOMING_RING);
	p.account = "nobody";
	p.uri = peer_uri;
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), ENOENT);
	p.account = "alice";
	p.uri = "tel:+123";
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), EINVAL);
	ck_assert_uint_gt(strlen(err), 0);
	p.uri = peer_uri;
	p.headers = bad_hdr;
	p.nheaders = 1;
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), EINVAL);
	p.headers = crlf_hdr;
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), EINVAL);
	ck_assert_uint_eq(live_calls(), 0);
	ck_assert_uint_eq(evlog.n, 0);

	p.headers = good_hdr;
	p.id = 4242;
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), 0);
	ck_assert_uint_eq(id, 4242);
	ck_assert_int_eq(call_place(ag, &p, &id, err, sizeof(err)), EEXIST);
	ck_assert_uint_eq(call_count_states(ag, counts), 1);
	ck_assert_uint_eq(counts[CALL_STATE_CALLING], 1);
	WAIT_FOR(nreq(SIP_METHOD_INVITE) == 1, 1000);
	ck_assert_str_eq(hval(req(SIP_METHOD_INVITE, 0), "X-Test"), "yes");
	/* A new subscriber first hears of the live call. */
	s2 = events_subscribe(EVENTS_KIND_CALL, NULL, on_snapshot, NULL);
	ck_assert_uint_eq(snapshots, 1);
	events_unsubscribe(s2);
	ck_assert_int_eq(call_hold(ag, 4242), EALREADY);
	ck_assert_int_eq(call_answer(ag, 4242), EALREADY);
	ck_assert_int_eq(call_detail_get(ag, 999999, &d), ENOENT);
}
END_TEST

static Suite *
call_suite(void)
{
	Suite *s = suite_create("call");
	TCase *tc = tcase_create("caller");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_uac_basic);
	tcase_add_test(tc, test_uac_2xx_retransmitted);
	tcase_add_test(tc, test_uac_late_offer);
	tcase_add_test(tc, test_uac_late_offer_rel183);
	tcase_add_test(tc, test_uac_486);
	tcase_add_test(tc, test_uac_407);
	tcase_add_test(tc, test_uac_hangup_before_1xx);
	tcase_add_test(tc, test_uac_no_answer_timeout);
	tcase_add_test(tc, test_uac_cancel_crosses_200);
	tcase_add_test(tc, test_uac_prack);
	tcase_add_test(tc, test_uac_forking);
	tcase_add_test(tc, test_uac_record_route);
	tcase_add_test(tc, test_uac_hold);
	tcase_add_test(tc, test_uac_session_timer);
	suite_add_tcase(s, tc);

	tc = tcase_create("callee");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_uas_answer);
	tcase_add_test(tc, test_uas_ring_answer);
	tcase_add_test(tc, test_uas_reject);
	tcase_add_test(tc, test_uas_ring_timeout);
	tcase_add_test(tc, test_uas_policy_reject);
	tcase_add_test(tc, test_uas_no_codec);
	tcase_add_test(tc, test_uas_cancel);
	tcase_add_test(tc, test_uas_no_ack);
	tcase_add_test(tc, test_uas_reinvite_hold);
	tcase_add_test(tc, test_uas_reinvite_before_ack);
	tcase_add_test(tc, test_uas_no_dialog);
	tcase_add_test(tc, test_uas_100rel);
	tcase_add_test(tc, test_uas_answer_waits_for_prack);
	tcase_add_test(tc, test_uas_session_expires);
	suite_add_tcase(s, tc);

	tc = tcase_create("agent");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_transfer_out);
	tcase_add_test(tc, test_transfer_out_refused);
	tcase_add_test(tc, test_transfer_out_other_id);
	tcase_add_test(tc, test_transfer_out_expiry);
	tcase_add_test(tc, test_transfer_in);
	tcase_add_test(tc, test_transfer_in_done_once);
	tcase_add_test(tc, test_transfer_in_refused);
	tcase_add_test(tc, test_transfer_in_no_dialog);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_media_silence);
	tcase_add_test(tc, test_place_errors);
	suite_add_tcase(s, tc);

	/* 45 s of real time: only when asked. */
	if (getenv("SIPX_SLOW_TESTS") != NULL) {
		tc = tcase_create("slow");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 70);
		tcase_add_test(tc, test_session_refresh_slow);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(call_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
