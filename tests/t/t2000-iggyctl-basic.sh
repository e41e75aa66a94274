#!/bin/bash
test_description='vibes-iggyctl: usage, start, status, stop, restart, env, logs, run'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

test_expect_success 'help lists every command and option, exit 0' '
	vibes-iggyctl --help >out &&
	for w in start stop restart status ensure run logs env --data-dir \
		 --addr --port --server-bin --json --timeout -f -n --version \
		 " 69 " " 74 " " 75 " " 77 "; do
		grep -q -e "$w" out || { echo "missing $w"; exit 1; }
	done &&
	vibes-iggyctl --version | grep "^vibes-iggyctl [0-9]"
'

test_expect_success 'usage errors exit 2' '
	test_must_fail 2 vibes-iggyctl 2>err &&
	grep "missing command" err &&
	test_must_fail 2 vibes-iggyctl frobnicate 2>err &&
	grep "unknown command .frobnicate." err &&
	test_must_fail 2 vibes-iggyctl --port 70000 status 2>err &&
	grep "port .70000. is too large" err &&
	test_must_fail 2 vibes-iggyctl status --bogus &&
	test_must_fail 2 vibes-iggyctl stop --timeout 0 &&
	test_must_fail 2 vibes-iggyctl logs -n x &&
	test_must_fail 2 vibes-iggyctl env extra
'

test_expect_success 'status of a data dir that never ran: stopped, exit 3' '
	test_must_fail 3 vibes-iggyctl -d "$TRASH/none" status >out &&
	grep "^state: *stopped$" out &&
	test_must_fail 3 vibes-iggyctl -d "$TRASH/none" status --json >out &&
	grep "\"state\":\"stopped\"" out
'

test_expect_success 'start creates the data dir 0700 and credentials 0600' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start >out &&
	grep "^started: pid [0-9]*, 127.0.0.1:[0-9]*, data dir $D$" out &&
	test "$(stat -c %a "$D")" = 700 &&
	test "$(stat -c %a "$D/credentials")" = 600 &&
	grep "^username=iggy$" "$D/credentials" &&
	grep -E "^password=[A-Za-z0-9]{24}$" "$D/credentials" &&
	pid=$(cat "$D/server.pid") &&
	test "$(lock_holders "$D/server.pid")" = "$pid" &&
	addr=$(cat "$D/server.addr") &&
	grep "started: pid $pid, $addr," out &&
	vibes-test-tool -d "$D" connect >out &&
	grep "^connected $addr as iggy$" out
'

test_expect_success 'start again refuses (exit 1), ensure succeeds with the same pid' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	pid=$(cat "$D/server.pid") &&
	test_must_fail 1 vibes-iggyctl -d "$D" --port 0 start 2>err &&
	grep "already running (pid $pid)" err &&
	vibes-iggyctl -d "$D" --port 0 ensure >out &&
	grep "^running: pid $pid," out &&
	test "$(cat "$D/server.pid")" = "$pid"
'

test_expect_success 'status: human and json, with stats from the server' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-test-tool -d "$D" send s1 t1 a b c &&
	pid=$(cat "$D/server.pid") &&
	addr=$(cat "$D/server.addr") &&
	vibes-iggyctl -d "$D" status >out &&
	grep "^state: *running$" out &&
	grep "^pid: *$pid$" out &&
	grep "^address: *$addr$" out &&
	grep "^uptime: *[0-9]" out &&
	grep "^data dir: *$D$" out &&
	grep "^disk used: *[0-9.]* [KMG]iB$" out &&
	grep "^supervisor: *pid [0-9]*, 0 restarts$" out &&
	grep "^streams: *1$" out &&
	grep "^topics: *1$" out &&
	grep "^messages: *3$" out &&
	vibes-iggyctl -d "$D" status --json >out &&
	grep "^{\"state\":\"running\",\"data_dir\":\"$D\",\"pid\":$pid,\"address\":\"$addr\"," out &&
	grep "\"disk_used_bytes\":[1-9][0-9]*," out &&
	grep "\"streams\":1,\"topics\":1,\"partitions\":1,\"messages\":3," out
'

test_expect_success 'stop is graceful, releases the lock, ends supervision' '
	vibes-iggyctl -d "$D" --port 0 start &&
	pid=$(cat "$D/server.pid") &&
	sup=$(cat "$D/supervise.lock") &&
	vibes-iggyctl -d "$D" stop >out &&
	grep "^stopped: data dir $D$" out &&
	process_gone "$pid" &&
	wait_for 5 process_gone "$sup" &&
	test -z "$(lock_holders "$D/server.pid")" &&
	grep "supervisor: stop requested" "$D/server.log" &&
	grep "stopped on request" "$D/server.log" &&
	test_must_fail 3 vibes-iggyctl -d "$D" status >out &&
	grep "^state: *stopped (stopped by vibes-iggyctl stop (pid [0-9]*) at 20[0-9-]*T[0-9:]*Z; the tools do not start it by themselves until .vibes-iggyctl start.)$" out
'

test_expect_success 'stop when stopped: "not running", exit 0' '
	vibes-iggyctl -d "$D" stop >out &&
	grep "^not running" out &&
	vibes-iggyctl -d "$TRASH/never" stop >out &&
	grep "^not running" out &&
	test ! -e "$TRASH/never"
'

# A server that never sees SIGTERM (inject.so keeps it out of its
# signalfd), as a wedged one would not act on it.
cat >"$TRASH/deaf-vibes-iggyd" <<EOF
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0" \\
LD_PRELOAD="$VIBES_BUILD_DIR/tests/tool/inject.so" VIBES_TEST_DEAF_SIGNAL=15 \\
	exec vibes-iggyd "\$@"
