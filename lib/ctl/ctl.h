/*
 * ctl.h - the local server's lifecycle: data dir, pidfile lock, spawn,
 * readiness, supervision, health, stop, status, credentials; and the one
 * way every vibes tool finds, (auto)starts and logs in to the server.
 *
 * Files in the data dir DIR (DESIGN.md "Data dir"):
 *   server.pid      the daemon's pidfile, flock()ed while it lives.  Liveness
 *                   is always that lock, never kill(pid, 0).
 *   server.addr     "HOST:PORT\n" actually bound, written by the daemon.
 *   http.addr       the same for the HTTP API (absent without one).
 *   server.tls      the certificate file of a TLS port (absent when plain),
 *                   written by the daemon (by ctl for an upstream server).
 *   server.log      the daemon's stderr and the supervisor's notes.
 *   server.down     written by vb_ctl_stop (`vibes-iggyctl stop`), removed
 *                   by an explicit start: while it exists no tool starts the
 *                   server by itself (runit's ./down file).
 *   credentials     "username=...\npassword=...\n", mode 0600.
 *   ctl.lock        flock()ed by start/stop/ensure (and by the supervisor
 *                   while it restarts the daemon): they never interleave.
 *   supervise.lock  the supervisor's pid, flock()ed while it lives.
 *   supervise.state "key=value" lines written tmp+rename: pid, server_pid,
 *                   restarts, addr, ready, last_exit, and gave_up (why it
 *                   ended supervision) once it gave up.
 *
 * Start, in short: take ctl.lock; if server.pid is locked the server is
 * running.  Otherwise start the supervisor, vibes-supervise (its own
 * program, exec'd in its own session, so that `ps` names it), which
 * spawns the daemon with a readiness pipe on fd 3 and reports "ready" back
 * through a pipe; then log in for real with the credentials file.  The
 * supervisor restarts a crashed daemon at least 1 s apart with doubling
 * delays and gives up after VB_CTL_MAX_DEATHS deaths in
 * VB_CTL_DEATH_WINDOW seconds, or at once when it exits 78 (VB_EX_CONFIG).
 * It pings a ready daemon every VB_CTL_PING_INTERVAL_MS and kills (and so
 * restarts) one that answered no ping for VB_CTL_HANG_MS.
 */
#ifndef VB_CTL_H
#define VB_CTL_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "client/client.h"
#include "wire/wire.h"

/* Environment: "memory" puts the data dir in memory (vb_ctl_data_dir). */
#define VB_ENV_BACKEND "VIBES_EVENT_BACKEND"
/* Environment: the server's address; 0 keeps the tools from starting one. */
#define VB_ENV_ADDR "VIBES_IGGY_ADDR"
#define VB_ENV_AUTOSTART "VIBES_IGGY_AUTOSTART"
/* Environment: credentials, both or neither. */
#define VB_ENV_USERNAME "VIBES_IGGY_USERNAME"
#define VB_ENV_PASSWORD "VIBES_IGGY_PASSWORD"

/* ---- the connect contract (every tool) ---- */

/* What vb_ctl_connect did that a user may want to hear of. */
enum vb_ctl_note {
	/* it started the server: "started the server: pid N, ADDR, data dir DIR" */
	VB_CTL_NOTE_STARTED,
	/* wait_down: it waits for a server stopped by `vibes-iggyctl stop` */
	VB_CTL_NOTE_WAITING,
};

