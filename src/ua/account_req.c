/*
 * What a usage needs to send a request as one of the accounts: where it
 * goes first (the outbound proxy or the learned Service-Route) and the
 * digest answer to a challenge.  The call, message, request and
 * subscription usages all send through these, so that the rules live
 * in one place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "base/xalloc.h"
#include "sip/sip_auth.h"
#include "sip/sip_build.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"
#include "account.h"
#include "reg.h"
#include "ua_priv.h"

void
ua_account_route(const struct account *a, char **route, char **hop)
{
	const char *sr = a->reg != NULL ? reg_service_route(a->reg) : NULL;

	*route = NULL;
	*hop = NULL;
	if (a->cfg->outbound_proxy != NULL) {
		const char *why, *p = a->cfg->outbound_proxy;
		struct strbuf sb = STRBUF_INIT;
		struct sip_uri u;

		/* A proxy written without ;lr is still taken as loose. */
		strbuf_addf(&sb, "<%s%s>", p, sip_uri_parse(&u, p, strlen(p),
		    &why) == 0 && u.lr ? "" : ";lr");
		*route = strbuf_detach(&sb);
		*hop = xstrdup(p);
	} else if (sr != NULL) {
		const char *lt = strchr(sr, '<'), *gt;

		if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
			*route = xstrdup(sr);
			*hop = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		}
	}
}

char *
ua_auth_challenge(const struct sip_msg *m)
{
	const struct sip_auth_challenge *chs = m->status == 407 ?
	    m->proxy_auth : m->www_auth;
	unsigned n = m->status == 407 ? m->nproxy_auth : m->nwww_auth;

	if (m->status != 401 && m->status != 407)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (sip_auth_challenge_usable(&chs[i]))
			return xstrndup(chs[i].scheme_name.p,
			    (size_t)(chs[i].params.p + chs[i].params.n -
			    chs[i].scheme_name.p));
	return NULL;
}

int
ua_auth_add(struct sip_build *b, const struct account *a, const char *chal,
    bool proxy, const char *method, const char *ruri, const char *body,
    char **saved)
{
	struct sip_auth_challenge ch;
	struct sip_auth_request rq = { 0 };
	struct strbuf out = STRBUF_INIT;
	char cnonce[2 * SIP_AUTH_CNONCE_BYTES + 1];
	struct slice rest;
	const char *why;
	int err;

	if (a->cfg->password == NULL && a->cfg->ha1 == NULL)
		return 0;
	if (sip_auth_challenge_parse(&ch, slice_cstr(chal), &rest, &why) != 0)
		return EINVAL;
	rq.username = slice_cstr(a->cfg->auth_user);
	if (a->cfg->ha1 != NULL) {
		rq.ha1 = slice_cstr(a->cfg->ha1);
		rq.ha1_alg = ch.algorithm;
	} else {
		rq.password = slice_cstr(a->cfg->password);
	}
	rq.method = slice_cstr(method);
	rq.uri = slice_cstr(ruri);
	rq.body = slice_cstr(body != NULL ? body : "");
	if (sip_auth_cnonce(cnonce) != 0)
		return EIO;
	rq.cnonce = slice_cstr(cnonce);
	/* A fresh cnonce for every request: nc stays 1 (RFC 7616 §3.4). */
	rq.nc = 1;
	err = sip_auth_respond(&out, &ch, &rq, NULL);
	if (err == 0) {
		sip_build_add(b, proxy ? SIP_HDR_PROXY_AUTHORIZATION :
		    SIP_HDR_AUTHORIZATION, out.p);
		if (saved != NULL) {
			free(*saved);
			*saved = xstrdup(out.p);
		}
	}
	strbuf_free(&out);
	return err;
}
