/*
 * vibes-iggyctl - start, stop, supervise and inspect the local server.
 *
 * All the work is in lib/ctl; this file parses options, calls it, prints
 * and maps the result to an exit status (vb_exit.h):
 *
 *   0   success; `status`: running; `stop`: stopped or was not running
 *   1   `start`: already running (use `ensure`); `status`: running but not
 *       answering a ping (hung, or stopped by a signal); other failures
 *   2   usage error
 *   3   `status`, `env`: not running (stopped, or a stale pidfile)
 *   4   `status`: state unknown (pidfile unreadable)
 *   69  the server could not start: it exited during startup, or the
 *       requested port is in use (the message names the holder); `http`:
 *       it has no HTTP API
 *   74  I/O error on the data dir: read-only, disk full, not a directory
 *   75  timeout: not ready after --timeout (start), or did not stop, or
 *       another vibes-iggyctl kept ctl.lock
 *   77  permission: data dir owned by another user or not writable;
 *       login refused
 */
#include <errno.h>
#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/path.h"
#include "base/vb_exit.h"
#include "ctl/ctl.h"
#include "base/banned.h"

#ifndef VB_VERSION
#define VB_VERSION "unknown"
#endif

#define EX_STATUS_UNKNOWN 4
/* LSB's 1, "dead and the pid file exists", is closest: alive, not working. */
#define EX_NOT_ANSWERING 1

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-iggyctl [--data-dir DIR] [--addr HOST:PORT] [--port N]\n"
"                     [--http HOST:PORT | --no-http] [--server-bin PATH]\n"
"                     [--tls-cert FILE [--tls-key FILE]]\n"
"                     COMMAND [ARGS]\n"
"       vibes-iggyctl --help | --version\n"
"\n"
"Commands:\n"
"  start [--timeout S]     start the server under supervision; fails if running\n"
"  ensure [--timeout S]    start it unless it runs (idempotent, concurrency-safe)\n"
"  stop [--timeout S]      SIGTERM, wait for it to exit, SIGKILL after S (10) s;\n"
"                          the tools do not start it again until start\n"
"  restart [--timeout S]   stop, then start\n"
"  status [--json]         state (running, not answering, starting, stopped),\n"
"                          pid, address, uptime, disk used, supervisor, stats\n"
"  run                     run the server in the foreground (debugging)\n"
"  logs [-f] [-n N]        print the last N (10) lines of server.log; -f follows\n"
"  env                     print export lines for eval \"$(vibes-iggyctl env)\"\n"
"  http [--url] [PATH]     a curl config for the HTTP API: a fresh token (and\n"
"                          the URL of PATH): curl -K <(vibes-iggyctl http /streams)\n"
"\n"
"Global options:\n"
"  -d, --data-dir DIR      data dir (default $VIBES_IGGY_DATA_DIR, else\n"
"                          $XDG_DATA_HOME/vibes/iggy, else ~/.local/share/vibes/iggy;\n"
"                          with VIBES_EVENT_BACKEND=memory one in memory)\n"
"      --addr HOST:PORT    listen address (default 127.0.0.1:8090, another free\n"
"                          port if that one is taken); given, it must be free\n"
"      --port N            listen on 127.0.0.1:N (0: kernel-chosen)\n"
"      --http HOST:PORT    HTTP API address (default the one it had, else\n"
"                          127.0.0.1:3000, else another free port; recorded in\n"
"                          http.addr); given, it must be free\n"
"      --no-http           no HTTP API\n"
"      --server-bin PATH   server binary (default $VIBES_IGGY_SERVER, else the\n"
"                          bundled vibes-iggyd); may be an upstream iggy-server\n"
"      --tls-cert FILE     start, ensure, restart, run: TLS on the server's port\n"
"                          with this certificate chain (PEM; default\n"
"                          $VIBES_IGGY_TLS_CERT, else plain TCP)\n"
"      --tls-key FILE      its private key (PEM; default $VIBES_IGGY_TLS_KEY,\n"
"                          else the --tls-cert file)\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"Command options:\n"
"      --timeout S         start, ensure, stop, restart: seconds to wait\n"
"      --json              status: one JSON object\n"
"  -f, --follow            logs: keep printing what is appended\n"
"  -n, --lines N           logs: how many lines (default 10)\n"
"  -u, --url               http: print the URL only (no login, no token)\n"
"\n"
"A start timeout defaults to 15 s.  The supervisor (vibes-supervise) restarts\n"
"a crashed server (1 s apart, doubling) and gives up after 5 deaths in 60 s or\n"
"on exit 78; it pings the server every 2 s and kills and restarts one that\n"
"answered none for 10 s.  After stop, server.down keeps the tools from\n"
"starting the server by themselves until start, ensure or restart.\n"
"\n"
"Exit status:\n"
"  0   success; status: running\n"
"  1   start: already running (use ensure); status: not answering a ping;\n"
"      other failures\n"
"  2   usage error\n"
"  3   status, env: not running (stopped or stale pidfile)\n"
"  4   status: state unknown (pidfile unreadable)\n"
"  69  the server could not start (exited during startup, port in use);\n"
"      http: it has no HTTP API\n"
"  74  I/O error on the data dir (read-only, disk full)\n"
"  75  timeout (not ready / did not stop in time, ctl.lock busy)\n"
"  77  permission (data dir not yours or not writable, login refused)\n";
/* clang-format on */

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vibes-iggyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ntry 'vibes-iggyctl --help'\n", stderr);
	exit(VB_EX_USAGE);
}

