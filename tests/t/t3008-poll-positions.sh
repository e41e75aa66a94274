#!/bin/bash
test_description='vibes-poll: where a new consumer starts, moves that stick, time order, bad messages, group owners'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1

# events STREAM FIRST LAST: appends {"session_id":"sN","n":N} for N in
# FIRST..LAST (sessions spread over the partitions).
events() {
	for i in $(seq "$2" "$3"); do
		printf '{"session_id":"s%d","n":%d}\n' "$i" "$i"
	done | vibes-append -s "$1"
}

# ns FILE: the "n" of every line, in order.
ns() {
	sed 's/.*"n":\([0-9]*\).*/\1/' "$1"
}

# lag STREAM CONSUMER: the consumer's total lag.
lag() {
	vibes-seek -c "$2" -s "$1" | awk '$1 == "total" { print $2 }'
}

test_expect_success 'a new consumer starts at the beginning by default, then goes on after its commits' '
	events a 1 20 &&
	vibes-poll -c c1 -s a >out &&
	test $(wc -l <out) = 20 &&
	events a 21 25 &&
	vibes-poll -c c1 -s a >out &&
	ns out | sort -n >got && seq 21 25 >want && test_cmp want got
'

test_expect_success '--start end: a new consumer skips the history; the start is kept, so nothing made while it was away is lost' '
	vibes-poll -c live -s a --start end >out &&
	test_must_fail test -s out &&
	test "$(lag a live)" = 0 &&
	events a 26 30 &&
	test "$(lag a live)" = 5 &&
	vibes-poll -c live -s a --start end >out &&
	ns out | sort -n >got && seq 26 30 >want && test_cmp want got
'

test_expect_success '--start end with no events at all, then three events: the next run gets the three' '
	vibes-topic create -s b events &&
	vibes-poll -c early -s b --start end >out &&
	test_must_fail test -s out &&
	events b 1 3 &&
	test "$(lag b early)" = 3 &&
	vibes-poll -c early -s b --start end >out &&
	ns out >got && printf "1\n2\n3\n" >want && test_cmp want got
'

test_expect_success '--start does not move a consumer that has commits' '
	events a 31 32 &&
	vibes-poll -c c1 -s a --start end >out &&
	ns out | sort -n >got && seq 26 32 >want && test_cmp want got
'

test_expect_success '--from moves once and is committed: the next run goes on from there' '
	vibes-poll -c mv -s a >/dev/null &&
	vibes-poll -c mv -s a --from beginning -n 2 >out &&
	ns out >got && printf "1\n2\n" >want.2 &&
	test $(wc -l <got) = 2 &&
	vibes-poll -c mv -s a >out &&
	test $(wc -l <out) = 30 &&
	vibes-poll -c mv2 -s a --from end >out &&
	test_must_fail test -s out &&
	test "$(lag a mv2)" = 0 &&
	events a 33 35 &&
	vibes-poll -c mv2 -s a >out &&
	ns out | sort -n >got && seq 33 35 >want && test_cmp want got
'

test_expect_success '--from with --no-commit moves nothing' '
	vibes-poll -c peek -s a >/dev/null &&
	vibes-poll -c peek -s a --from beginning --no-commit -n 3 >out &&
	test $(wc -l <out) = 3 &&
	vibes-poll -c peek -s a >out &&
	test_must_fail test -s out
'

test_expect_success 'vibes-seek --to beginning of a consumer that started at the end replays everything' '
	vibes-seek -c live -s a --to beginning >/dev/null &&
	vibes-poll -c live -s a >out &&
	test $(wc -l <out) = 35
'

test_expect_success 'bad --start values are usage errors that point at --from' '
	test_must_fail 2 vibes-poll -c x -s a --start 5 2>err &&
	grep "start: .5.: use beginning or end (to move a consumer, use --from)" err
'

test_expect_success 'the registry holds one record per consumer, readable as a topic' '
	vibes-poll -c look -s a --no-commit -t __vibes_consumers >reg &&
	grep "\"op\":\"new\",\"kind\":\"consumer\",\"name\":\"live\",\"topic\":\"events\"" reg &&
	grep "\"op\":\"move\",\"kind\":\"consumer\",\"name\":\"live\"" reg &&
	grep "\"op\":\"new\",\"kind\":\"consumer\",\"name\":\"peek\"" reg &&
	test_must_fail grep "\"op\":\"move\",\"kind\":\"consumer\",\"name\":\"peek\"" reg
'

