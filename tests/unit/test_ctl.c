/*
 * lib/ctl: lock probing, log tails, addresses, credentials, port holders,
 * the memory backend's data dir, profile names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vb-ctl.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	unsetenv("VIBES_IGGY_USERNAME");
	unsetenv("VIBES_IGGY_PASSWORD");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void new_ctl(struct vb_ctl *c, const char *sub)
{
	struct vb_buf d = VB_BUF_INIT;
	struct vb_err e;

	vb_buf_printf(&d, "%s/%s", tmpdir, sub);
	vb_ctl_init(c);
	assert_int_equal(vb_ctl_setup(c, (char *)d.p, "/bin/true-vibes", &e),
			 0);
	vb_buf_release(&d);
}

/* flock conflicts between two open file descriptions of one process too. */
static void test_lock_probe(void **state)
{
	struct vb_ctl c;
	struct vb_ctl_status st;
	struct vb_buf p = VB_BUF_INIT;
	struct vb_err e;
	int fd, exists;
	pid_t pid;

	(void)state;
	new_ctl(&c, "lock");
	assert_int_equal(vb_ctl_prepare_dir(&c, &e), 0);
	vb_ctl_file(&c, "server.pid", &p);
	assert_int_equal(vb_ctl_lock_probe((char *)p.p, &exists, &pid, &e), 0);
	assert_int_equal(exists, 0);
	assert_int_equal(vb_ctl_probe(&c, &st, &e), 0);
	assert_int_equal(st.state, VB_CTL_STOPPED);

	fd = vb_ctl_lock_take((char *)p.p, 0, &e);
	assert_true(fd >= 0);
	assert_int_equal(vb_ctl_lock_write_pid(fd, 4242), 0);
	assert_int_equal(vb_ctl_lock_probe((char *)p.p, &exists, &pid, &e), 1);
	assert_int_equal(pid, 4242);
	assert_int_equal(vb_ctl_probe(&c, &st, &e), 0);
	assert_int_equal(st.state, VB_CTL_RUNNING);
	assert_int_equal(st.pid, 4242);
	/* A second taker times out and names the file. */
	assert_int_equal(vb_ctl_lock_take((char *)p.p, 60, &e), -1);
	assert_int_equal(e.kind, VB_E_TIMEOUT);
	assert_non_null(strstr(e.msg, "server.pid"));
	/* Released (as by a SIGKILL): the file stays, the state is stale. */
	close(fd);
	assert_int_equal(vb_ctl_probe(&c, &st, &e), 0);
	assert_int_equal(st.state, VB_CTL_STALE);
	assert_int_equal(st.pid, 4242);
	vb_buf_release(&p);
	vb_ctl_release(&c);
}

