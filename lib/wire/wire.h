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
#include "wire/v09-pins.h"

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
	/* 0.9 only (iggy-wire-0.9/commands.md) */
	uint8_t ack;   /* 121, 122: enum vb_ack (init: quorum) */
	uint8_t scope; /* 13: 1 topic, 2 stream, 3 user */
	/*
	 * 302, 304: topic options other than the three fields above
	 * (v09-pins.h), each present when its bit (1 << VB_TOPT_*) is in
	 * topt_set.  A decoder sets the bits of every option it found,
	 * compression, expiry and max size included (absent: unchanged).
	 */
	uint64_t topt[VB_TOPT_COUNT];
	uint32_t topt_set;
	/* 40, 45: ClientVersionInfo (and name/secret: username/password;
	 * name: the token of 45) */
	uint32_t proto_version;
	struct vb_name sdk_name;
	struct vb_name sdk_version;
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

enum vb_ack { VB_ACK_NONE = 0, VB_ACK_QUORUM = 1 };

/* Zeroes a request and sets its code (and a 0.9 offset's ack: quorum). */
void vb_req_init(struct vb_req *r, uint32_t code);
/*
 * Appends the body of r as generation gen (VB_GEN_08, VB_GEN_09) lays it
 * out, by the command table's layout of r->code.  Nothing for a code gen
 * does not have.
 */
void vb_wire_req_body(struct vb_buf *b, const struct vb_req *r, unsigned gen);
/* Appends one whole 0.8 request frame (length, code, payload). */
void vb_wire_req_encode(struct vb_buf *b, const struct vb_req *r);
/*
 * Decodes the body of a request of generation gen whose code came from
 * the frame header.  0.8 ignores trailing bytes (control.md §1.3); 0.9
 * takes what follows a body with options as options and ignores it
 * elsewhere (commands.md §1).  Codes gen does not have and send_messages
 * (use vb_wire_send_decode) fail with status 3.
 */
int vb_wire_req_decode_gen(struct vb_req *r, unsigned gen, uint32_t code,
			   const uint8_t *p, size_t n, struct vb_err *e);
/* The same for 0.8. */
int vb_wire_req_decode(struct vb_req *r, uint32_t code, const uint8_t *p,
		       size_t n, struct vb_err *e);

/* Partition i (< r->nwp) of a decoded or caller-built 106 request. */
void vb_wait_part(const struct vb_req *r, uint32_t i, struct vb_wait_part *wp);

/* Request frame header: fills length (4 + payload) and code. */
void vb_wire_req_hdr(const uint8_t hdr[VB_REQ_HDR], uint32_t *length,
		     uint32_t *code);

/* ---- 0.9 options blocks (iggy-wire-0.9/commands.md §2) ---- */

struct vb_rd;
struct vb_framing;

/* One pair of an options block; pointers into the block. */
struct vb_opt {
	const uint8_t *key;
	uint32_t key_len;
	uint8_t kind; /* enum vb_uhdr_kind */
	const uint8_t *val;
	uint32_t val_len;
};

/* Appends one pair (a string key; the value's lengths are 1..255). */
void vb_wire_opt_add(struct vb_buf *b, const char *key, uint8_t kind,
		     const void *val, uint32_t len);
/* The next pair: 1, 0 at the end, -1 (status 3) on a broken pair. */
int vb_wire_opt_next(struct vb_rd *r, struct vb_opt *o, struct vb_err *e);
/*
 * A whole block by the rules: pairs well formed, at most 1024 pairs and
 * 100000 bytes (4043), no key twice (3).
 */
int vb_wire_opts_check(const uint8_t *p, size_t n, struct vb_err *e);
/*
 * Topic options of a create (update = 0) or update_topic: encodes those r
 * carries (commands.md §2.3, v09-pins.h) / decodes a block into r, known
 * keys only (4041), values of the kinds they take (4042).
 */
void vb_wire_topic_opts_enc(struct vb_buf *b, const struct vb_req *r,
			    int update);
int vb_wire_topic_opts_dec(const uint8_t *p, size_t n, struct vb_req *r,
			   int update, struct vb_err *e);
