/*
 * tlsctx.c - the TLS contexts of a client and of the server
 * (transport.h): what every connection of one side shares.
 *
 * Both sides: TLS 1.2 at least, no renegotiation, a peer's EOF without
 * close_notify read as an end of stream (the Iggy framing shows a cut
 * frame anyway), partial writes with moving buffers (transport.c's retry
 * rule), records read ahead in 64 KiB so one read(2) brings several, and
 * kernel TLS asked for (SSL_OP_ENABLE_KTLS: used when the kernel has it,
 * so that the server can sendfile through it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/ssl-sym.h"
#include "net/tls-int.h"
#include "net/transport.h"
#include "base/banned.h"

/* app data of a context that pins one certificate */
static int pin_marker;

void vb_tls_reason(char *out, size_t size)
{
	unsigned long ec = ERR_peek_last_error();
	const char *r = ec ? ERR_reason_error_string(ec) : NULL;

	if (r)
		snprintf(out, size, "%s", r);
	else if (ec)
		ERR_error_string_n(ec, out, size);
	else
		snprintf(out, size, "unknown error");
	ERR_clear_error();
}

int vb_tls_ctx_pinned(const struct ssl_ctx_st *ctx)
{
	return SSL_CTX_get_app_data(ctx) == &pin_marker;
}

static void ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
}

/* A key file with a passphrase is refused, never asked for on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Frees ctx and fills e: "TLS: WHAT: OpenSSL's reason". */
static void ctx_fail(SSL_CTX *ctx, struct vb_err *e, enum vb_errkind kind,
		     const char *what)
{
	char why[200];

	vb_tls_reason(why, sizeof(why));
	SSL_CTX_free(ctx);
	vb_err_set(e, kind, "TLS: %s: %s", what, why);
}

/* Can the file be read at all?  errno's reason otherwise. */
static int readable(const char *file, const char *what, struct vb_err *e)
{
	FILE *f = fopen(file, "r");

	if (f == NULL)
		return vb_err_sys(e, VB_E_IO, "TLS: cannot read the %s %s",
				  what, file);
	fclose(f);
	return 0;
}

static int pin(SSL_CTX *ctx, const char *file, struct vb_err *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	FILE *f = fopen(file, "r");
	X509 *x;
	char why[200];

	if (f == NULL)
		return vb_err_sys(e, VB_E_IO,
				  "TLS: cannot read the server's certificate %s",
				  file);
	x = PEM_read_X509(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (x == NULL) {
		vb_tls_reason(why, sizeof(why));
		return vb_err_set(e, VB_E_USAGE,
				  "TLS: no certificate in %s: %s", file, why);
	}
	if (!X509_STORE_add_cert(store, x)) {
		vb_tls_reason(why, sizeof(why));
		X509_free(x);
		return vb_err_set(e, VB_E_IO, "TLS: %s: %s", file, why);
	}
	X509_free(x);
	/* The certificate itself is the anchor, as if it were a CA. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_app_data(ctx, &pin_marker);
	return 0;
}

struct ssl_ctx_st *vb_tls_client_ctx(const char *ca_file, const char *pin_file,
				     struct vb_err *e)
{
	char what[600];
	SSL_CTX *ctx;

	if (vb_ssl_load(e))
		return NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		ctx_fail(NULL, e, VB_E_IO, "cannot make a context");
		return NULL;
	}
	ctx_common(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (pin_file && *pin_file) {
		if (pin(ctx, pin_file, e)) {
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (ca_file && *ca_file) {
		if (readable(ca_file, "CA file", e)) {
			SSL_CTX_free(ctx);
			return NULL;
		}
		if (!SSL_CTX_load_verify_file(ctx, ca_file)) {
			snprintf(what, sizeof(what), "no CA certificate in %s",
				 ca_file);
			ctx_fail(ctx, e, VB_E_USAGE, what);
			return NULL;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		ctx_fail(ctx, e, VB_E_IO,
			 "cannot load the system's CA certificates");
		return NULL;
	}
	return ctx;
}

struct ssl_ctx_st *vb_tls_server_ctx(const char *cert_file,
				     const char *key_file, struct vb_err *e)
{
	char what[1200];
	SSL_CTX *ctx;

	if (key_file == NULL || *key_file == 0)
		key_file = cert_file;
	if (vb_ssl_load(e))
		return NULL;
	if (readable(cert_file, "certificate", e) ||
	    readable(key_file, "private key", e)) {
		if (e)
			e->kind = VB_E_USAGE;
		return NULL;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ctx_fail(NULL, e, VB_E_IO, "cannot make a context");
		return NULL;
	}
	ctx_common(ctx);
	/* Clients never resume: no tickets to make, no cache to keep. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx,
			    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	/*
	 * AES-128-GCM first: as safe, and a quarter cheaper than AES-256
	 * per byte (10 rounds, not 14), which is the cost of a stream of
	 * events; all are ciphers the kernel's TLS can take over.
	 */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
				      "TLS_AES_256_GCM_SHA384:"
				      "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:"
				     "ECDHE-RSA-AES128-GCM-SHA256:"
				     "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL");
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert_file)) {
		snprintf(what, sizeof(what), "certificate %s", cert_file);
		ctx_fail(ctx, e, VB_E_USAGE, what);
		return NULL;
	}
	if (!SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM)) {
		snprintf(what, sizeof(what),
			 "private key %s (PEM, without a passphrase)",
			 key_file);
		ctx_fail(ctx, e, VB_E_USAGE, what);
		return NULL;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		snprintf(what, sizeof(what),
			 "the private key %s does not match the certificate %s",
			 key_file, cert_file);
		ctx_fail(ctx, e, VB_E_USAGE, what);
		return NULL;
	}
	return ctx;
}

void vb_tls_ctx_free(struct ssl_ctx_st *ctx)
{
	if (ctx) /* there is OpenSSL to call */
		SSL_CTX_free(ctx);
}

void vb_tls_ctx_describe(struct ssl_ctx_st *ctx, char *out, size_t size)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	BIO *b;
	char subject[256], until[64] = "?";
	const char *state = "";
	int n;

	if (x == NULL) {
		snprintf(out, size, "no certificate");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	b = BIO_new(BIO_s_mem());
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) &&
	    (n = BIO_read(b, until, sizeof(until) - 1)) > 0)
		until[n] = 0;
	BIO_free(b);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		state = ", EXPIRED: clients will refuse it";
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		state = ", NOT YET VALID: clients will refuse it";
	snprintf(out, size, "certificate %s, valid until %s%s", subject, until,
		 state);
	ERR_clear_error();
}

int vb_tls_kernel_ulp(void)
{
	char buf[256];
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	size_t n;
	int found = 0;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (char *w = buf; *w; w += strcspn(w, " \n")) {
		w += strspn(w, " \n");
		if (strncmp(w, "tls", 3) == 0 && strchr(" \n", w[3]))
			found = 1;
	}
	return found;
}

int vb_tls_cert_names(const char *file, const char *host)
{
	FILE *f;
	X509 *x;
	int ok = 0;

	if (vb_ssl_load(NULL))
		return 0;
	f = fopen(file, "re");
	x = f ? PEM_read_X509(f, NULL, no_passphrase, NULL) : NULL;
	if (f)
		fclose(f);
	if (x) {
		ok = X509_check_ip_asc(x, host, 0) == 1 ||
		     X509_check_host(x, host, 0, 0, NULL) == 1;
		X509_free(x);
	}
	ERR_clear_error();
	return ok;
}
