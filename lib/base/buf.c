#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

void *vb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

void *vb_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

void *vb_xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q = reallocarray(p, nmemb ? nmemb : 1, size ? size : 1);

	if (q == NULL)
		abort();
	return q;
}

char *vb_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

size_t vb_alloc_nr(size_t alloc, size_t nr, size_t first)
{
	size_t n;

	if (nr <= alloc)
		return alloc;
	n = alloc ? alloc : first ? first : 1;
	while (n < nr) {
		if (n > SIZE_MAX / 2)
			abort();
		n *= 2;
	}
	return n;
}

void vb_buf_init(struct vb_buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void vb_buf_release(struct vb_buf *b)
{
	free(b->p);
	vb_buf_init(b);
}

uint8_t *vb_buf_grow(struct vb_buf *b, size_t more)
{
	size_t need;

	if (more > SIZE_MAX - b->len - 1)
		abort();
	need = b->len + more + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		b->p = vb_xreallocarray(b->p, cap, 1);
		b->cap = cap;
	}
	return b->p + b->len;
}

void vb_buf_reset(struct vb_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

void vb_buf_consume(struct vb_buf *b, size_t n)
{
	if (n >= b->len) {
		vb_buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = 0;
}

void vb_buf_addstr(struct vb_buf *b, const char *s)
{
	vb_buf_add(b, s, strlen(s));
}

void vb_buf_addch(struct vb_buf *b, int c)
{
	uint8_t ch = (uint8_t)c;

	vb_buf_add(b, &ch, 1);
}

void vb_buf_zero(struct vb_buf *b, size_t n)
{
	uint8_t *d = vb_buf_reserve(b, n);

	memset(d, 0, n);
	b->len += n;
	b->p[b->len] = 0;
}

void vb_buf_vprintf(struct vb_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	int n;

	/* Most messages fit the stack buffer: one formatting pass. */
	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		vb_buf_add(b, small, (size_t)n);
		return;
	}
	vb_buf_reserve(b, (size_t)n);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void vb_buf_printf(struct vb_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vb_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void vb_buf_u8(struct vb_buf *b, uint8_t v)
{
	vb_buf_add(b, &v, 1);
}

void vb_buf_u16(struct vb_buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	vb_buf_add(b, t, 2);
}

void vb_buf_u32(struct vb_buf *b, uint32_t v)
{
	uint8_t t[4];

	vb_st32(t, v);
	vb_buf_add(b, t, 4);
}

void vb_buf_u64(struct vb_buf *b, uint64_t v)
{
	uint8_t t[8];

	vb_st64(t, v);
	vb_buf_add(b, t, 8);
}
