/*
 * vibes-seek - show or move a consumer's (or group's) positions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "log-cli.h"
#include "base/banned.h"

static const char usage_text[] =
"usage: vibes-seek (-c NAME | -g NAME) [--to POSITION] [-p N] [--json] [OPTIONS]\n"
"\n"
"Without --to, shows for every partition the committed offset, the high\n"
"water mark and the lag of consumer (-c) or group (-g) NAME.  With --to,\n"
"moves it first and shows the result.\n"
"\n"
"  -c, --consumer NAME     an independent consumer\n"
"  -g, --group NAME        a consumer group (created if missing by --to; run\n"
"                          --to while no member of the group is running)\n"
"      --to POSITION       beginning (forget the committed offset: read from\n"
"                          the first event), end (skip everything stored), N\n"
"                          (the next read starts at offset N), -N (N events\n"
"                          before the committed position) or @TIMESTAMP (the\n"
"                          first event stored at or after it); positions are\n"
"                          clamped to what the partition holds\n"
"  -p, --partition N       only partition N (default: all)\n"
"      --json              one JSON object per partition instead of a table\n"
"\n"
"Columns: COMMITTED = offset of the last processed event ('-' when nothing\n"
"is committed); NEXT = offset the next read starts at; HWM (high water mark)\n"
"= offset of the partition's last event ('-' when the partition is empty);\n"
"LAG = HWM + 1 - NEXT = events not processed yet (0 for an empty\n"
"partition).  In JSON, committed and hwm are null when absent.  For a group\n"
"OWNER is the member that owns the partition now: its member id, and the pid\n"
"and host it registered when it joined ('-' when no member runs).\n"
"\n"
CLI_HELP
"\n"
CLI_EXIT_HELP;

enum { OPT_TO = OPT_FIRST_OWN, OPT_JSON };

static const struct option longopts[] = {
	CLI_LONGOPTS,
	{ "consumer", required_argument, NULL, 'c' },
	{ "group", required_argument, NULL, 'g' },
	{ "to", required_argument, NULL, OPT_TO },
	{ "partition", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* A group's owners: who owns each partition, and what each registered. */
struct owners {
	struct vb_group_members gm;
	struct vb_member_reg *regs;
	size_t nregs;
};

static const struct vb_member_reg *reg_of(const struct owners *ow,
					  uint32_t member)
{
	for (size_t i = 0; i < ow->nregs; i++)
		if (ow->regs[i].member == member)
			return &ow->regs[i];
	return NULL;
}

/* "3 (pid 1234 on host)", or "3", or "-" for no owner. */
static const char *owner_text(const struct owners *ow, uint32_t p, char *buf,
			      size_t size)
{
	uint32_t m = ow->gm.owner[p];
	const struct vb_member_reg *reg;

	if (m == VB_NO_MEMBER)
		return "-";
	reg = reg_of(ow, m);
	if (reg && reg->pid > 0)
		snprintf(buf, size, "%u (pid %ld on %s)", m, reg->pid,
			 reg->host[0] ? reg->host : "?");
	else
		snprintf(buf, size, "%u", m);
	return buf;
}

static void json_owner(const struct owners *ow, uint32_t p)
{
	uint32_t m = ow->gm.owner[p];
	const struct vb_member_reg *reg;
	struct vb_buf b = VB_BUF_INIT;

	if (m == VB_NO_MEMBER) {
		fputs(",\"owner\":null", stdout);
		return;
	}
	printf(",\"owner\":{\"member\":%u", m);
	reg = reg_of(ow, m);
	if (reg && reg->pid > 0) {
		printf(",\"pid\":%ld,\"host\":", reg->pid);
		vb_json_quote(&b, reg->host, strlen(reg->host));
		vb_buf_addstr(&b, ",\"address\":");
		vb_json_quote(&b, reg->address, strlen(reg->address));
		fwrite(b.p, 1, b.len, stdout);
		vb_buf_release(&b);
	}
	fputs("}", stdout);
}

