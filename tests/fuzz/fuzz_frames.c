/*
 * fuzz_frames.c - libFuzzer target for the server's request frame reader
 * (lib/broker/frames.c), the code every byte from a client goes through
 * before the codec sees it.
 *
 * Input:
 *   byte 0      flags: bit 0 the connection starts logged in; bits 1-2 the
 *               limits (0 the server's, 1 small, 2 zero before login,
 *               3 tiny everywhere); bit 3 bytes copied in with
 *               vb_frames_feed instead of received into vb_frames_space
 *   byte 1      m, then m bytes: the sizes of the chunks the stream is cut
 *               into (byte v is a chunk of v + 1 bytes, used in turn;
 *               m = 0: the whole stream at once)
 *   the rest    the byte stream, as a client would send it
 *
 * A login_user or login_with_personal_access_token frame whose payload
 * starts with a non-zero byte logs the connection in, logout_user logs it
 * out, as the dispatcher would, so the limits change mid-stream.
 *
 * The frames handed out, their order and contents, where the stream turns
 * impossible and with which status, and the bytes left over must be those
 * of a plain one-pass reading of the whole stream, whatever the chunking.
 * Payloads are scribbled over once handed out (the dispatcher may modify
 * them).  vb_frames_missing must be exact; the buffer may grow only with
 * the bytes that arrived, never with what a header announces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/frames.h"
#include "wire/wire.h"
#include "base/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct vb_frame_limits limit_sets[4] = {
	{ 64u * 1024, VB_CONTROL_MAX, 256u * 1024 * 1024 },
	{ 16, 64, 256 },
	{ 0, 1u << 20, 1u << 20 },
	{ 1, 2, 3 },
};

/* What a one-pass reading of the whole stream finds. */
struct model {
	size_t nframes;
	size_t *off; /* of each frame's payload in the stream */
	uint32_t *code;
	size_t *len;
	int bad;
	uint32_t status;
	size_t rest; /* bytes after the last whole frame */
};

static void die(const char *what, size_t at)
{
	fprintf(stderr, "fuzz_frames: %s (frame %zu)\n", what, at);
	abort();
}

static int logs_in(uint32_t code, const uint8_t *p, size_t n, int now)
{
	if ((code == VB_CMD_LOGIN_USER || code == VB_CMD_LOGIN_PAT) && n > 0 &&
	    p[0] != 0)
		return 1;
	if (code == VB_CMD_LOGOUT_USER)
		return 0;
	return now;
}

static uint32_t limit_of(const struct vb_frame_limits *l, int in, uint32_t code)
{
	if (!in)
		return l->preauth;
	return code == VB_CMD_SEND_MESSAGES ? l->send : l->control;
}

static void model_read(struct model *m, const struct vb_frame_limits *l, int in,
		       const uint8_t *s, size_t n)
{
	size_t pos = 0;

	memset(m, 0, sizeof(*m));
	/* every frame is at least 8 bytes */
	m->off = calloc(n / 8 + 1, sizeof(*m->off));
	m->code = calloc(n / 8 + 1, sizeof(*m->code));
	m->len = calloc(n / 8 + 1, sizeof(*m->len));
	if (!m->off || !m->code || !m->len)
		abort();
	while (n - pos >= 8) {
		uint32_t length = vb_ld32(s + pos), code = vb_ld32(s + pos + 4);

		if (length < 4) {
			m->bad = 1;
			m->status = VB_ST_INVALID_COMMAND;
			break;
		}
		if (length - 4 > limit_of(l, in, code)) {
			m->bad = 1;
			m->status = !in && code != VB_CMD_PING &&
						    code != VB_CMD_LOGIN_USER &&
						    code != VB_CMD_LOGIN_PAT &&
						    vb_cmd_name(code) ?
					    VB_ST_UNAUTHENTICATED :
					    VB_ST_INVALID_COMMAND;
			break;
		}
		if ((uint64_t)n - pos < 4 + (uint64_t)length)
			break;
		m->off[m->nframes] = pos + 8;
		m->code[m->nframes] = code;
		m->len[m->nframes] = length - 4;
		m->nframes++;
		in = logs_in(code, s + pos + 8, length - 4, in);
		pos += 4 + (size_t)length;
	}
	m->rest = n - pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vb_frame_limits *l;
	const uint8_t *chunks, *s;
	struct vb_frames r;
	struct model m;
	size_t nchunks, n, fed = 0, seen = 0, ci = 0;
	int in, use_feed, bad = 0;
	uint32_t status = 0;

	if (size < 2 || (size_t)data[1] + 2 > size)
		return 0;
	in = data[0] & 1;
	l = &limit_sets[(data[0] >> 1) & 3];
	use_feed = (data[0] >> 3) & 1;
	nchunks = data[1];
	chunks = data + 2;
	s = data + 2 + nchunks;
	n = size - 2 - nchunks;
	model_read(&m, l, in, s, n);

	vb_frames_init(&r);
	while (fed < n && !bad) {
		size_t k = nchunks ? (size_t)chunks[ci++ % nchunks] + 1 : n;
		size_t miss = vb_frames_missing(&r), got;
		struct vb_frame f;
		int rc;

		if (k > n - fed)
			k = n - fed;
		if (use_feed) {
			vb_frames_feed(&r, s + fed, k);
		} else {
			for (got = 0; got < k;) {
				size_t room;
				uint8_t *p = vb_frames_space(&r, &room);

				if (room < 4096)
					die("less than 4 KiB of room", seen);
				if (room > k - got)
					room = k - got;
				memcpy(p, s + fed + got, room);
				vb_frames_commit(&r, room);
				got += room;
			}
		}
		fed += k;
		if (k < miss && vb_frames_missing(&r) != miss - k)
			die("missing() is not exact", seen);
		while ((rc = vb_frames_next(&r, l, in, &f, &status)) == 1) {
			if (k < miss)
				die("a frame came before the missing bytes did",
				    seen);
			if (seen >= m.nframes)
				die("more frames than in one pass", seen);
			if (f.code != m.code[seen] || f.len != m.len[seen] ||
			    (f.len &&
			     memcmp(f.payload, s + m.off[seen], f.len)))
				die("a frame differs from the one-pass reading",
				    seen);
			in = logs_in(f.code, f.payload, f.len, in);
			/* the dispatcher may write over the payload */
			memset(f.payload, 0xa5, f.len);
			seen++;
		}
		if (rc < 0) {
			bad = 1;
			if (vb_frames_next(&r, l, in, &f, &status) != -1)
				die("an impossible frame became possible",
				    seen);
		} else if (vb_frames_missing(&r) == 0) {
			die("next() wants bytes missing() does not", seen);
		}
		/* what is held is at most the frame at the head */
		if (!bad && vb_frames_pending(&r) >= 8 &&
		    vb_frames_pending(&r) >
			    8 + (size_t)limit_of(l, in,
						 vb_ld32(r.buf.p + r.pos + 4)))
			die("holds more than one frame's worth", seen);
		if (r.buf.cap > 2 * (fed + (4u << 20) + 1) + 64)
			die("the buffer outgrew the bytes that came", seen);
	}
	if (seen != m.nframes)
		die("fewer frames than in one pass", seen);
	if (bad != m.bad || (bad && status != m.status))
		die("the stream turns impossible elsewhere", seen);
	if (!bad && vb_frames_pending(&r) != m.rest)
		die("the bytes left over differ", seen);
	vb_frames_compact(&r);
	vb_frames_release(&r);
	free(m.off);
	free(m.code);
	free(m.len);
	return 0;
}
