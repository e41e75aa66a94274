/*
 * wire.h - the Iggy 0.8.0 TCP binary codec (shared/iggy-wire/).
 *
 * Pure: no sockets, no files.  The client and the bundled broker share it,
 * so every request and response exists in both directions.
 *
 * Encoders append to a struct vb_buf and cannot fail (values the wire cannot
 * carry, such as a 300-byte name, are the caller's bug and are truncated to
 * the field's maximum).  Decoders take untrusted bytes: every read is bounds
 * checked, nothing is allocated from a wire length, and a failure returns -1
 * with a struct vb_err of kind VB_E_PROTO whose status is the Iggy code a
 * server answers with (3 InvalidCommand, 4 InvalidFormat, 6 InvalidIdentifier
 * or a message-batch code) and whose message names the field.
 *
 * Decoded structures copy names into fixed arrays; the few fields documented
 * as "points into the input" are valid only while the input bytes live.
 */
#ifndef VB_WIRE_H
#define VB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "wire/status.h"

#define VB_REQ_HDR 8		 /* u32 length + u32 code */
#define VB_RESP_HDR 8		 /* u32 status + u32 length */
#define VB_MSG_HDR 64		 /* message frame header */
#define VB_INDEX_ENTRY 16	 /* send index / on-disk index entry */
#define VB_CONTROL_MAX 10485760u /* max control payload (10 MiB) */
#define VB_PAYLOAD_MAX 64000000u /* max message payload */
#define VB_UHDR_MAX 100000u	 /* max user headers block */
#define VB_NAME_MAX 255
#define VB_POLL_RESP_HDR 16

/* A name8 string: 1..255 bytes on the wire, NUL-terminated here. */
struct vb_name {
	uint8_t len;
	char s[VB_NAME_MAX + 1];
};

enum vb_ident_kind { VB_ID_NUM = 1, VB_ID_STR = 2 };

struct vb_ident {
	uint8_t kind;	     /* VB_ID_NUM or VB_ID_STR */
	uint32_t num;	     /* when numeric */
	struct vb_name name; /* when string */
};

enum vb_consumer_kind { VB_CONSUMER = 1, VB_CONSUMER_GROUP = 2 };

struct vb_consumer {
	uint8_t kind; /* VB_CONSUMER or VB_CONSUMER_GROUP */
	struct vb_ident id;
};

/* The 5-byte optional partition of offset and poll requests. */
struct vb_opt_part {
	uint8_t present;
	uint32_t id;
};

enum vb_strategy {
	VB_POLL_OFFSET = 1,
	VB_POLL_TIMESTAMP = 2,
	VB_POLL_FIRST = 3,
	VB_POLL_LAST = 4,
	VB_POLL_NEXT = 5,
};

enum vb_partitioning {
	VB_PART_BALANCED = 1,
	VB_PART_ID = 2,
	VB_PART_KEY = 3,
};

enum vb_compression { VB_COMPRESSION_NONE = 1, VB_COMPRESSION_GZIP = 2 };

/* Helpers to fill identifiers and names. */
void vb_ident_num(struct vb_ident *id, uint32_t num);
/* Returns -1 if s is empty or longer than 255 bytes. */
int vb_ident_str(struct vb_ident *id, const char *s);
int vb_name_set(struct vb_name *n, const char *s);
/* "7" or "\"vibes\"" for messages. */
const char *vb_ident_fmt(const struct vb_ident *id, char *buf, size_t size);

/*
 * The trailer of the waiting polls, vibes extensions (codes 105 and 106,
 * which upstream 0.8.0 does not use and answers 3 InvalidCommand); the
 * layout is in vibes-iggyd(8).  24 bytes: max_wait_us u64, min_count u32,
 * max_bytes u32 (per partition), budget u64 (bytes of the whole answer).
 */
