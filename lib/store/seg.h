/* seg.h - segment files, private to lib/store (see store.h). */
#ifndef VB_STORE_SEG_H
#define VB_STORE_SEG_H

#include "store/store.h"

/* Creates an empty segment starting at offset start. */
int vb_seg_create(struct vb_seg **sp, struct vb_store *st, const char *dir,
		  uint64_t start, struct vb_err *e);
/*
 * Opens an existing segment; verifies and repairs it by scanning the log
 * when its index disagrees with the log, or when `verify` is set.
 */
int vb_seg_load(struct vb_seg **sp, struct vb_store *st, const char *dir,
		uint64_t start, int verify, struct vb_err *e);
/*
 * Appends frames (len bytes, the first message `first` bytes long) and
 * their n index entries.  The first message reaches the file last, so a
 * crash part way leaves none of the batch to recovery (see segment.c).
 */
int vb_seg_append(struct vb_seg *s, const uint8_t *frames, size_t len,
		  size_t first, const uint8_t *entries, uint32_t n,
		  struct vb_err *e);
/* Syncs (unless the policy is never) and closes the index for writing. */
int vb_seg_seal(struct vb_seg *s, struct vb_store *st, struct vb_err *e);
void vb_seg_free(struct vb_seg *s);
/* Removes the segment's files, then frees it. */
void vb_seg_destroy(struct vb_seg *s, const char *dir);

static inline uint32_t vb_seg_pos(const struct vb_seg *s, uint32_t i)
{
	return vb_ld32(s->idx + (size_t)i * 16 + 4);
}
static inline uint64_t vb_seg_ts(const struct vb_seg *s, uint32_t i)
{
	return vb_ld64(s->idx + (size_t)i * 16 + 8);
}

#endif
