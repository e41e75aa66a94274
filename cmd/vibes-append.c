/*
 * vibes-append - append JSON lines to the event log.
 *
 * Options, then lib/log's vb_append_run, then the report.  See --help.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "log-cli.h"
#include "base/banned.h"

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-append [OPTIONS] [FILE...]\n"
"\n"
"Appends JSON lines from the FILEs (or stdin; '-' is stdin) to the event\n"
"log, one event per line, in order.  Every line must hold exactly one JSON\n"
"value (RFC 8259, UTF-8); empty and whitespace-only lines are skipped.\n"
"\n"
"Partitioning (one of):\n"
"  -k, --key-field NAME    key = the top-level string member NAME of each line\n"
"                          (default session_id; a number member is used as\n"
"                          written; lines without it use the key 'unknown')\n"
"  -K, --key KEY           the same key for every line\n"
"  -p, --partition N       every line into partition N (0-based)\n"
"  -B, --balanced          batches round robin over the partitions\n"
"Events with the same key go to the same partition (XXH32(key) mod\n"
"partitions, as the server hashes messages keys), so they stay in order.\n"
"The key is stored with each event as the user header \"key\" (up to 255\n"
"bytes), which vibes-poll shows.\n"
"      --header NAME=VALUE a user header for every event (repeatable; NAME\n"
"                          and VALUE 1 to 255 bytes, NAME not \"key\")\n"
"\n"
"Batching and resilience:\n"
"      --batch N           lines per batch (default 1000; also cut at 1 MiB)\n"
"      --linger DURATION   send a partial batch when the input has been idle\n"
"                          that long (default 5ms)\n"
"      --buffer BYTES      unacknowledged data kept while the server is away\n"
"                          (default 64M); when full, input is not read\n"
"      --retry-timeout DURATION\n"
"                          give up after the server was unreachable that long\n"
"                          (default 60s); reconnects back off from 50ms to 2s,\n"
"                          and the wait is announced on stderr at once\n"
"\n"
"Bad lines:\n"
"      --skip-invalid      report bad lines and go on (exit 0, or 65 when\n"
"                          there were bad lines and no good one)\n"
"  By default a bad line is reported as FILE:LINE: reason, nothing from its\n"
"  batch on is sent, and the exit status is 65.  Lines longer than 64000000\n"
"  bytes, NUL bytes and invalid UTF-8 are bad lines.\n"
"\n"
"Output:\n"
"      --acks              print {\"line\":N,\"partition\":P,\"offset\":O} for every\n"
"                          stored line, in input order (\"file\" is added with\n"
"                          several FILEs)\n"
"      --progress          show the rate on stderr (default: when a terminal)\n"
"      --no-progress       never show it\n"
"  -v prints a summary on stderr at the end.\n"
"\n"
CLI_HELP
"\n"
"A lost connection (a server restart, a crash) is reconnected; the lines that\n"
"were in flight are looked up by their ids, so none is stored twice or lost.\n"
"When the server stays away for --retry-timeout, or a failure no retry can\n"
"cure comes up (login refused, no server binary), vibes-append says exactly\n"
"which lines are stored and which are not (resend those) and exits 69, 75,\n"
"77 or 78.\n"
"\n"
CLI_EXIT_HELP;
/* clang-format on */

enum {
	OPT_BATCH = OPT_FIRST_OWN,
	OPT_LINGER,
	OPT_BUFFER,
	OPT_RETRY,
	OPT_SKIP,
	OPT_ACKS,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_HEADER,
};

static const struct option longopts[] = {
	CLI_LONGOPTS,
	{ "key-field", required_argument, NULL, 'k' },
	{ "key", required_argument, NULL, 'K' },
	{ "partition", required_argument, NULL, 'p' },
	{ "balanced", no_argument, NULL, 'B' },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "buffer", required_argument, NULL, OPT_BUFFER },
	{ "retry-timeout", required_argument, NULL, OPT_RETRY },
	{ "skip-invalid", no_argument, NULL, OPT_SKIP },
	{ "acks", no_argument, NULL, OPT_ACKS },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "header", required_argument, NULL, OPT_HEADER },
	{ NULL, 0, NULL, 0 },
};

