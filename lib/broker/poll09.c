/*
 * poll09.c - Iggy 0.9 polls (messages.md §4): stored messages as batch
 * records.  Messages that came in 0.9 batches are stored as those
 * records (store.h): they go out from the segment by sendfile, a record
 * cut by the poll as a header made for its slice and its frames from the
 * file, nothing hashed but the slice's header (span_records).  0.8-sent
 * messages are read back into records, their checksums computed as the
 * spec says (records_read).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

/*
 * Stored 0.8 frames as batch records: one per run of messages stored
 * together (the same server timestamp).  Each frame is its stored header
 * rewritten and its payload and user headers (laid out alike in both) in
 * one copy; its checksum is computed anew while the bytes are in the
 * CPU's cache, right after the stored one is checked against them.  The
 * record's checksum hashes the frames' checksums as they are made (sums),
 * not by walking the record again.
 */
struct records {
	struct vb_buf *o;
	struct vb_buf *sums; /* the open record's frame checksums */
	uint32_t pid;
	size_t rec; /* the open record in o */
	uint32_t k; /* its frames so far; 0: none open */
	uint64_t ts, origin;
};

static void record_close(struct records *st)
{
	uint8_t *bh = st->o->p + st->rec;

	if (st->k == 0)
		return;
	vb_st64(bh + VB_BATCH_LENGTH, st->o->len - st->rec);
	vb_st32(bh + VB_BATCH_COUNT, st->k);
	vb_st64(bh + VB_BATCH_CHECKSUM,
		vb_wire_batch_checksum_sums(bh, st->sums->p, st->k));
	st->k = 0;
	vb_buf_reset(st->sums);
}

static void record_open(struct records *st, const uint8_t *m, uint64_t ts,
			uint64_t origin)
{
	struct vb_buf *o = st->o;
	uint8_t *bh;

	st->rec = o->len;
	bh = vb_buf_reserve(o, VB_BATCH_HDR);
	memset(bh, 0, VB_BATCH_HDR);
	st->ts = ts;
	st->origin = origin;
	vb_st64(bh + VB_BATCH_PARTITION, st->pid);
	vb_st64(bh + VB_BATCH_BASE_OFFSET, vb_ld64(m + VB_MSG_OFFSET));
	vb_st64(bh + VB_BATCH_BASE_TS, ts);
	vb_st64(bh + VB_BATCH_ORIGIN_TS, origin);
	o->len += VB_BATCH_HDR;
}

/* The whole messages of p[0..n): *used bytes of them. */
static void records_feed(struct records *st, const uint8_t *p, size_t n,
			 size_t *used)
{
	struct vb_buf *o = st->o;
	size_t at = 0;

	while (n - at >= VB_MSG_HDR) {
		const uint8_t *m = p + at;
		uint32_t ul = vb_ld32(m + VB_MSG_UHDR_LEN);
		uint32_t pl = vb_ld32(m + VB_MSG_PAYLOAD_LEN);
		uint64_t size = VB_MSG_HDR + (uint64_t)pl + ul;
		uint64_t ts, origin, stored, sum;
		size_t body, fsz;
		uint8_t *fr;

		if (size > n - at)
			break;
		body = (size_t)size - VB_MSG_HDR;
		fsz = VB_FRAME_HDR + body;
		ts = vb_ld64(m + VB_MSG_TIMESTAMP);
		origin = vb_ld64(m + VB_MSG_ORIGIN_TS);
		if (st->k > 0 && (ts != st->ts || origin < st->origin ||
				  origin - st->origin > 0xFFFFFFFFull))
			record_close(st);
		if (st->k == 0)
			record_open(st, m, ts, origin);
		fr = vb_buf_reserve(o, fsz);
		memcpy(fr + VB_FRAME_ID, m + VB_MSG_ID, VB_MSG_ID_LEN);
		vb_st32(fr + VB_FRAME_OFFSET_DELTA, st->k);
		vb_st32(fr + VB_FRAME_TS_DELTA,
			(uint32_t)(origin - st->origin));
		vb_st32(fr + VB_FRAME_UHDR_LEN, ul);
		vb_st32(fr + VB_FRAME_PAYLOAD_LEN, pl);
		vb_st64(fr + VB_FRAME_RESERVED, 0);
		memcpy(fr + VB_FRAME_HDR, m + VB_MSG_HDR, body);
		/*
		 * A stored message whose checksum fails keeps failing: its
		 * frame carries the stored checksum, which the frame's bytes
		 * do not give either, so a client sees the damage as over 0.8.
		 */
		stored = vb_ld64(m + VB_MSG_CHECKSUM);
		sum = vb_wire_msg_checksum(m, (size_t)size) == stored ?
			      vb_xxh3(fr + 8, fsz - 8) :
			      stored;
		vb_st64(fr + VB_FRAME_CHECKSUM, sum);
		vb_buf_u64(st->sums, sum);
		o->len += fsz;
		st->k++;
		at += (size_t)size;
	}
	*used = at;
}

