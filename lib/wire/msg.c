/* Message frames and send_messages (messages.md §1-§4). */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "wire/wire.h"
#include "base/banned.h"

uint32_t vb_xxh32(const void *p, size_t n)
{
	return XXH32(p, n, 0);
}

/*
 * Message checksums (what is long enough to gain from it) with the AVX2
 * build of xxh3_avx2.c where the CPU has AVX2; the inlined baseline code
 * for short input and elsewhere.  Not libxxhash's run-time dispatch: it
 * takes AVX-512 where there is some, and measured on a poll's loop (a
 * send between two records) that hashed at half AVX2's speed and slowed
 * the sends after it too (the core's clock drops while 512-bit units run).
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define VB_XXH3_LONG 256
#endif

uint64_t vb_xxh3(const void *p, size_t n)
{
#ifdef VB_XXH3_LONG
	/* one load of libgcc's CPU model (set by its constructor) */
	if (n >= VB_XXH3_LONG && __builtin_cpu_supports("avx2"))
		return vb_xxh3_avx2(p, n);
#endif
	return XXH3_64bits(p, n);
}

uint64_t vb_wire_msg_checksum(const uint8_t *frame, size_t size)
{
	return vb_xxh3(frame + VB_MSG_ID, size - VB_MSG_ID);
}

int vb_wire_msg_verify(const struct vb_msg *m, struct vb_err *e)
{
	uint64_t sum;

	if (m->reserved != 0)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_RESERVED_FIELD,
				     "reserved field not 0");
	sum = vb_wire_msg_checksum(m->frame, m->size);
	if (sum != m->checksum)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_MESSAGE_CHECKSUM,
				     "checksum %016llx, the bytes give %016llx",
				     (unsigned long long)m->checksum,
				     (unsigned long long)sum);
	return 0;
}

int vb_wire_msg_parse(struct vb_msg *m, const uint8_t *p, size_t n,
		      struct vb_err *e)
{
	uint64_t size;

	if (n < VB_MSG_HDR)
		return vb_err_status(e, VB_E_PROTO, VB_ST_MISSING_INDEX,
				     "message header: %zu of 64 bytes", n);
	m->frame = p;
	m->checksum = vb_ld64(p + VB_MSG_CHECKSUM);
	memcpy(m->id, p + VB_MSG_ID, VB_MSG_ID_LEN);
	m->offset = vb_ld64(p + VB_MSG_OFFSET);
	m->timestamp = vb_ld64(p + VB_MSG_TIMESTAMP);
	m->origin_timestamp = vb_ld64(p + VB_MSG_ORIGIN_TS);
	m->uhdr_len = vb_ld32(p + VB_MSG_UHDR_LEN);
	m->payload_len = vb_ld32(p + VB_MSG_PAYLOAD_LEN);
	m->reserved = vb_ld64(p + VB_MSG_RESERVED);
	size = vb_msg_frame_size(p);
	if (size > n)
		return vb_err_status(e, VB_E_PROTO, VB_ST_MISSING_INDEX,
				     "message: %llu bytes declared, %zu present",
				     (unsigned long long)size, n);
	m->size = (size_t)size;
	m->payload = p + VB_MSG_HDR;
	m->uhdr = m->payload + m->payload_len;
	return 0;
}

int vb_wire_msg_id_unset(const uint8_t *frame)
{
	static const uint8_t zero[VB_MSG_ID_LEN];

	return memcmp(frame + VB_MSG_ID, zero, VB_MSG_ID_LEN) == 0;
}

