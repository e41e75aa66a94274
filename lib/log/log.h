/*
 * log.h - the vibes event log over an Iggy server (shared/DESIGN.md,
 * "The event log").
 *
 * A log is one stream and one topic with N partitions, created on first
 * use.  Lines are routed to a partition by a key (XXH32(key) mod N, the
 * function the server applies to messages_key partitioning), read back by
 * consumers (kind 1, own offsets per partition) or consumer groups
 * (kind 2), and positions are committed only after the caller has
 * delivered what it read.
 *
 * Offsets: the server stores, per consumer and partition, the offset of
 * the last processed message; the next read starts one past it.  This
 * API speaks in "next" offsets (what the next read returns first) and
 * converts at the edge.  High water mark (hwm) = the partition's current
 * offset = the offset of its last message; a partition with no message
 * has no hwm (`empty`).  Its end, the next offset a new message gets, is
 * hwm + 1, or 0 when empty.
 *
 * Nothing here prints or exits; long-running loops report through
 * callbacks and stop when *stop becomes non-zero.
 */
#ifndef VB_LOG_H
#define VB_LOG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "client/client.h"
#include "wire/wire.h"

#define VB_LOG_STREAM "vibes"
#define VB_LOG_TOPIC "events"
#define VB_LOG_PARTITIONS 8
#define VB_LOG_KEY_FIELD "session_id"
#define VB_LOG_UNKNOWN_KEY "unknown"
/* The user header vibes-append stores each line's key in. */
#define VB_LOG_KEY_HEADER "key"
/* Longest line vibes-append accepts (the server's payload limit). */
#define VB_LOG_LINE_MAX VB_PAYLOAD_MAX

/* (Re)connects and logs in; the commands pass vb_ctl_connect here. */
typedef int (*vb_log_connect_fn)(void *arg, struct vb_client *c,
				 struct vb_err *e);

/* ---- topology ---- */

struct vb_log {
	struct vb_client *c;
	struct vb_ident stream; /* by name */
	struct vb_ident topic;
	uint32_t create_parts;		 /* partitions when creating */
	uint32_t nparts;		 /* 0 until bootstrapped */
	struct vb_partition_info *parts; /* nparts, last lookup */
	/* The topic's identity at the last lookup: a topic deleted and
	 * created again under the same name has another. */
	uint32_t topic_id;
	uint64_t topic_created;
};

int vb_log_init(struct vb_log *l, struct vb_client *c, const char *stream,
		const char *topic, uint32_t create_parts, struct vb_err *e);
void vb_log_release(struct vb_log *l);
/*
 * Looks the topic up (one get_topic); when it or its stream is missing,
 * creates them (treating "already exists" as success, so concurrent
 * tools agree) and looks again.  Fills nparts and parts.
 */
int vb_log_bootstrap(struct vb_log *l, struct vb_err *e);
/*
 * For readers, which never create: looks the topic up.  A missing stream
 * or topic is VB_E_USAGE naming the ones there are (internal "__" ones
 * left out) and how to create it.
 */
int vb_log_open(struct vb_log *l, struct vb_err *e);
/* Looks the topic up again (partition offsets change all the time). */
int vb_log_refresh(struct vb_log *l, struct vb_err *e);

static inline int vb_log_part_empty(const struct vb_partition_info *p)
{
	return p->current_offset == 0 && p->messages_count == 0;
}
/* The next offset a new message of the partition would get. */
static inline uint64_t vb_log_part_end(const struct vb_partition_info *p)
{
	return vb_log_part_empty(p) ? 0 : p->current_offset + 1;
}

uint32_t vb_log_key_partition(const void *key, size_t len, uint32_t nparts);

/* Fills who as a consumer (kind 1) or group (kind 2) named name. */
int vb_log_who(struct vb_consumer *who, int group, const char *name,
	       struct vb_err *e);

/* ---- positions ---- */

enum vb_pos_kind {
	VB_POS_COMMITTED,
	VB_POS_BEGINNING,
	VB_POS_END,
	VB_POS_OFFSET, /* n: absolute next offset */
	VB_POS_BACK,   /* n: that many before a base position */
	VB_POS_TIME,   /* n: first message with timestamp >= n µs */
};

struct vb_pos {
	enum vb_pos_kind kind;
	uint64_t n;
};

/*
 * Parses beginning | end | committed | N | -N | @TIMESTAMP (committed
 * only when allow_committed).
 */
