/*
 * Request bodies, both directions (control.md §5, messages.md §5, §7;
 * iggy-wire-0.9/commands.md).  One encoder and one decoder per layout of
 * the command table (cmds.h): a command says which layout it has, so a
 * body is written once however many commands share it.  The few layouts
 * that differ in 0.9 take the generation.
 */
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

int vb_rd_str8(struct vb_rd *r, struct vb_name *n, const char *field,
	       struct vb_err *e);

void vb_req_init(struct vb_req *r, uint32_t code)
{
	memset(r, 0, sizeof(*r));
	r->code = code;
	r->ack = VB_ACK_QUORUM;
}

void vb_wire_req_hdr(const uint8_t hdr[VB_REQ_HDR], uint32_t *length,
		     uint32_t *code)
{
	*length = vb_ld32(hdr);
	*code = vb_ld32(hdr + 4);
}

/* ---- encoders ---- */

static void enc_str8(struct vb_buf *b, const struct vb_name *n)
{
	vb_buf_u8(b, n->len);
	vb_buf_add(b, n->s, n->len);
}

static void enc_wait(struct vb_buf *b, const struct vb_wait *w)
{
	vb_buf_u64(b, w->max_wait_us);
	vb_buf_u32(b, w->min_count);
	vb_buf_u32(b, w->max_bytes);
	vb_buf_u64(b, w->budget);
}

static void enc_consumer(struct vb_buf *b, const struct vb_consumer *c)
{
	vb_buf_u8(b, c->kind);
	vb_wire_enc_ident(b, &c->id);
}

static void enc_part(struct vb_buf *b, const struct vb_opt_part *p)
{
	vb_buf_u8(b, p->present ? 1 : 0);
	vb_buf_u32(b, p->present ? p->id : 0);
}

static void enc_perms(struct vb_buf *b, const struct vb_req *r)
{
	vb_buf_u8(b, r->has_perms ? 1 : 0);
	if (r->has_perms) {
		vb_buf_u32(b, r->perms_len);
		vb_buf_add(b, r->perms, r->perms_len);
	}
}

static void enc_st(struct vb_buf *b, const struct vb_req *r)
{
	vb_wire_enc_ident(b, &r->stream);
	vb_wire_enc_ident(b, &r->topic);
}

static void enc_str32(struct vb_buf *b, const uint8_t *p, uint32_t n)
{
	vb_buf_u32(b, p ? n : 0);
	if (p)
		vb_buf_add(b, p, n);
}

static void enc_none(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
}

static void enc_snapshot(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_buf_u8(b, r->snap_compression);
	vb_buf_u8(b, r->snap_count);
	vb_buf_add(b, r->snap_types, r->snap_count);
}

static void enc_scope(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_buf_u8(b, r->scope);
}

static void enc_client_id(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_buf_u32(b, r->count);
}

static void enc_user_id(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_wire_enc_ident(b, &r->target);
}

/* 0.9: the options of streams and users, always none (commands.md §3, §7). */
static void enc_create_user(struct vb_buf *b, const struct vb_req *r,
			    unsigned g)
{
	vb_wire_enc_name(b, &r->name);
	enc_str8(b, &r->secret);
	vb_buf_u8(b, r->user_status);
	enc_perms(b, r);
}

static void enc_update_user(struct vb_buf *b, const struct vb_req *r,
			    unsigned g)
{
	vb_wire_enc_ident(b, &r->target);
	vb_buf_u8(b, r->has_username ? 1 : 0);
	if (r->has_username)
		vb_wire_enc_name(b, &r->name);
	vb_buf_u8(b, r->has_status ? 1 : 0);
	if (r->has_status)
		vb_buf_u8(b, r->user_status);
}

static void enc_update_perms(struct vb_buf *b, const struct vb_req *r,
			     unsigned g)
{
	vb_wire_enc_ident(b, &r->target);
	enc_perms(b, r);
}

