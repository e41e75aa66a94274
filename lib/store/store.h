/*
 * store.h - the bundled broker's durable storage (messages.md §7).
 *
 * A partition is a directory holding segments: `{start:020}.log` with the
 * stored messages exactly as one protocol's polls answer them, and
 * `{start:020}.index` with one 16-byte entry per message (u32 offset
 * relative to the segment start, u32 end position in the .log, u64 server
 * timestamp in µs).  A message sent in Iggy 0.8 is stored as a 0.8 frame
 * (64-byte header, payload, user headers); a batch sent in 0.9 is stored as
 * the 0.9 batch record it came in (256-byte header, stamped, then its
 * 48-byte-header frames as sent), so that each protocol's own messages go
 * out from the page cache by sendfile and only the other one converts.
 * The two may follow each other in one segment: the index entry says which
 * (VB_ENT_*).  Only the last segment is written; the others are sealed.
 * The partition directory also holds `offsets`, the stored consumer and
 * group offsets (rewritten whole, by temporary file and rename).
 *
 * Durability is decided in one place, the commit point (vb_store_commit),
 * which the broker runs once per pass of its event loop before it releases
 * the replies of that pass.  Until then an append is only written to the
 * files (the page cache) and an offset change only made in memory; both
 * mark their partition pending.  The commit point then, per pending
 * partition and as the durability policy says, fdatasyncs the segment
 * files written since the last commit (once, however many batches went
 * into them: group commit), writes the offsets file once, and publishes
 * the new end: reads (vb_part_read) never go past what a commit point
 * published, so no reader sees a message whose producer may still be told
 * it failed.  When a partition's commit fails, what it held since the last
 * commit is undone (the segment files truncated back, the offsets table
 * restored) and the partition says so (data_err, offs_err) until
 * vb_store_commit_end, so the broker can answer 13000 to the clients that
 * waited for it.
 *
 * Recovery (vb_part_open): sealed segments are trusted when the last
 * entry of their index agrees with the log size (only that entry is read:
 * start-up does not read sealed indexes); after a clean shutdown the last
 * segment's index is checked whole, a chunk at a time (it costs no
 * memory); after a crash the last segment (and any
 * segment whose index disagrees) is scanned message by message, checking
 * sizes, consecutive offsets and the XXH3 checksum (a 0.9 record: every
 * frame's and the record's), and the log is truncated at the first bad or
 * torn message or record; the index is rebuilt from
 * what remains.  A full disk does not stop a recovery: an index that
 * cannot be rewritten is rebuilt in memory and again at the next start.
 * The rest of a sealed index is checked chunk by chunk when first read; a
 * damaged chunk has the index rebuilt from the log (mapped only for that
 * scan, on the loop thread: nothing cuts a sealed log meanwhile), and if
 * the log does not scan clean to its end either, the segment is refused
 * (a notice says so) and reads skip it: garbage is never served.
 *
 * Everything here runs on the broker's event loop thread except the
 * syncer's thread, which only touches struct vb_file references and the
 * queued paths, under the syncer's mutex.
 */
#ifndef VB_STORE_H
#define VB_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fdio.h"
#include "base/path.h"

/* ---- files ---- */

/*
 * A reference-counted file descriptor: a poll reply queued for sendfile and
 * the syncer may still hold a segment's log after the segment was deleted.
 */
struct vb_file {
	int fd;
	atomic_int refs;
	atomic_int queued; /* in the syncer's dirty list */
	/* Bytes wholly written as of the last commit point (the loop's). */
	atomic_uint_least64_t written;
	/* Bytes known durable: a lower bound, raised by every good fsync. */
	atomic_uint_least64_t synced;
	/* errno of a failed background fsync, 0 once it was made good. */
	atomic_int sync_err;
};

struct vb_file *vb_file_new(int fd);
struct vb_file *vb_file_ref(struct vb_file *f);
/* Drops a reference; the last one closes the descriptor. */
void vb_file_unref(struct vb_file *f);

/* rm -rf; a missing path is not an error. */
int vb_rmtree(const char *path, struct vb_err *e);
/*
 * vb_path_read_file with every failure reported as VB_E_IO; a missing
 * file gives -1 with e->sys == ENOENT.
 */
int vb_read_file(const char *path, struct vb_buf *out, size_t max,
		 struct vb_err *e);

/* ---- durability policy ---- */

