/*
 * consume.c - reading the log (vibes-poll).
 *
 * A consumer (-c) keeps its own next offset per partition and polls every
 * partition with explicit offsets, one request per partition in flight:
 * a round.  The answers of a round are taken together and their messages
 * written merged by timestamp (per-partition order is kept either way),
 * unless the order asked for is by partition.  A group member (-g) lets
 * the server pick among its assigned partitions (poll with no partition,
 * strategy "next"), one request in flight.  Either way an event is
 * committed only after vb_out_flush said it was delivered; the offset
 * stores ride in front of the next polls.
 *
 * Every message is checked before it is written (lengths, reserved field,
 * checksum): the ones before a bad one are delivered and committed, then
 * the bad one stops the run (VB_E_DATA, naming partition and offset) or,
 * with skip_bad, is reported and stepped over.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "log/log-int.h"
#include "wire/status.h"
#include "base/banned.h"

void vb_consume_opts_init(struct vb_consume_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->from.kind = VB_POS_COMMITTED;
	o->interval_us = 100000;
	o->count = 4096;
	o->format = VB_FORMAT_RAW;
	o->handoff = VB_HANDOFF_AUTO;
}

/*
 * The messages of one poll answer for one partition, checked one by one:
 * the good ones, then possibly one that a reader must not deliver (bad),
 * after which the answer cannot be read on.
 */
struct part_msgs {
	uint32_t part;
	struct vb_msg *m;
	size_t n, cap, at; /* at: the next to deliver */
	/*
	 * top[i]: the latest made of m[0..i] (time_cmp), which stands for
	 * m[i] in the time order: a message cannot go out before the ones
	 * ahead of it in its partition, so the list sorts as if in order
	 * when producers' clocks or batches interleave (vibes-poll
	 * --order time, deliver_round).
	 */
	size_t *top;
	size_t top_cap;
	uint32_t seen;	  /* messages the answer held, below ours too */
	uint32_t asked;	  /* the count polled: seen == asked, more wait */
	uint64_t current; /* the partition's current offset */
	int bad;
	uint64_t bad_off;
	struct vb_err bad_err;
	int resync;	    /* 0.9 group: the partition is not ours now */
	struct vb_buf keep; /* 0.9: the answer's bytes, taken out (take_round) */
};

struct run {
	const struct vb_consume_opts *o;
	struct vb_log *l;
	struct vb_consumer who;
	struct vb_out out;
	struct vb_buf tx;
	struct vb_consume_stats *st;
	uint64_t *next;	 /* per partition */
	uint64_t *floor; /* group: where reading starts (registry) */
	uint8_t *dirty;	 /* delivered but not committed */
	uint8_t *caught;
	uint8_t *done;		 /* not read (-p), or --until reached */
	uint64_t *until;	 /* --until as an offset, per partition */
	int64_t last_event;	 /* --idle-timeout: when one came last */
	uint64_t wait_us;	 /* follow: the next wait while caught up */
	uint64_t seen_at_wait;	 /* st->delivered at the last wait */
	struct vb_wait_part *wp; /* follow: a waiting poll's partitions */
	int64_t committed_at;	 /* when commits were last answered */
	/* what each line in r->out is */
	uint32_t *line_part;
	uint64_t *line_off;
	size_t lines_cap;
	struct part_msgs *pm; /* one per answer of a round */
	size_t pm_cap;
	size_t *heap;
	size_t heap_cap;
	uint64_t left; /* events still allowed by the limit */
	int failed;    /* output failed: stop after committing */
	int resumed;   /* after a reconnect: keep the positions */
	int bad;       /* a bad message stops the run */
	struct vb_err out_err, bad_err;
};

static int stopped(const struct run *r)
{
	return r->o->stop && *r->o->stop;
}

static void sleep_us(const struct run *r, uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000),
			       (long)(us % 1000000) * 1000 };

	if (!stopped(r))
		nanosleep(&ts, NULL); /* a signal cuts it short */
}

/*
 * Follow, caught up, against a server without waiting polls: waits before
 * polling again.  The wait adapts: the shortest (VB_FOLLOW_MIN_WAIT_US,
 * or --interval if that is shorter) when events came since the last
 * wait, so a flowing topic is read within about a millisecond; doubled
 * after each empty wait up to --interval, so an idle follower costs next
 * to nothing.
 */
#define VB_FOLLOW_MIN_WAIT_US 1000

static void follow_wait(struct run *r)
{
	uint64_t max = r->o->interval_us;
	uint64_t min = max < VB_FOLLOW_MIN_WAIT_US ? max :
						     VB_FOLLOW_MIN_WAIT_US;

	if (r->st->delivered != r->seen_at_wait || r->wait_us == 0)
		r->wait_us = min;
	else
		r->wait_us = r->wait_us * 2 > max ? max : r->wait_us * 2;
	r->seen_at_wait = r->st->delivered;
	sleep_us(r, r->wait_us);
}

/*
 * Follow, caught up, against a server with waiting polls (vibes-iggyd):
 * one request waits in the server until an event is published or
 * VB_FOLLOW_PARK_US passes (the longest a signal waits for the run to
 * end).  Upstream 0.8.0 answers it 3, once per connection.
 */
#define VB_FOLLOW_PARK_US 500000

/* A request `code` of this run's consumer on its stream and topic. */
static void run_req(struct vb_req *q, const struct run *r, uint32_t code)
{
	vb_req_init(q, code);
	q->consumer = r->who;
	q->stream = r->l->stream;
	q->topic = r->l->topic;
}

