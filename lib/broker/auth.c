/*
 * auth.c - logins off the event loop (guard.h): the password worker
 * thread and the path of a login from its frame to its answer.
 *
 * The worker shares only struct vb_login records with the loop, through
 * two lists under one mutex: the queue (loop to worker) and the done list
 * (worker to loop, announced on an eventfd).  It reads a record's copies
 * of the password and of the stored hash and writes its verdict; it never
 * touches a connection, a user or the broker.  One worker is enough: it
 * is there so the loop never computes PBKDF2, not to compute more of it
 * (a flood only gets slower, the others are not).  It runs at a lower
 * priority (nice +10), so under contention for the cores the loop wins.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

enum login_where {
	AT_LOOP,	/* being decided, or answered */
	AT_QUEUE,	/* in a->q, not taken yet */
	AT_WORKER,	/* taken by the worker, or in a->done */
};

struct vb_auth {
	pthread_t th;
	int started;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct vb_login *q, **qtail;	/* waiting for the worker */
	struct vb_login *done, **dtail;	/* answered, for the loop */
};

static void login_free(struct vb_login *l)
{
	explicit_bzero(l, sizeof(*l));
	free(l);
}

static void *worker(void *arg)
{
	struct vb_auth *a = arg;

	/* Only this thread: the loop keeps its priority (guard.h). */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
	pthread_mutex_lock(&a->mu);
	for (;;) {
		struct vb_login *l;
		uint64_t one = 1;

		while (a->q == NULL && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop)
			break;
		l = a->q;
		a->q = l->next;
		if (a->q == NULL)
			a->qtail = &a->q;
		l->next = NULL;
		l->where = AT_WORKER;
		pthread_mutex_unlock(&a->mu);
		l->pw_ok = vb_pw_check(l->secret.s, l->secret.len, l->pwhash);
		pthread_mutex_lock(&a->mu);
		*a->dtail = l;
		a->dtail = &l->next;
		pthread_mutex_unlock(&a->mu);
		while (write(a->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int vb_auth_open(struct vb_broker *b, struct vb_err *e)
{
	struct vb_auth *a = vb_xcalloc(1, sizeof(*a));
	int rc;

	a->qtail = &a->q;
	a->dtail = &a->done;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	b->auth = a;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0)
		return vb_err_sys(e, VB_E_IO, "cannot make the password "
				  "worker's eventfd");
	rc = pthread_create(&a->th, NULL, worker, a);
	if (rc) {
		errno = rc;
		return vb_err_sys(e, VB_E_IO, "cannot start the password "
				  "worker");
	}
	a->started = 1;
	return 0;
}

int vb_auth_fd(const struct vb_broker *b)
{
	return b->auth ? b->auth->efd : -1;
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

	if (a == NULL)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->th, NULL);
	}
	free_list(a->q);
	free_list(a->done);
	if (a->efd >= 0)
		close(a->efd);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
	b->auth = NULL;
}

static void queue(struct vb_auth *a, struct vb_login *l)
{
	pthread_mutex_lock(&a->mu);
	l->next = NULL;
	l->where = AT_QUEUE;
	*a->qtail = l;
	a->qtail = &l->next;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Writes l's answer on its connection and frees l. */
static void answer(struct vb_broker *b, struct vb_login *l, int later)
{
	struct vb_conn *c = l->conn;

	if (l->status == VB_ST_OK) {
		c->user_id = l->user_id;
		vb_reply_identity(c, l->user_id);
	} else {
		vb_reply_err(c, l->status);
	}
	c->login = NULL;
	login_free(l);
	if (later)
		vb_conn_resume(b, c);
}

void vb_auth_login(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r)
{
	struct vb_login *l = vb_xcalloc(1, sizeof(*l));

	l->conn = c;
	l->code = r->code;
	l->name = r->name;
	if (r->code == VB_CMD_LOGIN_USER)
		l->secret = r->secret;
	l->where = AT_LOOP;
	c->login = l;
	if (vb_login_decide(b, l) == 0)
		answer(b, l, 0);
	else
		queue(b->auth, l);
}

void vb_auth_done(struct vb_broker *b)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l;
	uint64_t n;

	while (read(a->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&a->mu);
	l = a->done;
	a->done = NULL;
	a->dtail = &a->done;
	pthread_mutex_unlock(&a->mu);
	while (l) {
		struct vb_login *next = l->next;

		l->next = NULL;
		l->where = AT_LOOP;
		if (l->conn == NULL)
			login_free(l);
		else if (vb_login_verdict(b, l) == 0)
			answer(b, l, 1);
		else
			queue(a, l);
		l = next;
	}
}

void vb_auth_conn_gone(struct vb_broker *b, struct vb_conn *c)
{
	struct vb_auth *a = b->auth;
	struct vb_login *l = c->login, **pp;

	if (l == NULL)
		return;
	c->login = NULL;
	pthread_mutex_lock(&a->mu);
	if (l->where == AT_LOOP) {
		pthread_mutex_unlock(&a->mu);
		login_free(l);
		return;
	}
	if (l->where == AT_QUEUE) {
		/* Not taken yet: its PBKDF2 is never computed. */
		for (pp = &a->q; *pp != l; pp = &(*pp)->next)
			;
		*pp = l->next;
		if (a->qtail == &l->next)
			a->qtail = pp;
		pthread_mutex_unlock(&a->mu);
		login_free(l);
		return;
	}
	/* With the worker: comes back on the done list, then is freed. */
	l->conn = NULL;
	pthread_mutex_unlock(&a->mu);
}
