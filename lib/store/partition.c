/*
 * Partitions: a list of segments, appends, reads, stored offsets,
 * retention, and the commit point that makes their changes durable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/seg.h"
#include "wire/wire.h"
#include "base/banned.h"

#define OFFREC 13 /* u8 kind, u32 key, u64 offset */

static void segs_push(struct vb_part *p, struct vb_seg *s)
{
	VB_ALLOC_GROW(p->segs, p->nsegs + 1, p->segs_cap);
	p->segs[p->nsegs++] = s;
}

static struct vb_seg *active(const struct vb_part *p)
{
	return p->segs[p->nsegs - 1];
}

static void list_add(struct vb_part ***v, size_t *n, size_t *cap,
		     struct vb_part *p)
{
	VB_ALLOC_GROW(*v, *n + 1, *cap);
	(*v)[(*n)++] = p;
}

static void list_del(struct vb_part **v, size_t *n, struct vb_part *p)
{
	for (size_t i = 0; i < *n; i++) {
		if (v[i] == p) {
			memmove(v + i, v + i + 1, (*n - i - 1) * sizeof(*v));
			(*n)--;
			return;
		}
	}
}

/* Something changed that the next commit point must see to. */
static void part_pend(struct vb_part *p)
{
	struct vb_store *st = p->st;

	if (p->pending)
		return;
	list_add(&st->pending, &st->npending, &st->pending_cap, p);
	p->pending = 1;
}

/* Publishes what the partition holds now: readers see it all. */
static void part_publish(struct vb_part *p)
{
	struct vb_seg *s = active(p);

	p->mark.next = p->next;
	p->mark.last_ts = p->last_ts;
	p->mark.seg_start = s->start;
	p->mark.count = s->count;
	p->mark.size = s->size;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Start offsets of the segments in dir, sorted. */
static int list_segments(const char *dir, uint64_t **out, size_t *n,
			 struct vb_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return vb_err_sys(e, VB_E_IO, "cannot read %s", dir);
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;
		uint64_t v = 0;
		size_t i;

		if (strlen(s) != 24 || strcmp(s + 20, ".log") != 0)
			continue;
		for (i = 0; i < 20 && s[i] >= '0' && s[i] <= '9'; i++)
			v = v * 10 + (uint64_t)(s[i] - '0');
		if (i != 20)
			continue;
		VB_ALLOC_GROW(*out, *n + 1, cap);
		(*out)[(*n)++] = v;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_u64);
	return 0;
}

/*
 * Files a crash left half done: an offsets file being written to replace
 * the offsets file (offsets.tmp.PID of vb_path_replace, offsets.new.N of
 * interval mode), never renamed.  What they held was not acknowledged as
 * durable; they would only pile up.
 */
static void remove_leftovers(const char *dir)
{
	struct vb_buf path = VB_BUF_INIT;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "offsets.tmp.", 12) == 0 ||
		    strncmp(de->d_name, "offsets.new.", 12) == 0)
			unlink(vb_path_fmt(&path, "%s/%s", dir, de->d_name));
	closedir(d);
	vb_buf_release(&path);
}

static const char *offsets_path(const struct vb_part *p, struct vb_buf *out)
{
	return vb_path_fmt(out, "%s/offsets", p->dir);
}

static int offsets_load(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT;
	uint64_t cur = vb_part_current(p);
	int rc;

	rc = vb_read_file(offsets_path(p, &path), &b, 64u << 20, e);
	vb_buf_release(&path);
	if (rc < 0) {
		vb_buf_release(&b);
		return e->sys == ENOENT ? 0 : -1;
	}
	for (size_t at = 0; at + OFFREC <= b.len; at += OFFREC) {
		struct vb_offset_rec r;

		r.kind = b.p[at];
		r.key = vb_ld32(b.p + at + 1);
		r.offset = vb_ld64(b.p + at + 5);
		if (r.kind != VB_OFF_CONSUMER && r.kind != VB_OFF_GROUP)
			continue;
		/* messages.md §7.5: offsets past the end are clamped. */
		if (r.offset > cur)
			r.offset = cur;
		VB_ALLOC_GROW(p->offs, p->noffs + 1, p->offs_cap);
		p->offs[p->noffs++] = r;
	}
	vb_buf_release(&b);
	return 0;
}

/* The offsets file's bytes for a table. */
static void offsets_image(const struct vb_offset_rec *v, size_t n,
			  struct vb_buf *b)
{
	vb_buf_reset(b);
	vb_buf_reserve(b, 1);
	for (size_t i = 0; i < n; i++) {
		vb_buf_u8(b, v[i].kind);
		vb_buf_u32(b, v[i].key);
		vb_buf_u64(b, v[i].offset);
	}
}

/* The table as last saved, kept before its first change since then. */
static void offsets_keep(struct vb_part *p)
{
	if (p->offs_dirty)
		return;
	free(p->offs_saved);
	p->offs_saved = vb_xreallocarray(NULL, p->noffs ? p->noffs : 1,
					 sizeof(*p->offs_saved));
	if (p->noffs)
		memcpy(p->offs_saved, p->offs, p->noffs * sizeof(*p->offs));
	p->noffs_saved = p->noffs;
	p->offs_dirty = 1;
	part_pend(p);
}

/*
 * Interval mode: the new table goes to a file of its own beside the
 * offsets file (offsets.new.N, N never used twice by this server), which
 * the fsync thread syncs and then renames over it (vb_syncer_save).
 * Replacing the file at once, as the other modes do, made its rename
 * durable with the directory's next fsync (a new segment), perhaps before
 * its data: a power loss then left an empty offsets file where commits
 * acknowledged long before had been synced (tests/stress/power-loss).
 */
