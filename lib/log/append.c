/*
 * append.c - the batching appender behind vibes-append.
 *
 * Input lines are validated and collected into rounds (a batch: a run of
 * consecutive input lines, never spanning two inputs).  A sealed round is
 * turned into one send_messages frame per partition it touches and queued
 * on the pipelined client; many rounds may be in flight, and the server
 * answers strictly in order.  A round stays in memory until every line of
 * it is stored, so it can be sent again; the total kept is bounded
 * (--buffer), and at the bound input is no longer read (backpressure).
 *
 * Every message carries an id we choose: a per-process nonce and a
 * sequence number.  That makes the account exact.  Each line is pending
 * (not stored: to be sent), in a frame on the wire, stored, or in doubt
 * (its frame was written and the connection ended before the answer).
 * Whatever ended the connection, the one way back is: connect again (the
 * connect callback finds the server, as any tool does), look the topic
 * up, and read each partition with lines in doubt from a lower bound of
 * where they can be, so each one is found stored, at its offset, or known
 * not to be; then send what is pending, in order.
 *
 * Offsets (--acks): the server's answer to send_messages is empty in 0.8,
 * so a poll of one message at the predicted offset rides right behind
 * every frame; when another producer got in between, a search from the
 * frame's lower bound follows.  Lower bounds: a partition's end when we
 * last synced, plus every frame of ours stored since (ours cannot be
 * below them), raised by every base learned.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "log/log-int.h"
#include "wire/status.h"
#include "base/banned.h"

/*
 * Reads start at READ_FIRST bytes and double while they come back full,
 * up to READ_CHUNK: one event does not pay for a megabyte of buffer.
 */
#define READ_FIRST (64u << 10)
#define READ_CHUNK (1u << 20)
#define PROGRESS_US 200000
#define BACKOFF_MIN_US 50000
#define BACKOFF_MAX_US 2000000
#define SCAN_COUNT 4096	      /* messages per poll when reading back */
#define SEARCH_MAX (1u << 16) /* largest search window */
#define TOPO_FAULTS_MAX 4     /* topic vanished this often in a row: give up */

enum line_state {
	LINE_PENDING, /* not stored: to be sent */
	LINE_WIRE,    /* in a frame of the current connection */
	LINE_DOUBT,   /* its frame was written; no answer came */
	LINE_STORED,
};

#define NO_FRAME UINT32_MAX

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

enum frame_state { F_QUEUED, F_ACKED, F_FAILED };

struct frame {
	uint32_t part;
	uint32_t count;
	size_t off, len; /* in round->wire */
	uint64_t first_seq;
	uint32_t first; /* index in the round of its first line */
	uint8_t state;
	uint8_t based; /* acks: base offset known */
	uint64_t lb;   /* its base is at least this */
	uint64_t pred; /* acks: predicted base */
};

struct round {
	struct round *next;
	size_t input;
	uint64_t first_line, last_line; /* input lines covered */
	uint64_t first_seq;
	uint64_t origin_us;
	uint32_t n, cap;
	struct vb_buf data; /* payloads back to back */
	uint32_t *off, *len, *hash, *part;
	uint64_t *line;
	uint8_t *state;	       /* enum line_state */
	uint32_t *frame;       /* its frame in the current build */
	uint64_t *offset;      /* acks: VB_NO_OFFSET until known */
	uint32_t *koff, *klen; /* the key, in keys (or the fixed key) */
	struct vb_buf keys;
	uint32_t nstored, nknown;
	int routed;
	int built;  /* wire holds this connection's frames */
	int queued; /* ... and they are on the client */
	struct vb_buf wire;
	struct frame *frames;
	uint32_t nframes, frames_cap;
};

enum expect_kind { X_SEND, X_LOOKUP, X_SEARCH };

/* An answer the connection owes us, in request order. */
struct expect {
	uint8_t kind;
	struct round *r;
	uint32_t frame;
	uint32_t count; /* X_SEARCH: window */
};

enum fault {
	FAULT_NONE,
	FAULT_RESYNC,	 /* reconnect at once (topic gone, odd answer) */
	FAULT_TRANSIENT, /* the server cannot store now: back off */
	FAULT_FATAL,	 /* give up once every answer is in */
};

struct app {
	const struct vb_append_opts *o;
	struct vb_log *l;
	struct vb_client *c;
	const struct vb_append_cb *cb;
	struct vb_append_stats *st;
	struct vb_append_input *in;
	size_t nin, cur;    /* current input */
	uint64_t *in_lines; /* lines of each input read to its end */
	uint64_t lineno;    /* in the current input */
	int discarding;	    /* skipping the rest of a long line */
	struct vb_buf inbuf;
	size_t inpos;
	size_t chunk; /* the next read's size */
	int bad;      /* a bad line stopped the input */
	struct round *open;
	struct round *head, *tail; /* sealed, oldest first */
	struct round *freelist;
	size_t kept; /* bytes held by sealed rounds */
	/* acknowledged prefix: inputs before done_input, lines of it <= */
	size_t done_input;
	uint64_t done_line;
	uint64_t seq;
	uint8_t nonce[8];
	uint32_t key_hash; /* VB_ROUTE_KEY */
	uint32_t unknown_hash;
	uint32_t rr;
	uint32_t nparts;
	uint64_t *lb;	/* per partition: our next is >= */
	uint64_t *pred; /* acks: predicted next base */
	/* scratch per partition for build() */
	uint32_t *cnt, *frame_of;
	uint64_t *bytes;
	struct vb_send_builder *sb;
	struct vb_buf *sums; /* 0.9: each builder's frame checksums */
	struct vb_buf uh;    /* a message's user headers */
	/* expected answers, a ring */
	struct expect *x;
	size_t xcap, xhead, xn;
	/* connection */
	int up; /* synced: frames may be queued */
	int ever_up;
	uint32_t topic_id; /* identity at the last sync */
	uint64_t topic_created;
	enum fault fault;
	struct vb_err fault_err;
	int topo_faults;
	int64_t outage_since; /* 0 when not in an outage */
	int announced;	      /* waiting() was called */
	int64_t next_try;
	int64_t backoff;
	int64_t last_answer; /* when an answer last came */
	char orphan[80];     /* a connection we closed in flight */
	struct vb_err last_err;
	int64_t last_input, last_progress;
	char scratch[256];
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
		vb_buf_init(&r->keys);
	}
	r->next = NULL;
	r->n = 0;
	r->nstored = r->nknown = 0;
	r->routed = r->built = r->queued = 0;
	r->nframes = 0;
	vb_buf_reset(&r->data);
	vb_buf_reset(&r->wire);
	vb_buf_reset(&r->keys);
	r->input = a->cur;
	r->first_line = a->lineno + 1;
	r->last_line = a->lineno;
	r->first_seq = a->seq;
	return r;
}

