/*
 * Consumer groups (control.md §5.7, §6.2).  Members are connections.
 *
 * Assignment is fair and sticky.  After every join, leave, disconnect and
 * partition change, with P partitions and M members, every member's
 * target is P / M, plus one for the P % M members that hold the most
 * (counting partitions on their way to them; ties: slot order), so counts
 * differ by at most one and as few partitions as possible move.  A member
 * keeps what it holds up to its target.  The partitions nobody holds, then
 * the excess of each member above its target (its highest partition ids),
 * go one by one to the member below its target with the fewest (ties: slot
 * order).
 *
 * A partition moving away from a live member moves at once if the group
 * never polled it or has stored an offset at or past the last one polled
 * (control.md §6.2's rule; polls count from when the partition came to its
 * current owner, the only member that can poll it).  Otherwise it stays
 * its owner's, "pending revocation" (the owner may still poll it by id and
 * store offsets for it, its round robin skips it, nobody else gets it),
 * until the group stores such an offset, the topic is purged or the
 * rebalancing timeout passes, so no event is handed to two members.  The
 * partitions of a member that left are free at once: its connection is
 * gone, and what it polled and did not commit is read again by the next
 * owner (at least once).  Upstream 0.8 instead moves at most one partition
 * per idle member on a join and deals everything anew on a leave.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "base/banned.h"

struct vb_group *vb_find_group(struct vb_topic *t, const struct vb_ident *id)
{
	if (t == NULL)
		return NULL;
	if (id->kind == VB_ID_NUM)
		return vb_slab_get(&t->groups, id->num);
	for (uint32_t i = 0; i < t->groups.n; i++) {
		struct vb_group *g = t->groups.v[i];

		if (g && g->name.len == id->name.len &&
		    memcmp(g->name.s, id->name.s, g->name.len) == 0)
			return g;
	}
	return NULL;
}

struct vb_member *vb_group_member(struct vb_group *g, const struct vb_conn *c)
{
	for (uint32_t i = 0; i < g->nm; i++)
		if (g->m[i].conn == c)
			return &g->m[i];
	return NULL;
}

int vb_member_has(const struct vb_member *m, uint32_t part)
{
	for (uint32_t i = 0; i < m->nparts; i++)
		if (m->parts[i] == part)
			return 1;
	return 0;
}

/*
 * Adds part to m's list, kept in ascending order; the round robin goes on
 * from the partition it was at.
 */
static void member_add_part(struct vb_member *m, uint32_t part)
{
	uint32_t i = m->nparts;

	m->parts = vb_xreallocarray(m->parts, (size_t)m->nparts + 1,
				    sizeof(*m->parts));
	for (; i > 0 && m->parts[i - 1] > part; i--)
		m->parts[i] = m->parts[i - 1];
	m->parts[i] = part;
	m->nparts++;
	if (i < m->cursor)
		m->cursor++;
}

static void member_drop_part(struct vb_member *m, uint32_t part)
{
	for (uint32_t i = 0; i < m->nparts; i++) {
		if (m->parts[i] == part) {
			memmove(m->parts + i, m->parts + i + 1,
				(m->nparts - i - 1) * sizeof(*m->parts));
			m->nparts--;
			if (i < m->cursor)
				m->cursor--;
			break;
		}
	}
	if (m->cursor >= m->nparts)
		m->cursor = 0;
}

/* Sizes the per-partition poll marks to the topic; new ones never polled. */
static void polled_resize(struct vb_group *g)
{
	uint32_t np = g->topic->nparts;

	if (np > g->npolled) {
		g->polled = vb_xreallocarray(g->polled, np, sizeof(*g->polled));
		memset(g->polled + g->npolled, 0,
		       (np - g->npolled) * sizeof(*g->polled));
	}
	g->npolled = np;
}

/* Slot of the member with this id, -1 if it left. */
static int32_t member_slot(const struct vb_group *g, uint32_t id)
{
	for (uint32_t i = 0; i < g->nm; i++)
		if (g->m[i].member_id == id)
			return (int32_t)i;
	return -1;
}

int vb_group_revoking(const struct vb_group *g, uint32_t part)
{
	for (uint32_t i = 0; i < g->nrv; i++)
		if (g->rv[i].part == part)
			return 1;
	return 0;
}

/* Moves the partition of revocation i to its new member. */
static void revoke_complete(struct vb_group *g, uint32_t i)
{
	struct vb_revoke r = g->rv[i];
	int32_t from = member_slot(g, r.from_id), to = member_slot(g, r.to_id);

	g->rv[i] = g->rv[--g->nrv];
	if (from < 0 || to < 0)
		return; /* cannot happen: every leave rebalances */
	member_drop_part(&g->m[from], r.part);
	member_add_part(&g->m[to], r.part);
	g->polled[r.part] = 0;
}

