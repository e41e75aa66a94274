/*
 * append.c - the batching appender behind vibes-append.
 *
 * Input lines are validated and collected into rounds (a batch: a run of
 * consecutive input lines, never spanning two inputs).  A sealed round is
 * turned into one send_messages frame per partition it touches, all
 * written back to back; several rounds may be in flight and the server
 * acknowledges frames strictly in order.  A round stays in memory until
 * every frame of it is acknowledged, so after a lost connection it can
 * be sent again; the total kept is bounded (--buffer), and when the bound
 * is reached input is no longer read (backpressure).
 *
 * Every message carries an id we choose: a per-process nonce and a
 * sequence number.  After a reconnect the tail of each partition that had
 * frames in flight is read back, and messages the server already stored
 * are not sent again.  The same ids let --acks find the offset of every
 * line even when other producers write to the same partitions.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "log/log-int.h"
#include "wire/status.h"
#include "base/banned.h"

#define READ_CHUNK (1u << 20)
#define PROGRESS_US 200000
#define BACKOFF_MIN_US 50000
#define BACKOFF_MAX_US 2000000

void vb_append_opts_init(struct vb_append_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->route = VB_ROUTE_FIELD;
	o->key_field = VB_LOG_KEY_FIELD;
	o->batch_lines = 1000;
	o->batch_bytes = 1u << 20;
	o->linger_us = 5000;
	o->buffer_bytes = 64u << 20;
	o->retry_us = 60000000;
}

struct frame {
	uint32_t part;
	uint32_t count;
	size_t off, len;	/* in round->wire */
	uint64_t first_seq, last_seq;
};

struct round {
	struct round *next;
	size_t input;
	uint64_t first_line, last_line;	/* input lines covered */
	uint64_t first_seq;
	uint64_t origin_us;
	uint32_t n, cap;
	struct vb_buf data;		/* payloads back to back */
	uint32_t *off, *len, *hash, *part;
	uint64_t *line;
	int routed;
	int built;
	struct vb_buf wire;
	struct frame *frames;
	uint32_t nframes, frames_cap;
	size_t sent;			/* wire bytes written */
	uint32_t acked;			/* frames acknowledged */
	uint64_t *base;			/* acks: first offset per frame */
};

struct app {
	const struct vb_append_opts *o;
	struct vb_log *l;
	struct vb_client *c;
	const struct vb_append_cb *cb;
	struct vb_append_stats *st;
	struct vb_append_input *in;
	size_t nin, cur;		/* current input */
	int in_eof;
	uint64_t lineno;		/* in the current input */
	int discarding;			/* skipping the rest of a long line */
	struct vb_buf inbuf;
	size_t inpos;
	int bad;			/* a bad line stopped the input */
	struct round *open;
	struct round *head, *tail;	/* sealed, oldest first */
	struct round *sending;		/* first round with unsent bytes */
	struct round *freelist;
	size_t kept;			/* bytes held by sealed rounds */
	uint64_t seq;
	uint8_t nonce[8];
	uint32_t key_hash;		/* VB_ROUTE_KEY / unknown key */
	uint32_t unknown_hash;
	uint32_t rr;
	uint64_t *stored;		/* per partition: highest seq stored */
	uint64_t *next_off;		/* per partition: expected next offset */
	/* scratch per partition for build() and report_acks() */
	uint32_t *cnt, *frame_of;
	size_t *bytes, *icur, *mcur, *endpos;
	uint32_t nparts;
	/* connection */
	int connected;
	int ever_connected;
	int64_t outage_since;		/* 0 when not in an outage */
	int64_t next_try;
	int64_t backoff;
	int topo_errors;
	struct vb_err last_err;
	uint8_t rx[8192];
	size_t rxlen;
	uint32_t skip;			/* response payload bytes to skip */
	int64_t last_input, last_progress;
	char scratch[256];
	struct vb_buf hdr;
};

/* ---- rounds ---- */

static struct round *round_get(struct app *a)
{
	struct round *r = a->freelist;

	if (r)
		a->freelist = r->next;
	else {
		r = vb_xcalloc(1, sizeof(*r));
		vb_buf_init(&r->data);
		vb_buf_init(&r->wire);
	}
	r->next = NULL;
	r->n = 0;
	r->routed = r->built = 0;
	r->nframes = 0;
	r->sent = 0;
	r->acked = 0;
	vb_buf_reset(&r->data);
	vb_buf_reset(&r->wire);
	r->input = a->cur;
	r->first_line = a->lineno + 1;
	r->last_line = a->lineno;
	r->first_seq = a->seq;
	return r;
}

