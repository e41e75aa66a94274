/* Data dir, locks, credentials, server.down and status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/parse.h"
#include "base/path.h"
#include "ctl/ctl.h"
#include "ctl/ctl-config.h"
#include "ctl/ctl-int.h"
#include "base/banned.h"

void vb_ctl_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void vb_ctl_file(const struct vb_ctl *c, const char *name, struct vb_buf *out)
{
	vb_path_join(out, (const char *)c->dir.p, name);
}

static enum vb_errkind kind_of(int err)
{
	return err == EACCES || err == EPERM ? VB_E_AUTH : VB_E_IO;
}

static pid_t parse_pid(const char *s)
{
	const char *errstr;
	char tmp[32];
	size_t n = strcspn(s, "\r\n");

	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return (pid_t)strtonum(tmp, 1, INT_MAX, &errstr);
}

int vb_ctl_lock_probe(const char *path, int *exists, pid_t *pid,
		      struct vb_err *e)
{
	char buf[32];
	ssize_t n;
	int fd, locked;

	*exists = 0;
	*pid = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return vb_err_sys(e, kind_of(errno), "cannot open %s", path);
	}
	*exists = 1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = 0;
		*pid = parse_pid(buf);
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		locked = 0;
	} else if (errno == EWOULDBLOCK) {
		locked = 1;
		/* The holder may have written its pid meanwhile. */
		if (*pid == 0) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			if (n > 0) {
				buf[n] = 0;
				*pid = parse_pid(buf);
			}
		}
	} else {
		vb_err_sys(e, VB_E_IO, "cannot probe the lock of %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return locked;
}

int vb_ctl_lock_take(const char *path, int timeout_ms, struct vb_err *e)
{
	int64_t deadline = vb_mono_ms() + timeout_ms;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return vb_err_sys(e, kind_of(errno), "cannot open %s", path);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			vb_err_sys(e, VB_E_IO, "cannot lock %s", path);
			close(fd);
			return -1;
		}
		if (vb_mono_ms() >= deadline) {
			close(fd);
			return vb_err_set(e, VB_E_TIMEOUT,
					  "%s is locked by another process",
					  path);
		}
		vb_ctl_sleep_ms(20);
	}
}

int vb_ctl_lock_write_pid(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);

	if (ftruncate(fd, 0) != 0)
		return -1;
	if (pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

void vb_ctl_log(int fd, const char *fmt, ...)
{
	struct vb_buf b = VB_BUF_INIT;
	char ts[64];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vb_buf_printf(&b, "%s " VB_CTL_SUPERVISOR "[%ld]: ", ts,
		      (long)getpid());
	va_start(ap, fmt);
	vb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	vb_buf_addch(&b, '\n');
	if (write(fd, b.p, b.len) < 0) {
		/* Nothing better to do: the log is where we would say it. */
	}
	vb_buf_release(&b);
}

int vb_ctl_tail(const char *path, unsigned n, struct vb_buf *out,
		struct vb_err *e)
{
	return vb_ctl_tail_end(path, n, out, NULL, e);
}

int vb_ctl_tail_end(const char *path, unsigned n, struct vb_buf *out,
		    off_t *end, struct vb_err *e)
{
	struct stat st;
	off_t start;
	size_t i, lines = 0;
	ssize_t r;
	int fd;

	vb_buf_reset(out);
	if (end)
		*end = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return vb_err_sys(e, kind_of(errno), "cannot open %s", path);
	}
	if (fstat(fd, &st) != 0) {
		vb_err_sys(e, VB_E_IO, "cannot stat %s", path);
		close(fd);
		return -1;
	}
	if (end)
		*end = st.st_size;
	/* Read backwards in growing windows until n lines are in view. */
	for (start = st.st_size;;) {
		off_t win = st.st_size - start;
		off_t want = win ? win * 2 : 8192;

		start = st.st_size > want ? st.st_size - want : 0;
		vb_buf_reset(out);
		vb_buf_reserve(out, (size_t)(st.st_size - start));
		r = pread(fd, out->p, (size_t)(st.st_size - start), start);
		if (r < 0) {
			vb_err_sys(e, VB_E_IO, "cannot read %s", path);
			close(fd);
			return -1;
		}
		out->len = (size_t)r;
		out->p[out->len] = 0;
		lines = 0;
		for (i = 0; i < out->len; i++)
			if (out->p[i] == '\n' && i + 1 < out->len)
				lines++;
		if (lines >= n || start == 0 || r < st.st_size - start)
			break;
	}
	close(fd);
	/* Keep only the last n lines. */
	if (n == 0) {
		vb_buf_reset(out);
		return 0;
	}
	{
		size_t last = out->len, seen = 0;

		if (last > 0 && out->p[last - 1] == '\n')
			last--;
		for (i = last; i > 0; i--) {
			if (out->p[i - 1] == '\n' && ++seen == n)
				break;
		}
		if (i > 0)
			vb_buf_consume(out, i);
		else if (start > 0) {
			/* A window starting mid-line: drop the partial line. */
			char *nl = memchr(out->p, '\n', out->len);

			if (nl)
				vb_buf_consume(out,
					       (size_t)(nl - (char *)out->p) +
						       1);
		}
	}
	return 0;
}

