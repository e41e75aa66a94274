/*
 * send_messages, poll_messages, flush and consumer offsets (messages.md).
 * What they write waits for the commit point (commit.c): their replies
 * are held until it has made the pass's writes durable.
 */
#include <stddef.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

#include "broker/broker.h"
#include "base/banned.h"

#define POLL_SPANS VB_POLL_SPANS

uint32_t vb_consumer_key(const struct vb_ident *id)
{
	if (id->kind == VB_ID_NUM)
		return id->num;
	return vb_xxh32(id->name.s, id->name.len);
}

/* Stream and topic of a message command, or an error reply and NULL. */
static struct vb_topic *msg_topic(struct vb_broker *b, struct vb_conn *c,
				  const struct vb_ident *sid,
				  const struct vb_ident *tid, enum vb_perm perm)
{
	struct vb_stream *s = vb_find_stream(b, sid);
	struct vb_topic *t;

	if (s == NULL) {
		vb_reply_err(c, VB_ST_STREAM_ID_NOT_FOUND);
		return NULL;
	}
	t = vb_find_topic(s, tid);
	if (t == NULL) {
		vb_reply_err(c, VB_ST_TOPIC_ID_NOT_FOUND);
		return NULL;
	}
	if (!vb_allowed(b, c, perm, s->id, t->id)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return NULL;
	}
	return t;
}

struct vb_part *vb_send_target(struct vb_broker *b, struct vb_conn *c,
			       const struct vb_send_hdr *h, uint32_t *pidp)
{
	struct vb_topic *t;
	uint32_t pid;

	t = msg_topic(b, c, &h->stream, &h->topic, VB_P_SEND);
	if (t == NULL)
		return NULL;
	switch (h->part_kind) {
	case VB_PART_BALANCED:
		if (t->nparts == 0) {
			vb_reply_err(c, VB_ST_TOPIC_ID_NOT_FOUND);
			return NULL;
		}
		pid = t->rr % t->nparts;
		t->rr = (pid + 1) % t->nparts;
		break;
	case VB_PART_ID:
		pid = h->partition_id;
		break;
	default:
		if (t->nparts == 0) {
			vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
			return NULL;
		}
		pid = vb_xxh32(h->key, h->key_len) % t->nparts;
		break;
	}
	if (pid >= t->nparts) {
		vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
		return NULL;
	}
	if (pidp)
		*pidp = pid;
	return t->parts[pid];
}

int vb_send_store(struct vb_broker *b, struct vb_conn *c, struct vb_part *part,
		  uint8_t *msgs, size_t len, uint32_t count, uint64_t ts,
		  uint64_t stamped, int rec)
{
	struct vb_err e;

	if ((rec ? vb_part_append_record(part, msgs, len, count, ts, stamped,
					 &e) :
		   vb_part_append_stamped(part, msgs, len, count, ts, stamped,
					  &e)) < 0) {
		vb_broker_log(b, "append: %s", e.msg);
		vb_reply_err(c, VB_ST_IO_ERROR);
		return -1;
	}
	part->io.msgs_in += count;
	part->io.bytes_in += len;
	return 0;
}

int vb_send_append(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_send_hdr *h, uint8_t *msgs, size_t len,
		   uint32_t count, uint32_t *pidp, uint64_t *base,
		   struct vb_part **partp)
{
	struct vb_part *part = vb_send_target(b, c, h, pidp);

	if (part == NULL)
		return -1;
	if (base)
		*base = part->next;
	if (vb_send_store(b, c, part, msgs, len, count, vb_wall_us(),
			  UINT64_MAX, 0) < 0)
		return -1;
	*partp = part;
	return 0;
}

