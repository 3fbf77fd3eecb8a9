/*
 * Control socket server (see control.h).
 *
 * Each client has an input and an output evbuffer and two events on its
 * file descriptor; the write event is armed only while output is queued.
 * Replies are written straight after the lines that asked for them are
 * processed, so a pipelined batch costs one read and one write.  No
 * request ever waits for another: lasting work runs as a job whose
 * result comes later as an event line (control_job_*).
 * A client is freed from the loop (ev_close), never from inside a
 * callback that may still hold it: event delivery and snapshot sending
 * run under the bus, which must not see its subscriber vanish.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/ids.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/queue.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "proto/ctl_line.h"
#include "ua/events.h"
#include "cmd.h"
#include "control.h"

struct control_listener {
	struct control	*ctl;
	int		 fd;
	bool		 readonly;
	bool		 created;	/* we made the file: we remove it */
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	struct event	*ev;
	struct event	*ev_pause;	/* accepts resume after EMFILE */
};

struct control_job {
	TAILQ_ENTRY(control_job) entry;
	struct control_client	*client;
	unsigned long long	 id;
	const char		*kind;		/* static: "options" */
	void			(*cancel)(void *);
	void			*arg;
	struct cmd_reply	 reply;
	/*
	 * The command that started the job has not been answered yet:
	 * progress lines wait in early, and a finish waits too, so that
	 * both follow the "OK id=N" (control_client_line releases them).
	 */
	bool			 replied;
	bool			 finished;
	struct strbuf		 early;
};

/*
 * Where live events lie in a client's output, as byte offsets counted
 * from the start of the connection: replies and the events mixed with
 * them leave in order, so the bytes written tell how much of each
 * event run the client has read.
 */
struct control_span {
	TAILQ_ENTRY(control_span) entry;
	uint64_t		 start;
	uint64_t		 end;
};

/*
 * A client's life is one state machine (enum control_client_state):
 *
 *   OPEN --replies over output_limit--> PAUSED --replies read--> OPEN
 *   OPEN/PAUSED --EOF, quit, too-long line--> DRAINING
 *   DRAINING --output written, no job running, no line left--> CLOSED
 *   any --write error, slow subscriber, read error--> CLOSED
 *
 * Every change goes through control_client_set_state(); CLOSED is the
 * one close path (the client is freed from the loop).
 */
struct control_client {
	TAILQ_ENTRY(control_client) entry;
	struct control		*ctl;
	unsigned		 id;
	int			 fd;
	bool			 readonly;
	enum control_client_state state;
	uid_t			 uid;
	pid_t			 pid;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_close;
	struct event		*ev_resume;	/* go on with buffered lines */
	struct events_sub	*sub;
	TAILQ_HEAD(, control_job) jobs;		/* started here, running */
	size_t			 njobs;
	/* The live events in out, unread: only they meet output_limit. */
	TAILQ_HEAD(control_spans, control_span) spans;
	uint64_t		 out_added;	/* bytes ever queued */
	uint64_t		 out_done;	/* bytes ever written */
	size_t			 out_events;	/* unread live event bytes */
	/* The live event last queued: a job's progress line and the
	 * client's own subscription carry the same one only once. */
	uint64_t		 last_seq;
};

struct control {
	struct event_base		*base;
	const struct cmd_table		*table;
	struct control_listener		 listeners[2];
	size_t				 nlisteners;
	TAILQ_HEAD(, control_client)	 clients;
	size_t				 nclients;
	size_t				 nreadonly;	/* of them */
	unsigned			 next_id;
	struct control_policy		 policy;
	uid_t				*allow_uids;
	gid_t				*allow_gids;
	struct cmd_reply		 reply;	/* reused for every request */
	struct strbuf			 line;	/* the live event last
						 * formatted */
	uint64_t			 line_seq;
};

static void control_client_flush(struct control_client *);
static void control_client_process(struct control_client *);
static void control_job_free(struct control_job *);

struct control *
control_new(struct event_base *base, const struct cmd_table *table)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));

	ctl->base = base;
	ctl->table = table;
	TAILQ_INIT(&ctl->clients);
	ctl->policy.max_clients = SIPX_CTL_CLIENTS_DEFAULT;
	ctl->policy.readonly_max_clients = SIPX_CTL_CLIENTS_DEFAULT;
	ctl->policy.readonly_max_per_uid = SIPX_CTL_RO_PER_UID_DEFAULT;
	ctl->policy.output_limit = SIPX_CTL_OUTPUT_DEFAULT;
	cmd_reply_init(&ctl->reply);
	return ctl;
}

