/*
 * poll09.c - Iggy 0.9 polls (messages.md §4): stored messages as batch
 * records.  Messages that came in 0.9 batches have their frames'
 * checksums kept beside the segment (store.h, VB_F09_ENT): they are
 * served as slices of those batches with nothing hashed (poll09_direct),
 * sent from the segment by writev when the answer can go out at once and
 * they are not small, else copied.  Any others are read back into
 * records, their checksums computed as the spec says (records_read).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
	uint8_t *d;
	size_t got = 0;

	vb_buf_reset(raw);
	d = vb_buf_reserve(raw, (size_t)sp->len);
	while (got < sp->len) {
		ssize_t k = pread(sp->f->fd, d + got, (size_t)sp->len - got,
				  (off_t)(sp->off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? vb_err_sys(e, VB_E_IO,
						  "reading a segment") :
				       vb_err_set(e, VB_E_IO,
						  "a segment ends inside a span");
		got += (size_t)k;
	}
	raw->len = got;
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
 * A 0.9 poll answered from the store's 0.9 entries (store.h, VB_F09_ENT),
 * when every message has its entry.  Records follow the stored runs
 * (messages.md §4.3: a slice keeps its run's base offset and origin
 * timestamp, the frames their deltas), so every frame's checksum is the
 * one kept at append and no payload is hashed.  First the record
 * headers, from the entries, the index (sizes) and each record's first
 * stored header; then the answer, in pieces: the headers made here and
 * each message's payload and user headers from the mapped segment.  When
 * nothing is before it on the connection (plain, its output empty,
 * nothing held) the pieces go out by writev, the kernel copying the
 * mapped bytes once and nothing here copying them; what the socket does
 * not take goes to c->out.  Otherwise, or when the messages are small
 * (two pieces each would cost more than a copy), they are copied into
 * c->out.  The headers ahead are fetched into the cache while one is
 * made.
 */
#define DV_AHEAD 8   /* messages */
#define DV_SMALL 512 /* stored bytes a message on average: copied */

struct direct {
	struct vb_conn *c;
	uint8_t *h; /* the headers made here for the pieces not yet sent */
	size_t hlen, hcap;
	struct iovec iov[IOV_MAX];
	size_t niov;
	int copy; /* the socket took less: everything else goes to c->out */
};

static void dv_flush(struct direct *d)
{
	size_t i = 0, part = 0;

	while (!d->copy && i < d->niov) {
		ssize_t w = vb_tr_writev(&d->c->tr, d->iov + i,
					 (int)(d->niov - i));

		if (w <= 0)
			break;
		while (i < d->niov && (size_t)w >= d->iov[i].iov_len)
			w -= (ssize_t)d->iov[i++].iov_len;
		part = (size_t)w;
		if (w > 0)
			break;
	}
	if (i < d->niov)
		d->copy = 1;
	for (; i < d->niov; i++, part = 0)
		vb_buf_add(&d->c->out,
			   (const uint8_t *)d->iov[i].iov_base + part,
			   d->iov[i].iov_len - part);
	d->niov = 0;
	d->hlen = 0;
}

static void dv_add(struct direct *d, const uint8_t *p, size_t n)
{
	struct iovec *v = d->niov ? &d->iov[d->niov - 1] : NULL;

	if (d->copy) {
		vb_buf_add(&d->c->out, p, n);
	} else if (v && (const uint8_t *)v->iov_base + v->iov_len == p) {
		v->iov_len += n;
	} else {
		d->iov[d->niov].iov_base = (void *)p;
		d->iov[d->niov].iov_len = n;
		d->niov++;
	}
}

/* Room for a piece made here: what came before is sent first if need be. */
static uint8_t *dv_room(struct direct *d, size_t n)
{
	uint8_t *p;

	if (d->niov + 2 > IOV_MAX || d->hlen + n > d->hcap)
		dv_flush(d);
	p = d->h + d->hlen;
	d->hlen += n;
	return p;
}

/* Does message i begin a record (the first of a span, or of a run)? */
static int dv_starts(const uint8_t *ent, uint32_t i, uint32_t r)
{
	return r == 0 ||
	       vb_ld32(ent + (size_t)i * VB_F09_ENT + 8) !=
		       vb_ld32(ent + (size_t)(i - 1) * VB_F09_ENT + 8) + 1;
}

/*
 * The record headers into recs: the messages of each span, with their
 * entries ent (checksums gathered in sums), sizes and starts in their
 * span (offs); *total grows by their bytes.
 */
