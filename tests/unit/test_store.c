/*
 * lib/store: segments, reads, stored offsets and crash recovery on disk;
 * the commit point: what it publishes, and what a failed fsync undoes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/store.h"
#include "wire/wire.h"

/*
 * fsync and fdatasync fail with fail_errno while it is set: the store is
 * linked into this program, so these definitions are the ones it calls.
 */
static int fail_errno;
static int syncs_failed;

int fdatasync(int fd)
{
	if (fail_errno) {
		syncs_failed++;
		errno = fail_errno;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
	if (fail_errno) {
		syncs_failed++;
		errno = fail_errno;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

struct fx {
	char dir[256];
	struct vb_syncer sync;
	struct vb_store st;
	int notices;
	char last_notice[1024];
	char notices_all[4096]; /* every one since notices was last 0 */
};

static void on_notice(void *arg, const char *msg)
{
	struct fx *f = arg;

	if (f->notices++ == 0)
		f->notices_all[0] = 0;
	snprintf(f->last_notice, sizeof(f->last_notice), "%s", msg);
	strlcat(f->notices_all, msg, sizeof(f->notices_all));
	strlcat(f->notices_all, "\n", sizeof(f->notices_all));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/vibes-store.XXXXXX",
		 t && *t ? t : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	vb_syncer_init(&f->sync, VB_FSYNC_ALWAYS, 0);
	f->st.sync = &f->sync;
	f->st.segment_size = 1000; /* a few messages per segment */
	f->st.notice = on_notice;
	f->st.notice_arg = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fail_errno = 0;
	vb_rmtree(f->dir, NULL);
	vb_syncer_release(&f->sync);
	vb_store_release(&f->st);
	free(f);
	return 0;
}

/* n frames with payloads "m<i>" (from `first`), back to back in b. */
static void frames(struct vb_buf *b, int first, int n)
{
	vb_buf_reset(b);
	for (int i = first; i < first + n; i++) {
		char body[32];
		int len = snprintf(body, sizeof(body), "message-%04d", i);
		uint8_t *h = vb_buf_reserve(b, 64);

		memset(h, 0, 64);
		vb_st32(h + 52, (uint32_t)len);
		b->len += 64;
		vb_buf_add(b, body, (size_t)len);
	}
}

/* The commit point, both halves; how many partitions failed. */
static size_t commit_keep(struct vb_part *p)
{
	return vb_store_commit(p->st) + vb_store_commit_done(p->st);
}

static size_t commit(struct vb_part *p)
{
	size_t failed = commit_keep(p);

	vb_store_commit_end(p->st);
	return failed;
}

/* Appends n messages from `first`, without a commit point. */
static int append_only(struct vb_part *p, int first, int n, uint64_t ts)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;
	int rc;

	frames(&b, first, n);
	rc = vb_part_append(p, b.p, b.len, (uint32_t)n, ts, &e);
	vb_buf_release(&b);
	return rc;
}

/* Appends n messages and commits them (one pass of the broker). */
static void append(struct vb_part *p, int first, int n, uint64_t ts)
{
	assert_int_equal(append_only(p, first, n, ts), 0);
	assert_int_equal(commit(p), 0);
}

/* Message `want`'s payload as frames() and rec() make it. */
static void check_payload(const uint8_t *p, size_t n, uint64_t want)
{
	char w[32];

	snprintf(w, sizeof(w), "message-%04d", (int)want);
	assert_int_equal(n, strlen(w));
	assert_memory_equal(p, w, n);
}

/*
 * The messages of a span of 0.9 records (buf, its bytes) from offset
 * *expect on: every frame's checksum and payload, each record whole
 * (its checksum) or, for one the span begins inside, its header where
 * the store says.  Returns how many.
 */
static uint32_t check_records(const struct vb_span *sp, const uint8_t *buf,
			      uint64_t *expect)
{
	uint64_t *end = calloc(sp->n, sizeof(*end)), base = 0, hpos, head;
	uint32_t *fl = calloc(sp->n, sizeof(*fl)), heads = 0;
	uint8_t hdr[VB_BATCH_HDR];
	struct vb_err e;

	assert_int_equal(vb_span_ents(sp, end, fl), 0);
	for (uint32_t i = 0; i < sp->n; i++) {
		uint64_t at = (i ? end[i - 1] : sp->off) - sp->off;
		const uint8_t *f;
		uint64_t fsz;

		assert_true(fl[i] & VB_ENT_V09);
		if (fl[i] & VB_ENT_HEAD) {
			const uint8_t *h = buf + at;

			heads++;
			assert_int_equal(vb_wire_batch_checksum(h),
					 vb_ld64(h + VB_BATCH_CHECKSUM));
			base = vb_ld64(h + VB_BATCH_BASE_OFFSET);
			at += VB_BATCH_HDR;
		} else if (i == 0) {
			assert_int_equal(vb_span_rec_hdr(sp, hdr, &hpos, &head,
							 &e),
					 0);
			assert_true(hpos < sp->off);
			base = vb_ld64(hdr + VB_BATCH_BASE_OFFSET);
			assert_int_equal(base, head);
		}
		f = buf + at;
		fsz = vb_frame_size(f);
		assert_int_equal(at + fsz, end[i] - sp->off);
		assert_int_equal(base + vb_ld32(f + VB_FRAME_OFFSET_DELTA),
				 *expect);
		assert_int_equal(vb_ld64(f), vb_xxh3(f + 8, (size_t)fsz - 8));
		check_payload(f + VB_FRAME_HDR,
			      vb_ld32(f + VB_FRAME_PAYLOAD_LEN), *expect);
		(*expect)++;
	}
	assert_int_equal(heads, sp->heads);
	free(end);
	free(fl);
	return sp->n;
}

/*
 * Reads count messages from start and checks offsets and checksums, of
 * 0.8 frames and 0.9 records alike.
 */
static uint32_t read_check(struct vb_part *p, uint64_t start, uint32_t count)
{
	struct vb_span sp[64];
	uint32_t n, got = 0;
	uint64_t last,
		expect = start < vb_part_first(p) ? vb_part_first(p) : start;
	size_t nsp = vb_part_read(p, start, count, UINT64_MAX, sp, 64, &n,
				  &last);

	for (size_t i = 0; i < nsp; i++) {
		uint8_t *buf = malloc(sp[i].len);
		struct vb_rd rd;
		struct vb_msg m;
		struct vb_err e;
		int rc;

		assert_int_equal(pread(sp[i].f->fd, buf, sp[i].len,
				       (off_t)sp[i].off),
				 (ssize_t)sp[i].len);
		if (i > 0 && sp[i].seg == sp[i - 1].seg)
			assert_int_not_equal(sp[i].v09, sp[i - 1].v09);
		if (sp[i].v09) {
			got += check_records(&sp[i], buf, &expect);
			free(buf);
			continue;
		}
		assert_int_equal(sp[i].heads, 0);
		vb_rd_init(&rd, buf, sp[i].len);
		while ((rc = vb_wire_dec_msg(&rd, &m, &e)) == 1) {
			assert_int_equal(m.offset, expect);
			assert_int_equal(m.checksum,
					 vb_wire_msg_checksum(m.frame, m.size));
			check_payload(m.payload, m.payload_len, m.offset);
			expect++;
			got++;
		}
		assert_int_equal(rc, 0);
		free(buf);
	}
	assert_int_equal(got, n);
	if (n)
		assert_int_equal(last, expect - 1);
	return n;
}

static struct vb_file *active_log(struct vb_part *p)
{
	return p->segs[p->nsegs - 1]->log;
}

static void pdir(struct fx *f, char *buf, size_t n)
{
	snprintf(buf, n, "%s/p0", f->dir);
}

static void test_append_read_reopen(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];
	uint64_t off;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	assert_int_equal(p->next, 0);
	assert_int_equal(read_check(p, 0, 10), 0);
	append(p, 0, 5, 1000);
	append(p, 5, 20, 2000);
	append(p, 25, 5, 3000);
	assert_true(p->nsegs > 1); /* segment size 1000 bytes */
	assert_int_equal(p->next, 30);
	assert_int_equal(vb_part_current(p), 29);
	assert_int_equal(read_check(p, 0, 100), 30);
	assert_int_equal(read_check(p, 7, 3), 3);
	assert_int_equal(read_check(p, 29, 10), 1);
	assert_int_equal(read_check(p, 30, 10), 0);
	assert_int_equal(vb_part_find_ts(p, 1500, &off), 0);
	assert_int_equal(off, 5);
	assert_int_equal(vb_part_find_ts(p, 3001, &off), -1);
	assert_int_equal(vb_part_offset_store(p, VB_OFF_CONSUMER, 7, 12, &e),
			 0);
	assert_int_equal(vb_part_offset_store(p, VB_OFF_GROUP, 7, 3, &e), 0);
	assert_int_equal(commit(p), 0);
	vb_part_free(p);

	/* Reopen (not clean: the last segment is verified). */
	f->st.clean = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 30);
	assert_int_equal(f->notices, 0);
	assert_int_equal(read_check(p, 0, 100), 30);
	assert_int_equal(vb_part_offset_get(p, VB_OFF_CONSUMER, 7, &off), 1);
	assert_int_equal(off, 12);
	assert_int_equal(vb_part_offset_get(p, VB_OFF_GROUP, 7, &off), 1);
	assert_int_equal(off, 3);
	assert_int_equal(vb_part_offset_delete(p, VB_OFF_GROUP, 7, &e), 1);
	assert_int_equal(vb_part_offset_delete(p, VB_OFF_GROUP, 7, &e), 0);
	/* Appends continue the sequence. */
	append(p, 30, 3, 4000);
	assert_int_equal(read_check(p, 0, 100), 33);
	vb_part_free(p);
}

