/* File helpers for the store: refcounted fds, rm -rf, notices. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "store/seg.h"
#include "base/banned.h"

void vb_store_notice(struct vb_store *st, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (st->notice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->notice(st->notice_arg, msg);
}

struct vb_file *vb_file_new(int fd)
{
	struct vb_file *f = vb_xcalloc(1, sizeof(*f));

	f->fd = fd;
	atomic_init(&f->refs, 1);
	atomic_init(&f->queued, 0);
	atomic_init(&f->written, 0);
	atomic_init(&f->synced, 0);
	atomic_init(&f->sync_err, 0);
	return f;
}

struct vb_file *vb_file_ref(struct vb_file *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void vb_file_unref(struct vb_file *f)
{
	if (f == NULL)
		return;
	if (atomic_fetch_sub(&f->refs, 1) == 1) {
		if (f->fd >= 0)
			close(f->fd);
		free(f);
	}
}

static int rmtree_at(int dfd, const char *name, struct vb_err *e)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return vb_err_sys(e, VB_E_IO, "cannot remove %s", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vb_err_sys(e, VB_E_IO, "cannot open %s", name);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return vb_err_sys(e, VB_E_IO, "cannot read %s", name);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rmtree_at(dirfd(d), de->d_name, e)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return vb_err_sys(e, VB_E_IO, "cannot remove %s", name);
	return 0;
}

int vb_rmtree(const char *path, struct vb_err *e)
{
	return rmtree_at(AT_FDCWD, path, e);
}

int vb_read_file(const char *path, struct vb_buf *out, size_t max,
		 struct vb_err *e)
{
	if (vb_path_read_file(path, out, max, NULL, e) == 0)
		return 0;
	e->kind = VB_E_IO; /* for the daemon, any of these is an I/O error */
	return -1;
}
