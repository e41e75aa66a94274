/*
 * test_wire.c - the Iggy 0.8.0 codec against every published byte vector
 * (shared/iggy-wire/control.md §7, messages.md §3.3, §4.4, §7.5, §10), both
 * ways, and against malformed input: every strict prefix of every valid
 * payload, oversized lengths, bad kinds, each send_messages validation
 * code of messages.md §2.3, and the stricter checks after them (reserved,
 * checksum, last index position).
 *
 * Decoders are always handed an exact-size heap copy of their input so that
 * an over-read is an AddressSanitizer error in the sanitizer build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"
#include "wire_check.h"
#include "base/banned.h"

/* ---- helpers ---- */

/* Initializer macros on one line (clang-format 14 splits their braces). */
/* clang-format off */
#define NUM(n) { .kind = VB_ID_NUM, .num = (n) }
#define NAME(str) { .len = sizeof(str) - 1, .s = str }
#define STR(str) { .kind = VB_ID_STR, .name = NAME(str) }
/* clang-format on */

/* rc must be -1 with Iggy status st. */
#define CHECK_FAIL(rc, e, st)                                                                 \
	do {                                                                                  \
		int rc_ = (rc);                                                               \
		if (rc_ != -1 || (e).status != (uint32_t)(st))                                \
			fail_msg("%s: %s: rc %d status %u (%s), want -1 status %u (line %d)", \
				 ctx, #rc, rc_, rc_ ? (e).status : 0,                         \
				 rc_ ? (e).msg : "", (unsigned)(st),                          \
				 __LINE__);                                                   \
		CHECK((e).kind == VB_E_PROTO);                                                \
		CHECK((e).msg[0] != 0);                                                       \
	} while (0)

static void check_name(const struct vb_name *got, const struct vb_name *want,
		       const char *field)
{
	if (got->len != want->len || memcmp(got->s, want->s, want->len) ||
	    got->s[got->len] != 0)
		fail_msg("%s: %s = \"%.*s\" (%u), want \"%.*s\" (%u)", ctx,
			 field, (int)got->len, got->s, got->len, (int)want->len,
			 want->s, want->len);
}

static void check_ident(const struct vb_ident *got, const struct vb_ident *want,
			const char *field)
{
	if (got->kind != want->kind)
		fail_msg("%s: %s kind %u, want %u", ctx, field, got->kind,
			 want->kind);
	if (got->kind == VB_ID_NUM && got->num != want->num)
		fail_msg("%s: %s = %u, want %u", ctx, field, got->num,
			 want->num);
	if (got->kind == VB_ID_STR)
		check_name(&got->name, &want->name, field);
}

static void check_blob(const uint8_t *g, uint32_t glen, const uint8_t *w,
		       uint32_t wlen, const char *field)
{
	if (glen != wlen || (wlen && memcmp(g, w, wlen)))
		fail_msg("%s: %s differs (%u bytes, want %u)", ctx, field, glen,
			 wlen);
}

/* Every field of struct vb_req, pointers compared by content. */
static void check_req(const struct vb_req *g, const struct vb_req *w)
{
	CHECK_U(g->code, w->code);
	check_ident(&g->stream, &w->stream, "stream");
	check_ident(&g->topic, &w->topic, "topic");
	check_ident(&g->target, &w->target, "target");
	CHECK_U(g->consumer.kind, w->consumer.kind);
	check_ident(&g->consumer.id, &w->consumer.id, "consumer id");
	CHECK_U(g->part.present, w->part.present);
	CHECK_U(g->part.id, w->part.id);
	check_name(&g->name, &w->name, "name");
	check_name(&g->secret, &w->secret, "secret");
	check_name(&g->secret2, &w->secret2, "secret2");
	CHECK_U(g->count, w->count);
	CHECK_U(g->partition_id, w->partition_id);
	CHECK_U(g->value, w->value);
	CHECK_U(g->strategy, w->strategy);
	CHECK_U(g->flag, w->flag);
	CHECK_U(g->compression, w->compression);
	CHECK_U(g->message_expiry, w->message_expiry);
	CHECK_U(g->max_topic_size, w->max_topic_size);
	CHECK_U(g->replication_factor, w->replication_factor);
	CHECK_U(g->user_status, w->user_status);
	CHECK_U(g->has_username, w->has_username);
	CHECK_U(g->has_status, w->has_status);
	CHECK_U(g->has_perms, w->has_perms);
	check_blob(g->perms, g->perms_len, w->perms, w->perms_len,
		   "permissions");
	check_blob(g->version, g->version_len, w->version, w->version_len,
		   "version");
	check_blob(g->context, g->context_len, w->context, w->context_len,
		   "context");
	CHECK_U(g->snap_compression, w->snap_compression);
	CHECK_U(g->snap_count, w->snap_count);
	CHECK(memcmp(g->snap_types, w->snap_types, w->snap_count) == 0);
}

/* Decodes an exact-size copy of a request payload. */
static int req_decode(struct vb_req *r, uint32_t code, const uint8_t *p,
		      size_t n, struct vb_err *e)
{
	uint8_t *q = dup_n(p, n);
	int rc;

	vb_err_clear(e);
	rc = vb_wire_req_decode(r, code, q, n, e);
	/* Pointer fields must not outlive q: re-point them at p. */
	if (r->perms)
		r->perms = p + (r->perms - q);
	if (r->version)
		r->version = p + (r->version - q);
	if (r->context)
		r->context = p + (r->context - q);
	free(q);
	return rc;
}

static int send_decode(struct vb_send_view *v, const uint8_t *p, size_t n,
		       struct vb_err *e)
{
	uint8_t *q = dup_n(p, n);
	int rc;

	vb_err_clear(e);
	rc = vb_wire_send_decode(v, q, n, e);
	if (v->index)
		v->index = p + (v->index - q);
	if (v->msgs)
		v->msgs = p + (v->msgs - q);
	free(q);
	return rc;
}

/*
 * Full request frame round trip: encode(want) gives exactly the bytes,
 * decode(bytes) gives want, encode(decode(bytes)) gives the bytes again,
 * trailing bytes are ignored, and every strict prefix of the payload is
 * rejected with InvalidCommand (3).
 */
static void check_req_frame(const char *hex, const struct vb_req *want)
{
	struct vb_buf bytes = VB_BUF_INIT, got = VB_BUF_INIT;
	struct vb_req r;
	struct vb_err e;
	uint32_t len, code;
	const uint8_t *pl;
	size_t pn;

	unhex(&bytes, hex);
	vb_wire_req_encode(&got, want);
	CHECK_BUF(&got, &bytes);

	CHECK(bytes.len >= VB_REQ_HDR);
	vb_wire_req_hdr(bytes.p, &len, &code);
	CHECK_U(len, bytes.len - 4);
	CHECK_U(code, want->code);
	pl = bytes.p + VB_REQ_HDR;
	pn = bytes.len - VB_REQ_HDR;
	CHECK_OK(req_decode(&r, code, pl, pn, &e), e);
	check_req(&r, want);
	vb_buf_reset(&got);
	vb_wire_req_encode(&got, &r);
	CHECK_BUF(&got, &bytes);

	/* Trailing bytes after a decoded payload are ignored (§1.3). */
	vb_buf_reset(&got);
	vb_buf_add(&got, pl, pn);
	vb_buf_add(&got, "\x01\xff\x00\x7f\x80", 5);
	CHECK_OK(req_decode(&r, code, got.p, got.len, &e), e);
	check_req(&r, want);

	/* Every strict prefix is truncated: status 3. */
	for (size_t n = 0; n < pn; n++) {
		vb_err_clear(&e);
		if (req_decode(&r, code, pl, n, &e) != -1)
			fail_msg("%s: %zu-byte prefix of the %zu-byte payload decoded",
				 ctx, n, pn);
		if (e.status != VB_ST_INVALID_COMMAND)
			fail_msg("%s: %zu-byte prefix: status %u (%s), want 3",
				 ctx, n, e.status, e.msg);
	}
	vb_buf_release(&bytes);
	vb_buf_release(&got);
}

/* ---- requests: control.md §7.1, messages.md §10.2, §10.4 ---- */

struct req_vec {
	const char *name;
	const char *hex;
	struct vb_req req;
};

/* Per vector: its name, the frame's bytes, the decoded request. */
/* clang-format off */
static const struct req_vec req_vecs[] = {
	{ "7.1 #1: ping",
		"04 00 00 00 01 00 00 00",
		{ .code = 1 } },
	{ "7.1 #2: login_user \"iggy\"/\"iggy\", no version/context",
		"16 00 00 00 26 00 00 00 04 69 67 67 79 04 69 67 "
		"67 79 00 00 00 00 00 00 00 00",
		{ .code = 38, .name = NAME("iggy"), .secret = NAME("iggy") } },
	{ "7.1 #3: login_user \"iggy\"/\"iggy\", version \"0.10.0...",
		"1c 00 00 00 26 00 00 00 04 69 67 67 79 04 69 67 "
		"67 79 06 00 00 00 30 2e 31 30 2e 30 00 00 00 00",
		{ .code = 38, .name = NAME("iggy"), .secret = NAME("iggy"),
		  .version = (const uint8_t *)"0.10.0", .version_len = 6,
		  .context = (const uint8_t *)"" } },
	{ "7.1 #4: create_stream \"vibes\"",
		"0a 00 00 00 ca 00 00 00 05 76 69 62 65 73",
		{ .code = 202, .name = NAME("vibes") } },
	{ "7.1 #5: create_topic stream 0, \"events\", 8 partit...",
		"27 00 00 00 2e 01 00 00 01 04 00 00 00 00 08 00 "
		"00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 "
		"00 00 00 01 06 65 76 65 6e 74 73",
		{ .code = 302, .stream = NUM(0), .count = 8, .compression = 1,
		  .replication_factor = 1, .name = NAME("events") } },
	{ "7.1 #6: same with rf 0 (what Rust SDK sends for \"...",
		"27 00 00 00 2e 01 00 00 01 04 00 00 00 00 08 00 "
		"00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 "
		"00 00 00 00 06 65 76 65 6e 74 73",
		{ .code = 302, .stream = NUM(0), .count = 8, .compression = 1,
		  .name = NAME("events") } },
	{ "7.1 #7: create_topic stream \"vibes\", \"events\", 8 ...",
		"28 00 00 00 2e 01 00 00 02 05 76 69 62 65 73 08 "
		"00 00 00 01 ff ff ff ff ff ff ff ff ff ff ff ff "
		"ff ff ff ff 01 06 65 76 65 6e 74 73",
		{ .code = 302, .stream = STR("vibes"), .count = 8, .compression = 1,
		  .message_expiry = UINT64_MAX, .max_topic_size = UINT64_MAX,
		  .replication_factor = 1, .name = NAME("events") } },
	{ "7.1 #8: get_consumer_offset consumer(kind 1, id 1...",
		"1c 00 00 00 78 00 00 00 01 01 04 01 00 00 00 01 "
		"04 00 00 00 00 01 04 00 00 00 00 01 00 00 00 00",
		{ .code = 120, .consumer = { 1, NUM(1) }, .stream = NUM(0),
		  .topic = NUM(0), .part = { 1, 0 } } },
	{ "7.1 #9: get_consumer_offset group(kind 2, id 0), ...",
		"1c 00 00 00 78 00 00 00 02 01 04 00 00 00 00 01 "
		"04 00 00 00 00 01 04 00 00 00 00 00 00 00 00 00",
		{ .code = 120, .consumer = { 2, NUM(0) }, .stream = NUM(0),
		  .topic = NUM(0) } },
	{ "7.1 #10: store_consumer_offset consumer(1, id 1), ...",
		"24 00 00 00 79 00 00 00 01 01 04 01 00 00 00 01 "
		"04 00 00 00 00 01 04 00 00 00 00 01 00 00 00 00 "
		"2a 00 00 00 00 00 00 00",
		{ .code = 121, .consumer = { 1, NUM(1) }, .stream = NUM(0),
		  .topic = NUM(0), .part = { 1, 0 }, .value = 42 } },
	{ "7.1 #11: store_consumer_offset consumer(1, \"c1\"), ...",
		"25 00 00 00 79 00 00 00 01 02 02 63 31 02 05 76 "
		"69 62 65 73 02 06 65 76 65 6e 74 73 01 03 00 00 "
		"00 07 00 00 00 00 00 00 00",
		{ .code = 121, .consumer = { 1, STR("c1") }, .stream = STR("vibes"),
		  .topic = STR("events"), .part = { 1, 3 }, .value = 7 } },
	{ "7.1 #12: delete_consumer_offset consumer(1, id 1),...",
		"1c 00 00 00 7a 00 00 00 01 01 04 01 00 00 00 01 "
		"04 00 00 00 00 01 04 00 00 00 00 01 00 00 00 00",
		{ .code = 122, .consumer = { 1, NUM(1) }, .stream = NUM(0),
		  .topic = NUM(0), .part = { 1, 0 } } },
	{ "7.1 #13: create_consumer_group stream 0, topic 0, ...",
		"18 00 00 00 5a 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 07 77 6f 72 6b 65 72 73",
		{ .code = 602, .stream = NUM(0), .topic = NUM(0),
		  .name = NAME("workers") } },
	{ "7.1 #14: create_consumer_group stream 1, topic 2, ...",
		"14 00 00 00 5a 02 00 00 01 04 01 00 00 00 01 04 "
		"02 00 00 00 03 67 72 70",
		{ .code = 602, .stream = NUM(1), .topic = NUM(2), .name = NAME("grp") } },
	{ "7.1 #15: join_consumer_group 0, 0, 0",
		"16 00 00 00 5c 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 01 04 00 00 00 00",
		{ .code = 604, .stream = NUM(0), .topic = NUM(0), .target = NUM(0) } },
	{ "7.1 #16: join_consumer_group \"vibes\", \"events\", \"w...",
		"1c 00 00 00 5c 02 00 00 02 05 76 69 62 65 73 02 "
		"06 65 76 65 6e 74 73 02 07 77 6f 72 6b 65 72 73",
		{ .code = 604, .stream = STR("vibes"), .topic = STR("events"),
		  .target = STR("workers") } },
	{ "7.1 #17: leave_consumer_group 0, 0, 0",
		"16 00 00 00 5d 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 01 04 00 00 00 00",
		{ .code = 605, .stream = NUM(0), .topic = NUM(0), .target = NUM(0) } },
	{ "7.1 #18: delete_consumer_group 0, 0, 0",
		"16 00 00 00 5b 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 01 04 00 00 00 00",
		{ .code = 603, .stream = NUM(0), .topic = NUM(0), .target = NUM(0) } },
	{ "7.1 #19: get_consumer_group 0, 0, 0",
		"16 00 00 00 58 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 01 04 00 00 00 00",
		{ .code = 600, .stream = NUM(0), .topic = NUM(0), .target = NUM(0) } },
	{ "7.1 #20: get_consumer_groups 0, 0",
		"10 00 00 00 59 02 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00",
		{ .code = 601, .stream = NUM(0), .topic = NUM(0) } },
	{ "7.1 #21: get_stream id 0",
		"0a 00 00 00 c8 00 00 00 01 04 00 00 00 00",
		{ .code = 200, .stream = NUM(0) } },
	{ "7.1 #22: get_stream \"vibes\"",
		"0b 00 00 00 c8 00 00 00 02 05 76 69 62 65 73",
		{ .code = 200, .stream = STR("vibes") } },
	{ "7.1 #23: get_streams",
		"04 00 00 00 c9 00 00 00",
		{ .code = 201 } },
	{ "7.1 #24: update_stream 0 -> \"chill\"",
		"10 00 00 00 cc 00 00 00 01 04 00 00 00 00 05 63 "
		"68 69 6c 6c",
		{ .code = 204, .stream = NUM(0), .name = NAME("chill") } },
	{ "7.1 #25: delete_stream 0",
		"0a 00 00 00 cb 00 00 00 01 04 00 00 00 00",
		{ .code = 203, .stream = NUM(0) } },
	{ "7.1 #26: purge_stream 0",
		"0a 00 00 00 cd 00 00 00 01 04 00 00 00 00",
		{ .code = 205, .stream = NUM(0) } },
	{ "7.1 #27: get_topic 0, 0",
		"10 00 00 00 2c 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00",
		{ .code = 300, .stream = NUM(0), .topic = NUM(0) } },
	{ "7.1 #28: get_topics 0",
		"0a 00 00 00 2d 01 00 00 01 04 00 00 00 00",
		{ .code = 301, .stream = NUM(0) } },
	{ "7.1 #29: update_topic 0, 0, gzip, expiry 60 s (60 ...",
		"2a 00 00 00 30 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 02 00 87 93 03 00 00 00 00 00 00 00 "
		"00 00 00 00 00 01 07 65 76 65 6e 74 73 32",
		{ .code = 304, .stream = NUM(0), .topic = NUM(0), .compression = 2,
		  .message_expiry = 60000000, .replication_factor = 1,
		  .name = NAME("events2") } },
	{ "7.1 #30: delete_topic 0, 0",
		"10 00 00 00 2f 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00",
		{ .code = 303, .stream = NUM(0), .topic = NUM(0) } },
	{ "7.1 #31: purge_topic 0, 0",
		"10 00 00 00 31 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00",
		{ .code = 305, .stream = NUM(0), .topic = NUM(0) } },
	{ "7.1 #32: create_partitions 0, 0, 2",
		"14 00 00 00 92 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 02 00 00 00",
		{ .code = 402, .stream = NUM(0), .topic = NUM(0), .count = 2 } },
	{ "7.1 #33: delete_partitions 0, 0, 2",
		"14 00 00 00 93 01 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 02 00 00 00",
		{ .code = 403, .stream = NUM(0), .topic = NUM(0), .count = 2 } },
	{ "7.1 #34: logout_user",
		"04 00 00 00 27 00 00 00",
		{ .code = 39 } },
	{ "7.1 #35: get_stats",
		"04 00 00 00 0a 00 00 00",
		{ .code = 10 } },
	{ "7.1 #36: get_me",
		"04 00 00 00 14 00 00 00",
		{ .code = 20 } },
	{ "7.1 #37: get_client 7",
		"08 00 00 00 15 00 00 00 07 00 00 00",
		{ .code = 21, .count = 7 } },
	{ "7.1 #38: get_clients",
		"04 00 00 00 16 00 00 00",
		{ .code = 22 } },
	{ "7.1 #39: login_with_personal_access_token \"tok123\"",
		"0b 00 00 00 2c 00 00 00 06 74 6f 6b 31 32 33",
		{ .code = 44, .name = NAME("tok123") } },
	{ "7.1 #40: create_user \"alice\"/\"secret\", status 1, n...",
		"13 00 00 00 21 00 00 00 05 61 6c 69 63 65 06 73 "
		"65 63 72 65 74 01 00",
		{ .code = 33, .name = NAME("alice"), .secret = NAME("secret"),
		  .user_status = 1 } },
	{ "7.1 #41: get_users",
		"04 00 00 00 20 00 00 00",
		{ .code = 32 } },
	{ "7.1 #42: get_user id 0",
		"0a 00 00 00 1f 00 00 00 01 04 00 00 00 00",
		{ .code = 31, .target = NUM(0) } },
	{ "10.2: (b) POLL_MESSAGES reader, 0, 0, Some(0), ...",
		"2c 00 00 00 64 00 00 00 01 02 06 72 65 61 64 65 "
		"72 01 04 00 00 00 00 01 04 00 00 00 00 01 00 00 "
		"00 00 01 00 00 00 00 00 00 00 00 64 00 00 00 00",
		{ .code = 100, .consumer = { 1, STR("reader") }, .stream = NUM(0),
		  .topic = NUM(0), .part = { 1, 0 }, .strategy = 1, .count = 100 } },
	{ "10.2: (b') POLL_MESSAGES reader, 0, 0, Some(3),...",
		"2c 00 00 00 64 00 00 00 01 02 06 72 65 61 64 65 "
		"72 01 04 00 00 00 00 01 04 00 00 00 00 01 03 00 "
		"00 00 01 00 00 00 00 00 00 00 00 01 00 00 00 00",
		{ .code = 100, .consumer = { 1, STR("reader") }, .stream = NUM(0),
		  .topic = NUM(0), .part = { 1, 3 }, .strategy = 1, .count = 1 } },
	{ "10.4 #1: FLUSH_UNSAVED_BUFFER stream 0, topic 0, p...",
		"15 00 00 00 66 00 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 03 00 00 00 01",
		{ .code = 102, .stream = NUM(0), .topic = NUM(0), .partition_id = 3,
		  .flag = 1 } },
	{ "10.4 #2: same with fsync 0 (what the Node SDK alwa...",
		"15 00 00 00 66 00 00 00 01 04 00 00 00 00 01 04 "
		"00 00 00 00 03 00 00 00 00",
		{ .code = 102, .stream = NUM(0), .topic = NUM(0), .partition_id = 3 } },
	{ "10.4 #3: POLL_MESSAGES group \"workers\", stream \"vi...",
		"30 00 00 00 64 00 00 00 02 02 07 77 6f 72 6b 65 "
		"72 73 02 05 76 69 62 65 73 02 06 65 76 65 6e 74 "
		"73 00 00 00 00 00 05 00 00 00 00 00 00 00 00 0a "
		"00 00 00 01",
		{ .code = 100, .consumer = { 2, STR("workers") }, .stream = STR("vibes"),
		  .topic = STR("events"), .strategy = 5, .count = 10, .flag = 1 } },
};
/* clang-format on */

