/* Blocking Iggy TCP client: one request, one response (control.md §1). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "base/banned.h"

void vb_client_init(struct vb_client *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	strlcpy(c->host, VB_DEFAULT_HOST, sizeof(c->host));
	c->port = VB_DEFAULT_PORT;
	c->timeout_ms = VB_CLIENT_TIMEOUT_MS;
	vb_buf_init(&c->out);
	vb_buf_init(&c->in);
}

void vb_client_close(struct vb_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void vb_client_release(struct vb_client *c)
{
	vb_client_close(c);
	explicit_bzero(c->pass, sizeof(c->pass));
	vb_buf_release(&c->out);
	vb_buf_release(&c->in);
}

static int parse_port(const char *s, uint16_t *port, const char *addr,
		      struct vb_err *e)
{
	const char *errstr;
	long long v = strtonum(s, 1, 65535, &errstr);

	if (errstr)
		return vb_err_set(e, VB_E_USAGE,
				  "address '%s': port '%s' is %s", addr, s,
				  errstr);
	*port = (uint16_t)v;
	return 0;
}

int vb_client_set_addr(struct vb_client *c, const char *addr,
		       struct vb_err *e)
{
	char tmp[768], *hp = tmp, *at, *colon;

	if (strlcpy(tmp, addr, sizeof(tmp)) >= sizeof(tmp))
		return vb_err_set(e, VB_E_USAGE, "address too long");
	if (strncmp(hp, "iggy://", 7) == 0 || strncmp(hp, "tcp://", 6) == 0) {
		hp = strstr(hp, "://") + 3;
		at = strrchr(hp, '@');
		if (at) {
			*at = 0;
			colon = strchr(hp, ':');
			if (colon == NULL)
				return vb_err_set(e, VB_E_USAGE,
						  "address '%s': expected user:password@ before the host",
						  addr);
			*colon = 0;
			if (strlcpy(c->user, hp, sizeof(c->user)) >=
				    sizeof(c->user) ||
			    strlcpy(c->pass, colon + 1, sizeof(c->pass)) >=
				    sizeof(c->pass))
				return vb_err_set(e, VB_E_USAGE,
						  "address '%s': credentials too long",
						  addr);
			hp = at + 1;
		}
		/* Drop a trailing path or slash. */
		hp[strcspn(hp, "/")] = 0;
	}
	if (*hp == '[') {
		char *end = strchr(hp, ']');

		if (end == NULL)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': missing ']'", addr);
		*end = 0;
		strlcpy(c->host, hp + 1, sizeof(c->host));
		if (end[1] == ':')
			return parse_port(end + 2, &c->port, addr, e);
		if (end[1] != 0)
			return vb_err_set(e, VB_E_USAGE,
					  "address '%s': junk after ']'", addr);
		return 0;
	}
	colon = strrchr(hp, ':');
	if (colon) {
		*colon = 0;
		if (parse_port(colon + 1, &c->port, addr, e))
			return -1;
	}
	if (*hp)
		strlcpy(c->host, hp, sizeof(c->host));
	else if (!colon)
		return vb_err_set(e, VB_E_USAGE, "address is empty");
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline, struct vb_err *e,
		   const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return vb_err_set(e, VB_E_TIMEOUT,
					  "%s: timed out", what);
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return vb_err_sys(e, VB_E_UNAVAIL, "%s: poll", what);
	}
}

int vb_client_connect(struct vb_client *c, struct vb_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int gai, fd = -1, saved = 0;
	int64_t deadline = now_ms() + c->timeout_ms;

	vb_client_close(c);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", c->port);
	gai = getaddrinfo(c->host, port, &hints, &res);
	if (gai)
		return vb_err_set(e, VB_E_UNAVAIL, "cannot resolve %s: %s",
				  c->host, gai_strerror(gai));
	for (ai = res; ai; ai = ai->ai_next) {
		int err = 0;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS &&
		    wait_fd(fd, POLLOUT, deadline, NULL, "connect") == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0)
			break;
		saved = err ? err : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved ? saved : ECONNREFUSED;
		return vb_err_sys(e, VB_E_UNAVAIL, "cannot connect to %s:%u",
				  c->host, c->port);
	}
	{
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->fd = fd;
	return 0;
}

