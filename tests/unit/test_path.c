/* lib/base/path.c: data-dir resolution, mkdir -p, atomic writes, kv files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/path.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/vb-path.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_data_dir_order(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_err e;

	(void)state;
	setenv("VIBES_IGGY_DATA_DIR", "/env/dir", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(vb_path_data_dir(&b, "/opt/dir", &e), 0);
	assert_string_equal((char *)b.p, "/opt/dir");
	assert_int_equal(vb_path_data_dir(&b, NULL, &e), 0);
	assert_string_equal((char *)b.p, "/env/dir");
	unsetenv("VIBES_IGGY_DATA_DIR");
	assert_int_equal(vb_path_data_dir(&b, "", &e), 0);
	assert_string_equal((char *)b.p, "/xdg/vibes/iggy");
	/* A relative XDG_DATA_HOME is invalid per the spec: ignored. */
	setenv("XDG_DATA_HOME", "rel", 1);
	assert_int_equal(vb_path_data_dir(&b, NULL, &e), 0);
	assert_string_equal((char *)b.p, "/home/u/.local/share/vibes/iggy");
	unsetenv("XDG_DATA_HOME");
	assert_int_equal(vb_path_data_dir(&b, NULL, &e), 0);
	assert_string_equal((char *)b.p, "/home/u/.local/share/vibes/iggy");
	vb_buf_release(&b);
}

