/*
 * lossyfs - a FUSE filesystem that forgets what was never made durable,
 * for power-loss tests (issue 16).  Killing a daemon with SIGKILL leaves
 * the page cache behind, so every write looks durable; a machine that
 * loses power keeps only what was fsync'ed.  lossyfs serves a backing
 * directory through a mount, keeps every change made through the mount
 * apart from the durable state until a sync makes it durable, and on a
 * crash command throws away what was never synced.
 *
 * USAGE
 *   lossyfs [--control SOCKET] [--crash-mode drop|tear|prefix] [--debug]
 *           [--die-with-parent] [-o FUSEOPTS] [--ready-fd FD] [--seed N]
 *           BACKING MOUNTPOINT
 *   lossyfs --ctl SOCKET COMMAND [ARG...]
 *
 *   It runs in the foreground, single-threaded, until the mount goes away
 *   (fusermount3 -u MOUNTPOINT) or it gets SIGTERM, SIGINT or SIGHUP.
 *   --control SOCKET   serve the control protocol below on a Unix socket
 *   --crash-mode MODE  the mode of a crash triggered by SIGUSR1 (drop)
 *   --seed N           the seed of every crash that names none (0)
 *   --ready-fd FD      write "ready\n" on FD once mounted, then close it
 *   --die-with-parent  unmount (as on SIGTERM) when the parent dies
 *   --debug            libfuse's request trace on stderr
 *   -o FUSEOPTS        more mount options; always on: default_permissions,
 *                      fsname=lossyfs, and allow_other when run as root
 *   --ctl SOCKET CMD   send one command line to a running lossyfs, print
 *                      its answer; exit 0 if it begins with "ok", 1 if not
 *   Exit status: 0 after a clean unmount, 1 on a runtime failure, 2 on a
 *   usage error.
 *
 * THE RULES (POSIX read strictly, no journal to lean on)
 *   - Reads through the mount see the current state, as a page cache would.
 *   - A file's data and size (writes, truncates, O_TRUNC, fallocate that
 *     grows it) and its mode and owner become durable when that inode is
 *     fsync'ed or fdatasync'ed, through any handle.
 *   - Directory entries (create, mknod, mkdir, symlink, link, unlink,
 *     rmdir, rename) become durable when the directory that holds them is
 *     fsync'ed.  A rename between two directories becomes durable once
 *     both have been fsync'ed since it; until then a crash shows the old
 *     name.  A new inode is only reachable once an entry for it is
 *     durable: a file whose data was synced but whose name never was is
 *     gone after a crash; a durable name of a file whose data never was
 *     synced is an empty file (or its last synced contents).
 *   - Making an entry durable also makes durable every earlier unsynced
 *     change of the same name (directory, name), as a journal orders
 *     them: "rename a/x b/y; fsync a; create a/x; fsync a" makes the
 *     rename durable with the create, since otherwise the old a/x would
 *     be lost with neither name left.
 *   - Timestamps are kept but not modelled (they are what they were).
 *   - sync(2) and syncfs(2) do not reach a FUSE filesystem: they make
 *     nothing durable here.  The "sync" command below does.
 *   - Unmounting without a crash drops what was never synced, exactly as
 *     "crash drop" would: an unmount is not a sync point here.
 *
 * CRASH MODES (all deterministic: the same operations and the same seed
 * give the same surviving state)
 *   drop    every unsynced change is lost.
 *   tear    as drop, but of each file with unsynced writes, the last of
 *           them survives in part: a prefix of 0..len bytes (random from
 *           the seed, one draw per file in inode order) is written over
 *           the durable contents.  Its earlier unsynced writes are lost,
 *           so if it lies past the durable end of the file, the gap
 *           reads as zeros (as after a reordered writeback).
 *   prefix  the unsynced changes of all files and directories, in the
 *           order they were made, survive up to a random point (keep the
 *           first K of N, K uniform in 0..N): a disk that reorders
 *           nothing but stops.  Each change survives whole or not at all
 *           (a write(2) larger than 1 MiB reaches lossyfs as several).
 *   After a crash the filesystem serves only what survived; every change
 *   through it (and fsync) fails with EIO until it is unmounted.  The
 *   harness then unmounts, mounts again over the same backing directory
 *   and restarts whatever it tests.
 *
 * CONTROL PROTOCOL (--control SOCKET: a SOCK_STREAM Unix socket outside
 * the mount, so the tested program cannot reach it by accident; one
 * command per line, one answer line each but for list; SIGUSR1 = "crash"
 * with the --crash-mode and --seed of the command line)
 *   state                       ok pending=N data=N names=N bytes=N
 *                               inodes=N crashed=0|1 seed=N
 *                               (pending = unsynced operations, of which
 *                               data = writes/truncates/attributes and
 *                               names = directory entry changes; bytes =
 *                               unsynced bytes written)
 *   crash [MODE] [seed=N]       ok crash mode=M seed=N pending=N kept=K
 *                               torn=T    (kept: prefix mode; torn: files
 *                               of which tear mode kept a part of a write;
 *                               sent once the kernel dropped its cached
 *                               pages and attributes: from then on no
 *                               read sees what was lost)
 *   sync                        ok sync committed=N   (everything durable,
 *                               in order, as if each file and directory
 *                               were fsync'ed)
 *   list                        ok N, then N lines: the unsynced
 *                               operations in order, by current path:
 *                               "write PATH off=O len=L", "trunc PATH
 *                               size=S", "attr PATH mode=M uid=U gid=G",
 *                               "link|unlink PATH", "rename PATH -> PATH",
 *                               "exchange PATH <-> PATH"; a name change
 *                               ends in " waits=DIR[,DIR]" (the
 *                               directories not fsync'ed since)
 *   anything else, or after a crash: error WHY
 *
 * THE BACKING DIRECTORY B (its own layout, not a plain tree)
 *   B/lossyfs.ns     the durable namespace, a text file replaced with
 *                    rename: "lossyfs 1", "next N" (the next inode
 *                    number; numbers are never reused), one line per
 *                    durable inode "i INO MODE(octal) UID GID SEC NSEC
 *                    [TARGET]" (TARGET: symlinks), then one per durable
 *                    entry "e DIRINO INO NAME"; NAME and TARGET escape
 *                    '\' as "\\" and newline as "\n".  Inode 1 is the root.
 *   B/data/INO       the contents of each regular file
 *   B/lossyfs.undo   scratch while mounted: the bytes unsynced writes and
 *                    truncates overwrote
 *   B/lossyfs.lock   flock'ed while mounted: one lossyfs per B
 *   An empty B starts an empty filesystem (the root takes B's mode and
 *   owner); a B holding anything else is refused.  While mounted, B/data
 *   holds the current contents and lossyfs keeps an undo record (old size,
 *   overwritten bytes) of each unsynced data change; a crash or unmount
 *   plays them back, so at rest B holds exactly the durable state.  (If
 *   lossyfs itself is SIGKILLed the undo records die with it: B/data then
 *   keeps the unsynced contents.)  lossyfs does not fsync B: it simulates
 *   a power loss, it does not survive one.
 *
 * THROUGH FUSE (Linux 6.x, libfuse 3.14, no writeback cache, attribute
 * and entry timeouts 0): read/write/pread/pwrite, O_APPEND, O_TRUNC,
 * ftruncate, fsync, fdatasync, fsync of a directory, rename (also
 * RENAME_NOREPLACE and RENAME_EXCHANGE), link, symlink, mkdir, rmdir,
 * readdir, stat, sendfile and splice (from the page cache), read-only and
 * private mmap, shared writable mmap (the pages reach lossyfs as writes
 * when the kernel writes them back; msync(MS_SYNC) is an fsync), O_DIRECT,
 * copy_file_range (the kernel falls back to read and write), flock and
 * fcntl locks (kept by the kernel, local to this mount), fallocate mode 0
 * and FALLOC_FL_KEEP_SIZE, mkfifo.  Not supported: other fallocate modes
 * (EOPNOTSUPP), xattrs, O_TMPFILE, device nodes.
 */
#define FUSE_USE_VERSION 312

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/tree.h>
#include <sys/un.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/banned.h"

/* libbsd leaves __unused undefined (glibc has a struct member of that
 * name); RB_GENERATE_STATIC needs it for the functions we do not call. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif

/* The two states every inode and directory has: current and durable. */
enum { V = 0, D = 1 };

enum op_kind {
	OP_WRITE,    /* data: bytes written at off */
	OP_TRUNC,    /* data: size set to off */
	OP_ATTR,     /* data: mode, uid, gid set */
	OP_LINK,     /* name: dir[0]/name[0] -> ino */
	OP_UNLINK,   /* name: dir[0]/name[0] no longer -> ino */
	OP_RENAME,   /* name: dir[0]/name[0] -> dir[1]/name[1], ino */
	OP_EXCHANGE, /* name: dir[0]/name[0] (ino) <-> dir[1]/name[1] */
};

enum crash_mode { CRASH_DROP, CRASH_TEAR, CRASH_PREFIX };
static const char *const mode_names[] = { "drop", "tear", "prefix" };

struct inode;

/*
 * One unsynced change.  Every op is on the global list in the order it
 * was made; a data op is also on its inode's list, a name op on the list
 * of name ops.  A data op is undone from B/data (it was applied there at
 * once), a name op is applied to the durable namespace when committed.
 */
struct op {
	TAILQ_ENTRY(op) all;
	TAILQ_ENTRY(op) sub;
	enum op_kind kind;
	struct inode *ip; /* data ops: the inode */
	off_t off;	  /* WRITE: offset; TRUNC: new size */
	off_t len;	  /* WRITE: length */
	off_t oldsize;	  /* data ops: the size before */
	off_t saved;	  /* where in B/lossyfs.undo the old bytes are */
	off_t savedlen;
	mode_t mode; /* ATTR */
	uid_t uid;
	gid_t gid;
	uint64_t ino, ino2; /* name ops: the subject(s) */
	uint64_t dir[2];
	char *name[2];
	int need[2]; /* dir[i] has not been fsync'ed since */
	int mark;
};
TAILQ_HEAD(opq, op);

