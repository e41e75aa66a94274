/*
 * Hostile clients against the real vibes-iggyd: impossible lengths,
 * truncated and garbage frames, frames split byte by byte, the fuzzer
 * corpus replayed.  The server must answer with an error status (closing
 * when the framing is broken) and keep serving everyone else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "broker_fixture.h"
#include "wire/wire.h"

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/*
 * Reads exactly n bytes within 5 s.  Returns n, or fewer if the peer
 * closed (0 at once = EOF).
 */
static size_t raw_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			fail_msg("no answer from the server");
		r = read(fd, (uint8_t *)buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Reads one response frame; returns its status, payload skipped. */
static uint32_t raw_resp(int fd)
{
	uint8_t h[8], skip[4096];
	uint32_t len;

	assert_int_equal(raw_read(fd, h, 8), 8);
	len = vb_ld32(h + 4);
	while (len > 0) {
		size_t k = len < sizeof(skip) ? len : sizeof(skip);

		assert_int_equal(raw_read(fd, skip, k), k);
		len -= (uint32_t)k;
	}
	return vb_ld32(h);
}

static void expect_eof(int fd)
{
	uint8_t b;

	assert_int_equal(raw_read(fd, &b, 1), 0);
}

/* Another client can still ping and log in. */
static void server_alive(void)
{
	struct vb_client c;
	struct vb_err e;

	assert_int_equal(srv_client(&S, &c, 1), 0);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	vb_client_release(&c);
}

static void frame(struct vb_buf *b, uint32_t code, const void *p, size_t n)
{
	vb_buf_u32(b, (uint32_t)(4 + n));
	vb_buf_u32(b, code);
	vb_buf_add(b, p, n);
}

static void login_frame(struct vb_buf *b)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_LOGIN_USER);
	vb_name_set(&r.name, S.user);
	vb_name_set(&r.secret, S.pass);
	vb_wire_req_encode(b, &r);
}

