/*
 * ssl-sym.h - the OpenSSL functions lib/net calls, loaded on first use.
 *
 * The tools link no OpenSSL: libcrypto's start costs every process about
 * a millisecond, which is most of what a one-event vibes-append takes.
 * vb_ssl_load (ssl-load.c) dlopen()s libssl.so.3 when a TLS context is
 * first made and fills one pointer per function below; a file of lib/net
 * that calls OpenSSL includes its headers and then this one, whose
 * #defines at the end send each call (also those inside OpenSSL's macros,
 * SSL_CTX_set_mode and friends) through its pointer.
 *
 * A function added to lib/net goes into VB_SSL_SYMS and the #defines;
 * one missing from either is a build error (an undefined vb_ssl_NAME, or
 * an undefined reference to NAME when the tools link).
 */
#ifndef VB_NET_SSL_SYM_H
#define VB_NET_SSL_SYM_H

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/err.h"

/* clang-format off */
#define VB_SSL_SYMS(X) \
	X(ASN1_TIME_print) \
	X(BIO_ctrl) \
	X(BIO_free) \
	X(BIO_new) \
	X(BIO_read) \
	X(BIO_s_mem) \
	X(ERR_clear_error) \
	X(ERR_error_string_n) \
	X(ERR_peek_last_error) \
	X(ERR_reason_error_string) \
	X(PEM_read_X509) \
	X(SSL_CTX_check_private_key) \
	X(SSL_CTX_ctrl) \
	X(SSL_CTX_free) \
	X(SSL_CTX_get0_certificate) \
	X(SSL_CTX_get_cert_store) \
	X(SSL_CTX_get_ex_data) \
	X(SSL_CTX_load_verify_file) \
	X(SSL_CTX_new) \
	X(SSL_CTX_set_cipher_list) \
	X(SSL_CTX_set_ciphersuites) \
	X(SSL_CTX_set_default_passwd_cb) \
	X(SSL_CTX_set_default_read_buffer_len) \
	X(SSL_CTX_set_default_verify_paths) \
	X(SSL_CTX_set_ex_data) \
	X(SSL_CTX_set_num_tickets) \
	X(SSL_CTX_set_options) \
	X(SSL_CTX_set_verify) \
	X(SSL_CTX_use_PrivateKey_file) \
	X(SSL_CTX_use_certificate_chain_file) \
	X(SSL_ctrl) \
	X(SSL_do_handshake) \
	X(SSL_free) \
	X(SSL_get0_param) \
	X(SSL_get_error) \
	X(SSL_get_verify_result) \
	X(SSL_get_wbio) \
	X(SSL_has_pending) \
	X(SSL_is_server) \
	X(SSL_new) \
	X(SSL_pending) \
	X(SSL_read_ex) \
	X(SSL_sendfile) \
	X(SSL_set1_host) \
	X(SSL_set_accept_state) \
	X(SSL_set_connect_state) \
	X(SSL_set_fd) \
	X(SSL_shutdown) \
	X(SSL_write_ex) \
	X(TLS_client_method) \
	X(TLS_server_method) \
	X(X509_NAME_oneline) \
	X(X509_STORE_add_cert) \
	X(X509_STORE_set_flags) \
	X(X509_VERIFY_PARAM_set1_ip_asc) \
	X(X509_check_host) \
	X(X509_check_ip_asc) \
	X(X509_cmp_current_time) \
	X(X509_free) \
	X(X509_get0_notAfter) \
	X(X509_get0_notBefore) \
	X(X509_get_subject_name) \
	X(X509_verify_cert_error_string)
/* clang-format on */

#define VB_SSL_DECL(f) extern __typeof__(f) *vb_ssl_##f;
VB_SSL_SYMS(VB_SSL_DECL)
#undef VB_SSL_DECL

/*
 * Loads OpenSSL once (thread-safe); 0, or -1 with e (VB_E_CONFIG) naming
 * the library and the loader's reason.  Every entry to lib/net's TLS code
 * that has no context yet calls it; with a context it has been loaded.
 */
int vb_ssl_load(struct vb_err *e);

