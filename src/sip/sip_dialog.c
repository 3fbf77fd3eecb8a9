/*
 * Dialogs (see sip_dialog.h): creating a dialog from the message that
 * makes one (RFC 3261 §12.1), confirming it, refreshing its target,
 * checking the order of the peer's requests and writing the parts of
 * ours that the dialog decides (§12.2), and the table that finds a
 * dialog by its ID.  Every string a dialog keeps is its own copy, one
 * allocation each, so a dialog outlives the messages it was made from.
 * The table is a chained hash under a random key per table (a peer
 * that could pick colliding Call-IDs and tags would otherwise turn each
 * lookup into a walk of every dialog); it holds no copy of the key, and
 * rehashes a dialog from its own strings when it grows or shrinks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/random.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "sip_dialog.h"

/* ---- strings ------------------------------------------------------------- */

static char *
dup_slice(struct slice s)
{
	return xstrndup(s.p, s.n);
}

/*
 * Appends the inside of a quoted string as it came (escapes kept),
 * without CR and LF (folding becomes the LWS after it) and without a
 * NUL or the quoted-pair of one of those, which the parser lets through
 * (RFC 4475 has a NUL in one): dropping only the escaped byte would
 * leave a backslash that escapes our closing quote.
 */
static void
add_quoted_text(struct strbuf *sb, struct slice s)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '\\' && i + 1 < s.n) {
			char e = s.p[++i];

			if (e != '\r' && e != '\n' && e != '\0') {
				strbuf_addc(sb, c);
				strbuf_addc(sb, e);
			}
		} else if (c != '\r' && c != '\n' && c != '\0' && c != '\\')
			strbuf_addc(sb, c);
	}
}

/*
 * From or To as our requests write it, without the tag (§12.1.1,
 * §12.1.2: the local and remote URIs keep the display name and the
 * other parameters): always a name-addr, "\"display\" <uri>;params".
 * A display name written as tokens is quoted (tokens are valid inside
 * quotes); a quoted one is copied still escaped, as the parser left it.
 * A parameter value that was quoted gets its quotes back: the parser's
 * slice points just inside them.
 */
static char *
nameaddr_notag(const struct sip_nameaddr *na)
{
	struct strbuf sb = STRBUF_INIT;

	if (na->display.p != NULL && na->display.n > 0) {
		strbuf_addc(&sb, '"');
		add_quoted_text(&sb, na->display);
		strbuf_adds(&sb, "\" ");
	}
	strbuf_addc(&sb, '<');
	strbuf_add(&sb, na->uri_str.p, na->uri_str.n);
	strbuf_addc(&sb, '>');
	for (unsigned i = 0; i < na->params.n; i++) {
		const struct sip_param *p = &na->params.v[i];

		if (slice_caseeq_cstr(p->name, "tag"))
			continue;
		strbuf_addc(&sb, ';');
		strbuf_add(&sb, p->name.p, p->name.n);
		if (p->value.p == NULL)
			continue;
		strbuf_addc(&sb, '=');
		if (p->value.p[-1] == '"') {
			strbuf_addc(&sb, '"');
			add_quoted_text(&sb, p->value);
			strbuf_addc(&sb, '"');
		} else
			strbuf_add(&sb, p->value.p, p->value.n);
	}
	return strbuf_detach(&sb);
}

/*
 * The first Contact's URI, if it can be a remote target: a SIP or SIPS
 * URI (the parser has already checked its syntax; '*' and other schemes
 * cannot be sent a request).
 */
static bool
contact_uri(const struct sip_msg *m, struct slice *out)
{
	const struct sip_nameaddr *na;

	if (m->contact_star || m->ncontact == 0)
		return false;
	na = &m->contact[0].addr;
	if (na->uri.scheme != SIP_URI_SIP && na->uri.scheme != SIP_URI_SIPS)
		return false;
	*out = na->uri_str;
	return true;
}

