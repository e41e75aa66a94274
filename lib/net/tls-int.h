/* tls-int.h - helpers shared by the files of lib/net (not an API). */
#ifndef VB_NET_TLS_INT_H
#define VB_NET_TLS_INT_H

#include <stddef.h>

struct ssl_ctx_st;

/*
 * OpenSSL's reason for the last error of this thread ("certificate
 * verify failed"), or "unknown error"; the error queue is emptied.
 */
void vb_tls_reason(char *out, size_t size);
/* The context trusts one pinned certificate (no name is checked). */
int vb_tls_ctx_pinned(const struct ssl_ctx_st *ctx);

#endif