struct vb_ctl_opts {
	const char *data_dir; /* NULL: default resolution */
	const char *
		server; /* --server value (address, URL or profile name); NULL if not given */
	const char *user;   /* --user; NULL if not given */
	const char *pass;   /* --password; NULL if not given */
	const char *tls_ca; /* --tls-ca; NULL: $VIBES_IGGY_TLS_CA, system */
	const char *
		server_bin; /* NULL: $VIBES_IGGY_SERVER, else the bundled daemon */
	int autostart;	    /* -1: from $VIBES_IGGY_AUTOSTART (default on) */
	int timeout_ms;	    /* 0: default */
	int protocol;	    /* enum vb_proto (--protocol); -1 (init):
				 * $VIBES_IGGY_PROTOCOL, else auto */
	/*
	 * A server stopped by `vibes-iggyctl stop` (DATA/server.down): 0
	 * fails at once (VB_E_DOWN); 1 waits until `vibes-iggyctl start`
	 * (a follower), telling notice once, or until *stop is set.
	 */
	int wait_down;
	volatile sig_atomic_t *stop; /* may be NULL */
	/* Told what was done (one line, no program name); may be NULL. */
	void (*notice)(void *arg, enum vb_ctl_note what, const char *msg);
	void *notice_arg;
};

void vb_ctl_opts_init(struct vb_ctl_opts *o);

/*
 * Finds the server (--server > $VIBES_IGGY_ADDR > DATA/server.addr >
 * 127.0.0.1:8090), the credentials (options > iggy://user:pass@ in the
 * address > the profile's credentials file > $VIBES_IGGY_USERNAME and
 * $VIBES_IGGY_PASSWORD (both or neither: one alone is VB_E_USAGE) >
 * DATA/credentials > iggy/iggy), connects and logs in, speaking o->protocol
 * (auto: what the address spoke last, else a probe; a ?protocol= in the
 * address wins; vibes(7), "Protocol").  A --server value
 * without ':' or '/' is a profile name (vb_ctl_profile_find).  With
 * VIBES_EVENT_BACKEND=memory only --server names another server than the
 * memory data dir's, and the environment's credentials are not used.
 *
 * When no server was named explicitly and none answers, starts the bundled
 * one exactly like `vibes-iggyctl ensure` (unless autostart is off, or the
 * server was stopped by `vibes-iggyctl stop`: see wait_down), then
 * connects.  timeout_ms bounds the client's calls and the autostart.  c
 * must have been vb_client_init()ed.  Errors: VB_E_USAGE (an address in a
 * scheme vibes does not speak, a bad profile, credentials half in the
 * environment), VB_E_UNAVAIL (nothing answers), VB_E_DOWN (stopped by
 * `vibes-iggyctl stop`), VB_E_AUTH (login refused; when the data dir's own
 * server is not running the message says so and how to start it),
 * VB_E_TIMEOUT, VB_E_IO/VB_E_AUTH for data-dir problems during autostart.
 *
 * An address from DATA/server.addr with a DATA/server.tls beside it is
 * spoken to over TLS, trusting exactly the certificate named there; any
 * other takes its TLS from the URL, with the CA file from tls_ca > the
 * URL's tls_ca_file > $VIBES_IGGY_TLS_CA > the system's store.
 */
int vb_ctl_connect(struct vb_client *c, const struct vb_ctl_opts *o,
		   struct vb_err *e);

/*
 * The data dir: opt when given, else with $VIBES_EVENT_BACKEND=memory the
 * memory one ($XDG_RUNTIME_DIR/vibes/memory, else /dev/shm/vibes-UID/memory:
 * tmpfs, shared by the user's processes, gone at reboot), else
 * vb_path_data_dir.  *memory (may be NULL) says the memory one was chosen.
 * Another value of the variable than "memory" or "disk" is VB_E_USAGE.
 */
int vb_ctl_data_dir(struct vb_buf *out, const char *opt, int *memory,
		    struct vb_err *e);

/* ---- server profiles ($XDG_CONFIG_HOME/vibes/servers) ---- */

/*
 * The file holds one profile a line, "NAME URL [CREDENTIALS-FILE]",
 * fields separated by blanks; blank lines and lines starting with '#' are
 * skipped.  NAME is letters, digits, '.', '_' and '-'; URL is iggy://,
 * tcp:// or HOST:PORT (vb_client_set_addr); CREDENTIALS-FILE is a
 * credentials file (username=, password=) readable by its owner only,
 * "~/" meaning $HOME and a relative path the file's own directory.
 */
