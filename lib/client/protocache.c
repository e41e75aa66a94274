/*
 * protocache.c - which protocol generation each server address spoke
 * last (vibes(7), "Protocol"): one line "HOST:PORT 0.8" or "... 0.9" per
 * address, newest last, at most CACHE_MAX lines, replaced atomically.  A
 * cache only: losing it costs one probe, a wrong line one failed try that
 * corrects it, so every failure here is ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "client/client.h"
#include "base/banned.h"

#define CACHE_MAX 64
#define CACHE_BYTES 16384

int vb_proto_cache_path(struct vb_buf *out, struct vb_err *e)
{
	const char *v = getenv("XDG_CACHE_HOME");

	vb_buf_reset(out);
	if (v && v[0] == '/') {
		vb_buf_printf(out, "%s/vibes/protocols", v);
		return 0;
	}
	v = getenv("HOME");
	if (v == NULL || v[0] != '/')
		return vb_err_set(e, VB_E_USAGE,
				  "no cache directory: set XDG_CACHE_HOME or HOME");
	vb_buf_printf(out, "%s/.cache/vibes/protocols", v);
	return 0;
}

/* The generation a line's second word names; 0 for anything else. */
static unsigned gen_of(const char *w, size_t n)
{
	if (n == 3 && memcmp(w, "0.8", 3) == 0)
		return VB_GEN_08;
	if (n == 3 && memcmp(w, "0.9", 3) == 0)
		return VB_GEN_09;
	return 0;
}

unsigned vb_proto_cache_get(const char *path, const char *addr)
{
	struct vb_buf b = VB_BUF_INIT;
	size_t al = strlen(addr);
	unsigned gen = 0;
	const char *p, *end;
	int found;

	if (path == NULL ||
	    vb_path_read_file(path, &b, CACHE_BYTES, &found, NULL) || !found)
		goto out;
	p = (const char *)b.p;
	end = p + b.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* the last line for an address counts */
		if (n > al + 1 && memcmp(p, addr, al) == 0 && p[al] == ' ')
			gen = gen_of(p + al + 1, n - al - 1);
		p += n + 1;
	}
out:
	vb_buf_release(&b);
	return gen;
}

void vb_proto_cache_put(const char *path, const char *addr, unsigned gen)
{
	struct vb_buf old = VB_BUF_INIT, out = VB_BUF_INIT, dir = VB_BUF_INIT;
	size_t al = strlen(addr), nlines = 0, skip = 0;
	const char *p, *end, *slash;
	int found = 0;

	if (path == NULL || (gen != VB_GEN_08 && gen != VB_GEN_09))
		return;
	vb_path_read_file(path, &old, CACHE_BYTES, &found, NULL);
	p = old.p ? (const char *)old.p : "";
	end = p + (found ? old.len : 0);
	for (const char *q = p; q < end; q++)
		nlines += *q == '\n';
	if (nlines >= CACHE_MAX)
		skip = nlines - CACHE_MAX + 1; /* the oldest go */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (skip > 0)
			skip--;
		else if (n > 0 &&
			 !(n > al && memcmp(p, addr, al) == 0 && p[al] == ' '))
			vb_buf_printf(&out, "%.*s\n", (int)n, p);
		p += n + 1;
	}
	vb_buf_printf(&out, "%s %s\n", addr, gen == VB_GEN_09 ? "0.9" : "0.8");
	slash = strrchr(path, '/');
	if (slash) {
		vb_buf_add(&dir, path, (size_t)(slash - path));
		vb_path_mkdir_p((const char *)dir.p, 0700, NULL);
	}
	vb_path_replace(path, out.p, out.len, 0600, 0, NULL);
	vb_buf_release(&old);
	vb_buf_release(&out);
	vb_buf_release(&dir);
}
