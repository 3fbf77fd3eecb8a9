/*
 * The fake call agent of the command tests (see call_fake.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ua/events.h"
#include "call_fake.h"

struct call_fake call_fake;
static char fake_agent_storage;
struct call_agent *const call_fake_agent =
    (struct call_agent *)&fake_agent_storage;

static const char *const state_names[] = {
	"calling", "proceeding", "early", "ringing", "confirmed",
	"terminating", "terminated",
};

void
call_fake_reset(void)
{
	memset(&call_fake, 0, sizeof(call_fake));
}

void
call_fake_state(uint64_t id, const char *account, const char *state,
    const char *status, const char *reason, const char *by)
{
	struct events_kv kv[8];
	char ids[24];
	size_t n = 0;

	snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
	kv[n++] = (struct events_kv){ "id", ids };
	kv[n++] = (struct events_kv){ "dir", "out" };
	kv[n++] = (struct events_kv){ "state", state };
	kv[n++] = (struct events_kv){ "remote", "sip:bob@example.com" };
	if (status != NULL)
		kv[n++] = (struct events_kv){ "status", status };
	if (reason != NULL)
		kv[n++] = (struct events_kv){ "reason", reason };
	if (by != NULL)
		kv[n++] = (struct events_kv){ "by", by };
	events_publishv("call.state", account, kv, n);
}

const char *
call_state_name(enum call_state s)
{
	return (unsigned)s < CALL_STATE__COUNT ? state_names[s] : "?";
}

const char *
call_dir_name(enum call_dir d)
{
	return d == CALL_DIR_OUT ? "out" : "in";
}

const char *
rtp_mode_name(enum rtp_mode m)
{
	static const char *const names[] = { "none", "silence", "echo",
	    "play" };

	return (unsigned)m < 4 ? names[m] : "?";
}

int
rtp_mode_parse(const char *s)
{
	for (int m = 0; m < 4; m++)
		if (strcmp(s, rtp_mode_name((enum rtp_mode)m)) == 0)
			return m;
	return -1;
}

struct call_agent *
call_agent_new(struct ua *ua, struct account_set *set,
    struct rtp_engine *rtp, const struct call_conf *conf,
    call_change_fn *fn, void *arg)
{
	return call_fake_agent;
}

void
call_agent_set_conf(struct call_agent *ag, const struct call_conf *conf)
{
}

void
call_agent_stop(struct call_agent *ag, void (*done)(void *), void *arg)
{
	done(arg);
}

void
call_agent_free(struct call_agent *ag)
{
}

int
call_place(struct call_agent *ag, const struct call_params *p,
    uint64_t *id, char *err, size_t errlen)
{
	struct call_fake *f = &call_fake;

	f->nplace++;
	snprintf(f->account, sizeof(f->account), "%s", p->account);
	snprintf(f->uri, sizeof(f->uri), "%s", p->uri);
	f->id = p->id;
	f->late_offer = p->late_offer;
	f->late_offer_set = p->late_offer_set;
	f->timeout_s = p->timeout_s;
	f->media_set = p->media_set;
	f->media = p->media;
	snprintf(f->play_file, sizeof(f->play_file), "%s",
	    p->play_file != NULL ? p->play_file : "");
	f->nheaders = p->nheaders;
	for (size_t i = 0; i < p->nheaders && i < 8; i++)
		snprintf(f->headers[i], sizeof(f->headers[i]), "%s",
		    p->headers[i]);
	if (f->place_rc != 0) {
		if (f->place_err != NULL)
			snprintf(err, errlen, "%s", f->place_err);
		return f->place_rc;
	}
	*id = p->id;
	for (size_t i = 0; i < 2 && f->place_states[i] != NULL; i++) {
		bool end = strcmp(f->place_states[i], "terminated") == 0;

		call_fake_state(p->id, p->account, f->place_states[i],
		    end ? "503" : NULL, end ? "Service Unavailable" : NULL,
		    end ? "remote" : NULL);
	}
	return 0;
}

static int
fake_action(const char *name, uint64_t id)
{
	call_fake.nactions++;
	snprintf(call_fake.action, sizeof(call_fake.action), "%s", name);
	call_fake.action_id = id;
	return call_fake.action_rc;
}

int
call_answer(struct call_agent *ag, uint64_t id)
{
	return fake_action("answer", id);
}

int
call_reject(struct call_agent *ag, uint64_t id, unsigned code)
{
	call_fake.code = code;
	return fake_action("reject", id);
}

int
call_hangup(struct call_agent *ag, uint64_t id)
{
	return fake_action("hangup", id);
}

int
call_hold(struct call_agent *ag, uint64_t id)
{
	return fake_action("hold", id);
}

int
call_unhold(struct call_agent *ag, uint64_t id)
{
	return fake_action("unhold", id);
}

int
call_dtmf(struct call_agent *ag, uint64_t id, const char *digits)
{
	snprintf(call_fake.digits, sizeof(call_fake.digits), "%s", digits);
	return fake_action("dtmf", id);
}

int
call_transfer(struct call_agent *ag, uint64_t id, const char *uri,
    char *err, size_t errlen)
{
	snprintf(call_fake.digits, sizeof(call_fake.digits), "%s", uri);
	snprintf(err, errlen, "fake: transfer refused");
	return fake_action("transfer", id);
}

void
call_foreach(struct call_agent *ag,
    void (*fn)(const struct call_summary *, void *), void *arg)
{
	for (size_t i = 0; i < call_fake.nlive; i++)
		fn(&call_fake.live[i], arg);
}

void
call_history_foreach(struct call_agent *ag,
    void (*fn)(const struct call_summary *, void *), void *arg)
{
	for (size_t i = 0; i < call_fake.nhist; i++)
		fn(&call_fake.hist[i], arg);
}

int
call_detail_get(struct call_agent *ag, uint64_t id, struct call_detail *d)
{
	if (!call_fake.known || id != call_fake.known_id)
		return ENOENT;
	*d = call_fake.detail;
	return 0;
}

size_t
call_count_states(const struct call_agent *ag, size_t counts[])
{
	size_t total = 0;

	for (int s = 0; s < CALL_STATE__COUNT; s++) {
		counts[s] = call_fake.counts[s];
		total += counts[s];
	}
	return total;
}

/* status asks the media engine too; no engine runs here. */
void
rtp_engine_stats(const struct rtp_engine *eng, struct rtp_engine_stats *st)
{
	(void)eng;
	memset(st, 0, sizeof(*st));
}
