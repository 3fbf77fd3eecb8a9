/*
 * Host address changes over rtnetlink (see sip_netmon.h).  This file
 * owns the netlink socket, the kernel's address and link tables as last
 * heard, the list last reported and the settle timer.  The parser at
 * the top is pure; the monitor below keeps the tables, reads the whole
 * list again after any loss, and reports differences.  It logs only
 * what it decides itself (a lost message, a table full).
 */
#include <net/if.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/log.h"
#include "base/ratelimit.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_netmon.h"

/* ---- parsing ------------------------------------------------------------ */

/*
 * A string attribute (IFA_LABEL, IFLA_IFNAME) into out: NUL-terminated
 * within its payload as the kernel sends it; longer than out: cut.
 */
static void
nm_attr_str(const unsigned char *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	while (k < n && k + 1 < cap && p[k] != '\0') {
		/* A name goes into logs and events: printable only. */
		out[k] = p[k] >= 0x21 && p[k] < 0x7f ? (char)p[k] : '?';
		k++;
	}
	out[k] = '\0';
}

/*
 * Walks the attributes in p[n]: fn gets each (type, payload); false
 * when one runs past the end or is shorter than its own header.
 */
struct nm_attr {
	unsigned short		 type;
	const unsigned char	*p;
	size_t			 n;
};

static bool
nm_attr_next(const unsigned char **p, size_t *n, struct nm_attr *a)
{
	struct rtattr rta;
	size_t step;

	if (*n < sizeof(rta))
		return false;
	memcpy(&rta, *p, sizeof(rta));
	if (rta.rta_len < sizeof(rta) || rta.rta_len > *n)
		return false;
	a->type = rta.rta_type & NLA_TYPE_MASK;
	a->p = *p + RTA_LENGTH(0);
	a->n = rta.rta_len - RTA_LENGTH(0);
	step = RTA_ALIGN(rta.rta_len);
	if (step > *n)
		step = *n;
	*p += step;
	*n -= step;
	return true;
}

static int
nm_parse_addr(const unsigned char *b, size_t n, struct sip_netmon_msg *out)
{
	struct sip_netmon_addr *a = &out->addr;
	const unsigned char *local = NULL, *address = NULL;
	struct ifaddrmsg ifa;
	struct nm_attr at;
	size_t alen;
	bool have_flags = false;
	uint32_t flags = 0;

	if (n < sizeof(ifa))
		return EBADMSG;
	memcpy(&ifa, b, sizeof(ifa));
	if (ifa.ifa_family == AF_INET)
		alen = 4;
	else if (ifa.ifa_family == AF_INET6)
		alen = 16;
	else
		alen = 0;
	b += NLMSG_ALIGN(sizeof(ifa));
	n = n > NLMSG_ALIGN(sizeof(ifa)) ? n - NLMSG_ALIGN(sizeof(ifa)) : 0;
	while (n > 0) {
		if (!nm_attr_next(&b, &n, &at))
			return EBADMSG;
		switch (at.type) {
		case IFA_ADDRESS:
		case IFA_LOCAL:
			if (alen == 0)
				break;
			if (at.n != alen)
				return EBADMSG;
			if (at.type == IFA_LOCAL)
				local = at.p;
			else
				address = at.p;
			break;
		case IFA_LABEL:
			nm_attr_str(at.p, at.n, a->ifname, sizeof(a->ifname));
			break;
		case IFA_FLAGS:
			if (at.n != sizeof(flags))
				return EBADMSG;
			memcpy(&flags, at.p, sizeof(flags));
			have_flags = true;
			break;
		default:
			break;
		}
	}
	if (alen == 0) {
		out->type = SIP_NETMON_MSG_OTHER;
		return 0;
	}
	/* IFA_LOCAL is ours; on a point-to-point link IFA_ADDRESS is the
	 * peer's.  Without IFA_LOCAL (IPv6) IFA_ADDRESS is ours. */
	if (local == NULL)
		local = address;
	if (local == NULL)
		return EBADMSG;
	a->ifindex = ifa.ifa_index;
	a->prefixlen = ifa.ifa_prefixlen;
	/* IFA_FLAGS carries the flags that no longer fit in 8 bits. */
	a->flags = have_flags ? flags : ifa.ifa_flags;
	memset(&a->addr, 0, sizeof(a->addr));
	if (ifa.ifa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->addr;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, local, 4);
		a->addrlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->addr;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, local, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = ifa.ifa_index;
		a->addrlen = sizeof(*sin6);
	}
	return 0;
}