int vb_pos_parse(const char *s, int allow_committed, struct vb_pos *pos,
		 struct vb_err *e);

/*
 * The next offset of partition p for pos.  `committed` is the current
 * next-to-read of the consumer (used by VB_POS_COMMITTED); VB_POS_BACK
 * counts back from the partition's end when back_from_end, else from
 * `committed`.  Results are clamped to [0, end].  A timestamp after
 * every message resolves to the end.  `who` is used by the timestamp
 * poll (a group must be joined for it).
 */
int vb_log_resolve(struct vb_log *l, const struct vb_consumer *who, uint32_t p,
		   const struct vb_pos *pos, uint64_t committed,
		   int back_from_end, uint64_t *next, struct vb_err *e);

/*
 * The consumer's next-to-read on partition p: stored + 1, or 0 with
 * *has = 0 when nothing is stored.
 */
int vb_log_committed(struct vb_log *l, const struct vb_consumer *who,
		     uint32_t p, uint64_t *next, int *has, struct vb_err *e);
/*
 * Makes `next` the consumer's next-to-read on p: stores next - 1, or
 * deletes the stored offset when next is 0 (where nothing is stored, the
 * registry tells where to read: vb_log_commit_moves keeps it in step).  A
 * group must be joined and own p.
 */
int vb_log_commit(struct vb_log *l, const struct vb_consumer *who, uint32_t p,
		  uint64_t next, struct vb_err *e);
/*
 * Commits next[p] for every partition in moved, and keeps the registry in
 * step: a consumer it does not know (s, from vb_log_starts) gets its first
 * record with next for every partition; a known one a move record for the
 * moved partitions that went to 0, where no offset can be stored.
 */
struct vb_start;
int vb_log_commit_moves(struct vb_log *l, const struct vb_consumer *who,
			const struct vb_start *s, const uint64_t *next,
			const uint8_t *moved, struct vb_err *e);

/* ---- where a consumer with nothing committed starts ---- */

/*
 * Two ideas never confused: the start (where a consumer that has nothing
 * committed in a partition reads first: the beginning, or for a live
 * consumer the end; Kafka's auto.offset.reset) and a move (a one-off seek
 * of a consumer's position, committed at once so the next run goes on
 * from there).
 *
 * "Nothing committed" cannot tell a consumer that never ran from one that
 * started at the end of a partition that was empty then, so vibes keeps a
 * registry in the server (registry.c): the topic VB_LOG_REGISTRY_TOPIC of
 * the log's stream, one message per record.  A consumer is known once it
 * has a record; in a partition where it has nothing committed it reads
 * from the record's start for that partition (0 when it names none).
 */
#define VB_LOG_REGISTRY_TOPIC "__vibes_consumers"

enum vb_start_mode {
	VB_START_BEGINNING, /* default: a new reader replays history */
	VB_START_END,	    /* a live consumer: only what comes next */
};

struct vb_start {
	int known;	/* the registry holds a record of who */
	uint32_t n;	/* partitions (l->nparts at the lookup) */
	uint64_t *next; /* per partition: where to read first */
	uint8_t *set;	/* ... named by a record */
};

/* Looks who up in the registry (no registry: not known). */
int vb_log_starts(struct vb_log *l, const struct vb_consumer *who,
		  struct vb_start *s, struct vb_err *e);
void vb_start_release(struct vb_start *s);
/*
 * Adds a record: where who starts in the partitions of mask (NULL: all),
 * next[p] each.  A first record (move 0) tells where a new consumer
 * began; later ones (move 1) override it, for a move to where no offset
 * can be stored (the beginning of a partition).  Creates the registry
 * topic on first use.
 */
int vb_log_record_start(struct vb_log *l, const struct vb_consumer *who,
			int move, const uint64_t *next, const uint8_t *mask,
			struct vb_err *e);

/*
 * What a group member registered about itself when it joined: its member
 * id, pid, host and the address of its connection (member records of the
 * registry; the latest per member id).
 */
struct vb_member_reg {
	uint32_t member;
	long pid;
	char host[64];
	char address[80];
};

int vb_log_record_member(struct vb_log *l, const struct vb_consumer *who,
			 uint32_t member, struct vb_err *e);
/* Forgets who: it is not listed, and a later run of it is a new one. */
int vb_log_record_delete(struct vb_log *l, const struct vb_consumer *who,
			 struct vb_err *e);

/* A consumer or group the registry knows for the log's topic. */
struct vb_registered {
	int group;
	int deleted;
	char name[VB_NAME_MAX + 1];
};

