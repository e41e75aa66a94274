#!/bin/bash
test_description='vibes-iggyd on lossyfs: what it acknowledged survives a power loss'
# Regression tests for what tests/stress/power-loss found (issue 16): each
# runs the daemon (or vibes-iggyctl) with its data dir on lossyfs, cuts
# the power at a chosen moment (power_cut: the daemon stopped, lossyfs
# crashed, the daemon killed, the mount back with what survived), starts
# it again and checks what an acknowledgement promised.  Skipped without
# FUSE, failed in CI without it (as t5000).
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-lossyfs.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

lfs_usable

# daemon NAME DIR [OPTION...]: vibes-iggyd on the data dir DIR (on the
# mount NAME, made by the daemon if missing), its log beside the mount so
# that it survives the crashes; DPID its pid.
daemon() {
	local n=$1 dir=$2
	shift 2
	spawn_ready "$TRASH/$n.server.log" vibes-iggyd --data-dir "$dir" \
		--addr 127.0.0.1:0 --ready-fd 3 "$@" &&
	DPID=$SPAWN_PID
}

# wait_for SECONDS CMD...: CMD every 0.05 s until it succeeds.
wait_for() {
	local i=0 limit=$(($1 * 20))
	shift
	until "$@"; do
		i=$((i + 1))
		[ $i -lt $limit ] || { echo "wait_for: $* still failing" >&2; return 1; }
		sleep 0.05
	done
}

# tt DIR ...: vibes-test-tool on the daemon of data dir DIR.
tt() {
	local dir=$1
	shift
	vibes-test-tool -d "$dir" --no-autostart "$@"
}

test_expect_success 'the data dir the daemon makes on its first start survives a power loss' '
	lfs_mount dd &&
	test_when_finished "lfs_cleanup dd" &&
	daemon dd "$TRASH/dd/data" --fsync always &&
	tt dd/data send s t m1 m2 &&
	cp dd/data/credentials creds &&
	power_cut dd $DPID &&
	test -d dd/data &&
	test_cmp creds dd/data/credentials &&
	daemon dd "$TRASH/dd/data" --fsync always &&
	tt dd/data poll s t >got &&
	printf "m1\nm2\n" >expect &&
	test_cmp expect got
'

test_expect_success 'the data dir vibes-iggyctl makes survives a power loss' '
	lfs_mount cd &&
	test_when_finished "vibes-iggyctl -d \"$TRASH/cd/a/data\" stop >/dev/null 2>&1; lfs_cleanup cd" &&
	vibes-iggyctl -d "$TRASH/cd/a/data" --port 0 start >out &&
	cp cd/a/data/credentials creds &&
	vibes-iggyctl -d "$TRASH/cd/a/data" stop &&
	lfs cd crash drop >cd.crash &&
	lfs_remount cd &&
	test_cmp creds cd/a/data/credentials
'

# A power loss while vibes-iggyctl's supervisor and its daemon run: both
# stop at once, and neither's files (credentials, server.addr, server.pid,
# supervise.state) may keep the next start from working or change the
# credentials the clients were given.
test_expect_success 'vibes-iggyctl starts again after a power loss while it ran' '
	lfs_mount cr &&
	test_when_finished "vibes-iggyctl -d \"$TRASH/cr/data\" stop >/dev/null 2>&1; lfs_cleanup cr" &&
	vibes-iggyctl -d "$TRASH/cr/data" --port 0 start >out &&
	cp cr/data/credentials creds &&
	tt cr/data send s t m1 &&
	dpid=$(cat cr/data/server.pid) &&
	spid=$(ps -o ppid= -p "$dpid" | tr -d " ") &&
	test -n "$spid" && test "$spid" != 1 &&
	kill -STOP "$spid" "$dpid" &&
	lfs cr crash tear seed=7 >cr.crash &&
	kill -KILL "$spid" "$dpid" &&
	wait_for 10 sh -c "! kill -0 $dpid 2>/dev/null && ! kill -0 $spid 2>/dev/null" &&
	lfs_remount cr &&
	test_cmp creds cr/data/credentials &&
	vibes-iggyctl -d "$TRASH/cr/data" --port 0 start >out2 &&
	test_cmp creds cr/data/credentials &&
	test -s cr/data/server.addr &&
	tt cr/data send s t m2 &&
	vibes-iggyctl -d "$TRASH/cr/data" stop
'

