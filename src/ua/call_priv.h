/*
 * What the files of the call usage share: the call itself and its
 * agent.  call.c owns both; transfer.c (REFER, RFC 3515) works on the
 * same calls and sends in their dialogs through the functions below.
 */
#ifndef SIPX_UA_CALL_PRIV_H
#define SIPX_UA_CALL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "sip/sip_dialog.h"
#include "sip/sip_trans.h"
#include "sip/sip_transport.h"
#include "call.h"

struct event;
struct media_wav;
struct sip_resolve_query;
struct sip_resolve_target;
struct ua_req;
struct xfer;

#define CALL_FORKS_MAX		8	/* early dialogs of one INVITE */
#define CALL_TARGETS_MAX	8	/* RFC 3263 targets tried */
#define CALL_AUTH_TRIES		2	/* challenged INVITEs in a row */
#define CALL_REDIRECTS_MAX	3
#define CALL_TIMELINE_MAX	2048	/* bytes of one call's timeline */
#define CALL_HEADERS_MAX	8	/* extra headers of call_place */
#define CALL_MIN_SE_DEFAULT	90	/* RFC 4028 §5 */
#define CALL_RETRY_AFTER	5	/* s, our 503 */
#define CALL_TRIM_PEAK		1024	/* live calls worth a heap trim */

/* One deadline per job a call's single timer serves. */
enum call_timer {
	CALL_T_ANSWER,		/* ours unanswered / theirs ringing too long */
	CALL_T_2XX,		/* UAS: send our 2xx again (§13.3.1.4) */
	CALL_T_2XX_END,		/* UAS: no ACK in 64*T1 */
	CALL_T_REL1XX,		/* UAS: our reliable 1xx again (RFC 3262) */
	CALL_T_REFRESH,		/* RFC 4028: we refresh now */
	CALL_T_EXPIRE,		/* RFC 4028: they did not */
	CALL_T_GLARE,		/* §14.1: our re-INVITE again after 491 */
	CALL_T_CANCEL,		/* §9.1: no final 64*T1 after our CANCEL */
	CALL_T_XFER,		/* RFC 3515: the transfer's last NOTIFY */
	CALL_T__COUNT
};

/* In-dialog requests waiting for the next hop to resolve. */
enum call_op {
	CALL_OP_ACK	= 1u << 0,
	CALL_OP_PRACK	= 1u << 1,
	CALL_OP_REINVITE = 1u << 2,
	CALL_OP_UPDATE	= 1u << 3,
	CALL_OP_BYE	= 1u << 4,
	CALL_OP_XFER	= 1u << 5,	/* transfer.c's queue */
};

/* What a re-INVITE or UPDATE of ours is for. */
enum call_reinv {
	CALL_REINV_NONE,
	CALL_REINV_HOLD,
	CALL_REINV_UNHOLD,
	CALL_REINV_REFRESH,
};

struct call_agent;

struct call {
	uint64_t		 id;
	struct call_agent	*ag;
	struct call		*hnext;		/* id table */
	struct call		*next, *prev;	/* live list, or history */
	enum call_dir		 dir;
	enum call_state		 state;
	bool			 live;
	char			*account;
	char			*remote;	/* the peer's URI */
	char			*user;		/* our Contact's user part */
	char			**codecs;	/* ours, one block */
	size_t			 ncodecs;
	enum account_transport	 transport;
	unsigned		 session_expires;	/* asked, 0: off */

	struct sip_dialog	 dlg;		/* the call's dialog */
	bool			 has_dlg;	/* dlg filled in */
	struct sip_dialog	**forks;	/* early, UAC; CALL_FORKS_MAX */
	size_t			 nforks;
	char			*contact;	/* our Contact value */

	/* UAC: the initial INVITE. */
	struct sip_ctrans	*inv_ct;
	char			*ruri;
	char			*from_uri;	/* From and To values, no tag */
	char			*to_uri;
	char			*from_tag;
	char			*call_id;
	char			*route0;	/* pre-loaded Route, or NULL */
	char			*hop0;		/* where the INVITE goes */
	struct sip_resolve_query *q0;
	struct sip_resolve_target *targets;
	size_t			 ntargets, next_target;
	struct sip_dest		*inv_dst;	/* for CANCEL (§9.1); UAC only */
	uint32_t		 inv_cseq;
	unsigned		 auth_tries, redirects;
	bool			 se_retried;	/* 422 once */
	char			*chal;		/* the challenge to answer */
	bool			 chal_proxy;
	char			**hdrs;		/* extra headers */
	size_t			 nhdrs;
	bool			 got_1xx;	/* CANCEL allowed (§9.1) */
	bool			 cancel_wanted;	/* hangup before a 1xx */
	bool			 cancel_sent;
	uint32_t		 last_rseq;	/* RFC 3262 §4 */
	bool			 rseq_seen;
	uint32_t		 prack_rseq, prack_cseq;
	struct sip_dialog	*prack_dlg;
	bool			 ack_sdp;	/* late offer: answer in ACK */
	char			*ack;		/* our ACK for the 2xx */
	size_t			 ack_len;