/* *regs (to free): the ones not deleted, in the order they first came. */
int vb_log_registered(struct vb_log *l, struct vb_registered **regs, size_t *n,
		      struct vb_err *e);
/*
 * Deletes a consumer's positions in every partition (or a group, with
 * its positions) and its registry records' effect.  A group that does
 * not exist is VB_E_USAGE.
 */
int vb_log_delete(struct vb_log *l, const struct vb_consumer *who,
		  struct vb_err *e);
/* *regs (to free) holds *n records, one per member id. */
int vb_log_member_regs(struct vb_log *l, const struct vb_consumer *who,
		       struct vb_member_reg **regs, size_t *n,
		       struct vb_err *e);

/* ---- consumer groups ---- */

/* A group as get_consumer_group shows it. */
#define VB_NO_MEMBER UINT32_MAX

struct vb_group_members {
	int found;     /* the group exists */
	uint32_t n;    /* members */
	uint32_t *ids; /* their member ids */
	uint32_t nparts;
	uint32_t *owner; /* per partition: member id or VB_NO_MEMBER */
};

int vb_log_group_members(struct vb_log *l, const struct vb_consumer *who,
			 struct vb_group_members *gm, struct vb_err *e);
void vb_group_members_release(struct vb_group_members *gm);

/* Creates the group if missing (5004 is success) and joins it. */
int vb_log_group_join(struct vb_log *l, const struct vb_consumer *who,
		      struct vb_err *e);
int vb_log_group_leave(struct vb_log *l, const struct vb_consumer *who,
		       struct vb_err *e);
/* *found = 0 when the group does not exist. */
int vb_log_group_exists(struct vb_log *l, const struct vb_consumer *who,
			int *found, struct vb_err *e);

/* ---- lag and seek (vibes-seek) ---- */

struct vb_lag_row {
	uint32_t partition;
	int empty;    /* the partition never held a message */
	uint64_t hwm; /* offset of the last message (if !empty) */
	uint64_t end; /* hwm + 1, or 0 when empty */
	int has_committed;
	uint64_t committed; /* stored offset (last processed), if any */
	uint64_t next;	    /* next offset the consumer reads */
	uint64_t lag;	    /* end - next: messages not yet processed */
};

/* Rows for every partition (rows must hold l->nparts after bootstrap). */
int vb_log_lag(struct vb_log *l, const struct vb_consumer *who,
	       struct vb_lag_row *rows, struct vb_err *e);
/*
 * Moves the consumer on partition `part` (or all when part < 0) to pos
 * (VB_POS_BACK counts back from the committed position).  For a group,
 * joins, stores and leaves: run it while no member of the group runs.
 * On success rows (l->nparts) describe the new state.
 */
int vb_log_seek(struct vb_log *l, const struct vb_consumer *who, long part,
		const struct vb_pos *pos, struct vb_lag_row *rows,
		struct vb_err *e);

/* ---- appending (vibes-append) ---- */

enum vb_route {
	VB_ROUTE_FIELD,	    /* key = a top-level string member */
	VB_ROUTE_KEY,	    /* one fixed key */
	VB_ROUTE_PARTITION, /* one fixed partition */
	VB_ROUTE_BALANCED,  /* batches round robin over partitions */
};

struct vb_append_opts {
	enum vb_route route;
	const char *key_field; /* VB_ROUTE_FIELD */
	const char *key;       /* VB_ROUTE_KEY */
	uint32_t partition;    /* VB_ROUTE_PARTITION */
	uint32_t batch_lines;  /* lines per batch */
	size_t batch_bytes;    /* payload bytes per batch */
	uint64_t linger_us;    /* send a partial batch after this idle time */
	size_t buffer_bytes;   /* unacknowledged data kept for resending */
	uint64_t retry_us;     /* give up after the server was away this long */
	int skip_invalid;      /* report bad lines and go on */
	int acks;	       /* learn the offset of every line */
	/* user header pairs added to every message (vb_wire_uhdr_add) */
	const struct vb_buf *headers;
	volatile sig_atomic_t *stop; /* set by a signal: finish early */
};

void vb_append_opts_init(struct vb_append_opts *o);

struct vb_append_input {
	const char *name; /* "-" for stdin */
	int fd;
};

