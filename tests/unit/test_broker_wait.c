/*
 * Waiting polls (105, 106; vibes-iggyd(8)) against the real vibes-iggyd:
 * a parked poll answered by a publish from another client, by min_count,
 * by its deadline; a client that goes while parked; the multi-partition
 * form; a shutdown while parked; a server that refuses them (status 3,
 * as upstream 0.8.0), which the client remembers for the connection.
 *
 * "Parked before the publish" without sleeping: client A's request is
 * written whole to the loopback socket before B does a round trip, so the
 * server has read it (level-triggered epoll reports A at the latest in
 * the pass that reads B's ping) before B publishes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "broker_fixture.h"
#include "wire/wire.h"

static void send_n(struct vb_client *c, uint32_t sid, uint32_t tid,
		   uint32_t part, int n)
{
	struct vb_send_hdr h;
	struct vb_msg_in m[16];
	struct vb_err e;

	assert_true(n <= 16);
	memset(&h, 0, sizeof(h));
	vb_ident_num(&h.stream, sid);
	vb_ident_num(&h.topic, tid);
	h.part_kind = VB_PART_ID;
	h.partition_id = part;
	memset(m, 0, sizeof(m));
	for (int i = 0; i < n; i++) {
		m[i].payload = "event";
		m[i].payload_len = 5;
	}
	assert_int_equal(vb_client_send(c, &h, m, (uint32_t)n, &e), 0);
}

static void wait_init(struct vb_req *r, uint32_t sid, uint32_t tid,
		      uint32_t part, uint64_t off, uint64_t wait_us,
		      uint32_t min)
{
	vb_req_init(r, VB_CMD_POLL_WAIT);
	r->consumer.kind = VB_CONSUMER;
	vb_ident_num(&r->consumer.id, 7);
	vb_ident_num(&r->stream, sid);
	vb_ident_num(&r->topic, tid);
	r->part.present = 1;
	r->part.id = part;
	r->strategy = VB_POLL_OFFSET;
	r->value = off;
	r->count = 100;
	r->wait.max_wait_us = wait_us;
	r->wait.min_count = min;
}

/* Writes r whole on a (no answer is waited for). */
static void send_only(struct vb_client *a, const struct vb_req *r)
{
	struct vb_err e;

	vb_client_queue_req(a, r);
	while (vb_client_unsent(a) > 0) {
		struct pollfd p = { .fd = a->fd, .events = POLLOUT };

		assert_true(poll(&p, 1, 5000) == 1);
		assert_int_equal(vb_client_pump(a, &e), 0);
	}
}

/* The answer of a 105 sent by send_only: its message count. */
static uint32_t answer_count(struct vb_client *a, struct vb_poll_hdr *h)
{
	struct vb_reply rep;
	struct vb_err e;
	struct vb_rd rd;
	struct vb_msg m;
	uint32_t n = 0;

	assert_int_equal(vb_client_next(a, &rep, &e), 0);
	assert_int_equal(rep.status, 0);
	vb_rd_init(&rd, rep.payload, rep.len);
	assert_int_equal(vb_wire_dec_poll_hdr(&rd, h, &e), 0);
	while (vb_wire_dec_msg(&rd, &m, &e) == 1)
		n++;
	assert_int_equal(n, h->count);
	return n;
}

static void test_woken_by_publish(void **state)
{
	struct vb_client a, b;
	struct vb_poll_hdr h;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;
	int64_t t0;

	open_client(&a);
	open_client(&b);
	make_stream_topic(&b, "w1", "t", 1, &sid, &tid);
	/* nothing there and no wait: answered at once, empty */
	wait_init(&r, sid, tid, 0, 0, 0, 1);
	send_only(&a, &r);
	assert_int_equal(answer_count(&a, &h), 0);
	/* parked until B publishes, far before its 20 s */
	wait_init(&r, sid, tid, 0, 0, 20000000, 1);
	t0 = vb_mono_us();
	send_only(&a, &r);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	send_n(&b, sid, tid, 0, 1);
	assert_int_equal(answer_count(&a, &h), 1);
	assert_int_equal(h.current_offset, 0);
	assert_true(vb_mono_us() - t0 < 10000000);
	/* data already there: answered at once */
	send_only(&a, &r);
	assert_int_equal(answer_count(&a, &h), 1);
	/* the connection goes on as usual after a parked poll */
	assert_int_equal(vb_client_ping(&a, &e), 0);
	vb_client_release(&a);
	vb_client_release(&b);
}

static void test_min_count(void **state)
{
	struct vb_client a, b;
	struct vb_poll_hdr h;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;

	open_client(&a);
	open_client(&b);
	make_stream_topic(&b, "w2", "t", 1, &sid, &tid);
	send_n(&b, sid, tid, 0, 1);
	wait_init(&r, sid, tid, 0, 0, 20000000, 4);
	send_only(&a, &r);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	/* 1 + 2 are fewer than 4: still parked; + 1 answers 4 */
	send_n(&b, sid, tid, 0, 2);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	send_n(&b, sid, tid, 0, 1);
	assert_int_equal(answer_count(&a, &h), 4);
	assert_int_equal(h.current_offset, 3);
	vb_client_release(&a);
	vb_client_release(&b);
}