struct vb_wait {
	uint64_t max_wait_us; /* 0: answer at once, as poll_messages */
	uint32_t min_count;   /* 0 means 1 */
	uint32_t max_bytes;   /* 0: the server's limit */
	uint64_t budget;      /* 0: the server's limit */
};
#define VB_WAIT_TRAILER 24
/* One partition of a 106 request: 13 bytes. */
struct vb_wait_part {
	uint32_t partition_id;
	uint8_t strategy; /* enum vb_strategy */
	uint64_t value;
};
#define VB_WAIT_PART_SIZE 13
/* Most partitions one 106 request may name. */
#define VB_WAIT_PARTS_MAX 1024u

/*
 * A request: one flat structure whose fields each command uses as its
 * layout says (control.md §5, messages.md §5, §7).  Fields a command does
 * not use are ignored by the encoder and left zero by the decoder.
 *
 *   stream, topic    stream_id / topic_id
 *   target           consumer-group id (6xx) or user id (31, 34-37)
 *   consumer, part   offsets (120-122) and poll (100)
 *   name             stream/topic/group name, username (login, create,
 *                    update), PAT name, PAT token
 *   secret, secret2  password (login, create); current and new (37)
 *   count            partitions_count (302, 402, 403), client id (21),
 *                    poll count, segments_count (503)
 *   partition_id     flush (102), delete_segments (503)
 *   value            stored offset (121), poll strategy value, PAT expiry
 */
struct vb_req {
	uint32_t code;
	struct vb_ident stream;
	struct vb_ident topic;
	struct vb_ident target;
	struct vb_consumer consumer;
	struct vb_opt_part part;
	struct vb_name name;
	struct vb_name secret;
	struct vb_name secret2;
	uint32_t count;
	uint32_t partition_id;
	uint64_t value;
	uint8_t strategy; /* poll: enum vb_strategy */
	uint8_t flag;	  /* poll auto_commit, flush fsync */
	/* topics (302, 304) */
	uint8_t compression;
	uint64_t message_expiry;
	uint64_t max_topic_size;
	uint8_t replication_factor;
	/* users (33, 35, 36) */
	uint8_t user_status;
	uint8_t has_username; /* 35 */
	uint8_t has_status;   /* 35 */
	uint8_t has_perms;    /* 33, 36 */
	const uint8_t *perms; /* points into the input / caller memory */
	uint32_t perms_len;
	/* login (38): optional version/context, ignored by servers */
	const uint8_t *version; /* points into the input / caller memory */
	uint32_t version_len;
	const uint8_t *context;
	uint32_t context_len;
	/* snapshot (11) */
	uint8_t snap_compression;
	uint8_t snap_count;
	uint8_t snap_types[255];
	/* waiting polls (105, 106): the trailer */
	struct vb_wait wait;
	/*
	 * 106: nwp partitions.  The encoder reads wp; the decoder leaves wp
	 * NULL and wp_raw pointing into the input (read with vb_wait_part).
	 */
	uint32_t nwp;
	const struct vb_wait_part *wp;
	const uint8_t *wp_raw;
};

/* Zeroes a request and sets its code. */
void vb_req_init(struct vb_req *r, uint32_t code);
/* Appends one whole request frame (length, code, payload). */
void vb_wire_req_encode(struct vb_buf *b, const struct vb_req *r);
/*
 * Decodes the payload of a request whose code came from the frame header.
 * Trailing bytes are ignored (control.md §1.3).  Unknown codes and
 * send_messages (use vb_wire_send_decode) fail with status 3.
 */
int vb_wire_req_decode(struct vb_req *r, uint32_t code, const uint8_t *p,
		       size_t n, struct vb_err *e);

/* Partition i (< r->nwp) of a decoded or caller-built 106 request. */
void vb_wait_part(const struct vb_req *r, uint32_t i, struct vb_wait_part *wp);

/* Request frame header: fills length (4 + payload) and code. */
void vb_wire_req_hdr(const uint8_t hdr[VB_REQ_HDR], uint32_t *length,
		     uint32_t *code);