struct dent {
	RB_ENTRY(dent) rb;
	char *name;
	uint64_t ino;
};
RB_HEAD(dtree, dent);

static int dent_cmp(struct dent *a, struct dent *b)
{
	return strcmp(a->name, b->name);
}
RB_GENERATE_STATIC(dtree, dent, rb, dent_cmp)

struct inode {
	RB_ENTRY(inode) rb;
	uint64_t ino;
	mode_t mode[2];
	uid_t uid[2];
	gid_t gid[2];
	struct timespec atime, mtime, ctime;
	char *target;	      /* symlinks */
	off_t size;	      /* regular files: current size */
	int fd;		      /* B/data/INO, opened when needed */
	uint64_t nlookup;     /* the kernel's references */
	unsigned nopen;	      /* open handles */
	unsigned nsrefs;      /* pending name ops naming this inode */
	unsigned links[2];    /* entries naming it, in each state */
	unsigned subdirs[2];  /* directories: entries that are directories */
	uint64_t vparent;     /* directories: the current parent */
	struct dtree ents[2]; /* directories: entries in each state */
	struct opq ops;	      /* pending data ops */
	int dead;	      /* gone from both states; data deleted */
	int reach;
};
RB_HEAD(itree, inode);

static int inode_cmp(struct inode *a, struct inode *b)
{
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}
RB_GENERATE_STATIC(itree, inode, rb, inode_cmp)

/* An open file or directory; a directory's listing is a snapshot. */
struct handle {
	TAILQ_ENTRY(handle) link;
	uint64_t ino;
	int flags;
	size_t n;
	struct snapent {
		char *name;
		uint64_t ino;
		mode_t mode;
	} * ents;
};
TAILQ_HEAD(handleq, handle);

/* One filesystem per process: the FUSE callbacks reach it here. */
static struct {
	int bfd, datafd, undofd;
	off_t undo_end;
	size_t nsaved;
	struct itree inodes;
	uint64_t next_ino;
	struct opq all, ns;
	size_t npending, ndata, nns;
	uint64_t unsynced_bytes;
	int crashed;
	int ns_dirty;
	uint64_t seed;
	enum crash_mode mode;
	struct fuse_session *se;
	struct handleq handles;
	pthread_t inval;
	int inval_running;
	int inval_done[2]; /* the thread says it is done here */
	uint64_t *inval_inos;
	size_t inval_n;
} L;

#define ROOT_INO 1
#define UNDO_NAME "lossyfs.undo"
#define NS_NAME "lossyfs.ns"
#define NS_TMP "lossyfs.ns.tmp"
#define LOCK_NAME "lossyfs.lock"

/* ------------------------------------------------------------------ */
/* Small helpers */

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in 0..n-1 (n > 0); the modulo bias is below 2^-40 here. */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int pread_all(int fd, char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* Copies len bytes from in at inoff to out at outoff. */
static int copy_bytes(int in, off_t inoff, int out, off_t outoff, off_t len)
{
	static char buf[65536];

	while (len > 0) {
		size_t n = len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf);

		if (pread_all(in, buf, n, inoff) < 0 ||
		    pwrite_all(out, buf, n, outoff) < 0)
			return -1;
		inoff += (off_t)n;
		outoff += (off_t)n;
		len -= (off_t)n;
	}
	return 0;
}

static void data_name(char *buf, size_t n, uint64_t ino)
{
	snprintf(buf, n, "%" PRIu64, ino);
}

/* ------------------------------------------------------------------ */
/* Inodes and the two namespaces */

static struct inode *ifind(uint64_t ino)
{
	struct inode key;

	key.ino = ino;
	return RB_FIND(itree, &L.inodes, &key);
}

/* The live inode ino, or NULL. */
static struct inode *iget(uint64_t ino)
{
	struct inode *ip = ifind(ino);

	return ip != NULL && !ip->dead ? ip : NULL;
}

static struct inode *inode_alloc(uint64_t ino, mode_t mode, uid_t uid,
				 gid_t gid)
{
	struct inode *ip = calloc(1, sizeof(*ip));

	if (ip == NULL)
		return NULL;
	ip->ino = ino;
	ip->mode[V] = ip->mode[D] = mode;
	ip->uid[V] = ip->uid[D] = uid;
	ip->gid[V] = ip->gid[D] = gid;
	ip->fd = -1;
	ip->vparent = ROOT_INO;
	RB_INIT(&ip->ents[V]);
	RB_INIT(&ip->ents[D]);
	TAILQ_INIT(&ip->ops);
	now(&ip->mtime);
	ip->atime = ip->ctime = ip->mtime;
	RB_INSERT(itree, &L.inodes, ip);
	return ip;
}

static struct dent *ns_get(struct inode *dp, int w, const char *name)
{
	struct dent key;

	key.name = (char *)name;
	return RB_FIND(dtree, &dp->ents[w], &key);
}

static void ns_count(struct inode *dp, int w, uint64_t ino, int delta)
{
	struct inode *ip = ifind(ino);

	if (ip == NULL)
		return;
	ip->links[w] += (unsigned)delta;
	if (S_ISDIR(ip->mode[V]))
		dp->subdirs[w] += (unsigned)delta;
}

static void ns_del(struct inode *dp, int w, const char *name)
{
	struct dent *d = ns_get(dp, w, name);

	if (d == NULL)
		return;
	RB_REMOVE(dtree, &dp->ents[w], d);
	ns_count(dp, w, d->ino, -1);
	free(d->name);
	free(d);
}

/* dp/name -> ino in state w, replacing what it named. */
static int ns_set(struct inode *dp, int w, const char *name, uint64_t ino)
{
	struct dent *d = ns_get(dp, w, name);
	struct inode *ip;

	if (d != NULL) {
		ns_count(dp, w, d->ino, -1);
	} else {
		d = calloc(1, sizeof(*d));
		if (d == NULL || (d->name = strdup(name)) == NULL) {
			free(d);
			return -1;
		}
		RB_INSERT(dtree, &dp->ents[w], d);
	}
	d->ino = ino;
	ns_count(dp, w, ino, 1);
	ip = ifind(ino);
	if (w == V && ip != NULL && S_ISDIR(ip->mode[V]))
		ip->vparent = dp->ino;
	return 0;
}

static void ns_clear(struct inode *dp, int w)
{
	struct dent *d;

	while ((d = RB_MIN(dtree, &dp->ents[w])) != NULL)
		ns_del(dp, w, d->name);
}

static int inode_fd(struct inode *ip)
{
	char name[32];

	if (ip->fd >= 0)
		return ip->fd;
	data_name(name, sizeof(name), ip->ino);
	ip->fd = openat(L.datafd, name, O_RDWR | O_CLOEXEC);
	if (ip->fd < 0)
		warn("cannot open data file %s", name);
	return ip->fd;
}

static void inode_close(struct inode *ip)
{
	if (ip->fd >= 0 && ip->nopen == 0 && TAILQ_EMPTY(&ip->ops)) {
		close(ip->fd);
		ip->fd = -1;
	}
}

static void inode_free(struct inode *ip)
{
	ns_clear(ip, V);
	ns_clear(ip, D);
	RB_REMOVE(itree, &L.inodes, ip);
	if (ip->fd >= 0)
		close(ip->fd);
	free(ip->target);
	free(ip);
}

/* ------------------------------------------------------------------ */
/* The log of unsynced operations */

static int is_data(enum op_kind k)
{
	return k == OP_WRITE || k == OP_TRUNC || k == OP_ATTR;
}

static void ref(uint64_t ino, int delta)
{
	struct inode *ip = ino != 0 ? ifind(ino) : NULL;

	if (ip != NULL)
		ip->nsrefs += (unsigned)delta;
}

static void maybe_gc(struct inode *ip);

static void op_free(struct op *o)
{
	TAILQ_REMOVE(&L.all, o, all);
	L.npending--;
	if (is_data(o->kind)) {
		TAILQ_REMOVE(&o->ip->ops, o, sub);
		L.ndata--;
		if (o->kind == OP_WRITE)
			L.unsynced_bytes -= (uint64_t)o->len;
		if (o->savedlen > 0 && --L.nsaved == 0) {
			/* Nothing refers to the undo file any more. */
			if (ftruncate(L.undofd, 0) < 0)
				warn("cannot truncate " UNDO_NAME);
			L.undo_end = 0;
		}
		free(o);
		return;
	}
	TAILQ_REMOVE(&L.ns, o, sub);
	L.nns--;
	ref(o->ino, -1);
	ref(o->ino2, -1);
	ref(o->dir[0], -1);
	ref(o->dir[1], -1);
	free(o->name[0]);
	free(o->name[1]);
	uint64_t refs[4] = { o->ino, o->ino2, o->dir[0], o->dir[1] };
	free(o);
	for (int i = 0; i < 4; i++) {
		struct inode *ip = refs[i] != 0 ? ifind(refs[i]) : NULL;

		if (ip != NULL)
			maybe_gc(ip);
	}
}

static void op_queue(struct op *o)
{
	TAILQ_INSERT_TAIL(&L.all, o, all);
	L.npending++;
	if (is_data(o->kind)) {
		TAILQ_INSERT_TAIL(&o->ip->ops, o, sub);
		L.ndata++;
		if (o->savedlen > 0)
			L.nsaved++;
		if (o->kind == OP_WRITE)
			L.unsynced_bytes += (uint64_t)o->len;
	} else {
		TAILQ_INSERT_TAIL(&L.ns, o, sub);
		L.nns++;
		ref(o->ino, 1);
		ref(o->ino2, 1);
		ref(o->dir[0], 1);
		ref(o->dir[1], 1);
	}
}

/* Queues a name op; returns -1 (ENOMEM) if it cannot. */
static int ns_op(enum op_kind k, uint64_t dir0, const char *name0,
		 uint64_t dir1, const char *name1, uint64_t ino, uint64_t ino2)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o == NULL || (o->name[0] = strdup(name0)) == NULL ||
	    (name1 != NULL && (o->name[1] = strdup(name1)) == NULL)) {
		if (o != NULL)
			free(o->name[0]);
		free(o);
		return -1;
	}
	o->kind = k;
	o->dir[0] = dir0;
	o->dir[1] = dir1;
	o->need[0] = 1;
	o->need[1] = dir1 != 0 && dir1 != dir0;
	o->ino = ino;
	o->ino2 = ino2;
	op_queue(o);
	return 0;
}

