/*
 * sip_netmon: the rtnetlink parser on canned messages (IPv4 with a
 * point-to-point peer, IPv6 flags, links, dump ends and errors, every
 * cut of a datagram), then the monitor on the real libevent loop with
 * a datagram socket standing in for the kernel: the first list is the
 * baseline, a replaced address is one settled report, a flap is none,
 * IPv6 duplicate address detection and deprecation, a link taken down,
 * ENOBUFS, a cut datagram, an interrupted dump and a dump whose end
 * was lost each read the list again and report the difference; a kernel without the protocol is
 * refused cleanly; the real kernel's list matches getifaddrs().
 */
#include <net/if.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/timeutil.h"
#include "sip/sip_netmon.h"

/* ---- building messages -------------------------------------------------- */

struct dgram {
	unsigned char	 b[8192];
	size_t		 n;
};

static struct nlmsghdr *
msg_begin(struct dgram *d, uint16_t type, uint32_t seq, uint16_t flags)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)(d->b + d->n);

	memset(nh, 0, NLMSG_HDRLEN);
	nh->nlmsg_type = type;
	nh->nlmsg_seq = seq;
	nh->nlmsg_flags = flags;
	nh->nlmsg_len = NLMSG_HDRLEN;
	return nh;
}

static void
msg_put(struct nlmsghdr *nh, const void *p, size_t n)
{
	memcpy((unsigned char *)nh + nh->nlmsg_len, p, n);
	nh->nlmsg_len += (uint32_t)NLMSG_ALIGN(n);
}

static void
msg_attr(struct nlmsghdr *nh, unsigned short type, const void *p, size_t n)
{
	struct rtattr rta = { (unsigned short)RTA_LENGTH(n), type };
	unsigned char *at = (unsigned char *)nh + nh->nlmsg_len;

	memcpy(at, &rta, sizeof(rta));
	memcpy(at + RTA_LENGTH(0), p, n);
	memset(at + RTA_LENGTH(n), 0, RTA_SPACE(n) - RTA_LENGTH(n));
	nh->nlmsg_len += (uint32_t)RTA_SPACE(n);
}

static void
msg_end(struct dgram *d, struct nlmsghdr *nh)
{
	d->n += NLMSG_ALIGN(nh->nlmsg_len);
}

/* An address message; local/peer NULL: left out; flags32 < 0: no
 * IFA_FLAGS attribute. */
static void
put_addr(struct dgram *d, uint16_t type, uint32_t seq, int family,
    unsigned ifindex, const char *local, const char *peer,
    const char *label, unsigned char flags8, long flags32)
{
	struct nlmsghdr *nh = msg_begin(d, type, seq, seq ? NLM_F_MULTI : 0);
	struct ifaddrmsg ifa = { 0 };
	unsigned char a[16];
	size_t alen = family == AF_INET ? 4 : 16;

	ifa.ifa_family = (unsigned char)family;
	ifa.ifa_prefixlen = family == AF_INET ? 24 : 64;
	ifa.ifa_flags = flags8;
	ifa.ifa_index = ifindex;
	msg_put(nh, &ifa, sizeof(ifa));
	if (peer != NULL) {
		ck_assert_int_eq(inet_pton(family, peer, a), 1);
		msg_attr(nh, IFA_ADDRESS, a, alen);
	}
	if (local != NULL) {
		ck_assert_int_eq(inet_pton(family, local, a), 1);
		msg_attr(nh, family == AF_INET ? IFA_LOCAL : IFA_ADDRESS, a,
		    alen);
	}
	if (label != NULL)
		msg_attr(nh, IFA_LABEL, label, strlen(label) + 1);
	if (flags32 >= 0) {
		uint32_t f = (uint32_t)flags32;

		msg_attr(nh, IFA_FLAGS, &f, sizeof(f));
	}
	msg_end(d, nh);
}

