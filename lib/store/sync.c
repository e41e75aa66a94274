/*
 * The background thread that absorbs the disk waits on the second core.
 *
 * Interval mode: the commit point queues the files it wrote (references)
 * and replaced paths; the thread fdatasyncs them at least every interval.
 * A failure is never lost: it is kept on the file (sync_err) or in the
 * list of failed paths and counted, and the next commit point reads it.
 *
 * Always mode: the commit point hands over one job (the syncs a pass
 * needs, vb_syncer_submit); the thread runs it while the event loop goes
 * on with the next pass, records each sync's errno in the job and says it
 * is done through an eventfd the loop polls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/store.h"
#include "base/banned.h"

const int64_t vb_sync_bounds_ns[VB_SYNC_BUCKETS] = {
	50000,	   100000,    250000,	  500000,     1000000,
	2500000,   5000000,   10000000,	  25000000,   50000000,
	100000000, 250000000, 1000000000, 5000000000,
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
	s->efd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
}

static void run_job(struct vb_syncer *s, struct vb_sync_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct vb_sync_item *it = &j->v[i];
		int rc;

		if (it->dir)
			rc = vb_path_fsync_dir(it->dir, NULL);
		else
			rc = vb_syncer_fdatasync(s, it->f ? it->f->fd : it->fd);
		it->err = rc < 0 && errno != EINVAL ? errno : 0;
	}
}

static void *job_main(void *arg)
{
	struct vb_syncer *s = arg;
	static const uint64_t one = 1;
	ssize_t w;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && (s->job == NULL || s->job_taken))
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->job == NULL || s->job_taken)
			break;
		s->job_taken = 1;
		pthread_mutex_unlock(&s->mu);
		run_job(s, s->job);
		pthread_mutex_lock(&s->mu);
		s->job = NULL;
		s->job_taken = 0;
		pthread_cond_broadcast(&s->done_cv);
		/* Cannot fail: one job at a time, the counter stays small. */
		w = write(s->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

void vb_syncer_submit(struct vb_syncer *s, struct vb_sync_job *job, int here)
{
	if (!s->started || here) {
		run_job(s, job);
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->job = job;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int vb_syncer_done(struct vb_syncer *s)
{
	int done;

	pthread_mutex_lock(&s->mu);
	done = s->job == NULL;
	pthread_mutex_unlock(&s->mu);
	return done;
}

void vb_syncer_wait(struct vb_syncer *s)
{
	uint64_t n;
	ssize_t r;

	if (!s->started)
		return;
	pthread_mutex_lock(&s->mu);
	while (s->job)
		pthread_cond_wait(&s->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	/* Not readable (EAGAIN) when it was emptied already. */
	r = read(s->efd, &n, sizeof(n));
	(void)r;
}

static void save_free(struct vb_sync_save *v)
{
	free(v->tmp);
	free(v->path);
}

/* A save of the round failed: path goes to the failed list. */
static void save_failed(struct vb_syncer *s, struct vb_sync_save *v, int err)
{
	atomic_fetch_add(&s->failures, 1);
	s->failed_errno = err;
	VB_ALLOC_GROW(s->failed, s->nfailed + 1, s->failed_cap);
	s->failed[s->nfailed++] = v->path;
	v->path = NULL;
}

/*
 * The saves of a round (s->taking): each tmp synced, then renamed under
 * the lock, so that vb_syncer_forget, which takes it, is never too late.
 * A tmp gone (replaced by a newer save, its partition deleted) is no
 * failure.  Returns the last errno, 0 if none.
 */
static int run_saves(struct vb_syncer *s)
{
	int err = 0;

	for (size_t i = 0; i < s->ntaking; i++) {
		struct vb_sync_save *v = &s->taking[i];
		int fd = open(v->tmp, O_RDONLY | O_CLOEXEC), bad = 0, gone = 0;

		if (fd < 0) {
			gone = errno == ENOENT;
			bad = gone ? 0 : errno;
		} else {
			if (fsync(fd) < 0 && errno != EINVAL)
				bad = errno;
			close(fd);
		}
		pthread_mutex_lock(&s->mu);
		if (v->cancelled || gone) {
			gone = 1;
		} else if (!bad && rename(v->tmp, v->path) < 0) {
			gone = errno == ENOENT;
			bad = gone ? 0 : errno;
		}
		if (bad)
			save_failed(s, v, bad);
		pthread_mutex_unlock(&s->mu);
		if (gone || bad) {
			unlink(v->tmp);
		} else if (vb_path_fsync_dir(v->path, NULL) < 0) {
			bad = errno;
			pthread_mutex_lock(&s->mu);
			save_failed(s, v, bad);
			pthread_mutex_unlock(&s->mu);
		}
		if (bad)
			err = bad;
	}
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntaking; i++)
		save_free(&s->taking[i]);
	free(s->taking);
	s->taking = NULL;
	s->ntaking = 0;
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* Takes the queues under the lock, syncs them without it. */
static int sync_round(struct vb_syncer *s)
{
	struct vb_file **files;
	char **paths;
	size_t nfiles, npaths;
	int err = 0, took = 0;

	pthread_mutex_lock(&s->mu);
	files = s->files;
	nfiles = s->nfiles;
	paths = s->paths;
	npaths = s->npaths;
	s->files = NULL;
	s->nfiles = s->files_cap = 0;
	s->paths = NULL;
	s->npaths = s->paths_cap = 0;
	/* One round at a time works on saves (a flush may race the thread). */
	if (s->taking == NULL && s->nsaves > 0) {
		s->taking = s->saves;
		s->ntaking = s->nsaves;
		s->saves = NULL;
		s->nsaves = s->saves_cap = 0;
		took = 1;
	}
	for (size_t i = 0; i < nfiles; i++)
		atomic_store(&files[i]->queued, 0);
	pthread_mutex_unlock(&s->mu);

	for (size_t i = 0; i < nfiles; i++) {
		struct vb_file *f = files[i];
		/* Bytes below this were written before it was read. */
		uint64_t upto = atomic_load(&f->written);

		if (vb_syncer_fdatasync(s, f->fd) < 0 && errno != EINVAL) {
			err = errno;
			atomic_store(&f->sync_err, err);
			atomic_fetch_add(&s->failures, 1);
		} else if (upto > atomic_load(&f->synced)) {
			atomic_store(&f->synced, upto);
		}
		vb_file_unref(f);
	}
	if (took) {
		int serr = run_saves(s);

		if (serr)
			err = serr;
	}
	for (size_t i = 0; i < npaths; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC), bad = 0;

		if (fd >= 0) {
			if (fsync(fd) < 0 && errno != EINVAL)
				bad = errno;
			close(fd);
		}
		if (!bad && vb_path_fsync_dir(paths[i], NULL) < 0)
			bad = errno;
		if (bad) {
			err = bad;
			atomic_fetch_add(&s->failures, 1);
			pthread_mutex_lock(&s->mu);
			VB_ALLOC_GROW(s->failed, s->nfailed + 1, s->failed_cap);
			s->failed[s->nfailed++] = paths[i];
			pthread_mutex_unlock(&s->mu);
		} else {
			free(paths[i]);
		}
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
		if (s->nfiles == 0 && s->npaths == 0 && s->nsaves == 0)
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

	if (s->mode == VB_FSYNC_NEVER)
		return 0;
	if (s->mode == VB_FSYNC_ALWAYS) {
		s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->efd < 0)
			return vb_err_sys(e, VB_E_IO, "eventfd");
	}
	rc = pthread_create(&s->thread, NULL,
			    s->mode == VB_FSYNC_ALWAYS ? job_main : sync_main,
			    s);
	if (rc) {
		errno = rc;
		return vb_err_sys(e, VB_E_IO, "cannot start the fsync thread");
	}
	s->started = 1;
	return 0;
}

void vb_syncer_unqueue(struct vb_syncer *s, struct vb_file *f)
{
	int found = 0;

	if (s->mode != VB_FSYNC_INTERVAL || !atomic_load(&f->queued))
		return;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nfiles; i++) {
		if (s->files[i] != f)
			continue;
		s->files[i] = s->files[--s->nfiles];
		atomic_store(&f->queued, 0);
		found = 1;
		break;
	}
	pthread_mutex_unlock(&s->mu);
	if (found)
		vb_file_unref(f);
}

void vb_syncer_queue(struct vb_syncer *s, struct vb_file *f)
{
	if (s->mode != VB_FSYNC_INTERVAL || atomic_exchange(&f->queued, 1))
		return;
	pthread_mutex_lock(&s->mu);
	VB_ALLOC_GROW(s->files, s->nfiles + 1, s->files_cap);
	s->files[s->nfiles++] = vb_file_ref(f);
	pthread_mutex_unlock(&s->mu);
}

size_t vb_syncer_take_failed(struct vb_syncer *s, char ***paths)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	*paths = s->failed;
	n = s->nfailed;
	s->failed = NULL;
	s->nfailed = s->failed_cap = 0;
	pthread_mutex_unlock(&s->mu);
	return n;
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

void vb_syncer_save(struct vb_syncer *s, const char *tmp, const char *path)
{
	struct vb_sync_save *v = NULL;
	char *old = NULL;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nsaves && v == NULL; i++)
		if (strcmp(s->saves[i].path, path) == 0)
			v = &s->saves[i];
	if (v) {
		old = v->tmp;
	} else {
		VB_ALLOC_GROW(s->saves, s->nsaves + 1, s->saves_cap);
		v = &s->saves[s->nsaves++];
		v->path = vb_xstrdup(path);
		v->cancelled = 0;
	}
	v->tmp = vb_xstrdup(tmp);
	pthread_mutex_unlock(&s->mu);
	if (old) {
		unlink(old);
		free(old);
	}
}

void vb_syncer_forget(struct vb_syncer *s, const char *prefix)
{
	size_t n = strlen(prefix), keep = 0;

	if (s->mode != VB_FSYNC_INTERVAL)
		return;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nsaves; i++) {
		struct vb_sync_save *v = &s->saves[i];

		if (strncmp(v->path, prefix, n) != 0) {
			s->saves[keep++] = *v;
			continue;
		}
		unlink(v->tmp);
		save_free(v);
	}
	s->nsaves = keep;
	/* Under way: the round renames under this lock, so it sees it. */
	for (size_t i = 0; i < s->ntaking; i++)
		if (s->taking[i].path &&
		    strncmp(s->taking[i].path, prefix, n) == 0)
			s->taking[i].cancelled = 1;
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
	for (size_t i = 0; i < s->nsaves; i++) {
		unlink(s->saves[i].tmp);
		save_free(&s->saves[i]);
	}
	free(s->saves);
	s->saves = NULL;
	s->nsaves = s->saves_cap = 0;
	for (size_t i = 0; i < s->nfailed; i++)
		free(s->failed[i]);
	free(s->failed);
	s->failed = NULL;
	s->nfailed = s->failed_cap = 0;
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->done_cv);
	/* Partitions freed after this must not reach for the lock. */
	s->mode = VB_FSYNC_NEVER;
}