static int fail(const struct vb_err *e)
{
	fprintf(stderr, "vibes-iggyctl: %s\n", e->msg);
	return vb_err_exit(e);
}

static int parse_num(const char *s, long long lo, long long hi,
		     const char *what)
{
	const char *errstr;
	long long v = strtonum(s, lo, hi, &errstr);

	if (errstr)
		usage_error("%s '%s' is %s", what, s, errstr);
	return (int)v;
}

/*
 * The letters vibes-iggyctl once had: say what they are now, since in the
 * other tools -p is a partition, -s a stream and -t a topic.
 */
static void old_letter(int ch)
{
	const char *lng = NULL;

	switch (ch) {
	case 'a':
		lng = "--addr HOST:PORT";
		break;
	case 'p':
		lng = "--port PORT";
		break;
	case 's':
		lng = "--server-bin PATH";
		break;
	case 't':
		lng = "--timeout SECONDS";
		break;
	}
	if (lng)
		fprintf(stderr,
			"vibes-iggyctl: -%c is long only now: %s (in the vibes tools -p is a partition, -s a stream, -t a topic)\n",
			ch, lng);
}

/* Options after a command: only --timeout, --json, -f, -n. */
struct cmd_opts {
	int timeout_s;
	int json;
	int follow;
	int lines;
};

static void parse_cmd_opts(const char *cmd, int argc, char **argv,
			   const char *allowed, struct cmd_opts *o)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "lines", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	/* --timeout is long only: -t is a topic in the other tools. */
	while ((ch = getopt_long(argc, argv, "+fn:", longopts, NULL)) != -1) {
		if (ch == '?')
			old_letter(optopt);
		if (ch == '?' || strchr(allowed, ch) == NULL)
			usage_error("%s: option '%s' not accepted", cmd,
				    argv[optind - 1]);
		switch (ch) {
		case 'f':
			o->follow = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'n':
			o->lines = parse_num(optarg, 0, 10000000, "line count");
			break;
		case 't':
			o->timeout_s = parse_num(optarg, 1, 86400, "timeout");
			break;
		}
	}
	if (optind < argc)
		usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
}

static void human_bytes(uint64_t n, char *out, size_t sz)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, sz, "%llu B", (unsigned long long)n);
	else
		snprintf(out, sz, "%.1f %s", v, unit[u]);
}