static void enc_change_password(struct vb_buf *b, const struct vb_req *r,
				unsigned g)
{
	vb_wire_enc_ident(b, &r->target);
	enc_str8(b, &r->secret);
	enc_str8(b, &r->secret2);
}

static void enc_login_user(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_wire_enc_name(b, &r->name);
	enc_str8(b, &r->secret);
	enc_str32(b, r->version, r->version_len);
	enc_str32(b, r->context, r->context_len);
}

/* ClientVersionInfo (framing.md §5.1). */
static void enc_version_info(struct vb_buf *b, const struct vb_req *r)
{
	vb_buf_u32(b, r->proto_version);
	vb_wire_enc_name(b, &r->sdk_name);
	vb_wire_enc_name(b, &r->sdk_version);
}

static void enc_login_register(struct vb_buf *b, const struct vb_req *r,
			       unsigned g)
{
	enc_version_info(b, r);
	vb_wire_enc_name(b, &r->name);
	enc_str8(b, &r->secret);
	enc_str32(b, r->context, r->context_len);
}

static void enc_login_register_pat(struct vb_buf *b, const struct vb_req *r,
				   unsigned g)
{
	enc_version_info(b, r);
	enc_str8(b, &r->name);
	enc_str32(b, r->context, r->context_len);
}

static void enc_create_pat(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_wire_enc_name(b, &r->name);
	vb_buf_u64(b, r->value);
}

static void enc_name(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_wire_enc_name(b, &r->name);
}

static void enc_poll(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_consumer(b, &r->consumer);
	enc_st(b, r);
	enc_part(b, &r->part);
	vb_buf_u8(b, r->strategy);
	vb_buf_u64(b, r->value);
	vb_buf_u32(b, r->count);
	vb_buf_u8(b, r->flag);
}

static void enc_poll_wait(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_poll(b, r, g);
	enc_wait(b, &r->wait);
}

static void enc_poll_wait_multi(struct vb_buf *b, const struct vb_req *r,
				unsigned g)
{
	enc_consumer(b, &r->consumer);
	enc_st(b, r);
	vb_buf_u32(b, r->nwp);
	for (uint32_t i = 0; i < r->nwp; i++) {
		vb_buf_u32(b, r->wp[i].partition_id);
		vb_buf_u8(b, r->wp[i].strategy);
		vb_buf_u64(b, r->wp[i].value);
	}
	vb_buf_u32(b, r->count);
	enc_wait(b, &r->wait);
}

static void enc_flush(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_st(b, r);
	vb_buf_u32(b, r->partition_id);
	vb_buf_u8(b, r->flag);
}

static void enc_offset_get(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_consumer(b, &r->consumer);
	enc_st(b, r);
	enc_part(b, &r->part);
}

/* 0.9 adds the ack byte to store and delete (commands.md §5.1). */
static void enc_offset_store(struct vb_buf *b, const struct vb_req *r,
			     unsigned g)
{
	enc_offset_get(b, r, g);
	vb_buf_u64(b, r->value);
	if (g == VB_GEN_09)
		vb_buf_u8(b, r->ack);
}

static void enc_offset_delete(struct vb_buf *b, const struct vb_req *r,
			      unsigned g)
{
	enc_offset_get(b, r, g);
	if (g == VB_GEN_09)
		vb_buf_u8(b, r->ack);
}

static void enc_stream(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	vb_wire_enc_ident(b, &r->stream);
}

static void enc_update_stream(struct vb_buf *b, const struct vb_req *r,
			      unsigned g)
{
	vb_wire_enc_ident(b, &r->stream);
	vb_wire_enc_name(b, &r->name);
}

static void enc_st_layout(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_st(b, r);
}

