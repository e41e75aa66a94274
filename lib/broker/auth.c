/*
 * auth.c - logins off the event loop (guard.h): the password worker
 * thread and the path of a login from its frame to its answer.
 *
 * The worker shares only struct vb_login records with the loop, and no
 * lock: their pointers go to it through one pipe and come back through
 * another, whose read end the loop polls.  A lock would let the worker,
 * preempted while holding it (it runs at a lower priority, nice +10, so
 * that under contention for the cores the loop wins), stall the loop.
 * The worker reads a record's copies of the password and of the stored
 * hash and writes its verdict; it never touches a connection, a user or
 * the broker.  One worker is enough: it is there so the loop never
 * computes PBKDF2, not to compute more of it (a flood only gets slower,
 * the others are not).
 *
 * The failed-login limits (guard.h) are the loop's: a table of peer
 * addresses, and the list of logins waiting for their delay, sorted by
 * the time it ends, which arms the loop's wake timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

enum login_where {
	AT_LOOP,    /* being decided, or answered */
	AT_WORKER,  /* in the pipes or being checked */
	AT_BACKLOG, /* in a->backlog: the pipe to the worker was full */
	AT_DELAY,   /* in a->waiting, its delay not over */
};

#define PEERS 1024   /* addresses remembered */
#define PEER_PROBE 8 /* slots an address may take */
#define FORGET_US (15 * 60 * INT64_C(1000000))
#define FIRST_DELAY_MS 100

/* What is known of one peer address. */
struct peer {
	char ip[48];	/* "": a free slot */
	uint32_t fails; /* failed logins in a row */
	int64_t last_fail_us;
	struct vb_ratelog log; /* its failed-login lines */
	char last_user[56];    /* of the last failure, printable */
};

struct vb_auth {
	pthread_t th;
	int started;
	int to[2];   /* pointers to the worker */
	int from[2]; /* and back (the loop polls from[0]) */
	/* The loop's alone: */
	struct vb_login *backlog, **btail; /* for a full pipe */
	struct vb_login *waiting;	   /* for their delay, soonest first */
	struct peer peers[PEERS];
	uint64_t forgot; /* unlogged failures of evicted peers */
};

static void login_free(struct vb_login *l)
{
	explicit_bzero(l, sizeof(*l));
	free(l);
}

