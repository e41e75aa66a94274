#!/bin/bash
test_description='vibes-poll: commits only what was delivered; restarts; pipes; follow'
. "$(dirname "$0")/test-lib.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

# committed offset of consumer $1 on partition 3 of stream c ("-" if none)
committed() {
	vibes-seek -c "$1" --stream c -p 3 --json |
		sed -e "s/.*\"committed\":\([0-9a-z]*\).*/\1/"
}

start_server || exit 1

test_expect_success 'append 100 events of one session' '
	for i in $(seq 1 100); do echo "{\"session_id\":\"s1\",\"i\":$i}"; done >all &&
	vibes-append --stream c <all
'

test_expect_success 'vibes-poll | head -n 5 ends quietly and commits exactly 5' '
	vibes-poll -c h --stream c 2>err | head -n 5 >out &&
	test_must_fail test -s err &&
	head -n 5 all >expect &&
	test_cmp expect out &&
	test "$(committed h)" = 4 &&
	vibes-poll -c h --stream c | head -n 3 >out &&
	sed -n 6,8p all >expect &&
	test_cmp expect out &&
	test "$(committed h)" = 7
'

test_expect_success 'json format through head commits exactly what head printed' '
	vibes-poll -c hj --stream c --format json | head -n 1 >out &&
	grep "\"offset\":0," out &&
	test "$(committed hj)" = 0
'

test_expect_success 'a reader that exits at once: nothing committed, exit 0' '
	vibes-poll -c gone --stream c | true &&
	test "$(committed gone)" = null
'

test_expect_success '--handoff block still commits only what the reader took' '
	vibes-poll -c blk --stream c --handoff block | head -c 0 &&
	test "$(committed blk)" = null &&
	vibes-poll -c blk --stream c --handoff block | cat >out &&
	test_cmp all out &&
	test "$(committed blk)" = 99
'

test_expect_success 'full disk: exit 74, nothing committed' '
	test_must_fail 74 vibes-poll -c full --stream c >/dev/full 2>err &&
	grep "^vibes-poll: writing output: No space left on device" err &&
	test "$(committed full)" = null
'

test_expect_success 'a consumer commits 40 events' '
	vibes-poll -c r --stream c -n 40 >part1 &&
	test "$(committed r)" = 39
'

# restart at top level, so test_done knows the new server
stop_server
start_server || exit 1

test_expect_success 'the commit survived the restart of the server and of the consumer' '
	test "$(committed r)" = 39 &&
	vibes-poll -c r --stream c >part2 &&
	cat part1 part2 >got &&
	test_cmp all got &&
	test "$(committed r)" = 99
'

test_expect_success 'a consumer with nothing committed starts at the beginning' '
	vibes-poll -c fresh --stream c >out &&
	test_cmp all out
'

test_expect_success '--from beginning, end, N, -N and committed; a move is committed at once' '
	vibes-poll -c f1 --stream c --from end >out &&
	test_must_fail test -s out &&
	test "$(committed f1)" = 99 &&
	vibes-poll -c f2 --stream c --from 95 >out &&
	sed -n 96,100p all >expect &&
	test_cmp expect out &&
	vibes-poll -c f2 --stream c --from -3 >out &&
	sed -n 98,100p all >expect &&
	test_cmp expect out &&
	vibes-poll -c f2 --stream c --from beginning -n 2 >out &&
	head -n 2 all >expect &&
	test_cmp expect out &&
	vibes-poll -c f2 --stream c --from committed -n 1 >out &&
	sed -n 3p all >expect &&
	test_cmp expect out
'

test_expect_success '--from @TIMESTAMP starts at the first event stored at or after it' '
	echo "{\"session_id\":\"s1\",\"i\":\"early\"}" | vibes-append --stream ts &&
	t0=$(date +%s%6N) &&
	while [ "$(date +%s%6N)" -le "$((t0 + 2000))" ]; do :; done &&
	t=$(date +%s%6N) &&
	while [ "$(date +%s%6N)" -le "$((t + 2000))" ]; do :; done &&
	echo "{\"session_id\":\"s1\",\"i\":\"late\"}" | vibes-append --stream ts &&
	vibes-poll -c t1 --stream ts --from "@${t}us" >out &&
	echo "{\"session_id\":\"s1\",\"i\":\"late\"}" >expect &&
	test_cmp expect out &&
	iso=$(date -u -d "@$((t / 1000000))" +%Y-%m-%dT%H:%M:%SZ) &&
	vibes-poll -c t2 --stream ts --from "@$iso" --format json >out &&
	grep -c "\"i\":\"late\"" out &&
	vibes-poll -c t3 --stream ts --from "@$(( $(date +%s%6N) + 60000000 ))us" >out &&
	test_must_fail test -s out
'

test_expect_success '--follow waits for new events and ends cleanly on SIGTERM after committing' '
	vibes-seek -c fol --stream c --to end >/dev/null || exit 1
	vibes-poll -c fol --stream c -f --interval 20ms >fout 2>ferr &
	pid=$! &&
	test_when_finished "kill $pid 2>/dev/null" &&
	for k in 1 2 3; do
		echo "{\"session_id\":\"s1\",\"i\":\"f$k\"}" | vibes-append --stream c || exit 1
	done &&
	i=0 &&
	while [ "$(wc -l <fout)" -lt 3 ] && [ $i -lt 500 ]; do
		sleep 0.02; i=$((i + 1))
	done &&
	kill -TERM $pid &&
	wait $pid &&
	printf "%s\n" "{\"session_id\":\"s1\",\"i\":\"f1\"}" \
		"{\"session_id\":\"s1\",\"i\":\"f2\"}" \
		"{\"session_id\":\"s1\",\"i\":\"f3\"}" >expect &&
	test_cmp expect fout &&
	test "$(committed fol)" = 102
'

test_expect_success '--follow rides out a server restart and goes on where it was' '
	vibes-seek -c rr --stream c --to end >/dev/null || exit 1
	vibes-poll -c rr --stream c -f -v --interval 20ms >rout 2>rerr &
	pid=$!
	test_when_finished "kill $pid 2>/dev/null" &&
	echo "{\"session_id\":\"s1\",\"i\":\"r1\"}" | vibes-append --stream c &&
	i=0 &&
	while [ "$(wc -l <rout)" -lt 1 ] && [ $i -lt 500 ]; do
		sleep 0.02; i=$((i + 1))
	done &&
	stop_server &&
	start_server &&
	echo $SERVER_PID >"$TRASH/server3.pid" &&
	echo "{\"session_id\":\"s1\",\"i\":\"r2\"}" | vibes-append --stream c &&
	i=0 &&
	while [ "$(wc -l <rout)" -lt 2 ] && [ $i -lt 500 ]; do
		sleep 0.02; i=$((i + 1))
	done &&
	kill -TERM $pid &&
	wait $pid &&
	printf "%s\n" "{\"session_id\":\"s1\",\"i\":\"r1\"}" \
		"{\"session_id\":\"s1\",\"i\":\"r2\"}" >expect &&
	test_cmp expect rout &&
	grep "reconnected" rerr &&
	test "$(committed rr)" = 104
'

test_done
