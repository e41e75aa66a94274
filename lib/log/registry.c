/*
 * registry.c - where a consumer with nothing committed starts, kept in
 * the server (log.h, "the registry").
 *
 * Iggy stores, per consumer and partition, the offset of the last event
 * processed; "nothing stored" cannot tell a consumer that never ran from
 * one that started at the end of a partition that was empty then.  So
 * vibes keeps a registry: a topic VB_LOG_REGISTRY_TOPIC of the log's
 * stream, one partition, one JSON message per record:
 *
 *   {"v":1,"op":"new","kind":"consumer","name":"alerts","topic":"events",
 *    "start":{"0":12,"1":0,...},"at":1733050000000000}
 *
 * "start" maps partitions to the next offset to read when nothing is
 * committed there.  The first "new" record of a consumer is where it
 * began; a later "move" record (a seek to where no offset can be stored:
 * the beginning) overrides the partitions it names.  Only messages are
 * used, so it works on an upstream server too, and anyone can read it
 * (vibes-poll -t __vibes_consumers).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "log/log-int.h"
#include "wire/status.h"
#include "base/banned.h"

#define SCAN 4096

void vb_start_release(struct vb_start *s)
{
	free(s->next);
	free(s->set);
	memset(s, 0, sizeof(*s));
}

static int registry_ident(struct vb_ident *t)
{
	return vb_ident_str(t, VB_LOG_REGISTRY_TOPIC);
}

/* Applies one record's "start" to s (over what is there, or not). */
static void apply(struct vb_start *s, json_t *start, int override)
{
	const char *key;
	json_t *v;

	json_object_foreach(start, key, v) {
		char *end;
		unsigned long p = strtoul(key, &end, 10);

		if (*end || end == key || p >= s->n || !json_is_integer(v) ||
		    json_integer_value(v) < 0)
			continue; /* not ours to judge: skip it */
		if (override || !s->set[p]) {
			s->next[p] = (uint64_t)json_integer_value(v);
			s->set[p] = 1;
		}
	}
}

