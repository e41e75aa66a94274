/*
 * parse.c - command-line values: integers, durations, sizes, timestamps,
 * addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "banned.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads decimal digits; returns the count, -1 on overflow of UINT64. */
static int digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	uint64_t r = 0;
	int n = 0;

	while (is_digit(*s)) {
		unsigned d = (unsigned)(*s - '0');

		if (r > (UINT64_MAX - d) / 10)
			return -1;
		r = r * 10 + d;
		s++;
		n++;
	}
	*sp = s;
	*v = r;
	return n;
}

int vb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v,
		 struct vb_err *e)
{
	const char *p = s;
	uint64_t r;
	int n = digits(&p, &r);

	if (n < 0)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': too large", s);
	if (n == 0 || *p)
		return vb_err_set(e, VB_E_USAGE, "invalid number '%s'", s);
	if (r < min)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': smaller than %llu", s,
				  (unsigned long long)min);
	if (r > max)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': larger than %llu", s,
				  (unsigned long long)max);
	*v = r;
	return 0;
}

int vb_parse_i64(const char *s, int64_t min, int64_t max, int64_t *v,
		 struct vb_err *e)
{
	const char *p = s;
	int neg = 0, n;
	uint64_t r;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	n = digits(&p, &r);
	if (n == 0 || *p)
		return vb_err_set(e, VB_E_USAGE, "invalid number '%s'", s);
	if (n < 0 || r > (uint64_t)INT64_MAX + (uint64_t)neg)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': too large", s);
	int64_t x = neg ? (int64_t)(0 - r) : (int64_t)r;

	if (x < min)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': smaller than %lld", s,
				  (long long)min);
	if (x > max)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid number '%s': larger than %lld", s,
				  (long long)max);
	*v = x;
	return 0;
}

int vb_parse_duration(const char *s, uint64_t max_us, uint64_t *us,
		      struct vb_err *e)
{
	const char *p = s;
	uint64_t whole, frac = 0, fscale = 1, unit;
	int n = digits(&p, &whole);

	if (n < 0)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid duration '%s': too large", s);
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return vb_err_set(e, VB_E_USAGE,
					  "invalid duration '%s'", s);
		while (is_digit(*p)) {
			if (fscale < 1000000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fscale *= 10;
			}
			p++;
		}
	} else if (n == 0)
		return vb_err_set(e, VB_E_USAGE, "invalid duration '%s'", s);
	if (*p == 0 || strcmp(p, "s") == 0)
		unit = 1000000;
	else if (strcmp(p, "ms") == 0)
		unit = 1000;
	else if (strcmp(p, "us") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
		unit = 60000000ull;
	else if (strcmp(p, "h") == 0)
		unit = 3600000000ull;
	else
		return vb_err_set(
			e, VB_E_USAGE,
			"invalid duration '%s': unknown unit '%s' (use us, ms, s, m or h)",
			s, p);
	if (whole > max_us / unit)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid duration '%s': too long", s);
	uint64_t r = whole * unit +
		     (uint64_t)((double)frac / (double)fscale * (double)unit);

	if (r > max_us)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid duration '%s': too long", s);
	*us = r;
	return 0;
}

int vb_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v,
		  struct vb_err *e)
{
	const char *p = s;
	uint64_t r, mul;
	int n = digits(&p, &r);

	if (n <= 0)
		return vb_err_set(e, VB_E_USAGE, "invalid size '%s'", s);
	if (*p == 0 || strcmp(p, "B") == 0)
		mul = 1;
	else if (strcmp(p, "k") == 0 || strcmp(p, "K") == 0 ||
		 strcmp(p, "KiB") == 0)
		mul = 1024;
	else if (strcmp(p, "M") == 0 || strcmp(p, "MiB") == 0)
		mul = 1024 * 1024;
	else if (strcmp(p, "G") == 0 || strcmp(p, "GiB") == 0)
		mul = 1024ull * 1024 * 1024;
	else
		return vb_err_set(
			e, VB_E_USAGE,
			"invalid size '%s': unknown suffix '%s' (use K, M or G)",
			s, p);
	if (r > UINT64_MAX / mul || r * mul > max)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid size '%s': larger than %llu bytes",
				  s, (unsigned long long)max);
	if (r * mul < min)
		return vb_err_set(e, VB_E_USAGE,
				  "invalid size '%s': smaller than %llu bytes",
				  s, (unsigned long long)min);
	*v = r * mul;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static int fixed(const char **sp, int width, unsigned *v)
{
	unsigned r = 0;

	for (int k = 0; k < width; k++) {
		if (!is_digit((*sp)[k]))
			return -1;
		r = r * 10 + (unsigned)((*sp)[k] - '0');
	}
	*sp += width;
	*v = r;
	return 0;
}

static int bad_ts(const char *s, const char *why, struct vb_err *e)
{
	return vb_err_set(e, VB_E_USAGE, "invalid timestamp '%s': %s", s, why);
}

