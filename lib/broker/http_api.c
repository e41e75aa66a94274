/*
 * The routes of the HTTP API (api.md §4): each builds the binary request
 * upstream's handler would run (control.md, messages.md) and renders its
 * reply as upstream's JSON.  Validation that is HTTP's own (body shapes,
 * query strings, path segments) happens here; everything else is the
 * broker's, as for TCP.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/http-int.h"
#include "base/banned.h"

/* ---- helpers ---- */

/* Path segment i as an identifier (api.md §0); -1 after a 400. */
static int seg_ident(struct vb_http_req *x, size_t i, struct vb_ident *id)
{
	const char *s = x->seg[i];
	size_t n = strlen(s);
	const char *errstr;
	long long v;

	if (n == 0 || n > VB_NAME_MAX) {
		vb_hx_iggy(x, VB_ST_INVALID_IDENTIFIER);
		return -1;
	}
	v = strtonum(s, 0, UINT32_MAX, &errstr);
	if (errstr == NULL && s[0] >= '0' && s[0] <= '9') {
		vb_ident_num(id, (uint32_t)v);
		return 0;
	}
	if (n > 1 && s[0] >= '0' && s[0] <= '9' &&
	    strspn(s, "0123456789") == n) {
		/* all digits but more than a u32: upstream's parse fails */
		vb_hx_iggy(x, VB_ST_INVALID_IDENTIFIER);
		return -1;
	}
	vb_ident_str(id, s);
	return 0;
}

static int seg_u32(struct vb_http_req *x, size_t i, uint32_t *v)
{
	const char *errstr;
	long long n = strtonum(x->seg[i], 0, UINT32_MAX, &errstr);

	if (errstr || x->seg[i][0] == '+' || x->seg[i][0] == '-') {
		vb_hx_text(x, 400, "Invalid URL: Cannot parse `%s` to a `u32`",
			   x->seg[i]);
		return -1;
	}
	*v = (uint32_t)n;
	return 0;
}

static int shape_error(struct vb_http_req *x, const char *what)
{
	vb_hx_text(x, 422,
		   "Failed to deserialize the JSON body into the "
		   "target type: %s",
		   what);
	return -1;
}

static int query_error(struct vb_http_req *x, const char *what)
{
	vb_hx_text(x, 400, "Failed to deserialize query string: %s", what);
	return -1;
}

/* A query parameter as a number; 0 absent (*v untouched), 1, -1 after 400. */
static int query_u64(struct vb_http_req *x, const char *name, uint64_t max,
		     uint64_t *v)
{
	struct vb_buf tmp = VB_BUF_INIT;
	const char *s = vb_hx_query(x, name, &tmp);
	const char *errstr;
	long long n;
	int rc = 1;

	if (s == NULL) {
		rc = 0;
	} else if (*s == 0 || strspn(s, "0123456789") != strlen(s) ||
		   strlen(s) > 20) {
		rc = query_error(x, name);
	} else if (strlen(s) < 19) {
		n = strtonum(s, 0,
			     (long long)(max > INT64_MAX ? INT64_MAX : max),
			     &errstr);
		if (errstr)
			rc = query_error(x, name);
		else
			*v = (uint64_t)n;
	} else {
		unsigned long long u = strtoull(s, NULL, 10);

		if (u > max ||
		    (u == ULLONG_MAX && strcmp(s, "18446744073709551615") != 0))
			rc = query_error(x, name);
		else
			*v = u;
	}
	vb_buf_release(&tmp);
	return rc;
}

/* A consumer id: a u32 if it reads as one, else a name (api.md §4.8). */
static int consumer_ident(struct vb_http_req *x, const char *s, size_t n,
			  struct vb_ident *id)
{
	const char *errstr;
	long long v;
	char buf[VB_NAME_MAX + 1];

	if (n == 0 || n > VB_NAME_MAX) {
		vb_hx_iggy(x, VB_ST_INVALID_IDENTIFIER);
		return -1;
	}
	memcpy(buf, s, n);
	buf[n] = 0;
	v = strtonum(buf, 0, UINT32_MAX, &errstr);
	if (errstr == NULL && buf[0] >= '0' && buf[0] <= '9')
		vb_ident_num(id, (uint32_t)v);
	else
		vb_ident_str(id, buf);
	return 0;
}

static int body_consumer(struct vb_http_req *x, struct vb_ident *id)
{
	json_t *m = json_object_get(x->json, "consumer_id");
	uint64_t v;

	if (m == NULL || json_is_null(m)) {
		vb_ident_num(id, 1);
		return 0;
	}
	if (json_is_string(m))
		return consumer_ident(x, json_string_value(m),
				      json_string_length(m), id);
	if (vb_json_u64(x->json, "consumer_id", UINT32_MAX, &v) < 0)
		return shape_error(x, "consumer_id: expected a u32 or a "
				      "string");
	vb_ident_num(id, (uint32_t)v);
	return 0;
}

static int set_name(struct vb_http_req *x, struct vb_name *n, const char *k,
		    uint32_t invalid, int required)
{
	size_t len;
	const char *s = vb_json_str(x->json, k, &len);

	if (s == NULL) {
		if (!required && (json_object_get(x->json, k) == NULL ||
				  json_is_null(json_object_get(x->json, k))))
			return 1;
		shape_error(x, k);
		return -1;
	}
	if (len == 0 || len > VB_NAME_MAX || memchr(s, 0, len)) {
		vb_hx_iggy(x, invalid);
		return -1;
	}
	memcpy(n->s, s, len);
	n->s[len] = 0;
	n->len = (uint8_t)len;
	return 0;
}

static int set_stream_topic(struct vb_http_req *x)
{
	if (seg_ident(x, 1, &x->req.stream) < 0)
		return -1;
	if (x->nseg > 3 && seg_ident(x, 3, &x->req.topic) < 0)
		return -1;
	return 0;
}

static int compression_of(struct vb_http_req *x, uint8_t *c)
{
	const char *s = vb_json_str(x->json, "compression_algorithm", NULL);

	if (s && strcasecmp(s, "none") == 0)
		*c = VB_COMPRESSION_NONE;
	else if (s && strcasecmp(s, "gzip") == 0)
		*c = VB_COMPRESSION_GZIP;
	else
		return shape_error(x, "compression_algorithm: expected "
				      "\"none\" or \"gzip\"");
	return 0;
}

/* ---- renderers shared by many routes ---- */

static void r_empty(struct vb_http_req *x, uint32_t st, unsigned status)
{
	if (st)
		vb_hx_iggy(x, st);
	else
		vb_hx_empty(x, status);
}

static void r_204(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		  size_t n)
{
	r_empty(x, st, 204);
}

static void r_201(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		  size_t n)
{
	r_empty(x, st, 201);
}

static void r_200(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		  size_t n)
{
	r_empty(x, st, 200);
}

/* A reply that did not decode: ours is broken, say so. */
static void bad_reply(struct vb_http_req *x, const struct vb_err *e)
{
	vb_broker_log(x->b, "http: %s %s: reply: %s", x->method, x->path,
		      e->msg);
	vb_hx_iggy(x, VB_ST_ERROR);
}

static const char *compression_name(uint8_t c)
{
	return c == VB_COMPRESSION_GZIP ? "gzip" : "none";
}

static void stream_json(struct vb_jw *w, const void *rec)
{
	const struct vb_stream_info *s = rec;

	vb_jw_u64(w, "id", s->id);
	vb_jw_u64(w, "created_at", s->created_at);
	vb_jw_str(w, "name", s->name.s, s->name.len);
	vb_jw_size(w, "size", s->size_bytes);
	vb_jw_u64(w, "messages_count", s->messages_count);
	vb_jw_u64(w, "topics_count", s->topics_count);
}

static void topic_json(struct vb_jw *w, const struct vb_topic_info *t)
{
	vb_jw_u64(w, "id", t->id);
	vb_jw_u64(w, "created_at", t->created_at);
	vb_jw_str(w, "name", t->name.s, t->name.len);
	vb_jw_size(w, "size", t->size_bytes);
	vb_jw_u64(w, "message_expiry", t->message_expiry);
	vb_jw_cstr(w, "compression_algorithm",
		   compression_name(t->compression));
	vb_jw_u64(w, "max_topic_size", t->max_topic_size);
	vb_jw_u64(w, "replication_factor", t->replication_factor);
	vb_jw_u64(w, "messages_count", t->messages_count);
	vb_jw_u64(w, "partitions_count", t->partitions_count);
}

