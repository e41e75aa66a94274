#!/bin/bash
test_description='event log: append and poll round trip, partitioning, formats, consumers'
. "$(dirname "$0")/test-lib.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

# at top level: start_server sets SERVER_PID for test_done's cleanup
start_server || exit 1

test_expect_success 'one event, then read it back raw and as json' '
	echo "{\"session_id\":\"s1\",\"n\":1}" | vibes-append &&
	vibes-poll -c r1 >out &&
	echo "{\"session_id\":\"s1\",\"n\":1}" >expect &&
	test_cmp expect out &&
	vibes-poll -c j1 --format json >out &&
	grep -E "^\{\"partition\":3,\"offset\":0,\"timestamp\":[0-9]{16},\"id\":\"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\",\"key\":\"s1\",\"headers\":\{\"key\":\"s1\"\},\"payload\":\{\"session_id\":\"s1\",\"n\":1\}\}$" out
'

test_expect_success 'keys go where the server hashes them (XXH32 mod 8)' '
	printf "%s\n" "{\"session_id\":\"sess-123\"}" "{\"n\":2}" \
		"{\"session_id\":\"s1\",\"n\":3}" >in &&
	vibes-append --acks in >acks &&
	sed -n 1p acks | grep "^{\"line\":1,\"partition\":3,\"offset\":" &&
	sed -n 3p acks | grep "^{\"line\":3,\"partition\":3,\"offset\":" &&
	test $(wc -l <acks) = 3 &&
	echo "{\"x\":1}" | vibes-append --key sess-123 --acks >acks &&
	grep "\"partition\":3" acks &&
	echo "{\"x\":1}" | vibes-append --partition 6 --acks >acks &&
	grep "^{\"line\":1,\"partition\":6,\"offset\":0}$" acks &&
	echo "{\"user\":\"s1\"}" | vibes-append --key-field user --acks >acks &&
	grep "\"partition\":3" acks
'

test_expect_success 'acks give the real offsets, in input order' '
	vibes-seek -c nobody --json -p 3 >before &&
	hwm=$(sed -e "s/.*\"hwm\":\([0-9]*\).*/\1/" before) &&
	for i in 1 2 3 4 5; do echo "{\"session_id\":\"s1\",\"i\":$i}"; done >in &&
	vibes-append --acks in >acks &&
	for i in 1 2 3 4 5; do
		echo "{\"line\":$i,\"partition\":3,\"offset\":$((hwm + i))}"
	done >expect &&
	test_cmp expect acks &&
	vibes-poll -c a5 --format json --from -5 | grep "\"partition\":3" |
		sed -e "s/.*\"offset\":\([0-9]*\).*\"payload\":\(.*\)}$/\1 \2/" >got &&
	for i in 1 2 3 4 5; do
		echo "$((hwm + i)) {\"session_id\":\"s1\",\"i\":$i}"
	done >expect &&
	test_cmp expect got
'

test_expect_success 'an ack is written out once its line is stored, while the input is still open' '
	mkfifo ackin ackout &&
	{ vibes-append --acks <ackin >ackout & } &&
	apid=$! &&
	exec 8>ackin 9<ackout &&
	echo "{\"session_id\":\"s1\",\"n\":1}" >&8 &&
	read -r -t 10 line <&9 &&
	echo "$line" | grep "^{\"line\":1,\"partition\":3,\"offset\":[0-9]*}$" &&
	exec 8>&- &&
	wait $apid &&
	exec 9<&-
'

test_expect_success '--stream, --topic and --partitions make a separate log' '
	echo "{\"session_id\":\"s1\"}" |
		vibes-append --stream other -t t1 --partitions 1 --acks >acks &&
	grep "^{\"line\":1,\"partition\":0,\"offset\":0}$" acks &&
	vibes-seek -c x --stream other -t t1 --json >rows &&
	test $(wc -l <rows) = 1 &&
	vibes-poll -c x -s other -t t1 >out &&
	echo "{\"session_id\":\"s1\"}" >expect &&
	test_cmp expect out
'

