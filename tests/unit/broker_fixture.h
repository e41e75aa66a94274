/*
 * broker_fixture.h - the fixture most broker tests share: one fresh
 * vibes-iggyd per test in S (see broker_harness.h), a logged-in client on it,
 * a stream with a topic.
 * Header-only like the harness; include it once, from the test program.
 */
#ifndef VB_BROKER_FIXTURE_H
#define VB_BROKER_FIXTURE_H

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
