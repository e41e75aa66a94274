/*
 * calls.c - the client's commands (client.h): logins and one blocking
 * call per command, encoded in the framing spoken and decoded as its
 * generation lays the records out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "client/client.h"
#include "client/client-int.h"
#include "base/banned.h"

#ifndef VB_VERSION
#define VB_VERSION "0.1.0"
#endif

void vb_client_with_login(struct vb_client *c, const struct vb_req *r)
{
	vb_buf_reset(&c->pre_req);
	vb_wire_req_frame(&c->pre_req, &vb_framing_v08, r);
	c->pre_ready = 0;
}

/*
 * The login's answer, then the one of the request sent with it (kept in
 * pre_ans whatever the login's outcome, so no answer is left unread).
 */
static int take_login(struct vb_client *c, int with, uint32_t *user_id,
		      struct vb_err *e)
{
	struct vb_reply rep, pre;
	int rc;

	if (vb_client_next(c, &rep, e))
		return -1;
	rc = rep.status == VB_ST_OK ?
		     0 :
		     vb_client_reply_err(e, &rep, "login_user");
	if (rc == 0 && user_id)
		*user_id = rep.len >= 4 ? vb_ld32(rep.payload) : 0;
	if (!with)
		return rc;
	if (vb_client_next(c, &pre, rc ? NULL : e))
		return -1;
	vb_buf_reset(&c->pre_ans);
	vb_buf_add(&c->pre_ans, pre.payload, pre.len);
	c->pre_status = pre.status;
	c->pre_ready = rc == 0;
	return rc;
}

/* 0.8 login_user (38), with vb_client_with_login's request behind it. */
static int login_08(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e)
{
	static const char version[] = "vibes-" VB_VERSION;
	struct vb_req r;
	int with;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	vb_req_init(&r, VB_CMD_LOGIN_USER);
	vb_name_set(&r.name, user);
	r.secret.len = (uint8_t)strlen(pass);
	memcpy(r.secret.s, pass, r.secret.len);
	r.version = (const uint8_t *)version;
	r.version_len = sizeof(version) - 1;
	vb_buf_reset(&c->enc);
	vb_wire_req_frame(&c->enc, c->framing, &r);
	explicit_bzero(&r.secret, sizeof(r.secret));
	/*
	 * On a guessed 0.8 (vb_client_login), what is sent must stay short of
	 * a 0.9 header, so that a 0.9 server waits for the rest and the
	 * guess is found out by its silence.
	 */
	with = c->pre_req.len > 0 &&
	       (!c->proto_guess || c->enc.len + c->pre_req.len < VB_VSR_HDR);
	vb_client_queue(c, c->enc.p, c->enc.len);
	explicit_bzero(c->enc.p, c->enc.len);
	if (with)
		vb_client_queue(c, c->pre_req.p, c->pre_req.len);
	return take_login(c, with, user_id, e);
}

/*
 * 0.9 session registration (framing.md §5): a fresh client id, the
 * protocol version, the credentials; the reply binds the session and the
 * request counter starts at 1.
 */
static int login_09(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e)
{
	struct vb_vsr_login l;
	struct vb_req r;
	const uint8_t *p;
	size_t n;
	int rc;

	vb_client_new_id(c);
	c->bound = 0;
	c->id.session = 0;
	c->id.request = 0;
	vb_req_init(&r, VB_CMD_LOGIN_REGISTER);
	r.proto_version = VB_V09_PROTOCOL_VERSION;
	vb_name_set(&r.sdk_name, "vibes");
	vb_name_set(&r.sdk_version, VB_VERSION);
	vb_name_set(&r.name, user);
	r.secret.len = (uint8_t)strlen(pass);
	memcpy(r.secret.s, pass, r.secret.len);
	rc = vb_client_call(c, &r, &p, &n, e);
	explicit_bzero(&r.secret, sizeof(r.secret));
	explicit_bzero(c->enc.p, c->enc.len);
	if (rc)
		return -1;
	if (vb_vsr_dec_login(p, n, &l, e)) {
		vb_err_prefix(e, "login reply");
		return vb_client_lost(c, e);
	}
	c->id.session = l.session;
	c->id.request = 1;
	c->bound = 1;
	c->user_id = l.user_id;
	strlcpy(c->server_version, l.server_version.s,
		sizeof(c->server_version));
	if (user_id)
		*user_id = l.user_id;
	return 0;
}

