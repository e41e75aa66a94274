/*
 * vibes-test-tool - small client operations for the shell tests (git's
 * test-tool idea): connects exactly as every vibes tool does
 * (vb_ctl_connect), so tests exercise the real connect contract.
 *
 *   vibes-test-tool [CONN] connect          connect, log in, ping
 *   vibes-test-tool [CONN] send S T MSG...  send MSGs to partition 0 of
 *                                           topic T in stream S (both
 *                                           created with 1 partition)
 *   vibes-test-tool [CONN] poll S T         print partition 0's payloads
 *                                           from offset 0, one per line
 *   vibes-test-tool [CONN] raw S T POISON [MSG...]
 *                                           send one batch of MSGs (default
 *                                           "x") to partition 0 of T in S,
 *                                           its last message spoiled as
 *                                           POISON says, byte for byte as
 *                                           built (no client checks); print
 *                                           "status N NAME" (exit 0 whatever
 *                                           the status).  POISON: none,
 *                                           reserved (reserved field 1),
 *                                           checksum (a wrong one),
 *                                           checksum-right, payload-length
 *                                           (one more than there is),
 *                                           last-position (last index
 *                                           position one past the end)
 *
 * CONN: --data-dir DIR --server ADDR --user U --password P --no-autostart
 *       --timeout MS
 *
 * Commands on the server's storage (the disk tests, t1040 and t1050):
 *   topics S                 print "ID NAME PARTITIONS MESSAGES" per topic
 *   create-topic S T [N]     create topic T (N partitions, default 1)
 *   delete-topic S T         delete topic T of stream S
 *   store-offset S T C OFF   store consumer C's offset in partition 0
 *   get-offset S T C         print it ("none" when nothing is stored)
 *   flush S T                flush_unsaved_buffer of partition 0, fsync
 *   create-user NAME PASS    create an active user without permissions
 * Exit status: vb_exit.h (0 ok, 69 unavailable, 77 login refused, ...).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vb_exit.h"
#include "client/client.h"
#include "ctl/ctl.h"
#include "base/banned.h"

static int fail(const char *what, const struct vb_err *e)
{
	fprintf(stderr, "vibes-test-tool: %s: %s\n", what, e->msg);
	return vb_err_exit(e);
}

/* ---- commands on the server's storage ---- */

static int do_topics(struct vb_client *c, const struct vb_ident *s, char **argv,
		     struct vb_err *e)
{
	struct vb_req r;
	const uint8_t *p;
	size_t n;
	struct vb_rd rd;
	struct vb_topic_info t;

	vb_req_init(&r, VB_CMD_GET_TOPICS);
	r.stream = *s;
	if (vb_client_call(c, &r, &p, &n, e))
		return -1;
	vb_rd_init(&rd, p, n);
	while (vb_rd_left(&rd) > 0) {
		if (vb_wire_dec_topic(&rd, &t, e))
			return -1;
		printf("%u %s %u %llu\n", t.id, t.name.s, t.partitions_count,
		       (unsigned long long)t.messages_count);
	}
	return 0;
}

static int do_topic_cmd(struct vb_client *c, const char *cmd,
			const struct vb_ident *s, char **argv, int argc,
			struct vb_err *e)
{
	struct vb_topic_info t;
	struct vb_req r;
	const char *errstr;
	uint32_t n = 1;

	if (strcmp(cmd, "create-topic") == 0) {
		if (argc > 2) {
			n = (uint32_t)strtonum(argv[2], 0, 1000, &errstr);
			if (errstr)
				return vb_err_set(e, VB_E_USAGE,
						  "partitions %s", errstr);
		}
		return vb_client_create_topic(c, s, argv[1], n, &t, e);
	}
	vb_req_init(&r, VB_CMD_DELETE_TOPIC);
	r.stream = *s;
	if (vb_ident_str(&r.topic, argv[1]))
		return vb_err_set(e, VB_E_USAGE, "bad topic name");
	return vb_client_call(c, &r, NULL, NULL, e);
}

static int do_offset_cmd(struct vb_client *c, const char *cmd,
			 const struct vb_ident *s, char **argv, int argc,
			 struct vb_err *e)
{
	struct vb_consumer who;
	struct vb_offset_info oi;
	struct vb_ident t;
	const char *errstr;
	uint64_t off;
	int found;