/* Stream (+ its topics when details): the reply of get/create_stream. */
static void r_stream(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		     size_t n, int details, int topics_only)
{
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n == 0) {
		vb_hx_not_found(x);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_stream(&r, &si, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	if (!topics_only) {
		vb_jw_obj(&w, NULL);
		stream_json(&w, &si);
	}
	if (details || topics_only) {
		vb_jw_arr(&w, topics_only ? NULL : "topics");
		while (vb_rd_left(&r) > 0) {
			if (vb_wire_dec_topic(&r, &ti, &e) < 0) {
				bad_reply(x, &e);
				return;
			}
			vb_jw_obj(&w, NULL);
			topic_json(&w, &ti);
			vb_jw_end(&w, '}');
		}
		vb_jw_end(&w, ']');
	}
	if (!topics_only)
		vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static void r_topic(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		    size_t n)
{
	struct vb_topic_info ti;
	struct vb_partition_info pi;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st == VB_ST_STREAM_ID_NOT_FOUND &&
	    x->req.code == VB_CMD_CREATE_TOPIC) {
		vb_hx_not_found(x); /* upstream looks the stream up itself */
		return;
	}
	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n == 0) {
		vb_hx_not_found(x);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_topic(&r, &ti, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	topic_json(&w, &ti);
	vb_jw_arr(&w, "partitions");
	while (vb_rd_left(&r) > 0) {
		if (vb_wire_dec_partition(&r, &pi, &e) < 0) {
			bad_reply(x, &e);
			return;
		}
		vb_jw_obj(&w, NULL);
		vb_jw_u64(&w, "id", pi.id);
		vb_jw_u64(&w, "created_at", pi.created_at);
		vb_jw_u64(&w, "segments_count", pi.segments_count);
		vb_jw_u64(&w, "current_offset", pi.current_offset);
		vb_jw_size(&w, "size", pi.size_bytes);
		vb_jw_u64(&w, "messages_count", pi.messages_count);
		vb_jw_end(&w, '}');
	}
	vb_jw_end(&w, ']');
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

/* ---- system ---- */

static enum vb_hx b_root(struct vb_http_req *x)
{
	vb_hx_text(x, 200, "Iggy API");
	return VB_HX_DONE;
}

static enum vb_hx b_ping(struct vb_http_req *x)
{
	vb_hx_text(x, 200, "pong");
	return VB_HX_DONE;
}

static enum vb_hx b_metrics(struct vb_http_req *x)
{
	vb_buf_reset(&x->resp);
	vb_metrics_render(x->b, &x->resp);
	x->status = 200;
	x->ctype = "text/plain; version=0.0.4; charset=utf-8";
	x->answered = 1;
	return VB_HX_DONE;
}

static enum vb_hx b_simple(struct vb_http_req *x, uint32_t code)
{
	x->req.code = code;
	return vb_hx_run(x);
}

static enum vb_hx b_stats(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_STATS);
}

static void r_stats(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		    size_t n)
{
	struct vb_stats s;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_stats(&r, &s, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_u64(&w, "process_id", s.process_id);
	vb_jw_f64(&w, "cpu_usage", s.cpu_usage);
	vb_jw_f64(&w, "total_cpu_usage", s.total_cpu_usage);
	vb_jw_size(&w, "memory_usage", s.memory_usage);
	vb_jw_size(&w, "total_memory", s.total_memory);
	vb_jw_size(&w, "available_memory", s.available_memory);
	vb_jw_u64(&w, "run_time", s.run_time);
	vb_jw_u64(&w, "start_time", s.start_time);
	vb_jw_size(&w, "read_bytes", s.read_bytes);
	vb_jw_size(&w, "written_bytes", s.written_bytes);
	vb_jw_size(&w, "messages_size_bytes", s.messages_size_bytes);
	vb_jw_u64(&w, "streams_count", s.streams_count);
	vb_jw_u64(&w, "topics_count", s.topics_count);
	vb_jw_u64(&w, "partitions_count", s.partitions_count);
	vb_jw_u64(&w, "segments_count", s.segments_count);
	vb_jw_u64(&w, "messages_count", s.messages_count);
	vb_jw_u64(&w, "clients_count", s.clients_count);
	vb_jw_u64(&w, "consumer_groups_count", s.consumer_groups_count);
	vb_jw_cstr(&w, "hostname", s.hostname);
	vb_jw_cstr(&w, "os_name", s.os_name);
	vb_jw_cstr(&w, "os_version", s.os_version);
	vb_jw_cstr(&w, "kernel_version", s.kernel_version);
	vb_jw_cstr(&w, "iggy_server_version", s.server_version);
	if (s.server_semver)
		vb_jw_u64(&w, "iggy_server_semver", s.server_semver);
	else
		vb_jw_null(&w, "iggy_server_semver");
	vb_jw_obj(&w, "cache_metrics");
	vb_jw_end(&w, '}');
	vb_jw_u64(&w, "threads_count", s.threads_count);
	vb_jw_size(&w, "free_disk_space", s.free_disk_space);
	vb_jw_size(&w, "total_disk_space", s.total_disk_space);
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static enum vb_hx b_cluster(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_CLUSTER_METADATA);
}

static void r_cluster(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		      size_t n)
{
	char name[256];
	uint32_t nodes;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_cluster(&r, name, sizeof(name), &nodes, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_cstr(&w, "name", name);
	vb_jw_arr(&w, "nodes");
	vb_jw_obj(&w, NULL);
	vb_jw_cstr(&w, "name", "iggy-node");
	vb_jw_cstr(&w, "ip", x->b->ip);
	vb_jw_obj(&w, "endpoints");
	vb_jw_u64(&w, "tcp", x->b->port);
	vb_jw_u64(&w, "quic", 8080);
	vb_jw_u64(&w, "http", x->b->http_port);
	vb_jw_u64(&w, "websocket", 8092);
	vb_jw_end(&w, '}');
	vb_jw_cstr(&w, "role", "leader");
	vb_jw_cstr(&w, "status", "healthy");
	vb_jw_end(&w, '}');
	vb_jw_end(&w, ']');
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static enum vb_hx b_clients(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_CLIENTS);
}

static void client_json(struct vb_jw *w, const void *rec)
{
	const struct vb_client_info *c = rec;

	vb_jw_u64(w, "client_id", c->client_id);
	if (c->user_id == VB_NO_USER)
		vb_jw_null(w, "user_id");
	else
		vb_jw_u64(w, "user_id", c->user_id);
	vb_jw_cstr(w, "address", c->address);
	vb_jw_cstr(w, "transport",
		   c->transport == 2 ? "quic" :
		   c->transport == 3 ? "http" :
		   c->transport == 4 ? "ws" :
				       "tcp");
	vb_jw_u64(w, "consumer_groups_count", c->groups_count);
}

static int cmp_client(const void *a, const void *b)
{
	const struct vb_client_info *x = a, *y = b;

	return x->client_id < y->client_id ? -1 : x->client_id > y->client_id;
}

static enum vb_hx b_client(struct vb_http_req *x)
{
	if (seg_u32(x, 1, &x->req.count) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_CLIENT);
}

static void r_client(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		     size_t n)
{
	struct vb_client_info c;
	struct vb_group_ref g;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n == 0) {
		vb_hx_not_found(x);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_client(&r, &c, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	client_json(&w, &c);
	vb_jw_arr(&w, "consumer_groups");
	for (uint32_t i = 0; i < c.groups_count; i++) {
		if (vb_wire_dec_group_ref(&r, &g, &e) < 0) {
			bad_reply(x, &e);
			return;
		}
		vb_jw_obj(&w, NULL);
		vb_jw_u64(&w, "stream_id", g.stream_id);
		vb_jw_u64(&w, "topic_id", g.topic_id);
		vb_jw_u64(&w, "group_id", g.group_id);
		vb_jw_end(&w, '}');
	}
	vb_jw_end(&w, ']');
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static enum vb_hx b_snapshot(struct vb_http_req *x)
{
	static const char *const comp[] = { "Stored", "Deflated", "Bzip2",
					    "Zstd",   "Lzma",	  "Xz" };
	static const char *const types[] = { "FilesystemOverview",
					     "ProcessList",
					     "ResourceUsage",
					     "Test",
					     "ServerLogs",
					     "ServerConfig",
					     "All" };
	const char *c = vb_json_str(x->json, "compression", NULL);
	json_t *t = json_object_get(x->json, "snapshot_types"), *v;
	int ok = 0, all = 0;
	size_t i;

	for (i = 0; c && i < sizeof(comp) / sizeof(comp[0]); i++)
		ok |= strcmp(c, comp[i]) == 0;
	if (!ok || !json_is_array(t)) {
		shape_error(x, "expected compression and snapshot_types");
		return VB_HX_DONE;
	}
	json_array_foreach(t, i, v) {
		size_t k;

		for (k = 0;
		     json_is_string(v) && k < sizeof(types) / sizeof(types[0]);
		     k++)
			if (strcmp(json_string_value(v), types[k]) == 0)
				break;
		if (!json_is_string(v) ||
		    k == sizeof(types) / sizeof(types[0])) {
			shape_error(x, "snapshot_types: unknown type");
			return VB_HX_DONE;
		}
		all |= k == 6;
	}
	if (all && json_array_size(t) > 1) {
		vb_hx_iggy(x, VB_ST_INVALID_COMMAND);
		return VB_HX_DONE;
	}
	x->req.snap_compression = 1;
	x->req.snap_count = 1;
	x->req.snap_types[0] = 100;
	return b_simple(x, VB_CMD_GET_SNAPSHOT);
}

static void r_snapshot(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		       size_t n)
{
	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_buf_add(&x->resp, p, n);
	x->status = 200;
	x->ctype = "application/zip";
	x->answered = 1;
}

/* ---- users ---- */

static const char *const perm_global[] = {
	"manage_servers", "read_servers",  "manage_users",  "read_users",
	"manage_streams", "read_streams",  "manage_topics", "read_topics",
	"poll_messages",  "send_messages",
};
static const char *const perm_stream[] = {
	"manage_stream", "read_stream",	  "manage_topics",
	"read_topics",	 "poll_messages", "send_messages",
};
static const char *const perm_topic[] = {
	"manage_topic",
	"read_topic",
	"poll_messages",
	"send_messages",
};

static int perm_bools(const json_t *o, const char *const *names, size_t n,
		      struct vb_buf *out)
{
	if (!json_is_object(o))
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(o, names[i]);

		if (!json_is_boolean(v))
			return -1;
		vb_buf_u8(out, json_is_true(v));
	}
	return 0;
}

static int perm_id(const char *key, uint32_t *id)
{
	const char *errstr;
	long long v = strtonum(key, 0, UINT32_MAX, &errstr);

	if (errstr || key[0] < '0' || key[0] > '9')
		return -1;
	*id = (uint32_t)v;
	return 0;
}

/* Permissions JSON to the wire's encoding (control.md §5.8). */
static int perms_encode(const json_t *pm, struct vb_buf *out)
{
	const json_t *streams = json_object_get(pm, "streams");
	const char *sk;
	json_t *sv;

	if (perm_bools(json_object_get(pm, "global"), perm_global, 10, out))
		return -1;
	if (streams == NULL || json_is_null(streams)) {
		vb_buf_u8(out, 0);
		return 0;
	}
	if (!json_is_object(streams))
		return -1;
	if (json_object_size(streams) == 0) {
		vb_buf_u8(out, 0);
		return 0;
	}
	json_object_foreach((json_t *)streams, sk, sv) {
		const json_t *topics = json_object_get(sv, "topics");
		const char *tk;
		json_t *tv;
		uint32_t id;

		vb_buf_u8(out, 1); /* has_streams, then has_next_stream */
		if (perm_id(sk, &id) < 0)
			return -1;
		vb_buf_u32(out, id);
		if (perm_bools(sv, perm_stream, 6, out))
			return -1;
		if (topics == NULL || json_is_null(topics) ||
		    (json_is_object(topics) && json_object_size(topics) == 0)) {
			vb_buf_u8(out, 0);
		} else if (!json_is_object(topics)) {
			return -1;
		} else {
			json_object_foreach((json_t *)topics, tk, tv) {
				vb_buf_u8(out, 1); /* has_(next_)topic */
				if (perm_id(tk, &id) < 0)
					return -1;
				vb_buf_u32(out, id);
				if (perm_bools(tv, perm_topic, 4, out))
					return -1;
			}
			vb_buf_u8(out, 0); /* no next topic */
		}
	}
	vb_buf_u8(out, 0); /* no next stream */
	return 0;
}

static void perms_json(struct vb_jw *w, const uint8_t *p, uint32_t n)
{
	size_t at = 0;
	char key[16];

	if (n < 11) {
		vb_jw_null(w, "permissions");
		return;
	}
	vb_jw_obj(w, "permissions");
	vb_jw_obj(w, "global");
	for (int i = 0; i < 10; i++)
		vb_jw_bool(w, perm_global[i], p[at++]);
	vb_jw_end(w, '}');
	if (p[at++] != 1) {
		vb_jw_null(w, "streams");
		vb_jw_end(w, '}');
		return;
	}
	vb_jw_obj(w, "streams");
	for (;;) {
		if (at + 4 + 6 + 1 > n)
			break;
		snprintf(key, sizeof(key), "%u", vb_ld32(p + at));
		at += 4;
		vb_jw_obj(w, key);
		for (int i = 0; i < 6; i++)
			vb_jw_bool(w, perm_stream[i], p[at++]);
		if (p[at++] == 1) {
			vb_jw_obj(w, "topics");
			while (at + 4 + 4 + 1 <= n) {
				snprintf(key, sizeof(key), "%u",
					 vb_ld32(p + at));
				at += 4;
				vb_jw_obj(w, key);
				for (int i = 0; i < 4; i++)
					vb_jw_bool(w, perm_topic[i], p[at++]);
				vb_jw_end(w, '}');
				if (p[at++] != 1)
					break;
			}
			vb_jw_end(w, '}');
		} else {
			vb_jw_null(w, "topics");
		}
		vb_jw_end(w, '}');
		if (at >= n || p[at++] != 1)
			break;
	}
	vb_jw_end(w, '}');
	vb_jw_end(w, '}');
}

static void user_json(struct vb_jw *w, const void *rec)
{
	const struct vb_user_info *u = rec;

	vb_jw_u64(w, "id", u->id);
	vb_jw_u64(w, "created_at", u->created_at);
	vb_jw_cstr(w, "status", u->status == 1 ? "active" : "inactive");
	vb_jw_str(w, "username", u->username.s, u->username.len);
}

static enum vb_hx b_users(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_USERS);
}

static void r_user(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		   size_t n)
{
	struct vb_user_info u;
	const uint8_t *perms;
	uint32_t plen;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n == 0) {
		vb_hx_not_found(x);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_user(&r, &u, &e) < 0 ||
	    vb_wire_dec_user_perms(&r, &perms, &plen, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	user_json(&w, &u);
	perms_json(&w, perms, perms ? plen : 0);
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static int user_status(struct vb_http_req *x, uint8_t *st, int required)
{
	const char *s = vb_json_str(x->json, "status", NULL);
	json_t *m = json_object_get(x->json, "status");

	if (s == NULL && !required && (m == NULL || json_is_null(m)))
		return 1;
	if (s && strcmp(s, "active") == 0)
		*st = 1;
	else if (s && strcmp(s, "inactive") == 0)
		*st = 2;
	else
		return shape_error(x, "status: expected \"active\" or "
				      "\"inactive\"");
	return 0;
}

/* The permissions member into x->frame's scratch; -1 after a reply. */
static int body_perms(struct vb_http_req *x, struct vb_buf *perms)
{
	json_t *pm = json_object_get(x->json, "permissions");

	if (pm == NULL || json_is_null(pm))
		return 0;
	if (perms_encode(pm, perms) < 0)
		return shape_error(x, "permissions");
	x->req.has_perms = 1;
	return 0;
}

static enum vb_hx b_user_create(struct vb_http_req *x)
{
	struct vb_buf perms = VB_BUF_INIT;
	enum vb_hx rc = VB_HX_DONE;

	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return rc;
	}
	if (set_name(x, &x->req.name, "username", VB_ST_INVALID_USERNAME, 1) ||
	    set_name(x, &x->req.secret, "password", VB_ST_INVALID_PASSWORD,
		     1) ||
	    user_status(x, &x->req.user_status, 1) || body_perms(x, &perms) < 0)
		goto out;
	x->req.perms = perms.p;
	x->req.perms_len = (uint32_t)perms.len;
	rc = b_simple(x, VB_CMD_CREATE_USER);
	x->req.perms = NULL;
out:
	vb_buf_release(&perms);
	return rc;
}

static enum vb_hx b_user_get(struct vb_http_req *x)
{
	if (seg_ident(x, 1, &x->req.target) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_USER);
}

static void r_user_get(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		       size_t n)
{
	if (st == 0 && n == 0) {
		vb_hx_not_found(x);
		return;
	}
	r_user(x, st, p, n);
}

static enum vb_hx b_user_update(struct vb_http_req *x)
{
	int rc;

	if (seg_ident(x, 1, &x->req.target) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	rc = set_name(x, &x->req.name, "username", VB_ST_INVALID_USERNAME, 0);
	if (rc < 0)
		return VB_HX_DONE;
	x->req.has_username = rc == 0;
	rc = user_status(x, &x->req.user_status, 0);
	if (rc < 0)
		return VB_HX_DONE;
	x->req.has_status = rc == 0;
	return b_simple(x, VB_CMD_UPDATE_USER);
}

static enum vb_hx b_user_delete(struct vb_http_req *x)
{
	if (seg_ident(x, 1, &x->req.target) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_DELETE_USER);
}

static enum vb_hx b_user_perms(struct vb_http_req *x)
{
	struct vb_buf perms = VB_BUF_INIT;
	enum vb_hx rc = VB_HX_DONE;

	if (seg_ident(x, 1, &x->req.target) < 0)
		return rc;
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return rc;
	}
	if (body_perms(x, &perms) < 0)
		goto out;
	x->req.perms = perms.p;
	x->req.perms_len = (uint32_t)perms.len;
	rc = b_simple(x, VB_CMD_UPDATE_PERMISSIONS);
	x->req.perms = NULL;
out:
	vb_buf_release(&perms);
	return rc;
}

static enum vb_hx b_user_password(struct vb_http_req *x)
{
	if (seg_ident(x, 1, &x->req.target) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json) ||
	    set_name(x, &x->req.secret, "current_password",
		     VB_ST_INVALID_PASSWORD, 1) ||
	    set_name(x, &x->req.secret2, "new_password", VB_ST_INVALID_PASSWORD,
		     1)) {
		if (!x->answered)
			shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	return b_simple(x, VB_CMD_CHANGE_PASSWORD);
}

/* ---- sessions ---- */

static void identity(struct vb_http_req *x, uint32_t user)
{
	struct vb_buf tok = VB_BUF_INIT;
	uint64_t exp;
	struct vb_jw w;

	vb_jwt_issue(vb_http_jwt(x->b), user, &tok, &exp);
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_u64(&w, "user_id", user);
	vb_jw_obj(&w, "access_token");
	vb_jw_str(&w, "token", (char *)tok.p, tok.len);
	vb_jw_u64(&w, "expiry", exp);
	vb_jw_end(&w, '}');
	vb_jw_end(&w, '}');
	vb_buf_release(&tok);
	vb_hx_json(x, 200);
}

static enum vb_hx b_login(struct vb_http_req *x)
{
	size_t un, pn;
	const char *u = vb_json_str(x->json, "username", &un);
	const char *p = vb_json_str(x->json, "password", &pn);

	if (u == NULL || p == NULL) {
		shape_error(x, "missing field `username` or `password`");
		return VB_HX_DONE;
	}
	/* no length checks on this route upstream: out of bounds is wrong */
	if (un == 0 || un > VB_NAME_MAX || pn > VB_NAME_MAX) {
		vb_hx_iggy(x, VB_ST_INVALID_CREDENTIALS);
		return VB_HX_DONE;
	}
	vb_name_set(&x->req.name, u);
	memcpy(x->req.secret.s, p, pn);
	x->req.secret.s[pn] = 0;
	x->req.secret.len = (uint8_t)pn;
	return b_simple(x, VB_CMD_LOGIN_USER);
}

static void r_login(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		    size_t n)
{
	explicit_bzero(x->frame.p, x->frame.len);
	explicit_bzero(&x->req.secret, sizeof(x->req.secret));
	if (st == VB_ST_INVALID_USERNAME || st == VB_ST_INVALID_PASSWORD)
		st = VB_ST_INVALID_CREDENTIALS;
	if (st == VB_ST_RESOURCE_NOT_FOUND && x->req.code == VB_CMD_LOGIN_PAT)
		st = VB_ST_INVALID_PAT;
	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n < 4) {
		vb_hx_iggy(x, VB_ST_ERROR);
		return;
	}
	identity(x, vb_ld32(p));
}

static enum vb_hx b_logout(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_LOGOUT_USER);
}

static void r_logout(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		     size_t n)
{
	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_jwt_revoke(vb_http_jwt(x->b), x->jti, x->exp);
	vb_hx_empty(x, 204);
}

static enum vb_hx b_refresh(struct vb_http_req *x)
{
	size_t n;
	const char *t = vb_json_str(x->json, "token", &n);
	char jti[40];
	uint64_t exp;
	uint32_t user;
	int why;

	if (t == NULL) {
		shape_error(x, "missing field `token`");
		return VB_HX_DONE;
	}
	if (n == 0 ||
	    vb_jwt_check(vb_http_jwt(x->b), t, n, &user, jti, &exp, &why) < 0) {
		vb_hx_iggy(x, n == 0 || why == 2 ? 78 : VB_ST_UNAUTHENTICATED);
		return VB_HX_DONE;
	}
	vb_jwt_revoke(vb_http_jwt(x->b), jti, exp);
	identity(x, user);
	return VB_HX_DONE;
}

/* ---- personal access tokens ---- */

static enum vb_hx b_pats(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_PATS);
}

static int cmp_pat(const void *a, const void *b)
{
	const struct vb_pat_info *x = a, *y = b;

	return strcmp(x->name.s, y->name.s);
}

static void pat_json(struct vb_jw *w, const void *rec)
{
	const struct vb_pat_info *t = rec;

	vb_jw_str(w, "name", t->name.s, t->name.len);
	if (t->expiry_at)
		vb_jw_u64(w, "expiry_at", t->expiry_at);
	else
		vb_jw_null(w, "expiry_at");
}

static enum vb_hx b_pat_create(struct vb_http_req *x)
{
	if (!json_is_object(x->json) ||
	    set_name(x, &x->req.name, "name", VB_ST_INVALID_PAT_NAME, 1))
		goto bad;
	if (vb_json_u64(x->json, "expiry", UINT64_MAX, &x->req.value) < 0)
		goto bad;
	return b_simple(x, VB_CMD_CREATE_PAT);
bad:
	if (!x->answered)
		shape_error(x, "expected name and expiry");
	return VB_HX_DONE;
}

static void r_pat_create(struct vb_http_req *x, uint32_t st, const uint8_t *p,
			 size_t n)
{
	struct vb_name tok;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_name(&r, &tok, "token", &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_str(&w, "token", tok.s, tok.len);
	vb_jw_end(&w, '}');
	explicit_bzero(&tok, sizeof(tok));
	vb_hx_json(x, 200);
}

static enum vb_hx b_pat_delete(struct vb_http_req *x)
{
	size_t n = strlen(x->seg[1]);

	if (n == 0 || n > VB_NAME_MAX) {
		vb_hx_iggy(x, VB_ST_INVALID_PAT_NAME);
		return VB_HX_DONE;
	}
	vb_name_set(&x->req.name, x->seg[1]);
	return b_simple(x, VB_CMD_DELETE_PAT);
}

static enum vb_hx b_pat_login(struct vb_http_req *x)
{
	size_t n;
	const char *t = vb_json_str(x->json, "token", &n);

	if (t == NULL) {
		shape_error(x, "missing field `token`");
		return VB_HX_DONE;
	}
	if (n == 0 || n > VB_NAME_MAX || memchr(t, 0, n)) {
		vb_hx_iggy(x, VB_ST_INVALID_PAT);
		return VB_HX_DONE;
	}
	vb_name_set(&x->req.name, t);
	return b_simple(x, VB_CMD_LOGIN_PAT);
}

/* ---- streams ---- */

static int cmp_stream(const void *a, const void *b)
{
	const struct vb_stream_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static enum vb_hx b_streams(struct vb_http_req *x)
{
	return b_simple(x, VB_CMD_GET_STREAMS);
}

static enum vb_hx b_stream_create(struct vb_http_req *x)
{
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	if (set_name(x, &x->req.name, "name", 1013, 1))
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_CREATE_STREAM);
}

static void r_stream_details(struct vb_http_req *x, uint32_t st,
			     const uint8_t *p, size_t n)
{
	r_stream(x, st, p, n, 1, 0);
}

static void r_topics(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		     size_t n)
{
	r_stream(x, st, p, n, 0, 1);
}

static enum vb_hx b_stream_get(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_STREAM);
}

static enum vb_hx b_stream_update(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	if (set_name(x, &x->req.name, "name", 1013, 1))
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_UPDATE_STREAM);
}

static enum vb_hx b_stream_delete(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	return b_simple(x, x->nseg == 3 ? VB_CMD_PURGE_STREAM :
					  VB_CMD_DELETE_STREAM);
}

/* ---- topics ---- */

static int topic_body(struct vb_http_req *x, int create)
{
	json_t *rf;
	uint64_t v;

	if (!json_is_object(x->json))
		return shape_error(x, "expected an object");
	if (set_name(x, &x->req.name, "name", 2014, 1))
		return -1;
	if (create) {
		if (vb_json_u64(x->json, "partitions_count", UINT32_MAX, &v) <
		    0)
			return shape_error(x, "partitions_count");
		x->req.count = (uint32_t)v;
	}
	if (compression_of(x, &x->req.compression) < 0)
		return -1;
	if (vb_json_u64(x->json, "message_expiry", UINT64_MAX,
			&x->req.message_expiry) < 0)
		return shape_error(x, "message_expiry");
	if (vb_json_u64(x->json, "max_topic_size", UINT64_MAX,
			&x->req.max_topic_size) < 0)
		return shape_error(x, "max_topic_size");
	rf = json_object_get(x->json, "replication_factor");
	if (rf == NULL || json_is_null(rf)) {
		x->req.replication_factor = 0;
	} else if (vb_json_u64(x->json, "replication_factor", 255, &v) < 0) {
		return shape_error(x, "replication_factor");
	} else if (v == 0) {
		vb_hx_iggy(x, 2018);
		return -1;
	} else {
		x->req.replication_factor = (uint8_t)v;
	}
	return 0;
}

static enum vb_hx b_topic_create(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || topic_body(x, 1) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_CREATE_TOPIC);
}

