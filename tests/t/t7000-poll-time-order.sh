#!/bin/bash
test_description='vibes-poll in time order: a partition whose events were not made in offset order (two producers) is read on, not polled forever'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1
CLOCK_SHIFT=$VIBES_BUILD_DIR/tests/tool/clock-shift.so
# The preloaded shim goes before an ASan build's runtime.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

# Partition 0 gets ten events made now, then ten made an hour earlier by
# a producer whose clock is behind (as when two producers' batches
# interleave): its last event was made before its first one, and before
# the first one of partition 1.  A poll of fifteen events is cut in
# partition 0 at one of the early ones; the watermark of the time order
# used to be that event, below the head of every partition, so that no
# round delivered anything and vibes-poll -n polled forever.
test_expect_success 'two producers, one with its clock an hour behind' '
	for i in 1 2 3 4 5 6 7 8 9 10; do echo "{\"now\":$i}"; done >now &&
	for i in 1 2 3 4 5 6 7 8 9 10; do echo "{\"early\":$i}"; done >early &&
	for i in 1 2 3 4 5; do echo "{\"other\":$i}"; done >other &&
	vibes-append -t mixed --partitions 2 -p 0 now &&
	vibes-append -t mixed -p 1 other &&
	VIBES_TEST_CLOCK_SHIFT=-3600 LD_PRELOAD=$CLOCK_SHIFT \
		vibes-append -t mixed -p 0 early &&
	vibes-poll -t mixed -c raw --order partition -n 25 >all &&
	test "$(wc -l <all)" = 25 &&
	sort all >want
'

test_expect_success 'a count that cuts the partition: every event, once, and an end' '
	timeout 20 vibes-poll -t mixed -c c1 -n 15 >got15 &&
	test "$(wc -l <got15)" = 15 &&
	timeout 20 vibes-poll -t mixed -c c1 -n 10 >got10 &&
	test "$(wc -l <got10)" = 10 &&
	cat got15 got10 | sort >got &&
	test_cmp want got
'

test_expect_success 'each partition in offset order, the early ones after the rest of their partition' '
	cat got15 got10 | grep -v other >p0 &&
	cat now early >want0 &&
	test_cmp want0 p0
'

test_expect_success 'small counts too (one event a run)' '
	for i in $(seq 1 25); do
		timeout 20 vibes-poll -t mixed -c c2 -n 1 || return 1
	done >one &&
	sort one >got1 &&
	test_cmp want got1
'

test_done
