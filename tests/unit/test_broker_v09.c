/*
 * Iggy 0.9 against the real vibes-iggyd, byte by byte over a raw socket
 * (iggy-wire-0.9/framing.md): the mark on a ping before login, what needs
 * a session (status 40, eviction NoSession), the version gate and refused
 * logins as evictions, silently dropped headers, the request checksum, the
 * metadata client table (a retransmission answered from it, another body
 * under a used number dropped), send admission (frame checksums) and
 * confirmations with base offsets, polls as batch records (checksums, a
 * message damaged on disk), describe_options, the heartbeat's
 * stale-client eviction, no waiting polls (0.8's extensions) over 0.9.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/path.h"
#include "broker_fixture.h"
#include "wire/wire.h"

static void put_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void get_all(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, p + got, n - got, 0);

		assert_true(k > 0);
		got += (size_t)k;
	}
}

/* One whole frame from the server into b (header and body). */
static void get_frame(int fd, struct vb_buf *b)
{
	uint32_t size;

	vb_buf_reset(b);
	get_all(fd, vb_buf_reserve(b, VB_VSR_HDR), VB_VSR_HDR);
	b->len = VB_VSR_HDR;
	size = vb_ld32(b->p + 48);
	assert_true(size >= VB_VSR_HDR);
	get_all(fd, vb_buf_reserve(b, size - VB_VSR_HDR), size - VB_VSR_HDR);
	b->len = size;
}

/* Encodes r as a 0.9 frame stamped with id (request checksum if sum). */
static void frame(struct vb_buf *b, const struct vb_req *r,
		  const struct vb_vsr_id *id, int sum)
{
	vb_buf_reset(b);
	vb_wire_req_frame(b, &vb_framing_v09, r);
	vb_vsr_req_stamp(b->p, b->len, id, sum);
}

static void new_id(struct vb_vsr_id *id, uint8_t seed)
{
	memset(id, 0, sizeof(*id));
	memset(id->client, seed, sizeof(id->client));
}

static void login_req(struct vb_req *r, uint32_t version, const char *pass)
{
	vb_req_init(r, VB_CMD_LOGIN_REGISTER);
	r->proto_version = version;
	vb_name_set(&r->sdk_name, "test");
	vb_name_set(&r->sdk_version, "1");
	vb_name_set(&r->name, S.user);
	vb_name_set(&r->secret, pass);
}

#define REPLY_STATUS(p) vb_ld32((p) + 216)
#define REPLY_OP(p) ((p)[208])

/* Logs in on fd; returns the session. */
static uint64_t login(int fd, struct vb_vsr_id *id)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_login l;
	struct vb_req r;
	struct vb_err e;

	login_req(&r, VB_V09_PROTOCOL_VERSION, S.pass);
	frame(&b, &r, id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_REPLY);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(vb_ld32(b.p + VB_VSR_HDR), 0); /* result count */
	assert_int_equal(vb_vsr_dec_login(b.p + VB_VSR_HDR + 4,
					  b.len - VB_VSR_HDR - 4, &l, &e),
			 0);
	assert_true(l.session >= 1);
	assert_int_equal(l.server_protocol, VB_V09_PROTOCOL_VERSION);
	id->session = l.session;
	id->request = 1;
	vb_buf_release(&b);
	return l.session;
}

static void test_before_login(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	int fd = raw_connect();

	new_id(&id, 1);
	/* a ping: answered, and marked (the port speaks 0.8 too) */
	vb_req_init(&r, VB_CMD_PING);
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_REPLY);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(REPLY_OP(b.p), VB_OP_NR);
	assert_int_equal(b.len, VB_VSR_HDR);
	assert_true(vb_vsr_also_v08(b.p));
	/* a read: status 40 */
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_REPLY);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_UNAUTHENTICATED);
	/* a write: eviction NoSession */
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "nope");
	id.session = 1;
	id.request = 1;
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_EVICTION);
	assert_int_equal(b.p[255], VB_EVICT_NO_SESSION);
	close(fd);
	vb_buf_release(&b);
}

static void test_login_refused(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	int fd = raw_connect();

	/* the version gate: 0.10.0 is another minor */
	new_id(&id, 2);
	login_req(&r, 10u << 10, S.pass);
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_EVICTION);
	assert_int_equal(b.p[255], VB_EVICT_INCOMPATIBLE_PROTOCOL);
	assert_int_equal(vb_ld32(b.p + 144), VB_V09_PROTOCOL_VERSION);
	assert_int_equal(vb_ld32(b.p + 148), VB_V09_PROTOCOL_VERSION & ~0x3FFu);
	assert_int_equal(vb_evict_status(b.p[255], vb_ld32(b.p + 144),
					 vb_ld32(b.p + 148)),
			 VB_ST_INCOMPATIBLE_PROTOCOL_VERSION);
	/* a later patch of the same minor passes the gate, the password not */
	login_req(&r, VB_V09_PROTOCOL_VERSION + 7, "wrong-password");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_EVICTION);
	assert_int_equal(b.p[255], VB_EVICT_INVALID_CREDENTIALS);
	/* the legacy login as NonReplicated: MalformedLogin */
	vb_req_init(&r, VB_CMD_PING);
	frame(&b, &r, &id, 0);
	vb_st32(b.p + VB_V09_NR_CODE_OFF, VB_CMD_LOGIN_USER);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_EVICTION);
	assert_int_equal(b.p[255], VB_EVICT_MALFORMED_LOGIN);
	close(fd);
	vb_buf_release(&b);
}

