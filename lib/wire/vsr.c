/*
 * vsr.c - the Iggy 0.9 framing (iggy-wire-0.9/framing.md): 256-byte
 * request, reply and eviction headers, the result section of committed
 * writes, the login reply.  Which operation a command travels as comes
 * from the command table (cmds.h); the points the final release may
 * change are in v09-pins.h.
 */
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"
#include "base/banned.h"

/* Request header offsets (framing.md §2). */
enum {
	RQ_SIZE = 48,
	RQ_COMMAND = 60,
	RQ_CLIENT = 128,
	RQ_CHECKSUM = 144,
	RQ_TIMESTAMP = 160,
	RQ_REQUEST = 168,
	RQ_OPERATION = 176,
	RQ_SESSION = 184,
	RQ_USER = 192,
};

/* Reply header offsets (framing.md §3). */
enum {
	RP_SIZE = 48,
	RP_COMMAND = 60,
	RP_CHECKSUM = 128,
	RP_CLIENT = 160,
	RP_OP = 176,
	RP_COMMIT = 184,
	RP_TIMESTAMP = 192,
	RP_REQUEST = 200,
	RP_OPERATION = 208,
	RP_STATUS = VB_VSR_REPLY_STATUS,
};

/* Eviction header offsets (framing.md §7). */
enum {
	EV_CLIENT = 128,
	EV_VERSION_MAX = 144,
	EV_VERSION_MIN = 148,
	EV_REASON = 255,
};

static const char *const reasons[] = {
	[VB_EVICT_NO_SESSION] = "no_session",
	[VB_EVICT_CLIENT_RELEASE_TOO_LOW] = "client_release_too_low",
	[VB_EVICT_CLIENT_RELEASE_TOO_HIGH] = "client_release_too_high",
	[VB_EVICT_INVALID_REQUEST_OPERATION] = "invalid_request_operation",
	[VB_EVICT_INVALID_REQUEST_BODY] = "invalid_request_body",
	[VB_EVICT_INVALID_REQUEST_BODY_SIZE] = "invalid_request_body_size",
	[VB_EVICT_SESSION_TOO_LOW] = "session_too_low",
	[VB_EVICT_SESSION_RELEASE_MISMATCH] = "session_release_mismatch",
	[VB_EVICT_INVALID_CREDENTIALS] = "invalid_credentials",
	[VB_EVICT_INVALID_TOKEN] = "invalid_token",
	[VB_EVICT_USER_INACTIVE] = "user_inactive",
	[VB_EVICT_SESSION_ERROR] = "session_error",
	[VB_EVICT_STALE_CLIENT] = "stale_client",
	[VB_EVICT_INCOMPATIBLE_PROTOCOL] = "incompatible_protocol",
	[VB_EVICT_MALFORMED_LOGIN] = "malformed_login",
};

const char *vb_evict_name(uint8_t reason)
{
	if (reason < sizeof(reasons) / sizeof(reasons[0]) && reasons[reason])
		return reasons[reason];
	return "invalid";
}

uint32_t vb_evict_status(uint8_t reason, uint32_t max, uint32_t min)
{
	switch (reason) {
	case VB_EVICT_CLIENT_RELEASE_TOO_LOW:
	case VB_EVICT_CLIENT_RELEASE_TOO_HIGH:
	case VB_EVICT_INVALID_REQUEST_OPERATION:
	case VB_EVICT_INVALID_REQUEST_BODY:
	case VB_EVICT_INVALID_REQUEST_BODY_SIZE:
		return VB_ST_INVALID_COMMAND;
	case VB_EVICT_INVALID_CREDENTIALS:
		return VB_ST_INVALID_CREDENTIALS;
	case VB_EVICT_INVALID_TOKEN:
		return VB_ST_INVALID_PAT;
	case VB_EVICT_STALE_CLIENT:
		return VB_ST_STALE_CLIENT;
	case VB_EVICT_INCOMPATIBLE_PROTOCOL:
		if (min == 0 || max < min)
			return VB_ST_UNAUTHENTICATED;
		return VB_ST_INCOMPATIBLE_PROTOCOL_VERSION;
	case VB_EVICT_MALFORMED_LOGIN:
		return VB_ST_INVALID_FORMAT;
	case 0:
		return VB_ST_INVALID_COMMAND;
	}
	return VB_ST_UNAUTHENTICATED;
}

