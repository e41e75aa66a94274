/*
 * v09.c - Iggy 0.9 (iggy-wire-0.9/) on the connections whose first bytes
 * say so (frames.c, loop.c), answered as a single-node primary.  Writes
 * wait for the commit point like 0.8's (commit.c): a send's confirmation
 * and an offset write's reply are held, and a failed commit turns their
 * status (byte 216) into 13000 in place; the body stays, unread by a
 * client that checks the status first (framing.md §3.1).  Logins and
 * change_password are answered when auth.c has checked the password
 * (vb_v09_answered).
 *
 * A request is validated as framing.md §2.3 says (a bad header is dropped
 * without an answer), its body decoded in 0.9's layout, and then run by
 * the same handlers as 0.8's, into c->out; their 0.8 answer is rewritten
 * as a 0.9 reply: the status (0.9's codes where they differ), the result
 * section of writes, the records 0.9 lays out anew (streams, topics,
 * users).  Sends and polls do not go through a 0.8 answer: a 0.9 batch
 * is turned into the store's 0.8 frames (the one store serves both, and
 * the 0.8 path stays zero-copy), its frames' checksums kept beside them
 * (store.h, VB_F09_ENT); a poll serves such messages as slices of their
 * batch, sent from the segment by writev (poll09_direct), and reads any
 * others back into batch records, their checksums computed as the spec
 * says (records_read).  That copy is the cost of 0.9 here (README,
 * "Moving to an upstream Iggy server").
 *
 * The session: a Register binds the connection (its client id, a session
 * number from b->commit); metadata writes are numbered, the last
 * VB_V09_CACHED replies kept for retransmissions (framing.md §9.3);
 * logout and disconnect end it.  Evictions for a login refused, the
 * version gate, a write without a session.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

/* The version gate (framing.md §5.2): the same major.minor, any patch. */
static int version_ok(uint32_t v)
{
	uint32_t server = VB_V09_PROTOCOL_VERSION;

	return v >= (server & ~0x3FFu) && (v >> 10) <= (server >> 10);
}

void vb_v09_conn_free(struct vb_conn *c)
{
	for (unsigned i = 0; i < VB_V09_CACHED; i++)
		vb_buf_release(&c->cached[i].reply);
}

static void reply_hdr(struct vb_vsr_reply *h, const struct vb_conn *c,
		      const struct vb_vsr_req *q, uint32_t status)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->client, c->bound ? c->vclient : q->client, 16);
	h->request_checksum = q->request_checksum;
	h->op = c->session;
	h->timestamp = q->timestamp;
	h->request = q->request;
	h->operation = q->operation;
	h->status = status;
}

/* A deny reply: status, empty body. */
static void deny(struct vb_conn *c, const struct vb_vsr_req *q, uint32_t status)
{
	struct vb_vsr_reply h;
	size_t m;

	reply_hdr(&h, c, q, status);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_vsr_reply_end(&c->out, m);
}

static void evict(struct vb_conn *c, const struct vb_vsr_req *q, uint8_t reason)
{
	uint32_t v = VB_V09_PROTOCOL_VERSION;

	if (reason == VB_EVICT_INCOMPATIBLE_PROTOCOL)
		vb_vsr_eviction(&c->out, q->client, reason, v, v & ~0x3FFu);
	else
		vb_vsr_eviction(&c->out, q->client, reason, 0, 0);
}

/* ---- records 0.9 lays out anew (commands.md §3, §4, §7) ---- */

static int conv_topics(struct vb_buf *o, struct vb_rd *rd, struct vb_err *e)
{
	struct vb_topic_info t;

	while (vb_rd_left(rd) > 0) {
		if (vb_wire_dec_topic(rd, &t, e))
			return -1;
		vb_wire_enc_topic_gen(o, &t, VB_GEN_09);
	}
	return 0;
}

/* A 0.8 payload of code as 0.9 lays it out, appended to o. */
static int conv_payload(struct vb_buf *o, uint32_t code, const uint8_t *p,
			size_t n, struct vb_err *e)
{
	struct vb_rd rd;
	struct vb_stream_info s;
	struct vb_topic_info t;
	struct vb_user_info u;
	size_t at;
	uint32_t count = 0;

	vb_rd_init(&rd, p, n);
	switch (code) {
	case VB_CMD_GET_STREAM:
	case VB_CMD_CREATE_STREAM:
	case VB_CMD_GET_STREAMS:
		while (vb_rd_left(&rd) > 0) {
			if (vb_wire_dec_stream(&rd, &s, e))
				return -1;
			vb_wire_enc_stream_gen(o, &s, VB_GEN_09);
			if (code == VB_CMD_GET_STREAM)
				return conv_topics(o, &rd, e);
		}
		return 0;
	case VB_CMD_GET_TOPICS:
		at = o->len;
		vb_buf_u32(o, 0);
		while (vb_rd_left(&rd) > 0) {
			if (vb_wire_dec_topic(&rd, &t, e))
				return -1;
			vb_wire_enc_topic_gen(o, &t, VB_GEN_09);
			count++;
		}
		vb_st32(o->p + at, count);
		return 0;
	case VB_CMD_GET_TOPIC:
	case VB_CMD_CREATE_TOPIC:
		if (n == 0)
			return 0;
		if (vb_wire_dec_topic(&rd, &t, e))
			return -1;
		vb_wire_enc_topic_gen(o, &t, VB_GEN_09);
		break; /* the partitions as they are */
	case VB_CMD_GET_USERS:
		while (vb_rd_left(&rd) > 0) {
			if (vb_wire_dec_user(&rd, &u, e))
				return -1;
			vb_wire_enc_user_gen(o, &u, VB_GEN_09);
		}
		return 0;
	case VB_CMD_GET_USER:
	case VB_CMD_CREATE_USER:
		if (n == 0)
			return 0;
		if (vb_wire_dec_user(&rd, &u, e))
			return -1;
		vb_wire_enc_user_gen(o, &u, VB_GEN_09);
		break; /* the permissions as they are */
	default:
		break;
	}
	vb_buf_add(o, p + rd.off, n - rd.off);
	return 0;
}

