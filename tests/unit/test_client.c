/* lib/client: address parsing and connection errors against real sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/client.h"
#include "net/sock.h"
#include "base/vb_exit.h"

static void parse(const char *addr, const char *host, unsigned port,
		  const char *user, const char *pass)
{
	struct vb_client c;
	struct vb_err e;

	vb_client_init(&c);
	assert_int_equal(vb_client_set_addr(&c, addr, &e), 0);
	assert_string_equal(c.host, host);
	assert_int_equal(c.port, port);
	assert_string_equal(c.user, user);
	assert_string_equal(c.pass, pass);
	vb_client_release(&c);
}

static void test_addr_forms(void **state)
{
	parse("localhost:9000", "localhost", 9000, "", "");
	parse("example", "example", 8090, "", "");
	parse(":7000", "127.0.0.1", 7000, "", "");
	parse("[::1]:8091", "::1", 8091, "", "");
	parse("[::1]", "::1", 8090, "", "");
	parse("iggy://bob:s3:cret@10.0.0.1:8095", "10.0.0.1", 8095, "bob",
	      "s3:cret");
	parse("iggy://h:1/", "h", 1, "", "");
	parse("tcp://u:p@h", "h", 8090, "u", "p");
}

static void bad(const char *addr, const char *needle)
{
	struct vb_client c;
	struct vb_err e;

	vb_client_init(&c);
	assert_int_equal(vb_client_set_addr(&c, addr, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_non_null(strstr(e.msg, needle));
	assert_int_equal(vb_err_exit(&e), VB_EX_USAGE);
	vb_client_release(&c);
}

static void test_addr_errors(void **state)
{
	bad("h:0", "port '0'");
	bad("h:65536", "port '65536'");
	bad("h:abc", "port 'abc'");
	bad("", "empty");
	bad("[::1", "missing ']'");
	bad("iggy://nopass@h:1", "user:password@");
}

/* A port nobody listens on: bind one, learn its number, close it. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void test_connect_refused(void **state)
{
	struct vb_client c;
	struct vb_err e;
	char addr[64];

	vb_client_init(&c);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", free_port());
	assert_int_equal(vb_client_set_addr(&c, addr, &e), 0);
	assert_int_equal(vb_client_connect(&c, &e), -1);
	assert_int_equal(e.kind, VB_E_UNAVAIL);
	assert_non_null(strstr(e.msg, addr));
	assert_int_equal(vb_err_exit(&e), VB_EX_UNAVAILABLE);
	assert_false(vb_client_connected(&c));
	vb_client_release(&c);
}

/* A listener that accepts and never answers: the call must time out. */
static void test_call_timeout(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct vb_client c;
	struct vb_err e;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	vb_client_init(&c);
	c.port = ntohs(sa.sin_port);
	c.timeout_ms = 200;
	assert_int_equal(vb_client_connect(&c, &e), 0);
	assert_int_equal(vb_client_ping(&c, &e), -1);
	assert_int_equal(e.kind, VB_E_TIMEOUT);
	assert_int_equal(vb_err_exit(&e), VB_EX_TEMPFAIL);
	assert_false(vb_client_connected(&c));
	vb_client_release(&c);
	close(lfd);
}

/* A peer that answers a ping with an error frame and then closes. */
static void test_server_error_and_close(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd;
	struct vb_client c;
	struct vb_err e;
	uint8_t req[8], resp[8] = { 0x28, 0, 0, 0, 0, 0, 0, 0 };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	vb_client_init(&c);
	c.port = ntohs(sa.sin_port);
	assert_int_equal(vb_client_connect(&c, &e), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	/* Queue the answer first: the client's call is blocking. */
	assert_int_equal(write(cfd, resp, 8), 8);
	assert_int_equal(vb_client_ping(&c, &e), -1);
	assert_int_equal(e.kind, VB_E_AUTH);
	assert_int_equal(e.status, 40);
	assert_int_equal(vb_err_exit(&e), VB_EX_NOPERM);
	assert_int_equal(read(cfd, req, 8), 8);
	assert_memory_equal(req, "\x04\0\0\0\x01\0\0\0", 8);
	close(cfd);
	assert_int_equal(vb_client_ping(&c, &e), -1);
	assert_int_equal(e.kind, VB_E_UNAVAIL);
	vb_client_release(&c);
	close(lfd);
}

/* A listener on a kernel-chosen port and a client connected to it. */
static int pair(struct vb_client *c, int *lfd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct vb_err e;
	int cfd;

	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*lfd, 1), 0);
	assert_int_equal(getsockname(*lfd, (struct sockaddr *)&sa, &len), 0);
	vb_client_init(c);
	c->port = ntohs(sa.sin_port);
	assert_int_equal(vb_client_connect(c, &e), 0);
	cfd = accept(*lfd, NULL, NULL);
	assert_true(cfd >= 0);
	return cfd;
}

