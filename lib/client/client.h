/*
 * client.h - the Iggy TCP client: one connection, used either pipelined
 * and non-blocking (queue, pump, take) or one blocking call at a time.
 *
 * It speaks Iggy 0.8 or 0.9 (c->framing, vb_framing_v08 / _v09: the
 * codec's, never the client's): the one asked for (c->protocol, from
 * --protocol or ?protocol= in the URL; 0.8 unless set), or with
 * VB_PROTO_AUTO the one a probe finds, remembered per address
 * (c->proto_cache; vibes(7), "Protocol"), as every tool does.  Over
 * 0.9 the client also keeps the session (framing.md §4, §5): it registers
 * with the protocol version at login, numbers every request as the spec
 * says and writes the identity into each frame it queues, turns evictions
 * into errors that say why, follows the cluster's leader after login, and
 * sends a request the server answered "transient" again, the same bytes
 * on the same connection.  0.9 is lock-step (framing.md §1): the queue
 * fills as in 0.8, but one frame is on the wire at a time.
 *
 * Answers come strictly in order, one per request; blocking calls are
 * bounded by `timeout_ms`.  A server error status comes back as the kind
 * vb_client_status_err says, with err->status set; a dead or unreachable
 * socket as VB_E_UNAVAIL (the connection is then closed and
 * vb_client_connect may be called again); a timeout as VB_E_TIMEOUT.
 *
 * The bytes go over c->tr (net/transport.h): plain TCP, or TLS when the
 * address says so (iggys://, or ?tls=true as upstream's SDKs write it).
 * The certificate is then verified against c->tls_ca (the system's store
 * when empty) for c->tls_domain (the host when empty), which is also sent
 * as SNI; a certificate refused is VB_E_AUTH "TLS: certificate of NAME:
 * REASON".  Over TLS, SIGPIPE must be ignored (OpenSSL writes with
 * write(2)), as every vibes tool does.
 */
#ifndef VB_CLIENT_H
#define VB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/transport.h"
#include "wire/wire.h"

#define VB_DEFAULT_HOST "127.0.0.1"
#define VB_DEFAULT_PORT 8090
#define VB_CLIENT_TIMEOUT_MS 10000
/* Largest response a client accepts (a poll of many big messages). */
#define VB_CLIENT_RESP_MAX (256u * 1024 * 1024)

/* One piece of queued output: caller memory (ext) or bytes of c->out. */
struct vb_client_piece {
	const uint8_t *ext;
	size_t off, len;
};

/* The protocol a client speaks (c->protocol). */
enum vb_proto {
	VB_PROTO_AUTO = 0, /* probe, remembered per address */
	VB_PROTO_08 = VB_GEN_08,
	VB_PROTO_09 = VB_GEN_09,
};

/* "0.8", "0.9" or "auto" to a vb_proto; -1 for anything else. */
int vb_proto_parse(const char *s);
const char *vb_proto_name(int proto);

/* 0.9: what the client knows of a request queued (stamp order). */
struct vb_client_sent {
	uint32_t code;
	uint8_t op;
	uint64_t request;
};

