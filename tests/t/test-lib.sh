# test-lib.sh - git-style TAP test library for vibes' whole-binary tests.
#
# A test script sets test_description, sources this file, calls
# test_expect_success 'title' 'commands' as often as it likes, and ends
# with test_done.  Each script gets its own scratch directory ($TRASH) and
# runs the real binaries from the build tree ($VIBES_BUILD_DIR) against a
# real server on 127.0.0.1 with a fresh data dir.

set -u
: "${VIBES_BUILD_DIR:?run through meson test, or set VIBES_BUILD_DIR}"
: "${VIBES_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PATH="$VIBES_BUILD_DIR/cmd:$PATH"
export PATH VIBES_BUILD_DIR VIBES_SOURCE_DIR

# A latency bound that the issues set for the release build is multiplied
# by this in a sanitizer build: ASan+UBSan code runs 2-3x slower, and its
# worst cases (a slow malloc, a page of shadow memory) more: t1020's worst
# ping reached 136 and 212 ms there while its p99 stayed under 5 ms.  The
# release build keeps the issues' bounds as they are.
TEST_TIME_FACTOR=1
if ldd "$VIBES_BUILD_DIR/cmd/vibes-iggyd" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	TEST_TIME_FACTOR=5
fi
export TEST_TIME_FACTOR

test_name=$(basename "$0" .sh)
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/vibes-$test_name.XXXXXX")
export TRASH
# Nothing of the user's environment may leak into a test.
unset VIBES_IGGY_ADDR VIBES_IGGY_USERNAME VIBES_IGGY_PASSWORD VIBES_IGGY_SERVER
unset VIBES_IGGY_TLS_CA VIBES_IGGY_TLS_CERT VIBES_IGGY_TLS_KEY
unset IGGY_ROOT_USERNAME IGGY_ROOT_PASSWORD
export VIBES_IGGY_DATA_DIR="$TRASH/data"
export XDG_DATA_HOME="$TRASH/xdg"
export HOME="$TRASH/home"
mkdir -p "$HOME"

test_count=0
test_failed=0

say() { printf '# %s\n' "$*"; }

# Test bodies run in a subshell, so cleanups and server pids are kept in
# files the parent shell reads back.
_cleanup_file="$TRASH/.cleanup"
_pid_file="$TRASH/.server_pids"
: >"$_pid_file"

test_when_finished() {
	{ printf '%s\n' "$1"; cat "$_cleanup_file" 2>/dev/null || :; } \
		>"$_cleanup_file.new" && mv "$_cleanup_file.new" "$_cleanup_file"
}

test_expect_success() {
	local title="$1" body="$2" rc
	test_count=$((test_count + 1))
	rm -f "$_cleanup_file"
	# The cleanup runs in the body's shell, which has its variables
	# (a SERVER_PID set by the body's start_server).
	(
		cd "$TRASH" || exit 99
		trap '_rc=$?; [ -s "$_cleanup_file" ] &&
			(eval "$(cat "$_cleanup_file")") >/dev/null 2>&1
			exit $_rc' EXIT
		eval "$body"
	) >"$TRASH/.out.$test_count" 2>&1
	rc=$?
	rm -f "$_cleanup_file"
	if [ $rc -eq 0 ]; then
		printf 'ok %d - %s\n' "$test_count" "$title"
	else
		test_failed=$((test_failed + 1))
		printf 'not ok %d - %s\n' "$test_count" "$title"
		# On stdout for TAP, on stderr for meson's --print-errorlogs.
		{
			sed -e 's/^/#   /' "$TRASH/.out.$test_count" | tail -n 60
			printf '#   (exit %d)\n' "$rc"
		} >"$TRASH/.why.$test_count"
		cat "$TRASH/.why.$test_count"
		{
			printf '%s: not ok %d - %s\n' "$test_name" "$test_count" \
				"$title"
			cat "$TRASH/.why.$test_count"
		} >&2
	fi
}

