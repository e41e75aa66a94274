/*
 * guard.h - what keeps one hostile client from stalling the others
 * (issue 11): password checks off the event loop, limits on failed logins.
 *
 * Password checks.  PBKDF2 costs ~1.6 ms a password; on the event loop a
 * flood of wrong passwords would stall every connection.  A login that
 * needs one is handed to the password worker, a thread of its own (auth.c)
 * that only computes PBKDF2 over copies (the password and the stored hash)
 * and answers through an eventfd the loop polls.  Meanwhile that one
 * connection waits: none of its later frames run and it is not read, so
 * its replies keep their order; every other connection goes on.  A login
 * the verified-login cache settles (one HMAC), or one naming no user, is
 * answered at once on the loop, as before.
 *
 * Failed logins.  Each connection and each peer address (IP) counts its
 * consecutive failed logins (a wrong password, an unknown user or token);
 * a success resets both.  After lim.login_failures of them a connection
 * is closed once the failure is answered; from an address, each further
 * attempt waits, before its check, until a delay after the address's last
 * failure: 100 ms, doubling with each failure up to lim.login_delay_max_ms.
 * The waiting is a timer of the loop (vb_broker_wake_at), never a sleep.
 * Failures are logged, at most one line per address per 10 s; what was not
 * logged is counted in the next line for that address.  Addresses are
 * remembered in a fixed table; one is forgotten 15 minutes after its last
 * failure.
 */
#ifndef VB_BROKER_GUARD_H
#define VB_BROKER_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "wire/wire.h"

struct vb_broker;
struct vb_conn;
struct vb_auth;

/* Limits of vb_broker_opts.lim (defaults: vb_limits_init). */
struct vb_limits {
	unsigned login_failures;	/* 0: no limit, no delay */
	unsigned login_delay_max_ms;	/* 0: no delay */
};

#define VB_DEF_LOGIN_FAILURES 5
#define VB_DEF_LOGIN_DELAY_MAX_MS 2000

void vb_limits_init(struct vb_limits *l);

/*
 * A log line rate limit: at most one line per `every` microseconds, and
 * a count of the events not logged meanwhile (guard.c).
 */
struct vb_ratelog {
	int64_t last_us;	/* of the last line; 0 never */
	uint64_t skipped;	/* events since, not logged */
};

/*
 * An event happened at now: 1 when it may be logged, with *skipped set to
 * the events not logged before it (then forgotten); 0 when it is counted.
 */
int vb_ratelog_event(struct vb_ratelog *r, int64_t now, int64_t every,
		     uint64_t *skipped);
/*
 * For a periodic check: 1 when events were counted and `every` has passed
 * since the last line, with *skipped the count (then forgotten).
 */
int vb_ratelog_due(struct vb_ratelog *r, int64_t now, int64_t every,
		   uint64_t *skipped);

/*
 * A login in progress.  The loop owns it, except while it sits in the
 * worker's queue, where the worker reads name, secret and pwhash and
 * writes pw_ok only.  conn is NULL once the connection is gone.
 */
struct vb_login {
	struct vb_conn *conn;
	uint32_t code;		/* VB_CMD_LOGIN_USER or VB_CMD_LOGIN_PAT */
	struct vb_name name;	/* username, or the token */
	struct vb_name secret;	/* password */
	/* Filled by vb_login_decide when the worker must check: */
	uint32_t user_id;
	char pwhash[160];
	int pw_ok;		/* the worker's verdict */
	/* The outcome: 0 and user_id, or the status to answer. */
	uint32_t status;
	int failed;		/* counts as a failed login */
	int where;		/* auth.c's; under its mutex once queued */
	int64_t not_before_us;	/* waits (vb_mono_us) until then */
	struct vb_login *next;	/* in a queue, the done or the waiting list */
};

/* ---- the password worker (auth.c) ---- */

/* Starts the worker (signals blocked first: it inherits the mask). */
int vb_auth_open(struct vb_broker *b, struct vb_err *e);
/* The eventfd that is readable when the worker has answers. */
int vb_auth_fd(const struct vb_broker *b);
/* Stops the worker and frees every login left. */
void vb_auth_close(struct vb_broker *b);
/*
 * Starts the login of request r on c: answers it at once when it can,
 * else leaves c->login set until the answer is queued (then resumes c).
 */
void vb_auth_login(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r);
/* The eventfd is readable: answers the logins the worker decided. */
void vb_auth_done(struct vb_broker *b);
/* c is going away: forget its login, if any. */
void vb_auth_conn_gone(struct vb_broker *b, struct vb_conn *c);
/*
 * The wake timer fired at now: checks the logins whose delay is over.
 * Returns when the next one is due (vb_mono_us), 0 if none waits.
 */
int64_t vb_auth_wake(struct vb_broker *b, int64_t now);
/* Each second: the failed logins counted and not logged yet. */
void vb_auth_tick(struct vb_broker *b, int64_t now);

/* ---- the decisions (users.c) ---- */

/*
 * Decides l without PBKDF2 when it can (no such user or token, the
 * verified-login cache): 0 with l->status (and l->user_id, l->failed)
 * set.  1: the worker must check l->secret against l->pwhash (filled).
 */
int vb_login_decide(struct vb_broker *b, struct vb_login *l);
/*
 * The worker's verdict: 0 with l decided as above; 1 when the user
 * changed meanwhile (renamed, deleted, a new password) and l->pwhash was
 * refilled for another check.
 */
int vb_login_verdict(struct vb_broker *b, struct vb_login *l);
/* The Identity reply of a login (control.md §5.2.1). */
void vb_reply_identity(struct vb_conn *c, uint32_t id);

/* ---- the loop (loop.c) ---- */

/* c's login was answered later: run its waiting frames, write, poll. */
void vb_conn_resume(struct vb_broker *b, struct vb_conn *c);
/* Arms the wake timer for at (vb_mono_us) unless it fires before. */
void vb_broker_wake_at(struct vb_broker *b, int64_t at);

#endif
