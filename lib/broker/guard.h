/*
 * guard.h - what keeps one hostile client from stalling the others
 * (issue 11): password checks off the event loop, limits on failed logins.
 *
 * Password checks.  PBKDF2 costs ~1.6 ms a password; on the event loop a
 * flood of wrong passwords would stall every connection.  A login that
 * needs one is handed to the password worker, a thread of its own (auth.c)
 * that only computes PBKDF2 over copies (the password and the stored hash)
 * and answers through a pipe the loop polls.  Meanwhile that one
 * connection waits: none of its later frames run and it is not read, so
 * its replies keep their order; every other connection goes on.  A login
 * the verified-login cache settles (one HMAC), or one naming no user, is
 * answered at once on the loop, as before.  change_password goes the same
 * way (the worker checks the old password and hashes the new one).
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
 *
 * Resources (loop.c).  At lim.max_conns connections a new one is answered
 * status 8 (Disconnected) and closed.  At lim.max_unauth connections not
 * logged in, a new one makes room by closing the oldest of them that is
 * not waiting for a login's answer (status 8 first), or is refused so if
 * every one is.  The bytes received and not yet processed, across all
 * connections, stay under lim.max_input: when they reach it, connections
 * are not read (backpressure, their clients' writes block) until requests
 * are processed; a frame larger than the whole budget is refused as
 * impossible (status 3, closed); when nothing is processed for a second
 * while input is full, the connection holding the most is closed (status
 * 8), as it could never complete.  A connection's unsent replies over
 * lim.max_output stop the reading and running of its requests until its
 * client reads (backpressure).  Out of descriptors (EMFILE, ENFILE) or
 * memory on accept, the listener leaves the epoll set for 250 ms at a
 * time (the wake timer puts it back), so the loop never spins on it.
 * Each of these is logged at most once per 10 s, with a count of the rest.
 */
#ifndef VB_BROKER_GUARD_H
#define VB_BROKER_GUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "broker/frames.h"
#include "wire/wire.h"

struct vb_broker;
struct vb_conn;
struct vb_auth;

/* Limits of vb_broker_opts.lim (defaults: vb_limits_init). */
struct vb_limits {
	unsigned max_conns;
	unsigned max_unauth;
	uint64_t max_input; /* at least VB_MIN_MAX_INPUT */
	uint64_t max_output;
	unsigned login_failures;     /* 0: no limit, no delay */
	unsigned login_delay_max_ms; /* 0: no delay */
};

#define VB_DEF_MAX_CONNS 1000
#define VB_DEF_MAX_UNAUTH 128
#define VB_DEF_MAX_INPUT (512ull << 20)
#define VB_MIN_MAX_INPUT (1ull << 20)
#define VB_DEF_MAX_OUTPUT (32ull << 20)
#define VB_DEF_LOGIN_FAILURES 5
#define VB_DEF_LOGIN_DELAY_MAX_MS 2000
/* Every limit's log lines: at most one per kind (or address) this often. */
#define VB_LOG_EVERY_US (10 * INT64_C(1000000))

void vb_limits_init(struct vb_limits *l);

/*
 * A log line rate limit: at most one line per `every` microseconds, and
 * a count of the events not logged meanwhile (guard.c).
 */
struct vb_ratelog {
	int64_t last_us;  /* of the last line; 0 never */
	uint64_t skipped; /* events since, not logged */
};

/* The loop's part of the guard (in struct vb_broker). */
struct vb_guard {
	int wakefd;		       /* timerfd of vb_broker_wake_at */
	int64_t wake_at;	       /* when it fires; 0 disarmed */
	struct vb_frame_limits frames; /* capped by lim.max_input */
	uint32_t nunauth;	       /* connections not logged in */
	uint64_t in_total;	       /* input held, all connections */
	uint64_t in_moved;	       /* input bytes ever processed */
	uint64_t in_moved_seen;	       /* ... at the last tick */
	int64_t stuck_since;	       /* input full, nothing processed */
	uint32_t nstarved;	       /* connections not read for it */
	int accept_paused;	       /* the listener is out of epoll */
	int64_t accept_at;	       /* until then */
	struct vb_ratelog rl_accept, rl_conns, rl_unauth, rl_input, rl_stuck;
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
 * A login (or a change of password) in progress.  The loop owns it,
 * except while it is with the worker, which reads secret, secret2 and
 * pwhash and writes pw_ok and newhash only.  conn is NULL once the
 * connection is gone.
 */
struct vb_login {
	struct vb_conn *conn;
	uint32_t code;		/* login_user, login_pat, change_password */
	struct vb_name name;	/* username, or the token */
	struct vb_name secret;	/* password (the current one) */
	struct vb_name secret2; /* change_password: the new one */
	char newhash[160];	/* ... hashed, when secret was right */
	/* Filled by vb_login_decide when the worker must check: */
	uint32_t user_id;
	char pwhash[160];
	int pw_ok; /* the worker's verdict */
	/* The outcome: 0 and user_id, or the status to answer. */
	uint32_t status;
	int failed;	       /* counts as a failed login */
	int answered;	       /* the reply is written already */
	size_t answered_at;    /* ... there in its connection's out */
	int where;	       /* auth.c's */
	atomic_int cancelled;  /* its connection went: the worker skips it */
	int64_t not_before_us; /* waits (vb_mono_us) until then */
	struct vb_login *next; /* in a queue, the done or the waiting list */
};

/* ---- the password worker (auth.c) ---- */

/* Starts the worker (signals blocked first: it inherits the mask). */
int vb_auth_open(struct vb_broker *b, struct vb_err *e);
/* The pipe's read end, readable when the worker has answers. */
int vb_auth_fd(const struct vb_broker *b);
/* Stops the worker and frees every login left. */
void vb_auth_close(struct vb_broker *b);
/*
 * Starts the login of request r on c: answers it at once when it can,
 * else leaves c->login set until the answer is queued (then resumes c).
 */
void vb_auth_login(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r);
/*
 * change_password of user id with request r on c: the check and the new
 * hash by the worker, then saved and answered (c->login meanwhile).
 */
void vb_auth_passwd(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r, uint32_t id);
/* vb_auth_fd is readable: answers the logins the worker decided. */
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
 * The worker's verdict: 0 with l decided as above (a change of password
 * saved: status 0, or l->answered when the save failed and said so); 1
 * when the user changed meanwhile (renamed, deleted, a new password) and
 * l->pwhash was refilled for another check.
 */
int vb_login_verdict(struct vb_broker *b, struct vb_login *l);
/* The Identity reply of a login (control.md §5.2.1). */
void vb_reply_identity(struct vb_conn *c, uint32_t id);

/* ---- the loop (loop.c) ---- */

/* c's login was answered later: run its waiting frames, write, poll. */
void vb_conn_resume(struct vb_broker *b, struct vb_conn *c);
/* c is logged in as user id (VB_NO_USER: logged out), counted. */
void vb_conn_set_user(struct vb_broker *b, struct vb_conn *c, uint32_t id);
/* Arms the wake timer for at (vb_mono_us) unless it fires before. */
void vb_broker_wake_at(struct vb_broker *b, int64_t at);

#endif
