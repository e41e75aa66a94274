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

static struct vb_seg *seg_new(struct vb_store *st, const char *dir,
			      uint64_t start)
{
	struct vb_seg *s = vb_xcalloc(1, sizeof(*s));

	s->st = st;
	s->dir = dir;
	s->start = start;
	s->idx_fd = -1;
	s->rfd = -1;
	return s;
}

/* ---- the LRUs ---- */

static unsigned open_max(const struct vb_store *st)
{
	return st->open_max ? st->open_max : VB_OPEN_SEGS_DEFAULT;
}

static uint64_t cache_max(const struct vb_store *st)
{
	return st->index_cache ? st->index_cache : VB_INDEX_CACHE_DEFAULT;
}

static void ch_unlink(struct vb_store *st, struct vb_idx_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		st->ch_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		st->ch_tail = c->prev;
	c->prev = c->next = NULL;
}

static void ch_push(struct vb_store *st, struct vb_idx_chunk *c)
{
	c->prev = NULL;
	c->next = st->ch_head;
	if (st->ch_head)
		st->ch_head->prev = c;
	st->ch_head = c;
	if (st->ch_tail == NULL)
		st->ch_tail = c;
}

static void ch_free(struct vb_store *st, struct vb_idx_chunk *c)
{
	ch_unlink(st, c);
	c->seg->chunks[c->no] = NULL;
	st->cache_bytes -= sizeof(*c);
	free(c);
}

/* Drops the cached chunks of s from number `from` on. */
static void seg_drop_chunks(struct vb_seg *s, uint32_t from)
{
	for (uint32_t i = from; i < s->nchunks; i++)
		if (s->chunks[i])
			ch_free(s->st, s->chunks[i]);
}

static void op_unlink(struct vb_store *st, struct vb_seg *s)
{
	if (!s->in_open)
		return;
	if (s->oprev)
		s->oprev->onext = s->onext;
	else
		st->open_head = s->onext;
	if (s->onext)
		s->onext->oprev = s->oprev;
	else
		st->open_tail = s->oprev;
	s->oprev = s->onext = NULL;
	s->in_open = 0;
	st->nopen--;
}

static void op_push(struct vb_store *st, struct vb_seg *s)
{
	s->oprev = NULL;
	s->onext = st->open_head;
	if (st->open_head)
		st->open_head->oprev = s;
	st->open_head = s;
	if (st->open_tail == NULL)
		st->open_tail = s;
	s->in_open = 1;
	st->nopen++;
}

/* Closes a settled segment's files (replies keep their references). */
static void seg_close_files(struct vb_seg *s)
{
	op_unlink(s->st, s);
	vb_file_unref(s->log);
	s->log = NULL;
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
}

/*
 * May the LRU close it?  Not while the current read uses it, nor while a
 * failed sync of it is to be made good.  (A settled segment was synced by
 * the commit point that settled it, which took it off the syncer's list.)
 * Nor while replies still to be sent hold its log: closing it would free
 * no descriptor, and the next read of it would open the file again, a
 * second descriptor for it.  Clients reading many small segments behind
 * a slow disk (power-loss seed 5218: producers checking what they sent,
 * 4 KiB segments on lossyfs) had the loop opening thousands of files a
 * second, each read of a range reopening what the last one had closed,
 * and every other client waiting behind it.
 */
static int closable(const struct vb_seg *s)
{
	if (s->pin && s->pin == s->st->read_gen)
		return 0;
	if (s->log && atomic_load(&s->log->refs) > 1)
		return 0;
	return s->log == NULL || !atomic_load(&s->log->sync_err);
}

void vb_store_trim(struct vb_store *st)
{
	struct vb_seg *s = st->open_tail;

	/* The most recently used (the one being opened) always stays. */
	while (st->nopen > open_max(st) && s && s != st->open_head) {
		struct vb_seg *prev = s->oprev;

		if (closable(s))
			seg_close_files(s);
		s = prev;
	}
	while (st->cache_bytes > cache_max(st) && st->ch_tail &&
	       st->ch_tail != st->ch_head)
		ch_free(st, st->ch_tail);
}

