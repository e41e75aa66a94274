/*
 * The bundled broker, end to end: the real vibes-iggyd on 127.0.0.1:0 with
 * a fresh data dir, driven through lib/client over real sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "broker_fixture.h"
#include "wire/wire.h"

/* Runs r; returns the status (0 ok); the payload is left in p and n. */
static uint32_t call(struct vb_client *c, const struct vb_req *r,
		     const uint8_t **p, size_t *n)
{
	struct vb_err e;

	if (vb_client_call(c, r, p, n, &e) == 0)
		return 0;
	assert_true(e.kind == VB_E_SERVER || e.kind == VB_E_AUTH);
	assert_true(e.status != 0);
	return e.status;
}

static void ident_num(struct vb_ident *id, uint32_t n)
{
	vb_ident_num(id, n);
}

static void ident_str(struct vb_ident *id, const char *s)
{
	assert_int_equal(vb_ident_str(id, s), 0);
}

/* Sends n messages "PREFIX-i" to a partition (or balanced if part < 0). */
static void send_n(struct vb_client *c, uint32_t sid, uint32_t tid, int part,
		   const char *prefix, int from, int n)
{
	struct vb_send_hdr h;
	struct vb_msg_in m[64];
	char bodies[64][64];
	struct vb_err e;

	assert_true(n <= 64);
	memset(&h, 0, sizeof(h));
	ident_num(&h.stream, sid);
	ident_num(&h.topic, tid);
	if (part < 0) {
		h.part_kind = VB_PART_BALANCED;
	} else {
		h.part_kind = VB_PART_ID;
		h.partition_id = (uint32_t)part;
	}
	for (int i = 0; i < n; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		snprintf(bodies[i], sizeof(bodies[i]), "%s-%d", prefix,
			 from + i);
		m[i].payload = bodies[i];
		m[i].payload_len = (uint32_t)strlen(bodies[i]);
		m[i].origin_timestamp = 42;
	}
	assert_int_equal(vb_client_send(c, &h, m, (uint32_t)n, &e), 0);
}

struct polled {
	struct vb_poll_hdr h;
	uint64_t offsets[256];
	char payloads[256][64];
	uint32_t n;
};

static uint32_t poll_req(struct vb_client *c, struct vb_req *r,
			 struct polled *out)
{
	struct vb_rd rd;
	struct vb_msg m;
	struct vb_err e;
	int rc;

	memset(out, 0, sizeof(*out));
	if (vb_client_poll(c, r, &out->h, &rd, &e) < 0) {
		assert_int_equal(e.kind, VB_E_SERVER);
		return e.status;
	}
	while ((rc = vb_wire_dec_msg(&rd, &m, &e)) == 1) {
		assert_true(out->n < 256);
		assert_int_equal(m.checksum,
				 vb_wire_msg_checksum(m.frame, m.size));
		assert_int_equal(m.reserved, 0);
		out->offsets[out->n] = m.offset;
		snprintf(out->payloads[out->n], 64, "%.*s", (int)m.payload_len,
			 (const char *)m.payload);
		out->n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(out->n, out->h.count);
	return 0;
}

static void poll_init(struct vb_req *r, uint32_t sid, uint32_t tid, int part,
		      uint8_t strategy, uint64_t value, uint32_t count)
{
	vb_req_init(r, VB_CMD_POLL_MESSAGES);
	r->consumer.kind = VB_CONSUMER;
	ident_num(&r->consumer.id, 1);
	ident_num(&r->stream, sid);
	ident_num(&r->topic, tid);
	if (part >= 0) {
		r->part.present = 1;
		r->part.id = (uint32_t)part;
	}
	r->strategy = strategy;
	r->value = value;
	r->count = count;
}

/* ---- tests ---- */

static void test_ping_login(void **state)
{
	struct vb_client c;
	struct vb_req r;
	struct vb_err e;
	uint32_t uid = 99;

	assert_int_equal(srv_client(&S, &c, 0), 0);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	/* Unauthenticated commands: 40. */
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_UNAUTHENTICATED);
	vb_req_init(&r, VB_CMD_GET_ME);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_UNAUTHENTICATED);
	/* Wrong password, short names. */
	assert_int_equal(vb_client_login(&c, S.user, "wrong-password", NULL,
					 &e),
			 -1);
	assert_int_equal(e.status, VB_ST_INVALID_CREDENTIALS);
	assert_int_equal(vb_client_login(&c, "ab", "whatever", NULL, &e), -1);
	assert_int_equal(e.status, VB_ST_INVALID_USERNAME);
	assert_int_equal(vb_client_login(&c, S.user, "ab", NULL, &e), -1);
	assert_int_equal(e.status, VB_ST_INVALID_PASSWORD);
	assert_int_equal(vb_client_login(&c, S.user, S.pass, &uid, &e), 0);
	assert_int_equal(uid, 0);
	/* Repeated logins go through the verified-login cache: it must still
	 * refuse a wrong password and accept the right one. */
	assert_int_equal(vb_client_login(&c, S.user, "wrong-password", NULL,
					 &e),
			 -1);
	assert_int_equal(e.status, VB_ST_INVALID_CREDENTIALS);
	assert_int_equal(vb_client_login(&c, S.user, S.pass, &uid, &e), 0);
	/* Snapshots are not offered: 5. */
	vb_req_init(&r, VB_CMD_GET_SNAPSHOT);
	r.snap_compression = 1;
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_FEATURE_UNAVAILABLE);
	/* Unknown command code: 3, connection stays usable. */
	vb_req_init(&r, 77);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_COMMAND);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	/* Logout: back to 40. */
	vb_req_init(&r, VB_CMD_LOGOUT_USER);
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_UNAUTHENTICATED);
	vb_client_release(&c);
}

static void test_get_me_stats_clients(void **state)
{
	struct vb_client c, c2;
	struct vb_client_info ci;
	struct vb_stats st;
	struct vb_req r;
	struct vb_rd rd;
	struct vb_err e;
	const uint8_t *p;
	size_t n;
	int seen = 0;

	open_client(&c);
	open_client(&c2);
	vb_req_init(&r, VB_CMD_GET_ME);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	assert_int_equal(vb_wire_dec_client(&rd, &ci, &e), 0);
	assert_int_equal(ci.user_id, 0);
	assert_int_equal(ci.transport, 1);
	assert_int_equal(ci.client_id,
			 vb_xxh32(ci.address, strlen(ci.address)));
	assert_non_null(strstr(ci.address, "127.0.0.1:"));
	/* get_client of the other connection, get_clients lists both. */
	{
		uint32_t me = ci.client_id;

		vb_req_init(&r, VB_CMD_GET_CLIENTS);
		assert_int_equal(call(&c2, &r, &p, &n), 0);
		vb_rd_init(&rd, p, n);
		while (vb_rd_left(&rd) > 0) {
			assert_int_equal(vb_wire_dec_client(&rd, &ci, &e), 0);
			seen += ci.client_id == me;
		}
		assert_int_equal(seen, 1);
		vb_req_init(&r, VB_CMD_GET_CLIENT);
		r.count = me;
		assert_int_equal(call(&c2, &r, &p, &n), 0);
		assert_true(n > 0);
		r.count = 0;
		assert_int_equal(call(&c2, &r, &p, &n),
				 VB_ST_INVALID_CLIENT_ID);
	}
	assert_int_equal(vb_client_get_stats(&c, &st, &e), 0);
	assert_int_equal(st.process_id, (uint32_t)S.pid);
	assert_string_equal(st.server_version, "0.8.0");
	assert_true(st.clients_count >= 2);
	vb_req_init(&r, VB_CMD_GET_CLUSTER_METADATA);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	{
		char name[64];
		uint32_t nodes;

		vb_rd_init(&rd, p, n);
		assert_int_equal(vb_wire_dec_cluster(&rd, name, sizeof(name),
						     &nodes, &e),
				 0);
		assert_int_equal(nodes, 1);
	}
	vb_client_release(&c);
	vb_client_release(&c2);
}