struct vb_ctl_profile {
	struct vb_buf file; /* the servers file */
	unsigned line;	    /* the profile's line */
	struct vb_buf url;
	struct vb_buf creds; /* credentials file; empty if none */
};

void vb_ctl_profile_init(struct vb_ctl_profile *p);
void vb_ctl_profile_release(struct vb_ctl_profile *p);
/* Whether a --server value names a profile (no ':' and no '/'). */
int vb_ctl_is_profile_name(const char *s);
/* The servers file: $XDG_CONFIG_HOME/vibes/servers, else ~/.config/... */
int vb_ctl_profiles_file(struct vb_buf *out, struct vb_err *e);
/*
 * Finds profile name in the servers file.  Every malformed line is an
 * error naming FILE:LINE (VB_E_USAGE), as is a name that is not there (the
 * message lists the names that are) or a missing file.
 */
int vb_ctl_profile_find(const char *name, struct vb_ctl_profile *p,
			struct vb_err *e);
/*
 * Reads the profile's credentials file: 0, or -1 naming FILE:LINE and the
 * credentials file (missing, incomplete, readable by others: VB_E_AUTH).
 */
int vb_ctl_profile_credentials(const struct vb_ctl_profile *p,
			       struct vb_buf *user, struct vb_buf *pass,
			       struct vb_err *e);

/* ---- lifecycle of one data dir (vibes-iggyctl) ---- */

#define VB_CTL_START_TIMEOUT_MS 15000
#define VB_CTL_STOP_TIMEOUT_MS 10000
#define VB_CTL_MAX_DEATHS 5
#define VB_CTL_DEATH_WINDOW 60
/* Health: a ready server is pinged this often; each ping may take this. */
#define VB_CTL_PING_INTERVAL_MS 2000
#define VB_CTL_PING_TIMEOUT_MS 2000
/* No answer for this long: the supervisor kills and restarts it. */
#define VB_CTL_HANG_MS 10000

