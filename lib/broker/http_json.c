/*
 * JSON and base64 for the HTTP API.
 *
 * Replies are written by a small writer rather than by jansson because
 * jansson's integers are signed 64-bit: the API emits u64 values above
 * 2^63 (checksums, u64::MAX for "never expire") and u128 message ids as
 * bare numbers (api.md §0).  Strings go through vb_json_quote, the
 * escaping vibes-poll uses.  Bodies are parsed by jansson, after the one
 * rewrite vb_json_load explains.  Base64 is OpenSSL's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/json.h"
#include "broker/http-int.h"
#include "base/banned.h"

/* ---- the writer ---- */

void vb_jw_init(struct vb_jw *w, struct vb_buf *o)
{
	w->o = o;
	w->depth = 0;
	w->first[0] = 1;
}

static void sep(struct vb_jw *w, const char *k)
{
	if (!w->first[w->depth])
		vb_buf_addch(w->o, ',');
	w->first[w->depth] = 0;
	if (k) {
		vb_json_quote(w->o, k, strlen(k));
		vb_buf_addch(w->o, ':');
	}
}

static void open_(struct vb_jw *w, const char *k, char c)
{
	sep(w, k);
	vb_buf_addch(w->o, c);
	if (w->depth + 1 < (int)sizeof(w->first))
		w->depth++;
	w->first[w->depth] = 1;
}

void vb_jw_obj(struct vb_jw *w, const char *k)
{
	open_(w, k, '{');
}

void vb_jw_arr(struct vb_jw *w, const char *k)
{
	open_(w, k, '[');
}

void vb_jw_end(struct vb_jw *w, char close)
{
	vb_buf_addch(w->o, close);
	if (w->depth > 0)
		w->depth--;
}

void vb_jw_u64(struct vb_jw *w, const char *k, uint64_t v)
{
	sep(w, k);
	vb_buf_printf(w->o, "%" PRIu64, v);
}

void vb_jw_f64(struct vb_jw *w, const char *k, double v)
{
	sep(w, k);
	/* JSON has no NaN or infinity */
	if (v != v || v > 1e300 || v < -1e300)
		v = 0;
	vb_buf_printf(w->o, "%.6g", v);
	/* "%.6g" of a whole number has no point: still a number */
}

void vb_jw_bool(struct vb_jw *w, const char *k, int v)
{
	sep(w, k);
	vb_buf_addstr(w->o, v ? "true" : "false");
}

void vb_jw_null(struct vb_jw *w, const char *k)
{
	sep(w, k);
	vb_buf_addstr(w->o, "null");
}

void vb_jw_str(struct vb_jw *w, const char *k, const char *s, size_t n)
{
	sep(w, k);
	vb_json_quote(w->o, s, n);
}

void vb_jw_cstr(struct vb_jw *w, const char *k, const char *s)
{
	vb_jw_str(w, k, s, strlen(s));
}

void vb_jw_u128(struct vb_jw *w, const char *k, const uint8_t le[16])
{
	unsigned __int128 v = 0;
	char digits[48];
	size_t n = 0;

	for (int i = 15; i >= 0; i--)
		v = v << 8 | le[i];
	do {
		digits[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v && n < sizeof(digits));
	sep(w, k);
	while (n > 0)
		vb_buf_addch(w->o, digits[--n]);
}

void vb_jw_b64(struct vb_jw *w, const char *k, const void *p, size_t n)
{
	sep(w, k);
	vb_buf_addch(w->o, '"');
	vb_b64_enc(w->o, p, n, 0);
	vb_buf_addch(w->o, '"');
}

/*
 * byte-unit 5.2's `{:#}` (api.md §0): the largest unit that divides the
 * value into at most three decimals, binary before decimal.
 */
void vb_byte_size(uint64_t bytes, char *out, size_t outsz)
{
	static const struct {
		const char *name;
		uint64_t size;
	} units[] = {
		{ "EiB", 1ull << 60 }, { "EB", 1000000000000000000ull },
		{ "PiB", 1ull << 50 }, { "PB", 1000000000000000ull },
		{ "TiB", 1ull << 40 }, { "TB", 1000000000000ull },
		{ "GiB", 1ull << 30 }, { "GB", 1000000000ull },
		{ "MiB", 1ull << 20 }, { "MB", 1000000ull },
		{ "KiB", 1ull << 10 }, { "KB", 1000ull },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		unsigned __int128 milli = (unsigned __int128)bytes * 1000;
		uint64_t whole, frac;
		char f[8];
		int fl;

		if (bytes < units[i].size || milli % units[i].size != 0)
			continue;
		milli /= units[i].size;
		whole = (uint64_t)(milli / 1000);
		frac = (uint64_t)(milli % 1000);
		if (frac == 0) {
			snprintf(out, outsz, "%" PRIu64 " %s", whole,
				 units[i].name);
			return;
		}
		fl = snprintf(f, sizeof(f), "%03" PRIu64, frac);
		while (fl > 0 && f[fl - 1] == '0')
			f[--fl] = 0;
		snprintf(out, outsz, "%" PRIu64 ".%s %s", whole, f,
			 units[i].name);
		return;
	}
	snprintf(out, outsz, "%" PRIu64 " B", bytes);
}

void vb_jw_size(struct vb_jw *w, const char *k, uint64_t bytes)
{
	char s[48];

	vb_byte_size(bytes, s, sizeof(s));
	vb_jw_cstr(w, k, s);
}

/* ---- base64 ---- */

void vb_b64_enc(struct vb_buf *o, const void *p, size_t n, int url)
{
	const unsigned char *in = p;

	/* in chunks, so the length always fits EVP_EncodeBlock's int */
	while (n > 0) {
		size_t chunk = n > 3 * 65536 ? 3 * 65536 : n;
		unsigned char *d = vb_buf_reserve(o, 4 * (chunk / 3 + 1) + 1);
		int len = EVP_EncodeBlock(d, in, (int)chunk);

		if (url) {
			for (int i = 0; i < len; i++)
				d[i] = d[i] == '+' ? '-' :
				       d[i] == '/' ? '_' :
						     d[i];
			while (len > 0 && d[len - 1] == '=')
				len--;
		}
		o->len += (size_t)len;
		in += chunk;
		n -= chunk;
	}
	if (o->p)
		o->p[o->len] = 0;
}

static int b64_char(int c, int url)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return url ? c == '-' || c == '_' : c == '+' || c == '/';
}