#ifndef VB_SSL_NO_REDIRECT
#define ASN1_TIME_print (*vb_ssl_ASN1_TIME_print)
#define BIO_ctrl (*vb_ssl_BIO_ctrl)
#define BIO_free (*vb_ssl_BIO_free)
#define BIO_new (*vb_ssl_BIO_new)
#define BIO_read (*vb_ssl_BIO_read)
#define BIO_s_mem (*vb_ssl_BIO_s_mem)
#define ERR_clear_error (*vb_ssl_ERR_clear_error)
#define ERR_error_string_n (*vb_ssl_ERR_error_string_n)
#define ERR_peek_last_error (*vb_ssl_ERR_peek_last_error)
#define ERR_reason_error_string (*vb_ssl_ERR_reason_error_string)
#define PEM_read_X509 (*vb_ssl_PEM_read_X509)
#define SSL_CTX_check_private_key (*vb_ssl_SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (*vb_ssl_SSL_CTX_ctrl)
#define SSL_CTX_free (*vb_ssl_SSL_CTX_free)
#define SSL_CTX_get0_certificate (*vb_ssl_SSL_CTX_get0_certificate)
#define SSL_CTX_get_cert_store (*vb_ssl_SSL_CTX_get_cert_store)
#define SSL_CTX_get_ex_data (*vb_ssl_SSL_CTX_get_ex_data)
#define SSL_CTX_load_verify_file (*vb_ssl_SSL_CTX_load_verify_file)
#define SSL_CTX_new (*vb_ssl_SSL_CTX_new)
#define SSL_CTX_set_cipher_list (*vb_ssl_SSL_CTX_set_cipher_list)
#define SSL_CTX_set_ciphersuites (*vb_ssl_SSL_CTX_set_ciphersuites)
#define SSL_CTX_set_default_passwd_cb (*vb_ssl_SSL_CTX_set_default_passwd_cb)
#define SSL_CTX_set_default_read_buffer_len \
	(*vb_ssl_SSL_CTX_set_default_read_buffer_len)
#define SSL_CTX_set_default_verify_paths \
	(*vb_ssl_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_set_ex_data (*vb_ssl_SSL_CTX_set_ex_data)
#define SSL_CTX_set_num_tickets (*vb_ssl_SSL_CTX_set_num_tickets)
#define SSL_CTX_set_options (*vb_ssl_SSL_CTX_set_options)
#define SSL_CTX_set_verify (*vb_ssl_SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey_file (*vb_ssl_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file \
	(*vb_ssl_SSL_CTX_use_certificate_chain_file)
#define SSL_ctrl (*vb_ssl_SSL_ctrl)
#define SSL_do_handshake (*vb_ssl_SSL_do_handshake)
#define SSL_free (*vb_ssl_SSL_free)
#define SSL_get0_param (*vb_ssl_SSL_get0_param)
#define SSL_get_error (*vb_ssl_SSL_get_error)
#define SSL_get_verify_result (*vb_ssl_SSL_get_verify_result)
#define SSL_get_wbio (*vb_ssl_SSL_get_wbio)
#define SSL_has_pending (*vb_ssl_SSL_has_pending)
#define SSL_is_server (*vb_ssl_SSL_is_server)
#define SSL_new (*vb_ssl_SSL_new)
#define SSL_pending (*vb_ssl_SSL_pending)
#define SSL_read_ex (*vb_ssl_SSL_read_ex)
#define SSL_sendfile (*vb_ssl_SSL_sendfile)
#define SSL_set1_host (*vb_ssl_SSL_set1_host)
#define SSL_set_accept_state (*vb_ssl_SSL_set_accept_state)
#define SSL_set_connect_state (*vb_ssl_SSL_set_connect_state)
#define SSL_set_fd (*vb_ssl_SSL_set_fd)
#define SSL_shutdown (*vb_ssl_SSL_shutdown)
#define SSL_write_ex (*vb_ssl_SSL_write_ex)
#define TLS_client_method (*vb_ssl_TLS_client_method)
#define TLS_server_method (*vb_ssl_TLS_server_method)
#define X509_NAME_oneline (*vb_ssl_X509_NAME_oneline)
#define X509_STORE_add_cert (*vb_ssl_X509_STORE_add_cert)
#define X509_STORE_set_flags (*vb_ssl_X509_STORE_set_flags)
#define X509_VERIFY_PARAM_set1_ip_asc (*vb_ssl_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_check_host (*vb_ssl_X509_check_host)
#define X509_check_ip_asc (*vb_ssl_X509_check_ip_asc)
#define X509_cmp_current_time (*vb_ssl_X509_cmp_current_time)
#define X509_free (*vb_ssl_X509_free)
#define X509_get0_notAfter (*vb_ssl_X509_get0_notAfter)
#define X509_get0_notBefore (*vb_ssl_X509_get0_notBefore)
#define X509_get_subject_name (*vb_ssl_X509_get_subject_name)
#define X509_verify_cert_error_string (*vb_ssl_X509_verify_cert_error_string)
#endif

#endif
