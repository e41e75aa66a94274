/*
 * fuzz_recovery.c - libFuzzer target for the store's recovery: a partition
 * directory built from the input (damaged segment logs and indexes, an
 * offsets file) is opened as the server opens it after a crash.
 *
 * Input: one flags byte, then for each segment (1 to 4) a header of three
 * u16 LE (start gap: its start offset is the previous one's plus this;
 * log length; index length), then the bytes of log 0, index 0, log 1, ...
 * and, with the offsets flag, the offsets file (the rest).  Flags:
 *   bit 0  the shutdown was clean (the last index is trusted too)
 *   bit 1  fix up each log first: every whole frame gets the offset and
 *          timestamp recovery expects and a matching checksum, so that the
 *          fuzzer reaches valid messages and the damage that follows them
 *   bit 2  rebuild each index from the (fixed up) log before writing it
 *   bit 3  an offsets file follows
 *   bit 4-5 segments - 1
 *
 * Whatever the bytes: vb_part_open must succeed (damage is cut off, never
 * a reason not to start); every segment must hold a sane index (offsets
 * in sequence, positions increasing by at least a header, the last one at
 * the end of its log file); every message recovery checked one by one
 * (the last segment, and any segment whose index disagreed with its log)
 * must be whole, in sequence and checksummed, as a reader must find it
 * (vb_wire_msg_verify); stored offsets must not pass the end; and the
 * partition must take an append afterwards and give it back.  Sealed
 * segments whose index agrees with their log are trusted without reading
 * them (store.h), so for them only the structure is checked.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/seg.h"
#include "wire/wire.h"
#include "base/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define F_CLEAN 1
#define F_FIXUP 2
#define F_INDEX 4
#define F_OFFSETS 8

static char dir[4096];

static void die(const char *what, const char *more)
{
	fprintf(stderr, "fuzz_recovery: %s%s%s\n", what, more ? ": " : "",
		more ? more : "");
	abort();
}

static void clear_dir(void);

static void remove_dir(void)
{
	clear_dir();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("TMPDIR");

	/* In memory when it can: a disk would make each input 100x slower. */
	if ((t == NULL || *t == 0) && access("/dev/shm", W_OK) == 0)
		t = "/dev/shm";
	snprintf(dir, sizeof(dir), "%s/vibes-fuzz-recovery.XXXXXX",
		 t && *t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", dir);
	atexit(remove_dir);
	return 0;
}

