/*
 * Dialogs (RFC 3261 §12): the state two user agents share for the life
 * of a call, and the table that finds a dialog for a request that comes
 * in one.  A dialog is identified by Call-ID, local tag and remote tag;
 * it holds the local and remote URIs, the remote target (the peer's
 * Contact), the route set (from Record-Route), both CSeq counters and
 * whether it is still early.
 *
 * This module builds the parts of an in-dialog request that the dialog
 * decides (§12.2.1.1: Request-URI and Route, loose or strict routing;
 * From, To, Call-ID, CSeq) and checks the order of the requests that come
 * in (§12.2.2).  It knows nothing of INVITE sessions, offers and answers,
 * or transactions: the call usage owns its dialogs and tells this module
 * what happened (a 1xx or 2xx that creates or confirms one, a target
 * refresh).  Forking (§12.1.2, §13.2.2.4) gives one early dialog per To
 * tag; the usage keeps them, and confirms the one that the 2xx names.
 *
 * Memory: a dialog owns copies of its strings (a few hundred bytes); the
 * table holds pointers to dialogs its users own, and a user removes its
 * dialog from the table before freeing it.
 */
#ifndef SIPX_SIP_DIALOG_H
#define SIPX_SIP_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "sip_build.h"
#include "sip_msg.h"

/* Route set entries a dialog keeps (Record-Route URIs); more: EMSGSIZE. */
#define SIP_DIALOG_ROUTES_MAX	16

enum sip_dialog_state {
	SIP_DIALOG_EARLY,	/* created by a 1xx with a To tag */
	SIP_DIALOG_CONFIRMED,	/* by a 2xx (or created as UAS and answered) */
	SIP_DIALOG_TERMINATED,
};

struct sip_dialog {
	enum sip_dialog_state	 state;
	bool			 uac;		/* we sent the request */
	bool			 secure;	/* sips: Request-URI, §12.1 */
	char			*call_id;
	char			*local_tag;
	char			*remote_tag;	/* "" until a UAC's dialog has
						 * one (never in the table) */
	/*
	 * Whole header values as they go into From and To of our requests,
	 * without the tag parameter (we append ";tag=..."): "<sip:a@b>" or
	 * "\"Alice\" <sip:a@b>".
	 */
	char			*local_uri;
	char			*remote_uri;
	char			*remote_target;	/* Contact URI, no brackets */
	char			*route[SIP_DIALOG_ROUTES_MAX];	/* URIs, in the
						 * order requests use them */
	size_t			 nroute;
	uint32_t		 local_cseq;	/* last one we sent */
	uint32_t		 remote_cseq;	/* last one received */
	bool			 remote_cseq_set;	/* §12.2.2: empty at first */
	/* For the table; NULL-safe to ignore otherwise. */
	struct sip_dialog	*hnext;
	bool			 in_table;
	/* The owner's, for the table's dispatch. */
	void			*owner;
	/* Which usage's handler the UA core gives its requests (the
	 * core's index; 0 is the call usage). */
	unsigned char		 usage;
};

/*
 * UAC side (§12.1.2): a dialog from the request we sent (req: its From,
 * Call-ID, CSeq and Request-URI) and a 1xx (with a To tag) or 2xx
 * response to it (To tag, Contact, Record-Route in reverse order).
 * Early for 1xx, confirmed for 2xx.  Returns 0; EINVAL when resp has no
 * To tag or a 2xx has no usable Contact (§12.1.2 requires one: the
 * caller may end the call); EMSGSIZE for more than SIP_DIALOG_ROUTES_MAX
 * routes.
 */
int	sip_dialog_uac(struct sip_dialog *, const struct sip_msg *req,
	    const struct sip_msg *resp);

/*
 * UAS side (§12.1.1): a dialog from the request received (Record-Route
 * in order, Contact as remote target, From as remote URI, CSeq as
 * remote CSeq) and our tag for To.  Starts early (confirmed once the
 * usage answers 2xx: sip_dialog_confirm(d, NULL)).  local_cseq starts
 * random below 2^31 (§8.1.1.5).  0; EINVAL without a Contact or a From
 * tag; EMSGSIZE as above.
 */
