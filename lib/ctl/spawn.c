/*
 * Start, stop, restart and run.
 *
 * The starter (vb_ctl_start) forks twice so that the supervisor is not its
 * child (a long-lived tool that autostarts the server must not collect a
 * zombie later), calls setsid() in it and execs vibes-supervise
 * (supervise.c), which talks back over one pipe, one line per event:
 *   "super PID"        it holds supervise.lock
 *   "ready ADDR PID"   the daemon is ready on ADDR
 *   "fail CODE WHY"    the first start failed; nothing is left running
 * and closes the pipe after the first "ready" or "fail".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/path.h"
#include "base/vb_exit.h"
#include "ctl/ctl.h"
#include "ctl/ctl-config.h"
#include "ctl/ctl-int.h"
#include "net/sock.h"
#include "base/banned.h"

/* ---- ports ---- */

static int bind_probe(const char *host, unsigned port, unsigned *bound)
{
	struct addrinfo hints, *res = NULL;
	char ps[8];
	int fd, one = 1, ok = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0 || res == NULL)
		return 0;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		/* Same options as the daemon: TIME_WAIT does not count. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) == 0) {
			char ip[64];
			uint16_t p;

			ok = 1;
			if (bound &&
			    vb_net_local(fd, ip, sizeof(ip), &p, NULL) > 0)
				*bound = p;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

int vb_ctl_port_free(const char *host, unsigned port)
{
	return bind_probe(host, port, NULL);
}

unsigned vb_ctl_pick_port(const char *host)
{
	unsigned p = 0;

	bind_probe(host, 0, &p);
	return p;
}

/* Inode of the socket listening on port, from /proc/net/tcp{,6}. */
static unsigned long listen_inode(unsigned port)
{
	static const char *const files[] = { "/proc/net/tcp",
					     "/proc/net/tcp6" };
	char line[512];
	size_t i;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");

		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64], rem[64];
			unsigned st, lport;
			unsigned long inode;
			char *colon;

			/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line,
				   "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu",
				   local, rem, &st, &inode) != 4)
				continue;
			colon = strrchr(local, ':');
			if (colon == NULL ||
			    sscanf(colon + 1, "%x", &lport) != 1)
				continue;
			if (st == 0x0A && lport == port && inode != 0) {
				fclose(f);
				return inode;
			}
		}
		fclose(f);
	}
	return 0;
}

int vb_ctl_keeps_port(const char *want, const char *last)
{
	char host[256], lh[256];
	unsigned port, lp;

	return last && last[0] &&
	       vb_ctl_split_addr(want, host, sizeof(host), &port) == 0 &&
	       port == 0 && vb_ctl_split_addr(last, lh, sizeof(lh), &lp) == 0 &&
	       strcmp(lh, host) == 0 && lp != 0 && vb_ctl_port_free(lh, lp);
}