static void test_request_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(req_vecs) / sizeof(req_vecs[0]); i++) {
		ctx = req_vecs[i].name;
		check_req_frame(req_vecs[i].hex, &req_vecs[i].req);
	}
	ctx = "";
}

/*
 * Layouts without a published vector (control.md §5), written out from
 * the spec tables: the same four-way check as the vectors.
 */
static const uint8_t perms_block[32] = {
	1, 1, 0, 1, 0, 1, 0, 1, 1, 1, /* 10 global flags */
	1,			      /* has_streams */
	7, 0, 0, 0,		      /* stream_id 7 */
	0, 1, 0, 1, 1, 1,	      /* 6 stream flags */
	1,			      /* has_topics */
	2, 0, 0, 0,		      /* topic_id 2 */
	0, 1, 1, 0,		      /* 4 topic flags */
	0,			      /* has_next_topic */
	0,			      /* has_next_stream */
};

#define PERMS_HEX                                                      \
	"01 01 00 01 00 01 00 01 01 01 01 07 00 00 00 00 01 00 01 01 " \
	"01 01 02 00 00 00 00 01 01 00 00 00"

/* Laid out like req_vecs. */
/* clang-format off */
static const struct req_vec more_vecs[] = {
	{ "get_snapshot_file (11)",
		"07 00 00 00 0b 00 00 00 01 01 03",
		{ .code = 11, .snap_compression = 1, .snap_count = 1,
		  .snap_types = { 3 } } },
	{ "get_cluster_metadata (12)", "04 00 00 00 0c 00 00 00",
		{ .code = 12 } },
	{ "delete_user (34) \"alice\"",
		"0b 00 00 00 22 00 00 00 02 05 61 6c 69 63 65",
		{ .code = 34, .target = STR("alice") } },
	{ "update_user (35) 1, username \"bob\", status 2",
		"11 00 00 00 23 00 00 00 01 04 01 00 00 00 01 03 62 6f 62 01 "
		"02",
		{ .code = 35, .target = NUM(1), .has_username = 1,
		  .name = NAME("bob"), .has_status = 1, .user_status = 2 } },
	{ "update_user (35) 1, nothing",
		"0c 00 00 00 23 00 00 00 01 04 01 00 00 00 00 00",
		{ .code = 35, .target = NUM(1) } },
	{ "update_permissions (36) 1, a permissions block",
		"2f 00 00 00 24 00 00 00 01 04 01 00 00 00 01 20 00 00 00 "
		PERMS_HEX,
		{ .code = 36, .target = NUM(1), .has_perms = 1,
		  .perms = perms_block, .perms_len = 32 } },
	{ "update_permissions (36) 1, none",
		"0b 00 00 00 24 00 00 00 01 04 01 00 00 00 00",
		{ .code = 36, .target = NUM(1) } },
	{ "create_user (33) with permissions",
		"32 00 00 00 21 00 00 00 03 62 6f 62 03 70 77 64 02 01 20 00 "
		"00 00 " PERMS_HEX,
		{ .code = 33, .name = NAME("bob"), .secret = NAME("pwd"),
		  .user_status = 2, .has_perms = 1, .perms = perms_block,
		  .perms_len = 32 } },
	{ "change_password (37) \"bob\" \"old\" -> \"new1\"",
		"12 00 00 00 25 00 00 00 02 03 62 6f 62 03 6f 6c 64 04 6e 65 "
		"77 31",
		{ .code = 37, .target = STR("bob"), .secret = NAME("old"),
		  .secret2 = NAME("new1") } },
	{ "get_personal_access_tokens (41)", "04 00 00 00 29 00 00 00",
		{ .code = 41 } },
	{ "create_personal_access_token (42) \"ci\" expiry 60 s",
		"0f 00 00 00 2a 00 00 00 02 63 69 00 87 93 03 00 00 00 00",
		{ .code = 42, .name = NAME("ci"), .value = 60000000 } },
	{ "delete_personal_access_token (43) \"ci\"",
		"07 00 00 00 2b 00 00 00 02 63 69",
		{ .code = 43, .name = NAME("ci") } },
	{ "delete_segments (503) 0, 0, partition 3, 2 segments",
		"18 00 00 00 f7 01 00 00 01 04 00 00 00 00 01 04 00 00 00 00 "
		"03 00 00 00 02 00 00 00",
		{ .code = 503, .stream = NUM(0), .topic = NUM(0),
		  .partition_id = 3, .count = 2 } },
	{ "poll timestamp strategy, consumer \"c\" numeric ids, no partition",
		"27 00 00 00 64 00 00 00 01 02 01 63 01 04 00 00 00 00 01 04 "
		"01 00 00 00 00 00 00 00 00 02 00 40 1e 18 24 0a 06 00 05 00 "
		"00 00 00",
		{ .code = 100, .consumer = { 1, STR("c") }, .stream = NUM(0),
		  .topic = NUM(1), .strategy = 2,
		  .value = 1700000000000000ull, .count = 5 } },
	{ "login_user (38) with a UTF-8 version and context",
		"19 00 00 00 26 00 00 00 03 62 6f 62 03 70 77 64 02 00 00 00 "
		"c3 a9 03 00 00 00 61 62 63",
		{ .code = 38, .name = NAME("bob"), .secret = NAME("pwd"),
		  .version = (const uint8_t *)"\xc3\xa9", .version_len = 2,
		  .context = (const uint8_t *)"abc", .context_len = 3 } },
};
/* clang-format on */

static void test_request_layouts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(more_vecs) / sizeof(more_vecs[0]); i++) {
		ctx = more_vecs[i].name;
		check_req_frame(more_vecs[i].hex, &more_vecs[i].req);
	}
	ctx = "";
}

/*
 * Upstream unit-test payload literals quoted in control.md §7.1, and the
 * Node SDK's create_user with five trailing bytes.
 */
static void test_request_upstream_literals(void **state)
{
	struct vb_buf b = VB_BUF_INIT, want = VB_BUF_INIT;
	struct vb_req r, d;
	struct vb_err e;

	(void)state;
	ctx = "create_stream \"test\"";
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	CHECK(vb_name_set(&r.name, "test") == 0);
	vb_wire_req_encode(&b, &r);
	CHECK_HEX(&b, "09 00 00 00 ca 00 00 00 04 74 65 73 74");

	ctx = "get_stream numeric 1";
	vb_req_init(&r, VB_CMD_GET_STREAM);
	vb_ident_num(&r.stream, 1);
	vb_buf_reset(&b);
	vb_wire_req_encode(&b, &r);
	CHECK_HEX(&b, "0a 00 00 00 c8 00 00 00 01 04 01 00 00 00");

	ctx = "login_user u/p";
	vb_req_init(&r, VB_CMD_LOGIN_USER);
	CHECK(vb_name_set(&r.name, "u") == 0);
	CHECK(vb_name_set(&r.secret, "p") == 0);
	vb_buf_reset(&b);
	vb_wire_req_encode(&b, &r);
	CHECK_HEX(&b, "10 00 00 00 26 00 00 00 "
		      "01 75 01 70 00 00 00 00 00 00 00 00");

	ctx = "get_client 1";
	vb_req_init(&r, VB_CMD_GET_CLIENT);
	r.count = 1;
	vb_buf_reset(&b);
	vb_wire_req_encode(&b, &r);
	CHECK_HEX(&b, "08 00 00 00 15 00 00 00 01 00 00 00");

	/* Status 0 is what an upstream unit test encodes; a server rejects
	 * it while decoding (control.md §4.5: status not 1/2 -> 3). */
	ctx = "create_user u/p status 0";
	vb_req_init(&r, VB_CMD_CREATE_USER);
	CHECK(vb_name_set(&r.name, "u") == 0);
	CHECK(vb_name_set(&r.secret, "p") == 0);
	vb_buf_reset(&b);
	vb_wire_req_encode(&b, &r);
	CHECK_HEX(&b, "0a 00 00 00 21 00 00 00 01 75 01 70 00 00");
	CHECK_FAIL(req_decode(&d, r.code, b.p + 8, b.len - 8, &e), e, 3);

	ctx = "Node SDK create_user with trailing bytes";
	unhex(&want, "05 61 6c 69 63 65 06 73 65 63 72 65 74 01 00 "
		     "01 00 00 00 00");
	CHECK_OK(req_decode(&d, VB_CMD_CREATE_USER, want.p, want.len, &e), e);
	CHECK_U(d.user_status, 1);
	CHECK_U(d.has_perms, 0);
	check_name(&d.name, &(struct vb_name)NAME("alice"), "username");
	check_name(&d.secret, &(struct vb_name)NAME("secret"), "password");

	ctx = "ping with a payload";
	CHECK_OK(req_decode(&d, VB_CMD_PING, want.p, want.len, &e), e);
	vb_buf_release(&b);
	vb_buf_release(&want);
	ctx = "";
}

/* ---- responses: control.md §7.2, messages.md §10.2-§10.4 ---- */

static void check_resp_hdr(const struct vb_buf *b, uint32_t status,
			   uint32_t len)
{
	uint32_t s, l;

	CHECK(b->len >= VB_RESP_HDR);
	vb_wire_resp_hdr(b->p, &s, &l);
	CHECK_U(s, status);
	CHECK_U(l, len);
	CHECK_U(b->len, VB_RESP_HDR + (size_t)len);
}

