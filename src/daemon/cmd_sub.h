/*
 * Control commands for subscriptions: subscribe (a job), unsubscribe,
 * subscriptions.  Thin: each parses its arguments, asks the
 * subscription usage (ua/subscription.h) and frames its answer.
 */
#ifndef SIPX_DAEMON_CMD_SUB_H
#define SIPX_DAEMON_CMD_SUB_H

#include "cmd.h"

cmd_handler	cmd_subscribe;
cmd_handler	cmd_unsubscribe;
cmd_handler	cmd_subscriptions;

#endif