static void test_streams(void **state)
{
	struct vb_client c;
	struct vb_stream_info si, si2;
	struct vb_req r;
	struct vb_ident id;
	struct vb_err e;
	const uint8_t *p;
	size_t n;
	int found;

	open_client(&c);
	assert_int_equal(vb_client_create_stream(&c, "s-one", &si, &e), 0);
	assert_string_equal(si.name.s, "s-one");
	assert_int_equal(si.topics_count, 0);
	assert_int_equal(vb_client_create_stream(&c, "s-one", &si2, &e), -1);
	assert_int_equal(e.status, VB_ST_STREAM_NAME_ALREADY_EXISTS);
	ident_str(&id, "s-one");
	assert_int_equal(vb_client_get_stream(&c, &id, &si2, &found, &e), 0);
	assert_true(found);
	assert_int_equal(si2.id, si.id);
	ident_str(&id, "nope");
	assert_int_equal(vb_client_get_stream(&c, &id, &si2, &found, &e), 0);
	assert_false(found);
	/* Rename, then delete; mutations on missing streams: 1009. */
	vb_req_init(&r, VB_CMD_UPDATE_STREAM);
	ident_num(&r.stream, si.id);
	vb_name_set(&r.name, "s-renamed");
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	ident_str(&id, "s-renamed");
	assert_int_equal(vb_client_get_stream(&c, &id, &si2, &found, &e), 0);
	assert_true(found);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	assert_true(n > 0);
	vb_req_init(&r, VB_CMD_DELETE_STREAM);
	ident_num(&r.stream, si.id);
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_STREAM_ID_NOT_FOUND);
	vb_req_init(&r, VB_CMD_PURGE_STREAM);
	ident_num(&r.stream, si.id);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_STREAM_ID_NOT_FOUND);
	/* The freed id is reused by the next create (control.md §6.1). */
	assert_int_equal(vb_client_create_stream(&c, "s-two", &si2, &e), 0);
	assert_int_equal(si2.id, si.id);
	vb_req_init(&r, VB_CMD_DELETE_STREAM);
	ident_num(&r.stream, si2.id);
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	/* Empty name: 4 from the decoder. */
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_FORMAT);
	vb_client_release(&c);
}

static void test_topics(void **state)
{
	struct vb_client c;
	struct vb_topic_info ti;
	struct vb_partition_info parts[8];
	struct vb_ident s, t;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;
	int found;

	open_client(&c);
	make_stream_topic(&c, "t-stream", "events", 3, &sid, &tid);
	ident_num(&s, sid);
	ident_str(&t, "events");
	assert_int_equal(vb_client_get_topic(&c, &s, &t, &ti, parts, 8, &found,
					     &e),
			 0);
	assert_true(found);
	assert_int_equal(ti.partitions_count, 3);
	assert_int_equal(ti.message_expiry, UINT64_MAX);
	assert_int_equal(ti.max_topic_size, UINT64_MAX);
	assert_int_equal(ti.replication_factor, 1);
	assert_int_equal(parts[2].id, 2);
	assert_int_equal(vb_client_create_topic(&c, &s, "events", 1, &ti, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_TOPIC_NAME_ALREADY_EXISTS);
	/* Partitions: add 2, delete 1. */
	vb_req_init(&r, VB_CMD_CREATE_PARTITIONS);
	r.stream = s;
	r.topic = t;
	r.count = 2;
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	r.count = 0;
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_TOO_MANY_PARTITIONS);
	vb_req_init(&r, VB_CMD_DELETE_PARTITIONS);
	r.stream = s;
	r.topic = t;
	r.count = 1;
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	r.count = 10;
	assert_int_equal(call(&c, &r, NULL, NULL),
			 VB_ST_INVALID_PARTITIONS_COUNT);
	assert_int_equal(vb_client_get_topic(&c, &s, &t, &ti, parts, 8, &found,
					     &e),
			 0);
	assert_int_equal(ti.partitions_count, 4);
	/* Update: stored as sent. */
	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	r.stream = s;
	r.topic = t;
	r.compression = VB_COMPRESSION_GZIP;
	r.message_expiry = 60000000;
	r.replication_factor = 1;
	vb_name_set(&r.name, "events2");
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	ident_num(&t, tid);
	assert_int_equal(vb_client_get_topic(&c, &s, &t, &ti, NULL, 0, &found,
					     &e),
			 0);
	assert_string_equal(ti.name.s, "events2");
	assert_int_equal(ti.message_expiry, 60000000);
	assert_int_equal(ti.compression, 2);
	/* Bad compression: 3; too many partitions: 2015; small size: 1019. */
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	r.stream = s;
	r.compression = 0;
	vb_name_set(&r.name, "x");
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_COMMAND);
	r.compression = 1;
	r.count = 1001;
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_TOO_MANY_PARTITIONS);
	r.count = 1;
	r.max_topic_size = 1000;
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_TOPIC_SIZE);
	/* Missing stream / topic. */
	ident_num(&r.stream, 4000);
	r.max_topic_size = 0;
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_STREAM_ID_NOT_FOUND);
	vb_req_init(&r, VB_CMD_DELETE_TOPIC);
	r.stream = s;
	ident_num(&r.topic, 99);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_TOPIC_ID_NOT_FOUND);
	ident_num(&r.topic, tid);
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	assert_int_equal(vb_client_get_topic(&c, &s, &t, &ti, NULL, 0, &found,
					     &e),
			 0);
	assert_false(found);
	vb_client_release(&c);
}

static void test_send_poll(void **state)
{
	struct vb_client c;
	struct polled out;
	struct vb_req r;
	uint32_t sid, tid;

	open_client(&c);
	make_stream_topic(&c, "sp-stream", "events", 2, &sid, &tid);
	send_n(&c, sid, tid, 1, "a", 0, 5);
	send_n(&c, sid, tid, 1, "a", 5, 5);
	/* offset */
	poll_init(&r, sid, tid, 1, VB_POLL_OFFSET, 7, 100);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.h.partition_id, 1);
	assert_int_equal(out.h.current_offset, 9);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.offsets[0], 7);
	assert_string_equal(out.payloads[2], "a-9");
	poll_init(&r, sid, tid, 1, VB_POLL_OFFSET, 10, 100);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 0);
	/* first, last */
	poll_init(&r, sid, tid, 1, VB_POLL_FIRST, 0, 2);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.offsets[1], 1);
	poll_init(&r, sid, tid, 1, VB_POLL_LAST, 0, 3);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.offsets[0], 7);
	poll_init(&r, sid, tid, 1, VB_POLL_LAST, 0, 50);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 10);
	/* timestamp: everything at or after the first message's time. */
	poll_init(&r, sid, tid, 1, VB_POLL_TIMESTAMP, 0, 100);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 10);
	poll_init(&r, sid, tid, 1, VB_POLL_TIMESTAMP, UINT64_MAX / 2, 100);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 0);
	/* next with auto_commit walks forward. */
	poll_init(&r, sid, tid, 1, VB_POLL_NEXT, 0, 4);
	r.flag = 1;
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.offsets[0], 0);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.offsets[0], 4);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 0);
	/* purge_stream empties every topic; offsets restart at 0. */
	{
		struct vb_req pr;

		send_n(&c, sid, tid, 0, "p", 0, 3);
		vb_req_init(&pr, VB_CMD_PURGE_STREAM);
		ident_num(&pr.stream, sid);
		assert_int_equal(call(&c, &pr, NULL, NULL), 0);
		poll_init(&r, sid, tid, 1, VB_POLL_FIRST, 0, 10);
		assert_int_equal(poll_req(&c, &r, &out), 0);
		assert_int_equal(out.n, 0);
		assert_int_equal(out.h.current_offset, 0);
		send_n(&c, sid, tid, 1, "a", 0, 10);
	}
	/* Empty partition 0; missing partition 5: 3007. */
	poll_init(&r, sid, tid, 0, VB_POLL_FIRST, 0, 10);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(out.h.current_offset, 0);
	poll_init(&r, sid, tid, 5, VB_POLL_FIRST, 0, 10);
	assert_int_equal(poll_req(&c, &r, &out), VB_ST_PARTITION_NOT_FOUND);
	/* count 0: header only. */
	poll_init(&r, sid, tid, 1, VB_POLL_FIRST, 0, 0);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(out.h.current_offset, 9);
	vb_client_release(&c);
}