/*
 * Frames stamped by the caller (the 0.9 send converts and stamps in one
 * pass) are stored as they are when stamped from p->next with a timestamp
 * not below the last; stamped from anywhere else, or earlier, they are
 * stamped again, so offsets and checksums are always the store's.
 */
static void test_append_stamped(void **state)
{
	struct fx *f = *state;
	struct vb_buf b = VB_BUF_INIT;
	uint8_t rnd[16] = { 0 };
	struct vb_part *p;
	struct vb_err e;
	char dir[512];
	size_t at = 0;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 3, 1000);
	assert_int_equal(vb_part_stamp_ts(p, 999), 1000);
	assert_int_equal(vb_part_stamp_ts(p, 1001), 1001);
	/* stamped right: stored byte for byte */
	frames(&b, 3, 2);
	for (uint64_t i = 0; i < 2; i++) {
		size_t sz = (size_t)vb_msg_frame_size(b.p + at);

		rnd[0] = (uint8_t)(i + 1);
		vb_wire_msg_stamp(b.p + at, sz, 3 + i, 2000, rnd);
		at += sz;
	}
	{
		struct vb_buf want = VB_BUF_INIT;
		uint8_t *got = malloc(b.len);

		vb_buf_add(&want, b.p, b.len);
		assert_int_equal(vb_part_append_stamped(p, b.p, b.len, 2, 2000,
							3, &e),
				 0);
		assert_int_equal(commit(p), 0);
		assert_int_equal(pread(active_log(p)->fd, got, want.len,
				       (off_t)(p->segs[p->nsegs - 1]->size -
					       want.len)),
				 (ssize_t)want.len);
		assert_memory_equal(got, want.p, want.len);
		free(got);
		vb_buf_release(&want);
	}
	/* stamped from a wrong offset, and with a timestamp gone back */
	frames(&b, 5, 2);
	at = 0;
	for (uint64_t i = 0; i < 2; i++) {
		size_t sz = (size_t)vb_msg_frame_size(b.p + at);

		vb_wire_msg_stamp(b.p + at, sz, 40 + i, 3000, rnd);
		at += sz;
	}
	assert_int_equal(vb_part_append_stamped(p, b.p, b.len, 2, 3000, 40, &e),
			 0);
	assert_int_equal(commit(p), 0);
	frames(&b, 7, 1);
	vb_wire_msg_stamp(b.p, b.len, 7, 10, rnd);
	assert_int_equal(vb_part_append_stamped(p, b.p, b.len, 1, 10, 7, &e),
			 0);
	assert_int_equal(commit(p), 0);
	assert_int_equal(p->next, 8);
	assert_int_equal(p->last_ts, 3000);
	assert_int_equal(read_check(p, 0, 100), 8);
	vb_buf_release(&b);
	vb_part_free(p);
}

