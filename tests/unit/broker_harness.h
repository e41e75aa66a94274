/*
 * broker_harness.h - runs the real vibes-iggyd for the broker tests: a
 * fresh data dir, 127.0.0.1:0, readiness read from a pipe on fd 3.
 * Header-only (static inline functions) so each test program stays one file.
 */
#ifndef VB_BROKER_HARNESS_H
#define VB_BROKER_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"

struct srv {
	pid_t pid;
	char dir[512];	/* data dir */
	char addr[128]; /* HOST:PORT from the ready line */
	char user[128];
	char pass[128];
};

static inline const char *srv_bin(void)
{
	static char path[4096];
	char exe[4096];
	ssize_t n;

	if (getenv("VIBES_IGGYD"))
		return getenv("VIBES_IGGYD");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return "vibes-iggyd";
	exe[n] = 0;
	/* build/tests/unit/test_x -> build/cmd/vibes-iggyd */
	snprintf(path, sizeof(path), "%s/../../cmd/vibes-iggyd", dirname(exe));
	return path;
}

/* A new empty data dir under $TMPDIR. */
static inline void srv_mkdir(struct srv *s)
{
	const char *t = getenv("TMPDIR");

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/vibes-broker.XXXXXX",
		 t && *t ? t : "/tmp");
	if (mkdtemp(s->dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static inline int srv_read_creds(struct srv *s)
{
	char path[600], line[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/credentials", s->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "username=", 9) == 0)
			strlcpy(s->user, line + 9, sizeof(s->user));
		else if (strncmp(line, "password=", 9) == 0)
			strlcpy(s->pass, line + 9, sizeof(s->pass));
	}
	fclose(f);
	return 0;
}

/*
 * Starts the daemon on s->dir with extra arguments (NULL-terminated list,
 * may be NULL).  Returns 0 once it said ready, -1 if it exited first.
 */
static inline int srv_start_args(struct srv *s, const char *const *extra)
{
	const char *argv[32];
	int fds[2], n = 0, logfd;
	char path[600], buf[256];
	size_t got = 0;

	argv[n++] = srv_bin();
	argv[n++] = "--data-dir";
	argv[n++] = s->dir;
	argv[n++] = "--addr";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/server.log", s->dir);
	s->pid = fork();
	if (s->pid == 0) {
		/* Dies with the test; holds none of its output pipes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		logfd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		dup2(fds[1], 3);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 30000) <= 0)
			break;
		r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = 0;
		if (strchr(buf, '\n'))
			break;
	}
	close(fds[0]);
	if (got < 7 || strncmp(buf, "ready ", 6) != 0) {
		int st;

		waitpid(s->pid, &st, 0);
		s->pid = 0;
		return -1;
	}
	buf[strcspn(buf, "\n")] = 0;
	strlcpy(s->addr, buf + 6, sizeof(s->addr));
	return srv_read_creds(s);
}

static inline int srv_start(struct srv *s)
{
	return srv_start_args(s, NULL);
}

/* SIGTERM and wait; returns the exit status (or 128+signal). */
static inline int srv_stop(struct srv *s)
{
	int st = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline void srv_kill9(struct srv *s)
{
	int st;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
}

static inline void srv_rmdir(struct srv *s)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", s->dir);
}

/* Connects (and logs in as root when login is set); -1 on failure. */
static inline int srv_client(struct srv *s, struct vb_client *c, int login)
{
	struct vb_err e;

	vb_client_init(c);
	if (vb_client_set_addr(c, s->addr, &e) < 0 ||
	    vb_client_connect(c, &e) < 0) {
		fprintf(stderr, "connect %s: %s\n", s->addr, e.msg);
		return -1;
	}
	if (login && vb_client_login(c, s->user, s->pass, NULL, &e) < 0) {
		fprintf(stderr, "login: %s\n", e.msg);
		return -1;
	}
	return 0;
}

#endif
