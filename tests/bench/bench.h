/*
 * bench.h - what the benchmark drivers share: their numeric arguments and
 * the clock they time with.  Header-only, like the drivers are one file each.
 */
#ifndef VB_BENCH_H
#define VB_BENCH_H

#include <err.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/parse.h"

/* Argument S as a number in [LO, HI]; exits 2 saying why otherwise. */
static inline uint64_t bench_arg(const char *s, uint64_t lo, uint64_t hi)
{
	struct vb_err e;
	uint64_t v;

	if (vb_parse_u64(s, lo, hi, &v, &e) < 0)
		errx(2, "%s", e.msg);
	return v;
}

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
	return (double)vb_mono_us() / 1e6;
}

#endif
