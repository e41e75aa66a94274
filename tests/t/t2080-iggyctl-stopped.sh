#!/bin/bash
test_description='vibes-iggyctl stop stays stopped: no tool starts the server until start; followers wait'
# The tools may start the server here (autostart on), which tries the
# default port 8090 first: the script runs in a private network namespace
# where it can, and the tests that let a tool start one need it.
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

export VIBES_IGGY_AUTOSTART=1
D=$VIBES_IGGY_DATA_DIR

# supervised DIR: a supervisor holds DIR's supervise.lock.
supervised() {
	test -n "$(lock_holders "$1/supervise.lock")"
}

# open_follower ARGS...: vibes-poll -f in the background, its output in
# fout and ferr; FPID is its pid.
open_follower() {
	vibes-poll -f "$@" >"$TRASH/fout" 2>"$TRASH/ferr" &
	FPID=$!
	echo "$FPID" >>"$_pid_file"
}

# lines FILE N: FILE has N lines.
lines() {
	test "$(wc -l <"$1")" = "$2"
}

# said FILE N: the follower said N times that it waits.
said() {
	test "$(grep -c "waiting until" "$1")" = "$2"
}

MARK='stopped by vibes-iggyctl stop (pid [0-9]*) at 20[0-9-]*T[0-9:]*Z'

test_expect_success 'stop writes server.down; status says who stopped it and when' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 start &&
	vibes-iggyctl stop &&
	grep -x "$MARK" "$D/server.down" &&
	test "$(stat -c %a "$D/server.down")" = 600 &&
	test_must_fail 3 vibes-iggyctl status >out &&
	grep "^state: *stopped ($MARK; the tools do not start it by themselves until .vibes-iggyctl start.)$" out &&
	test_must_fail 3 vibes-iggyctl status --json >out &&
	grep "\"state\":\"stopped\",.*\"stopped_by\":\"$MARK\"" out &&
	# a stop of a stopped server is still one
	vibes-iggyctl stop >out &&
	grep "^not running" out &&
	test -f "$D/server.down"
'

test_expect_success 'after stop every tool fails at once (exit 69), naming the data dir and the next step' '
	stop_at_end "$D" &&
	want="the server of data dir $D was $MARK; the tools do not start it by themselves until .vibes-iggyctl start.$" &&
	echo "{\"n\":1}" | test_must_fail 69 vibes-append --retry-timeout 60s 2>err &&
	grep "^vibes-append: $want" err &&
	grep "^vibes-append: not stored: every line of stdin$" err &&
	test_must_fail 69 vibes-poll -c x 2>err &&
	grep "^vibes-poll: $want" err &&
	test_must_fail 69 vibes-seek -c x 2>err &&
	grep "^vibes-seek: $want" err &&
	test_must_fail 69 vibes-topic list 2>err &&
	grep "^vibes-topic: $want" err &&
	# another data dir: the command says which
	test_must_fail 69 vibes-poll --data-dir "$D" -c x 2>err &&
	grep "^vibes-poll: $want" err &&
	vibes-iggyctl -d "$TRASH/other" --port 0 start &&
	vibes-iggyctl -d "$TRASH/other" stop &&
	test_must_fail 69 vibes-poll --data-dir "$TRASH/other" -c x 2>err &&
	grep "until .vibes-iggyctl -d $TRASH/other start.$" err &&
	# nothing was started
	test_must_fail 3 vibes-iggyctl status &&
	! supervised "$D"
'

netns_test 'start, ensure and restart end it; a server that died without a stop is started again' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 start &&
	test ! -e "$D/server.down" &&
	echo "{\"n\":1}" | vibes-append &&
	vibes-iggyctl stop &&
	vibes-iggyctl --port 0 ensure &&
	test ! -e "$D/server.down" &&
	vibes-iggyctl stop &&
	vibes-iggyctl --port 0 restart &&
	test ! -e "$D/server.down" &&
	vibes-poll -c x >got &&
	echo "{\"n\":1}" >want &&
	test_cmp want got &&
	# killed, not stopped: the next tool starts it as before
	pid=$(cat "$D/server.pid") &&
	kill -9 "$(cat "$D/supervise.lock")" "$pid" &&
	wait_for 5 process_gone "$pid" &&
	test_must_fail 3 vibes-iggyctl status &&
	vibes-poll -c y >got &&
	test_cmp want got &&
	vibes-iggyctl status >/dev/null
'

test_expect_success 'a -f follower says once that the server was stopped, waits, and goes on after start' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 ensure &&
	vibes-topic create follow &&
	echo "{\"n\":1}" | vibes-append -t follow &&
	open_follower -c f -t follow &&
	wait_for 10 lines fout 1 &&
	vibes-iggyctl stop &&
	wait_for 10 grep "^vibes-poll: the server of data dir $D was $MARK; waiting until .vibes-iggyctl start.$" ferr &&
	# waiting, not starting it
	kill -0 "$FPID" &&
	test_must_fail 3 vibes-iggyctl status &&
	! supervised "$D" &&
	vibes-iggyctl --port 0 start &&
	echo "{\"n\":2}" | vibes-append -t follow &&
	wait_for 20 lines fout 2 &&
	printf "{\"n\":1}\n{\"n\":2}\n" >want &&
	test_cmp want fout &&
	said ferr 1 &&
	kill "$FPID" &&
	wait "$FPID"
'

test_expect_success 'a follower started after stop waits from the start; a signal ends the wait' '
	stop_at_end "$D" &&
	vibes-iggyctl stop &&
	open_follower -c g -t follow &&
	wait_for 10 grep "^vibes-poll: the server of data dir $D was $MARK; waiting until .vibes-iggyctl start.$" ferr &&
	! supervised "$D" &&
	vibes-iggyctl --port 0 start &&
	wait_for 20 lines fout 2 &&
	vibes-iggyctl stop &&
	wait_for 10 said ferr 2 &&
	kill -TERM "$FPID" &&
	wait_for 10 process_gone "$FPID" &&
	! supervised "$D"
'

test_done