static int
nm_parse_link(const unsigned char *b, size_t n, struct sip_netmon_msg *out)
{
	struct ifinfomsg ifi;
	struct nm_attr at;

	if (n < sizeof(ifi))
		return EBADMSG;
	memcpy(&ifi, b, sizeof(ifi));
	if (ifi.ifi_index <= 0)
		return EBADMSG;
	out->ifindex = (unsigned)ifi.ifi_index;
	out->up = (ifi.ifi_flags & IFF_UP) != 0;
	b += NLMSG_ALIGN(sizeof(ifi));
	n = n > NLMSG_ALIGN(sizeof(ifi)) ? n - NLMSG_ALIGN(sizeof(ifi)) : 0;
	while (n > 0) {
		if (!nm_attr_next(&b, &n, &at))
			return EBADMSG;
		if (at.type == IFLA_IFNAME)
			nm_attr_str(at.p, at.n, out->ifname,
			    sizeof(out->ifname));
	}
	return 0;
}

int
sip_netmon_parse(const void *buf, size_t len, size_t *off,
    struct sip_netmon_msg *out)
{
	const unsigned char *p = buf;
	struct nlmsghdr nh;
	size_t at = *off, next, body;
	int e;

	memset(out, 0, sizeof(*out));
	if (at >= len)
		return ENOENT;
	if (len - at < sizeof(nh))
		return EBADMSG;
	memcpy(&nh, p + at, sizeof(nh));
	if (nh.nlmsg_len < NLMSG_HDRLEN || nh.nlmsg_len > len - at)
		return EBADMSG;
	next = at + NLMSG_ALIGN((size_t)nh.nlmsg_len);
	*off = next < len ? next : len;
	out->seq = nh.nlmsg_seq;
	out->pid = nh.nlmsg_pid;
	out->dump_intr = (nh.nlmsg_flags & NLM_F_DUMP_INTR) != 0;
	body = nh.nlmsg_len - NLMSG_HDRLEN;
	p += at + NLMSG_HDRLEN;
	switch (nh.nlmsg_type) {
	case NLMSG_DONE:
		out->type = SIP_NETMON_MSG_DONE;
		return 0;
	case NLMSG_OVERRUN:
		out->type = SIP_NETMON_MSG_OVERRUN;
		return 0;
	case NLMSG_ERROR:
		if (body < sizeof(e))
			return EBADMSG;
		memcpy(&e, p, sizeof(e));
		/* The kernel sends minus an errno value; 0 acknowledges. */
		if (e > 0 || e < -4095)
			return EBADMSG;
		out->type = SIP_NETMON_MSG_ERROR;
		out->error = -e;
		return 0;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		out->type = nh.nlmsg_type == RTM_NEWADDR ?
		    SIP_NETMON_MSG_NEWADDR : SIP_NETMON_MSG_DELADDR;
		return nm_parse_addr(p, body, out);
	case RTM_NEWLINK:
	case RTM_DELLINK:
		out->type = nh.nlmsg_type == RTM_NEWLINK ?
		    SIP_NETMON_MSG_NEWLINK : SIP_NETMON_MSG_DELLINK;
		return nm_parse_link(p, body, out);
	default:
		out->type = SIP_NETMON_MSG_OTHER;
		return 0;
	}
}

bool
sip_netmon_addr_usable(const struct sip_netmon_addr *a)
{
	if (a->addr.ss_family != AF_INET6)
		return true;
	return (a->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED |
	    IFA_F_DEPRECATED)) == 0;
}