# --fsync never promises nothing across a power loss but a start; a clean
# shutdown, though, makes everything durable (vibes-iggyd(8)).  Its
# "clean" file is written with an fsync of the data dir, which made the
# rename of a metadata file whose data was never synced durable: an empty
# metadata file, refused as corrupt (exit 78) at every start after.
test_expect_success '--fsync never: after a clean shutdown and a power loss it starts, with all it had' '
	lfs_mount nv &&
	test_when_finished "lfs_cleanup nv" &&
	daemon nv "$TRASH/nv/data" --fsync never &&
	tt nv/data send s t m1 m2 &&
	kill -TERM $DPID &&
	wait $DPID &&
	lfs nv crash drop >nv.crash &&
	lfs_remount nv &&
	daemon nv "$TRASH/nv/data" --fsync never &&
	tt nv/data poll s t >got &&
	printf "m1\nm2\n" >expect &&
	test_cmp expect got
'

# traced DIR OPTION...: the daemon on DIR (not on lossyfs) with every
# successful fsync and rename it makes written to DIR.trace (inject.so).
traced() {
	local dir=$1
	shift
	mkdir -p "$dir" &&
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	LD_PRELOAD="$VIBES_BUILD_DIR/tests/tool/inject.so" \
	VIBES_TEST_TRACE="$dir.trace" \
		spawn_ready "$dir.server.log" vibes-iggyd --data-dir "$dir" \
			--addr 127.0.0.1:0 --ready-fd 3 "$@" &&
	DPID=$SPAWN_PID
}

# renames_synced TRACE: every file renamed in TRACE was synced after it
# was last renamed (a name may come back: offsets.tmp.PID) and before.
renames_synced() {
	awk '$1 == "sync" { synced[$2] = 1 }
	     $1 == "rename" {
		n++
		if (!($2 in synced)) { print "not synced before its rename: " $0; bad++ }
		delete synced[$2]
	     }
	     END { print n + 0, "renames"; exit bad > 0 || n == 0 }' "$1"
}

# With --fsync MS the offsets file was replaced at once and its directory
# synced by whatever came next (a new segment, the fsync thread's own
# round): the rename could reach the disk before the new file's data, and
# a power loss then left an empty offsets file in place of commits synced
# long before (tests/stress/power-loss, seed 601: every consumer of a
# partition back to nothing).  Now the fsync thread syncs the new file,
# then renames it.
test_expect_success '--fsync MS: a replaced offsets file is synced before its rename' '
	traced "$TRASH/ms" --fsync 50 &&
	test_when_finished "kill $DPID" &&
	vibes-test-tool -d ms --no-autostart send s t m1 m2 m3 &&
	vibes-test-tool -d ms --no-autostart store-offset s t 7 1 &&
	vibes-test-tool -d ms --no-autostart store-offset s t 7 2 &&
	wait_for 20 grep -q "offsets$" ms.trace &&
	test "$(vibes-test-tool -d ms --no-autostart get-offset s t 7)" = 2 &&
	renames_synced ms.trace &&
	grep -q "^rename .*/partitions/0/offsets.new.[0-9]* .*/partitions/0/offsets$" ms.trace
'

test_expect_success '--fsync always: every replaced file is synced before its rename' '
	traced "$TRASH/al" --fsync always &&
	test_when_finished "kill $DPID" &&
	vibes-test-tool -d al --no-autostart send s t m1 &&
	vibes-test-tool -d al --no-autostart store-offset s t 7 0 &&
	renames_synced al.trace &&
	grep -q "^rename .*/metadata.tmp.[0-9]* .*/metadata$" al.trace &&
	grep -q "^rename .*/partitions/0/offsets.tmp.[0-9]* .*/offsets$" al.trace
'

test_expect_success 'a restart removes the offsets files a crash left half written' '
	traced "$TRASH/lo" --fsync 50 &&
	vibes-test-tool -d lo --no-autostart send s t m1 &&
	vibes-test-tool -d lo --no-autostart store-offset s t 7 0 &&
	stop_server $DPID &&
	pd=lo/streams/0/topics/0/partitions/0 &&
	test -s $pd/offsets &&
	: >$pd/offsets.new.12 &&
	: >$pd/offsets.tmp.999 &&
	traced "$TRASH/lo" --fsync 50 &&
	test_when_finished "kill $DPID" &&
	test "$(vibes-test-tool -d lo --no-autostart get-offset s t 7)" = 0 &&
	test "$(ls $pd | grep -c "^offsets")" = 1
'

test_done
