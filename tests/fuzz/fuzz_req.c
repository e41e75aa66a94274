/*
 * fuzz_req.c - libFuzzer target for the request side of the codec: what
 * the bundled server decodes from untrusted clients.
 *
 * Input: u32 LE command code (a code of control.md §2 is used as is, any
 * other value picks one from the table) followed by the payload.  The
 * payload goes to vb_wire_req_decode, and for send_messages (101) to
 * vb_wire_send_decode.  A decoded request is re-encoded and decoded again;
 * both decodings must agree field by field and encode to the same bytes.
 * A failure must carry one of the documented status codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t codes[] = {
	1,   10,  11,  12,  20,	 21,  22,  31,	32,  33,  34,  35,
	36,  37,  38,  39,  41,	 42,  43,  44,	100, 101, 102, 120,
	121, 122, 200, 201, 202, 203, 204, 205, 300, 301, 302, 303,
	304, 305, 402, 403, 503, 600, 601, 602, 603, 604, 605,
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void die(const char *what, uint32_t code, const struct vb_err *e)
{
	fprintf(stderr, "fuzz_req: code %u: %s", code, what);
	if (e)
		fprintf(stderr, ": status %u: %s", e->status, e->msg);
	fputc('\n', stderr);
	abort();
}

static int same_name(const struct vb_name *a, const struct vb_name *b)
{
	return a->len == b->len && !memcmp(a->s, b->s, a->len) &&
	       a->s[a->len] == 0 && b->s[b->len] == 0;
}

static int same_ident(const struct vb_ident *a, const struct vb_ident *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == VB_ID_NUM)
		return a->num == b->num;
	if (a->kind == VB_ID_STR)
		return same_name(&a->name, &b->name);
	return 1;
}

static int same_blob(const uint8_t *a, uint32_t alen, const uint8_t *b,
		     uint32_t blen)
{
	return alen == blen && (alen == 0 || !memcmp(a, b, alen));
}

static int same_req(const struct vb_req *a, const struct vb_req *b)
{
	return a->code == b->code && same_ident(&a->stream, &b->stream) &&
	       same_ident(&a->topic, &b->topic) &&
	       same_ident(&a->target, &b->target) &&
	       a->consumer.kind == b->consumer.kind &&
	       same_ident(&a->consumer.id, &b->consumer.id) &&
	       a->part.present == b->part.present && a->part.id == b->part.id &&
	       same_name(&a->name, &b->name) &&
	       same_name(&a->secret, &b->secret) &&
	       same_name(&a->secret2, &b->secret2) && a->count == b->count &&
	       a->partition_id == b->partition_id && a->value == b->value &&
	       a->strategy == b->strategy && a->flag == b->flag &&
	       a->compression == b->compression &&
	       a->message_expiry == b->message_expiry &&
	       a->max_topic_size == b->max_topic_size &&
	       a->replication_factor == b->replication_factor &&
	       a->user_status == b->user_status &&
	       a->has_username == b->has_username &&
	       a->has_status == b->has_status && a->has_perms == b->has_perms &&
	       same_blob(a->perms, a->perms_len, b->perms, b->perms_len) &&
	       same_blob(a->version, a->version_len, b->version,
			 b->version_len) &&
	       same_blob(a->context, a->context_len, b->context,
			 b->context_len) &&
	       a->snap_compression == b->snap_compression &&
	       a->snap_count == b->snap_count &&
	       !memcmp(a->snap_types, b->snap_types, a->snap_count);
}

static void fuzz_control(uint32_t code, const uint8_t *p, size_t n)
{
	struct vb_req r, r2;
	struct vb_buf a = VB_BUF_INIT, b = VB_BUF_INIT;
	struct vb_err e;

	vb_err_clear(&e);
	if (vb_wire_req_decode(&r, code, p, n, &e)) {
		if (e.kind != VB_E_PROTO || !e.msg[0] ||
		    (e.status != VB_ST_INVALID_COMMAND &&
		     e.status != VB_ST_INVALID_FORMAT))
			die("undocumented decode failure", code, &e);
		if (code == VB_CMD_SEND_MESSAGES &&
		    e.status != VB_ST_INVALID_COMMAND)
			die("send_messages through req_decode", code, &e);
		return;
	}
	if (code == VB_CMD_SEND_MESSAGES)
		die("send_messages decoded as a control request", code, NULL);
	if (r.code != code)
		die("decoded code differs", code, NULL);

	vb_wire_req_encode(&a, &r);
	if (a.len < VB_REQ_HDR || vb_ld32(a.p) != a.len - 4 ||
	    vb_ld32(a.p + 4) != code)
		die("bad frame header", code, NULL);
	if (a.len - VB_REQ_HDR > n)
		die("re-encoding is longer than the input", code, NULL);
	vb_err_clear(&e);
	if (vb_wire_req_decode(&r2, code, a.p + 8, a.len - 8, &e))
		die("re-encoded request does not decode", code, &e);
	if (!same_req(&r, &r2))
		die("re-decoded request differs", code, NULL);
	vb_wire_req_encode(&b, &r2);
	if (a.len != b.len || memcmp(a.p, b.p, a.len))
		die("re-encodings differ", code, NULL);
	vb_buf_release(&a);
	vb_buf_release(&b);
}

static int send_status_ok(uint32_t st)
{
	static const uint32_t ok[] = {
		VB_ST_INVALID_COMMAND,
		VB_ST_INVALID_IDENTIFIER,
		VB_ST_INVALID_MESSAGES_COUNT,
		VB_ST_NON_ZERO_OFFSET,
		VB_ST_NON_ZERO_TIMESTAMP,
		VB_ST_MISSING_INDEX,
		VB_ST_TOO_BIG_MESSAGE_PAYLOAD,
		VB_ST_TOO_BIG_USER_HEADERS,
		VB_ST_INVALID_OFFSET,
		VB_ST_CANNOT_READ_INDEX_POSITION,
		VB_ST_INVALID_MESSAGES_SIZE,
		VB_ST_INVALID_RESERVED_FIELD,
		VB_ST_INVALID_MESSAGE_CHECKSUM,
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (st == ok[i])
			return 1;
	return 0;
}

/* Walks a validated batch; fills in[] (may be NULL) from its frames. */
static void walk_batch(const struct vb_send_view *v, struct vb_msg_in *in)
{
	size_t start = 0;
	struct vb_err e;

	for (uint32_t i = 0; i < v->h.count; i++) {
		size_t end = i + 1 == v->h.count ?
				     v->msgs_len :
				     vb_ld32(v->index + 16 * (size_t)i + 4);
		struct vb_msg m;

		if (end < start || end > v->msgs_len)
			die("accepted batch with bad positions", 101, NULL);
		vb_err_clear(&e);
		if (vb_wire_msg_parse(&m, v->msgs + start, end - start, &e))
			die("accepted batch with a bad frame", 101, &e);
		if (m.size != end - start)
			die("accepted frame size differs from its slot", 101,
			    NULL);
		if (m.payload_len > VB_PAYLOAD_MAX || m.uhdr_len > VB_UHDR_MAX)
			die("accepted an oversized message", 101, NULL);
		(void)vb_wire_msg_checksum(m.frame, m.size);
		if (in) {
			memcpy(in[i].id, m.id, 16);
			in[i].origin_timestamp = m.origin_timestamp;
			in[i].payload = m.payload;
			in[i].payload_len = m.payload_len;
			in[i].uhdr = m.uhdr;
			in[i].uhdr_len = m.uhdr_len;
		}
		start = end;
	}
	if (start != v->msgs_len)
		die("accepted batch does not cover the message area", 101,
		    NULL);
}

