#!/bin/bash
# vibes-iggyd at each of its resource limits (issue 11): what the client
# sees, what the log says; out of file descriptors (ulimit -n), how fast
# the log grows.  Measured figures are printed as TAP comments (# ...).
test_description='vibes-iggyd: connection, input, output and descriptor limits'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-hostile.sh"

# A helper client driven line by line (hostile hold or partial), as a
# coprocess: ask LINE, and its answer is read within 20 s into REPLY.
ask() {
	local in=$1 out=$2
	shift 2
	echo "$*" >&"$in" &&
	read -r -t 20 REPLY <&"$out" &&
	echo "> $* -> $REPLY"
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

test_expect_success '--max-connections: one more is answered status 8 and closed, logged once' '
	start_server "$TRASH/conns" --max-connections 5 &&
	test_when_finished "stop_server $SERVER_PID" &&
	hostile hold -w 2000 "$SERVER_ADDR" 8 </dev/null >out &&
	cat out &&
	grep -q "^hold: 5 answered, 3 refused (status 8), 0 closed, 0 silent" out &&
	log="$TRASH/conns/server.log" &&
	grep -q "connections: 5 open, the limit (--max-connections): 127.0.0.1:[0-9]* refused$" "$log" &&
	test "$(grep -c "max-connections" "$log")" = 1
'

test_expect_success '--max-unauthenticated: a new connection closes the oldest idle one (status 8)' '
	start_server "$TRASH/unauth" --max-unauthenticated 3 &&
	test_when_finished "stop_server $SERVER_PID" &&
	coproc H { hostile hold -w 2000 "$SERVER_ADDR" 3; } &&
	hin=${H[1]} hout=${H[0]} &&
	test_when_finished "kill ${H_PID:-} 2>/dev/null" &&
	read -r -t 20 line <&$hout &&
	echo "$line" &&
	test "$line" = "hold: 3 answered, 0 refused, 0 closed, 0 silent, 0 not connected" &&
	hostile ping "$SERVER_ADDR" &&
	ask $hin $hout ping &&
	case $REPLY in "ping: 2 of 3 answered,"*) ;; *) false ;; esac &&
	grep -q "connections: 3 not logged in, the limit (--max-unauthenticated): closing the oldest idle one, 127.0.0.1:[0-9]* (.* s old), for 127.0.0.1:" \
		"$TRASH/unauth/server.log" &&
	# Below the limit again: a login goes through.
	pw=$(sed -n "s/^password=//p" "$TRASH/unauth/credentials") &&
	hostile login -n 1 -p "$pw" "$SERVER_ADDR" iggy &&
	ask $hin $hout ping &&
	case $REPLY in "ping: 2 of 2 answered,"*) ;; *) false ;; esac
'

test_expect_success '--max-input-buffer: reading stops at the budget; stuck, the biggest holder is closed; a bigger frame is refused' '
	start_server "$TRASH/input" --max-input-buffer 1048576 &&
	test_when_finished "stop_server $SERVER_PID" &&
	pw=$(sed -n "s/^password=//p" "$TRASH/input/credentials") &&
	# Two clients send 600 KiB of 900 KiB requests: 1.2 MiB in all.
	coproc A { hostile partial -p "$pw" "$SERVER_ADDR" iggy 921600 614400; } &&
	ain=${A[1]} aout=${A[0]} &&
	test_when_finished "kill ${A_PID:-} 2>/dev/null" &&
	read -r -t 20 line <&$aout && echo "A: $line" &&
	test "$line" = "partial: sent 614400 of 921600" &&
	coproc B { hostile partial -p "$pw" "$SERVER_ADDR" iggy 921600 614400; } 2>/dev/null &&
	bin=${B[1]} bout=${B[0]} &&
	test_when_finished "kill ${B_PID:-} 2>/dev/null" &&
	read -r -t 20 line <&$bout && echo "B: $line" &&
	log="$TRASH/input/server.log" &&
	wait_log "$log" "input: 1048576 bytes held across connections, the limit (--max-input-buffer): not reading 127.0.0.1:" 20 &&
	# Neither can complete: after a second, the one holding most goes.
	ask $ain $aout wait 20000 &&
	test "$REPLY" = "answer: status 8" &&
	grep -q "input: 1048576 bytes held, the limit (--max-input-buffer), and nothing processed for 1 s: closing 127.0.0.1:[0-9]*, which holds 614400 bytes" "$log" &&
	# The other is read again and completes: its (empty) batch is answered.
	ask $bin $bout rest &&
	test "$REPLY" = "partial: sent 921600 of 921600" &&
	ask $bin $bout wait 20000 &&
	case $REPLY in "answer: status "*) test "$REPLY" != "answer: status 8" ;; *) false ;; esac &&
	# A request larger than the whole budget is impossible: 3, closed.
	coproc C { hostile partial -p "$pw" "$SERVER_ADDR" iggy 2097152 8; } 2>/dev/null &&
	cin=${C[1]} cout=${C[0]} &&
	test_when_finished "kill ${C_PID:-} 2>/dev/null" &&
	read -r -t 20 line <&$cout && echo "C: $line" &&
	ask $cin $cout wait 20000 &&
	test "$REPLY" = "answer: status 3" &&
	ask $cin $cout wait 20000 &&
	test "$REPLY" = "answer: closed"