	if (vb_ident_str(&t, argv[1]))
		return vb_err_set(e, VB_E_USAGE, "bad topic name");
	if (strcmp(cmd, "flush") == 0)
		return vb_client_flush(c, s, &t, 0, 1, e);
	if (argc < 3)
		return vb_err_set(e, VB_E_USAGE, "%s S T CONSUMER", cmd);
	who.kind = VB_CONSUMER;
	if (vb_ident_str(&who.id, argv[2]))
		return vb_err_set(e, VB_E_USAGE, "bad consumer name");
	if (strcmp(cmd, "get-offset") == 0) {
		if (vb_client_get_offset(c, &who, s, &t, 0, &oi, &found, e))
			return -1;
		if (found)
			printf("%llu\n", (unsigned long long)oi.stored_offset);
		else
			puts("none");
		return 0;
	}
	if (argc < 4)
		return vb_err_set(e, VB_E_USAGE, "store-offset S T C OFFSET");
	off = (uint64_t)strtonum(argv[3], 0, LLONG_MAX, &errstr);
	if (errstr)
		return vb_err_set(e, VB_E_USAGE, "offset %s", errstr);
	return vb_client_store_offset(c, &who, s, &t, 0, off, e);
}

static int do_create_user(struct vb_client *c, int argc, char **argv)
{
	struct vb_req r;
	struct vb_err e;

	vb_err_clear(&e);
	vb_req_init(&r, VB_CMD_CREATE_USER);
	r.user_status = 1;
	if (argc != 2 || vb_name_set(&r.name, argv[0]) ||
	    vb_name_set(&r.secret, argv[1])) {
		fputs("vibes-test-tool: create-user NAME PASS\n", stderr);
		return VB_EX_USAGE;
	}
	if (vb_client_call(c, &r, NULL, NULL, &e))
		return fail("create-user", &e);
	return VB_EX_OK;
}

/* Runs cmd if it is one of the storage commands; -1 if it is not. */
static int do_storage(struct vb_client *c, const char *cmd, int argc,
		      char **argv)
{
	static const char *const cmds[] = { "topics",	    "create-topic",
					    "delete-topic", "store-offset",
					    "get-offset",   "flush" };
	struct vb_ident s;
	struct vb_err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i]) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return -1;
	if (argc < (i == 0 ? 1 : 2) || vb_ident_str(&s, argv[0])) {
		fprintf(stderr, "vibes-test-tool: %s: bad arguments\n", cmd);
		return VB_EX_USAGE;
	}
	vb_err_clear(&e);
	if (i == 0)
		rc = do_topics(c, &s, argv, &e);
	else if (i <= 2)
		rc = do_topic_cmd(c, cmd, &s, argv, argc, &e);
	else
		rc = do_offset_cmd(c, cmd, &s, argv, argc, &e);
	if (rc)
		return fail(cmd, &e);
	return fflush(stdout) == 0 ? VB_EX_OK : VB_EX_IOERR;
}

static int ensure_topic(struct vb_client *c, const char *stream,
			const char *topic, struct vb_err *e)
{
	struct vb_ident s, t;
	struct vb_stream_info si;
	struct vb_topic_info ti;
	int found;

	if (vb_ident_str(&s, stream) || vb_ident_str(&t, topic))
		return vb_err_set(e, VB_E_USAGE, "bad stream or topic name");
	if (vb_client_get_stream(c, &s, &si, &found, e))
		return -1;
	if (!found && vb_client_create_stream(c, stream, &si, e))
		return -1;
	if (vb_client_get_topic(c, &s, &t, &ti, NULL, 0, &found, e))
		return -1;
	if (!found && vb_client_create_topic(c, &s, topic, 1, &ti, e))
		return -1;
	return 0;
}

/*
 * A batch of the n strings msgs for partition 0 of topic T in stream S
 * (created if missing): fills h and *m, which the caller frees.
 */
