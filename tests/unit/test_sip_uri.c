/*
 * URI parsing, comparison and printing (src/sip/sip_uri.c): a parse
 * table asserting every field, the comparison examples of RFC 3261
 * §19.1.4 and our own edge cases, the RFC 4475 torture URIs, printing,
 * parameter lookup and unescaping.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_uri.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define ERR(s, r)	{ .in = (s), .err = EBADMSG, .why = (r) }

/*
 * One parse case.  String fields: NULL means "absent", "" means present
 * and empty.  port is the decimal text expected, NULL if none written.
 */
struct parse_case {
	const char		*in;
	int			 err;
	const char		*why;
	enum sip_uri_scheme	 scheme;
	const char		*user;
	const char		*password;
	const char		*host;
	enum sip_host_type	 htype;
	const char		*port;
	const char		*params;
	const char		*headers;
	const char		*opaque;
	const char		*transport;
	const char		*user_param;
	const char		*method;
	const char		*maddr;
	const char		*ttl;
	bool			 lr;
};

static const struct parse_case parse_cases[] = {
	/* RFC 3261 §19.1.3 examples */
	{ "sip:alice@atlanta.com", .user = "alice", .host = "atlanta.com" },
	{ "sip:alice:secretword@atlanta.com;transport=tcp", .user = "alice",
	  .password = "secretword", .host = "atlanta.com",
	  .params = "transport=tcp", .transport = "tcp" },
	{ "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
	  .scheme = SIP_URI_SIPS, .user = "alice", .host = "atlanta.com",
	  .headers = "subject=project%20x&priority=urgent" },
	{ "sip:+1-212-555-1212:1234@gateway.com;user=phone",
	  .user = "+1-212-555-1212", .password = "1234",
	  .host = "gateway.com", .params = "user=phone",
	  .user_param = "phone" },
	{ "sips:1212@gateway.com", .scheme = SIP_URI_SIPS, .user = "1212",
	  .host = "gateway.com" },
	{ "sip:alice@192.0.2.4", .user = "alice", .host = "192.0.2.4",
	  .htype = SIP_HOST_IPV4 },
	{ "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
	  .host = "atlanta.com", .params = "method=REGISTER",
	  .method = "REGISTER", .headers = "to=alice%40atlanta.com" },
	{ "sip:alice;day=tuesday@atlanta.com", .user = "alice;day=tuesday",
	  .host = "atlanta.com" },
	{ "SIP:ALICE@AtLanTa.CoM;Transport=udp", .user = "ALICE",
	  .host = "AtLanTa.CoM", .params = "Transport=udp",
	  .transport = "udp" },
	{ "sip:biloxi.com;transport=tcp;method=REGISTER"
	  "?to=sip:bob%40biloxi.com", .host = "biloxi.com",
	  .params = "transport=tcp;method=REGISTER", .transport = "tcp",
	  .method = "REGISTER",
	  .headers = "to=sip:bob%40biloxi.com" },

	/* RFC 4475 torture URIs */
	{ "sip:user;par=u%40example.net@example.com",
	  .user = "user;par=u%40example.net", .host = "example.com" },
	{ "sip:sips%3Auser%40example.com@example.net",
	  .user = "sips%3Auser%40example.com", .host = "example.net" },
	{ "sip:%75se%72@example.com", .user = "%75se%72",
	  .host = "example.com" },
	{ "sip:null-%00-null@example.com", .user = "null-%00-null",
	  .host = "example.com" },
	{ "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
	  "weird!*pas$wo~d_too.(doesn't-it)@example.com",
	  .user = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
	  .password = "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
	  .host = "example.com" },
	{ "sip:vivekg@chair-dnrc.example.com;unknownparam", .user = "vivekg",
	  .host = "chair-dnrc.example.com", .params = "unknownparam" },
	{ "sip:user@example.com?Route=%3Csip:example.com%3E", .user = "user",
	  .host = "example.com", .headers = "Route=%3Csip:example.com%3E" },
	{ "sip:+19725552222@gw1.example.net;unknownparam",
	  .user = "+19725552222", .host = "gw1.example.net",
	  .params = "unknownparam" },
	{ "nobodyKnowsThisScheme:totallyopaquecontent",
	  .scheme = SIP_URI_OTHER, .opaque = "totallyopaquecontent" },
	{ "soap.beep://192.0.2.103:3002", .scheme = SIP_URI_OTHER,
	  .opaque = "//192.0.2.103:3002" },
	{ "isbn:2983792873", .scheme = SIP_URI_OTHER, .opaque = "2983792873" },
	{ "http://www.example.com", .scheme = SIP_URI_OTHER,
	  .opaque = "//www.example.com" },
	{ "name:John_Smith", .scheme = SIP_URI_OTHER, .opaque = "John_Smith" },

	/* hosts and ports */
	{ "sip:[2001:db8::10]:5070", .host = "[2001:db8::10]",
	  .htype = SIP_HOST_IPV6, .port = "5070" },
	{ "sip:[::1]", .host = "[::1]", .htype = SIP_HOST_IPV6 },
	{ "sip:[::]", .host = "[::]", .htype = SIP_HOST_IPV6 },
	{ "sip:[::ffff:192.0.2.1];transport=tcp",
	  .host = "[::ffff:192.0.2.1]", .htype = SIP_HOST_IPV6,
	  .params = "transport=tcp", .transport = "tcp" },
	{ "sip:u@[2001:DB8:0:0:0:0:0:1]", .user = "u",
	  .host = "[2001:DB8:0:0:0:0:0:1]", .htype = SIP_HOST_IPV6 },
	{ "sip:[1:2:3:4:5:6:7::]", .host = "[1:2:3:4:5:6:7::]",
	  .htype = SIP_HOST_IPV6 },
	{ "sip:[::2:3:4:5:6:7:8]", .host = "[::2:3:4:5:6:7:8]",
	  .htype = SIP_HOST_IPV6 },
	{ "sip:[1:2:3:4:5:6:1.2.3.4]", .host = "[1:2:3:4:5:6:1.2.3.4]",
	  .htype = SIP_HOST_IPV6 },
	{ "sip:host:0", .host = "host", .port = "0" },
	{ "sip:host:65535", .host = "host", .port = "65535" },
	{ "sip:host:0000000000005060", .host = "host", .port = "5060" },
	{ "sip:1.2.3.4:5060", .host = "1.2.3.4", .htype = SIP_HOST_IPV4,
	  .port = "5060" },
	{ "sip:010.001.0.1", .host = "010.001.0.1", .htype = SIP_HOST_IPV4 },
	{ "sip:example.com.", .host = "example.com." },
	{ "sip:a-b.c--d.x9", .host = "a-b.c--d.x9" },
	{ "sip:h", .host = "h" },
	{ "sip:123.example.com", .host = "123.example.com" },

	/* parameters and headers */
	{ "sip:bob@biloxi.com;lr", .user = "bob", .host = "biloxi.com",
	  .params = "lr", .lr = true },
	{ "sip:p1.example.com;lr=on;maddr=10.0.0.1;ttl=15",
	  .host = "p1.example.com", .params = "lr=on;maddr=10.0.0.1;ttl=15",
	  .lr = true, .maddr = "10.0.0.1", .ttl = "15" },
	{ "sip:alice:@atlanta.com", .user = "alice", .password = "",
	  .host = "atlanta.com" },
	{ "sip:host;transport", .host = "host", .params = "transport",
	  .transport = "" },
	{ "sip:u@h;maddr=[::1]", .user = "u", .host = "h",
	  .params = "maddr=[::1]", .maddr = "[::1]" },
	{ "sip:h;TRANSPORT=tcp;transport=udp", .host = "h",
	  .params = "TRANSPORT=tcp;transport=udp", .transport = "tcp" },
	{ "sip:h;x=%41%42;y=[a]/b:c&d+e$f", .host = "h",
	  .params = "x=%41%42;y=[a]/b:c&d+e$f" },
	{ "sip:x@h?a=&b=c", .user = "x", .host = "h", .headers = "a=&b=c" },
	{ "sip:x@h?a=b?c:d[e]/f+$", .user = "x", .host = "h",
	  .headers = "a=b?c:d[e]/f+$" },
	{ "sip:h:5060;lr?a=b", .host = "h", .port = "5060", .params = "lr",
	  .lr = true, .headers = "a=b" },
	{ "sip:h;%6Cr;%74ransport=tcp;%75ser=ip", .host = "h",
	  .params = "%6Cr;%74ransport=tcp;%75ser=ip", .lr = true,
	  .transport = "tcp", .user_param = "ip" },
	{ "sip:alice@atlanta.com;transport=tcp;maddr=239.255.255.1;ttl=15;"
	  "user=ip;method=INVITE;lr", .user = "alice", .host = "atlanta.com",
	  .params = "transport=tcp;maddr=239.255.255.1;ttl=15;user=ip;"
	  "method=INVITE;lr", .transport = "tcp", .maddr = "239.255.255.1",
	  .ttl = "15", .user_param = "ip", .method = "INVITE", .lr = true },

	/* TEL (RFC 3966) */
	{ "tel:+1-201-555-0123", .scheme = SIP_URI_TEL,
	  .host = "+1-201-555-0123" },
	{ "TEL:+(1)201.555.0123", .scheme = SIP_URI_TEL,
	  .host = "+(1)201.555.0123" },
	{ "tel:7042;phone-context=example.com", .scheme = SIP_URI_TEL,
	  .host = "7042", .params = "phone-context=example.com" },
	{ "tel:863-1234;phone-context=+1-914-555", .scheme = SIP_URI_TEL,
	  .host = "863-1234", .params = "phone-context=+1-914-555" },
	{ "tel:+1-201-555-0123;ext=1234;isub=a/b?c", .scheme = SIP_URI_TEL,
	  .host = "+1-201-555-0123", .params = "ext=1234;isub=a/b?c" },
	{ "tel:*123#;phone-context=+1", .scheme = SIP_URI_TEL,
	  .host = "*123#", .params = "phone-context=+1" },
	{ "tel:+49-89;foo;bar=x%20y", .scheme = SIP_URI_TEL, .host = "+49-89",
	  .params = "foo;bar=x%20y" },

	/* errors */
	ERR("", "bad URI: empty"),
	ERR("sip:", "bad URI: empty host"),
	ERR("sip:alice@", "bad URI: empty host"),
	ERR("sip:alice@;lr", "bad URI: empty host"),
	ERR("sip::5060", "bad URI: empty host"),
	ERR("sip:@atlanta.com", "bad URI: empty user"),
	ERR("sip::pw@atlanta.com", "bad URI: empty user"),
	ERR("sip:user@example.com; lr", "bad URI: whitespace"),
	ERR("sip:user@example.com ", "bad URI: whitespace"),
	ERR(" sip:user@example.com", "bad URI: whitespace"),
	ERR("sip:ali ce@atlanta.com", "bad URI: whitespace"),
	ERR("sip:alice@atlanta.com\r\n", "bad URI: whitespace"),
	ERR("sip:alice@atl\001anta.com", "bad URI: control character"),
	ERR("sip:alice@atlanta.com\177", "bad URI: control character"),
	ERR("sip:al\303\251@host", "bad URI: invalid character"),
	ERR("sip:%Zlice@atlanta.com", "bad URI: bad escape"),
	ERR("sip:alice%4@host", "bad URI: bad escape"),
	ERR("sip:alice@host;x=%G1", "bad URI: bad escape"),
	ERR("sip:alice@host?x=%", "bad URI: bad escape"),
	ERR("sip:[::1", "bad URI: unbalanced '['"),
	ERR("sip:[::1;transport=udp", "bad URI: unbalanced '['"),
	ERR("sip:host]", "bad URI: unbalanced '['"),
	ERR("sip:[1:2:3:4:5:6:7:8:9]", "bad URI: invalid IPv6 address"),
	ERR("sip:[1:2:3:4:5:6:7]", "bad URI: invalid IPv6 address"),
	ERR("sip:[1::2::3]", "bad URI: invalid IPv6 address"),
	ERR("sip:[12345::1]", "bad URI: invalid IPv6 address"),
	ERR("sip:[:1::2]", "bad URI: invalid IPv6 address"),
	ERR("sip:[1::2:]", "bad URI: invalid IPv6 address"),
	ERR("sip:[]", "bad URI: invalid IPv6 address"),
	ERR("sip:[::1%eth0]", "bad URI: invalid IPv6 address"),
	ERR("sip:[1:2:3:4:5:6:7:1.2.3.4]", "bad URI: invalid IPv6 address"),
	ERR("sip:[::256.1.1.1]", "bad URI: invalid IPv6 address"),
	ERR("sip:[::1.2.3]", "bad URI: invalid IPv6 address"),
	ERR("sip:[::g]", "bad URI: invalid IPv6 address"),
	ERR("sip:1.2.3.256", "bad URI: invalid IPv4 address"),
	ERR("sip:1.2.3.4444", "bad URI: invalid IPv4 address"),
	ERR("sip:1.2.3", "bad URI: invalid host"),
	ERR("sip:-host.com", "bad URI: invalid host"),
	ERR("sip:host-.com", "bad URI: invalid host"),
	ERR("sip:a.-b.com", "bad URI: invalid host"),
	ERR("sip:a..b", "bad URI: invalid host"),
	ERR("sip:.a", "bad URI: invalid host"),
	ERR("sip:example.123", "bad URI: invalid host"),
	ERR("sip:ho_st", "bad URI: invalid host"),
	ERR("sip:alice@host@host2", "bad URI: invalid host"),
	ERR("sip:host:65536", "bad URI: port out of range"),
	ERR("sip:host:99999999999999999999999", "bad URI: port out of range"),
	ERR("sip:host:", "bad URI: invalid port"),
	ERR("sip:host:50a", "bad URI: invalid port"),
	ERR("sip:host:5060:5061", "bad URI: invalid port"),
	ERR("sip:host;", "bad URI: invalid parameter"),
	ERR("sip:host;;lr", "bad URI: invalid parameter"),
	ERR("sip:host;a=", "bad URI: invalid parameter"),
	ERR("sip:host;=b", "bad URI: invalid parameter"),
	ERR("sip:host;a=b=c", "bad URI: invalid parameter"),
	ERR("sip:host?", "bad URI: invalid header"),
	ERR("sip:host?a", "bad URI: invalid header"),
	ERR("sip:host?=b", "bad URI: invalid header"),
	ERR("sip:host?a=b&", "bad URI: invalid header"),
	ERR("sip:host?a=b;c", "bad URI: invalid header"),
	ERR("<sip:host>", "bad URI: invalid scheme"),
	ERR("sip", "bad URI: invalid scheme"),
	ERR("1sip:host", "bad URI: invalid scheme"),
	ERR("s_p:host", "bad URI: invalid scheme"),
	ERR("tel:", "bad URI: invalid telephone number"),
	ERR("tel:+", "bad URI: invalid telephone number"),
	ERR("tel:+-()", "bad URI: invalid telephone number"),
	ERR("tel:+12a", "bad URI: invalid telephone number"),
	ERR("tel:+12 34", "bad URI: whitespace"),
	ERR("tel:1234", "bad URI: local number without phone-context"),
	ERR("tel:+1234;ext=abc", "bad URI: invalid tel parameter"),
	ERR("tel:+1234;ext", "bad URI: invalid tel parameter"),
	ERR("tel:+1234;a_b=1", "bad URI: invalid tel parameter"),
	ERR("tel:+1234;", "bad URI: invalid tel parameter"),
	ERR("tel:1234;phone-context=1.2.3.4",
	  "bad URI: invalid tel parameter"),
	ERR("tel:1234;phone-context=+", "bad URI: invalid tel parameter"),
	ERR("tel:+1234@host", "bad URI: invalid telephone number"),
	ERR("foo:", "bad URI: invalid opaque part"),
	ERR("foo:bar baz", "bad URI: whitespace"),
	ERR("foo:a%zz", "bad URI: bad escape"),
	ERR("foo:a<b>", "bad URI: invalid opaque part"),
};

