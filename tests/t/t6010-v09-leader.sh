#!/bin/bash
test_description='Iggy 0.9 clusters: the tools follow the leader a follower names, and retry what is not committed yet'
. "$(dirname "$0")/test-lib.sh"
PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"

unset VIBES_IGGY_PROTOCOL
export VIBES_IGGY_AUTOSTART=0 XDG_CACHE_HOME="$TRASH/cache"
start_server || exit 1
VIBES_IGGY_USERNAME=iggy
VIBES_IGGY_PASSWORD=$(sed -n "s/^password=//p" "$VIBES_IGGY_DATA_DIR/credentials")
export VIBES_IGGY_USERNAME VIBES_IGGY_PASSWORD
spawn_ready "$TRASH/follower.out" fake-server follower "$SERVER_ADDR" --ready-fd 3 || exit 1
FOLLOWER=$READY_LINE

test_expect_success 'a follower is probed as 0.9 and the tools log in again at the leader it names' '
	printf "{\"n\":1}\n{\"n\":2}\n" |
		vibes-append --server "$FOLLOWER" -t lead -v 2>err &&
	cat err &&
	grep "^vibes-append: speaking Iggy 0.9 to $SERVER_ADDR, the leader: from $FOLLOWER to $SERVER_ADDR$" err &&
	grep "^$FOLLOWER 0.9$" "$XDG_CACHE_HOME/vibes/protocols" &&
	grep -c "^login$" "$TRASH/follower.out" | grep -q "^1$" &&
	vibes-poll -c r -t lead >out &&
	printf "{\"n\":1}\n{\"n\":2}\n" >want && test_cmp want out
'

test_expect_success 'readers follow it too, and --protocol 0.9 does the same' '
	vibes-poll --server "$FOLLOWER" --protocol 0.9 -c r2 -t lead -v >out 2>err &&
	grep "the leader: from $FOLLOWER to $SERVER_ADDR$" err &&
	printf "{\"n\":1}\n{\"n\":2}\n" >want &&
	test_cmp want out
'

test_expect_success 'not committed (57): the same request again, same identity, until it is' '
	spawn_ready "$TRASH/transient.out" fake-server transient 3 --ready-fd 3 &&
	t=$READY_LINE &&
	vibes-test-tool --server "$t" --no-autostart connect &&
	grep "^ping " "$TRASH/transient.out" >pings &&
	cat pings &&
	test $(wc -l <pings) = 4 &&
	test $(sort -u pings | wc -l) = 1
'

test_done