static int batch_make(struct vb_client *c, const char *stream,
		      const char *topic, char *const *msgs, int n,
		      struct vb_send_hdr *h, struct vb_msg_in **m,
		      struct vb_err *e)
{
	if (ensure_topic(c, stream, topic, e))
		return -1;
	memset(h, 0, sizeof(*h));
	vb_ident_str(&h->stream, stream);
	vb_ident_str(&h->topic, topic);
	h->part_kind = VB_PART_ID;
	h->partition_id = 0;
	*m = vb_xcalloc((size_t)n, sizeof(**m));
	for (int i = 0; i < n; i++) {
		(*m)[i].payload = msgs[i];
		(*m)[i].payload_len = (uint32_t)strlen(msgs[i]);
	}
	return 0;
}

static int do_send(struct vb_client *c, int argc, char **argv)
{
	struct vb_send_hdr h;
	struct vb_msg_in *m;
	struct vb_err e;
	int rc;

	if (argc < 3) {
		fputs("vibes-test-tool: send STREAM TOPIC MSG...\n", stderr);
		return VB_EX_USAGE;
	}
	if (batch_make(c, argv[0], argv[1], argv + 2, argc - 2, &h, &m, &e))
		return fail("send", &e);
	rc = vb_client_send(c, &h, m, (uint32_t)argc - 2, &e);
	free(m);
	if (rc)
		return fail("send", &e);
	return VB_EX_OK;
}

static int do_poll(struct vb_client *c, int argc, char **argv)
{
	struct vb_poll_hdr ph;
	struct vb_req r;
	struct vb_rd rd;
	struct vb_msgs it;
	struct vb_msg m;
	struct vb_err e;
	uint64_t next = 0;

	if (argc != 2) {
		fputs("vibes-test-tool: poll STREAM TOPIC\n", stderr);
		return VB_EX_USAGE;
	}
	for (;;) {
		int got = 0, rc;

		vb_req_init(&r, VB_CMD_POLL_MESSAGES);
		if (vb_ident_str(&r.stream, argv[0]) ||
		    vb_ident_str(&r.topic, argv[1])) {
			fputs("vibes-test-tool: bad name\n", stderr);
			return VB_EX_USAGE;
		}
		r.consumer.kind = VB_CONSUMER;
		vb_ident_num(&r.consumer.id, 1);
		r.part.present = 1;
		r.part.id = 0;
		r.strategy = VB_POLL_OFFSET;
		r.value = next;
		r.count = 1000;
		if (vb_client_poll(c, &r, &ph, &rd, &e))
			return fail("poll", &e);
		/* 0.8 messages or 0.9 batch records, as the client speaks */
		vb_msgs_init(&it, c->framing->gen, rd.p + rd.off,
			     vb_rd_left(&rd));
		while ((rc = vb_msgs_next(&it, &m, &e)) == 1) {
			fwrite(m.payload, 1, m.payload_len, stdout);
			putchar('\n');
			next = m.offset + 1;
			got++;
		}
		if (rc < 0)
			return fail("poll", &e);
		if (got == 0)
			break;
	}
	return fflush(stdout) == 0 ? VB_EX_OK : VB_EX_IOERR;
}

