/*
 * client.c - the Iggy TCP client (client.h): a queue of request frames,
 * a socket pumped without blocking, and answers taken out of a
 * vb_reader in order.  The blocking calls are the same machinery with a
 * poll() loop around it.  The bytes go through c->tr (net/transport.h),
 * plain or TLS: only connect and close know which.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/parse.h"
#include "client/client.h"
#include "net/sock.h"
#include "base/banned.h"

/* Pieces written by one writev. */
#define IOV_BATCH 64

void vb_client_init(struct vb_client *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	strlcpy(c->host, VB_DEFAULT_HOST, sizeof(c->host));
	c->port = VB_DEFAULT_PORT;
	c->timeout_ms = VB_CLIENT_TIMEOUT_MS;
	c->framing = &vb_framing_v08;
	vb_tr_init(&c->tr);
	vb_buf_init(&c->out);
	vb_buf_init(&c->enc);
	vb_buf_init(&c->pre_req);
	vb_buf_init(&c->pre_ans);
	vb_reader_init(&c->rd, c->framing, VB_CLIENT_RESP_MAX);
}

static void drop_queue(struct vb_client *c)
{
	vb_buf_reset(&c->out);
	c->nq = c->qhead = c->qdone = 0;
	c->queued = c->taken = 0;
	vb_reader_reset(&c->rd);
}

void vb_client_close(struct vb_client *c)
{
	vb_tr_close(&c->tr);
	c->fd = -1;
	c->dead = 0;
	c->local[0] = 0;
	c->no_wait_poll = 0;
	c->pre_ready = 0;
	drop_queue(c);
}

void vb_client_release(struct vb_client *c)
{
	vb_client_close(c);
	vb_tls_ctx_free(c->tls_ctx);
	c->tls_ctx = NULL;
	explicit_bzero(c->pass, sizeof(c->pass));
	vb_buf_release(&c->out);
	vb_buf_release(&c->enc);
	vb_buf_release(&c->pre_req);
	vb_buf_release(&c->pre_ans);
	vb_reader_release(&c->rd);
	free(c->q);
	c->q = NULL;
	c->qcap = 0;
}

/* Upstream's connection-string options that mean nothing to vibes. */
static int url_option_ignored(const char *k)
{
	static const char *const ignored[] = {
		"reconnection_retries",
		"reconnection_max_retries",
		"reconnection_interval",
		"reestablish_after",
		"reconnection_reestablish_after",
		"heartbeat_interval",
		"nodelay",
	};

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (strcmp(k, ignored[i]) == 0)
			return 1;
	return 0;
}

/* "?tls=true&tls_domain=NAME&tls_ca_file=FILE...", without the '?'. */
static int url_options(struct vb_client *c, char *q, struct vb_err *e)
{
	while (q && *q) {
		char *amp = strchr(q, '&'), *v;

		if (amp)
			*amp++ = 0;
		v = strchr(q, '=');
		if (v == NULL)
			return vb_err_set(e, VB_E_USAGE,
					  "address option '%s': expected NAME=VALUE",
					  q);
		*v++ = 0;
		if (strcmp(q, "tls") == 0) {
			if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
				return vb_err_set(
					e, VB_E_USAGE,
					"address option tls=%s: expected true or false",
					v);
			c->tls = v[0] == 't';
		} else if (strcmp(q, "tls_domain") == 0) {
			if (strlcpy(c->tls_domain, v, sizeof(c->tls_domain)) >=
			    sizeof(c->tls_domain))
				return vb_err_set(
					e, VB_E_USAGE,
					"address option tls_domain: too long");
		} else if (strcmp(q, "tls_ca_file") == 0) {
			if (strlcpy(c->tls_ca, v, sizeof(c->tls_ca)) >=
			    sizeof(c->tls_ca))
				return vb_err_set(
					e, VB_E_USAGE,
					"address option tls_ca_file: too long");
		} else if (strcmp(q, "tls_validate_certificate") == 0) {
			if (strcmp(v, "true") != 0)
				return vb_err_set(
					e, VB_E_USAGE,
					"address option tls_validate_certificate=%s: vibes always verifies certificates",
					v);
		} else if (!url_option_ignored(q)) {
			return vb_err_set(
				e, VB_E_USAGE,
				"address option '%s' is unknown (vibes(7) lists them)",
				q);
		}
		q = amp;
	}
	return 0;
}