static void round_put(struct app *a, struct round *r)
{
	/* Keep big buffers from pinning memory forever (a lock-step round
	 * holds up to 8 MiB of lines and their frames). */
	if (r->data.cap > (16u << 20))
		vb_buf_release(&r->data);
	if (r->wire.cap > (24u << 20))
		vb_buf_release(&r->wire);
	if (r->keys.cap > (16u << 20))
		vb_buf_release(&r->keys);
	r->next = a->freelist;
	a->freelist = r;
}

static void round_free(struct round *r)
{
	vb_buf_release(&r->data);
	vb_buf_release(&r->wire);
	vb_buf_release(&r->keys);
	free(r->koff);
	free(r->klen);
	free(r->off);
	free(r->len);
	free(r->hash);
	free(r->part);
	free(r->line);
	free(r->state);
	free(r->frame);
	free(r->offset);
	free(r->frames);
	free(r);
}

static size_t round_bytes(const struct round *r)
{
	return r->data.len + r->wire.len + r->keys.len + (size_t)r->n * 56;
}

static void round_add(struct round *r, const char *p, size_t n, uint32_t hash,
		      uint64_t line, uint32_t koff, uint32_t klen)
{
	if (r->n == r->cap) {
		/* parallel arrays: one capacity for all */
		size_t cap = vb_alloc_nr(r->cap, (size_t)r->n + 1, 1024);

		r->off = vb_xreallocarray(r->off, cap, sizeof(*r->off));
		r->len = vb_xreallocarray(r->len, cap, sizeof(*r->len));
		r->hash = vb_xreallocarray(r->hash, cap, sizeof(*r->hash));
		r->part = vb_xreallocarray(r->part, cap, sizeof(*r->part));
		r->line = vb_xreallocarray(r->line, cap, sizeof(*r->line));
		r->state = vb_xreallocarray(r->state, cap, sizeof(*r->state));
		r->frame = vb_xreallocarray(r->frame, cap, sizeof(*r->frame));
		r->offset = vb_xreallocarray(r->offset, cap,
					     sizeof(*r->offset));
		r->koff = vb_xreallocarray(r->koff, cap, sizeof(*r->koff));
		r->klen = vb_xreallocarray(r->klen, cap, sizeof(*r->klen));
		r->cap = (uint32_t)cap;
	}
	r->off[r->n] = (uint32_t)r->data.len;
	r->len[r->n] = (uint32_t)n;
	r->hash[r->n] = hash;
	r->line[r->n] = line;
	r->state[r->n] = LINE_PENDING;
	r->frame[r->n] = NO_FRAME;
	r->offset[r->n] = VB_NO_OFFSET;
	r->koff[r->n] = koff;
	r->klen[r->n] = klen;
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
			a->done_input = r->input;
			a->done_line = r->last_line;
		}
		round_put(a, r);
		return;
	}
	r->origin_us = vb_wall_us();
	if (a->tail)
		a->tail->next = r;
	else
		a->head = r;
	a->tail = r;
	a->kept += round_bytes(r);
}

/* ---- ids ---- */

static void make_id(const struct app *a, uint64_t seq, uint8_t id[16])
{
	memcpy(id, a->nonce, 8);
	for (int k = 0; k < 8; k++)
		id[8 + k] = (uint8_t)(seq >> (56 - 8 * k));
	id[8] = (uint8_t)(0x80 | (id[8] & 0x3f)); /* RFC 4122 variant */
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

/* The round and line index of one of our sequence numbers, if kept. */
static struct round *find_seq(const struct app *a, uint64_t seq, uint32_t *i)
{
	for (struct round *r = a->head; r; r = r->next)
		if (seq >= r->first_seq && seq - r->first_seq < r->n) {
			*i = (uint32_t)(seq - r->first_seq);
			return r;
		}
	return NULL;
}

/* ---- expected answers ---- */

static void expect(struct app *a, enum expect_kind kind, struct round *r,
		   uint32_t frame, uint32_t count)
{
	struct expect *x;

	if (a->xn == a->xcap) {
		size_t ncap = vb_alloc_nr(a->xcap, a->xn + 1, 64);
		struct expect *nx = vb_xreallocarray(NULL, ncap, sizeof(*nx));

		for (size_t k = 0; k < a->xn; k++)
			nx[k] = a->x[(a->xhead + k) % a->xcap];
		free(a->x);
		a->x = nx;
		a->xcap = ncap;
		a->xhead = 0;
	}
	if (a->xn == 0)
		a->last_answer = vb_mono_us(); /* the clock starts */
	x = &a->x[(a->xhead + a->xn) % a->xcap];
	x->kind = (uint8_t)kind;
	x->r = r;
	x->frame = frame;
	x->count = count;
	a->xn++;
}

static struct expect pop_expect(struct app *a)
{
	struct expect x = a->x[a->xhead];

	a->xhead = (a->xhead + 1) % a->xcap;
	a->xn--;
	return x;
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
				     r->hash[i] % a->nparts :
				     p;
	r->routed = 1;
}

/*
 * The user headers of line i: its key as the header "key" (a string; none
 * for a key over 255 bytes, or when not routing by key), then the
 * --header pairs.  Valid until the next call.
 */
/* Whether line i carries the routing key as a header. */
static int key_header(const struct app *a, const struct round *r, uint32_t i)
{
	return (a->o->route == VB_ROUTE_FIELD || a->o->route == VB_ROUTE_KEY) &&
	       r->klen[i] >= 1 && r->klen[i] <= VB_UHDR_LEN_MAX;
}

/* The size of headers(a, r, i), without building them. */
static size_t headers_len(const struct app *a, const struct round *r,
			  uint32_t i)
{
	size_t n = a->o->headers ? a->o->headers->len : 0;

	if (key_header(a, r, i))
		n += vb_wire_uhdr_size(sizeof(VB_LOG_KEY_HEADER) - 1,
				       r->klen[i]);
	return n;
}

static const struct vb_buf *headers(struct app *a, const struct round *r,
				    uint32_t i)
{
	const uint8_t *k = a->o->route == VB_ROUTE_KEY ?
				   (const uint8_t *)a->o->key :
				   r->keys.p + r->koff[i];

	vb_buf_reset(&a->uh);
	if (key_header(a, r, i))
		vb_wire_uhdr_add(&a->uh, VB_UHDR_STRING, VB_LOG_KEY_HEADER,
				 sizeof(VB_LOG_KEY_HEADER) - 1, VB_UHDR_STRING,
				 k, r->klen[i]);
	if (a->o->headers && a->o->headers->len)
		vb_buf_add(&a->uh, a->o->headers->p, a->o->headers->len);
	if (a->uh.p == NULL)
		vb_buf_reserve(&a->uh, 1); /* p is never NULL */
	return &a->uh;
}

/*
 * Builds the frames of r: one send_messages per partition, holding the
 * round's pending lines of that partition.
 */
static void build(struct app *a, struct round *r)
{
	uint32_t np = a->nparts;
	struct vb_send_hdr h;

	route(a, r);
	memset(a->cnt, 0, np * sizeof(*a->cnt));
	memset(a->bytes, 0, np * sizeof(*a->bytes));
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t p = r->part[i];

		r->frame[i] = NO_FRAME;
		if (r->state[i] != LINE_PENDING)
			continue;
		a->cnt[p]++;
		a->bytes[p] += r->len[i] + headers_len(a, r, i);
	}
	a->kept -= r->wire.len;
	vb_buf_reset(&r->wire);
	r->nframes = 0;
	memset(&h, 0, sizeof(h));
	h.stream = a->l->stream;
	h.topic = a->l->topic;
	h.part_kind = VB_PART_ID;
	for (uint32_t p = 0; p < np; p++) {
		struct frame *f;
		size_t start = r->wire.len;

		if (a->cnt[p] == 0)
			continue;
		VB_ALLOC_GROW(r->frames, r->nframes + 1, r->frames_cap);
		f = &r->frames[r->nframes++];
		h.partition_id = p;
		vb_wire_send_begin_f(&a->sb[p], &r->wire, a->c->framing, &h,
				     a->cnt[p], a->bytes[p]);
		if (vb_client_v09(a->c))
			vb_wire_send_sums(&a->sb[p], &a->sums[p]);
		memset(f, 0, sizeof(*f));
		f->part = p;
		f->count = a->cnt[p];
		f->off = start;
		f->len = r->wire.len - start;
		f->first = NO_FRAME;
		a->frame_of[p] = r->nframes - 1;
	}
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t p = r->part[i];
		uint8_t id[VB_MSG_ID_LEN];
		const struct vb_buf *uh;
		struct frame *f;

		if (r->state[i] != LINE_PENDING)
			continue;
		f = &r->frames[a->frame_of[p]];
		if (f->first == NO_FRAME) {
			f->first = i;
			f->first_seq = r->first_seq + i;
		}
		r->frame[i] = a->frame_of[p];
		make_id(a, r->first_seq + i, id);
		uh = headers(a, r, i);
		vb_wire_send_add(&a->sb[p], id, r->origin_us,
				 r->data.p + r->off[i], r->len[i], uh->p,
				 (uint32_t)uh->len);
	}
	/* 0.9: the batch headers (one origin time: every frame's delta and
	 * checksum were made as it was added) */
	for (uint32_t k = 0; k < r->nframes; k++)
		vb_wire_send_end(&a->sb[r->frames[k].part], NULL);
	a->kept += r->wire.len;
	r->built = 1;
}

