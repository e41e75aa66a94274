/* Primitive encodings: names, identifiers, bounded readers (control.md §4). */
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

int vb_name_set(struct vb_name *n, const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > VB_NAME_MAX) {
		n->len = 0;
		n->s[0] = 0;
		return -1;
	}
	memcpy(n->s, s, len + 1);
	n->len = (uint8_t)len;
	return 0;
}

void vb_ident_num(struct vb_ident *id, uint32_t num)
{
	memset(id, 0, sizeof(*id));
	id->kind = VB_ID_NUM;
	id->num = num;
}

int vb_ident_str(struct vb_ident *id, const char *s)
{
	memset(id, 0, sizeof(*id));
	id->kind = VB_ID_STR;
	return vb_name_set(&id->name, s);
}

const char *vb_ident_fmt(const struct vb_ident *id, char *buf, size_t size)
{
	if (id->kind == VB_ID_NUM)
		snprintf(buf, size, "%u", id->num);
	else
		snprintf(buf, size, "\"%s\"", id->name.s);
	return buf;
}

static int truncated(struct vb_err *e, const char *field)
{
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "%s: truncated", field);
}

int vb_rd_bytes(struct vb_rd *r, const uint8_t **p, size_t n, const char *field,
		struct vb_err *e)
{
	if (vb_rd_left(r) < n)
		return truncated(e, field);
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

int vb_rd_u8(struct vb_rd *r, uint8_t *v, const char *field, struct vb_err *e)
{
	if (vb_rd_left(r) < 1)
		return truncated(e, field);
	*v = r->p[r->off++];
	return 0;
}

int vb_rd_u16(struct vb_rd *r, uint16_t *v, const char *field, struct vb_err *e)
{
	if (vb_rd_left(r) < 2)
		return truncated(e, field);
	*v = vb_ld16(r->p + r->off);
	r->off += 2;
	return 0;
}

int vb_rd_u32(struct vb_rd *r, uint32_t *v, const char *field, struct vb_err *e)
{
	if (vb_rd_left(r) < 4)
		return truncated(e, field);
	*v = vb_ld32(r->p + r->off);
	r->off += 4;
	return 0;
}

int vb_rd_u64(struct vb_rd *r, uint64_t *v, const char *field, struct vb_err *e)
{
	if (vb_rd_left(r) < 8)
		return truncated(e, field);
	*v = vb_ld64(r->p + r->off);
	r->off += 8;
	return 0;
}

/*
 * UTF-8 validity (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
 * Upstream decodes names with from_utf8 and answers 3 on failure.
 */
int vb_wire_utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Reads `len` bytes of UTF-8 text into a vb_name (len <= 255). */
static int rd_text(struct vb_rd *r, struct vb_name *n, size_t len,
		   const char *field, struct vb_err *e)
{
	const uint8_t *p;

	if (vb_rd_bytes(r, &p, len, field, e))
		return -1;
	if (!vb_wire_utf8_ok(p, len))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "%s: invalid UTF-8", field);
	memcpy(n->s, p, len);
	n->s[len] = 0;
	n->len = (uint8_t)len;
	return 0;
}

int vb_wire_dec_name(struct vb_rd *r, struct vb_name *n, const char *field,
		     struct vb_err *e)
{
	uint8_t len;

	if (vb_rd_u8(r, &len, field, e))
		return -1;
	if (len == 0)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "%s: empty name", field);
	return rd_text(r, n, len, field, e);
}

/* A u8-length string that may be empty (passwords). */
int vb_rd_str8(struct vb_rd *r, struct vb_name *n, const char *field,
	       struct vb_err *e);
int vb_rd_str8(struct vb_rd *r, struct vb_name *n, const char *field,
	       struct vb_err *e)
{
	uint8_t len;

	if (vb_rd_u8(r, &len, field, e))
		return -1;
	return rd_text(r, n, len, field, e);
}

void vb_wire_enc_name(struct vb_buf *b, const struct vb_name *n)
{
	vb_buf_u8(b, n->len);
	vb_buf_add(b, n->s, n->len);
}

int vb_rd_ident(struct vb_rd *r, struct vb_ident *id, const char *field,
		struct vb_err *e)
{
	uint8_t kind, len;

	memset(id, 0, sizeof(*id));
	if (vb_rd_u8(r, &kind, field, e) || vb_rd_u8(r, &len, field, e))
		return -1;
	id->kind = kind;
	if (kind == VB_ID_NUM) {
		if (len != 4)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_FORMAT,
					     "%s: numeric identifier of length %u",
					     field, len);
		return vb_rd_u32(r, &id->num, field, e);
	}
	if (kind == VB_ID_STR) {
		if (len == 0)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_INVALID_FORMAT,
					     "%s: empty string identifier",
					     field);
		return rd_text(r, &id->name, len, field, e);
	}
	return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			     "%s: identifier kind %u", field, kind);
}

void vb_wire_enc_ident(struct vb_buf *b, const struct vb_ident *id)
{
	if (id->kind == VB_ID_NUM) {
		vb_buf_u8(b, VB_ID_NUM);
		vb_buf_u8(b, 4);
		vb_buf_u32(b, id->num);
	} else {
		vb_buf_u8(b, VB_ID_STR);
		vb_wire_enc_name(b, &id->name);
	}
}
