/*
 * Reply and event presentation for sipxctl (see ctl_output.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/strbuf.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ctl_output.h"

void
out_reply_init(struct out_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static void
out_record_free(struct out_record *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->fields[i].key);
		free(rec->fields[i].value);
	}
	free(rec->fields);
}

void
out_reply_free(struct out_reply *r)
{
	free(r->code);
	free(r->message);
	for (size_t i = 0; i < r->nrecords; i++)
		out_record_free(&r->records[i]);
	free(r->records);
	memset(r, 0, sizeof(*r));
}

int
out_reply_status(struct out_reply *r, const char *line)
{
	if (strncmp(line, "OK", 2) == 0 && (line[2] == '\0' ||
	    line[2] == ' ')) {
		r->ok = true;
		r->message = xstrdup(line[2] ? line + 3 : "");
		return 0;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		const char *code = line + 4;
		size_t n = strcspn(code, " ");

		r->ok = false;
		r->code = xstrndup(code, n);
		r->message = xstrdup(code[n] ? code + n + 1 : "");
		return 0;
	}
	return -1;
}

int
out_reply_add_line(struct out_reply *r, const char *line)
{
	size_t len = strlen(line);
	char *copy = xstrndup(line, len);
	struct ctl_tokens tok;
	struct out_record rec = { NULL, 0 };
	const char *why;
	char *key, *value;

	if (ctl_line_split(copy, len, &tok, &why) != 0) {
		free(copy);
		return -1;
	}
	rec.fields = xcalloc((size_t)tok.argc + 1, sizeof(*rec.fields));
	for (int i = 0; i < tok.argc; i++) {
		if (ctl_kv_split(tok.argv[i], &key, &value) != 0) {
			out_record_free(&rec);
			free(copy);
			return -1;
		}
		rec.fields[rec.n].key = xstrdup(key);
		rec.fields[rec.n].value = xstrdup(value);
		rec.n++;
	}
	free(copy);
	r->records = xreallocarray(r->records, r->nrecords + 1,
	    sizeof(*r->records));
	r->records[r->nrecords++] = rec;
	return 0;
}

static const char *
out_record_get(const struct out_record *rec, const char *key)
{
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return rec->fields[i].value;
	return NULL;
}

int
out_reply_from_result(struct out_reply *r, const char *line,
    const char *id)
{
	struct out_reply ev;
	struct out_record *rec, out = { NULL, 0 };
	const char *type, *v;
	size_t tn;

	if (strncmp(line, "EVENT ", 6) != 0)
		return 0;
	type = line + 6;
	tn = strcspn(type, " ");
	if (tn < 7 || strncmp(type + tn - 7, ".result", 7) != 0)
		return 0;
	out_reply_init(&ev);
	if (out_reply_add_line(&ev, type[tn] ? type + tn + 1 : "") != 0)
		return -1;
	rec = &ev.records[0];
	if ((v = out_record_get(rec, "id")) == NULL || strcmp(v, id) != 0) {
		out_reply_free(&ev);
		return 0;
	}
	out_reply_init(r);
	v = out_record_get(rec, "result");
	r->ok = v != NULL && strcmp(v, "ok") == 0;
	if (!r->ok) {
		v = out_record_get(rec, "code");
		r->code = xstrdup(v != NULL ? v : "failed");
		v = out_record_get(rec, "error");
		r->message = xstrdup(v != NULL ? v : "");
	} else
		r->message = xstrdup("");
	/* What the reply's record held: the fields after the job's own. */
	out.fields = xcalloc(rec->n + 1, sizeof(*out.fields));
	for (size_t i = 0; i < rec->n; i++) {
		const char *k = rec->fields[i].key;

		if (strcmp(k, "seq") == 0 || strcmp(k, "time") == 0 ||
		    strcmp(k, "id") == 0 || strcmp(k, "result") == 0 ||
		    strcmp(k, "code") == 0 || strcmp(k, "error") == 0)
			continue;
		out.fields[out.n].key = xstrdup(k);
		out.fields[out.n].value = xstrdup(rec->fields[i].value);
		out.n++;
	}
	if (out.n > 0) {
		r->records = xcalloc(1, sizeof(*r->records));
		r->records[0] = out;
		r->nrecords = 1;
	} else
		free(out.fields);
	out_reply_free(&ev);
	return 1;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* JSON must be UTF-8: invalid bytes become U+FFFD. */