/* Applies a name op to the durable namespace, by identity. */
static void ns_apply(struct op *o)
{
	struct inode *d0 = ifind(o->dir[0]);
	struct inode *d1 = o->dir[1] != 0 ? ifind(o->dir[1]) : NULL;
	struct dent *e;

	if (d0 == NULL || (o->dir[1] != 0 && d1 == NULL))
		return;
	switch (o->kind) {
	case OP_LINK:
		ns_set(d0, D, o->name[0], o->ino);
		break;
	case OP_UNLINK:
	case OP_RENAME:
		e = ns_get(d0, D, o->name[0]);
		if (e != NULL && e->ino == o->ino)
			ns_del(d0, D, o->name[0]);
		if (o->kind == OP_RENAME)
			ns_set(d1, D, o->name[1], o->ino);
		break;
	case OP_EXCHANGE:
		ns_set(d0, D, o->name[0], o->ino2);
		ns_set(d1, D, o->name[1], o->ino);
		break;
	default:
		break;
	}
	L.ns_dirty = 1;
}

/* Makes one op durable as it stands. */
static void op_commit(struct op *o)
{
	if (o->kind == OP_ATTR) {
		o->ip->mode[D] = o->mode;
		o->ip->uid[D] = o->uid;
		o->ip->gid[D] = o->gid;
		L.ns_dirty = 1;
	} else if (!is_data(o->kind)) {
		ns_apply(o);
	}
	op_free(o);
}

/* Undoes a data op in B/data; the ops after it are undone already. */
static int op_undo(struct op *o)
{
	struct inode *ip = o->ip;
	int fd = inode_fd(ip);

	if (o->kind == OP_ATTR)
		return 0;
	if (fd < 0)
		return -1;
	if (ip->size != o->oldsize && ftruncate(fd, o->oldsize) < 0)
		return -1;
	if (o->savedlen > 0 &&
	    copy_bytes(L.undofd, o->saved, fd, o->off, o->savedlen) < 0)
		return -1;
	ip->size = o->oldsize;
	return 0;
}

static void undo_from(struct inode *ip, struct op *stop)
{
	struct op *o;

	while ((o = TAILQ_LAST(&ip->ops, opq)) != NULL && o != stop) {
		if (op_undo(o) < 0)
			warn("cannot undo a change of inode %" PRIu64, ip->ino);
		op_free(o);
	}
}

/* Drops every unsynced data op of ip; tear: keeps part of its last write. */
static int undo_inode(struct inode *ip, int tear, uint64_t *rng)
{
	struct op *w = NULL, *o;
	char *buf = NULL;
	off_t k = 0, off = 0;
	int torn = 0;

	if (tear)
		TAILQ_FOREACH_REVERSE(o, &ip->ops, opq, sub)
	if (o->kind == OP_WRITE) {
		w = o;
		break;
	}
	if (w != NULL) {
		undo_from(ip, w);
		/* Now B/data holds what w wrote at w->off. */
		k = (off_t)rng_below(rng, (uint64_t)w->len + 1);
		off = w->off;
		buf = malloc(k > 0 ? (size_t)k : 1);
		if (buf == NULL ||
		    pread_all(inode_fd(ip), buf, (size_t)k, off) < 0) {
			warn("cannot read the write to tear");
			k = 0;
		}
		torn = 1;
	}
	undo_from(ip, NULL);
	if (k > 0) {
		if (pwrite_all(inode_fd(ip), buf, (size_t)k, off) < 0)
			warn("cannot write the torn write");
		else if (off + k > ip->size)
			ip->size = off + k;
	}
	free(buf);
	return torn;
}

/* ------------------------------------------------------------------ */
/* Data changes: applied to B/data at once, with an undo record */

static struct op *data_op(struct inode *ip, enum op_kind k)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o != NULL) {
		o->kind = k;
		o->ip = ip;
		o->oldsize = ip->size;
	}
	return o;
}

/* Keeps the bytes [off, off+len) of ip in the undo file for o. */
static int save_range(struct inode *ip, struct op *o, off_t off, off_t len)
{
	if (len <= 0)
		return 0;
	if (copy_bytes(inode_fd(ip), off, L.undofd, L.undo_end, len) < 0) {
		warn("cannot save bytes to " UNDO_NAME);
		return -1;
	}
	o->saved = L.undo_end;
	o->savedlen = len;
	L.undo_end += len;
	return 0;
}

static int data_write(struct inode *ip, const char *buf, size_t len, off_t off)
{
	off_t end = off + (off_t)len;
	struct op *o;
	int fd = inode_fd(ip);

	if (fd < 0)
		return -EIO;
	if (len == 0)
		return 0;
	if ((o = data_op(ip, OP_WRITE)) == NULL)
		return -ENOMEM;
	o->off = off;
	o->len = (off_t)len;
	if (save_range(ip, o, off, (end < ip->size ? end : ip->size) - off)) {
		free(o);
		return -EIO;
	}
	if (pwrite_all(fd, buf, len, off) < 0) {
		warn("cannot write data of inode %" PRIu64, ip->ino);
		free(o);
		return -EIO;
	}
	if (end > ip->size)
		ip->size = end;
	op_queue(o);
	now(&ip->mtime);
	ip->ctime = ip->mtime;
	return 0;
}

static int data_truncate(struct inode *ip, off_t size)
{
	struct op *o;
	int fd;

	if (size == ip->size)
		return 0;
	if ((fd = inode_fd(ip)) < 0)
		return -EIO;
	if ((o = data_op(ip, OP_TRUNC)) == NULL)
		return -ENOMEM;
	o->off = size;
	if (size < ip->size && save_range(ip, o, size, ip->size - size)) {
		free(o);
		return -EIO;
	}
	if (ftruncate(fd, size) < 0) {
		int e = errno;

		free(o);
		return -e;
	}
	ip->size = size;
	op_queue(o);
	now(&ip->mtime);
	ip->ctime = ip->mtime;
	return 0;
}

/* fsync/fdatasync of ip: its data ops become durable. */
static void commit_inode(struct inode *ip)
{
	struct op *o;

	while ((o = TAILQ_FIRST(&ip->ops)) != NULL)
		op_commit(o);
}

/* ------------------------------------------------------------------ */
/* Garbage: inodes gone from both states */

/* Deletes ip's data and forgets it, now if the kernel holds no reference. */
static void inode_kill(struct inode *ip)
{
	char name[32];
	struct op *o;

	if (!ip->dead) {
		while ((o = TAILQ_FIRST(&ip->ops)) != NULL)
			op_free(o);
		if (ip->fd >= 0) {
			close(ip->fd);
			ip->fd = -1;
		}
		if (S_ISREG(ip->mode[V])) {
			data_name(name, sizeof(name), ip->ino);
			if (unlinkat(L.datafd, name, 0) < 0 && errno != ENOENT)
				warn("cannot remove data file %s", name);
		}
		ip->dead = 1;
		ip->size = 0;
	}
	if (ip->nlookup == 0 && ip->nopen == 0)
		inode_free(ip);
}

static void maybe_gc(struct inode *ip)
{
	if (ip->ino == ROOT_INO)
		return;
	if (ip->dead || (ip->links[V] == 0 && ip->links[D] == 0 &&
			 ip->nsrefs == 0 && ip->nopen == 0))
		inode_kill(ip);
}

/* ------------------------------------------------------------------ */
/* The durable namespace file */

static void put_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Undoes put_escaped in place. */
static int unescape(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			s++;
			if (*s == 'n')
				*w++ = '\n';
			else if (*s == '\\')
				*w++ = '\\';
			else
				return -1;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return 0;
}

static int durable(struct inode *ip)
{
	return !ip->dead && (ip->ino == ROOT_INO || ip->links[D] > 0);
}

static int write_ns(void)
{
	struct inode *ip, *cp;
	struct dent *d;
	FILE *f;
	int fd;

	fd = openat(L.bfd, NS_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		warn("cannot write " NS_TMP);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "lossyfs 1\nnext %" PRIu64 "\n", L.next_ino);
	RB_FOREACH(ip, itree, &L.inodes)
	{
		if (!durable(ip))
			continue;
		fprintf(f, "i %" PRIu64 " %o %u %u %lld %ld", ip->ino,
			(unsigned)ip->mode[D], (unsigned)ip->uid[D],
			(unsigned)ip->gid[D], (long long)ip->mtime.tv_sec,
			ip->mtime.tv_nsec);
		if (ip->target != NULL) {
			fputc(' ', f);
			put_escaped(f, ip->target);
		}
		fputc('\n', f);
	}
	RB_FOREACH(ip, itree, &L.inodes)
	{
		if (!durable(ip) || !S_ISDIR(ip->mode[D]))
			continue;
		RB_FOREACH(d, dtree, &ip->ents[D])
		{
			cp = ifind(d->ino);
			if (cp == NULL || !durable(cp))
				continue;
			fprintf(f, "e %" PRIu64 " %" PRIu64 " ", ip->ino,
				d->ino);
			put_escaped(f, d->name);
			fputc('\n', f);
		}
	}
	fd = ferror(f);
	if (fclose(f) != 0 || fd) {
		warn("cannot write " NS_TMP);
		return -1;
	}
	if (renameat(L.bfd, NS_TMP, L.bfd, NS_NAME) < 0) {
		warn("cannot rename " NS_TMP);
		return -1;
	}
	L.ns_dirty = 0;
	return 0;
}

/*
 * Marks what the durable namespace reaches from the root; kills the rest
 * (a crash or a mount: nothing can name them any more).
 */
