/*
 * out.c - writing events with delivery tracking.
 *
 * For files and terminals "delivered" means written.  For a pipe a write
 * only puts bytes in the kernel's pipe buffer; a reader that exits leaves
 * whatever it did not read there, so a line counts as delivered once the
 * reader has taken it out (FIONREAD tells how much is still unread).  We
 * wait for that with inotify, which reports every read of the pipe as
 * IN_ACCESS, falling back to short sleeps when inotify is unavailable.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "base/banned.h"

void vb_out_init(struct vb_out *o, int fd, enum vb_handoff h)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->ino = -1;
	vb_buf_init(&o->buf);
	o->is_pipe = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	if (h == VB_HANDOFF_AUTO)
		h = o->is_pipe ? VB_HANDOFF_LINE : VB_HANDOFF_BLOCK;
	o->handoff = h;
	if (o->is_pipe) {
		char path[64];

		o->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (o->ino >= 0 &&
		    inotify_add_watch(o->ino, path,
				      IN_ACCESS | IN_CLOSE_NOWRITE) < 0) {
			close(o->ino);
			o->ino = -1;
		}
	}
}

void vb_out_release(struct vb_out *o)
{
	if (o->ino >= 0)
		close(o->ino);
	o->ino = -1;
	vb_buf_release(&o->buf);
	free(o->ends);
	o->ends = NULL;
	o->nlines = o->cap = 0;
}

void vb_out_grow_(struct vb_out *o)
{
	VB_ALLOC_GROW_FROM(o->ends, o->nlines + 1, o->cap, 4096);
}

static size_t pipe_unread(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (size_t)n;
}

static int reader_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLERR);
}

/*
 * Waits until the pipe holds nothing of ours.  Returns the number of
 * bytes left unread when the reader went away (0 and o->closed == 0 when
 * drained).
 */
static size_t wait_drained(struct vb_out *o)
{
	int sleep_us = 20, spins = 0;

	for (;;) {
		size_t left = pipe_unread(o->fd);

		if (left == 0)
			return 0;
		/*
		 * A reader on the other core usually takes the line within
		 * microseconds: look again a few times before sleeping.
		 */
		if (spins++ < 20) {
			sched_yield();
			continue;
		}
		if (o->ino >= 0) {
			/*
			 * The inotify fd wakes us on every read of the pipe;
			 * the pipe itself (no events asked) reports POLLERR
			 * when the reader leaves; the timeout covers a missed
			 * event.
			 */
			struct pollfd p[2] = {
				{ .fd = o->ino, .events = POLLIN },
				{ .fd = o->fd, .events = 0 },
			};
			char ev[4096];

			if (poll(p, 2, 100) > 0) {
				if (p[0].revents & POLLIN)
					while (read(o->ino, ev, sizeof(ev)) > 0)
						;
				if ((p[1].revents & POLLERR) &&
				    (left = pipe_unread(o->fd)) > 0) {
					o->closed = 1;
					return left;
				}
			}
			continue;
		}
		if (reader_gone(o->fd)) {
			o->closed = 1;
			return pipe_unread(o->fd);
		}
		struct timespec ts = { 0, (long)sleep_us * 1000 };

		nanosleep(&ts, NULL);
		if (sleep_us < 10000)
			sleep_us *= 2;
	}
}

/* Lines whose end lies within the first `bytes` bytes of the buffer. */
static size_t lines_within(const struct vb_out *o, size_t bytes)
{
	size_t lo = 0, hi = o->nlines;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->ends[mid] <= bytes)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void done(struct vb_out *o)
{
	vb_buf_reset(&o->buf);
	o->nlines = 0;
}

int vb_out_flush(struct vb_out *o, size_t *delivered, struct vb_err *e)
{
	size_t off = 0, chunk_end, taken;
	size_t line = 0;

	*delivered = 0;
	if (o->closed) {
		done(o);
		errno = EPIPE;
		return vb_err_sys(e, VB_E_IO, "writing output");
	}
	while (off < o->buf.len) {
		if (o->is_pipe && o->handoff == VB_HANDOFF_LINE)
			chunk_end = o->ends[line++];
		else
			chunk_end = o->buf.len;
		while (off < chunk_end) {
			ssize_t w = write(o->fd, o->buf.p + off,
					  chunk_end - off);

			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN) {
				struct pollfd p = { .fd = o->fd,
						    .events = POLLOUT };

				poll(&p, 1, 1000);
				continue;
			}
			/* EPIPE, ENOSPC, EIO...: count what got through */
			int err = w < 0 ? errno : EIO;

			if (err == EPIPE)
				o->closed = 1;
			taken = off;
			if (o->is_pipe)
				taken -= pipe_unread(o->fd) < taken ?
						 pipe_unread(o->fd) :
						 taken;
			*delivered = lines_within(o, taken);
			done(o);
			errno = err;
			return vb_err_sys(e, VB_E_IO, "writing output");
		}
		if (o->is_pipe) {
			size_t left = wait_drained(o);

			if (o->closed) {
				*delivered = lines_within(o, off - left);
				done(o);
				errno = EPIPE;
				return vb_err_sys(e, VB_E_IO, "writing output");
			}
		}
	}
	*delivered = o->nlines;
	done(o);
	return 0;
}