/* Pumps until n answers are taken (or the connection ends). */
static int take_n(struct vb_client *c, struct vb_reply *reps, int n,
		  struct vb_err *e)
{
	int got = 0, rc;

	while (got < n) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

		while ((rc = vb_client_take(c, &reps[got], e)) == 1)
			if (++got == n)
				return got;
		if (rc < 0)
			return -1;
		if (c->fd >= 0 && poll(&pfd, 1, 2000) != 1)
			return got;
		vb_client_pump(c, NULL);
	}
	return got;
}

/*
 * Pipelined: three requests queued (one of them in caller memory) go out
 * in order on one pump; the answers, written in one piece by the peer,
 * come out in order, each with its status; an answer more than was asked
 * for is a protocol error that ends the connection.
 */
static void test_pipelined(void **state)
{
	struct vb_client c;
	struct vb_reply reps[3];
	struct vb_req r;
	struct vb_err e;
	static const uint8_t ping[8] = { 4, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t got[64], answers[8 + 9 + 8 + 8 + 8];
	int lfd, cfd = pair(&c, &lfd);
	size_t n = 0;

	vb_client_queue(&c, ping, 8);
	vb_client_queue_ref(&c, (uint8_t *)ping, 8);
	vb_req_init(&r, VB_CMD_GET_STATS);
	vb_client_queue_req(&c, &r);
	assert_int_equal(vb_client_inflight(&c), 3);
	assert_int_equal(vb_client_unsent(&c), 24);
	assert_true(vb_client_events(&c) & POLLOUT);
	assert_int_equal(vb_client_pump(&c, &e), 0);
	assert_int_equal(vb_client_unsent(&c), 0);
	assert_false(vb_client_events(&c) & POLLOUT);
	while (n < 24) {
		ssize_t k = read(cfd, got + n, sizeof(got) - n);

		assert_true(k > 0);
		n += (size_t)k;
	}
	assert_memory_equal(got, ping, 8);
	assert_memory_equal(got + 8, ping, 8);
	assert_memory_equal(got + 16, "\x04\0\0\0\x0a\0\0\0", 8);
	memcpy(answers, "\0\0\0\0\0\0\0\0", 8);	       /* ok */
	memcpy(answers + 8, "\0\0\0\0\1\0\0\0x", 9);   /* ok, "x" */
	memcpy(answers + 17, "\x29\0\0\0\0\0\0\0", 8); /* 41 */
	memcpy(answers + 25, "\0\0\0\0\0\0\0\0", 8);   /* extra */
	assert_int_equal(write(cfd, answers, 33), 33);
	assert_int_equal(take_n(&c, reps, 3, &e), 3);
	assert_int_equal(reps[0].status, 0);
	assert_int_equal(reps[1].len, 1);
	assert_int_equal(reps[1].payload[0], 'x');
	assert_int_equal(reps[2].status, 41);
	assert_int_equal(vb_client_inflight(&c), 0);
	assert_int_equal(vb_client_take(&c, &reps[0], &e), -1);
	assert_int_equal(e.kind, VB_E_PROTO);
	assert_non_null(strstr(e.msg, "answer to no request"));
	assert_false(vb_client_connected(&c));
	close(cfd);
	vb_client_release(&c);
	close(lfd);
}

/* Reads exactly n bytes the client sent. */
static void read_n(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);

		assert_true(k > 0);
		got += (size_t)k;
	}
}

