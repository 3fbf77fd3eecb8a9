/*
 * Message summaries (RFC 3842 §5.2, application/simple-message-summary):
 * the body a message-waiting NOTIFY carries, parsed into whether
 * messages wait, the account they wait in, and per message class (RFC
 * 3458: voice, fax, pager, multimedia, text, none) the new and old
 * counts with their urgent parts.  A pure body parser: no SIP, no
 * allocation; the account URI is a slice into the body.
 */
#ifndef SIPX_SIP_SIP_MWI_H
#define SIPX_SIP_SIP_MWI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/* A body longer than this is refused (EMSGSIZE): a summary is small. */
#define SIP_MWI_BODY_MAX	8192
/* A count above this is refused (ERANGE): no mailbox holds more. */
#define SIP_MWI_COUNT_MAX	999999999u

enum sip_mwi_class {
	SIP_MWI_VOICE,		/* voice-message */
	SIP_MWI_FAX,		/* fax-message */
	SIP_MWI_PAGER,		/* pager-message */
	SIP_MWI_MULTIMEDIA,	/* multimedia-message */
	SIP_MWI_TEXT,		/* text-message */
	SIP_MWI_NONE,		/* none */
	SIP_MWI_CLASS__COUNT
};

struct sip_mwi_counts {
	bool		 present;	/* the body had a line for it */
	uint32_t	 new_msgs, old_msgs;
	uint32_t	 new_urgent, old_urgent;	/* 0 when not given */
};

struct sip_mwi {
	bool			 waiting;	/* Messages-Waiting: yes */
	struct slice		 account;	/* Message-Account, or empty */
	struct sip_mwi_counts	 cls[SIP_MWI_CLASS__COUNT];
	unsigned		 unknown;	/* lines of other names, skipped */
};

/*
 * Parses body[0..len).  0 and *out; or EINVAL with *why (no
 * Messages-Waiting first, a value other than yes/no, a summary line
 * that does not parse, a class given twice, a NUL or a bare control
 * byte), ERANGE (a count above SIP_MWI_COUNT_MAX) or EMSGSIZE (longer
 * than SIP_MWI_BODY_MAX).  Lines end in CRLF or LF; header names are
 * case-insensitive; lines of other names before the blank line, and
 * everything after it (RFC 3842's opt-msg-headers), are skipped.
 */
int	sip_mwi_parse(struct sip_mwi *out, const char *body, size_t len,
	    const char **why);

/* "voice-message" and so on. */
const char *sip_mwi_class_name(enum sip_mwi_class);

#endif