static int do_raw(struct vb_client *c, int argc, char **argv)
{
	static const char *const poisons[] = {
		"none",		  "reserved",	    "checksum",
		"checksum-right", "payload-length", "last-position",
	};
	static char x[] = "x";
	char *dflt[] = { x };
	struct vb_buf b = VB_BUF_INIT;
	struct vb_send_hdr h;
	struct vb_msg_in *m;
	struct vb_reply rep;
	struct vb_err e;
	const char *name;
	size_t area, last;
	uint8_t *f;
	int i, n, poison = -1, rc = VB_EX_OK;

	for (i = 0; argc >= 3 && i < (int)(sizeof(poisons) / sizeof(*poisons));
	     i++)
		if (strcmp(argv[2], poisons[i]) == 0)
			poison = i;
	if (poison < 0) {
		fputs("vibes-test-tool: raw STREAM TOPIC none|reserved|"
		      "checksum|checksum-right|payload-length|last-position "
		      "[MSG...]\n",
		      stderr);
		return VB_EX_USAGE;
	}
	n = argc > 3 ? argc - 3 : 1;
	if (batch_make(c, argv[0], argv[1], argc > 3 ? argv + 3 : dflt, n, &h,
		       &m, &e))
		return fail("raw", &e);
	vb_wire_send_encode(&b, &h, m, (uint32_t)n);
	/* frame header, metadata_length and metadata, index, messages */
	area = VB_REQ_HDR + 4 + vb_ld32(b.p + VB_REQ_HDR) +
	       (size_t)n * VB_INDEX_ENTRY;
	last = area;
	for (i = 0; i + 1 < n; i++)
		last += VB_MSG_HDR + m[i].payload_len;
	f = b.p + last;
	switch (poison) {
	case 1:
		vb_st64(f + VB_MSG_RESERVED, 1);
		break;
	case 2:
		vb_st64(f + VB_MSG_CHECKSUM,
			vb_wire_msg_checksum(f, b.len - last) + 1);
		break;
	case 3:
		vb_st64(f + VB_MSG_CHECKSUM,
			vb_wire_msg_checksum(f, b.len - last));
		break;
	case 4:
		vb_st32(f + VB_MSG_PAYLOAD_LEN,
			vb_ld32(f + VB_MSG_PAYLOAD_LEN) + 1);
		break;
	case 5:
		vb_st32(b.p + area - VB_INDEX_ENTRY + 4,
			(uint32_t)(b.len - area + 1));
		break;
	}
	vb_client_queue(c, b.p, b.len);
	if (vb_client_next(c, &rep, &e)) {
		rc = fail("raw", &e);
	} else {
		name = vb_status_name(rep.status);
		printf("status %u %s\n", rep.status, name ? name : "?");
	}
	free(m);
	vb_buf_release(&b);
	if (rc == VB_EX_OK && fflush(stdout) != 0)
		rc = VB_EX_IOERR;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "no-autostart", no_argument, NULL, 'N' },
		{ "password", required_argument, NULL, 'P' },
		{ "server", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_ctl_opts o;
	struct vb_client c;
	struct vb_err e;
	const char *errstr, *cmd;
	int ch, rc;

	vb_ctl_opts_init(&o);
	while ((ch = getopt_long(argc, argv, "+d:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'N':
			o.autostart = 0;
			break;
		case 'P':
			o.pass = optarg;
			break;
		case 's':
			o.server = optarg;
			break;
		case 't':
			o.timeout_ms = (int)strtonum(optarg, 1, 600000,
						     &errstr);
			if (errstr) {
				fprintf(stderr, "vibes-test-tool: timeout %s\n",
					errstr);
				return VB_EX_USAGE;
			}
			break;
		case 'u':
			o.user = optarg;
			break;
		default:
			return VB_EX_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("usage: vibes-test-tool [CONN] connect|send|poll|raw "
		      "...\n",
		      stderr);
		return VB_EX_USAGE;
	}
	cmd = argv[optind++];
	vb_client_init(&c);
	vb_err_clear(&e);
	if (vb_ctl_connect(&c, &o, &e)) {
		rc = fail("connect", &e);
		goto out;
	}
	if ((rc = do_storage(&c, cmd, argc - optind, argv + optind)) >= 0)
		goto out;
	if (strcmp(cmd, "create-user") == 0) {
		rc = do_create_user(&c, argc - optind, argv + optind);
		goto out;
	}
	if (strcmp(cmd, "connect") == 0) {
		if (vb_client_ping(&c, &e))
			rc = fail("ping", &e);
		else {
			printf("connected %s:%u as %s\n", c.host, c.port,
			       c.user);
			rc = VB_EX_OK;
		}
	} else if (strcmp(cmd, "send") == 0) {
		rc = do_send(&c, argc - optind, argv + optind);
	} else if (strcmp(cmd, "poll") == 0) {
		rc = do_poll(&c, argc - optind, argv + optind);
	} else if (strcmp(cmd, "raw") == 0) {
		rc = do_raw(&c, argc - optind, argv + optind);
	} else {
		fprintf(stderr, "vibes-test-tool: unknown command '%s'\n", cmd);
		rc = VB_EX_USAGE;
	}
out:
	vb_client_release(&c);
	return rc;
}