/* The key of topic option i (enum vb_topt); NULL past the end. */
const char *vb_wire_topt_key(unsigned i);
/* A block where no option is allowed (streams, users): empty, or 4041. */
int vb_wire_no_opts(const uint8_t *p, size_t n, const char *what,
		    struct vb_err *e);
/* Skips a u32-length-prefixed block in a record, checking it. */
int vb_wire_skip_opts(struct vb_rd *r, const char *field, struct vb_err *e);

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
/* A random UUID v4 from 16 random bytes, as the server makes ids. */
void vb_wire_id_v4(uint8_t *id, const uint8_t rnd[16]);
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
/* XXH3-64 (seed 0, default secret): checksums. */
uint64_t vb_xxh3(const void *p, size_t n);
/* The same, built for AVX2 (xxh3_avx2.c): only where the CPU has it. */
uint64_t vb_xxh3_avx2(const void *p, size_t n);

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
	unsigned gen;	   /* VB_GEN_08, VB_GEN_09 */
	size_t idx;	   /* 0.8: next index entry */
	size_t msg;	   /* next message */
	size_t end;	   /* end of the frame */
	uint32_t pos;	   /* message area bytes so far */
	size_t start;	   /* the frame */
	size_t batch;	   /* 0.9: the batch header */
	uint32_t count, n; /* messages announced, added */
	/*
	 * 0.9: the origin timestamp of the first message; while no later
	 * one is below it or 2^32 µs past it (eager), each add computes its
	 * frame's delta and checksum at once, while the bytes are in the
	 * cache, and appends the checksum to sums (when set), so that end
	 * hashes them without walking the frames again.
	 */
	uint64_t ts0;
	uint32_t neager; /* frames done so; the rest wait for end */
	int late;	 /* a message broke the eager rule */
	struct vb_buf *sums;
};

/*
 * In framing f: 0.8 lays out an index and 64-byte messages; 0.9 one batch
 * record of 48-byte frames whose checksums the producer computes
 * (messages.md §2), which vb_wire_send_end does once every message is in.
 */
void vb_wire_send_begin_f(struct vb_send_builder *sb, struct vb_buf *b,
			  const struct vb_framing *f,
			  const struct vb_send_hdr *h, uint32_t count,
			  uint64_t bytes);
/*
 * 0.9, after begin: a buffer (the caller's, reused) for the frames'
 * checksums, which spares end a walk over the batch.
 */
void vb_wire_send_sums(struct vb_send_builder *sb, struct vb_buf *sums);
/* The same in 0.8. */
void vb_wire_send_begin(struct vb_send_builder *sb, struct vb_buf *b,
			const struct vb_send_hdr *h, uint32_t count,
			uint64_t bytes);
void vb_wire_send_add(struct vb_send_builder *sb, const uint8_t id[16],
		      uint64_t origin_timestamp, const void *payload,
		      uint32_t payload_len, const void *uhdr,
		      uint32_t uhdr_len);
/*
 * Every message is in: 0.9 writes the timestamp deltas, the checksums and
 * the batch header.  -1 (status 4038) when the origin timestamps of one
 * batch are more than 2^32 - 1 µs apart; nothing to do for 0.8.
 */
int vb_wire_send_end(struct vb_send_builder *sb, struct vb_err *e);
/* Appends one whole send_messages frame in framing f. */
int vb_wire_send_encode_f(struct vb_buf *b, const struct vb_framing *f,
			  const struct vb_send_hdr *h,
			  const struct vb_msg_in *msgs, uint32_t n,
			  struct vb_err *e);

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

/* ---- 0.9 batches (iggy-wire-0.9/messages.md §2-§4) ---- */

#define VB_BATCH_HDR 256
#define VB_FRAME_HDR 48

/* Offsets of the batch header and of a message frame (messages.md §2). */
enum vb_batch_field {
	VB_BATCH_PARTITION = 0,	  /* u64, stamped by the server */
	VB_BATCH_BASE_OFFSET = 8, /* u64, stamped */
	VB_BATCH_BASE_TS = 16,	  /* u64 µs, stamped */
	VB_BATCH_ORIGIN_TS = 24,  /* u64 µs, the smallest of the batch */
	VB_BATCH_LENGTH = 32,	  /* u64, header and frames */
	VB_BATCH_CHECKSUM = 40,	  /* u64 */
	VB_BATCH_COUNT = 48,	  /* u32 */
	VB_BATCH_RESERVED = 52,	  /* 204 zero bytes */
};