int vb_ctl_tail_from(const char *path, off_t from, unsigned n,
		     struct vb_buf *out, struct vb_err *e)
{
	struct stat st;
	size_t since;

	vb_buf_reset(out);
	if (stat(path, &st) != 0)
		return errno == ENOENT ? 0 :
					 vb_err_sys(e, kind_of(errno),
						    "cannot stat %s", path);
	if (vb_ctl_tail(path, n, out, e))
		return -1;
	since = st.st_size > from ? (size_t)(st.st_size - from) : 0;
	if (out->len > since)
		vb_buf_consume(out, out->len - since);
	return 0;
}

/* ---- setup ---- */

int vb_ctl_data_dir(struct vb_buf *out, const char *opt, int *memory,
		    struct vb_err *e)
{
	const char *v = getenv(VB_ENV_BACKEND), *run;

	if (memory)
		*memory = 0;
	if (v && *v && strcmp(v, "memory") != 0 && strcmp(v, "disk") != 0)
		return vb_err_set(
			e, VB_E_USAGE,
			"%s='%s': expected memory (an ephemeral server, for tests) or disk",
			VB_ENV_BACKEND, v);
	if ((opt && *opt) || v == NULL || strcmp(v, "memory") != 0)
		return vb_path_data_dir(out, opt, e);
	/*
	 * In memory: tmpfs, the user's own, gone at reboot.  The runtime
	 * dir is made for that (and removed at logout); /dev/shm is shared,
	 * so the directory there carries the uid (vb_ctl_prepare_dir
	 * checks that it is ours).
	 */
	vb_buf_reset(out);
	run = getenv("XDG_RUNTIME_DIR");
	if (run && run[0] == '/')
		vb_buf_printf(out, "%s/vibes/memory", run);
	else
		vb_buf_printf(out, "/dev/shm/vibes-%lu/memory",
			      (unsigned long)geteuid());
	if (memory)
		*memory = 1;
	return 0;
}

void vb_ctl_opts_init(struct vb_ctl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->autostart = -1;
	o->protocol = -1;
}

void vb_ctl_init(struct vb_ctl *c)
{
	memset(c, 0, sizeof(*c));
	vb_buf_init(&c->dir);
	vb_buf_init(&c->bin);
	vb_buf_init(&c->super);
	vb_buf_init(&c->log_tail);
	c->start_timeout_ms = VB_CTL_START_TIMEOUT_MS;
	c->stop_timeout_ms = VB_CTL_STOP_TIMEOUT_MS;
}

void vb_ctl_release(struct vb_ctl *c)
{
	vb_buf_release(&c->dir);
	vb_buf_release(&c->bin);
	vb_buf_release(&c->super);
	vb_buf_release(&c->log_tail);
}

static int is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

