/* Partitions: a list of segments, appends, reads, stored offsets, retention. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/seg.h"
#include "wire/wire.h"
#include "base/banned.h"

#define OFFREC 13	/* u8 kind, u32 key, u64 offset */

static void segs_push(struct vb_part *p, struct vb_seg *s)
{
	VB_ALLOC_GROW(p->segs, p->nsegs + 1, p->segs_cap);
	p->segs[p->nsegs++] = s;
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

static int offsets_save(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT;
	struct vb_syncer *sy = p->st->sync;
	int rc;

	offsets_path(p, &path);
	for (size_t i = 0; i < p->noffs; i++) {
		vb_buf_u8(&b, p->offs[i].kind);
		vb_buf_u32(&b, p->offs[i].key);
		vb_buf_u64(&b, p->offs[i].offset);
	}
	rc = vb_path_replace((char *)path.p, b.p ? b.p : (const uint8_t *)"",
			     b.len, 0600, sy->mode == VB_FSYNC_ALWAYS, e);
	vb_buf_release(&b);
	if (rc == 0)
		vb_syncer_dirty_path(sy, (char *)path.p);
	vb_buf_release(&path);
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
			p->last_ts = vb_seg_ts(s, s->count - 1);
	}
	p->next = last->start + last->count;
}

int vb_part_open(struct vb_part **pp, struct vb_store *st, const char *dir,
		 uint32_t id, uint64_t created_at, int create,
		 struct vb_err *e)
{
	struct vb_part *p = vb_xcalloc(1, sizeof(*p));
	uint64_t *starts = NULL;
	size_t n = 0;

	p->st = st;
	p->dir = vb_xstrdup(dir);
	p->id = id;
	p->created_at = created_at;
	vb_buf_init(&p->scratch);
	if (create && vb_path_mkdir_p(dir, 0700, e) < 0)
		goto fail;
	if (list_segments(dir, &starts, &n, e) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct vb_seg *s;
		int last = i + 1 == n;

		if (p->nsegs) {
			struct vb_seg *prev = p->segs[p->nsegs - 1];

			if (starts[i] < prev->start + prev->count) {
				/* Overlap: keep the older data, ignore it. */
				continue;
			}
			if (vb_seg_seal(prev, st, e) < 0)
				goto fail;
		}
		if (vb_seg_load(&s, st, dir, starts[i], last && !st->clean,
				e) < 0)
			goto fail;
		segs_push(p, s);
	}
	free(starts);
	starts = NULL;
	if (p->nsegs == 0) {
		struct vb_seg *s;

		if (vb_seg_create(&s, st, dir, 0, e) < 0)
			goto fail;
		segs_push(p, s);
	}
	part_recount(p);
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
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nsegs; i++)
		vb_seg_free(p->segs[i]);
	free(p->segs);
	free(p->offs);
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

static struct vb_seg *active(const struct vb_part *p)
{
	return p->segs[p->nsegs - 1];
}

/* Seals the active segment and starts a new one at p->next. */
static int roll(struct vb_part *p, struct vb_err *e)
{
	struct vb_seg *s;

	if (vb_seg_seal(active(p), p->st, e) < 0)
		return -1;
	if (vb_seg_create(&s, p->st, p->dir, p->next, e) < 0)
		return -1;
	segs_push(p, s);
	return 0;
}

int vb_part_append(struct vb_part *p, uint8_t *frames, size_t len,
		   uint32_t n, uint64_t ts, struct vb_err *e)
{
	struct vb_seg *s = active(p);
	uint8_t *ent, *rnd;
	size_t at = 0, first = 0;
	uint64_t pos;

	if (s->count > 0 && (s->size >= p->st->segment_size ||
			     s->size + len > VB_SEG_HARD_MAX)) {
		if (roll(p, e) < 0)
			return -1;
		s = active(p);
	}
	if (len > VB_SEG_HARD_MAX)
		return vb_err_set(e, VB_E_IO, "batch of %zu bytes too large",
				  len);
	if (ts < p->last_ts)
		ts = p->last_ts;
	vb_buf_reset(&p->scratch);
	ent = vb_buf_reserve(&p->scratch, (size_t)n * 32);
	rnd = ent + (size_t)n * 16;
	arc4random_buf(rnd, (size_t)n * 16);
	pos = s->size;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *f = frames + at;
		size_t sz = (size_t)vb_msg_frame_size(f);

		vb_wire_msg_stamp(f, sz, p->next + i, ts, rnd + (size_t)i * 16);
		if (i == 0)
			first = sz;
		at += sz;
		pos += sz;
		vb_st32(ent + (size_t)i * 16, s->count + i);
		vb_st32(ent + (size_t)i * 16 + 4, (uint32_t)pos);
		vb_st64(ent + (size_t)i * 16 + 8, ts);
	}
	if (at != len)
		return vb_err_set(e, VB_E_DATA, "batch: frames cover %zu of %zu "
				  "bytes", at, len);
	if (vb_seg_append(s, frames, len, first, ent, n, e) < 0)
		return -1;
	p->next += n;
	p->msgs += n;
	p->bytes += len;
	p->last_ts = ts;
	p->st->written_bytes += len;
	return vb_syncer_dirty(p->st->sync, s->log, e);
}