static int offsets_save_later(struct vb_part *p, const char *path,
			      const struct vb_buf *b, struct vb_err *e)
{
	struct vb_buf tmp = VB_BUF_INIT;
	int fd, rc = -1;

	vb_path_fmt(&tmp, "%s.new.%" PRIu64, path, ++p->st->saves);
	fd = open((char *)tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot create %s", (char *)tmp.p);
		goto out;
	}
	if (vb_write_all(fd, b->p, b->len) < 0) {
		vb_err_sys(e, VB_E_IO, "cannot write %s", (char *)tmp.p);
		close(fd);
		unlink((char *)tmp.p);
		goto out;
	}
	if (close(fd) < 0) {
		vb_err_sys(e, VB_E_IO, "cannot write %s", (char *)tmp.p);
		unlink((char *)tmp.p);
		goto out;
	}
	vb_syncer_save(p->st->sync, (char *)tmp.p, path);
	rc = 0;
out:
	vb_buf_release(&tmp);
	return rc;
}

/*
 * The commit point's part for the offsets: the file replaced once, however
 * many changes the pass made.  On failure the table goes back to what was
 * saved last; if the file shows the new table all the same (the rename
 * went through, its sync did not), the old one is written again at the
 * next commit point.
 */
static int offsets_commit(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT, now = VB_BUF_INIT;
	struct vb_syncer *sy = p->st->sync;
	struct vb_err tmp;
	int rc;

	offsets_path(p, &path);
	offsets_image(p->offs, p->noffs, &b);
	if (sy->mode == VB_FSYNC_INTERVAL)
		rc = offsets_save_later(p, (char *)path.p, &b, e);
	else
		rc = vb_path_replace((char *)path.p, b.p, b.len, 0600,
				     sy->mode == VB_FSYNC_ALWAYS, e);
	if (rc == 0) {
		free(p->offs_saved);
		p->offs_saved = NULL;
		p->noffs_saved = 0;
		p->offs_dirty = 0;
		goto out;
	}
	VB_ALLOC_GROW(p->offs, p->noffs_saved, p->offs_cap);
	if (p->noffs_saved)
		memcpy(p->offs, p->offs_saved,
		       p->noffs_saved * sizeof(*p->offs));
	p->noffs = p->noffs_saved;
	offsets_image(p->offs, p->noffs, &b);
	if (vb_read_file((char *)path.p, &now, 64u << 20, &tmp) < 0 &&
	    tmp.sys == ENOENT)
		vb_buf_reset(&now);
	p->offs_dirty = now.len != b.len ||
			(b.len && memcmp(now.p, b.p, b.len) != 0);
out:
	vb_buf_release(&path);
	vb_buf_release(&b);
	vb_buf_release(&now);
	return rc;
}

static void part_recount(struct vb_part *p)
{
	struct vb_seg *last = p->segs[p->nsegs - 1];

	p->msgs = p->bytes = p->last_ts = 0;
	for (size_t i = 0; i < p->nsegs; i++) {
		struct vb_seg *s = p->segs[i];

		p->msgs += s->count;
		p->bytes += s->size;
		if (s->count)
			p->last_ts = s->last_ts;
	}
	p->next = last->start + last->count;
}

/*
 * Recovery found a gap: the segment starting at starts[0] comes after
 * messages that are not there (the previous segment ends below it).  A
 * power loss did it: the entry of a new segment reached the disk (with an
 * fsync of the directory, an offsets file's) before the data of the one
 * before.  Nothing after a lost message was acknowledged (a batch is
 * answered once it and all before it are synced), and a partition serves
 * its offsets without holes: the segments from there on are removed, and
 * the one before, the last now, is checked message by message as a last
 * segment is.
 */
static int cut_at_gap(struct vb_part *p, const uint64_t *starts, size_t n,
		      struct vb_err *e)
{
	struct vb_store *st = p->st;
	struct vb_seg *prev = p->segs[p->nsegs - 1], *s;
	struct vb_buf path = VB_BUF_INIT;
	uint64_t start = prev->start;
	int rc = 0;

	vb_store_notice(st,
			"%s: messages %" PRIu64 " to %" PRIu64 " are "
			"missing (lost with the power): the %zu segments from "
			"%" PRIu64 " on are removed",
			p->dir, prev->start + prev->count, starts[0] - 1, n,
			starts[0]);
	for (size_t i = 0; i < n; i++) {
		unlink(vb_path_fmt(&path, "%s/%020" PRIu64 ".log", p->dir,
				   starts[i]));
		unlink(vb_path_fmt(&path, "%s/%020" PRIu64 ".index", p->dir,
				   starts[i]));
	}
	vb_buf_release(&path);
	if (st->sync->mode != VB_FSYNC_NEVER &&
	    vb_path_fsync_dir(p->dir, e) < 0)
		return -1;
	if (!prev->verified) {
		p->nsegs--;
		vb_seg_free(prev);
		rc = vb_seg_load(&s, st, p->dir, start, 0, 1, e);
		if (rc == 0) {
			atomic_store(&s->log->written, s->size);
			atomic_store(&s->log->synced, s->size);
			segs_push(p, s);
		}
	}
	return rc;
}

