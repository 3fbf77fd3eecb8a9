/*
 * The control socket server: listening sockets (full and read-only),
 * clients, line framing, per-client limits, event delivery.  It turns
 * lines into cmd_dispatch() calls and replies into bytes; what the
 * commands do lives in cmd_sys.c.  doc/control-protocol.md is the
 * contract this file implements.
 */
#ifndef SIPX_DAEMON_CONTROL_H
#define SIPX_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct cmd_table;
struct control;
struct control_client;

struct control_policy {
	int		 max_clients;		/* full socket */
	int		 readonly_max_clients;	/* read-only socket */
	int		 readonly_max_per_uid;	/* read-only, one uid */
	size_t		 output_limit;
	const uid_t	*allow_uids;
	size_t		 nallow_uids;
	const gid_t	*allow_gids;
	size_t		 nallow_gids;
};

struct control	*control_new(struct event_base *, const struct cmd_table *);
/* Applies limits and the peer policy (at start and on reload). */
void		 control_set_policy(struct control *,
		    const struct control_policy *);
/*
 * Listens on path: on inherited_fd if >= 0 (socket activation), else by
 * creating the socket file with mode and group (gid (gid_t)-1: leave),
 * replacing a stale file but never a live socket.  Returns 0, or -1 with
 * a reason in err.
 */
int		 control_listen(struct control *, const char *path,
		    mode_t mode, gid_t gid, bool readonly, int inherited_fd,
		    char *err, size_t errlen);
/* Stops accepting and removes the socket files sipxd created. */
void		 control_close_listeners(struct control *);
/* Writes what each client's socket takes now, without waiting. */
void		 control_flush_all(struct control *);
/* Disconnects every client and frees the server. */
void		 control_free(struct control *);
size_t		 control_client_count(const struct control *);

/*
 * Lasting work (doc/control-protocol.md, "Jobs"): a command that waits
 * for the network starts a job and answers at once with its id; the
 * client's later commands run meanwhile.  The owner fills the final
 * reply from control_job_reply() and calls control_job_finish(), which
 * sends it as one "EVENT <kind>.result id=N result=ok|failed ..." line
 * to the client that started the job.  A client that ends its input
 * (half-close, quit) is closed only once its jobs have finished.  If the
 * client goes away first, cancel(arg) is called from the loop and the
 * handle is gone (also when it closes the connection for good: a
 * half-close keeps its jobs, a close ends them).  A finish called
 * before the handler that started the job has returned is held back
 * until its "OK id=N" reply is queued: the result always follows it.
 */
struct control_job;
struct cmd_reply;
struct events_event;
/* NULL with errno-style *err (EAGAIN: too many jobs on this client). */
struct control_job *control_job_start(struct control_client *,
		    const char *kind, void (*cancel)(void *), void *arg,
		    int *err);
unsigned long long control_job_id(const struct control_job *);
/*
 * A progress event of the job ("EVENT call.state ... id=N ...") for the
 * client that started it, formatted as control_event_format() does.
 * May be called from under the event bus and from inside the handler
 * that started the job: lines sent before its reply wait for it.  A
 * live event the client also receives by its own subscription is sent
 * once.
 */
void		 control_job_event(struct control_job *,
		    const struct events_event *);
struct cmd_reply *control_job_reply(struct control_job *);
void		 control_job_finish(struct control_job *);
/* The work never started: forget the job, no event, no cancel. */
void		 control_job_abandon(struct control_job *);

enum control_client_state {
	CONTROL_CLIENT_OPEN,		/* reading and answering */
	CONTROL_CLIENT_PAUSED,		/* replies unread: not reading */
	CONTROL_CLIENT_DRAINING,	/* input ended: owed output, jobs */
	CONTROL_CLIENT_CLOSED,		/* freed from the loop */
};
const char	*control_client_state_name(enum control_client_state);

/* An event as the protocol's "EVENT <type> seq= time= ..." line. */
struct events_event;
struct strbuf;
void		 control_event_format(struct strbuf *,
		    const struct events_event *);

int		 control_client_subscribe(struct control_client *,
		    unsigned kinds, const char *account);
void		 control_client_unsubscribe(struct control_client *);

#endif
