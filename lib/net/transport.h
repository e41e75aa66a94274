/*
 * transport.h - the byte stream under the Iggy protocol: plain TCP or TLS
 * (OpenSSL 3), behind one small interface that the client (lib/client)
 * and the server (lib/broker) both drive.
 *
 * A transport owns one connected, non-blocking socket.  Every call returns
 * at once: what it could not do sets errno to EAGAIN, and t->want says
 * what to wait for (POLLIN or POLLOUT).  The rules of the plain calls hold
 * for both kinds, so a caller has no TLS branches of its own:
 *
 *   - a write that returned -1/EAGAIN is repeated later with at least the
 *     same bytes in front (the caller has not counted them written), as
 *     write(2) would be; TLS needs exactly that (OpenSSL's retry rule);
 *   - a read may leave bytes inside the transport (a TLS record decrypted
 *     but not all copied out, records read ahead): vb_tr_pending says so,
 *     and no poll() will, so a caller that stops reading while it is true
 *     must come back by itself;
 *   - a read may need the socket writable (TLS 1.3 key updates):
 *     t->want_out is then set, and the caller adds POLLOUT.
 *
 * A TLS transport starts with a handshake (vb_tr_handshake, repeated
 * until it returns 1); its errors say what went wrong in the words of
 * vibes(7): "TLS: certificate of HOST: REASON" (VB_E_AUTH) when the
 * certificate is refused, "ADDR does not speak TLS" (VB_E_PROTO) when the
 * other end answers in plain Iggy.  Reads and writes that fail on the TLS
 * layer set errno to EPROTO with the reason in t->why.
 *
 * Contexts (tlsctx.c) hold what every connection of a side shares: the
 * server's certificate and key, the client's trust anchors.  Connections
 * are cheap once a context exists.
 */
#ifndef VB_NET_TRANSPORT_H
#define VB_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/err.h"

/* OpenSSL's types, without its headers in every file. */
struct ssl_st;
struct ssl_ctx_st;

/* Bytes copied into one TLS record when a writev has small pieces. */
#define VB_TR_STAGE (16u * 1024)
/* File bytes read per pread when a file is sent through user-space TLS. */
#define VB_TR_FILE_CHUNK (64u * 1024)

struct vb_tr {
	int fd;		    /* -1: none */
	struct ssl_st *ssl; /* NULL: plain TCP */
	int handshaking;    /* TLS: vb_tr_handshake has not returned 1 */
	int failed;	    /* TLS: a fatal error; no close_notify then */
	short want;	    /* after EAGAIN: POLLIN or POLLOUT */
	int want_out;	    /* a TLS read waits for the socket writable */
	int rd_wait;	    /* TLS: the last read needs bytes from the socket */
	int ktls_send;	    /* the kernel encrypts what is sent */
	char name[256];	    /* TLS client: the name verified */
	char why[200];	    /* TLS: reason of the last EPROTO */
	/* writev of small pieces: copied into one record */
	uint8_t *stage;
	/* a file sent through user-space TLS: bytes [f_off, f_off+f_len) */
	uint8_t *fbuf;
	int f_fd;
	uint64_t f_off;
	size_t f_len;
};

void vb_tr_init(struct vb_tr *t);
/* A plain TCP transport over fd (which it now owns). */
void vb_tr_plain(struct vb_tr *t, int fd);
/*
 * A TLS transport over fd (owned from now on, even on failure), client
 * side when server is 0: name (may be "" for none) is sent as SNI unless
 * it is an IP address, and the certificate must be valid for it (unless
 * the context pins a certificate: vb_tls_client_ctx).  The handshake is
 * still to do.
 */
int vb_tr_tls(struct vb_tr *t, int fd, struct ssl_ctx_st *ctx, int server,
	      const char *name, struct vb_err *e);
/*
 * One step of the handshake: 1 done, 0 to be called again once t->want is
 * ready, -1 failed (e says why; `peer` names the other end in messages).
 * A plain transport is always done.
 */
int vb_tr_handshake(struct vb_tr *t, const char *peer, struct vb_err *e);

/* Like recv(2): >0 bytes, 0 at the end of the stream, -1 with errno. */
ssize_t vb_tr_read(struct vb_tr *t, void *p, size_t n);
/* Bytes (or records) held inside the transport, not yet read out. */
int vb_tr_pending(const struct vb_tr *t);
/*
 * Like send(2) (never SIGPIPE); `more` says more follows at once
 * (MSG_MORE on a plain socket).
 */
ssize_t vb_tr_write(struct vb_tr *t, const void *p, size_t n, int more);
/* Like writev(2); over TLS small pieces share one record. */
ssize_t vb_tr_writev(struct vb_tr *t, const struct iovec *iov, int n);
/*
 * Sends n bytes of file fd from off: sendfile(2) on a plain socket or
 * with kernel TLS (SSL_sendfile), else read and encrypted here.  Returns
 * the bytes sent, 0 when the file has nothing at off (it shrank), -1
 * with errno.
 */
ssize_t vb_tr_sendfile(struct vb_tr *t, int fd, uint64_t off, size_t n);
/* Says goodbye on TLS (close_notify, best effort), frees, closes fd. */
void vb_tr_close(struct vb_tr *t);
/* The text for errno err after a failed call (t->why for EPROTO). */
const char *vb_tr_strerror(const struct vb_tr *t, int err);
static inline int vb_tr_is_tls(const struct vb_tr *t)
{
	return t->ssl != NULL;
}

/* ---- contexts (tlsctx.c) ---- */

/*
 * The client's: certificates are verified against ca_file (PEM, one or
 * more CA certificates), or the system's store when it is NULL or "".
 * With pin_file instead, exactly the first certificate of that PEM file
 * is trusted, whatever name it carries (a local server whose certificate
 * the caller gave it).  Errors: VB_E_IO (cannot read), VB_E_USAGE (no
 * certificate in it).
 */
struct ssl_ctx_st *vb_tls_client_ctx(const char *ca_file, const char *pin_file,
				     struct vb_err *e);
/*
 * The server's: certificate chain from cert_file (PEM, the server's
 * certificate first), private key from key_file (or cert_file when NULL).
 * Errors VB_E_USAGE naming the file and OpenSSL's reason.
 */
struct ssl_ctx_st *vb_tls_server_ctx(const char *cert_file,
				     const char *key_file, struct vb_err *e);
void vb_tls_ctx_free(struct ssl_ctx_st *ctx);
/*
 * Whether the first certificate of PEM file is valid for host (an IP
 * address or a DNS name, as a client verifying it would check); 0 also
 * when the file cannot be read.
 */
int vb_tls_cert_names(const char *file, const char *host);
/*
 * One line about a server context's certificate, for the log: its
 * subject, its validity and whether it is expired or not yet valid.
 */
void vb_tls_ctx_describe(struct ssl_ctx_st *ctx, char *out, size_t size);
/*
 * Whether this kernel offers TLS to sockets (the "tls" upper layer
 * protocol in /proc/sys/net/ipv4/tcp_available_ulp); it may still be
 * loaded on first use when the module exists.
 */
int vb_tls_kernel_ulp(void);

#endif
