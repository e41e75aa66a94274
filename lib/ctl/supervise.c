/*
 * The supervisor: the body of vibes-supervise, a program of its own that
 * vb_ctl_start execs (so that `ps` names it, and nothing of the tool that
 * happened to start it lives on for hours).
 *
 * One process, one poll loop (runsv, s6-supervise): a self-pipe for
 * signals, the daemon's readiness pipe, and the health check's connection.
 * It talks back to the starter over one pipe, one line per event:
 *   "super PID"        it holds supervise.lock
 *   "ready ADDR PID"   the daemon is ready on ADDR
 *   "fail CODE WHY"    the first start failed; nothing is left running
 * and closes the pipe after the first "ready" or "fail".
 *
 * Health, not only liveness: once the daemon is ready it gets a PING (a
 * real Iggy request, through lib/client, on a fresh connection) every
 * VB_CTL_PING_INTERVAL_MS.  A daemon that answered none for VB_CTL_HANG_MS
 * (hung, stopped by SIGSTOP, wedged in a loop) is killed with SIGKILL and
 * restarted like any crashed one, and server.log says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/path.h"
#include "base/vb_exit.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"
#include "base/banned.h"

struct sv {
	struct vb_ctl *c;
	char *const *args;    /* more daemon arguments (NULL-terminated) */
	char addr[300];	      /* address for the next spawn */
	char http[300];	      /* its HTTP address; "" for none */
	char ready_addr[300]; /* address of the running daemon */
	int logfd;
	int notify; /* -1 once the starter has been answered */
	int selfpipe[2];
	pid_t child;
	int readyfd; /* bundled daemon's readiness pipe */
	char rbuf[512];
	size_t rlen;
	int ready;
	int pidlock; /* upstream: server.pid held for the child */
	int want_down;
	unsigned restarts;
	int64_t deaths[VB_CTL_MAX_DEATHS];
	unsigned ndeaths;
	int64_t next_spawn;
	int64_t next_probe; /* upstream readiness polling */
	char last_exit[128];
	/* health */
	struct vb_client hc; /* the ping's connection */
	int pinging;	     /* a PING is in flight on hc */
	int64_t ping_sent;
	int64_t next_ping;
	int64_t last_answer; /* when it last answered (or became ready) */
	int answering;	     /* its last ping was answered */
	int hung;	     /* killed for answering no ping */
	off_t log_mark;	     /* server.log's size at the last spawn */
	int keep_addrs;	     /* the next spawn keeps addr and http */
	/* the end */
	int done;
	int code; /* what vb_ctl_supervise returns */
	char gave_up[256];
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
	vb_buf_printf(
		&text,
		"pid=%ld\nserver_pid=%ld\nrestarts=%u\naddr=%s\nready=%d\nanswering=%d\nlast_exit=%s\n",
		(long)getpid(), (long)s->child, s->restarts, s->ready_addr,
		s->ready, s->answering, s->last_exit);
	if (s->gave_up[0])
		vb_buf_printf(&text, "gave_up=%s\n", s->gave_up);
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
			 WTERMSIG(status),
			 sigabbrev_np(WTERMSIG(status)) ?
				 sigabbrev_np(WTERMSIG(status)) :
				 "?");
	else
		snprintf(out, sz, "ended with wait status %#x", status);
}