static void print_rows(const struct vb_lag_row *rows, uint32_t n, long part,
		       int json, const struct owners *ow)
{
	uint64_t total = 0;
	char obuf[160];

	if (!json)
		printf("%-9s %12s %12s %12s %12s%s\n", "PARTITION", "COMMITTED",
		       "NEXT", "HWM", "LAG", ow ? "  OWNER" : "");
	for (uint32_t i = 0; i < n; i++) {
		const struct vb_lag_row *r = &rows[i];
		char c[24], h[24];

		if (part >= 0 && r->partition != (uint32_t)part)
			continue;
		total += r->lag;
		if (json) {
			printf("{\"partition\":%u,\"committed\":", r->partition);
			if (r->has_committed)
				printf("%llu", (unsigned long long)r->committed);
			else
				fputs("null", stdout);
			printf(",\"next\":%llu,\"hwm\":",
			       (unsigned long long)r->next);
			if (r->empty)
				fputs("null", stdout);
			else
				printf("%llu", (unsigned long long)r->hwm);
			printf(",\"lag\":%llu,\"empty\":%s",
			       (unsigned long long)r->lag,
			       r->empty ? "true" : "false");
			if (ow)
				json_owner(ow, r->partition);
			puts("}");
			continue;
		}
		if (r->has_committed)
			snprintf(c, sizeof(c), "%llu",
				 (unsigned long long)r->committed);
		else
			strlcpy(c, "-", sizeof(c));
		if (r->empty)
			strlcpy(h, "-", sizeof(h));
		else
			snprintf(h, sizeof(h), "%llu",
				 (unsigned long long)r->hwm);
		printf("%-9u %12s %12llu %12s %12llu", r->partition, c,
		       (unsigned long long)r->next, h,
		       (unsigned long long)r->lag);
		if (ow)
			printf("  %s", owner_text(ow, r->partition, obuf,
						  sizeof(obuf)));
		puts(r->empty ? "  (empty)" : "");
	}
	if (!json)
		printf("%-9s %12s %12s %12s %12llu\n", "total", "", "", "",
		       (unsigned long long)total);
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct vb_consumer who;
	struct vb_lag_row *rows;
	struct owners ow;
	struct vb_pos to;
	struct vb_err e;
	const char *name = NULL, *tos = NULL;
	long part = -1;
	uint64_t v;
	int ch, group = 0, n = 0, json = 0;

	signal(SIGPIPE, SIG_IGN);
	cli_init(&cli, "vibes-seek", usage_text);
	cli_refuse_password(&cli, argc, argv);
	while ((ch = getopt_long(argc, argv, CLI_SHORTOPTS "c:g:p:", longopts,
				 NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'c':
		case 'g':
			group = ch == 'g';
			name = optarg;
			n++;
			break;
		case OPT_TO:
			tos = optarg;
			break;
		case 'p':
			cli_check(&cli, "--partition",
				  vb_parse_u64(optarg, 0, 999, &v, &e), &e);
			part = (long)v;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (optind < argc)
		cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
	if (n != 1)
		cli_usage_error(&cli, "give exactly one of -c NAME and -g NAME");
	if (tos)
		cli_check(&cli, "--to", vb_pos_parse(tos, 0, &to, &e), &e);
	if (vb_log_who(&who, group, name, &e))
		cli_usage_error(&cli, "%s", e.msg);

	cli_open(&cli, 1);
	if (vb_log_open(&cli.log, &e))
		cli_die(&cli, &e);
	if (part >= 0 && (uint64_t)part >= cli.log.nparts)
		cli_usage_error(&cli,
				"--partition %ld: topic %s/%s has %u partitions",
				part, cli.stream, cli.topic, cli.log.nparts);
	rows = vb_xcalloc(cli.log.nparts + 1000, sizeof(*rows));
	if (tos ? vb_log_seek(&cli.log, &who, part, &to, rows, &e) :
		  vb_log_lag(&cli.log, &who, rows, &e))
		cli_die(&cli, &e);
	memset(&ow, 0, sizeof(ow));
	if (group && (vb_log_group_members(&cli.log, &who, &ow.gm, &e) ||
		      vb_log_member_regs(&cli.log, &who, &ow.regs, &ow.nregs,
					 &e)))
		cli_die(&cli, &e);
	print_rows(rows, cli.log.nparts, part, json, group ? &ow : NULL);
	vb_group_members_release(&ow.gm);
	free(ow.regs);
	free(rows);
	cli_close(&cli);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing output: failed\n", cli.prog);
		return VB_EX_IOERR;
	}
	return VB_EX_OK;
}