/*
 * The route set from m's Record-Route URIs: in order for a UAS
 * (§12.1.1), reversed for a UAC (§12.1.2).  The URIs keep their
 * parameters (;lr above all) and lose the brackets.
 */
static int
routes_from(const struct sip_msg *m, bool reverse,
    char *route[SIP_DIALOG_ROUTES_MAX], size_t *nroute)
{
	unsigned n = m->nrecord_route;

	if (n > SIP_DIALOG_ROUTES_MAX)
		return EMSGSIZE;
	for (unsigned i = 0; i < n; i++) {
		unsigned j = reverse ? n - 1 - i : i;

		route[i] = dup_slice(m->record_route[j].uri_str);
	}
	*nroute = n;
	return 0;
}

static void
routes_free(char **route, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(route[i]);
		route[i] = NULL;
	}
}

void
sip_dialog_clear(struct sip_dialog *d)
{
	free(d->call_id);
	free(d->local_tag);
	free(d->remote_tag);
	free(d->local_uri);
	free(d->remote_uri);
	free(d->remote_target);
	d->call_id = d->local_tag = d->remote_tag = NULL;
	d->local_uri = d->remote_uri = d->remote_target = NULL;
	routes_free(d->route, d->nroute);
	d->nroute = 0;
}

/*
 * A new dialog replaces whatever d held, except its owner: the usage
 * may have set that before the dialog existed.  d's old strings are
 * not freed (d may be fresh memory); the owner clears a dialog first.
 */
static void
dialog_install(struct sip_dialog *d, struct sip_dialog *nd)
{
	nd->owner = d->owner;
	nd->hnext = NULL;
	nd->in_table = false;
	*d = *nd;
}

/* ---- creating and confirming --------------------------------------------- */

int
sip_dialog_uac(struct sip_dialog *d, const struct sip_msg *req,
    const struct sip_msg *resp)
{
	struct sip_dialog nd;
	struct slice target = SLICE_NULL;
	bool final;
	int rc;

	if (!req->request || resp->request || resp->status < 101 ||
	    resp->status > 299)
		return EINVAL;
	if (req->call_id.n == 0 || req->from.tag.n == 0 || resp->to.tag.n == 0)
		return EINVAL;
	final = resp->status >= 200;
	/*
	 * §12.1.2: a 2xx must carry a Contact.  A 1xx without one still
	 * makes an early dialog; it cannot be sent requests until the 2xx
	 * brings the target.
	 */
	if (!contact_uri(resp, &target) && final)
		return EINVAL;

	memset(&nd, 0, sizeof(nd));
	if ((rc = routes_from(resp, true, nd.route, &nd.nroute)) != 0)
		return rc;
	nd.state = final ? SIP_DIALOG_CONFIRMED : SIP_DIALOG_EARLY;
	nd.uac = true;
	nd.secure = req->ruri.scheme == SIP_URI_SIPS;
	nd.call_id = dup_slice(req->call_id);
	nd.local_tag = dup_slice(req->from.tag);
	nd.remote_tag = dup_slice(resp->to.tag);
	nd.local_uri = nameaddr_notag(&req->from);
	nd.remote_uri = nameaddr_notag(&resp->to);
	nd.remote_target = dup_slice(target);
	nd.local_cseq = req->cseq.num;
	nd.remote_cseq = 0;
	nd.remote_cseq_set = false;
	dialog_install(d, &nd);
	return 0;
}

