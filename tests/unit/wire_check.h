/*
 * wire_check.h - what the codec tests (test_wire.c for 0.8, test_wire09.c
 * for 0.9) check with: CHECK macros that name the case in ctx, test
 * vectors as spaced hex, byte comparisons that dump both sides, and
 * exact-size heap copies for decoders (ASan sees any over-read).
 * Header-only; include it once, after cmocka.h.
 */
#ifndef VB_TEST_WIRE_CHECK_H
#define VB_TEST_WIRE_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* What is being checked, for failure messages. */
static const char *ctx = "";

#define CHECK(c)                                                         \
	do {                                                             \
		if (!(c))                                                \
			fail_msg("%s: %s (line %d)", ctx, #c, __LINE__); \
	} while (0)

#define CHECK_U(a, b)                                                                    \
	do {                                                                             \
		unsigned long long a_ = (a), b_ = (b);                                   \
		if (a_ != b_)                                                            \
			fail_msg("%s: %s = %llu (0x%llx), want %llu (0x%llx) (line %d)", \
				 ctx, #a, a_, a_, b_, b_, __LINE__);                     \
	} while (0)

/* rc must be 0; prints the codec's message otherwise. */
#define CHECK_OK(rc, e)                                                    \
	do {                                                               \
		if ((rc) != 0)                                             \
			fail_msg("%s: %s failed: status %u: %s (line %d)", \
				 ctx, #rc, (e).status, (e).msg, __LINE__); \
	} while (0)

static inline int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	fail_msg("bad hex digit '%c' in a test vector", c);
	return 0;
}

/* Replaces b's content with the bytes of a spaced hex string. */
static inline void unhex(struct vb_buf *b, const char *s)
{
	vb_buf_reset(b);
	while (*s) {
		if (*s == ' ' || *s == '\n') {
			s++;
			continue;
		}
		if (!s[1])
			fail_msg("odd hex string in a test vector");
		vb_buf_addch(b, nibble(s[0]) << 4 | nibble(s[1]));
		s += 2;
	}
}

static inline void dump(const char *what, const uint8_t *p, size_t n)
{
	print_error("%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		print_error("%s%02x", i % 16 ? " " : "\n  ", p[i]);
	print_error("\n");
}

static inline void check_mem(const uint8_t *got, size_t glen,
			     const uint8_t *want, size_t wlen, int line)
{
	if (glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0))
		return;
	dump("got", got, glen);
	dump("want", want, wlen);
	for (size_t i = 0; i < glen && i < wlen; i++) {
		if (got[i] != want[i]) {
			print_error("first difference at byte %zu\n", i);
			break;
		}
	}
	fail_msg("%s: bytes differ (line %d)", ctx, line);
}

#define CHECK_MEM(g, gl, w, wl) check_mem((g), (gl), (w), (wl), __LINE__)
#define CHECK_BUF(b, w) check_mem((b)->p, (b)->len, (w)->p, (w)->len, __LINE__)

static inline void check_hex(const struct vb_buf *got, const char *hex,
			     int line)
{
	struct vb_buf want = VB_BUF_INIT;

	unhex(&want, hex);
	check_mem(got->p, got->len, want.p, want.len, line);
	vb_buf_release(&want);
}

#define CHECK_HEX(b, hex) check_hex((b), (hex), __LINE__)

/* An exact-size heap copy (ASan then sees any read past n). */
static inline uint8_t *dup_n(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		if (strcmp((a), (b)) != 0)                                 \
			fail_msg("%s: %s = \"%s\", want \"%s\" (line %d)", \
				 ctx, #a, (a), (b), __LINE__);             \
	} while (0)

#endif