static enum vb_hx b_topic_get(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_TOPIC);
}

static enum vb_hx b_topic_update(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || topic_body(x, 0) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_UPDATE_TOPIC);
}

static enum vb_hx b_topic_delete(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	return b_simple(x, x->nseg == 5 ? VB_CMD_PURGE_TOPIC :
					  VB_CMD_DELETE_TOPIC);
}

/* ---- partitions and segments ---- */

static enum vb_hx b_parts_create(struct vb_http_req *x)
{
	uint64_t v;

	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json) ||
	    vb_json_u64(x->json, "partitions_count", UINT32_MAX, &v) < 0) {
		shape_error(x, "partitions_count");
		return VB_HX_DONE;
	}
	x->req.count = (uint32_t)v;
	return b_simple(x, VB_CMD_CREATE_PARTITIONS);
}

static enum vb_hx b_parts_delete(struct vb_http_req *x)
{
	uint64_t v;
	int rc;

	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	rc = query_u64(x, "partitions_count", UINT32_MAX, &v);
	if (rc <= 0) {
		if (rc == 0)
			query_error(x, "missing field `partitions_count`");
		return VB_HX_DONE;
	}
	x->req.count = (uint32_t)v;
	return b_simple(x, VB_CMD_DELETE_PARTITIONS);
}

