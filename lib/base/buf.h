/*
 * buf.h - the one growable byte buffer used for strings and wire frames.
 *
 * A struct vb_buf owns its storage.  `p` is NULL only before the first
 * growth; after any append it is always NUL-terminated one byte past `len`
 * (the NUL is not counted), so a buffer holding text can be used as a C
 * string.  Appending functions may move `p`: never keep a pointer into the
 * buffer across an append.
 *
 * Running out of memory aborts the process (like redis' zmalloc and git's
 * xmalloc): there is no useful recovery in a command-line tool or the broker,
 * and checking every append would hide the real error paths.
 */
#ifndef VB_BUF_H
#define VB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct vb_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

/* Initializer macros on one line (clang-format 14 splits their braces). */
/* clang-format off */
#define VB_BUF_INIT { NULL, 0, 0 }
/* clang-format on */

void vb_buf_init(struct vb_buf *b);
/* Frees the storage; the buffer is left initialised and empty. */
void vb_buf_release(struct vb_buf *b);
/* vb_buf_reserve when the room is not there yet. */
uint8_t *vb_buf_grow(struct vb_buf *b, size_t more);
/*
 * Makes room for `more` bytes past len (and the NUL kept after them);
 * returns a pointer to len.  Inline: the encoders call it per field.
 */
static inline uint8_t *vb_buf_reserve(struct vb_buf *b, size_t more)
{
	if (more < b->cap - b->len) /* cap is 0 or at least len + 1 */
		return b->p + b->len;
	return vb_buf_grow(b, more);
}
void vb_buf_reset(struct vb_buf *b);
/* Drops the first n bytes, moving the rest down. */
void vb_buf_consume(struct vb_buf *b, size_t n);

static inline void vb_buf_add(struct vb_buf *b, const void *data, size_t n)
{
	uint8_t *d = vb_buf_reserve(b, n);

	if (n)
		memcpy(d, data, n);
	b->len += n;
	b->p[b->len] = 0;
}
void vb_buf_addstr(struct vb_buf *b, const char *s);
void vb_buf_addch(struct vb_buf *b, int c);
void vb_buf_zero(struct vb_buf *b, size_t n);
void vb_buf_printf(struct vb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vb_buf_vprintf(struct vb_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Little-endian integer appends for the wire. */
void vb_buf_u8(struct vb_buf *b, uint8_t v);
void vb_buf_u16(struct vb_buf *b, uint16_t v);
void vb_buf_u32(struct vb_buf *b, uint32_t v);
void vb_buf_u64(struct vb_buf *b, uint64_t v);

/* Little-endian loads and stores on raw memory. */
static inline uint16_t vb_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t vb_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t vb_ld64(const uint8_t *p)
{
	return (uint64_t)vb_ld32(p) | (uint64_t)vb_ld32(p + 4) << 32;
}
static inline void vb_st32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void vb_st64(uint8_t *p, uint64_t v)
{
	vb_st32(p, (uint32_t)v);
	vb_st32(p + 4, (uint32_t)(v >> 32));
}

/* Allocation helpers that abort on exhaustion (see above). */
void *vb_xmalloc(size_t n);
void *vb_xcalloc(size_t nmemb, size_t size);
void *vb_xreallocarray(void *p, size_t nmemb, size_t size);
char *vb_xstrdup(const char *s);

/*
 * Growing arrays (git's ALLOC_GROW).  VB_ALLOC_GROW(p, nr, alloc) makes
 * the array p, with room for `alloc` elements, hold at least nr: when it
 * is too small, the capacity becomes VB_ALLOC_FIRST (or `first` with
 * VB_ALLOC_GROW_FROM) if it was 0, doubled until nr fit otherwise, so n
 * appends cost O(n) copying.  The resize is vb_xreallocarray's, so the
 * size multiplication never overflows and exhaustion aborts; so does a
 * capacity that no longer fits the type of `alloc`.  `alloc` is updated;
 * the new elements are not initialised.  The arguments are evaluated more
 * than once: pass plain lvalues, as in
 *	VB_ALLOC_GROW(s->v, s->n + 1, s->cap);
 *	s->v[s->n++] = x;
 *
 * Parallel arrays sharing one count and one capacity take the new
 * capacity once from vb_alloc_nr, resize each array to it, then store it.
 */
#define VB_ALLOC_FIRST 8

#define VB_ALLOC_GROW(p, nr, alloc) \
	VB_ALLOC_GROW_FROM(p, nr, alloc, VB_ALLOC_FIRST)

#define VB_ALLOC_GROW_FROM(p, nr, alloc, first)                               \
	do {                                                                  \
		if ((size_t)(nr) > (size_t)(alloc)) {                         \
			size_t vb_grow_ = vb_alloc_nr((size_t)(alloc),        \
						      (size_t)(nr), (first)); \
			(p) = vb_xreallocarray((p), vb_grow_, sizeof(*(p)));  \
			(alloc) = vb_grow_;                                   \
			if ((size_t)(alloc) != vb_grow_)                      \
				abort();                                      \
		}                                                             \
	} while (0)

/*
 * The capacity VB_ALLOC_GROW_FROM grows to: alloc if nr already fit,
 * else `first` (at least 1) when alloc is 0, else alloc doubled until nr
 * fit.  Aborts when the doubling would overflow.
 */
size_t vb_alloc_nr(size_t alloc, size_t nr, size_t first);

#endif