/* Looks name up in $PATH; returns 1 and fills out when found. */
static int search_path(const char *name, struct vb_buf *out)
{
	const char *path = getenv("PATH"), *p, *end;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		vb_buf_reset(out);
		if (end == p)
			vb_buf_addstr(out, ".");
		else
			vb_buf_add(out, p, (size_t)(end - p));
		vb_buf_printf(out, "/%s", name);
		if (is_exec((char *)out->p))
			return 1;
	}
	return 0;
}

/* Whether dir (up to its last '/') holds the executable name. */
static int exec_next_to(const char *path, const char *name, struct vb_buf *out)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return 0;
	return is_exec(
		vb_path_fmt(out, "%.*s/%s", (int)(slash - path), path, name));
}

/*
 * One of our installed programs: next to the running executable, next to
 * `beside` (the server binary, may be NULL), in the configured libexecdir
 * and bindir, then in PATH.  Not found: the bare name, for messages.
 */
static void find_ours(const char *name, const char *beside, struct vb_buf *out)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		if (exec_next_to(self, name, out))
			return;
	}
	if (beside && exec_next_to(beside, name, out))
		return;
	if (is_exec(vb_path_fmt(out, "%s/%s", VB_CTL_LIBEXECDIR, name)))
		return;
	if (is_exec(vb_path_fmt(out, "%s/%s", VB_CTL_BINDIR, name)))
		return;
	if (search_path(name, out))
		return;
	vb_buf_reset(out);
	vb_buf_addstr(out, name);
}

/*
 * Runs `bin --version` and says whether it is one of ours.  Upstream
 * iggy-server prints its own name; ours prints "vibes-iggyd ...".
 */
