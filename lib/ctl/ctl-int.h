/* ctl-int.h - helpers shared by the files of lib/ctl (not an API). */
#ifndef VB_CTL_INT_H
#define VB_CTL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "ctl/ctl.h"

#define VB_CTL_DEFAULT_ADDR "127.0.0.1:8090"
#define VB_CTL_DEFAULT_HTTP_ADDR "127.0.0.1:3000"

/* The HTTP address for the next spawn ("" for none): see vb_ctl_set_http. */
void vb_ctl_choose_http(const struct vb_ctl *c, char *out, size_t sz);
/*
 * The daemon's TLS options for c's certificate and key (none when plain):
 * up to 4 pointers stored at argv; returns how many.
 */
size_t vb_ctl_tls_args(const struct vb_ctl *c, const char **argv);
/*
 * An upstream server says nothing of its TLS in the data dir: ctl writes
 * DATA/server.tls for it (the bundled daemon writes its own); problems go
 * to logfd.
 */
void vb_ctl_upstream_tls_file(struct vb_ctl *c, int logfd);
/* A child that could not exec what it was to run. */
#define VB_CTL_EX_EXEC_FAILED 127
#define VB_CTL_SUPERVISOR "vibes-supervise"

void vb_ctl_sleep_ms(int ms);

/* out = DATA/name. */
void vb_ctl_file(const struct vb_ctl *c, const char *name, struct vb_buf *out);
/*
 * The first line of DATA/NAME into OUT (empty when the file is missing,
 * unreadable, over 8 KiB or its first line does not fit SZ); 1 when that
 * line is not empty.
 */
int vb_ctl_read_line(const struct vb_ctl *c, const char *name, char *out,
		     size_t sz);

/*
 * Probes a flock()ed pidfile without disturbing its holder for longer than
 * a LOCK_SH|LOCK_NB/LOCK_UN pair.  Returns 1 if locked, 0 if free, -1 if it
 * cannot be opened for another reason than ENOENT.  *exists says whether
 * the file exists; *pid is the number written in it (0 if none).
 */
int vb_ctl_lock_probe(const char *path, int *exists, pid_t *pid,
		      struct vb_err *e);

/*
 * Opens path (created 0600) and takes an exclusive flock, waiting up to
 * timeout_ms (0: do not wait).  Returns the fd (O_CLOEXEC), or -1 with
 * VB_E_TIMEOUT when the lock stayed held, or another error.
 */
int vb_ctl_lock_take(const char *path, int timeout_ms, struct vb_err *e);

/* Writes pid into a locked pidfile fd (truncate + write). */
int vb_ctl_lock_write_pid(int fd, pid_t pid);

/* Appends "TIMESTAMP vibes-iggyctl: MSG\n" to fd (a server.log). */
void vb_ctl_log(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Which listener of a start that failed found its address in use, by what
 * server.log says from offset `from` on: the TCP port, the HTTP port, or
 * neither (the daemon exited 78 for something else).
 */
enum vb_ctl_taken { VB_CTL_TAKEN_NONE, VB_CTL_TAKEN_TCP, VB_CTL_TAKEN_HTTP };
enum vb_ctl_taken vb_ctl_port_taken(const struct vb_ctl *c, off_t from);

/* The last n lines of path among those written at or after `from`. */
int vb_ctl_tail_from(const char *path, off_t from, unsigned n,
		     struct vb_buf *out, struct vb_err *e);

/* Reads the last n lines of path into out. */
int vb_ctl_tail(const char *path, unsigned n, struct vb_buf *out,
		struct vb_err *e);
/* Same; *end is the file size the lines were taken from (0 if missing). */
int vb_ctl_tail_end(const char *path, unsigned n, struct vb_buf *out,
		    off_t *end, struct vb_err *e);

/*
 * Reads DATA/server.addr into addr (without the newline).  Returns 1 when
 * present, 0 when missing or empty.
 */
int vb_ctl_read_addr(const struct vb_ctl *c, char *addr, size_t sz);

/* Logs in to addr with the data dir's credentials; 0 or -1 (e filled). */
int vb_ctl_try_login(struct vb_ctl *c, const char *addr, int timeout_ms,
		     struct vb_client *out, struct vb_err *e);

/*
 * $VIBES_IGGY_USERNAME and $VIBES_IGGY_PASSWORD: both (pointers into the
 * environment), or neither (NULL, NULL); one alone is VB_E_USAGE.  Not
 * used for the memory backend's own server (NULL, NULL).
 */
int vb_ctl_env_credentials(const struct vb_ctl *c, const char **user,
			   const char **pass, struct vb_err *e);

/* Creates the data dir's credentials file if missing (for upstream). */
int vb_ctl_make_credentials(struct vb_ctl *c, struct vb_buf *user,
			    struct vb_buf *pass, struct vb_err *e);

/* Whether a TCP port on 127.0.0.1 can be bound right now. */
int vb_ctl_port_free(const char *host, unsigned port);
/*
 * Whether an explicit WANT with port 0 keeps LAST, the address it had: same
 * host, a real port, free right now.
 */
int vb_ctl_keeps_port(const char *want, const char *last);
/* A port the kernel considers free now (bind to 0, read, close). */
unsigned vb_ctl_pick_port(const char *host);

/*
 * The address for the next spawn: the explicit one, else `last` (the port
 * used before, or 8090) when it is free, else a kernel-chosen port (for
 * upstream, which cannot report one, a port that was free a moment ago).
 */
void vb_ctl_choose_addr(const struct vb_ctl *c, const char *last, char *out,
			size_t sz);

/* The environment an upstream iggy-server reads its settings from. */
void vb_ctl_setenv_upstream(const struct vb_ctl *c, const char *addr,
			    const char *user, const char *pass);

/*
 * "vibes-iggyctl CMD", with "-d DIR" when vibes-iggyctl would not find
 * c's data dir by itself: the next step an error message names.
 */
void vb_ctl_iggyctl_cmd(const struct vb_ctl *c, const char *cmd, char *out,
			size_t sz);

/*
 * server.down: written by `vibes-iggyctl stop` (who, when), removed by an
 * explicit start.  vb_ctl_down_read fills why ("" if absent) and returns
 * whether it exists.
 */
int vb_ctl_down_write(struct vb_ctl *c, struct vb_err *e);
int vb_ctl_down_remove(struct vb_ctl *c, struct vb_err *e);
int vb_ctl_down_read(const struct vb_ctl *c, char *why, size_t sz);

/*
 * Splits "HOST:PORT" (or "[v6]:PORT") with vb_addr_split; returns -1 if
 * malformed or without a port.  The host may be empty (":PORT").
 */
int vb_ctl_split_addr(const char *addr, char *host, size_t hsz, unsigned *port);

#endif
