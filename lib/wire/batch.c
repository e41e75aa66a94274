/*
 * batch.c - 0.9 message batches (iggy-wire-0.9/messages.md): the send
 * body (metadata + one batch record of 48-byte frames, every checksum the
 * producer's), its validation as a server does it, the send reply's
 * confirmations, the records of a poll answer, and the group sync answer.
 * The 0.8 layout (msg.c) and this one meet in struct vb_msg and
 * vb_msgs_next, so a reader of messages needs no generation of its own.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "wire/wire.h"
#include "base/banned.h"

uint64_t vb_wire_batch_checksum(const uint8_t *batch)
{
	XXH3_state_t st;
	uint64_t len = vb_ld64(batch + VB_BATCH_LENGTH);
	const uint8_t *f = batch + VB_BATCH_HDR, *end = batch + len;
	uint8_t sums[8 * 64];
	size_t k = 0;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, batch, 40); /* partition .. batch_length */
	XXH3_64bits_update(&st, batch + VB_BATCH_COUNT, 4);
	/* the frames' checksums, gathered to hash in larger pieces */
	while (f + VB_FRAME_HDR <= end) {
		memcpy(sums + k, f, 8);
		k += 8;
		if (k == sizeof(sums)) {
			XXH3_64bits_update(&st, sums, k);
			k = 0;
		}
		f += vb_frame_size(f);
	}
	XXH3_64bits_update(&st, sums, k);
	return XXH3_64bits_digest(&st);
}

uint64_t vb_wire_batch_checksum_sums(const uint8_t *batch, const uint8_t *sums,
				     uint32_t n)
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, batch, 40); /* partition .. batch_length */
	XXH3_64bits_update(&st, batch + VB_BATCH_COUNT, 4);
	XXH3_64bits_update(&st, sums, (size_t)n * 8);
	return XXH3_64bits_digest(&st);
}

void vb_wire_batch_stamp(uint8_t *batch, uint64_t partition,
			 uint64_t base_offset, uint64_t base_ts)
{
	vb_st64(batch + VB_BATCH_PARTITION, partition);
	vb_st64(batch + VB_BATCH_BASE_OFFSET, base_offset);
	vb_st64(batch + VB_BATCH_BASE_TS, base_ts);
	vb_st64(batch + VB_BATCH_CHECKSUM, vb_wire_batch_checksum(batch));
}

void vb_wire_frame_stamp(uint8_t *fr, size_t size, uint32_t od,
			 const uint8_t rnd[16])
{
	int unset = vb_wire_msg_id_unset(fr); /* the id is at 8 in both */

	if (!unset && vb_ld32(fr + VB_FRAME_OFFSET_DELTA) == od)
		return;
	if (unset)
		vb_wire_id_v4(fr + VB_FRAME_ID, rnd);
	vb_st32(fr + VB_FRAME_OFFSET_DELTA, od);
	vb_st64(fr + VB_FRAME_CHECKSUM, vb_xxh3(fr + 8, size - 8));
}

/* ---- the builder, 0.9 half (msg.c starts it) ---- */

void vb_wire_send_begin09(struct vb_send_builder *sb, uint32_t count,
			  uint64_t bytes);
void vb_wire_send_begin09(struct vb_send_builder *sb, uint32_t count,
			  uint64_t bytes)
{
	struct vb_buf *b = sb->b;
	size_t body = VB_BATCH_HDR + (size_t)count * VB_FRAME_HDR +
		      (size_t)bytes;

	vb_buf_reserve(b, body);
	sb->batch = b->len;
	memset(b->p + sb->batch, 0, VB_BATCH_HDR);
	vb_st32(b->p + sb->batch + VB_BATCH_COUNT, count);
	sb->msg = sb->batch + VB_BATCH_HDR;
	b->len += body;
	sb->end = b->len;
	b->p[b->len] = 0;
}

void vb_wire_send_sums(struct vb_send_builder *sb, struct vb_buf *sums)
{
	sb->sums = sums;
	if (sums == NULL)
		return;
	vb_buf_reset(sums);
	vb_buf_reserve(sums, (size_t)sb->count * 8);
}

/*
 * A message whose origin timestamp is at or after the first's, less than
 * 2^32 µs past it, gets its delta and checksum at once (the batch's
 * origin is the smallest, so far the first's).  After one that is not,
 * the checksum slot of each frame holds its origin timestamp until
 * vb_wire_send_end, which knows the smallest.
 */
void vb_wire_send_add09(struct vb_send_builder *sb, const uint8_t id[16],
			uint64_t origin_timestamp, const void *payload,
			uint32_t payload_len, const void *uhdr,
			uint32_t uhdr_len);