EOF
chmod +x "$TRASH/deaf-vibes-iggyd"

test_expect_success 'stop escalates to SIGKILL after --timeout' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$TRASH/deaf-vibes-iggyd" start &&
	pid=$(cat "$D/server.pid") &&
	vibes-iggyctl -d "$D" stop --timeout 1 >out &&
	grep "^stopped (SIGKILL after 1 s)" out &&
	process_gone "$pid" &&
	test_must_fail 3 vibes-iggyctl -d "$D" status
'

test_expect_success 'stop ends a server stopped by SIGSTOP gracefully (SIGTERM and SIGCONT)' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	pid=$(cat "$D/server.pid") &&
	kill -STOP "$pid" &&
	vibes-iggyctl -d "$D" stop --timeout 5 >out &&
	grep "^stopped: data dir $D$" out &&
	process_gone "$pid" &&
	grep "supervisor: server exited with status 0; stopped on request" "$D/server.log"
'

test_expect_success 'restart gives a new pid on the same data' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-test-tool -d "$D" send rs rt before &&
	pid=$(cat "$D/server.pid") &&
	addr=$(cat "$D/server.addr") &&
	vibes-iggyctl -d "$D" --port 0 restart >out &&
	grep "^started: pid" out &&
	test "$(cat "$D/server.pid")" != "$pid" &&
	# The new server keeps the address its clients know.
	test "$(cat "$D/server.addr")" = "$addr" &&
	grep "^started: pid [0-9]*, $addr," out &&
	process_gone "$pid" &&
	vibes-test-tool -d "$D" poll rs rt >actual &&
	echo before >expect &&
	test_cmp expect actual &&
	vibes-iggyctl -d "$D" stop &&
	vibes-iggyctl -d "$D" --port 0 restart >out &&
	grep "^started: pid" out
'

test_expect_success 'env prints shell-quoted exports that tools accept' '
	stop_at_end "$D" &&
	test_must_fail 3 vibes-iggyctl -d "$D" env >out 2>err &&
	test ! -s out &&
	grep "no server running" err &&
	IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD="it'\''s \$ecret" \
		vibes-iggyctl -d "$D" --port 0 start &&
	vibes-iggyctl -d "$D" env >out &&
	grep "^export VIBES_IGGY_ADDR='\''$(cat "$D/server.addr")'\''$" out &&
	grep "^export VIBES_IGGY_DATA_DIR='\''$D'\''$" out &&
	grep "^export VIBES_IGGY_USERNAME='\''iggy'\''$" out &&
	(
		unset VIBES_IGGY_DATA_DIR &&
		eval "$(cat out)" &&
		test "$VIBES_IGGY_PASSWORD" = "it'\''s \$ecret" &&
		cd / &&
		vibes-test-tool -d "$TRASH/elsewhere" connect
	)
'

test_expect_success 'logs prints the tail; -n picks the count' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-iggyctl -d "$D" logs >out &&
	tail -n 10 "$D/server.log" >expect &&
	test_cmp expect out &&
	vibes-iggyctl -d "$D" logs -n 2 >out &&
	tail -n 2 "$D/server.log" >expect &&
	test_cmp expect out &&
	vibes-iggyctl -d "$D" logs -n 0 >out &&
	test ! -s out
'

test_expect_success 'logs -f follows what is appended' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	echo "marker line" >>"$D/server.log" || exit 1
	vibes-iggyctl -d "$D" logs -f -n 1 >follow &
	lp=$! &&
	test_when_finished "kill $lp" &&
	wait_for 10 grep -q "marker line" follow &&
	vibes-iggyctl -d "$D" stop &&
	wait_for 10 grep -q "stopped on request" follow &&
	kill -TERM $lp && wait $lp &&
	! grep -q "starting" follow
'

test_expect_success 'run keeps the server in the foreground' '
	vibes-iggyctl -d "$TRASH/fg" --port 0 run 2>fg.err &
	rp=$! &&
	test_when_finished "kill -9 $rp" &&
	wait_for 10 server_running "$TRASH/fg" &&
	# The lock is taken first; the credentials file and server.addr
	# follow once the daemon is set up and bound.
	wait_for 10 test -s "$TRASH/fg/server.addr" &&
	test "$(cat "$TRASH/fg/server.pid")" = "$rp" &&
	vibes-iggyctl -d "$TRASH/fg" status >out &&
	! grep "^supervisor:" out &&
	vibes-test-tool -d "$TRASH/fg" connect &&
	kill -TERM $rp &&
	wait $rp &&
	grep "listening on" fg.err
'

test_expect_success 'a relative data dir is made absolute; daemons run from /' '
	stop_at_end "$TRASH/rel" &&
	vibes-iggyctl -d rel --port 0 start >out &&
	grep "data dir $TRASH/rel$" out &&
	sup=$(cat "$TRASH/rel/supervise.lock") &&
	test "$(readlink /proc/$sup/cwd)" = / &&
	(cd / && vibes-iggyctl -d "$TRASH/rel" status)
'

test_expect_success 'the default data dir follows XDG_DATA_HOME, then HOME' '
	(
		unset VIBES_IGGY_DATA_DIR &&
		vibes-iggyctl --port 0 start &&
		test_when_finished "vibes-iggyctl stop" &&
		test -f "$XDG_DATA_HOME/vibes/iggy/server.pid" &&
		vibes-iggyctl status >out &&
		grep "^data dir: *$XDG_DATA_HOME/vibes/iggy$" out &&
		vibes-iggyctl stop &&
		unset XDG_DATA_HOME &&
		test_must_fail 3 vibes-iggyctl status >out &&
		grep "^data dir: *$HOME/.local/share/vibes/iggy$" out
	)
'

test_done