enum vb_frame_field {
	VB_FRAME_CHECKSUM = 0,	    /* u64 XXH3-64 of bytes [8, size) */
	VB_FRAME_ID = 8,	    /* u128 */
	VB_FRAME_OFFSET_DELTA = 24, /* u32: the index in the batch */
	VB_FRAME_TS_DELTA = 28,	    /* u32 µs past the batch origin */
	VB_FRAME_UHDR_LEN = 32,	    /* u32 */
	VB_FRAME_PAYLOAD_LEN = 36,  /* u32 */
	VB_FRAME_RESERVED = 40,	    /* u64, 0 */
};

/* Size of the 0.9 frame whose header is at f: 48 + payload + user headers. */
static inline uint64_t vb_frame_size(const uint8_t *f)
{
	return (uint64_t)VB_FRAME_HDR + vb_ld32(f + VB_FRAME_PAYLOAD_LEN) +
	       vb_ld32(f + VB_FRAME_UHDR_LEN);
}

/* The batch checksum of the record at batch (its frames checked already):
 * XXH3-64 over the header fields and the frame checksums (§2.3). */
uint64_t vb_wire_batch_checksum(const uint8_t *batch);
/*
 * The same from the header's fields and the frames' n checksums given
 * apart (sums: n u64 LE, in frame order), for a record being built.
 */
uint64_t vb_wire_batch_checksum_sums(const uint8_t *batch, const uint8_t *sums,
				     uint32_t n);
/*
 * Every frame's checksum, then the batch's, of the record at b whose
 * frames tile it up to end (checked already), in one walk: the frames'
 * checksums are hashed for the batch's as they are checked.  -1 with
 * status 4027 (a frame's) or 4039 (the batch's).
 */
int vb_wire_batch_verify(const uint8_t *b, const uint8_t *end,
			 struct vb_err *e);
/* Server side: stamps partition, base offset and timestamp, re-sums. */
void vb_wire_batch_stamp(uint8_t *batch, uint64_t partition,
			 uint64_t base_offset, uint64_t base_ts);
/*
 * Server side, before that: the frame at fr (size bytes) as the store
 * keeps it, offset delta od (its index in the batch) and an id (UUID v4
 * from rnd, read only then) where its id is 0; its checksum made anew
 * when either changed, left as it is otherwise.
 */
void vb_wire_frame_stamp(uint8_t *fr, size_t size, uint32_t od,
			 const uint8_t rnd[16]);

/* A validated 0.9 send body; batch points into the input. */
struct vb_send_view09 {
	struct vb_send_hdr h;
	const uint8_t *batch;
	size_t batch_len;
};

/*
 * Decodes and checks a 0.9 send body in the server's order (messages.md
 * §3.2 step 5): metadata exactly consumed (3), the batch record (reserved
 * zero, frames tiling it exactly: 3), frame checksums (4027), the batch
 * checksum (4039), a count of 0, counts that differ or bytes after the
 * batch (3).
 */
int vb_wire_send_decode_v09(struct vb_send_view09 *v, const uint8_t *p,
			    size_t n, struct vb_err *e);

/* A send reply's confirmation (messages.md §3.3). */
struct vb_send_confirm {
	uint32_t stream_id;
	uint32_t topic_id;
	uint32_t partition_id;
	uint64_t base_offset;
};

/* count 0: stored, offsets not known; else one confirmation. */
void vb_wire_enc_send_reply(struct vb_buf *b, const struct vb_send_confirm *c,
			    uint32_t count);
/* *found = 0 for count 0 ("committed, offsets unknown"). */
int vb_wire_dec_send_reply(const uint8_t *p, size_t n, int *found,
			   struct vb_send_confirm *c, struct vb_err *e);

/* sync_consumer_group's answer (commands.md §6); parts point into it. */
struct vb_group_sync {
	int member; /* 0: not a member (an empty answer) */
	uint64_t generation;
	uint32_t count;
	const uint8_t *parts; /* count u32 LE */
};

void vb_wire_enc_group_sync(struct vb_buf *b, uint64_t generation,
			    const uint32_t *parts, uint32_t n);