static struct cli cli;
static struct vb_append_input *inputs;
static size_t ninputs;
static int show_progress;
static int progress_shown;
static volatile sig_atomic_t stop;
static uint64_t retry_us = 60000000;
static struct vb_buf headers = VB_BUF_INIT;
static int64_t t0;

static const char *input_name(const char *name)
{
	return strcmp(name, "-") == 0 ? "stdin" : name;
}

static void on_invalid(void *arg, const char *input, uint64_t line,
		       const char *reason, size_t byte)
{
	if (progress_shown && isatty(2)) {
		fputc('\n', stderr);
		progress_shown = 0;
	}
	fprintf(stderr, "%s: %s:%llu: %s at byte %zu\n", cli.prog,
		input_name(input), (unsigned long long)line, reason, byte);
}

static void on_ack(void *arg, const char *input, uint64_t line,
		   uint32_t partition, uint64_t offset)
{
	struct vb_buf b = VB_BUF_INIT;

	vb_buf_addch(&b, '{');
	if (ninputs > 1) {
		vb_buf_addstr(&b, "\"file\":");
		vb_json_quote(&b, input, strlen(input));
		vb_buf_addch(&b, ',');
	}
	vb_buf_printf(&b, "\"line\":%llu,\"partition\":%u,\"offset\":",
		      (unsigned long long)line, partition);
	if (offset == VB_NO_OFFSET)
		vb_buf_addstr(&b, "null}\n"); /* its topic was deleted */
	else
		vb_buf_printf(&b, "%llu}\n", (unsigned long long)offset);
	fwrite(b.p, 1, b.len, stdout);
	vb_buf_release(&b);
}

/*
 * Whoever reads the acks may be waiting for them (to drop what is
 * stored): hand over each completed round's at once, not a buffer later.
 * A failed write shows in ferror at the end.
 */
static void on_acked(void *arg)
{
	fflush(stdout);
}

/* Ends a progress line on the terminal before another message. */
static void break_progress(void)
{
	if (progress_shown && isatty(2)) {
		fputc('\n', stderr);
		progress_shown = 0;
	}
}

static void on_notice(void *arg, const char *msg)
{
	if (!cli.verbose)
		return;
	break_progress();
	fprintf(stderr, "%s: %s\n", cli.prog, msg);
}

/* Said at once, -v or not: the pipeline is waiting, and until when. */
static void on_waiting(void *arg, const char *why, uint64_t until_us)
{
	time_t t = (time_t)(until_us / 1000000);
	struct tm tm;
	char until[32], dur[32];

	break_progress();
	localtime_r(&t, &tm);
	strftime(until, sizeof(until), "%H:%M:%S", &tm);
	vb_fmt_duration(retry_us, dur, sizeof(dur));
	fprintf(stderr, "%s: %s; retrying until %s (--retry-timeout %s)\n",
		cli.prog, why, until, dur);
}

static void on_recovered(void *arg, const char *what, uint64_t waited_us)
{
	break_progress();
	fprintf(stderr, "%s: %s answering again after %.1f s; going on\n",
		cli.prog, what, (double)waited_us / 1e6);
}

/* The account of a stopped run: its runs of lines, by state. */
struct run {
	size_t input;
	uint64_t first, last; /* last 0: to the end of the input */
};

static struct run *runs[3];
static size_t nruns[3], capruns[3];

static void on_account(void *arg, size_t input, uint64_t first, uint64_t last,
		       enum vb_line_state state)
{
	VB_ALLOC_GROW(runs[state], nruns[state] + 1, capruns[state]);
	runs[state][nruns[state]++] = (struct run){ input, first, last };
}

/*
 * "stored: lines 1-35100,35102 of stdin" / "not stored: lines 35101,
 * 35103- of stdin; every line of b.json": what a resend needs, exactly.
 */