static void test_timeout(void **state)
{
	struct vb_client a, b;
	struct vb_poll_hdr h;
	struct vb_req r;
	uint32_t sid, tid;
	int64_t t0, dt;

	open_client(&a);
	open_client(&b);
	make_stream_topic(&b, "w3", "t", 1, &sid, &tid);
	send_n(&b, sid, tid, 0, 2);
	/* min_count 5 is never reached: what there is, at the deadline */
	wait_init(&r, sid, tid, 0, 0, 300000, 5);
	t0 = vb_mono_us();
	send_only(&a, &r);
	assert_int_equal(answer_count(&a, &h), 2);
	dt = vb_mono_us() - t0;
	assert_true(dt >= 300000);
	assert_true(dt < 5000000);
	/* nothing at all: the empty answer, not an error */
	wait_init(&r, sid, tid, 0, 2, 200000, 1);
	t0 = vb_mono_us();
	send_only(&a, &r);
	assert_int_equal(answer_count(&a, &h), 0);
	assert_true(vb_mono_us() - t0 >= 200000);
	vb_client_release(&a);
	vb_client_release(&b);
}

/* Connections the server lists. */
static uint32_t clients(struct vb_client *c)
{
	struct vb_client_info ci;
	const uint8_t *p;
	struct vb_req r;
	struct vb_err e;
	struct vb_rd rd;
	uint32_t n = 0;
	size_t len;

	vb_req_init(&r, VB_CMD_GET_CLIENTS);
	assert_int_equal(vb_client_call(c, &r, &p, &len, &e), 0);
	vb_rd_init(&rd, p, len);
	while (vb_rd_left(&rd) > 0) {
		assert_int_equal(vb_wire_dec_client(&rd, &ci, &e), 0);
		n++;
	}
	return n;
}

static void test_disconnect_parked(void **state)
{
	struct vb_client a, b;
	struct vb_poll_hdr h;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid, before;
	int64_t deadline;

	open_client(&b);
	make_stream_topic(&b, "w4", "t", 1, &sid, &tid);
	before = clients(&b);
	open_client(&a);
	wait_init(&r, sid, tid, 0, 0, 60000000, 1);
	send_only(&a, &r);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	assert_int_equal(clients(&b), before + 1);
	vb_client_release(&a);
	/* the server frees it: the list shrinks (bounded wait, no sleep) */
	deadline = vb_mono_us() + 5000000;
	while (clients(&b) != before && vb_mono_us() < deadline) {
		struct pollfd p = { .fd = -1 };

		poll(&p, 1, 10);
	}
	assert_int_equal(clients(&b), before);
	/* a publish finds no parked poll of the gone client to answer */
	send_n(&b, sid, tid, 0, 1);
	open_client(&a);
	send_only(&a, &r);
	assert_int_equal(answer_count(&a, &h), 1);
	vb_client_release(&a);
	vb_client_release(&b);
}

static void test_multi(void **state)
{
	struct vb_wait_part wp[3];
	struct vb_client a, b;
	const uint8_t *p;
	struct vb_req r;
	struct vb_err e;
	struct vb_rd rd;
	uint32_t sid, tid, n;
	size_t len;

	open_client(&a);
	open_client(&b);
	make_stream_topic(&b, "w5", "t", 3, &sid, &tid);
	send_n(&b, sid, tid, 2, 1);
	vb_req_init(&r, VB_CMD_POLL_WAIT_MULTI);
	r.consumer.kind = VB_CONSUMER;
	vb_ident_num(&r.consumer.id, 9);
	vb_ident_num(&r.stream, sid);
	vb_ident_num(&r.topic, tid);
	for (uint32_t i = 0; i < 3; i++) {
		wp[i].partition_id = i;
		wp[i].strategy = VB_POLL_OFFSET;
		wp[i].value = i == 2 ? 1 : 0; /* past what 2 holds */
	}
	r.nwp = 3;
	r.wp = wp;
	r.count = 10;
	r.wait.max_wait_us = 20000000;
	send_only(&a, &r);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	send_n(&b, sid, tid, 1, 2);
	{
		struct vb_reply rep;
		uint32_t want[3] = { 0, 2, 0 };

		assert_int_equal(vb_client_next(&a, &rep, &e), 0);
		assert_int_equal(rep.status, 0);
		vb_rd_init(&rd, rep.payload, rep.len);
		assert_int_equal(vb_wire_dec_wait_count(&rd, &n, &e), 0);
		assert_int_equal(n, 3);
		for (uint32_t i = 0; i < 3; i++) {
			struct vb_reply part;
			struct vb_poll_hdr h;
			struct vb_rd pr;
			struct vb_msg m;
			uint32_t k = 0;

			assert_int_equal(vb_wire_dec_wait_part(&rd, &part, &e),
					 0);
			vb_rd_init(&pr, part.payload, part.len);
			assert_int_equal(vb_wire_dec_poll_hdr(&pr, &h, &e), 0);
			assert_int_equal(h.partition_id, i);
			while (vb_wire_dec_msg(&pr, &m, &e) == 1)
				k++;
			assert_int_equal(k, want[i]);
			assert_int_equal(h.count, want[i]);
		}
		assert_int_equal(vb_rd_left(&rd), 0);
	}
	/* through the client call, answered at once now */
	assert_int_equal(vb_client_poll_wait(&a, &r, &p, &len, &e), 1);
	/* a partition the topic does not have: the poll's error */
	wp[1].partition_id = 7;
	assert_int_equal(vb_client_poll_wait(&a, &r, &p, &len, &e), -1);
	assert_int_equal(e.status, VB_ST_PARTITION_NOT_FOUND);
	vb_client_release(&a);
	vb_client_release(&b);
}