static int version_says_vibes(const char *bin)
{
	char buf[512];
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;
	int64_t deadline = vb_mono_ms() + 3000;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return 1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return 1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(devnull, 2);
		execl(bin, bin, "--version", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int64_t left = deadline - vb_mono_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = 0;
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return strstr(buf, "vibes") != NULL || len == 0;
}

/* A certificate or key file, made absolute (the supervisor runs in /). */
static int tls_file(char *out, size_t sz, const char *file, const char *what,
		    struct vb_err *e)
{
	char *abs;

	out[0] = 0;
	if (file == NULL || *file == 0)
		return 0;
	abs = realpath(file, NULL);
	if (abs == NULL)
		return vb_err_sys(e, VB_E_USAGE, "%s %s", what, file);
	if (strlcpy(out, abs, sz) >= sz) {
		free(abs);
		return vb_err_set(e, VB_E_USAGE, "%s %s: path too long", what,
				  file);
	}
	free(abs);
	return 0;
}

int vb_ctl_set_tls(struct vb_ctl *c, const char *cert, const char *key,
		   struct vb_err *e)
{
	if (key && *key && (cert == NULL || *cert == 0))
		return vb_err_set(e, VB_E_USAGE, "--tls-key needs --tls-cert");
	if (tls_file(c->tls_cert, sizeof(c->tls_cert), cert, "--tls-cert", e) ||
	    tls_file(c->tls_key, sizeof(c->tls_key), key, "--tls-key", e))
		return -1;
	return 0;
}

int vb_ctl_setup(struct vb_ctl *c, const char *data_dir, const char *server_bin,
		 struct vb_err *e)
{
	const char *bin = server_bin, *base;

	if (vb_ctl_data_dir(&c->dir, data_dir, &c->memory, e))
		return -1;
	/* TLS for the servers started: configured, else plain */
	if (tls_file(c->tls_cert, sizeof(c->tls_cert),
		     getenv("VIBES_IGGY_TLS_CERT"), "VIBES_IGGY_TLS_CERT", e) ||
	    tls_file(c->tls_key, sizeof(c->tls_key),
		     getenv("VIBES_IGGY_TLS_KEY"), "VIBES_IGGY_TLS_KEY", e))
		return -1;
	if (c->tls_key[0] && !c->tls_cert[0])
		return vb_err_set(e, VB_E_USAGE,
				  "VIBES_IGGY_TLS_KEY needs VIBES_IGGY_TLS_CERT");
	/*
	 * The supervisor and the daemon run from "/": make the data dir
	 * absolute while the caller's working directory still means
	 * something.
	 */
	if (c->dir.p[0] != '/') {
		char cwd[PATH_MAX];
		struct vb_buf abs = VB_BUF_INIT;

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return vb_err_sys(
				e, VB_E_IO,
				"data dir %s: cannot find the current directory",
				(char *)c->dir.p);
		vb_path_join(&abs, cwd, (char *)c->dir.p);
		vb_buf_release(&c->dir);
		c->dir = abs;
	}
	if (bin == NULL || *bin == 0)
		bin = getenv("VIBES_IGGY_SERVER");
	vb_buf_reset(&c->bin);
	if (bin && *bin) {
		if (strchr(bin, '/') || !search_path(bin, &c->bin)) {
			char cwd[PATH_MAX];

			vb_buf_reset(&c->bin);
			/* Relative to here, not to the supervisor's "/". */
			if (strchr(bin, '/') && bin[0] != '/' &&
			    getcwd(cwd, sizeof(cwd)))
				vb_path_join(&c->bin, cwd, bin);
			else
				vb_buf_addstr(&c->bin, bin);
		}
	} else {
		find_ours(VB_CTL_DAEMON, NULL, &c->bin);
	}
	find_ours(VB_CTL_SUPERVISOR, (char *)c->bin.p, &c->super);
	base = strrchr((char *)c->bin.p, '/');
	base = base ? base + 1 : (char *)c->bin.p;
	if (strstr(base, "iggy-server"))
		c->upstream = 1;
	else if (strstr(base, "vibes"))
		c->upstream = 0;
	else
		c->upstream = is_exec((char *)c->bin.p) &&
			      !version_says_vibes((char *)c->bin.p);
	return 0;
}

int vb_ctl_split_addr(const char *addr, char *host, size_t hsz, unsigned *port)
{
	uint16_t p;
	int has_port;

	if (vb_addr_split(addr, host, hsz, &p, &has_port, NULL) < 0 ||
	    !has_port)
		return -1;
	*port = p;
	return 0;
}

int vb_ctl_set_addr(struct vb_ctl *c, const char *addr, int port,
		    struct vb_err *e)
{
	char host[256];
	uint16_t ap = 0;
	unsigned p = 0;
	int has_port;

	if (addr == NULL && port < 0)
		return 0;
	if (port > 65535)
		return vb_err_set(e, VB_E_USAGE, "port %d out of range", port);
	if (addr) {
		if (vb_addr_split(addr, host, sizeof(host), &ap, &has_port, e) <
		    0)
			return -1;
		if (!has_port || host[0] == 0)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': expected HOST:PORT",
					  addr);
		p = ap;
	} else {
		strlcpy(host, "127.0.0.1", sizeof(host));
	}
	if (port >= 0)
		p = (unsigned)port;
	if (strchr(host, ':'))
		snprintf(c->addr, sizeof(c->addr), "[%s]:%u", host, p);
	else
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host, p);
	c->addr_explicit = 1;
	return 0;
}