static void human_duration(long long s, char *out, size_t sz)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, sz, "%lldd %lldh %lldm %llds", s / 86400,
			 s % 86400 / 3600, s % 3600 / 60, s % 60);
	else if (s >= 3600)
		snprintf(out, sz, "%lldh %lldm %llds", s / 3600, s % 3600 / 60,
			 s % 60);
	else if (s >= 60)
		snprintf(out, sz, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(out, sz, "%llds", s);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/*
 * server.down tells why it is stopped, unless a server started (and died)
 * after it was written.
 */
static int down_story(const struct vb_ctl_status *st)
{
	return st->down[0] && st->down_last;
}

static const char *state_name(const struct vb_ctl_status *st)
{
	switch (st->state) {
	case VB_CTL_RUNNING:
		if (st->answering)
			return "running";
		return st->starting ? "starting" : "not answering";
	case VB_CTL_STALE:
		if (st->super_pid)
			return "restarting";
		return st->gave_up[0] || down_story(st) ? "stopped" : "stale";
	case VB_CTL_STOPPED:
		break;
	}
	return st->super_pid ? "restarting" : "stopped";
}

/* Why a running server does not answer, in words, with what to do. */
static void why_silent(const struct vb_ctl_status *st, char *out, size_t sz)
{
	char sup[128] = "";

	if (st->super_pid)
		snprintf(sup, sizeof(sup),
			 "; its supervisor kills and restarts a server that answers no ping for %d s",
			 VB_CTL_HANG_MS / 1000);
	if (st->proc_state == 'T' || st->proc_state == 't')
		snprintf(out, sz,
			 "%s; the process is stopped by a signal ('kill -CONT %ld' resumes it)%s",
			 st->ping_err, (long)st->pid, sup);
	else
		snprintf(out, sz, "%s%s", st->ping_err, sup);
}

static int cmd_status(struct vb_ctl *c, const struct cmd_opts *o)
{
	struct vb_ctl_status st;
	struct vb_err e;
	char b[64], why[512], cert[4096];
	struct vb_buf url = VB_BUF_INIT;
	int named;
	long long up = 0;
	const char *state;
	int rc;

	vb_err_clear(&e);
	if (vb_ctl_status(c, &st, &e)) {
		if (o->json) {
			printf("{\"state\":\"unknown\",\"data_dir\":");
			json_str((char *)c->dir.p);
			printf(",\"error\":");
			json_str(e.msg);
			printf("}\n");
		}
		fprintf(stderr, "vibes-iggyctl: status unknown: %s\n", e.msg);
		return EX_STATUS_UNKNOWN;
	}
	state = state_name(&st);
	if (st.state == VB_CTL_RUNNING && st.started)
		up = (long long)(time(NULL) - st.started);
	if (st.state == VB_CTL_RUNNING && !st.answering)
		why_silent(&st, why, sizeof(why));
	if (o->json) {
		printf("{\"state\":\"%s\",\"data_dir\":", state);
		json_str((char *)c->dir.p);
		if (st.pid)
			printf(",\"pid\":%ld", (long)st.pid);
		if (st.state == VB_CTL_RUNNING) {
			printf(",\"address\":");
			json_str(st.addr);
			if (st.http_addr[0]) {
				printf(",\"http_address\":");
				json_str(st.http_addr);
			}
			printf(",\"uptime_seconds\":%lld,\"answering\":%s", up,
			       st.answering ? "true" : "false");
			if (!st.answering) {
				printf(",\"ping_error\":");
				json_str(why);
			}
		}
		printf(",\"disk_used_bytes\":%llu",
		       (unsigned long long)st.disk_used);
		if (st.super_pid)
			printf(",\"supervisor_pid\":%ld,\"restarts\":%u",
			       (long)st.super_pid, st.restarts);
		if (st.gave_up[0]) {
			printf(",\"gave_up\":");
			json_str(st.gave_up);
		}
		if (st.down[0]) {
			printf(",\"stopped_by\":");
			json_str(st.down);
		}
		if (st.have_stats)
			printf(",\"streams\":%u,\"topics\":%u,\"partitions\":%u,"
			       "\"messages\":%llu,\"clients\":%u",
			       st.stats.streams_count, st.stats.topics_count,
			       st.stats.partitions_count,
			       (unsigned long long)st.stats.messages_count,
			       st.stats.clients_count);
		else if (st.state == VB_CTL_RUNNING) {
			printf(",\"stats_error\":");
			json_str(st.stats_err);
		}
		printf("}\n");
	} else {
		if (st.state == VB_CTL_RUNNING && !st.answering)
			printf("state:       %s (%s)\n", state, why);
		else if (st.state != VB_CTL_RUNNING && st.super_pid)
			printf("state:       restarting (the supervisor will start it again)\n");
		else if (st.state != VB_CTL_RUNNING && down_story(&st))
			printf("state:       stopped (%s; the tools do not start it by themselves until 'vibes-iggyctl start')\n",
			       st.down);
		else if (st.state != VB_CTL_RUNNING && st.gave_up[0])
			printf("state:       stopped (the supervisor gave up: %s)\n",
			       st.gave_up);
		else if (st.state == VB_CTL_STALE)
			printf("state:       stopped (stale pidfile: pid %ld died without cleaning up)\n",
			       (long)st.pid);
		else
			printf("state:       %s\n", state);
		if (st.state == VB_CTL_RUNNING) {
			printf("pid:         %ld\n", (long)st.pid);
			printf("address:     %s\n", st.addr[0] ? st.addr : "?");
			if (st.http_addr[0]) {
				vb_ctl_http_url(c, st.http_addr, &url, cert,
						sizeof(cert), &named);
				printf("http:        %s\n", (char *)url.p);
				vb_buf_release(&url);
			}
			human_duration(up, b, sizeof(b));
			printf("uptime:      %s\n", b);
		}
		printf("data dir:    %s\n", (char *)c->dir.p);
		human_bytes(st.disk_used, b, sizeof(b));
		printf("disk used:   %s\n", b);
		if (st.super_pid)
			printf("supervisor:  pid %ld, %u restart%s\n",
			       (long)st.super_pid, st.restarts,
			       st.restarts == 1 ? "" : "s");
		else if (st.gave_up[0])
			printf("supervisor:  gave up (%s)\n", st.gave_up);
		if (st.down[0] && !down_story(&st))
			printf("autostart:   off (%s; 'vibes-iggyctl start' turns it on)\n",
			       st.down);
		if (st.have_stats) {
			printf("streams:     %u\n", st.stats.streams_count);
			printf("topics:      %u\n", st.stats.topics_count);
			printf("partitions:  %u\n", st.stats.partitions_count);
			printf("messages:    %llu\n",
			       (unsigned long long)st.stats.messages_count);
			printf("clients:     %u\n", st.stats.clients_count);
		} else if (st.state == VB_CTL_RUNNING && st.answering) {
			printf("stats:       unavailable (%s)\n", st.stats_err);
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		return VB_EX_IOERR;
	}
	if (st.state != VB_CTL_RUNNING)
		rc = VB_EX_STOPPED;
	else
		rc = st.answering ? VB_EX_OK : EX_NOT_ANSWERING;
	return rc;
}

static void print_running(struct vb_ctl *c, const struct vb_ctl_status *st,
			  const char *what)
{
	if (st->stale_pid)
		fprintf(stderr,
			"vibes-iggyctl: replaced a stale pidfile (pid %ld died without cleaning up)\n",
			(long)st->stale_pid);
	printf("%s: pid %ld, %s, data dir %s\n", what, (long)st->pid, st->addr,
	       (char *)c->dir.p);
}

static int cmd_start(struct vb_ctl *c, const struct cmd_opts *o, unsigned flags,
		     int restart)
{
	struct vb_ctl_status st;
	struct vb_err e;
	int rc;

	vb_err_clear(&e);
	if (o->timeout_s)
		c->start_timeout_ms = o->timeout_s * 1000;
	rc = restart ? vb_ctl_restart(c, &st, &e) :
		       vb_ctl_start(c, flags, &st, &e);
	if (rc < 0) {
		rc = fail(&e);
		if (c->log_tail.len > 0) {
			fprintf(stderr,
				"vibes-iggyctl: last lines of %s/server.log:\n",
				(char *)c->dir.p);
			fwrite(c->log_tail.p, 1, c->log_tail.len, stderr);
			if (c->log_tail.p[c->log_tail.len - 1] != '\n')
				fputc('\n', stderr);
		}
		return rc;
	}
	print_running(c, &st, rc == 1 ? "running" : "started");
	return VB_EX_OK;
}

static int cmd_stop(struct vb_ctl *c, const struct cmd_opts *o)
{
	struct vb_err e;
	int killed = 0, rc;

	vb_err_clear(&e);
	if (o->timeout_s)
		c->stop_timeout_ms = o->timeout_s * 1000;
	rc = vb_ctl_stop(c, &killed, &e);
	if (rc < 0)
		return fail(&e);
	if (rc == 1)
		printf("not running: data dir %s\n", (char *)c->dir.p);
	else if (killed)
		printf("stopped (SIGKILL after %d s): data dir %s\n",
		       c->stop_timeout_ms / 1000, (char *)c->dir.p);
	else
		printf("stopped: data dir %s\n", (char *)c->dir.p);
	return VB_EX_OK;
}

static void shell_quote(const char *name, const char *v)
{
	printf("export %s='", name);
	for (; *v; v++) {
		if (*v == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*v);
	}
	fputs("'\n", stdout);
}

static int cmd_env(struct vb_ctl *c)
{
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT,
		      path = VB_BUF_INIT;
	struct vb_ctl_status st;
	struct vb_err e;
	char tls[1024], url[sizeof(st.addr) + 16];
	int rc;

	vb_err_clear(&e);
	if (vb_ctl_probe(c, &st, &e))
		return fail(&e);
	if (st.state != VB_CTL_RUNNING || st.addr[0] == 0) {
		fprintf(stderr,
			"vibes-iggyctl: no server running with data dir %s (try 'vibes-iggyctl ensure')\n",
			(char *)c->dir.p);
		return VB_EX_STOPPED;
	}
	/* The daemon's credentials file is the truth for its own server. */
	vb_path_join(&path, (char *)c->dir.p, "credentials");
	rc = vb_path_read_credentials((char *)path.p, &user, &pass, &e);
	if (rc == 0)
		rc = vb_ctl_credentials(c, &user, &pass, &e) == 0 ? 1 : -1;
	vb_buf_release(&path);
	if (rc < 0)
		return fail(&e);
	if (vb_ctl_read_tls(c, tls, sizeof(tls))) {
		/* TLS: the tools must say so, and trust its certificate */
		snprintf(url, sizeof(url), "iggys://%s", st.addr);
		shell_quote("VIBES_IGGY_ADDR", url);
	} else {
		shell_quote("VIBES_IGGY_ADDR", st.addr);
	}
	shell_quote("VIBES_IGGY_DATA_DIR", (char *)c->dir.p);
	shell_quote("VIBES_IGGY_USERNAME", (char *)user.p);
	shell_quote("VIBES_IGGY_PASSWORD", (char *)pass.p);
	explicit_bzero(pass.p, pass.len);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		return VB_EX_IOERR;
	}
	return VB_EX_OK;
}

/* A string for curl's config file: inside double quotes, \ and " escaped. */
static void curl_quoted(const char *key, const char *pre, const char *v)
{
	printf("%s = \"%s", key, pre);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar(*v);
	}
	fputs("\"\n", stdout);
}