static void test_tail(void **state)
{
	struct vb_buf p = VB_BUF_INIT, out = VB_BUF_INIT, big = VB_BUF_INIT;
	struct vb_err e;
	int i;

	(void)state;
	vb_path_join(&p, tmpdir, "log");
	assert_int_equal(vb_ctl_tail((char *)p.p, 3, &out, &e), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(vb_path_write_atomic((char *)p.p, "a\nb\nc\nd\n", 8,
					      0600, &e),
			 0);
	assert_int_equal(vb_ctl_tail((char *)p.p, 2, &out, &e), 0);
	assert_string_equal((char *)out.p, "c\nd\n");
	assert_int_equal(vb_ctl_tail((char *)p.p, 10, &out, &e), 0);
	assert_string_equal((char *)out.p, "a\nb\nc\nd\n");
	assert_int_equal(vb_ctl_tail((char *)p.p, 0, &out, &e), 0);
	assert_int_equal(out.len, 0);
	/* Without a final newline, the partial line counts as a line. */
	assert_int_equal(vb_path_write_atomic((char *)p.p, "a\nb\nc", 5, 0600,
					      &e),
			 0);
	assert_int_equal(vb_ctl_tail((char *)p.p, 2, &out, &e), 0);
	assert_string_equal((char *)out.p, "b\nc");
	/* Larger than the first read window. */
	for (i = 0; i < 5000; i++)
		vb_buf_printf(&big, "line %d\n", i);
	assert_int_equal(vb_path_write_atomic((char *)p.p, big.p, big.len, 0600,
					      &e),
			 0);
	assert_int_equal(vb_ctl_tail((char *)p.p, 3, &out, &e), 0);
	assert_string_equal((char *)out.p, "line 4997\nline 4998\nline 4999\n");
	assert_int_equal(vb_ctl_tail((char *)p.p, 2000, &out, &e), 0);
	assert_int_equal(strncmp((char *)out.p, "line 3000\n", 10), 0);
	vb_buf_release(&p);
	vb_buf_release(&out);
	vb_buf_release(&big);
}

static void test_addr(void **state)
{
	struct vb_ctl c;
	struct vb_err e;
	char host[64];
	unsigned port;

	(void)state;
	assert_int_equal(vb_ctl_split_addr("127.0.0.1:8090", host, sizeof(host),
					   &port),
			 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8090);
	assert_int_equal(vb_ctl_split_addr("[::1]:0", host, sizeof(host),
					   &port),
			 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(vb_ctl_split_addr("nohost", host, sizeof(host), &port),
			 -1);
	assert_int_equal(vb_ctl_split_addr("h:70000", host, sizeof(host),
					   &port),
			 -1);

	new_ctl(&c, "addr");
	assert_int_equal(vb_ctl_set_addr(&c, NULL, -1, &e), 0);
	assert_int_equal(c.addr_explicit, 0);
	assert_int_equal(vb_ctl_set_addr(&c, NULL, 0, &e), 0);
	assert_string_equal(c.addr, "127.0.0.1:0");
	assert_int_equal(c.addr_explicit, 1);
	assert_int_equal(vb_ctl_set_addr(&c, "localhost:9", 12, &e), 0);
	assert_string_equal(c.addr, "localhost:12");
	assert_int_equal(vb_ctl_set_addr(&c, ":9", -1, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	vb_ctl_release(&c);
}

static void test_credentials_order(void **state)
{
	struct vb_ctl c;
	struct vb_buf u = VB_BUF_INIT, p = VB_BUF_INIT, f = VB_BUF_INIT;
	struct vb_err e;

	(void)state;
	new_ctl(&c, "creds");
	assert_int_equal(vb_ctl_prepare_dir(&c, &e), 0);
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), 0);
	assert_string_equal((char *)u.p, "iggy");
	assert_string_equal((char *)p.p, "iggy");
	vb_ctl_file(&c, "credentials", &f);
	assert_int_equal(vb_path_write_atomic((char *)f.p,
					      "username=root\npassword=pw\n",
					      26, 0600, &e),
			 0);
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), 0);
	assert_string_equal((char *)u.p, "root");
	assert_string_equal((char *)p.p, "pw");
	setenv("VIBES_IGGY_USERNAME", "envu", 1);
	setenv("VIBES_IGGY_PASSWORD", "envp", 1);
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), 0);
	assert_string_equal((char *)u.p, "envu");
	assert_string_equal((char *)p.p, "envp");
	/* One half alone is never silently dropped. */
	unsetenv("VIBES_IGGY_USERNAME");
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	assert_non_null(strstr(
		e.msg,
		"VIBES_IGGY_PASSWORD is set but VIBES_IGGY_USERNAME is not"));
	setenv("VIBES_IGGY_USERNAME", "envu", 1);
	unsetenv("VIBES_IGGY_PASSWORD");
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	unsetenv("VIBES_IGGY_USERNAME");
	vb_buf_release(&u);
	vb_buf_release(&p);
	vb_buf_release(&f);
	vb_ctl_release(&c);
}

