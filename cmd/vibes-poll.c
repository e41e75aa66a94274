/*
 * vibes-poll - read events from the log and commit what was delivered.
 *
 * Options, then lib/log's vb_consume_run.  See --help.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log-cli.h"
#include "base/banned.h"

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-poll (-c NAME | -g NAME) [OPTIONS]\n"
"\n"
"Writes events of the log to stdout, one per line, and commits the position\n"
"of what was delivered.  Events of one partition come in order.\n"
"\n"
"Who reads:\n"
"  -c, --consumer NAME     an independent consumer: reads every partition and\n"
"                          keeps its own committed offsets in the server\n"
"  -g, --group NAME        a member of consumer group NAME (created if\n"
"                          missing): members share the partitions\n"
"\n"
"Where to read:\n"
"  A consumer reads on after what it committed.  Two separate things change\n"
"  that:\n"
"      --start WHERE       where a NEW consumer begins (one with nothing\n"
"                          committed): beginning (default: it replays the\n"
"                          history) or end (a live consumer: only events\n"
"                          that come next); it is kept, so a consumer that\n"
"                          stops and comes back goes on from there\n"
"      --from POSITION     move the consumer first, then read: beginning,\n"
"                          end, N (offset N of every partition), -N (the\n"
"                          last N events of every partition), @TIMESTAMP\n"
"                          (the first event stored at or after it), or\n"
"                          committed (no move); the move is committed at\n"
"                          once, so the next run goes on from there (with\n"
"                          -g it moves the partitions this member owns)\n"
"\n"
"What and how much:\n"
"  -p, --partition N       read only partition N (repeatable; -c only)\n"
"  -n, --count COUNT       stop after COUNT events\n"
"      --until POSITION    stop each partition at POSITION (not included): N,\n"
"                          end (as it is now), -N or @TIMESTAMP; with -f,\n"
"                          exit once every partition got there (-c only)\n"
"  -f, --follow            keep waiting for new events (and for the server to\n"
"                          come back when it goes away); SIGINT/SIGTERM end\n"
"                          it cleanly after committing what was written\n"
"      --interval DURATION against a server without waiting polls, the\n"
"                          longest wait between polls while caught up: 1ms\n"
"                          after events, doubled while none come, up to\n"
"                          DURATION (default 100ms)\n"
"      --idle-timeout DURATION\n"
"                          with -f: exit 0 after DURATION without an event\n"
"      --batch N           events per poll request (default 4096)\n"
"Without --follow, vibes-poll exits 0 once it has caught up with every\n"
"partition.\n"
"\n"
"Output:\n"
"      --order ORDER       time (default: the events of the partitions read\n"
"                          in one round come merged by when the producer\n"
"                          made them, then in its order) or partition\n"
"                          (partition after partition); either way each\n"
"                          partition's events stay in order\n"
"      --skip-bad          a message that cannot be read (damaged on disk,\n"
"                          from another server) is reported on stderr and\n"
"                          stepped over; by default everything before it is\n"
"                          delivered and committed, then vibes-poll exits 65\n"
"                          naming its partition and offset\n"
"      --format FORMAT     raw (default: the payload as stored, then a newline),\n"
"                          json ({\"partition\":P,\"offset\":O,\"timestamp\":T,\n"
"                          \"id\":\"UUID\",\"key\":K,\"headers\":{...},\"payload\":...};\n"
"                          timestamp in µs since the epoch; key null without\n"
"                          one; payload is the JSON value when the payload is\n"
"                          valid JSON, else a JSON string), or a template as\n"
"                          kcat's -f: %s payload, %p partition, %o offset,\n"
"                          %k key, %T timestamp (ms), %t timestamp (RFC 3339),\n"
"                          %h headers (name=value,...), %i id, %% a %, and\n"
"                          \\n \\t \\\\ (no newline is added: '%s\\n')\n"
"      --no-commit         do not commit (only with -c)\n"
"      --handoff MODE      for a pipe: line (default) hands the reader one line\n"
"                          at a time, so a reader that stops early (head -n 5)\n"
"                          gets exactly what it read committed; block writes\n"
"                          large chunks (faster) and commits what the reader\n"
"                          took out of the pipe, which a reader that reads\n"
"                          ahead may not have used\n"
"\n"
"Commits happen only after the output was written (and, for a pipe, read):\n"
"a closed pipe ends vibes-poll quietly with exit 0, a full disk or another\n"
"output error with exit 74, and nothing unwritten is committed.  A committed\n"
"offset is the offset of the last delivered event; reading resumes after it.\n"
"\n"
CLI_HELP
"\n"
CLI_EXIT_HELP;
/* clang-format on */

