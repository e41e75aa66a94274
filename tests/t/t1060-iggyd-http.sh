#!/bin/bash
test_description='vibes-iggyd: the HTTP REST API of upstream 0.8.0 (shared/iggy-http/api.md)'
# Every route with curl against the real daemon: status codes, JSON shapes
# (jq; raw text where jq would round a u64), the bearer tokens and their
# failures, CORS, the error forms of api.md §3, and one state with TCP: a
# message appended with vibes-append is polled over HTTP and one sent over
# HTTP is read by vibes-poll.
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
D=$VIBES_IGGY_DATA_DIR
A=$TRASH/auth		# curl config: the root token, JSON content type

if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..0 # SKIP curl and jq are needed (.ci/run installs them)"
	[ -n "${CI:-}" ] && exit 1
	exit 0
fi

base() { echo "http://$(cat "$D/http.addr")"; }

# req [CURL ARGS...] METHOD PATH [BODY]: the status code on stdout, the
# body in ./body, the headers in ./hdrs; the root token unless -n first.
req() {
	local cfg=(-K "$A")
	if [ "$1" = -n ]; then
		cfg=(-H "Content-Type: application/json")
		shift
	fi
	local m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		curl -s "${cfg[@]}" -X "$m" -D hdrs -o body -w '%{http_code}' \
			--data-binary "$1" "$(base)$p"
	else
		curl -s "${cfg[@]}" -X "$m" -D hdrs -o body -w '%{http_code}' \
			"$(base)$p"
	fi
}

# is CODE METHOD PATH [BODY]: req answers CODE.
is() {
	local want=$1 got
	shift
	got=$(req "$@") || return 1
	if [ "$got" != "$want" ]; then
		echo "$* -> $got, expected $want:"
		cat body
		echo
		return 1
	fi
}

# iggy_error HTTP ID CODE METHOD PATH [BODY]: an api.md §3.1 form-1 error.
iggy_error() {
	local http=$1 id=$2 code=$3
	shift 3
	is "$http" "$@" &&
	jq -e --argjson id "$id" --arg code "$code" \
		'.id == $id and .code == $code and (.reason | type) == "string"
		 and (keys == ["code","field","id","reason"])' body >/dev/null ||
		{ echo "not error $id $code:"; cat body; echo; return 1; }
}

login_as() {
	curl -s -H "Content-Type: application/json" \
		-d "{\"username\":\"$1\",\"password\":\"$2\"}" "$(base)/users/login"
}

b64() { printf '%s' "$1" | base64 -w0; }

test_expect_success 'the server answers HTTP on the address it records; / and /ping need no token' '
	start_server "$D" --http 127.0.0.1:0 &&
	grep -qE "^127\.0\.0\.1:[1-9][0-9]*$" "$D/http.addr" &&
	test "$(cat "$D/http.addr")" != "$(cat "$D/server.addr")" &&
	grep -q "HTTP API on http://$(cat "$D/http.addr")" "$D/server.log" &&
	# a plain listener is given no certificate options to warn about
	! grep "MHD" "$D/server.log" &&
	is 200 -n GET / && test "$(cat body)" = "Iggy API" &&
	grep -qi "^content-type: text/plain; charset=utf-8" hdrs &&
	is 200 -n GET /ping && test "$(cat body)" = pong
'

