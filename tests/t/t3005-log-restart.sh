#!/bin/bash
test_description='vibes-append: the server is killed and restarted during an append'
. "$(dirname "$0")/test-lib.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

start_server || exit 1

# Splits poll.json (vibes-poll --format json) per partition into out.P and
# the input file $1 into in.P by the partition each session landed in;
# fails on offset gaps and on a session seen in two partitions.
split_check() {
	awk -v dir="$TRASH" -v input="$1" '
	{
		p = $0; sub(/^\{"partition":/, "", p); sub(/,.*/, "", p)
		o = $0; sub(/^.*"offset":/, "", o); sub(/,.*/, "", o)
		if ((p in nx ? nx[p] : 0) != o + 0) { print "gap in " p " at " o; bad = 1 }
		nx[p] = o + 1
		s = $0; sub(/^.*"payload":/, "", s); sub(/}$/, "", s)
		k = s; sub(/^\{"session_id":"/, "", k); sub(/".*/, "", k)
		if (k in part && part[k] != p) { print "session " k " in two partitions"; bad = 1 }
		part[k] = p
		print s > (dir "/out." p)
	}
	END {
		while ((getline line < input) > 0) {
			k = line; sub(/^\{"session_id":"/, "", k); sub(/".*/, "", k)
			print line > (dir "/in." part[k])
		}
		exit bad
	}' poll.json
}

test_expect_success 'kill -9 the server in the middle of an append, restart it: nothing lost, nothing twice, order kept' '
	awk "BEGIN { for (i = 1; i <= 200000; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"seq\\\":%d,\\\"pad\\\":\\\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\\"}\\n\", i % 101, i }" >in &&
	split -l 5000 in chunk. &&
	mkfifo go || exit 1
	# (a list of its own: "a && b | c &" would put a and b in the background)
	{
		for f in chunk.*; do
			cat "$f"
			[ "$f" = chunk.ah ] && read -r x <go
		done
	} | vibes-append -v --stream r --retry-timeout 60s 2>aerr &
	apid=$!
	test_when_finished "kill $apid 2>/dev/null" &&
	i=0 &&
	while ! vibes-seek -c w --stream r --json >rows 2>/dev/null ||
	      [ "$(sed -e "s/.*\"hwm\":\([0-9a-z]*\).*/\1/" rows | grep -v null |
		   awk "{ s += \$1 + 1 } END { print s + 0 }")" -lt 40000 ]; do
		[ $i -lt 500 ] || exit 1
		sleep 0.02; i=$((i + 1))
	done &&
	kill -9 $SERVER_PID &&
	exec 5>go &&
	{ while kill -0 $SERVER_PID 2>/dev/null; do sleep 0.01; done; true; } &&
	start_server &&
	echo $SERVER_PID >"$TRASH/server2.pid" &&
	echo go >&5 &&
	exec 5>&- &&
	wait $apid &&
	grep "200000 lines read: 200000 sent" aerr &&
	grep "reconnect" aerr &&
	vibes-poll -c all --stream r --format json >poll.json &&
	test $(wc -l <poll.json) = 200000 &&
	split_check "$TRASH/in" &&
	for f in in.*; do cmp "$f" "out.${f#in.}" || exit 1; done
'

test_expect_success 'a stopped server and a short --retry-timeout: exit 69 and no line stored' '
	stop_server "$(cat "$TRASH/server2.pid")" &&
	printf "{\"n\":1}\n{\"n\":2}\n" >two &&
	test_must_fail 69 vibes-append --stream r --retry-timeout 200ms two 2>err &&
	grep "^vibes-append: server unavailable for" err &&
	grep "^vibes-append: not stored: every line of two$" err
'

test_done
