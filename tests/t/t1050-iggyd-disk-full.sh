#!/bin/bash
test_description='vibes-iggyd on a full disk: appends and metadata changes answered 13000 and changing nothing, a restart that comes up (or exits 75, never 78), and the same server going on once space is freed'
. "$(dirname "$0")/test-lib.sh"

# A small tmpfs is the full disk; mounting one needs root.  CI runs as
# root, so there the test fails instead of skipping.
if [ "$(id -u)" != 0 ]; then
	if [ -z "${CI:-}" ]; then
		echo "1..0 # SKIP needs root to mount a small tmpfs"
		rm -rf "$TRASH"
		exit 0
	fi
	test_expect_success 'a small tmpfs can be mounted' '
		echo "CI runs as root: mount -t tmpfs needs it"; false
	'
	test_done
fi

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART
M="$TRASH/full"
D="$M/data"

tool() {
	vibes-test-tool -d "$D" --no-autostart --timeout 10000 "$@"
}

# fails_13000 CMD...: the tool command fails as a client is told the
# server could not write its storage.
fails_13000() {
	test_must_fail 75 tool "$@" 2>err &&
	grep "could not write its storage (status 13000" err
}

# start_full [ADDR]: the daemon on $D; its log outside the full disk, so
# that every line of it can be read.
start_full() {
	spawn_ready "$TRASH/server.log" vibes-iggyd --data-dir "$D" \
		--addr "${1:-127.0.0.1:0}" --ready-fd 3 || return 1
	# The next test body (another subshell) finds it here.
	echo $SPAWN_PID >"$TRASH/pid"
}

stop_full() {
	stop_server "$(cat "$TRASH/pid")"
}

# fill: the rest of the tmpfs taken by $M/filler.
fill() {
	dd if=/dev/zero of="$M/filler" bs=4096 2>/dev/null
	test "$(df --output=avail "$M" | tail -n 1 | tr -d " ")" = 0
}

# One message of 64 KiB: no page of the segment file has room for it.
big=$(printf "%065536d" 7)

test_expect_success 'a 4 MiB tmpfs holds the data dir' '
	mkdir "$M" &&
	mount -t tmpfs -o size=4m tmpfs "$M" || {
		echo "cannot mount a tmpfs"; exit 1; }
'

test_expect_success 'a full disk: the append is answered 13000, logged, and nothing of it stays' '
	mkdir "$D" &&
	start_full &&
	cp "$D/server.addr" addr &&
	tool send s t a1 a2 &&
	fill &&
	fails_13000 send s t "$big" b2 &&
	grep "append: cannot write segment 0: No space left on device" "$TRASH/server.log" &&
	tool poll s t >got &&
	printf "a1\na2\n" >expect &&
	test_cmp expect got
'

test_expect_success 'a full disk: create_topic is answered 13000, memory and files unchanged' '
	tool topics s >before &&
	fails_13000 create-topic s t2 2 &&
	grep "No space left on device" "$TRASH/server.log" &&
	tool topics s >after &&
	test_cmp before after &&
	test_must_fail test -e "$D/streams/0/topics/1" &&
	fails_13000 store-offset s t reader 1 &&
	echo none >expect &&
	tool get-offset s t reader >got &&
	test_cmp expect got
'

test_expect_success 'space freed: the same server goes on, no restart' '
	rm "$M/filler" &&
	kill -0 "$(cat "$TRASH/pid")" &&
	tool send s t "$big" c2 &&
	tool create-topic s t2 2 &&
	tool store-offset s t reader 3 &&
	tool poll s t >got &&
	printf "a1\na2\n%s\nc2\n" "$big" >expect &&
	test_cmp expect got &&
	grep "^1 t2 2 0$" <(tool topics s)
'

test_expect_success 'a restart on a full disk comes up, or exits 75 (a supervisor retries), never 78' '
	fill &&
	stop_full &&
	rc=0 &&
	{ start_full "$(cat addr)" || rc=$?; } &&
	if [ $rc = 0 ]; then
		echo "came up on a full disk" >"$TRASH/restart" &&
		tool poll s t >got
	else
		{ wait $SPAWN_PID; rc=$?; } &&
		echo "exited $rc on a full disk" >"$TRASH/restart" &&
		test $rc = 75 &&
		rm "$M/filler" &&
		start_full "$(cat addr)" &&
		tool poll s t >got
	fi &&
	test_cmp expect got &&
	echo 3 >expect_off &&
	tool get-offset s t reader >got_off &&
	test_cmp expect_off got_off &&
	rm -f "$M/filler" &&
	tool send s t d1 &&
	stop_full
'

say "the restart $(cat "$TRASH/restart" 2>/dev/null || echo "did not run")"

test_expect_success 'unmount' '
	stop_full &&
	umount "$M" || umount -l "$M"
'

test_done
