/*
 * fuzz_resp.c - libFuzzer target for the response side of the codec:
 * what a client decodes from a server it does not control.
 *
 * Input: one selector byte (which response payload to decode) followed by
 * the payload.  Decoded records are re-encoded: records whose encoding is
 * canonical must give back exactly the bytes they were decoded from; the
 * others (clients, stats, user permissions) must decode again to the same
 * encoding.  A failure must carry a documented status code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	S_POLL,
	S_STREAMS,
	S_STREAM,
	S_TOPIC,
	S_TOPICS,
	S_GROUP,
	S_GROUPS,
	S_CLIENTS,
	S_ME,
	S_STATS,
	S_USERS,
	S_USER,
	S_OFFSET,
	S_PATS,
	S_CLUSTER,
	S_PERMS,
	S_COUNT
};

static unsigned sel;

static void die(const char *what, const struct vb_err *e)
{
	fprintf(stderr, "fuzz_resp: selector %u: %s", sel, what);
	if (e)
		fprintf(stderr, ": status %u: %s", e->status, e->msg);
	fputc('\n', stderr);
	abort();
}

/* A decoder failed: the status must be one a response decoder gives. */
static void failed(const struct vb_err *e)
{
	if (e->kind != VB_E_PROTO || !e->msg[0])
		die("failure without a message", e);
	switch (e->status) {
	case VB_ST_INVALID_COMMAND:
	case VB_ST_INVALID_FORMAT:
		return;
	case VB_ST_MISSING_INDEX:
	case VB_ST_INVALID_RESERVED_FIELD:
		if (sel == S_POLL)
			return;
	}
	die("undocumented failure status", e);
}

/* The bytes [from, r->off) must equal what enc wrote into b. */
static void same_bytes(const struct vb_rd *r, size_t from,
		       const struct vb_buf *b)
{
	if (r->off < from || r->off > r->n)
		die("cursor out of bounds", NULL);
	if (b->len != r->off - from ||
	    (b->len && memcmp(b->p, r->p + from, b->len)))
		die("re-encoding differs from the decoded bytes", NULL);
}

static void poll_resp(struct vb_rd *r)
{
	struct vb_poll_hdr h;
	struct vb_msg m;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	size_t from = r->off;
	int rc;

	if (vb_wire_dec_poll_hdr(r, &h, &e))
		return failed(&e);
	vb_wire_enc_poll_hdr(&b, &h);
	while ((rc = vb_wire_dec_msg(r, &m, &e)) == 1) {
		if (m.frame < r->p || m.frame + m.size > r->p + r->n ||
		    m.size != (size_t)VB_MSG_HDR + m.payload_len + m.uhdr_len ||
		    m.payload != m.frame + VB_MSG_HDR ||
		    m.uhdr != m.payload + m.payload_len || m.reserved != 0)
			die("bad message view", NULL);
		(void)vb_wire_msg_checksum(m.frame, m.size);
		vb_buf_add(&b, m.frame, m.size);
	}
	if (rc < 0)
		failed(&e);
	else
		same_bytes(r, from, &b);
	vb_buf_release(&b);
}

#define RECORD_LOOP(type, dec, enc)              \
	do {                                     \
		type x;                          \
		struct vb_buf b = VB_BUF_INIT;   \
		struct vb_err e;                 \
		while (vb_rd_left(r)) {          \
			size_t from = r->off;    \
			if (dec(r, &x, &e)) {    \
				failed(&e);      \
				break;           \
			}                        \
			vb_buf_reset(&b);        \
			enc(&b, &x);             \
			same_bytes(r, from, &b); \
		}                                \
		vb_buf_release(&b);              \
	} while (0)

static void streams(struct vb_rd *r)
{
	RECORD_LOOP(struct vb_stream_info, vb_wire_dec_stream,
		    vb_wire_enc_stream);
}

static void topics(struct vb_rd *r)
{
	RECORD_LOOP(struct vb_topic_info, vb_wire_dec_topic, vb_wire_enc_topic);
}

