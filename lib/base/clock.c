/* The monotonic and wall clocks (clock.h). */
#include <time.h>

#include "base/clock.h"
#include "base/banned.h"

int64_t vb_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t vb_mono_ms(void)
{
	return vb_mono_us() / 1000;
}

uint64_t vb_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}
