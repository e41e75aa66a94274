/*
 * metrics.h - what the broker counts for GET /metrics (Prometheus text
 * exposition format 0.0.4, described in vibes-iggyd(8)).
 *
 * Everything is counted on the event loop thread, so nothing here is
 * atomic, except the fsync figures, which the fsync thread adds to (they
 * live in struct vb_syncer: store.h).  Counters start at zero with the
 * process, as Prometheus expects of a counter (a restart is a reset).
 *
 * Requests are counted once per command frame (TCP) or per HTTP route
 * that runs one (HTTP), with the time the loop spent running it: the
 * handler's own time, not the waits that may follow it (a password check
 * on a worker, an fsync before the reply).  Per partition the broker
 * counts messages and bytes in (appended) and out (returned by polls) in
 * struct vb_part's io.
 */
#ifndef VB_BROKER_METRICS_H
#define VB_BROKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct vb_broker;

/* Buckets of the request latency histograms (bounds in metrics.c). */
#define VB_MET_LAT_BUCKETS 16

enum vb_transport { VB_TR_TCP = 0, VB_TR_HTTP = 1, VB_TR_N };

/* One histogram: cumulative as Prometheus wants it is made when printed. */
struct vb_hist {
	uint64_t b[VB_MET_LAT_BUCKETS + 1]; /* per bucket, last = +Inf */
	uint64_t count;
	uint64_t sum_ns;
};

/* Per command (an index into the table of known codes, metrics.c). */
struct vb_met_cmd {
	uint64_t n[VB_TR_N];
	uint64_t errors[VB_TR_N]; /* answered with a status other than 0 */
	struct vb_hist lat;
};

struct vb_metrics {
	struct vb_met_cmd *cmd;	 /* one per known command code */
	uint64_t unknown;	 /* frames with an unknown code */
	uint64_t http_requests;	 /* every HTTP request routed */
	uint64_t http_status[6]; /* by class: [2] 2xx ... [5] 5xx */
	uint64_t logins_failed;
};

void vb_metrics_init(struct vb_metrics *m);
void vb_metrics_release(struct vb_metrics *m);

/* Nanoseconds on the monotonic clock, for the durations below. */
int64_t vb_metrics_now_ns(void);
/* One request of command code, run in ns nanoseconds, answered status. */
void vb_metrics_request(struct vb_metrics *m, uint32_t code,
			enum vb_transport tr, int64_t ns, uint32_t status);

/* Appends the whole exposition (every family, HELP and TYPE lines). */
void vb_metrics_render(struct vb_broker *b, struct vb_buf *out);

#endif