/* How many events a poll asks for: --count, or what --limit leaves. */
static uint32_t poll_count(const struct run *r)
{
	uint64_t cnt = r->o->count;

	if (r->o->limit && r->left < cnt)
		cnt = r->left;
	return (uint32_t)cnt;
}

static void wait_req(struct vb_req *q, const struct run *r, uint32_t code)
{
	run_req(q, r, code);
	q->count = poll_count(r);
	q->wait.max_wait_us = VB_FOLLOW_PARK_US;
	q->wait.min_count = 1;
}

static void enc_store(struct run *r, uint32_t p)
{
	struct vb_req q;

	run_req(&q, r, VB_CMD_STORE_CONSUMER_OFFSET);
	q.part.present = 1;
	q.part.id = p;
	q.value = r->next[p] - 1;
	vb_wire_req_frame(&r->tx, r->l->c->framing, &q);
}

/* Appends store requests for every partition with undelivered commits. */
static size_t enc_commits(struct run *r)
{
	size_t n = 0;

	if (r->o->no_commit)
		return 0;
	for (uint32_t p = 0; p < r->l->nparts; p++)
		if (r->dirty[p] && r->next[p] > 0) {
			enc_store(r, p);
			r->dirty[p] = 2; /* in flight */
			n++;
		}
	return n;
}

/*
 * Reads the answers of n store requests sent by enc_commits (one per
 * partition in flight, in partition order), every one of them so the
 * connection stays in step.  A group member's commit refused with 3022
 * means the group gave that partition to another member meanwhile (a
 * member left, or the server's rebalancing timeout passed): not an error
 * for this member; the new owner reads on after the group's last commit,
 * so those events are delivered again (at least once).
 */
static int read_commits(struct run *r, size_t n, struct vb_err *e)
{
	uint32_t p = 0, bad = 0;
	struct vb_err first;
	struct vb_reply rep;

	for (size_t i = 0; i < n; i++, p++) {
		while (p < r->l->nparts && r->dirty[p] != 2)
			p++;
		if (vb_client_next(r->l->c, &rep, e))
			return -1;
		if (rep.status == VB_ST_TRANSIENT_NOT_COMMITTED ||
		    rep.status == VB_ST_TRANSIENT_NOT_ACCEPTED) {
			/* 0.9: not done (yet); the next round commits again */
			r->dirty[p] = 3;
		} else if (vb_status_not_owner(rep.status) && r->o->group) {
			if (r->o->notice) {
				char msg[200];

				snprintf(msg, sizeof(msg),
					 "partition %u went to another member of the group before its commit; that member reads it again from the last commit",
					 p);
				r->o->notice(r->o->connect_arg, msg);
			}
		} else if (rep.status && bad++ == 0) {
			vb_client_status_err(&first, rep.status,
					     "store_consumer_offset");
		}
	}
	if (bad) {
		*e = first;
		return -1;
	}
	for (p = 0; p < r->l->nparts; p++)
		if (r->dirty[p] == 2 || r->dirty[p] == 3)
			r->dirty[p] = r->dirty[p] == 3;
	r->st->committed = r->st->delivered;
	if (n > 0)
		r->committed_at = vb_mono_us();
	return 0;
}

/*
 * A consumer that follows commits at most every VB_FOLLOW_COMMIT_US (and
 * at the end, which commit_now always does): each is a write of the
 * server's offsets file at its commit point, which on a busy disk can
 * take tens of milliseconds, and the events that come meanwhile wait
 * behind its answer.  Events delivered since are read again after a
 * crash of this process: at least once, as before.  A group member
 * commits every round: the server's "next" starts after its commit.
 */
#define VB_FOLLOW_COMMIT_US 1000000

static int commit_due(const struct run *r)
{
	return !r->o->follow ||
	       vb_mono_us() - r->committed_at >= VB_FOLLOW_COMMIT_US;
}

static int commit_now(struct run *r, struct vb_err *e);

/* commit_now when one is due. */
static int commit_lazy(struct run *r, struct vb_err *e)
{
	return commit_due(r) ? commit_now(r, e) : 0;
}

static int commit_now(struct run *r, struct vb_err *e)
{
	size_t n;

	vb_buf_reset(&r->tx);
	n = enc_commits(r);
	if (n == 0)
		return 0;
	vb_client_queue(r->l->c, r->tx.p, r->tx.len);
	return read_commits(r, n, e);
}

/* ---- one round of answers ---- */

/* At or past --until: not delivered, and the partition is done. */
static int past_until(const struct run *r, uint32_t p, const struct vb_msg *m)
{
	if (!r->o->has_until)
		return 0;
	if (r->o->until.kind == VB_POS_TIME)
		return m->timestamp >= r->o->until.n;
	return m->offset >= r->until[p];
}

/*
 * Reads a poll answer for partition p into pm: the messages at or past
 * where we are (next, and a group's floor), checked; a message that does
 * not parse or verify ends the list as pm->bad.  -1 only when the answer
 * itself is broken (its header).
 */
static int time_cmp(const struct vb_msg *x, const struct vb_msg *y);

/* Appends m to pm's list, with what stands for it in the time order. */
static void pm_add(struct part_msgs *pm, const struct vb_msg *m)
{
	size_t i = pm->n;

	VB_ALLOC_GROW_FROM(pm->m, i + 1, pm->cap, 256);
	VB_ALLOC_GROW_FROM(pm->top, i + 1, pm->top_cap, 256);
	pm->m[i] = *m;
	pm->top[i] = i > 0 && time_cmp(&pm->m[pm->top[i - 1]], m) > 0 ?
			     pm->top[i - 1] :
			     i;
	pm->n = i + 1;
}

