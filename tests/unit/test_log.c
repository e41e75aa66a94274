/* lib/log: positions, key partitioning, the json envelope, output delivery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "log/log.h"

static void test_pos_parse(void **state)
{
	struct vb_pos p;
	struct vb_err e;

	assert_int_equal(vb_pos_parse("beginning", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_BEGINNING);
	assert_int_equal(vb_pos_parse("end", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_END);
	assert_int_equal(vb_pos_parse("committed", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_COMMITTED);
	assert_int_equal(vb_pos_parse("committed", 0, &p, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_int_equal(vb_pos_parse("42", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_OFFSET);
	assert_int_equal(p.n, 42);
	assert_int_equal(vb_pos_parse("-7", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_BACK);
	assert_int_equal(p.n, 7);
	assert_int_equal(vb_pos_parse("@1700000000000000us", 1, &p, &e), 0);
	assert_int_equal(p.kind, VB_POS_TIME);
	assert_int_equal(p.n, 1700000000000000ull);
	assert_int_equal(vb_pos_parse("@1700000000s", 1, &p, &e), 0);
	assert_int_equal(p.n, 1700000000000000ull);
	assert_int_equal(vb_pos_parse("@1700000000", 1, &p, &e), -1);
	assert_int_equal(vb_pos_parse("@2023-11-14T22:13:20Z", 1, &p, &e), 0);
	assert_int_equal(p.n, 1700000000000000ull);
	assert_int_equal(vb_pos_parse("latest", 1, &p, &e), -1);
	assert_non_null(strstr(e.msg, "invalid position 'latest'"));
	assert_int_equal(vb_pos_parse("-x", 1, &p, &e), -1);
	assert_int_equal(vb_pos_parse("@soon", 1, &p, &e), -1);
}

static void test_key_partition(void **state)
{
	/* messages.md §3.3 worked examples */
	assert_int_equal(vb_log_key_partition("sess-123", 8, 8), 3);
	assert_int_equal(vb_log_key_partition("sess-123", 8, 3), 1);
	assert_int_equal(vb_log_key_partition("sess-123", 8, 10), 7);
	assert_int_equal(vb_log_key_partition("s1", 2, 8), 3);
	assert_int_equal(vb_log_key_partition("", 0, 8), 5);
	assert_int_equal(vb_log_key_partition("\x07\0\0\0", 4, 8), 0);
}

static void envelope_h(const char *payload, size_t n, const uint8_t *uhdr,
		       uint32_t uhdr_len, const char *want)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_json_scan s;
	struct vb_msg m;

	memset(&m, 0, sizeof(m));
	m.uhdr = uhdr;
	m.uhdr_len = uhdr_len;
	for (int i = 0; i < 16; i++)
		m.id[i] = (uint8_t)(0x10 * (i % 16) + i);
	m.offset = 41;
	m.timestamp = 1700000000000500ull;
	m.payload = (const uint8_t *)payload;
	m.payload_len = (uint32_t)n;
	vb_log_format_json(&b, 3, &m);
	assert_string_equal((char *)b.p, want);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vb_json_scan(&s, (char *)b.p, b.len), 0);
	assert_null(memchr(b.p, '\n', b.len));
	vb_buf_release(&b);
}

static void envelope(const char *payload, size_t n, const char *want)
{
	envelope_h(payload, n, NULL, 0, want);
}

#define ID \
	"{\"partition\":3,\"offset\":41,\"timestamp\":1700000000000500,\"id\":\"00112233-4455-6677-8899-aabbccddeeff\","
#define HEAD ID "\"key\":null,\"headers\":{},\"payload\":"

static void test_format_json(void **state)
{
	envelope("{\"a\":1}", 7, HEAD "{\"a\":1}}");
	envelope("[1, 2]", 6, HEAD "[1, 2]}");
	/* valid JSON spread over lines stays one line and the same value */
	envelope("{\"a\":\r\n1}", 9, HEAD "{\"a\":  1}}");
	/* not JSON: a string */
	envelope("hello\n", 6, HEAD "\"hello\\n\"}");
	envelope("{\"a\":", 5, HEAD "\"{\\\"a\\\":\"}");
	envelope("\xff", 1, HEAD "\"\xef\xbf\xbd\"}");
	envelope("", 0, HEAD "\"\"}");
}

