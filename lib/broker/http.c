/*
 * The HTTP listener on the broker's loop (http.h): libmicrohttpd driven
 * from our epoll, the layers upstream puts around its routes, in its
 * order (api.md §1, §2.1, §4.10):
 *
 *   CORS        every OPTIONS is a preflight, answered 200 at once with
 *               no token asked; every reply carries
 *               Access-Control-Allow-Origin: * (tower-http's CorsLayer
 *               with upstream's defaults);
 *   metrics     every request that gets past CORS counts in
 *               http_requests_total;
 *   auth        a bearer token for every path but the public ones, else
 *               401 with an empty body (unknown paths included);
 *   routes      404 (empty) for no route, 405 (empty, Allow) for a path
 *               that has others, then the route (http_api.c).
 *
 * libmicrohttpd is given our own listening socket (we bind it, so the
 * address, the fallback and the errors are ours) and no URL unescaping:
 * the path is split on '/' first and each segment decoded after, as axum
 * does, so "%2F" stays inside its segment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/parse.h"
#include "base/path.h"
#include "broker/http-int.h"
#include "net/sock.h"
#include "base/banned.h"

struct vb_http {
	struct vb_broker *b;
	struct MHD_Daemon *d;
	int lfd;		/* ours until MHD_start_daemon takes it */
	int tfd;		/* timerfd for MHD_get_timeout */
	char tag_ep, tag_timer; /* epoll tags: their addresses */
	struct vb_jwt *jwt;
	struct vb_http_req *susp; /* suspended requests */
	/* HTTPS: the PEM texts MHD was given, kept until it stops */
	struct vb_buf cert_pem, key_pem;
	int tls;
};

static const char *const public_paths[] = {
	"/",
	"/metrics",
	"/ping",
	"/users/login",
	"/users/refresh-token",
	"/personal-access-tokens/login",
};

/* ---- responses ---- */

void vb_hx_empty(struct vb_http_req *x, unsigned status)
{
	vb_buf_reset(&x->resp);
	x->status = status;
	x->ctype = NULL;
	x->answered = 1;
}

void vb_hx_text(struct vb_http_req *x, unsigned status, const char *fmt, ...)
{
	va_list ap;

	vb_buf_reset(&x->resp);
	va_start(ap, fmt);
	vb_buf_vprintf(&x->resp, fmt, ap);
	va_end(ap);
	x->status = status;
	x->ctype = "text/plain; charset=utf-8";
	x->answered = 1;
}

void vb_hx_json(struct vb_http_req *x, unsigned status)
{
	x->status = status;
	x->ctype = "application/json";
	x->answered = 1;
}

static void json_error(struct vb_http_req *x, unsigned http, uint32_t id,
		       const char *code, const char *reason, const char *field)
{
	struct vb_jw w;

	vb_buf_reset(&x->resp);
	vb_jw_init(&w, &x->resp);
	vb_jw_obj(&w, NULL);
	vb_jw_u64(&w, "id", id);
	vb_jw_cstr(&w, "code", code);
	vb_jw_cstr(&w, "reason", reason);
	if (field)
		vb_jw_cstr(&w, "field", field);
	else
		vb_jw_null(&w, "field");
	vb_jw_end(&w, '}');
	vb_hx_json(x, http);
}

void vb_hx_not_found(struct vb_http_req *x)
{
	json_error(x, 404, 404, "not_found", "Resource not found", NULL);
}

/* api.md §3.1: which errors are 404, 401, 403 (the rest 400). */
static unsigned http_of(uint32_t st)
{
	switch (st) {
	case VB_ST_STREAM_ID_NOT_FOUND:
	case VB_ST_TOPIC_ID_NOT_FOUND:
	case VB_ST_PARTITION_NOT_FOUND:
	case VB_ST_CLIENT_NOT_FOUND:
	case VB_ST_CONSUMER_GROUP_ID_NOT_FOUND:
	case 5003: /* consumer_group_name_not_found */
	case VB_ST_CONSUMER_GROUP_MEMBER_NOT_FOUND:
	case VB_ST_CONSUMER_OFFSET_NOT_FOUND:
	case VB_ST_RESOURCE_NOT_FOUND:
	case 4000: /* segment_not_found */
		return 404;
	case VB_ST_UNAUTHENTICATED:
	case 77: /* access_token_missing */
	case 78: /* invalid_access_token */
	case VB_ST_INVALID_PAT:
		return 401;
	case VB_ST_UNAUTHORIZED:
		return 403;
	case VB_ST_IO_ERROR:
		/* upstream's is 400 too; ours says what it is */
		return 500;
	}
	return 400;
}

