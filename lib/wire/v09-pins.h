/*
 * v09-pins.h - every point of the Iggy 0.9 protocol that the spec we
 * implement (shared/iggy-wire-0.9/, pinned to server-0.9.0-edge.5, a
 * month before the 0.9.0 release) marks as possibly different in the final
 * release (its README §3, D1 to D11), and nothing else.
 *
 * Each point is one definition here, used wherever the codec or the client
 * depends on it, so that a correction found against the real release is a
 * change of this file only.  Settled facts of 0.9 (header offsets, the
 * operation numbers, the batch layout) live in wire.h, cmds.h and vsr.c.
 *
 * Seen in newer upstream sources since the spec was written (not followed,
 * recorded for whoever re-verifies): the request header gained a u64
 * `namespace` routing field in part of the 60 reserved bytes (D3: the NR
 * code stays at 196..200; metadata, Register and Logout name the metadata
 * group there, partition writes pack stream/topic/partition), and codes
 * "store/delete consumer offset 2" appeared beside 121/122.
 */
#ifndef VB_WIRE_V09_PINS_H
#define VB_WIRE_V09_PINS_H

#include <stdint.h>

/*
 * D5: the protocol version a client sends at login, packed
 * major << 20 | minor << 10 | patch: the protocol crate's 0.11.0 (the
 * server accepts the same major.minor, any patch).
 */
#define VB_V09_PROTOCOL_MAJOR 0
#define VB_V09_PROTOCOL_MINOR 11
#define VB_V09_PROTOCOL_PATCH 0
#define VB_V09_PROTOCOL_VERSION                  \
	((uint32_t)VB_V09_PROTOCOL_MAJOR << 20 | \
	 (uint32_t)VB_V09_PROTOCOL_MINOR << 10 | VB_V09_PROTOCOL_PATCH)

/*
 * D2: whether partition-plane writes (send, store/delete offset) advance
 * the request counter.  The spec's SDKs do not (they carry the number the
 * next metadata write will use; partition writes are not deduplicated);
 * if the final release deduplicates them per client, each needs a number
 * of its own: set this to 1.
 */
#define VB_V09_PARTITION_ADVANCES 0

/*
 * D2/D3: whether request_checksum (XXH3-64 of the body) is stamped, per
 * class of operation.  The Rust SDK stamps metadata writes, Register and
 * Logout and leaves partition writes and NonReplicated requests 0 (which a
 * server takes as "unstamped").
 */
#define VB_V09_STAMP_METADATA 1
#define VB_V09_STAMP_PARTITION 0

/*
 * D3: the request header's reserved area (bytes 196..256): the code of a
 * NonReplicated request at its start; every other byte zero.
 */
#define VB_V09_NR_CODE_OFF 196

/*
 * D1: the topic options (commands.md §2.3) a create_topic may carry, in
 * the order a client writes them, and the three update_topic may change.
 * The final release is said to add `durability` and
 * `consumer_offset_durability` (replicated | persisted) and to reject
 * `enforce_fsync`: that is a change of this list.
 *
 * kind: how a client encodes the value (VB_OPTK_*); a decoder also takes
 * the string forms the spec lists for it.
 */
enum vb_optk {
	VB_OPTK_U64,	     /* uint64; or a decimal string */
	VB_OPTK_U32,	     /* uint32; or a decimal string */
	VB_OPTK_BOOL,	     /* bool (1 byte 0/1); or "true"/"false" */
	VB_OPTK_COMPRESSION, /* string none/gzip; or uint8 1/2 */
};

#define VB_V09_TOPIC_OPTIONS(X)                                              \
	X(COMPRESSION, "compression_algorithm", VB_OPTK_COMPRESSION, 1)      \
	X(EXPIRY, "message_expiry", VB_OPTK_U64, 1)                          \
	X(MAX_SIZE, "max_topic_size", VB_OPTK_U64, 1)                        \
	X(SEGMENT_SIZE, "segment_size", VB_OPTK_U64, 0)                      \
	X(FSYNC, "enforce_fsync", VB_OPTK_BOOL, 0)                           \
	X(MSGS_TO_SAVE, "messages_required_to_save", VB_OPTK_U32, 0)         \
	X(SIZE_TO_SAVE, "size_of_messages_required_to_save", VB_OPTK_U64, 0) \
	X(PREALLOCATE, "preallocate_segments", VB_OPTK_BOOL, 0)

enum vb_topt {
#define VB_X_TOPT(id, key, kind, updatable) VB_TOPT_##id,
	VB_V09_TOPIC_OPTIONS(VB_X_TOPT)
#undef VB_X_TOPT
};

/* How many topic options there are. */
#define VB_X_ONE(id, key, kind, updatable) +1
enum { VB_TOPT_COUNT = 0 VB_V09_TOPIC_OPTIONS(VB_X_ONE) };
#undef VB_X_ONE

/* D1: stream and user options: none is accepted (any key is 4041). */

#endif
