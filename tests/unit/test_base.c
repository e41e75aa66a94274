/* lib/base helpers the layers share: clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"

static void test_clocks(void **state)
{
	struct timespec pause = { 0, 20 * 1000000L };
	int64_t us0, ms0, us1, ms1;
	uint64_t wall;
	time_t now;

	(void)state;
	us0 = vb_mono_us();
	ms0 = vb_mono_ms();
	assert_true(ms0 >= us0 / 1000 && ms0 <= us0 / 1000 + 1000);
	nanosleep(&pause, NULL);
	us1 = vb_mono_us();
	ms1 = vb_mono_ms();
	assert_true(us1 - us0 >= 20000);
	assert_true(ms1 - ms0 >= 19);
	/* The wall clock is the epoch's, in microseconds. */
	now = time(NULL);
	wall = vb_wall_us();
	assert_true(wall / 1000000 >= (uint64_t)now - 1 &&
		    wall / 1000000 <= (uint64_t)now + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
