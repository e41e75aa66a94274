#!/bin/bash
test_description='vibes-append: restarts, crashes and failures; an exact account of every line'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D=$VIBES_IGGY_DATA_DIR

# open_feed ARGS...: a producer reading a FIFO that fd 7 writes to, so a
# test decides when each line arrives; APID is its pid.
open_feed() {
	rm -f "$TRASH/feed" && mkfifo "$TRASH/feed" || return 1
	vibes-append -v "$@" <"$TRASH/feed" >"$TRASH/acks" 2>"$TRASH/aerr" &
	APID=$!
	echo "$APID" >>"$_pid_file"
	exec 7>"$TRASH/feed"
}

# payloads STREAM: every payload of the stream, in offset order per
# partition (a throwaway consumer that commits nothing).
payloads() {
	vibes-poll -c "look$RANDOM" -s "$1" --no-commit
}

# has_lines STREAM N: the stream holds N events.
has_lines() {
	test "$(payloads "$1" | wc -l)" = "$2"
}

# at_least_in DIR N: the server of data dir DIR holds at least N events.
at_least_in() {
	test "$(vibes-poll -c "look$RANDOM" --no-commit --data-dir "$1" | wc -l)" -ge "$2"
}

# lines_of STATE ERR LAST: the line numbers an account line of ERR names
# ("vibes-append: STATE: lines 1-5,7,9- of NAME" or "every line of NAME"),
# one per line; an open range ends at LAST.
lines_of() {
	sed -n "s/^vibes-append: $1: //p" "$2" | tr ';' '\n' | awk -v last="$3" '
	/every line of/ { for (i = 1; i <= last; i++) print i; next }
	{
		sub(/^ *lines /, ""); sub(/ of .*/, "")
		n = split($0, r, ",")
		for (k = 1; k <= n; k++) {
			m = split(r[k], ab, "-")
			if (m == 1) { print ab[1]; continue }
			hi = ab[2] == "" ? last : ab[2]
			for (i = ab[1]; i <= hi; i++) print i
		}
	}' | sort -n
}

# elapsed_ms CMD...: runs CMD and sets ELAPSED to how long it took.
elapsed_ms() {
	local t0 rc
	t0=$(date +%s%N)
	"$@"
	rc=$?
	ELAPSED=$((($(date +%s%N) - t0) / 1000000))
	return $rc
}

test_expect_success 'an idle producer across vibes-iggyctl restart: nothing lost, no exit' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 start &&
	open_feed -s idle &&
	echo "{\"n\":1}" >&7 &&
	wait_for 10 has_lines idle 1 &&
	vibes-iggyctl restart &&
	echo "{\"n\":2}" >&7 &&
	exec 7>&- &&
	wait $APID &&
	printf "{\"n\":1}\n{\"n\":2}\n" >expect &&
	payloads idle >actual &&
	test_cmp expect actual &&
	grep "^vibes-append: reconnected$" aerr &&
	grep "2 lines read: 2 sent" aerr
'

test_expect_success 'stop, then start on another port: the producer waits, says so, and follows server.addr' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 start &&
	old=$(cat "$D/server.addr") &&
	open_feed -s moved --retry-timeout 60s &&
	echo "{\"n\":1}" >&7 &&
	wait_for 10 has_lines moved 1 &&
	vibes-iggyctl stop &&
	echo "{\"n\":2}" >&7 &&
	wait_for 10 grep "^vibes-append: cannot connect to $old: Connection refused; the server of data dir $D was stopped by vibes-iggyctl stop (pid [0-9]*) at [0-9TZ:-]*: start it with .vibes-iggyctl start.; retrying until [0-9][0-9]:[0-9][0-9]:[0-9][0-9] (--retry-timeout 1m)$" aerr &&
	vibes-iggyctl --port 0 start &&
	test "$(cat "$D/server.addr")" != "$old" &&
	echo "{\"n\":3}" >&7 &&
	exec 7>&- &&
	wait $APID &&
	printf "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n" >expect &&
	payloads moved >actual &&
	test_cmp expect actual &&
	grep "^vibes-append: $(cat "$D/server.addr") answering again after [0-9.]* s; going on$" aerr &&
	test $(grep -c "retrying until" aerr) = 1
'

