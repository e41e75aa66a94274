#!/bin/bash
test_description='vibes-iggyctl: default port 8090, fallback, explicit ports in use'
# The default port is a fixed number: run this script in a private network
# namespace, where nothing else can hold 8090 (tests needing it are skipped
# where namespaces are not available).
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

test_expect_success 'an explicit port in use fails at once, naming the holder' '
	hold_port "$TRASH/holder" 127.0.0.1:0 &&
	port=$(port_of "$(cat "$TRASH/holder/server.addr")") &&
	test_must_fail 69 vibes-iggyctl -d "$D" --port "$port" start 2>err &&
	grep "^vibes-iggyctl: cannot listen on 127.0.0.1:$port: port $port is in use by pid $HOLD_PID (vibes-iggyd)$" err &&
	test_must_fail 69 vibes-iggyctl -d "$D" --addr "127.0.0.1:$port" ensure 2>err &&
	grep "port $port is in use by pid $HOLD_PID" err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	test -z "$(lock_holders "$D/supervise.lock")" &&
	stop_server "$HOLD_PID"
'

test_expect_success '--addr with an explicit host and port 0' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --addr 127.0.0.1:0 start &&
	grep "^127.0.0.1:[1-9][0-9]*$" "$D/server.addr"
'

netns_test 'without --port the server listens on 8090' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" start >out &&
	grep "^started: pid [0-9]*, 127.0.0.1:8090," out &&
	test "$(cat "$D/server.addr")" = 127.0.0.1:8090 &&
	vibes-test-tool -d "$D" connect &&
	vibes-iggyctl -d "$D" stop
'

netns_test '8090 taken and no port asked for: another port, recorded' '
	stop_at_end "$D" &&
	hold_port "$TRASH/holder8090" 127.0.0.1:8090 &&
	test_when_finished "kill $HOLD_PID" &&
	vibes-iggyctl -d "$D" start >out &&
	addr=$(cat "$D/server.addr") &&
	test "$addr" != 127.0.0.1:8090 &&
	grep "^127.0.0.1:[1-9][0-9]*$" "$D/server.addr" &&
	grep "^started: pid [0-9]*, $addr," out &&
	vibes-test-tool -d "$D" connect | grep "^connected $addr " &&
	vibes-iggyctl -d "$D" stop &&
	test_must_fail 69 vibes-iggyctl -d "$D" --port 8090 start 2>err &&
	grep "port 8090 is in use by pid $HOLD_PID (vibes-iggyd)" err
'

# (Each test below has a data dir of its own: a "vibes-iggyctl stop" of
# the one before would keep the tools from starting the server there.)
netns_test 'a tool autostarts the server exactly like ensure' '
	D=$TRASH/d-auto &&
	stop_at_end "$D" &&
	export VIBES_IGGY_AUTOSTART=1 &&
	vibes-test-tool -d "$D" connect >out &&
	grep "^connected 127.0.0.1:8090 as iggy$" out &&
	vibes-iggyctl -d "$D" status >st &&
	grep "^supervisor: *pid" st &&
	pid=$(cat "$D/server.pid") &&
	vibes-test-tool -d "$D" connect &&
	test "$(cat "$D/server.pid")" = "$pid" &&
	# gone without a stop (supervisor and server killed): started again
	kill -9 "$(cat "$D/supervise.lock")" "$pid" &&
	wait_for 5 process_gone "$pid" &&
	test_must_fail 69 env VIBES_IGGY_AUTOSTART=0 vibes-test-tool -d "$D" connect &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	vibes-test-tool -d "$D" connect &&
	vibes-iggyctl -d "$D" status &&
	test "$(cat "$D/server.pid")" != "$pid" &&
	# stopped by vibes-iggyctl stop: not started again
	vibes-iggyctl -d "$D" stop &&
	test_must_fail 69 vibes-test-tool -d "$D" connect 2>err &&
	grep "was stopped by vibes-iggyctl stop" err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status
'

netns_test 'another server on 8090 refuses our credentials: a tool starts ours' '
	D=$TRASH/d-foreign &&
	stop_at_end "$D" &&
	hold_port "$TRASH/foreign" 127.0.0.1:8090 &&
	test_when_finished "kill $HOLD_PID" &&
	test_must_fail 77 env VIBES_IGGY_AUTOSTART=0 \
		vibes-test-tool -d "$D" connect 2>err &&
	grep "refused" err &&
	export VIBES_IGGY_AUTOSTART=1 &&
	vibes-test-tool -d "$D" connect >out &&
	addr=$(cat "$D/server.addr") &&
	test "$addr" != 127.0.0.1:8090 &&
	grep "^connected $addr as iggy$" out &&
	test "$(cat "$TRASH/foreign/server.pid")" = "$HOLD_PID" &&
	# Credentials given explicitly are for the server that answers:
	# no fallback then.
	test_must_fail 77 env VIBES_IGGY_USERNAME=nobody \
		VIBES_IGGY_PASSWORD=wrong vibes-test-tool -d "$TRASH/d3" connect
'

test_done
