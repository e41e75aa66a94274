/*
 * err.h - error values returned by library code.
 *
 * Library functions never print or exit.  A failing function returns -1
 * (or NULL) and fills a caller-supplied struct vb_err: a kind that the
 * command maps to an exit status, the Iggy status code when the server or
 * the codec produced one, and a message that names what was wrong
 * ("line 3: field session_id: not a string").  Commands print it as
 * "prog: message".
 */
#ifndef VB_ERR_H
#define VB_ERR_H

#include <stdint.h>

enum vb_errkind {
	VB_E_OK = 0,
	VB_E_USAGE,   /* caller asked for something impossible */
	VB_E_DATA,    /* malformed input data */
	VB_E_PROTO,   /* malformed wire data; status holds the Iggy code */
	VB_E_SERVER,  /* the server answered with an error status */
	VB_E_UNAVAIL, /* cannot reach the server */
	VB_E_IO,      /* local I/O */
	VB_E_TIMEOUT, /* timed out; may work later */
	VB_E_AUTH,    /* authentication or permission refused */
	VB_E_STATE, /* not possible in the current state (locked, running...) */
	VB_E_TEMP,  /* the server cannot do it now (its disk is full) */
	VB_E_CONFIG, /* the setup cannot work (server binary missing...) */
	VB_E_DOWN, /* the server was stopped on purpose (vibes-iggyctl stop) */
};

struct vb_err {
	enum vb_errkind kind;
	uint32_t status; /* Iggy status code, 0 if none */
	int sys;	 /* errno, 0 if none */
	char msg[512];
};

void vb_err_clear(struct vb_err *e);
/* Fills e (if not NULL) and returns -1, so `return vb_err_set(...)` works. */
int vb_err_set(struct vb_err *e, enum vb_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errno)" and recording errno. */
int vb_err_sys(struct vb_err *e, enum vb_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, recording an Iggy status code (kind VB_E_PROTO or VB_E_SERVER). */
int vb_err_status(struct vb_err *e, enum vb_errkind kind, uint32_t status,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prepends "prefix: " to an existing message. */
void vb_err_prefix(struct vb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The exit status (vb_exit.h) for an error. */
int vb_err_exit(const struct vb_err *e);
/*
 * 1 when waiting may cure it: the server is unreachable, timed out or
 * temporarily unable (VB_E_UNAVAIL, VB_E_TIMEOUT, VB_E_TEMP); 0 for the
 * permanent kinds, which no retry fixes.
 */
int vb_err_transient(const struct vb_err *e);

#endif
