/*
 * sipxctl's presentation of replies and events: aligned tables and
 * "key: value" lists for people, JSON for programs.  Parses data lines
 * with the shared line codec; knows nothing about sockets.
 */
#ifndef SIPX_CTL_OUTPUT_H
#define SIPX_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

enum out_style {
	OUT_AUTO,	/* table for several records, list for one */
	OUT_TABLE,	/* always a table (lists of things) */
	OUT_RECORD,	/* always key: value (one thing) */
	/* One thing and its parts: the first record as key: value, then
	 * each run of records that share their first key as a table, its
	 * "time" column as a local clock time. */
	OUT_SECTIONS,
	/* A table whose time columns (time, start, answer, end: Unix
	 * seconds) show as local clock times. */
	OUT_TABLE_TIMES,
	/* One thing and its texts (`call ID`): the first record as key:
	 * value, then each run of one-field records under its key, their
	 * values as indented text (an SDP body, a timeline). */
	OUT_DETAIL,
};

struct out_field {
	char	*key;
	char	*value;
};

struct out_record {
	struct out_field	*fields;
	size_t			 n;
};

struct out_reply {
	bool			 ok;
	char			*code;		/* ERR only */
	char			*message;	/* text after OK / code */
	struct out_record	*records;
	size_t			 nrecords;
};

void	out_reply_init(struct out_reply *);
void	out_reply_free(struct out_reply *);
/* Status line ("OK …" / "ERR code …"); -1 if it is neither. */
int	out_reply_status(struct out_reply *, const char *line);
/* One data line; -1 if it does not parse. */
int	out_reply_add_line(struct out_reply *, const char *line);

/*
 * A job's result event ("EVENT <kind>.result ... id=ID result=ok|failed
 * [code= error=] fields") as the reply it stands for.  1 if line is the
 * result of job id (r filled), 0 if it is another line, -1 if it does
 * not parse.
 */
int	out_reply_from_result(struct out_reply *r, const char *line,
	    const char *id);

/*
 * Prints the reply: data to out, an ERR to err; returns the exit code.
 * columns (space-separated keys, or NULL for all) narrows text tables to
 * what a person scans; JSON always carries every field.
 */
int	out_print_reply(const struct out_reply *, enum out_style,
	    const char *columns, bool json, FILE *out, FILE *err);
/*
 * `call ... --wait`: if line is an event of call id (not its result),
 * prints it (for people as "call 7: proceeding (180 Ringing)", only
 * call.state; as JSON every call.* event) and returns true.
 */
bool	out_print_call_progress(const char *line, const char *id, bool json,
	    FILE *out);
/*
 * `request` and `message`: if line is a request.response of job id,
 * prints it (for people as the response's status line, headers and
 * body when show is set; as JSON the event) and returns true.
 */
bool	out_print_response(const char *line, const char *id, bool show,
	    bool json, FILE *out);
/*
 * `subscribe ... --wait`: the same for subscription id's events (for
 * people "subscription 9: active", "subscription 9: NOTIFY active,
 * application/pidf+xml, 212 bytes").
 */
bool	out_print_sub_progress(const char *line, const char *id, bool json,
	    FILE *out);
/* Prints one "EVENT …" line. */
void	out_print_event(const char *line, bool json, FILE *out);
void	out_json_string(FILE *, const char *);

#endif