/* 0.9: the 0.8 fields compression .. replication_factor became options. */
static void enc_create_topic(struct vb_buf *b, const struct vb_req *r,
			     unsigned g)
{
	vb_wire_enc_ident(b, &r->stream);
	vb_buf_u32(b, r->count);
	if (g == VB_GEN_09) {
		vb_wire_enc_name(b, &r->name);
		vb_wire_topic_opts_enc(b, r, 0);
		return;
	}
	vb_buf_u8(b, r->compression);
	vb_buf_u64(b, r->message_expiry);
	vb_buf_u64(b, r->max_topic_size);
	vb_buf_u8(b, r->replication_factor);
	vb_wire_enc_name(b, &r->name);
}

static void enc_update_topic(struct vb_buf *b, const struct vb_req *r,
			     unsigned g)
{
	enc_st(b, r);
	if (g == VB_GEN_09) {
		vb_wire_enc_name(b, &r->name);
		vb_wire_topic_opts_enc(b, r, 1);
		return;
	}
	vb_buf_u8(b, r->compression);
	vb_buf_u64(b, r->message_expiry);
	vb_buf_u64(b, r->max_topic_size);
	vb_buf_u8(b, r->replication_factor);
	vb_wire_enc_name(b, &r->name);
}

static void enc_partitions(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_st(b, r);
	vb_buf_u32(b, r->count);
}

static void enc_segments(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_st(b, r);
	vb_buf_u32(b, r->partition_id);
	vb_buf_u32(b, r->count);
}

static void enc_group(struct vb_buf *b, const struct vb_req *r, unsigned g)
{
	enc_st(b, r);
	vb_wire_enc_ident(b, &r->target);
}

static void enc_create_group(struct vb_buf *b, const struct vb_req *r,
			     unsigned g)
{
	enc_st(b, r);
	vb_wire_enc_name(b, &r->name);
}

/* ---- decoders ---- */

static int dec_consumer(struct vb_rd *rd, struct vb_consumer *c,
			struct vb_err *e)
{
	if (vb_rd_u8(rd, &c->kind, "consumer kind", e))
		return -1;
	if (c->kind != VB_CONSUMER && c->kind != VB_CONSUMER_GROUP)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "consumer kind: %u", c->kind);
	return vb_rd_ident(rd, &c->id, "consumer id", e);
}

static int dec_part(struct vb_rd *rd, struct vb_opt_part *p, struct vb_err *e)
{
	uint8_t flag;

	if (vb_rd_u8(rd, &flag, "partition flag", e) ||
	    vb_rd_u32(rd, &p->id, "partition id", e))
		return -1;
	p->present = flag == 1;
	if (!p->present)
		p->id = 0;
	return 0;
}

static int dec_perms(struct vb_rd *rd, struct vb_req *r, struct vb_err *e)
{
	uint8_t has;
	const uint8_t *p;
	size_t used;

	if (vb_rd_u8(rd, &has, "has_permissions", e))
		return -1;
	r->has_perms = has == 1;
	if (!r->has_perms)
		return 0;
	if (vb_rd_u32(rd, &r->perms_len, "permissions length", e))
		return -1;
	/*
	 * The block is decoded from the rest of the payload and its real
	 * size compared with the declared one, so a length that is too
	 * small or too large is the same InvalidFormat (control.md §5.8);
	 * only a block cut short by the end of the payload is truncated (3).
	 */
	p = rd->p + rd->off;
	if (vb_wire_perms_check(p, vb_rd_left(rd), &used, e))
		return -1;
	if (used != r->perms_len)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "permissions: length %u but %zu bytes used",
				     r->perms_len, used);
	rd->off += used;
	r->perms = p;
	return 0;
}

int vb_wire_perms_check(const uint8_t *p, size_t n, size_t *used,
			struct vb_err *e)
{
	struct vb_rd rd;
	const uint8_t *skip;
	uint8_t more;
	uint32_t id;

