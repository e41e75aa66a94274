/*
 * inject - an LD_PRELOAD module for the shell tests: it makes the process
 * meet, on cue, what a test cannot bring about from outside.  Each hook
 * is off unless its variable is set:
 *
 *   VIBES_TEST_KILL_PWRITE=N   SIGKILL (as kill -9 would) on entering a
 *                              pwrite of exactly N bytes, before any is
 *                              written: the daemon stops between two
 *                              writes of one batch (t1010).
 *   VIBES_TEST_FLOCK_BUSY_FD=N a flock() that finds the lock held writes
 *                              one byte "b" to fd N first, so a test knows
 *                              the process met the lock it holds (t1000).
 *   VIBES_TEST_DEAF_SIGNAL=N   signalfd() leaves signal N out: a daemon
 *                              that blocks it for its signalfd never sees
 *                              it, as a hung one would not (t2000: stop
 *                              must escalate to SIGKILL).
 *   VIBES_TEST_FAIL_FSYNC=N    fsync() and fdatasync() fail after the first
 *                              N calls (0: from the first on), as a disk
 *                              that lost the writes would (t1040), with
 *                              the errno of VIBES_TEST_FAIL_FSYNC_ERRNO:
 *                              EIO (the default) or ENOSPC.  Refined by
 *     VIBES_TEST_FAIL_FSYNC_PATH=GLOB   only calls on a descriptor whose
 *                              path (/proc/self/fd) matches GLOB
 *                              (fnmatch(3), '*' matches '/' too) count;
 *     VIBES_TEST_FAIL_FSYNC_WHILE=FILE  they fail only while FILE exists;
 *     VIBES_TEST_FAIL_FSYNC_TIMES=K     at most K of them fail.
 *                              Every failure made appends "fsync PATH" to
 *                              the file VIBES_TEST_FAIL_FSYNC_LOG if set.
 *   VIBES_TEST_TRACE=FILE      appends to FILE, in the order they are
 *                              made, a line "sync PATH" for every fsync()
 *                              and fdatasync() that succeeded and "rename
 *                              FROM TO" for every rename() or renameat()
 *                              that did, so that a test can check the
 *                              order the durability rules ask (t5010).
 *   VIBES_TEST_RESET_CMD=CODE  a client's writev(2) or sendmsg(2) on a
 *                              socket that begins an Iggy 0.8 request frame (u32
 *                              length, u32 code) of command CODE, or a 0.9
 *                              one (a 256-byte header whose checksum is 0,
 *                              command 5, operation 2 "NonReplicated"
 *                              and the code at byte 196), shuts the
 *                              socket down and fails with ECONNRESET: the
 *                              connection is lost at that request, as when
 *                              the server dies then (t3009).
 */
/* Both symbols are defined as themselves, whatever the build asks for. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef int (*flock_fn)(int, int);
typedef int (*signalfd_fn)(int, const sigset_t *, int);
typedef int (*sync_fn)(int);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);

/* The value of variable name as a number, or -1 when it is not set. */
static long long env_num(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoll(v, NULL, 10) : -1;
}

static void maybe_die(size_t count)
{
	if (env_num("VIBES_TEST_KILL_PWRITE") == (long long)count)
		raise(SIGKILL);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	static pwrite_fn real;

	if (real == NULL)
		real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
	maybe_die(count);
	return real(fd, buf, count, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
	static pwrite64_fn real;

	if (real == NULL)
		real = (pwrite64_fn)dlsym(RTLD_NEXT, "pwrite64");
	maybe_die(count);
	return real(fd, buf, count, off);
}

int flock(int fd, int op)
{
	static flock_fn real;
	long long tell = env_num("VIBES_TEST_FLOCK_BUSY_FD");
	int rc, saved;

	if (real == NULL)
		real = (flock_fn)dlsym(RTLD_NEXT, "flock");
	rc = real(fd, op);
	saved = errno;
	if (rc < 0 && saved == EWOULDBLOCK && tell >= 0) {
		static const char b = 'b';

		if (write((int)tell, &b, 1) < 0)
			abort();
	}
	errno = saved;
	return rc;
}

int signalfd(int fd, const sigset_t *mask, int flags)
{
	static signalfd_fn real;
	long long deaf = env_num("VIBES_TEST_DEAF_SIGNAL");
	sigset_t m = *mask;

	if (real == NULL)
		real = (signalfd_fn)dlsym(RTLD_NEXT, "signalfd");
	if (deaf > 0 && deaf < NSIG)
		sigdelset(&m, (int)deaf);
	return real(fd, &m, flags);
}

/* Should this fsync/fdatasync of fd fail?  Counts the calls that match. */
static int fsync_fails(int fd)
{
	static long long calls, failed;
	long long after = env_num("VIBES_TEST_FAIL_FSYNC");
	long long times = env_num("VIBES_TEST_FAIL_FSYNC_TIMES");
	const char *glob = getenv("VIBES_TEST_FAIL_FSYNC_PATH");
	const char *flag = getenv("VIBES_TEST_FAIL_FSYNC_WHILE");
	const char *log = getenv("VIBES_TEST_FAIL_FSYNC_LOG");
	char link[64], path[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (after < 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	if (glob && *glob && fnmatch(glob, path, 0) != 0)
		return 0;
	if (__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) <= after)
		return 0;
	if (flag && *flag && stat(flag, &st) != 0)
		return 0;
	if (times >= 0 &&
	    __atomic_add_fetch(&failed, 1, __ATOMIC_SEQ_CST) > times)
		return 0;
	if (log && *log) {
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			       0600);

		if (lfd >= 0) {
			dprintf(lfd, "fsync %s\n", path);
			close(lfd);
		}
	}
	return 1;
}

static int fail_errno(void)
{
	const char *v = getenv("VIBES_TEST_FAIL_FSYNC_ERRNO");

	return v && strcmp(v, "ENOSPC") == 0 ? ENOSPC : EIO;
}

/* One line to VIBES_TEST_TRACE, if set; errno is kept. */
static void trace(const char *what, const char *a, const char *b)
{
	const char *file = getenv("VIBES_TEST_TRACE");
	int saved = errno, fd;

	if (file == NULL || *file == '\0')
		return;
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dprintf(fd, b ? "%s %s %s\n" : "%s %s\n", what, a, b);
		close(fd);
	}
	errno = saved;
}