static void test_drops_and_checksum(void **state)
{
	struct vb_buf b = VB_BUF_INIT, p = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	int fd = raw_connect();

	new_id(&id, 3);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_PING);
	frame(&p, &r, &id, 0);
	/* not a request (command 6): no answer; the ping after it is */
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	frame(&b, &r, &id, 0);
	b.p[60] = 6;
	put_all(fd, b.p, b.len);
	/* client id 0: dropped too */
	frame(&b, &r, &id, 0);
	memset(b.p + 128, 0, 16);
	put_all(fd, b.p, b.len);
	put_all(fd, p.p, p.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(vb_ld32(b.p + VB_V09_NR_CODE_OFF), 0);
	assert_int_equal(b.len, VB_VSR_HDR); /* the ping's: empty */
	/* a request checksum the body does not give: status 4 */
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "sum");
	frame(&b, &r, &id, 1);
	b.p[144] ^= 1;
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_INVALID_FORMAT);
	close(fd);
	vb_buf_release(&b);
	vb_buf_release(&p);
}

static void test_client_table(void **state)
{
	struct vb_buf b = VB_BUF_INIT, first = VB_BUF_INIT, again = VB_BUF_INIT,
		      ping = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	size_t n = 0;
	int fd = raw_connect();

	new_id(&id, 4);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "once");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &first);
	assert_int_equal(REPLY_STATUS(first.p), 0);
	assert_int_equal(vb_ld32(first.p + VB_VSR_HDR), 0); /* ok */
	/* the same bytes again: the same reply, not a second stream */
	put_all(fd, b.p, b.len);
	get_frame(fd, &again);
	assert_int_equal(again.len, first.len);
	assert_memory_equal(again.p, first.p, first.len);
	/* another body under the used number: dropped */
	vb_name_set(&r.name, "twice");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	frame(&ping, &r, &id, 0);
	put_all(fd, ping.p, ping.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	{
		struct vb_rd rd;
		struct vb_stream_info si;
		struct vb_err e;

		vb_rd_init(&rd, b.p + VB_VSR_HDR, b.len - VB_VSR_HDR);
		while (vb_rd_left(&rd) > 0) {
			assert_int_equal(vb_wire_dec_stream_gen(&rd, &si,
								VB_GEN_09, &e),
					 0);
			assert_string_not_equal(si.name.s, "twice");
			n += strcmp(si.name.s, "once") == 0;
		}
	}
	assert_int_equal(n, 1);
	/* the next number is new: a rejection in the result section */
	id.request = 2;
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "once");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(vb_ld32(b.p + VB_VSR_HDR), 1);
	assert_int_equal(vb_ld32(b.p + VB_VSR_HDR + 8),
			 VB_ST_STREAM_NAME_ALREADY_EXISTS);
	close(fd);
	vb_buf_release(&b);
	vb_buf_release(&first);
	vb_buf_release(&again);
	vb_buf_release(&ping);
}

static void test_send(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	struct vb_send_hdr h;
	struct vb_msg_in m[3];
	struct vb_send_confirm cf;
	struct vb_err e;
	int fd = raw_connect(), found;

	new_id(&id, 5);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "msgs");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	id.request = 2;
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	vb_ident_str(&r.stream, "msgs");
	vb_name_set(&r.name, "t");
	r.count = 2;
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(vb_ld32(b.p + VB_VSR_HDR), 0);
	id.request = 3;

	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "msgs");
	vb_ident_str(&h.topic, "t");
	h.part_kind = VB_PART_ID;
	h.partition_id = 1;
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		m[i].id[0] = (uint8_t)(i + 1);
		m[i].payload = "abc";
		m[i].payload_len = 3;
		m[i].origin_timestamp = 1000 + (uint64_t)i;
	}
	for (int round = 0; round < 2; round++) {
		vb_buf_reset(&b);
		assert_int_equal(vb_wire_send_encode_f(&b, &vb_framing_v09, &h,
						       m, 3, &e),
				 0);
		vb_vsr_req_stamp(b.p, b.len, &id, 0);
		put_all(fd, b.p, b.len);
		get_frame(fd, &b);
		assert_int_equal(REPLY_STATUS(b.p), 0);
		assert_int_equal(vb_wire_dec_send_reply(b.p + VB_VSR_HDR,
							b.len - VB_VSR_HDR,
							&found, &cf, &e),
				 0);
		assert_true(found);
		assert_int_equal(cf.partition_id, 1);
		assert_int_equal(cf.base_offset, 3 * (uint64_t)round);
	}
	/* a frame checksum that does not verify: 4027, nothing stored */
	vb_buf_reset(&b);
	assert_int_equal(vb_wire_send_encode_f(&b, &vb_framing_v09, &h, m, 3,
					       &e),
			 0);
	b.p[b.len - 1] ^= 0x20; /* the last payload byte */
	vb_vsr_req_stamp(b.p, b.len, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_INVALID_MESSAGE_CHECKSUM);
	/* a partition that does not exist: 20, as 0.9 says */
	h.partition_id = 7;
	vb_buf_reset(&b);
	assert_int_equal(vb_wire_send_encode_f(&b, &vb_framing_v09, &h, m, 1,
					       &e),
			 0);
	vb_vsr_req_stamp(b.p, b.len, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_RESOURCE_NOT_FOUND);
	close(fd);
	vb_buf_release(&b);
}

