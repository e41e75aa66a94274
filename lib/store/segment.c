/*
 * Segment files: create, load with verification and repair, append, seal,
 * and the undo and resync of what a failed commit or fsync left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/seg.h"
#include "wire/wire.h"
#include "base/banned.h"

/* DIR/START.EXT, START in 20 digits so that names sort by offset. */
static const char *seg_path(struct vb_buf *out, const char *dir, uint64_t start,
			    const char *ext)
{
	return vb_path_fmt(out, "%s/%020" PRIu64 ".%s", dir, start, ext);
}

/* Room for `more` index entries (16 bytes each) past the last one. */
static void idx_grow(struct vb_seg *s, uint32_t more)
{
	VB_ALLOC_GROW_FROM(s->idx, ((size_t)s->count + more) * 16, s->idx_cap,
			   4096);
}

static struct vb_seg *seg_new(uint64_t start)
{
	struct vb_seg *s = vb_xcalloc(1, sizeof(*s));

	s->start = start;
	s->idx_fd = -1;
	return s;
}

int vb_seg_create(struct vb_seg **sp, struct vb_store *st, const char *dir,
		  uint64_t start, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	struct vb_seg *s = seg_new(start);
	int fd;

	fd = open(seg_path(&path, dir, start, "log"),
		  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot create %s", (char *)path.p);
		goto fail;
	}
	s->log = vb_file_new(fd);
	s->idx_fd = open(seg_path(&path, dir, start, "index"),
			 O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->idx_fd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot create %s", (char *)path.p);
		goto fail;
	}
	vb_buf_release(&path);
	*sp = s;
	return 0;
fail:
	vb_buf_release(&path);
	vb_seg_free(s);
	return -1;
}

/* The index agrees with a log of logsize bytes. */
static int idx_consistent(const struct vb_seg *s, uint64_t logsize)
{
	uint64_t prev = 0;

	for (uint32_t i = 0; i < s->count; i++) {
		const uint8_t *ent = s->idx + (size_t)i * 16;
		uint32_t pos = vb_ld32(ent + 4);

		if (vb_ld32(ent) != i || pos < prev + VB_MSG_HDR)
			return 0;
		prev = pos;
	}
	return prev == logsize;
}

/*
 * Checks the stored message at h (avail bytes from there on): whole, sane
 * lengths, offset `off`, the reserved field 0 (as this server stamps it),
 * matching checksum.  NULL if good, else why not; *msz is its size once
 * the header could be read.
 */
static const char *msg_check(const uint8_t *h, uint64_t avail, uint64_t off,
			     uint64_t *msz)
{
	if (avail < VB_MSG_HDR)
		return "partial message header";
	if (vb_ld32(h + VB_MSG_PAYLOAD_LEN) > VB_PAYLOAD_MAX ||
	    vb_ld32(h + VB_MSG_UHDR_LEN) > VB_UHDR_MAX)
		return "impossible message lengths";
	if (vb_ld64(h + VB_MSG_RESERVED) != 0)
		return "reserved field not 0";
	*msz = vb_msg_frame_size(h);
	if (*msz > avail)
		return "partial message";
	if (vb_ld64(h + VB_MSG_OFFSET) != off)
		return "offset out of sequence";
	if (vb_ld64(h + VB_MSG_CHECKSUM) !=
	    vb_wire_msg_checksum(h, (size_t)*msz))
		return "checksum mismatch";
	return NULL;
}

/*
 * Walks the log from byte 0, keeping every message that is whole, has sane
 * lengths, the expected offset and a matching checksum.  Returns the number
 * of good bytes; the index is rebuilt in s->idx.
 */
static uint64_t scan_log(struct vb_seg *s, const uint8_t *m, uint64_t size,
			 const char **why)
{
	uint64_t pos = 0;

	s->count = 0;
	*why = NULL;
	while (pos < size) {
		uint64_t msz = 0;
		uint8_t *ent;

		*why = msg_check(m + pos, size - pos, s->start + s->count,
				 &msz);
		if (*why)
			break;
		if (pos + msz > VB_SEG_HARD_MAX) {
			*why = "segment too large";
			break;
		}
		/* Reads by time search the index: it never goes back. */
		if (s->count && vb_ld64(m + pos + VB_MSG_TIMESTAMP) <
					vb_seg_ts(s, s->count - 1)) {
			*why = "timestamp before the previous message's";
			break;
		}
		idx_grow(s, 1);
		ent = s->idx + (size_t)s->count * 16;
		vb_st32(ent, s->count);
		vb_st32(ent + 4, (uint32_t)(pos + msz));
		vb_st64(ent + 8, vb_ld64(m + pos + VB_MSG_TIMESTAMP));
		s->count++;
		pos += msz;
	}
	return pos;
}

/* pb: the caller's buffer for the file names. */
static int seg_verify(struct vb_seg *s, struct vb_store *st, const char *dir,
		      uint64_t logsize, uint8_t *old, size_t oldn,
		      struct vb_buf *pb, struct vb_err *e)
{
	const char *path = seg_path(pb, dir, s->start, "log");
	const char *why;
	uint8_t *m = NULL;
	uint64_t good;

