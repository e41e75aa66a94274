/*
 * fake-server - a TCP listener that is not a working Iggy server, for the
 * tests of what clients do against one (issue 9).
 *
 *   fake-server MODE [--addr HOST:PORT] [--ready-fd N]
 *
 * MODE:
 *   silent   accepts connections, reads and discards, never answers
 *   http     answers whatever comes with an HTTP 400 reply and closes
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

#include "base/parse.h"
#include "base/banned.h"

#define MAX_CONNS 256

static const char http_reply[] =
	"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
	"Connection: close\r\n\r\n";

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_CONNS + 1];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	const char *mode, *addr = "127.0.0.1:0";
	char host[256] = "", line[300];
	uint16_t port = 0;
	int has_port, lfd, one = 1, ready = -1, n = 1, http;
	struct vb_err e;

	if (argc < 2) {
		fputs("usage: fake-server silent|http [--addr A] [--ready-fd N]\n",
		      stderr);
		return 2;
	}
	mode = argv[1];
	http = strcmp(mode, "http") == 0;
	if (!http && strcmp(mode, "silent") != 0) {
		fprintf(stderr, "fake-server: unknown mode '%s'\n", mode);
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
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
			if (r > 0 && !http)
				continue; /* silent: swallow it */
			if (r > 0 && write(pfd[i].fd, http_reply,
					   sizeof(http_reply) - 1) < 0)
				r = 0;
			close(pfd[i].fd);
			pfd[i] = pfd[--n];
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && n <= MAX_CONNS) {
				pfd[n].fd = fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				n++;
			} else if (fd >= 0)
				close(fd);
		}
	}
}
