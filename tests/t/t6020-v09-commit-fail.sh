#!/bin/bash
test_description='Iggy 0.9: a send or an offset store whose commit fails is answered 13000, never a success (the reply is held for the commit point as in 0.8), and what failed is not kept'
. "$(dirname "$0")/test-lib.sh"

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
SHIM="$VIBES_BUILD_DIR/tests/tool/inject.so"
export VIBES_IGGY_AUTOSTART=0 VIBES_IGGY_PROTOCOL=0.9
export XDG_CACHE_HOME="$TRASH/cache"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
FLAG="$TRASH/disk-fails"

tool() {
	vibes-test-tool -d "$1" --no-autostart --timeout 10000 "${@:2}"
}

# start_failing NAME PATTERN ARGS...: as in t1040, fsync and fdatasync
# fail (EIO) on paths matching PATTERN while $FLAG exists.
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

polled() {
	local dir=$1
	shift
	tool "$dir" poll s t >got &&
	printf "%s\n" "$@" >expect &&
	test_cmp expect got
}

fails_13000() {
	test_must_fail 75 tool "$@" 2>err &&
	grep "could not write its storage (status 13000" err
}

wait_log() {
	local i=0
	while ! grep -q "$2" "$1/server.log" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	grep "$2" "$1/server.log"
}

test_expect_success '0.9 send, --fsync always: the batch whose fdatasync fails is answered 13000 and undone' '
	start_failing always "*/partitions/*.log" --fsync always &&
	tool "$D" send s t a1 a2 &&
	touch "$FLAG" &&
	fails_13000 "$D" send s t b1 b2 b3 &&
	wait_log "$D" "3 message(s) undone, their senders answered 13000" &&
	polled "$D" a1 a2 &&
	echo "{\"n\":1}" | test_must_fail vibes-append --data-dir "$D" \
		--server "$(cat "$D/server.addr")" -s s -t t -v 2>err &&
	grep "speaking Iggy 0.9" err &&
	grep "13000" err &&
	rm "$FLAG" &&
	tool "$D" send s t c1 &&
	polled "$D" a1 a2 c1
'

test_expect_success '0.9 store_consumer_offset that cannot be saved is answered 13000 and not kept' '
	start_failing offsets "*/offsets.tmp.*" --fsync always &&
	tool "$D" send s t a1 a2 a3 &&
	tool "$D" store-offset s t reader 1 &&
	touch "$FLAG" &&
	fails_13000 "$D" store-offset s t reader 2 &&
	wait_log "$D" "consumer offsets not saved" &&
	echo 1 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got &&
	rm "$FLAG" &&
	tool "$D" store-offset s t reader 2 &&
	echo 2 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got
'

test_done
