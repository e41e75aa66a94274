# lib-fsync-fail.sh - a daemon whose fsyncs fail on demand (t1040, t6020).
# Source after test-lib.sh.  Sets PATH to the test tools, FLAG (while that
# file exists the chosen paths fail to sync) and the helpers below.

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
SHIM="$VIBES_BUILD_DIR/tests/tool/inject.so"
# The module goes before an ASan build's runtime in the preload order.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
FLAG="$TRASH/disk-fails"

tool() {
	vibes-test-tool -d "$1" --no-autostart --timeout 10000 "${@:2}"
}

# start_failing NAME PATTERN ARGS...: the daemon on data dir D=$TRASH/NAME
# with fsync and fdatasync failing (EIO) on paths matching PATTERN while
# $FLAG exists; stopped (and $FLAG removed) when the test ends.
start_failing() {
	local glob=$2
	D="$TRASH/$1"
	shift 2
	LD_PRELOAD="$SHIM" VIBES_TEST_FAIL_FSYNC=0 \
		VIBES_TEST_FAIL_FSYNC_PATH="$glob" \
		VIBES_TEST_FAIL_FSYNC_WHILE="$FLAG" \
		VIBES_TEST_FAIL_FSYNC_LOG="$TRASH/injected" \
		start_server "$D" "$@" &&
	test_when_finished "stop_server $SERVER_PID; rm -f \"$FLAG\""
}

# polled DIR LINE...: partition 0 of s/t holds exactly these payloads.
polled() {
	local dir=$1
	shift
	tool "$dir" poll s t >got &&
	printf "%s\n" "$@" >expect &&
	test_cmp expect got
}

# fails_13000 DIR CMD...: the tool command fails as a client is told the
# server could not write its storage.
fails_13000() {
	test_must_fail 75 tool "$@" 2>err &&
	grep "could not write its storage (status 13000" err
}

# wait_log DIR PATTERN: up to 10 s for a line of DIR/server.log.
wait_log() {
	local i=0
	while ! grep -q "$2" "$1/server.log" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	grep "$2" "$1/server.log"
}
