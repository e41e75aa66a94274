/* log-int.h - internals shared by the lib/log sources. */
#ifndef VB_LOG_INT_H
#define VB_LOG_INT_H

#include "log/log.h"

int64_t vb_log_now_us(void);
/* Appends the decimal digits of v. */
void vb_log_put_u64(struct vb_buf *b, uint64_t v);

#endif