static int fail_io(struct vb_client *c, struct vb_err *e)
{
	vb_client_close(c);
	return -1;
}

static int write_all(struct vb_client *c, const uint8_t *p, size_t n,
		     int64_t deadline, struct vb_err *e)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c->fd, POLLOUT, deadline, e,
				    "sending to the server"))
				return fail_io(c, e);
			continue;
		}
		vb_err_sys(e, VB_E_UNAVAIL, "sending to %s:%u", c->host,
			   c->port);
		return fail_io(c, e);
	}
	return 0;
}

static int read_all(struct vb_client *c, uint8_t *p, size_t n,
		    int64_t deadline, struct vb_err *e)
{
	while (n > 0) {
		ssize_t r = recv(c->fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0) {
			vb_err_set(e, VB_E_UNAVAIL,
				   "connection to %s:%u closed by the server",
				   c->host, c->port);
			return fail_io(c, e);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(c->fd, POLLIN, deadline, e,
				    "waiting for the server"))
				return fail_io(c, e);
			continue;
		}
		vb_err_sys(e, VB_E_UNAVAIL, "receiving from %s:%u", c->host,
			   c->port);
		return fail_io(c, e);
	}
	return 0;
}

int vb_client_write(struct vb_client *c, const uint8_t *p, size_t n,
		    struct vb_err *e)
{
	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	return write_all(c, p, n, now_ms() + c->timeout_ms, e);
}

int vb_client_read_resp(struct vb_client *c, struct vb_buf *rx,
			uint32_t *status, struct vb_err *e)
{
	uint8_t hdr[VB_RESP_HDR];
	uint32_t length;
	int64_t deadline = now_ms() + c->timeout_ms;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	if (read_all(c, hdr, sizeof(hdr), deadline, e))
		return -1;
	vb_wire_resp_hdr(hdr, status, &length);
	if (length > VB_CLIENT_RESP_MAX) {
		vb_err_set(e, VB_E_UNAVAIL,
			   "response of %u bytes exceeds the %u-byte limit",
			   length, VB_CLIENT_RESP_MAX);
		return fail_io(c, e);
	}
	vb_buf_reset(rx);
	vb_buf_reserve(rx, length);
	if (read_all(c, rx->p, length, deadline, e))
		return -1;
	rx->len = length;
	rx->p[length] = 0;
	return 0;
}

int vb_client_status_err(struct vb_err *e, uint32_t status, const char *what)
{
	enum vb_errkind kind = VB_E_SERVER;

	if (status == VB_ST_UNAUTHENTICATED || status == VB_ST_UNAUTHORIZED ||
	    status == VB_ST_INVALID_CREDENTIALS ||
	    status == VB_ST_USER_INACTIVE)
		kind = VB_E_AUTH;
	return vb_err_status(e, kind, status, "%s: server error %u (%s)", what,
			     status, vb_status_name(status));
}

int vb_client_call_frame(struct vb_client *c, const uint8_t *frame, size_t n,
			 const uint8_t **payload, size_t *len,
			 struct vb_err *e)
{
	uint32_t status, code = n >= 8 ? vb_ld32(frame + 4) : 0;
	const char *name;

	if (vb_client_write(c, frame, n, e) ||
	    vb_client_read_resp(c, &c->in, &status, e))
		return -1;
	if (status != VB_ST_OK) {
		name = vb_cmd_name(code);
		vb_client_status_err(e, status, name ? name : "request");
		if (status == VB_ST_CLIENT_NOT_FOUND ||
		    status == VB_ST_STALE_CLIENT ||
		    status == VB_ST_DISCONNECTED)
			vb_client_close(c);
		return -1;
	}
	if (payload)
		*payload = c->in.p;
	if (len)
		*len = c->in.len;
	return 0;
}

