# lib-lossyfs.sh - mounting, crashing and remounting lossyfs
# (tests/tool/lossyfs.c) in a test, sourced after test-lib.sh (t5000,
# t5010).  A mount NAME is $TRASH/NAME over the backing dir $TRASH/NAME.b,
# with control socket $TRASH/NAME.ctl and log $TRASH/NAME.log.

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
LOSSYFS=$VIBES_BUILD_DIR/tests/tool/lossyfs
FSPROBE=$VIBES_BUILD_DIR/tests/tool/fsprobe

# lfs_mount NAME [OPTION...]: lossyfs over $TRASH/NAME.b on $TRASH/NAME
# (both made if missing); returns once it wrote its readiness line.  It is
# a child of the calling (sub)shell and unmounts itself when that ends.
lfs_mount() {
	local n=$1
	shift
	mkdir -p "$TRASH/$n.b" "$TRASH/$n" &&
	spawn_ready "$TRASH/$n.log" "$LOSSYFS" --control "$TRASH/$n.ctl" \
		--ready-fd 3 --die-with-parent "$@" "$TRASH/$n.b" \
		"$TRASH/$n" &&
	echo "$SPAWN_PID" >"$TRASH/$n.pid" &&
	mountpoint -q "$TRASH/$n"
}

# lfs_umount NAME: unmounts; lossyfs must then exit 0.  The kernel may
# hold the mount busy for a moment after a process using it died.
lfs_umount() {
	local i=0
	while ! fusermount3 -u "$TRASH/$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1
		sleep 0.1
	done
	wait "$(cat "$TRASH/$1.pid")"
}

lfs_remount() {
	local n=$1
	shift
	lfs_umount "$n" && lfs_mount "$n" "$@"
}

# For test_when_finished: whatever state it is in, no mount is left.
lfs_cleanup() {
	local i=0
	fusermount3 -u "$TRASH/$1" 2>/dev/null ||
		fusermount3 -uz "$TRASH/$1" 2>/dev/null
	while mountpoint -q "$TRASH/$1" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill "$(cat "$TRASH/$1.pid" 2>/dev/null)" 2>/dev/null
	:
}

# lfs NAME COMMAND...: one control command; its answer on stdout.
lfs() {
	local n=$1
	shift
	"$LOSSYFS" --ctl "$TRASH/$n.ctl" "$@"
}

# lfs_field NAME KEY [COMMAND...]: the value of KEY=... in the answer to
# COMMAND (default: state).
lfs_field() {
	local n=$1 key=$2 out
	shift 2
	out=$(lfs "$n" "${@:-state}") || return 1
	printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$key=//p"
}

# power_cut NAME PID [CRASH-ARG...]: the machine under the mount NAME
# loses power while process PID runs on it: PID is stopped (from then on
# it does nothing), lossyfs crashes (by default "drop"), PID is killed,
# and the mount comes back with what survived.
power_cut() {
	local n=$1 pid=$2
	shift 2
	kill -STOP "$pid" &&
	lfs "$n" crash "$@" >"$TRASH/$n.crash" &&
	kill -KILL "$pid" &&
	{ wait "$pid" 2>/dev/null; :; } &&
	lfs_remount "$n"
}

# lfs_usable: whether FUSE can be used here.  If not, the script is
# skipped, or, when $CI is set, fails with one test saying why.
lfs_usable() {
	local why=""
	if ! [ -x "$LOSSYFS" ]; then
		why="lossyfs is not built (no libfuse3 development files)"
	elif ! [ -c /dev/fuse ]; then
		why="no /dev/fuse"
	elif ! command -v fusermount3 >/dev/null; then
		why="no fusermount3 (package fuse3)"
	else
		(
			lfs_mount probe && lfs_umount probe
		) >"$TRASH/probe.out" 2>&1 || {
			why="cannot mount a FUSE filesystem here: $(head -n 1 \
				"$TRASH/probe.log" 2>/dev/null)"
			fusermount3 -uz "$TRASH/probe" 2>/dev/null
		}
	fi
	[ -z "$why" ] && return 0
	if [ -z "${CI:-}" ]; then
		echo "1..0 # SKIP $why"
		rm -rf "$TRASH"
		exit 0
	fi
	test_expect_success 'lossyfs can mount a FUSE filesystem' "
		echo '$why; CI must install fuse3 and libfuse3-dev (.ci/run)'
		false
	"
	test_done
}
