/*
 * Request payloads, both directions (control.md §5, messages.md §5, §7).
 * One table of layouts would hide the few irregular commands; a switch per
 * direction keeps each layout readable next to its spec row.
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
}

void vb_wire_req_hdr(const uint8_t hdr[VB_REQ_HDR], uint32_t *length,
		     uint32_t *code)
{
	*length = vb_ld32(hdr);
	*code = vb_ld32(hdr + 4);
}

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

void vb_wire_req_encode(struct vb_buf *b, const struct vb_req *r)
{
	size_t start = b->len;

	vb_buf_u32(b, 0);
	vb_buf_u32(b, r->code);
	switch (r->code) {
	case VB_CMD_GET_SNAPSHOT:
		vb_buf_u8(b, r->snap_compression);
		vb_buf_u8(b, r->snap_count);
		vb_buf_add(b, r->snap_types, r->snap_count);
		break;
	case VB_CMD_GET_CLIENT:
		vb_buf_u32(b, r->count);
		break;
	case VB_CMD_GET_USER:
	case VB_CMD_DELETE_USER:
		vb_wire_enc_ident(b, &r->target);
		break;
	case VB_CMD_CREATE_USER:
		vb_wire_enc_name(b, &r->name);
		enc_str8(b, &r->secret);
		vb_buf_u8(b, r->user_status);
		enc_perms(b, r);
		break;
	case VB_CMD_UPDATE_USER:
		vb_wire_enc_ident(b, &r->target);
		vb_buf_u8(b, r->has_username ? 1 : 0);
		if (r->has_username)
			vb_wire_enc_name(b, &r->name);
		vb_buf_u8(b, r->has_status ? 1 : 0);
		if (r->has_status)
			vb_buf_u8(b, r->user_status);
		break;
	case VB_CMD_UPDATE_PERMISSIONS:
		vb_wire_enc_ident(b, &r->target);
		enc_perms(b, r);
		break;
	case VB_CMD_CHANGE_PASSWORD:
		vb_wire_enc_ident(b, &r->target);
		enc_str8(b, &r->secret);
		enc_str8(b, &r->secret2);
		break;
	case VB_CMD_LOGIN_USER:
		vb_wire_enc_name(b, &r->name);
		enc_str8(b, &r->secret);
		vb_buf_u32(b, r->version ? r->version_len : 0);
		if (r->version)
			vb_buf_add(b, r->version, r->version_len);
		vb_buf_u32(b, r->context ? r->context_len : 0);
		if (r->context)
			vb_buf_add(b, r->context, r->context_len);
		break;
	case VB_CMD_CREATE_PAT:
		vb_wire_enc_name(b, &r->name);
		vb_buf_u64(b, r->value);
		break;
	case VB_CMD_DELETE_PAT:
	case VB_CMD_LOGIN_PAT:
	case VB_CMD_CREATE_STREAM:
		vb_wire_enc_name(b, &r->name);
		break;
	case VB_CMD_POLL_MESSAGES:
	case VB_CMD_POLL_WAIT:
		enc_consumer(b, &r->consumer);
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		enc_part(b, &r->part);
		vb_buf_u8(b, r->strategy);
		vb_buf_u64(b, r->value);
		vb_buf_u32(b, r->count);
		vb_buf_u8(b, r->flag);
		if (r->code == VB_CMD_POLL_WAIT)
			enc_wait(b, &r->wait);
		break;
	case VB_CMD_POLL_WAIT_MULTI:
		enc_consumer(b, &r->consumer);
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_buf_u32(b, r->nwp);
		for (uint32_t i = 0; i < r->nwp; i++) {
			vb_buf_u32(b, r->wp[i].partition_id);
			vb_buf_u8(b, r->wp[i].strategy);
			vb_buf_u64(b, r->wp[i].value);
		}
		vb_buf_u32(b, r->count);
		enc_wait(b, &r->wait);
		break;
	case VB_CMD_FLUSH_UNSAVED_BUFFER:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_buf_u32(b, r->partition_id);
		vb_buf_u8(b, r->flag);
		break;
	case VB_CMD_GET_CONSUMER_OFFSET:
	case VB_CMD_STORE_CONSUMER_OFFSET:
	case VB_CMD_DELETE_CONSUMER_OFFSET:
		enc_consumer(b, &r->consumer);
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		enc_part(b, &r->part);
		if (r->code == VB_CMD_STORE_CONSUMER_OFFSET)
			vb_buf_u64(b, r->value);
		break;
	case VB_CMD_GET_STREAM:
	case VB_CMD_DELETE_STREAM:
	case VB_CMD_PURGE_STREAM:
	case VB_CMD_GET_TOPICS:
		vb_wire_enc_ident(b, &r->stream);
		break;
	case VB_CMD_UPDATE_STREAM:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_name(b, &r->name);
		break;
	case VB_CMD_GET_TOPIC:
	case VB_CMD_DELETE_TOPIC:
	case VB_CMD_PURGE_TOPIC:
	case VB_CMD_GET_CONSUMER_GROUPS:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		break;
	case VB_CMD_CREATE_TOPIC:
		vb_wire_enc_ident(b, &r->stream);
		vb_buf_u32(b, r->count);
		vb_buf_u8(b, r->compression);
		vb_buf_u64(b, r->message_expiry);
		vb_buf_u64(b, r->max_topic_size);
		vb_buf_u8(b, r->replication_factor);
		vb_wire_enc_name(b, &r->name);
		break;
	case VB_CMD_UPDATE_TOPIC:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_buf_u8(b, r->compression);
		vb_buf_u64(b, r->message_expiry);
		vb_buf_u64(b, r->max_topic_size);
		vb_buf_u8(b, r->replication_factor);
		vb_wire_enc_name(b, &r->name);
		break;
	case VB_CMD_CREATE_PARTITIONS:
	case VB_CMD_DELETE_PARTITIONS:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_buf_u32(b, r->count);
		break;
	case VB_CMD_DELETE_SEGMENTS:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_buf_u32(b, r->partition_id);
		vb_buf_u32(b, r->count);
		break;
	case VB_CMD_GET_CONSUMER_GROUP:
	case VB_CMD_DELETE_CONSUMER_GROUP:
	case VB_CMD_JOIN_CONSUMER_GROUP:
	case VB_CMD_LEAVE_CONSUMER_GROUP:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_wire_enc_ident(b, &r->target);
		break;
	case VB_CMD_CREATE_CONSUMER_GROUP:
		vb_wire_enc_ident(b, &r->stream);
		vb_wire_enc_ident(b, &r->topic);
		vb_wire_enc_name(b, &r->name);
		break;
	default:
		/* ping, get_stats, get_me, get_clients, get_users, logout,
		 * get_pats, get_streams, get_cluster_metadata: no payload. */
		break;
	}
	vb_st32(b->p + start, (uint32_t)(b->len - start - 4));
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

