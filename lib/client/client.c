/*
 * client.c - the Iggy TCP client (client.h): a queue of request frames,
 * a socket pumped without blocking, and answers taken out of a
 * vb_reader in order.  The blocking calls are the same machinery with a
 * poll() loop around it.  Which protocol is spoken is settled here, at
 * connect; the 0.9 session (identity, numbering, lock-step, evictions,
 * transient answers) lives here too, so nothing above knows of it but the
 * bodies that differ.  The commands themselves are in calls.c.  The
 * bytes go through c->tr (net/transport.h), plain or TLS: only connect
 * and close know which.
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
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/parse.h"
#include "client/client.h"
#include "client/client-int.h"
#include "net/sock.h"
#include "base/banned.h"

/* Pieces written by one writev. */
#define IOV_BATCH 64

int vb_proto_parse(const char *s)
{
	if (strcmp(s, "0.8") == 0)
		return VB_PROTO_08;
	if (strcmp(s, "0.9") == 0)
		return VB_PROTO_09;
	if (strcmp(s, "auto") == 0)
		return VB_PROTO_AUTO;
	return -1;
}

const char *vb_proto_name(int proto)
{
	return proto == VB_PROTO_08 ? "0.8" :
	       proto == VB_PROTO_09 ? "0.9" :
				      "auto";
}

void vb_client_init(struct vb_client *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	strlcpy(c->host, VB_DEFAULT_HOST, sizeof(c->host));
	c->port = VB_DEFAULT_PORT;
	c->timeout_ms = VB_CLIENT_TIMEOUT_MS;
	c->framing = &vb_framing_v08;
	c->protocol = VB_PROTO_08;
	vb_tr_init(&c->tr);
	vb_buf_init(&c->out);
	vb_buf_init(&c->enc);
	vb_buf_init(&c->proto_cache);
	vb_buf_init(&c->pre_req);
	vb_buf_init(&c->pre_ans);
	vb_reader_init(&c->rd, c->framing, VB_CLIENT_RESP_MAX);
}

static void drop_queue(struct vb_client *c)
{
	vb_buf_reset(&c->out);
	c->nq = c->qhead = c->qdone = 0;
	c->queued = c->taken = 0;
	c->wframes = 0;
	c->wleft = 0;
	c->nsent = c->sent_head = 0;
	vb_reader_reset(&c->rd);
}