int vb_wire_dec_group_sync(const uint8_t *p, size_t n, struct vb_group_sync *s,
			   struct vb_err *e);

/* The partition id of a group poll answer that says: sync again. */
#define VB_POLL_RESYNC 0xffffffffu

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
 * One reply as the framing delivers it: the status and payload a command
 * decoder reads, whatever the framing.  The 0.9 framing also tells which
 * request it answers (request, op) and may deliver an eviction instead
 * (framing.md §7): evicted is then the reason and the session is gone.
 * For result-framed 0.9 replies (framing.md §3.2) the result section is
 * taken off: a rejection in it is the status, the payload what follows.
 */
struct vb_reply {
	uint32_t status;
	const uint8_t *payload;
	size_t len;
	/* 0.9 */
	uint8_t op;	     /* the operation echoed */
	uint8_t evicted;     /* an eviction: status is the SDKs' code */
	uint8_t reason;	     /* its reason (enum vb_evict) */
	uint64_t request;    /* the request number echoed */
	uint32_t window_max; /* eviction 14: the versions the server takes */
	uint32_t window_min;
};

/*
 * A framing of the protocol: how request and reply frames are delimited
 * and what their headers carry.  The bodies (vb_req, the records below)
 * do not depend on it, except where generation gen lays one out anew.
 * Iggy 0.8 is vb_framing_v08 (control.md §1), 0.9 vb_framing_v09
 * (iggy-wire-0.9/framing.md, vsr.c).
 */
struct vb_framing {
	const char *name; /* "0.8", "0.9" */
	unsigned gen;	  /* VB_GEN_08, VB_GEN_09 */
	size_t req_hdr;	  /* bytes before a request's payload */
	size_t reply_hdr; /* bytes before a reply's payload */
	/* Size of the whole request frame whose header is at p. */
	uint64_t (*req_size)(const uint8_t *p);
	/* The command code of the request whose header is at p (0.9 writes
	 * carry none: the table's code of their operation). */
	uint32_t (*req_code)(const uint8_t *p);
	/* Starts a request frame of code; returns the mark for req_end. */
	size_t (*req_begin)(struct vb_buf *b, uint32_t code);
	/* The body is written: sets the frame's length. */
	void (*req_end)(struct vb_buf *b, size_t mark);
	/*
	 * From a reply header: what it says into rep (status, 0.9 fields)
	 * and the payload length; -1 when it is no reply header at all.
	 */
	int (*reply)(const uint8_t *p, struct vb_reply *rep, uint64_t *len);
	/* The whole reply is in rep: takes a 0.9 result section off. */
	int (*finish)(struct vb_reply *rep, struct vb_err *e);
};

extern const struct vb_framing vb_framing_v08;
extern const struct vb_framing vb_framing_v09;

/* The framing of a generation (VB_GEN_08, VB_GEN_09); NULL for others. */
const struct vb_framing *vb_framing_of(unsigned gen);

/* Appends one whole request frame of r in framing f (0.9: see vsr). */
void vb_wire_req_frame(struct vb_buf *b, const struct vb_framing *f,
		       const struct vb_req *r);

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

/* ---- 0.9 headers (iggy-wire-0.9/framing.md §1-§7) ---- */

#define VB_VSR_HDR 256
#define VB_VSR_FRAME_MAX (64u << 20) /* the server's max_message_size */
/* A request's and a reply's u32 size; a reply header's u32 status (§2, §3). */
#define VB_VSR_SIZE 48
#define VB_VSR_REPLY_STATUS 216

/* Header byte 60 (framing.md §1). */
enum vb_vsr_command {
	VB_VSR_REQUEST = 5,
	VB_VSR_REPLY = 8,
	VB_VSR_EVICTION = 13,
};

