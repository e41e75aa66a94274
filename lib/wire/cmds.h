/*
 * cmds.h - the one list of Iggy commands (iggy-wire/control.md §2,
 * iggy-wire-0.9/framing.md §6.3).
 *
 * Every fact about a command that more than one place needs is a column
 * here, and everything else is generated from it: the codes (enum vb_cmd),
 * the names, which request layout encodes and decodes the body (req.c),
 * the 0.9 operation a request travels as and so whether its reply is
 * result-framed (vsr.c), whether it may come before a login, which
 * generations know it, and the permission a server checks.  A command
 * added here is known to all of them at once (Redis' commandTable, git's
 * builtin table).
 *
 * Codes 105 and 106, the waiting polls, are vibes extensions of the 0.8
 * framing (vibes-iggyd(8) PROTOCOL EXTENSIONS; upstream 0.8.0 answers them
 * 3): 0.8 only, 0.9 has no operation for them.
 *
 * X(ID, code, "name", layout, op09, flags, perm)
 *   ID      VB_CMD_<ID> is the code
 *   layout  the request body, VB_L_<layout> (req.c); bodies that differ
 *           between generations take the generation as an argument there
 *   op09    the 0.9 operation byte (VB_OP_*): VB_OP_NR for reads, ping and
 *           the rest sent as NonReplicated with the code in the header;
 *           VB_OP_NONE for commands 0.9 refuses (legacy logins)
 *   flags   VB_CF_*: VB_CF_V08 / VB_CF_V09 the generations that have it,
 *           VB_CF_PRELOGIN allowed before a login, VB_CF_LOGIN a login
 *   perm    VB_PERM_*: what the server checks (per stream and topic where
 *           the body names them); SELF: the caller's own session
 */
#ifndef VB_WIRE_CMDS_H
#define VB_WIRE_CMDS_H

#include <stdint.h>

