#!/bin/bash
test_description='vibes-iggyctl: crash restarts, stale pidfiles, bounded retries'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

test_expect_success 'kill -9 under supervision: the server comes back, data intact' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-test-tool -d "$D" send crash events one two three &&
	old=$(cat "$D/server.pid") &&
	addr=$(cat "$D/server.addr") &&
	sup=$(cat "$D/supervise.lock") &&
	kill -9 "$old" &&
	wait_for 10 pid_changed "$D" "$old" &&
	wait_for 10 vibes-test-tool -d "$D" --timeout 1000 connect &&
	vibes-test-tool -d "$D" poll crash events >actual &&
	printf "one\ntwo\nthree\n" >expect &&
	test_cmp expect actual &&
	test "$(cat "$D/server.addr")" = "$addr" &&
	test "$(cat "$D/supervise.lock")" = "$sup" &&
	grep "supervisor: server was killed by signal 9 (KILL); restarting in 1.0 s (restart 1)" "$D/server.log" &&
	grep "supervisor: server ready again (pid $(cat "$D/server.pid"), restart 1)" "$D/server.log" &&
	vibes-iggyctl -d "$D" status >out &&
	grep "^supervisor: *pid $sup, 1 restart$" out &&
	grep "^messages: *3$" out &&
	vibes-test-tool -d "$D" send crash events four &&
	vibes-iggyctl -d "$D" stop &&
	wait_for 5 process_gone "$sup"
'

test_expect_success 'kill -9 without supervision: stale pidfile reported, then replaced' '
	stop_at_end "$D" &&
	start_server "$D" &&
	kill -9 "$SERVER_PID" &&
	wait "$SERVER_PID";
	test_must_fail 3 vibes-iggyctl -d "$D" status >out &&
	grep "^state: *stopped (stale pidfile: pid $SERVER_PID died without cleaning up)$" out &&
	test_must_fail 3 vibes-iggyctl -d "$D" status --json >out &&
	grep "\"state\":\"stale\",.*\"pid\":$SERVER_PID," out &&
	vibes-iggyctl -d "$D" stop >out &&
	grep "^not running" out &&
	vibes-iggyctl -d "$D" --port 0 start >out 2>err &&
	grep "replaced a stale pidfile (pid $SERVER_PID" err &&
	grep "stale pidfile (pid $SERVER_PID)" "$D/server.log" &&
	test "$(cat "$D/server.pid")" != "$SERVER_PID" &&
	vibes-iggyctl -d "$D" status &&
	vibes-test-tool -d "$D" poll crash events >actual &&
	printf "one\ntwo\nthree\nfour\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a server stopped behind the supervisor'\''s back ends supervision' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	sup=$(cat "$D/supervise.lock") &&
	kill -TERM "$(cat "$D/server.pid")" &&
	wait_for 10 process_gone "$sup" &&
	grep "server exited cleanly (stopped by someone else); supervision ends" "$D/server.log" &&
	test_must_fail 3 vibes-iggyctl -d "$D" status
'

test_expect_success 'exit 78 on restart (port taken) is permanent: no retry' '
	stop_at_end "$D" &&
	hold_port "$TRASH/probe" 127.0.0.1:0 &&
	port=$(port_of "$(cat "$TRASH/probe/server.addr")") &&
	stop_server "$HOLD_PID" &&
	vibes-iggyctl -d "$D" --port "$port" start &&
	sup=$(cat "$D/supervise.lock") &&
	kill -9 "$(cat "$D/server.pid")" &&
	hold_port "$TRASH/holder" "127.0.0.1:$port" &&
	test_when_finished "kill $HOLD_PID" &&
	wait_for 10 process_gone "$sup" &&
	grep "supervisor: server exited with status 78: permanent failure, not restarting" "$D/server.log" &&
	# status says why supervision ended, not only "stale pidfile"
	test_must_fail 3 vibes-iggyctl -d "$D" status >out &&
	grep "^state: *stopped (the supervisor gave up: server exited with status 78: a permanent failure (see server.log))$" out &&
	grep "^supervisor: *gave up (server exited with status 78: a permanent failure (see server.log))$" out &&
	test_must_fail 3 vibes-iggyctl -d "$D" status --json >out &&
	grep "\"state\":\"stopped\",.*\"gave_up\":\"server exited with status 78: a permanent failure (see server.log)\"" out &&
	test_must_fail 69 vibes-iggyctl -d "$D" --port "$port" ensure 2>err &&
	grep "cannot listen on 127.0.0.1:$port: port $port is in use by pid $HOLD_PID (vibes-iggyd)" err
'

test_expect_success 'a crash loop is given up after 5 deaths in 60 s' '
	stop_at_end "$D" &&
	mkdir -p bin &&
	cat >bin/crashy-vibes-iggyd <<-EOF &&
	#!/bin/sh
	# First run: the real daemon.  Later runs: crash at once.
	if [ -e "$TRASH/ran-once" ]; then
		echo "crashy: simulated crash" >&2
		exit 1
	fi
	: >"$TRASH/ran-once"
	exec vibes-iggyd "\$@"
	EOF
	chmod +x bin/crashy-vibes-iggyd &&
	rm -f ran-once &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$TRASH/bin/crashy-vibes-iggyd" start &&
	sup=$(cat "$D/supervise.lock") &&
	kill -9 "$(cat "$D/server.pid")" &&
	wait_for 40 process_gone "$sup" &&
	test "$(grep -c "crashy: simulated crash" "$D/server.log")" = 4 &&
	grep "restarting in 1.0 s (restart 1)" "$D/server.log" &&
	grep "restarting in 2.0 s (restart 2)" "$D/server.log" &&
	grep "restarting in 4.0 s (restart 3)" "$D/server.log" &&
	grep "restarting in 8.0 s (restart 4)" "$D/server.log" &&
	grep "5 deaths within 60 s: giving up" "$D/server.log" &&
	test_must_fail 3 vibes-iggyctl -d "$D" status >out &&
	grep "^state: *stopped (the supervisor gave up: 5 deaths within 60 s, the last: server exited with status 1)$" out &&
	grep "^gave_up=5 deaths within 60 s, the last: server exited with status 1$" "$D/supervise.state" &&
	# a new start under a new supervisor: the old story is over
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-iggyctl -d "$D" status >out &&
	! grep "gave up" out
'

test_done