int vb_part_open(struct vb_part **pp, struct vb_store *st, const char *dir,
		 uint32_t id, uint64_t created_at, int create, struct vb_err *e)
{
	struct vb_part *p = vb_xcalloc(1, sizeof(*p));
	uint64_t *starts = NULL;
	size_t n = 0;
	int sync = st->sync->mode != VB_FSYNC_NEVER;

	p->st = st;
	p->dir = vb_xstrdup(dir);
	p->id = id;
	p->created_at = created_at;
	vb_buf_init(&p->scratch);
	list_add(&st->parts, &st->nparts, &st->parts_cap, p);
	if (create && vb_path_mkdir_p(dir, 0700, e) < 0)
		goto fail;
	if (list_segments(dir, &starts, &n, e) < 0)
		goto fail;
	remove_leftovers(dir);
	for (size_t i = 0; i < n; i++) {
		struct vb_seg *s;
		int last = i + 1 == n;

		if (p->nsegs) {
			struct vb_seg *prev = p->segs[p->nsegs - 1];

			if (starts[i] < prev->start + prev->count) {
				/* Overlap: keep the older data, ignore it. */
				continue;
			}
			if (starts[i] > prev->start + prev->count) {
				if (cut_at_gap(p, starts + i, n - i, e) < 0)
					goto fail;
				break;
			}
			vb_seg_seal(prev);
			if (vb_seg_settle(prev, 0, e) < 0)
				goto fail;
		}
		if (vb_seg_load(&s, st, p->dir, starts[i], !last,
				last && !st->clean, e) < 0)
			goto fail;
		/* Sealed ones were synced when sealed; the last one below. */
		if (s->log) {
			atomic_store(&s->log->written, s->size);
			atomic_store(&s->log->synced, s->size);
		}
		segs_push(p, s);
	}
	free(starts);
	starts = NULL;
	/*
	 * The last file overlapped and was ignored: the one before is the
	 * active segment after all, opened (and checked) as such.
	 */
	if (p->nsegs && active(p)->idx_fd < 0) {
		struct vb_seg *s;

		if (vb_seg_load(&s, st, p->dir, active(p)->start, 0, !st->clean,
				e) < 0)
			goto fail;
		atomic_store(&s->log->written, s->size);
		atomic_store(&s->log->synced, s->size);
		vb_seg_free(active(p));
		p->segs[p->nsegs - 1] = s;
	}
	if (p->nsegs == 0) {
		struct vb_seg *s;

		if (vb_seg_create(&s, st, p->dir, 0, e) < 0)
			goto fail;
		segs_push(p, s);
		if (sync && vb_path_fsync_dir(dir, e) < 0)
			goto fail;
	} else if (sync && !st->clean && fdatasync(active(p)->log->fd) < 0) {
		/* What a killed process left in the page cache, synced. */
		vb_err_sys(e, VB_E_IO, "cannot sync the last segment");
		goto fail;
	}
	part_recount(p);
	part_publish(p);
	if (offsets_load(p, e) < 0)
		goto fail;
	*pp = p;
	return 0;
fail:
	free(starts);
	vb_err_prefix(e, "partition %s", dir);
	vb_part_free(p);
	return -1;
}

void vb_part_free(struct vb_part *p)
{
	struct vb_buf prefix = VB_BUF_INIT;

	if (p == NULL)
		return;
	/* A new partition in the same directory must not get its offsets. */
	vb_syncer_forget(p->st->sync, vb_path_fmt(&prefix, "%s/", p->dir));
	vb_buf_release(&prefix);
	list_del(p->st->parts, &p->st->nparts, p);
	if (p->pending)
		list_del(p->st->pending, &p->st->npending, p);
	if (p->inflight)
		list_del(p->st->inflight, &p->st->ninflight, p);
	for (size_t i = 0; i < p->nsegs; i++)
		vb_seg_free(p->segs[i]);
	free(p->segs);
	free(p->offs);
	free(p->offs_saved);
	free(p->dir);
	vb_buf_release(&p->scratch);
	free(p);
}

int vb_part_destroy(struct vb_part *p, struct vb_err *e)
{
	int rc = vb_rmtree(p->dir, e);

	vb_part_free(p);
	return rc;
}

/*
 * Starts a new segment at p->next and seals the active one; the commit
 * point syncs and settles it, and syncs the directory.
 */
static int roll(struct vb_part *p, struct vb_err *e)
{
	struct vb_seg *s;

	if (vb_seg_create(&s, p->st, p->dir, p->next, e) < 0)
		return -1;
	vb_seg_seal(active(p));
	segs_push(p, s);
	p->dir_dirty = 1;
	p->data_dirty = 1;
	part_pend(p);
	return 0;
}

/*
 * The index entries of a stamped 0.9 record (rec, n frames) stored at pos
 * as segment s's next messages, into ent; its size as its frames say.
 */
static size_t rec_entries(const struct vb_seg *s, const uint8_t *rec,
			  uint32_t n, uint64_t pos, uint8_t *ent, size_t *first)
{
	uint64_t ts = vb_ld64(rec + VB_BATCH_BASE_TS);
	size_t at = VB_BATCH_HDR;

	for (uint32_t i = 0; i < n; i++) {
		at += (size_t)vb_frame_size(rec + at);
		if (i == 0)
			*first = at;
		vb_st32(ent + (size_t)i * 16,
			(s->count + i) |
				(i ? VB_ENT_V09 : VB_ENT_V09 | VB_ENT_HEAD));
		vb_st32(ent + (size_t)i * 16 + 4, (uint32_t)(pos + at));
		vb_st64(ent + (size_t)i * 16 + 8, ts);
	}
	return at;
}

/*
 * The same for n 0.8 frames, stamped here first (offsets from p->next,
 * timestamp ts, ids where 0, checksums) when `stamp` is set, in one pass
 * while each frame is in the cache.
 */
static size_t msg_entries(const struct vb_part *p, const struct vb_seg *s,
			  uint8_t *frames, uint32_t n, uint64_t ts, int stamp,
			  uint64_t pos, uint8_t *ent, size_t *first)
{
	uint8_t rnd[VB_MSG_ID_LEN];
	size_t at = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint8_t *f = frames + at;
		size_t sz = (size_t)vb_msg_frame_size(f);

		if (stamp) {
			/* producers that choose ids (vibes-append does) cost
			 * no random */
			if (vb_wire_msg_id_unset(f))
				arc4random_buf(rnd, sizeof(rnd));
			vb_wire_msg_stamp(f, sz, p->next + i, ts, rnd);
		}
		if (i == 0)
			*first = sz;
		at += sz;
		vb_st32(ent + (size_t)i * 16, s->count + i);
		vb_st32(ent + (size_t)i * 16 + 4, (uint32_t)(pos + at));
		vb_st64(ent + (size_t)i * 16 + 8, ts);
	}
	return at;
}

