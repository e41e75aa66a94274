/*
 * json.c - one-pass JSON text validator (RFC 8259, strict UTF-8).
 *
 * An explicit stack of container kinds (one bit per level) replaces
 * recursion, so hostile nesting cannot overflow the C stack.  Strings are
 * scanned eight bytes at a time until something other than plain ASCII
 * shows up.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "banned.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Non-zero when some byte of x is below n (n <= 128); may over-report. */
static inline uint64_t has_less(uint64_t x, unsigned n)
{
	return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t has_byte(uint64_t x, unsigned char c)
{
	return has_less(x ^ (ONES * c), 1);
}

/*
 * The byte of x (loaded with memcpy) where the lowest flag of a has_less
 * mask is.  Borrows only spread upwards, so that flag is never a false one.
 */
static inline unsigned first_flag(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(m) / 8;
#else
	(void)m;
	return 0; /* the byte-wise loop below finds it */
#endif
}

static inline int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80),
 * or 0 when it is not valid (RFC 3629 table).
 */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (left < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return len;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex4(const unsigned char *p, unsigned *v)
{
	unsigned r = 0;

	for (int k = 0; k < 4; k++) {
		int h = hexval(p[k]);

		if (h < 0)
			return -1;
		r = r << 4 | (unsigned)h;
	}
	*v = r;
	return 0;
}

struct scan {
	const unsigned char *p;
	size_t n;
	size_t i;
	struct vb_json_scan *s;
};

static int fail(struct scan *sc, size_t at, const char *reason)
{
	sc->s->reason = reason;
	sc->s->err_off = at;
	return -1;
}

/* A byte that cannot start what was expected. */
static int fail_unexpected(struct scan *sc, const char *expected)
{
	size_t i = sc->i;

	if (i >= sc->n)
		return fail(sc, i, "unexpected end of line");
	if (sc->p[i] == 0)
		return fail(sc, i, "NUL byte");
	if (sc->p[i] >= 0x80 && utf8_len(sc->p + i, sc->n - i) == 0)
		return fail(sc, i, "invalid UTF-8");
	return fail(sc, i, expected);
}

static inline void skip_ws(struct scan *sc)
{
	while (sc->i < sc->n && is_ws(sc->p[sc->i]))
		sc->i++;
}

/*
 * Scans a string whose opening quote is at sc->i.  On success sc->i is
 * past the closing quote, *start and *len describe the contents and *escaped
 * says whether a backslash occurred.
 */
static int scan_string(struct scan *sc, size_t *start, size_t *len,
		       int *escaped)
{
	const unsigned char *p = sc->p;
	size_t n = sc->n, i = sc->i + 1;

	*start = i;
	*escaped = 0;
	for (;;) {
		while (i + 8 <= n) {
			uint64_t x, m;

			memcpy(&x, p + i, 8);
			m = (x & HIGHS) | has_less(x, 0x20) | has_byte(x, '"') |
			    has_byte(x, '\\');
			if (m) {
				/* the lowest flag is exact: to that byte */
				i += first_flag(m);
				break;
			}
			i += 8;
		}
		if (i >= n)
			return fail(sc, n, "unexpected end of line");
		unsigned char c = p[i];

		if (c == '"') {
			*len = i - *start;
			sc->i = i + 1;
			return 0;
		}
		if (c == '\\') {
			*escaped = 1;
			if (i + 1 >= n)
				return fail(sc, n, "unexpected end of line");
			c = p[i + 1];
			switch (c) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				i += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(sc, i, "invalid escape");
			}
			unsigned u, u2;

			if (i + 6 > n)
				return fail(sc, n, "unexpected end of line");
			if (hex4(p + i + 2, &u))
				return fail(sc, i, "invalid \\u escape");
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(sc, i, "unpaired surrogate escape");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (i + 12 > n || p[i + 6] != '\\' ||
				    p[i + 7] != 'u' || hex4(p + i + 8, &u2) ||
				    u2 < 0xdc00 || u2 > 0xdfff)
					return fail(sc, i,
						    "unpaired surrogate escape");
				i += 12;
			} else
				i += 6;
			continue;
		}
		if (c < 0x20)
			return fail(sc, i,
				    c == 0 ? "NUL byte" :
					     "control character in string");
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t l = utf8_len(p + i, n - i);

		if (l == 0)
			return fail(sc, i, "invalid UTF-8");
		i += l;
	}
}

