/*
 * fake-server - a TCP listener that is not a working Iggy server, for the
 * tests of what clients do against one (issue 9).
 *
 *   fake-server MODE [--addr HOST:PORT] [--ready-fd N]
 *
 * MODE:
 *   silent   accepts connections, reads and discards, never answers
 *   http     answers whatever comes with an HTTP 400 reply and closes
 *   follower LEADER
 *            an Iggy 0.9 cluster node that follows LEADER (HOST:PORT):
 *            answers pings, logs anyone in, describes a cluster of
 *            itself (a follower) and LEADER (the healthy leader), and
 *            answers everything else 58, "not accepted" (framing.md
 *            §9.2, §11); writes "login" to stdout for every login
 *   transient N
 *            the same, but the leader of a cluster of itself alone, and
 *            a ping after login is answered 57, "not committed", N times
 *            before it succeeds; writes "ping REQUEST CLIENT SESSION" (the
 *            identity the frame carries, hex) for every such ping
 *
 * Listens on 127.0.0.1:0 by default; once listening it writes
 * "HOST:PORT\n" to the ready fd (if given) and to stdout, and serves
 * until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/parse.h"
#include "wire/wire.h"
#include "base/banned.h"

#define MAX_CONNS 256

static const char http_reply[] =
	"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
	"Connection: close\r\n\r\n";

struct node {
	char ip[64];
	uint16_t port;
};

static long transient = -1; /* transient mode: 57s left to answer */

/* One 0.9 request at p (size bytes) answered as a follower would. */
static void follow(struct vb_buf *out, const uint8_t *p, size_t size,
		   const struct node *self, const struct node *leader)
{
	struct vb_vsr_req q;
	struct vb_vsr_reply h;
	struct vb_cluster_node nodes[2];
	struct vb_vsr_login l;
	struct vb_err e;
	size_t m;

	if (vb_vsr_req_parse(p, &q, &e) < 0)
		return;
	memset(&h, 0, sizeof(h));
	memcpy(h.client, q.client, 16);
	h.request = q.request;
	h.operation = q.operation;
	h.op = 1;
	if (q.operation != VB_OP_REGISTER &&
	    !(q.operation == VB_OP_NR &&
	      (q.code == VB_CMD_PING || q.code == VB_CMD_GET_CLUSTER_METADATA)))
		h.status = VB_ST_TRANSIENT_NOT_ACCEPTED;
	if (transient >= 0 && q.operation == VB_OP_NR &&
	    q.code == VB_CMD_PING && q.session != 0) {
		printf("ping %llu ", (unsigned long long)q.request);
		for (int i = 15; i >= 0; i--)
			printf("%02x", q.client[i]);
		printf(" %llu\n", (unsigned long long)q.session);
		fflush(stdout);
		if (transient > 0) {
			transient--;
			h.status = VB_ST_TRANSIENT_NOT_COMMITTED;
		}
	}
	m = vb_vsr_reply_begin(out, &h);
	if (q.operation == VB_OP_REGISTER) {
		memset(&l, 0, sizeof(l));
		l.session = 1;
		l.server_protocol = VB_V09_PROTOCOL_VERSION;
		vb_name_set(&l.server_version, "0.9.0");
		vb_vsr_result_ok(out);
		vb_vsr_enc_login(out, &l);
		fputs("login\n", stdout);
		fflush(stdout);
	} else if (q.code == VB_CMD_GET_CLUSTER_METADATA && h.status == 0) {
		memset(nodes, 0, sizeof(nodes));
		strlcpy(nodes[0].name, "follower", sizeof(nodes[0].name));
		strlcpy(nodes[0].ip, self->ip, sizeof(nodes[0].ip));
		nodes[0].tcp = self->port;
		nodes[0].role = VB_NODE_FOLLOWER;
		strlcpy(nodes[1].name, "leader", sizeof(nodes[1].name));
		strlcpy(nodes[1].ip, leader->ip, sizeof(nodes[1].ip));
		nodes[1].tcp = leader->port;
		nodes[1].role = VB_NODE_LEADER;
		if (transient >= 0)
			nodes[0].role = VB_NODE_LEADER;
		vb_wire_enc_cluster_nodes(out, "test-cluster", nodes,
					  transient >= 0 ? 1 : 2);
	}
	vb_vsr_reply_end(out, m);
}

