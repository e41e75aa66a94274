/*
 * status.h - Iggy status codes, 0.8.0 and the 0.9 additions
 * (iggy-wire/control.md §3, messages.md §2.3, §8; iggy-wire-0.9/framing.md
 * §8), and the command codes (cmds.h, the one command table).
 *
 * X(ID, code, "name"): VB_ST_<ID> is the code, vb_status_name() the name.
 */
#ifndef VB_WIRE_STATUS_H
#define VB_WIRE_STATUS_H

#include <stdint.h>

#include "wire/cmds.h"

#define VB_STATUS_TABLE(X)                                                    \
	X(OK, 0, "ok")                                                        \
	X(ERROR, 1, "error")                                                  \
	X(INVALID_COMMAND, 3, "invalid_command")                              \
	X(INVALID_FORMAT, 4, "invalid_format")                                \
	X(FEATURE_UNAVAILABLE, 5, "feature_unavailable")                      \
	X(INVALID_IDENTIFIER, 6, "invalid_identifier")                        \
	X(DISCONNECTED, 8, "disconnected")                                    \
	X(RESOURCE_NOT_FOUND, 20, "resource_not_found")                       \
	X(STALE_CLIENT, 30, "stale_client")                                   \
	X(TCP_ERROR, 31, "tcp_error")                                         \
	X(UNAUTHENTICATED, 40, "unauthenticated")                             \
	X(UNAUTHORIZED, 41, "unauthorized")                                   \
	X(INVALID_CREDENTIALS, 42, "invalid_credentials")                     \
	X(INVALID_USERNAME, 43, "invalid_username")                           \
	X(INVALID_PASSWORD, 44, "invalid_password")                           \
	X(INVALID_USER_STATUS, 45, "invalid_user_status")                     \
	X(USER_ALREADY_EXISTS, 46, "user_already_exists")                     \
	X(USER_INACTIVE, 47, "user_inactive")                                 \
	X(CANNOT_DELETE_USER, 48, "cannot_delete_user")                       \
	X(CANNOT_CHANGE_PERMISSIONS, 49, "cannot_change_permissions")         \
	X(INVALID_PAT_NAME, 50, "invalid_pat_name")                           \
	X(PAT_ALREADY_EXISTS, 51, "pat_already_exists")                       \
	X(PATS_LIMIT_REACHED, 52, "pats_limit_reached")                       \
	X(INVALID_PAT, 53, "invalid_pat")                                     \
	X(PAT_EXPIRED, 54, "pat_expired")                                     \
	X(USERS_LIMIT_REACHED, 55, "users_limit_reached")                     \
	X(INVALID_PAT_EXPIRY, 56, "invalid_personal_access_token_expiry")     \
	X(TRANSIENT_NOT_COMMITTED, 57, "transient_not_committed")             \
	X(TRANSIENT_NOT_ACCEPTED, 58, "transient_not_accepted")               \
	X(REQUEST_ALREADY_APPLIED, 59, "request_already_applied")             \
	X(INVALID_SIZE_BYTES, 80, "invalid_size_bytes")                       \
	X(CLIENT_NOT_FOUND, 100, "client_not_found")                          \
	X(INVALID_CLIENT_ID, 101, "invalid_client_id")                        \
	X(CONNECTION_CLOSED, 206, "connection_closed")                        \
	X(STREAM_ID_NOT_FOUND, 1009, "stream_id_not_found")                   \
	X(STREAM_NAME_ALREADY_EXISTS, 1012, "stream_name_already_exists")     \
	X(INVALID_TOPIC_SIZE, 1019, "invalid_topic_size")                     \
	X(TOO_MANY_STREAMS, 1020, "too_many_streams")                         \
	X(TOPIC_ID_NOT_FOUND, 2010, "topic_id_not_found")                     \
	X(TOPIC_NAME_ALREADY_EXISTS, 2013, "topic_name_already_exists")       \
	X(TOO_MANY_PARTITIONS, 2015, "too_many_partitions")                   \
	X(INVALID_PARTITIONS_COUNT, 2019, "invalid_partitions_count")         \
	X(TOO_MANY_TOPICS, 2021, "too_many_topics")                           \
	X(PARTITION_NOT_FOUND, 3007, "partition_not_found")                   \
	X(TOPIC_FULL, 3009, "topic_full")                                     \
	X(PARTITION_ID_SPACE_EXHAUSTED, 3013, "partition_id_space_exhausted") \
	X(CONSUMER_OFFSET_NOT_FOUND, 3021, "consumer_offset_not_found")       \
	X(NOT_RESOLVED_CONSUMER, 3022, "not_resolved_consumer")               \
	X(INVALID_MESSAGES_COUNT, 4009, "invalid_messages_count")             \
	X(TOO_BIG_USER_HEADERS, 4017, "too_big_user_headers")                 \
	X(TOO_BIG_MESSAGE_PAYLOAD, 4022, "too_big_message_payload")           \
	X(TOO_MANY_MESSAGES, 4023, "too_many_messages")                       \
	X(INVALID_MESSAGE_CHECKSUM, 4027, "invalid_message_checksum")         \
	X(NON_ZERO_OFFSET, 4031, "non_zero_offset")                           \
	X(NON_ZERO_TIMESTAMP, 4032, "non_zero_timestamp")                     \
	X(MISSING_INDEX, 4033, "missing_index")                               \
	X(INVALID_MESSAGES_SIZE, 4036, "invalid_messages_size")               \
	X(INVALID_MESSAGE_TIMESTAMP_DELTA, 4038,                              \
	  "invalid_message_timestamp_delta")                                  \
	X(INVALID_BATCH_CHECKSUM, 4039, "invalid_batch_checksum")             \
	X(INVALID_HEADER_KIND, 4040, "invalid_header_kind")                   \
	X(UNSUPPORTED_OPTION_KEY, 4041, "unsupported_option_key")             \
	X(INVALID_OPTION_VALUE, 4042, "invalid_option_value")                 \
	X(OPTIONS_BLOCK_TOO_LARGE, 4043, "options_block_too_large")           \
	X(INVALID_OFFSET, 4100, "invalid_offset")                             \
	X(INVALID_RESERVED_FIELD, 4101, "invalid_reserved_field")             \
	X(CONSUMER_GROUP_ID_NOT_FOUND, 5000, "consumer_group_id_not_found")   \
	X(CONSUMER_GROUP_NAME_ALREADY_EXISTS, 5004,                           \
	  "consumer_group_name_already_exists")                               \
	X(CONSUMER_GROUP_MEMBER_NOT_FOUND, 5006,                              \
	  "consumer_group_member_not_found")                                  \
	X(CONSUMER_GROUP_PARTITION_NOT_OWNED, 5009,                           \
	  "consumer_group_partition_not_owned")                               \
	X(CANNOT_READ_INDEX_POSITION, 10011, "cannot_read_index_position")    \
	X(IO_ERROR, 13000, "io_error")                                        \
	X(ALREADY_AUTHENTICATED, 14000, "already_authenticated")              \
	X(INVALID_SESSION, 14001, "invalid_session")                          \
	X(INCOMPATIBLE_PROTOCOL_VERSION, 14003, "incompatible_protocol_version")

enum vb_status {
#define VB_X_ENUM(id, code, name) VB_ST_##id = code,
	VB_STATUS_TABLE(VB_X_ENUM)
#undef VB_X_ENUM
};

/* "stream_id_not_found", ...; "unknown_status" for an unknown code. */
const char *vb_status_name(uint32_t status);

#endif
