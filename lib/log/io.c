/*
 * io.c - pipelined requests on a vb_client connection.
 *
 * The blocking client sends one request and waits; reading a log fast
 * needs several requests in flight (Iggy answers strictly in order).
 * These helpers write a batch of frames and read the answers one by one
 * on the client's (non-blocking) socket.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log/log-int.h"
#include "base/banned.h"

int64_t vb_log_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int wait_io(struct vb_client *c, short ev, int64_t deadline,
		   struct vb_err *e)
{
	struct pollfd p = { .fd = c->fd, .events = ev };

	for (;;) {
		int64_t left = (deadline - vb_log_now_us()) / 1000;
		int n;

		if (left <= 0) {
			vb_client_close(c);
			return vb_err_set(e, VB_E_TIMEOUT,
					  "no answer from %s:%u within %d ms",
					  c->host, c->port, c->timeout_ms);
		}
		n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			vb_err_sys(e, VB_E_UNAVAIL, "poll");
			vb_client_close(c);
			return -1;
		}
	}
}

int vb_log_io_write(struct vb_client *c, const uint8_t *p, size_t n,
		    struct vb_err *e)
{
	int64_t deadline = vb_log_now_us() + (int64_t)c->timeout_ms * 1000;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (wait_io(c, POLLOUT, deadline, e))
				return -1;
			continue;
		}
		vb_err_sys(e, VB_E_UNAVAIL, "sending to %s:%u", c->host,
			   c->port);
		vb_client_close(c);
		return -1;
	}
	return 0;
}

static int read_n(struct vb_client *c, uint8_t *p, size_t n,
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
			vb_client_close(c);
			return vb_err_set(e, VB_E_UNAVAIL,
					  "connection to %s:%u closed by the server",
					  c->host, c->port);
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			if (wait_io(c, POLLIN, deadline, e))
				return -1;
			continue;
		}
		vb_err_sys(e, VB_E_UNAVAIL, "receiving from %s:%u", c->host,
			   c->port);
		vb_client_close(c);
		return -1;
	}
	return 0;
}

int vb_log_io_read(struct vb_client *c, struct vb_buf *rx, uint32_t *status,
		   struct vb_err *e)
{
	int64_t deadline = vb_log_now_us() + (int64_t)c->timeout_ms * 1000;
	uint8_t hdr[VB_RESP_HDR];
	uint32_t len;

	if (c->fd < 0)
		return vb_err_set(e, VB_E_UNAVAIL, "not connected");
	if (read_n(c, hdr, sizeof(hdr), deadline, e))
		return -1;
	vb_wire_resp_hdr(hdr, status, &len);
	if (len > VB_CLIENT_RESP_MAX) {
		vb_client_close(c);
		return vb_err_set(e, VB_E_UNAVAIL,
				  "response of %u bytes exceeds the %u-byte limit",
				  len, VB_CLIENT_RESP_MAX);
	}
	vb_buf_reset(rx);
	vb_buf_reserve(rx, len);
	if (read_n(c, rx->p, len, deadline, e))
		return -1;
	rx->len = len;
	rx->p[len] = 0;
	return 0;
}

int vb_log_status_err(struct vb_err *e, uint32_t status, const char *what)
{
	enum vb_errkind kind = VB_E_SERVER;

	if (status == VB_ST_UNAUTHENTICATED || status == VB_ST_UNAUTHORIZED ||
	    status == VB_ST_INVALID_CREDENTIALS)
		kind = VB_E_AUTH;
	return vb_err_status(e, kind, status, "%s: server error %u (%s)", what,
			     status, vb_status_name(status));
}
