/*
 * log.c - topology bootstrap, positions, commits, groups, lag and seek.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "log/log.h"
#include "wire/status.h"
#include "base/banned.h"

int vb_log_init(struct vb_log *l, struct vb_client *c, const char *stream,
		const char *topic, uint32_t create_parts, struct vb_err *e)
{
	struct vb_req r;

	memset(l, 0, sizeof(*l));
	l->c = c;
	l->create_parts = create_parts;
	if (vb_ident_str(&l->stream, stream))
		return vb_err_set(e, VB_E_USAGE,
				  "stream name '%s': must be 1 to 255 bytes",
				  stream);
	if (vb_ident_str(&l->topic, topic))
		return vb_err_set(e, VB_E_USAGE,
				  "topic name '%s': must be 1 to 255 bytes",
				  topic);
	/* every tool looks its topic up first: in the login's round trip */
	vb_client_topic_req(&r, &l->stream, &l->topic);
	vb_client_with_login(c, &r);
	return 0;
}

void vb_log_release(struct vb_log *l)
{
	free(l->parts);
	l->parts = NULL;
	l->nparts = 0;
}

static int lookup(struct vb_log *l, int *found, struct vb_err *e)
{
	struct vb_topic_info t;
	uint32_t cap = l->nparts ? l->nparts : 64;

	for (;;) {
		struct vb_partition_info *p = vb_xreallocarray(NULL, cap,
							       sizeof(*p));

		if (vb_client_get_topic(l->c, &l->stream, &l->topic, &t, p, cap,
					found, e)) {
			free(p);
			return -1;
		}
		if (!*found) {
			free(p);
			return 0;
		}
		if (t.partitions_count <= cap) {
			free(l->parts);
			l->parts = p;
			l->nparts = t.partitions_count;
			l->topic_id = t.id;
			l->topic_created = t.created_at;
			return 0;
		}
		free(p);
		cap = t.partitions_count;
	}
}

int vb_log_refresh(struct vb_log *l, struct vb_err *e)
{
	int found;

	if (lookup(l, &found, e))
		return -1;
	if (!found)
		return vb_err_set(e, VB_E_STATE, "topic %s/%s does not exist",
				  l->stream.name.s, l->topic.name.s);
	if (l->nparts == 0)
		return vb_err_set(e, VB_E_STATE,
				  "topic %s/%s has no partitions",
				  l->stream.name.s, l->topic.name.s);
	return 0;
}

int vb_log_bootstrap(struct vb_log *l, struct vb_err *e)
{
	struct vb_stream_info s;
	struct vb_topic_info t;
	int found;

	if (lookup(l, &found, e))
		return -1;
	if (found)
		goto check;
	if (vb_client_create_stream(l->c, l->stream.name.s, &s, e) &&
	    !(e->kind == VB_E_SERVER &&
	      e->status == VB_ST_STREAM_NAME_ALREADY_EXISTS))
		return -1;
	if (vb_client_create_topic(l->c, &l->stream, l->topic.name.s,
				   l->create_parts, &t, e) &&
	    !(e->kind == VB_E_SERVER &&
	      e->status == VB_ST_TOPIC_NAME_ALREADY_EXISTS))
		return -1;
	if (lookup(l, &found, e))
		return -1;
	if (!found)
		return vb_err_set(e, VB_E_STATE,
				  "topic %s/%s vanished right after it was created",
				  l->stream.name.s, l->topic.name.s);
check:
	if (l->nparts == 0)
		return vb_err_set(e, VB_E_STATE,
				  "topic %s/%s has no partitions",
				  l->stream.name.s, l->topic.name.s);
	return 0;
}

/* "a, b, c" of the names in recs (topics or streams), internal ones left out. */
static void names_of(struct vb_buf *b, const void *recs, size_t n, size_t size,
		     size_t name_off)
{
	for (size_t i = 0; i < n; i++) {
		const struct vb_name *nm = (const void *)((const uint8_t *)recs +
							  i * size + name_off);

		if (strncmp(nm->s, "__", 2) == 0)
			continue;
		vb_buf_printf(b, "%s%s", b->len ? ", " : "", nm->s);
	}
	if (b->len == 0)
		vb_buf_addstr(b, "none");
}