static void
put_v4(struct dgram *d, uint16_t type, uint32_t seq, unsigned ifindex,
    const char *local, const char *label)
{
	put_addr(d, type, seq, AF_INET, ifindex, local, local, label, 0, -1);
}

static void
put_v6(struct dgram *d, uint16_t type, uint32_t seq, unsigned ifindex,
    const char *addr, uint32_t flags)
{
	put_addr(d, type, seq, AF_INET6, ifindex, addr, NULL, NULL,
	    (unsigned char)flags, flags);
}

static void
put_link(struct dgram *d, uint16_t type, uint32_t seq, int ifindex, bool up,
    const char *name)
{
	struct nlmsghdr *nh = msg_begin(d, type, seq, seq ? NLM_F_MULTI : 0);
	struct ifinfomsg ifi = { 0 };

	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = ifindex;
	ifi.ifi_flags = up ? IFF_UP : 0;
	msg_put(nh, &ifi, sizeof(ifi));
	if (name != NULL)
		msg_attr(nh, IFLA_IFNAME, name, strlen(name) + 1);
	msg_end(d, nh);
}

static void
put_done(struct dgram *d, uint32_t seq, uint16_t flags)
{
	struct nlmsghdr *nh = msg_begin(d, NLMSG_DONE, seq,
	    NLM_F_MULTI | flags);
	int zero = 0;

	msg_put(nh, &zero, sizeof(zero));
	msg_end(d, nh);
}

static void
put_error(struct dgram *d, uint32_t seq, int err)
{
	struct nlmsghdr *nh = msg_begin(d, NLMSG_ERROR, seq, 0);
	struct nlmsgerr e = { 0 };

	e.error = -err;
	msg_put(nh, &e, sizeof(e));
	msg_end(d, nh);
}

static const char *
addr_text(const struct sip_netmon_addr *a)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	sip_netmon_addr_str(a, buf[i], sizeof(buf[i]));
	return buf[i];
}

/* ---- the parser --------------------------------------------------------- */

START_TEST(test_parse_v4_local_and_peer)
{
	struct dgram d = { .n = 0 };
	struct sip_netmon_msg m;
	size_t off = 0;

	/* Point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL is ours. */
	put_addr(&d, RTM_NEWADDR, 0, AF_INET, 3, "10.1.2.3", "10.9.9.9",
	    "ppp0", 0, -1);
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_NEWADDR);
	ck_assert_str_eq(addr_text(&m.addr), "10.1.2.3");
	ck_assert_str_eq(m.addr.ifname, "ppp0");
	ck_assert_uint_eq(m.addr.ifindex, 3);
	ck_assert_uint_eq(m.addr.prefixlen, 24);
	ck_assert_uint_eq(m.addr.addrlen, sizeof(struct sockaddr_in));
	ck_assert(sip_netmon_addr_usable(&m.addr));
	ck_assert_uint_eq(off, d.n);
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), ENOENT);
}
END_TEST

static const struct {
	const char	*addr;
	uint32_t	 flags;
	bool		 usable;
} v6_cases[] = {
	{ "2001:db8::1", 0, true },
	{ "2001:db8::2", IFA_F_TENTATIVE, false },
	{ "2001:db8::3", IFA_F_DADFAILED | IFA_F_TENTATIVE, false },
	{ "2001:db8::4", IFA_F_DEPRECATED, false },
	{ "2001:db8::5", IFA_F_OPTIMISTIC, true },
	{ "2001:db8::6", IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE, true },
	{ "fe80::1", IFA_F_PERMANENT, true },
};

START_TEST(test_parse_v6_flags)
{
	struct dgram d = { .n = 0 };
	struct sip_netmon_msg m;
	size_t off = 0;
	const struct sockaddr_in6 *sin6;

	put_v6(&d, RTM_NEWADDR, 0, 2, v6_cases[_i].addr, v6_cases[_i].flags);
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_NEWADDR);
	ck_assert_str_eq(addr_text(&m.addr), v6_cases[_i].addr);
	ck_assert_uint_eq(m.addr.flags, v6_cases[_i].flags);
	ck_assert_int_eq(sip_netmon_addr_usable(&m.addr), v6_cases[_i].usable);
	sin6 = (const struct sockaddr_in6 *)&m.addr.addr;
	/* A link-local address means nothing without its link. */
	ck_assert_uint_eq(sin6->sin6_scope_id,
	    IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ? 2 : 0);
}
END_TEST