int
sip_dialog_uas(struct sip_dialog *d, const struct sip_msg *req,
    const char *local_tag)
{
	struct sip_dialog nd;
	struct slice target;
	char hex[9];
	int rc;

	if (!req->request || req->call_id.n == 0 || req->from.tag.n == 0 ||
	    local_tag == NULL || *local_tag == '\0')
		return EINVAL;
	if (!contact_uri(req, &target))
		return EINVAL;

	memset(&nd, 0, sizeof(nd));
	if ((rc = routes_from(req, false, nd.route, &nd.nroute)) != 0)
		return rc;
	nd.state = SIP_DIALOG_EARLY;
	nd.uac = false;
	nd.secure = req->ruri.scheme == SIP_URI_SIPS;
	nd.call_id = dup_slice(req->call_id);
	nd.local_tag = xstrdup(local_tag);
	nd.remote_tag = dup_slice(req->from.tag);
	nd.local_uri = nameaddr_notag(&req->to);
	nd.remote_uri = nameaddr_notag(&req->from);
	nd.remote_target = dup_slice(target);
	/* §8.1.1.5: a random start below 2^31 for the requests we send. */
	random_hex(hex, 4);
	nd.local_cseq = (uint32_t)strtoul(hex, NULL, 16) & 0x7fffffffu;
	nd.remote_cseq = req->cseq.num;
	nd.remote_cseq_set = true;
	dialog_install(d, &nd);
	return 0;
}

int
sip_dialog_confirm(struct sip_dialog *d, const struct sip_msg *resp)
{
	char *route[SIP_DIALOG_ROUTES_MAX];
	size_t nroute;
	struct slice target;
	int rc;

	if (d->state == SIP_DIALOG_TERMINATED)
		return EINVAL;
	/*
	 * §12.2.1.2: a confirmed dialog's route set never changes; a 2xx
	 * retransmitted (or one to a re-INVITE) changes nothing here.
	 */
	if (d->state == SIP_DIALOG_CONFIRMED)
		return 0;
	if (!d->uac) {
		d->state = SIP_DIALOG_CONFIRMED;
		return 0;
	}
	if (resp == NULL || resp->request || resp->status < 200 ||
	    resp->status > 299 || resp->to.tag.n == 0)
		return EINVAL;
	/* The 2xx of another fork belongs to another dialog. */
	if (d->remote_tag != NULL && *d->remote_tag != '\0' &&
	    !slice_eq_cstr(resp->to.tag, d->remote_tag))
		return EINVAL;
	if (!contact_uri(resp, &target))
		return EINVAL;
	/* §13.2.2.4: the 2xx's Record-Route replaces the early route set. */
	if ((rc = routes_from(resp, true, route, &nroute)) != 0)
		return rc;
	routes_free(d->route, d->nroute);
	memcpy(d->route, route, nroute * sizeof(route[0]));
	d->nroute = nroute;
	free(d->remote_target);
	d->remote_target = dup_slice(target);
	if (d->remote_tag == NULL || *d->remote_tag == '\0') {
		free(d->remote_tag);
		d->remote_tag = dup_slice(resp->to.tag);
	}
	d->state = SIP_DIALOG_CONFIRMED;
	return 0;
}

int
sip_dialog_refresh_target(struct sip_dialog *d, const struct sip_msg *m)
{
	enum sip_method method = m->request ? m->method : m->cseq.method;
	struct slice target;

	/* §12.2: re-INVITE and UPDATE (RFC 3311) refresh the target. */
	if (method != SIP_METHOD_INVITE && method != SIP_METHOD_UPDATE)
		return 0;
	if (!m->request && (m->status < 200 || m->status > 299))
		return 0;
	if (!m->contact_star && m->ncontact == 0)
		return 0;
	if (!contact_uri(m, &target))
		return EINVAL;
	free(d->remote_target);
	d->remote_target = dup_slice(target);
	return 0;
}

/* ---- in the dialog ------------------------------------------------------- */

unsigned
sip_dialog_check_cseq(struct sip_dialog *d, const struct sip_msg *req)
{
	uint32_t n = req->cseq.num;

	/* ACK and CANCEL reuse the number of the INVITE they belong to. */
	if (req->method == SIP_METHOD_ACK || req->method == SIP_METHOD_CANCEL)
		return 0;
	if (d->remote_cseq_set && (n < d->remote_cseq ||
	    n == d->remote_cseq))
		return 500;
	d->remote_cseq = n;
	d->remote_cseq_set = true;
	return 0;
}

uint32_t
sip_dialog_next_cseq(struct sip_dialog *d)
{
	return ++d->local_cseq;
}