	/* UAS. */
	struct sip_strans	*inv_st;
	char			*resp;		/* 2xx or reliable 1xx again */
	size_t			 resp_len;
	struct sip_strans	*resp_st;	/* the transaction it is for */
	unsigned		 resp_ms;	/* current interval */
	bool			 want_ack;	/* our 2xx waits for an ACK */
	bool			 offer_in_2xx;	/* answer comes in the ACK */
	bool			 rel1xx;	/* INVITE requires 100rel */
	uint32_t		 rseq;		/* our last RSeq */
	bool			 prack_wait;
	bool			 bye_after_ack;
	bool			 sdp_in_1xx;	/* offer went in a reliable 1xx */
	bool			 answer_wanted;	/* answer once the PRACK came */
	bool			 prack_sdp;	/* our answer goes in the PRACK */
	char			*sdp_before;	/* agreed SDP while a hold is out */
	char			*auth_hdr;	/* INVITE's credentials, for ACK */
	bool			 auth_proxy;
	uint32_t		 ack_cseq;	/* of the INVITE our 2xx answers */
	uint64_t		 rel_end_us;	/* RFC 3262: give up then */
	unsigned		 req_se;	/* their Session-Expires */
	char			 req_refresher;
	bool			 req_timer;	/* they support timer */

	/* In dialog. */
	struct sip_dest		 hop;
	bool			 hop_valid;
	char			*hop_uri;	/* what hop was resolved for */
	struct sip_resolve_query *hq;
	unsigned		 ops;		/* enum call_op waiting */
	struct sip_ctrans	*bye_ct;
	struct sip_ctrans	*reinv_ct;
	struct sip_ctrans	*upd_ct;
	enum call_reinv		 reinv;		/* what reinv_ct/upd_ct is for */
	enum call_reinv		 reinv_next;	/* queued for the hop */
	bool			 reinv_done;	/* its 2xx came: ACK again */
	bool			 peer_update;	/* Allow lists UPDATE */
	bool			 local_hold, remote_hold;

	/* RFC 4028. */
	unsigned		 se;		/* negotiated, 0: none */
	bool			 we_refresh;

	/* Offer/answer and media. */
	char			*local_sdp;
	char			*remote_sdp;
	uint64_t		 sess_id, sess_ver;
	bool			 offer_out;	/* our offer waits for an answer */
	struct rtp_session	*rtp;
	enum rtp_mode		 media;
	struct media_wav	*wav;
	char			 codec[16];
	char			 remote_media[64];
	struct rtp_stats	 stats;		/* frozen at the end */

	/* Times, outcome, timeline. */
	double			 t_start, t_answer, t_end;
	uint64_t		 mono_start;
	unsigned		 status;
	char			*reason;
	const char		*ended_by;
	unsigned		 last_status;	/* last response seen */
	struct strbuf		 timeline;

	struct event		*tmr;
	uint64_t		 due[CALL_T__COUNT];	/* mono us, 0: off */

	/* RFC 3515 (transfer.c): a REFER of ours or of theirs, and the
	 * call whose REFER placed this one (0: none). */
	struct xfer		*xfer;
	uint64_t		 referred_by;
};

struct call_agent {
	struct ua		*ua;
	struct account_set	*set;
	struct rtp_engine	*rtp;
	struct call_conf	 conf;
	call_change_fn		*change;
	void			*change_arg;
	struct call		**ids;		/* by id; power of two */
	size_t			 nids_buckets, nids;
	struct call		*live_head, *live_tail;
	size_t			 nlive;
	size_t			 peak;		/* live calls since a trim */
	size_t			 counts[CALL_STATE__COUNT];
	struct call		*hist_head, *hist_tail;	/* newest first */
	size_t			 nhist;
	struct call		*dead;		/* freed from the loop */
	struct event		*reaper;
	bool			 stopping;
	void			(*stop_done)(void *);
	void			*stop_arg;
	struct event		*stop_ev;
	/* Scratch for call_detail_get. */
	char			 dlg_id[256];
	char			 local_media[64];
	struct strbuf		 routes;
	const char		**tl;
	size_t			 ntl;
	char			*tl_copy;
};

/* ---- call.c, for transfer.c ------------------------------------------------ */

struct call *call_find(const struct call_agent *, uint64_t id);
struct account *call_account(const struct call *);
void	call_note(struct call *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	call_end(struct call *, const char *reason, const char *by);
/* "Ringing", "Busy Here": the usual phrase of a status (RFC 3261 §21). */
const char *call_reason_phrase(unsigned status);
void	call_timer_set(struct call *, enum call_timer, uint64_t ms);

/*
 * A request of the transfer in the call's dialog: extra() adds its
 * headers, body (or NULL) goes in as ctype.  EAGAIN until the dialog's
 * next hop is known: call_xfer_kick() asks for it, and xfer_flush() is
 * called once it is.  The answers go to xfer_on_response().
 */
struct sip_build;
int	call_xfer_send(struct call *, const char *method,
	    void (*extra)(struct call *, struct sip_build *),
	    const char *ctype, const char *body, struct sip_ctrans **);
void	call_xfer_kick(struct call *);

/* ---- transfer.c, for call.c ------------------------------------------------ */

/* REFER and NOTIFY (Event: refer) in the call's dialog; answers rq. */
void	xfer_on_refer(struct call *, const struct ua_req *);
void	xfer_on_notify(struct call *, const struct ua_req *);
/* An answer to a request call_xfer_send() sent; true if it was one. */
bool	xfer_on_response(struct call *, struct sip_ctrans *,
	    enum sip_trans_event, const struct sip_msg *);
/* The hop is known: the queued requests go out. */
void	xfer_flush(struct call *);
/* Every state change of a call: a call placed for a REFER reports it. */
void	xfer_on_state(struct call *);
/* The call is freed (or the agent stops): its transfer state goes. */
void	xfer_free(struct call *);
/* CALL_T_XFER fired: the transfer's subscription waited too long. */
void	xfer_on_timer(struct call *);

#endif