/*
 * vb_part_append, vb_part_append_stamped when `stamped` is the offset the
 * caller stamped the frames from (UINT64_MAX: not stamped), and with rec
 * vb_part_append_record.
 */
static int part_append(struct vb_part *p, uint8_t *frames, size_t len,
		       uint32_t n, uint64_t ts, uint64_t stamped, int rec,
		       struct vb_err *e)
{
	struct vb_seg *s;
	uint8_t *ent;
	size_t at, first = 0;
	uint64_t pos;

	if (p->failed && vb_part_repair(p, e) < 0)
		return -1;
	s = active(p);
	if (s->count > 0 && (s->size >= p->st->segment_size ||
			     s->size + len > VB_SEG_HARD_MAX)) {
		if (roll(p, e) < 0)
			return -1;
		s = active(p);
	}
	if (len > VB_SEG_HARD_MAX)
		return vb_err_set(e, VB_E_IO, "batch of %zu bytes too large",
				  len);
	/* stamped as they would be (a repair may have moved p->next)? */
	if (stamped != p->next || ts < p->last_ts)
		stamped = UINT64_MAX;
	if (ts < p->last_ts)
		ts = p->last_ts;
	vb_buf_reset(&p->scratch);
	ent = vb_buf_reserve(&p->scratch, (size_t)n * 16);
	pos = s->size;
	if (rec && stamped == UINT64_MAX)
		vb_wire_batch_stamp(frames,
				    vb_ld64(frames + VB_BATCH_PARTITION),
				    p->next, ts);
	at = rec ? rec_entries(s, frames, n, pos, ent, &first) :
		   msg_entries(p, s, frames, n, ts, stamped == UINT64_MAX, pos,
			       ent, &first);
	if (at != len)
		return vb_err_set(e, VB_E_DATA,
				  "batch: frames cover %zu of %zu "
				  "bytes",
				  at, len);
	if (vb_seg_append(s, frames, len, first, ent, n, e) < 0)
		return -1;
	p->next += n;
	p->msgs += n;
	p->bytes += len;
	p->last_ts = ts;
	p->st->written_bytes += len;
	p->data_dirty = 1;
	part_pend(p);
	return 0;
}

int vb_part_append(struct vb_part *p, uint8_t *frames, size_t len, uint32_t n,
		   uint64_t ts, struct vb_err *e)
{
	return part_append(p, frames, len, n, ts, UINT64_MAX, 0, e);
}

int vb_part_append_stamped(struct vb_part *p, uint8_t *frames, size_t len,
			   uint32_t n, uint64_t ts, uint64_t next,
			   struct vb_err *e)
{
	return part_append(p, frames, len, n, ts, next, 0, e);
}

int vb_part_append_record(struct vb_part *p, uint8_t *rec, size_t len,
			  uint32_t n, uint64_t ts, uint64_t next,
			  struct vb_err *e)
{
	if (len < VB_BATCH_HDR || vb_ld32(rec + VB_BATCH_COUNT) != n)
		return vb_err_set(e, VB_E_DATA,
				  "record: %zu bytes, not of %u frames", len,
				  n);
	return part_append(p, rec, len, n, ts, next, 1, e);
}

uint64_t vb_part_first(const struct vb_part *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		if (p->segs[i]->count)
			return p->segs[i]->start;
	return p->next;
}