int vb_log_open(struct vb_log *l, struct vb_err *e)
{
	struct vb_buf names = VB_BUF_INIT;
	struct vb_topic_info *topics = NULL;
	struct vb_stream_info *streams = NULL;
	struct vb_stream_info si;
	size_t n;
	int found, rc = -1;

	if (lookup(l, &found, e))
		return -1;
	if (found)
		return l->nparts ?
			       0 :
			       vb_err_set(e, VB_E_STATE,
					  "topic %s/%s has no partitions",
					  l->stream.name.s, l->topic.name.s);
	if (vb_client_get_stream(l->c, &l->stream, &si, &found, e))
		return -1;
	if (!found) {
		if (vb_client_get_streams(l->c, &streams, &n, e) == 0) {
			names_of(&names, streams, n, sizeof(*streams),
				 offsetof(struct vb_stream_info, name));
			rc = vb_err_set(
				e, VB_E_USAGE,
				"stream %s does not exist (streams: %s; vibes-topic create -s %s %s makes it)",
				l->stream.name.s, (char *)names.p,
				l->stream.name.s, l->topic.name.s);
		}
		goto out;
	}
	if (vb_client_get_topics(l->c, &l->stream, &topics, &n, e) == 0) {
		names_of(&names, topics, n, sizeof(*topics),
			 offsetof(struct vb_topic_info, name));
		rc = vb_err_set(
			e, VB_E_USAGE,
			"topic %s/%s does not exist (topics of stream %s: %s; vibes-topic create%s%s %s makes it)",
			l->stream.name.s, l->topic.name.s, l->stream.name.s,
			(char *)names.p,
			strcmp(l->stream.name.s, VB_LOG_STREAM) ? " -s " : "",
			strcmp(l->stream.name.s, VB_LOG_STREAM) ?
				l->stream.name.s :
				"",
			l->topic.name.s);
	}
out:
	free(topics);
	free(streams);
	vb_buf_release(&names);
	return rc;
}

uint32_t vb_log_key_partition(const void *key, size_t len, uint32_t nparts)
{
	return nparts ? vb_xxh32(key, len) % nparts : 0;
}

int vb_log_who(struct vb_consumer *who, int group, const char *name,
	       struct vb_err *e)
{
	memset(who, 0, sizeof(*who));
	who->kind = group ? VB_CONSUMER_GROUP : VB_CONSUMER;
	if (vb_ident_str(&who->id, name))
		return vb_err_set(e, VB_E_USAGE,
				  "%s name '%s': must be 1 to 255 bytes",
				  group ? "group" : "consumer", name);
	return 0;
}

int vb_pos_parse(const char *s, int allow_committed, struct vb_pos *pos,
		 struct vb_err *e)
{
	memset(pos, 0, sizeof(*pos));
	if (strcmp(s, "beginning") == 0 || strcmp(s, "begin") == 0 ||
	    strcmp(s, "start") == 0) {
		pos->kind = VB_POS_BEGINNING;
		return 0;
	}
	if (strcmp(s, "end") == 0) {
		pos->kind = VB_POS_END;
		return 0;
	}
	if (strcmp(s, "committed") == 0 && allow_committed) {
		pos->kind = VB_POS_COMMITTED;
		return 0;
	}
	if (s[0] == '@') {
		pos->kind = VB_POS_TIME;
		return vb_parse_timestamp(s + 1, &pos->n, e);
	}
	if (s[0] == '-') {
		pos->kind = VB_POS_BACK;
		if (vb_parse_u64(s + 1, 0, INT64_MAX, &pos->n, e) == 0)
			return 0;
	} else if (s[0] >= '0' && s[0] <= '9') {
		pos->kind = VB_POS_OFFSET;
		if (vb_parse_u64(s, 0, INT64_MAX, &pos->n, e) == 0)
			return 0;
	}
	return vb_err_set(
		e, VB_E_USAGE,
		"invalid position '%s' (use beginning, end%s, N, -N or @TIMESTAMP)",
		s, allow_committed ? ", committed" : "");
}

