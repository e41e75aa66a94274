/*
 * The server's request frame reader (lib/broker/frames.c) and the log
 * rate limit of the guard (lib/broker/guard.c), without a socket: frames
 * split anywhere come out whole and in order, lengths are refused by the
 * limits of the moment (tighter before login), missing() is exact.
 * tests/fuzz/fuzz_frames.c does the same over every chunking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "broker/frames.h"
#include "broker/guard.h"
#include "wire/wire.h"

static const struct vb_frame_limits lim = { 16, 64, 256 };

static void frame(struct vb_buf *b, uint32_t code, size_t n)
{
	vb_buf_u32(b, (uint32_t)(4 + n));
	vb_buf_u32(b, code);
	for (size_t i = 0; i < n; i++)
		vb_buf_u8(b, (uint8_t)(code + i));
}

static void test_split_anywhere(void **state)
{
	struct vb_buf s = VB_BUF_INIT;

	frame(&s, VB_CMD_PING, 0);
	frame(&s, VB_CMD_LOGIN_USER, 16);
	frame(&s, VB_CMD_GET_STREAMS, 3);
	for (size_t cut = 1; cut < s.len; cut++) {
		struct vb_frames r;
		struct vb_frame f;
		uint32_t st, codes[3];
		size_t lens[3], n = 0;

		vb_frames_init(&r);
		vb_frames_feed(&r, s.p, cut);
		while (vb_frames_next(&r, &lim, 0, &f, &st) == 1) {
			codes[n] = f.code;
			lens[n++] = f.len;
		}
		assert_true(vb_frames_missing(&r) > 0);
		vb_frames_feed(&r, s.p + cut, s.len - cut);
		while (vb_frames_next(&r, &lim, 0, &f, &st) == 1) {
			assert_true(n < 3);
			codes[n] = f.code;
			lens[n++] = f.len;
		}
		assert_int_equal(n, 3);
		assert_int_equal(codes[0], VB_CMD_PING);
		assert_int_equal(lens[1], 16);
		assert_int_equal(codes[2], VB_CMD_GET_STREAMS);
		assert_int_equal(lens[2], 3);
		assert_int_equal(vb_frames_pending(&r), 0);
		vb_frames_release(&r);
	}
	vb_buf_release(&s);
}

static void test_limits_of_the_moment(void **state)
{
	struct vb_buf s = VB_BUF_INIT;
	struct vb_frames r;
	struct vb_frame f;
	uint32_t st = 0;

	/* 17 bytes before login: a known command wanting one says 40. */
	frame(&s, VB_CMD_GET_STREAMS, 17);
	vb_frames_init(&r);
	vb_frames_feed(&r, s.p, 8);
	assert_int_equal(vb_frames_next(&r, &lim, 0, &f, &st), -1);
	assert_int_equal(st, VB_ST_UNAUTHENTICATED);
	/* and stays impossible */
	assert_int_equal(vb_frames_next(&r, &lim, 0, &f, &st), -1);
	/* Logged in, the same header waits for its body. */
	assert_int_equal(vb_frames_next(&r, &lim, 1, &f, &st), 0);
	assert_int_equal(vb_frames_missing(&r), 17);
	vb_frames_feed(&r, s.p + 8, 16);
	assert_int_equal(vb_frames_missing(&r), 1);
	vb_frames_feed(&r, s.p + 24, 1);
	assert_int_equal(vb_frames_next(&r, &lim, 1, &f, &st), 1);
	assert_int_equal(f.len, 17);
	vb_frames_release(&r);
	/* Over the send limit, or an unknown code: 3; length below 4: 3. */
	vb_buf_reset(&s);
	vb_buf_u32(&s, 4 + 257);
	vb_buf_u32(&s, VB_CMD_SEND_MESSAGES);
	vb_frames_init(&r);
	vb_frames_feed(&r, s.p, s.len);
	assert_int_equal(vb_frames_next(&r, &lim, 1, &f, &st), -1);
	assert_int_equal(st, VB_ST_INVALID_COMMAND);
	vb_frames_release(&r);
	vb_buf_reset(&s);
	vb_buf_u32(&s, 4 + 17);
	vb_buf_u32(&s, 9999);
	vb_frames_init(&r);
	vb_frames_feed(&r, s.p, s.len);
	assert_int_equal(vb_frames_next(&r, &lim, 0, &f, &st), -1);
	assert_int_equal(st, VB_ST_INVALID_COMMAND);
	vb_frames_release(&r);
	vb_buf_reset(&s);
	vb_buf_u32(&s, 3);
	vb_buf_u32(&s, VB_CMD_PING);
	vb_frames_init(&r);
	vb_frames_feed(&r, s.p, s.len);
	assert_int_equal(vb_frames_next(&r, &lim, 1, &f, &st), -1);
	assert_int_equal(st, VB_ST_INVALID_COMMAND);
	vb_frames_release(&r);
	vb_buf_release(&s);
}

static void test_room_not_from_header(void **state)
{
	static const struct vb_frame_limits big = { 1 << 16, 1 << 20,
						    1u << 30 };
	struct vb_frames r;
	struct vb_frame f;
	uint8_t h[8];
	uint32_t st;
	size_t n;

	/* A 1 GiB frame announced: room for 4 MiB of it at a time. */
	vb_st32(h, 1u << 30);
	vb_st32(h + 4, VB_CMD_SEND_MESSAGES);
	vb_frames_init(&r);
	vb_frames_feed(&r, h, sizeof(h));
	assert_int_equal(vb_frames_next(&r, &big, 1, &f, &st), 0);
	(void)vb_frames_space(&r, &n);
	assert_int_equal(n, 4u << 20);
	assert_true(r.buf.cap < (9u << 20));
	vb_frames_release(&r);
}

static void test_ratelog(void **state)
{
	struct vb_ratelog rl = { 0, 0 };
	uint64_t n = 99;

	assert_int_equal(vb_ratelog_event(&rl, 1000, 100, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(vb_ratelog_event(&rl, 1050, 100, &n), 0);
	assert_int_equal(vb_ratelog_event(&rl, 1099, 100, &n), 0);
	assert_int_equal(vb_ratelog_due(&rl, 1099, 100, &n), 0);
	assert_int_equal(vb_ratelog_due(&rl, 1100, 100, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(vb_ratelog_due(&rl, 1300, 100, &n), 0);
	assert_int_equal(vb_ratelog_event(&rl, 1150, 100, &n), 0);
	assert_int_equal(vb_ratelog_event(&rl, 1200, 100, &n), 1);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_anywhere),
		cmocka_unit_test(test_limits_of_the_moment),
		cmocka_unit_test(test_room_not_from_header),
		cmocka_unit_test(test_ratelog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
