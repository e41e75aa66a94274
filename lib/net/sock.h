/*
 * sock.h - socket addresses and listening sockets, for the server's two
 * listeners (Iggy TCP, HTTP), its accepted connections and the client.
 */
#ifndef VB_NET_SOCK_H
#define VB_NET_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"

/*
 * The parts of an IPv4 or IPv6 socket address: the bare IP ("::1", no
 * brackets) and the port; "?" and 0 for another family.  Returns the
 * family.
 */
int vb_sockaddr_parts(const struct sockaddr *sa, char *ip, size_t ipsz,
		      uint16_t *port);
/*
 * "ip:port", or "[ip]:port" for IPv6 (as upstream shows a client);
 * "unix:PATH", "unix:@NAME" (abstract) or "unix:" (unnamed) for a local
 * socket, whose storage was zeroed before the kernel filled it.
 */
void vb_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size);
/* The IP as an address shows it: "ip", or "[ip]" for IPv6; "unix". */
void vb_sockaddr_host(const struct sockaddr *sa, char *buf, size_t size);

/*
 * A non-blocking listening socket (SO_REUSEADDR, close-on-exec) on addr
 * ("HOST:PORT", "[v6]:PORT"), or on a port of the kernel's choice with
 * any_port.  `what` names the listener in errors ("" for the Iggy port:
 * "address 'X': ...", "cannot listen on X"; "HTTP": "HTTP address 'X':
 * ...", "cannot listen for HTTP on X").  Returns the descriptor, or -1
 * with VB_E_USAGE (the address), VB_E_STATE (in use) or VB_E_IO.
 */
int vb_net_listen(const char *addr, const char *what, int any_port, int backlog,
		  struct vb_err *e);
/*
 * A non-blocking listening local socket at path (close-on-exec), which
 * replaces a socket left there; the caller owns the directory.  Returns
 * the descriptor, or -1 with VB_E_USAGE (path too long), VB_E_STATE or
 * VB_E_IO.
 */
int vb_net_listen_unix(const char *path, int backlog, struct vb_err *e);
/*
 * A non-blocking connection to the local socket at path, bound first to
 * a name the kernel picks (so the server tells it from others and the
 * client knows its name).  Returns the descriptor, or -1 with errno.
 */
int vb_net_connect_unix(const char *path);
/*
 * A local stream socket's writes are bounded by its send buffer alone
 * (212992 bytes by default, against TCP's up to 4 MiB): the size asked
 * for both ends, as far as net.core.wmem_max allows.
 */
#define VB_NET_UNIX_SNDBUF (4 << 20)
void vb_net_unix_buffers(int fd);
/* Where fd is bound: bare IP and port; returns the family, -1 with e. */
int vb_net_local(int fd, char *ip, size_t ipsz, uint16_t *port,
		 struct vb_err *e);

#endif
