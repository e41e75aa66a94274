/*
 * kill-on-pwrite - an LD_PRELOAD module for the shell tests: the process
 * kills itself (SIGKILL, as kill -9 would) on entering a pwrite of exactly
 * $VIBES_TEST_KILL_PWRITE bytes, before any of them are written.  It lets
 * a test stop the daemon between two writes of one batch.
 */
/* Both symbols are defined as themselves, whatever the build asks for. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);

static void maybe_die(size_t count)
{
	const char *v = getenv("VIBES_TEST_KILL_PWRITE");

	if (v != NULL && *v != '\0' && strtoull(v, NULL, 10) == count)
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