void vb_wire_id_v4(uint8_t *id, const uint8_t rnd[16])
{
	memcpy(id, rnd, VB_MSG_ID_LEN);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

void vb_wire_msg_stamp(uint8_t *frame, size_t size, uint64_t offset,
		       uint64_t timestamp, const uint8_t rnd[16])
{
	if (vb_wire_msg_id_unset(frame))
		vb_wire_id_v4(frame + VB_MSG_ID, rnd);
	vb_st64(frame + VB_MSG_OFFSET, offset);
	vb_st64(frame + VB_MSG_TIMESTAMP, timestamp);
	vb_st64(frame + VB_MSG_CHECKSUM, vb_wire_msg_checksum(frame, size));
}

static void enc_partitioning(struct vb_buf *b, const struct vb_send_hdr *h)
{
	vb_buf_u8(b, h->part_kind);
	switch (h->part_kind) {
	case VB_PART_ID:
		vb_buf_u8(b, 4);
		vb_buf_u32(b, h->partition_id);
		break;
	case VB_PART_KEY:
		vb_buf_u8(b, h->key_len);
		vb_buf_add(b, h->key, h->key_len);
		break;
	default:
		vb_buf_u8(b, 0);
		break;
	}
}

void vb_wire_send_begin09(struct vb_send_builder *sb, uint32_t count,
			  uint64_t bytes);
void vb_wire_send_add09(struct vb_send_builder *sb, const uint8_t id[16],
			uint64_t origin_timestamp, const void *payload,
			uint32_t payload_len, const void *uhdr,
			uint32_t uhdr_len);
int vb_wire_send_end09(struct vb_send_builder *sb, struct vb_err *e);

void vb_wire_send_begin_f(struct vb_send_builder *sb, struct vb_buf *b,
			  const struct vb_framing *f,
			  const struct vb_send_hdr *h, uint32_t count,
			  uint64_t bytes)
{
	size_t meta;

	memset(sb, 0, sizeof(*sb));
	sb->b = b;
	sb->gen = f->gen;
	sb->count = count;
	sb->start = f->req_begin(b, VB_CMD_SEND_MESSAGES);
	vb_buf_u32(b, 0);
	meta = b->len;
	vb_wire_enc_ident(b, &h->stream);
	vb_wire_enc_ident(b, &h->topic);
	enc_partitioning(b, h);
	vb_buf_u32(b, count);
	vb_st32(b->p + meta - 4, (uint32_t)(b->len - meta));
	if (f->gen == VB_GEN_09)
		vb_wire_send_begin09(sb, count, bytes);
	else {
		size_t body = (size_t)count * (VB_INDEX_ENTRY + VB_MSG_HDR) +
			      (size_t)bytes;

		vb_buf_reserve(b, body);
		sb->idx = b->len;
		sb->msg = b->len + (size_t)count * VB_INDEX_ENTRY;
		b->len += body;
		sb->end = b->len;
		b->p[b->len] = 0;
	}
	f->req_end(b, sb->start);
}

void vb_wire_send_begin(struct vb_send_builder *sb, struct vb_buf *b,
			const struct vb_send_hdr *h, uint32_t count,
			uint64_t bytes)
{
	vb_wire_send_begin_f(sb, b, &vb_framing_v08, h, count, bytes);
}

void vb_wire_send_add(struct vb_send_builder *sb, const uint8_t id[16],
		      uint64_t origin_timestamp, const void *payload,
		      uint32_t payload_len, const void *uhdr, uint32_t uhdr_len)
{
	uint8_t *ent, *f;

	if (sb->gen == VB_GEN_09) {
		vb_wire_send_add09(sb, id, origin_timestamp, payload,
				   payload_len, uhdr, uhdr_len);
		sb->n++;
		return;
	}
	ent = sb->b->p + sb->idx;
	f = sb->b->p + sb->msg;
	memset(f, 0, VB_MSG_HDR);
	memcpy(f + VB_MSG_ID, id, VB_MSG_ID_LEN);
	vb_st64(f + VB_MSG_ORIGIN_TS, origin_timestamp);
	vb_st32(f + VB_MSG_UHDR_LEN, uhdr_len);
	vb_st32(f + VB_MSG_PAYLOAD_LEN, payload_len);
	memcpy(f + VB_MSG_HDR, payload, payload_len);
	if (uhdr_len)
		memcpy(f + VB_MSG_HDR + payload_len, uhdr, uhdr_len);
	sb->pos += VB_MSG_HDR + payload_len + uhdr_len;
	sb->msg += VB_MSG_HDR + (size_t)payload_len + uhdr_len;
	/* index entry: offset 0, position = end of this message, ts 0 */
	memset(ent, 0, VB_INDEX_ENTRY);
	vb_st32(ent + 4, sb->pos);
	sb->idx += VB_INDEX_ENTRY;
	sb->n++;
}

int vb_wire_send_end(struct vb_send_builder *sb, struct vb_err *e)
{
	return sb->gen == VB_GEN_09 ? vb_wire_send_end09(sb, e) : 0;
}

int vb_wire_send_encode_f(struct vb_buf *b, const struct vb_framing *f,
			  const struct vb_send_hdr *h,
			  const struct vb_msg_in *msgs, uint32_t n,
			  struct vb_err *e)
{
	struct vb_send_builder sb;
	uint64_t bytes = 0;

	for (uint32_t i = 0; i < n; i++)
		bytes += (uint64_t)msgs[i].payload_len + msgs[i].uhdr_len;
	vb_wire_send_begin_f(&sb, b, f, h, n, bytes);
	for (uint32_t i = 0; i < n; i++)
		vb_wire_send_add(&sb, msgs[i].id, msgs[i].origin_timestamp,
				 msgs[i].payload, msgs[i].payload_len,
				 msgs[i].uhdr, msgs[i].uhdr_len);
	return vb_wire_send_end(&sb, e);
}

void vb_wire_send_encode(struct vb_buf *b, const struct vb_send_hdr *h,
			 const struct vb_msg_in *msgs, uint32_t n)
{
	vb_wire_send_encode_f(b, &vb_framing_v08, h, msgs, n, NULL);
}

static int bad_ident(struct vb_err *e)
{
	/* The send path answers identifier problems with 6 (§2.3). */
	if (e != NULL)
		e->status = VB_ST_INVALID_IDENTIFIER;
	return -1;
}

static int dec_partitioning(struct vb_rd *rd, struct vb_send_hdr *h,
			    struct vb_err *e)
{
	uint8_t len;
	const uint8_t *v;

	if (vb_rd_u8(rd, &h->part_kind, "partitioning kind", e) ||
	    vb_rd_u8(rd, &len, "partitioning length", e))
		return -1;
	switch (h->part_kind) {
	case VB_PART_BALANCED:
		if (len != 0)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_COMMAND,
					     "partitioning: balanced with length %u",
					     len);
		return 0;
	case VB_PART_ID:
		if (len != 4)
			return vb_err_status(
				e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				"partitioning: partition_id with length %u",
				len);
		return vb_rd_u32(rd, &h->partition_id, "partition_id", e);
	case VB_PART_KEY:
		if (vb_rd_bytes(rd, &v, len, "messages_key", e))
			return -1;
		memcpy(h->key, v, len);
		h->key_len = len;
		return 0;
	}
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "partitioning kind: %u", h->part_kind);
}