/*
 * http [--url] [PATH]: starts the server if it is not running (as a tool
 * would), logs in over HTTP with the data dir's credentials and prints a
 * curl config (curl -K FILE): the token as a header, so it is on no
 * command line, and the URL of PATH when given.  A server with TLS on
 * its TCP port (DATA/server.tls) speaks HTTPS with the same certificate:
 * the URL is https:// and the config has curl trust that certificate.
 */
static int cmd_http(struct vb_ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_buf tok = VB_BUF_INIT, url = VB_BUF_INIT;
	struct vb_ctl_status st;
	struct vb_err e;
	const char *path = NULL;
	char addr[300], when[64], cert[4096];
	uint64_t exp = 0;
	int ch, url_only = 0, rc, named;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+u", longopts, NULL)) != -1) {
		if (ch != 'u')
			usage_error("http: option '%s' not accepted",
				    argv[optind - 1]);
		url_only = 1;
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc)
		usage_error("http: unexpected argument '%s'", argv[optind]);
	if (path && path[0] != '/')
		usage_error("http: the path '%s' must start with /", path);
	for (const char *p = path; p && *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			usage_error("http: the path may not hold spaces or "
				    "control characters (percent-encode them)");
	vb_err_clear(&e);
	rc = vb_ctl_start(c, VB_CTL_ENSURE, &st, &e);
	if (rc < 0)
		return fail(&e);
	/* stdout is curl's config: the news goes to stderr */
	if (rc == 0)
		fprintf(stderr,
			"vibes-iggyctl: started the server: pid %ld, "
			"%s, data dir %s\n",
			(long)st.pid, st.addr, (char *)c->dir.p);
	if (!vb_ctl_read_http_addr(c, addr, sizeof(addr))) {
		fprintf(stderr,
			"vibes-iggyctl: the server of data dir %s has "
			"no HTTP API (started with --no-http, or an upstream "
			"server)\n",
			(char *)c->dir.p);
		return VB_EX_UNAVAILABLE;
	}
	/* a TLS port (DATA/server.tls): HTTPS with the same certificate */
	vb_ctl_http_url(c, addr, &url, cert, sizeof(cert), &named);
	if (!named)
		fprintf(stderr,
			"vibes-iggyctl: the certificate %s names "
			"neither the HTTP API's address nor localhost: curl "
			"will refuse it (use curl's --connect-to with a name "
			"it carries)\n",
			cert);
	if (url_only) {
		printf("%s%s\n", (char *)url.p, path ? path : "");
		vb_buf_release(&url);
		return VB_EX_OK;
	}
	if (vb_ctl_http_login(c, addr, c->start_timeout_ms, &tok, &exp, &e)) {
		vb_buf_release(&url);
		return fail(&e);
	}
	{
		time_t t = (time_t)exp;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("# vibes-iggyctl http: for curl -K; the HTTP API of %s, "
	       "token valid until %s\n",
	       (char *)c->dir.p, when);
	curl_quoted("header", "Authorization: Bearer ", (char *)tok.p);
	if (cert[0])
		curl_quoted("cacert", "", cert);
	if (path)
		curl_quoted("url", (char *)url.p, path);
	explicit_bzero(tok.p, tok.len);
	vb_buf_release(&tok);
	vb_buf_release(&url);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		return VB_EX_IOERR;
	}
	return VB_EX_OK;
}

