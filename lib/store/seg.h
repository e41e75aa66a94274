/* seg.h - segment files, private to lib/store (see store.h). */
#ifndef VB_STORE_SEG_H
#define VB_STORE_SEG_H

#include "store/store.h"

/* A notice through st->notice (recovery, repairs). */
void vb_store_notice(struct vb_store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Creates an empty segment starting at offset start.  Its directory entry
 * is the caller's to sync.
 */
int vb_seg_create(struct vb_seg **sp, struct vb_store *st, const char *dir,
		  uint64_t start, struct vb_err *e);
/*
 * Opens an existing segment; verifies and repairs it by scanning the log
 * when its index disagrees with the log, or when `verify` is set.  A
 * sealed one (not the last) whose index agrees is only looked at: its
 * files are left closed and its index unread until a lookup needs them.
 * dir must outlive the segment.
 */
int vb_seg_load(struct vb_seg **sp, struct vb_store *st, const char *dir,
		uint64_t start, int sealed, int verify, struct vb_err *e);
/*
 * A settled segment's files, opened again if the LRU closed them, and the
 * segment made the most recently used.  -1 (s->fault set, a notice) when
 * they cannot be opened.
 */
int vb_seg_use(struct vb_seg *s);
/*
 * Entry i (< s->count) of the index: its end position in the log and its
 * timestamp.  When the entry cannot be read, s->fault is set and 0 comes
 * back: callers clear s->fault first and drop what they found if it is
 * set after.
 */
uint32_t vb_seg_pos(struct vb_seg *s, uint32_t i);
uint64_t vb_seg_ts(struct vb_seg *s, uint32_t i);
/* Its VB_ENT_* bits (how it is stored). */
uint32_t vb_seg_flags(struct vb_seg *s, uint32_t i);
/*
 * Appends stored messages (len bytes, the first message `first` bytes
 * long, a 0.9 record's header counted in its first frame) and their n
 * index entries.  The first message reaches the file last, so a crash
 * part way leaves none of the batch to recovery (see segment.c).
 */
int vb_seg_append(struct vb_seg *s, const uint8_t *frames, size_t len,
		  size_t first, const uint8_t *entries, uint32_t n,
		  struct vb_err *e);
/*
 * Sealing: a sealed segment takes no more appends, but keeps its index
 * open until the commit point settles it (syncs log and index when asked,
 * closes the index), so that a failed commit can take the seal back.
 */
static inline void vb_seg_seal(struct vb_seg *s)
{
	s->sealed = 1;
}
int vb_seg_settle(struct vb_seg *s, int sync, struct vb_err *e);
/*
 * Keeps the first count messages: memory, log and index.  -1 when a file
 * could not be truncated (memory is cut all the same: the files' tails
 * are past what is read, and the next start cuts them).
 */
int vb_seg_truncate(struct vb_seg *s, uint32_t count, struct vb_err *e);
/*
 * After a failed fsync: writes the log's bytes from s->log->synced to the
 * end again (read back through the page cache, every message checked;
 * the segment is cut before the first that fails, with a notice), then
 * fdatasyncs log and index.  0 when all is durable.
 */
int vb_seg_resync(struct vb_seg *s, struct vb_store *st, const char *dir,
		  struct vb_err *e);
void vb_seg_free(struct vb_seg *s);
/* Removes the segment's files, then frees it. */
void vb_seg_destroy(struct vb_seg *s, const char *dir);

#endif