	vb_rd_init(&rd, p, n);
	if (vb_rd_bytes(&rd, &skip, 10, "permissions global", e) ||
	    vb_rd_u8(&rd, &more, "permissions has_streams", e))
		return -1;
	while (more == 1) {
		uint8_t topics;

		if (vb_rd_u32(&rd, &id, "permissions stream id", e) ||
		    vb_rd_bytes(&rd, &skip, 6, "permissions stream", e) ||
		    vb_rd_u8(&rd, &topics, "permissions has_topics", e))
			return -1;
		while (topics == 1) {
			if (vb_rd_u32(&rd, &id, "permissions topic id", e) ||
			    vb_rd_bytes(&rd, &skip, 4, "permissions topic",
					e) ||
			    vb_rd_u8(&rd, &topics, "permissions has_next_topic",
				     e))
				return -1;
		}
		if (vb_rd_u8(&rd, &more, "permissions has_next_stream", e))
			return -1;
	}
	*used = rd.off;
	return 0;
}

static int dec_user_status(struct vb_rd *rd, uint8_t *st, struct vb_err *e)
{
	if (vb_rd_u8(rd, st, "user status", e))
		return -1;
	if (*st != 1 && *st != 2)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "user status: %u", *st);
	return 0;
}

static int dec_str32(struct vb_rd *rd, const uint8_t **p, uint32_t *len,
		     const char *field, struct vb_err *e)
{
	if (vb_rd_u32(rd, len, field, e) || vb_rd_bytes(rd, p, *len, field, e))
		return -1;
	if (!vb_wire_utf8_ok(*p, *len))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "%s: invalid UTF-8", field);
	return 0;
}

static int dec_st(struct vb_rd *rd, struct vb_req *r, struct vb_err *e)
{
	return vb_rd_ident(rd, &r->stream, "stream_id", e) ||
			       vb_rd_ident(rd, &r->topic, "topic_id", e) ?
		       -1 :
		       0;
}

/* 0.9: the rest of a body that carries options (commands.md §1 rule 3). */
static int dec_no_opts(struct vb_rd *rd, unsigned g, const char *what,
		       struct vb_err *e)
{
	if (g != VB_GEN_09)
		return 0;
	return vb_wire_no_opts(rd->p + rd->off, vb_rd_left(rd), what, e);
}

static int dec_none(struct vb_rd *rd, struct vb_req *r, unsigned g,
		    struct vb_err *e)
{
	return 0;
}

static int dec_snapshot(struct vb_rd *rd, struct vb_req *r, unsigned g,
			struct vb_err *e)
{
	const uint8_t *skip;

	if (vb_rd_u8(rd, &r->snap_compression, "compression", e) ||
	    vb_rd_u8(rd, &r->snap_count, "snapshot types count", e) ||
	    vb_rd_bytes(rd, &skip, r->snap_count, "snapshot types", e))
		return -1;
	memcpy(r->snap_types, skip, r->snap_count);
	return 0;
}

static int dec_scope(struct vb_rd *rd, struct vb_req *r, unsigned g,
		     struct vb_err *e)
{
	if (vb_rd_u8(rd, &r->scope, "scope", e))
		return -1;
	if (r->scope < 1 || r->scope > 3)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "scope: %u", r->scope);
	return 0;
}

static int dec_client_id(struct vb_rd *rd, struct vb_req *r, unsigned g,
			 struct vb_err *e)
{
	return vb_rd_u32(rd, &r->count, "client_id", e);
}

static int dec_user_id(struct vb_rd *rd, struct vb_req *r, unsigned g,
		       struct vb_err *e)
{
	return vb_rd_ident(rd, &r->target, "user_id", e);
}

static int dec_create_user(struct vb_rd *rd, struct vb_req *r, unsigned g,
			   struct vb_err *e)
{
	if (vb_wire_dec_name(rd, &r->name, "username", e) ||
	    vb_rd_str8(rd, &r->secret, "password", e) ||
	    dec_user_status(rd, &r->user_status, e) || dec_perms(rd, r, e))
		return -1;
	return dec_no_opts(rd, g, "user", e);
}

static int dec_update_user(struct vb_rd *rd, struct vb_req *r, unsigned g,
			   struct vb_err *e)
{
	uint8_t has;