test_expect_success 'partitions of one round come merged in the order the events were made; --order partition keeps partitions apart' '
	for i in 1 2 3 4 5; do printf "{\"session_id\":\"s%d\",\"n\":%d}\n" $((i % 2)) $i; done |
		vibes-append -s tour &&
	vibes-poll -c t1 -s tour >out &&
	ns out >got && seq 1 5 >want && test_cmp want got &&
	vibes-poll -c t2 -s tour --order partition --format json >out &&
	ns out >got &&
	test "$(tr "\n" " " <got)" = "2 4 1 3 5 " -o "$(tr "\n" " " <got)" = "1 3 5 2 4 "
'

test_expect_success 'many batches over many sessions, more than one round: the time order holds across rounds, each partition in order' '
	awk "BEGIN { for (i = 1; i <= 30000; i++) printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"n\\\":%d}\\n\", i % 97, i }" >in &&
	vibes-append -s big --batch 500 <in &&
	vibes-poll -c t -s big --format json >out &&
	test $(wc -l <out) = 30000 &&
	awk -F"[:,]" "{ p = \$2; n = \$0; sub(/.*\"n\":/, \"\", n); sub(/}.*/, \"\", n)
		if (p in last && n + 0 < last[p]) { print \"partition \" p \" out of order\"; bad = 1 }
		last[p] = n + 0 }
		END { exit bad }" out &&
	ns out >got && seq 1 30000 >want && test_cmp want got
'

test_expect_success 'a group started with --start end skips the history in every partition' '
	events g 1 40 &&
	vibes-poll -g late -s g --start end >out &&
	test_must_fail test -s out &&
	events g 41 50 &&
	vibes-poll -g late -s g >out &&
	ns out | sort -n >got && seq 41 50 >want && test_cmp want got
'

# damage FILE OFFSET: overwrites one byte in place (the server keeps serving
# the file, so readers meet the damage).
damage() {
	printf "X" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

test_expect_success 'a damaged message: everything before it delivered and committed, then exit 65 naming partition and offset' '
	for i in $(seq 1 10); do echo "{\"n\":$i}"; done | vibes-append -s bad -p 3 &&
	seg=$(ls "$VIBES_IGGY_DATA_DIR"/streams/*/topics/*/partitions/3/*.log | tail -n 1) &&
	vibes-poll -c probe -s bad --format json -n 7 >out &&
	test $(wc -l <out) = 7 &&
	if [ "${VIBES_IGGY_PROTOCOL:-}" = 0.9 ]; then
		# stored as the one 0.9 batch it came in: a 256-byte record
		# header, then frames of a 48-byte header and 7 bytes
		at=$((256 + 7 * 55 + 50))
	else
		at=$((7 * 71 + 66)) # 0.8 frames: a 64-byte header and 7 bytes
	fi &&
	damage "$seg" $at &&
	test_must_fail 65 vibes-poll -c r1 -s bad 2>err >out &&
	cat err &&
	grep "^vibes-poll: partition 3 offset 7: bad message: checksum [0-9a-f]*, the bytes give [0-9a-f]*$" err &&
	ns out >got && seq 1 7 >want && test_cmp want got &&
	test "$(vibes-seek -c r1 -s bad -p 3 --json | sed "s/.*\"committed\":\([0-9]*\).*/\1/")" = 6 &&
	test_must_fail 65 vibes-poll -c r1 -s bad >out 2>err &&
	test_must_fail test -s out
'

test_expect_success '--skip-bad reports it and goes on' '
	vibes-poll -c r2 -s bad --skip-bad >out 2>err &&
	grep "^vibes-poll: partition 3 offset 7: bad message: .* (skipped)$" err &&
	ns out >got && printf "1\n2\n3\n4\n5\n6\n7\n9\n10\n" >want && test_cmp want got &&
	vibes-poll -c r2 -s bad >out &&
	test_must_fail test -s out
'

test_expect_success 'vibes-seek -g names the owner of every partition: member id, pid and host' '
	events own 1 16 || exit 1
	vibes-poll -g o -s own -f -v >gout 2>gerr &
	echo $! >gpid &&
	i=0 && while ! grep -q "joined group" gerr 2>/dev/null; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1)); done &&
	vibes-seek -g o -s own >table &&
	cat table &&
	test $(grep -c " 0 (pid $(cat gpid) on $(hostname))" table) = 8 &&
	vibes-seek -g o -s own --json -p 2 >row &&
	grep "\"owner\":{\"member\":0,\"pid\":$(cat gpid),\"host\":\"$(hostname)\",\"address\":\"unix:@[0-9a-f]*\"}" row &&
	kill $(cat gpid) &&
	i=0 && while kill -0 $(cat gpid) 2>/dev/null; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1)); done &&
	vibes-seek -g o -s own >table &&
	test $(grep -c "  -\(  (empty)\)*$" table) = 8
'

test_done
