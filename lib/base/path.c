/* Data-dir resolution, mkdir -p, atomic writes, key=value files. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fdio.h"
#include "base/path.h"
#include "base/banned.h"

static enum vb_errkind kind_of(int err)
{
	return err == EACCES || err == EPERM ? VB_E_AUTH : VB_E_IO;
}

int vb_path_data_dir(struct vb_buf *out, const char *opt, struct vb_err *e)
{
	const char *v;

	vb_buf_reset(out);
	if (opt && *opt) {
		vb_buf_addstr(out, opt);
		return 0;
	}
	v = getenv(VB_ENV_DATA_DIR);
	if (v && *v) {
		vb_buf_addstr(out, v);
		return 0;
	}
	v = getenv("XDG_DATA_HOME");
	if (v && v[0] == '/') {
		vb_buf_printf(out, "%s/vibes/iggy", v);
		return 0;
	}
	v = getenv("HOME");
	if (v == NULL || *v == 0) {
		struct passwd *pw = getpwuid(geteuid());

		v = pw ? pw->pw_dir : NULL;
	}
	if (v == NULL || *v == 0)
		return vb_err_set(e, VB_E_USAGE,
				  "cannot find the data dir: set %s or HOME",
				  VB_ENV_DATA_DIR);
	vb_buf_printf(out, "%s/.local/share/vibes/iggy", v);
	return 0;
}

void vb_path_join(struct vb_buf *out, const char *dir, const char *name)
{
	size_t n = strlen(dir);

	vb_buf_reset(out);
	vb_buf_addstr(out, dir);
	if (n == 0 || dir[n - 1] != '/')
		vb_buf_addch(out, '/');
	vb_buf_addstr(out, name);
}

const char *vb_path_fmt(struct vb_buf *b, const char *fmt, ...)
{
	va_list ap;

	vb_buf_reset(b);
	va_start(ap, fmt);
	vb_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return b->p ? (const char *)b->p : "";
}

/* fsync of the directory holding the last component of s (a path). */
static int fsync_parent(char *s, struct vb_err *e)
{
	char *slash = strrchr(s, '/');
	int rc;

	if (slash == NULL)
		return vb_path_fsync_dir(".", e);
	if (slash == s)
		return vb_path_fsync_dir("/", e);
	*slash = 0;
	rc = vb_path_fsync_dir(s, e);
	*slash = '/';
	return rc;
}

static int mkdir_walk(const char *path, mode_t mode, int sync, struct vb_err *e)
{
	struct vb_buf b = VB_BUF_INIT;
	struct stat st;
	char *p;
	int rc = -1;

	if (*path == 0)
		return vb_err_set(e, VB_E_USAGE, "empty directory name");
	vb_buf_addstr(&b, path);
	/* Walk the components; each prefix must end up a directory. */
	for (p = (char *)b.p + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		{
			char c = *p;
			int made;

			*p = 0;
			made = mkdir((char *)b.p, mode) == 0;
			if (!made && errno != EEXIST) {
				vb_err_sys(e, kind_of(errno),
					   "cannot create directory %s",
					   (char *)b.p);
				goto out;
			}
			if (stat((char *)b.p, &st) != 0) {
				vb_err_sys(e, kind_of(errno), "%s",
					   (char *)b.p);
				goto out;
			}
			if (!S_ISDIR(st.st_mode)) {
				vb_err_set(e, VB_E_IO, "%s: not a directory",
					   (char *)b.p);
				goto out;
			}
			if (made && sync && fsync_parent((char *)b.p, e) < 0)
				goto out;
			*p = c;
			if (c == 0)
				break;
			while (p[1] == '/')
				p++;
			if (p[1] == 0)
				break;
		}
	}
	rc = 0;
out:
	vb_buf_release(&b);
	return rc;
}

int vb_path_mkdir_p(const char *path, mode_t mode, struct vb_err *e)
{
	return mkdir_walk(path, mode, 0, e);
}

int vb_path_mkdir_durable(const char *path, mode_t mode, struct vb_err *e)
{
	return mkdir_walk(path, mode, 1, e);
}

int vb_path_fsync_dir(const char *path, struct vb_err *e)
{
	struct vb_buf dir = VB_BUF_INIT;
	struct stat st;
	const char *slash;
	int fd, rc = -1;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		vb_buf_addstr(&dir, path);
	} else {
		slash = strrchr(path, '/');
		if (slash == path)
			vb_buf_addstr(&dir, "/");
		else if (slash)
			vb_buf_add(&dir, path, (size_t)(slash - path));
		else
			vb_buf_addstr(&dir, ".");
	}
	fd = open((char *)dir.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		vb_err_sys(e, kind_of(errno), "cannot open %s", (char *)dir.p);
		goto out;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		vb_err_sys(e, kind_of(errno), "cannot fsync %s", (char *)dir.p);
		close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	vb_buf_release(&dir);
	return rc;
}