/* "ip:port" of a node for the TCP transport. */
static void node_addr(const struct vb_cluster_node *n, char *buf, size_t size)
{
	snprintf(buf, size, strchr(n->ip, ':') ? "[%s]:%u" : "%s:%u", n->ip,
		 n->tcp);
}

/*
 * The leader of the cluster: 1 with *leader filled when there are several
 * nodes and a healthy one leads, 0 when there is one node or no healthy
 * leader, -1 when the metadata call failed.
 */
static int find_leader(struct vb_client *c, struct vb_cluster_node *leader,
		       int *several, struct vb_err *e)
{
	struct vb_cluster_node nodes[16];
	uint32_t n;

	*several = 0;
	if (vb_client_cluster(c, nodes, 16, &n, e))
		return -1;
	if (n <= 1)
		return 0;
	*several = 1;
	for (uint32_t i = 0; i < n && i < 16; i++)
		if (nodes[i].role == VB_NODE_LEADER &&
		    nodes[i].status == VB_NODE_HEALTHY) {
			*leader = nodes[i];
			return 1;
		}
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * After a 0.9 login, the cluster's rules (framing.md §11): one node, stay;
 * a healthy leader elsewhere, connect there and log in again, at most
 * three times in a row; no healthy leader, look again every 250 ms for up
 * to 5 s, then stay.  A failed metadata call leaves things as they are.
 */
static int follow_leader(struct vb_client *c, const char *user,
			 const char *pass, uint32_t *user_id, struct vb_err *e)
{
	char here[300], there[300], first[300];
	int64_t wait_until = 0;

	vb_client_addr(c, first, sizeof(first));
	c->redirected[0] = 0;
	for (int hops = 0; hops < VB_CLIENT_REDIRECTS_MAX;) {
		struct vb_cluster_node leader;
		struct vb_err ignored;
		char host[256];
		int several, rc = find_leader(c, &leader, &several, &ignored);

		if (rc < 0)
			return vb_client_connected(c) ?
				       0 :
				       vb_err_set(e, VB_E_UNAVAIL, "%s",
						  ignored.msg);
		if (rc == 0) {
			if (!several)
				return 0;
			if (wait_until == 0)
				wait_until = vb_mono_ms() +
					     VB_CLIENT_LEADER_WAIT_MS;
			if (vb_mono_ms() >= wait_until)
				return 0;
			sleep_ms(VB_CLIENT_LEADER_POLL_MS);
			continue;
		}
		wait_until = 0;
		node_addr(&leader, there, sizeof(there));
		vb_client_addr(c, here, sizeof(here));
		if (strcmp(here, there) == 0)
			return 0;
		/* another node leads: go there, speaking what we speak */
		strlcpy(host, leader.ip, sizeof(host));
		vb_client_close(c);
		strlcpy(c->host, host, sizeof(c->host));
		c->port = leader.tcp;
		c->unix_path[0] = 0;
		if (vb_client_connect_as(c, c->framing, e) ||
		    login_09(c, user, pass, user_id, e)) {
			vb_err_prefix(e, "following the leader from %s to %s",
				      first, there);
			return -1;
		}
		snprintf(c->redirected, sizeof(c->redirected), "from %s to %s",
			 first, there);
		hops++;
	}
	return 0;
}

int vb_client_leader_moved(struct vb_client *c, struct vb_err *e)
{
	struct vb_cluster_node leader;
	struct vb_err ignored;
	char here[300], there[300];
	int several;

	if (find_leader(c, &leader, &several, &ignored) != 1)
		return 0;
	node_addr(&leader, there, sizeof(there));
	vb_client_addr(c, here, sizeof(here));
	if (strcmp(here, there) == 0)
		return 0;
	vb_err_status(e, VB_E_UNAVAIL, VB_ST_TRANSIENT_NOT_ACCEPTED,
		      "%s no longer leads the cluster (%s does): connect again",
		      here, there);
	return vb_client_lost(c, e);
}

int vb_client_login(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e)
{
	int rc;

	if (vb_name_set(&(struct vb_name){ 0 }, user))
		return vb_err_set(e, VB_E_USAGE,
				  "username must be 1 to 255 bytes");
	if (strlen(pass) > VB_NAME_MAX)
		return vb_err_set(e, VB_E_USAGE,
				  "password must be at most 255 bytes");
	if (c->proto_guess)
		c->first_ms = VB_CLIENT_GUESS_MS;
	rc = vb_client_v09(c) ? login_09(c, user, pass, user_id, e) :
				login_08(c, user, pass, user_id, e);
	c->first_ms = 0;
	if (rc && c->proto_guess && e && e->kind == VB_E_TIMEOUT &&
	    c->rx == 0) {
		/*
		 * The cache said 0.8 and nothing came back: a 0.9 server
		 * waits for the rest of a 256-byte header.  Probe.
		 */
		c->proto_guess = 0;
		if (vb_client_reprobe(c, e))
			return -1;
		rc = vb_client_v09(c) ? login_09(c, user, pass, user_id, e) :
					login_08(c, user, pass, user_id, e);
	}
	c->proto_guess = 0;
	if (rc) {
		/* A name or password the server cannot hold is refused too. */
		if (e && e->kind == VB_E_SERVER &&
		    (e->status == VB_ST_INVALID_USERNAME ||
		     e->status == VB_ST_INVALID_PASSWORD)) {
			char where[300];
			int name = e->status == VB_ST_INVALID_USERNAME;

			/* control.md 6.3: names 3..50 bytes, passwords 3..100 */
			return vb_err_status(
				e, VB_E_AUTH, e->status,
				"login as '%s' refused: %s takes no such %s (status %u, %s: Iggy %s %s); check the %s given",
				user, vb_client_addr(c, where, sizeof(where)),
				name ? "user name" : "password", e->status,
				vb_status_name(e->status),
				name ? "user names have" : "passwords have",
				name ? "3 to 50 bytes" : "3 to 100 bytes",
				name ? "user name" : "password");
		}
		if (e && e->kind == VB_E_AUTH)
			vb_err_prefix(e, "login as '%s' refused", user);
		return -1;
	}
	if (vb_client_v09(c))
		return follow_leader(c, user, pass, user_id, e);
	return 0;
}

int vb_client_ping(struct vb_client *c, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_PING);
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_cluster(struct vb_client *c, struct vb_cluster_node *nodes,
		      uint32_t max, uint32_t *n, struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t len;
	char name[256];

	*n = 0;
	vb_req_init(&r, VB_CMD_GET_CLUSTER_METADATA);
	if (vb_client_call(c, &r, &p, &len, e))
		return -1;
	vb_rd_init(&rd, p, len);
	if (vb_wire_dec_cluster_head(&rd, name, sizeof(name), n, e))
		return -1;
	for (uint32_t i = 0; i < *n; i++) {
		struct vb_cluster_node skip;

		if (vb_wire_dec_cluster_node(&rd, i < max ? &nodes[i] : &skip,
					     e))
			return -1;
	}
	return 0;
}

int vb_client_get_stats(struct vb_client *c, struct vb_stats *s,
			struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_GET_STATS);
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	return vb_wire_dec_stats(&rd, s, e);
}

