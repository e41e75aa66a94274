/*
 * frames.c - the request frame reader (frames.h): kept apart from the
 * sockets so the fuzzer can feed it every chunking of a byte stream.
 */
#include <string.h>

#include "broker/frames.h"
#include "wire/wire.h"
#include "base/banned.h"

/* Room for a receive when no large frame is being waited for. */
#define READ_ROOM (64u * 1024)
/* A large frame's body arrives in receives of at most this. */
#define READ_MAX (4u << 20)
/* An empty reader gives back a buffer larger than this. */
#define KEEP_MAX (8u << 20)

void vb_frames_init(struct vb_frames *r)
{
	vb_buf_init(&r->buf);
	r->pos = 0;
	r->gen = 0;
}

void vb_frames_release(struct vb_frames *r)
{
	vb_buf_release(&r->buf);
	r->pos = 0;
}

int vb_cmd_needs_login(uint32_t code)
{
	return code != VB_CMD_PING && code != VB_CMD_LOGIN_USER &&
	       code != VB_CMD_LOGIN_PAT;
}

size_t vb_frames_missing(const struct vb_frames *r)
{
	size_t avail = vb_frames_pending(r);
	uint64_t size;

	if (r->gen == VB_GEN_09) {
		if (avail < VB_VSR_HDR)
			return VB_VSR_HDR - avail;
		size = vb_ld32(r->buf.p + r->pos + VB_VSR_SIZE);
		return size <= avail ? 0 : (size_t)(size - avail);
	}
	if (avail < VB_REQ_HDR)
		return VB_REQ_HDR - avail;
	/* length counts the code and the payload, not itself */
	size = 4 + (uint64_t)vb_ld32(r->buf.p + r->pos);
	return size <= avail ? 0 : (size_t)(size - avail);
}

void vb_frames_compact(struct vb_frames *r)
{
	if (r->pos == 0)
		return;
	if (r->pos == r->buf.len) {
		if (r->buf.cap > KEEP_MAX)
			vb_buf_release(&r->buf);
		vb_buf_reset(&r->buf);
		r->pos = 0;
		return;
	}
	vb_buf_consume(&r->buf, r->pos);
	r->pos = 0;
}

uint8_t *vb_frames_space(struct vb_frames *r, size_t *n)
{
	size_t want, room;

	vb_frames_compact(r);
	want = vb_frames_missing(r);
	room = want < READ_ROOM ? READ_ROOM : want > READ_MAX ? READ_MAX : want;
	/* Never more, even into a buffer that grew for an earlier frame. */
	vb_buf_reserve(&r->buf, room);
	*n = room;
	return r->buf.p + r->buf.len;
}

void vb_frames_commit(struct vb_frames *r, size_t n)
{
	r->buf.len += n;
	r->buf.p[r->buf.len] = 0;
}

void vb_frames_feed(struct vb_frames *r, const void *p, size_t n)
{
	while (n > 0) {
		size_t room;
		uint8_t *d = vb_frames_space(r, &room);

		if (room > n)
			room = n;
		memcpy(d, p, room);
		vb_frames_commit(r, room);
		p = (const uint8_t *)p + room;
		n -= room;
	}
}

int vb_frames_next(struct vb_frames *r, const struct vb_frame_limits *l,
		   int logged_in, struct vb_frame *f, uint32_t *status)
{
	size_t avail = vb_frames_pending(r);
	uint8_t *h = r->buf.p + r->pos;
	uint32_t length, code, limit;

	if (avail < VB_REQ_HDR)
		return 0;
	vb_wire_req_hdr(h, &length, &code);
	if (length < 4) {
		*status = VB_ST_INVALID_COMMAND;
		return -1;
	}
	if (!logged_in)
		limit = l->preauth;
	else if (code == VB_CMD_SEND_MESSAGES)
		limit = l->send;
	else
		limit = l->control;
	if (length - 4 > limit) {
		/* A known command that needs a login says so (§1.5). */
		*status = !logged_in && vb_cmd_needs_login(code) &&
					  vb_cmd_name(code) ?
				  VB_ST_UNAUTHENTICATED :
				  VB_ST_INVALID_COMMAND;
		return -1;
	}
	if (avail - VB_REQ_HDR < length - 4)
		return 0;
	f->code = code;
	f->payload = h + VB_REQ_HDR;
	f->len = length - 4;
	r->pos += VB_REQ_HDR + f->len;
	return 1;
}

unsigned vb_frames_gen(struct vb_frames *r)
{
	if (r->gen == 0 && vb_frames_pending(r) >= 4)
		r->gen = vb_ld32(r->buf.p + r->pos) == 0 ? VB_GEN_09 :
							   VB_GEN_08;
	return r->gen;
}

int vb_frames_next_v09(struct vb_frames *r, uint64_t max, uint8_t **frame,
		       size_t *size)
{
	size_t avail = vb_frames_pending(r);
	uint8_t *h = r->buf.p + r->pos;
	uint32_t n;

	if (avail < VB_VSR_HDR)
		return 0;
	n = vb_ld32(h + VB_VSR_SIZE);
	if (n < VB_VSR_HDR || n > max)
		return -1;
	if (avail < n)
		return 0;
	*frame = h;
	*size = n;
	r->pos += n;
	return 1;
}

void vb_frames_unget(struct vb_frames *r, const struct vb_frame *f)
{
	r->pos = (size_t)(f->payload - r->buf.p) - VB_REQ_HDR;
}