static void groups(struct vb_rd *r)
{
	RECORD_LOOP(struct vb_group_info, vb_wire_dec_group, vb_wire_enc_group);
}

static void users(struct vb_rd *r)
{
	RECORD_LOOP(struct vb_user_info, vb_wire_dec_user, vb_wire_enc_user);
}

static void pats(struct vb_rd *r)
{
	RECORD_LOOP(struct vb_pat_info, vb_wire_dec_pat, vb_wire_enc_pat);
}

/* get_stream: Stream + topics_count TopicHeaders. */
static void stream(struct vb_rd *r)
{
	struct vb_stream_info s;
	struct vb_err e;

	if (vb_wire_dec_stream(r, &s, &e))
		return failed(&e);
	for (uint32_t i = 0; i < s.topics_count && vb_rd_left(r); i++) {
		struct vb_topic_info t;

		if (vb_wire_dec_topic(r, &t, &e))
			return failed(&e);
	}
}

/* TopicDetails: TopicHeader + partitions_count Partitions. */
static void topic(struct vb_rd *r)
{
	struct vb_topic_info t;
	struct vb_partition_info p;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	size_t from = r->off;

	if (vb_wire_dec_topic(r, &t, &e))
		return failed(&e);
	vb_wire_enc_topic(&b, &t);
	for (uint32_t i = 0; i < t.partitions_count; i++) {
		if (vb_wire_dec_partition(r, &p, &e)) {
			failed(&e);
			goto out;
		}
		vb_wire_enc_partition(&b, &p);
	}
	same_bytes(r, from, &b);
out:
	vb_buf_release(&b);
}

/* ConsumerGroupDetails: ConsumerGroup + members_count members. */
static void group(struct vb_rd *r)
{
	struct vb_group_info g;
	struct vb_member_info m;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	size_t from = r->off;
	uint32_t *parts;

	if (vb_wire_dec_group(r, &g, &e))
		return failed(&e);
	vb_wire_enc_group(&b, &g);
	for (uint32_t i = 0; i < g.members_count; i++) {
		if (vb_wire_dec_member(r, &m, &e)) {
			failed(&e);
			goto out;
		}
		/* bounded: the decoder checked the count against the input */
		if ((size_t)m.partitions_count * 4 > r->n)
			die("member count past the input", NULL);
		parts = calloc(m.partitions_count + 1, sizeof(*parts));
		if (parts == NULL)
			abort();
		for (uint32_t k = 0; k < m.partitions_count; k++)
			parts[k] = vb_member_part(&m, k);
		vb_wire_enc_member(&b, m.id, parts, m.partitions_count);
		free(parts);
	}
	same_bytes(r, from, &b);
out:
	vb_buf_release(&b);
}

/* enc(dec(x)) must decode again and re-encode identically. */
typedef int (*dec_fn)(struct vb_rd *r, void *out, struct vb_err *e);
typedef void (*enc_fn)(struct vb_buf *b, const void *in);

static void stable(struct vb_rd *r, void *x, void *y, dec_fn dec, enc_fn enc)
{
	struct vb_buf a = VB_BUF_INIT, b = VB_BUF_INIT;
	struct vb_rd r2;
	struct vb_err e;

	while (vb_rd_left(r)) {
		if (dec(r, x, &e)) {
			failed(&e);
			break;
		}
		vb_buf_reset(&a);
		enc(&a, x);
		vb_rd_init(&r2, a.p, a.len);
		if (dec(&r2, y, &e))
			die("re-encoded record does not decode", &e);
		if (vb_rd_left(&r2))
			die("re-encoded record not fully consumed", NULL);
		vb_buf_reset(&b);
		enc(&b, y);
		if (a.len != b.len || memcmp(a.p, b.p, a.len))
			die("re-encodings differ", NULL);
	}
	vb_buf_release(&a);
	vb_buf_release(&b);
}

static int dec_client(struct vb_rd *r, void *o, struct vb_err *e)
{
	return vb_wire_dec_client(r, o, e);
}