void
control_set_policy(struct control *ctl, const struct control_policy *p)
{
	free(ctl->allow_uids);
	free(ctl->allow_gids);
	ctl->policy = *p;
	ctl->allow_uids = xreallocarray(NULL, p->nallow_uids + 1,
	    sizeof(uid_t));
	ctl->allow_gids = xreallocarray(NULL, p->nallow_gids + 1,
	    sizeof(gid_t));
	if (p->nallow_uids > 0)
		memcpy(ctl->allow_uids, p->allow_uids,
		    p->nallow_uids * sizeof(uid_t));
	if (p->nallow_gids > 0)
		memcpy(ctl->allow_gids, p->allow_gids,
		    p->nallow_gids * sizeof(gid_t));
	ctl->policy.allow_uids = ctl->allow_uids;
	ctl->policy.allow_gids = ctl->allow_gids;
}

size_t
control_client_count(const struct control *ctl)
{
	return ctl->nclients;
}

/* ---- clients ---------------------------------------------------------- */

const char *
control_client_state_name(enum control_client_state s)
{
	switch (s) {
	case CONTROL_CLIENT_OPEN:
		return "open";
	case CONTROL_CLIENT_PAUSED:
		return "paused";
	case CONTROL_CLIENT_DRAINING:
		return "draining";
	case CONTROL_CLIENT_CLOSED:
		return "closed";
	}
	return "?";
}

static void
control_client_free(struct control_client *c)
{
	struct control *ctl = c->ctl;
	struct control_job *job;
	struct control_span *sp;

	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	/* From the loop, never under a ua callback: the owners forget
	 * their handles, no finish will come. */
	while ((job = TAILQ_FIRST(&c->jobs)) != NULL) {
		TAILQ_REMOVE(&c->jobs, job, entry);
		job->cancel(job->arg);
		control_job_free(job);
	}
	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients--;
	if (c->readonly)
		ctl->nreadonly--;
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_close);
	event_free(c->ev_resume);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	while ((sp = TAILQ_FIRST(&c->spans)) != NULL) {
		TAILQ_REMOVE(&c->spans, sp, entry);
		free(sp);
	}
	close(c->fd);
	free(c);
}

static void
control_client_close_cb(evutil_socket_t fd, short what, void *arg)
{
	control_client_free(arg);
}

/* The one place a client changes state (see the diagram above). */
static void
control_client_set_state(struct control_client *c,
    enum control_client_state to, const char *why)
{
	enum control_client_state from = c->state;

	if (from == to || from == CONTROL_CLIENT_CLOSED)
		return;
	log_debug("control client %u: %s -> %s (%s)", c->id,
	    control_client_state_name(from), control_client_state_name(to),
	    why);
	c->state = to;
	switch (to) {
	case CONTROL_CLIENT_OPEN:
		event_add(c->ev_read, NULL);
		/* Lines that waited: from the loop, not from here. */
		event_active(c->ev_resume, EV_TIMEOUT, 0);
		break;
	case CONTROL_CLIENT_PAUSED:
	case CONTROL_CLIENT_DRAINING:
		event_del(c->ev_read);
		break;
	case CONTROL_CLIENT_CLOSED:
		/* No more lines for a closed client. */
		if (c->sub != NULL) {
			events_unsubscribe(c->sub);
			c->sub = NULL;
		}
		event_del(c->ev_read);
		event_del(c->ev_write);
		event_del(c->ev_resume);
		event_active(c->ev_close, EV_TIMEOUT, 0);
		break;
	}
}

static bool
control_client_has_line(struct control_client *c)
{
	return evbuffer_search(c->in, "\n", 1, NULL).pos != -1;
}

/* Event: all queued output is written. */
static void
control_client_on_flushed(struct control_client *c)
{
	switch (c->state) {
	case CONTROL_CLIENT_OPEN:
	case CONTROL_CLIENT_CLOSED:
		break;
	case CONTROL_CLIENT_PAUSED:
		control_client_set_state(c, CONTROL_CLIENT_OPEN,
		    "replies read");
		break;
	case CONTROL_CLIENT_DRAINING:
		/* Every reply and job result owed is out before the close. */
		if (control_client_has_line(c))
			event_active(c->ev_resume, EV_TIMEOUT, 0);
		else if (c->njobs == 0)
			control_client_set_state(c, CONTROL_CLIENT_CLOSED,
			    "everything delivered");
		break;
	}
}