/* First entry of s with timestamp >= ts (s->count if none). */
static uint32_t seg_lower_ts(struct vb_seg *s, uint64_t ts)
{
	uint32_t lo = 0, hi = s->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vb_seg_ts(s, mid) < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * O(log n): the segments by their last timestamps (in memory), then one
 * binary search in the index of the first that reaches ts.  A segment
 * whose index cannot be read is passed over.
 */
int vb_part_find_ts(struct vb_part *p, uint64_t ts, uint64_t *off)
{
	size_t lo = 0, hi = p->nsegs;

	p->st->read_gen++;
	/* Timestamps never go back: last_ts rises with the segments. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vb_seg *s = p->segs[mid];

		if (s->count == 0 || s->last_ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < p->nsegs; i++) {
		struct vb_seg *s = p->segs[i];
		uint32_t rel;

		if (s->count == 0 || s->last_ts < ts)
			continue;
		s->fault = 0;
		rel = seg_lower_ts(s, ts);
		if (s->fault)
			continue;
		*off = s->start + rel;
		return 0;
	}
	return -1;
}

/* Index of the segment holding offset off (or the next one after it). */
static size_t seg_find(const struct vb_part *p, uint64_t off)
{
	size_t lo = 0, hi = p->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->segs[mid]->start <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/*
 * How messages rel .. rel + *k - 1 of s are stored (1: 0.9 frames): *k
 * cut to those stored like the first, *heads the records beginning there.
 */
static int run_kind(struct vb_seg *s, uint32_t rel, uint32_t *k,
		    uint32_t *heads)
{
	uint32_t fl = vb_seg_flags(s, rel), j = 1;

	*heads = (fl & VB_ENT_HEAD) != 0;
	for (; j < *k; j++) {
		uint32_t f = vb_seg_flags(s, rel + j);

		if ((f & VB_ENT_V09) != (fl & VB_ENT_V09))
			break;
		*heads += (f & VB_ENT_HEAD) != 0;
	}
	*k = j;
	return (fl & VB_ENT_V09) != 0;
}

size_t vb_part_read(struct vb_part *p, uint64_t start, uint32_t count,
		    uint64_t max_bytes, struct vb_span *sp, size_t maxsp,
		    uint32_t *n, uint64_t *last)
{
	uint64_t first = vb_part_first(p), end = vb_part_end(p), bytes = 0;
	size_t nsp = 0;

	*n = 0;
	*last = 0;
	/* What the previous read opened may close now. */
	p->st->read_gen++;
	vb_store_trim(p->st);
	if (start < first)
		start = first;
	if (count == 0 || start >= end)
		return 0;
	if (count > end - start)
		count = (uint32_t)(end - start);
	for (size_t i = seg_find(p, start);
	     i < p->nsegs && count > 0 && nsp < maxsp; i++) {
		struct vb_seg *s = p->segs[i];
		uint32_t rel, k, want, heads;
		uint64_t from, to;
		int kind;

		if (start < s->start)
			start = s->start;
		if (s->count == 0 || start >= s->start + s->count)
			continue;
		/* A refused segment: skipped, but no read spans the gap. */
		if (s->damaged && *n)
			break;
		if (s->damaged)
			continue;
		/* Files closed by the LRU: stop here, the reader comes back. */
		s->fault = 0;
		if (vb_seg_use(s) < 0)
			break;
		rel = (uint32_t)(start - s->start);
		k = s->count - rel < count ? s->count - rel : count;
		from = rel ? vb_seg_pos(s, rel - 1) : 0;
		to = vb_seg_pos(s, rel + k - 1);
		if (bytes + (to - from) > max_bytes) {
			/* Largest k that fits; at least one message overall. */
			uint32_t lo = 0, hi = k;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo + 1) / 2;

				if (bytes + vb_seg_pos(s, rel + mid - 1) -
					    from <=
				    max_bytes)
					lo = mid;
				else
					hi = mid - 1;
			}
			k = lo;
			if (k == 0 && *n == 0)
				k = 1;
			if (k == 0)
				break;
			to = vb_seg_pos(s, rel + k - 1);
			count = k;
		}
		want = k;
		kind = run_kind(s, rel, &k, &heads);
		if (k < want) {
			i--; /* the rest of the segment is stored otherwise */
			to = vb_seg_pos(s, rel + k - 1);
		}
		if (s->fault) {
			if (s->damaged && *n == 0)
				continue; /* refused: skipped */
			break;
		}
		sp[nsp].f = s->log;
		sp[nsp].off = from;
		sp[nsp].len = to - from;
		sp[nsp].seg = s;
		sp[nsp].rel = rel;
		sp[nsp].n = k;
		sp[nsp].v09 = kind;
		sp[nsp].heads = heads;
		nsp++;
		bytes += to - from;
		*n += k;
		*last = start + k - 1;
		count -= k;
		start += k;
		if (bytes >= max_bytes)
			break;
	}
	return nsp;
}

static struct vb_offset_rec *off_find(const struct vb_part *p, uint8_t kind,
				      uint32_t key)
{
	for (size_t i = 0; i < p->noffs; i++)
		if (p->offs[i].kind == kind && p->offs[i].key == key)
			return &p->offs[i];
	return NULL;
}

int vb_part_offset_get(const struct vb_part *p, uint8_t kind, uint32_t key,
		       uint64_t *off)
{
	const struct vb_offset_rec *r = off_find(p, kind, key);

	if (r == NULL)
		return 0;
	*off = r->offset;
	return 1;
}

int vb_part_offset_store(struct vb_part *p, uint8_t kind, uint32_t key,
			 uint64_t off, struct vb_err *e)
{
	struct vb_offset_rec *r = off_find(p, kind, key);

	if (r && r->offset == off)
		return 0;
	offsets_keep(p);
	if (r == NULL) {
		VB_ALLOC_GROW(p->offs, p->noffs + 1, p->offs_cap);
		r = &p->offs[p->noffs++];
		r->kind = kind;
		r->key = key;
	}
	r->offset = off;
	return 0;
}

int vb_part_offset_delete(struct vb_part *p, uint8_t kind, uint32_t key,
			  struct vb_err *e)
{
	struct vb_offset_rec *r = off_find(p, kind, key);

	if (r == NULL)
		return 0;
	offsets_keep(p);
	*r = p->offs[--p->noffs];
	return 1;
}

void vb_part_flush(struct vb_part *p)
{
	p->flush_req = 1;
	part_pend(p);
}

/* Removes segment i from the list and deletes its files. */
static void seg_drop(struct vb_part *p, size_t i)
{
	struct vb_seg *s = p->segs[i];

	p->msgs -= s->count;
	p->bytes -= s->size;
	vb_seg_destroy(s, p->dir);
	memmove(p->segs + i, p->segs + i + 1,
		(p->nsegs - i - 1) * sizeof(*p->segs));
	p->nsegs--;
}

/*
 * Replaces the only segment left by an empty one starting at `start`: the
 * new one is made first, so that a partition never ends up without one.
 */
static int part_restart_at(struct vb_part *p, uint64_t start, struct vb_err *e)
{
	struct vb_seg *s = active(p);

	if (s->start == start) {
		if (vb_seg_truncate(s, 0, e) < 0)
			return -1;
	} else {
		if (vb_seg_create(&s, p->st, p->dir, start, e) < 0)
			return -1;
		seg_drop(p, 0);
		segs_push(p, s);
	}
	atomic_store(&s->log->written, 0);
	atomic_store(&s->log->synced, 0);
	if (p->st->sync->mode != VB_FSYNC_NEVER &&
	    vb_path_fsync_dir(p->dir, e) < 0)
		return -1;
	return 0;
}

int vb_part_purge(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int rc;

	while (p->nsegs > 1)
		seg_drop(p, p->nsegs - 2);
	p->noffs = 0;
	free(p->offs_saved);
	p->offs_saved = NULL;
	p->offs_dirty = 0;
	/* A save under way would bring the old table back. */
	vb_syncer_forget(p->st->sync, offsets_path(p, &path));
	if (unlink(offsets_path(p, &path)) < 0 && errno != ENOENT)
		vb_store_notice(p->st, "%s: cannot remove: %s", (char *)path.p,
				strerror(errno));
	vb_buf_release(&path);
	rc = part_restart_at(p, 0, e);
	part_recount(p);
	part_publish(p);
	return rc;
}

int vb_part_delete_segments(struct vb_part *p, uint32_t n, struct vb_err *e)
{
	int rc = 0;

	while (n-- > 0 && p->nsegs > 1)
		seg_drop(p, 0);
	/* The active segment goes too: start an empty one at the end. */
	if (n != UINT32_MAX)
		rc = part_restart_at(p, p->next, e);
	part_publish(p);
	return rc;
}

uint64_t vb_part_oldest_sealed_ts(const struct vb_part *p)
{
	const struct vb_seg *s = p->segs[0];

	if (p->nsegs < 2 || !s->sealed || s->idx_fd >= 0 || s->count == 0)
		return 0;
	return s->last_ts;
}

int vb_part_trim_oldest(struct vb_part *p, uint64_t now, uint64_t expiry,
			int force, struct vb_err *e)
{
	const struct vb_seg *s = p->segs[0];
	uint64_t end;

	/* Sealed and settled: no commit in flight still syncs it. */
	if (p->nsegs < 2 || !s->sealed || s->idx_fd >= 0)
		return 0;
	if (!force) {
		uint64_t ts = s->count ? s->last_ts : 0;

		if (ts + expiry < ts || ts + expiry > now)
			return 0;
	}
	/* A stored offset below the segment's end protects it (§7.4). */
	end = s->start + (s->count ? s->count - 1 : 0);
	for (size_t i = 0; i < p->noffs; i++)
		if (s->count && p->offs[i].offset < end)
			return 0;
	seg_drop(p, 0);
	return 1;
}

/* fsync of dir/name by name (a file that may have no descriptor open). */
static int sync_named(const char *dir, const char *name, int missing_ok,
		      struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int fd, rc = 0;

	fd = open(vb_path_fmt(&path, "%s/%s", dir, name), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!(missing_ok && errno == ENOENT))
			rc = vb_err_sys(e, VB_E_IO, "cannot open %s",
					(char *)path.p);
	} else {
		if (fsync(fd) < 0 && errno != EINVAL)
			rc = vb_err_sys(e, VB_E_IO, "cannot sync %s",
					(char *)path.p);
		close(fd);
	}
	vb_buf_release(&path);
	return rc;
}