static const char *field_of(uint32_t st)
{
	switch (st) {
	case VB_ST_STREAM_ID_NOT_FOUND:
	case 1014:
		return "stream_id";
	case VB_ST_TOPIC_ID_NOT_FOUND:
	case 2016:
		return "topic_id";
	case VB_ST_PARTITION_NOT_FOUND:
		return "partition_id";
	case 4000:
		return "segment_id";
	case VB_ST_CLIENT_NOT_FOUND:
		return "client_id";
	case 1013:
	case VB_ST_STREAM_NAME_ALREADY_EXISTS:
	case 2014:
	case VB_ST_TOPIC_NAME_ALREADY_EXISTS:
	case VB_ST_CONSUMER_GROUP_NAME_ALREADY_EXISTS:
	case VB_ST_PAT_ALREADY_EXISTS:
		return "name";
	case VB_ST_INVALID_OFFSET:
		return "offset";
	case 5002:
		return "consumer_group_id";
	case VB_ST_USER_ALREADY_EXISTS:
		return "username";
	}
	return NULL;
}

/* An identifier as upstream prints it: the number or the name. */
static void id_str(const struct vb_ident *id, char *out, size_t sz)
{
	if (id->kind == VB_ID_NUM)
		snprintf(out, sz, "%u", id->num);
	else
		snprintf(out, sz, "%s", id->name.s);
}

