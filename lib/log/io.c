/*
 * io.c - the monotonic clock lib/log measures batches and outages with.
 * (Pipelined requests use vb_client_write / vb_client_read_resp.)
 */
#include <time.h>

#include "log/log-int.h"
#include "base/banned.h"

int64_t vb_log_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