static void test_mkdir_p(void **state)
{
	struct vb_buf p = VB_BUF_INIT;
	struct vb_err e;
	struct stat st;
	int fd;

	(void)state;
	vb_buf_printf(&p, "%s/a/b//c/", tmpdir);
	assert_int_equal(vb_path_mkdir_p((char *)p.p, 0700, &e), 0);
	assert_int_equal(stat((char *)p.p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Existing: fine. */
	assert_int_equal(vb_path_mkdir_p((char *)p.p, 0700, &e), 0);
	/* A file in the way is named in the error. */
	vb_buf_reset(&p);
	vb_buf_printf(&p, "%s/file", tmpdir);
	fd = open((char *)p.p, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	vb_buf_addstr(&p, "/sub");
	assert_int_equal(vb_path_mkdir_p((char *)p.p, 0700, &e), -1);
	assert_non_null(strstr(e.msg, "/file"));
	assert_int_equal(e.kind, VB_E_IO);
	vb_buf_release(&p);
}

/* The durable mkdir -p makes the same directories (t5010: that they last). */
static void test_mkdir_durable(void **state)
{
	struct vb_buf p = VB_BUF_INIT;
	struct vb_err e;
	struct stat st;

	(void)state;
	vb_buf_printf(&p, "%s/d1/d2//d3", tmpdir);
	assert_int_equal(vb_path_mkdir_durable((char *)p.p, 0700, &e), 0);
	assert_int_equal(stat((char *)p.p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(vb_path_mkdir_durable((char *)p.p, 0700, &e), 0);
	vb_buf_reset(&p);
	vb_buf_printf(&p, "%s/d1/d2/d3/f", tmpdir);
	assert_int_equal(vb_path_write_atomic((char *)p.p, "x", 1, 0600, &e),
			 0);
	vb_buf_addstr(&p, "/sub");
	assert_int_equal(vb_path_mkdir_durable((char *)p.p, 0700, &e), -1);
	assert_non_null(strstr(e.msg, "/f"));
	vb_buf_release(&p);
}

static void test_write_atomic(void **state)
{
	struct vb_buf p = VB_BUF_INIT, text = VB_BUF_INIT;
	struct vb_err e;
	struct stat st;
	struct dirent *d;
	DIR *dir;
	int found, n = 0;

	(void)state;
	vb_path_join(&p, tmpdir, "state");
	assert_int_equal(vb_path_write_atomic((char *)p.p, "one\n", 4, 0600,
					      &e),
			 0);
	assert_int_equal(vb_path_write_atomic((char *)p.p, "two\n", 4, 0600,
					      &e),
			 0);
	assert_int_equal(vb_path_read_file((char *)p.p, &text, 100, &found, &e),
			 0);
	assert_int_equal(found, 1);
	assert_string_equal((char *)text.p, "two\n");
	assert_int_equal(stat((char *)p.p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* No temporary file is left behind. */
	dir = opendir(tmpdir);
	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL)
		if (strstr(d->d_name, ".tmp."))
			n++;
	closedir(dir);
	assert_int_equal(n, 0);
	/* Into a missing directory: error naming the temp path. */
	vb_path_join(&p, tmpdir, "missing/state");
	assert_int_equal(vb_path_write_atomic((char *)p.p, "x", 1, 0600, &e),
			 -1);
	assert_non_null(strstr(e.msg, "missing/state.tmp."));
	vb_buf_release(&p);
	vb_buf_release(&text);
}

static void test_read_file(void **state)
{
	struct vb_buf p = VB_BUF_INIT, text = VB_BUF_INIT;
	struct vb_err e;
	int found = 7;

	(void)state;
	vb_path_join(&p, tmpdir, "nope");
	assert_int_equal(vb_path_read_file((char *)p.p, &text, 10, &found, &e),
			 0);
	assert_int_equal(found, 0);
	assert_int_equal(vb_path_read_file((char *)p.p, &text, 10, NULL, &e),
			 -1);
	assert_non_null(strstr(e.msg, "nope"));
	vb_path_join(&p, tmpdir, "big");
	assert_int_equal(vb_path_write_atomic((char *)p.p, "0123456789abc", 13,
					      0600, &e),
			 0);
	assert_int_equal(vb_path_read_file((char *)p.p, &text, 10, &found, &e),
			 -1);
	assert_int_equal(e.kind, VB_E_DATA);
	/* A directory is not a file. */
	assert_int_equal(vb_path_read_file(tmpdir, &text, 10, &found, &e), -1);
	vb_buf_release(&p);
	vb_buf_release(&text);
}

static void test_kv(void **state)
{
	static const char t[] = "# comment\n\nusernamex=no\nusername=alice\r\n"
				"password=a=b c\nusername=second";
	struct vb_buf v = VB_BUF_INIT;

	(void)state;
	assert_int_equal(vb_kv_get(t, strlen(t), "username", &v), 1);
	assert_string_equal((char *)v.p, "alice");
	assert_int_equal(vb_kv_get(t, strlen(t), "password", &v), 1);
	assert_string_equal((char *)v.p, "a=b c");
	assert_int_equal(vb_kv_get(t, strlen(t), "user", &v), 0);
	assert_int_equal(vb_kv_get(t, strlen(t), "comment", &v), 0);
	/* Length-bounded: no match past len. */
	assert_int_equal(vb_kv_get(t, 20, "username", &v), 0);
	vb_buf_release(&v);
}

static void test_credentials(void **state)
{
	struct vb_buf p = VB_BUF_INIT, u = VB_BUF_INIT, pw = VB_BUF_INIT;
	struct vb_err e;

	(void)state;
	vb_path_join(&p, tmpdir, "credentials");
	assert_int_equal(vb_path_read_credentials((char *)p.p, &u, &pw, &e), 0);
	assert_int_equal(vb_path_write_atomic((char *)p.p, "username=iggy\n",
					      14, 0600, &e),
			 0);
	assert_int_equal(vb_path_read_credentials((char *)p.p, &u, &pw, &e), 0);
	assert_int_equal(vb_path_write_atomic((char *)p.p,
					      "username=iggy\npassword=s3cret\n",
					      30, 0600, &e),
			 0);
	assert_int_equal(vb_path_read_credentials((char *)p.p, &u, &pw, &e), 1);
	assert_string_equal((char *)u.p, "iggy");
	assert_string_equal((char *)pw.p, "s3cret");
	vb_buf_release(&p);
	vb_buf_release(&u);
	vb_buf_release(&pw);
}

static void test_path_fmt(void **state)
{
	struct vb_buf b = VB_BUF_INIT;
	const char *p;
	char *big;

	(void)state;
	p = vb_path_fmt(&b, "%s/streams/%u", "/d", 7u);
	assert_ptr_equal(p, (char *)b.p);
	assert_string_equal(p, "/d/streams/7");
	/* Reset first: the next path replaces the last. */
	p = vb_path_fmt(&b, "%s/%020u.%s", "x", 5u, "log");
	assert_string_equal(p, "x/00000000000000000005.log");
	assert_int_equal(b.len, strlen(p));
	/* Nothing is cut at 4096 bytes: the kernel refuses long names. */
	big = malloc(5001);
	assert_non_null(big);
	memset(big, 'a', 5000);
	big[5000] = 0;
	p = vb_path_fmt(&b, "%s/%s", big, "offsets");
	assert_int_equal(strlen(p), 5008);
	assert_string_equal(p + 5000, "/offsets");
	free(big);
	assert_string_equal(vb_path_fmt(&b, "%s", ""), "");
	vb_buf_release(&b);
}

static void test_write_credentials(void **state)
{
	struct vb_buf p = VB_BUF_INIT, u = VB_BUF_INIT, pw = VB_BUF_INIT;
	struct vb_buf text = VB_BUF_INIT;
	struct vb_err e;
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	(void)state;
	vb_path_join(&p, tmpdir, "wcred");
	/* An existing file that others could read is replaced, 0600. */
	fd = open((char *)p.p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod((char *)p.p, 0644), 0);
	assert_int_equal(vb_path_write_credentials((char *)p.p, "alice",
						   "pw=with=equals", &e),
			 0);
	assert_int_equal(stat((char *)p.p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vb_path_read_file((char *)p.p, &text, 4096, NULL, &e),
			 0);
	assert_string_equal((char *)text.p,
			    "username=alice\npassword=pw=with=equals\n");
	assert_int_equal(vb_path_read_credentials((char *)p.p, &u, &pw, &e), 1);
	assert_string_equal((char *)u.p, "alice");
	assert_string_equal((char *)pw.p, "pw=with=equals");
	/* No temporary file is left beside it. */
	d = opendir(tmpdir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		assert_null(strstr(de->d_name, "wcred.tmp"));
	closedir(d);
	/* A directory that is not there: an error naming the file. */
	vb_path_join(&p, tmpdir, "missing/credentials");
	assert_int_equal(vb_path_write_credentials((char *)p.p, "a", "b", &e),
			 -1);
	assert_int_equal(e.kind, VB_E_IO);
	assert_non_null(strstr(e.msg, "missing/credentials"));
	vb_buf_release(&p);
	vb_buf_release(&u);
	vb_buf_release(&pw);
	vb_buf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_dir_order),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_mkdir_durable),
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_write_credentials),
		cmocka_unit_test(test_path_fmt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