START_TEST(test_parse_flags_attr_wins)
{
	struct dgram d = { .n = 0 };
	struct sip_netmon_msg m;
	size_t off = 0;

	/* The 8-bit field says nothing; IFA_FLAGS says tentative. */
	put_addr(&d, RTM_NEWADDR, 0, AF_INET6, 2, "2001:db8::9", NULL, NULL,
	    0, IFA_F_TENTATIVE);
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert(!sip_netmon_addr_usable(&m.addr));
}
END_TEST

START_TEST(test_parse_sequence)
{
	struct dgram d = { .n = 0 };
	struct sip_netmon_msg m;
	size_t off = 0;

	put_link(&d, RTM_NEWLINK, 7, 2, true, "eth0");
	put_link(&d, RTM_DELLINK, 0, 4, false, "tun\x01x");
	put_v4(&d, RTM_DELADDR, 0, 2, "192.0.2.7", NULL);
	put_done(&d, 7, NLM_F_DUMP_INTR);
	put_error(&d, 8, EBUSY);
	put_error(&d, 9, 0);

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_NEWLINK);
	ck_assert_uint_eq(m.ifindex, 2);
	ck_assert(m.up);
	ck_assert_str_eq(m.ifname, "eth0");
	ck_assert_uint_eq(m.seq, 7);

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_DELLINK);
	ck_assert(!m.up);
	/* A name goes to logs: no control characters. */
	ck_assert_str_eq(m.ifname, "tun?x");

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_DELADDR);
	ck_assert_str_eq(addr_text(&m.addr), "192.0.2.7");
	ck_assert_str_eq(m.addr.ifname, "");

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_DONE);
	ck_assert(m.dump_intr);

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_ERROR);
	ck_assert_int_eq(m.error, EBUSY);
	ck_assert_uint_eq(m.seq, 8);

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
	ck_assert_int_eq(m.type, SIP_NETMON_MSG_ERROR);
	ck_assert_int_eq(m.error, 0);

	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), ENOENT);
}
END_TEST

START_TEST(test_parse_other)
{
	struct dgram d = { .n = 0 };
	struct nlmsghdr *nh;
	struct ifaddrmsg ifa = { 0 };
	struct sip_netmon_msg m;
	size_t off = 0;
	unsigned char mac[6] = { 0 };

	/* A family we do not send from, with an address of its own size. */
	nh = msg_begin(&d, RTM_NEWADDR, 0, 0);
	ifa.ifa_family = AF_PACKET;
	msg_put(nh, &ifa, sizeof(ifa));
	msg_attr(nh, IFA_ADDRESS, mac, sizeof(mac));
	msg_end(&d, nh);
	/* A route: not ours to read. */
	nh = msg_begin(&d, RTM_NEWROUTE, 0, 0);
	msg_put(nh, &ifa, sizeof(ifa));
	msg_end(&d, nh);
	nh = msg_begin(&d, NLMSG_NOOP, 0, 0);
	msg_end(&d, nh);

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), 0);
		ck_assert_int_eq(m.type, SIP_NETMON_MSG_OTHER);
	}
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), ENOENT);
}
END_TEST