/*
 * The output buffer's callback: every byte queued or written, by any
 * path (flush, shutdown), moves the offsets; written bytes leave the
 * live event runs they belonged to.
 */
static void
control_client_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *i,
    void *arg)
{
	struct control_client *c = arg;
	struct control_span *sp;
	uint64_t n;

	c->out_added += i->n_added;
	c->out_done += i->n_deleted;
	while ((sp = TAILQ_FIRST(&c->spans)) != NULL &&
	    sp->start < c->out_done) {
		n = (sp->end < c->out_done ? sp->end : c->out_done) -
		    sp->start;
		c->out_events -= (size_t)n;
		sp->start += n;
		if (sp->start < sp->end)
			break;
		TAILQ_REMOVE(&c->spans, sp, entry);
		free(sp);
	}
}

/* Queues a live event line and notes where it lies. */
static void
control_client_add_event(struct control_client *c, const void *p,
    size_t len)
{
	struct control_span *sp = TAILQ_LAST(&c->spans, control_spans);
	uint64_t start = c->out_added;

	evbuffer_add(c->out, p, len);
	c->out_events += len;
	/* Events in a row, no reply between: one run. */
	if (sp != NULL && sp->end == start) {
		sp->end = c->out_added;
		return;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->start = start;
	sp->end = c->out_added;
	TAILQ_INSERT_TAIL(&c->spans, sp, entry);
}

/*
 * For live events only: a subscriber that does not read them is cut
 * off.  Replies never count (a client gets what it asked for, reading
 * pauses instead), nor does the snapshot a subscription starts with:
 * only the live event bytes still unread are held against the limit.
 */
static bool
control_client_over_limit(struct control_client *c)
{
	if (c->out_events <= c->ctl->policy.output_limit)
		return false;
	log_warnx("control client %u (uid %ld pid %ld): %zu bytes of events "
	    "unread, over control.output_limit; disconnecting it", c->id,
	    (long)c->uid, (long)c->pid, c->out_events);
	control_client_set_state(c, CONTROL_CLIENT_CLOSED, "slow subscriber");
	return true;
}

static void
control_client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	control_client_flush(arg);
}

/* Writes what the socket takes now; arms the write event for the rest. */
static void
control_client_flush(struct control_client *c)
{
	int n;

	if (c->state == CONTROL_CLIENT_CLOSED)
		return;
	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			event_add(c->ev_write, NULL);
			return;
		}
		log_debug("control client %u: write: %s", c->id,
		    n < 0 ? strerror(errno) : "closed");
		control_client_set_state(c, CONTROL_CLIENT_CLOSED,
		    "write failed");
		return;
	}
	event_del(c->ev_write);
	control_client_on_flushed(c);
}

void
control_event_format(struct strbuf *sb, const struct events_event *ev)
{
	strbuf_addf(sb, "EVENT %s seq=%llu time=%.3f", ev->type,
	    (unsigned long long)ev->seq, ev->time);
	if (ev->account != NULL)
		ctl_append_kv(sb, "account", ev->account);
	for (size_t i = 0; i < ev->nkv; i++)
		ctl_append_kv(sb, ev->kv[i].key, ev->kv[i].value);
	strbuf_addc(sb, '\n');
}

/* The bus's subscriber: one protocol line per event. */
static void
control_deliver(const struct events_event *ev, void *arg)
{
	struct control_client *c = arg;
	struct control *ctl = c->ctl;

	if (c->state == CONTROL_CLIENT_CLOSED)
		return;
	/* Already queued as a job's progress line. */
	if (ev->live && ev->seq == c->last_seq)
		return;
	if (ev->live)
		c->last_seq = ev->seq;
	/* A live event goes to every subscriber: format it once. */
	if (!ev->live || ctl->line_seq != ev->seq || ctl->line.n == 0) {
		strbuf_reset(&ctl->line);
		control_event_format(&ctl->line, ev);
		ctl->line_seq = ev->live ? ev->seq : 0;
	}
	if (!ev->live) {
		evbuffer_add(c->out, ctl->line.p, ctl->line.n);
	} else {
		control_client_add_event(c, ctl->line.p, ctl->line.n);
		if (control_client_over_limit(c))
			return;
	}
	event_add(c->ev_write, NULL);
}

int
control_client_subscribe(struct control_client *c, unsigned kinds,
    const char *account)
{
	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	/* The snapshot and sync are delivered before this returns. */
	c->sub = events_subscribe(kinds, account, control_deliver, c);
	return 0;
}

void
control_client_unsubscribe(struct control_client *c)
{
	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	c->sub = NULL;
}