/* 0.9's codes where they differ from 0.8's (messages.md §3.2, §5.2). */
static uint32_t status_v09(uint8_t op, uint32_t st)
{
	if (vb_op_partition(op) &&
	    (st == VB_ST_STREAM_ID_NOT_FOUND ||
	     st == VB_ST_TOPIC_ID_NOT_FOUND || st == VB_ST_PARTITION_NOT_FOUND))
		return VB_ST_RESOURCE_NOT_FOUND;
	if (vb_op_partition(op) && st == VB_ST_NOT_RESOLVED_CONSUMER)
		return VB_ST_CONSUMER_GROUP_PARTITION_NOT_OWNED;
	return st;
}

/*
 * Rewrites the 0.8 answer the handlers wrote at c->out[m0..] as the 0.9
 * reply to q (command code), written at m0 too.
 */
static void rewrite(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_vsr_req *q, uint32_t code, size_t m0)
{
	struct vb_buf *pl = &b->tmp;
	struct vb_vsr_reply h;
	struct vb_err e;
	uint32_t st;
	size_t len, m;

	if (c->out.len < m0 + VB_RESP_HDR) { /* no answer: cannot be */
		c->out.len = m0;
		deny(c, q, VB_ST_ERROR);
		return;
	}
	st = vb_ld32(c->out.p + m0);
	len = vb_ld32(c->out.p + m0 + 4);
	vb_buf_reset(pl);
	vb_buf_add(pl, c->out.p + m0 + VB_RESP_HDR, len);
	c->out.len = m0;
	st = status_v09(q->operation, st);
	if (st != 0 && !vb_op_result_framed(q->operation)) {
		deny(c, q, st);
		return;
	}
	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	if (st != 0) {
		vb_vsr_result_err(&c->out, st);
	} else {
		if (vb_op_result_framed(q->operation))
			vb_vsr_result_ok(&c->out);
		if (conv_payload(&c->out, code, pl->p, pl->len, &e)) {
			vb_broker_log(b, "0.9 answer to %s: %s",
				      vb_cmd_name(code), e.msg);
			c->out.len = m;
			deny(c, q, VB_ST_ERROR);
			return;
		}
	}
	vb_vsr_reply_end(&c->out, m);
}

static void answer(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, uint32_t code, size_t m0)
{
	rewrite(b, c, q, code, m0);
	/*
	 * A write the handler held for the commit point (an offset store or
	 * delete): a failed commit patches the 0.9 reply's status to 13000,
	 * the result section behind it then unread (framing.md §3.1: a
	 * client reads the body by its size, then looks at the status first).
	 */
	vb_broker_hold_move(b, c, m0, m0 + VB_VSR_REPLY_STATUS);
}

/* ---- login (framing.md §5) ---- */

/* The Register reply (a session bound, or bound already). */
static void reg_reply(struct vb_broker *b, struct vb_conn *c,
		      const struct vb_vsr_req *q)
{
	struct vb_vsr_reply h;
	struct vb_vsr_login lr;
	size_t m;

	reply_hdr(&h, c, q, 0);
	h.commit = b->commit;
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_vsr_result_ok(&c->out);
	memset(&lr, 0, sizeof(lr));
	lr.user_id = c->user_id;
	lr.session = c->session;
	lr.server_protocol = VB_V09_PROTOCOL_VERSION;
	vb_name_set(&lr.server_version, "0.9.0");
	vb_vsr_enc_login(&c->out, &lr);
	vb_vsr_reply_end(&c->out, m);
}

/*
 * The 0.8 login's answer at c->out[m0..] (auth.c writes it at once or
 * after the password check) taken back: the session bound, or an eviction
 * that says why.
 */
static void reg_done(struct vb_broker *b, struct vb_conn *c,
		     const struct vb_vsr_req *q, int pat, size_t m0)
{
	uint32_t st = c->out.len >= m0 + 4 ? vb_ld32(c->out.p + m0) : 1;

	c->out.len = m0;
	if (st != 0) {
		if (!pat)
			evict(c, q, VB_EVICT_INVALID_CREDENTIALS);
		else if (st == VB_ST_USER_INACTIVE)
			evict(c, q, VB_EVICT_USER_INACTIVE);
		else
			evict(c, q, VB_EVICT_INVALID_TOKEN);
		return;
	}
	c->bound = 1;
	memcpy(c->vclient, q->client, 16);
	c->session = ++b->commit;
	c->watermark = 0;
	reg_reply(b, c, q);
}

static void reg(struct vb_broker *b, struct vb_conn *c,
		const struct vb_vsr_req *q, const uint8_t *body, size_t n)
{
	struct vb_req r, l;
	struct vb_err e;
	struct vb_vsr_reply h;
	size_t m0 = c->out.len, m;
	int pat = 0;

	if (vb_wire_req_decode_gen(&r, VB_GEN_09, VB_CMD_LOGIN_REGISTER, body,
				   n, &e) < 0) {
		if (vb_wire_req_decode_gen(&r, VB_GEN_09,
					   VB_CMD_LOGIN_REGISTER_PAT, body, n,
					   &e) < 0) {
			evict(c, q, VB_EVICT_MALFORMED_LOGIN);
			return;
		}
		pat = 1;
	}
	if (!version_ok(r.proto_version)) {
		evict(c, q, VB_EVICT_INCOMPATIBLE_PROTOCOL);
		return;
	}
	if (b->stopping) {
		reply_hdr(&h, c, q, 0);
		m = vb_vsr_reply_begin(&c->out, &h);
		vb_vsr_result_err(&c->out, VB_ST_TRANSIENT_NOT_ACCEPTED);
		vb_vsr_reply_end(&c->out, m);
		return;
	}
	if (c->bound) {
		reg_reply(b, c, q);
		return;
	}
	/* the 0.8 login (auth.c: its delays, its password worker) */
	vb_req_init(&l, pat ? VB_CMD_LOGIN_PAT : VB_CMD_LOGIN_USER);
	l.name = r.name;
	l.secret = r.secret;
	c->v09_q = *q;
	c->v09_code = VB_CMD_LOGIN_REGISTER;
	c->v09_pat = pat;
	vb_cmd_users(b, c, &l);
	/* answered later, or by auth.c at once: vb_v09_answered did it */
	if (c->login || c->v09_code == 0)
		return;
	c->v09_code = 0;
	reg_done(b, c, q, pat, m0);
}

static void unbind(struct vb_broker *b, struct vb_conn *c)
{
	vb_groups_conn_gone(b, c);
	c->user_id = VB_NO_USER;
	c->bound = 0;
	c->session = 0;
	c->ncached = 0;
}