/* Path of the newest .log in dir. */
static void last_log(const char *dir, char *out, size_t n)
{
	char cmd[600];
	FILE *pf;

	snprintf(cmd, sizeof(cmd), "ls %s/*.log | sort | tail -n 1", dir);
	pf = popen(cmd, "r");
	assert_non_null(pf);
	assert_non_null(fgets(out, (int)n, pf));
	out[strcspn(out, "\n")] = 0;
	pclose(pf);
}

/*
 * A 0.9 record of n messages from `first` (payloads as frames() makes
 * them, ids first + 1 on, origin timestamps 500 + i), stamped as the
 * broker does for a partition whose next offset is `first`.
 */
static void rec(struct vb_buf *b, int first, int n, uint64_t ts)
{
	uint8_t *h;

	vb_buf_reset(b);
	h = vb_buf_reserve(b, VB_BATCH_HDR);
	memset(h, 0, VB_BATCH_HDR);
	vb_st64(h + VB_BATCH_ORIGIN_TS, 500);
	vb_st32(h + VB_BATCH_COUNT, (uint32_t)n);
	b->len += VB_BATCH_HDR;
	for (int i = 0; i < n; i++) {
		char body[32];
		int len = snprintf(body, sizeof(body), "message-%04d",
				   first + i);
		size_t at = b->len;
		uint8_t *f = vb_buf_reserve(b, VB_FRAME_HDR);

		memset(f, 0, VB_FRAME_HDR);
		vb_st64(f + VB_FRAME_ID, (uint64_t)first + i + 1);
		vb_st32(f + VB_FRAME_OFFSET_DELTA, (uint32_t)i);
		vb_st32(f + VB_FRAME_TS_DELTA, (uint32_t)i);
		vb_st32(f + VB_FRAME_PAYLOAD_LEN, (uint32_t)len);
		b->len += VB_FRAME_HDR;
		vb_buf_add(b, body, (size_t)len);
		vb_st64(b->p + at, vb_xxh3(b->p + at + 8, b->len - at - 8));
	}
	vb_st64(b->p + VB_BATCH_LENGTH, b->len);
	vb_wire_batch_stamp(b->p, 0, (uint64_t)first, ts);
}

/* Appends record rec(first, n) and commits it. */
static void append_rec(struct vb_part *p, int first, int n, uint64_t ts)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;

	rec(&b, first, n, ts);
	assert_int_equal(vb_part_append_record(p, b.p, b.len, (uint32_t)n, ts,
					       (uint64_t)first, &e),
			 0);
	assert_int_equal(commit(p), 0);
	vb_buf_release(&b);
}

/* How many spans a read of everything from start gives, and of 0.9. */
static size_t spans_of(struct vb_part *p, uint64_t start, size_t *v09)
{
	struct vb_span sp[64];
	uint32_t n;
	uint64_t last;
	size_t nsp = vb_part_read(p, start, 1000, UINT64_MAX, sp, 64, &n,
				  &last);

	*v09 = 0;
	for (size_t i = 0; i < nsp; i++)
		*v09 += sp[i].v09 != 0;
	return nsp;
}

/*
 * 0.9 batches stored as the records they came in, beside 0.8 messages in
 * one segment: read back as spans of one kind each, from any offset
 * (inside a record too), byte for byte as appended; a record stamped from
 * an offset that moved is stamped again; recovery scans records (an index
 * rebuilt from the log says the same), cuts a torn or damaged one whole,
 * and a clean restart trusts them.
 */