/* Frames a reply onto the client's output. */
static void
control_client_send_reply(struct control_client *c, struct cmd_reply *r)
{
	strbuf_addc(&r->status, '\n');
	evbuffer_add(c->out, r->status.p, r->status.n);
	if (r->data.n > 0)
		evbuffer_add(c->out, r->data.p, r->data.n);
	evbuffer_add(c->out, ".\n", 2);
}

/* ---- jobs: lasting work ------------------------------------------------ */

struct control_job *
control_job_start(struct control_client *c, const char *kind,
    void (*cancel)(void *), void *arg, int *err)
{
	struct control_job *job;

	if (c->njobs >= SIPX_CTL_JOBS_MAX) {
		*err = EAGAIN;
		return NULL;
	}
	job = xcalloc(1, sizeof(*job));
	job->client = c;
	job->id = ids_next();
	job->kind = kind;
	job->cancel = cancel;
	job->arg = arg;
	cmd_reply_init(&job->reply);
	TAILQ_INSERT_TAIL(&c->jobs, job, entry);
	c->njobs++;
	*err = 0;
	return job;
}

unsigned long long
control_job_id(const struct control_job *job)
{
	return job->id;
}

struct cmd_reply *
control_job_reply(struct control_job *job)
{
	return &job->reply;
}

/*
 * The final reply as one event line: "result" says OK or ERR, "code"
 * and "error" carry an ERR's code and text, then the fields of the
 * reply's record.  seq is the last published one, as in a snapshot:
 * the line is for this client alone.
 */
static void
control_job_format(struct strbuf *sb, const struct control_job *job)
{
	const struct cmd_reply *r = &job->reply;
	char id[24];
	size_t n;

	strbuf_addf(sb, "EVENT %s.result seq=%llu time=%.3f", job->kind,
	    (unsigned long long)events_last_seq(), time_real());
	snprintf(id, sizeof(id), "%llu", job->id);
	ctl_append_kv(sb, "id", id);
	ctl_append_kv(sb, "result", r->ok ? "ok" : "failed");
	if (!r->ok && r->status.n > 4) {
		/* "ERR <code> <text>" */
		const char *code = r->status.p + 4;
		const char *sp = strchr(code, ' ');
		char cbuf[32];

		snprintf(cbuf, sizeof(cbuf), "%.*s", sp != NULL ?
		    (int)(sp - code) : (int)strlen(code), code);
		ctl_append_kv(sb, "code", cbuf);
		ctl_append_kv(sb, "error", sp != NULL ? sp + 1 : "");
	}
	/* The first record's fields, already "key=value ..." text. */
	if (r->data.n > 0) {
		n = strcspn(r->data.p, "\n");
		strbuf_addc(sb, ' ');
		strbuf_add(sb, r->data.p, n);
	}
	strbuf_addc(sb, '\n');
}

static void
control_job_free(struct control_job *job)
{
	cmd_reply_free(&job->reply);
	strbuf_free(&job->early);
	free(job);
}

/*
 * Output queued from under a callback (the event bus, a ua callback):
 * written from the loop, since a failed write closes the client and
 * unsubscribes it, which the bus must not see in the middle of a
 * delivery.
 */
static void
control_client_want_write(struct control_client *c)
{
	if (c->state != CONTROL_CLIENT_CLOSED)
		event_add(c->ev_write, NULL);
}

void
control_job_event(struct control_job *job, const struct events_event *ev)
{
	struct control_client *c = job->client;
	struct strbuf line = STRBUF_INIT;

	if (c->state == CONTROL_CLIENT_CLOSED)
		return;
	/* Already queued by the client's own subscription. */
	if (ev->live && ev->seq == c->last_seq)
		return;
	if (ev->live)
		c->last_seq = ev->seq;
	if (!job->replied) {
		control_event_format(&job->early, ev);
		return;
	}
	control_event_format(&line, ev);
	evbuffer_add(c->out, line.p, line.n);
	strbuf_free(&line);
	control_client_want_write(c);
}

void
control_job_finish(struct control_job *job)
{
	struct control_client *c = job->client;
	struct strbuf line = STRBUF_INIT;

	/* Finished while its command runs: framed after the reply. */
	if (!job->replied) {
		job->finished = true;
		return;
	}
	TAILQ_REMOVE(&c->jobs, job, entry);
	c->njobs--;
	if (c->state != CONTROL_CLIENT_CLOSED) {
		control_job_format(&line, job);
		evbuffer_add(c->out, line.p, line.n);
		strbuf_free(&line);
	}
	control_job_free(job);
	/* Event: a job finished (a draining client may now close, once
	 * the write event has run). */
	control_client_want_write(c);
}