const char *vb_vsr_version_fmt(uint32_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u", v >> 20 & 0x3ff, v >> 10 & 0x3ff,
		 v & 0x3ff);
	return buf;
}

int vb_vsr_op_declared(uint8_t op)
{
	return op == VB_OP_REGISTER || op == VB_OP_NR || op == VB_OP_LOGOUT ||
	       vb_op_metadata(op) || vb_op_partition(op);
}

/* ---- requests ---- */

static uint64_t v09_req_size(const uint8_t *p)
{
	uint32_t size = vb_ld32(p + RQ_SIZE);

	/* a frame too small to hold its header: take the header only */
	return size < VB_VSR_HDR ? VB_VSR_HDR : size;
}

static uint32_t op_code(uint8_t op, const uint8_t *p)
{
	if (op == VB_OP_NR)
		return vb_ld32(p + VB_V09_NR_CODE_OFF);
	return vb_cmd_of_op(op);
}

static uint32_t v09_req_code(const uint8_t *p)
{
	return op_code(p[RQ_OPERATION], p);
}

static size_t v09_req_begin(struct vb_buf *b, uint32_t code)
{
	const struct vb_cmd_info *ci = vb_cmd_lookup(code, VB_GEN_09);
	size_t mark = b->len;
	uint8_t *h;
	uint8_t op = ci ? ci->op09 : VB_OP_NR;

	/* Codes 0.9 does not map (legacy logins, unknown ones) travel as
	 * NonReplicated: the server decides (framing.md §6.1). */
	if (op == VB_OP_NONE)
		op = VB_OP_NR;
	h = vb_buf_reserve(b, VB_VSR_HDR);
	memset(h, 0, VB_VSR_HDR);
	h[RQ_COMMAND] = VB_VSR_REQUEST;
	h[RQ_OPERATION] = op;
	if (op == VB_OP_NR)
		vb_st32(h + VB_V09_NR_CODE_OFF, code);
	b->len += VB_VSR_HDR;
	b->p[b->len] = 0;
	return mark;
}

static void v09_req_end(struct vb_buf *b, size_t mark)
{
	vb_st32(b->p + mark + RQ_SIZE, (uint32_t)(b->len - mark));
}

void vb_vsr_req_stamp(uint8_t *frame, size_t size, const struct vb_vsr_id *id,
		      int stamp)
{
	memcpy(frame + RQ_CLIENT, id->client, 16);
	vb_st64(frame + RQ_REQUEST, id->request);
	vb_st64(frame + RQ_SESSION, id->session);
	memset(frame + RQ_CHECKSUM, 0, 16);
	if (stamp)
		vb_st64(frame + RQ_CHECKSUM,
			vb_xxh3(frame + VB_VSR_HDR, size - VB_VSR_HDR));
}

static int zero16(const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		if (p[i])
			return 0;
	return 1;
}

