/*
 * Request counters and the Prometheus text exposition of GET /metrics.
 *
 * The families named as upstream 0.8.0 names them (http_requests_total,
 * streams, topics, partitions, segments, messages, users, clients) come
 * first, so a dashboard made for upstream finds its series; ours carry the
 * prefix vibes_.  Upstream emits OpenMetrics text; we emit the Prometheus
 * text format 0.0.4 (what `promtool check metrics` reads), in which the
 * sample names are the same.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "broker/broker.h"
#include "base/banned.h"

/* Every command code 0.8.0 has (control.md §2), in table order. */
static const uint16_t known[] = {
	VB_CMD_PING,
	VB_CMD_GET_STATS,
	VB_CMD_GET_SNAPSHOT,
	VB_CMD_GET_CLUSTER_METADATA,
	VB_CMD_GET_ME,
	VB_CMD_GET_CLIENT,
	VB_CMD_GET_CLIENTS,
	VB_CMD_GET_USER,
	VB_CMD_GET_USERS,
	VB_CMD_CREATE_USER,
	VB_CMD_DELETE_USER,
	VB_CMD_UPDATE_USER,
	VB_CMD_UPDATE_PERMISSIONS,
	VB_CMD_CHANGE_PASSWORD,
	VB_CMD_LOGIN_USER,
	VB_CMD_LOGOUT_USER,
	VB_CMD_GET_PATS,
	VB_CMD_CREATE_PAT,
	VB_CMD_DELETE_PAT,
	VB_CMD_LOGIN_PAT,
	VB_CMD_POLL_MESSAGES,
	VB_CMD_SEND_MESSAGES,
	VB_CMD_FLUSH_UNSAVED_BUFFER,
	VB_CMD_GET_CONSUMER_OFFSET,
	VB_CMD_STORE_CONSUMER_OFFSET,
	VB_CMD_DELETE_CONSUMER_OFFSET,
	VB_CMD_GET_STREAM,
	VB_CMD_GET_STREAMS,
	VB_CMD_CREATE_STREAM,
	VB_CMD_DELETE_STREAM,
	VB_CMD_UPDATE_STREAM,
	VB_CMD_PURGE_STREAM,
	VB_CMD_GET_TOPIC,
	VB_CMD_GET_TOPICS,
	VB_CMD_CREATE_TOPIC,
	VB_CMD_DELETE_TOPIC,
	VB_CMD_UPDATE_TOPIC,
	VB_CMD_PURGE_TOPIC,
	VB_CMD_CREATE_PARTITIONS,
	VB_CMD_DELETE_PARTITIONS,
	VB_CMD_DELETE_SEGMENTS,
	VB_CMD_GET_CONSUMER_GROUP,
	VB_CMD_GET_CONSUMER_GROUPS,
	VB_CMD_CREATE_CONSUMER_GROUP,
	VB_CMD_DELETE_CONSUMER_GROUP,
	VB_CMD_JOIN_CONSUMER_GROUP,
	VB_CMD_LEAVE_CONSUMER_GROUP,
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static const int64_t lat_bounds[VB_MET_LAT_BUCKETS] = {
	10000,	   25000,     50000,	  100000,     250000,	500000,
	1000000,   2500000,   5000000,	  10000000,   25000000, 50000000,
	100000000, 250000000, 1000000000, 5000000000,
};

static int cmd_index(uint32_t code)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (known[i] == code)
			return (int)i;
	return -1;
}

void vb_metrics_init(struct vb_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->cmd = vb_xcalloc(NKNOWN, sizeof(*m->cmd));
}

void vb_metrics_release(struct vb_metrics *m)
{
	free(m->cmd);
	m->cmd = NULL;
}

int64_t vb_metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void vb_metrics_request(struct vb_metrics *m, uint32_t code,
			enum vb_transport tr, int64_t ns, uint32_t status)
{
	int i = m->cmd ? cmd_index(code) : -1;
	struct vb_met_cmd *mc;
	size_t k;

	if (i < 0) {
		m->unknown++;
		return;
	}
	mc = &m->cmd[i];
	mc->n[tr]++;
	if (status != 0)
		mc->errors[tr]++;
	for (k = 0; k < VB_MET_LAT_BUCKETS && ns > lat_bounds[k]; k++)
		;
	mc->lat.b[k]++;
	mc->lat.count++;
	mc->lat.sum_ns += (uint64_t)(ns > 0 ? ns : 0);
}

