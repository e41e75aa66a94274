/*
 * bench_latency - acknowledgement and produce-to-consume latency, for
 * vibes-iggyd and for redis-server, in one program so both are measured
 * the same way (driven by tests/bench/bench-latency).
 *
 *   bench_latency vibes ADDR USER PASS RATE SECONDS [-- FOLLOWER...]
 *   bench_latency redis PORT RATE SECONDS [follow]
 *
 * Sends one event per request at RATE per second for SECONDS, pipelined
 * (a request does not wait for the previous answer), and times each
 * acknowledgement from the moment its request was queued.  With a
 * follower (vibes: FOLLOWER is a command such as `vibes-poll -c f -f`,
 * whose standard output is read here; redis: a second connection doing
 * XREAD BLOCK), each event is also timed from its acknowledgement to the
 * moment the follower delivered it (0 when it came first).  Prints
 * key=value lines: sent, rate, ack_p50_us, ack_p99_us, ack_p999_us, and
 * with a follower got, e2e_p50_us, e2e_p99_us, e2e_p999_us.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "client/client.h"
#include "bench.h"
#include "base/banned.h"

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *v, size_t n)
{
	if (n == 0) {
		printf("%s_p50_us=-\n%s_p99_us=-\n%s_p999_us=-\n", what, what,
		       what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp64);
	printf("%s_p50_us=%lld\n%s_p99_us=%lld\n%s_p999_us=%lld\n", what,
	       (long long)v[n / 2], what, (long long)v[n * 99 / 100], what,
	       (long long)v[n * 999 / 1000]);
}

/* Per event: when it was queued, acknowledged and delivered (µs). */
struct ev {
	int64_t sent, acked, got;
};

static struct ev *evs;
static size_t nev;

/*
 * A run's figures: what was sent, the acknowledgements' latency and, with
 * a follower (FOLLOW), how long until it had the events.
 */
static void report_run(int64_t start, size_t acked, int follow, size_t got)
{
	double secs_run = (double)(vb_mono_us() - start) / 1e6;
	int64_t *v = vb_xcalloc(nev + 1, sizeof(*v));
	size_t k = 0;

	printf("sent=%zu\nrate=%.0f\n", acked, (double)acked / secs_run);
	for (size_t i = 0; i < acked; i++)
		v[k++] = evs[i].acked - evs[i].sent;
	report("ack", v, k);
	if (follow) {
		k = 0;
		for (size_t i = 0; i < nev; i++)
			if (evs[i].got)
				v[k++] = evs[i].got > evs[i].acked ?
						 evs[i].got - evs[i].acked :
						 0;
		printf("got=%zu\n", got);
		report("e2e", v, k);
	}
	free(v);
}

/* A follower's line: the "seq" member of the event, or -1. */
static long long seq_of(const char *line)
{
	const char *p = strstr(line, "\"seq\":");

	return p ? strtoll(p + 6, NULL, 10) : -1;
}

/* Reads what the follower wrote; timestamps every complete line. */
static void take_lines(int fd, char *buf, size_t *len, size_t cap, size_t *got)
{
	ssize_t r = read(fd, buf + *len, cap - *len - 1);
	char *start = buf, *nl;

	if (r <= 0)
		return;
	*len += (size_t)r;
	buf[*len] = 0;
	while ((nl = strchr(start, '\n')) != NULL) {
		long long s;

		*nl = 0;
		s = seq_of(start);
		if (s >= 0 && (size_t)s < nev && evs[s].got == 0) {
			evs[s].got = vb_mono_us();
			(*got)++;
		}
		start = nl + 1;
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
}

static pid_t spawn(char **argv, int *out)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0)
		err(1, "pipe");
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		err(127, "%s", argv[0]);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	*out = fds[0];
	return pid;
}

/* ---- vibes ---- */

