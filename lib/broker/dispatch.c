/* The command table, and the system and client commands (control.md §5.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

void vb_reply_ok(struct vb_conn *c)
{
	vb_wire_resp_error(&c->out, VB_ST_OK);
}

void vb_reply_err(struct vb_conn *c, uint32_t status)
{
	vb_wire_resp_error(&c->out, status);
}

static void client_info(const struct vb_conn *c, struct vb_client_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->client_id = c->client_id;
	ci->user_id = c->user_id;
	ci->transport = 1;
	strlcpy(ci->address, c->addr, sizeof(ci->address));
	ci->groups_count = c->ngroups;
}

static void reply_client(struct vb_conn *c, const struct vb_conn *who)
{
	struct vb_client_info ci;
	size_t m = vb_wire_resp_begin(&c->out);

	client_info(who, &ci);
	vb_wire_enc_client(&c->out, &ci);
	for (uint32_t i = 0; i < who->ngroups; i++)
		vb_wire_enc_group_ref(&c->out, &who->groups[i]);
	vb_wire_resp_end(&c->out, m);
}

static uint64_t proc_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void cmd_stats(struct vb_broker *b, struct vb_conn *c)
{
	struct vb_stats s;
	struct utsname u;
	struct sysinfo si;
	struct statvfs vfs;
	size_t m;

	memset(&s, 0, sizeof(s));
	s.process_id = (uint32_t)getpid();
	s.memory_usage = proc_rss();
	if (sysinfo(&si) == 0) {
		s.total_memory = (uint64_t)si.totalram * si.mem_unit;
		s.available_memory = (uint64_t)si.freeram * si.mem_unit;
	}
	s.start_time = b->start_time;
	s.run_time = vb_wall_us() - b->start_time;
	s.read_bytes = b->store.read_bytes;
	s.written_bytes = b->store.written_bytes;
	for (uint32_t si2 = 0; si2 < b->streams.n; si2++) {
		struct vb_stream *st = vb_slab_get(&b->streams, si2);

		if (st == NULL)
			continue;
		s.streams_count++;
		for (uint32_t ti = 0; ti < st->topics.n; ti++) {
			struct vb_topic *t = vb_slab_get(&st->topics, ti);

			if (t == NULL)
				continue;
			s.topics_count++;
			s.partitions_count += t->nparts;
			for (uint32_t pi = 0; pi < t->nparts; pi++) {
				s.segments_count +=
					(uint32_t)t->parts[pi]->nsegs;
				s.messages_count += t->parts[pi]->msgs;
				s.messages_size_bytes += t->parts[pi]->bytes;
			}
			for (uint32_t gi = 0; gi < t->groups.n; gi++)
				if (vb_slab_get(&t->groups, gi))
					s.consumer_groups_count++;
		}
	}
	s.clients_count = b->nconns;
	if (uname(&u) == 0) {
		strlcpy(s.hostname, u.nodename, sizeof(s.hostname));
		strlcpy(s.os_name, u.sysname, sizeof(s.os_name));
		strlcpy(s.os_version, u.version, sizeof(s.os_version));
		strlcpy(s.kernel_version, u.release, sizeof(s.kernel_version));
	}
	strlcpy(s.server_version, "0.8.0", sizeof(s.server_version));
	s.server_semver = 8000;
	/* the loop, the password worker, the fsync thread (if started) */
	s.threads_count = b->sync.started ? 3 : 2;
	if (statvfs(b->dir, &vfs) == 0) {
		s.free_disk_space = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		s.total_disk_space = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	}
	m = vb_wire_resp_begin(&c->out);
	vb_wire_enc_stats(&c->out, &s);
	vb_wire_resp_end(&c->out, m);
}

