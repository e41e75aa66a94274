#!/bin/bash
test_description='vibes-poll -g: members share the partitions fairly, each event exactly once, while they join and leave'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server "$VIBES_IGGY_DATA_DIR" --rebalance-ms 10000 || exit 1

# owners STREAM GROUP: how many partitions each member owns, one count per
# line, sorted ("-" rows, no owner, are left out).
owners() {
	vibes-seek -g "$2" -s "$1" --json |
		sed -n 's/.*"owner":{"member":\([0-9]*\).*/\1/p' | sort | uniq -c |
		awk '{ print $1 }' | sort -n
}

# fair STREAM GROUP MEMBERS: MEMBERS members own all 8 partitions, and
# their counts differ by at most one.
fair() {
	owners "$1" "$2" >counts &&
	test "$(wc -l <counts)" = "$3" &&
	test "$(awk '{ s += $1 } END { print s }' counts)" = 8 &&
	test $(($(tail -n 1 counts) - $(head -n 1 counts))) -le 1
}

# wait_until SECONDS CMD...: polls CMD every 0.05 s until it succeeds.
wait_until() {
	local i=0 limit=$(($1 * 20))
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt $limit ] || { echo "wait_until: $* still failing" >&2; return 1; }
		sleep 0.05
	done
}

# member N STREAM: a member of group w reading STREAM, its events through a
# slow reader into m.N (so members are busy while others come and go);
# M_N is its pid, R_N its reader's.
member() {
	local fifo="$TRASH/m.$1.fifo"
	rm -f "$fifo" && mkfifo "$fifo" || return 1
	while IFS= read -r l; do printf '%s\n' "$l"; done <"$fifo" >"$TRASH/m.$1" &
	eval "R_$1=$!"
	vibes-poll -g w -s "$2" -f -v --batch 100 --interval 20ms >"$fifo" \
		2>"$TRASH/m.$1.err" &
	eval "M_$1=$!"
	echo "$! $(eval echo \$R_$1)" >>"$_pid_file"
	wait_until 20 grep -q "joined group" "$TRASH/m.$1.err"
}

# leave N: stops member N (it commits what its reader took, then leaves).
leave() {
	local m r
	eval "m=\$M_$1 r=\$R_$1"
	kill -TERM "$m" && wait "$m" && wait "$r"
}

lines() {
	cat "$TRASH"/m.[0-9] 2>/dev/null | wc -l
}

# at_least N: the members wrote N events between them.
at_least() {
	test "$(lines)" -ge "$1"
}

test_expect_success 'three members started together on 8 partitions each get 25-42% of 800 evenly keyed events' '
	# one session per partition, found by asking where each one lands
	for i in $(seq 1 64); do echo "{\"session_id\":\"k$i\"}"; done >cand &&
	vibes-append -s probe --acks <cand >acks &&
	for p in 0 1 2 3 4 5 6 7; do
		n=$(grep -m 1 "\"partition\":$p," acks | sed "s/{\"line\":\([0-9]*\),.*/\1/") &&
		test -n "$n" && echo "k$n" || exit 1
	done >keys &&
	vibes-topic create -s fair events &&
	member 1 fair && member 2 fair && member 3 fair &&
	wait_until 20 fair fair w 3 &&
	awk "NR == FNR { k[FNR - 1] = \$0; next } END {
		for (i = 0; i < 800; i++)
			printf \"{\\\"session_id\\\":\\\"%s\\\",\\\"n\\\":%d}\\n\", k[i % 8], i }" keys /dev/null >in &&
	vibes-append -s fair <in &&
	wait_until 60 at_least 800 &&
	leave 1 && leave 2 && leave 3 &&
	for i in 1 2 3; do
		n=$(wc -l <m.$i) && echo "member $i: $n" &&
		test "$n" -ge 200 && test "$n" -le 336 || exit 1
	done &&
	cat m.1 m.2 m.3 | sort >got && sort in >want && test_cmp want got
'

test_expect_success '1 to 5 members joining and leaving during a 100,000-event read: every event exactly once, fair after each change' '
	rm -f m.[0-9] &&
	awk "BEGIN { for (i = 1; i <= 100000; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"n\\\":%d}\\n\", i % 331, i }" >big &&
	vibes-append -s churn <big &&
	member 1 churn &&
	wait_until 20 fair churn w 1 &&
	wait_until 30 at_least 2000 &&
	member 2 churn && wait_until 30 fair churn w 2 &&
	member 3 churn && wait_until 30 fair churn w 3 &&
	wait_until 30 at_least 20000 &&
	member 4 churn && wait_until 30 fair churn w 4 &&
	member 5 churn && wait_until 30 fair churn w 5 &&
	wait_until 30 at_least 40000 &&
	leave 2 && wait_until 30 fair churn w 4 &&
	leave 4 && wait_until 30 fair churn w 3 &&
	wait_until 30 at_least 60000 &&
	leave 1 && wait_until 30 fair churn w 2 &&
	member 6 churn && wait_until 30 fair churn w 3 &&
	wait_until 120 at_least 100000 &&
	leave 3 && leave 5 && leave 6 &&
	for i in 1 2 3 4 5 6; do echo "member $i: $(wc -l <m.$i)"; done &&
	cat m.[0-9] | sort >got &&
	sort big >want &&
	test_cmp want got &&
	test "$(vibes-seek -g w -s churn | awk "\$1 == \"total\" { print \$2 }")" = 0
'

# The connection lost while joining (the server died then, as in
# tests/stress/power-loss): an error, not a crash.  Freeing member lists
# that the failed call never filled aborted vibes-poll (munmap_chunk(),
# or an ASan bad-free).
test_expect_success 'a connection lost while joining a group is an error, not an abort' '
	echo "{\"n\":1}" | vibes-append -s lost &&
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	LD_PRELOAD="$VIBES_BUILD_DIR/tests/tool/inject.so" \
	VIBES_TEST_RESET_CMD=600 \
		vibes-poll -g j1 -s lost >out 2>err
	rc=$? &&
	cat err &&
	test $rc = 69 &&
	grep "^vibes-poll: .*reset" err
'

test_done