static void vibes_frame(struct vb_buf *b, uint64_t seq)
{
	struct vb_send_hdr h;
	struct vb_msg_in m;
	char payload[96];

	memset(&h, 0, sizeof(h));
	vb_ident_str(&h.stream, "lat");
	vb_ident_str(&h.topic, "t");
	h.part_kind = VB_PART_ID;
	h.partition_id = 0;
	memset(&m, 0, sizeof(m));
	m.payload = payload;
	m.payload_len = (uint32_t)
		snprintf(payload, sizeof(payload),
			 "{\"seq\":%llu,\"pad\":\"xxxxxxxxxxxxxxxx\"}",
			 (unsigned long long)seq);
	m.origin_timestamp = vb_wall_us();
	vb_wire_send_encode(b, &h, &m, 1);
}

/*
 * The follower is ready when it has printed an event sent before the
 * clock starts (seq nev: not counted).
 */
static void warm_up(struct vb_client *c, struct vb_buf *frame, int ffd)
{
	int64_t give_up = vb_mono_us() + 20000000;
	struct vb_reply rep;
	struct vb_err e;
	int acked = 0;
	char line[512];
	size_t len = 0;

	vb_buf_reset(frame);
	vibes_frame(frame, nev);
	vb_client_queue(c, frame->p, frame->len);
	while (!acked || memchr(line, '\n', len) == NULL) {
		struct pollfd p[2] = { { .fd = c->fd,
					 .events = vb_client_events(c) },
				       { .fd = ffd, .events = POLLIN } };
		ssize_t r;

		if (vb_mono_us() > give_up)
			errx(1, "the follower printed nothing in 20 s");
		if (vb_client_pump(c, &e) < 0 && c->fd < 0)
			errx(1, "%s", e.msg);
		while (vb_client_take(c, &rep, &e) == 1)
			acked = 1;
		poll(p, 2, 100);
		if ((p[1].revents & (POLLIN | POLLHUP)) && len < sizeof(line) &&
		    (r = read(ffd, line + len, sizeof(line) - len)) > 0)
			len += (size_t)r;
		else if (p[1].revents & POLLHUP)
			errx(1, "the follower exited");
	}
	if (len > (size_t)((char *)memchr(line, '\n', len) - line) + 1)
		errx(1, "the follower printed more than the warm-up event");
}

static int run_vibes(char **argv, int argc)
{
	struct vb_client c;
	struct vb_err e;
	struct vb_buf frame = VB_BUF_INIT;
	struct vb_ident s, t;
	struct vb_stream_info si;
	struct vb_topic_info ti;
	long long rate = (long long)bench_arg(argv[4], 1, 10000000);
	long long secs = (long long)bench_arg(argv[5], 1, 3600);
	int64_t start, interval_ns;
	size_t acked = 0, got = 0, queued = 0;
	int found, ffd = -1;
	pid_t fpid = -1;
	char lbuf[65536];
	size_t llen = 0;

	vb_client_init(&c);
	if (vb_client_set_addr(&c, argv[1], &e) || vb_client_connect(&c, &e) ||
	    vb_client_login(&c, argv[2], argv[3], NULL, &e))
		errx(1, "%s", e.msg);
	vb_ident_str(&s, "lat");
	vb_ident_str(&t, "t");
	if (vb_client_get_stream(&c, &s, &si, &found, &e))
		errx(1, "%s", e.msg);
	if (!found && vb_client_create_stream(&c, "lat", &si, &e))
		errx(1, "%s", e.msg);
	if (vb_client_get_topic(&c, &s, &t, &ti, NULL, 0, &found, &e))
		errx(1, "%s", e.msg);
	if (!found && vb_client_create_topic(&c, &s, "t", 1, &ti, &e))
		errx(1, "%s", e.msg);
	nev = (size_t)(rate * secs);
	evs = vb_xcalloc(nev, sizeof(*evs));
	if (argc > 7 && strcmp(argv[6], "--") == 0)
		fpid = spawn(argv + 7, &ffd);
	if (ffd >= 0)
		warm_up(&c, &frame, ffd);
	interval_ns = 1000000000LL / rate;
	start = vb_mono_us();
	while (acked < nev || (ffd >= 0 && got < nev)) {
		struct pollfd p[2];
		struct vb_reply rep;
		int64_t now = vb_mono_us(), due;
		int n = 0, timeout;

		/* queue what is due by now */
		while (queued < nev &&
		       start + (int64_t)queued * interval_ns / 1000 <= now) {
			vb_buf_reset(&frame);
			vibes_frame(&frame, queued);
			vb_client_queue(&c, frame.p, frame.len);
			evs[queued++].sent = vb_mono_us();
		}
		if (vb_client_pump(&c, &e) < 0 && c.fd < 0 &&
		    vb_reader_pending(&c.rd) == 0)
			errx(1, "%s", e.msg);
		while (vb_client_take(&c, &rep, &e) == 1) {
			if (rep.status)
				errx(1, "send: status %u", rep.status);
			evs[acked++].acked = vb_mono_us();
		}
		if (now - start > (secs + 30) * 1000000LL)
			break; /* something is lost: report what came */
		p[n].fd = c.fd;
		p[n++].events = vb_client_events(&c);
		if (ffd >= 0) {
			p[n].fd = ffd;
			p[n++].events = POLLIN;
		}
		due = queued < nev ?
			      start + (int64_t)queued * interval_ns / 1000 -
				      now :
			      100000;
		timeout = due <= 0 ? 0 : (int)((due + 999) / 1000);
		if (poll(p, (nfds_t)n, timeout > 100 ? 100 : timeout) > 0 &&
		    ffd >= 0 && (p[1].revents & (POLLIN | POLLHUP)))
			take_lines(ffd, lbuf, &llen, sizeof(lbuf), &got);
	}
	report_run(start, acked, ffd >= 0, got);
	if (ffd >= 0) {
		kill(fpid, SIGTERM);
		waitpid(fpid, NULL, 0);
	}
	vb_buf_release(&frame);
	vb_client_release(&c);
	free(evs);
	return 0;
}