test_expect_success 'POST /users/login: a JWT whose sub is the user id, expiry in Unix seconds' '
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	login_as iggy "$pass" >login &&
	jq -e ".user_id == 0 and (.access_token.token | type) == \"string\"" login &&
	now=$(date +%s) &&
	exp=$(jq .access_token.expiry login) &&
	test "$exp" -gt "$now" && test "$exp" -le $((now + 3700)) &&
	tok=$(jq -r .access_token.token login) &&
	test "$(echo "$tok" | tr . "\n" | wc -l)" = 3 &&
	claims=$(echo "$tok" | cut -d. -f2 | tr "_-" "/+") &&
	while [ $((${#claims} % 4)) != 0 ]; do claims="$claims="; done &&
	echo "$claims" | base64 -d >claims.json &&
	jq -e ".sub == \"0\" and .iss == \"iggy.apache.org\" and
	       .aud == \"iggy.apache.org\" and .exp == $exp and
	       (.jti | test(\"^[0-9a-f]{8}-[0-9a-f]{4}-7\"))" claims.json &&
	echo "$tok" | cut -d. -f1 | base64 -d 2>/dev/null | grep -q "\"alg\":\"HS256\"" &&
	printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n" \
		"$tok" >"$A"
'

test_expect_success 'login failures: 400 invalid_credentials, 422 shape, 415 type, 400 syntax' '
	iggy_error 400 42 invalid_credentials -n POST /users/login \
		"{\"username\":\"iggy\",\"password\":\"wrong-password\"}" &&
	jq -e ".field == null" body &&
	iggy_error 400 42 invalid_credentials -n POST /users/login \
		"{\"username\":\"nobody\",\"password\":\"x\"}" &&
	is 422 -n POST /users/login "{\"username\":\"iggy\"}" &&
	grep -q "^Failed to deserialize the JSON body" body &&
	is 400 -n POST /users/login "{\"username\":" &&
	grep -q "^Failed to parse the request body as JSON" body &&
	code=$(curl -s -o body -w "%{http_code}" -d "{}" "$(base)/users/login") &&
	test "$code" = 415 &&
	grep -q "Content-Type: application/json" body
'

test_expect_success 'passwords are checked off the loop: a flood of wrong ones over HTTP is delayed, the loop is not' '
	# the password worker answers later: those HTTP requests wait
	# (suspended), and after 5 failures from the address each attempt
	# waits for the address'\''s delay (the wake timer), then answers 400
	for i in 1 2 3 4 5 6 7 8 9; do
		curl -s -o /dev/null -w "%{http_code} %{time_total}\n" \
			-H "Content-Type: application/json" \
			-d "{\"username\":\"iggy\",\"password\":\"wrong-$i\"}" \
			"$(base)/users/login" || exit 1
	done >flood &&
	test "$(cut -d" " -f1 flood | sort -u)" = 400 &&
	# the 7th waited for its delay (100 ms doubling: 200 ms by then)
	awk "NR == 7 { exit !(\$2 >= 0.15) }" flood &&
	grep -q "login: wrong password for .iggy. from 127.0.0.1:" "$D/server.log" &&
	# the HTTP failures count for the address over TCP too: its next
	# TCP login waits (9 failures: 1600 ms)
	hostile login -n 1 "$(cat "$D/server.addr")" iggy >tcp.login &&
	cat tcp.login &&
	awk "/^login 1: status 42 after/ { ok = (\$6 >= 1200) } END { exit !ok }" tcp.login
'

logins_http() {
	curl -s "$(base)/metrics" |
		awk -v k='vibes_requests_total{command="login_user",transport="http"}' \
			'$1 == k { print $2 }'
}

test_expect_success 'an HTTP login waiting for its delay stalls neither TCP nor HTTP; the right password then works' '
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	n0=$(logins_http) || exit 1
	# (not in the && chain: "&" would put the whole chain in the background)
	login_as iggy "$pass" >late &
	late=$!
	test_when_finished "kill $late 2>/dev/null" &&
	# dispatched (counted) and waiting: 10 failures, 2000 ms (the most)
	i=0 &&
	while test "$(logins_http)" = "$n0"; do
		i=$((i + 1)); test $i -lt 200 || exit 1; sleep 0.05
	done &&
	hostile ping -n 20 "$(cat "$D/server.addr")" >ping.tcp &&
	curl -s -o /dev/null -w "%{time_total}\n" "$(base)/ping" >ping.http &&
	test ! -s late &&
	cat ping.tcp ping.http &&
	awk "{ exit !(\$5 < 100) }" ping.tcp &&
	awk "{ exit !(\$1 < 0.1) }" ping.http &&
	wait $late &&
	jq -e ".user_id == 0" late
'

test_expect_success 'no token, a bad one, a lowercase bearer: 401 with an empty body; unknown paths too' '
	is 401 -n GET /streams && test ! -s body &&
	is 401 -n GET /no/such/path && test ! -s body &&
	code=$(curl -s -o body -w "%{http_code}" -H "Authorization: Bearer x.y.z" "$(base)/streams") &&
	test "$code" = 401 && test ! -s body &&
	tok=$(sed -n "s/.*Bearer \(.*\)\"/\1/p" "$A") &&
	code=$(curl -s -o body -w "%{http_code}" -H "Authorization: bearer $tok" "$(base)/streams") &&
	test "$code" = 401 &&
	# the same token with its signature changed (its first character:
	# the last one carries padding bits too)
	sig=${tok##*.} &&
	if [ "${sig:0:1}" = A ]; then c=B; else c=A; fi &&
	code=$(curl -s -o body -w "%{http_code}" -H "Authorization: Bearer ${tok%.*}.$c${sig:1}" "$(base)/streams") &&
	test "$code" = 401 &&
	# with a token: 404 for no route, 405 (and Allow) for another method
	is 404 GET /no/such/path && test ! -s body &&
	is 405 PATCH /streams &&
	grep -i "^allow:" hdrs | grep -q "GET" &&
	grep -i "^allow:" hdrs | grep -q "POST" &&
	# the path picks the route before the method (axum): a fixed segment
	# beats {}, so these are 405, not the user or token named so
	is 405 -n GET /users/login && grep -qi "^allow: POST" hdrs &&
	is 405 -n DELETE /personal-access-tokens/login && grep -qi "^allow: POST" hdrs &&
	is 405 GET /users/logout && grep -qi "^allow: DELETE" hdrs &&
	is 405 PUT /users/refresh-token && grep -qi "^allow: POST" hdrs
'

test_expect_success 'CORS: every OPTIONS answered 200 without a token; every reply allows any origin' '
	curl -s -D hdrs -o body -w "%{http_code}" -X OPTIONS \
		-H "Origin: http://ui.example" \
		-H "Access-Control-Request-Method: GET" \
		-H "Access-Control-Request-Headers: authorization,content-type" \
		"$(base)/streams" >code &&
	test "$(cat code)" = 200 && test ! -s body &&
	grep -qi "^access-control-allow-origin: \*" hdrs &&
	grep -qi "^access-control-allow-methods: GET,POST,PUT,DELETE" hdrs &&
	grep -qi "^access-control-allow-headers: content-type,authorization" hdrs &&
	curl -s -D hdrs -o body -X OPTIONS "$(base)/no/such/path" &&
	grep -q "^HTTP/1.1 200" hdrs &&
	for p in /streams /ping /no/such; do
		curl -s -D hdrs -o body -H "Origin: http://ui.example" "$(base)$p" &&
		grep -qi "^access-control-allow-origin: \*" hdrs || exit 1
	done &&
	is 404 GET /streams/nope &&
	grep -qi "^access-control-allow-origin: \*" hdrs
'

test_expect_success 'streams: create (200 StreamDetails), list, get by id and name, update, errors' '
	is 200 POST /streams "{\"name\":\"orders\"}" &&
	jq -e "(.id | type) == \"number\" and (.created_at | type) == \"number\"
	       and .name == \"orders\" and .size == \"0 B\" and .messages_count == 0
	       and .topics_count == 0 and .topics == []" body &&
	id=$(jq .id body) &&
	iggy_error 400 1012 stream_name_already_exists POST /streams "{\"name\":\"orders\"}" &&
	jq -e ".field == \"name\" and .reason == \"Stream with name: orders already exists.\"" body &&
	iggy_error 400 1013 invalid_stream_name POST /streams "{\"name\":\"\"}" &&
	is 422 POST /streams "{\"title\":\"x\"}" &&
	is 200 POST /streams "{\"name\":\"spare\"}" &&
	is 200 GET /streams &&
	jq -e "length == 2 and .[0].name == \"orders\" and .[1].name == \"spare\" and
	       (.[0] | keys) == [\"created_at\",\"id\",\"messages_count\",\"name\",\"size\",\"topics_count\"]" body &&
	is 200 GET /streams/$id && jq -e ".name == \"orders\" and .topics == []" body &&
	is 200 GET /streams/orders && jq -e ".id == $id" body &&
	# 007 is the number 7 (api.md §0)
	is 404 GET /streams/007 &&
	jq -e ".id == 404 and .code == \"not_found\" and .reason == \"Resource not found\"" body &&
	is 204 PUT /streams/spare "{\"name\":\"spare2\"}" && test ! -s body &&
	is 200 GET /streams/spare2 &&
	iggy_error 404 1009 stream_id_not_found PUT /streams/nope "{\"name\":\"x\"}" &&
	jq -e ".field == \"stream_id\" and .reason == \"Stream with ID: nope was not found.\"" body &&
	is 204 DELETE /streams/spare2 &&
	is 404 GET /streams/spare2
'

test_expect_success 'topics: create (200 TopicDetails), u64::MAX kept exact, list, get, update, purge' '
	is 200 POST /streams/orders/topics "{\"name\":\"events\",\"partitions_count\":3,
		\"compression_algorithm\":\"none\",\"message_expiry\":0,
		\"max_topic_size\":18446744073709551615,\"replication_factor\":null}" &&
	grep -q "\"message_expiry\":18446744073709551615" body &&
	grep -q "\"max_topic_size\":18446744073709551615" body &&
	jq -e ".name == \"events\" and .partitions_count == 3 and
	       .compression_algorithm == \"none\" and .replication_factor == 1 and
	       (.partitions | map(.id)) == [0,1,2] and
	       (.partitions[0] | keys) == [\"created_at\",\"current_offset\",\"id\",\"messages_count\",\"segments_count\",\"size\"]" body &&
	is 200 POST /streams/orders/topics "{\"name\":\"other\",\"partitions_count\":1,
		\"compression_algorithm\":\"GZIP\",\"message_expiry\":60000000,\"max_topic_size\":0}" &&
	jq -e ".compression_algorithm == \"gzip\" and .message_expiry == 60000000" body &&
	iggy_error 400 2013 topic_name_already_exists POST /streams/orders/topics \
		"{\"name\":\"other\",\"partitions_count\":1,\"compression_algorithm\":\"none\",\"message_expiry\":0,\"max_topic_size\":0}" &&
	is 422 POST /streams/orders/topics "{\"name\":\"x\",\"compression_algorithm\":\"none\",\"message_expiry\":0,\"max_topic_size\":0}" &&
	iggy_error 400 2015 too_many_partitions POST /streams/orders/topics \
		"{\"name\":\"big\",\"partitions_count\":1001,\"compression_algorithm\":\"none\",\"message_expiry\":0,\"max_topic_size\":0}" &&
	# a missing stream: the handler looks it up itself (form 2)
	is 404 POST /streams/nope/topics "{\"name\":\"x\",\"partitions_count\":1,\"compression_algorithm\":\"none\",\"message_expiry\":0,\"max_topic_size\":0}" &&
	jq -e ".id == 404" body &&
	is 200 GET /streams/orders/topics &&
	jq -e "map(.name) == [\"events\",\"other\"] and (.[0] | has(\"partitions\") | not)" body &&
	is 404 GET /streams/nope/topics && jq -e ".code == \"not_found\"" body &&
	is 200 GET /streams/orders/topics/events && jq -e ".partitions | length == 3" body &&
	is 404 GET /streams/orders/topics/nope &&
	is 204 PUT /streams/orders/topics/other "{\"name\":\"other2\",\"compression_algorithm\":\"none\",
		\"message_expiry\":0,\"max_topic_size\":0,\"replication_factor\":1}" &&
	is 200 GET /streams/orders/topics/other2 &&
	iggy_error 404 2010 topic_id_not_found DELETE /streams/orders/topics/nope &&
	jq -e ".field == \"topic_id\"" body &&
	is 204 DELETE /streams/orders/topics/other2/purge &&
	is 204 DELETE /streams/orders/topics/other2 &&
	is 404 GET /streams/orders/topics/other2
'

test_expect_success 'send (201) and poll: PolledMessages, user headers, ids, strategies, empty polls' '
	kv=$(b64 key1) && v42=$(printf "\052\0\0\0" | base64) &&
	is 201 POST /streams/orders/topics/events/messages "{\"partitioning\":{\"kind\":\"partition_id\",\"value\":\"$(printf "\001\0\0\0" | base64)\"},
		\"messages\":[{\"id\":0,\"payload\":\"$(b64 hello)\"},
		 {\"id\":\"123\",\"payload\":\"$(b64 hi)\",\"user_headers\":[{\"key\":{\"kind\":\"string\",\"value\":\"$kv\"},\"value\":{\"kind\":\"uint32\",\"value\":\"$v42\"}}]},
		 {\"id\":\"0123456789abcdef-0123456789abcdef\",\"payload\":\"$(b64 three)\"}]}" &&
	test ! -s body &&
	is 200 GET "/streams/orders/topics/events/messages?partition_id=1&kind=offset&value=0&count=10&auto_commit=false" &&
	jq -e ".partition_id == 1 and .current_offset == 2 and .count == 3 and
	       (.messages | map(.header.offset)) == [0,1,2] and
	       .messages[0].payload == \"$(b64 hello)\" and .messages[0].user_headers == [] and
	       .messages[1].header.id == 123 and .messages[1].header.payload_length == 2 and
	       .messages[1].user_headers == [{\"key\":{\"kind\":\"string\",\"value\":\"$kv\"},\"value\":{\"kind\":\"uint32\",\"value\":\"$v42\"}}] and
	       (.messages[0].header | keys) == [\"checksum\",\"id\",\"offset\",\"origin_timestamp\",\"payload_length\",\"reserved\",\"timestamp\",\"user_headers_length\"]" body &&
	# a u128 id as a bare number (0x0123456789abcdef0123456789abcdef)
	grep -q "\"id\":1512366075204170929049582354406559215" body &&
	is 200 GET "/streams/orders/topics/events/messages?partition_id=1&kind=last&count=1" &&
	jq -e ".count == 1 and .messages[0].payload == \"$(b64 three)\"" body &&
	is 200 GET "/streams/orders/topics/events/messages?partition_id=1&kind=first&count=1" &&
	jq -e ".messages[0].header.offset == 0" body &&
	# no messages: zeros, whatever partition was asked
	is 200 GET "/streams/orders/topics/events/messages?partition_id=2" &&
	jq -e ". == {\"partition_id\":0,\"current_offset\":0,\"count\":0,\"messages\":[]}" body &&
	# next with auto_commit stores the offset of the last returned
	is 200 GET "/streams/orders/topics/events/messages?consumer_id=7&partition_id=1&kind=next&count=2&auto_commit=true" &&
	jq -e ".count == 2" body &&
	is 200 GET "/streams/orders/topics/events/messages?consumer_id=7&partition_id=1&kind=n&count=5" &&
	jq -e ".count == 1 and .messages[0].header.offset == 2" body &&
	# balanced and by key
	is 201 POST /streams/orders/topics/events/messages "{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[{\"payload\":\"$(b64 b)\"}]}" &&
	is 201 POST /streams/orders/topics/events/messages "{\"partitioning\":{\"kind\":\"messages_key\",\"value\":\"$(b64 user-1)\"},\"messages\":[{\"payload\":\"$(b64 k)\"}]}"
'

test_expect_success 'send and poll errors: shapes 422, key length 400, kind 400 text, missing partition 404' '
	is 422 POST /streams/orders/topics/events/messages "{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[],\"extra\":1}" &&
	is 422 POST /streams/orders/topics/events/messages "{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[{\"payload\":\"not base64!\"}]}" &&
	is 422 POST /streams/orders/topics/events/messages "{\"messages\":[]}" &&
	iggy_error 400 4028 invalid_key_value_length POST /streams/orders/topics/events/messages \
		"{\"partitioning\":{\"kind\":\"messages_key\",\"value\":\"\"},\"messages\":[{\"payload\":\"$(b64 x)\"}]}" &&
	iggy_error 400 4009 invalid_messages_count POST /streams/orders/topics/events/messages \
		"{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[]}" &&
	iggy_error 404 3007 partition_not_found POST /streams/orders/topics/events/messages \
		"{\"partitioning\":{\"kind\":\"partition_id\",\"value\":\"$(printf "\011\0\0\0" | base64)\"},\"messages\":[{\"payload\":\"$(b64 x)\"}]}" &&
	jq -e ".field == \"partition_id\"" body &&
	is 400 GET "/streams/orders/topics/events/messages?kind=sideways" &&
	grep -q "^Failed to deserialize query string" body &&
	is 400 GET "/streams/orders/topics/events/messages?count=many" &&
	iggy_error 404 1009 stream_id_not_found GET "/streams/nope/topics/events/messages"
'

test_expect_success 'HTTP and TCP see one state: vibes-append then HTTP poll; HTTP send then vibes-poll' '
	addr=$(cat "$D/server.addr") &&
	echo "{\"via\":\"tcp\"}" | vibes-append --server "$addr" -s web -t log --partitions 1 &&
	is 200 GET "/streams/web/topics/log/messages?partition_id=0" &&
	jq -e ".count == 1" body &&
	jq -r ".messages[0].payload" body | base64 -d >got &&
	printf "{\"via\":\"tcp\"}" >want && test_cmp want got &&
	is 201 POST /streams/web/topics/log/messages "{\"partitioning\":{\"kind\":\"balanced\",\"value\":\"\"},\"messages\":[{\"payload\":\"$(b64 "{\"via\":\"http\"}")\"}]}" &&
	vibes-poll --server "$addr" -s web -t log -c reader >got &&
	printf "{\"via\":\"tcp\"}\n{\"via\":\"http\"}\n" >want &&
	test_cmp want got &&
	# the consumer offset vibes-poll committed is seen over HTTP
	is 200 GET "/streams/web/topics/log/consumer-offsets?consumer_id=reader&partition_id=0" &&
	jq -e ".stored_offset == 1 and .current_offset == 1 and .partition_id == 0" body
'

test_expect_success 'consumer offsets: store 204, get, delete 204, then 404; errors' '
	is 204 PUT /streams/orders/topics/events/consumer-offsets "{\"consumer_id\":1,\"partition_id\":1,\"offset\":1}" &&
	is 200 GET "/streams/orders/topics/events/consumer-offsets?consumer_id=1&partition_id=1" &&
	jq -e ". == {\"partition_id\":1,\"current_offset\":2,\"stored_offset\":1}" body &&
	iggy_error 400 4100 invalid_offset PUT /streams/orders/topics/events/consumer-offsets "{\"partition_id\":1,\"offset\":99}" &&
	jq -e ".field == \"offset\"" body &&
	is 422 PUT /streams/orders/topics/events/consumer-offsets "{\"partition_id\":1}" &&
	is 204 DELETE "/streams/orders/topics/events/consumer-offsets/1?partition_id=1" &&
	is 404 GET "/streams/orders/topics/events/consumer-offsets?consumer_id=1&partition_id=1" &&
	jq -e ".code == \"not_found\"" body &&
	iggy_error 404 3021 consumer_offset_not_found DELETE "/streams/orders/topics/events/consumer-offsets/1?partition_id=1"
'

test_expect_success 'consumer groups: create 201, list, get with members (a TCP member joins), delete' '
	is 201 POST /streams/orders/topics/events/consumer-groups "{\"name\":\"workers\"}" &&
	jq -e ".name == \"workers\" and .partitions_count == 3 and .members_count == 0 and .members == []" body &&
	gid=$(jq .id body) &&
	iggy_error 400 5004 consumer_group_name_already_exists POST /streams/orders/topics/events/consumer-groups "{\"name\":\"workers\"}" &&
	is 200 GET /streams/orders/topics/events/consumer-groups &&
	jq -e "length == 1 and (.[0] | keys) == [\"id\",\"members_count\",\"name\",\"partitions_count\"]" body ||
		exit 1
	# (not in the && chain: "&" would put the whole chain in the background)
	vibes-poll --server "$(cat "$D/server.addr")" -s orders -t events -g workers -f \
		</dev/null >/dev/null 2>member.err &
	member=$!
	test_when_finished "kill $member" &&
	i=0 &&
	while ! { req GET /streams/orders/topics/events/consumer-groups/workers >/dev/null &&
		  jq -e ".members_count == 1" body >/dev/null; }; do
		i=$((i + 1)); test $i -lt 200 || { cat body member.err; exit 1; }
		sleep 0.05
	done &&
	jq -e ".members[0].partitions_count == 3 and (.members[0].partitions | sort) == [0,1,2]" body &&
	is 200 GET /clients &&
	jq -e "length >= 1 and .[0].transport == \"tcp\" and (.[0].user_id == 0)" body &&
	cid=$(jq "map(select(.consumer_groups_count == 1))[0].client_id" body) &&
	is 200 GET /clients/$cid &&
	jq -e ".consumer_groups == [{\"stream_id\":0,\"topic_id\":0,\"group_id\":$gid}]" body &&
	kill $member && wait $member;
	iggy_error 404 5000 consumer_group_id_not_found GET /streams/orders/topics/events/consumer-groups/nope &&
	iggy_error 404 1009 stream_id_not_found GET /streams/nope/topics/events/consumer-groups &&
	is 204 DELETE /streams/orders/topics/events/consumer-groups/$gid &&
	is 200 GET /streams/orders/topics/events/consumer-groups && jq -e ". == []" body
'

test_expect_success 'partitions and segments: add 201, remove by query 204, query required' '
	is 201 POST /streams/orders/topics/events/partitions "{\"partitions_count\":2}" &&
	is 200 GET /streams/orders/topics/events && jq -e ".partitions_count == 5" body &&
	is 204 DELETE "/streams/orders/topics/events/partitions?partitions_count=2" &&
	is 200 GET /streams/orders/topics/events && jq -e ".partitions_count == 3" body &&
	is 400 DELETE /streams/orders/topics/events/partitions &&
	iggy_error 400 2019 invalid_partitions_count DELETE "/streams/orders/topics/events/partitions?partitions_count=9" &&
	is 204 DELETE "/streams/orders/topics/events/partitions/0?segments_count=1" &&
	is 400 DELETE "/streams/orders/topics/events/partitions/x?segments_count=1" &&
	grep -q "^Invalid URL" body
'

test_expect_success 'flush: true, false and the Rust SDK'\''s fsync=BOOL; anything else 400' '
	is 200 GET /streams/orders/topics/events/messages/flush/1/true && test ! -s body &&
	is 200 GET /streams/orders/topics/events/messages/flush/1/false &&
	is 200 GET /streams/orders/topics/events/messages/flush/1/fsync=true &&
	is 400 GET /streams/orders/topics/events/messages/flush/1/maybe &&
	iggy_error 404 3007 partition_not_found GET /streams/orders/topics/events/messages/flush/9/true
'

test_expect_success 'users: create with permissions, get, a limited user gets 403, password, status, delete' '
	is 200 GET /users && jq -e ".[0] == (.[0] | {id,created_at,status,username}) and .[0].username == \"iggy\"" body &&
	is 200 GET /users/0 && jq -e ".status == \"active\" and .permissions.streams == null and
	       (.permissions.global | length == 10 and all(.[]; . == true))" body &&
	perms="{\"global\":{\"manage_servers\":false,\"read_servers\":false,\"manage_users\":false,\"read_users\":false,
		\"manage_streams\":false,\"read_streams\":false,\"manage_topics\":false,\"read_topics\":false,
		\"poll_messages\":false,\"send_messages\":false},
		\"streams\":{\"0\":{\"manage_stream\":false,\"read_stream\":true,\"manage_topics\":false,
		\"read_topics\":true,\"poll_messages\":true,\"send_messages\":false,
		\"topics\":{\"0\":{\"manage_topic\":false,\"read_topic\":true,\"poll_messages\":true,\"send_messages\":true}}}}}" &&
	is 200 POST /users "{\"username\":\"alice\",\"password\":\"secret1\",\"status\":\"active\",\"permissions\":$perms}" &&
	echo "$perms" | jq -S . >want.perms &&
	jq -S .permissions body >got.perms && test_cmp want.perms got.perms &&
	aid=$(jq .id body) &&
	iggy_error 400 46 user_already_exists POST /users "{\"username\":\"alice\",\"password\":\"secret1\",\"status\":\"active\"}" &&
	jq -e ".field == \"username\"" body &&
	iggy_error 400 43 invalid_username POST /users "{\"username\":\"al\",\"password\":\"secret1\",\"status\":\"active\"}" &&
	is 422 POST /users "{\"username\":\"bob\",\"password\":\"secret1\",\"status\":\"sleepy\"}" &&
	is 200 GET /users/alice && jq -e ".id == $aid" body &&
	atok=$(login_as alice secret1 | jq -r .access_token.token) &&
	printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n" "$atok" >alice.cfg &&
	code=$(curl -s -K alice.cfg -o body -w "%{http_code}" -d "{\"name\":\"hers\"}" "$(base)/streams") &&
	test "$code" = 403 && jq -e ".id == 41 and .code == \"unauthorized\"" body &&
	code=$(curl -s -K alice.cfg -o body -w "%{http_code}" "$(base)/users/$aid") &&
	test "$code" = 200 &&
	code=$(curl -s -K alice.cfg -o body -w "%{http_code}" "$(base)/users/0") &&
	test "$code" = 403 &&
	code=$(curl -s -K alice.cfg -o body -w "%{http_code}" "$(base)/streams/0/topics/0/messages?partition_id=1") &&
	test "$code" = 200 &&
	is 204 PUT /users/alice/password "{\"current_password\":\"secret1\",\"new_password\":\"secret2\"}" &&
	login_as alice secret2 | jq -e ".user_id == $aid" &&
	iggy_error 400 42 invalid_credentials PUT /users/alice/password "{\"current_password\":\"nope1\",\"new_password\":\"secret3\"}" &&
	is 204 PUT /users/alice/permissions "{\"permissions\":null}" &&
	is 200 GET /users/alice && jq -e ".permissions == null" body &&
	is 204 PUT /users/alice "{\"status\":\"inactive\"}" &&
	login_as alice secret2 >inactive && jq -e ".id == 47 and .code == \"user_inactive\"" inactive &&
	is 204 PUT /users/alice "{\"username\":\"alice2\"}" &&
	is 404 GET /users/alice && jq -e ".code == \"not_found\"" body &&
	iggy_error 400 48 cannot_delete_user DELETE /users/0 &&
	is 204 DELETE /users/alice2 &&
	is 404 GET /users/$aid
'

test_expect_success 'personal access tokens: create, list, log in with one (401 for a bad one), delete' '
	is 200 POST /personal-access-tokens "{\"name\":\"ci-token\",\"expiry\":0}" &&
	pat=$(jq -r .token body) && test ${#pat} -ge 20 &&
	iggy_error 400 51 personal_access_token_already_exists POST /personal-access-tokens "{\"name\":\"ci-token\",\"expiry\":0}" &&
	iggy_error 400 50 invalid_personal_access_token_name POST /personal-access-tokens "{\"name\":\"ci\",\"expiry\":0}" &&
	is 200 POST /personal-access-tokens "{\"name\":\"b-token\",\"expiry\":18446744073709551615}" &&
	is 200 GET /personal-access-tokens &&
	jq -e ". == [{\"name\":\"b-token\",\"expiry_at\":null},{\"name\":\"ci-token\",\"expiry_at\":null}]" body &&
	is 200 -n POST /personal-access-tokens/login "{\"token\":\"$pat\"}" &&
	jq -e ".user_id == 0 and (.access_token.token | length) > 20" body &&
	iggy_error 401 53 invalid_personal_access_token -n POST /personal-access-tokens/login "{\"token\":\"nope\"}" &&
	is 204 DELETE /personal-access-tokens/ci-token &&
	iggy_error 404 20 resource_not_found DELETE /personal-access-tokens/ci-token
'

test_expect_success 'system: stats (numbers where the Web UI wants them), clients, cluster, snapshot' '
	is 200 GET /stats &&
	jq -e "(.cpu_usage | type) == \"number\" and (.run_time | type) == \"number\" and
	       (.start_time | type) == \"number\" and .iggy_server_version == \"0.8.0\" and
	       .iggy_server_semver == 8000 and (.memory_usage | test(\" (B|KiB|KB|MiB|MB|GiB|GB)$\")) and
	       .streams_count == 2 and .cache_metrics == {} and (.free_disk_space | type) == \"string\"" body &&
	test "$(jq "keys | length" body)" = 28 &&
	is 200 GET /cluster/metadata &&
	jq -e --argjson h "$(cut -d: -f2 "$D/http.addr")" --argjson t "$(cut -d: -f2 "$D/server.addr")" \
		".name == \"single-node\" and .nodes[0].endpoints.http == \$h and
		 .nodes[0].endpoints.tcp == \$t and .nodes[0].role == \"leader\"" body &&
	is 200 GET /clients && jq -e "type == \"array\"" body &&
	iggy_error 400 101 invalid_client_id GET /clients/0 &&
	is 404 GET /clients/12345 && jq -e ".code == \"not_found\"" body &&
	is 400 GET /clients/abc && grep -q "^Invalid URL" body &&
	iggy_error 400 5 feature_unavailable POST /snapshot "{\"compression\":\"Deflated\",\"snapshot_types\":[\"All\"]}" &&
	iggy_error 400 3 invalid_command POST /snapshot "{\"compression\":\"Deflated\",\"snapshot_types\":[\"All\",\"Test\"]}" &&
	is 422 POST /snapshot "{\"compression\":\"Fast\",\"snapshot_types\":[\"All\"]}"
'

test_expect_success 'a body over 2 MB: 413' '
	head -c 2100000 /dev/zero | tr "\0" a >big &&
	code=$(curl -s -K "$A" -o body -w "%{http_code}" --data-binary @big "$(base)/streams") &&
	test "$code" = 413
'

test_expect_success 'refresh: a new token for the old, which is then refused; logout revokes' '
	tok=$(sed -n "s/.*Bearer \(.*\)\"/\1/p" "$A") &&
	is 200 -n POST /users/refresh-token "{\"token\":\"$tok\"}" &&
	new=$(jq -r .access_token.token body) && test "$new" != "$tok" &&
	code=$(curl -s -o body -w "%{http_code}" -H "Authorization: Bearer $tok" "$(base)/streams") &&
	test "$code" = 401 &&
	iggy_error 401 78 invalid_access_token -n POST /users/refresh-token "{\"token\":\"$tok\"}" &&
	iggy_error 401 78 invalid_access_token -n POST /users/refresh-token "{\"token\":\"\"}" &&
	printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n" "$new" >"$A" &&
	is 200 GET /streams &&
	is 204 DELETE /users/logout && test ! -s body &&
	is 401 GET /streams && test ! -s body
'

test_expect_success 'the daemon stops cleanly with HTTP connections open; --no-http has none' '
	exec 7< <(curl -s -N --max-time 30 "$(base)/ping" ; sleep 30) &&
	kill -TERM "$(cat "$D/server.pid")" &&
	i=0 && while [ -e "$D/server.pid" ]; do
		i=$((i + 1)); test $i -lt 200 || exit 1; sleep 0.05
	done &&
	grep -q "vibes-iggyd: stopped$" "$D/server.log" &&
	start_server "$TRASH/nohttp" --no-http &&
	test ! -e "$TRASH/nohttp/http.addr" &&
	! grep -q "HTTP API on" "$TRASH/nohttp/server.log"
'

test_expect_success '--http: a taken port is an error (78); without it the default moves' '
	start_server "$TRASH/holder" --http 127.0.0.1:0 &&
	taken=$(cat "$TRASH/holder/http.addr") &&
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/d2" --addr 127.0.0.1:0 \
		--http "$taken" 2>err &&
	grep -q "cannot listen for HTTP on $taken: address already in use" err
'

test_done