/* Eviction reasons (framing.md §7). */
enum vb_evict {
	VB_EVICT_NO_SESSION = 1,
	VB_EVICT_CLIENT_RELEASE_TOO_LOW = 2,
	VB_EVICT_CLIENT_RELEASE_TOO_HIGH = 3,
	VB_EVICT_INVALID_REQUEST_OPERATION = 4,
	VB_EVICT_INVALID_REQUEST_BODY = 5,
	VB_EVICT_INVALID_REQUEST_BODY_SIZE = 6,
	VB_EVICT_SESSION_TOO_LOW = 7,
	VB_EVICT_SESSION_RELEASE_MISMATCH = 8,
	VB_EVICT_INVALID_CREDENTIALS = 9,
	VB_EVICT_INVALID_TOKEN = 10,
	VB_EVICT_USER_INACTIVE = 11,
	VB_EVICT_SESSION_ERROR = 12,
	VB_EVICT_STALE_CLIENT = 13,
	VB_EVICT_INCOMPATIBLE_PROTOCOL = 14,
	VB_EVICT_MALFORMED_LOGIN = 15,
};

/* "no_session", ...; "invalid" for 0 and unknown reasons. */
const char *vb_evict_name(uint8_t reason);
/*
 * The status an official SDK turns a reason into (framing.md §7: 42 for
 * bad credentials, 30 for a stale client, 14003 for the version gate...).
 */
uint32_t vb_evict_status(uint8_t reason, uint32_t max, uint32_t min);

/* The identity a 0.9 request carries (framing.md §4). */
struct vb_vsr_id {
	uint8_t client[16]; /* u128 LE, never 0 */
	uint64_t request;
	uint64_t session;
};

/*
 * Fills the identity fields of the 0.9 request frame at frame (size bytes:
 * header and body, as vb_framing_v09 made it): client, request, session
 * and, when stamp, request_checksum = XXH3-64 of the body.
 */
void vb_vsr_req_stamp(uint8_t *frame, size_t size, const struct vb_vsr_id *id,
		      int stamp);

/* A 0.9 request header as a server reads it. */
struct vb_vsr_req {
	uint32_t size; /* the whole frame */
	uint8_t client[16];
	uint64_t request_checksum; /* low half; the high half must be 0 */
	uint64_t timestamp;
	uint64_t request;
	uint8_t operation;
	uint64_t session;
	uint32_t code; /* NonReplicated: from 196..200; else the
				 * table's code of the operation (0: none) */
};

/*
 * Decodes and validates a request header as framing.md §2.3 says (command
 * 5, a declared operation, client not 0, Register with session and request
 * 0, writes with both > 0; size at least 256).  -1 (status 3) when a
 * server must drop it.
 */
int vb_vsr_req_parse(const uint8_t hdr[VB_VSR_HDR], struct vb_vsr_req *h,
		     struct vb_err *e);
/* The operation byte is one a client may send (framing.md §6.1). */
int vb_vsr_op_declared(uint8_t op);

/* What a server puts in a reply header (framing.md §3). */
struct vb_vsr_reply {
	uint8_t client[16];
	uint64_t request_checksum;
	uint64_t op; /* log position, or the session for reads */
	uint64_t commit;
	uint64_t timestamp;
	uint64_t request;
	uint8_t operation;
	uint32_t status;
};

/* Starts a reply frame (its body follows); returns the mark for _end. */
size_t vb_vsr_reply_begin(struct vb_buf *b, const struct vb_vsr_reply *h);
void vb_vsr_reply_end(struct vb_buf *b, size_t mark);
/* The same for a reply of size bytes made elsewhere (hdr: its header). */
void vb_vsr_reply_size(uint8_t *hdr, size_t size);
/* The result section of a committed write: success, or one rejection. */
void vb_vsr_result_ok(struct vb_buf *b);
void vb_vsr_result_err(struct vb_buf *b, uint32_t code);
/* An eviction frame (max/min: the version window of reason 14). */
void vb_vsr_eviction(struct vb_buf *b, const uint8_t client[16], uint8_t reason,
		     uint32_t max, uint32_t min);

/*
 * A vibes mark, not Iggy's: the bundled server writes "vibes-0.8" into the
 * reserved bytes 220.. of its reply to a ping before login (zeros for
 * upstream servers and clients, framing.md §3) to say that the port also
 * speaks 0.8, the protocol it stores natively: a client that probes then
 * prefers 0.8 (vibes(7), "Protocols").
 */
#define VB_VSR_ALSO_V08_OFF 220
#define VB_VSR_ALSO_V08 "vibes-0.8"
void vb_vsr_mark_also_v08(uint8_t *reply_hdr);
int vb_vsr_also_v08(const uint8_t *reply_hdr);