int vb_client_set_addr(struct vb_client *c, const char *addr, struct vb_err *e)
{
	static const struct {
		const char *prefix;
		int tls;
	} schemes[] = {
		{ "iggy://", 0 },
		{ "iggy+tcp://", 0 },
		{ "tcp://", 0 },
		{ "iggys://", 1 },
	};
	char tmp[768], host[sizeof(c->host)], *hp = tmp, *at, *colon, *q;
	uint16_t port = c->port;
	int has_port, url = -1;

	if (strlcpy(tmp, addr, sizeof(tmp)) >= sizeof(tmp))
		return vb_err_set(e, VB_E_USAGE, "address too long");
	c->tls = 0;
	c->tls_domain[0] = 0;
	c->tls_ca[0] = 0;
	c->tls_pin[0] = 0;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(hp, schemes[i].prefix, strlen(schemes[i].prefix)) ==
		    0)
			url = (int)i;
	if (url >= 0) {
		c->tls = schemes[url].tls;
		hp = strstr(hp, "://") + 3;
		at = strrchr(hp, '@');
		q = strchr(at ? at : hp, '?');
		if (q) {
			*q++ = 0;
			if (url_options(c, q, e))
				return -1;
		}
		if (at) {
			*at = 0;
			colon = strchr(hp, ':');
			if (colon == NULL)
				return vb_err_set(
					e, VB_E_USAGE,
					"address '%s': expected user:password@ before the host",
					addr);
			*colon = 0;
			if (strlcpy(c->user, hp, sizeof(c->user)) >=
				    sizeof(c->user) ||
			    strlcpy(c->pass, colon + 1, sizeof(c->pass)) >=
				    sizeof(c->pass))
				return vb_err_set(
					e, VB_E_USAGE,
					"address '%s': credentials too long",
					addr);
			hp = at + 1; /* messages never show the password */
		}
		/* Drop a trailing path or slash. */
		hp[strcspn(hp, "/")] = 0;
	}
	if (vb_addr_split(hp, host, sizeof(host), &port, &has_port, e))
		return -1;
	if (has_port && port == 0)
		return vb_err_set(e, VB_E_USAGE,
				  "address '%s': port '0' is too small", hp);
	if (host[0])
		strlcpy(c->host, host, sizeof(c->host));
	c->port = port;
	return 0;
}

const char *vb_client_addr(const struct vb_client *c, char *buf, size_t size)
{
	snprintf(buf, size, strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host,
		 c->port);
	return buf;
}

/* Waits until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline, struct vb_err *e,
		   const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - vb_mono_ms();
		int n;

		if (left <= 0)
			return vb_err_set(e, VB_E_TIMEOUT, "%s: timed out",
					  what);
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return vb_err_sys(e, VB_E_UNAVAIL, "%s: poll", what);
	}
}

/*
 * TLS over the connected fd (owned from now on): the context for the CA
 * or pinned certificate asked for (made once, or again when that
 * changed), then the handshake within the deadline.
 */
static int tls_start(struct vb_client *c, int fd, int64_t deadline,
		     struct vb_err *e)
{
	char where[300], want[sizeof(c->tls_ctx_for)];

