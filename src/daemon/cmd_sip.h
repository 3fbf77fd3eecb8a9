/* Handlers of the SIP commands (cmd_sip.c), listed in cmd_sys.c's table. */
#ifndef SIPX_DAEMON_CMD_SIP_H
#define SIPX_DAEMON_CMD_SIP_H

#include <stdbool.h>

#include "cmd.h"

/* The ERR of a request job that got no final response (cmd_sip.c). */
void	cmd_sip_request_error(struct cmd_reply *, const char *what, int err,
	    bool dns, const char *detail, const char *target,
	    unsigned timeout_s);
void	cmd_options(struct cmd_ctx *, int, char **, struct cmd_reply *);
void	cmd_transactions(struct cmd_ctx *, int, char **, struct cmd_reply *);
void	cmd_trace(struct cmd_ctx *, int, char **, struct cmd_reply *);

#endif
