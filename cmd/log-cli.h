/*
 * log-cli.h - the options vibes-append, vibes-poll and vibes-seek share:
 * where the server is, how to log in, which stream and topic.
 *
 * Included by exactly those three mains; everything is static.
 */
#ifndef VB_LOG_CLI_H
#define VB_LOG_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/parse.h"
#include "base/path.h"
#include "base/vb_exit.h"
#include "ctl/ctl.h"
#include "log/log.h"

#ifndef VB_VERSION
#define VB_VERSION "unknown"
#endif

enum {
	OPT_SERVER = 1000,
	OPT_USER,
	OPT_PASSWORD,
	OPT_DATA_DIR,
	OPT_PARTITIONS,
	OPT_TIMEOUT,
	OPT_PROTOCOL,
	OPT_TLS_CA,
	OPT_FIRST_OWN, /* each command numbers its own from here */
};

/* One option per line, help text as it prints (t4000 reads both). */
/* clang-format off */
#define CLI_LONGOPTS \
	{ "server", required_argument, NULL, OPT_SERVER }, \
	{ "user", required_argument, NULL, OPT_USER }, \
	{ "password-file", required_argument, NULL, OPT_PASSWORD }, \
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR }, \
	{ "stream", required_argument, NULL, 's' }, \
	{ "topic", required_argument, NULL, 't' }, \
	{ "partitions", required_argument, NULL, OPT_PARTITIONS }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "protocol", required_argument, NULL, OPT_PROTOCOL }, \
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "version", no_argument, NULL, 'V' }

#define CLI_SHORTOPTS "s:t:vhV"

#define CLI_HELP \
"Server and log:\n" \
"      --server ADDR       host:port, iggy://user:pass@host:port or a profile\n" \
"                          name from $XDG_CONFIG_HOME/vibes/servers (default:\n" \
"                          $VIBES_IGGY_ADDR, else DATA/server.addr, else\n" \
"                          127.0.0.1:8090; unless given, a bundled server is\n" \
"                          started when none answers); iggys://... or\n" \
"                          ...?tls=true&tls_domain=NAME for TLS\n" \
"      --tls-ca FILE       TLS: trust the CA certificates of FILE (PEM; default\n" \
"                          the URL's tls_ca_file, else $VIBES_IGGY_TLS_CA, else\n" \
"                          the system's)\n" \
"      --user NAME         user (default $VIBES_IGGY_USERNAME, else\n" \
"                          DATA/credentials, else iggy)\n" \
"      --password-file FILE\n" \
"                          read the password from the first line of FILE\n" \
"                          (default $VIBES_IGGY_PASSWORD, else\n" \
"                          DATA/credentials, else iggy)\n" \
"      --data-dir DIR      data dir (default $VIBES_IGGY_DATA_DIR, else\n" \
"                          $XDG_DATA_HOME/vibes/iggy, else ~/.local/share/vibes/iggy)\n" \
"  -s, --stream NAME       stream (default vibes)\n" \
"  -t, --topic NAME        topic (default events)\n" \
"      --partitions N      partitions when the topic is created (default 8)\n" \
"      --timeout DURATION  per-request timeout (default 10s)\n" \
"      --protocol VERSION  the Iggy protocol: 0.8, 0.9 or auto (default\n" \
"                          $VIBES_IGGY_PROTOCOL, else auto: what the address\n" \
"                          spoke last, else a probe finds; also\n" \
"                          ?protocol=VERSION in an iggy:// address)\n" \
"  -v, --verbose           say more on stderr (a server it started, too)\n" \
"  -h, --help              show this help\n" \
"  -V, --version           show the version\n" \
"\n" \
"DURATION is a number with a unit us, ms, s, m or h (a bare number means\n" \
"seconds); TIMESTAMP is RFC 3339 (2024-05-01T12:00:00Z) or a number since\n" \
"the epoch with a unit s, ms or us (1733050000s; a bare number is refused).\n"