enum {
	OPT_FROM = OPT_FIRST_OWN,
	OPT_START,
	OPT_ORDER,
	OPT_SKIP_BAD,
	OPT_UNTIL,
	OPT_IDLE,
	OPT_INTERVAL,
	OPT_BATCH,
	OPT_FORMAT,
	OPT_NO_COMMIT,
	OPT_HANDOFF,
};

static const struct option longopts[] = {
	CLI_LONGOPTS,
	{ "consumer", required_argument, NULL, 'c' },
	{ "group", required_argument, NULL, 'g' },
	{ "start", required_argument, NULL, OPT_START },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "order", required_argument, NULL, OPT_ORDER },
	{ "partition", required_argument, NULL, 'p' },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ "count", required_argument, NULL, 'n' },
	{ "follow", no_argument, NULL, 'f' },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "no-commit", no_argument, NULL, OPT_NO_COMMIT },
	{ "handoff", required_argument, NULL, OPT_HANDOFF },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t stop;
static struct vb_template *tmpl;
static uint8_t only[1000];

static void on_signal(int sig)
{
	stop = 1;
}

static void on_notice(void *arg, const char *msg)
{
	struct cli *cl = arg;

	fprintf(stderr, "%s: %s\n", cl->prog, msg);
}

static void on_bad(void *arg, uint32_t partition, uint64_t offset,
		   const char *why)
{
	struct cli *cl = arg;

	fprintf(stderr,
		"%s: partition %u offset %llu: bad message: %s (skipped)\n",
		cl->prog, partition, (unsigned long long)offset, why);
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct vb_consume_opts o;
	struct vb_consume_stats st;
	struct vb_err e;
	struct sigaction sa;
	const char *from = NULL;
	uint64_t v;
	int ch, who = 0, rc;
	int64_t t0 = vb_mono_us();

	signal(SIGPIPE, SIG_IGN);
	cli_init(&cli, "vibes-poll", usage_text);
	cli_refuse_password(&cli, argc, argv);
	vb_consume_opts_init(&o);
	while ((ch = getopt_long(argc, argv, CLI_SHORTOPTS "c:g:n:fp:",
				 longopts, NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'c':
		case 'g':
			o.group = ch == 'g';
			o.name = optarg;
			who++;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_START:
			if (strcmp(optarg, "beginning") == 0)
				o.start = VB_START_BEGINNING;
			else if (strcmp(optarg, "end") == 0)
				o.start = VB_START_END;
			else
				cli_usage_error(
					&cli,
					"--start: '%s': use beginning or end (to move a consumer, use --from)",
					optarg);
			break;
		case OPT_ORDER:
			if (strcmp(optarg, "time") == 0)
				o.order = VB_ORDER_TIME;
			else if (strcmp(optarg, "partition") == 0)
				o.order = VB_ORDER_PARTITION;
			else
				cli_usage_error(
					&cli,
					"--order: '%s': use time or partition",
					optarg);
			break;
		case OPT_SKIP_BAD:
			o.skip_bad = 1;
			break;
		case 'p':
			cli_check(&cli, "--partition",
				  vb_parse_u64(optarg, 0, 999, &v, &e), &e);
			only[v] = 1;
			if (v + 1 > o.nonly)
				o.nonly = (uint32_t)v + 1;
			o.only = only;
			break;
		case OPT_UNTIL:
			cli_check(&cli, "--until",
				  vb_pos_parse(optarg, 0, &o.until, &e), &e);
			o.has_until = 1;
			break;
		case OPT_IDLE:
			cli_check(&cli, "--idle-timeout",
				  vb_parse_duration(optarg, 86400000000ull, &v,
						    &e),
				  &e);
			o.idle_us = v;
			break;
		case 'n':
			cli_check(&cli, "--count",
				  vb_parse_u64(optarg, 1, UINT64_MAX / 2, &v,
					       &e),
				  &e);
			o.limit = v;
			break;
		case 'f':
			o.follow = 1;
			break;
		case OPT_INTERVAL:
			cli_check(&cli, "--interval",
				  vb_parse_duration(optarg, 3600000000ull, &v,
						    &e),
				  &e);
			o.interval_us = v;
			break;
		case OPT_BATCH:
			cli_check(&cli, "--batch",
				  vb_parse_u64(optarg, 1, 1000000, &v, &e), &e);
			o.count = (uint32_t)v;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "raw") == 0)
				o.format = VB_FORMAT_RAW;
			else if (strcmp(optarg, "json") == 0)
				o.format = VB_FORMAT_JSON;
			else if (strpbrk(optarg, "%\\") == NULL)
				cli_usage_error(
					&cli,
					"--format: '%s': use raw, json or a template with %%s %%p %%o %%k %%T %%t %%h %%i",
					optarg);
			else {
				vb_template_free(tmpl);
				cli_check(&cli, "--format",
					  vb_template_parse(&tmpl, optarg, &e),
					  &e);
				o.format = VB_FORMAT_TEMPLATE;
				o.tmpl = tmpl;
			}
			break;
		case OPT_NO_COMMIT:
			o.no_commit = 1;
			break;
		case OPT_HANDOFF:
			if (strcmp(optarg, "line") == 0)
				o.handoff = VB_HANDOFF_LINE;
			else if (strcmp(optarg, "block") == 0)
				o.handoff = VB_HANDOFF_BLOCK;
			else
				cli_usage_error(&cli,
						"--handoff: '%s': use line or block",
						optarg);
			break;
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (optind < argc)
		cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
	if (who != 1)
		cli_usage_error(&cli,
				"give exactly one of -c NAME and -g NAME");
	if (o.group && o.no_commit)
		cli_usage_error(
			&cli,
			"--no-commit needs -c: a group reads from its committed offsets");
	if (o.group && (o.only || o.has_until))
		cli_usage_error(
			&cli,
			"--partition and --until need -c: the server deals a group's partitions");
	if (o.idle_us && !o.follow)
		cli_usage_error(&cli, "--idle-timeout needs -f");
	if (from)
		cli_check(&cli, "--from", vb_pos_parse(from, 1, &o.from, &e),
			  &e);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	o.stop = &stop;
	/* A follower waits out `vibes-iggyctl stop` instead of failing. */
	cli.ctl.wait_down = o.follow;
	cli.ctl.stop = &stop;

	cli_open(&cli, 1);
	o.connect = cli_connect;
	o.connect_arg = &cli;
	o.notice = cli.verbose ? on_notice : NULL;
	o.say = on_notice;
	o.bad = on_bad;
	rc = vb_consume_run(&o, &cli.log, 1, &st, &e);
	if (cli.verbose) {
		double secs = (double)(vb_mono_us() - t0) / 1e6;

		fprintf(stderr,
			"%s: %llu events delivered (%llu bytes), %llu committed, %llu bad skipped, in %.3f s (%.0f events/s)%s\n",
			cli.prog, (unsigned long long)st.delivered,
			(unsigned long long)st.bytes,
			(unsigned long long)st.committed,
			(unsigned long long)st.skipped, secs,
			secs > 0 ? (double)st.delivered / secs : 0.0,
			st.reader_gone ? "; the reader closed the pipe" : "");
	}
	cli_close(&cli);
	vb_template_free(tmpl);
	if (rc)
		cli_die(&cli, &e);
	return VB_EX_OK;
}