static void test_response_status(void **state)
{
	static const struct {
		uint32_t status;
		const char *hex;
	} errs[] = {
		{ 40, "28 00 00 00 00 00 00 00" },
		{ 42, "2a 00 00 00 00 00 00 00" },
		{ 1012, "f4 03 00 00 00 00 00 00" },
		{ 3007, "bf 0b 00 00 00 00 00 00" },
		{ 4022, "b6 0f 00 00 00 00 00 00" },
	};
	struct vb_buf b = VB_BUF_INIT;
	size_t mark;

	(void)state;
	ctx = "empty OK";
	mark = vb_wire_resp_begin(&b);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 00 00 00 00");
	check_resp_hdr(&b, 0, 0);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		ctx = errs[i].hex;
		vb_buf_reset(&b);
		vb_wire_resp_error(&b, errs[i].status);
		CHECK_HEX(&b, errs[i].hex);
		check_resp_hdr(&b, errs[i].status, 0);
		CHECK(vb_status_name(errs[i].status) != NULL);
	}

	ctx = "login OK, user_id 0";
	vb_buf_reset(&b);
	mark = vb_wire_resp_begin(&b);
	vb_buf_u32(&b, 0);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 04 00 00 00 00 00 00 00");
	check_resp_hdr(&b, 0, 4);

	/* A second response appended after a first one. */
	ctx = "two responses in one buffer";
	mark = vb_wire_resp_begin(&b);
	vb_buf_u32(&b, 7);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 04 00 00 00 00 00 00 00 "
		      "00 00 00 00 04 00 00 00 07 00 00 00");
	vb_buf_release(&b);
	ctx = "";
}

/*
 * A response-payload decoder under test: returns 0 and consumes the whole
 * payload, or -1 with e filled.
 */
typedef int (*payload_dec)(struct vb_rd *r, void *out, struct vb_err *e);

/* Every strict prefix of a valid payload fails with status 3. */
static void check_prefixes(payload_dec dec, const uint8_t *p, size_t n,
			   void *out)
{
	struct vb_rd r;
	struct vb_err e;

	for (size_t k = 0; k < n; k++) {
		uint8_t *q = dup_n(p, k);

		vb_err_clear(&e);
		vb_rd_init(&r, q, k);
		if (dec(&r, out, &e) != -1)
			fail_msg("%s: %zu-byte prefix of %zu decoded", ctx, k,
				 n);
		if (e.status != VB_ST_INVALID_COMMAND)
			fail_msg("%s: %zu-byte prefix: status %u (%s)", ctx, k,
				 e.status, e.msg);
		CHECK(r.off <= k);
		free(q);
	}
}

/* Decodes a whole payload (exact-size copy); it must all be consumed. */
static void decode_all(payload_dec dec, const uint8_t *p, size_t n, void *out)
{
	struct vb_rd r;
	struct vb_err e;
	uint8_t *q = dup_n(p, n);

	vb_err_clear(&e);
	vb_rd_init(&r, q, n);
	CHECK_OK(dec(&r, out, &e), e);
	CHECK_U(vb_rd_left(&r), 0);
	free(q);
}

static int dec_stream1(struct vb_rd *r, void *out, struct vb_err *e)
{
	return vb_wire_dec_stream(r, out, e);
}

static void test_response_stream(void **state)
{
	const struct vb_stream_info want = {
		.id = 0,
		.created_at = 1700000000000000ull,
		.name = NAME("vibes"),
	};
	struct vb_stream_info got;
	struct vb_buf b = VB_BUF_INIT;
	size_t mark;

	(void)state;
	ctx = "7.2 create_stream OK";
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_stream(&b, &want);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 26 00 00 00 00 00 00 00 00 40 1e 18 "
		      "24 0a 06 00 00 00 00 00 00 00 00 00 00 00 00 00 "
		      "00 00 00 00 00 00 00 00 05 76 69 62 65 73");
	decode_all(dec_stream1, b.p + 8, b.len - 8, &got);
	CHECK_U(got.id, 0);
	CHECK_U(got.created_at, 1700000000000000ull);
	CHECK_U(got.topics_count, 0);
	CHECK_U(got.size_bytes, 0);
	CHECK_U(got.messages_count, 0);
	check_name(&got.name, &want.name, "name");
	check_prefixes(dec_stream1, b.p + 8, b.len - 8, &got);
	vb_buf_release(&b);
	ctx = "";
}

struct topic_details {
	struct vb_topic_info t;
	struct vb_partition_info p[4];
};

static int dec_topic_details(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct topic_details *d = out;

	if (vb_wire_dec_topic(r, &d->t, e))
		return -1;
	if (d->t.partitions_count > 4)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "test: too many partitions");
	for (uint32_t i = 0; i < d->t.partitions_count; i++)
		if (vb_wire_dec_partition(r, &d->p[i], e))
			return -1;
	return 0;
}

#define Z24                                                            \
	"00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
	"00 00 00 00 "

static void test_response_topic(void **state)
{
	const struct vb_topic_info want = {
		.id = 0,
		.created_at = 1700000000000000ull,
		.partitions_count = 2,
		.message_expiry = UINT64_MAX,
		.compression = 1,
		.max_topic_size = UINT64_MAX,
		.replication_factor = 1,
		.name = NAME("events"),
	};
	struct topic_details got;
	struct vb_buf b = VB_BUF_INIT;
	size_t mark;

	(void)state;
	ctx = "7.2 create_topic / get_topic OK";
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_topic(&b, &want);
	for (uint32_t i = 0; i < 2; i++) {
		struct vb_partition_info p = {
			.id = i,
			.created_at = 1700000000000000ull,
		};
		vb_wire_enc_partition(&b, &p);
	}
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 89 00 00 00 "
		      "00 00 00 00 00 40 1e 18 24 0a 06 00 02 00 00 00 "
		      "ff ff ff ff ff ff ff ff 01 ff ff ff ff ff ff ff "
		      "ff 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
		      "00 00 06 65 76 65 6e 74 73 "
		      "00 00 00 00 00 40 1e 18 24 0a 06 00 00 00 00 00 " Z24
		      "01 00 00 00 00 40 1e 18 24 0a 06 00 00 00 00 00 " Z24);
	decode_all(dec_topic_details, b.p + 8, b.len - 8, &got);
	CHECK_U(got.t.id, 0);
	CHECK_U(got.t.created_at, 1700000000000000ull);
	CHECK_U(got.t.partitions_count, 2);
	CHECK_U(got.t.message_expiry, UINT64_MAX);
	CHECK_U(got.t.compression, 1);
	CHECK_U(got.t.max_topic_size, UINT64_MAX);
	CHECK_U(got.t.replication_factor, 1);
	CHECK_U(got.t.size_bytes, 0);
	CHECK_U(got.t.messages_count, 0);
	check_name(&got.t.name, &want.name, "name");
	for (uint32_t i = 0; i < 2; i++) {
		CHECK_U(got.p[i].id, i);
		CHECK_U(got.p[i].created_at, 1700000000000000ull);
		CHECK_U(got.p[i].segments_count, 0);
		CHECK_U(got.p[i].current_offset, 0);
		CHECK_U(got.p[i].size_bytes, 0);
		CHECK_U(got.p[i].messages_count, 0);
	}
	check_prefixes(dec_topic_details, b.p + 8, b.len - 8, &got);
	vb_buf_release(&b);
	ctx = "";
}

static int dec_offset1(struct vb_rd *r, void *out, struct vb_err *e)
{
	return vb_wire_dec_offset(r, out, e);
}

static void test_response_offset(void **state)
{
	const struct vb_offset_info want = { 0, 99, 42 };
	struct vb_offset_info got;
	struct vb_buf b = VB_BUF_INIT;
	size_t mark;

	(void)state;
	ctx = "7.2 get_consumer_offset OK";
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_offset(&b, &want);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 14 00 00 00 00 00 00 00 63 00 00 00 "
		      "00 00 00 00 2a 00 00 00 00 00 00 00");
	decode_all(dec_offset1, b.p + 8, b.len - 8, &got);
	CHECK_U(got.partition_id, 0);
	CHECK_U(got.current_offset, 99);
	CHECK_U(got.stored_offset, 42);
	check_prefixes(dec_offset1, b.p + 8, b.len - 8, &got);
	vb_buf_release(&b);
	ctx = "";
}

struct group_details {
	struct vb_group_info g;
	struct vb_member_info m[4];
};

static int dec_group_details(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct group_details *d = out;

	if (vb_wire_dec_group(r, &d->g, e))
		return -1;
	if (d->g.members_count > 4)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "test: too many members");
	for (uint32_t i = 0; i < d->g.members_count; i++)
		if (vb_wire_dec_member(r, &d->m[i], e))
			return -1;
	return 0;
}

static void test_response_groups(void **state)
{
	const struct vb_group_info created = { 0, 8, 0, NAME("workers") };
	const struct vb_group_info joined = { 0, 8, 2, NAME("workers") };
	static const uint32_t m0[] = { 0, 1, 2, 3, 4, 5, 6 }, m1[] = { 7 };
	struct group_details got;
	struct vb_buf b = VB_BUF_INIT;
	size_t mark;

	(void)state;
	ctx = "7.2 create_consumer_group OK";
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_group(&b, &created);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 14 00 00 00 00 00 00 00 08 00 00 00 "
		      "00 00 00 00 07 77 6f 72 6b 65 72 73");
	decode_all(dec_group_details, b.p + 8, b.len - 8, &got);
	CHECK_U(got.g.id, 0);
	CHECK_U(got.g.partitions_count, 8);
	CHECK_U(got.g.members_count, 0);
	check_name(&got.g.name, &created.name, "name");
	check_prefixes(dec_group_details, b.p + 8, b.len - 8, &got);

	ctx = "7.2 get_consumer_group OK after two joins";
	vb_buf_reset(&b);
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_group(&b, &joined);
	vb_wire_enc_member(&b, 0, m0, 7);
	vb_wire_enc_member(&b, 1, m1, 1);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, "00 00 00 00 44 00 00 00 00 00 00 00 08 00 00 00 "
		      "02 00 00 00 07 77 6f 72 6b 65 72 73 00 00 00 00 "
		      "07 00 00 00 00 00 00 00 01 00 00 00 02 00 00 00 "
		      "03 00 00 00 04 00 00 00 05 00 00 00 06 00 00 00 "
		      "01 00 00 00 01 00 00 00 07 00 00 00");
	decode_all(dec_group_details, b.p + 8, b.len - 8, &got);
	CHECK_U(got.g.members_count, 2);
	CHECK_U(got.m[0].id, 0);
	CHECK_U(got.m[0].partitions_count, 7);
	CHECK_U(got.m[1].id, 1);
	CHECK_U(got.m[1].partitions_count, 1);
	check_prefixes(dec_group_details, b.p + 8, b.len - 8, &got);
	/* decode_all freed its copy: look at parts through the original. */
	{
		struct vb_rd r;
		struct vb_err e;

		vb_rd_init(&r, b.p + 8, b.len - 8);
		CHECK_OK(dec_group_details(&r, &got, &e), e);
		for (uint32_t i = 0; i < 7; i++)
			CHECK_U(vb_member_part(&got.m[0], i), i);
		CHECK_U(vb_member_part(&got.m[1], 0), 7);
	}
	vb_buf_release(&b);
	ctx = "";
}

/* ---- message frames and poll responses (messages.md §1, §6, §10) ---- */

static const char V_A[] = "f1 00 00 00 65 00 00 00 17 00 00 00 02 05 76 69 "
			  "62 65 73 02 06 65 76 65 6e 74 73 03 02 73 31 02 "
			  "00 00 00 00 00 00 00 59 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 00 00 00 b2 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 00 00 00 00 00 00 00 00 40 1e 18 24 "
			  "0a 06 00 00 00 00 00 19 00 00 00 00 00 00 00 00 "
			  "00 00 00 7b 22 73 65 73 73 69 6f 6e 5f 69 64 22 "
			  "3a 22 73 31 22 2c 22 6e 22 3a 31 7d 00 00 00 00 "
			  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			  "00 00 00 00 01 40 1e 18 24 0a 06 00 00 00 00 00 "
			  "19 00 00 00 00 00 00 00 00 00 00 00 7b 22 73 65 "
			  "73 73 69 6f 6e 5f 69 64 22 3a 22 73 31 22 2c 22 "
			  "6e 22 3a 32 7d";

static const char V_B_EMPTY[] =
	"00 00 00 00 10 00 00 00 00 00 00 00 00 00 00 00 "
	"00 00 00 00 00 00 00 00";

static const char V_C[] = "00 00 00 00 69 00 00 00 03 00 00 00 01 00 00 00 "
			  "00 00 00 00 01 00 00 00 c6 20 d3 4f 9d 1a 17 18 "
			  "6f 1c 2b 9e 3d 4a 4b 8c 9e 2f 1a 2b 3c 4d 5e 6f "
			  "00 00 00 00 00 00 00 00 f4 41 1e 18 24 0a 06 00 "
			  "00 40 1e 18 24 0a 06 00 00 00 00 00 19 00 00 00 "
			  "00 00 00 00 00 00 00 00 7b 22 73 65 73 73 69 6f "
			  "6e 5f 69 64 22 3a 22 73 31 22 2c 22 6e 22 3a 31 "
			  "7d";

static const char V_LOG[] = "c6 20 d3 4f 9d 1a 17 18 6f 1c 2b 9e 3d 4a 4b 8c "
			    "9e 2f 1a 2b 3c 4d 5e 6f 00 00 00 00 00 00 00 00 "
			    "f4 41 1e 18 24 0a 06 00 00 40 1e 18 24 0a 06 00 "
			    "00 00 00 00 19 00 00 00 00 00 00 00 00 00 00 00 "
			    "7b 22 73 65 73 73 69 6f 6e 5f 69 64 22 3a 22 73 "
			    "31 22 2c 22 6e 22 3a 31 7d b0 79 5c 61 e5 d1 ac "
			    "33 0b 7e 5a 11 82 c4 4f 3d a1 9b 77 66 55 44 33 "
			    "22 01 00 00 00 00 00 00 00 f4 41 1e 18 24 0a 06 "
			    "00 01 40 1e 18 24 0a 06 00 00 00 00 00 19 00 00 "
			    "00 00 00 00 00 00 00 00 00 7b 22 73 65 73 73 69 "
			    "6f 6e 5f 69 64 22 3a 22 73 31 22 2c 22 6e 22 3a "
			    "32 7d";

static const char V_INDEX[] = "00 00 00 00 59 00 00 00 f4 41 1e 18 24 0a 06 00 "
			      "01 00 00 00 b2 00 00 00 f4 41 1e 18 24 0a 06 00";

static const char V_M4[] = "7f 00 00 00 65 00 00 00 16 00 00 00 01 04 00 00 "
			   "00 00 01 04 00 00 00 00 02 04 00 00 00 00 01 00 "
			   "00 00 00 00 00 00 51 00 00 00 00 00 00 00 00 00 "
			   "00 00 00 00 00 00 00 00 00 00 2a 00 00 00 00 00 "
			   "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			   "00 00 00 00 00 00 00 00 00 00 00 40 1e 18 24 0a "
			   "06 00 0f 00 00 00 02 00 00 00 00 00 00 00 00 00 "
			   "00 00 68 69 02 01 00 00 00 6b 0b 04 00 00 00 07 "
			   "00 00 00";

#define TS_ORIGIN 1700000000000000ull
#define TS_SERVER 1700000000000500ull

