/*
 * TLS for SIP (RFC 3261 §26.2.1, RFC 5922): the OpenSSL contexts of
 * the client side (one per transport, verification on unless told) and
 * of each TLS listener.  Sessions themselves run in sip_tp_stream.c
 * over libevent's OpenSSL bufferevents.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/random.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sip_build.h"
#include "sip_hdr.h"
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

SSL_CTX *
tp_tls_server_ctx(const struct sip_tp_listen_conf *lc)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, lc->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, lc->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (lc->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, lc->ca_file, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

