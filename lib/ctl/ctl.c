/* Data dir, locks, credentials, status and the connect contract. */
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
	vb_buf_printf(&b, "%s vibes-iggyctl[%ld]: ", ts, (long)getpid());
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
				vb_buf_consume(out, (size_t)(nl - (char *)out->p) + 1);
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
		return errno == ENOENT ? 0 : vb_err_sys(e, kind_of(errno),
							 "cannot stat %s",
							 path);
	if (vb_ctl_tail(path, n, out, e))
		return -1;
	since = st.st_size > from ? (size_t)(st.st_size - from) : 0;
	if (out->len > since)
		vb_buf_consume(out, out->len - since);
	return 0;
}

/* ---- setup ---- */

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
	vb_buf_init(&c->log_tail);
	c->start_timeout_ms = VB_CTL_START_TIMEOUT_MS;
	c->stop_timeout_ms = VB_CTL_STOP_TIMEOUT_MS;
}

void vb_ctl_release(struct vb_ctl *c)
{
	vb_buf_release(&c->dir);
	vb_buf_release(&c->bin);
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

static void find_bundled(struct vb_buf *out)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			if (is_exec(vb_path_fmt(out, "%s/%s", self,
						VB_CTL_DAEMON)))
				return;
		}
	}
	if (is_exec(vb_path_fmt(out, "%s/%s", VB_CTL_LIBEXECDIR,
				VB_CTL_DAEMON)))
		return;
	if (is_exec(vb_path_fmt(out, "%s/%s", VB_CTL_BINDIR, VB_CTL_DAEMON)))
		return;
	if (search_path(VB_CTL_DAEMON, out))
		return;
	/* Not found: keep the bare name so that errors can mention it. */
	vb_buf_reset(out);
	vb_buf_addstr(out, VB_CTL_DAEMON);
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