struct vb_client {
	int fd; /* -1 when not connected */
	char host[256];
	uint16_t port;
	char user[256]; /* from iggy://user:pass@... or set by caller */
	char pass[256];
	int timeout_ms;
	/* TLS: set by vb_client_set_addr from the URL, or by the caller */
	int tls;	      /* iggys:// or ?tls=true */
	char tls_domain[256]; /* ?tls_domain=: the name verified; "" host */
	char tls_ca[1024];    /* ?tls_ca_file= or the caller's; "" system */
	char tls_pin[1024]; /* trust exactly this certificate (vb_tls_client_ctx) */
	struct ssl_ctx_st *tls_ctx; /* made at the first TLS connect */
	char tls_ctx_for[2050];	    /* the CA or pin it was made for */
	/*
	 * The bundled server's local socket (DATA/server.sock), tried
	 * before host:port by a plain client, which falls back to host:port
	 * when it does not answer; set by the caller after
	 * vb_client_set_addr, which clears it.  via_unix: this connection
	 * went there (it speaks 0.8 and 0.9: no probe).
	 */
	char unix_path[108];
	int via_unix;
	/*
	 * Set by the caller: the connection is for a stream of sends, and
	 * goes to host:port even with a unix_path (TCP's buffers grow to
	 * megabytes; a local socket's writes stop at net.core.wmem_max).
	 */
	int bulk;
	struct vb_tr tr;	   /* the connection's transport; tr.fd == fd */
	int protocol;		   /* enum vb_proto asked for (init: 0.8) */
	struct vb_buf proto_cache; /* the vb_proto_cache file; "": none */
	const struct vb_framing *framing; /* the one spoken */
	int proto_guess; /* it came from the cache, unconfirmed */
	uint64_t rx;	 /* bytes received on this connection */
	char local[80];	 /* our end, "ip:port", while connected */
	/* 0.9 session (framing.md §4) */
	struct vb_vsr_id id; /* client id, next request number, session */
	int bound;	     /* logged in: id.session is the server's */
	uint32_t user_id;
	char server_version[64];
	char redirected[640]; /* "from A to B" after following a leader */
	unsigned window;      /* frames on the wire at once; 0: no limit */
	uint64_t wframes;     /* frames written whole */
	size_t wleft;	      /* bytes left of the frame being written */
	struct vb_client_sent *sent; /* a ring, one per queued request */
	size_t nsent, sent_cap, sent_head;
	struct vb_client_sent last; /* the request last answered */
	int first_ms;		    /* > 0: the first answer of a connection
				 * comes within it or not at all */
	/* requests queued and not yet written, oldest first */
	struct vb_buf out;
	struct vb_client_piece *q;
	size_t nq, qcap, qhead, qdone;
	uint64_t queued, taken; /* requests queued / answers taken */
	struct vb_reader rd;	/* answers received */
	struct vb_buf enc;	/* request being encoded */
	int dead;		/* the transport failed: answers left in rd */
	struct vb_err dead_err; /* why */
	/* The server answered a waiting poll 3: it has none (until closed). */
	int no_wait_poll;
	/*
	 * vb_client_with_login: a request sent in the same write as every
	 * 0.8 login, and its answer, kept for that same request if it is
	 * the next one made on the connection.
	 */
	struct vb_buf pre_req; /* the request, in 0.8 framing */
	struct vb_buf pre_ans; /* the answer's payload */
	uint32_t pre_status;
	int pre_ready; /* pre_ans holds the answer, not yet served */
};

void vb_client_init(struct vb_client *c);
/* Closes the connection and frees the buffers. */
void vb_client_release(struct vb_client *c);

/*
 * Parses "host:port", "host", ":port", "[::1]:port" or
 * "iggy://user:pass@host:port" (tcp:// and iggy+tcp:// are accepted too)
 * into host/port and, for URLs, user/pass.  "iggys://" is the same over
 * TLS.  A URL may end in upstream's options: ?tls=true|false,
 * tls_domain=NAME, tls_ca_file=FILE (vibes(7) lists those accepted and
 * ignored); each sets c->tls, c->tls_domain, c->tls_ca, which the address
 * resets first; and protocol=0.8 (or 0.9, auto), which sets c->protocol.
 * Returns -1 with VB_E_USAGE naming what is wrong.
 */
int vb_client_set_addr(struct vb_client *c, const char *addr, struct vb_err *e);
/* "host:port" of the server, for messages ("[::1]:8090" for IPv6). */
const char *vb_client_addr(const struct vb_client *c, char *buf, size_t size);

/*
 * Connects and settles the protocol: the one asked for, else the one
 * remembered for the address, else a probe (a 0.9 ping, which a 0.8
 * server answers with an error: then a new connection speaks 0.8).
 */
int vb_client_connect(struct vb_client *c, struct vb_err *e);

/* The protocol cache (protocache.c): $XDG_CACHE_HOME/vibes/protocols. */
int vb_proto_cache_path(struct vb_buf *out, struct vb_err *e);
/* The generation remembered for "host:port"; 0 when none. */
unsigned vb_proto_cache_get(const char *path, const char *addr);
/* Remembers it; best effort (a cache). */
void vb_proto_cache_put(const char *path, const char *addr, unsigned gen);
/* Closes the connection and drops what was queued or received. */
void vb_client_close(struct vb_client *c);
static inline int vb_client_connected(const struct vb_client *c)
{
	return c->fd >= 0;
}