/* For upstream servers vibes writes the credentials file itself. */
static void test_make_credentials(void **state)
{
	struct vb_ctl c;
	struct vb_buf u = VB_BUF_INIT, p = VB_BUF_INIT, u2 = VB_BUF_INIT,
		      p2 = VB_BUF_INIT, f = VB_BUF_INIT;
	struct vb_err e;
	struct stat st;
	size_t i;

	(void)state;
	unsetenv("IGGY_ROOT_USERNAME");
	unsetenv("IGGY_ROOT_PASSWORD");
	new_ctl(&c, "mk");
	assert_int_equal(vb_ctl_prepare_dir(&c, &e), 0);
	assert_int_equal(vb_ctl_make_credentials(&c, &u, &p, &e), 0);
	assert_string_equal((char *)u.p, "iggy");
	assert_int_equal(p.len, 24);
	for (i = 0; i < p.len; i++)
		assert_true(
			strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
			       p.p[i]) != NULL);
	vb_ctl_file(&c, "credentials", &f);
	assert_int_equal(stat((char *)f.p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Second call keeps the same password. */
	assert_int_equal(vb_ctl_make_credentials(&c, &u2, &p2, &e), 0);
	assert_string_equal((char *)p2.p, (char *)p.p);
	/* IGGY_ROOT_* win and are recorded. */
	setenv("IGGY_ROOT_USERNAME", "boss", 1);
	setenv("IGGY_ROOT_PASSWORD", "hunter2", 1);
	assert_int_equal(vb_ctl_make_credentials(&c, &u2, &p2, &e), 0);
	unsetenv("IGGY_ROOT_USERNAME");
	unsetenv("IGGY_ROOT_PASSWORD");
	assert_int_equal(vb_ctl_credentials(&c, &u, &p, &e), 0);
	assert_string_equal((char *)u.p, "boss");
	assert_string_equal((char *)p.p, "hunter2");
	vb_buf_release(&u);
	vb_buf_release(&p);
	vb_buf_release(&u2);
	vb_buf_release(&p2);
	vb_buf_release(&f);
	vb_ctl_release(&c);
}

static void test_port_holder(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char holder[128], want[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(vb_ctl_port_free("127.0.0.1", ntohs(sa.sin_port)), 0);
	vb_ctl_port_holder(ntohs(sa.sin_port), holder, sizeof(holder));
	snprintf(want, sizeof(want), "pid %ld (", (long)getpid());
	assert_int_equal(strncmp(holder, want, strlen(want)), 0);
	close(fd);
	assert_int_equal(vb_ctl_port_free("127.0.0.1", ntohs(sa.sin_port)), 1);
	vb_ctl_port_holder(ntohs(sa.sin_port), holder, sizeof(holder));
	assert_string_equal(holder, "");
}

static void test_not_owned(void **state)
{
	struct vb_ctl c;
	struct vb_buf d = VB_BUF_INIT;
	struct vb_err e;

	(void)state;
	if (geteuid() != 0)
		skip();
	new_ctl(&c, "foreign");
	assert_int_equal(vb_ctl_prepare_dir(&c, &e), 0);
	assert_int_equal(chown((char *)c.dir.p, 65534, 65534), 0);
	assert_int_equal(vb_ctl_prepare_dir(&c, &e), -1);
	assert_int_equal(e.kind, VB_E_AUTH);
	assert_non_null(strstr(e.msg, (char *)c.dir.p));
	assert_non_null(strstr(e.msg, "uid 65534"));
	vb_buf_release(&d);
	vb_ctl_release(&c);
}

/* VIBES_EVENT_BACKEND: memory in the runtime dir, else /dev/shm. */
static void test_data_dir(void **state)
{
	struct vb_buf d = VB_BUF_INIT, want = VB_BUF_INIT;
	struct vb_err e;
	int mem = -1;

	(void)state;
	setenv("VIBES_IGGY_DATA_DIR", "/data", 1);
	unsetenv(VB_ENV_BACKEND);
	assert_int_equal(vb_ctl_data_dir(&d, NULL, &mem, &e), 0);
	assert_string_equal((char *)d.p, "/data");
	assert_int_equal(mem, 0);
	setenv(VB_ENV_BACKEND, "memory", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	assert_int_equal(vb_ctl_data_dir(&d, NULL, &mem, &e), 0);
	assert_string_equal((char *)d.p, "/run/user/7/vibes/memory");
	assert_int_equal(mem, 1);
	/* The spec: a relative runtime dir is no runtime dir. */
	setenv("XDG_RUNTIME_DIR", "run", 1);
	assert_int_equal(vb_ctl_data_dir(&d, NULL, &mem, &e), 0);
	vb_buf_printf(&want, "/dev/shm/vibes-%lu/memory",
		      (unsigned long)geteuid());
	assert_string_equal((char *)d.p, (char *)want.p);
	/* The command line still wins. */
	assert_int_equal(vb_ctl_data_dir(&d, "/opt", &mem, &e), 0);
	assert_string_equal((char *)d.p, "/opt");
	assert_int_equal(mem, 0);
	setenv(VB_ENV_BACKEND, "disk", 1);
	assert_int_equal(vb_ctl_data_dir(&d, NULL, &mem, &e), 0);
	assert_string_equal((char *)d.p, "/data");
	setenv(VB_ENV_BACKEND, "ram", 1);
	assert_int_equal(vb_ctl_data_dir(&d, NULL, &mem, &e), -1);
	assert_int_equal(e.kind, VB_E_USAGE);
	unsetenv(VB_ENV_BACKEND);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("VIBES_IGGY_DATA_DIR");
	vb_buf_release(&d);
	vb_buf_release(&want);
}

/* --server NAME is a profile; anything with ':' or '/' an address. */
static void test_profile_names(void **state)
{
	(void)state;
	assert_true(vb_ctl_is_profile_name("prod"));
	assert_true(vb_ctl_is_profile_name("eu-west.2"));
	assert_false(vb_ctl_is_profile_name("127.0.0.1:8090"));
	assert_false(vb_ctl_is_profile_name("iggy://h:1"));
	assert_false(vb_ctl_is_profile_name(":8090"));
	assert_false(vb_ctl_is_profile_name(""));
	assert_false(vb_ctl_is_profile_name(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_probe),
		cmocka_unit_test(test_tail),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_credentials_order),
		cmocka_unit_test(test_make_credentials),
		cmocka_unit_test(test_port_holder),
		cmocka_unit_test(test_not_owned),
		cmocka_unit_test(test_data_dir),
		cmocka_unit_test(test_profile_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