/* upstream's texts (IggyError's Display), with what we know of them */
static void reason_of(const struct vb_http_req *x, uint32_t st, char *out,
		      size_t sz)
{
	char s[300], t[300], g[300];
	const struct vb_req *r = &x->req;

	id_str(&r->stream, s, sizeof(s));
	id_str(&r->topic, t, sizeof(t));
	id_str(&r->target, g, sizeof(g));
	switch (st) {
	case VB_ST_STREAM_ID_NOT_FOUND:
		snprintf(out, sz, "Stream with ID: %s was not found.", s);
		return;
	case VB_ST_TOPIC_ID_NOT_FOUND:
		snprintf(out, sz,
			 "Topic with ID: %s for stream with ID: %s "
			 "was not found.",
			 t, s);
		return;
	case VB_ST_PARTITION_NOT_FOUND:
		snprintf(out, sz,
			 "Partition with ID: %u for topic with ID: %s "
			 "for stream with ID: %s was not found.",
			 r->part.present ? r->part.id : r->partition_id, t, s);
		return;
	case VB_ST_STREAM_NAME_ALREADY_EXISTS:
		snprintf(out, sz, "Stream with name: %s already exists.",
			 r->name.s);
		return;
	case VB_ST_TOPIC_NAME_ALREADY_EXISTS:
		snprintf(out, sz,
			 "Topic with name: %s for stream with ID: %s "
			 "already exists.",
			 r->name.s, s);
		return;
	case VB_ST_CONSUMER_GROUP_ID_NOT_FOUND:
		snprintf(out, sz,
			 "Consumer group with ID: %s for topic with "
			 "ID: %s was not found.",
			 g, t);
		return;
	case VB_ST_CONSUMER_GROUP_NAME_ALREADY_EXISTS:
		snprintf(out, sz,
			 "Consumer group with name: %s for topic "
			 "with ID: %s already exists.",
			 r->name.s, t);
		return;
	case VB_ST_CLIENT_NOT_FOUND:
		snprintf(out, sz, "Client with ID: %u was not found.",
			 r->count);
		return;
	case VB_ST_RESOURCE_NOT_FOUND:
		snprintf(out, sz, "Resource with key: %s was not found.",
			 r->name.len ? r->name.s : g);
		return;
	case VB_ST_INVALID_OFFSET:
		snprintf(out, sz, "Invalid offset: %llu",
			 (unsigned long long)r->value);
		return;
	case VB_ST_CANNOT_DELETE_USER:
		snprintf(out, sz, "Cannot delete user with ID: %s", g);
		return;
	case VB_ST_CANNOT_CHANGE_PERMISSIONS:
		snprintf(out, sz,
			 "Cannot change permissions for user with "
			 "ID: %s",
			 g);
		return;
	case VB_ST_PAT_ALREADY_EXISTS:
		snprintf(out, sz,
			 "Personal access token: %s for user with "
			 "ID: %u already exists",
			 r->name.s, x->user_id);
		return;
	case VB_ST_CONSUMER_OFFSET_NOT_FOUND:
		snprintf(out, sz,
			 "Consumer offset for consumer with ID: %u "
			 "was not found.",
			 r->consumer.id.num);
		return;
	}
	{
		static const struct {
			uint32_t st;
			const char *text;
		} plain[] = {
			{ 1, "Error" },
			{ 3, "Invalid command" },
			{ 4, "Invalid format" },
			{ 5, "Feature is unavailable" },
			{ 6, "Invalid identifier" },
			{ 8, "Disconnected" },
			{ 40, "Unauthenticated" },
			{ 41, "Unauthorized" },
			{ 42, "Invalid credentials" },
			{ 43, "Invalid username" },
			{ 44, "Invalid password" },
			{ 45, "Invalid user status" },
			{ 46, "User already exists" },
			{ 47, "User inactive" },
			{ 50, "Invalid personal access token name" },
			{ 52, "Personal access tokens limit reached" },
			{ 53, "Invalid personal access token" },
			{ 54, "Personal access token has expired." },
			{ 55, "Users limit reached." },
			{ 77, "Access token is missing" },
			{ 78, "Invalid access token" },
			{ 101, "Invalid client ID" },
			{ 1013, "Invalid stream name" },
			{ 1014, "Invalid stream ID" },
			{ 1019, "Max topic size cannot be lower than segment "
				"size." },
			{ 2014, "Invalid topic name" },
			{ 2015, "Too many partitions" },
			{ 2016, "Invalid topic ID" },
			{ 2018, "Invalid replication factor" },
			{ 2019, "Invalid partitions count" },
			{ 3009, "Topic is full" },
			{ 3022, "Failed to resolve consumer" },
			{ 4009, "Invalid messages count" },
			{ 4017, "Too big headers payload" },
			{ 4018, "Invalid header key" },
			{ 4019, "Invalid header value" },
			{ 4022, "Too big message payload" },
			{ 4023, "Too many messages" },
			{ 4024, "Empty message payload" },
			{ 4027, "Invalid message checksum" },
			{ 4028, "Invalid key value length" },
			{ 4036, "Invalid messages byte size" },
			{ 5002, "Invalid consumer group ID" },
			{ 5005, "Invalid consumer group name" },
			{ 5006, "Consumer group member was not found." },
			{ 13000, "I/O error: the server could not store it" },
		};

		for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
			if (plain[i].st == st) {
				strlcpy(out, plain[i].text, sz);
				return;
			}
		}
	}
	snprintf(out, sz, "Error %u", st);
}

/* snake_case names for the codes lib/wire has no name for */
static const char *code_of(uint32_t st)
{
	switch (st) {
	case 50:
		return "invalid_personal_access_token_name";
	case 51:
		return "personal_access_token_already_exists";
	case 52:
		return "personal_access_tokens_limit_reached";
	case 53:
		return "invalid_personal_access_token";
	case 54:
		return "personal_access_token_expired";
	case 5003:
		return "consumer_group_name_not_found";
	case 5002:
		return "invalid_consumer_group_id";
	case 5005:
		return "invalid_consumer_group_name";
	case 4000:
		return "segment_not_found";
	case 4018:
		return "invalid_header_key";
	case 4019:
		return "invalid_header_value";
	case 4024:
		return "empty_message_payload";
	case 4028:
		return "invalid_key_value_length";
	case 77:
		return "access_token_missing";
	case 78:
		return "invalid_access_token";
	case 1013:
		return "invalid_stream_name";
	case 1014:
		return "invalid_stream_id";
	case 2014:
		return "invalid_topic_name";
	case 2016:
		return "invalid_topic_id";
	case 2018:
		return "invalid_replication_factor";
	case VB_ST_IO_ERROR:
		return "io_error";
	}
	return vb_status_name(st);
}

void vb_hx_iggy(struct vb_http_req *x, uint32_t st)
{
	char reason[700];

	reason_of(x, st, reason, sizeof(reason));
	json_error(x, http_of(st), st, code_of(st), reason, field_of(st));
}