/* The key and the headers of every kind, and a broken block. */
static void test_format_headers(void **state)
{
	struct vb_buf h = VB_BUF_INIT;
	static const uint8_t i32[4] = { 0xfe, 0xff, 0xff, 0xff }; /* -2 */
	static const uint8_t u16[2] = { 0x39, 0x30 };		  /* 12345 */
	static const uint8_t yes = 1, raw[2] = { 0xab, 0x01 };
	double pi = 3.5;

	vb_wire_uhdr_add(&h, VB_UHDR_STRING, "key", 3, VB_UHDR_STRING, "s\"1",
			 3);
	vb_wire_uhdr_add(&h, VB_UHDR_STRING, "n", 1, VB_UHDR_INT32, i32, 4);
	vb_wire_uhdr_add(&h, VB_UHDR_STRING, "u", 1, VB_UHDR_UINT16, u16, 2);
	vb_wire_uhdr_add(&h, VB_UHDR_STRING, "ok", 2, VB_UHDR_BOOL, &yes, 1);
	vb_wire_uhdr_add(&h, VB_UHDR_STRING, "f", 1, VB_UHDR_FLOAT64, &pi, 8);
	vb_wire_uhdr_add(&h, VB_UHDR_UINT16, u16, 2, VB_UHDR_RAW, raw, 2);
	envelope_h("1", 1, h.p, (uint32_t)h.len,
		   ID
		   "\"key\":\"s\\\"1\",\"headers\":{\"key\":\"s\\\"1\",\"n\":-2,\"u\":12345,\"ok\":true,\"f\":3.5,\"12345\":\"0xab01\"},\"payload\":1}");
	/* a block broken at its end: nothing of it */
	envelope_h("1", 1, h.p, (uint32_t)h.len - 1,
		   ID "\"key\":null,\"headers\":null,\"payload\":1}");
	vb_buf_release(&h);
}

/* A pipe whose reader takes `take` lines and exits, like head -n. */
static void test_out_pipe_head(void **state)
{
	int fds[2];
	struct vb_out o;
	struct vb_err e;
	size_t done = 99;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f;
		char line[64];
		int n = 0;

		close(fds[1]);
		f = fdopen(fds[0], "r"); /* reads ahead, like head */
		while (n < 3 && fgets(line, sizeof(line), f))
			n++;
		_exit(n == 3 ? 0 : 1);
	}
	close(fds[0]);
	vb_out_init(&o, fds[1], VB_HANDOFF_AUTO);
	assert_int_equal(o.is_pipe, 1);
	assert_int_equal(o.handoff, VB_HANDOFF_LINE);
	for (int i = 0; i < 100; i++) {
		vb_buf_printf(&o.buf, "line %d\n", i);
		vb_out_line_end(&o);
	}
	assert_int_equal(vb_out_flush(&o, &done, &e), -1);
	assert_int_equal(e.sys, EPIPE);
	assert_int_equal(o.closed, 1);
	assert_int_equal(done, 3);
	vb_out_release(&o);
	close(fds[1]);
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_out_file_full(void **state)
{
	struct vb_out o;
	struct vb_err e;
	size_t done = 99;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		skip();
	vb_out_init(&o, fd, VB_HANDOFF_AUTO);
	assert_int_equal(o.is_pipe, 0);
	vb_buf_addstr(&o.buf, "x\n");
	vb_out_line_end(&o);
	assert_int_equal(vb_out_flush(&o, &done, &e), -1);
	assert_int_equal(e.sys, ENOSPC);
	assert_int_equal(e.kind, VB_E_IO);
	assert_int_equal(done, 0);
	vb_out_release(&o);
	close(fd);
}

static void test_out_file(void **state)
{
	char path[] = "/tmp/vibes-test-log.XXXXXX";
	struct vb_out o;
	struct vb_err e;
	size_t done = 0;
	char got[64];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	vb_out_init(&o, fd, VB_HANDOFF_AUTO);
	vb_buf_addstr(&o.buf, "a\n");
	vb_out_line_end(&o);
	vb_buf_addstr(&o.buf, "bc\n");
	vb_out_line_end(&o);
	assert_int_equal(vb_out_flush(&o, &done, &e), 0);
	assert_int_equal(done, 2);
	assert_int_equal(pread(fd, got, sizeof(got), 0), 5);
	assert_memory_equal(got, "a\nbc\n", 5);
	vb_out_release(&o);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pos_parse),
		cmocka_unit_test(test_key_partition),
		cmocka_unit_test(test_format_json),
		cmocka_unit_test(test_format_headers),
		cmocka_unit_test(test_out_pipe_head),
		cmocka_unit_test(test_out_file_full),
		cmocka_unit_test(test_out_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