/*
 * A URI fit for a Request-URI (§19.1.1's table): no method parameter
 * and no headers, which a route or a Contact may carry.  Anything else
 * goes as it was written.
 */
static void
add_ruri(struct strbuf *sb, const char *s)
{
	struct sip_uri u;
	const char *p, *e;

	if (sip_uri_parse(&u, s, strlen(s), NULL) != 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS) ||
	    (u.method.p == NULL && u.headers.p == NULL)) {
		strbuf_adds(sb, s);
		return;
	}
	if (u.params.p == NULL) {
		/* Headers only: cut at the '?'. */
		strbuf_add(sb, s, (size_t)(u.headers.p - 1 - s));
		return;
	}
	strbuf_add(sb, s, (size_t)(u.params.p - 1 - s));
	for (p = u.params.p; p < u.params.p + u.params.n; p = e + 1) {
		const char *eq;
		size_t nlen;

		e = memchr(p, ';', (size_t)(u.params.p + u.params.n - p));
		if (e == NULL)
			e = u.params.p + u.params.n;
		eq = memchr(p, '=', (size_t)(e - p));
		nlen = (size_t)((eq != NULL ? eq : e) - p);
		if (nlen == 6 && strncasecmp(p, "method", 6) == 0)
			continue;
		strbuf_addc(sb, ';');
		strbuf_add(sb, p, (size_t)(e - p));
	}
}

static bool
route_is_loose(const char *s)
{
	struct sip_uri u;

	/* A route we cannot read is taken as loose: it is only forwarded. */
	if (sip_uri_parse(&u, s, strlen(s), NULL) != 0)
		return true;
	return u.lr;
}

int
sip_dialog_request(const struct sip_dialog *d, struct sip_build *b,
    const char *method, uint32_t cseq)
{
	struct strbuf ruri = STRBUF_INIT;
	bool strict;
	size_t first;
	int rc = 0;

	if (d->remote_target == NULL || *d->remote_target == '\0' ||
	    d->call_id == NULL || d->local_tag == NULL)
		return EINVAL;
	/*
	 * §12.2.1.1: a strict router (no ;lr) at the head of the route set
	 * must see itself as the Request-URI; the remote target rides at
	 * the end of Route so that it can put it back.
	 */
	strict = d->nroute > 0 && !route_is_loose(d->route[0]);
	add_ruri(&ruri, strict ? d->route[0] : d->remote_target);
	sip_build_request(b, method, ruri.p);
	strbuf_free(&ruri);

	first = strict ? 1 : 0;
	for (size_t i = first; i < d->nroute && rc == 0; i++)
		rc = sip_build_addf(b, SIP_HDR_ROUTE, "<%s>", d->route[i]);
	if (strict && rc == 0)
		rc = sip_build_addf(b, SIP_HDR_ROUTE, "<%s>",
		    d->remote_target);
	if (rc == 0)
		rc = sip_build_addf(b, SIP_HDR_FROM, "%s;tag=%s",
		    d->local_uri, d->local_tag);
	if (rc == 0) {
		if (d->remote_tag != NULL && *d->remote_tag != '\0')
			rc = sip_build_addf(b, SIP_HDR_TO, "%s;tag=%s",
			    d->remote_uri, d->remote_tag);
		else
			rc = sip_build_add(b, SIP_HDR_TO, d->remote_uri);
	}
	if (rc == 0)
		rc = sip_build_add(b, SIP_HDR_CALL_ID, d->call_id);
	if (rc == 0)
		rc = sip_build_addf(b, SIP_HDR_CSEQ, "%u %s", cseq, method);
	return rc;
}

const char *
sip_dialog_next_hop(const struct sip_dialog *d)
{
	if (d->nroute > 0)
		return d->route[0];
	if (d->remote_target != NULL && *d->remote_target != '\0')
		return d->remote_target;
	return NULL;
}

