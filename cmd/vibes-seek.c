/*
 * vibes-seek - show or move a consumer's (or group's) positions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "log-cli.h"
#include "base/banned.h"

/* Laid out as it prints: clang-format would indent it past 80 columns. */
/* clang-format off */
static const char usage_text[] =
"usage: vibes-seek (-c NAME | -g NAME) [--to POSITION] [-p N] [--json] [OPTIONS]\n"
"       vibes-seek (-c NAME | -g NAME) --delete [OPTIONS]\n"
"       vibes-seek --all [--json] [OPTIONS]\n"
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
"                          (with --all: one per consumer and group)\n"
"      --all               every consumer and group of the topic: positions,\n"
"                          lag per partition and in total, and for groups\n"
"                          the members and which partition each owns\n"
"      --delete            forget the consumer: its positions (and its start)\n"
"                          are deleted, so it starts anew; or delete the group\n"
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
/* clang-format on */

enum { OPT_TO = OPT_FIRST_OWN, OPT_JSON, OPT_ALL, OPT_DELETE };

static const struct option longopts[] = {
	CLI_LONGOPTS,
	{ "consumer", required_argument, NULL, 'c' },
	{ "group", required_argument, NULL, 'g' },
	{ "to", required_argument, NULL, OPT_TO },
	{ "partition", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "delete", no_argument, NULL, OPT_DELETE },
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

static void json_owner(struct vb_buf *b, const struct owners *ow, uint32_t p)
{
	uint32_t m = ow->gm.owner[p];
	const struct vb_member_reg *reg;

	if (m == VB_NO_MEMBER) {
		vb_buf_addstr(b, ",\"owner\":null");
		return;
	}
	vb_buf_printf(b, ",\"owner\":{\"member\":%u", m);
	reg = reg_of(ow, m);
	if (reg && reg->pid > 0) {
		vb_buf_printf(b, ",\"pid\":%ld,\"host\":", reg->pid);
		vb_json_quote(b, reg->host, strlen(reg->host));
		vb_buf_addstr(b, ",\"address\":");
		vb_json_quote(b, reg->address, strlen(reg->address));
	}
	vb_buf_addch(b, '}');
}

/* One partition as a JSON object (no newline). */
static void row_json(struct vb_buf *b, const struct vb_lag_row *r,
		     const struct owners *ow)
{
	vb_buf_printf(b, "{\"partition\":%u,\"committed\":", r->partition);
	if (r->has_committed)
		vb_buf_printf(b, "%llu", (unsigned long long)r->committed);
	else
		vb_buf_addstr(b, "null");
	vb_buf_printf(b,
		      ",\"next\":%llu,\"hwm\":", (unsigned long long)r->next);
	if (r->empty)
		vb_buf_addstr(b, "null");
	else
		vb_buf_printf(b, "%llu", (unsigned long long)r->hwm);
	vb_buf_printf(b, ",\"lag\":%llu,\"empty\":%s",
		      (unsigned long long)r->lag, r->empty ? "true" : "false");
	if (ow)
		json_owner(b, ow, r->partition);
	vb_buf_addch(b, '}');
}

static void print_rows(const struct vb_lag_row *rows, uint32_t n, long part,
		       int json, const struct owners *ow)
{
	uint64_t total = 0;
	char obuf[160];
	struct vb_buf b = VB_BUF_INIT;

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
			vb_buf_reset(&b);
			row_json(&b, r, ow);
			puts((char *)b.p);
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
	vb_buf_release(&b);
}

/* A group's owners (members and what they registered). */
static void owners_of(struct cli *cl, const struct vb_consumer *who,
		      struct owners *ow)
{
	struct vb_err e;

	memset(ow, 0, sizeof(*ow));
	if (vb_log_group_members(&cl->log, who, &ow->gm, &e) ||
	    vb_log_member_regs(&cl->log, who, &ow->regs, &ow->nregs, &e))
		cli_die(cl, &e);
}

static void owners_release(struct owners *ow)
{
	vb_group_members_release(&ow->gm);
	free(ow->regs);
}

/*
 * --all: every consumer (from the registry: the protocol cannot list
 * them) and every group (from the server) of the topic, each with its
 * positions, lag and, for groups, members and owners.
 */
static int show_all(struct cli *cl, int json)
{
	struct vb_registered *regs;
	struct vb_group_info *groups;
	struct vb_lag_row *rows = vb_xcalloc(cl->log.nparts + 1, sizeof(*rows));
	size_t nregs, ngroups, total = 0;
	struct vb_err e;
	struct vb_buf b = VB_BUF_INIT;

	if (vb_log_registered(&cl->log, &regs, &nregs, &e) ||
	    vb_client_get_groups(&cl->c, &cl->log.stream, &cl->log.topic,
				 &groups, &ngroups, &e))
		cli_die(cl, &e);
	/* consumers first, then the server's groups */
	for (size_t k = 0; k < nregs + ngroups; k++) {
		struct vb_consumer who;
		struct owners ow;
		const char *name = k < nregs ? regs[k].name :
					       groups[k - nregs].name.s;
		int group = k < nregs ? regs[k].group : 1;
		uint64_t lag = 0;

		if (k < nregs && group)
			continue; /* groups come from the server */
		if (vb_log_who(&who, group, name, &e) ||
		    vb_log_lag(&cl->log, &who, rows, &e))
			cli_die(cl, &e);
		if (group)
			owners_of(cl, &who, &ow);
		for (uint32_t p = 0; p < cl->log.nparts; p++)
			lag += rows[p].lag;
		total++;
		if (json) {
			vb_buf_reset(&b);
			vb_buf_printf(&b, "{\"kind\":\"%s\",\"name\":",
				      group ? "group" : "consumer");
			vb_json_quote(&b, name, strlen(name));
			vb_buf_printf(&b, ",\"lag\":%llu",
				      (unsigned long long)lag);
			if (group)
				vb_buf_printf(&b, ",\"members\":%u", ow.gm.n);
			vb_buf_addstr(&b, ",\"partitions\":[");
			for (uint32_t p = 0; p < cl->log.nparts; p++) {
				if (p)
					vb_buf_addch(&b, ',');
				row_json(&b, &rows[p], group ? &ow : NULL);
			}
			vb_buf_addstr(&b, "]}");
			puts((char *)b.p);
		} else {
			printf("%s%s %s: lag %llu", total > 1 ? "\n" : "",
			       group ? "group" : "consumer", name,
			       (unsigned long long)lag);
			if (group)
				printf(", %u member%s", ow.gm.n,
				       ow.gm.n == 1 ? "" : "s");
			putchar('\n');
			print_rows(rows, cl->log.nparts, -1, 0,
				   group ? &ow : NULL);
		}
		if (group)
			owners_release(&ow);
	}
	if (!json && total == 0)
		printf("no consumer and no group reads %s/%s\n", cl->stream,
		       cl->topic);
	vb_buf_release(&b);
	free(regs);
	free(groups);
	free(rows);
	return VB_EX_OK;
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
	int ch, group = 0, n = 0, json = 0, all = 0, del = 0;

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
		case OPT_ALL:
			all = 1;
			break;
		case OPT_DELETE:
			del = 1;
			break;
		default:
			cli_usage_error(&cli, "unexpected option");
		}
	}
	if (optind < argc)
		cli_usage_error(&cli, "unexpected argument '%s'", argv[optind]);
	if (all && (n || tos || del || part >= 0))
		cli_usage_error(
			&cli,
			"--all shows every consumer and group: no -c, -g, --to, --delete or -p with it");
	if (!all && n != 1)
		cli_usage_error(
			&cli,
			"give exactly one of -c NAME and -g NAME, or --all");
	if (del && (tos || part >= 0 || json))
		cli_usage_error(&cli, "--delete takes no --to, -p or --json");
	if (tos)
		cli_check(&cli, "--to", vb_pos_parse(tos, 0, &to, &e), &e);
	if (!all && vb_log_who(&who, group, name, &e))
		cli_usage_error(&cli, "%s", e.msg);

	cli_open(&cli, 1);
	if (vb_log_open(&cli.log, &e))
		cli_die(&cli, &e);
	if (all || del) {
		int rc = all ? show_all(&cli, json) : VB_EX_OK;

		if (del && vb_log_delete(&cli.log, &who, &e))
			cli_die(&cli, &e);
		if (del && cli.verbose)
			fprintf(stderr, "%s: %s %s deleted\n", cli.prog,
				group ? "group" : "consumer", name);
		cli_close(&cli);
		if (fflush(stdout) || ferror(stdout))
			return VB_EX_IOERR;
		return rc;
	}
	if (part >= 0 && (uint64_t)part >= cli.log.nparts)
		cli_usage_error(&cli,
				"--partition %ld: topic %s/%s has %u partitions",
				part, cli.stream, cli.topic, cli.log.nparts);
	rows = vb_xcalloc(cli.log.nparts + 1000, sizeof(*rows));
	if (tos ? vb_log_seek(&cli.log, &who, part, &to, rows, &e) :
		  vb_log_lag(&cli.log, &who, rows, &e))
		cli_die(&cli, &e);
	memset(&ow, 0, sizeof(ow));
	if (group)
		owners_of(&cli, &who, &ow);
	print_rows(rows, cli.log.nparts, part, json, group ? &ow : NULL);
	owners_release(&ow);
	free(rows);
	cli_close(&cli);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing output: failed\n", cli.prog);
		return VB_EX_IOERR;
	}
	return VB_EX_OK;
}