/* One span whole into raw (when it cannot be mapped). */
static int span_pread(struct vb_buf *raw, const struct vb_span *sp,
		      struct vb_err *e)
{
	vb_buf_reset(raw);
	vb_buf_reserve(raw, (size_t)sp->len);
	if (vb_pread_all(sp->f->fd, raw->p, (size_t)sp->len, (off_t)sp->off) <
	    0)
		return errno == ENODATA ?
			       vb_err_set(e, VB_E_IO,
					  "a segment ends inside a span") :
			       vb_err_sys(e, VB_E_IO, "reading a segment");
	raw->len = (size_t)sp->len;
	return 0;
}

/* A span mapped: the mapping (page-aligned) and the span's bytes in it. */
struct span_map {
	void *base;
	size_t len;
	const uint8_t *p;
};

/*
 * Maps span sp read-only, with mmap's flags beside MAP_SHARED: 0; 1 when
 * mmap failed; -1 (e says why) when the file's size cannot be read or the
 * file ends inside the span (a mapping past its end would fault, not
 * fail).
 */
static int span_map(struct span_map *m, const struct vb_span *sp, int flags,
		    struct vb_err *e)
{
	uint64_t from = sp->off & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
	struct stat sb;

	if (fstat(sp->f->fd, &sb) < 0)
		return vb_err_sys(e, VB_E_IO, "a segment's size");
	if ((uint64_t)sb.st_size < sp->off + sp->len)
		return vb_err_set(e, VB_E_IO, "a segment ends inside a span");
	m->len = (size_t)(sp->off - from + sp->len);
	m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED | flags, sp->f->fd,
		       (off_t)from);
	if (m->base == MAP_FAILED)
		return 1;
	m->p = (const uint8_t *)m->base + (sp->off - from);
	return 0;
}

/*
 * Reads the spans into batch records appended to o: each span mapped
 * (the page cache's bytes, not a copy of them), else read whole into raw.
 */
static int records_read(struct vb_buf *raw, struct vb_buf *o,
			const struct vb_span *sp, size_t nsp, uint32_t pid,
			struct vb_err *e)
{
	struct vb_buf sums = VB_BUF_INIT;
	struct records st = { .o = o, .sums = &sums, .pid = pid };
	uint64_t total = 0;
	int rc = 0;

	for (size_t i = 0; i < nsp; i++)
		total += sp[i].len;
	/* frames shrink by 16 bytes; a record header per run */
	vb_buf_reserve(o, (size_t)total + 4 * VB_BATCH_HDR);
	for (size_t i = 0; i < nsp && rc == 0; i++) {
		struct span_map m;
		size_t used = 0;
		int mapped;

		if (sp[i].len == 0)
			continue;
		mapped = span_map(&m, &sp[i], MAP_POPULATE, e);
		if (mapped < 0) {
			rc = -1;
			break;
		}
		if (mapped == 0) {
			records_feed(&st, m.p, (size_t)sp[i].len, &used);
			munmap(m.base, m.len);
		} else if ((rc = span_pread(raw, &sp[i], e)) == 0) {
			records_feed(&st, raw->p, raw->len, &used);
		}
		if (rc == 0 && used != sp[i].len)
			rc = vb_err_set(e, VB_E_IO,
					"a message runs past its span");
	}
	record_close(&st);
	vb_buf_release(&sums);
	return rc;
}

/*
 * A 0.9 poll's answer body, built before anything goes out (so that a
 * failure can still be answered): pieces, each bytes of o (f NULL) or a
 * range of a segment's log, sent by sendfile.
 */
struct piece {
	struct vb_file *f;
	uint64_t off, len;
};

struct answer {
	struct vb_buf o;      /* record headers made here, 0.8 spans' records */
	struct vb_buf pieces; /* struct piece */
	uint64_t total;	      /* body bytes */
};