static int scan_number(struct scan *sc)
{
	const unsigned char *p = sc->p;
	size_t n = sc->n, i = sc->i, d;

	if (i < n && p[i] == '-')
		i++;
	if (i >= n || p[i] < '0' || p[i] > '9')
		return fail(sc, i < n ? i : n,
			    i < n ? "invalid number" :
				    "unexpected end of line");
	if (p[i] == '0') {
		i++;
		if (i < n && p[i] >= '0' && p[i] <= '9')
			return fail(sc, i, "invalid number (leading zero)");
	} else
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
	if (i < n && p[i] == '.') {
		d = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return fail(sc, i,
				    i < n ? "invalid number" :
					    "unexpected end of line");
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		d = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == d)
			return fail(sc, i,
				    i < n ? "invalid number" :
					    "unexpected end of line");
	}
	sc->i = i;
	return 0;
}

static int scan_literal(struct scan *sc, const char *word, size_t len)
{
	size_t left = sc->n - sc->i;

	for (size_t k = 0; k < len; k++) {
		if (k >= left)
			return fail(sc, sc->n, "unexpected end of line");
		if (sc->p[sc->i + k] != (unsigned char)word[k])
			return fail(sc, sc->i + k, "invalid literal");
	}
	sc->i += len;
	return 0;
}

