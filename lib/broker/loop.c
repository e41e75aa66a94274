/*
 * The event loop: listener, signals, timers, connections; the limits on
 * connections, input and output (guard.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
#include "net/sock.h"
#include "base/banned.h"

/* epoll tags for the non-connection descriptors. */
static char tag_listen, tag_ulisten, tag_signal, tag_timer, tag_auth, tag_wake,
	tag_sync;
static char tag_wait;

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
	b->epfd = b->lfd = b->ufd = b->sigfd = b->timerfd = b->g.wakefd = -1;
	b->waitfd = -1;
	b->start_time = vb_wall_us();
	vb_buf_init(&b->tmp);
	vb_metrics_init(&b->metrics);
	vb_syncer_init(&b->sync, o->fsync, o->fsync_ms);
	b->store.sync = &b->sync;
	b->store.segment_size = o->segment_size ? o->segment_size :
						  VB_SEG_DEFAULT_SIZE;
	b->store.open_max = o->open_segments;
	b->store.index_cache = o->index_cache;
	b->store.notice = store_notice;
	b->store.notice_arg = b;
	path = vb_path_fmt(&clean, "%s/clean", b->dir);
	b->store.clean = access(path, F_OK) == 0;
	/* No frame may be larger than all the input there may be. */
	if (b->o.lim.max_input < VB_MIN_MAX_INPUT)
		b->o.lim.max_input = VB_MIN_MAX_INPUT;
	b->g.frames.preauth = VB_PREAUTH_MAX;
	b->g.frames.control = VB_CONTROL_MAX;
	b->g.frames.send = VB_SEND_MAX;
	if (b->g.frames.control > b->o.lim.max_input - VB_REQ_HDR)
		b->g.frames.control = (uint32_t)(b->o.lim.max_input -
						 VB_REQ_HDR);
	if (b->g.frames.send > b->o.lim.max_input - VB_REQ_HDR)
		b->g.frames.send = (uint32_t)(b->o.lim.max_input - VB_REQ_HDR);
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
	if (vb_broker_tls_open(b, e) < 0 || vb_syncer_start(&b->sync, e) < 0 ||
	    vb_auth_open(b, e) < 0)
		goto fail;
	b->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	b->timerfd = timerfd_create(CLOCK_MONOTONIC,
				    TFD_NONBLOCK | TFD_CLOEXEC);
	b->g.wakefd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	b->waitfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->sigfd < 0 || b->epfd < 0 || b->timerfd < 0 || b->g.wakefd < 0 ||
	    b->waitfd < 0) {
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
	b->lfd = vb_net_listen(addr, "", 0, 512, e);
	if (b->lfd < 0)
		return -1;
	return vb_net_local(b->lfd, b->ip, sizeof(b->ip), &b->port, e) < 0 ?
		       -1 :
		       0;
}

int vb_broker_listen_unix(struct vb_broker *b, const char *path,
			  struct vb_err *e)
{
	b->ufd = vb_net_listen_unix(path, 512, e);
	if (b->ufd < 0)
		return -1;
	b->unix_path = vb_xstrdup(path);
	return 0;
}

/* The listeners in the epoll set (add) or out of it; -1 on a failed add. */
static int listeners(struct vb_broker *b, int add)
{
	const struct {
		int fd;
		void *tag;
	} l[] = { { b->lfd, &tag_listen }, { b->ufd, &tag_ulisten } };

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		struct epoll_event ee = { .events = EPOLLIN,
					  .data.ptr = l[i].tag };

		if (l[i].fd < 0)
			continue;
		if (!add)
			epoll_ctl(b->epfd, EPOLL_CTL_DEL, l[i].fd, NULL);
		else if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, l[i].fd, &ee) < 0)
			return -1;
	}
	return 0;
}

/* Closes the listeners; the local socket's name goes with it. */
static void listeners_close(struct vb_broker *b)
{
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->ufd >= 0) {
		close(b->ufd);
		unlink(b->unix_path);
	}
	b->lfd = b->ufd = -1;
}

/* ---- parked waiting polls: a heap by deadline ---- */

static int park_less(const struct vb_conn *x, const struct vb_conn *y)
{
	return x->park_deadline < y->park_deadline;
}

static void park_set(struct vb_broker *b, size_t i, struct vb_conn *c)
{
	b->parked[i] = c;
	c->park_idx = i;
}

