/*
 * ctl.h - the local server's lifecycle: data dir, pidfile lock, spawn,
 * readiness, supervision, stop, status, credentials; and the one way every
 * vibes tool finds, (auto)starts and logs in to the server.
 *
 * Files in the data dir DIR (DESIGN.md "Data dir"):
 *   server.pid      the daemon's pidfile, flock()ed while it lives.  Liveness
 *                   is always that lock, never kill(pid, 0).
 *   server.addr     "HOST:PORT\n" actually bound, written by the daemon.
 *   server.log      the daemon's stderr and the supervisor's notes.
 *   credentials     "username=...\npassword=...\n", mode 0600.
 *   ctl.lock        flock()ed by start/stop/ensure (and by the supervisor
 *                   while it restarts the daemon): they never interleave.
 *   supervise.lock  the supervisor's pid, flock()ed while it lives.
 *   supervise.state "restarts=N\nlast=...\n" written tmp+rename.
 *
 * Start, in short: take ctl.lock; if server.pid is locked the server is
 * running.  Otherwise fork a supervisor (setsid, its own session) that
 * spawns the daemon with a readiness pipe on fd 3 and reports "ready" back
 * through a pipe; then log in for real with the credentials file.  The
 * supervisor restarts a crashed daemon at least 1 s apart with doubling
 * delays and gives up after VB_CTL_MAX_DEATHS deaths in
 * VB_CTL_DEATH_WINDOW seconds, or at once when it exits 78 (VB_EX_CONFIG).
 */
#ifndef VB_CTL_H
#define VB_CTL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "client/client.h"
#include "wire/wire.h"

/* ---- the connect contract (every tool) ---- */

struct vb_ctl_opts {
	const char *data_dir;	/* NULL: default resolution */
	const char *server;	/* --server value; NULL if not given */
	const char *user;	/* --user; NULL if not given */
	const char *pass;	/* --password; NULL if not given */
	const char *server_bin;	/* NULL: $VIBES_IGGY_SERVER, else the bundled daemon */
	int autostart;		/* -1: from $VIBES_IGGY_AUTOSTART (default on) */
	int timeout_ms;		/* 0: default */
	int protocol;		/* enum vb_proto (--protocol); -1 (init):
				 * $VIBES_IGGY_PROTOCOL, else auto */
};

void vb_ctl_opts_init(struct vb_ctl_opts *o);

/*
 * Finds the server (--server > $VIBES_IGGY_ADDR > DATA/server.addr >
 * 127.0.0.1:8090), the credentials (options > iggy://user:pass@ in the
 * address > $VIBES_IGGY_USERNAME/$VIBES_IGGY_PASSWORD > DATA/credentials >
 * iggy/iggy), connects and logs in, speaking o->protocol (auto: what
 * the address spoke last, else a probe; a ?protocol= in the address wins;
 * vibes(7), "Protocol").  When no server was named explicitly
 * and none answers, starts the bundled one exactly like `vibes-iggyctl
 * ensure` (unless autostart is off), then connects.  timeout_ms bounds the
 * client's calls and the autostart.  c must have been vb_client_init()ed.
 * Errors: VB_E_UNAVAIL (nothing answers), VB_E_AUTH (login refused),
 * VB_E_TIMEOUT, VB_E_IO/VB_E_AUTH for data-dir problems during autostart.
 */
int vb_ctl_connect(struct vb_client *c, const struct vb_ctl_opts *o,
		   struct vb_err *e);

/* ---- lifecycle of one data dir (vibes-iggyctl) ---- */

#define VB_CTL_START_TIMEOUT_MS 15000
#define VB_CTL_STOP_TIMEOUT_MS 10000
#define VB_CTL_MAX_DEATHS 5
#define VB_CTL_DEATH_WINDOW 60

struct vb_ctl {
	struct vb_buf dir;	/* resolved data dir */
	struct vb_buf bin;	/* resolved server binary */
	int upstream;		/* bin is an upstream iggy-server */
	char addr[300];		/* requested "HOST:PORT"; "" = default */
	int addr_explicit;	/* addr came from --addr/--port */
	int start_timeout_ms;
	int stop_timeout_ms;
	/*
	 * After a failed start: the last lines server.log received during
	 * it (empty if none), for the caller to show.
	 */
	struct vb_buf log_tail;
};

void vb_ctl_init(struct vb_ctl *c);
void vb_ctl_release(struct vb_ctl *c);

/*
 * Resolves the data dir (vb_path_data_dir) and the server binary:
 * server_bin, else $VIBES_IGGY_SERVER, else vibes-iggyd next to the running
 * executable, else the installed one, else PATH.  A binary whose name
 * contains "iggy-server", or whose --version does not mention vibes, is
 * treated as upstream.  Nothing is created.
 */
