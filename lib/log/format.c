/*
 * format.c - how vibes-poll writes an event: the payload as stored, the
 * JSON envelope, or a kcat-like template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "log/log-int.h"
#include "base/banned.h"

void vb_log_put_u64(struct vb_buf *b, uint64_t v)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	uint8_t *d = vb_buf_reserve(b, (size_t)n);

	for (int k = 0; k < n; k++)
		d[k] = (uint8_t)t[n - 1 - k];
	b->len += (size_t)n;
	b->p[b->len] = 0;
}

static void put_lit(struct vb_buf *b, const char *s, size_t n)
{
	uint8_t *d = vb_buf_reserve(b, n);

	memcpy(d, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

#define LIT(b, s) put_lit(b, s, sizeof(s) - 1)

static void put_uuid(struct vb_buf *b, const uint8_t id[16])
{
	static const char hex[] = "0123456789abcdef";
	char uuid[36];
	int k = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			uuid[k++] = '-';
		uuid[k++] = hex[id[i] >> 4];
		uuid[k++] = hex[id[i] & 15];
	}
	put_lit(b, uuid, sizeof(uuid));
}

/* A payload that is one JSON value as itself, else as a JSON string. */
static void put_payload_json(struct vb_buf *b, const struct vb_msg *m)
{
	struct vb_json_scan s = { 0 };
	const char *pl = (const char *)m->payload;

	if (vb_json_scan(&s, pl, m->payload_len) == 0 && !s.blank) {
		/*
		 * Valid JSON can only hold CR/LF as whitespace between
		 * tokens: blanking them keeps the value and the line.
		 */
		size_t at = b->len;

		put_lit(b, pl, m->payload_len);
		for (uint8_t *q = b->p + at; q < b->p + b->len; q++)
			if (*q == '\n' || *q == '\r')
				*q = ' ';
	} else
		vb_json_quote(b, pl, m->payload_len);
}

/* A little-endian integer of n bytes (at most 8), signed or not. */
static void put_int(struct vb_buf *b, const uint8_t *v, uint32_t n, int sign)
{
	uint64_t u = 0;

	for (uint32_t i = 0; i < n; i++)
		u |= (uint64_t)v[i] << (8 * i);
	if (sign && n < 8 && (u >> (8 * n - 1)) & 1)
		u |= ~0ull << (8 * n); /* sign extension */
	if (sign && (int64_t)u < 0) {
		vb_buf_addch(b, '-');
		u = (uint64_t)(-(int64_t)(u + 1)) + 1;
	}
	vb_log_put_u64(b, u);
}

/*
 * A header value as JSON: strings as strings, integers and booleans as
 * numbers, floats as numbers, 128-bit integers and raw bytes as hex
 * strings ("0x...").
 */
static void put_value_json(struct vb_buf *b, uint8_t kind, const uint8_t *v,
			   uint32_t n)
{
	switch (kind) {
	case VB_UHDR_STRING:
		vb_json_quote(b, (const char *)v, n);
		return;
	case VB_UHDR_BOOL:
		vb_buf_addstr(b, v[0] ? "true" : "false");
		return;
	case VB_UHDR_INT8:
	case VB_UHDR_INT16:
	case VB_UHDR_INT32:
	case VB_UHDR_INT64:
		put_int(b, v, n, 1);
		return;
	case VB_UHDR_UINT8:
	case VB_UHDR_UINT16:
	case VB_UHDR_UINT32:
	case VB_UHDR_UINT64:
		put_int(b, v, n, 0);
		return;
	case VB_UHDR_FLOAT32:
	case VB_UHDR_FLOAT64: {
		double d;

		if (kind == VB_UHDR_FLOAT32) {
			float f;

			memcpy(&f, v, 4);
			d = f;
		} else
			memcpy(&d, v, 8);
		if (d != d || d - d != 0) /* NaN, infinities: no JSON */
			vb_buf_addstr(b, "null");
		else
			vb_buf_printf(b, "%.17g", d);
		return;
	}
	}
	vb_buf_addstr(b, "\"0x");
	for (uint32_t i = 0; i < n; i++)
		vb_buf_printf(b, "%02x", v[i]);
	vb_buf_addch(b, '"');
}

