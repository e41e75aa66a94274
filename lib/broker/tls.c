/*
 * tls.c - TLS on the server's TCP port (--tls-cert, --tls-key): the
 * context, the handshake of each connection on the event loop, and what
 * the log says about both.
 *
 * A connection accepted on a TLS port starts with its handshake; the loop
 * (loop.c) steps it whenever the socket is ready for what OpenSSL last
 * wanted (SSL_do_handshake on a non-blocking socket: "want read" becomes
 * EPOLLIN, "want write" EPOLLOUT), so a slow or silent client never holds
 * the loop.  Until the handshake is done the connection counts among
 * those not logged in (--max-unauthenticated).  Then its bytes go through
 * net/transport.h like a plain connection's; file ranges of a poll go out
 * by SSL_sendfile when the kernel encrypts (kTLS), else they are read and
 * encrypted here, one copy per byte: the log says which, once.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "base/banned.h"

int vb_broker_tls_open(struct vb_broker *b, struct vb_err *e)
{
	char what[700];

	if (b->o.tls_cert == NULL || b->o.tls_cert[0] == 0)
		return 0;
	b->tls.ctx = vb_tls_server_ctx(b->o.tls_cert, b->o.tls_key, e);
	if (b->tls.ctx == NULL)
		return -1;
	vb_tls_ctx_describe(b->tls.ctx, what, sizeof(what));
	vb_broker_log(b, "TLS on the TCP port: %s; kernel TLS for sends: %s",
		      what,
		      vb_tls_kernel_ulp() ?
			      "offered by this kernel" :
			      "not offered by this kernel (no \"tls\" in "
			      "/proc/sys/net/ipv4/tcp_available_ulp): polls "
			      "are encrypted in user space");
	return 0;
}

void vb_broker_tls_close(struct vb_broker *b)
{
	vb_tls_ctx_free(b->tls.ctx);
	b->tls.ctx = NULL;
}

int vb_conn_tr_open(struct vb_broker *b, struct vb_conn *c, int fd)
{
	struct vb_err e;

	if (b->tls.ctx == NULL) {
		vb_tr_plain(&c->tr, fd);
		return 0;
	}
	if (vb_tr_tls(&c->tr, fd, b->tls.ctx, 1, NULL, &e) < 0) {
		vb_broker_log(b, "%s: %s", c->addr, e.msg);
		vb_tr_init(&c->tr); /* fd stays the caller's to close */
		return -1;
	}
	return 0;
}

int vb_conn_handshake(struct vb_broker *b, struct vb_conn *c)
{
	int64_t now;
	uint64_t skipped;
	struct vb_err e;
	int rc = vb_tr_handshake(&c->tr, c->addr, &e);

	if (rc == 1 && !b->tls.ktls_said) {
		b->tls.ktls_said = 1;
		vb_broker_log(b,
			      "TLS: kernel TLS is %s for sends (first "
			      "connection, %s)",
			      c->tr.ktls_send ? "on" : "off",
			      c->tr.ktls_send ?
				      "polls go out by SSL_sendfile, without a copy" :
				      "polls are read from their segments and "
				      "encrypted in user space");
	}
	if (rc >= 0)
		return rc;
	now = vb_mono_us();
	if (vb_ratelog_event(&b->tls.rl_fail, now, VB_LOG_EVERY_US, &skipped)) {
		if (skipped)
			vb_broker_log(b,
				      "%s (%" PRIu64 " more failed "
				      "handshakes before it not logged)",
				      e.msg, skipped);
		else
			vb_broker_log(b, "%s", e.msg);
	}
	return -1;
}

void vb_conn_tls_defer(struct vb_broker *b, struct vb_conn *c, int on)
{
	if (on && !c->tls_defer)
		b->tls.ndefer++;
	else if (!on && c->tls_defer)
		b->tls.ndefer--;
	c->tls_defer = on;
}

void vb_broker_tls_tick(struct vb_broker *b, int64_t now)
{
	uint64_t n;

	if (vb_ratelog_due(&b->tls.rl_fail, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "TLS: %" PRIu64 " more failed handshakes in "
			      "the last 10 s",
			      n);
}
