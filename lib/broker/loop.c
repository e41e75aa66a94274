/* The event loop: listener, signals, timer, connections and framing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/parse.h"
#include "broker/broker.h"
#include "base/banned.h"

/* epoll tags for the non-connection descriptors. */
static char tag_listen, tag_signal, tag_timer;

void vb_broker_log(struct vb_broker *b, const char *fmt, ...)
{
	char line[1200];
	va_list ap;

	if (b->o.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->o.log(b->o.log_arg, line);
}

static void store_notice(void *arg, const char *msg)
{
	vb_broker_log(arg, "recovery: %s", msg);
}

int vb_broker_open(struct vb_broker **bp, const struct vb_broker_opts *o,
		   struct vb_err *e)
{
	struct vb_broker *b = vb_xcalloc(1, sizeof(*b));
	struct vb_buf clean = VB_BUF_INIT;
	const char *path;
	sigset_t set;

	b->o = *o;
	b->dir = vb_xstrdup(o->dir);
	b->epfd = b->lfd = b->sigfd = b->timerfd = -1;
	b->start_time = vb_wall_us();
	vb_buf_init(&b->tmp);
	vb_syncer_init(&b->sync, o->fsync, o->fsync_ms);
	b->store.sync = &b->sync;
	b->store.segment_size = o->segment_size ? o->segment_size
						: VB_SEG_DEFAULT_SIZE;
	b->store.notice = store_notice;
	b->store.notice_arg = b;
	path = vb_path_fmt(&clean, "%s/clean", b->dir);
	b->store.clean = access(path, F_OK) == 0;
	if (vb_meta_load(b, e) < 0)
		goto fail;
	if (vb_users_ensure_root(b, o->root_user, o->root_pass, e) < 0)
		goto fail;
	/* From now on a crash is not a clean shutdown. */
	if (b->store.clean) {
		if (unlink(path) < 0 && errno != ENOENT) {
			vb_err_sys(e, VB_E_IO, "cannot remove %s", path);
			goto fail;
		}
		if (vb_path_fsync_dir(b->dir, e) < 0)
			goto fail;
	}
	vb_buf_release(&clean);
	/* Blocked before the fsync thread exists, so it inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (vb_syncer_start(&b->sync, e) < 0)
		goto fail;
	b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->timerfd = timerfd_create(CLOCK_MONOTONIC,
				    TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->sigfd < 0 || b->epfd < 0 || b->timerfd < 0) {
		vb_err_sys(e, VB_E_IO, "cannot set up the event loop");
		goto fail;
	}
	*bp = b;
	return 0;
fail:
	vb_buf_release(&clean);
	vb_broker_close(b, NULL);
	return -1;
}

static int ep_add(struct vb_broker *b, int fd, uint32_t ev, void *tag)
{
	struct epoll_event ee = { .events = ev, .data.ptr = tag };

	return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ee);
}

int vb_broker_listen(struct vb_broker *b, const char *addr, struct vb_err *e)
{
	char host[256], port[8];
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint16_t pn;
	int one = 1, has_port, rc;

	if (vb_addr_split(addr, host, sizeof(host), &pn, &has_port, e) < 0)
		return -1;
	if (!has_port || host[0] == 0)
		return vb_err_set(e, VB_E_USAGE, "address '%s': expected HOST:PORT",
				  addr);
	snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return vb_err_set(e, VB_E_USAGE, "address '%s': %s", addr,
				  gai_strerror(rc));
	b->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			SOCK_CLOEXEC, 0);
	if (b->lfd < 0) {
		freeaddrinfo(ai);
		return vb_err_sys(e, VB_E_IO, "socket");
	}
	setsockopt(b->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(b->lfd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(b->lfd, 512) < 0) {
		int sys = errno;

		freeaddrinfo(ai);
		close(b->lfd);
		b->lfd = -1;
		errno = sys;
		return vb_err_sys(e, sys == EADDRINUSE ? VB_E_STATE : VB_E_IO,
				  "cannot listen on %s", addr);
	}
	freeaddrinfo(ai);
	if (getsockname(b->lfd, (struct sockaddr *)&ss, &sl) < 0)
		return vb_err_sys(e, VB_E_IO, "getsockname");
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, b->ip, sizeof(b->ip));
		b->port = ntohs(s6->sin6_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, b->ip, sizeof(b->ip));
		b->port = ntohs(s4->sin_port);
	}
	return 0;
}

/* ---- connections ---- */

static void conn_events(struct vb_broker *b, struct vb_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event ee;

	if (!c->closing && c->pending < VB_OUT_HIGH)
		ev |= EPOLLIN;
	if (c->qn > 0)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	ee.events = ev;
	ee.data.ptr = c;
	epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ee);
	c->events = ev;
}

static void q_push(struct vb_conn *c, struct vb_file *f, uint64_t off,
		   uint64_t len)
{
	struct vb_outitem *it;

	if (f == NULL && c->qn > 0) {
		it = &c->q[(c->qhead + c->qn - 1) % c->qcap];
		if (it->f == NULL) {
			it->len += len;
			c->pending += len;
			return;
		}
	}
	if (c->qn == c->qcap) {
		size_t ncap = vb_alloc_nr(c->qcap, c->qn + 1, VB_ALLOC_FIRST);
		struct vb_outitem *nq = vb_xreallocarray(NULL, ncap,
							 sizeof(*nq));

		for (size_t i = 0; i < c->qn; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qcap = ncap;
		c->qhead = 0;
	}
	it = &c->q[(c->qhead + c->qn) % c->qcap];
	it->f = f;
	it->off = off;
	it->len = len;
	c->qn++;
	c->pending += len;
}

void vb_conn_commit(struct vb_conn *c)
{
	if (c->out.len > c->out_acc) {
		q_push(c, NULL, 0, c->out.len - c->out_acc);
		c->out_acc = c->out.len;
	}
}

void vb_conn_queue_file(struct vb_conn *c, struct vb_file *f, uint64_t off,
			uint64_t len)
{
	vb_conn_commit(c);
	if (len)
		q_push(c, vb_file_ref(f), off, len);
}

/* Writes what the socket takes.  -1: the connection is dead. */
static int conn_flush(struct vb_conn *c)
{
	while (c->qn > 0) {
		struct vb_outitem *it = &c->q[c->qhead];
		ssize_t n;

		if (it->f == NULL) {
			int more = c->qn > 1 ? MSG_MORE : 0;

			n = send(c->fd, c->out.p + c->out_pos, it->len,
				 MSG_NOSIGNAL | MSG_DONTWAIT | more);
		} else {
			off_t off = (off_t)it->off;
			size_t chunk = it->len > (1u << 30) ? (1u << 30)
							    : it->len;

			n = sendfile(c->fd, it->f->fd, &off, chunk);
			if (n == 0)
				return -1;	/* the file shrank */
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		it->len -= (uint64_t)n;
		c->pending -= (uint64_t)n;
		if (it->f == NULL)
			c->out_pos += (size_t)n;
		else
			it->off += (uint64_t)n;
		if (it->len == 0) {
			vb_file_unref(it->f);
			c->qhead = (c->qhead + 1) % c->qcap;
			c->qn--;
		}
	}
	/* Everything sent: the byte buffer starts over. */
	c->out.len = c->out_pos = c->out_acc = 0;
	if (c->out.cap > (4u << 20))
		vb_buf_release(&c->out);
	return 0;
}

static void conn_free(struct vb_broker *b, struct vb_conn *c)
{
	vb_groups_conn_gone(b, c);
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while (c->qn > 0) {
		vb_file_unref(c->q[c->qhead].f);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qn--;
	}
	free(c->q);
	free(c->groups);
	vb_v09_conn_free(c);
	vb_buf_release(&c->in);
	vb_buf_release(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	b->nconns--;
	free(c);
}

static void conn_accept(struct vb_broker *b)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[INET6_ADDRSTRLEN] = "?";
		uint16_t port = 0;
		struct vb_conn *c;
		int fd, one = 1;

		fd = accept4(b->lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				vb_broker_log(b, "accept: %s", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = vb_xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->user_id = VB_NO_USER;
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			port = ntohs(s6->sin6_port);
			snprintf(c->addr, sizeof(c->addr), "[%s]:%u", ip, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			port = ntohs(s4->sin_port);
			snprintf(c->addr, sizeof(c->addr), "%s:%u", ip, port);
		}
		c->client_id = vb_xxh32(c->addr, strlen(c->addr));
		c->events = EPOLLIN;
		if (ep_add(b, fd, EPOLLIN, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->nconns++;
	}
}

/* A framing error: answer status, then close once it is sent. */
static void frame_fatal(struct vb_conn *c, uint32_t status)
{
	vb_reply_err(c, status);
	vb_conn_commit(c);
	c->closing = 1;
}

static int needs_login(uint32_t code)
{
	return code != VB_CMD_PING && code != VB_CMD_LOGIN_USER &&
	       code != VB_CMD_LOGIN_PAT;
}

/*
 * The framing of a connection, from its first 4 bytes: a 0.8 frame starts
 * with its length (at least 4), a 0.9 request with its checksum field,
 * which clients leave 0 (framing.md §2).  0 while fewer have arrived.
 */
static unsigned conn_gen(const uint8_t *p, size_t avail)
{
	if (avail < 4)
		return 0;
	return vb_ld32(p) == 0 ? VB_GEN_09 : VB_GEN_08;
}

/* Size of the 0.9 frame at p (its header there), 0 if not known yet. */
static uint32_t v09_size(const uint8_t *p, size_t avail)
{
	return avail < VB_VSR_HDR ? 0 : vb_ld32(p + 48);
}

/* The 0.9 frames: a size out of bounds closes without an answer (§1). */
static int conn_process_v09(struct vb_broker *b, struct vb_conn *c)
{
	size_t avail = c->in.len - c->in_pos;
	uint8_t *h = c->in.p + c->in_pos;
	uint32_t size = v09_size(h, avail);
	uint64_t limit = c->bound ? VB_VSR_FRAME_MAX
				  : VB_VSR_HDR + VB_PREAUTH_MAX;

	if (size == 0)
		return 0;
	if (size < VB_VSR_HDR || size > limit) {
		c->closing = 1;
		return 0;
	}
	if (avail < size)
		return 0;
	vb_v09_dispatch(b, c, h, size);
	vb_conn_commit(c);
	c->in_pos += size;
	return 1;
}

/* Runs every whole frame in the input buffer. */
static void conn_process(struct vb_broker *b, struct vb_conn *c)
{
	while (!c->closing && c->pending < VB_OUT_HIGH) {
		size_t avail = c->in.len - c->in_pos;
		uint8_t *h = c->in.p + c->in_pos;
		uint32_t length, code, limit;

		if (c->gen == 0)
			c->gen = conn_gen(h, avail);
		if (c->gen == VB_GEN_09) {
			if (!conn_process_v09(b, c))
				break;
			continue;
		}
		if (avail < VB_REQ_HDR)
			break;
		vb_wire_req_hdr(h, &length, &code);
		if (length < 4) {
			frame_fatal(c, VB_ST_INVALID_COMMAND);
			break;
		}
		if (c->user_id == VB_NO_USER)
			limit = VB_PREAUTH_MAX;
		else if (code == VB_CMD_SEND_MESSAGES)
			limit = VB_SEND_MAX;
		else
			limit = VB_CONTROL_MAX;
		if (length - 4 > limit) {
			frame_fatal(c, c->user_id == VB_NO_USER &&
					       needs_login(code) &&
					       vb_cmd_name(code)
					       ? VB_ST_UNAUTHENTICATED
					       : VB_ST_INVALID_COMMAND);
			break;
		}
		if (avail - VB_REQ_HDR < length - 4)
			break;
		vb_broker_dispatch(b, c, code, h + VB_REQ_HDR, length - 4);
		vb_conn_commit(c);
		c->in_pos += VB_REQ_HDR + (size_t)length - 4;
	}
	if (c->in_pos == c->in.len) {
		c->in.len = c->in_pos = 0;
		if (c->in.cap > (8u << 20))
			vb_buf_release(&c->in);
	} else if (c->in_pos > 0 && !c->closing) {
		memmove(c->in.p, c->in.p + c->in_pos, c->in.len - c->in_pos);
		c->in.len -= c->in_pos;
		c->in_pos = 0;
	}
}

/* Bytes still missing for the frame at the head of the input buffer. */
static size_t frame_missing(const struct vb_conn *c)
{
	size_t avail = c->in.len - c->in_pos;
	uint32_t length, code;

	if (c->gen == VB_GEN_09) {
		uint32_t size = v09_size(c->in.p + c->in_pos, avail);

		if (size == 0)
			return VB_VSR_HDR - avail;
		return size > avail ? size - avail : 0;
	}
	if (avail < VB_REQ_HDR)
		return VB_REQ_HDR - avail;
	vb_wire_req_hdr(c->in.p + c->in_pos, &length, &code);
	if ((uint64_t)length + 4 <= avail)
		return 0;
	return (size_t)length + 4 - avail;
}

/* Reads what is there.  -1: close the connection now. */
static int conn_read(struct vb_broker *b, struct vb_conn *c)
{
	for (int round = 0; round < 8; round++) {
		size_t want = frame_missing(c), room;
		ssize_t n;

		if (c->closing || c->pending >= VB_OUT_HIGH)
			return 0;
		/*
		 * Lengths were checked against the limits in conn_process;
		 * memory still grows only as the bytes arrive (4 MiB at a
		 * time), so a header alone cannot make it allocate 256 MiB.
		 */
		room = want < 65536 ? 65536 : want > (4u << 20) ? (4u << 20)
								 : want;
		vb_buf_reserve(&c->in, room);
		room = c->in.cap - c->in.len - 1;
		n = read(c->fd, c->in.p + c->in.len, room);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->in.len += (size_t)n;
		conn_process(b, c);
		if ((size_t)n < room)
			return 0;
	}
	return 0;
}

static void conn_event(struct vb_broker *b, struct vb_conn *c, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (!c->closing && c->pending < VB_OUT_HIGH &&
		    conn_read(b, c) < 0) {
			conn_free(b, c);
			return;
		}
	}
	if (c->qn > 0 && conn_flush(c) < 0) {
		conn_free(b, c);
		return;
	}
	if (c->closing && c->qn == 0) {
		conn_free(b, c);
		return;
	}
	/* Output drained below the mark: run frames left in the buffer. */
	if (!c->closing && c->pending < VB_OUT_HIGH && c->in.len > c->in_pos &&
	    frame_missing(c) == 0) {
		conn_process(b, c);
		if (c->qn > 0 && conn_flush(c) < 0) {
			conn_free(b, c);
			return;
		}
	}
	if (c->closing && c->qn == 0) {
		conn_free(b, c);
		return;
	}
	conn_events(b, c);
}

static void on_signal(struct vb_broker *b)
{
	struct signalfd_siginfo si;

	while (read(b->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!b->stopping)
			vb_broker_log(b, "signal %u from pid %u: shutting down",
				      si.ssi_signo, si.ssi_pid);
		b->stopping = 1;
	}
}

static void on_timer(struct vb_broker *b)
{
	uint64_t ticks, now, every = (uint64_t)(b->o.cleaner_ms ? b->o.cleaner_ms
						      : 1000) * 1000u;

	if (read(b->timerfd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return;
	now = vb_wall_us();
	/* the timer ticks each second at most; half a tick of slack */
	if (every <= 1000000u || now - b->cleaned_us + 500000u >= every) {
		b->cleaned_us = now;
		vb_broker_retention(b);
	}
	vb_groups_tick(b);
	for (struct vb_conn *c = b->conns; c; c = c->next)
		if (vb_v09_stale(b, c, vb_mono_ms()))
			conn_events(b, c);
}

/* Stops accepting; tells every client (status 8); gives them a moment. */
static void shutdown_conns(struct vb_broker *b)
{
	uint64_t deadline = vb_wall_us() + 2000000u;

	if (b->lfd >= 0) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->lfd, NULL);
		close(b->lfd);
		b->lfd = -1;
	}
	for (struct vb_conn *c = b->conns, *n; c; c = n) {
		n = c->next;
		vb_reply_err(c, VB_ST_DISCONNECTED);
		vb_conn_commit(c);
		c->closing = 1;
		conn_event(b, c, 0);
	}
	while (b->conns && vb_wall_us() < deadline) {
		struct epoll_event evs[64];
		int n = epoll_wait(b->epfd, evs, 64, 100);

		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_signal || tag == &tag_timer ||
			    tag == &tag_listen)
				continue;
			conn_event(b, tag, evs[i].events);
		}
	}
	while (b->conns)
		conn_free(b, b->conns);
}

int vb_broker_run(struct vb_broker *b, struct vb_err *e)
{
	struct itimerspec its;
	/* retention every cleaner_ms, revocation timeouts at least each second */
	unsigned ms = b->o.cleaner_ms && b->o.cleaner_ms < 1000 ? b->o.cleaner_ms
								: 1000;

	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = ms / 1000;
	its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(b->timerfd, 0, &its, NULL) < 0 ||
	    ep_add(b, b->lfd, EPOLLIN, &tag_listen) < 0 ||
	    ep_add(b, b->sigfd, EPOLLIN, &tag_signal) < 0 ||
	    ep_add(b, b->timerfd, EPOLLIN, &tag_timer) < 0)
		return vb_err_sys(e, VB_E_IO, "epoll");
	b->cleaned_us = vb_wall_us();
	vb_broker_log(b, "listening on %s:%u, data dir %s", b->ip, b->port,
		      b->dir);
	while (!b->stopping) {
		struct epoll_event evs[128];
		int n = epoll_wait(b->epfd, evs, 128, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vb_err_sys(e, VB_E_IO, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_listen)
				conn_accept(b);
			else if (tag == &tag_signal)
				on_signal(b);
			else if (tag == &tag_timer)
				on_timer(b);
		}
		/* Connections after the others: a freed one is not reused. */
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_listen || tag == &tag_signal ||
			    tag == &tag_timer)
				continue;
			conn_event(b, tag, evs[i].events);
		}
	}
	shutdown_conns(b);
	return 0;
}

