/*
 * transport.c - plain TCP and TLS behind one set of calls (transport.h).
 *
 * The TLS side is OpenSSL on the socket itself (its socket BIO, so the
 * kernel can take over encryption when it offers TLS: kTLS).  Every call
 * is non-blocking; OpenSSL's "want read / want write" become EAGAIN and
 * t->want.  Writes use partial-write mode with a moving buffer allowed,
 * so a write repeated after EAGAIN may present its bytes from another
 * address and with more behind them: the rule plain write(2) callers
 * already follow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/ssl-sym.h"
#include "net/transport.h"
#include "net/tls-int.h"
#include "base/banned.h"

void vb_tr_init(struct vb_tr *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->f_fd = -1;
}

void vb_tr_plain(struct vb_tr *t, int fd)
{
	vb_tr_init(t);
	t->fd = fd;
}

static int is_ip(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET, s, &a) == 1 ||
	       inet_pton(AF_INET6, s, &a) == 1;
}

int vb_tr_tls(struct vb_tr *t, int fd, struct ssl_ctx_st *ctx, int server,
	      const char *name, struct vb_err *e)
{
	char why[200];
	SSL *ssl;

	vb_tr_init(t);
	t->fd = fd;
	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (ssl == NULL || !SSL_set_fd(ssl, fd)) {
		vb_tls_reason(why, sizeof(why));
		SSL_free(ssl);
		return vb_err_set(e, VB_E_IO,
				  "TLS: cannot set up a connection: %s", why);
	}
	t->ssl = ssl;
	t->handshaking = 1;
	if (server) {
		SSL_set_accept_state(ssl);
		return 0;
	}
	SSL_set_connect_state(ssl);
	if (name == NULL || name[0] == 0)
		return 0;
	strlcpy(t->name, name, sizeof(t->name));
	/* RFC 6066: no SNI for an address; the address is what is checked. */
	if (!is_ip(name) && !SSL_set_tlsext_host_name(ssl, name)) {
		vb_tls_reason(why, sizeof(why));
		return vb_err_set(e, VB_E_USAGE, "TLS: name '%s': %s", name,
				  why);
	}
	if (vb_tls_ctx_pinned(ctx))
		return 0;
	if (is_ip(name) ?
		    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) :
		    !SSL_set1_host(ssl, name)) {
		vb_tls_reason(why, sizeof(why));
		return vb_err_set(e, VB_E_USAGE, "TLS: name '%s': %s", name,
				  why);
	}
	return 0;
}

/*
 * What OpenSSL's error reasons mean for a handshake: the other end does
 * not speak TLS at all (its bytes are no TLS record).
 */
static int not_tls(unsigned long ec)
{
	if (ERR_GET_LIB(ec) != ERR_LIB_SSL)
		return 0;
	switch (ERR_GET_REASON(ec)) {
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_LENGTH_TOO_SHORT:
	case SSL_R_UNEXPECTED_RECORD:
		return 1;
	}
	return 0;
}

/*
 * A plain client on a TLS port: OpenSSL closes without a word, which such
 * a client can only take for a server gone away.  A TLS alert
 * (protocol_version) tells it what it reached; what it sent is read
 * first (a little only), so the close is no reset that loses the alert.
 */
static void tell_plain_client(int fd)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x01, 0x00,
					 0x02, 0x02, 0x46 };
	uint8_t junk[4096];

	for (int i = 0; i < 4; i++)
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			break;
	if (send(fd, alert, sizeof(alert), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* gone already: nobody to tell */
	}
}

static int hs_fail(struct vb_tr *t, int err, const char *peer, struct vb_err *e)
{
	unsigned long ec = ERR_peek_last_error();
	long v = SSL_get_verify_result(t->ssl);
	int sys = errno;
	char why[200];

	t->failed = 1;
	vb_tls_reason(why, sizeof(why));
	if (!SSL_is_server(t->ssl) && v != X509_V_OK)
		return vb_err_set(e, VB_E_AUTH, "TLS: certificate of %s: %s",
				  t->name[0] ? t->name : peer,
				  X509_verify_cert_error_string(v));
	if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && sys == 0) ||
	    (ERR_GET_LIB(ec) == ERR_LIB_SSL &&
	     ERR_GET_REASON(ec) == SSL_R_UNEXPECTED_EOF_WHILE_READING))
		return vb_err_set(
			e, VB_E_UNAVAIL,
			"TLS: %s closed the connection during the handshake",
			peer);
	if (err == SSL_ERROR_SYSCALL) {
		errno = sys;
		return vb_err_sys(e, VB_E_UNAVAIL, "TLS: handshake with %s",
				  peer);
	}
	if (not_tls(ec) && SSL_is_server(t->ssl))
		tell_plain_client(t->fd);
	if (not_tls(ec))
		return vb_err_set(e, VB_E_PROTO,
				  "TLS: %s does not speak TLS (%s)%s", peer,
				  why,
				  SSL_is_server(t->ssl) ?
					  ": a plain client on the TLS port" :
					  ": is it a plain iggy:// address?");
	return vb_err_set(e, VB_E_PROTO, "TLS: handshake with %s failed: %s",
			  peer, why);
}