void
sip_dialog_id_str(const struct sip_dialog *d, char *out, size_t len)
{
	if (len == 0)
		return;
	snprintf(out, len, "%s;local=%s;remote=%s",
	    d->call_id != NULL ? d->call_id : "",
	    d->local_tag != NULL ? d->local_tag : "",
	    d->remote_tag != NULL ? d->remote_tag : "");
}

const char *
sip_dialog_state_name(enum sip_dialog_state s)
{
	switch (s) {
	case SIP_DIALOG_EARLY:		return "early";
	case SIP_DIALOG_CONFIRMED:	return "confirmed";
	case SIP_DIALOG_TERMINATED:	return "terminated";
	}
	return "?";
}

/* ---- the table ----------------------------------------------------------- */

/* Buckets: a power of two, at least this many. */
#define DIALOG_BUCKETS_MIN	64

struct sip_dialog_table {
	struct sip_dialog	**v;
	size_t			  n;		/* buckets */
	size_t			  count;
	uint64_t		  key[2];
};

/*
 * SipHash-2-4 over the three ID parts, each preceded by its length so
 * that moving bytes from one part to the next changes the hash.  Call-ID
 * and tags compare byte by byte (§19.3, §20.8), so nothing is folded.
 */
struct dhash {
	uint64_t	v0, v1, v2, v3;
	uint64_t	word;		/* bytes not yet mixed in */
	uint64_t	total;
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
dhash_sipround(struct dhash *h)
{
	h->v0 += h->v1; h->v1 = ROTL(h->v1, 13); h->v1 ^= h->v0;
	h->v0 = ROTL(h->v0, 32);
	h->v2 += h->v3; h->v3 = ROTL(h->v3, 16); h->v3 ^= h->v2;
	h->v0 += h->v3; h->v3 = ROTL(h->v3, 21); h->v3 ^= h->v0;
	h->v2 += h->v1; h->v1 = ROTL(h->v1, 17); h->v1 ^= h->v2;
	h->v2 = ROTL(h->v2, 32);
}

static void
dhash_mix(struct dhash *h, uint64_t m)
{
	h->v3 ^= m;
	dhash_sipround(h);
	dhash_sipround(h);
	h->v0 ^= m;
}

static void
dhash_byte(struct dhash *h, unsigned char c)
{
	h->word |= (uint64_t)c << (8 * (h->total % 8));
	if (++h->total % 8 == 0) {
		dhash_mix(h, h->word);
		h->word = 0;
	}
}

static void
dhash_part(struct dhash *h, struct slice s)
{
	for (unsigned i = 0; i < 4; i++)
		dhash_byte(h, (unsigned char)(s.n >> (8 * i)));
	for (size_t i = 0; i < s.n; i++)
		dhash_byte(h, (unsigned char)s.p[i]);
}

static size_t
dialog_hash(const struct sip_dialog_table *t, struct slice call_id,
    struct slice local_tag, struct slice remote_tag)
{
	struct dhash h;
	uint64_t r;

	h.v0 = t->key[0] ^ 0x736f6d6570736575ULL;
	h.v1 = t->key[1] ^ 0x646f72616e646f6dULL;
	h.v2 = t->key[0] ^ 0x6c7967656e657261ULL;
	h.v3 = t->key[1] ^ 0x7465646279746573ULL;
	h.word = 0;
	h.total = 0;
	dhash_part(&h, call_id);
	dhash_part(&h, local_tag);
	dhash_part(&h, remote_tag);
	dhash_mix(&h, (h.total << 56) | h.word);
	h.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		dhash_sipround(&h);
	r = h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
	return (size_t)r;
}

static size_t
dialog_bucket(const struct sip_dialog_table *t, const struct sip_dialog *d)
{
	return dialog_hash(t, slice_cstr(d->call_id), slice_cstr(d->local_tag),
	    slice_cstr(d->remote_tag)) & (t->n - 1);
}

static bool
dialog_is(const struct sip_dialog *d, struct slice call_id,
    struct slice local_tag, struct slice remote_tag)
{
	return slice_eq_cstr(call_id, d->call_id) &&
	    slice_eq_cstr(local_tag, d->local_tag) &&
	    slice_eq_cstr(remote_tag, d->remote_tag);
}

struct sip_dialog_table *
sip_dialog_table_new(void)
{
	struct sip_dialog_table *t = xcalloc(1, sizeof(*t));
	char hex[33];

	random_hex(hex, 16);
	t->key[1] = strtoull(hex + 16, NULL, 16);
	hex[16] = '\0';
	t->key[0] = strtoull(hex, NULL, 16);
	t->n = DIALOG_BUCKETS_MIN;
	t->v = xcalloc(t->n, sizeof(*t->v));
	return t;
}

void
sip_dialog_table_free(struct sip_dialog_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		struct sip_dialog *d, *next;

		for (d = t->v[i]; d != NULL; d = next) {
			next = d->hnext;
			d->hnext = NULL;
			d->in_table = false;
		}
	}
	free(t->v);
	free(t);
}