void
out_json_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)s);

			if (n == 0) {
				fputs("\\ufffd", fp);
			} else {
				fwrite(s, 1, n, fp);
				s += n - 1;
			}
			continue;
		}

		switch (c) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\t': fputs("\\t", fp); break;
		case '\r': fputs("\\r", fp); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(fp, "\\u%04x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

/* Plain decimal integers (no sign games, no leading zeros) are numbers. */
static bool
json_is_number(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void
json_value(FILE *fp, const char *v)
{
	if (json_is_number(v))
		fputs(v, fp);
	else
		out_json_string(fp, v);
}

static void
json_record(FILE *fp, const struct out_record *rec)
{
	fputc('{', fp);
	for (size_t i = 0; i < rec->n; i++) {
		if (i > 0)
			fputc(',', fp);
		out_json_string(fp, rec->fields[i].key);
		fputc(':', fp);
		json_value(fp, rec->fields[i].value);
	}
	fputc('}', fp);
}

static void
print_json(const struct out_reply *r, FILE *out)
{
	fputs("{\"status\":", out);
	out_json_string(out, r->ok ? "OK" : "ERR");
	if (!r->ok) {
		fputs(",\"code\":", out);
		out_json_string(out, r->code);
	}
	fputs(",\"message\":", out);
	out_json_string(out, r->message);
	fputs(",\"data\":[", out);
	for (size_t i = 0; i < r->nrecords; i++) {
		if (i > 0)
			fputc(',', out);
		json_record(out, &r->records[i]);
	}
	fputs("]}\n", out);
}

static void
print_list(const struct out_record *rec, FILE *out)
{
	size_t w = 0;

	for (size_t i = 0; i < rec->n; i++)
		if (strlen(rec->fields[i].key) > w)
			w = strlen(rec->fields[i].key);
	for (size_t i = 0; i < rec->n; i++)
		fprintf(out, "%s:%*s %s\n", rec->fields[i].key,
		    (int)(w - strlen(rec->fields[i].key)), "",
		    rec->fields[i].value);
}

static const char *
record_get(const struct out_record *rec, const char *key)
{
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return rec->fields[i].value;
	return "";
}

/* "1764074000.120" as local time: the clock only when it is today. */
static const char *
clock_time(const char *v, char *buf, size_t size)
{
	struct tm tm, now_tm;
	time_t t, now = time(NULL);
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end != '\0' || !(d >= 0) || d > 1e15)
		return v;
	t = (time_t)d;
	if (localtime_r(&t, &tm) == NULL || localtime_r(&now, &now_tm) == NULL)
		return v;
	if (strftime(buf, size, tm.tm_year == now_tm.tm_year &&
	    tm.tm_yday == now_tm.tm_yday ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S",
	    &tm) == 0)
		return v;
	return buf;
}

static bool
time_column(const char *col)
{
	return strcmp(col, "time") == 0 || strcmp(col, "start") == 0 ||
	    strcmp(col, "answer") == 0 || strcmp(col, "end") == 0 ||
	    strcmp(col, "last_notify_at") == 0;
}

static const char *
cell(const struct out_record *rec, const char *col, bool clock, char *buf,
    size_t size)
{
	const char *v = record_get(rec, col);

	if (clock && time_column(col) && v[0] != '\0')
		return clock_time(v, buf, size);
	return v;
}

static bool
table_has_key(const struct out_record *recs, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < recs[i].n; j++)
			if (strcmp(recs[i].fields[j].key, k) == 0)
				return true;
	return false;
}

/*
 * The table's columns: those of want (space-separated) that some record
 * has, in want's order; with want NULL, or when a daemon of another
 * version has none of them, the union of keys in first-seen order.
 * The names point into the records or into *owned.
 */