static void test_records(void **state)
{
	struct fx *f = *state;
	struct vb_buf b = VB_BUF_INIT;
	struct vb_part *p;
	struct vb_err e;
	char dir[512], log[600], idx[600];
	size_t v09;
	struct stat st;
	uint8_t *got;
	int fd;

	f->st.segment_size = 1u << 20;
	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append_rec(p, 0, 3, 1000);
	append(p, 3, 2, 1001);
	append_rec(p, 5, 4, 1002);
	append_rec(p, 9, 1, 1003);
	/* stored as stamped, byte for byte */
	rec(&b, 10, 2, 1004);
	assert_int_equal(vb_part_append_record(p, b.p, b.len, 2, 1004, 10, &e),
			 0);
	assert_int_equal(commit(p), 0);
	got = malloc(b.len);
	assert_int_equal(pread(active_log(p)->fd, got, b.len,
			       (off_t)(p->segs[0]->size - b.len)),
			 (ssize_t)b.len);
	assert_memory_equal(got, b.p, b.len);
	free(got);
	/* stamped from an offset that is not the partition's: again */
	rec(&b, 40, 2, 1005);
	assert_int_equal(vb_part_append_record(p, b.p, b.len, 2, 1005, 40, &e),
			 0);
	assert_int_equal(commit(p), 0);
	assert_int_equal(p->next, 14);
	assert_int_not_equal(vb_part_append_record(p, b.p, b.len, 3, 1005, 14,
						   &e),
			     0);
	/* the rec() payloads of 40, 41 sit at 12, 13: read the rest */
	assert_int_equal(read_check(p, 0, 12), 12);
	for (uint64_t at = 0; at < 12; at++)
		assert_int_equal(read_check(p, at, 12 - (uint32_t)at), 12 - at);
	assert_int_equal(read_check(p, 6, 2), 2); /* inside a record */
	assert_int_equal(spans_of(p, 0, &v09), 3);
	assert_int_equal(v09, 2);
	assert_int_equal(spans_of(p, 4, &v09), 2);
	assert_int_equal(v09, 1);
	vb_part_free(p);

	/* a clean restart trusts them; one without the index rebuilds it */
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 14);
	assert_int_equal(read_check(p, 0, 12), 12);
	vb_part_free(p);
	last_log(dir, log, sizeof(log));
	snprintf(idx, sizeof(idx), "%.*sindex", (int)strlen(log) - 3, log);
	assert_int_equal(truncate(idx, 0), 0);
	f->st.clean = 0;
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 14);
	assert_int_equal(read_check(p, 0, 12), 12);
	assert_int_equal(read_check(p, 7, 3), 3);
	assert_int_equal(spans_of(p, 0, &v09), 3);
	vb_part_free(p);

	/* the last record torn: it goes whole */
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(truncate(log, st.st_size - 3), 0);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 12);
	assert_non_null(strstr(f->notices_all, "partial record"));
	vb_part_free(p);
	/* a byte of a frame inside a record changed: cut from that record */
	fd = open(log, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(stat(log, &st), 0);
	/* record 5..8 starts after 3 frames + header and 2 0.8 messages */
	assert_int_equal(pwrite(fd, "X", 1,
				VB_BATCH_HDR + 3 * (VB_FRAME_HDR + 12) +
					2 * (VB_MSG_HDR + 12) + VB_BATCH_HDR +
					2 * (VB_FRAME_HDR + 12) + VB_FRAME_HDR +
					3),
			 1);
	close(fd);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 5);
	assert_non_null(strstr(f->notices_all, "frame checksum mismatch"));
	assert_int_equal(read_check(p, 0, 100), 5);
	/* and the place is taken again, by a record */
	append_rec(p, 5, 2, 1010);
	assert_int_equal(read_check(p, 0, 100), 7);
	vb_part_free(p);
	vb_buf_release(&b);
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512], log[600];
	struct stat st;
	int fd;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 6, 1000);
	vb_part_free(p);
	last_log(dir, log, sizeof(log));
	/* A torn write: half a message header at the end. */
	fd = open(log, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x01\x02\x03\x04garbage", 11), 11);
	close(fd);
	f->st.clean = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_true(f->notices > 0);
	assert_non_null(strstr(f->last_notice, "index rebuilt") ?
				f->last_notice :
				strstr(f->last_notice, "truncated"));
	assert_int_equal(p->next, 6);
	assert_int_equal(read_check(p, 0, 100), 6);
	vb_part_free(p);

	/* A flipped byte inside the last message: it is dropped. */
	assert_int_equal(stat(log, &st), 0);
	fd = open(log, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, st.st_size - 2), 1);
	close(fd);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_true(f->notices > 0);
	assert_int_equal(p->next, 5);
	assert_int_equal(read_check(p, 0, 100), 5);
	/* The next append reuses offset 5 and the log stays consistent. */
	append(p, 5, 2, 2000);
	assert_int_equal(read_check(p, 0, 100), 7);
	vb_part_free(p);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(f->notices, 0);
	assert_int_equal(read_check(p, 0, 100), 7);
	vb_part_free(p);
}

static void test_index_mismatch(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512], cmd[700];

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	for (int i = 0; i < 8; i++)
		append(p, i * 5, 5, 1000);
	assert_true(p->nsegs >= 3);
	vb_part_free(p);
	/* Lose every index: sealed segments are rebuilt from their logs. */
	snprintf(cmd, sizeof(cmd), "rm -f %s/*.index", dir);
	assert_int_equal(system(cmd), 0);
	f->st.clean = 1;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(p->next, 40);
	assert_int_equal(read_check(p, 0, 100), 40);
	vb_part_free(p);
}