/* Moves every dialog to a table of n buckets (a power of two). */
static void
table_resize(struct sip_dialog_table *t, size_t n)
{
	struct sip_dialog **old = t->v;
	size_t oldn = t->n;

	t->v = xcalloc(n, sizeof(*t->v));
	t->n = n;
	for (size_t i = 0; i < oldn; i++) {
		struct sip_dialog *d, *next;

		for (d = old[i]; d != NULL; d = next) {
			size_t b = dialog_bucket(t, d);

			next = d->hnext;
			d->hnext = t->v[b];
			t->v[b] = d;
		}
	}
	free(old);
}

int
sip_dialog_table_add(struct sip_dialog_table *t, struct sip_dialog *d)
{
	size_t b;

	if (d->call_id == NULL || d->local_tag == NULL ||
	    d->remote_tag == NULL || *d->remote_tag == '\0')
		return EINVAL;
	if (d->in_table || sip_dialog_table_find(t, slice_cstr(d->call_id),
	    slice_cstr(d->local_tag), slice_cstr(d->remote_tag)) != NULL)
		return EEXIST;
	/* One dialog per bucket on average keeps chains short. */
	if (t->count >= t->n)
		table_resize(t, t->n * 2);
	b = dialog_bucket(t, d);
	d->hnext = t->v[b];
	t->v[b] = d;
	d->in_table = true;
	t->count++;
	return 0;
}

void
sip_dialog_table_remove(struct sip_dialog_table *t, struct sip_dialog *d)
{
	struct sip_dialog **pp;

	if (!d->in_table)
		return;
	for (pp = &t->v[dialog_bucket(t, d)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == d) {
			*pp = d->hnext;
			d->hnext = NULL;
			d->in_table = false;
			t->count--;
			break;
		}
	}
	/*
	 * Give the buckets back after a peak (a load test, a flood), with
	 * room between the shrink and grow points so that a count that
	 * hovers does not rehash back and forth.
	 */
	if (t->n > DIALOG_BUCKETS_MIN && t->count < t->n / 8)
		table_resize(t, t->n / 2);
}

struct sip_dialog *
sip_dialog_table_find(const struct sip_dialog_table *t, struct slice call_id,
    struct slice local_tag, struct slice remote_tag)
{
	struct sip_dialog *d;

	d = t->v[dialog_hash(t, call_id, local_tag, remote_tag) & (t->n - 1)];
	for (; d != NULL; d = d->hnext)
		if (dialog_is(d, call_id, local_tag, remote_tag))
			return d;
	return NULL;
}

struct sip_dialog *
sip_dialog_table_find_request(const struct sip_dialog_table *t,
    const struct sip_msg *req)
{
	/* Without a To tag a request starts a dialog; it is in none. */
	if (req->to.tag.n == 0 || req->from.tag.n == 0)
		return NULL;
	return sip_dialog_table_find(t, req->call_id, req->to.tag,
	    req->from.tag);
}

size_t
sip_dialog_table_count(const struct sip_dialog_table *t)
{
	return t->count;
}