/* Forks and execs the daemon; returns 0 or -1 with the reason logged. */
static int sv_spawn(struct sv *s)
{
	struct vb_ctl *c = s->c;
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT;
	const char *argv[64];
	struct vb_err e;
	sigset_t all, old;
	int rp[2] = { -1, -1 }, n = 0;
	struct stat lst;
	pid_t pid;

	vb_err_clear(&e);
	/* what it says from here on is its own (port_taken) */
	s->log_mark = fstat(s->logfd, &lst) == 0 ? lst.st_size : 0;
	if (c->upstream) {
		struct vb_buf path = VB_BUF_INIT;

		vb_ctl_upstream_tls_file(c, s->logfd);
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
	argv[n++] = (char *)c->bin.p;
	if (!c->upstream) {
		argv[n++] = "--data-dir";
		argv[n++] = (char *)c->dir.p;
		argv[n++] = "--addr";
		argv[n++] = s->addr;
		argv[n++] = "--ready-fd";
		argv[n++] = "3";
		if (s->http[0]) {
			argv[n++] = "--http";
			argv[n++] = s->http;
		} else {
			argv[n++] = "--no-http";
		}
		n += (int)vb_ctl_tls_args(c, argv + n);
	}
	for (int i = 0; s->args && s->args[i] && n < 63; i++)
		argv[n++] = s->args[i];
	argv[n] = NULL;
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
		if (c->upstream)
			vb_ctl_setenv_upstream(c, s->addr, (char *)user.p,
					       (char *)pass.p);
		execv(argv[0], (char *const *)argv);
		dprintf(2, "vibes-supervise: cannot execute %s: %s\n", argv[0],
			strerror(errno));
		_exit(VB_CTL_EX_EXEC_FAILED);
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
	s->hung = 0;
	s->next_probe = vb_mono_ms() + 100;
	if (s->pidlock >= 0)
		vb_ctl_lock_write_pid(s->pidlock, pid);
	vb_ctl_log(s->logfd, "supervisor: started %s (pid %ld) on %s%s%s",
		   (char *)c->bin.p, (long)pid, s->addr,
		   s->http[0] && !c->upstream ? ", HTTP on " : "",
		   c->upstream ? "" : s->http);
	/* Up, not ready yet: status says "starting" meanwhile. */
	sv_write_state(s);
	return 0;
}

static void sv_on_ready(struct sv *s, const char *addr)
{
	int64_t now = vb_mono_ms();

	strlcpy(s->ready_addr, addr, sizeof(s->ready_addr));
	s->ready = 1;
	s->answering = 1;
	s->last_answer = now;
	s->next_ping = now + VB_CTL_PING_INTERVAL_MS;
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
	char addr[300] = "", *nl;
	const char *p = s->rbuf;

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

/* Ends supervision: nothing is left running. */
static void sv_end(struct sv *s, int code)
{
	if (s->child > 0) {
		kill(s->child, SIGKILL);
		while (waitpid(s->child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	s->child = 0;
	s->ready = 0;
	sv_write_state(s);
	s->done = 1;
	s->code = code;
}

/*
 * A restart found the port it was given (the one it had, free when it
 * was chosen) taken meanwhile, by another server or program: when that
 * address was not asked for, the next spawn takes one of the kernel's
 * choice instead of giving up (1).  Once only: a port of the kernel's
 * choice cannot be taken.
 */
static int port_taken(struct sv *s)
{
	enum vb_ctl_taken taken = vb_ctl_port_taken(s->c, s->log_mark);

	if (taken == VB_CTL_TAKEN_HTTP) {
		if (s->c->http_explicit || strcmp(s->http, "127.0.0.1:0") == 0)
			return 0;
		vb_ctl_log(s->logfd,
			   "supervisor: HTTP port %s was taken "
			   "meanwhile; restarting with one of the kernel's "
			   "choice",
			   s->http);
		strlcpy(s->http, "127.0.0.1:0", sizeof(s->http));
		return 1;
	}
	if (taken == VB_CTL_TAKEN_TCP && !s->c->addr_explicit &&
	    strcmp(s->addr, "127.0.0.1:0")) {
		vb_ctl_log(s->logfd,
			   "supervisor: port %s was taken "
			   "meanwhile; restarting on one of the kernel's "
			   "choice",
			   s->addr);
		strlcpy(s->addr, "127.0.0.1:0", sizeof(s->addr));
		return 1;
	}
	return 0;
}

/* Handles the daemon's death: decides between the end and a restart. */
static void sv_on_death(struct sv *s, int status)
{
	char how[128];
	int64_t now = vb_mono_ms();
	unsigned i, n = 0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	describe_status(status, how, sizeof(how));
	if (s->hung)
		snprintf(how, sizeof(how),
			 "answered no ping for %d s and was killed (SIGKILL)",
			 VB_CTL_HANG_MS / 1000);
	strlcpy(s->last_exit, how, sizeof(s->last_exit));
	s->child = 0;
	s->ready = 0;
	s->answering = 0;
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
		vb_ctl_log(s->logfd,
			   "supervisor: server %s; stopped on request", how);
		sv_end(s, 0);
		return;
	}
	if (s->notify >= 0) {
		/* Never ready: a failed start is reported, not retried. */
		vb_ctl_log(s->logfd, "supervisor: server %s during startup",
			   how);
		sv_notify(s, "fail %d server %s during startup", code, how);
		sv_answered(s);
		snprintf(s->gave_up, sizeof(s->gave_up),
			 "server %s during startup", how);
		sv_end(s, 1);
		return;
	}
	if (code == 0) {
		vb_ctl_log(s->logfd,
			   "supervisor: server exited cleanly (stopped by someone else); supervision ends");
		sv_end(s, 0);
		return;
	}
	if (code == VB_EX_CONFIG && port_taken(s)) {
		s->next_spawn = now;
		s->keep_addrs = 1;
		return;
	}
	if (code == VB_EX_CONFIG || code == VB_CTL_EX_EXEC_FAILED) {
		vb_ctl_log(s->logfd,
			   "supervisor: server %s: permanent failure, not restarting",
			   how);
		snprintf(s->gave_up, sizeof(s->gave_up),
			 "server %s: a permanent failure (see server.log)",
			 how);
		sv_end(s, 1);
		return;
	}
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
		snprintf(s->gave_up, sizeof(s->gave_up),
			 "%u deaths within %d s, the last: server %s", n,
			 VB_CTL_DEATH_WINDOW, how);
		sv_end(s, 1);
		return;
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

/* ---- health ---- */

static void sv_ping_done(struct sv *s, int64_t now, const char *failed)
{
	vb_client_close(&s->hc);
	s->pinging = 0;
	s->next_ping = now + VB_CTL_PING_INTERVAL_MS;
	if (failed == NULL) {
		s->last_answer = now;
		if (!s->answering) {
			vb_ctl_log(s->logfd,
				   "supervisor: server (pid %ld) answers again",
				   (long)s->child);
			s->answering = 1;
			sv_write_state(s);
		}
		return;
	}
	if (s->answering) {
		vb_ctl_log(s->logfd,
			   "supervisor: server (pid %ld) did not answer a ping: %s",
			   (long)s->child, failed);
		s->answering = 0;
		sv_write_state(s);
	}
}

/* Sends a PING on a fresh connection; the loop waits for its answer. */
static void sv_ping_start(struct sv *s, int64_t now)
{
	struct vb_req r;
	struct vb_err e;

	s->hc.timeout_ms = VB_CTL_PING_TIMEOUT_MS;
	if (vb_client_set_addr(&s->hc, s->ready_addr, &e)) {
		sv_ping_done(s, vb_mono_ms(), e.msg);
		return;
	}
	/* a TLS port: the certificate it names in server.tls */
	vb_ctl_local_tls(s->c, &s->hc);
	if (vb_client_connect(&s->hc, &e)) {
		sv_ping_done(s, vb_mono_ms(), e.msg);
		return;
	}
	vb_req_init(&r, VB_CMD_PING);
	vb_client_queue_req(&s->hc, &r);
	s->pinging = 1;
	s->ping_sent = now;
}

/* The ping's connection is ready: any answer (any status) is a sign of life. */
static void sv_ping_io(struct sv *s)
{
	struct vb_reply rep;
	struct vb_err e;
	int rc;

	vb_err_clear(&e);
	/* A failed transport shows in take, after what came before it. */
	vb_client_pump(&s->hc, NULL);
	rc = vb_client_take(&s->hc, &rep, &e);
	if (rc != 0)
		sv_ping_done(s, vb_mono_ms(), rc > 0 ? NULL : e.msg);
}

/* Timers of the health check; returns how long poll may sleep (ms). */
static int sv_health(struct sv *s, int64_t now)
{
	int64_t wake;

	if (s->child <= 0 || !s->ready || s->hung)
		return -1;
	if (s->pinging && now - s->ping_sent >= VB_CTL_PING_TIMEOUT_MS) {
		char why[64];

		snprintf(why, sizeof(why), "no answer within %d ms",
			 VB_CTL_PING_TIMEOUT_MS);
		sv_ping_done(s, now, why);
	}
	if (now - s->last_answer >= VB_CTL_HANG_MS) {
		vb_ctl_log(s->logfd,
			   "supervisor: server (pid %ld) answered no ping for %d s: killing it (SIGKILL) to restart it",
			   (long)s->child, VB_CTL_HANG_MS / 1000);
		if (s->pinging) {
			vb_client_close(&s->hc);
			s->pinging = 0;
		}
		s->hung = 1;
		kill(s->child, SIGKILL);
		return -1;
	}
	if (!s->pinging && now >= s->next_ping)
		sv_ping_start(s, now);
	wake = s->pinging ? s->ping_sent + VB_CTL_PING_TIMEOUT_MS :
			    s->next_ping;
	if (wake > s->last_answer + VB_CTL_HANG_MS)
		wake = s->last_answer + VB_CTL_HANG_MS;
	return wake > now ? (int)(wake - now) : 0;
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static void sv_run(struct sv *s)
{
	while (!s->done) {
		struct pollfd p[3];
		int np = 0, timeout = -1, status, ready_i = -1, hc_i = -1;
		int64_t now = vb_mono_ms();
		pid_t pid;

		if (sv_term && !s->want_down) {
			s->want_down = 1;
			if (s->child > 0) {
				vb_ctl_log(s->logfd,
					   "supervisor: stop requested; sending SIGTERM to pid %ld",
					   (long)s->child);
				kill(s->child, SIGTERM);
				/* A stopped daemon would never see it. */
				kill(s->child, SIGCONT);
			} else {
				vb_ctl_log(s->logfd,
					   "supervisor: stop requested");
				sv_notify(s,
					  "fail 1 stopped before the server was ready");
				sv_end(s, 0);
				break;
			}
		}
		if (s->child == 0 && !s->want_down) {
			if (now >= s->next_spawn) {
				char last[300];

				strlcpy(last, s->ready_addr, sizeof(last));
				if (s->restarts > 0 && !s->keep_addrs) {
					vb_ctl_choose_addr(s->c, last, s->addr,
							   sizeof(s->addr));
					vb_ctl_choose_http(s->c, s->http,
							   sizeof(s->http));
				}
				s->keep_addrs = 0;
				if (sv_spawn(s)) {
					sv_notify(s,
						  "fail 1 cannot spawn the server (see server.log)");
					strlcpy(s->gave_up,
						"cannot spawn the server (see server.log)",
						sizeof(s->gave_up));
					sv_end(s, 1);
				}
				continue;
			}
			timeout = (int)(s->next_spawn - now);
		}
		if (!s->want_down)
			timeout = min_timeout(timeout, sv_health(s, now));
		p[np].fd = s->selfpipe[0];
		p[np++].events = POLLIN;
		if (s->readyfd >= 0) {
			ready_i = np;
			p[np].fd = s->readyfd;
			p[np++].events = POLLIN;
		}
		if (s->pinging) {
			hc_i = np;
			p[np].fd = s->hc.fd;
			p[np++].events = vb_client_events(&s->hc);
		}
		if (s->child > 0 && s->c->upstream && !s->ready) {
			int t = (int)(s->next_probe - now);

			timeout = min_timeout(timeout, t < 0 ? 0 : t);
		}
		if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
			vb_ctl_sleep_ms(100);
		if (p[0].revents) {
			char b[64];

			while (read(s->selfpipe[0], b, sizeof(b)) > 0)
				;
		}
		if (ready_i >= 0 && p[ready_i].revents && s->readyfd >= 0)
			sv_read_ready(s);
		if (hc_i >= 0 && p[hc_i].revents && s->pinging)
			sv_ping_io(s);
		if (s->child > 0 && s->c->upstream && !s->ready &&
		    vb_mono_ms() >= s->next_probe)
			sv_probe_upstream(s);
		while (!s->done && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == s->child)
				sv_on_death(s, status);
		}
	}
}

int vb_ctl_supervise(const struct vb_ctl_super *o, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	struct sigaction sa;
	struct vb_ctl c;
	struct sv s;
	int lock, rc = -1;

	vb_ctl_init(&c);
	vb_buf_addstr(&c.dir, o->data_dir);
	vb_buf_addstr(&c.bin, o->server_bin);
	c.upstream = o->upstream;
	if (o->addr && vb_ctl_set_addr(&c, o->addr, -1, e))
		goto out;
	if ((o->tls_cert || o->tls_key) &&
	    vb_ctl_set_tls(&c, o->tls_cert, o->tls_key, e))
		goto out;
	if ((o->http || o->no_http) &&
	    vb_ctl_set_http(&c, o->http, o->no_http, e))
		goto out;
	memset(&s, 0, sizeof(s));
	s.c = &c;
	s.args = o->args;
	s.readyfd = -1;
	s.pidlock = -1;
	s.logfd = -1;
	s.selfpipe[0] = s.selfpipe[1] = -1;
	s.notify = o->notify_fd;
	vb_client_init(&s.hc);
	strlcpy(s.addr, o->spawn_addr, sizeof(s.addr));
	if (o->spawn_http && !c.upstream)
		strlcpy(s.http, o->spawn_http, sizeof(s.http));

	vb_ctl_file(&c, "server.log", &path);
	s.logfd = open((char *)path.p,
		       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		       0600);
	if (s.logfd < 0) {
		vb_err_sys(e, errno == EACCES ? VB_E_AUTH : VB_E_IO,
			   "cannot open %s", (char *)path.p);
		sv_notify(&s, "fail 1 %s", e->msg);
		goto out;
	}
	vb_ctl_file(&c, "supervise.lock", &path);
	lock = vb_ctl_lock_take((char *)path.p, 0, e);
	if (lock < 0) {
		if (e && e->kind == VB_E_TIMEOUT)
			vb_err_set(e, VB_E_STATE, "another supervisor holds %s",
				   (char *)path.p);
		sv_notify(&s, "fail 1 %s", e ? e->msg : "cannot lock");
		goto out;
	}
	vb_ctl_lock_write_pid(lock, getpid());
	if (pipe2(s.selfpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		vb_err_sys(e, VB_E_IO, "pipe");
		sv_notify(&s, "fail 1 %s", e->msg);
		close(lock);
		goto out;
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
	sv_notify(&s, "super %ld", (long)getpid());
	vb_ctl_log(s.logfd, "supervisor: pid %ld supervising %s",
		   (long)getpid(), (char *)c.dir.p);
	sv_run(&s);
	rc = s.code;
	close(lock);
out:
	sv_answered(&s);
	vb_client_release(&s.hc);
	if (s.selfpipe[0] >= 0) {
		close(s.selfpipe[0]);
		close(s.selfpipe[1]);
		sv_wfd = -1;
	}
	if (s.logfd >= 0)
		close(s.logfd);
	vb_buf_release(&path);
	vb_ctl_release(&c);
	return rc;
}