/* Start offsets of the segments in dir, sorted, at most max. */
static size_t seg_starts(const char *dir, uint64_t *out, size_t max)
{
	char cmd[600], line[600];
	size_t n = 0;
	FILE *pf;

	snprintf(cmd, sizeof(cmd), "cd %s && ls *.log | sort", dir);
	pf = popen(cmd, "r");
	assert_non_null(pf);
	while (n < max && fgets(line, sizeof(line), pf))
		out[n++] = strtoull(line, NULL, 10);
	pclose(pf);
	return n;
}

/*
 * A power loss kept the entries of later segments and lost the data of
 * one before them (tests/stress/power-loss: an offsets file's fsync of
 * the directory came before the sync of a sealed segment): recovery
 * served offsets with a hole (797, then 816) and went on from after it.
 * It cuts at the hole now.
 */
static void test_gap_cut(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512], path[700];
	uint64_t st0[16];
	size_t n;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	for (int i = 0; i < 8; i++)
		append(p, i * 5, 5, 1000 + (uint64_t)i);
	vb_part_free(p);
	n = seg_starts(dir, st0, 16);
	assert_true(n >= 3);
	/* The data of the second segment lost, its entry and index kept. */
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".log", dir, st0[1]);
	assert_int_equal(truncate(path, 0), 0);
	snprintf(path, sizeof(path), "%s/%020" PRIu64 ".index", dir, st0[1]);
	assert_int_equal(truncate(path, 0), 0);
	f->st.clean = 0;
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_true(f->notices > 0);
	assert_non_null(strstr(f->last_notice, "are missing"));
	assert_int_equal(p->next, st0[1]);
	assert_int_equal(read_check(p, 0, 100), st0[1]);
	/* The segments after the hole are gone: appends go on from it. */
	assert_int_equal(seg_starts(dir, st0 + 8, 8), 2);
	append(p, (int)st0[1], 3, 3000);
	assert_int_equal(read_check(p, 0, 100), st0[1] + 3);
	vb_part_free(p);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(f->notices, 0);
	assert_int_equal(read_check(p, 0, 100), st0[1] + 3);
	vb_part_free(p);
}

static void test_purge_delete_trim(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];
	uint64_t off;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	for (int i = 0; i < 10; i++)
		append(p, i * 10, 10, 1000 + (uint64_t)i);
	assert_true(p->nsegs >= 3);
	/* Delete the two oldest segments: offsets are not renumbered. */
	assert_int_equal(vb_part_delete_segments(p, 2, &e), 0);
	off = vb_part_first(p);
	assert_true(off > 0);
	assert_int_equal(read_check(p, 0, 1000), 100 - off);
	assert_int_equal(p->msgs, 100 - off);
	/* Expiry: the oldest sealed segment's newest message is old. */
	assert_int_equal(vb_part_trim_oldest(p, 5000, 100, 0, &e), 1);
	assert_true(vb_part_first(p) > off);
	/* A stored offset below a segment's end protects it. */
	assert_int_equal(vb_part_offset_store(p, VB_OFF_CONSUMER, 1,
					      vb_part_first(p), &e),
			 0);
	assert_int_equal(vb_part_trim_oldest(p, 5000, 100, 1, &e), 0);
	/* Purge: everything goes, offsets restart at 0. */
	assert_int_equal(vb_part_purge(p, &e), 0);
	assert_int_equal(p->next, 0);
	assert_int_equal(p->msgs, 0);
	assert_int_equal(vb_part_offset_get(p, VB_OFF_CONSUMER, 1, &off), 0);
	assert_int_equal(commit(p), 0);
	append(p, 0, 3, 9000);
	assert_int_equal(read_check(p, 0, 10), 3);
	vb_part_free(p);
}

static void test_read_limits(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_span sp[4];
	struct vb_err e;
	char dir[512];
	uint32_t n;
	uint64_t last;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	for (int i = 0; i < 12; i++)
		append(p, i * 5, 5, 1000);
	/* Byte cap: at least one message, never more than the cap. */
	assert_int_equal(vb_part_read(p, 0, 60, 1, sp, 4, &n, &last), 1);
	assert_int_equal(n, 1);
	vb_part_read(p, 0, 60, 200, sp, 4, &n, &last);
	assert_int_equal(n, 2); /* 76 bytes each */
	/* Span cap: stops at the last span. */
	assert_true(p->nsegs > 2);
	assert_int_equal(vb_part_read(p, 0, 60, UINT64_MAX, sp, 2, &n, &last),
			 2);
	assert_true(n < 60);
	assert_int_equal(last, n - 1);
	vb_part_free(p);
}

/* Bytes of the newest .log in dir. */
static off_t last_log_size(const char *dir)
{
	char log[600];
	struct stat st;

	last_log(dir, log, sizeof(log));
	assert_int_equal(stat(log, &st), 0);
	return st.st_size;
}