void
control_job_abandon(struct control_job *job)
{
	struct control_client *c = job->client;

	TAILQ_REMOVE(&c->jobs, job, entry);
	c->njobs--;
	control_job_free(job);
}

/*
 * The reply of the command that started these jobs is queued: their
 * progress lines and results may follow it now.
 */
static void
control_client_release_jobs(struct control_client *c)
{
	struct control_job *job, *next;

	TAILQ_FOREACH_SAFE(job, &c->jobs, entry, next) {
		if (job->replied)
			continue;
		job->replied = true;
		if (job->early.n > 0)
			evbuffer_add(c->out, job->early.p, job->early.n);
		strbuf_free(&job->early);
		if (job->finished)
			control_job_finish(job);
	}
}

/* ---- requests ---------------------------------------------------------- */

static void
control_client_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;

	switch (c->state) {
	case CONTROL_CLIENT_OPEN:
	case CONTROL_CLIENT_DRAINING:
		control_client_process(c);
		control_client_flush(c);
		break;
	case CONTROL_CLIENT_PAUSED:
	case CONTROL_CLIENT_CLOSED:
		break;
	}
}

/* Runs one request; true if the client's input ends with it (quit). */
static bool
control_client_line(struct control_client *c, char *line, size_t len)
{
	struct control *ctl = c->ctl;
	struct cmd_reply *r = &ctl->reply;
	struct ctl_tokens tok;
	struct cmd_ctx ctx = { c->readonly, c, NULL };
	const char *why;

	if (ctl_line_split(line, len, &tok, &why) != 0) {
		cmd_reply_reset(r);
		cmd_reply_err(r, "syntax", "%s", why);
	} else if (tok.argc == 0) {
		return false;	/* empty line: no reply */
	} else {
		cmd_reply_reset(r);
		cmd_dispatch(ctl->table, &ctx, tok.argc, tok.argv, r);
	}
	control_client_send_reply(c, r);
	control_client_release_jobs(c);
	if (r->subscribe)
		control_client_subscribe(c, r->sub_kinds, r->sub_account);
	return r->close_after;
}

static void
control_client_too_long(struct control_client *c)
{
	static const char msg[] = "ERR too-long line longer than 4096 bytes; "
	    "closing\n.\n";

	log_warnx("control client %u (uid %ld pid %ld): line longer than %d "
	    "bytes; disconnecting it", c->id, (long)c->uid, (long)c->pid,
	    SIPX_CTL_LINE_MAX);
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	evbuffer_add(c->out, msg, sizeof(msg) - 1);
	control_client_set_state(c, CONTROL_CLIENT_DRAINING, "line too long");
}

/*
 * One read(2) of up to 64 KiB straight into the input buffer:
 * evbuffer_read() stops at 4 KiB a call, which would split a pipelined
 * batch over several loop turns.
 */
static ssize_t
control_client_read(struct control_client *c)
{
	struct evbuffer_iovec v;
	ssize_t n;

	if (evbuffer_reserve_space(c->in, 65536, &v, 1) < 1)
		fatalx("control: out of memory");
	n = read(c->fd, v.iov_base, v.iov_len);
	if (n > 0) {
		v.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &v, 1);
	}
	return n;
}

/*
 * End of input is a half-close (shutdown(SHUT_WR): the peer still
 * reads) or a close.  On a UNIX stream socket only the close, which
 * shuts both ways, raises POLLHUP on our end.
 */
static bool
control_peer_gone(int fd)
{
	struct pollfd p = { fd, 0, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
}

/* Event: the socket is readable (armed only while OPEN). */
static void
control_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;
	ssize_t n;

	n = control_client_read(c);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		log_debug("control client %u: %s", c->id, strerror(errno));
		control_client_set_state(c, CONTROL_CLIENT_CLOSED,
		    "read failed");
		return;
	}
	/* A half-close still gets every reply and job result it asked
	 * for: the lines buffered run, then the client drains. */
	if (n == 0)
		control_client_set_state(c, CONTROL_CLIENT_DRAINING,
		    "end of input");
	control_client_process(c);
	/* A peer that closed for good reads nothing more: its jobs end
	 * now (a call goes on) instead of holding the connection. */
	if (n == 0 && control_peer_gone(c->fd)) {
		control_client_set_state(c, CONTROL_CLIENT_CLOSED,
		    "peer closed");
		return;
	}
	control_client_flush(c);
}