int	sip_dialog_uas(struct sip_dialog *, const struct sip_msg *req,
	    const char *local_tag);

/*
 * Early → confirmed.  For a UAC, resp is the 2xx: the route set is
 * recomputed from it (§13.2.2.4: the 2xx's Record-Route replaces the
 * early one) and the remote target taken from its Contact.  For a UAS,
 * resp is NULL.  0, or as sip_dialog_uac.
 */
int	sip_dialog_confirm(struct sip_dialog *, const struct sip_msg *resp);

/*
 * §12.2.1.2 / §12.2.2 target refresh: a re-INVITE, UPDATE or 2xx to
 * one with a Contact replaces the remote target.  Other messages are
 * ignored.  0 or EINVAL (a Contact that is not a URI: kept as it was).
 */
int	sip_dialog_refresh_target(struct sip_dialog *, const struct sip_msg *);

/* Frees the strings; the struct itself is the owner's. */
void	sip_dialog_clear(struct sip_dialog *);

/*
 * §12.2.2: checks an incoming request's CSeq against the remote one
 * and records it.  Returns 0; 500 (Server Internal Error, the §12.2.2
 * answer) when it is lower, or equal and not an ACK or CANCEL.  ACK and
 * CANCEL carry the INVITE's number and never move the counter.
 */
unsigned sip_dialog_check_cseq(struct sip_dialog *, const struct sip_msg *);

/* The next CSeq of a new request (not ACK or CANCEL, which reuse theirs). */
uint32_t sip_dialog_next_cseq(struct sip_dialog *);

/*
 * Starts an in-dialog request in b (§12.2.1.1): the request line with
 * the Request-URI, and Route, From (local_uri;tag), To (remote_uri;tag),
 * Call-ID and CSeq "cseq method".  With a loose first route (;lr) the
 * Request-URI is the remote target and Route the whole set; with a
 * strict one the Request-URI is that route and the remote target goes
 * last in Route.  The caller adds Via, Max-Forwards, Contact and the
 * rest.  0, or EINVAL when the dialog has no remote target.
 */
int	sip_dialog_request(const struct sip_dialog *, struct sip_build *b,
	    const char *method, uint32_t cseq);

/*
 * Where the request goes first (§8.1.2, §12.2.1.1): the first route if
 * there is one, else the remote target.  Resolve it with RFC 3263.
 */
const char *sip_dialog_next_hop(const struct sip_dialog *);

/* "call-id;local=tag;remote=tag" for logs and `sipxctl call ID`. */
void	sip_dialog_id_str(const struct sip_dialog *, char *out, size_t len);

/* ---- the table ---------------------------------------------------------- */

struct sip_dialog_table;

struct sip_dialog_table *sip_dialog_table_new(void);
/* The dialogs stay their owners'; the table just forgets them. */
void	sip_dialog_table_free(struct sip_dialog_table *);
/*
 * Adds d under (call_id, local_tag, remote_tag).  EEXIST if another
 * dialog has that ID, EINVAL without a remote tag.  The table grows as
 * needed (lookups stay O(1) at 100,000 dialogs).
 */
int	sip_dialog_table_add(struct sip_dialog_table *, struct sip_dialog *);
/* No-op if d is not in the table. */
void	sip_dialog_table_remove(struct sip_dialog_table *, struct sip_dialog *);
/*
 * The dialog an incoming request belongs to (§12.2.2: Call-ID, To tag
 * = local, From tag = remote), or NULL.
 */
struct sip_dialog *sip_dialog_table_find_request(
	    const struct sip_dialog_table *, const struct sip_msg *req);
/* By parts (a response: From tag = local, To tag = remote). */
struct sip_dialog *sip_dialog_table_find(const struct sip_dialog_table *,
	    struct slice call_id, struct slice local_tag,
	    struct slice remote_tag);
size_t	sip_dialog_table_count(const struct sip_dialog_table *);

const char *sip_dialog_state_name(enum sip_dialog_state);

#endif