static struct vb_partition_info *part_info(struct vb_log *l, uint32_t p,
					   struct vb_err *e)
{
	if (p >= l->nparts) {
		vb_err_set(e, VB_E_USAGE,
			   "partition %u does not exist (topic %s/%s has %u)",
			   p, l->stream.name.s, l->topic.name.s, l->nparts);
		return NULL;
	}
	return &l->parts[p];
}

static void poll_req(struct vb_req *r, const struct vb_log *l,
		     const struct vb_consumer *who, int has_part, uint32_t p,
		     uint8_t strategy, uint64_t value, uint32_t count)
{
	vb_req_init(r, VB_CMD_POLL_MESSAGES);
	r->consumer = *who;
	r->stream = l->stream;
	r->topic = l->topic;
	r->part.present = (uint8_t)has_part;
	r->part.id = has_part ? p : 0;
	r->strategy = strategy;
	r->value = value;
	r->count = count;
	r->flag = 0;
}

int vb_log_resolve(struct vb_log *l, const struct vb_consumer *who, uint32_t p,
		   const struct vb_pos *pos, uint64_t committed,
		   int back_from_end, uint64_t *next, struct vb_err *e)
{
	struct vb_partition_info *pi = part_info(l, p, e);
	uint64_t end, base;
	struct vb_poll_hdr h;
	struct vb_rd rd;
	struct vb_req r;
	struct vb_msg m;

	if (pi == NULL)
		return -1;
	end = vb_log_part_end(pi);
	switch (pos->kind) {
	case VB_POS_COMMITTED:
		*next = committed;
		break;
	case VB_POS_BEGINNING:
		*next = 0;
		break;
	case VB_POS_END:
		*next = end;
		break;
	case VB_POS_OFFSET:
		*next = pos->n;
		break;
	case VB_POS_BACK:
		base = back_from_end ? end : committed;
		*next = base > pos->n ? base - pos->n : 0;
		break;
	case VB_POS_TIME:
		*next = end;
		if (end == 0)
			break;
		poll_req(&r, l, who, 1, p, VB_POLL_TIMESTAMP, pos->n, 1);
		if (vb_client_poll(l->c, &r, &h, &rd, e))
			return -1;
		switch (vb_wire_dec_msg(&rd, &m, e)) {
		case 1:
			*next = m.offset;
			break;
		case 0:
			break;
		default:
			return -1;
		}
		if (h.current_offset + 1 > end &&
		    !(h.current_offset == 0 && h.count == 0))
			end = h.current_offset + 1;
		break;
	}
	if (*next > end)
		*next = end;
	return 0;
}

int vb_log_committed(struct vb_log *l, const struct vb_consumer *who,
		     uint32_t p, uint64_t *next, int *has, struct vb_err *e)
{
	struct vb_offset_info o;
	int found;

	if (vb_client_get_offset(l->c, who, &l->stream, &l->topic, p, &o,
				 &found, e))
		return -1;
	*has = found;
	*next = found ? o.stored_offset + 1 : 0;
	return 0;
}

int vb_log_commit(struct vb_log *l, const struct vb_consumer *who, uint32_t p,
		  uint64_t next, struct vb_err *e)
{
	if (next == 0) {
		if (vb_client_delete_offset(l->c, who, &l->stream, &l->topic, p,
					    e) == 0)
			return 0;
		if (e->kind == VB_E_SERVER &&
		    e->status == VB_ST_CONSUMER_OFFSET_NOT_FOUND)
			return 0;
		return -1;
	}
	return vb_client_store_offset(l->c, who, &l->stream, &l->topic, p,
				      next - 1, e);
}

int vb_log_commit_moves(struct vb_log *l, const struct vb_consumer *who,
			const struct vb_start *s, const uint64_t *next,
			const uint8_t *moved, struct vb_err *e)
{
	uint8_t *zero = vb_xcalloc(l->nparts ? l->nparts : 1, 1);
	int any = 0, rc = -1;

	for (uint32_t p = 0; p < l->nparts; p++) {
		if (!moved[p])
			continue;
		if (vb_log_commit(l, who, p, next[p], e)) {
			vb_err_prefix(e, "partition %u", p);
			goto out;
		}
		if (next[p] == 0)
			any = zero[p] = 1;
	}
	if (!s->known)
		rc = vb_log_record_start(l, who, 0, next, NULL, e);
	else if (any)
		rc = vb_log_record_start(l, who, 1, next, zero, e);
	else
		rc = 0;
out:
	free(zero);
	return rc;
}

