/*
 * vibes-topic - list, create, change, purge and delete topics.
 *
 * Options, then lib/client's calls, then the report.  See --help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "log-cli.h"
#include "wire/status.h"
#include "base/banned.h"

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-topic list [--json] [--all] [OPTIONS]\n"
"       vibes-topic create NAME [--partitions N] [--retention DURATION]\n"
"                   [--max-size SIZE] [OPTIONS]\n"
"       vibes-topic set NAME [--retention DURATION] [--max-size SIZE] [OPTIONS]\n"
"       vibes-topic purge NAME [--yes] [OPTIONS]\n"
"       vibes-topic delete NAME [--yes] [OPTIONS]\n"
"\n"
"Topics of the event log.  NAME is a topic of the stream (-s, default vibes);\n"
"create makes the stream too if it is missing.\n"
"\n"
"  list                    every topic of every stream (of -s, when given):\n"
"                          partitions, messages, bytes, retention, max size\n"
"  create NAME             a new topic (--partitions N, default 8)\n"
"  set NAME                change its retention and max size\n"
"  purge NAME              delete every message and consumer position of it\n"
"  delete NAME             delete it, its messages and positions\n"
"\n"
"      --retention DURATION\n"
"                          messages older than DURATION are deleted (never:\n"
"                          kept for ever, the default)\n"
"      --max-size SIZE     the oldest messages are deleted to stay under SIZE\n"
"                          bytes (K, M, G, T; unlimited: the default); a\n"
"                          server may refuse less than a segment\n"
"      --json              list: one JSON object per topic\n"
"      --all               list: internal topics too (__vibes_consumers)\n"
"      --yes               purge, delete: do not ask (they ask on a terminal\n"
"                          and refuse elsewhere without --yes)\n"
"\n"
CLI_HELP
"\n"
CLI_EXIT_HELP;
/* clang-format on */

enum {
	OPT_RETENTION = OPT_FIRST_OWN,
	OPT_MAX_SIZE,
	OPT_JSON,
	OPT_ALL,
	OPT_YES,
};

static const struct option longopts[] = {
	CLI_LONGOPTS,
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "yes", no_argument, NULL, OPT_YES },
	{ NULL, 0, NULL, 0 },
};

static struct cli cli;
static int json, all, yes, stream_given;
static int has_retention, has_max_size;
static uint64_t retention, max_size; /* UINT64_MAX: never, unlimited */

/* "never" or a duration (µs); "unlimited" or a size (bytes). */
static uint64_t parse_limit(const char *opt, const char *arg, const char *none,
			    int size)
{
	struct vb_err e;
	uint64_t v;

	if (strcmp(arg, none) == 0)
		return UINT64_MAX;
	cli_check(&cli, opt,
		  size ? vb_parse_size(arg, 1, UINT64_MAX - 1, &v, &e) :
			 vb_parse_duration(arg, UINT64_MAX - 1, &v, &e),
		  &e);
	if (v == 0)
		cli_usage_error(&cli, "%s: 0 means nothing; use %s", opt, none);
	return v;
}

static const char *fmt_bytes(uint64_t v, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", d, units[u]);
	return buf;
}

/* A retention or a maximum size: 0 and UINT64_MAX mean none. */
static const char *fmt_limit(uint64_t v, int size, char *buf, size_t n)
{
	if (v == 0 || v == UINT64_MAX)
		return size ? "unlimited" : "never";
	return size ? fmt_bytes(v, buf, n) : vb_fmt_duration(v, buf, n);
}

static void die_if(int rc, struct vb_err *e)
{
	if (rc)
		cli_die(&cli, e);
}

