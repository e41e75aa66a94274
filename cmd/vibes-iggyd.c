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
	"                   [--http HOST:PORT | --no-http] [--no-unix-socket]\n"
	"                   [--fsync never|always|MS] [--segment-size BYTES]\n"
	"                   [--open-segments N] [--index-cache BYTES]\n"
	"                   [--cleaner-ms MS] [--rebalance-ms MS]\n"
	"                   [--max-connections N] [--max-unauthenticated N]\n"
	"                   [--max-input-buffer BYTES] [--max-output BYTES]\n"
	"                   [--login-failures N] [--login-delay-max MS]\n"
	"                   [--heartbeat-ms MS]\n"
	"                   [--tls-cert FILE [--tls-key FILE]]\n"
	"                   [--help] [--version]\n";

/* --help: what TLS does. */
static const char tls_text[] =
	"\n"
	"TLS on the TCP port and HTTPS on the HTTP API (upstream's [tcp.tls]\n"
	"and [http.tls] cert_file and key_file):\n"
	"  --tls-cert FILE           the certificate chain (PEM, the server's\n"
	"                            certificate first): every connection, TCP\n"
	"                            or HTTP, must then begin with a TLS\n"
	"                            handshake (TLS 1.2 or 1.3); a plain client\n"
	"                            is closed\n"
	"  --tls-key FILE            its private key (PEM, no passphrase;\n"
	"                            default: the --tls-cert file)\n"
	"DATA/server.tls then names the certificate, so local tools connect\n"
	"over TLS and trust exactly it.  Without kernel TLS, polls are\n"
	"encrypted in user space (the log says which, at the first client).\n";

/* --help: the usage, then what each limit does when it is reached. */
static const char limits_text[] =
	"\n"
	"Limits, and what happens when one is reached (logged, at most one\n"
	"line per 10 s for each limit, with a count of what was not logged):\n"
	"  --max-connections N       connections at once (default 1000): one\n"
	"                            more is answered status 8 and closed\n"
	"  --max-unauthenticated N   connections not logged in (default 128):\n"
	"                            a new one closes the oldest of them not\n"
	"                            waiting for a login (status 8), or is\n"
	"                            refused so if all are\n"
	"  --max-input-buffer BYTES  request bytes received and not yet run,\n"
	"                            all connections together (default\n"
	"                            536870912, at least 1048576): no more is\n"
	"                            read until some has run (backpressure); a\n"
	"                            bigger request is refused (status 3,\n"
	"                            closed); if none runs for 1 s, the\n"
	"                            connection holding most is closed\n"
	"  --max-output BYTES        unsent replies of a connection (default\n"
	"                            33554432): its requests wait until its\n"
	"                            client reads (backpressure, not logged)\n"
	"  --login-failures N        failed logins in a row (default 5; 0: no\n"
	"                            limit): the Nth on a connection closes it\n"
	"                            after its answer; after N from one\n"
	"                            address, each further attempt from it\n"
	"                            waits (logged once per address)\n"
	"  --login-delay-max MS      that wait: 100 ms after the address's last\n"
	"                            failure, doubling with each one up to MS\n"
	"                            (default 2000; 0: no wait); a success\n"
	"                            resets both counts\n"
	"Out of file descriptors, the server stops accepting for 250 ms at a\n"
	"time, serving the connections it has.\n";

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