	if (logsize > 0) {
		m = mmap(NULL, logsize, PROT_READ, MAP_PRIVATE, s->log->fd, 0);
		if (m == MAP_FAILED)
			return vb_err_sys(e, VB_E_IO, "cannot map %s", path);
	}
	good = scan_log(s, m, logsize, &why);
	if (m)
		munmap(m, logsize);
	if (good < logsize) {
		vb_store_notice(st,
				"%s: truncated at byte %" PRIu64 " after "
				"%u messages (%" PRIu64 " bytes dropped): %s",
				path, good, s->count, logsize - good, why);
		if (ftruncate(s->log->fd, (off_t)good) < 0)
			return vb_err_sys(e, VB_E_IO, "cannot truncate %s",
					  path);
		if (st->sync->mode != VB_FSYNC_NEVER && fsync(s->log->fd) < 0)
			return vb_err_sys(e, VB_E_IO, "cannot fsync %s", path);
	}
	s->size = good;
	if (oldn == (size_t)s->count * 16 &&
	    (oldn == 0 || memcmp(old, s->idx, oldn) == 0))
		return 0;
	path = seg_path(pb, dir, s->start, "index");
	if (oldn > 0 || s->count > 0)
		vb_store_notice(st, "%s: index rebuilt (%u entries)", path,
				s->count);
	/*
	 * The index in memory is right; one left stale on disk (a full disk)
	 * disagrees with the log, so the next start rebuilds it again.
	 */
	if (ftruncate(s->idx_fd, 0) < 0 ||
	    (s->count &&
	     vb_pwrite_all(s->idx_fd, s->idx, (size_t)s->count * 16, 0) < 0) ||
	    (st->sync->mode != VB_FSYNC_NEVER && fsync(s->idx_fd) < 0))
		vb_store_notice(st,
				"%s: cannot rewrite it (%s); kept in "
				"memory",
				path, strerror(errno));
	return 0;
}

int vb_seg_load(struct vb_seg **sp, struct vb_store *st, const char *dir,
		uint64_t start, int verify, struct vb_err *e)
{
	struct vb_buf pb = VB_BUF_INIT;
	struct vb_seg *s = seg_new(start);
	struct stat lst, ist;
	const char *path;
	uint8_t *old = NULL;
	size_t oldn;
	int fd;

	path = seg_path(&pb, dir, start, "log");
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot open %s", path);
		goto fail;
	}
	s->log = vb_file_new(fd);
	path = seg_path(&pb, dir, start, "index");
	s->idx_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->idx_fd < 0 || fstat(s->log->fd, &lst) < 0 ||
	    fstat(s->idx_fd, &ist) < 0) {
		vb_err_sys(e, VB_E_IO, "cannot open %s", path);
		goto fail;
	}
	oldn = (size_t)(ist.st_size / 16) * 16;
	if (oldn / 16 > UINT32_MAX) {
		vb_err_set(e, VB_E_IO, "%s: too large", path);
		goto fail;
	}
	s->count = (uint32_t)(oldn / 16);
	idx_grow(s, 0);
	if (oldn && pread(s->idx_fd, s->idx, oldn, 0) != (ssize_t)oldn) {
		vb_err_sys(e, VB_E_IO, "cannot read %s", path);
		goto fail;
	}
	s->size = (uint64_t)lst.st_size;
	if (!verify && idx_consistent(s, s->size) &&
	    oldn == (size_t)ist.st_size)
		goto done;
	s->verified = 1;
	old = vb_xmalloc(oldn);
	if (oldn)
		memcpy(old, s->idx, oldn);
	if (seg_verify(s, st, dir, (uint64_t)lst.st_size, old, oldn, &pb, e) <
	    0) {
		free(old);
		goto fail;
	}
	free(old);
done:
	vb_buf_release(&pb);
	*sp = s;
	return 0;
fail:
	vb_buf_release(&pb);
	vb_seg_free(s);
	return -1;
}

/* Best effort: the error being reported is the write that failed. */
static void undo(int fd, uint64_t len)
{
	if (ftruncate(fd, (off_t)len) < 0)
		return;
}

/*
 * Recovery keeps the log up to its first message that is not whole, in
 * sequence and checksummed.  Until the batch's first message is written,
 * the bytes where it goes are a hole (zeros) that fails those checks, so
 * a process killed inside either write leaves nothing of the batch: not
 * the messages a short write got out (a fatal signal can cut a large
 * write of a regular file short), and not the rest without the first.
 */
