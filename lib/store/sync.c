/*
 * The durability policy: fdatasync now, every interval from one background
 * thread, or never.  The event loop only queues references; the thread does
 * the slow calls, so a second core absorbs the disk waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/store.h"
#include "base/banned.h"

const int64_t vb_sync_bounds_ns[VB_SYNC_BUCKETS] = {
	50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 1000000000, 5000000000,
};

int vb_syncer_fdatasync(struct vb_syncer *s, int fd)
{
	struct timespec a, b;
	int64_t ns;
	size_t i;
	int rc, sys;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = fdatasync(fd);
	sys = errno;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 +
	     (b.tv_nsec - a.tv_nsec);
	for (i = 0; i < VB_SYNC_BUCKETS && ns > vb_sync_bounds_ns[i]; i++)
		;
	atomic_fetch_add(&s->stats.b[i], 1);
	atomic_fetch_add(&s->stats.count, 1);
	atomic_fetch_add(&s->stats.sum_ns, (uint64_t)(ns > 0 ? ns : 0));
	if (rc < 0 && sys != EINVAL)
		atomic_fetch_add(&s->stats.failed, 1);
	errno = sys;
	return rc;
}

void vb_syncer_init(struct vb_syncer *s, enum vb_fsync_mode mode,
		    unsigned interval_ms)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->interval_ms = interval_ms ? interval_ms : 1000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

/* Takes the queues under the lock, syncs them without it. */
static int sync_round(struct vb_syncer *s)
{
	struct vb_file **files;
	char **paths;
	size_t nfiles, npaths;
	int err = 0;

	pthread_mutex_lock(&s->mu);
	files = s->files;
	nfiles = s->nfiles;
	paths = s->paths;
	npaths = s->npaths;
	s->files = NULL;
	s->nfiles = s->files_cap = 0;
	s->paths = NULL;
	s->npaths = s->paths_cap = 0;
	for (size_t i = 0; i < nfiles; i++)
		atomic_store(&files[i]->queued, 0);
	pthread_mutex_unlock(&s->mu);

	for (size_t i = 0; i < nfiles; i++) {
		if (vb_syncer_fdatasync(s, files[i]->fd) < 0 && errno != EINVAL)
			err = errno;
		vb_file_unref(files[i]);
	}
	for (size_t i = 0; i < npaths; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (fsync(fd) < 0)
				err = errno;
			close(fd);
		}
		if (vb_path_fsync_dir(paths[i], NULL) < 0)
			err = errno;
		free(paths[i]);
	}
	free(files);
	free(paths);
	pthread_mutex_lock(&s->mu);
	if (err)
		s->failed_errno = err;
	s->syncs++;
	pthread_mutex_unlock(&s->mu);
	return err ? -1 : 0;
}

static void *sync_main(void *arg)
{
	struct vb_syncer *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		/* The condition variable's clock is the wall clock. */
		uint64_t until = vb_wall_us() + (uint64_t)s->interval_ms * 1000;

		ts.tv_sec = (time_t)(until / 1000000);
		ts.tv_nsec = (long)(until % 1000000) * 1000;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (s->stopping)
			break;
		if (s->nfiles == 0 && s->npaths == 0)
			continue;
		pthread_mutex_unlock(&s->mu);
		sync_round(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int vb_syncer_start(struct vb_syncer *s, struct vb_err *e)
{
	int rc;

	if (s->mode != VB_FSYNC_INTERVAL)
		return 0;
	rc = pthread_create(&s->thread, NULL, sync_main, s);
	if (rc) {
		errno = rc;
		return vb_err_sys(e, VB_E_IO, "cannot start the fsync thread");
	}
	s->started = 1;
	return 0;
}

int vb_syncer_dirty(struct vb_syncer *s, struct vb_file *f, struct vb_err *e)
{
	switch (s->mode) {
	case VB_FSYNC_NEVER:
		return 0;
	case VB_FSYNC_ALWAYS:
		if (vb_syncer_fdatasync(s, f->fd) < 0)
			return vb_err_sys(e, VB_E_IO, "fdatasync");
		return 0;
	case VB_FSYNC_INTERVAL:
		break;
	}
	if (atomic_exchange(&f->queued, 1))
		return 0;
	pthread_mutex_lock(&s->mu);
	VB_ALLOC_GROW(s->files, s->nfiles + 1, s->files_cap);
	s->files[s->nfiles++] = vb_file_ref(f);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void vb_syncer_dirty_path(struct vb_syncer *s, const char *path)
{
	if (s->mode != VB_FSYNC_INTERVAL)
		return;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->npaths; i++) {
		if (strcmp(s->paths[i], path) == 0) {
			pthread_mutex_unlock(&s->mu);
			return;
		}
	}
	VB_ALLOC_GROW(s->paths, s->npaths + 1, s->paths_cap);
	s->paths[s->npaths++] = vb_xstrdup(path);
	pthread_mutex_unlock(&s->mu);
}

int vb_syncer_flush(struct vb_syncer *s, struct vb_err *e)
{
	if (sync_round(s) < 0) {
		errno = s->failed_errno;
		return vb_err_sys(e, VB_E_IO, "fsync");
	}
	return 0;
}

void vb_syncer_release(struct vb_syncer *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->started = 0;
	}
	sync_round(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}
