/* lib/base helpers the layers share: clocks, array growth, addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/parse.h"

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

static void test_alloc_grow(void **state)
{
	uint64_t *v = NULL;
	uint8_t *bytes = NULL;
	uint32_t n = 0, cap = 0;
	size_t bcap = 0, none = 0;

	(void)state;
	/* First growth gives VB_ALLOC_FIRST, then the capacity doubles. */
	VB_ALLOC_GROW(v, n + 1, cap);
	assert_non_null(v);
	assert_int_equal(cap, VB_ALLOC_FIRST);
	for (n = 0; n < 100; n++) {
		VB_ALLOC_GROW(v, n + 1, cap);
		v[n] = n * 3;
	}
	assert_int_equal(cap, 128);
	for (n = 0; n < 100; n++)
		assert_int_equal(v[n], n * 3);
	/* Enough room already: nothing moves. */
	{
		uint64_t *before = v;

		VB_ALLOC_GROW(v, 128, cap);
		assert_ptr_equal(v, before);
		assert_int_equal(cap, 128);
	}
	free(v);

	/* A first size of its own, and a jump past several doublings. */
	VB_ALLOC_GROW_FROM(bytes, none, bcap, 4096);
	assert_null(bytes);
	assert_int_equal(bcap, 0);
	VB_ALLOC_GROW_FROM(bytes, 1, bcap, 4096);
	assert_int_equal(bcap, 4096);
	VB_ALLOC_GROW_FROM(bytes, 40000, bcap, 4096);
	assert_int_equal(bcap, 65536);
	memset(bytes, 1, 40000);
	free(bytes);
}

static void test_alloc_nr(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(vb_alloc_nr(0, 1, 16), 16);
	assert_int_equal(vb_alloc_nr(0, 1, 0), 1);
	assert_int_equal(vb_alloc_nr(0, 20, 16), 32);
	assert_int_equal(vb_alloc_nr(16, 17, 4), 32);
	assert_int_equal(vb_alloc_nr(32, 20, 4), 32);
	assert_int_equal(vb_alloc_nr(3, 13, 4), 24);
	/* A capacity that cannot double any more aborts, never wraps. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vb_alloc_nr(SIZE_MAX / 2 + 1, SIZE_MAX, 8);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* s splits into host and port (-1: no port given). */
static void split_ok(const char *s, const char *host, int port)
{
	char h[64];
	uint16_t p = 4242;
	int has = -1;
	struct vb_err e;

	if (vb_addr_split(s, h, sizeof(h), &p, &has, &e) != 0)
		fail_msg("'%s' rejected: %s", s, e.msg);
	assert_string_equal(h, host);
	assert_int_equal(has, port >= 0);
	/* Without a port, the caller's default is left alone. */
	assert_int_equal(p, port >= 0 ? port : 4242);
}

static void split_bad(const char *s, size_t hostsz, const char *msg)
{
	char h[64] = "untouched";
	uint16_t p = 4242;
	int has = -1;
	struct vb_err e;

	assert_true(hostsz <= sizeof(h));
	if (vb_addr_split(s, h, hostsz, &p, &has, &e) != -1)
		fail_msg("'%s' accepted", s);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_string_equal(e.msg, msg);
	assert_string_equal(h, "untouched");
	assert_int_equal(p, 4242);
	assert_int_equal(has, 0);
}

static void test_addr_split(void **state)
{
	char h[8];
	uint16_t p;
	int has;

	(void)state;
	split_ok("127.0.0.1:8090", "127.0.0.1", 8090);
	split_ok("localhost", "localhost", -1);
	split_ok(":7000", "", 7000);
	split_ok("h:0", "h", 0);
	split_ok("h:65535", "h", 65535);
	split_ok("[::1]:8091", "::1", 8091);
	split_ok("[::1]", "::1", -1);
	split_ok("[fe80::1%lo]:1", "fe80::1%lo", 1);
	/* Without brackets the host ends at the last colon. */
	split_ok("::1:8090", "::1", 8090);

	split_bad("", 64, "address is empty");
	split_bad("h:", 64, "address 'h:': port '' is invalid");
	split_bad(":", 64, "address ':': port '' is invalid");
	split_bad("h:abc", 64, "address 'h:abc': port 'abc' is invalid");
	split_bad("h:65536", 64,
		  "address 'h:65536': port '65536' is too large");
	split_bad("h:-1", 64, "address 'h:-1': port '-1' is too small");
	split_bad("[::1", 64, "address '[::1': missing ']'");
	split_bad("[::1]8090", 64, "address '[::1]8090': junk after ']'");
	split_bad("[::1]:x", 64, "address '[::1]:x': port 'x' is invalid");
	split_bad("abcdefgh:1", 8, "address 'abcdefgh:1': host too long");
	split_bad("[abcdefgh]", 8, "address '[abcdefgh]': host too long");

	/* A host of exactly hostsz - 1 bytes fits; no error buffer needed. */
	assert_int_equal(vb_addr_split("abcdefg:1", h, sizeof(h), &p, &has,
				       NULL),
			 0);
	assert_string_equal(h, "abcdefg");
	assert_int_equal(vb_addr_split("abcdefgh", h, sizeof(h), &p, &has,
				       NULL),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_alloc_grow),
		cmocka_unit_test(test_alloc_nr),
		cmocka_unit_test(test_addr_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