int vb_tr_handshake(struct vb_tr *t, const char *peer, struct vb_err *e)
{
	int rc, err;

	if (t->ssl == NULL || !t->handshaking)
		return 1;
	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		t->handshaking = 0;
		t->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) > 0;
		return 1;
	}
	err = SSL_get_error(t->ssl, rc);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		t->want = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		errno = EAGAIN;
		return 0;
	}
	return hs_fail(t, err, peer, e);
}

/* An OpenSSL read or write failed with err: errno and t as transport.h says. */
static ssize_t io_fail(struct vb_tr *t, int err, int reading)
{
	int sys = errno;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		t->want = POLLIN;
		if (reading)
			t->rd_wait = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		t->want = POLLOUT;
		if (reading)
			t->want_out = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain EOF */
		if (reading)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (sys == EINTR || sys == EAGAIN) {
			t->want = reading ? POLLIN : POLLOUT;
			errno = EAGAIN;
			return -1;
		}
		t->failed = 1;
		if (sys == 0 && reading)
			return 0;
		errno = sys ? sys : EPIPE;
		return -1;
	default:
		t->failed = 1;
		vb_tls_reason(t->why, sizeof(t->why));
		errno = EPROTO;
		return -1;
	}
}

ssize_t vb_tr_read(struct vb_tr *t, void *p, size_t n)
{
	size_t got;

	if (t->ssl == NULL) {
		for (;;) {
			ssize_t r = recv(t->fd, p, n, MSG_DONTWAIT);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				t->want = POLLIN;
			return r;
		}
	}
	t->want_out = 0;
	t->rd_wait = 0;
	/*
	 * As recv(2) does: as much as there is, up to n, not one record
	 * (16 KiB at most) per call; a caller's pass over its connections
	 * then moves as many bytes as over plain TCP.  Records read ahead
	 * cost no read(2); the last SSL_read_ex asks the socket and says
	 * "want read" (EAGAIN) once it is drained.  What stops the loop
	 * after some bytes (EAGAIN, the end, an error) is said by the next
	 * call, which meets it again.
	 */
	for (size_t total = 0;;) {
		int err;

		ERR_clear_error();
		errno = 0;
		if (SSL_read_ex(t->ssl, (uint8_t *)p + total, n - total,
				&got)) {
			total += got;
			if (total == n)
				return (ssize_t)total;
			continue;
		}
		err = SSL_get_error(t->ssl, 0);
		if (total == 0)
			return io_fail(t, err, 1);
		if (err == SSL_ERROR_WANT_READ) {
			t->rd_wait = 1;
			t->want = POLLIN;
		} else if (err == SSL_ERROR_WANT_WRITE) {
			t->want_out = 1;
			t->want = POLLOUT;
		}
		ERR_clear_error();
		return (ssize_t)total;
	}
}

int vb_tr_pending(const struct vb_tr *t)
{
	/*
	 * Bytes decrypted and not copied out, or records read ahead; but
	 * not when the last read found only part of a record (it said
	 * "want read"): then the socket must bring the rest first.
	 */
	return t->ssl != NULL && !t->handshaking &&
	       (SSL_pending(t->ssl) > 0 ||
		(!t->rd_wait && SSL_has_pending(t->ssl)));
}

/*
 * All of n that the socket takes, one record (and one write(2)) after
 * the other, not one record per call (SSL_MODE_ENABLE_PARTIAL_WRITE
 * returns after each).  A record that could not go out after others did
 * stays inside OpenSSL: the bytes counted are those before it, and the
 * caller's next call starts with it, as the retry rule wants (same bytes
 * in front, at least as many).
 */
static ssize_t tls_write(struct vb_tr *t, const void *p, size_t n)
{
	size_t w, total = 0;
	int err;

	while (total < n) {
		ERR_clear_error();
		errno = 0;
		if (SSL_write_ex(t->ssl, (const uint8_t *)p + total, n - total,
				 &w)) {
			total += w;
			continue;
		}
		err = SSL_get_error(t->ssl, 0);
		if (total == 0)
			return io_fail(t, err, 0);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
			t->want = err == SSL_ERROR_WANT_WRITE ? POLLOUT :
								POLLIN;
		ERR_clear_error();
		break;
	}
	return (ssize_t)total;
}

