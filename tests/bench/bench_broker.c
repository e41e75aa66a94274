/*
 * bench_broker - ingest and poll throughput against a running vibes-iggyd
 * (driven by tests/bench/bench-broker, which also measures dd).
 *
 * usage: bench_broker ADDR USER PASS MESSAGES [PAYLOAD [BATCH [POLL [WINDOW]]]]
 *
 * Creates stream "bench" / topic "t" with one partition, sends MESSAGES
 * messages of PAYLOAD bytes (default 1024) in batches of BATCH (1000) from
 * one connection, then flush_unsaved_buffer with fsync (so the figure is
 * comparable with dd conv=fdatasync), then polls them back POLL (1000) at a
 * time with the offset strategy, checking every offset.  With WINDOW > 1
 * it then appends the same number of messages again to a second partition
 * with up to WINDOW batches in flight (the protocol answers in order, so a
 * producer may pipeline: the client's queue, pump and take).  ADDR is any
 * address the tools take, iggys://HOST:PORT?tls_ca_file=CA for TLS.
 * Prints key=value lines on stdout.
 *
 * BENCH_PROTOCOL=0.9 in the environment does the same in Iggy 0.9 (the
 * bundled server speaks both): sends are 0.9 batches, polls answer batch
 * records, and as 0.9 has no flush (status 5) the fsync at the end of the
 * ingest goes through a second connection in 0.8, opened beforehand, so
 * that both figures end at the same durable point.  0.9 is lock-step:
 * no pipelined round there.
 *
 * BENCH_STOP_BEFORE_POLL in the environment stops the driver (SIGSTOP)
 * between ingest and poll, so that a profiler can be started on the poll
 * alone; the poll's time counts from SIGCONT.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "bench.h"
#include "base/banned.h"

/*
 * Sends `total` messages as frames of `batch` (the last one shorter) with
 * up to `window` unanswered, through the pipelined client (so over TLS as
 * over TCP); every answer must be an empty OK.
 */
static void pipelined(struct vb_client *c, const struct vb_buf *frame,
		      const struct vb_buf *tail, uint64_t total, uint32_t batch,
		      uint32_t window)
{
	uint64_t nframes = (total + batch - 1) / batch, queued = 0, acked = 0;
	struct vb_reply rep;
	struct vb_err e;

	while (acked < nframes) {
		struct pollfd p;
		int rc;

		while (queued < nframes && queued - acked < window) {
			const struct vb_buf *f = queued + 1 == nframes &&
								 tail->len ?
							 tail :
							 frame;

			vb_client_queue_ref(c, f->p, f->len);
			queued++;
		}
		if (vb_client_pump(c, &e) < 0 && !vb_client_connected(c) &&
		    vb_client_inflight(c) == 0)
			errx(1, "pipelined send: %s", e.msg);
		while ((rc = vb_client_take(c, &rep, &e)) == 1) {
			if (rep.status != 0)
				errx(1, "pipelined send: status %u",
				     rep.status);
			acked++;
		}
		if (rc < 0)
			errx(1, "pipelined send: %s", e.msg);
		if (acked == nframes ||
		    (queued - acked < window && queued < nframes))
			continue;
		p.fd = c->fd;
		p.events = vb_client_events(c);
		if (poll(&p, 1, 60000) <= 0)
			errx(1, "pipelined send: timed out");
	}
}