/* The sync call `name` of fd, or the failure fsync_fails asks for. */
static int hooked_sync(const char *name, sync_fn *real, int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	int rc;

	if (*real == NULL)
		*real = (sync_fn)dlsym(RTLD_NEXT, name);
	if (fsync_fails(fd)) {
		errno = fail_errno();
		return -1;
	}
	rc = (*real)(fd);
	if (rc == 0 && getenv("VIBES_TEST_TRACE")) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		path[n > 0 ? n : 0] = 0;
		trace("sync", path, NULL);
	}
	return rc;
}

/* A path as the trace names it: absolute, as given when it is. */
static void abs_path(int dirfd, const char *p, char *out, size_t sz)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (p[0] == '/') {
		snprintf(out, sz, "%s", p);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			dir[0] = 0;
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, dir, sizeof(dir) - 1);
		dir[n > 0 ? n : 0] = 0;
	}
	snprintf(out, sz, "%s/%s", dir, p);
}

static void trace_rename(int od, const char *from, int nd, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (getenv("VIBES_TEST_TRACE") == NULL)
		return;
	abs_path(od, from, a, sizeof(a));
	abs_path(nd, to, b, sizeof(b));
	trace("rename", a, b);
}

int rename(const char *from, const char *to)
{
	static rename_fn real;
	int rc;

	if (real == NULL)
		real = (rename_fn)dlsym(RTLD_NEXT, "rename");
	rc = real(from, to);
	if (rc == 0)
		trace_rename(AT_FDCWD, from, AT_FDCWD, to);
	return rc;
}

int renameat(int od, const char *from, int nd, const char *to)
{
	static renameat_fn real;
	int rc;

	if (real == NULL)
		real = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
	rc = real(od, from, nd, to);
	if (rc == 0)
		trace_rename(od, from, nd, to);
	return rc;
}

int fsync(int fd)
{
	static sync_fn real;

	return hooked_sync("fsync", &real, fd);
}

int fdatasync(int fd)
{
	static sync_fn real;

	return hooked_sync("fdatasync", &real, fd);
}

/*
 * Does this write of iov to fd begin a request of VIBES_TEST_RESET_CMD?
 * Then the socket is shut down and the call is to fail with ECONNRESET.
 */
static int reset_here(int fd, const struct iovec *iov, size_t n)
{
	long long code = env_num("VIBES_TEST_RESET_CMD");
	int type;
	socklen_t tl = sizeof(type);

	if (code >= 0 && n > 0 && iov[0].iov_len >= 8 &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0) {
		const unsigned char *h = iov[0].iov_base;
		size_t at = 4;
		unsigned long long c;

		if (iov[0].iov_len >= 256 && !h[0] && !h[1] && !h[2] && !h[3] &&
		    h[60] == 5 && h[176] == 2)
			at = 196; /* 0.9 NonReplicated: the code there */
		c = (unsigned long long)h[at] |
		    (unsigned long long)h[at + 1] << 8 |
		    (unsigned long long)h[at + 2] << 16 |
		    (unsigned long long)h[at + 3] << 24;

		if (c == (unsigned long long)code) {
			shutdown(fd, SHUT_RDWR);
			errno = ECONNRESET;
			return 1;
		}
	}
	return 0;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	static writev_fn real;

	if (real == NULL)
		real = (writev_fn)dlsym(RTLD_NEXT, "writev");
	if (n > 0 && reset_here(fd, iov, (size_t)n))
		return -1;
	return real(fd, iov, n);
}

/* The client's plain transport writes with sendmsg (lib/net). */
ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	static sendmsg_fn real;

	if (real == NULL)
		real = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
	if (reset_here(fd, m->msg_iov, m->msg_iovlen))
		return -1;
	return real(fd, m, flags);
}
