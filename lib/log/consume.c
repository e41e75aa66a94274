/*
 * consume.c - reading the log (vibes-poll).
 *
 * A consumer (-c) keeps its own next offset per partition and polls every
 * partition with explicit offsets, several requests in flight; a group
 * member (-g) lets the server pick among its assigned partitions (poll
 * with no partition, strategy "next") and so has one request in flight.
 * Either way an event is committed only after vb_out_flush said it was
 * delivered; the offset stores ride in front of the next polls.
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

void vb_log_put_u64(struct vb_buf *b, uint64_t v)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	uint8_t *d = vb_buf_reserve(b, (size_t)n);

	for (int k = 0; k < n; k++)
		d[k] = (uint8_t)t[n - 1 - k];
	b->len += (size_t)n;
	b->p[b->len] = 0;
}

static void put_lit(struct vb_buf *b, const char *s, size_t n)
{
	uint8_t *d = vb_buf_reserve(b, n);

	memcpy(d, s, n);
	b->len += n;
}

#define LIT(b, s) put_lit(b, s, sizeof(s) - 1)

void vb_log_format_json(struct vb_buf *b, uint32_t partition,
			const struct vb_msg *m)
{
	static const char hex[] = "0123456789abcdef";
	struct vb_json_scan s = { 0 };
	const char *pl = (const char *)m->payload;
	char uuid[36];
	int k = 0;

	LIT(b, "{\"partition\":");
	vb_log_put_u64(b, partition);
	LIT(b, ",\"offset\":");
	vb_log_put_u64(b, m->offset);
	LIT(b, ",\"timestamp\":");
	vb_log_put_u64(b, m->timestamp);
	LIT(b, ",\"id\":\"");
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			uuid[k++] = '-';
		uuid[k++] = hex[m->id[i] >> 4];
		uuid[k++] = hex[m->id[i] & 15];
	}
	put_lit(b, uuid, sizeof(uuid));
	LIT(b, "\",\"payload\":");
	if (vb_json_scan(&s, pl, m->payload_len) == 0 && !s.blank) {
		/*
		 * Valid JSON can only hold CR/LF as whitespace between
		 * tokens: blanking them keeps the value and the line.
		 */
		size_t at = b->len;

		put_lit(b, pl, m->payload_len);
		for (uint8_t *q = b->p + at; q < b->p + b->len; q++)
			if (*q == '\n' || *q == '\r')
				*q = ' ';
	} else
		vb_json_quote(b, pl, m->payload_len);
	LIT(b, "}");
	b->p[b->len] = 0;
}

struct run {
	const struct vb_consume_opts *o;
	struct vb_log *l;
	struct vb_consumer who;
	struct vb_out out;
	struct vb_buf tx;
	struct vb_consume_stats *st;
	uint64_t *next;		/* per partition */
	uint8_t *dirty;		/* delivered but not committed */
	uint8_t *caught;
	uint64_t *offs;		/* offsets of the lines in out */
	size_t offs_cap;
	uint64_t left;		/* events still allowed by the limit */
	int failed;		/* output failed: stop after committing */
	int resumed;		/* after a reconnect: keep the positions */
	struct vb_err out_err;
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
		nanosleep(&ts, NULL);	/* a signal cuts it short */
}

static void enc_store(struct run *r, uint32_t p)
{
	struct vb_req q;

	vb_req_init(&q, VB_CMD_STORE_CONSUMER_OFFSET);
	q.consumer = r->who;
	q.stream = r->l->stream;
	q.topic = r->l->topic;
	q.part.present = 1;
	q.part.id = p;
	q.value = r->next[p] - 1;
	vb_wire_req_encode(&r->tx, &q);
}

