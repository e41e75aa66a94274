#!/bin/bash
# vibes-iggyd under hostile load (issue 11): a flood of wrong passwords,
# failed-login limits and their log.  The figures the issue asks for are
# printed as TAP comments (# ...): see them in meson-logs/testlog.txt.
test_description='vibes-iggyd: login floods, failed-login limits'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-hostile.sh"

login_lines() {
	grep -c "vibes-iggyd: login: " "$1"
}

# The issue's figure: 10,000 wrong passwords, every one checked (no limit
# on failures, so none is refused or delayed), on 4 connections, while
# another client pings every 2 ms: pings within 50 ms (in a release build;
# the sanitizers' slowdown multiplies it by TEST_TIME_FACTOR).  This shared
# 2-core machine deschedules a process for 100-200 ms now and then (p99
# 3-4 ms, one ping of ~17,000 at 150 ms, under load): the tool fails the
# test when more than one ping in a thousand is late, or one is ten times
# late.  Hashing on the loop, as before the login worker, delayed every
# ping behind it (4.6 s).
test_expect_success "a flood of 10,000 wrong passwords: another client pings within $((50 * TEST_TIME_FACTOR)) ms" '
	start_server "$TRASH/flood" --login-failures 0 &&
	test_when_finished "stop_server $SERVER_PID" &&
	{ hostile flood -b $((50 * TEST_TIME_FACTOR)) -c 4 -t 500 "$SERVER_ADDR" iggy 10000 >flood.out; rc=$?; } &&
	cat flood.out &&
	{ cat flood.out; echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"; } >"$TRASH/fig.flood" &&
	test $rc = 0 &&
	grep -q "^flood: 10000 wrong logins answered (10000 status 42" flood.out
'
figures fig.flood

test_expect_success 'the 5th failure on a connection closes it; then each attempt from the address waits 100 ms, doubling' '
	start_server "$TRASH/limits" &&
	test_when_finished "stop_server $SERVER_PID" &&
	pw=$(sed -n "s/^password=//p" "$TRASH/limits/credentials") &&
	hostile login -n 6 "$SERVER_ADDR" iggy >one &&
	cat one &&
	test "$(grep -c "status 42 after" one)" = 5 &&
	grep -q "^login 6: closed by the server" one &&
	# Failures 6, 7 and 8 from the address wait 100, 200, 400 ms after
	# the one before, the right password 800 ms (the first is sent
	# after a process start, which some of its wait may have passed).
	# The wait runs from the server noting the failure before, the time
	# here from sending the next one: the answer travelling back and this
	# process being scheduled (a few ms on a busy machine) fall between.
	hostile login -n 4 -l "$pw" "$SERVER_ADDR" iggy >two &&
	cat two &&
	test "$(grep -c "status 42 after" two)" = 3 &&
	grep -q "^login 4: status 0 after" two &&
	awk "/^login [234]:/ { n++; ms = \$6 + 0; want = 100 * 2 ^ n;
		if (ms < want - 25) { print \"too soon: \" \$0; bad = 1 } }
		END { exit bad || n != 3 }" two &&
	# The success reset the count: a failure now is answered at once.
	hostile login -n 1 "$SERVER_ADDR" iggy >three &&
	cat three &&
	awk "/^login 1: status 42/ { exit !(\$6 + 0 < 100) }" three &&
	grep "login: wrong password for .iggy. from 127.0.0.1:" \
		"$TRASH/limits/server.log" | head -n 1 >line &&
	grep -q "(1 in a row from 127.0.0.1, 1 on the connection)" line
'

# The delay of a client that never stops: 200 failures on 20
# connections at once; pings stay fast, the log gets a line now and a
# count of the rest 10 s later, not 200 lines.
test_expect_success 'a flood under the limits: slowed down, pings fast, failures logged once per 10 s with a count' '
	start_server "$TRASH/slow" --login-delay-max 400 &&
	test_when_finished "stop_server $SERVER_PID" &&
	{ hostile flood -b $((50 * TEST_TIME_FACTOR)) -c 20 -t 120 "$SERVER_ADDR" iggy 200 >slow.out; rc=$?; } &&
	cat slow.out &&
	cp slow.out "$TRASH/fig.slow" &&
	test $rc = 0 &&
	grep -q "^flood: 200 wrong logins answered" slow.out &&
	# 20 connections: each is closed after its 5th failure.
	closed=$(sed -n "s/.*; \([0-9]*\) closed by the server/\1/p" slow.out) &&
	test "$closed" -ge 20 &&
	secs=$(sed -n "s/.* in \([0-9.]*\) s .*/\1/p" slow.out) &&
	awk "BEGIN { exit !($secs >= 1.5) }" &&
	wait_log "$TRASH/slow/server.log" "more failed logins from 127.0.0.1 not logged" 25 &&
	grep "vibes-iggyd: login: " "$TRASH/slow/server.log" &&
	test "$(login_lines "$TRASH/slow/server.log")" -le 4 &&
	echo "log: $(login_lines "$TRASH/slow/server.log") login lines for 200 failures" >>"$TRASH/fig.slow"
'
figures fig.slow

test_done