int vb_ctl_setup(struct vb_ctl *c, const char *data_dir,
		 const char *server_bin, struct vb_err *e);
/*
 * Sets the address asked for: addr ("HOST:PORT", may be NULL) and/or port
 * (-1 = not given; else overrides addr's port, 0 = kernel-chosen).  Either makes it explicit: start
 * then fails instead of choosing another port.
 */
int vb_ctl_set_addr(struct vb_ctl *c, const char *addr, int port,
		    struct vb_err *e);

/* Creates the data dir (0700) and checks that it is ours and writable. */
int vb_ctl_prepare_dir(struct vb_ctl *c, struct vb_err *e);

enum vb_ctl_state {
	VB_CTL_STOPPED = 0,	/* no pidfile */
	VB_CTL_STALE,		/* pidfile present, lock free: died uncleanly */
	VB_CTL_RUNNING,		/* pidfile locked */
};

struct vb_ctl_status {
	enum vb_ctl_state state;
	pid_t pid;		/* server pid from the pidfile; 0 if unknown */
	pid_t super_pid;	/* supervisor pid; 0 if none runs */
	unsigned restarts;	/* restarts done by that supervisor */
	char addr[300];		/* server.addr; "" if none */
	time_t started;		/* when the pidfile was written; 0 if unknown */
	uint64_t disk_used;	/* bytes allocated under the data dir */
	int have_stats;		/* stats below are valid */
	struct vb_stats stats;
	char stats_err[256];	/* why stats are missing */
	pid_t stale_pid;	/* vb_ctl_start: a stale pidfile was replaced */
};

/*
 * Probes the pidfile lock and reads server.addr and the supervisor's
 * state.  Fails (VB_E_AUTH or VB_E_IO) only when the state cannot be
 * known (pidfile unreadable).
 */
int vb_ctl_probe(struct vb_ctl *c, struct vb_ctl_status *st,
		 struct vb_err *e);
/* vb_ctl_probe plus disk usage and, if running, get_stats via a login. */
int vb_ctl_status(struct vb_ctl *c, struct vb_ctl_status *st,
		  struct vb_err *e);

enum vb_ctl_start_flags {
	VB_CTL_ENSURE = 1 << 0,	/* already running is success */
};

/*
 * Starts the server under supervision and returns once it accepts a login
 * (st describes it).  Returns 0 when started, 1 when it was already running
 * and VB_CTL_ENSURE was given.  Errors: VB_E_STATE "already running (pid
 * N)" without VB_CTL_ENSURE; VB_E_UNAVAIL when the daemon exited during
 * startup (c->log_tail then holds the last lines of server.log) or the
 * explicit port is taken (naming what holds it); VB_E_TIMEOUT when it was
 * not ready in time (it is then stopped); VB_E_AUTH/VB_E_IO for the data
 * dir (not ours, not writable, disk full).
 */
int vb_ctl_start(struct vb_ctl *c, unsigned flags, struct vb_ctl_status *st,
		 struct vb_err *e);

/*
 * Stops supervision and the server: SIGTERM, wait for the pidfile lock to
 * be released, SIGKILL after stop_timeout_ms.  Returns 0 when it stopped
 * the server, 1 when nothing was running; *killed (may be NULL) tells
 * whether SIGKILL was needed.
 */
int vb_ctl_stop(struct vb_ctl *c, int *killed, struct vb_err *e);

/* vb_ctl_stop then vb_ctl_start under one ctl.lock. */
int vb_ctl_restart(struct vb_ctl *c, struct vb_ctl_status *st,
		   struct vb_err *e);

/*
 * Runs the server in the foreground: execs it with the data dir and
 * address (stderr stays the caller's).  Returns only on failure.
 */
int vb_ctl_run(struct vb_ctl *c, struct vb_err *e);

/*
 * The credentials in use: $VIBES_IGGY_USERNAME/$VIBES_IGGY_PASSWORD, else
 * DATA/credentials, else iggy/iggy.  One of the two variables without the
 * other is an error (VB_E_USAGE).
 */
int vb_ctl_credentials(struct vb_ctl *c, struct vb_buf *user,
		       struct vb_buf *pass, struct vb_err *e);

/*
 * Writes the last n lines of server.log to fd out; with follow, keeps
 * writing what is appended until *stop becomes non-zero (set by a signal
 * handler) or out fails.  A log that shrinks is reread from the start.
 */
int vb_ctl_logs(struct vb_ctl *c, int out, unsigned n, int follow,
		volatile int *stop, struct vb_err *e);

/*
 * The holder of a TCP port on this machine, best effort from
 * /proc/net/tcp{,6} and /proc/PID/fd: "pid 123 (vibes-iggyd)" or "" when
 * unknown.
 */
void vb_ctl_port_holder(unsigned port, char *out, size_t outsz);

#endif
