/*
 * The call usage (RFC 3261 §13–§15, RFC 3262, RFC 3264, RFC 3311,
 * RFC 4028): INVITE sessions as caller and callee, with their dialogs
 * (sip/sip_dialog.h), offer/answer (sip/sdp.h) and RTP (media/rtp.h).
 *
 * One agent per daemon owns every call.  A call has a numeric id, unique
 * for the life of the daemon, which the control protocol names.  Outgoing
 * calls are placed with call_place() and go through the account's
 * outbound proxy or the Service-Route its registration learned; incoming
 * INVITEs to an account's user part are handled by the account's
 * `incoming` policy (answer, ring, reject).  Every state change publishes
 * a call.state event (kind call) with the call's account; the end of a
 * call publishes call.ended with its final status and media statistics,
 * and the call moves to a bounded history.
 *
 * States (DESIGN.md): calling (INVITE sent, nothing back), proceeding
 * (1xx without a dialog or media), early (early dialog, or early media),
 * ringing (incoming, not answered), confirmed, terminating (BYE or
 * CANCEL sent, waiting), terminated.
 */
#ifndef SIPX_UA_CALL_H
#define SIPX_UA_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "media/rtp.h"

struct ua;
struct call_agent;

enum call_state {
	CALL_STATE_CALLING,
	CALL_STATE_PROCEEDING,
	CALL_STATE_EARLY,
	CALL_STATE_RINGING,
	CALL_STATE_CONFIRMED,
	CALL_STATE_TERMINATING,
	CALL_STATE_TERMINATED,
	CALL_STATE__COUNT
};

enum call_dir {
	CALL_DIR_OUT,
	CALL_DIR_IN,
};

/* Who ended a call: "local" (a command, a timeout of ours, stop),
 * "remote" (BYE, CANCEL, a final error), "timeout" (no answer, no ACK,
 * no session refresh), "error" (transport, 481). */
const char	*call_state_name(enum call_state);
const char	*call_dir_name(enum call_dir);

struct call_conf {
	size_t		 max_calls;	/* live calls; more: 503 / EBUSY */
	size_t		 history;	/* ended calls kept */
	/* RFC 4028 Min-SE we accept, seconds (>= 90). */
	unsigned	 min_se;
};

/* Told after every state change, like reg_change_fn. */
typedef void call_change_fn(void *arg);

/*
 * An agent on ua for the accounts of set, sending media through rtp.
 * Registers INVITE (and the in-dialog methods) with the ua.
 */
struct call_agent *call_agent_new(struct ua *, struct account_set *,
	    struct rtp_engine *, const struct call_conf *,
	    call_change_fn *, void *arg);
void	call_agent_set_conf(struct call_agent *, const struct call_conf *);
/*
 * Graceful stop: every call is ended (BYE, CANCEL, or 480/503 to an
 * unanswered incoming one); done() is called once, from the loop, when
 * the last transaction ended or the stop gave up on it.  New calls are
 * refused with 503 from then on.
 */
void	call_agent_stop(struct call_agent *, void (*done)(void *), void *arg);
/* Frees every call without sending anything. */
void	call_agent_free(struct call_agent *);

/* ---- placing and handling calls --------------------------------------- */

struct call_params {
	const char		*account;	/* its name */
	const char		*uri;		/* sip:/sips: target */
	/* The call's id; 0: the agent takes the next one. */
	uint64_t		 id;
	bool			 late_offer;	/* INVITE without SDP */
	bool			 late_offer_set;	/* else the account's */
	unsigned		 timeout_s;	/* no answer: 0 the account's */
	bool			 media_set;	/* else the account's */
	enum rtp_mode		 media;
	const char		*play_file;	/* media play */
	/* Extra header lines "Name: value" (no CRLF), checked. */
	const char *const	*headers;
	size_t			 nheaders;
};