int vb_ctl_prepare_dir(struct vb_ctl *c, struct vb_err *e)
{
	const char *dir = (const char *)c->dir.p;
	struct statvfs vfs;
	struct stat st;

	if (vb_path_mkdir_durable(dir, 0700, e)) {
		vb_err_prefix(e, "data dir");
		return -1;
	}
	if (c->memory) {
		/*
		 * Its parent is in a directory others can write to (/dev/shm):
		 * whoever owns it could swap the data dir under us.
		 */
		struct vb_buf parent = VB_BUF_INIT;
		const char *slash = strrchr(dir, '/');
		int bad;

		vb_buf_add(&parent, dir, (size_t)(slash - dir));
		bad = stat((char *)parent.p, &st) != 0 ||
		      st.st_uid != geteuid() || (st.st_mode & 022);
		if (bad)
			vb_err_set(e, VB_E_AUTH,
				   "memory data dir %s: its parent is not yours alone (owner uid %lu, mode %04o)",
				   dir, (unsigned long)st.st_uid,
				   (unsigned)(st.st_mode & 0777));
		vb_buf_release(&parent);
		if (bad)
			return -1;
	}
	if (stat(dir, &st) != 0)
		return vb_err_sys(e, kind_of(errno), "data dir %s", dir);
	if (st.st_uid != geteuid()) {
		struct passwd *pw = getpwuid(st.st_uid);

		return vb_err_set(
			e, VB_E_AUTH,
			"data dir %s is owned by %s (uid %lu), not by you (uid %lu)",
			dir, pw ? pw->pw_name : "another user",
			(unsigned long)st.st_uid, (unsigned long)geteuid());
	}
	if (access(dir, R_OK | W_OK | X_OK) != 0) {
		if (errno == EROFS)
			return vb_err_set(
				e, VB_E_IO,
				"data dir %s is not writable: read-only file system",
				dir);
		return vb_err_sys(e, kind_of(errno),
				  "data dir %s is not writable", dir);
	}
	if (statvfs(dir, &vfs) == 0) {
		if (vfs.f_flag & ST_RDONLY)
			return vb_err_set(
				e, VB_E_IO,
				"data dir %s is not writable: read-only file system",
				dir);
		if (vfs.f_bavail == 0 && vfs.f_blocks > 0)
			return vb_err_set(e, VB_E_IO,
					  "data dir %s: no space left on device",
					  dir);
	}
	return 0;
}

/* ---- credentials, address ---- */

int vb_ctl_env_credentials(const struct vb_ctl *c, const char **user,
			   const char **pass, struct vb_err *e)
{
	const char *u = getenv(VB_ENV_USERNAME);
	const char *p = getenv(VB_ENV_PASSWORD);

	*user = *pass = NULL;
	/* The memory backend's server is the data dir's: its file is the truth. */
	if (c->memory)
		return 0;
	if (u && *u == 0)
		u = NULL;
	if (u && p) {
		*user = u;
		*pass = p;
		return 0;
	}
	if (p)
		return vb_err_set(
			e, VB_E_USAGE,
			"%s is set but %s is not: set both, or unset %s to log in with %s/credentials",
			VB_ENV_PASSWORD, VB_ENV_USERNAME, VB_ENV_PASSWORD,
			(char *)c->dir.p);
	if (u)
		return vb_err_set(
			e, VB_E_USAGE,
			"%s is set but %s is not: set both, or unset %s to log in with %s/credentials",
			VB_ENV_USERNAME, VB_ENV_PASSWORD, VB_ENV_USERNAME,
			(char *)c->dir.p);
	return 0;
}

int vb_ctl_credentials(struct vb_ctl *c, struct vb_buf *user,
		       struct vb_buf *pass, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	const char *u, *p;
	int rc;

	vb_buf_reset(user);
	vb_buf_reset(pass);
	if (vb_ctl_env_credentials(c, &u, &p, e))
		return -1;
	if (u) {
		vb_buf_addstr(user, u);
		vb_buf_addstr(pass, p);
		return 0;
	}
	vb_ctl_file(c, "credentials", &path);
	rc = vb_path_read_credentials((char *)path.p, user, pass, e);
	vb_buf_release(&path);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		vb_buf_reset(user);
		vb_buf_reset(pass);
		vb_buf_addstr(user, "iggy");
		vb_buf_addstr(pass, "iggy");
	}
	return 0;
}

int vb_ctl_read_line(const struct vb_ctl *c, const char *name, char *out,
		     size_t sz)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;
	int found = 0;
	size_t n;

	out[0] = 0;
	vb_ctl_file(c, name, &path);
	if (vb_path_read_file((char *)path.p, &text, 8192, &found, NULL) == 0 &&
	    found && text.p) {
		n = strcspn((char *)text.p, "\r\n");
		if (n < sz) {
			memcpy(out, text.p, n);
			out[n] = 0;
		}
	}
	vb_buf_release(&path);
	vb_buf_release(&text);
	return out[0] != 0;
}

int vb_ctl_read_tls(const struct vb_ctl *c, char *cert, size_t sz)
{
	return vb_ctl_read_line(c, "server.tls", cert, sz);
}