/* ---- requests ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding (and '+' as a space in a query); -1 if malformed. */
static int pct_decode(const char *s, size_t n, int query, struct vb_buf *o)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			vb_buf_addch(o, hi << 4 | lo);
			i += 2;
		} else {
			vb_buf_addch(o, query && s[i] == '+' ? ' ' : s[i]);
		}
	}
	vb_buf_addch(o, 0);
	o->len--;
	return 0;
}

const char *vb_hx_query(struct vb_http_req *x, const char *name,
			struct vb_buf *tmp)
{
	const char *v = MHD_lookup_connection_value(x->mc,
						    MHD_GET_ARGUMENT_KIND,
						    name);

	if (v == NULL)
		return NULL;
	vb_buf_reset(tmp);
	if (pct_decode(v, strlen(v), 1, tmp) < 0)
		return NULL;
	return tmp->p ? (const char *)tmp->p : "";
}

/* Splits and decodes the path; -1 if it cannot be a route of ours. */
static int split_path(struct vb_http_req *x)
{
	const char *p = x->path;

	if (p[0] != '/')
		return -1;
	if (p[1] == 0)
		return 0;
	p++;
	for (;;) {
		const char *sl = strchr(p, '/');
		size_t n = sl ? (size_t)(sl - p) : strlen(p);
		struct vb_buf seg = VB_BUF_INIT;

		if (x->nseg == VB_HTTP_SEGS)
			return -1;
		if (pct_decode(p, n, 0, &seg) < 0) {
			vb_buf_release(&seg);
			return -1;
		}
		x->seg[x->nseg++] = seg.p ? (char *)seg.p : vb_xstrdup("");
		if (sl == NULL)
			return 0;
		p = sl + 1;
	}
}

static int route_matches(const struct vb_http_route *r,
			 const struct vb_http_req *x)
{
	const char *p = r->pattern + 1;
	size_t i = 0;

	if (*p == 0)
		return x->nseg == 0;
	for (;;) {
		const char *sl = strchr(p, '/');
		size_t n = sl ? (size_t)(sl - p) : strlen(p);

		if (i >= x->nseg)
			return 0;
		if (!(n == 2 && p[0] == '{' && p[1] == '}') &&
		    (strlen(x->seg[i]) != n || memcmp(x->seg[i], p, n) != 0))
			return 0;
		i++;
		if (sl == NULL)
			return i == x->nseg;
		p = sl + 1;
	}
}

/*
 * Of two patterns matching one path, whether a is the more specific: at
 * the first segment where they differ, a has the literal and b "{}".
 * As axum's router (matchit), the path picks its route before the
 * method does: GET /users/login is a 405 (POST only), not the user
 * named "login".
 */
static int more_specific(const char *a, const char *b)
{
	for (;;) {
		int pa = a[0] == '{', pb = b[0] == '{';

		if (pa != pb)
			return pb;
		a = strchr(a, '/');
		b = strchr(b, '/');
		if (a == NULL || b == NULL)
			return 0;
		a++;
		b++;
	}
}

static int is_public(const char *path)
{
	for (size_t i = 0; i < sizeof(public_paths) / sizeof(public_paths[0]);
	     i++)
		if (strcmp(path, public_paths[i]) == 0)
			return 1;
	return 0;
}

/* api.md §2.1: "Bearer <token>", a valid token of ours; 0 or -1. */
static int authenticate(struct vb_http_req *x)
{
	const char *h = MHD_lookup_connection_value(x->mc, MHD_HEADER_KIND,
						    "Authorization");
	int why;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return -1;
	for (const char *c = h; *c; c++)
		if ((unsigned char)*c > 0x7e)
			return -1;
	return vb_jwt_check(x->b->http->jwt, h + 7, strlen(h + 7), &x->user_id,
			    x->jti, &x->exp, &why);
}

static int json_ctype(struct vb_http_req *x)
{
	const char *ct = MHD_lookup_connection_value(x->mc, MHD_HEADER_KIND,
						     "Content-Type");

	if (ct == NULL || strncasecmp(ct, "application/", 12) != 0)
		return 0;
	ct += 12;
	if (strncasecmp(ct, "json", 4) == 0)
		ct += 4;
	else if (strchr(ct, '+') &&
		 strncasecmp(strchr(ct, '+'), "+json", 5) == 0)
		ct = strchr(ct, '+') + 5;
	else
		return 0;
	return *ct == 0 || *ct == ';' || *ct == ' ';
}