/* A 0.9 poll of partition 1 of stream sid, topic tid from offset 0. */
static void poll09(int fd, const struct vb_vsr_id *id, uint32_t sid,
		   uint32_t tid, struct vb_buf *b)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_POLL_MESSAGES);
	r.consumer.kind = VB_CONSUMER;
	vb_ident_num(&r.consumer.id, 1);
	vb_ident_num(&r.stream, sid);
	vb_ident_num(&r.topic, tid);
	r.part.present = 1;
	r.part.id = 1;
	r.strategy = VB_POLL_OFFSET;
	r.value = 0;
	r.count = 100;
	frame(b, &r, id, 0);
	put_all(fd, b->p, b->len);
	get_frame(fd, b);
	assert_int_equal(REPLY_STATUS(b->p), 0);
}

/*
 * Stored messages read back as batch records (messages.md §2, §4.3): one
 * per send, its frames' checksums and its own as the spec computes them;
 * a stored message damaged on disk comes with a checksum its bytes do not
 * give, and the rest of the poll stays good.
 */
static void test_poll_records(void **state)
{
	struct vb_buf b = VB_BUF_INIT, path = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	struct vb_send_hdr h;
	struct vb_msg_in m[3];
	struct vb_send_confirm cf;
	struct vb_err e;
	const uint8_t *p, *end;
	uint32_t sid = 0, tid = 0, recs = 0, frames = 0, bad = 0;
	int fd = raw_connect(), found;
	FILE *f;

	(void)state;
	new_id(&id, 9);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "recs");
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	id.request = 2;
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	vb_ident_str(&r.stream, "recs");
	vb_name_set(&r.name, "t");
	r.count = 2; /* 0.9 counts partitions from 0: 1 is the second */
	frame(&b, &r, &id, 1);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	id.request = 3;
	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "recs");
	vb_ident_str(&h.topic, "t");
	h.part_kind = VB_PART_ID;
	h.partition_id = 1;
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++) {
		m[i].id[0] = (uint8_t)(i + 1);
		m[i].payload = "payload";
		m[i].payload_len = 7;
		m[i].uhdr = "\x02\x01\x00\x00\x00k\x02\x01\x00\x00\x00v";
		m[i].uhdr_len = i == 1 ? 12 : 0;
		m[i].origin_timestamp = 5000 + 7 * (uint64_t)i;
	}
	for (int round = 0; round < 2; round++) {
		vb_buf_reset(&b);
		assert_int_equal(vb_wire_send_encode_f(&b, &vb_framing_v09, &h,
						       m, 3, &e),
				 0);
		vb_vsr_req_stamp(b.p, b.len, &id, 0);
		put_all(fd, b.p, b.len);
		get_frame(fd, &b);
		assert_int_equal(REPLY_STATUS(b.p), 0);
		assert_int_equal(vb_wire_dec_send_reply(b.p + VB_VSR_HDR,
							b.len - VB_VSR_HDR,
							&found, &cf, &e),
				 0);
		sid = cf.stream_id;
		tid = cf.topic_id;
	}

	for (int damaged = 0; damaged < 2; damaged++) {
		if (damaged) {
			/* offset 4's first payload byte: stored as the
			 * records came, two of 256-byte headers and frames
			 * of 55 bytes (no user headers) or 67 */
			vb_path_fmt(&path,
				    "%s/streams/%u/topics/%u/partitions/1/"
				    "%020d.log",
				    S.dir, sid, tid, 0);
			f = fopen((char *)path.p, "r+b");
			assert_non_null(f);
			assert_int_equal(fseek(f,
					       256 + 55 + 67 + 55 + 256 + 55 +
						       48,
					       SEEK_SET),
					 0);
			assert_int_equal(fputc('P', f), 'P');
			assert_int_equal(fclose(f), 0);
		}
		poll09(fd, &id, sid, tid, &b);
		p = b.p + VB_VSR_HDR;
		end = b.p + b.len;
		assert_int_equal(vb_ld32(p), 1);
		assert_int_equal(vb_ld32(p + 12), 6);
		p += 16;
		recs = frames = bad = 0;
		while (p < end) {
			uint64_t len = vb_ld64(p + VB_BATCH_LENGTH);
			const uint8_t *fr = p + VB_BATCH_HDR;

			assert_true(len >= VB_BATCH_HDR &&
				    len <= (size_t)(end - p));
			assert_int_equal(vb_ld32(p + VB_BATCH_COUNT), 3);
			assert_int_equal(vb_ld64(p + VB_BATCH_BASE_OFFSET),
					 3 * (uint64_t)recs);
			assert_int_equal(vb_ld64(p + VB_BATCH_ORIGIN_TS), 5000);
			assert_int_equal(vb_ld64(p + VB_BATCH_CHECKSUM),
					 vb_wire_batch_checksum(p));
			for (uint32_t i = 0; i < 3; i++) {
				uint32_t ul = vb_ld32(fr + VB_FRAME_UHDR_LEN);
				uint32_t pl = vb_ld32(fr +
						      VB_FRAME_PAYLOAD_LEN);
				size_t fsz = VB_FRAME_HDR + (size_t)pl + ul;

				assert_int_equal(vb_ld32(fr +
							 VB_FRAME_OFFSET_DELTA),
						 i);
				assert_int_equal(vb_ld32(fr +
							 VB_FRAME_TS_DELTA),
						 7 * i);
				assert_int_equal(fr[VB_FRAME_ID], i + 1);
				assert_int_equal(pl, 7);
				assert_int_equal(ul, i == 1 ? 12 : 0);
				assert_int_equal(vb_ld64(fr +
							 VB_FRAME_RESERVED),
						 0);
				if (vb_ld64(fr + VB_FRAME_CHECKSUM) !=
				    vb_xxh3(fr + 8, fsz - 8)) {
					bad++;
					assert_int_equal(recs * 3 + i, 4);
					assert_memory_equal(fr + VB_FRAME_HDR,
							    "Payload", 7);
				} else {
					assert_memory_equal(fr + VB_FRAME_HDR,
							    "payload", 7);
				}
				fr += fsz;
				frames++;
			}
			assert_ptr_equal(fr, p + len);
			p += len;
			recs++;
		}
		assert_int_equal(recs, 2);
		assert_int_equal(frames, 6);
		assert_int_equal(bad, (uint32_t)damaged);
	}
	close(fd);
	vb_buf_release(&b);
	vb_buf_release(&path);
}