#define VB_CMD_TABLE(X)                                                        \
	X(PING, 1, "ping", NONE, VB_OP_NR, VB_CF_BOTH | VB_CF_PRELOGIN, NONE)  \
	X(GET_STATS, 10, "get_stats", NONE, VB_OP_NR, VB_CF_BOTH,              \
	  READ_SERVERS)                                                        \
	X(GET_SNAPSHOT, 11, "get_snapshot", SNAPSHOT, VB_OP_NR, VB_CF_BOTH,    \
	  READ_SERVERS)                                                        \
	X(GET_CLUSTER_METADATA, 12, "get_cluster_metadata", NONE, VB_OP_NR,    \
	  VB_CF_BOTH, NONE)                                                    \
	X(DESCRIBE_OPTIONS, 13, "describe_options", SCOPE, VB_OP_NR,           \
	  VB_CF_V09, NONE)                                                     \
	X(GET_ME, 20, "get_me", NONE, VB_OP_NR, VB_CF_BOTH, SELF)              \
	X(GET_CLIENT, 21, "get_client", CLIENT_ID, VB_OP_NR, VB_CF_BOTH,       \
	  READ_SERVERS)                                                        \
	X(GET_CLIENTS, 22, "get_clients", NONE, VB_OP_NR, VB_CF_BOTH,          \
	  READ_SERVERS)                                                        \
	X(GET_USER, 31, "get_user", USER_ID, VB_OP_NR, VB_CF_BOTH, READ_USERS) \
	X(GET_USERS, 32, "get_users", NONE, VB_OP_NR, VB_CF_BOTH, READ_USERS)  \
	X(CREATE_USER, 33, "create_user", CREATE_USER, 141, VB_CF_BOTH,        \
	  MANAGE_USERS)                                                        \
	X(DELETE_USER, 34, "delete_user", USER_ID, 143, VB_CF_BOTH,            \
	  MANAGE_USERS)                                                        \
	X(UPDATE_USER, 35, "update_user", UPDATE_USER, 142, VB_CF_BOTH,        \
	  MANAGE_USERS)                                                        \
	X(UPDATE_PERMISSIONS, 36, "update_permissions", UPDATE_PERMS, 145,     \
	  VB_CF_BOTH, MANAGE_USERS)                                            \
	X(CHANGE_PASSWORD, 37, "change_password", CHANGE_PASSWORD, 144,        \
	  VB_CF_BOTH, SELF)                                                    \
	X(LOGIN_USER, 38, "login_user", LOGIN_USER, VB_OP_NONE,                \
	  VB_CF_V08 | VB_CF_PRELOGIN | VB_CF_LOGIN, NONE)                      \
	X(LOGOUT_USER, 39, "logout_user", NONE, VB_OP_LOGOUT, VB_CF_BOTH,      \
	  SELF)                                                                \
	X(LOGIN_REGISTER, 40, "login_register", LOGIN_REGISTER,                \
	  VB_OP_REGISTER, VB_CF_V09 | VB_CF_PRELOGIN | VB_CF_LOGIN, NONE)      \
	X(GET_PATS, 41, "get_pats", NONE, VB_OP_NR, VB_CF_BOTH, SELF)          \
	X(CREATE_PAT, 42, "create_pat", CREATE_PAT, 146, VB_CF_BOTH, SELF)     \
	X(DELETE_PAT, 43, "delete_pat", NAME, 147, VB_CF_BOTH, SELF)           \
	X(LOGIN_PAT, 44, "login_pat", TOKEN, VB_OP_NONE,                       \
	  VB_CF_V08 | VB_CF_PRELOGIN | VB_CF_LOGIN, NONE)                      \
	X(LOGIN_REGISTER_PAT, 45, "login_register_pat", LOGIN_REGISTER_PAT,    \
	  VB_OP_REGISTER, VB_CF_V09 | VB_CF_PRELOGIN | VB_CF_LOGIN, NONE)      \
	X(POLL_MESSAGES, 100, "poll_messages", POLL, VB_OP_NR, VB_CF_BOTH,     \
	  POLL)                                                                \
	X(SEND_MESSAGES, 101, "send_messages", SEND, 160, VB_CF_BOTH, SEND)    \
	X(FLUSH_UNSAVED_BUFFER, 102, "flush_unsaved_buffer", FLUSH, VB_OP_NR,  \
	  VB_CF_BOTH, SEND)                                                    \
	X(POLL_WAIT, 105, "poll_wait", POLL_WAIT, VB_OP_NONE, VB_CF_V08, POLL) \
	X(POLL_WAIT_MULTI, 106, "poll_wait_multi", POLL_WAIT_MULTI,            \
	  VB_OP_NONE, VB_CF_V08, POLL)                                         \
	X(GET_CONSUMER_OFFSET, 120, "get_consumer_offset", OFFSET_GET,         \
	  VB_OP_NR, VB_CF_BOTH, POLL)                                          \
	X(STORE_CONSUMER_OFFSET, 121, "store_consumer_offset", OFFSET_STORE,   \
	  161, VB_CF_BOTH, POLL)                                               \
	X(DELETE_CONSUMER_OFFSET, 122, "delete_consumer_offset",               \
	  OFFSET_DELETE, 162, VB_CF_BOTH, POLL)                                \
	X(GET_STREAM, 200, "get_stream", STREAM, VB_OP_NR, VB_CF_BOTH,         \
	  READ_STREAM)                                                         \
	X(GET_STREAMS, 201, "get_streams", NONE, VB_OP_NR, VB_CF_BOTH,         \
	  READ_STREAMS)                                                        \
	X(CREATE_STREAM, 202, "create_stream", CREATE_STREAM, 128, VB_CF_BOTH, \
	  MANAGE_STREAMS)                                                      \
	X(DELETE_STREAM, 203, "delete_stream", STREAM, 130, VB_CF_BOTH,        \
	  MANAGE_STREAM)                                                       \
	X(UPDATE_STREAM, 204, "update_stream", UPDATE_STREAM, 129, VB_CF_BOTH, \
	  MANAGE_STREAM)                                                       \
	X(PURGE_STREAM, 205, "purge_stream", STREAM, 131, VB_CF_BOTH,          \
	  MANAGE_STREAM)                                                       \
	X(GET_TOPIC, 300, "get_topic", ST, VB_OP_NR, VB_CF_BOTH, READ_TOPIC)   \
	X(GET_TOPICS, 301, "get_topics", STREAM, VB_OP_NR, VB_CF_BOTH,         \
	  READ_STREAM)                                                         \
	X(CREATE_TOPIC, 302, "create_topic", CREATE_TOPIC, 132, VB_CF_BOTH,    \
	  MANAGE_TOPICS)                                                       \
	X(DELETE_TOPIC, 303, "delete_topic", ST, 134, VB_CF_BOTH,              \
	  MANAGE_TOPIC)                                                        \
	X(UPDATE_TOPIC, 304, "update_topic", UPDATE_TOPIC, 133, VB_CF_BOTH,    \
	  MANAGE_TOPIC)                                                        \
	X(PURGE_TOPIC, 305, "purge_topic", ST, 135, VB_CF_BOTH, MANAGE_TOPIC)  \
	X(CREATE_PARTITIONS, 402, "create_partitions", PARTITIONS, 136,        \
	  VB_CF_BOTH, MANAGE_TOPIC)                                            \
	X(DELETE_PARTITIONS, 403, "delete_partitions", PARTITIONS, 137,        \
	  VB_CF_BOTH, MANAGE_TOPIC)                                            \
	X(DELETE_SEGMENTS, 503, "delete_segments", SEGMENTS, 138, VB_CF_BOTH,  \
	  MANAGE_TOPIC)                                                        \
	X(GET_CONSUMER_GROUP, 600, "get_consumer_group", GROUP, VB_OP_NR,      \
	  VB_CF_BOTH, READ_TOPIC)                                              \
	X(GET_CONSUMER_GROUPS, 601, "get_consumer_groups", ST, VB_OP_NR,       \
	  VB_CF_BOTH, READ_TOPIC)                                              \
	X(CREATE_CONSUMER_GROUP, 602, "create_consumer_group", CREATE_GROUP,   \
	  139, VB_CF_BOTH, MANAGE_TOPIC)                                       \
	X(DELETE_CONSUMER_GROUP, 603, "delete_consumer_group", GROUP, 140,     \
	  VB_CF_BOTH, MANAGE_TOPIC)                                            \
	X(JOIN_CONSUMER_GROUP, 604, "join_consumer_group", GROUP, 148,         \
	  VB_CF_BOTH, READ_TOPIC)                                              \
	X(LEAVE_CONSUMER_GROUP, 605, "leave_consumer_group", GROUP, 149,       \
	  VB_CF_BOTH, READ_TOPIC)                                              \
	X(SYNC_CONSUMER_GROUP, 606, "sync_consumer_group", GROUP, VB_OP_NR,    \
	  VB_CF_V09, READ_TOPIC)

