/*
 * parse.h - numbers, durations, byte sizes, timestamps and addresses from
 * the command line.
 *
 * Every function takes the whole string (no trailing garbage, no leading
 * blanks or signs unless the syntax has one), returns 0 or -1 and on
 * failure fills e (VB_E_USAGE) with a message naming the value, e.g.
 * "invalid duration '5x': unknown unit 'x'".  The caller prefixes the
 * option name.
 */
#ifndef VB_PARSE_H
#define VB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Decimal integer in [min, max]. */
int vb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v,
		 struct vb_err *e);
int vb_parse_i64(const char *s, int64_t min, int64_t max, int64_t *v,
		 struct vb_err *e);

/*
 * Duration: a decimal number (fraction allowed) followed by a unit us,
 * ms, s, m or h; a bare number means seconds.  "10ms", "2s", "0.5",
 * "1m30s" is NOT accepted (one unit only).  Result in microseconds, must
 * not exceed max_us.
 */
int vb_parse_duration(const char *s, uint64_t max_us, uint64_t *us,
		      struct vb_err *e);
/* Formats a duration the way vb_parse_duration reads it ("60s", "250ms"). */
const char *vb_fmt_duration(uint64_t us, char *buf, size_t size);

/*
 * Byte size: a decimal integer with an optional binary suffix k/K/KiB,
 * M/MiB, G/GiB (powers of 1024) or B.  Result in [min, max].
 */
int vb_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v,
		  struct vb_err *e);

/*
 * Timestamp (without the leading '@' of the command-line syntax):
 * RFC 3339 "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456+02:00"
 * (a space or 't' may replace 'T', 'z' 'Z'), a date "2024-05-01"
 * (midnight UTC), or an integer of microseconds since the Unix epoch.
 * Result in microseconds since the epoch (UTC).
 */
int vb_parse_timestamp(const char *s, uint64_t *us, struct vb_err *e);

/* Formats microseconds since the epoch as RFC 3339 UTC with 6 decimals. */
void vb_fmt_timestamp(uint64_t us, char *buf, size_t size);

/*
 * Address: "host:port", "host", ":port", "[v6]:port" or "[v6]"; without
 * brackets the host ends at the last ':'.  Copies the host (brackets
 * dropped, "" when absent) into host.  When a port is given, stores it
 * in *port (0..65535: 0 asks the kernel for one, so a caller that
 * connects rejects it) and sets *has_port to 1; otherwise *port is left
 * alone and *has_port is 0.  The caller decides whether a host or a port
 * is required.  The messages name the address and the bad part:
 * "address 'h:x': port 'x' is invalid" (strtonum's "too large", "too
 * small", "invalid"), "address '[::1': missing ']'", "address '[::1]x':
 * junk after ']'", "address '...': host too long" (hostsz bytes with the
 * NUL), "address is empty".
 */
int vb_addr_split(const char *s, char *host, size_t hostsz, uint16_t *port,
		  int *has_port, struct vb_err *e);

#endif
