/*
 * Control socket server (see control.h).
 *
 * Each client has an input and an output evbuffer and two events on its
 * file descriptor; the write event is armed only while output is queued.
 * Replies are written straight after the lines that asked for them are
 * processed, so a pipelined batch costs one read and one write.
 * A client is freed from the loop (ev_close), never from inside a
 * callback that may still hold it: event delivery and snapshot sending
 * run under the bus, which must not see its subscriber vanish.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "base/limits.h"
#include "base/log.h"
#include "base/queue.h"
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

struct control_pending {
	struct control_client	*client;
	void			(*cancel)(void *);
	void			*arg;
	struct cmd_reply	 reply;
};

struct control_client {
	TAILQ_ENTRY(control_client) entry;
	struct control		*ctl;
	unsigned		 id;
	int			 fd;
	bool			 readonly;
	bool			 dead;		/* closing; ignore everything */
	bool			 quitting;	/* close once output drains */
	uid_t			 uid;
	pid_t			 pid;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_close;
	struct events_sub	*sub;
	struct control_pending	*pending;	/* a reply still to come */
	bool			 paused;	/* replies queued over the
						 * limit: reading stopped */
	bool			 snapshot;	/* subscribing: no limit */
	struct event		*ev_resume;	/* go on with buffered lines */
};

struct control {
	struct event_base		*base;
	const struct cmd_table		*table;
	struct control_listener		 listeners[2];
	size_t				 nlisteners;
	TAILQ_HEAD(, control_client)	 clients;
	size_t				 nclients;
	unsigned			 next_id;
	struct control_policy		 policy;
	uid_t				*allow_uids;
	gid_t				*allow_gids;
	struct cmd_reply		 reply;	/* reused for every request */
};

static void control_client_flush(struct control_client *);
static void control_client_process(struct control_client *);

struct control *
control_new(struct event_base *base, const struct cmd_table *table)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));

	ctl->base = base;
	ctl->table = table;
	TAILQ_INIT(&ctl->clients);
	ctl->policy.max_clients = SIPX_CTL_CLIENTS_DEFAULT;
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

static void
control_client_free(struct control_client *c)
{
	struct control *ctl = c->ctl;

	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	if (c->pending != NULL) {
		struct control_pending *p = c->pending;

		/* The owner forgets the handle: no finish will come. */
		p->cancel(p->arg);
		cmd_reply_free(&p->reply);
		free(p);
	}
	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients--;
	event_free(c->ev_read);
	event_free(c->ev_write);
	event_free(c->ev_close);
	event_free(c->ev_resume);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	close(c->fd);
	free(c);
}

static void
control_client_close_cb(evutil_socket_t fd, short what, void *arg)
{
	control_client_free(arg);
}

/* Schedules the client's end; safe from any callback. */
static void
control_client_kill(struct control_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	/* Its subscription goes now: no more lines for a dead client. */
	if (c->sub != NULL) {
		events_unsubscribe(c->sub);
		c->sub = NULL;
	}
	event_del(c->ev_read);
	event_del(c->ev_write);
	event_active(c->ev_close, EV_TIMEOUT, 0);
}

/*
 * For live events only: a subscriber that does not read them is cut
 * off.  Replies never count (a client gets what it asked for, reading
 * pauses instead), nor does the snapshot a subscription starts with.
 */
static bool
control_client_over_limit(struct control_client *c)
{
	if (c->dead)
		return true;
	if (c->snapshot ||
	    evbuffer_get_length(c->out) <= c->ctl->policy.output_limit)
		return false;
	log_warnx("control client %u (uid %ld pid %ld): %zu bytes of output "
	    "unread, over control.output_limit; disconnecting it", c->id,
	    (long)c->uid, (long)c->pid, evbuffer_get_length(c->out));
	control_client_kill(c);
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

	if (c->dead)
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
		control_client_kill(c);
		return;
	}
	event_del(c->ev_write);
	if (c->quitting) {
		control_client_kill(c);
		return;
	}
	if (c->paused) {
		/* The client read its replies: go on with its requests. */
		c->paused = false;
		event_add(c->ev_read, NULL);
		event_active(c->ev_resume, EV_TIMEOUT, 0);
	}
}

static void
control_deliver(const char *line, size_t len, void *arg)
{
	struct control_client *c = arg;

	if (c->dead)
		return;
	evbuffer_add(c->out, line, len);
	if (!control_client_over_limit(c))
		event_add(c->ev_write, NULL);
}

int
control_client_subscribe(struct control_client *c, unsigned kinds,
    const char *account)
{
	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	c->sub = NULL;
	/* The snapshot is delivered before events_subscribe returns. */
	c->snapshot = true;
	c->sub = events_subscribe(kinds, account, control_deliver, c);
	c->snapshot = false;
	return 0;
}

void
control_client_unsubscribe(struct control_client *c)
{
	if (c->sub != NULL)
		events_unsubscribe(c->sub);
	c->sub = NULL;
}

