#!/bin/bash
test_description='a service that is not Iggy, or says nothing, where the tools look for the server: named, with the next step, or the own server started'
# The default address 127.0.0.1:8090 is taken by a fake service here, and
# the tools may start the server by themselves: a private network namespace.
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

TOOLS="vibes-append vibes-poll vibes-seek vibes-topic"

# run_tool TOOL ARGS...: TOOL doing something harmless that needs a login.
run_tool() {
	local tool=$1
	shift
	case $tool in
	vibes-append) echo '{"n":1}' | vibes-append --retry-timeout 0 "$@" ;;
	vibes-poll) vibes-poll -c p "$@" ;;
	vibes-seek) vibes-seek -c p "$@" ;;
	vibes-topic) vibes-topic list "$@" ;;
	esac
}

# elapsed_ms CMD...: runs CMD and sets ELAPSED to how long it took.
elapsed_ms() {
	local t0 rc
	t0=$(date +%s%N)
	"$@"
	rc=$?
	ELAPSED=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

# A service that answers HTTP, one that accepts and never answers (test_done
# ends them).
spawn_ready "$TRASH/http.log" fake-server http --ready-fd 3 || exit 1
HTTP=$READY_LINE
spawn_ready "$TRASH/silent.log" fake-server silent --ready-fd 3 || exit 1
SILENT=$READY_LINE

test_expect_success 'named with --server: every tool says at once that it does not speak Iggy (exit 69)' '
	for tool in $TOOLS; do
		test_must_fail 69 elapsed_ms run_tool $tool --server "$HTTP" 2>err &&
		test $ELAPSED -lt 2000 &&
		grep "^$tool: $HTTP does not speak the Iggy protocol (it answered \"HTTP/1.1 400 Bad Request\")$" err ||
			{ cat err; exit 1; }
		# what was named is what the user meant: no hint about a data dir
		! grep "data dir" err || exit 1
	done
'

test_expect_success 'named with --server: a silent service is named after --timeout (exit 75), not waited on for long' '
	for tool in vibes-poll vibes-seek vibes-topic; do
		test_must_fail 75 elapsed_ms run_tool $tool --server "$SILENT" --timeout 300ms 2>err &&
		test $ELAPSED -lt 3000 &&
		grep "^$tool: $SILENT did not answer within 300 ms$" err ||
			{ cat err; exit 1; }
	done
'

test_expect_success 'at the data dir'\''s last address, own server not running, autostart off: the cause and the next step' '
	D=$TRASH/d &&
	mkdir -m 700 "$D" &&
	echo "$HTTP" >"$D/server.addr" &&
	for tool in $TOOLS; do
		test_must_fail 69 run_tool $tool --data-dir "$D" 2>err &&
		grep "^$tool: $HTTP does not speak the Iggy protocol (it answered \"HTTP/1.1 400 Bad Request\"); that is not the server of data dir $D, which is not running: start it with .vibes-iggyctl -d $D start. (VIBES_IGGY_AUTOSTART=0 keeps the tools from starting it)$" err ||
			{ cat err; exit 1; }
	done &&
	echo "$SILENT" >"$D/server.addr" &&
	test_must_fail 75 vibes-poll --data-dir "$D" -c p --timeout 300ms 2>err &&
	grep "^vibes-poll: $SILENT did not answer within 300 ms; that is not the server of data dir $D, which is not running: start it with .vibes-iggyctl -d $D start. (VIBES_IGGY_AUTOSTART=0 keeps the tools from starting it)$" err &&
	# stopped on purpose: that is the reason given
	vibes-iggyctl -d "$D" stop >/dev/null &&
	test_must_fail 75 vibes-poll --data-dir "$D" -c p --timeout 300ms 2>err &&
	grep "; that is not the server of data dir $D, which was stopped by vibes-iggyctl stop (pid [0-9]*) at [0-9TZ:-]*: start it with .vibes-iggyctl -d $D start.$" err
'

netns_test 'a service that is not Iggy on the default address: with autostart, the tool starts its own server elsewhere' '
	spawn_ready http8090.log fake-server http --addr 127.0.0.1:8090 --ready-fd 3 &&
	test "$READY_LINE" = 127.0.0.1:8090 &&
	export VIBES_IGGY_AUTOSTART=1 &&
	for tool in $TOOLS; do
		dir=$TRASH/auto-$tool &&
		stop_at_end "$dir" &&
		# (a reader finds no stream yet: exit 2, once the server was started)
		{ run_tool $tool -v --data-dir "$dir" >out 2>err; rc=$?; } &&
		{ test $rc = 0 || test $rc = 2; } &&
		addr=$(cat "$dir/server.addr") &&
		test "$addr" != 127.0.0.1:8090 &&
		grep "^$tool: started the server: pid $(cat "$dir/server.pid"), $addr, data dir $dir$" err ||
			{ cat err; exit 1; }
		vibes-iggyctl -d "$dir" stop >/dev/null || exit 1
	done &&
	# autostart off: the default address is named, with the next step
	dir=$TRASH/auto-off &&
	test_must_fail 69 env VIBES_IGGY_AUTOSTART=0 vibes-poll --data-dir "$dir" -c p 2>err &&
	grep "^vibes-poll: 127.0.0.1:8090 does not speak the Iggy protocol (it answered \"HTTP/1.1 400 Bad Request\"); that is not the server of data dir $dir, which is not running: start it with .vibes-iggyctl -d $dir start. (VIBES_IGGY_AUTOSTART=0 keeps the tools from starting it)$" err
'

netns_test 'a silent service on the data dir'\''s last address: with autostart, one --timeout, then its own server' '
	export VIBES_IGGY_AUTOSTART=1 &&
	dir=$TRASH/silent-auto &&
	stop_at_end "$dir" &&
	mkdir -m 700 "$dir" &&
	echo "$SILENT" >"$dir/server.addr" &&
	vibes-topic -v --data-dir "$dir" --timeout $((1000 * TEST_TIME_FACTOR))ms list >out 2>err &&
	addr=$(cat "$dir/server.addr") &&
	test "$addr" != "$SILENT" &&
	grep "^vibes-topic: started the server: pid [0-9]*, $addr, data dir $dir$" err &&
	vibes-iggyctl -d "$dir" status >/dev/null
'

test_expect_success 'a user name or password no Iggy server holds: exit 77, naming the server, the bounds and what to check' '
	S=$TRASH/s &&
	stop_at_end "$S" &&
	vibes-iggyctl -d "$S" --port 0 start >/dev/null &&
	addr=$(cat "$S/server.addr") &&
	for tool in $TOOLS; do
		(export VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=ab &&
		 test_must_fail 77 run_tool $tool --data-dir "$S" 2>err) &&
		grep "^$tool: login as .iggy. refused: $addr takes no such password (status 44, invalid_password: Iggy passwords have 3 to 100 bytes); check the password given$" err ||
			{ cat err; exit 1; }
	done &&
	test_must_fail 77 env VIBES_IGGY_USERNAME=ig VIBES_IGGY_PASSWORD=abcd \
		vibes-topic --data-dir "$S" list 2>err &&
	grep "^vibes-topic: login as .ig. refused: $addr takes no such user name (status 43, invalid_username: Iggy user names have 3 to 50 bytes); check the user name given$" err
'

test_done
