/*
 * http-int.h - what the files of the HTTP API share (http.h says what it
 * is): the request being served, the route table, the JSON writer,
 * base64 and the tokens (jwt.c).
 */
#ifndef VB_BROKER_HTTP_INT_H
#define VB_BROKER_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "broker/broker.h"

struct MHD_Connection;

/* upstream's [http] max_request_size: "2 MB" */
#define VB_HTTP_BODY_MAX 2000000u
#define VB_HTTP_SEGS 10

struct vb_http_req;

/* What a route's build step decided. */
enum vb_hx {
	VB_HX_DONE,	/* the response is set */
	VB_HX_DISPATCH, /* run x->frame, then the route's render */
};

struct vb_http_route {
	const char *method;
	const char *pattern; /* "/streams/{}/topics/{}": {} is a segment */
	int auth;	     /* needs a bearer token */
	int body;	     /* takes a JSON body (415/400 before build) */
	enum vb_hx (*build)(struct vb_http_req *x);
	/* The reply of x->frame: status, payload. */
	void (*render)(struct vb_http_req *x, uint32_t status, const uint8_t *p,
		       size_t n);
};

extern const struct vb_http_route vb_http_routes[];
extern const size_t vb_http_nroutes;

/* One HTTP request, from its headers to its response. */
struct vb_http_req {
	struct vb_broker *b;
	struct MHD_Connection *mc;
	const struct vb_http_route *route;
	char method[16];
	char *path;		 /* as sent, not decoded */
	char *seg[VB_HTTP_SEGS]; /* decoded path segments */
	size_t nseg;
	struct vb_buf body;
	int too_big;  /* body over VB_HTTP_BODY_MAX */
	json_t *json; /* the body, parsed */
	/* the bearer token's claims, when it had to have one */
	uint32_t user_id;
	char jti[40];
	uint64_t exp;
	/* the request run through the broker */
	struct vb_req req;   /* names for error reasons */
	struct vb_buf frame; /* whole request frame */
	struct vb_conn c;    /* socket-less connection */
	int dispatched, suspended, answered;
	/* the response */
	unsigned status;
	const char *ctype; /* NULL: no body */
	struct vb_buf resp;
	char allow[64];			 /* 405: the Allow header */
	struct vb_http_req *prev, *next; /* suspended ones */
};

/* ---- responses (http.c) ---- */

/* An empty body (201, 204, 401 ...). */
void vb_hx_empty(struct vb_http_req *x, unsigned status);
/* text/plain (framework rejections, /, /ping). */
void vb_hx_text(struct vb_http_req *x, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* x->resp holds JSON: send it with this status. */
void vb_hx_json(struct vb_http_req *x, unsigned status);
/* An Iggy error as upstream's handlers render it (api.md §3.1 form 1). */
void vb_hx_iggy(struct vb_http_req *x, uint32_t st);
/* The handlers' own "not found" (api.md §3.1 form 2). */
void vb_hx_not_found(struct vb_http_req *x);
/* The query parameter name, decoded (NULL if absent). */
const char *vb_hx_query(struct vb_http_req *x, const char *name,
			struct vb_buf *tmp);
/* The server's token issuer. */
struct vb_jwt *vb_http_jwt(struct vb_broker *b);
/* Encodes x->req as the frame to dispatch. */
enum vb_hx vb_hx_run(struct vb_http_req *x);

/* ---- JSON out (http_json.c): a writer, since jansson has no u64 ---- */

struct vb_jw {
	struct vb_buf *o;
	int depth;
	uint8_t first[32]; /* nothing written yet at this depth */
};

void vb_jw_init(struct vb_jw *w, struct vb_buf *o);
/* k is the member name inside an object, NULL in an array. */
void vb_jw_obj(struct vb_jw *w, const char *k);
void vb_jw_arr(struct vb_jw *w, const char *k);
void vb_jw_end(struct vb_jw *w, char close);
void vb_jw_u64(struct vb_jw *w, const char *k, uint64_t v);
void vb_jw_f64(struct vb_jw *w, const char *k, double v);
void vb_jw_bool(struct vb_jw *w, const char *k, int v);
void vb_jw_null(struct vb_jw *w, const char *k);
void vb_jw_str(struct vb_jw *w, const char *k, const char *s, size_t n);
void vb_jw_cstr(struct vb_jw *w, const char *k, const char *s);
/* A u128 given as 16 little-endian bytes, as a bare number. */
void vb_jw_u128(struct vb_jw *w, const char *k, const uint8_t le[16]);
/* Standard base64 (with padding) of p[0..n). */
void vb_jw_b64(struct vb_jw *w, const char *k, const void *p, size_t n);
/* A byte size as upstream prints it ("1.5 KiB", api.md §0). */
void vb_jw_size(struct vb_jw *w, const char *k, uint64_t bytes);
void vb_byte_size(uint64_t bytes, char *out, size_t outsz);

/* ---- base64 (http_json.c, OpenSSL's codec) ---- */

void vb_b64_enc(struct vb_buf *o, const void *p, size_t n, int url);
/* Strict: padding as RFC 4648 §4 wants (url: §5, no padding). */
int vb_b64_dec(struct vb_buf *o, const char *s, size_t n, int url);

/* ---- JSON in (http_json.c) ---- */

/*
 * Parses a request body.  Integers above INT64_MAX (u64::MAX is common:
 * "never expire") are more than jansson takes: they are read as strings
 * of digits first, which vb_json_u64 accepts.  NULL with a reason in err.
 */
json_t *vb_json_load(const char *p, size_t n, char *err, size_t errsz);
/* Member k of o as a u64 (a number, or a string of digits): 0 or -1. */
int vb_json_u64(const json_t *o, const char *k, uint64_t max, uint64_t *v);
/* 1 present and set, 0 absent or null, -1 wrong type. */
int vb_json_opt_u64(const json_t *o, const char *k, uint64_t max, uint64_t *v);
/* A string member (borrowed): NULL if absent or not a string. */
const char *vb_json_str(const json_t *o, const char *k, size_t *n);

/* ---- tokens (jwt.c) ---- */

struct vb_jwt;

struct vb_jwt *vb_jwt_new(void);
void vb_jwt_free(struct vb_jwt *j);
/* A token for user id; *exp its expiry (Unix seconds). */
void vb_jwt_issue(struct vb_jwt *j, uint32_t user, struct vb_buf *out,
		  uint64_t *exp);
/*
 * Checks a token: signature, issuer, audience, times (with 5 s of
 * leeway), not revoked, a numeric subject.  0 with the claims, or -1:
 * 1 when it was well formed but is not valid (a bad signature, expired:
 * upstream's Unauthenticated), 2 when it is not a token (an undecodable
 * header) or no longer one (refreshed, logged out: InvalidAccessToken),
 * in *why.
 */
int vb_jwt_check(struct vb_jwt *j, const char *tok, size_t n, uint32_t *user,
		 char jti[40], uint64_t *exp, int *why);
/* Revokes jti (which expires at exp, when it can be forgotten). */
void vb_jwt_revoke(struct vb_jwt *j, const char *jti, uint64_t exp);

#endif
