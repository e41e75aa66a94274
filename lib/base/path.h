/*
 * path.h - data-dir resolution, directory creation, atomic file writes and
 * the small key=value files kept in the data dir (credentials, state).
 *
 * All functions return 0 on success and -1 with a struct vb_err naming the
 * path on failure.  Permission problems (EACCES, EPERM) are VB_E_AUTH so
 * that commands exit 77; everything else on the filesystem (ENOSPC, EROFS,
 * EIO, ...) is VB_E_IO (exit 74).
 */
#ifndef VB_PATH_H
#define VB_PATH_H

#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"

/* Environment variable naming the data dir (DESIGN.md "Data dir"). */
#define VB_ENV_DATA_DIR "VIBES_IGGY_DATA_DIR"

/*
 * Resolves the data dir into out (reset first): `opt` if not NULL or empty,
 * else $VIBES_IGGY_DATA_DIR, else $XDG_DATA_HOME/vibes/iggy (only if
 * absolute, as the XDG spec asks), else $HOME/.local/share/vibes/iggy (the
 * password database when HOME is unset).  Nothing is created.
 */
int vb_path_data_dir(struct vb_buf *out, const char *opt, struct vb_err *e);

/*
 * mkdir -p: creates path and its missing parents with `mode`.  Existing
 * directories are left alone; a non-directory in the way is an error.
 */
int vb_path_mkdir_p(const char *path, mode_t mode, struct vb_err *e);
/*
 * mkdir -p whose result survives a power loss: the parent of every
 * directory it makes is fsynced (a new directory's entry is durable only
 * then), so a data dir made on the first start does not vanish with
 * everything acknowledged into it.
 */
int vb_path_mkdir_durable(const char *path, mode_t mode, struct vb_err *e);

/* out = dir "/" name (out is reset first). */
void vb_path_join(struct vb_buf *out, const char *dir, const char *name);

/*
 * Builds a path: resets b, formats into it and returns its string, as in
 *	open(vb_path_fmt(&path, "%s/%020" PRIu64 ".log", dir, start), ...)
 * Paths are never built in fixed arrays: a long one is the kernel's to
 * refuse (ENAMETOOLONG), not silently cut.  The string lives until b is
 * changed or released.
 */
const char *vb_path_fmt(struct vb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Replaces path atomically: writes "path.tmp.PID" with `mode`, fsyncs it
 * when do_sync, renames it over path and then fsyncs the directory when
 * do_sync.  Readers see the old or the new contents, never a mix.  The
 * temporary file is removed on failure.
 */
int vb_path_replace(const char *path, const void *data, size_t n, mode_t mode,
		    int do_sync, struct vb_err *e);
/* vb_path_replace with do_sync: durable once it returns 0. */
int vb_path_write_atomic(const char *path, const void *data, size_t n,
			 mode_t mode, struct vb_err *e);
/* fsync of the directory containing path (or of path if it is one). */
int vb_path_fsync_dir(const char *path, struct vb_err *e);

/*
 * Reads a whole regular file of at most `max` bytes into out (reset
 * first).  A missing file sets *found = 0 and returns 0 (found may be NULL
 * when a missing file is an error).
 */
int vb_path_read_file(const char *path, struct vb_buf *out, size_t max,
		      int *found, struct vb_err *e);

/*
 * Looks up `key` in text made of "key=value" lines (blank lines and lines
 * starting with '#' are skipped, a trailing '\r' is dropped).  Copies the
 * value of the first match into val (reset first) and returns 1; returns 0
 * when the key is absent.
 */
int vb_kv_get(const char *text, size_t len, const char *key,
	      struct vb_buf *val);

/*
 * Reads "username=" and "password=" from a credentials file.  Returns 1
 * when both are present, 0 when the file is missing or incomplete, -1 on a
 * read error (permission, I/O).
 */
int vb_path_read_credentials(const char *path, struct vb_buf *user,
			     struct vb_buf *pass, struct vb_err *e);
/*
 * Writes the credentials file vb_path_read_credentials reads:
 * "username=USER\npassword=PASS\n", mode 0600, replaced atomically and
 * durably (vb_path_write_atomic).  The text is wiped from memory after.
 */
int vb_path_write_credentials(const char *path, const char *user,
			      const char *pass, struct vb_err *e);

#endif