int vb_vsr_req_parse(const uint8_t hdr[VB_VSR_HDR], struct vb_vsr_req *h,
		     struct vb_err *e)
{
	memset(h, 0, sizeof(*h));
	h->size = vb_ld32(hdr + RQ_SIZE);
	memcpy(h->client, hdr + RQ_CLIENT, 16);
	h->request_checksum = vb_ld64(hdr + RQ_CHECKSUM);
	h->timestamp = vb_ld64(hdr + RQ_TIMESTAMP);
	h->request = vb_ld64(hdr + RQ_REQUEST);
	h->operation = hdr[RQ_OPERATION];
	h->session = vb_ld64(hdr + RQ_SESSION);
	h->code = op_code(h->operation, hdr);
	if (h->size < VB_VSR_HDR)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "frame size %u is below the header's 256",
				     h->size);
	if (hdr[RQ_COMMAND] != VB_VSR_REQUEST)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "command %u is not a request",
				     hdr[RQ_COMMAND]);
	if (!vb_vsr_op_declared(h->operation))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "operation %u", h->operation);
	if (zero16(h->client))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "client id 0");
	if (vb_ld64(hdr + RQ_CHECKSUM + 8) != 0)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_FORMAT,
				     "request checksum wider than 64 bits");
	if (h->operation == VB_OP_REGISTER &&
	    (h->session != 0 || h->request != 0))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "register with session %llu, request %llu",
				     (unsigned long long)h->session,
				     (unsigned long long)h->request);
	if (h->operation != VB_OP_REGISTER && h->operation != VB_OP_NR &&
	    (h->session == 0 || h->request == 0))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "operation %u with session %llu, request %llu",
				     h->operation,
				     (unsigned long long)h->session,
				     (unsigned long long)h->request);
	return 0;
}

/* ---- replies ---- */

static int v09_reply(const uint8_t *p, struct vb_reply *rep, uint64_t *len)
{
	uint32_t size = vb_ld32(p + RP_SIZE);

	memset(rep, 0, sizeof(*rep));
	if (size < VB_VSR_HDR)
		return -1;
	*len = size - VB_VSR_HDR;
	switch (p[RP_COMMAND]) {
	case VB_VSR_REPLY:
		rep->status = vb_ld32(p + RP_STATUS);
		rep->op = p[RP_OPERATION];
		rep->request = vb_ld64(p + RP_REQUEST);
		return 0;
	case VB_VSR_EVICTION:
		rep->evicted = 1;
		rep->reason = p[EV_REASON];
		rep->window_max = vb_ld32(p + EV_VERSION_MAX);
		rep->window_min = vb_ld32(p + EV_VERSION_MIN);
		rep->status = vb_evict_status(rep->reason, rep->window_max,
					      rep->window_min);
		return 0;
	}
	return -1;
}

static int v09_finish(struct vb_reply *rep, struct vb_err *e)
{
	struct vb_rd rd;
	uint32_t count, idx, res = 0;
	int framed;

	if (rep->evicted)
		return 0;
	if (rep->status != 0) {
		rep->len = 0; /* a denial has no body (framing.md §3.1) */
		return 0;
	}
	if (!vb_vsr_op_declared(rep->op))
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "a reply of operation %u", rep->op);
	framed = vb_op_result_framed(rep->op) ||
		 (rep->op == VB_OP_REGISTER && rep->len > 0);
	if (!framed)
		return 0;
	vb_rd_init(&rd, rep->payload, rep->len);
	if (vb_rd_u32(&rd, &count, "result count", e))
		return -1;
	if (count > vb_rd_left(&rd) / 8)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "result section: %u entries in %zu bytes",
				     count, vb_rd_left(&rd));
	for (uint32_t i = 0; i < count; i++) {
		uint32_t r;

		vb_rd_u32(&rd, &idx, "result index", NULL);
		vb_rd_u32(&rd, &r, "result", NULL);
		if (i == 0)
			res = r; /* clients look at the first only */
	}
	rep->status = res;
	rep->payload += rd.off;
	rep->len = res ? 0 : rep->len - rd.off;
	return 0;
}

const struct vb_framing vb_framing_v09 = {
	.name = "0.9",
	.gen = VB_GEN_09,
	.req_hdr = VB_VSR_HDR,
	.reply_hdr = VB_VSR_HDR,
	.req_size = v09_req_size,
	.req_code = v09_req_code,
	.req_begin = v09_req_begin,
	.req_end = v09_req_end,
	.reply = v09_reply,
	.finish = v09_finish,
};