static void park_sift(struct vb_broker *b, size_t i)
{
	struct vb_conn *c = b->parked[i];

	while (i > 0 && park_less(c, b->parked[(i - 1) / 2])) {
		park_set(b, i, b->parked[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= b->nparked)
			break;
		if (k + 1 < b->nparked &&
		    park_less(b->parked[k + 1], b->parked[k]))
			k++;
		if (!park_less(b->parked[k], c))
			break;
		park_set(b, i, b->parked[k]);
		i = k;
	}
	park_set(b, i, c);
}

static void park_add(struct vb_broker *b, struct vb_conn *c)
{
	if (c->parked)
		return;
	VB_ALLOC_GROW(b->parked, b->nparked + 1, b->parked_cap);
	c->parked = 1;
	park_set(b, b->nparked++, c);
	park_sift(b, c->park_idx);
}

static void park_del(struct vb_broker *b, struct vb_conn *c)
{
	size_t i = c->park_idx;

	if (!c->parked)
		return;
	c->parked = 0;
	if (--b->nparked > i) {
		park_set(b, i, b->parked[b->nparked]);
		park_sift(b, i);
	}
}

/* The one timer of the parked polls: set for the earliest deadline. */
static void park_arm(struct vb_broker *b)
{
	int64_t at = b->nparked ? b->parked[0]->park_deadline : 0;
	struct itimerspec its;

	if (at == b->wait_armed)
		return;
	memset(&its, 0, sizeof(its));
	if (at) {
		its.it_value.tv_sec = at / 1000000;
		its.it_value.tv_nsec = (long)(at % 1000000) * 1000L;
	}
	timerfd_settime(b->waitfd, at ? TFD_TIMER_ABSTIME : 0, &its, NULL);
	b->wait_armed = at;
}

/* ---- connections ---- */

/*
 * May c's requests run now?  Not while it closes, while its unsent
 * replies are over --max-output (backpressure), or while it waits for a
 * login's answer (its replies keep their order), or while a waiting poll
 * of it is parked (its frame runs again when woken).
 */
static int conn_can_run(const struct vb_broker *b, const struct vb_conn *c)
{
	return !c->closing && !c->parked && c->pending < b->o.lim.max_output &&
	       c->login == NULL;
}

/*
 * And may it be read?  Not either while the input budget is spent, nor
 * while a whole frame waits in its buffer: what is held is then at most
 * one frame and one receive, however slowly its replies go out.
 */
static int conn_can_read(const struct vb_broker *b, const struct vb_conn *c)
{
	return conn_can_run(b, c) && !c->starved &&
	       vb_frames_missing(&c->in) > 0;
}

static void conn_events(struct vb_broker *b, struct vb_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event ee;

	if (c->tr.handshaking)
		/* what OpenSSL waits for; a connection closing goes at once */
		ev = c->tr.want == POLLOUT || c->closing ? EPOLLOUT : EPOLLIN;
	else if (c->parked)
		/* parked: nothing is read, but a peer that goes is seen */
		ev |= EPOLLRDHUP;
	else if (conn_can_read(b, c))
		ev |= EPOLLIN;
	if ((c->qn > 0 && !c->held) || c->tr.want_out)
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
			n = vb_tr_write(&c->tr, c->out.p + c->out_pos, it->len,
					c->qn > 1);
		} else {
			n = vb_tr_sendfile(&c->tr, it->f->fd, it->off, it->len);
			if (n == 0)
				return -1; /* the file shrank */
		}
		if (n < 0) {
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

/* c's input held changed: the total of every connection follows. */
static void in_sync(struct vb_broker *b, struct vb_conn *c)
{
	size_t held = vb_frames_pending(&c->in);

	b->g.in_total = b->g.in_total - c->in_held + held;
	c->in_held = held;
}

/* Is c one of the g.nunauth connections not logged in? */
static int conn_unauth(const struct vb_conn *c)
{
	return c->user_id == VB_NO_USER && !c->dismissed;
}

void vb_conn_set_user(struct vb_broker *b, struct vb_conn *c, uint32_t id)
{
	int was = conn_unauth(c);

	c->user_id = id;
	if (was && !conn_unauth(c))
		b->g.nunauth--;
	else if (!was && conn_unauth(c))
		b->g.nunauth++;
}

static void conn_free(struct vb_broker *b, struct vb_conn *c)
{
	park_del(b, c);
	vb_broker_conn_gone(b, c);
	vb_auth_conn_gone(b, c);
	vb_groups_conn_gone(b, c);
	if (conn_unauth(c))
		b->g.nunauth--;
	vb_frames_compact(&c->in);
	vb_frames_release(&c->in);
	in_sync(b, c);
	if (c->starved)
		b->g.nstarved--;
	vb_conn_tls_defer(b, c, 0);
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	vb_tr_close(&c->tr);
	while (c->qn > 0) {
		vb_file_unref(c->q[c->qhead].f);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qn--;
	}
	free(c->q);
	free(c->groups);
	vb_v09_conn_free(c);
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

/* ---- accepting, within the limits ---- */

#define ACCEPT_PAUSE_US 250000

/*
 * A limit's log line, unless one was written less than VB_LOG_EVERY_US
 * ago (then it is counted, and the next line says how many were not).
 */
static void guard_log(struct vb_broker *b, struct vb_ratelog *r, int64_t now,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void guard_log(struct vb_broker *b, struct vb_ratelog *r, int64_t now,
		      const char *fmt, ...)
{
	char line[800];
	uint64_t skipped;
	va_list ap;

	if (!vb_ratelog_event(r, now, VB_LOG_EVERY_US, &skipped))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (skipped)
		vb_broker_log(b, "%s (%" PRIu64 " more before it not logged)",
			      line, skipped);
	else
		vb_broker_log(b, "%s", line);
}

/*
 * A connection turned away: status 8 (Disconnected), closed (on a TLS
 * port, closed only: a plain answer would be no TLS).
 */
static void refuse(const struct vb_broker *b, int fd)
{
	uint8_t f[8], junk[4096];

	if (b->tls.ctx) {
		close(fd);
		return;
	}
	vb_st32(f, VB_ST_DISCONNECTED);
	vb_st32(f + 4, 0);
	/*
	 * Unread bytes would make the close a reset, which may lose the
	 * answer: what came with the connection is read (a little only).
	 */
	if (send(fd, f, sizeof(f), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		for (int i = 0; i < 4; i++)
			if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
				break;
	close(fd);
}

/*
 * Says goodbye to c (status 8); it is freed once that is written, and
 * counts no more among the connections not logged in.
 */
static void conn_dismiss(struct vb_broker *b, struct vb_conn *c)
{
	if (conn_unauth(c))
		b->g.nunauth--;
	c->dismissed = 1;
	vb_auth_conn_gone(b, c);
	vb_reply_err(c, VB_ST_DISCONNECTED);
	vb_conn_commit(c);
	c->closing = 1;
	conn_events(b, c);
}

/* The oldest connection not logged in and not waiting for a login. */
static struct vb_conn *oldest_idle_unauth(struct vb_broker *b)
{
	struct vb_conn *best = NULL;

	for (struct vb_conn *c = b->conns; c; c = c->next)
		if (conn_unauth(c) && c->login == NULL && !c->closing &&
		    (best == NULL || c->since_us < best->since_us))
			best = c;
	return best;
}

/*
 * Out of descriptors (or kernel memory): the connection stays in the
 * backlog and the listener would be readable at once again, so it leaves
 * the epoll set until the wake timer puts it back.
 */
static void accept_pause(struct vb_broker *b, int err, int64_t now)
{
	listeners(b, 0);
	b->g.accept_paused = 1;
	b->g.accept_at = now + ACCEPT_PAUSE_US;
	vb_broker_wake_at(b, b->g.accept_at);
	guard_log(b, &b->g.rl_accept, now,
		  "accept: %s (%u connections open): "
		  "not accepting for %d ms at a time while it lasts",
		  strerror(err), b->nconns, ACCEPT_PAUSE_US / 1000);
}

/*
 * The limits on connections, for one just accepted from addr: 0 to
 * serve it, -1 when it was refused (and closed).
 */
static int conn_admit(struct vb_broker *b, int fd, const char *addr,
		      int64_t now)
{
	const struct vb_limits *l = &b->o.lim;
	struct vb_conn *old;

	if (b->nconns >= l->max_conns) {
		refuse(b, fd);
		guard_log(b, &b->g.rl_conns, now,
			  "connections: %u open, the "
			  "limit (--max-connections): %s refused",
			  b->nconns, addr);
		return -1;
	}
	if (b->g.nunauth < l->max_unauth)
		return 0;
	old = oldest_idle_unauth(b);
	if (old == NULL) {
		refuse(b, fd);
		guard_log(b, &b->g.rl_unauth, now,
			  "connections: %u not "
			  "logged in, the limit (--max-unauthenticated), all "
			  "waiting for a login's answer: %s refused",
			  b->g.nunauth, addr);
		return -1;
	}
	guard_log(b, &b->g.rl_unauth, now,
		  "connections: %u not logged in, "
		  "the limit (--max-unauthenticated): closing the oldest idle "
		  "one, %s (%.1f s old), for %s",
		  b->g.nunauth, old->addr, (double)(now - old->since_us) / 1e6,
		  addr);
	conn_dismiss(b, old);
	return 0;
}

static void conn_accept(struct vb_broker *b, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char addr[64];
		struct vb_conn *c;
		int fd, one = 1, local = lfd == b->ufd;
		int64_t now;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		now = vb_mono_us();
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_pause(b, errno, now);
			return;
		}
		vb_sockaddr_str((struct sockaddr *)&ss, addr, sizeof(addr));
		/* a local client that gave itself no name: one of ours */
		if (strcmp(addr, "unix:") == 0)
			snprintf(addr, sizeof(addr), "unix:#%" PRIu64,
				 ++b->unix_seq);
		if (conn_admit(b, fd, addr, now) < 0)
			continue;
		if (local)
			vb_net_unix_buffers(fd);
		else
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		c = vb_xcalloc(1, sizeof(*c));
		c->fd = fd;
		strlcpy(c->addr, addr, sizeof(c->addr));
		if (local)
			vb_tr_plain(&c->tr, fd);
		else if (vb_conn_tr_open(b, c, fd) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->user_id = VB_NO_USER;
		c->since_us = now;
		vb_frames_init(&c->in);
		vb_sockaddr_host((struct sockaddr *)&ss, c->ip, sizeof(c->ip));
		c->client_id = vb_xxh32(c->addr, strlen(c->addr));
		c->events = EPOLLIN;
		if (ep_add(b, fd, EPOLLIN, c) < 0) {
			vb_tr_close(&c->tr);
			free(c);
			continue;
		}
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->nconns++;
		b->g.nunauth++;
	}
}

/* The wake timer: is it time to listen again? */
static void accept_resume(struct vb_broker *b, int64_t now)
{
	if (!b->g.accept_paused || (b->lfd < 0 && b->ufd < 0))
		return;
	if (now < b->g.accept_at) {
		vb_broker_wake_at(b, b->g.accept_at);
		return;
	}
	b->g.accept_paused = 0;
	if (listeners(b, 1) < 0) {
		accept_pause(b, errno, now);
		return;
	}
	conn_accept(b, b->lfd);
	if (b->ufd >= 0)
		conn_accept(b, b->ufd);
}

/* Not read until input is processed: the budget of all is spent. */
static void conn_starve(struct vb_broker *b, struct vb_conn *c, int64_t now)
{
	if (c->starved)
		return;
	c->starved = 1;
	b->g.nstarved++;
	guard_log(b, &b->g.rl_input, now,
		  "input: %" PRIu64 " bytes held "
		  "across connections, the limit (--max-input-buffer): not "
		  "reading %s until some is processed",
		  b->g.in_total, c->addr);
}

/* Once input was processed: read the starved connections again. */
static void unstarve(struct vb_broker *b)
{
	if (b->g.nstarved == 0 || b->g.in_total >= b->o.lim.max_input)
		return;
	for (struct vb_conn *c = b->conns; c; c = c->next) {
		if (!c->starved)
			continue;
		c->starved = 0;
		b->g.nstarved--;
		conn_events(b, c);
	}
}

/* The connection holding the most input goes, so the others can. */
static void input_unstick(struct vb_broker *b, int64_t now)
{
	struct vb_conn *big = NULL;

	for (struct vb_conn *c = b->conns; c; c = c->next)
		if (!c->closing && (big == NULL || c->in_held > big->in_held))
			big = c;
	if (big == NULL)
		return;
	guard_log(b, &b->g.rl_stuck, now,
		  "input: %" PRIu64 " bytes held, "
		  "the limit (--max-input-buffer), and nothing processed for "
		  "1 s: closing %s, which holds %zu bytes",
		  b->g.in_total, big->addr, big->in_held);
	conn_dismiss(b, big);
}

/*
 * Each tick: input full and nothing processed for a second means the
 * frames held can never all complete (input_unstick).  Then the log
 * lines counted, not written.
 */
static void guard_tick(struct vb_broker *b, int64_t now)
{
	struct vb_guard *g = &b->g;
	uint64_t n;

	if (!g->nstarved || g->in_total < b->o.lim.max_input ||
	    g->in_moved != g->in_moved_seen) {
		g->stuck_since = 0;
	} else if (g->stuck_since == 0) {
		g->stuck_since = now;
	} else if (now - g->stuck_since >= 900000) { /* ~1 tick */
		input_unstick(b, now);
		g->stuck_since = 0;
	}
	g->in_moved_seen = g->in_moved;
	if (vb_ratelog_due(&g->rl_accept, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "accept: out of descriptors %" PRIu64 " more "
			      "times in the last 10 s (%u connections open)",
			      n, b->nconns);
	if (vb_ratelog_due(&g->rl_conns, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "connections: %" PRIu64 " more refused at "
			      "--max-connections in the last 10 s",
			      n);
	if (vb_ratelog_due(&g->rl_unauth, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "connections: %" PRIu64 " more closed or "
			      "refused at --max-unauthenticated in the last "
			      "10 s",
			      n);
	if (vb_ratelog_due(&g->rl_input, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "input: %" PRIu64 " more connections not read "
			      "at --max-input-buffer in the last 10 s",
			      n);
	if (vb_ratelog_due(&g->rl_stuck, now, VB_LOG_EVERY_US, &n))
		vb_broker_log(b,
			      "input: %" PRIu64 " more connections closed "
			      "at --max-input-buffer in the last 10 s",
			      n);
}

/* A framing error: answer status, then close once it is sent. */
static void frame_fatal(struct vb_conn *c, uint32_t status)
{
	vb_reply_err(c, status);
	vb_conn_commit(c);
	c->closing = 1;
}

/* A 0.9 frame: a size out of bounds closes without an answer (§1). */
static int conn_process_v09(struct vb_broker *b, struct vb_conn *c)
{
	uint64_t limit = c->bound ? VB_VSR_FRAME_MAX :
				    VB_VSR_HDR + VB_PREAUTH_MAX;
	uint8_t *frame;
	size_t size;
	int rc = vb_frames_next_v09(&c->in, limit, &frame, &size);

	if (rc < 0)
		c->closing = 1;
	if (rc <= 0)
		return 0;
	b->g.in_moved += size;
	vb_v09_dispatch(b, c, frame, size);
	vb_conn_commit(c);
	return 1;
}

/* Runs every whole frame in the input buffer. */
static void conn_process(struct vb_broker *b, struct vb_conn *c)
{
	while (conn_can_run(b, c)) {
		struct vb_frame f;
		uint32_t status;
		int rc;

		if (c->gen == 0 && (c->gen = vb_frames_gen(&c->in)) == 0)
			break;
		if (c->gen == VB_GEN_09) {
			if (!conn_process_v09(b, c))
				break;
			continue;
		}
		rc = vb_frames_next(&c->in, &b->g.frames,
				    c->user_id != VB_NO_USER, &f, &status);
		if (rc == 0)
			break;
		if (rc < 0) {
			frame_fatal(c, status);
			break;
		}
		b->g.in_moved += VB_REQ_HDR + f.len;
		vb_broker_dispatch(b, c, f.code, f.payload, f.len);
		if (c->park_want) {
			/* the frame stays: it runs again when woken */
			c->park_want = 0;
			vb_frames_unget(&c->in, &f);
			b->g.in_moved -= VB_REQ_HDR + f.len;
			park_add(b, c);
			break;
		}
		c->park_deadline = 0;
		vb_conn_commit(c);
	}
	if (!c->closing)
		vb_frames_compact(&c->in);
	in_sync(b, c);
}

/* Reads what is there.  -1: close the connection now. */
static int conn_read(struct vb_broker *b, struct vb_conn *c)
{
	for (int round = 0; round < 8; round++) {
		size_t room;
		uint64_t budget;
		uint8_t *p;
		ssize_t n;

		if (!conn_can_read(b, c))
			return 0;
		budget = b->g.in_total < b->o.lim.max_input ?
				 b->o.lim.max_input - b->g.in_total :
				 0;
		if (budget == 0) {
			conn_starve(b, c, vb_mono_us());
			return 0;
		}
		/*
		 * Lengths are checked against the limits in conn_process as
		 * soon as a header is in; memory grows only as the bytes
		 * arrive (frames.h), and within what all may hold.
		 */
		p = vb_frames_space(&c->in, &room);
		if (room > budget)
			room = (size_t)budget;
		n = vb_tr_read(&c->tr, p, room);
		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		vb_frames_commit(&c->in, (size_t)n);
		in_sync(b, c);
		conn_process(b, c);
		if ((size_t)n < room && !vb_tr_pending(&c->tr))
			return 0;
	}
	return 0;
}

static void conn_event(struct vb_broker *b, struct vb_conn *c, uint32_t ev)
{
	/* a parked poll's client went away (or half-closed): it is gone */
	if (c->parked && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		conn_free(b, c);
		return;
	}
	if (c->tr.handshaking) {
		int rc = c->closing ? -1 : vb_conn_handshake(b, c);

		if (rc < 0) {
			conn_free(b, c);
			return;
		}
		if (rc == 0) {
			conn_events(b, c);
			return;
		}
		ev |= EPOLLIN; /* requests may have come with its end */
	}
	/* a TLS read that waited for the socket to be writable */
	if (c->tr.want_out && (ev & EPOLLOUT))
		ev |= EPOLLIN;
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/*
		 * A hang-up is reported whether or not EPOLLIN is asked for:
		 * a connection that cannot read now is gone for good.
		 */
		if (conn_can_read(b, c) ? conn_read(b, c) < 0 :
					  (ev & (EPOLLHUP | EPOLLERR)) != 0) {
			conn_free(b, c);
			return;
		}
		/* TLS may hold what was not read: tls_pass comes back for it */
		vb_conn_tls_defer(b, c, vb_tr_pending(&c->tr));
	}
	/* Held output leaves at the commit point (release_held). */
	if (c->qn > 0 && !c->held && conn_flush(c) < 0) {
		conn_free(b, c);
		return;
	}
	if (c->closing && c->qn == 0) {
		conn_free(b, c);
		return;
	}
	/*
	 * Output drained below the mark, or a login answered: run what is
	 * left in the buffer (whole frames, or a header to check, which may
	 * not be followed by anything), as long as the replies go out.
	 */
	while (conn_can_run(b, c) && vb_frames_pending(&c->in) > 0) {
		uint64_t moved = b->g.in_moved;

		conn_process(b, c);
		if (c->qn > 0 && !c->held && conn_flush(c) < 0) {
			conn_free(b, c);
			return;
		}
		if (b->g.in_moved == moved)
			break;
	}
	if (c->closing && c->qn == 0) {
		conn_free(b, c);
		return;
	}
	conn_events(b, c);
}

/* After the commit point: held output whose replies are decided goes. */
static void release_held(struct vb_broker *b)
{
	size_t keep = 0;

	for (size_t i = 0; i < b->nheld; i++) {
		struct vb_conn *c = b->held[i];

		if (c == NULL)
			continue;
		if (c->waits > 0) {
			b->held[keep++] = c;
			continue;
		}
		b->held[i] = NULL;
		c->held = 0;
		/* an HTTP request's connection: its reply is rendered now */
		if (c->fd < 0) {
			vb_http_conn_done(b, c);
			continue;
		}
		if ((c->qn > 0 && conn_flush(c) < 0) ||
		    (c->closing && c->qn == 0)) {
			conn_free(b, c);
			continue;
		}
		conn_events(b, c);
		/*
		 * Frames left unrun while the output was at its limit, all
		 * sent now: nothing reads or writes it, so it gets one
		 * EPOLLOUT, at which conn_event runs them in the next pass.
		 */
		if (c->qn == 0 && conn_can_run(b, c) &&
		    vb_frames_pending(&c->in) > 0 &&
		    vb_frames_missing(&c->in) == 0) {
			struct epoll_event ee;

			ee.events = c->events | EPOLLOUT;
			ee.data.ptr = c;
			epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ee);
			c->events = ee.events;
		}
	}
	b->nheld = keep;
}

/* Runs the parked polls of b->wakev again (each may park once more). */
static void park_rerun(struct vb_broker *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vb_conn *c = b->wakev[i];

		park_del(b, c);
		conn_event(b, c, 0);
	}
}

/* After a commit point: the polls whose partitions got something. */
static void park_wake(struct vb_broker *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->nparked; i++) {
		struct vb_conn *c = b->parked[i];

		if (vb_park_sum(b, c) == c->park_sum)
			continue;
		VB_ALLOC_GROW(b->wakev, n + 1, b->wakev_cap);
		b->wakev[n++] = c;
	}
	park_rerun(b, n);
}

/* The timer: the polls whose deadline passed answer what they have. */
static void on_wait_timer(struct vb_broker *b)
{
	int64_t now = vb_mono_us();
	uint64_t ticks;
	size_t n = 0;

	if (read(b->waitfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	b->wait_armed = 0;
	for (size_t i = 0; i < b->nparked; i++) {
		struct vb_conn *c = b->parked[i];

		if (c->park_deadline > now)
			continue;
		VB_ALLOC_GROW(b->wakev, n + 1, b->wakev_cap);
		b->wakev[n++] = c;
	}
	park_rerun(b, n);
}

void vb_conn_resume(struct vb_broker *b, struct vb_conn *c)
{
	/* an HTTP request's connection, without a socket (http.h) */
	if (c->fd < 0) {
		vb_http_conn_done(b, c);
		return;
	}
	vb_conn_commit(c);
	conn_event(b, c, 0);
}

/* ---- the wake timer: deadlines of the guard (guard.h) ---- */

void vb_broker_wake_at(struct vb_broker *b, int64_t at)
{
	struct itimerspec its;

	if (b->g.wake_at != 0 && b->g.wake_at <= at)
		return;
	if (at <= 0)
		at = 1; /* it_value 0 would disarm it */
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(at / 1000000);
	its.it_value.tv_nsec = (long)(at % 1000000) * 1000L;
	timerfd_settime(b->g.wakefd, TFD_TIMER_ABSTIME, &its, NULL);
	b->g.wake_at = at;
}

static void on_wake(struct vb_broker *b)
{
	uint64_t ticks;
	int64_t next, now;

	if (read(b->g.wakefd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	b->g.wake_at = 0;
	now = vb_mono_us();
	next = vb_auth_wake(b, now);
	if (next)
		vb_broker_wake_at(b, next);
	accept_resume(b, now);
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
	uint64_t ticks, now,
		every = (uint64_t)(b->o.cleaner_ms ? b->o.cleaner_ms : 1000) *
			1000u;

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
	vb_auth_tick(b, vb_mono_us());
	guard_tick(b, vb_mono_us());
	vb_broker_tls_tick(b, vb_mono_us());
}

/* An event of the loop's own descriptors, not of a connection. */
static int own_tag(struct vb_broker *b, const void *tag)
{
	return tag == &tag_listen || tag == &tag_ulisten ||
	       tag == &tag_signal || tag == &tag_timer || tag == &tag_auth ||
	       tag == &tag_wake || tag == &tag_sync || tag == &tag_wait ||
	       vb_http_tag(b, tag);
}

/* Stops accepting; tells every client (status 8); gives them a moment. */
static void shutdown_conns(struct vb_broker *b)
{
	uint64_t deadline = vb_wall_us() + 2000000u;

	listeners(b, 0);
	listeners_close(b);
	for (struct vb_conn *c = b->conns, *n; c; c = n) {
		n = c->next;
		/* A login waiting for its answer gets this one (§1.3). */
		vb_auth_conn_gone(b, c);
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

			if (own_tag(b, tag))
				continue;
			conn_event(b, tag, evs[i].events);
		}
	}
	while (b->conns)
		conn_free(b, b->conns);
}

/*
 * Bytes TLS holds inside a transport (read ahead, or not read while the
 * connection could not take them) wake no epoll: the connections that
 * have some and may read now are run here.  1 when some are left that
 * may read, so the loop must not sleep.
 */
static int tls_pass(struct vb_broker *b)
{
	int busy = 0;

	if (b->tls.ndefer == 0)
		return 0;
	for (struct vb_conn *c = b->conns, *n; c; c = n) {
		n = c->next;
		if (c->tls_defer && conn_can_read(b, c))
			conn_event(b, c, EPOLLIN);
	}
	for (struct vb_conn *c = b->conns; c && b->tls.ndefer; c = c->next)
		if (c->tls_defer && conn_can_read(b, c))
			busy = 1;
	return busy;
}

int vb_broker_run(struct vb_broker *b, struct vb_err *e)
{
	struct itimerspec its;
	/* retention every cleaner_ms, revocation timeouts at least each second */
	unsigned ms = b->o.cleaner_ms && b->o.cleaner_ms < 1000 ?
			      b->o.cleaner_ms :
			      1000;
	int tls_busy = 0;

	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = ms / 1000;
	its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(b->timerfd, 0, &its, NULL) < 0 ||
	    listeners(b, 1) < 0 ||
	    ep_add(b, b->sigfd, EPOLLIN, &tag_signal) < 0 ||
	    ep_add(b, b->timerfd, EPOLLIN, &tag_timer) < 0 ||
	    ep_add(b, vb_auth_fd(b), EPOLLIN, &tag_auth) < 0 ||
	    ep_add(b, b->g.wakefd, EPOLLIN, &tag_wake) < 0 ||
	    ep_add(b, b->waitfd, EPOLLIN, &tag_wait) < 0)
		return vb_err_sys(e, VB_E_IO, "epoll");
	b->cleaned_us = vb_wall_us();
	vb_broker_log(b, "listening on %s:%u, data dir %s", b->ip, b->port,
		      b->dir);
	if (b->ufd >= 0)
		vb_broker_log(b, "and on the local socket %s", b->unix_path);
	/* The commit point's thread says so when a job is done. */
	if (b->sync.efd >= 0 && ep_add(b, b->sync.efd, EPOLLIN, &tag_sync) < 0)
		return vb_err_sys(e, VB_E_IO, "epoll");
	while (!b->stopping) {
		struct epoll_event evs[128];
		int n = epoll_wait(b->epfd, evs, 128, tls_busy ? 0 : -1);
		int answers = 0, wake = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vb_err_sys(e, VB_E_IO, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_listen)
				conn_accept(b, b->lfd);
			else if (tag == &tag_ulisten)
				conn_accept(b, b->ufd);
			else if (tag == &tag_signal)
				on_signal(b);
			else if (tag == &tag_timer)
				on_timer(b);
			else if (tag == &tag_auth)
				answers = 1;
			else if (tag == &tag_wake)
				wake = 1;
			else if (vb_http_tag(b, tag))
				vb_http_event(b, tag);
		}
		/* Connections after the others: a freed one is not reused. */
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (own_tag(b, tag))
				continue;
			conn_event(b, tag, evs[i].events);
		}
		/* After them too: answering may free a connection. */
		if (answers)
			vb_auth_done(b);
		if (wake)
			on_wake(b);
		for (int i = 0; i < n; i++)
			if (evs[i].data.ptr == &tag_wait)
				on_wait_timer(b);
		unstarve(b);
		tls_busy = tls_pass(b);
		/*
		 * One commit point per pass, after everything that runs
		 * requests (a login answered resumes its connection's frames,
		 * and so do unstarve and tls_pass), the replies it decided
		 * after.
		 */
		if (vb_broker_collect(b))
			release_held(b);
		vb_broker_commit(b);
		release_held(b);
		/*
		 * What the commit point published wakes the parked polls it
		 * concerns; what their answers hold (auto commit) is
		 * committed at once, not at the next pass.
		 */
		if (b->nparked) {
			park_wake(b);
			if (b->nwaiters) {
				vb_broker_commit(b);
				release_held(b);
			}
		}
		park_arm(b);
	}
	vb_broker_commit_all(b);
	release_held(b);
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
	vb_http_close(b);
	while (b->conns)
		conn_free(b, b->conns);
	vb_auth_close(b);
	vb_broker_commit_all(b);
	/* Everything acknowledged becomes durable, whatever the policy. */
	if (opened) {
		struct sync_all sa = { e, 0 };

		vb_each_topic(b, sync_topic, &sa);
		rc = sa.rc;
		if (vb_meta_sync_dirs(b, e) < 0)
			rc = -1;
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
	listeners_close(b);
	free(b->unix_path);
	if (b->sigfd >= 0)
		close(b->sigfd);
	if (b->timerfd >= 0)
		close(b->timerfd);
	if (b->g.wakefd >= 0)
		close(b->g.wakefd);
	if (b->waitfd >= 0)
		close(b->waitfd);
	free(b->parked);
	free(b->wakev);
	if (b->epfd >= 0)
		close(b->epfd);
	vb_broker_tls_close(b);
	vb_buf_release(&b->tmp);
	vb_metrics_release(&b->metrics);
	vb_broker_commit_release(b);
	free(b->dir);
	free(b);
	return rc;
}
