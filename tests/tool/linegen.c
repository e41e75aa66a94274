/*
 * linegen - paced input and timed output for tests/stress/power-loss:
 * what a shell loop would do with a fork per line, at thousands of lines
 * a second and with microsecond clocks.
 *
 *   linegen gen [-k KEYS] [-n LINES] [-p ID] [-P PAD] [-r RATE] [-s SEED]
 *       prints LINES (default 1000) JSON lines
 *         {"session_id":"sK","p":ID,"seq":N,"pad":"..."}
 *       N = 1..LINES (the line number, which vibes-append --acks names),
 *       K a random key of KEYS (default 37), a pad of 0..PAD (default 200)
 *       random letters; at about RATE lines a second (default 2000; 0:
 *       as fast as the reader takes them), in bursts every 5 ms, each
 *       burst written with one write(2), so the reader sees them at once
 *       and a full pipe stops the generator (backpressure).  The same
 *       SEED gives the same lines.
 *   linegen stamp
 *       copies stdin to stdout, each line prefixed with the wall clock
 *       (CLOCK_REALTIME, microseconds since the epoch, as bash's
 *       $EPOCHREALTIME without the dot) at the moment it was read, and a
 *       space; written out after every read, so a line is stamped and
 *       stored as soon as its writer let it go.
 *
 * Exit status: 0 ok, 1 an I/O error, 2 usage.
 */
#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/banned.h"

static void usage(void)
{
	fputs("usage: linegen gen [-k KEYS] [-n LINES] [-p ID] [-P PAD] "
	      "[-r RATE] [-s SEED]\n"
	      "       linegen stamp\n",
	      stderr);
	exit(2);
}

static long long num(const char *s, long long lo, long long hi)
{
	const char *es;
	long long v = strtonum(s, lo, hi, &es);

	if (es)
		errx(2, "%s: %s", s, es);
	return v;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err(1, "write");
		p += w;
		n -= (size_t)w;
	}
}

static uint64_t now_us(int clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* xorshift64*: the same seed gives the same lines. */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static int gen(int argc, char **argv)
{
	long long keys = 37, lines = 1000, id = 1, pad = 200, rate = 2000;
	long long seed = 1;
	uint64_t start;
	char *buf;
	size_t cap = 1 << 20, len = 0;
	int o;

	while ((o = getopt(argc, argv, "k:n:p:P:r:s:")) != -1) {
		switch (o) {
		case 'k':
			keys = num(optarg, 1, 1000000);
			break;
		case 'n':
			lines = num(optarg, 0, 1000000000);
			break;
		case 'p':
			id = num(optarg, 0, 1000000);
			break;
		case 'P':
			pad = num(optarg, 0, 100000);
			break;
		case 'r':
			rate = num(optarg, 0, 10000000);
			break;
		case 's':
			seed = num(optarg, 0, INT64_MAX);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	rnd_state = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 1;
	buf = malloc(cap);
	if (buf == NULL)
		err(1, "malloc");
	start = now_us(CLOCK_MONOTONIC);
	for (long long n = 1; n <= lines; n++) {
		size_t np = pad ? (size_t)(rnd() % (uint64_t)(pad + 1)) : 0;
		int w;

		if (cap - len < np + 200) {
			write_all(1, buf, len);
			len = 0;
		}
		w = snprintf(buf + len, cap - len,
			     "{\"session_id\":\"s%llu\",\"p\":%lld,\"seq\":%lld,"
			     "\"pad\":\"",
			     (unsigned long long)(rnd() % (uint64_t)keys), id,
			     n);
		len += (size_t)w;
		for (size_t i = 0; i < np; i++)
			buf[len++] = (char)('a' + rnd() % 26);
		buf[len++] = '"';
		buf[len++] = '}';
		buf[len++] = '\n';
		if (rate > 0) {
			/* Line n is due at n / rate seconds after the start. */
			uint64_t due = start + (uint64_t)(n * 1000000 / rate);
			uint64_t t = now_us(CLOCK_MONOTONIC);

			if (due > t + 5000 || n == lines) {
				write_all(1, buf, len);
				len = 0;
				t = now_us(CLOCK_MONOTONIC);
				if (due > t)
					usleep((useconds_t)(due - t));
			}
		}
	}
	write_all(1, buf, len);
	free(buf);
	return 0;
}

static int stamp(void)
{
	char in[65536], *out;
	size_t cap = sizeof(in) * 2 + 64, len;
	int at_start = 1;

	out = malloc(cap * 2);
	if (out == NULL)
		err(1, "malloc");
	for (;;) {
		ssize_t r = read(0, in, sizeof(in));
		char ts[32];
		int tn;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err(1, "read");
		if (r == 0)
			break;
		tn = snprintf(ts, sizeof(ts), "%llu ",
			      (unsigned long long)now_us(CLOCK_REALTIME));
		len = 0;
		for (ssize_t i = 0; i < r; i++) {
			if (at_start) {
				if (len + (size_t)tn + 1 > cap * 2) {
					write_all(1, out, len);
					len = 0;
				}
				memcpy(out + len, ts, (size_t)tn);
				len += (size_t)tn;
				at_start = 0;
			}
			if (len + 1 > cap * 2) {
				write_all(1, out, len);
				len = 0;
			}
			out[len++] = in[i];
			if (in[i] == '\n')
				at_start = 1;
		}
		write_all(1, out, len);
	}
	free(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "gen") == 0)
		return gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "stamp") == 0 && argc == 2)
		return stamp();
	usage();
	return 2;
}
