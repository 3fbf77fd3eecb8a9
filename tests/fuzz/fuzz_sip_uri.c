/*
 * libFuzzer target for the URI parser: any bytes must parse or fail
 * without reading outside the input, and a URI that parses must keep
 * its slices inside the input, equal itself, agree with sip_param_find
 * on the well-known parameters, and survive print -> reparse as an
 * equal URI whose printed form is a fixed point.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_inside(const char *in, size_t n, struct slice s)
{
	if (!slice_present(s))
		return;
	if (s.p < in || s.n > n || s.p + s.n > in + n)
		abort();
}

/* A well-known parameter field agrees with a lookup in the raw list. */
static void
check_param(const struct sip_uri *u, const char *name, struct slice field)
{
	struct slice v;
	bool found = sip_param_find(u->params, name, &v);

	if (found != slice_present(field) || (found && !slice_eq(v, field)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf sb = STRBUF_INIT, sb2 = STRBUF_INIT;
	struct sip_uri u, back;
	const char *why = NULL;
	char *in;

	/* An exact-size copy, so that ASan sees any read past the end. */
	in = malloc(size > 0 ? size : 1);
	if (in == NULL)
		return 0;
	if (size > 0)
		memcpy(in, data, size);
	if (sip_uri_parse(&u, in, size, &why) != 0) {
		if (why == NULL || strncmp(why, "bad URI", 7) != 0)
			abort();
		goto out;
	}
	check_inside(in, size, u.scheme_str);
	check_inside(in, size, u.user);
	check_inside(in, size, u.password);
	check_inside(in, size, u.host);
	check_inside(in, size, u.params);
	check_inside(in, size, u.headers);
	check_inside(in, size, u.opaque);
	check_inside(in, size, u.transport);
	check_inside(in, size, u.user_param);
	check_inside(in, size, u.method);
	check_inside(in, size, u.maddr);
	check_inside(in, size, u.ttl);
	if (!sip_uri_equal(&u, &u))
		abort();
	if (u.scheme == SIP_URI_SIP || u.scheme == SIP_URI_SIPS) {
		check_param(&u, "transport", u.transport);
		check_param(&u, "user", u.user_param);
		check_param(&u, "method", u.method);
		check_param(&u, "maddr", u.maddr);
		check_param(&u, "ttl", u.ttl);
		if (u.lr != sip_param_find(u.params, "lr", NULL))
			abort();
	}

	sip_uri_print(&sb, &u);
	if (sip_uri_parse(&back, sb.p, sb.n, &why) != 0)
		abort();
	if (!sip_uri_equal(&u, &back) || !sip_uri_equal(&back, &u))
		abort();
	sip_uri_print(&sb2, &back);
	if (sb.n != sb2.n || memcmp(sb.p, sb2.p, sb.n) != 0)
		abort();
out:
	strbuf_free(&sb);
	strbuf_free(&sb2);
	free(in);
	return 0;
}
