#!/bin/bash
test_description='vibes-iggyd: a batch is on disk whole or not at all, even when the daemon is killed between its writes'
. "$(dirname "$0")/test-lib.sh"

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
SHIM="$VIBES_BUILD_DIR/tests/tool/inject.so"
D="$TRASH/d"
VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART
# The module goes before an ASan build's runtime in the preload order.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

seglog() {
	find "$D" -path "*/partitions/*" -name "*.log" | head -n 1
}

test_expect_success 'a first batch of three 2-byte messages (66 bytes each)' '
	start_server "$D" &&
	vibes-test-tool -d "$D" --no-autostart send s t a1 a2 a3 &&
	stop_server &&
	test "$(stat -c %s "$(seglog)")" = 198
'

# The next batch: a 500-byte first message (564 bytes with its header)
# and two of 66.  The daemon writes messages 2-3 (132 bytes, after a
# 564-byte gap), then message 1; it is killed as that write begins.
test_expect_success 'killed after the rest of a batch, before its first message' '
	first=$(printf "%0500d" 7) &&
	LD_PRELOAD="$SHIM" VIBES_TEST_KILL_PWRITE=564 start_server "$D" &&
	pid=$SERVER_PID &&
	test_must_fail vibes-test-tool -d "$D" --no-autostart --timeout 5000 \
		send s t "$first" b2 b3 &&
	i=0 && while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	! kill -0 $pid 2>/dev/null &&
	test "$(stat -c %s "$(seglog)")" = $((198 + 564 + 132))
'

test_expect_success 'after a restart none of that batch is there, the first one is' '
	start_server "$D" &&
	test_when_finished "stop_server" &&
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	printf "a1\na2\na3\n" >expect &&
	test_cmp expect got &&
	test "$(stat -c %s "$(seglog)")" = 198 &&
	grep -q "truncated at byte 198 after 3 messages" "$D/server.log" &&
	vibes-test-tool -d "$D" --no-autostart send s t c1 &&
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	printf "a1\na2\na3\nc1\n" >expect &&
	test_cmp expect got
'

test_done
