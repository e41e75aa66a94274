/*
 * broker.h - the bundled Iggy 0.8.0 server (shared/iggy-wire/).
 *
 * One process, one epoll loop on one thread; the only other thread is the
 * store's fsync thread (interval mode).  Connections are non-blocking; a
 * connection keeps its input buffer and frame-decoder progress, so frames
 * split across reads resume where they stopped, and an output queue of
 * memory bytes and file ranges (sent with sendfile) written when the socket
 * is writable.  Every frame length is checked against a limit before any
 * allocation: 64 KiB before login, 10 MiB for control commands, 256 MiB for
 * send_messages.  A frame whose length is impossible gets an error status
 * and the connection is closed; a frame that is well delimited but whose
 * payload is wrong gets its error status and the connection goes on
 * (control.md §1.3).
 *
 * Layout under the data dir:
 *   metadata                      streams, topics, groups, users, tokens
 *   clean                         present only between a clean shutdown
 *                                 and the next start
 *   streams/S/topics/T/partitions/P/   one partition (see store/store.h)
 *
 * Files: loop.c (event loop, connections, framing), dispatch.c (command
 * table, system and client commands), meta.c (streams, topics, partitions,
 * persistence, retention), msgs.c (send, poll, flush, consumer offsets),
 * groups.c (consumer groups), users.c (users, tokens, login, permissions),
 * daemon.c (credentials and server.addr for the daemon's main).
 */
#ifndef VB_BROKER_H
#define VB_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "store/store.h"
#include "wire/wire.h"

#define VB_NO_USER 0xFFFFFFFFu
#define VB_PREAUTH_MAX (64u * 1024)
#define VB_SEND_MAX (256u * 1024 * 1024)
/* Largest poll reply; a poll asking for more gets fewer messages. */
#define VB_POLL_BYTES_MAX (64u * 1024 * 1024)
#define VB_OUT_HIGH (32u * 1024 * 1024)
/* 0.9 replies kept per session for retransmissions (framing.md §9.3). */
#define VB_V09_CACHED 5