int vb_ctl_setup(struct vb_ctl *c, const char *data_dir,
		 const char *server_bin, struct vb_err *e)
{
	const char *bin = server_bin, *base;

	if (vb_path_data_dir(&c->dir, data_dir, e))
		return -1;
	/*
	 * The supervisor and the daemon run from "/": make the data dir
	 * absolute while the caller's working directory still means
	 * something.
	 */
	if (c->dir.p[0] != '/') {
		char cwd[PATH_MAX];
		struct vb_buf abs = VB_BUF_INIT;

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return vb_err_sys(e, VB_E_IO,
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
			vb_buf_reset(&c->bin);
			vb_buf_addstr(&c->bin, bin);
		}
	} else {
		find_bundled(&c->bin);
	}
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

int vb_ctl_split_addr(const char *addr, char *host, size_t hsz,
		      unsigned *port)
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
		if (vb_addr_split(addr, host, sizeof(host), &ap, &has_port,
				  e) < 0)
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

	if (vb_path_mkdir_p(dir, 0700, e)) {
		vb_err_prefix(e, "data dir");
		return -1;
	}
	if (stat(dir, &st) != 0)
		return vb_err_sys(e, kind_of(errno), "data dir %s", dir);
	if (st.st_uid != geteuid()) {
		struct passwd *pw = getpwuid(st.st_uid);

		return vb_err_set(e, VB_E_AUTH,
				  "data dir %s is owned by %s (uid %lu), not by you (uid %lu)",
				  dir, pw ? pw->pw_name : "another user",
				  (unsigned long)st.st_uid,
				  (unsigned long)geteuid());
	}
	if (access(dir, R_OK | W_OK | X_OK) != 0) {
		if (errno == EROFS)
			return vb_err_set(e, VB_E_IO,
					  "data dir %s is not writable: read-only file system",
					  dir);
		return vb_err_sys(e, kind_of(errno),
				  "data dir %s is not writable", dir);
	}
	if (statvfs(dir, &vfs) == 0) {
		if (vfs.f_flag & ST_RDONLY)
			return vb_err_set(e, VB_E_IO,
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

/*
 * paired: the environment's user and password are used together, so one
 * without the other is an error (it is not when the caller names the user
 * itself and takes only the password from here).
 */
static int credentials(struct vb_ctl *c, struct vb_buf *user,
		       struct vb_buf *pass, int paired, struct vb_err *e)
{
	const char *u = getenv("VIBES_IGGY_USERNAME");
	const char *p = getenv("VIBES_IGGY_PASSWORD");
	struct vb_buf path = VB_BUF_INIT;
	int rc;

	vb_buf_reset(user);
	vb_buf_reset(pass);
	if (u && !*u)
		u = NULL;
	if (!paired && p) {
		vb_buf_addstr(user, u ? u : "iggy");
		vb_buf_addstr(pass, p);
		return 0;
	}
	if (paired && (u == NULL) != (p == NULL))
		return vb_err_set(e, VB_E_USAGE,
				  "%s is set but %s is not: set both, or neither to use the data dir's credentials",
				  u ? "VIBES_IGGY_USERNAME" : "VIBES_IGGY_PASSWORD",
				  u ? "VIBES_IGGY_PASSWORD" : "VIBES_IGGY_USERNAME");
	if (u && p) {
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

int vb_ctl_credentials(struct vb_ctl *c, struct vb_buf *user,
		       struct vb_buf *pass, struct vb_err *e)
{
	return credentials(c, user, pass, 1, e);
}

int vb_ctl_read_addr(const struct vb_ctl *c, char *addr, size_t sz)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;
	int found = 0;
	size_t n;

	addr[0] = 0;
	vb_ctl_file(c, "server.addr", &path);
	if (vb_path_read_file((char *)path.p, &text, 4096, &found, NULL) ||
	    !found)
		goto out;
	n = strcspn((char *)text.p, "\r\n");
	if (n == 0 || n >= sz) {
		found = 0;
		goto out;
	}
	memcpy(addr, text.p, n);
	addr[n] = 0;
out:
	vb_buf_release(&path);
	vb_buf_release(&text);
	return found && addr[0];
}

int vb_ctl_try_login(struct vb_ctl *c, const char *addr, int timeout_ms,
		     struct vb_client *out, struct vb_err *e)
{
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT, path = VB_BUF_INIT;
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
	if (vb_client_set_addr(cl, addr, e) || vb_client_connect(cl, e) ||
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
			vb_buf_addch(pass,
				     alnum[arc4random_uniform(sizeof(alnum) - 1)]);
	}
	rc = vb_path_write_credentials((char *)path.p, (char *)user->p,
				       (char *)pass->p, e);
	vb_buf_release(&path);
	return rc;
}

/* ---- status ---- */

int vb_ctl_probe(struct vb_ctl *c, struct vb_ctl_status *st,
		 struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT, v = VB_BUF_INIT;
	struct stat sb;
	int exists, locked, found;
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
	if (exists && stat((char *)path.p, &sb) == 0)
		st->started = sb.st_mtime;

	vb_ctl_file(c, "supervise.lock", &path);
	locked = vb_ctl_lock_probe((char *)path.p, &exists, &pid, NULL);
	if (locked > 0)
		st->super_pid = pid ? pid : -1;
	if (st->super_pid) {
		vb_ctl_file(c, "supervise.state", &path);
		if (vb_path_read_file((char *)path.p, &text, 4096, &found,
				      NULL) == 0 && found &&
		    vb_kv_get((char *)text.p, text.len, "restarts", &v)) {
			const char *errstr;

			st->restarts = (unsigned)strtonum((char *)v.p, 0,
							  INT_MAX, &errstr);
		}
	}
	vb_ctl_read_addr(c, st->addr, sizeof(st->addr));
	vb_buf_release(&path);
	vb_buf_release(&text);
	vb_buf_release(&v);
	return 0;
fail:
	vb_buf_release(&path);
	return -1;
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
		if (fstatat(dirfd(dir), d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0)
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

int vb_ctl_status(struct vb_ctl *c, struct vb_ctl_status *st,
		  struct vb_err *e)
{
	struct vb_client cl;
	struct vb_err le;
	struct stat sb;
	int dfd;

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
	if (vb_ctl_try_login(c, st->addr, 3000, &cl, &le) == 0 &&
	    vb_client_get_stats(&cl, &st->stats, &le) == 0)
		st->have_stats = 1;
	else
		strlcpy(st->stats_err, le.msg, sizeof(st->stats_err));
	vb_client_release(&cl);
	return 0;
}

/* ---- the connect contract ---- */

static int autostart_default(void)
{
	const char *v = getenv("VIBES_IGGY_AUTOSTART");

	if (v == NULL || *v == 0)
		return 1;
	return !(strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		 strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0);
}

/*
 * Picks the credentials for connect: options > URL > environment >
 * credentials file > iggy/iggy.
 */
static int connect_creds(struct vb_ctl *c, const struct vb_ctl_opts *o,
			 const char *url_user, const char *url_pass,
			 struct vb_buf *user, struct vb_buf *pass,
			 struct vb_err *e)
{
	if (credentials(c, user, pass, !url_user[0] && !o->user, e))
		return -1;
	if (url_user[0]) {
		vb_buf_reset(user);
		vb_buf_reset(pass);
		vb_buf_addstr(user, url_user);
		vb_buf_addstr(pass, url_pass);
	}
	if (o->user) {
		vb_buf_reset(user);
		vb_buf_addstr(user, o->user);
	}
	if (o->pass) {
		vb_buf_reset(pass);
		vb_buf_addstr(pass, o->pass);
	}
	return 0;
}

/* The data dir's own server is known not to run (no lock holder). */
static int own_server_down(struct vb_ctl *c)
{
	struct vb_ctl_status st;

	if (vb_ctl_probe(c, &st, NULL) < 0)
		return 0;
	return st.state != VB_CTL_RUNNING && st.super_pid == 0;
}

/* Starts the data dir's server as `ensure` does and connects to it. */
static int start_own(struct vb_ctl *c, const struct vb_ctl_opts *o,
		     struct vb_client *cl, struct vb_err *e)
{
	struct vb_ctl_status st;
	char addr[300];

	if (vb_ctl_setup(c, o->data_dir, o->server_bin, e) ||
	    vb_ctl_start(c, VB_CTL_ENSURE, &st, e) < 0) {
		vb_err_prefix(e, "cannot start the server");
		return -1;
	}
	if (!vb_ctl_read_addr(c, addr, sizeof(addr)))
		return vb_err_set(e, VB_E_UNAVAIL, "the started server wrote "
				  "no server.addr in %s", (char *)c->dir.p);
	if (vb_client_set_addr(cl, addr, e) || vb_client_connect(cl, e))
		return -1;
	return 0;
}

/* Resolves the credentials and logs in; closes the connection on failure. */
static int login(struct vb_ctl *c, const struct vb_ctl_opts *o,
		 struct vb_client *cl, const char *url_user,
		 const char *url_pass, struct vb_buf *user, struct vb_buf *pass,
		 struct vb_err *e)
{
	if (connect_creds(c, o, url_user, url_pass, user, pass, e))
		return -1;
	if (vb_client_login(cl, (char *)user->p, (char *)pass->p, NULL, e)) {
		vb_client_close(cl);
		return -1;
	}
	return 0;
}

int vb_ctl_connect(struct vb_client *cl, const struct vb_ctl_opts *o,
		   struct vb_err *e)
{
	struct vb_ctl c;
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT;
	char addr[300], url_user[256], url_pass[256];
	const char *env_addr = getenv("VIBES_IGGY_ADDR");
	int explicit_addr = 0, autostart, rc = -1;

	vb_ctl_init(&c);
	if (o->timeout_ms > 0)
		c.start_timeout_ms = o->timeout_ms;
	autostart = o->autostart >= 0 ? o->autostart : autostart_default();
	if (vb_path_data_dir(&c.dir, o->data_dir, e))
		goto out;
	if (o->server && *o->server) {
		strlcpy(addr, o->server, sizeof(addr));
		explicit_addr = 1;
	} else if (env_addr && *env_addr) {
		strlcpy(addr, env_addr, sizeof(addr));
		explicit_addr = 1;
	} else if (!vb_ctl_read_addr(&c, addr, sizeof(addr))) {
		strlcpy(addr, VB_CTL_DEFAULT_ADDR, sizeof(addr));
	}
	cl->user[0] = 0;
	cl->pass[0] = 0;
	cl->protocol = o->protocol;
	if (cl->protocol < 0) {
		const char *v = getenv("VIBES_IGGY_PROTOCOL");

		cl->protocol = VB_PROTO_AUTO;
		if (v && *v && (cl->protocol = vb_proto_parse(v)) < 0) {
			vb_err_set(e, VB_E_USAGE,
				   "VIBES_IGGY_PROTOCOL='%s': use 0.8, 0.9 or auto",
				   v);
			goto out;
		}
	}
	if (vb_proto_cache_path(&cl->proto_cache, NULL))
		vb_buf_reset(&cl->proto_cache);
	if (vb_client_set_addr(cl, addr, e))
		goto out;
	strlcpy(url_user, cl->user, sizeof(url_user));
	strlcpy(url_pass, cl->pass, sizeof(url_pass));
	if (o->timeout_ms > 0)
		cl->timeout_ms = o->timeout_ms;
	if (vb_client_connect(cl, e)) {
		if ((e && e->kind != VB_E_UNAVAIL) || explicit_addr ||
		    !autostart || start_own(&c, o, cl, e))
			goto out;
	}
	if (login(&c, o, cl, url_user, url_pass, &user, &pass, e)) {
		/*
		 * Nothing was named, so we reached whatever answers on the
		 * data dir's last address or on 127.0.0.1:8090, and it refused
		 * this data dir's credentials: it is some other server (a
		 * second data dir's, or another program's).  When our own
		 * server is not running, start it (it takes a free port),
		 * exactly as if nothing had answered.
		 */
		if (e == NULL || e->kind != VB_E_AUTH || explicit_addr ||
		    !autostart || o->user || o->pass || url_user[0] ||
		    getenv("VIBES_IGGY_USERNAME") || !own_server_down(&c) ||
		    start_own(&c, o, cl, e) ||
		    login(&c, o, cl, url_user, url_pass, &user, &pass, e))
			goto out;
	}
	/* Kept for callers that reconnect and log in again. */
	strlcpy(cl->user, (char *)user.p, sizeof(cl->user));
	strlcpy(cl->pass, (char *)pass.p, sizeof(cl->pass));
	rc = 0;
out:
	if (pass.p)
		explicit_bzero(pass.p, pass.len);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	vb_ctl_release(&c);
	return rc;
}