void vb_wire_send_add09(struct vb_send_builder *sb, const uint8_t id[16],
			uint64_t origin_timestamp, const void *payload,
			uint32_t payload_len, const void *uhdr,
			uint32_t uhdr_len)
{
	uint8_t *f = sb->b->p + sb->msg;
	size_t size = VB_FRAME_HDR + (size_t)payload_len + uhdr_len;

	if (sb->n == 0)
		sb->ts0 = origin_timestamp;
	if (!sb->late && (origin_timestamp < sb->ts0 ||
			  origin_timestamp - sb->ts0 > UINT32_MAX))
		sb->late = 1;
	memset(f, 0, VB_FRAME_HDR);
	memcpy(f + VB_FRAME_ID, id, 16);
	vb_st32(f + VB_FRAME_OFFSET_DELTA, sb->n);
	vb_st32(f + VB_FRAME_UHDR_LEN, uhdr_len);
	vb_st32(f + VB_FRAME_PAYLOAD_LEN, payload_len);
	memcpy(f + VB_FRAME_HDR, payload, payload_len);
	if (uhdr_len)
		memcpy(f + VB_FRAME_HDR + payload_len, uhdr, uhdr_len);
	if (sb->late)
		vb_st64(f + VB_FRAME_CHECKSUM, origin_timestamp);
	else {
		uint64_t sum;

		vb_st32(f + VB_FRAME_TS_DELTA,
			(uint32_t)(origin_timestamp - sb->ts0));
		sum = vb_xxh3(f + VB_FRAME_ID, size - VB_FRAME_ID);
		vb_st64(f + VB_FRAME_CHECKSUM, sum);
		if (sb->sums) {
			uint8_t d[8];

			vb_st64(d, sum);
			vb_buf_add(sb->sums, d, 8);
		}
		sb->neager++;
	}
	sb->msg += size;
}

/* The origin timestamp of frame k, whichever way add left it. */
static uint64_t frame_ts(const struct vb_send_builder *sb, const uint8_t *f,
			 uint32_t k)
{
	return k < sb->neager ? sb->ts0 + vb_ld32(f + VB_FRAME_TS_DELTA) :
				vb_ld64(f + VB_FRAME_CHECKSUM);
}

int vb_wire_send_end09(struct vb_send_builder *sb, struct vb_err *e);
int vb_wire_send_end09(struct vb_send_builder *sb, struct vb_err *e)
{
	uint8_t *batch = sb->b->p + sb->batch, *end = sb->b->p + sb->end, *f;
	uint64_t min = UINT64_MAX, max = 0;
	uint32_t k;

	vb_st64(batch + VB_BATCH_LENGTH, (uint64_t)(end - batch));
	if (!sb->late) {
		/* every frame is done: the first's is the smallest */
		vb_st64(batch + VB_BATCH_ORIGIN_TS, sb->n ? sb->ts0 : 0);
		vb_st64(batch + VB_BATCH_CHECKSUM,
			sb->sums && sb->sums->len == (size_t)sb->n * 8 ?
				vb_wire_batch_checksum_sums(batch, sb->sums->p,
							    sb->n) :
				vb_wire_batch_checksum(batch));
		return 0;
	}
	for (f = batch + VB_BATCH_HDR, k = 0; f < end;
	     f += vb_frame_size(f), k++) {
		uint64_t ts = frame_ts(sb, f, k);

		min = ts < min ? ts : min;
		max = ts > max ? ts : max;
	}
	if (sb->n == 0)
		min = max = 0;
	if (max - min > UINT32_MAX)
		return vb_err_status(
			e, VB_E_USAGE, VB_ST_INVALID_MESSAGE_TIMESTAMP_DELTA,
			"the origin timestamps of one batch are %llu µs apart (at most 4294967295)",
			(unsigned long long)(max - min));
	for (f = batch + VB_BATCH_HDR, k = 0; f < end;
	     f += vb_frame_size(f), k++) {
		size_t size = (size_t)vb_frame_size(f);

		vb_st32(f + VB_FRAME_TS_DELTA,
			(uint32_t)(frame_ts(sb, f, k) - min));
		vb_st64(f + VB_FRAME_CHECKSUM,
			vb_xxh3(f + VB_FRAME_ID, size - VB_FRAME_ID));
	}
	vb_st64(batch + VB_BATCH_ORIGIN_TS, min);
	vb_st64(batch + VB_BATCH_CHECKSUM, vb_wire_batch_checksum(batch));
	return 0;
}

/* ---- the server's side of a send ---- */

static int bad3(struct vb_err *e, const char *what)
{
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND, "%s", what);
}

static int zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int vb_wire_dec_send_meta(struct vb_rd *md, struct vb_send_hdr *h,
			  struct vb_err *e);