static void
check_part(const char *in, const char *what, struct slice got,
    const char *want)
{
	if (want == NULL) {
		ck_assert_msg(!slice_present(got), "%s: %s should be absent,"
		    " got \"" SLICE_FMT "\"", in, what, SLICE_ARG(got));
		return;
	}
	ck_assert_msg(slice_present(got), "%s: %s absent, want \"%s\"", in,
	    what, want);
	ck_assert_msg(slice_eq_cstr(got, want), "%s: %s is \"" SLICE_FMT
	    "\", want \"%s\"", in, what, SLICE_ARG(got), want);
}

/* Every present slice must point inside the input. */
static void
check_inside(const char *in, size_t n, struct slice s)
{
	if (slice_present(s))
		ck_assert_msg(s.p >= in && s.p + s.n <= in + n,
		    "%s: slice outside the input", in);
}

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	size_t n = strlen(c->in);
	struct sip_uri u;
	const char *why = NULL;
	int rc;

	rc = sip_uri_parse(&u, c->in, n, &why);
	if (c->err != 0) {
		ck_assert_msg(rc == c->err, "%s: accepted, want \"%s\"", c->in,
		    c->why);
		ck_assert_msg(why != NULL && strcmp(why, c->why) == 0,
		    "%s: reason \"%s\", want \"%s\"", c->in,
		    why ? why : "(null)", c->why);
		return;
	}
	ck_assert_msg(rc == 0, "%s: rejected: %s", c->in, why ? why : "?");
	ck_assert_int_eq(u.scheme, c->scheme);
	ck_assert_msg(u.scheme_str.p == c->in &&
	    u.scheme_str.p[u.scheme_str.n] == ':', "%s: scheme_str", c->in);
	check_part(c->in, "user", u.user, c->user);
	check_part(c->in, "password", u.password, c->password);
	check_part(c->in, "host", u.host, c->host);
	ck_assert_msg(u.host_type == c->htype, "%s: host type %d, want %d",
	    c->in, u.host_type, c->htype);
	ck_assert_msg(u.has_port == (c->port != NULL), "%s: has_port",
	    c->in);
	if (c->port != NULL)
		ck_assert_int_eq(u.port, atoi(c->port));
	else
		ck_assert_int_eq(u.port, 0);
	check_part(c->in, "params", u.params, c->params);
	check_part(c->in, "headers", u.headers, c->headers);
	check_part(c->in, "opaque", u.opaque, c->opaque);
	check_part(c->in, "transport", u.transport, c->transport);
	check_part(c->in, "user param", u.user_param, c->user_param);
	check_part(c->in, "method", u.method, c->method);
	check_part(c->in, "maddr", u.maddr, c->maddr);
	check_part(c->in, "ttl", u.ttl, c->ttl);
	ck_assert_msg(u.lr == c->lr, "%s: lr", c->in);

	check_inside(c->in, n, u.scheme_str);
	check_inside(c->in, n, u.user);
	check_inside(c->in, n, u.password);
	check_inside(c->in, n, u.host);
	check_inside(c->in, n, u.params);
	check_inside(c->in, n, u.headers);
	check_inside(c->in, n, u.opaque);
	ck_assert_msg(sip_uri_equal(&u, &u), "%s: not equal to itself",
	    c->in);
}
END_TEST

