/*
 * bench_fsync - producers waiting for each acknowledgement, against a
 * running vibes-iggyd (driven by tests/bench/bench-fsync, which starts the
 * server with the --fsync mode to measure and runs dd next to it).
 *
 * usage: bench_fsync ADDR USER PASS PRODUCERS SECONDS
 *                    [PARTITIONS [BATCH [PAYLOAD]]]
 *
 * Creates stream "fsync" / topic "t" with PARTITIONS partitions (default
 * 1), then runs PRODUCERS threads, each on its own connection, each
 * sending batches of BATCH events (default 10) of PAYLOAD bytes (default
 * 100) to partition (producer number % PARTITIONS), one batch at a time:
 * the next is sent when the previous one is acknowledged, as vibes-append
 * does.  Every acknowledgement must be an empty OK.  After SECONDS it
 * prints key=value lines on stdout: events per second over the run and
 * the 50th and 99th percentiles of the acknowledgement latency (send to
 * answer, in microseconds).
 */
#include <err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "client/client.h"
#include "bench.h"
#include "base/banned.h"

struct producer {
	pthread_t th;
	const char *addr, *user, *pass;
	struct vb_ident sid, tid;
	uint32_t part, batch, payload;
	int64_t until; /* vb_mono_us */
	uint64_t batches;
	uint32_t *lat; /* µs per batch */
	size_t nlat, lat_cap;
	char why[600]; /* set when the producer failed */
};

static pthread_barrier_t start_line;

