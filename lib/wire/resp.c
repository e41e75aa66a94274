/* Response frames and records (control.md §5, messages.md §6). */
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

size_t vb_wire_resp_begin(struct vb_buf *b)
{
	size_t mark = b->len;

	vb_buf_u32(b, VB_ST_OK);
	vb_buf_u32(b, 0);
	return mark;
}

void vb_wire_resp_end(struct vb_buf *b, size_t mark)
{
	vb_st32(b->p + mark + 4, (uint32_t)(b->len - mark - VB_RESP_HDR));
}

void vb_wire_resp_error(struct vb_buf *b, uint32_t status)
{
	vb_buf_u32(b, status);
	vb_buf_u32(b, 0);
}

void vb_wire_resp_hdr(const uint8_t hdr[VB_RESP_HDR], uint32_t *status,
		      uint32_t *length)
{
	*status = vb_ld32(hdr);
	*length = vb_ld32(hdr + 4);
}

/* Response records come from a trusted-ish server but are still checked:
 * any shortfall is InvalidCommand-shaped (3) with the field named. */

void vb_wire_enc_stream_gen(struct vb_buf *b, const struct vb_stream_info *s,
			    unsigned gen)
{
	vb_buf_u32(b, s->id);
	vb_buf_u64(b, s->created_at);
	vb_buf_u32(b, s->topics_count);
	vb_buf_u64(b, s->size_bytes);
	vb_buf_u64(b, s->messages_count);
	vb_wire_enc_name(b, &s->name);
	if (gen == VB_GEN_09)
		vb_buf_u32(b, 0); /* options: none (commands.md §3.1) */
}

void vb_wire_enc_stream(struct vb_buf *b, const struct vb_stream_info *s)
{
	vb_wire_enc_stream_gen(b, s, VB_GEN_08);
}

int vb_wire_dec_stream_gen(struct vb_rd *r, struct vb_stream_info *s,
			   unsigned gen, struct vb_err *e)
{
	memset(s, 0, sizeof(*s));
	if (vb_rd_u32(r, &s->id, "stream id", e) ||
	    vb_rd_u64(r, &s->created_at, "stream created_at", e) ||
	    vb_rd_u32(r, &s->topics_count, "stream topics_count", e) ||
	    vb_rd_u64(r, &s->size_bytes, "stream size_bytes", e) ||
	    vb_rd_u64(r, &s->messages_count, "stream messages_count", e) ||
	    vb_wire_dec_name(r, &s->name, "stream name", e))
		return -1;
	if (gen == VB_GEN_09)
		return vb_wire_skip_opts(r, "stream options", e);
	return 0;
}

int vb_wire_dec_stream(struct vb_rd *r, struct vb_stream_info *s,
		       struct vb_err *e)
{
	return vb_wire_dec_stream_gen(r, s, VB_GEN_08, e);
}

/*
 * 0.9 topic headers lost the replication factor and gained two options
 * blocks: what the creator sent and what the server derived (commands.md
 * §4.1).  The fixed fields already say what vibes reads of them.
 */
void vb_wire_enc_topic_gen(struct vb_buf *b, const struct vb_topic_info *t,
			   unsigned gen)
{
	vb_buf_u32(b, t->id);
	vb_buf_u64(b, t->created_at);
	vb_buf_u32(b, t->partitions_count);
	vb_buf_u64(b, t->message_expiry);
	vb_buf_u8(b, t->compression);
	vb_buf_u64(b, t->max_topic_size);
	if (gen != VB_GEN_09)
		vb_buf_u8(b, t->replication_factor);
	vb_buf_u64(b, t->size_bytes);
	vb_buf_u64(b, t->messages_count);
	vb_wire_enc_name(b, &t->name);
	if (gen == VB_GEN_09) {
		vb_buf_u32(b, 0); /* options */
		vb_buf_u32(b, 0); /* derived_options */
	}
}

void vb_wire_enc_topic(struct vb_buf *b, const struct vb_topic_info *t)
{
	vb_wire_enc_topic_gen(b, t, VB_GEN_08);
}