/* ---- the exposition ---- */

static void family(struct vb_buf *o, const char *name, const char *type,
		   const char *help)
{
	vb_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		      type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct vb_buf *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			vb_buf_addch(o, '\\');
		if (s[i] == '\n') {
			vb_buf_addstr(o, "\\n");
			continue;
		}
		vb_buf_addch(o, s[i]);
	}
}

static void part_labels(struct vb_buf *o, const struct vb_topic *t,
			uint32_t pid)
{
	vb_buf_addstr(o, "{stream=\"");
	label_value(o, t->stream->name.s, t->stream->name.len);
	vb_buf_addstr(o, "\",topic=\"");
	label_value(o, t->name.s, t->name.len);
	vb_buf_printf(o, "\",partition=\"%u\"}", pid);
}

static void seconds(struct vb_buf *o, uint64_t ns)
{
	vb_buf_printf(o, "%.9g", (double)ns / 1e9);
}

/* Cumulative buckets, _sum and _count; labels is "" or `k="v",`. */
static void histogram(struct vb_buf *o, const char *name, const char *labels,
		      const uint64_t *b, const int64_t *bounds, size_t nb,
		      uint64_t count, uint64_t sum_ns)
{
	uint64_t acc = 0;
	size_t ll = strlen(labels);

	for (size_t i = 0; i < nb; i++) {
		acc += b[i];
		vb_buf_printf(o, "%s_bucket{%sle=\"%.9g\"} %" PRIu64 "\n", name,
			      labels, (double)bounds[i] / 1e9, acc);
	}
	acc += b[nb];
	vb_buf_printf(o, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
		      acc);
	vb_buf_printf(o, "%s_sum", name);
	if (ll)
		vb_buf_printf(o, "{%.*s}", (int)(ll - 1), labels);
	vb_buf_addch(o, ' ');
	seconds(o, sum_ns);
	vb_buf_printf(o, "\n%s_count", name);
	if (ll)
		vb_buf_printf(o, "{%.*s}", (int)(ll - 1), labels);
	vb_buf_printf(o, " %" PRIu64 "\n", count);
}

struct totals {
	uint64_t streams, topics, partitions, segments, messages, groups,
		members;
};

static void count_topic(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	struct totals *tt = arg;

	tt->topics++;
	tt->partitions += t->nparts;
	for (uint32_t i = 0; i < t->nparts; i++) {
		tt->segments += t->parts[i]->nsegs;
		tt->messages += t->parts[i]->msgs;
	}
	for (uint32_t gi = 0; gi < t->groups.n; gi++) {
		struct vb_group *g = vb_slab_get(&t->groups, gi);

		if (g) {
			tt->groups++;
			tt->members += g->nm;
		}
	}
}

/* One per-partition family: fn picks the value. */
struct part_family {
	struct vb_buf *o;
	uint64_t (*value)(const struct vb_part *p);
	const char *name;
};

static void part_samples(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	struct part_family *pf = arg;

	for (uint32_t i = 0; i < t->nparts; i++) {
		vb_buf_addstr(pf->o, pf->name);
		part_labels(pf->o, t, i);
		vb_buf_printf(pf->o, " %" PRIu64 "\n", pf->value(t->parts[i]));
	}
}

static uint64_t v_msgs_in(const struct vb_part *p)
{
	return p->io.msgs_in;
}
static uint64_t v_bytes_in(const struct vb_part *p)
{
	return p->io.bytes_in;
}
static uint64_t v_msgs_out(const struct vb_part *p)
{
	return p->io.msgs_out;
}
static uint64_t v_bytes_out(const struct vb_part *p)
{
	return p->io.bytes_out;
}
static uint64_t v_msgs(const struct vb_part *p)
{
	return p->msgs;
}
static uint64_t v_bytes(const struct vb_part *p)
{
	return p->bytes;
}
static uint64_t v_segs(const struct vb_part *p)
{
	return p->nsegs;
}
static uint64_t v_offset(const struct vb_part *p)
{
	return vb_part_current(p);
}