test_expect_success 'kill -9 of the supervised server while the producer is idle' '
	stop_at_end "$D" &&
	vibes-iggyctl --port 0 start &&
	open_feed -s crash &&
	echo "{\"n\":1}" >&7 &&
	wait_for 10 has_lines crash 1 &&
	old=$(cat "$D/server.pid") &&
	kill -9 "$old" &&
	wait_for 10 pid_changed "$D" "$old" &&
	echo "{\"n\":2}" >&7 &&
	exec 7>&- &&
	wait $APID &&
	printf "{\"n\":1}\n{\"n\":2}\n" >expect &&
	payloads crash >actual &&
	test_cmp expect actual
'

test_expect_success '--acks across 20 kill -9s in one run: every ack is the line at that partition and offset' '
	"$VIBES_SOURCE_DIR/tests/stress/append-kill9" -n 1 -k 20 -l 400000 \
		"$VIBES_BUILD_DIR" >out 2>&1 &&
	cat out &&
	grep "^trial 1: exit 0, 20 kills, acked 400000, lost 0, duplicated 0, wrong offsets 0; " out &&
	grep "^trials 1, acked 400000, lost 0, duplicated 0, wrong offsets 0, give-ups 0$" out
'

test_expect_success 'a server that accepts and never answers: exit 75 after --retry-timeout, said at once' '
	spawn_ready fs.log fake-server silent --ready-fd 3 &&
	addr=$READY_LINE &&
	echo "{\"a\":1}" >in &&
	test_must_fail 75 elapsed_ms vibes-append --server "$addr" --timeout 300ms \
		--retry-timeout 1s in 2>err &&
	cat err &&
	test $ELAPSED -lt 4000 &&
	grep "^vibes-append: $addr did not answer within 300 ms; retrying until .* (--retry-timeout 1s)$" err &&
	grep "^vibes-append: server unavailable for 1\.[0-9] s, giving up: $addr did not answer within 300 ms$" err &&
	grep "^vibes-append: not stored: every line of in$" err
'

test_expect_success 'a service that is not Iggy: exit 69 at once, named' '
	spawn_ready fs.log fake-server http --ready-fd 3 &&
	addr=$READY_LINE &&
	echo "{\"a\":1}" >in &&
	test_must_fail 69 elapsed_ms vibes-append --server "$addr" --retry-timeout 30s in 2>err &&
	cat err &&
	test $ELAPSED -lt 2000 &&
	grep "^vibes-append: $addr does not speak the Iggy protocol (it answered \"HTTP/1.1 400 Bad Request\")$" err &&
	grep "^vibes-append: not stored: every line of in$" err
'

test_expect_success 'no server and autostart off: the wait is said at once, then exit 69' '
	echo "{\"a\":1}" >in &&
	test_must_fail 69 vibes-append --server 127.0.0.1:1 --retry-timeout 1s in 2>err &&
	test "$(head -n 1 err | sed "s/until [0-9:]*/until T/")" = \
		"vibes-append: cannot connect to 127.0.0.1:1: Connection refused; retrying until T (--retry-timeout 1s)"
'

test_expect_success 'login refused: exit 77 at once, not after --retry-timeout' '
	start_server &&
	echo "{\"a\":1}" >in &&
	echo wrong >wrong.pass &&
	test_must_fail 77 elapsed_ms vibes-append --server "$SERVER_ADDR" \
		--user iggy --password-file wrong.pass --retry-timeout 30s in 2>err &&
	test $ELAPSED -lt 2000 &&
	grep "^vibes-append: login as .iggy. refused: " err &&
	grep "^vibes-append: not stored: every line of in$" err &&
	stop_server
'

test_expect_success 'a missing server binary: exit 78 at once' '
	echo "{\"a\":1}" >in &&
	VIBES_IGGY_AUTOSTART=1 VIBES_IGGY_SERVER="$TRASH/nope" VIBES_IGGY_DATA_DIR="$TRASH/nobin" \
		test_must_fail 78 elapsed_ms vibes-append --retry-timeout 30s in 2>err &&
	test $ELAPSED -lt 2000 &&
	grep "cannot execute the server $TRASH/nope" err &&
	grep "^vibes-append: not stored: every line of in$" err
'