/*
 * What the fdatasyncs of message files cost, for GET /metrics: a count, the
 * total time and a histogram (bucket i holds calls of at most
 * vb_sync_bounds_ns[i], the last one the rest).  The fsync thread and the
 * loop both add to it, hence the atomics.
 */
#define VB_SYNC_BUCKETS 14
extern const int64_t vb_sync_bounds_ns[VB_SYNC_BUCKETS];

struct vb_sync_stats {
	atomic_uint_least64_t count;
	atomic_uint_least64_t failed;
	atomic_uint_least64_t sum_ns;
	atomic_uint_least64_t b[VB_SYNC_BUCKETS + 1];
};

enum vb_fsync_mode {
	VB_FSYNC_NEVER,
	VB_FSYNC_INTERVAL,
	VB_FSYNC_ALWAYS,
};

struct vb_part;

/* One sync of an always-mode commit: exactly one of f, fd, dir is set. */
struct vb_sync_item {
	struct vb_file *f; /* fdatasync, holding a reference */
	int fd;		   /* fdatasync of a plain descriptor, or -1 */
	char *dir;	   /* fsync of a directory */
	struct vb_part *owner;
	int err; /* its errno, 0 when it succeeded */
};

struct vb_sync_job {
	struct vb_sync_item *v;
	size_t n, cap;
};

/* A file to rename over path once synced (vb_syncer_save). */
struct vb_sync_save {
	char *tmp;
	char *path;
	int cancelled; /* vb_syncer_forget: leave it, remove tmp */
};

struct vb_syncer {
	enum vb_fsync_mode mode;
	unsigned interval_ms;
	pthread_t thread;
	int started;
	int stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vb_file **files; /* dirty, each holding a reference */
	size_t nfiles, files_cap;
	char **paths; /* replaced files to fsync (+ dir) */
	size_t npaths, paths_cap;
	/*
	 * Interval mode: files written whole beside the one they replace,
	 * renamed over it by the thread only once their data is synced
	 * (vb_syncer_save); taking: the round's, being worked on.
	 */
	struct vb_sync_save *saves, *taking;
	size_t nsaves, saves_cap, ntaking;
	char **failed; /* paths whose fsync failed */
	size_t nfailed, failed_cap;
	int failed_errno;     /* last fsync failure, 0 if none */
	atomic_uint failures; /* failed fsyncs so far */
	uint64_t syncs;	      /* completed fsync rounds */
	struct vb_sync_stats stats;
	/*
	 * Always mode: the commit point's job, run by the thread while the
	 * event loop serves the next pass; efd (an eventfd) becomes readable
	 * when it is done.
	 */
	struct vb_sync_job *job;
	int job_taken;
	pthread_cond_t done_cv;
	int efd;
};

void vb_syncer_init(struct vb_syncer *s, enum vb_fsync_mode mode,
		    unsigned interval_ms);
/*
 * Starts the background thread (interval and always modes; in always mode
 * also s->efd).
 */
int vb_syncer_start(struct vb_syncer *s, struct vb_err *e);
/*
 * Always mode: hands job over to the thread, or runs it at once on this
 * thread when `here` is set or there is no thread.  One job at a time:
 * vb_syncer_wait comes first.
 */
void vb_syncer_submit(struct vb_syncer *s, struct vb_sync_job *job, int here);
/* Is the job handed over done?  (Never blocks.) */
int vb_syncer_done(struct vb_syncer *s);
/* Blocks until the job handed over is done, and empties s->efd. */
void vb_syncer_wait(struct vb_syncer *s);
/*
 * Interval mode: queues f for the thread's next round, which fdatasyncs
 * it and raises f->synced to what f->written said before the call; a
 * failure sets f->sync_err and counts in s->failures.  Other modes:
 * nothing (the commit point syncs itself in always mode).
 */
void vb_syncer_queue(struct vb_syncer *s, struct vb_file *f);
/*
 * Interval mode: takes f off the next round (the caller synced it), so
 * that the round's reference does not keep its descriptor open.
 */