	snprintf(want, sizeof(want), "%s %s", c->tls_pin[0] ? "pin" : "ca",
		 c->tls_pin[0] ? c->tls_pin : c->tls_ca);
	if (c->tls_ctx && strcmp(c->tls_ctx_for, want) != 0) {
		vb_tls_ctx_free(c->tls_ctx);
		c->tls_ctx = NULL;
	}
	if (c->tls_ctx == NULL) {
		c->tls_ctx = vb_tls_client_ctx(c->tls_pin[0] ? NULL : c->tls_ca,
					       c->tls_pin, e);
		if (c->tls_ctx == NULL) {
			close(fd);
			return -1;
		}
		strlcpy(c->tls_ctx_for, want, sizeof(c->tls_ctx_for));
	}
	vb_client_addr(c, where, sizeof(where));
	if (vb_tr_tls(&c->tr, fd, c->tls_ctx, 0,
		      c->tls_domain[0] ? c->tls_domain : c->host, e) == 0) {
		for (;;) {
			int rc = vb_tr_handshake(&c->tr, where, e);

			if (rc == 1)
				return 0;
			if (rc < 0)
				break;
			if (wait_fd(fd, c->tr.want, deadline, e, "TLS")) {
				if (e && e->kind == VB_E_TIMEOUT)
					vb_err_set(e, VB_E_TIMEOUT,
						   "TLS: %s did not finish the handshake within %d ms",
						   where, c->timeout_ms);
				break;
			}
		}
	}
	c->tr.failed = 1; /* no goodbye on a connection never made */
	vb_tr_close(&c->tr);
	return -1;
}

int vb_client_connect(struct vb_client *c, struct vb_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char port[8], where[300];
	int gai, fd = -1, saved = 0, one = 1;
	int64_t deadline = vb_mono_ms() + c->timeout_ms;

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
		if (saved == EINPROGRESS)
			saved = ETIMEDOUT;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved ? saved : ECONNREFUSED;
		return vb_err_sys(e,
				  errno == ETIMEDOUT ? VB_E_TIMEOUT :
						       VB_E_UNAVAIL,
				  "cannot connect to %s",
				  vb_client_addr(c, where, sizeof(where)));
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->tls) {
		if (tls_start(c, fd, deadline, e))
			return -1;
	} else {
		vb_tr_plain(&c->tr, fd);
	}
	c->fd = fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		vb_sockaddr_str((struct sockaddr *)&ss, c->local,
				sizeof(c->local));
	return 0;
}

/* ---- the queue ---- */

static void add_piece(struct vb_client *c, const uint8_t *ext, size_t off,
		      size_t n)
{
	struct vb_client_piece *pc;

	if (c->qhead == c->nq)
		c->qhead = c->nq = c->qdone = 0;
	VB_ALLOC_GROW(c->q, c->nq + 1, c->qcap);
	pc = &c->q[c->nq++];
	pc->ext = ext;
	pc->off = off;
	pc->len = n;
}

/* Counts the whole frames in p[0..n) (the caller's to get right). */
static uint64_t count_frames(const struct vb_client *c, const uint8_t *p,
			     size_t n)
{
	uint64_t k = 0;
	size_t at = 0;

	while (n - at >= c->framing->req_hdr) {
		at += (size_t)c->framing->req_size(p + at);
		k++;
	}
	return k;
}

void vb_client_queue(struct vb_client *c, const uint8_t *frames, size_t n)
{
	size_t off;

	c->pre_ready = 0; /* another request comes first */
	if (vb_client_unsent(c) == 0)
		vb_buf_reset(&c->out);
	off = c->out.len;
	vb_buf_add(&c->out, frames, n);
	if (c->nq > c->qhead && c->q[c->nq - 1].ext == NULL &&
	    c->q[c->nq - 1].off + c->q[c->nq - 1].len == off)
		c->q[c->nq - 1].len += n; /* grow the last piece */
	else
		add_piece(c, NULL, off, n);
	c->queued += count_frames(c, frames, n);
}

void vb_client_queue_ref(struct vb_client *c, const uint8_t *frames, size_t n)
{
	c->pre_ready = 0;
	add_piece(c, frames, 0, n);
	c->queued += count_frames(c, frames, n);
}

void vb_client_queue_req(struct vb_client *c, const struct vb_req *r)
{
	vb_buf_reset(&c->enc);
	vb_wire_req_encode(&c->enc, r);
	vb_client_queue(c, c->enc.p, c->enc.len);
}

size_t vb_client_unsent(const struct vb_client *c)
{
	size_t n = 0;

	for (size_t i = c->qhead; i < c->nq; i++)
		n += c->q[i].len;
	return n - c->qdone;
}

