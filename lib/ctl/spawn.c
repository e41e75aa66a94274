/*
 * Start, stop, restart, run and the supervisor.
 *
 * The starter (vb_ctl_start) forks twice so that the supervisor is not its
 * child (a long-lived tool that autostarts the server must not collect a
 * zombie later) and calls setsid() in it.  The supervisor talks back over
 * one pipe, one line per event:
 *   "super PID"        it holds supervise.lock
 *   "ready ADDR PID"   the daemon is ready on ADDR
 *   "fail WHY"         the first start failed; nothing is left running
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
#include <sys/prctl.h>
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
#include "ctl/ctl-int.h"
#include "base/banned.h"

#define EX_EXEC_FAILED 127

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
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);

			ok = 1;
			if (bound &&
			    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
				if (ss.ss_family == AF_INET)
					*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
				else if (ss.ss_family == AF_INET6)
					*bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			}
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
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
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
			if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %lu",
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

				snprintf(p2, sizeof(p2), "/proc/%lld/comm", pid);
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
static void choose_addr_(struct vb_ctl *c, const char *last, char *out,
			 size_t sz);

static void choose_addr(struct vb_ctl *c, const char *last, char *out,
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

static void choose_addr_(struct vb_ctl *c, const char *last, char *out,
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
		if (last && last[0] &&
		    vb_ctl_split_addr(c->addr, host, sizeof(host), &port) == 0 &&
		    port == 0) {
			char lh[256];
			unsigned lp;

			if (vb_ctl_split_addr(last, lh, sizeof(lh), &lp) == 0 &&
			    strcmp(lh, host) == 0 && lp != 0 &&
			    vb_ctl_port_free(lh, lp))
				strlcpy(out, last, sz);
		}
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

/* ---- the supervisor ---- */

struct sv {
	struct vb_ctl *c;
	char addr[300];		/* address for the next spawn */
	char ready_addr[300];	/* address of the running daemon */
	int logfd;
	int notify;		/* -1 once the starter has been answered */
	int selfpipe[2];
	pid_t child;
	int readyfd;		/* bundled daemon's readiness pipe */
	char rbuf[512];
	size_t rlen;
	int ready;
	int pidlock;		/* upstream: server.pid held for the child */
	int want_down;
	unsigned restarts;
	int64_t deaths[VB_CTL_MAX_DEATHS];
	unsigned ndeaths;
	int64_t next_spawn;
	int64_t next_probe;	/* upstream readiness polling */
	char last_exit[64];
};

static int sv_wfd = -1;
static volatile sig_atomic_t sv_term;

static void sv_handler(int sig)
{
	int saved = errno;
	char b = (char)sig;

	if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
		sv_term = 1;
	if (write(sv_wfd, &b, 1) < 0) {
		/* The pipe is full: a wake-up is pending anyway. */
	}
	errno = saved;
}

static void sv_notify(struct sv *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sv_notify(struct sv *s, const char *fmt, ...)
{
	struct vb_buf b = VB_BUF_INIT;
	va_list ap;

	if (s->notify < 0)
		return;
	va_start(ap, fmt);
	vb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	vb_buf_addch(&b, '\n');
	if (write(s->notify, b.p, b.len) < 0) {
		/* The starter gave up waiting: nobody to tell. */
	}
	vb_buf_release(&b);
}

static void sv_answered(struct sv *s)
{
	if (s->notify >= 0)
		close(s->notify);
	s->notify = -1;
}

static void sv_write_state(struct sv *s)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;

	vb_ctl_file(s->c, "supervise.state", &path);
	vb_buf_printf(&text, "pid=%ld\nserver_pid=%ld\nrestarts=%u\naddr=%s\nlast_exit=%s\n",
		      (long)getpid(), (long)s->child, s->restarts,
		      s->ready_addr, s->last_exit);
	vb_path_write_atomic((char *)path.p, text.p, text.len, 0600, NULL);
	vb_buf_release(&path);
	vb_buf_release(&text);
}