static void print_topic(const char *stream, const struct vb_topic_info *t)
{
	char r[32], m[32], b[32];

	if (!all && strncmp(t->name.s, "__", 2) == 0)
		return;
	if (json) {
		struct vb_buf o = VB_BUF_INIT;

		vb_buf_addstr(&o, "{\"stream\":");
		vb_json_quote(&o, stream, strlen(stream));
		vb_buf_addstr(&o, ",\"topic\":");
		vb_json_quote(&o, t->name.s, t->name.len);
		vb_buf_printf(
			&o,
			",\"id\":%u,\"partitions\":%u,\"messages\":%llu,\"bytes\":%llu,\"retention_us\":",
			t->id, t->partitions_count,
			(unsigned long long)t->messages_count,
			(unsigned long long)t->size_bytes);
		if (t->message_expiry == 0 || t->message_expiry == UINT64_MAX)
			vb_buf_addstr(&o, "null");
		else
			vb_buf_printf(&o, "%llu",
				      (unsigned long long)t->message_expiry);
		vb_buf_addstr(&o, ",\"max_size\":");
		if (t->max_topic_size == 0 || t->max_topic_size == UINT64_MAX)
			vb_buf_addstr(&o, "null");
		else
			vb_buf_printf(&o, "%llu",
				      (unsigned long long)t->max_topic_size);
		vb_buf_addstr(&o, "}\n");
		fwrite(o.p, 1, o.len, stdout);
		vb_buf_release(&o);
		return;
	}
	printf("%-16s %-20s %10u %12llu %12s %12s %12s\n", stream, t->name.s,
	       t->partitions_count, (unsigned long long)t->messages_count,
	       fmt_bytes(t->size_bytes, b, sizeof(b)),
	       fmt_limit(t->message_expiry, 0, r, sizeof(r)),
	       fmt_limit(t->max_topic_size, 1, m, sizeof(m)));
}

static int do_list(void)
{
	struct vb_stream_info *streams = NULL, one;
	size_t ns = 0;
	struct vb_err e;
	int found;

	if (stream_given) {
		die_if(vb_client_get_stream(&cli.c, &cli.log.stream, &one,
					    &found, &e),
		       &e);
		if (!found)
			cli_die_msg(&cli, VB_EX_USAGE,
				    "stream %s does not exist", cli.stream);
		streams = vb_xcalloc(1, sizeof(*streams));
		streams[0] = one;
		ns = 1;
	} else
		die_if(vb_client_get_streams(&cli.c, &streams, &ns, &e), &e);
	if (!json)
		printf("%-16s %-20s %10s %12s %12s %12s %12s\n", "STREAM",
		       "TOPIC", "PARTITIONS", "MESSAGES", "BYTES", "RETENTION",
		       "MAX-SIZE");
	for (size_t i = 0; i < ns; i++) {
		struct vb_topic_info *topics;
		struct vb_ident sid;
		size_t nt;

		vb_ident_num(&sid, streams[i].id);
		die_if(vb_client_get_topics(&cli.c, &sid, &topics, &nt, &e),
		       &e);
		for (size_t k = 0; k < nt; k++)
			print_topic(streams[i].name.s, &topics[k]);
		free(topics);
	}
	free(streams);
	return VB_EX_OK;
}

/* The topic NAME of the stream, or an error naming the topics there are. */
static void need_topic(struct vb_topic_info *t)
{
	struct vb_err e;
	int found;

	die_if(vb_log_open(&cli.log, &e), &e);
	die_if(vb_client_get_topic(&cli.c, &cli.log.stream, &cli.log.topic, t,
				   NULL, 0, &found, &e),
	       &e);
}

/* Asks on a terminal; elsewhere only --yes goes on. */
static void confirm(const char *what, const struct vb_topic_info *t)
{
	char line[32];

	if (yes)
		return;
	if (!isatty(0) || !isatty(2))
		cli_usage_error(&cli,
				"not a terminal: give --yes to %s topic %s/%s",
				what, cli.stream, cli.topic);
	fprintf(stderr, "%s topic %s/%s and its %llu messages? [y/N] ", what,
		cli.stream, cli.topic, (unsigned long long)t->messages_count);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (line[0] != 'y' && line[0] != 'Y')) {
		fprintf(stderr, "%s: nothing done\n", cli.prog);
		exit(VB_EX_PARTIAL);
	}
}

static int do_create(void)
{
	struct vb_stream_info si;
	struct vb_topic_info t;
	struct vb_err e;
	int found;

	die_if(vb_client_get_stream(&cli.c, &cli.log.stream, &si, &found, &e),
	       &e);
	if (!found && vb_client_create_stream(&cli.c, cli.stream, &si, &e) &&
	    !(e.kind == VB_E_SERVER &&
	      e.status == VB_ST_STREAM_NAME_ALREADY_EXISTS))
		cli_die(&cli, &e);
	if (vb_client_create_topic_with(&cli.c, &cli.log.stream, cli.topic,
					cli.partitions,
					has_retention ? retention : 0,
					has_max_size ? max_size : 0, &t, &e)) {
		if (e.kind == VB_E_SERVER &&
		    e.status == VB_ST_TOPIC_NAME_ALREADY_EXISTS)
			cli_die_msg(&cli, VB_EX_PARTIAL,
				    "topic %s/%s exists already (vibes-topic set changes it)",
				    cli.stream, cli.topic);
		if (e.kind == VB_E_SERVER &&
		    e.status == VB_ST_INVALID_TOPIC_SIZE)
			cli_die_msg(
				&cli, VB_EX_USAGE,
				"--max-size: the server refuses a size below one segment of the topic (status 1019)");
		cli_die(&cli, &e);
	}
	if (cli.verbose)
		fprintf(stderr, "%s: created topic %s/%s with %u partitions\n",
			cli.prog, cli.stream, cli.topic, t.partitions_count);
	return VB_EX_OK;
}

