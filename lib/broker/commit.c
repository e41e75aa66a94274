/*
 * The commit point: durability decided in one place, once per pass of the
 * event loop (Redis's beforeSleep).
 *
 * A command that writes (send_messages, an offset store or delete, a poll
 * with auto_commit, a flush) only marks its partition pending in the store
 * and queues its reply as usual; the reply is then held: the connection's
 * output waits.  When every ready connection has been served,
 * vb_broker_commit runs the store's commit point and the loop releases
 * the output of every connection whose replies are all decided.  A reply
 * whose partition could not be committed is turned, in place, into 13000
 * (IO error) before it leaves: what it waited for was undone, so nothing
 * acknowledged is less durable than the --fsync mode promises, and readers
 * never saw it (reads stop at what a commit published).
 *
 * With --fsync always the pass's fdatasyncs (one per file touched, however
 * many batches went into it: group commit) are one job.  When other
 * connections are ready, the job is handed to the store's thread and the
 * loop serves them meanwhile (their writes form the next job); the replies
 * of a job leave once it is done (its eventfd wakes the loop).  When
 * nothing else is ready, the loop runs the job itself.  A failed job also
 * fails what its partition took in since, as that was undone with it.
 * Offsets are saved at the commit point itself, in every mode.
 *
 * Metadata commands are not held: their save is their own commit point,
 * made before the change is kept (see meta.c), because the commands that
 * follow in the same pass depend on it.  A command that removes or resets
 * partitions first runs vb_broker_commit_all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "broker/broker.h"
#include "base/banned.h"

struct vb_waiter {
	struct vb_conn *c; /* NULL once the connection is gone */
	size_t at;	   /* the reply's status field in c->out */
	struct vb_part *p;
	enum vb_hold what;
};

static void waiter_add(struct vb_waiter **v, size_t *n, size_t *cap,
		       const struct vb_waiter *w)
{
	VB_ALLOC_GROW(*v, *n + 1, *cap);
	(*v)[(*n)++] = *w;
}

void vb_broker_hold(struct vb_broker *b, struct vb_conn *c, size_t at,
		    struct vb_part *p, enum vb_hold what)
{
	struct vb_waiter w = { c, at, p, what };

	if (!c->held) {
		VB_ALLOC_GROW(b->held, b->nheld + 1, b->held_cap);
		b->held[b->nheld++] = c;
		c->held = 1;
	}
	c->waits++;
	waiter_add(&b->waiters, &b->nwaiters, &b->waiters_cap, &w);
}

void vb_broker_hold_move(struct vb_broker *b, struct vb_conn *c, size_t from,
			 size_t to)
{
	for (size_t i = 0; i < b->nwaiters; i++)
		if (b->waiters[i].c == c && b->waiters[i].at >= from)
			b->waiters[i].at = to;
}

/* The reply is decided: 13000 if it failed; one less to wait for. */
static void decide(struct vb_waiter *w, int failed)
{
	if (w->c == NULL)
		return;
	if (failed && w->what != VB_HOLD_ORDER)
		vb_st32(w->c->out.p + w->at, VB_ST_IO_ERROR);
	w->c->waits--;
	w->c = NULL;
}

void vb_broker_conn_gone(struct vb_broker *b, struct vb_conn *c)
{
	if (!c->held)
		return;
	for (size_t i = 0; i < b->nwaiters; i++)
		if (b->waiters[i].c == c)
			b->waiters[i].c = NULL;
	for (size_t i = 0; i < b->nflying; i++)
		if (b->flying[i].c == c)
			b->flying[i].c = NULL;
	for (size_t i = 0; i < b->nheld; i++)
		if (b->held[i] == c)
			b->held[i] = NULL;
	c->held = 0;
	c->waits = 0;
}

static void log_failures(struct vb_broker *b, struct vb_part **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct vb_part *p = v[i];

		if (p->data_err)
			vb_broker_log(b,
				      "commit: partition %s: %s; %u "
				      "message(s) undone, their senders "
				      "answered 13000",
				      p->dir, p->cerr.msg, p->undone);
		if (p->offs_err)
			vb_broker_log(b,
				      "commit: partition %s: consumer "
				      "offsets not saved%s%s; their changes "
				      "undone",
				      p->dir, p->data_err ? "" : ": ",
				      p->data_err ? "" : p->cerr.msg);
	}
}

/*
 * Is anything ready for the event loop (a request, a signal, the timer)?
 * Level-triggered epoll reports it again at the next wait, so nothing is
 * taken here.  When nothing is, the loop would only sleep while the fsync
 * thread syncs: it syncs itself and spares the two wake-ups.
 */
static int loop_wanted(struct vb_broker *b)
{
	struct epoll_event ev;

	return b->epfd >= 0 && epoll_wait(b->epfd, &ev, 1, 0) > 0;
}

/* The first half: what this pass (and those before, if any) wrote. */
static void commit_pass(struct vb_broker *b)
{
	struct vb_store *st = &b->store;

	if (st->npending == 0 && b->nwaiters == 0 &&
	    atomic_load(&b->sync.failures) == st->failures_seen)
		return;
	st->sync_here = !loop_wanted(b);
	if (vb_store_commit(st) > 0)
		log_failures(b, st->pending, st->npending);
	for (size_t i = 0; i < b->nwaiters; i++) {
		struct vb_waiter *w = &b->waiters[i];

		if (w->what == VB_HOLD_DATA && w->p->inflight && w->c)
			waiter_add(&b->flying, &b->nflying, &b->flying_cap, w);
		else if (w->what == VB_HOLD_DATA)
			decide(w, w->p->data_err);
		else
			decide(w, w->p->offs_err);
	}
	b->nwaiters = 0;
	vb_store_commit_end(st);
}

/* The second half (always mode): the job handed over is done. */
static void commit_done(struct vb_broker *b)
{
	struct vb_store *st = &b->store;
	size_t keep = 0;

	if (vb_store_commit_done(st) > 0)
		log_failures(b, st->inflight, st->ninflight);
	for (size_t i = 0; i < b->nflying; i++)
		decide(&b->flying[i], b->flying[i].p->data_err);
	b->nflying = 0;
	/* What was written after a failed job went with it. */
	for (size_t i = 0; i < b->nwaiters; i++) {
		struct vb_waiter *w = &b->waiters[i];

		if (w->what == VB_HOLD_DATA && w->p->data_err)
			decide(w, 1);
		else if (w->c)
			b->waiters[keep++] = *w;
	}
	b->nwaiters = keep;
	vb_store_commit_end(st);
}

int vb_broker_collect(struct vb_broker *b)
{
	if (!b->store.busy || !vb_syncer_done(&b->sync))
		return 0;
	commit_done(b);
	return 1;
}

void vb_broker_commit(struct vb_broker *b)
{
	/* One job at a time: this pass's writes wait for the next pass. */
	if (b->store.busy)
		return;
	commit_pass(b);
	/* Done already (run on this thread). */
	if (b->store.busy && vb_syncer_done(&b->sync))
		commit_done(b);
}

void vb_broker_commit_all(struct vb_broker *b)
{
	if (b->store.busy)
		commit_done(b);
	commit_pass(b);
	if (b->store.busy)
		commit_done(b);
}

void vb_broker_commit_release(struct vb_broker *b)
{
	vb_store_release(&b->store);
	free(b->waiters);
	free(b->flying);
	free(b->held);
	b->waiters = b->flying = NULL;
	b->held = NULL;
	b->nwaiters = b->waiters_cap = b->nflying = b->flying_cap = 0;
	b->nheld = b->held_cap = 0;
}
