/* Whole writes on file descriptors (fdio.h). */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "base/fdio.h"
#include "base/banned.h"

int vb_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int vb_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int vb_pread_all(int fd, void *p, size_t n, off_t off)
{
	uint8_t *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ENODATA;
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}