static const char P0[] = "{\"session_id\":\"s1\",\"n\":1}";
static const char P1[] = "{\"session_id\":\"s1\",\"n\":2}";
static const uint8_t UUID0[16] = {
	0x6f, 0x1c, 0x2b, 0x9e, 0x3d, 0x4a, 0x4b, 0x8c,
	0x9e, 0x2f, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f,
};
static const uint8_t UUID1[16] = {
	0x0b, 0x7e, 0x5a, 0x11, 0x82, 0xc4, 0x4f, 0x3d,
	0xa1, 0x9b, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
};

static void test_hashes(void **state)
{
	static const struct {
		const char *key;
		size_t len;
		uint32_t h, mod8, mod3, mod10;
	} keys[] = {
		{ "sess-123", 8, 0xACCC19FBu, 3, 1, 7 },
		{ "s1", 2, 0x2B5DF013u, 3, 2, 5 },
		{ "", 0, 0x02CC5D05u, 5, 1, 9 },
		{ "\x07\x00\x00\x00", 4, 0xE68BC8F8u, 0, 1, 2 },
	};
	uint8_t frame[8] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint32_t h = vb_xxh32(keys[i].key, keys[i].len);

		ctx = keys[i].key;
		CHECK_U(h, keys[i].h);
		CHECK_U(h % 8, keys[i].mod8);
		CHECK_U(h % 3, keys[i].mod3);
		CHECK_U(h % 10, keys[i].mod10);
	}
	ctx = "XXH32(\"reader\") (messages.md §5.2)";
	CHECK_U(vb_xxh32("reader", 6), 0x3EEE8E64u);
	CHECK_U(vb_xxh32("reader", 6), 1055821412u);
	/* The checksum covers [8, size): an 8-byte frame hashes nothing. */
	ctx = "XXH3_64(\"\")";
	CHECK_U(vb_wire_msg_checksum(frame, sizeof(frame)),
		0x2D06800538D394C2ull);
	ctx = "";
}

/*
 * The server's append step on the message area of (a): stamping message
 * 0 and 1 with the ids and time of (c) gives the published .log bytes and
 * checksums; the .index example follows from the parsed frames.
 */
static void stamp_a(struct vb_buf *area)
{
	struct vb_buf a = VB_BUF_INIT;

	unhex(&a, V_A);
	vb_buf_reset(area);
	/* frame header 8 + metadata_length 4 + 23 + index 32 */
	vb_buf_add(area, a.p + 67, a.len - 67);
	CHECK_U(area->len, 178);
	vb_wire_msg_stamp(area->p, 89, 0, TS_SERVER, UUID0);
	vb_wire_msg_stamp(area->p + 89, 89, 1, TS_SERVER, UUID1);
	vb_buf_release(&a);
}

static void test_stamp_log_index(void **state)
{
	struct vb_buf area = VB_BUF_INIT, idx = VB_BUF_INIT;
	struct vb_msg m;
	struct vb_err e;
	size_t off = 0;
	uint64_t ck[2] = { 0x18171A9D4FD320C6ull, 0x33ACD1E5615C79B0ull };

	(void)state;
	ctx = "messages.md §10.3 .log";
	stamp_a(&area);
	CHECK_HEX(&area, V_LOG);
	for (unsigned i = 0; i < 2; i++) {
		CHECK_OK(vb_wire_msg_parse(&m, area.p + off, area.len - off,
					   &e),
			 e);
		CHECK_U(m.size, 89);
		CHECK_U(m.checksum, ck[i]);
		CHECK_U(vb_wire_msg_checksum(m.frame, m.size), ck[i]);
		CHECK_MEM(m.id, 16, i ? UUID1 : UUID0, 16);
		CHECK_U(m.offset, i);
		CHECK_U(m.timestamp, TS_SERVER);
		CHECK_U(m.origin_timestamp, TS_ORIGIN + i);
		CHECK_U(m.uhdr_len, 0);
		CHECK_U(m.payload_len, 25);
		CHECK_U(m.reserved, 0);
		CHECK_MEM(m.payload, m.payload_len,
			  (const uint8_t *)(i ? P1 : P0), 25);
		off += m.size;
		/* .index: offset - segment start, end position, timestamp */
		vb_buf_u32(&idx, (uint32_t)m.offset);
		vb_buf_u32(&idx, (uint32_t)off);
		vb_buf_u64(&idx, m.timestamp);
	}
	ctx = "messages.md §7.5 .index";
	CHECK_HEX(&idx, V_INDEX);

	/* A client-chosen (non-zero) id is kept; version bits are forced
	 * only on generated ids. */
	ctx = "stamp keeps a non-zero id";
	{
		uint8_t f[64 + 2] = { 0 };
		uint8_t rnd[16];

		memset(rnd, 0xff, sizeof(rnd));
		f[8] = 42;
		vb_st32(f + 52, 2);
		vb_wire_msg_stamp(f, sizeof(f), 9, 5, rnd);
		CHECK_U(f[8], 42);
		for (int i = 9; i < 24; i++)
			CHECK_U(f[i], 0);
		CHECK_U(vb_ld64(f + 24), 9);
		CHECK_U(vb_ld64(f + 32), 5);
		CHECK_U(vb_ld64(f), vb_wire_msg_checksum(f, sizeof(f)));
		memset(f + 8, 0, 16);
		vb_wire_msg_stamp(f, sizeof(f), 9, 5, rnd);
		CHECK_U(f[8 + 6], 0x4f); /* UUID version 4 */
		CHECK_U(f[8 + 8], 0xbf); /* RFC 4122 variant */
	}
	vb_buf_release(&area);
	vb_buf_release(&idx);
	ctx = "";
}

struct poll_result {
	struct vb_poll_hdr h;
	struct vb_msg m[4];
	unsigned n;
};

static int dec_poll(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct poll_result *pr = out;
	int rc = 0;

	pr->n = 0;
	if (vb_wire_dec_poll_hdr(r, &pr->h, e))
		return -1;
	while (pr->n < 4 && (rc = vb_wire_dec_msg(r, &pr->m[pr->n], e)) == 1)
		pr->n++;
	return rc < 0 ? -1 : 0;
}

static void test_poll_responses(void **state)
{
	struct vb_buf b = VB_BUF_INIT, area = VB_BUF_INIT, want = VB_BUF_INIT;
	struct poll_result pr;
	struct vb_poll_hdr h = { 0, 0, 0 };
	size_t mark;

	(void)state;
	ctx = "10.2 (b) empty poll response";
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_poll_hdr(&b, &h);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, V_B_EMPTY);
	decode_all(dec_poll, b.p + 8, b.len - 8, &pr);
	CHECK_U(pr.h.partition_id, 0);
	CHECK_U(pr.h.current_offset, 0);
	CHECK_U(pr.h.count, 0);
	CHECK_U(pr.n, 0);
	check_prefixes(dec_poll, b.p + 8, b.len - 8, &pr);

	ctx = "10.3 (c) poll response with one message";
	stamp_a(&area);
	h = (struct vb_poll_hdr){ 3, 1, 1 };
	vb_buf_reset(&b);
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_poll_hdr(&b, &h);
	vb_buf_add(&b, area.p, 89);
	vb_wire_resp_end(&b, mark);
	CHECK_HEX(&b, V_C);
	check_resp_hdr(&b, 0, 105);

	unhex(&want, V_C);
	{
		struct vb_rd r;
		struct vb_err e;

		vb_rd_init(&r, want.p + 8, want.len - 8);
		CHECK_OK(dec_poll(&r, &pr, &e), e);
	}
	CHECK_U(pr.h.partition_id, 3);
	CHECK_U(pr.h.current_offset, 1);
	CHECK_U(pr.h.count, 1);
	CHECK_U(pr.n, 1);
	CHECK_U(pr.m[0].checksum, 0x18171A9D4FD320C6ull);
	CHECK_U(vb_wire_msg_checksum(pr.m[0].frame, pr.m[0].size),
		0x18171A9D4FD320C6ull);
	CHECK_MEM(pr.m[0].id, 16, UUID0, 16);
	CHECK_U(pr.m[0].offset, 0);
	CHECK_U(pr.m[0].timestamp, TS_SERVER);
	CHECK_U(pr.m[0].origin_timestamp, TS_ORIGIN);
	CHECK_U(pr.m[0].uhdr_len, 0);
	CHECK_U(pr.m[0].payload_len, 25);
	CHECK_U(pr.m[0].size, 89);
	CHECK_MEM(pr.m[0].payload, 25, (const uint8_t *)P0, 25);
	CHECK(pr.m[0].frame == want.p + 24);

	/* Prefixes: the header fails with 3, a cut frame with 4033, and a
	 * cut exactly between frames leaves fewer frames than announced. */
	for (size_t k = 0; k < want.len - 8; k++) {
		uint8_t *q = dup_n(want.p + 8, k);
		struct vb_rd r;
		struct vb_err e;

		vb_err_clear(&e);
		vb_rd_init(&r, q, k);
		if (dec_poll(&r, &pr, &e) == 0) {
			if (pr.n == pr.h.count)
				fail_msg("%s: %zu-byte prefix decoded whole",
					 ctx, k);
		} else if (!(k < 16 && e.status == VB_ST_INVALID_COMMAND) &&
			   !(k >= 16 && e.status == VB_ST_MISSING_INDEX)) {
			fail_msg("%s: %zu-byte prefix: status %u (%s)", ctx, k,
				 e.status, e.msg);
		}
		free(q);
	}

	/* Two frames back to back: the whole .log as one response. */
	ctx = "poll response with the two stored messages";
	h = (struct vb_poll_hdr){ 3, 1, 2 };
	vb_buf_reset(&b);
	mark = vb_wire_resp_begin(&b);
	vb_wire_enc_poll_hdr(&b, &h);
	vb_buf_add(&b, area.p, area.len);
	vb_wire_resp_end(&b, mark);
	decode_all(dec_poll, b.p + 8, b.len - 8, &pr);
	CHECK_U(pr.n, 2);
	CHECK_U(pr.h.count, 2);

	/* reserved != 0: the SDK decoders' InvalidReservedField (4101). */
	ctx = "poll response with reserved != 0";
	b.p[8 + 16 + 56] = 1;
	{
		struct vb_rd r;
		struct vb_err e;

		vb_rd_init(&r, b.p + 8, b.len - 8);
		CHECK_FAIL(dec_poll(&r, &pr, &e), e,
			   VB_ST_INVALID_RESERVED_FIELD);
	}
	/* payload_len past the end of the response */
	ctx = "poll response with payload_len past the end";
	b.p[8 + 16 + 56] = 0;
	vb_st32(b.p + 8 + 16 + 89 + 52, 0xffffffffu);
	{
		struct vb_rd r;
		struct vb_err e;

		vb_rd_init(&r, b.p + 8, b.len - 8);
		CHECK_FAIL(dec_poll(&r, &pr, &e), e, VB_ST_MISSING_INDEX);
		CHECK_U(pr.n, 1);
	}
	vb_buf_release(&b);
	vb_buf_release(&area);
	vb_buf_release(&want);
	ctx = "";
}

/* ---- send_messages (messages.md §2, §10.1, §10.4) ---- */

/* Checks a decoded view's messages against the inputs. */
static void check_send_view(const struct vb_send_view *v,
			    const struct vb_msg_in *msgs, uint32_t n)
{
	size_t start = 0;

	CHECK_U(v->h.count, n);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t end = vb_ld32(v->index + 16 * (size_t)i + 4);
		struct vb_msg m;
		struct vb_err e;

		CHECK_OK(vb_wire_msg_parse(&m, v->msgs + start, end - start,
					   &e),
			 e);
		CHECK_U(m.size, end - start);
		CHECK_U(m.checksum, 0);
		CHECK_MEM(m.id, 16, msgs[i].id, 16);
		CHECK_U(m.offset, 0);
		CHECK_U(m.timestamp, 0);
		CHECK_U(m.origin_timestamp, msgs[i].origin_timestamp);
		CHECK_U(m.reserved, 0);
		CHECK_MEM(m.payload, m.payload_len, msgs[i].payload,
			  msgs[i].payload_len);
		CHECK_MEM(m.uhdr, m.uhdr_len, msgs[i].uhdr, msgs[i].uhdr_len);
		start = end;
	}
	CHECK_U(start, v->msgs_len);
}

/* Re-encodes a decoded view (what a proxy or the fuzzer does). */
static void reencode_send(struct vb_buf *b, const struct vb_send_view *v)
{
	struct vb_msg_in in[8];
	size_t start = 0;

	CHECK(v->h.count <= 8);
	for (uint32_t i = 0; i < v->h.count; i++) {
		uint32_t end = v->h.count == i + 1 ?
				       (uint32_t)v->msgs_len :
				       vb_ld32(v->index + 16 * (size_t)i + 4);
		struct vb_msg m;
		struct vb_err e;

		CHECK_OK(vb_wire_msg_parse(&m, v->msgs + start, end - start,
					   &e),
			 e);
		memcpy(in[i].id, m.id, 16);
		in[i].origin_timestamp = m.origin_timestamp;
		in[i].payload = m.payload;
		in[i].payload_len = m.payload_len;
		in[i].uhdr = m.uhdr;
		in[i].uhdr_len = m.uhdr_len;
		start = end;
	}
	vb_wire_send_encode(b, &v->h, in, v->h.count);
}

