/*
 * Control commands for calls: call (a job), calls, calls history, call
 * ID, answer, reject, hangup, hold, unhold, dtmf, transfer.  Thin: each parses its
 * arguments, asks the call usage (ua/call.h) and frames its answer.
 */
#ifndef SIPX_DAEMON_CMD_CALL_H
#define SIPX_DAEMON_CMD_CALL_H

#include "cmd.h"

cmd_handler	cmd_call;
cmd_handler	cmd_calls;
cmd_handler	cmd_answer;
cmd_handler	cmd_reject;
cmd_handler	cmd_hangup;
cmd_handler	cmd_hold;
cmd_handler	cmd_unhold;
cmd_handler	cmd_dtmf;
cmd_handler	cmd_transfer;

#endif