/* A damaged message: EBADMSG, never a read past the datagram. */
START_TEST(test_parse_damaged)
{
	struct dgram d;
	struct nlmsghdr *nh;
	struct sip_netmon_msg m;
	struct ifaddrmsg ifa = { 0 };
	struct ifinfomsg ifi = { 0 };
	unsigned char three[3] = { 10, 0, 0 };
	size_t off;
	int e;

	/* A length past the end. */
	d.n = 0;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.0.0.1", "eth0");
	((struct nlmsghdr *)d.b)->nlmsg_len += 4;
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* A length below the header. */
	((struct nlmsghdr *)d.b)->nlmsg_len = 8;
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* An IPv4 address of three bytes. */
	d.n = 0;
	nh = msg_begin(&d, RTM_NEWADDR, 0, 0);
	ifa.ifa_family = AF_INET;
	msg_put(nh, &ifa, sizeof(ifa));
	msg_attr(nh, IFA_LOCAL, three, sizeof(three));
	msg_end(&d, nh);
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* No address at all. */
	d.n = 0;
	nh = msg_begin(&d, RTM_DELADDR, 0, 0);
	msg_put(nh, &ifa, sizeof(ifa));
	msg_attr(nh, IFA_LABEL, "eth0", 5);
	msg_end(&d, nh);
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* An attribute that claims more than its message holds. */
	d.n = 0;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.0.0.1", "eth0");
	{
		struct rtattr *rta = (struct rtattr *)(d.b + NLMSG_HDRLEN +
		    NLMSG_ALIGN(sizeof(ifa)));

		rta->rta_len = 200;
	}
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* A link without an index; an error message with no error. */
	d.n = 0;
	nh = msg_begin(&d, RTM_NEWLINK, 0, 0);
	msg_put(nh, &ifi, sizeof(ifi));
	msg_end(&d, nh);
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	d.n = 0;
	nh = msg_begin(&d, NLMSG_ERROR, 0, 0);
	msg_end(&d, nh);
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* A positive "error" is no kernel's. */
	d.n = 0;
	put_error(&d, 1, -5);
	off = 0;
	ck_assert_int_eq(sip_netmon_parse(d.b, d.n, &off, &m), EBADMSG);
	/* Fewer bytes than a header. */
	off = 0;
	e = sip_netmon_parse(d.b, 10, &off, &m);
	ck_assert_int_eq(e, EBADMSG);
}
END_TEST

/*
 * Every cut of a datagram of every kind: the whole messages before the
 * cut parse as before, the cut one is EBADMSG (or the end), and the
 * buffer is copied to its exact size so that ASan sees any overread.
 */
START_TEST(test_parse_every_cut)
{
	struct dgram d = { .n = 0 };
	struct sip_netmon_msg m;
	size_t whole = 0, off;
	size_t ends[8];
	size_t nends = 0;

	put_link(&d, RTM_NEWLINK, 0, 2, true, "eth0");
	ends[nends++] = d.n;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.0.0.1", "eth0");
	ends[nends++] = d.n;
	put_v6(&d, RTM_NEWADDR, 0, 2, "2001:db8::1", IFA_F_TENTATIVE);
	ends[nends++] = d.n;
	put_done(&d, 3, 0);
	ends[nends++] = d.n;
	for (size_t cut = 0; cut <= d.n; cut++) {
		unsigned char *copy = malloc(cut + 1);
		size_t got = 0;
		int e;

		memcpy(copy, d.b, cut);
		off = 0;
		while ((e = sip_netmon_parse(copy, cut, &off, &m)) == 0)
			got++;
		whole = 0;
		while (whole < nends && ends[whole] <= cut)
			whole++;
		ck_assert_uint_eq(got, whole);
		ck_assert_int_eq(e, whole < nends && cut > (whole ?
		    ends[whole - 1] : 0) ? EBADMSG : ENOENT);
		free(copy);
	}
}
END_TEST

/* ---- the monitor -------------------------------------------------------- */

/* The stand-in kernel: sv[1] is ours, sv[0] the monitor's. */
static struct event_base *base;
static int kern;
static struct sip_netmon *nm;
static int reports;
static char last_added[512], last_removed[512];
static uint64_t first_change_us, report_us;
static int inject;		/* errno the next recv returns */
static bool inject_trunc;