static void describe_status(int status, char *out, size_t sz)
{
	if (WIFEXITED(status))
		snprintf(out, sz, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, sz, "was killed by signal %d (%s)",
			 WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ?
			 sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(out, sz, "ended with wait status %#x", status);
}

static void setenv_upstream(struct vb_ctl *c, const char *addr,
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
	setenv("IGGY_QUIC_ENABLED", "false", 1);
	setenv("IGGY_WEBSOCKET_ENABLED", "false", 1);
}

/*
 * The bundled daemon's command line: data dir, address, the readiness fd
 * when ready3, TLS when configured.  argv has room for 16.
 */
static void daemon_argv(const struct vb_ctl *c, const char *addr, int ready3,
			const char **argv)
{
	int n = 0;

	argv[n++] = (char *)c->bin.p;
	argv[n++] = "--data-dir";
	argv[n++] = (char *)c->dir.p;
	argv[n++] = "--addr";
	argv[n++] = addr;
	if (ready3) {
		argv[n++] = "--ready-fd";
		argv[n++] = "3";
	}
	if (c->tls_cert[0]) {
		argv[n++] = "--tls-cert";
		argv[n++] = c->tls_cert;
		if (c->tls_key[0]) {
			argv[n++] = "--tls-key";
			argv[n++] = c->tls_key;
		}
	}
	argv[n] = NULL;
}

/*
 * An upstream server says nothing of its TLS in the data dir: ctl writes
 * DATA/server.tls for it (the bundled daemon writes its own).
 */
static void upstream_tls_file(struct vb_ctl *c, int logfd)
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

/* Forks and execs the daemon; returns 0 or -1 with the reason logged. */
static int sv_spawn(struct sv *s)
{
	struct vb_ctl *c = s->c;
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT;
	struct vb_err e;
	sigset_t all, old;
	int rp[2] = { -1, -1 };
	const char *argv[16];
	pid_t pid;

	vb_err_clear(&e);
	daemon_argv(c, s->addr, 1, argv);
	if (c->upstream) {
		struct vb_buf path = VB_BUF_INIT;

		upstream_tls_file(c, s->logfd);
		if (vb_ctl_make_credentials(c, &user, &pass, &e)) {
			vb_ctl_log(s->logfd, "%s", e.msg);
			return -1;
		}
		vb_ctl_file(c, "server.pid", &path);
		s->pidlock = vb_ctl_lock_take((char *)path.p, 0, &e);
		vb_buf_release(&path);
		if (s->pidlock < 0) {
			vb_ctl_log(s->logfd, "data dir %s is in use: %s",
				   (char *)c->dir.p, e.msg);
			return -1;
		}
	} else if (pipe2(rp, O_CLOEXEC) != 0) {
		vb_ctl_log(s->logfd, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Block signals so that none is handled between fork and exec. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		int i, devnull = open("/dev/null", O_RDONLY);

		/* Nothing ignored or caught by whoever started us leaks in. */
		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
		if (devnull >= 0 && devnull != 0) {
			dup2(devnull, 0);
			close(devnull);
		}
		dup2(s->logfd, 1);
		dup2(s->logfd, 2);
		if (rp[1] >= 0) {
			if (rp[1] == 3)
				fcntl(3, F_SETFD, 0);
			else
				dup2(rp[1], 3);
			closefrom(4);
		} else {
			closefrom(3);
		}
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (c->upstream) {
			setenv_upstream(c, s->addr, (char *)user.p,
					(char *)pass.p);
			execl((char *)c->bin.p, (char *)c->bin.p, (char *)NULL);
		} else {
			execv((char *)c->bin.p, (char *const *)argv);
		}
		dprintf(2, "vibes-iggyctl: cannot execute %s: %s\n",
			(char *)c->bin.p, strerror(errno));
		_exit(EX_EXEC_FAILED);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pass.p)
		explicit_bzero(pass.p, pass.len);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	if (rp[1] >= 0)
		close(rp[1]);
	if (pid < 0) {
		vb_ctl_log(s->logfd, "fork: %s", strerror(errno));
		if (rp[0] >= 0)
			close(rp[0]);
		if (s->pidlock >= 0)
			close(s->pidlock);
		s->pidlock = -1;
		return -1;
	}
	s->child = pid;
	s->readyfd = rp[0];
	s->rlen = 0;
	s->ready = 0;
	s->next_probe = vb_mono_ms() + 100;
	if (s->pidlock >= 0)
		vb_ctl_lock_write_pid(s->pidlock, pid);
	vb_ctl_log(s->logfd, "supervisor: started %s (pid %ld) on %s",
		   (char *)c->bin.p, (long)pid, s->addr);
	return 0;
}

static void sv_on_ready(struct sv *s, const char *addr)
{
	strlcpy(s->ready_addr, addr, sizeof(s->ready_addr));
	s->ready = 1;
	if (s->notify >= 0) {
		sv_notify(s, "ready %s %ld", addr, (long)s->child);
		sv_answered(s);
	} else {
		vb_ctl_log(s->logfd,
			   "supervisor: server ready again (pid %ld, restart %u) on %s",
			   (long)s->child, s->restarts, addr);
	}
	sv_write_state(s);
}

/* Reads the bundled daemon's "ready HOST:PORT" line. */
static void sv_read_ready(struct sv *s)
{
	ssize_t r = read(s->readyfd, s->rbuf + s->rlen,
			 sizeof(s->rbuf) - 1 - s->rlen);
	char *nl;

	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		/* Closed without a line: the daemon is dying; SIGCHLD follows. */
		close(s->readyfd);
		s->readyfd = -1;
		return;
	}
	s->rlen += (size_t)r;
	s->rbuf[s->rlen] = 0;
	nl = strchr(s->rbuf, '\n');
	if (nl == NULL && s->rlen < sizeof(s->rbuf) - 1)
		return;
	if (nl)
		*nl = 0;
	close(s->readyfd);
	s->readyfd = -1;
	{
		char addr[300] = "";
		const char *p = s->rbuf;

		if (strncmp(p, "ready", 5) == 0) {
			p += 5;
			p += strspn(p, " ");
			strlcpy(addr, p, sizeof(addr));
			addr[strcspn(addr, " ")] = 0;
		}
		if (addr[0] == 0)
			vb_ctl_read_addr(s->c, addr, sizeof(addr));
		if (addr[0] == 0)
			strlcpy(addr, s->addr, sizeof(addr));
		sv_on_ready(s, addr);
	}
}

/* Upstream: ready once a login works; then record server.addr. */
static void sv_probe_upstream(struct sv *s)
{
	struct vb_buf path = VB_BUF_INIT, text = VB_BUF_INIT;
	struct vb_err e;

	s->next_probe = vb_mono_ms() + 100;
	if (vb_ctl_try_login(s->c, s->addr, 1000, NULL, &e))
		return;
	vb_ctl_file(s->c, "server.addr", &path);
	vb_buf_printf(&text, "%s\n", s->addr);
	if (vb_path_write_atomic((char *)path.p, text.p, text.len, 0644, &e))
		vb_ctl_log(s->logfd, "supervisor: %s", e.msg);
	vb_buf_release(&path);
	vb_buf_release(&text);
	sv_on_ready(s, s->addr);
}

static void sv_exit(struct sv *s, int code) __attribute__((noreturn));
static void sv_exit(struct sv *s, int code)
{
	if (s->child > 0)
		kill(s->child, SIGKILL);
	s->child = 0;
	sv_write_state(s);
	_exit(code);
}

/* Handles the daemon's death: decides between exit and restart. */
static void sv_on_death(struct sv *s, int status)
{
	char how[64];
	int64_t now = vb_mono_ms();
	unsigned i, n = 0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	int was_ready = s->ready;

	describe_status(status, how, sizeof(how));
	strlcpy(s->last_exit, how, sizeof(s->last_exit));
	s->child = 0;
	s->ready = 0;
	if (s->readyfd >= 0)
		close(s->readyfd);
	s->readyfd = -1;
	if (s->pidlock >= 0) {
		if (code == 0) {
			struct vb_buf path = VB_BUF_INIT;

			vb_ctl_file(s->c, "server.pid", &path);
			unlink((char *)path.p);
			vb_buf_release(&path);
		}
		close(s->pidlock);
		s->pidlock = -1;
	}
	if (s->want_down) {
		vb_ctl_log(s->logfd, "supervisor: server %s; stopped on request",
			   how);
		sv_exit(s, 0);
	}
	if (s->notify >= 0) {
		/* Never ready: a failed start is reported, not retried. */
		vb_ctl_log(s->logfd, "supervisor: server %s during startup",
			   how);
		sv_notify(s, "fail %d server %s during startup", code, how);
		sv_answered(s);
		sv_exit(s, 1);
	}
	if (code == 0) {
		vb_ctl_log(s->logfd,
			   "supervisor: server exited cleanly (stopped by someone else); supervision ends");
		sv_exit(s, 0);
	}
	if (code == VB_EX_CONFIG || code == EX_EXEC_FAILED) {
		vb_ctl_log(s->logfd,
			   "supervisor: server %s: permanent failure, not restarting",
			   how);
		sv_exit(s, 1);
	}
	(void)was_ready;
	memmove(s->deaths + 1, s->deaths,
		sizeof(s->deaths) - sizeof(s->deaths[0]));
	s->deaths[0] = now;
	if (s->ndeaths < VB_CTL_MAX_DEATHS)
		s->ndeaths++;
	for (i = 0; i < s->ndeaths; i++)
		if (now - s->deaths[i] < VB_CTL_DEATH_WINDOW * 1000)
			n++;
	if (n >= VB_CTL_MAX_DEATHS) {
		vb_ctl_log(s->logfd,
			   "supervisor: server %s; %u deaths within %d s: giving up",
			   how, n, VB_CTL_DEATH_WINDOW);
		sv_exit(s, 1);
	}
	{
		int delay = 1000 << (n - 1);

		if (delay > 30000)
			delay = 30000;
		s->next_spawn = now + delay;
		s->restarts++;
		vb_ctl_log(s->logfd,
			   "supervisor: server %s; restarting in %d.%d s (restart %u)",
			   how, delay / 1000, delay % 1000 / 100, s->restarts);
	}
	sv_write_state(s);
}

static void sv_run(struct sv *s) __attribute__((noreturn));
static void sv_run(struct sv *s)
{
	for (;;) {
		struct pollfd p[2];
		int np = 0, timeout = -1, status;
		int64_t now = vb_mono_ms();
		pid_t pid;

		if (sv_term && !s->want_down) {
			s->want_down = 1;
			if (s->child > 0) {
				vb_ctl_log(s->logfd,
					   "supervisor: stop requested; sending SIGTERM to pid %ld",
					   (long)s->child);
				kill(s->child, SIGTERM);
			} else {
				vb_ctl_log(s->logfd,
					   "supervisor: stop requested");
				sv_notify(s, "fail 1 stopped before the server was ready");
				sv_exit(s, 0);
			}
		}
		if (s->child == 0 && !s->want_down) {
			if (now >= s->next_spawn) {
				char last[300];

				strlcpy(last, s->ready_addr, sizeof(last));
				if (s->restarts > 0)
					choose_addr(s->c, last, s->addr,
						    sizeof(s->addr));
				if (sv_spawn(s)) {
					sv_notify(s, "fail 1 cannot spawn the server (see server.log)");
					sv_exit(s, 1);
				}
				continue;
			}
			timeout = (int)(s->next_spawn - now);
		}
		p[np].fd = s->selfpipe[0];
		p[np++].events = POLLIN;
		if (s->readyfd >= 0) {
			p[np].fd = s->readyfd;
			p[np++].events = POLLIN;
		}
		if (s->child > 0 && s->c->upstream && !s->ready) {
			timeout = (int)(s->next_probe - now);
			if (timeout < 0)
				timeout = 0;
		}
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
			vb_ctl_sleep_ms(100);
		if (p[0].revents) {
			char b[64];

			while (read(s->selfpipe[0], b, sizeof(b)) > 0)
				;
		}
		if (np > 1 && p[1].revents && s->readyfd >= 0)
			sv_read_ready(s);
		if (s->child > 0 && s->c->upstream && !s->ready &&
		    vb_mono_ms() >= s->next_probe)
			sv_probe_upstream(s);
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == s->child)
				sv_on_death(s, status);
		}
	}
}

