/*
 * broker.h - the bundled Iggy 0.8.0 server (shared/iggy-wire/).
 *
 * One process, one epoll loop on one thread; the other threads are the
 * store's fsync thread (interval mode) and the password worker (guard.h).
 * Connections are non-blocking; a connection keeps its input buffer and
 * frame-decoder progress, so frames
 * split across reads resume where they stopped, and an output queue of
 * memory bytes and file ranges (sent with sendfile) written when the socket
 * is writable.  Every frame length is checked against a limit before any
 * allocation: 64 KiB before login, 10 MiB for control commands, 256 MiB for
 * send_messages, and never more than all input may hold (the limits of
 * guard.h).  A frame whose length is impossible gets an error status
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
 * Files: loop.c (event loop, connections), frames.c (the request frame
 * reader, socket-free), dispatch.c (command table, system and client
 * commands), meta.c (streams, topics, partitions, persistence, retention),
 * msgs.c (send, poll, flush, consumer offsets), commit.c (the commit
 * point: held replies, group commit), groups.c (consumer groups), users.c
 * (users, tokens, login, permissions), auth.c (the password worker;
 * guard.h), daemon.c (credentials, server.addr and exit statuses for the
 * daemon), metrics.c (counters, GET /metrics), http.c, http_api.c,
 * http_json.c and jwt.c (the HTTP REST API: http.h), tls.c (TLS on the
 * port: the context, handshakes on the loop, what the log says; the bytes
 * go through net/transport.h).
 */
#ifndef VB_BROKER_H
#define VB_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "broker/frames.h"
#include "broker/guard.h"
#include "broker/http.h"
#include "broker/metrics.h"
#include "net/transport.h"
#include "store/store.h"
#include "wire/wire.h"

#define VB_NO_USER 0xFFFFFFFFu
#define VB_PREAUTH_MAX (64u * 1024)
#define VB_SEND_MAX (256u * 1024 * 1024)
/* Largest poll reply; a poll asking for more gets fewer messages. */
#define VB_POLL_BYTES_MAX (64u * 1024 * 1024)
/* 0.9 replies kept per session for retransmissions (framing.md §9.3). */
#define VB_V09_CACHED 5

struct vb_broker_opts {
	const char *dir; /* data dir, exists */
	enum vb_fsync_mode fsync;
	unsigned fsync_ms;
	uint64_t segment_size;
	/* Sealed segments with open files, bytes of cached index (0: default). */
	unsigned open_segments;
	uint64_t index_cache;
	unsigned cleaner_ms;   /* retention check period */
	unsigned rebalance_ms; /* pending revocation limit; 0: 30 s */
	unsigned heartbeat_ms; /* 0.9 heartbeat interval; 0: 30 s */
	/* Test only (VIBES_TEST_NO_WAIT_POLL): 105/106 answered 3, as upstream. */
	int no_wait_poll;
	const char *root_user;
	const char *root_pass;
	struct vb_limits lim; /* guard.h */
	/* TLS on the port when tls_cert is set (key: tls_key or the same file) */
	const char *tls_cert;
	const char *tls_key;
	/* One log line (no newline); NULL: silent. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
};

/* Ids 0-based with reuse of the most recently freed (control.md §6.1). */
struct vb_slab {
	void **v;
	uint32_t n; /* slots in use or free, = next new id */
	uint32_t *free;
	uint32_t nfree, free_cap;
};

struct vb_conn;

struct vb_member {
	struct vb_conn *conn;
	uint32_t member_id;
	uint32_t *parts;
	uint32_t nparts;
	uint32_t cursor;  /* next assigned partition to poll */
	uint32_t current; /* partition of the last group poll */
	int has_current;
};

struct vb_topic;

/* A partition given to another member, still its owner's (groups.c). */
struct vb_revoke {
	uint32_t part;
	uint32_t from_id, to_id; /* member ids */
	uint64_t since_us;
};

struct vb_group {
	uint32_t id;
	struct vb_name name;
	struct vb_topic *topic;
	struct vb_member *m;
	uint32_t nm, mcap;
	struct vb_revoke *rv; /* pending revocations */
	uint32_t nrv, rvcap;
	/* per partition: last offset its current owner polled + 1, 0 none */
	uint64_t *polled;
	uint32_t npolled;
	uint64_t generation; /* 0.9 sync: +1 at every rebalance */
};

struct vb_stream;

/* TLS on the port (tls.c). */
struct vb_broker_tls {
	struct ssl_ctx_st *ctx;	   /* NULL: plain TCP */
	uint32_t ndefer;	   /* connections with tls_defer set */
	int ktls_said;		   /* the log said whether kTLS is on */
	struct vb_ratelog rl_fail; /* failed handshakes */
};

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
	uint32_t rr; /* balanced round robin, per topic */
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
	uint64_t expiry_at; /* µs epoch; 0 = never */
	uint8_t hash[32];   /* SHA-256 of the token */
};