/* The login (Register) reply body after its result section (§5.3). */
struct vb_vsr_login {
	uint32_t user_id;
	uint64_t session;
	uint32_t server_protocol;
	struct vb_name server_version;
};

void vb_vsr_enc_login(struct vb_buf *b, const struct vb_vsr_login *l);
int vb_vsr_dec_login(const uint8_t *p, size_t n, struct vb_vsr_login *l,
		     struct vb_err *e);

/* Packed protocol versions (framing.md §5.2): "0.11.0". */
const char *vb_vsr_version_fmt(uint32_t v, char *buf, size_t size);

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

/*
 * Records: the plain names are 0.8; the _gen ones lay them out as gen
 * does (0.9: options blocks in stream, topic and user records, no
 * replication factor in topics, commands.md §3-§7).
 */
void vb_wire_enc_stream_gen(struct vb_buf *b, const struct vb_stream_info *s,
			    unsigned gen);
int vb_wire_dec_stream_gen(struct vb_rd *r, struct vb_stream_info *s,
			   unsigned gen, struct vb_err *e);
void vb_wire_enc_topic_gen(struct vb_buf *b, const struct vb_topic_info *t,
			   unsigned gen);
int vb_wire_dec_topic_gen(struct vb_rd *r, struct vb_topic_info *t,
			  unsigned gen, struct vb_err *e);
void vb_wire_enc_user_gen(struct vb_buf *b, const struct vb_user_info *u,
			  unsigned gen);
int vb_wire_dec_user_gen(struct vb_rd *r, struct vb_user_info *u, unsigned gen,
			 struct vb_err *e);
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
/* Cluster metadata (12), control.md §5.1.5, framing.md §11. */
enum vb_node_role { VB_NODE_LEADER = 0, VB_NODE_FOLLOWER = 1 };
enum vb_node_status { VB_NODE_HEALTHY = 0 };

struct vb_cluster_node {
	char name[256];
	char ip[256];
	uint16_t tcp, quic, http, websocket;
	uint8_t role;	/* enum vb_node_role */
	uint8_t status; /* 0 healthy, 1 starting, 2 stopping,
				 * 3 unreachable, 4 maintenance, 5 unknown */
};

void vb_wire_enc_cluster_nodes(struct vb_buf *b, const char *name,
			       const struct vb_cluster_node *nodes, uint32_t n);
/* The single-node description upstream answers. */
void vb_wire_enc_cluster(struct vb_buf *b, const char *ip, uint16_t tcp_port);
/* The whole answer, the nodes checked and skipped. */
int vb_wire_dec_cluster(struct vb_rd *r, char *name, size_t namesz,
			uint32_t *nodes, struct vb_err *e);
/* Its head (name, count); then vb_wire_dec_cluster_node count times. */
int vb_wire_dec_cluster_head(struct vb_rd *r, char *name, size_t namesz,
			     uint32_t *nodes, struct vb_err *e);
int vb_wire_dec_cluster_node(struct vb_rd *r, struct vb_cluster_node *n,
			     struct vb_err *e);
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
/* Next message of a 0.8 poll response; returns 1, 0 at the end, -1 on error. */
int vb_wire_dec_msg(struct vb_rd *r, struct vb_msg *m, struct vb_err *e);

/*
 * The messages of a poll answer after its 16-byte head, in either
 * generation: 0.8 lists 64-byte messages, 0.9 batch records of 48-byte
 * frames whose offsets and timestamps are relative to their record
 * (messages.md §4.3).  The same struct vb_msg comes out: absolute offset,
 * the server timestamp, the origin timestamp, and frame/size covering
 * what the message checksum covers, so vb_wire_msg_verify holds for both.
 */
struct vb_msgs {
	struct vb_rd rd;
	unsigned gen;
	/* 0.9: the record being walked */
	size_t rec_end; /* in rd; 0 between records */
	uint64_t base_offset, base_ts, origin_ts;
};

void vb_msgs_init(struct vb_msgs *it, unsigned gen, const uint8_t *p, size_t n);
/* 1 with *m filled, 0 at the end, -1 on a broken record or message. */
int vb_msgs_next(struct vb_msgs *it, struct vb_msg *m, struct vb_err *e);

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