void
sip_netmon_addr_str(const struct sip_netmon_addr *a, char *out, size_t len)
{
	const void *p = a->addr.ss_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)&a->addr)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)&a->addr)->sin_addr;

	if (len == 0)
		return;
	if ((a->addr.ss_family != AF_INET && a->addr.ss_family != AF_INET6) ||
	    inet_ntop(a->addr.ss_family, p, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

/* ---- the monitor -------------------------------------------------------- */

/* A dump asked again no sooner than this after a failure. */
#define NM_RETRY_MIN_MS		20
/*
 * A dump part (links, addresses) not ended by then is taken as lost:
 * the datagram with its end may have been the one cut or broken.
 */
#define NM_DUMP_TIMEOUT_MS	1000

struct nm_link {
	unsigned	 ifindex;
	bool		 up;
	char		 name[SIP_NETMON_IFNAME];
};

enum nm_dump {
	NM_IDLE,
	NM_DUMP_LINKS,
	NM_DUMP_ADDRS,
};

struct sip_netmon {
	struct event_base	*base;
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_settle;
	struct event		*ev_dump;	/* NM_DUMP_TIMEOUT_MS */
	unsigned		 settle_ms;
	sip_netmon_h		*h;
	void			*arg;
	ssize_t			(*recv)(int, void *, size_t, bool *);
	enum nm_dump		 dump;
	uint32_t		 seq;		/* of our last request */
	/* Read the list again once this dump is done. */
	bool			 redo;
	bool			 ready;		/* baseline taken */
	bool			 dirty;		/* changed since reported */
	/* The kernel's tables as heard (during a dump: as rebuilt). */
	struct sip_netmon_addr	*kaddrs;
	size_t			 nkaddrs;
	struct nm_link		*links;
	size_t			 nlinks;
	/* Usable addresses as last reported. */
	struct sip_netmon_addr	*reported;
	size_t			 nreported;
	unsigned char		*buf;
	struct sip_netmon_stats	 stats;
	struct ratelimit	 rl;
	bool			 full_said;
};

static ssize_t
nm_recv_default(int fd, void *buf, size_t len, bool *trunc)
{
	struct sockaddr_nl sa;
	struct iovec iov = { buf, len };
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sa;
	mh.msg_namelen = sizeof(sa);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	n = recvmsg(fd, &mh, 0);
	if (n < 0)
		return n;
	*trunc = (mh.msg_flags & MSG_TRUNC) != 0;
	/* Only the kernel speaks on this socket; drop anyone else. */
	if (mh.msg_namelen == sizeof(sa) && sa.nl_family == AF_NETLINK &&
	    sa.nl_pid != 0)
		return 0;
	return n;
}

/* The interface's link, or NULL. */
static struct nm_link *
nm_link_find(struct sip_netmon *nm, unsigned ifindex)
{
	for (size_t i = 0; i < nm->nlinks; i++)
		if (nm->links[i].ifindex == ifindex)
			return &nm->links[i];
	return NULL;
}

static void
nm_full(struct sip_netmon *nm, const char *what, size_t max)
{
	nm->stats.ignored++;
	if (nm->full_said)
		return;
	nm->full_said = true;
	log_warnx("netmon: more than %zu %s on this host; the others are "
	    "not watched", max, what);
}

static bool
nm_same_key(const struct sip_netmon_addr *a, const struct sip_netmon_addr *b)
{
	return a->ifindex == b->ifindex && a->prefixlen == b->prefixlen &&
	    a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr,
	    a->addrlen) == 0;
}

/* The same address for our purposes (IPv6 link-local: on one link). */
static bool
nm_same_addr(const struct sip_netmon_addr *a, const struct sip_netmon_addr *b)
{
	return a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static void
nm_changed(struct sip_netmon *nm)
{
	struct timeval tv = { (time_t)(nm->settle_ms / 1000),
	    (suseconds_t)(nm->settle_ms % 1000) * 1000 };

	nm->dirty = true;
	/* The window starts with the first change of a burst. */
	if (nm->ready && nm->dump == NM_IDLE &&
	    !evtimer_pending(nm->ev_settle, NULL))
		evtimer_add(nm->ev_settle, &tv);
}

static void
nm_apply(struct sip_netmon *nm, const struct sip_netmon_msg *m)
{
	size_t i;

	switch (m->type) {
	case SIP_NETMON_MSG_NEWADDR:
		for (i = 0; i < nm->nkaddrs; i++)
			if (nm_same_key(&nm->kaddrs[i], &m->addr))
				break;
		if (i == nm->nkaddrs) {
			if (nm->nkaddrs == SIP_NETMON_ADDRS_MAX) {
				nm_full(nm, "addresses", SIP_NETMON_ADDRS_MAX);
				return;
			}
			nm->nkaddrs++;
		}
		nm->kaddrs[i] = m->addr;
		break;
	case SIP_NETMON_MSG_DELADDR:
		for (i = 0; i < nm->nkaddrs; i++)
			if (nm_same_key(&nm->kaddrs[i], &m->addr)) {
				nm->kaddrs[i] = nm->kaddrs[--nm->nkaddrs];
				break;
			}
		break;
	case SIP_NETMON_MSG_NEWLINK: {
		struct nm_link *l = nm_link_find(nm, m->ifindex);

		if (l == NULL) {
			if (nm->nlinks == SIP_NETMON_LINKS_MAX) {
				nm_full(nm, "interfaces", SIP_NETMON_LINKS_MAX);
				return;
			}
			l = &nm->links[nm->nlinks++];
			memset(l, 0, sizeof(*l));
			l->ifindex = m->ifindex;
		}
		l->up = m->up;
		if (m->ifname[0] != '\0')
			memcpy(l->name, m->ifname, sizeof(l->name));
		break;
	}
	case SIP_NETMON_MSG_DELLINK:
		for (i = 0; i < nm->nlinks; i++)
			if (nm->links[i].ifindex == m->ifindex) {
				nm->links[i] = nm->links[--nm->nlinks];
				break;
			}
		/* Its addresses went with it, said or not. */
		for (i = 0; i < nm->nkaddrs; )
			if (nm->kaddrs[i].ifindex == m->ifindex)
				nm->kaddrs[i] = nm->kaddrs[--nm->nkaddrs];
			else
				i++;
		break;
	default:
		return;
	}
	nm_changed(nm);
}

static int
nm_request(struct sip_netmon *nm, uint16_t type)
{
	struct {
		struct nlmsghdr		 nh;
		union {
			struct ifaddrmsg ifa;
			struct ifinfomsg ifi;
		} u;
	} req;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++nm->seq;
	if (type == RTM_GETLINK) {
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.u.ifi));
		req.u.ifi.ifi_family = AF_UNSPEC;
	} else {
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.u.ifa));
		req.u.ifa.ifa_family = AF_UNSPEC;
	}
	/* Unaddressed: a netlink socket sends to the kernel. */
	if (send(nm->fd, &req, req.nh.nlmsg_len, 0) < 0)
		return errno;
	{
		struct timeval tv = { NM_DUMP_TIMEOUT_MS / 1000,
		    (NM_DUMP_TIMEOUT_MS % 1000) * 1000 };

		evtimer_add(nm->ev_dump, &tv);
	}
	return 0;
}

