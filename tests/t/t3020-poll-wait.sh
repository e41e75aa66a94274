#!/bin/bash
test_description='vibes-poll -f and waiting polls: woken by appends, consumer and group; the fallback to interval polling against a server that refuses them (as upstream 0.8.0)'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1

# events STREAM FIRST LAST [ARGS]: one append per event, {"session_id":"sN","n":N}.
events() {
	local s=$1 a=$2 z=$3
	shift 3
	for i in $(seq "$a" "$z"); do
		printf '{"session_id":"s%d","n":%d}\n' "$i" "$i" |
			vibes-append -s "$s" "$@" || return 1
	done
}

# lines FILE N: FILE has N lines, within 20 s.
lines() {
	local i=0
	while [ "$(wc -l <"$1")" -lt "$2" ] && [ $i -lt 1000 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	test "$(wc -l <"$1")" = "$2"
}

ns() {
	sed 's/.*"n":\([0-9]*\).*/\1/' "$1" | sort -n
}

test_expect_success 'a follower parked in the server gets what is appended after it, then ends on SIGTERM having committed' '
	events w 1 1 || exit 1
	: >out
	vibes-poll -c f1 -s w -f --interval 30s >out 2>err &
	pid=$! &&
	test_when_finished "kill $pid 2>/dev/null" &&
	lines out 1 &&
	events w 2 6 &&
	lines out 6 &&
	kill -TERM $pid && wait $pid &&
	ns out >got && seq 1 6 >want && test_cmp want got &&
	vibes-poll -c f1 -s w >again &&
	test_must_fail test -s again
'

# lag STREAM CONSUMER: the consumer's total lag (what it has not committed).
lag() {
	vibes-seek -c "$2" -s "$1" | awk '$1 == "total" { print $2 }'
}

test_expect_success 'a following consumer commits while it runs, within about a second' '
	events one 1 1 || exit 1
	: >cout
	vibes-poll -c f2 -s one -f >cout 2>cerr &
	pid=$!
	test_when_finished "kill $pid 2>/dev/null"
	lines cout 1 &&
	events one 2 4 &&
	lines cout 4 &&
	i=0 &&
	while [ "$(lag one f2)" != 0 ] && [ $i -lt 250 ]; do
		sleep 0.02; i=$((i + 1))
	done &&
	test "$(lag one f2)" = 0 &&
	kill -0 $pid
'

test_expect_success 'a group member follows every partition it owns through waiting polls' '
	events g 1 4 || exit 1
	: >gout
	vibes-poll -g grp -s g -f --interval 30s >gout 2>gerr &
	pid=$! &&
	test_when_finished "kill $pid 2>/dev/null" &&
	lines gout 4 &&
	events g 5 12 &&
	lines gout 12 &&
	kill -TERM $pid && wait $pid &&
	ns gout >got && seq 1 12 >want && test_cmp want got
'

test_expect_success '-n with -f: the waiting poll asks for no more than is left' '
	vibes-seek -c lim -s w --to end >/dev/null || exit 1
	: >lout
	vibes-poll -c lim -s w -f -n 3 >lout &
	pid=$! &&
	test_when_finished "kill $pid 2>/dev/null" &&
	events w 7 11 &&
	wait $pid &&
	test "$(wc -l <lout)" = 3 &&
	vibes-poll -c lim -s w >rest &&
	test "$(wc -l <rest)" = 2
'

test_expect_success 'against a server that answers the waiting poll 3, vibes-poll -f polls at intervals and still gets everything' '
	D="$TRASH/up"
	VIBES_TEST_NO_WAIT_POLL=1 start_server "$D" || exit 1
	echo $SERVER_PID >"$TRASH/up.pid"
	test_when_finished "kill \$(cat \"$TRASH/up.pid\") 2>/dev/null"
	events u 1 2 --data-dir "$D" || exit 1
	: >uout
	vibes-poll -c u1 -s u -f --data-dir "$D" >uout 2>uerr &
	pid=$!
	test_when_finished "kill $pid 2>/dev/null"
	lines uout 2 &&
	events u 3 5 --data-dir "$D" &&
	lines uout 5 || exit 1
	: >ugout
	vibes-poll -g ug -s u -f --data-dir "$D" >ugout 2>ugerr &
	gpid=$!
	test_when_finished "kill $gpid 2>/dev/null"
	lines ugout 5 &&
	events u 6 7 --data-dir "$D" &&
	lines ugout 7 &&
	lines uout 7 &&
	kill -TERM $pid $gpid && wait $pid && wait $gpid &&
	ns uout >got && seq 1 7 >want && test_cmp want got &&
	ns ugout >got && test_cmp want got
'

test_expect_success 'a follower of some partitions (-p) gets only theirs; --idle-timeout ends a waiting group member' '
	vibes-topic create pw --partitions 3 &&
	for i in 1 2 3 4 5 6; do
		printf "{\"n\":%d}\n" "$i" | vibes-append -s pw -p $((i % 3)) || return 1
	done &&
	vibes-poll -c fp -s pw -p 1 -f --idle-timeout 1s --format "%p %s\n" >out &&
	test "$(cut -d" " -f1 out | sort -u)" = 1 &&
	test "$(wc -l <out)" = 2 &&
	vibes-poll -g gi -s pw -f --idle-timeout 1s >gout &&
	test "$(wc -l <gout)" = 6
'

test_done