static int read_answer(struct run *r, uint32_t p, const struct vb_reply *rep,
		       struct part_msgs *pm, struct vb_err *e)
{
	uint64_t from = r->next[p] > r->floor[p] ? r->next[p] : r->floor[p];
	uint64_t expect = from;
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_msgs it;
	struct vb_msg m;
	int rc;

	pm->part = p;
	pm->n = pm->at = 0;
	pm->seen = 0;
	pm->bad = 0;
	pm->resync = 0;
	vb_rd_init(&rd, rep->payload, rep->len);
	if (vb_wire_dec_poll_hdr(&rd, &h, e))
		return -1;
	pm->current = h.current_offset;
	if (h.partition_id == VB_POLL_RESYNC && r->o->group) {
		/* 0.9: not ours any more (messages.md §4.2) */
		pm->resync = 1;
		return 0;
	}
	vb_msgs_init(&it, r->l->c->framing->gen, rd.p + rd.off,
		     vb_rd_left(&rd));
	for (;;) {
		rc = vb_msgs_next(&it, &m, &pm->bad_err);
		if (rc == 0)
			break;
		if (rc == 1 && vb_wire_msg_verify(&m, &pm->bad_err) == 0) {
			pm->seen++;
			expect = m.offset + 1;
			if (m.offset < from)
				continue; /* before us (segment start) */
			if (past_until(r, p, &m)) {
				r->done[p] = 1;
				break;
			}
			pm_add(pm, &m);
			continue;
		}
		/*
		 * Where the bad one is: its own offset when its header is
		 * readable and plausible, else the one after the last good.
		 */
		pm->seen++;
		pm->bad = 1;
		pm->bad_off = rc == 1 && m.offset >= expect &&
					      m.offset <= h.current_offset ?
				      m.offset :
				      expect;
		break;
	}
	return 0;
}

/* When the producer made it: its origin timestamp, else the server's. */
static uint64_t made_at(const struct vb_msg *m)
{
	return m->origin_timestamp ? m->origin_timestamp : m->timestamp;
}

/*
 * The time order: by when the producer made them, then by id, which for
 * one vibes-append is its input order (the id ends in a sequence number).
 */
static int time_cmp(const struct vb_msg *x, const struct vb_msg *y)
{
	if (made_at(x) != made_at(y))
		return made_at(x) < made_at(y) ? -1 : 1;
	return memcmp(x->id, y->id, sizeof(x->id));
}

/* What stands for pm's message i in the time order (pm->top). */
static const struct vb_msg *key_of(const struct part_msgs *pm, size_t i)
{
	return &pm->m[pm->top[i]];
}

/* Earlier first (by key_of, in order along each list); then by partition. */
static int before(const struct run *r, size_t a, size_t b)
{
	int c = r->o->order == VB_ORDER_TIME ?
			time_cmp(key_of(&r->pm[a], r->pm[a].at),
				 key_of(&r->pm[b], r->pm[b].at)) :
			0;

	return c ? c < 0 : r->pm[a].part < r->pm[b].part;
}

static void sift_down(struct run *r, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, best = i;

		if (l < n && before(r, r->heap[l], r->heap[best]))
			best = l;
		if (l + 1 < n && before(r, r->heap[l + 1], r->heap[best]))
			best = l + 1;
		if (best == i)
			return;
		size_t t = r->heap[i];

		r->heap[i] = r->heap[best];
		r->heap[best] = t;
		i = best;
	}
}

static void put_line(struct run *r, uint32_t p, const struct vb_msg *m)
{
	size_t k = r->out.nlines;

	if (k == r->lines_cap) {
		size_t cap = vb_alloc_nr(r->lines_cap, k + 1, 4096);

		r->line_part = vb_xreallocarray(r->line_part, cap,
						sizeof(*r->line_part));
		r->line_off = vb_xreallocarray(r->line_off, cap,
					       sizeof(*r->line_off));
		r->lines_cap = cap;
	}
	r->line_part[k] = p;
	r->line_off[k] = m->offset;
	if (r->o->format == VB_FORMAT_RAW) {
		uint8_t *d = vb_buf_reserve(&r->out.buf, m->payload_len + 1);

		memcpy(d, m->payload, m->payload_len);
		d[m->payload_len] = '\n';
		r->out.buf.len += m->payload_len + 1;
	} else if (r->o->format == VB_FORMAT_JSON) {
		vb_log_format_json(&r->out.buf, p, m);
		vb_buf_addch(&r->out.buf, '\n');
	} else
		vb_template_format(&r->out.buf, r->o->tmpl, p, m);
	vb_out_line_end(&r->out);
}

/*
 * In time order, a partition whose answer was cut by the count may hold
 * more events made before the others' later ones: the round delivers
 * only up to the earliest last event of such an answer (the watermark)
 * and leaves the rest to the next round, so the order holds across
 * rounds too.  NULL: no answer was cut.  "Last" is by key_of, the latest
 * made in the answer: with two producers a partition's last event may
 * have been made before its first, and a watermark below every list's
 * head delivered nothing, round after round (vibes-poll -n polled
 * forever).  The head of the heap is never past the watermark now, so
 * every round delivers.
 */
static const struct vb_msg *watermark(const struct run *r, size_t k)
{
	const struct vb_msg *w = NULL;

	if (r->o->order != VB_ORDER_TIME)
		return NULL;
	for (size_t i = 0; i < k; i++) {
		const struct part_msgs *pm = &r->pm[i];

		if (pm->n == 0 || pm->bad || pm->seen < pm->asked)
			continue;
		if (w == NULL || time_cmp(key_of(pm, pm->n - 1), w) < 0)
			w = key_of(pm, pm->n - 1);
	}
	return w;
}

