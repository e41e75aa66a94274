/*
 * clock.h - the two clocks every layer reads.
 *
 * The monotonic clock is for deadlines, timeouts and intervals: it never
 * jumps when the wall clock is set.  The wall clock is for what is stored
 * or shown (message timestamps, creation times, log lines).  Both are in
 * microseconds (ms for the deadline loops that count in ms); a clock that
 * cannot be read is impossible on Linux for these ids, so they cannot fail.
 */
#ifndef VB_CLOCK_H
#define VB_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds and in milliseconds. */
int64_t vb_mono_us(void);
int64_t vb_mono_ms(void);
/* CLOCK_REALTIME in microseconds since the Unix epoch. */
uint64_t vb_wall_us(void);

#endif