static void test_bad_lengths(void **state)
{
	static const uint8_t short_len[] = { 2, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t huge_unauth[] = { 0xff, 0xff, 0xff, 0xff,
					       0xc9, 0,	   0,	 0 };
	struct vb_buf b = VB_BUF_INIT;
	int fd;

	/* length < 4: InvalidCommand, then closed. */
	fd = raw_connect();
	raw_send(fd, short_len, sizeof(short_len));
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	expect_eof(fd);
	close(fd);
	/* 4 GiB before login: Unauthenticated, closed, nothing allocated. */
	fd = raw_connect();
	raw_send(fd, huge_unauth, sizeof(huge_unauth));
	assert_int_equal(raw_resp(fd), VB_ST_UNAUTHENTICATED);
	expect_eof(fd);
	close(fd);
	/* More than 10 MiB of control payload after login: 3, closed. */
	fd = raw_connect();
	login_frame(&b);
	vb_buf_u32(&b, 11u << 20);
	vb_buf_u32(&b, VB_CMD_CREATE_STREAM);
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	expect_eof(fd);
	close(fd);
	/* send_messages above 256 MiB: 3, closed. */
	fd = raw_connect();
	vb_buf_reset(&b);
	login_frame(&b);
	vb_buf_u32(&b, 300u << 20);
	vb_buf_u32(&b, VB_CMD_SEND_MESSAGES);
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	expect_eof(fd);
	close(fd);
	vb_buf_release(&b);
	server_alive();
}

static void test_truncated_and_garbage(void **state)
{
	static const uint8_t half[] = { 0x10, 0, 0, 0, 0xc8, 0 };
	uint8_t junk[65536];
	int fd;

	/* A header cut short, then the client goes away. */
	fd = raw_connect();
	raw_send(fd, half, sizeof(half));
	close(fd);
	/* A frame promising more than it sends, then EOF. */
	fd = raw_connect();
	raw_send(fd,
		 "\x40\x00\x00\x00\x01\x00\x00\x00"
		 "abc",
		 11);
	shutdown(fd, SHUT_WR);
	expect_eof(fd);
	close(fd);
	/* Garbage: the server answers errors or closes, never crashes. */
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(arc4random() & 0xff);
	fd = raw_connect();
	raw_send(fd, junk, sizeof(junk));
	shutdown(fd, SHUT_WR);
	while (raw_read(fd, junk, sizeof(junk)) > 0)
		;
	close(fd);
	server_alive();
}

static void test_split_frames(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;
	int fd;

	/* login + ping + get_streams + unknown code, one byte per write. */
	login_frame(&b);
	frame(&b, VB_CMD_PING, NULL, 0);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	vb_wire_req_encode(&b, &r);
	frame(&b, 9999, "xyz", 3);
	frame(&b, VB_CMD_PING, NULL, 0);
	fd = raw_connect();
	for (size_t i = 0; i < b.len; i++) {
		struct timespec ts = { 0, 200000 };

		raw_send(fd, b.p + i, 1);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	assert_int_equal(raw_resp(fd), 0);
	/* The same frames pipelined in one write. */
	raw_send(fd, b.p, b.len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	assert_int_equal(raw_resp(fd), 0);
	close(fd);
	vb_buf_release(&b);
}

static void test_bad_payloads_keep_connection(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	int fd = raw_connect();

	login_frame(&b);
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), 0);
	vb_buf_reset(&b);
	/* Truncated identifier: 3; empty name: 4; bad send batch. */
	frame(&b, VB_CMD_GET_STREAM, "\x01\x04\x00", 3);
	frame(&b, VB_CMD_CREATE_STREAM, "\x00", 1);
	frame(&b, VB_CMD_GET_STREAM, "\x01\x02\x00\x00", 4);
	frame(&b, VB_CMD_SEND_MESSAGES, "\x01\x00\x00\x00", 4);
	frame(&b, VB_CMD_SEND_MESSAGES,
	      "\x12\x00\x00\x00\x01\x04\x00\x00\x00\x00\x01\x04\x00\x00\x00"
	      "\x00\x01\x00\x00\x00\x00\x00",
	      22);
	frame(&b, VB_CMD_PING, NULL, 0);
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_COMMAND);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_FORMAT);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_FORMAT);
	assert_int_not_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_MESSAGES_COUNT);
	assert_int_equal(raw_resp(fd), 0);
	close(fd);
	vb_buf_release(&b);
}

/*
 * Every file of the fuzzer corpus (u32 code + payload) as a frame, on a
 * fresh logged-in connection and raw on an anonymous one.
 */
static void test_corpus(void **state)
{
	const char *src = getenv("VIBES_SOURCE_DIR");
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int files = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/req",
		 src ? src : VB_SOURCE_DIR);
	d = opendir(dir);
	if (d == NULL)
		skip();
	while ((de = readdir(d)) != NULL) {
		struct vb_buf b = VB_BUF_INIT, in = VB_BUF_INIT;
		char path[1400];
		FILE *f;
		uint8_t chunk[4096];
		size_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			vb_buf_add(&in, chunk, n);
		fclose(f);
		files++;
		if (in.len >= 4) {
			fd = raw_connect();
			login_frame(&b);
			frame(&b, vb_ld32(in.p), in.p + 4, in.len - 4);
			frame(&b, VB_CMD_PING, NULL, 0);
			raw_send(fd, b.p, b.len);
			assert_int_equal(raw_resp(fd), 0);
			(void)raw_resp(fd);
			/* Unless it logged us out, the ping must work. */
			if (vb_ld32(in.p) != VB_CMD_LOGOUT_USER)
				assert_int_equal(raw_resp(fd), 0);
			close(fd);
		}
		fd = raw_connect();
		raw_send(fd, in.p, in.len);
		shutdown(fd, SHUT_WR);
		while (raw_read(fd, chunk, sizeof(chunk)) > 0)
			;
		close(fd);
		vb_buf_release(&b);
		vb_buf_release(&in);
	}
	closedir(d);
	assert_true(files > 0);
	server_alive();
}