int vb_seg_use(struct vb_seg *s)
{
	struct vb_store *st = s->st;
	struct vb_buf path = VB_BUF_INIT;
	int fd;

	s->pin = st->read_gen;
	if (s->idx_fd >= 0)
		return 0; /* not settled: always open */
	if (s->log && (s->rfd >= 0 || s->idx)) {
		op_unlink(st, s);
		op_push(st, s);
		return 0;
	}
	if (s->log == NULL) {
		fd = open(seg_path(&path, s->dir, s->start, "log"),
			  O_RDWR | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		s->log = vb_file_new(fd);
		atomic_store(&s->log->written, s->size);
		atomic_store(&s->log->synced, s->size);
	}
	if (s->rfd < 0 && s->idx == NULL) {
		s->rfd = open(seg_path(&path, s->dir, s->start, "index"),
			      O_RDONLY | O_CLOEXEC);
		if (s->rfd < 0)
			goto fail;
	}
	st->seg_opens++;
	op_unlink(st, s);
	op_push(st, s);
	vb_store_trim(st);
	vb_buf_release(&path);
	return 0;
fail:
	vb_store_notice(st, "%s: cannot open: %s", (char *)path.p,
			strerror(errno));
	vb_buf_release(&path);
	s->fault = 1;
	return -1;
}

int vb_seg_create(struct vb_seg **sp, struct vb_store *st, const char *dir,
		  uint64_t start, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	struct vb_seg *s = seg_new(st, dir, start);
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

/* ---- checking and scanning ---- */

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
 * Checks the stored 0.9 record at h as msg_check does a message: whole,
 * its first offset `off`, reserved bytes 0, every frame's lengths, offset
 * delta (its index: the store keeps them so) and reserved field, the
 * frames tiling it, then every frame's checksum and the record's (which
 * covers its header's stamped fields), as a send's are checked.  NULL if good, else why not; *rsz and *k
 * are its size and frames.
 */
static const char *rec_check(const uint8_t *h, uint64_t avail, uint64_t off,
			     uint64_t *rsz, uint32_t *k)
{
	uint64_t len, at = VB_BATCH_HDR;
	struct vb_err e;
	uint32_t n;

	if (avail < VB_BATCH_HDR)
		return "partial record header";
	for (size_t i = VB_BATCH_RESERVED; i < VB_BATCH_HDR; i++)
		if (h[i])
			return "record's reserved bytes not 0";
	if (vb_ld64(h + VB_BATCH_BASE_OFFSET) != off)
		return "record offset out of sequence";
	len = vb_ld64(h + VB_BATCH_LENGTH);
	n = vb_ld32(h + VB_BATCH_COUNT);
	if (n == 0 || len < VB_BATCH_HDR + (uint64_t)n * VB_FRAME_HDR)
		return "impossible record lengths";
	if (len > avail)
		return "partial record";
	for (uint32_t j = 0; j < n; j++) {
		const uint8_t *f = h + at;
		uint64_t fsz;

		if (len - at < VB_FRAME_HDR)
			return "frame past its record";
		if (vb_ld32(f + VB_FRAME_PAYLOAD_LEN) > VB_PAYLOAD_MAX ||
		    vb_ld32(f + VB_FRAME_UHDR_LEN) > VB_UHDR_MAX)
			return "impossible frame lengths";
		fsz = vb_frame_size(f);
		if (fsz > len - at)
			return "frame past its record";
		if (vb_ld64(f + VB_FRAME_RESERVED) != 0)
			return "frame's reserved field not 0";
		if (vb_ld32(f + VB_FRAME_OFFSET_DELTA) != j)
			return "frame offset out of sequence";
		at += fsz;
	}
	if (at != len)
		return "frames do not fill their record";
	if (vb_wire_batch_verify(h, h + len, &e) < 0)
		return e.status == VB_ST_INVALID_MESSAGE_CHECKSUM ?
			       "frame checksum mismatch" :
			       "record checksum mismatch";
	*rsz = len;
	*k = n;
	return NULL;
}

/*
 * What is stored at h (avail bytes on), the next message's offset off: a
 * 0.8 message (*k = 1, *fl = 0) or a 0.9 record (*k frames, *fl its
 * bits, VB_ENT_V09 | VB_ENT_HEAD), *sz bytes.  When neither checks out,
 * why not as the one its first offset says it would be.
 */
static const char *item_check(const uint8_t *h, uint64_t avail, uint64_t off,
			      uint64_t *sz, uint32_t *k, uint32_t *fl)
{
	const char *why = msg_check(h, avail, off, sz), *why9;

	*k = 1;
	*fl = 0;
	if (why == NULL)
		return NULL;
	why9 = rec_check(h, avail, off, sz, k);
	if (why9 == NULL)
		*fl = VB_ENT_V09 | VB_ENT_HEAD;
	else if (avail >= 16 && vb_ld64(h + VB_BATCH_BASE_OFFSET) == off)
		why = why9;
	return why9 ? why : NULL;
}

/* The smallest stored size of a message with these bits. */
static uint64_t ent_min(uint32_t fl)
{
	return (fl & VB_ENT_HEAD) ? VB_BATCH_HDR + VB_FRAME_HDR :
	       (fl & VB_ENT_V09)  ? VB_FRAME_HDR :
				    VB_MSG_HDR;
}

/*
 * Bits fl may follow prev's (first: the segment's first message): a 0.8
 * message, a record's first frame, or another frame of the record before.
 */
static int ent_flags_ok(uint32_t fl, uint32_t prev, int first)
{
	if (fl == 0 || fl == (VB_ENT_V09 | VB_ENT_HEAD))
		return 1;
	return fl == VB_ENT_V09 && !first && (prev & VB_ENT_V09);
}

/* What a scan does with the entries it makes. */
struct scan_out {
	int cmp_fd;    /* >= 0: compare with this index file */
	uint64_t oldn; /* its size */
	int differs;   /* found a difference */
	uint32_t nb;   /* entries in buf */
	uint8_t buf[VB_IDX_CHUNK * 16];
	uint8_t old[VB_IDX_CHUNK * 16];
};

static void scan_cmp(struct scan_out *o, uint32_t upto)
{
	uint64_t at = ((uint64_t)upto - o->nb) * 16, len = (uint64_t)o->nb * 16;

	if (!o->differs &&
	    (at + len > o->oldn ||
	     pread(o->cmp_fd, o->old, len, (off_t)at) != (ssize_t)len ||
	     memcmp(o->old, o->buf, len) != 0))
		o->differs = 1;
	o->nb = 0;
}

/*
 * Walks the log from byte 0, keeping every message that is whole, has sane
 * lengths, the expected offset and a matching checksum.  Returns the number
 * of good bytes and sets s->count and s->last_ts.  The index it makes goes
 * to s->idx, or with o only compared with o->cmp_fd (o->differs).
 */
static uint64_t scan_log(struct vb_seg *s, const uint8_t *m, uint64_t size,
			 struct scan_out *o, const char **why)
{
	uint64_t pos = 0, prev_ts = 0;

	s->count = 0;
	*why = NULL;
	while (pos < size) {
		const uint8_t *h = m + pos;
		uint64_t isz = 0, ts, at;
		uint32_t k, fl;

		*why = item_check(h, size - pos, s->start + s->count, &isz, &k,
				  &fl);
		if (*why)
			break;
		if (pos + isz > VB_SEG_HARD_MAX) {
			*why = "segment too large";
			break;
		}
		/* Reads by time search the index: it never goes back. */
		ts = vb_ld64(h + (fl ? VB_BATCH_BASE_TS : VB_MSG_TIMESTAMP));
		if (s->count && ts < prev_ts) {
			*why = "timestamp before the previous message's";
			break;
		}
		/* one entry a message: a record's frames end where they do */
		at = fl ? VB_BATCH_HDR : 0;
		for (uint32_t j = 0; j < k; j++) {
			uint8_t *ent;

			if (o) {
				ent = o->buf + (size_t)o->nb++ * 16;
			} else {
				idx_grow(s, 1);
				ent = s->idx + (size_t)s->count * 16;
			}
			at += fl ? vb_frame_size(h + at) : isz;
			vb_st32(ent, s->count | (j ? VB_ENT_V09 : fl));
			vb_st32(ent + 4, (uint32_t)(pos + at));
			vb_st64(ent + 8, ts);
			s->count++;
			if (o && o->nb == VB_IDX_CHUNK)
				scan_cmp(o, s->count);
		}
		prev_ts = ts;
		pos += isz;
	}
	if (o && o->nb)
		scan_cmp(o, s->count);
	if (o && (uint64_t)s->count * 16 != o->oldn)
		o->differs = 1;
	s->last_ts = s->count ? prev_ts : 0;
	return pos;
}

/*
 * Writes s->idx (the whole index, rebuilt) to fd, cut to its size; frees
 * it when that worked.  0 or -1 (errno).
 */
static int idx_write_out(struct vb_seg *s, int fd)
{
	if (ftruncate(fd, 0) < 0 ||
	    (s->count &&
	     vb_pwrite_all(fd, s->idx, (size_t)s->count * 16, 0) < 0) ||
	    (s->st->sync->mode != VB_FSYNC_NEVER && fsync(fd) < 0))
		return -1;
	free(s->idx);
	s->idx = NULL;
	s->idx_cap = 0;
	return 0;
}

/*
 * Scans the whole log (s->log open): in a first pass only compared with
 * the index on disk, so that a good index costs no memory; when they
 * differ, a second pass rebuilds it in memory to be written out.  The log
 * is cut after its last good message.  pb: the caller's buffer for names.
 */
static int seg_verify(struct vb_seg *s, struct vb_store *st, uint64_t logsize,
		      uint64_t oldn, struct vb_buf *pb, struct vb_err *e)
{
	const char *path = seg_path(pb, s->dir, s->start, "log");
	struct scan_out *o = vb_xcalloc(1, sizeof(*o));
	const char *why, *why2;
	uint8_t *m = NULL;
	uint64_t good;
	int differs;

	if (logsize > 0) {
		m = mmap(NULL, logsize, PROT_READ, MAP_PRIVATE, s->log->fd, 0);
		if (m == MAP_FAILED) {
			free(o);
			return vb_err_sys(e, VB_E_IO, "cannot map %s", path);
		}
	}
	o->cmp_fd = s->idx_fd;
	o->oldn = oldn;
	good = scan_log(s, m, logsize, o, &why);
	differs = o->differs;
	free(o);
	if (differs) /* up to where the first stopped: why stays its */
		scan_log(s, m, good, NULL, &why2);
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
	if (!differs)
		return 0;
	path = seg_path(pb, s->dir, s->start, "index");
	if (oldn > 0 || s->count > 0)
		vb_store_notice(st, "%s: index rebuilt (%u entries)", path,
				s->count);
	/*
	 * The index in memory is right; one left stale on disk (a full disk)
	 * disagrees with the log, so the next start rebuilds it again.
	 */
	if (idx_write_out(s, s->idx_fd) < 0)
		vb_store_notice(st,
				"%s: cannot rewrite it (%s); kept in "
				"memory",
				path, strerror(errno));
	return 0;
}

/*
 * The last entry of an index of isize bytes agrees with a log of logsize
 * bytes: sets s->count and s->last_ts.  Only that entry is read.
 */
static int idx_tail_ok(struct vb_seg *s, int fd, uint64_t isize,
		       uint64_t logsize)
{
	uint8_t ent[16];
	uint64_t n = isize / 16;

	if (isize % 16 || n > UINT32_MAX)
		return 0;
	s->count = (uint32_t)n;
	s->last_ts = 0;
	if (n == 0)
		return logsize == 0;
	if (pread(fd, ent, 16, (off_t)(isize - 16)) != 16)
		return 0;
	if ((vb_ld32(ent) & VB_ENT_REL) != n - 1 ||
	    vb_ld32(ent + 4) != logsize || logsize < n * VB_FRAME_HDR)
		return 0;
	s->last_ts = vb_ld64(ent + 8);
	return 1;
}

/*
 * The whole index agrees with the log (the last segment, whose index is
 * written to at once: checked at start as it always was), read a chunk at
 * a time so that it costs no memory.  Sets s->count and s->last_ts.
 */
static int idx_all_ok(struct vb_seg *s, int fd, uint64_t isize,
		      uint64_t logsize)
{
	uint8_t *buf;
	uint64_t prev = 0, prev_ts = 0;
	uint32_t pfl = 0;
	int ok = 1;

	if (!idx_tail_ok(s, fd, isize, logsize))
		return 0;
	buf = vb_xmalloc(VB_IDX_CHUNK * 16);
	for (uint32_t base = 0; ok && base < s->count; base += VB_IDX_CHUNK) {
		uint32_t n = s->count - base < VB_IDX_CHUNK ? s->count - base :
							      VB_IDX_CHUNK;

		if (pread(fd, buf, (size_t)n * 16, (off_t)base * 16) !=
		    (ssize_t)n * 16) {
			ok = 0;
			break;
		}
		for (uint32_t j = 0; j < n; j++) {
			const uint8_t *x = buf + (size_t)j * 16;
			uint64_t pos = vb_ld32(x + 4), ts = vb_ld64(x + 8);
			uint32_t fl = vb_ld32(x) & ~VB_ENT_REL;

			if ((vb_ld32(x) & VB_ENT_REL) != base + j ||
			    !ent_flags_ok(fl, pfl, !base && !j) ||
			    pos < prev + ent_min(fl) ||
			    ((base || j) && ts < prev_ts)) {
				ok = 0;
				break;
			}
			prev = pos;
			prev_ts = ts;
			pfl = fl;
		}
	}
	free(buf);
	return ok && prev == logsize;
}

int vb_seg_load(struct vb_seg **sp, struct vb_store *st, const char *dir,
		uint64_t start, int sealed, int verify, struct vb_err *e)
{
	struct vb_buf pb = VB_BUF_INIT;
	struct vb_seg *s = seg_new(st, dir, start);
	struct stat lst, ist;
	const char *path;
	int fd;

	if (sealed && !verify) {
		/* Trusted if it looks right: files closed, index unread. */
		path = seg_path(&pb, dir, start, "log");
		if (stat(path, &lst) == 0) {
			path = seg_path(&pb, dir, start, "index");
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &ist) == 0 &&
			    idx_tail_ok(s, fd, (uint64_t)ist.st_size,
					(uint64_t)lst.st_size)) {
				close(fd);
				s->size = (uint64_t)lst.st_size;
				s->sealed = 1;
				goto done;
			}
			if (fd >= 0)
				close(fd);
		}
	}
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
	s->size = (uint64_t)lst.st_size;
	if (!verify &&
	    idx_all_ok(s, s->idx_fd, (uint64_t)ist.st_size, s->size)) {
		goto done;
	}
	s->verified = 1;
	if (seg_verify(s, st, (uint64_t)lst.st_size, (uint64_t)ist.st_size, &pb,
		       e) < 0)
		goto fail;
done:
	vb_buf_release(&pb);
	*sp = s;
	return 0;
fail:
	vb_buf_release(&pb);
	vb_seg_free(s);
	return -1;
}

/* ---- index lookups ---- */

static const uint8_t zero_ent[16];

/* Why the n entries of chunk c (from entry base) are wrong, or NULL. */
static const char *chunk_check(const struct vb_seg *s, const uint8_t *ent,
			       uint32_t base, uint32_t n)
{
	uint64_t prev = 0, prev_ts = 0;
	uint32_t pfl = VB_ENT_V09; /* a chunk may begin inside a record */

	for (uint32_t j = 0; j < n; j++) {
		const uint8_t *x = ent + (size_t)j * 16;
		uint64_t pos = vb_ld32(x + 4), ts = vb_ld64(x + 8);
		uint32_t fl = vb_ld32(x) & ~VB_ENT_REL;

		if ((vb_ld32(x) & VB_ENT_REL) != base + j)
			return "offset out of sequence";
		if (!ent_flags_ok(fl, pfl, !base && !j))
			return "impossible kind of message";
		if (pos > s->size ||
		    pos < ((uint64_t)base + j + 1) * VB_FRAME_HDR ||
		    (j && pos < prev + ent_min(fl)))
			return "position out of range";
		pfl = fl;
		if ((j && ts < prev_ts) || (s->last_ts && ts > s->last_ts))
			return "timestamp out of order";
		prev = pos;
		prev_ts = ts;
	}
	if (base + n == s->count && n && prev != s->size)
		return "last position is not the log's size";
	return NULL;
}

/*
 * A settled segment's index failed its check: rebuilt from the log when
 * that scans clean to its end with as many messages, else the segment is
 * refused for good.  0 when the index is good again.
 */
static int seg_rebuild(struct vb_seg *s, const char *why)
{
	struct vb_store *st = s->st;
	struct vb_buf pb = VB_BUF_INIT, ib = VB_BUF_INIT;
	uint32_t count = s->count;
	uint64_t last_ts = s->last_ts;
	const char *bad = NULL;
	struct stat lst;
	uint8_t *m = NULL;
	uint64_t good;
	int fd;

	seg_path(&ib, s->dir, s->start, "index");
	vb_store_notice(st,
			"%s: damaged index (%s): rebuilding it from the "
			"log",
			(char *)ib.p, why);
	seg_drop_chunks(s, 0);
	/* Never map past the end of the file: that would be SIGBUS. */
	if (fstat(s->log->fd, &lst) < 0 || (uint64_t)lst.st_size != s->size) {
		bad = "the log is not the size it had";
		goto refuse;
	}
	if (s->size > 0) {
		m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->log->fd, 0);
		if (m == MAP_FAILED) {
			bad = strerror(errno);
			goto refuse;
		}
	}
	good = scan_log(s, m, s->size, NULL, &bad);
	if (m)
		munmap(m, s->size);
	if (good != s->size || s->count != count) {
		if (bad == NULL)
			bad = "its message count differs";
		s->count = count;
		goto refuse;
	}
	fd = open((char *)ib.p, O_RDWR | O_CLOEXEC);
	if (fd < 0 || idx_write_out(s, fd) < 0)
		vb_store_notice(st,
				"%s: cannot rewrite it (%s); kept in "
				"memory",
				(char *)ib.p, strerror(errno));
	else
		vb_store_notice(st, "%s: index rebuilt (%u entries)",
				(char *)ib.p, s->count);
	if (fd >= 0)
		close(fd);
	/* The old file was cut and written again: same inode, read on. */
	vb_buf_release(&pb);
	vb_buf_release(&ib);
	return 0;
refuse:
	free(s->idx);
	s->idx = NULL;
	s->idx_cap = 0;
	s->last_ts = last_ts;
	s->damaged = 1;
	vb_store_notice(st,
			"%s: the log does not scan clean either (%s): "
			"segment %" PRIu64 " refused, its %u messages are not "
			"served",
			seg_path(&pb, s->dir, s->start, "log"), bad, s->start,
			count);
	vb_buf_release(&pb);
	vb_buf_release(&ib);
	return -1;
}