struct vb_append_stats {
	uint64_t lines; /* lines read (every kind) */
	uint64_t sent;	/* lines acknowledged by the server */
	uint64_t invalid;
	uint64_t blank;
	uint64_t bytes; /* payload bytes acknowledged */
	uint64_t reconnects;
	uint64_t resent; /* lines sent again after a reconnect */
	uint64_t found;	 /* lines in doubt found stored after one */
};

/* What became of input lines, for the account of a run that stopped. */
enum vb_line_state {
	VB_LINES_STORED,     /* stored (or nothing to store: blank) */
	VB_LINES_NOT_STORED, /* not stored: resending them is right */
	VB_LINES_UNKNOWN,    /* sent, and the server went away before
				 * saying; no later connection could tell */
};

/* An offset --acks cannot name (the topic was deleted meanwhile). */
#define VB_NO_OFFSET UINT64_MAX

struct vb_append_cb {
	void *arg;
	vb_log_connect_fn connect;
	/* A bad line (always called, also when it stops the run). */
	void (*invalid)(void *arg, const char *input, uint64_t line,
			const char *reason, size_t byte);
	/* One acknowledged line (opts.acks), in input order. */
	void (*ack)(void *arg, const char *input, uint64_t line,
		    uint32_t partition, uint64_t offset);
	/*
	 * After the acks of the rounds that completed together: whoever
	 * reads them waits for them now (a pipeline that drops what is
	 * stored), so the caller hands them over rather than buffering.
	 */
	void (*acked)(void *arg);
	/* Something worth saying with -v (reconnected, ...). */
	void (*notice)(void *arg, const char *msg);
	/*
	 * A wait began, to be said at once: why (naming the server) and the
	 * wall-clock time (µs since the epoch) it lasts until at most.
	 * Called once per outage; recovered() when it ends.
	 */
	void (*waiting)(void *arg, const char *why, uint64_t until_us);
	void (*recovered)(void *arg, const char *what, uint64_t waited_us);
	/* Called about every 200 ms while data flows. */
	void (*progress)(void *arg, const struct vb_append_stats *st);
	/*
	 * After a run that did not store every line (it returned -1): every
	 * input line, in order, as runs of one state: lines first..last of
	 * input number `input` (last 0: to the end of that input).
	 */
	void (*account)(void *arg, size_t input, uint64_t first, uint64_t last,
			enum vb_line_state state);
};

/*
 * Reads every input in order, validates, batches, sends and waits for
 * the acknowledgements.  c may be connected already (else cb->connect is
 * called).  Every way a connection ends (idle, mid-batch, mid-lookup,
 * during login, a restart on another port) goes through one reconnect
 * path: connect again within retry_us, find out by their ids which lines
 * in flight were stored, send only the others, in order.
 *
 * Returns 0 when every valid line was stored; -1 with e: VB_E_DATA when a
 * bad line stopped the run (nothing from the bad line's batch on was
 * sent); a transient kind (vb_err_transient) when the server stayed away
 * longer than retry_us; any other kind for a failure no retry cures
 * (login refused, no server binary...), at once.  After -1, cb->account
 * says exactly which lines were stored.
 */
int vb_append_run(const struct vb_append_opts *o, struct vb_log *l,
		  struct vb_append_input *in, size_t nin,
		  const struct vb_append_cb *cb, struct vb_append_stats *st,
		  struct vb_err *e);

/* ---- output with delivery tracking (vibes-poll) ---- */

enum vb_handoff {
	VB_HANDOFF_AUTO,  /* line for pipes, block otherwise */
	VB_HANDOFF_LINE,  /* pipes: one line in the pipe at a time */
	VB_HANDOFF_BLOCK, /* large writes */
};

/*
 * Lines are added to a buffer and written by vb_out_flush, which says how
 * many whole lines were delivered: written, and for a pipe, taken out of
 * it by the reader.  With VB_HANDOFF_LINE a reader that stops early (head
 * -n 5) has been handed exactly the lines it read.
 */
struct vb_out {
	int fd;
	int is_pipe;
	enum vb_handoff handoff;
	int ino;    /* inotify fd watching the pipe, or -1 */
	int closed; /* the reader went away (EPIPE) */
	struct vb_buf buf;
	uint32_t *ends; /* end offset of each line in buf */
	size_t nlines, cap;
};

void vb_out_init(struct vb_out *o, int fd, enum vb_handoff h);
void vb_out_release(struct vb_out *o);
/* Starts / ends one line in o->buf (write the bytes between with vb_buf). */
static inline void vb_out_line_end(struct vb_out *o);
/*
 * Writes everything buffered.  *delivered = number of whole lines
 * delivered (from the start of the buffer); the buffer is emptied.
 * Returns -1 with e on failure: e->sys == EPIPE when the reader went away
 * (o->closed), else a VB_E_IO error (disk full, ...).
 */