int vb_wire_dec_topic_gen(struct vb_rd *r, struct vb_topic_info *t,
			  unsigned gen, struct vb_err *e)
{
	memset(t, 0, sizeof(*t));
	if (vb_rd_u32(r, &t->id, "topic id", e) ||
	    vb_rd_u64(r, &t->created_at, "topic created_at", e) ||
	    vb_rd_u32(r, &t->partitions_count, "topic partitions_count", e) ||
	    vb_rd_u64(r, &t->message_expiry, "topic message_expiry", e) ||
	    vb_rd_u8(r, &t->compression, "topic compression", e) ||
	    vb_rd_u64(r, &t->max_topic_size, "topic max_topic_size", e))
		return -1;
	if (gen != VB_GEN_09 &&
	    vb_rd_u8(r, &t->replication_factor, "topic replication_factor", e))
		return -1;
	if (vb_rd_u64(r, &t->size_bytes, "topic size_bytes", e) ||
	    vb_rd_u64(r, &t->messages_count, "topic messages_count", e) ||
	    vb_wire_dec_name(r, &t->name, "topic name", e))
		return -1;
	if (gen == VB_GEN_09)
		return vb_wire_skip_opts(r, "topic options", e) ||
				       vb_wire_skip_opts(r,
							 "topic derived_options",
							 e) ?
			       -1 :
			       0;
	return 0;
}

int vb_wire_dec_topic(struct vb_rd *r, struct vb_topic_info *t,
		      struct vb_err *e)
{
	return vb_wire_dec_topic_gen(r, t, VB_GEN_08, e);
}

void vb_wire_enc_partition(struct vb_buf *b, const struct vb_partition_info *p)
{
	vb_buf_u32(b, p->id);
	vb_buf_u64(b, p->created_at);
	vb_buf_u32(b, p->segments_count);
	vb_buf_u64(b, p->current_offset);
	vb_buf_u64(b, p->size_bytes);
	vb_buf_u64(b, p->messages_count);
}

int vb_wire_dec_partition(struct vb_rd *r, struct vb_partition_info *p,
			  struct vb_err *e)
{
	memset(p, 0, sizeof(*p));
	if (vb_rd_u32(r, &p->id, "partition id", e) ||
	    vb_rd_u64(r, &p->created_at, "partition created_at", e) ||
	    vb_rd_u32(r, &p->segments_count, "partition segments_count", e) ||
	    vb_rd_u64(r, &p->current_offset, "partition current_offset", e) ||
	    vb_rd_u64(r, &p->size_bytes, "partition size_bytes", e) ||
	    vb_rd_u64(r, &p->messages_count, "partition messages_count", e))
		return -1;
	return 0;
}

void vb_wire_enc_offset(struct vb_buf *b, const struct vb_offset_info *o)
{
	vb_buf_u32(b, o->partition_id);
	vb_buf_u64(b, o->current_offset);
	vb_buf_u64(b, o->stored_offset);
}

int vb_wire_dec_offset(struct vb_rd *r, struct vb_offset_info *o,
		       struct vb_err *e)
{
	memset(o, 0, sizeof(*o));
	if (vb_rd_u32(r, &o->partition_id, "offset partition_id", e) ||
	    vb_rd_u64(r, &o->current_offset, "offset current_offset", e) ||
	    vb_rd_u64(r, &o->stored_offset, "offset stored_offset", e))
		return -1;
	return 0;
}

void vb_wire_enc_group(struct vb_buf *b, const struct vb_group_info *g)
{
	vb_buf_u32(b, g->id);
	vb_buf_u32(b, g->partitions_count);
	vb_buf_u32(b, g->members_count);
	vb_wire_enc_name(b, &g->name);
}

int vb_wire_dec_group(struct vb_rd *r, struct vb_group_info *g,
		      struct vb_err *e)
{
	memset(g, 0, sizeof(*g));
	if (vb_rd_u32(r, &g->id, "group id", e) ||
	    vb_rd_u32(r, &g->partitions_count, "group partitions_count", e) ||
	    vb_rd_u32(r, &g->members_count, "group members_count", e))
		return -1;
	return vb_wire_dec_name(r, &g->name, "group name", e);
}

