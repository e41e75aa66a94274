#!/bin/bash
test_description='vibes-iggyctl: the HTTP API address (default 3000, fallback, --http, --no-http) and `http` for curl'
# The default HTTP port is a fixed number: run in a private network
# namespace where one can be had (those tests are skipped elsewhere).
if [ -z "${VIBES_T_NETNS:-}" ] && command -v ip >/dev/null &&
   unshare -n true 2>/dev/null; then
	VIBES_T_NETNS=1 exec unshare -n bash -c \
		'ip link set lo up && exec bash "$0"' "$0"
fi
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"

if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..0 # SKIP curl and jq are needed (.ci/run installs them)"
	[ -n "${CI:-}" ] && exit 1
	exit 0
fi

netns_test() {
	if [ -n "${VIBES_T_NETNS:-}" ]; then
		test_expect_success "$1" "$2"
	else
		test_skip "$1" "no private network namespace here"
	fi
}

test_expect_success 'http PATH: a curl config with a fresh token and the URL; the server is started if need be' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --http 127.0.0.1:0 http /streams >cfg 2>err &&
	grep "^vibes-iggyctl: started the server: pid [0-9]*, 127.0.0.1:[0-9]*, data dir $D$" err &&
	h=$(cat "$D/http.addr") &&
	grep -qE "^127\.0\.0\.1:[1-9][0-9]*$" "$D/http.addr" &&
	test $(wc -l <cfg) = 3 &&
	sed -n 1p cfg | grep -E "^# vibes-iggyctl http: for curl -K; the HTTP API of $D, token valid until [0-9-]+T[0-9:]+Z$" &&
	sed -n 2p cfg | grep -E "^header = \"Authorization: Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\"$" &&
	sed -n 3p cfg | grep -x "url = \"http://$h/streams\"" &&
	code=$(curl -s -o body -w "%{http_code}" -K cfg) &&
	test "$code" = 200 && jq -e ". == []" body &&
	# through a pipe, as documented; the token never is an argument
	curl -s -K <(vibes-iggyctl -d "$D" http /stats) | jq -e ".iggy_server_version == \"0.8.0\"" &&
	vibes-iggyctl -d "$D" http >cfg2 2>err &&
	test ! -s err &&
	test $(wc -l <cfg2) = 2 && ! grep -q "^url" cfg2 &&
	curl -s -K cfg2 "http://$h/users" | jq -e ".[0].username == \"iggy\"" &&
	test "$(vibes-iggyctl -d "$D" http --url)" = "http://$h" &&
	test "$(vibes-iggyctl -d "$D" http -u "/metrics?x=1")" = "http://$h/metrics?x=1"
'

test_expect_success 'status shows the HTTP address; a quote or backslash in the path is escaped for curl' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --http 127.0.0.1:0 ensure >/dev/null &&
	h=$(cat "$D/http.addr") &&
	vibes-iggyctl -d "$D" status >st &&
	grep -x "http:        http://$h" st &&
	vibes-iggyctl -d "$D" status --json | jq -e ".http_address == \"$h\"" &&
	vibes-iggyctl -d "$D" http "/a\"b\\c" >cfg &&
	grep -xF "url = \"http://$h/a\\\"b\\\\c\"" cfg &&
	curl -s -o /dev/null -w "%{http_code}" -K cfg >code &&
	test "$(cat code)" = 404
'

test_expect_success 'http usage errors: a path without /, spaces, an unknown option' '
	stop_at_end "$D" &&
	test_must_fail 2 vibes-iggyctl -d "$D" http streams 2>err &&
	grep "must start with /" err &&
	test_must_fail 2 vibes-iggyctl -d "$D" http "/a b" &&
	test_must_fail 2 vibes-iggyctl -d "$D" http --token &&
	test_must_fail 2 vibes-iggyctl -d "$D" http /a /b
'

test_expect_success 'a restart keeps the HTTP port; --no-http: none, and http says so (69)' '
	stop_at_end "$D" &&
	h=$(cat "$D/http.addr") &&
	vibes-iggyctl -d "$D" --port 0 restart >/dev/null &&
	test "$(cat "$D/http.addr")" = "$h" &&
	vibes-iggyctl -d "$D" stop >/dev/null &&
	vibes-iggyctl -d "$D" --port 0 --no-http start >/dev/null &&
	test ! -e "$D/http.addr" &&
	test_must_fail 69 vibes-iggyctl -d "$D" http /streams >out 2>err &&
	test ! -s out &&
	grep "has no HTTP API" err &&
	vibes-iggyctl -d "$D" stop >/dev/null