/*
 * Logs in: login_user (38) over 0.8; over 0.9 a session registration
 * (login_register, 40, with the protocol version), then the cluster's
 * metadata, and when another node leads, a connection and login there
 * (framing.md §11).  user_id may be NULL.  Bad credentials: VB_E_AUTH.
 */
int vb_client_login(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e);
/*
 * From now on every login over 0.8 carries request r in the same write,
 * and its answer is kept: if the first request made after the login is
 * the same (byte for byte), it is answered from there without a round
 * trip.  Any other request first, or a new connection, drops it.  For
 * the request a tool always makes first (lib/log's topic lookup): a
 * short run pays one round trip for both.  0.9 sessions do not pipeline
 * their registration (framing.md), so they send r when it is made.
 */
void vb_client_with_login(struct vb_client *c, const struct vb_req *r);
/* Speaking 0.9. */
static inline int vb_client_v09(const struct vb_client *c)
{
	return c->framing->gen == VB_GEN_09;
}

/*
 * Pipelined, non-blocking use (Iggy answers strictly in order, one answer
 * per request).  Requests are queued, vb_client_pump writes what the
 * socket takes and receives what has arrived without ever blocking, and
 * vb_client_take hands out the answers in order.  The caller polls
 * c->fd for vb_client_events().  Any transport failure closes the
 * connection (VB_E_UNAVAIL): what was queued is dropped, and whether the
 * requests written were carried out is for the caller to find out.
 *
 * An answer with status 8 (the server is shutting down, control.md §1.3),
 * 30 or 100 (the server dropped this client) ends the connection the same
 * way; any other status is the caller's to judge (vb_client_status_err).
 */

/*
 * Frames are encoded in c->framing (vb_wire_req_frame, the send builder);
 * over 0.9 the client writes the session's identity into each as it is
 * queued (vb_vsr_req_stamp), in queue order.
 */
/* Queues whole request frames (one or more), copying them. */
void vb_client_queue(struct vb_client *c, const uint8_t *frames, size_t n);
/*
 * Queues whole request frames that stay in caller memory, unchanged but
 * for the identity written now, until written (vb_client_unsent() == 0)
 * or the connection is closed.
 */
void vb_client_queue_ref(struct vb_client *c, uint8_t *frames, size_t n);
/* Encodes and queues one request. */
void vb_client_queue_req(struct vb_client *c, const struct vb_req *r);
/* Requests queued whose answers were not taken yet. */
static inline uint64_t vb_client_inflight(const struct vb_client *c)
{
	return c->queued - c->taken;
}
/* Bytes queued and not yet written. */
size_t vb_client_unsent(const struct vb_client *c);
/* vb_client_unsent(c) > 0, in O(1) (a queued piece is never empty). */
static inline int vb_client_has_unsent(const struct vb_client *c)
{
	return c->qhead < c->nq;
}
/*
 * What to poll c->fd for: POLLIN, and POLLOUT while bytes are unsent (and,
 * over 0.9, the frame before was answered) or a TLS read waits to write.
 */
short vb_client_events(const struct vb_client *c);
/*
 * Writes and receives what can be without blocking.  -1 when the
 * transport failed: the socket is closed (c->fd is -1), yet the answers
 * that arrived before can still be taken; vb_client_take then reports the
 * failure once they are exhausted.
 */
int vb_client_pump(struct vb_client *c, struct vb_err *e);
/*
 * The next answer received: 1 with *rep filled (payload valid until the
 * next pump, take or wait call), 0 when none is complete yet, -1 when the
 * connection ended (see above) or sent something that is no answer.
 */
int vb_client_take(struct vb_client *c, struct vb_reply *rep, struct vb_err *e);
/*
 * Blocking: writes what is queued and waits for the next answer, at most
 * timeout_ms (VB_E_TIMEOUT; the connection is then closed).
 */
int vb_client_next(struct vb_client *c, struct vb_reply *rep, struct vb_err *e);
/*
 * Blocking: waits until the next n answers have all arrived, so that
 * taking them (vb_client_take, which then returns 1 n times) leaves every
 * payload valid until the next pump: a caller can use them side by side.
 */