/* Can part move now: never polled, or committed up to the last poll? */
static int revoke_done(const struct vb_group *g, uint32_t part)
{
	struct vb_part *p;
	uint64_t stored;

	if (part >= g->npolled || g->polled[part] == 0)
		return 1;
	p = g->topic->parts[part];
	return vb_part_offset_get(p, VB_OFF_GROUP, g->id, &stored) &&
	       stored + 1 >= g->polled[part];
}

void vb_group_purged(struct vb_group *g)
{
	if (g->npolled)
		memset(g->polled, 0, g->npolled * sizeof(*g->polled));
	while (g->nrv > 0)
		revoke_complete(g, g->nrv - 1);
}

/* Joins and rebalances size g->polled to the topic, so no resize here. */
void vb_group_polled(struct vb_group *g, uint32_t part, uint64_t last)
{
	if (part < g->npolled && last + 1 > g->polled[part])
		g->polled[part] = last + 1;
}

void vb_group_stored(struct vb_group *g, uint32_t part)
{
	for (uint32_t i = 0; i < g->nrv; i++) {
		if (g->rv[i].part == part && revoke_done(g, part)) {
			revoke_complete(g, i);
			return;
		}
	}
}

struct tick {
	uint64_t now, lim; /* µs */
};

static void tick_topic(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	const struct tick *k = arg;

	for (uint32_t gi = 0; gi < t->groups.n; gi++) {
		struct vb_group *g = t->groups.v[gi];

		for (uint32_t i = 0; g && i < g->nrv;) {
			if (k->now - g->rv[i].since_us >= k->lim)
				revoke_complete(g, i);
			else
				i++;
		}
	}
}

void vb_groups_tick(struct vb_broker *b)
{
	struct tick k;

	k.lim = (uint64_t)(b->o.rebalance_ms ? b->o.rebalance_ms : 30000) *
		1000u;
	k.now = vb_wall_us();
	vb_each_topic(b, tick_topic, &k);
}

/*
 * Makes want (the member slot each partition is to have: its owner's, or
 * that of the member a pending revocation gives it to; -1 none) fair and
 * sticky as the top of this file says.  cnt[i] counts slot i's in want.
 */
static void assign_fair(const struct vb_group *g, int32_t *want, uint32_t *cnt)
{
	uint32_t np = g->topic->nparts, nm = g->nm, npool = 0;
	uint32_t base = np / nm, extra = np % nm;
	uint32_t *tgt = vb_xcalloc(nm, sizeof(*tgt));
	uint32_t *pool = vb_xcalloc(np + 1, sizeof(*pool));

	for (uint32_t i = 0; i < nm; i++) {
		uint32_t rank = 0;

		for (uint32_t j = 0; j < nm; j++)
			rank += cnt[j] > cnt[i] || (cnt[j] == cnt[i] && j < i);
		tgt[i] = base + (rank < extra);
	}
	for (uint32_t p = 0; p < np; p++)
		if (want[p] < 0)
			pool[npool++] = p;
	for (uint32_t i = 0; i < nm; i++) {
		for (uint32_t p = np; p-- > 0 && cnt[i] > tgt[i];) {
			if (want[p] == (int32_t)i) {
				want[p] = -1;
				cnt[i]--;
				pool[npool++] = p;
			}
		}
	}
	for (uint32_t k = 0; k < npool; k++) {
		int32_t to = -1;

		for (uint32_t i = 0; i < nm; i++)
			if (cnt[i] < tgt[i] && (to < 0 || cnt[i] < cnt[to]))
				to = (int32_t)i;
		want[pool[k]] = to;
		cnt[to]++;
	}
	free(pool);
	free(tgt);
}