static enum vb_hx b_segments_delete(struct vb_http_req *x)
{
	uint64_t v;
	int rc;

	if (set_stream_topic(x) < 0 || seg_u32(x, 5, &x->req.partition_id) < 0)
		return VB_HX_DONE;
	rc = query_u64(x, "segments_count", UINT32_MAX, &v);
	if (rc <= 0) {
		if (rc == 0)
			query_error(x, "missing field `segments_count`");
		return VB_HX_DONE;
	}
	x->req.count = (uint32_t)v;
	x->req.part.id = x->req.partition_id;
	return b_simple(x, VB_CMD_DELETE_SEGMENTS);
}

/* ---- consumer groups ---- */

/* Form-1 errors for a missing stream, topic (or group), as upstream. */
static int must_exist(struct vb_http_req *x, int group)
{
	struct vb_stream *s = vb_find_stream(x->b, &x->req.stream);
	struct vb_topic *t = s ? vb_find_topic(s, &x->req.topic) : NULL;

	if (s == NULL) {
		vb_hx_iggy(x, VB_ST_STREAM_ID_NOT_FOUND);
		return -1;
	}
	if (t == NULL) {
		vb_hx_iggy(x, VB_ST_TOPIC_ID_NOT_FOUND);
		return -1;
	}
	if (group && vb_find_group(t, &x->req.target) == NULL) {
		vb_hx_iggy(x, VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
		return -1;
	}
	return 0;
}

static enum vb_hx b_groups(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || must_exist(x, 0) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_CONSUMER_GROUPS);
}