/*
 * Runs the complete lines buffered, while the client may run them and
 * its unread replies stay under the limit.  No request waits for
 * another: lasting work answers at once and reports as a job.
 */
static void
control_client_process(struct control_client *c)
{
	size_t avail, done = 0;
	char *p, *nl;
	bool end = false;

	if (c->state != CONTROL_CLIENT_OPEN &&
	    c->state != CONTROL_CLIENT_DRAINING)
		return;
	avail = evbuffer_get_length(c->in);
	if (avail == 0)
		return;
	p = (char *)evbuffer_pullup(c->in, -1);
	while (done < avail &&
	    (nl = memchr(p + done, '\n', avail - done)) != NULL) {
		size_t len = (size_t)(nl - (p + done));

		if (len + 1 > SIPX_CTL_LINE_MAX) {
			control_client_too_long(c);
			return;
		}
		/* In place: the tokeniser writes its NUL over the '\n'. */
		end = control_client_line(c, p + done, len);
		done += len + 1;
		if (end || c->state == CONTROL_CLIENT_CLOSED)
			break;
		/* Replies piling up unread: wait for the client to read. */
		if (evbuffer_get_length(c->out) >
		    c->ctl->policy.output_limit) {
			/* Draining: on_flushed runs the rest. */
			if (c->state == CONTROL_CLIENT_OPEN)
				control_client_set_state(c,
				    CONTROL_CLIENT_PAUSED, "replies unread");
			break;
		}
	}
	switch (c->state) {
	case CONTROL_CLIENT_CLOSED:
		return;
	case CONTROL_CLIENT_OPEN:
	case CONTROL_CLIENT_PAUSED:
	case CONTROL_CLIENT_DRAINING:
		break;
	}
	if (end) {
		/* quit: what follows it is never run. */
		evbuffer_drain(c->in, evbuffer_get_length(c->in));
		control_client_set_state(c, CONTROL_CLIENT_DRAINING, "quit");
		return;
	}
	evbuffer_drain(c->in, done);
	if (c->state == CONTROL_CLIENT_OPEN &&
	    evbuffer_get_length(c->in) >= SIPX_CTL_LINE_MAX)
		control_client_too_long(c);
}

/* ---- accepting -------------------------------------------------------- */

static bool
control_peer_allowed(const struct control *ctl, uid_t uid, gid_t gid)
{
	const struct control_policy *p = &ctl->policy;
	struct passwd *pw;
	gid_t groups[256];
	int ngroups = (int)(sizeof(groups) / sizeof(groups[0]));

	if (p->nallow_uids == 0 && p->nallow_gids == 0)
		return true;
	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < p->nallow_uids; i++)
		if (p->allow_uids[i] == uid)
			return true;
	for (size_t i = 0; i < p->nallow_gids; i++)
		if (p->allow_gids[i] == gid)
			return true;
	if (p->nallow_gids == 0 || (pw = getpwuid(uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) == -1)
		ngroups = (int)(sizeof(groups) / sizeof(groups[0]));
	for (int g = 0; g < ngroups; g++)
		for (size_t i = 0; i < p->nallow_gids; i++)
			if (p->allow_gids[i] == groups[g])
				return true;
	return false;
}

static void
control_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_listener *l = arg;

	event_add(l->ev, NULL);
}

/* Best effort: the socket is fresh, a short line always fits. */
static void
control_refuse(int fd, const char *line)
{
	(void)!write(fd, line, strlen(line));
	close(fd);
}

/* Read-only connections this uid holds now. */
static int
control_uid_readonly(const struct control *ctl, uid_t uid)
{
	const struct control_client *c;
	int n = 0;

	TAILQ_FOREACH(c, &ctl->clients, entry)
		if (c->readonly && c->uid == uid)
			n++;
	return n;
}

/*
 * Each socket has its own room, so the read-only socket (mode 0666 by
 * default: any local user) can never take the full socket's slots, and
 * one uid can hold only a few of the read-only ones.  Root and sipxd's
 * own user have a few full-socket slots beyond max_clients, so an
 * administrator can always look in.  Fills line with the refusal and
 * returns true when there is no room.
 */