int main(int argc, char **argv)
{
	struct vb_client c, c8;
	const char *proto = getenv("BENCH_PROTOCOL");
	int v09 = proto && strcmp(proto, "0.9") == 0;
	struct vb_client *fl = v09 ? &c8 : &c;
	struct vb_err e;
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct vb_ident sid, tid;
	struct vb_send_hdr h;
	struct vb_msg_in *m;
	struct vb_buf frame = VB_BUF_INIT;
	uint64_t total, sent = 0, next = 0, bytes = 0;
	uint32_t payload = 1024, batch = 1000, pollc = 1000, window = 1;
	char *body;
	double t0, t1, t2;

	if (argc < 5 || argc > 9)
		errx(2, "usage: bench_broker ADDR USER PASS MESSAGES "
			"[PAYLOAD [BATCH [POLL [WINDOW]]]]");
	total = (uint64_t)bench_arg(argv[4], 1, 1LL << 40);
	if (argc > 5)
		payload = (uint32_t)bench_arg(argv[5], 1, 1 << 20);
	if (argc > 6)
		batch = (uint32_t)bench_arg(argv[6], 1, 100000);
	if (argc > 7)
		pollc = (uint32_t)bench_arg(argv[7], 1, 1000000);
	if (argc > 8)
		window = (uint32_t)bench_arg(argv[8], 1, 1024);
	signal(SIGPIPE, SIG_IGN); /* as every tool: TLS writes by write(2) */
	vb_client_init(&c);
	vb_client_init(&c8);
	c.timeout_ms = 120000;
	c.protocol = v09 ? VB_PROTO_09 : VB_PROTO_08;
	c8.protocol = VB_PROTO_08;
	if (v09 && (vb_client_set_addr(&c8, argv[1], &e) < 0 ||
		    vb_client_connect(&c8, &e) < 0 ||
		    vb_client_login(&c8, argv[2], argv[3], NULL, &e) < 0))
		errx(1, "%s", e.msg);
	if (vb_client_set_addr(&c, argv[1], &e) < 0 ||
	    vb_client_connect(&c, &e) < 0 ||
	    vb_client_login(&c, argv[2], argv[3], NULL, &e) < 0 ||
	    vb_client_create_stream(&c, "bench", &si, &e) < 0)
		errx(1, "%s", e.msg);
	vb_ident_num(&sid, si.id);
	if (vb_client_create_topic(&c, &sid, "t", 2, &ti, &e) < 0)
		errx(1, "%s", e.msg);
	vb_ident_num(&tid, ti.id);

	/* One batch frame, encoded once and sent as often as needed. */
	body = vb_xmalloc(payload);
	memset(body, 'x', payload);
	m = vb_xcalloc(batch, sizeof(*m));
	for (uint32_t i = 0; i < batch; i++) {
		m[i].payload = body;
		m[i].payload_len = payload;
	}
	memset(&h, 0, sizeof(h));
	h.stream = sid;
	h.topic = tid;
	h.part_kind = VB_PART_ID;
	if (vb_wire_send_encode_f(&frame, c.framing, &h, m, batch, &e) < 0)
		errx(1, "%s", e.msg);

	t0 = bench_now();
	while (sent < total) {
		if (total - sent < batch) {
			vb_buf_reset(&frame);
			if (vb_wire_send_encode_f(&frame, c.framing, &h, m,
						  (uint32_t)(total - sent),
						  &e) < 0)
				errx(1, "%s", e.msg);
		}
		if (vb_client_call_frame(&c, frame.p, frame.len, NULL, NULL,
					 &e) < 0)
			errx(1, "send: %s", e.msg);
		sent += total - sent < batch ? total - sent : batch;
	}
	if (vb_client_flush(fl, &sid, &tid, 0, 1, &e) < 0)
		errx(1, "flush: %s", e.msg);
	t1 = bench_now();
	if (getenv("BENCH_STOP_BEFORE_POLL")) {
		raise(SIGSTOP);
		t1 = bench_now();
	}

	while (next < total) {
		struct vb_req r;
		struct vb_poll_hdr ph;
		struct vb_msgs rd;
		struct vb_msg msg;
		int rc;

		vb_req_init(&r, VB_CMD_POLL_MESSAGES);
		r.consumer.kind = VB_CONSUMER;
		vb_ident_num(&r.consumer.id, 1);
		r.stream = sid;
		r.topic = tid;
		r.part.present = 1;
		r.strategy = VB_POLL_OFFSET;
		r.value = next;
		r.count = pollc;
		if (vb_client_poll_msgs(&c, &r, &ph, &rd, &e) < 0)
			errx(1, "poll: %s", e.msg);
		if (ph.count == 0)
			errx(1, "poll: nothing at offset %llu",
			     (unsigned long long)next);
		while ((rc = vb_msgs_next(&rd, &msg, &e)) == 1) {
			if (msg.offset != next || msg.payload_len != payload)
				errx(1, "poll: offset %llu, expected %llu",
				     (unsigned long long)msg.offset,
				     (unsigned long long)next);
			/* 0.8's size in both: the same figure */
			bytes += VB_MSG_HDR + msg.payload_len + msg.uhdr_len;
			next++;
		}
		if (rc < 0)
			errx(1, "poll: %s", e.msg);
	}
	t2 = bench_now();
	if (window > 1 && !v09) {
		struct vb_buf tail = VB_BUF_INIT;
		double t3;

		h.partition_id = 1;
		vb_buf_reset(&frame);
		vb_wire_send_encode(&frame, &h, m, batch);
		if (total % batch)
			vb_wire_send_encode(&tail, &h, m,
					    (uint32_t)(total % batch));
		t3 = bench_now();
		pipelined(&c, &frame, &tail, total, batch, window);
		if (vb_client_flush(&c, &sid, &tid, 1, 1, &e) < 0)
			errx(1, "flush: %s", e.msg);
		printf("pipelined_secs=%.6f\n", bench_now() - t3);
		printf("window=%u\n", window);
		vb_buf_release(&tail);
	}
	printf("messages=%llu\n", (unsigned long long)total);
	printf("payload=%u\n", payload);
	printf("wire_bytes=%llu\n", (unsigned long long)bytes);
	printf("ingest_secs=%.6f\n", t1 - t0);
	printf("poll_secs=%.6f\n", t2 - t1);
	vb_client_release(&c);
	vb_client_release(&c8);
	vb_buf_release(&frame);
	free(m);
	free(body);
	return 0;
}
