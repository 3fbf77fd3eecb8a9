/*
 * Commands of the MESSAGE and generic request usages: `message` and
 * `request` (jobs: "OK id=N" at once, a request.response event per
 * response to that connection, then a message.result or request.result)
 * and `messages` (an account's inbox; `clear` empties it).  Thin: each
 * parses its arguments, asks ua/message.h or ua/request.h and frames the
 * answer.
 */
#ifndef SIPX_DAEMON_CMD_MSG_H
#define SIPX_DAEMON_CMD_MSG_H

#include "cmd.h"

cmd_handler	cmd_message;
cmd_handler	cmd_request;
cmd_handler	cmd_messages;

#endif