int vb_parse_timestamp(const char *s, uint64_t *us, struct vb_err *e)
{
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
	uint64_t frac = 0;
	int64_t off = 0, days, t;
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30,
					  31, 31, 30, 31, 30, 31 };

	size_t digits = strspn(p, "0123456789");

	if (digits > 0 && digits != 4) {
		/* a number since the epoch, with its unit */
		static const struct {
			const char *unit;
			uint64_t us;
		} units[] = { { "s", 1000000 }, { "ms", 1000 }, { "us", 1 } };
		uint64_t v;

		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (strcmp(p + digits, units[i].unit) != 0)
				continue;
			if (digits > 19)
				return bad_ts(s, "too large", e);
			{
				char num[20];

				memcpy(num, p, digits);
				num[digits] = 0;
				if (vb_parse_u64(num, 0, UINT64_MAX / 2, &v,
						 e) ||
				    v > UINT64_MAX / 2 / units[i].us)
					return bad_ts(s, "too large", e);
			}
			*us = v * units[i].us;
			return 0;
		}
		if (p[digits] == 0)
			return bad_ts(
				s,
				"a bare number has no unit: write it with s, ms or us (1733050000s), or as RFC 3339 (2024-05-01T12:00:00Z)",
				e);
		return bad_ts(
			s,
			"expected RFC 3339 (2024-05-01T12:00:00Z) or a number since the epoch with s, ms or us (1733050000s)",
			e);
	}
	if (fixed(&p, 4, &y) || *p++ != '-' || fixed(&p, 2, &mo) ||
	    *p++ != '-' || fixed(&p, 2, &d))
		return bad_ts(
			s,
			"expected RFC 3339 (2024-05-01T12:00:00Z) or a number since the epoch with s, ms or us (1733050000s)",
			e);
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 &&
	     !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return bad_ts(s, "no such date", e);
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return bad_ts(s, "expected 'T' after the date", e);
		p++;
		if (fixed(&p, 2, &h) || *p++ != ':' || fixed(&p, 2, &mi) ||
		    *p++ != ':' || fixed(&p, 2, &sec))
			return bad_ts(s, "expected HH:MM:SS after the date", e);
		if (h > 23 || mi > 59 || sec > 60)
			return bad_ts(s, "no such time", e);
		if (sec == 60)
			sec = 59; /* leap second: clamp */
		if (*p == '.') {
			uint64_t scale = 100000;

			p++;
			if (!is_digit(*p))
				return bad_ts(s, "expected digits after '.'",
					      e);
			while (is_digit(*p)) {
				frac += (uint64_t)(*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int neg = *p == '-';

			p++;
			if (fixed(&p, 2, &oh) || *p++ != ':' ||
			    fixed(&p, 2, &om) || oh > 23 || om > 59)
				return bad_ts(s, "bad UTC offset", e);
			off = (int64_t)(oh * 60 + om) * 60;
			if (neg)
				off = -off;
		} else
			return bad_ts(s, "expected 'Z' or a UTC offset", e);
		if (*p)
			return bad_ts(s, "trailing characters", e);
	}
	days = days_from_civil(y, mo, d);
	t = days * 86400 + (int64_t)(h * 3600 + mi * 60 + sec) - off;
	if (t < 0)
		return bad_ts(s, "before 1970", e);
	*us = (uint64_t)t * 1000000 + frac;
	return 0;
}

void vb_fmt_timestamp(uint64_t us, char *buf, size_t size)
{
	uint64_t secs = us / 1000000;
	int64_t z = (int64_t)(secs / 86400) + 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	unsigned sod = (unsigned)(secs % 86400);

	y += m <= 2;
	snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ",
		 (long long)y, m, d, sod / 3600, sod / 60 % 60, sod % 60,
		 (unsigned)(us % 1000000));
}

const char *vb_fmt_duration(uint64_t us, char *buf, size_t size)
{
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = {
		{ "h", 3600000000ull }, { "m", 60000000ull }, { "s", 1000000 },
		{ "ms", 1000 },		{ "us", 1 },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (us >= units[i].us && us % units[i].us == 0) {
			snprintf(buf, size, "%llu%s",
				 (unsigned long long)(us / units[i].us),
				 units[i].unit);
			return buf;
		}
	snprintf(buf, size, "0s");
	return buf;
}

int vb_addr_split(const char *s, char *host, size_t hostsz, uint16_t *port,
		  int *has_port, struct vb_err *e)
{
	const char *h = s, *colon, *errstr;
	long long v = 0;
	size_t hl;

	*has_port = 0;
	if (*s == 0)
		return vb_err_set(e, VB_E_USAGE, "address is empty");
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': missing ']'", s);
		if (end[1] != ':' && end[1] != 0)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': junk after ']'", s);
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl >= hostsz)
		return vb_err_set(e, VB_E_USAGE, "address '%s': host too long",
				  s);
	if (colon) {
		v = strtonum(colon + 1, 0, 65535, &errstr);
		if (errstr)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': port '%s' is %s", s,
					  colon + 1, errstr);
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	if (colon) {
		*port = (uint16_t)v;
		*has_port = 1;
	}
	return 0;
}