uint64_t vb_part_first(const struct vb_part *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		if (p->segs[i]->count)
			return p->segs[i]->start;
	return p->next;
}

/* First entry of s with timestamp >= ts (s->count if none). */
static uint32_t seg_lower_ts(const struct vb_seg *s, uint64_t ts)
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

int vb_part_find_ts(const struct vb_part *p, uint64_t ts, uint64_t *off)
{
	for (size_t i = 0; i < p->nsegs; i++) {
		const struct vb_seg *s = p->segs[i];

		if (s->count == 0 || vb_seg_ts(s, s->count - 1) < ts)
			continue;
		*off = s->start + seg_lower_ts(s, ts);
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

size_t vb_part_read(const struct vb_part *p, uint64_t start, uint32_t count,
		    uint64_t max_bytes, struct vb_span *sp, size_t maxsp,
		    uint32_t *n, uint64_t *last)
{
	uint64_t first = vb_part_first(p), bytes = 0;
	size_t nsp = 0;

	*n = 0;
	*last = 0;
	if (start < first)
		start = first;
	if (count == 0 || start >= p->next)
		return 0;
	for (size_t i = seg_find(p, start); i < p->nsegs && count > 0 &&
	     nsp < maxsp; i++) {
		const struct vb_seg *s = p->segs[i];
		uint32_t rel, k;
		uint64_t from, to;

		if (start < s->start)
			start = s->start;
		if (s->count == 0 || start >= s->start + s->count)
			continue;
		rel = (uint32_t)(start - s->start);
		k = s->count - rel < count ? s->count - rel : count;
		from = rel ? vb_seg_pos(s, rel - 1) : 0;
		to = vb_seg_pos(s, rel + k - 1);
		if (bytes + (to - from) > max_bytes) {
			/* Largest k that fits; at least one message overall. */
			uint32_t lo = 0, hi = k;

			while (lo < hi) {
				uint32_t mid = lo + (hi - lo + 1) / 2;

				if (bytes + vb_seg_pos(s, rel + mid - 1) - from
				    <= max_bytes)
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
		sp[nsp].f = s->log;
		sp[nsp].off = from;
		sp[nsp].len = to - from;
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
	if (r == NULL) {
		VB_ALLOC_GROW(p->offs, p->noffs + 1, p->offs_cap);
		r = &p->offs[p->noffs++];
		r->kind = kind;
		r->key = key;
	}
	r->offset = off;
	return offsets_save(p, e);
}

int vb_part_offset_delete(struct vb_part *p, uint8_t kind, uint32_t key,
			  struct vb_err *e)
{
	struct vb_offset_rec *r = off_find(p, kind, key);

	if (r == NULL)
		return 0;
	*r = p->offs[--p->noffs];
	return offsets_save(p, e) < 0 ? -1 : 1;
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

int vb_part_purge(struct vb_part *p, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	struct vb_seg *s;

	while (p->nsegs)
		seg_drop(p, p->nsegs - 1);
	p->next = 0;
	p->last_ts = 0;
	p->noffs = 0;
	unlink(offsets_path(p, &path));
	vb_buf_release(&path);
	if (vb_seg_create(&s, p->st, p->dir, 0, e) < 0)
		return -1;
	segs_push(p, s);
	part_recount(p);
	return 0;
}

int vb_part_delete_segments(struct vb_part *p, uint32_t n, struct vb_err *e)
{
	struct vb_seg *s;

	while (n-- > 0 && p->nsegs > 1)
		seg_drop(p, 0);
	if (n == UINT32_MAX)
		return 0;
	/* The active segment goes too: start an empty one at the end. */
	seg_drop(p, 0);
	if (vb_seg_create(&s, p->st, p->dir, p->next, e) < 0)
		return -1;
	segs_push(p, s);
	return 0;
}

uint64_t vb_part_oldest_sealed_ts(const struct vb_part *p)
{
	const struct vb_seg *s = p->segs[0];

	if (p->nsegs < 2 || !s->sealed || s->count == 0)
		return 0;
	return vb_seg_ts(s, s->count - 1);
}

int vb_part_trim_oldest(struct vb_part *p, uint64_t now, uint64_t expiry,
			int force, struct vb_err *e)
{
	const struct vb_seg *s = p->segs[0];
	uint64_t end;

	if (p->nsegs < 2 || !s->sealed)
		return 0;
	if (!force) {
		uint64_t ts = s->count ? vb_seg_ts(s, s->count - 1) : 0;

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

int vb_part_sync(struct vb_part *p, struct vb_err *e)
{
	struct vb_seg *s = active(p);

	if (vb_syncer_fdatasync(p->st->sync, s->log->fd) < 0 ||
	    (s->idx_fd >= 0 && vb_syncer_fdatasync(p->st->sync, s->idx_fd) < 0))
		return vb_err_sys(e, VB_E_IO, "cannot sync %s", p->dir);
	return 0;
}
