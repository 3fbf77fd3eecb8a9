/* The daemon's command table (cmd_sys.c). */
#ifndef SIPX_DAEMON_CMD_SYS_H
#define SIPX_DAEMON_CMD_SYS_H

#include "cmd.h"

extern const struct cmd_table cmd_sys_table;

#endif
