#!/bin/bash
test_description='vibes-iggyd: a batch holding a message an official client would refuse to read (reserved not 0, a wrong checksum, lengths that disagree) is refused whole and stores nothing'
. "$(dirname "$0")/test-lib.sh"

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
D="$TRASH/d"
VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

raw() {
	vibes-test-tool -d "$D" --no-autostart raw s t "$@"
}

seglog() {
	find "$D" -path "*/partitions/*" -name "*.log" | head -n 1
}

# high water mark of stream s, topic t (its one partition): null if empty
hwm() {
	vibes-seek --data-dir "$D" -c nobody -s s -t t --json |
		sed -e "s/.*\"hwm\":\([0-9a-z]*\).*/\1/"
}

# the partition as it was after the last stored batch
same_as_before() {
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	test_cmp stored got &&
	test "$(stat -c %s "$(seglog)")" = "$(cat size)" &&
	test "$(hwm)" = "$(cat hwm)"
}

# after a batch was stored: remember the partition
remember() {
	vibes-test-tool -d "$D" --no-autostart poll s t >stored &&
	stat -c %s "$(seglog)" >size &&
	hwm >hwm
}

start_server "$D" || exit 1

test_expect_success 'a valid batch (checksums 0, as official clients send) is stored' '
	raw none v1 v2 >out &&
	echo "status 0 ok" >expect &&
	test_cmp expect out &&
	printf "v1\nv2\n" >expect &&
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	test_cmp expect got &&
	remember &&
	test "$(cat hwm)" = 1
'

test_expect_success 'a reserved field not 0 in the last message: 4101, nothing stored' '
	raw reserved r1 r2 r3 >out &&
	echo "status 4101 invalid_reserved_field" >expect &&
	test_cmp expect out &&
	raw reserved r4 >out &&
	test_cmp expect out &&
	same_as_before
'

test_expect_success 'a checksum that is not the message'"'"'s: 4027, nothing stored' '
	raw checksum c1 c2 >out &&
	echo "status 4027 invalid_message_checksum" >expect &&
	test_cmp expect out &&
	raw checksum c3 >out &&
	test_cmp expect out &&
	same_as_before
'

test_expect_success 'lengths that disagree: 4033, nothing stored' '
	echo "status 4033 missing_index" >expect &&
	raw payload-length l1 l2 >out &&
	test_cmp expect out &&
	raw last-position l3 l4 >out &&
	test_cmp expect out &&
	raw last-position l5 >out &&
	test_cmp expect out &&
	same_as_before
'

test_expect_success 'the connection goes on: a right checksum and a valid batch after them are stored next' '
	raw checksum-right k1 k2 >out &&
	echo "status 0 ok" >expect &&
	test_cmp expect out &&
	raw none n1 >out &&
	test_cmp expect out &&
	printf "v1\nv2\nk1\nk2\nn1\n" >expect &&
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	test_cmp expect got &&
	test "$(hwm)" = 4
'

test_expect_success 'a reader gets every stored event, and so after a restart' '
	vibes-poll --data-dir "$D" -c reader -s s -t t >got &&
	test_cmp expect got &&
	stop_server &&
	start_server "$D" &&
	test_when_finished "stop_server $SERVER_PID" &&
	vibes-test-tool -d "$D" --no-autostart poll s t >got &&
	test_cmp expect got &&
	test "$(hwm)" = 4
'

test_done
