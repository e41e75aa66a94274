#!/bin/bash
test_description='vibes-iggyd: many small segments behind a low open-files limit, read back by several consumers'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
# Soft and hard: the daemon cannot raise it.  Fewer descriptors than the
# files of the segments made here (a server that kept them all open could
# not start again).  A partition's current segment keeps its two files
# open, and so do the segments sealed in a pass of the event loop until
# its commit point settles them; --open-segments bounds the settled ones.
ulimit -n 512 || exit 1
start_server "" --segment-size 4096 --open-segments 3 --index-cache 16384 ||
	exit 1

# The files of segments the server has open (logs and indexes).
seg_fds() {
	local n
	n=$(ls -l /proc/"$(cat "$TRASH/server.pid")"/fd 2>/dev/null |
		grep -c '/[0-9]\{20\}\.\(log\|index\)$')
	say "server has $n segment files open (bound $(fd_bound 0) + the read's)" >&2
	ls -l /proc/"$(cat "$TRASH/server.pid")"/fd 2>/dev/null |
		grep '/[0-9]\{20\}\.\(log\|index\)$' | sed "s,.*/streams/,," >&2
	echo "$n"
}
echo "$SERVER_PID" >"$TRASH/server.pid"

# At most: the current segment of every partition (log and index), the
# closed ones --open-segments allows, and those of the read in progress.
fd_bound() {
	local parts
	parts=$(find "$VIBES_IGGY_DATA_DIR"/streams -name "*.log" |
		sed "s,/[^/]*\$,," | sort -u | wc -l)
	echo $((parts * 2 + 3 * 2 + ${1:-0}))
}

restart() {
	stop_server "$(cat "$TRASH/server.pid")" &&
	start_server "" --segment-size 4096 --open-segments 3 \
		--index-cache 16384 &&
	echo "$SERVER_PID" >"$TRASH/server.pid"

# At most: the current segment of every partition (log and index), the
# closed ones --open-segments allows, and those of the read in progress.
fd_bound() {
	local parts
	parts=$(find "$VIBES_IGGY_DATA_DIR"/streams -name "*.log" |
		sed "s,/[^/]*\$,," | sort -u | wc -l)
	echo $((parts * 2 + 3 * 2 + ${1:-0}))
}
}

test_expect_success 'twenty thousand events make hundreds of 4 KiB segments' '
	awk "BEGIN { for (i = 1; i <= 20000; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"n\\\":%d,\\\"pad\\\":\\\"%s\\\"}\\n\", i % 37, i, substr(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", 1, i % 40) }" >in &&
	vibes-append -s big --partitions 4 --batch 20 in &&
	segs=$(find "$VIBES_IGGY_DATA_DIR" -name "*.log" | wc -l) &&
	say "$segs segments" &&
	test "$segs" -gt 300 &&
	! grep "Too many open files" "$VIBES_IGGY_DATA_DIR/server.log"
'

test_expect_success 'four consumers at once each read every event back, in order per partition' '
	pids= &&
	for c in 1 2 3 4; do
		vibes-poll -c c$c -s big --batch 50 --order partition --format json >out.$c 2>err.$c &
		pids="$pids $!"
	done &&
	for p in $pids; do wait $p || exit 1; done &&
	sed "s/.*\"payload\"://; s/}\$//" out.1 | sort >got &&
	sort in >want &&
	test_cmp want got &&
	for c in 2 3 4; do cmp out.1 out.$c || exit 1; done &&
	awk "{
		p = \$0; sub(/^\{\"partition\":/, \"\", p); sub(/,.*/, \"\", p)
		o = \$0; sub(/^.*\"offset\":/, \"\", o); sub(/,.*/, \"\", o)
		if ((p in nx ? nx[p] : 0) != o + 0) { print \"gap in \" p \" at \" o; exit 1 }
		nx[p] = o + 1
	}" out.1 &&
	test "$(seg_fds)" -le "$(fd_bound 4)"
'

test_expect_success 'by timestamp across segments: exactly the events stored at or after it' '
	t=$(sed -n "12345p" out.1 | sed "s/.*\"timestamp\":\([0-9]*\).*/\1/") &&
	vibes-poll -c bytime -s big --from "@${t}us" --format json >ts.out &&
	awk -v t="$t" "{ s = \$0; sub(/.*\"timestamp\":/, \"\", s); sub(/,.*/, \"\", s)
		if (s + 0 >= t + 0) n++ } END { print n }" out.1 >want.n &&
	wc -l <ts.out | tr -d " " >got.n &&
	test_cmp want.n got.n
'

test_expect_success 'after a restart nothing is read at start; every consumer reads it all again' '
	restart &&
	test "$(seg_fds)" -le "$(fd_bound -6)" &&
	pids= &&
	for c in 5 6 7; do
		vibes-poll -c c$c -s big --batch 333 --order partition --format json >out.$c &
		pids="$pids $!"
	done &&
	for p in $pids; do wait $p || exit 1; done &&
	sort out.1 >sorted.1 &&
	for c in 6 7; do cmp out.5 out.$c || exit 1; done &&
	sort out.5 | cmp sorted.1 - &&
	test "$(seg_fds)" -le "$(fd_bound 4)" &&
	! grep -i "cannot open\|damaged\|refused" "$VIBES_IGGY_DATA_DIR/server.log"
'

test_expect_success 'a damaged closed index is rebuilt on first use and the events come back right' '
	stop_server "$(cat "$TRASH/server.pid")" &&
	idx=$(ls "$VIBES_IGGY_DATA_DIR"/streams/*/topics/*/partitions/*/*.index | sed -n 20p) &&
	printf "garbage garbage!" | dd of="$idx" bs=1 seek=16 conv=notrunc 2>/dev/null &&
	start_server "" --segment-size 4096 --open-segments 3 \
		--index-cache 16384 &&
	vibes-poll -c c8 -s big --order partition --format json >out.8 &&
	sort out.8 | cmp sorted.1 - &&
	grep "damaged index" "$VIBES_IGGY_DATA_DIR/server.log" &&
	grep "index rebuilt" "$VIBES_IGGY_DATA_DIR/server.log"
'

test_done
