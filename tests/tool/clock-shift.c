/*
 * clock-shift - an LD_PRELOAD module for the shell tests: the wall clock
 * (CLOCK_REALTIME and its coarse twin, gettimeofday, time) of the process
 * runs $VIBES_TEST_CLOCK_SHIFT seconds (signed, e.g. -7200) off the real
 * one.  It lets a test store events "two hours ago" (t4040: the man
 * pages' "the events of the last hour") without waiting, and without a
 * package such as faketime.  Monotonic clocks are left alone, so
 * timeouts and readiness waits behave as usual.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static long long shift(void)
{
	const char *v = getenv("VIBES_TEST_CLOCK_SHIFT");

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static clock_gettime_fn real;
	int rc;

	if (real == NULL)
		real = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += shift();
	return rc;
}

/* glibc's own gettimeofday and time do not go through the symbol above. */
int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	/* tv is declared nonnull by glibc. */
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