/* Frames the shared reply onto the client's output. */
static void
control_client_send_reply(struct control_client *c, struct cmd_reply *r)
{
	strbuf_addc(&r->status, '\n');
	evbuffer_add(c->out, r->status.p, r->status.n);
	if (r->data.n > 0)
		evbuffer_add(c->out, r->data.p, r->data.n);
	evbuffer_add(c->out, ".\n", 2);
}

struct control_pending *
control_client_defer(struct control_client *c, void (*cancel)(void *),
    void *arg)
{
	struct control_pending *p = xcalloc(1, sizeof(*p));

	p->client = c;
	p->cancel = cancel;
	p->arg = arg;
	cmd_reply_init(&p->reply);
	c->pending = p;
	return p;
}

struct cmd_reply *
control_pending_reply(struct control_pending *p)
{
	return &p->reply;
}

void
control_pending_finish(struct control_pending *p)
{
	struct control_client *c = p->client;

	control_client_send_reply(c, &p->reply);
	cmd_reply_free(&p->reply);
	free(p);
	c->pending = NULL;
	/* Lines that came meanwhile: from the loop, not from here. */
	event_active(c->ev_resume, EV_TIMEOUT, 0);
	control_client_flush(c);
}

static void
control_client_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;

	if (c->dead)
		return;
	control_client_process(c);
	control_client_flush(c);
}

static void
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
		return;		/* empty line: no reply */
	} else {
		cmd_reply_reset(r);
		cmd_dispatch(ctl->table, &ctx, tok.argc, tok.argv, r);
		if (c->pending != NULL)
			return;		/* the reply comes later */
	}
	control_client_send_reply(c, r);
	if (r->subscribe)
		control_client_subscribe(c, r->sub_kinds, r->sub_account);
	if (r->close_after) {
		c->quitting = true;
		event_del(c->ev_read);
	}
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
	c->quitting = true;
	event_del(c->ev_read);
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

static void
control_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;
	ssize_t n;

	n = control_client_read(c);
	if (n == 0) {
		/* A half-close still gets its replies: like quit. */
		log_debug("control client %u: end of input", c->id);
		event_del(c->ev_read);
		control_client_process(c);
		c->quitting = true;
		control_client_flush(c);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		log_debug("control client %u: %s", c->id, strerror(errno));
		control_client_kill(c);
		return;
	}
	if (n < 0)
		return;

	control_client_process(c);
	control_client_flush(c);
}

/* Runs the complete lines buffered, until one waits for its reply. */
static void
control_client_process(struct control_client *c)
{
	size_t avail, done = 0;
	char *p, *nl;

	avail = evbuffer_get_length(c->in);
	if (avail == 0)
		return;
	/* Waiting for a reply is no licence to send without limit. */
	if (c->pending != NULL && avail > 16 * SIPX_CTL_LINE_MAX) {
		log_warnx("control client %u: %zu bytes sent while waiting "
		    "for a reply; disconnecting it", c->id, avail);
		control_client_kill(c);
		return;
	}
	if (c->pending != NULL || c->paused)
		return;
	p = (char *)evbuffer_pullup(c->in, -1);
	while (!c->dead && !c->quitting && c->pending == NULL &&
	    done < avail &&
	    (nl = memchr(p + done, '\n', avail - done)) != NULL) {
		size_t len = (size_t)(nl - (p + done));

		if (len + 1 > SIPX_CTL_LINE_MAX) {
			control_client_too_long(c);
			break;
		}
		/* In place: the tokeniser writes its NUL over the '\n'. */
		control_client_line(c, p + done, len);
		done += len + 1;
		/* Replies piling up unread: wait for the client to read. */
		if (evbuffer_get_length(c->out) >
		    c->ctl->policy.output_limit) {
			c->paused = true;
			event_del(c->ev_read);
			break;
		}
	}
	if (c->dead)
		return;
	if (!c->quitting) {
		evbuffer_drain(c->in, done);
		if (c->pending == NULL && !c->paused &&
		    evbuffer_get_length(c->in) >= SIPX_CTL_LINE_MAX)
			control_client_too_long(c);
	}
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
	if ((int)ctl->nclients >= ctl->policy.max_clients) {
		log_warnx("control: refusing uid %ld pid %ld on %s: already "
		    "%zu clients (control.max_clients)", (long)cred.uid,
		    (long)cred.pid, l->path, ctl->nclients);
		snprintf(line, sizeof(line), "ERR busy too many control "
		    "clients (max %d)\n", ctl->policy.max_clients);
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
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients++;
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
		if (!c->dead && evbuffer_get_length(c->out) > 0)
			evbuffer_write(c->out, c->fd);
}

void
control_free(struct control *ctl)
{
	struct control_client *c;

	if (ctl == NULL)
		return;
	control_close_listeners(ctl);
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL)
		control_client_free(c);
	cmd_reply_free(&ctl->reply);
	free(ctl->allow_uids);
	free(ctl->allow_gids);
	free(ctl);
}