#define CLI_EXIT_HELP \
"Exit status: 0 ok, 1 partial failure or server error, 2 usage,\n" \
"65 bad input data, 69 server unavailable, 74 I/O error, 75 timeout,\n" \
"77 authentication, permission or a TLS certificate refused.\n"
/* clang-format on */

struct cli {
	const char *prog;
	char pass[256]; /* --password-file */
	const char *usage;
	struct vb_ctl_opts ctl;
	const char *stream;
	const char *topic;
	uint32_t partitions;
	int verbose;
	struct vb_client c;
	struct vb_log log;
};

static void cli_init(struct cli *cl, const char *prog, const char *usage)
{
	memset(cl, 0, sizeof(*cl));
	cl->prog = prog;
	cl->usage = usage;
	vb_ctl_opts_init(&cl->ctl);
	cl->stream = VB_LOG_STREAM;
	cl->topic = VB_LOG_TOPIC;
	cl->partitions = VB_LOG_PARTITIONS;
	vb_client_init(&cl->c);
}

static void cli_usage_error(const struct cli *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void cli_usage_error(const struct cli *cl, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", cl->prog);
	exit(VB_EX_USAGE);
}

static void cli_die(const struct cli *cl, const struct vb_err *e)
	__attribute__((noreturn));
static void cli_die(const struct cli *cl, const struct vb_err *e)
{
	fprintf(stderr, "%s: %s\n", cl->prog, e->msg);
	exit(vb_err_exit(e));
}

/* A failure of the tool's own, with its exit status. */
static void cli_die_msg(const struct cli *cl, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn, unused));
static void cli_die_msg(const struct cli *cl, int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cl->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* An option value that must parse; usage error otherwise. */
static void cli_check(const struct cli *cl, const char *opt, int rc,
		      const struct vb_err *e)
{
	if (rc)
		cli_usage_error(cl, "%s: %s", opt, e->msg);
}

/*
 * --password-file: the first line of FILE (a password never goes on a
 * command line, where every user of the machine can read it).
 */
static int cli_read_password(struct cli *cl, const char *file, struct vb_err *e)
{
	struct vb_buf b = VB_BUF_INIT;
	size_t n;
	int rc = -1;

	if (vb_path_read_file(file, &b, 4096, NULL, e) == 0) {
		n = strcspn(b.p ? (char *)b.p : "", "\r\n");
		if (n == 0)
			vb_err_set(e, VB_E_USAGE,
				   "--password-file %s: the first line is empty",
				   file);
		else if (n >= sizeof(cl->pass))
			vb_err_set(e, VB_E_USAGE,
				   "--password-file %s: the password is longer than %zu bytes",
				   file, sizeof(cl->pass) - 1);
		else {
			memcpy(cl->pass, b.p, n);
			cl->pass[n] = 0;
			rc = 0;
		}
	} else
		vb_err_prefix(e, "--password-file");
	if (b.p)
		explicit_bzero(b.p, b.len);
	vb_buf_release(&b);
	return rc;
}

/*
 * "--password SECRET" is refused before getopt sees it (getopt would take
 * it for an abbreviation of --password-file): a password on a command
 * line can be read by every user of the machine.
 */
static void cli_refuse_password(const struct cli *cl, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return;
		if (strcmp(argv[i], "--password") == 0 ||
		    strncmp(argv[i], "--password=", 11) == 0)
			cli_usage_error(
				cl,
				"--password: a password on the command line is visible to every user of this machine (ps, /proc); use --password-file FILE or VIBES_IGGY_PASSWORD");
	}
}

/*
 * A password in --server (iggy://user:pass@host) is on the command line:
 * it works, but every user of this machine can read it.
 */
static void cli_warn_url_password(const struct cli *cl)
{
	const char *s = cl->ctl.server, *at, *sep;

	if (s == NULL || (sep = strstr(s, "://")) == NULL ||
	    (at = strrchr(sep + 3, '@')) == NULL ||
	    memchr(sep + 3, ':', (size_t)(at - sep - 3)) == NULL)
		return;
	fprintf(stderr,
		"%s: warning: the password in --server is visible to every user of this machine (ps, /proc); use VIBES_IGGY_PASSWORD or --password-file\n",
		cl->prog);
}

