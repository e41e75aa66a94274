#!/bin/bash
test_description='vibes-seek: lag table, moving consumers and groups every way'
. "$(dirname "$0")/test-lib.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

start_server || exit 1

# field $2 of partition 3 for consumer/group args "$1"
field() {
	vibes-seek $1 --stream k -p 3 --json |
		sed -e "s/.*\"$2\":\([0-9a-z]*\).*/\1/"
}

# Waits until vibes-poll -v wrote "joined group" to file $1: from then on it
# has its signal handlers, so SIGTERM ends it cleanly (exit 0).
joined() {
	local i=0
	while ! grep -q "joined group" "$1" 2>/dev/null && [ $i -lt 1000 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	grep -q "joined group" "$1"
}

test_expect_success 'append 50 events to partition 3, 10 to partition 0' '
	for i in $(seq 0 49); do echo "{\"session_id\":\"s1\",\"i\":$i}"; done >p3 &&
	vibes-append --stream k <p3 &&
	for i in $(seq 0 9); do echo "{\"i\":$i}"; done >p0 &&
	vibes-append --stream k --partition 0 <p0
'

test_expect_success 'the table of a new consumer: nothing committed, lag = events stored' '
	vibes-seek -c new --stream k >out &&
	head -n 1 out | grep "^PARTITION *COMMITTED *NEXT *HWM *LAG$" &&
	grep "^0  *- *0 *9 *10$" out &&
	grep "^3  *- *0 *49 *50$" out &&
	grep "^1  *- *0 *- *0  (empty)$" out &&
	grep "^total  *60$" out &&
	vibes-seek -c new --stream k --json >out &&
	test $(wc -l <out) = 8 &&
	grep "^{\"partition\":3,\"committed\":null,\"next\":0,\"hwm\":49,\"lag\":50,\"empty\":false}$" out &&
	grep "^{\"partition\":1,\"committed\":null,\"next\":0,\"hwm\":null,\"lag\":0,\"empty\":true}$" out
'

test_expect_success 'seek --to N: the next read starts at N' '
	vibes-seek -c a --stream k --to end >/dev/null &&
	vibes-seek -c a --stream k -p 3 --to 20 >/dev/null &&
	test "$(field "-c a" committed)" = 19 &&
	test "$(field "-c a" lag)" = 30 &&
	vibes-poll -c a --stream k -n 1 >out &&
	sed -n 21p p3 >expect &&
	test_cmp expect out
'

test_expect_success 'seek --to -N: N before the committed position' '
	test "$(field "-c a" next)" = 21 &&
	vibes-seek -c a --stream k -p 3 --to -5 >/dev/null &&
	test "$(field "-c a" next)" = 16 &&
	vibes-seek -c a --stream k -p 3 --to -100 >/dev/null &&
	test "$(field "-c a" next)" = 0 &&
	test "$(field "-c a" committed)" = null
'

test_expect_success 'seek --to end, then beginning, for all partitions' '
	vibes-seek -c b --stream k --to end >out &&
	grep "^total  *0$" out &&
	test "$(field "-c b" committed)" = 49 &&
	vibes-poll -c b --stream k >out &&
	test_must_fail test -s out &&
	vibes-seek -c b --stream k --to beginning >out &&
	grep "^total  *60$" out &&
	test "$(field "-c b" committed)" = null &&
	vibes-poll -c b --stream k >out &&
	test $(wc -l <out) = 60
'

test_expect_success 'seek -p touches only that partition' '
	vibes-seek -c c --stream k -p 0 --to end --json >out &&
	test $(wc -l <out) = 1 &&
	grep "\"partition\":0,\"committed\":9" out &&
	test "$(field "-c c" committed)" = null
'

test_expect_success 'seek --to N past the end clamps to the end' '
	vibes-seek -c d --stream k -p 3 --to 1000 >/dev/null &&
	test "$(field "-c d" next)" = 50
'

test_expect_success 'seek --to @TIMESTAMP: the first event stored at or after it' '
	t0=$(date +%s%6N) &&
	while [ "$(date +%s%6N)" -le "$((t0 + 2000))" ]; do :; done &&
	t=$(date +%s%6N) &&
	while [ "$(date +%s%6N)" -le "$((t + 2000))" ]; do :; done &&
	echo "{\"session_id\":\"s1\",\"i\":\"late\"}" | vibes-append --stream k &&
	vibes-seek -c e --stream k --to "@${t}us" >/dev/null &&
	test "$(field "-c e" next)" = 50 &&
	vibes-poll -c e --stream k >out &&
	echo "{\"session_id\":\"s1\",\"i\":\"late\"}" >expect &&
	test_cmp expect out &&
	vibes-seek -c e --stream k --to @1970-01-01 >/dev/null &&
	test "$(field "-c e" next)" = 0
'

test_expect_success 'unknown group: seek without --to fails, with --to creates it' '
	test_must_fail 1 vibes-seek -g nog --stream k 2>err &&
	grep "consumer group .nog. does not exist" err &&
	vibes-seek -g g1 --stream k --to end >out &&
	grep "^total  *0$" out &&
	vibes-poll -g g1 --stream k >out &&
	test_must_fail test -s out
'

test_expect_success 'a group reads new events once, in order, and commits them' '
	for i in 1 2 3; do echo "{\"session_id\":\"s1\",\"g\":$i}"; done >new &&
	vibes-append --stream k <new &&
	vibes-poll -g g1 --stream k >out &&
	test_cmp new out &&
	vibes-poll -g g1 --stream k >out &&
	test_must_fail test -s out &&
	test "$(field "-g g1" lag)" = 0
'

test_expect_success 'a group seeks back and re-reads; --from moves its partitions too' '
	vibes-seek -g g1 --stream k -p 3 --to -2 >/dev/null &&
	vibes-poll -g g1 --stream k >out &&
	tail -n 2 new >expect &&
	test_cmp expect out &&
	vibes-poll -g g1 --stream k --from -1 -n 5 >out &&
	tail -n 1 new | sed -n 1p >expect &&
	grep -F -f expect out &&
	vibes-poll -g g2 --stream k --from beginning >out &&
	test $(wc -l <out) = 64
'

test_expect_success 'two members of a group share the partitions, each event once' '
	vibes-seek -g g3 --stream k --to end >/dev/null &&
	for i in $(seq 1 200); do echo "{\"session_id\":\"m$i\",\"i\":$i}"; done >many &&
	vibes-append --stream k <many || exit 1
	vibes-poll -v -g g3 --stream k -f --interval 20ms >m1 2>m1.err &
	p1=$!
	vibes-poll -v -g g3 --stream k -f --interval 20ms >m2 2>m2.err &
	p2=$! &&
	test_when_finished "kill $p1 $p2 2>/dev/null" &&
	joined m1.err && joined m2.err &&
	i=0 &&
	while [ "$(cat m1 m2 | wc -l)" -lt 200 ] && [ $i -lt 500 ]; do
		sleep 0.02; i=$((i + 1))
	done &&
	kill -TERM $p1 $p2 &&
	wait $p1 && wait $p2 &&
	cat m1 m2 | sort >got &&
	sort many >expect &&
	test_cmp expect got
'

# Members join while the first is still reading (its output goes to a slow
# reader): a partition handed to a newcomer moves only
# once the member that read from it has committed, so no event is output
# twice and none is lost.
test_expect_success 'members joining mid-read: every event exactly once' '
	for i in $(seq 1 3000); do echo "{\"session_id\":\"j$((i % 97))\",\"i\":$i}"; done >join &&
	vibes-append --stream jn <join &&
	mkfifo slow || exit 1
	while IFS= read -r l; do printf "%s\n" "$l"; sleep 0.001; done <slow >j1 &
	r1=$!
	vibes-poll -v -g gj --stream jn -f --batch 50 --interval 20ms >slow 2>j1.err &
	q1=$!
	test_when_finished "kill $q1 $r1 2>/dev/null"
	# 3000 events over 97 sessions: each partition holds well over 50,
	# so lines 351-400 are the first batch of partition 7, the one the
	# first newcomer is promised: join while it is being written.
	i=0
	while [ "$(wc -l <j1)" -lt 355 ] && [ $i -lt 1000 ]; do
		sleep 0.01; i=$((i + 1))
	done
	vibes-poll -v -g gj --stream jn -f --batch 50 --interval 20ms >j2 2>j2.err &
	q2=$!
	vibes-poll -v -g gj --stream jn -f --batch 50 --interval 20ms >j3 2>j3.err &
	q3=$!
	test_when_finished "kill $q2 $q3 2>/dev/null"
	joined j1.err && joined j2.err && joined j3.err || exit 1
	i=0
	while [ "$(cat j1 j2 j3 | wc -l)" -lt 3000 ] && [ $i -lt 1500 ]; do
		sleep 0.02; i=$((i + 1))
	done
	kill -TERM $q1 $q2 $q3 &&
	wait $q1 && wait $q2 && wait $q3 && wait $r1 &&
	wc -l j1 j2 j3 &&
	test -s j2 && test -s j3 &&
	cat j1 j2 j3 | sort >got &&
	sort join >expect &&
	test_cmp expect got &&
	vibes-seek -g gj --stream jn --json >lag &&
	grep "\"lag\":0" lag &&
	! grep "\"lag\":[1-9]" lag
'

# Past the server's rebalancing timeout (100 ms here, checked every 100 ms,
# while the slow reader takes 2.5 s over the batch) the promised partition
# moves even though its old owner has not committed; that member's commit is then
# refused (3022), which is not an error for it: it carries on, and the new
# owner reads the partition again from the last commit (at least once).
test_expect_success 'a member whose partition moved on past the timeout carries on' '
	export VIBES_IGGY_DATA_DIR="$TRASH/rt" &&
	start_server "$VIBES_IGGY_DATA_DIR" --rebalance-ms 100 --cleaner-ms 100 &&
	test_when_finished "stop_server $SERVER_PID" &&
	for i in $(seq 1 400); do echo "{\"i\":$i}"; done >rt.in &&
	vibes-append --stream rt --partition 7 <rt.in &&
	mkfifo rt.slow || exit 1
	while IFS= read -r l; do printf "%s\n" "$l"; sleep 0.05; done <rt.slow >k1 &
	r1=$!
	vibes-poll -v -g gk --stream rt -f --batch 50 --interval 20ms >rt.slow 2>k1.err &
	q1=$!
	test_when_finished "kill $q1 $r1 2>/dev/null"
	i=0
	while [ ! -s k1 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
	vibes-poll -v -g gk --stream rt -f --batch 50 --interval 20ms >k2 2>k2.err &
	q2=$!
	test_when_finished "kill $q2 2>/dev/null"
	joined k1.err && joined k2.err || exit 1
	i=0
	while { [ "$(wc -l <k2)" -lt 400 ] || [ "$(wc -l <k1)" -lt 50 ]; } &&
		[ $i -lt 1500 ]; do
		sleep 0.02; i=$((i + 1))
	done
	# the old owner has tried its commit (refused) before it is stopped
	i=0
	while ! grep -q "partition 7 went to another member" k1.err; do
		[ $i -lt 500 ] || exit 1; sleep 0.02; i=$((i + 1))
	done
	kill -TERM $q1 $q2 &&
	wait $q1 && wait $q2 && wait $r1 &&
	test_cmp rt.in k2 &&
	head -n 50 rt.in >expect &&
	test_cmp expect k1 &&
	grep "partition 7 went to another member" k1.err
'

test_done