static void test_send_vectors(void **state)
{
	struct vb_send_hdr h;
	struct vb_msg_in msgs[2];
	struct vb_buf b = VB_BUF_INIT, want = VB_BUF_INIT;
	struct vb_send_view v;
	struct vb_err e;
	uint32_t len, code;
	/* One user header per line (clang-format would fill the lines). */
	/* clang-format off */
	static const uint8_t uhdr[15] = {
		0x02, 0x01, 0x00, 0x00, 0x00, 0x6b,
		0x0b, 0x04, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
	};
	/* clang-format on */

	(void)state;
	ctx = "10.1 (a) send_messages";
	memset(&h, 0, sizeof(h));
	CHECK(vb_ident_str(&h.stream, "vibes") == 0);
	CHECK(vb_ident_str(&h.topic, "events") == 0);
	h.part_kind = VB_PART_KEY;
	h.key_len = 2;
	memcpy(h.key, "s1", 2);
	memset(msgs, 0, sizeof(msgs));
	msgs[0].origin_timestamp = TS_ORIGIN;
	msgs[0].payload = P0;
	msgs[0].payload_len = 25;
	msgs[1].origin_timestamp = TS_ORIGIN + 1;
	msgs[1].payload = P1;
	msgs[1].payload_len = 25;
	vb_wire_send_encode(&b, &h, msgs, 2);
	CHECK_HEX(&b, V_A);
	CHECK_U(b.len, 245);

	unhex(&want, V_A);
	vb_wire_req_hdr(want.p, &len, &code);
	CHECK_U(len, 241);
	CHECK_U(code, VB_CMD_SEND_MESSAGES);
	CHECK_OK(send_decode(&v, want.p + 8, want.len - 8, &e), e);
	check_ident(&v.h.stream, &h.stream, "stream");
	check_ident(&v.h.topic, &h.topic, "topic");
	CHECK_U(v.h.part_kind, VB_PART_KEY);
	CHECK_U(v.h.key_len, 2);
	CHECK(memcmp(v.h.key, "s1", 2) == 0);
	CHECK_U(vb_xxh32(v.h.key, v.h.key_len) % 8, 3);
	CHECK_U(v.msgs_len, 178);
	check_send_view(&v, msgs, 2);
	vb_buf_reset(&b);
	reencode_send(&b, &v);
	CHECK_BUF(&b, &want);
	/* send_messages is not a vb_wire_req_decode command */
	{
		struct vb_req r;

		CHECK_FAIL(req_decode(&r, VB_CMD_SEND_MESSAGES, want.p + 8,
				      want.len - 8, &e),
			   e, 3);
	}

	/* Prefixes: metadata or index cut -> 3, message area cut -> 4033. */
	for (size_t k = 0; k < want.len - 8; k++) {
		vb_err_clear(&e);
		if (send_decode(&v, want.p + 8, k, &e) != -1)
			fail_msg("%s: %zu-byte prefix decoded", ctx, k);
		if (e.status != (k < 59 ? 3u : 4033u))
			fail_msg("%s: %zu-byte prefix: status %u (%s)", ctx, k,
				 e.status, e.msg);
	}

	ctx = "10.4 #4 send_messages with id 42 and a user header";
	memset(&h, 0, sizeof(h));
	vb_ident_num(&h.stream, 0);
	vb_ident_num(&h.topic, 0);
	h.part_kind = VB_PART_ID;
	h.partition_id = 0;
	memset(msgs, 0, sizeof(msgs));
	msgs[0].id[0] = 42;
	msgs[0].origin_timestamp = TS_ORIGIN;
	msgs[0].payload = "hi";
	msgs[0].payload_len = 2;
	msgs[0].uhdr = uhdr;
	msgs[0].uhdr_len = 15;
	vb_buf_reset(&b);
	vb_wire_send_encode(&b, &h, msgs, 1);
	CHECK_HEX(&b, V_M4);
	unhex(&want, V_M4);
	CHECK_OK(send_decode(&v, want.p + 8, want.len - 8, &e), e);
	check_ident(&v.h.stream, &h.stream, "stream");
	check_ident(&v.h.topic, &h.topic, "topic");
	CHECK_U(v.h.part_kind, VB_PART_ID);
	CHECK_U(v.h.partition_id, 0);
	CHECK_U(vb_ld32(v.index + 4), 81);
	check_send_view(&v, msgs, 1);
	vb_buf_reset(&b);
	reencode_send(&b, &v);
	CHECK_BUF(&b, &want);
	for (size_t k = 0; k < want.len - 8; k++) {
		vb_err_clear(&e);
		if (send_decode(&v, want.p + 8, k, &e) != -1)
			fail_msg("%s: %zu-byte prefix decoded", ctx, k);
		if (e.status != (k < 4 + 22 + 16 ? 3u : 4033u))
			fail_msg("%s: %zu-byte prefix: status %u (%s)", ctx, k,
				 e.status, e.msg);
	}
	vb_buf_release(&b);
	vb_buf_release(&want);
	ctx = "";
}

/* Fragment encodings of messages.md §10.4 (partitioning, strategies). */
static void test_fragments(void **state)
{
	static const struct {
		uint8_t kind;
		uint32_t id;
		const char *key;
		const char *hex;
	} parts[] = {
		{ VB_PART_BALANCED, 0, NULL, "01 00" },
		{ VB_PART_ID, 3, NULL, "02 04 03 00 00 00" },
		{ VB_PART_KEY, 0, "s1", "03 02 73 31" },
	};
	static const struct {
		uint8_t kind;
		uint64_t value;
		const char *hex;
	} strategies[] = {
		{ VB_POLL_OFFSET, 0, "01 00 00 00 00 00 00 00 00" },
		{ VB_POLL_TIMESTAMP, TS_ORIGIN, "02 00 40 1e 18 24 0a 06 00" },
		{ VB_POLL_FIRST, 0, "03 00 00 00 00 00 00 00 00" },
		{ VB_POLL_LAST, 0, "04 00 00 00 00 00 00 00 00" },
		{ VB_POLL_NEXT, 0, "05 00 00 00 00 00 00 00 00" },
	};
	struct vb_buf b = VB_BUF_INIT, frag = VB_BUF_INIT;
	struct vb_send_hdr h;
	struct vb_msg_in m = { .payload = "x", .payload_len = 1 };
	struct vb_send_view v;
	struct vb_req r, d;
	struct vb_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t plen;

		ctx = parts[i].hex;
		memset(&h, 0, sizeof(h));
		vb_ident_num(&h.stream, 0);
		vb_ident_num(&h.topic, 0);
		h.part_kind = parts[i].kind;
		h.partition_id = parts[i].id;
		if (parts[i].key) {
			h.key_len = (uint8_t)strlen(parts[i].key);
			memcpy(h.key, parts[i].key, h.key_len);
		}
		vb_buf_reset(&b);
		vb_wire_send_encode(&b, &h, &m, 1);
		/* frame 8, metadata_length 4, two numeric ids 12 */
		plen = vb_ld32(b.p + 8) - 12 - 4;
		vb_buf_reset(&frag);
		vb_buf_add(&frag, b.p + 24, plen);
		CHECK_HEX(&frag, parts[i].hex);
		CHECK_OK(send_decode(&v, b.p + 8, b.len - 8, &e), e);
		CHECK_U(v.h.part_kind, parts[i].kind);
		CHECK_U(v.h.partition_id, parts[i].id);
		CHECK_U(v.h.key_len, parts[i].key ? strlen(parts[i].key) : 0);
	}
	for (size_t i = 0; i < sizeof(strategies) / sizeof(strategies[0]);
	     i++) {
		ctx = strategies[i].hex;
		vb_req_init(&r, VB_CMD_POLL_MESSAGES);
		r.consumer.kind = VB_CONSUMER;
		vb_ident_num(&r.consumer.id, 1);
		vb_ident_num(&r.stream, 0);
		vb_ident_num(&r.topic, 0);
		r.strategy = strategies[i].kind;
		r.value = strategies[i].value;
		r.count = 1;
		vb_buf_reset(&b);
		vb_wire_req_encode(&b, &r);
		/* frame 8, consumer 7, ids 12, partition 5 */
		vb_buf_reset(&frag);
		vb_buf_add(&frag, b.p + 32, 9);
		CHECK_HEX(&frag, strategies[i].hex);
		CHECK_OK(req_decode(&d, r.code, b.p + 8, b.len - 8, &e), e);
		check_req(&d, &r);
	}
	vb_buf_release(&b);
	vb_buf_release(&frag);
	ctx = "";
}

/* ---- malformed requests (control.md §1.3, §4; messages.md §5.1) ---- */

struct bad_req {
	const char *name;
	uint32_t code;
	const char *payload; /* hex */
	uint32_t status;
};

/* One request per line: name, code, payload, status. */
/* clang-format off */
static const struct bad_req bad_reqs[] = {
	{ "identifier kind 0", 200, "00 04 00 00 00 00", 3 },
	{ "identifier kind 3", 200, "03 04 00 00 00 00", 3 },
	{ "identifier kind 255", 300, "01 04 00 00 00 00 ff 01 61", 3 },
	{ "numeric identifier length 3", 200, "01 03 00 00 00", 4 },
	{ "numeric identifier length 5", 200, "01 05 00 00 00 00 00", 4 },
	{ "numeric identifier length 0", 203, "01 00", 4 },
	{ "empty string identifier", 200, "02 00", 4 },
	{ "string identifier past the end", 200, "02 ff 61 62", 3 },
	{ "empty topic identifier", 300, "01 04 00 00 00 00 02 00", 4 },
	{ "group identifier kind 3", 604,
	  "01 04 00 00 00 00 01 04 00 00 00 00 03 04 00 00 00 00", 3 },
	{ "consumer kind 0", 120,
	  "00 01 04 01 00 00 00 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00", 3 },
	{ "consumer kind 3", 120,
	  "03 01 04 01 00 00 00 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00", 3 },
	{ "consumer id numeric length 2", 121,
	  "01 01 02 01 00 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00 2a 00 00 00 00 00 00 00", 4 },
	{ "poll consumer kind 3", 100,
	  "03 02 06 72 65 61 64 65 72 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00 01 00 00 00 00 00 00 00 00 64 00 00 00 00", 3 },
	{ "poll strategy 0", 100,
	  "01 02 06 72 65 61 64 65 72 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00 00 00 00 00 00 00 00 00 00 64 00 00 00 00", 3 },
	{ "poll strategy 6", 100,
	  "01 02 06 72 65 61 64 65 72 01 04 00 00 00 00 01 04 00 00 00 00 "
	  "01 00 00 00 00 06 00 00 00 00 00 00 00 00 64 00 00 00 00", 3 },
	{ "poll stream numeric length 8", 100,
	  "01 02 06 72 65 61 64 65 72 01 08 00 00 00 00 00 00 00 00 "
	  "01 04 00 00 00 00 01 00 00 00 00 01 00 00 00 00 00 00 00 00 "
	  "64 00 00 00 00", 4 },
	{ "flush empty topic name", 102,
	  "01 04 00 00 00 00 02 00 03 00 00 00 01", 4 },
	{ "create_user status 0", 33,
	  "05 61 6c 69 63 65 06 73 65 63 72 65 74 00 00", 3 },
	{ "create_user status 3", 33,
	  "05 61 6c 69 63 65 06 73 65 63 72 65 74 03 00", 3 },
	{ "update_user status 0", 35, "01 04 01 00 00 00 00 01 00", 3 },
	{ "update_user status 3", 35, "01 04 01 00 00 00 00 01 03", 3 },
	{ "update_user empty username", 35, "01 04 01 00 00 00 01 00 00", 4 },
	{ "create_user permissions length 31 for 32 bytes", 33,
	  "03 62 6f 62 03 70 77 64 01 01 1f 00 00 00 " PERMS_HEX, 4 },
	{ "create_user permissions length 33 for 32 bytes", 33,
	  "03 62 6f 62 03 70 77 64 01 01 21 00 00 00 " PERMS_HEX " 00", 4 },
	{ "update_permissions length 4294967295", 36,
	  "01 04 01 00 00 00 01 ff ff ff ff " PERMS_HEX, 4 },
	{ "update_permissions block cut short", 36,
	  "01 04 01 00 00 00 01 20 00 00 00 01 01 00 01 00 01 00 01 01 01 "
	  "01 07 00 00 00", 3 },
	{ "create_stream empty name", 202, "00", 4 },
	{ "create_stream name past the end", 202, "05 76 69", 3 },
	{ "create_stream invalid UTF-8 (c3 28)", 202, "02 c3 28", 3 },
	{ "create_stream overlong NUL (c0 80)", 202, "02 c0 80", 3 },
	{ "create_stream overlong (e0 80 80)", 202, "03 e0 80 80", 3 },
	{ "create_stream surrogate (ed a0 80)", 202, "03 ed a0 80", 3 },
	{ "create_stream above U+10FFFF", 202, "04 f4 90 80 80", 3 },
	{ "create_stream byte f5", 202, "04 f5 80 80 80", 3 },
	{ "create_stream lone continuation", 202, "01 80", 3 },
	{ "create_stream cut sequence", 202, "02 e2 82", 3 },
	{ "string identifier invalid UTF-8", 200, "02 01 ff", 3 },
	{ "create_topic empty name", 302,
	  "01 04 00 00 00 00 08 00 00 00 01 00 00 00 00 00 00 00 00 00 00 "
	  "00 00 00 00 00 00 01 00", 4 },
	{ "login empty username", 38, "00 04 69 67 67 79 00 00 00 00 00 00 "
	  "00 00", 4 },
	{ "login version length past the end", 38,
	  "04 69 67 67 79 04 69 67 67 79 ff ff ff ff 00 00 00 00", 3 },
	{ "login context length past the end", 38,
	  "04 69 67 67 79 04 69 67 67 79 00 00 00 00 10 00 00 00 61", 3 },
	{ "login version invalid UTF-8", 38,
	  "04 69 67 67 79 04 69 67 67 79 01 00 00 00 ff 00 00 00 00", 3 },
	{ "login password invalid UTF-8", 38,
	  "04 69 67 67 79 01 ff 00 00 00 00 00 00 00 00", 3 },
	{ "login without version/context fields", 38,
	  "04 69 67 67 79 04 69 67 67 79", 3 },
	{ "snapshot types past the end", 11, "01 ff 01 02", 3 },
	{ "unknown command 0", 0, "", 3 },
	{ "unknown command 40", 40, "", 3 },
	{ "unknown command 400", 400, "01 04 00 00 00 00", 3 },
	{ "unknown command 4294967295", 0xffffffffu, "", 3 },
};
/* clang-format on */

static void test_malformed_requests(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;
	struct vb_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
		ctx = bad_reqs[i].name;
		unhex(&b, bad_reqs[i].payload);
		CHECK_FAIL(req_decode(&r, bad_reqs[i].code, b.p, b.len, &e), e,
			   bad_reqs[i].status);
		/* the same with a NULL error: no crash, still -1 */
		{
			uint8_t *q = dup_n(b.p, b.len);

			CHECK(vb_wire_req_decode(&r, bad_reqs[i].code, q, b.len,
						 NULL) == -1);
			free(q);
		}
	}
	/* send_messages (101) has its own decoder */
	ctx = "req_decode on send_messages";
	unhex(&b, V_A);
	CHECK_FAIL(req_decode(&r, VB_CMD_SEND_MESSAGES, b.p + 8, b.len - 8, &e),
		   e, 3);
	/* A valid name that uses all of UTF-8 */
	ctx = "create_stream with 2-, 3- and 4-byte UTF-8 and U+10FFFF";
	unhex(&b, "0d c3 a9 e2 82 ac f0 9d 84 9e f4 8f bf bf");
	CHECK_OK(req_decode(&r, VB_CMD_CREATE_STREAM, b.p, b.len, &e), e);
	CHECK_U(r.name.len, 13);
	/* the longest name */
	ctx = "255-byte name";
	vb_buf_reset(&b);
	vb_buf_u8(&b, 255);
	for (int i = 0; i < 255; i++)
		vb_buf_addch(&b, 'a' + i % 26);
	CHECK_OK(req_decode(&r, VB_CMD_CREATE_STREAM, b.p, b.len, &e), e);
	CHECK_U(r.name.len, 255);
	CHECK_U(strlen(r.name.s), 255);
	vb_buf_release(&b);
	ctx = "";
}

static void test_names_and_idents(void **state)
{
	struct vb_name n;
	struct vb_ident id;
	char big[300], fmt[64];

	(void)state;
	ctx = "vb_name_set / vb_ident_str";
	memset(big, 'x', sizeof(big));
	big[256] = 0;
	CHECK(vb_name_set(&n, "") == -1);
	CHECK(vb_name_set(&n, big) == -1);
	big[255] = 0;
	CHECK(vb_name_set(&n, big) == 0);
	CHECK_U(n.len, 255);
	CHECK(vb_ident_str(&id, "") == -1);
	CHECK(vb_ident_str(&id, "vibes") == 0);
	CHECK_U(id.kind, VB_ID_STR);
	CHECK(strcmp(vb_ident_fmt(&id, fmt, sizeof(fmt)), "\"vibes\"") == 0);
	vb_ident_num(&id, 7);
	CHECK(strcmp(vb_ident_fmt(&id, fmt, sizeof(fmt)), "7") == 0);
	CHECK(vb_cmd_name(VB_CMD_SEND_MESSAGES) != NULL);
	CHECK(vb_cmd_lookup(40, VB_GEN_08) == NULL);
	CHECK(vb_cmd_lookup(40, VB_GEN_09) != NULL);
	CHECK(vb_cmd_name(7) == NULL);
	ctx = "";
}

/* ---- send_messages validation (messages.md §2.3) ---- */