static void supervise(struct vb_ctl *c, const char *addr, int notify)
	__attribute__((noreturn));
static void supervise(struct vb_ctl *c, const char *addr, int notify)
{
	struct vb_buf path = VB_BUF_INIT;
	struct sigaction sa;
	struct vb_err e;
	struct sv s;
	int fd, lock;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.readyfd = -1;
	s.pidlock = -1;
	strlcpy(s.addr, addr, sizeof(s.addr));
	prctl(PR_SET_NAME, "vibes-supervise", 0, 0, 0);
	/* Do not keep the starter's working directory busy. */
	if (chdir("/") != 0) {
		/* Every path used below is absolute (vb_ctl_setup). */
	}
	{
		int i;

		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
	}

	/* Only the notify pipe survives from the starter. */
	if (notify != 3) {
		if (dup2(notify, 3) < 0)
			_exit(1);
		notify = 3;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	closefrom(4);
	s.notify = notify;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	vb_ctl_file(c, "server.log", &path);
	s.logfd = open((char *)path.p,
		       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		       0600);
	if (s.logfd < 0) {
		sv_notify(&s, "fail 1 cannot open %s: %s", (char *)path.p,
			  strerror(errno));
		_exit(1);
	}
	dup2(s.logfd, 1);
	dup2(s.logfd, 2);

	vb_ctl_file(c, "supervise.lock", &path);
	lock = vb_ctl_lock_take((char *)path.p, 0, &e);
	if (lock < 0) {
		sv_notify(&s, "fail 1 another supervisor holds %s",
			  (char *)path.p);
		_exit(1);
	}
	vb_ctl_lock_write_pid(lock, getpid());
	vb_buf_release(&path);

	if (pipe2(s.selfpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		sv_notify(&s, "fail 1 pipe: %s", strerror(errno));
		_exit(1);
	}
	sv_wfd = s.selfpipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sv_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	sv_notify(&s, "super %ld", (long)getpid());
	vb_ctl_log(s.logfd, "supervisor: pid %ld supervising %s",
		   (long)getpid(), (char *)c->dir.p);
	sv_run(&s);
}

/* ---- starting ---- */

/* Forks the supervisor (grandchild, own session); returns the pipe. */
static int spawn_supervisor(struct vb_ctl *c, const char *addr,
			    struct vb_err *e)
{
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return vb_err_sys(e, VB_E_IO, "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return vb_err_sys(e, VB_E_IO, "fork");
	}
	if (pid == 0) {
		pid_t gc;

		close(p[0]);
		gc = fork();
		if (gc != 0)
			_exit(gc < 0 ? 1 : 0);
		setsid();
		supervise(c, addr, p[1]);
	}
	close(p[1]);
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
				     (int)(left < 2000 ? (left > 100 ? left : 100) : 2000),
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

	if (c->log_tail.p && (strstr((char *)c->log_tail.p,
				     "No space left on device") ||
			      strstr((char *)c->log_tail.p,
				     "Disk quota exceeded") ||
			      strstr((char *)c->log_tail.p,
				     "File too large")))
		return 1;
	return statvfs((char *)c->dir.p, &vfs) == 0 && vfs.f_blocks > 0 &&
	       vfs.f_bavail == 0;
}

/* Waits briefly for the supervisor to release supervise.lock. */
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
		rc = vb_err_sys(e, errno == EACCES || errno == EPERM ?
				       VB_E_AUTH : VB_E_IO,
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

/* One attempt to start; *retry is set when the default port was stolen. */
static int start_once(struct vb_ctl *c, const char *addr, off_t mark,
		      struct vb_ctl_status *st, int *retry, struct vb_err *e)
{
	struct vb_buf acc = VB_BUF_INIT, logp = VB_BUF_INIT;
	int64_t deadline = vb_mono_ms() + c->start_timeout_ms;
	char line[512];
	pid_t super = 0;
	int fd, rc = -1, r;

	*retry = 0;
	vb_ctl_file(c, "server.log", &logp);
	fd = spawn_supervisor(c, addr, e);
	if (fd < 0)
		goto out;
	for (;;) {
		r = read_line(fd, &acc, line, sizeof(line), deadline);
		if (r < 0) {
			abort_start(c, super);
			vb_err_set(e, VB_E_TIMEOUT,
				   "server not ready within %d ms; stopped it",
				   c->start_timeout_ms);
			vb_ctl_tail_from((char *)logp.p, mark, 10,
					 &c->log_tail, NULL);
			goto out;
		}
		if (r == 0) {
			vb_err_set(e, VB_E_UNAVAIL,
				   "the supervisor died during startup");
			vb_ctl_tail_from((char *)logp.p, mark, 10,
					 &c->log_tail, NULL);
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
			char host[256], holder[128];
			unsigned port = 0;
			struct vb_buf tail = VB_BUF_INIT;
			int inuse;

			why = why ? why + 1 : line + 5;
			/* The supervisor is on its way out: let it go first. */
			wait_super_exit(c, super);
			vb_ctl_tail_from((char *)logp.p, mark, 5, &tail, NULL);
			inuse = code == VB_EX_CONFIG && tail.p &&
				strstr((char *)tail.p, "address already in use");
			vb_buf_release(&tail);
			if (inuse && !c->addr_explicit) {
				*retry = 1;
				goto out;
			}
			if (inuse &&
			    vb_ctl_split_addr(addr, host, sizeof(host), &port) == 0) {
				vb_ctl_port_holder(port, holder, sizeof(holder));
				vb_err_set(e, VB_E_UNAVAIL,
					   "cannot listen on %s: port %u is in use%s%s",
					   addr, port, holder[0] ? " by " : "",
					   holder);
				goto out;
			}
			vb_ctl_tail_from((char *)logp.p, mark, 10,
					 &c->log_tail, NULL);
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
	char addr[300];
	int64_t deadline = vb_mono_ms() + c->start_timeout_ms;
	pid_t stale = 0;
	off_t mark;
	int retry, rc;

	if (vb_ctl_probe(c, st, e))
		return -1;
	if (st->state == VB_CTL_RUNNING || st->super_pid) {
		if (!(flags & VB_CTL_ENSURE)) {
			if (st->state == VB_CTL_RUNNING)
				return vb_err_set(e, VB_E_STATE,
						  "already running (pid %ld) with data dir %s",
						  (long)st->pid,
						  (char *)c->dir.p);
			return vb_err_set(e, VB_E_STATE,
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
	if (st->state == VB_CTL_STALE)
		stale = st->pid;
	if (access((char *)c->bin.p, X_OK) != 0)
		return vb_err_sys(e, VB_E_CONFIG,
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
	choose_addr(c, last, addr, sizeof(addr));
	{
		struct vb_buf logp = VB_BUF_INIT;
		struct stat sb;

		vb_ctl_file(c, "server.log", &logp);
		mark = stat((char *)logp.p, &sb) == 0 ? sb.st_size : 0;
		vb_buf_release(&logp);
	}
	vb_buf_reset(&c->log_tail);
	if (stale && log_check(c, e,
			       "stale pidfile (pid %ld): the last server died without cleaning up",
			       (long)stale))
		return -1;
	if (log_check(c, e, "starting %s (%s) on %s, data dir %s",
		      (char *)c->bin.p, c->upstream ? "upstream" : "bundled",
		      addr, (char *)c->dir.p))
		return -1;
	rc = start_once(c, addr, mark, st, &retry, e);
	if (rc && retry) {
		/* The default port was taken between our probe and the bind. */
		if (c->upstream)
			snprintf(addr, sizeof(addr), "127.0.0.1:%u",
				 vb_ctl_pick_port("127.0.0.1"));
		else
			strlcpy(addr, "127.0.0.1:0", sizeof(addr));
		rc = start_once(c, addr, mark, st, &retry, e);
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
	if (st.state == VB_CTL_RUNNING && st.pid > 0)
		kill(st.pid, SIGTERM);
	if (!wait_released((char *)pidp.p, c->stop_timeout_ms)) {
		if (vb_ctl_lock_probe((char *)pidp.p, &exists, &pid, NULL) > 0 &&
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
	/* A read-only or foreign dir: stopping needs no lock file. */
	rc = stop_locked(c, killed, e);
	if (fd >= 0)
		close(fd);
	return rc;
}

int vb_ctl_restart(struct vb_ctl *c, struct vb_ctl_status *st,
		   struct vb_err *e)
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
	const char *argv[16];
	char addr[300];

	if (vb_ctl_prepare_dir(c, e))
		return -1;
	choose_addr(c, NULL, addr, sizeof(addr));
	if (c->upstream) {
		struct vb_buf u = VB_BUF_INIT, p = VB_BUF_INIT;

		if (vb_ctl_make_credentials(c, &u, &p, e))
			return -1;
		upstream_tls_file(c, STDERR_FILENO);
		setenv_upstream(c, addr, (char *)u.p, (char *)p.p);
		execl((char *)c->bin.p, (char *)c->bin.p, (char *)NULL);
	} else {
		daemon_argv(c, addr, 0, argv);
		execv((char *)c->bin.p, (char *const *)argv);
	}
	return vb_err_sys(e, VB_E_UNAVAIL, "cannot execute %s",
			  (char *)c->bin.p);
}
