#!/bin/bash
test_description='VIBES_EVENT_BACKEND=memory: one ephemeral server in memory, shared by the user'\''s tools, no fsync'
# A tool starting the memory server by itself tries the default port 8090
# first, and the /dev/shm test mounts a tmpfs of its own there: those run
# in private namespaces.
. "$(dirname "$0")/lib-netns.sh"
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

export XDG_RUNTIME_DIR="$TRASH/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
M=$XDG_RUNTIME_DIR/vibes/memory

# server_args DIR: the command line of the server running on DIR.
server_args() {
	tr "\0" " " <"/proc/$(cat "$1/server.pid")/cmdline"
}

test_expect_success 'vibes-iggyctl: the data dir is $XDG_RUNTIME_DIR/vibes/memory, the server runs with --fsync never' '
	export VIBES_EVENT_BACKEND=memory &&
	stop_at_end "$M" &&
	vibes-iggyctl --port 0 start >out &&
	grep "^started: pid [0-9]*, 127.0.0.1:[0-9]*, data dir $M$" out &&
	test "$(stat -c %a "$M")" = 700 &&
	test "$(stat -c %a "$XDG_RUNTIME_DIR/vibes")" = 700 &&
	server_args "$M" | grep -- " --data-dir $M .* --fsync never $" &&
	tr "\0" " " <"/proc/$(cat "$M/supervise.lock")/cmdline" | grep -- " -- --fsync never $" &&
	vibes-iggyctl status --json | grep "\"state\":\"running\",\"data_dir\":\"$M\"" &&
	# without the variable: the usual data dir
	test_must_fail 3 env -u VIBES_EVENT_BACKEND vibes-iggyctl status >out &&
	grep "^data dir: *$VIBES_IGGY_DATA_DIR$" out &&
	VIBES_EVENT_BACKEND=disk vibes-iggyctl status --json | grep "\"data_dir\":\"$VIBES_IGGY_DATA_DIR\""
'

test_expect_success 'every tool uses it, from separate processes; the environment cannot point them elsewhere' '
	export VIBES_EVENT_BACKEND=memory &&
	stop_at_end "$M" &&
	vibes-iggyctl --port 0 ensure &&
	# set for another server: not used with the memory backend
	export VIBES_IGGY_ADDR=127.0.0.1:1 VIBES_IGGY_DATA_DIR="$TRASH/elsewhere" &&
	export VIBES_IGGY_USERNAME=nobody VIBES_IGGY_PASSWORD=wrong &&
	for i in 1 2 3; do echo "{\"session_id\":\"s$i\",\"n\":$i}"; done | vibes-append &&
	vibes-topic list --json | grep "\"stream\":\"vibes\",\"topic\":\"events\"" &&
	vibes-poll -c m >got &&
	test "$(wc -l <got)" = 3 &&
	vibes-seek -c m --json | grep -c "\"lag\":0," >lag &&
	test "$(cat lag)" = 8 &&
	test ! -e "$TRASH/elsewhere" &&
	# what the command line names still counts
	test_must_fail 69 vibes-poll --server 127.0.0.1:1 -c m 2>err &&
	grep "cannot connect to 127.0.0.1:1" err &&
	test_must_fail 69 vibes-poll --data-dir "$TRASH/elsewhere" -c m 2>err
'

netns_test 'a tool starts the memory server by itself; the next tool finds it' '
	export VIBES_EVENT_BACKEND=memory VIBES_IGGY_AUTOSTART=1 &&
	stop_at_end "$M" &&
	# a fresh one: no server.addr, no server.down
	vibes-iggyctl stop >/dev/null &&
	rm -rf "$M" &&
	echo "{\"n\":1}" | vibes-append -v 2>err &&
	grep "^vibes-append: started the server: pid [0-9]*, 127.0.0.1:8090, data dir $M$" err &&
	server_args "$M" | grep -- " --fsync never $" &&
	vibes-poll -c auto >got &&
	echo "{\"n\":1}" >want &&
	test_cmp want got
'

test_expect_success 'a bad VIBES_EVENT_BACKEND is a usage error; a memory dir whose parent others may write is refused' '
	test_must_fail 2 env VIBES_EVENT_BACKEND=ram vibes-poll -c m 2>err &&
	grep "^vibes-poll: VIBES_EVENT_BACKEND=.ram.: expected memory (an ephemeral server, for tests) or disk$" err &&
	test_must_fail 2 env VIBES_EVENT_BACKEND=ram vibes-iggyctl status 2>err &&
	grep "VIBES_EVENT_BACKEND=.ram.: expected memory" err &&
	export VIBES_EVENT_BACKEND=memory &&
	chmod 777 "$XDG_RUNTIME_DIR/vibes" &&
	test_when_finished "chmod 700 \"$XDG_RUNTIME_DIR/vibes\"" &&
	test_must_fail 77 vibes-iggyctl --port 0 start 2>err &&
	grep "memory data dir $M: its parent is not yours alone (owner uid [0-9]*, mode 0777)" err
'

# /dev/shm/vibes-UID/memory, on a tmpfs of its own (a mount namespace)
# so that nothing of the machine's /dev/shm is touched.
if unshare -rm true 2>/dev/null || unshare -m true 2>/dev/null; then
	test_expect_success 'without XDG_RUNTIME_DIR: /dev/shm/vibes-UID/memory, a tmpfs' '
		ns="unshare -m" &&
		{ unshare -m true 2>/dev/null || ns="unshare -rm"; } &&
		cat >shm.sh <<-EOF &&
		set -e
		mount -t tmpfs tmpfs /dev/shm
		unset XDG_RUNTIME_DIR
		export VIBES_EVENT_BACKEND=memory
		m=/dev/shm/vibes-\$(id -u)/memory
		trap "vibes-iggyctl stop >/dev/null 2>&1" EXIT
		vibes-iggyctl --port 0 start >start.out
		stat -f -c %T "\$m" >fstype
		echo "{\"n\":1}" | vibes-append
		vibes-poll -c shm >got
		EOF
		$ns bash shm.sh &&
		grep "^started: pid [0-9]*, 127.0.0.1:[0-9]*, data dir /dev/shm/vibes-[0-9]*/memory$" start.out &&
		test "$(cat fstype)" = tmpfs &&
		echo "{\"n\":1}" >want &&
		test_cmp want got
	'
else
	test_skip 'without XDG_RUNTIME_DIR: /dev/shm/vibes-UID/memory, a tmpfs' \
		'no private mount namespace here'
fi

test_done