static void print_account(void)
{
	static const char *const label[3] = {
		[VB_LINES_STORED] = "stored",
		[VB_LINES_NOT_STORED] = "not stored",
		[VB_LINES_UNKNOWN] = "unknown (sent; the server went away "
				     "before answering; look with vibes-poll)",
	};
	struct vb_buf b = VB_BUF_INIT;

	for (int st = 0; st < 3; st++) {
		if (nruns[st] == 0)
			continue;
		vb_buf_reset(&b);
		for (size_t i = 0; i < nruns[st]; i++) {
			const struct run *r = &runs[st][i];
			const char *name = input_name(inputs[r->input].name);
			int more = i + 1 < nruns[st] &&
				   runs[st][i + 1].input == r->input;

			if (r->first == 1 && r->last == 0) {
				vb_buf_printf(&b, "%severy line of %s",
					      b.len ? "; " : "", name);
				continue;
			}
			if (i == 0 || runs[st][i - 1].input != r->input)
				vb_buf_printf(&b, "%slines ",
					      b.len ? "; " : "");
			if (r->last == 0)
				vb_buf_printf(&b, "%llu-",
					      (unsigned long long)r->first);
			else if (r->last == r->first)
				vb_buf_printf(&b, "%llu",
					      (unsigned long long)r->first);
			else
				vb_buf_printf(&b, "%llu-%llu",
					      (unsigned long long)r->first,
					      (unsigned long long)r->last);
			vb_buf_printf(&b, more ? "," : " of %s", name);
		}
		fprintf(stderr, "%s: %s: %s\n", cli.prog, label[st],
			(char *)b.p);
	}
	vb_buf_release(&b);
}

static void on_progress(void *arg, const struct vb_append_stats *st)
{
	double secs = (double)(vb_mono_us() - t0) / 1e6;

	if (!show_progress)
		return;
	fprintf(stderr, "%s%s: %llu lines read, %llu sent, %.0f lines/s%s",
		isatty(2) ? "\r" : "", cli.prog, (unsigned long long)st->lines,
		(unsigned long long)st->sent,
		secs > 0 ? (double)st->sent / secs : 0.0,
		isatty(2) ? "\033[K" : "\n");
	progress_shown = 1;
}

/* --header NAME=VALUE: one more string pair for every event. */
static void add_header(const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t nlen = eq ? (size_t)(eq - arg) : 0,
	       vlen = eq ? strlen(eq + 1) : 0;

	if (eq == NULL)
		cli_usage_error(&cli, "--header '%s': expected NAME=VALUE",
				arg);
	if (nlen < 1 || nlen > VB_UHDR_LEN_MAX || vlen < 1 ||
	    vlen > VB_UHDR_LEN_MAX)
		cli_usage_error(
			&cli,
			"--header '%s': NAME and VALUE must be 1 to %u bytes",
			arg, VB_UHDR_LEN_MAX);
	if (nlen == strlen(VB_LOG_KEY_HEADER) &&
	    memcmp(arg, VB_LOG_KEY_HEADER, nlen) == 0)
		cli_usage_error(
			&cli,
			"--header '%s': the header \"key\" holds each event's key",
			arg);
	vb_wire_uhdr_add(&headers, VB_UHDR_STRING, arg, (uint32_t)nlen,
			 VB_UHDR_STRING, eq + 1, (uint32_t)vlen);
}

static void on_signal(int sig)
{
	stop = 1;
}

static void summary(const struct vb_append_stats *st)
{
	double secs = (double)(vb_mono_us() - t0) / 1e6;

	fprintf(stderr,
		"%s: %llu lines read: %llu sent, %llu invalid, %llu blank; %llu bytes in %.3f s (%.0f lines/s)\n",
		cli.prog, (unsigned long long)st->lines,
		(unsigned long long)st->sent, (unsigned long long)st->invalid,
		(unsigned long long)st->blank, (unsigned long long)st->bytes,
		secs, secs > 0 ? (double)st->sent / secs : 0.0);
	if (st->reconnects)
		fprintf(stderr,
			"%s: %llu reconnect%s; %llu lines in flight found stored, %llu sent again\n",
			cli.prog, (unsigned long long)st->reconnects,
			st->reconnects > 1 ? "s" : "",
			(unsigned long long)st->found,
			(unsigned long long)st->resent);
}