static void group_json(struct vb_jw *w, const void *rec)
{
	const struct vb_group_info *g = rec;

	vb_jw_u64(w, "id", g->id);
	vb_jw_str(w, "name", g->name.s, g->name.len);
	vb_jw_u64(w, "partitions_count", g->partitions_count);
	vb_jw_u64(w, "members_count", g->members_count);
}

static int cmp_group(const void *a, const void *b)
{
	const struct vb_group_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void r_group(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		    size_t n, unsigned status)
{
	struct vb_group_info g;
	struct vb_member_info m;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	if (n == 0) {
		vb_hx_iggy(x, VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_group(&r, &g, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	group_json(&w, &g);
	vb_jw_arr(&w, "members");
	for (uint32_t i = 0; i < g.members_count && vb_rd_left(&r) > 0; i++) {
		if (vb_wire_dec_member(&r, &m, &e) < 0) {
			bad_reply(x, &e);
			return;
		}
		vb_jw_obj(&w, NULL);
		vb_jw_u64(&w, "id", m.id);
		vb_jw_u64(&w, "partitions_count", m.partitions_count);
		vb_jw_arr(&w, "partitions");
		for (uint32_t k = 0; k < m.partitions_count; k++)
			vb_jw_u64(&w, NULL, vb_member_part(&m, k));
		vb_jw_end(&w, ']');
		vb_jw_end(&w, '}');
	}
	vb_jw_end(&w, ']');
	vb_jw_end(&w, '}');
	vb_hx_json(x, status);
}

static void r_group_get(struct vb_http_req *x, uint32_t st, const uint8_t *p,
			size_t n)
{
	r_group(x, st, p, n, 200);
}

static void r_group_created(struct vb_http_req *x, uint32_t st,
			    const uint8_t *p, size_t n)
{
	r_group(x, st, p, n, 201);
}

static enum vb_hx b_group_create(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	if (set_name(x, &x->req.name, "name", 5005, 1))
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_CREATE_CONSUMER_GROUP);
}

static enum vb_hx b_group_get(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || seg_ident(x, 5, &x->req.target) < 0 ||
	    must_exist(x, 1) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_CONSUMER_GROUP);
}

static enum vb_hx b_group_delete(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || seg_ident(x, 5, &x->req.target) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_DELETE_CONSUMER_GROUP);
}

/* ---- consumer offsets ---- */

static int query_partition(struct vb_http_req *x)
{
	uint64_t v;
	int rc = query_u64(x, "partition_id", UINT32_MAX, &v);

	if (rc < 0)
		return -1;
	x->req.part.present = rc == 1;
	x->req.part.id = rc == 1 ? (uint32_t)v : 0;
	return 0;
}

static int query_consumer(struct vb_http_req *x)
{
	struct vb_buf tmp = VB_BUF_INIT;
	const char *s = vb_hx_query(x, "consumer_id", &tmp);
	int rc = 0;

	x->req.consumer.kind = VB_CONSUMER;
	if (s == NULL)
		vb_ident_num(&x->req.consumer.id, 1);
	else
		rc = consumer_ident(x, s, strlen(s), &x->req.consumer.id);
	vb_buf_release(&tmp);
	return rc;
}

static enum vb_hx b_offset_get(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || query_consumer(x) < 0 ||
	    query_partition(x) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_GET_CONSUMER_OFFSET);
}

