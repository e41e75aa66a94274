/*
 * vibes-iggyd - the bundled Iggy-compatible server (the daemon contract in
 * the project notes; the work is in lib/broker and lib/store).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libutil.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/path.h"
#include "broker/broker.h"
#include "base/vb_exit.h"
#include "base/banned.h"

static const char usage_text[] =
	"usage: vibes-iggyd [--data-dir DIR] [--addr HOST:PORT] [--ready-fd N]\n"
	"                   [--fsync never|always|MS] [--segment-size BYTES]\n"
	"                   [--cleaner-ms MS] [--rebalance-ms MS]\n"
	"                   [--heartbeat-ms MS] [--help] [--version]\n";

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(VB_EX_USAGE);
}

static void log_line(void *arg, const char *line)
{
	uint64_t us = vb_wall_us();
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;
	char when[32];

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ vibes-iggyd: %s\n", when,
		(long)(us / 1000 % 1000), line);
	fflush(stderr);
}

static long long number(const char *s, long long lo, long long hi,
		       const char *what)
{
	const char *errstr;
	long long v = strtonum(s, lo, hi, &errstr);

	if (errstr) {
		warnx("%s '%s' is %s", what, s, errstr);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	enum { OPT_SEGMENT = 256, OPT_CLEANER, OPT_REBALANCE, OPT_HEARTBEAT };
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "cleaner-ms", required_argument, NULL, OPT_CLEANER },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "rebalance-ms", required_argument, NULL, OPT_REBALANCE },
		{ "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT },
		{ "segment-size", required_argument, NULL, OPT_SEGMENT },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_broker_opts o;
	struct vb_broker *b;
	struct vb_err e;
	struct pidfh *pfh;
	struct rlimit rl;
	const char *addr = "127.0.0.1:8090", *dir_opt = NULL, *dir, *pidpath;
	struct vb_buf dirb = VB_BUF_INIT, pidb = VB_BUF_INIT;
	char user[256], pass[256], ready[128];
	int ready_fd = -1, ch, rc, status = VB_EX_CONFIG;
	pid_t other = -1;

	memset(&o, 0, sizeof(o));
	o.fsync = VB_FSYNC_INTERVAL;
	o.fsync_ms = 1000;
	o.segment_size = VB_SEG_DEFAULT_SIZE;
	o.cleaner_ms = 1000;
	o.rebalance_ms = 30000;
	o.heartbeat_ms = 30000;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'd':
			dir_opt = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "never") == 0) {
				o.fsync = VB_FSYNC_NEVER;
			} else if (strcmp(optarg, "always") == 0) {
				o.fsync = VB_FSYNC_ALWAYS;
			} else {
				o.fsync = VB_FSYNC_INTERVAL;
				o.fsync_ms = (unsigned)number(optarg, 1, 3600000,
							      "--fsync");
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return VB_EX_OK;
		case 'r':
			ready_fd = (int)number(optarg, 0, 1 << 20, "--ready-fd");
			break;
		case 'V':
			puts("vibes-iggyd " VB_VERSION " (Iggy 0.8.0 protocol)");
			return VB_EX_OK;
		case OPT_SEGMENT:
			o.segment_size = (uint64_t)number(optarg, 4096,
							  VB_SEG_HARD_MAX / 2,
							  "--segment-size");
			break;
		case OPT_CLEANER:
			o.cleaner_ms = (unsigned)number(optarg, 1, 3600000,
							"--cleaner-ms");
			break;
		case OPT_REBALANCE:
			o.rebalance_ms = (unsigned)number(optarg, 1, 3600000,
							  "--rebalance-ms");
			break;
		case OPT_HEARTBEAT:
			o.heartbeat_ms = (unsigned)number(optarg, 1, 3600000,
							  "--heartbeat-ms");
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (ready_fd >= 0 && fcntl(ready_fd, F_GETFD) < 0)
		errx(VB_EX_USAGE, "--ready-fd %d: not an open descriptor",
		     ready_fd);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	umask(077);

	/* The same resolution as every tool (lib/base/path.c). */
	if (vb_path_data_dir(&dirb, dir_opt, &e) < 0)
		errx(VB_EX_CONFIG, "%s", e.msg);
	dir = (const char *)dirb.p;
	if (vb_path_mkdir_p(dir, 0700, &e) < 0)
		errx(VB_EX_CONFIG, "data dir %s: %s", dir, e.msg);
	pidpath = vb_path_fmt(&pidb, "%s/server.pid", dir);
	/*
	 * A status probe (vibes-iggyctl) holds a shared lock for a few
	 * microseconds; while the pid in the file is not a live process,
	 * that is what a held lock means: try again for a while.  A live
	 * holder is another server: fail at once.
	 */
	for (int tries = 0;; tries++) {
		pfh = pidfile_open(pidpath, 0600, &other);
		if (pfh != NULL || errno != EEXIST || tries == 50 ||
		    (other > 0 && kill(other, 0) == 0))
			break;
		usleep(10000);
	}
	if (pfh == NULL) {
		if (errno == EEXIST)
			errx(VB_EX_CONFIG, "data dir %s is in use by pid %ld",
			     dir, (long)other);
		err(VB_EX_CONFIG, "data dir %s: cannot open %s", dir, pidpath);
	}
	vb_buf_release(&pidb);
	fcntl(pidfile_fileno(pfh), F_SETFD, FD_CLOEXEC);
	if (pidfile_write(pfh) < 0) {
		warn("cannot write server.pid");
		goto fail;
	}
	if (vb_daemon_credentials(dir, user, sizeof(user), pass, sizeof(pass),
				  &e) < 0) {
		warnx("%s", e.msg);
		goto fail;
	}
	o.dir = dir;
	o.root_user = user;
	o.root_pass = pass;
	o.log = log_line;
	if (vb_broker_open(&b, &o, &e) < 0) {
		warnx("%s", e.msg);
		if (e.kind != VB_E_USAGE && e.kind != VB_E_DATA)
			status = 1;
		goto fail;
	}
	explicit_bzero(pass, sizeof(pass));
	if (vb_broker_listen(b, addr, &e) < 0) {
		if (e.sys == EADDRINUSE)
			warnx("cannot listen on %s: address already in use",
			      addr);
		else
			warnx("%s", e.msg);
		vb_broker_close(b, NULL);
		if (e.kind != VB_E_STATE && e.kind != VB_E_USAGE)
			status = 1;
		goto fail;
	}
	if (vb_daemon_write_addr(dir, b->ip, b->port, &e) < 0) {
		warnx("%s", e.msg);
		vb_broker_close(b, NULL);
		goto fail;
	}
	if (ready_fd >= 0) {
		int n = snprintf(ready, sizeof(ready), "ready %s%s%s:%u\n",
				 strchr(b->ip, ':') ? "[" : "", b->ip,
				 strchr(b->ip, ':') ? "]" : "", b->port);

		if (vb_write_all(ready_fd, ready, (size_t)n) < 0)
			warn("--ready-fd %d", ready_fd);
		close(ready_fd);
	}
	rc = vb_broker_run(b, &e);
	if (rc < 0)
		warnx("%s", e.msg);
	if (vb_broker_close(b, &e) < 0) {
		warnx("shutdown: %s", e.msg);
		rc = -1;
	}
	pidfile_remove(pfh);
	if (rc == 0)
		log_line(NULL, "stopped");
	vb_buf_release(&dirb);
	return rc < 0 ? 1 : VB_EX_OK;
fail:
	pidfile_remove(pfh);
	vb_buf_release(&dirb);
	return status;
}