void vb_wire_enc_member(struct vb_buf *b, uint32_t id, const uint32_t *parts,
			uint32_t n)
{
	vb_buf_u32(b, id);
	vb_buf_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		vb_buf_u32(b, parts[i]);
}

int vb_wire_dec_member(struct vb_rd *r, struct vb_member_info *m,
		       struct vb_err *e)
{
	memset(m, 0, sizeof(*m));
	if (vb_rd_u32(r, &m->id, "member id", e) ||
	    vb_rd_u32(r, &m->partitions_count, "member partitions_count", e))
		return -1;
	if (m->partitions_count > vb_rd_left(r) / 4)
		return vb_err_status(
			e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
			"member partitions: %u declared, %zu bytes left",
			m->partitions_count, vb_rd_left(r));
	return vb_rd_bytes(r, &m->parts, (size_t)m->partitions_count * 4,
			   "member partitions", e);
}

static void enc_str32(struct vb_buf *b, const char *s)
{
	size_t n = strlen(s);

	vb_buf_u32(b, (uint32_t)n);
	vb_buf_add(b, s, n);
}

/* Reads a str32 into dst, truncating to dstsz - 1 bytes. */
static int dec_str32(struct vb_rd *r, char *dst, size_t dstsz,
		     const char *field, struct vb_err *e)
{
	uint32_t len;
	const uint8_t *p;
	size_t keep;

	if (vb_rd_u32(r, &len, field, e) || vb_rd_bytes(r, &p, len, field, e))
		return -1;
	keep = len < dstsz - 1 ? len : dstsz - 1;
	memcpy(dst, p, keep);
	dst[keep] = 0;
	return 0;
}

void vb_wire_enc_client(struct vb_buf *b, const struct vb_client_info *c)
{
	vb_buf_u32(b, c->client_id);
	vb_buf_u32(b, c->user_id);
	vb_buf_u8(b, c->transport);
	enc_str32(b, c->address);
	vb_buf_u32(b, c->groups_count);
}

int vb_wire_dec_client(struct vb_rd *r, struct vb_client_info *c,
		       struct vb_err *e)
{
	memset(c, 0, sizeof(*c));
	if (vb_rd_u32(r, &c->client_id, "client_id", e) ||
	    vb_rd_u32(r, &c->user_id, "client user_id", e) ||
	    vb_rd_u8(r, &c->transport, "client transport", e) ||
	    dec_str32(r, c->address, sizeof(c->address), "client address", e) ||
	    vb_rd_u32(r, &c->groups_count, "client consumer_groups_count", e))
		return -1;
	return 0;
}

void vb_wire_enc_group_ref(struct vb_buf *b, const struct vb_group_ref *g)
{
	vb_buf_u32(b, g->stream_id);
	vb_buf_u32(b, g->topic_id);
	vb_buf_u32(b, g->group_id);
}

int vb_wire_dec_group_ref(struct vb_rd *r, struct vb_group_ref *g,
			  struct vb_err *e)
{
	if (vb_rd_u32(r, &g->stream_id, "group stream_id", e) ||
	    vb_rd_u32(r, &g->topic_id, "group topic_id", e) ||
	    vb_rd_u32(r, &g->group_id, "group group_id", e))
		return -1;
	return 0;
}

void vb_wire_enc_user_gen(struct vb_buf *b, const struct vb_user_info *u,
			  unsigned gen)
{
	vb_buf_u32(b, u->id);
	vb_buf_u64(b, u->created_at);
	vb_buf_u8(b, u->status);
	vb_wire_enc_name(b, &u->username);
	if (gen == VB_GEN_09)
		vb_buf_u32(b, 0); /* options: none (commands.md §7.1) */
}

void vb_wire_enc_user(struct vb_buf *b, const struct vb_user_info *u)
{
	vb_wire_enc_user_gen(b, u, VB_GEN_08);
}