struct sync_all {
	struct vb_err *e;
	int rc;
};

static void sync_topic(struct vb_broker *b, struct vb_topic *t, void *arg)
{
	struct sync_all *sa = arg;

	for (uint32_t pi = 0; pi < t->nparts; pi++)
		if (vb_part_sync(t->parts[pi], sa->e) < 0)
			sa->rc = -1;
}

int vb_broker_close(struct vb_broker *b, struct vb_err *e)
{
	struct vb_err tmp;
	int rc = 0, opened = b->epfd >= 0;

	if (e == NULL)
		e = &tmp;
	while (b->conns)
		conn_free(b, b->conns);
	/* Everything acknowledged becomes durable, whatever the policy. */
	if (opened) {
		struct sync_all sa = { e, 0 };

		vb_each_topic(b, sync_topic, &sa);
		rc = sa.rc;
	}
	if (vb_syncer_flush(&b->sync, e) < 0)
		rc = -1;
	vb_syncer_release(&b->sync);
	if (opened && rc == 0) {
		struct vb_buf path = VB_BUF_INIT;

		if (vb_path_replace(vb_path_fmt(&path, "%s/clean", b->dir),
				    "clean\n", 6, 0600, 1, e) < 0)
			rc = -1;
		vb_buf_release(&path);
	}
	for (uint32_t si = 0; si < b->streams.n; si++) {
		struct vb_stream *s = vb_slab_get(&b->streams, si);

		for (uint32_t ti = 0; s && ti < s->topics.n; ti++) {
			struct vb_topic *t = vb_slab_get(&s->topics, ti);

			if (t == NULL)
				continue;
			for (uint32_t gi = 0; gi < t->groups.n; gi++)
				vb_group_free(vb_slab_get(&t->groups, gi));
			vb_slab_release(&t->groups);
			for (uint32_t pi = 0; pi < t->nparts; pi++)
				vb_part_free(t->parts[pi]);
			free(t->parts);
			free(t);
		}
		if (s)
			vb_slab_release(&s->topics);
		free(s);
	}
	vb_slab_release(&b->streams);
	for (uint32_t ui = 0; ui < b->users.n; ui++)
		vb_user_free(vb_slab_get(&b->users, ui));
	vb_slab_release(&b->users);
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->sigfd >= 0)
		close(b->sigfd);
	if (b->timerfd >= 0)
		close(b->timerfd);
	if (b->epfd >= 0)
		close(b->epfd);
	vb_buf_release(&b->tmp);
	free(b->dir);
	free(b);
	return rc;
}