/* Validates an encoded Permissions block; fills *used with its size. */
int vb_wire_perms_check(const uint8_t *p, size_t n, size_t *used,
			struct vb_err *e);

/* ---- message frames (messages.md §1) ---- */

/*
 * Offsets of the fields of the 64-byte message header, the one place they
 * are written down: send frames, poll answers and segment files share the
 * layout, so wire, store and log all use these names.
 */
enum vb_msg_field {
	VB_MSG_CHECKSUM = 0,	 /* u64 XXH3-64 of bytes [8, size) */
	VB_MSG_ID = 8,		 /* u128; 0 = the server picks a UUID */
	VB_MSG_OFFSET = 24,	 /* u64, set by the server */
	VB_MSG_TIMESTAMP = 32,	 /* u64 µs, set by the server */
	VB_MSG_ORIGIN_TS = 40,	 /* u64 µs, the producer's clock */
	VB_MSG_UHDR_LEN = 48,	 /* u32 user headers length */
	VB_MSG_PAYLOAD_LEN = 52, /* u32 */
	VB_MSG_RESERVED = 56,	 /* u64, must be 0 */
};
#define VB_MSG_ID_LEN 16

/* Size of the frame whose header is at h: 64 + payload + user headers. */
static inline uint64_t vb_msg_frame_size(const uint8_t *h)
{
	return (uint64_t)VB_MSG_HDR + vb_ld32(h + VB_MSG_PAYLOAD_LEN) +
	       vb_ld32(h + VB_MSG_UHDR_LEN);
}

/* A view of one stored or sent message frame; pointers into the input. */
struct vb_msg {
	uint64_t checksum;
	uint8_t id[16];
	uint64_t offset;
	uint64_t timestamp;
	uint64_t origin_timestamp;
	uint32_t uhdr_len;
	uint32_t payload_len;
	uint64_t reserved;
	const uint8_t *frame; /* start of the 64-byte header */
	const uint8_t *payload;
	const uint8_t *uhdr;
	size_t size; /* 64 + payload_len + uhdr_len */
};

/* Parses the frame at p (n bytes available). */
int vb_wire_msg_parse(struct vb_msg *m, const uint8_t *p, size_t n,
		      struct vb_err *e);
/* XXH3-64 of frame bytes [8, size): the message checksum. */
uint64_t vb_wire_msg_checksum(const uint8_t *frame, size_t size);
/*
 * A stored message as a reader must find it (a parsed one, so its lengths
 * hold): reserved 0 and the checksum right.  -1 with status 4101 or 4027
 * and a message saying which.
 */
int vb_wire_msg_verify(const struct vb_msg *m, struct vb_err *e);
/* The message's id is zero: the server is to choose one. */
int vb_wire_msg_id_unset(const uint8_t *frame);
/*
 * Server side: fills offset, timestamp, a random UUID v4 id when the id is
 * zero, and the checksum, in place.  `rnd` supplies 16 random bytes (read
 * only when the id is zero).
 */
void vb_wire_msg_stamp(uint8_t *frame, size_t size, uint64_t offset,
		       uint64_t timestamp, const uint8_t rnd[16]);

/* ---- user headers (messages.md §1.1) ---- */

enum vb_uhdr_kind {
	VB_UHDR_RAW = 1,
	VB_UHDR_STRING = 2,
	VB_UHDR_BOOL = 3,
	VB_UHDR_INT8 = 4,
	VB_UHDR_INT16 = 5,
	VB_UHDR_INT32 = 6,
	VB_UHDR_INT64 = 7,
	VB_UHDR_INT128 = 8,
	VB_UHDR_UINT8 = 9,
	VB_UHDR_UINT16 = 10,
	VB_UHDR_UINT32 = 11,
	VB_UHDR_UINT64 = 12,
	VB_UHDR_UINT128 = 13,
	VB_UHDR_FLOAT32 = 14,
	VB_UHDR_FLOAT64 = 15,
};

#define VB_UHDR_LEN_MAX 255