int vb_client_wait_ready(struct vb_client *c, size_t n, struct vb_err *e);
/*
 * Fills e for a server status and returns -1.  This is the one place
 * server statuses become error kinds: 40/41/42/47/53 (and 43/44 for a
 * login) VB_E_AUTH, 8/30/100 VB_E_UNAVAIL, 13000 (the server's storage
 * failed: a full disk) and 57/58 (0.9: not committed / not accepted yet)
 * VB_E_TEMP, 14003 VB_E_PROTO, any other VB_E_SERVER.  `what` names the
 * request.
 */
int vb_client_status_err(struct vb_err *e, uint32_t status, const char *what);
/* The same for an answer: an eviction says why the session ended. */
int vb_client_reply_err(struct vb_err *e, const struct vb_reply *rep,
			const char *what);
/* A group member's store refused because another member owns the
 * partition now: 3022 (0.8) or 5009 (0.9). */
static inline int vb_status_not_owner(uint32_t st)
{
	return st == VB_ST_NOT_RESOLVED_CONSUMER ||
	       st == VB_ST_CONSUMER_GROUP_PARTITION_NOT_OWNED;
}

/*
 * Blocking calls: send request r (nothing else may be in flight) and wait
 * for its answer.  On success *payload and *len (either may be NULL)
 * describe the answer's payload, valid until the next call.
 */
int vb_client_call(struct vb_client *c, const struct vb_req *r,
		   const uint8_t **payload, size_t *len, struct vb_err *e);
/* Same for a frame the caller encoded (send_messages batches). */
int vb_client_call_frame(struct vb_client *c, const uint8_t *frame, size_t n,
			 const uint8_t **payload, size_t *len,
			 struct vb_err *e);

/* ---- conveniences over vb_client_call ---- */

int vb_client_ping(struct vb_client *c, struct vb_err *e);
int vb_client_get_stats(struct vb_client *c, struct vb_stats *s,
			struct vb_err *e);
/* Stream/topic lookups answer "not found" as *found = 0, not an error. */
int vb_client_get_stream(struct vb_client *c, const struct vb_ident *stream,
			 struct vb_stream_info *s, int *found,
			 struct vb_err *e);
int vb_client_create_stream(struct vb_client *c, const char *name,
			    struct vb_stream_info *s, struct vb_err *e);
/* The get_topic request vb_client_get_topic makes (for with_login). */
void vb_client_topic_req(struct vb_req *r, const struct vb_ident *stream,
			 const struct vb_ident *topic);
/*
 * get_topic: fills t and, if parts is not NULL, up to nparts partition
 * records (t->partitions_count says how many exist).
 */
int vb_client_get_topic(struct vb_client *c, const struct vb_ident *stream,
			const struct vb_ident *topic, struct vb_topic_info *t,
			struct vb_partition_info *parts, uint32_t nparts,
			int *found, struct vb_err *e);
int vb_client_create_topic(struct vb_client *c, const struct vb_ident *stream,
			   const char *name, uint32_t partitions,
			   struct vb_topic_info *t, struct vb_err *e);
/* The same with retention: expiry (µs) and max size (bytes); 0: default. */
int vb_client_create_topic_with(struct vb_client *c,
				const struct vb_ident *stream, const char *name,
				uint32_t partitions, uint64_t expiry_us,
				uint64_t max_size, struct vb_topic_info *t,
				struct vb_err *e);
/*
 * Listings: *out (to free) holds *n records.  A missing stream lists no
 * topics (upstream answers an empty OK).
 */
int vb_client_get_streams(struct vb_client *c, struct vb_stream_info **out,
			  size_t *n, struct vb_err *e);
int vb_client_get_topics(struct vb_client *c, const struct vb_ident *stream,
			 struct vb_topic_info **out, size_t *n,
			 struct vb_err *e);
int vb_client_get_groups(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 struct vb_group_info **out, size_t *n,
			 struct vb_err *e);
/* update_topic (304): t's compression, expiry, max size, rf and name. */
int vb_client_update_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_topic_info *t, struct vb_err *e);
int vb_client_delete_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic, struct vb_err *e);
int vb_client_purge_topic(struct vb_client *c, const struct vb_ident *stream,
			  const struct vb_ident *topic, struct vb_err *e);
