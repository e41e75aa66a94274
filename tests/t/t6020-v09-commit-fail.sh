#!/bin/bash
test_description='Iggy 0.9: a send or an offset store whose commit fails is answered 13000, never a success (the reply is held for the commit point as in 0.8), and what failed is not kept'
. "$(dirname "$0")/test-lib.sh"

. "$(dirname "$0")/lib-fsync-fail.sh"
export VIBES_IGGY_AUTOSTART=0 VIBES_IGGY_PROTOCOL=0.9
export XDG_CACHE_HOME="$TRASH/cache"

test_expect_success '0.9 send, --fsync always: the batch whose fdatasync fails is answered 13000 and undone' '
	start_failing always "*/partitions/*.log" --fsync always &&
	tool "$D" send s t a1 a2 &&
	touch "$FLAG" &&
	fails_13000 "$D" send s t b1 b2 b3 &&
	wait_log "$D" "3 message(s) undone, their senders answered 13000" &&
	polled "$D" a1 a2 &&
	echo "{\"n\":1}" | test_must_fail vibes-append --data-dir "$D" \
		--server "$(cat "$D/server.addr")" -s s -t t -v 2>err &&
	grep "speaking Iggy 0.9" err &&
	grep "13000" err &&
	rm "$FLAG" &&
	tool "$D" send s t c1 &&
	polled "$D" a1 a2 c1
'

test_expect_success '0.9 store_consumer_offset that cannot be saved is answered 13000 and not kept' '
	start_failing offsets "*/offsets.tmp.*" --fsync always &&
	tool "$D" send s t a1 a2 a3 &&
	tool "$D" store-offset s t reader 1 &&
	touch "$FLAG" &&
	fails_13000 "$D" store-offset s t reader 2 &&
	wait_log "$D" "consumer offsets not saved" &&
	echo 1 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got &&
	rm "$FLAG" &&
	tool "$D" store-offset s t reader 2 &&
	echo 2 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got
'

test_done