int vb_wire_dec_user_gen(struct vb_rd *r, struct vb_user_info *u, unsigned gen,
			 struct vb_err *e)
{
	memset(u, 0, sizeof(*u));
	if (vb_rd_u32(r, &u->id, "user id", e) ||
	    vb_rd_u64(r, &u->created_at, "user created_at", e) ||
	    vb_rd_u8(r, &u->status, "user status", e) ||
	    vb_wire_dec_name(r, &u->username, "username", e))
		return -1;
	if (gen == VB_GEN_09)
		return vb_wire_skip_opts(r, "user options", e);
	return 0;
}

int vb_wire_dec_user(struct vb_rd *r, struct vb_user_info *u, struct vb_err *e)
{
	return vb_wire_dec_user_gen(r, u, VB_GEN_08, e);
}

void vb_wire_enc_user_perms(struct vb_buf *b, const uint8_t *perms,
			    uint32_t len)
{
	if (perms == NULL) {
		vb_buf_u32(b, 0);
		return;
	}
	vb_buf_u8(b, 1);
	vb_buf_u32(b, len);
	vb_buf_add(b, perms, len);
}

int vb_wire_dec_user_perms(struct vb_rd *r, const uint8_t **perms,
			   uint32_t *len, struct vb_err *e)
{
	uint8_t flag;
	const uint8_t *skip;

	*perms = NULL;
	*len = 0;
	if (vb_rd_u8(r, &flag, "user permissions flag", e))
		return -1;
	if (flag != 1)
		/* "absent" is four zero bytes: the flag and three more. */
		return vb_rd_bytes(r, &skip, 3, "user permissions", e);
	if (vb_rd_u32(r, len, "user permissions length", e))
		return -1;
	return vb_rd_bytes(r, perms, *len, "user permissions", e);
}

void vb_wire_enc_pat(struct vb_buf *b, const struct vb_pat_info *p)
{
	vb_wire_enc_name(b, &p->name);
	vb_buf_u64(b, p->expiry_at);
}

int vb_wire_dec_pat(struct vb_rd *r, struct vb_pat_info *p, struct vb_err *e)
{
	if (vb_wire_dec_name(r, &p->name, "pat name", e))
		return -1;
	return vb_rd_u64(r, &p->expiry_at, "pat expiry_at", e);
}

static void enc_f32(struct vb_buf *b, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	vb_buf_u32(b, u);
}

static int dec_f32(struct vb_rd *r, float *f, const char *field,
		   struct vb_err *e)
{
	uint32_t u;

	if (vb_rd_u32(r, &u, field, e))
		return -1;
	memcpy(f, &u, 4);
	return 0;
}

void vb_wire_enc_stats(struct vb_buf *b, const struct vb_stats *s)
{
	vb_buf_u32(b, s->process_id);
	enc_f32(b, s->cpu_usage);
	enc_f32(b, s->total_cpu_usage);
	vb_buf_u64(b, s->memory_usage);
	vb_buf_u64(b, s->total_memory);
	vb_buf_u64(b, s->available_memory);
	vb_buf_u64(b, s->run_time);
	vb_buf_u64(b, s->start_time);
	vb_buf_u64(b, s->read_bytes);
	vb_buf_u64(b, s->written_bytes);
	vb_buf_u64(b, s->messages_size_bytes);
	vb_buf_u32(b, s->streams_count);
	vb_buf_u32(b, s->topics_count);
	vb_buf_u32(b, s->partitions_count);
	vb_buf_u32(b, s->segments_count);
	vb_buf_u64(b, s->messages_count);
	vb_buf_u32(b, s->clients_count);
	vb_buf_u32(b, s->consumer_groups_count);
	enc_str32(b, s->hostname);
	enc_str32(b, s->os_name);
	enc_str32(b, s->os_version);
	enc_str32(b, s->kernel_version);
	enc_str32(b, s->server_version);
	vb_buf_u32(b, s->server_semver);
	vb_buf_u32(b, 0); /* no cache metrics */
	vb_buf_u32(b, s->threads_count);
	vb_buf_u64(b, s->free_disk_space);
	vb_buf_u64(b, s->total_disk_space);
}