static void test_commit_publishes(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 3, 1000);
	/* Written, not yet published: readers stop at the last commit. */
	assert_int_equal(append_only(p, 3, 4, 1001), 0);
	assert_int_equal(append_only(p, 7, 2, 1002), 0);
	assert_int_equal(p->next, 9);
	assert_int_equal(vb_part_current(p), 2);
	assert_int_equal(read_check(p, 0, 100), 3);
	assert_int_equal(f->st.npending, 1);
	assert_int_equal(commit(p), 0);
	assert_int_equal(f->st.npending, 0);
	assert_int_equal(vb_part_current(p), 8);
	assert_int_equal(read_check(p, 0, 100), 9);
	vb_part_free(p);
}

static void test_commit_failure_undoes(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];
	size_t nsegs;
	off_t size;
	uint64_t off;

	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 5, 1000);
	nsegs = p->nsegs;
	size = last_log_size(dir);
	/* Enough for two new segments (1000 bytes each), then EIO. */
	for (int i = 0; i < 7; i++)
		assert_int_equal(append_only(p, 5 + i * 6, 6, 2000), 0);
	assert_true(p->nsegs > nsegs + 1);
	fail_errno = EIO;
	assert_int_equal(commit_keep(p), 1);
	assert_int_equal(p->data_err, EIO);
	assert_int_equal(p->undone, 42);
	assert_non_null(strstr(p->cerr.msg, "cannot sync"));
	vb_store_commit_end(&f->st);
	fail_errno = 0;
	/* Back to what the last commit published, files included. */
	assert_int_equal(p->next, 5);
	assert_int_equal(p->msgs, 5);
	assert_int_equal(p->nsegs, nsegs);
	assert_int_equal(last_log_size(dir), size);
	assert_int_equal(read_check(p, 0, 100), 5);
	append(p, 5, 3, 3000);
	assert_int_equal(read_check(p, 0, 100), 8);

	/* Offsets: the table goes back to what was saved. */
	assert_int_equal(vb_part_offset_store(p, VB_OFF_CONSUMER, 1, 4, &e), 0);
	assert_int_equal(commit(p), 0);
	assert_int_equal(vb_part_offset_store(p, VB_OFF_CONSUMER, 1, 6, &e), 0);
	assert_int_equal(vb_part_offset_store(p, VB_OFF_CONSUMER, 2, 7, &e), 0);
	fail_errno = ENOSPC;
	assert_int_equal(commit_keep(p), 1);
	assert_int_equal(p->offs_err, ENOSPC);
	assert_int_equal(p->data_err, 0);
	vb_store_commit_end(&f->st);
	fail_errno = 0;
	assert_int_equal(vb_part_offset_get(p, VB_OFF_CONSUMER, 1, &off), 1);
	assert_int_equal(off, 4);
	assert_int_equal(vb_part_offset_get(p, VB_OFF_CONSUMER, 2, &off), 0);
	assert_int_equal(f->st.npending, 0);
	vb_part_free(p);
	/* The next start finds exactly what was committed. */
	f->st.clean = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(read_check(p, 0, 100), 8);
	assert_int_equal(vb_part_offset_get(p, VB_OFF_CONSUMER, 1, &off), 1);
	assert_int_equal(off, 4);
	vb_part_free(p);
}

/*
 * Always mode hands its syncs to a thread and serves the next pass
 * meanwhile: what that pass appends is not published with the job, and a
 * failed job takes it back too (it was written after what failed).
 */
static void test_commit_in_flight(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];

	f->st.segment_size = 1u << 20;
	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 2, 1000);
	assert_int_equal(append_only(p, 2, 3, 1001), 0);
	assert_int_equal(vb_store_commit(&f->st), 0);
	assert_true(f->st.busy);
	assert_true(p->inflight);
	vb_store_commit_end(&f->st);
	/* The next pass, while the job runs. */
	assert_int_equal(append_only(p, 5, 4, 1002), 0);
	assert_int_equal(read_check(p, 0, 100), 2);
	assert_int_equal(vb_store_commit_done(&f->st), 0);
	vb_store_commit_end(&f->st);
	assert_int_equal(read_check(p, 0, 100), 5);
	assert_true(p->pending && p->data_dirty);
	assert_int_equal(commit(p), 0);
	assert_int_equal(read_check(p, 0, 100), 9);

	/* The job fails: its messages and the next pass's go back. */
	assert_int_equal(append_only(p, 9, 3, 1003), 0);
	fail_errno = EIO;
	assert_int_equal(vb_store_commit(&f->st), 0);
	fail_errno = 0;
	vb_store_commit_end(&f->st);
	assert_int_equal(append_only(p, 12, 2, 1004), 0);
	assert_int_equal(vb_store_commit_done(&f->st), 1);
	assert_int_equal(p->data_err, EIO);
	assert_int_equal(p->undone, 5);
	vb_store_commit_end(&f->st);
	assert_int_equal(p->next, 9);
	assert_false(p->data_dirty);
	assert_int_equal(read_check(p, 0, 100), 9);
	append(p, 9, 1, 1005);
	assert_int_equal(read_check(p, 0, 100), 10);
	vb_part_free(p);
}