static void cmd_clients(struct vb_broker *b, struct vb_conn *c,
			const struct vb_req *r)
{
	size_t m;

	if (r->code == VB_CMD_GET_ME) {
		reply_client(c, c);
		return;
	}
	if (!vb_allowed(b, c, VB_P_READ_SERVERS, 0, 0)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	if (r->code == VB_CMD_GET_CLIENT) {
		if (r->count == 0) {
			vb_reply_err(c, VB_ST_INVALID_CLIENT_ID);
			return;
		}
		for (struct vb_conn *o = b->conns; o; o = o->next) {
			if (o->client_id == r->count) {
				reply_client(c, o);
				return;
			}
		}
		vb_reply_ok(c);
		return;
	}
	m = vb_wire_resp_begin(&c->out);
	for (struct vb_conn *o = b->conns; o; o = o->next) {
		struct vb_client_info ci;

		client_info(o, &ci);
		vb_wire_enc_client(&c->out, &ci);
	}
	vb_wire_resp_end(&c->out, m);
}

static void dispatch(struct vb_broker *b, struct vb_conn *c, uint32_t code,
		     uint8_t *p, size_t n)
{
	struct vb_req r;
	struct vb_err e;

	/* a parked poll run again was counted when it came */
	if (c->park_deadline == 0)
		b->store.read_bytes += n + VB_REQ_HDR;
	if (code == VB_CMD_SEND_MESSAGES) {
		if (c->user_id == VB_NO_USER)
			vb_reply_err(c, VB_ST_UNAUTHENTICATED);
		else
			vb_cmd_send(b, c, p, n);
		return;
	}
	if (vb_cmd_name(code) == NULL) {
		vb_reply_err(c, VB_ST_INVALID_COMMAND);
		return;
	}
	if (vb_wire_req_decode(&r, code, p, n, &e) < 0) {
		vb_reply_err(c, e.status ? e.status : VB_ST_INVALID_COMMAND);
		return;
	}
	if (vb_cmd_needs_login(code) && c->user_id == VB_NO_USER) {
		vb_reply_err(c, VB_ST_UNAUTHENTICATED);
		return;
	}
	vb_broker_dispatch_req(b, c, &r);
}

void vb_broker_dispatch_req(struct vb_broker *b, struct vb_conn *c,
			    const struct vb_req *rq)
{
	uint32_t code = rq->code;
	struct vb_req r = *rq;
	size_t m;

	switch (code) {
	case VB_CMD_PING:
		vb_reply_ok(c);
		break;
	case VB_CMD_GET_STATS:
		if (!vb_allowed(b, c, VB_P_READ_SERVERS, 0, 0))
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
		else
			cmd_stats(b, c);
		break;
	case VB_CMD_GET_SNAPSHOT:
		vb_reply_err(c, VB_ST_FEATURE_UNAVAILABLE);
		break;
	case VB_CMD_GET_CLUSTER_METADATA:
		m = vb_wire_resp_begin(&c->out);
		vb_wire_enc_cluster(&c->out, b->ip, b->port);
		vb_wire_resp_end(&c->out, m);
		break;
	case VB_CMD_GET_ME:
	case VB_CMD_GET_CLIENT:
	case VB_CMD_GET_CLIENTS:
		cmd_clients(b, c, &r);
		break;
	case VB_CMD_GET_USER:
	case VB_CMD_GET_USERS:
	case VB_CMD_CREATE_USER:
	case VB_CMD_DELETE_USER:
	case VB_CMD_UPDATE_USER:
	case VB_CMD_UPDATE_PERMISSIONS:
	case VB_CMD_CHANGE_PASSWORD:
	case VB_CMD_LOGIN_USER:
	case VB_CMD_LOGOUT_USER:
	case VB_CMD_GET_PATS:
	case VB_CMD_CREATE_PAT:
	case VB_CMD_DELETE_PAT:
	case VB_CMD_LOGIN_PAT:
		if ((code == VB_CMD_LOGIN_USER || code == VB_CMD_LOGIN_PAT) &&
		    b->stopping)
			vb_reply_err(c, VB_ST_DISCONNECTED);
		else
			vb_cmd_users(b, c, &r);
		break;
	case VB_CMD_POLL_MESSAGES:
		vb_cmd_poll(b, c, &r);
		break;
	case VB_CMD_POLL_WAIT:
	case VB_CMD_POLL_WAIT_MULTI:
		if (b->o.no_wait_poll)
			vb_reply_err(c, VB_ST_INVALID_COMMAND);
		else
			vb_cmd_poll_wait(b, c, &r);
		break;
	case VB_CMD_FLUSH_UNSAVED_BUFFER:
		vb_cmd_flush(b, c, &r);
		break;
	case VB_CMD_GET_CONSUMER_OFFSET:
	case VB_CMD_STORE_CONSUMER_OFFSET:
	case VB_CMD_DELETE_CONSUMER_OFFSET:
		vb_cmd_offsets(b, c, &r);
		break;
	case VB_CMD_GET_STREAM:
	case VB_CMD_GET_STREAMS:
	case VB_CMD_CREATE_STREAM:
	case VB_CMD_DELETE_STREAM:
	case VB_CMD_UPDATE_STREAM:
	case VB_CMD_PURGE_STREAM:
		vb_cmd_streams(b, c, &r);
		break;
	case VB_CMD_GET_TOPIC:
	case VB_CMD_GET_TOPICS:
	case VB_CMD_CREATE_TOPIC:
	case VB_CMD_DELETE_TOPIC:
	case VB_CMD_UPDATE_TOPIC:
	case VB_CMD_PURGE_TOPIC:
		vb_cmd_topics(b, c, &r);
		break;
	case VB_CMD_CREATE_PARTITIONS:
	case VB_CMD_DELETE_PARTITIONS:
	case VB_CMD_DELETE_SEGMENTS:
		vb_cmd_partitions(b, c, &r);
		break;
	case VB_CMD_GET_CONSUMER_GROUP:
	case VB_CMD_GET_CONSUMER_GROUPS:
	case VB_CMD_CREATE_CONSUMER_GROUP:
	case VB_CMD_DELETE_CONSUMER_GROUP:
	case VB_CMD_JOIN_CONSUMER_GROUP:
	case VB_CMD_LEAVE_CONSUMER_GROUP:
		vb_cmd_groups(b, c, &r);
		break;
	default:
		vb_reply_err(c, VB_ST_INVALID_COMMAND);
		break;
	}
}

/*
 * Every request, TCP or HTTP, comes through here: timed and counted for
 * GET /metrics, with the status its reply starts with (a reply answered
 * later, by the password worker, counts as 0 here).
 */
void vb_broker_dispatch(struct vb_broker *b, struct vb_conn *c, uint32_t code,
			uint8_t *p, size_t n)
{
	int64_t t0 = vb_metrics_now_ns();
	size_t at = c->out.len;
	uint32_t status = 0;

	dispatch(b, c, code, p, n);
	if (c->out.len >= at + 4)
		status = vb_ld32(c->out.p + at);
	vb_metrics_request(&b->metrics, code,
			   c->fd < 0 ? VB_TR_HTTP : VB_TR_TCP,
			   vb_metrics_now_ns() - t0, status);
}