/* The metadata of a send: identifiers (6 on failure), partitioning, count. */
int vb_wire_dec_send_meta(struct vb_rd *md, struct vb_send_hdr *h,
			  struct vb_err *e);
int vb_wire_dec_send_meta(struct vb_rd *md, struct vb_send_hdr *h,
			  struct vb_err *e)
{
	if (vb_rd_ident(md, &h->stream, "stream_id", e) ||
	    vb_rd_ident(md, &h->topic, "topic_id", e))
		return bad_ident(e);
	if (dec_partitioning(md, h, e) ||
	    vb_rd_u32(md, &h->count, "messages_count", e))
		return -1;
	return 0;
}

int vb_wire_send_decode(struct vb_send_view *v, const uint8_t *p, size_t n,
			struct vb_err *e)
{
	struct vb_rd rd, md;
	uint32_t meta_len, prev_pos = 0, pos = 0, bad = 0, bad_st = 0;
	uint64_t prev_off = 0, total = 0;
	const uint8_t *meta;
	size_t idx_len;

	memset(v, 0, sizeof(*v));
	vb_rd_init(&rd, p, n);
	if (vb_rd_u32(&rd, &meta_len, "metadata_length", e))
		return -1;
	if (vb_rd_bytes(&rd, &meta, meta_len, "metadata", e))
		return -1;
	vb_rd_init(&md, meta, meta_len);
	if (vb_wire_dec_send_meta(&md, &v->h, e))
		return -1;
	idx_len = (size_t)v->h.count * VB_INDEX_ENTRY;
	if (vb_rd_bytes(&rd, &v->index, idx_len, "index block", e))
		return -1;
	v->msgs = rd.p + rd.off;
	v->msgs_len = vb_rd_left(&rd);