static void lookup_req(struct app *a, struct vb_req *q, uint32_t p,
		       uint64_t from, uint32_t count)
{
	vb_req_init(q, VB_CMD_POLL_MESSAGES);
	vb_log_who(&q->consumer, 0, "vibes-append", NULL);
	q->stream = a->l->stream;
	q->topic = a->l->topic;
	q->part.present = 1;
	q->part.id = p;
	q->strategy = VB_POLL_OFFSET;
	q->value = from;
	q->count = count;
}

/* Queues the frames of r (and, for --acks, a lookup behind each). */
static void queue_round(struct app *a, struct round *r)
{
	struct vb_req q;

	if (!r->built)
		build(a, r);
	for (uint32_t k = 0; k < r->nframes; k++) {
		struct frame *f = &r->frames[k];

		f->state = F_QUEUED;
		f->based = 0;
		f->lb = a->lb[f->part];
		vb_client_queue_ref(a->c, r->wire.p + f->off, f->len);
		expect(a, X_SEND, r, k, 0);
		for (uint32_t i = f->first; i < r->n; i++)
			if (r->frame[i] == k)
				r->state[i] = LINE_WIRE;
		/* 0.9 answers a send with its base offset: no lookup */
		if (!a->o->acks || vb_client_v09(a->c))
			continue;
		f->pred = a->pred[f->part];
		a->pred[f->part] += f->count;
		lookup_req(a, &q, f->part, f->pred, 1);
		vb_client_queue_req(a->c, &q);
		expect(a, X_LOOKUP, r, k, 1);
	}
	r->queued = 1;
}

/* ---- completion ---- */

static int round_complete(const struct app *a, const struct round *r)
{
	return r->nstored == r->n && (!a->o->acks || r->nknown == r->n);
}

static void report_acks(struct app *a, struct round *r)
{
	const char *name = a->in[r->input].name;

	for (uint32_t i = 0; i < r->n; i++)
		a->cb->ack(a->cb->arg, name, r->line[i], r->part[i],
			   r->offset[i]);
}

/* Retires the complete rounds at the head, in order. */
static void retire(struct app *a)
{
	struct round *r;
	int acked = 0;

	while ((r = a->head) && round_complete(a, r)) {
		if (a->o->acks && a->cb->ack) {
			report_acks(a, r);
			acked = 1;
		}
		a->head = r->next;
		if (a->head == NULL)
			a->tail = NULL;
		a->kept -= round_bytes(r);
		a->st->sent += r->n;
		a->st->bytes += r->data.len;
		a->done_input = r->input;
		a->done_line = r->last_line;
		round_put(a, r);
	}
	if (acked && a->cb->acked)
		a->cb->acked(a->cb->arg);
}

static void line_stored(struct app *a, struct round *r, uint32_t i)
{
	if (r->state[i] != LINE_STORED) {
		r->state[i] = LINE_STORED;
		r->nstored++;
	}
}

static void line_offset(struct round *r, uint32_t i, uint64_t off)
{
	if (r->offset[i] == VB_NO_OFFSET)
		r->nknown++;
	r->offset[i] = off;
}