short vb_client_events(const struct vb_client *c)
{
	return (short)(POLLIN |
		       (c->qhead < c->nq || c->tr.want_out ? POLLOUT : 0));
}

static int lost(struct vb_client *c, struct vb_err *e)
{
	vb_client_close(c);
	return -1;
}

/*
 * The transport failed: stop using the socket, but keep the answers that
 * arrived before, for vb_client_take to hand out; then it reports why.
 */
static int dead(struct vb_client *c, const struct vb_err *why, struct vb_err *e)
{
	c->tr.failed = 1; /* no goodbye on a failed connection */
	vb_tr_close(&c->tr);
	c->fd = -1;
	c->dead = 1;
	c->dead_err = *why;
	if (e)
		*e = *why;
	return -1;
}

/* Receives what has arrived; fills why and returns -1 at EOF or error. */
static int pump_in(struct vb_client *c, struct vb_err *why)
{
	char where[300];

	for (;;) {
		size_t room;
		uint8_t *d = vb_reader_space(&c->rd, &room);
		ssize_t r = vb_tr_read(&c->tr, d, room);

		if (r > 0) {
			vb_reader_commit(&c->rd, (size_t)r);
			/* the socket is drained, unless TLS holds more */
			if ((size_t)r < room && !vb_tr_pending(&c->tr))
				return 0;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r == 0)
			vb_err_set(why, VB_E_UNAVAIL,
				   "connection to %s closed by the server",
				   vb_client_addr(c, where, sizeof(where)));
		else
			vb_err_set(why, VB_E_UNAVAIL, "receiving from %s: %s",
				   vb_client_addr(c, where, sizeof(where)),
				   vb_tr_strerror(&c->tr, errno));
		return -1;
	}
}