/*
 * Walks the user headers of m: the value of the "key" header (a string)
 * into key and klen, and each pair to fn (may be NULL).  Returns -1 when
 * the block breaks the rules (then nothing of it is trusted).
 */
static int walk_headers(const struct vb_msg *m, const uint8_t **key,
			uint32_t *klen,
			void (*fn)(void *arg, const struct vb_uhdr *h),
			void *arg)
{
	struct vb_rd rd;
	struct vb_uhdr h;
	int rc;

	*key = NULL;
	*klen = 0;
	vb_rd_init(&rd, m->uhdr, m->uhdr_len);
	while ((rc = vb_wire_uhdr_next(&rd, &h, NULL)) == 1) {
		if (h.key_kind == VB_UHDR_STRING &&
		    h.key_len == sizeof(VB_LOG_KEY_HEADER) - 1 &&
		    memcmp(h.key, VB_LOG_KEY_HEADER, h.key_len) == 0 &&
		    h.val_kind == VB_UHDR_STRING) {
			*key = h.val;
			*klen = h.val_len;
		}
		if (fn)
			fn(arg, &h);
	}
	return rc;
}

/* Where pairs are written, and how many so far. */
struct pairs {
	struct vb_buf *b;
	int n;
};

static void json_pair(void *arg, const struct vb_uhdr *h)
{
	struct pairs *ps = arg;
	struct vb_buf *b = ps->b;

	if (ps->n++)
		vb_buf_addch(b, ',');
	if (h->key_kind == VB_UHDR_STRING)
		vb_json_quote(b, (const char *)h->key, h->key_len);
	else {
		/* JSON names are strings: a non-string key as its value */
		struct vb_buf k = VB_BUF_INIT;

		put_value_json(&k, h->key_kind, h->key, h->key_len);
		if (k.p[0] == '"')
			vb_buf_add(b, k.p, k.len);
		else
			vb_json_quote(b, (const char *)k.p, k.len);
		vb_buf_release(&k);
	}
	vb_buf_addch(b, ':');
	put_value_json(b, h->val_kind, h->val, h->val_len);
}

void vb_log_format_json(struct vb_buf *b, uint32_t partition,
			const struct vb_msg *m)
{
	struct pairs ps = { b, 0 };
	const uint8_t *key;
	uint32_t klen;

	LIT(b, "{\"partition\":");
	vb_log_put_u64(b, partition);
	LIT(b, ",\"offset\":");
	vb_log_put_u64(b, m->offset);
	LIT(b, ",\"timestamp\":");
	vb_log_put_u64(b, m->timestamp);
	LIT(b, ",\"id\":\"");
	put_uuid(b, m->id);
	LIT(b, "\",\"key\":");
	if (walk_headers(m, &key, &klen, NULL, NULL) < 0) {
		LIT(b, "null,\"headers\":null"); /* a broken block */
	} else {
		if (key)
			vb_json_quote(b, (const char *)key, klen);
		else
			LIT(b, "null");
		LIT(b, ",\"headers\":{");
		walk_headers(m, &key, &klen, json_pair, &ps);
		vb_buf_addch(b, '}');
	}
	LIT(b, ",\"payload\":");
	put_payload_json(b, m);
	LIT(b, "}");
}

/* ---- templates ---- */

enum tok {
	T_TEXT,	     /* text[off, len) */
	T_PAYLOAD,   /* %s */
	T_PARTITION, /* %p */
	T_OFFSET,    /* %o */
	T_KEY,	     /* %k */
	T_TS_MS,     /* %T */
	T_TS_RFC,    /* %t */
	T_HEADERS,   /* %h */
	T_ID,	     /* %i */
};

struct vb_template {
	struct vb_buf text;
	struct piece {
		enum tok tok;
		size_t off, len;
	} * p;
	size_t n, cap;
};

static void add_piece(struct vb_template *t, enum tok tok, size_t off,
		      size_t len)
{
	if (tok == T_TEXT && t->n && t->p[t->n - 1].tok == T_TEXT) {
		t->p[t->n - 1].len += len; /* one run of text */
		return;
	}
	VB_ALLOC_GROW(t->p, t->n + 1, t->cap);
	t->p[t->n++] = (struct piece){ tok, off, len };
}

