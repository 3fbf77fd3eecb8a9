/*
 * Command table dispatch and reply building (see cmd.h).  Knows the
 * protocol's reply shape but nothing of what any command does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/ctl_line.h"
#include "cmd.h"

void
cmd_reply_init(struct cmd_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = true;
}

void
cmd_reply_reset(struct cmd_reply *r)
{
	r->ok = true;
	r->in_record = false;
	r->close_after = false;
	r->subscribe = false;
	r->sub_account = NULL;
	strbuf_reset(&r->status);
	strbuf_reset(&r->data);
}

void
cmd_reply_free(struct cmd_reply *r)
{
	strbuf_free(&r->status);
	strbuf_free(&r->data);
}

/* Status texts are one line: newlines would break framing. */
static void
cmd_status_sanitize(struct strbuf *sb, size_t from)
{
	for (size_t i = from; i < sb->n; i++)
		if (sb->p[i] == '\n' || sb->p[i] == '\r')
			sb->p[i] = ' ';
}

void
cmd_reply_ok(struct cmd_reply *r, const char *fmt, ...)
{
	va_list ap;

	r->ok = true;
	strbuf_reset(&r->status);
	strbuf_adds(&r->status, "OK");
	if (fmt == NULL || fmt[0] == '\0')
		return;
	strbuf_addc(&r->status, ' ');
	va_start(ap, fmt);
	strbuf_vaddf(&r->status, fmt, ap);
	va_end(ap);
	cmd_status_sanitize(&r->status, 3);
}

void
cmd_reply_err(struct cmd_reply *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->ok = false;
	strbuf_reset(&r->status);
	strbuf_addf(&r->status, "ERR %s ", code);
	va_start(ap, fmt);
	strbuf_vaddf(&r->status, fmt, ap);
	va_end(ap);
	cmd_status_sanitize(&r->status, 4);
}

void
cmd_reply_usage(struct cmd_reply *r, const struct cmd_entry *e)
{
	cmd_reply_err(r, "usage", "%s%s%s", e->name,
	    e->usage[0] ? " " : "", e->usage);
}

void
cmd_record_begin(struct cmd_reply *r)
{
	r->in_record = true;
}

void
cmd_record_kv(struct cmd_reply *r, const char *key, const char *value)
{
	ctl_append_kv(&r->data, key, value != NULL ? value : "");
}

void
cmd_record_kvf(struct cmd_reply *r, const char *key, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cmd_record_kv(r, key, buf);
}

void
cmd_record_end(struct cmd_reply *r)
{
	if (r->in_record)
		strbuf_addc(&r->data, '\n');
	r->in_record = false;
}

int
cmd_id_parse(const char *s, uint64_t *id)
{
	uint64_t v = 0;

	if (*s == '\0')
		return EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v == 0)
		return EINVAL;
	*id = v;
	return 0;
}

int
cmd_uint_parse(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > max)
			return EINVAL;
	}
	if (v < min)
		return EINVAL;
	*out = (unsigned)v;
	return 0;
}

const struct cmd_entry *
cmd_find(const struct cmd_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->entries[i].name, name) == 0)
			return &t->entries[i];
	return NULL;
}

void
cmd_dispatch(const struct cmd_table *t, struct cmd_ctx *ctx, int argc,
    char **argv, struct cmd_reply *r)
{
	const struct cmd_entry *e = cmd_find(t, argv[0]);
	int nargs = argc - 1;

	if (e == NULL) {
		cmd_reply_err(r, "unknown-command", "'%.64s' is not a "
		    "command; 'help' lists them", argv[0]);
		return;
	}
	if (nargs < e->min_args || (e->max_args >= 0 && nargs > e->max_args)) {
		cmd_reply_usage(r, e);
		return;
	}
	if (e->access == CMD_WRITE && ctx->readonly) {
		cmd_reply_err(r, "denied", "'%s' needs the full-access "
		    "socket: the read-only one changes nothing, sends "
		    "nothing and shows no SIP message", e->name);
		return;
	}
	cmd_reply_ok(r, NULL);
	ctx->entry = e;
	e->handler(ctx, argc, argv, r);
	ctx->entry = NULL;
}

void
cmd_help(const struct cmd_table *t, const char *only, struct cmd_reply *r)
{
	struct strbuf usage = STRBUF_INIT;

	if (only != NULL && cmd_find(t, only) == NULL) {
		cmd_reply_err(r, "not-found", "no command '%.64s'; 'help' "
		    "lists them", only);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct cmd_entry *e = &t->entries[i];

		if (only != NULL && strcmp(only, e->name) != 0)
			continue;
		strbuf_reset(&usage);
		strbuf_addf(&usage, "%s%s%s", e->name, e->usage[0] ? " " : "",
		    e->usage);
		cmd_record_begin(r);
		cmd_record_kv(r, "command", e->name);
		cmd_record_kv(r, "usage", usage.p);
		cmd_record_kv(r, "access",
		    e->access == CMD_READ ? "read" : "write");
		cmd_record_kv(r, "summary", e->summary);
		cmd_record_end(r);
	}
	strbuf_free(&usage);
}