int vb_seg_append(struct vb_seg *s, const uint8_t *frames, size_t len,
		  size_t first, const uint8_t *entries, uint32_t n,
		  struct vb_err *e)
{
	if ((len > first &&
	     vb_pwrite_all(s->log->fd, frames + first, len - first,
			   (off_t)(s->size + first)) < 0) ||
	    vb_pwrite_all(s->log->fd, frames, first, (off_t)s->size) < 0) {
		vb_err_sys(e, VB_E_IO, "cannot write segment %" PRIu64,
			   s->start);
		undo(s->log->fd, s->size);
		return -1;
	}
	if (vb_pwrite_all(s->idx_fd, entries, (size_t)n * 16,
			  (off_t)s->count * 16) < 0) {
		vb_err_sys(e, VB_E_IO, "cannot write index of segment %" PRIu64,
			   s->start);
		undo(s->log->fd, s->size);
		undo(s->idx_fd, (uint64_t)s->count * 16);
		return -1;
	}
	idx_grow(s, n);
	memcpy(s->idx + (size_t)s->count * 16, entries, (size_t)n * 16);
	s->count += n;
	s->size += len;
	return 0;
}

int vb_seg_settle(struct vb_seg *s, int sync, struct vb_err *e)
{
	if (s->idx_fd < 0)
		return 0;
	if (sync && (fdatasync(s->log->fd) < 0 || fdatasync(s->idx_fd) < 0))
		return vb_err_sys(e, VB_E_IO, "cannot sync segment %" PRIu64,
				  s->start);
	close(s->idx_fd);
	s->idx_fd = -1;
	return 0;
}

int vb_seg_truncate(struct vb_seg *s, uint32_t count, struct vb_err *e)
{
	if (count >= s->count)
		return 0;
	s->count = count;
	s->size = count ? vb_seg_pos(s, count - 1) : 0;
	if (ftruncate(s->log->fd, (off_t)s->size) < 0 ||
	    (s->idx_fd >= 0 && ftruncate(s->idx_fd, (off_t)count * 16) < 0))
		return vb_err_sys(e, VB_E_IO,
				  "cannot truncate segment %" PRIu64, s->start);
	return 0;
}

/* First message ending past byte `at` (s->count if none). */
static uint32_t seg_msg_after(const struct vb_seg *s, uint64_t at)
{
	uint32_t lo = 0, hi = s->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vb_seg_pos(s, mid) <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Linux marks the pages of a failed writeback clean and reports the error
 * once, so an fsync retried on the same file succeeds without writing
 * them.  They are read back here (from the cache, or from the disk if the
 * cache let them go) and written again; a message that no longer checks
 * out is not served.
 */
int vb_seg_resync(struct vb_seg *s, struct vb_store *st, const char *dir,
		  struct vb_err *e)
{
	struct vb_buf m = VB_BUF_INIT, pb = VB_BUF_INIT;
	uint32_t i = seg_msg_after(s, atomic_load(&s->log->synced));
	int rc = -1;

	for (; i < s->count; i++) {
		uint64_t from = i ? vb_seg_pos(s, i - 1) : 0, msz = 0;
		uint64_t len = vb_seg_pos(s, i) - from;
		const char *why;
		ssize_t n;

		vb_buf_reset(&m);
		vb_buf_reserve(&m, (size_t)len);
		n = pread(s->log->fd, m.p, (size_t)len, (off_t)from);
		if (n < 0) {
			vb_err_sys(e, VB_E_IO, "cannot read segment %" PRIu64,
				   s->start);
			goto out;
		}
		why = msg_check(m.p, (uint64_t)n, s->start + i, &msz);
		if (why == NULL && msz != len)
			why = "size differs from the index";
		if (why) {
			vb_store_notice(st,
					"%s: message %" PRIu64 " lost by "
					"the disk (%s): %u message(s) dropped "
					"from there on",
					seg_path(&pb, dir, s->start, "log"),
					s->start + i, why, s->count - i);
			if (vb_seg_truncate(s, i, e) < 0)
				goto out;
			break;
		}
		if (vb_pwrite_all(s->log->fd, m.p, (size_t)len, (off_t)from) <
			    0 ||
		    (s->idx_fd >= 0 &&
		     vb_pwrite_all(s->idx_fd, s->idx + (size_t)i * 16, 16,
				   (off_t)i * 16) < 0)) {
			vb_err_sys(e, VB_E_IO,
				   "cannot rewrite segment %" PRIu64, s->start);
			goto out;
		}
	}
	if (fdatasync(s->log->fd) < 0 ||
	    (s->idx_fd >= 0 && fdatasync(s->idx_fd) < 0)) {
		vb_err_sys(e, VB_E_IO, "cannot sync segment %" PRIu64,
			   s->start);
		goto out;
	}
	atomic_store(&s->log->synced, s->size);
	atomic_store(&s->log->sync_err, 0);
	rc = 0;
out:
	vb_buf_release(&m);
	vb_buf_release(&pb);
	return rc;
}

void vb_seg_free(struct vb_seg *s)
{
	if (s == NULL)
		return;
	vb_file_unref(s->log);
	if (s->idx_fd >= 0)
		close(s->idx_fd);
	free(s->idx);
	free(s);
}

void vb_seg_destroy(struct vb_seg *s, const char *dir)
{
	struct vb_buf path = VB_BUF_INIT;

	unlink(seg_path(&path, dir, s->start, "log"));
	unlink(seg_path(&path, dir, s->start, "index"));
	vb_buf_release(&path);
	vb_seg_free(s);
}