int vb_client_get_stream(struct vb_client *c, const struct vb_ident *stream,
			 struct vb_stream_info *s, int *found, struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_GET_STREAM);
	r.stream = *stream;
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	*found = n > 0;
	if (n == 0)
		return 0;
	vb_rd_init(&rd, p, n);
	return vb_wire_dec_stream_gen(&rd, s, c->framing->gen, e);
}

int vb_client_create_stream(struct vb_client *c, const char *name,
			    struct vb_stream_info *s, struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_CREATE_STREAM);
	if (vb_name_set(&r.name, name))
		return vb_err_set(e, VB_E_USAGE,
				  "stream name must be 1 to 255 bytes");
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	return s ? vb_wire_dec_stream_gen(&rd, s, c->framing->gen, e) : 0;
}

/* Reads a TopicDetails payload. */
static int dec_topic_details(const uint8_t *p, size_t n, unsigned gen,
			     struct vb_topic_info *t,
			     struct vb_partition_info *parts, uint32_t nparts,
			     struct vb_err *e)
{
	struct vb_rd rd;

	vb_rd_init(&rd, p, n);
	if (vb_wire_dec_topic_gen(&rd, t, gen, e))
		return -1;
	for (uint32_t i = 0; parts && i < t->partitions_count && i < nparts;
	     i++)
		if (vb_wire_dec_partition(&rd, &parts[i], e))
			return -1;
	return 0;
}