void vb_ctl_local_tls(const struct vb_ctl *c, struct vb_client *cl)
{
	char cert[sizeof(cl->tls_pin)];

	if (!vb_ctl_read_tls(c, cert, sizeof(cert)))
		return;
	cl->tls = 1;
	strlcpy(cl->tls_pin, cert, sizeof(cl->tls_pin));
}

void vb_ctl_local_server(const struct vb_ctl *c, struct vb_client *cl)
{
	struct vb_buf path = VB_BUF_INIT;

	vb_ctl_local_tls(c, cl);
	if (!cl->tls) {
		vb_ctl_file(c, "server.sock", &path);
		/* too long for a socket: the server has none either */
		if (strlcpy(cl->unix_path, (char *)path.p,
			    sizeof(cl->unix_path)) >= sizeof(cl->unix_path))
			cl->unix_path[0] = 0;
	}
	vb_buf_release(&path);
}

int vb_ctl_read_addr(const struct vb_ctl *c, char *addr, size_t sz)
{
	return vb_ctl_read_line(c, "server.addr", addr, sz);
}

int vb_ctl_try_login(struct vb_ctl *c, const char *addr, int timeout_ms,
		     struct vb_client *out, struct vb_err *e)
{
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT,
		      path = VB_BUF_INIT;
	struct vb_client tmp, *cl = out ? out : &tmp;
	int rc = -1, have;

	vb_ctl_file(c, "credentials", &path);
	/* The daemon's credentials file is the truth for our own server. */
	have = vb_path_read_credentials((char *)path.p, &user, &pass, e);
	if (have < 0)
		goto out;
	if (have == 0 && vb_ctl_credentials(c, &user, &pass, e))
		goto out;
	if (out == NULL)
		vb_client_init(&tmp);
	cl->timeout_ms = timeout_ms > 0 ? timeout_ms : VB_CLIENT_TIMEOUT_MS;
	if (vb_client_set_addr(cl, addr, e))
		goto rel;
	vb_ctl_local_tls(c, cl);
	if (vb_client_connect(cl, e) ||
	    vb_client_login(cl, (char *)user.p, (char *)pass.p, NULL, e))
		goto rel;
	rc = 0;
rel:
	if (out == NULL)
		vb_client_release(&tmp);
out:
	if (pass.p)
		explicit_bzero(pass.p, pass.len);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	vb_buf_release(&path);
	return rc;
}

int vb_ctl_make_credentials(struct vb_ctl *c, struct vb_buf *user,
			    struct vb_buf *pass, struct vb_err *e)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	struct vb_buf path = VB_BUF_INIT;
	const char *eu = getenv("IGGY_ROOT_USERNAME");
	const char *ep = getenv("IGGY_ROOT_PASSWORD");
	int rc, i;

	vb_ctl_file(c, "credentials", &path);
	if (eu && *eu && ep && *ep) {
		vb_buf_reset(user);
		vb_buf_reset(pass);
		vb_buf_addstr(user, eu);
		vb_buf_addstr(pass, ep);
	} else {
		rc = vb_path_read_credentials((char *)path.p, user, pass, e);
		if (rc != 0) {
			vb_buf_release(&path);
			return rc < 0 ? -1 : 0;
		}
		vb_buf_reset(user);
		vb_buf_reset(pass);
		vb_buf_addstr(user, "iggy");
		for (i = 0; i < 24; i++)
			vb_buf_addch(pass, alnum[arc4random_uniform(
						   sizeof(alnum) - 1)]);
	}
	rc = vb_path_write_credentials((char *)path.p, (char *)user->p,
				       (char *)pass->p, e);
	vb_buf_release(&path);
	return rc;
}

/* ---- status ---- */