/* Appends store requests for every partition with undelivered commits. */
static size_t enc_commits(struct run *r)
{
	size_t n = 0;

	if (r->o->no_commit)
		return 0;
	for (uint32_t p = 0; p < r->l->nparts; p++)
		if (r->dirty[p]) {
			enc_store(r, p);
			r->dirty[p] = 2;	/* in flight */
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
		if (rep.status == VB_ST_NOT_RESOLVED_CONSUMER && r->o->group) {
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
		if (r->dirty[p] == 2) {
			r->dirty[p] = 0;
		}
	r->st->committed = r->st->delivered;
	return 0;
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

/*
 * Writes the messages of one poll answer (partition p) and advances
 * next[p] over what was delivered.  Returns the number of messages the
 * answer held.
 */
static int deliver(struct run *r, uint32_t p, struct vb_rd *rd,
		   uint32_t *nmsgs, struct vb_err *e)
{
	struct vb_msg m;
	size_t n = 0, done;
	int rc;

	*nmsgs = 0;
	while ((rc = vb_wire_dec_msg(rd, &m, e)) == 1) {
		(*nmsgs)++;
		if (m.offset < r->next[p])
			continue;	/* below our position (segment start) */
		if (r->o->limit && r->left == 0)
			continue;
		VB_ALLOC_GROW_FROM(r->offs, n + 1, r->offs_cap, 4096);
		r->offs[n++] = m.offset;
		if (r->o->format == VB_FORMAT_RAW) {
			uint8_t *d = vb_buf_reserve(&r->out.buf,
						    m.payload_len + 1);

			memcpy(d, m.payload, m.payload_len);
			d[m.payload_len] = '\n';
			r->out.buf.len += m.payload_len + 1;
		} else {
			vb_log_format_json(&r->out.buf, p, &m);
			vb_buf_addch(&r->out.buf, '\n');
		}
		vb_out_line_end(&r->out);
		if (r->o->limit)
			r->left--;
	}
	if (rc < 0)
		return -1;
	if (n == 0)
		return 0;
	if (vb_out_flush(&r->out, &done, &r->out_err))
		r->failed = 1;
	if (done) {
		r->st->bytes += r->out.ends[done - 1];
		r->next[p] = r->offs[done - 1] + 1;
		r->dirty[p] = 1;
		r->st->delivered += done;
	}
	if (r->failed && r->o->limit)
		r->left += n - done;
	return 0;
}

static int set_positions(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;

	for (uint32_t p = 0; p < l->nparts; p++) {
		uint64_t cur;
		int has;

		if (vb_log_committed(l, &r->who, p, &cur, &has, e) ||
		    vb_log_resolve(l, &r->who, p, &r->o->from, cur, 1,
				   &r->next[p], e))
			return -1;
	}
	return 0;
}

static int run_consumer(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_reply rep;
	uint32_t nm;

	if (!r->resumed && set_positions(r, e))
		return -1;
	memset(r->caught, 0, l->nparts);
	while (!r->failed && !stopped(r) && !(r->o->limit && r->left == 0)) {
		size_t ncommit, npoll = 0;
		uint32_t polled[1024];
		int all = 1;

		vb_buf_reset(&r->tx);
		ncommit = enc_commits(r);
		for (uint32_t p = 0; p < l->nparts && npoll < 1024; p++) {
			struct vb_req q;
			uint64_t cnt = r->o->count;

			if (r->caught[p])
				continue;
			if (r->o->limit && r->left < cnt)
				cnt = r->left;
			vb_req_init(&q, VB_CMD_POLL_MESSAGES);
			q.consumer = r->who;
			q.stream = l->stream;
			q.topic = l->topic;
			q.part.present = 1;
			q.part.id = p;
			q.strategy = VB_POLL_OFFSET;
			q.value = r->next[p];
			q.count = (uint32_t)cnt;
			vb_wire_req_encode(&r->tx, &q);
			polled[npoll++] = p;
		}
		vb_client_queue(l->c, r->tx.p, r->tx.len);
		if (read_commits(r, ncommit, e))
			return -1;
		for (size_t i = 0; i < npoll; i++) {
			uint32_t p = polled[i];

			if (vb_client_next(l->c, &rep, e))
				return -1;
			if (rep.status)
				return vb_client_status_err(e, rep.status,
							 "poll_messages");
			vb_rd_init(&rd, rep.payload, rep.len);
			if (vb_wire_dec_poll_hdr(&rd, &h, e))
				return -1;
			if (r->failed || (r->o->limit && r->left == 0))
				continue;
			if (deliver(r, p, &rd, &nm, e))
				return -1;
			if (nm == 0 || r->next[p] > h.current_offset)
				r->caught[p] = 1;
		}
		for (uint32_t p = 0; p < l->nparts; p++)
			all &= r->caught[p];
		if (!all || r->failed)
			continue;
		if (commit_now(r, e))
			return -1;
		if (!r->o->follow)
			break;
		sleep_us(r, r->o->interval_us);
		memset(r->caught, 0, l->nparts);
	}
	return commit_now(r, e);
}

/* Positions the partitions this member owns at the start (--from). */
static int group_positions(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;

	if (r->o->from.kind == VB_POS_COMMITTED)
		return 0;
	for (uint32_t p = 0; p < l->nparts; p++) {
		uint64_t cur, next;
		int has;

		if (vb_log_committed(l, &r->who, p, &cur, &has, e) ||
		    vb_log_resolve(l, &r->who, p, &r->o->from, cur, 1, &next,
				   e))
			return -1;
		if (vb_log_commit(l, &r->who, p, next, e) == 0)
			continue;
		if (e->kind == VB_E_SERVER &&
		    (e->status == VB_ST_NOT_RESOLVED_CONSUMER ||
		     e->status == VB_ST_INVALID_OFFSET))
			continue;	/* another member owns it */
		return -1;
	}
	return 0;
}

static int run_group(struct run *r, struct vb_err *e)
{
	struct vb_log *l = r->l;
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_reply rep;
	uint32_t nm, empty = 0;

	if (!r->resumed && group_positions(r, e))
		return -1;
	while (!r->failed && !stopped(r) && !(r->o->limit && r->left == 0)) {
		struct vb_req q;
		uint64_t cnt = r->o->count;
		size_t ncommit;

		vb_buf_reset(&r->tx);
		ncommit = enc_commits(r);
		if (r->o->limit && r->left < cnt)
			cnt = r->left;
		vb_req_init(&q, VB_CMD_POLL_MESSAGES);
		q.consumer = r->who;
		q.stream = l->stream;
		q.topic = l->topic;
		q.strategy = VB_POLL_NEXT;
		q.count = (uint32_t)cnt;
		vb_wire_req_encode(&r->tx, &q);
		vb_client_queue(l->c, r->tx.p, r->tx.len);
		if (read_commits(r, ncommit, e) ||
		    vb_client_next(l->c, &rep, e))
			return -1;
		if (rep.status)
			return vb_client_status_err(e, rep.status,
						    "poll_messages");
		vb_rd_init(&rd, rep.payload, rep.len);
		if (vb_wire_dec_poll_hdr(&rd, &h, e))
			return -1;
		if (h.partition_id >= l->nparts) {
			if (vb_log_refresh(l, e))
				return -1;
			if (h.partition_id >= l->nparts)
				return vb_err_set(e, VB_E_PROTO,
						  "poll answer names partition %u of %u",
						  h.partition_id, l->nparts);
			continue;
		}
		/* "next" starts at the group's stored offset + 1 */
		r->next[h.partition_id] = 0;
		if (deliver(r, h.partition_id, &rd, &nm, e))
			return -1;
		if (nm > 0) {
			empty = 0;
			continue;
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
		if (!r->o->follow)
			break;
		sleep_us(r, r->o->interval_us);
	}
	return commit_now(r, e);
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
		    vb_log_bootstrap(r->l, e) == 0 &&
		    (!o->group || vb_log_group_join(r->l, &r->who, e) == 0))
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
		return vb_err_set(e, VB_E_USAGE,
				  "a group reads from its committed offsets: --no-commit needs -c");
	if (vb_log_who(&r.who, o->group, o->name, e) ||
	    vb_log_bootstrap(l, e))
		return -1;
	if (o->group && vb_log_group_join(l, &r.who, e))
		return -1;
	if (o->group && o->notice) {
		char msg[300];

		snprintf(msg, sizeof(msg), "joined group '%s'", o->name);
		o->notice(o->connect_arg, msg);
	}
	vb_out_init(&r.out, fd, o->handoff);
	vb_buf_init(&r.tx);
	r.next = vb_xcalloc(l->nparts, sizeof(*r.next));
	r.dirty = vb_xcalloc(l->nparts, 1);
	r.caught = vb_xcalloc(l->nparts, 1);
	for (;;) {
		rc = o->group ? run_group(&r, e) : run_consumer(&r, e);
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
	if (o->group && vb_client_connected(l->c) &&
	    vb_log_group_leave(l, &r.who, &e2) && rc == 0) {
		*e = e2;
		rc = -1;
	}
	vb_out_release(&r.out);
	vb_buf_release(&r.tx);
	free(r.next);
	free(r.dirty);
	free(r.caught);
	free(r.offs);
	return rc;
}