static void login_frame_pw(struct vb_buf *b, const char *pass)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_LOGIN_USER);
	vb_name_set(&r.name, S.user);
	vb_name_set(&r.secret, pass);
	vb_wire_req_encode(b, &r);
}

/*
 * Logins are checked by the password worker: the connection waits, its
 * later frames run after the answer and in order, while others go on; a
 * connection gone while its check runs is forgotten.
 */
static void test_login_worker(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;
	int fd, fds[16];

	login_frame_pw(&b, "wrong-password");
	frame(&b, VB_CMD_PING, NULL, 0);
	login_frame(&b);
	vb_req_init(&r, VB_CMD_GET_STREAMS);
	vb_wire_req_encode(&b, &r);
	login_frame_pw(&b, "wrong-again");
	vb_req_init(&r, VB_CMD_GET_ME);
	vb_wire_req_encode(&b, &r);
	frame(&b, VB_CMD_PING, NULL, 0);
	fd = raw_connect();
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_CREDENTIALS);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), 0);
	/* A failed login leaves the previous one in place. */
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_CREDENTIALS);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), 0);
	close(fd);
	/* Many at once, each in order on its own connection. */
	for (int i = 0; i < 16; i++) {
		fds[i] = raw_connect();
		raw_send(fds[i], b.p, b.len);
	}
	for (int i = 0; i < 16; i++) {
		assert_int_equal(raw_resp(fds[i]), VB_ST_INVALID_CREDENTIALS);
		for (int k = 0; k < 3; k++)
			assert_int_equal(raw_resp(fds[i]), 0);
		assert_int_equal(raw_resp(fds[i]), VB_ST_INVALID_CREDENTIALS);
		assert_int_equal(raw_resp(fds[i]), 0);
		assert_int_equal(raw_resp(fds[i]), 0);
		close(fds[i]);
	}
	/* change_password too, in order with what follows it. */
	vb_buf_reset(&b);
	login_frame(&b);
	vb_req_init(&r, VB_CMD_CHANGE_PASSWORD);
	vb_ident_num(&r.target, 0);
	vb_name_set(&r.secret, "not-the-password");
	vb_name_set(&r.secret2, "new-password");
	vb_wire_req_encode(&b, &r);
	frame(&b, VB_CMD_PING, NULL, 0);
	vb_name_set(&r.secret, S.pass);
	vb_wire_req_encode(&b, &r);
	login_frame_pw(&b, "new-password");
	vb_name_set(&r.secret, "new-password");
	vb_name_set(&r.secret2, S.pass);
	vb_wire_req_encode(&b, &r);
	login_frame(&b);
	fd = raw_connect();
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(raw_resp(fd), VB_ST_INVALID_CREDENTIALS);
	for (int k = 0; k < 5; k++)
		assert_int_equal(raw_resp(fd), 0);
	close(fd);
	/* Gone before the answer: queued or being checked. */
	vb_buf_reset(&b);
	login_frame_pw(&b, "never-answered");
	for (int i = 0; i < 32; i++) {
		fd = raw_connect();
		raw_send(fd, b.p, b.len);
		if (i % 2)
			shutdown(fd, SHUT_WR);
		close(fd);
	}
	vb_buf_release(&b);
	server_alive();
}

static void test_shutdown_disconnected(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	int fd = raw_connect();

	login_frame(&b);
	raw_send(fd, b.p, b.len);
	assert_int_equal(raw_resp(fd), 0);
	assert_int_equal(srv_stop(&S), 0);
	/* The unsolicited Disconnected frame, then EOF. */
	assert_int_equal(raw_resp(fd), VB_ST_DISCONNECTED);
	expect_eof(fd);
	close(fd);
	vb_buf_release(&b);
	assert_int_equal(srv_start(&S), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_split_frames),
		cmocka_unit_test(test_bad_payloads_keep_connection),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_login_worker),
		cmocka_unit_test(test_shutdown_disconnected),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