/* Command flags. */
enum {
	VB_CF_V08 = 1 << 0,	 /* Iggy 0.8.0 has it */
	VB_CF_V09 = 1 << 1,	 /* Iggy 0.9 has it */
	VB_CF_PRELOGIN = 1 << 2, /* allowed before a login */
	VB_CF_LOGIN = 1 << 3,	 /* it is a login */
};
/* Both generations. */
#define VB_CF_BOTH (VB_CF_V08 | VB_CF_V09)

/*
 * 0.9 operation bytes (framing.md §6.1) that are not a metadata or
 * partition write (those are numbers in the table: 128..149, 160..162).
 */
enum vb_vsr_op {
	VB_OP_NONE = 0, /* Reserved: never sent */
	VB_OP_REGISTER = 1,
	VB_OP_NR = 2, /* NonReplicated: code at header 196..200 */
	VB_OP_LOGOUT = 3,
	VB_OP_META_FIRST = 128,
	VB_OP_META_LAST = 149,
	VB_OP_SEND = 160,
	VB_OP_STORE_OFFSET = 161,
	VB_OP_DELETE_OFFSET = 162,
};

/* The permission a command needs (a server checks it). */
enum vb_cmd_perm {
	VB_PERM_NONE,
	VB_PERM_SELF,
	VB_PERM_READ_SERVERS,
	VB_PERM_MANAGE_USERS,
	VB_PERM_READ_USERS,
	VB_PERM_MANAGE_STREAMS,
	VB_PERM_READ_STREAMS,
	VB_PERM_MANAGE_STREAM,
	VB_PERM_READ_STREAM,
	VB_PERM_MANAGE_TOPICS,
	VB_PERM_MANAGE_TOPIC,
	VB_PERM_READ_TOPIC,
	VB_PERM_POLL,
	VB_PERM_SEND,
};