/* One metadata write on fd, its result code. */
static uint32_t write09(int fd, struct vb_vsr_id *id, const struct vb_req *r)
{
	struct vb_buf b = VB_BUF_INIT;
	uint32_t res;

	frame(&b, r, id, 1);
	id->request++;
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_REPLY);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	res = vb_ld32(b.p + VB_VSR_HDR) ? vb_ld32(b.p + VB_VSR_HDR + 8) : 0;
	vb_buf_release(&b);
	return res;
}

/* Stream `name` with topic "t" of nparts partitions, over 0.9. */
static void topic09(int fd, struct vb_vsr_id *id, const char *name,
		    uint32_t nparts)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, name);
	assert_int_equal(write09(fd, id, &r), 0);
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	vb_ident_str(&r.stream, name);
	vb_name_set(&r.name, "t");
	r.count = nparts;
	assert_int_equal(write09(fd, id, &r), 0);
}

/* Sends messages m[0..n) as h says in one 0.9 batch: its confirmation. */
static void batch09(int fd, struct vb_vsr_id *id, const struct vb_send_hdr *h,
		    const struct vb_msg_in *m, uint32_t n,
		    struct vb_send_confirm *cf)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	int found = 0;

	assert_int_equal(vb_wire_send_encode_f(&b, &vb_framing_v09, h, m, n,
					       &e),
			 0);
	vb_vsr_req_stamp(b.p, b.len, id, 0);
	id->request++;
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	assert_int_equal(vb_wire_dec_send_reply(b.p + VB_VSR_HDR,
						b.len - VB_VSR_HDR, &found, cf,
						&e),
			 0);
	assert_true(found);
	vb_buf_release(&b);
}

/* Message i of test_poll_big: its length and its bytes. */
static uint32_t big_len(uint32_t i)
{
	return 1 + (i * 2657u) % 12000u;
}

static uint8_t big_byte(uint32_t i, uint32_t k)
{
	return (uint8_t)(i * 31u + k * 7u + (k >> 8));
}

/* Sends messages [from, from + n) of test_poll_big. */
static void big_send(int fd, struct vb_vsr_id *id, uint32_t from, uint32_t n,
		     struct vb_send_confirm *cf)
{
	struct vb_send_hdr h;
	struct vb_msg_in *m = calloc(n, sizeof(*m));
	uint8_t **pl = calloc(n, sizeof(*pl));

	assert_non_null(m);
	assert_non_null(pl);
	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "big");
	vb_ident_str(&h.topic, "t");
	h.part_kind = VB_PART_ID;
	h.partition_id = 1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = big_len(from + i);

		pl[i] = malloc(len);
		assert_non_null(pl[i]);
		for (uint32_t k = 0; k < len; k++)
			pl[i][k] = big_byte(from + i, k);
		m[i].id[0] = 1;
		vb_st32(m[i].id + 1, from + i);
		m[i].payload = (const char *)pl[i];
		m[i].payload_len = len;
		m[i].origin_timestamp = 1000 + from + i;
	}
	batch09(fd, id, &h, m, n, cf);
	for (uint32_t i = 0; i < n; i++)
		free(pl[i]);
	free(pl);
	free(m);
}