int vb_client_delete_group(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_ident *group, struct vb_err *e);
int vb_client_send(struct vb_client *c, const struct vb_send_hdr *h,
		   const struct vb_msg_in *msgs, uint32_t n, struct vb_err *e);
/*
 * poll_messages: r must be a VB_CMD_POLL_MESSAGES request.  On success h is
 * the response header and msgs a cursor over the messages, to be walked
 * with vb_msgs_next() (either generation).
 */
int vb_client_poll_msgs(struct vb_client *c, const struct vb_req *r,
			struct vb_poll_hdr *h, struct vb_msgs *msgs,
			struct vb_err *e);
/* The same with a plain cursor over the message area, which only
 * vb_wire_dec_msg reads: for 0.8 (the bundled server's own tests). */
int vb_client_poll(struct vb_client *c, const struct vb_req *r,
		   struct vb_poll_hdr *h, struct vb_rd *msgs, struct vb_err *e);
/* 0.9 sync_consumer_group (606): the partitions this session owns. */
int vb_client_sync_group(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 const struct vb_ident *group, struct vb_group_sync *s,
			 struct vb_err *e);
/* get_cluster_metadata (12): up to max nodes into nodes, *n of them. */
int vb_client_cluster(struct vb_client *c, struct vb_cluster_node *nodes,
		      uint32_t max, uint32_t *n, struct vb_err *e);
/*
 * A waiting poll, a vibes extension (vibes-iggyd(8)): r is a
 * VB_CMD_POLL_WAIT request (answered as poll_messages is) or a
 * VB_CMD_POLL_WAIT_MULTI one (walk the answer with vb_wire_dec_wait_count
 * and vb_wire_dec_wait_part).  Waits r->wait.max_wait_us longer than
 * timeout_ms.  1 with the answer's payload; 0, sending nothing, when the
 * server has no waiting polls: it answered one 3 (InvalidCommand, what
 * upstream 0.8.0 answers an unknown code) on this connection, which is
 * remembered until it is closed, or over 0.9, which has no such command
 * (they extend the 0.8 framing); -1 on error.
 */
int vb_client_poll_wait(struct vb_client *c, const struct vb_req *r,
			const uint8_t **payload, size_t *len, struct vb_err *e);
/*
 * The answer of waiting poll r, queued by the caller behind other
 * requests whose answers it took: as vb_client_poll_wait from the wait
 * on (the caller checks vb_client_no_wait_poll before queueing it).
 */
int vb_client_wait_answer(struct vb_client *c, const struct vb_req *r,
			  const uint8_t **payload, size_t *len,
			  struct vb_err *e);
/* No waiting polls here: the server said so, or the client speaks 0.9. */
static inline int vb_client_no_wait_poll(const struct vb_client *c)
{
	return c->no_wait_poll || vb_client_v09(c);
}
/* get_consumer_offset: *found = 0 when nothing is stored. */
int vb_client_get_offset(struct vb_client *c, const struct vb_consumer *who,
			 const struct vb_ident *stream,
			 const struct vb_ident *topic, uint32_t partition,
			 struct vb_offset_info *o, int *found,
			 struct vb_err *e);
int vb_client_store_offset(struct vb_client *c, const struct vb_consumer *who,
			   const struct vb_ident *stream,
			   const struct vb_ident *topic, uint32_t partition,
			   uint64_t offset, struct vb_err *e);
int vb_client_delete_offset(struct vb_client *c, const struct vb_consumer *who,
			    const struct vb_ident *stream,
			    const struct vb_ident *topic, uint32_t partition,
			    struct vb_err *e);
/* Group commands take the group by identifier (name or id). */
int vb_client_create_group(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic, const char *name,
			   struct vb_group_info *g, struct vb_err *e);
int vb_client_join_group(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 const struct vb_ident *group, struct vb_err *e);
int vb_client_leave_group(struct vb_client *c, const struct vb_ident *stream,
			  const struct vb_ident *topic,
			  const struct vb_ident *group, struct vb_err *e);
int vb_client_flush(struct vb_client *c, const struct vb_ident *stream,
		    const struct vb_ident *topic, uint32_t partition, int fsync,
		    struct vb_err *e);

#endif