void vb_group_members_release(struct vb_group_members *gm)
{
	free(gm->ids);
	free(gm->owner);
	memset(gm, 0, sizeof(*gm));
}

int vb_log_group_members(struct vb_log *l, const struct vb_consumer *who,
			 struct vb_group_members *gm, struct vb_err *e)
{
	struct vb_group_info g;
	struct vb_req r;
	struct vb_rd rd;
	const uint8_t *p;
	size_t n;

	memset(gm, 0, sizeof(*gm));
	gm->nparts = l->nparts;
	gm->owner = vb_xreallocarray(NULL, l->nparts ? l->nparts : 1,
				     sizeof(*gm->owner));
	for (uint32_t i = 0; i < l->nparts; i++)
		gm->owner[i] = VB_NO_MEMBER;
	vb_req_init(&r, VB_CMD_GET_CONSUMER_GROUP);
	r.stream = l->stream;
	r.topic = l->topic;
	r.target = who->id;
	if (vb_client_call(l->c, &r, &p, &n, e))
		return -1;
	if (n == 0)
		return 0;
	vb_rd_init(&rd, p, n);
	if (vb_wire_dec_group(&rd, &g, e))
		return -1;
	gm->found = 1;
	gm->ids = vb_xreallocarray(NULL, g.members_count ? g.members_count : 1,
				   sizeof(*gm->ids));
	for (uint32_t i = 0; i < g.members_count; i++) {
		struct vb_member_info m;

		if (vb_wire_dec_member(&rd, &m, e))
			return -1;
		gm->ids[gm->n++] = m.id;
		for (uint32_t k = 0; k < m.partitions_count; k++) {
			uint32_t part = vb_member_part(&m, k);

			if (part < gm->nparts)
				gm->owner[part] = m.id;
		}
	}
	return 0;
}

int vb_log_delete(struct vb_log *l, const struct vb_consumer *who,
		  struct vb_err *e)
{
	if (who->kind == VB_CONSUMER_GROUP) {
		if (vb_client_delete_group(l->c, &l->stream, &l->topic,
					   &who->id, e) == 0)
			return vb_log_record_delete(l, who, e);
		if (e->kind == VB_E_SERVER &&
		    e->status == VB_ST_CONSUMER_GROUP_ID_NOT_FOUND)
			return vb_err_set(e, VB_E_USAGE,
					  "group '%s' does not exist in %s/%s",
					  who->id.name.s, l->stream.name.s,
					  l->topic.name.s);
		return -1;
	}
	for (uint32_t p = 0; p < l->nparts; p++)
		if (vb_log_commit(l, who, p, 0, e)) {
			vb_err_prefix(e, "partition %u", p);
			return -1;
		}
	return vb_log_record_delete(l, who, e);
}

int vb_log_group_exists(struct vb_log *l, const struct vb_consumer *who,
			int *found, struct vb_err *e)
{
	struct vb_group_members gm;
	int rc = vb_log_group_members(l, who, &gm, e);

	*found = gm.found;
	vb_group_members_release(&gm);
	return rc;
}

int vb_log_group_join(struct vb_log *l, const struct vb_consumer *who,
		      struct vb_err *e)
{
	struct vb_group_info g;

	if (vb_client_join_group(l->c, &l->stream, &l->topic, &who->id, e) == 0)
		return 0;
	if (!(e->kind == VB_E_SERVER &&
	      e->status == VB_ST_CONSUMER_GROUP_ID_NOT_FOUND))
		return -1;
	if (vb_client_create_group(l->c, &l->stream, &l->topic, who->id.name.s,
				   &g, e) &&
	    !(e->kind == VB_E_SERVER &&
	      e->status == VB_ST_CONSUMER_GROUP_NAME_ALREADY_EXISTS))
		return -1;
	return vb_client_join_group(l->c, &l->stream, &l->topic, &who->id, e);
}

