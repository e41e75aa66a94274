/*
 * fsprobe - file access paths that no shell tool takes, for t5000
 * (lossyfs) to check that they work through a FUSE mount as the daemon
 * uses them (lib/broker/loop.c sends with sendfile, lib/store/segment.c
 * reads a log through a private mapping).
 *
 *   fsprobe sendfile FILE   FILE to stdout with sendfile(2)
 *   fsprobe mmap FILE       FILE to stdout from a read-only MAP_PRIVATE map
 *   fsprobe fallocate FILE OFF LEN   fallocate(2) mode 0, and no fsync
 *                           (util-linux's fallocate(1) fsyncs the file)
 *   fsprobe exchange A B    renameat2(RENAME_EXCHANGE): A and B swap names
 *   fsprobe hold FILE CMD [ARG...]
 *                           reads FILE and maps it (so the kernel caches its
 *                           pages), runs CMD, then prints what the same
 *                           open file and the same mapping read now:
 *                           "pread: DATA" and "mmap: DATA" lines
 *
 * Exit status: 0 ok, 1 a call failed (named on stderr), 2 usage.
 */
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/banned.h"

static int do_sendfile(int fd, off_t size)
{
	off_t off = 0;

	while (off < size) {
		ssize_t n = sendfile(STDOUT_FILENO, fd, &off,
				     (size_t)(size - off));

		if (n < 0)
			err(1, "sendfile");
		if (n == 0)
			errx(1, "sendfile: end of file at %lld of %lld",
			     (long long)off, (long long)size);
	}
	return 0;
}

static int do_mmap(int fd, off_t size)
{
	const char *p;
	size_t done = 0;

	if (size == 0)
		return 0;
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		err(1, "mmap");
	while (done < (size_t)size) {
		ssize_t n = write(STDOUT_FILENO, p + done, (size_t)size - done);

		if (n < 0)
			err(1, "write");
		done += (size_t)n;
	}
	munmap((void *)p, (size_t)size);
	return 0;
}

static long long number(const char *s)
{
	const char *e = NULL;
	long long n = strtonum(s, 0, LLONG_MAX, &e);

	if (e != NULL)
		errx(2, "'%s' is %s", s, e);
	return n;
}

static int do_fallocate(const char *path, const char *off, const char *len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		err(1, "cannot open %s", path);
	if (fallocate(fd, 0, (off_t)number(off), (off_t)number(len)) < 0)
		err(1, "fallocate");
	return close(fd) < 0;
}

static void put(const char *what, const char *p, size_t n)
{
	printf("%s: ", what);
	fwrite(p, 1, n, stdout);
	putchar('\n');
}

static int do_hold(const char *path, char **cmd)
{
	static char buf[65536];
	struct stat st;
	const char *map;
	ssize_t n;
	pid_t pid;
	int fd, status;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0 ||
	    st.st_size > (off_t)sizeof(buf))
		errx(1, "cannot open %s, or it is empty or too large", path);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		err(1, "mmap");
	if (pread(fd, buf, sizeof(buf), 0) < 0)
		err(1, "pread");
	put("before", map, (size_t)st.st_size);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		execvp(cmd[0], cmd);
		err(127, "cannot run %s", cmd[0]);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		errx(1, "%s failed", cmd[0]);
	if ((n = pread(fd, buf, sizeof(buf), 0)) < 0 || fstat(fd, &st) < 0)
		err(1, "pread");
	put("pread", buf, (size_t)n);
	/* Past the end of the file (it may have shrunk) a map faults. */
	put("mmap", map, (size_t)st.st_size);
	return 0;
}

int main(int argc, char **argv)
{
	struct stat st;
	int fd;

	if (argc == 5 && strcmp(argv[1], "fallocate") == 0)
		return do_fallocate(argv[2], argv[3], argv[4]);
	if (argc >= 4 && strcmp(argv[1], "hold") == 0)
		return do_hold(argv[2], argv + 3);
	if (argc == 4 && strcmp(argv[1], "exchange") == 0) {
		if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3],
			      RENAME_EXCHANGE) < 0)
			err(1, "cannot exchange %s and %s", argv[2], argv[3]);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "sendfile") != 0 &&
			  strcmp(argv[1], "mmap") != 0)) {
		fputs("usage: fsprobe sendfile|mmap FILE\n"
		      "       fsprobe fallocate FILE OFF LEN\n"
		      "       fsprobe exchange A B\n"
		      "       fsprobe hold FILE CMD [ARG...]\n",
		      stderr);
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		err(1, "cannot open %s", argv[2]);
	if (strcmp(argv[1], "sendfile") == 0)
		return do_sendfile(fd, st.st_size);
	return do_mmap(fd, st.st_size);
}