static void enc_client(struct vb_buf *b, const void *i)
{
	vb_wire_enc_client(b, i);
}

static int dec_stats(struct vb_rd *r, void *o, struct vb_err *e)
{
	return vb_wire_dec_stats(r, o, e);
}

static void enc_stats(struct vb_buf *b, const void *i)
{
	vb_wire_enc_stats(b, i);
}

static void me(struct vb_rd *r)
{
	struct vb_client_info c;
	struct vb_group_ref g;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	size_t from;

	if (vb_wire_dec_client(r, &c, &e))
		return failed(&e);
	from = r->off;
	for (uint32_t i = 0; i < c.groups_count; i++) {
		if (vb_wire_dec_group_ref(r, &g, &e)) {
			failed(&e);
			goto out;
		}
		vb_wire_enc_group_ref(&b, &g);
	}
	same_bytes(r, from, &b);
out:
	vb_buf_release(&b);
}

static void user(struct vb_rd *r)
{
	struct vb_user_info u;
	const uint8_t *perms;
	uint32_t len;
	size_t used;
	struct vb_err e;

	if (vb_wire_dec_user(r, &u, &e))
		return failed(&e);
	if (vb_wire_dec_user_perms(r, &perms, &len, &e))
		return failed(&e);
	if (perms == NULL)
		return;
	if (perms < r->p || perms + len > r->p + r->n)
		die("permissions point outside the input", NULL);
	if (vb_wire_perms_check(perms, len, &used, &e))
		failed(&e);
	else if (used > len)
		die("permissions used more than their length", NULL);
}

static void offset(struct vb_rd *r)
{
	struct vb_offset_info o;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;

	if (vb_wire_dec_offset(r, &o, &e))
		return failed(&e);
	vb_wire_enc_offset(&b, &o);
	same_bytes(r, 0, &b);
	vb_buf_release(&b);
}

static void cluster(struct vb_rd *r)
{
	char name[64];
	uint32_t nodes;
	struct vb_err e;

	if (vb_wire_dec_cluster(r, name, sizeof(name), &nodes, &e))
		return failed(&e);
	if (strlen(name) >= sizeof(name))
		die("cluster name not terminated", NULL);
}

static void perms(struct vb_rd *r)
{
	size_t used;
	struct vb_err e;

	if (vb_wire_perms_check(r->p, r->n, &used, &e))
		return failed(&e);
	if (used > r->n)
		die("permissions used more than the input", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_rd r;
	uint8_t *p;
	size_t n;

	if (size < 1)
		return 0;
	sel = data[0] % S_COUNT;
	n = size - 1;
	p = malloc(n ? n : 1); /* exact size: over-reads are ASan errors */
	if (p == NULL)
		abort();
	memcpy(p, data + 1, n);
	vb_rd_init(&r, p, n);
	switch (sel) {
	case S_POLL:
		poll_resp(&r);
		break;
	case S_STREAMS:
		streams(&r);
		break;
	case S_STREAM:
		stream(&r);
		break;
	case S_TOPIC:
		topic(&r);
		break;
	case S_TOPICS:
		topics(&r);
		break;
	case S_GROUP:
		group(&r);
		break;
	case S_GROUPS:
		groups(&r);
		break;
	case S_CLIENTS: {
		struct vb_client_info x, y;

		stable(&r, &x, &y, dec_client, enc_client);
		break;
	}
	case S_ME:
		me(&r);
		break;
	case S_STATS: {
		struct vb_stats x, y;

		stable(&r, &x, &y, dec_stats, enc_stats);
		break;
	}
	case S_USERS:
		users(&r);
		break;
	case S_USER:
		user(&r);
		break;
	case S_OFFSET:
		offset(&r);
		break;
	case S_PATS:
		pats(&r);
		break;
	case S_CLUSTER:
		cluster(&r);
		break;
	case S_PERMS:
		perms(&r);
		break;
	}
	free(p);
	return 0;
}