static void
on_change(const struct sip_netmon_change *ch, void *arg)
{
	reports++;
	report_us = time_mono_us();
	last_added[0] = last_removed[0] = '\0';
	for (size_t i = 0; i < ch->nadded; i++) {
		size_t n = strlen(last_added);

		snprintf(last_added + n, sizeof(last_added) - n, "%s%s@%s",
		    n ? " " : "", addr_text(&ch->added[i]),
		    ch->added[i].ifname);
	}
	for (size_t i = 0; i < ch->nremoved; i++) {
		size_t n = strlen(last_removed);

		snprintf(last_removed + n, sizeof(last_removed) - n,
		    "%s%s@%s", n ? " " : "", addr_text(&ch->removed[i]),
		    ch->removed[i].ifname);
	}
}

static ssize_t
fake_recv(int fd, void *buf, size_t len, bool *trunc)
{
	ssize_t n;

	if (inject != 0) {
		errno = inject;
		inject = 0;
		return -1;
	}
	n = recv(fd, buf, len, 0);
	if (n > 0 && inject_trunc) {
		inject_trunc = false;
		*trunc = true;
	}
	return n;
}

static void
loop_for(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
kern_send(const struct dgram *d)
{
	ck_assert_int_eq(send(kern, d->b, d->n, 0), (ssize_t)d->n);
}

/* Runs the loop until the monitor asks for type; returns its seq. */
static uint32_t
expect_request(uint16_t type, unsigned within_ms)
{
	unsigned char b[256];
	struct nlmsghdr nh;
	uint64_t until = time_mono_us() + (uint64_t)within_ms * 1000;
	ssize_t n;

	for (;;) {
		n = recv(kern, b, sizeof(b), MSG_DONTWAIT);
		if (n >= 0)
			break;
		ck_assert_msg(time_mono_us() < until, "no request %u within "
		    "%u ms", type, within_ms);
		loop_for(5);
	}
	ck_assert_int_ge(n, (ssize_t)sizeof(nh));
	memcpy(&nh, b, sizeof(nh));
	ck_assert_uint_eq(nh.nlmsg_type, type);
	ck_assert_uint_eq(nh.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	return nh.nlmsg_seq;
}

static void
no_request(void)
{
	unsigned char b[256];

	ck_assert_int_lt(recv(kern, b, sizeof(b), MSG_DONTWAIT), 0);
}

/* Answers a dump: links lo (1) and eth0 (2), then addrs. */
static void
answer_dump(const char *const *v4, bool eth0_up)
{
	struct dgram d = { .n = 0 };
	uint32_t seq = expect_request(RTM_GETLINK, 3000);

	put_link(&d, RTM_NEWLINK, seq, 1, true, "lo");
	put_link(&d, RTM_NEWLINK, seq, 2, eth0_up, "eth0");
	kern_send(&d);
	d.n = 0;
	put_done(&d, seq, 0);
	kern_send(&d);
	seq = expect_request(RTM_GETADDR, 1000);
	d.n = 0;
	put_v4(&d, RTM_NEWADDR, seq, 1, "127.0.0.1", "lo");
	put_v6(&d, RTM_NEWADDR, seq, 1, "::1", IFA_F_PERMANENT);
	for (size_t i = 0; v4[i] != NULL; i++)
		put_v4(&d, RTM_NEWADDR, seq, 2, v4[i], "eth0");
	kern_send(&d);
	d.n = 0;
	put_done(&d, seq, 0);
	kern_send(&d);
}

static void
monitor_start(unsigned settle_ms)
{
	struct sip_netmon_conf c = { .settle_ms = settle_ms, .fd = -1,
	    .recv = fake_recv };
	int sv[2];
	static const char *const v4[] = { "10.1.2.3", NULL };
	const struct sip_netmon_addr *as;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	c.fd = sv[0];
	kern = sv[1];
	base = event_base_new();
	reports = 0;
	ck_assert_int_eq(sip_netmon_new(&nm, base, &c, on_change, NULL), 0);
	ck_assert(!sip_netmon_ready(nm));
	answer_dump(v4, true);
	loop_for(20);
	ck_assert(sip_netmon_ready(nm));
	/* The baseline is no change. */
	ck_assert_int_eq(reports, 0);
	ck_assert_uint_eq(sip_netmon_addrs(nm, &as), 3);
	ck_assert_uint_eq(sip_netmon_stats(nm)->dumps, 1);
}

static void
monitor_stop(void)
{
	sip_netmon_free(nm);
	nm = NULL;
	close(kern);
	event_base_free(base);
}

/* Sends one event datagram. */
static void
event_v4(uint16_t type, const char *addr)
{
	struct dgram d = { .n = 0 };

	put_v4(&d, type, 0, 2, addr, "eth0");
	kern_send(&d);
	if (first_change_us == 0)
		first_change_us = time_mono_us();
}

START_TEST(test_monitor_replace_settles)
{
	monitor_start(150);
	first_change_us = 0;
	event_v4(RTM_DELADDR, "10.1.2.3");
	loop_for(60);
	ck_assert_int_eq(reports, 0);
	event_v4(RTM_NEWADDR, "10.1.2.4");
	loop_for(400);
	/* One report for both, after the settle time, within a second. */
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "10.1.2.4@eth0");
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	ck_assert_uint_ge(report_us - first_change_us, 140000);
	ck_assert_uint_lt(report_us - first_change_us, 1000000);
	ck_assert_uint_eq(sip_netmon_stats(nm)->changes, 1);
	ck_assert_uint_eq(sip_netmon_stats(nm)->added, 1);
	ck_assert_uint_eq(sip_netmon_stats(nm)->removed, 1);
	no_request();
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_flap_is_nothing)
{
	struct dgram d = { .n = 0 };

	monitor_start(100);
	/* Added and gone again, and a new one announced twice. */
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.9.9.9", "eth0");
	put_v4(&d, RTM_DELADDR, 0, 2, "10.9.9.9", "eth0");
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.3", "eth0");
	kern_send(&d);
	loop_for(250);
	ck_assert_int_eq(reports, 0);
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_ipv6_dad)
{
	struct dgram d = { .n = 0 };

	monitor_start(50);
	/* Duplicate address detection: nothing until it is done. */
	put_v6(&d, RTM_NEWADDR, 0, 2, "2001:db8::7", IFA_F_TENTATIVE);
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 0);
	d.n = 0;
	put_v6(&d, RTM_NEWADDR, 0, 2, "2001:db8::7", 0);
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "2001:db8::7@eth0");
	ck_assert_str_eq(last_removed, "");
	/* Deprecated: not for new bindings, so gone for us. */
	d.n = 0;
	put_v6(&d, RTM_NEWADDR, 0, 2, "2001:db8::7", IFA_F_DEPRECATED);
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 2);
	ck_assert_str_eq(last_removed, "2001:db8::7@eth0");
	/* A failed detection never was usable: no report. */
	d.n = 0;
	put_v6(&d, RTM_NEWADDR, 0, 2, "2001:db8::8",
	    IFA_F_TENTATIVE | IFA_F_DADFAILED);
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 2);
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_link_down)
{
	struct dgram d = { .n = 0 };

	monitor_start(50);
	put_link(&d, RTM_NEWLINK, 0, 2, false, "eth0");
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	d.n = 0;
	put_link(&d, RTM_NEWLINK, 0, 2, true, "eth0");
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 2);
	ck_assert_str_eq(last_added, "10.1.2.3@eth0");
	/* The link goes: its addresses with it, named as they were. */
	d.n = 0;
	put_link(&d, RTM_DELLINK, 0, 2, false, "eth0");
	kern_send(&d);
	loop_for(150);
	ck_assert_int_eq(reports, 3);
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_enobufs)
{
	static const char *const now[] = { "10.1.2.5", NULL };
	struct dgram d = { .n = 0 };
	uint64_t t0;

	monitor_start(100);
	/* The kernel overran us: whatever happened is unknown. */
	inject = ENOBUFS;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.77.7.7", "eth0");
	kern_send(&d);
	t0 = time_mono_us();
	answer_dump(now, true);
	loop_for(300);
	/* The list, read again, differs: one report, within a second. */
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "10.1.2.5@eth0");
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	ck_assert_uint_lt(report_us - t0, 1000000);
	ck_assert_uint_eq(sip_netmon_stats(nm)->overruns, 1);
	ck_assert_uint_eq(sip_netmon_stats(nm)->dumps, 2);
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_cut_and_garbage)
{
	static const char *const same[] = { "10.1.2.3", NULL };
	static const char *const other[] = { "10.1.2.6", NULL };
	struct dgram d = { .n = 0 };

	monitor_start(50);
	/* A datagram cut short: read again; nothing changed. */
	inject_trunc = true;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.3", "eth0");
	kern_send(&d);
	answer_dump(same, true);
	loop_for(200);
	ck_assert_int_eq(reports, 0);
	ck_assert_uint_eq(sip_netmon_stats(nm)->overruns, 1);
	/* A malformed message: the same. */
	d.n = 0;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.3", "eth0");
	((struct nlmsghdr *)d.b)->nlmsg_len = 9999;
	kern_send(&d);
	answer_dump(other, true);
	loop_for(200);
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "10.1.2.6@eth0");
	ck_assert_uint_eq(sip_netmon_stats(nm)->overruns, 2);
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_dump_interrupted)
{
	static const char *const v4[] = { "10.1.2.8", NULL };
	struct dgram d = { .n = 0 };
	uint32_t seq;

	monitor_start(50);
	inject = ENOBUFS;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.8", "eth0");
	kern_send(&d);
	/* The links' dump says it changed under way: asked again. */
	seq = expect_request(RTM_GETLINK, 1000);
	d.n = 0;
	put_link(&d, RTM_NEWLINK, seq, 2, true, "eth0");
	put_done(&d, seq, NLM_F_DUMP_INTR);
	kern_send(&d);
	seq = expect_request(RTM_GETADDR, 1000);
	d.n = 0;
	put_done(&d, seq, 0);
	kern_send(&d);
	answer_dump(v4, true);
	loop_for(200);
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "10.1.2.8@eth0");
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	ck_assert_uint_eq(sip_netmon_stats(nm)->dumps, 3);
	monitor_stop();
}
END_TEST