ssize_t vb_tr_write(struct vb_tr *t, const void *p, size_t n, int more)
{
	if (t->ssl != NULL)
		return tls_write(t, p, n);
	for (;;) {
		ssize_t w = send(t->fd, p, n,
				 MSG_NOSIGNAL | MSG_DONTWAIT |
					 (more ? MSG_MORE : 0));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			t->want = POLLOUT;
		return w;
	}
}

ssize_t vb_tr_writev(struct vb_tr *t, const struct iovec *iov, int n)
{
	size_t len = 0;

	if (n <= 0)
		return 0;
	if (t->ssl == NULL) {
		struct msghdr m;

		memset(&m, 0, sizeof(m));
		m.msg_iov = (struct iovec *)iov;
		m.msg_iovlen = (size_t)n;
		for (;;) {
			ssize_t w = sendmsg(t->fd, &m,
					    MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				t->want = POLLOUT;
			return w;
		}
	}
	/*
	 * A big first piece goes as it is; small ones are copied into one
	 * record (a record, and a write(2), per request frame would cost
	 * more than the copy).  After EAGAIN the caller brings the same
	 * pieces again, so the copy starts with the same bytes.
	 */
	if (n == 1 || iov[0].iov_len >= VB_TR_STAGE)
		return tls_write(t, iov[0].iov_base, iov[0].iov_len);
	if (t->stage == NULL)
		t->stage = vb_xmalloc(VB_TR_STAGE);
	for (int i = 0; i < n && len < VB_TR_STAGE; i++) {
		size_t k = iov[i].iov_len;

		if (k > VB_TR_STAGE - len)
			k = VB_TR_STAGE - len;
		memcpy(t->stage + len, iov[i].iov_base, k);
		len += k;
	}
	return tls_write(t, t->stage, len);
}

ssize_t vb_tr_sendfile(struct vb_tr *t, int fd, uint64_t off, size_t n)
{
	size_t chunk = n > (1u << 30) ? (1u << 30) : n, at, len;
	ssize_t w;

	if (t->ssl == NULL) {
		for (;;) {
			off_t o = (off_t)off;

			w = sendfile(t->fd, fd, &o, chunk);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				t->want = POLLOUT;
			return w;
		}
	}
	if (t->ktls_send) {
		ossl_ssize_t r;

		ERR_clear_error();
		errno = 0;
		r = SSL_sendfile(t->ssl, fd, (off_t)off, chunk, 0);
		if (r >= 0)
			return (ssize_t)r;
		return io_fail(t, SSL_get_error(t->ssl, (int)r), 0);
	}
	/*
	 * User-space TLS: the bytes are read once into t->fbuf and stay
	 * there until all are written, so a write repeated after EAGAIN
	 * finds them as they were.  Never more than the caller's range is
	 * read, so the buffer is used up when the range is.
	 */
	if (t->f_len == 0 || t->f_fd != fd || off < t->f_off ||
	    off >= t->f_off + t->f_len) {
		ssize_t r;

		if (t->fbuf == NULL)
			t->fbuf = vb_xmalloc(VB_TR_FILE_CHUNK);
		len = n < VB_TR_FILE_CHUNK ? n : VB_TR_FILE_CHUNK;
		do
			r = pread(fd, t->fbuf, len, (off_t)off);
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			t->f_len = 0;
			return r;
		}
		t->f_fd = fd;
		t->f_off = off;
		t->f_len = (size_t)r;
	}
	at = (size_t)(off - t->f_off);
	len = t->f_len - at < n ? t->f_len - at : n;
	w = tls_write(t, t->fbuf + at, len);
	if (w > 0 && at + (size_t)w == t->f_len)
		t->f_len = 0;
	return w;
}

void vb_tr_close(struct vb_tr *t)
{
	if (t->ssl != NULL) {
		/* close_notify, if the socket takes it now; never waits */
		if (!t->failed && !t->handshaking) {
			ERR_clear_error();
			SSL_shutdown(t->ssl);
		}
		SSL_free(t->ssl);
		ERR_clear_error();
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t->stage);
	free(t->fbuf);
	vb_tr_init(t);
}

const char *vb_tr_strerror(const struct vb_tr *t, int err)
{
	if (err == EPROTO && t->why[0])
		return t->why;
	return strerror(err);
}