static void reach_gc(void)
{
	struct inode *ip, *next, *cp;
	struct dent *d;
	uint64_t *stack;
	size_t n = 0, cap = 64;

	RB_FOREACH(ip, itree, &L.inodes)
	ip->reach = 0;
	if ((stack = reallocarray(NULL, cap, sizeof(*stack))) == NULL)
		err(1, "out of memory");
	stack[n++] = ROOT_INO;
	ifind(ROOT_INO)->reach = 1;
	while (n > 0) {
		ip = ifind(stack[--n]);
		RB_FOREACH(d, dtree, &ip->ents[D])
		{
			cp = ifind(d->ino);
			if (cp == NULL || cp->reach)
				continue;
			cp->reach = 1;
			if (!S_ISDIR(cp->mode[D]))
				continue;
			if (n == cap) {
				cap *= 2;
				stack = reallocarray(stack, cap,
						     sizeof(*stack));
				if (stack == NULL)
					err(1, "out of memory");
			}
			stack[n++] = cp->ino;
		}
	}
	free(stack);
	/* Entries of the unreachable first: no count points at a freed one. */
	RB_FOREACH(ip, itree, &L.inodes)
	if (!ip->reach) {
		ns_clear(ip, V);
		ns_clear(ip, D);
	}
	RB_FOREACH_SAFE(ip, itree, &L.inodes, next)
	if (!ip->reach)
		inode_kill(ip);
}

/* The current state becomes the durable one (after a crash or a load). */
static void current_is_durable(void)
{
	struct inode *ip;
	struct dent *d;

	RB_FOREACH(ip, itree, &L.inodes)
	{
		ns_clear(ip, V);
		ip->mode[V] = ip->mode[D];
		ip->uid[V] = ip->uid[D];
		ip->gid[V] = ip->gid[D];
	}
	RB_FOREACH(ip, itree, &L.inodes)
	RB_FOREACH(d, dtree, &ip->ents[D])
	if (ns_set(ip, V, d->name, d->ino) < 0)
		err(1, "out of memory");
}

static int load_fail(const char *what, unsigned line)
{
	warnx("%s: line %u of " NS_NAME ": %s", "bad backing directory", line,
	      what);
	return -1;
}

static int load_ns(FILE *f)
{
	char *line = NULL, *p, *end;
	size_t cap = 0;
	ssize_t len;
	unsigned n = 0;
	int rc = -1;

	while ((len = getline(&line, &cap, f)) > 0) {
		unsigned long long a, b;
		unsigned mode, uid, gid;
		long long sec;
		long nsec;
		int used = 0;
		struct inode *ip, *dp;

		n++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (n == 1) {
			if (strcmp(line, "lossyfs 1") != 0) {
				load_fail("not a lossyfs namespace", n);
				goto out;
			}
		} else if (sscanf(line, "next %llu", &a) == 1) {
			L.next_ino = a;
		} else if (sscanf(line, "i %llu %o %u %u %lld %ld%n", &a, &mode,
				  &uid, &gid, &sec, &nsec, &used) == 6) {
			if (a == 0 || ifind(a) != NULL) {
				load_fail("bad inode number", n);
				goto out;
			}
			ip = inode_alloc(a, mode, uid, gid);
			if (ip == NULL)
				err(1, "out of memory");
			ip->mtime.tv_sec = sec;
			ip->mtime.tv_nsec = nsec;
			ip->atime = ip->ctime = ip->mtime;
			p = line + used;
			if (S_ISLNK(mode)) {
				if (*p++ != ' ' || unescape(p) < 0 ||
				    (ip->target = strdup(p)) == NULL) {
					load_fail("bad symlink", n);
					goto out;
				}
			}
		} else if (sscanf(line, "e %llu %llu%n", &a, &b, &used) == 2 &&
			   line[used] == ' ') {
			p = line + used + 1;
			dp = ifind(a);
			end = p + strlen(p);
			if (dp == NULL || !S_ISDIR(dp->mode[D]) ||
			    ifind(b) == NULL || unescape(p) < 0 || p == end ||
			    ns_get(dp, D, p) != NULL) {
				load_fail("bad entry", n);
				goto out;
			}
			if (ns_set(dp, D, p, b) < 0)
				err(1, "out of memory");
		} else {
			load_fail("unknown record", n);
			goto out;
		}
	}
	if (ifind(ROOT_INO) == NULL || !S_ISDIR(ifind(ROOT_INO)->mode[D])) {
		load_fail("no root directory", n);
		goto out;
	}
	rc = 0;
out:
	free(line);
	return rc;
}