/*
 * The datagram that ended a dump was lost (cut short here): no end ever
 * comes, and the monitor must not wait for it for ever.  It asks for
 * the list again and reports what changed meanwhile.
 */
START_TEST(test_monitor_dump_end_lost)
{
	static const char *const v4[] = { "10.1.2.9", NULL };
	struct dgram d = { .n = 0 };
	uint32_t seq;

	monitor_start(50);
	inject = ENOBUFS;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.9", "eth0");
	kern_send(&d);
	seq = expect_request(RTM_GETLINK, 1000);
	d.n = 0;
	put_link(&d, RTM_NEWLINK, seq, 2, true, "eth0");
	put_done(&d, seq, 0);
	inject_trunc = true;
	kern_send(&d);
	/* Asked again within a couple of seconds, not never. */
	answer_dump(v4, true);
	loop_for(300);
	ck_assert_int_eq(reports, 1);
	ck_assert_str_eq(last_added, "10.1.2.9@eth0");
	ck_assert_str_eq(last_removed, "10.1.2.3@eth0");
	monitor_stop();
}
END_TEST

START_TEST(test_monitor_dump_refused)
{
	static const char *const v4[] = { "10.1.2.3", NULL };
	struct dgram d = { .n = 0 };
	uint32_t seq;

	monitor_start(0);
	inject = ENOBUFS;
	put_v4(&d, RTM_NEWADDR, 0, 2, "10.1.2.3", "eth0");
	kern_send(&d);
	/* Busy: the monitor waits a little and asks again. */
	seq = expect_request(RTM_GETLINK, 1000);
	d.n = 0;
	put_error(&d, seq, EBUSY);
	kern_send(&d);
	answer_dump(v4, true);
	loop_for(100);
	ck_assert_int_eq(reports, 0);
	ck_assert_uint_eq(sip_netmon_stats(nm)->overruns, 2);
	monitor_stop();
}
END_TEST

