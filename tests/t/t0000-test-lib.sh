#!/bin/bash
test_description='the test library itself: cleanups, failures, server cleanup'
. "$VIBES_SOURCE_DIR/tests/t/test-lib.sh"

test_expect_success 'test_when_finished runs after the body' '
	test_when_finished "touch \"$TRASH/cleaned\"" &&
	test ! -e "$TRASH/cleaned"
'

test_expect_success 'the cleanup of the previous test ran' '
	test -e "$TRASH/cleaned"
'

test_expect_success 'the cleanup sees what the body set (stop_server needs SERVER_PID)' '
	made=$TRASH/made-in-body &&
	test_when_finished "touch \"\$made\"" &&
	test_when_finished "false" &&
	true
'

test_expect_success 'so it ran with the value, and a failing cleanup fails nothing' '
	test -e "$TRASH/made-in-body"
'

test_expect_success 'test_must_fail checks the exit code' '
	test_must_fail false &&
	test_must_fail 3 sh -c "exit 3" &&
	! test_must_fail true 2>/dev/null &&
	! test_must_fail 4 sh -c "exit 3" 2>/dev/null &&
	! test_must_fail sh -c "kill -9 \$\$" 2>/dev/null
'

test_expect_success 'spawn_ready reads the ready line, fails fast on early death' '
	spawn_ready log sh -c "echo ready here >&3; exec sleep 30" &&
	test "$READY_LINE" = "ready here" &&
	kill "$SPAWN_PID" &&
	start=$(date +%s) &&
	test_must_fail spawn_ready log sh -c "echo dying; exit 3" 2>err &&
	test $(( $(date +%s) - start )) -lt 5 &&
	grep -q "no readiness" err &&
	grep -q dying err
'

# A child script that fails one test and starts a server inside a test body:
# its TAP must report the failure and its test_done must stop the server.
test_expect_success 'a child script reports failures and stops its servers' '
	cat >child.sh <<-\EOS &&
	. "$VIBES_SOURCE_DIR/tests/t/test-lib.sh"
	test_expect_success "passes" "true"
	test_expect_success "fails" "echo why-it-failed; false"
	test_expect_success "server" "start_server \"\$TRASH/d\" && echo \$SERVER_PID >\"$PWD/child.pid\""
	test_done
	EOS
	test_must_fail 1 bash child.sh >child.tap 2>child.err &&
	grep -q "^ok 1 - passes" child.tap &&
	grep -q "^not ok 2 - fails" child.tap &&
	grep -q "^#   why-it-failed" child.tap &&
	grep -q "^child: not ok 2 - fails" child.err &&
	grep -q "^#   why-it-failed" child.err &&
	grep -q "^ok 3 - server" child.tap &&
	grep -q "^1\.\.3" child.tap &&
	pid=$(cat child.pid) &&
	i=0 && while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done &&
	! kill -0 "$pid" 2>/dev/null
'

test_done