static int kind_is(json_t *o, const char *field, const char *want)
{
	json_t *v = json_object_get(o, field);

	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/*
 * Calls fn for every record of the registry, in order; records that are
 * not JSON objects are passed over (anyone may write to the topic).
 */
static int scan(struct vb_log *l, void (*fn)(void *arg, json_t *o), void *arg,
		struct vb_err *e)
{
	struct vb_ident topic;
	struct vb_topic_info t;
	struct vb_consumer me;
	uint64_t at = 0;
	int found;

	registry_ident(&topic);
	if (vb_client_get_topic(l->c, &l->stream, &topic, &t, NULL, 0, &found,
				e))
		return -1;
	if (!found || t.messages_count == 0)
		return 0;
	vb_log_who(&me, 0, "vibes-registry", NULL);
	for (;;) {
		struct vb_req q;
		struct vb_poll_hdr h;
		struct vb_msgs rd;
		struct vb_msg m;
		uint64_t next = at;
		int r;

		vb_req_init(&q, VB_CMD_POLL_MESSAGES);
		q.consumer = me;
		q.stream = l->stream;
		q.topic = topic;
		q.part.present = 1;
		q.part.id = 0;
		q.strategy = VB_POLL_OFFSET;
		q.value = at;
		q.count = SCAN;
		if (vb_client_poll_msgs(l->c, &q, &h, &rd, e))
			return -1;
		while ((r = vb_msgs_next(&rd, &m, e)) == 1) {
			json_t *o = json_loadb((const char *)m.payload,
					       m.payload_len, 0, NULL);

			next = m.offset + 1;
			if (json_is_object(o))
				fn(arg, o);
			json_decref(o);
		}
		if (r < 0)
			return -1;
		if (next == at)
			return 0;
		at = next;
	}
}

/* A record about who (kind, name, topic of the log)? */
static int about(const struct vb_log *l, const struct vb_consumer *who,
		 json_t *o)
{
	return kind_is(o, "kind",
		       who->kind == VB_CONSUMER_GROUP ? "group" : "consumer") &&
	       kind_is(o, "name", who->id.name.s) &&
	       kind_is(o, "topic", l->topic.name.s);
}

struct starts_scan {
	const struct vb_log *l;
	const struct vb_consumer *who;
	struct vb_start *s;
};

static void starts_one(void *arg, json_t *o)
{
	struct starts_scan *ss = arg;
	json_t *start = json_object_get(o, "start");
	int move = kind_is(o, "op", "move");

	if (about(ss->l, ss->who, o) && kind_is(o, "op", "delete")) {
		/* deleted: what comes after starts it anew */
		ss->s->known = 0;
		memset(ss->s->next, 0, ss->s->n * sizeof(*ss->s->next));
		memset(ss->s->set, 0, ss->s->n * sizeof(*ss->s->set));
		return;
	}
	if (!about(ss->l, ss->who, o) || !json_is_object(start) ||
	    !(move || kind_is(o, "op", "new")))
		return;
	if (move || !ss->s->known)
		apply(ss->s, start, move);
	ss->s->known = 1;
}

int vb_log_starts(struct vb_log *l, const struct vb_consumer *who,
		  struct vb_start *s, struct vb_err *e)
{
	struct starts_scan ss = { l, who, s };

	memset(s, 0, sizeof(*s));
	s->n = l->nparts;
	s->next = vb_xcalloc(s->n ? s->n : 1, sizeof(*s->next));
	s->set = vb_xcalloc(s->n ? s->n : 1, sizeof(*s->set));
	return scan(l, starts_one, &ss, e);
}

struct members_scan {
	const struct vb_log *l;
	const struct vb_consumer *who;
	struct vb_member_reg *regs;
	size_t n, cap;
};

static void copy_str(json_t *o, const char *field, char *out, size_t size)
{
	json_t *v = json_object_get(o, field);

	out[0] = 0;
	if (json_is_string(v))
		strlcpy(out, json_string_value(v), size);
}

static void members_one(void *arg, json_t *o)
{
	struct members_scan *ms = arg;
	json_t *id = json_object_get(o, "member");
	struct vb_member_reg *m = NULL;
	uint32_t mid;

	if (!about(ms->l, ms->who, o) || !kind_is(o, "op", "member") ||
	    !json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_integer_value(id) > UINT32_MAX)
		return;
	mid = (uint32_t)json_integer_value(id);
	for (size_t i = 0; i < ms->n && !m; i++)
		if (ms->regs[i].member == mid)
			m = &ms->regs[i]; /* the latest record wins */
	if (m == NULL) {
		VB_ALLOC_GROW(ms->regs, ms->n + 1, ms->cap);
		m = &ms->regs[ms->n++];
	}
	memset(m, 0, sizeof(*m));
	m->member = mid;
	m->pid = json_is_integer(json_object_get(o, "pid")) ?
			 (long)json_integer_value(json_object_get(o, "pid")) :
			 0;
	copy_str(o, "host", m->host, sizeof(m->host));
	copy_str(o, "address", m->address, sizeof(m->address));
}

int vb_log_member_regs(struct vb_log *l, const struct vb_consumer *who,
		       struct vb_member_reg **regs, size_t *n, struct vb_err *e)
{
	struct members_scan ms = { l, who, NULL, 0, 0 };
	int rc = scan(l, members_one, &ms, e);

	*regs = ms.regs;
	*n = ms.n;
	return rc;
}

/* Appends one record to the registry (creating its topic on first use). */
static int append(struct vb_log *l, json_t *o, struct vb_err *e)
{
	struct vb_ident topic;
	struct vb_topic_info t;
	struct vb_send_hdr h;
	struct vb_msg_in m;
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int found, rc = -1;

	json_decref(o);
	if (text == NULL)
		return vb_err_set(e, VB_E_STATE,
				  "registry: cannot encode a record");
	registry_ident(&topic);
	if (vb_client_get_topic(l->c, &l->stream, &topic, &t, NULL, 0, &found,
				e))
		goto out;
	if (!found &&
	    vb_client_create_topic(l->c, &l->stream, VB_LOG_REGISTRY_TOPIC, 1,
				   &t, e) &&
	    !(e->kind == VB_E_SERVER &&
	      e->status == VB_ST_TOPIC_NAME_ALREADY_EXISTS))
		goto out;
	memset(&h, 0, sizeof(h));
	h.stream = l->stream;
	h.topic = topic;
	h.part_kind = VB_PART_ID;
	h.partition_id = 0;
	memset(&m, 0, sizeof(m));
	m.origin_timestamp = vb_wall_us();
	m.payload = text;
	m.payload_len = (uint32_t)strlen(text);
	rc = vb_client_send(l->c, &h, &m, 1, e);
out:
	if (rc)
		vb_err_prefix(e, "registry %s/%s", l->stream.name.s,
			      VB_LOG_REGISTRY_TOPIC);
	free(text);
	return rc;
}

static const char *kind_name(const struct vb_consumer *who)
{
	return who->kind == VB_CONSUMER_GROUP ? "group" : "consumer";
}

int vb_log_record_delete(struct vb_log *l, const struct vb_consumer *who,
			 struct vb_err *e)
{
	return append(l,
		      json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "v", 1, "op",
				"delete", "kind", kind_name(who), "name",
				who->id.name.s, "topic", l->topic.name.s, "at",
				(json_int_t)vb_wall_us()),
		      e);
}