int vb_wire_batch_verify(const uint8_t *b, const uint8_t *end, struct vb_err *e)
{
	XXH3_state_t st;
	uint8_t sums[8 * 64];
	size_t n = 0;
	uint32_t k = 0;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, b, 40); /* partition .. batch_length */
	XXH3_64bits_update(&st, b + VB_BATCH_COUNT, 4);
	for (const uint8_t *f = b + VB_BATCH_HDR; f < end; k++) {
		size_t size = (size_t)vb_frame_size(f);

		if (vb_ld64(f) != vb_xxh3(f + 8, size - 8))
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_MESSAGE_CHECKSUM,
					     "frame %u: checksum does not match",
					     k);
		memcpy(sums + n, f, 8);
		n += 8;
		if (n == sizeof(sums)) {
			XXH3_64bits_update(&st, sums, n);
			n = 0;
		}
		f += size;
	}
	XXH3_64bits_update(&st, sums, n);
	if (vb_ld64(b + VB_BATCH_CHECKSUM) != XXH3_64bits_digest(&st))
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_BATCH_CHECKSUM,
				     "batch checksum does not match");
	return 0;
}

int vb_wire_send_decode_v09(struct vb_send_view09 *v, const uint8_t *p,
			    size_t n, struct vb_err *e)
{
	struct vb_rd rd, md;
	uint32_t meta_len, count, k = 0;
	const uint8_t *meta, *b, *f, *end;
	uint64_t len;

	memset(v, 0, sizeof(*v));
	vb_rd_init(&rd, p, n);
	if (vb_rd_u32(&rd, &meta_len, "metadata_length", e) ||
	    vb_rd_bytes(&rd, &meta, meta_len, "metadata", e))
		return -1;
	vb_rd_init(&md, meta, meta_len);
	if (vb_wire_dec_send_meta(&md, &v->h, e))
		return -1;
	if (vb_rd_left(&md) != 0)
		return bad3(e, "metadata: bytes after messages_count");
	if (vb_rd_left(&rd) < VB_BATCH_HDR)
		return bad3(e, "batch header: truncated");
	b = rd.p + rd.off;
	len = vb_ld64(b + VB_BATCH_LENGTH);
	count = vb_ld32(b + VB_BATCH_COUNT);
	if (!zero(b + VB_BATCH_RESERVED, VB_BATCH_HDR - VB_BATCH_RESERVED))
		return bad3(e, "batch header: reserved bytes not 0");
	if (len < VB_BATCH_HDR || len > vb_rd_left(&rd))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "batch_length %llu of %zu bytes",
				     (unsigned long long)len, vb_rd_left(&rd));
	end = b + len;
	for (f = b + VB_BATCH_HDR; f < end; k++) {
		size_t size;

		if ((size_t)(end - f) < VB_FRAME_HDR)
			return bad3(e, "frames do not tile the batch");
		size = (size_t)vb_frame_size(f);
		if (size > (size_t)(end - f))
			return bad3(e, "frames do not tile the batch");
		if (vb_ld64(f + VB_FRAME_RESERVED) != 0)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_COMMAND,
					     "frame %u: reserved field not 0",
					     k);
		f += size;
	}
	if (vb_wire_batch_verify(b, end, e))
		return -1;
	if (count == 0 || k != count)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "message_count %u, %u frames", count, k);
	if (v->h.count != count)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "messages_count %u, batch message_count %u",
				     v->h.count, count);
	if (len != vb_rd_left(&rd))
		return bad3(e, "bytes after the batch");
	v->batch = b;
	v->batch_len = (size_t)len;
	return 0;
}

void vb_wire_enc_send_reply(struct vb_buf *b, const struct vb_send_confirm *c,
			    uint32_t count)
{
	vb_buf_u32(b, count ? 1 : 0);
	if (!count)
		return;
	vb_buf_u32(b, c->stream_id);
	vb_buf_u32(b, c->topic_id);
	vb_buf_u32(b, c->partition_id);
	vb_buf_u64(b, c->base_offset);
}

int vb_wire_dec_send_reply(const uint8_t *p, size_t n, int *found,
			   struct vb_send_confirm *c, struct vb_err *e)
{
	struct vb_rd rd;
	uint32_t count;

	*found = 0;
	memset(c, 0, sizeof(*c));
	vb_rd_init(&rd, p, n);
	if (vb_rd_u32(&rd, &count, "confirmations count", e))
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		struct vb_send_confirm x;

		if (vb_rd_u32(&rd, &x.stream_id, "confirmation stream_id", e) ||
		    vb_rd_u32(&rd, &x.topic_id, "confirmation topic_id", e) ||
		    vb_rd_u32(&rd, &x.partition_id, "confirmation partition_id",
			      e) ||
		    vb_rd_u64(&rd, &x.base_offset, "confirmation base_offset",
			      e))
			return -1;
		if (i == 0) {
			*c = x;
			*found = 1;
		}
	}
	if (vb_rd_left(&rd) != 0)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "send reply: %zu bytes after the confirmations",
				     vb_rd_left(&rd));
	return 0;
}

