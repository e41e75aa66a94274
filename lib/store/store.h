/*
 * store.h - the bundled broker's durable storage (messages.md §7).
 *
 * A partition is a directory holding segments: `{start:020}.log` with the
 * stored message frames exactly as they travel in poll responses (64-byte
 * header, payload, user headers) and `{start:020}.index` with one 16-byte
 * entry per message (u32 offset relative to the segment start, u32 end
 * position in the .log, u64 server timestamp in µs).  Only the last segment
 * is written; the others are sealed.  The partition directory also holds
 * `offsets`, the stored consumer and group offsets (rewritten whole, by
 * temporary file and rename).
 *
 * Writes go straight to the files (the page cache), so a message is visible
 * to polls as soon as it is acknowledged; the durability policy of the
 * struct vb_syncer decides when fdatasync runs: never, before every
 * acknowledgement, or at least every interval from a background thread.
 *
 * Recovery (vb_part_open): sealed segments are trusted when their index
 * agrees with the log size; the last segment (and any segment whose index
 * disagrees) is scanned message by message, checking sizes, consecutive
 * offsets and the XXH3 checksum, and the log is truncated at the first bad
 * or torn message; the index is rebuilt from what remains.
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
	atomic_int queued;	/* in the syncer's dirty list */
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

struct vb_syncer {
	enum vb_fsync_mode mode;
	unsigned interval_ms;
	pthread_t thread;
	int started;
	int stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vb_file **files;		/* dirty, each holding a reference */
	size_t nfiles, files_cap;
	char **paths;			/* replaced files to fsync (+ dir) */
	size_t npaths, paths_cap;
	int failed_errno;		/* last fsync failure, 0 if none */
	uint64_t syncs;			/* completed fsync rounds */
	struct vb_sync_stats stats;
};

void vb_syncer_init(struct vb_syncer *s, enum vb_fsync_mode mode,
		    unsigned interval_ms);
/* Starts the background thread (interval mode only). */
int vb_syncer_start(struct vb_syncer *s, struct vb_err *e);
/*
 * f got data that must become durable: always → fdatasync now;
 * interval → queued for the thread; never → nothing.
 */
int vb_syncer_dirty(struct vb_syncer *s, struct vb_file *f, struct vb_err *e);
/* A file replaced by rename: always → already synced; interval → queued. */
void vb_syncer_dirty_path(struct vb_syncer *s, const char *path);
/* fdatasync(fd), timed and counted in s->stats. */
int vb_syncer_fdatasync(struct vb_syncer *s, int fd);
/* Syncs everything queued now, whatever the mode (flush, shutdown). */
int vb_syncer_flush(struct vb_syncer *s, struct vb_err *e);
/* Stops the thread after a last flush and frees the queues. */
void vb_syncer_release(struct vb_syncer *s);

/* ---- segments and partitions ---- */

#define VB_SEG_DEFAULT_SIZE (1024ull * 1024 * 1024)
/* Index positions are u32: a segment never grows past this. */
#define VB_SEG_HARD_MAX 0xF0000000ull

/* Shared by every partition of one broker. */
struct vb_store {
	struct vb_syncer *sync;
	uint64_t segment_size;
	/* The previous shutdown was clean: trust the last segment's index. */
	int clean;
	/* Recovery notices ("partition X: truncated torn tail ..."). */
	void (*notice)(void *arg, const char *msg);
	void *notice_arg;
	uint64_t written_bytes;
	uint64_t read_bytes;
};

struct vb_seg {
	uint64_t start;		/* offset of its first message */
	uint32_t count;		/* messages */
	uint64_t size;		/* bytes in .log */
	uint8_t *idx;		/* count * 16 bytes, as in .index */
	size_t idx_cap;
	struct vb_file *log;
	int idx_fd;		/* -1 once sealed */
	int sealed;
};

enum vb_offset_kind { VB_OFF_CONSUMER = 1, VB_OFF_GROUP = 2 };

struct vb_offset_rec {
	uint8_t kind;		/* enum vb_offset_kind */
	uint32_t key;		/* consumer key or group id */
	uint64_t offset;
};

struct vb_part {
	struct vb_store *st;
	char *dir;
	uint32_t id;
	uint64_t created_at;
	struct vb_seg **segs;
	size_t nsegs, segs_cap;
	uint64_t next;		/* offset the next message gets */
	uint64_t last_ts;	/* newest stored timestamp */
	uint64_t msgs;		/* messages present */
	uint64_t bytes;		/* bytes present */
	struct vb_offset_rec *offs;
	size_t noffs, offs_cap;
	struct vb_buf scratch;
	/* Since the process started, for metrics (the broker counts). */
	struct {
		uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
	} io;
};

/* A byte range of one segment's log, for sendfile. */
struct vb_span {
	struct vb_file *f;	/* borrowed: take a reference to keep it */
	uint64_t off;
	uint64_t len;
};

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
 * checksums.  Durable per the policy when it returns 0.
 */
int vb_part_append(struct vb_part *p, uint8_t *frames, size_t len,
		   uint32_t n, uint64_t ts, struct vb_err *e);

/* Offset of the oldest message present (p->next when empty). */
uint64_t vb_part_first(const struct vb_part *p);
/* Offset of the last message ever stored; 0 when none. */
static inline uint64_t vb_part_current(const struct vb_part *p)
{
	return p->next ? p->next - 1 : 0;
}
/* First offset whose timestamp is >= ts; -1 if none. */
int vb_part_find_ts(const struct vb_part *p, uint64_t ts, uint64_t *off);

/*
 * Locates up to count messages from offset start (or the oldest present if
 * start is older), stopping before max_bytes unless that would return
 * nothing.  Fills up to maxsp spans (one per segment touched); returns the
 * number of spans and sets *n and *last to the messages found and the
 * offset of the last one.
 */
size_t vb_part_read(const struct vb_part *p, uint64_t start, uint32_t count,
		    uint64_t max_bytes, struct vb_span *sp, size_t maxsp,
		    uint32_t *n, uint64_t *last);

/* Stored offsets: 1 and *off if present, else 0. */
int vb_part_offset_get(const struct vb_part *p, uint8_t kind, uint32_t key,
		       uint64_t *off);
int vb_part_offset_store(struct vb_part *p, uint8_t kind, uint32_t key,
			 uint64_t off, struct vb_err *e);
/* Returns 1 if one was deleted, 0 if none was stored, -1 on error. */
int vb_part_offset_delete(struct vb_part *p, uint8_t kind, uint32_t key,
			  struct vb_err *e);

/* Deletes every message and stored offset; offsets restart at 0. */
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
/* fdatasync of the active segment now. */
int vb_part_sync(struct vb_part *p, struct vb_err *e);

#endif
