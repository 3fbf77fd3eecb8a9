/*
 * TLS for SIP (RFC 3261 §26.2.1, RFC 5922): the OpenSSL contexts of
 * the client side (one per transport, verification on unless told) and
 * of each TLS listener, the OpenSSL bufferevents of each session, and
 * OpenSSL's own words for what went wrong (a key file that does not
 * load, a handshake that fails).  Connection life (timers, framing)
 * belongs to sip_tp_stream.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "sip_tp_priv.h"

SSL_CTX *
tp_tls_client_ctx(struct sip_tp *tp)
{
	const struct sip_tp_conf *cf = &tp->conf;
	SSL_CTX *ctx;

	if (tp->client_ctx != NULL)
		return tp->client_ctx;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (cf->ca_file != NULL || cf->ca_dir != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cf->ca_file,
		    cf->ca_dir) != 1)
			log_warnx("sip_tp: cannot load CA %s",
			    cf->ca_file != NULL ? cf->ca_file : cf->ca_dir);
	} else
		SSL_CTX_set_default_verify_paths(ctx);
	if (cf->client_cert != NULL && cf->client_key != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cf->client_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cf->client_key,
	    SSL_FILETYPE_PEM) != 1))
		log_warnx("sip_tp: cannot load client certificate %s",
		    cf->client_cert);
	SSL_CTX_set_verify(ctx, cf->tls_no_verify ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	ERR_clear_error();
	tp->client_ctx = ctx;
	return ctx;
}

/*
 * OpenSSL's reason for a failure, or fallback: the first error queued
 * (the cause, e.g. "bad base64 decode") and the last (where it
 * surfaced, e.g. "PEM lib").  Clears the queue.
 */
static void
tls_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e, first = 0, last = 0;
	char a[120], b[120];

	while ((e = ERR_get_error()) != 0) {
		if (first == 0)
			first = e;
		last = e;
	}
	if (first == 0) {
		snprintf(buf, len, "%s", fallback);
		return;
	}
	ERR_error_string_n(first, a, sizeof(a));
	if (last == first) {
		snprintf(buf, len, "%s", a);
		return;
	}
	ERR_error_string_n(last, b, sizeof(b));
	snprintf(buf, len, "%s; %s", a, b);
}

/* Loads cert and key into ctx; 0, or -1 with err naming the file. */
static int
tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err,
    size_t errlen)
{
	char why[256];

	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_reason(why, sizeof(why), "cannot load");
		snprintf(err, errlen, "certificate %s: %s", cert, why);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_reason(why, sizeof(why), "cannot load");
		snprintf(err, errlen, "key %s: %s", key, why);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_reason(why, sizeof(why), "does not match");
		snprintf(err, errlen, "key %s does not match certificate %s: "
		    "%s", key, cert, why);
		return -1;
	}
	return 0;
}

SSL_CTX *
tp_tls_server_ctx(const struct sip_tp_listen_conf *lc, char *err,
    size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[256];

	if (ctx == NULL) {
		tls_reason(why, sizeof(why), "out of memory");
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (tls_load_pair(ctx, lc->cert, lc->key, err, errlen) != 0)
		goto fail;
	if (lc->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, lc->ca_file,
		    NULL) != 1) {
			tls_reason(why, sizeof(why), "cannot load");
			snprintf(err, errlen, "CA file %s: %s", lc->ca_file,
			    why);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

int
sip_tp_check_tls(const char *cert, const char *key, char *err,
    size_t errlen)
{
	struct sip_tp_listen_conf lc;
	SSL_CTX *ctx;

	memset(&lc, 0, sizeof(lc));
	lc.transport = SIP_TP_TLS;
	lc.cert = cert;
	lc.key = key;
	if (cert == NULL || key == NULL) {
		snprintf(err, errlen, "a TLS listener needs a certificate "
		    "and a key");
		return EINVAL;
	}
	if ((ctx = tp_tls_server_ctx(&lc, err, errlen)) == NULL)
		return EPROTO;
	SSL_CTX_free(ctx);
	return 0;
}

struct bufferevent *
tp_tls_bev_connect(struct sip_tp *tp, const struct sockaddr *sa,
    const char *name)
{
	SSL_CTX *ctx = tp_tls_client_ctx(tp);
	struct bufferevent *bev;
	char ip[INET6_ADDRSTRLEN];
	SSL *ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	/* RFC 5922 §4: the domain, not the address, is checked. */
	if (name != NULL && !tp_is_ip_literal(name)) {
		SSL_set_tlsext_host_name(ssl, name);
		SSL_set1_host(ssl, name);
	} else {
		if (name == NULL)
			tp_sa_ip(sa, ip, sizeof(ip));
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    name != NULL ? name : ip);
	}
	bev = bufferevent_openssl_socket_new(tp->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

struct bufferevent *
tp_tls_bev_accept(struct sip_tp_listener *l, evutil_socket_t fd)
{
	struct bufferevent *bev;
	SSL *ssl = SSL_new(l->ssl);

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(l->tp->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

void
tp_tls_bev_setup(struct bufferevent *bev)
{
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
}

bool
tp_tls_conn_error(struct sip_tp_conn *c, char *why, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);

	if (e == 0)
		return false;
	ERR_error_string_n(e, why, len);
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
	return true;
}
