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
"\n"
"Batching and resilience:\n"
"      --batch N           lines per batch (default 1000; also cut at 1 MiB)\n"
"      --linger DURATION   send a partial batch when the input has been idle\n"
"                          that long (default 5ms)\n"
"      --buffer BYTES      unacknowledged data kept while the server is away\n"
"                          (default 64M); when full, input is not read\n"
"      --retry-timeout DURATION\n"
"                          give up after the server was unreachable that long\n"
"                          (default 60s); reconnects back off from 50ms to 2s\n"
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
"                          sent line (\"file\" is added with several FILEs); the\n"
"                          offsets are looked up after each batch\n"
"      --progress          show the rate on stderr (default: when a terminal)\n"
"      --no-progress       never show it\n"
"  -v prints a summary on stderr at the end.\n"
"\n"
CLI_HELP
"\n"
"When the server cannot be reached for --retry-timeout, vibes-append says\n"
"which lines were acknowledged (every line before them was too) and exits 69.\n"
"\n"
CLI_EXIT_HELP;

enum {
	OPT_BATCH = OPT_FIRST_OWN,
	OPT_LINGER,
	OPT_BUFFER,
	OPT_RETRY,
	OPT_SKIP,
	OPT_ACKS,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
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
	{ NULL, 0, NULL, 0 },
};

static struct cli cli;
static struct vb_append_input *inputs;
static size_t ninputs;
static int show_progress;
static int progress_shown;
static volatile sig_atomic_t stop;
static int64_t t0;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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
	if (ninputs > 1) {
		fputs("{\"file\":", stdout);
		struct vb_buf b = VB_BUF_INIT;

		vb_json_quote(&b, input, strlen(input));
		fwrite(b.p, 1, b.len, stdout);
		vb_buf_release(&b);
		printf(",\"line\":%llu,\"partition\":%u,\"offset\":%llu}\n",
		       (unsigned long long)line, partition,
		       (unsigned long long)offset);
		return;
	}
	printf("{\"line\":%llu,\"partition\":%u,\"offset\":%llu}\n",
	       (unsigned long long)line, partition,
	       (unsigned long long)offset);
}

static void on_notice(void *arg, const char *msg)
{
	if (!cli.verbose)
		return;
	if (progress_shown && isatty(2)) {
		fputc('\n', stderr);
		progress_shown = 0;
	}
	fprintf(stderr, "%s: %s\n", cli.prog, msg);
}

static void on_progress(void *arg, const struct vb_append_stats *st)
{
	double secs = (double)(now_us() - t0) / 1e6;

	if (!show_progress)
		return;
	fprintf(stderr, "%s%s: %llu lines read, %llu sent, %.0f lines/s%s",
		isatty(2) ? "\r" : "", cli.prog,
		(unsigned long long)st->lines, (unsigned long long)st->sent,
		secs > 0 ? (double)st->sent / secs : 0.0,
		isatty(2) ? "\033[K" : "\n");
	progress_shown = 1;
}

static void on_signal(int sig)
{
	stop = 1;
}

/* "acknowledged lines 1-41235 of stdin; lines 41236- were not sent" */
static void report_acked(const struct vb_append_stats *st)
{
	const char *name = input_name(inputs[st->ack_input].name);

	if (st->done_input)
		return;
	fprintf(stderr, "%s: ", cli.prog);
	if (st->ack_input > 0)
		fprintf(stderr, "every line of the first %zu input%s and ",
			st->ack_input, st->ack_input > 1 ? "s" : "");
	if (st->ack_line > 0)
		fprintf(stderr, "acknowledged lines 1-%llu of %s; lines %llu- ",
			(unsigned long long)st->ack_line, name,
			(unsigned long long)st->ack_line + 1);
	else
		fprintf(stderr, "no line of %s was acknowledged; lines 1- ",
			name);
	fprintf(stderr, "%swere not sent",
		ninputs > st->ack_input + 1 ? "and the later inputs " : "");
	if (st->extra_acked)
		fprintf(stderr,
			" (except %llu of them that did get through: resending from line %llu sends those twice)",
			(unsigned long long)st->extra_acked,
			(unsigned long long)st->ack_line + 1);
	fputc('\n', stderr);
}

static void summary(const struct vb_append_stats *st)
{
	double secs = (double)(now_us() - t0) / 1e6;

	fprintf(stderr,
		"%s: %llu lines read: %llu sent, %llu invalid, %llu blank; %llu bytes in %.3f s (%.0f lines/s)\n",
		cli.prog, (unsigned long long)st->lines,
		(unsigned long long)st->sent, (unsigned long long)st->invalid,
		(unsigned long long)st->blank, (unsigned long long)st->bytes,
		secs, secs > 0 ? (double)st->sent / secs : 0.0);
	if (st->reconnects)
		fprintf(stderr, "%s: %llu reconnect%s\n", cli.prog,
			(unsigned long long)st->reconnects,
			st->reconnects > 1 ? "s" : "");
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

	t0 = now_us();
	signal(SIGPIPE, SIG_IGN);
	cli_init(&cli, "vibes-append", usage_text);
	vb_append_opts_init(&o);
	show_progress = -1;
	while ((ch = getopt_long(argc, argv, CLI_SHORTOPTS "k:K:p:B", longopts,
				 NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'k':
			if (*optarg == 0)
				cli_usage_error(&cli, "--key-field: empty name");
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
						    &e), &e);
			o.retry_us = v;
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
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (routes > 1)
		cli_usage_error(&cli,
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

	cli_open(&cli, 0);
	cb.arg = &cli;
	cb.connect = cli_connect;
	cb.invalid = on_invalid;
	cb.ack = o.acks ? on_ack : NULL;
	cb.notice = on_notice;
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
		report_acked(&st);
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
	free(inputs);
	return status;
}
