/* sock.c - socket addresses and listening sockets (sock.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/parse.h"
#include "net/sock.h"
#include "base/banned.h"

int vb_sockaddr_parts(const struct sockaddr *sa, char *ip, size_t ipsz,
		      uint16_t *port)
{
	snprintf(ip, ipsz, "?");
	*port = 0;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)ipsz);
		*port = ntohs(s6->sin6_port);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)ipsz);
		*port = ntohs(s4->sin_port);
	}
	return sa->sa_family;
}

/*
 * "unix:PATH", "unix:@NAME" for an abstract name (the kernel's autobind
 * gives 5 hex digits), "unix:" when unnamed.  The storage was zeroed
 * before the kernel filled it: a name ends at its first NUL.
 */
static void unix_str(const struct sockaddr_un *su, char *buf, size_t size)
{
	const char *p = su->sun_path;
	size_t max = sizeof(su->sun_path);

	if (p[0])
		snprintf(buf, size, "unix:%.*s", (int)strnlen(p, max), p);
	else
		snprintf(buf, size, "unix:%s%.*s", p[1] ? "@" : "",
			 (int)strnlen(p + 1, max - 1), p + 1);
}

void vb_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;

	if (vb_sockaddr_parts(sa, ip, sizeof(ip), &port) == AF_INET6)
		snprintf(buf, size, "[%s]:%u", ip, port);
	else if (sa->sa_family == AF_INET)
		snprintf(buf, size, "%s:%u", ip, port);
	else if (sa->sa_family == AF_UNIX)
		unix_str((const void *)sa, buf, size);
	else
		snprintf(buf, size, "?");
}

void vb_sockaddr_host(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;

	if (vb_sockaddr_parts(sa, ip, sizeof(ip), &port) == AF_INET6)
		snprintf(buf, size, "[%s]", ip);
	else if (sa->sa_family == AF_UNIX)
		snprintf(buf, size, "unix");
	else
		snprintf(buf, size, "%s", ip);
}

int vb_net_listen(const char *addr, const char *what, int any_port, int backlog,
		  struct vb_err *e)
{
	const char *sp = *what ? " " : "";
	char host[256], port[8];
	struct addrinfo hints, *ai = NULL;
	uint16_t pn;
	int one = 1, has_port, rc, fd;

	if (vb_addr_split(addr, host, sizeof(host), &pn, &has_port, e) < 0)
		return -1;
	if (!has_port || host[0] == 0)
		return vb_err_set(e, VB_E_USAGE,
				  "%s%saddress '%s': expected HOST:PORT", what,
				  sp, addr);
	snprintf(port, sizeof(port), "%u", any_port ? 0 : pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return vb_err_set(e, VB_E_USAGE, "%s%saddress '%s': %s", what,
				  sp, addr, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return vb_err_sys(e, VB_E_IO, "socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, backlog) < 0) {
		int sys = errno;

		freeaddrinfo(ai);
		close(fd);
		errno = sys;
		return vb_err_sys(e, sys == EADDRINUSE ? VB_E_STATE : VB_E_IO,
				  "cannot listen %s%s%son %s",
				  *what ? "for " : "", what, sp, addr);
	}
	freeaddrinfo(ai);
	return fd;
}

int vb_net_local(int fd, char *ip, size_t ipsz, uint16_t *port,
		 struct vb_err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return vb_err_sys(e, VB_E_IO, "getsockname");
	return vb_sockaddr_parts((struct sockaddr *)&ss, ip, ipsz, port);
}

static int unix_addr(struct sockaddr_un *su, const char *path, struct vb_err *e)
{
	memset(su, 0, sizeof(*su));
	su->sun_family = AF_UNIX;
	if (strlcpy(su->sun_path, path, sizeof(su->sun_path)) >=
	    sizeof(su->sun_path))
		return vb_err_set(e, VB_E_USAGE,
				  "%s: too long for a socket (at most %zu "
				  "bytes)",
				  path, sizeof(su->sun_path) - 1);
	return 0;
}

void vb_net_unix_buffers(int fd)
{
	int sz = VB_NET_UNIX_SNDBUF;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

int vb_net_listen_unix(const char *path, int backlog, struct vb_err *e)
{
	struct sockaddr_un su;
	struct stat st;
	int fd;

	if (unix_addr(&su, path, e))
		return -1;
	/* a socket left by a server that is gone (the caller owns the dir) */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0)
		return vb_err_sys(e, VB_E_IO, "cannot remove %s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vb_err_sys(e, VB_E_IO, "socket");
	if (bind(fd, (struct sockaddr *)&su, sizeof(su)) < 0 ||
	    listen(fd, backlog) < 0) {
		int sys = errno;

		close(fd);
		errno = sys;
		return vb_err_sys(e, sys == EADDRINUSE ? VB_E_STATE : VB_E_IO,
				  "cannot listen on %s", path);
	}
	return fd;
}

int vb_net_connect_unix(const char *path)
{
	struct sockaddr_un su;
	/* autobind: a name of its own, which the server sees as the peer's */
	sa_family_t fam = AF_UNIX;
	struct vb_err e;
	int fd;

	if (unix_addr(&su, path, &e)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	vb_net_unix_buffers(fd);
	if (bind(fd, (struct sockaddr *)&fam, sizeof(fam)) < 0 ||
	    connect(fd, (struct sockaddr *)&su, sizeof(su)) < 0) {
		int sys = errno;

		close(fd);
		errno = sys;
		return -1;
	}
	return fd;
}