/* B must be empty but for our lock file. */
static int backing_empty(void)
{
	DIR *dir;
	struct dirent *de;
	int fd = openat(L.bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int empty = 1;

	if (fd < 0 || (dir = fdopendir(fd)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, LOCK_NAME) != 0)
			empty = 0;
	closedir(dir);
	return empty;
}

/* Removes the data files of inodes the namespace does not have. */
static void remove_strays(void)
{
	DIR *dir;
	struct dirent *de;
	int fd = openat(L.datafd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (dir = fdopendir(fd)) == NULL)
		err(1, "cannot read the data directory");
	while ((de = readdir(dir)) != NULL) {
		const char *e = NULL;
		long long ino;
		struct inode *ip;

		if (de->d_name[0] == '.')
			continue;
		ino = strtonum(de->d_name, 1, LLONG_MAX, &e);
		ip = e == NULL ? iget((uint64_t)ino) : NULL;
		if (ip == NULL || !S_ISREG(ip->mode[V]))
			if (unlinkat(L.datafd, de->d_name, 0) < 0)
				warn("cannot remove data/%s", de->d_name);
	}
	closedir(dir);
}

static int load(void)
{
	struct stat st;
	struct inode *ip;
	int fd, empty, rc;
	FILE *f;
	char name[32];

	fd = openat(L.bfd, NS_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		warn("cannot open " NS_NAME);
		return -1;
	}
	if (fd < 0) {
		empty = backing_empty();
		if (empty <= 0) {
			warnx("the backing directory is neither empty nor "
			      "made by lossyfs (no " NS_NAME ")");
			return -1;
		}
		if (fstat(L.bfd, &st) < 0)
			return -1;
		ip = inode_alloc(ROOT_INO, S_IFDIR | (st.st_mode & 07777),
				 st.st_uid, st.st_gid);
		if (ip == NULL)
			err(1, "out of memory");
		L.next_ino = ROOT_INO + 1;
	} else {
		if ((f = fdopen(fd, "r")) == NULL)
			err(1, "fdopen");
		L.next_ino = ROOT_INO + 1;
		rc = load_ns(f);
		fclose(f);
		if (rc < 0)
			return -1;
	}
	if (mkdirat(L.bfd, "data", 0700) < 0 && errno != EEXIST) {
		warn("cannot create data");
		return -1;
	}
	L.datafd = openat(L.bfd, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (L.datafd < 0) {
		warn("cannot open data");
		return -1;
	}
	current_is_durable();
	reach_gc();
	RB_FOREACH(ip, itree, &L.inodes)
	{
		if (ip->ino >= L.next_ino)
			L.next_ino = ip->ino + 1;
		if (!S_ISREG(ip->mode[V]))
			continue;
		data_name(name, sizeof(name), ip->ino);
		if (fstatat(L.datafd, name, &st, 0) == 0) {
			ip->size = st.st_size;
			continue;
		}
		/* A file created empty whose data was never written. */
		fd = openat(L.datafd, name, O_WRONLY | O_CREAT | O_CLOEXEC,
			    0600);
		if (fd < 0) {
			warn("cannot create data/%s", name);
			return -1;
		}
		close(fd);
	}
	remove_strays();
	unlinkat(L.bfd, NS_TMP, 0);
	L.undofd = openat(L.bfd, UNDO_NAME,
			  O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (L.undofd < 0) {
		warn("cannot create " UNDO_NAME);
		return -1;
	}
	return write_ns();
}

/* ------------------------------------------------------------------ */
/* Crash */

static void *inval_thread(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < L.inval_n; i++)
		fuse_lowlevel_notify_inval_inode(L.se, L.inval_inos[i], 0, 0);
	if (write(L.inval_done[1], "", 1) != 1)
		warn("cannot wake the main loop");
	return NULL;
}

static void inval_join(void)
{
	if (L.inval_running) {
		pthread_join(L.inval, NULL);
		L.inval_running = 0;
	}
	free(L.inval_inos);
	L.inval_inos = NULL;
	L.inval_n = 0;
}

/*
 * Drops the kernel's cached pages and attributes of every inode it knows.
 * From a thread: an invalidation waits for pages locked by a read that
 * only this (single-threaded) loop can answer.  Returns 0 if the thread
 * runs (it writes to L.inval_done when it is through), -1 if not.
 */
static int invalidate_all(void)
{
	struct inode *ip;
	size_t n = 0;

	inval_join();
	RB_FOREACH(ip, itree, &L.inodes)
	n++;
	L.inval_inos = reallocarray(NULL, n + 1, sizeof(*L.inval_inos));
	if (L.inval_inos == NULL)
		return -1;
	RB_FOREACH(ip, itree, &L.inodes)
	if (ip->nlookup > 0 || ip->ino == ROOT_INO)
		L.inval_inos[L.inval_n++] = ip->ino;
	if (pthread_create(&L.inval, NULL, inval_thread, NULL) != 0) {
		warnx("cannot start the cache invalidation thread");
		return -1;
	}
	L.inval_running = 1;
	return 0;
}

/*
 * The power goes out: what was never synced is lost, but for what the
 * mode keeps.  Fills msg with the answer line (without "ok ").
 */
static void crash(enum crash_mode mode, uint64_t seed, char *msg, size_t n)
{
	uint64_t rng = seed, kept = 0, total = L.npending;
	struct inode *ip, *next;
	struct op *o;
	int torn = 0;

	if (mode == CRASH_PREFIX) {
		kept = rng_below(&rng, total + 1);
		for (uint64_t i = 0; i < kept; i++)
			op_commit(TAILQ_FIRST(&L.all));
	}
	RB_FOREACH_SAFE(ip, itree, &L.inodes, next)
	if (!TAILQ_EMPTY(&ip->ops))
		torn += undo_inode(ip, mode == CRASH_TEAR, &rng);
	while ((o = TAILQ_FIRST(&L.ns)) != NULL)
		op_free(o);
	current_is_durable();
	reach_gc();
	RB_FOREACH(ip, itree, &L.inodes)
	inode_close(ip);
	write_ns();
	L.crashed = 1;
	snprintf(msg, n,
		 "crash mode=%s seed=%" PRIu64 " pending=%" PRIu64
		 " kept=%" PRIu64 " torn=%d",
		 mode_names[mode], seed, total, kept, torn);
}

/* "sync": everything becomes durable, in order. */
static size_t sync_all(void)
{
	size_t n = 0;
	struct op *o;

	while ((o = TAILQ_FIRST(&L.all)) != NULL) {
		op_commit(o);
		n++;
	}
	if (L.ns_dirty)
		write_ns();
	return n;
}

/* ------------------------------------------------------------------ */
/* fsync of a directory */

struct key {
	uint64_t dir;
	const char *name;
};

static int key_hit(const struct key *k, size_t n, const struct op *o)
{
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 2; j++)
			if (o->name[j] != NULL && k[i].dir == o->dir[j] &&
			    strcmp(k[i].name, o->name[j]) == 0)
				return 1;
	return 0;
}

/*
 * The entries of dp become durable: each pending name op in dp no longer
 * waits for it; those that wait for nothing are committed, and with them
 * every earlier op on one of their names (dir, name), so the durable
 * state of each name is always a prefix of its history.
 */
static void commit_dir(struct inode *dp)
{
	struct key *keys = NULL;
	size_t nk = 0, cap = 0;
	struct op *o, *t;

	commit_inode(dp);
	TAILQ_FOREACH(o, &L.ns, sub)
	for (int j = 0; j < 2; j++)
		if (o->dir[j] == dp->ino)
			o->need[j] = 0;
	TAILQ_FOREACH_REVERSE(o, &L.ns, opq, sub)
	{
		o->mark = (!o->need[0] && !o->need[1]) || key_hit(keys, nk, o);
		if (!o->mark)
			continue;
		if (nk + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			keys = reallocarray(keys, cap, sizeof(*keys));
			if (keys == NULL)
				err(1, "out of memory");
		}
		for (int j = 0; j < 2; j++)
			if (o->name[j] != NULL) {
				keys[nk].dir = o->dir[j];
				keys[nk++].name = o->name[j];
			}
	}
	free(keys);
	TAILQ_FOREACH_SAFE(o, &L.ns, sub, t)
	if (o->mark)
		op_commit(o);
	if (L.ns_dirty)
		write_ns();
}

/* ------------------------------------------------------------------ */
/* FUSE operations */

static void fill_stat(const struct inode *ip, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ip->ino;
	st->st_mode = ip->mode[V];
	st->st_nlink = S_ISDIR(ip->mode[V]) ? 2 + ip->subdirs[V] : ip->links[V];
	st->st_uid = ip->uid[V];
	st->st_gid = ip->gid[V];
	if (S_ISREG(ip->mode[V]))
		st->st_size = ip->size;
	else if (S_ISLNK(ip->mode[V]))
		st->st_size = (off_t)strlen(ip->target);
	else if (S_ISDIR(ip->mode[V]))
		st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_atim = ip->atime;
	st->st_mtim = ip->mtime;
	st->st_ctim = ip->ctime;
}

static void reply_entry(fuse_req_t req, struct inode *ip,
			struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.ino = ip->ino;
	e.generation = 1;
	fill_stat(ip, &e.attr);
	rc = fi != NULL ? fuse_reply_create(req, &e, fi) :
			  fuse_reply_entry(req, &e);
	if (rc == 0)
		ip->nlookup++;
}

/* The directory parent, or NULL with *err set. */
static struct inode *get_dir(fuse_ino_t parent, int *error)
{
	struct inode *dp = iget(parent);

	*error = 0;
	if (dp == NULL)
		*error = ENOENT;
	else if (!S_ISDIR(dp->mode[V]))
		*error = ENOTDIR;
	return *error ? NULL : dp;
}

static void lfs_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	/* Every write must reach us before write(2) returns. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void lfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dp, *ip;
	struct dent *d;
	int e;

	if ((dp = get_dir(parent, &e)) == NULL)
		return (void)fuse_reply_err(req, e);
	d = ns_get(dp, V, name);
	if (d == NULL || (ip = iget(d->ino)) == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	reply_entry(req, ip, NULL);
}

static void forget_one(fuse_ino_t ino, uint64_t n)
{
	struct inode *ip = ifind(ino);

	if (ip == NULL)
		return;
	ip->nlookup = n < ip->nlookup ? ip->nlookup - n : 0;
	if (ip->dead)
		inode_kill(ip);
}

static void lfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	forget_one(ino, n);
	fuse_reply_none(req);
}

static void lfs_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void lfs_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);
	struct stat st;

	(void)fi;
	if (ip == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	fill_stat(ip, &st);
	fuse_reply_attr(req, &st, 0.0);
}

static void lfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);
	struct op *o;
	struct stat st;
	int rc;

	(void)fi;
	if (ip == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	if (L.crashed)
		return (void)fuse_reply_err(req, EIO);
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!S_ISREG(ip->mode[V]))
			return (void)fuse_reply_err(req, EINVAL);
		if ((rc = data_truncate(ip, attr->st_size)) < 0)
			return (void)fuse_reply_err(req, -rc);
	}
	if (to_set &
	    (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		if (to_set & FUSE_SET_ATTR_MODE)
			ip->mode[V] = (ip->mode[V] & S_IFMT) |
				      (attr->st_mode & 07777);
		if (to_set & FUSE_SET_ATTR_UID)
			ip->uid[V] = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			ip->gid[V] = attr->st_gid;
		if ((o = data_op(ip, OP_ATTR)) == NULL)
			return (void)fuse_reply_err(req, ENOMEM);
		o->mode = ip->mode[V];
		o->uid = ip->uid[V];
		o->gid = ip->gid[V];
		op_queue(o);
	}
	if (to_set & FUSE_SET_ATTR_ATIME)
		ip->atime = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		now(&ip->atime);
	if (to_set & FUSE_SET_ATTR_MTIME)
		ip->mtime = attr->st_mtim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		now(&ip->mtime);
	now(&ip->ctime);
	fill_stat(ip, &st);
	fuse_reply_attr(req, &st, 0.0);
}

static void lfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *ip = iget(ino);

	if (ip == NULL || ip->target == NULL)
		return (void)fuse_reply_err(req, ip == NULL ? ENOENT : EINVAL);
	fuse_reply_readlink(req, ip->target);
}

/* A new inode named parent/name; NULL with *error set if not. */
static struct inode *make_node(fuse_req_t req, fuse_ino_t parent,
			       const char *name, mode_t mode,
			       const char *target, int *error)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct inode *dp, *ip;
	char dname[32];
	int fd;

	if ((dp = get_dir(parent, error)) == NULL)
		return NULL;
	*error = EIO;
	if (L.crashed)
		return NULL;
	*error = ENOENT;
	if (dp->ino != ROOT_INO && dp->links[V] == 0)
		return NULL;
	*error = ENAMETOOLONG;
	if (strlen(name) > NAME_MAX)
		return NULL;
	*error = EEXIST;
	if (ns_get(dp, V, name) != NULL)
		return NULL;
	*error = ENOMEM;
	ip = inode_alloc(L.next_ino, mode, ctx->uid, ctx->gid);
	if (ip == NULL)
		return NULL;
	L.next_ino++;
	if (dp->mode[V] & S_ISGID) {
		ip->gid[V] = ip->gid[D] = dp->gid[V];
		if (S_ISDIR(mode))
			ip->mode[V] = ip->mode[D] = mode | S_ISGID;
	}
	if (target != NULL && (ip->target = strdup(target)) == NULL)
		goto fail;
	if (S_ISREG(mode)) {
		data_name(dname, sizeof(dname), ip->ino);
		fd = openat(L.datafd, dname,
			    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			*error = errno;
			goto fail;
		}
		ip->fd = fd;
	}
	if (ns_set(dp, V, name, ip->ino) < 0)
		goto fail;
	if (ns_op(OP_LINK, dp->ino, name, 0, NULL, ip->ino, 0) < 0) {
		ns_del(dp, V, name);
		goto fail;
	}
	now(&dp->mtime);
	dp->ctime = dp->mtime;
	*error = 0;
	return ip;
fail:
	inode_kill(ip);
	return NULL;
}

static void lfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	struct inode *ip;
	int e;

	(void)rdev;
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode))
		return (void)fuse_reply_err(req, EPERM);
	if ((ip = make_node(req, parent, name, mode, NULL, &e)) == NULL)
		return (void)fuse_reply_err(req, e);
	reply_entry(req, ip, NULL);
}

static void lfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct inode *ip;
	int e;

	ip = make_node(req, parent, name, S_IFDIR | (mode & 07777), NULL, &e);
	if (ip == NULL)
		return (void)fuse_reply_err(req, e);
	reply_entry(req, ip, NULL);
}

static void lfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	struct inode *ip;
	int e;

	ip = make_node(req, parent, name, S_IFLNK | 0777, link, &e);
	if (ip == NULL)
		return (void)fuse_reply_err(req, e);
	reply_entry(req, ip, NULL);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
		      int dir)
{
	struct inode *dp, *ip;
	struct dent *d;
	uint64_t ino;
	int e;

	if ((dp = get_dir(parent, &e)) == NULL)
		return (void)fuse_reply_err(req, e);
	if (L.crashed)
		return (void)fuse_reply_err(req, EIO);
	d = ns_get(dp, V, name);
	if (d == NULL || (ip = iget(d->ino)) == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	if (dir && !S_ISDIR(ip->mode[V]))
		return (void)fuse_reply_err(req, ENOTDIR);
	if (dir && !RB_EMPTY(&ip->ents[V]))
		return (void)fuse_reply_err(req, ENOTEMPTY);
	if (!dir && S_ISDIR(ip->mode[V]))
		return (void)fuse_reply_err(req, EISDIR);
	ino = ip->ino;
	if (ns_op(OP_UNLINK, dp->ino, name, 0, NULL, ino, 0) < 0)
		return (void)fuse_reply_err(req, ENOMEM);
	ns_del(dp, V, name);
	now(&dp->mtime);
	dp->ctime = ip->ctime = dp->mtime;
	maybe_gc(ip);
	fuse_reply_err(req, 0);
}

static void lfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, 0);
}