START_TEST(test_no_netlink_protocol)
{
	struct sip_netmon_conf c = { .protocol = 31, .fd = -1 };
	struct sip_netmon *m = (struct sip_netmon *)&c;
	int err;

	base = event_base_new();
	err = sip_netmon_new(&m, base, &c, on_change, NULL);
	/* What a kernel without the protocol says; nothing is left. */
	ck_assert(err == EPROTONOSUPPORT || err == EAFNOSUPPORT);
	ck_assert_ptr_null(m);
	event_base_free(base);
}
END_TEST

/* The real kernel: its list holds every IPv4 address getifaddrs sees. */
START_TEST(test_real_kernel_list)
{
	struct sip_netmon_conf c = { .settle_ms = 50, .fd = -1 };
	const struct sip_netmon_addr *as;
	struct ifaddrs *ifs, *i;
	size_t n;
	int err;

	base = event_base_new();
	err = sip_netmon_new(&nm, base, &c, on_change, NULL);
	ck_assert_msg(err == 0, "netlink: %s", strerror(err));
	for (int k = 0; k < 100 && !sip_netmon_ready(nm); k++)
		loop_for(10);
	ck_assert(sip_netmon_ready(nm));
	n = sip_netmon_addrs(nm, &as);
	ck_assert_int_eq(getifaddrs(&ifs), 0);
	for (i = ifs; i != NULL; i = i->ifa_next) {
		bool found = false;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		for (size_t k = 0; k < n && !found; k++)
			found = as[k].addr.ss_family == AF_INET &&
			    memcmp(&((struct sockaddr_in *)&as[k].addr)->
			    sin_addr, &((struct sockaddr_in *)i->ifa_addr)->
			    sin_addr, 4) == 0;
		ck_assert_msg(found, "%s's address missing", i->ifa_name);
	}
	freeifaddrs(ifs);
	sip_netmon_free(nm);
	event_base_free(base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_netmon");
	TCase *tp = tcase_create("parse");
	TCase *tm = tcase_create("monitor");
	SRunner *sr;
	int failed;

	tcase_add_test(tp, test_parse_v4_local_and_peer);
	tcase_add_loop_test(tp, test_parse_v6_flags, 0,
	    (int)(sizeof(v6_cases) / sizeof(v6_cases[0])));
	tcase_add_test(tp, test_parse_flags_attr_wins);
	tcase_add_test(tp, test_parse_sequence);
	tcase_add_test(tp, test_parse_other);
	tcase_add_test(tp, test_parse_damaged);
	tcase_add_test(tp, test_parse_every_cut);
	suite_add_tcase(s, tp);
	tcase_add_test(tm, test_monitor_replace_settles);
	tcase_add_test(tm, test_monitor_flap_is_nothing);
	tcase_add_test(tm, test_monitor_ipv6_dad);
	tcase_add_test(tm, test_monitor_link_down);
	tcase_add_test(tm, test_monitor_enobufs);
	tcase_add_test(tm, test_monitor_cut_and_garbage);
	tcase_add_test(tm, test_monitor_dump_interrupted);
	tcase_add_test(tm, test_monitor_dump_refused);
	tcase_add_test(tm, test_monitor_dump_end_lost);
	tcase_add_test(tm, test_no_netlink_protocol);
	tcase_add_test(tm, test_real_kernel_list);
	suite_add_tcase(s, tm);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
