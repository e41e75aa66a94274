#!/bin/bash
test_description='vibes-iggyd: a failed fsync in every --fsync mode is logged and answered 13000; what failed is not kept, not served, and the server goes on once the disk syncs again; a metadata save that fails (topics, users) changes nothing'
. "$(dirname "$0")/test-lib.sh"

. "$(dirname "$0")/lib-fsync-fail.sh"
VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

test_expect_success '--fsync always: the batch whose fdatasync fails is answered 13000 and undone' '
	start_failing always "*/partitions/*.log" --fsync always &&
	tool "$D" send s t a1 a2 &&
	touch "$FLAG" &&
	fails_13000 "$D" send s t b1 b2 b3 &&
	grep -q "^fsync .*/partitions/0/00000000000000000000.log$" "$TRASH/injected" &&
	wait_log "$D" "commit: partition .*/partitions/0: cannot sync: Input/output error; 3 message(s) undone, their senders answered 13000" &&
	polled "$D" a1 a2 &&
	rm "$FLAG" &&
	tool "$D" send s t c1 &&
	polled "$D" a1 a2 c1
'

test_expect_success '--fsync always: a send over HTTP whose fdatasync fails is not answered 201, and is undone' '
	if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
		echo "curl and jq are needed (.ci/run installs them)" >&2
		return 1
	fi &&
	start_failing http "*/partitions/*.log" --fsync always --http 127.0.0.1:0 &&
	tool "$D" send s t h1 &&
	url="http://$(cat "$D/http.addr")" &&
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	curl -s -H "Content-Type: application/json" \
		-d "{\"username\":\"iggy\",\"password\":\"$pass\"}" \
		"$url/users/login" >login &&
	tok=$(jq -r .access_token.token login) &&
	send_http() {
		curl -s -o body -w "%{http_code}" -H "Authorization: Bearer $tok" \
			-H "Content-Type: application/json" \
			-d "{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[{\"id\":0,\"payload\":\"$(printf %s "$1" | base64)\"}]}" \
			"$url/streams/s/topics/t/messages"
	} &&
	touch "$FLAG" &&
	code=$(send_http h2) &&
	test "$code" = 500 &&
	jq -e ".id == 13000" body &&
	wait_log "$D" "commit: partition .*: cannot sync: Input/output error; 1 message(s) undone" &&
	rm "$FLAG" &&
	code=$(send_http h3) &&
	test "$code" = 201 &&
	polled "$D" h1 h3
'

test_expect_success '--fsync always: after a restart the log holds exactly what was acknowledged' '
	D="$TRASH/always" &&
	start_server "$D" --fsync always &&
	test_when_finished "stop_server" &&
	polled "$D" a1 a2 c1
'

test_expect_success '--fsync MS: a failed background fsync is logged, the next send is answered 13000 until the disk syncs again, nothing acknowledged is lost' '
	start_failing interval "*/partitions/*.log" --fsync 20 &&
	touch "$FLAG" &&
	tool "$D" send s t a1 &&
	wait_log "$D" "background fsync failed: Input/output error" &&
	wait_log "$D" "it refuses writes until that works" &&
	fails_13000 "$D" send s t c1 &&
	grep "append: partition .*: cannot sync segment 0: Input/output error" "$D/server.log" &&
	rm "$FLAG" &&
	tool "$D" send s t d1 &&
	grep "partition .*/partitions/0: its storage syncs again" "$D/server.log" &&
	polled "$D" a1 d1
'

test_expect_success '--fsync never: a flush whose fsync fails is answered 13000 and logged; the next one works' '
	start_failing never "*/partitions/*" --fsync never &&
	tool "$D" send s t a1 &&
	tool "$D" flush s t &&
	touch "$FLAG" &&
	fails_13000 "$D" flush s t &&
	wait_log "$D" "commit: partition .*/partitions/0: cannot sync segment 0: Input/output error" &&
	tool "$D" send s t b1 &&
	rm "$FLAG" &&
	tool "$D" flush s t &&
	polled "$D" a1 b1
'

test_expect_success 'a consumer offset that cannot be saved is answered 13000 and not kept' '
	start_failing offsets "*/offsets.tmp.*" --fsync always &&
	tool "$D" send s t a1 a2 a3 &&
	tool "$D" store-offset s t reader 1 &&
	touch "$FLAG" &&
	fails_13000 "$D" store-offset s t reader 2 &&
	wait_log "$D" "consumer offsets not saved: cannot write .*offsets.tmp" &&
	echo 1 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got &&
	rm "$FLAG" &&
	tool "$D" store-offset s t reader 2 &&
	echo 2 >expect &&
	tool "$D" get-offset s t reader >got &&
	test_cmp expect got
'

test_expect_success 'a metadata save that fails (create_topic, delete_topic) changes nothing, in memory or on disk' '
	start_failing meta "*/metadata.tmp.*" --fsync always &&
	tool "$D" send s t a1 &&
	tool "$D" topics s >before &&
	touch "$FLAG" &&
	fails_13000 "$D" create-topic s t2 3 &&
	wait_log "$D" "cannot save metadata: cannot write .*metadata.tmp" &&
	fails_13000 "$D" delete-topic s t &&
	tool "$D" topics s >after &&
	test_cmp before after &&
	test_must_fail test -d "$D/streams/0/topics/1" &&
	polled "$D" a1 &&
	rm "$FLAG" &&
	tool "$D" create-topic s t2 3 &&
	tool "$D" topics s >now &&
	grep "^1 t2 3 0$" now
'

test_expect_success 'a user created while the metadata save fails is not kept: answered 13000, its login refused; created once the disk syncs' '
	start_failing users "*/metadata.tmp.*" --fsync always &&
	tool "$D" connect &&
	touch "$FLAG" &&
	fails_13000 "$D" create-user bob secret1 &&
	test_must_fail 77 tool "$D" --user bob --password secret1 connect &&
	rm "$FLAG" &&
	tool "$D" create-user bob secret1 &&
	tool "$D" --user bob --password secret1 connect
'

test_expect_success 'after a restart the metadata is what was saved, no half change' '
	D="$TRASH/meta" &&
	start_server "$D" &&
	test_when_finished "stop_server" &&
	tool "$D" topics s >got &&
	printf "0 t 1 1\n1 t2 3 0\n" >expect &&
	test_cmp expect got
'

test_done