	if (vb_rd_ident(rd, &r->target, "user_id", e) ||
	    vb_rd_u8(rd, &has, "has_username", e))
		return -1;
	r->has_username = has == 1;
	if (r->has_username && vb_wire_dec_name(rd, &r->name, "username", e))
		return -1;
	if (vb_rd_u8(rd, &has, "has_status", e))
		return -1;
	r->has_status = has == 1;
	if (r->has_status && dec_user_status(rd, &r->user_status, e))
		return -1;
	return dec_no_opts(rd, g, "user", e);
}

static int dec_update_perms(struct vb_rd *rd, struct vb_req *r, unsigned g,
			    struct vb_err *e)
{
	if (vb_rd_ident(rd, &r->target, "user_id", e))
		return -1;
	return dec_perms(rd, r, e);
}

static int dec_change_password(struct vb_rd *rd, struct vb_req *r, unsigned g,
			       struct vb_err *e)
{
	if (vb_rd_ident(rd, &r->target, "user_id", e) ||
	    vb_rd_str8(rd, &r->secret, "current_password", e))
		return -1;
	return vb_rd_str8(rd, &r->secret2, "new_password", e);
}

static int dec_login_user(struct vb_rd *rd, struct vb_req *r, unsigned g,
			  struct vb_err *e)
{
	if (vb_wire_dec_name(rd, &r->name, "username", e) ||
	    vb_rd_str8(rd, &r->secret, "password", e) ||
	    dec_str32(rd, &r->version, &r->version_len, "version", e))
		return -1;
	return dec_str32(rd, &r->context, &r->context_len, "context", e);
}

static int dec_version_info(struct vb_rd *rd, struct vb_req *r,
			    struct vb_err *e)
{
	if (vb_rd_u32(rd, &r->proto_version, "protocol_version", e) ||
	    vb_wire_dec_name(rd, &r->sdk_name, "sdk_name", e))
		return -1;
	return vb_wire_dec_name(rd, &r->sdk_version, "sdk_version", e);
}

/*
 * A server tells the two login bodies apart by shape (framing.md §5.4);
 * these decode one shape each, the context as raw bytes.
 */
static int dec_login_register(struct vb_rd *rd, struct vb_req *r, unsigned g,
			      struct vb_err *e)
{
	const uint8_t *skip;

	if (dec_version_info(rd, r, e) ||
	    vb_wire_dec_name(rd, &r->name, "username", e) ||
	    vb_rd_str8(rd, &r->secret, "password", e) ||
	    vb_rd_u32(rd, &r->context_len, "context length", e) ||
	    vb_rd_bytes(rd, &skip, r->context_len, "context", e))
		return -1;
	r->context = skip;
	return 0;
}

static int dec_login_register_pat(struct vb_rd *rd, struct vb_req *r,
				  unsigned g, struct vb_err *e)
{
	const uint8_t *skip;

	if (dec_version_info(rd, r, e) ||
	    vb_rd_str8(rd, &r->name, "token", e) ||
	    vb_rd_u32(rd, &r->context_len, "context length", e) ||
	    vb_rd_bytes(rd, &skip, r->context_len, "context", e))
		return -1;
	r->context = skip;
	return 0;
}

static int dec_create_pat(struct vb_rd *rd, struct vb_req *r, unsigned g,
			  struct vb_err *e)
{
	if (vb_wire_dec_name(rd, &r->name, "name", e))
		return -1;
	return vb_rd_u64(rd, &r->value, "expiry", e);
}

static int dec_name(struct vb_rd *rd, struct vb_req *r, unsigned g,
		    struct vb_err *e)
{
	return vb_wire_dec_name(rd, &r->name, "name", e);
}

static int dec_token(struct vb_rd *rd, struct vb_req *r, unsigned g,
		     struct vb_err *e)
{
	return vb_wire_dec_name(rd, &r->name, "token", e);
}