static int pump_out(struct vb_client *c, struct vb_err *why)
{
	char where[300];

	while (c->qhead < c->nq) {
		struct iovec iov[IOV_BATCH];
		int n = 0;
		ssize_t w;

		for (size_t i = c->qhead; i < c->nq && n < IOV_BATCH; i++) {
			const struct vb_client_piece *pc = &c->q[i];
			const uint8_t *base = pc->ext ? pc->ext :
							c->out.p + pc->off;
			size_t skip = i == c->qhead ? c->qdone : 0;

			iov[n].iov_base = (void *)(base + skip);
			iov[n].iov_len = pc->len - skip;
			n++;
		}
		w = vb_tr_writev(&c->tr, iov, n);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return vb_err_set(why, VB_E_UNAVAIL,
					  "sending to %s: %s",
					  vb_client_addr(c, where,
							 sizeof(where)),
					  vb_tr_strerror(&c->tr, errno));
		while (w > 0) {
			size_t left = c->q[c->qhead].len - c->qdone;

			if ((size_t)w < left) {
				c->qdone += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			c->qdone = 0;
			c->qhead++;
		}
	}
	vb_buf_reset(&c->out);
	c->qhead = c->nq = c->qdone = 0;
	return 0;
}

int vb_client_pump(struct vb_client *c, struct vb_err *e)
{
	struct vb_err why, ignored;

	if (c->dead) {
		if (e)
			*e = c->dead_err;
		return -1;
	}
	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	if (pump_out(c, &why)) {
		/* The answers that came before the failure still count. */
		pump_in(c, &ignored);
		return dead(c, &why, e);
	}
	if (pump_in(c, &why))
		return dead(c, &why, e);
	return 0;
}

/* The first bytes of what is pending in the reader, printable. */
static const char *peek(const struct vb_client *c, char *buf, size_t size)
{
	const uint8_t *p = c->rd.buf.p + c->rd.pos;
	size_t n = vb_reader_pending(&c->rd), k = 0;

	for (size_t i = 0; i < n && k + 5 < size && i < 24; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			buf[k++] = (char)p[i];
		else
			k += (size_t)snprintf(buf + k, size - k, "\\x%02x",
					      p[i]);
	}
	buf[k] = 0;
	return buf;
}

/*
 * What came is a TLS record (an alert, a handshake): the server's port
 * speaks TLS, and this connection does not.
 */
static int tls_answer(const struct vb_client *c)
{
	const uint8_t *p = c->rd.buf.p + c->rd.pos;

	return !c->tls && vb_reader_pending(&c->rd) >= 3 &&
	       (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03 && p[2] <= 0x04;
}

/* An answer that means the server ended this connection. */
static int ends_connection(uint32_t status)
{
	return status == VB_ST_DISCONNECTED || status == VB_ST_STALE_CLIENT ||
	       status == VB_ST_CLIENT_NOT_FOUND;
}

int vb_client_take(struct vb_client *c, struct vb_reply *rep, struct vb_err *e)
{
	char where[300];
	int rc = vb_reader_next(&c->rd, rep, e);

	if ((rc < 0 || (rc == 0 && c->dead)) && tls_answer(c)) {
		vb_err_set(e, VB_E_PROTO,
			   "%s speaks TLS: connect with iggys://%s (or ?tls=true)",
			   vb_client_addr(c, where, sizeof(where)), where);
		return lost(c, e);
	}
	if (rc < 0) {
		char seen[64];

		vb_err_set(e, VB_E_PROTO,
			   "%s does not speak the Iggy protocol (it answered \"%s\")",
			   vb_client_addr(c, where, sizeof(where)),
			   peek(c, seen, sizeof(seen)));
		return lost(c, e);
	}
	if (rc == 0) {
		if (!c->dead)
			return 0;
		if (e)
			*e = c->dead_err;
		return lost(c, e);
	}
	if (ends_connection(rep->status)) {
		vb_client_status_err(e, rep->status, "the server");
		vb_err_prefix(e, "%s", vb_client_addr(c, where, sizeof(where)));
		return lost(c, e);
	}
	if (c->taken == c->queued) {
		vb_err_status(
			e, VB_E_PROTO, rep->status,
			"%s sent an answer to no request (status %u): it does not speak the Iggy protocol",
			vb_client_addr(c, where, sizeof(where)), rep->status);
		return lost(c, e);
	}
	c->taken++;
	return 1;
}

int vb_client_wait_ready(struct vb_client *c, size_t n, struct vb_err *e)
{
	int64_t deadline = vb_mono_ms() + c->timeout_ms;
	char where[300];

	for (;;) {
		if (vb_reader_ready(&c->rd, n) >= n)
			return 0;
		if (c->dead) {
			/* the answers that came are there; take reports the end */
			return 0;
		}
		if (c->fd < 0)
			return vb_err_set(e, VB_E_UNAVAIL, "not connected");
		vb_client_pump(c, NULL);
		if (c->dead || vb_reader_ready(&c->rd, n) >= n)
			continue;
		if (wait_fd(c->fd, vb_client_events(c), deadline, e, "poll")) {
			if (e && e->kind == VB_E_TIMEOUT)
				vb_err_set(e, VB_E_TIMEOUT,
					   "%s did not answer within %d ms",
					   vb_client_addr(c, where,
							  sizeof(where)),
					   c->timeout_ms);
			return lost(c, e);
		}
	}
}

int vb_client_next(struct vb_client *c, struct vb_reply *rep, struct vb_err *e)
{
	if (vb_client_wait_ready(c, 1, e))
		return -1;
	/* ready (or the transport ended): an answer, or why not */
	return vb_client_take(c, rep, e) == 1 ? 0 : -1;
}

int vb_client_status_err(struct vb_err *e, uint32_t status, const char *what)
{
	enum vb_errkind kind = VB_E_SERVER;

	switch (status) {
	case VB_ST_UNAUTHENTICATED:
	case VB_ST_UNAUTHORIZED:
	case VB_ST_INVALID_CREDENTIALS:
	case VB_ST_USER_INACTIVE:
		kind = VB_E_AUTH;
		break;
	case VB_ST_DISCONNECTED:
	case VB_ST_STALE_CLIENT:
	case VB_ST_CLIENT_NOT_FOUND:
		kind = VB_E_UNAVAIL;
		break;
	case VB_ST_IO_ERROR:
		kind = VB_E_TEMP;
		break;
	}
	if (status == VB_ST_DISCONNECTED)
		return vb_err_status(e, kind, status,
				     "%s: the server is shutting down (status 8)",
				     what);
	if (status == VB_ST_IO_ERROR)
		return vb_err_status(
			e, kind, status,
			"%s: the server could not write its storage (status 13000: disk full or failing)",
			what);
	return vb_err_status(e, kind, status, "%s: server error %u (%s)", what,
			     status, vb_status_name(status));
}

int vb_client_call_frame(struct vb_client *c, const uint8_t *frame, size_t n,
			 const uint8_t **payload, size_t *len, struct vb_err *e)
{
	struct vb_reply rep;
	uint32_t code = n >= 8 ? vb_ld32(frame + 4) : 0;
	const char *name;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	if (c->pre_ready && n == c->pre_req.len &&
	    memcmp(frame, c->pre_req.p, n) == 0) {
		/* answered with the login (vb_client_with_login) */
		c->pre_ready = 0;
		rep.status = c->pre_status;
		rep.payload = c->pre_ans.p;
		rep.len = c->pre_ans.len;
	} else {
		vb_client_queue(c, frame, n);
		if (vb_client_next(c, &rep, e))
			return -1;
	}
	if (rep.status != VB_ST_OK) {
		name = vb_cmd_name(code);
		return vb_client_status_err(e, rep.status,
					    name ? name : "request");
	}
	if (payload)
		*payload = rep.payload;
	if (len)
		*len = rep.len;
	return 0;
}

int vb_client_call(struct vb_client *c, const struct vb_req *r,
		   const uint8_t **payload, size_t *len, struct vb_err *e)
{
	vb_buf_reset(&c->enc);
	vb_wire_req_encode(&c->enc, r);
	return vb_client_call_frame(c, c->enc.p, c->enc.len, payload, len, e);
}

void vb_client_with_login(struct vb_client *c, const struct vb_req *r)
{
	vb_buf_reset(&c->pre_req);
	vb_wire_req_encode(&c->pre_req, r);
	c->pre_ready = 0;
}

/*
 * The login's answer, then the one of the request sent with it (kept in
 * pre_ans whatever the login's outcome, so no answer is left unread).
 */
static int take_login(struct vb_client *c, uint32_t *user_id, struct vb_err *e)
{
	struct vb_reply rep, pre;
	int rc;

	if (vb_client_next(c, &rep, e))
		return -1;
	rc = rep.status == VB_ST_OK ?
		     0 :
		     vb_client_status_err(e, rep.status, "login_user");
	*user_id = rc == 0 && rep.len >= 4 ? vb_ld32(rep.payload) : 0;
	if (c->pre_req.len == 0)
		return rc;
	if (vb_client_next(c, &pre, rc ? NULL : e))
		return -1;
	vb_buf_reset(&c->pre_ans);
	vb_buf_add(&c->pre_ans, pre.payload, pre.len);
	c->pre_status = pre.status;
	c->pre_ready = rc == 0;
	return rc;
}

int vb_client_login(struct vb_client *c, const char *user, const char *pass,
		    uint32_t *user_id, struct vb_err *e)
{
	static const char version[] = "vibes-0.1.0";
	struct vb_req r;
	uint32_t uid;
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
	vb_buf_reset(&c->enc);
	vb_wire_req_encode(&c->enc, &r);
	explicit_bzero(&r.secret, sizeof(r.secret));
	rc = c->fd < 0 ? vb_err_set(e, VB_E_UNAVAIL, "not connected") : 0;
	if (rc == 0) {
		vb_client_queue(c, c->enc.p, c->enc.len);
		if (c->pre_req.len)
			vb_client_queue(c, c->pre_req.p, c->pre_req.len);
		explicit_bzero(c->enc.p, c->enc.len);
		rc = take_login(c, &uid, e);
	}
	explicit_bzero(c->enc.p, c->enc.len);
	if (rc) {
		/* A name or password the server cannot hold is refused too. */
		if (e && e->kind == VB_E_SERVER &&
		    (e->status == VB_ST_INVALID_USERNAME ||
		     e->status == VB_ST_INVALID_PASSWORD)) {
			char where[300];
			int name = e->status == VB_ST_INVALID_USERNAME;

			/* control.md 6.3: names 3..50 bytes, passwords 3..100 */
			return vb_err_status(
				e, VB_E_AUTH, e->status,
				"login as '%s' refused: %s takes no such %s (status %u, %s: Iggy %s %s); check the %s given",
				user, vb_client_addr(c, where, sizeof(where)),
				name ? "user name" : "password", e->status,
				vb_status_name(e->status),
				name ? "user names have" : "passwords have",
				name ? "3 to 50 bytes" : "3 to 100 bytes",
				name ? "user name" : "password");
		}
		if (e && e->kind == VB_E_AUTH)
			vb_err_prefix(e, "login as '%s' refused", user);
		return -1;
	}
	if (user_id)
		*user_id = uid;
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
			 struct vb_stream_info *s, int *found, struct vb_err *e)
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

void vb_client_topic_req(struct vb_req *r, const struct vb_ident *stream,
			 const struct vb_ident *topic)
{
	vb_req_init(r, VB_CMD_GET_TOPIC);
	r->stream = *stream;
	r->topic = *topic;
}

int vb_client_get_topic(struct vb_client *c, const struct vb_ident *stream,
			const struct vb_ident *topic, struct vb_topic_info *t,
			struct vb_partition_info *parts, uint32_t nparts,
			int *found, struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_client_topic_req(&r, stream, topic);
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
	return vb_client_create_topic_with(c, stream, name, partitions, 0, 0, t,
					   e);
}

int vb_client_create_topic_with(struct vb_client *c,
				const struct vb_ident *stream, const char *name,
				uint32_t partitions, uint64_t expiry_us,
				uint64_t max_size, struct vb_topic_info *t,
				struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;

	vb_req_init(&r, VB_CMD_CREATE_TOPIC);
	r.stream = *stream;
	r.count = partitions;
	r.compression = VB_COMPRESSION_NONE;
	r.message_expiry = expiry_us;
	r.max_topic_size = max_size;
	r.replication_factor = 1;
	if (vb_name_set(&r.name, name))
		return vb_err_set(e, VB_E_USAGE,
				  "topic name must be 1 to 255 bytes");
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	return t ? dec_topic_details(p, n, t, NULL, 0, e) : 0;
}

/* Decodes concatenated records of `size` bytes at least each. */
typedef int (*dec_fn)(struct vb_rd *r, void *rec, struct vb_err *e);

static int list(struct vb_client *c, const struct vb_req *r, dec_fn dec,
		size_t size, void **out, size_t *n, struct vb_err *e)
{
	const uint8_t *p;
	size_t len, cap = 0;
	struct vb_rd rd;
	uint8_t *recs = NULL;

	*out = NULL;
	*n = 0;
	if (vb_client_call(c, r, &p, &len, e))
		return -1;
	vb_rd_init(&rd, p, len);
	while (vb_rd_left(&rd) > 0) {
		VB_ALLOC_GROW(recs, (*n + 1) * size, cap);
		if (dec(&rd, recs + *n * size, e)) {
			free(recs);
			*n = 0;
			return -1;
		}
		(*n)++;
	}
	*out = recs;
	return 0;
}

static int dec_stream(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_stream(r, rec, e);
}

static int dec_topic(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_topic(r, rec, e);
}

static int dec_group(struct vb_rd *r, void *rec, struct vb_err *e)
{
	return vb_wire_dec_group(r, rec, e);
}

int vb_client_get_streams(struct vb_client *c, struct vb_stream_info **out,
			  size_t *n, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_STREAMS);
	return list(c, &r, dec_stream, sizeof(**out), (void **)out, n, e);
}

int vb_client_get_topics(struct vb_client *c, const struct vb_ident *stream,
			 struct vb_topic_info **out, size_t *n,
			 struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_TOPICS);
	r.stream = *stream;
	return list(c, &r, dec_topic, sizeof(**out), (void **)out, n, e);
}