size_t vb_vsr_reply_begin(struct vb_buf *b, const struct vb_vsr_reply *h)
{
	size_t mark = b->len;
	uint8_t *p = vb_buf_reserve(b, VB_VSR_HDR);

	memset(p, 0, VB_VSR_HDR);
	p[RP_COMMAND] = VB_VSR_REPLY;
	vb_st64(p + RP_CHECKSUM, h->request_checksum);
	memcpy(p + RP_CLIENT, h->client, 16);
	vb_st64(p + RP_OP, h->op);
	vb_st64(p + RP_COMMIT, h->commit);
	vb_st64(p + RP_TIMESTAMP, h->timestamp);
	vb_st64(p + RP_REQUEST, h->request);
	p[RP_OPERATION] = h->operation;
	vb_st32(p + RP_STATUS, h->status);
	b->len += VB_VSR_HDR;
	b->p[b->len] = 0;
	return mark;
}

void vb_vsr_reply_end(struct vb_buf *b, size_t mark)
{
	vb_st32(b->p + mark + RP_SIZE, (uint32_t)(b->len - mark));
}

void vb_vsr_reply_size(uint8_t *hdr, size_t size)
{
	vb_st32(hdr + RP_SIZE, (uint32_t)size);
}

void vb_vsr_mark_also_v08(uint8_t *p)
{
	memcpy(p + VB_VSR_ALSO_V08_OFF, VB_VSR_ALSO_V08,
	       sizeof(VB_VSR_ALSO_V08) - 1);
}

int vb_vsr_also_v08(const uint8_t *p)
{
	return memcmp(p + VB_VSR_ALSO_V08_OFF, VB_VSR_ALSO_V08,
		      sizeof(VB_VSR_ALSO_V08) - 1) == 0;
}

void vb_vsr_result_ok(struct vb_buf *b)
{
	vb_buf_u32(b, 0);
}

void vb_vsr_result_err(struct vb_buf *b, uint32_t code)
{
	vb_buf_u32(b, 1);
	vb_buf_u32(b, 0);
	vb_buf_u32(b, code);
}

void vb_vsr_eviction(struct vb_buf *b, const uint8_t client[16], uint8_t reason,
		     uint32_t max, uint32_t min)
{
	uint8_t *p = vb_buf_reserve(b, VB_VSR_HDR);

	memset(p, 0, VB_VSR_HDR);
	vb_st32(p + RP_SIZE, VB_VSR_HDR);
	p[RP_COMMAND] = VB_VSR_EVICTION;
	memcpy(p + EV_CLIENT, client, 16);
	if (reason == VB_EVICT_INCOMPATIBLE_PROTOCOL) {
		vb_st32(p + EV_VERSION_MAX, max);
		vb_st32(p + EV_VERSION_MIN, min);
	}
	p[EV_REASON] = reason;
	b->len += VB_VSR_HDR;
	b->p[b->len] = 0;
}

void vb_vsr_enc_login(struct vb_buf *b, const struct vb_vsr_login *l)
{
	vb_buf_u32(b, l->user_id);
	vb_buf_u64(b, l->session);
	vb_buf_u32(b, l->server_protocol);
	vb_wire_enc_name(b, &l->server_version);
}

int vb_vsr_dec_login(const uint8_t *p, size_t n, struct vb_vsr_login *l,
		     struct vb_err *e)
{
	struct vb_rd rd;

	memset(l, 0, sizeof(*l));
	vb_rd_init(&rd, p, n);
	if (vb_rd_u32(&rd, &l->user_id, "login user_id", e) ||
	    vb_rd_u64(&rd, &l->session, "login session", e) ||
	    vb_rd_u32(&rd, &l->server_protocol, "login server_protocol_version",
		      e) ||
	    vb_wire_dec_name(&rd, &l->server_version, "login server_version",
			     e))
		return -1;
	if (l->session == 0)
		return vb_err_status(e, VB_E_PROTO, VB_ST_INVALID_COMMAND,
				     "login reply: session 0");
	return 0;
}