static void lfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, 1);
}

/* Is dir a or one of its current ancestors dir b? */
static int under(uint64_t a, uint64_t b)
{
	struct inode *ip;

	for (int depth = 0; depth < 4096; depth++) {
		if (a == b)
			return 1;
		if (a == ROOT_INO || (ip = ifind(a)) == NULL)
			return 0;
		a = ip->vparent;
	}
	return 1;
}

static void lfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct inode *sp, *dp, *src, *dst = NULL;
	struct dent *d;
	uint64_t sino, dino = 0;
	int e;

	if ((sp = get_dir(parent, &e)) == NULL ||
	    (dp = get_dir(newparent, &e)) == NULL)
		return (void)fuse_reply_err(req, e);
	if (L.crashed)
		return (void)fuse_reply_err(req, EIO);
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return (void)fuse_reply_err(req, EINVAL);
	if (strlen(newname) > NAME_MAX)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	d = ns_get(sp, V, name);
	if (d == NULL || (src = iget(d->ino)) == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	sino = src->ino;
	d = ns_get(dp, V, newname);
	if (d != NULL) {
		dst = iget(d->ino);
		dino = d->ino;
	}
	if (flags & RENAME_EXCHANGE) {
		if (dst == NULL)
			return (void)fuse_reply_err(req, ENOENT);
		if ((S_ISDIR(src->mode[V]) && under(dp->ino, sino)) ||
		    (S_ISDIR(dst->mode[V]) && under(sp->ino, dino)))
			return (void)fuse_reply_err(req, EINVAL);
		if (ns_op(OP_EXCHANGE, sp->ino, name, dp->ino, newname, sino,
			  dino) < 0 ||
		    ns_set(sp, V, name, dino) < 0 ||
		    ns_set(dp, V, newname, sino) < 0)
			return (void)fuse_reply_err(req, ENOMEM);
		goto done;
	}
	if (dst != NULL && (flags & RENAME_NOREPLACE))
		return (void)fuse_reply_err(req, EEXIST);
	if (dino == sino)
		return (void)fuse_reply_err(req, 0);
	if (S_ISDIR(src->mode[V]) && under(dp->ino, sino))
		return (void)fuse_reply_err(req, EINVAL);
	if (dst != NULL) {
		if (S_ISDIR(src->mode[V]) && !S_ISDIR(dst->mode[V]))
			return (void)fuse_reply_err(req, ENOTDIR);
		if (!S_ISDIR(src->mode[V]) && S_ISDIR(dst->mode[V]))
			return (void)fuse_reply_err(req, EISDIR);
		if (S_ISDIR(dst->mode[V]) && !RB_EMPTY(&dst->ents[V]))
			return (void)fuse_reply_err(req, ENOTEMPTY);
	}
	if (ns_op(OP_RENAME, sp->ino, name, dp->ino, newname, sino, dino) < 0)
		return (void)fuse_reply_err(req, ENOMEM);
	if (ns_set(dp, V, newname, sino) < 0)
		err(1, "out of memory");
	ns_del(sp, V, name);
done:
	now(&sp->mtime);
	sp->ctime = dp->mtime = dp->ctime = src->ctime = sp->mtime;
	if (dst != NULL)
		maybe_gc(dst);
	fuse_reply_err(req, 0);
}

static void lfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	struct inode *ip = iget(ino), *dp;
	int e;

	if ((dp = get_dir(newparent, &e)) == NULL)
		return (void)fuse_reply_err(req, e);
	if (ip == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	if (L.crashed)
		return (void)fuse_reply_err(req, EIO);
	if (S_ISDIR(ip->mode[V]))
		return (void)fuse_reply_err(req, EPERM);
	if (strlen(newname) > NAME_MAX)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	if (ns_get(dp, V, newname) != NULL)
		return (void)fuse_reply_err(req, EEXIST);
	if (ns_op(OP_LINK, dp->ino, newname, 0, NULL, ip->ino, 0) < 0 ||
	    ns_set(dp, V, newname, ip->ino) < 0)
		return (void)fuse_reply_err(req, ENOMEM);
	now(&ip->ctime);
	dp->mtime = dp->ctime = ip->ctime;
	reply_entry(req, ip, NULL);
}

static struct handle *handle_new(uint64_t ino, int flags)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h != NULL) {
		h->ino = ino;
		h->flags = flags;
		TAILQ_INSERT_TAIL(&L.handles, h, link);
	}
	return h;
}

static void handle_free(struct handle *h)
{
	TAILQ_REMOVE(&L.handles, h, link);
	for (size_t i = 0; i < h->n; i++)
		free(h->ents[i].name);
	free(h->ents);
	free(h);
}

static int open_file(struct inode *ip, struct fuse_file_info *fi)
{
	struct handle *h;
	int rc;

	if (S_ISDIR(ip->mode[V]))
		return EISDIR;
	if ((fi->flags & O_TRUNC) && S_ISREG(ip->mode[V])) {
		if (L.crashed)
			return EIO;
		if ((rc = data_truncate(ip, 0)) < 0)
			return -rc;
	}
	if ((h = handle_new(ip->ino, fi->flags)) == NULL)
		return ENOMEM;
	ip->nopen++;
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = 0;
	return 0;
}

static void lfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);
	int e;

	if (ip == NULL)
		return (void)fuse_reply_err(req, ENOENT);
	if ((e = open_file(ip, fi)) != 0)
		return (void)fuse_reply_err(req, e);
	fuse_reply_open(req, fi);
}

static void lfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct inode *ip;
	int e;

	ip = make_node(req, parent, name, S_IFREG | (mode & 07777), NULL, &e);
	if (ip == NULL)
		return (void)fuse_reply_err(req, e);
	if ((e = open_file(ip, fi)) != 0)
		return (void)fuse_reply_err(req, e);
	reply_entry(req, ip, fi);
}

static void lfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	struct inode *ip = iget(ino);
	int fd;

	(void)fi;
	if (ip == NULL || (fd = inode_fd(ip)) < 0)
		return (void)fuse_reply_err(req, EIO);
	now(&ip->atime);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void lfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct inode *ip = iget(ino);
	int rc;

	if (ip == NULL || L.crashed)
		return (void)fuse_reply_err(req, EIO);
	if (h != NULL && (h->flags & O_APPEND))
		off = ip->size;
	if ((rc = data_write(ip, buf, size, off)) < 0)
		return (void)fuse_reply_err(req, -rc);
	fuse_reply_write(req, size);
}

static void lfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void lfs_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct inode *ip = ifind(ino);

	handle_free((struct handle *)(uintptr_t)fi->fh);
	if (ip != NULL) {
		ip->nopen--;
		inode_close(ip);
		maybe_gc(ip);
	}
	fuse_reply_err(req, 0);
}

static void lfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);

	(void)datasync;
	(void)fi;
	if (ip == NULL || L.crashed)
		return (void)fuse_reply_err(req, EIO);
	commit_inode(ip);
	inode_close(ip);
	if (L.ns_dirty)
		write_ns();
	fuse_reply_err(req, 0);
}

static void lfs_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino), *cp;
	struct handle *h;
	struct dent *d;
	size_t n = 2;

	if (ip == NULL || !S_ISDIR(ip->mode[V]))
		return (void)fuse_reply_err(req, ip == NULL ? ENOENT : ENOTDIR);
	RB_FOREACH(d, dtree, &ip->ents[V])
	n++;
	if ((h = handle_new(ino, fi->flags)) == NULL ||
	    (h->ents = reallocarray(NULL, n, sizeof(*h->ents))) == NULL) {
		if (h != NULL)
			handle_free(h);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	h->ents[0].name = strdup(".");
	h->ents[0].ino = ip->ino;
	h->ents[0].mode = S_IFDIR;
	h->ents[1].name = strdup("..");
	h->ents[1].ino = ip->vparent;
	h->ents[1].mode = S_IFDIR;
	h->n = 2;
	RB_FOREACH(d, dtree, &ip->ents[V])
	{
		cp = ifind(d->ino);
		h->ents[h->n].name = strdup(d->name);
		h->ents[h->n].ino = d->ino;
		h->ents[h->n++].mode = cp != NULL ? cp->mode[V] & S_IFMT : 0;
	}
	for (size_t i = 0; i < h->n; i++)
		if (h->ents[i].name == NULL) {
			handle_free(h);
			return (void)fuse_reply_err(req, ENOMEM);
		}
	ip->nopen++;
	fi->fh = (uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void lfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t pos = 0;
	struct stat st;

	(void)ino;
	if (buf == NULL)
		return (void)fuse_reply_err(req, ENOMEM);
	memset(&st, 0, sizeof(st));
	for (size_t i = (size_t)off; i < h->n; i++) {
		size_t len;

		st.st_ino = h->ents[i].ino;
		st.st_mode = h->ents[i].mode;
		len = fuse_add_direntry(req, buf + pos, size - pos,
					h->ents[i].name, &st, (off_t)i + 1);
		if (len > size - pos)
			break;
		pos += len;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void lfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct inode *ip = ifind(ino);

	handle_free((struct handle *)(uintptr_t)fi->fh);
	if (ip != NULL) {
		ip->nopen--;
		maybe_gc(ip);
	}
	fuse_reply_err(req, 0);
}

static void lfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);

	(void)datasync;
	(void)fi;
	if (ip == NULL || L.crashed)
		return (void)fuse_reply_err(req, EIO);
	commit_dir(ip);
	fuse_reply_err(req, 0);
}