/*
 * Writes the round's messages (k answers) merged in time order (or in
 * partition order), as far as the limit and the watermark allow, and
 * advances each partition's position over what was delivered.  Then a
 * bad message whose partition was delivered up to it is skipped
 * (--skip-bad) or stops the run.
 */
static void deliver_round(struct run *r, size_t k)
{
	const struct vb_msg *w = watermark(r, k);
	size_t n = 0, done, lines;

	VB_ALLOC_GROW(r->heap, k, r->heap_cap);
	for (size_t i = 0; i < k; i++)
		if (r->pm[i].n > 0)
			r->heap[n++] = i;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(r, n, i);
	while (n > 0 && !(r->o->limit && r->left == 0)) {
		struct part_msgs *pm = &r->pm[r->heap[0]];

		if (w && time_cmp(key_of(pm, pm->at), w) > 0)
			break; /* the rest waits for the next round */

		put_line(r, pm->part, &pm->m[pm->at++]);
		if (r->o->limit)
			r->left--;
		if (pm->at == pm->n)
			r->heap[0] = r->heap[--n];
		sift_down(r, n, 0);
	}
	lines = r->out.nlines;
	if (lines == 0)
		goto bad;
	if (vb_out_flush(&r->out, &done, &r->out_err))
		r->failed = 1;
	for (size_t i = 0; i < done; i++) {
		uint32_t p = r->line_part[i];

		r->next[p] = r->line_off[i] + 1;
		r->dirty[p] = 1;
	}
	if (done) {
		r->st->bytes += r->out.ends[done - 1];
		r->last_event = vb_mono_us();
	}
	r->st->delivered += done;
	if (r->failed && r->o->limit)
		r->left += lines - done;
	if (r->failed)
		return;
bad:
	for (size_t i = 0; i < k && !r->bad && !r->failed; i++) {
		struct part_msgs *pm = &r->pm[i];
		char what[160];

		if (!pm->bad || pm->at < pm->n)
			continue; /* not there yet */
		snprintf(what, sizeof(what), "partition %u offset %llu",
			 pm->part, (unsigned long long)pm->bad_off);
		if (r->o->skip_bad) {
			if (r->o->bad)
				r->o->bad(r->o->connect_arg, pm->part,
					  pm->bad_off, pm->bad_err.msg);
			r->next[pm->part] = pm->bad_off + 1;
			r->dirty[pm->part] = 1;
			r->st->skipped++;
			continue;
		}
		vb_err_set(&r->bad_err, VB_E_DATA, "%s: bad message: %s", what,
			   pm->bad_err.msg);
		r->bad = 1;
	}
}

/* What an answer's copy (part_msgs.keep) may keep of room, as a reader. */
#define KEEP_MAX (8u << 20)

/* Room for k answers' lists (new ones empty). */
static void pm_reserve(struct run *r, size_t k)
{
	size_t old = r->pm_cap;

	VB_ALLOC_GROW(r->pm, k, r->pm_cap);
	if (r->pm_cap > old)
		memset(r->pm + old, 0, (r->pm_cap - old) * sizeof(*r->pm));
}

/*
 * A round of k answers: pm[i] for partition parts[i], polled for asked[i]
 * events; -1 on a broken answer.  Over 0.8 every answer comes in first,
 * so that their payloads stay valid side by side in the client's reader.
 * 0.9 is lock-step: the client sends each poll when the answer before it
 * came, so each answer is read as it comes, while the server makes the
 * next, its bytes taken out of the reader first (pm->keep).
 */
static int take_round(struct run *r, const uint32_t *parts,
		      const uint32_t *asked, size_t k, struct vb_err *e)
{
	struct vb_client *c = r->l->c;
	int one = c->framing->gen == VB_GEN_09;
	struct vb_reply rep;

	pm_reserve(r, k);
	if (!one && vb_client_wait_ready(c, k, e))
		return -1;
	for (size_t i = 0; i < k; i++) {
		if (one && vb_client_wait_ready(c, 1, e))
			return -1;
		if (vb_client_take(c, &rep, e) != 1)
			return -1;
		if (one) {
			struct vb_buf *keep = &r->pm[i].keep;

			/* a big answer's room is not kept for small ones */
			if (keep->cap > KEEP_MAX && rep.len < keep->cap / 4)
				vb_buf_release(keep);
			vb_buf_reset(keep);
			vb_buf_add(keep, rep.payload, rep.len);
			rep.payload = keep->p;
		}
		if (rep.status)
			return vb_client_status_err(e, rep.status,
						    "poll_messages");
		if (read_answer(r, parts[i], &rep, &r->pm[i], e))
			return -1;
		r->pm[i].asked = asked[i];
	}
	deliver_round(r, k);
	return 0;
}

/* ---- positions ---- */

/*
 * Where a consumer reads first in every partition: a move (--from) if one
 * was asked for, else what it committed, else where the registry says it
 * began, else, for a new consumer, the start (--start).  A move and a new
 * consumer's start are committed at once (and a new consumer registered),
 * so the next run goes on from there; unless --no-commit.
 */
