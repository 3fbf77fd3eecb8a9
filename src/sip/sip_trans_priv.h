/*
 * What the three files of the transaction layer share and nobody else
 * sees (sip_trans.c, sip_ctrans.c, sip_strans.c): the common head of a
 * transaction, the layer object, the ops table through which the layer
 * reaches a client or a server state machine without knowing which, and
 * the shared plumbing (one allocation per transaction, one timer with
 * two deadlines, the deferred free).  Users include sip_trans.h only.
 */
#ifndef SIPX_SIP_TRANS_PRIV_H
#define SIPX_SIP_TRANS_PRIV_H

#include "base/queue.h"
#include "base/slice.h"
#include "sip_trans.h"

struct event;
struct sip_trans;

/*
 * One per kind of transaction (client, server): what the layer calls.
 * recv gets a response (client) or a retransmitted request or ACK
 * (server); on_timer a slot that came due; reap reports TERMINATED to
 * the user and frees; free frees without a report (layer teardown).
 */
struct sip_trans_ops {
	void		 (*recv)(struct sip_trans *, const struct sip_msg *);
	void		 (*tp_failed)(struct sip_trans *, int err);
	void		 (*on_timer)(struct sip_trans *, int slot);
	void		 (*reap)(struct sip_trans *);
	void		 (*free)(struct sip_trans *);
	const char	*(*state_name)(const struct sip_trans *);
};

/* The two deadlines of a transaction's one timer. */
#define SIP_TRANS_SLOT_RETX	0	/* A, E, G, the 100 Trying */
#define SIP_TRANS_SLOT_TIMER	1	/* B, D, F, H, I, J, K, L, M */
#define SIP_TRANS_NSLOTS	2

/*
 * What client and server transactions share: identity, the key they
 * are found by, the timer and where they send.  The key strings live in
 * the same allocation as the transaction (sip_trans_alloc()).
 */
struct sip_trans {
	struct sip_trans_layer		*layer;
	const struct sip_trans_ops	*ops;
	uint64_t			 id;
	enum sip_trans_kind		 kind;
	bool				 server;
	bool				 rfc2543;	/* server, no cookie */
	bool				 in_table;
	bool				 dead;		/* reap pending */
	uint16_t			 sent_by_port;	/* server key */
	uint32_t			 hash;		/* of the table key */
	const char			*method;	/* key: the method */
	const char			*branch;	/* key; may be "" */
	const char			*sent_by_host;	/* server key */
	struct sip_trans		*hnext;		/* hash chain */
	TAILQ_ENTRY(sip_trans)		 entry;		/* all, or dead */
	uint64_t			 created_us;
	uint64_t			 due[SIP_TRANS_NSLOTS]; /* mono us; 0 */
	struct event			*ev;		/* in the allocation */
	struct sip_dest			 dest;
};

TAILQ_HEAD(sip_trans_list, sip_trans);

struct sip_trans_table {
	struct sip_trans	**v;
	size_t			 n;		/* buckets, power of two */
	size_t			 count;
};

struct sip_trans_layer {
	struct event_base	*base;
	struct sip_trans_conf	 conf;
	const struct sip_tp_ops	*ops;
	void			*tp;
	sip_trans_request_h	*request_h;
	void			*request_arg;
	sip_trans_stateless_h	*stateless_h;
	void			*stateless_arg;
	sip_trans_trace_h	*trace_h;
	void			*trace_arg;
	sip_trans_overload_h	*overload_h;
	void			*overload_arg;
	struct sip_trans_table	 clients;	/* branch + method */
	struct sip_trans_table	 servers;	/* branch + sent-by + method */
	struct sip_trans_table	 old;		/* RFC 2543: §17.2.3 fields */
	uint64_t		 hash_key[2];	/* random, keys the tables */
	struct sip_trans_list	 all;		/* live, oldest first */
	struct sip_trans_list	 dead;		/* terminated, to reap */
	struct event		*reap;		/* frees the dead */
	struct event		*trim;		/* gives memory back */
	size_t			 live;
	size_t			 peak;		/* live, since last trim */
	size_t			 max;		/* 0: no limit */
	bool			 overloaded;
	uint64_t		 next_id;
	struct sip_trans_stats	 stats;
};

/*
 * Allocates a zeroed object of size bytes whose head is a struct
 * sip_trans, and sets the head up for req (the request sent or
 * received): kind, ops, dest, and the keys (method, branch, sent-by)
 * copied into the same block as the object, with its timer event and
 * the n extra strings extra[] (NUL-terminated; extra_out[i] points at
 * each).  Call sip_trans_link() once the object is ready to be found;
 * free it with sip_trans_fini() and then free().
 */
void	*sip_trans_new(struct sip_trans_layer *, size_t size,
	    enum sip_trans_kind, const struct sip_trans_ops *,
	    const struct sip_msg *req, const struct sip_dest *,
	    const struct slice *extra, const char **extra_out, size_t n);
void	sip_trans_link(struct sip_trans *);
/* The most transactions in one bucket of any table (tests, debugging). */
size_t	sip_trans_longest_chain(const struct sip_trans_layer *);
/* A request from an RFC 2543 peer: top Via without the magic cookie. */
bool	sip_trans_is_2543(const struct sip_msg *req);
struct sip_trans *sip_trans_find_client(struct sip_trans_layer *,
	    struct slice branch, struct slice method);
/* Leaves the tables, counts, schedules the reap. */
void	sip_trans_terminate(struct sip_trans *);
void	sip_trans_fini(struct sip_trans *);
int	sip_trans_tp_send(struct sip_trans *, const char *buf, size_t len);
void	sip_trans_traced(struct sip_trans *, const char *from,
	    const char *to);
/* Arms (ms from now) or stops one of the two deadlines. */
void	sip_trans_timer_set(struct sip_trans *, int slot, unsigned ms);
void	sip_trans_timer_stop(struct sip_trans *, int slot);
/* 100..699 from a "SIP/2.0 NNN " status line, or 0. */
unsigned sip_trans_status_of(const char *buf, size_t len);
/* True when the layer may take one more transaction; counts if not. */
bool	sip_trans_admit(struct sip_trans_layer *);

/* sip_strans.c */
struct sip_strans *sip_strans_new(struct sip_trans_layer *,
	    struct sip_msg *req, const struct sip_dest *src);
/* RFC 2543 matching (§17.2.3): the request (ACK: ACK rules) or CANCEL. */
bool	sip_strans_match_2543(const struct sip_strans *,
	    const struct sip_msg *req, bool cancel);

#endif