static void piece_add(struct answer *a, struct vb_file *f, uint64_t off,
		      uint64_t len)
{
	struct piece *p = a->pieces.len ? (struct piece *)(a->pieces.p +
							   a->pieces.len) -
						  1 :
					  NULL;

	a->total += len;
	if (p && p->f == f && p->off + p->len == off) {
		p->len += len;
		return;
	}
	p = (struct piece *)vb_buf_reserve(&a->pieces, sizeof(*p));
	p->f = f;
	p->off = off;
	p->len = len;
	a->pieces.len += sizeof(*p);
}

/* Bytes o gained since mark, as a piece. */
static void piece_made(struct answer *a, size_t mark)
{
	piece_add(a, NULL, mark, a->o.len - mark);
}

/*
 * Frames x .. y - 1 of span sp, one stored record's (hdr, the header
 * it was stored with), as a record of the answer: the stored bytes from
 * the header on when they are all of it, else a header made for the
 * slice (messages.md §4.3: length, count and checksum of the frames in
 * it, the rest as stored) and the frames from the log, their checksums
 * read from the mapped segment (m, mapped when first needed).
 */
static int rec_piece(struct answer *a, const struct vb_span *sp,
		     const uint8_t *hdr, uint64_t hpos, const uint64_t *end,
		     uint32_t x, uint32_t y, struct span_map *m,
		     struct vb_err *e)
{
	uint64_t fpos = x ? end[x - 1] : sp->off, mark;
	uint8_t *h;

	if (hpos == fpos) /* x is the record's first frame */
		fpos += VB_BATCH_HDR;
	if (hpos + VB_BATCH_HDR == fpos &&
	    vb_ld32(hdr + VB_BATCH_COUNT) == y - x &&
	    vb_ld64(hdr + VB_BATCH_LENGTH) == end[y - 1] - hpos) {
		piece_add(a, sp->f, hpos, end[y - 1] - hpos);
		return 0;
	}
	if (m->base == NULL) {
		int r = span_map(m, sp, 0, e);

		if (r > 0)
			return vb_err_sys(e, VB_E_IO, "mapping a segment");
		if (r < 0)
			return -1;
	}
	mark = a->o.len;
	h = vb_buf_reserve(&a->o, VB_BATCH_HDR + (size_t)(y - x) * 8);
	memcpy(h, hdr, VB_BATCH_HDR);
	for (uint32_t k = x; k < y; k++) {
		uint64_t at = (k == x ? fpos : end[k - 1]) - sp->off;

		memcpy(h + VB_BATCH_HDR + (size_t)(k - x) * 8, m->p + at, 8);
	}
	vb_st64(h + VB_BATCH_LENGTH, VB_BATCH_HDR + end[y - 1] - fpos);
	vb_st32(h + VB_BATCH_COUNT, y - x);
	vb_st64(h + VB_BATCH_CHECKSUM,
		vb_wire_batch_checksum_sums(h, h + VB_BATCH_HDR, y - x));
	a->o.len += VB_BATCH_HDR;
	piece_made(a, (size_t)mark);
	piece_add(a, sp->f, fpos, end[y - 1] - fpos);
	return 0;
}

/*
 * A span of 0.9 records as stored: records whole go out as they are, a
 * record cut by the poll's first or last offset as its slice.  A stored
 * header that does not say what the index does (damage) fails the poll:
 * garbage is never served.
 */
static int span_records(struct answer *a, const struct vb_span *sp,
			struct vb_err *e)
{
	struct span_map m = { 0 };
	uint8_t hdr[VB_BATCH_HDR];
	uint64_t *end = vb_xreallocarray(NULL, sp->n, sizeof(*end)), hpos = 0;
	uint32_t *fl = vb_xreallocarray(NULL, sp->n, sizeof(*fl)), x = 0;
	int rc = -1;