/* The input may not be NUL-terminated: parse only the first n bytes. */
START_TEST(test_parse_length)
{
	const char buf[] = "sip:alice@atlanta.com;lr>garbage";
	struct sip_uri u;
	const char *why;

	ck_assert_int_eq(sip_uri_parse(&u, buf, 24, &why), 0);
	ck_assert(u.lr);
	ck_assert(slice_eq_cstr(u.params, "lr"));
	ck_assert_int_eq(sip_uri_parse(&u, buf, 25, &why), EBADMSG);
	ck_assert_int_eq(sip_uri_parse(&u, "sip:a@b", 7, NULL), 0);
	ck_assert_int_eq(sip_uri_parse(&u, "sip:a@", 6, NULL), EBADMSG);
	ck_assert_int_eq(sip_uri_parse(&u, NULL, 0, &why), EBADMSG);
	ck_assert_str_eq(why, "bad URI: empty");
}
END_TEST

/* Lists are capped so that comparing hostile URIs stays cheap. */
static void
limit_case(const char *prefix, char sep, int count, int want,
    const char *why_want)
{
	struct strbuf sb = STRBUF_INIT;
	struct sip_uri u;
	const char *why = NULL;

	strbuf_adds(&sb, prefix);
	for (int i = 0; i < count; i++) {
		if (i > 0)
			strbuf_addc(&sb, sep);
		strbuf_addf(&sb, "%c%d=v", sep == '&' ? 'h' : 'p', i);
	}
	ck_assert_msg(sip_uri_parse(&u, sb.p, sb.n, &why) == want,
	    "%d items: %s", count, why ? why : "accepted");
	if (want != 0)
		ck_assert_str_eq(why, why_want);
	else
		ck_assert(sip_uri_equal(&u, &u));
	strbuf_free(&sb);
}