int main(int argc, char **argv)
{
	struct vb_append_opts o;
	struct vb_append_stats st;
	struct vb_append_cb cb = { 0 };
	struct vb_err e;
	struct sigaction sa;
	uint64_t v;
	int ch, routes = 0, rc, status;

	t0 = vb_mono_us();
	signal(SIGPIPE, SIG_IGN);
	cli_init(&cli, "vibes-append", usage_text);
	cli_refuse_password(&cli, argc, argv);
	vb_append_opts_init(&o);
	show_progress = -1;
	while ((ch = getopt_long(argc, argv, CLI_SHORTOPTS "k:K:p:B", longopts,
				 NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'k':
			if (*optarg == 0)
				cli_usage_error(&cli,
						"--key-field: empty name");
			o.route = VB_ROUTE_FIELD;
			o.key_field = optarg;
			routes++;
			break;
		case 'K':
			o.route = VB_ROUTE_KEY;
			o.key = optarg;
			routes++;
			break;
		case 'p':
			cli_check(&cli, "--partition",
				  vb_parse_u64(optarg, 0, 999, &v, &e), &e);
			o.route = VB_ROUTE_PARTITION;
			o.partition = (uint32_t)v;
			routes++;
			break;
		case 'B':
			o.route = VB_ROUTE_BALANCED;
			routes++;
			break;
		case OPT_BATCH:
			cli_check(&cli, "--batch",
				  vb_parse_u64(optarg, 1, 1000000, &v, &e), &e);
			o.batch_lines = (uint32_t)v;
			break;
		case OPT_LINGER:
			cli_check(&cli, "--linger",
				  vb_parse_duration(optarg, 60000000, &v, &e),
				  &e);
			o.linger_us = v;
			break;
		case OPT_BUFFER:
			cli_check(&cli, "--buffer",
				  vb_parse_size(optarg, 1, 1ull << 40, &v, &e),
				  &e);
			o.buffer_bytes = (size_t)v;
			break;
		case OPT_RETRY:
			cli_check(&cli, "--retry-timeout",
				  vb_parse_duration(optarg, 86400000000ull, &v,
						    &e),
				  &e);
			o.retry_us = v;
			retry_us = v;
			break;
		case OPT_SKIP:
			o.skip_invalid = 1;
			break;
		case OPT_ACKS:
			o.acks = 1;
			break;
		case OPT_PROGRESS:
			show_progress = 1;
			break;
		case OPT_NO_PROGRESS:
			show_progress = 0;
			break;
		case OPT_HEADER:
			add_header(optarg);
			break;
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (routes > 1)
		cli_usage_error(
			&cli,
			"--key-field, --key, --partition and --balanced exclude each other");
	if (show_progress < 0)
		show_progress = isatty(2);

	ninputs = argc > optind ? (size_t)(argc - optind) : 1;
	inputs = vb_xcalloc(ninputs, sizeof(*inputs));
	if (argc <= optind) {
		inputs[0].name = "-";
		inputs[0].fd = 0;
	}
	for (int i = optind; i < argc; i++) {
		struct vb_append_input *in = &inputs[i - optind];

		in->name = argv[i];
		if (strcmp(argv[i], "-") == 0) {
			in->fd = 0;
			continue;
		}
		in->fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", cli.prog,
				argv[i], strerror(errno));
			exit(VB_EX_IOERR);
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.stop = &stop;
	o.headers = &headers;

	cli_open(&cli, 0);
	cb.arg = &cli;
	cb.connect = cli_connect;
	cb.invalid = on_invalid;
	cb.ack = o.acks ? on_ack : NULL;
	cb.acked = o.acks ? on_acked : NULL;
	cb.notice = on_notice;
	cb.waiting = on_waiting;
	cb.recovered = on_recovered;
	cb.account = on_account;
	cb.progress = show_progress ? on_progress : NULL;
	rc = vb_append_run(&o, &cli.log, inputs, ninputs, &cb, &st, &e);
	if (progress_shown && isatty(2))
		fputc('\n', stderr);
	status = VB_EX_OK;
	if (rc) {
		if (e.kind == VB_E_DATA) {
			status = VB_EX_DATAERR;
		} else {
			fprintf(stderr, "%s: %s\n", cli.prog, e.msg);
			status = vb_err_exit(&e);
		}
		print_account();
	} else if (o.skip_invalid && st.invalid && st.sent == 0)
		status = VB_EX_DATAERR;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing acks: %s\n", cli.prog,
			strerror(errno));
		if (status == VB_EX_OK)
			status = VB_EX_IOERR;
	}
	if (cli.verbose)
		summary(&st);
	cli_close(&cli);
	vb_buf_release(&headers);
	free(inputs);
	return status;
}