/* The base offset of frame f is known: every line of it gets its own. */
static void frame_based(struct app *a, struct round *r, struct frame *f,
			uint64_t base)
{
	uint32_t k = 0, fi = (uint32_t)(f - r->frames);

	f->based = 1;
	/* each line's own offset: wanted for --acks only */
	for (uint32_t i = f->first; a->o->acks && i < r->n && k < f->count; i++)
		if (r->frame[i] == fi)
			line_offset(r, i, base + k++);
	if (base + f->count > a->lb[f->part])
		a->lb[f->part] = base + f->count;
	if (base > f->pred) /* others wrote in between: predict later */
		a->pred[f->part] += base - f->pred;
}

static void end_outage(struct app *a);

static void set_fault(struct app *a, enum fault f, const struct vb_err *e)
{
	if (f <= a->fault)
		return;
	a->fault = f;
	if (e)
		a->fault_err = *e;
}

static void queue_search(struct app *a, struct round *r, uint32_t fi,
			 uint64_t from, uint32_t count);

/*
 * 0.9 answers a send with the offset of its first message (messages.md
 * §3.3); "count 0" says stored, offsets not known: look them up.
 */
static void on_confirm(struct app *a, struct round *r, struct frame *f,
		       const struct vb_reply *rep)
{
	struct vb_send_confirm conf;
	struct vb_err e;
	int found;

	if (vb_wire_dec_send_reply(rep->payload, rep->len, &found, &conf, &e)) {
		vb_err_prefix(&e, "send_messages answer");
		set_fault(a, FAULT_RESYNC, &e);
		return;
	}
	if (found && conf.partition_id == f->part) {
		frame_based(a, r, f, conf.base_offset);
		return;
	}
	a->lb[f->part] += f->count;
	if (a->o->acks)
		queue_search(a, r, (uint32_t)(f - r->frames), f->lb, 64);
}

static void on_send(struct app *a, struct round *r, struct frame *f,
		    const struct vb_reply *rep)
{
	uint32_t fi = (uint32_t)(f - r->frames);
	struct vb_err e;

	if (rep->status == VB_ST_OK) {
		f->state = F_ACKED;
		for (uint32_t i = f->first; i < r->n; i++)
			if (r->frame[i] == fi)
				line_stored(a, r, i);
		if (vb_client_v09(a->c))
			on_confirm(a, r, f, rep);
		else
			a->lb[f->part] += f->count;
		a->topo_faults = 0;
		end_outage(a);
		return;
	}
	/*
	 * Not stored, the server said, or (0.9, 57) not known: its lines are
	 * in doubt, looked for after the reconnect (framing.md §9.2).
	 */
	f->state = F_FAILED;
	for (uint32_t i = f->first; i < r->n; i++)
		if (r->frame[i] == fi)
			r->state[i] =
				rep->status == VB_ST_TRANSIENT_NOT_COMMITTED ?
					LINE_DOUBT :
					LINE_PENDING;
	vb_client_status_err(&e, rep->status, "send_messages");
	vb_err_prefix(&e, "partition %u", f->part);
	if (rep->status == VB_ST_STREAM_ID_NOT_FOUND ||
	    rep->status == VB_ST_TOPIC_ID_NOT_FOUND ||
	    rep->status == VB_ST_PARTITION_NOT_FOUND)
		set_fault(a,
			  ++a->topo_faults < TOPO_FAULTS_MAX ? FAULT_RESYNC :
							       FAULT_FATAL,
			  &e);
	else
		set_fault(a,
			  vb_err_transient(&e) ? FAULT_TRANSIENT : FAULT_FATAL,
			  &e);
}

/*
 * Scans a poll answer for the first message of frame f.  Returns 1 when
 * found (the frame's base is set), 0 when not, with *next the offset
 * after the last message looked at (or unchanged for an empty answer).
 */
static int scan_for(struct app *a, struct round *r, struct frame *f,
		    const struct vb_reply *rep, uint64_t *next, int *empty,
		    struct vb_err *e)
{
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_msgs it;
	struct vb_msg m;
	int rc;

	*empty = 1;
	vb_rd_init(&rd, rep->payload, rep->len);
	if (vb_wire_dec_poll_hdr(&rd, &h, e))
		return -1;
	vb_msgs_init(&it, a->c->framing->gen, rd.p + rd.off, vb_rd_left(&rd));
	while ((rc = vb_msgs_next(&it, &m, e)) == 1) {
		*empty = 0;
		*next = m.offset + 1;
		if (id_seq(a, m.id) == (int64_t)f->first_seq) {
			frame_based(a, r, f, m.offset);
			return 1;
		}
	}
	return rc < 0 ? -1 : 0;
}

static void queue_search(struct app *a, struct round *r, uint32_t fi,
			 uint64_t from, uint32_t count)
{
	struct vb_req q;

	lookup_req(a, &q, r->frames[fi].part, from, count);
	vb_client_queue_req(a->c, &q);
	expect(a, X_SEARCH, r, fi, count);
}

static void on_lookup(struct app *a, const struct expect *x,
		      const struct vb_reply *rep)
{
	struct round *r = x->r;
	struct frame *f = &r->frames[x->frame];
	struct vb_err e;
	uint64_t next = x->kind == X_LOOKUP ? f->lb : 0;
	int empty, rc;

	if (f->state != F_ACKED || f->based)
		return; /* not stored, or known already */
	if (rep->status != VB_ST_OK) {
		vb_client_status_err(&e, rep->status, "poll_messages");
		set_fault(a, FAULT_RESYNC, &e);
		return;
	}
	rc = scan_for(a, r, f, rep, &next, &empty, &e);
	if (rc < 0) {
		set_fault(a, FAULT_RESYNC, &e);
		return;
	}
	if (rc == 1)
		return;
	if (x->kind == X_SEARCH && empty) {
		/* Read to the end without finding it: look again after a
		 * reconnect, which reads the partition from its bound. */
		vb_err_set(&e, VB_E_STATE,
			   "partition %u: the message just stored was not found",
			   f->part);
		set_fault(a, FAULT_RESYNC, &e);
		return;
	}
	/* Another producer got in between: search on from the bound. */
	if (x->kind == X_LOOKUP)
		queue_search(a, r, x->frame, f->lb, 64);
	else
		queue_search(a, r, x->frame, next,
			     x->count * 4 > SEARCH_MAX ? SEARCH_MAX :
							 x->count * 4);
}

/* Takes every answer that has arrived.  -1: the connection ended. */
static int take_answers(struct app *a, struct vb_err *e)
{
	struct vb_reply rep;
	int rc;

	while ((rc = vb_client_take(a->c, &rep, e)) == 1) {
		struct expect x;

		a->last_answer = vb_mono_us();
		if (a->xn == 0) {
			/* The client counts requests too: cannot happen. */
			vb_err_set(e, VB_E_PROTO, "an answer to no request");
			vb_client_close(a->c);
			return -1;
		}
		x = pop_expect(a);
		if (x.kind == X_SEND)
			on_send(a, x.r, &x.r->frames[x.frame], &rep);
		else
			on_lookup(a, &x, &rep);
	}
	retire(a);
	return rc < 0 ? -1 : 0;
}