struct vb_user {
	uint32_t id;
	struct vb_name name;
	uint64_t created_at;
	uint8_t status; /* 1 active, 2 inactive */
	char pwhash[160];
	/*
	 * The last password that passed the PBKDF2 check, as an HMAC under a
	 * per-process key, and the pwhash it was checked against: a repeated
	 * login (one per vibes-append run from a hook) then costs one HMAC
	 * instead of 4096.  In memory only; stale as soon as pwhash changes.
	 */
	char pwcache_for[160];
	uint8_t pwcache[32];
	uint8_t *perms; /* NULL: none */
	uint32_t perms_len;
	struct vb_pat *pats;
	uint32_t npats;
};

struct vb_outitem {
	struct vb_file *f; /* NULL: bytes of conn->out */
	uint64_t off;
	uint64_t len;
};

struct vb_conn {
	int fd;
	struct vb_tr tr; /* its bytes: plain or TLS (tr.fd == fd) */
	int tls_defer;	 /* TLS bytes held, no epoll event for them */
	uint32_t client_id;
	char addr[64];
	char ip[48];	     /* addr without the port */
	uint32_t user_id;    /* VB_NO_USER when not logged in */
	struct vb_frames in; /* request frame reader */
	struct vb_buf out;
	size_t out_pos; /* bytes of out already sent */
	size_t out_acc; /* bytes of out already queued as items */
	struct vb_outitem *q;
	size_t qhead, qn, qcap;
	uint64_t pending; /* bytes queued, not yet sent */
	int closing;	  /* close once the output is sent */
	uint32_t events;  /* registered epoll events */
	struct vb_group_ref *groups;
	uint32_t ngroups, groups_cap;
	int held;		/* output waits for the commit point */
	uint32_t waits;		/* replies not yet decided by it */
	struct vb_login *login; /* waiting for this login's answer */
	uint32_t login_fails;	/* failed logins in a row */
	int64_t since_us;	/* accepted (vb_mono_us) */
	size_t in_held;		/* of its input, counted in g.in_total */
	int starved;		/* not read: input budget spent */
	int dismissed;		/* told status 8, closing, not counted */
	/*
	 * A waiting poll (105, 106) parked: its frame stays at the head of
	 * the input and runs again when what it watches was published, or
	 * at its deadline; nothing after it is read or run meanwhile.
	 */
	int parked;
	int park_want;	       /* set by the handler: park this frame */
	int64_t park_deadline; /* monotonic µs; 0: not parked yet */
	size_t park_idx;       /* in b->parked (a heap by deadline) */
	uint32_t park_stream, park_topic;
	uint32_t park_part; /* VB_PARK_ALL: every partition */
	uint64_t park_sum;  /* what vb_park_sum said when it parked */
	struct vb_conn *prev, *next;
	/* 0.9 (v09.c); gen is 0 until the first bytes tell (loop.c) */
	unsigned gen;
	int bound; /* registered: vclient and session hold */
	uint8_t vclient[16];
	uint64_t session;
	uint64_t watermark; /* highest metadata request applied */
	int64_t seen_ms;    /* last request (monotonic): the heartbeat */
	struct vb_v09_cached {
		uint64_t request;
		uint64_t checksum;
		struct vb_buf reply;
	} cached[VB_V09_CACHED];
	unsigned ncached;
	/* a request whose answer auth.c writes later (c->login set) */
	struct vb_vsr_req v09_q;
	uint32_t v09_code; /* its command; 0: none waits */
	int v09_pat;	   /* a Register with a token */
};

struct vb_waiter;

