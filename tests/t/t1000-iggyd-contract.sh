#!/bin/bash
# The daemon contract of vibes-iggyd: options, pidfile lock, credentials,
# server.addr, readiness, address in use, SIGTERM.
test_description='vibes-iggyd daemon contract'
. "$(dirname "$0")/test-lib.sh"

# run_daemon NAME ARGS...: starts vibes-iggyd in the background with its
# ready fd on a pipe; sets PID and ADDR once it is ready (NAME is unused,
# kept so each call site reads as before).
run_daemon() {
	local word
	shift
	spawn_ready "$TRASH/daemon.log" vibes-iggyd --addr 127.0.0.1:0 \
		--ready-fd 3 "$@" || return 1
	PID=$SPAWN_PID
	read -r word ADDR <<<"$READY_LINE"
	test "$word" = ready
}

test_expect_success '--help prints the usage on stdout, exit 0' '
	vibes-iggyd --help >out &&
	grep -q "^usage: vibes-iggyd \[--data-dir DIR\]" out
'

test_expect_success 'a bad option or value is a usage error (2)' '
	test_must_fail 2 vibes-iggyd --no-such-option 2>err &&
	grep -q "^usage:" err &&
	test_must_fail 2 vibes-iggyd --fsync sometimes 2>err &&
	grep -q "^vibes-iggyd: --fsync .sometimes. is invalid" err &&
	test_must_fail 2 vibes-iggyd --ready-fd 77 2>err &&
	grep -q "not an open descriptor" err
'

test_expect_success 'first start: data dir, credentials, server.addr, pid' '
	run_daemon r1 --data-dir "$TRASH/d1" &&
	test_when_finished "kill -KILL $PID" &&
	test "$(stat -c %a "$TRASH/d1")" = 700 &&
	test "$(stat -c %a "$TRASH/d1/credentials")" = 600 &&
	grep -q "^username=iggy$" "$TRASH/d1/credentials" &&
	pw=$(sed -n "s/^password=//p" "$TRASH/d1/credentials") &&
	test ${#pw} = 24 &&
	echo "$pw" | grep -q "^[A-Za-z0-9]*$" &&
	case "$ADDR" in 127.0.0.1:[1-9]*) ;; *) false ;; esac &&
	test "$(cat "$TRASH/d1/server.addr")" = "$ADDR" &&
	test "$(cat "$TRASH/d1/server.pid")" = "$PID" &&
	# A second server on the same data dir: 78, names the holder.
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/d1" \
		--addr 127.0.0.1:0 2>err &&
	grep -q "^vibes-iggyd: data dir $TRASH/d1 is in use by pid $PID$" err &&
	# The address in use: 78 with the contract message.
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/d2" \
		--addr "$ADDR" 2>err &&
	grep -q "^vibes-iggyd: cannot listen on $ADDR: address already in use$" err &&
	# SIGTERM: exit 0, pidfile removed, clean marker written.
	kill -TERM $PID &&
	wait $PID &&
	test -f "$TRASH/d1/clean" &&
	! test -f "$TRASH/d1/server.pid" &&
	grep -q "shutting down" "$TRASH/daemon.log"
'

test_expect_success 'restart keeps the generated credentials' '
	cp "$TRASH/d1/credentials" expect &&
	start_server "$TRASH/d1" &&
	test_when_finished "kill -KILL $SERVER_PID" &&
	test_cmp expect "$TRASH/d1/credentials" &&
	! test -f "$TRASH/d1/clean" &&
	stop_server
'

test_expect_success 'IGGY_ROOT_USERNAME/PASSWORD override and are recorded' '
	IGGY_ROOT_USERNAME=admin IGGY_ROOT_PASSWORD=s3cret-pw \
		start_server "$TRASH/d1" &&
	test_when_finished "kill -KILL $SERVER_PID" &&
	printf "username=admin\npassword=s3cret-pw\n" >expect &&
	test_cmp expect "$TRASH/d1/credentials" &&
	stop_server