static void test_refused(void **state)
{
	struct srv up;
	struct vb_client c;
	struct vb_poll_hdr h;
	struct vb_req r;
	struct vb_err e;
	struct vb_rd rd;
	const uint8_t *p;
	size_t len;
	uint32_t sid, tid;

	srv_mkdir(&up);
	setenv("VIBES_TEST_NO_WAIT_POLL", "1", 1);
	assert_int_equal(srv_start(&up), 0);
	unsetenv("VIBES_TEST_NO_WAIT_POLL");
	assert_int_equal(srv_client(&up, &c, 1), 0);
	make_stream_topic(&c, "w6", "t", 1, &sid, &tid);
	wait_init(&r, sid, tid, 0, 0, 1000000, 1);
	assert_int_equal(vb_client_poll_wait(&c, &r, &p, &len, &e), 0);
	assert_int_equal(c.no_wait_poll, 1);
	/* remembered: nothing sent the second time */
	assert_int_equal(vb_client_poll_wait(&c, &r, &p, &len, &e), 0);
	assert_int_equal(vb_client_inflight(&c), 0);
	/* the connection goes on; poll_messages works */
	r.code = VB_CMD_POLL_MESSAGES;
	assert_int_equal(vb_client_poll(&c, &r, &h, &rd, &e), 0);
	/* forgotten with the connection */
	vb_client_close(&c);
	assert_int_equal(c.no_wait_poll, 0);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&up), 0);
	srv_rmdir(&up);
}

static void test_shutdown_parked(void **state)
{
	struct srv s2;
	struct vb_client a, b;
	struct vb_reply rep;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;
	int64_t t0;

	srv_mkdir(&s2);
	assert_int_equal(srv_start(&s2), 0);
	assert_int_equal(srv_client(&s2, &a, 1), 0);
	make_stream_topic(&a, "w7", "t", 1, &sid, &tid);
	wait_init(&r, sid, tid, 0, 0, 60000000, 1);
	send_only(&a, &r);
	/* parked before the signal (see the top) */
	assert_int_equal(srv_client(&s2, &b, 1), 0);
	assert_int_equal(vb_client_ping(&b, &e), 0);
	t0 = vb_mono_us();
	assert_int_equal(srv_stop(&s2), 0);
	assert_true(vb_mono_us() - t0 < 10000000);
	/* told the server is going (8), not left waiting */
	if (vb_client_next(&a, &rep, &e) == 0)
		assert_int_equal(rep.status, VB_ST_DISCONNECTED);
	vb_client_release(&a);
	vb_client_release(&b);
	srv_rmdir(&s2);
}

/*
 * --fsync always: messages are readable once the fsync thread's job is
 * done, and that is when a parked poll is woken (as poll_messages sees
 * them); a second producer's batch in the next job wakes the next poll.
 */
static void test_fsync_always(void **state)
{
	static const char *const args[] = { "--fsync", "always", NULL };
	struct srv s2;
	struct vb_client a, b;
	struct vb_poll_hdr h;
	struct vb_req r;
	struct vb_err e;
	uint32_t sid, tid;

	srv_mkdir(&s2);
	assert_int_equal(srv_start_args(&s2, args), 0);
	assert_int_equal(srv_client(&s2, &a, 1), 0);
	assert_int_equal(srv_client(&s2, &b, 1), 0);
	make_stream_topic(&b, "w8", "t", 1, &sid, &tid);
	for (uint64_t off = 0; off < 3; off++) {
		wait_init(&r, sid, tid, 0, off, 20000000, 1);
		send_only(&a, &r);
		assert_int_equal(vb_client_ping(&b, &e), 0);
		send_n(&b, sid, tid, 0, 1);
		assert_int_equal(answer_count(&a, &h), 1);
		assert_int_equal(h.current_offset, off);
	}
	vb_client_release(&a);
	vb_client_release(&b);
	assert_int_equal(srv_stop(&s2), 0);
	srv_rmdir(&s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_woken_by_publish),
		cmocka_unit_test(test_min_count),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_disconnect_parked),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_shutdown_parked),
		cmocka_unit_test(test_fsync_always),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