static const char **
table_columns(const struct out_record *recs, size_t n, const char *want,
    size_t *ncols, char **owned)
{
	const char **cols = NULL;
	char *save = NULL;

	*ncols = 0;
	*owned = NULL;
	if (want != NULL) {
		*owned = xstrdup(want);
		for (char *k = strtok_r(*owned, " ", &save); k != NULL;
		    k = strtok_r(NULL, " ", &save)) {
			if (!table_has_key(recs, n, k))
				continue;
			cols = xreallocarray(cols, *ncols + 1, sizeof(*cols));
			cols[(*ncols)++] = k;
		}
		if (*ncols > 0)
			return cols;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < recs[i].n; j++) {
			const char *k = recs[i].fields[j].key;
			size_t c;

			for (c = 0; c < *ncols; c++)
				if (strcmp(cols[c], k) == 0)
					break;
			if (c == *ncols) {
				cols = xreallocarray(cols, *ncols + 1,
				    sizeof(*cols));
				cols[(*ncols)++] = k;
			}
		}
	return cols;
}

/* Aligned columns, headers upper case; clock: "time" as local time. */
static void
print_table(const struct out_record *recs, size_t n, const char *want,
    bool clock, FILE *out)
{
	char buf[64], *owned;
	size_t ncols, *width;
	const char **cols = table_columns(recs, n, want, &ncols, &owned);

	width = xcalloc(ncols + 1, sizeof(*width));
	for (size_t c = 0; c < ncols; c++) {
		width[c] = strlen(cols[c]);
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(cell(&recs[i], cols[c], clock, buf,
			    sizeof(buf)));

			if (l > width[c])
				width[c] = l;
		}
	}
	for (size_t c = 0; c < ncols; c++) {
		for (const char *p = cols[c]; *p; p++)
			fputc(toupper((unsigned char)*p), out);
		if (c + 1 < ncols)
			fprintf(out, "%*s", (int)(width[c] - strlen(cols[c]) +
			    2), "");
	}
	fputc('\n', out);
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *v = cell(&recs[i], cols[c], clock, buf,
			    sizeof(buf));

			if (c + 1 < ncols)
				fprintf(out, "%-*s  ", (int)width[c], v);
			else
				fputs(v, out);
		}
		fputc('\n', out);
	}
	free(width);
	free(cols);
	free(owned);
}

static const char *
first_key(const struct out_record *rec)
{
	return rec->n > 0 ? rec->fields[0].key : "";
}

/*
 * `account NAME`: the account as key: value lines, then its parts (the
 * registrar's bindings, the last attempts), each kind a table of its own
 * after a blank line.
 */
static void
print_sections(const struct out_reply *r, FILE *out)
{
	size_t i = 1, j;

	print_list(&r->records[0], out);
	for (; i < r->nrecords; i = j) {
		for (j = i + 1; j < r->nrecords; j++)
			if (strcmp(first_key(&r->records[j]),
			    first_key(&r->records[i])) != 0)
				break;
		fputc('\n', out);
		print_table(&r->records[i], j - i, NULL, true, out);
	}
}

/* A text value as indented lines (CR LF or LF), "(none)" if empty. */
static void
print_text_block(const char *v, FILE *out)
{
	if (v[0] == '\0') {
		fputs("  (none)\n", out);
		return;
	}
	while (*v != '\0') {
		size_t n = strcspn(v, "\r\n");

		fprintf(out, "  %.*s\n", (int)n, v);
		v += n;
		if (*v == '\r')
			v++;
		if (*v == '\n')
			v++;
	}
}

/*
 * `call ID`: the call as key: value lines, then its SDP bodies and its
 * timeline as text blocks.  Records with more than one field (a newer
 * daemon's) are shown as key: value lists.
 */
static void
print_detail(const struct out_reply *r, FILE *out)
{
	const char *last = "";

	print_list(&r->records[0], out);
	for (size_t i = 1; i < r->nrecords; i++) {
		const struct out_record *rec = &r->records[i];

		if (rec->n != 1) {
			fputc('\n', out);
			print_list(rec, out);
			last = "";
			continue;
		}
		if (strcmp(rec->fields[0].key, last) != 0) {
			last = rec->fields[0].key;
			fprintf(out, "\n%s:\n", strcmp(last, "event") == 0 ?
			    "timeline" : last);
		}
		print_text_block(rec->fields[0].value, out);
	}
}