/* One key/value pair of a user headers block; pointers into the block. */
struct vb_uhdr {
	uint8_t key_kind;
	const uint8_t *key;
	uint32_t key_len;
	uint8_t val_kind;
	const uint8_t *val;
	uint32_t val_len;
};

/* Appends one pair (lengths 1..255, the caller's to keep). */
void vb_wire_uhdr_add(struct vb_buf *b, uint8_t key_kind, const void *key,
		      uint32_t key_len, uint8_t val_kind, const void *val,
		      uint32_t val_len);
/* The bytes vb_wire_uhdr_add appends: two kinds, two u32 lengths. */
static inline size_t vb_wire_uhdr_size(uint32_t key_len, uint32_t val_len)
{
	return 1 + 4 + (size_t)key_len + 1 + 4 + val_len;
}
struct vb_rd;
/*
 * The next pair of a block: 1, 0 at its end, -1 when it breaks the rules
 * an SDK decoder enforces (kind 0, a length outside 1..255 or past the
 * end, a fixed-size kind of another size).
 */
int vb_wire_uhdr_next(struct vb_rd *r, struct vb_uhdr *h, struct vb_err *e);

/* XXH32 (seed 0): partition keys and string consumer ids. */
uint32_t vb_xxh32(const void *p, size_t n);

/* ---- send_messages (101) ---- */

struct vb_send_hdr {
	struct vb_ident stream;
	struct vb_ident topic;
	uint8_t part_kind;     /* enum vb_partitioning */
	uint32_t partition_id; /* VB_PART_ID */
	uint8_t key_len;       /* VB_PART_KEY (0 accepted by servers) */
	uint8_t key[VB_NAME_MAX];
	uint32_t count;
};

/* One message to send. */
struct vb_msg_in {
	uint8_t id[16]; /* zeros: the server picks a UUID */
	uint64_t origin_timestamp;
	const void *payload;
	uint32_t payload_len;
	const void *uhdr;
	uint32_t uhdr_len;
};

/* Appends one whole send_messages frame; sets h->count from n. */
void vb_wire_send_encode(struct vb_buf *b, const struct vb_send_hdr *h,
			 const struct vb_msg_in *msgs, uint32_t n);

/*
 * Builds a send_messages frame in place when the caller knows the count
 * and the size of the messages up front (vibes-append): begin reserves
 * the whole frame, each add writes one message and its index entry, so
 * nothing is copied twice.  `bytes` is the sum of payload and user
 * header lengths of all count messages.
 */
struct vb_send_builder {
	struct vb_buf *b;
	size_t idx;   /* next index entry */
	size_t msg;   /* next message */
	size_t end;   /* end of the frame */
	uint32_t pos; /* message area bytes so far */
};

void vb_wire_send_begin(struct vb_send_builder *sb, struct vb_buf *b,
			const struct vb_send_hdr *h, uint32_t count,
			uint64_t bytes);
void vb_wire_send_add(struct vb_send_builder *sb, const uint8_t id[16],
		      uint64_t origin_timestamp, const void *payload,
		      uint32_t payload_len, const void *uhdr,
		      uint32_t uhdr_len);

/* A validated send payload; index and msgs point into the input. */
struct vb_send_view {
	struct vb_send_hdr h;
	const uint8_t *index; /* count * 16 bytes */
	const uint8_t *msgs;  /* message area */
	size_t msgs_len;
};

/*
 * Decodes and validates a send_messages payload in the order of
 * messages.md §2.3 (identifiers → 6, partitioning → 3, then the batch
 * checks 4009, 4031, 4032, 4033, 4022, 4017, 4100, 10011, 4036).  Then,
 * stricter than upstream, what an official client would refuse: a last
 * index position that is not the area's size (4033), and in the first
 * message that has one, a reserved field not 0 (4101) or a checksum
 * neither 0 nor the message's XXH3-64 (4027).
 */
