#!/bin/bash
test_description='vibes-iggyctl start failures; how tools find and log in to the server'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"
mkdir -p "$TRASH/bin"
# A daemon that starts but never becomes ready.
cat >"$TRASH/bin/stuck-vibes-iggyd" <<'EOF'
#!/bin/sh
echo "stuck: loading forever" >&2
exec sleep 1000
EOF
# A daemon that dies during startup.
cat >"$TRASH/bin/broken-vibes-iggyd" <<'EOF'
#!/bin/sh
echo "broken: cannot open storage: corrupt segment" >&2
exit 1
EOF
chmod +x "$TRASH/bin/"*

test_expect_success 'not ready before --timeout: exit 75, log shown, nothing left' '
	stop_at_end "$D" &&
	test_must_fail 75 vibes-iggyctl -d "$D" --port 0 \
		--server-bin "$TRASH/bin/stuck-vibes-iggyd" start --timeout 1 2>err &&
	grep "^vibes-iggyctl: server not ready within 1000 ms; stopped it$" err &&
	grep "^vibes-iggyctl: last lines of $D/server.log:$" err &&
	grep "^stuck: loading forever$" err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	test -z "$(lock_holders "$D/supervise.lock")" &&
	! pgrep -f "sleep 1000" >/dev/null
'

test_expect_success 'death during startup: exit 69 with the reason from the log' '
	test_must_fail 69 vibes-iggyctl -d "$D" --port 0 \
		--server-bin "$TRASH/bin/broken-vibes-iggyd" start 2>err &&
	grep "^vibes-iggyctl: server exited with status 1 during startup$" err &&
	grep "^broken: cannot open storage: corrupt segment$" err &&
	! grep "stuck: loading forever" err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	test -z "$(lock_holders "$D/supervise.lock")"
'

test_expect_success 'a missing server binary: exit 78 (no retry cures it), named' '
	test_must_fail 78 vibes-iggyctl -d "$D" --port 0 --server-bin "$TRASH/bin/nope" start 2>err &&
	grep "cannot execute the server $TRASH/bin/nope" err &&
	VIBES_IGGY_SERVER="$TRASH/bin/nope" test_must_fail 78 \
		vibes-iggyctl -d "$D" --port 0 ensure 2>err &&
	grep "cannot execute the server $TRASH/bin/nope" err
'

test_expect_success 'a data dir in use by a server started by hand' '
	stop_at_end "$D" &&
	start_server "$D" &&
	test_must_fail 1 vibes-iggyctl -d "$D" --port 0 start 2>err &&
	grep "already running (pid $SERVER_PID)" err &&
	vibes-iggyctl -d "$D" --port 0 ensure >out &&
	grep "^running: pid $SERVER_PID, $SERVER_ADDR," out &&
	vibes-iggyctl -d "$D" stop &&
	wait_for 5 process_gone "$SERVER_PID"
'

test_expect_success 'connect: --server > VIBES_IGGY_ADDR > server.addr' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	addr=$(cat "$D/server.addr") &&
	vibes-test-tool -d "$D" connect | grep "^connected $addr as iggy$" &&
	test_must_fail 69 env VIBES_IGGY_ADDR=127.0.0.1:1 \
		vibes-test-tool -d "$D" connect 2>err &&
	grep "cannot connect to 127.0.0.1:1" err &&
	VIBES_IGGY_ADDR=127.0.0.1:1 vibes-test-tool -d "$D" --server "$addr" connect &&
	test_must_fail 77 env VIBES_IGGY_ADDR="$addr" \
		vibes-test-tool -d "$TRASH/empty" connect 2>err &&
	grep "login as .iggy. refused" err
'

test_expect_success 'connect: credentials from options, URL, environment, file' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 start &&
	addr=$(cat "$D/server.addr") &&
	pass=$(sed -n "s/^password=//p" "$D/credentials") &&
	test_must_fail 77 vibes-test-tool -d "$D" --password wrong connect 2>err &&
	grep "login as .iggy. refused" err &&
	test_must_fail 77 env VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=wrong \
		vibes-test-tool -d "$D" connect &&
	VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=wrong \
		vibes-test-tool -d "$D" --password "$pass" connect &&
	vibes-test-tool -d "$TRASH/empty" --server "iggy://iggy:$pass@$addr" connect &&
	test_must_fail 77 vibes-test-tool -d "$TRASH/empty" \
		--server "iggy://iggy:wrong@$addr" connect &&
	test_must_fail 77 vibes-test-tool -d "$TRASH/empty" --server "$addr" connect 2>err &&
	grep "login as .iggy. refused" err
'

test_expect_success 'connect: no autostart when asked not to, or for a named server' '
	test_must_fail 69 env VIBES_IGGY_AUTOSTART=0 \
		vibes-test-tool -d "$D" connect 2>err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	test_must_fail 69 env VIBES_IGGY_AUTOSTART=1 \
		vibes-test-tool -d "$D" --server 127.0.0.1:1 connect &&
	test_must_fail 3 vibes-iggyctl -d "$D" status &&
	test_must_fail 69 vibes-test-tool -d "$D" --no-autostart connect &&
	test_must_fail 3 vibes-iggyctl -d "$D" status
'

test_done
