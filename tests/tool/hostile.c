/*
 * hostile - a hostile client and a measuring one, for the tests of issue
 * 11 (tests/t/t1020): what a shell cannot do, or cannot time.
 *
 *   hostile flood [-b MS] [-c CONNS] [-i MS] [-t SECONDS] ADDR USER COUNT
 *	Sends wrong passwords for USER, pipelined on CONNS connections
 *	(default 1; one the server closes is opened again and what it left
 *	unanswered is sent again) until COUNT were answered, while a thread
 *	of its own pings on another connection every -i MS (default 2) and
 *	times each answer.  Prints the flood's figures and the pings'
 *	(count, p50, p99, max).  With -b MS, exits 1 if more than one ping
 *	in a thousand during the flood took MS milliseconds or more, or any
 *	took ten times that (a stalled server delays every ping it holds;
 *	a lone late one is the machine's scheduler).
 *
 *   hostile hold [-w MS] ADDR N
 *	Opens N connections and pings on each; prints how many were
 *	answered, refused (a status, then closed), closed without an
 *	answer, or left silent after -w MS (default 2000).  Then reads
 *	commands on stdin, one a line, answering each with one line:
 *	  ping     ping again on every connection answered so far
 *	  close K  close K of the answered ones (the last opened first)
 *	  wait MS  ping the silent ones again, waiting up to MS for answers
 *	EOF ends it.
 *
 *   hostile login [-l PASSWORD] [-n COUNT] [-p PASSWORD] ADDR USER
 *	COUNT logins (default 1) one after the other on one connection,
 *	with the -p PASSWORD (default a wrong one; this is a test tool),
 *	the last with the -l one if given; prints the status of each and
 *	how long its answer took, or that the server closed the
 *	connection.  Exit 1 if it did before the last.
 *
 *   hostile partial -p PASSWORD ADDR USER SIZE SENT
 *	Logs in, then sends the first SENT bytes of a SIZE-byte
 *	send_messages frame (header included) and prints how many the
 *	socket took within 1 s.  Then reads commands on stdin, answering
 *	each with one line:
 *	  rest     send the rest of the frame (waiting as long as it takes)
 *	  wait MS  wait up to MS for an answer: its status, "closed" or
 *	           "no answer"
 *
 *   hostile nodrain [-w MS] ADDR
 *	Writes pings without reading the answers until a write has been
 *	blocked for -w MS (default 500); prints how many the server took;
 *	then reads every answer, checking they are all there.
 *
 *   hostile ping [-n COUNT] [-w MS] ADDR
 *	COUNT pings (default 1) on one connection; prints the slowest.
 *	Exit 1 if one is not answered within -w MS (default 5000) or gets a
 *	status, printed.
 *
 * Exit status: 0 as above, 1 a bound or answer missed, 2 usage, 69 no
 * connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/vb_exit.h"
#include "wire/wire.h"
#include "base/banned.h"

static const char usage_text[] =
	"usage: hostile flood [-b MS] [-c CONNS] [-i MS] [-t SECONDS] ADDR USER COUNT\n"
	"       hostile hold [-w MS] ADDR N\n"
	"       hostile login [-l PASSWORD] [-n COUNT] [-p PASSWORD] ADDR USER\n"
	"       hostile partial -p PASSWORD ADDR USER SIZE SENT\n"
	"       hostile nodrain [-w MS] ADDR\n"
	"       hostile ping [-n COUNT] [-w MS] ADDR\n";

static struct sockaddr_in server;

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(VB_EX_USAGE);
}

static long long num(const char *s, long long lo, long long hi)
{
	const char *errstr;
	long long v = strtonum(s, lo, hi, &errstr);

	if (errstr) {
		fprintf(stderr, "hostile: '%s' is %s\n", s, errstr);
		usage();
	}
	return v;
}

static void set_addr(const char *addr)
{
	char host[128], *colon;

	strlcpy(host, addr, sizeof(host));
	colon = strrchr(host, ':');
	if (colon == NULL)
		usage();
	*colon = 0;
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)num(colon + 1, 1, 65535));
	if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
		fprintf(stderr, "hostile: %s: not an IPv4 HOST:PORT\n", addr);
		exit(VB_EX_USAGE);
	}
}

/* A connected socket (non-blocking with nb), or -1 with errno. */
static int dial(int nb)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int err = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 5000) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
	if (err) {
		errno = err;
		goto fail;
	}
	if (!nb)
		fcntl(fd, F_SETFL, 0);
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* dial(0), or exit 69 saying so as cmd. */
static int dial_or_exit(const char *cmd)
{
	int fd = dial(0);

	if (fd < 0) {
		printf("%s: cannot connect: %s\n", cmd, strerror(errno));
		exit(VB_EX_UNAVAILABLE);
	}
	return fd;
}

