#!/bin/bash
test_description='vibes-iggyctl with an upstream iggy-server (a stand-in script)'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

# No real iggy-server can run here.  This stand-in behaves like one as far
# as vibes-iggyctl can tell: it takes no arguments and no ready fd, reads
# its configuration only from the IGGY_* environment variables (refusing
# to run unless HTTP, QUIC and WebSocket are disabled), and stores its data
# below IGGY_SYSTEM_PATH.  It serves by exec'ing vibes-iggyd on a
# subdirectory, so readiness can only be seen by logging in.
D="$TRASH/d"
mkdir -p "$TRASH/bin"
cat >"$TRASH/bin/iggy-server" <<'EOF'
#!/bin/sh
if [ "${1:-}" = --version ]; then
	echo "iggy-server 0.8.0"
	exit 0
fi
if [ $# -gt 0 ]; then
	echo "iggy-server: unexpected arguments: $*" >&2
	exit 2
fi
for v in IGGY_SYSTEM_PATH IGGY_TCP_ADDRESS IGGY_ROOT_USERNAME IGGY_ROOT_PASSWORD; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "iggy-server: $v is not set" >&2
		exit 2
	fi
done
if [ "${IGGY_HTTP_ENABLED:-}" != false ] || [ "${IGGY_QUIC_ENABLED:-}" != false ] ||
   [ "${IGGY_WEBSOCKET_ENABLED:-}" != false ]; then
	echo "iggy-server: http, quic and websocket must be disabled" >&2
	exit 2
fi
echo "iggy-server: tcp on $IGGY_TCP_ADDRESS, root $IGGY_ROOT_USERNAME" >&2
# Its own layout, below the system path.  (The pidfile at the top is ours.)
exec vibes-iggyd --data-dir "$IGGY_SYSTEM_PATH/upstream" --addr "$IGGY_TCP_ADDRESS"
EOF
chmod +x "$TRASH/bin/iggy-server"
# The same program under a name that says nothing: detected by --version.
cp "$TRASH/bin/iggy-server" "$TRASH/bin/broker"
UP="$TRASH/bin/iggy-server"

test_expect_success 'start an upstream server: credentials made 0600, login works' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$UP" start >out &&
	grep "starting $UP (upstream) on 127.0.0.1:[1-9]" "$D/server.log" &&
	grep "iggy-server: tcp on $(cat "$D/server.addr"), root iggy$" "$D/server.log" &&
	test "$(stat -c %a "$D/credentials")" = 600 &&
	grep -E "^password=[A-Za-z0-9]{24}$" "$D/credentials" &&
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	grep "^password=$pass$" "$D/upstream/credentials" &&
	pid=$(cat "$D/server.pid") &&
	grep "^started: pid $pid, $(cat "$D/server.addr")," out &&
	test "$(tr -d "\0" </proc/$pid/cmdline)" = "vibes-iggyd--data-dir$D/upstream--addr$(cat "$D/server.addr")" &&
	vibes-iggyctl -d "$D" status >st &&
	grep "^state: *running$" st &&
	grep "^pid: *$pid$" st &&
	vibes-test-tool -d "$D" send up events a b &&
	vibes-test-tool -d "$D" poll up events >actual &&
	printf "a\nb\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'upstream: the same password across restarts, data kept' '
	stop_at_end "$D" &&
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$UP" start &&
	grep "^password=$pass$" "$D/credentials" &&
	vibes-test-tool -d "$D" poll up events >actual &&
	printf "a\nb\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'upstream under supervision: kill -9 comes back, stop is clean' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$UP" start &&
	old=$(cat "$D/server.pid") &&
	sup=$(cat "$D/supervise.lock") &&
	test "$(lock_holders "$D/server.pid")" = "$sup" &&
	kill -9 "$old" &&
	wait_for 10 pid_changed "$D" "$old" &&
	wait_for 10 vibes-test-tool -d "$D" --timeout 1000 connect &&
	vibes-test-tool -d "$D" poll up events >actual &&
	test_cmp expect actual &&
	new=$(cat "$D/server.pid") &&
	vibes-iggyctl -d "$D" stop &&
	process_gone "$new" &&
	wait_for 5 process_gone "$sup" &&
	test ! -e "$D/server.pid" &&
	test_must_fail 3 vibes-iggyctl -d "$D" status
'

test_expect_success 'IGGY_ROOT_USERNAME/PASSWORD are passed on and recorded' '
	stop_at_end "$TRASH/d2" &&
	IGGY_ROOT_USERNAME=boss IGGY_ROOT_PASSWORD=sekrit \
		vibes-iggyctl -d "$TRASH/d2" --port 0 --server-bin "$UP" start &&
	grep "^username=boss$" "$TRASH/d2/credentials" &&
	grep "^password=sekrit$" "$TRASH/d2/credentials" &&
	vibes-test-tool -d "$TRASH/d2" connect | grep " as boss$" &&
	test_must_fail 77 vibes-test-tool -d "$TRASH/d2" --password wrong connect
'

test_expect_success 'an upstream binary is recognised by its --version too' '
	stop_at_end "$TRASH/d3" &&
	vibes-iggyctl -d "$TRASH/d3" --port 0 --server-bin "$TRASH/bin/broker" start &&
	grep "starting $TRASH/bin/broker (upstream)" "$TRASH/d3/server.log" &&
	VIBES_IGGY_SERVER="$TRASH/bin/broker" vibes-iggyctl -d "$TRASH/d3" --port 0 restart &&
	vibes-test-tool -d "$TRASH/d3" connect
'

test_expect_success 'run execs the upstream server with its environment' '
	vibes-iggyctl -d "$TRASH/d4" --port 0 --server-bin "$UP" run 2>run.err &
	rp=$! &&
	test_when_finished "kill -9 $rp" &&
	wait_for 10 grep -q "listening on" run.err &&
	grep "^iggy-server: tcp on 127.0.0.1:[1-9][0-9]*, root iggy$" run.err &&
	kill -TERM $rp &&
	wait $rp
'

test_done