struct vb_jwt *vb_http_jwt(struct vb_broker *b)
{
	return b->http->jwt;
}

enum vb_hx vb_hx_run(struct vb_http_req *x)
{
	vb_buf_reset(&x->frame);
	vb_wire_req_encode(&x->frame, &x->req);
	return VB_HX_DISPATCH;
}

/* ---- the socket-less connection ---- */

static void conn_clear(struct vb_conn *c)
{
	while (c->qn > 0) {
		vb_file_unref(c->q[c->qhead].f);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qn--;
	}
	c->qhead = 0;
	c->pending = 0;
	vb_buf_reset(&c->out);
	c->out_pos = c->out_acc = 0;
}

/* Its login, if the password worker still has it, is forgotten. */
static void conn_release(struct vb_broker *b, struct vb_conn *c)
{
	vb_auth_conn_gone(b, c);
	vb_broker_conn_gone(b, c);
	conn_clear(c);
	free(c->q);
	free(c->groups);
	vb_buf_release(&c->out);
}

/*
 * Bytes of the reply queued on c, or -1 while it is not all there, or
 * while the commit point holds it (commit.c): an HTTP send is answered,
 * like a TCP one, only once what it wrote is as durable as --fsync says.
 */
static int64_t reply_size(struct vb_conn *c)
{
	uint64_t have = c->out.len, want;

	if (c->waits > 0)
		return -1;
	vb_conn_commit(c);
	if (c->out.len < VB_RESP_HDR)
		return -1;
	want = VB_RESP_HDR + (uint64_t)vb_ld32(c->out.p + 4);
	for (size_t i = 0; i < c->qn; i++) {
		const struct vb_outitem *it = &c->q[(c->qhead + i) % c->qcap];

		if (it->f)
			have += it->len;
	}
	return have >= want ? (int64_t)want : -1;
}

