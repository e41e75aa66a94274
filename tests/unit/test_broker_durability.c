/*
 * The bundled broker's durability: restart keeps data, offsets and
 * metadata; kill -9 during appends in --fsync always loses nothing that
 * was acknowledged and never serves a corrupt message, with one producer
 * and with eight sharing each commit (group commit); retention deletes
 * whole sealed segments; 32 producers and consumers at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker_harness.h"
#include "wire/wire.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void must_client(struct srv *s, struct vb_client *c)
{
	assert_int_equal(srv_client(s, c, 1), 0);
}

static void send_batch(struct vb_client *c, uint32_t part, uint64_t first,
		       uint32_t n, size_t size, struct vb_err *e, int *rc)
{
	struct vb_send_hdr h;
	struct vb_msg_in m[1000];
	static char body[1000][1100];

	memset(&h, 0, sizeof(h));
	vb_ident_num(&h.stream, 0);
	vb_ident_num(&h.topic, 0);
	h.part_kind = VB_PART_ID;
	h.partition_id = part;
	for (uint32_t i = 0; i < n; i++) {
		int len = snprintf(body[i], sizeof(body[i]), "msg-%llu:",
				   (unsigned long long)(first + i));

		memset(body[i] + len, 'x', size - (size_t)len);
		memset(&m[i], 0, sizeof(m[i]));
		m[i].payload = body[i];
		m[i].payload_len = (uint32_t)size;
	}
	*rc = vb_client_send(c, &h, m, n, e);
}

/* Polls the whole partition; checks order, checksums and payloads. */
static uint64_t poll_all(struct vb_client *c, uint32_t part)
{
	uint64_t next = 0;

	for (;;) {
		struct vb_req r;
		struct vb_poll_hdr h;
		struct vb_rd rd;
		struct vb_msg m;
		struct vb_err e;
		int rc;

		vb_req_init(&r, VB_CMD_POLL_MESSAGES);
		r.consumer.kind = VB_CONSUMER;
		vb_ident_num(&r.consumer.id, 1);
		vb_ident_num(&r.stream, 0);
		vb_ident_num(&r.topic, 0);
		r.part.present = 1;
		r.part.id = part;
		r.strategy = VB_POLL_OFFSET;
		r.value = next;
		r.count = 1000;
		assert_int_equal(vb_client_poll(c, &r, &h, &rd, &e), 0);
		if (h.count == 0)
			return next;
		while ((rc = vb_wire_dec_msg(&rd, &m, &e)) == 1) {
			char want[64];
			int len = snprintf(want, sizeof(want), "msg-%llu:",
					   (unsigned long long)next);

			assert_int_equal(m.offset, next);
			assert_int_equal(m.checksum,
					 vb_wire_msg_checksum(m.frame, m.size));
			assert_memory_equal(m.payload, want, (size_t)len);
			next++;
		}
		assert_int_equal(rc, 0);
	}
}

static void setup_topic(struct vb_client *c, uint32_t parts)
{
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct vb_ident s;
	struct vb_err e;

	assert_int_equal(vb_client_create_stream(c, "d", &si, &e), 0);
	vb_ident_num(&s, si.id);
	assert_int_equal(vb_client_create_topic(c, &s, "t", parts, &ti, &e), 0);
}

