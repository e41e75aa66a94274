/*
 * vibes-supervise - the supervisor of one data dir's server.
 *
 * Started (exec'd) by vibes-iggyctl and by the tools that start the server
 * by themselves, never by hand: all the work is vb_ctl_supervise in
 * lib/ctl; this file parses the options the starter passes and maps the
 * result to an exit status:
 *
 *   0   supervision ended as asked (stopped, or the server exited 0)
 *   1   it gave up (crash loop, permanent failure), the first start
 *       failed, or another supervisor holds supervise.lock
 *   2   usage error
 *   74  I/O error on the data dir (server.log cannot be opened)
 *   77  permission refused on the data dir
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/vb_exit.h"
#include "ctl/ctl.h"
#include "base/banned.h"

#ifndef VB_VERSION
#define VB_VERSION "unknown"
#endif

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-supervise --data-dir DIR --server-bin PATH --spawn-addr HOST:PORT\n"
"                       [--addr HOST:PORT] [--spawn-http HOST:PORT]\n"
"                       [--http HOST:PORT | --no-http]\n"
"                       [--tls-cert FILE [--tls-key FILE]] [--upstream]\n"
"                       [--notify-fd N]\n"
"                       [-- DAEMON-ARGS]\n"
"       vibes-supervise --help | --version\n"
"\n"
"Supervises the server of data dir DIR: spawns it, restarts it when it\n"
"crashes or stops answering pings, and records why in DIR/server.log and\n"
"DIR/supervise.state.  vibes-iggyctl(1) and the tools start it; it is not\n"
"meant to be run by hand.\n"
"\n"
"Options:\n"
"      --data-dir DIR      the data dir (holds supervise.lock while it runs)\n"
"      --server-bin PATH   the server to run (vibes-iggyd, or iggy-server)\n"
"      --spawn-addr HOST:PORT\n"
"                          the address of the first spawn\n"
"      --addr HOST:PORT    the address asked for, kept on restarts (default:\n"
"                          the last one while it is free, else another)\n"
"      --spawn-http HOST:PORT\n"
"                          the HTTP API address of the first spawn\n"
"      --http HOST:PORT    the HTTP address asked for, kept on restarts\n"
"      --no-http           run the server without its HTTP API\n"
"      --tls-cert FILE     TLS on the server's port with this certificate chain\n"
"      --tls-key FILE      the certificate's private key (default: in FILE)\n"
"      --upstream          PATH is an upstream iggy-server (settings through\n"
"                          its environment, readiness by a login)\n"
"      --notify-fd N       tell the starter on fd N: super, ready, fail lines\n"
"      --help              show this help\n"
"      --version           show the version\n"
"\n"
"Exit status: 0 supervision ended as asked, 1 it gave up or the first start\n"
"failed, 2 usage, 74 I/O error, 77 permission refused.\n";
/* clang-format on */

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vibes-supervise: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ntry 'vibes-supervise --help'\n", stderr);
	exit(VB_EX_USAGE);
}

enum {
	OPT_ADDR = 1000,
	OPT_DATA_DIR,
	OPT_HELP,
	OPT_HTTP,
	OPT_NO_HTTP,
	OPT_NOTIFY_FD,
	OPT_SERVER_BIN,
	OPT_SPAWN_ADDR,
	OPT_SPAWN_HTTP,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_UPSTREAM,
	OPT_VERSION,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, OPT_ADDR },
		{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "no-http", no_argument, NULL, OPT_NO_HTTP },
		{ "notify-fd", required_argument, NULL, OPT_NOTIFY_FD },
		{ "server-bin", required_argument, NULL, OPT_SERVER_BIN },
		{ "spawn-addr", required_argument, NULL, OPT_SPAWN_ADDR },
		{ "spawn-http", required_argument, NULL, OPT_SPAWN_HTTP },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "upstream", no_argument, NULL, OPT_UPSTREAM },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_ctl_super o;
	struct vb_err e;
	const char *errstr;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	o.notify_fd = -1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_ADDR:
			o.addr = optarg;
			break;
		case OPT_DATA_DIR:
			o.data_dir = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return VB_EX_OK;
		case OPT_HTTP:
			o.http = optarg;
			break;
		case OPT_NO_HTTP:
			o.no_http = 1;
			break;
		case OPT_NOTIFY_FD:
			o.notify_fd = (int)strtonum(optarg, 0, 1023, &errstr);
			if (errstr)
				usage_error("--notify-fd '%s' is %s", optarg,
					    errstr);
			if (fcntl(o.notify_fd, F_GETFD) < 0)
				usage_error("--notify-fd %d: %s", o.notify_fd,
					    strerror(errno));
			break;
		case OPT_SERVER_BIN:
			o.server_bin = optarg;
			break;
		case OPT_SPAWN_ADDR:
			o.spawn_addr = optarg;
			break;
		case OPT_SPAWN_HTTP:
			o.spawn_http = optarg;
			break;
		case OPT_TLS_CERT:
			o.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o.tls_key = optarg;
			break;
		case OPT_UPSTREAM:
			o.upstream = 1;
			break;
		case OPT_VERSION:
			printf("vibes-supervise %s\n", VB_VERSION);
			return VB_EX_OK;
		default:
			fputs("try 'vibes-supervise --help'\n", stderr);
			return VB_EX_USAGE;
		}
	}
	if (o.data_dir == NULL || o.server_bin == NULL || o.spawn_addr == NULL)
		usage_error(
			"--data-dir, --server-bin and --spawn-addr are needed");
	/* What follows "--" goes to the daemon. */
	o.args = argv + optind;
	/* The daemon must not inherit the starter's pipe. */
	if (o.notify_fd >= 0)
		fcntl(o.notify_fd, F_SETFD, FD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	vb_err_clear(&e);
	rc = vb_ctl_supervise(&o, &e);
	if (rc < 0) {
		/* stderr is server.log when a starter ran us. */
		fprintf(stderr, "vibes-supervise: %s\n", e.msg);
		switch (e.kind) {
		case VB_E_USAGE:
			return VB_EX_USAGE;
		case VB_E_AUTH:
			return VB_EX_NOPERM;
		case VB_E_IO:
			return VB_EX_IOERR;
		default:
			return VB_EX_PARTIAL;
		}
	}
	return rc == 0 ? VB_EX_OK : VB_EX_PARTIAL;
}