/* A failed start: 75 if it may pass, 78 if no retry fixes it, else 1. */
static int start_status(int fate)
{
	if (fate == VB_FATE_PASSES)
		return VB_EX_TEMPFAIL;
	return fate == VB_FATE_PERMANENT ? VB_EX_CONFIG : 1;
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

/*
 * DATA/server.sock, for the tools that find this server through the data
 * dir (vibes(7), "Finding the server"); none with off (--no-unix-socket,
 * or TLS: every connection is then TLS), and none, said in the log, when
 * the data dir's path is too long for a socket's name.  A socket left
 * there goes: no tool tries it in vain.
 */
static int local_socket(struct vb_broker *b, const char *dir, int off,
			struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int rc = 0;

	vb_path_fmt(&path, "%s/server.sock", dir);
	if (off) {
		if (unlink((char *)path.p) < 0 && errno != ENOENT)
			rc = vb_err_sys(e, VB_E_IO, "cannot remove %s",
					(char *)path.p);
	} else if (vb_broker_listen_unix(b, (char *)path.p, e) < 0) {
		if (e->kind == VB_E_USAGE) {
			char line[sizeof(e->msg) + 64];

			snprintf(line, sizeof(line),
				 "no local socket: %s; tools use the TCP port",
				 e->msg);
			log_line(NULL, line);
			vb_err_clear(e);
		} else {
			rc = -1;
		}
	}
	vb_buf_release(&path);
	return rc;
}

int main(int argc, char **argv)
{
	enum {
		OPT_SEGMENT = 256,
		OPT_CLEANER,
		OPT_REBALANCE,
		OPT_LOGIN_FAILS,
		OPT_LOGIN_DELAY,
		OPT_MAX_CONNS,
		OPT_MAX_UNAUTH,
		OPT_MAX_INPUT,
		OPT_MAX_OUTPUT,
		OPT_HTTP,
		OPT_NO_HTTP,
		OPT_NO_UNIX,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_HEARTBEAT,
		OPT_OPEN_SEGS,
		OPT_INDEX_CACHE,
	};
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "cleaner-ms", required_argument, NULL, OPT_CLEANER },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "no-http", no_argument, NULL, OPT_NO_HTTP },
		{ "no-unix-socket", no_argument, NULL, OPT_NO_UNIX },
		{ "login-delay-max", required_argument, NULL, OPT_LOGIN_DELAY },
		{ "login-failures", required_argument, NULL, OPT_LOGIN_FAILS },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-input-buffer", required_argument, NULL, OPT_MAX_INPUT },
		{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
		{ "max-unauthenticated", required_argument, NULL,
		  OPT_MAX_UNAUTH },
		{ "index-cache", required_argument, NULL, OPT_INDEX_CACHE },
		{ "open-segments", required_argument, NULL, OPT_OPEN_SEGS },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "rebalance-ms", required_argument, NULL, OPT_REBALANCE },
		{ "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT },
		{ "segment-size", required_argument, NULL, OPT_SEGMENT },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_broker_opts o;
	struct vb_http_opts ho;
	struct vb_broker *b;
	struct vb_err e;
	struct pidfh *pfh;
	struct rlimit rl;
	const char *addr = "127.0.0.1:8090", *dir_opt = NULL, *dir, *pidpath;
	struct vb_buf dirb = VB_BUF_INIT, pidb = VB_BUF_INIT;
	char user[256], pass[256], ready[128], http[128], *cert = NULL;
	char *key = NULL;
	int ready_fd = -1, ch, rc, status = VB_EX_CONFIG, no_http = 0;
	int no_unix = 0;
	pid_t other = -1;

	memset(&o, 0, sizeof(o));
	o.fsync = VB_FSYNC_INTERVAL;
	o.fsync_ms = 1000;
	o.segment_size = VB_SEG_DEFAULT_SIZE;
	o.open_segments = VB_OPEN_SEGS_DEFAULT;
	o.index_cache = VB_INDEX_CACHE_DEFAULT;
	o.cleaner_ms = 1000;
	o.rebalance_ms = 30000;
	o.heartbeat_ms = 30000;
	vb_limits_init(&o.lim);
	/* upstream's default; taken, another port (--http makes it a must) */
	memset(&ho, 0, sizeof(ho));
	ho.addr = "127.0.0.1:3000";
	ho.fallback = 1;
	/* tests only: answer the waiting polls as upstream 0.8.0 does (3) */
	o.no_wait_poll = getenv("VIBES_TEST_NO_WAIT_POLL") != NULL;
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
				o.fsync_ms = (unsigned)number(optarg, 1,
							      3600000,
							      "--fsync");
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(limits_text, stdout);
			fputs(tls_text, stdout);
			return VB_EX_OK;
		case 'r':
			ready_fd = (int)number(optarg, 0, 1 << 20,
					       "--ready-fd");
			break;
		case 'V':
			puts("vibes-iggyd " VB_VERSION
			     " (Iggy 0.8.0 protocol)");
			return VB_EX_OK;
		case OPT_SEGMENT:
			o.segment_size = (uint64_t)number(optarg, 4096,
							  VB_SEG_HARD_MAX / 2,
							  "--segment-size");
			break;
		case OPT_OPEN_SEGS:
			o.open_segments = (unsigned)number(optarg, 1, 1 << 20,
							   "--open-segments");
			break;
		case OPT_INDEX_CACHE:
			o.index_cache = (uint64_t)number(optarg, 16384,
							 1ll << 40,
							 "--index-cache");
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
		case OPT_HTTP:
			ho.addr = optarg;
			ho.fallback = 0;
			no_http = 0;
			break;
		case OPT_NO_UNIX:
			no_unix = 1;
			break;
		case OPT_NO_HTTP:
			no_http = 1;
			break;
		case OPT_LOGIN_FAILS:
			o.lim.login_failures = (unsigned)
				number(optarg, 0, 1000000, "--login-failures");
			break;
		case OPT_MAX_CONNS:
			o.lim.max_conns = (unsigned)number(optarg, 1, 1000000,
							   "--max-connections");
			break;
		case OPT_MAX_UNAUTH:
			o.lim.max_unauth = (unsigned)
				number(optarg, 1, 1000000,
				       "--max-unauthenticated");
			break;
		case OPT_MAX_INPUT:
			o.lim.max_input = (uint64_t)
				number(optarg, VB_MIN_MAX_INPUT, 1ll << 40,
				       "--max-input-buffer");
			break;
		case OPT_MAX_OUTPUT:
			o.lim.max_output = (uint64_t)number(optarg, 4096,
							    1ll << 40,
							    "--max-output");
			break;
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
			/*
			 * Absolute, for DATA/server.tls and for a data dir
			 * reached from elsewhere; a missing file is said by
			 * vb_broker_open, with OpenSSL's words for the rest.
			 */
			free(ch == OPT_TLS_CERT ? cert : key);
			if (ch == OPT_TLS_CERT)
				cert = realpath(optarg, NULL);
			else
				key = realpath(optarg, NULL);
			if ((ch == OPT_TLS_CERT ? cert : key) == NULL)
				errx(VB_EX_CONFIG, "%s %s: %s",
				     ch == OPT_TLS_CERT ? "--tls-cert" :
							  "--tls-key",
				     optarg, strerror(errno));
			break;
		case OPT_LOGIN_DELAY:
			o.lim.login_delay_max_ms = (unsigned)
				number(optarg, 0, 3600000, "--login-delay-max");
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (key && !cert) {
		warnx("--tls-key needs --tls-cert");
		usage();
	}
	o.tls_cert = cert;
	o.tls_key = key;
	/* the HTTP API speaks HTTPS with the same certificate */
	ho.tls_cert = cert;
	ho.tls_key = key;
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
	if (vb_path_mkdir_durable(dir, 0700, &e) < 0)
		errx(start_status(vb_daemon_fate(&e)), "data dir %s: %s", dir,
		     e.msg);
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
		err(start_status(vb_daemon_errno_fate(errno)),
		    "data dir %s: cannot open %s", dir, pidpath);
	}
	vb_buf_release(&pidb);
	fcntl(pidfile_fileno(pfh), F_SETFD, FD_CLOEXEC);
	if (pidfile_write(pfh) < 0) {
		status = start_status(vb_daemon_errno_fate(errno));
		warn("cannot write server.pid");
		goto fail;
	}
	if (vb_daemon_credentials(dir, user, sizeof(user), pass, sizeof(pass),
				  &e) < 0) {
		warnx("%s", e.msg);
		status = start_status(vb_daemon_fate(&e));
		goto fail;
	}
	o.dir = dir;
	o.root_user = user;
	o.root_pass = pass;
	o.log = log_line;
	if (vb_broker_open(&b, &o, &e) < 0) {
		warnx("%s", e.msg);
		status = start_status(vb_daemon_fate(&e));
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
		status = start_status(vb_daemon_fate(&e));
		goto fail;
	}
	if (local_socket(b, dir, no_unix || cert, &e) < 0) {
		warnx("%s", e.msg);
		vb_broker_close(b, NULL);
		status = start_status(vb_daemon_fate(&e));
		goto fail;
	}
	if (!no_http && vb_http_listen(b, &ho, &e) < 0) {
		if (e.sys == EADDRINUSE)
			warnx("cannot listen for HTTP on %s: address already "
			      "in use",
			      ho.addr);
		else
			warnx("%s", e.msg);
		vb_broker_close(b, NULL);
		if (e.kind != VB_E_STATE && e.kind != VB_E_USAGE)
			status = 1;
		goto fail;
	}
	/* server.tls first: a tool reading server.addr then finds it */
	if (vb_daemon_write_tls(dir, cert, &e) < 0 ||
	    vb_daemon_write_addr(dir, b->ip, b->port, &e) < 0 ||
	    vb_daemon_write_http_addr(dir, b->http ? b->http_ip : NULL,
				      b->http_port, &e) < 0) {
		warnx("%s", e.msg);
		vb_broker_close(b, NULL);
		status = start_status(vb_daemon_fate(&e));
		goto fail;
	}
	/* http.addr is there before the ready line (vibes-iggyctl reads it) */
	if (b->http) {
		snprintf(http, sizeof(http), "HTTP API on %s://%s%s%s:%u",
			 vb_http_is_tls(b) ? "https" : "http",
			 strchr(b->http_ip, ':') ? "[" : "", b->http_ip,
			 strchr(b->http_ip, ':') ? "]" : "", b->http_port);
		log_line(NULL, http);
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
	free(cert);
	free(key);
	return rc < 0 ? 1 : VB_EX_OK;
fail:
	pidfile_remove(pfh);
	vb_buf_release(&dirb);
	free(cert);
	free(key);
	return status;
}
