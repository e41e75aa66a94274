/*
 * The bundled server's HTTP API, from the ctl side: which address it is
 * given (as for TCP: the one asked for, else the one it had, else
 * 127.0.0.1:3000, else a port of the kernel's choice), where it is
 * recorded (DATA/http.addr, written by the daemon before it is ready),
 * and a login over HTTP for `vibes-iggyctl http`.
 *
 * The login is one request to our own server, so the client is small: a
 * POST with Content-Length and "Connection: close", read to the end of
 * the stream, the status line checked and the body after the blank line
 * parsed by jansson.  The password is read from the credentials file,
 * never from a command line, and the token goes to the caller only.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "base/parse.h"
#include "base/path.h"
#include "ctl/ctl.h"
#include "ctl/ctl-int.h"
#include "net/transport.h"
#include "base/banned.h"

int vb_ctl_set_http(struct vb_ctl *c, const char *addr, int off,
		    struct vb_err *e)
{
	char host[256];
	uint16_t port;
	int has_port;

	if (off) {
		c->no_http = 1;
		c->http_addr[0] = 0;
		return 0;
	}
	if (addr == NULL)
		return 0;
	if (vb_addr_split(addr, host, sizeof(host), &port, &has_port, e) < 0)
		return -1;
	if (!has_port || host[0] == 0)
		return vb_err_set(e, VB_E_USAGE,
				  "HTTP address '%s': expected "
				  "HOST:PORT",
				  addr);
	if (strchr(host, ':'))
		snprintf(c->http_addr, sizeof(c->http_addr), "[%s]:%u", host,
			 port);
	else
		snprintf(c->http_addr, sizeof(c->http_addr), "%s:%u", host,
			 port);
	c->http_explicit = 1;
	c->no_http = 0;
	return 0;
}

int vb_ctl_read_http_addr(const struct vb_ctl *c, char *addr, size_t sz)
{
	return vb_ctl_read_line(c, "http.addr", addr, sz);
}

void vb_ctl_choose_http(const struct vb_ctl *c, char *out, size_t sz)
{
	char last[300], host[256];
	unsigned port;

	out[0] = 0;
	if (c->no_http)
		return;
	vb_ctl_read_http_addr(c, last, sizeof(last));
	if (c->http_explicit) {
		strlcpy(out, c->http_addr, sz);
		/* port 0 keeps the port it had when that one is free */
		if (vb_ctl_keeps_port(c->http_addr, last))
			strlcpy(out, last, sz);
		return;
	}
	if (last[0] &&
	    vb_ctl_split_addr(last, host, sizeof(host), &port) == 0 &&
	    port != 0 && vb_ctl_port_free(host, port)) {
		strlcpy(out, last, sz);
		return;
	}
	if (vb_ctl_split_addr(VB_CTL_DEFAULT_HTTP_ADDR, host, sizeof(host),
			      &port) == 0 &&
	    vb_ctl_port_free(host, port)) {
		strlcpy(out, VB_CTL_DEFAULT_HTTP_ADDR, sz);
		return;
	}
	strlcpy(out, "127.0.0.1:0", sz);
}

void vb_ctl_http_url(const struct vb_ctl *c, const char *addr,
		     struct vb_buf *url, char *cert, size_t sz, int *named)
{
	char host[256];
	unsigned port;

	vb_buf_reset(url);
	*named = 1;
	if (!vb_ctl_read_tls(c, cert, sz)) {
		vb_buf_printf(url, "http://%s", addr);
		return;
	}
	if (vb_ctl_split_addr(addr, host, sizeof(host), &port) == 0 &&
	    !vb_tls_cert_names(cert, host)) {
		if ((strncmp(host, "127.", 4) == 0 ||
		     strcmp(host, "::1") == 0) &&
		    vb_tls_cert_names(cert, "localhost")) {
			vb_buf_printf(url, "https://localhost:%u", port);
			return;
		}
		*named = 0;
	}
	vb_buf_printf(url, "https://%s", addr);
}

/* Connects to addr within the deadline; the socket, or -1. */
static int dial(const char *addr, int64_t deadline, struct vb_err *e)
{
	char host[256], port[8];
	unsigned pn;
	struct addrinfo hints, *ai = NULL;
	int fd, rc;

	if (vb_ctl_split_addr(addr, host, sizeof(host), &pn) < 0)
		return vb_err_set(e, VB_E_DATA,
				  "http.addr: '%s' is not "
				  "HOST:PORT",
				  addr);
	snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0)
		return vb_err_set(e, VB_E_UNAVAIL, "HTTP API %s: %s", addr,
				  gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return vb_err_sys(e, VB_E_IO, "socket");
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - vb_mono_ms();
		socklen_t sl = sizeof(rc);

		if (left < 0 || poll(&p, 1, (int)left) != 1)
			errno = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &sl) == 0)
			errno = rc;
		rc = errno ? -1 : 0;
	}
	if (rc < 0) {
		int sys = errno;

		close(fd);
		errno = sys;
		return vb_err_sys(e,
				  sys == ETIMEDOUT ? VB_E_TIMEOUT :
						     VB_E_UNAVAIL,
				  "cannot connect to the HTTP API on %s", addr);
	}
	return fd;
}

/*
 * Sends req on t (after the TLS handshake when t is TLS), reads the whole
 * reply until the server closes.
 */
static int exchange(struct vb_tr *t, const char *addr, const struct vb_buf *req,
		    struct vb_buf *rep, int64_t deadline, struct vb_err *e)
{
	size_t sent = 0;
	short ev = POLLOUT;