static void dv_records(struct vb_buf *recs, const struct vb_span *sp,
		       size_t nsp, const struct span_map *map,
		       const uint8_t *ent, const uint64_t *sums,
		       const uint32_t *size, const uint64_t *offs, uint32_t pid,
		       uint64_t *total)
{
	uint8_t *bh = NULL;
	uint32_t i = 0, first = 0;

	for (size_t j = 0; j < nsp; j++) {
		for (uint32_t r = 0; r < sp[j].n; r++, i++) {
			const uint8_t *m = map[j].p + offs[i];
			const uint8_t *e = ent + (size_t)i * VB_F09_ENT;

			if (dv_starts(ent, i, r)) {
				if (bh)
					vb_st64(bh + VB_BATCH_CHECKSUM,
						vb_wire_batch_checksum_sums(
							bh,
							(const uint8_t *)(sums +
									  first),
							i - first));
				bh = vb_buf_reserve(recs, VB_BATCH_HDR);
				recs->len += VB_BATCH_HDR;
				memset(bh, 0, VB_BATCH_HDR);
				vb_st64(bh + VB_BATCH_PARTITION, pid);
				vb_st64(bh + VB_BATCH_BASE_OFFSET,
					sp[j].seg->start + sp[j].rel + r -
						vb_ld32(e + 8));
				vb_st64(bh + VB_BATCH_BASE_TS,
					vb_ld64(m + VB_MSG_TIMESTAMP));
				vb_st64(bh + VB_BATCH_ORIGIN_TS,
					vb_ld64(m + VB_MSG_ORIGIN_TS) -
						vb_ld32(e + 12));
				vb_st64(bh + VB_BATCH_LENGTH, VB_BATCH_HDR);
				first = i;
				*total += VB_BATCH_HDR;
			}
			/* a frame is 16 bytes shorter than its stored message */
			vb_st64(bh + VB_BATCH_LENGTH,
				vb_ld64(bh + VB_BATCH_LENGTH) + size[i] -
					(VB_MSG_HDR - VB_FRAME_HDR));
			vb_st32(bh + VB_BATCH_COUNT, i - first + 1);
			*total += size[i] - (VB_MSG_HDR - VB_FRAME_HDR);
		}
	}
	if (bh)
		vb_st64(bh + VB_BATCH_CHECKSUM,
			vb_wire_batch_checksum_sums(bh,
						    (const uint8_t *)(sums +
								      first),
						    i - first));
}

/*
 * Message m (size bytes as the index says) as a frame: its header made
 * here, then its payload and user headers.  A stored header whose lengths
 * do not give that size (damage) has it all as payload, under a checksum
 * that its bytes do not give: a client sees the damage as over 0.8, and
 * the answer stays whole.
 */
static void dv_frame(struct direct *d, const uint8_t *m, uint32_t size,
		     const uint8_t *e)
{
	uint8_t *fr = dv_room(d, VB_FRAME_HDR);
	uint32_t ul = vb_ld32(m + VB_MSG_UHDR_LEN);
	uint32_t pl = vb_ld32(m + VB_MSG_PAYLOAD_LEN);

	if ((uint64_t)VB_MSG_HDR + ul + pl != size) {
		ul = 0;
		pl = size - VB_MSG_HDR;
	}
	memcpy(fr + VB_FRAME_CHECKSUM, e, 8);
	memcpy(fr + VB_FRAME_ID, m + VB_MSG_ID, VB_MSG_ID_LEN);
	memcpy(fr + VB_FRAME_OFFSET_DELTA, e + 8, 8); /* both deltas */
	vb_st32(fr + VB_FRAME_UHDR_LEN, ul);
	vb_st32(fr + VB_FRAME_PAYLOAD_LEN, pl);
	vb_st64(fr + VB_FRAME_RESERVED, 0);
	dv_add(d, fr, VB_FRAME_HDR);
	dv_add(d, m + VB_MSG_HDR, size - VB_MSG_HDR);
}