int vb_wire_dec_stats(struct vb_rd *r, struct vb_stats *s, struct vb_err *e)
{
	const uint8_t *skip;

	memset(s, 0, sizeof(*s));
	if (vb_rd_u32(r, &s->process_id, "process_id", e) ||
	    dec_f32(r, &s->cpu_usage, "cpu_usage", e) ||
	    dec_f32(r, &s->total_cpu_usage, "total_cpu_usage", e) ||
	    vb_rd_u64(r, &s->memory_usage, "memory_usage", e) ||
	    vb_rd_u64(r, &s->total_memory, "total_memory", e) ||
	    vb_rd_u64(r, &s->available_memory, "available_memory", e) ||
	    vb_rd_u64(r, &s->run_time, "run_time", e) ||
	    vb_rd_u64(r, &s->start_time, "start_time", e) ||
	    vb_rd_u64(r, &s->read_bytes, "read_bytes", e) ||
	    vb_rd_u64(r, &s->written_bytes, "written_bytes", e) ||
	    vb_rd_u64(r, &s->messages_size_bytes, "messages_size_bytes", e) ||
	    vb_rd_u32(r, &s->streams_count, "streams_count", e) ||
	    vb_rd_u32(r, &s->topics_count, "topics_count", e) ||
	    vb_rd_u32(r, &s->partitions_count, "partitions_count", e) ||
	    vb_rd_u32(r, &s->segments_count, "segments_count", e) ||
	    vb_rd_u64(r, &s->messages_count, "messages_count", e) ||
	    vb_rd_u32(r, &s->clients_count, "clients_count", e) ||
	    vb_rd_u32(r, &s->consumer_groups_count, "consumer_groups_count",
		      e) ||
	    dec_str32(r, s->hostname, sizeof(s->hostname), "hostname", e) ||
	    dec_str32(r, s->os_name, sizeof(s->os_name), "os_name", e) ||
	    dec_str32(r, s->os_version, sizeof(s->os_version), "os_version",
		      e) ||
	    dec_str32(r, s->kernel_version, sizeof(s->kernel_version),
		      "kernel_version", e) ||
	    dec_str32(r, s->server_version, sizeof(s->server_version),
		      "iggy_server_version", e) ||
	    vb_rd_u32(r, &s->server_semver, "iggy_server_semver", e) ||
	    vb_rd_u32(r, &s->cache_metrics_count, "cache_metrics_count", e))
		return -1;
	if (s->cache_metrics_count > vb_rd_left(r) / 32)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "cache metrics: %u declared, %zu bytes left",
				     s->cache_metrics_count, vb_rd_left(r));
	if (vb_rd_bytes(r, &skip, (size_t)s->cache_metrics_count * 32,
			"cache metrics", e) ||
	    vb_rd_u32(r, &s->threads_count, "threads_count", e) ||
	    vb_rd_u64(r, &s->free_disk_space, "free_disk_space", e) ||
	    vb_rd_u64(r, &s->total_disk_space, "total_disk_space", e))
		return -1;
	return 0;
}

void vb_wire_enc_cluster_nodes(struct vb_buf *b, const char *name,
			       const struct vb_cluster_node *nodes, uint32_t n)
{
	enc_str32(b, name);
	vb_buf_u32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		enc_str32(b, nodes[i].name);
		enc_str32(b, nodes[i].ip);
		vb_buf_u16(b, nodes[i].tcp);
		vb_buf_u16(b, nodes[i].quic);
		vb_buf_u16(b, nodes[i].http);
		vb_buf_u16(b, nodes[i].websocket);
		vb_buf_u8(b, nodes[i].role);
		vb_buf_u8(b, nodes[i].status);
	}
}