/*
 * Places a call; the INVITE goes out from the loop.  0 and *id; or
 * ENOENT (no such account), EINVAL (a bad URI or header, with a reason
 * in err), EBUSY (max_calls reached, or the media port range is
 * exhausted), ESHUTDOWN (the daemon is stopping), or the play file's
 * error (err says which file and why).
 */
int	call_place(struct call_agent *, const struct call_params *,
	    uint64_t *id, char *err, size_t errlen);

/*
 * Commands on a live call.  0; ENOENT (no such live call); EALREADY
 * (the state does not allow it: answer of a call that is not ringing,
 * hold of one not confirmed, hangup of one already terminating);
 * EINVAL (a bad code or digit); ENOTSUP (dtmf without telephone-event
 * negotiated); EBUSY (a re-INVITE is already in progress: try again).
 * Progress comes as events.
 */
int	call_answer(struct call_agent *, uint64_t id);
int	call_reject(struct call_agent *, uint64_t id, unsigned code);
int	call_hangup(struct call_agent *, uint64_t id);
int	call_hold(struct call_agent *, uint64_t id);
int	call_unhold(struct call_agent *, uint64_t id);
int	call_dtmf(struct call_agent *, uint64_t id, const char *digits);
/*
 * Blind transfer (RFC 3515): REFER to uri in the call's dialog.
 * Progress comes as call.transfer events (state trying, accepted,
 * progress, done, failed); when the transferee reports a 2xx, our leg
 * ends with BYE.  0; ENOENT, EINVAL (not a sip:/sips: URI), EALREADY
 * (the call is not confirmed), EBUSY (a transfer is in progress); err
 * says why.
 */
int	call_transfer(struct call_agent *, uint64_t id, const char *uri,
	    char *err, size_t errlen);

/* ---- what the control protocol shows ----------------------------------- */

/* One line of `calls` and of `calls history`. */
struct call_summary {
	uint64_t		 id;
	const char		*account;
	enum call_dir		 dir;
	enum call_state		 state;
	const char		*remote;	/* the peer's URI */
	const char		*codec;		/* "" before media */
	double			 start;		/* Unix time */
	double			 answer;	/* 0: never answered */
	double			 end;		/* 0: live */
	double			 duration;	/* s since answer (to end) */
	bool			 hold;		/* we or they hold */
	enum rtp_mode		 media;
	/* Ended calls: the final status (0: none, e.g. a BYE after 200),
	 * reason text and who ended it ("local", "remote", "timeout",
	 * "error"). */
	unsigned		 status;
	const char		*reason;
	const char		*ended_by;
	struct rtp_stats	 stats;
};

/*
 * Calls fn for each live call (oldest first), or for each call in the
 * history (newest first).  Strings live for the call.
 */
void	call_foreach(struct call_agent *,
	    void (*fn)(const struct call_summary *, void *), void *arg);
void	call_history_foreach(struct call_agent *,
	    void (*fn)(const struct call_summary *, void *), void *arg);

/* Everything of one call (live or in history): `call ID`. */
struct call_detail {
	struct call_summary	 sum;
	const char		*dialog_id;	/* "" before a dialog */
	const char		*local_uri;
	const char		*remote_target;
	const char		*route_set;	/* "<a>, <b>" or "" */
	const char		*local_sdp;	/* "" if none */
	const char		*remote_sdp;
	const char		*local_media;	/* "127.0.0.1:20000" */
	const char		*remote_media;
	unsigned		 session_expires;	/* 0: no timer */
	const char		*refresher;	/* "uac", "uas", "" */
	/* The timeline: one "t=+1.234 text" line per SIP event. */
	const char *const	*timeline;
	size_t			 ntimeline;
};

/*
 * Fills d for call id (live or in history), strings valid until the
 * next call into the agent.  0 or ENOENT.
 */
int	call_detail_get(struct call_agent *, uint64_t id,
	    struct call_detail *d);

/* Live calls per state (counts[CALL_STATE__COUNT]); returns the total. */
size_t	call_count_states(const struct call_agent *, size_t counts[]);

#endif