/* Empties the scratch partition directory. */
static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4200];

	if (d == NULL)
		die("opendir", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

static void put(const char *name, const uint8_t *p, size_t n)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (f == NULL || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die("cannot write", path);
}

/*
 * Gives every whole frame of log the offset and timestamp recovery
 * expects and a right checksum; appends its index entry to idx.
 */
static void fixup(uint8_t *log, size_t n, uint64_t start, int fix,
		  struct vb_buf *idx)
{
	size_t pos = 0;
	uint32_t i = 0;

	while (n - pos >= VB_MSG_HDR) {
		uint8_t *h = log + pos;
		uint64_t sz;

		if (vb_ld32(h + VB_MSG_PAYLOAD_LEN) > VB_PAYLOAD_MAX ||
		    vb_ld32(h + VB_MSG_UHDR_LEN) > VB_UHDR_MAX)
			break;
		sz = vb_msg_frame_size(h);
		if (sz > n - pos)
			break;
		if (fix) {
			vb_st64(h + VB_MSG_OFFSET, start + i);
			vb_st64(h + VB_MSG_TIMESTAMP, 1000 + i);
			vb_st64(h + VB_MSG_RESERVED, 0);
			vb_st64(h + VB_MSG_CHECKSUM,
				vb_wire_msg_checksum(h, (size_t)sz));
		}
		pos += (size_t)sz;
		vb_buf_u32(idx, i);
		vb_buf_u32(idx, (uint32_t)pos);
		vb_buf_u64(idx, vb_ld64(h + VB_MSG_TIMESTAMP));
		i++;
	}
}

/* The checks of the header comment, for one segment. */
static void check_seg(struct vb_seg *s, int last, int clean)
{
	struct stat st;
	uint64_t prev = 0;
	uint8_t *buf;

	s->fault = 0;
	if (vb_seg_use(s) < 0 || fstat(s->log->fd, &st) < 0 ||
	    (uint64_t)st.st_size != s->size)
		die("a segment's size is not its log file's", NULL);
	for (uint32_t i = 0; i < s->count; i++) {
		uint32_t pos = vb_seg_pos(s, i);

		/*
		 * Reading an entry checks its chunk: offsets in sequence.  A
		 * trusted index found damaged there is rebuilt from the log,
		 * or the segment is refused (never served): both are sane.
		 */
		if (s->damaged)
			return;
		if (s->fault || pos < prev + VB_MSG_HDR)
			die("bad index entry", NULL);
		prev = pos;
	}
	if (prev != s->size)
		die("the index does not end with the log", NULL);
	if (!s->verified && last && !clean)
		die("the last segment was not checked", NULL);
	if (!s->verified)
		return;
	buf = malloc(s->size ? s->size : 1);
	if (buf == NULL ||
	    pread(s->log->fd, buf, s->size, 0) != (ssize_t)s->size)
		die("cannot read a log back", NULL);
	prev = 0;
	for (uint32_t i = 0; i < s->count; i++) {
		struct vb_msg m;
		struct vb_err e;
		uint32_t pos = vb_seg_pos(s, i);

		if (vb_wire_msg_parse(&m, buf + prev, pos - prev, &e) < 0)
			die("a kept message does not parse", e.msg);
		if (m.size != pos - prev || m.offset != s->start + i ||
		    m.timestamp != vb_seg_ts(s, i))
			die("a kept message disagrees with its index", NULL);
		if (vb_wire_msg_verify(&m, &e) < 0)
			die("a kept message is corrupt", e.msg);
		prev = pos;
	}
	free(buf);
}

/* Appends two messages, commits, reads everything the partition has. */
static void check_append(struct vb_part *p)
{
	uint8_t frames[2 * (VB_MSG_HDR + 3)];
	struct vb_span sp[64];
	struct vb_err e;
	uint64_t before = p->next, last;
	uint32_t n;
	size_t nsp;

	memset(frames, 0, sizeof(frames));
	for (int i = 0; i < 2; i++) {
		uint8_t *h = frames + i * (VB_MSG_HDR + 3);

		vb_st32(h + VB_MSG_PAYLOAD_LEN, 3);
		memcpy(h + VB_MSG_HDR, "abc", 3);
	}
	if (vb_part_append(p, frames, sizeof(frames), 2, 5000, &e) < 0)
		die("an append after recovery failed", e.msg);
	if (vb_store_commit(p->st) || vb_store_commit_done(p->st))
		die("a commit after recovery failed", p->cerr.msg);
	vb_store_commit_end(p->st);
	if (p->next != before + 2 || vb_part_end(p) != p->next)
		die("the append is not where it belongs", NULL);
	/* Reads skip a refused segment but never span the gap it leaves. */
	for (uint64_t at = 0, got = 0, refused = 0;;) {
		nsp = vb_part_read(p, at, UINT32_MAX, UINT64_MAX, sp, 64, &n,
				   &last);
		got += n;
		if (nsp == 64)
			break;
		if (n == 0 || last == p->next - 1) {
			for (size_t i = 0; i < p->nsegs; i++)
				if (p->segs[i]->damaged)
					refused += p->segs[i]->count;
			if (got + refused != p->msgs)
				die("a read misses messages", NULL);
			if (last != p->next - 1)
				die("a read does not end at the last message",
				    NULL);
			break;
		}
		at = last + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_syncer sync;
	struct vb_store st;
	struct vb_part *p;
	struct vb_err e;
	struct vb_buf idx = VB_BUF_INIT;
	uint8_t flags;
	size_t at, nsegs;
	uint64_t start = 0;
	struct {
		uint64_t start;
		size_t log, idx;
	} seg[4];

	if (size < 1)
		return 0;
	flags = data[0];
	nsegs = (size_t)(flags >> 4 & 3) + 1;
	at = 1;
	for (size_t i = 0; i < nsegs; i++) {
		if (size - at < 6)
			return 0;
		start += vb_ld16(data + at);
		seg[i].start = start;
		seg[i].log = vb_ld16(data + at + 2);
		seg[i].idx = vb_ld16(data + at + 4);
		at += 6;
	}
	clear_dir();
	for (size_t i = 0; i < nsegs; i++) {
		size_t ln = seg[i].log < size - at ? seg[i].log : size - at;
		size_t in;
		uint8_t *log = malloc(ln ? ln : 1);
		char name[64];

		if (log == NULL)
			abort();
		memcpy(log, data + at, ln);
		at += ln;
		in = seg[i].idx < size - at ? seg[i].idx : size - at;
		vb_buf_reset(&idx);
		fixup(log, ln, seg[i].start, flags & F_FIXUP, &idx);
		snprintf(name, sizeof(name), "%020llu.log",
			 (unsigned long long)seg[i].start);
		put(name, log, ln);
		snprintf(name, sizeof(name), "%020llu.index",
			 (unsigned long long)seg[i].start);
		if (flags & F_INDEX)
			put(name, idx.p, idx.len);
		else
			put(name, data + at, in);
		at += in;
		free(log);
	}
	if (flags & F_OFFSETS)
		put("offsets", data + at, size - at);
	vb_buf_release(&idx);

	vb_syncer_init(&sync, VB_FSYNC_NEVER, 0);
	memset(&st, 0, sizeof(st));
	st.sync = &sync;
	st.segment_size = 4096;
	st.clean = flags & F_CLEAN;
	if (vb_part_open(&p, &st, dir, 0, 0, 0, &e) < 0)
		die("recovery failed", e.msg);
	for (size_t i = 0; i < p->nsegs; i++) {
		if (i && p->segs[i]->start <
				 p->segs[i - 1]->start + p->segs[i - 1]->count)
			die("segments overlap", NULL);
		check_seg(p->segs[i], i + 1 == p->nsegs, st.clean);
	}
	if (p->next != p->segs[p->nsegs - 1]->start +
			       p->segs[p->nsegs - 1]->count ||
	    vb_part_end(p) != p->next)
		die("the partition's end is not its last segment's", NULL);
	for (size_t i = 0; i < p->noffs; i++)
		if (p->offs[i].offset > vb_part_current(p))
			die("a stored offset past the end", NULL);
	check_append(p);
	vb_part_free(p);
	vb_syncer_release(&sync);
	vb_store_release(&st);
	return 0;
}