int vb_client_get_groups(struct vb_client *c, const struct vb_ident *stream,
			 const struct vb_ident *topic,
			 struct vb_group_info **out, size_t *n,
			 struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_GET_CONSUMER_GROUPS);
	r.stream = *stream;
	r.topic = *topic;
	return list(c, &r, dec_group, sizeof(**out), (void **)out, n, e);
}

int vb_client_update_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_topic_info *t, struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_UPDATE_TOPIC);
	r.stream = *stream;
	r.topic = *topic;
	r.compression = t->compression;
	r.message_expiry = t->message_expiry;
	r.max_topic_size = t->max_topic_size;
	r.replication_factor = t->replication_factor;
	r.name = t->name;
	return vb_client_call(c, &r, NULL, NULL, e);
}

static int two_ids(struct vb_client *c, uint32_t code,
		   const struct vb_ident *stream, const struct vb_ident *topic,
		   struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, code);
	r.stream = *stream;
	r.topic = *topic;
	return vb_client_call(c, &r, NULL, NULL, e);
}

int vb_client_delete_topic(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic, struct vb_err *e)
{
	return two_ids(c, VB_CMD_DELETE_TOPIC, stream, topic, e);
}

int vb_client_purge_topic(struct vb_client *c, const struct vb_ident *stream,
			  const struct vb_ident *topic, struct vb_err *e)
{
	return two_ids(c, VB_CMD_PURGE_TOPIC, stream, topic, e);
}