void vb_syncer_unqueue(struct vb_syncer *s, struct vb_file *f);
/* Interval mode: path (a replaced file, or a directory) and its directory. */
void vb_syncer_dirty_path(struct vb_syncer *s, const char *path);
/* fdatasync(fd), timed and counted in s->stats. */
int vb_syncer_fdatasync(struct vb_syncer *s, int fd);
/*
 * Interval mode: tmp holds the next contents of path, written and not
 * synced.  The thread's next round fsyncs tmp, renames it over path and
 * fsyncs the directory, in that order: a rename done at once would reach
 * the disk with the next fsync of the directory (a new segment, another
 * file's rename), maybe before tmp's data, and a power loss would then
 * leave an empty or torn path where a synced one was.  A save of path
 * still queued is dropped (its tmp removed): only the newest is renamed.
 * A failure lands in the failed paths (vb_syncer_take_failed) as path.
 */
void vb_syncer_save(struct vb_syncer *s, const char *tmp, const char *path);
/*
 * Cancels every save queued or under way whose path begins with prefix
 * and removes their temporary files: once it returns, none of them is
 * renamed (a purge or a deleted partition must not get its old file back).
 */
void vb_syncer_forget(struct vb_syncer *s, const char *prefix);
/*
 * The paths whose background fsync failed since the last call, handed
 * over (free each and the array); returns how many.
 */
size_t vb_syncer_take_failed(struct vb_syncer *s, char ***paths);
/* Syncs everything queued now, whatever the mode (flush, shutdown). */
int vb_syncer_flush(struct vb_syncer *s, struct vb_err *e);
/*
 * Stops the thread after a last flush and frees the queues; the syncer
 * does nothing after it (mode never).
 */
void vb_syncer_release(struct vb_syncer *s);

/* ---- segments and partitions ---- */

#define VB_SEG_DEFAULT_SIZE (1024ull * 1024 * 1024)
/* Index positions are u32: a segment never grows past this. */
#define VB_SEG_HARD_MAX 0xF0000000ull

/*
 * Memory bounded by configuration, not by data.  No segment keeps its
 * index in memory: entries are read from the .index file (pread, never
 * mmap, so that a file cut or deleted under a reader cannot raise SIGBUS)
 * in chunks of VB_IDX_CHUNK entries, kept in one LRU cache shared by every
 * partition of the store and bounded by index_cache bytes; a chunk is
 * checked when it is read (offsets in sequence, positions rising within
 * the log, timestamps not going back).  A sealed segment that no commit
 * point still syncs (settled) keeps its files open only while it is among
 * the open_max most recently used (plus those the read in progress uses,
 * whose spans stay valid until the next read): another LRU.  The active
 * segments, and those sealed but not yet settled (a burst that fills
 * several small segments in one pass), always keep theirs.
 */
#define VB_IDX_CHUNK 1024u /* entries: 16 KiB */
#define VB_OPEN_SEGS_DEFAULT 128u
#define VB_INDEX_CACHE_DEFAULT (8ull * 1024 * 1024)

struct vb_seg;

struct vb_idx_chunk {
	struct vb_seg *seg;
	uint32_t no;			  /* entries no * VB_IDX_CHUNK on */
	struct vb_idx_chunk *prev, *next; /* LRU, newest first */
	uint8_t ent[VB_IDX_CHUNK * 16];
};

/* Shared by every partition of one broker. */
struct vb_store {
	struct vb_syncer *sync;
	uint64_t segment_size;
	/* The previous shutdown was clean: trust the last segment's index. */
	int clean;
	/* Recovery and repair notices ("X: truncated at byte ..."). */
	void (*notice)(void *arg, const char *msg);
	void *notice_arg;
	uint64_t written_bytes;
	uint64_t read_bytes;
	/*
	 * Every open partition, those changed since the last commit, and
	 * (always mode) those whose syncs the thread is running: job.
	 */
	struct vb_part **parts;
	size_t nparts, parts_cap;
	struct vb_part **pending;
	size_t npending, pending_cap;
	struct vb_part **inflight;
	size_t ninflight, inflight_cap;
	struct vb_sync_job job;
	int busy; /* job handed over, not collected */
	/*
	 * Run the next job on the caller's thread: nothing else waits for
	 * the event loop, so a hand-over would only add two wake-ups.
	 */
	int sync_here;
	unsigned failures_seen; /* sync->failures already handled */
	uint64_t saves;		/* names the interval offsets files */