int vb_wire_send_decode(struct vb_send_view *v, const uint8_t *p, size_t n,
			struct vb_err *e);

/* ---- response frames ---- */

/* Starts an OK response; returns the mark to pass to _end. */
size_t vb_wire_resp_begin(struct vb_buf *b);
/* Patches the payload length of the response started at mark. */
void vb_wire_resp_end(struct vb_buf *b, size_t mark);
/* Appends an error response (status, zero length). */
void vb_wire_resp_error(struct vb_buf *b, uint32_t status);
/* Response frame header: fills status and payload length. */
void vb_wire_resp_hdr(const uint8_t hdr[VB_RESP_HDR], uint32_t *status,
		      uint32_t *length);

/* ---- framing and the reply reader ---- */

/*
 * A framing of the protocol: how request and reply frames are delimited.
 * The bodies (vb_req, the records below) do not depend on it.  Iggy 0.8
 * is vb_framing_v08 (control.md §1); a second framing plugs in beside it.
 */
struct vb_framing {
	const char *name; /* "0.8" */
	size_t req_hdr;	  /* bytes before a request's payload */
	size_t reply_hdr; /* bytes before a reply's payload */
	/* Size of the whole request frame whose header is at p. */
	uint64_t (*req_size)(const uint8_t *p);
	/* From a reply header: status and payload length. */
	void (*reply)(const uint8_t *p, uint32_t *status, uint64_t *len);
};

extern const struct vb_framing vb_framing_v08;

/* One reply: its status and payload (empty when status != 0). */
struct vb_reply {
	uint32_t status;
	const uint8_t *payload;
	size_t len;
};

/*
 * A socket-free reply reader (the hiredis reader model): bytes go in as
 * they arrive, in any chunks; complete replies come out in order.  The
 * bytes are either copied in (vb_reader_feed) or received straight into
 * the reader (vb_reader_space, then vb_reader_commit), so a large poll
 * answer is never copied.  Payload pointers handed out stay valid until
 * the next vb_reader_space, vb_reader_feed or vb_reader_reset.
 */
struct vb_reader {
	const struct vb_framing *f;
	uint64_t max; /* largest payload accepted */
	struct vb_buf buf;
	size_t pos;    /* first byte not handed out */
	uint64_t need; /* size of the frame at pos, 0 until known */
};

void vb_reader_init(struct vb_reader *r, const struct vb_framing *f,
		    uint64_t max);
void vb_reader_release(struct vb_reader *r);
/* Forgets every byte (a new connection). */
void vb_reader_reset(struct vb_reader *r);
/* Bytes held that are not part of a reply handed out yet. */
static inline size_t vb_reader_pending(const struct vb_reader *r)
{
	return r->buf.len - r->pos;
}
void vb_reader_feed(struct vb_reader *r, const void *p, size_t n);
/* Room to receive into (*n bytes, at least 4 KiB); then commit what came. */
uint8_t *vb_reader_space(struct vb_reader *r, size_t *n);
void vb_reader_commit(struct vb_reader *r, size_t n);
/*
 * The next complete reply: 1 and *rep filled, 0 when more bytes are
 * needed, -1 (VB_E_PROTO) when the next frame announces a payload larger
 * than max: the byte stream cannot be trusted any more.
 */
int vb_reader_next(struct vb_reader *r, struct vb_reply *rep, struct vb_err *e);
/*
 * How many complete replies are held (at most max): taking that many with
 * vb_reader_next needs no more bytes, so their payloads are all valid at
 * once.  A frame over the limit counts as complete (next reports it).
 */
size_t vb_reader_ready(const struct vb_reader *r, size_t max);

/* A bounds-checked cursor over a response payload. */
struct vb_rd {
	const uint8_t *p;
	size_t n;
	size_t off;
};

static inline void vb_rd_init(struct vb_rd *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->n = n;
	r->off = 0;
}
static inline size_t vb_rd_left(const struct vb_rd *r)
{
	return r->n - r->off;
}