/* Request body layouts (req.c has one encoder and decoder per layout). */
enum vb_layout {
	VB_L_NONE,
	VB_L_SNAPSHOT,
	VB_L_SCOPE,
	VB_L_CLIENT_ID,
	VB_L_USER_ID,
	VB_L_CREATE_USER,
	VB_L_UPDATE_USER,
	VB_L_UPDATE_PERMS,
	VB_L_CHANGE_PASSWORD,
	VB_L_LOGIN_USER,
	VB_L_LOGIN_REGISTER,
	VB_L_LOGIN_REGISTER_PAT,
	VB_L_CREATE_PAT,
	VB_L_NAME,
	VB_L_TOKEN,
	VB_L_POLL,
	VB_L_POLL_WAIT,	      /* 105: poll + the wait trailer */
	VB_L_POLL_WAIT_MULTI, /* 106: partitions + the wait trailer */
	VB_L_SEND,	      /* not a vb_req: vb_wire_send_* */
	VB_L_FLUSH,
	VB_L_OFFSET_GET,
	VB_L_OFFSET_STORE,
	VB_L_OFFSET_DELETE,
	VB_L_STREAM,
	VB_L_CREATE_STREAM,
	VB_L_UPDATE_STREAM,
	VB_L_ST,
	VB_L_CREATE_TOPIC,
	VB_L_UPDATE_TOPIC,
	VB_L_PARTITIONS,
	VB_L_SEGMENTS,
	VB_L_GROUP,
	VB_L_CREATE_GROUP,
	VB_L_COUNT
};

enum vb_cmd {
#define VB_X_ENUM(id, code, name, layout, op, flags, perm) VB_CMD_##id = code,
	VB_CMD_TABLE(VB_X_ENUM)
#undef VB_X_ENUM
};

/* One row of the table. */
struct vb_cmd_info {
	uint32_t code;
	const char *name;
	uint8_t layout; /* enum vb_layout */
	uint8_t op09;	/* enum vb_vsr_op or a write's number */
	uint8_t flags;	/* VB_CF_* */
	uint8_t perm;	/* enum vb_cmd_perm */
};

/* Generations (struct vb_framing.gen). */
enum vb_gen { VB_GEN_08 = 8, VB_GEN_09 = 9 };

/* The row of a code; NULL for a code no generation has. */
const struct vb_cmd_info *vb_cmd_info(uint32_t code);
/* The same, NULL also when generation gen has no such command. */
const struct vb_cmd_info *vb_cmd_lookup(uint32_t code, unsigned gen);
/* "ping", "send_messages", ...; NULL for an unknown code. */
const char *vb_cmd_name(uint32_t code);
/*
 * The code of a 0.9 operation other than NonReplicated (a write names no
 * code on the wire); 0 when none has it.
 */
uint32_t vb_cmd_of_op(uint8_t op09);
/* The rows, in code order, for those that walk them (tests, docs). */
const struct vb_cmd_info *vb_cmd_all(size_t *n);

/* 0.9: the reply of this operation is result-framed (framing.md §3.2). */
static inline int vb_op_result_framed(uint8_t op)
{
	return (op >= VB_OP_META_FIRST && op <= VB_OP_META_LAST) ||
	       op == VB_OP_STORE_OFFSET || op == VB_OP_DELETE_OFFSET;
}
/* 0.9: a partition-plane write (send, store/delete offset). */
static inline int vb_op_partition(uint8_t op)
{
	return op >= VB_OP_SEND && op <= VB_OP_DELETE_OFFSET;
}
static inline int vb_op_metadata(uint8_t op)
{
	return op >= VB_OP_META_FIRST && op <= VB_OP_META_LAST;
}

#endif
