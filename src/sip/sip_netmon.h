/*
 * Host address changes, from the kernel's routing socket (Linux
 * rtnetlink, rtnetlink(7)): one NETLINK_ROUTE socket subscribed to the
 * link and IPv4/IPv6 address groups, read on the caller's libevent
 * loop without blocking.  It keeps the kernel's list of addresses and
 * links, and reports what became usable and what stopped being usable
 * once changes have settled (settle_ms after the first of a burst), so
 * that an address replaced by another is one report, not two.
 *
 * A lost message (ENOBUFS: the kernel overran the socket; a truncated
 * or malformed datagram) is survived by reading the whole list again
 * (RTM_GETLINK, RTM_GETADDR dumps) and reporting the difference.  The
 * first list read at start is the baseline and is not reported.
 *
 * It owns the socket and the tables; it knows nothing of SIP, of
 * listeners or of registrations: the daemon decides what a change
 * means (src/ua/ua_net.c).  The parser is pure and separate so that it
 * can be fuzzed and tested with canned messages.
 */
#ifndef SIPX_SIP_NETMON_H
#define SIPX_SIP_NETMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct event_base;
struct sip_netmon;

/* Addresses and links tracked; more are ignored, with one log line. */
#define SIP_NETMON_ADDRS_MAX		1024
#define SIP_NETMON_LINKS_MAX		256
/* Milliseconds a burst of changes is given to settle (config range). */
#define SIP_NETMON_SETTLE_DEFAULT	200
#define SIP_NETMON_SETTLE_MAX		1000
/* One datagram read (the kernel's dump messages fit well below it). */
#define SIP_NETMON_BUF			65536
/* Datagrams read per loop turn: a flood never starves the loop. */
#define SIP_NETMON_READS_MAX		64
/* The receive buffer asked for (an overrun costs a dump). */
#define SIP_NETMON_RCVBUF		(1024 * 1024)
/* An interface name, NUL included (IF_NAMESIZE). */
#define SIP_NETMON_IFNAME		16

/* One address of the host. */
struct sip_netmon_addr {
	/* Port 0; an IPv6 link-local address scoped to ifindex. */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	unsigned		 ifindex;
	unsigned		 prefixlen;
	uint32_t		 flags;		/* IFA_F_* */
	char			 ifname[SIP_NETMON_IFNAME]; /* label or link
						 * name; "" unknown */
};

/* ---- parsing ------------------------------------------------------------ */

enum sip_netmon_type {
	SIP_NETMON_MSG_OTHER,		/* nothing for us (skipped) */
	SIP_NETMON_MSG_NEWADDR,
	SIP_NETMON_MSG_DELADDR,
	SIP_NETMON_MSG_NEWLINK,
	SIP_NETMON_MSG_DELLINK,
	SIP_NETMON_MSG_DONE,		/* the end of a dump */
	SIP_NETMON_MSG_ERROR,		/* error (0: an acknowledgement) */
	SIP_NETMON_MSG_OVERRUN,		/* NLMSG_OVERRUN: data lost */
};

struct sip_netmon_msg {
	enum sip_netmon_type	 type;
	uint32_t		 seq;
	uint32_t		 pid;
	/* NLM_F_DUMP_INTR: the dump was inconsistent, read it again. */
	bool			 dump_intr;
	/* NEWADDR, DELADDR (IPv4 and IPv6 only; others are OTHER) */
	struct sip_netmon_addr	 addr;
	/* NEWLINK, DELLINK */
	unsigned		 ifindex;
	char			 ifname[SIP_NETMON_IFNAME];
	bool			 up;		/* IFF_UP */
	/* ERROR: a positive errno value, 0 for an acknowledgement */
	int			 error;
};

/*
 * The message at *off in the datagram buf[len].  Returns 0 with *out
 * filled and *off past it; ENOENT when no message is left; EBADMSG
 * when the rest of the datagram is truncated or malformed (a length
 * past the end, an address of the wrong size, an attribute running
 * past its message): the caller takes the rest as lost.  Pure: no
 * allocation, no I/O, any alignment of buf.
 */
int	sip_netmon_parse(const void *buf, size_t len, size_t *off,
	    struct sip_netmon_msg *out);

/*
 * May we send from it?  IPv6 addresses still in duplicate address
 * detection (tentative), that failed it, or that are deprecated (their
 * preferred lifetime is over: RFC 4862 §5.5.4, not for new bindings)
 * are not.
 */
bool	sip_netmon_addr_usable(const struct sip_netmon_addr *);
/* "192.0.2.1", "2001:db8::1" (no port, no brackets). */
void	sip_netmon_addr_str(const struct sip_netmon_addr *, char *out,
	    size_t len);

/* ---- the monitor -------------------------------------------------------- */

struct sip_netmon_change {
	const struct sip_netmon_addr	*added;
	size_t				 nadded;
	const struct sip_netmon_addr	*removed;
	size_t				 nremoved;
};

/* A settled change; the arrays live for the call only. */
typedef void sip_netmon_h(const struct sip_netmon_change *, void *arg);

struct sip_netmon_conf {
	unsigned	 settle_ms;		/* 0: the next loop turn */
	/*
	 * Tests: protocol other than NETLINK_ROUTE (0); fd >= 0 is used
	 * instead of a new netlink socket (a datagram socket carrying
	 * canned messages; taken over); recv, when set, replaces
	 * recvmsg(2) (returns bytes, or -1 with errno; sets *trunc when
	 * the datagram was cut) to inject ENOBUFS.
	 */
	int		 protocol;
	int		 fd;
	ssize_t		(*recv)(int fd, void *buf, size_t len,
			    bool *trunc);
};

struct sip_netmon_stats {
	uint64_t	 changes;	/* settled changes reported */
	uint64_t	 added;		/* addresses, over all changes */
	uint64_t	 removed;
	uint64_t	 overruns;	/* lost messages: ENOBUFS, cut or
					 * malformed datagrams */
	uint64_t	 dumps;		/* full lists read (start too) */
	uint64_t	 ignored;	/* over the table limits */
};

/*
 * Opens the socket, asks for the current list and starts watching.
 * Returns 0, or the errno value of the socket, bind or first request
 * (EAFNOSUPPORT or EPROTONOSUPPORT: a kernel without netlink).
 * Nothing is reported before the first list is in.
 */
int	sip_netmon_new(struct sip_netmon **out, struct event_base *,
	    const struct sip_netmon_conf *, sip_netmon_h *, void *arg);
/* Closes the socket; calls nothing.  Not from inside the callback. */
void	sip_netmon_free(struct sip_netmon *);
void	sip_netmon_set_settle(struct sip_netmon *, unsigned ms);
/* True once the first list has been read. */
bool	sip_netmon_ready(const struct sip_netmon *);
/* The usable addresses as last reported (or as of the baseline). */
size_t	sip_netmon_addrs(const struct sip_netmon *,
	    const struct sip_netmon_addr **);
const struct sip_netmon_stats *sip_netmon_stats(const struct sip_netmon *);

#endif