/*
 * Sends a poll of n messages from offset `from` of partition part of
 * stream's topic "t" (its answer not read).
 */
static void poll_send(int fd, const struct vb_vsr_id *id, const char *stream,
		      uint32_t part, uint64_t from, uint32_t n)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;

	vb_req_init(&r, VB_CMD_POLL_MESSAGES);
	r.consumer.kind = VB_CONSUMER;
	vb_ident_num(&r.consumer.id, 1);
	vb_ident_str(&r.stream, stream);
	vb_ident_str(&r.topic, "t");
	r.part.present = 1;
	r.part.id = part;
	r.strategy = VB_POLL_OFFSET;
	r.value = from;
	r.count = n;
	frame(&b, &r, id, 0);
	put_all(fd, b.p, b.len);
	vb_buf_release(&b);
}

/* test_poll_big's poll: n messages from offset 0. */
static void big_poll(int fd, const struct vb_vsr_id *id, uint32_t n)
{
	poll_send(fd, id, "big", 1, 0, n);
}

/*
 * Reads the answer of big_poll and checks every byte of it: message
 * `damaged` (if < n) with its first payload byte changed on disk, and so
 * a checksum its bytes do not give.
 */
static void big_check(int fd, uint32_t n, uint32_t damaged)
{
	struct vb_buf b = VB_BUF_INIT;
	const uint8_t *p, *end;
	uint32_t next = 0, recs = 0;

	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	p = b.p + VB_VSR_HDR;
	end = b.p + b.len;
	assert_int_equal(vb_ld32(p), 1);
	assert_int_equal(vb_ld32(p + 12), n);
	p += 16;
	while (p < end) {
		uint64_t len = vb_ld64(p + VB_BATCH_LENGTH);
		uint32_t count = vb_ld32(p + VB_BATCH_COUNT);
		uint64_t base = vb_ld64(p + VB_BATCH_BASE_OFFSET);
		const uint8_t *fr = p + VB_BATCH_HDR;

		assert_true(len > VB_BATCH_HDR && len <= (size_t)(end - p));
		assert_int_equal(vb_ld64(p + VB_BATCH_CHECKSUM),
				 vb_wire_batch_checksum(p));
		for (uint32_t i = 0; i < count; i++) {
			uint32_t pl = vb_ld32(fr + VB_FRAME_PAYLOAD_LEN);
			size_t fsz = VB_FRAME_HDR + (size_t)pl +
				     vb_ld32(fr + VB_FRAME_UHDR_LEN);

			assert_int_equal(base + vb_ld32(fr +
							VB_FRAME_OFFSET_DELTA),
					 next);
			assert_int_equal(vb_ld32(fr + VB_FRAME_ID + 1), next);
			assert_int_equal(pl, big_len(next));
			for (uint32_t k = 0; k < pl; k++)
				if (fr[VB_FRAME_HDR + k] !=
				    (uint8_t)(big_byte(next, k) ^
					      (next == damaged && k == 0)))
					fail_msg("message %u byte %u", next, k);
			if (next == damaged)
				assert_int_not_equal(vb_ld64(fr +
							     VB_FRAME_CHECKSUM),
						     vb_xxh3(fr + 8, fsz - 8));
			else
				assert_int_equal(vb_ld64(fr +
							 VB_FRAME_CHECKSUM),
						 vb_xxh3(fr + 8, fsz - 8));
			fr += fsz;
			next++;
		}
		assert_ptr_equal(fr, p + len);
		p += len;
		recs++;
	}
	assert_int_equal(next, n);
	assert_true(recs >= 1);
	vb_buf_release(&b);
}

/*
 * A poll answer of megabytes, more than the socket takes at once: it
 * arrives whole and every byte right, at a client that reads it at once
 * and at one that reads it only later; and the one that does not read
 * holds up nobody else.  Then a message in the middle is
 * damaged on disk: only its frame's checksum fails.
 */
static void test_poll_big(void **state)
{
	struct vb_buf b = VB_BUF_INIT, path = VB_BUF_INIT;
	struct vb_send_confirm cf;
	struct vb_vsr_id id, ids;
	struct vb_req r;
	int fd = raw_connect(), slow = raw_connect();
	long at = 0;
	FILE *f;

	(void)state;
	new_id(&id, 21);
	login(fd, &id);
	new_id(&ids, 22);
	login(slow, &ids);
	topic09(fd, &id, "big", 2);
	/*
	 * About 6 MB in 4 sends (each a run of the same timestamp): more
	 * than a socket's send buffer grows to (tcp_wmem, 4 MB by default)
	 * and what a client that does not read takes, so that the server
	 * keeps the rest of that client's answer until it reads.
	 */
	for (uint32_t i = 0; i < 4; i++)
		big_send(fd, &id, i * 250, 250, &cf);

	/* the slow client asks for it all and reads nothing */
	big_poll(slow, &ids, 1000);
	/* meanwhile the other gets its answer, and another after it */
	for (int round = 0; round < 2; round++) {
		big_poll(fd, &id, 1000);
		big_check(fd, 1000, 1000);
	}
	vb_req_init(&r, VB_CMD_PING);
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	/* the slow one's answer was kept whole for it */
	big_check(slow, 1000, 1000);

	/*
	 * message 517's first payload byte: stored as the records came, 3
	 * headers of 256 bytes before it, then frames of 48-byte headers
	 */
	at = 3 * VB_BATCH_HDR;
	for (uint32_t i = 0; i < 517; i++)
		at += VB_FRAME_HDR + (long)big_len(i);
	vb_path_fmt(&path, "%s/streams/%u/topics/%u/partitions/1/%020d.log",
		    S.dir, cf.stream_id, cf.topic_id, 0);
	f = fopen((char *)path.p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, at + VB_FRAME_HDR, SEEK_SET), 0);
	assert_int_equal(fputc(big_byte(517, 0) ^ 1, f), big_byte(517, 0) ^ 1);
	assert_int_equal(fclose(f), 0);
	big_poll(fd, &id, 1000);
	big_check(fd, 1000, 517);
	close(slow);
	close(fd);
	vb_buf_release(&b);
	vb_buf_release(&path);
}