static int pread_all(int fd, uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* The reply as one buffer: memory as it is, file ranges read in. */
static int gather(struct vb_conn *c, struct vb_buf *o, struct vb_err *e)
{
	size_t pos = 0;

	for (size_t i = 0; i < c->qn; i++) {
		const struct vb_outitem *it = &c->q[(c->qhead + i) % c->qcap];

		if (it->f == NULL) {
			vb_buf_add(o, c->out.p + pos, it->len);
			pos += it->len;
			continue;
		}
		if (pread_all(it->f->fd, vb_buf_reserve(o, it->len), it->len,
			      (off_t)it->off) < 0)
			return vb_err_sys(e, VB_E_IO, "read of a poll reply");
		o->len += it->len;
	}
	conn_clear(c);
	return 0;
}

static void finish(struct vb_http_req *x)
{
	struct vb_buf rep = VB_BUF_INIT;
	struct vb_err e;
	uint32_t st, len;

	if (gather(&x->c, &rep, &e) < 0 || rep.len < VB_RESP_HDR) {
		vb_broker_log(x->b, "http: %s", e.msg);
		vb_hx_iggy(x, VB_ST_IO_ERROR);
	} else {
		vb_wire_resp_hdr(rep.p, &st, &len);
		if ((size_t)len > rep.len - VB_RESP_HDR)
			len = (uint32_t)(rep.len - VB_RESP_HDR);
		x->route->render(x, st, rep.p + VB_RESP_HDR, len);
	}
	vb_buf_release(&rep);
}

/* Runs x->frame; 1 when the reply is there (rendered), 0 when it waits. */
static int dispatch(struct vb_http_req *x)
{
	uint32_t length, code;

	x->c.user_id = x->route->auth ? x->user_id : VB_NO_USER;
	vb_wire_req_hdr(x->frame.p, &length, &code);
	x->dispatched = 1;
	vb_broker_dispatch(x->b, &x->c, code, x->frame.p + VB_REQ_HDR,
			   length - 4);
	if (reply_size(&x->c) < 0)
		return 0;
	finish(x);
	return 1;
}

void vb_http_conn_done(struct vb_broker *b, struct vb_conn *c)
{
	struct vb_http_req *x =
		(struct vb_http_req *)((char *)c -
				       offsetof(struct vb_http_req, c));

	struct itimerspec its;

	if (!x->suspended || reply_size(c) < 0)
		return;
	MHD_resume_connection(x->mc);
	/*
	 * MHD_run must see it, and this may be deep inside the loop's own
	 * work: the HTTP timer fires at once and the loop runs MHD next.
	 * (libmicrohttpd 0.9.75's own wake-up, its inter-thread eventfd, does
	 * not make the epoll fd it gives us readable in this mode.)
	 */
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1;
	timerfd_settime(b->http->tfd, 0, &its, NULL);
}

/* Everything up to the route's reply (api.md §2.1 order). */
static int serve(struct vb_http_req *x)
{
	const struct vb_http_route *r = NULL;
	const char *best = NULL;
	size_t alen = 0;
	char err[200];

	x->b->metrics.http_requests++;
	if (split_path(x) < 0) {
		if (!is_public(x->path) && authenticate(x) < 0)
			vb_hx_empty(x, 401);
		else
			vb_hx_empty(x, 404);
		return 1;
	}
	x->allow[0] = 0;
	for (size_t i = 0; i < vb_http_nroutes; i++) {
		const struct vb_http_route *c = &vb_http_routes[i];

		if (route_matches(c, x) &&
		    (best == NULL || more_specific(c->pattern + 1, best + 1)))
			best = c->pattern;
	}
	for (size_t i = 0; best && i < vb_http_nroutes; i++) {
		const struct vb_http_route *c = &vb_http_routes[i];

		if (strcmp(c->pattern, best) != 0)
			continue;
		if (strcmp(c->method, x->method) == 0) {
			r = c;
			break;
		}
		if (strstr(x->allow, c->method) == NULL) {
			alen += (size_t)snprintf(x->allow + alen,
						 sizeof(x->allow) - alen,
						 "%s%s", alen ? "," : "",
						 c->method);
			if (alen >= sizeof(x->allow))
				alen = sizeof(x->allow) - 1;
		}
	}
	if (!is_public(x->path) && authenticate(x) < 0) {
		vb_hx_empty(x, 401);
		return 1;
	}
	if (r == NULL) {
		vb_hx_empty(x, x->allow[0] ? 405 : 404);
		return 1;
	}
	x->allow[0] = 0;
	x->route = r;
	if (r->body) {
		if (!json_ctype(x)) {
			vb_hx_text(x, 415,
				   "Expected request with "
				   "`Content-Type: application/json`");
			return 1;
		}
		if (x->too_big) {
			vb_hx_text(x, 413, "length limit exceeded");
			return 1;
		}
		x->json = vb_json_load((char *)x->body.p, x->body.len, err,
				       sizeof(err));
		if (x->json == NULL) {
			vb_hx_text(x, 400,
				   "Failed to parse the request body "
				   "as JSON: %s",
				   err);
			return 1;
		}
	}
	if (r->build(x) == VB_HX_DONE)
		return 1;
	return dispatch(x);
}

/* ---- libmicrohttpd's callbacks ---- */

static void add_cors(struct MHD_Response *r, int preflight)
{
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(r, "Vary",
				"origin, access-control-request-"
				"method, access-control-request-headers");
	if (preflight) {
		MHD_add_response_header(r, "Access-Control-Allow-Methods",
					"GET,POST,PUT,DELETE");
		MHD_add_response_header(r, "Access-Control-Allow-Headers",
					"content-type,authorization");
	}
}

static enum MHD_Result respond(struct vb_http_req *x, int preflight)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	size_t len = x->resp.len;
	void *body = x->resp.p;

	x->resp.p = NULL;
	x->resp.len = x->resp.cap = 0;
	r = MHD_create_response_from_buffer(len, len ? body : NULL,
					    len ? MHD_RESPMEM_MUST_FREE :
						  MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	if (len == 0)
		free(body);
	if (x->ctype)
		MHD_add_response_header(r, "Content-Type", x->ctype);
	if (x->allow[0])
		MHD_add_response_header(r, "Allow", x->allow);
	add_cors(r, preflight);
	if (x->status / 100 < 6)
		x->b->metrics.http_status[x->status / 100]++;
	rc = MHD_queue_response(x->mc, x->status, r);
	MHD_destroy_response(r);
	return rc;
}

static void req_free(struct vb_http_req *x)
{
	if (x == NULL)
		return;
	json_decref(x->json);
	for (size_t i = 0; i < x->nseg; i++)
		free(x->seg[i]);
	free(x->path);
	vb_buf_release(&x->body);
	vb_buf_release(&x->frame);
	vb_buf_release(&x->resp);
	conn_release(x->b, &x->c);
	free(x);
}

static struct vb_http_req *req_new(struct vb_http *h, struct MHD_Connection *mc,
				   const char *url, const char *method)
{
	struct vb_http_req *x = vb_xcalloc(1, sizeof(*x));
	const union MHD_ConnectionInfo *ci;

	x->b = h->b;
	x->mc = mc;
	x->path = vb_xstrdup(url);
	strlcpy(x->method, method, sizeof(x->method));
	x->c.fd = -1;
	x->c.user_id = VB_NO_USER;
	/* not one of the connections the limits count (guard.h) */
	x->c.dismissed = 1;
	vb_req_init(&x->req, 0);
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		vb_sockaddr_str(ci->client_addr, x->c.addr, sizeof(x->c.addr));
		vb_sockaddr_host(ci->client_addr, x->c.ip, sizeof(x->c.ip));
	}
	return x;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct vb_http *h = cls;
	struct vb_http_req *x = *con_cls;

	if (x == NULL) {
		const char *cl;

		x = req_new(h, mc, url, method);
		*con_cls = x;
		cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
						 "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > VB_HTTP_BODY_MAX)
			x->too_big = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!x->too_big &&
		    x->body.len + *upload_size <= VB_HTTP_BODY_MAX)
			vb_buf_add(&x->body, upload, *upload_size);
		else
			x->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (x->suspended) {
		/* resumed by vb_http_conn_done: the reply is there */
		x->suspended = 0;
		if (x->prev)
			x->prev->next = x->next;
		else
			h->susp = x->next;
		if (x->next)
			x->next->prev = x->prev;
		x->prev = x->next = NULL;
		finish(x);
		return respond(x, 0);
	}
	/* CORS answers every OPTIONS itself (api.md §2.1) */
	if (strcmp(method, "OPTIONS") == 0) {
		vb_hx_empty(x, 200);
		return respond(x, 1);
	}
	if (!serve(x)) {
		x->suspended = 1;
		x->next = h->susp;
		if (h->susp)
			h->susp->prev = x;
		h->susp = x;
		MHD_suspend_connection(mc);
		return MHD_YES;
	}
	return respond(x, 0);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct vb_http *h = cls;
	struct vb_http_req *x = *con_cls;

	if (x && x->suspended) {
		if (x->prev)
			x->prev->next = x->next;
		else
			h->susp = x->next;
		if (x->next)
			x->next->prev = x->prev;
	}
	req_free(x);
	*con_cls = NULL;
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	char line[600];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = 0;
	vb_broker_log(cls, "http: %s", line);
}