int
out_print_reply(const struct out_reply *r, enum out_style style,
    const char *columns, bool json, FILE *out, FILE *err)
{
	if (json) {
		print_json(r, out);
		return r->ok ? 0 : 1;
	}
	if (!r->ok) {
		fprintf(err, "sipxctl: %s: %s\n", r->code, r->message);
		for (size_t i = 0; i < r->nrecords; i++)
			for (size_t j = 0; j < r->records[i].n; j++)
				fprintf(err, "  %s\n",
				    r->records[i].fields[j].value);
		return 1;
	}
	if (r->message[0] != '\0' && r->nrecords == 0)
		fprintf(out, "%s\n", r->message);
	if (r->nrecords == 0)
		return 0;
	if (style == OUT_SECTIONS)
		print_sections(r, out);
	else if (style == OUT_DETAIL)
		print_detail(r, out);
	else if (style == OUT_TABLE_TIMES)
		print_table(r->records, r->nrecords, columns, true, out);
	else if (style == OUT_TABLE || (style == OUT_AUTO && r->nrecords > 1))
		print_table(r->records, r->nrecords, columns, false, out);
	else
		for (size_t i = 0; i < r->nrecords; i++) {
			if (i > 0)
				fputc('\n', out);
			print_list(&r->records[i], out);
		}
	return 0;
}

bool
out_print_call_progress(const char *line, const char *id, bool json,
    FILE *out)
{
	const char *type, *v, *status, *reason, *by;
	struct out_reply ev;
	struct out_record *rec;
	size_t tn;

	if (strncmp(line, "EVENT call.", 11) != 0)
		return false;
	type = line + 6;
	tn = strcspn(type, " ");
	if (tn == 11 && strncmp(type, "call.result", 11) == 0)
		return false;
	out_reply_init(&ev);
	if (out_reply_add_line(&ev, type[tn] ? type + tn + 1 : "") != 0)
		return false;
	rec = &ev.records[0];
	if ((v = out_record_get(rec, "id")) == NULL || strcmp(v, id) != 0) {
		out_reply_free(&ev);
		return false;
	}
	if (json) {
		out_print_event(line, true, out);
	} else if (tn == 10 && strncmp(type, "call.state", 10) == 0) {
		status = out_record_get(rec, "status");
		reason = out_record_get(rec, "reason");
		by = out_record_get(rec, "by");
		if (status != NULL && strcmp(status, "0") == 0)
			status = NULL;
		if (reason != NULL && reason[0] == '\0')
			reason = NULL;
		v = out_record_get(rec, "state");
		fprintf(out, "call %s: %s", id, v != NULL ? v : "?");
		if (status != NULL || reason != NULL || by != NULL) {
			fputs(" (", out);
			if (status != NULL)
				fprintf(out, "%s%s", status, reason != NULL ?
				    " " : "");
			if (reason != NULL)
				fputs(reason, out);
			if (by != NULL)
				fprintf(out, "%sby %s", status != NULL ||
				    reason != NULL ? ", " : "", by);
			fputc(')', out);
		}
		fputc('\n', out);
		fflush(out);
	}
	out_reply_free(&ev);
	return true;
}

bool
out_print_response(const char *line, const char *id, bool show, bool json,
    FILE *out)
{
	const char *v, *enc, *body, *hdrs;
	struct out_reply ev;
	struct out_record *rec;

	if (strncmp(line, "EVENT request.response ", 23) != 0)
		return false;
	out_reply_init(&ev);
	if (out_reply_add_line(&ev, line + 23) != 0)
		return false;
	rec = &ev.records[0];
	if ((v = out_record_get(rec, "id")) == NULL || strcmp(v, id) != 0) {
		out_reply_free(&ev);
		return false;
	}
	if (show && json) {
		out_print_event(line, true, out);
	} else if (show) {
		hdrs = record_get(rec, "headers");
		body = record_get(rec, "body");
		enc = record_get(rec, "encoding");
		fprintf(out, "SIP/2.0 %s %s\n", record_get(rec, "status"),
		    record_get(rec, "reason"));
		if (hdrs[0] != '\0')
			fprintf(out, "%s\n", hdrs);
		if (body[0] != '\0') {
			fputc('\n', out);
			if (enc[0] != '\0')
				fprintf(out, "[body in %s]\n", enc);
			fputs(body, out);
			if (body[strlen(body) - 1] != '\n')
				fputc('\n', out);
		}
		fputc('\n', out);
		fflush(out);
	}
	out_reply_free(&ev);
	return true;
}