'

test_expect_success 'data dir from VIBES_IGGY_DATA_DIR, else XDG_DATA_HOME' '
	VIBES_IGGY_DATA_DIR="$TRASH/env-dir" run_daemon r2 &&
	test "$(cat "$TRASH/env-dir/server.addr")" = "$ADDR" &&
	kill -TERM $PID && wait $PID &&
	unset VIBES_IGGY_DATA_DIR &&
	run_daemon r3 &&
	test_when_finished "kill -KILL $PID" &&
	test "$(cat "$XDG_DATA_HOME/vibes/iggy/server.addr")" = "$ADDR" &&
	kill -TERM $PID && wait $PID &&
	# A relative XDG_DATA_HOME is ignored (XDG spec), by the daemon as by
	# vibes-iggyctl: both land in HOME.
	XDG_DATA_HOME=rel run_daemon r4 &&
	test "$(cat "$HOME/.local/share/vibes/iggy/server.addr")" = "$ADDR" &&
	XDG_DATA_HOME=rel vibes-iggyctl status >st &&
	grep "^data dir: *$HOME/.local/share/vibes/iggy$" st &&
	kill -TERM $PID && wait $PID
'

test_expect_success 'a credentials file without a password exits 78, naming it' '
	mkdir -p "$TRASH/d6" &&
	printf "username=iggy\n# no password\n" >"$TRASH/d6/credentials" &&
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/d6" \
		--addr 127.0.0.1:0 2>err &&
	grep -q "$TRASH/d6/credentials: expected lines username=NAME and password=SECRET" err &&
	printf "username=iggy\npassword=s3cret-pw\n" >"$TRASH/d6/credentials" &&
	run_daemon r6 --data-dir "$TRASH/d6" &&
	test_when_finished "kill -KILL $PID" &&
	vibes-iggyctl -d "$TRASH/d6" status >st &&
	grep "^streams:" st
'

test_expect_success 'an unusable data dir exits 78' '
	echo file >not-a-dir &&
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/not-a-dir/x" \
		--addr 127.0.0.1:0 2>err &&
	grep -q "^vibes-iggyd: data dir" err
'

# The module goes before an ASan build's runtime in the preload order.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

# The daemon is started while a shared lock (what a status probe takes)
# is held, and the lock is let go only once the daemon has met it: the
# inject.so module writes a byte on fd 5 when a flock finds the lock
# held, so the retry is tested on every machine, however slow.
test_expect_success 'a passing shared lock (a status probe) does not make a start fail' '
	mkdir -p "$TRASH/d5" &&
	printf 999999999 >"$TRASH/d5/server.pid" &&
	mkfifo d5.busy d5.ready d5.go &&
	exec 5<>d5.busy 6<>d5.ready 7<>d5.go &&
	test_when_finished "exec 5>&- 6>&- 7>&-" || exit 1
	flock -s "$TRASH/d5/server.pid" sh -c "echo held; read x <&7" >d5.held &
	fp=$!
	i=0
	while [ "$(cat d5.held)" != held ]; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1))
	done
	# (an ASan build wants its runtime first: inject.so comes before it)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	LD_PRELOAD="$VIBES_BUILD_DIR/tests/tool/inject.so" VIBES_TEST_FLOCK_BUSY_FD=5 \
		vibes-iggyd --data-dir "$TRASH/d5" --addr 127.0.0.1:0 \
		--ready-fd 6 >>"$TRASH/daemon.log" 2>&1 &
	PID=$!
	echo $PID >>"$_pid_file"
	read -r -t 20 -n 1 busy <&5 &&
	test "$busy" = b &&
	echo go >&7 &&
	read -r -t 20 word addr <&6 &&
	test "$word" = ready &&
	test_when_finished "kill -KILL $PID" &&
	wait $fp &&
	test "$(cat "$TRASH/d5/server.pid")" = "$PID"
'

test_done
