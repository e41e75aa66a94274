/*
 * Streams, topics and partitions: id slabs, the metadata file, their
 * commands (control.md §5.3-§5.5) and retention (messages.md §7.4).
 *
 * A metadata command validates, makes its change, saves the metadata file
 * (durably unless --fsync never) and keeps the change only if the save
 * worked: otherwise it undoes it and answers 13000, so memory never holds
 * what the disk does not (nothing runs between the change and its save).
 * Directories a change needs are made, and synced with their parents,
 * before the metadata that names them; files a change deletes go after.
 * A command that removes or resets partitions first runs the commit point
 * (vb_broker_commit_all), so that nothing of them is pending.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "broker/broker.h"
#include "base/banned.h"

#define META_MAGIC "VBMETA01"

/* ---- slabs ---- */

uint32_t vb_slab_insert(struct vb_slab *s, void *v)
{
	uint32_t id;

	if (s->nfree > 0) {
		id = s->free[--s->nfree];
	} else {
		id = s->n;
		s->v = vb_xreallocarray(s->v, (size_t)s->n + 1, sizeof(*s->v));
		s->n++;
	}
	s->v[id] = v;
	return id;
}

void vb_slab_put(struct vb_slab *s, uint32_t id, void *v)
{
	if (id >= s->n) {
		s->v = vb_xreallocarray(s->v, (size_t)id + 1, sizeof(*s->v));
		for (uint32_t i = s->n; i <= id; i++)
			s->v[i] = NULL;
		s->n = id + 1;
	}
	s->v[id] = v;
}

void *vb_slab_get(const struct vb_slab *s, uint32_t id)
{
	return id < s->n ? s->v[id] : NULL;
}

uint32_t vb_slab_count(const struct vb_slab *s)
{
	uint32_t cnt = 0;

	for (uint32_t i = 0; i < s->n; i++)
		cnt += s->v[i] != NULL;
	return cnt;
}

void vb_slab_remove(struct vb_slab *s, uint32_t id)
{
	if (id >= s->n || s->v[id] == NULL)
		return;
	s->v[id] = NULL;
	VB_ALLOC_GROW(s->free, s->nfree + 1, s->free_cap);
	s->free[s->nfree++] = id;
}

void vb_slab_unremove(struct vb_slab *s, uint32_t id, void *v)
{
	if (s->nfree > 0 && s->free[s->nfree - 1] == id)
		s->nfree--;
	s->v[id] = v;
}

void vb_slab_fill_free(struct vb_slab *s)
{
	s->nfree = 0;
	for (uint32_t i = s->n; i-- > 0;) {
		if (s->v[i] != NULL)
			continue;
		VB_ALLOC_GROW(s->free, s->nfree + 1, s->free_cap);
		s->free[s->nfree++] = i;
	}
}

void vb_slab_release(struct vb_slab *s)
{
	free(s->v);
	free(s->free);
	memset(s, 0, sizeof(*s));
}

/* ---- lookups ---- */

