/*
 * frames.h - the server's request frame reader: socket-free and resumable.
 *
 * A connection's input goes into a struct vb_frames in whatever chunks the
 * socket gives (vb_frames_space, then vb_frames_commit); whole request
 * frames come out in order (vb_frames_next).  All progress lives in the
 * struct, so a frame split across any number of reads resumes where it
 * stopped (Redis's processMultibulkBuffer discipline, STYLE.md habit 4).
 *
 * Every frame length is checked against the limits before its body is
 * waited for, and memory grows only as bytes arrive (at most 4 MiB per
 * receive), so a header alone never makes the reader allocate what it
 * announces.  The limits are passed on each call, with whether the
 * connection is logged in at that moment: a login in the middle of a
 * pipelined stream lifts the limit for the frames after it, never before.
 *
 * The event loop (loop.c) and the fuzzer (tests/fuzz/fuzz_frames.c) both
 * drive this code; it needs lib/base/buf.c and lib/wire/names.c only.
 */
#ifndef VB_BROKER_FRAMES_H
#define VB_BROKER_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Largest payload of a request frame, by connection state and code. */
struct vb_frame_limits {
	uint32_t preauth; /* any frame before login */
	uint32_t control; /* after login, every code but send_messages */
	uint32_t send;	  /* send_messages after login */
};

/* One whole request frame; the payload may be modified in place. */
struct vb_frame {
	uint32_t code;
	uint8_t *payload;
	size_t len;
};

struct vb_frames {
	struct vb_buf buf;
	size_t pos; /* first byte not handed out */
	/* the framing (enum vb_gen): 0 until vb_frames_gen tells */
	unsigned gen;
};

void vb_frames_init(struct vb_frames *r);
void vb_frames_release(struct vb_frames *r);

/* Bytes held that are not part of a frame handed out. */
static inline size_t vb_frames_pending(const struct vb_frames *r)
{
	return r->buf.len - r->pos;
}

/*
 * Bytes still missing before vb_frames_next can hand out (or refuse) the
 * frame at the head: the rest of its header, or of its body.  0 when it
 * is all there.
 */
size_t vb_frames_missing(const struct vb_frames *r);

/*
 * Room to receive into: *n bytes (at least 64 KiB, or the rest of a large
 * frame up to 4 MiB); then vb_frames_commit what came.  Drops the bytes of
 * frames handed out first, so their payload pointers die here.
 */
uint8_t *vb_frames_space(struct vb_frames *r, size_t *n);
void vb_frames_commit(struct vb_frames *r, size_t n);
/* Copies bytes in (vb_frames_space + memcpy + vb_frames_commit). */
void vb_frames_feed(struct vb_frames *r, const void *p, size_t n);
/*
 * Drops the bytes of frames handed out (their payload pointers die) and
 * gives a large buffer back once it is empty.
 */
void vb_frames_compact(struct vb_frames *r);

/*
 * The next whole frame: 1 and *f filled; 0 when more bytes are needed;
 * -1 when the frame at the head is impossible (length below 4, or a
 * payload over its limit), with the status to answer in *status
 * (control.md §1.3: 3 InvalidCommand, or 40 Unauthenticated for a known
 * command that needs a login, sent before one): the stream cannot be
 * trusted any more, and every later call says the same.
 */
int vb_frames_next(struct vb_frames *r, const struct vb_frame_limits *l,
		   int logged_in, struct vb_frame *f, uint32_t *status);

/*
 * The framing of the stream, from its first 4 bytes (set in r->gen): a
 * 0.8 frame starts with its length (at least 4), a 0.9 request with its
 * checksum field, which clients leave 0 (iggy-wire-0.9/framing.md §2).
 * 0 while fewer have arrived.
 */
unsigned vb_frames_gen(struct vb_frames *r);
/*
 * The next whole 0.9 request (r->gen 0.9): 1 with *frame its 256-byte
 * header and body, *size both; 0 when more bytes are needed; -1 when its
 * size is below 256 or over max (the connection is closed without an
 * answer, framing.md §1), and every later call says the same.
 */
int vb_frames_next_v09(struct vb_frames *r, uint64_t max, uint8_t **frame,
		       size_t *size);
/*
 * Gives f, the frame vb_frames_next just handed out, back: the next call
 * hands it out again (a waiting poll parked, loop.c).  Nothing may have
 * been received or compacted in between.
 */
void vb_frames_unget(struct vb_frames *r, const struct vb_frame *f);

/* Ping, login_user and login_with_personal_access_token need no login. */
int vb_cmd_needs_login(uint32_t code);

#endif