static void test_background_fsync_failure(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];

	/* --fsync MS, with the thread's rounds run by hand. */
	vb_syncer_release(&f->sync);
	vb_syncer_init(&f->sync, VB_FSYNC_INTERVAL, 1000);
	f->st.segment_size = 1u << 20;
	pdir(f, dir, sizeof(dir));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	append(p, 0, 4, 1000);
	assert_int_equal(vb_syncer_flush(&f->sync, &e), 0);
	assert_int_equal(atomic_load(&active_log(p)->synced),
			 (uint64_t)p->segs[0]->size);
	append(p, 4, 3, 1001); /* acknowledged */
	fail_errno = EIO;
	assert_int_equal(vb_syncer_flush(&f->sync, &e), -1);
	assert_int_equal(atomic_load(&active_log(p)->sync_err), EIO);
	/* The next commit point finds it: this pass's messages fail... */
	assert_int_equal(append_only(p, 7, 2, 1002), 0);
	f->notices = 0;
	assert_int_equal(commit_keep(p), 1);
	assert_int_equal(p->data_err, EIO);
	vb_store_commit_end(&f->st);
	assert_true(f->notices >= 2);
	assert_non_null(strstr(f->last_notice, "refuses writes"));
	/* ...and writes are refused while the disk still fails. */
	assert_int_equal(append_only(p, 7, 2, 1003), -1);
	assert_int_equal(read_check(p, 0, 100), 7);
	/* It works again: the acknowledged bytes are written and synced. */
	fail_errno = 0;
	assert_int_equal(append_only(p, 7, 2, 1004), 0);
	assert_non_null(strstr(f->last_notice, "syncs again"));
	assert_int_equal(atomic_load(&active_log(p)->sync_err), 0);
	assert_int_equal(commit(p), 0);
	assert_int_equal(read_check(p, 0, 100), 9);
	vb_part_free(p);
}

/* ---- indexes read on demand (chunks, LRUs) ---- */

#define BIG_N 12000 /* messages: several chunks per segment */

/* BIG_N messages in batches of 100, batch b stamped 1000 + 10 b. */
static struct vb_part *big_part(struct fx *f, char *dir, size_t n)
{
	struct vb_part *p;
	struct vb_err e;

	pdir(f, dir, n);
	f->st.segment_size = 200000; /* ~2600 messages, 3 chunks */
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 1, &e), 0);
	for (int b = 0; b < BIG_N / 100; b++)
		append(p, b * 100, 100, 1000 + (uint64_t)b * 10);
	assert_true(p->nsegs >= 4);
	return p;
}

/* Offsets, timestamps, across segments; every result checked. */
static void lookups(struct vb_part *p)
{
	uint64_t off;

	/* A full read from the start, 700 at a time (spans cross segments). */
	for (uint64_t at = 0; at < BIG_N; at += 700)
		assert_int_equal(read_check(p, at, 700),
				 at + 700 <= BIG_N ? 700 : BIG_N - at);
	/* Single messages scattered over every segment and chunk. */
	for (uint64_t at = 3; at < BIG_N; at += 977)
		assert_int_equal(read_check(p, at, 1), 1);
	for (uint64_t at = BIG_N - 1; at > 1500; at -= 1499)
		assert_int_equal(read_check(p, at, 2), at + 1 < BIG_N ? 2 : 1);
	/* By timestamp: the first of each batch, exact or between. */
	for (int b = 0; b < BIG_N / 100; b += 7) {
		assert_int_equal(vb_part_find_ts(p, 1000 + (uint64_t)b * 10,
						 &off),
				 0);
		assert_int_equal(off, (uint64_t)b * 100);
		assert_int_equal(vb_part_find_ts(p, 995 + (uint64_t)b * 10,
						 &off),
				 0);
		assert_int_equal(off, (uint64_t)b * 100);
	}
	assert_int_equal(vb_part_find_ts(p, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(vb_part_find_ts(p, 1000 + BIG_N / 10, &off), -1);
}

static void test_index_on_demand(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512];
	uint64_t loads;

	f->st.open_max = 2;
	f->st.index_cache = 3 * sizeof(struct vb_idx_chunk);
	p = big_part(f, dir, sizeof(dir));
	lookups(p);
	/* Bounded: two closed segments open, three chunks cached. */
	assert_true(f->st.nopen <= 2);
	assert_true(f->st.cache_bytes <= f->st.index_cache);
	assert_true(f->st.seg_opens > 2); /* reopened after eviction */
	/* Evicted chunks are read again, and the answers are the same. */
	loads = f->st.idx_loads;
	lookups(p);
	assert_true(f->st.idx_loads > loads);
	assert_int_equal(f->notices, 0);
	vb_part_free(p);
	assert_int_equal(f->st.nopen, 0);
	assert_int_equal(f->st.cache_bytes, 0);

	/* A clean start reads no index chunk and opens no closed segment. */
	f->st.clean = 1;
	loads = f->st.idx_loads;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(f->st.idx_loads, loads);
	assert_int_equal(f->st.nopen, 0);
	assert_int_equal(p->next, BIG_N);
	assert_int_equal(p->last_ts, 1000 + (BIG_N / 100 - 1) * 10);
	lookups(p);
	/* Appends after the restart, read back through the cache. */
	append(p, BIG_N, 50, 1000 + BIG_N / 10);
	assert_int_equal(read_check(p, BIG_N - 10, 100), 60);
	/* Deleting segments whose files are open and chunks cached. */
	assert_int_equal(read_check(p, 0, 10), 10);
	assert_int_equal(vb_part_delete_segments(p, 2, &e), 0);
	assert_true(vb_part_first(p) > 0);
	assert_int_equal(read_check(p, 0, 100), 100);
	assert_true(f->st.nopen <= 2);
	vb_part_free(p);

	/* The default limits, the same answers. */
	f->st.open_max = 0;
	f->st.index_cache = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(read_check(p, 0, 100), 100);
	vb_part_free(p);
}

/*
 * A settled segment whose log replies still hold (queued, not yet sent)
 * is not closed by the LRU: closing it freed no descriptor, and the next
 * read of it opened the file again, a second descriptor (the loop opened
 * thousands of files a second when readers went over many segments).
 */
static void test_held_files_stay_open(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_span sp[64], again[64];
	struct vb_file *held[64];
	uint32_t n;
	uint64_t last, opens;
	size_t nsp, nagain;
	char dir[512];

	f->st.open_max = 2;
	p = big_part(f, dir, sizeof(dir));
	nsp = vb_part_read(p, 0, 700, UINT64_MAX, sp, 64, &n, &last);
	assert_int_equal(n, 700);
	assert_true(nsp >= 1);
	for (size_t i = 0; i < nsp; i++)
		held[i] = vb_file_ref(sp[i].f); /* as a queued reply does */
	/* Reads of three other sealed segments: over the bound of two. */
	assert_int_equal(read_check(p, 3000, 100), 100);
	assert_int_equal(read_check(p, 5500, 100), 100);
	assert_int_equal(read_check(p, 8000, 100), 100);
	/* The held segment was kept: read again, it is not opened again. */
	opens = f->st.seg_opens;
	nagain = vb_part_read(p, 0, 700, UINT64_MAX, again, 64, &n, &last);
	assert_int_equal(n, 700);
	assert_int_equal(nagain, nsp);
	assert_int_equal(f->st.seg_opens, opens);
	for (size_t i = 0; i < nsp; i++)
		assert_ptr_equal(again[i].f, held[i]);
	assert_int_equal(read_check(p, 0, 700), 700);
	/* Once the replies are sent, the bound holds again. */
	for (size_t i = 0; i < nsp; i++)
		vb_file_unref(held[i]);
	assert_int_equal(read_check(p, 3000, 100), 100);
	assert_int_equal(read_check(p, 5500, 100), 100);
	assert_true(f->st.nopen <= 2);
	assert_int_equal(f->notices, 0);
	vb_part_free(p);
}

/* Path of the index (ext "index") or log of the segment starting at start. */
static void seg_file(const char *dir, uint64_t start, const char *ext,
		     char *buf, size_t n)
{
	snprintf(buf, n, "%s/%020" PRIu64 ".%s", dir, start, ext);
}

static void poke(const char *path, off_t at, const void *b, size_t n)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, at), (ssize_t)n);
	close(fd);
}