# test_must_fail [CODE] cmd...: the command must fail (with CODE if given).
test_must_fail() {
	local want=""
	case "$1" in
	[0-9]*) want=$1; shift ;;
	esac
	"$@"
	local rc=$?
	if [ $rc -eq 0 ]; then
		echo "test_must_fail: '$*' succeeded" >&2
		return 1
	fi
	if [ $rc -ge 129 ] && [ $rc -le 192 ] && [ "$want" != "$rc" ]; then
		echo "test_must_fail: '$*' died by signal $((rc - 128))" >&2
		return 1
	fi
	if [ -n "$want" ] && [ "$rc" != "$want" ]; then
		echo "test_must_fail: '$*' exited $rc, expected $want" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

# spawn_ready LOG CMD...: runs CMD in the background with a readiness pipe
# on its fd 3, its output appended to LOG, and waits (20 s at most) for the
# first line it writes there: READY_LINE.  Sets SPAWN_PID, which test_done
# kills if it still runs.  Fails at once if CMD dies first.  The FIFO is
# opened read-write here before CMD starts, so neither side can block on
# open(2) and nothing is left waiting for a partner if the test gives up.
spawn_ready() {
	local log=$1 fifo="$TRASH/.ready.$$.$RANDOM" rfd i=0 part
	shift
	mkfifo "$fifo" || return 1
	exec {rfd}<>"$fifo"
	rm -f "$fifo"
	"$@" 3>&$rfd >>"$log" 2>&1 &
	SPAWN_PID=$!
	echo "$SPAWN_PID" >>"$_pid_file"
	READY_LINE=""
	# A read that times out keeps the bytes it got in part (a loaded
	# machine can stop it inside the line): they are the line's start.
	while ! read -r -t 0.2 part <&$rfd; do
		READY_LINE=$READY_LINE$part
		i=$((i + 1))
		if ! kill -0 "$SPAWN_PID" 2>/dev/null || [ $i -ge 100 ]; then
			exec {rfd}<&-
			echo "spawn_ready: no readiness from pid $SPAWN_PID ($*)" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
	done
	READY_LINE=$READY_LINE$part
	exec {rfd}<&-
}

# Starts the bundled daemon directly on a kernel-chosen port with data dir
# $1 (default $VIBES_IGGY_DATA_DIR); waits for readiness on fd 3 and sets
# SERVER_ADDR and SERVER_PID.  Extra arguments go to the daemon.
start_server() {
	local dir="${1:-$VIBES_IGGY_DATA_DIR}"
	[ $# -gt 0 ] && shift
	mkdir -p "$dir" &&
	spawn_ready "$dir/server.log" vibes-iggyd --data-dir "$dir" \
		--addr 127.0.0.1:0 --ready-fd 3 "$@" || return 1
	SERVER_PID=$SPAWN_PID
	SERVER_ADDR=$(cat "$dir/server.addr")
	export SERVER_ADDR SERVER_PID
}

# Stops the server started last (SIGTERM, then waits).
stop_server() {
	local pid="${1:-$SERVER_PID}"
	kill -TERM "$pid" 2>/dev/null || return 0
	local i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	wait "$pid" 2>/dev/null
	return 0
}

test_done() {
	local p
	for p in $(cat "$_pid_file" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	# A tool may have autostarted a supervised server in the test's data
	# dir; never leave it running.
	if [ -e "$VIBES_IGGY_DATA_DIR/server.pid" ] ||
	   [ -e "$VIBES_IGGY_DATA_DIR/supervise.lock" ]; then
		vibes-iggyctl --data-dir "$VIBES_IGGY_DATA_DIR" stop \
			--timeout 5 >/dev/null 2>&1
	fi
	printf '1..%d\n' "$test_count"
	if [ "$test_failed" -eq 0 ]; then
		rm -rf "$TRASH"
		exit 0
	fi
	say "failed $test_failed of $test_count; scratch kept in $TRASH"
	exit 1
}