/* Reads chunk no of s into the cache; NULL on failure (a notice). */
static struct vb_idx_chunk *chunk_load(struct vb_seg *s, uint32_t no)
{
	struct vb_store *st = s->st;
	uint32_t base = no * VB_IDX_CHUNK;
	uint32_t n = s->count - base < VB_IDX_CHUNK ? s->count - base :
						      VB_IDX_CHUNK;
	struct vb_idx_chunk *c;
	const char *why;
	ssize_t got;
	int fd;

	if (vb_seg_use(s) < 0)
		return NULL;
	fd = s->idx_fd >= 0 ? s->idx_fd : s->rfd;
	c = vb_xmalloc(sizeof(*c));
	c->seg = s;
	c->no = no;
	c->prev = c->next = NULL;
	st->idx_loads++;
	got = pread(fd, c->ent, (size_t)n * 16, (off_t)base * 16);
	if (got != (ssize_t)n * 16)
		why = got < 0 ? strerror(errno) : "short file";
	else
		why = chunk_check(s, c->ent, base, n);
	if (why) {
		free(c);
		if (s->idx_fd < 0 && seg_rebuild(s, why) == 0)
			return NULL; /* the caller looks again */
		if (s->idx_fd >= 0) {
			struct vb_buf pb = VB_BUF_INIT;

			vb_store_notice(st,
					"%s: damaged index (%s) in a "
					"segment being written: not served",
					seg_path(&pb, s->dir, s->start,
						 "index"),
					why);
			vb_buf_release(&pb);
			s->damaged = 1;
		}
		return NULL;
	}
	if (no >= s->nchunks) {
		uint32_t want = no + 1 > s->nchunks * 2 ? no + 1 :
							  s->nchunks * 2;

		s->chunks = vb_xreallocarray(s->chunks, want,
					     sizeof(*s->chunks));
		memset(s->chunks + s->nchunks, 0,
		       (want - s->nchunks) * sizeof(*s->chunks));
		s->nchunks = want;
	}
	/* Room first: the chunk returned is never the one dropped. */
	while (st->cache_bytes + sizeof(*c) > cache_max(st) && st->ch_tail)
		ch_free(st, st->ch_tail);
	s->chunks[no] = c;
	st->cache_bytes += sizeof(*c);
	ch_push(st, c);
	return c;
}

