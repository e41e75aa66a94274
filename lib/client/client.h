/*
 * client.h - blocking Iggy TCP client (one connection, one request at a time).
 *
 * Every call sends one request frame and waits for its one response
 * (control.md §1.3: strictly in order, no correlation ids).  Reads and
 * writes are bounded by `timeout_ms`.  A server error status comes back as
 * VB_E_SERVER with err->status set; a dead or unreachable socket as
 * VB_E_UNAVAIL (the connection is then closed and vb_client_connect may be
 * called again); a timeout as VB_E_TIMEOUT.
 *
 * Payload pointers handed back by calls point into the client's receive
 * buffer and stay valid until the next call on the same client.
 */
#ifndef VB_CLIENT_H
#define VB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "wire/wire.h"

#define VB_DEFAULT_HOST "127.0.0.1"
#define VB_DEFAULT_PORT 8090
#define VB_CLIENT_TIMEOUT_MS 10000
/* Largest response a client accepts (a poll of many big messages). */
#define VB_CLIENT_RESP_MAX (256u * 1024 * 1024)

struct vb_client {
	int fd;			/* -1 when not connected */
	char host[256];
	uint16_t port;
	char user[256];		/* from iggy://user:pass@... or set by caller */
	char pass[256];
	int timeout_ms;
	struct vb_buf out;	/* request being sent */
	struct vb_buf in;	/* last response payload */
};

void vb_client_init(struct vb_client *c);
/* Closes the connection and frees the buffers. */
void vb_client_release(struct vb_client *c);

/*
 * Parses "host:port", "host", ":port", "[::1]:port" or
 * "iggy://user:pass@host:port" (tcp:// is accepted too) into host/port and,
 * for URLs, user/pass.  Returns -1 with VB_E_USAGE naming what is wrong.
 */
int vb_client_set_addr(struct vb_client *c, const char *addr, struct vb_err *e);

int vb_client_connect(struct vb_client *c, struct vb_err *e);
void vb_client_close(struct vb_client *c);
static inline int vb_client_connected(const struct vb_client *c)
{
	return c->fd >= 0;
}

/* login_user (38); user_id may be NULL.  Bad credentials: VB_E_AUTH. */
int vb_client_login(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e);

/*
 * Sends request r and waits for the response.  On success *payload and
 * *len (either may be NULL) describe the response payload.
 */
int vb_client_call(struct vb_client *c, const struct vb_req *r,
		   const uint8_t **payload, size_t *len, struct vb_err *e);
/* Same for a frame the caller encoded (send_messages batches). */
int vb_client_call_frame(struct vb_client *c, const uint8_t *frame, size_t n,
			 const uint8_t **payload, size_t *len,
			 struct vb_err *e);

/*
 * Pipelining (Iggy answers strictly in order): vb_client_write sends bytes
 * (one or more whole request frames) without waiting for answers, and
 * vb_client_read_resp reads the next response into rx, leaving a non-zero
 * status in *status for the caller to judge (vb_client_status_err turns
 * it into an error).  Both are bounded by timeout_ms and close the
 * connection on any transport failure.
 */
int vb_client_write(struct vb_client *c, const uint8_t *p, size_t n,
		    struct vb_err *e);
int vb_client_read_resp(struct vb_client *c, struct vb_buf *rx,
			uint32_t *status, struct vb_err *e);
/* Fills e for a server status: VB_E_AUTH for 40/41/42/47, else
 * VB_E_SERVER; `what` names the request.  Returns -1. */
int vb_client_status_err(struct vb_err *e, uint32_t status, const char *what);

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
int vb_client_send(struct vb_client *c, const struct vb_send_hdr *h,
		   const struct vb_msg_in *msgs, uint32_t n, struct vb_err *e);
/*
 * poll_messages: r must be a VB_CMD_POLL_MESSAGES request.  On success h is
 * the response header and msgs a cursor over the frames, to be walked with
 * vb_wire_dec_msg().
 */
int vb_client_poll(struct vb_client *c, const struct vb_req *r,
		   struct vb_poll_hdr *h, struct vb_rd *msgs, struct vb_err *e);
/* get_consumer_offset: *found = 0 when nothing is stored. */
int vb_client_get_offset(struct vb_client *c, const struct vb_consumer *who,
			 const struct vb_ident *stream,
			 const struct vb_ident *topic, uint32_t partition,
			 struct vb_offset_info *o, int *found, struct vb_err *e);
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
		    const struct vb_ident *topic, uint32_t partition,
		    int fsync, struct vb_err *e);

#endif