/* ---- redis ---- */

static int redis_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "redis 127.0.0.1:%d", port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, 100);
			continue;
		}
		if (w < 0)
			err(1, "redis write");
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Length of the complete RESP value at p (n bytes), 0 when it is not all
 * there yet; bulk() sees every bulk string in it (maybe again on a later
 * try, so it must not mind).
 */
static size_t resp_value(const char *p, size_t n,
			 void (*bulk)(const char *s, size_t len, void *arg),
			 void *arg)
{
	const char *nl = n ? memchr(p, '\n', n) : NULL;
	size_t hl, at;
	long v;

	if (nl == NULL)
		return 0;
	hl = (size_t)(nl - p) + 1;
	v = strtol(p + 1, NULL, 10);
	switch (p[0]) {
	case '+':
	case ':':
		return hl;
	case '-':
		errx(1, "redis: %.*s", (int)hl, p);
	case '$':
		if (v < 0)
			return hl;
		if (hl + (size_t)v + 2 > n)
			return 0;
		if (bulk)
			bulk(p + hl, (size_t)v, arg);
		return hl + (size_t)v + 2;
	case '*':
		at = hl;
		for (long i = 0; i < v; i++) {
			size_t k = resp_value(p + at, n - at, bulk, arg);

			if (k == 0)
				return 0;
			at += k;
		}
		return at;
	}
	errx(1, "redis: unexpected reply '%c'", p[0]);
}

/* What a follower's XREAD answer carries: events, and the last id. */
struct xread {
	size_t *got;
	char last[64];
};

static void on_bulk(const char *s, size_t len, void *arg)
{
	struct xread *x = arg;
	const char *q = memmem(s, len, "\"seq\":", 6);

	if (q) {
		long long seq = strtoll(q + 6, NULL, 10);

		if (seq >= 0 && (size_t)seq < nev && evs[seq].got == 0) {
			evs[seq].got = vb_mono_us();
			(*x->got)++;
		}
	} else if (len < sizeof(x->last) && len > 2 && s[0] >= '0' &&
		   s[0] <= '9' && memchr(s, '-', len)) {
		memcpy(x->last, s, len); /* an entry id */
		x->last[len] = 0;
	}
}