/*
 * Reads the whole list again: the tables start empty and are rebuilt
 * from the dump and from whatever events come meanwhile (an event
 * about an entry the dump has passed is newer; one about an entry it
 * has not reached yet is repeated by the dump).
 */
static int
nm_dump_start(struct sip_netmon *nm)
{
	int err;

	nm->nkaddrs = 0;
	nm->nlinks = 0;
	nm->redo = false;
	nm->dump = NM_DUMP_LINKS;
	if ((err = nm_request(nm, RTM_GETLINK)) != 0) {
		nm->dump = NM_IDLE;
		return err;
	}
	return 0;
}

/* The usable addresses now, named; one entry per address. */
static size_t
nm_usable(struct sip_netmon *nm, struct sip_netmon_addr *out)
{
	size_t n = 0;

	for (size_t i = 0; i < nm->nkaddrs; i++) {
		const struct sip_netmon_addr *a = &nm->kaddrs[i];
		const struct nm_link *l = nm_link_find(nm, a->ifindex);
		bool dup = false;

		/* A link that is administratively down carries nothing. */
		if (!sip_netmon_addr_usable(a) || (l != NULL && !l->up))
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = nm_same_addr(&out[k], a);
		if (dup)
			continue;
		out[n] = *a;
		if (out[n].ifname[0] == '\0' && l != NULL)
			memcpy(out[n].ifname, l->name, sizeof(out[n].ifname));
		if (out[n].ifname[0] == '\0' &&
		    if_indextoname(a->ifindex, out[n].ifname) == NULL)
			snprintf(out[n].ifname, sizeof(out[n].ifname), "if%u",
			    a->ifindex);
		n++;
	}
	return n;
}

static bool
nm_in(const struct sip_netmon_addr *set, size_t n,
    const struct sip_netmon_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (nm_same_addr(&set[i], a))
			return true;
	return false;
}

