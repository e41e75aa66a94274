/*
 * broker_fixture.h - the fixture most broker tests share: one fresh
 * vibes-iggyd per test in S (see broker_harness.h), a logged-in client on it,
 * a stream with a topic.
 * Header-only like the harness; include it once, from the test program.
 */
#ifndef VB_BROKER_FIXTURE_H
#define VB_BROKER_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "broker_harness.h"

static struct srv S;

static inline int setup(void **state)
{
	(void)state;
	srv_mkdir(&S);
	return srv_start(&S);
}

static inline int teardown(void **state)
{
	int rc = srv_stop(&S);

	(void)state;
	srv_rmdir(&S);
	return rc == 0 ? 0 : -1;
}

/*
 * A plain TCP connection to S, not logged in, for a test's own bytes;
 * a blocking read gives up after 10 s instead of hanging the test.
 */
static inline int raw_connect(void)
{
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	char host[128], *colon;
	int fd, one = 1;

	strlcpy(host, S.addr, sizeof(host));
	colon = strrchr(host, ':');
	assert_non_null(colon);
	*colon = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	assert_int_equal(inet_pton(AF_INET, host, &sa.sin_addr), 1);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static inline void open_client(struct vb_client *c)
{
	assert_int_equal(srv_client(&S, c, 1), 0);
}

/* Creates stream SNAME with topic TNAME of PARTS partitions; their ids. */
static inline void make_stream_topic(struct vb_client *c, const char *sname,
				     const char *tname, uint32_t parts,
				     uint32_t *sid, uint32_t *tid)
{
	struct vb_stream_info si;
	struct vb_topic_info ti;
	struct vb_ident s;
	struct vb_err e;

	assert_int_equal(vb_client_create_stream(c, sname, &si, &e), 0);
	vb_ident_num(&s, si.id);
	assert_int_equal(vb_client_create_topic(c, &s, tname, parts, &ti, &e),
			 0);
	assert_int_equal(ti.partitions_count, parts);
	*sid = si.id;
	*tid = ti.id;
}

#endif