static int bad_strategy(uint8_t s, struct vb_err *e)
{
	if (s >= VB_POLL_OFFSET && s <= VB_POLL_NEXT)
		return 0;
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "strategy kind: %u", s);
}

static int dec_wait(struct vb_rd *rd, struct vb_wait *w, struct vb_err *e)
{
	return vb_rd_u64(rd, &w->max_wait_us, "max_wait_us", e) ||
			       vb_rd_u32(rd, &w->min_count, "min_count", e) ||
			       vb_rd_u32(rd, &w->max_bytes, "max_bytes", e) ||
			       vb_rd_u64(rd, &w->budget, "budget", e) ?
		       -1 :
		       0;
}

void vb_wait_part(const struct vb_req *r, uint32_t i, struct vb_wait_part *wp)
{
	const uint8_t *q;

	if (r->wp) {
		*wp = r->wp[i];
		return;
	}
	q = r->wp_raw + (size_t)i * VB_WAIT_PART_SIZE;
	wp->partition_id = vb_ld32(q);
	wp->strategy = q[4];
	wp->value = vb_ld64(q + 5);
}

static int dec_poll(struct vb_rd *rd, struct vb_req *r, unsigned g,
		    struct vb_err *e)
{
	if (dec_consumer(rd, &r->consumer, e) || dec_st(rd, r, e) ||
	    dec_part(rd, &r->part, e) ||
	    vb_rd_u8(rd, &r->strategy, "strategy kind", e) ||
	    bad_strategy(r->strategy, e))
		return -1;
	if (vb_rd_u64(rd, &r->value, "strategy value", e) ||
	    vb_rd_u32(rd, &r->count, "count", e) ||
	    vb_rd_u8(rd, &r->flag, "auto_commit", e))
		return -1;
	return 0;
}

static int dec_poll_wait(struct vb_rd *rd, struct vb_req *r, unsigned g,
			 struct vb_err *e)
{
	if (dec_poll(rd, r, g, e))
		return -1;
	return dec_wait(rd, &r->wait, e);
}

static int dec_poll_wait_multi(struct vb_rd *rd, struct vb_req *r, unsigned g,
			       struct vb_err *e)
{
	const uint8_t *raw;

	if (dec_consumer(rd, &r->consumer, e) || dec_st(rd, r, e) ||
	    vb_rd_u32(rd, &r->nwp, "partitions_count", e))
		return -1;
	if (r->nwp == 0 || r->nwp > VB_WAIT_PARTS_MAX)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "partitions_count: %u", r->nwp);
	if (vb_rd_bytes(rd, &raw, (size_t)r->nwp * VB_WAIT_PART_SIZE,
			"partitions", e))
		return -1;
	for (uint32_t i = 0; i < r->nwp; i++)
		if (bad_strategy(raw[(size_t)i * VB_WAIT_PART_SIZE + 4], e))
			return -1;
	r->wp_raw = raw;
	if (vb_rd_u32(rd, &r->count, "count", e))
		return -1;
	return dec_wait(rd, &r->wait, e);
}

static int dec_flush(struct vb_rd *rd, struct vb_req *r, unsigned g,
		     struct vb_err *e)
{
	if (dec_st(rd, r, e) ||
	    vb_rd_u32(rd, &r->partition_id, "partition_id", e))
		return -1;
	return vb_rd_u8(rd, &r->flag, "fsync", e);
}

static int dec_offset_get(struct vb_rd *rd, struct vb_req *r, unsigned g,
			  struct vb_err *e)
{
	if (dec_consumer(rd, &r->consumer, e) || dec_st(rd, r, e))
		return -1;
	return dec_part(rd, &r->part, e);
}

static int dec_ack(struct vb_rd *rd, struct vb_req *r, unsigned g,
		   struct vb_err *e)
{
	if (g != VB_GEN_09)
		return 0;
	if (vb_rd_u8(rd, &r->ack, "ack", e))
		return -1;
	if (r->ack != VB_ACK_NONE && r->ack != VB_ACK_QUORUM)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "ack: %u", r->ack);
	return 0;
}