/* ---- the connection ---- */

static void announce_wait(struct app *a)
{
	if (a->announced || !a->cb->waiting)
		return;
	a->announced = 1;
	a->cb->waiting(a->cb->arg, a->last_err.msg,
		       vb_wall_us() + a->o->retry_us -
			       (uint64_t)(vb_mono_us() - a->outage_since));
}

/*
 * The connection is gone (why says how): every frame written and not
 * answered is in doubt, to be looked for after the next connect.
 */
static void lost(struct app *a, const struct vb_err *why, int by_us)
{
	if (why)
		a->last_err = *why;
	if (by_us && a->xn > 0 && a->c->local[0])
		strlcpy(a->orphan, a->c->local, sizeof(a->orphan));
	vb_client_close(a->c);
	while (a->xn > 0)
		pop_expect(a);
	for (struct round *r = a->head; r; r = r->next) {
		if (!r->queued)
			continue;
		for (uint32_t i = 0; i < r->n; i++)
			if (r->state[i] == LINE_WIRE)
				r->state[i] = LINE_DOUBT;
		r->queued = 0;
	}
	if (a->up)
		a->st->reconnects++;
	a->up = 0;
	a->fault = FAULT_NONE;
	if (a->outage_since == 0) {
		a->outage_since = vb_mono_us();
		a->backoff = BACKOFF_MIN_US;
		a->next_try = 0; /* the first try is at once */
		a->announced = 0;
	}
}

/*
 * The connection we closed with requests in flight may still be read by
 * a slow server: until it is gone from the server's client list, what it
 * carried is not settled.  Waits for that (get_clients, 22), or skips
 * the wait when this user may not list clients.
 */
static int wait_orphan(struct app *a, struct vb_err *e)
{
	int64_t deadline = a->outage_since + (int64_t)a->o->retry_us;

	while (a->orphan[0]) {
		struct vb_req q;
		struct vb_rd rd;
		struct vb_client_info ci;
		const uint8_t *p;
		size_t n;
		int seen = 0;

		vb_req_init(&q, VB_CMD_GET_CLIENTS);
		if (vb_client_call(a->c, &q, &p, &n, e)) {
			if (e->kind == VB_E_AUTH || e->kind == VB_E_SERVER) {
				a->orphan[0] = 0; /* cannot tell */
				return 0;
			}
			return -1;
		}
		vb_rd_init(&rd, p, n);
		while (vb_rd_left(&rd) > 0) {
			if (vb_wire_dec_client(&rd, &ci, e))
				return -1;
			if (strcmp(ci.address, a->orphan) == 0)
				seen = 1;
		}
		if (!seen)
			break;
		if (vb_mono_us() > deadline)
			return vb_err_set(
				e, VB_E_TIMEOUT,
				"the server still serves our old connection %s",
				a->orphan);
		usleep(20000);
	}
	a->orphan[0] = 0;
	return 0;
}

/* Reads partition p from lb to its end looking for lines in doubt. */
static int settle_part(struct app *a, uint32_t p, uint64_t from, uint64_t end,
		       struct vb_err *e)
{
	while (from < end) {
		struct vb_req q;
		struct vb_poll_hdr h;
		struct vb_msgs rd;
		struct vb_msg m;
		uint64_t next = from;
		int rc;

		lookup_req(a, &q, p, from, SCAN_COUNT);
		if (vb_client_poll_msgs(a->c, &q, &h, &rd, e))
			return -1;
		while ((rc = vb_msgs_next(&rd, &m, e)) == 1) {
			int64_t s = id_seq(a, m.id);
			struct round *r;
			uint32_t i;

			next = m.offset + 1;
			if (s < 0 ||
			    (r = find_seq(a, (uint64_t)s, &i)) == NULL ||
			    r->part[i] != p)
				continue;
			if (r->state[i] == LINE_DOUBT)
				a->st->found++;
			line_stored(a, r, i);
			if (a->o->acks)
				line_offset(r, i, m.offset);
		}
		if (rc < 0)
			return -1;
		if (next == from)
			break; /* nothing more: retention, or the end */
		from = next;
	}
	return 0;
}

/*
 * After a connect: settles every line in doubt (and, with --acks, finds
 * the offset of stored lines whose lookup never came back), then makes
 * every frame anew from what is still pending.
 */
static int settle(struct app *a, struct vb_err *e)
{
	int moved = a->l->topic_id != a->topic_id ||
		    a->l->topic_created != a->topic_created;

	for (uint32_t p = 0; p < a->nparts; p++) {
		uint64_t from = UINT64_MAX;

		for (struct round *r = a->head; r; r = r->next) {
			if (!r->routed)
				continue;
			for (uint32_t k = 0; k < r->nframes; k++) {
				struct frame *f = &r->frames[k];
				uint32_t fi = k;
				int need = 0;

				if (f->part != p || !r->built)
					continue;
				for (uint32_t i = f->first; i < r->n && !need;
				     i++)
					need = r->frame[i] == fi &&
					       (r->state[i] == LINE_DOUBT ||
						(a->o->acks &&
						 r->state[i] == LINE_STORED &&
						 r->offset[i] == VB_NO_OFFSET));
				if (need && f->lb < from)
					from = f->lb;
			}
		}
		if (from == UINT64_MAX)
			continue;
		if (moved)
			from = 0; /* a new topic of the same name */
		if (settle_part(a, p, from, vb_log_part_end(&a->l->parts[p]),
				e))
			return -1;
	}
	/* What was not found is not stored; offsets lost with a deleted
	 * topic cannot be named. */
	for (struct round *r = a->head; r; r = r->next) {
		for (uint32_t i = 0; i < r->n; i++) {
			if (r->state[i] == LINE_DOUBT) {
				r->state[i] = LINE_PENDING;
				a->st->resent++;
			}
			if (a->o->acks && r->state[i] == LINE_STORED &&
			    r->offset[i] == VB_NO_OFFSET)
				r->nknown++;
		}
		if (r->built) {
			a->kept -= r->wire.len;
			vb_buf_reset(&r->wire);
			r->built = 0;
			r->nframes = 0;
		}
	}
	for (uint32_t p = 0; p < a->nparts; p++) {
		uint64_t end = vb_log_part_end(&a->l->parts[p]);

		a->lb[p] = end;
		a->pred[p] = end;
	}
	a->topic_id = a->l->topic_id;
	a->topic_created = a->l->topic_created;
	retire(a);
	return 0;
}