/* Offsets into the payload of (a) (frame offset - 8). */
enum {
	A_META = 0,
	A_STREAM = 4,
	A_TOPIC = 11,
	A_PART = 19,
	A_COUNT = 23,
	A_IDX0 = 27,
	A_IDX1 = 43,
	A_MSG0 = 59,
	A_MSG1 = 148,
};

struct send_case {
	const char *name;
	size_t at;	 /* payload offset to patch */
	const char *hex; /* bytes written there */
	uint32_t status;
};

static const struct send_case send_cases[] = {
	{ "stream identifier kind 0", A_STREAM, "00", 6 },
	{ "stream identifier kind 3", A_STREAM, "03", 6 },
	{ "stream empty string identifier", A_STREAM + 1, "00", 6 },
	{ "topic identifier kind 0", A_TOPIC, "00", 6 },
	{ "topic numeric identifier length 6", A_TOPIC, "01 06", 6 },
	{ "topic string past the metadata", A_TOPIC + 1, "0f", 6 },
	{ "stream cut by metadata_length 5", A_META, "05", 6 },
	{ "topic cut by metadata_length 9", A_META, "09", 6 },
	{ "partitioning kind 0", A_PART, "00", 3 },
	{ "partitioning kind 4", A_PART, "04", 3 },
	{ "balanced with length 2", A_PART, "01 02", 3 },
	{ "partition_id with length 2", A_PART, "02 02", 3 },
	{ "messages_key past the metadata", A_PART + 1, "ff", 3 },
	{ "messages_count cut by metadata_length 20", A_META, "14", 3 },
	{ "partitioning cut by metadata_length 15", A_META, "0f", 3 },
	{ "metadata_length past the payload", A_META, "ff ff ff ff", 3 },
	{ "metadata_length 238", A_META, "ee", 3 },
	{ "index block past the payload", A_COUNT, "00 00 00 10", 3 },
	{ "index block 4294967295 entries", A_COUNT, "ff ff ff ff", 3 },
	{ "messages_count 0", A_COUNT, "00", 4009 },
	{ "index[0] offset 1", A_IDX0, "01", 4031 },
	{ "index[1] offset 1", A_IDX1, "01", 4031 },
	{ "index[0] offset and timestamp", A_IDX0, "01 00 00 00 59 00 00 00 01",
	  4031 },
	{ "index[0] timestamp", A_IDX0 + 15, "80", 4032 },
	{ "index[1] timestamp", A_IDX1 + 8, "01", 4032 },
	{ "index[0] timestamp before index[1] offset", A_IDX0 + 8,
	  "01 00 00 00 00 00 00 00 01", 4032 },
	{ "index[0] position past the area", A_IDX0 + 4, "00 10", 4033 },
	{ "index[0] position 0", A_IDX0 + 4, "00", 4033 },
	{ "index[0] position 30 (< 64)", A_IDX0 + 4, "1e", 4033 },
	{ "index[0] position 88 (< 89)", A_IDX0 + 4, "58", 4033 },
	{ "index[0] position 90 leaves message 1 short", A_IDX0 + 4, "5a",
	  4033 },
	{ "message 0 payload_len 26", A_MSG0 + 52, "1a", 4033 },
	{ "message 1 user_headers_length 1", A_MSG1 + 48, "01", 4033 },
	{ "message 0 payload_len 4294967295", A_MSG0 + 52, "ff ff ff ff",
	  4033 },
	{ "index[1] position 88 (< 89)", A_IDX1 + 4, "58", 10011 },
	{ "index[1] position 0", A_IDX1 + 4, "00", 10011 },
	/* stricter than upstream, after all of its checks */
	{ "index[1] position 179 (area 178)", A_IDX1 + 4, "b3", 4033 },
	{ "index[1] position 177 (area 178)", A_IDX1 + 4, "b1", 4033 },
	{ "index[1] position 4294967295", A_IDX1 + 4, "ff ff ff ff", 4033 },
	{ "message 0 reserved 1", A_MSG0 + 56, "01", 4101 },
	{ "message 1 reserved 2^63", A_MSG1 + 63, "80", 4101 },
	{ "message 0 checksum 1", A_MSG0, "01", 4027 },
	{ "message 1 checksum all ones", A_MSG1, "ff ff ff ff ff ff ff ff",
	  4027 },
};

static void check_send_case(const struct vb_buf *base, const char *name,
			    size_t at, const char *hex, uint32_t status)
{
	struct vb_buf b = VB_BUF_INIT, patch = VB_BUF_INIT;
	struct vb_send_view v;
	struct vb_err e;

	ctx = name;
	vb_buf_add(&b, base->p, base->len);
	unhex(&patch, hex);
	CHECK(at + patch.len <= b.len);
	if (patch.len)
		memcpy(b.p + at, patch.p, patch.len);
	if (status == 0) {
		CHECK_OK(send_decode(&v, b.p, b.len, &e), e);
	} else {
		CHECK_FAIL(send_decode(&v, b.p, b.len, &e), e, status);
		/* a NULL error pointer must not crash either */
		{
			uint8_t *q = dup_n(b.p, b.len);

			CHECK(vb_wire_send_decode(&v, q, b.len, NULL) == -1);
			free(q);
		}
	}
	vb_buf_release(&b);
	vb_buf_release(&patch);
}

static void test_send_validation(void **state)
{
	struct vb_buf a = VB_BUF_INIT, b = VB_BUF_INIT, big = VB_BUF_INIT;
	struct vb_send_view v;
	struct vb_err e;
	struct vb_send_hdr h;
	struct vb_msg_in m;
	uint8_t *blob;

	(void)state;
	unhex(&a, V_A);
	vb_buf_consume(&a, 8); /* the payload */
	for (size_t i = 0; i < sizeof(send_cases) / sizeof(send_cases[0]); i++)
		check_send_case(&a, send_cases[i].name, send_cases[i].at,
				send_cases[i].hex, send_cases[i].status);

	/* header offsets must not decrease (4100); equal is fine */
	vb_buf_add(&b, a.p, a.len);
	vb_st64(b.p + A_MSG0 + 24, 5);
	vb_st64(b.p + A_MSG1 + 24, 4);
	check_send_case(&b, "header offsets 5 then 4", 0, "", 4100);
	vb_st64(b.p + A_MSG1 + 24, 5);
	check_send_case(&b, "header offsets 5 then 5", 0, "", 0);
	/* 4100 on message 1 comes before its 10011 */
	vb_st64(b.p + A_MSG1 + 24, 4);
	check_send_case(&b, "offset decrease and position decrease", A_IDX1 + 4,
			"58", 4100);

	/* one extra byte in the message area: sizes do not add up */
	ctx = "message area one byte longer";
	vb_buf_reset(&b);
	vb_buf_add(&b, a.p, a.len);
	vb_buf_addch(&b, 0);
	CHECK_FAIL(send_decode(&v, b.p, b.len, &e), e, 4036);
	/* index[0] 90 with a 90-byte message 1 area: message 0 is 89 bytes
	 * in a 90-byte slot, the frames add up to 178 of 179 -> 4036 */
	vb_st32(b.p + A_IDX0 + 4, 90);
	vb_st32(b.p + A_IDX1 + 4, 180);
	memmove(b.p + A_MSG0 + 90, b.p + A_MSG0 + 89, 89);
	CHECK_FAIL(send_decode(&v, b.p, b.len, &e), e, 4036);

	/*
	 * Reserved and checksum (stricter than upstream) come after every
	 * check of §2.3, then in message order, reserved first; the error
	 * names the message.  A checksum of 0 is never checked; a right
	 * one passes.
	 */
	vb_buf_reset(&b);
	vb_buf_add(&b, a.p, a.len);
	vb_st64(b.p + A_MSG1 + 56, 1);
	vb_st64(b.p + A_MSG1 + 24, 4);
	vb_st64(b.p + A_MSG0 + 24, 5);
	check_send_case(&b, "message 1 reserved and offsets 5 then 4", 0, "",
			4100);
	vb_st64(b.p + A_MSG0 + 24, 0);
	vb_st64(b.p + A_MSG1 + 24, 0);
	check_send_case(&b, "message 1 reserved, index[0] position 0",
			A_IDX0 + 4, "00", 4033);
	check_send_case(&b, "message 1 reserved, index[1] position 88",
			A_IDX1 + 4, "58", 10011);
	check_send_case(&b, "message 1 reserved, index[1] position 179",
			A_IDX1 + 4, "b3", 4033);
	vb_st64(b.p + A_MSG0, 1);
	check_send_case(&b, "message 0 checksum, message 1 reserved", 0, "",
			4027);
	ctx = "message 0 checksum, message 1 reserved: the message named";
	CHECK_FAIL(send_decode(&v, b.p, b.len, &e), e, 4027);
	CHECK(strstr(e.msg, "message 0") != NULL);
	vb_st64(b.p + A_MSG0 + 56, 1);
	check_send_case(&b, "message 0 checksum and reserved", 0, "", 4101);
	vb_st64(b.p + A_MSG0, 0);
	vb_st64(b.p + A_MSG0 + 56, 0);
	ctx = "message 1 reserved: the message named";
	CHECK_FAIL(send_decode(&v, b.p, b.len, &e), e, 4101);
	CHECK(strstr(e.msg, "message 1") != NULL);
	vb_buf_addch(&b, 0);
	check_send_case(&b, "message 1 reserved, area one byte longer", 0, "",
			4036);
	vb_buf_reset(&b);
	vb_buf_add(&b, a.p, a.len);
	check_send_case(&b, "checksums 0", 0, "", 0);
	vb_st64(b.p + A_MSG1, vb_wire_msg_checksum(b.p + A_MSG1, 89));
	check_send_case(&b, "message 1 checksum right, message 0 0", 0, "", 0);
	vb_st64(b.p + A_MSG0, vb_wire_msg_checksum(b.p + A_MSG0, 89));
	check_send_case(&b, "both checksums right", 0, "", 0);
	b.p[A_MSG1 + 64] ^= 1;
	check_send_case(&b, "message 1 payload changed after its checksum", 0,
			"", 4027);
	b.p[A_MSG1 + 64] ^= 1;
	vb_st64(b.p + A_MSG0 + 8, 42);
	check_send_case(&b, "message 0 id changed after its checksum", 0, "",
			4027);

	/* bytes inside the declared metadata after messages_count are
	 * ignored (§2.3 step 3) */
	ctx = "extra byte inside the metadata";
	vb_buf_reset(&b);
	vb_buf_add(&b, a.p, A_IDX0);
	vb_buf_addch(&b, 0x5a);
	vb_buf_add(&b, a.p + A_IDX0, a.len - A_IDX0);
	vb_st32(b.p, 24);
	CHECK_OK(send_decode(&v, b.p, b.len, &e), e);
	CHECK_U(v.h.count, 2);
	CHECK_U(v.msgs_len, 178);

	/* payload and user-header limits (4022, 4017) need real bytes:
	 * a frame is only checked after it could be located */
	memset(&h, 0, sizeof(h));
	vb_ident_num(&h.stream, 0);
	vb_ident_num(&h.topic, 0);
	h.part_kind = VB_PART_BALANCED;
	blob = calloc(1, VB_PAYLOAD_MAX + 1);
	assert_non_null(blob);
	memset(&m, 0, sizeof(m));
	m.payload = blob;
	m.uhdr = blob;

	ctx = "user headers 100000 bytes";
	m.payload_len = 1;
	m.uhdr_len = VB_UHDR_MAX;
	vb_wire_send_encode(&big, &h, &m, 1);
	CHECK_OK(send_decode(&v, big.p + 8, big.len - 8, &e), e);
	ctx = "user headers 100001 bytes";
	m.uhdr_len = VB_UHDR_MAX + 1;
	vb_buf_reset(&big);
	vb_wire_send_encode(&big, &h, &m, 1);
	CHECK_FAIL(send_decode(&v, big.p + 8, big.len - 8, &e), e, 4017);
	ctx = "payload 64000001 bytes";
	m.uhdr_len = 0;
	m.payload_len = VB_PAYLOAD_MAX + 1;
	vb_buf_reset(&big);
	vb_wire_send_encode(&big, &h, &m, 1);
	/* no exact-size copy of 64 MB here */
	vb_err_clear(&e);
	CHECK_FAIL(vb_wire_send_decode(&v, big.p + 8, big.len - 8, &e), e,
		   4022);
	ctx = "payload 64000001 bytes and user headers 100001 bytes";
	m.uhdr_len = VB_UHDR_MAX + 1;
	vb_buf_reset(&big);
	vb_wire_send_encode(&big, &h, &m, 1);
	vb_err_clear(&e);
	CHECK_FAIL(vb_wire_send_decode(&v, big.p + 8, big.len - 8, &e), e,
		   4022);
	free(blob);
	vb_buf_release(&big);

	/* an empty payload is accepted by the 0.8.0 server (§1) */
	ctx = "empty payload";
	m.payload_len = 0;
	m.uhdr_len = 0;
	vb_buf_reset(&b);
	vb_wire_send_encode(&b, &h, &m, 1);
	CHECK_OK(send_decode(&v, b.p + 8, b.len - 8, &e), e);
	CHECK_U(v.msgs_len, 64);
	/* an empty messages_key is accepted too (§3.3) */
	ctx = "empty messages_key";
	h.part_kind = VB_PART_KEY;
	h.key_len = 0;
	vb_buf_reset(&b);
	vb_wire_send_encode(&b, &h, &m, 1);
	CHECK_OK(send_decode(&v, b.p + 8, b.len - 8, &e), e);
	CHECK_U(v.h.part_kind, VB_PART_KEY);
	CHECK_U(v.h.key_len, 0);
	CHECK_U(vb_xxh32(v.h.key, 0) % 8, 5);

	vb_buf_release(&a);
	vb_buf_release(&b);
	ctx = "";
}

/* ---- other response records (control.md §5) ---- */

struct me {
	struct vb_client_info c;
	struct vb_group_ref g[4];
};

static int dec_me(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct me *me = out;

	if (vb_wire_dec_client(r, &me->c, e))
		return -1;
	if (me->c.groups_count > 4)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "test: too many groups");
	for (uint32_t i = 0; i < me->c.groups_count; i++)
		if (vb_wire_dec_group_ref(r, &me->g[i], e))
			return -1;
	return 0;
}