	/* Limits (0: the defaults above) and the two LRUs. */
	unsigned open_max;
	uint64_t index_cache;
	struct vb_seg *open_head, *open_tail; /* newest first */
	unsigned nopen;
	struct vb_idx_chunk *ch_head, *ch_tail;
	uint64_t cache_bytes;
	/*
	 * Each read takes a new generation; the segments it opened carry it
	 * (vb_seg.pin) and are not closed before the next read, so the spans
	 * it returns stay valid until then.
	 */
	uint64_t read_gen;
	/* Counters (tests, stats): chunk reads, segment file opens. */
	uint64_t idx_loads, seg_opens;
};

struct vb_seg {
	struct vb_store *st;
	const char *dir;  /* its partition's (borrowed) */
	uint64_t start;	  /* offset of its first message */
	uint32_t count;	  /* messages */
	uint64_t size;	  /* bytes in .log */
	uint64_t last_ts; /* timestamp of its last message (0: none) */
	/*
	 * The whole index in memory, only when the .index file could not be
	 * rewritten after a repair (a full disk): count * 16 bytes.
	 */
	uint8_t *idx;
	size_t idx_cap;
	struct vb_idx_chunk **chunks; /* cached chunks by number */
	uint32_t nchunks;
	/* NULL while a settled segment's files are closed (LRU). */
	struct vb_file *log;
	int idx_fd; /* -1 once sealed and committed (settled) */
	int rfd;    /* a settled segment's .index, for reads */
	struct vb_seg *oprev, *onext; /* the open LRU, when settled */
	int in_open;
	uint64_t pin; /* st->read_gen of the read that used it */
	int sealed;
	int verified; /* its messages were checked at load */
	/*
	 * A lookup could not read the index since fault was last cleared
	 * (what it found is not to be used); damaged: it never can.
	 */
	int fault;
	int damaged;
};

enum vb_offset_kind { VB_OFF_CONSUMER = 1, VB_OFF_GROUP = 2 };

struct vb_offset_rec {
	uint8_t kind; /* enum vb_offset_kind */
	uint32_t key; /* consumer key or group id */
	uint64_t offset;
};

struct vb_part {
	struct vb_store *st;
	char *dir;
	uint32_t id;
	uint64_t created_at;
	struct vb_seg **segs;
	size_t nsegs, segs_cap;
	uint64_t next;	  /* offset the next message gets */
	uint64_t last_ts; /* newest stored timestamp */
	uint64_t msgs;	  /* messages present */
	uint64_t bytes;	  /* bytes present */
	struct vb_offset_rec *offs;
	size_t noffs, offs_cap;
	struct vb_buf scratch;
	/* Since the process started, for metrics (the broker counts). */
	struct {
		uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
	} io;

	/*
	 * What the last commit point published: the next offset, the newest
	 * timestamp, and the start, message count and log size of the segment
	 * that was active then.  Reads stop at mark.next; a failed commit
	 * goes back to it.
	 */
	struct {
		uint64_t next, last_ts, seg_start, size;
		uint32_t count;
	} mark;
	/* What the always-mode job in flight makes durable, like mark. */
	struct {
		uint64_t next, last_ts, seg_start, size;
		uint32_t count;
	} sub;
	int pending;	/* on st->pending */
	int inflight;	/* on st->inflight */
	int data_dirty; /* appended since the mark (or sub) */
	int flush_req;	/* a flush asked to sync, whatever the policy */
	int dir_dirty;	/* a segment file was made: sync the dir */
	int offs_dirty; /* offsets changed since the last commit */
	struct vb_offset_rec *offs_saved; /* the table as last saved */
	size_t noffs_saved;
	/*
	 * Acknowledged data may not be durable (a background fsync failed)
	 * or the files are longer than the partition (a truncation failed):
	 * vb_part_repair must succeed before the next write.  An errno.
	 */
	int failed;
	/* The last commit point's outcome, until vb_store_commit_end. */
	int data_err, offs_err; /* errno, 0: fine */
	uint32_t undone;	/* messages of this commit taken back */
	struct vb_err cerr;	/* what failed */
};

/*
 * How an index entry's message is stored, in the top bits of its relative
 * offset: none, a 0.8 frame; VB_ENT_V09, a frame of a stored 0.9 record,
 * with VB_ENT_HEAD on the record's first, which the record's header
 * precedes (as far as the index goes, those 256 bytes are that message's).
 */
#define VB_ENT_V09 0x80000000u
#define VB_ENT_HEAD 0x40000000u
#define VB_ENT_REL 0x3fffffffu