int main(int argc, char **argv)
{
	struct vb_buf in[MAX_CONNS + 1];
	struct node self, leader;
	int follower, first = 2;
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	const char *mode, *addr = "127.0.0.1:0";
	char host[256] = "", line[300];
	uint16_t port = 0;
	int has_port, lfd, one = 1, ready = -1, n = 1, http;
	struct vb_err e;

	if (argc < 2) {
		fputs("usage: fake-server silent|http|follower LEADER|transient N [--addr A] [--ready-fd N]\n",
		      stderr);
		return 2;
	}
	mode = argv[1];
	http = strcmp(mode, "http") == 0;
	follower = strcmp(mode, "follower") == 0 ||
		   strcmp(mode, "transient") == 0;
	if (!http && !follower && strcmp(mode, "silent") != 0) {
		fprintf(stderr, "fake-server: unknown mode '%s'\n", mode);
		return 2;
	}
	memset(&leader, 0, sizeof(leader));
	if (follower && strcmp(mode, "transient") == 0) {
		const char *bad = NULL;

		if (argc >= 3)
			transient = (long)strtonum(argv[2], 0, 1000, &bad);
		if (argc < 3 || bad) {
			fputs("fake-server: transient needs a count\n", stderr);
			return 2;
		}
		first = 3;
	} else if (follower) {
		if (argc < 3 ||
		    vb_addr_split(argv[2], leader.ip, sizeof(leader.ip),
				  &leader.port, &has_port, &e) ||
		    !has_port) {
			fputs("fake-server: follower needs the leader's HOST:PORT\n",
			      stderr);
			return 2;
		}
		first = 3;
	}
	for (int i = 0; i <= MAX_CONNS; i++)
		vb_buf_init(&in[i]);
	for (int i = first; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--addr") == 0)
			addr = argv[i + 1];
		else if (strcmp(argv[i], "--ready-fd") == 0)
			ready = (int)strtonum(argv[i + 1], 0, 1000, NULL);
		else {
			fprintf(stderr, "fake-server: unknown option '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (vb_addr_split(addr, host, sizeof(host), &port, &has_port, &e)) {
		fprintf(stderr, "fake-server: %s\n", e.msg);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa.sin_addr) !=
	    1) {
		fprintf(stderr, "fake-server: bad IPv4 address '%s'\n", host);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "fake-server: listen on %s: %s\n", addr,
			strerror(errno));
		return 1;
	}
	snprintf(line, sizeof(line), "%s:%u\n", inet_ntoa(sa.sin_addr),
		 ntohs(sa.sin_port));
	strlcpy(self.ip, inet_ntoa(sa.sin_addr), sizeof(self.ip));
	self.port = ntohs(sa.sin_port);
	fputs(line, stdout);
	fflush(stdout);
	if (ready >= 0) {
		if (write(ready, line, strlen(line)) < 0)
			return 1;
		close(ready);
	}
	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = n - 1; i >= 1; i--) {
			char buf[65536];
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			r = read(pfd[i].fd, buf, sizeof(buf));
			if (r > 0 && follower) {
				struct vb_buf out = VB_BUF_INIT;
				struct vb_buf *b = &in[i];
				size_t at = 0;

				vb_buf_add(b, buf, (size_t)r);
				while (b->len - at >= VB_VSR_HDR &&
				       b->len - at >= vb_ld32(b->p + at + 48) &&
				       vb_ld32(b->p + at + 48) >= VB_VSR_HDR) {
					size_t size = vb_ld32(b->p + at + 48);

					follow(&out, b->p + at, size, &self,
					       &leader);
					at += size;
				}
				memmove(b->p, b->p + at, b->len - at);
				b->len -= at;
				if (out.len &&
				    write(pfd[i].fd, out.p, out.len) < 0)
					r = 0;
				vb_buf_release(&out);
				if (r > 0)
					continue;
			}
			if (r > 0 && !http && !follower)
				continue; /* silent: swallow it */
			if (r > 0 && write(pfd[i].fd, http_reply,
					   sizeof(http_reply) - 1) < 0)
				r = 0;
			close(pfd[i].fd);
			vb_buf_release(&in[i]);
			pfd[i] = pfd[--n];
			in[i] = in[n];
			vb_buf_init(&in[n]);
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && n <= MAX_CONNS) {
				pfd[n].fd = fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				in[n].len = 0;
				n++;
			} else if (fd >= 0)
				close(fd);
		}
	}
}