static void fuzz_send(const uint8_t *p, size_t n)
{
	struct vb_send_view v, v2;
	struct vb_msg_in *in;
	struct vb_buf a = VB_BUF_INIT;
	struct vb_err e;

	vb_err_clear(&e);
	if (vb_wire_send_decode(&v, p, n, &e)) {
		if (e.kind != VB_E_PROTO || !e.msg[0] ||
		    !send_status_ok(e.status))
			die("undocumented send failure", 101, &e);
		return;
	}
	if (v.h.count == 0 || v.index < p ||
	    v.index + 16 * (size_t)v.h.count > p + n || v.msgs < p ||
	    v.msgs + v.msgs_len != p + n)
		die("accepted view points outside the input", 101, NULL);
	/* every message is at least 64 bytes: count is bounded by n */
	if ((size_t)v.h.count > n / VB_MSG_HDR)
		die("more messages than bytes allow", 101, NULL);
	in = calloc(v.h.count, sizeof(*in));
	if (in == NULL)
		abort();
	walk_batch(&v, in);

	vb_wire_send_encode(&a, &v.h, in, v.h.count);
	if (vb_ld32(a.p) != a.len - 4 || vb_ld32(a.p + 4) != 101)
		die("bad send frame header", 101, NULL);
	vb_err_clear(&e);
	if (vb_wire_send_decode(&v2, a.p + 8, a.len - 8, &e))
		die("re-encoded batch does not decode", 101, &e);
	if (!same_ident(&v.h.stream, &v2.h.stream) ||
	    !same_ident(&v.h.topic, &v2.h.topic) ||
	    v.h.part_kind != v2.h.part_kind ||
	    v.h.partition_id != v2.h.partition_id ||
	    v.h.key_len != v2.h.key_len ||
	    memcmp(v.h.key, v2.h.key, v.h.key_len) || v.h.count != v2.h.count ||
	    v.msgs_len != v2.msgs_len)
		die("re-decoded batch header differs", 101, NULL);
	/* positions are cumulative ends in a valid batch: identical */
	if (memcmp(v.index, v2.index, 16 * (size_t)v.h.count - 12) ||
	    vb_ld32(v2.index + 16 * ((size_t)v.h.count - 1) + 4) != v2.msgs_len)
		die("re-encoded index differs", 101, NULL);
	for (uint32_t i = 0; i < v.h.count; i++) {
		size_t off = i ? vb_ld32(v2.index + 16 * ((size_t)i - 1) + 4) :
				 0;
		const uint8_t *f = v2.msgs + off;

		if (memcmp(f + 8, in[i].id, 16) ||
		    vb_ld64(f + 40) != in[i].origin_timestamp ||
		    memcmp(f + 64, in[i].payload, in[i].payload_len) ||
		    memcmp(f + 64 + in[i].payload_len, in[i].uhdr,
			   in[i].uhdr_len))
			die("re-encoded message differs", 101, NULL);
	}
	walk_batch(&v2, NULL);
	free(in);
	vb_buf_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t code;
	uint8_t *p;
	size_t n;

	if (size < 4)
		return 0;
	code = vb_ld32(data);
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i] == code)
			goto known;
	code = codes[code % NCODES];
known:
	/* an exact-size copy: reads past n are ASan errors */
	n = size - 4;
	p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	memcpy(p, data + 4, n);
	fuzz_control(code, p, n);
	if (code == VB_CMD_SEND_MESSAGES)
		fuzz_send(p, n);
	free(p);
	return 0;
}