static const struct {
	const char *name, *type, *help;
	uint64_t (*value)(const struct vb_part *p);
} part_families[] = {
	{ "vibes_partition_messages_in_total", "counter",
	  "Messages appended to the partition since the server started.",
	  v_msgs_in },
	{ "vibes_partition_bytes_in_total", "counter",
	  "Bytes of messages (headers, payloads, user headers) appended.",
	  v_bytes_in },
	{ "vibes_partition_messages_out_total", "counter",
	  "Messages returned by polls of the partition.", v_msgs_out },
	{ "vibes_partition_bytes_out_total", "counter",
	  "Bytes of messages returned by polls.", v_bytes_out },
	{ "vibes_partition_messages", "gauge",
	  "Messages stored in the partition.", v_msgs },
	{ "vibes_partition_bytes", "gauge",
	  "Bytes of messages stored in the partition.", v_bytes },
	{ "vibes_partition_segments", "gauge", "Segments of the partition.",
	  v_segs },
	{ "vibes_partition_current_offset", "gauge",
	  "Offset of the partition's last message (0 when none).", v_offset },
};

static void group_samples(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	struct vb_buf *o = arg;

	for (uint32_t gi = 0; gi < t->groups.n; gi++) {
		struct vb_group *g = vb_slab_get(&t->groups, gi);

		if (g == NULL)
			continue;
		vb_buf_addstr(o, "vibes_consumer_group_members{stream=\"");
		label_value(o, t->stream->name.s, t->stream->name.len);
		vb_buf_addstr(o, "\",topic=\"");
		label_value(o, t->name.s, t->name.len);
		vb_buf_addstr(o, "\",group=\"");
		label_value(o, g->name.s, g->name.len);
		vb_buf_printf(o, "\"} %u\n", g->nm);
	}
}

static uint64_t disk_used;

static int du_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	if (flag == FTW_F || flag == FTW_D)
		disk_used += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Bytes allocated under the data dir (as du counts them). */
static uint64_t du(const char *dir)
{
	disk_used = 0;
	nftw(dir, du_one, 16, FTW_PHYS | FTW_MOUNT);
	return disk_used;
}

/*
 * One line per command and transport it ran on: the requests, or (ERRORS)
 * those answered with an error status.
 */
static void per_command(struct vb_buf *o, const struct vb_metrics *m,
			const char *name, int errors)
{
	static const char *const tr[VB_TR_N] = { "tcp", "http" };

	for (size_t i = 0; i < NKNOWN; i++)
		for (int k = 0; k < VB_TR_N; k++)
			if (m->cmd[i].n[k])
				vb_buf_printf(
					o,
					"%s{command=\"%s\",transport=\"%s\"} %" PRIu64
					"\n",
					name, vb_cmd_name(known[i]), tr[k],
					errors ? m->cmd[i].errors[k] :
						 m->cmd[i].n[k]);
}