static int set_positions(struct run *r, struct vb_err *e)
{
	const struct vb_consume_opts *o = r->o;
	struct vb_log *l = r->l;
	struct vb_start s;
	uint8_t *moved = vb_xcalloc(l->nparts, 1);
	int move = o->from.kind != VB_POS_COMMITTED, rc = -1;

	if (vb_log_starts(l, &r->who, &s, e))
		goto out;
	for (uint32_t p = 0; p < l->nparts; p++) {
		uint64_t cur;
		int has;

		if (vb_log_committed(l, &r->who, p, &cur, &has, e))
			goto out;
		if (move) {
			if (vb_log_resolve(l, &r->who, p, &o->from, cur, 1,
					   &r->next[p], e))
				goto out;
			moved[p] = r->next[p] != cur || !has;
		} else if (has)
			r->next[p] = cur;
		else if (s.known)
			r->next[p] = s.set[p] ? s.next[p] : 0;
		else {
			r->next[p] = o->start == VB_START_END ?
					     vb_log_part_end(&l->parts[p]) :
					     0;
			moved[p] = 1;
		}
	}
	rc = o->no_commit ?
		     0 :
		     vb_log_commit_moves(l, &r->who, &s, r->next, moved, e);
out:
	vb_start_release(&s);
	free(moved);
	return rc;
}

/*
 * --until as an offset per partition (an offset, or the end as it is
 * now); a time is checked against each message instead.  --partition
 * leaves the other partitions done before anything is read.
 */
static int set_until(struct run *r, struct vb_err *e)
{
	const struct vb_consume_opts *o = r->o;

	for (uint32_t p = 0; p < r->l->nparts; p++) {
		r->until[p] = UINT64_MAX;
		if (o->only && (p >= o->nonly || !o->only[p]))
			r->done[p] = 1;
		if (!o->has_until || o->until.kind == VB_POS_TIME)
			continue;
		if (vb_log_resolve(r->l, &r->who, p, &o->until, r->next[p], 1,
				   &r->until[p], e))
			return -1;
		if (r->next[p] >= r->until[p])
			r->done[p] = 1;
	}
	return 0;
}

/* --idle-timeout: nothing came for that long. */
static int idle_over(const struct run *r)
{
	return r->o->idle_us &&
	       vb_mono_us() - r->last_event >= (int64_t)r->o->idle_us;
}

/*
 * One waiting poll (106) over every partition from where we are; its
 * answers are a round like take_round's, which also says which
 * partitions are caught up.  1 when it was answered, 0 when the server
 * has no waiting polls, -1 on error.
 */
static int wait_round(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	const uint8_t *pl;
	struct vb_req q;
	struct vb_rd rd;
	uint32_t n;
	size_t len, ncommit;
	int rc;

	if (stopped(r))
		return 1;
	wait_req(&q, r, VB_CMD_POLL_WAIT_MULTI);
	r->wp = vb_xreallocarray(r->wp, l->nparts, sizeof(*r->wp));
	for (uint32_t p = 0; p < l->nparts; p++) {
		r->wp[p].partition_id = p;
		r->wp[p].strategy = VB_POLL_OFFSET;
		r->wp[p].value = r->next[p];
	}
	q.nwp = l->nparts;
	q.wp = r->wp;
	if (vb_client_no_wait_poll(l->c))
		return 0;
	/*
	 * A commit that is due goes in the same write, ahead: its answer
	 * and the poll's come back without a round trip between them.
	 */
	vb_buf_reset(&r->tx);
	ncommit = commit_due(r) ? enc_commits(r) : 0;
	vb_wire_req_encode(&r->tx, &q);
	vb_client_queue(l->c, r->tx.p, r->tx.len);
	if (read_commits(r, ncommit, e))
		return -1;
	rc = vb_client_wait_answer(l->c, &q, &pl, &len, e);
	if (rc <= 0)
		return rc;
	vb_rd_init(&rd, pl, len);
	if (vb_wire_dec_wait_count(&rd, &n, e))
		return -1;
	if (n != l->nparts)
		return vb_err_set(e, VB_E_PROTO,
				  "waiting poll: %u answers for %u partitions",
				  n, l->nparts);
	pm_reserve(r, n);
	for (uint32_t i = 0; i < n; i++) {
		struct vb_reply part;

		if (vb_wire_dec_wait_part(&rd, &part, e) ||
		    read_answer(r, i, &part, &r->pm[i], e))
			return -1;
		r->pm[i].asked = q.count;
	}
	deliver_round(r, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct part_msgs *pm = &r->pm[i];

		if (pm->at < pm->n)
			continue; /* the limit cut it */
		if (pm->seen == 0 || r->next[i] > pm->current)
			r->caught[i] = 1;
	}
	return 1;
}

/*
 * Frames into r->tx a poll of partition p from (strategy, value), of
 * --count messages, or of what --limit leaves; returns how many it asks.
 */
static uint32_t frame_poll(struct run *r, uint32_t p, uint8_t strategy,
			   uint64_t value)
{
	struct vb_req q;

	run_req(&q, r, VB_CMD_POLL_MESSAGES);
	q.part.present = 1;
	q.part.id = p;
	q.strategy = strategy;
	q.value = value;
	q.count = poll_count(r);
	vb_wire_req_frame(&r->tx, r->l->c->framing, &q);
	return q.count;
}