/* What test_poll_runs reads of a poll: the messages, the records. */
struct runs_got {
	uint32_t n, nrec;
	uint64_t offset[16], origin[16], rec_base[16];
	uint32_t od[16];
	uint8_t id[16][16];
	char payload[16][16];
};

/*
 * Polls count messages from `from` of stream "runs" and reads the answer
 * into g: every frame and record checksum must be right, the frames tile
 * their records and the records the answer.
 */
static void runs_poll(int fd, struct vb_vsr_id *id, uint64_t from,
		      uint32_t count, struct runs_got *g)
{
	struct vb_buf b = VB_BUF_INIT;
	const uint8_t *p, *end;

	poll_send(fd, id, "runs", 0, from, count);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	memset(g, 0, sizeof(*g));
	p = b.p + VB_VSR_HDR;
	end = b.p + b.len;
	assert_int_equal(vb_ld32(p + 12), count);
	for (p += 16; p < end;) {
		uint64_t len = vb_ld64(p + VB_BATCH_LENGTH);
		const uint8_t *fr = p + VB_BATCH_HDR;

		assert_true(len >= VB_BATCH_HDR && len <= (size_t)(end - p));
		assert_int_equal(vb_ld64(p + VB_BATCH_CHECKSUM),
				 vb_wire_batch_checksum(p));
		assert_true(g->nrec < 16);
		g->rec_base[g->nrec++] = vb_ld64(p + VB_BATCH_BASE_OFFSET);
		for (uint32_t i = 0; i < vb_ld32(p + VB_BATCH_COUNT); i++) {
			uint32_t pl = vb_ld32(fr + VB_FRAME_PAYLOAD_LEN);
			size_t fsz = VB_FRAME_HDR + pl +
				     vb_ld32(fr + VB_FRAME_UHDR_LEN);
			uint32_t k = g->n++;

			assert_true(k < 16 && pl < 16);
			assert_int_equal(vb_ld64(fr + VB_FRAME_CHECKSUM),
					 vb_xxh3(fr + 8, fsz - 8));
			g->od[k] = vb_ld32(fr + VB_FRAME_OFFSET_DELTA);
			g->offset[k] = vb_ld64(p + VB_BATCH_BASE_OFFSET) +
				       g->od[k];
			g->origin[k] = vb_ld64(p + VB_BATCH_ORIGIN_TS) +
				       vb_ld32(fr + VB_FRAME_TS_DELTA);
			memcpy(g->id[k], fr + VB_FRAME_ID, 16);
			memcpy(g->payload[k], fr + VB_FRAME_HDR, pl);
			fr += fsz;
		}
		assert_ptr_equal(fr, p + len);
		p += len;
	}
	assert_int_equal(g->n, count);
	vb_buf_release(&b);
}

/*
 * A 0.9 poll of messages that came in a 0.9 batch serves them from the
 * record stored as it came: polled from the middle, a slice of it that
 * keeps the batch's base offset and the frames their deltas; polled whole,
 * the record; across two, a slice of each.  A message sent with id 0 has
 * the id the server gave it, under a checksum that covers it.
 */