void vb_group_rebalance(struct vb_group *g)
{
	uint32_t np = g->topic->nparts, nm = g->nm;
	int32_t *cur = vb_xcalloc(np + 1, sizeof(*cur));
	int32_t *want = vb_xcalloc(np + 1, sizeof(*want));
	uint64_t *since = vb_xcalloc(np + 1, sizeof(*since));
	uint32_t *cnt = vb_xcalloc(nm + 1, sizeof(*cnt));
	uint64_t now = vb_wall_us();

	g->generation++;
	polled_resize(g);
	for (uint32_t p = 0; p < np; p++)
		cur[p] = -1;
	for (uint32_t i = 0; i < nm; i++) {
		struct vb_member *m = &g->m[i];

		for (uint32_t k = m->nparts; k-- > 0;) {
			if (m->parts[k] >= np)
				member_drop_part(m, m->parts[k]);
			else
				cur[m->parts[k]] = (int32_t)i;
		}
	}
	memcpy(want, cur, np * sizeof(*want));
	/*
	 * A pending revocation from a member still here keeps its start;
	 * one to a member that left is cancelled; one from a member that
	 * left leaves the partition free, wanted by its new member.
	 */
	for (uint32_t i = 0; i < g->nrv; i++) {
		const struct vb_revoke *r = &g->rv[i];
		int32_t to = member_slot(g, r->to_id);

		if (r->part >= np)
			continue;
		if (cur[r->part] >= 0)
			since[r->part] = r->since_us;
		if (to >= 0)
			want[r->part] = to;
	}
	g->nrv = 0;
	for (uint32_t p = 0; p < np; p++)
		if (want[p] >= 0)
			cnt[want[p]]++;
	if (nm > 0)
		assign_fair(g, want, cnt);
	for (uint32_t p = 0; p < np && nm > 0; p++) {
		struct vb_revoke *r;

		if (cur[p] < 0) {
			member_add_part(&g->m[want[p]], p);
			g->polled[p] = 0;
			continue;
		}
		if (cur[p] == want[p])
			continue;
		VB_ALLOC_GROW(g->rv, g->nrv + 1, g->rvcap);
		r = &g->rv[g->nrv++];
		r->part = p;
		r->from_id = g->m[cur[p]].member_id;
		r->to_id = g->m[want[p]].member_id;
		r->since_us = since[p] ? since[p] : now;
	}
	for (uint32_t i = 0; i < g->nrv;) {
		if (revoke_done(g, g->rv[i].part))
			revoke_complete(g, i);
		else
			i++;
	}
	free(cnt);
	free(since);
	free(want);
	free(cur);
}

static void conn_add_ref(struct vb_conn *c, const struct vb_group *g)
{
	struct vb_group_ref *r;

	VB_ALLOC_GROW(c->groups, c->ngroups + 1, c->groups_cap);
	r = &c->groups[c->ngroups++];
	r->stream_id = g->topic->stream->id;
	r->topic_id = g->topic->id;
	r->group_id = g->id;
}

static void conn_drop_ref(struct vb_conn *c, const struct vb_group *g)
{
	for (uint32_t i = 0; i < c->ngroups; i++) {
		struct vb_group_ref *r = &c->groups[i];

		if (r->stream_id == g->topic->stream->id &&
		    r->topic_id == g->topic->id && r->group_id == g->id) {
			c->groups[i] = c->groups[--c->ngroups];
			return;
		}
	}
}

/* Removes member i; returns nothing, callers rebalance. */
static void member_remove(struct vb_group *g, uint32_t i)
{
	free(g->m[i].parts);
	memmove(g->m + i, g->m + i + 1, (g->nm - i - 1) * sizeof(*g->m));
	g->nm--;
}

void vb_group_free(struct vb_group *g)
{
	if (g == NULL)
		return;
	while (g->nm > 0) {
		conn_drop_ref(g->m[g->nm - 1].conn, g);
		member_remove(g, g->nm - 1);
	}
	free(g->m);
	free(g->rv);
	free(g->polled);
	free(g);
}

void vb_groups_conn_gone(struct vb_broker *b, struct vb_conn *c)
{
	while (c->ngroups > 0) {
		struct vb_group_ref r = c->groups[c->ngroups - 1];
		struct vb_stream *s = vb_slab_get(&b->streams, r.stream_id);
		struct vb_topic *t = s ? vb_slab_get(&s->topics, r.topic_id) :
					 NULL;
		struct vb_group *g = t ? vb_slab_get(&t->groups, r.group_id) :
					 NULL;

		c->ngroups--;
		if (g == NULL)
			continue;
		for (uint32_t i = 0; i < g->nm; i++) {
			if (g->m[i].conn == c) {
				member_remove(g, i);
				vb_group_rebalance(g);
				break;
			}
		}
	}
}

static void enc_group(struct vb_buf *o, const struct vb_group *g, int members)
{
	struct vb_group_info gi;

	gi.id = g->id;
	gi.partitions_count = g->topic->nparts;
	gi.members_count = g->nm;
	gi.name = g->name;
	vb_wire_enc_group(o, &gi);
	for (uint32_t i = 0; members && i < g->nm; i++)
		vb_wire_enc_member(o, g->m[i].member_id, g->m[i].parts,
				   g->m[i].nparts);
}

static void group_create(struct vb_broker *b, struct vb_conn *c,
			 struct vb_topic *t, const struct vb_req *r)
{
	struct vb_ident id;
	struct vb_group *g;
	size_t m;

