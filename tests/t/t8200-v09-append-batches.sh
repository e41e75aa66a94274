#!/bin/bash
test_description='Iggy 0.9: vibes-append, which may have one request in flight (lock-step), keeps filling a batch while an answer is owed (up to 1 MiB per partition), so lines that come while the server is slow go out in one frame per partition, not one round trip per 1000 lines and partition; none is lost or doubled'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0 VIBES_IGGY_PROTOCOL=0.9
export XDG_CACHE_HOME="$TRASH/cache"

# Whether bytes wait unread in an established connection to local port
# $1 (/proc/net/tcp: the rx_queue of the server's end).
rx_pending() {
	local hex sl local remote st queues rest
	hex=$(printf '%04X' "$1")
	while read -r sl local remote st queues rest; do
		[ "$st" = 01 ] && [ "${local##*:}" = "$hex" ] &&
			[ $((16#${queues#*:})) -gt 0 ] && return 0
	done </proc/net/tcp
	return 1
}

# Waits (10 s at most) until `$@` succeeds.
wait_until() {
	local i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -ge 200 ] && return 1
		sleep 0.05
	done
}

stored() {
	[ "$(vibes-poll -t b -c "probe$RANDOM" --until end 2>/dev/null |
		wc -l)" -ge "$1" ]
}

# Whether process $1 read file $2 to its end and sleeps (in poll: every
# line it read is in a round).
read_all() {
	local fd size
	size=$(stat -c %s "$2")
	for fd in /proc/$1/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] || continue
		grep -q "^pos:[[:space:]]*$size\$" "/proc/$1/fdinfo/${fd##*/}" ||
			return 1
		[ "$(sed "s/.*) \([A-Z]\) .*/\1/" "/proc/$1/stat")" = S ]
		return
	done
	return 1
}

test_expect_success 'lines read while the server answers nothing go out as one batch per partition' '
	start_server &&
	port=${SERVER_ADDR##*:} &&
	awk "BEGIN { for (i = 2; i < 20002; i++)
		printf \"{\\\"session_id\\\":\\\"s%d\\\",\\\"pad\\\":\\\"%070d\\\",\\\"n\\\":%d}\\n\", i % 97, 0, i }" >flood &&
	test "$(wc -c <flood)" -gt 2097152 &&
	mkfifo in &&
	exec 4<>in &&
	# over TCP (not the data dir'\''s local socket): rx_pending sees its queue
	{ VIBES_IGGY_ADDR=$SERVER_ADDR vibes-append -t b --no-progress in "$TRASH/flood" >out 2>err 4>&- & } &&
	apid=$! &&
	echo "{\"session_id\":\"s0\",\"n\":0}" >&4 &&
	wait_until stored 1 &&
	kill -STOP "$SERVER_PID" &&
	test_when_finished "kill -CONT $SERVER_PID" &&
	echo "{\"session_id\":\"s1\",\"n\":1}" >&4 &&
	wait_until rx_pending "$port" &&
	exec 4>&- &&
	wait_until read_all "$apid" "$TRASH/flood" &&
	kill -CONT "$SERVER_PID" &&
	wait "$apid" &&
	vibes-poll -t b -c all --until end --format json >got &&
	test "$(wc -l <got)" = 20002 &&
	sed -n "s/.*\"n\":\([0-9]*\)}}*$/\1/p" got | sort -n | uniq >ns &&
	seq 0 20001 >want &&
	test_cmp want ns &&
	# the flood (n >= 2, over 2 MiB): batches are runs of one partition
	# and one server timestamp; rounds of 1000 lines would make 20 x 8
	# of them, rounds cut at 1 MiB 3 x 8
	grep -v "\"n\":[01]}" got |
		sed -n "s/^{\"partition\":\([0-9]*\),\"offset\":[0-9]*,\"timestamp\":\([0-9]*\),.*/\1 \2/p" |
		sort -u >batches &&
	say "$(wc -l <batches) batches for 20000 lines over 8 partitions" &&
	test "$(wc -l <batches)" = 8
'

test_done
