#!/bin/bash
test_description='vibes-supervise: its own program, named in ps; health pings; a hung server is restarted'
# The tools that start the server by themselves try the default port 8090
# first: those tests run in a private network namespace.
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

# comm_of PID: the process name ps shows.
comm_of() {
	cat "/proc/$1/comm"
}

# is_stopped PID: the process is stopped by a signal (state T).
is_stopped() {
	sed 's/.*) //' "/proc/$1/stat" | cut -c1 | grep -q '[Tt]'
}

test_expect_success 'the supervisor is vibes-supervise, exec'\''d in a session of its own' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	sup=$(cat "$D/supervise.lock") &&
	test "$(comm_of "$sup")" = vibes-supervise &&
	test "$(readlink "/proc/$sup/exe")" = "$VIBES_BUILD_DIR/cmd/vibes-supervise" &&
	# its own session, not a child of the vibes-iggyctl that started it
	test "$(ps -o sid= -p "$sup" | tr -d " ")" = "$sup" &&
	tr "\0" " " <"/proc/$sup/cmdline" >cmdline &&
	grep -- "--data-dir $D --server-bin $VIBES_BUILD_DIR/cmd/vibes-iggyd --spawn-addr 127.0.0.1:0 --addr 127.0.0.1:0 --spawn-http 127.0.0.1:[0-9]* --notify-fd 3 $" cmdline &&
	# the HTTP API is the daemon'\''s and the supervisor passes it on
	tr "\0" " " <"/proc/$(cat "$D/server.pid")/cmdline" >dcmd &&
	grep -- " --http 127.0.0.1:[0-9]* " dcmd &&
	# the server is its child; stdin, stdout, stderr and nothing else
	# of the starter is open in it
	test "$(ps -o ppid= -p "$(cat "$D/server.pid")" | tr -d " ")" = "$sup" &&
	test "$(readlink "/proc/$sup/fd/1")" = "$D/server.log" &&
	grep "vibes-supervise\[$sup\]: supervisor: pid $sup supervising $D$" "$D/server.log" &&
	vibes-supervise --version | grep "^vibes-supervise [0-9]"
'

netns_test 'a tool that starts the server leaves vibes-supervise, not a copy of itself' '
	D=$TRASH/d-auto &&
	stop_at_end "$D" &&
	export VIBES_IGGY_AUTOSTART=1 &&
	# (no stream yet: exit 2, once the server was started)
	test_must_fail 2 vibes-seek --data-dir "$D" -c x >out 2>err &&
	sup=$(cat "$D/supervise.lock") &&
	test "$(comm_of "$sup")" = vibes-supervise &&
	! pgrep -x -s "$sup" vibes-seek &&
	vibes-iggyctl -d "$D" status >st &&
	grep "^supervisor: *pid $sup, 0 restarts$" st
'

netns_test '-v on every tool says that it started a server: pid, address, data dir' '
	export VIBES_IGGY_AUTOSTART=1 &&
	for tool in vibes-append vibes-poll vibes-seek vibes-topic; do
		dir=$TRASH/d-$tool &&
		stop_at_end "$dir" &&
		case $tool in
		vibes-append) echo "{\"n\":1}" | $tool -v --data-dir "$dir" 2>err ;;
		vibes-poll) $tool -v --data-dir "$dir" -c x -t nothing 2>err ;;
		vibes-seek) $tool -v --data-dir "$dir" -c x 2>err ;;
		vibes-topic) $tool -v --data-dir "$dir" list >/dev/null 2>err ;;
		esac
		grep "^$tool: started the server: pid $(cat "$dir/server.pid"), $(cat "$dir/server.addr"), data dir $dir$" err ||
			{ echo "$tool -v did not say it:"; cat err; exit 1; }
		# once running, nothing to say
		$tool -v --data-dir "$dir" -c x 2>err2 </dev/null
		! grep "started the server" err2 &&
		vibes-iggyctl -d "$dir" stop >/dev/null || exit 1
	done &&
	# without -v, nothing
	dir=$TRASH/d-quiet &&
	stop_at_end "$dir" &&
	echo "{\"n\":1}" | vibes-append --data-dir "$dir" 2>err &&
	test ! -s err &&
	vibes-iggyctl -d "$dir" status >/dev/null
'

