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
	int		 max_clients;
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
 * A command that answers later (it waits for the network): the handler
 * calls control_client_defer() and returns; the client's later requests
 * wait, so replies stay in order.  The owner fills the reply from
 * control_pending_reply() and calls control_pending_finish().  If the
 * client goes away first, cancel(arg) is called and the handle is gone.
 */
struct control_pending;
struct cmd_reply;
struct control_pending *control_client_defer(struct control_client *,
		    void (*cancel)(void *), void *arg);
struct cmd_reply *control_pending_reply(struct control_pending *);
void		 control_pending_finish(struct control_pending *);

int		 control_client_subscribe(struct control_client *,
		    unsigned kinds, const char *account);
void		 control_client_unsubscribe(struct control_client *);

#endif