struct vb_broker_opts {
	const char *dir;		/* data dir, exists */
	enum vb_fsync_mode fsync;
	unsigned fsync_ms;
	uint64_t segment_size;
	unsigned cleaner_ms;		/* retention check period */
	unsigned rebalance_ms;		/* pending revocation limit; 0: 30 s */
	unsigned heartbeat_ms;		/* 0.9 heartbeat interval; 0: 30 s */
	const char *root_user;
	const char *root_pass;
	/* One log line (no newline); NULL: silent. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
};

/* Ids 0-based with reuse of the most recently freed (control.md §6.1). */
struct vb_slab {
	void **v;
	uint32_t n;		/* slots in use or free, = next new id */
	uint32_t *free;
	uint32_t nfree, free_cap;
};

struct vb_conn;

struct vb_member {
	struct vb_conn *conn;
	uint32_t member_id;
	uint32_t *parts;
	uint32_t nparts;
	uint32_t cursor;	/* next assigned partition to poll */
	uint32_t current;	/* partition of the last group poll */
	int has_current;
};

struct vb_topic;

/* A partition given to another member, still its owner's (groups.c). */
struct vb_revoke {
	uint32_t part;
	uint32_t from_id, to_id;	/* member ids */
	uint64_t since_us;
};

struct vb_group {
	uint32_t id;
	struct vb_name name;
	struct vb_topic *topic;
	struct vb_member *m;
	uint32_t nm, mcap;
	struct vb_revoke *rv;		/* pending revocations */
	uint32_t nrv, rvcap;
	/* per partition: last offset its current owner polled + 1, 0 none */
	uint64_t *polled;
	uint32_t npolled;
	uint64_t generation;	/* 0.9 sync: +1 at every rebalance */
};

struct vb_stream;

struct vb_topic {
	uint32_t id;
	struct vb_name name;
	uint64_t created_at;
	uint8_t compression;
	uint64_t message_expiry;
	uint64_t max_topic_size;
	uint8_t rf;
	struct vb_stream *stream;
	struct vb_part **parts;
	uint32_t nparts;
	uint32_t rr;		/* balanced round robin, per topic */
	struct vb_slab groups;
};

struct vb_stream {
	uint32_t id;
	struct vb_name name;
	uint64_t created_at;
	struct vb_slab topics;
};

struct vb_pat {
	struct vb_name name;
	uint64_t expiry_at;	/* µs epoch; 0 = never */
	uint8_t hash[32];	/* SHA-256 of the token */
};

struct vb_user {
	uint32_t id;
	struct vb_name name;
	uint64_t created_at;
	uint8_t status;		/* 1 active, 2 inactive */
	char pwhash[160];
	/*
	 * The last password that passed the PBKDF2 check, as an HMAC under a
	 * per-process key, and the pwhash it was checked against: a repeated
	 * login (one per vibes-append run from a hook) then costs one HMAC
	 * instead of 4096.  In memory only; stale as soon as pwhash changes.
	 */
	char pwcache_for[160];
	uint8_t pwcache[32];
	uint8_t *perms;		/* NULL: none */
	uint32_t perms_len;
	struct vb_pat *pats;
	uint32_t npats;
};

struct vb_outitem {
	struct vb_file *f;	/* NULL: bytes of conn->out */
	uint64_t off;
	uint64_t len;
};

struct vb_conn {
	int fd;
	uint32_t client_id;
	char addr[64];
	uint32_t user_id;	/* VB_NO_USER when not logged in */
	struct vb_buf in;
	size_t in_pos;
	struct vb_buf out;
	size_t out_pos;		/* bytes of out already sent */
	size_t out_acc;		/* bytes of out already queued as items */
	struct vb_outitem *q;
	size_t qhead, qn, qcap;
	uint64_t pending;	/* bytes queued, not yet sent */
	int closing;		/* close once the output is sent */
	uint32_t events;	/* registered epoll events */
	struct vb_group_ref *groups;
	uint32_t ngroups, groups_cap;
	struct vb_conn *prev, *next;
	/* 0.9 (v09.c); gen is 0 until the first bytes tell (loop.c) */
	unsigned gen;
	int bound;		/* registered: vclient and session hold */
	uint8_t vclient[16];
	uint64_t session;
	uint64_t watermark;	/* highest metadata request applied */
	int64_t seen_ms;	/* last request (monotonic): the heartbeat */
	struct vb_v09_cached {
		uint64_t request;
		uint64_t checksum;
		struct vb_buf reply;
	} cached[VB_V09_CACHED];
	unsigned ncached;
};

struct vb_broker {
	struct vb_broker_opts o;
	char *dir;
	int epfd, lfd, sigfd, timerfd;
	struct vb_syncer sync;
	struct vb_store store;
	struct vb_slab streams;
	struct vb_slab users;
	struct vb_conn *conns;
	uint32_t nconns;
	uint64_t start_time;
	uint64_t cleaned_us;		/* last retention pass */
	int stopping;
	char ip[64];
	uint16_t port;
	uint64_t commit;		/* 0.9: registrations so far (sessions) */
	uint64_t messages_read;
	struct vb_buf tmp;
};

/* ---- lifecycle (loop.c) ---- */

/* Loads metadata, recovers every partition, ensures the root user. */
int vb_broker_open(struct vb_broker **bp, const struct vb_broker_opts *o,
		   struct vb_err *e);
/*
 * Binds host:port (port 0: kernel's choice).  EADDRINUSE gives VB_E_STATE
 * with e->sys set.  Fills b->ip / b->port with the bound address.
 */
int vb_broker_listen(struct vb_broker *b, const char *addr, struct vb_err *e);
/* Runs until SIGTERM or SIGINT (blocked by vb_broker_open). */
int vb_broker_run(struct vb_broker *b, struct vb_err *e);
/* Makes everything durable, marks the shutdown clean, frees everything. */
int vb_broker_close(struct vb_broker *b, struct vb_err *e);

void vb_broker_log(struct vb_broker *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- connections (loop.c) ---- */

/* Moves any new bytes of c->out into the output queue. */
void vb_conn_commit(struct vb_conn *c);
/* Queues a file range after what is queued (takes its own reference). */
void vb_conn_queue_file(struct vb_conn *c, struct vb_file *f, uint64_t off,
			uint64_t len);

/* ---- responses (dispatch.c) ---- */

void vb_reply_ok(struct vb_conn *c);
void vb_reply_err(struct vb_conn *c, uint32_t status);
/* Handles one whole request frame (payload may be modified). */
void vb_broker_dispatch(struct vb_broker *b, struct vb_conn *c, uint32_t code,
			uint8_t *p, size_t n);
/* The same for a decoded request (not send_messages), logged in. */
void vb_broker_dispatch_req(struct vb_broker *b, struct vb_conn *c,
			    const struct vb_req *r);

/* ---- Iggy 0.9 (v09.c) ---- */

/*
 * Handles one whole 0.9 request frame (size bytes, header included; it may
 * be modified) by the 0.8 handlers, its answer rewritten as 0.9's.
 */
void vb_v09_dispatch(struct vb_broker *b, struct vb_conn *c, uint8_t *frame,
		     size_t size);
/* Frees the session's cached replies. */
void vb_v09_conn_free(struct vb_conn *c);
/*
 * The heartbeat (framing.md §10): a session in a consumer group that sent
 * nothing for 1.2 heartbeat intervals leaves its groups and is evicted as
 * a stale client.  1 when c was (its output is queued).
 */
int vb_v09_stale(struct vb_broker *b, struct vb_conn *c, int64_t now_ms);

/* ---- slabs (meta.c) ---- */

uint32_t vb_slab_insert(struct vb_slab *s, void *v);
void vb_slab_put(struct vb_slab *s, uint32_t id, void *v);
void *vb_slab_get(const struct vb_slab *s, uint32_t id);
void vb_slab_remove(struct vb_slab *s, uint32_t id);
/* How many slots hold an entry. */
uint32_t vb_slab_count(const struct vb_slab *s);
/* After loading with _put: every hole becomes free, lowest reused first. */
void vb_slab_fill_free(struct vb_slab *s);
void vb_slab_release(struct vb_slab *s);

/* ---- metadata (meta.c) ---- */

int vb_meta_load(struct vb_broker *b, struct vb_err *e);
int vb_meta_save(struct vb_broker *b, struct vb_err *e);
/* Saves metadata; on failure logs, answers 13000 and returns -1. */
int vb_meta_save_or_fail(struct vb_broker *b, struct vb_conn *c);
struct vb_stream *vb_find_stream(struct vb_broker *b,
				 const struct vb_ident *id);
struct vb_topic *vb_find_topic(struct vb_stream *s, const struct vb_ident *id);
void vb_topic_stats(const struct vb_topic *t, uint64_t *msgs, uint64_t *bytes);
/* Calls fn(b, t, arg) for every topic of every stream. */
void vb_each_topic(struct vb_broker *b,
		   void (*fn)(struct vb_broker *b, struct vb_topic *t,
			      void *arg),
		   void *arg);
void vb_broker_retention(struct vb_broker *b);
/* Command handlers for streams, topics, partitions, segments. */
void vb_cmd_streams(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r);
void vb_cmd_topics(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r);
void vb_cmd_partitions(struct vb_broker *b, struct vb_conn *c,
		       const struct vb_req *r);

/* ---- messages and offsets (msgs.c) ---- */

void vb_cmd_send(struct vb_broker *b, struct vb_conn *c, uint8_t *p,
		 size_t n);
void vb_cmd_poll(struct vb_broker *b, struct vb_conn *c,
		 const struct vb_req *r);
/*
 * What both generations share: a send's partition resolved, permission
 * checked and its messages (0.8 frames, stamped in place) appended, *pid
 * and *base (either may be NULL) the partition and first offset: 0, or
 * -1 after an error reply (0.8).  A poll resolved and read: 1 with the
 * head and the spans of stored 0.8 frames (at most VB_POLL_SPANS), or 0
 * after an answer (an error, an empty head) was written.
 */
#define VB_POLL_SPANS 64
int vb_send_append(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_send_hdr *h, uint8_t *msgs, size_t len,
		   uint32_t count, uint32_t *pid, uint64_t *base);
int vb_poll_spans(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r, struct vb_poll_hdr *h,
		  struct vb_span *sp, size_t *nsp);
void vb_cmd_flush(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r);
void vb_cmd_offsets(struct vb_broker *b, struct vb_conn *c,
		    const struct vb_req *r);
/* Consumer key of a kind-1 consumer identifier (messages.md §5.2). */
uint32_t vb_consumer_key(const struct vb_ident *id);

/* ---- consumer groups (groups.c) ---- */

struct vb_group *vb_find_group(struct vb_topic *t, const struct vb_ident *id);
struct vb_member *vb_group_member(struct vb_group *g, const struct vb_conn *c);
int vb_member_has(const struct vb_member *m, uint32_t part);
/*
 * Fair, sticky reassignment after a join, a leave or a partition change:
 * counts differ by at most one once the pending revocations it starts
 * complete (groups.c says which partitions move, and when).
 */
void vb_group_rebalance(struct vb_group *g);
/* Is part pending revocation from its owner? */
int vb_group_revoking(const struct vb_group *g, uint32_t part);
/* The topic was purged: nothing polled is left, revocations complete. */
void vb_group_purged(struct vb_group *g);
/* The group polled part up to offset last. */
void vb_group_polled(struct vb_group *g, uint32_t part, uint64_t last);
/* The group stored an offset for part: may complete its revocation. */
void vb_group_stored(struct vb_group *g, uint32_t part);
/* Completes revocations older than the rebalancing timeout. */
void vb_groups_tick(struct vb_broker *b);
/* Drops every member (group or topic deleted). */
void vb_group_free(struct vb_group *g);
/* The connection is going away: leaves every group it joined. */
void vb_groups_conn_gone(struct vb_broker *b, struct vb_conn *c);
void vb_cmd_groups(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_req *r);

/* ---- users (users.c) ---- */

enum vb_perm {
	VB_P_READ_SERVERS,
	VB_P_MANAGE_USERS,
	VB_P_READ_USERS,
	VB_P_MANAGE_STREAMS,	/* create streams */
	VB_P_READ_STREAMS,	/* list streams */
	VB_P_MANAGE_STREAM,
	VB_P_READ_STREAM,
	VB_P_MANAGE_TOPICS,	/* create topics in a stream */
	VB_P_MANAGE_TOPIC,
	VB_P_READ_TOPIC,
	VB_P_POLL,
	VB_P_SEND,
};

int vb_allowed(struct vb_broker *b, const struct vb_conn *c, enum vb_perm p,
	       uint32_t stream, uint32_t topic);
/* Creates or updates user 0 (root) with these credentials. */
int vb_users_ensure_root(struct vb_broker *b, const char *name,
			 const char *pass, struct vb_err *e);
void vb_user_free(struct vb_user *u);
int vb_pw_hash(const char *pass, size_t len, char *out, size_t outsz);
int vb_pw_check(const char *pass, size_t len, const char *stored);
/* vb_pw_check against u->pwhash, through the user's verified-login cache. */
int vb_user_pw_ok(struct vb_user *u, const char *pass, size_t len);
void vb_cmd_users(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r);

/* ---- the daemon's environment (daemon.c) ---- */

/*
 * Root credentials: IGGY_ROOT_USERNAME + IGGY_ROOT_PASSWORD if both set,
 * else DIR/credentials if it exists, else "iggy" and a random 24-character
 * password.  DIR/credentials (0600) is rewritten to hold what is in use.
 */
int vb_daemon_credentials(const char *dir, char *user, size_t un, char *pass,
			  size_t pn, struct vb_err *e);
/* DIR/server.addr = "HOST:PORT\n", by temporary file and rename. */
int vb_daemon_write_addr(const char *dir, const char *ip, uint16_t port,
			 struct vb_err *e);

#endif