static int dec_offset_store(struct vb_rd *rd, struct vb_req *r, unsigned g,
			    struct vb_err *e)
{
	if (dec_offset_get(rd, r, g, e) ||
	    vb_rd_u64(rd, &r->value, "offset", e))
		return -1;
	return dec_ack(rd, r, g, e);
}

static int dec_offset_delete(struct vb_rd *rd, struct vb_req *r, unsigned g,
			     struct vb_err *e)
{
	if (dec_offset_get(rd, r, g, e))
		return -1;
	return dec_ack(rd, r, g, e);
}

static int dec_stream(struct vb_rd *rd, struct vb_req *r, unsigned g,
		      struct vb_err *e)
{
	return vb_rd_ident(rd, &r->stream, "stream_id", e);
}

static int dec_create_stream(struct vb_rd *rd, struct vb_req *r, unsigned g,
			     struct vb_err *e)
{
	if (vb_wire_dec_name(rd, &r->name, "name", e))
		return -1;
	return dec_no_opts(rd, g, "stream", e);
}

static int dec_update_stream(struct vb_rd *rd, struct vb_req *r, unsigned g,
			     struct vb_err *e)
{
	if (vb_rd_ident(rd, &r->stream, "stream_id", e) ||
	    vb_wire_dec_name(rd, &r->name, "name", e))
		return -1;
	return dec_no_opts(rd, g, "stream", e);
}

static int dec_st_layout(struct vb_rd *rd, struct vb_req *r, unsigned g,
			 struct vb_err *e)
{
	return dec_st(rd, r, e);
}

static int dec_topic_08(struct vb_rd *rd, struct vb_req *r, struct vb_err *e)
{
	if (vb_rd_u8(rd, &r->compression, "compression_algorithm", e) ||
	    vb_rd_u64(rd, &r->message_expiry, "message_expiry", e) ||
	    vb_rd_u64(rd, &r->max_topic_size, "max_topic_size", e) ||
	    vb_rd_u8(rd, &r->replication_factor, "replication_factor", e))
		return -1;
	return vb_wire_dec_name(rd, &r->name, "name", e);
}

static int dec_topic_09(struct vb_rd *rd, struct vb_req *r, int update,
			struct vb_err *e)
{
	if (vb_wire_dec_name(rd, &r->name, "name", e))
		return -1;
	return vb_wire_topic_opts_dec(rd->p + rd->off, vb_rd_left(rd), r,
				      update, e);
}

static int dec_create_topic(struct vb_rd *rd, struct vb_req *r, unsigned g,
			    struct vb_err *e)
{
	if (vb_rd_ident(rd, &r->stream, "stream_id", e) ||
	    vb_rd_u32(rd, &r->count, "partitions_count", e))
		return -1;
	return g == VB_GEN_09 ? dec_topic_09(rd, r, 0, e) :
				dec_topic_08(rd, r, e);
}

static int dec_update_topic(struct vb_rd *rd, struct vb_req *r, unsigned g,
			    struct vb_err *e)
{
	if (dec_st(rd, r, e))
		return -1;
	return g == VB_GEN_09 ? dec_topic_09(rd, r, 1, e) :
				dec_topic_08(rd, r, e);
}

static int dec_partitions(struct vb_rd *rd, struct vb_req *r, unsigned g,
			  struct vb_err *e)
{
	if (dec_st(rd, r, e))
		return -1;
	return vb_rd_u32(rd, &r->count, "partitions_count", e);
}

static int dec_segments(struct vb_rd *rd, struct vb_req *r, unsigned g,
			struct vb_err *e)
{
	if (dec_st(rd, r, e) ||
	    vb_rd_u32(rd, &r->partition_id, "partition_id", e))
		return -1;
	return vb_rd_u32(rd, &r->count, "segments_count", e);
}