static void r_offset_get(struct vb_http_req *x, uint32_t st, const uint8_t *p,
			 size_t n)
{
	struct vb_offset_info o;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	vb_rd_init(&r, p, n);
	/* upstream: nothing stored, or any failure, is its own 404 */
	if (st == VB_ST_UNAUTHORIZED) {
		vb_hx_iggy(x, st);
		return;
	}
	if (st || n == 0 || vb_wire_dec_offset(&r, &o, &e) < 0) {
		vb_hx_not_found(x);
		return;
	}
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_u64(&w, "partition_id", o.partition_id);
	vb_jw_u64(&w, "current_offset", o.current_offset);
	vb_jw_u64(&w, "stored_offset", o.stored_offset);
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

static enum vb_hx b_offset_store(struct vb_http_req *x)
{
	uint64_t v;
	int rc;

	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json)) {
		shape_error(x, "expected an object");
		return VB_HX_DONE;
	}
	x->req.consumer.kind = VB_CONSUMER;
	if (body_consumer(x, &x->req.consumer.id) < 0)
		return VB_HX_DONE;
	rc = vb_json_opt_u64(x->json, "partition_id", UINT32_MAX, &v);
	if (rc < 0) {
		shape_error(x, "partition_id");
		return VB_HX_DONE;
	}
	x->req.part.present = rc == 1;
	x->req.part.id = rc == 1 ? (uint32_t)v : 0;
	if (vb_json_u64(x->json, "offset", UINT64_MAX, &x->req.value) < 0) {
		shape_error(x, "offset");
		return VB_HX_DONE;
	}
	return b_simple(x, VB_CMD_STORE_CONSUMER_OFFSET);
}

static enum vb_hx b_offset_delete(struct vb_http_req *x)
{
	if (set_stream_topic(x) < 0 || query_partition(x) < 0)
		return VB_HX_DONE;
	x->req.consumer.kind = VB_CONSUMER;
	if (consumer_ident(x, x->seg[5], strlen(x->seg[5]),
			   &x->req.consumer.id) < 0)
		return VB_HX_DONE;
	return b_simple(x, VB_CMD_DELETE_CONSUMER_OFFSET);
}

/* ---- messages ---- */

static const char *const uhdr_kinds[] = {
	NULL,	  "raw",     "string",	"bool",	   "int8",   "int16",
	"int32",  "int64",   "int128",	"uint8",   "uint16", "uint32",
	"uint64", "uint128", "float32", "float64",
};
static const uint8_t uhdr_sizes[] = {
	0, 0, 0, 1, 1, 2, 4, 8, 16, 1, 2, 4, 8, 16, 4, 8,
};

static enum vb_hx b_poll(struct vb_http_req *x)
{
	struct vb_buf tmp = VB_BUF_INIT;
	const char *k;
	uint64_t v;
	int rc;

	if (set_stream_topic(x) < 0 || query_consumer(x) < 0)
		return VB_HX_DONE;
	x->req.part.present = 1;
	x->req.part.id = 0;
	if ((rc = query_u64(x, "partition_id", UINT32_MAX, &v)) < 0)
		return VB_HX_DONE;
	if (rc)
		x->req.part.id = (uint32_t)v;
	x->req.strategy = VB_POLL_OFFSET;
	k = vb_hx_query(x, "kind", &tmp);
	if (k) {
		static const char *const kinds[][2] = {
			{ "offset", "o" }, { "timestamp", "t" },
			{ "first", "f" },  { "last", "l" },
			{ "next", "n" },
		};
		size_t i;

		for (i = 0; i < 5; i++)
			if (strcmp(k, kinds[i][0]) == 0 ||
			    strcmp(k, kinds[i][1]) == 0)
				break;
		if (i == 5) {
			vb_buf_release(&tmp);
			query_error(x, "kind: unknown variant");
			return VB_HX_DONE;
		}
		x->req.strategy = (uint8_t)(VB_POLL_OFFSET + i);
	}
	x->req.value = 0;
	if (query_u64(x, "value", UINT64_MAX, &x->req.value) < 0)
		goto out;
	x->req.count = 10;
	if ((rc = query_u64(x, "count", UINT32_MAX, &v)) < 0)
		goto out;
	if (rc)
		x->req.count = (uint32_t)v;
	k = vb_hx_query(x, "auto_commit", &tmp);
	if (k && strcmp(k, "true") != 0 && strcmp(k, "false") != 0) {
		query_error(x, "auto_commit: expected true or false");
		goto out;
	}
	x->req.flag = k && strcmp(k, "true") == 0;
	vb_buf_release(&tmp);
	return b_simple(x, VB_CMD_POLL_MESSAGES);
out:
	vb_buf_release(&tmp);
	return VB_HX_DONE;
}

static void uhdr_field(struct vb_jw *w, const char *k, uint8_t kind,
		       const uint8_t *p, uint32_t n)
{
	vb_jw_obj(w, k);
	vb_jw_cstr(w, "kind",
		   kind < 16 && uhdr_kinds[kind] ? uhdr_kinds[kind] : "raw");
	vb_jw_b64(w, "value", p, n);
	vb_jw_end(w, '}');
}

static void uhdrs_json(struct vb_jw *w, const uint8_t *p, uint32_t n)
{
	struct vb_rd r;
	struct vb_uhdr h;
	struct vb_err e;
	int rc;

	if (n == 0) {
		vb_jw_arr(w, "user_headers");
		vb_jw_end(w, ']');
		return;
	}
	/* a block that does not parse is shown raw (api.md §4.9) */
	vb_rd_init(&r, p, n);
	while ((rc = vb_wire_uhdr_next(&r, &h, &e)) == 1)
		;
	if (rc < 0) {
		vb_jw_b64(w, "user_headers", p, n);
		return;
	}
	vb_rd_init(&r, p, n);
	vb_jw_arr(w, "user_headers");
	while (vb_wire_uhdr_next(&r, &h, &e) == 1) {
		vb_jw_obj(w, NULL);
		uhdr_field(w, "key", h.key_kind, h.key, h.key_len);
		uhdr_field(w, "value", h.val_kind, h.val, h.val_len);
		vb_jw_end(w, '}');
	}
	vb_jw_end(w, ']');
}