int vb_out_flush(struct vb_out *o, size_t *delivered, struct vb_err *e);

void vb_out_grow_(struct vb_out *o);
static inline void vb_out_line_end(struct vb_out *o)
{
	if (o->nlines == o->cap)
		vb_out_grow_(o);
	o->ends[o->nlines++] = (uint32_t)o->buf.len;
}

/* ---- consuming (vibes-poll) ---- */

enum vb_format { VB_FORMAT_RAW, VB_FORMAT_JSON, VB_FORMAT_TEMPLATE };

enum vb_order {
	VB_ORDER_TIME,	    /* partitions of a round merged by timestamp */
	VB_ORDER_PARTITION, /* partition after partition */
};

struct vb_consume_opts {
	int group; /* -g instead of -c */
	const char *name;
	/* nothing committed (and not in the registry): where to begin */
	enum vb_start_mode start;
	/* a move first, committed at once (VB_POS_COMMITTED: none) */
	struct vb_pos from;
	enum vb_order order;
	/* --partition: read only where only[p] (p < nonly); NULL: all */
	const uint8_t *only;
	uint32_t nonly;
	/* --until: stop each partition there (offset, end, time); -c only */
	int has_until;
	struct vb_pos until;
	/* with follow: stop after this long without an event (0: never) */
	uint64_t idle_us;
	/* a bad message: report it through bad() and step over it */
	int skip_bad;
	void (*bad)(void *arg, uint32_t partition, uint64_t offset,
		    const char *why);
	uint64_t limit; /* stop after this many (0: no limit) */
	int follow;
	uint64_t interval_us; /* follow: the longest wait while caught up */
	int no_commit;
	uint32_t count; /* messages per poll request */
	enum vb_format format;
	const struct vb_template *tmpl; /* VB_FORMAT_TEMPLATE */
	enum vb_handoff handoff;
	volatile sig_atomic_t *stop;
	/*
	 * With follow: reconnects through this when the server goes away
	 * (backing off from 50 ms to 2 s) and goes on from the positions
	 * reached; without it, or without follow, a lost server is an error.
	 */
	vb_log_connect_fn connect;
	void *connect_arg;
	/* Told about reconnects (may be NULL). */
	void (*notice)(void *arg, const char *msg);
	/* Told what it waits for, always (a topic that does not exist yet). */
	void (*say)(void *arg, const char *msg);
};

void vb_consume_opts_init(struct vb_consume_opts *o);

struct vb_consume_stats {
	uint64_t delivered; /* events written and delivered */
	uint64_t skipped;   /* bad messages stepped over (skip_bad) */
	uint64_t committed; /* events whose commit the server took */
	uint64_t bytes;
	int reader_gone; /* the output pipe was closed: normal end */
};

/*
 * Reads events and writes them to fd, committing what was delivered.
 * Returns 0 at the end (caught up without follow, limit reached, stop
 * flag, or the reader closed the pipe: st->reader_gone); -1 with e
 * otherwise (VB_E_IO for an output error, after committing what was
 * delivered).
 */
int vb_consume_run(const struct vb_consume_opts *o, struct vb_log *l, int fd,
		   struct vb_consume_stats *st, struct vb_err *e);

/*
 * Formats one message as vibes-poll --format json does (no newline):
 * {"partition":P,"offset":O,"timestamp":T,"id":"UUID","key":K,
 *  "headers":{...},"payload":...}; key is the "key" header (null without
 * one), headers every user header (strings as strings, numbers as
 * numbers, raw bytes as "0x..."; both null when the block is broken).
 */
void vb_log_format_json(struct vb_buf *b, uint32_t partition,
			const struct vb_msg *m);

/*
 * A kcat-like template: %s payload, %p partition, %o offset, %k key, %T
 * timestamp in ms, %t the timestamp as RFC 3339, %h headers (name=value,
 * comma-separated), %i id, %% a percent sign; \n, \t and \\ escapes.
 */
struct vb_template;
int vb_template_parse(struct vb_template **t, const char *s, struct vb_err *e);
void vb_template_free(struct vb_template *t);
void vb_template_format(struct vb_buf *b, const struct vb_template *t,
			uint32_t partition, const struct vb_msg *m);

#endif