struct vb_broker {
	struct vb_broker_opts o;
	char *dir;
	int epfd, lfd, sigfd, timerfd;
	int ufd;	   /* the local socket's listener, -1 without one */
	char *unix_path;   /* its name (vb_broker_listen_unix) */
	uint64_t unix_seq; /* local clients that gave themselves no name */
	struct vb_syncer sync;
	struct vb_store store;
	struct vb_slab streams;
	struct vb_slab users;
	struct vb_conn *conns;
	uint32_t nconns;
	uint64_t start_time;
	uint64_t cleaned_us; /* last retention pass */
	int stopping;
	char ip[64];
	uint16_t port;
	uint64_t commit; /* 0.9: registrations so far (sessions) */
	uint64_t messages_read;
	struct vb_buf tmp;
	/*
	 * The commit point (commit.c): replies waiting for the next commit,
	 * for the job in flight, and the connections holding them.
	 */
	struct vb_waiter *waiters, *flying;
	size_t nwaiters, waiters_cap, nflying, flying_cap;
	struct vb_conn **held;
	size_t nheld, held_cap;
	struct vb_auth *auth; /* the password worker (auth.c) */
	struct vb_guard g;    /* limits, wake timer (guard.h) */
	struct vb_metrics metrics;
	struct vb_http *http; /* NULL: no HTTP listener (http.h) */
	char http_ip[64];
	uint16_t http_port;
	struct vb_broker_tls tls; /* tls.c */
	/* Parked waiting polls: a heap by deadline, one timerfd for all. */
	struct vb_conn **parked, **wakev;
	size_t nparked, parked_cap, wakev_cap;
	int waitfd;
	int64_t wait_armed; /* deadline waitfd is set for; 0: none */
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
/*
 * Listens on the local socket path too (DATA/server.sock): plain, the
 * same protocol and logins as the port; removed at vb_broker_close.
 */
int vb_broker_listen_unix(struct vb_broker *b, const char *path,
			  struct vb_err *e);
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

/* ---- the commit point (commit.c) ---- */

enum vb_hold {
	VB_HOLD_ORDER,	 /* only the connection's output waits */
	VB_HOLD_DATA,	 /* 13000 if the partition's messages fail */
	VB_HOLD_OFFSETS, /* 13000 if its offsets cannot be saved */
};

/*
 * The reply just written at offset `at` of c->out (its status field)
 * depends on p's next commit: c's output is held until that commit is
 * decided, and the reply becomes 13000 if it fails.
 */
void vb_broker_hold(struct vb_broker *b, struct vb_conn *c, size_t at,
		    struct vb_part *p, enum vb_hold what);
/*
 * The replies held at offsets >= from of c->out (this pass's) were
 * rewritten into one whose status field is at `to` (a 0.9 answer, v09.c).
 */
void vb_broker_hold_move(struct vb_broker *b, struct vb_conn *c, size_t from,
			 size_t to);
/*
 * The commit point, at the end of every pass of the loop, in two steps,
 * each followed by sending the output of the held connections whose
 * replies are all decided: vb_broker_collect takes the result of the job
 * in flight if it is done (returns 1 if it did), then vb_broker_commit
 * commits what the passes since wrote (vb_store_commit) unless a job is
 * still in flight.  Both log what failed and answer its waiting replies
 * 13000.  Replies a job decided so leave before the next job is run.
 */
int vb_broker_collect(struct vb_broker *b);
void vb_broker_commit(struct vb_broker *b);
/*
 * The same, waiting until nothing is left in flight: before a command
 * removes or resets partitions, and at shutdown.
 */
void vb_broker_commit_all(struct vb_broker *b);
/* c is being freed: nothing is patched or sent for it any more. */
void vb_broker_conn_gone(struct vb_broker *b, struct vb_conn *c);
/* Frees the commit point's lists and the store's (partitions gone). */
void vb_broker_commit_release(struct vb_broker *b);
/* ---- TLS on the port (tls.c) ---- */

/* The context from o->tls_cert/tls_key (VB_E_USAGE when unusable). */
int vb_broker_tls_open(struct vb_broker *b, struct vb_err *e);
void vb_broker_tls_close(struct vb_broker *b);
/* The transport of a connection just accepted (TLS when the port is). */
int vb_conn_tr_open(struct vb_broker *b, struct vb_conn *c, int fd);
/*
 * One step of c's handshake: 1 done, 0 waiting for c->tr.want, -1 failed
 * (logged, rate-limited): the connection is to be closed.
 */
int vb_conn_handshake(struct vb_broker *b, struct vb_conn *c);
/* Bytes held in c's transport that no epoll event announces. */
void vb_conn_tls_defer(struct vb_broker *b, struct vb_conn *c, int on);
/* Each second: the failures not logged. */
void vb_broker_tls_tick(struct vb_broker *b, int64_t now);

/* ---- responses (dispatch.c) ---- */

void vb_reply_ok(struct vb_conn *c);
void vb_reply_err(struct vb_conn *c, uint32_t status);
/* Handles one whole request frame (payload may be modified). */
void vb_broker_dispatch(struct vb_broker *b, struct vb_conn *c, uint32_t code,
			uint8_t *p, size_t n);
/* The same for a decoded request (not send_messages), logged in. */
void vb_broker_dispatch_req(struct vb_broker *b, struct vb_conn *c,
			    const struct vb_req *r);

/* ---- Iggy 0.9 (v09.c, poll09.c) ---- */

/*
 * Handles one whole 0.9 request frame (size bytes, header included; it may
 * be modified) by the 0.8 handlers, its answer rewritten as 0.9's.
 */
void vb_v09_dispatch(struct vb_broker *b, struct vb_conn *c, uint8_t *frame,
		     size_t size);
/* Frees the session's cached replies. */
void vb_v09_conn_free(struct vb_conn *c);
/*
 * auth.c wrote the 0.8 answer of c's login or change_password at
 * c->out[m0..], later than its request ran (c->v09_code): rewritten as
 * the 0.9 reply (a Register's reply or eviction).
 */
void vb_v09_answered(struct vb_broker *b, struct vb_conn *c, size_t m0);
/*
 * The heartbeat (framing.md §10): a session in a consumer group that sent
 * nothing for 1.2 heartbeat intervals leaves its groups and is evicted as
 * a stale client.  1 when c was (its output is queued).
 */
int vb_v09_stale(struct vb_broker *b, struct vb_conn *c, int64_t now_ms);
/* A 0.9 reply's header for request q with status (v09.c). */
void vb_v09_reply_hdr(struct vb_vsr_reply *h, const struct vb_conn *c,
		      const struct vb_vsr_req *q, uint32_t status);
/* A deny reply: status, empty body. */
void vb_v09_deny(struct vb_conn *c, const struct vb_vsr_req *q,
		 uint32_t status);
/* The 0.8 answer of code at c->out[m0..] rewritten as the 0.9 reply. */
void vb_v09_answer(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_vsr_req *q, uint32_t code, size_t m0);
/* poll_messages (100) over 0.9 (poll09.c). */
void vb_v09_poll(struct vb_broker *b, struct vb_conn *c,
		 const struct vb_vsr_req *q, const struct vb_req *r);

/* ---- slabs (meta.c) ---- */

uint32_t vb_slab_insert(struct vb_slab *s, void *v);
void vb_slab_put(struct vb_slab *s, uint32_t id, void *v);
void *vb_slab_get(const struct vb_slab *s, uint32_t id);
void vb_slab_remove(struct vb_slab *s, uint32_t id);
/* Undoes the vb_slab_remove(s, id) just made (its save failed). */
void vb_slab_unremove(struct vb_slab *s, uint32_t id, void *v);
/* How many slots hold an entry. */
uint32_t vb_slab_count(const struct vb_slab *s);
/* After loading with _put: every hole becomes free, lowest reused first. */
void vb_slab_fill_free(struct vb_slab *s);
void vb_slab_release(struct vb_slab *s);

/* ---- metadata (meta.c) ---- */

int vb_meta_load(struct vb_broker *b, struct vb_err *e);
int vb_meta_save(struct vb_broker *b, struct vb_err *e);
/*
 * Shutdown: every directory of the storage fsynced (partitions' parents
 * up to the data dir), so that what a clean shutdown made durable is
 * reachable after a power loss in every mode, never included.
 */
int vb_meta_sync_dirs(struct vb_broker *b, struct vb_err *e);
/*
 * Saves metadata; on failure logs, answers 13000 and returns -1.  A
 * metadata command makes its change, saves, and on failure undoes the
 * change and calls vb_meta_restore, so no command ever sees a change that
 * the disk does not have (validate, build, save, then keep).
 */
int vb_meta_save_or_fail(struct vb_broker *b, struct vb_conn *c);
/*
 * After a failed save was undone in memory: if the metadata file shows the
 * change all the same (its rename went through, the sync after it did
 * not), it is written again as memory has it.
 */
void vb_meta_restore(struct vb_broker *b);
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

void vb_cmd_send(struct vb_broker *b, struct vb_conn *c, uint8_t *p, size_t n);
void vb_cmd_poll(struct vb_broker *b, struct vb_conn *c,
		 const struct vb_req *r);
/*
 * What both generations share: a send's partition resolved, permission
 * checked and its messages (0.8 frames, stamped in place) appended, *pid
 * and *base (either may be NULL) the partition and first offset, *part
 * the partition, whose commit point the caller's reply must be held for
 * (vb_broker_hold, VB_HOLD_DATA): 0, or -1 after an error reply (0.8).
 * A poll resolved and read: 1 with the head and the spans of stored 0.8
 * frames (at most VB_POLL_SPANS), or 0 after an answer (an error, an
 * empty head) was written.
 */
#define VB_POLL_SPANS 64
int vb_send_append(struct vb_broker *b, struct vb_conn *c,
		   const struct vb_send_hdr *h, uint8_t *msgs, size_t len,
		   uint32_t count, uint32_t *pid, uint64_t *base,
		   struct vb_part **part);
/*
 * vb_send_append in two steps, for 0.9's batches: the partition (NULL
 * after an error reply), then the append, of frames stamped from offset
 * `stamped` with timestamp ts (vb_part_append_stamped; UINT64_MAX: not
 * stamped), or with rec of a 0.9 record (vb_part_append_record); -1 after
 * an error reply.
 */
struct vb_part *vb_send_target(struct vb_broker *b, struct vb_conn *c,
			       const struct vb_send_hdr *h, uint32_t *pid);
int vb_send_store(struct vb_broker *b, struct vb_conn *c, struct vb_part *part,
		  uint8_t *msgs, size_t len, uint32_t count, uint64_t ts,
		  uint64_t stamped, int rec);
int vb_poll_spans(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r, struct vb_poll_hdr *h,
		  struct vb_span *sp, size_t *nsp);
/*
 * Waiting polls (105, 106; vibes-iggyd(8)).  Answers at once when the
 * poll finds min_count messages (or its byte budget), when max_wait is 0,
 * or once c->park_deadline has passed; otherwise writes nothing, sets
 * c->park_want and what it watches (c->park_*), and the loop parks it.
 */
void vb_cmd_poll_wait(struct vb_broker *b, struct vb_conn *c,
		      const struct vb_req *r);
#define VB_PARK_ALL 0xFFFFFFFFu
/* Longest wait a poll may ask for; longer is cut to it. */
#define VB_WAIT_MAX_US (600ull * 1000000)
/* What a parked poll watches: changes when any of it was published. */
uint64_t vb_park_sum(struct vb_broker *b, const struct vb_conn *c);
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
	VB_P_MANAGE_STREAMS, /* create streams */
	VB_P_READ_STREAMS,   /* list streams */
	VB_P_MANAGE_STREAM,
	VB_P_READ_STREAM,
	VB_P_MANAGE_TOPICS, /* create topics in a stream */
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
void vb_cmd_users(struct vb_broker *b, struct vb_conn *c,
		  const struct vb_req *r);

/* ---- the daemon's environment (daemon.c) ---- */

/*
 * Root credentials: IGGY_ROOT_USERNAME + IGGY_ROOT_PASSWORD if both set,
 * else DIR/credentials if it exists, else "iggy" and a random 24-character
 * password.  DIR/credentials (0600) holds what is in use: it is written
 * (atomically, durably) only when it does not say that already, so a
 * start on a full disk never needs to write it.
 */
int vb_daemon_credentials(const char *dir, char *user, size_t un, char *pass,
			  size_t pn, struct vb_err *e);
/*
 * DIR/server.addr = "HOST:PORT\n", by temporary file and rename, unless it
 * says that already.
 */
int vb_daemon_write_addr(const char *dir, const char *ip, uint16_t port,
			 struct vb_err *e);
/*
 * DIR/http.addr the same way; ip NULL (no HTTP listener) removes it, so
 * nothing points at a port another program may hold now.
 */
int vb_daemon_write_http_addr(const char *dir, const char *ip, uint16_t port,
			      struct vb_err *e);
/* What a failure to start is, for the daemon's exit status. */
enum vb_daemon_fate {
	VB_FATE_CRASH, /* unexpected: a supervisor may retry */
	/*
	 * It may pass by itself (the disk full or failing: no space, an I/O
	 * error, a read-only filesystem; memory or descriptors short): a
	 * supervisor should start it again.
	 */
	VB_FATE_PASSES,
	/*
	 * No retry fixes it: a usage or configuration error, malformed
	 * files, a permission refused, a path that is not a directory, the
	 * address or the data dir in use.
	 */
	VB_FATE_PERMANENT,
};

int vb_daemon_fate(const struct vb_err *e);
/* The same for a bare errno (a failure outside the library). */
int vb_daemon_errno_fate(int err);
/*
 * DIR/server.tls = the absolute path of the certificate the port serves
 * (so that local tools speak TLS to it and trust exactly that
 * certificate: vibes(7)); cert NULL (plain TCP) removes it.
 */
int vb_daemon_write_tls(const char *dir, const char *cert, struct vb_err *e);

#endif
