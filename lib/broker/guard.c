/* guard.c - the limits' defaults and the log rate limit (guard.h). */
#include "broker/guard.h"
#include "base/banned.h"

void vb_limits_init(struct vb_limits *l)
{
	l->max_conns = VB_DEF_MAX_CONNS;
	l->max_unauth = VB_DEF_MAX_UNAUTH;
	l->max_input = VB_DEF_MAX_INPUT;
	l->max_output = VB_DEF_MAX_OUTPUT;
	l->login_failures = VB_DEF_LOGIN_FAILURES;
	l->login_delay_max_ms = VB_DEF_LOGIN_DELAY_MAX_MS;
}

int vb_ratelog_event(struct vb_ratelog *r, int64_t now, int64_t every,
		     uint64_t *skipped)
{
	if (r->last_us != 0 && now - r->last_us < every) {
		r->skipped++;
		return 0;
	}
	*skipped = r->skipped;
	r->skipped = 0;
	r->last_us = now;
	return 1;
}

int vb_ratelog_due(struct vb_ratelog *r, int64_t now, int64_t every,
		   uint64_t *skipped)
{
	if (r->skipped == 0 || now - r->last_us < every)
		return 0;
	*skipped = r->skipped;
	r->skipped = 0;
	r->last_us = now;
	return 1;
}