void vb_cmd_send(struct vb_broker *b, struct vb_conn *c, uint8_t *p, size_t n)
{
	struct vb_send_view v;
	struct vb_part *part;
	struct vb_err e;
	size_t at;

	if (vb_wire_send_decode(&v, p, n, &e) < 0) {
		vb_reply_err(c, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	/* The message area lives in our input buffer: stamped in place. */
	if (vb_send_append(b, c, &v.h, (uint8_t *)v.msgs, v.msgs_len, v.h.count,
			   NULL, NULL, &part) < 0)
		return;
	at = c->out.len;
	vb_reply_ok(c);
	vb_broker_hold(b, c, at, part, VB_HOLD_DATA);
}

static void reply_poll_empty(struct vb_conn *c, uint32_t pid, uint64_t cur)
{
	struct vb_poll_hdr h = { pid, cur, 0 };
	size_t m = vb_wire_resp_begin(&c->out);

	vb_wire_enc_poll_hdr(&c->out, &h);
	vb_wire_resp_end(&c->out, m);
}

/*
 * Resolves the partition and offset key of a poll or offset command.
 * Returns 1 with the partition, offset kind and key set, 0 for the "empty result" of a group
 * member without that partition, -1 after an error reply.
 */
static int resolve_consumer(struct vb_conn *c, struct vb_topic *t,
			    const struct vb_req *r, int advance, uint32_t *pid,
			    uint8_t *kind, uint32_t *key)
{
	struct vb_group *g;
	struct vb_member *m;

	if (r->consumer.kind == VB_CONSUMER) {
		*pid = r->part.present ? r->part.id : 0;
		*kind = VB_OFF_CONSUMER;
		*key = vb_consumer_key(&r->consumer.id);
		return 1;
	}
	g = vb_find_group(t, &r->consumer.id);
	if (g == NULL) {
		vb_reply_err(c, VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
		return -1;
	}
	m = vb_group_member(g, c);
	if (m == NULL) {
		vb_reply_err(c, VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND);
		return -1;
	}
	*kind = VB_OFF_GROUP;
	*key = g->id;
	if (r->part.present) {
		if (!vb_member_has(m, r->part.id))
			return 0;
		*pid = r->part.id;
	} else if (m->nparts == 0) {
		return 0;
	} else if (advance) {
		/* round robin over the partitions not being revoked */
		uint32_t k;

		for (k = 0; k < m->nparts; k++) {
			*pid = m->parts[m->cursor % m->nparts];
			m->cursor = (m->cursor + 1) % m->nparts;
			if (!vb_group_revoking(g, *pid))
				break;
		}
		if (k == m->nparts)
			return 0;
	} else if (m->has_current && vb_member_has(m, m->current)) {
		*pid = m->current;
	} else {
		*pid = m->parts[0];
	}
	if (advance) {
		m->current = *pid;
		m->has_current = 1;
	}
	return 1;
}

/* One partition's part of a poll: where it reads and what it found. */
struct poll_one {
	struct vb_part *p; /* NULL: a group member without it */
	uint32_t pid, key, nmsg;
	uint8_t kind;
	uint64_t cur, last, bytes;
	size_t nsp;
	struct vb_span sp[POLL_SPANS];
};

/*
 * Resolves the consumer and reads (without side effects) what the poll r
 * finds, at most max_bytes (more only if one message is larger).  0 with
 * o filled, -1 after an error reply.
 */
static int poll_locate(struct vb_conn *c, struct vb_topic *t,
		       const struct vb_req *r, uint64_t max_bytes,
		       struct poll_one *o)
{
	uint64_t start, stored;
	struct vb_part *p;
	int rc;

	memset(o, 0, offsetof(struct poll_one, sp));
	rc = resolve_consumer(c, t, r, 1, &o->pid, &o->kind, &o->key);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		o->pid = r->part.present ? r->part.id : 0;
		return 0;
	}
	if (o->pid >= t->nparts) {
		vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
		return -1;
	}
	p = o->p = t->parts[o->pid];
	o->cur = vb_part_current(p);
	switch (r->strategy) {
	case VB_POLL_OFFSET:
		start = r->value;
		break;
	case VB_POLL_TIMESTAMP:
		if (vb_part_find_ts(p, r->value, &start) < 0)
			start = vb_part_end(p);
		break;
	case VB_POLL_FIRST:
		start = vb_part_first(p);
		break;
	case VB_POLL_LAST:
		start = vb_part_end(p);
		start -= r->count < start ? r->count : start;
		break;
	default:
		if (vb_part_offset_get(p, o->kind, o->key, &stored))
			start = stored + 1;
		else
			start = vb_part_first(p);
		break;
	}
	o->nsp = vb_part_read(p, start, r->count, max_bytes, o->sp, POLL_SPANS,
			      &o->nmsg, &o->last);
	for (size_t i = 0; i < o->nsp; i++)
		o->bytes += vb_span_len08(&o->sp[i]);
	return 0;
}

/*
 * What a poll does once it answers: the group learns what it polled, and
 * auto_commit stores the offset (saved by the commit point, before this
 * reply leaves; if it cannot be, the change is undone and logged and the
 * messages are delivered again: at least once).  -1 after an error reply.
 */
static int poll_effects(struct vb_broker *b, struct vb_conn *c,
			struct vb_topic *t, int auto_commit,
			const struct poll_one *o)
{
	struct vb_group *g;
	struct vb_err e;

	if (o->p == NULL || o->nmsg == 0)
		return 0;
	g = o->kind == VB_OFF_GROUP ? vb_slab_get(&t->groups, o->key) : NULL;
	if (g)
		vb_group_polled(g, o->pid, o->last);
	if (!auto_commit)
		return 0;
	if (vb_part_offset_store(o->p, o->kind, o->key, o->last, &e) < 0) {
		vb_broker_log(b, "auto commit: %s", e.msg);
		vb_reply_err(c, VB_ST_IO_ERROR);
		return -1;
	}
	vb_broker_hold(b, c, 0, o->p, VB_HOLD_ORDER);
	if (g)
		vb_group_stored(g, o->pid);
	return 0;
}

/*
 * A span of stored 0.9 records as its messages' 0.8 frames, into c->out
 * (vb_span_len08 bytes): each header made from its record's and its
 * frame's (offset from the index, the record's timestamp, origin
 * timestamp the record's and the frame's delta), payload and user headers
 * copied, the checksum computed.  A frame whose own checksum fails, or
 * whose lengths disagree with the index, or that cannot be read (its
 * bytes then zeros), has all it has as payload under a checksum that
 * those bytes do not give: a client sees the damage, and the answer
 * stays whole.
 */
static void span_as_08(struct vb_broker *b, struct vb_conn *c,
		       const struct vb_span *sp)
{
	uint64_t *end = vb_xreallocarray(NULL, sp->n, sizeof(*end)), hpos, head;
	uint32_t *fl = vb_xreallocarray(NULL, sp->n, sizeof(*fl));
	struct vb_buf *raw = &b->tmp;
	uint8_t hdr[VB_BATCH_HDR];
	uint64_t first = sp->seg->start + sp->rel;
	struct vb_err e;
	int ok;

	vb_buf_reset(raw);
	vb_buf_reserve(raw, (size_t)sp->len);
	memset(hdr, 0, sizeof(hdr));
	ok = vb_span_ents(sp, end, fl) == 0 &&
	     vb_pread_all(sp->f->fd, raw->p, (size_t)sp->len, (off_t)sp->off) ==
		     0 &&
	     ((fl[0] & VB_ENT_HEAD) ||
	      vb_span_rec_hdr(sp, hdr, &hpos, &head, &e) == 0);
	if (!ok) {
		uint64_t size = vb_span_len08(sp) / sp->n;

		vb_broker_log(b, "poll: segment %" PRIu64 " cannot be read",
			      sp->seg->start);
		for (uint32_t i = 0; i < sp->n; i++) {
			uint64_t sz = i + 1 < sp->n ?
					      size :
					      vb_span_len08(sp) - size * i;
			uint8_t *m = vb_buf_reserve(&c->out, (size_t)sz);

			memset(m, 0, (size_t)sz);
			vb_st64(m + VB_MSG_OFFSET, first + i);
			vb_st32(m + VB_MSG_PAYLOAD_LEN,
				(uint32_t)(sz - VB_MSG_HDR));
			vb_st64(m + VB_MSG_CHECKSUM,
				~vb_wire_msg_checksum(m, (size_t)sz));
			c->out.len += (size_t)sz;
		}
		goto out;
	}
	for (uint32_t i = 0; i < sp->n; i++) {
		uint64_t at = (i ? end[i - 1] : sp->off) - sp->off;
		const uint8_t *fr;
		uint8_t *m;
		uint32_t ul, pl;
		uint64_t fsz, sum;
		int good = 1;

		if (fl[i] & VB_ENT_HEAD) {
			memcpy(hdr, raw->p + at, VB_BATCH_HDR);
			at += VB_BATCH_HDR;
		}
		fr = raw->p + at;
		fsz = end[i] - sp->off - at;
		ul = vb_ld32(fr + VB_FRAME_UHDR_LEN);
		pl = vb_ld32(fr + VB_FRAME_PAYLOAD_LEN);
		if (fsz < VB_FRAME_HDR ||
		    (uint64_t)VB_FRAME_HDR + ul + pl != fsz ||
		    vb_ld64(fr + VB_FRAME_CHECKSUM) !=
			    vb_xxh3(fr + 8, (size_t)fsz - 8)) {
			good = 0;
			ul = 0;
			pl = fsz < VB_FRAME_HDR ?
				     0 :
				     (uint32_t)(fsz - VB_FRAME_HDR);
		}
		m = vb_buf_reserve(&c->out, VB_MSG_HDR + (size_t)pl + ul);
		memset(m, 0, VB_MSG_HDR);
		memcpy(m + VB_MSG_ID, fr + VB_FRAME_ID, VB_MSG_ID_LEN);
		vb_st64(m + VB_MSG_OFFSET, first + i);
		vb_st64(m + VB_MSG_TIMESTAMP, vb_ld64(hdr + VB_BATCH_BASE_TS));
		vb_st64(m + VB_MSG_ORIGIN_TS,
			vb_ld64(hdr + VB_BATCH_ORIGIN_TS) +
				vb_ld32(fr + VB_FRAME_TS_DELTA));
		vb_st32(m + VB_MSG_UHDR_LEN, ul);
		vb_st32(m + VB_MSG_PAYLOAD_LEN, pl);
		memcpy(m + VB_MSG_HDR, fr + VB_FRAME_HDR, (size_t)pl + ul);
		sum = vb_wire_msg_checksum(m, VB_MSG_HDR + (size_t)pl + ul);
		vb_st64(m + VB_MSG_CHECKSUM, good ? sum : ~sum);
		c->out.len += VB_MSG_HDR + (size_t)pl + ul;
	}
out:
	free(end);
	free(fl);
}

/* The poll answer body of one partition: header, then the messages. */
static void poll_body(struct vb_broker *b, struct vb_conn *c,
		      const struct poll_one *o)
{
	struct vb_poll_hdr h = { o->pid, o->cur, o->nmsg };

	vb_wire_enc_poll_hdr(&c->out, &h);
	for (size_t i = 0; i < o->nsp; i++) {
		if (o->sp[i].v09)
			span_as_08(b, c, &o->sp[i]);
		else
			vb_conn_queue_file(c, o->sp[i].f, o->sp[i].off,
					   o->sp[i].len);
	}
	b->messages_read += o->nmsg;
	if (o->p) {
		o->p->io.msgs_out += o->nmsg;
		o->p->io.bytes_out += o->bytes;
	}
}

/*
 * The answer to a located poll: an empty one naming partition empty_pid
 * for a group member without a partition, else the poll's effects (its
 * auto commit) and then the messages.
 */
static void poll_answer(struct vb_broker *b, struct vb_conn *c,
			struct vb_topic *t, const struct vb_req *r,
			const struct poll_one *o, uint32_t empty_pid)
{
	size_t m;

	if (o->p == NULL) {
		reply_poll_empty(c, empty_pid, 0);
		return;
	}
	if (poll_effects(b, c, t, r->flag, o) < 0)
		return;
	m = vb_wire_resp_begin(&c->out);
	vb_st32(c->out.p + m + 4, (uint32_t)(VB_POLL_RESP_HDR + o->bytes));
	poll_body(b, c, o);
}

void vb_cmd_poll(struct vb_broker *b, struct vb_conn *c, const struct vb_req *r)
{
	struct vb_topic *t = msg_topic(b, c, &r->stream, &r->topic, VB_P_POLL);
	struct poll_one o;

	if (t == NULL || poll_locate(c, t, r, VB_POLL_BYTES_MAX, &o) < 0)
		return;
	poll_answer(b, c, t, r, &o, 0);
}

int vb_poll_spans(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r, struct vb_poll_hdr *hp,
		  struct vb_span *sp, size_t *nspp)
{
	struct vb_topic *t = msg_topic(b, c, &r->stream, &r->topic, VB_P_POLL);
	struct poll_one o;

	if (t == NULL || poll_locate(c, t, r, VB_POLL_BYTES_MAX, &o) < 0)
		return 0;
	if (o.p == NULL) {
		reply_poll_empty(c, 0, 0);
		return 0;
	}
	if (poll_effects(b, c, t, r->flag, &o) < 0)
		return 0;
	hp->partition_id = o.pid;
	hp->current_offset = o.cur;
	hp->count = o.nmsg;
	memcpy(sp, o.sp, o.nsp * sizeof(*sp));
	*nspp = o.nsp;
	b->messages_read += o.nmsg;
	o.p->io.msgs_out += o.nmsg;
	o.p->io.bytes_out += o.bytes;
	return 1;
}

/* ---- waiting polls ---- */

static uint64_t part_sum(const struct vb_topic *t, uint32_t pid)
{
	uint64_t sum = t->nparts;

	if (pid != VB_PARK_ALL)
		return pid < t->nparts ? sum + vb_part_end(t->parts[pid]) : 0;
	for (uint32_t i = 0; i < t->nparts; i++)
		sum += vb_part_end(t->parts[i]) + 1;
	return sum;
}

uint64_t vb_park_sum(struct vb_broker *b, const struct vb_conn *c)
{
	struct vb_stream *s = vb_slab_get(&b->streams, c->park_stream);
	struct vb_topic *t = s ? vb_slab_get(&s->topics, c->park_topic) : NULL;

	/* gone: differs from anything a topic gives, so the poll runs again */
	if (t == NULL)
		return UINT64_MAX;
	return part_sum(t, c->park_part);
}

/* Parks the poll unless it must answer now; 1 if it parked. */
static int maybe_park(struct vb_broker *b, struct vb_conn *c,
		      const struct vb_req *r, struct vb_topic *t,
		      uint32_t watch)
{
	int64_t now = vb_mono_us();
	uint64_t wait = r->wait.max_wait_us;

	if (wait == 0 || b->stopping ||
	    (c->park_deadline && now >= c->park_deadline))
		return 0;
	if (c->park_deadline == 0)
		c->park_deadline = now + (int64_t)(wait > VB_WAIT_MAX_US ?
							   VB_WAIT_MAX_US :
							   wait);
	c->park_want = 1;
	c->park_stream = t->stream->id;
	c->park_topic = t->id;
	c->park_part = watch;
	c->park_sum = part_sum(t, watch);
	return 1;
}

static uint64_t cap_bytes(uint64_t v)
{
	return v == 0 || v > VB_POLL_BYTES_MAX ? VB_POLL_BYTES_MAX : v;
}

static void poll_wait_one(struct vb_broker *b, struct vb_conn *c,
			  struct vb_topic *t, const struct vb_req *r)
{
	uint64_t budget = cap_bytes(r->wait.budget);
	uint64_t max = cap_bytes(r->wait.max_bytes);
	uint32_t min = r->wait.min_count ? r->wait.min_count : 1;
	struct poll_one o;

	uint32_t tries = 1;

	if (max > budget)
		max = budget;
	/* a member's round robin: the first of its partitions with some */
	if (r->consumer.kind == VB_CONSUMER_GROUP && !r->part.present) {
		struct vb_group *g = vb_find_group(t, &r->consumer.id);
		struct vb_member *mb = g ? vb_group_member(g, c) : NULL;

		if (mb && mb->nparts > 1)
			tries = mb->nparts;
	}
	do {
		if (poll_locate(c, t, r, max, &o) < 0)
			return;
	} while (o.nmsg == 0 && --tries > 0);
	if (o.nmsg < min && o.bytes < budget &&
	    maybe_park(b, c, r, t, r->part.present ? r->part.id : VB_PARK_ALL))
		return;
	poll_answer(b, c, t, r, &o, o.pid);
}

/*
 * 106: every named partition read as a poll at its offset (no auto
 * commit), at most max_bytes each and budget in all.  The answer:
 * u32 count, then per partition u32 length and a poll answer body.
 */
static void poll_wait_multi(struct vb_broker *b, struct vb_conn *c,
			    struct vb_topic *t, const struct vb_req *r)
{
	uint64_t budget = cap_bytes(r->wait.budget), left = budget, total = 0;
	uint64_t max = cap_bytes(r->wait.max_bytes), found = 0;
	uint32_t min = r->wait.min_count ? r->wait.min_count : 1;
	struct poll_one *o = vb_xreallocarray(NULL, r->nwp, sizeof(*o));
	struct vb_req q;
	size_t m;

	for (uint32_t i = 0; i < r->nwp; i++) {
		struct vb_wait_part wp;

		vb_wait_part(r, i, &wp);
		q = *r;
		q.code = VB_CMD_POLL_MESSAGES;
		q.part.present = 1;
		q.part.id = wp.partition_id;
		q.strategy = wp.strategy;
		q.value = wp.value;
		q.flag = 0;
		if (poll_locate(c, t, &q,
				left == 0  ? 1 :
				left < max ? left :
					     max,
				&o[i]) < 0)
			goto out;
		if (left == 0) { /* the budget is spent: nothing more */
			o[i].nmsg = 0;
			o[i].nsp = 0;
			o[i].bytes = 0;
		}
		left -= o[i].bytes < left ? o[i].bytes : left;
		found += o[i].nmsg;
		total += o[i].bytes;
	}
	if (found < min && total < budget &&
	    maybe_park(b, c, r, t, r->nwp == 1 ? q.part.id : VB_PARK_ALL))
		goto out;
	for (uint32_t i = 0; i < r->nwp; i++)
		poll_effects(b, c, t, 0, &o[i]);
	m = vb_wire_resp_begin(&c->out);
	vb_buf_u32(&c->out, r->nwp);
	vb_st32(c->out.p + m + 4,
		(uint32_t)(4 + (uint64_t)r->nwp * (4 + VB_POLL_RESP_HDR) +
			   total));
	for (uint32_t i = 0; i < r->nwp; i++) {
		vb_buf_u32(&c->out, (uint32_t)(VB_POLL_RESP_HDR + o[i].bytes));
		poll_body(b, c, &o[i]);
	}
out:
	free(o);
}

void vb_cmd_poll_wait(struct vb_broker *b, struct vb_conn *c,
		      const struct vb_req *r)
{
	struct vb_topic *t = msg_topic(b, c, &r->stream, &r->topic, VB_P_POLL);

	if (t == NULL)
		return;
	if (r->code == VB_CMD_POLL_WAIT)
		poll_wait_one(b, c, t, r);
	else
		poll_wait_multi(b, c, t, r);
}

void vb_cmd_flush(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r)
{
	struct vb_topic *t = msg_topic(b, c, &r->stream, &r->topic, VB_P_SEND);
	struct vb_part *p;
	struct vb_err e;
	size_t at;

	if (t == NULL)
		return;
	if (r->partition_id >= t->nparts) {
		vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
		return;
	}
	p = t->parts[r->partition_id];
	if (!r->flag) {
		vb_reply_ok(c);
		return;
	}
	/* A partition that lost a background fsync is made good first. */
	if (vb_part_repair(p, &e) < 0) {
		vb_broker_log(b, "flush: %s", e.msg);
		vb_reply_err(c, VB_ST_IO_ERROR);
		return;
	}
	vb_part_flush(p);
	at = c->out.len;
	vb_reply_ok(c);
	vb_broker_hold(b, c, at, p, VB_HOLD_DATA);
}

static void offset_get(struct vb_broker *b, struct vb_conn *c,
		       const struct vb_req *r)
{
	struct vb_stream *s = vb_find_stream(b, &r->stream);
	struct vb_topic *t = vb_find_topic(s, &r->topic);
	struct vb_offset_info oi;
	uint32_t pid, key;
	uint64_t stored;
	size_t m;

	if (t == NULL) {
		vb_reply_ok(c);
		return;
	}
	if (!vb_allowed(b, c, VB_P_POLL, s->id, t->id)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	pid = r->part.present ? r->part.id : 0;
	if (r->consumer.kind == VB_CONSUMER) {
		key = vb_consumer_key(&r->consumer.id);
	} else {
		struct vb_group *g = vb_find_group(t, &r->consumer.id);

		if (g == NULL) {
			vb_reply_ok(c);
			return;
		}
		key = g->id;
	}
	if (pid >= t->nparts ||
	    !vb_part_offset_get(t->parts[pid], r->consumer.kind, key,
				&stored)) {
		vb_reply_ok(c);
		return;
	}
	oi.partition_id = pid;
	oi.current_offset = vb_part_current(t->parts[pid]);
	oi.stored_offset = stored;
	m = vb_wire_resp_begin(&c->out);
	vb_wire_enc_offset(&c->out, &oi);
	vb_wire_resp_end(&c->out, m);
}

void vb_cmd_offsets(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r)
{
	struct vb_topic *t;
	struct vb_part *p;
	struct vb_err e;
	uint32_t pid, key;
	uint8_t kind;
	size_t at;
	int rc;

	if (r->code == VB_CMD_GET_CONSUMER_OFFSET) {
		offset_get(b, c, r);
		return;
	}
	t = msg_topic(b, c, &r->stream, &r->topic, VB_P_POLL);
	if (t == NULL)
		return;
	rc = resolve_consumer(c, t, r, 0, &pid, &kind, &key);
	if (rc < 0)
		return;
	if (rc == 0) {
		vb_reply_err(c, VB_ST_NOT_RESOLVED_CONSUMER);
		return;
	}
	if (pid >= t->nparts) {
		vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
		return;
	}
	p = t->parts[pid];
	if (r->code == VB_CMD_STORE_CONSUMER_OFFSET) {
		if (vb_part_end(p) == 0 || r->value > vb_part_current(p)) {
			vb_reply_err(c, VB_ST_INVALID_OFFSET);
			return;
		}
		rc = vb_part_offset_store(p, kind, key, r->value, &e);
		if (rc == 0 && kind == VB_OFF_GROUP)
			vb_group_stored(vb_slab_get(&t->groups, key), pid);
	} else {
		rc = vb_part_offset_delete(p, kind, key, &e);
		if (rc == 0) {
			vb_reply_err(c, VB_ST_CONSUMER_OFFSET_NOT_FOUND);
			return;
		}
	}
	if (rc < 0) {
		vb_broker_log(b, "consumer offset: %s", e.msg);
		vb_reply_err(c, VB_ST_IO_ERROR);
		return;
	}
	at = c->out.len;
	vb_reply_ok(c);
	vb_broker_hold(b, c, at, p, VB_HOLD_OFFSETS);
}
