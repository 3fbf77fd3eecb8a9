/* Handlers of the SIP commands (cmd_sip.c), listed in cmd_sys.c's table. */
#ifndef SIPX_DAEMON_CMD_SIP_H
#define SIPX_DAEMON_CMD_SIP_H

#include "cmd.h"

void	cmd_options(struct cmd_ctx *, int, char **, struct cmd_reply *);
void	cmd_transactions(struct cmd_ctx *, int, char **, struct cmd_reply *);
void	cmd_trace(struct cmd_ctx *, int, char **, struct cmd_reply *);

#endif