/* One pointer through a pipe: whole or not at all (PIPE_BUF). */
static int send_ptr(int fd, struct vb_login *l)
{
	ssize_t n;

	while ((n = write(fd, &l, sizeof(l))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(l) ? 0 : -1;
}

static struct vb_login *recv_ptr(int fd)
{
	struct vb_login *l;
	ssize_t n;

	while ((n = read(fd, &l, sizeof(l))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(l) ? l : NULL;
}

static void *worker(void *arg)
{
	struct vb_auth *a = arg;
	struct vb_login *l;

	/* Only this thread: the loop keeps its priority. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	/* Until the loop closes its end (vb_auth_close). */
	while ((l = recv_ptr(a->to[0])) != NULL) {
		if (!atomic_load(&l->cancelled)) {
			l->pw_ok = vb_pw_check(l->secret.s, l->secret.len,
					       l->pwhash);
			if (l->pw_ok && l->code == VB_CMD_CHANGE_PASSWORD)
				vb_pw_hash(l->secret2.s, l->secret2.len,
					   l->newhash, sizeof(l->newhash));
		}
		if (send_ptr(a->from[1], l) < 0)
			break;
	}
	close(a->from[1]);
	a->from[1] = -1;
	return NULL;
}

int vb_auth_open(struct vb_broker *b, struct vb_err *e)
{
	struct vb_auth *a = vb_xcalloc(1, sizeof(*a));
	int rc;

	a->to[0] = a->to[1] = a->from[0] = a->from[1] = -1;
	a->btail = &a->backlog;
	b->auth = a;
	if (pipe2(a->to, O_CLOEXEC) < 0 || pipe2(a->from, O_CLOEXEC) < 0)
		return vb_err_sys(e, VB_E_IO,
				  "cannot make the password "
				  "worker's pipes");
	/* The loop's ends never block; the worker's do. */
	fcntl(a->to[1], F_SETFL, O_NONBLOCK);
	fcntl(a->from[0], F_SETFL, O_NONBLOCK);
	rc = pthread_create(&a->th, NULL, worker, a);
	if (rc) {
		errno = rc;
		return vb_err_sys(e, VB_E_IO,
				  "cannot start the password "
				  "worker");
	}
	a->started = 1;
	return 0;
}

int vb_auth_fd(const struct vb_broker *b)
{
	return b->auth ? b->auth->from[0] : -1;
}

static void free_list(struct vb_login *l)
{
	while (l) {
		struct vb_login *n = l->next;

		login_free(l);
		l = n;
	}
}

void vb_auth_close(struct vb_broker *b)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l;

	if (a == NULL)
		return;
	/* Its queue ends: what it has left comes back, then EOF. */
	if (a->to[1] >= 0)
		close(a->to[1]);
	if (a->started) {
		fcntl(a->from[0], F_SETFL, 0);
		while ((l = recv_ptr(a->from[0])) != NULL)
			login_free(l);
		pthread_join(a->th, NULL);
	}
	free_list(a->backlog);
	free_list(a->waiting);
	for (int i = 0; i < 2; i++) {
		if (a->from[i] >= 0)
			close(a->from[i]);
	}
	if (a->to[0] >= 0)
		close(a->to[0]);
	free(a);
	b->auth = NULL;
}

/* To the worker, or behind the others when its pipe is full. */
static void queue(struct vb_auth *a, struct vb_login *l)
{
	l->next = NULL;
	if (a->backlog == NULL && send_ptr(a->to[1], l) == 0) {
		l->where = AT_WORKER;
		return;
	}
	l->where = AT_BACKLOG;
	*a->btail = l;
	a->btail = &l->next;
}

/* As much of the backlog as the pipe takes now. */
static void queue_backlog(struct vb_auth *a)
{
	while (a->backlog && send_ptr(a->to[1], a->backlog) == 0) {
		struct vb_login *l = a->backlog;

		a->backlog = l->next;
		if (a->backlog == NULL)
			a->btail = &a->backlog;
		l->next = NULL;
		l->where = AT_WORKER;
	}
}

/* ---- peer addresses ---- */

/* The entry of ip, made (or taken over) if needed. */
static struct peer *peer_get(struct vb_auth *a, const char *ip, int64_t now)
{
	uint32_t h = vb_xxh32(ip, strlen(ip));
	struct peer *free_slot = NULL, *oldest = NULL;

	for (uint32_t i = 0; i < PEER_PROBE; i++) {
		struct peer *p = &a->peers[(h + i) % PEERS];

		if (p->ip[0] && strcmp(p->ip, ip) == 0)
			return p;
		/* Free, or quiet long enough to be forgotten. */
		if (free_slot == NULL &&
		    (p->ip[0] == 0 || (now - p->last_fail_us > FORGET_US &&
				       p->log.skipped == 0)))
			free_slot = p;
		if (oldest == NULL || p->last_fail_us < oldest->last_fail_us)
			oldest = p;
	}
	if (free_slot == NULL) {
		free_slot = oldest;
		a->forgot += oldest->log.skipped;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	strlcpy(free_slot->ip, ip, sizeof(free_slot->ip));
	return free_slot;
}

/* How long after its last failure the next attempt from p waits. */
static int64_t peer_delay_us(const struct vb_limits *l, const struct peer *p)
{
	uint32_t shift;
	int64_t ms;

	if (l->login_failures == 0 || l->login_delay_max_ms == 0 ||
	    p->fails < l->login_failures)
		return 0;
	shift = p->fails - l->login_failures;
	ms = (int64_t)FIRST_DELAY_MS << (shift > 20 ? 20 : shift);
	if (ms > (int64_t)l->login_delay_max_ms)
		ms = l->login_delay_max_ms;
	return ms * 1000;
}

/* A name from the wire, fit for a log line. */
static void printable(char *out, size_t n, const struct vb_name *name)
{
	size_t k = 0;

	for (size_t i = 0; i < name->len && k + 1 < n; i++) {
		unsigned char ch = (unsigned char)name->s[i];

		out[k++] = ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\' ?
				   (char)ch :
				   '?';
	}
	out[k] = 0;
}

static void note_failure(struct vb_broker *b, struct vb_conn *c,
			 const struct vb_login *l, int64_t now)
{
	const struct vb_limits *lim = &b->o.lim;
	struct peer *p = peer_get(b->auth, c->ip, now);
	char what[128], then[96], before[64];
	uint64_t skipped;
	int64_t delay;

	c->login_fails++;
	p->fails++;
	p->last_fail_us = now;
	if (l->code == VB_CMD_LOGIN_PAT) {
		strlcpy(p->last_user, "(a token)", sizeof(p->last_user));
		strlcpy(what, "unknown token", sizeof(what));
	} else {
		printable(p->last_user, sizeof(p->last_user), &l->name);
		snprintf(what, sizeof(what), "%s for '%s'",
			 l->status == VB_ST_INVALID_CREDENTIALS &&
					 l->user_id != VB_NO_USER ?
				 "wrong password" :
				 "no such user",
			 p->last_user);
	}
	if (lim->login_failures && c->login_fails >= lim->login_failures)
		c->closing = 1;
	if (!vb_ratelog_event(&p->log, now, VB_LOG_EVERY_US, &skipped))
		return;
	delay = peer_delay_us(lim, p);
	then[0] = before[0] = 0;
	if (delay)
		snprintf(then, sizeof(then),
			 "; attempts from %s now wait "
			 "%" PRId64 " ms",
			 c->ip, delay / 1000);
	if (skipped)
		snprintf(before, sizeof(before),
			 "; %" PRIu64 " before it "
			 "were not logged",
			 skipped);
	vb_broker_log(b,
		      "login: %s from %s (%u in a row from %s, %u on the "
		      "connection%s)%s%s",
		      what, c->addr, p->fails, c->ip, c->login_fails,
		      c->closing ? ", which is closed after the answer" : "",
		      then, before);
}

void vb_auth_tick(struct vb_broker *b, int64_t now)
{
	struct vb_auth *a = b->auth;

	for (size_t i = 0; i < PEERS; i++) {
		struct peer *p = &a->peers[i];
		uint64_t n;

		if (!p->ip[0] ||
		    !vb_ratelog_due(&p->log, now, VB_LOG_EVERY_US, &n))
			continue;
		vb_broker_log(b,
			      "login: %" PRIu64 " more failed logins from "
			      "%s not logged in the last %" PRId64 " s (the "
			      "last for '%s'; %u in a row; attempts wait %" PRId64
			      " ms)",
			      n, p->ip, VB_LOG_EVERY_US / 1000000, p->last_user,
			      p->fails, peer_delay_us(&b->o.lim, p) / 1000);
	}
	if (a->forgot) {
		vb_broker_log(b,
			      "login: %" PRIu64 " failed logins from "
			      "addresses no longer remembered were not "
			      "logged",
			      a->forgot);
		a->forgot = 0;
	}
}

/* ---- a login's way ---- */

/* Writes l's answer on its connection and frees l. */
static void answer(struct vb_broker *b, struct vb_login *l, int later)
{
	struct vb_conn *c = l->conn;
	int64_t now = vb_mono_us();
	size_t m0 = l->answered ? l->answered_at : c->out.len;

	if (l->answered) {
		/* said so itself */
	} else if (l->status != VB_ST_OK) {
		vb_reply_err(c, l->status);
	} else if (l->code == VB_CMD_CHANGE_PASSWORD) {
		vb_reply_ok(c);
	} else {
		vb_conn_set_user(b, c, l->user_id);
		vb_reply_identity(c, l->user_id);
	}
	if (c->gen == VB_GEN_09 && c->v09_code)
		vb_v09_answered(b, c, m0); /* 0.9's reply instead */
	if (l->failed) {
		note_failure(b, c, l, now);
	} else if (l->status == VB_ST_OK && l->code != VB_CMD_CHANGE_PASSWORD) {
		c->login_fails = 0;
		peer_get(b->auth, c->ip, now)->fails = 0;
	}
	c->login = NULL;
	login_free(l);
	if (later)
		vb_conn_resume(b, c);
}

/* Decides l now, or hands it to the worker. */
static void check(struct vb_broker *b, struct vb_login *l, int later)
{
	l->where = AT_LOOP;
	if (vb_login_decide(b, l) == 0)
		answer(b, l, later);
	else
		queue(b->auth, l);
}

void vb_auth_login(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l = vb_xcalloc(1, sizeof(*l)), **pp;
	int64_t now = vb_mono_us(), delay;
	struct peer *p;

	l->conn = c;
	l->code = r->code;
	l->name = r->name;
	l->user_id = VB_NO_USER;
	if (r->code == VB_CMD_LOGIN_USER)
		l->secret = r->secret;
	c->login = l;
	p = peer_get(a, c->ip, now);
	delay = peer_delay_us(&b->o.lim, p);
	if (delay == 0 || now >= p->last_fail_us + delay) {
		check(b, l, 0);
		return;
	}
	/* Its delay is not over: on the waiting list, soonest first. */
	l->not_before_us = p->last_fail_us + delay;
	l->where = AT_DELAY;
	for (pp = &a->waiting; *pp && (*pp)->not_before_us <= l->not_before_us;
	     pp = &(*pp)->next)
		;
	l->next = *pp;
	*pp = l;
	vb_broker_wake_at(b, l->not_before_us);
}

void vb_auth_passwd(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r, uint32_t id)
{
	struct vb_login *l = vb_xcalloc(1, sizeof(*l));

	l->conn = c;
	l->code = r->code;
	l->user_id = id;
	l->secret = r->secret;
	l->secret2 = r->secret2;
	c->login = l;
	check(b, l, 0);
}

int64_t vb_auth_wake(struct vb_broker *b, int64_t now)
{
	struct vb_auth *a = b->auth;

	/* One at a time: answering one may put another on the list. */
	while (a->waiting && a->waiting->not_before_us <= now) {
		struct vb_login *l = a->waiting;

		a->waiting = l->next;
		l->next = NULL;
		check(b, l, 1);
	}
	return a->waiting ? a->waiting->not_before_us : 0;
}

void vb_auth_done(struct vb_broker *b)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l;

	/* A bounded batch: the loop has other things to do. */
	for (int i = 0; i < 64 && (l = recv_ptr(a->from[0])) != NULL; i++) {
		l->where = AT_LOOP;
		if (l->conn == NULL)
			login_free(l);
		else if (vb_login_verdict(b, l) == 0)
			answer(b, l, 1);
		else
			queue(a, l);
	}
	queue_backlog(a);
}

void vb_auth_conn_gone(struct vb_broker *b, struct vb_conn *c)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l = c->login, **pp;

	if (l == NULL)
		return;
	c->login = NULL;
	switch (l->where) {
	case AT_DELAY:
		for (pp = &a->waiting; *pp != l; pp = &(*pp)->next)
			;
		*pp = l->next;
		login_free(l);
		return;
	case AT_BACKLOG:
		for (pp = &a->backlog; *pp != l; pp = &(*pp)->next)
			;
		*pp = l->next;
		if (a->btail == &l->next)
			a->btail = pp;
		login_free(l);
		return;
	case AT_WORKER:
		/* Comes back (unchecked if not begun), then is freed. */
		l->conn = NULL;
		atomic_store(&l->cancelled, 1);
		return;
	default:
		login_free(l);
		return;
	}
}