static const uint8_t *seg_ent(struct vb_seg *s, uint32_t i)
{
	struct vb_idx_chunk *c = NULL;
	uint32_t no = i / VB_IDX_CHUNK;

	for (int tries = 0; tries < 2; tries++) {
		if (s->idx)
			return s->idx + (size_t)i * 16;
		if (s->damaged || i >= s->count)
			break;
		if (no < s->nchunks && (c = s->chunks[no]) != NULL) {
			if (s->st->ch_head != c) {
				ch_unlink(s->st, c);
				ch_push(s->st, c);
			}
			return c->ent + (size_t)(i % VB_IDX_CHUNK) * 16;
		}
		c = chunk_load(s, no);
		if (c)
			return c->ent + (size_t)(i % VB_IDX_CHUNK) * 16;
		if (s->damaged || s->fault)
			break;
		/* Rebuilt: look again. */
	}
	s->fault = 1;
	return zero_ent;
}

uint32_t vb_seg_pos(struct vb_seg *s, uint32_t i)
{
	return vb_ld32(seg_ent(s, i) + 4);
}

uint64_t vb_seg_ts(struct vb_seg *s, uint32_t i)
{
	return vb_ld64(seg_ent(s, i) + 8);
}

uint32_t vb_seg_flags(struct vb_seg *s, uint32_t i)
{
	return vb_ld32(seg_ent(s, i)) & ~VB_ENT_REL;
}