/* ---- the loop's side ---- */

static void arm_timer(struct vb_http *h)
{
	struct itimerspec its;
	MHD_UNSIGNED_LONG_LONG ms;

	memset(&its, 0, sizeof(its));
	if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
		if (ms == 0)
			its.it_value.tv_nsec = 1;
		else {
			its.it_value.tv_sec = (time_t)(ms / 1000);
			its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		}
	}
	timerfd_settime(h->tfd, 0, &its, NULL);
}

int vb_http_tag(const struct vb_broker *b, const void *tag)
{
	const struct vb_http *h = b->http;

	return h && (tag == &h->tag_ep || tag == &h->tag_timer);
}

void vb_http_event(struct vb_broker *b, void *tag)
{
	struct vb_http *h = b->http;
	uint64_t ticks;

	if (tag == &h->tag_timer && read(h->tfd, &ticks, sizeof(ticks)) < 0 &&
	    errno != EAGAIN)
		return;
	MHD_run(h->d);
	arm_timer(h);
}

int vb_http_is_tls(const struct vb_broker *b)
{
	return b->http && b->http->tls;
}

unsigned vb_http_connections(const struct vb_broker *b)
{
	const union MHD_DaemonInfo *di;

	if (b->http == NULL)
		return 0;
	di = MHD_get_daemon_info(b->http->d,
				 MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di ? di->num_connections : 0;
}

/* The HTTP listener; an address in use is given up for a free port. */
static int bind_listen(struct vb_http *h, const char *addr, int fallback,
		       struct vb_err *e)
{
	h->lfd = vb_net_listen(addr, "HTTP", 0, 128, e);
	if (h->lfd < 0 && fallback && e->kind == VB_E_STATE) {
		vb_broker_log(h->b,
			      "http: %s is in use; listening on a port "
			      "of the kernel's choice instead",
			      addr);
		h->lfd = vb_net_listen(addr, "HTTP", 1, 128, e);
	}
	return h->lfd < 0 ? -1 : 0;
}

/*
 * HTTPS: the certificate chain and the key (key, or the certificate file
 * when NULL) read into h, NUL-terminated, as MHD_OPTION_HTTPS_MEM_* want
 * them.  vb_broker_open has already loaded both into OpenSSL, so what
 * fails here is the libmicrohttpd build or a file changed since.
 */
static int read_pems(struct vb_http *h, const char *cert, const char *key,
		     struct vb_err *e)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return vb_err_set(e, VB_E_CONFIG,
				  "HTTPS: this libmicrohttpd "
				  "is built without TLS (--no-http, or an "
				  "HTTP API without TLS: no --tls-cert)");
	if (vb_path_read_file(cert, &h->cert_pem, 1u << 20, NULL, e) < 0 ||
	    vb_path_read_file(key ? key : cert, &h->key_pem, 1u << 20, NULL,
			      e) < 0)
		return -1;
	vb_buf_addch(&h->cert_pem, 0);
	vb_buf_addch(&h->key_pem, 0);
	h->tls = 1;
	return 0;
}