static bool
control_refuse_busy(struct control *ctl, const struct control_listener *l,
    const struct ucred *cred, char *line, size_t len)
{
	const struct control_policy *p = &ctl->policy;
	size_t full = ctl->nclients - ctl->nreadonly;
	int room = p->max_clients;

	if (cred->uid == 0 || cred->uid == geteuid())
		room += SIPX_CTL_ADMIN_RESERVE;
	if (!l->readonly && (int)full >= room) {
		log_warnx("control: refusing uid %ld pid %ld on %s: already "
		    "%zu clients (control.max_clients)", (long)cred->uid,
		    (long)cred->pid, l->path, full);
		snprintf(line, len, "ERR busy too many control clients "
		    "(max %d)\n", p->max_clients);
		return true;
	}
	if (l->readonly && (int)ctl->nreadonly >= p->readonly_max_clients) {
		log_warnx("control: refusing uid %ld pid %ld on %s: already "
		    "%zu clients (control.readonly_max_clients)",
		    (long)cred->uid, (long)cred->pid, l->path, ctl->nreadonly);
		snprintf(line, len, "ERR busy too many read-only control "
		    "clients (max %d)\n", p->readonly_max_clients);
		return true;
	}
	if (l->readonly && control_uid_readonly(ctl, cred->uid) >=
	    p->readonly_max_per_uid) {
		log_warnx("control: refusing uid %ld pid %ld on %s: it "
		    "already has %d connections "
		    "(control.readonly_max_per_uid)", (long)cred->uid,
		    (long)cred->pid, l->path, p->readonly_max_per_uid);
		snprintf(line, len, "ERR busy uid %ld already has %d "
		    "read-only connections (max per uid)\n", (long)cred->uid,
		    p->readonly_max_per_uid);
		return true;
	}
	return false;
}

static void
control_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct control_listener *l = arg;
	struct control *ctl = l->ctl;
	struct control_client *c;
	struct ucred cred = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t clen = sizeof(cred);
	char line[128];
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Still readable: pause, or the loop spins. */
			log_warn("control: accept on %s; pausing accepts for "
			    "1 s (raise LimitNOFILE or lower "
			    "control.max_clients)", l->path);
			struct timeval pause = { 1, 0 };

			event_del(l->ev);
			evtimer_add(l->ev_pause, &pause);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept on %s", l->path);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (control_refuse_busy(ctl, l, &cred, line, sizeof(line))) {
		control_refuse(fd, line);
		return;
	}
	if (!l->readonly && !control_peer_allowed(ctl, cred.uid, cred.gid)) {
		log_warnx("control: refusing uid %ld pid %ld on %s: not in "
		    "control.allow_users or allow_groups", (long)cred.uid,
		    (long)cred.pid, l->path);
		snprintf(line, sizeof(line), "ERR denied uid %ld is not "
		    "allowed on this socket\n", (long)cred.uid);
		control_refuse(fd, line);
		return;
	}

	c = xcalloc(1, sizeof(*c));
	c->ctl = ctl;
	c->id = ++ctl->next_id;
	c->fd = fd;
	c->readonly = l->readonly;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->state = CONTROL_CLIENT_OPEN;
	TAILQ_INIT(&c->jobs);
	TAILQ_INIT(&c->spans);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->ev_read = event_new(ctl->base, fd, EV_READ | EV_PERSIST,
	    control_client_read_cb, c);
	c->ev_write = event_new(ctl->base, fd, EV_WRITE | EV_PERSIST,
	    control_client_write_cb, c);
	c->ev_close = event_new(ctl->base, -1, 0, control_client_close_cb, c);
	c->ev_resume = event_new(ctl->base, -1, 0, control_client_resume_cb,
	    c);
	if (c->in == NULL || c->out == NULL || c->ev_read == NULL ||
	    c->ev_write == NULL || c->ev_close == NULL || c->ev_resume == NULL)
		fatalx("control: out of memory");
	if (evbuffer_add_cb(c->out, control_client_out_cb, c) == NULL)
		fatalx("control: out of memory");
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients++;
	if (c->readonly)
		ctl->nreadonly++;
	log_debug("control client %u connected (uid %ld pid %ld) on %s", c->id,
	    (long)cred.uid, (long)cred.pid, l->path);

	evbuffer_add_printf(c->out, "SIPXD protocol=%d version=%s access=%s\n",
	    CTL_PROTOCOL_VERSION, PACKAGE_VERSION,
	    l->readonly ? "readonly" : "full");
	event_add(c->ev_read, NULL);
	control_client_flush(c);
}

/* ---- listening -------------------------------------------------------- */

/*
 * A socket file left by a crashed sipxd refuses connections: replace it.
 * One that accepts belongs to a live daemon: never touch it.
 */