static int bad_strategy(uint8_t s, struct vb_err *e)
{
	if (s >= VB_POLL_OFFSET && s <= VB_POLL_NEXT)
		return 0;
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "strategy kind: %u", s);
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

int vb_wire_req_decode(struct vb_req *r, uint32_t code, const uint8_t *p,
		       size_t n, struct vb_err *e)
{
	struct vb_rd rd;
	const uint8_t *skip;

	vb_req_init(r, code);
	vb_rd_init(&rd, p, n);
	switch (code) {
	case VB_CMD_PING:
	case VB_CMD_GET_STATS:
	case VB_CMD_GET_CLUSTER_METADATA:
	case VB_CMD_GET_ME:
	case VB_CMD_GET_CLIENTS:
	case VB_CMD_GET_USERS:
	case VB_CMD_LOGOUT_USER:
	case VB_CMD_GET_PATS:
	case VB_CMD_GET_STREAMS:
		return 0;
	case VB_CMD_GET_SNAPSHOT:
		if (vb_rd_u8(&rd, &r->snap_compression, "compression", e) ||
		    vb_rd_u8(&rd, &r->snap_count, "snapshot types count", e) ||
		    vb_rd_bytes(&rd, &skip, r->snap_count, "snapshot types", e))
			return -1;
		memcpy(r->snap_types, skip, r->snap_count);
		return 0;
	case VB_CMD_GET_CLIENT:
		return vb_rd_u32(&rd, &r->count, "client_id", e);
	case VB_CMD_GET_USER:
	case VB_CMD_DELETE_USER:
		return vb_rd_ident(&rd, &r->target, "user_id", e);
	case VB_CMD_CREATE_USER:
		if (vb_wire_dec_name(&rd, &r->name, "username", e) ||
		    vb_rd_str8(&rd, &r->secret, "password", e) ||
		    dec_user_status(&rd, &r->user_status, e))
			return -1;
		return dec_perms(&rd, r, e);
	case VB_CMD_UPDATE_USER: {
		uint8_t has;

		if (vb_rd_ident(&rd, &r->target, "user_id", e) ||
		    vb_rd_u8(&rd, &has, "has_username", e))
			return -1;
		r->has_username = has == 1;
		if (r->has_username &&
		    vb_wire_dec_name(&rd, &r->name, "username", e))
			return -1;
		if (vb_rd_u8(&rd, &has, "has_status", e))
			return -1;
		r->has_status = has == 1;
		if (r->has_status && dec_user_status(&rd, &r->user_status, e))
			return -1;
		return 0;
	}
	case VB_CMD_UPDATE_PERMISSIONS:
		if (vb_rd_ident(&rd, &r->target, "user_id", e))
			return -1;
		return dec_perms(&rd, r, e);
	case VB_CMD_CHANGE_PASSWORD:
		if (vb_rd_ident(&rd, &r->target, "user_id", e) ||
		    vb_rd_str8(&rd, &r->secret, "current_password", e))
			return -1;
		return vb_rd_str8(&rd, &r->secret2, "new_password", e);
	case VB_CMD_LOGIN_USER:
		if (vb_wire_dec_name(&rd, &r->name, "username", e) ||
		    vb_rd_str8(&rd, &r->secret, "password", e) ||
		    dec_str32(&rd, &r->version, &r->version_len, "version", e))
			return -1;
		return dec_str32(&rd, &r->context, &r->context_len, "context",
				 e);
	case VB_CMD_CREATE_PAT:
		if (vb_wire_dec_name(&rd, &r->name, "name", e))
			return -1;
		return vb_rd_u64(&rd, &r->value, "expiry", e);
	case VB_CMD_DELETE_PAT:
		return vb_wire_dec_name(&rd, &r->name, "name", e);
	case VB_CMD_LOGIN_PAT:
		return vb_wire_dec_name(&rd, &r->name, "token", e);
	case VB_CMD_CREATE_STREAM:
		return vb_wire_dec_name(&rd, &r->name, "name", e);
	case VB_CMD_POLL_MESSAGES:
	case VB_CMD_POLL_WAIT:
		if (dec_consumer(&rd, &r->consumer, e) || dec_st(&rd, r, e) ||
		    dec_part(&rd, &r->part, e) ||
		    vb_rd_u8(&rd, &r->strategy, "strategy kind", e) ||
		    bad_strategy(r->strategy, e))
			return -1;
		if (vb_rd_u64(&rd, &r->value, "strategy value", e) ||
		    vb_rd_u32(&rd, &r->count, "count", e) ||
		    vb_rd_u8(&rd, &r->flag, "auto_commit", e))
			return -1;
		if (code == VB_CMD_POLL_WAIT)
			return dec_wait(&rd, &r->wait, e);
		return 0;
	case VB_CMD_POLL_WAIT_MULTI: {
		const uint8_t *raw;

		if (dec_consumer(&rd, &r->consumer, e) || dec_st(&rd, r, e) ||
		    vb_rd_u32(&rd, &r->nwp, "partitions_count", e))
			return -1;
		if (r->nwp == 0 || r->nwp > VB_WAIT_PARTS_MAX)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_COMMAND,
					     "partitions_count: %u", r->nwp);
		if (vb_rd_bytes(&rd, &raw, (size_t)r->nwp * VB_WAIT_PART_SIZE,
				"partitions", e))
			return -1;
		for (uint32_t i = 0; i < r->nwp; i++)
			if (bad_strategy(raw[(size_t)i * VB_WAIT_PART_SIZE + 4],
					 e))
				return -1;
		r->wp_raw = raw;
		if (vb_rd_u32(&rd, &r->count, "count", e))
			return -1;
		return dec_wait(&rd, &r->wait, e);
	}
	case VB_CMD_FLUSH_UNSAVED_BUFFER:
		if (dec_st(&rd, r, e) ||
		    vb_rd_u32(&rd, &r->partition_id, "partition_id", e))
			return -1;
		return vb_rd_u8(&rd, &r->flag, "fsync", e);
	case VB_CMD_GET_CONSUMER_OFFSET:
	case VB_CMD_STORE_CONSUMER_OFFSET:
	case VB_CMD_DELETE_CONSUMER_OFFSET:
		if (dec_consumer(&rd, &r->consumer, e) || dec_st(&rd, r, e) ||
		    dec_part(&rd, &r->part, e))
			return -1;
		if (code == VB_CMD_STORE_CONSUMER_OFFSET)
			return vb_rd_u64(&rd, &r->value, "offset", e);
		return 0;
	case VB_CMD_GET_STREAM:
	case VB_CMD_DELETE_STREAM:
	case VB_CMD_PURGE_STREAM:
	case VB_CMD_GET_TOPICS:
		return vb_rd_ident(&rd, &r->stream, "stream_id", e);
	case VB_CMD_UPDATE_STREAM:
		if (vb_rd_ident(&rd, &r->stream, "stream_id", e))
			return -1;
		return vb_wire_dec_name(&rd, &r->name, "name", e);
	case VB_CMD_GET_TOPIC:
	case VB_CMD_DELETE_TOPIC:
	case VB_CMD_PURGE_TOPIC:
	case VB_CMD_GET_CONSUMER_GROUPS:
		return dec_st(&rd, r, e);
	case VB_CMD_CREATE_TOPIC:
		if (vb_rd_ident(&rd, &r->stream, "stream_id", e) ||
		    vb_rd_u32(&rd, &r->count, "partitions_count", e))
			return -1;
		goto topic_tail;
	case VB_CMD_UPDATE_TOPIC:
		if (dec_st(&rd, r, e))
			return -1;
	topic_tail:
		if (vb_rd_u8(&rd, &r->compression, "compression_algorithm",
			     e) ||
		    vb_rd_u64(&rd, &r->message_expiry, "message_expiry", e) ||
		    vb_rd_u64(&rd, &r->max_topic_size, "max_topic_size", e) ||
		    vb_rd_u8(&rd, &r->replication_factor, "replication_factor",
			     e))
			return -1;
		return vb_wire_dec_name(&rd, &r->name, "name", e);
	case VB_CMD_CREATE_PARTITIONS:
	case VB_CMD_DELETE_PARTITIONS:
		if (dec_st(&rd, r, e))
			return -1;
		return vb_rd_u32(&rd, &r->count, "partitions_count", e);
	case VB_CMD_DELETE_SEGMENTS:
		if (dec_st(&rd, r, e) ||
		    vb_rd_u32(&rd, &r->partition_id, "partition_id", e))
			return -1;
		return vb_rd_u32(&rd, &r->count, "segments_count", e);
	case VB_CMD_GET_CONSUMER_GROUP:
	case VB_CMD_DELETE_CONSUMER_GROUP:
	case VB_CMD_JOIN_CONSUMER_GROUP:
	case VB_CMD_LEAVE_CONSUMER_GROUP:
		if (dec_st(&rd, r, e))
			return -1;
		return vb_rd_ident(&rd, &r->target, "group_id", e);
	case VB_CMD_CREATE_CONSUMER_GROUP:
		if (dec_st(&rd, r, e))
			return -1;
		return vb_wire_dec_name(&rd, &r->name, "name", e);
	}
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "unknown command code %u", code);
}