static int setup_topology(struct app *a, struct vb_err *e)
{
	uint32_t old = a->nparts;

	if (vb_log_bootstrap(a->l, e))
		return -1;
	if (old && a->l->nparts != old)
		return vb_err_set(
			e, VB_E_STATE,
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
		a->lb = vb_xcalloc(a->nparts, sizeof(*a->lb));
		a->pred = vb_xcalloc(a->nparts, sizeof(*a->pred));
		a->cnt = vb_xcalloc(a->nparts, sizeof(*a->cnt));
		a->frame_of = vb_xcalloc(a->nparts, sizeof(*a->frame_of));
		a->bytes = vb_xcalloc(a->nparts, sizeof(*a->bytes));
		a->sb = vb_xcalloc(a->nparts, sizeof(*a->sb));
		a->sums = vb_xcalloc(a->nparts, sizeof(*a->sums));
		a->rr = (uint32_t)(a->nonce[1] << 8 | a->nonce[2]);
		a->topic_id = a->l->topic_id;
		a->topic_created = a->l->topic_created;
	}
	return 0;
}

/* Data flows again: the outage (if any) is over. */
static void end_outage(struct app *a)
{
	uint64_t waited;
	char where[300];

	if (a->outage_since == 0)
		return;
	waited = (uint64_t)(vb_mono_us() - a->outage_since);
	if (a->announced && a->cb->recovered)
		a->cb->recovered(a->cb->arg,
				 vb_client_addr(a->c, where, sizeof(where)),
				 waited);
	a->outage_since = 0;
	a->announced = 0;
	a->backoff = BACKOFF_MIN_US;
}

/* Fills e for giving up after the outage lasted retry_us; returns -1. */
static int give_up(struct app *a, struct vb_err *e)
{
	return vb_err_set(e,
			  vb_err_transient(&a->last_err) ? a->last_err.kind :
							   VB_E_UNAVAIL,
			  "server unavailable for %.1f s, giving up: %s",
			  (double)(vb_mono_us() - a->outage_since) / 1e6,
			  a->last_err.msg);
}

/* Schedules the next try after a transient failure; -1 past the end. */
static int retry_later(struct app *a, struct vb_err *e)
{
	int64_t now = vb_mono_us();
	int64_t deadline = a->outage_since + (int64_t)a->o->retry_us;

	if (now >= deadline)
		return give_up(a, e);
	announce_wait(a);
	a->next_try = now + a->backoff;
	if (a->next_try > deadline)
		a->next_try = deadline; /* one last try at the end */
	a->backoff = a->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US :
						       a->backoff * 2;
	return 1;
}

/*
 * One attempt to get back to streaming: connect and log in (the callback
 * finds the server as every tool does, so a restart on another port is
 * followed), look the topic up, settle what is in doubt.  Returns 0 when
 * up, 1 to wait and try again, -1 to give up (e says why).
 */
static int inputs_done(const struct app *a);

static int reconnect(struct app *a, struct vb_err *e)
{
	if (a->o->stop && *a->o->stop) {
		vb_err_set(e, VB_E_UNAVAIL,
			   "interrupted while the server was unavailable: %s",
			   a->last_err.msg);
		return -1;
	}
	if (vb_mono_us() < a->next_try)
		return 1;
	/*
	 * Input still coming: a stream of sends, for TCP's buffers (a local
	 * socket's writes are bounded by net.core.wmem_max, 208 KiB by
	 * default); else a few lines, for the local socket's quicker start.
	 */
	a->c->bulk = !inputs_done(a);
	if (!vb_client_connected(a->c) && a->cb->connect(a->cb->arg, a->c, e))
		goto failed;
	if (wait_orphan(a, e) || setup_topology(a, e) || settle(a, e))
		goto failed;
	a->up = 1;
	if (a->ever_up && !a->announced && a->cb->notice)
		a->cb->notice(a->cb->arg, "reconnected");
	a->ever_up = 1;
	if (a->head == NULL)
		end_outage(a); /* nothing was left to send */
	return 0;
failed:
	if (!vb_err_transient(e) && !(e->kind == VB_E_SERVER &&
				      (e->status == VB_ST_STREAM_ID_NOT_FOUND ||
				       e->status == VB_ST_TOPIC_ID_NOT_FOUND)))
		return -1;
	lost(a, e, 0);
	return retry_later(a, e);
}

/*
 * Once every answer owed is in, acts on a fault an answer raised: go
 * through the reconnect path (at once, or after backing off), or give up.
 */
static int handle_fault(struct app *a, struct vb_err *e)
{
	enum fault f = a->fault;

	if (f == FAULT_NONE || a->xn > 0)
		return 0;
	if (f == FAULT_FATAL) {
		*e = a->fault_err;
		return -1;
	}
	lost(a, &a->fault_err, 0);
	if (f == FAULT_TRANSIENT && retry_later(a, e) < 0)
		return -1;
	return 0;
}

/* ---- input ---- */

/*
 * The key of a line (the member's string value, a number as written, or
 * "unknown"): its hash, and its bytes kept in r->keys for the key header.
 */