int vb_http_listen(struct vb_broker *b, const struct vb_http_opts *o,
		   struct vb_err *e)
{
	struct vb_http *h = vb_xcalloc(1, sizeof(*h));
	const union MHD_DaemonInfo *di;
	struct epoll_event ee;
	struct MHD_OptionItem tlsopt[3] = {
		{ MHD_OPTION_END, 0, NULL },
		{ MHD_OPTION_END, 0, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	int family = AF_INET;

	h->b = b;
	h->lfd = h->tfd = -1;
	b->http = h;
	if (o->tls_cert && o->tls_cert[0]) {
		if (read_pems(h, o->tls_cert, o->tls_key, e) < 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	if (bind_listen(h, o->addr, o->fallback, e) < 0 ||
	    (family = vb_net_local(h->lfd, b->http_ip, sizeof(b->http_ip),
				   &b->http_port, e)) < 0)
		goto fail;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the certificate options only with MHD_USE_TLS (else MHD warns) */
	if (h->tls) {
		tlsopt[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT,
						     0, h->cert_pem.p };
		tlsopt[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY,
						     0, h->key_pem.p };
	}
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, on_log, b,
				MHD_OPTION_LISTEN_SOCKET, h->lfd,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				MHD_OPTION_CONNECTION_LIMIT, 256u,
				MHD_OPTION_ARRAY, tlsopt, MHD_OPTION_END);
	if (h->d == NULL) {
		vb_err_set(e, VB_E_IO, "cannot start the HTTP server on %s",
			   o->addr);
		goto fail;
	}
	h->lfd = -1; /* MHD's now: it closes it */
	h->jwt = vb_jwt_new();
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (di == NULL || h->tfd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot set up the HTTP server");
		goto fail;
	}
	ee.events = EPOLLIN;
	ee.data.ptr = &h->tag_ep;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, di->epoll_fd, &ee) < 0) {
		vb_err_sys(e, VB_E_IO, "epoll");
		goto fail;
	}
	ee.data.ptr = &h->tag_timer;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, h->tfd, &ee) < 0) {
		vb_err_sys(e, VB_E_IO, "epoll");
		goto fail;
	}
	arm_timer(h);
	return 0;
fail:
	vb_http_close(b);
	return -1;
}

void vb_http_close(struct vb_broker *b)
{
	struct vb_http *h = b->http;

	if (h == NULL)
		return;
	/* suspended requests must be resumed before the daemon stops */
	for (struct vb_http_req *x = h->susp; x; x = x->next)
		MHD_resume_connection(x->mc);
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->tfd >= 0)
		close(h->tfd);
	vb_jwt_free(h->jwt);
	if (h->key_pem.p)
		explicit_bzero(h->key_pem.p, h->key_pem.len);
	vb_buf_release(&h->cert_pem);
	vb_buf_release(&h->key_pem);
	free(h);
	b->http = NULL;
}