'

# Pings written without reading the answers: the server takes what the
# socket buffers hold and its output limit, then stops reading; every
# answer comes once the client reads.
test_expect_success '--max-output: a client that does not read is not read either, and loses nothing' '
	start_server "$TRASH/out1" --max-output 4096 &&
	hostile nodrain "$SERVER_ADDR" >small &&
	stop_server $SERVER_PID &&
	start_server "$TRASH/out2" &&
	hostile nodrain "$SERVER_ADDR" >large &&
	stop_server $SERVER_PID &&
	cat small large &&
	grep -q "^nodrain: all [0-9]* answers read" small &&
	grep -q "^nodrain: all [0-9]* answers read" large &&
	s=$(sed -n "s/.*took [0-9]* pings (\([0-9]*\) bytes).*/\1/p" small) &&
	l=$(sed -n "s/.*took [0-9]* pings (\([0-9]*\) bytes).*/\1/p" large) &&
	# 32 MiB of replies (4 Mi pings) held by the default, 4 KiB by 4096.
	test $((l - s)) -gt $((16 << 20)) &&
	{
		echo "nodrain, --max-output 4096: the server took $s bytes of pings"
		echo "nodrain, default 33554432: the server took $l bytes of pings"
	} >"$TRASH/fig.output"
'
figures fig.output

# The server has 48 descriptors; 50 clients connect.  It serves those it
# could accept, stops accepting without spinning (CPU and log measured over
# 11 s, across one 10 s log interval), and serves the others once
# descriptors are free.
test_expect_success 'out of descriptors (ulimit -n 48): existing clients served, no spin, the log grows slowly, new ones served again' '
	(ulimit -n 48 && start_server "$TRASH/fds" && echo "$SERVER_PID $SERVER_ADDR" >fds.srv) &&
	read -r pid addr <fds.srv &&
	test_when_finished "stop_server $pid" &&
	log="$TRASH/fds/server.log" &&
	coproc H { hostile hold -w 2000 "$addr" 50; } &&
	hin=${H[1]} hout=${H[0]} &&
	test_when_finished "kill ${H_PID:-} 2>/dev/null" &&
	read -r -t 30 line <&$hout && echo "$line" &&
	served=$(echo "$line" | sed -n "s/^hold: \([0-9]*\) answered, 0 refused, 0 closed, \([0-9]*\) silent.*/\1/p") &&
	# Enough that the 50 fit once those go (its own take about 15).
	test -n "$served" && test "$served" -ge 26 && test "$served" -lt 50 &&
	wait_log "$log" "accept: Too many open files ($served connections open): not accepting for 250 ms at a time" 20 &&
	lines0=$(wc -l <"$log") && cpu0=$(cpu_ticks $pid) && t0=$(date +%s.%N) &&
	sleep 11 &&
	lines1=$(wc -l <"$log") && cpu1=$(cpu_ticks $pid) && t1=$(date +%s.%N) &&
	secs=$(echo "$t0 $t1" | awk "{ printf \"%.1f\", \$2 - \$1 }") &&
	rate=$(echo "$lines0 $lines1 $secs" | awk "{ printf \"%.2f\", (\$2 - \$1) / \$3 }") &&
	cpu=$(echo "$cpu0 $cpu1 $secs" | awk "{ printf \"%.1f\", (\$2 - \$1) / \$3 }") &&
	echo "log: $((lines1 - lines0)) lines in $secs s ($rate/s); cpu $cpu%" &&
	sed -n "$((lines0 + 1)),\$p" "$log" &&
	test $((lines1 - lines0)) -le 3 &&
	awk "BEGIN { exit !($cpu < 10) }" &&
	# The clients it has are served at the limit.
	ask $hin $hout ping &&
	case $REPLY in "ping: $served of $served answered,"*) ;; *) false ;; esac &&
	# Descriptors freed: the waiting ones are accepted, a new one too.
	ask $hin $hout close $served &&
	ask $hin $hout wait 5000 &&
	case $REPLY in "wait: $((50 - served)) answered, 0 refused, 0 closed, 0 silent, $served not connected") ;; *) false ;; esac &&
	hostile ping "$addr" &&
	{
		echo "at the descriptor limit (ulimit -n 48, $served clients served, $((50 - served)) waiting):"
		echo "log: $((lines1 - lines0)) lines in $secs s ($rate lines/s), server cpu $cpu%"
	} >"$TRASH/fig.fds"
'
figures fig.fds

test_done