	if (vb_span_ents(sp, end, fl) < 0) {
		vb_err_set(e, VB_E_IO, "a segment's index cannot be read");
		goto out;
	}
	while (x < sp->n) {
		uint64_t head = 0, base;
		uint32_t y = x + 1;

		while (y < sp->n && !(fl[y] & VB_ENT_HEAD))
			y++;
		if (fl[x] & VB_ENT_HEAD) {
			hpos = x ? end[x - 1] : sp->off;
			if (vb_pread_all(sp->f->fd, hdr, VB_BATCH_HDR,
					 (off_t)hpos) < 0) {
				vb_err_sys(e, VB_E_IO, "reading a segment");
				goto out;
			}
			head = sp->seg->start + sp->rel + x;
		} else if (vb_span_rec_hdr(sp, hdr, &hpos, &head, e) < 0) {
			goto out;
		}
		/* its first offset where the index has it, its frames all */
		base = vb_ld64(hdr + VB_BATCH_BASE_OFFSET);
		if (base != head ||
		    base + vb_ld32(hdr + VB_BATCH_COUNT) <
			    sp->seg->start + sp->rel + y ||
		    vb_ld64(hdr + VB_BATCH_LENGTH) < VB_BATCH_HDR) {
			vb_err_set(e, VB_E_IO,
				   "a stored record's header disagrees with "
				   "the index");
			goto out;
		}
		if (rec_piece(a, sp, hdr, hpos, end, x, y, &m, e) < 0)
			goto out;
		x = y;
	}
	rc = 0;
out:
	if (m.base)
		munmap(m.base, m.len);
	free(end);
	free(fl);
	return rc;
}

/* The answer's body: each span as records, stored ones as they are. */
static int answer_build(struct answer *a, struct vb_buf *raw,
			const struct vb_span *sp, size_t nsp, uint32_t pid,
			struct vb_err *e)
{
	for (size_t i = 0; i < nsp; i++) {
		size_t mark = a->o.len;

		if (sp[i].n == 0)
			continue;
		if (sp[i].v09) {
			if (span_records(a, &sp[i], e) < 0)
				return -1;
			continue;
		}
		if (records_read(raw, &a->o, &sp[i], 1, pid, e) < 0)
			return -1;
		piece_made(a, mark);
	}
	return 0;
}

static void empty_poll(struct vb_conn *c, const struct vb_vsr_req *q,
		       uint32_t pid)
{
	struct vb_poll_hdr ph = { pid, 0, 0 };
	struct vb_vsr_reply h;
	size_t m;

	vb_v09_reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_poll_hdr(&c->out, &ph);
	vb_vsr_reply_end(&c->out, m);
}

void vb_v09_poll(struct vb_broker *b, struct vb_conn *c,
		 const struct vb_vsr_req *q, const struct vb_req *r)
{
	struct vb_span sp[VB_POLL_SPANS];
	struct answer a = { VB_BUF_INIT, VB_BUF_INIT, 0 };
	struct vb_poll_hdr ph;
	struct vb_vsr_reply h;
	struct vb_err e;
	size_t nsp, m0 = c->out.len, m;

	if (r->consumer.kind == VB_CONSUMER_GROUP) {
		/* the partition must be named and owned (messages.md §4.2) */
		struct vb_stream *s = vb_find_stream(b, &r->stream);
		struct vb_topic *t = vb_find_topic(s, &r->topic);
		struct vb_group *g = t ? vb_find_group(t, &r->consumer.id) :
					 NULL;
		struct vb_member *mb = g ? vb_group_member(g, c) : NULL;

		if (t && g &&
		    (mb == NULL || !r->part.present ||
		     !vb_member_has(mb, r->part.id) ||
		     vb_group_revoking(g, r->part.id))) {
			empty_poll(c, q, VB_POLL_RESYNC);
			return;
		}
	}
	if (!vb_poll_spans(b, c, r, &ph, sp, &nsp)) {
		vb_v09_answer(b, c, q, VB_CMD_POLL_MESSAGES, m0);
		return;
	}
	if (answer_build(&a, &b->tmp, sp, nsp, ph.partition_id, &e) < 0) {
		vb_broker_log(b, "0.9 poll: %s", e.msg);
		vb_v09_deny(c, q, VB_ST_IO_ERROR);
		goto out;
	}
	vb_v09_reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_poll_hdr(&c->out, &ph);
	vb_vsr_reply_size(c->out.p + m, c->out.len - m + (size_t)a.total);
	for (size_t i = 0; i < a.pieces.len / sizeof(struct piece); i++) {
		const struct piece *pc = (const struct piece *)a.pieces.p + i;

		if (pc->f)
			vb_conn_queue_file(c, pc->f, pc->off, pc->len);
		else
			vb_buf_add(&c->out, a.o.p + pc->off, (size_t)pc->len);
	}
out:
	vb_buf_release(&a.o);
	vb_buf_release(&a.pieces);
}