int vb_client_send(struct vb_client *c, const struct vb_send_hdr *h,
		   const struct vb_msg_in *msgs, uint32_t n, struct vb_err *e)
{
	vb_buf_reset(&c->enc);
	vb_wire_send_encode(&c->enc, h, msgs, n);
	return vb_client_call_frame(c, c->enc.p, c->enc.len, NULL, NULL, e);
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

int vb_client_poll_wait(struct vb_client *c, const struct vb_req *r,
			const uint8_t **payload, size_t *len, struct vb_err *e)
{
	if (c->no_wait_poll)
		return 0;
	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	vb_buf_reset(&c->enc);
	vb_wire_req_encode(&c->enc, r);
	vb_client_queue(c, c->enc.p, c->enc.len);
	return vb_client_wait_answer(c, r, payload, len, e);
}

int vb_client_wait_answer(struct vb_client *c, const struct vb_req *r,
			  const uint8_t **payload, size_t *len,
			  struct vb_err *e)
{
	uint64_t wait_ms = r->wait.max_wait_us / 1000 + 1;
	int saved = c->timeout_ms, rc;
	struct vb_reply rep;

	if (wait_ms > 3600000)
		wait_ms = 3600000;
	c->timeout_ms = saved + (int)wait_ms;
	rc = vb_client_next(c, &rep, e);
	c->timeout_ms = saved;
	if (rc)
		return -1;
	if (rep.status == VB_ST_INVALID_COMMAND) {
		c->no_wait_poll = 1;
		return 0;
	}
	if (rep.status != VB_ST_OK)
		return vb_client_status_err(e, rep.status,
					    vb_cmd_name(r->code));
	if (payload)
		*payload = rep.payload;
	if (len)
		*len = rep.len;
	return 1;
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

int vb_client_delete_group(struct vb_client *c, const struct vb_ident *stream,
			   const struct vb_ident *topic,
			   const struct vb_ident *group, struct vb_err *e)
{
	return group_call(c, VB_CMD_DELETE_CONSUMER_GROUP, stream, topic, group,
			  e);
}

int vb_client_flush(struct vb_client *c, const struct vb_ident *stream,
		    const struct vb_ident *topic, uint32_t partition, int fsync,
		    struct vb_err *e)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_FLUSH_UNSAVED_BUFFER);
	r.stream = *stream;
	r.topic = *topic;
	r.partition_id = partition;
	r.flag = fsync ? 1 : 0;
	return vb_client_call(c, &r, NULL, NULL, e);
}