static void r_poll(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		   size_t n)
{
	struct vb_poll_hdr h;
	struct vb_msg m;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;
	int rc;

	if (st) {
		vb_hx_iggy(x, st);
		return;
	}
	vb_rd_init(&r, p, n);
	if (vb_wire_dec_poll_hdr(&r, &h, &e) < 0) {
		bad_reply(x, &e);
		return;
	}
	if (h.count == 0)
		h.partition_id = 0, h.current_offset = 0;
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_u64(&w, "partition_id", h.partition_id);
	vb_jw_u64(&w, "current_offset", h.current_offset);
	vb_jw_u64(&w, "count", h.count);
	vb_jw_arr(&w, "messages");
	while (h.count && (rc = vb_wire_dec_msg(&r, &m, &e)) == 1) {
		vb_jw_obj(&w, NULL);
		vb_jw_obj(&w, "header");
		vb_jw_u64(&w, "checksum", m.checksum);
		vb_jw_u128(&w, "id", m.id);
		vb_jw_u64(&w, "offset", m.offset);
		vb_jw_u64(&w, "timestamp", m.timestamp);
		vb_jw_u64(&w, "origin_timestamp", m.origin_timestamp);
		vb_jw_u64(&w, "user_headers_length", m.uhdr_len);
		vb_jw_u64(&w, "payload_length", m.payload_len);
		vb_jw_u64(&w, "reserved", m.reserved);
		vb_jw_end(&w, '}');
		vb_jw_b64(&w, "payload", m.payload, m.payload_len);
		uhdrs_json(&w, m.uhdr, m.uhdr_len);
		vb_jw_end(&w, '}');
	}
	vb_jw_end(&w, ']');
	vb_jw_end(&w, '}');
	vb_hx_json(x, 200);
}

/* A decoded message id: number, decimal u128 or a UUID; -1 if neither. */
static int msg_id(const json_t *v, uint8_t id[16])
{
	unsigned __int128 x = 0;

	memset(id, 0, 16);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		x = (unsigned __int128)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s), digits = strspn(s, "0123456789");

		if (n > 0 && digits == n && n <= 39) {
			for (size_t i = 0; i < n; i++) {
				unsigned __int128 nx = x * 10 +
						       (unsigned)(s[i] - '0');

				if (nx / 10 != x)
					return -1;
				x = nx;
			}
		} else {
			/* 32 hex digits, dashes allowed (a UUID) */
			size_t hex = 0;

			for (size_t i = 0; i < n; i++) {
				int c = (unsigned char)s[i], d;

				if (c == '-')
					continue;
				d = c >= '0' && c <= '9' ? c - '0' :
				    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				    c >= 'A' && c <= 'F' ? c - 'A' + 10 :
							   -1;
				if (d < 0 || hex == 32)
					return -1;
				x = x << 4 | (unsigned)d;
				hex++;
			}
			if (hex != 32)
				return -1;
		}
	} else {
		return -1;
	}
	for (int i = 0; i < 16; i++) {
		id[i] = (uint8_t)x;
		x >>= 8;
	}
	return 0;
}

static int uhdr_value(const json_t *o, uint8_t *kind, struct vb_buf *raw)
{
	const char *k = vb_json_str(o, "kind", NULL);
	size_t n;
	const char *v = vb_json_str(o, "value", &n);
	size_t i;

	if (k == NULL || v == NULL)
		return -1;
	for (i = 1; i < 16; i++)
		if (strcmp(k, uhdr_kinds[i]) == 0)
			break;
	if (i == 16 || vb_b64_dec(raw, v, n, 0) < 0)
		return -1;
	*kind = (uint8_t)i;
	return 0;
}

/* user_headers of one message to the wire's block; -1 (422) or 1 (400). */
static int uhdrs_encode(const json_t *uh, struct vb_buf *out)
{
	size_t i;
	json_t *e;

	if (uh == NULL || json_is_null(uh))
		return 0;
	if (json_is_string(uh))
		return vb_b64_dec(out, json_string_value(uh),
				  json_string_length(uh), 0);
	if (!json_is_array(uh))
		return -1;
	json_array_foreach(uh, i, e) {
		struct vb_buf k = VB_BUF_INIT, v = VB_BUF_INIT;
		uint8_t kk, vk;
		int bad;

		if (uhdr_value(json_object_get(e, "key"), &kk, &k) < 0 ||
		    uhdr_value(json_object_get(e, "value"), &vk, &v) < 0) {
			vb_buf_release(&k);
			vb_buf_release(&v);
			return -1;
		}
		bad = k.len == 0 || k.len > VB_UHDR_LEN_MAX || v.len == 0 ||
		      v.len > VB_UHDR_LEN_MAX ||
		      (uhdr_sizes[kk] && k.len != uhdr_sizes[kk]) ||
		      (uhdr_sizes[vk] && v.len != uhdr_sizes[vk]);
		if (!bad)
			vb_wire_uhdr_add(out, kk, k.p, (uint32_t)k.len, vk, v.p,
					 (uint32_t)v.len);
		vb_buf_release(&k);
		vb_buf_release(&v);
		if (bad)
			return 1;
	}
	return 0;
}

static enum vb_hx b_send(struct vb_http_req *x)
{
	struct vb_send_hdr h;
	json_t *pt = json_object_get(x->json, "partitioning");
	json_t *ms = json_object_get(x->json, "messages"), *m;
	const char *kind, *val, *key;
	struct vb_buf data = VB_BUF_INIT, pk = VB_BUF_INIT;
	struct vb_msg_in *in = NULL;
	size_t *off = NULL, nval, i;
	uint64_t now = vb_wall_us();
	enum vb_hx rc = VB_HX_DONE;
	void *iter;

	memset(&h, 0, sizeof(h));
	if (set_stream_topic(x) < 0)
		return VB_HX_DONE;
	if (!json_is_object(x->json) || pt == NULL || !json_is_array(ms)) {
		shape_error(x, "expected partitioning and messages");
		return VB_HX_DONE;
	}
	for (iter = json_object_iter(x->json); iter;
	     iter = json_object_iter_next(x->json, iter)) {
		key = json_object_iter_key(iter);
		if (strcmp(key, "partitioning") != 0 &&
		    strcmp(key, "messages") != 0) {
			shape_error(x, "unknown field");
			return VB_HX_DONE;
		}
	}
	kind = vb_json_str(pt, "kind", NULL);
	val = vb_json_str(pt, "value", &nval);
	if (kind == NULL || val == NULL || vb_b64_dec(&pk, val, nval, 0) < 0) {
		shape_error(x, "partitioning");
		goto out;
	}
	h.stream = x->req.stream;
	h.topic = x->req.topic;
	if (strcmp(kind, "balanced") == 0) {
		h.part_kind = VB_PART_BALANCED;
	} else if (strcmp(kind, "partition_id") == 0 ||
		   strcmp(kind, "messages_key") == 0) {
		if (pk.len == 0 || pk.len > VB_NAME_MAX ||
		    (kind[0] == 'p' && pk.len != 4)) {
			vb_hx_iggy(x, 4028);
			goto out;
		}
		if (kind[0] == 'p') {
			h.part_kind = VB_PART_ID;
			h.partition_id = vb_ld32(pk.p);
		} else {
			h.part_kind = VB_PART_KEY;
			h.key_len = (uint8_t)pk.len;
			memcpy(h.key, pk.p, pk.len);
		}
	} else {
		shape_error(x, "partitioning.kind: unknown variant");
		goto out;
	}
	in = vb_xcalloc(json_array_size(ms) + 1, sizeof(*in));
	off = vb_xcalloc(2 * json_array_size(ms) + 2, sizeof(*off));
	json_array_foreach(ms, i, m) {
		size_t pn;
		const char *pl = vb_json_str(m, "payload", &pn);
		size_t at = data.len;
		int bad;

		if (!json_is_object(m) || pl == NULL ||
		    msg_id(json_object_get(m, "id"), in[i].id) < 0 ||
		    vb_b64_dec(&data, pl, pn, 0) < 0) {
			shape_error(x, "messages: expected id and payload");
			goto out;
		}
		in[i].payload_len = (uint32_t)(data.len - at);
		off[2 * i] = at;
		at = data.len;
		bad = uhdrs_encode(json_object_get(m, "user_headers"), &data);
		if (bad < 0) {
			shape_error(x, "messages: user_headers");
			goto out;
		}
		if (bad > 0) {
			vb_hx_iggy(x, 4019);
			goto out;
		}
		in[i].uhdr_len = (uint32_t)(data.len - at);
		off[2 * i + 1] = at;
		in[i].origin_timestamp = now;
	}
	for (i = 0; i < json_array_size(ms); i++) {
		in[i].payload = data.p ? data.p + off[2 * i] : (uint8_t *)"";
		in[i].uhdr = in[i].uhdr_len ? data.p + off[2 * i + 1] : NULL;
	}
	x->req.code = VB_CMD_SEND_MESSAGES;
	vb_buf_reset(&x->frame);
	vb_wire_send_encode(&x->frame, &h, in, (uint32_t)json_array_size(ms));
	rc = VB_HX_DISPATCH;
out:
	free(in);
	free(off);
	vb_buf_release(&data);
	vb_buf_release(&pk);
	return rc;
}

