/* log-int.h - internals shared by the lib/log sources. */
#ifndef VB_LOG_INT_H
#define VB_LOG_INT_H

#include "log/log.h"

int64_t vb_log_now_us(void);
/* Writes n bytes on the client's socket (bounded by its timeout). */
int vb_log_io_write(struct vb_client *c, const uint8_t *p, size_t n,
		    struct vb_err *e);
/* Reads one response into rx (payload only); *status is its status. */
int vb_log_io_read(struct vb_client *c, struct vb_buf *rx, uint32_t *status,
		   struct vb_err *e);
/* Fills e for a non-zero response status; returns -1. */
int vb_log_status_err(struct vb_err *e, uint32_t status, const char *what);
/* Appends the decimal digits of v. */
void vb_log_put_u64(struct vb_buf *b, uint64_t v);

#endif
