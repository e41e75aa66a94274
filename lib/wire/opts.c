/*
 * opts.c - 0.9 options blocks (iggy-wire-0.9/commands.md §2): the TLV
 * pairs that trail the bodies of create/update stream, topic and user and
 * sit, length-prefixed, in their records.  Which keys exist is a point the
 * final release may change (v09-pins.h, D1); the encoding rules are not.
 */
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

#define OPTS_MAX_BYTES 100000u
#define OPTS_MAX_PAIRS 1024u

struct topt_def {
	const char *key;
	uint8_t kind; /* enum vb_optk */
	uint8_t updatable;
};

static const struct topt_def topts[VB_TOPT_COUNT] = {
#define VB_X_DEF(id, key_, kind_, upd) [VB_TOPT_##id] = { key_, kind_, upd },
	VB_V09_TOPIC_OPTIONS(VB_X_DEF)
#undef VB_X_DEF
};

const char *vb_wire_topt_key(unsigned i)
{
	return i < VB_TOPT_COUNT ? topts[i].key : NULL;
}

void vb_wire_opt_add(struct vb_buf *b, const char *key, uint8_t kind,
		     const void *val, uint32_t len)
{
	size_t kl = strlen(key);

	vb_buf_u8(b, VB_UHDR_STRING);
	vb_buf_u32(b, (uint32_t)kl);
	vb_buf_add(b, key, kl);
	vb_buf_u8(b, kind);
	vb_buf_u32(b, len);
	vb_buf_add(b, val, len);
}

static int bad(struct vb_err *e, uint32_t st, const char *what, unsigned k)
{
	return vb_err_status(e, VB_E_PROTO, st, "options: pair %u: %s", k,
			     what);
}

int vb_wire_opt_next(struct vb_rd *r, struct vb_opt *o, struct vb_err *e)
{
	uint8_t kk;

	if (vb_rd_left(r) == 0)
		return 0;
	if (vb_rd_u8(r, &kk, "option key kind", e) ||
	    vb_rd_u32(r, &o->key_len, "option key length", e))
		return -1;
	if (kk != VB_UHDR_STRING)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "option key kind %u (keys are strings)",
				     kk);
	if (o->key_len < 1 || o->key_len > VB_UHDR_LEN_MAX)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "option key length %u", o->key_len);
	if (vb_rd_bytes(r, &o->key, o->key_len, "option key", e))
		return -1;
	if (!vb_wire_utf8_ok(o->key, o->key_len))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "option key: invalid UTF-8");
	if (vb_rd_u8(r, &o->kind, "option value kind", e) ||
	    vb_rd_u32(r, &o->val_len, "option value length", e))
		return -1;
	if (o->kind == 0)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "option value kind 0");
	if (o->val_len < 1 || o->val_len > VB_UHDR_LEN_MAX)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "option value length %u", o->val_len);
	return vb_rd_bytes(r, &o->val, o->val_len, "option value", e) ? -1 : 1;
}

int vb_wire_opts_check(const uint8_t *p, size_t n, struct vb_err *e)
{
	struct vb_rd r, r2;
	struct vb_opt o, o2;
	unsigned k = 0;
	int rc;

	if (n > OPTS_MAX_BYTES)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_OPTIONS_BLOCK_TOO_LARGE,
				     "options: %zu bytes (at most %u)", n,
				     OPTS_MAX_BYTES);
	vb_rd_init(&r, p, n);
	while ((rc = vb_wire_opt_next(&r, &o, e)) == 1) {
		unsigned j = 0;

		if (++k > OPTS_MAX_PAIRS)
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_OPTIONS_BLOCK_TOO_LARGE,
					     "options: more than %u pairs",
					     OPTS_MAX_PAIRS);
		/* earlier pairs are valid: compare this key with theirs */
		vb_rd_init(&r2, p, n);
		while (j++ < k - 1 && vb_wire_opt_next(&r2, &o2, NULL) == 1)
			if (o2.key_len == o.key_len &&
			    memcmp(o2.key, o.key, o.key_len) == 0)
				return bad(e, VB_ST_INVALID_COMMAND,
					   "the key appears twice", k);
	}
	return rc;
}

/* A string value equal to word. */
static int is_word(const struct vb_opt *o, const char *word)
{
	return o->kind == VB_UHDR_STRING && o->val_len == strlen(word) &&
	       memcmp(o->val, word, o->val_len) == 0;
}

/* A decimal string value, or -1. */
static int dec_string(const struct vb_opt *o, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (o->kind != VB_UHDR_STRING || o->val_len > 20)
		return -1;
	for (uint32_t i = 0; i < o->val_len; i++) {
		if (o->val[i] < '0' || o->val[i] > '9')
			return -1;
		if (x > (max - (o->val[i] - '0')) / 10)
			return -1;
		x = x * 10 + (o->val[i] - '0');
	}
	*v = x;
	return 0;
}

/*
 * The value of a known option in the forms commands.md §2.3 accepts.
 * Strings with units (humantime, byte sizes) other than the words below
 * are not taken: 4042.
 */
