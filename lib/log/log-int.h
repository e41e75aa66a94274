/* log-int.h - internals shared by the lib/log sources. */
#ifndef VB_LOG_INT_H
#define VB_LOG_INT_H

#include "base/clock.h"
#include "log/log.h"

/* Appends the decimal digits of v. */
void vb_log_put_u64(struct vb_buf *b, uint64_t v);

#endif