/* Compares the tables with what was reported; reports the difference. */
static void
nm_report(struct sip_netmon *nm)
{
	struct sip_netmon_addr *now, *added, *removed;
	struct sip_netmon_change ch = { 0 };
	size_t n;

	nm->dirty = false;
	now = xcalloc(nm->nkaddrs + 1, sizeof(*now));
	n = nm_usable(nm, now);
	if (!nm->ready) {
		/* The baseline: what the host had when we started. */
		free(nm->reported);
		nm->reported = now;
		nm->nreported = n;
		nm->ready = true;
		return;
	}
	added = xcalloc(n + 1, sizeof(*added));
	removed = xcalloc(nm->nreported + 1, sizeof(*removed));
	for (size_t i = 0; i < n; i++)
		if (!nm_in(nm->reported, nm->nreported, &now[i]))
			added[ch.nadded++] = now[i];
	for (size_t i = 0; i < nm->nreported; i++)
		if (!nm_in(now, n, &nm->reported[i]))
			removed[ch.nremoved++] = nm->reported[i];
	free(nm->reported);
	nm->reported = now;
	nm->nreported = n;
	ch.added = added;
	ch.removed = removed;
	if (ch.nadded > 0 || ch.nremoved > 0) {
		nm->stats.changes++;
		nm->stats.added += ch.nadded;
		nm->stats.removed += ch.nremoved;
		nm->h(&ch, nm->arg);
	}
	free(added);
	free(removed);
}

static void nm_lost(struct sip_netmon *, const char *);

/* The dump under way never ended: read the list again. */
static void
nm_dump_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_netmon *nm = arg;

	if (nm->dump == NM_IDLE)
		return;
	nm->dump = NM_IDLE;
	nm_lost(nm, "the kernel's address list did not end");
}

static void
nm_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_netmon *nm = arg;
	int err;

	/* Mid-dump the tables are half built: the dump's end reports. */
	if (nm->dump != NM_IDLE)
		return;
	if (nm->redo) {
		if ((err = nm_dump_start(nm)) != 0)
			nm_lost(nm, strerror(err));
		return;
	}
	nm_report(nm);
}

/*
 * Something was lost: the list is read again and compared, after the
 * settle time (at least NM_RETRY_MIN_MS: a kernel that keeps refusing
 * must not spin the loop), or once the dump under way is done.
 */
static void
nm_lost(struct sip_netmon *nm, const char *why)
{
	unsigned ms = nm->settle_ms > NM_RETRY_MIN_MS ? nm->settle_ms :
	    NM_RETRY_MIN_MS;
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };
	uint64_t skipped = 0;

	nm->stats.overruns++;
	if (ratelimit_allow(&nm->rl, time_mono_us(), &skipped))
		log_notice("netmon: %s; reading the address list again%s",
		    why, skipped > 0 ? " (and earlier losses)" : "");
	nm->redo = true;
	if (nm->dump == NM_IDLE && !evtimer_pending(nm->ev_settle, NULL))
		evtimer_add(nm->ev_settle, &tv);
}

/* A message that ends or breaks our dump. */
static void
nm_dump_msg(struct sip_netmon *nm, const struct sip_netmon_msg *m)
{
	int err = 0;

	if (m->seq != nm->seq || nm->dump == NM_IDLE)
		return;
	if (m->type == SIP_NETMON_MSG_ERROR) {
		if (m->error == 0)
			return;
		char why[96];

		nm->dump = NM_IDLE;
		snprintf(why, sizeof(why), "the kernel refused the list "
		    "request (%s)", strerror(m->error));
		nm_lost(nm, why);
		return;
	}
	if (nm->dump == NM_DUMP_LINKS) {
		nm->dump = NM_DUMP_ADDRS;
		err = nm_request(nm, RTM_GETADDR);
	} else {
		nm->dump = NM_IDLE;
		nm->stats.dumps++;
		if (nm->redo) {
			err = nm_dump_start(nm);
		} else if (!nm->ready) {
			nm_report(nm);
		} else {
			/* Report after the settle time, as for any change. */
			nm->dirty = true;
			evtimer_del(nm->ev_settle);
			nm_changed(nm);
		}
	}
	if (err != 0) {
		nm->dump = NM_IDLE;
		nm_lost(nm, strerror(err));
	}
}

