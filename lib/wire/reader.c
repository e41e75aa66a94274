/*
 * reader.c - the framing layer and the socket-free reply reader.
 *
 * The client receives into the reader and takes replies out of it; it
 * never parses a frame header itself, so a second framing of the protocol
 * only adds a struct vb_framing.
 */
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

/* Room kept for a receive when the size of the next frame is not known. */
#define READ_ROOM (64u * 1024)
/* An empty reader gives back a buffer larger than this. */
#define KEEP_MAX (8u << 20)

static uint64_t v08_req_size(const uint8_t *p)
{
	return 4 + (uint64_t)vb_ld32(p); /* length counts code + payload */
}

static uint32_t v08_req_code(const uint8_t *p)
{
	return vb_ld32(p + 4);
}

static size_t v08_req_begin(struct vb_buf *b, uint32_t code)
{
	size_t mark = b->len;

	vb_buf_u32(b, 0);
	vb_buf_u32(b, code);
	return mark;
}

static void v08_req_end(struct vb_buf *b, size_t mark)
{
	vb_st32(b->p + mark, (uint32_t)(b->len - mark - 4));
}

static int v08_reply(const uint8_t *p, struct vb_reply *rep, uint64_t *len)
{
	memset(rep, 0, sizeof(*rep));
	rep->status = vb_ld32(p);
	*len = vb_ld32(p + 4); /* payload only */
	return 0;
}

const struct vb_framing vb_framing_v08 = {
	.name = "0.8",
	.gen = VB_GEN_08,
	.req_hdr = VB_REQ_HDR,
	.reply_hdr = VB_RESP_HDR,
	.req_size = v08_req_size,
	.req_code = v08_req_code,
	.req_begin = v08_req_begin,
	.req_end = v08_req_end,
	.reply = v08_reply,
	.finish = NULL,
};

const struct vb_framing *vb_framing_of(unsigned gen)
{
	if (gen == VB_GEN_08)
		return &vb_framing_v08;
	if (gen == VB_GEN_09)
		return &vb_framing_v09;
	return NULL;
}

void vb_wire_req_frame(struct vb_buf *b, const struct vb_framing *f,
		       const struct vb_req *r)
{
	size_t mark = f->req_begin(b, r->code);

	vb_wire_req_body(b, r, f->gen);
	f->req_end(b, mark);
}

void vb_reader_init(struct vb_reader *r, const struct vb_framing *f,
		    uint64_t max)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->max = max;
	vb_buf_init(&r->buf);
}

void vb_reader_release(struct vb_reader *r)
{
	vb_buf_release(&r->buf);
	r->pos = 0;
	r->need = 0;
}

void vb_reader_reset(struct vb_reader *r)
{
	if (r->buf.cap > KEEP_MAX)
		vb_buf_release(&r->buf);
	vb_buf_reset(&r->buf);
	r->pos = 0;
	r->need = 0;
}

/* Drops the bytes of replies handed out, keeping the rest. */
static void compact(struct vb_reader *r)
{
	if (r->pos == 0)
		return;
	if (r->pos == r->buf.len) {
		vb_reader_reset(r);
		return;
	}
	vb_buf_consume(&r->buf, r->pos);
	r->pos = 0;
}

void vb_reader_feed(struct vb_reader *r, const void *p, size_t n)
{
	compact(r);
	vb_buf_add(&r->buf, p, n);
}

uint8_t *vb_reader_space(struct vb_reader *r, size_t *n)
{
	size_t have, room = READ_ROOM;

	compact(r);
	have = r->buf.len;
	/* Room for the rest of a frame whose size is known, in one go. */
	if (r->need > have && r->need - have > room)
		room = (size_t)(r->need - have);
	vb_buf_reserve(&r->buf, room);
	*n = r->buf.cap - r->buf.len - 1; /* keep the NUL byte */
	return r->buf.p + r->buf.len;
}

void vb_reader_commit(struct vb_reader *r, size_t n)
{
	r->buf.len += n;
	r->buf.p[r->buf.len] = 0;
}

int vb_reader_next(struct vb_reader *r, struct vb_reply *rep, struct vb_err *e)
{
	size_t hl = r->f->reply_hdr, avail = r->buf.len - r->pos;
	const uint8_t *h = r->buf.p + r->pos;
	uint64_t len;

	if (avail < hl)
		return 0;
	if (r->f->reply(h, rep, &len))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "a frame that is no %s reply", r->f->name);
	if (len > r->max)
		return vb_err_status(
			e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			"a reply of %llu bytes exceeds the %llu-byte limit",
			(unsigned long long)len, (unsigned long long)r->max);
	r->need = hl + len;
	if (avail < r->need)
		return 0;
	rep->payload = h + hl;
	rep->len = (size_t)len;
	r->pos += (size_t)r->need;
	r->need = 0;
	if (r->f->finish && r->f->finish(rep, e))
		return -1;
	return 1;
}

size_t vb_reader_ready(const struct vb_reader *r, size_t max)
{
	size_t hl = r->f->reply_hdr, at = r->pos, k = 0;

	while (k < max && r->buf.len - at >= hl) {
		struct vb_reply rep;
		uint64_t len;

		if (r->f->reply(r->buf.p + at, &rep, &len) || len > r->max)
			return k + 1; /* complete enough: next() fails it */
		if (r->buf.len - at < hl + len)
			break;
		at += hl + (size_t)len;
		k++;
	}
	return k;
}