'

test_expect_success 'a wrong password in the credentials file: exit 77, nothing on stdout' '
	stop_at_end "$TRASH/d4" &&
	vibes-iggyctl -d "$TRASH/d4" --port 0 --http 127.0.0.1:0 start >/dev/null &&
	cp "$TRASH/d4/credentials" creds.good &&
	printf "username=iggy\npassword=wrong-one\n" >"$TRASH/d4/credentials" &&
	test_must_fail 77 vibes-iggyctl -d "$TRASH/d4" http /streams >out 2>err &&
	test ! -s out &&
	grep "refused" err &&
	cp creds.good "$TRASH/d4/credentials"
'

test_expect_success 'an explicit --http port in use fails at once, naming the holder' '
	stop_at_end "$TRASH/d5" &&
	spawn_ready "$TRASH/holder.log" vibes-iggyd --data-dir "$TRASH/holder" \
		--addr 127.0.0.1:0 --http 127.0.0.1:0 --ready-fd 3 &&
	holder=$SPAWN_PID &&
	taken=$(cat "$TRASH/holder/http.addr") &&
	test_must_fail 69 vibes-iggyctl -d "$TRASH/d5" --port 0 --http "$taken" start 2>err &&
	grep "^vibes-iggyctl: cannot listen for HTTP on $taken: port ${taken##*:} is in use by pid $holder (vibes-iggyd)$" err &&
	test_must_fail 3 vibes-iggyctl -d "$TRASH/d5" status &&
	stop_server "$holder"
'

netns_test 'no --http: 127.0.0.1:3000; taken, another port (recorded); the old one again once free' '
	stop_at_end "$TRASH/d6" &&
	vibes-iggyctl -d "$TRASH/d6" --port 0 start >/dev/null &&
	test "$(cat "$TRASH/d6/http.addr")" = 127.0.0.1:3000 &&
	curl -s http://127.0.0.1:3000/ping | grep -x pong &&
	vibes-iggyctl -d "$TRASH/d6" stop >/dev/null &&
	spawn_ready "$TRASH/holder3000.log" vibes-iggyd --data-dir "$TRASH/h3000" \
		--addr 127.0.0.1:0 --http 127.0.0.1:3000 --ready-fd 3 &&
	holder=$SPAWN_PID &&
	test_when_finished "kill $holder" &&
	vibes-iggyctl -d "$TRASH/d6" --port 0 start >/dev/null &&
	h=$(cat "$TRASH/d6/http.addr") &&
	test "$h" != 127.0.0.1:3000 &&
	grep -qE "^127\.0\.0\.1:[1-9][0-9]*$" "$TRASH/d6/http.addr" &&
	curl -s -K <(vibes-iggyctl -d "$TRASH/d6" http /ping) | grep -x pong &&
	test_must_fail 69 vibes-iggyctl -d "$TRASH/d7" --port 0 --http 127.0.0.1:3000 start 2>err &&
	grep "port 3000 is in use by pid $holder" err &&
	vibes-iggyctl -d "$TRASH/d6" stop >/dev/null &&
	# the port it had is preferred while it is free
	vibes-iggyctl -d "$TRASH/d6" --port 0 start >/dev/null &&
	test "$(cat "$TRASH/d6/http.addr")" = "$h" &&
	vibes-iggyctl -d "$TRASH/d6" stop >/dev/null
'

netns_test 'the daemon alone, without --http, moves off a taken 3000 by itself' '
	spawn_ready "$TRASH/h2.log" vibes-iggyd --data-dir "$TRASH/h2" \
		--addr 127.0.0.1:0 --http 127.0.0.1:3000 --ready-fd 3 &&
	holder=$SPAWN_PID &&
	start_server "$TRASH/alone" &&
	test "$(cat "$TRASH/alone/http.addr")" != 127.0.0.1:3000 &&
	grep "http: 127.0.0.1:3000 is in use; listening on a port of the kernel" "$TRASH/alone/server.log" &&
	stop_server "$SERVER_PID" && stop_server "$holder"
'

test_done