static void test_restart(void **state)
{
	struct srv s;
	struct vb_client c;
	struct vb_consumer who;
	struct vb_offset_info oi;
	struct vb_ident si, ti;
	struct vb_group_info g;
	struct vb_err e;
	int rc, found;
	char user[128], pass[128];

	srv_mkdir(&s);
	assert_int_equal(srv_start(&s), 0);
	must_client(&s, &c);
	setup_topic(&c, 2);
	for (int i = 0; i < 5; i++) {
		send_batch(&c, 1, (uint64_t)i * 100, 100, 200, &e, &rc);
		assert_int_equal(rc, 0);
	}
	vb_ident_num(&si, 0);
	vb_ident_num(&ti, 0);
	who.kind = VB_CONSUMER;
	vb_ident_str(&who.id, "keeper");
	assert_int_equal(vb_client_store_offset(&c, &who, &si, &ti, 1, 123, &e),
			 0);
	assert_int_equal(vb_client_create_group(&c, &si, &ti, "grp", &g, &e),
			 0);
	vb_client_release(&c);
	snprintf(user, sizeof(user), "%s", s.user);
	snprintf(pass, sizeof(pass), "%s", s.pass);
	assert_int_equal(srv_stop(&s), 0);

	/* Same data dir: same credentials, data, offsets, metadata. */
	assert_int_equal(srv_start(&s), 0);
	assert_string_equal(s.user, user);
	assert_string_equal(s.pass, pass);
	must_client(&s, &c);
	assert_int_equal(poll_all(&c, 1), 500);
	assert_int_equal(poll_all(&c, 0), 0);
	assert_int_equal(vb_client_get_offset(&c, &who, &si, &ti, 1, &oi,
					      &found, &e),
			 0);
	assert_true(found);
	assert_int_equal(oi.stored_offset, 123);
	assert_int_equal(oi.current_offset, 499);
	{
		struct vb_ident gi;

		vb_ident_str(&gi, "grp");
		assert_int_equal(vb_client_join_group(&c, &si, &ti, &gi, &e),
				 0);
	}
	/* Appends continue at 500. */
	send_batch(&c, 1, 500, 10, 200, &e, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(poll_all(&c, 1), 510);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	srv_rmdir(&s);
}

/*
 * A producer process appends batches until the server dies, writing the
 * number of acknowledged messages to a file after every acknowledgement.
 */
static void producer_to(struct srv *s, const char *countfile, uint32_t part)
{
	struct vb_client c;
	struct vb_err e;
	uint64_t acked = 0;
	int rc;

	if (srv_client(s, &c, 1) < 0)
		_exit(2);
	for (;;) {
		FILE *f;

		send_batch(&c, part, acked, 50, 300, &e, &rc);
		if (rc < 0)
			_exit(0);
		acked += 50;
		f = fopen(countfile, "w");
		if (f == NULL)
			_exit(3);
		fprintf(f, "%llu\n", (unsigned long long)acked);
		fclose(f);
	}
}

static void producer(struct srv *s, const char *countfile)
{
	producer_to(s, countfile, 0);
}

static unsigned long long read_count(const char *path)
{
	unsigned long long n = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%llu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

/*
 * Eight producers, one partition each, so that the batches of a pass share
 * its commit (and the next pass runs while it syncs): kill -9, and every
 * acknowledged batch of every producer is there.
 */
static void test_kill9_group_commit(void **state)
{
	static const char *const args[] = { "--fsync", "always",
					    "--segment-size", "65536", NULL };
	enum { NP = 8 };
	struct srv s;
	struct vb_client c;
	char files[NP][700];
	pid_t pids[NP];
	unsigned long long total = 0;
	int st;

	srv_mkdir(&s);
	assert_int_equal(srv_start_args(&s, args), 0);
	must_client(&s, &c);
	setup_topic(&c, NP);
	vb_client_release(&c);
	for (int i = 0; i < NP; i++) {
		snprintf(files[i], sizeof(files[i]), "%s/acked.%d", s.dir, i);
		pids[i] = fork();
		if (pids[i] == 0)
			producer_to(&s, files[i], (uint32_t)i);
	}
	for (int i = 0; i < 300 && total < 8000; i++) {
		sleep_ms(20);
		total = 0;
		for (int k = 0; k < NP; k++)
			total += read_count(files[k]);
	}
	srv_kill9(&s);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(srv_start_args(&s, args), 0);
	must_client(&s, &c);
	for (int i = 0; i < NP; i++) {
		unsigned long long acked = read_count(files[i]);
		uint64_t present = poll_all(&c, (uint32_t)i);

		assert_true(acked > 0);
		assert_true(present >= acked);
		assert_true(present <= acked + 50);
	}
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	srv_rmdir(&s);
}

static void test_kill9_always(void **state)
{
	static const char *const args[] = { "--fsync", "always",
					    "--segment-size", "65536", NULL };
	struct srv s;
	struct vb_client c;
	char countfile[700];
	unsigned long long acked = 0;
	uint64_t present;
	pid_t pid;
	FILE *f;
	int st;

	srv_mkdir(&s);
	assert_int_equal(srv_start_args(&s, args), 0);
	must_client(&s, &c);
	setup_topic(&c, 1);
	vb_client_release(&c);
	snprintf(countfile, sizeof(countfile), "%s/acked", s.dir);
	pid = fork();
	if (pid == 0)
		producer(&s, countfile);
	/* Let it append for a while (several segments), then kill -9. */
	for (int i = 0; i < 200 && acked < 3000; i++) {
		sleep_ms(20);
		f = fopen(countfile, "r");
		if (f) {
			if (fscanf(f, "%llu", &acked) != 1)
				acked = 0;
			fclose(f);
		}
	}
	srv_kill9(&s);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f = fopen(countfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &acked), 1);
	fclose(f);
	assert_true(acked > 0);

	assert_int_equal(srv_start_args(&s, args), 0);
	must_client(&s, &c);
	present = poll_all(&c, 0);
	/*
	 * Every acknowledged message is there; of the batch in flight at the
	 * kill, a whole-message prefix may be (the write was cut).
	 */
	assert_true(present >= acked);
	assert_true(present <= acked + 50);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	srv_rmdir(&s);
}

static void test_torn_tail_daemon(void **state)
{
	struct srv s;
	struct vb_client c;
	struct vb_err e;
	char cmd[1200], log[700];
	int rc;

	srv_mkdir(&s);
	assert_int_equal(srv_start(&s), 0);
	must_client(&s, &c);
	setup_topic(&c, 1);
	send_batch(&c, 0, 0, 20, 100, &e, &rc);
	assert_int_equal(rc, 0);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	/* Crash-like state: no clean marker, garbage after the last frame. */
	snprintf(cmd, sizeof(cmd),
		 "rm -f '%s/clean' && printf 'torn-garbage-bytes' >> "
		 "'%s/streams/0/topics/0/partitions/0/00000000000000000000.log'",
		 s.dir, s.dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(srv_start(&s), 0);
	must_client(&s, &c);
	assert_int_equal(poll_all(&c, 0), 20);
	send_batch(&c, 0, 20, 5, 100, &e, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(poll_all(&c, 0), 25);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	snprintf(log, sizeof(log),
		 "grep -q 'truncated at byte' '%s/server.log'", s.dir);
	assert_int_equal(system(log), 0);
	srv_rmdir(&s);
}

static void test_retention(void **state)
{
	static const char *const args[] = { "--segment-size", "4096",
					    "--cleaner-ms", "20", NULL };
	struct srv s;
	struct vb_client c;
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct vb_partition_info pi;
	struct vb_ident sid, tid;
	struct vb_req r;
	struct vb_err e;
	int rc, found;
	uint64_t size = UINT64_MAX;

	srv_mkdir(&s);
	assert_int_equal(srv_start_args(&s, args), 0);
	must_client(&s, &c);
	assert_int_equal(vb_client_create_stream(&c, "r", &si, &e), 0);
	vb_ident_num(&sid, si.id);
	/* Size-limited topic: max 20000 bytes with 4 KiB segments. */
	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	r.stream = sid;
	r.count = 1;
	r.compression = 1;
	r.max_topic_size = 20000;
	vb_name_set(&r.name, "sized");
	assert_int_equal(vb_client_call(&c, &r, NULL, NULL, &e), 0);
	for (int i = 0; i < 30; i++) {
		send_batch(&c, 0, (uint64_t)i * 4, 4, 1000, &e, &rc);
		assert_int_equal(rc, 0);
	}
	vb_ident_num(&tid, 0);
	/* The cleaner runs every 20 ms: wait (bounded) for it. */
	for (int i = 0; i < 250 && size >= 18000; i++) {
		assert_int_equal(vb_client_get_topic(&c, &sid, &tid, &ti, &pi,
						     1, &found, &e),
				 0);
		size = ti.size_bytes;
		if (size >= 18000)
			sleep_ms(20);
	}
	assert_true(size < 18000);
	assert_true(pi.messages_count < 120);
	assert_int_equal(pi.current_offset, 119);
	/* The oldest messages are gone; offsets are not renumbered. */
	{
		struct vb_poll_hdr h;
		struct vb_rd rd;
		struct vb_msg m;

		vb_req_init(&r, VB_CMD_POLL_MESSAGES);
		r.consumer.kind = VB_CONSUMER;
		vb_ident_num(&r.consumer.id, 1);
		r.stream = sid;
		r.topic = tid;
		r.part.present = 1;
		r.strategy = VB_POLL_FIRST;
		r.count = 1;
		assert_int_equal(vb_client_poll(&c, &r, &h, &rd, &e), 0);
		assert_int_equal(vb_wire_dec_msg(&rd, &m, &e), 1);
		assert_true(m.offset > 0);
		assert_int_equal(m.offset, 120 - pi.messages_count);
	}
	/* delete_segments removes the oldest; a missing partition: 3007. */
	vb_req_init(&r, VB_CMD_DELETE_SEGMENTS);
	r.stream = sid;
	r.topic = tid;
	r.partition_id = 0;
	r.count = 1;
	assert_int_equal(vb_client_call(&c, &r, NULL, NULL, &e), 0);
	assert_int_equal(vb_client_get_topic(&c, &sid, &tid, &ti, &pi, 1,
					     &found, &e),
			 0);
	assert_true(ti.size_bytes < size);
	r.partition_id = 5;
	assert_int_equal(vb_client_call(&c, &r, NULL, NULL, &e), -1);
	assert_int_equal(e.status, VB_ST_PARTITION_NOT_FOUND);
	/* Purge: empty, offsets restart at 0. */
	vb_req_init(&r, VB_CMD_PURGE_TOPIC);
	r.stream = sid;
	r.topic = tid;
	assert_int_equal(vb_client_call(&c, &r, NULL, NULL, &e), 0);
	assert_int_equal(vb_client_get_topic(&c, &sid, &tid, &ti, &pi, 1,
					     &found, &e),
			 0);
	assert_int_equal(ti.messages_count, 0);
	assert_int_equal(pi.current_offset, 0);
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	srv_rmdir(&s);
}

/* ---- 32 concurrent clients ---- */

#define NPROD 16
#define NCONS 16
#define NBATCH 20
#define BATCH 50

struct worker {
	struct srv *s;
	int idx;
	int ok;
	uint64_t seen;
};

static void *prod_main(void *arg)
{
	struct worker *w = arg;
	struct vb_client c;
	struct vb_err e;
	int rc;

	if (srv_client(w->s, &c, 1) < 0)
		return NULL;
	w->ok = 1;
	for (int b = 0; b < NBATCH; b++) {
		struct vb_send_hdr h;
		struct vb_msg_in m[BATCH];
		char body[BATCH][32];

		memset(&h, 0, sizeof(h));
		vb_ident_num(&h.stream, 0);
		vb_ident_num(&h.topic, 0);
		h.part_kind = VB_PART_KEY;
		h.key_len = (uint8_t)snprintf((char *)h.key, sizeof(h.key),
					      "producer-%d", w->idx);
		for (int i = 0; i < BATCH; i++) {
			memset(&m[i], 0, sizeof(m[i]));
			m[i].payload = body[i];
			m[i].payload_len = (uint32_t)snprintf(body[i], 32,
							      "p%d-%d", w->idx,
							      b * BATCH + i);
		}
		rc = vb_client_send(&c, &h, m, BATCH, &e);
		if (rc < 0)
			w->ok = 0;
	}
	vb_client_release(&c);
	return NULL;
}

static void *cons_main(void *arg)
{
	struct worker *w = arg;
	struct vb_client c;
	const uint64_t want = (uint64_t)NPROD * NBATCH * BATCH;

	if (srv_client(w->s, &c, 1) < 0)
		return NULL;
	w->ok = 1;
	/* Poll every partition with next + auto_commit until all seen. */
	for (int spin = 0; spin < 20000 && w->seen < want; spin++) {
		for (uint32_t p = 0; p < 4; p++) {
			struct vb_req r;
			struct vb_poll_hdr h;
			struct vb_rd rd;
			struct vb_msg m;
			struct vb_err e;

			vb_req_init(&r, VB_CMD_POLL_MESSAGES);
			r.consumer.kind = VB_CONSUMER;
			vb_ident_num(&r.consumer.id, 1000 + (uint32_t)w->idx);
			vb_ident_num(&r.stream, 0);
			vb_ident_num(&r.topic, 0);
			r.part.present = 1;
			r.part.id = p;
			r.strategy = VB_POLL_NEXT;
			r.count = 500;
			r.flag = 1;
			if (vb_client_poll(&c, &r, &h, &rd, &e) < 0) {
				w->ok = 0;
				goto out;
			}
			while (vb_wire_dec_msg(&rd, &m, &e) == 1) {
				if (m.checksum !=
				    vb_wire_msg_checksum(m.frame, m.size))
					w->ok = 0;
				w->seen++;
			}
		}
		if (w->seen < want)
			sleep_ms(1);
	}
out:
	vb_client_release(&c);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct srv s;
	struct vb_client c;
	struct worker w[NPROD + NCONS];
	pthread_t th[NPROD + NCONS];

	srv_mkdir(&s);
	assert_int_equal(srv_start(&s), 0);
	must_client(&s, &c);
	setup_topic(&c, 4);
	for (int i = 0; i < NPROD + NCONS; i++) {
		w[i].s = &s;
		w[i].idx = i;
		w[i].ok = 0;
		w[i].seen = 0;
		assert_int_equal(pthread_create(&th[i], NULL,
						i < NPROD ? prod_main :
							    cons_main,
						&w[i]),
				 0);
	}
	for (int i = 0; i < NPROD + NCONS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NPROD + NCONS; i++) {
		assert_true(w[i].ok);
		if (i >= NPROD)
			assert_int_equal(w[i].seen,
					 (uint64_t)NPROD * NBATCH * BATCH);
	}
	/* The topic holds every message exactly once. */
	{
		struct vb_ident si, ti;
		struct vb_topic_info tinfo;
		struct vb_err e;
		int found;

		vb_ident_num(&si, 0);
		vb_ident_num(&ti, 0);
		assert_int_equal(vb_client_get_topic(&c, &si, &ti, &tinfo, NULL,
						     0, &found, &e),
				 0);
		assert_int_equal(tinfo.messages_count,
				 (uint64_t)NPROD * NBATCH * BATCH);
	}
	vb_client_release(&c);
	assert_int_equal(srv_stop(&s), 0);
	srv_rmdir(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_kill9_always),
		cmocka_unit_test(test_kill9_group_commit),
		cmocka_unit_test(test_torn_tail_daemon),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