int vb_client_call(struct vb_client *c, const struct vb_req *r,
		   const uint8_t **payload, size_t *len, struct vb_err *e)
{
	vb_buf_reset(&c->out);
	vb_wire_req_encode(&c->out, r);
	return vb_client_call_frame(c, c->out.p, c->out.len, payload, len, e);
}

int vb_client_login(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e)
{
	static const char version[] = "vibes-0.1.0";
	struct vb_req r;
	const uint8_t *p;
	size_t n;
	int rc;

	vb_req_init(&r, VB_CMD_LOGIN_USER);
	if (vb_name_set(&r.name, user))
		return vb_err_set(e, VB_E_USAGE,
				  "username must be 1 to 255 bytes");
	if (strlen(pass) > VB_NAME_MAX)
		return vb_err_set(e, VB_E_USAGE,
				  "password must be at most 255 bytes");
	r.secret.len = (uint8_t)strlen(pass);
	memcpy(r.secret.s, pass, r.secret.len);
	r.version = (const uint8_t *)version;
	r.version_len = sizeof(version) - 1;
	rc = vb_client_call(c, &r, &p, &n, e);
	explicit_bzero(&r.secret, sizeof(r.secret));
	if (rc) {
		if (e && e->kind == VB_E_AUTH)
			vb_err_prefix(e, "login as '%s' refused", user);
		return -1;
	}
	if (user_id)
		*user_id = n >= 4 ? vb_ld32(p) : 0;
	return 0;
}

int vb_client_ping(struct vb_client *c, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_PING);
	return vb_client_call(c, &r, NULL, NULL, e);
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
			 struct vb_stream_info *s, int *found,
			 struct vb_err *e)
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
	return vb_wire_dec_stream(&rd, s, e);
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
	return s ? vb_wire_dec_stream(&rd, s, e) : 0;
}

/* Reads a TopicDetails payload. */
static int dec_topic_details(const uint8_t *p, size_t n,
			     struct vb_topic_info *t,
			     struct vb_partition_info *parts, uint32_t nparts,
			     struct vb_err *e)
{
	struct vb_rd rd;

	vb_rd_init(&rd, p, n);
	if (vb_wire_dec_topic(&rd, t, e))
		return -1;
	for (uint32_t i = 0; parts && i < t->partitions_count && i < nparts;
	     i++)
		if (vb_wire_dec_partition(&rd, &parts[i], e))
			return -1;
	return 0;
}

int vb_client_get_topic(struct vb_client *c, const struct vb_ident *stream,
			const struct vb_ident *topic, struct vb_topic_info *t,
			struct vb_partition_info *parts, uint32_t nparts,
			int *found, struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_GET_TOPIC);
	r.stream = *stream;
	r.topic = *topic;
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	*found = n > 0;
	if (n == 0)
		return 0;
	return dec_topic_details(p, n, t, parts, nparts, e);
}

int vb_client_create_topic(struct vb_client *c, const struct vb_ident *stream,
			   const char *name, uint32_t partitions,
			   struct vb_topic_info *t, struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	r.stream = *stream;
	r.count = partitions;
	r.compression = VB_COMPRESSION_NONE;
	r.replication_factor = 1;
	if (vb_name_set(&r.name, name))
		return vb_err_set(e, VB_E_USAGE,
				  "topic name must be 1 to 255 bytes");
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	return t ? dec_topic_details(p, n, t, NULL, 0, e) : 0;
}

int vb_client_send(struct vb_client *c, const struct vb_send_hdr *h,
		   const struct vb_msg_in *msgs, uint32_t n, struct vb_err *e)
{
	vb_buf_reset(&c->out);
	vb_wire_send_encode(&c->out, h, msgs, n);
	return vb_client_call_frame(c, c->out.p, c->out.len, NULL, NULL, e);
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

int vb_client_flush(struct vb_client *c, const struct vb_ident *stream,
		    const struct vb_ident *topic, uint32_t partition,
		    int fsync, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_FLUSH_UNSAVED_BUFFER);
	r.stream = *stream;
	r.topic = *topic;
	r.partition_id = partition;
	r.flag = fsync ? 1 : 0;
	return vb_client_call(c, &r, NULL, NULL, e);
}