uint64_t vb_span_len08(const struct vb_span *sp)
{
	/* each record's header gone, each frame's header 16 bytes longer */
	return sp->v09 ? sp->len - (uint64_t)sp->heads * VB_BATCH_HDR +
				 (uint64_t)sp->n * (VB_MSG_HDR - VB_FRAME_HDR) :
			 sp->len;
}

int vb_span_ents(const struct vb_span *sp, uint64_t *end, uint32_t *fl)
{
	struct vb_seg *s = sp->seg;

	s->fault = 0;
	for (uint32_t i = 0; i < sp->n; i++) {
		const uint8_t *x = seg_ent(s, sp->rel + i);

		end[i] = vb_ld32(x + 4);
		fl[i] = vb_ld32(x) & ~VB_ENT_REL;
	}
	return s->fault ? -1 : 0;
}

/* The first message of the record holding message i (a 0.9 frame). */
static uint32_t rec_head(struct vb_seg *s, uint32_t i)
{
	while (i > 0 && !(vb_seg_flags(s, i) & VB_ENT_HEAD) && !s->fault)
		i--;
	return i;
}

int vb_span_rec_hdr(const struct vb_span *sp, uint8_t *hdr, uint64_t *pos,
		    uint64_t *first, struct vb_err *e)
{
	struct vb_seg *s = sp->seg;
	uint32_t h;

	s->fault = 0;
	h = rec_head(s, sp->rel);
	*pos = h ? vb_seg_pos(s, h - 1) : 0;
	*first = s->start + h;
	if (s->fault || !(vb_seg_flags(s, h) & VB_ENT_HEAD))
		return vb_err_set(e, VB_E_IO,
				  "segment %" PRIu64 ": cannot read its index",
				  s->start);
	if (vb_pread_all(sp->f->fd, hdr, VB_BATCH_HDR, (off_t)*pos) < 0)
		return vb_err_sys(e, VB_E_IO, "cannot read segment %" PRIu64,
				  s->start);
	return 0;
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
	if (s->idx) {
		idx_grow(s, n);
		memcpy(s->idx + (size_t)s->count * 16, entries, (size_t)n * 16);
	} else {
		/* Write-through: a cached chunk holds every entry below count. */
		for (uint32_t j = 0; j < n;) {
			uint32_t i = s->count + j, no = i / VB_IDX_CHUNK;
			uint32_t in = VB_IDX_CHUNK - i % VB_IDX_CHUNK;

			if (in > n - j)
				in = n - j;
			if (no < s->nchunks && s->chunks[no])
				memcpy(s->chunks[no]->ent +
					       (size_t)(i % VB_IDX_CHUNK) * 16,
				       entries + (size_t)j * 16,
				       (size_t)in * 16);
			j += in;
		}
	}
	if (n)
		s->last_ts = vb_ld64(entries + (size_t)(n - 1) * 16 + 8);
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
	/* Its log stays open, now as one of the LRU's. */
	op_push(s->st, s);
	vb_store_trim(s->st);
	return 0;
}