static void test_poll_runs(void **state)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT;
	struct vb_send_confirm cf;
	struct vb_send_hdr h;
	struct vb_msg_in m[10];
	struct runs_got got;
	struct vb_vsr_id id;
	char body[10][8];
	static const uint8_t zero[16];
	int fd = raw_connect();
	FILE *f;

	(void)state;
	new_id(&id, 31);
	login(fd, &id);
	topic09(fd, &id, "runs", 1);
	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "runs");
	vb_ident_str(&h.topic, "t");
	h.part_kind = VB_PART_ID;
	memset(m, 0, sizeof(m));
	for (uint32_t i = 0; i < 10; i++) {
		snprintf(body[i], sizeof(body[i]), "m%u", i);
		if (i != 4)
			m[i].id[0] = (uint8_t)(i + 1);
		m[i].payload = body[i];
		m[i].payload_len = (uint32_t)strlen(body[i]);
		m[i].origin_timestamp = 5000 + 3 * i;
	}
	batch09(fd, &id, &h, m, 10, &cf);

	runs_poll(fd, &id, 3, 5, &got);
	assert_int_equal(got.nrec, 1);
	assert_int_equal(got.rec_base[0], 0);
	for (uint32_t k = 0; k < 5; k++) {
		assert_int_equal(got.od[k], 3 + k);
		assert_int_equal(got.offset[k], 3 + k);
		assert_int_equal(got.origin[k], 5000 + 3 * (3 + k));
		assert_string_equal(got.payload[k], body[3 + k]);
		if (k != 1)
			assert_int_equal(got.id[k][0], 4 + k);
	}
	assert_memory_not_equal(got.id[1], zero, 16);
	runs_poll(fd, &id, 0, 10, &got);
	assert_int_equal(got.nrec, 1);
	for (uint32_t k = 0; k < 10; k++) {
		assert_int_equal(got.offset[k], k);
		assert_string_equal(got.payload[k], body[k]);
	}

	/* a second batch: a poll across both is a slice of each */
	batch09(fd, &id, &h, m, 10, &cf);
	runs_poll(fd, &id, 8, 4, &got);
	assert_int_equal(got.nrec, 2);
	assert_int_equal(got.rec_base[0], 0);
	assert_int_equal(got.rec_base[1], 10);
	for (uint32_t k = 0; k < 4; k++) {
		assert_int_equal(got.offset[k], 8 + k);
		assert_string_equal(got.payload[k], body[(8 + k) % 10]);
	}

	/*
	 * The second record's stored base offset damaged (its header at
	 * 256 + 10 frames of 48 + 2 bytes): a poll that needs it fails
	 * (13000) rather than serve wrong offsets; the first still reads.
	 */
	vb_path_fmt(&path, "%s/streams/%u/topics/%u/partitions/0/%020d.log",
		    S.dir, cf.stream_id, cf.topic_id, 0);
	f = fopen((char *)path.p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 256 + 10 * 50 + VB_BATCH_BASE_OFFSET,
			       SEEK_SET),
			 0);
	assert_int_equal(fputc(7, f), 7);
	assert_int_equal(fclose(f), 0);
	poll_send(fd, &id, "runs", 0, 8, 4);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_IO_ERROR);
	poll_send(fd, &id, "runs", 0, 12, 2);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), VB_ST_IO_ERROR);
	runs_poll(fd, &id, 0, 10, &got);
	assert_int_equal(got.nrec, 1);
	close(fd);
	vb_buf_release(&path);
	vb_buf_release(&b);
}

static void test_describe_options(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_req r;
	struct vb_rd rd;
	struct vb_err e;
	uint32_t n, len;
	int fd = raw_connect();

	new_id(&id, 6);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_DESCRIBE_OPTIONS);
	r.scope = 1;
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	vb_rd_init(&rd, b.p + VB_VSR_HDR, b.len - VB_VSR_HDR);
	assert_int_equal(vb_rd_u32(&rd, &n, "count", &e), 0);
	assert_int_equal(n, VB_TOPT_COUNT);
	for (uint32_t i = 0; i < n; i++) {
		struct vb_name k;
		const uint8_t *v;
		uint8_t kind;

		assert_int_equal(vb_wire_dec_name(&rd, &k, "key", &e), 0);
		assert_string_equal(k.s, vb_wire_topt_key(i));
		assert_int_equal(vb_rd_u8(&rd, &kind, "kind", &e), 0);
		assert_int_equal(vb_rd_u32(&rd, &len, "len", &e), 0);
		assert_int_equal(vb_rd_bytes(&rd, &v, len, "value", &e), 0);
		assert_int_equal(vb_rd_u32(&rd, &len, "about", &e), 0);
		assert_true(len > 0);
		assert_int_equal(vb_rd_bytes(&rd, &v, len, "about", &e), 0);
	}
	assert_int_equal(vb_rd_left(&rd), 0);
	/* streams and users take none */
	r.scope = 2;
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(b.len, VB_VSR_HDR + 4);
	assert_int_equal(vb_ld32(b.p + VB_VSR_HDR), 0);
	close(fd);
	vb_buf_release(&b);
}