int vb_ctl_probe(struct vb_ctl *c, struct vb_ctl_status *st, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT, v = VB_BUF_INIT;
	struct stat sb;
	struct timespec pid_mtim = { 0, 0 };
	int exists, locked, found, older, pid_exists;
	pid_t pid;

	memset(st, 0, sizeof(*st));
	vb_ctl_file(c, "server.pid", &path);
	locked = vb_ctl_lock_probe((char *)path.p, &exists, &pid, e);
	if (locked < 0)
		goto fail;
	st->pid = pid;
	if (locked)
		st->state = VB_CTL_RUNNING;
	else if (exists && pid > 0)
		st->state = VB_CTL_STALE;
	else
		st->state = VB_CTL_STOPPED;
	pid_exists = exists && stat((char *)path.p, &sb) == 0;
	if (pid_exists) {
		st->started = sb.st_mtime;
		pid_mtim = sb.st_mtim;
	}

	vb_ctl_file(c, "supervise.lock", &path);
	locked = vb_ctl_lock_probe((char *)path.p, &exists, &pid, NULL);
	if (locked > 0)
		st->super_pid = pid ? pid : -1;
	vb_ctl_file(c, "supervise.state", &path);
	found = 0;
	if (vb_path_read_file((char *)path.p, &text, 4096, &found, NULL) != 0)
		found = 0;
	/* A server started after it ended is a newer story than its own. */
	older = found && stat((char *)path.p, &sb) == 0 && st->started &&
		sb.st_mtime < st->started;
	if (found && st->super_pid) {
		const char *errstr;

		if (vb_kv_get((char *)text.p, text.len, "restarts", &v))
			st->restarts = (unsigned)strtonum((char *)v.p, 0,
							  INT_MAX, &errstr);
		/* Written once it was spawned; "ready=1" once it was ready. */
		st->starting = vb_kv_get((char *)text.p, text.len, "ready",
					 &v) &&
			       strcmp((char *)v.p, "0") == 0;
	}
	/* The last supervisor's word on why it ended, while nothing runs. */
	if (found && !older && st->super_pid == 0 &&
	    st->state != VB_CTL_RUNNING &&
	    vb_kv_get((char *)text.p, text.len, "gave_up", &v))
		strlcpy(st->gave_up, (char *)v.p, sizeof(st->gave_up));
	if (vb_ctl_down_read(c, st->down, sizeof(st->down))) {
		vb_ctl_file(c, "server.down", &path);
		st->down_last = !pid_exists || stat((char *)path.p, &sb) != 0 ||
				sb.st_mtim.tv_sec > pid_mtim.tv_sec ||
				(sb.st_mtim.tv_sec == pid_mtim.tv_sec &&
				 sb.st_mtim.tv_nsec >= pid_mtim.tv_nsec);
	}
	vb_ctl_read_addr(c, st->addr, sizeof(st->addr));
	vb_ctl_read_http_addr(c, st->http_addr, sizeof(st->http_addr));
	vb_buf_release(&path);
	vb_buf_release(&text);
	vb_buf_release(&v);
	return 0;
fail:
	vb_buf_release(&path);
	return -1;
}

/* The state letter of /proc/PID/stat ('R', 'S', 'T'...), 0 if unknown. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold anything, even ") ". */
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] ? rp[2] : 0;
}

/* Bytes allocated under the directory open as dfd (closed here). */
static uint64_t disk_used(int dfd, int depth)
{
	uint64_t sum = 0;
	struct dirent *d;
	DIR *dir = fdopendir(dfd);

	if (dir == NULL) {
		close(dfd);
		return 0;
	}
	while ((d = readdir(dir)) != NULL) {
		struct stat st;

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
		    0)
			continue;
		sum += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode) && depth < 32) {
			int sub = openat(dirfd(dir), d->d_name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC |
						 O_NOFOLLOW);

			if (sub >= 0)
				sum += disk_used(sub, depth + 1);
		}
	}
	closedir(dir);
	return sum;
}