static enum vb_hx b_flush(struct vb_http_req *x)
{
	const char *f = x->seg[7];

	if (set_stream_topic(x) < 0 || seg_u32(x, 6, &x->req.partition_id) < 0)
		return VB_HX_DONE;
	/* the Rust SDK 0.10.0 sends "fsync=BOOL" in the segment (api.md) */
	if (strncmp(f, "fsync=", 6) == 0)
		f += 6;
	if (strcmp(f, "true") == 0 || strcmp(f, "false") == 0) {
		x->req.flag = f[0] == 't';
		return b_simple(x, VB_CMD_FLUSH_UNSAVED_BUFFER);
	}
	vb_hx_text(x, 400, "Invalid URL: Cannot parse `%s` to a `bool`",
		   x->seg[7]);
	return VB_HX_DONE;
}

/* ---- list routes ---- */

/*
 * A list route's reply: the broker's records, decoded one by one, sorted
 * when cmp is set (the broker's order is kept otherwise) and written as a
 * JSON array of objects; which records, the command says (lists[]).
 */
struct list_kind {
	uint32_t code; /* the command whose reply it is */
	size_t size;
	int (*dec)(struct vb_rd *r, void *rec, struct vb_err *e);
	int (*cmp)(const void *a, const void *b);
	void (*json)(struct vb_jw *w, const void *rec);
};

static int dec_client(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_client(r, rec, e);
}

static int dec_user(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_user(r, rec, e);
}

static int dec_pat(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_pat(r, rec, e);
}

static int dec_stream(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_stream(r, rec, e);
}

static int dec_group(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_group(r, rec, e);
}

static const struct list_kind lists[] = {
	{ VB_CMD_GET_CLIENTS, sizeof(struct vb_client_info), dec_client,
	  cmp_client, client_json },
	/* the broker lists users by id already */
	{ VB_CMD_GET_USERS, sizeof(struct vb_user_info), dec_user, NULL,
	  user_json },
	{ VB_CMD_GET_PATS, sizeof(struct vb_pat_info), dec_pat, cmp_pat,
	  pat_json },
	{ VB_CMD_GET_STREAMS, sizeof(struct vb_stream_info), dec_stream,
	  cmp_stream, stream_json },
	{ VB_CMD_GET_CONSUMER_GROUPS, sizeof(struct vb_group_info), dec_group,
	  cmp_group, group_json },
};

static void r_list(struct vb_http_req *x, uint32_t st, const uint8_t *p,
		   size_t n)
{
	const struct list_kind *k = NULL;
	char *v = NULL;
	size_t nv = 0, cap = 0;
	struct vb_rd r;
	struct vb_err e;
	struct vb_jw w;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (lists[i].code == x->req.code)
			k = &lists[i];
	if (st || k == NULL) {
		vb_hx_iggy(x, st ? st : VB_ST_ERROR);
		return;
	}
	vb_rd_init(&r, p, n);
	while (vb_rd_left(&r) > 0) {
		VB_ALLOC_GROW(v, (nv + 1) * k->size, cap);
		if (k->dec(&r, v + nv * k->size, &e) < 0) {
			free(v);
			bad_reply(x, &e);
			return;
		}
		nv++;
	}
	if (nv && k->cmp)
		qsort(v, nv, k->size, k->cmp);
	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_arr(&w, NULL);
	for (size_t i = 0; i < nv; i++) {
		vb_jw_obj(&w, NULL);
		k->json(&w, v + i * k->size);
		vb_jw_end(&w, '}');
	}
	vb_jw_end(&w, ']');
	free(v);
	vb_hx_json(x, 200);
}

/* ---- the table ---- */

#define S "/streams/{}"
#define T S "/topics/{}"

const struct vb_http_route vb_http_routes[] = {
	{ "GET", "/", 0, 0, b_root, NULL },
	{ "GET", "/ping", 0, 0, b_ping, NULL },
	{ "GET", "/metrics", 0, 0, b_metrics, NULL },
	{ "GET", "/stats", 1, 0, b_stats, r_stats },
	{ "GET", "/cluster/metadata", 1, 0, b_cluster, r_cluster },
	{ "GET", "/clients", 1, 0, b_clients, r_list },
	{ "GET", "/clients/{}", 1, 0, b_client, r_client },
	{ "POST", "/snapshot", 1, 1, b_snapshot, r_snapshot },
	{ "GET", "/users", 1, 0, b_users, r_list },
	{ "POST", "/users", 1, 1, b_user_create, r_user },
	{ "POST", "/users/login", 0, 1, b_login, r_login },
	{ "DELETE", "/users/logout", 1, 0, b_logout, r_logout },
	{ "POST", "/users/refresh-token", 0, 1, b_refresh, NULL },
	{ "GET", "/users/{}", 1, 0, b_user_get, r_user_get },
	{ "PUT", "/users/{}", 1, 1, b_user_update, r_204 },
	{ "DELETE", "/users/{}", 1, 0, b_user_delete, r_204 },
	{ "PUT", "/users/{}/permissions", 1, 1, b_user_perms, r_204 },
	{ "PUT", "/users/{}/password", 1, 1, b_user_password, r_204 },
	{ "GET", "/personal-access-tokens", 1, 0, b_pats, r_list },
	{ "POST", "/personal-access-tokens", 1, 1, b_pat_create, r_pat_create },
	{ "POST", "/personal-access-tokens/login", 0, 1, b_pat_login, r_login },
	{ "DELETE", "/personal-access-tokens/{}", 1, 0, b_pat_delete, r_204 },
	{ "GET", "/streams", 1, 0, b_streams, r_list },
	{ "POST", "/streams", 1, 1, b_stream_create, r_stream_details },
	{ "GET", S, 1, 0, b_stream_get, r_stream_details },
	{ "PUT", S, 1, 1, b_stream_update, r_204 },
	{ "DELETE", S, 1, 0, b_stream_delete, r_204 },
	{ "DELETE", S "/purge", 1, 0, b_stream_delete, r_204 },
	{ "GET", S "/topics", 1, 0, b_stream_get, r_topics },
	{ "POST", S "/topics", 1, 1, b_topic_create, r_topic },
	{ "GET", T, 1, 0, b_topic_get, r_topic },
	{ "PUT", T, 1, 1, b_topic_update, r_204 },
	{ "DELETE", T, 1, 0, b_topic_delete, r_204 },
	{ "DELETE", T "/purge", 1, 0, b_topic_delete, r_204 },
	{ "POST", T "/partitions", 1, 1, b_parts_create, r_201 },
	{ "DELETE", T "/partitions", 1, 0, b_parts_delete, r_204 },
	{ "DELETE", T "/partitions/{}", 1, 0, b_segments_delete, r_204 },
	{ "GET", T "/consumer-groups", 1, 0, b_groups, r_list },
	{ "POST", T "/consumer-groups", 1, 1, b_group_create, r_group_created },
	{ "GET", T "/consumer-groups/{}", 1, 0, b_group_get, r_group_get },
	{ "DELETE", T "/consumer-groups/{}", 1, 0, b_group_delete, r_204 },
	{ "GET", T "/consumer-offsets", 1, 0, b_offset_get, r_offset_get },
	{ "PUT", T "/consumer-offsets", 1, 1, b_offset_store, r_204 },
	{ "DELETE", T "/consumer-offsets/{}", 1, 0, b_offset_delete, r_204 },
	{ "GET", T "/messages", 1, 0, b_poll, r_poll },
	{ "POST", T "/messages", 1, 1, b_send, r_201 },
	{ "GET", T "/messages/flush/{}/{}", 1, 0, b_flush, r_200 },
};

const size_t vb_http_nroutes = sizeof(vb_http_routes) /
			       sizeof(vb_http_routes[0]);