test_expect_success 'a data dir that cannot be written: exit 74 or 77 at once, named' '
	mkdir ro &&
	if [ "$(id -u)" = 0 ]; then
		mount -t tmpfs -o size=1m,ro tmpfs ro &&
		test_when_finished "umount \"$TRASH/ro\"" &&
		want=74
	else
		chmod 500 ro && want=77
	fi &&
	echo "{\"a\":1}" >in &&
	VIBES_IGGY_AUTOSTART=1 VIBES_IGGY_DATA_DIR="$TRASH/ro/data" \
		test_must_fail $want elapsed_ms vibes-append --retry-timeout 30s in 2>err &&
	cat err &&
	test $ELAPSED -lt 2000 &&
	grep "$TRASH/ro/data" err
'

test_expect_success 'a full disk: exit 75 after --retry-timeout; the account and the acks are exact, line by line' '
	if [ "$(id -u)" != 0 ]; then
		test -z "${CI:-}" || { echo "CI runs as root"; exit 1; }
		echo "# skipped: needs root for a small tmpfs"; exit 0
	fi &&
	mkdir full &&
	mount -t tmpfs -o size=3m tmpfs full &&
	test_when_finished "umount \"$TRASH/full\"" &&
	start_server "$TRASH/full/data" &&
	test_when_finished "stop_server $SERVER_PID" &&
	awk "BEGIN { for (i = 1; i <= 40000; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"seq\\\":%d,\\\"pad\\\":\\\"%060d\\\"}\\n\", i % 7, i, 0 }" >in &&
	test_must_fail 75 vibes-append --data-dir "$TRASH/full/data" \
		--retry-timeout 1s --acks <in >acks 2>err &&
	grep "^vibes-append: partition [0-9]: send_messages: the server could not write its storage (status 13000: disk full or failing); retrying until " err &&
	lines_of stored err 40000 >stored &&
	lines_of "not stored" err 40000 >notstored &&
	test_must_fail grep -q "^vibes-append: unknown" err &&
	test -s stored && test -s notstored &&
	sort -n stored notstored >all &&
	seq 1 40000 >expect && test_cmp expect all &&
	vibes-poll -c look --no-commit --data-dir "$TRASH/full/data" --format json >poll &&
	sed "s/.*\"seq\":\([0-9]*\).*/\1/" poll | sort -n >polled &&
	test_cmp stored polled &&
	sed "s/^{\"line\":\([0-9]*\),.*/\1/" acks >acked &&
	test_cmp stored acked &&
	awk -F"[:,}]" "FNR == NR { at[\$4 \" \" \$6] = \$2; next }
		{ s = \$0; sub(/.*\"seq\":/, \"\", s); sub(/,.*/, \"\", s)
		  if (at[\$2 \" \" \$4] != s) { print \"wrong: \" \$0; bad = 1 } }
		END { exit bad }" acks poll
'

test_expect_success 'the server killed for good mid-stream: what is stored, not stored or unknown is the truth' '
	start_server "$TRASH/gone" &&
	awk "BEGIN { for (i = 1; i <= 300000; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"seq\\\":%d}\\n\", i % 11, i }" >in &&
	split -l 2000 in chunk. || exit 1
	# (a list of its own: "a && b | c &" would put a and b in the background)
	{ for f in chunk.*; do cat "$f"; sleep 0.01; done; } |
		vibes-append --data-dir "$TRASH/gone" --retry-timeout 1s 2>err &
	apid=$! &&
	wait_for 10 at_least_in "$TRASH/gone" 20000 &&
	kill -9 $SERVER_PID &&
	{ wait $apid; rc=$?; } &&
	test $rc = 69 &&
	cat err &&
	lines_of stored err 300000 >stored &&
	lines_of "not stored" err 300000 >notstored &&
	lines_of "unknown.*" err 300000 >unknown &&
	sort -n stored notstored unknown >all &&
	seq 1 300000 >expect && test_cmp expect all &&
	start_server "$TRASH/gone" &&
	vibes-poll -c look --no-commit --data-dir "$TRASH/gone" --format json >poll &&
	sed "s/.*\"seq\":\([0-9]*\).*/\1/" poll | sort -n >polled &&
	comm -23 <(sort stored) <(sort polled) >stored_missing &&
	test_must_fail test -s stored_missing &&
	comm -12 <(sort notstored) <(sort polled) >notstored_there &&
	test_must_fail test -s notstored_there &&
	stop_server
'

test_done