/* ---- response records (control.md §5) ---- */

struct vb_stream_info {
	uint32_t id;
	uint64_t created_at;
	uint32_t topics_count;
	uint64_t size_bytes;
	uint64_t messages_count;
	struct vb_name name;
};

struct vb_topic_info {
	uint32_t id;
	uint64_t created_at;
	uint32_t partitions_count;
	uint64_t message_expiry;
	uint8_t compression;
	uint64_t max_topic_size;
	uint8_t replication_factor;
	uint64_t size_bytes;
	uint64_t messages_count;
	struct vb_name name;
};

struct vb_partition_info {
	uint32_t id;
	uint64_t created_at;
	uint32_t segments_count;
	uint64_t current_offset;
	uint64_t size_bytes;
	uint64_t messages_count;
};

struct vb_offset_info {
	uint32_t partition_id;
	uint64_t current_offset;
	uint64_t stored_offset;
};

struct vb_group_info {
	uint32_t id;
	uint32_t partitions_count;
	uint32_t members_count;
	struct vb_name name;
};

/* A group member; on decode `parts` points into the input (u32 LE each). */
struct vb_member_info {
	uint32_t id;
	uint32_t partitions_count;
	const uint8_t *parts;
};

struct vb_client_info {
	uint32_t client_id;
	uint32_t user_id;
	uint8_t transport;
	char address[128];
	uint32_t groups_count;
};

struct vb_group_ref {
	uint32_t stream_id;
	uint32_t topic_id;
	uint32_t group_id;
};

struct vb_user_info {
	uint32_t id;
	uint64_t created_at;
	uint8_t status;
	struct vb_name username;
};

struct vb_pat_info {
	struct vb_name name;
	uint64_t expiry_at;
};

struct vb_stats {
	uint32_t process_id;
	float cpu_usage;
	float total_cpu_usage;
	uint64_t memory_usage;
	uint64_t total_memory;
	uint64_t available_memory;
	uint64_t run_time;
	uint64_t start_time;
	uint64_t read_bytes;
	uint64_t written_bytes;
	uint64_t messages_size_bytes;
	uint32_t streams_count;
	uint32_t topics_count;
	uint32_t partitions_count;
	uint32_t segments_count;
	uint64_t messages_count;
	uint32_t clients_count;
	uint32_t consumer_groups_count;
	char hostname[256];
	char os_name[256];
	char os_version[256];
	char kernel_version[256];
	char server_version[64];
	uint32_t server_semver;
	uint32_t cache_metrics_count; /* entries are skipped on decode */
	uint32_t threads_count;
	uint64_t free_disk_space;
	uint64_t total_disk_space;
};

struct vb_poll_hdr {
	uint32_t partition_id;
	uint64_t current_offset;
	uint32_t count;
};

void vb_wire_enc_stream(struct vb_buf *b, const struct vb_stream_info *s);
int vb_wire_dec_stream(struct vb_rd *r, struct vb_stream_info *s,
		       struct vb_err *e);
void vb_wire_enc_topic(struct vb_buf *b, const struct vb_topic_info *t);
int vb_wire_dec_topic(struct vb_rd *r, struct vb_topic_info *t,
		      struct vb_err *e);
void vb_wire_enc_partition(struct vb_buf *b, const struct vb_partition_info *p);
int vb_wire_dec_partition(struct vb_rd *r, struct vb_partition_info *p,
			  struct vb_err *e);
void vb_wire_enc_offset(struct vb_buf *b, const struct vb_offset_info *o);
int vb_wire_dec_offset(struct vb_rd *r, struct vb_offset_info *o,
		       struct vb_err *e);
void vb_wire_enc_group(struct vb_buf *b, const struct vb_group_info *g);
int vb_wire_dec_group(struct vb_rd *r, struct vb_group_info *g,
		      struct vb_err *e);
void vb_wire_enc_member(struct vb_buf *b, uint32_t id, const uint32_t *parts,
			uint32_t n);