static void test_partitioning(void **state)
{
	struct vb_client c;
	struct vb_send_hdr h;
	struct vb_msg_in m;
	struct polled out;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;

	open_client(&c);
	make_stream_topic(&c, "pt-stream", "events", 8, &sid, &tid);
	/* Balanced: batches go 0, 1, 2, ... */
	for (int i = 0; i < 3; i++)
		send_n(&c, sid, tid, -1, "b", i, 1);
	for (int i = 0; i < 3; i++) {
		poll_init(&r, sid, tid, i, VB_POLL_FIRST, 0, 10);
		assert_int_equal(poll_req(&c, &r, &out), 0);
		assert_int_equal(out.n, 1);
	}
	/* Key "sess-123" → XXH32 mod 8 = 3 (messages.md §3.3). */
	memset(&h, 0, sizeof(h));
	ident_num(&h.stream, sid);
	ident_num(&h.topic, tid);
	h.part_kind = VB_PART_KEY;
	h.key_len = 8;
	memcpy(h.key, "sess-123", 8);
	memset(&m, 0, sizeof(m));
	m.payload = "keyed";
	m.payload_len = 5;
	assert_int_equal(vb_client_send(&c, &h, &m, 1, &e), 0);
	poll_init(&r, sid, tid, 3, VB_POLL_FIRST, 0, 10);
	assert_int_equal(poll_req(&c, &r, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.payloads[0], "keyed");
	/* Explicit partition out of range: 3007; missing topic: 2010. */
	h.part_kind = VB_PART_ID;
	h.partition_id = 8;
	assert_int_equal(vb_client_send(&c, &h, &m, 1, &e), -1);
	assert_int_equal(e.status, VB_ST_PARTITION_NOT_FOUND);
	ident_num(&h.topic, 77);
	assert_int_equal(vb_client_send(&c, &h, &m, 1, &e), -1);
	assert_int_equal(e.status, VB_ST_TOPIC_ID_NOT_FOUND);
	vb_client_release(&c);
}

static void test_offsets(void **state)
{
	struct vb_client c;
	struct vb_consumer who;
	struct vb_offset_info oi;
	struct vb_ident s, t;
	struct vb_err e;
	uint32_t sid, tid;
	int found;

	open_client(&c);
	make_stream_topic(&c, "off-stream", "events", 2, &sid, &tid);
	ident_num(&s, sid);
	ident_num(&t, tid);
	who.kind = VB_CONSUMER;
	ident_str(&who.id, "reader");
	/* Nothing stored; partition never written: 4100. */
	assert_int_equal(vb_client_get_offset(&c, &who, &s, &t, 0, &oi, &found,
					      &e),
			 0);
	assert_false(found);
	assert_int_equal(vb_client_store_offset(&c, &who, &s, &t, 0, 0, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_INVALID_OFFSET);
	send_n(&c, sid, tid, 0, "o", 0, 10);
	assert_int_equal(vb_client_store_offset(&c, &who, &s, &t, 0, 4, &e), 0);
	assert_int_equal(vb_client_store_offset(&c, &who, &s, &t, 0, 10, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_INVALID_OFFSET);
	assert_int_equal(vb_client_get_offset(&c, &who, &s, &t, 0, &oi, &found,
					      &e),
			 0);
	assert_true(found);
	assert_int_equal(oi.current_offset, 9);
	assert_int_equal(oi.stored_offset, 4);
	/* next poll after it starts at 5 */
	{
		struct vb_req r;
		struct polled out;

		poll_init(&r, sid, tid, 0, VB_POLL_NEXT, 0, 100);
		r.consumer = who;
		assert_int_equal(poll_req(&c, &r, &out), 0);
		assert_int_equal(out.offsets[0], 5);
	}
	assert_int_equal(vb_client_delete_offset(&c, &who, &s, &t, 0, &e), 0);
	assert_int_equal(vb_client_delete_offset(&c, &who, &s, &t, 0, &e), -1);
	assert_int_equal(e.status, VB_ST_CONSUMER_OFFSET_NOT_FOUND);
	assert_int_equal(vb_client_store_offset(&c, &who, &s, &t, 9, 1, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_PARTITION_NOT_FOUND);
	assert_int_equal(vb_client_flush(&c, &s, &t, 0, 1, &e), 0);
	assert_int_equal(vb_client_flush(&c, &s, &t, 7, 1, &e), -1);
	assert_int_equal(e.status, VB_ST_PARTITION_NOT_FOUND);
	vb_client_release(&c);
}

/*
 * Decodes a ConsumerGroupDetails; fills member partition lists, and member
 * ids if ids is not NULL.
 */
static void get_group(struct vb_client *c, uint32_t sid, uint32_t tid,
		      uint32_t gid, struct vb_group_info *g,
		      uint32_t parts[][16], uint32_t *nparts, uint32_t *ids)
{
	struct vb_req r;
	struct vb_rd rd;
	struct vb_err e;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_GET_CONSUMER_GROUP);
	ident_num(&r.stream, sid);
	ident_num(&r.topic, tid);
	ident_num(&r.target, gid);
	assert_int_equal(call(c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	assert_int_equal(vb_wire_dec_group(&rd, g, &e), 0);
	for (uint32_t i = 0; i < g->members_count; i++) {
		struct vb_member_info mi;

		assert_int_equal(vb_wire_dec_member(&rd, &mi, &e), 0);
		assert_true(mi.partitions_count <= 16);
		nparts[i] = mi.partitions_count;
		if (ids)
			ids[i] = mi.id;
		for (uint32_t k = 0; k < mi.partitions_count; k++)
			parts[i][k] = vb_member_part(&mi, k);
	}
	assert_int_equal(vb_rd_left(&rd), 0);
}

static void test_groups(void **state)
{
	struct vb_client c[3];
	struct vb_group_info g;
	struct vb_ident s, t, gi;
	uint32_t parts[3][16], np[3], sid, tid;
	struct polled out;
	struct vb_req r;
	struct vb_err e;
	int seen[8] = { 0 };

	for (int i = 0; i < 3; i++)
		open_client(&c[i]);
	make_stream_topic(&c[0], "g-stream", "events", 8, &sid, &tid);
	for (int p = 0; p < 8; p++)
		send_n(&c[0], sid, tid, p, "g", p * 10, 2);
	ident_num(&s, sid);
	ident_num(&t, tid);
	assert_int_equal(vb_client_create_group(&c[0], &s, &t, "workers", &g,
						&e),
			 0);
	assert_int_equal(g.id, 0);
	assert_int_equal(g.partitions_count, 8);
	assert_int_equal(g.members_count, 0);
	assert_int_equal(vb_client_create_group(&c[0], &s, &t, "workers", &g,
						&e),
			 -1);
	assert_int_equal(e.status, VB_ST_CONSUMER_GROUP_NAME_ALREADY_EXISTS);
	ident_str(&gi, "workers");
	/* Poll before joining: 5006; unknown group: 5000. */
	poll_init(&r, sid, tid, -1, VB_POLL_NEXT, 0, 10);
	r.consumer.kind = VB_CONSUMER_GROUP;
	r.consumer.id = gi;
	assert_int_equal(poll_req(&c[0], &r, &out),
			 VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND);
	ident_str(&r.consumer.id, "nobody");
	assert_int_equal(poll_req(&c[0], &r, &out),
			 VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
	r.consumer.id = gi;
	/*
	 * Joins share fairly (not control.md §6.2's 7/1 and 6/1/1): each
	 * newcomer gets the highest partitions of the members above their
	 * share, 8, then 4/4, then 3/3/2.
	 */
	assert_int_equal(vb_client_join_group(&c[0], &s, &t, &gi, &e), 0);
	assert_int_equal(vb_client_join_group(&c[0], &s, &t, &gi, &e), 0);
	get_group(&c[0], sid, tid, 0, &g, parts, np, NULL);
	assert_int_equal(g.members_count, 1);
	assert_int_equal(np[0], 8);
	assert_int_equal(vb_client_join_group(&c[1], &s, &t, &gi, &e), 0);
	get_group(&c[0], sid, tid, 0, &g, parts, np, NULL);
	assert_int_equal(np[0], 4);
	assert_int_equal(np[1], 4);
	assert_int_equal(parts[0][3], 3);
	assert_int_equal(parts[1][0], 4);
	assert_int_equal(vb_client_join_group(&c[2], &s, &t, &gi, &e), 0);
	get_group(&c[0], sid, tid, 0, &g, parts, np, NULL);
	assert_int_equal(np[0], 3);
	assert_int_equal(np[1], 3);
	assert_int_equal(np[2], 2);
	assert_int_equal(parts[2][0], 3);
	assert_int_equal(parts[2][1], 7);
	/* get_me lists the membership. */
	{
		struct vb_req me;
		struct vb_rd rd;
		struct vb_client_info ci;
		struct vb_group_ref ref;
		const uint8_t *p;
		size_t n;

		vb_req_init(&me, VB_CMD_GET_ME);
		assert_int_equal(call(&c[1], &me, &p, &n), 0);
		vb_rd_init(&rd, p, n);
		assert_int_equal(vb_wire_dec_client(&rd, &ci, &e), 0);
		assert_int_equal(ci.groups_count, 1);
		assert_int_equal(vb_wire_dec_group_ref(&rd, &ref, &e), 0);
		assert_int_equal(ref.stream_id, sid);
		assert_int_equal(ref.group_id, 0);
	}
	/* Member 2 polls its partition 7 with auto commit. */
	r.flag = 1;
	r.part.present = 1;
	r.part.id = 7;
	assert_int_equal(poll_req(&c[2], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 7);
	assert_int_equal(out.n, 2);
	assert_int_equal(poll_req(&c[2], &r, &out), 0);
	assert_int_equal(out.n, 0);
	/* A partition not assigned to the member: empty result. */
	r.part.id = 0;
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 0);
	assert_int_equal(out.n, 0);
	/* Disconnect of member 1 and leave of member 2: one member left. */
	vb_client_release(&c[1]);
	assert_int_equal(vb_client_leave_group(&c[2], &s, &t, &gi, &e), 0);
	assert_int_equal(vb_client_leave_group(&c[2], &s, &t, &gi, &e), -1);
	assert_int_equal(e.status, VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND);
	get_group(&c[0], sid, tid, 0, &g, parts, np, NULL);
	assert_int_equal(g.members_count, 1);
	assert_int_equal(np[0], 8);
	/* Member 0 round-robins over all partitions; 7 was committed. */
	r.part.present = 0;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(poll_req(&c[0], &r, &out), 0);
		seen[out.h.partition_id] += (int)out.n;
	}
	for (int p = 0; p < 7; p++)
		assert_int_equal(seen[p], 2);
	assert_int_equal(seen[7], 0);
	/* Group offsets: stored, read back, deleted with the group. */
	{
		struct vb_consumer who;
		struct vb_offset_info oi;
		int found;

		who.kind = VB_CONSUMER_GROUP;
		who.id = gi;
		assert_int_equal(vb_client_get_offset(&c[0], &who, &s, &t, 7,
						      &oi, &found, &e),
				 0);
		assert_true(found);
		assert_int_equal(oi.stored_offset, 1);
		assert_int_equal(vb_client_store_offset(&c[2], &who, &s, &t, 7,
							0, &e),
				 -1);
		assert_int_equal(e.status,
				 VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND);
		vb_req_init(&r, VB_CMD_DELETE_CONSUMER_GROUP);
		r.stream = s;
		r.topic = t;
		r.target = gi;
		assert_int_equal(call(&c[0], &r, NULL, NULL), 0);
		assert_int_equal(call(&c[0], &r, NULL, NULL),
				 VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
		assert_int_equal(vb_client_create_group(&c[0], &s, &t, "w2", &g,
							&e),
				 0);
		assert_int_equal(g.id, 0);
		who.id.kind = VB_ID_NUM;
		who.id.num = 0;
		assert_int_equal(vb_client_get_offset(&c[0], &who, &s, &t, 7,
						      &oi, &found, &e),
				 0);
		assert_false(found);
	}
	vb_client_release(&c[0]);
	vb_client_release(&c[2]);
}

/* Member i's partitions from get_consumer_group, as a bit set. */
static unsigned member_set(struct vb_client *c, uint32_t sid, uint32_t tid,
			   uint32_t gid, uint32_t i)
{
	struct vb_group_info g;
	uint32_t parts[4][16], np[4];
	unsigned set = 0;

	get_group(c, sid, tid, gid, &g, parts, np, NULL);
	assert_true(i < g.members_count && g.members_count <= 4);
	for (uint32_t k = 0; k < np[i]; k++)
		set |= 1u << parts[i][k];
	return set;
}

/* Two clients, a 2-partition topic, group NAME that client 0 joined. */
struct gfix {
	struct vb_client c[2];
	struct vb_consumer who;
	struct vb_ident s, t, gi;
	struct vb_group_info g;
	uint32_t sid, tid;
};

static void gfix_open(struct gfix *f, struct srv *sv, const char *name)
{
	char sname[64];
	struct vb_err e;

	for (int i = 0; i < 2; i++)
		assert_int_equal(srv_client(sv, &f->c[i], 1), 0);
	snprintf(sname, sizeof(sname), "%s-stream", name);
	make_stream_topic(&f->c[0], sname, "events", 2, &f->sid, &f->tid);
	ident_num(&f->s, f->sid);
	ident_num(&f->t, f->tid);
	assert_int_equal(vb_client_create_group(&f->c[0], &f->s, &f->t, name,
						&f->g, &e),
			 0);
	ident_str(&f->gi, name);
	f->who.kind = VB_CONSUMER_GROUP;
	f->who.id = f->gi;
	assert_int_equal(vb_client_join_group(&f->c[0], &f->s, &f->t, &f->gi,
					      &e),
			 0);
}

/*
 * control.md §6.2: a partition the joining member is to get stays with
 * the member that polled it until the group commits what was polled, so
 * no event goes to both (or, with --rebalance-ms, until the timeout).
 */
static void test_group_pending_revocation(void **state)
{
	struct gfix f;
	struct vb_client *c = f.c;
	struct vb_ident *s = &f.s, *t = &f.t, *gi = &f.gi;
	struct vb_consumer *who = &f.who;
	uint32_t sid, tid, gid;
	struct polled out;
	struct vb_req r;
	struct vb_err e;

	gfix_open(&f, &S, "rv");
	sid = f.sid;
	tid = f.tid;
	gid = f.g.id;
	for (int p = 0; p < 2; p++)
		send_n(&c[0], sid, tid, p, "rv", p * 10, 3);
	poll_init(&r, sid, tid, -1, VB_POLL_NEXT, 0, 10);
	r.consumer = *who;
	/* Member 0 reads both partitions and commits neither yet. */
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 0);
	assert_int_equal(out.n, 3);
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 1);
	assert_int_equal(out.n, 3);
	/* Member 1 joins: partition 1 is promised to it, still member 0's. */
	assert_int_equal(vb_client_join_group(&c[1], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 3u);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 0u);
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(out.h.partition_id, 0);
	/* Member 0's round robin skips it; polling it by id still works. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(poll_req(&c[0], &r, &out), 0);
		assert_int_equal(out.h.partition_id, 0);
	}
	r.part.present = 1;
	r.part.id = 1;
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 1);
	assert_int_equal(out.n, 3);
	r.part.present = 0;
	/* A commit short of what was polled keeps it; the full one moves it. */
	assert_int_equal(vb_client_store_offset(&c[0], who, s, t, 1, 1, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 0u);
	assert_int_equal(vb_client_store_offset(&c[0], who, s, t, 1, 2, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 1u);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 2u);
	assert_int_equal(vb_client_store_offset(&c[0], who, s, t, 1, 2, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_NOT_RESOLVED_CONSUMER);
	/* Member 1 resumes after the commit: only what came since. */
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 1);
	assert_int_equal(out.n, 0);
	send_n(&c[0], sid, tid, 1, "rv", 13, 1);
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.h.partition_id, 1);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.offsets[0], 3);
	assert_string_equal(out.payloads[0], "rv-13");
	/* An auto-committing poll completes a revocation by itself. */
	assert_int_equal(vb_client_leave_group(&c[1], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 3u);
	r.flag = 1;
	r.part.present = 1;
	r.part.id = 1;
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.n, 1);
	r.flag = 0;
	assert_int_equal(vb_client_join_group(&c[1], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 2u);
	/*
	 * A rejoin: the partition member 1 polled and did not commit stays
	 * its own, pending; when member 1 leaves, what it held is free at
	 * once.
	 */
	send_n(&c[0], sid, tid, 1, "rv", 14, 1);
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(vb_client_leave_group(&c[0], s, t, gi, &e), 0);
	assert_int_equal(vb_client_join_group(&c[0], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 3u);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 0u);
	assert_int_equal(vb_client_leave_group(&c[1], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 3u);
	/* Purging the topic leaves nothing polled: the promise is kept. */
	send_n(&c[0], sid, tid, 1, "rv", 15, 1);
	r.part.id = 1;
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.n, 2); /* rv-14, uncommitted, and rv-15 */
	assert_int_equal(vb_client_join_group(&c[1], s, t, gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 0u);
	vb_req_init(&r, VB_CMD_PURGE_TOPIC);
	r.stream = *s;
	r.topic = *t;
	assert_int_equal(call(&c[0], &r, NULL, NULL), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 2u);
	vb_client_release(&c[0]);
	vb_client_release(&c[1]);
}

/* A second server whose pending revocations time out after 300 ms. */
static void srv_start_quick_rebalance(struct srv *s2)
{
	static const char *const args[] = { "--rebalance-ms", "300", NULL };

	srv_mkdir(s2);
	assert_int_equal(srv_start_args(s2, args), 0);
}

/* Past --rebalance-ms a pending revocation completes without a commit. */
static void test_group_revocation_timeout(void **state)
{
	struct srv s2;
	struct gfix f;
	struct vb_client *c = f.c;
	uint32_t sid, tid, gid;
	struct polled out;
	struct vb_req r;
	struct vb_err e;
	int tries = 0;

	srv_start_quick_rebalance(&s2);
	gfix_open(&f, &s2, "to");
	sid = f.sid;
	tid = f.tid;
	gid = f.g.id;
	send_n(&c[0], sid, tid, 1, "to", 0, 2);
	poll_init(&r, sid, tid, 1, VB_POLL_NEXT, 0, 10);
	r.consumer = f.who;
	assert_int_equal(poll_req(&c[0], &r, &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(vb_client_join_group(&c[1], &f.s, &f.t, &f.gi, &e), 0);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 0u);
	while (member_set(&c[0], sid, tid, gid, 1) == 0u && tries++ < 100)
		usleep(50000);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 1), 2u);
	assert_int_equal(member_set(&c[0], sid, tid, gid, 0), 1u);
	/* The new owner starts after the last commit: here, from the start. */
	assert_int_equal(poll_req(&c[1], &r, &out), 0);
	assert_int_equal(out.n, 2);
	vb_client_release(&c[0]);
	vb_client_release(&c[1]);
	assert_int_equal(srv_stop(&s2), 0);
	srv_rmdir(&s2);
}

/* ---- fair groups: 1 to 5 members on 8 partitions ---- */

#define FP 8	/* partitions */
#define FM 5	/* member clients */
#define FMSG 40 /* events per partition */
#define FALL ((1u << FP) - 1)

/*
 * FM clients that join and leave group NAME of an FP-partition topic,
 * and what the test knows: who is a member with which member id, which
 * partitions each held at the last look, what each polled and did not
 * commit, and which membership got each event.
 */
struct fair {
	struct srv *sv;
	struct vb_client obs; /* never a member: looks at the group */
	struct vb_client c[FM];
	struct vb_consumer who;
	struct vb_ident s, t, gi;
	uint32_t sid, tid, gid;
	int in[FM];
	uint32_t mid[FM];
	unsigned set[FM];
	int gen[FM];		/* memberships of client k so far */
	int64_t polled[FM][FP]; /* last offset polled, -1 none */
	int64_t stored[FP];	/* the group's offset, -1 none */
	int by[FP][FMSG];	/* k + FM * gen of the getter, -1 */
};

static void fair_open(struct fair *f, struct srv *sv, const char *name)
{
	struct vb_group_info g;
	char sname[64];
	struct vb_err e;

	memset(f, 0, sizeof(*f));
	f->sv = sv;
	assert_int_equal(srv_client(sv, &f->obs, 1), 0);
	for (int k = 0; k < FM; k++) {
		assert_int_equal(srv_client(sv, &f->c[k], 1), 0);
		for (int p = 0; p < FP; p++)
			f->polled[k][p] = -1;
	}
	snprintf(sname, sizeof(sname), "%s-stream", name);
	make_stream_topic(&f->obs, sname, "events", FP, &f->sid, &f->tid);
	for (int p = 0; p < FP; p++) {
		send_n(&f->obs, f->sid, f->tid, p, name, p * 100, FMSG);
		f->stored[p] = -1;
		for (int o = 0; o < FMSG; o++)
			f->by[p][o] = -1;
	}
	ident_num(&f->s, f->sid);
	ident_num(&f->t, f->tid);
	assert_int_equal(vb_client_create_group(&f->obs, &f->s, &f->t, name, &g,
						&e),
			 0);
	f->gid = g.id;
	ident_str(&f->gi, name);
	f->who.kind = VB_CONSUMER_GROUP;
	f->who.id = f->gi;
}

static void fair_close(struct fair *f)
{
	vb_client_release(&f->obs);
	for (int k = 0; k < FM; k++)
		vb_client_release(&f->c[k]);
}

static int fair_members(const struct fair *f)
{
	int n = 0;

	for (int k = 0; k < FM; k++)
		n += f->in[k];
	return n;
}

/*
 * Reads the assignment into f->set and checks it: the members are ours,
 * no partition is listed twice, every one is listed while there are
 * members, and what a member polled and did not commit is still its own.
 */
static void fair_look(struct fair *f)
{
	struct vb_group_info g;
	uint32_t parts[FM][16], np[FM], ids[FM];
	unsigned all = 0;

	get_group(&f->obs, f->sid, f->tid, f->gid, &g, parts, np, ids);
	assert_int_equal(g.members_count, fair_members(f));
	memset(f->set, 0, sizeof(f->set));
	for (uint32_t i = 0; i < g.members_count; i++) {
		int k = -1;

		for (int j = 0; j < FM; j++)
			if (f->in[j] && f->mid[j] == ids[i])
				k = j;
		assert_true(k >= 0);
		for (uint32_t n = 0; n < np[i]; n++) {
			assert_true(parts[i][n] < FP);
			assert_false(all & (1u << parts[i][n]));
			all |= 1u << parts[i][n];
			f->set[k] |= 1u << parts[i][n];
		}
	}
	if (g.members_count > 0)
		assert_int_equal(all, FALL);
	for (int k = 0; k < FM; k++)
		for (int p = 0; p < FP; p++)
			if (f->polled[k][p] >= 0)
				assert_true(f->set[k] & (1u << p));
}

/* Counts differ by at most one. */
static void fair_balanced(const struct fair *f)
{
	int lo = FP, hi = 0;

	for (int k = 0; k < FM; k++) {
		if (!f->in[k])
			continue;
		if (__builtin_popcount(f->set[k]) < lo)
			lo = __builtin_popcount(f->set[k]);
		if (__builtin_popcount(f->set[k]) > hi)
			hi = __builtin_popcount(f->set[k]);
	}
	assert_true(hi - lo <= 1);
}

/* Does some member hold events it polled and did not commit? */
static int fair_uncommitted(const struct fair *f)
{
	for (int k = 0; k < FM; k++)
		for (int p = 0; p < FP; p++)
			if (f->in[k] && f->polled[k][p] >= 0)
				return 1;
	return 0;
}

static void fair_join(struct fair *f, int k)
{
	struct vb_group_info g;
	uint32_t parts[FM][16], np[FM], ids[FM];
	struct vb_err e;
	int found = 0;

	assert_int_equal(vb_client_join_group(&f->c[k], &f->s, &f->t, &f->gi,
					      &e),
			 0);
	get_group(&f->obs, f->sid, f->tid, f->gid, &g, parts, np, ids);
	for (uint32_t i = 0; i < g.members_count; i++) {
		int known = 0;

		for (int j = 0; j < FM; j++)
			known |= f->in[j] && f->mid[j] == ids[i];
		if (!known) {
			f->mid[k] = ids[i];
			found++;
		}
	}
	assert_int_equal(found, 1);
	f->in[k] = 1;
	fair_look(f);
}

/* Client k leaves, or disconnects (then connects again, not a member). */
static void fair_leave(struct fair *f, int k, int disconnect)
{
	struct vb_group_info g;
	uint32_t parts[FM][16], np[FM];
	struct vb_err e;
	int tries = 0;

	if (disconnect) {
		vb_client_release(&f->c[k]);
		/* the server sees the close when its loop gets to it */
		do {
			get_group(&f->obs, f->sid, f->tid, f->gid, &g, parts,
				  np, NULL);
		} while ((int)g.members_count != fair_members(f) - 1 &&
			 tries++ < 200 && usleep(10000) == 0);
		assert_int_equal(srv_client(f->sv, &f->c[k], 1), 0);
	} else {
		assert_int_equal(vb_client_leave_group(&f->c[k], &f->s, &f->t,
						       &f->gi, &e),
				 0);
	}
	f->in[k] = 0;
	f->gen[k]++;
	for (int p = 0; p < FP; p++)
		f->polled[k][p] = -1;
	fair_look(f);
}

/*
 * One round-robin poll of 2 events by member k, not committed.  Returns
 * the partition, or -1 for an empty answer.  An event another membership
 * got before comes again only once that membership ended without
 * committing it.
 */
static int fair_poll(struct fair *f, int k)
{
	struct polled out;
	struct vb_req r;
	uint32_t p;

	poll_init(&r, f->sid, f->tid, -1, VB_POLL_NEXT, 0, 2);
	r.consumer = f->who;
	assert_int_equal(poll_req(&f->c[k], &r, &out), 0);
	if (out.n == 0)
		return -1;
	p = out.h.partition_id;
	assert_true(p < FP);
	assert_true(f->set[k] & (1u << p));
	for (uint32_t i = 0; i < out.n; i++) {
		uint64_t o = out.offsets[i];
		int me = k + FM * f->gen[k], w;

		assert_true(o < FMSG);
		assert_true((int64_t)o > f->stored[p]);
		w = f->by[p][o];
		if (w >= 0 && w != me)
			assert_false(f->in[w % FM] && f->gen[w % FM] == w / FM);
		f->by[p][o] = me;
		if ((int64_t)o > f->polled[k][p])
			f->polled[k][p] = (int64_t)o;
	}
	fair_look(f);
	return (int)p;
}

/* Member k stores offset off of partition p. */
static void fair_store(struct fair *f, int k, uint32_t p, int64_t off)
{
	struct vb_err e;

	assert_int_equal(vb_client_store_offset(&f->c[k], &f->who, &f->s, &f->t,
						p, (uint64_t)off, &e),
			 0);
	f->stored[p] = off;
	if (off >= f->polled[k][p])
		f->polled[k][p] = -1;
	fair_look(f);
}

/* Member k commits everything it polled. */
static void fair_commit(struct fair *f, int k)
{
	for (uint32_t p = 0; p < FP; p++)
		if (f->polled[k][p] >= 0)
			fair_store(f, k, p, f->polled[k][p]);
}

/* Members 0..4 join in turn, each taking only from those above share. */
static const unsigned fair_joined[FM][FM] = {
	{ 0xff },
	{ 0x0f, 0xf0 },
	{ 0x07, 0x70, 0x88 },
	{ 0x03, 0x30, 0x88, 0x44 },
	{ 0x03, 0x30, 0x88, 0x04, 0x40 },
};

static void fair_join_all(struct fair *f)
{
	for (int k = 0; k < FM; k++) {
		unsigned before[FM];

		memcpy(before, f->set, sizeof(before));
		fair_join(f, k);
		for (int j = 0; j < FM; j++)
			assert_int_equal(f->set[j], fair_joined[k][j]);
		/* sticky: old members only gave */
		for (int j = 0; j < k; j++)
			assert_int_equal(f->set[j] & ~before[j], 0u);
		fair_balanced(f);
	}
}

/*
 * 1 to 5 members join one by one and leave in several orders (by leave or
 * by disconnect), with no polls: after each change the counts differ by at
 * most one, a join only takes from members above their share, a leave
 * only gives the leaver's partitions to the others.
 */
static void test_group_fair_shares(void **state)
{
	static const int orders[][FM] = {
		{ 0, 2, 4, 1, 3 }, { 4, 3, 2, 1, 0 }, { 1, 3, 0, 4, 2 },
		{ 2, 0, 3, 1, 4 }, { 3, 1, 4, 0, 2 },
	};
	/* after each leave of the first order */
	static const unsigned left[FM][FM] = {
		{ 0, 0x30, 0x88, 0x05, 0x42 },
		{ 0, 0x38, 0, 0x85, 0x42 },
		{ 0, 0x3a, 0, 0xc5, 0 },
		{ 0, 0, 0, 0xff, 0 },
		{ 0 },
	};
	struct fair f;

	fair_open(&f, &S, "fs");
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		fair_join_all(&f);
		for (int i = 0; i < FM; i++) {
			unsigned before[FM];

			memcpy(before, f.set, sizeof(before));
			fair_leave(&f, orders[o][i], o > 0 && i % 2 == 1);
			for (int j = 0; j < FM; j++) {
				if (o == 0)
					assert_int_equal(f.set[j], left[i][j]);
				if (f.in[j])
					assert_int_equal(before[j] & ~f.set[j],
							 0u);
			}
			fair_balanced(&f);
		}
	}
	fair_close(&f);
}

/*
 * With uncommitted polls, a partition leaves its member only once the
 * group commits it; a leave or a join never takes one away at once.
 */
static void test_group_fair_uncommitted(void **state)
{
	struct fair f;
	unsigned seen = 0, before;

	fair_open(&f, &S, "fu");
	fair_join(&f, 0);
	for (int i = 0; i < FP; i++)
		seen |= 1u << fair_poll(&f, 0);
	assert_int_equal(seen, FALL);
	/* Member 1 is to get 4-7; all stay member 0's until committed. */
	fair_join(&f, 1);
	assert_int_equal(f.set[0], FALL);
	assert_int_equal(f.set[1], 0u);
	assert_int_equal(fair_poll(&f, 1), -1);
	seen = 0;
	for (int i = 0; i < FP; i++)
		seen |= 1u << fair_poll(&f, 0);
	assert_int_equal(seen, 0x0fu); /* round robin skips 4-7 */
	fair_store(&f, 0, 5, f.polled[0][5]);
	assert_int_equal(f.set[1], 0x20u);
	fair_store(&f, 0, 6, f.polled[0][6] - 1);
	assert_int_equal(f.set[1], 0x20u);
	fair_commit(&f, 0);
	assert_int_equal(f.set[0], 0x0fu);
	assert_int_equal(f.set[1], 0xf0u);
	/* Both read on; member 2 joins: 3 and 7 wait for their commits. */
	for (int i = 0; i < 4; i++) {
		assert_true(fair_poll(&f, 0) >= 0);
		assert_true(fair_poll(&f, 1) >= 0);
	}
	fair_join(&f, 2);
	assert_int_equal(f.set[0], 0x0fu);
	assert_int_equal(f.set[1], 0xf0u);
	assert_int_equal(fair_poll(&f, 2), -1);
	fair_commit(&f, 1);
	assert_int_equal(f.set[1], 0x70u);
	assert_int_equal(f.set[2], 0x80u);
	fair_commit(&f, 0);
	assert_int_equal(f.set[0], 0x07u);
	assert_int_equal(f.set[2], 0x88u);
	fair_balanced(&f);
	/*
	 * Everyone polls and nobody commits; member 2 disconnects: its 3 and
	 * 7 are free at once and nothing else moves.  The next owners read
	 * again what member 2 had not committed.
	 */
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 3; i++)
			fair_poll(&f, k);
	fair_leave(&f, 2, 1);
	assert_int_equal(f.set[0], 0x0fu);
	assert_int_equal(f.set[1], 0xf0u);
	for (int i = 0; i < FP && (f.polled[0][3] < 0 || f.polled[1][7] < 0);
	     i++) {
		fair_poll(&f, 0);
		fair_poll(&f, 1);
	}
	assert_true(f.polled[0][3] >= 0 && f.polled[1][7] >= 0);
	/*
	 * Member 2 joins again: partition 7 went to member 1 with the leave
	 * and member 1 polled it: it waits; 3 the same for member 0.
	 */
	fair_join(&f, 2);
	assert_int_equal(f.set[0], 0x0fu);
	assert_int_equal(f.set[1], 0xf0u);
	assert_int_equal(f.set[2], 0u);
	fair_commit(&f, 0);
	fair_commit(&f, 1);
	assert_int_equal(f.set[2], 0x88u);
	fair_balanced(&f);
	/* A leave with uncommitted polls elsewhere: the others only gain. */
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 3; i++)
			fair_poll(&f, k);
	before = f.set[1] | f.set[2];
	fair_leave(&f, 0, 0);
	assert_int_equal(f.set[1] & 0x70u, 0x70u);
	assert_int_equal(f.set[2] & 0x88u, 0x88u);
	assert_int_equal(f.set[1] | f.set[2], FALL);
	assert_int_equal(before & ~(f.set[1] | f.set[2]), 0u);
	fair_balanced(&f);
	/*
	 * A joiner gets the highest partition of each of the others, 6 and 7,
	 * as each commits what it polled there.
	 */
	fair_join(&f, 0);
	assert_int_equal(f.set[0], 0u);
	fair_commit(&f, 2);
	assert_int_equal(f.set[0], 0x80u);
	fair_commit(&f, 1);
	assert_int_equal(f.set[0], 0xc0u);
	fair_balanced(&f);
	fair_close(&f);
}

/*
 * Joins, leaves, disconnects, polls and commits in a pseudo-random order:
 * the checks of fair_look and fair_poll after every step, and the counts
 * differ by at most one after every change made while nothing was
 * uncommitted, and whenever everything is committed.
 */
static void test_group_fair_random(void **state)
{
	struct fair f;
	uint32_t x = 12345;

	fair_open(&f, &S, "fr");
	for (int step = 0; step < 400; step++) {
		int k, op, settled;

		x = x * 1103515245u + 12345u;
		k = (int)((x >> 16) % FM);
		op = (int)((x >> 8) % 100);
		settled = !fair_uncommitted(&f);
		if (!f.in[k]) {
			if (op < 60) {
				fair_join(&f, k);
				if (settled)
					fair_balanced(&f);
			}
		} else if (op < 14) {
			fair_leave(&f, k, op % 2);
			if (settled)
				fair_balanced(&f);
		} else if (op < 65) {
			fair_poll(&f, k);
		} else {
			fair_commit(&f, k);
		}
		if (step % 25 == 24) {
			for (int j = 0; j < FM; j++)
				fair_commit(&f, j);
			fair_balanced(&f);
		}
	}
	fair_close(&f);
}

/* Past --rebalance-ms every pending revocation completes uncommitted. */
static void test_group_fair_timeout(void **state)
{
	struct srv s2;
	struct fair f;
	struct polled out;
	struct vb_req r;
	struct vb_err e;
	int tries = 0;

	srv_start_quick_rebalance(&s2);
	fair_open(&f, &s2, "ft");
	fair_join(&f, 0);
	for (int i = 0; i < FP; i++)
		fair_poll(&f, 0);
	fair_commit(&f, 0);
	for (int i = 0; i < FP; i++)
		fair_poll(&f, 0);
	fair_join(&f, 1);
	assert_int_equal(f.set[1], 0u);
	/* the timeout: member 0's uncommitted events are member 1's now */
	for (int k = 0; k < FP; k++)
		f.polled[0][k] = -1;
	while (f.set[1] != 0xf0u && tries++ < 100) {
		usleep(50000);
		fair_look(&f);
	}
	assert_int_equal(f.set[0], 0x0fu);
	assert_int_equal(f.set[1], 0xf0u);
	/* it reads on after the last commit; member 0's commit is refused */
	poll_init(&r, f.sid, f.tid, 7, VB_POLL_NEXT, 0, 10);
	r.consumer = f.who;
	assert_int_equal(poll_req(&f.c[1], &r, &out), 0);
	assert_int_equal(out.n, 10);
	assert_int_equal(out.offsets[0], 2);
	assert_int_equal(vb_client_store_offset(&f.c[0], &f.who, &f.s, &f.t, 7,
						3, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_NOT_RESOLVED_CONSUMER);
	fair_close(&f);
	assert_int_equal(srv_stop(&s2), 0);
	srv_rmdir(&s2);
}

/* A Permissions block: globals, then one stream with given flags. */
static size_t perms(uint8_t *p, const uint8_t g[10], int has_stream,
		    uint32_t sid, const uint8_t sf[6])
{
	size_t n = 0;

	memcpy(p, g, 10);
	n = 10;
	p[n++] = has_stream ? 1 : 0;
	if (has_stream) {
		vb_st32(p + n, sid);
		n += 4;
		memcpy(p + n, sf, 6);
		n += 6;
		p[n++] = 0; /* no topics */
		p[n++] = 0; /* no next stream */
	}
	return n;
}

static void test_users(void **state)
{
	static const uint8_t none[10],
		read_only[10] = { 0, 1, 0, 1, 0, 1, 0, 1, 1, 0 };
	static const uint8_t sf_send[6] = { 0, 1, 0, 1, 1, 1 };
	struct vb_client c, u;
	struct vb_user_info ui;
	uint8_t pb[64];
	struct vb_req r;
	struct vb_rd rd;
	struct vb_err e;
	const uint8_t *p, *pp;
	uint32_t pl, sid, tid, uid;
	size_t n;

	open_client(&c);
	make_stream_topic(&c, "u-stream", "events", 1, &sid, &tid);
	vb_req_init(&r, VB_CMD_CREATE_USER);
	vb_name_set(&r.name, "alice");
	vb_name_set(&r.secret, "secret1");
	r.user_status = 1;
	r.has_perms = 1;
	r.perms = pb;
	r.perms_len = (uint32_t)perms(pb, read_only, 0, 0, NULL);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	assert_int_equal(vb_wire_dec_user(&rd, &ui, &e), 0);
	assert_string_equal(ui.username.s, "alice");
	assert_int_equal(ui.status, 1);
	assert_int_equal(vb_wire_dec_user_perms(&rd, &pp, &pl, &e), 0);
	assert_int_equal(pl, r.perms_len);
	uid = ui.id;
	assert_true(uid > 0);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_USER_ALREADY_EXISTS);
	vb_name_set(&r.name, "al");
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_USERNAME);
	/* alice can read but not create streams or send. */
	assert_int_equal(srv_client(&S, &u, 0), 0);
	assert_int_equal(vb_client_login(&u, "alice", "secret1", &pl, &e), 0);
	assert_int_equal(pl, uid);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	assert_int_equal(call(&u, &r, &p, &n), 0);
	assert_true(n > 0);
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "alice-stream");
	assert_int_equal(call(&u, &r, NULL, NULL), VB_ST_UNAUTHORIZED);
	{
		struct vb_send_hdr h;
		struct vb_msg_in m;

		memset(&h, 0, sizeof(h));
		memset(&m, 0, sizeof(m));
		ident_num(&h.stream, sid);
		ident_num(&h.topic, tid);
		h.part_kind = VB_PART_BALANCED;
		m.payload = "x";
		m.payload_len = 1;
		assert_int_equal(vb_client_send(&u, &h, &m, 1, &e), -1);
		assert_int_equal(e.status, VB_ST_UNAUTHORIZED);
		/* Stream-level send permission lets it through. */
		vb_req_init(&r, VB_CMD_UPDATE_PERMISSIONS);
		ident_num(&r.target, uid);
		r.has_perms = 1;
		r.perms = pb;
		r.perms_len = (uint32_t)perms(pb, none, 1, sid, sf_send);
		assert_int_equal(call(&c, &r, NULL, NULL), 0);
		assert_int_equal(vb_client_send(&u, &h, &m, 1, &e), 0);
		vb_req_init(&r, VB_CMD_GET_STATS);
		assert_int_equal(call(&u, &r, NULL, NULL), VB_ST_UNAUTHORIZED);
	}
	/* Own user record needs no permission; others do. */
	vb_req_init(&r, VB_CMD_GET_USER);
	ident_str(&r.target, "alice");
	assert_int_equal(call(&u, &r, &p, &n), 0);
	assert_true(n > 0);
	ident_num(&r.target, 0);
	assert_int_equal(call(&u, &r, NULL, NULL), VB_ST_UNAUTHORIZED);
	ident_num(&r.target, 999);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	assert_int_equal(n, 0);
	/* Change password (own), update name and status, list. */
	vb_req_init(&r, VB_CMD_CHANGE_PASSWORD);
	ident_num(&r.target, uid);
	vb_name_set(&r.secret, "wrong-one");
	vb_name_set(&r.secret2, "secret2");
	assert_int_equal(call(&u, &r, NULL, NULL), VB_ST_INVALID_CREDENTIALS);
	vb_name_set(&r.secret, "secret1");
	assert_int_equal(call(&u, &r, NULL, NULL), 0);
	assert_int_equal(vb_client_login(&u, "alice", "secret1", NULL, &e), -1);
	assert_int_equal(vb_client_login(&u, "alice", "secret2", NULL, &e), 0);
	vb_req_init(&r, VB_CMD_UPDATE_USER);
	ident_num(&r.target, uid);
	r.has_username = 1;
	vb_name_set(&r.name, "alice2");
	r.has_status = 1;
	r.user_status = 2;
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	assert_int_equal(vb_client_login(&u, "alice2", "secret2", NULL, &e),
			 -1);
	assert_int_equal(e.status, VB_ST_USER_INACTIVE);
	vb_req_init(&r, VB_CMD_GET_USERS);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	{
		int users = 0;

		while (vb_rd_left(&rd)) {
			assert_int_equal(vb_wire_dec_user(&rd, &ui, &e), 0);
			users++;
		}
		assert_true(users >= 2);
	}
	/* Root: cannot be deleted (48) nor have its permissions changed. */
	vb_req_init(&r, VB_CMD_DELETE_USER);
	ident_num(&r.target, 0);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_CANNOT_DELETE_USER);
	vb_req_init(&r, VB_CMD_UPDATE_PERMISSIONS);
	ident_num(&r.target, 0);
	assert_int_equal(call(&c, &r, NULL, NULL),
			 VB_ST_CANNOT_CHANGE_PERMISSIONS);
	vb_req_init(&r, VB_CMD_DELETE_USER);
	ident_num(&r.target, uid);
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_RESOURCE_NOT_FOUND);
	vb_client_release(&u);
	vb_client_release(&c);
}