static volatile int logs_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	logs_stop = 1;
}

static int cmd_logs(struct vb_ctl *c, const struct cmd_opts *o)
{
	struct sigaction sa;
	struct vb_err e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	vb_err_clear(&e);
	if (vb_ctl_logs(c, STDOUT_FILENO, (unsigned)o->lines, o->follow,
			&logs_stop, &e)) {
		if (e.sys == EPIPE)
			return VB_EX_OK;
		return fail(&e);
	}
	return VB_EX_OK;
}

int main(int argc, char **argv)
{
	enum { OPT_HTTP = 256, OPT_NO_HTTP, OPT_TLS_CERT, OPT_TLS_KEY };
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "no-http", no_argument, NULL, OPT_NO_HTTP },
		{ "port", required_argument, NULL, 'p' },
		{ "server-bin", required_argument, NULL, 's' },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data_dir = NULL, *addr = NULL, *bin = NULL, *cmd;
	const char *http = NULL;
	int no_http = 0;
	const char *tls_cert = NULL, *tls_key = NULL;
	struct cmd_opts o = { .lines = 10 };
	struct vb_ctl c;
	struct vb_err e;
	int ch, port = 0, port_given = 0, rc;

	signal(SIGPIPE, SIG_IGN);
	/*
	 * --addr, --port and --server-bin are long only: in the other tools
	 * -p is a partition and -s a stream.
	 */
	while ((ch = getopt_long(argc, argv, "+d:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return VB_EX_OK;
		case 'p':
			port = parse_num(optarg, 0, 65535, "port");
			port_given = 1;
			break;
		case 's':
			bin = optarg;
			break;
		case OPT_HTTP:
			http = optarg;
			no_http = 0;
			break;
		case OPT_NO_HTTP:
			no_http = 1;
			http = NULL;
			break;
		case OPT_TLS_CERT:
			tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			tls_key = optarg;
			break;
		case 'V':
			printf("vibes-iggyctl %s\n", VB_VERSION);
			return VB_EX_OK;
		default:
			old_letter(optopt);
			fputs("try 'vibes-iggyctl --help'\n", stderr);
			return VB_EX_USAGE;
		}
	}
	if (optind >= argc)
		usage_error("missing command");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	vb_ctl_init(&c);
	vb_err_clear(&e);
	if (vb_ctl_setup(&c, data_dir, bin, &e))
		return fail(&e);
	if (vb_ctl_set_addr(&c, addr, port_given ? port : -1, &e))
		return fail(&e);
	if (vb_ctl_set_http(&c, http, no_http, &e))
		return fail(&e);
	if ((tls_cert || tls_key) && vb_ctl_set_tls(&c, tls_cert, tls_key, &e))
		return fail(&e);

	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "ensure") == 0) {
		parse_cmd_opts(cmd, argc, argv, "t", &o);
		rc = cmd_start(&c, &o, cmd[0] == 'e' ? VB_CTL_ENSURE : 0, 0);
	} else if (strcmp(cmd, "restart") == 0) {
		parse_cmd_opts(cmd, argc, argv, "t", &o);
		rc = cmd_start(&c, &o, 0, 1);
	} else if (strcmp(cmd, "stop") == 0) {
		parse_cmd_opts(cmd, argc, argv, "t", &o);
		rc = cmd_stop(&c, &o);
	} else if (strcmp(cmd, "status") == 0) {
		parse_cmd_opts(cmd, argc, argv, "j", &o);
		rc = cmd_status(&c, &o);
	} else if (strcmp(cmd, "run") == 0) {
		parse_cmd_opts(cmd, argc, argv, "", &o);
		fflush(stdout);
		vb_ctl_run(&c, &e);
		rc = fail(&e);
	} else if (strcmp(cmd, "logs") == 0) {
		parse_cmd_opts(cmd, argc, argv, "fn", &o);
		rc = cmd_logs(&c, &o);
	} else if (strcmp(cmd, "http") == 0) {
		rc = cmd_http(&c, argc, argv);
	} else if (strcmp(cmd, "env") == 0) {
		parse_cmd_opts(cmd, argc, argv, "", &o);
		rc = cmd_env(&c);
	} else {
		usage_error("unknown command '%s'", cmd);
	}
	vb_ctl_release(&c);
	return rc;
}