int vb_ctl_status(struct vb_ctl *c, struct vb_ctl_status *st, struct vb_err *e)
{
	struct vb_client cl;
	struct vb_err le;
	struct stat sb;
	int dfd, rc;

	if (vb_ctl_probe(c, st, e))
		return -1;
	dfd = open((char *)c->dir.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fstat(dfd, &sb) == 0)
			st->disk_used = (uint64_t)sb.st_blocks * 512;
		st->disk_used += disk_used(dfd, 0);
	}
	if (st->state != VB_CTL_RUNNING)
		return 0;
	if (st->addr[0] == 0) {
		strlcpy(st->stats_err, "no server.addr yet",
			sizeof(st->stats_err));
		return 0;
	}
	vb_client_init(&cl);
	vb_err_clear(&le);
	/* Health: the lock says it lives, a PING that it works. */
	cl.timeout_ms = VB_CTL_PING_TIMEOUT_MS;
	rc = vb_client_set_addr(&cl, st->addr, &le);
	if (rc == 0) {
		/* a TLS port: the certificate it names in server.tls */
		vb_ctl_local_tls(c, &cl);
		rc = vb_client_connect(&cl, &le);
	}
	if (rc || vb_client_ping(&cl, &le)) {
		if (le.kind == VB_E_TIMEOUT)
			snprintf(le.msg, sizeof(le.msg),
				 "no answer to a ping within %d ms",
				 VB_CTL_PING_TIMEOUT_MS);
		strlcpy(st->ping_err, le.msg, sizeof(st->ping_err));
		strlcpy(st->stats_err, le.msg, sizeof(st->stats_err));
		st->proc_state = proc_state(st->pid);
		vb_client_release(&cl);
		return 0;
	}
	st->answering = 1;
	vb_client_close(&cl);
	if (vb_ctl_try_login(c, st->addr, 3000, &cl, &le) == 0 &&
	    vb_client_get_stats(&cl, &st->stats, &le) == 0)
		st->have_stats = 1;
	else
		strlcpy(st->stats_err, le.msg, sizeof(st->stats_err));
	vb_client_release(&cl);
	return 0;
}

/* ---- server.down ---- */

/*
 * The vibes-iggyctl command line for c's data dir: "-d DIR" only when
 * vibes-iggyctl would not find that dir by itself.
 */
void vb_ctl_iggyctl_cmd(const struct vb_ctl *c, const char *cmd, char *out,
			size_t sz)
{
	struct vb_buf def = VB_BUF_INIT;
	const char *dir = (char *)c->dir.p;

	if (vb_ctl_data_dir(&def, NULL, NULL, NULL) == 0 && def.p &&
	    strcmp((char *)def.p, dir) == 0)
		snprintf(out, sz, "vibes-iggyctl %s", cmd);
	else if (dir[strspn(dir,
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+:,@%")])
		snprintf(out, sz, "vibes-iggyctl -d \"%s\" %s", dir, cmd);
	else
		snprintf(out, sz, "vibes-iggyctl -d %s %s", dir, cmd);
	vb_buf_release(&def);
}

int vb_ctl_down_write(struct vb_ctl *c, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;
	char ts[64];
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vb_ctl_file(c, "server.down", &path);
	vb_buf_printf(&text, "stopped by vibes-iggyctl stop (pid %ld) at %s\n",
		      (long)getpid(), ts);
	rc = vb_path_write_atomic((char *)path.p, text.p, text.len, 0600, e);
	vb_buf_release(&path);
	vb_buf_release(&text);
	return rc;
}

int vb_ctl_down_remove(struct vb_ctl *c, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int rc = 0;

	vb_ctl_file(c, "server.down", &path);
	if (unlink((char *)path.p) != 0 && errno != ENOENT)
		rc = vb_err_sys(e, kind_of(errno), "cannot remove %s",
				(char *)path.p);
	vb_buf_release(&path);
	return rc;
}

int vb_ctl_down_read(const struct vb_ctl *c, char *why, size_t sz)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;
	int found = 0;

	why[0] = 0;
	vb_ctl_file(c, "server.down", &path);
	if (vb_path_read_file((char *)path.p, &text, 4096, &found, NULL) != 0)
		/* There, but unreadable: it still says "stopped". */
		found = access((char *)path.p, F_OK) == 0;
	else if (found && text.len)
		strlcpy(why, (char *)text.p, sz);
	if (found && why[0] == 0)
		strlcpy(why, "stopped by vibes-iggyctl stop", sz);
	why[strcspn(why, "\n")] = 0;
	vb_buf_release(&path);
	vb_buf_release(&text);
	return found;
}
