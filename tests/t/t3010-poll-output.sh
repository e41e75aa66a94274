#!/bin/bash
test_description='vibes-poll: --format templates, key and headers, --partition, --until, --idle-timeout, the adaptive follow wait'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1

test_expect_success 'append 30 events of 30 sessions with two headers' '
	for i in $(seq 1 30); do printf "{\"session_id\":\"s%d\",\"n\":%d}\n" $i $i; done >in &&
	vibes-append -s o --header env=prod --header team=core --acks <in >acks &&
	test $(wc -l <acks) = 30
'

test_expect_success 'the JSON envelope carries the key and the headers' '
	vibes-poll -c j -s o --format json >out &&
	grep "^{\"partition\":[0-7],\"offset\":[0-9]*,\"timestamp\":[0-9]*,\"id\":\"[-0-9a-f]*\",\"key\":\"s7\",\"headers\":{\"key\":\"s7\",\"env\":\"prod\",\"team\":\"core\"},\"payload\":{\"session_id\":\"s7\",\"n\":7}}$" out &&
	test $(grep -c "\"env\":\"prod\",\"team\":\"core\"" out) = 30
'

test_expect_success 'a template with every token; no newline is added' '
	line=$(sed -n 7p acks) &&
	p=$(echo "$line" | sed "s/.*\"partition\":\([0-9]*\).*/\1/") &&
	o=$(echo "$line" | sed "s/.*\"offset\":\([0-9]*\).*/\1/") &&
	vibes-poll -c t -s o -p "$p" --format "%p|%o|%k|%T|%t|%h|%i|%s|%%\n" >out &&
	grep "^$p|$o|s7|[0-9]\{13\}|20[0-9-]*T[0-9:.]*Z|key=s7,env=prod,team=core|[-0-9a-f]\{36\}|{\"session_id\":\"s7\",\"n\":7}|%$" out &&
	vibes-poll -c t2 -s o -p "$p" --format "%o," >out &&
	k=$(grep -c "\"partition\":$p," acks) &&
	test "$(cat out)" = "$(seq 0 $((k - 1)) | sed "s/$/,/" | tr -d "\n")"
'

test_expect_success 'templates: bad tokens and escapes are usage errors naming them' '
	test_must_fail 2 vibes-poll -c x -s o --format "%q" 2>err &&
	grep "unknown token .%q. (use %s %p %o %k %T %t %h %i %%)" err &&
	test_must_fail 2 vibes-poll -c x -s o --format "a\\qb" 2>err &&
	grep "unknown escape" err &&
	test_must_fail 2 vibes-poll -c x -s o --format plain 2>err &&
	grep "use raw, json or a template" err
'

test_expect_success '--header: NAME=VALUE, 1 to 255 bytes, not "key"' '
	test_must_fail 2 vibes-append -s o --header nope </dev/null 2>err &&
	grep "expected NAME=VALUE" err &&
	test_must_fail 2 vibes-append -s o --header key=x </dev/null 2>err &&
	grep "the header \"key\" holds each event.s key" err &&
	test_must_fail 2 vibes-append -s o --header "x=$(head -c 256 /dev/zero | tr "\0" y)" </dev/null 2>err &&
	grep "1 to 255 bytes" err
'

test_expect_success 'with -p or -B no key header' '
	echo "{\"session_id\":\"zz\"}" | vibes-append -s nokey -p 2 &&
	vibes-poll -c j -s nokey --format json >out &&
	grep "\"key\":null,\"headers\":{}" out
'

test_expect_success '-p reads only the partitions named; a partition that does not exist is named' '
	sed "s/.*\"partition\":\([0-9]*\).*/\1/" acks | sort -u | head -n 2 >two &&
	a=$(head -n 1 two) && b=$(tail -n 1 two) &&
	vibes-poll -c p1 -s o -p "$a" -p "$b" --format json >out &&
	sed "s/.*\"partition\":\([0-9]*\).*/\1/" out | sort -u >got &&
	test_cmp two got &&
	test $(wc -l <out) = $(grep -c "\"partition\":[$a$b]," acks) &&
	test_must_fail 2 vibes-poll -c p2 -s o -p 8 2>err &&
	grep "^vibes-poll: --partition 8: topic o/events has 8 partitions (0 to 7)$" err &&
	test_must_fail 2 vibes-poll -g g -s o -p 1 2>err &&
	grep "need -c" err
'

test_expect_success '--until N stops every partition before offset N; --until end with -f exits' '
	vibes-poll -c u1 -s o --until 2 --format json >out &&
	test_must_fail grep "\"offset\":[2-9]" out &&
	test $(wc -l <out) = $(grep -c "\"offset\":[01]}" acks) &&
	vibes-poll -c u2 -s o --until end -f >out &&
	test $(wc -l <out) = 30
'

test_expect_success '--until @TIMESTAMP stops at the first event stored at or after it, with -f too' '
	t=$(date +%s%6N) &&
	while [ "$(date +%s%6N)" -le "$((t + 2000))" ]; do :; done &&
	echo "{\"session_id\":\"late\"}" | vibes-append -s o &&
	vibes-poll -c u3 -s o --until "@${t}us" >out &&
	test $(wc -l <out) = 30 &&
	test_must_fail grep late out &&
	vibes-poll -c u4 -s o --until "@${t}us" -f >out &&
	test $(wc -l <out) = 30
'

test_expect_success '--idle-timeout with -f: exits 0 after that long without an event; needs -f' '
	vibes-poll -c idle -s o -f --idle-timeout 200ms >out &&
	test $(wc -l <out) = 31 &&
	test_must_fail 2 vibes-poll -c idle -s o --idle-timeout 1s 2>err &&
	grep "needs -f" err
'

test_expect_success '-f adapts its wait: events that keep coming are read at once although --interval is 30s' '
	echo "{\"n\":0}" | vibes-append -s live -t t &&
	coproc F { vibes-poll -c live -s live -t t -f --interval 30s -n 12; } &&
	fpid=$F_PID &&
	test_when_finished "kill $fpid 2>/dev/null" &&
	exec 7<&"${F[0]}" &&
	read -r -t 20 line <&7 &&
	test "$line" = "{\"n\":0}" &&
	for i in $(seq 1 11); do
		echo "{\"n\":$i}" | vibes-append -s live -t t &&
		read -r -t 10 line <&7 &&
		test "$line" = "{\"n\":$i}" || return 1
	done &&
	wait $fpid
'

test_done