static int do_set(void)
{
	struct vb_topic_info t;
	struct vb_err e;

	if (!has_retention && !has_max_size)
		cli_usage_error(&cli, "set: give --retention or --max-size");
	need_topic(&t);
	if (has_retention)
		t.message_expiry = retention;
	if (has_max_size)
		t.max_topic_size = max_size;
	if (vb_client_update_topic(&cli.c, &cli.log.stream, &cli.log.topic, &t,
				   &e)) {
		if (e.kind == VB_E_SERVER &&
		    e.status == VB_ST_INVALID_TOPIC_SIZE)
			cli_die_msg(
				&cli, VB_EX_USAGE,
				"--max-size: the server refuses a size below one segment of the topic (status 1019)");
		cli_die(&cli, &e);
	}
	return VB_EX_OK;
}

static int do_purge_delete(int delete)
{
	struct vb_topic_info t;
	struct vb_err e;

	need_topic(&t);
	confirm(delete ? "delete" : "purge", &t);
	die_if(delete ? vb_client_delete_topic(&cli.c, &cli.log.stream,
					       &cli.log.topic, &e) :
			vb_client_purge_topic(&cli.c, &cli.log.stream,
					      &cli.log.topic, &e),
	       &e);
	if (cli.verbose)
		fprintf(stderr, "%s: %s topic %s/%s (%llu messages)\n",
			cli.prog, delete ? "deleted" : "purged", cli.stream,
			cli.topic, (unsigned long long)t.messages_count);
	return VB_EX_OK;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int ch, rc;

	signal(SIGPIPE, SIG_IGN);
	cli_init(&cli, "vibes-topic", usage_text);
	cli_refuse_password(&cli, argc, argv);
	while ((ch = getopt_long(argc, argv, CLI_SHORTOPTS, longopts, NULL)) !=
	       -1) {
		if (ch == 's')
			stream_given = 1;
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case OPT_RETENTION:
			retention = parse_limit("--retention", optarg, "never",
						0);
			has_retention = 1;
			break;
		case OPT_MAX_SIZE:
			max_size = parse_limit("--max-size", optarg,
					       "unlimited", 1);
			has_max_size = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case OPT_ALL:
			all = 1;
			break;
		case OPT_YES:
			yes = 1;
			break;
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (optind >= argc)
		cli_usage_error(
			&cli,
			"give a command: list, create, set, purge or delete");
	cmd = argv[optind++];
	if (strcmp(cmd, "list") == 0) {
		if (optind < argc)
			cli_usage_error(&cli, "list: unexpected argument '%s'",
					argv[optind]);
	} else if (strcmp(cmd, "create") == 0 || strcmp(cmd, "set") == 0 ||
		   strcmp(cmd, "purge") == 0 || strcmp(cmd, "delete") == 0) {
		if (optind >= argc)
			cli_usage_error(&cli, "%s: give the topic's NAME", cmd);
		cli.topic = argv[optind++];
		if (optind < argc)
			cli_usage_error(&cli, "%s: unexpected argument '%s'",
					cmd, argv[optind]);
	} else
		cli_usage_error(
			&cli,
			"unknown command '%s' (use list, create, set, purge or delete)",
			cmd);
	cli_open(&cli, 1);
	if (strcmp(cmd, "list") == 0)
		rc = do_list();
	else if (strcmp(cmd, "create") == 0)
		rc = do_create();
	else if (strcmp(cmd, "set") == 0)
		rc = do_set();
	else
		rc = do_purge_delete(strcmp(cmd, "delete") == 0);
	cli_close(&cli);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing output: %s\n", cli.prog,
			strerror(errno));
		return VB_EX_IOERR;
	}
	return rc;
}