void vb_client_topic_req(struct vb_req *r, const struct vb_ident *stream,
			 const struct vb_ident *topic)
{
	vb_req_init(r, VB_CMD_GET_TOPIC);
	r->stream = *stream;
	r->topic = *topic;
}

int vb_client_get_topic(struct vb_client *c, const struct vb_ident *stream,
			const struct vb_ident *topic, struct vb_topic_info *t,
			struct vb_partition_info *parts, uint32_t nparts,
			int *found, struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_client_topic_req(&r, stream, topic);
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	*found = n > 0;
	if (n == 0)
		return 0;
	return dec_topic_details(p, n, c->framing->gen, t, parts, nparts, e);
}

int vb_client_create_topic(struct vb_client *c, const struct vb_ident *stream,
			   const char *name, uint32_t partitions,
			   struct vb_topic_info *t, struct vb_err *e)
{
	return vb_client_create_topic_with(c, stream, name, partitions, 0, 0, t,
					   e);
}

int vb_client_create_topic_with(struct vb_client *c,
				const struct vb_ident *stream, const char *name,
				uint32_t partitions, uint64_t expiry_us,
				uint64_t max_size, struct vb_topic_info *t,
				struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	r.stream = *stream;
	r.count = partitions;
	r.compression = VB_COMPRESSION_NONE;
	r.message_expiry = expiry_us;
	r.max_topic_size = max_size;
	r.replication_factor = 1;
	if (vb_name_set(&r.name, name))
		return vb_err_set(e, VB_E_USAGE,
				  "topic name must be 1 to 255 bytes");
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	return t ? dec_topic_details(p, n, c->framing->gen, t, NULL, 0, e) : 0;
}

/* Decodes concatenated records of `size` bytes at least each. */
typedef int (*dec_fn)(struct vb_rd *r, void *rec, unsigned gen,
		      struct vb_err *e);

/*
 * A listing: records back to back; 0.9 puts a count before the topics
 * of get_topics (commands.md §4.2).
 */
static int list(struct vb_client *c, const struct vb_req *r, dec_fn dec,
		size_t size, void **out, size_t *n, struct vb_err *e)
{
	unsigned gen = c->framing->gen;
	const uint8_t *p;
	size_t len, cap = 0;
	struct vb_rd rd;
	uint8_t *recs = NULL;
	uint32_t count;

	*out = NULL;
	*n = 0;
	if (vb_client_call(c, r, &p, &len, e))
		return -1;
	vb_rd_init(&rd, p, len);
	if (gen == VB_GEN_09 && r->code == VB_CMD_GET_TOPICS && len > 0 &&
	    vb_rd_u32(&rd, &count, "topics count", e))
		return -1;
	while (vb_rd_left(&rd) > 0) {
		VB_ALLOC_GROW(recs, (*n + 1) * size, cap);
		if (dec(&rd, recs + *n * size, gen, e)) {
			free(recs);
			*n = 0;
			return -1;
		}
		(*n)++;
	}
	*out = recs;
	return 0;
}

static int dec_stream(struct vb_rd *r, void *rec, unsigned gen,
		      struct vb_err *e)
{
	return vb_wire_dec_stream_gen(r, rec, gen, e);
}

static int dec_topic(struct vb_rd *r, void *rec, unsigned gen, struct vb_err *e)
{
	return vb_wire_dec_topic_gen(r, rec, gen, e);
}

static int dec_group(struct vb_rd *r, void *rec, unsigned gen, struct vb_err *e)
{
	return vb_wire_dec_group(r, rec, e);
}

