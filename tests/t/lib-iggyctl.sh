# lib-iggyctl.sh - helpers for the vibes-iggyctl tests (t2xxx), sourced
# after test-lib.sh.

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
export PATH

# The ctl tests choose their ports: 127.0.0.1:0 unless a test runs in its
# own network namespace.  Autostart would pick 8090: keep it off unless a
# test turns it on.
export VIBES_IGGY_AUTOSTART=0

test_skip() {
	test_count=$((test_count + 1))
	printf 'ok %d - %s # skip %s\n' "$test_count" "$1" "$2"
}

# Runs the given test title/body in a private network namespace (so that
# fixed ports such as the default 8090 cannot collide with anything), or
# skips it where namespaces are not available.
have_netns() {
	unshare -n true 2>/dev/null
}
have_mountns() {
	unshare -m true 2>/dev/null
}

# stop_at_end DIR: stop whatever runs on DIR when the test ends.
stop_at_end() {
	test_when_finished "vibes-iggyctl -d '$1' stop --timeout 5 >/dev/null 2>&1"
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$(($1 * 10)) i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge $limit ]; then
			echo "wait_for: '$*' still failing after $((limit / 10)) s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# The pids holding a flock on FILE, from /proc/locks (one per line).
lock_holders() {
	local ino
	ino=$(stat -c %i "$1") || return 1
	awk -v ino="$ino" '$2 == "FLOCK" {
		n = split($6, a, ":"); if (a[n] == ino) print $5 }' /proc/locks |
		sort -u
}

# server_running DIR: the pidfile lock of DIR is held.
server_running() {
	vibes-iggyctl -d "$1" status >/dev/null 2>&1
}

# pid_changed DIR OLD: a server runs with a pid other than OLD.
pid_changed() {
	server_running "$1" &&
	test "$(cat "$1/server.pid")" != "$2"
}

# process_gone PID
process_gone() {
	! kill -0 "$1" 2>/dev/null
}

# hold_port DIR ADDR: runs vibes-iggyd on ADDR (a port holder), sets HOLD_PID.
hold_port() {
	mkdir -p "$1" &&
	spawn_ready "$1/server.log" vibes-iggyd --data-dir "$1" --addr "$2" \
		--ready-fd 3 || return 1
	HOLD_PID=$SPAWN_PID
}

# port_of ADDR: the port of HOST:PORT.
port_of() {
	echo "${1##*:}"
}