void vb_client_close(struct vb_client *c)
{
	vb_tr_close(&c->tr);
	c->fd = -1;
	c->dead = 0;
	c->local[0] = 0;
	c->rx = 0;
	c->bound = 0;
	c->id.session = 0;
	c->id.request = 0;
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
	vb_buf_release(&c->proto_cache);
	vb_buf_release(&c->pre_req);
	vb_buf_release(&c->pre_ans);
	vb_reader_release(&c->rd);
	free(c->q);
	free(c->sent);
	c->q = NULL;
	c->sent = NULL;
	c->qcap = c->sent_cap = 0;
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
		} else if (strcmp(q, "protocol") == 0) {
			int proto = vb_proto_parse(v);

			if (proto < 0)
				return vb_err_set(
					e, VB_E_USAGE,
					"address option protocol=%s: use 0.8, 0.9 or auto",
					v);
			c->protocol = proto;
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
	c->unix_path[0] = 0;
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

/* The connection alone: the local socket, else TCP (and TLS). */
static int tcp_connect(struct vb_client *c, struct vb_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char port[8], where[300];
	int gai, fd = -1, saved = 0, one = 1;
	int64_t deadline = vb_mono_ms() + c->timeout_ms;

	vb_client_close(c);
	c->via_unix = 0;
	if (c->unix_path[0] && !c->tls && !c->bulk &&
	    (fd = vb_net_connect_unix(c->unix_path)) >= 0) {
		vb_tr_plain(&c->tr, fd);
		c->via_unix = 1;
		goto up;
	}
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
up:
	c->fd = fd;
	/* zeroed: a local socket's name ends at its first NUL (net/sock.h) */
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		vb_sockaddr_str((struct sockaddr *)&ss, c->local,
				sizeof(c->local));
	return 0;
}

void vb_client_use(struct vb_client *c, const struct vb_framing *f)
{
	c->framing = f;
	c->rd.f = f;
	c->window = f->gen == VB_GEN_09 ? VB_CLIENT_WINDOW_V09 : 0;
	vb_reader_reset(&c->rd);
}

static int zero_id(const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		if (p[i])
			return 0;
	return 1;
}

void vb_client_new_id(struct vb_client *c)
{
	static uint64_t n;

	while (getrandom(c->id.client, sizeof(c->id.client), 0) !=
		       (ssize_t)sizeof(c->id.client) ||
	       zero_id(c->id.client)) {
		/* no entropy (an old kernel, a seccomp jail): still unique */
		uint64_t a = (uint64_t)vb_wall_us(),
			 b = (uint64_t)getpid() << 32 | ++n;

		memcpy(c->id.client, &a, 8);
		memcpy(c->id.client + 8, &b, 8);
		if (!zero_id(c->id.client))
			break;
	}
}

static const char *printable(const uint8_t *p, size_t n, char *buf,
			     size_t size);

/* What the first bytes of an answer to the 0.9 probe say. */
enum probe { PROBE_MORE, PROBE_V08, PROBE_V09, PROBE_NEITHER, PROBE_TLS };

/*
 * A 0.8 server reads the probe's first 8 bytes (its checksum field, 0)
 * as a frame of length 0 and answers status 3 (control.md §1.3): 8 bytes,
 * a status, a zero length.  A 0.9 reply begins with its checksum (0) and
 * is 256 bytes with command 8 or 13 at byte 60.
 */
static enum probe probe_read(const uint8_t *p, size_t n)
{
	/* a TLS record (an alert): the port speaks TLS, we do not */
	if (n >= 3 && (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03 &&
	    p[2] <= 0x04)
		return PROBE_TLS;
	if (n >= 8 && vb_ld32(p) != 0 && vb_ld32(p + 4) == 0)
		return PROBE_V08;
	if (n < VB_VSR_HDR)
		return PROBE_MORE;
	if ((p[60] == VB_VSR_REPLY || p[60] == VB_VSR_EVICTION) &&
	    vb_ld32(p + 48) >= VB_VSR_HDR)
		/* the bundled server: 0.8 is its native protocol */
		return vb_vsr_also_v08(p) ? PROBE_V08 : PROBE_V09;
	return PROBE_NEITHER;
}

/*
 * The probe: a 0.9 ping before login (the one request 0.9 allows then).
 * 1: the server speaks 0.9 (the connection goes on), 0: it does not (the
 * connection is closed: a 0.8 server's stream is out of step now).
 */
static int probe(struct vb_client *c, struct vb_err *e)
{
	struct vb_buf b = VB_BUF_INIT;
	struct vb_req r;
	uint8_t got[VB_VSR_HDR];
	size_t n = 0, sent = 0;
	int64_t deadline = vb_mono_ms() + c->timeout_ms;
	enum probe what = PROBE_MORE;
	char where[300];
	int rc = -1;

	vb_client_new_id(c);
	vb_req_init(&r, VB_CMD_PING);
	vb_wire_req_frame(&b, &vb_framing_v09, &r);
	c->id.request = 0;
	c->id.session = 0;
	vb_vsr_req_stamp(b.p, b.len, &c->id, 0);
	while (sent < b.len) {
		ssize_t w = vb_tr_write(&c->tr, b.p + sent, b.len - sent, 0);

		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			vb_err_set(e, VB_E_UNAVAIL, "sending to %s: %s",
				   vb_client_addr(c, where, sizeof(where)),
				   vb_tr_strerror(&c->tr, errno));
			goto out;
		}
		if (wait_fd(c->fd, c->tr.want ? c->tr.want : POLLOUT, deadline,
			    e, "probe"))
			goto timeout;
	}
	while (what == PROBE_MORE) {
		ssize_t k = vb_tr_read(&c->tr, got + n, sizeof(got) - n);

		if (k > 0) {
			n += (size_t)k;
			what = probe_read(got, n);
			continue;
		}
		if (k == 0) {
			/* closed on a frame it could not read: not 0.9 */
			what = PROBE_V08;
			break;
		}
		if (errno == ECONNRESET) {
			what = PROBE_V08;
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			vb_err_set(e, VB_E_UNAVAIL, "receiving from %s: %s",
				   vb_client_addr(c, where, sizeof(where)),
				   vb_tr_strerror(&c->tr, errno));
			goto out;
		}
		if (vb_tr_pending(&c->tr))
			continue;
		if (wait_fd(c->fd, c->tr.want ? c->tr.want : POLLIN, deadline,
			    e, "probe"))
			goto timeout;
	}
	if (what == PROBE_TLS && !c->tls) {
		vb_err_set(e, VB_E_PROTO,
			   "%s speaks TLS: connect with iggys://%s (or ?tls=true)",
			   vb_client_addr(c, where, sizeof(where)), where);
		goto out;
	}
	if (what == PROBE_NEITHER || what == PROBE_TLS) {
		char seen[64];

		vb_err_set(e, VB_E_PROTO,
			   "%s does not speak the Iggy protocol (it answered \"%s\")",
			   vb_client_addr(c, where, sizeof(where)),
			   printable(got, n, seen, sizeof(seen)));
		goto out;
	}
	rc = what == PROBE_V09;
	goto out;
timeout:
	vb_err_set(e, VB_E_TIMEOUT, "%s did not answer within %d ms",
		   vb_client_addr(c, where, sizeof(where)), c->timeout_ms);
out:
	vb_buf_release(&b);
	if (rc <= 0) {
		c->tr.failed = 1; /* the stream is out of step: no goodbye */
		vb_tr_close(&c->tr);
		c->fd = -1;
		c->local[0] = 0;
	}
	return rc;
}

/*
 * Settles the protocol of the connection just made: from the cache when
 * allowed and it says 0.8 (unconfirmed: see vb_client_login), else by the
 * probe, whose finding the cache then keeps.
 */
static int settle(struct vb_client *c, int use_cache, struct vb_err *e)
{
	const char *cache = c->proto_cache.len ? (char *)c->proto_cache.p :
						 NULL;
	char addr[300];
	unsigned hint = 0;
	int rc;

	vb_client_addr(c, addr, sizeof(addr));
	hint = vb_proto_cache_get(cache, addr);
	if (use_cache && hint == VB_GEN_08) {
		vb_client_use(c, &vb_framing_v08);
		c->proto_guess = 1;
		return 0;
	}
	rc = probe(c, e);
	if (rc < 0)
		return -1;
	if (rc == 0 && tcp_connect(c, e))
		return -1;
	vb_client_use(c, rc ? &vb_framing_v09 : &vb_framing_v08);
	if (hint != c->framing->gen)
		vb_proto_cache_put(cache, addr, c->framing->gen);
	return 0;
}

int vb_client_connect(struct vb_client *c, struct vb_err *e)
{
	if (tcp_connect(c, e))
		return -1;
	c->proto_guess = 0;
	if (c->protocol == VB_PROTO_08 || c->protocol == VB_PROTO_09) {
		vb_client_use(c, vb_framing_of((unsigned)c->protocol));
		return 0;
	}
	/* the bundled server: both, and 0.8 is what it stores */
	if (c->via_unix) {
		vb_client_use(c, &vb_framing_v08);
		return 0;
	}
	return settle(c, 1, e);
}

int vb_client_connect_as(struct vb_client *c, const struct vb_framing *f,
			 struct vb_err *e)
{
	if (tcp_connect(c, e))
		return -1;
	c->proto_guess = 0;
	vb_client_use(c, f);
	return 0;
}

int vb_client_reprobe(struct vb_client *c, struct vb_err *e)
{
	if (tcp_connect(c, e))
		return -1;
	c->proto_guess = 0;
	return settle(c, 0, e);
}

/* ---- the queue ---- */

static void add_piece(struct vb_client *c, const uint8_t *ext, size_t off,
		      size_t n)
{
	struct vb_client_piece *pc;

	if (n == 0)
		return; /* written at once: vb_client_has_unsent relies on it */
	if (c->qhead == c->nq)
		c->qhead = c->nq = c->qdone = 0;
	VB_ALLOC_GROW(c->q, c->nq + 1, c->qcap);
	pc = &c->q[c->nq++];
	pc->ext = ext;
	pc->off = off;
	pc->len = n;
}

/* Remembers a 0.9 request queued, for its answer's check. */
static void push_sent(struct vb_client *c, uint32_t code, uint8_t op,
		      uint64_t request)
{
	struct vb_client_sent *s;

	if (c->nsent == c->sent_cap) {
		size_t ncap = vb_alloc_nr(c->sent_cap, c->nsent + 1, 16);
		struct vb_client_sent *ns = vb_xreallocarray(NULL, ncap,
							     sizeof(*ns));

		for (size_t k = 0; k < c->nsent; k++)
			ns[k] = c->sent[(c->sent_head + k) % c->sent_cap];
		free(c->sent);
		c->sent = ns;
		c->sent_cap = ncap;
		c->sent_head = 0;
	}
	s = &c->sent[(c->sent_head + c->nsent) % c->sent_cap];
	s->code = code;
	s->op = op;
	s->request = request;
	c->nsent++;
}

/*
 * The identity of a 0.9 request (framing.md §4.3): Register carries
 * request and session 0; metadata writes and Logout the counter, which
 * then advances; partition writes and reads the counter as it is (unless
 * v09-pins.h says partition writes advance it too).
 */
static void stamp(struct vb_client *c, uint8_t *f, size_t size)
{
	uint8_t op = f[176];
	struct vb_vsr_id id = c->id;
	int sum = 0;

	if (op == VB_OP_REGISTER) {
		id.request = 0;
		id.session = 0;
		sum = VB_V09_STAMP_METADATA;
	} else if (op == VB_OP_LOGOUT || vb_op_metadata(op)) {
		c->id.request++;
		sum = VB_V09_STAMP_METADATA;
	} else if (vb_op_partition(op)) {
		if (VB_V09_PARTITION_ADVANCES)
			c->id.request++;
		sum = VB_V09_STAMP_PARTITION;
	}
	if (!c->bound)
		id.session = 0;
	vb_vsr_req_stamp(f, size, &id, sum);
	push_sent(c, c->framing->req_code(f), op, id.request);
}

/*
 * The identity stamp() gave the request s, written again into f (its
 * unstamped bytes): the same bytes, for a retry (framing.md §9.2).
 */
static void restamp(struct vb_client *c, uint8_t *f, size_t size,
		    const struct vb_client_sent *s)
{
	uint8_t op = f[176];
	struct vb_vsr_id id = c->id;
	int sum = 0;

	id.request = s->request;
	if (op == VB_OP_REGISTER) {
		id.session = 0;
		sum = VB_V09_STAMP_METADATA;
	} else if (op == VB_OP_LOGOUT || vb_op_metadata(op)) {
		sum = VB_V09_STAMP_METADATA;
	} else if (vb_op_partition(op)) {
		sum = VB_V09_STAMP_PARTITION;
	}
	if (!c->bound)
		id.session = 0;
	vb_vsr_req_stamp(f, size, &id, sum);
}

/*
 * Counts the whole frames in p[0..n) (the caller's to get right) and,
 * over 0.9, stamps each with the session's identity.
 */
static uint64_t count_frames(struct vb_client *c, uint8_t *p, size_t n)
{
	const struct vb_framing *f = c->framing;
	uint64_t k = 0;
	size_t at = 0;

	while (n - at >= f->req_hdr) {
		size_t size = (size_t)f->req_size(p + at);

		if (f->gen == VB_GEN_09 && size <= n - at)
			stamp(c, p + at, size);
		at += size;
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
	c->queued += count_frames(c, c->out.p + off, n);
}

void vb_client_queue_ref(struct vb_client *c, uint8_t *frames, size_t n)
{
	c->pre_ready = 0;
	add_piece(c, frames, 0, n);
	c->queued += count_frames(c, frames, n);
}

void vb_client_requeue(struct vb_client *c, const uint8_t *frame, size_t n,
		       const struct vb_client_sent *s)
{
	size_t off;

	if (vb_client_unsent(c) == 0)
		vb_buf_reset(&c->out);
	off = c->out.len;
	vb_buf_add(&c->out, frame, n);
	add_piece(c, NULL, off, n);
	c->queued++;
	push_sent(c, s->code, s->op, s->request);
}

void vb_client_queue_req(struct vb_client *c, const struct vb_req *r)
{
	vb_buf_reset(&c->enc);
	vb_wire_req_frame(&c->enc, c->framing, r);
	vb_client_queue(c, c->enc.p, c->enc.len);
}

size_t vb_client_unsent(const struct vb_client *c)
{
	size_t n = 0;

	for (size_t i = c->qhead; i < c->nq; i++)
		n += c->q[i].len;
	return n - c->qdone;
}

/* Answers that have come in whole, taken or not. */
static uint64_t arrived(const struct vb_client *c)
{
	uint64_t out = c->wframes - c->taken;

	return c->taken + vb_reader_ready(&c->rd, out ? (size_t)out : 1);
}

/* The window lets the next frame go (a frame begun may always end). */
static int may_write(const struct vb_client *c)
{
	return c->window == 0 || c->wleft > 0 ||
	       c->wframes - arrived(c) < c->window;
}

short vb_client_events(const struct vb_client *c)
{
	return (short)(POLLIN |
		       ((c->qhead < c->nq && may_write(c)) || c->tr.want_out ?
				POLLOUT :
				0));
}

int vb_client_lost(struct vb_client *c, struct vb_err *e)
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

/*
 * Receives what has arrived; fills why and returns -1 at EOF or error.
 * *got says whether anything came.
 */
static int pump_in(struct vb_client *c, struct vb_err *why, int *got)
{
	char where[300];

	for (;;) {
		size_t room;
		uint8_t *d = vb_reader_space(&c->rd, &room);
		ssize_t r = vb_tr_read(&c->tr, d, room);

		if (r > 0) {
			vb_reader_commit(&c->rd, (size_t)r);
			c->rx += (uint64_t)r;
			*got = 1;
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

/* Marks w bytes written from the head of the queue. */
static void written(struct vb_client *c, size_t w)
{
	while (w > 0) {
		size_t left = c->q[c->qhead].len - c->qdone;

		if (w < left) {
			c->qdone += w;
			break;
		}
		w -= left;
		c->qdone = 0;
		c->qhead++;
	}
}

/* Writes what the socket takes; *put says whether anything went. */
static int pump_out(struct vb_client *c, struct vb_err *why, int *put)
{
	char where[300];

	while (c->qhead < c->nq) {
		struct iovec iov[IOV_BATCH];
		int n = 0;
		size_t limit = SIZE_MAX;
		ssize_t w;

		if (c->window) {
			const struct vb_client_piece *pc = &c->q[c->qhead];
			const uint8_t *base = pc->ext ? pc->ext :
							c->out.p + pc->off;

			if (c->wleft == 0) {
				/* a frame boundary: the window decides */
				if (!may_write(c))
					return 0;
				c->wleft = (size_t)c->framing->req_size(
					base + c->qdone);
			}
			limit = c->wleft;
		}
		for (size_t i = c->qhead;
		     i < c->nq && n < IOV_BATCH && limit > 0; i++) {
			const struct vb_client_piece *pc = &c->q[i];
			const uint8_t *base = pc->ext ? pc->ext :
							c->out.p + pc->off;
			size_t skip = i == c->qhead ? c->qdone : 0;
			size_t len = pc->len - skip;

			if (len > limit)
				len = limit;
			iov[n].iov_base = (void *)(base + skip);
			iov[n].iov_len = len;
			limit -= len;
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
		*put = 1;
		written(c, (size_t)w);
		if (c->window) {
			c->wleft -= (size_t)w;
			if (c->wleft == 0)
				c->wframes++;
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
	for (;;) {
		int put = 0, got = 0;

		if (pump_out(c, &why, &put)) {
			/* The answers that came before the failure count. */
			pump_in(c, &ignored, &got);
			return dead(c, &why, e);
		}
		if (pump_in(c, &why, &got))
			return dead(c, &why, e);
		/* lock-step: an answer that came may let the next frame go */
		if (!c->window || !got || c->qhead == c->nq || !may_write(c))
			return 0;
	}
}

/* The first bytes of p[0..n), printable. */
static const char *printable(const uint8_t *p, size_t n, char *buf, size_t size)
{
	size_t k = 0;

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

/* The first bytes of what is pending in the reader, printable. */
static const char *peek(const struct vb_client *c, char *buf, size_t size)
{
	return printable(c->rd.buf.p + c->rd.pos, vb_reader_pending(&c->rd),
			 buf, size);
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
		return vb_client_lost(c, e);
	}
	if (rc < 0) {
		char seen[64];

		vb_err_set(e, VB_E_PROTO,
			   "%s does not speak the Iggy protocol (it answered \"%s\")",
			   vb_client_addr(c, where, sizeof(where)),
			   peek(c, seen, sizeof(seen)));
		return vb_client_lost(c, e);
	}
	if (rc == 0) {
		if (!c->dead)
			return 0;
		if (e)
			*e = c->dead_err;
		return vb_client_lost(c, e);
	}
	if (rep->evicted) {
		/* the session is gone, whatever was asked (framing.md §7) */
		vb_client_reply_err(e, rep, "the server");
		vb_err_prefix(e, "%s", vb_client_addr(c, where, sizeof(where)));
		return vb_client_lost(c, e);
	}
	if (c->framing->gen == VB_GEN_08 && ends_connection(rep->status)) {
		vb_client_status_err(e, rep->status, "the server");
		vb_err_prefix(e, "%s", vb_client_addr(c, where, sizeof(where)));
		return vb_client_lost(c, e);
	}
	if (c->taken == c->queued) {
		vb_err_status(
			e, VB_E_PROTO, rep->status,
			"%s sent an answer to no request (status %u): it does not speak the Iggy protocol",
			vb_client_addr(c, where, sizeof(where)), rep->status);
		return vb_client_lost(c, e);
	}
	if (c->framing->gen == VB_GEN_09) {
		const struct vb_client_sent *s = &c->sent[c->sent_head];

		/* lock-step: the answer is the oldest request's */
		if (rep->request != s->request ||
		    (rep->op != s->op && !(s->op == VB_OP_NR && rep->op == 0 &&
					   rep->status != 0))) {
			vb_err_set(e, VB_E_PROTO,
				   "%s answered request %llu (operation %u) when request %llu (operation %u) was due",
				   vb_client_addr(c, where, sizeof(where)),
				   (unsigned long long)rep->request, rep->op,
				   (unsigned long long)s->request, s->op);
			return vb_client_lost(c, e);
		}
		c->last = *s;
		c->sent_head = (c->sent_head + 1) % c->sent_cap;
		c->nsent--;
	}
	c->taken++;
	return 1;
}

int vb_client_wait_ready(struct vb_client *c, size_t n, struct vb_err *e)
{
	int64_t deadline = vb_mono_ms() + c->timeout_ms;
	char where[300];

	if (c->first_ms > 0 && c->rx == 0 && c->first_ms < c->timeout_ms)
		deadline = vb_mono_ms() + c->first_ms;
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
					   c->rx == 0 && c->first_ms > 0 ?
						   c->first_ms :
						   c->timeout_ms);
			return vb_client_lost(c, e);
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
	case VB_ST_INVALID_PAT:
		kind = VB_E_AUTH;
		break;
	case VB_ST_DISCONNECTED:
	case VB_ST_STALE_CLIENT:
	case VB_ST_CLIENT_NOT_FOUND:
		kind = VB_E_UNAVAIL;
		break;
	case VB_ST_IO_ERROR:
	case VB_ST_TRANSIENT_NOT_COMMITTED:
	case VB_ST_TRANSIENT_NOT_ACCEPTED:
		kind = VB_E_TEMP;
		break;
	case VB_ST_INCOMPATIBLE_PROTOCOL_VERSION:
		kind = VB_E_PROTO;
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
	if (status == VB_ST_TRANSIENT_NOT_COMMITTED)
		return vb_err_status(
			e, kind, status,
			"%s: the cluster did not commit it in time (status 57: it may yet be done)",
			what);
	if (status == VB_ST_TRANSIENT_NOT_ACCEPTED)
		return vb_err_status(
			e, kind, status,
			"%s: the cluster did not accept it (status 58: no leader, or busy)",
			what);
	return vb_err_status(e, kind, status, "%s: server error %u (%s)", what,
			     status, vb_status_name(status));
}

int vb_client_reply_err(struct vb_err *e, const struct vb_reply *rep,
			const char *what)
{
	char v[3][32];
	enum vb_errkind kind = VB_E_UNAVAIL;
	const char *why;

	if (!rep->evicted)
		return vb_client_status_err(e, rep->status, what);
	switch (rep->reason) {
	case VB_EVICT_NO_SESSION:
		why = "the server has no session for this client (none was opened, or its client table dropped it)";
		break;
	case VB_EVICT_SESSION_TOO_LOW:
		why = "a newer login of this client replaced this session";
		break;
	case VB_EVICT_INVALID_CREDENTIALS:
		why = "invalid username or password";
		kind = VB_E_AUTH;
		break;
	case VB_EVICT_INVALID_TOKEN:
		why = "unknown or expired personal access token";
		kind = VB_E_AUTH;
		break;
	case VB_EVICT_USER_INACTIVE:
		why = "the user is inactive";
		kind = VB_E_AUTH;
		break;
	case VB_EVICT_SESSION_ERROR:
		why = "the server could not register the session (the client id belongs to another user?)";
		break;
	case VB_EVICT_STALE_CLIENT:
		why = "the session was idle longer than the server's heartbeat allows a consumer group member";
		break;
	case VB_EVICT_INCOMPATIBLE_PROTOCOL:
		return vb_err_status(
			e, VB_E_PROTO, rep->status,
			"%s: evicted (incompatible_protocol): the server accepts protocol %s to %s, this client speaks %s",
			what,
			vb_vsr_version_fmt(rep->window_min, v[0], sizeof(v[0])),
			vb_vsr_version_fmt(rep->window_max, v[1], sizeof(v[1])),
			vb_vsr_version_fmt(VB_V09_PROTOCOL_VERSION, v[2],
					   sizeof(v[2])));
	case VB_EVICT_MALFORMED_LOGIN:
		why = "the server could not read the login (a login code 0.9 refuses?)";
		kind = VB_E_PROTO;
		break;
	default:
		why = "the session ended";
		kind = VB_E_PROTO;
		break;
	}
	return vb_err_status(e, kind, rep->status, "%s: evicted (%s): %s", what,
			     vb_evict_name(rep->reason), why);
}

/* Sleeps ms, a pause between two tries of a transient answer. */
static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

int vb_client_call_frame(struct vb_client *c, const uint8_t *frame, size_t n,
			 const uint8_t **payload, size_t *len, struct vb_err *e)
{
	struct vb_reply rep;
	uint32_t code = n >= c->framing->req_hdr ? c->framing->req_code(frame) :
						   0;
	const char *name = vb_cmd_name(code);
	int64_t start = vb_mono_ms();
	struct vb_client_sent s;
	int checked = 0;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	if (c->pre_ready && n == c->pre_req.len &&
	    memcmp(frame, c->pre_req.p, n) == 0) {
		/* answered with the login (vb_client_with_login) */
		c->pre_ready = 0;
		rep.status = c->pre_status;
		rep.payload = c->pre_ans.p;
		rep.len = c->pre_ans.len;
		goto answered;
	}
	/* queued as a copy: frame stays as it was, for a retry */
	vb_client_queue(c, frame, n);
	for (;;) {
		if (vb_client_next(c, &rep, e))
			return -1;
		s = c->last;
		if (c->framing->gen != VB_GEN_09 ||
		    (rep.status != VB_ST_TRANSIENT_NOT_COMMITTED &&
		     rep.status != VB_ST_TRANSIENT_NOT_ACCEPTED) ||
		    vb_mono_ms() - start + VB_CLIENT_RETRY_MS >= c->timeout_ms)
			break;
		/*
		 * framing.md §9.2: the same bytes on the same connection; a
		 * request not accepted for a while may be at a node that no
		 * longer leads: look, and leave if another does.
		 */
		if (rep.status == VB_ST_TRANSIENT_NOT_ACCEPTED && !checked &&
		    vb_mono_ms() - start >= VB_CLIENT_LEADER_CHECK_MS &&
		    code != VB_CMD_GET_CLUSTER_METADATA && c->bound) {
			checked = 1;
			if (vb_client_leader_moved(c, e))
				return -1;
		}
		pause_ms(VB_CLIENT_RETRY_MS);
		if (frame != c->enc.p) {
			vb_buf_reset(&c->enc);
			vb_buf_add(&c->enc, frame, n);
		}
		restamp(c, c->enc.p, n, &s);
		vb_client_requeue(c, c->enc.p, c->enc.len, &s);
	}
answered:
	if (rep.status != VB_ST_OK)
		return vb_client_reply_err(e, &rep, name ? name : "request");
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
	vb_wire_req_frame(&c->enc, c->framing, r);
	return vb_client_call_frame(c, c->enc.p, c->enc.len, payload, len, e);
}