void vb_wire_enc_group_sync(struct vb_buf *b, uint64_t generation,
			    const uint32_t *parts, uint32_t n)
{
	vb_buf_u64(b, generation);
	vb_buf_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		vb_buf_u32(b, parts[i]);
}

int vb_wire_dec_group_sync(const uint8_t *p, size_t n, struct vb_group_sync *s,
			   struct vb_err *e)
{
	struct vb_rd rd;

	memset(s, 0, sizeof(*s));
	if (n == 0)
		return 0; /* not a member, or no such group */
	vb_rd_init(&rd, p, n);
	if (vb_rd_u64(&rd, &s->generation, "sync generation", e) ||
	    vb_rd_u32(&rd, &s->count, "sync partitions count", e))
		return -1;
	if (s->count > vb_rd_left(&rd) / 4)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "sync: %u partitions declared, %zu bytes left",
				     s->count, vb_rd_left(&rd));
	s->parts = rd.p + rd.off;
	s->member = 1;
	return 0;
}

/* ---- the messages of a poll answer ---- */

void vb_msgs_init(struct vb_msgs *it, unsigned gen, const uint8_t *p, size_t n)
{
	memset(it, 0, sizeof(*it));
	vb_rd_init(&it->rd, p, n);
	it->gen = gen;
}

/* The next record's header: 1, 0 at the end. */
static int next_record(struct vb_msgs *it, struct vb_err *e)
{
	struct vb_rd *r = &it->rd;
	const uint8_t *b = r->p + r->off;
	uint64_t len;

	if (vb_rd_left(r) == 0)
		return 0;
	if (vb_rd_left(r) < VB_BATCH_HDR)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "batch record: %zu of 256 header bytes",
				     vb_rd_left(r));
	len = vb_ld64(b + VB_BATCH_LENGTH);
	if (len < VB_BATCH_HDR || len > vb_rd_left(r))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "batch record of %llu bytes, %zu left",
				     (unsigned long long)len, vb_rd_left(r));
	it->base_offset = vb_ld64(b + VB_BATCH_BASE_OFFSET);
	it->base_ts = vb_ld64(b + VB_BATCH_BASE_TS);
	it->origin_ts = vb_ld64(b + VB_BATCH_ORIGIN_TS);
	it->rec_end = r->off + (size_t)len;
	r->off += VB_BATCH_HDR;
	return 1;
}

int vb_msgs_next(struct vb_msgs *it, struct vb_msg *m, struct vb_err *e)
{
	struct vb_rd *r = &it->rd;
	const uint8_t *f;
	size_t left;
	uint64_t size;

	if (it->gen != VB_GEN_09)
		return vb_wire_dec_msg(r, m, e);
	while (it->rec_end == 0 || r->off == it->rec_end) {
		int rc;

		it->rec_end = 0;
		if ((rc = next_record(it, e)) <= 0)
			return rc;
	}
	f = r->p + r->off;
	left = it->rec_end - r->off;
	if (left < VB_FRAME_HDR)
		return vb_err_status(e, VB_E_PROTO, VB_ST_MISSING_INDEX,
				     "message frame: %zu of 48 bytes", left);
	size = vb_frame_size(f);
	if (size > left)
		return vb_err_status(
			e, VB_E_PROTO, VB_ST_MISSING_INDEX,
			"message: %llu bytes declared, %zu in its record",
			(unsigned long long)size, left);
	m->frame = f;
	m->size = (size_t)size;
	m->checksum = vb_ld64(f + VB_FRAME_CHECKSUM);
	memcpy(m->id, f + VB_FRAME_ID, 16);
	m->offset = it->base_offset + vb_ld32(f + VB_FRAME_OFFSET_DELTA);
	m->timestamp = it->base_ts;
	m->origin_timestamp = it->origin_ts + vb_ld32(f + VB_FRAME_TS_DELTA);
	m->uhdr_len = vb_ld32(f + VB_FRAME_UHDR_LEN);
	m->payload_len = vb_ld32(f + VB_FRAME_PAYLOAD_LEN);
	m->reserved = vb_ld64(f + VB_FRAME_RESERVED);
	m->payload = f + VB_FRAME_HDR;
	m->uhdr = m->payload + m->payload_len;
	if (m->reserved != 0)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_RESERVED_FIELD,
				     "message at offset %llu: reserved field not 0",
				     (unsigned long long)m->offset);
	r->off += m->size;
	return 1;
}