int vb_part_sync(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf name = VB_BUF_INIT;
	int rc = 0;

	/*
	 * Every segment and index, not only the active one: with --fsync
	 * never the sealed ones were never synced either.
	 */
	for (size_t i = 0; i < p->nsegs && rc == 0; i++) {
		struct vb_seg *s = p->segs[i];

		/* files the LRU closed (settled): synced by name */
		if (s->log == NULL) {
			if (sync_named(p->dir,
				       vb_path_fmt(&name, "%020" PRIu64 ".log",
						   s->start),
				       0, e) < 0 ||
			    sync_named(p->dir,
				       vb_path_fmt(&name,
						   "%020" PRIu64 ".index",
						   s->start),
				       0, e) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if ((vb_syncer_fdatasync(p->st->sync, s->log->fd) < 0 &&
		     errno != EINVAL) ||
		    (s->idx_fd >= 0 &&
		     vb_syncer_fdatasync(p->st->sync, s->idx_fd) < 0 &&
		     errno != EINVAL)) {
			rc = vb_err_sys(e, VB_E_IO,
					"cannot sync segment %" PRIu64 " of %s",
					s->start, p->dir);
			break;
		}
		if (s->idx_fd < 0 &&
		    sync_named(p->dir,
			       vb_path_fmt(&name, "%020" PRIu64 ".index",
					   s->start),
			       0, e) < 0) {
			rc = -1;
			break;
		}
		atomic_store(&s->log->synced, s->size);
	}
	if (rc == 0 && (sync_named(p->dir, "offsets", 1, e) < 0 ||
			vb_path_fsync_dir(p->dir, e) < 0))
		rc = -1;
	vb_buf_release(&name);
	return rc;
}

/* ---- failures ---- */

/* Takes back every message appended since the mark. */
static void part_undo(struct vb_part *p)
{
	struct vb_err e;
	struct vb_seg *s;

	p->undone = (uint32_t)(p->next - p->mark.next);
	while (p->nsegs > 1 && active(p)->start != p->mark.seg_start)
		seg_drop(p, p->nsegs - 1);
	s = active(p);
	s->sealed = 0;
	p->msgs -= s->count - p->mark.count;
	p->bytes -= s->size - p->mark.size;
	if (vb_seg_truncate(s, p->mark.count, &e) < 0) {
		vb_store_notice(p->st, "partition %s: %s", p->dir, e.msg);
		p->failed = e.sys ? e.sys : EIO;
	}
	p->next = p->mark.next;
	p->last_ts = p->mark.last_ts;
	p->data_dirty = 0;
}

int vb_part_repair(struct vb_part *p, struct vb_err *e)
{
	struct vb_seg *s = active(p);
	int interval = p->st->sync->mode == VB_FSYNC_INTERVAL;

	if (!p->failed)
		return 0;
	if (ftruncate(s->log->fd, (off_t)s->size) < 0 ||
	    ftruncate(s->idx_fd, (off_t)s->count * 16) < 0) {
		vb_err_sys(e, VB_E_IO, "partition %s: cannot truncate", p->dir);
		return -1;
	}
	for (size_t i = 0; i < p->nsegs; i++) {
		struct vb_seg *g = p->segs[i];

		if (g->log &&
		    (atomic_load(&g->log->sync_err) ||
		     (interval && g == s &&
		      atomic_load(&g->log->synced) < g->size)) &&
		    vb_seg_resync(g, p->st, p->dir, e) < 0) {
			vb_err_prefix(e, "partition %s", p->dir);
			return -1;
		}
	}
	/* A message the disk lost is gone from here on. */
	part_recount(p);
	part_publish(p);
	vb_store_notice(p->st, "partition %s: its storage syncs again", p->dir);
	p->failed = 0;
	return 0;
}

/* ---- the commit point ---- */

/* Index of the segment starting at `start`. */
static size_t seg_at(const struct vb_part *p, uint64_t start)
{
	size_t i = p->nsegs;

	while (i > 1 && p->segs[i - 1]->start > start)
		i--;
	return i - 1;
}

/*
 * Interval and never modes: syncs what a flush asks (the interval thread
 * does the rest later), settles the segments sealed since the mark and
 * publishes.  Nothing is settled before every sync succeeded, so a failure
 * can still be undone.
 */
static int data_commit(struct vb_part *p, struct vb_err *e)
{
	struct vb_store *st = p->st;
	int interval = st->sync->mode == VB_FSYNC_INTERVAL;
	size_t from = seg_at(p, p->mark.seg_start);
	struct vb_seg *s = active(p);

	for (size_t i = from; i + 1 < p->nsegs; i++) {
		struct vb_seg *g = p->segs[i];

		if (interval &&
		    (fdatasync(g->log->fd) < 0 || fdatasync(g->idx_fd) < 0))
			return vb_err_sys(e, VB_E_IO,
					  "cannot sync segment %" PRIu64,
					  g->start);
	}
	if (p->flush_req &&
	    (fdatasync(s->log->fd) < 0 || fdatasync(s->idx_fd) < 0 ||
	     (p->dir_dirty && vb_path_fsync_dir(p->dir, e) < 0)))
		return vb_err_sys(e, VB_E_IO, "cannot sync segment %" PRIu64,
				  s->start);
	for (size_t i = from; i + 1 < p->nsegs; i++) {
		struct vb_seg *g = p->segs[i];

		if (interval) {
			atomic_store(&g->log->synced, g->size);
			vb_syncer_unqueue(st->sync, g->log);
		}
		atomic_store(&g->log->written, g->size);
		vb_seg_settle(g, 0, NULL);
	}
	atomic_store(&s->log->written, s->size);
	if (p->flush_req)
		atomic_store(&s->log->synced, s->size);
	else
		vb_syncer_queue(st->sync, s->log);
	if (p->dir_dirty && !p->flush_req)
		vb_syncer_dirty_path(st->sync, p->dir);
	p->dir_dirty = 0;
	part_publish(p);
	return 0;
}

static struct vb_sync_item *job_add(struct vb_sync_job *j, struct vb_part *p)
{
	struct vb_sync_item *it;

	VB_ALLOC_GROW(j->v, j->n + 1, j->cap);
	it = &j->v[j->n++];
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->owner = p;
	return it;
}

/*
 * Always mode: what p's syncs are (the segments written since the mark,
 * the index too of those sealed since and on a flush, the directory when
 * a segment was made), added to the job; sub notes what they cover.
 */
static void data_submit(struct vb_part *p, struct vb_sync_job *j)
{
	struct vb_store *st = p->st;
	size_t from = seg_at(p, p->mark.seg_start);
	struct vb_seg *s = active(p);

	for (size_t i = from; i + 1 < p->nsegs; i++) {
		job_add(j, p)->f = vb_file_ref(p->segs[i]->log);
		job_add(j, p)->fd = p->segs[i]->idx_fd;
	}
	job_add(j, p)->f = vb_file_ref(s->log);
	if (p->flush_req)
		job_add(j, p)->fd = s->idx_fd;
	if (p->dir_dirty)
		job_add(j, p)->dir = vb_xstrdup(p->dir);
	atomic_store(&s->log->written, s->size);
	p->sub.next = p->next;
	p->sub.last_ts = p->last_ts;
	p->sub.seg_start = s->start;
	p->sub.count = s->count;
	p->sub.size = s->size;
	p->data_dirty = p->flush_req = p->dir_dirty = 0;
	p->inflight = 1;
	list_add(&st->inflight, &st->ninflight, &st->inflight_cap, p);
}

/* The job ran: publishes what it synced for p, or undoes (err). */
static void data_done(struct vb_part *p, int err, int dir_failed)
{
	size_t from = seg_at(p, p->mark.seg_start);
	size_t to = seg_at(p, p->sub.seg_start);

	if (err) {
		p->data_err = err;
		vb_err_set(&p->cerr, VB_E_IO, "cannot sync: %s", strerror(err));
		part_undo(p);
		if (dir_failed) {
			p->dir_dirty = 1;
			part_pend(p);
		}
		return;
	}
	for (size_t i = from; i < to; i++) {
		struct vb_seg *g = p->segs[i];

		atomic_store(&g->log->synced, g->size);
		vb_seg_settle(g, 0, NULL);
	}
	if (atomic_load(&p->segs[to]->log->synced) < p->sub.size)
		atomic_store(&p->segs[to]->log->synced, p->sub.size);
	p->mark.next = p->sub.next;
	p->mark.last_ts = p->sub.last_ts;
	p->mark.seg_start = p->sub.seg_start;
	p->mark.count = p->sub.count;
	p->mark.size = p->sub.size;
}

/* The partition owning a path the syncer could not sync, or NULL. */
static struct vb_part *owner_of(struct vb_store *st, const char *path,
				int *is_dir)
{
	for (size_t i = 0; i < st->nparts; i++) {
		struct vb_part *p = st->parts[i];
		size_t n = strlen(p->dir);

		if (strncmp(path, p->dir, n) != 0)
			continue;
		if (path[n] == 0 || strcmp(path + n, "/offsets") == 0) {
			*is_dir = path[n] == 0;
			return p;
		}
	}
	return NULL;
}

/*
 * Background fsyncs that failed since the last commit point: the pass's
 * new messages in that partition fail with them, and what was
 * acknowledged is written and synced again now; a partition that cannot
 * be repaired refuses writes until it can (vb_part_append tries again).
 */
static void sync_failures(struct vb_store *st)
{
	unsigned seen = atomic_load(&st->sync->failures);
	char **paths;
	size_t n;

	if (seen == st->failures_seen)
		return;
	st->failures_seen = seen;
	for (size_t i = 0; i < st->nparts; i++) {
		struct vb_part *p = st->parts[i];
		int err = 0;

		for (size_t k = 0; k < p->nsegs && !err; k++)
			if (p->segs[k]->log)
				err = atomic_load(&p->segs[k]->log->sync_err);
		if (!err)
			continue;
		vb_store_notice(st,
				"partition %s: background fsync failed: "
				"%s; the messages acknowledged since its last "
				"good one are written again",
				p->dir, strerror(err));
		if (p->data_dirty) {
			part_undo(p);
			p->data_err = err;
			vb_err_set(&p->cerr, VB_E_IO,
				   "background fsync "
				   "failed: %s",
				   strerror(err));
		}
		p->failed = err;
		if (vb_part_repair(p, &p->cerr) < 0)
			vb_store_notice(st,
					"%s; it refuses writes until that "
					"works",
					p->cerr.msg);
	}
	n = vb_syncer_take_failed(st->sync, &paths);
	for (size_t i = 0; i < n; i++) {
		int is_dir = 0;
		struct vb_part *p = owner_of(st, paths[i], &is_dir);

		vb_store_notice(st, "%s: background fsync failed; %s", paths[i],
				p ? "written again at this commit" :
				    "left as it is");
		if (p && is_dir)
			p->dir_dirty = 1;
		else if (p)
			p->offs_dirty = 1;
		if (p)
			part_pend(p);
		free(paths[i]);
	}
	free(paths);
}

size_t vb_store_commit(struct vb_store *st)
{
	int always = st->sync->mode == VB_FSYNC_ALWAYS;
	size_t failed = 0;

	sync_failures(st);
	st->job.n = 0;
	for (size_t i = 0; i < st->npending; i++) {
		struct vb_part *p = st->pending[i];
		struct vb_err e;

		if ((p->data_dirty || p->flush_req || p->dir_dirty) &&
		    !p->data_err) {
			if (always) {
				data_submit(p, &st->job);
			} else if (data_commit(p, &p->cerr) < 0) {
				p->data_err = p->cerr.sys ? p->cerr.sys : EIO;
				/* A flush found acknowledged data lost. */
				if (p->flush_req &&
				    st->sync->mode == VB_FSYNC_INTERVAL)
					p->failed = p->data_err;
				if (p->data_dirty)
					part_undo(p);
			}
		}
		p->data_dirty = 0;
		p->flush_req = 0;
		if (p->offs_dirty && offsets_commit(p, &e) < 0) {
			p->offs_err = e.sys ? e.sys : EIO;
			if (!p->data_err)
				p->cerr = e;
		}
		failed += p->data_err || p->offs_err;
	}
	if (st->job.n) {
		vb_syncer_submit(st->sync, &st->job, st->sync_here);
		st->busy = 1;
	}
	return failed;
}

size_t vb_store_commit_done(struct vb_store *st)
{
	size_t failed = 0;

	if (!st->busy)
		return 0;
	vb_syncer_wait(st->sync);
	st->busy = 0;
	for (size_t i = 0; i < st->ninflight; i++) {
		struct vb_part *p = st->inflight[i];
		int err = 0, dir_failed = 0;

		for (size_t k = 0; k < st->job.n; k++) {
			struct vb_sync_item *it = &st->job.v[k];

			if (it->owner != p || !it->err)
				continue;
			err = err ? err : it->err;
			dir_failed |= it->dir != NULL;
		}
		data_done(p, err, dir_failed);
		p->inflight = 0;
		failed += err != 0;
	}
	for (size_t i = 0; i < st->job.n; i++) {
		vb_file_unref(st->job.v[i].f);
		free(st->job.v[i].dir);
	}
	st->job.n = 0;
	return failed;
}

void vb_store_release(struct vb_store *st)
{
	for (size_t i = 0; i < st->job.n; i++) {
		vb_file_unref(st->job.v[i].f);
		free(st->job.v[i].dir);
	}
	free(st->job.v);
	free(st->parts);
	free(st->pending);
	free(st->inflight);
	st->job.v = NULL;
	st->parts = st->pending = st->inflight = NULL;
	st->job.n = st->job.cap = 0;
	st->nparts = st->parts_cap = st->npending = st->pending_cap = 0;
	st->ninflight = st->inflight_cap = 0;
}

void vb_store_commit_end(struct vb_store *st)
{
	size_t keep = 0;

	for (size_t i = 0; i < st->npending; i++) {
		struct vb_part *p = st->pending[i];

		p->data_err = p->offs_err = 0;
		p->undone = 0;
		/*
		 * Appended meanwhile (always mode), or not saved: for the next
		 * commit point.
		 */
		if (p->data_dirty || p->flush_req || p->offs_dirty ||
		    p->dir_dirty)
			st->pending[keep++] = p;
		else
			p->pending = 0;
	}
	st->npending = keep;
	if (st->busy)
		return;
	for (size_t i = 0; i < st->ninflight; i++) {
		st->inflight[i]->data_err = 0;
		st->inflight[i]->undone = 0;
	}
	st->ninflight = 0;
}