int vb_json_scan(struct vb_json_scan *s, const char *text, size_t n)
{
	struct scan sc = { (const unsigned char *)text, n, 0, s };
	uint8_t stack[VB_JSON_MAX_DEPTH / 8]; /* bit set: object */
	unsigned depth = 0;
	int want = 0; /* the value about to be scanned is the field */
	size_t vstart, vlen;
	int esc;

	s->blank = 0;
	s->type = VB_JSON_NONE;
	s->reason = NULL;
	s->err_off = 0;
	s->field_type = VB_JSON_NONE;
	s->val = NULL;
	s->val_len = 0;
	s->val_escaped = 0;

	skip_ws(&sc);
	if (sc.i == n) {
		s->blank = 1;
		return 0;
	}

value:
	if (sc.i >= n)
		return fail(&sc, n, "unexpected end of line");
	{
		unsigned char c = sc.p[sc.i];
		enum vb_json_type t;
		size_t at = sc.i;

		switch (c) {
		case '{':
		case '[':
			t = c == '{' ? VB_JSON_OBJECT : VB_JSON_ARRAY;
			if (depth == 0)
				s->type = t;
			if (want) {
				s->field_type = t;
				s->val = NULL;
				s->val_len = 0;
				want = 0;
			}
			if (depth >= VB_JSON_MAX_DEPTH)
				return fail(&sc, at, "nesting too deep");
			if (c == '{')
				stack[depth / 8] |= (uint8_t)(1u << depth % 8);
			else
				stack[depth / 8] &= (uint8_t) ~(1u
								<< depth % 8);
			depth++;
			sc.i++;
			skip_ws(&sc);
			if (c == '{') {
				if (sc.i < n && sc.p[sc.i] == '}') {
					sc.i++;
					depth--;
					goto after;
				}
				goto key;
			}
			if (sc.i < n && sc.p[sc.i] == ']') {
				sc.i++;
				depth--;
				goto after;
			}
			goto value;
		case '"':
			if (scan_string(&sc, &vstart, &vlen, &esc))
				return -1;
			t = VB_JSON_STRING;
			break;
		case 't':
			if (scan_literal(&sc, "true", 4))
				return -1;
			t = VB_JSON_TRUE;
			break;
		case 'f':
			if (scan_literal(&sc, "false", 5))
				return -1;
			t = VB_JSON_FALSE;
			break;
		case 'n':
			if (scan_literal(&sc, "null", 4))
				return -1;
			t = VB_JSON_NULL;
			break;
		default:
			if (c == '-' || (c >= '0' && c <= '9')) {
				if (scan_number(&sc))
					return -1;
				t = VB_JSON_NUMBER;
				vstart = at;
				vlen = sc.i - at;
				esc = 0;
				break;
			}
			return fail_unexpected(&sc, "expected a JSON value");
		}
		if (depth == 0)
			s->type = t;
		if (want) {
			s->field_type = t;
			if (t == VB_JSON_STRING || t == VB_JSON_NUMBER) {
				s->val = text + vstart;
				s->val_len = vlen;
				s->val_escaped = esc;
			} else {
				s->val = NULL;
				s->val_len = 0;
				s->val_escaped = 0;
			}
			want = 0;
		}
	}

after:
	skip_ws(&sc);
	if (depth == 0) {
		if (sc.i < n)
			return fail_unexpected(
				&sc, "trailing data after the JSON value");
		return 0;
	}
	if (sc.i >= n)
		return fail(&sc, n, "unexpected end of line");
	if (stack[(depth - 1) / 8] & (1u << (depth - 1) % 8)) {
		if (sc.p[sc.i] == '}') {
			sc.i++;
			depth--;
			goto after;
		}
		if (sc.p[sc.i] != ',')
			return fail_unexpected(&sc, "expected ',' or '}'");
		sc.i++;
		skip_ws(&sc);
		goto key;
	}
	if (sc.p[sc.i] == ']') {
		sc.i++;
		depth--;
		goto after;
	}
	if (sc.p[sc.i] != ',')
		return fail_unexpected(&sc, "expected ',' or ']'");
	sc.i++;
	skip_ws(&sc);
	goto value;

key:
	if (sc.i >= n || sc.p[sc.i] != '"')
		return fail_unexpected(&sc, "expected a string key");
	if (scan_string(&sc, &vstart, &vlen, &esc))
		return -1;
	if (depth == 1 && s->field != NULL) {
		if (!esc)
			want = vlen == s->field_len &&
			       memcmp(text + vstart, s->field, vlen) == 0;
		else if (vlen >= s->field_len) {
			char tmp[256];

			/* An escaped key decodes to at most vlen bytes. */
			want = 0;
			if (vlen <= sizeof(tmp)) {
				size_t k = vb_json_unescape(text + vstart, vlen,
							    tmp);
				want = k == s->field_len &&
				       memcmp(tmp, s->field, k) == 0;
			}
		}
	}
	skip_ws(&sc);
	if (sc.i >= n || sc.p[sc.i] != ':')
		return fail_unexpected(&sc, "expected ':'");
	sc.i++;
	skip_ws(&sc);
	goto value;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t vb_json_unescape(const char *text, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, o = 0;
	unsigned u, u2;

	while (i < n) {
		if (p[i] != '\\') {
			out[o++] = (char)p[i++];
			continue;
		}
		if (i + 1 >= n)
			break;
		switch (p[i + 1]) {
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u':
			if (i + 6 > n || hex4(p + i + 2, &u))
				return o;
			if (u >= 0xd800 && u <= 0xdbff && i + 12 <= n &&
			    hex4(p + i + 8, &u2) == 0) {
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (u2 - 0xdc00);
				i += 6;
			}
			o += put_utf8(out + o, u);
			i += 6;
			continue;
		default:
			out[o++] = (char)p[i + 1];
			break;
		}
		i += 2;
	}
	return o;
}

void vb_json_quote(struct vb_buf *b, const char *text, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, run;
	uint8_t *o;

	/* Worst case: every byte becomes \u00XX (6) or U+FFFD (3). */
	o = vb_buf_reserve(b, 6 * n + 2);
	*o++ = '"';
	while (i < n) {
		run = i;
		while (i + 8 <= n) {
			uint64_t x;

			memcpy(&x, p + i, 8);
			if ((x & HIGHS) | has_less(x, 0x20) | has_byte(x, '"') |
			    has_byte(x, '\\'))
				break;
			i += 8;
		}
		while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
		       p[i] != '\\')
			i++;
		memcpy(o, p + run, i - run);
		o += i - run;
		if (i >= n)
			break;
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = c;
			i++;
		} else if (c < 0x20) {
			*o++ = '\\';
			switch (c) {
			case '\b':
				*o++ = 'b';
				break;
			case '\f':
				*o++ = 'f';
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\t':
				*o++ = 't';
				break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
			i++;
		} else if (c >= 0x80) {
			size_t l = utf8_len(p + i, n - i);

			if (l == 0) {
				*o++ = (uint8_t)0xef;
				*o++ = (uint8_t)0xbf;
				*o++ = (uint8_t)0xbd;
				i++;
			} else {
				memcpy(o, p + i, l);
				o += l;
				i += l;
			}
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	b->p[b->len] = 0;
}

int vb_json_check_line(const char *p, size_t n, unsigned long long line,
		       struct vb_err *e)
{
	struct vb_json_scan s = { 0 };

	if (vb_json_scan(&s, p, n))
		return vb_err_set(e, VB_E_DATA, "line %llu: %s at byte %zu",
				  line, s.reason, s.err_off + 1);
	if (s.blank)
		return vb_err_set(e, VB_E_DATA, "line %llu: empty line", line);
	return 0;
}