static void round_put(struct app *a, struct round *r)
{
	/* Keep big buffers from pinning memory forever. */
	if (r->data.cap > (8u << 20))
		vb_buf_release(&r->data);
	if (r->wire.cap > (8u << 20))
		vb_buf_release(&r->wire);
	r->next = a->freelist;
	a->freelist = r;
}

static void round_free(struct round *r)
{
	vb_buf_release(&r->data);
	vb_buf_release(&r->wire);
	free(r->off);
	free(r->len);
	free(r->hash);
	free(r->part);
	free(r->line);
	free(r->frames);
	free(r->base);
	free(r);
}

static size_t round_bytes(const struct round *r)
{
	return r->data.len + r->wire.len + (size_t)r->n * 32;
}

static void round_add(struct round *r, const char *p, size_t n,
		      uint32_t hash, uint64_t line)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		r->off = vb_xreallocarray(r->off, r->cap, sizeof(*r->off));
		r->len = vb_xreallocarray(r->len, r->cap, sizeof(*r->len));
		r->hash = vb_xreallocarray(r->hash, r->cap, sizeof(*r->hash));
		r->part = vb_xreallocarray(r->part, r->cap, sizeof(*r->part));
		r->line = vb_xreallocarray(r->line, r->cap, sizeof(*r->line));
	}
	r->off[r->n] = (uint32_t)r->data.len;
	r->len[r->n] = (uint32_t)n;
	r->hash[r->n] = hash;
	r->line[r->n] = line;
	r->n++;
	vb_buf_add(&r->data, p, n);
}

static void seal(struct app *a)
{
	struct round *r = a->open;

	a->open = NULL;
	if (r == NULL)
		return;
	if (r->n == 0 && (r->last_line < r->first_line || a->head == NULL)) {
		/* nothing to send: blank lines ahead of nothing in flight */
		if (r->last_line >= r->first_line) {
			a->st->ack_input = r->input;
			a->st->ack_line = r->last_line;
		}
		round_put(a, r);
		return;
	}
	r->origin_us = 0;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->origin_us = (uint64_t)ts.tv_sec * 1000000 +
			       (uint64_t)ts.tv_nsec / 1000;
	}
	if (a->tail)
		a->tail->next = r;
	else
		a->head = r;
	a->tail = r;
	if (a->sending == NULL)
		a->sending = r;
	a->kept += round_bytes(r);
}

/* ---- ids ---- */

static void make_id(const struct app *a, uint64_t seq, uint8_t id[16])
{
	memcpy(id, a->nonce, 8);
	for (int k = 0; k < 8; k++)
		id[8 + k] = (uint8_t)(seq >> (56 - 8 * k));
	id[8] = (uint8_t)(0x80 | (id[8] & 0x3f));	/* RFC 4122 variant */
}

/* The sequence number of one of our ids, or -1 for someone else's. */
static int64_t id_seq(const struct app *a, const uint8_t id[16])
{
	uint64_t s = 0;

	if (memcmp(id, a->nonce, 8) != 0 || (id[8] & 0xc0) != 0x80)
		return -1;
	for (int k = 0; k < 8; k++)
		s = s << 8 | id[8 + k];
	return (int64_t)(s & 0x3fffffffffffffffull);
}

/* ---- wire ---- */

static void route(struct app *a, struct round *r)
{
	uint32_t p = 0;

	if (r->routed)
		return;
	if (a->o->route == VB_ROUTE_BALANCED)
		p = a->rr++ % a->nparts;
	else if (a->o->route == VB_ROUTE_PARTITION)
		p = a->o->partition;
	for (uint32_t i = 0; i < r->n; i++)
		r->part[i] = (a->o->route == VB_ROUTE_FIELD ||
			      a->o->route == VB_ROUTE_KEY) ?
				     r->hash[i] % a->nparts : p;
	r->routed = 1;
}

/*
 * Builds the frames of r: one send_messages per partition, holding the
 * round's messages of that partition that are not known to be stored.
 */
static int stored_already(const struct app *a, uint32_t p, uint64_t seq)
{
	return a->stored[p] != UINT64_MAX && seq <= a->stored[p];
}