int vb_b64_dec(struct vb_buf *o, const char *s, size_t n, int url)
{
	size_t pad = 0, full;
	struct vb_buf tmp = VB_BUF_INIT;
	const char *src = s;
	unsigned char *d;
	int len;

	if (url) {
		/* back to the standard alphabet, padded */
		if (n % 4 == 1)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (!b64_char((unsigned char)s[i], 1))
				return -1;
			vb_buf_addch(&tmp, s[i] == '-' ? '+' :
					   s[i] == '_' ? '/' :
							 s[i]);
		}
		while (tmp.len % 4)
			vb_buf_addch(&tmp, '=');
		src = (const char *)tmp.p;
		n = tmp.len;
	}
	if (n % 4 != 0) {
		vb_buf_release(&tmp);
		return -1;
	}
	while (pad < 2 && pad < n && src[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++) {
		if (!b64_char((unsigned char)src[i], 0)) {
			vb_buf_release(&tmp);
			return -1;
		}
	}
	full = n / 4 * 3;
	if (n > (size_t)INT32_MAX) {
		vb_buf_release(&tmp);
		return -1;
	}
	d = vb_buf_reserve(o, full + 1);
	len = n ? EVP_DecodeBlock(d, (const unsigned char *)src, (int)n) : 0;
	vb_buf_release(&tmp);
	if (len < 0 || (size_t)len < pad)
		return -1;
	o->len += (size_t)len - pad;
	o->p[o->len] = 0;
	return 0;
}

/* ---- JSON in ---- */

/*
 * The body with every integer literal above INT64_MAX (outside strings)
 * quoted, so jansson reads it as a string of digits instead of failing.
 */
static char *quote_bigints(const char *p, size_t n, size_t *outn)
{
	struct vb_buf o = VB_BUF_INIT;
	size_t i = 0;

	while (i < n) {
		char ch = p[i];

		if (ch == '"') {
			size_t j = i + 1;

			while (j < n && p[j] != '"')
				j += p[j] == '\\' ? 2 : 1;
			j = j < n ? j + 1 : n;
			vb_buf_add(&o, p + i, j - i);
			i = j;
		} else if (ch >= '0' && ch <= '9' &&
			   (i == 0 || !(p[i - 1] == '-' || p[i - 1] == '.' ||
					(p[i - 1] >= '0' && p[i - 1] <= '9') ||
					p[i - 1] == 'e' || p[i - 1] == 'E' ||
					p[i - 1] == '+'))) {
			size_t j = i;
			int plain;

			while (j < n && p[j] >= '0' && p[j] <= '9')
				j++;
			plain = j == n ||
				!(p[j] == '.' || p[j] == 'e' || p[j] == 'E');
			if (plain &&
			    (j - i > 19 ||
			     (j - i == 19 &&
			      memcmp(p + i, "9223372036854775807", 19) > 0))) {
				vb_buf_addch(&o, '"');
				vb_buf_add(&o, p + i, j - i);
				vb_buf_addch(&o, '"');
			} else {
				vb_buf_add(&o, p + i, j - i);
			}
			i = j;
		} else {
			vb_buf_addch(&o, ch);
			i++;
		}
	}
	vb_buf_addch(&o, 0);
	*outn = o.len - 1;
	return (char *)o.p;
}

json_t *vb_json_load(const char *p, size_t n, char *err, size_t errsz)
{
	json_error_t je;
	size_t qn;
	char *q = quote_bigints(p, n, &qn);
	json_t *j = json_loadb(q, qn, JSON_REJECT_DUPLICATES, &je);

	free(q);
	if (j == NULL)
		snprintf(err, errsz, "%s at line %d column %d", je.text,
			 je.line, je.column);
	return j;
}

static int digits_u64(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	if (x > max)
		return -1;
	*v = x;
	return 0;
}

int vb_json_opt_u64(const json_t *o, const char *k, uint64_t max, uint64_t *v)
{
	json_t *m = json_object_get(o, k);

	if (m == NULL || json_is_null(m))
		return 0;
	if (json_is_integer(m)) {
		json_int_t i = json_integer_value(m);

		if (i < 0 || (uint64_t)i > max)
			return -1;
		*v = (uint64_t)i;
		return 1;
	}
	/* only what quote_bigints made: a string of digits above 2^63 */
	if (json_is_string(m) && json_string_length(m) >= 19 &&
	    digits_u64(json_string_value(m), json_string_length(m), max, v) ==
		    0 &&
	    *v > (uint64_t)INT64_MAX)
		return 1;
	return -1;
}

int vb_json_u64(const json_t *o, const char *k, uint64_t max, uint64_t *v)
{
	return vb_json_opt_u64(o, k, max, v) == 1 ? 0 : -1;
}

const char *vb_json_str(const json_t *o, const char *k, size_t *n)
{
	json_t *m = json_object_get(o, k);

	if (m == NULL || !json_is_string(m))
		return NULL;
	if (n)
		*n = json_string_length(m);
	return json_string_value(m);
}