int vb_template_parse(struct vb_template **out, const char *s, struct vb_err *e)
{
	static const char toks[] = "spokTthi";
	struct vb_template *t = vb_xcalloc(1, sizeof(*t));

	for (const char *c = s; *c; c++) {
		char ch = *c;

		if (*c == '%' || *c == '\\') {
			const char *k;

			if (c[1] == 0) {
				vb_template_free(t);
				return vb_err_set(
					e, VB_E_USAGE,
					"format '%s': a lone '%c' at its end",
					s, *c);
			}
			c++;
			if (c[-1] == '\\') {
				ch = *c == 'n'	? '\n' :
				     *c == 't'	? '\t' :
				     *c == '\\' ? '\\' :
						  0;
				if (ch == 0) {
					vb_template_free(t);
					return vb_err_set(
						e, VB_E_USAGE,
						"format '%s': unknown escape '\\%c' (use \\n, \\t or \\\\)",
						s, *c);
				}
			} else if (*c == '%') {
				ch = '%';
			} else if ((k = strchr(toks, *c)) != NULL && *c) {
				add_piece(t, (enum tok)(T_PAYLOAD + (k - toks)),
					  0, 0);
				continue;
			} else {
				vb_template_free(t);
				return vb_err_set(
					e, VB_E_USAGE,
					"format '%s': unknown token '%%%c' (use %%s %%p %%o %%k %%T %%t %%h %%i %%%%)",
					s, *c);
			}
		}
		add_piece(t, T_TEXT, t->text.len, 1);
		vb_buf_addch(&t->text, ch);
	}
	*out = t;
	return 0;
}

void vb_template_free(struct vb_template *t)
{
	if (t == NULL)
		return;
	vb_buf_release(&t->text);
	free(t->p);
	free(t);
}

static void text_pair(void *arg, const struct vb_uhdr *h)
{
	struct pairs *ps = arg;
	struct vb_buf *b = ps->b;

	if (ps->n++)
		vb_buf_addch(b, ',');
	if (h->key_kind == VB_UHDR_STRING)
		vb_buf_add(b, h->key, h->key_len);
	else
		put_value_json(b, h->key_kind, h->key, h->key_len);
	vb_buf_addch(b, '=');
	if (h->val_kind == VB_UHDR_STRING)
		vb_buf_add(b, h->val, h->val_len);
	else
		put_value_json(b, h->val_kind, h->val, h->val_len);
}

void vb_template_format(struct vb_buf *b, const struct vb_template *t,
			uint32_t partition, const struct vb_msg *m)
{
	const uint8_t *key;
	uint32_t klen;
	char ts[40];

	for (size_t i = 0; i < t->n; i++) {
		const struct piece *pc = &t->p[i];

		switch (pc->tok) {
		case T_TEXT:
			put_lit(b, (const char *)t->text.p + pc->off, pc->len);
			break;
		case T_PAYLOAD:
			put_lit(b, (const char *)m->payload, m->payload_len);
			break;
		case T_PARTITION:
			vb_log_put_u64(b, partition);
			break;
		case T_OFFSET:
			vb_log_put_u64(b, m->offset);
			break;
		case T_KEY:
			if (walk_headers(m, &key, &klen, NULL, NULL) == 0 &&
			    key)
				put_lit(b, (const char *)key, klen);
			break;
		case T_TS_MS:
			vb_log_put_u64(b, m->timestamp / 1000);
			break;
		case T_TS_RFC:
			vb_fmt_timestamp(m->timestamp, ts, sizeof(ts));
			vb_buf_addstr(b, ts);
			break;
		case T_HEADERS: {
			struct pairs ps = { b, 0 };
			size_t mark = b->len;

			if (walk_headers(m, &key, &klen, text_pair, &ps) < 0)
				b->len = mark; /* a broken block: nothing */
			if (b->p)
				b->p[b->len] = 0;
			break;
		}
		case T_ID:
			put_uuid(b, m->id);
			break;
		}
	}
}