static void lfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(L.bfd, &sv) < 0)
		return (void)fuse_reply_err(req, errno);
	sv.f_namemax = NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void lfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			  off_t len, struct fuse_file_info *fi)
{
	struct inode *ip = iget(ino);
	int rc;

	(void)fi;
	if (ip == NULL || L.crashed)
		return (void)fuse_reply_err(req, EIO);
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return (void)fuse_reply_err(req, EOPNOTSUPP);
	/* Blocks are not modelled: only a size that grows is a change. */
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > ip->size &&
	    (rc = data_truncate(ip, off + len)) < 0)
		return (void)fuse_reply_err(req, -rc);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops lfs_ops = {
	.init = lfs_init,
	.lookup = lfs_lookup,
	.forget = lfs_forget,
	.forget_multi = lfs_forget_multi,
	.getattr = lfs_getattr,
	.setattr = lfs_setattr,
	.readlink = lfs_readlink,
	.mknod = lfs_mknod,
	.mkdir = lfs_mkdir,
	.unlink = lfs_unlink,
	.rmdir = lfs_rmdir,
	.symlink = lfs_symlink,
	.rename = lfs_rename,
	.link = lfs_link,
	.open = lfs_open,
	.read = lfs_read,
	.write = lfs_write,
	.flush = lfs_flush,
	.release = lfs_release,
	.fsync = lfs_fsync,
	.opendir = lfs_opendir,
	.readdir = lfs_readdir,
	.releasedir = lfs_releasedir,
	.fsyncdir = lfs_fsyncdir,
	.statfs = lfs_statfs,
	.create = lfs_create,
	.fallocate = lfs_fallocate,
};

/* ------------------------------------------------------------------ */
/* The control channel */

static int parse_seed(const char *s, uint64_t *seed)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	*seed = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int parse_mode(const char *s, enum crash_mode *m)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(*mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum crash_mode)i;
			return 0;
		}
	return -1;
}

/*
 * Runs one command line; the answer (one line, no newline) goes to out.
 * Returns 1 if it must wait until the kernel's caches are dropped (a
 * crash: "ok" then means that nothing unsynced can be read any more).
 */
static int ctl_run(char *line, char *out, size_t n)
{
	char *words[4], *save = NULL, *w;
	char msg[256];
	size_t nw = 0;

	for (w = strtok_r(line, " \t\r", &save); w != NULL && nw < 4;
	     w = strtok_r(NULL, " \t\r", &save))
		words[nw++] = w;
	if (nw == 0) {
		snprintf(out, n, "error empty command");
	} else if (strcmp(words[0], "state") == 0 && nw == 1) {
		size_t ni = 0;
		struct inode *ip;

		RB_FOREACH(ip, itree, &L.inodes)
		if (!ip->dead)
			ni++;
		snprintf(out, n,
			 "ok pending=%zu data=%zu names=%zu bytes=%" PRIu64
			 " inodes=%zu crashed=%d seed=%" PRIu64,
			 L.npending, L.ndata, L.nns, L.unsynced_bytes, ni,
			 L.crashed, L.seed);
	} else if (strcmp(words[0], "crash") == 0) {
		enum crash_mode mode = L.mode;
		uint64_t seed = L.seed;

		for (size_t i = 1; i < nw; i++)
			if (strncmp(words[i], "seed=", 5) == 0) {
				if (parse_seed(words[i] + 5, &seed) < 0) {
					snprintf(out, n, "error bad seed");
					return 0;
				}
			} else if (parse_mode(words[i], &mode) < 0) {
				snprintf(out, n,
					 "error unknown crash mode "
					 "'%s' (drop, tear, prefix)",
					 words[i]);
				return 0;
			}
		if (L.crashed) {
			snprintf(out, n, "error crashed already");
			return 0;
		}
		crash(mode, seed, msg, sizeof(msg));
		warnx("%s", msg);
		snprintf(out, n, "ok %s", msg);
		return invalidate_all() == 0;
	} else if (strcmp(words[0], "sync") == 0 && nw == 1) {
		if (L.crashed)
			snprintf(out, n, "error crashed already");
		else
			snprintf(out, n, "ok sync committed=%zu", sync_all());
	} else {
		snprintf(out, n,
			 "error unknown command '%s' (state, crash, "
			 "sync, list)",
			 words[0]);
	}
	return 0;
}

/* The current path of directory ino ("" for the root), into b. */
static void dir_path(uint64_t ino, char *b, size_t n)
{
	char tmp[PATH_MAX];
	struct inode *ip, *pp;
	struct dent *d;
	int depth = 0;

	b[0] = '\0';
	while (ino != ROOT_INO && depth++ < 256) {
		const char *name = "?";

		ip = ifind(ino);
		pp = ip != NULL ? ifind(ip->vparent) : NULL;
		if (pp != NULL)
			RB_FOREACH(d, dtree, &pp->ents[V])
		if (d->ino == ino) {
			name = d->name;
			break;
		}
		if (pp == NULL || strcmp(name, "?") == 0) {
			snprintf(tmp, sizeof(tmp), "(gone dir %" PRIu64 ")%s",
				 ino, b);
			strlcpy(b, tmp, n);
			return;
		}
		snprintf(tmp, sizeof(tmp), "/%s%s", name, b);
		strlcpy(b, tmp, n);
		ino = pp->ino;
	}
}

/* A current path of inode ino (any of its names), into b. */
static void any_path(uint64_t ino, char *b, size_t n)
{
	struct inode *dp;
	struct dent *d;

	RB_FOREACH(dp, itree, &L.inodes)
	RB_FOREACH(d, dtree, &dp->ents[V])
	if (d->ino == ino) {
		size_t len;

		dir_path(dp->ino, b, n);
		len = strlen(b);
		snprintf(b + len, n - len, "/%s", d->name);
		return;
	}
	snprintf(b, n, "(unlinked inode %" PRIu64 ")", ino);
}

static void name_path(uint64_t dir, const char *name, char *b, size_t n)
{
	size_t len;

	dir_path(dir, b, n);
	len = strlen(b);
	snprintf(b + len, n - len, "/%s", name);
}

/* One line of "list" for o, into b. */
static void op_describe(const struct op *o, char *b, size_t n)
{
	static const char *const kinds[] = { "write",	"trunc",  "attr",
					     "link",	"unlink", "rename",
					     "exchange" };
	char p0[PATH_MAX], p1[PATH_MAX], d0[PATH_MAX], d1[PATH_MAX];
	size_t len;

	if (is_data(o->kind)) {
		any_path(o->ip->ino, p0, sizeof(p0));
		if (o->kind == OP_WRITE)
			snprintf(b, n, "write %s off=%lld len=%lld", p0,
				 (long long)o->off, (long long)o->len);
		else if (o->kind == OP_TRUNC)
			snprintf(b, n, "trunc %s size=%lld", p0,
				 (long long)o->off);
		else
			snprintf(b, n, "attr %s mode=%o uid=%u gid=%u", p0,
				 (unsigned)o->mode & 07777, (unsigned)o->uid,
				 (unsigned)o->gid);
		return;
	}
	name_path(o->dir[0], o->name[0], p0, sizeof(p0));
	if (o->name[1] != NULL) {
		name_path(o->dir[1], o->name[1], p1, sizeof(p1));
		snprintf(b, n, "%s %s %s %s", kinds[o->kind], p0,
			 o->kind == OP_EXCHANGE ? "<->" : "->", p1);
	} else {
		snprintf(b, n, "%s %s", kinds[o->kind], p0);
	}
	dir_path(o->dir[0], d0, sizeof(d0));
	dir_path(o->dir[1], d1, sizeof(d1));
	len = strlen(b);
	if (o->need[0] && o->need[1])
		snprintf(b + len, n - len, " waits=%s/,%s/", d0, d1);
	else if (o->need[0] || o->need[1])
		snprintf(b + len, n - len, " waits=%s/", o->need[0] ? d0 : d1);
}