	if (!vb_allowed(b, c, VB_P_MANAGE_TOPIC, t->stream->id, t->id)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	id.kind = VB_ID_STR;
	id.name = r->name;
	if (vb_find_group(t, &id)) {
		vb_reply_err(c, VB_ST_CONSUMER_GROUP_NAME_ALREADY_EXISTS);
		return;
	}
	g = vb_xcalloc(1, sizeof(*g));
	g->name = r->name;
	g->topic = t;
	g->id = vb_slab_insert(&t->groups, g);
	if (vb_meta_save_or_fail(b, c) < 0) {
		vb_slab_remove(&t->groups, g->id);
		vb_group_free(g);
		return;
	}
	m = vb_wire_resp_begin(&c->out);
	enc_group(&c->out, g, 1);
	vb_wire_resp_end(&c->out, m);
}

static void group_delete(struct vb_broker *b, struct vb_conn *c,
			 struct vb_topic *t, struct vb_group *g)
{
	struct vb_err e;

	vb_slab_remove(&t->groups, g->id);
	if (vb_meta_save_or_fail(b, c) < 0) {
		vb_slab_put(&t->groups, g->id, g);
		return;
	}
	for (uint32_t i = 0; i < t->nparts; i++)
		if (vb_part_offset_delete(t->parts[i], VB_OFF_GROUP, g->id,
					  &e) < 0)
			vb_broker_log(b, "delete group offsets: %s", e.msg);
	vb_group_free(g);
	vb_reply_ok(c);
}

static void group_join(struct vb_group *g, struct vb_conn *c)
{
	struct vb_member *m;
	uint32_t mid = 0;

	if (vb_group_member(g, c))
		return;
	for (uint32_t i = 0; i < g->nm; i++)
		if (g->m[i].member_id >= mid)
			mid = g->m[i].member_id + 1;
	VB_ALLOC_GROW(g->m, g->nm + 1, g->mcap);
	m = &g->m[g->nm++];
	memset(m, 0, sizeof(*m));
	m->conn = c;
	m->member_id = mid;
	conn_add_ref(c, g);
	vb_group_rebalance(g);
}

void vb_cmd_groups(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r)
{
	struct vb_stream *s = vb_find_stream(b, &r->stream);
	struct vb_topic *t = vb_find_topic(s, &r->topic);
	struct vb_group *g;
	size_t m;

	if (r->code == VB_CMD_GET_CONSUMER_GROUPS ||
	    r->code == VB_CMD_GET_CONSUMER_GROUP) {
		if (t == NULL) {
			vb_reply_ok(c);
			return;
		}
		if (!vb_allowed(b, c, VB_P_READ_TOPIC, s->id, t->id)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		if (r->code == VB_CMD_GET_CONSUMER_GROUP) {
			g = vb_find_group(t, &r->target);
			if (g == NULL) {
				vb_reply_ok(c);
				return;
			}
			m = vb_wire_resp_begin(&c->out);
			enc_group(&c->out, g, 1);
			vb_wire_resp_end(&c->out, m);
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		for (uint32_t i = 0; i < t->groups.n; i++)
			if (t->groups.v[i])
				enc_group(&c->out, t->groups.v[i], 0);
		vb_wire_resp_end(&c->out, m);
		return;
	}
	if (s == NULL) {
		vb_reply_err(c, VB_ST_STREAM_ID_NOT_FOUND);
		return;
	}
	if (t == NULL) {
		vb_reply_err(c, VB_ST_TOPIC_ID_NOT_FOUND);
		return;
	}
	if (r->code == VB_CMD_CREATE_CONSUMER_GROUP) {
		group_create(b, c, t, r);
		return;
	}
	g = vb_find_group(t, &r->target);
	if (g == NULL) {
		vb_reply_err(c, VB_ST_CONSUMER_GROUP_ID_NOT_FOUND);
		return;
	}
	switch (r->code) {
	case VB_CMD_DELETE_CONSUMER_GROUP:
		if (!vb_allowed(b, c, VB_P_MANAGE_TOPIC, s->id, t->id)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		group_delete(b, c, t, g);
		return;
	case VB_CMD_JOIN_CONSUMER_GROUP:
		if (!vb_allowed(b, c, VB_P_READ_TOPIC, s->id, t->id)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		group_join(g, c);
		break;
	case VB_CMD_LEAVE_CONSUMER_GROUP:
		for (uint32_t i = 0; i < g->nm; i++) {
			if (g->m[i].conn == c) {
				conn_drop_ref(c, g);
				member_remove(g, i);
				vb_group_rebalance(g);
				vb_reply_ok(c);
				return;
			}
		}
		vb_reply_err(c, VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND);
		return;
	}
	vb_reply_ok(c);
}
