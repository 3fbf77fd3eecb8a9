/* Handlers of the registration commands (cmd_reg.c), in cmd_sys.c's table. */
#ifndef SIPX_DAEMON_CMD_REG_H
#define SIPX_DAEMON_CMD_REG_H

#include "cmd.h"

void	cmd_accounts(struct cmd_ctx *, int, char **, struct cmd_reply *);
void	cmd_account(struct cmd_ctx *, int, char **, struct cmd_reply *);
/* The probe targets of peer health (ua/qualify.h). */
void	cmd_peers(struct cmd_ctx *, int, char **, struct cmd_reply *);
/* register, unregister, enable, disable: argv[0] says which. */
void	cmd_reg_action(struct cmd_ctx *, int, char **, struct cmd_reply *);

/*
 * The reply to action command cmd on account name, given what the reg
 * call returned and the account's state after it (exposed for the unit
 * tests).
 */
void	cmd_reg_result(struct cmd_reply *, const char *cmd, const char *name,
	    const char *state, int err);

#endif
