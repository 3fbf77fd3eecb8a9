/*
 * SIP over UDP (RFC 3261 §18): sending datagrams from a listener's
 * socket and reading them in bounded batches.  A datagram is one
 * message; a datagram of only CRLF and blanks is a keepalive, counted
 * and dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "sip_tp_priv.h"

/* ---- sending -------------------------------------------------------------- */

int
tp_udp_send(struct sip_tp *tp, uint64_t lid, const struct sockaddr *sa,
    socklen_t salen, const char *buf, size_t len)
{
	struct sip_tp_listener *l = tp_listener_by_id(tp, lid);
	struct sockaddr_storage peer;

	if (l == NULL || l->proto != SIP_TP_UDP ||
	    l->addr.ss_family != sa->sa_family)
		l = tp_listener_for(tp, SIP_TP_UDP, sa->sa_family, false);
	if (l == NULL)
		return EADDRNOTAVAIL;
	if (sendto(l->fd, buf, len, 0, sa, salen) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS) {
			/* A lost datagram: retransmission covers it. */
			tp->stats.send_drops++;
			return 0;
		}
		return errno;
	}
	tp->stats.tp[SIP_TP_UDP].bytes_out += len;
	tp->stats.tp[SIP_TP_UDP].msgs_out++;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa, salen);
	tp_trace(tp, SIP_TP_OUT, SIP_TP_UDP, l->id, &l->addr, l->addrlen, &peer,
	    salen, buf, len);
	return 0;
}

static bool
all_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' &&
		    p[i] != '\t' && p[i] != '\0')
			return false;
	return true;
}

static void
udp_datagram(struct sip_tp_listener *l, const char *buf, size_t n,
    const struct sockaddr_storage *src, socklen_t srclen)
{
	struct sip_tp *tp = l->tp;
	struct sip_parse_error pe;
	struct sip_msg *m;
	char *copy;

	tp->stats.tp[SIP_TP_UDP].bytes_in += n;
	if (all_crlf(buf, n)) {
		tp->stats.keepalives_in++;
		return;
	}
	tp->stats.tp[SIP_TP_UDP].msgs_in++;
	tp_trace(tp, SIP_TP_IN, SIP_TP_UDP, l->id, &l->addr, l->addrlen, src,
	    srclen, buf, n);
	copy = xmalloc(n + 1);
	memcpy(copy, buf, n);
	copy[n] = '\0';
	if (sip_msg_parse(copy, n, SIP_PARSE_BORROW, &m, &pe) != 0) {
		tp_garbage(tp, NULL, l, src, srclen, buf, n, &pe);
		free(copy);
		return;
	}
	m->owned = copy;
	tp_deliver(tp, SIP_TP_UDP, l->id, src, srclen, m, 0);
}

void
tp_udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp_listener *l = arg;

	/* A bounded batch, so one busy socket cannot starve the loop. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage src;
		socklen_t srclen = sizeof(src);
		ssize_t n;

		n = recvfrom(fd, l->tp->rbuf, SIP_MSG_SIZE_MAX + 1, MSG_TRUNC,
		    (struct sockaddr *)&src, &srclen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("sip_tp: UDP recvfrom: %s",
				    strerror(errno));
			return;
		}
		if ((size_t)n > SIP_MSG_SIZE_MAX) {
			l->tp->stats.tp[SIP_TP_UDP].bytes_in += (size_t)n;
			l->tp->stats.garbage_requests++;
			continue;
		}
		udp_datagram(l, l->tp->rbuf, (size_t)n, &src, srclen);
	}
}