static int
control_clear_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc, saved;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen,
		    "cannot stat %s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove "
		    "it or choose another control.path", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s is in use: another sipxd is running "
		    "there", path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "cannot check %s: %s", path,
		    strerror(saved));
		return -1;
	}
	log_notice("control: removing stale socket %s left by an earlier run",
	    path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Creates the socket's directory if missing (a run by hand, no systemd). */
static void
control_make_dir(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0)
			log_info("control: created directory %s", dir);
	}
	free(dir);
}

static int
control_bind(const char *path, mode_t mode, gid_t gid, char *err,
    size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	control_make_dir(path);
	if (control_clear_path(path, err, errlen) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Born private, opened up to the configured mode once owned. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	/* chown(2) is filtered out under the systemd unit's sandbox: skip
	 * it when the file already has the group (the service's own). */
	if (gid != (gid_t)-1 && getegid() != gid &&
	    chown(path, (uid_t)-1, gid) == -1) {
		snprintf(err, errlen, "cannot give %s to group %ld: %s", path,
		    (long)gid, strerror(errno));
		goto fail;
	}
	if (chmod(path, mode) == -1) {
		snprintf(err, errlen, "cannot chmod %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (listen(fd, 128) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(path);
	return -1;
}

int
control_listen(struct control *ctl, const char *path, mode_t mode, gid_t gid,
    bool readonly, int inherited_fd, char *err, size_t errlen)
{
	struct control_listener *l;
	struct stat st;
	int fd;

	if (ctl->nlisteners == 2) {
		snprintf(err, errlen, "too many control sockets");
		return -1;
	}
	if (inherited_fd >= 0) {
		fd = inherited_fd;
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
	} else if ((fd = control_bind(path, mode, gid, err, errlen)) == -1) {
		return -1;
	}
	l = &ctl->listeners[ctl->nlisteners++];
	l->ctl = ctl;
	l->fd = fd;
	l->readonly = readonly;
	l->created = inherited_fd < 0;
	l->path = xstrdup(path);
	if (stat(path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	l->ev = event_new(ctl->base, fd, EV_READ | EV_PERSIST,
	    control_accept_cb, l);
	l->ev_pause = evtimer_new(ctl->base, control_accept_resume_cb, l);
	if (l->ev == NULL || l->ev_pause == NULL)
		fatalx("control: out of memory");
	event_add(l->ev, NULL);
	log_info("control: listening on %s (%s%s)", path,
	    readonly ? "read-only" : "full access",
	    inherited_fd >= 0 ? ", from systemd" : "");
	return 0;
}

void
control_close_listeners(struct control *ctl)
{
	struct stat st;

	for (size_t i = 0; i < ctl->nlisteners; i++) {
		struct control_listener *l = &ctl->listeners[i];

		event_free(l->ev);
		event_free(l->ev_pause);
		close(l->fd);
		/* Only our own file: a successor may already own the path. */
		if (l->created && stat(l->path, &st) == 0 &&
		    st.st_dev == l->dev && st.st_ino == l->ino)
			unlink(l->path);
		free(l->path);
	}
	ctl->nlisteners = 0;
}

void
control_flush_all(struct control *ctl)
{
	struct control_client *c;

	TAILQ_FOREACH(c, &ctl->clients, entry)
		if (c->state != CONTROL_CLIENT_CLOSED &&
		    evbuffer_get_length(c->out) > 0)
			evbuffer_write(c->out, c->fd);
}

/* The daemon stops: every running job still reports, as a failure. */
static void
control_client_end_jobs(struct control_client *c, const char *why)
{
	struct control_job *job;
	struct strbuf line = STRBUF_INIT;

	while ((job = TAILQ_FIRST(&c->jobs)) != NULL) {
		TAILQ_REMOVE(&c->jobs, job, entry);
		c->njobs--;
		job->cancel(job->arg);
		if (c->state != CONTROL_CLIENT_CLOSED) {
			cmd_reply_reset(&job->reply);
			cmd_reply_err(&job->reply, "failed", "%s", why);
			strbuf_reset(&line);
			control_job_format(&line, job);
			evbuffer_add(c->out, line.p, line.n);
		}
		control_job_free(job);
	}
	strbuf_free(&line);
}

void
control_free(struct control *ctl)
{
	struct control_client *c;

	if (ctl == NULL)
		return;
	control_close_listeners(ctl);
	TAILQ_FOREACH(c, &ctl->clients, entry)
		control_client_end_jobs(c, "sipxd is stopping");
	control_flush_all(ctl);
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL)
		control_client_free(c);
	cmd_reply_free(&ctl->reply);
	strbuf_free(&ctl->line);
	free(ctl->allow_uids);
	free(ctl->allow_gids);
	free(ctl);
}