/* "list": the answer line, then one line per pending op (blocking). */
static int ctl_list(int fd)
{
	char line[3 * PATH_MAX + 64];
	struct op *o;
	FILE *f;
	int dfd = dup(fd), rc;

	if (dfd < 0 || (f = fdopen(dfd, "w")) == NULL) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	fprintf(f, "ok %zu\n", L.npending);
	TAILQ_FOREACH(o, &L.all, all)
	{
		op_describe(o, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	rc = ferror(f);
	return fclose(f) != 0 || rc ? -1 : 0;
}

#define MAX_CLIENTS 8

struct client {
	int fd;
	int waiting; /* for the cache invalidation, to send reply */
	size_t len;
	char buf[512];
	char reply[512];
};

static struct client clients[MAX_CLIENTS];

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->waiting = 0;
}

static int client_send(struct client *c, char *out)
{
	size_t olen = strlen(out);

	out[olen++] = '\n';
	if (send(c->fd, out, olen, MSG_NOSIGNAL) != (ssize_t)olen) {
		client_close(c);
		return -1;
	}
	return 0;
}

/* Answers each complete line the client sent, until one must wait. */
static void client_process(struct client *c)
{
	char *nl;

	while (!c->waiting && (nl = strchr(c->buf, '\n')) != NULL) {
		size_t used = (size_t)(nl - c->buf) + 1;

		*nl = '\0';
		if (strcmp(c->buf, "list") == 0) {
			memmove(c->buf, c->buf + used, c->len - used + 1);
			c->len -= used;
			if (ctl_list(c->fd) < 0) {
				client_close(c);
				return;
			}
			continue;
		}
		c->waiting = ctl_run(c->buf, c->reply, sizeof(c->reply) - 1);
		memmove(c->buf, c->buf + used, c->len - used + 1);
		c->len -= used;
		if (!c->waiting && client_send(c, c->reply) < 0)
			return;
	}
	if (c->len == sizeof(c->buf) - 1)
		client_close(c); /* a line too long to be a command */
}

static void client_read(struct client *c)
{
	ssize_t r;

	r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (r <= 0) {
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		client_close(c);
		return;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	client_process(c);
}

/* The invalidation thread is through: answer who waited for it. */
static void inval_finished(void)
{
	char tmp[16];

	while (read(L.inval_done[0], tmp, sizeof(tmp)) > 0)
		;
	inval_join();
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];

		if (c->fd < 0 || !c->waiting)
			continue;
		c->waiting = 0;
		if (client_send(c, c->reply) == 0)
			client_process(c);
	}
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		warnx("control socket path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 8) < 0) {
		warn("cannot listen on %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* lossyfs --ctl SOCKET COMMAND...: one command, its answer on stdout. */
static int ctl_client(const char *path, int argc, char **argv)
{
	struct sockaddr_un sun;
	char line[512] = "", buf[4096], first[2];
	size_t total = 0;
	ssize_t r;
	int fd;

	for (int i = 0; i < argc; i++) {
		if (i > 0)
			strlcat(line, " ", sizeof(line));
		if (strlcat(line, argv[i], sizeof(line)) >= sizeof(line) - 1)
			errx(2, "command too long");
	}
	strlcat(line, "\n", sizeof(line));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(2, "control socket path too long: %s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err(1, "cannot connect to %s", path);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		err(1, "cannot send to %s", path);
	shutdown(fd, SHUT_WR);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err(1, "cannot read from %s", path);
		}
		for (ssize_t i = 0; i < r && total + (size_t)i < 2; i++)
			first[total + (size_t)i] = buf[i];
		total += (size_t)r;
		fwrite(buf, 1, (size_t)r, stdout);
	}
	close(fd);
	if (total == 0)
		errx(1, "no answer from %s", path);
	return total >= 2 && first[0] == 'o' && first[1] == 'k' ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Main loop, options */

static int sigpipe_fd[2] = { -1, -1 };
static volatile sig_atomic_t got_stop, got_crash;

static void on_signal(int sig)
{
	int saved = errno;
	char c = 0;

	if (sig == SIGUSR1)
		got_crash = 1;
	else
		got_stop = 1;
	if (write(sigpipe_fd[1], &c, 1) < 0) {
		/* Full: a wakeup is pending already. */
	}
	errno = saved;
}

static void set_signals(void)
{
	struct sigaction sa;

	if (pipe2(sigpipe_fd, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(L.inval_done, O_CLOEXEC | O_NONBLOCK) < 0)
		err(1, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int serve(int lfd)
{
	struct fuse_buf fbuf;
	struct pollfd pfd[4 + MAX_CLIENTS];
	int rc = 0;

	memset(&fbuf, 0, sizeof(fbuf));
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	while (!fuse_session_exited(L.se) && !got_stop) {
		int np = 4;

		pfd[0].fd = fuse_session_fd(L.se);
		pfd[0].events = POLLIN;
		pfd[1].fd = sigpipe_fd[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = lfd;
		pfd[2].events = POLLIN;
		pfd[3].fd = L.inval_done[0];
		pfd[3].events = POLLIN;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (clients[i].fd >= 0 && !clients[i].waiting) {
				pfd[np].fd = clients[i].fd;
				pfd[np++].events = POLLIN;
			}
		for (int i = 0; i < np; i++)
			pfd[i].revents = 0;
		if (poll(pfd, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll");
			rc = 1;
			break;
		}
		if (pfd[1].revents) {
			char tmp[64];

			while (read(sigpipe_fd[0], tmp, sizeof(tmp)) > 0)
				;
			if (got_crash) {
				char msg[256];

				got_crash = 0;
				if (!L.crashed) {
					crash(L.mode, L.seed, msg, sizeof(msg));
					invalidate_all();
					warnx("SIGUSR1: %s", msg);
				}
			}
		}
		if (pfd[0].revents) {
			int res = fuse_session_receive_buf(L.se, &fbuf);

			if (res == -EINTR || res == -EAGAIN)
				continue;
			if (res <= 0) {
				/*
				 * The mount is gone: ENODEV, or ECONNABORTED
				 * when the kernel aborted the connection at
				 * the unmount with requests still queued (a
				 * daemon just killed, a loaded machine).
				 */
				if (res < 0 && res != -ENODEV &&
				    res != -ECONNABORTED) {
					errno = -res;
					warn("reading /dev/fuse");
					rc = 1;
				}
				break;
			}
			fuse_session_process_buf(L.se, &fbuf);
		}
		if (lfd >= 0 && pfd[2].revents) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int i;

			for (i = 0; cfd >= 0 && i < MAX_CLIENTS; i++)
				if (clients[i].fd < 0) {
					clients[i].fd = cfd;
					break;
				}
			if (cfd >= 0 && i == MAX_CLIENTS)
				close(cfd);
		}
		if (pfd[3].revents)
			inval_finished();
		for (int i = 4; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			for (int j = 0; j < MAX_CLIENTS; j++)
				if (clients[j].fd == pfd[i].fd) {
					client_read(&clients[j]);
					break;
				}
		}
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	free(fbuf.mem);
	return rc;
}

static void cleanup(void)
{
	struct inode *ip;
	struct handle *h;
	struct op *o;

	while ((h = TAILQ_FIRST(&L.handles)) != NULL)
		handle_free(h);
	while ((o = TAILQ_FIRST(&L.all)) != NULL)
		op_free(o);
	RB_FOREACH(ip, itree, &L.inodes)
	{
		ns_clear(ip, V);
		ns_clear(ip, D);
	}
	while ((ip = RB_MIN(itree, &L.inodes)) != NULL)
		inode_free(ip);
}

static const char usage_text[] =
	"usage: lossyfs [--control SOCKET] [--crash-mode drop|tear|prefix] "
	"[--debug]\n"
	"               [--die-with-parent] [-o FUSEOPTS] [--ready-fd FD] "
	"[--seed N]\n"
	"               BACKING MOUNTPOINT\n"
	"       lossyfs --ctl SOCKET COMMAND [ARG...]\n"
	"\n"
	"A FUSE filesystem for power-loss tests: changes made through\n"
	"MOUNTPOINT stay apart from the durable state in BACKING until\n"
	"fsync (files) or an fsync of their directory (entries) makes them\n"
	"durable; a crash command throws the rest away.\n"
	"\n"
	"Control commands (on --control SOCKET; SIGUSR1 is \"crash\"):\n"
	"  state                  ok pending=N data=N names=N bytes=N ...\n"
	"  crash [MODE] [seed=N]  drop (default), tear or prefix\n"
	"  sync                   make everything durable\n"
	"  list                   the unsynced changes, one a line\n"
	"The rules, modes and layout of BACKING: tests/tool/lossyfs.c.\n";

static void usage(int rc)
{
	fputs(usage_text, rc == 0 ? stdout : stderr);
	exit(rc);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "crash-mode", required_argument, NULL, 'm' },
		{ "ctl", required_argument, NULL, 'C' },
		{ "debug", no_argument, NULL, 'd' },
		{ "die-with-parent", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *control = NULL, *ctl = NULL, *fuseopts = NULL, *e = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char opts[1024];
	struct rlimit rl;
	int c, ready_fd = -1, debug = 0, die_with_parent = 0, lfd = -1, lockfd;
	int rc = 1;
	pid_t parent = getppid();

	while ((c = getopt_long(argc, argv, "+ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			control = optarg;
			break;
		case 'C':
			ctl = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			usage(0);
			break;
		case 'm':
			if (parse_mode(optarg, &L.mode) < 0) {
				warnx("--crash-mode: unknown mode '%s'",
				      optarg);
				usage(2);
			}
			break;
		case 'o':
			fuseopts = optarg;
			break;
		case 'P':
			die_with_parent = 1;
			break;
		case 'r':
			ready_fd = (int)strtonum(optarg, 0, INT_MAX, &e);
			if (e != NULL) {
				warnx("--ready-fd: '%s' is %s", optarg, e);
				usage(2);
			}
			break;
		case 's':
			if (parse_seed(optarg, &L.seed) < 0) {
				warnx("--seed: '%s' is not a number", optarg);
				usage(2);
			}
			break;
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (ctl != NULL) {
		if (argc < 1)
			usage(2);
		return ctl_client(ctl, argc, argv);
	}
	if (argc != 2)
		usage(2);

	if (die_with_parent &&
	    (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent))
		errx(1, "the parent is gone already");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	RB_INIT(&L.inodes);
	TAILQ_INIT(&L.all);
	TAILQ_INIT(&L.ns);
	TAILQ_INIT(&L.handles);
	L.datafd = L.undofd = -1;
	L.bfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (L.bfd < 0)
		err(1, "cannot open %s", argv[0]);
	/* Refuse a foreign directory before leaving a lock file in it. */
	if (faccessat(L.bfd, NS_NAME, F_OK, 0) < 0 && backing_empty() <= 0)
		errx(1,
		     "cannot use %s: neither empty nor made by lossyfs "
		     "(no " NS_NAME ")",
		     argv[0]);
	lockfd = openat(L.bfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0)
		err(1, "cannot lock %s/" LOCK_NAME " (mounted already?)",
		    argv[0]);
	if (load() < 0)
		errx(1, "cannot use %s", argv[0]);

	snprintf(opts, sizeof(opts),
		 "fsname=lossyfs,subtype=lossyfs,default_permissions%s%s%s",
		 geteuid() == 0 ? ",allow_other" : "",
		 fuseopts != NULL ? "," : "", fuseopts != NULL ? fuseopts : "");
	if (fuse_opt_add_arg(&args, "lossyfs") < 0 ||
	    fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, opts) < 0 ||
	    (debug && fuse_opt_add_arg(&args, "-d") < 0))
		errx(1, "out of memory");
	L.se = fuse_session_new(&args, &lfs_ops, sizeof(lfs_ops), NULL);
	fuse_opt_free_args(&args);
	if (L.se == NULL)
		errx(1, "cannot start a FUSE session");
	set_signals();
	if (control != NULL && (lfd = ctl_listen(control)) < 0)
		goto out;
	if (fuse_session_mount(L.se, argv[1]) != 0) {
		warnx("cannot mount on %s", argv[1]);
		goto out;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			warn("cannot write to the ready fd");
		close(ready_fd);
	}
	rc = serve(lfd);
	inval_join();
	fuse_session_unmount(L.se);
	if (!L.crashed && L.npending > 0) {
		char msg[256];
		size_t n = L.npending;

		crash(CRASH_DROP, 0, msg, sizeof(msg));
		warnx("unmounted: %zu unsynced changes dropped", n);
	} else if (L.ns_dirty) {
		write_ns();
	}
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(control);
	}
	fuse_session_destroy(L.se);
	cleanup();
	return rc;
}