static void test_index_damaged(void **state)
{
	struct fx *f = *state;
	struct vb_part *p;
	struct vb_err e;
	char dir[512], path[600];
	uint64_t s1, s2, off;
	uint8_t junk[16];

	f->st.open_max = 2;
	f->st.index_cache = 3 * sizeof(struct vb_idx_chunk);
	p = big_part(f, dir, sizeof(dir));
	s1 = p->segs[1]->start;
	s2 = p->segs[2]->start;
	vb_part_free(p);

	/* A damaged entry in the middle of a closed segment's index. */
	memset(junk, 0x5a, sizeof(junk));
	seg_file(dir, s1, "index", path, sizeof(path));
	poke(path, 1500 * 16, junk, sizeof(junk));
	f->st.clean = 1;
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(f->notices, 0); /* not read at start */
	assert_int_equal(read_check(p, s1 + 1400, 200), 200);
	assert_int_equal(f->notices, 2); /* damaged; rebuilt */
	assert_non_null(strstr(f->last_notice, "index rebuilt"));
	lookups(p);
	vb_part_free(p);
	f->notices = 0;
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	lookups(p);
	assert_int_equal(f->notices, 0); /* the file was fixed */
	vb_part_free(p);

	/* Index and log damaged: refused, never served, the rest is. */
	seg_file(dir, s2, "index", path, sizeof(path));
	poke(path, 100 * 16, junk, sizeof(junk));
	seg_file(dir, s2, "log", path, sizeof(path));
	poke(path, 100, junk, sizeof(junk));
	assert_int_equal(vb_part_open(&p, &f->st, dir, 0, 1, 0, &e), 0);
	assert_int_equal(read_check(p, s2 - 5, 10), 5); /* up to the gap */
	assert_non_null(strstr(f->last_notice, "refused"));
	assert_true(p->segs[2]->damaged);
	{
		struct vb_span sp[4];
		uint32_t n;
		uint64_t last, s3 = p->segs[3]->start;

		/* From inside it: the next segment's messages. */
		assert_int_equal(vb_part_read(p, s2 + 3, 10, UINT64_MAX, sp, 4,
					      &n, &last),
				 1);
		assert_int_equal(n, 10);
		assert_int_equal(last, s3 + 9);
		assert_int_equal(read_check(p, s3, 10), 10);
	}
	assert_int_equal(read_check(p, 0, 100), 100);
	/* By time: the refused segment is passed over. */
	assert_int_equal(vb_part_find_ts(p, 1000 + (s2 / 100 + 1) * 10, &off),
			 0);
	assert_true(off >= p->segs[3]->start);
	vb_part_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read_reopen, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_stamped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_index_mismatch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_gap_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_delete_trim, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_publishes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_commit_failure_undoes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_background_fsync_failure,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_on_demand, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_held_files_stay_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_damaged, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