int vb_client_get_streams(struct vb_client *c, struct vb_stream_info **out,
			  size_t *n, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_STREAMS);
	return list(c, &r, dec_stream, sizeof(**out), (void **)out, n, e);
}

int vb_client_get_topics(struct vb_client *c, const struct vb_ident *stream,
			 struct vb_topic_info **out, size_t *n,
			 struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_TOPICS);
	r.stream = *stream;
	return list(c, &r, dec_topic, sizeof(**out), (void **)out, n, e);
}

int vb_client_get_groups(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 struct vb_group_info **out, size_t *n,
			 struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_CONSUMER_GROUPS);
	r.stream = *stream;
	r.topic = *topic;
	return list(c, &r, dec_group, sizeof(**out), (void **)out, n, e);
}

int vb_client_update_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_topic_info *t, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	r.stream = *stream;
	r.topic = *topic;
	r.compression = t->compression;
	r.message_expiry = t->message_expiry;
	r.max_topic_size = t->max_topic_size;
	r.replication_factor = t->replication_factor;
	r.name = t->name;
	return vb_client_call(c, &r, NULL, NULL, e);
}

static int two_ids(struct vb_client *c, uint32_t code,
		   const struct vb_ident *stream, const struct vb_ident *topic,
		   struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, code);
	r.stream = *stream;
	r.topic = *topic;
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_delete_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic, struct vb_err *e)
{
	return two_ids(c, VB_CMD_DELETE_TOPIC, stream, topic, e);
}

int vb_client_purge_topic(struct vb_client *c, const struct vb_ident *stream,
			  const struct vb_ident *topic, struct vb_err *e)
{
	return two_ids(c, VB_CMD_PURGE_TOPIC, stream, topic, e);
}

int vb_client_send(struct vb_client *c, const struct vb_send_hdr *h,
		   const struct vb_msg_in *msgs, uint32_t n, struct vb_err *e)
{
	vb_buf_reset(&c->enc);
	if (vb_wire_send_encode_f(&c->enc, c->framing, h, msgs, n, e))
		return -1;
	return vb_client_call_frame(c, c->enc.p, c->enc.len, NULL, NULL, e);
}

int vb_client_poll(struct vb_client *c, const struct vb_req *r,
		   struct vb_poll_hdr *h, struct vb_rd *msgs, struct vb_err *e)
{
	const uint8_t *p;
	size_t n;

	if (vb_client_call(c, r, &p, &n, e))
		return -1;
	vb_rd_init(msgs, p, n);
	if (vb_wire_dec_poll_hdr(msgs, h, e))
		return -1;
	return 0;
}

int vb_client_poll_wait(struct vb_client *c, const struct vb_req *r,
			const uint8_t **payload, size_t *len, struct vb_err *e)
{
	if (vb_client_no_wait_poll(c))
		return 0;
	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	vb_buf_reset(&c->enc);
	vb_wire_req_encode(&c->enc, r);
	vb_client_queue(c, c->enc.p, c->enc.len);
	return vb_client_wait_answer(c, r, payload, len, e);
}

int vb_client_wait_answer(struct vb_client *c, const struct vb_req *r,
			  const uint8_t **payload, size_t *len,
			  struct vb_err *e)
{
	uint64_t wait_ms = r->wait.max_wait_us / 1000 + 1;
	int saved = c->timeout_ms, rc;
	struct vb_reply rep;

	if (wait_ms > 3600000)
		wait_ms = 3600000;
	c->timeout_ms = saved + (int)wait_ms;
	rc = vb_client_next(c, &rep, e);
	c->timeout_ms = saved;
	if (rc)
		return -1;
	if (rep.status == VB_ST_INVALID_COMMAND) {
		c->no_wait_poll = 1;
		return 0;
	}
	if (rep.status != VB_ST_OK)
		return vb_client_status_err(e, rep.status,
					    vb_cmd_name(r->code));
	if (payload)
		*payload = rep.payload;
	if (len)
		*len = rep.len;
	return 1;
}

int vb_client_poll_msgs(struct vb_client *c, const struct vb_req *r,
			struct vb_poll_hdr *h, struct vb_msgs *msgs,
			struct vb_err *e)
{
	const uint8_t *p;
	size_t n;
	struct vb_rd rd;