struct vb_ctl {
	struct vb_buf dir;   /* resolved data dir */
	struct vb_buf bin;   /* resolved server binary */
	struct vb_buf super; /* the supervisor, vibes-supervise */
	int upstream;	     /* bin is an upstream iggy-server */
	int memory;	     /* dir is the memory backend's: no fsync */
	char addr[300];	     /* requested "HOST:PORT"; "" = default */
	int addr_explicit;   /* addr came from --addr/--port */
	char http_addr[300]; /* requested HTTP "HOST:PORT"; "" = default */
	int http_explicit;   /* http_addr came from --http */
	int no_http;	     /* --no-http */
	/* TLS for the server started: vb_ctl_set_tls, else the environment */
	char tls_cert[1024]; /* absolute; "" plain */
	char tls_key[1024];  /* absolute; "" the certificate's file */
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
 * Resolves the data dir (vb_ctl_data_dir) and the server binary:
 * server_bin, else $VIBES_IGGY_SERVER, else vibes-iggyd next to the running
 * executable, else the installed one, else PATH.  A binary whose name
 * contains "iggy-server", or whose --version does not mention vibes, is
 * treated as upstream.  The supervisor, vibes-supervise, is looked for next
 * to the running executable, next to the server binary, in the installed
 * libexecdir, then in PATH.  Nothing is created.
 */
int vb_ctl_setup(struct vb_ctl *c, const char *data_dir, const char *server_bin,
		 struct vb_err *e);
/*
 * Sets the address asked for: addr ("HOST:PORT", may be NULL) and/or port
 * (-1 = not given; else overrides addr's port, 0 = kernel-chosen).  Either makes it explicit: start
 * then fails instead of choosing another port.
 */
int vb_ctl_set_addr(struct vb_ctl *c, const char *addr, int port,
		    struct vb_err *e);

/*
 * The HTTP API's address (--http; addr NULL: not given), or none (off).
 * Not given, the server gets the HTTP port it had (DATA/http.addr) if
 * free, else 127.0.0.1:3000 if free, else one of the kernel's choice;
 * given, it must be free (port 0: the kernel's choice).  The bundled
 * server only: an upstream iggy-server runs without HTTP.
 */
int vb_ctl_set_http(struct vb_ctl *c, const char *addr, int off,
		    struct vb_err *e);
/* DATA/http.addr; 1 when present, 0 when missing or empty. */
int vb_ctl_read_http_addr(const struct vb_ctl *c, char *addr, size_t sz);
/*
 * Logs in to the HTTP API on addr (POST /users/login) with the data dir's
 * credentials: the access token and its expiry (Unix seconds).  Errors:
 * VB_E_UNAVAIL, VB_E_TIMEOUT, VB_E_AUTH (refused), VB_E_PROTO.
 */
/*
 * The URL of the HTTP API on addr (into url, reset first): http://ADDR,
 * or https:// when the server has TLS (DATA/server.tls; *cert is then
 * its certificate's path, else "").  A client such as curl checks the
 * certificate's name against the URL's host: when the certificate does
 * not name addr's loopback IP but names "localhost", the URL says
 * localhost; when it names neither, *named is 0 (else 1).
 */
void vb_ctl_http_url(const struct vb_ctl *c, const char *addr,
		     struct vb_buf *url, char *cert, size_t sz, int *named);
int vb_ctl_http_login(struct vb_ctl *c, const char *addr, int timeout_ms,
		      struct vb_buf *token, uint64_t *expiry, struct vb_err *e);
/*
 * TLS for the servers this vb_ctl starts: the certificate chain and key
 * (PEM; key NULL: in the certificate's file), made absolute.  Not called,
 * vb_ctl_setup took $VIBES_IGGY_TLS_CERT and $VIBES_IGGY_TLS_KEY, else the
 * server is plain.  The bundled server gets --tls-cert/--tls-key, an
 * upstream iggy-server IGGY_TCP_TLS_ENABLED/_CERT_FILE/_KEY_FILE and
 * the same for IGGY_HTTP_TLS_* (the bundled one's HTTP API is HTTPS).
 */
int vb_ctl_set_tls(struct vb_ctl *c, const char *cert, const char *key,
		   struct vb_err *e);
/* DATA/server.tls: the certificate of a TLS port; 1 when present. */
int vb_ctl_read_tls(const struct vb_ctl *c, char *cert, size_t sz);
/*
 * After vb_client_set_addr of the data dir's own address: TLS trusting
 * exactly that certificate when DATA/server.tls names one.
 */
void vb_ctl_local_tls(const struct vb_ctl *c, struct vb_client *cl);
/*
 * The same for a tool: TLS as vb_ctl_local_tls, else the local socket
 * DATA/server.sock first (vibes-iggyd(8)), host:port when it does not
 * answer.  Health checks use vb_ctl_local_tls: they check the port.
 */
void vb_ctl_local_server(const struct vb_ctl *c, struct vb_client *cl);

/* Creates the data dir (0700) and checks that it is ours and writable. */
int vb_ctl_prepare_dir(struct vb_ctl *c, struct vb_err *e);

enum vb_ctl_state {
	VB_CTL_STOPPED = 0, /* no pidfile */
	VB_CTL_STALE,	    /* pidfile present, lock free: died uncleanly */
	VB_CTL_RUNNING,	    /* pidfile locked */
};

struct vb_ctl_status {
	enum vb_ctl_state state;
	pid_t pid;	   /* server pid from the pidfile; 0 if unknown */
	pid_t super_pid;   /* supervisor pid; 0 if none runs */
	unsigned restarts; /* restarts done by that supervisor */
	int starting;	   /* that supervisor has not seen it ready yet */
	/*
	 * No supervisor runs and the last one gave up: why, as it recorded
	 * ("5 deaths within 60 s; the last: server exited with status 1").
	 */
	char gave_up[256];
	/* DATA/server.down: who stopped it and when; "" if not there. */
	char down[256];
	/* It was written after the last server started: it is why it is down. */
	int down_last;
	char addr[300];	     /* server.addr; "" if none */
	char http_addr[300]; /* http.addr; "" if none */
	time_t started;	     /* when the pidfile was written; 0 if unknown */
	uint64_t disk_used;  /* bytes allocated under the data dir */
	int have_stats;	     /* stats below are valid */
	struct vb_stats stats;
	char stats_err[256]; /* why stats are missing */
	/*
	 * vb_ctl_status, running: whether it answered a PING within
	 * VB_CTL_PING_TIMEOUT_MS; if not, why, and its /proc state letter
	 * ('T' when stopped by a signal; 0 if unknown).
	 */
	int answering;
	char ping_err[256];
	char proc_state;
	pid_t stale_pid; /* vb_ctl_start: a stale pidfile was replaced */
};

/*
 * Probes the pidfile lock and reads server.addr, server.down and the
 * supervisor's state.  Fails (VB_E_AUTH or VB_E_IO) only when the state
 * cannot be known (pidfile unreadable).
 */
int vb_ctl_probe(struct vb_ctl *c, struct vb_ctl_status *st, struct vb_err *e);
/*
 * vb_ctl_probe plus disk usage and, if running, a PING (answering) and
 * get_stats via a login.
 */
int vb_ctl_status(struct vb_ctl *c, struct vb_ctl_status *st, struct vb_err *e);

enum vb_ctl_start_flags {
	VB_CTL_ENSURE = 1 << 0, /* already running is success */
	/*
	 * A tool starting it by itself: server.down (`vibes-iggyctl stop`)
	 * refuses with VB_E_DOWN.  Without it an explicit start removes
	 * server.down.
	 */
	VB_CTL_AUTOSTART = 1 << 1,
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
 * Stops supervision and the server: writes server.down (so that no tool
 * starts it again by itself), then SIGTERM, wait for the pidfile lock to
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

/* ---- the supervisor (vibes-supervise) ---- */

/* What vb_ctl_start hands the supervisor on its command line. */
struct vb_ctl_super {
	const char *data_dir; /* absolute */
	const char *server_bin;
	int upstream;		/* server_bin is an upstream iggy-server */
	const char *spawn_addr; /* "HOST:PORT" for the first spawn */
	const char
		*addr; /* the address asked for (kept on restarts); NULL: any */
	const char *
		spawn_http; /* HTTP "HOST:PORT" for the first spawn; NULL: none */
	const char *http;   /* the HTTP address asked for; NULL: any */
	int no_http;	    /* no HTTP API */
	const char *tls_cert; /* TLS on the daemon's port; NULL: plain */
	const char *tls_key;  /* its key; NULL: in tls_cert's file */
	char *const *
		args; /* more arguments for the daemon; NULL-terminated, may be NULL */
	int notify_fd; /* the starter's pipe; -1: none */
};

/*
 * Supervises the daemon until it is stopped (SIGTERM, SIGINT, SIGHUP),
 * exits 0 by itself, or supervision gives up.  Holds supervise.lock,
 * spawns the daemon with its readiness pipe, tells the starter on
 * notify_fd ("super PID", then "ready ADDR PID" or "fail CODE WHY"),
 * restarts it after a crash (spaced, bounded: see the top of this file),
 * pings it once ready and kills one that stops answering, and records all
 * of it in server.log and supervise.state.  Returns 0 when supervision
 * ended as asked, 1 when it gave up or the first start failed, -1 (e
 * filled) when it could not begin (another supervisor holds the lock:
 * VB_E_STATE).  Never returns in a forked child.
 */
int vb_ctl_supervise(const struct vb_ctl_super *o, struct vb_err *e);

/*
 * The holder of a TCP port on this machine, best effort from
 * /proc/net/tcp{,6} and /proc/PID/fd: "pid 123 (vibes-iggyd)" or "" when
 * unknown.
 */
void vb_ctl_port_holder(unsigned port, char *out, size_t outsz);

#endif
