/*
 * XXH3-64 built for AVX2, called by vb_xxh3 (msg.c) when the CPU has it.
 * Not libxxhash's run-time dispatch: that takes AVX-512 where there is
 * some, and a core that powers its 512-bit units up again after each
 * pause (a poll's send between two records) hashes slower than with AVX2.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2")
#define VB_XXH3_AVX2 1
#endif

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "wire/wire.h"
#include "base/banned.h"

uint64_t vb_xxh3_avx2(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}