void vb_wire_enc_cluster(struct vb_buf *b, const char *ip, uint16_t tcp_port)
{
	struct vb_cluster_node n;

	memset(&n, 0, sizeof(n));
	strlcpy(n.name, "iggy-node", sizeof(n.name));
	strlcpy(n.ip, ip, sizeof(n.ip));
	n.tcp = tcp_port;
	n.role = VB_NODE_LEADER;
	n.status = VB_NODE_HEALTHY;
	vb_wire_enc_cluster_nodes(b, "single-node", &n, 1);
}

int vb_wire_dec_cluster_node(struct vb_rd *r, struct vb_cluster_node *n,
			     struct vb_err *e)
{
	memset(n, 0, sizeof(*n));
	if (dec_str32(r, n->name, sizeof(n->name), "node name", e) ||
	    dec_str32(r, n->ip, sizeof(n->ip), "node ip", e) ||
	    vb_rd_u16(r, &n->tcp, "node tcp port", e) ||
	    vb_rd_u16(r, &n->quic, "node quic port", e) ||
	    vb_rd_u16(r, &n->http, "node http port", e) ||
	    vb_rd_u16(r, &n->websocket, "node websocket port", e) ||
	    vb_rd_u8(r, &n->role, "node role", e) ||
	    vb_rd_u8(r, &n->status, "node status", e))
		return -1;
	return 0;
}

int vb_wire_dec_cluster_head(struct vb_rd *r, char *name, size_t namesz,
			     uint32_t *nodes, struct vb_err *e)
{
	if (dec_str32(r, name, namesz, "cluster name", e) ||
	    vb_rd_u32(r, nodes, "nodes_count", e))
		return -1;
	return 0;
}

int vb_wire_dec_cluster(struct vb_rd *r, char *name, size_t namesz,
			uint32_t *nodes, struct vb_err *e)
{
	if (vb_wire_dec_cluster_head(r, name, namesz, nodes, e))
		return -1;
	for (uint32_t i = 0; i < *nodes; i++) {
		struct vb_cluster_node n;

		if (vb_wire_dec_cluster_node(r, &n, e))
			return -1;
	}
	return 0;
}

void vb_wire_enc_poll_hdr(struct vb_buf *b, const struct vb_poll_hdr *h)
{
	vb_buf_u32(b, h->partition_id);
	vb_buf_u64(b, h->current_offset);
	vb_buf_u32(b, h->count);
}

int vb_wire_dec_poll_hdr(struct vb_rd *r, struct vb_poll_hdr *h,
			 struct vb_err *e)
{
	if (vb_rd_u32(r, &h->partition_id, "poll partition_id", e) ||
	    vb_rd_u64(r, &h->current_offset, "poll current_offset", e) ||
	    vb_rd_u32(r, &h->count, "poll messages_count", e))
		return -1;
	return 0;
}

int vb_wire_dec_msg(struct vb_rd *r, struct vb_msg *m, struct vb_err *e)
{
	if (vb_rd_left(r) == 0)
		return 0;
	if (vb_wire_msg_parse(m, r->p + r->off, vb_rd_left(r), e))
		return -1;
	if (m->reserved != 0)
		return vb_err_status(e, VB_E_PROTO,
				     VB_ST_INVALID_RESERVED_FIELD,
				     "message at offset %llu: reserved field not 0",
				     (unsigned long long)m->offset);
	r->off += m->size;
	return 1;
}

int vb_wire_dec_wait_count(struct vb_rd *r, uint32_t *n, struct vb_err *e)
{
	if (vb_rd_u32(r, n, "partitions_count", e))
		return -1;
	if (*n > VB_WAIT_PARTS_MAX)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "partitions_count: %u", *n);
	return 0;
}

int vb_wire_dec_wait_part(struct vb_rd *r, struct vb_reply *part,
			  struct vb_err *e)
{
	uint32_t len;

	if (vb_rd_u32(r, &len, "partition answer length", e))
		return -1;
	if (len < VB_POLL_RESP_HDR)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "partition answer length: %u", len);
	part->status = 0;
	part->len = len;
	return vb_rd_bytes(r, &part->payload, len, "partition answer", e);
}