static int poll09_direct(struct vb_broker *b, struct vb_conn *c,
			 const struct vb_vsr_req *q,
			 const struct vb_poll_hdr *ph, const struct vb_span *sp,
			 size_t nsp)
{
	struct span_map map[VB_POLL_SPANS];
	struct vb_buf recs = VB_BUF_INIT;
	struct direct *d = NULL;
	struct vb_vsr_reply rh;
	uint8_t *ent = NULL;
	uint64_t *sums = NULL, *offs = NULL, total = VB_VSR_HDR + 16;
	uint32_t *size = NULL, n = 0, i = 0;
	size_t nmap = 0, rec = 0, at = 0;
	uint64_t bytes = 0;
	int done = 0;

	for (size_t j = 0; j < nsp; j++) {
		n += sp[j].n;
		bytes += sp[j].len;
	}
	if (n == 0 || n != ph->count)
		return 0;
	ent = vb_xreallocarray(NULL, n, VB_F09_ENT);
	size = vb_xreallocarray(NULL, n, sizeof(*size));
	for (size_t j = 0; j < nsp; at += sp[j++].n)
		if (sp[j].n == 0 ||
		    vb_span_f09(&sp[j], ent + at * VB_F09_ENT) ||
		    vb_span_sizes(&sp[j], size + at))
			goto out;
	for (; nmap < nsp; nmap++)
		if (span_map(&map[nmap], &sp[nmap], 0, NULL))
			goto out; /* the slow way says why */
	sums = vb_xreallocarray(NULL, n, sizeof(*sums));
	offs = vb_xreallocarray(NULL, n, sizeof(*offs));
	for (size_t j = 0, k = 0; j < nsp; j++) {
		uint64_t o = 0;

		for (uint32_t r = 0; r < sp[j].n; r++, k++) {
			sums[k] = vb_ld64(ent + k * VB_F09_ENT);
			offs[k] = o;
			o += size[k];
		}
		if (o != sp[j].len)
			goto out; /* cannot be: the index made the span */
	}
	dv_records(&recs, sp, nsp, map, ent, sums, size, offs, ph->partition_id,
		   &total);
	d = vb_xcalloc(1, sizeof(*d));
	d->c = c;
	d->copy = c->tr.ssl || c->held || c->qn || c->out.len ||
		  bytes < (uint64_t)n * DV_SMALL;
	vb_buf_reset(&b->tmp);
	vb_v09_reply_hdr(&rh, c, q, 0);
	vb_vsr_reply_begin(&b->tmp, &rh);
	vb_wire_enc_poll_hdr(&b->tmp, ph);
	vb_vsr_reply_size(b->tmp.p, (size_t)total);
	/* room made once: the pieces point into it */
	d->hlen = b->tmp.len;
	d->hcap = d->hlen + (IOV_MAX / 2) * VB_FRAME_HDR;
	d->h = vb_buf_reserve(&b->tmp, d->hcap) - d->hlen;
	dv_add(d, d->h, d->hlen);
	for (size_t j = 0; j < nsp; j++) {
		for (uint32_t r = 0; r < sp[j].n; r++, i++) {
			if (r + DV_AHEAD < sp[j].n)
				__builtin_prefetch(map[j].p +
						   offs[i + DV_AHEAD] +
						   VB_MSG_ID);
			if (dv_starts(ent, i, r)) {
				uint8_t *bh = dv_room(d, VB_BATCH_HDR);

				memcpy(bh, recs.p + VB_BATCH_HDR * rec++,
				       VB_BATCH_HDR);
				dv_add(d, bh, VB_BATCH_HDR);
			}
			dv_frame(d, map[j].p + offs[i], size[i],
				 ent + (size_t)i * VB_F09_ENT);
		}
	}
	dv_flush(d);
	done = 1;
out:
	free(d);
	free(ent);
	free(size);
	free(sums);
	free(offs);
	vb_buf_release(&recs);
	while (nmap > 0) {
		nmap--;
		munmap(map[nmap].base, map[nmap].len);
	}
	return done;
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
	struct vb_poll_hdr ph;
	struct vb_buf *raw = &b->tmp;
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
	if (poll09_direct(b, c, q, &ph, sp, nsp))
		return;
	vb_v09_reply_hdr(&h, c, q, 0);
	m = vb_vsr_reply_begin(&c->out, &h);
	vb_wire_enc_poll_hdr(&c->out, &ph);
	vb_buf_reset(raw);
	if (records_read(raw, &c->out, sp, nsp, ph.partition_id, &e)) {
		vb_broker_log(b, "0.9 poll: %s", e.msg);
		c->out.len = m;
		vb_v09_deny(c, q, VB_ST_IO_ERROR);
		return;
	}
	vb_vsr_reply_end(&c->out, m);
}