test_expect_success '-n COUNT stops after COUNT and commits exactly that' '
	for i in $(seq 1 20); do echo "{\"session_id\":\"n$i\",\"i\":$i}"; done |
		vibes-append --stream cnt &&
	vibes-poll -c c --stream cnt -n 7 >out &&
	test $(wc -l <out) = 7 &&
	vibes-poll -c c --stream cnt >rest &&
	test $(wc -l <rest) = 13 &&
	cat out rest | sort >got &&
	for i in $(seq 1 20); do echo "{\"session_id\":\"n$i\",\"i\":$i}"; done | sort >expect &&
	test_cmp expect got
'

test_expect_success 'two consumers read the same events at their own pace' '
	for i in $(seq 1 30); do echo "{\"session_id\":\"s1\",\"i\":$i}"; done |
		vibes-append --stream two &&
	vibes-poll -c fast --stream two >fast &&
	test $(wc -l <fast) = 30 &&
	vibes-poll -c slow --stream two -n 10 >slow1 &&
	vibes-seek -c fast --stream two --json -p 3 >f &&
	grep "\"committed\":29,\"next\":30,\"hwm\":29,\"lag\":0" f &&
	vibes-seek -c slow --stream two --json -p 3 >s &&
	grep "\"committed\":9,\"next\":10,\"hwm\":29,\"lag\":20" s &&
	for i in $(seq 31 35); do echo "{\"session_id\":\"s1\",\"i\":$i}"; done |
		vibes-append --stream two &&
	vibes-poll -c fast --stream two >fast2 &&
	vibes-poll -c slow --stream two >slow2 &&
	test $(wc -l <fast2) = 5 &&
	test $(wc -l <slow2) = 25 &&
	cat slow1 slow2 >slow &&
	cat fast fast2 >fastall &&
	test_cmp fastall slow
'

test_expect_success '--no-commit reads without moving the consumer' '
	vibes-poll -c peek --stream two --no-commit >a &&
	vibes-poll -c peek --stream two --no-commit >b &&
	test_cmp a b &&
	test $(wc -l <a) = 35 &&
	vibes-seek -c peek --stream two --json -p 3 | grep "\"committed\":null"
'

test_expect_success '1,000,000 lines round trip: byte-identical per partition, in order' '
	awk "BEGIN { for (i = 1; i <= 1000000; i++)
		printf \"{\\\"session_id\\\":\\\"sess-%d\\\",\\\"seq\\\":%d,\\\"msg\\\":\\\"payload text %d padding padding padding padding padding padding padding\\\"}\\n\", i % 997, i, i }" >big &&
	test $(wc -l <big) = 1000000 &&
	vibes-append --stream big <big &&
	vibes-poll -c all --stream big --format json >poll.json &&
	test $(wc -l <poll.json) = 1000000 &&
	awk -v dir="$TRASH" "
	{
		p = \$0; sub(/^\{\"partition\":/, \"\", p); sub(/,.*/, \"\", p)
		o = \$0; sub(/^.*\"offset\":/, \"\", o); sub(/,.*/, \"\", o)
		if ((p in next_off ? next_off[p] : 0) != o + 0) { print \"gap in \" p \" at \" o; bad = 1 }
		next_off[p] = o + 1
		s = \$0; sub(/^.*\"payload\":/, \"\", s); sub(/}\$/, \"\", s)
		k = s; sub(/^\{\"session_id\":\"/, \"\", k); sub(/\".*/, \"\", k)
		if (k in part && part[k] != p) { print \"session \" k \" in two partitions\"; bad = 1 }
		part[k] = p
		print s > (dir \"/out.\" p)
	}
	END {
		while ((getline line < (dir \"/big\")) > 0) {
			k = line; sub(/^\{\"session_id\":\"/, \"\", k); sub(/\".*/, \"\", k)
			print line > (dir \"/in.\" part[k])
		}
		exit bad
	}" poll.json &&
	n=0 &&
	for f in in.*; do
		p=${f#in.} &&
		cmp "$f" "out.$p" &&
		n=$((n + 1)) || exit 1
	done &&
	test $n = 8 &&
	cat out.* | sort >got && sort big >expect && cmp expect got
'

test_expect_success 'a consumer that caught up reads nothing and exits 0' '
	vibes-poll -c all --stream big >nothing &&
	test_must_fail test -s nothing
'

test_done
