/*
 * A fake call agent for the command tests: every function of ua/call.h
 * (and rtp_mode_name/parse), defined in a test object so that the
 * linker never takes libsipxua's call.o (nor libsipxmedia's rtp.o):
 * an archive member is only pulled in for a symbol still undefined, and
 * these are defined first.  Should some other object ever pull one of
 * them in, the link fails on a duplicate symbol, loudly.
 *
 * The fake records what the commands asked and answers what the test
 * set; call_fake_state() publishes a call.state as the real agent does.
 */
#ifndef SIPX_TEST_CALL_FAKE_H
#define SIPX_TEST_CALL_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ua/call.h"

struct call_fake {
	/* call_place */
	int			 place_rc;
	const char		*place_err;	/* copied to err */
	/* States published from inside call_place, for the call placed,
	 * before it returns ("calling", then maybe a final one). */
	const char		*place_states[2];
	int			 nplace;
	char			 account[64];
	char			 uri[256];
	uint64_t		 id;
	bool			 late_offer, late_offer_set, media_set;
	unsigned		 timeout_s;
	enum rtp_mode		 media;
	char			 play_file[256];
	char			 headers[8][256];
	size_t			 nheaders;
	/* actions */
	int			 action_rc;
	int			 nactions;
	char			 action[16];
	uint64_t		 action_id;
	unsigned		 code;
	char			 digits[64];	/* dtmf digits, or the transfer URI */
	/* what call_detail_get, the foreach and the counts show */
	bool			 known;		/* call_detail_get finds it */
	uint64_t		 known_id;
	struct call_detail	 detail;
	struct call_summary	 live[2];
	size_t			 nlive;
	struct call_summary	 hist[2];
	size_t			 nhist;
	size_t			 counts[CALL_STATE__COUNT];
};

extern struct call_fake call_fake;
/* Something to hand out as the daemon's agent. */
extern struct call_agent *const call_fake_agent;

void	call_fake_reset(void);
/* Publishes "call.state" for id with the given fields (NULL: none). */
void	call_fake_state(uint64_t id, const char *account, const char *state,
	    const char *status, const char *reason, const char *by);

#endif
