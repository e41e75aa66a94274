#!/bin/bash
# The local socket DATA/server.sock (vibes-iggyd(8)): the tools that find
# the server through the data dir use it, and fall back to the TCP port
# when it does not answer; --no-unix-socket, TLS and a data dir whose path
# is too long for a socket's name mean none.
test_description='vibes-iggyd: the local socket in the data dir'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1
D=$VIBES_IGGY_DATA_DIR
one() { printf '{"session_id":"%s","n":%s}\n' "$1" "$2"; }

test_expect_success 'the server listens on DATA/server.sock, owner only, and says so' '
	test -S "$D/server.sock" &&
	test "$(stat -c %a "$D/server.sock")" = 700 &&
	grep -q "listening on $SERVER_ADDR, data dir $D$" "$D/server.log" &&
	grep -q "and on the local socket $D/server.sock$" "$D/server.log"
'

test_expect_success 'the tools go through it: they work while server.addr names a dead port' '
	cp "$D/server.addr" addr.saved &&
	echo 127.0.0.1:1 >"$D/server.addr" &&
	one a 1 >in1 &&
	vibes-append --acks in1 >acks &&
	grep -q "\"offset\":0" acks &&
	vibes-poll -c t1 --format raw >out &&
	test "$(cat out)" = "$(one a 1)" &&
	vibes-seek -c t1 --to beginning &&
	cp addr.saved "$D/server.addr"
'

test_expect_success 'a client is unix:@NAME in the client list, the name its socket has' '
	if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
		say "curl and jq are needed (.ci/run installs them)"; false
	fi &&
	mkfifo f1 &&
	{ vibes-poll -f -c t2 --format raw >f1 & echo $! >poll.pid; } &&
	read -r got <f1 &&
	test "$got" = "$(one a 1)" &&
	vibes-iggyctl http >curl.cfg &&
	curl -s -K curl.cfg "http://$(cat "$D/http.addr")/clients" >clients &&
	kill "$(cat poll.pid)" &&
	jq -e "[.[] | select(.address | test(\"^unix:@[0-9a-f]{5}\$\"))] | length == 1" clients
'

test_expect_success 'a stream of lines (input still coming at the connect) goes to the TCP port' '
	mkfifo in2 &&
	exec 5<>in2 &&
	{ vibes-append -v --no-progress in2 2>err2 5>&- & echo $! >app.pid; } &&
	one f 1 >&5 &&
	i=0 && while ! grep -q "speaking Iggy" err2; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1)); done &&
	exec 5>&- &&
	wait "$(cat app.pid)" &&
	grep "^vibes-append: speaking Iggy 0.8 to $SERVER_ADDR$" err2
'

test_expect_success 'an explicit address is not redirected to the socket' '
	cp "$D/server.addr" addr.saved &&
	echo 127.0.0.1:1 >"$D/server.addr" &&
	test_must_fail env VIBES_IGGY_ADDR=127.0.0.1:1 vibes-poll -c t3 \
		--timeout 2000 >out 2>err &&
	grep -q "127.0.0.1:1" err &&
	cp addr.saved "$D/server.addr"
'

stop_server
test_expect_success 'shutdown removes the socket' '
	! test -e "$D/server.sock"
'

start_server "$D" --no-unix-socket || exit 1
test_expect_success 'a socket nobody answers on is passed over' '
	! test -e "$D/server.sock" &&
	test $(grep -c "and on the local socket" "$D/server.log") = 1 &&
	python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" \
		"$D/server.sock" &&
	test -S "$D/server.sock" &&
	one c 1 | vibes-append &&
	vibes-poll -c t4 --format raw >out &&
	test "$(wc -l <out)" = 3
'

# killed: the socket stays behind
{ kill -KILL "$SERVER_PID" && wait "$SERVER_PID"; } 2>/dev/null
start_server "$D" || exit 1
test_expect_success 'a server started again replaces a socket left behind' '
	test -S "$D/server.sock" &&
	echo 127.0.0.1:1 >"$D/server.addr" &&
	vibes-poll -c t5 --format raw >out &&
	test "$(wc -l <out)" = 3 &&
	echo "$SERVER_ADDR" >"$D/server.addr"
'

{ kill -KILL "$SERVER_PID" && wait "$SERVER_PID"; } 2>/dev/null
left=no
test -S "$D/server.sock" && left=yes
start_server "$D" --no-unix-socket || exit 1
test_expect_success '--no-unix-socket removes a socket left by an earlier server' '
	test "$left" = yes &&
	! test -e "$D/server.sock" &&
	test $(grep -c "and on the local socket" "$D/server.log") = 2 &&
	one e 1 | vibes-append
'

long=$TRASH/$(printf "%0110d" 0)
start_server "$long" || exit 1
test_expect_success 'a data dir too long for a socket name: none, said in the log; the tools use TCP' '
	! test -e "$long/server.sock" &&
	grep -q "no local socket: $long/server.sock: too long for a socket (at most 107 bytes); tools use the TCP port" \
		"$long/server.log" &&
	one d 1 | VIBES_IGGY_DATA_DIR=$long vibes-append &&
	VIBES_IGGY_DATA_DIR=$long vibes-poll -c t6 --format raw >out &&
	test "$(cat out)" = "$(one d 1)"
'

test_done