static void test_response_clients(void **state)
{
	const struct vb_client_info c = {
		.client_id = 0x12345678,
		.user_id = 0,
		.transport = 1,
		.address = "127.0.0.1:50412",
		.groups_count = 2,
	};
	const struct vb_group_ref g[2] = { { 0, 0, 0 }, { 1, 2, 3 } };
	struct vb_buf b = VB_BUF_INIT;
	struct me me;
	struct vb_rd r;
	struct vb_err e;

	(void)state;
	ctx = "get_me: Client + group entries";
	vb_wire_enc_client(&b, &c);
	vb_wire_enc_group_ref(&b, &g[0]);
	vb_wire_enc_group_ref(&b, &g[1]);
	CHECK_HEX(&b, "78 56 34 12 00 00 00 00 01 0f 00 00 00 31 32 37 "
		      "2e 30 2e 30 2e 31 3a 35 30 34 31 32 02 00 00 00 "
		      "00 00 00 00 00 00 00 00 00 00 00 00 "
		      "01 00 00 00 02 00 00 00 03 00 00 00");
	decode_all(dec_me, b.p, b.len, &me);
	CHECK_U(me.c.client_id, 0x12345678);
	CHECK_U(me.c.user_id, 0);
	CHECK_U(me.c.transport, 1);
	CHECK(strcmp(me.c.address, "127.0.0.1:50412") == 0);
	CHECK_U(me.c.groups_count, 2);
	CHECK_U(me.g[1].stream_id, 1);
	CHECK_U(me.g[1].topic_id, 2);
	CHECK_U(me.g[1].group_id, 3);
	check_prefixes(dec_me, b.p, b.len, &me);

	ctx = "get_clients: two Client records";
	vb_buf_reset(&b);
	vb_wire_enc_client(&b, &c);
	{
		struct vb_client_info c2 = c;

		c2.client_id = 9;
		c2.user_id = 0xffffffffu;
		c2.groups_count = 0;
		vb_wire_enc_client(&b, &c2);
	}
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_client(&r, &me.c, &e), e);
	CHECK_U(me.c.client_id, 0x12345678);
	CHECK_OK(vb_wire_dec_client(&r, &me.c, &e), e);
	CHECK_U(me.c.client_id, 9);
	CHECK_U(me.c.user_id, 0xffffffffu);
	CHECK_U(vb_rd_left(&r), 0);

	ctx = "client address length past the end";
	vb_buf_reset(&b);
	vb_wire_enc_client(&b, &c);
	vb_st32(b.p + 9, 0xffffffffu);
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(vb_wire_dec_client(&r, &me.c, &e), e, 3);
	vb_st32(b.p + 9, 16);
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(vb_wire_dec_client(&r, &me.c, &e), e, 3);

	ctx = "client address longer than the field";
	vb_buf_reset(&b);
	vb_buf_u32(&b, 1);
	vb_buf_u32(&b, 2);
	vb_buf_u8(&b, 1);
	vb_buf_u32(&b, 200);
	for (int i = 0; i < 200; i++)
		vb_buf_addch(&b, 'a');
	vb_buf_u32(&b, 0);
	decode_all(dec_me, b.p, b.len, &me);
	CHECK_U(strlen(me.c.address), sizeof(me.c.address) - 1);
	vb_buf_release(&b);
	ctx = "";
}

static int dec_stats1(struct vb_rd *r, void *out, struct vb_err *e)
{
	return vb_wire_dec_stats(r, out, e);
}

static void test_response_stats(void **state)
{
	struct vb_stats s = {
		.process_id = 4242,
		.cpu_usage = 1.5f,
		.total_cpu_usage = 12.25f,
		.memory_usage = 1000,
		.total_memory = 2000,
		.available_memory = 1500,
		.run_time = 60000000,
		.start_time = TS_ORIGIN,
		.read_bytes = 11,
		.written_bytes = 22,
		.messages_size_bytes = 33,
		.streams_count = 1,
		.topics_count = 2,
		.partitions_count = 8,
		.segments_count = 9,
		.messages_count = 123456789012ull,
		.clients_count = 3,
		.consumer_groups_count = 4,
		.hostname = "host",
		.os_name = "Linux",
		.os_version = "12",
		.kernel_version = "6.1.0",
		.server_version = "0.8.0",
		.server_semver = 8000,
		.threads_count = 5,
		.free_disk_space = 1ull << 40,
		.total_disk_space = 1ull << 41,
	};
	struct vb_stats got;
	struct vb_buf b = VB_BUF_INIT, c = VB_BUF_INIT;
	struct vb_rd r;
	struct vb_err e;
	size_t cache;

	(void)state;
	ctx = "Stats record";
	vb_wire_enc_stats(&b, &s);
	/* fixed offsets of control.md §5.1.2 */
	CHECK_U(vb_ld32(b.p), 4242);
	CHECK_U(vb_ld64(b.p + 44), TS_ORIGIN);
	CHECK_U(vb_ld32(b.p + 76), 1);
	CHECK_U(vb_ld32(b.p + 88), 9);
	CHECK_U(vb_ld64(b.p + 92), 123456789012ull);
	CHECK_U(vb_ld32(b.p + 104), 4);
	CHECK_U(vb_ld32(b.p + 108), 4);
	CHECK(memcmp(b.p + 112, "host", 4) == 0);
	CHECK_U(b.len, 108 + 8 + 9 + 6 + 9 + 9 + 4 + 4 + 4 + 8 + 8);
	decode_all(dec_stats1, b.p, b.len, &got);
	CHECK_U(got.process_id, s.process_id);
	CHECK(got.cpu_usage == s.cpu_usage);
	CHECK(got.total_cpu_usage == s.total_cpu_usage);
	CHECK_U(got.memory_usage, s.memory_usage);
	CHECK_U(got.total_memory, s.total_memory);
	CHECK_U(got.available_memory, s.available_memory);
	CHECK_U(got.run_time, s.run_time);
	CHECK_U(got.start_time, s.start_time);
	CHECK_U(got.read_bytes, s.read_bytes);
	CHECK_U(got.written_bytes, s.written_bytes);
	CHECK_U(got.messages_size_bytes, s.messages_size_bytes);
	CHECK_U(got.streams_count, s.streams_count);
	CHECK_U(got.topics_count, s.topics_count);
	CHECK_U(got.partitions_count, s.partitions_count);
	CHECK_U(got.segments_count, s.segments_count);
	CHECK_U(got.messages_count, s.messages_count);
	CHECK_U(got.clients_count, s.clients_count);
	CHECK_U(got.consumer_groups_count, s.consumer_groups_count);
	CHECK(strcmp(got.hostname, "host") == 0);
	CHECK(strcmp(got.os_name, "Linux") == 0);
	CHECK(strcmp(got.os_version, "12") == 0);
	CHECK(strcmp(got.kernel_version, "6.1.0") == 0);
	CHECK(strcmp(got.server_version, "0.8.0") == 0);
	CHECK_U(got.server_semver, 8000);
	CHECK_U(got.cache_metrics_count, 0);
	CHECK_U(got.threads_count, 5);
	CHECK_U(got.free_disk_space, 1ull << 40);
	CHECK_U(got.total_disk_space, 1ull << 41);
	vb_wire_enc_stats(&c, &got);
	CHECK_BUF(&c, &b);
	check_prefixes(dec_stats1, b.p, b.len, &got);

	/* two 32-byte cache metric entries are skipped */
	ctx = "Stats with cache metrics";
	cache = b.len - 24; /* count, threads, free, total */
	vb_buf_reset(&c);
	vb_buf_add(&c, b.p, cache);
	vb_buf_u32(&c, 2);
	for (int i = 0; i < 64; i++)
		vb_buf_addch(&c, 0xee);
	vb_buf_add(&c, b.p + cache + 4, 20);
	decode_all(dec_stats1, c.p, c.len, &got);
	CHECK_U(got.cache_metrics_count, 2);
	CHECK_U(got.threads_count, 5);
	CHECK_U(got.total_disk_space, 1ull << 41);
	check_prefixes(dec_stats1, c.p, c.len, &got);

	ctx = "Stats cache_metrics_count 3 with 2 entries";
	vb_st32(c.p + cache, 3);
	vb_rd_init(&r, c.p, c.len);
	CHECK_FAIL(vb_wire_dec_stats(&r, &got, &e), e, 3);
	ctx = "Stats cache_metrics_count 4294967295";
	vb_st32(c.p + cache, 0xffffffffu);
	vb_rd_init(&r, c.p, c.len);
	CHECK_FAIL(vb_wire_dec_stats(&r, &got, &e), e, 3);
	ctx = "Stats cache_metrics_count 134217728 (x32 wraps in 32 bits)";
	vb_st32(c.p + cache, 0x08000000u);
	vb_rd_init(&r, c.p, c.len);
	CHECK_FAIL(vb_wire_dec_stats(&r, &got, &e), e, 3);
	ctx = "Stats hostname length past the end";
	vb_st32(b.p + 108, 0xfffffff0u);
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(vb_wire_dec_stats(&r, &got, &e), e, 3);
	vb_buf_release(&b);
	vb_buf_release(&c);
	ctx = "";
}

struct user_details {
	struct vb_user_info u;
	const uint8_t *perms;
	uint32_t perms_len;
};

static int dec_user_details(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct user_details *d = out;

	if (vb_wire_dec_user(r, &d->u, e))
		return -1;
	return vb_wire_dec_user_perms(r, &d->perms, &d->perms_len, e);
}

static int dec_pat1(struct vb_rd *r, void *out, struct vb_err *e)
{
	return vb_wire_dec_pat(r, out, e);
}

static void test_response_users(void **state)
{
	const struct vb_user_info u = { 1, TS_ORIGIN, 1, NAME("alice") };
	const struct vb_pat_info pat = { NAME("ci"), TS_ORIGIN };
	struct user_details d;
	struct vb_pat_info p;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_rd r;
	struct vb_err e;
	size_t used;

	(void)state;
	ctx = "UserDetails without permissions";
	vb_wire_enc_user(&b, &u);
	vb_wire_enc_user_perms(&b, NULL, 0);
	CHECK_HEX(&b, "01 00 00 00 00 40 1e 18 24 0a 06 00 01 05 61 6c 69 "
		      "63 65 00 00 00 00");
	decode_all(dec_user_details, b.p, b.len, &d);
	CHECK_U(d.u.id, 1);
	CHECK_U(d.u.created_at, TS_ORIGIN);
	CHECK_U(d.u.status, 1);
	check_name(&d.u.username, &u.username, "username");
	CHECK(d.perms == NULL);
	CHECK_U(d.perms_len, 0);
	check_prefixes(dec_user_details, b.p, b.len, &d);

	ctx = "UserDetails with permissions";
	vb_buf_reset(&b);
	vb_wire_enc_user(&b, &u);
	vb_wire_enc_user_perms(&b, perms_block, sizeof(perms_block));
	CHECK_HEX(&b, "01 00 00 00 00 40 1e 18 24 0a 06 00 01 05 61 6c 69 "
		      "63 65 01 20 00 00 00 " PERMS_HEX);
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(dec_user_details(&r, &d, &e), e);
	CHECK_U(vb_rd_left(&r), 0);
	CHECK_U(d.perms_len, 32);
	CHECK_MEM(d.perms, d.perms_len, perms_block, 32);
	CHECK_OK(vb_wire_perms_check(d.perms, d.perms_len, &used, &e), e);
	CHECK_U(used, 32);
	check_prefixes(dec_user_details, b.p, b.len, &d);
	ctx = "UserDetails permissions length past the end";
	vb_st32(b.p + 20, 0xffffffffu);
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(dec_user_details(&r, &d, &e), e, 3);

	ctx = "permissions block, every prefix";
	for (size_t k = 0; k < sizeof(perms_block); k++) {
		uint8_t *q = dup_n(perms_block, k);

		vb_err_clear(&e);
		CHECK_FAIL(vb_wire_perms_check(q, k, &used, &e), e, 3);
		free(q);
	}

	ctx = "get_users: two User records";
	vb_buf_reset(&b);
	vb_wire_enc_user(&b, &u);
	vb_wire_enc_user(&b, &(struct vb_user_info){ 0, 1, 2, NAME("iggy") });
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_user(&r, &d.u, &e), e);
	CHECK_U(d.u.id, 1);
	CHECK_OK(vb_wire_dec_user(&r, &d.u, &e), e);
	CHECK_U(d.u.status, 2);
	check_name(&d.u.username, &(struct vb_name)NAME("iggy"), "username");
	CHECK_U(vb_rd_left(&r), 0);

	ctx = "User with an empty username";
	vb_buf_reset(&b);
	vb_wire_enc_user(&b, &(struct vb_user_info){ 0, 1, 2, { 0, "" } });
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(vb_wire_dec_user(&r, &d.u, &e), e, 4);

	ctx = "personal access token record";
	vb_buf_reset(&b);
	vb_wire_enc_pat(&b, &pat);
	CHECK_HEX(&b, "02 63 69 00 40 1e 18 24 0a 06 00");
	decode_all(dec_pat1, b.p, b.len, &p);
	check_name(&p.name, &pat.name, "name");
	CHECK_U(p.expiry_at, TS_ORIGIN);
	check_prefixes(dec_pat1, b.p, b.len, &p);
	vb_buf_release(&b);
	ctx = "";
}

struct cluster {
	char name[64];
	uint32_t nodes;
};

static int dec_cluster1(struct vb_rd *r, void *out, struct vb_err *e)
{
	struct cluster *c = out;

	return vb_wire_dec_cluster(r, c->name, sizeof(c->name), &c->nodes, e);
}

static void test_response_cluster_and_members(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct cluster c;
	struct vb_member_info m;
	struct vb_rd r;
	struct vb_err e;

	(void)state;
	ctx = "cluster metadata (single node)";
	vb_wire_enc_cluster(&b, "127.0.0.1", 8090);
	CHECK_HEX(&b, "0b 00 00 00 73 69 6e 67 6c 65 2d 6e 6f 64 65 "
		      "01 00 00 00 "
		      "09 00 00 00 69 67 67 79 2d 6e 6f 64 65 "
		      "09 00 00 00 31 32 37 2e 30 2e 30 2e 31 "
		      "9a 1f 00 00 00 00 00 00 00 00");
	decode_all(dec_cluster1, b.p, b.len, &c);
	CHECK(strcmp(c.name, "single-node") == 0);
	CHECK_U(c.nodes, 1);
	check_prefixes(dec_cluster1, b.p, b.len, &c);
	ctx = "cluster nodes_count 4294967295";
	vb_st32(b.p + 15, 0xffffffffu);
	vb_rd_init(&r, b.p, b.len);
	CHECK_FAIL(dec_cluster1(&r, &c, &e), e, 3);

	ctx = "member partitions_count past the end";
	{
		static const uint32_t counts[] = {
			0xffffffffu,
			0x40000000u,
			0x40000001u,
			3,
		};

		for (size_t i = 0; i < 4; i++) {
			vb_buf_reset(&b);
			vb_buf_u32(&b, 0);
			vb_buf_u32(&b, counts[i]);
			vb_buf_u32(&b, 1);
			vb_buf_u32(&b, 2);
			vb_rd_init(&r, b.p, b.len);
			CHECK_FAIL(vb_wire_dec_member(&r, &m, &e), e, 3);
		}
	}
	ctx = "member partitions_count 0";
	vb_buf_reset(&b);
	vb_wire_enc_member(&b, 5, NULL, 0);
	vb_rd_init(&r, b.p, b.len);
	CHECK_OK(vb_wire_dec_member(&r, &m, &e), e);
	CHECK_U(m.id, 5);
	CHECK_U(m.partitions_count, 0);
	vb_buf_release(&b);
	ctx = "";
}

/* ---- the reply reader ---- */

/* Three replies back to back: OK with 5 payload bytes, an error, OK empty. */
static size_t three_replies(uint8_t *out)
{
	struct vb_buf b = VB_BUF_INIT;
	size_t m = vb_wire_resp_begin(&b), n;

	vb_buf_add(&b, "hello", 5);
	vb_wire_resp_end(&b, m);
	vb_wire_resp_error(&b, VB_ST_TOPIC_ID_NOT_FOUND);
	m = vb_wire_resp_begin(&b);
	vb_wire_resp_end(&b, m);
	n = b.len;
	memcpy(out, b.p, n);
	vb_buf_release(&b);
	return n;
}

