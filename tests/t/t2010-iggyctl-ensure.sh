#!/bin/bash
test_description='vibes-iggyctl ensure: idempotent and safe when run concurrently'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

test_expect_success '20 concurrent ensure calls give exactly one server' '
	stop_at_end "$D" &&
	for i in $(seq 1 20); do
		( vibes-iggyctl -d "$D" --port 0 ensure >out.$i 2>err.$i
		  echo $? >rc.$i ) &
	done
	wait &&
	for i in $(seq 1 20); do
		test "$(cat rc.$i)" = 0 ||
		{ echo "ensure $i exited $(cat rc.$i)"; cat err.$i; exit 1; }
	done &&
	pid=$(cat "$D/server.pid") &&
	test "$(lock_holders "$D/server.pid")" = "$pid" &&
	test "$(lock_holders "$D/supervise.lock" | wc -l)" = 1 &&
	test "$(grep -c "vibes-iggyctl\[[0-9]*\]: starting " "$D/server.log")" = 1 &&
	test "$(pgrep -f -x ".*vibes-iggyd --data-dir $D .*" | wc -l)" = 1 &&
	cat out.* | sed -e "s/^started: /x: /" -e "s/^running: /x: /" |
		sort -u >pids &&
	test "$(wc -l <pids)" = 1 &&
	grep "^x: pid $pid, $(cat "$D/server.addr"), data dir $D$" pids &&
	test "$(grep -c "^started:" out.*  | grep -c ":1$")" = 1 &&
	vibes-test-tool -d "$D" connect
'

test_expect_success 'ensure on a running server leaves it alone' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 ensure &&
	pid=$(cat "$D/server.pid") &&
	vibes-iggyctl -d "$D" --port 0 ensure >out &&
	grep "^running: pid $pid," out &&
	test "$(cat "$D/server.pid")" = "$pid"
'

test_expect_success 'concurrent ensure and stop never leave two servers' '
	stop_at_end "$D" &&
	for i in $(seq 1 6); do
		vibes-iggyctl -d "$D" --port 0 ensure >/dev/null 2>&1 &
		vibes-iggyctl -d "$D" stop >/dev/null 2>&1 &
	done
	wait &&
	vibes-iggyctl -d "$D" --port 0 ensure &&
	test "$(lock_holders "$D/server.pid" | wc -l)" = 1 &&
	test "$(pgrep -f -x ".*vibes-iggyd --data-dir $D .*" | wc -l)" = 1 &&
	test "$(lock_holders "$D/supervise.lock" | wc -l)" = 1
'

test_done
