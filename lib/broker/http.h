/*
 * http.h - the upstream 0.8.0 HTTP REST API of vibes-iggyd
 * (shared/iggy-http/api.md), served by libmicrohttpd from the broker's own
 * epoll loop.
 *
 * libmicrohttpd runs with MHD_USE_EPOLL and no thread of its own: its
 * epoll descriptor sits in the broker's epoll set, MHD_run is called when
 * it is readable, and a timerfd armed from MHD_get_timeout wakes the loop
 * for its connection timeouts.  So every handler runs on the loop thread,
 * between two TCP events, on the same broker state.
 *
 * One code path: a route becomes the request the binary protocol has for
 * it (a struct vb_req encoded with lib/wire, or a send_messages frame),
 * dispatched by vb_broker_dispatch on a connection without a socket (fd
 * -1, not in the broker's connection list: HTTP is stateless and never
 * counts as a client, api.md §0).  Its reply frame is decoded with
 * lib/wire and rendered as the JSON upstream answers.  Permissions,
 * validation, status codes and the metrics are therefore those of TCP.
 *
 * A reply that is not complete when dispatch returns (a login the
 * password worker checks, a reply held for an fsync) suspends the HTTP
 * connection (MHD_suspend_connection); whoever completes it calls
 * vb_http_conn_done, which resumes it.  The loop thread never waits.
 *
 * HTTPS (tls_cert in struct vb_http_opts, the TCP port's --tls-cert and
 * --tls-key): libmicrohttpd's own TLS (MHD_USE_TLS; Debian builds it
 * with GnuTLS), given the PEM texts in memory.  Then every connection
 * must begin with a TLS handshake, which MHD steps from the same loop.
 */
#ifndef VB_BROKER_HTTP_H
#define VB_BROKER_HTTP_H

#include <stdint.h>

#include "base/err.h"

struct vb_broker;
struct vb_conn;
struct vb_http;

struct vb_http_opts {
	const char *addr; /* HOST:PORT; port 0: the kernel's choice */
	/*
	 * When addr's port is taken: 0 fails (VB_E_STATE, e->sys
	 * EADDRINUSE), 1 listens on a port of the kernel's choice instead.
	 */
	int fallback;
	/*
	 * PEM files for HTTPS: the certificate chain, the key (NULL: in
	 * the tls_cert file).  tls_cert NULL: plain HTTP.
	 */
	const char *tls_cert;
	const char *tls_key;
};

/*
 * Binds, listens and starts the HTTP server on b's loop (after
 * vb_broker_open).  Fills b->http_ip and b->http_port with the bound
 * address.  Only one per broker.
 */
int vb_http_listen(struct vb_broker *b, const struct vb_http_opts *o,
		   struct vb_err *e);
/* Whether b's HTTP listener speaks HTTPS. */
int vb_http_is_tls(const struct vb_broker *b);
/* Stops it: open connections are closed (vb_broker_close calls it). */
void vb_http_close(struct vb_broker *b);

/* The loop's hooks: is tag (an epoll event's data.ptr) the server's? */
int vb_http_tag(const struct vb_broker *b, const void *tag);
/* Runs what the epoll event of tag says is ready. */
void vb_http_event(struct vb_broker *b, void *tag);
/* c, a connection without a socket, has its reply: send it. */
void vb_http_conn_done(struct vb_broker *b, struct vb_conn *c);
/* Open HTTP connections (for metrics). */
unsigned vb_http_connections(const struct vb_broker *b);

#endif