static void
nm_datagram(struct sip_netmon *nm, size_t len)
{
	struct sip_netmon_msg m;
	size_t off = 0;
	int err;

	while ((err = sip_netmon_parse(nm->buf, len, &off, &m)) == 0) {
		if (m.dump_intr && nm->dump != NM_IDLE && m.seq == nm->seq)
			nm->redo = true;
		switch (m.type) {
		case SIP_NETMON_MSG_DONE:
		case SIP_NETMON_MSG_ERROR:
			nm_dump_msg(nm, &m);
			break;
		case SIP_NETMON_MSG_OVERRUN:
			nm_lost(nm, "the kernel reported an overrun");
			return;
		default:
			nm_apply(nm, &m);
			break;
		}
	}
	if (err == EBADMSG)
		nm_lost(nm, "a malformed netlink message");
}

static void
nm_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_netmon *nm = arg;

	for (int i = 0; i < SIP_NETMON_READS_MAX; i++) {
		bool trunc = false;
		ssize_t n = nm->recv(nm->fd, nm->buf, SIP_NETMON_BUF, &trunc);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				nm_lost(nm, "the kernel dropped messages "
				    "(receive buffer full)");
				continue;
			}
			log_warn("netmon: read");
			return;
		}
		if (trunc) {
			nm_lost(nm, "a netlink message was cut short");
			continue;
		}
		nm_datagram(nm, (size_t)n);
	}
}

static int
nm_open(const struct sip_netmon_conf *c, int *out)
{
	struct sockaddr_nl sa;
	int fd, sz = SIP_NETMON_RCVBUF, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    c->protocol);
	if (fd < 0)
		return errno;
	/* Bursts (a VPN with hundreds of addresses) fit; else a dump. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

int
sip_netmon_new(struct sip_netmon **out, struct event_base *base,
    const struct sip_netmon_conf *c, sip_netmon_h *h, void *arg)
{
	struct sip_netmon *nm;
	int fd = c->fd, err;

	*out = NULL;
	if (fd < 0 && (err = nm_open(c, &fd)) != 0)
		return err;
	nm = xcalloc(1, sizeof(*nm));
	nm->base = base;
	nm->fd = fd;
	nm->settle_ms = c->settle_ms;
	nm->h = h;
	nm->arg = arg;
	nm->recv = c->recv != NULL ? c->recv : nm_recv_default;
	nm->kaddrs = xcalloc(SIP_NETMON_ADDRS_MAX, sizeof(*nm->kaddrs));
	nm->links = xcalloc(SIP_NETMON_LINKS_MAX, sizeof(*nm->links));
	nm->buf = xmalloc(SIP_NETMON_BUF);
	nm->rl = (struct ratelimit)RATELIMIT_INIT(10000, 3);
	nm->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, nm_read_cb,
	    nm);
	nm->ev_settle = evtimer_new(base, nm_settle_cb, nm);
	nm->ev_dump = evtimer_new(base, nm_dump_timeout_cb, nm);
	if (nm->ev_read == NULL || nm->ev_settle == NULL ||
	    nm->ev_dump == NULL ||
	    event_add(nm->ev_read, NULL) != 0)
		fatalx("netmon: cannot add events to the loop");
	if ((err = nm_dump_start(nm)) != 0) {
		sip_netmon_free(nm);
		return err;
	}
	*out = nm;
	return 0;
}

void
sip_netmon_free(struct sip_netmon *nm)
{
	if (nm == NULL)
		return;
	if (nm->ev_read != NULL)
		event_free(nm->ev_read);
	if (nm->ev_settle != NULL)
		event_free(nm->ev_settle);
	if (nm->ev_dump != NULL)
		event_free(nm->ev_dump);
	close(nm->fd);
	free(nm->kaddrs);
	free(nm->links);
	free(nm->reported);
	free(nm->buf);
	free(nm);
}

void
sip_netmon_set_settle(struct sip_netmon *nm, unsigned ms)
{
	nm->settle_ms = ms;
}

bool
sip_netmon_ready(const struct sip_netmon *nm)
{
	return nm->ready;
}

size_t
sip_netmon_addrs(const struct sip_netmon *nm,
    const struct sip_netmon_addr **out)
{
	*out = nm->reported;
	return nm->nreported;
}

const struct sip_netmon_stats *
sip_netmon_stats(const struct sip_netmon *nm)
{
	return &nm->stats;
}