	if (vb_client_call(c, r, &p, &n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	if (vb_wire_dec_poll_hdr(&rd, h, e))
		return -1;
	vb_msgs_init(msgs, c->framing->gen, p + rd.off, n - rd.off);
	return 0;
}

int vb_client_sync_group(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 const struct vb_ident *group, struct vb_group_sync *s,
			 struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_SYNC_CONSUMER_GROUP);
	r.stream = *stream;
	r.topic = *topic;
	r.target = *group;
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	return vb_wire_dec_group_sync(p, n, s, e);
}

static void offset_req(struct vb_req *r, uint32_t code,
		       const struct vb_consumer *who,
		       const struct vb_ident *stream,
		       const struct vb_ident *topic, uint32_t partition)
{
	vb_req_init(r, code);
	r->consumer = *who;
	r->stream = *stream;
	r->topic = *topic;
	r->part.present = 1;
	r->part.id = partition;
}

int vb_client_get_offset(struct vb_client *c, const struct vb_consumer *who,
			 const struct vb_ident *stream,
			 const struct vb_ident *topic, uint32_t partition,
			 struct vb_offset_info *o, int *found, struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	offset_req(&r, VB_CMD_GET_CONSUMER_OFFSET, who, stream, topic,
		   partition);
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	*found = n > 0;
	if (n == 0)
		return 0;
	vb_rd_init(&rd, p, n);
	return vb_wire_dec_offset(&rd, o, e);
}

int vb_client_store_offset(struct vb_client *c, const struct vb_consumer *who,
			   const struct vb_ident *stream,
			   const struct vb_ident *topic, uint32_t partition,
			   uint64_t offset, struct vb_err *e)
{
	struct vb_req r;

	offset_req(&r, VB_CMD_STORE_CONSUMER_OFFSET, who, stream, topic,
		   partition);
	r.value = offset;
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_delete_offset(struct vb_client *c, const struct vb_consumer *who,
			    const struct vb_ident *stream,
			    const struct vb_ident *topic, uint32_t partition,
			    struct vb_err *e)
{
	struct vb_req r;

	offset_req(&r, VB_CMD_DELETE_CONSUMER_OFFSET, who, stream, topic,
		   partition);
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_create_group(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic, const char *name,
			   struct vb_group_info *g, struct vb_err *e)
{
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_CREATE_CONSUMER_GROUP);
	r.stream = *stream;
	r.topic = *topic;
	if (vb_name_set(&r.name, name))
		return vb_err_set(e, VB_E_USAGE,
				  "group name must be 1 to 255 bytes");
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	return g ? vb_wire_dec_group(&rd, g, e) : 0;
}

static int group_call(struct vb_client *c, uint32_t code,
		      const struct vb_ident *stream,
		      const struct vb_ident *topic,
		      const struct vb_ident *group, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, code);
	r.stream = *stream;
	r.topic = *topic;
	r.target = *group;
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_join_group(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 const struct vb_ident *group, struct vb_err *e)
{
	return group_call(c, VB_CMD_JOIN_CONSUMER_GROUP, stream, topic, group,
			  e);
}

int vb_client_leave_group(struct vb_client *c, const struct vb_ident *stream,
			  const struct vb_ident *topic,
			  const struct vb_ident *group, struct vb_err *e)
{
	return group_call(c, VB_CMD_LEAVE_CONSUMER_GROUP, stream, topic, group,
			  e);
}

int vb_client_delete_group(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_ident *group, struct vb_err *e)
{
	return group_call(c, VB_CMD_DELETE_CONSUMER_GROUP, stream, topic, group,
			  e);
}

int vb_client_flush(struct vb_client *c, const struct vb_ident *stream,
		    const struct vb_ident *topic, uint32_t partition, int fsync,
		    struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_FLUSH_UNSAVED_BUFFER);
	r.stream = *stream;
	r.topic = *topic;
	r.partition_id = partition;
	r.flag = fsync ? 1 : 0;
	return vb_client_call(c, &r, NULL, NULL, e);
}
