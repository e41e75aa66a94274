#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "vb_exit.h"
#include "banned.h"

void vb_err_clear(struct vb_err *e)
{
	e->kind = VB_E_OK;
	e->status = 0;
	e->sys = 0;
	e->msg[0] = 0;
}

static int vset(struct vb_err *e, enum vb_errkind kind, uint32_t status,
		int sys, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static int vset(struct vb_err *e, enum vb_errkind kind, uint32_t status,
		int sys, const char *fmt, va_list ap)
{
	size_t n;

	if (e == NULL)
		return -1;
	e->kind = kind;
	e->status = status;
	e->sys = sys;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (sys) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(sys));
	}
	return -1;
}

int vb_err_set(struct vb_err *e, enum vb_errkind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int vb_err_sys(struct vb_err *e, enum vb_errkind kind, const char *fmt, ...)
{
	int sys = errno;
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, 0, sys, fmt, ap);
	va_end(ap);
	errno = sys;
	return -1;
}

int vb_err_status(struct vb_err *e, enum vb_errkind kind, uint32_t status,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, kind, status, 0, fmt, ap);
	va_end(ap);
	return -1;
}

void vb_err_prefix(struct vb_err *e, const char *fmt, ...)
{
	char pre[256], out[sizeof(pre) + sizeof(e->msg) + 2];
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	snprintf(out, sizeof(out), "%s: %s", pre, e->msg);
	strlcpy(e->msg, out, sizeof(e->msg));
}

int vb_err_exit(const struct vb_err *e)
{
	switch (e->kind) {
	case VB_E_OK:
		return VB_EX_OK;
	case VB_E_USAGE:
		return VB_EX_USAGE;
	case VB_E_DATA:
		return VB_EX_DATAERR;
	case VB_E_UNAVAIL:
	case VB_E_PROTO:
	case VB_E_DOWN:
		return VB_EX_UNAVAILABLE;
	case VB_E_IO:
		return VB_EX_IOERR;
	case VB_E_TIMEOUT:
	case VB_E_TEMP:
		return VB_EX_TEMPFAIL;
	case VB_E_AUTH:
		return VB_EX_NOPERM;
	case VB_E_CONFIG:
		return VB_EX_CONFIG;
	case VB_E_SERVER:
	case VB_E_STATE:
		return VB_EX_PARTIAL;
	}
	return VB_EX_PARTIAL;
}

int vb_err_transient(const struct vb_err *e)
{
	return e->kind == VB_E_UNAVAIL || e->kind == VB_E_TIMEOUT ||
	       e->kind == VB_E_TEMP;
}