static int run_consumer(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	uint32_t *polled = vb_xreallocarray(NULL, l->nparts, sizeof(*polled));
	uint32_t *asked = vb_xreallocarray(NULL, l->nparts, sizeof(*asked));
	int rc = -1;

	if (!r->resumed && (set_positions(r, e) || set_until(r, e)))
		goto out;
	memcpy(r->caught, r->done, l->nparts);
	while (!r->failed && !r->bad && !stopped(r) &&
	       !(r->o->limit && r->left == 0)) {
		size_t ncommit, npoll = 0;
		int all = 1, finished = 1;

		vb_buf_reset(&r->tx);
		ncommit = commit_due(r) ? enc_commits(r) : 0;
		for (uint32_t p = 0; p < l->nparts; p++) {
			if (r->caught[p] || r->done[p])
				continue;
			asked[npoll] = frame_poll(r, p, VB_POLL_OFFSET,
						  r->next[p]);
			polled[npoll++] = p;
		}
		vb_client_queue(l->c, r->tx.p, r->tx.len);
		if (read_commits(r, ncommit, e) ||
		    take_round(r, polled, asked, npoll, e))
			goto out;
		for (size_t i = 0; i < npoll; i++) {
			const struct part_msgs *pm = &r->pm[i];
			uint32_t p = pm->part;

			if (pm->at < pm->n)
				continue; /* the limit cut it */
			if (pm->seen == 0 || r->next[p] > pm->current)
				r->caught[p] = 1;
			if (r->o->has_until &&
			    r->o->until.kind != VB_POS_TIME &&
			    r->next[p] >= r->until[p])
				r->done[p] = 1;
			/* caught up, and the time has come: what comes next
			 * will be stored after it */
			if (r->o->has_until &&
			    r->o->until.kind == VB_POS_TIME && r->caught[p] &&
			    vb_wall_us() >= r->o->until.n)
				r->done[p] = 1;
		}
		for (uint32_t p = 0; p < l->nparts; p++) {
			all &= r->caught[p] | r->done[p];
			finished &= r->done[p];
		}
		if (finished && r->o->has_until)
			break; /* every partition reached --until */
		if (!all || r->failed || r->bad)
			continue;
		if (!r->o->follow || idle_over(r))
			break;
		if (memchr(r->done, 1, l->nparts)) {
			/*
			 * Some partitions are not read (-p, --until reached):
			 * the waiting poll would cover them all, so this one
			 * polls at intervals.
			 */
			if (commit_now(r, e))
				goto out;
			follow_wait(r);
			memcpy(r->caught, r->done, l->nparts);
			continue;
		}
		memset(r->caught, 0, l->nparts);
		switch (wait_round(r, e)) {
		case -1:
			goto out;
		case 0:
			if (commit_lazy(r, e))
				goto out;
			follow_wait(r);
			break;
		default:
			break;
		}
	}
	rc = commit_now(r, e);
out:
	free(polled);
	free(asked);
	return rc;
}

/*
 * A member's start: the registry tells where the group began in each
 * partition (registering it if it is new, at the start asked for); in a
 * partition where the group has committed nothing, reading starts there
 * (the server's "next" would start at 0).  --from moves the partitions
 * this member owns at the start, committed at once.
 */
static int group_positions(struct run *r, struct vb_err *e)
{
	const struct vb_consume_opts *o = r->o;
	struct vb_log *l = r->l;
	struct vb_start s;
	int rc = -1;

	if (vb_log_starts(l, &r->who, &s, e))
		return -1;
	for (uint32_t p = 0; p < l->nparts; p++) {
		uint64_t cur, next;
		int has;

		if (vb_log_committed(l, &r->who, p, &cur, &has, e))
			goto out;
		if (!has)
			r->floor[p] = s.known ? (s.set[p] ? s.next[p] : 0) :
				      o->start == VB_START_END ?
						vb_log_part_end(&l->parts[p]) :
						0;
		if (o->from.kind == VB_POS_COMMITTED)
			continue;
		if (vb_log_resolve(l, &r->who, p, &o->from, cur, 1, &next, e))
			goto out;
		if (vb_log_commit(l, &r->who, p, next, e) == 0) {
			r->floor[p] = next;
			continue;
		}
		if (e->kind == VB_E_SERVER &&
		    (vb_status_not_owner(e->status) ||
		     e->status == VB_ST_INVALID_OFFSET))
			continue; /* another member owns it */
		goto out;
	}
	rc = s.known ? 0 :
		       vb_log_record_start(l, &r->who, 0, r->floor, NULL, e);
out:
	vb_start_release(&s);
	return rc;
}

static int run_group(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	uint32_t empty = 0;
	int waiting = 0; /* caught up: the next poll waits (105) */

	if (!r->resumed && group_positions(r, e))
		return -1;
	while (!r->failed && !r->bad && !stopped(r) &&
	       !(r->o->limit && r->left == 0)) {
		const struct part_msgs *pm;
		struct vb_req q;
		struct vb_reply rep;
		struct vb_poll_hdr h;
		struct vb_rd rd;
		size_t ncommit;
		uint32_t p;

		if (waiting) {
			/* nothing to commit: commit_now ran before */
			int rc;

			wait_req(&q, r, VB_CMD_POLL_WAIT);
			q.strategy = VB_POLL_NEXT;
			rc = vb_client_poll_wait(l->c, &q, &rep.payload,
						 &rep.len, e);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				waiting = 0;
				follow_wait(r);
				continue;
			}
			rep.status = 0;
			goto answer;
		}
		vb_buf_reset(&r->tx);
		ncommit = enc_commits(r);
		run_req(&q, r, VB_CMD_POLL_MESSAGES);
		q.strategy = VB_POLL_NEXT;
		q.count = poll_count(r);
		vb_wire_req_frame(&r->tx, l->c->framing, &q);
		vb_client_queue(l->c, r->tx.p, r->tx.len);
		if (read_commits(r, ncommit, e) ||
		    vb_client_wait_ready(l->c, 1, e))
			return -1;
		/* which partition the server picked: from the answer */
		if (vb_client_take(l->c, &rep, e) != 1)
			return -1;
	answer:
		if (rep.status)
			return vb_client_status_err(e, rep.status,
						    "poll_messages");
		vb_rd_init(&rd, rep.payload, rep.len);
		if (vb_wire_dec_poll_hdr(&rd, &h, e))
			return -1;
		p = h.partition_id;
		if (p >= l->nparts) {
			if (vb_log_refresh(l, e))
				return -1;
			if (p >= l->nparts)
				return vb_err_set(
					e, VB_E_PROTO,
					"poll answer names partition %u of %u",
					p, l->nparts);
			continue;
		}
		/* "next" starts at the group's stored offset + 1 */
		r->next[p] = 0;
		pm_reserve(r, 1);
		if (read_answer(r, p, &rep, &r->pm[0], e))
			return -1;
		r->pm[0].asked = q.count;
		pm = &r->pm[0];
		deliver_round(r, 1);
		if (pm->n == 0 && pm->seen > 0 && !pm->bad && r->floor[p] > 0 &&
		    !r->dirty[p]) {
			/* all before where the group starts: move past it */
			r->next[p] = r->floor[p];
			r->dirty[p] = 1;
		}
		if (pm->seen > 0) {
			empty = 0;
			waiting = 0;
			continue;
		}
		if (waiting) {
			if (idle_over(r))
				break;
			continue; /* its time passed: wait again */
		}
		/*
		 * The server moves round robin over our partitions on every
		 * poll: after as many empty answers in a row as the topic has
		 * partitions, every one of ours was empty.
		 */
		if (++empty < l->nparts)
			continue;
		empty = 0;
		if (commit_now(r, e))
			return -1;
		if (!r->o->follow || idle_over(r))
			break;
		if (vb_client_no_wait_poll(l->c))
			follow_wait(r);
		else
			waiting = 1;
	}
	return commit_now(r, e);
}