int vb_seg_truncate(struct vb_seg *s, uint32_t count, struct vb_err *e)
{
	uint64_t size = 0, ts = 0;

	if (count >= s->count)
		return 0;
	/*
	 * Never inside a record (its header would count frames no longer
	 * there): the callers cut where appends or records begin anyway.
	 */
	s->fault = 0;
	if (vb_seg_flags(s, count) == VB_ENT_V09)
		count = rec_head(s, count);
	if (count) {
		size = vb_seg_pos(s, count - 1);
		ts = vb_seg_ts(s, count - 1);
		if (s->fault)
			return vb_err_set(e, VB_E_IO,
					  "segment %" PRIu64 ": "
					  "cannot read its index",
					  s->start);
	}
	s->count = count;
	s->size = size;
	s->last_ts = ts;
	if (ftruncate(s->log->fd, (off_t)s->size) < 0 ||
	    (s->idx_fd >= 0 && ftruncate(s->idx_fd, (off_t)count * 16) < 0))
		return vb_err_sys(e, VB_E_IO,
				  "cannot truncate segment %" PRIu64, s->start);
	return 0;
}

/* Writes index entries i .. i + k - 1 again (from the cache or memory). */
static int idx_rewrite(struct vb_seg *s, uint32_t i, uint32_t k)
{
	for (uint32_t j = 0; j < k; j++)
		if (vb_pwrite_all(s->idx_fd, seg_ent(s, i + j), 16,
				  (off_t)(i + j) * 16) < 0)
			return -1;
	return 0;
}