int vb_v09_stale(struct vb_broker *b, struct vb_conn *c, int64_t now_ms)
{
	int64_t every = b->o.heartbeat_ms ? b->o.heartbeat_ms : 30000;

	if (c->gen != VB_GEN_09 || !c->bound || c->ngroups == 0 ||
	    (now_ms - c->seen_ms) * 10 <= every * 12)
		return 0;
	vb_vsr_eviction(&c->out, c->vclient, VB_EVICT_STALE_CLIENT, 0, 0);
	unbind(b, c);
	vb_conn_commit(c);
	return 1;
}

/* ---- messages (messages.md) ---- */

/*
 * A 0.9 send: its batch as the store's 0.8 frames, appended.  Each frame
 * is converted and stamped (offset, timestamp, id, checksum) as the store
 * would, in one pass while its bytes are in the cache; the store stamps
 * them again only if its next offset moved meanwhile (a repair).  Each
 * frame's checksum is kept for 0.9 polls (store.h, VB_F09_ENT), made
 * anew when what it covers changes here: an id made for a 0 one, an
 * offset delta that is not the frame's index (offsets follow the index).
 */
static void send09(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, const uint8_t *body, size_t n)
{
	struct vb_send_view09 v;
	struct vb_send_confirm cf;
	struct vb_part *part;
	struct vb_buf *f = &b->tmp;
	struct vb_vsr_reply h;
	struct vb_err e;
	const uint8_t *fr;
	uint8_t *o, *f09, rnd[VB_MSG_ID_LEN];
	uint64_t origin, ts, next, sum;
	uint32_t pid, td;
	size_t m0 = c->out.len, m, flen;

	if (vb_wire_send_decode_v09(&v, body, n, &e) < 0) {
		deny(c, q, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	part = vb_send_target(b, c, &v.h, &pid);
	if (part == NULL) {
		answer(b, c, q, VB_CMD_SEND_MESSAGES, m0);
		return;
	}
	ts = vb_part_stamp_ts(part, vb_wall_us());
	next = part->next;
	origin = vb_ld64(v.batch + VB_BATCH_ORIGIN_TS);
	/* the frames tile the batch (checked): its size, each header 16
	 * bytes larger, reserved once */
	vb_buf_reset(f);
	flen = v.batch_len - VB_BATCH_HDR +
	       (size_t)v.h.count * (VB_MSG_HDR - VB_FRAME_HDR);
	o = vb_buf_reserve(f, flen + (size_t)v.h.count * VB_F09_ENT);
	f09 = o + flen;
	fr = v.batch + VB_BATCH_HDR;
	for (uint32_t i = 0; i < v.h.count; i++) {
		uint32_t ul = vb_ld32(fr + VB_FRAME_UHDR_LEN);
		uint32_t pl = vb_ld32(fr + VB_FRAME_PAYLOAD_LEN);
		size_t size = VB_MSG_HDR + (size_t)pl + ul;

		memset(o, 0, VB_MSG_HDR);
		memcpy(o + VB_MSG_ID, fr + VB_FRAME_ID, VB_MSG_ID_LEN);
		vb_st64(o + VB_MSG_ORIGIN_TS,
			origin + vb_ld32(fr + VB_FRAME_TS_DELTA));
		vb_st32(o + VB_MSG_UHDR_LEN, ul);
		vb_st32(o + VB_MSG_PAYLOAD_LEN, pl);
		memcpy(o + VB_MSG_HDR, fr + VB_FRAME_HDR, (size_t)pl + ul);
		sum = vb_ld64(fr + VB_FRAME_CHECKSUM);
		if (vb_wire_msg_id_unset(o) ||
		    vb_ld32(fr + VB_FRAME_OFFSET_DELTA) != i) {
			arc4random_buf(rnd, sizeof(rnd));
			sum = 0;
		}
		vb_wire_msg_stamp(o, size, next + i, ts, rnd);
		td = vb_ld32(fr + VB_FRAME_TS_DELTA);
		vb_st64(f09, sum ? sum : vb_wire_msg_sum09(o, size, i, td));
		vb_st32(f09 + 8, i);
		vb_st32(f09 + 12, td);
		f09 += VB_F09_ENT;
		o += size;
		fr += VB_FRAME_HDR + (size_t)pl + ul;
	}
	/* the frames, then their entries */
	f->len = (size_t)(f09 - f->p);
	f->p[f->len] = 0;
	if (vb_send_store(b, c, part, f->p, (size_t)(o - f->p), v.h.count, ts,
			  next, f->p + flen) < 0) {
		answer(b, c, q, VB_CMD_SEND_MESSAGES, m0);
		return;
	}
	memset(&cf, 0, sizeof(cf));
	{
		struct vb_stream *s = vb_find_stream(b, &v.h.stream);
		struct vb_topic *t = vb_find_topic(s, &v.h.topic);

		cf.stream_id = s ? s->id : 0;
		cf.topic_id = t ? t->id : 0;
	}
	cf.partition_id = pid;
	cf.base_offset = part->next - v.h.count; /* where they went */
	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_send_reply(&c->out, &cf, 1);
	vb_vsr_reply_end(&c->out, m);
	/*
	 * Held for the commit point like a 0.8 send: if it undoes the batch,
	 * the status becomes 13000, and a client, reading the body by its
	 * size and then the status (framing.md §3.1), never takes the
	 * confirmation for a success.
	 */
	vb_broker_hold(b, c, m + VB_VSR_REPLY_STATUS, part, VB_HOLD_DATA);
}

/*
 * Stored 0.8 frames as batch records: one per run of messages stored
 * together (the same server timestamp).  Each frame is its stored header
 * rewritten and its payload and user headers (laid out alike in both) in
 * one copy; its checksum is computed anew while the bytes are in the
 * CPU's cache, right after the stored one is checked against them.  The
 * record's checksum hashes the frames' checksums as they are made (sums),
 * not by walking the record again.
 */
struct records {
	struct vb_buf *o;
	struct vb_buf *sums; /* the open record's frame checksums */
	uint32_t pid;
	size_t rec; /* the open record in o */
	uint32_t k; /* its frames so far; 0: none open */
	uint64_t ts, origin;
};

static void record_close(struct records *st)
{
	uint8_t *bh = st->o->p + st->rec;

	if (st->k == 0)
		return;
	vb_st64(bh + VB_BATCH_LENGTH, st->o->len - st->rec);
	vb_st32(bh + VB_BATCH_COUNT, st->k);
	vb_st64(bh + VB_BATCH_CHECKSUM,
		vb_wire_batch_checksum_sums(bh, st->sums->p, st->k));
	st->k = 0;
	vb_buf_reset(st->sums);
}

static void record_open(struct records *st, const uint8_t *m, uint64_t ts,
			uint64_t origin)
{
	struct vb_buf *o = st->o;
	uint8_t *bh;

	st->rec = o->len;
	bh = vb_buf_reserve(o, VB_BATCH_HDR);
	memset(bh, 0, VB_BATCH_HDR);
	st->ts = ts;
	st->origin = origin;
	vb_st64(bh + VB_BATCH_PARTITION, st->pid);
	vb_st64(bh + VB_BATCH_BASE_OFFSET, vb_ld64(m + VB_MSG_OFFSET));
	vb_st64(bh + VB_BATCH_BASE_TS, ts);
	vb_st64(bh + VB_BATCH_ORIGIN_TS, origin);
	o->len += VB_BATCH_HDR;
}

/* The whole messages of p[0..n): *used bytes of them. */
static void records_feed(struct records *st, const uint8_t *p, size_t n,
			 size_t *used)
{
	struct vb_buf *o = st->o;
	size_t at = 0;

	while (n - at >= VB_MSG_HDR) {
		const uint8_t *m = p + at;
		uint32_t ul = vb_ld32(m + VB_MSG_UHDR_LEN);
		uint32_t pl = vb_ld32(m + VB_MSG_PAYLOAD_LEN);
		uint64_t size = VB_MSG_HDR + (uint64_t)pl + ul;
		uint64_t ts, origin, stored, sum;
		size_t body, fsz;
		uint8_t *fr;

		if (size > n - at)
			break;
		body = (size_t)size - VB_MSG_HDR;
		fsz = VB_FRAME_HDR + body;
		ts = vb_ld64(m + VB_MSG_TIMESTAMP);
		origin = vb_ld64(m + VB_MSG_ORIGIN_TS);
		if (st->k > 0 && (ts != st->ts || origin < st->origin ||
				  origin - st->origin > 0xFFFFFFFFull))
			record_close(st);
		if (st->k == 0)
			record_open(st, m, ts, origin);
		fr = vb_buf_reserve(o, fsz);
		memcpy(fr + VB_FRAME_ID, m + VB_MSG_ID, VB_MSG_ID_LEN);
		vb_st32(fr + VB_FRAME_OFFSET_DELTA, st->k);
		vb_st32(fr + VB_FRAME_TS_DELTA,
			(uint32_t)(origin - st->origin));
		vb_st32(fr + VB_FRAME_UHDR_LEN, ul);
		vb_st32(fr + VB_FRAME_PAYLOAD_LEN, pl);
		vb_st64(fr + VB_FRAME_RESERVED, 0);
		memcpy(fr + VB_FRAME_HDR, m + VB_MSG_HDR, body);
		/*
		 * A stored message whose checksum fails keeps failing: its
		 * frame carries the stored checksum, which the frame's bytes
		 * do not give either, so a client sees the damage as over 0.8.
		 */
		stored = vb_ld64(m + VB_MSG_CHECKSUM);
		sum = vb_wire_msg_checksum(m, (size_t)size) == stored ?
			      vb_xxh3(fr + 8, fsz - 8) :
			      stored;
		vb_st64(fr + VB_FRAME_CHECKSUM, sum);
		vb_buf_u64(st->sums, sum);
		o->len += fsz;
		st->k++;
		at += (size_t)size;
	}
	*used = at;
}

/* One span whole into raw (when it cannot be mapped). */
static int span_pread(struct vb_buf *raw, const struct vb_span *sp,
		      struct vb_err *e)
{
	uint8_t *d;
	size_t got = 0;

	vb_buf_reset(raw);
	d = vb_buf_reserve(raw, (size_t)sp->len);
	while (got < sp->len) {
		ssize_t k = pread(sp->f->fd, d + got, (size_t)sp->len - got,
				  (off_t)(sp->off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? vb_err_sys(e, VB_E_IO,
						  "reading a segment") :
				       vb_err_set(e, VB_E_IO,
						  "a segment ends inside a span");
		got += (size_t)k;
	}
	raw->len = got;
	return 0;
}

/*
 * Reads the spans into batch records appended to o: each span mapped
 * (the page cache's bytes, not a copy of them), else read whole into raw.
 */
static int records_read(struct vb_buf *raw, struct vb_buf *o,
			const struct vb_span *sp, size_t nsp, uint32_t pid,
			struct vb_err *e)
{
	struct vb_buf sums = VB_BUF_INIT;
	struct records st = { .o = o, .sums = &sums, .pid = pid };
	uint64_t total = 0;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	int rc = 0;

	for (size_t i = 0; i < nsp; i++)
		total += sp[i].len;
	/* frames shrink by 16 bytes; a record header per run */
	vb_buf_reserve(o, (size_t)total + 4 * VB_BATCH_HDR);
	for (size_t i = 0; i < nsp && rc == 0; i++) {
		uint64_t at = sp[i].off & ~(uint64_t)(pg - 1);
		size_t lead = (size_t)(sp[i].off - at), used = 0;
		size_t mlen = lead + (size_t)sp[i].len;
		struct stat sb;
		void *map = MAP_FAILED;

		if (sp[i].len == 0)
			continue;
		/* a mapping past the file's end would fault, not fail */
		if (fstat(sp[i].f->fd, &sb) < 0) {
			rc = vb_err_sys(e, VB_E_IO, "a segment's size");
			break;
		}
		if ((uint64_t)sb.st_size < sp[i].off + sp[i].len) {
			rc = vb_err_set(e, VB_E_IO,
					"a segment ends inside a span");
			break;
		}
		map = mmap(NULL, mlen, PROT_READ, MAP_SHARED | MAP_POPULATE,
			   sp[i].f->fd, (off_t)at);
		if (map != MAP_FAILED) {
			records_feed(&st, (const uint8_t *)map + lead,
				     (size_t)sp[i].len, &used);
			munmap(map, mlen);
		} else if ((rc = span_pread(raw, &sp[i], e)) == 0) {
			records_feed(&st, raw->p, raw->len, &used);
		}
		if (rc == 0 && used != sp[i].len)
			rc = vb_err_set(e, VB_E_IO,
					"a message runs past its span");
	}
	record_close(&st);
	vb_buf_release(&sums);
	return rc;
}

/*
 * A 0.9 poll answered from the store's 0.9 entries (store.h, VB_F09_ENT),
 * when every message has its entry.  Records follow the stored runs
 * (messages.md §4.3: a slice keeps its run's base offset and origin
 * timestamp, the frames their deltas), so every frame's checksum is the
 * one kept at append and no payload is hashed.  First the record
 * headers, from the entries, the index (sizes) and each record's first
 * stored header; then the answer, in pieces: the headers made here and
 * each message's payload and user headers from the mapped segment.  When
 * nothing is before it on the connection (plain, its output empty,
 * nothing held) the pieces go out by writev, the kernel copying the
 * mapped bytes once and nothing here copying them; what the socket does
 * not take goes to c->out.  Otherwise, or when the messages are small
 * (two pieces each would cost more than a copy), they are copied into
 * c->out.  The headers ahead are fetched into the cache while one is
 * made.
 */
#define DV_AHEAD 8   /* messages */
#define DV_SMALL 512 /* stored bytes a message on average: copied */

struct direct {
	struct vb_conn *c;
	uint8_t *h; /* the headers made here for the pieces not yet sent */
	size_t hlen, hcap;
	struct iovec iov[IOV_MAX];
	size_t niov;
	int copy; /* the socket took less: everything else goes to c->out */
};

static void dv_flush(struct direct *d)
{
	size_t i = 0, part = 0;

	while (!d->copy && i < d->niov) {
		ssize_t w = vb_tr_writev(&d->c->tr, d->iov + i,
					 (int)(d->niov - i));

		if (w <= 0)
			break;
		while (i < d->niov && (size_t)w >= d->iov[i].iov_len)
			w -= (ssize_t)d->iov[i++].iov_len;
		part = (size_t)w;
		if (w > 0)
			break;
	}
	if (i < d->niov)
		d->copy = 1;
	for (; i < d->niov; i++, part = 0)
		vb_buf_add(&d->c->out,
			   (const uint8_t *)d->iov[i].iov_base + part,
			   d->iov[i].iov_len - part);
	d->niov = 0;
	d->hlen = 0;
}

static void dv_add(struct direct *d, const uint8_t *p, size_t n)
{
	struct iovec *v = d->niov ? &d->iov[d->niov - 1] : NULL;

	if (d->copy) {
		vb_buf_add(&d->c->out, p, n);
	} else if (v && (const uint8_t *)v->iov_base + v->iov_len == p) {
		v->iov_len += n;
	} else {
		d->iov[d->niov].iov_base = (void *)p;
		d->iov[d->niov].iov_len = n;
		d->niov++;
	}
}

/* Room for a piece made here: what came before is sent first if need be. */
static uint8_t *dv_room(struct direct *d, size_t n)
{
	uint8_t *p;

	if (d->niov + 2 > IOV_MAX || d->hlen + n > d->hcap)
		dv_flush(d);
	p = d->h + d->hlen;
	d->hlen += n;
	return p;
}

/* Does message i begin a record (the first of a span, or of a run)? */
static int dv_starts(const uint8_t *ent, uint32_t i, uint32_t r)
{
	return r == 0 ||
	       vb_ld32(ent + (size_t)i * VB_F09_ENT + 8) !=
		       vb_ld32(ent + (size_t)(i - 1) * VB_F09_ENT + 8) + 1;
}

/*
 * The record headers into recs: the messages of each span, with their
 * entries ent (checksums gathered in sums), sizes and starts in their
 * span (offs); *total grows by their bytes.
 */
static void dv_records(struct vb_buf *recs, const struct vb_span *sp,
		       size_t nsp, const uint8_t *const *maps,
		       const uint8_t *ent, const uint64_t *sums,
		       const uint32_t *size, const uint64_t *offs, uint32_t pid,
		       uint64_t *total)
{
	uint8_t *bh = NULL;
	uint32_t i = 0, first = 0;

	for (size_t j = 0; j < nsp; j++) {
		for (uint32_t r = 0; r < sp[j].n; r++, i++) {
			const uint8_t *m = maps[j] + offs[i];
			const uint8_t *e = ent + (size_t)i * VB_F09_ENT;

			if (dv_starts(ent, i, r)) {
				if (bh)
					vb_st64(bh + VB_BATCH_CHECKSUM,
						vb_wire_batch_checksum_sums(
							bh,
							(const uint8_t *)(sums +
									  first),
							i - first));
				bh = vb_buf_reserve(recs, VB_BATCH_HDR);
				recs->len += VB_BATCH_HDR;
				memset(bh, 0, VB_BATCH_HDR);
				vb_st64(bh + VB_BATCH_PARTITION, pid);
				vb_st64(bh + VB_BATCH_BASE_OFFSET,
					sp[j].seg->start + sp[j].rel + r -
						vb_ld32(e + 8));
				vb_st64(bh + VB_BATCH_BASE_TS,
					vb_ld64(m + VB_MSG_TIMESTAMP));
				vb_st64(bh + VB_BATCH_ORIGIN_TS,
					vb_ld64(m + VB_MSG_ORIGIN_TS) -
						vb_ld32(e + 12));
				vb_st64(bh + VB_BATCH_LENGTH, VB_BATCH_HDR);
				first = i;
				*total += VB_BATCH_HDR;
			}
			/* a frame is 16 bytes shorter than its stored message */
			vb_st64(bh + VB_BATCH_LENGTH,
				vb_ld64(bh + VB_BATCH_LENGTH) + size[i] -
					(VB_MSG_HDR - VB_FRAME_HDR));
			vb_st32(bh + VB_BATCH_COUNT, i - first + 1);
			*total += size[i] - (VB_MSG_HDR - VB_FRAME_HDR);
		}
	}
	if (bh)
		vb_st64(bh + VB_BATCH_CHECKSUM,
			vb_wire_batch_checksum_sums(bh,
						    (const uint8_t *)(sums +
								      first),
						    i - first));
}

/*
 * Message m (size bytes as the index says) as a frame: its header made
 * here, then its payload and user headers.  A stored header whose lengths
 * do not give that size (damage) has it all as payload, under a checksum
 * that its bytes do not give: a client sees the damage as over 0.8, and
 * the answer stays whole.
 */
static void dv_frame(struct direct *d, const uint8_t *m, uint32_t size,
		     const uint8_t *e)
{
	uint8_t *fr = dv_room(d, VB_FRAME_HDR);
	uint32_t ul = vb_ld32(m + VB_MSG_UHDR_LEN);
	uint32_t pl = vb_ld32(m + VB_MSG_PAYLOAD_LEN);

	if ((uint64_t)VB_MSG_HDR + ul + pl != size) {
		ul = 0;
		pl = size - VB_MSG_HDR;
	}
	memcpy(fr + VB_FRAME_CHECKSUM, e, 8);
	memcpy(fr + VB_FRAME_ID, m + VB_MSG_ID, VB_MSG_ID_LEN);
	memcpy(fr + VB_FRAME_OFFSET_DELTA, e + 8, 8); /* both deltas */
	vb_st32(fr + VB_FRAME_UHDR_LEN, ul);
	vb_st32(fr + VB_FRAME_PAYLOAD_LEN, pl);
	vb_st64(fr + VB_FRAME_RESERVED, 0);
	dv_add(d, fr, VB_FRAME_HDR);
	dv_add(d, m + VB_MSG_HDR, size - VB_MSG_HDR);
}

static int poll09_direct(struct vb_broker *b, struct vb_conn *c,
			 const struct vb_vsr_req *q,
			 const struct vb_poll_hdr *ph, const struct vb_span *sp,
			 size_t nsp)
{
	const uint8_t *maps[VB_POLL_SPANS];
	void *base[VB_POLL_SPANS];
	size_t mlen[VB_POLL_SPANS], pg = (size_t)sysconf(_SC_PAGESIZE);
	struct vb_buf recs = VB_BUF_INIT;
	struct direct *d = NULL;
	struct vb_vsr_reply rh;
	uint8_t *ent = NULL;
	uint64_t *sums = NULL, *offs = NULL, total = VB_VSR_HDR + 16;
	uint32_t *size = NULL, n = 0, i = 0;
	size_t nmap = 0, rec = 0, at = 0;
	uint64_t bytes = 0;
	int done = 0;

	for (size_t j = 0; j < nsp; j++) {
		n += sp[j].n;
		bytes += sp[j].len;
	}
	if (n == 0 || n != ph->count)
		return 0;
	ent = vb_xreallocarray(NULL, n, VB_F09_ENT);
	size = vb_xreallocarray(NULL, n, sizeof(*size));
	for (size_t j = 0; j < nsp; at += sp[j++].n)
		if (sp[j].n == 0 ||
		    vb_span_f09(&sp[j], ent + at * VB_F09_ENT) ||
		    vb_span_sizes(&sp[j], size + at))
			goto out;
	for (; nmap < nsp; nmap++) {
		uint64_t from = sp[nmap].off & ~(uint64_t)(pg - 1);
		struct stat sb;

		/* a mapping past the file's end would fault, not fail */
		if (fstat(sp[nmap].f->fd, &sb) < 0 ||
		    (uint64_t)sb.st_size < sp[nmap].off + sp[nmap].len)
			goto out;
		mlen[nmap] = (size_t)(sp[nmap].off - from + sp[nmap].len);
		base[nmap] = mmap(NULL, mlen[nmap], PROT_READ, MAP_SHARED,
				  sp[nmap].f->fd, (off_t)from);
		if (base[nmap] == MAP_FAILED)
			goto out;
		maps[nmap] = (const uint8_t *)base[nmap] +
			     (sp[nmap].off - from);
	}
	sums = vb_xreallocarray(NULL, n, sizeof(*sums));
	offs = vb_xreallocarray(NULL, n, sizeof(*offs));
	for (size_t j = 0, k = 0; j < nsp; j++) {
		uint64_t o = 0;

		for (uint32_t r = 0; r < sp[j].n; r++, k++) {
			sums[k] = vb_ld64(ent + k * VB_F09_ENT);
			offs[k] = o;
			o += size[k];
		}
		if (o != sp[j].len)
			goto out; /* cannot be: the index made the span */
	}
	dv_records(&recs, sp, nsp, maps, ent, sums, size, offs,
		   ph->partition_id, &total);
	d = vb_xcalloc(1, sizeof(*d));
	d->c = c;
	d->copy = c->tr.ssl || c->held || c->qn || c->out.len ||
		  bytes < (uint64_t)n * DV_SMALL;
	vb_buf_reset(&b->tmp);
	reply_hdr(&rh, c, q, 0);
	vb_vsr_reply_begin(&b->tmp, &rh);
	vb_wire_enc_poll_hdr(&b->tmp, ph);
	vb_vsr_reply_size(b->tmp.p, (size_t)total);
	/* room made once: the pieces point into it */
	d->hlen = b->tmp.len;
	d->hcap = d->hlen + (IOV_MAX / 2) * VB_FRAME_HDR;
	d->h = vb_buf_reserve(&b->tmp, d->hcap) - d->hlen;
	dv_add(d, d->h, d->hlen);
	for (size_t j = 0; j < nsp; j++) {
		for (uint32_t r = 0; r < sp[j].n; r++, i++) {
			if (r + DV_AHEAD < sp[j].n)
				__builtin_prefetch(maps[j] +
						   offs[i + DV_AHEAD] +
						   VB_MSG_ID);
			if (dv_starts(ent, i, r)) {
				uint8_t *bh = dv_room(d, VB_BATCH_HDR);

				memcpy(bh, recs.p + VB_BATCH_HDR * rec++,
				       VB_BATCH_HDR);
				dv_add(d, bh, VB_BATCH_HDR);
			}
			dv_frame(d, maps[j] + offs[i], size[i],
				 ent + (size_t)i * VB_F09_ENT);
		}
	}
	dv_flush(d);
	done = 1;
out:
	free(d);
	free(ent);
	free(size);
	free(sums);
	free(offs);
	vb_buf_release(&recs);
	while (nmap > 0) {
		nmap--;
		munmap(base[nmap], mlen[nmap]);
	}
	return done;
}

static void empty_poll(struct vb_conn *c, const struct vb_vsr_req *q,
		       uint32_t pid)
{
	struct vb_poll_hdr ph = { pid, 0, 0 };
	struct vb_vsr_reply h;
	size_t m;

	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_poll_hdr(&c->out, &ph);
	vb_vsr_reply_end(&c->out, m);
}

static void poll09(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, const struct vb_req *r)
{
	struct vb_span sp[VB_POLL_SPANS];
	struct vb_poll_hdr ph;
	struct vb_buf *raw = &b->tmp;
	struct vb_vsr_reply h;
	struct vb_err e;
	size_t nsp, m0 = c->out.len, m;

	if (r->consumer.kind == VB_CONSUMER_GROUP) {
		/* the partition must be named and owned (messages.md §4.2) */
		struct vb_stream *s = vb_find_stream(b, &r->stream);
		struct vb_topic *t = vb_find_topic(s, &r->topic);
		struct vb_group *g = t ? vb_find_group(t, &r->consumer.id) :
					 NULL;
		struct vb_member *mb = g ? vb_group_member(g, c) : NULL;

		if (t && g &&
		    (mb == NULL || !r->part.present ||
		     !vb_member_has(mb, r->part.id) ||
		     vb_group_revoking(g, r->part.id))) {
			empty_poll(c, q, VB_POLL_RESYNC);
			return;
		}
	}
	if (!vb_poll_spans(b, c, r, &ph, sp, &nsp)) {
		answer(b, c, q, VB_CMD_POLL_MESSAGES, m0);
		return;
	}
	if (poll09_direct(b, c, q, &ph, sp, nsp))
		return;
	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_poll_hdr(&c->out, &ph);
	vb_buf_reset(raw);
	if (records_read(raw, &c->out, sp, nsp, ph.partition_id, &e)) {
		vb_broker_log(b, "0.9 poll: %s", e.msg);
		c->out.len = m;
		deny(c, q, VB_ST_IO_ERROR);
		return;
	}
	vb_vsr_reply_end(&c->out, m);
}

/* sync_consumer_group (606): the partitions this session owns. */
static void sync09(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, const struct vb_req *r)
{
	struct vb_stream *s = vb_find_stream(b, &r->stream);
	struct vb_topic *t = vb_find_topic(s, &r->topic);
	struct vb_group *g = t ? vb_find_group(t, &r->target) : NULL;
	struct vb_member *mb = g ? vb_group_member(g, c) : NULL;
	struct vb_vsr_reply h;
	uint32_t own[1024], n = 0;
	size_t m;

	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	if (mb) {
		for (uint32_t i = 0; i < mb->nparts && n < 1024; i++)
			if (!vb_group_revoking(g, mb->parts[i]))
				own[n++] = mb->parts[i];
		vb_wire_enc_group_sync(&c->out, g->generation, own, n);
	}
	vb_vsr_reply_end(&c->out, m);
}

/* ---- describe_options (13, commands.md §2.2, §9) ---- */

/*
 * What this server takes for each topic option a create leaves out (its
 * own defaults where it has them: no expiry, no size limit), the kind and
 * bytes of the value, and what it means.  Indexed by the pinned list
 * (v09-pins.h); a key added there without an entry here is not described.
 */
static const struct {
	uint8_t kind;
	uint8_t len;
	uint8_t v[8];
	const char *about;
} topt_default[VB_TOPT_COUNT] = {
	[VB_TOPT_COMPRESSION] = { VB_UHDR_STRING, 4, "none",
				  "message compression: none or gzip" },
	[VB_TOPT_EXPIRY] = { VB_UHDR_UINT64,
			     8,
			     { 255, 255, 255, 255, 255, 255, 255, 255 },
			     "message expiry in microseconds (max: never)" },
	[VB_TOPT_MAX_SIZE] = { VB_UHDR_UINT64,
			       8,
			       { 255, 255, 255, 255, 255, 255, 255, 255 },
			       "largest topic size in bytes (max: unlimited)" },
	[VB_TOPT_SEGMENT_SIZE] = { VB_UHDR_UINT64,
				   8,
				   { 0 },
				   "segment file size in bytes" },
	[VB_TOPT_FSYNC] = { VB_UHDR_BOOL, 1, { 0 }, "fsync every write" },
	[VB_TOPT_MSGS_TO_SAVE] = { VB_UHDR_UINT32,
				   4,
				   { 0, 4 },
				   "messages buffered before a save" },
	[VB_TOPT_SIZE_TO_SAVE] = { VB_UHDR_UINT64,
				   8,
				   { 0, 0, 16 },
				   "bytes buffered before a save" },
	[VB_TOPT_PREALLOCATE] = { VB_UHDR_BOOL,
				  1,
				  { 0 },
				  "preallocate segment files" },
};

static void describe09(struct vb_broker *b, struct vb_conn *c,
		       const struct vb_vsr_req *q, const struct vb_req *r)
{
	struct vb_vsr_reply h;
	size_t m, at;
	uint32_t n = 0;

	reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	at = c->out.len;
	vb_buf_u32(&c->out, 0);
	for (uint32_t i = 0; r->scope == 1 && i < VB_TOPT_COUNT; i++) {
		struct vb_name k;

		if (topt_default[i].about == NULL)
			continue;
		vb_name_set(&k, vb_wire_topt_key(i));
		vb_wire_enc_name(&c->out, &k);
		vb_buf_u8(&c->out, topt_default[i].kind);
		vb_buf_u32(&c->out, topt_default[i].len);
		if (i == VB_TOPT_SEGMENT_SIZE) /* this server's */
			vb_buf_u64(&c->out, b->store.segment_size);
		else
			vb_buf_add(&c->out, topt_default[i].v,
				   topt_default[i].len);
		vb_buf_u32(&c->out, (uint32_t)strlen(topt_default[i].about));
		vb_buf_add(&c->out, topt_default[i].about,
			   strlen(topt_default[i].about));
		n++;
	}
	vb_st32(c->out.p + at, n);
	vb_vsr_reply_end(&c->out, m);
}

/* ---- dedup of metadata writes (framing.md §4.3, §9.3) ---- */

/* 1: answered from the table (or dropped), 0: a new request. */
static int retransmission(struct vb_conn *c, const struct vb_vsr_req *q)
{
	if (q->request > c->watermark)
		return 0;
	for (unsigned i = 0; i < c->ncached && i < VB_V09_CACHED; i++) {
		struct vb_v09_cached *k = &c->cached[i];

		if (k->request != q->request)
			continue;
		if (k->checksum && q->request_checksum &&
		    k->checksum != q->request_checksum)
			return 1; /* another body: dropped */
		vb_buf_add(&c->out, k->reply.p, k->reply.len);
		return 1;
	}
	deny(c, q, VB_ST_REQUEST_ALREADY_APPLIED);
	return 1;
}

static void remember(struct vb_conn *c, const struct vb_vsr_req *q, size_t m)
{
	struct vb_v09_cached *k = &c->cached[c->ncached % VB_V09_CACHED];

	c->ncached++;
	if (c->ncached >= 2 * VB_V09_CACHED)
		c->ncached -= VB_V09_CACHED;
	k->request = q->request;
	k->checksum = q->request_checksum;
	vb_buf_reset(&k->reply);
	vb_buf_add(&k->reply, c->out.p + m, c->out.len - m);
	c->watermark = q->request;
}

/* ---- the dispatch ---- */

/*
 * The topic fields 0.9 sends as options (commands.md §2.3): absent on a
 * create, the defaults; absent on an update, unchanged.
 */
static void topic_fields(struct vb_broker *b, struct vb_req *r)
{
	struct vb_topic *t = NULL;

	if (r->code == VB_CMD_UPDATE_TOPIC)
		t = vb_find_topic(vb_find_stream(b, &r->stream), &r->topic);
	if (!(r->topt_set & 1u << VB_TOPT_COMPRESSION))
		r->compression = t ? t->compression : VB_COMPRESSION_NONE;
	if (!(r->topt_set & 1u << VB_TOPT_EXPIRY))
		r->message_expiry = t ? t->message_expiry : 0;
	if (!(r->topt_set & 1u << VB_TOPT_MAX_SIZE))
		r->max_topic_size = t ? t->max_topic_size : 0;
	r->replication_factor = t ? t->rf : 1;
}

void vb_v09_dispatch(struct vb_broker *b, struct vb_conn *c, uint8_t *frame,
		     size_t size)
{
	const struct vb_cmd_info *ci;
	struct vb_vsr_req q;
	struct vb_req r;
	struct vb_err e;
	uint8_t *body = frame + VB_VSR_HDR;
	size_t n = size - VB_VSR_HDR, m0;
	uint32_t code;

	b->store.read_bytes += size;
	c->seen_ms = vb_mono_ms();
	if (vb_vsr_req_parse(frame, &q, &e) < 0)
		return; /* dropped, as upstream does (§2.3) */
	if (q.request_checksum && q.request_checksum != vb_xxh3(body, n)) {
		deny(c, &q, VB_ST_INVALID_FORMAT);
		return;
	}
	switch (q.operation) {
	case VB_OP_REGISTER:
		reg(b, c, &q, body, n);
		return;
	case VB_OP_LOGOUT:
		if (c->bound)
			unbind(b, c);
		deny(c, &q, VB_ST_OK);
		return;
	case VB_OP_NR:
		code = q.code;
		if (code == VB_CMD_LOGIN_USER || code == VB_CMD_LOGIN_PAT) {
			evict(c, &q, VB_EVICT_MALFORMED_LOGIN);
			return;
		}
		if (!c->bound && code != VB_CMD_PING) {
			deny(c, &q, VB_ST_UNAUTHENTICATED);
			return;
		}
		ci = vb_cmd_lookup(code, VB_GEN_09);
		if (ci == NULL) {
			deny(c, &q, VB_ST_INVALID_COMMAND);
			return;
		}
		if (ci->op09 != VB_OP_NR ||
		    code == VB_CMD_FLUSH_UNSAVED_BUFFER) {
			deny(c, &q, VB_ST_FEATURE_UNAVAILABLE);
			return;
		}
		break;
	default:
		if (!c->bound) {
			evict(c, &q, VB_EVICT_NO_SESSION);
			return;
		}
		if (q.session < c->session) {
			evict(c, &q, VB_EVICT_SESSION_TOO_LOW);
			return;
		}
		code = vb_cmd_of_op(q.operation);
		if (code == 0) {
			deny(c, &q, VB_ST_INVALID_COMMAND);
			return;
		}
		if (vb_op_metadata(q.operation) && retransmission(c, &q))
			return;
		break;
	}
	m0 = c->out.len;
	if (code == VB_CMD_SEND_MESSAGES) {
		send09(b, c, &q, body, n);
		return;
	}
	if (vb_wire_req_decode_gen(&r, VB_GEN_09, code, body, n, &e) < 0) {
		deny(c, &q, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	switch (code) {
	case VB_CMD_PING:
		deny(c, &q, VB_ST_OK);
		if (!c->bound)
			vb_vsr_mark_also_v08(c->out.p + m0);
		break;
	case VB_CMD_POLL_MESSAGES:
		poll09(b, c, &q, &r);
		break;
	case VB_CMD_SYNC_CONSUMER_GROUP:
		sync09(b, c, &q, &r);
		break;
	case VB_CMD_DESCRIBE_OPTIONS:
		describe09(b, c, &q, &r);
		break;
	case VB_CMD_CREATE_TOPIC:
	case VB_CMD_UPDATE_TOPIC:
		topic_fields(b, &r);
		vb_broker_dispatch_req(b, c, &r);
		answer(b, c, &q, code, m0);
		break;
	default:
		c->v09_q = q;
		c->v09_code = code;
		vb_broker_dispatch_req(b, c, &r);
		/* change_password (auth.c): vb_v09_answered answers it */
		if (c->login || c->v09_code == 0)
			return;
		c->v09_code = 0;
		answer(b, c, &q, code, m0);
		break;
	}
	if (vb_op_metadata(q.operation))
		remember(c, &q, m0);
}

void vb_v09_answered(struct vb_broker *b, struct vb_conn *c, size_t m0)
{
	struct vb_vsr_req q = c->v09_q;
	uint32_t code = c->v09_code;

	c->v09_code = 0;
	if (code == VB_CMD_LOGIN_REGISTER) {
		reg_done(b, c, &q, c->v09_pat, m0);
		return;
	}
	answer(b, c, &q, code, m0);
	if (vb_op_metadata(q.operation))
		remember(c, &q, m0);
}