int vb_path_replace(const char *path, const void *data, size_t n, mode_t mode,
		    int do_sync, struct vb_err *e)
{
	struct vb_buf tmp = VB_BUF_INIT;
	int fd, rc = -1;

	vb_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open((char *)tmp.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  mode);
	if (fd < 0) {
		vb_err_sys(e, kind_of(errno), "cannot create %s",
			   (char *)tmp.p);
		goto out;
	}
	if (fchmod(fd, mode) != 0 || vb_write_all(fd, data, n) != 0 ||
	    (do_sync && fsync(fd) != 0)) {
		vb_err_sys(e, kind_of(errno), "cannot write %s", (char *)tmp.p);
		close(fd);
		unlink((char *)tmp.p);
		goto out;
	}
	if (close(fd) != 0) {
		vb_err_sys(e, kind_of(errno), "cannot write %s", (char *)tmp.p);
		unlink((char *)tmp.p);
		goto out;
	}
	if (rename((char *)tmp.p, path) != 0) {
		vb_err_sys(e, kind_of(errno), "cannot rename %s to %s",
			   (char *)tmp.p, path);
		unlink((char *)tmp.p);
		goto out;
	}
	/* Make the rename itself durable. */
	rc = do_sync ? vb_path_fsync_dir(path, e) : 0;
out:
	vb_buf_release(&tmp);
	return rc;
}

int vb_path_write_atomic(const char *path, const void *data, size_t n,
			 mode_t mode, struct vb_err *e)
{
	return vb_path_replace(path, data, n, mode, 1, e);
}

int vb_path_read_file(const char *path, struct vb_buf *out, size_t max,
		      int *found, struct vb_err *e)
{
	struct stat st;
	int fd;

	vb_buf_reset(out);
	vb_buf_reserve(out, 1);
	out->p[0] = 0;
	if (found)
		*found = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && found)
			return 0;
		return vb_err_sys(e, kind_of(errno), "cannot open %s", path);
	}
	if (fstat(fd, &st) != 0) {
		vb_err_sys(e, kind_of(errno), "cannot stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return vb_err_set(e, VB_E_IO, "%s: not a regular file", path);
	}
	for (;;) {
		/* the size it has, and a byte more to see its end; it may grow */
		size_t want = st.st_size >= 0 && st.st_size < 65536 &&
					      out->len <= (size_t)st.st_size ?
				      (size_t)st.st_size + 1 - out->len :
				      65536;
		uint8_t *p = vb_buf_reserve(out, want);
		ssize_t r = read(fd, p, want);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			vb_err_sys(e, kind_of(errno), "cannot read %s", path);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		out->p[out->len] = 0;
		if (out->len > max) {
			close(fd);
			return vb_err_set(e, VB_E_DATA,
					  "%s: larger than %zu bytes", path,
					  max);
		}
	}
	close(fd);
	if (found)
		*found = 1;
	return 0;
}

int vb_kv_get(const char *text, size_t len, const char *key, struct vb_buf *val)
{
	const char *p = text, *end = text + len;
	size_t klen = strlen(key);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);

		if (n > klen && p[klen] == '=' && memcmp(p, key, klen) == 0 &&
		    p[0] != '#') {
			const char *v = p + klen + 1;
			size_t vn = (size_t)(eol - v);

			if (vn > 0 && v[vn - 1] == '\r')
				vn--;
			vb_buf_reset(val);
			vb_buf_add(val, v, vn);
			return 1;
		}
		p = eol + 1;
	}
	return 0;
}

int vb_path_read_credentials(const char *path, struct vb_buf *user,
			     struct vb_buf *pass, struct vb_err *e)
{
	struct vb_buf text = VB_BUF_INIT;
	int found, rc;

	if (vb_path_read_file(path, &text, 65536, &found, e)) {
		vb_buf_release(&text);
		return -1;
	}
	rc = found && vb_kv_get((char *)text.p, text.len, "username", user) &&
	     vb_kv_get((char *)text.p, text.len, "password", pass) &&
	     user->len > 0;
	explicit_bzero(text.p, text.len);
	vb_buf_release(&text);
	return rc;
}

int vb_path_write_credentials(const char *path, const char *user,
			      const char *pass, struct vb_err *e)
{
	struct vb_buf text = VB_BUF_INIT;
	int rc;

	vb_buf_printf(&text, "username=%s\npassword=%s\n", user, pass);
	rc = vb_path_write_atomic(path, text.p, text.len, 0600, e);
	explicit_bzero(text.p, text.len);
	vb_buf_release(&text);
	return rc;
}