/* First message ending past byte `at` (s->count if none). */
static uint32_t seg_msg_after(struct vb_seg *s, uint64_t at)
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
	uint32_t i;
	int rc = -1;

	s->fault = 0;
	/* from the start of the message or record that was not synced */
	i = seg_msg_after(s, atomic_load(&s->log->synced));
	if (i < s->count && (vb_seg_flags(s, i) & VB_ENT_V09))
		i = rec_head(s, i);
	for (uint32_t k = 1; i < s->count && !s->fault; i += k) {
		uint64_t from = i ? vb_seg_pos(s, i - 1) : 0, isz = 0, len;
		uint32_t rk = 0, fl;
		const char *why;
		ssize_t n;

		/* a record is checked whole: its frames' entries follow */
		k = 1;
		while (i + k < s->count && vb_seg_flags(s, i + k) == VB_ENT_V09)
			k++;
		len = vb_seg_pos(s, i + k - 1) - from;
		vb_buf_reset(&m);
		vb_buf_reserve(&m, (size_t)len);
		n = pread(s->log->fd, m.p, (size_t)len, (off_t)from);
		if (n < 0) {
			vb_err_sys(e, VB_E_IO, "cannot read segment %" PRIu64,
				   s->start);
			goto out;
		}
		why = item_check(m.p, (uint64_t)n, s->start + i, &isz, &rk,
				 &fl);
		if (why == NULL &&
		    (isz != len || rk != k || fl != vb_seg_flags(s, i)))
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
		    (s->idx_fd >= 0 && idx_rewrite(s, i, k) < 0)) {
			vb_err_sys(e, VB_E_IO,
				   "cannot rewrite segment %" PRIu64, s->start);
			goto out;
		}
	}
	if (s->fault) {
		vb_err_set(e, VB_E_IO,
			   "segment %" PRIu64 ": cannot read its "
			   "index",
			   s->start);
		goto out;
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
	seg_drop_chunks(s, 0);
	op_unlink(s->st, s);
	if (s->log)
		vb_file_unref(s->log);
	if (s->idx_fd >= 0)
		close(s->idx_fd);
	if (s->rfd >= 0)
		close(s->rfd);
	free(s->chunks);
	free(s->idx);
	free(s);
}

void vb_seg_destroy(struct vb_seg *s, const char *dir)
{
	struct vb_buf path = VB_BUF_INIT;

	unlink(seg_path(&path, dir, s->start, "log"));
	unlink(seg_path(&path, dir, s->start, "index"));
	/* one an earlier version kept beside it */
	unlink(seg_path(&path, dir, s->start, "f09"));
	vb_buf_release(&path);
	vb_seg_free(s);
}