static int topt_value(const struct vb_opt *o, uint8_t kind, uint64_t *v)
{
	switch (kind) {
	case VB_OPTK_COMPRESSION:
		if (is_word(o, "none"))
			*v = VB_COMPRESSION_NONE;
		else if (is_word(o, "gzip"))
			*v = VB_COMPRESSION_GZIP;
		else if (o->kind == VB_UHDR_UINT8 && o->val_len == 1 &&
			 (o->val[0] == 1 || o->val[0] == 2))
			*v = o->val[0];
		else
			return -1;
		return 0;
	case VB_OPTK_BOOL:
		if (o->kind == VB_UHDR_BOOL && o->val_len == 1 &&
		    o->val[0] <= 1)
			*v = o->val[0];
		else if (is_word(o, "true"))
			*v = 1;
		else if (is_word(o, "false"))
			*v = 0;
		else
			return -1;
		return 0;
	case VB_OPTK_U32:
		if (o->kind == VB_UHDR_UINT32 && o->val_len == 4) {
			*v = vb_ld32(o->val);
			return 0;
		}
		return dec_string(o, UINT32_MAX, v);
	default:
		if (o->kind == VB_UHDR_UINT64 && o->val_len == 8) {
			*v = vb_ld64(o->val);
			return 0;
		}
		if (is_word(o, "none") || is_word(o, "unlimited")) {
			*v = UINT64_MAX;
			return 0;
		}
		return dec_string(o, UINT64_MAX, v);
	}
}

static void enc_topt(struct vb_buf *b, unsigned i, uint64_t v)
{
	uint8_t raw[8];

	switch (topts[i].kind) {
	case VB_OPTK_COMPRESSION:
		if (v == VB_COMPRESSION_GZIP)
			vb_wire_opt_add(b, topts[i].key, VB_UHDR_STRING, "gzip",
					4);
		else
			vb_wire_opt_add(b, topts[i].key, VB_UHDR_STRING, "none",
					4);
		return;
	case VB_OPTK_BOOL:
		raw[0] = v ? 1 : 0;
		vb_wire_opt_add(b, topts[i].key, VB_UHDR_BOOL, raw, 1);
		return;
	case VB_OPTK_U32:
		vb_st32(raw, (uint32_t)v);
		vb_wire_opt_add(b, topts[i].key, VB_UHDR_UINT32, raw, 4);
		return;
	default:
		vb_st64(raw, v);
		vb_wire_opt_add(b, topts[i].key, VB_UHDR_UINT64, raw, 8);
		return;
	}
}

void vb_wire_topic_opts_enc(struct vb_buf *b, const struct vb_req *r,
			    int update)
{
	for (unsigned i = 0; i < VB_TOPT_COUNT; i++) {
		uint64_t v = r->topt[i];
		int set = (r->topt_set >> i) & 1;

		/*
		 * The three fields 0.8 has travel as options; on create
		 * only when not the server's default (0, none: what the
		 * official SDKs leave out), on update always.
		 */
		if (i == VB_TOPT_COMPRESSION) {
			v = r->compression;
			set = update ? v != 0 : v > VB_COMPRESSION_NONE;
		} else if (i == VB_TOPT_EXPIRY) {
			v = r->message_expiry;
			set = update || v != 0;
		} else if (i == VB_TOPT_MAX_SIZE) {
			v = r->max_topic_size;
			set = update || v != 0;
		} else if (update && !topts[i].updatable) {
			set = 0;
		}
		if (set)
			enc_topt(b, i, v);
	}
}

int vb_wire_topic_opts_dec(const uint8_t *p, size_t n, struct vb_req *r,
			   int update, struct vb_err *e)
{
	struct vb_rd rd;
	struct vb_opt o;
	int rc;

	if (vb_wire_opts_check(p, n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	while ((rc = vb_wire_opt_next(&rd, &o, e)) == 1) {
		unsigned i;
		uint64_t v;

		for (i = 0; i < VB_TOPT_COUNT; i++)
			if (strlen(topts[i].key) == o.key_len &&
			    memcmp(topts[i].key, o.key, o.key_len) == 0)
				break;
		if (i == VB_TOPT_COUNT || (update && !topts[i].updatable))
			return vb_err_status(e, VB_E_PROTO,
					     VB_ST_UNSUPPORTED_OPTION_KEY,
					     "topic option '%.*s' %s",
					     (int)o.key_len,
					     (const char *)o.key,
					     i == VB_TOPT_COUNT ?
						     "is unknown" :
						     "cannot be updated");
		if (topt_value(&o, topts[i].kind, &v))
			return vb_err_status(
				e, VB_E_PROTO, VB_ST_INVALID_OPTION_VALUE,
				"topic option %s: a value of kind %u it does not take",
				topts[i].key, o.kind);
		r->topt[i] = v;
		r->topt_set |= 1u << i;
		if (i == VB_TOPT_COMPRESSION)
			r->compression = (uint8_t)v;
		else if (i == VB_TOPT_EXPIRY)
			r->message_expiry = v;
		else if (i == VB_TOPT_MAX_SIZE)
			r->max_topic_size = v;
	}
	return rc;
}

int vb_wire_no_opts(const uint8_t *p, size_t n, const char *what,
		    struct vb_err *e)
{
	struct vb_rd rd;
	struct vb_opt o;
	int rc;

	if (n == 0)
		return 0;
	if (vb_wire_opts_check(p, n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	rc = vb_wire_opt_next(&rd, &o, e);
	if (rc < 0)
		return -1;
	return vb_err_status(e, VB_E_PROTO, VB_ST_UNSUPPORTED_OPTION_KEY,
			     "%s option '%.*s': %ss take no options", what,
			     (int)o.key_len, (const char *)o.key, what);
}

int vb_wire_skip_opts(struct vb_rd *r, const char *field, struct vb_err *e)
{
	uint32_t len;
	const uint8_t *p;

	if (vb_rd_u32(r, &len, field, e) || vb_rd_bytes(r, &p, len, field, e))
		return -1;
	return vb_wire_opts_check(p, len, e);
}