static void check_three(const struct vb_reply *rep, int k)
{
	if (k == 0) {
		CHECK_U(rep->status, 0);
		CHECK_U(rep->len, 5);
		CHECK(memcmp(rep->payload, "hello", 5) == 0);
	} else if (k == 1) {
		CHECK_U(rep->status, VB_ST_TOPIC_ID_NOT_FOUND);
		CHECK_U(rep->len, 0);
	} else {
		CHECK_U(rep->status, 0);
		CHECK_U(rep->len, 0);
	}
}

/*
 * Every split of the byte stream into two chunks, and one byte at a time,
 * through both ways in (feed, and receive into space + commit): the same
 * three replies in order, none early, none twice.
 */
static void test_reader_chunkings(void **state)
{
	uint8_t all[64];
	size_t n = three_replies(all);

	ctx = "reader";
	for (size_t cut = 0; cut <= n; cut++) {
		for (int way = 0; way < 2; way++) {
			struct vb_reader r;
			struct vb_reply rep;
			struct vb_err e;
			size_t chunks[2] = { cut, n - cut }, at = 0;
			int k = 0;

			vb_reader_init(&r, &vb_framing_v08, 1000);
			for (int c = 0; c < 2; c++) {
				if (way == 0)
					vb_reader_feed(&r, all + at, chunks[c]);
				else {
					size_t room;
					uint8_t *d = vb_reader_space(&r, &room);

					CHECK(room >= chunks[c]);
					memcpy(d, all + at, chunks[c]);
					vb_reader_commit(&r, chunks[c]);
				}
				at += chunks[c];
				while (vb_reader_next(&r, &rep, &e) == 1)
					check_three(&rep, k++);
			}
			CHECK_U(k, 3);
			CHECK_U(vb_reader_pending(&r), 0);
			vb_reader_release(&r);
		}
	}
	{
		struct vb_reader r;
		struct vb_reply rep;
		struct vb_err e;
		int k = 0;

		vb_reader_init(&r, &vb_framing_v08, 1000);
		for (size_t i = 0; i < n; i++) {
			vb_reader_feed(&r, all + i, 1);
			while (vb_reader_next(&r, &rep, &e) == 1) {
				/* a reply is complete exactly at its last byte */
				CHECK(i + 1 == 13 || i + 1 == 21 ||
				      i + 1 == 29);
				check_three(&rep, k++);
			}
		}
		CHECK_U(k, 3);
		vb_reader_release(&r);
	}
}

/*
 * Payloads handed out stay valid until the next space/feed call, so all
 * the replies of one receive can be taken and then used; a frame larger
 * than the limit fails before any of it is buffered as a reply, and a
 * large one is received into room sized for it.
 */
static void test_reader_limits(void **state)
{
	struct vb_reader r;
	struct vb_reply a, b;
	struct vb_err e;
	uint8_t all[64], hdr[8];
	size_t n = three_replies(all), room;
	uint8_t *d;

	ctx = "reader limits";
	vb_reader_init(&r, &vb_framing_v08, 1000);
	vb_reader_feed(&r, all, n);
	CHECK_U(vb_reader_next(&r, &a, &e), 1);
	CHECK_U(vb_reader_next(&r, &b, &e), 1);
	CHECK(memcmp(a.payload, "hello", 5) == 0); /* still there */
	CHECK_U(b.status, VB_ST_TOPIC_ID_NOT_FOUND);
	vb_reader_reset(&r);
	CHECK_U(vb_reader_pending(&r), 0);

	vb_st32(hdr, 0);
	vb_st32(hdr + 4, 1001);
	vb_reader_feed(&r, hdr, 7);
	CHECK_U(vb_reader_next(&r, &a, &e), 0); /* header incomplete */
	vb_reader_feed(&r, hdr + 7, 1);
	CHECK_U(vb_reader_next(&r, &a, &e), -1);
	CHECK_U(e.kind, VB_E_PROTO);
	CHECK(strstr(e.msg, "1001") != NULL);
	vb_reader_release(&r);

	vb_reader_init(&r, &vb_framing_v08, 1u << 24);
	vb_st32(hdr + 4, 1u << 20);
	vb_reader_feed(&r, hdr, 8);
	CHECK_U(vb_reader_next(&r, &a, &e), 0);
	d = vb_reader_space(&r, &room);
	CHECK(room >= 1u << 20); /* the rest of the frame fits */
	memset(d, 'x', 1u << 20);
	vb_reader_commit(&r, 1u << 20);
	CHECK_U(vb_reader_next(&r, &a, &e), 1);
	CHECK_U(a.len, 1u << 20);
	CHECK(a.payload[0] == 'x' && a.payload[a.len - 1] == 'x');
	vb_reader_release(&r);
}

/* The builder writes what vb_wire_send_decode reads back. */
static void test_send_builder(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_send_builder sb;
	struct vb_send_hdr h;
	struct vb_send_view v;
	struct vb_msg m;
	struct vb_rd rd;
	struct vb_err e;
	uint8_t id[16] = { 1, 2, 3 };

	ctx = "send builder";
	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "vibes");
	vb_ident_num(&h.topic, 3);
	h.part_kind = VB_PART_ID;
	h.partition_id = 7;
	vb_buf_addstr(&b, "junk before");
	vb_wire_send_begin(&sb, &b, &h, 2, 5 + 3 + 2);
	vb_wire_send_add(&sb, id, 42, "hello", 5, NULL, 0);
	vb_wire_send_add(&sb, id, 43, "abc", 3, "\x01\x02", 2);
	CHECK_U(sb.idx, sb.end - 2 * (size_t)VB_MSG_HDR - 10);
	CHECK_U(sb.msg, sb.end);
	CHECK_U(vb_ld32(b.p + 11), b.len - 11 - 4);
	CHECK_U(vb_ld32(b.p + 15), VB_CMD_SEND_MESSAGES);
	CHECK_U(vb_wire_send_decode(&v, b.p + 19, b.len - 19, &e), 0);
	CHECK_U(v.h.count, 2);
	CHECK_U(v.h.partition_id, 7);
	vb_rd_init(&rd, v.msgs, v.msgs_len);
	CHECK_U(vb_wire_msg_parse(&m, v.msgs, v.msgs_len, &e), 0);
	CHECK_U(m.payload_len, 5);
	CHECK_U(m.origin_timestamp, 42);
	CHECK(memcmp(m.id, id, 16) == 0);
	CHECK_U(vb_wire_msg_parse(&m, v.msgs + m.size, v.msgs_len - m.size, &e),
		0);
	CHECK_U(m.uhdr_len, 2);
	CHECK(memcmp(m.payload, "abc", 3) == 0 && m.uhdr[1] == 2);
	vb_buf_release(&b);
}

/*
 * The waiting polls (105, 106): the layout vibes-iggyd(8) gives, byte by
 * byte, both ways; the 106 answer walked; the bounds.
 */
static void test_wait_polls(void **state)
{
	/* One field per line (clang-format would fill the lines). */
	/* clang-format off */
	static const uint8_t want105[] = {
		/* length 4 + 62, code 105 */
		0x42, 0, 0, 0, 105, 0, 0, 0,
		1, 1, 4, 7, 0, 0, 0,		/* consumer 1, numeric 7 */
		1, 4, 1, 0, 0, 0,		/* stream 1 */
		1, 4, 2, 0, 0, 0,		/* topic 2 */
		1, 3, 0, 0, 0,			/* partition 3 */
		1, 9, 0, 0, 0, 0, 0, 0, 0,	/* offset 9 */
		50, 0, 0, 0, 0,			/* count 50, no auto commit */
		0x40, 0x42, 0x0f, 0, 0, 0, 0, 0,	/* max_wait 1 s */
		2, 0, 0, 0,			/* min_count 2 */
		0, 0, 1, 0,			/* max_bytes 65536 */
		0, 0, 0, 1, 0, 0, 0, 0,		/* budget 16 MiB */
	};
	static const uint8_t want106[] = {
		/* length 4 + 77, code 106 */
		0x51, 0, 0, 0, 106, 0, 0, 0,
		1, 1, 4, 7, 0, 0, 0,
		1, 4, 1, 0, 0, 0,
		1, 4, 2, 0, 0, 0,
		2, 0, 0, 0,			/* 2 partitions */
		0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0,	/* 0 at offset 5 */
		4, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,	/* 4 from the first */
		10, 0, 0, 0,			/* count 10 */
		0xe8, 3, 0, 0, 0, 0, 0, 0,	/* max_wait 1000 µs */
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
	};
	/* clang-format on */
	struct vb_wait_part wp[2] = { { 0, VB_POLL_OFFSET, 5 },
				      { 4, VB_POLL_FIRST, 0 } },
			    got;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r, d;
	struct vb_err e;
	struct vb_rd rd;
	struct vb_reply part;
	uint8_t bad[sizeof(want106)];
	uint32_t n;

	ctx = "105";
	vb_req_init(&r, VB_CMD_POLL_WAIT);
	r.consumer.kind = VB_CONSUMER;
	vb_ident_num(&r.consumer.id, 7);
	vb_ident_num(&r.stream, 1);
	vb_ident_num(&r.topic, 2);
	r.part.present = 1;
	r.part.id = 3;
	r.strategy = VB_POLL_OFFSET;
	r.value = 9;
	r.count = 50;
	r.wait.max_wait_us = 1000000;
	r.wait.min_count = 2;
	r.wait.max_bytes = 65536;
	r.wait.budget = 16u << 20;
	vb_wire_req_encode(&b, &r);
	CHECK_U(b.len, sizeof(want105));
	CHECK(memcmp(b.p, want105, b.len) == 0);
	CHECK_OK(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT, b.p + 8, b.len - 8,
				    &e),
		 e);
	CHECK_U(d.part.id, 3);
	CHECK_U(d.value, 9);
	CHECK_U(d.count, 50);
	CHECK_U(d.wait.max_wait_us, 1000000);
	CHECK_U(d.wait.min_count, 2);
	CHECK_U(d.wait.max_bytes, 65536);
	CHECK_U(d.wait.budget, 16u << 20);
	/* the trailer is required; a poll_messages body alone is short */
	CHECK_FAIL(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT, b.p + 8,
				      b.len - 8 - 1, &e),
		   e, VB_ST_INVALID_COMMAND);
	/* and poll_messages ignores it, as trailing bytes */
	CHECK_OK(vb_wire_req_decode(&d, VB_CMD_POLL_MESSAGES, b.p + 8,
				    b.len - 8, &e),
		 e);
	CHECK(vb_cmd_name(VB_CMD_POLL_WAIT) != NULL);
	CHECK(vb_cmd_name(VB_CMD_POLL_WAIT_MULTI) != NULL);

	ctx = "106";
	vb_buf_reset(&b);
	vb_req_init(&r, VB_CMD_POLL_WAIT_MULTI);
	r.consumer.kind = VB_CONSUMER;
	vb_ident_num(&r.consumer.id, 7);
	vb_ident_num(&r.stream, 1);
	vb_ident_num(&r.topic, 2);
	r.nwp = 2;
	r.wp = wp;
	r.count = 10;
	r.wait.max_wait_us = 1000;
	vb_wire_req_encode(&b, &r);
	CHECK_U(b.len, sizeof(want106));
	CHECK(memcmp(b.p, want106, b.len) == 0);
	CHECK_OK(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT_MULTI, b.p + 8,
				    b.len - 8, &e),
		 e);
	CHECK_U(d.nwp, 2);
	CHECK(d.wp == NULL);
	vb_wait_part(&d, 1, &got);
	CHECK_U(got.partition_id, 4);
	CHECK_U(got.strategy, VB_POLL_FIRST);
	vb_wait_part(&d, 0, &got);
	CHECK_U(got.value, 5);
	CHECK_U(d.count, 10);
	CHECK_U(d.wait.max_wait_us, 1000);
	/* a count of 0, more than VB_WAIT_PARTS_MAX, a bad strategy, short */
	memcpy(bad, want106, sizeof(bad));
	memset(bad + 27, 0, 4);
	CHECK_FAIL(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT_MULTI, bad + 8,
				      sizeof(bad) - 8, &e),
		   e, VB_ST_INVALID_COMMAND);
	vb_st32(bad + 27, VB_WAIT_PARTS_MAX + 1);
	CHECK_FAIL(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT_MULTI, bad + 8,
				      sizeof(bad) - 8, &e),
		   e, VB_ST_INVALID_COMMAND);
	memcpy(bad, want106, sizeof(bad));
	bad[31 + 13 + 4] = 9;
	CHECK_FAIL(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT_MULTI, bad + 8,
				      sizeof(bad) - 8, &e),
		   e, VB_ST_INVALID_COMMAND);
	CHECK_FAIL(vb_wire_req_decode(&d, VB_CMD_POLL_WAIT_MULTI, want106 + 8,
				      sizeof(want106) - 9, &e),
		   e, VB_ST_INVALID_COMMAND);

	ctx = "106 answer";
	{
		struct vb_poll_hdr h = { 3, 8, 0 };
		struct vb_buf a = VB_BUF_INIT;
		struct vb_poll_hdr hh;
		struct vb_rd pr;

		vb_buf_u32(&a, 2);
		for (int i = 0; i < 2; i++) {
			vb_buf_u32(&a, VB_POLL_RESP_HDR);
			vb_wire_enc_poll_hdr(&a, &h);
			h.partition_id++;
		}
		vb_rd_init(&rd, a.p, a.len);
		CHECK_OK(vb_wire_dec_wait_count(&rd, &n, &e), e);
		CHECK_U(n, 2);
		CHECK_OK(vb_wire_dec_wait_part(&rd, &part, &e), e);
		CHECK_U(part.len, VB_POLL_RESP_HDR);
		vb_rd_init(&pr, part.payload, part.len);
		CHECK_OK(vb_wire_dec_poll_hdr(&pr, &hh, &e), e);
		CHECK_U(hh.partition_id, 3);
		CHECK_U(hh.current_offset, 8);
		CHECK_OK(vb_wire_dec_wait_part(&rd, &part, &e), e);
		CHECK_U(vb_rd_left(&rd), 0);
		/* a part longer than what is left, or shorter than a header */
		vb_rd_init(&rd, a.p, a.len - 1);
		CHECK_OK(vb_wire_dec_wait_count(&rd, &n, &e), e);
		CHECK_OK(vb_wire_dec_wait_part(&rd, &part, &e), e);
		CHECK(vb_wire_dec_wait_part(&rd, &part, &e) == -1);
		vb_st32(a.p + 4, 3);
		vb_rd_init(&rd, a.p + 4, a.len - 4);
		CHECK(vb_wire_dec_wait_part(&rd, &part, &e) == -1);
		vb_buf_release(&a);
	}
	vb_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_vectors),
		cmocka_unit_test(test_request_layouts),
		cmocka_unit_test(test_request_upstream_literals),
		cmocka_unit_test(test_response_status),
		cmocka_unit_test(test_response_stream),
		cmocka_unit_test(test_response_topic),
		cmocka_unit_test(test_response_offset),
		cmocka_unit_test(test_response_groups),
		cmocka_unit_test(test_hashes),
		cmocka_unit_test(test_stamp_log_index),
		cmocka_unit_test(test_poll_responses),
		cmocka_unit_test(test_send_vectors),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_names_and_idents),
		cmocka_unit_test(test_send_validation),
		cmocka_unit_test(test_response_clients),
		cmocka_unit_test(test_response_stats),
		cmocka_unit_test(test_response_users),
		cmocka_unit_test(test_response_cluster_and_members),
		cmocka_unit_test(test_reader_chunkings),
		cmocka_unit_test(test_reader_limits),
		cmocka_unit_test(test_send_builder),
		cmocka_unit_test(test_wait_polls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