static int join(struct run *r, struct vb_err *e);

/*
 * A member over 0.9 (messages.md §4.2, commands.md §6): the server deals
 * partitions but polls name them, so each round asks which partitions
 * this session owns (sync_consumer_group), then polls each of them from
 * the group's position ("next"), the commits of what was delivered riding
 * in front of the next round.  An answer that says "not yours now" is
 * empty; the next round syncs again.  A round where every owned partition
 * came back empty means caught up.
 */
static int run_group_v09(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	uint32_t *polled = vb_xreallocarray(NULL, l->nparts, sizeof(*polled));
	uint32_t *asked = vb_xreallocarray(NULL, l->nparts, sizeof(*asked));
	int rc = -1, rejoined = 0;

	if (!r->resumed && group_positions(r, e))
		goto out;
	while (!r->failed && !r->bad && !stopped(r) &&
	       !(r->o->limit && r->left == 0)) {
		struct vb_group_sync s;
		size_t ncommit, npoll = 0;
		int seen = 0, resync = 0;

		vb_buf_reset(&r->tx);
		ncommit = enc_commits(r);
		vb_client_queue(l->c, r->tx.p, r->tx.len);
		if (read_commits(r, ncommit, e) ||
		    vb_client_sync_group(l->c, &l->stream, &l->topic,
					 &r->who.id, &s, e))
			goto out;
		if (!s.member) {
			/* the server let this member go: join again, once */
			if (rejoined++) {
				vb_err_set(e, VB_E_STATE,
					   "the server says this process is no member of group '%s'",
					   r->o->name);
				goto out;
			}
			if (join(r, e))
				goto out;
			continue;
		}
		rejoined = 0;
		vb_buf_reset(&r->tx);
		for (uint32_t i = 0; i < s.count; i++) {
			uint32_t p = vb_ld32(s.parts + 4 * (size_t)i);

			if (p >= l->nparts || npoll == l->nparts)
				continue; /* a partition added since */
			asked[npoll] = frame_poll(r, p, VB_POLL_NEXT, 0);
			/* "next" starts at the group's stored offset + 1 */
			r->next[p] = 0;
			polled[npoll++] = p;
		}
		if (npoll) {
			vb_client_queue(l->c, r->tx.p, r->tx.len);
			if (take_round(r, polled, asked, npoll, e))
				goto out;
		}
		for (size_t i = 0; i < npoll; i++) {
			const struct part_msgs *pm = &r->pm[i];
			uint32_t p = pm->part;

			resync |= pm->resync;
			if (pm->n == 0 && pm->seen > 0 && !pm->bad &&
			    r->floor[p] > 0 && !r->dirty[p]) {
				/* all before where the group starts */
				r->next[p] = r->floor[p];
				r->dirty[p] = 1;
			}
			seen |= pm->seen > 0;
		}
		if (seen || resync)
			continue;
		if (commit_now(r, e))
			goto out;
		if (!r->o->follow || idle_over(r))
			break;
		follow_wait(r);
	}
	rc = commit_now(r, e);
out:
	free(polled);
	free(asked);
	return rc;
}

/*
 * A reader never creates its topic: a missing one is an error naming the
 * topics there are, or, when following, is said once and waited for.
 */
static int open_topic(struct run *r, struct vb_err *e)
{
	int said = 0;

	while (vb_log_open(r->l, e)) {
		if (!r->o->follow || e->kind != VB_E_USAGE)
			return -1;
		if (!said++ && r->o->say) {
			char msg[700];

			snprintf(msg, sizeof(msg), "%s; waiting for it",
				 e->msg);
			r->o->say(r->o->connect_arg, msg);
		}
		sleep_us(r, r->o->interval_us > 100000 ? r->o->interval_us :
							 100000);
		if (stopped(r))
			return vb_err_set(e, VB_E_USAGE,
					  "stopped while waiting for topic %s/%s",
					  r->l->stream.name.s,
					  r->l->topic.name.s);
	}
	return 0;
}

/*
 * The server went away while following: connect again (backing off) and
 * resume from the positions reached.  Commits that were in flight are
 * sent again.
 */