static void test_heartbeat(void **state)
{
	static const char *const extra[] = { "--heartbeat-ms", "200", NULL };
	struct srv saved = S;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id, id2;
	struct vb_req r;
	struct vb_rd rd;
	struct vb_group_info g;
	struct vb_err e;
	int fd, fd2;

	srv_mkdir(&S);
	assert_int_equal(srv_start_args(&S, extra), 0);
	fd = raw_connect();
	new_id(&id, 7);
	login(fd, &id);
	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	vb_name_set(&r.name, "hb");
	assert_int_equal(write09(fd, &id, &r), 0);
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	vb_ident_str(&r.stream, "hb");
	vb_name_set(&r.name, "t");
	r.count = 2;
	assert_int_equal(write09(fd, &id, &r), 0);
	vb_req_init(&r, VB_CMD_CREATE_CONSUMER_GROUP);
	vb_ident_str(&r.stream, "hb");
	vb_ident_str(&r.topic, "t");
	vb_name_set(&r.name, "g");
	assert_int_equal(write09(fd, &id, &r), 0);
	r.code = VB_CMD_JOIN_CONSUMER_GROUP;
	vb_ident_str(&r.target, "g");
	assert_int_equal(write09(fd, &id, &r), 0);
	/* then nothing: the eviction comes by itself */
	get_frame(fd, &b);
	assert_int_equal(b.p[60], VB_VSR_EVICTION);
	assert_int_equal(b.p[255], VB_EVICT_STALE_CLIENT);
	assert_int_equal(vb_evict_status(b.p[255], 0, 0), VB_ST_STALE_CLIENT);
	/* and the group has lost its member */
	fd2 = raw_connect();
	new_id(&id2, 8);
	login(fd2, &id2);
	vb_req_init(&r, VB_CMD_GET_CONSUMER_GROUP);
	vb_ident_str(&r.stream, "hb");
	vb_ident_str(&r.topic, "t");
	vb_ident_str(&r.target, "g");
	frame(&b, &r, &id2, 0);
	put_all(fd2, b.p, b.len);
	get_frame(fd2, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	vb_rd_init(&rd, b.p + VB_VSR_HDR, b.len - VB_VSR_HDR);
	assert_int_equal(vb_wire_dec_group(&rd, &g, &e), 0);
	assert_int_equal(g.members_count, 0);
	close(fd);
	close(fd2);
	vb_buf_release(&b);
	assert_int_equal(srv_stop(&S), 0);
	srv_rmdir(&S);
	S = saved;
}

/*
 * The waiting polls (105, 106) extend the 0.8 framing only: 0.9 has no
 * such command, so a NonReplicated request naming one is answered 3 and
 * the session goes on; a 0.9 client does not send them at all.
 */
static void test_no_wait_polls(void **state)
{
	static const uint32_t codes[] = { VB_CMD_POLL_WAIT,
					  VB_CMD_POLL_WAIT_MULTI };
	struct vb_wait_part wp = { 0, VB_POLL_NEXT, 0 };
	struct vb_buf b = VB_BUF_INIT;
	struct vb_vsr_id id;
	struct vb_client c;
	struct vb_req r;
	struct vb_err e;
	const uint8_t *pl;
	size_t len;
	int fd = raw_connect();

	new_id(&id, 9);
	login(fd, &id);
	for (size_t i = 0; i < 2; i++) {
		vb_req_init(&r, codes[i]);
		r.consumer.kind = VB_CONSUMER;
		r.consumer.id.kind = VB_ID_NUM;
		r.consumer.id.num = 1;
		vb_ident_str(&r.stream, "s");
		vb_ident_str(&r.topic, "t");
		r.strategy = VB_POLL_NEXT;
		r.count = 1;
		r.nwp = 1;
		r.wp = &wp;
		r.wait.max_wait_us = 1000000;
		vb_buf_reset(&b);
		vb_wire_req_frame(&b, &vb_framing_v09, &r);
		assert_int_equal(b.len, VB_VSR_HDR); /* 0.9 has no body */
		assert_int_equal(vb_ld32(b.p + VB_V09_NR_CODE_OFF), codes[i]);
		/* and with the 0.8 body after the header: the same */
		vb_wire_req_body(&b, &r, VB_GEN_08);
		vb_st32(b.p + VB_VSR_SIZE, (uint32_t)b.len);
		vb_vsr_req_stamp(b.p, b.len, &id, 0);
		put_all(fd, b.p, b.len);
		get_frame(fd, &b);
		assert_int_equal(b.p[60], VB_VSR_REPLY);
		assert_int_equal(REPLY_STATUS(b.p), VB_ST_INVALID_COMMAND);
	}
	vb_req_init(&r, VB_CMD_PING);
	frame(&b, &r, &id, 0);
	put_all(fd, b.p, b.len);
	get_frame(fd, &b);
	assert_int_equal(REPLY_STATUS(b.p), 0);
	close(fd);
	vb_buf_release(&b);

	/* the client: no waiting polls over 0.9, and nothing sent */
	vb_client_init(&c);
	c.protocol = VB_PROTO_09;
	assert_int_equal(vb_client_set_addr(&c, S.addr, &e), 0);
	assert_int_equal(vb_client_connect(&c, &e), 0);
	assert_int_equal(vb_client_login(&c, S.user, S.pass, NULL, &e), 0);
	assert_true(vb_client_v09(&c));
	assert_true(vb_client_no_wait_poll(&c));
	vb_req_init(&r, VB_CMD_POLL_WAIT);
	r.wait.max_wait_us = 1000000;
	assert_int_equal(vb_client_poll_wait(&c, &r, &pl, &len, &e), 0);
	assert_int_equal(c.queued, c.taken);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	vb_client_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_login),
		cmocka_unit_test(test_login_refused),
		cmocka_unit_test(test_drops_and_checksum),
		cmocka_unit_test(test_client_table),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_poll_records),
		cmocka_unit_test(test_poll_big),
		cmocka_unit_test(test_poll_runs),
		cmocka_unit_test(test_describe_options),
		cmocka_unit_test(test_heartbeat),
		cmocka_unit_test(test_no_wait_polls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