static int dec_group(struct vb_rd *rd, struct vb_req *r, unsigned g,
		     struct vb_err *e)
{
	if (dec_st(rd, r, e))
		return -1;
	return vb_rd_ident(rd, &r->target, "group_id", e);
}

static int dec_create_group(struct vb_rd *rd, struct vb_req *r, unsigned g,
			    struct vb_err *e)
{
	if (dec_st(rd, r, e))
		return -1;
	return vb_wire_dec_name(rd, &r->name, "name", e);
}

static int dec_send(struct vb_rd *rd, struct vb_req *r, unsigned g,
		    struct vb_err *e)
{
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "send_messages has a decoder of its own");
}

/* ---- the layouts ---- */

struct layout {
	void (*enc)(struct vb_buf *b, const struct vb_req *r, unsigned gen);
	int (*dec)(struct vb_rd *rd, struct vb_req *r, unsigned gen,
		   struct vb_err *e);
};

#define L(id, fn) [VB_L_##id] = { enc_##fn, dec_##fn }
static const struct layout layouts[VB_L_COUNT] = {
	L(NONE, none),
	L(SNAPSHOT, snapshot),
	L(SCOPE, scope),
	L(CLIENT_ID, client_id),
	L(USER_ID, user_id),
	L(CREATE_USER, create_user),
	L(UPDATE_USER, update_user),
	L(UPDATE_PERMS, update_perms),
	L(CHANGE_PASSWORD, change_password),
	L(LOGIN_USER, login_user),
	L(LOGIN_REGISTER, login_register),
	L(LOGIN_REGISTER_PAT, login_register_pat),
	L(CREATE_PAT, create_pat),
	L(NAME, name),
	[VB_L_TOKEN] = { enc_name, dec_token },
	L(POLL, poll),
	L(POLL_WAIT, poll_wait),
	L(POLL_WAIT_MULTI, poll_wait_multi),
	[VB_L_SEND] = { enc_none, dec_send },
	L(FLUSH, flush),
	L(OFFSET_GET, offset_get),
	L(OFFSET_STORE, offset_store),
	L(OFFSET_DELETE, offset_delete),
	L(STREAM, stream),
	[VB_L_CREATE_STREAM] = { enc_name, dec_create_stream },
	L(UPDATE_STREAM, update_stream),
	L(ST, st_layout),
	L(CREATE_TOPIC, create_topic),
	L(UPDATE_TOPIC, update_topic),
	L(PARTITIONS, partitions),
	L(SEGMENTS, segments),
	L(GROUP, group),
	L(CREATE_GROUP, create_group),
};
#undef L

void vb_wire_req_body(struct vb_buf *b, const struct vb_req *r, unsigned gen)
{
	const struct vb_cmd_info *ci = vb_cmd_lookup(r->code, gen);

	if (ci)
		layouts[ci->layout].enc(b, r, gen);
}

void vb_wire_req_encode(struct vb_buf *b, const struct vb_req *r)
{
	size_t start = b->len;

	vb_buf_u32(b, 0);
	vb_buf_u32(b, r->code);
	vb_wire_req_body(b, r, VB_GEN_08);
	vb_st32(b->p + start, (uint32_t)(b->len - start - 4));
}

int vb_wire_req_decode_gen(struct vb_req *r, unsigned gen, uint32_t code,
			   const uint8_t *p, size_t n, struct vb_err *e)
{
	const struct vb_cmd_info *ci = vb_cmd_lookup(code, gen);
	struct vb_rd rd;

	vb_req_init(r, code);
	vb_rd_init(&rd, p, n);
	if (ci == NULL)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "unknown command code %u", code);
	return layouts[ci->layout].dec(&rd, r, gen, e);
}

int vb_wire_req_decode(struct vb_req *r, uint32_t code, const uint8_t *p,
		       size_t n, struct vb_err *e)
{
	return vb_wire_req_decode_gen(r, VB_GEN_08, code, p, n, e);
}
