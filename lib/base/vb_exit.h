/*
 * vb_exit.h - the exit-status contract shared by every vibes command.
 *
 * These numbers are documented in every man page's EXIT STATUS section;
 * changing one is a breaking change.  They follow sysexits(3) where a
 * matching code exists.
 */
#ifndef VB_EXIT_H
#define VB_EXIT_H

enum vb_exit {
	VB_EX_OK = 0,	    /* success */
	VB_EX_PARTIAL = 1,  /* partial failure: some work was done, some not */
	VB_EX_USAGE = 2,    /* bad options or arguments */
	VB_EX_STOPPED = 3,  /* vibes-iggyctl status: server not running */
	VB_EX_DATAERR = 65, /* bad input data (a malformed JSON line, ...) */
	VB_EX_UNAVAILABLE = 69, /* server unavailable */
	VB_EX_IOERR = 74,	/* local I/O error (files, stdout, disk full) */
	VB_EX_TEMPFAIL = 75,	/* temporary failure or timeout: try again */
	VB_EX_NOPERM = 77,	/* authentication or permission refused */
	/*
	 * A setup that cannot work, whatever the retries: for the tools, the
	 * server binary to start is missing; for the daemon, a permanent
	 * failure that a supervisor must not retry (address in use, data dir
	 * locked by another server, bad configuration).  Any other non-zero
	 * daemon exit is a crash.
	 */
	VB_EX_CONFIG = 78,
};

#endif