	for (;;) {
		struct pollfd p = { .fd = t->fd, .events = ev };
		int64_t left = deadline - vb_mono_ms();
		ssize_t n;
		int rc;

		if (!vb_tr_pending(t) &&
		    (left <= 0 || poll(&p, 1, (int)left) != 1))
			return vb_err_set(e, VB_E_TIMEOUT,
					  "the HTTP API did "
					  "not answer in time");
		if (t->handshaking) {
			rc = vb_tr_handshake(t, addr, e);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				ev = t->want;
				continue;
			}
		}
		if (sent < req->len) {
			n = vb_tr_write(t, req->p + sent, req->len - sent, 0);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return vb_err_set(e, VB_E_UNAVAIL,
						  "HTTP API "
						  "%s: %s",
						  addr,
						  vb_tr_strerror(t, errno));
			if (n > 0)
				sent += (size_t)n;
			ev = sent < req->len ? POLLOUT : POLLIN;
			if (n < 0)
				ev = t->want;
			continue;
		}
		n = vb_tr_read(t, vb_buf_reserve(rep, 4096), 4096);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return vb_err_set(e, VB_E_UNAVAIL, "HTTP API %s: %s",
					  addr, vb_tr_strerror(t, errno));
		ev = POLLIN;
		if (n < 0 && t->want_out)
			ev |= POLLOUT;
		if (n > 0)
			rep->len += (size_t)n;
		if (rep->len > (1u << 20))
			return vb_err_set(e, VB_E_PROTO,
					  "the HTTP API's "
					  "answer is too long");
	}
}

/*
 * The transport to the HTTP API on fd: TLS, trusting exactly the
 * certificate of DATA/server.tls, when the server has one (the bundled
 * daemon's HTTP API then speaks HTTPS with it).
 */
static int http_transport(struct vb_ctl *c, int fd, struct vb_tr *t,
			  struct ssl_ctx_st **ctx, struct vb_err *e)
{
	char cert[4096];

	if (!vb_ctl_read_tls(c, cert, sizeof(cert))) {
		vb_tr_plain(t, fd);
		return 0;
	}
	*ctx = vb_tls_client_ctx(NULL, cert, e);
	if (*ctx == NULL) {
		close(fd);
		return -1;
	}
	return vb_tr_tls(t, fd, *ctx, 0, "", e);
}

int vb_ctl_http_login(struct vb_ctl *c, const char *addr, int timeout_ms,
		      struct vb_buf *token, uint64_t *expiry, struct vb_err *e)
{
	struct vb_buf user = VB_BUF_INIT, pass = VB_BUF_INIT, req = VB_BUF_INIT,
		      rep = VB_BUF_INIT;
	int64_t deadline = vb_mono_ms() + timeout_ms;
	json_t *body = NULL, *j = NULL;
	char *text = NULL;
	const char *p;
	struct ssl_ctx_st *ctx = NULL;
	struct vb_tr t;
	int fd = -1, rc = -1, status;

	vb_tr_init(&t);
	/* the daemon's credentials file is the truth for its own server */
	vb_ctl_file(c, "credentials", &req);
	rc = vb_path_read_credentials((char *)req.p, &user, &pass, e);
	vb_buf_reset(&req);
	if (rc == 0)
		rc = vb_ctl_credentials(c, &user, &pass, e) == 0 ? 1 : -1;
	if (rc < 0)
		goto out;
	rc = -1;
	body = json_pack("{s:s, s:s}", "username", (char *)user.p, "password",
			 (char *)pass.p);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (text == NULL) {
		vb_err_set(e, VB_E_DATA, "credentials: not valid UTF-8");
		goto out;
	}
	vb_buf_printf(&req,
		      "POST /users/login HTTP/1.1\r\nHost: %s\r\n"
		      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n%s",
		      addr, strlen(text), text);
	fd = dial(addr, deadline, e);
	if (fd < 0 || http_transport(c, fd, &t, &ctx, e) < 0 ||
	    exchange(&t, addr, &req, &rep, deadline, e) < 0)
		goto out;
	vb_buf_addch(&rep, 0);
	if (sscanf((char *)rep.p, "HTTP/1.%*d %d", &status) != 1) {
		vb_err_set(e, VB_E_PROTO,
			   "the HTTP API on %s did not answer "
			   "HTTP",
			   addr);
		goto out;
	}
	p = strstr((char *)rep.p, "\r\n\r\n");
	j = p ? json_loads(p + 4, 0, NULL) : NULL;
	if (status != 200) {
		const char *why = j ? json_string_value(
					      json_object_get(j, "reason")) :
				      NULL;

		vb_err_set(e,
			   status == 400 || status == 401 ? VB_E_AUTH :
							    VB_E_SERVER,
			   "HTTP login refused (%d%s%s)", status,
			   why ? ": " : "", why ? why : "");
		goto out;
	}
	p = j ? json_string_value(
			json_object_get(json_object_get(j, "access_token"),
					"token")) :
		NULL;
	if (p == NULL || strpbrk(p, "\"\\\r\n") != NULL) {
		vb_err_set(e, VB_E_PROTO,
			   "the HTTP API's login answer has no "
			   "token");
		goto out;
	}
	vb_buf_addstr(token, p);
	*expiry = (uint64_t)json_integer_value(
		json_object_get(json_object_get(j, "access_token"), "expiry"));
	rc = 0;
out:
	vb_tr_close(&t); /* closes fd */
	vb_tls_ctx_free(ctx);
	if (pass.p)
		explicit_bzero(pass.p, pass.len);
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (req.p)
		explicit_bzero(req.p, req.len);
	json_decref(body);
	json_decref(j);
	vb_buf_release(&user);
	vb_buf_release(&pass);
	vb_buf_release(&req);
	vb_buf_release(&rep);
	return rc;
}