struct list_scan {
	const struct vb_log *l;
	struct vb_registered *regs;
	size_t n, cap;
};

static void list_one(void *arg, json_t *o)
{
	struct list_scan *ls = arg;
	json_t *name = json_object_get(o, "name");
	int group = kind_is(o, "kind", "group");
	struct vb_registered *r = NULL;

	if (!kind_is(o, "topic", ls->l->topic.name.s) ||
	    !json_is_string(name) ||
	    !(group || kind_is(o, "kind", "consumer")) ||
	    strlen(json_string_value(name)) > VB_NAME_MAX)
		return;
	for (size_t i = 0; i < ls->n && !r; i++)
		if (ls->regs[i].group == group &&
		    strcmp(ls->regs[i].name, json_string_value(name)) == 0)
			r = &ls->regs[i];
	if (r == NULL) {
		VB_ALLOC_GROW(ls->regs, ls->n + 1, ls->cap);
		r = &ls->regs[ls->n++];
		memset(r, 0, sizeof(*r));
		r->group = group;
		strlcpy(r->name, json_string_value(name), sizeof(r->name));
	}
	r->deleted = kind_is(o, "op", "delete");
}

int vb_log_registered(struct vb_log *l, struct vb_registered **regs, size_t *n,
		      struct vb_err *e)
{
	struct list_scan ls = { l, NULL, 0, 0 };
	size_t k = 0;
	int rc = scan(l, list_one, &ls, e);

	for (size_t i = 0; i < ls.n; i++)
		if (!ls.regs[i].deleted)
			ls.regs[k++] = ls.regs[i];
	*regs = ls.regs;
	*n = k;
	return rc;
}

int vb_log_record_member(struct vb_log *l, const struct vb_consumer *who,
			 uint32_t member, struct vb_err *e)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	return append(l,
		      json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I}",
				"v", 1, "op", "member", "kind", kind_name(who),
				"name", who->id.name.s, "topic",
				l->topic.name.s, "member", (json_int_t)member,
				"pid", (json_int_t)getpid(), "host", host,
				"address", l->c->local, "at",
				(json_int_t)vb_wall_us()),
		      e);
}

int vb_log_record_start(struct vb_log *l, const struct vb_consumer *who,
			int move, const uint64_t *next, const uint8_t *mask,
			struct vb_err *e)
{
	json_t *start = json_object();

	for (uint32_t p = 0; p < l->nparts; p++) {
		char key[16];

		if (mask && !mask[p])
			continue;
		snprintf(key, sizeof(key), "%u", p);
		json_object_set_new(start, key,
				    json_integer((json_int_t)next[p]));
	}
	return append(l,
		      json_pack("{s:i,s:s,s:s,s:s,s:s,s:o,s:I}", "v", 1, "op",
				move ? "move" : "new", "kind", kind_name(who),
				"name", who->id.name.s, "topic",
				l->topic.name.s, "start", start, "at",
				(json_int_t)vb_wall_us()),
		      e);
}