void vb_metrics_render(struct vb_broker *b, struct vb_buf *o)
{
	struct vb_metrics *m = &b->metrics;
	struct vb_sync_stats *ss = &b->sync.stats;
	struct totals tt;
	uint64_t now = vb_wall_us(), users = 0, sb[VB_SYNC_BUCKETS + 1];

	memset(&tt, 0, sizeof(tt));
	for (uint32_t i = 0; i < b->streams.n; i++)
		if (vb_slab_get(&b->streams, i))
			tt.streams++;
	vb_each_topic(b, count_topic, &tt);
	for (uint32_t i = 0; i < b->users.n; i++)
		if (vb_slab_get(&b->users, i))
			users++;

	/* upstream's families, with upstream's names */
	family(o, "http_requests_total", "counter",
	       "Total count of HTTP requests.");
	vb_buf_printf(o, "http_requests_total %" PRIu64 "\n", m->http_requests);
	family(o, "streams", "gauge", "Total count of streams.");
	vb_buf_printf(o, "streams %" PRIu64 "\n", tt.streams);
	family(o, "topics", "gauge", "Total count of topics.");
	vb_buf_printf(o, "topics %" PRIu64 "\n", tt.topics);
	family(o, "partitions", "gauge", "Total count of partitions.");
	vb_buf_printf(o, "partitions %" PRIu64 "\n", tt.partitions);
	family(o, "segments", "gauge", "Total count of segments.");
	vb_buf_printf(o, "segments %" PRIu64 "\n", tt.segments);
	family(o, "messages", "gauge", "Total count of messages.");
	vb_buf_printf(o, "messages %" PRIu64 "\n", tt.messages);
	family(o, "users", "gauge", "Total count of users.");
	vb_buf_printf(o, "users %" PRIu64 "\n", users);
	family(o, "clients", "gauge",
	       "Total count of clients (TCP connections).");
	vb_buf_printf(o, "clients %u\n", b->nconns);

	/* the process */
	family(o, "vibes_start_time_seconds", "gauge",
	       "When the server started, in seconds since the Unix epoch.");
	vb_buf_printf(o, "vibes_start_time_seconds %" PRIu64 "\n",
		      b->start_time / 1000000);
	family(o, "vibes_uptime_seconds", "gauge",
	       "Seconds since the server started.");
	vb_buf_printf(o, "vibes_uptime_seconds %.3f\n",
		      (double)(now - b->start_time) / 1e6);
	family(o, "vibes_connected_clients", "gauge",
	       "Open client connections by transport.");
	vb_buf_printf(o, "vibes_connected_clients{transport=\"tcp\"} %u\n",
		      b->nconns);
	vb_buf_printf(o, "vibes_connected_clients{transport=\"http\"} %u\n",
		      vb_http_connections(b));
	family(o, "vibes_disk_used_bytes", "gauge",
	       "Bytes allocated on disk under the data dir.");
	vb_buf_printf(o, "vibes_disk_used_bytes %" PRIu64 "\n", du(b->dir));
	family(o, "vibes_consumer_groups", "gauge",
	       "Consumer groups of every topic.");
	vb_buf_printf(o, "vibes_consumer_groups %" PRIu64 "\n", tt.groups);

	/* requests */
	family(o, "vibes_requests_total", "counter",
	       "Requests run, by command and transport.");
	per_command(o, m, "vibes_requests_total", 0);
	family(o, "vibes_request_errors_total", "counter",
	       "Requests answered with an error status, by command and "
	       "transport.");
	per_command(o, m, "vibes_request_errors_total", 1);
	family(o, "vibes_unknown_requests_total", "counter",
	       "Request frames with a command code 0.8.0 does not have.");
	vb_buf_printf(o, "vibes_unknown_requests_total %" PRIu64 "\n",
		      m->unknown);
	family(o, "vibes_request_duration_seconds", "histogram",
	       "Time the event loop spent running a request, by command.");
	for (size_t i = 0; i < NKNOWN; i++) {
		char labels[64];

		if (m->cmd[i].lat.count == 0)
			continue;
		snprintf(labels, sizeof(labels), "command=\"%s\",",
			 vb_cmd_name(known[i]));
		histogram(o, "vibes_request_duration_seconds", labels,
			  m->cmd[i].lat.b, lat_bounds, VB_MET_LAT_BUCKETS,
			  m->cmd[i].lat.count, m->cmd[i].lat.sum_ns);
	}
	family(o, "vibes_http_responses_total", "counter",
	       "HTTP responses by status class.");
	for (int k = 1; k <= 5; k++)
		vb_buf_printf(o,
			      "vibes_http_responses_total{code=\"%dxx\"} "
			      "%" PRIu64 "\n",
			      k, m->http_status[k]);

	/* durability */
	family(o, "vibes_fsync_total", "counter",
	       "fdatasync calls on message files.");
	vb_buf_printf(o, "vibes_fsync_total %" PRIu64 "\n",
		      (uint64_t)atomic_load(&ss->count));
	family(o, "vibes_fsync_failures_total", "counter",
	       "fdatasync calls on message files that failed.");
	vb_buf_printf(o, "vibes_fsync_failures_total %" PRIu64 "\n",
		      (uint64_t)atomic_load(&ss->failed));
	family(o, "vibes_fsync_duration_seconds", "histogram",
	       "How long fdatasync of message files took.");
	for (size_t i = 0; i <= VB_SYNC_BUCKETS; i++)
		sb[i] = atomic_load(&ss->b[i]);
	{
		uint64_t n = 0;

		for (size_t i = 0; i <= VB_SYNC_BUCKETS; i++)
			n += sb[i];
		histogram(o, "vibes_fsync_duration_seconds", "", sb,
			  vb_sync_bounds_ns, VB_SYNC_BUCKETS, n,
			  atomic_load(&ss->sum_ns));
	}

	/* partitions and groups */
	for (size_t i = 0; i < sizeof(part_families) / sizeof(part_families[0]);
	     i++) {
		struct part_family pf = { o, part_families[i].value,
					  part_families[i].name };

		family(o, part_families[i].name, part_families[i].type,
		       part_families[i].help);
		vb_each_topic(b, part_samples, &pf);
	}
	family(o, "vibes_consumer_group_members", "gauge",
	       "Members of each consumer group.");
	vb_each_topic(b, group_samples, o);
}
