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
 */
/* Both symbols are defined as themselves, whatever the build asks for. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef int (*flock_fn)(int, int);
typedef int (*signalfd_fn)(int, const sigset_t *, int);

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