START_TEST(test_limits)
{
	limit_case("sip:h;", ';', SIP_URI_PARAMS_MAX, 0, NULL);
	limit_case("sip:h;", ';', SIP_URI_PARAMS_MAX + 1, EBADMSG,
	    "bad URI: too many parameters");
	limit_case("sip:h?", '&', SIP_URI_PARAMS_MAX, 0, NULL);
	limit_case("sip:h?", '&', SIP_URI_PARAMS_MAX + 1, EBADMSG,
	    "bad URI: too many headers");
	limit_case("tel:+1;", ';', SIP_URI_PARAMS_MAX, 0, NULL);
	limit_case("tel:+1;", ';', SIP_URI_PARAMS_MAX + 1, EBADMSG,
	    "bad URI: too many parameters");
}
END_TEST

/* One pair for the comparison table. */
struct cmp_case {
	const char	*a;
	const char	*b;
	bool		 equal;
};

static const struct cmp_case cmp_cases[] = {
	/* RFC 3261 §19.1.4: equivalent */
	{ "sip:%61lice@atlanta.com;transport=TCP",
	  "sip:alice@AtLanTa.CoM;Transport=tcp", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", true },
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;security=on",
	  true },
	{ "sip:carol@chicago.com;newparam=5",
	  "sip:carol@chicago.com;security=on", true },
	{ "sip:biloxi.com;transport=tcp;method=REGISTER"
	  "?to=sip:bob%40biloxi.com",
	  "sip:biloxi.com;method=REGISTER;transport=tcp"
	  "?to=sip:bob%40biloxi.com",
	  true },
	{ "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	  "sip:alice@atlanta.com?priority=urgent&subject=project%20x", true },
	/* RFC 3261 §19.1.4: not equivalent */
	{ "SIP:ALICE@AtLanTa.CoM;Transport=udp",
	  "sip:alice@AtLanTa.CoM;Transport=UDP", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", false },
	{ "sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp",
	  false },
	{ "sip:carol@chicago.com",
	  "sip:carol@chicago.com?Subject=next%20meeting", false },
	{ "sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", false },
	/* RFC 3261 §19.1.4: equality is not transitive */
	{ "sip:carol@chicago.com", "sip:carol@chicago.com;security=off",
	  true },
	{ "sip:carol@chicago.com;security=on",
	  "sip:carol@chicago.com;security=off", false },

	/* scheme */
	{ "sip:alice@atlanta.com", "sips:alice@atlanta.com", false },
	{ "SIPS:alice@atlanta.com", "sips:alice@atlanta.com", true },
	{ "sip:+1234@h", "tel:+1234", false },
	/* userinfo: case-sensitive, escapes */
	{ "sip:alice@h", "sip:Alice@h", false },
	{ "sip:alice@h", "sip:h", false },
	{ "sip:alice@h", "sip:alice:@h", false },
	{ "sip:alice:pw@h", "sip:alice:PW@h", false },
	{ "sip:alice:p%77@h", "sip:alice:pw@h", true },
	{ "sip:a%3Bb@h", "sip:a;b@h", false },
	{ "sip:a%3bb@h", "sip:a%3Bb@h", true },
	{ "sip:%75se%72@example.com", "sip:user@example.com", true },
	{ "sip:%55ser@h", "sip:user@h", false },
	{ "sip:null-%00-null@example.com", "sip:null-%00-null@example.com",
	  true },
	{ "sip:null-%00-null@example.com", "sip:null-%00@example.com",
	  false },
	{ "sip:%00@host5.example.com", "sip:%00%00@host5.example.com",
	  false },
	{ "sip:user;par=u%40example.net@example.com",
	  "sip:user;par=u%40example.net@EXAMPLE.com", true },
	{ "sip:user;par=u%40example.net@example.com",
	  "sip:user@example.com;par=u%40example.net", false },
	/* host and port */
	{ "sip:h:5060", "sip:h:05060", true },
	{ "sip:h:0", "sip:h", false },
	{ "sip:h:5060", "sip:h:5061", false },
	{ "sip:example.com.", "sip:example.com", false },
	{ "sip:[::1]", "sip:[0:0:0:0:0:0:0:1]", true },
	{ "sip:[2001:DB8::1]", "sip:[2001:db8:0::1]", true },
	{ "sip:[::ffff:192.0.2.1]", "sip:[::FFFF:c000:201]", true },
	{ "sip:[1:2:3:4:5:6:7::]", "sip:[1:2:3:4:5:6:7:0]", true },
	{ "sip:[::1]", "sip:[::2]", false },
	{ "sip:[1::]", "sip:[::1]", false },
	{ "sip:192.0.2.1", "sip:[::ffff:192.0.2.1]", false },
	{ "sip:010.0.0.1", "sip:10.0.0.1", true },
	{ "sip:10.0.0.1", "sip:10.0.0.2", false },
	/* parameters */
	{ "sip:h;user=phone", "sip:h", false },
	{ "sip:h;ttl=1", "sip:h", false },
	{ "sip:h;method=INVITE", "sip:h", false },
	{ "sip:h;maddr=1.2.3.4", "sip:h", false },
	{ "sip:h;lr", "sip:h", true },
	{ "sip:h;lr", "sip:h;lr=on", false },
	{ "sip:h;maddr=Example.COM", "sip:h;MADDR=example.com", true },
	{ "sip:h;foo=%61", "sip:h;FOO=A", true },
	{ "sip:h;x=1;x=2", "sip:h;x=1", true },
	{ "sip:h;%74ransport=tcp", "sip:h;transport=TCP", true },
	{ "sip:h;transport=tcp;a=1", "sip:h;b=2;Transport=tcp", true },
	/* headers */
	{ "sip:h?Subject=x", "sip:h?subject=x", true },
	{ "sip:h?a=X", "sip:h?a=x", false },
	{ "sip:h?a=1&a=2", "sip:h?a=2&a=1", true },
	{ "sip:h?a=1&a=1", "sip:h?a=1", false },
	{ "sip:h?a=1&b=2", "sip:h?a=1", false },
	{ "sip:h?a=%41", "sip:h?a=A", true },
	{ "sip:h?a=", "sip:h?a=", true },
	/* TEL, RFC 3966 §4 */
	{ "tel:+1-201-555-0123", "tel:+1(201)555.0123", true },
	{ "tel:+12015550123", "tel:+12015550124", false },
	{ "tel:+12015550123", "tel:12015550123;phone-context=+1", false },
	{ "tel:7042;phone-context=example.com",
	  "tel:7042;phone-context=EXAMPLE.com", true },
	{ "tel:7042;phone-context=example.com",
	  "tel:7042;phone-context=example.org", false },
	{ "tel:863-1234;phone-context=+1-914-555",
	  "tel:8631234;phone-context=+1914555", true },
	{ "tel:+1234;ext=5-6", "tel:+1234;ext=56", true },
	{ "tel:+1234;foo=bar", "tel:+1234", false },
	{ "tel:+1234;a=1;b=2", "tel:+1234;B=2;a=1", true },
	{ "tel:+1234;foo=Bar", "tel:+1234;FOO=bar", true },
	{ "tel:+1234;foo", "tel:+1234;foo=1", false },
	{ "tel:abc;phone-context=x.com", "tel:ABC;phone-context=x.com", true },
	{ "TEL:+1234", "tel:+1234", true },
	/* other schemes */
	{ "urn:service:sos", "URN:service:sos", true },
	{ "urn:service:sos", "urn:service:SOS", false },
	{ "http://x/%7euser", "http://x/~user", true },
	{ "http://x/a%2fb", "http://x/a/b", false },
	{ "http://x/a%2fb", "http://x/a%2Fb", true },
	{ "isbn:2983792873", "name:2983792873", false },
};

static void
parse_ok(struct sip_uri *u, const char *s)
{
	const char *why = NULL;

	ck_assert_msg(sip_uri_parse(u, s, strlen(s), &why) == 0,
	    "%s: rejected: %s", s, why ? why : "?");
}

START_TEST(test_compare)
{
	const struct cmp_case *c = &cmp_cases[_i];
	struct sip_uri a, b;

	parse_ok(&a, c->a);
	parse_ok(&b, c->b);
	ck_assert_msg(sip_uri_equal(&a, &b) == c->equal, "%s vs %s: want %s",
	    c->a, c->b, c->equal ? "equal" : "different");
	ck_assert_msg(sip_uri_equal(&b, &a) == c->equal, "%s vs %s: want %s",
	    c->b, c->a, c->equal ? "equal" : "different");
	ck_assert(sip_uri_equal(&a, &a));
	ck_assert(sip_uri_equal(&b, &b));
}
END_TEST

static const struct {
	const char	*in;
	const char	*out;
} print_cases[] = {
	{ "SIP:Alice@AtLanTa.CoM:05060;Transport=TCP?X=Y",
	  "sip:Alice@atlanta.com:5060;Transport=TCP?X=Y" },
	{ "SIPS:[2001:DB8::1]", "sips:[2001:db8::1]" },
	{ "sip:alice:@host:0", "sip:alice:@host:0" },
	{ "sip:%61lice:p%77@h;lr", "sip:%61lice:p%77@h;lr" },
	{ "TEL:+1-201;EXT=1", "tel:+1-201;EXT=1" },
	{ "Tel:7042;phone-context=Example.COM",
	  "tel:7042;phone-context=Example.COM" },
	{ "URN:Service:SOS", "urn:Service:SOS" },
	{ "sip:user;par=u%40example.net@example.com",
	  "sip:user;par=u%40example.net@example.com" },
};

START_TEST(test_print)
{
	struct strbuf sb = STRBUF_INIT;
	struct sip_uri u, back;

	parse_ok(&u, print_cases[_i].in);
	sip_uri_print(&sb, &u);
	ck_assert_str_eq(sb.p, print_cases[_i].out);
	parse_ok(&back, sb.p);
	ck_assert(sip_uri_equal(&u, &back));
	strbuf_free(&sb);
}
END_TEST

/* The R-URIs and To/From/Contact URIs of RFC 4475 that must parse. */
static const char *const rfc4475_ok[] = {
	"sip:sips%3Auser%40example.com@example.net",	/* esc01 */
	"sip:%75se%72@example.com",
	"sip:I%20have%20spaces@example.net",
	"sip:null-%00-null@example.com",		/* escnull */
	"sip:%00@host5.example.com",
	"sip:%00%00@host5.example.com",
	"sip:user;par=u%40example.net@example.com",	/* semiuri */
	"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
	"weird!*pas$wo~d_too.(doesn't-it)@example.com",	/* intmeth */
	"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
	"sip:user@example.com?Route=%3Csip:example.com%3E",	/* escruri */
	"sip:user@example.com?Route=%3Csip:sip.example.com%3E",	/* regescrt */
	"nobodyKnowsThisScheme:totallyopaquecontent",	/* unkscm */
	"soap.beep://192.0.2.103:3002",			/* novelsc */
	"isbn:2983792873", "http://www.example.com", "name:John_Smith",
	"sip:vivekg@chair-dnrc.example.com;unknownparam",	/* wsinv */
	"sip:+13035551111@ift.client.example.net;user=phone",	/* inv2543 */
	"sip:UserB@example.com;maddr=ss1.example.com",
	"sip:+16505552222@ss1.example.net;user=phone",
	"sip:user@example.com:6000;unknownparam1=verylonglonglonglonglong"
	"value;longparamnamenamenamename=shortvalue;verylonglonglongparam",
};

START_TEST(test_rfc4475)
{
	struct sip_uri u;

	parse_ok(&u, rfc4475_ok[_i]);
}
END_TEST

START_TEST(test_rfc4475_details)
{
	struct sip_uri a, b;
	char raw[64];
	int n;

	/* escnull: the decoded user holds a NUL and must not be cut. */
	parse_ok(&a, "sip:null-%00-null@example.com");
	n = sip_unescape(a.user, raw, sizeof(raw));
	ck_assert_int_eq(n, 11);
	ck_assert(memcmp(raw, "null-\0-null", 11) == 0);
	/* esc01: escaped ':' and '@' stay user characters. */
	parse_ok(&a, "sip:sips%3Auser%40example.com@example.net");
	ck_assert(slice_eq_cstr(a.host, "example.net"));
	n = sip_unescape(a.user, raw, sizeof(raw));
	ck_assert_int_eq(n, 21);
	ck_assert(memcmp(raw, "sips:user@example.com", 21) == 0);
	/* lwsruri: embedded whitespace is not a URI. */
	ck_assert_int_eq(sip_uri_parse(&a, "sip:user@example.com; lr", 24,
	    NULL), EBADMSG);
	/* ltgtruri: brackets are name-addr, not URI. */
	ck_assert_int_eq(sip_uri_parse(&a, "<sip:user@example.com>", 22,
	    NULL), EBADMSG);
	/* esc01 To: escaped and plain forms compare equal. */
	parse_ok(&a, "sip:%75se%72@example.com");
	parse_ok(&b, "sip:user@example.com");
	ck_assert(sip_uri_equal(&a, &b));
}
END_TEST

START_TEST(test_param_find)
{
	struct slice params =
	    SLICE_LIT("transport=tcp;lr;Maddr=10.0.0.1;x=1;x=2");
	struct slice v;

	ck_assert(sip_param_find(params, "transport", &v));
	ck_assert(slice_eq_cstr(v, "tcp"));
	ck_assert(sip_param_find(params, "LR", &v));
	ck_assert_uint_eq(v.n, 0);
	ck_assert(sip_param_find(params, "maddr", &v));
	ck_assert(slice_eq_cstr(v, "10.0.0.1"));
	ck_assert(sip_param_find(params, "x", &v));
	ck_assert(slice_eq_cstr(v, "1"));
	ck_assert(!sip_param_find(params, "ttl", &v));
	ck_assert(!sip_param_find(params, "trans", &v));
	ck_assert(!sip_param_find(SLICE_NULL, "lr", &v));
	ck_assert(sip_param_find(SLICE_LIT(";lr"), "lr", NULL));
}
END_TEST

START_TEST(test_unescape)
{
	char out[16];

	ck_assert_int_eq(sip_unescape(SLICE_LIT("alice"), out, sizeof(out)),
	    5);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("%61l%69ce"), out,
	    sizeof(out)), 5);
	ck_assert(memcmp(out, "alice", 5) == 0);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("%4a%4B"), out, sizeof(out)),
	    2);
	ck_assert(memcmp(out, "JK", 2) == 0);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("%Zlice"), out, sizeof(out)),
	    -1);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("ab%4"), out, sizeof(out)),
	    -1);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("abc"), out, 2), -1);
	ck_assert_int_eq(sip_unescape(SLICE_LIT("abc"), out, 3), 3);
	ck_assert_int_eq(sip_unescape(SLICE_NULL, out, 0), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sip_uri");
	TCase *tc = tcase_create("uri");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_parse, 0, (int)NELEM(parse_cases));
	tcase_add_test(tc, test_parse_length);
	tcase_add_test(tc, test_limits);
	tcase_add_loop_test(tc, test_compare, 0, (int)NELEM(cmp_cases));
	tcase_add_loop_test(tc, test_print, 0, (int)NELEM(print_cases));
	tcase_add_loop_test(tc, test_rfc4475, 0, (int)NELEM(rfc4475_ok));
	tcase_add_test(tc, test_rfc4475_details);
	tcase_add_test(tc, test_param_find);
	tcase_add_test(tc, test_unescape);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