static void ping_frame(uint8_t f[8])
{
	vb_st32(f, 4);
	vb_st32(f + 4, VB_CMD_PING);
}

/*
 * Reads one reply header within ms; skips its payload.  Returns its
 * status, -1 on EOF or error, -2 on timeout.
 */
static int64_t read_reply(int fd, int ms)
{
	uint8_t h[8], skip[512];
	size_t got = 0;
	int64_t end = vb_mono_ms() + ms;
	uint32_t len;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - vb_mono_ms();
		ssize_t n;

		if (got == 8) {
			len = vb_ld32(h + 4);
			while (len > 0) {
				n = read(fd, skip,
					 len < sizeof(skip) ? len :
							      sizeof(skip));
				if (n <= 0)
					return -1;
				len -= (uint32_t)n;
			}
			return vb_ld32(h);
		}
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return -2;
		n = read(fd, h + got, 8 - got);
		if (n <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			return -1;
		}
		got += (size_t)n;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- flood ---- */

struct pinger {
	int fd;
	int interval_ms;
	atomic_int stop;
	int64_t *rtt; /* microseconds */
	size_t n, cap;
	int failed;
};

static void *ping_loop(void *arg)
{
	struct pinger *p = arg;
	uint8_t f[8];

	ping_frame(f);
	while (!atomic_load(&p->stop)) {
		int64_t t0 = vb_mono_us(), st;
		struct timespec ts = { 0, (long)p->interval_ms * 1000000L };

		if (write(p->fd, f, 8) != 8) {
			p->failed = 1;
			break;
		}
		st = read_reply(p->fd, 10000);
		if (st != 0) {
			p->failed = 1;
			break;
		}
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 1024;
			p->rtt = realloc(p->rtt, p->cap * sizeof(*p->rtt));
			if (p->rtt == NULL)
				abort();
		}
		p->rtt[p->n++] = vb_mono_us() - t0;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct fconn {
	int fd;
	struct vb_buf out; /* frames not written yet */
	size_t out_pos;
	uint64_t inflight; /* written or queued, not answered */
	uint8_t h[8];
	size_t hgot;
	uint32_t skip;
};

static void add_login_pw(struct vb_buf *b, const char *user, const char *pass)
{
	struct vb_req r;

	vb_req_init(&r, VB_CMD_LOGIN_USER);
	vb_name_set(&r.name, user);
	vb_name_set(&r.secret, pass);
	vb_wire_req_encode(b, &r);
}

static void add_login(struct vb_buf *b, const char *user)
{
	char pw[32];

	snprintf(pw, sizeof(pw), "wrong-%08x", arc4random());
	add_login_pw(b, user, pw);
}

static int cmd_flood(int argc, char **argv)
{
	int conns = 1, interval = 2, secs = 300, ch, rc = 0;
	long long bound = -1;
	size_t over = 0;
	uint64_t count, sent = 0, answered = 0, closed = 0;
	uint64_t st_42 = 0, st_other = 0;
	struct fconn *fc;
	struct pinger pg;
	pthread_t th;
	int64_t t0, t1, deadline;
	const char *user;

	while ((ch = getopt(argc, argv, "b:c:i:t:")) != -1) {
		switch (ch) {
		case 'b':
			bound = num(optarg, 1, 3600000);
			break;
		case 'c':
			conns = (int)num(optarg, 1, 10000);
			break;
		case 'i':
			interval = (int)num(optarg, 0, 10000);
			break;
		case 't':
			secs = (int)num(optarg, 1, 86400);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	set_addr(argv[optind]);
	user = argv[optind + 1];
	count = (uint64_t)num(argv[optind + 2], 1, 100000000);
	fc = calloc((size_t)conns, sizeof(*fc));
	if (fc == NULL)
		abort();
	memset(&pg, 0, sizeof(pg));
	pg.interval_ms = interval;
	pg.fd = dial(0);
	if (pg.fd < 0) {
		fprintf(stderr, "hostile: connect: %s\n", strerror(errno));
		return VB_EX_UNAVAILABLE;
	}
	for (int i = 0; i < conns; i++) {
		fc[i].fd = dial(1);
		if (fc[i].fd < 0) {
			fprintf(stderr, "hostile: connect: %s\n",
				strerror(errno));
			return VB_EX_UNAVAILABLE;
		}
	}
	/* The first attempts go out before the first ping is timed. */
	for (int i = 0; i < conns && sent < count; i++)
		for (uint64_t k = 0;
		     k < count / (uint64_t)conns + 1 && sent < count; k++) {
			add_login(&fc[i].out, user);
			fc[i].inflight++;
			sent++;
		}
	t0 = vb_mono_us();
	deadline = vb_mono_ms() + (int64_t)secs * 1000;
	pthread_create(&th, NULL, ping_loop, &pg);
	while (answered < count && vb_mono_ms() < deadline) {
		struct pollfd *p = calloc((size_t)conns, sizeof(*p));

		if (p == NULL)
			abort();
		for (int i = 0; i < conns; i++) {
			p[i].fd = fc[i].fd;
			p[i].events = POLLIN;
			if (fc[i].out_pos < fc[i].out.len)
				p[i].events |= POLLOUT;
		}
		poll(p, (nfds_t)conns, 100);
		for (int i = 0; i < conns; i++) {
			struct fconn *f = &fc[i];
			ssize_t n;
			int gone = 0;

			if (p[i].revents & POLLOUT) {
				n = send(f->fd, f->out.p + f->out_pos,
					 f->out.len - f->out_pos, MSG_NOSIGNAL);
				if (n > 0)
					f->out_pos += (size_t)n;
				else if (n < 0 && errno != EAGAIN)
					gone = 1;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				uint8_t buf[65536];

				n = read(f->fd, buf, sizeof(buf));
				if (n <= 0 && !(n < 0 && errno == EAGAIN))
					gone = 1;
				for (ssize_t k = 0; k < n; k++) {
					if (f->skip) {
						f->skip--;
						continue;
					}
					f->h[f->hgot++] = buf[k];
					if (f->hgot < 8)
						continue;
					f->hgot = 0;
					f->skip = vb_ld32(f->h + 4);
					if (vb_ld32(f->h) ==
					    VB_ST_INVALID_CREDENTIALS)
						st_42++;
					else
						st_other++;
					answered++;
					f->inflight--;
				}
			}
			if (!gone)
				continue;
			/* Closed by the server: again, with what it left. */
			closed++;
			close(f->fd);
			if (answered >= count)
				continue;
			f->fd = dial(1);
			if (f->fd < 0) {
				fprintf(stderr, "hostile: reconnect: %s\n",
					strerror(errno));
				return VB_EX_UNAVAILABLE;
			}
			vb_buf_reset(&f->out);
			f->out_pos = f->hgot = f->skip = 0;
			for (uint64_t k = 0; k < f->inflight; k++)
				add_login(&f->out, user);
		}
		free(p);
	}
	t1 = vb_mono_us();
	atomic_store(&pg.stop, 1);
	pthread_join(th, NULL);
	printf("flood: %llu wrong logins answered (%llu status 42, %llu other) "
	       "in %.2f s (%.0f/s) on %d connection(s); %llu closed by the "
	       "server\n",
	       (unsigned long long)answered, (unsigned long long)st_42,
	       (unsigned long long)st_other, (double)(t1 - t0) / 1e6,
	       (double)answered * 1e6 / (double)(t1 - t0 + 1), conns,
	       (unsigned long long)closed);
	for (int i = 0; i < conns; i++) {
		close(fc[i].fd);
		vb_buf_release(&fc[i].out);
	}
	free(fc);
	close(pg.fd);
	if (pg.n == 0) {
		printf("ping: none answered during the flood\n");
		return 1;
	}
	qsort(pg.rtt, pg.n, sizeof(*pg.rtt), cmp_i64);
	printf("ping: %zu during the flood: p50 %.2f ms, p99 %.2f ms, "
	       "max %.2f ms",
	       pg.n, (double)pg.rtt[pg.n / 2] / 1e3,
	       (double)pg.rtt[pg.n * 99 / 100] / 1e3,
	       (double)pg.rtt[pg.n - 1] / 1e3);
	if (bound > 0) {
		for (size_t i = 0; i < pg.n; i++)
			over += pg.rtt[i] >= bound * 1000;
		printf(" (bound %lld ms: %zu over it)", bound, over);
	}
	printf("\n");
	fflush(stdout);
	if (answered < count) {
		fprintf(stderr,
			"hostile: flood: only %llu of %llu answered "
			"in %d s\n",
			(unsigned long long)answered, (unsigned long long)count,
			secs);
		rc = 1;
	} else if (pg.failed) {
		fprintf(stderr, "hostile: flood: a ping went unanswered\n");
		rc = 1;
	} else if (bound > 0 && (over * 1000 > pg.n ||
				 pg.rtt[pg.n - 1] >= 10 * bound * 1000)) {
		/*
		 * More than one ping in a thousand over the bound, or one
		 * frozen for ten times it: the server stalled.  A lone late
		 * ping is this shared machine's scheduler (the p99 says so).
		 */
		rc = 1;
	}
	free(pg.rtt);
	return rc;
}

/* ---- hold ---- */

enum hstate { H_SILENT, H_OK, H_REFUSED, H_CLOSED, H_FAILED };

struct held {
	int fd;
	enum hstate st;
	uint32_t status; /* of a refusal */
};

/* Waits up to ms for the answer of every connection in state from. */
static void hold_collect(struct held *h, int n, enum hstate from, int ms)
{
	int64_t end = vb_mono_ms() + ms;

	for (;;) {
		struct pollfd *p = calloc((size_t)n, sizeof(*p));
		int want = 0, left = (int)(end - vb_mono_ms());

		if (p == NULL)
			abort();
		for (int i = 0; i < n; i++) {
			p[i].fd = h[i].st == from ? h[i].fd : -1;
			p[i].events = POLLIN;
			want += h[i].st == from;
		}
		if (want == 0 || left <= 0 || poll(p, (nfds_t)n, left) <= 0) {
			free(p);
			return;
		}
		for (int i = 0; i < n; i++) {
			int64_t st;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			st = read_reply(h[i].fd, 1000);
			if (st == 0) {
				h[i].st = H_OK;
			} else if (st > 0) {
				h[i].st = H_REFUSED;
				h[i].status = (uint32_t)st;
			} else {
				h[i].st = H_CLOSED;
			}
		}
		free(p);
	}
}

static void hold_report(const char *what, const struct held *h, int n)
{
	int c[5] = { 0 };
	uint32_t status = 0;

	for (int i = 0; i < n; i++) {
		c[h[i].st]++;
		if (h[i].st == H_REFUSED)
			status = h[i].status;
	}
	printf("%s: %d answered, %d refused", what, c[H_OK], c[H_REFUSED]);
	if (c[H_REFUSED])
		printf(" (status %u)", status);
	printf(", %d closed, %d silent, %d not connected\n", c[H_CLOSED],
	       c[H_SILENT], c[H_FAILED]);
	fflush(stdout);
}

static int cmd_hold(int argc, char **argv)
{
	int wait_ms = 2000, n, ch;
	struct held *h;
	char line[128];
	uint8_t f[8];

	while ((ch = getopt(argc, argv, "w:")) != -1) {
		if (ch != 'w')
			usage();
		wait_ms = (int)num(optarg, 0, 600000);
	}
	if (argc - optind != 2)
		usage();
	set_addr(argv[optind]);
	n = (int)num(argv[optind + 1], 1, 100000);
	h = calloc((size_t)n, sizeof(*h));
	if (h == NULL)
		abort();
	ping_frame(f);
	for (int i = 0; i < n; i++) {
		h[i].fd = dial(0);
		if (h[i].fd < 0) {
			h[i].st = H_FAILED;
			continue;
		}
		if (write(h[i].fd, f, 8) != 8)
			h[i].st = H_CLOSED;
	}
	hold_collect(h, n, H_SILENT, wait_ms);
	hold_report("hold", h, n);
	while (fgets(line, sizeof(line), stdin)) {
		int k, ms, slow = 0;
		int64_t t0 = vb_mono_us(), worst = 0;

		if (strncmp(line, "ping", 4) == 0) {
			int ok = 0, asked = 0;

			for (int i = 0; i < n; i++) {
				int64_t st, t;

				if (h[i].st != H_OK)
					continue;
				asked++;
				t = vb_mono_us();
				if (write(h[i].fd, f, 8) != 8 ||
				    (st = read_reply(h[i].fd, 5000)) != 0) {
					h[i].st = H_CLOSED;
					continue;
				}
				t = vb_mono_us() - t;
				worst = t > worst ? t : worst;
				slow += t > 50000;
				ok++;
			}
			printf("ping: %d of %d answered, slowest %.2f ms, %d over "
			       "50 ms, %.2f ms in all\n",
			       ok, asked, (double)worst / 1e3, slow,
			       (double)(vb_mono_us() - t0) / 1e3);
		} else if (sscanf(line, "close %d", &k) == 1) {
			int done = 0;

			/* Answered ones: they hold the server's descriptors. */
			for (int i = n - 1; i >= 0 && done < k; i--) {
				if (h[i].fd < 0 || h[i].st != H_OK)
					continue;
				close(h[i].fd);
				h[i].fd = -1;
				h[i].st = H_FAILED;
				done++;
			}
			printf("closed: %d\n", done);
		} else if (sscanf(line, "wait %d", &ms) == 1) {
			hold_collect(h, n, H_SILENT, ms);
			hold_report("wait", h, n);
		} else {
			printf("?\n");
		}
		fflush(stdout);
	}
	for (int i = 0; i < n; i++)
		if (h[i].fd >= 0)
			close(h[i].fd);
	free(h);
	return 0;
}

/* ---- login ---- */

static int cmd_login(int argc, char **argv)
{
	const char *pass = NULL, *last = NULL;
	struct vb_buf b = VB_BUF_INIT;
	int count = 1, ch, fd;

	while ((ch = getopt(argc, argv, "l:n:p:")) != -1) {
		if (ch == 'l')
			last = optarg;
		else if (ch == 'n')
			count = (int)num(optarg, 1, 1000000);
		else if (ch == 'p')
			pass = optarg;
		else
			usage();
	}
	if (argc - optind != 2)
		usage();
	set_addr(argv[optind]);
	fd = dial_or_exit("login");
	for (int i = 0; i < count; i++) {
		int64_t t = vb_mono_us(), st;

		vb_buf_reset(&b);
		if (last && i + 1 == count)
			add_login_pw(&b, argv[optind + 1], last);
		else if (pass)
			add_login_pw(&b, argv[optind + 1], pass);
		else
			add_login(&b, argv[optind + 1]);
		if (send(fd, b.p, b.len, MSG_NOSIGNAL) != (ssize_t)b.len ||
		    (st = read_reply(fd, 30000)) < 0) {
			printf("login %d: closed by the server\n", i + 1);
			vb_buf_release(&b);
			return i + 1 < count ? 1 : 0;
		}
		printf("login %d: status %lld after %.1f ms\n", i + 1,
		       (long long)st, (double)(vb_mono_us() - t) / 1e3);
		fflush(stdout);
	}
	vb_buf_release(&b);
	return 0;
}

/* Writes all of p within ms; returns what was written. */
static size_t write_for(int fd, const uint8_t *p, size_t n, int ms)
{
	int64_t end = vb_mono_ms() + ms;
	size_t done = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (done < n) {
		struct pollfd q = { .fd = fd, .events = POLLOUT };
		int64_t left = end - vb_mono_ms();
		ssize_t k;

		if (ms >= 0 && left <= 0)
			break;
		if (poll(&q, 1, ms < 0 ? -1 : (int)left) <= 0)
			continue;
		k = send(fd, p + done, n - done, MSG_NOSIGNAL);
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			break;
		if (k > 0)
			done += (size_t)k;
	}
	fcntl(fd, F_SETFL, 0);
	return done;
}

/* ---- partial ---- */

static int cmd_partial(int argc, char **argv)
{
	const char *pass = NULL;
	struct vb_buf b = VB_BUF_INIT;
	size_t size, sent, took;
	uint8_t *frame;
	char line[128];
	int ch, fd;
	int64_t st;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		if (ch != 'p')
			usage();
		pass = optarg;
	}
	if (argc - optind != 4 || pass == NULL)
		usage();
	set_addr(argv[optind]);
	size = (size_t)num(argv[optind + 2], 8, 1ll << 32);
	sent = (size_t)num(argv[optind + 3], 0, (long long)size);
	fd = dial_or_exit("partial");
	add_login_pw(&b, argv[optind + 1], pass);
	if (write(fd, b.p, b.len) != (ssize_t)b.len ||
	    (st = read_reply(fd, 30000)) != 0) {
		printf("partial: login failed\n");
		vb_buf_release(&b);
		return 1;
	}
	frame = calloc(1, size);
	if (frame == NULL)
		abort();
	vb_st32(frame, (uint32_t)(size - 4));
	vb_st32(frame + 4, VB_CMD_SEND_MESSAGES);
	took = write_for(fd, frame, sent, 1000);
	printf("partial: sent %zu of %zu\n", took, size);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		int ms;

		if (strncmp(line, "rest", 4) == 0) {
			took += write_for(fd, frame + took, size - took, -1);
			printf("partial: sent %zu of %zu\n", took, size);
		} else if (sscanf(line, "wait %d", &ms) == 1) {
			st = read_reply(fd, ms);
			if (st >= 0)
				printf("answer: status %lld\n", (long long)st);
			else if (st == -1)
				printf("answer: closed\n");
			else
				printf("answer: none within %d ms\n", ms);
		} else {
			printf("?\n");
		}
		fflush(stdout);
	}
	free(frame);
	vb_buf_release(&b);
	return 0;
}

/* ---- nodrain ---- */

static int cmd_nodrain(int argc, char **argv)
{
	int wait_ms = 500, ch, fd;
	uint8_t chunk[8 * 512];
	uint64_t pings = 0, got = 0;

	while ((ch = getopt(argc, argv, "w:")) != -1) {
		if (ch != 'w')
			usage();
		wait_ms = (int)num(optarg, 1, 600000);
	}
	if (argc - optind != 1)
		usage();
	set_addr(argv[optind]);
	fd = dial_or_exit("nodrain");
	for (size_t i = 0; i < sizeof(chunk); i += 8)
		ping_frame(chunk + i);
	for (;;) {
		size_t k = write_for(fd, chunk, sizeof(chunk), wait_ms);

		pings += k / 8;
		if (k < sizeof(chunk)) {
			/* finish the frame cut in two, then stop */
			if (k % 8)
				write_for(fd, chunk + k, 8 - k % 8, -1);
			pings += k % 8 != 0;
			break;
		}
	}
	printf("nodrain: the server took %llu pings (%llu bytes) before a "
	       "write was blocked for %d ms\n",
	       (unsigned long long)pings, (unsigned long long)pings * 8,
	       wait_ms);
	fflush(stdout);
	while (got < pings) {
		int64_t st = read_reply(fd, 10000);

		if (st != 0) {
			printf("nodrain: answer %llu: %s\n",
			       (unsigned long long)got + 1,
			       st == -2 ? "none" :
			       st < 0	? "closed" :
					  "status");
			return 1;
		}
		got++;
	}
	printf("nodrain: all %llu answers read\n", (unsigned long long)got);
	return 0;
}

/* ---- ping ---- */

static int cmd_ping(int argc, char **argv)
{
	int count = 1, wait_ms = 5000, ch, fd;
	int64_t worst = 0;
	uint8_t f[8];

	while ((ch = getopt(argc, argv, "n:w:")) != -1) {
		if (ch == 'n')
			count = (int)num(optarg, 1, 1000000);
		else if (ch == 'w')
			wait_ms = (int)num(optarg, 1, 600000);
		else
			usage();
	}
	if (argc - optind != 1)
		usage();
	set_addr(argv[optind]);
	fd = dial_or_exit("ping");
	ping_frame(f);
	for (int i = 0; i < count; i++) {
		int64_t t = vb_mono_us(), st;

		if (write(fd, f, 8) != 8) {
			printf("ping: write: %s\n", strerror(errno));
			return 1;
		}
		st = read_reply(fd, wait_ms);
		if (st != 0) {
			if (st > 0)
				printf("ping: status %lld\n", (long long)st);
			else if (st == -2)
				printf("ping: no answer within %d ms\n",
				       wait_ms);
			else
				printf("ping: closed without an answer\n");
			return 1;
		}
		t = vb_mono_us() - t;
		worst = t > worst ? t : worst;
	}
	printf("ping: %d answered, slowest %.2f ms\n", count,
	       (double)worst / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	/* Each command parses its options from its own name on. */
	if (strcmp(argv[1], "flood") == 0)
		return cmd_flood(argc - 1, argv + 1);
	if (strcmp(argv[1], "hold") == 0)
		return cmd_hold(argc - 1, argv + 1);
	if (strcmp(argv[1], "ping") == 0)
		return cmd_ping(argc - 1, argv + 1);
	if (strcmp(argv[1], "login") == 0)
		return cmd_login(argc - 1, argv + 1);
	if (strcmp(argv[1], "partial") == 0)
		return cmd_partial(argc - 1, argv + 1);
	if (strcmp(argv[1], "nodrain") == 0)
		return cmd_nodrain(argc - 1, argv + 1);
	usage();
	return VB_EX_USAGE;
}