static void build(struct app *a, struct round *r)
{
	uint32_t np = a->nparts;
	struct vb_buf *h = &a->hdr;

	route(a, r);
	memset(a->cnt, 0, np * sizeof(*a->cnt));
	memset(a->bytes, 0, np * sizeof(*a->bytes));
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t p = r->part[i];

		if (stored_already(a, p, r->first_seq + i))
			continue;
		a->cnt[p]++;
		a->bytes[p] += VB_MSG_HDR + r->len[i];
	}
	vb_buf_reset(&r->wire);
	r->nframes = 0;
	r->sent = 0;
	r->acked = 0;
	for (uint32_t p = 0; p < np; p++) {
		size_t meta, start = r->wire.len;
		size_t ilen = (size_t)a->cnt[p] * VB_INDEX_ENTRY;
		struct frame *f;

		if (a->cnt[p] == 0)
			continue;
		if (r->nframes == r->frames_cap) {
			r->frames_cap = r->frames_cap ? 2 * r->frames_cap : 8;
			r->frames = vb_xreallocarray(r->frames, r->frames_cap,
						     sizeof(*r->frames));
			r->base = vb_xreallocarray(r->base, r->frames_cap,
						   sizeof(*r->base));
		}
		f = &r->frames[r->nframes++];
		/* frame header and metadata, encoded on the stack */
		vb_buf_reset(h);
		vb_buf_u32(h, 0);
		vb_buf_u32(h, VB_CMD_SEND_MESSAGES);
		vb_buf_u32(h, 0);
		meta = h->len;
		vb_wire_enc_ident(h, &a->l->stream);
		vb_wire_enc_ident(h, &a->l->topic);
		vb_buf_u8(h, VB_PART_ID);
		vb_buf_u8(h, 4);
		vb_buf_u32(h, p);
		vb_buf_u32(h, a->cnt[p]);
		vb_st32(h->p + meta - 4, (uint32_t)(h->len - meta));
		vb_st32(h->p, (uint32_t)(h->len - 4 + ilen + a->bytes[p]));
		vb_buf_add(&r->wire, h->p, h->len);
		a->icur[p] = r->wire.len;
		a->mcur[p] = r->wire.len + ilen;
		a->endpos[p] = 0;
		vb_buf_reserve(&r->wire, ilen + a->bytes[p]);
		memset(r->wire.p + r->wire.len, 0, ilen);
		r->wire.len += ilen + a->bytes[p];
		f->part = p;
		f->count = a->cnt[p];
		f->off = start;
		f->len = r->wire.len - start;
		f->first_seq = UINT64_MAX;
		f->last_seq = 0;
		a->frame_of[p] = r->nframes - 1;
	}
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t p = r->part[i], len = r->len[i];
		uint64_t seq = r->first_seq + i;
		struct frame *f;
		uint8_t *m;

		if (stored_already(a, p, seq))
			continue;
		f = &r->frames[a->frame_of[p]];
		if (f->first_seq == UINT64_MAX)
			f->first_seq = seq;
		f->last_seq = seq;
		a->endpos[p] += VB_MSG_HDR + len;
		vb_st32(r->wire.p + a->icur[p] + 4, (uint32_t)a->endpos[p]);
		a->icur[p] += VB_INDEX_ENTRY;
		m = r->wire.p + a->mcur[p];
		memset(m, 0, VB_MSG_HDR);
		make_id(a, seq, m + 8);
		vb_st64(m + 40, r->origin_us);
		vb_st32(m + 52, len);
		memcpy(m + VB_MSG_HDR, r->data.p + r->off[i], len);
		a->mcur[p] += VB_MSG_HDR + len;
	}
	a->kept += r->wire.len;
	r->built = 1;
}

/* ---- connection ---- */

static void lost(struct app *a, const struct vb_err *why)
{
	if (why)
		a->last_err = *why;
	vb_client_close(a->c);
	a->connected = 0;
	a->rxlen = 0;
	a->skip = 0;
	if (a->outage_since == 0) {
		a->outage_since = vb_log_now_us();
		a->backoff = BACKOFF_MIN_US;
		a->next_try = 0;
		a->st->reconnects++;
		if (a->cb->notice) {
			char msg[700];

			snprintf(msg, sizeof(msg), a->ever_connected ?
				 "connection lost (%s); reconnecting" :
				 "cannot reach the server (%s); retrying",
				 a->last_err.msg);
			a->cb->notice(a->cb->arg, msg);
		}
	}
}

/*
 * After a reconnect: reads back the tail of every partition that had
 * frames written but not acknowledged, and records what the server
 * already stored, so it is not sent twice.
 */