static int connect_login(struct vb_client *c, const char *addr,
			 const char *user, const char *pass, struct vb_err *e)
{
	vb_client_init(c);
	c->timeout_ms = 120000;
	return vb_client_set_addr(c, addr, e) < 0 ||
			       vb_client_connect(c, e) < 0 ||
			       vb_client_login(c, user, pass, NULL, e) < 0 ?
		       -1 :
		       0;
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct vb_client c;
	struct vb_send_hdr h;
	struct vb_msg_in *m;
	struct vb_buf frame = VB_BUF_INIT;
	struct vb_err e;
	char *body;
	int ok;

	ok = connect_login(&c, p->addr, p->user, p->pass, &e) == 0;
	if (!ok)
		snprintf(p->why, sizeof(p->why), "connect: %s", e.msg);
	/* JSON-line events, as vibes-append sends them. */
	body = vb_xmalloc((size_t)p->batch * p->payload);
	m = vb_xcalloc(p->batch, sizeof(*m));
	for (uint32_t i = 0; i < p->batch; i++) {
		char *b = body + (size_t)i * p->payload;
		int n = snprintf(b, p->payload,
				 "{\"session_id\":\"p%u\",\"n\":%u,\"pad\":\"",
				 p->part, i);

		if (n < 0 || (size_t)n + 2 > p->payload)
			n = 0;
		memset(b + n, 'x', p->payload - (size_t)n);
		if (n)
			memcpy(b + p->payload - 2, "\"}", 2);
		m[i].payload = b;
		m[i].payload_len = p->payload;
	}
	memset(&h, 0, sizeof(h));
	h.stream = p->sid;
	h.topic = p->tid;
	h.part_kind = VB_PART_ID;
	h.partition_id = p->part;
	vb_wire_send_encode(&frame, &h, m, p->batch);
	/* Once when connected, once more when the clock has started. */
	pthread_barrier_wait(&start_line);
	pthread_barrier_wait(&start_line);
	while (ok) {
		int64_t t0 = vb_mono_us(), t1;

		if (t0 >= p->until)
			break;
		if (vb_client_call_frame(&c, frame.p, frame.len, NULL, NULL,
					 &e) < 0) {
			snprintf(p->why, sizeof(p->why), "send: %s", e.msg);
			break;
		}
		t1 = vb_mono_us();
		if (t1 > p->until)
			break; /* only what was answered within the run */
		VB_ALLOC_GROW(p->lat, p->nlat + 1, p->lat_cap);
		p->lat[p->nlat++] = (uint32_t)(t1 - t0);
		p->batches++;
	}
	vb_client_release(&c);
	vb_buf_release(&frame);
	free(m);
	free(body);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct vb_client c;
	struct vb_err e;
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct producer *pr;
	uint32_t np, parts = 1, batch = 10, payload = 100, *all;
	uint64_t batches = 0, secs;
	size_t nall = 0;
	int64_t t_start;
	int failed = 0;

	if (argc < 6 || argc > 9)
		errx(2, "usage: bench_fsync ADDR USER PASS PRODUCERS SECONDS "
			"[PARTITIONS [BATCH [PAYLOAD]]]");
	np = (uint32_t)bench_arg(argv[4], 1, 1024);
	secs = bench_arg(argv[5], 1, 3600);
	if (argc > 6)
		parts = (uint32_t)bench_arg(argv[6], 1, 1000);
	if (argc > 7)
		batch = (uint32_t)bench_arg(argv[7], 1, 100000);
	if (argc > 8)
		payload = (uint32_t)bench_arg(argv[8], 48, 1 << 20);
	if (connect_login(&c, argv[1], argv[2], argv[3], &e) < 0 ||
	    vb_client_create_stream(&c, "fsync", &si, &e) < 0)
		errx(1, "%s", e.msg);
	pr = vb_xcalloc(np, sizeof(*pr));
	vb_ident_num(&pr[0].sid, si.id);
	if (vb_client_create_topic(&c, &pr[0].sid, "t", parts, &ti, &e) < 0)
		errx(1, "%s", e.msg);
	vb_client_release(&c);

	if (pthread_barrier_init(&start_line, NULL, np + 1))
		errx(1, "pthread_barrier_init");
	for (uint32_t i = 0; i < np; i++) {
		pr[i].addr = argv[1];
		pr[i].user = argv[2];
		pr[i].pass = argv[3];
		vb_ident_num(&pr[i].sid, si.id);
		vb_ident_num(&pr[i].tid, ti.id);
		pr[i].part = i % parts;
		pr[i].batch = batch;
		pr[i].payload = payload;
		if (pthread_create(&pr[i].th, NULL, produce, &pr[i]))
			errx(1, "pthread_create");
	}
	/* Every producer is connected and logged in: the clock starts. */
	pthread_barrier_wait(&start_line);
	t_start = vb_mono_us();
	for (uint32_t i = 0; i < np; i++)
		pr[i].until = t_start + (int64_t)secs * 1000000;
	pthread_barrier_wait(&start_line);
	for (uint32_t i = 0; i < np; i++) {
		pthread_join(pr[i].th, NULL);
		if (pr[i].why[0]) {
			warnx("producer %u: %s", i, pr[i].why);
			failed = 1;
		}
		batches += pr[i].batches;
		nall += pr[i].nlat;
	}
	all = vb_xcalloc(nall ? nall : 1, sizeof(*all));
	nall = 0;
	for (uint32_t i = 0; i < np; i++) {
		memcpy(all + nall, pr[i].lat, pr[i].nlat * sizeof(*all));
		nall += pr[i].nlat;
		free(pr[i].lat);
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	printf("producers=%u\n", np);
	printf("partitions=%u\n", parts);
	printf("batch=%u\n", batch);
	printf("payload=%u\n", payload);
	printf("seconds=%llu\n", (unsigned long long)secs);
	printf("batches=%llu\n", (unsigned long long)batches);
	printf("events=%llu\n", (unsigned long long)batches * batch);
	printf("events_per_s=%.0f\n", (double)batches * batch / (double)secs);
	printf("p50_us=%u\n", nall ? all[nall / 2] : 0);
	printf("p99_us=%u\n", nall ? all[(nall * 99) / 100] : 0);
	free(all);
	free(pr);
	pthread_barrier_destroy(&start_line);
	return failed;
}