static int nothing_sent(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/*
 * vb_client_with_login: the request goes out in the login's write and
 * its answer serves the first identical request without a round trip;
 * a second one asks the server.  A refused login leaves no answer
 * behind; another request first, or a new connection, drops the kept one.
 */
static void test_with_login(void **state)
{
	static const uint8_t ok_uid7[12] = {
		0, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0
	};
	static const uint8_t ok_t[9] = { 0, 0, 0, 0, 1, 0, 0, 0, 'T' };
	static const uint8_t ok_u[9] = { 0, 0, 0, 0, 1, 0, 0, 0, 'U' };
	static const uint8_t refused[8] = { 42, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t unauth[8] = { 40, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t ok[8] = { 0 };
	struct vb_client c;
	struct vb_ident s, t;
	struct vb_req r;
	struct vb_buf topic = VB_BUF_INIT;
	struct vb_err e;
	uint8_t got[256];
	const uint8_t *p;
	size_t n, login_len;
	uint32_t uid = 0;
	int lfd, cfd = pair(&c, &lfd);

	assert_int_equal(vb_ident_str(&s, "vibes"), 0);
	assert_int_equal(vb_ident_str(&t, "events"), 0);
	vb_client_topic_req(&r, &s, &t);
	vb_wire_req_encode(&topic, &r);
	vb_client_with_login(&c, &r);

	assert_int_equal(write(cfd, ok_uid7, 12), 12);
	assert_int_equal(write(cfd, ok_t, 9), 9);
	assert_int_equal(vb_client_login(&c, "iggy", "secret", &uid, &e), 0);
	assert_int_equal(uid, 7);
	/* the login (8 + 4+1+4 + 1+6 + 4+11 + ...) then the topic request */
	read_n(cfd, got, 4);
	login_len = 4 + vb_ld32(got);
	read_n(cfd, got + 4, login_len - 4 + topic.len);
	assert_int_equal(vb_ld32(got + 4), VB_CMD_LOGIN_USER);
	assert_memory_equal(got + login_len, topic.p, topic.len);
	assert_true(nothing_sent(cfd));
	assert_int_equal(vb_client_call(&c, &r, &p, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], 'T');
	assert_true(nothing_sent(cfd)); /* served from the login's answer */
	assert_int_equal(write(cfd, ok_u, 9), 9);
	assert_int_equal(vb_client_call(&c, &r, &p, &n, &e), 0);
	assert_int_equal(p[0], 'U');
	read_n(cfd, got, topic.len);
	assert_memory_equal(got, topic.p, topic.len);

	/* refused: the kept request's answer is read too, nothing left */
	assert_int_equal(write(cfd, refused, 8), 8);
	assert_int_equal(write(cfd, unauth, 8), 8);
	assert_int_equal(vb_client_login(&c, "iggy", "wrong", NULL, &e), -1);
	assert_int_equal(e.kind, VB_E_AUTH);
	assert_non_null(strstr(e.msg, "login as 'iggy' refused"));
	assert_int_equal(write(cfd, ok, 8), 8);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	assert_int_equal(vb_client_inflight(&c), 0);

	/* another request first: the kept answer is not used */
	assert_int_equal(write(cfd, ok_uid7, 12), 12);
	assert_int_equal(write(cfd, ok_t, 9), 9);
	assert_int_equal(vb_client_login(&c, "iggy", "secret", NULL, &e), 0);
	assert_int_equal(write(cfd, ok, 8), 8);
	assert_int_equal(vb_client_ping(&c, &e), 0);
	assert_int_equal(write(cfd, ok_u, 9), 9);
	assert_int_equal(vb_client_call(&c, &r, &p, &n, &e), 0);
	assert_int_equal(p[0], 'U');

	/* a closed connection drops it too */
	assert_int_equal(write(cfd, ok_uid7, 12), 12);
	assert_int_equal(write(cfd, ok_t, 9), 9);
	assert_int_equal(vb_client_login(&c, "iggy", "secret", NULL, &e), 0);
	close(cfd);
	vb_client_close(&c);
	assert_int_equal(vb_client_connect(&c, &e), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(write(cfd, ok_u, 9), 9);
	assert_int_equal(vb_client_call(&c, &r, &p, &n, &e), 0);
	assert_int_equal(p[0], 'U');

	close(cfd);
	vb_buf_release(&topic);
	vb_client_release(&c);
	close(lfd);
}

/*
 * lib/net/sock: the listeners' helper (the server's Iggy and HTTP ports)
 * and the address texts every log line and `vibes-seek` show.
 */
static void test_sock(void **state)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(8090) };
	char ip[64], buf[128], addr[32];
	uint16_t port, port2;
	struct vb_err e;
	int fd, fd2;

	fd = vb_net_listen("127.0.0.1:0", "", 0, 8, &e);
	assert_true(fd >= 0);
	assert_int_equal(vb_net_local(fd, ip, sizeof(ip), &port, &e), AF_INET);
	assert_string_equal(ip, "127.0.0.1");
	assert_true(port > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	assert_int_equal(vb_net_listen(addr, "", 0, 8, &e), -1);
	assert_int_equal(e.kind, VB_E_STATE);
	snprintf(buf, sizeof(buf), "cannot listen on %s: ", addr);
	assert_memory_equal(e.msg, buf, strlen(buf));
	assert_int_equal(vb_net_listen(addr, "HTTP", 0, 8, &e), -1);
	snprintf(buf, sizeof(buf), "cannot listen for HTTP on %s: ", addr);
	assert_memory_equal(e.msg, buf, strlen(buf));
	fd2 = vb_net_listen(addr, "HTTP", 1, 8, &e); /* any port */
	assert_true(fd2 >= 0);
	assert_int_equal(vb_net_local(fd2, ip, sizeof(ip), &port2, &e),
			 AF_INET);
	assert_int_not_equal(port2, port);
	close(fd2);
	close(fd);
	assert_int_equal(vb_net_listen("nohost", "HTTP", 0, 8, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_string_equal(e.msg, "HTTP address 'nohost': expected HOST:PORT");

	s6.sin6_addr = in6addr_loopback;
	vb_sockaddr_str((struct sockaddr *)&s6, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:8090");
	vb_sockaddr_host((struct sockaddr *)&s6, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]");
	assert_int_equal(vb_sockaddr_parts((struct sockaddr *)&s6, ip,
					   sizeof(ip), &port),
			 AF_INET6);
	assert_string_equal(ip, "::1");
	assert_int_equal(port, 8090);
}

/*
 * lib/net/sock's local sockets: a listener that replaces a socket left
 * behind, a client that names itself (the name both ends show), a path
 * too long, and nobody listening.
 */
static void test_sock_unix(void **state)
{
	char dir[] = "/tmp/vibes-test-unix.XXXXXX", path[128], buf[160];
	char peer[160], name[160];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct vb_err e;
	struct stat st;
	int lfd, cfd, afd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.sock", dir);
	lfd = vb_net_listen_unix(path, 8, &e);
	assert_true(lfd >= 0);
	close(lfd); /* left behind, as by a killed server */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(vb_net_connect_unix(path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	lfd = vb_net_listen_unix(path, 8, &e);
	assert_true(lfd >= 0);
	cfd = vb_net_connect_unix(path);
	assert_true(cfd >= 0);
	memset(&ss, 0, sizeof(ss));
	afd = accept(lfd, (struct sockaddr *)&ss, &sl);
	assert_true(afd >= 0);
	vb_sockaddr_str((struct sockaddr *)&ss, peer, sizeof(peer));
	vb_sockaddr_host((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "unix");
	memset(&ss, 0, sizeof(ss));
	sl = sizeof(ss);
	assert_int_equal(getsockname(cfd, (struct sockaddr *)&ss, &sl), 0);
	vb_sockaddr_str((struct sockaddr *)&ss, name, sizeof(name));
	assert_string_equal(peer, name);
	assert_int_equal(strncmp(name, "unix:@", 6), 0);
	assert_int_equal(strlen(name), 11); /* 5 hex digits */
	/* the listener's own name is its path */
	memset(&ss, 0, sizeof(ss));
	sl = sizeof(ss);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	vb_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	snprintf(name, sizeof(name), "unix:%s", path);
	assert_string_equal(buf, name);
	/* unnamed: an empty name, which the server replaces */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	vb_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "unix:");
	close(afd);
	close(cfd);
	close(lfd);
	unlink(path);
	rmdir(dir);

	memset(buf, 'x', sizeof(buf) - 1);
	buf[0] = '/';
	buf[sizeof(buf) - 1] = 0;
	assert_int_equal(vb_net_listen_unix(buf, 8, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_non_null(
		strstr(e.msg, "too long for a socket (at most 107 bytes)"));
	assert_int_equal(vb_net_connect_unix(buf), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(vb_net_connect_unix("/nonexistent/server.sock"), -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * The peer answers one of two requests and closes: the answer that came
 * is still handed out, then the end is reported.  An unsolicited status 8
 * (shutting down) on an idle connection ends it as unavailable.
 */
static void test_answers_before_eof_and_shutdown(void **state)
{
	struct vb_client c;
	struct vb_reply rep;
	struct vb_err e;
	static const uint8_t ping[8] = { 4, 0, 0, 0, 1, 0, 0, 0 };
	int lfd, cfd = pair(&c, &lfd);

	vb_client_queue(&c, ping, 8);
	vb_client_queue(&c, ping, 8);
	assert_int_equal(vb_client_pump(&c, &e), 0);
	assert_int_equal(write(cfd, "\0\0\0\0\0\0\0\0", 8), 8);
	close(cfd);
	assert_int_equal(take_n(&c, &rep, 1, &e), 1);
	assert_int_equal(rep.status, 0);
	assert_int_equal(take_n(&c, &rep, 1, &e), -1);
	assert_int_equal(e.kind, VB_E_UNAVAIL);
	/* EOF or, with our ping unread there, a reset: named either way */
	assert_non_null(strstr(e.msg, "127.0.0.1:"));
	assert_false(vb_client_connected(&c));
	vb_client_release(&c);
	close(lfd);

	cfd = pair(&c, &lfd);
	assert_int_equal(write(cfd, "\x08\0\0\0\0\0\0\0", 8), 8);
	assert_int_equal(take_n(&c, &rep, 1, &e), -1);
	assert_int_equal(e.kind, VB_E_UNAVAIL);
	assert_int_equal(e.status, 8);
	assert_non_null(strstr(e.msg, "shutting down"));
	assert_true(vb_err_transient(&e));
	close(cfd);
	vb_client_release(&c);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_forms),
		cmocka_unit_test(test_addr_errors),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_call_timeout),
		cmocka_unit_test(test_server_error_and_close),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_with_login),
		cmocka_unit_test(test_sock),
		cmocka_unit_test(test_sock_unix),
		cmocka_unit_test(test_answers_before_eof_and_shutdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