	if (v->h.count == 0)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_MESSAGES_COUNT,
				     "messages_count: 0");
	/*
	 * Message i occupies [position(i-1), position(i)) of the message area
	 * (position(-1) = 0), except the last one, which runs to the end of
	 * the area.  The checks run per message in the order of §2.3, so a
	 * decreasing position makes a middle message impossible to locate
	 * (4033) and is reported as 10011 only for the last entry.
	 */
	for (uint32_t i = 0; i < v->h.count; i++) {
		const uint8_t *ent = v->index + (size_t)i * VB_INDEX_ENTRY;
		size_t start = prev_pos, end;
		struct vb_msg m;

		pos = vb_ld32(ent + 4);

		if (vb_ld32(ent) != 0)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_NON_ZERO_OFFSET,
					     "message %u: index offset not 0",
					     i);
		if (vb_ld64(ent + 8) != 0)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_NON_ZERO_TIMESTAMP,
					     "message %u: index timestamp not 0",
					     i);
		end = i + 1 == v->h.count ? v->msgs_len : pos;
		if (start > v->msgs_len || end > v->msgs_len || end < start)
			return vb_err_status(
				e, VB_E_PROTO, VB_ST_MISSING_INDEX,
				"message %u: [%zu, %zu) outside the %zu-byte area",
				i, start, end, v->msgs_len);
		if (vb_wire_msg_parse(&m, v->msgs + start, end - start, e)) {
			vb_err_prefix(e, "message %u", i);
			return -1;
		}
		if (m.payload_len > VB_PAYLOAD_MAX)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_TOO_BIG_MESSAGE_PAYLOAD,
					     "message %u: payload of %u bytes",
					     i, m.payload_len);
		if (m.uhdr_len > VB_UHDR_MAX)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_TOO_BIG_USER_HEADERS,
					     "message %u: user headers of %u bytes",
					     i, m.uhdr_len);
		if (m.offset < prev_off)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_OFFSET,
					     "message %u: header offset decreases",
					     i);
		if (pos < prev_pos)
			return vb_err_status(
				e, VB_E_PROTO, VB_ST_CANNOT_READ_INDEX_POSITION,
				"message %u: index position %u before %u", i,
				pos, prev_pos);
		prev_off = m.offset;
		prev_pos = pos;
		total += m.size;
		/* stricter than upstream: reported once upstream's checks pass */
		if (bad_st == 0) {
			bad = i;
			if (m.reserved != 0)
				bad_st = VB_ST_INVALID_RESERVED_FIELD;
			else if (m.checksum != 0 &&
				 m.checksum !=
					 vb_wire_msg_checksum(m.frame, m.size))
				bad_st = VB_ST_INVALID_MESSAGE_CHECKSUM;
		}
	}
	if (total != v->msgs_len)
		return vb_err_status(
			e, VB_E_PROTO, VB_ST_INVALID_MESSAGES_SIZE,
			"messages: %llu bytes in frames, %zu in the area",
			(unsigned long long)total, v->msgs_len);
	/*
	 * Upstream ignores the last index position (the last message runs to
	 * the end of the area); an official client writes the area's size
	 * there, and anything else is refused as it would be in any other
	 * entry.  Then what an official client would refuse to read: a
	 * reserved field not 0 (the Rust SDK's 4101), a checksum that is not
	 * the message's (0, what clients send, is never checked).
	 */
	if (pos != v->msgs_len)
		return vb_err_status(
			e, VB_E_PROTO, VB_ST_MISSING_INDEX,
			"message %u: index position %u, the area ends at %zu",
			v->h.count - 1, pos, v->msgs_len);
	if (bad_st == VB_ST_INVALID_RESERVED_FIELD)
		return vb_err_status(e, VB_E_PROTO, bad_st,
				     "message %u: reserved field not 0", bad);
	if (bad_st == VB_ST_INVALID_MESSAGE_CHECKSUM)
		return vb_err_status(e, VB_E_PROTO, bad_st,
				     "message %u: checksum does not match",
				     bad);
	return 0;
}

void vb_wire_uhdr_add(struct vb_buf *b, uint8_t key_kind, const void *key,
		      uint32_t key_len, uint8_t val_kind, const void *val,
		      uint32_t val_len)
{
	vb_buf_u8(b, key_kind);
	vb_buf_u32(b, key_len);
	vb_buf_add(b, key, key_len);
	vb_buf_u8(b, val_kind);
	vb_buf_u32(b, val_len);
	vb_buf_add(b, val, val_len);
}

/* The size a fixed-size kind must have; 0 for raw and string (1..255). */
static uint32_t kind_size(uint8_t kind)
{
	static const uint8_t sizes[] = {
		[VB_UHDR_BOOL] = 1,	[VB_UHDR_INT8] = 1,
		[VB_UHDR_INT16] = 2,	[VB_UHDR_INT32] = 4,
		[VB_UHDR_INT64] = 8,	[VB_UHDR_INT128] = 16,
		[VB_UHDR_UINT8] = 1,	[VB_UHDR_UINT16] = 2,
		[VB_UHDR_UINT32] = 4,	[VB_UHDR_UINT64] = 8,
		[VB_UHDR_UINT128] = 16, [VB_UHDR_FLOAT32] = 4,
		[VB_UHDR_FLOAT64] = 8,
	};

	return kind < sizeof(sizes) ? sizes[kind] : 0;
}

static int uhdr_field(struct vb_rd *r, uint8_t *kind, const uint8_t **p,
		      uint32_t *len, const char *what, struct vb_err *e)
{
	uint32_t want;

	if (vb_rd_u8(r, kind, what, e) || vb_rd_u32(r, len, what, e))
		return -1;
	if (*kind == 0 || *kind > VB_UHDR_FLOAT64)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "user header %s: kind %u", what, *kind);
	if (*len < 1 || *len > VB_UHDR_LEN_MAX)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "user header %s: length %u", what, *len);
	want = kind_size(*kind);
	if (want && *len != want)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "user header %s: kind %u of %u bytes, not %u",
				     what, *kind, *len, want);
	return vb_rd_bytes(r, p, *len, what, e);
}

int vb_wire_uhdr_next(struct vb_rd *r, struct vb_uhdr *h, struct vb_err *e)
{
	if (vb_rd_left(r) == 0)
		return 0;
	if (uhdr_field(r, &h->key_kind, &h->key, &h->key_len, "key", e) ||
	    uhdr_field(r, &h->val_kind, &h->val, &h->val_len, "value", e))
		return -1;
	return 1;
}