int vb_log_group_leave(struct vb_log *l, const struct vb_consumer *who,
		       struct vb_err *e)
{
	return vb_client_leave_group(l->c, &l->stream, &l->topic, &who->id, e);
}

static int lag_rows(struct vb_log *l, const struct vb_consumer *who,
		    struct vb_lag_row *rows, struct vb_err *e)
{
	struct vb_start s;
	int rc = -1;

	if (vb_log_starts(l, who, &s, e))
		return -1;
	for (uint32_t p = 0; p < l->nparts; p++) {
		struct vb_lag_row *r = &rows[p];
		const struct vb_partition_info *pi = &l->parts[p];

		memset(r, 0, sizeof(*r));
		r->partition = p;
		r->empty = vb_log_part_empty(pi);
		r->hwm = pi->current_offset;
		r->end = vb_log_part_end(pi);
		if (vb_log_committed(l, who, p, &r->next, &r->has_committed, e))
			goto out;
		r->committed = r->has_committed ? r->next - 1 : 0;
		/* nothing committed: it reads first where it began */
		if (!r->has_committed && p < s.n && s.set[p])
			r->next = s.next[p];
		r->lag = r->end > r->next ? r->end - r->next : 0;
	}
	rc = 0;
out:
	vb_start_release(&s);
	return rc;
}

int vb_log_lag(struct vb_log *l, const struct vb_consumer *who,
	       struct vb_lag_row *rows, struct vb_err *e)
{
	if (who->kind == VB_CONSUMER_GROUP) {
		int found;

		if (vb_log_group_exists(l, who, &found, e))
			return -1;
		if (!found)
			return vb_err_set(
				e, VB_E_STATE,
				"consumer group '%s' does not exist in %s/%s",
				who->id.name.s, l->stream.name.s,
				l->topic.name.s);
	}
	if (vb_log_refresh(l, e))
		return -1;
	return lag_rows(l, who, rows, e);
}

int vb_log_seek(struct vb_log *l, const struct vb_consumer *who, long part,
		const struct vb_pos *pos, struct vb_lag_row *rows,
		struct vb_err *e)
{
	int group = who->kind == VB_CONSUMER_GROUP, rc = -1;
	struct vb_start s = { 0 };
	uint64_t *next = NULL;
	uint8_t *moved = NULL;
	struct vb_err e2;

	if (part >= 0 && (uint64_t)part >= l->nparts)
		return vb_err_set(
			e, VB_E_USAGE,
			"partition %ld does not exist (topic %s/%s has %u)",
			part, l->stream.name.s, l->topic.name.s, l->nparts);
	if (group && vb_log_group_join(l, who, e))
		return -1;
	if (vb_log_refresh(l, e) || vb_log_starts(l, who, &s, e))
		goto out;
	next = vb_xcalloc(l->nparts, sizeof(*next));
	moved = vb_xcalloc(l->nparts, 1);
	for (uint32_t p = 0; p < l->nparts; p++) {
		uint64_t cur;
		int has;

		if (vb_log_committed(l, who, p, &cur, &has, e))
			goto out;
		if (!has && s.known && s.set[p])
			cur = s.next[p]; /* where it would read */
		next[p] = cur;
		if (part >= 0 && p != (uint32_t)part)
			continue;
		if (vb_log_resolve(l, who, p, pos, cur, 0, &next[p], e))
			goto out;
		moved[p] = next[p] != cur || (!has && next[p] > 0);
	}
	if (vb_log_commit_moves(l, who, &s, next, moved, e)) {
		if (e->kind == VB_E_SERVER &&
		    e->status == VB_ST_NOT_RESOLVED_CONSUMER)
			vb_err_prefix(
				e,
				"a partition is assigned to another running member of group '%s'",
				who->id.name.s);
		goto out;
	}
	if (vb_log_refresh(l, e) || lag_rows(l, who, rows, e))
		goto out;
	rc = 0;
out:
	vb_start_release(&s);
	free(next);
	free(moved);
	if (group && vb_log_group_leave(l, who, &e2) && rc == 0) {
		*e = e2;
		rc = -1;
	}
	return rc;
}