/* A traced SIP message: a header line, then the message as sent. */
static void
print_trace(const char *fields, FILE *out)
{
	struct out_reply r;

	out_reply_init(&r);
	if (out_reply_add_line(&r, fields) != 0) {
		fprintf(out, "%s\n", fields);
		return;
	}
	fprintf(out, "--- %s %s %s %s %s\n",
	    record_get(&r.records[0], "time"),
	    record_get(&r.records[0], "transport"),
	    record_get(&r.records[0], "local"),
	    strcmp(record_get(&r.records[0], "dir"), "in") == 0 ? "<-" : "->",
	    record_get(&r.records[0], "peer"));
	fputs(record_get(&r.records[0], "text"), out);
	fputc('\n', out);
	fflush(out);
	out_reply_free(&r);
}

void
out_print_event(const char *line, bool json, FILE *out)
{
	const char *body = strncmp(line, "EVENT ", 6) == 0 ? line + 6 : line;
	size_t tlen = strcspn(body, " ");
	struct out_reply r;

	if (!json && strncmp(body, "trace.message ", 14) == 0) {
		print_trace(body + 14, out);
		return;
	}
	if (!json) {
		fprintf(out, "%s\n", body);
		fflush(out);
		return;
	}
	out_reply_init(&r);
	fputs("{\"type\":", out);
	{
		char *type = xstrndup(body, tlen);

		out_json_string(out, type);
		free(type);
	}
	if (body[tlen] != '\0' && out_reply_add_line(&r, body + tlen + 1) == 0)
		for (size_t i = 0; i < r.records[0].n; i++) {
			fputc(',', out);
			out_json_string(out, r.records[0].fields[i].key);
			fputc(':', out);
			json_value(out, r.records[0].fields[i].value);
		}
	fputs("}\n", out);
	fflush(out);
	out_reply_free(&r);
}

bool
out_print_sub_progress(const char *line, const char *id, bool json,
    FILE *out)
{
	const char *type, *v, *reason, *ct, *body;
	struct out_reply ev;
	struct out_record *rec;
	size_t tn;

	if (strncmp(line, "EVENT subscription.", 19) != 0)
		return false;
	type = line + 6;
	tn = strcspn(type, " ");
	out_reply_init(&ev);
	if (out_reply_add_line(&ev, type[tn] ? type + tn + 1 : "") != 0)
		return false;
	rec = &ev.records[0];
	if ((v = out_record_get(rec, "id")) == NULL || strcmp(v, id) != 0) {
		out_reply_free(&ev);
		return false;
	}
	if (json) {
		out_print_event(line, true, out);
	} else if (tn == 18 && strncmp(type, "subscription.state", 18) == 0) {
		v = out_record_get(rec, "state");
		reason = out_record_get(rec, "reason");
		fprintf(out, "subscription %s: %s", id, v != NULL ? v : "?");
		if (reason != NULL && reason[0] != '\0')
			fprintf(out, " (%s)", reason);
		fputc('\n', out);
	} else if (tn == 19 && strncmp(type, "subscription.notify", 19) ==
	    0) {
		v = out_record_get(rec, "state");
		ct = out_record_get(rec, "content_type");
		body = out_record_get(rec, "body");
		fprintf(out, "subscription %s: NOTIFY %s, %s, %zu bytes\n", id,
		    v != NULL && v[0] != '\0' ? v : "-",
		    ct != NULL && ct[0] != '\0' ? ct : "no body",
		    body != NULL ? strlen(body) : 0);
	} else {
		fprintf(out, "%.*s\n", (int)strlen(type), type);
	}
	fflush(out);
	out_reply_free(&ev);
	return true;
}