int vb_wire_dec_member(struct vb_rd *r, struct vb_member_info *m,
		       struct vb_err *e);
static inline uint32_t vb_member_part(const struct vb_member_info *m,
				      uint32_t i)
{
	return vb_ld32(m->parts + 4 * (size_t)i);
}
void vb_wire_enc_client(struct vb_buf *b, const struct vb_client_info *c);
int vb_wire_dec_client(struct vb_rd *r, struct vb_client_info *c,
		       struct vb_err *e);
void vb_wire_enc_group_ref(struct vb_buf *b, const struct vb_group_ref *g);
int vb_wire_dec_group_ref(struct vb_rd *r, struct vb_group_ref *g,
			  struct vb_err *e);
void vb_wire_enc_user(struct vb_buf *b, const struct vb_user_info *u);
int vb_wire_dec_user(struct vb_rd *r, struct vb_user_info *u, struct vb_err *e);
/* UserDetails tail: `00 00 00 00` or `01` + u32 len + Permissions. */
void vb_wire_enc_user_perms(struct vb_buf *b, const uint8_t *perms,
			    uint32_t len);
int vb_wire_dec_user_perms(struct vb_rd *r, const uint8_t **perms,
			   uint32_t *len, struct vb_err *e);
void vb_wire_enc_pat(struct vb_buf *b, const struct vb_pat_info *p);
int vb_wire_dec_pat(struct vb_rd *r, struct vb_pat_info *p, struct vb_err *e);
void vb_wire_enc_name(struct vb_buf *b, const struct vb_name *n);
int vb_wire_dec_name(struct vb_rd *r, struct vb_name *n, const char *field,
		     struct vb_err *e);
void vb_wire_enc_stats(struct vb_buf *b, const struct vb_stats *s);
int vb_wire_dec_stats(struct vb_rd *r, struct vb_stats *s, struct vb_err *e);
/* Cluster metadata (12): the single-node description upstream answers. */
void vb_wire_enc_cluster(struct vb_buf *b, const char *ip, uint16_t tcp_port);
int vb_wire_dec_cluster(struct vb_rd *r, char *name, size_t namesz,
			uint32_t *nodes, struct vb_err *e);
void vb_wire_enc_poll_hdr(struct vb_buf *b, const struct vb_poll_hdr *h);
int vb_wire_dec_poll_hdr(struct vb_rd *r, struct vb_poll_hdr *h,
			 struct vb_err *e);
/*
 * A 106 answer (vibes-iggyd(8)): u32 count, then per partition u32 length
 * and a poll answer of that length, which *part points to (status 0).
 */
int vb_wire_dec_wait_count(struct vb_rd *r, uint32_t *n, struct vb_err *e);
int vb_wire_dec_wait_part(struct vb_rd *r, struct vb_reply *part,
			  struct vb_err *e);
/* Next message of a poll response; returns 1, 0 at the end, -1 on error. */
int vb_wire_dec_msg(struct vb_rd *r, struct vb_msg *m, struct vb_err *e);

/* Primitive readers (exported for the records above and the tests). */
int vb_rd_u8(struct vb_rd *r, uint8_t *v, const char *field, struct vb_err *e);
int vb_rd_u16(struct vb_rd *r, uint16_t *v, const char *field,
	      struct vb_err *e);
int vb_rd_u32(struct vb_rd *r, uint32_t *v, const char *field,
	      struct vb_err *e);
int vb_rd_u64(struct vb_rd *r, uint64_t *v, const char *field,
	      struct vb_err *e);
int vb_rd_bytes(struct vb_rd *r, const uint8_t **p, size_t n, const char *field,
		struct vb_err *e);
int vb_rd_ident(struct vb_rd *r, struct vb_ident *id, const char *field,
		struct vb_err *e);
void vb_wire_enc_ident(struct vb_buf *b, const struct vb_ident *id);
/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int vb_wire_utf8_ok(const uint8_t *s, size_t n);

#endif
