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
 * is stored as the record it came in (store.h: the one store keeps each
 * protocol's messages as that protocol sends them), and polls serve
 * stored records as they are, others as records made anew (poll09.c).
 *
 * The session: a Register binds the connection (its client id, a session
 * number from b->commit); metadata writes are numbered, the last
 * VB_V09_CACHED replies kept for retransmissions (framing.md §9.3);
 * logout and disconnect end it.  Evictions for a login refused, the
 * version gate, a write without a session.
 */
#include <errno.h>
#include <string.h>
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

void vb_v09_reply_hdr(struct vb_vsr_reply *h, const struct vb_conn *c,
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

void vb_v09_deny(struct vb_conn *c, const struct vb_vsr_req *q, uint32_t status)
{
	struct vb_vsr_reply h;
	size_t m;

	vb_v09_reply_hdr(&h, c, q, status);
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
		vb_v09_deny(c, q, VB_ST_ERROR);
		return;
	}
	st = vb_ld32(c->out.p + m0);
	len = vb_ld32(c->out.p + m0 + 4);
	vb_buf_reset(pl);
	vb_buf_add(pl, c->out.p + m0 + VB_RESP_HDR, len);
	c->out.len = m0;
	st = status_v09(q->operation, st);
	if (st != 0 && !vb_op_result_framed(q->operation)) {
		vb_v09_deny(c, q, st);
		return;
	}
	vb_v09_reply_hdr(&h, c, q, 0);
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
			vb_v09_deny(c, q, VB_ST_ERROR);
			return;
		}
	}
	vb_vsr_reply_end(&c->out, m);
}

void vb_v09_answer(struct vb_broker *b, struct vb_conn *c,
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

	vb_v09_reply_hdr(&h, c, q, 0);
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
		vb_v09_reply_hdr(&h, c, q, 0);
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
 * A 0.9 send: its batch stored as the record it came in (store.h), stamped
 * in place in the input as a 0.8 send's frames are: partition, base offset
 * and timestamp, and the batch checksum over them.  A frame whose id is 0
 * gets one, and one whose offset delta is not its index gets that
 * (offsets follow the index, messages.md §2.2), each with its checksum
 * made anew; the others keep the producer's, which covers them as stored.
 */
static void send09(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, uint8_t *body, size_t n)
{
	struct vb_send_view09 v;
	struct vb_send_confirm cf;
	struct vb_part *part;
	struct vb_vsr_reply h;
	struct vb_err e;
	uint8_t *rec, *fr, rnd[VB_MSG_ID_LEN];
	uint64_t ts, next;
	uint32_t pid;
	size_t m0 = c->out.len, m;

	if (vb_wire_send_decode_v09(&v, body, n, &e) < 0) {
		vb_v09_deny(c, q, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	part = vb_send_target(b, c, &v.h, &pid);
	if (part == NULL) {
		vb_v09_answer(b, c, q, VB_CMD_SEND_MESSAGES, m0);
		return;
	}
	ts = vb_part_stamp_ts(part, vb_wall_us());
	next = part->next;
	rec = body + (v.batch - body);
	fr = rec + VB_BATCH_HDR;
	for (uint32_t i = 0; i < v.h.count; i++) {
		size_t size = (size_t)vb_frame_size(fr);

		if (vb_wire_msg_id_unset(fr))
			arc4random_buf(rnd, sizeof(rnd));
		vb_wire_frame_stamp(fr, size, i, rnd);
		fr += size;
	}
	vb_wire_batch_stamp(rec, pid, next, ts);
	if (vb_send_store(b, c, part, rec, v.batch_len, v.h.count, ts, next,
			  1) < 0) {
		vb_v09_answer(b, c, q, VB_CMD_SEND_MESSAGES, m0);
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
	vb_v09_reply_hdr(&h, c, q, 0);
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

	vb_v09_reply_hdr(&h, c, q, 0);
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

	vb_v09_reply_hdr(&h, c, q, 0);
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
	vb_v09_deny(c, q, VB_ST_REQUEST_ALREADY_APPLIED);
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
		vb_v09_deny(c, &q, VB_ST_INVALID_FORMAT);
		return;
	}
	switch (q.operation) {
	case VB_OP_REGISTER:
		reg(b, c, &q, body, n);
		return;
	case VB_OP_LOGOUT:
		if (c->bound)
			unbind(b, c);
		vb_v09_deny(c, &q, VB_ST_OK);
		return;
	case VB_OP_NR:
		code = q.code;
		if (code == VB_CMD_LOGIN_USER || code == VB_CMD_LOGIN_PAT) {
			evict(c, &q, VB_EVICT_MALFORMED_LOGIN);
			return;
		}
		if (!c->bound && code != VB_CMD_PING) {
			vb_v09_deny(c, &q, VB_ST_UNAUTHENTICATED);
			return;
		}
		ci = vb_cmd_lookup(code, VB_GEN_09);
		if (ci == NULL) {
			vb_v09_deny(c, &q, VB_ST_INVALID_COMMAND);
			return;
		}
		if (ci->op09 != VB_OP_NR ||
		    code == VB_CMD_FLUSH_UNSAVED_BUFFER) {
			vb_v09_deny(c, &q, VB_ST_FEATURE_UNAVAILABLE);
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
			vb_v09_deny(c, &q, VB_ST_INVALID_COMMAND);
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
		vb_v09_deny(c, &q, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	switch (code) {
	case VB_CMD_PING:
		vb_v09_deny(c, &q, VB_ST_OK);
		if (!c->bound)
			vb_vsr_mark_also_v08(c->out.p + m0);
		break;
	case VB_CMD_POLL_MESSAGES:
		vb_v09_poll(b, c, &q, &r);
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
		vb_v09_answer(b, c, &q, code, m0);
		break;
	default:
		c->v09_q = q;
		c->v09_code = code;
		vb_broker_dispatch_req(b, c, &r);
		/* change_password (auth.c): vb_v09_answered answers it */
		if (c->login || c->v09_code == 0)
			return;
		c->v09_code = 0;
		vb_v09_answer(b, c, &q, code, m0);
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
	vb_v09_answer(b, c, &q, code, m0);
	if (vb_op_metadata(q.operation))
		remember(c, &q, m0);
}