static int reconnect(struct run *r, struct vb_err *e)
{
	const struct vb_consume_opts *o = r->o;
	int64_t backoff = 50000;
	char msg[700];

	if (o->notice) {
		snprintf(msg, sizeof(msg), "%s; reconnecting", e->msg);
		o->notice(o->connect_arg, msg);
	}
	vb_client_close(r->l->c);
	for (uint32_t p = 0; p < r->l->nparts; p++)
		if (r->dirty[p] == 2)
			r->dirty[p] = 1;
	for (;;) {
		struct timespec ts = { (time_t)(backoff / 1000000),
				       (long)(backoff % 1000000) * 1000 };

		if (stopped(r))
			return -1;
		nanosleep(&ts, NULL);
		if (stopped(r))
			return -1;
		if (o->connect(o->connect_arg, r->l->c, e) == 0 &&
		    vb_log_open(r->l, e) == 0 && (!o->group || join(r, e) == 0))
			break;
		vb_client_close(r->l->c);
		if (!vb_err_transient(e))
			return -1;
		backoff = backoff * 2 > 2000000 ? 2000000 : backoff * 2;
	}
	r->resumed = 1;
	if (o->notice)
		o->notice(o->connect_arg, "reconnected");
	return 0;
}

/*
 * Joins the group and registers this member (pid, host, address) in the
 * registry, so vibes-seek can name who owns what.  The protocol does not
 * say which member id a join got: it is the one that was not there
 * before; when two members joined at once that is not known, and nothing
 * is registered.
 */
static int join(struct run *r, struct vb_err *e)
{
	struct vb_group_members before, after;
	uint32_t mine = VB_NO_MEMBER, fresh = 0;
	int rc = -1;

	/* Released below even when a call fails before it fills them. */
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	if (vb_log_group_members(r->l, &r->who, &before, e) == 0 &&
	    vb_log_group_join(r->l, &r->who, e) == 0 &&
	    vb_log_group_members(r->l, &r->who, &after, e) == 0) {
		for (uint32_t i = 0; i < after.n; i++) {
			int old = 0;

			for (uint32_t k = 0; k < before.n && !old; k++)
				old = before.ids[k] == after.ids[i];
			if (!old) {
				mine = after.ids[i];
				fresh++;
			}
		}
		rc = fresh == 1 ? vb_log_record_member(r->l, &r->who, mine, e) :
				  0;
	}
	vb_group_members_release(&before);
	vb_group_members_release(&after);
	return rc;
}

int vb_consume_run(const struct vb_consume_opts *o, struct vb_log *l, int fd,
		   struct vb_consume_stats *st, struct vb_err *e)
{
	struct run r;
	struct vb_err e2;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.l = l;
	r.st = st;
	r.left = o->limit;
	if (o->group && o->no_commit)
		return vb_err_set(
			e, VB_E_USAGE,
			"a group reads from its committed offsets: --no-commit needs -c");
	if (o->group && (o->only || o->has_until))
		return vb_err_set(
			e, VB_E_USAGE,
			"the server deals a group's partitions: --partition and --until need -c");
	if (vb_log_who(&r.who, o->group, o->name, e) || open_topic(&r, e))
		return -1;
	for (uint32_t p = 0; p < o->nonly; p++)
		if (o->only[p] && p >= l->nparts)
			return vb_err_set(
				e, VB_E_USAGE,
				"--partition %u: topic %s/%s has %u partitions (0 to %u)",
				p, l->stream.name.s, l->topic.name.s, l->nparts,
				l->nparts - 1);
	if (o->group && join(&r, e))
		return -1;
	if (o->group && o->notice) {
		char msg[300];

		snprintf(msg, sizeof(msg), "joined group '%s'", o->name);
		o->notice(o->connect_arg, msg);
	}
	vb_out_init(&r.out, fd, o->handoff);
	vb_buf_init(&r.tx);
	r.next = vb_xcalloc(l->nparts, sizeof(*r.next));
	r.floor = vb_xcalloc(l->nparts, sizeof(*r.floor));
	r.dirty = vb_xcalloc(l->nparts, 1);
	r.caught = vb_xcalloc(l->nparts, 1);
	r.done = vb_xcalloc(l->nparts, 1);
	r.until = vb_xcalloc(l->nparts, sizeof(*r.until));
	r.last_event = vb_mono_us();
	for (;;) {
		rc = !o->group		 ? run_consumer(&r, e) :
		     vb_client_v09(l->c) ? run_group_v09(&r, e) :
					   run_group(&r, e);
		if (rc == 0 || !o->follow || !o->connect || r.failed ||
		    !vb_err_transient(e))
			break;
		if (reconnect(&r, e))
			break;
	}
	if (rc == 0 && r.failed) {
		if (r.out.closed)
			st->reader_gone = 1;
		else {
			*e = r.out_err;
			rc = -1;
		}
	}
	if (rc == 0 && r.bad) {
		*e = r.bad_err;
		rc = -1;
	}
	if (o->group && vb_client_connected(l->c) &&
	    vb_log_group_leave(l, &r.who, &e2) && rc == 0) {
		*e = e2;
		rc = -1;
	}
	vb_out_release(&r.out);
	vb_buf_release(&r.tx);
	for (size_t i = 0; i < r.pm_cap; i++) {
		free(r.pm[i].m);
		free(r.pm[i].top);
		vb_buf_release(&r.pm[i].keep);
	}
	free(r.pm);
	free(r.heap);
	free(r.line_part);
	free(r.line_off);
	free(r.next);
	free(r.floor);
	free(r.dirty);
	free(r.caught);
	free(r.done);
	free(r.until);
	free(r.wp);
	return rc;
}