static int dedup(struct app *a, struct vb_err *e)
{
	for (uint32_t p = 0; p < a->nparts; p++) {
		uint64_t pending = 0;
		int touched = 0;

		for (struct round *r = a->head; r; r = r->next) {
			if (!r->built || r->sent == 0)
				continue;
			for (uint32_t k = r->acked; k < r->nframes; k++)
				if (r->frames[k].part == p &&
				    r->frames[k].off < r->sent) {
					touched = 1;
					pending += r->frames[k].count;
				}
		}
		if (!touched)
			continue;
		struct vb_req q;
		struct vb_poll_hdr h;
		struct vb_rd rd;
		struct vb_msg m;
		int rc;
		uint64_t want = pending + 4096;

		vb_req_init(&q, VB_CMD_POLL_MESSAGES);
		vb_log_who(&q.consumer, 0, "vibes-append", e);
		q.stream = a->l->stream;
		q.topic = a->l->topic;
		q.part.present = 1;
		q.part.id = p;
		q.strategy = VB_POLL_LAST;
		q.count = want > 1000000 ? 1000000 : (uint32_t)want;
		if (vb_client_poll(a->c, &q, &h, &rd, e))
			return -1;
		while ((rc = vb_wire_dec_msg(&rd, &m, e)) == 1) {
			int64_t s = id_seq(a, m.id);

			if (s >= 0 && ((uint64_t)s > a->stored[p] ||
				       a->stored[p] == UINT64_MAX))
				a->stored[p] = (uint64_t)s;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void reset_wires(struct app *a)
{
	for (struct round *r = a->head; r; r = r->next)
		if (r->built) {
			a->kept -= r->wire.len;
			vb_buf_reset(&r->wire);
			r->built = 0;
			r->nframes = 0;
			r->sent = 0;
			r->acked = 0;
		}
	a->sending = a->head;
}

static int setup_topology(struct app *a, struct vb_err *e)
{
	uint32_t old = a->nparts;

	if (vb_log_bootstrap(a->l, e))
		return -1;
	if (old && a->l->nparts != old)
		return vb_err_set(e, VB_E_STATE,
				  "topic %s/%s changed from %u to %u partitions while appending",
				  a->l->stream.name.s, a->l->topic.name.s, old,
				  a->l->nparts);
	a->nparts = a->l->nparts;
	if (a->o->route == VB_ROUTE_PARTITION && a->o->partition >= a->nparts)
		return vb_err_set(e, VB_E_USAGE,
				  "partition %u does not exist (topic %s/%s has %u)",
				  a->o->partition, a->l->stream.name.s,
				  a->l->topic.name.s, a->nparts);
	if (old == 0) {
		a->stored = vb_xcalloc(a->nparts, sizeof(*a->stored));
		a->next_off = vb_xcalloc(a->nparts, sizeof(*a->next_off));
		a->cnt = vb_xcalloc(a->nparts, sizeof(*a->cnt));
		a->frame_of = vb_xcalloc(a->nparts, sizeof(*a->frame_of));
		a->bytes = vb_xcalloc(a->nparts, sizeof(*a->bytes));
		a->icur = vb_xcalloc(a->nparts, sizeof(*a->icur));
		a->mcur = vb_xcalloc(a->nparts, sizeof(*a->mcur));
		a->endpos = vb_xcalloc(a->nparts, sizeof(*a->endpos));
		for (uint32_t p = 0; p < a->nparts; p++)
			a->stored[p] = UINT64_MAX;	/* nothing yet */
		a->rr = (uint32_t)(a->nonce[1] << 8 | a->nonce[2]);
	}
	for (uint32_t p = 0; p < a->nparts; p++)
		a->next_off[p] = vb_log_part_end(&a->l->parts[p]);
	return 0;
}

static int fatal_kind(const struct vb_err *e)
{
	return e->kind == VB_E_AUTH || e->kind == VB_E_USAGE ||
	       e->kind == VB_E_STATE ||
	       (e->kind == VB_E_SERVER &&
		e->status != VB_ST_STREAM_ID_NOT_FOUND &&
		e->status != VB_ST_TOPIC_ID_NOT_FOUND);
}

/* Returns 0 when connected, 1 to wait, -1 to give up. */
static int ensure_connected(struct app *a, struct vb_err *e)
{
	int64_t now;

	if (a->connected)
		return 0;
	now = vb_log_now_us();
	if (a->outage_since && a->o->stop && *a->o->stop) {
		vb_err_set(e, VB_E_UNAVAIL, "interrupted while the server was unavailable: %s",
			   a->last_err.msg);
		return -1;
	}
	if (now < a->next_try)
		return 1;
	if (a->outage_since && now - a->outage_since > (int64_t)a->o->retry_us)
		goto give_up;
	if (!vb_client_connected(a->c) &&
	    a->cb->connect(a->cb->arg, a->c, e)) {
		if (fatal_kind(e))
			return -1;
		goto retry;
	}
	if (setup_topology(a, e) || dedup(a, e)) {
		if (fatal_kind(e))
			return -1;
		goto retry;
	}
	reset_wires(a);
	a->connected = 1;
	a->ever_connected = 1;
	if (a->outage_since && a->cb->notice)
		a->cb->notice(a->cb->arg, "reconnected");
	a->outage_since = 0;
	return 0;
retry:
	lost(a, e);
	now = vb_log_now_us();
	if (now - a->outage_since > (int64_t)a->o->retry_us)
		goto give_up;
	a->next_try = now + a->backoff;
	a->backoff = a->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US :
						       a->backoff * 2;
	return 1;
give_up:
	vb_err_set(e, VB_E_UNAVAIL, "server unavailable for %llu s, giving up: %s",
		   (unsigned long long)(a->o->retry_us / 1000000),
		   a->last_err.msg);
	return -1;
}

/* ---- acknowledgements ---- */

/*
 * Finds the offset of the message with sequence number seq in partition
 * p, starting at the expected offset.  Only --acks needs this.
 */
static int find_offset(struct app *a, uint32_t p, uint64_t seq, uint64_t *off,
		       struct vb_err *e)
{
	struct vb_req q;
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_msg m;
	uint32_t window = 1;
	int rc;

	vb_req_init(&q, VB_CMD_POLL_MESSAGES);
	vb_log_who(&q.consumer, 0, "vibes-append", e);
	q.stream = a->l->stream;
	q.topic = a->l->topic;
	q.part.present = 1;
	q.part.id = p;
	q.strategy = VB_POLL_OFFSET;
	q.value = a->next_off[p];
	q.count = 1;
	for (;;) {
		if (vb_client_poll(a->c, &q, &h, &rd, e))
			return -1;
		while ((rc = vb_wire_dec_msg(&rd, &m, e)) == 1)
			if (id_seq(a, m.id) == (int64_t)seq) {
				*off = m.offset;
				return 0;
			}
		if (rc < 0)
			return -1;
		/* Someone else wrote in between: look at the tail. */
		if (window >= 1u << 24)
			return vb_err_set(e, VB_E_STATE,
					  "partition %u: cannot find the message just sent",
					  p);
		window = window < 1024 ? 1024 : window * 4;
		q.strategy = VB_POLL_LAST;
		q.value = 0;
		q.count = window;
	}
}

static void report_acks(struct app *a, struct round *r)
{
	const char *name = a->in[r->input].name;

	memset(a->cnt, 0, a->nparts * sizeof(*a->cnt));
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t p = r->part[i];
		uint64_t off = 0;

		for (uint32_t k = 0; k < r->nframes; k++)
			if (r->frames[k].part == p) {
				off = r->base[k] + a->cnt[p]++;
				break;
			}
		a->cb->ack(a->cb->arg, name, r->line[i], p, off);
	}
}

static int round_done(struct app *a, struct vb_err *e)
{
	struct round *r = a->head;

	if (a->o->acks) {
		for (uint32_t k = 0; k < r->nframes; k++) {
			struct frame *f = &r->frames[k];

			if (find_offset(a, f->part, f->first_seq, &r->base[k],
					e))
				return -1;
			a->next_off[f->part] = r->base[k] + f->count;
		}
		if (a->cb->ack)
			report_acks(a, r);
	}
	a->head = r->next;
	if (a->head == NULL)
		a->tail = NULL;
	if (a->sending == r)
		a->sending = r->next;
	a->kept -= round_bytes(r);
	a->st->sent += r->n;
	a->st->bytes += r->data.len;
	a->st->ack_input = r->input;
	a->st->ack_line = r->last_line;
	a->st->done_input = 0;
	round_put(a, r);
	return 0;
}

/* Completes rounds at the head that have nothing (left) to acknowledge. */
static int complete_empty(struct app *a, struct vb_err *e)
{
	while (a->head && a->head->built && a->head->nframes == 0)
		if (round_done(a, e))
			return -1;
	return 0;
}

/* Consumes acknowledgements in a->rx. */
static int take_acks(struct app *a, struct vb_err *e)
{
	size_t at = 0;

	while (a->rxlen - at >= (a->skip ? 1 : VB_RESP_HDR)) {
		if (a->skip) {
			size_t k = a->rxlen - at < a->skip ? a->rxlen - at :
							     a->skip;

			at += k;
			a->skip -= (uint32_t)k;
			continue;
		}
		uint32_t status, len;
		struct round *r = a->head;

		vb_wire_resp_hdr(a->rx + at, &status, &len);
		at += VB_RESP_HDR;
		a->skip = len;
		if (r == NULL || !r->built || r->acked >= r->nframes)
			return vb_err_set(e, VB_E_PROTO,
					  "unexpected answer from the server");
		struct frame *f = &r->frames[r->acked];

		if (status) {
			vb_client_status_err(e, status, "send_messages");
			if (!fatal_kind(e) && ++a->topo_errors < 4) {
				/* topic deleted under us: recreate, resend */
				lost(a, e);
				a->next_try = 0;
				return 0;
			}
			vb_err_prefix(e, "partition %u", f->part);
			return -1;
		}
		a->topo_errors = 0;
		a->stored[f->part] = f->last_seq;
		r->acked++;
		if (r->acked == r->nframes && r->sent == r->wire.len &&
		    (round_done(a, e) || complete_empty(a, e)))
			return -1;
	}
	memmove(a->rx, a->rx + at, a->rxlen - at);
	a->rxlen -= at;
	return 0;
}

static int do_read(struct app *a, struct vb_err *e)
{
	for (;;) {
		ssize_t n = recv(a->c->fd, a->rx + a->rxlen,
				 sizeof(a->rx) - a->rxlen, MSG_DONTWAIT);

		if (n > 0) {
			a->rxlen += (size_t)n;
			if (take_acks(a, e))
				return -1;
			if (!a->connected)
				return 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		struct vb_err why;

		if (n == 0)
			vb_err_set(&why, VB_E_UNAVAIL,
				   "connection closed by the server");
		else
			vb_err_sys(&why, VB_E_UNAVAIL, "receiving");
		lost(a, &why);
		return 0;
	}
}

static int do_write(struct app *a, struct vb_err *e)
{
	while (a->sending) {
		struct round *r = a->sending;

		if (a->o->acks && r != a->head)
			return 0;	/* one round at a time */
		if (!r->built) {
			build(a, r);
			if (r->nframes == 0) {
				a->sending = r->next;
				if (complete_empty(a, e))
					return -1;
				continue;
			}
		}
		while (r->sent < r->wire.len) {
			ssize_t n = send(a->c->fd, r->wire.p + r->sent,
					 r->wire.len - r->sent,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0) {
				r->sent += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return 0;
			struct vb_err why;

			vb_err_sys(&why, VB_E_UNAVAIL, "sending");
			lost(a, &why);
			return 0;
		}
		a->sending = r->next;
	}
	return 0;
}

/* ---- input ---- */

static void key_of(struct app *a, const struct vb_json_scan *s,
		   uint32_t *hash)
{
	if (s->field_type == VB_JSON_STRING) {
		if (!s->val_escaped) {
			*hash = vb_xxh32(s->val, s->val_len);
			return;
		}
		char *tmp = s->val_len <= sizeof(a->scratch) ? a->scratch :
				vb_xmalloc(s->val_len);
		size_t n = vb_json_unescape(s->val, s->val_len, tmp);

		*hash = vb_xxh32(tmp, n);
		if (tmp != a->scratch)
			free(tmp);
		return;
	}
	if (s->field_type == VB_JSON_NUMBER) {
		*hash = vb_xxh32(s->val, s->val_len);
		return;
	}
	*hash = a->unknown_hash;
}

static void invalid(struct app *a, const char *reason, size_t byte)
{
	a->st->invalid++;
	if (a->cb->invalid)
		a->cb->invalid(a->cb->arg, a->in[a->cur].name, a->lineno,
			       reason, byte);
	if (a->o->skip_invalid) {
		if (a->open)
			a->open->last_line = a->lineno;
		return;
	}
	/* Nothing from this batch on is sent. */
	a->bad = 1;
	if (a->open) {
		round_put(a, a->open);
		a->open = NULL;
	}
}

static void line(struct app *a, const char *p, size_t n)
{
	struct vb_json_scan s;
	uint32_t hash = a->key_hash;

	a->lineno++;
	a->st->lines++;
	if (a->open == NULL)
		a->open = round_get(a);
	s.field = a->o->route == VB_ROUTE_FIELD ? a->o->key_field : NULL;
	s.field_len = s.field ? strlen(s.field) : 0;
	if (n > VB_LOG_LINE_MAX) {
		invalid(a, "line too long (the limit is 64000000 bytes)",
			VB_LOG_LINE_MAX + 1);
		return;
	}
	if (vb_json_scan(&s, p, n)) {
		invalid(a, s.reason, s.err_off + 1);
		return;
	}
	if (s.blank) {
		a->st->blank++;
		a->open->last_line = a->lineno;
		return;
	}
	if (a->o->route == VB_ROUTE_FIELD)
		key_of(a, &s, &hash);
	round_add(a->open, p, n, hash, a->lineno);
	a->seq++;
	a->open->last_line = a->lineno;
	if (a->open->n >= a->o->batch_lines ||
	    a->open->data.len >= a->o->batch_bytes)
		seal(a);
}

/* Splits the buffered input into lines; keeps an incomplete tail. */
static void lines(struct app *a, int eof)
{
	char *b = (char *)a->inbuf.p;
	size_t end = a->inbuf.len, at = a->inpos;

	while (!a->bad && at < end) {
		char *nl = memchr(b + at, '\n', end - at);

		if (a->discarding) {
			if (nl == NULL) {
				at = end;
				break;
			}
			a->discarding = 0;
			at = (size_t)(nl - b) + 1;
			continue;
		}
		if (nl == NULL) {
			if (end - at > VB_LOG_LINE_MAX) {
				line(a, b + at, end - at);	/* too long */
				a->discarding = 1;
				at = end;
			} else if (eof) {
				line(a, b + at, end - at);
				at = end;
			}
			break;
		}
		line(a, b + at, (size_t)(nl - b) - at);
		at = (size_t)(nl - b) + 1;
	}
	if (at == end) {
		vb_buf_reset(&a->inbuf);
		a->inpos = 0;
	} else if (at > READ_CHUNK) {
		vb_buf_consume(&a->inbuf, at);
		a->inpos = 0;
	} else
		a->inpos = at;
}

static void next_input(struct app *a)
{
	seal(a);
	a->cur++;
	a->lineno = 0;
	a->in_eof = 0;
	a->discarding = 0;
	vb_buf_reset(&a->inbuf);
	a->inpos = 0;
}

static int inputs_done(const struct app *a)
{
	return a->bad || a->cur >= a->nin || (a->o->stop && *a->o->stop);
}

/*
 * Reads once from the current input, which poll() said is readable (the
 * descriptor stays blocking: it may be shared with other processes, a
 * terminal for one, and O_NONBLOCK would leak to them).
 */
static int do_input(struct app *a, struct vb_err *e)
{
	struct vb_append_input *in = &a->in[a->cur];
	uint8_t *d;
	ssize_t n;

	if (inputs_done(a))
		return 0;
	d = vb_buf_reserve(&a->inbuf, READ_CHUNK);
	n = read(in->fd, d, READ_CHUNK);
	if (n > 0) {
		a->inbuf.len += (size_t)n;
		a->last_input = vb_log_now_us();
		lines(a, 0);
		return 0;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		return vb_err_sys(e, VB_E_IO, "reading %s",
				  strcmp(in->name, "-") ? in->name : "stdin");
	lines(a, 1);
	next_input(a);
	return 0;
}

/* ---- main loop ---- */

static void progress(struct app *a, int force)
{
	int64_t now = vb_log_now_us();

	if (!a->cb->progress || (!force && now - a->last_progress < PROGRESS_US))
		return;
	a->last_progress = now;
	a->cb->progress(a->cb->arg, a->st);
}

static void final_stats(struct app *a)
{
	struct vb_append_stats *st = a->st;

	/* Messages past the acknowledged prefix that got through anyway. */
	st->extra_acked = 0;
	if (a->stored)
		for (struct round *r = a->head; r; r = r->next)
			for (uint32_t i = 0; i < r->n; i++) {
				if (!r->routed)
					continue;
				uint64_t s = a->stored[r->part[i]];

				if (s != UINT64_MAX && r->first_seq + i <= s)
					st->extra_acked++;
			}
	if (a->head == NULL && !a->bad && a->cur >= a->nin) {
		st->ack_input = a->nin ? a->nin - 1 : 0;
		st->done_input = 1;
	}
}

int vb_append_run(const struct vb_append_opts *o, struct vb_log *l,
		  struct vb_append_input *in, size_t nin,
		  const struct vb_append_cb *cb, struct vb_append_stats *st,
		  struct vb_err *e)
{
	struct app *a = vb_xcalloc(1, sizeof(*a));
	int rc = -1;

	memset(st, 0, sizeof(*st));
	a->o = o;
	a->l = l;
	a->c = l->c;
	a->cb = cb;
	a->st = st;
	a->in = in;
	a->nin = nin;
	vb_buf_init(&a->inbuf);
	vb_err_clear(&a->last_err);
	if (getrandom(a->nonce, sizeof(a->nonce), 0) != sizeof(a->nonce)) {
		uint64_t t = (uint64_t)vb_log_now_us() ^ (uint64_t)getpid() << 32;

		memcpy(a->nonce, &t, 8);
	}
	a->nonce[6] = (uint8_t)(0x40 | (a->nonce[6] & 0x0f));	/* v4 look */
	a->unknown_hash = vb_xxh32(VB_LOG_UNKNOWN_KEY,
				   strlen(VB_LOG_UNKNOWN_KEY));
	if (o->route == VB_ROUTE_KEY)
		a->key_hash = vb_xxh32(o->key, strlen(o->key));
	a->connected = 0;

	for (;;) {
		struct pollfd pfd[2];
		int npfd = 0, want_in, timeout = -1, crc;
		int64_t now, t;

		if (inputs_done(a) && a->open) {
			if (a->bad) {
				round_put(a, a->open);
				a->open = NULL;
			} else
				seal(a);
		}
		if (inputs_done(a) && a->head == NULL)
			break;
		crc = 0;
		if (a->head) {
			crc = ensure_connected(a, e);
			if (crc < 0)
				goto out;
		}
		if (a->connected) {
			if (do_write(a, e))
				goto out;
		}
		want_in = !inputs_done(a) &&
			  a->kept + (a->open ? round_bytes(a->open) : 0) <
				  o->buffer_bytes;
		if (want_in) {
			pfd[npfd].fd = in[a->cur].fd;
			pfd[npfd].events = POLLIN;
			npfd++;
		}
		if (a->connected) {
			pfd[npfd].fd = a->c->fd;
			pfd[npfd].events = POLLIN;
			if (a->sending && !(o->acks && a->sending != a->head))
				pfd[npfd].events |= POLLOUT;
			npfd++;
		}
		now = vb_log_now_us();
		if (a->open && a->open->n > 0) {
			t = a->last_input + (int64_t)o->linger_us - now;
			if (t <= 0) {
				seal(a);
				continue;
			}
			timeout = (int)((t + 999) / 1000);
		}
		if (crc == 1) {
			t = (a->next_try - now + 999) / 1000;
			if (timeout < 0 || t < timeout)
				timeout = t < 0 ? 0 : (int)t;
		}
		if (cb->progress && (timeout < 0 || timeout > 200))
			timeout = 200;
		if (npfd == 0 && timeout < 0)
			timeout = 10;
		int n = poll(pfd, (nfds_t)npfd, timeout);

		if (n < 0 && errno != EINTR) {
			vb_err_sys(e, VB_E_IO, "poll");
			goto out;
		}
		progress(a, 0);
		if (n <= 0)
			continue;
		for (int k = 0; k < npfd; k++) {
			if (!pfd[k].revents)
				continue;
			if (want_in && k == 0) {
				if (do_input(a, e))
					goto out;
				/* No more input right now: send a partial batch
				 * when lingering is off. */
				if (o->linger_us == 0)
					seal(a);
				continue;
			}
			if (!a->connected)
				continue;
			if (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))
				if (do_read(a, e))
					goto out;
			if (a->connected && (pfd[k].revents & POLLOUT))
				if (do_write(a, e))
					goto out;
		}
	}
	rc = 0;
	if (a->bad) {
		rc = vb_err_set(e, VB_E_DATA, "invalid input");
	}
out:
	progress(a, 1);
	final_stats(a);
	if (a->open)
		round_free(a->open);
	while (a->head) {
		struct round *r = a->head;

		a->head = r->next;
		round_free(r);
	}
	while (a->freelist) {
		struct round *r = a->freelist;

		a->freelist = r->next;
		round_free(r);
	}
	vb_buf_release(&a->inbuf);
	vb_buf_release(&a->hdr);
	free(a->stored);
	free(a->next_off);
	free(a->cnt);
	free(a->frame_of);
	free(a->bytes);
	free(a->icur);
	free(a->mcur);
	free(a->endpos);
	free(a);
	return rc;
}
