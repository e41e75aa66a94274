/* vibes-iggyctl logs: tail and follow server.log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fdio.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"
#include "base/banned.h"

/* Whole write to the caller's output fd. */
static int write_all(int fd, const void *data, size_t n, struct vb_err *e)
{
	if (vb_write_all(fd, data, n) < 0)
		return vb_err_sys(e, VB_E_IO, "write");
	return 0;
}

int vb_ctl_logs(struct vb_ctl *c, int out, unsigned n, int follow,
		volatile int *stop, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT;
	off_t pos = 0;
	int fd = -1, rc = -1;

	vb_ctl_file(c, "server.log", &path);
	/* Following resumes exactly where the tail ended. */
	if (vb_ctl_tail_end((char *)path.p, n, &b, &pos, e))
		goto out;
	if (write_all(out, b.p, b.len, e))
		goto out;
	if (!follow) {
		rc = 0;
		goto out;
	}
	while (!(stop && *stop)) {
		char buf[65536];
		ssize_t r;

		if (fd < 0) {
			fd = open((char *)path.p,
				  O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (fd < 0 && errno != ENOENT) {
				vb_err_sys(e, VB_E_IO, "cannot open %s",
					   (char *)path.p);
				goto out;
			}
		}
		if (fd >= 0) {
			struct stat cur, now;

			/* Replaced or truncated: start over. */
			if (fstat(fd, &cur) == 0 &&
			    stat((char *)path.p, &now) == 0 &&
			    (cur.st_ino != now.st_ino ||
			     cur.st_dev != now.st_dev)) {
				close(fd);
				fd = -1;
				pos = 0;
				continue;
			}
			if (fstat(fd, &cur) == 0 && cur.st_size < pos)
				pos = 0;
			r = pread(fd, buf, sizeof(buf), pos);
			if (r > 0) {
				if (write_all(out, buf, (size_t)r, e))
					goto out;
				pos += r;
				continue;
			}
		}
		vb_ctl_sleep_ms(200);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	vb_buf_release(&path);
	vb_buf_release(&b);
	return rc;
}