/*
 * A byte range of one segment's log, for sendfile: the bytes of messages
 * stored alike (all 0.8 frames, or all frames of 0.9 records).
 */
struct vb_span {
	struct vb_file *f; /* borrowed: take a reference to keep it */
	uint64_t off;
	uint64_t len;
	/* its messages: the segment's rel .. rel + n - 1 (borrowed too) */
	struct vb_seg *seg;
	uint32_t rel, n;
	int v09;	/* frames of 0.9 records */
	uint32_t heads; /* records beginning in it (their headers in len) */
};

/* Span sp's bytes as 0.8 frames (a 0.9 span's once converted). */
uint64_t vb_span_len08(const struct vb_span *sp);

/*
 * The end position in the log and the VB_ENT_* bits of span sp's n
 * messages, from the index: 0, or -1 when it cannot be read.
 */
int vb_span_ents(const struct vb_span *sp, uint64_t *end, uint32_t *fl);
/*
 * The stored header (VB_BATCH_HDR bytes) of the 0.9 record that span
 * sp's first message belongs to, its position in the log and the offset
 * of the record's first message (what the header's base offset must be).
 */
int vb_span_rec_hdr(const struct vb_span *sp, uint8_t *hdr, uint64_t *pos,
		    uint64_t *first, struct vb_err *e);

/*
 * Opens (recovering) or creates the partition in dir.  With create, a
 * missing directory is made; without, it must exist.
 */
int vb_part_open(struct vb_part **pp, struct vb_store *st, const char *dir,
		 uint32_t id, uint64_t created_at, int create,
		 struct vb_err *e);
/* Closes the files and frees the partition. */
void vb_part_free(struct vb_part *p);
/* Deletes the partition's files, then frees it. */
int vb_part_destroy(struct vb_part *p, struct vb_err *e);

/*
 * Appends n validated message frames (len bytes, back to back), stamping
 * them in place: offsets from p->next, timestamp ts (raised to the last
 * stored one if the clock went back), random ids where the id is zero,
 * checksums.  Written to the files when it returns 0; readable and
 * durable (per the policy) once the next commit point succeeds.  Fails,
 * with nothing written, on a write error, when the partition's commit
 * failed in this pass, or when it cannot be repaired.
 */
int vb_part_append(struct vb_part *p, uint8_t *frames, size_t len, uint32_t n,
		   uint64_t ts, struct vb_err *e);
/*
 * The same for frames the caller stamped already, as vb_part_append
 * would (offsets from next, timestamp ts: vb_part_stamp_ts), while making
 * them: when next is no longer p->next (a repair moved it) or ts is below
 * the last stored timestamp, they are stamped again.
 */
int vb_part_append_stamped(struct vb_part *p, uint8_t *frames, size_t len,
			   uint32_t n, uint64_t ts, uint64_t next,
			   struct vb_err *e);
/*
 * The same for a checked 0.9 batch record (len bytes, n frames, each
 * frame's offset delta its index and its id not 0), stored as it is: the
 * caller stamped it (vb_wire_batch_stamp) from offset next at ts; it is
 * stamped again as above.
 */
int vb_part_append_record(struct vb_part *p, uint8_t *rec, size_t len,
			  uint32_t n, uint64_t ts, uint64_t next,
			  struct vb_err *e);
/* The timestamp vb_part_append gives a batch arriving at now_us. */
static inline uint64_t vb_part_stamp_ts(const struct vb_part *p,
					uint64_t now_us)
{
	return now_us < p->last_ts ? p->last_ts : now_us;
}

/* Offset of the oldest message present (p->next when empty). */
uint64_t vb_part_first(const struct vb_part *p);
/* First offset not published by a commit point: reads stop before it. */
static inline uint64_t vb_part_end(const struct vb_part *p)
{
	return p->mark.next;
}
/* Offset of the last message published; 0 when none. */
static inline uint64_t vb_part_current(const struct vb_part *p)
{
	return p->mark.next ? p->mark.next - 1 : 0;
}
/* First offset whose timestamp is >= ts; -1 if none. */
int vb_part_find_ts(struct vb_part *p, uint64_t ts, uint64_t *off);