static void key_of(struct app *a, struct round *r, const struct vb_json_scan *s,
		   uint32_t *hash, uint32_t *koff, uint32_t *klen)
{
	const char *k = VB_LOG_UNKNOWN_KEY;
	size_t n = strlen(VB_LOG_UNKNOWN_KEY);

	*koff = (uint32_t)r->keys.len;
	if (s->field_type == VB_JSON_STRING && s->val_escaped) {
		uint8_t *d = vb_buf_reserve(&r->keys, s->val_len);

		n = vb_json_unescape(s->val, s->val_len, (char *)d);
		r->keys.len += n;
		*klen = (uint32_t)n;
		*hash = vb_xxh32(d, n);
		return;
	}
	if (s->field_type == VB_JSON_STRING ||
	    s->field_type == VB_JSON_NUMBER) {
		k = s->val;
		n = s->val_len;
	}
	vb_buf_add(&r->keys, k, n);
	*klen = (uint32_t)n;
	*hash = k == s->val ? vb_xxh32(k, n) : a->unknown_hash;
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

/*
 * Over 0.9, which takes one request at a time (lock-step), each frame of
 * a round costs a round trip, one per partition it touches.  So a round
 * at --batch lines while an answer is still owed keeps taking lines, up
 * to the byte cut: sealing it would only queue more small frames for
 * more round trips.  Batches grow with the round trip, as 0.8's pipeline
 * overlaps them, and an input slower than the server still goes out in
 * batches of --batch lines.
 */
static int lockstep_busy(const struct app *a)
{
	return a->up && vb_client_v09(a->c) &&
	       (vb_client_has_unsent(a->c) || vb_client_inflight(a->c) > 0);
}

/*
 * The byte cut of a round.  0.8 pipelines its frames, so a round of
 * --batch lines or 1 MiB is as good as a larger one.  Over 0.9 each
 * frame is a round trip, and a round routed by key makes one per
 * partition: the cut is 1 MiB per partition (up to LOCKSTEP_CUT_MAX
 * times), so that a busy or slow server still gets frames of about 1 MiB
 * and the round trips do not bound the rate.
 */
#define LOCKSTEP_CUT_MAX 8

static size_t cut_bytes(const struct app *a)
{
	uint32_t k = a->nparts;
	size_t cut;

	if (!vb_client_v09(a->c) || a->o->route != VB_ROUTE_FIELD || k < 2)
		return a->o->batch_bytes;
	cut = a->o->batch_bytes * (k < LOCKSTEP_CUT_MAX ? k : LOCKSTEP_CUT_MAX);
	/* and no more than a quarter of --buffer, where input stops */
	if (cut > a->o->buffer_bytes / 4)
		cut = a->o->buffer_bytes / 4;
	return cut > a->o->batch_bytes ? cut : a->o->batch_bytes;
}

/*
 * Served only between reads of the input (1 MiB, thousands of lines), a
 * lock-step connection would idle most of the time, and every round trip
 * would cost a read's worth of lines.  So it is also served every
 * SERVE_BYTES of input: the rounds sealed since are queued, the client
 * writes what may go and reads what came, and the answers are taken (a
 * lost connection is marked so; the main loop reconnects).
 */
#define SERVE_BYTES (32u << 10)

static void serve(struct app *a)
{
	struct vb_err why;

	if (!a->up || !vb_client_v09(a->c) || a->fault != FAULT_NONE ||
	    !vb_client_connected(a->c))
		return;
	for (struct round *r = a->head; r; r = r->next)
		if (!r->queued)
			queue_round(a, r);
	if (!vb_client_has_unsent(a->c) && vb_client_inflight(a->c) == 0)
		return;
	vb_client_pump(a->c, NULL);
	if (take_answers(a, &why))
		lost(a, &why, 0);
}

static void line(struct app *a, const char *p, size_t n)
{
	struct vb_json_scan s;
	uint32_t hash = a->key_hash, koff = 0, klen = 0;

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
		key_of(a, a->open, &s, &hash, &koff, &klen);
	else if (a->o->route == VB_ROUTE_KEY) {
		koff = 0; /* the fixed key: a->key_hdr */
		klen = (uint32_t)strlen(a->o->key);
	}
	round_add(a->open, p, n, hash, a->lineno, koff, klen);
	a->seq++;
	a->open->last_line = a->lineno;
	if (a->open->data.len >= cut_bytes(a) ||
	    (a->open->n >= a->o->batch_lines && !lockstep_busy(a))) {
		seal(a);
		/* lock-step: its first frame goes now, not a serve later */
		if (a->up && vb_client_v09(a->c))
			serve(a);
	}
}

/* Splits the buffered input into lines; keeps an incomplete tail. */
static void lines(struct app *a, int eof)
{
	char *b = (char *)a->inbuf.p;
	size_t end = a->inbuf.len, at = a->inpos, served = at;

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
				line(a, b + at, end - at); /* too long */
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
		if (at - served >= SERVE_BYTES) {
			serve(a);
			served = at;
		}
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
	a->in_lines[a->cur] = a->lineno;
	a->cur++;
	a->lineno = 0;
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
	d = vb_buf_reserve(&a->inbuf, a->chunk);
	n = read(in->fd, d, a->chunk);
	if (n > 0) {
		if ((size_t)n == a->chunk && a->chunk < READ_CHUNK)
			a->chunk *= 2;
		a->inbuf.len += (size_t)n;
		lines(a, 0);
		/* idle from here: the time its lines took is not (a slow or
		 * loaded machine would seal a round at every read) */
		a->last_input = vb_mono_us();
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

/* ---- the account ---- */

struct acct {
	const struct vb_append_cb *cb;
	int open;
	size_t input;
	uint64_t first, last;
	enum vb_line_state state;
};

/*
 * Adds line `line` of input `input`, in order.  Lines passed over (blank
 * or skipped ones, with nothing to store) join the run before them, and
 * the first run of an input starts at its line 1.
 */
static void acct_add(struct acct *ac, size_t input, uint64_t line,
		     enum vb_line_state state)
{
	int same_input = ac->open && ac->input == input;

	if (same_input && ac->state == state) {
		ac->last = line;
		return;
	}
	if (ac->open)
		ac->cb->account(ac->cb->arg, ac->input, ac->first,
				same_input ? line - 1 : 0, ac->state);
	ac->open = 1;
	ac->input = input;
	ac->first = same_input ? line : 1;
	ac->last = line;
	ac->state = state;
}

static void acct_end(struct acct *ac)
{
	if (ac->open)
		ac->cb->account(ac->cb->arg, ac->input, ac->first, 0,
				ac->state);
	ac->open = 0;
}

/*
 * Tells cb->account what became of every line: the retired prefix is
 * stored, the kept rounds line by line, everything after not stored.
 */
static void account(struct app *a)
{
	struct acct ac = { .cb = a->cb };
	size_t in;
	uint64_t next;

	if (!a->cb->account)
		return;
	/* the prefix: inputs before done_input, then lines 1..done_line */
	for (in = 0; in < a->done_input && in < a->nin; in++)
		acct_add(&ac, in, 1, VB_LINES_STORED);
	if (a->done_line > 0)
		acct_add(&ac, a->done_input, a->done_line, VB_LINES_STORED);
	for (struct round *r = a->head; r; r = r->next)
		for (uint32_t i = 0; i < r->n; i++) {
			enum vb_line_state s = VB_LINES_NOT_STORED;

			if (r->state[i] == LINE_STORED)
				s = VB_LINES_STORED;
			else if (r->state[i] == LINE_DOUBT ||
				 r->state[i] == LINE_WIRE)
				s = VB_LINES_UNKNOWN;
			acct_add(&ac, r->input, r->line[i], s);
		}
	/* Everything after the kept rounds was never sent. */
	in = a->tail ? a->tail->input : a->done_input;
	next = (a->tail ? a->tail->last_line : a->done_line) + 1;
	if (in < a->nin && (a->in_lines[in] == 0 || next <= a->in_lines[in]))
		acct_add(&ac, in, next, VB_LINES_NOT_STORED);
	for (in++; in < a->nin; in++)
		acct_add(&ac, in, 1, VB_LINES_NOT_STORED);
	acct_end(&ac);
}

/* ---- main loop ---- */

static void progress(struct app *a, int force)
{
	int64_t now = vb_mono_us();

	if (!a->cb->progress ||
	    (!force && now - a->last_progress < PROGRESS_US))
		return;
	a->last_progress = now;
	a->cb->progress(a->cb->arg, a->st);
}

/* Queues every sealed round not on the wire yet, unless a fault holds. */
static void queue_all(struct app *a)
{
	if (a->fault != FAULT_NONE)
		return;
	for (struct round *r = a->head; r; r = r->next)
		if (!r->queued)
			queue_round(a, r);
	retire(a); /* rounds with nothing left to send */
}

/* Talks to the server: write, read, take answers; handles a loss. */
static int do_io(struct app *a, struct vb_err *e)
{
	struct vb_err why;

	/* A failed transport still hands out what came before it. */
	vb_client_pump(a->c, NULL);
	if (take_answers(a, &why)) {
		lost(a, &why, 0);
		return 0;
	}
	return handle_fault(a, e);
}

static void free_all(struct app *a)
{
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
	vb_buf_release(&a->uh);
	free(a->x);
	free(a->in_lines);
	free(a->lb);
	free(a->pred);
	free(a->cnt);
	free(a->frame_of);
	free(a->bytes);
	free(a->sb);
	for (uint32_t p = 0; a->sums && p < a->nparts; p++)
		vb_buf_release(&a->sums[p]);
	free(a->sums);
	free(a);
}

int vb_append_run(const struct vb_append_opts *o, struct vb_log *l,
		  struct vb_append_input *in, size_t nin,
		  const struct vb_append_cb *cb, struct vb_append_stats *st,
		  struct vb_err *e)
{
	struct app *a = vb_xcalloc(1, sizeof(*a));
	int64_t timeout_us = (int64_t)l->c->timeout_ms * 1000;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	a->o = o;
	a->l = l;
	a->c = l->c;
	a->cb = cb;
	a->st = st;
	a->in = in;
	a->nin = nin;
	a->in_lines = vb_xcalloc(nin ? nin : 1, sizeof(*a->in_lines));
	vb_buf_init(&a->inbuf);
	a->chunk = READ_FIRST;
	vb_err_clear(&a->last_err);
	if (getrandom(a->nonce, sizeof(a->nonce), 0) != sizeof(a->nonce)) {
		uint64_t t = (uint64_t)vb_mono_us() ^ (uint64_t)getpid() << 32;

		memcpy(a->nonce, &t, 8);
	}
	a->nonce[6] = (uint8_t)(0x40 | (a->nonce[6] & 0x0f)); /* v4 look */
	a->unknown_hash = vb_xxh32(VB_LOG_UNKNOWN_KEY,
				   strlen(VB_LOG_UNKNOWN_KEY));
	if (o->route == VB_ROUTE_KEY)
		a->key_hash = vb_xxh32(o->key, strlen(o->key));
	/* Not synced yet: the first connect goes through reconnect(). */
	a->outage_since = 0;
	a->next_try = 0;
	a->backoff = BACKOFF_MIN_US;

	for (;;) {
		struct pollfd pfd[2];
		int npfd = 0, want_in, timeout = -1, crc = 0, n, ifd = -1;
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
		if (a->head && !a->up) {
			if (a->outage_since == 0) {
				/* the retry clock runs from the first try */
				a->outage_since = vb_mono_us();
				a->backoff = BACKOFF_MIN_US;
				a->next_try = 0;
			}
			crc = reconnect(a, e);
			if (crc < 0)
				goto out;
		}
		if (a->up) {
			queue_all(a);
			if (do_io(a, e))
				goto out;
			if (!a->up || (inputs_done(a) && a->head == NULL))
				continue; /* lost: reconnect; or done */
		}
		want_in = !inputs_done(a) &&
			  a->kept + (a->open ? round_bytes(a->open) : 0) <
				  o->buffer_bytes;
		if (want_in) {
			ifd = npfd;
			pfd[npfd].fd = in[a->cur].fd;
			pfd[npfd].events = POLLIN;
			npfd++;
		}
		if (a->up && vb_client_connected(a->c)) {
			pfd[npfd].fd = a->c->fd;
			pfd[npfd].events = vb_client_events(a->c);
			npfd++;
		}
		now = vb_mono_us();
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
		if (a->up && a->xn > 0) {
			/* no answer for --timeout: the connection is dead */
			t = a->last_answer + timeout_us - now;
			if (t <= 0) {
				struct vb_err why;
				char where[300];

				vb_err_set(&why, VB_E_TIMEOUT,
					   "%s: no answer for %d ms",
					   vb_client_addr(a->c, where,
							  sizeof(where)),
					   a->c->timeout_ms);
				lost(a, &why, 1);
				continue;
			}
			t = (t + 999) / 1000;
			if (timeout < 0 || t < timeout)
				timeout = (int)t;
		}
		if (cb->progress && (timeout < 0 || timeout > 200))
			timeout = 200;
		if (npfd == 0 && timeout < 0)
			timeout = 10;
		n = poll(pfd, (nfds_t)npfd, timeout);
		if (n < 0 && errno != EINTR) {
			vb_err_sys(e, VB_E_IO, "poll");
			goto out;
		}
		progress(a, 0);
		if (n <= 0)
			continue;
		if (ifd >= 0 && pfd[ifd].revents) {
			if (do_input(a, e))
				goto out;
			/* No more input right now: send a partial batch
			 * when lingering is off. */
			if (o->linger_us == 0)
				seal(a);
		}
		/* The connection is served at the top of the loop. */
	}
	rc = 0;
	if (a->bad)
		rc = vb_err_set(e, VB_E_DATA, "invalid input");
out:
	progress(a, 1);
	if (rc) {
		/* what is stored is stored: its acks first, then the account */
		if (o->acks && cb->ack)
			for (struct round *r = a->head; r; r = r->next)
				for (uint32_t i = 0; i < r->n; i++)
					if (r->state[i] == LINE_STORED &&
					    r->offset[i] != VB_NO_OFFSET)
						cb->ack(cb->arg,
							a->in[r->input].name,
							r->line[i], r->part[i],
							r->offset[i]);
		account(a);
	}
	free_all(a);
	return rc;
}
