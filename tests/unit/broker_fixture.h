/*
 * broker_fixture.h - the fixture most broker tests share: one fresh
 * vibes-iggyd per test in S (see broker_harness.h), a logged-in client on it.
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

#endif