/*
 * Locates up to count published messages from offset start (or the oldest
 * present if start is older), stopping before max_bytes unless that would
 * return nothing.  Fills up to maxsp spans (one per segment touched and
 * run of messages stored alike);
 * returns the number of spans and sets *n and *last to the messages found
 * and the offset of the last one.
 */
size_t vb_part_read(struct vb_part *p, uint64_t start, uint32_t count,
		    uint64_t max_bytes, struct vb_span *sp, size_t maxsp,
		    uint32_t *n, uint64_t *last);

/*
 * Stored offsets: 1 and *off if present, else 0.  Changes are made in
 * memory and saved by the next commit point, which restores the table as
 * it was saved last if it cannot save it.
 */
int vb_part_offset_get(const struct vb_part *p, uint8_t kind, uint32_t key,
		       uint64_t *off);
int vb_part_offset_store(struct vb_part *p, uint8_t kind, uint32_t key,
			 uint64_t off, struct vb_err *e);
/* Returns 1 if one was deleted, 0 if none was stored, -1 on error. */
int vb_part_offset_delete(struct vb_part *p, uint8_t kind, uint32_t key,
			  struct vb_err *e);

/*
 * Asks the next commit point to fdatasync the partition's active segment
 * (log and index) whatever the policy (flush_unsaved_buffer with fsync).
 */
void vb_part_flush(struct vb_part *p);
/*
 * Repairs a failed partition (p->failed): truncates its files to what it
 * holds and, when a background fsync failed, writes the bytes it may have
 * lost again and syncs them.  0 when the partition is sound again.
 */
int vb_part_repair(struct vb_part *p, struct vb_err *e);

/*
 * The rest change the files at once: the broker runs the commit point
 * before them, so that nothing is pending (they publish what they did).
 * Deletes every message and stored offset; offsets restart at 0.
 */
int vb_part_purge(struct vb_part *p, struct vb_err *e);
/* Deletes the n oldest segments (the active one is replaced by an empty). */
int vb_part_delete_segments(struct vb_part *p, uint32_t n, struct vb_err *e);
/*
 * Retention.  Deletes the oldest sealed segment if it is expired (its
 * newest message older than now - expiry) or if force is set, unless a
 * stored offset below its end protects it.  Returns 1 if one was deleted,
 * 0 if not, -1 on error.
 */
int vb_part_trim_oldest(struct vb_part *p, uint64_t now, uint64_t expiry,
			int force, struct vb_err *e);
/* Timestamp of the newest message in the oldest sealed segment; 0: none. */
uint64_t vb_part_oldest_sealed_ts(const struct vb_part *p);
/*
 * Shutdown: everything of the partition durable now, whatever the mode:
 * every segment and index, the offsets file and the directory.
 */
int vb_part_sync(struct vb_part *p, struct vb_err *e);

/* ---- the commit point ---- */

/*
 * Makes every pending partition's changes durable as the policy says:
 *   always    fdatasync of the segment files written since the last
 *             commit (and their directory when a segment was made),
 *             handed to the thread as one job (st->busy until
 *             vb_store_commit_done); offsets file replaced with fsync of
 *             file and directory, here;
 *   interval  files queued for the background thread, offsets file
 *             replaced and queued;
 *   never     offsets file replaced.
 * A flush request syncs in every mode.  Then publishes the new ends (in
 * always mode, vb_store_commit_done does).  A partition whose commit
 * failed has data_err or offs_err set, its new messages or offset changes
 * undone and a message in cerr, until vb_store_commit_end.  Failed
 * background fsyncs found since the last call are repaired here (a notice
 * says so) or fail their partition.  Not called while st->busy.  Returns
 * the number of partitions that failed.
 */
size_t vb_store_commit(struct vb_store *st);
/*
 * Always mode: waits for the job in flight (if any), then publishes what
 * each partition on st->inflight had synced, or undoes everything it
 * appended since its last published end (the pass being served too) and
 * sets data_err.  Returns the number of partitions that failed.
 */
size_t vb_store_commit_done(struct vb_store *st);
/*
 * Forgets the outcome of the last commit or commit_done; drops from the
 * lists what has nothing left to do.
 */
void vb_store_commit_end(struct vb_store *st);
/*
 * Closes the files of settled segments and drops cached index chunks
 * until both LRUs are within their limits (after changing them).
 */
void vb_store_trim(struct vb_store *st);
/* Frees the store's lists, once every partition is freed. */
void vb_store_release(struct vb_store *st);

#endif