/* Each run writes a stream of its own, which a follower reads from 0. */
static char rkey[32];

static void xread_from(int fd, const char *id)
{
	char cmd[256];
	int n = snprintf(cmd, sizeof(cmd),
			 "*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n"
			 "$7\r\nSTREAMS\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
			 strlen(rkey), rkey, strlen(id), id);

	send_all(fd, cmd, (size_t)n);
}

static int run_redis(char **argv, int argc)
{
	int port = (int)bench_arg(argv[1], 1, 65535);
	long long rate = (long long)bench_arg(argv[2], 1, 10000000);
	long long secs = (long long)bench_arg(argv[3], 1, 3600);
	int follow = argc > 4 && strcmp(argv[4], "follow") == 0;
	int fd = redis_connect(port), rfd = -1;
	int64_t start, interval_ns = 1000000000LL / rate;
	size_t acked = 0, queued = 0, got = 0, len = 0, rlen = 0;
	static char buf[1 << 20], rbuf[4 << 20];
	struct xread x = { &got, "0-0" };

	nev = (size_t)(rate * secs);
	evs = vb_xcalloc(nev, sizeof(*evs));
	snprintf(rkey, sizeof(rkey), "lat%ld", (long)getpid());
	if (follow) {
		rfd = redis_connect(port);
		xread_from(rfd, x.last);
	}
	start = vb_mono_us();
	while (acked < nev || (follow && got < nev)) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = rfd, .events = POLLIN } };
		int64_t now = vb_mono_us(), due;
		int timeout;
		ssize_t r;

		while (queued < nev &&
		       start + (int64_t)queued * interval_ns / 1000 <= now) {
			char cmd[256], payload[96];
			int pl = snprintf(
				payload, sizeof(payload),
				"{\"seq\":%zu,\"pad\":\"xxxxxxxxxxxxxxxx\"}",
				queued);
			int n = snprintf(
				cmd, sizeof(cmd),
				"*5\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n%s\r\n",
				strlen(rkey), rkey, pl, payload);

			send_all(fd, cmd, (size_t)n);
			evs[queued++].sent = vb_mono_us();
		}
		if (now - start > (secs + 30) * 1000000LL)
			break;
		due = queued < nev ?
			      start + (int64_t)queued * interval_ns / 1000 -
				      now :
			      100000;
		timeout = due <= 0 ? 0 : (int)((due + 999) / 1000);
		if (poll(p, follow ? 2 : 1, timeout > 100 ? 100 : timeout) <= 0)
			continue;
		if ((p[0].revents & POLLIN) &&
		    (r = read(fd, buf + len, sizeof(buf) - len)) > 0) {
			size_t k, at = 0;

			len += (size_t)r;
			while ((k = resp_value(buf + at, len - at, NULL,
					       NULL))) {
				at += k;
				if (acked < nev)
					evs[acked++].acked = vb_mono_us();
			}
			memmove(buf, buf + at, len - at);
			len -= at;
		}
		if (follow && (p[1].revents & POLLIN) &&
		    (r = read(rfd, rbuf + rlen, sizeof(rbuf) - rlen)) > 0) {
			size_t k;

			rlen += (size_t)r;
			k = resp_value(rbuf, rlen, on_bulk, &x);
			if (k) {
				memmove(rbuf, rbuf + k, rlen - k);
				rlen -= k;
				xread_from(rfd, x.last);
			}
		}
	}
	report_run(start, acked, follow, got);
	free(evs);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 6 && strcmp(argv[1], "vibes") == 0)
		return run_vibes(argv + 1, argc - 1);
	if (argc >= 5 && strcmp(argv[1], "redis") == 0)
		return run_redis(argv + 1, argc - 1);
	fputs("usage: bench_latency vibes ADDR USER PASS RATE SECONDS [-- FOLLOWER...]\n"
	      "       bench_latency redis PORT RATE SECONDS [follow]\n",
	      stderr);
	return 2;
}