/* Handles a common option; returns 0 when ch is not one. */
static int cli_option(struct cli *cl, int ch, const char *arg)
{
	struct vb_err e;
	uint64_t v;

	switch (ch) {
	case OPT_SERVER:
		cl->ctl.server = arg;
		return 1;
	case OPT_USER:
		cl->ctl.user = arg;
		return 1;
	case OPT_PASSWORD:
		if (cli_read_password(cl, arg, &e))
			cli_die(cl, &e);
		cl->ctl.pass = cl->pass;
		return 1;
	case OPT_DATA_DIR:
		cl->ctl.data_dir = arg;
		return 1;
	case OPT_TLS_CA:
		cl->ctl.tls_ca = arg;
		return 1;
	case 's':
		cl->stream = arg;
		return 1;
	case 't':
		cl->topic = arg;
		return 1;
	case OPT_PARTITIONS:
		cli_check(cl, "--partitions",
			  vb_parse_u64(arg, 1, 1000, &v, &e), &e);
		cl->partitions = (uint32_t)v;
		return 1;
	case OPT_PROTOCOL:
		if (vb_proto_parse(arg) < 0)
			cli_usage_error(cl,
					"--protocol: '%s': use 0.8, 0.9 or auto",
					arg);
		cl->ctl.protocol = vb_proto_parse(arg);
		return 1;
	case OPT_TIMEOUT:
		cli_check(cl, "--timeout",
			  vb_parse_duration(arg, 3600000000ull, &v, &e), &e);
		cl->ctl.timeout_ms = v < 1000 ? 1 : (int)(v / 1000);
		cl->c.timeout_ms = cl->ctl.timeout_ms;
		return 1;
	case 'v':
		cl->verbose++;
		return 1;
	case 'h':
		fputs(cl->usage, stdout);
		exit(VB_EX_OK);
	case 'V':
		printf("%s %s\n", cl->prog, VB_VERSION);
		exit(VB_EX_OK);
	case '?':
		fprintf(stderr, "Try '%s --help' for more information.\n",
			cl->prog);
		exit(VB_EX_USAGE);
	}
	return 0;
}

/*
 * What finding the server did: a server it started is told with -v; a
 * follower waiting for a server stopped by `vibes-iggyctl stop` always.
 */
static void cli_ctl_notice(void *arg, enum vb_ctl_note what, const char *msg)
{
	const struct cli *cl = arg;

	if (what == VB_CTL_NOTE_STARTED && !cl->verbose)
		return;
	fprintf(stderr, "%s: %s\n", cl->prog, msg);
}

/* vb_log_connect_fn: every tool finds the server the same way. */
static int cli_connect(void *arg, struct vb_client *c, struct vb_err *e)
{
	struct cli *cl = arg;
	char where[300];

	if (vb_ctl_connect(c, &cl->ctl, e))
		return -1;
	if (cl->verbose)
		fprintf(stderr, "%s: speaking Iggy %s to %s%s%s%s%s\n",
			cl->prog, c->framing->name,
			vb_client_addr(c, where, sizeof(where)),
			c->via_unix ? " through " : "",
			c->via_unix ? c->unix_path : "",
			c->redirected[0] ? ", the leader: " : "",
			c->redirected);
	return 0;
}

/* Connects (or dies) and prepares the log (not bootstrapped yet). */
static void cli_open(struct cli *cl, int connect_now)
{
	struct vb_err e;

	if (vb_log_init(&cl->log, &cl->c, cl->stream, cl->topic, cl->partitions,
			&e))
		cli_usage_error(cl, "%s", e.msg);
	cli_warn_url_password(cl);
	cl->ctl.notice = cli_ctl_notice;
	cl->ctl.notice_arg = cl;
	if (connect_now && cli_connect(cl, &cl->c, &e))
		cli_die(cl, &e);
}

static void cli_close(struct cli *cl)
{
	explicit_bzero(cl->pass, sizeof(cl->pass));
	vb_log_release(&cl->log);
	vb_client_release(&cl->c);
}

#endif