test_expect_success 'a server stopped with SIGSTOP: status says not answering (exit 1), the supervisor restarts it within the bound' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	vibes-test-tool -d "$D" send hang events one two &&
	old=$(cat "$D/server.pid") &&
	addr=$(cat "$D/server.addr") &&
	sup=$(cat "$D/supervise.lock") &&
	test_when_finished "kill -CONT $old 2>/dev/null" &&
	kill -STOP "$old" &&
	wait_for 5 is_stopped "$old" &&
	# still holding its lock: liveness alone would say running
	test "$(lock_holders "$D/server.pid")" = "$old" &&
	test_must_fail 1 vibes-iggyctl -d "$D" status >out &&
	grep "^state: *not answering (no answer to a ping within 2000 ms; the process is stopped by a signal (.kill -CONT $old. resumes it); its supervisor kills and restarts a server that answers no ping for 10 s)$" out &&
	grep "^pid: *$old$" out &&
	test_must_fail 1 vibes-iggyctl -d "$D" status --json >out &&
	grep "\"state\":\"not answering\",.*\"answering\":false,\"ping_error\":\"no answer to a ping within 2000 ms" out &&
	# the bound: 10 s without an answer, then a restart 1 s later
	wait_for 25 pid_changed "$D" "$old" &&
	process_gone "$old" &&
	wait_for 10 vibes-test-tool -d "$D" --timeout 1000 connect &&
	grep "supervisor: server (pid $old) did not answer a ping: no answer within 2000 ms$" "$D/server.log" &&
	grep "supervisor: server (pid $old) answered no ping for 10 s: killing it (SIGKILL) to restart it$" "$D/server.log" &&
	grep "supervisor: server answered no ping for 10 s and was killed (SIGKILL); restarting in 1.0 s (restart 1)$" "$D/server.log" &&
	grep "^last_exit=answered no ping for 10 s and was killed (SIGKILL)$" "$D/supervise.state" &&
	# same supervisor, same address, data intact
	test "$(cat "$D/supervise.lock")" = "$sup" &&
	test "$(cat "$D/server.addr")" = "$addr" &&
	vibes-test-tool -d "$D" poll hang events >actual &&
	printf "one\ntwo\n" >expect &&
	test_cmp expect actual &&
	vibes-iggyctl -d "$D" status >out &&
	grep "^state: *running$" out &&
	grep "^supervisor: *pid $sup, 1 restart$" out
'

test_expect_success 'a server that answers again in time is left alone' '
	D=$TRASH/d-again &&
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	pid=$(cat "$D/server.pid") &&
	test_when_finished "kill -CONT $pid 2>/dev/null" &&
	kill -STOP "$pid" &&
	# the supervisor notices (its ping goes unanswered) ...
	wait_for 10 grep "supervisor: server (pid $pid) did not answer a ping" "$D/server.log" &&
	kill -CONT "$pid" &&
	# ... and sees it answer again before the bound
	wait_for 10 grep "supervisor: server (pid $pid) answers again" "$D/server.log" &&
	test "$(cat "$D/server.pid")" = "$pid" &&
	vibes-iggyctl -d "$D" status >out &&
	grep "^supervisor: *pid [0-9]*, 0 restarts$" out &&
	! grep "killing it" "$D/server.log"
'

test_expect_success 'the supervisor is found next to the server binary, and its absence is exit 78' '
	D=$TRASH/d-moved &&
	stop_at_end "$D" &&
	mkdir -p tools moved nosup &&
	cp "$VIBES_BUILD_DIR/cmd/vibes-iggyctl" tools/ &&
	cp "$VIBES_BUILD_DIR/cmd/vibes-iggyd" "$VIBES_BUILD_DIR/cmd/vibes-supervise" \
		moved/ &&
	PATH=/usr/bin:/bin "$TRASH/tools/vibes-iggyctl" -d "$D" --port 0 \
		--server-bin "$TRASH/moved/vibes-iggyd" start &&
	test "$(readlink "/proc/$(cat "$D/supervise.lock")/exe")" = "$TRASH/moved/vibes-supervise" &&
	vibes-iggyctl -d "$D" stop &&
	cp "$VIBES_BUILD_DIR/cmd/vibes-iggyctl" "$VIBES_BUILD_DIR/cmd/vibes-iggyd" nosup/ &&
	test_must_fail 78 env PATH=/usr/bin:/bin "$TRASH/nosup/vibes-iggyctl" \
		-d "$D" --port 0 start 2>err &&
	grep "cannot execute the supervisor vibes-supervise (is vibes installed completely? it belongs in .*/vibes)" err &&
	test -z "$(lock_holders "$D/supervise.lock")"
'

test_expect_success 'a restart whose HTTP port was taken meanwhile takes one of the kernel'\''s choice, not exit 78 for good' '
	start_server "$TRASH/holder" --http 127.0.0.1:0 &&
	holder=$SERVER_PID &&
	test_when_finished "stop_server $holder" &&
	taken=$(cat "$TRASH/holder/http.addr") &&
	d=$TRASH/d-taken &&
	mkdir -p "$d" || return 1
	# no starter to answer: the first spawn is handled as a restart is
	vibes-supervise --data-dir "$d" \
		--server-bin "$VIBES_BUILD_DIR/cmd/vibes-iggyd" \
		--spawn-addr 127.0.0.1:0 --spawn-http "$taken" \
		>>"$d/server.log" 2>&1 &
	sup=$! &&
	test_when_finished "kill $sup 2>/dev/null; wait $sup" &&
	wait_for 20 grep -q "supervisor: HTTP port $taken was taken meanwhile; restarting with one of the kernel.s choice" "$d/server.log" &&
	wait_for 20 grep -q "ready again\|HTTP API on http://127.0.0.1:" "$d/server.log" &&
	wait_for 20 test -s "$d/http.addr" &&
	test "$(cat "$d/http.addr")" != "$taken" &&
	! grep "permanent failure" "$d/server.log"
'

test_done