void vb_ctl_port_holder(unsigned port, char *out, size_t outsz)
{
	unsigned long inode = listen_inode(port);
	char want[64], path[64], link[128];
	struct dirent *d;
	DIR *proc;

	out[0] = 0;
	if (inode == 0)
		return;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	proc = opendir("/proc");
	if (proc == NULL)
		return;
	while ((d = readdir(proc)) != NULL && out[0] == 0) {
		struct dirent *fd;
		const char *errstr;
		long long pid = strtonum(d->d_name, 1, INT_MAX, &errstr);
		DIR *fds;

		if (errstr)
			continue;
		snprintf(path, sizeof(path), "/proc/%lld/fd", pid);
		fds = opendir(path);
		if (fds == NULL)
			continue;
		while ((fd = readdir(fds)) != NULL) {
			char p2[384];
			ssize_t n;

			snprintf(p2, sizeof(p2), "%s/%s", path, fd->d_name);
			n = readlink(p2, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (strcmp(link, want) == 0) {
				char comm[64] = "";
				FILE *f;

				snprintf(p2, sizeof(p2), "/proc/%lld/comm",
					 pid);
				f = fopen(p2, "re");
				if (f) {
					if (fgets(comm, sizeof(comm), f))
						comm[strcspn(comm, "\n")] = 0;
					fclose(f);
				}
				snprintf(out, outsz, "pid %lld (%s)", pid,
					 comm[0] ? comm : "?");
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (out[0] == 0)
		snprintf(out, outsz, "a process this user cannot see");
}

/*
 * The address for the next spawn: the explicit one, else `last` (the port
 * used before, or 8090) when it is free, else a kernel-chosen port.
 */
static void choose_addr_(const struct vb_ctl *c, const char *last, char *out,
			 size_t sz);

void vb_ctl_choose_addr(const struct vb_ctl *c, const char *last, char *out,
			size_t sz)
{
	char host[256];
	unsigned port;

	choose_addr_(c, last, out, sz);
	/*
	 * Upstream iggy-server cannot report a kernel-chosen port to us:
	 * give it one that was free a moment ago.
	 */
	if (c->upstream &&
	    vb_ctl_split_addr(out, host, sizeof(host), &port) == 0 &&
	    port == 0) {
		if (strchr(host, ':'))
			snprintf(out, sz, "[%s]:%u", host,
				 vb_ctl_pick_port(host));
		else
			snprintf(out, sz, "%s:%u", host,
				 vb_ctl_pick_port(host));
	}
}

static void choose_addr_(const struct vb_ctl *c, const char *last, char *out,
			 size_t sz)
{
	char host[256];
	unsigned port;

	if (c->addr_explicit) {
		strlcpy(out, c->addr, sz);
		/*
		 * An explicit port 0 still keeps a restarted server on the
		 * port its clients know, when that port is free.
		 */
		if (vb_ctl_keeps_port(c->addr, last))
			strlcpy(out, last, sz);
		return;
	}
	if (last == NULL || last[0] == 0 ||
	    vb_ctl_split_addr(last, host, sizeof(host), &port))
		last = VB_CTL_DEFAULT_ADDR;
	if (vb_ctl_split_addr(last, host, sizeof(host), &port) == 0 &&
	    port != 0 && vb_ctl_port_free(host, port)) {
		strlcpy(out, last, sz);
		return;
	}
	strlcpy(out, "127.0.0.1:0", sz);
}

/* ---- the upstream server's environment ---- */

void vb_ctl_setenv_upstream(const struct vb_ctl *c, const char *addr,
			    const char *user, const char *pass)
{
	setenv("IGGY_SYSTEM_PATH", (char *)c->dir.p, 1);
	setenv("IGGY_TCP_ADDRESS", addr, 1);
	setenv("IGGY_TCP_ENABLED", "true", 1);
	setenv("IGGY_TCP_TLS_ENABLED", c->tls_cert[0] ? "true" : "false", 1);
	if (c->tls_cert[0]) {
		setenv("IGGY_TCP_TLS_SELF_SIGNED", "false", 1);
		setenv("IGGY_TCP_TLS_CERT_FILE", c->tls_cert, 1);
		setenv("IGGY_TCP_TLS_KEY_FILE",
		       c->tls_key[0] ? c->tls_key : c->tls_cert, 1);
	}
	setenv("IGGY_ROOT_USERNAME", user, 1);
	setenv("IGGY_ROOT_PASSWORD", pass, 1);
	setenv("IGGY_HTTP_ENABLED", "false", 1);
	/*
	 * Its HTTP API is off, but its TLS options are those of the TCP
	 * port, as the bundled daemon's: whoever turns it on gets HTTPS.
	 */
	setenv("IGGY_HTTP_TLS_ENABLED", c->tls_cert[0] ? "true" : "false", 1);
	if (c->tls_cert[0]) {
		setenv("IGGY_HTTP_TLS_CERT_FILE", c->tls_cert, 1);
		setenv("IGGY_HTTP_TLS_KEY_FILE",
		       c->tls_key[0] ? c->tls_key : c->tls_cert, 1);
	}
	setenv("IGGY_QUIC_ENABLED", "false", 1);
	setenv("IGGY_WEBSOCKET_ENABLED", "false", 1);
}

size_t vb_ctl_tls_args(const struct vb_ctl *c, const char **argv)
{
	size_t n = 0;

	if (c->tls_cert[0]) {
		argv[n++] = "--tls-cert";
		argv[n++] = c->tls_cert;
		if (c->tls_key[0]) {
			argv[n++] = "--tls-key";
			argv[n++] = c->tls_key;
		}
	}
	return n;
}

/*
 * An upstream server says nothing of its TLS in the data dir: ctl writes
 * DATA/server.tls for it (the bundled daemon writes its own).
 */
void vb_ctl_upstream_tls_file(struct vb_ctl *c, int logfd)
{
	struct vb_buf path = VB_BUF_INIT, line = VB_BUF_INIT;
	struct vb_err e;

	vb_ctl_file(c, "server.tls", &path);
	if (c->tls_cert[0]) {
		vb_buf_printf(&line, "%s\n", c->tls_cert);
		if (vb_path_replace((char *)path.p, line.p, line.len, 0600, 1,
				    &e) < 0)
			vb_ctl_log(logfd, "%s", e.msg);
	} else if (unlink((char *)path.p) < 0 && errno != ENOENT) {
		vb_ctl_log(logfd, "cannot remove %s: %s", (char *)path.p,
			   strerror(errno));
	}
	vb_buf_release(&path);
	vb_buf_release(&line);
}

/* ---- starting ---- */

/*
 * The supervisor's command line (vibes-supervise(8)): what vb_ctl_supervise
 * needs, as options.  argv must have room for 26 pointers.
 */
static void supervisor_argv(struct vb_ctl *c, const char *addr,
			    const char *http, const char *argv[])
{
	size_t n = 0;

	argv[n++] = (char *)c->super.p;
	argv[n++] = "--data-dir";
	argv[n++] = (char *)c->dir.p;
	argv[n++] = "--server-bin";
	argv[n++] = (char *)c->bin.p;
	argv[n++] = "--spawn-addr";
	argv[n++] = addr;
	if (c->addr_explicit) {
		argv[n++] = "--addr";
		argv[n++] = c->addr;
	}
	if (http[0]) {
		argv[n++] = "--spawn-http";
		argv[n++] = http;
	}
	if (c->http_explicit) {
		argv[n++] = "--http";
		argv[n++] = c->http_addr;
	}
	if (c->no_http)
		argv[n++] = "--no-http";
	/* the supervisor's own options, which it gives the daemon */
	n += vb_ctl_tls_args(c, argv + n);
	if (c->upstream)
		argv[n++] = "--upstream";
	argv[n++] = "--notify-fd";
	argv[n++] = "3";
	/* The memory backend: nothing to make durable. */
	if (c->memory && !c->upstream) {
		argv[n++] = "--";
		argv[n++] = "--fsync";
		argv[n++] = "never";
	}
	argv[n] = NULL;
}

/*
 * Starts the supervisor: a grandchild (so that the starter, which may be a
 * long-lived tool, never has a zombie to collect), in a session of its
 * own, in "/", with stdin /dev/null, stdout and stderr on server.log, the
 * pipe back on fd 3 and nothing else open, every signal at its default,
 * and exec'd: `ps` shows vibes-supervise, not the tool that started it.
 * Returns the pipe's read end.
 */
static int spawn_supervisor(struct vb_ctl *c, const char *addr,
			    const char *http, struct vb_err *e)
{
	struct vb_buf logp = VB_BUF_INIT;
	const char *argv[32];
	sigset_t all, old;
	int p[2], status, logfd;
	pid_t pid;

	if (c->super.len == 0 || access((char *)c->super.p, X_OK) != 0)
		return vb_err_sys(
			e, VB_E_CONFIG,
			"cannot execute the supervisor %s (is vibes installed completely? it belongs in %s)",
			c->super.len ? (char *)c->super.p : "vibes-supervise",
			VB_CTL_LIBEXECDIR);
	vb_ctl_file(c, "server.log", &logp);
	logfd = open((char *)logp.p,
		     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		     0600);
	vb_buf_release(&logp);
	if (logfd < 0)
		return vb_err_sys(e, errno == EACCES ? VB_E_AUTH : VB_E_IO,
				  "cannot open %s/server.log",
				  (char *)c->dir.p);
	if (pipe2(p, O_CLOEXEC) != 0) {
		close(logfd);
		return vb_err_sys(e, VB_E_IO, "pipe");
	}
	supervisor_argv(c, addr, http, argv);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		close(p[1]);
		close(logfd);
		return vb_err_sys(e, VB_E_IO, "fork");
	}
	if (pid == 0) {
		pid_t gc = fork();
		int i, fd;

		if (gc != 0)
			_exit(gc < 0 ? 1 : 0);
		setsid();
		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
		if (chdir("/") != 0) {
			/* Every path it is given is absolute (vb_ctl_setup). */
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (p[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(p[1], 3);
		closefrom(4);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(argv[0], (char *const *)argv);
		dprintf(3, "fail %d cannot execute the supervisor %s: %s\n",
			VB_CTL_EX_EXEC_FAILED, argv[0], strerror(errno));
		_exit(VB_CTL_EX_EXEC_FAILED);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	close(logfd);
	status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* (ECHILD when the caller ignores SIGCHLD: nothing to check.) */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		close(p[0]);
		return vb_err_set(e, VB_E_IO, "cannot fork the supervisor");
	}
	return p[0];
}

/* Waits for a lock file to be released; 1 if released, 0 on timeout. */
static int wait_released(const char *path, int timeout_ms)
{
	int64_t deadline = vb_mono_ms() + timeout_ms;

	for (;;) {
		int exists;
		pid_t pid;
		int rc = vb_ctl_lock_probe(path, &exists, &pid, NULL);

		if (rc <= 0)
			return rc == 0;
		if (vb_mono_ms() >= deadline)
			return 0;
		vb_ctl_sleep_ms(25);
	}
}

/*
 * Waits until a running (or restarting) server accepts a login.  Returns 0
 * when it does, 1 when nothing runs any more and nobody will restart it.
 */
static int wait_login(struct vb_ctl *c, struct vb_ctl_status *st,
		      int64_t deadline, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int rc = -1;

	vb_ctl_file(c, "supervise.lock", &path);
	for (;;) {
		int64_t left = deadline - vb_mono_ms();
		struct vb_err le;

		vb_err_clear(&le);
		if (vb_ctl_read_addr(c, st->addr, sizeof(st->addr)) &&
		    vb_ctl_try_login(c, st->addr,
				     (int)(left < 2000 ?
						   (left > 100 ? left : 100) :
						   2000),
				     NULL, &le) == 0) {
			rc = 0;
			break;
		}
		if (le.kind == VB_E_AUTH) {
			*e = le;
			break;
		}
		/*
		 * Without a supervisor nobody brings a dead server back.
		 * (With one, leave server.pid alone: probing it while the
		 * supervisor respawns the daemon could make it lose the lock.)
		 */
		{
			int exists;
			pid_t pid;

			if (vb_ctl_lock_probe((char *)path.p, &exists, &pid,
					      NULL) <= 0) {
				struct vb_ctl_status now;

				if (vb_ctl_probe(c, &now, NULL) == 0 &&
				    now.state != VB_CTL_RUNNING &&
				    now.super_pid == 0) {
					rc = 1;
					break;
				}
			}
		}
		if (vb_mono_ms() >= deadline) {
			vb_err_set(e, VB_E_TIMEOUT,
				   "server (pid %ld) did not accept a login within %d ms: %s",
				   (long)st->pid, c->start_timeout_ms, le.msg);
			break;
		}
		vb_ctl_sleep_ms(50);
	}
	vb_buf_release(&path);
	return rc;
}

/* Reads one line from the supervisor; 1 line, 0 EOF, -1 timeout. */
static int read_line(int fd, struct vb_buf *acc, char *line, size_t sz,
		     int64_t deadline)
{
	for (;;) {
		char *nl = acc->len ? memchr(acc->p, '\n', acc->len) : NULL;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left;
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - (char *)acc->p);

			if (n >= sz)
				n = sz - 1;
			memcpy(line, acc->p, n);
			line[n] = 0;
			vb_buf_consume(acc, (size_t)(nl - (char *)acc->p) + 1);
			return 1;
		}
		left = deadline - vb_mono_ms();
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(fd, vb_buf_reserve(acc, 256), 256);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		acc->len += (size_t)r;
		acc->p[acc->len] = 0;
	}
}

/* Kills a start that did not become ready: supervisor first, then daemon. */
static void abort_start(struct vb_ctl *c, pid_t super)
{
	struct vb_buf path = VB_BUF_INIT;
	int exists;
	pid_t pid;

	if (super > 0)
		kill(super, SIGTERM);
	vb_ctl_file(c, "server.pid", &path);
	if (!wait_released((char *)path.p, 3000) &&
	    vb_ctl_lock_probe((char *)path.p, &exists, &pid, NULL) > 0 &&
	    pid > 0) {
		kill(pid, SIGKILL);
		wait_released((char *)path.p, 3000);
	}
	vb_ctl_file(c, "supervise.lock", &path);
	if (!wait_released((char *)path.p, 3000) && super > 0)
		kill(super, SIGKILL);
	vb_buf_release(&path);
}

/*
 * After a failed start: was the disk full?  The server said so in its log,
 * or the filesystem has no room left.
 */
static int disk_full(struct vb_ctl *c)
{
	struct statvfs vfs;

	if (c->log_tail.p &&
	    (strstr((char *)c->log_tail.p, "No space left on device") ||
	     strstr((char *)c->log_tail.p, "Disk quota exceeded") ||
	     strstr((char *)c->log_tail.p, "File too large")))
		return 1;
	return statvfs((char *)c->dir.p, &vfs) == 0 && vfs.f_blocks > 0 &&
	       vfs.f_bavail == 0;
}

/* Waits briefly for the supervisor to release supervise.lock. */
enum vb_ctl_taken vb_ctl_port_taken(const struct vb_ctl *c, off_t from)
{
	struct vb_buf path = VB_BUF_INIT, tail = VB_BUF_INIT;
	enum vb_ctl_taken rc = VB_CTL_TAKEN_NONE;

	vb_ctl_file(c, "server.log", &path);
	vb_ctl_tail_from((char *)path.p, from, 5, &tail, NULL);
	if (tail.p && strstr((char *)tail.p, "address already in use"))
		rc = strstr((char *)tail.p, "cannot listen for HTTP") ?
			     VB_CTL_TAKEN_HTTP :
			     VB_CTL_TAKEN_TCP;
	vb_buf_release(&path);
	vb_buf_release(&tail);
	return rc;
}

/*
 * The error for a port the server found in use at ADDR (WHAT says which
 * listener); 0 when ADDR does not parse and the caller goes on.
 */
static int port_in_use(struct vb_err *e, const char *what, const char *addr)
{
	char host[256], holder[128];
	unsigned port;

	if (vb_ctl_split_addr(addr, host, sizeof(host), &port))
		return 0;
	vb_ctl_port_holder(port, holder, sizeof(holder));
	vb_err_set(e, VB_E_UNAVAIL,
		   "cannot listen%s on %s: port %u is in use%s%s", what, addr,
		   port, holder[0] ? " by " : "", holder);
	return 1;
}

static void wait_super_exit(struct vb_ctl *c, pid_t super)
{
	struct vb_buf path = VB_BUF_INIT;

	vb_ctl_file(c, "supervise.lock", &path);
	if (!wait_released((char *)path.p, 3000) && super > 0)
		kill(super, SIGKILL);
	vb_buf_release(&path);
}

/* Appends a line to server.log, reporting write errors (disk full). */
static int log_check(struct vb_ctl *c, struct vb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int log_check(struct vb_ctl *c, struct vb_err *e, const char *fmt, ...)
{
	struct vb_buf path = VB_BUF_INIT, b = VB_BUF_INIT;
	va_list ap;
	int fd, rc = 0;

	vb_ctl_file(c, "server.log", &path);
	fd = open((char *)path.p,
		  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		rc = vb_err_sys(e,
				errno == EACCES || errno == EPERM ? VB_E_AUTH :
								    VB_E_IO,
				"cannot open %s", (char *)path.p);
		goto out;
	}
	va_start(ap, fmt);
	vb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	{
		char ts[64];
		struct tm tm;
		time_t now = time(NULL);
		struct vb_buf line = VB_BUF_INIT;
		ssize_t w;

		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		vb_buf_printf(&line, "%s vibes-iggyctl[%ld]: %s\n", ts,
			      (long)getpid(), (char *)b.p);
		w = write(fd, line.p, line.len);
		if (w < 0 || (size_t)w != line.len) {
			if (w >= 0)
				errno = ENOSPC;
			rc = vb_err_sys(e, VB_E_IO, "cannot write %s",
					(char *)path.p);
		}
		vb_buf_release(&line);
	}
	close(fd);
out:
	vb_buf_release(&path);
	vb_buf_release(&b);
	return rc;
}

/*
 * One attempt to start; *retry is 1 when the default port was stolen, 2
 * when the HTTP port chosen (not asked for) was.
 */
static int start_once(struct vb_ctl *c, const char *addr, const char *http,
		      off_t mark, struct vb_ctl_status *st, int *retry,
		      struct vb_err *e)
{
	struct vb_buf acc = VB_BUF_INIT, logp = VB_BUF_INIT;
	int64_t deadline = vb_mono_ms() + c->start_timeout_ms;
	char line[512];
	pid_t super = 0;
	int fd, rc = -1, r;

	*retry = 0;
	vb_ctl_file(c, "server.log", &logp);
	fd = spawn_supervisor(c, addr, http, e);
	if (fd < 0)
		goto out;
	for (;;) {
		r = read_line(fd, &acc, line, sizeof(line), deadline);
		if (r < 0) {
			abort_start(c, super);
			vb_err_set(e, VB_E_TIMEOUT,
				   "server not ready within %d ms; stopped it",
				   c->start_timeout_ms);
			vb_ctl_tail_from((char *)logp.p, mark, 10, &c->log_tail,
					 NULL);
			goto out;
		}
		if (r == 0) {
			vb_err_set(e, VB_E_UNAVAIL,
				   "the supervisor died during startup");
			vb_ctl_tail_from((char *)logp.p, mark, 10, &c->log_tail,
					 NULL);
			goto out;
		}
		if (strncmp(line, "super ", 6) == 0) {
			const char *errstr;

			super = (pid_t)strtonum(line + 6, 1, INT_MAX, &errstr);
			continue;
		}
		if (strncmp(line, "ready ", 6) == 0)
			break;
		if (strncmp(line, "fail ", 5) == 0) {
			const char *why = strchr(line + 5, ' ');
			int code = (int)strtol(line + 5, NULL, 10);
			enum vb_ctl_taken taken = VB_CTL_TAKEN_NONE;
			int inuse, http_inuse;

			why = why ? why + 1 : line + 5;
			/* The supervisor is on its way out: let it go first. */
			wait_super_exit(c, super);
			if (code == VB_EX_CONFIG)
				taken = vb_ctl_port_taken(c, mark);
			inuse = taken != VB_CTL_TAKEN_NONE;
			http_inuse = taken == VB_CTL_TAKEN_HTTP;
			if (http_inuse && !c->http_explicit) {
				*retry = 2;
				goto out;
			}
			if (http_inuse && port_in_use(e, " for HTTP", http))
				goto out;
			if (inuse && !c->addr_explicit) {
				*retry = 1;
				goto out;
			}
			if (inuse && port_in_use(e, "", addr))
				goto out;
			vb_ctl_tail_from((char *)logp.p, mark, 10, &c->log_tail,
					 NULL);
			if (disk_full(c)) {
				vb_err_set(e, VB_E_IO,
					   "data dir %s: no space left on device (%s)",
					   (char *)c->dir.p, why);
				goto out;
			}
			vb_err_set(e, VB_E_UNAVAIL, "%s", why);
			goto out;
		}
	}
	/* "ready ADDR PID" */
	{
		char *sp, *a = line + 6;

		sp = strchr(a, ' ');
		if (sp)
			*sp = 0;
		strlcpy(st->addr, a, sizeof(st->addr));
	}
	for (;;) {
		struct vb_err le;

		if (vb_ctl_try_login(c, st->addr, 2000, NULL, &le) == 0)
			break;
		if (le.kind == VB_E_AUTH || vb_mono_ms() >= deadline) {
			*e = le;
			vb_err_prefix(e, "server ready on %s but login failed",
				      st->addr);
			goto out;
		}
		vb_ctl_sleep_ms(50);
	}
	{
		char a[300];

		strlcpy(a, st->addr, sizeof(a));
		if (vb_ctl_probe(c, st, e))
			goto out;
		if (st->addr[0] == 0)
			strlcpy(st->addr, a, sizeof(st->addr));
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	vb_buf_release(&acc);
	vb_buf_release(&logp);
	return rc;
}

/*
 * Starts the server with the ctl lock held.  `last` is the address the
 * previous server had (restart): it is kept when its port is free, so
 * clients that know it need not look again; NULL for a plain start.
 */
static int start_locked(struct vb_ctl *c, unsigned flags, const char *last,
			struct vb_ctl_status *st, struct vb_err *e)
{
	char addr[300], http[300] = "", why[256];
	int64_t deadline = vb_mono_ms() + c->start_timeout_ms;
	pid_t stale = 0;
	off_t mark;
	int retry, rc;

	if (vb_ctl_probe(c, st, e))
		return -1;
	/* An explicit start is what server.down waits for. */
	if (!(flags & VB_CTL_AUTOSTART) && st->down[0] &&
	    vb_ctl_down_remove(c, e))
		return -1;
	if (st->state == VB_CTL_RUNNING || st->super_pid) {
		if (!(flags & VB_CTL_ENSURE)) {
			if (st->state == VB_CTL_RUNNING)
				return vb_err_set(
					e, VB_E_STATE,
					"already running (pid %ld) with data dir %s",
					(long)st->pid, (char *)c->dir.p);
			return vb_err_set(
				e, VB_E_STATE,
				"already supervised (supervisor pid %ld); the server is being restarted",
				(long)st->super_pid);
		}
		rc = wait_login(c, st, deadline, e);
		if (rc <= 0) {
			if (rc == 0)
				vb_ctl_probe(c, st, NULL);
			return rc < 0 ? -1 : 1;
		}
		/* Gone meanwhile and nobody restarts it: start it. */
		if (vb_ctl_probe(c, st, e))
			return -1;
	}
	if ((flags & VB_CTL_AUTOSTART) &&
	    vb_ctl_down_read(c, why, sizeof(why))) {
		char cmd[600];

		vb_ctl_iggyctl_cmd(c, "start", cmd, sizeof(cmd));
		return vb_err_set(
			e, VB_E_DOWN,
			"the server of data dir %s was %s; the tools do not start it by themselves until '%s'",
			(char *)c->dir.p, why, cmd);
	}
	if (st->state == VB_CTL_STALE)
		stale = st->pid;
	if (access((char *)c->bin.p, X_OK) != 0)
		return vb_err_sys(
			e, VB_E_CONFIG,
			"cannot execute the server %s (set --server-bin or VIBES_IGGY_SERVER)",
			(char *)c->bin.p);
	if (c->upstream) {
		struct vb_buf u = VB_BUF_INIT, p = VB_BUF_INIT;

		rc = vb_ctl_make_credentials(c, &u, &p, e);
		if (p.p)
			explicit_bzero(p.p, p.len);
		vb_buf_release(&u);
		vb_buf_release(&p);
		if (rc)
			return -1;
	}
	vb_ctl_choose_addr(c, last, addr, sizeof(addr));
	if (!c->upstream)
		vb_ctl_choose_http(c, http, sizeof(http));
	{
		struct vb_buf logp = VB_BUF_INIT;
		struct stat sb;

		vb_ctl_file(c, "server.log", &logp);
		mark = stat((char *)logp.p, &sb) == 0 ? sb.st_size : 0;
		vb_buf_release(&logp);
	}
	vb_buf_reset(&c->log_tail);
	if (stale &&
	    log_check(c, e,
		      "stale pidfile (pid %ld): the last server died without cleaning up",
		      (long)stale))
		return -1;
	if (log_check(c, e, "starting %s (%s) on %s, data dir %s",
		      (char *)c->bin.p, c->upstream ? "upstream" : "bundled",
		      addr, (char *)c->dir.p))
		return -1;
	rc = start_once(c, addr, http, mark, st, &retry, e);
	if (rc && retry == 2) {
		/* The HTTP port was taken between our probe and the bind. */
		strlcpy(http, "127.0.0.1:0", sizeof(http));
		rc = start_once(c, addr, http, mark, st, &retry, e);
	}
	if (rc && retry == 1) {
		/* The default port was taken between our probe and the bind. */
		if (c->upstream)
			snprintf(addr, sizeof(addr), "127.0.0.1:%u",
				 vb_ctl_pick_port("127.0.0.1"));
		else
			strlcpy(addr, "127.0.0.1:0", sizeof(addr));
		rc = start_once(c, addr, http, mark, st, &retry, e);
		if (rc && retry)
			vb_err_set(e, VB_E_UNAVAIL,
				   "cannot listen on %s: address already in use",
				   addr);
	}
	if (rc == 0)
		st->stale_pid = stale;
	return rc;
}

static int take_ctl_lock(struct vb_ctl *c, int timeout_ms, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int fd;

	vb_ctl_file(c, "ctl.lock", &path);
	fd = vb_ctl_lock_take((char *)path.p, timeout_ms, e);
	vb_buf_release(&path);
	return fd;
}

int vb_ctl_start(struct vb_ctl *c, unsigned flags, struct vb_ctl_status *st,
		 struct vb_err *e)
{
	int fd, rc;

	memset(st, 0, sizeof(*st));
	if (vb_ctl_prepare_dir(c, e))
		return -1;
	fd = take_ctl_lock(c, c->start_timeout_ms, e);
	if (fd < 0)
		return -1;
	rc = start_locked(c, flags, NULL, st, e);
	close(fd);
	return rc;
}

/* ---- stopping ---- */

static int stop_locked(struct vb_ctl *c, int *killed, struct vb_err *e)
{
	struct vb_buf pidp = VB_BUF_INIT, supp = VB_BUF_INIT;
	struct vb_ctl_status st;
	int exists, rc = -1;
	pid_t pid;

	if (killed)
		*killed = 0;
	if (vb_ctl_probe(c, &st, e))
		return -1;
	if (st.state != VB_CTL_RUNNING && st.super_pid == 0)
		return 1;
	vb_ctl_file(c, "server.pid", &pidp);
	vb_ctl_file(c, "supervise.lock", &supp);
	/* Tell the supervisor first, so that it does not restart. */
	if (st.super_pid > 0)
		kill(st.super_pid, SIGTERM);
	if (st.state == VB_CTL_RUNNING && st.pid > 0) {
		kill(st.pid, SIGTERM);
		/* A stopped (SIGSTOP) server would never see it. */
		kill(st.pid, SIGCONT);
	}
	if (!wait_released((char *)pidp.p, c->stop_timeout_ms)) {
		if (vb_ctl_lock_probe((char *)pidp.p, &exists, &pid, NULL) >
			    0 &&
		    pid > 0) {
			kill(pid, SIGKILL);
			if (killed)
				*killed = 1;
		}
		if (!wait_released((char *)pidp.p, 5000)) {
			vb_err_set(e, VB_E_TIMEOUT,
				   "server (pid %ld) still holds %s after SIGKILL",
				   (long)pid, (char *)pidp.p);
			goto out;
		}
	}
	if (st.super_pid > 0 && !wait_released((char *)supp.p, 5000)) {
		kill(st.super_pid, SIGKILL);
		wait_released((char *)supp.p, 2000);
	}
	rc = 0;
out:
	vb_buf_release(&pidp);
	vb_buf_release(&supp);
	return rc;
}

int vb_ctl_stop(struct vb_ctl *c, int *killed, struct vb_err *e)
{
	struct stat sb;
	int fd, rc;

	if (killed)
		*killed = 0;
	if (stat((char *)c->dir.p, &sb) != 0 && errno == ENOENT)
		return 1;
	fd = take_ctl_lock(c, c->stop_timeout_ms + c->start_timeout_ms, e);
	if (fd < 0 && e && e->kind == VB_E_TIMEOUT)
		return -1;
	/*
	 * Before the server goes: a tool that finds it gone must already
	 * see that it was stopped on purpose.  (A read-only or foreign dir
	 * takes neither lock nor mark: stopping needs neither.)
	 */
	if (fd >= 0)
		vb_ctl_down_write(c, NULL);
	rc = stop_locked(c, killed, e);
	if (fd >= 0)
		close(fd);
	return rc;
}

int vb_ctl_restart(struct vb_ctl *c, struct vb_ctl_status *st, struct vb_err *e)
{
	char last[300];
	int fd, rc;

	memset(st, 0, sizeof(*st));
	if (vb_ctl_prepare_dir(c, e))
		return -1;
	fd = take_ctl_lock(c, c->stop_timeout_ms + c->start_timeout_ms, e);
	if (fd < 0)
		return -1;
	if (!vb_ctl_read_addr(c, last, sizeof(last)))
		last[0] = 0;
	rc = stop_locked(c, NULL, e);
	if (rc >= 0)
		rc = start_locked(c, 0, last, st, e);
	close(fd);
	return rc;
}

/* ---- foreground ---- */

int vb_ctl_run(struct vb_ctl *c, struct vb_err *e)
{
	const char *argv[24];
	char addr[300], http[300];
	size_t n = 0;

	if (vb_ctl_prepare_dir(c, e))
		return -1;
	vb_ctl_choose_addr(c, NULL, addr, sizeof(addr));
	if (c->upstream) {
		struct vb_buf u = VB_BUF_INIT, p = VB_BUF_INIT;

		if (vb_ctl_make_credentials(c, &u, &p, e))
			return -1;
		vb_ctl_upstream_tls_file(c, STDERR_FILENO);
		vb_ctl_setenv_upstream(c, addr, (char *)u.p, (char *)p.p);
		execl((char *)c->bin.p, (char *)c->bin.p, (char *)NULL);
	} else {
		vb_ctl_choose_http(c, http, sizeof(http));
		argv[n++] = (char *)c->bin.p;
		argv[n++] = "--data-dir";
		argv[n++] = (char *)c->dir.p;
		argv[n++] = "--addr";
		argv[n++] = addr;
		if (http[0]) {
			argv[n++] = "--http";
			argv[n++] = http;
		} else {
			argv[n++] = "--no-http";
		}
		n += vb_ctl_tls_args(c, argv + n);
		argv[n] = NULL;
		execv((char *)c->bin.p, (char *const *)argv);
	}
	return vb_err_sys(e, VB_E_UNAVAIL, "cannot execute %s",
			  (char *)c->bin.p);
}