static void test_pats(void **state)
{
	struct vb_client c, t;
	struct vb_name tok;
	struct vb_pat_info pi;
	struct vb_req r;
	struct vb_rd rd;
	struct vb_err e;
	const uint8_t *p;
	size_t n;

	open_client(&c);
	vb_req_init(&r, VB_CMD_CREATE_PAT);
	vb_name_set(&r.name, "ci-token");
	assert_int_equal(call(&c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	assert_int_equal(vb_wire_dec_name(&rd, &tok, "token", &e), 0);
	assert_true(tok.len >= 20);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_PAT_ALREADY_EXISTS);
	vb_name_set(&r.name, "ab");
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_INVALID_PAT_NAME);
	vb_req_init(&r, VB_CMD_GET_PATS);
	assert_int_equal(call(&c, &r, &p, &n), 0);
	vb_rd_init(&rd, p, n);
	assert_int_equal(vb_wire_dec_pat(&rd, &pi, &e), 0);
	assert_string_equal(pi.name.s, "ci-token");
	assert_int_equal(pi.expiry_at, 0);
	/* Login with the token on a fresh connection. */
	assert_int_equal(srv_client(&S, &t, 0), 0);
	vb_req_init(&r, VB_CMD_LOGIN_PAT);
	r.name = tok;
	assert_int_equal(call(&t, &r, &p, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(vb_ld32(p), 0);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	assert_int_equal(call(&t, &r, NULL, NULL), 0);
	/* Deleted: login gives 20. */
	vb_req_init(&r, VB_CMD_DELETE_PAT);
	vb_name_set(&r.name, "ci-token");
	assert_int_equal(call(&c, &r, NULL, NULL), 0);
	assert_int_equal(call(&c, &r, NULL, NULL), VB_ST_RESOURCE_NOT_FOUND);
	vb_req_init(&r, VB_CMD_LOGIN_PAT);
	r.name = tok;
	assert_int_equal(call(&t, &r, NULL, NULL), VB_ST_RESOURCE_NOT_FOUND);
	vb_client_release(&t);
	vb_client_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_login),
		cmocka_unit_test(test_get_me_stats_clients),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_send_poll),
		cmocka_unit_test(test_partitioning),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_group_pending_revocation),
		cmocka_unit_test(test_group_revocation_timeout),
		cmocka_unit_test(test_group_fair_shares),
		cmocka_unit_test(test_group_fair_uncommitted),
		cmocka_unit_test(test_group_fair_random),
		cmocka_unit_test(test_group_fair_timeout),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_pats),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