static int name_eq(const struct vb_name *a, const struct vb_name *b)
{
	return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

struct vb_stream *vb_find_stream(struct vb_broker *b, const struct vb_ident *id)
{
	if (id->kind == VB_ID_NUM)
		return vb_slab_get(&b->streams, id->num);
	for (uint32_t i = 0; i < b->streams.n; i++) {
		struct vb_stream *s = b->streams.v[i];

		if (s && name_eq(&s->name, &id->name))
			return s;
	}
	return NULL;
}

struct vb_topic *vb_find_topic(struct vb_stream *s, const struct vb_ident *id)
{
	if (s == NULL)
		return NULL;
	if (id->kind == VB_ID_NUM)
		return vb_slab_get(&s->topics, id->num);
	for (uint32_t i = 0; i < s->topics.n; i++) {
		struct vb_topic *t = s->topics.v[i];

		if (t && name_eq(&t->name, &id->name))
			return t;
	}
	return NULL;
}

void vb_topic_stats(const struct vb_topic *t, uint64_t *msgs, uint64_t *bytes)
{
	*msgs = *bytes = 0;
	for (uint32_t i = 0; i < t->nparts; i++) {
		*msgs += t->parts[i]->msgs;
		*bytes += t->parts[i]->bytes;
	}
}

/* ---- paths ---- */

static const char *stream_dir(struct vb_broker *b, uint32_t sid,
			      struct vb_buf *out)
{
	return vb_path_fmt(out, "%s/streams/%u", b->dir, sid);
}

static const char *topic_dir(struct vb_broker *b, uint32_t sid, uint32_t tid,
			     struct vb_buf *out)
{
	return vb_path_fmt(out, "%s/streams/%u/topics/%u", b->dir, sid, tid);
}

static const char *part_dir(struct vb_broker *b, uint32_t sid, uint32_t tid,
			    uint32_t pid, struct vb_buf *out)
{
	return vb_path_fmt(out, "%s/streams/%u/topics/%u/partitions/%u", b->dir,
			   sid, tid, pid);
}

/* ---- the metadata file ---- */

static void enc_str8(struct vb_buf *b, const char *s, size_t n)
{
	vb_buf_u8(b, (uint8_t)n);
	vb_buf_add(b, s, n);
}

/* The metadata file's bytes for what memory holds. */
static void meta_encode(struct vb_broker *b, struct vb_buf *m)
{
	size_t at;

	vb_buf_reset(m);
	vb_buf_add(m, META_MAGIC, 8);
	vb_buf_u32(m, vb_slab_count(&b->streams));
	for (uint32_t i = 0; i < b->streams.n; i++) {
		struct vb_stream *s = b->streams.v[i];

		if (s == NULL)
			continue;
		vb_buf_u32(m, s->id);
		vb_buf_u64(m, s->created_at);
		vb_wire_enc_name(m, &s->name);
		vb_buf_u32(m, vb_slab_count(&s->topics));
		for (uint32_t j = 0; j < s->topics.n; j++) {
			struct vb_topic *t = s->topics.v[j];

			if (t == NULL)
				continue;
			vb_buf_u32(m, t->id);
			vb_buf_u64(m, t->created_at);
			vb_buf_u8(m, t->compression);
			vb_buf_u64(m, t->message_expiry);
			vb_buf_u64(m, t->max_topic_size);
			vb_buf_u8(m, t->rf);
			vb_wire_enc_name(m, &t->name);
			vb_buf_u32(m, t->nparts);
			for (uint32_t k = 0; k < t->nparts; k++)
				vb_buf_u64(m, t->parts[k]->created_at);
			vb_buf_u32(m, vb_slab_count(&t->groups));
			for (uint32_t k = 0; k < t->groups.n; k++) {
				struct vb_group *g = t->groups.v[k];

				if (g == NULL)
					continue;
				vb_buf_u32(m, g->id);
				vb_wire_enc_name(m, &g->name);
			}
		}
	}
	vb_buf_u32(m, vb_slab_count(&b->users));
	for (uint32_t i = 0; i < b->users.n; i++) {
		struct vb_user *u = b->users.v[i];

		if (u == NULL)
			continue;
		vb_buf_u32(m, u->id);
		vb_buf_u64(m, u->created_at);
		vb_buf_u8(m, u->status);
		vb_wire_enc_name(m, &u->name);
		enc_str8(m, u->pwhash, strlen(u->pwhash));
		vb_buf_u8(m, u->perms != NULL);
		vb_buf_u32(m, u->perms_len);
		vb_buf_add(m, u->perms, u->perms_len);
		vb_buf_u32(m, u->npats);
		for (uint32_t k = 0; k < u->npats; k++) {
			vb_wire_enc_name(m, &u->pats[k].name);
			vb_buf_u64(m, u->pats[k].expiry_at);
			vb_buf_add(m, u->pats[k].hash, 32);
		}
	}
	at = m->len;
	vb_buf_u64(m, XXH3_64bits(m->p, at));
}

int vb_meta_save(struct vb_broker *b, struct vb_err *e)
{
	struct vb_buf path = VB_BUF_INIT;
	int rc;

	meta_encode(b, &b->tmp);
	/*
	 * Synced in every mode, never included: a replaced file whose rename
	 * reached the disk (with any later fsync of the data dir, the clean
	 * file's at a shutdown) before its data would be empty after a power
	 * loss, and a server that cannot read its metadata does not start.
	 * Changes to it are rare; --fsync never is about messages.
	 */
	rc = vb_path_replace(vb_path_fmt(&path, "%s/metadata", b->dir),
			     b->tmp.p, b->tmp.len, 0600, 1, e);
	vb_buf_release(&path);
	return rc;
}

/* fsync of dir/name (name NULL: of dir). */
static int sync_dir(const char *dir, const char *name, struct vb_err *e)
{
	struct vb_buf d = VB_BUF_INIT;
	int rc;

	rc = vb_path_fsync_dir(name ? vb_path_fmt(&d, "%s/%s", dir, name) : dir,
			       e);
	vb_buf_release(&d);
	return rc;
}

int vb_meta_sync_dirs(struct vb_broker *b, struct vb_err *e)
{
	struct vb_buf d = VB_BUF_INIT;
	int rc = 0;

	for (uint32_t si = 0; si < b->streams.n && rc == 0; si++) {
		struct vb_stream *s = b->streams.v[si];

		if (s == NULL)
			continue;
		for (uint32_t ti = 0; ti < s->topics.n && rc == 0; ti++) {
			if (s->topics.v[ti] == NULL)
				continue;
			topic_dir(b, s->id, ti, &d);
			if (sync_dir((char *)d.p, "partitions", e) < 0 ||
			    sync_dir((char *)d.p, NULL, e) < 0)
				rc = -1;
		}
		stream_dir(b, s->id, &d);
		if (rc == 0 && (sync_dir((char *)d.p, "topics", e) < 0 ||
				sync_dir((char *)d.p, NULL, e) < 0))
			rc = -1;
	}
	if (rc == 0 && (sync_dir(b->dir, "streams", e) < 0 ||
			sync_dir(b->dir, NULL, e) < 0))
		rc = -1;
	vb_buf_release(&d);
	return rc;
}

void vb_meta_restore(struct vb_broker *b)
{
	struct vb_buf path = VB_BUF_INIT, now = VB_BUF_INIT;
	struct vb_err e;

	meta_encode(b, &b->tmp);
	vb_path_fmt(&path, "%s/metadata", b->dir);
	if (vb_read_file((char *)path.p, &now, 1u << 30, &e) < 0 &&
	    e.sys != ENOENT)
		vb_broker_log(b, "metadata: %s", e.msg);
	if ((now.len != b->tmp.len ||
	     memcmp(now.p, b->tmp.p, b->tmp.len) != 0) &&
	    vb_meta_save(b, &e) < 0)
		vb_broker_log(b,
			      "metadata shows a change that failed and "
			      "cannot be put back yet: %s",
			      e.msg);
	vb_buf_release(&path);
	vb_buf_release(&now);
}

/*
 * A directory made for a stream, topic or partition: it and each parent
 * up to the data dir synced (unless --fsync never), so that a crash keeps
 * the entries the metadata names.
 */
static int sync_up(struct vb_broker *b, const char *path, struct vb_err *e)
{
	struct vb_buf d = VB_BUF_INIT;
	size_t root = strlen(b->dir);
	int rc = 0;

	if (b->sync.mode == VB_FSYNC_NEVER)
		return 0;
	vb_buf_addstr(&d, path);
	while (rc == 0) {
		char *slash;

		rc = vb_path_fsync_dir((char *)d.p, e);
		slash = strrchr((char *)d.p, '/');
		if (d.len <= root || slash == NULL ||
		    (size_t)(slash - (char *)d.p) < root)
			break;
		*slash = 0;
		d.len = (size_t)(slash - (char *)d.p);
	}
	vb_buf_release(&d);
	return rc;
}

static int load_part(struct vb_broker *b, struct vb_topic *t, uint32_t pid,
		     uint64_t created, int create, struct vb_err *e)
{
	struct vb_buf dir = VB_BUF_INIT;
	int rc;

	t->parts = vb_xreallocarray(t->parts, (size_t)pid + 1,
				    sizeof(*t->parts));
	rc = vb_part_open(&t->parts[pid], &b->store,
			  part_dir(b, t->stream->id, t->id, pid, &dir), pid,
			  created, create, e);
	vb_buf_release(&dir);
	if (rc < 0)
		return -1;
	t->nparts = pid + 1;
	return 0;
}

static int rd_str8(struct vb_rd *r, char *out, size_t outsz, struct vb_err *e)
{
	uint8_t len;
	const uint8_t *p;

	if (vb_rd_u8(r, &len, "string", e) ||
	    vb_rd_bytes(r, &p, len, "string", e))
		return -1;
	if ((size_t)len >= outsz)
		return vb_err_set(e, VB_E_DATA, "string too long");
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

static int load_topic(struct vb_broker *b, struct vb_stream *s, struct vb_rd *r,
		      struct vb_err *e)
{
	struct vb_topic *t = vb_xcalloc(1, sizeof(*t));
	uint32_t np, ng;

	t->stream = s;
	if (vb_rd_u32(r, &t->id, "topic id", e) ||
	    vb_rd_u64(r, &t->created_at, "topic created", e) ||
	    vb_rd_u8(r, &t->compression, "compression", e) ||
	    vb_rd_u64(r, &t->message_expiry, "expiry", e) ||
	    vb_rd_u64(r, &t->max_topic_size, "max size", e) ||
	    vb_rd_u8(r, &t->rf, "rf", e) ||
	    vb_wire_dec_name(r, &t->name, "topic name", e) ||
	    vb_rd_u32(r, &np, "partitions", e)) {
		free(t);
		return -1;
	}
	vb_slab_put(&s->topics, t->id, t);
	for (uint32_t k = 0; k < np; k++) {
		uint64_t created;

		if (vb_rd_u64(r, &created, "partition created", e) ||
		    load_part(b, t, k, created, 1, e) < 0)
			return -1;
	}
	if (vb_rd_u32(r, &ng, "groups", e))
		return -1;
	for (uint32_t k = 0; k < ng; k++) {
		struct vb_group *g = vb_xcalloc(1, sizeof(*g));

		g->topic = t;
		if (vb_rd_u32(r, &g->id, "group id", e) ||
		    vb_wire_dec_name(r, &g->name, "group name", e)) {
			free(g);
			return -1;
		}
		vb_slab_put(&t->groups, g->id, g);
	}
	vb_slab_fill_free(&t->groups);
	return 0;
}

static int load_user(struct vb_broker *b, struct vb_rd *r, struct vb_err *e)
{
	struct vb_user *u = vb_xcalloc(1, sizeof(*u));
	const uint8_t *pp;
	uint8_t has;

	if (vb_rd_u32(r, &u->id, "user id", e) ||
	    vb_rd_u64(r, &u->created_at, "user created", e) ||
	    vb_rd_u8(r, &u->status, "user status", e) ||
	    vb_wire_dec_name(r, &u->name, "username", e) ||
	    rd_str8(r, u->pwhash, sizeof(u->pwhash), e) ||
	    vb_rd_u8(r, &has, "has perms", e) ||
	    vb_rd_u32(r, &u->perms_len, "perms len", e) ||
	    vb_rd_bytes(r, &pp, u->perms_len, "perms", e) ||
	    vb_rd_u32(r, &u->npats, "pats", e)) {
		free(u);
		return -1;
	}
	if (has) {
		u->perms = vb_xmalloc(u->perms_len ? u->perms_len : 1);
		memcpy(u->perms, pp, u->perms_len);
	} else {
		u->perms_len = 0;
	}
	vb_slab_put(&b->users, u->id, u);
	if (u->npats > vb_rd_left(r) / 41) {
		u->npats = 0;
		return vb_err_set(e, VB_E_DATA, "token count");
	}
	u->pats = vb_xcalloc(u->npats ? u->npats : 1, sizeof(*u->pats));
	for (uint32_t k = 0; k < u->npats; k++) {
		if (vb_wire_dec_name(r, &u->pats[k].name, "pat", e) ||
		    vb_rd_u64(r, &u->pats[k].expiry_at, "pat expiry", e) ||
		    vb_rd_bytes(r, &pp, 32, "pat hash", e))
			return -1;
		memcpy(u->pats[k].hash, pp, 32);
	}
	return 0;
}

int vb_meta_load(struct vb_broker *b, struct vb_err *e)
{
	struct vb_buf m = VB_BUF_INIT, pb = VB_BUF_INIT;
	const char *path = vb_path_fmt(&pb, "%s/metadata", b->dir);
	struct vb_rd r;
	uint32_t ns, nu;
	int rc = -1;

	if (vb_read_file(path, &m, 1u << 30, e) < 0) {
		if (e->sys == ENOENT)
			rc = 0;
		goto out;
	}
	if (m.len < 16 || memcmp(m.p, META_MAGIC, 8) != 0 ||
	    vb_ld64(m.p + m.len - 8) != XXH3_64bits(m.p, m.len - 8)) {
		vb_err_set(e, VB_E_DATA, "%s: corrupt (bad magic or checksum)",
			   path);
		goto out;
	}
	vb_rd_init(&r, m.p + 8, m.len - 16);
	if (vb_rd_u32(&r, &ns, "streams", e))
		goto fail;
	for (uint32_t i = 0; i < ns; i++) {
		struct vb_stream *s = vb_xcalloc(1, sizeof(*s));
		uint32_t nt;

		if (vb_rd_u32(&r, &s->id, "stream id", e) ||
		    vb_rd_u64(&r, &s->created_at, "stream created", e) ||
		    vb_wire_dec_name(&r, &s->name, "stream name", e) ||
		    vb_rd_u32(&r, &nt, "topics", e)) {
			free(s);
			goto fail;
		}
		vb_slab_put(&b->streams, s->id, s);
		for (uint32_t j = 0; j < nt; j++)
			if (load_topic(b, s, &r, e) < 0)
				goto fail;
		vb_slab_fill_free(&s->topics);
	}
	vb_slab_fill_free(&b->streams);
	if (vb_rd_u32(&r, &nu, "users", e))
		goto fail;
	for (uint32_t i = 0; i < nu; i++)
		if (load_user(b, &r, e) < 0)
			goto fail;
	vb_slab_fill_free(&b->users);
	rc = 0;
fail:
	if (rc < 0)
		vb_err_prefix(e, "%s", path);
out:
	vb_buf_release(&m);
	vb_buf_release(&pb);
	return rc;
}

int vb_meta_save_or_fail(struct vb_broker *b, struct vb_conn *c)
{
	struct vb_err e;

	if (vb_meta_save(b, &e) == 0)
		return 0;
	vb_broker_log(b, "cannot save metadata: %s", e.msg);
	vb_reply_err(c, VB_ST_IO_ERROR);
	return -1;
}

/* ---- records ---- */

static void enc_stream(struct vb_buf *o, const struct vb_stream *s)
{
	struct vb_stream_info si;

	memset(&si, 0, sizeof(si));
	si.id = s->id;
	si.created_at = s->created_at;
	si.name = s->name;
	for (uint32_t i = 0; i < s->topics.n; i++) {
		struct vb_topic *t = s->topics.v[i];
		uint64_t msgs, bytes;

		if (t == NULL)
			continue;
		si.topics_count++;
		vb_topic_stats(t, &msgs, &bytes);
		si.messages_count += msgs;
		si.size_bytes += bytes;
	}
	vb_wire_enc_stream(o, &si);
}

static void enc_topic(struct vb_buf *o, const struct vb_topic *t, int parts)
{
	struct vb_topic_info ti;

	memset(&ti, 0, sizeof(ti));
	ti.id = t->id;
	ti.created_at = t->created_at;
	ti.partitions_count = t->nparts;
	ti.message_expiry = t->message_expiry;
	ti.compression = t->compression;
	ti.max_topic_size = t->max_topic_size;
	ti.replication_factor = t->rf;
	ti.name = t->name;
	vb_topic_stats(t, &ti.messages_count, &ti.size_bytes);
	vb_wire_enc_topic(o, &ti);
	for (uint32_t i = 0; parts && i < t->nparts; i++) {
		const struct vb_part *p = t->parts[i];
		struct vb_partition_info pi;

		pi.id = p->id;
		pi.created_at = p->created_at;
		pi.segments_count = (uint32_t)p->nsegs;
		pi.current_offset = vb_part_current(p);
		pi.size_bytes = p->bytes;
		pi.messages_count = p->msgs;
		vb_wire_enc_partition(o, &pi);
	}
}

/* ---- streams ---- */

static void free_topic(struct vb_broker *b, struct vb_topic *t, int files)
{
	struct vb_err e;

	for (uint32_t gi = 0; gi < t->groups.n; gi++)
		vb_group_free(vb_slab_get(&t->groups, gi));
	vb_slab_release(&t->groups);
	for (uint32_t i = 0; i < t->nparts; i++)
		vb_part_free(t->parts[i]);
	free(t->parts);
	if (files) {
		struct vb_buf dir = VB_BUF_INIT;

		if (vb_rmtree(topic_dir(b, t->stream->id, t->id, &dir), &e) < 0)
			vb_broker_log(b, "%s", e.msg);
		vb_buf_release(&dir);
	}
	free(t);
}

static void stream_create(struct vb_broker *b, struct vb_conn *c,
			  const struct vb_req *r)
{
	struct vb_ident id;
	struct vb_stream *s;
	struct vb_buf dir = VB_BUF_INIT;
	struct vb_err e;
	size_t m;

	if (!vb_allowed(b, c, VB_P_MANAGE_STREAMS, 0, 0)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	id.kind = VB_ID_STR;
	id.name = r->name;
	if (vb_find_stream(b, &id)) {
		vb_reply_err(c, VB_ST_STREAM_NAME_ALREADY_EXISTS);
		return;
	}
	s = vb_xcalloc(1, sizeof(*s));
	s->name = r->name;
	s->created_at = vb_wall_us();
	s->id = vb_slab_insert(&b->streams, s);
	stream_dir(b, s->id, &dir);
	if (vb_rmtree((char *)dir.p, &e) < 0 ||
	    vb_path_mkdir_p((char *)dir.p, 0700, &e) < 0 ||
	    sync_up(b, (char *)dir.p, &e) < 0) {
		vb_broker_log(b, "create stream: %s", e.msg);
		vb_slab_remove(&b->streams, s->id);
		free(s);
		vb_reply_err(c, VB_ST_IO_ERROR);
		vb_rmtree((char *)dir.p, NULL);
		vb_buf_release(&dir);
		return;
	}
	if (vb_meta_save_or_fail(b, c) < 0) {
		vb_slab_remove(&b->streams, s->id);
		free(s);
		vb_rmtree((char *)dir.p, NULL);
		vb_buf_release(&dir);
		vb_meta_restore(b);
		return;
	}
	vb_buf_release(&dir);
	m = vb_wire_resp_begin(&c->out);
	enc_stream(&c->out, s);
	vb_wire_resp_end(&c->out, m);
}

/* Called after vb_broker_commit_all: nothing of t is pending. */
static int purge_topic(struct vb_broker *b, struct vb_topic *t)
{
	struct vb_err e;

	for (uint32_t i = 0; i < t->nparts; i++) {
		if (vb_part_purge(t->parts[i], &e) < 0) {
			vb_broker_log(b, "purge: %s", e.msg);
			return -1;
		}
	}
	for (uint32_t i = 0; i < t->groups.n; i++)
		if (t->groups.v[i])
			vb_group_purged(t->groups.v[i]);
	return 0;
}

void vb_cmd_streams(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r)
{
	struct vb_stream *s;
	struct vb_err e;
	size_t m;

	if (r->code == VB_CMD_CREATE_STREAM) {
		stream_create(b, c, r);
		return;
	}
	if (r->code == VB_CMD_GET_STREAMS) {
		m = vb_wire_resp_begin(&c->out);
		for (uint32_t i = 0; i < b->streams.n; i++) {
			s = b->streams.v[i];
			if (s && vb_allowed(b, c, VB_P_READ_STREAM, s->id, 0))
				enc_stream(&c->out, s);
		}
		vb_wire_resp_end(&c->out, m);
		return;
	}
	s = vb_find_stream(b, &r->stream);
	if (r->code == VB_CMD_GET_STREAM) {
		if (s == NULL) {
			vb_reply_ok(c);
			return;
		}
		if (!vb_allowed(b, c, VB_P_READ_STREAM, s->id, 0)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		enc_stream(&c->out, s);
		for (uint32_t i = 0; i < s->topics.n; i++)
			if (s->topics.v[i])
				enc_topic(&c->out, s->topics.v[i], 0);
		vb_wire_resp_end(&c->out, m);
		return;
	}
	if (s == NULL) {
		vb_reply_err(c, VB_ST_STREAM_ID_NOT_FOUND);
		return;
	}
	if (!vb_allowed(b, c, VB_P_MANAGE_STREAM, s->id, 0)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	/* Nothing of its partitions may be pending when they go. */
	if (r->code != VB_CMD_UPDATE_STREAM)
		vb_broker_commit_all(b);
	switch (r->code) {
	case VB_CMD_UPDATE_STREAM: {
		struct vb_ident id;
		struct vb_stream *o;
		struct vb_name old = s->name;

		id.kind = VB_ID_STR;
		id.name = r->name;
		o = vb_find_stream(b, &id);
		if (o && o != s) {
			vb_reply_err(c, VB_ST_STREAM_NAME_ALREADY_EXISTS);
			return;
		}
		s->name = r->name;
		if (vb_meta_save_or_fail(b, c) < 0) {
			s->name = old;
			vb_meta_restore(b);
			return;
		}
		break;
	}
	case VB_CMD_DELETE_STREAM: {
		struct vb_buf dir = VB_BUF_INIT;

		vb_slab_remove(&b->streams, s->id);
		if (vb_meta_save_or_fail(b, c) < 0) {
			vb_slab_unremove(&b->streams, s->id, s);
			vb_meta_restore(b);
			return;
		}
		for (uint32_t i = 0; i < s->topics.n; i++)
			if (s->topics.v[i])
				free_topic(b, s->topics.v[i], 0);
		vb_slab_release(&s->topics);
		if (vb_rmtree(stream_dir(b, s->id, &dir), &e) < 0)
			vb_broker_log(b, "delete stream: %s", e.msg);
		vb_buf_release(&dir);
		free(s);
		break;
	}
	case VB_CMD_PURGE_STREAM:
		for (uint32_t i = 0; i < s->topics.n; i++) {
			if (s->topics.v[i] && purge_topic(b, s->topics.v[i])) {
				vb_reply_err(c, VB_ST_IO_ERROR);
				return;
			}
		}
		break;
	}
	vb_reply_ok(c);
}

/* ---- topics ---- */

static void topic_create(struct vb_broker *b, struct vb_conn *c,
			 struct vb_stream *s, const struct vb_req *r)
{
	struct vb_ident id;
	struct vb_topic *t;
	struct vb_buf dir = VB_BUF_INIT;
	struct vb_err e;
	uint64_t now = vb_wall_us();
	size_t m;
	int rc;

	if (!vb_allowed(b, c, VB_P_MANAGE_TOPICS, s->id, 0)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	if (r->max_topic_size != 0 && r->max_topic_size != UINT64_MAX &&
	    r->max_topic_size < b->store.segment_size) {
		vb_reply_err(c, VB_ST_INVALID_TOPIC_SIZE);
		return;
	}
	id.kind = VB_ID_STR;
	id.name = r->name;
	if (vb_find_topic(s, &id)) {
		vb_reply_err(c, VB_ST_TOPIC_NAME_ALREADY_EXISTS);
		return;
	}
	t = vb_xcalloc(1, sizeof(*t));
	t->stream = s;
	t->name = r->name;
	t->created_at = now;
	t->compression = r->compression;
	t->message_expiry = r->message_expiry ? r->message_expiry : UINT64_MAX;
	t->max_topic_size = r->max_topic_size ? r->max_topic_size : UINT64_MAX;
	t->rf = r->replication_factor ? r->replication_factor : 1;
	t->id = vb_slab_insert(&s->topics, t);
	rc = vb_rmtree(topic_dir(b, s->id, t->id, &dir), &e);
	if (rc < 0)
		goto fail;
	for (uint32_t i = 0; i < r->count; i++)
		if (load_part(b, t, i, now, 1, &e) < 0)
			goto fail;
	vb_buf_addstr(&dir, "/partitions");
	if (vb_path_mkdir_p((char *)dir.p, 0700, &e) < 0 ||
	    sync_up(b, (char *)dir.p, &e) < 0)
		goto fail;
	vb_buf_release(&dir);
	if (vb_meta_save_or_fail(b, c) < 0) {
		vb_slab_remove(&s->topics, t->id);
		free_topic(b, t, 1);
		vb_meta_restore(b);
		return;
	}
	m = vb_wire_resp_begin(&c->out);
	enc_topic(&c->out, t, 1);
	vb_wire_resp_end(&c->out, m);
	return;
fail:
	vb_buf_release(&dir);
	vb_broker_log(b, "create topic: %s", e.msg);
	vb_slab_remove(&s->topics, t->id);
	free_topic(b, t, 1);
	vb_reply_err(c, VB_ST_IO_ERROR);
}

void vb_cmd_topics(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r)
{
	struct vb_stream *s;
	struct vb_topic *t;
	size_t m;

	if (r->code == VB_CMD_CREATE_TOPIC) {
		if (r->count > 1000) {
			vb_reply_err(c, VB_ST_TOO_MANY_PARTITIONS);
			return;
		}
	}
	if ((r->code == VB_CMD_CREATE_TOPIC ||
	     r->code == VB_CMD_UPDATE_TOPIC) &&
	    r->compression != VB_COMPRESSION_NONE &&
	    r->compression != VB_COMPRESSION_GZIP) {
		vb_reply_err(c, VB_ST_INVALID_COMMAND);
		return;
	}
	s = vb_find_stream(b, &r->stream);
	if (r->code == VB_CMD_GET_TOPICS) {
		if (s && !vb_allowed(b, c, VB_P_READ_STREAM, s->id, 0)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		for (uint32_t i = 0; s && i < s->topics.n; i++)
			if (s->topics.v[i])
				enc_topic(&c->out, s->topics.v[i], 0);
		vb_wire_resp_end(&c->out, m);
		return;
	}
	if (r->code == VB_CMD_GET_TOPIC) {
		t = vb_find_topic(s, &r->topic);
		if (t == NULL) {
			vb_reply_ok(c);
			return;
		}
		if (!vb_allowed(b, c, VB_P_READ_TOPIC, s->id, t->id)) {
			vb_reply_err(c, VB_ST_UNAUTHORIZED);
			return;
		}
		m = vb_wire_resp_begin(&c->out);
		enc_topic(&c->out, t, 1);
		vb_wire_resp_end(&c->out, m);
		return;
	}
	if (s == NULL) {
		vb_reply_err(c, VB_ST_STREAM_ID_NOT_FOUND);
		return;
	}
	if (r->code == VB_CMD_CREATE_TOPIC) {
		topic_create(b, c, s, r);
		return;
	}
	t = vb_find_topic(s, &r->topic);
	if (t == NULL) {
		vb_reply_err(c, VB_ST_TOPIC_ID_NOT_FOUND);
		return;
	}
	if (!vb_allowed(b, c, VB_P_MANAGE_TOPIC, s->id, t->id)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	/* Nothing of its partitions may be pending when they go. */
	if (r->code != VB_CMD_UPDATE_TOPIC)
		vb_broker_commit_all(b);
	switch (r->code) {
	case VB_CMD_UPDATE_TOPIC: {
		struct vb_ident id;
		struct vb_topic *o, old = *t;

		id.kind = VB_ID_STR;
		id.name = r->name;
		o = vb_find_topic(s, &id);
		if (o && o != t) {
			vb_reply_err(c, VB_ST_TOPIC_NAME_ALREADY_EXISTS);
			return;
		}
		t->name = r->name;
		t->compression = r->compression;
		t->message_expiry = r->message_expiry;
		t->max_topic_size = r->max_topic_size;
		t->rf = r->replication_factor;
		if (vb_meta_save_or_fail(b, c) < 0) {
			t->name = old.name;
			t->compression = old.compression;
			t->message_expiry = old.message_expiry;
			t->max_topic_size = old.max_topic_size;
			t->rf = old.rf;
			vb_meta_restore(b);
			return;
		}
		break;
	}
	case VB_CMD_DELETE_TOPIC:
		vb_slab_remove(&s->topics, t->id);
		if (vb_meta_save_or_fail(b, c) < 0) {
			vb_slab_unremove(&s->topics, t->id, t);
			vb_meta_restore(b);
			return;
		}
		free_topic(b, t, 1);
		break;
	case VB_CMD_PURGE_TOPIC:
		if (purge_topic(b, t) < 0) {
			vb_reply_err(c, VB_ST_IO_ERROR);
			return;
		}
		break;
	}
	vb_reply_ok(c);
}

/* ---- partitions and segments ---- */

/* The groups share the topic's partitions anew. */
static void partitions_changed(struct vb_topic *t)
{
	if (t->rr >= t->nparts)
		t->rr = 0;
	for (uint32_t gi = 0; gi < t->groups.n; gi++)
		if (t->groups.v[gi])
			vb_group_rebalance(t->groups.v[gi]);
}

/* Deletes the partitions from `from` on (made for a change that failed). */
static void partitions_drop(struct vb_broker *b, struct vb_topic *t,
			    uint32_t from)
{
	struct vb_err e;

	while (t->nparts > from)
		if (vb_part_destroy(t->parts[--t->nparts], &e) < 0)
			vb_broker_log(b, "create partitions: %s", e.msg);
}

static void partitions_create(struct vb_broker *b, struct vb_conn *c,
			      struct vb_topic *t, uint32_t count)
{
	uint64_t now = vb_wall_us();
	uint32_t base = t->nparts;
	struct vb_buf dir = VB_BUF_INIT;
	struct vb_err e;
	int rc = 0;

	for (uint32_t i = 0; i < count && rc == 0; i++)
		rc = vb_rmtree(part_dir(b, t->stream->id, t->id, base + i,
					&dir),
			       &e) < 0 ||
				     load_part(b, t, base + i, now, 1, &e) < 0 ?
			     -1 :
			     0;
	if (rc == 0) {
		vb_path_fmt(&dir, "%s/streams/%u/topics/%u/partitions", b->dir,
			    t->stream->id, t->id);
		rc = sync_up(b, (char *)dir.p, &e);
	}
	vb_buf_release(&dir);
	if (rc < 0) {
		vb_broker_log(b, "create partitions: %s", e.msg);
		partitions_drop(b, t, base);
		vb_reply_err(c, VB_ST_IO_ERROR);
		return;
	}
	if (vb_meta_save_or_fail(b, c) < 0) {
		partitions_drop(b, t, base);
		vb_meta_restore(b);
		return;
	}
	partitions_changed(t);
	vb_reply_ok(c);
}

void vb_cmd_partitions(struct vb_broker *b, struct vb_conn *c,
		       const struct vb_req *r)
{
	struct vb_stream *s;
	struct vb_topic *t;
	struct vb_err e;

	if (r->code != VB_CMD_DELETE_SEGMENTS &&
	    (r->count == 0 ||
	     (r->code == VB_CMD_CREATE_PARTITIONS && r->count > 1000))) {
		vb_reply_err(c, VB_ST_TOO_MANY_PARTITIONS);
		return;
	}
	s = vb_find_stream(b, &r->stream);
	if (s == NULL) {
		vb_reply_err(c, VB_ST_STREAM_ID_NOT_FOUND);
		return;
	}
	t = vb_find_topic(s, &r->topic);
	if (t == NULL) {
		vb_reply_err(c, VB_ST_TOPIC_ID_NOT_FOUND);
		return;
	}
	if (!vb_allowed(b, c, VB_P_MANAGE_TOPIC, s->id, t->id)) {
		vb_reply_err(c, VB_ST_UNAUTHORIZED);
		return;
	}
	switch (r->code) {
	case VB_CMD_CREATE_PARTITIONS:
		partitions_create(b, c, t, r->count);
		return;
	case VB_CMD_DELETE_PARTITIONS:
		if (r->count > t->nparts) {
			vb_reply_err(c, VB_ST_INVALID_PARTITIONS_COUNT);
			return;
		}
		vb_broker_commit_all(b);
		t->nparts -= r->count;
		if (vb_meta_save_or_fail(b, c) < 0) {
			t->nparts += r->count;
			vb_meta_restore(b);
			return;
		}
		for (uint32_t i = 0; i < r->count; i++) {
			struct vb_part *p = t->parts[t->nparts + i];

			if (vb_part_destroy(p, &e) < 0)
				vb_broker_log(b, "delete partition: %s", e.msg);
		}
		partitions_changed(t);
		break;
	case VB_CMD_DELETE_SEGMENTS:
		if (r->partition_id >= t->nparts) {
			vb_reply_err(c, VB_ST_PARTITION_NOT_FOUND);
			return;
		}
		vb_broker_commit_all(b);
		if (vb_part_delete_segments(t->parts[r->partition_id], r->count,
					    &e) < 0) {
			vb_broker_log(b, "delete segments: %s", e.msg);
			vb_reply_err(c, VB_ST_IO_ERROR);
			return;
		}
		break;
	}
	vb_reply_ok(c);
}

/* ---- retention ---- */

/* arg: the time now, in µs. */
static void retention_topic(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	uint64_t now = *(const uint64_t *)arg;
	struct vb_err e;
	uint64_t msgs, bytes;

	if (t->message_expiry != 0 && t->message_expiry != UINT64_MAX) {
		for (uint32_t i = 0; i < t->nparts; i++) {
			int rc;

			while ((rc = vb_part_trim_oldest(t->parts[i], now,
							 t->message_expiry, 0,
							 &e)) == 1)
				;
			if (rc < 0)
				vb_broker_log(b, "retention: %s", e.msg);
		}
	}
	if (t->max_topic_size == 0 || t->max_topic_size == UINT64_MAX)
		return;
	vb_topic_stats(t, &msgs, &bytes);
	while (bytes >= t->max_topic_size / 10 * 9) {
		struct vb_part *oldest = NULL;
		uint64_t ots = UINT64_MAX;

		for (uint32_t i = 0; i < t->nparts; i++) {
			uint64_t ts = vb_part_oldest_sealed_ts(t->parts[i]);

			if (ts && ts < ots) {
				ots = ts;
				oldest = t->parts[i];
			}
		}
		if (oldest == NULL ||
		    vb_part_trim_oldest(oldest, now, 0, 1, &e) != 1)
			break;
		vb_topic_stats(t, &msgs, &bytes);
	}
}

void vb_each_topic(struct vb_broker *b,
		   void (*fn)(struct vb_broker *b, struct vb_topic *t,
			      void *arg),
		   void *arg)
{
	for (uint32_t i = 0; i < b->streams.n; i++) {
		struct vb_stream *s = b->streams.v[i];

		for (uint32_t j = 0; s && j < s->topics.n; j++)
			if (s->topics.v[j])
				fn(b, s->topics.v[j], arg);
	}
}

void vb_broker_retention(struct vb_broker *b)
{
	uint64_t now = vb_wall_us();

	vb_each_topic(b, retention_topic, &now);
}
