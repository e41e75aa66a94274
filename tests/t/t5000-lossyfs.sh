#!/bin/bash
test_description='lossyfs: only what was made durable survives a crash, by each POSIX rule'
# Each test mounts lossyfs (tests/tool/lossyfs.c) over a fresh backing dir
# in $TRASH, makes changes through the mount, crashes it through the
# control socket, checks what the mount then serves, unmounts, mounts
# again over the same backing dir and checks the same again: so every
# rule is checked both in lossyfs' memory and in what it left on disk.
# Without FUSE here (no /dev/fuse, no permission, lossyfs not built) the
# script is skipped, and fails when $CI is set.
. "$(dirname "$0")/test-lib.sh"

. "$(dirname "$0")/lib-lossyfs.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

# crash_check NAME CHECK [CRASH-ARG...]: crashes NAME, runs CHECK (shell
# code) on what the mount serves, remounts and runs CHECK again.
crash_check() {
	local n=$1 check=$2
	shift 2
	lfs "$n" crash "$@" >"$TRASH/$n.crash" &&
	eval "$check" &&
	lfs_remount "$n" &&
	eval "$check"
}

# durable FILE CONTENT: FILE holds CONTENT, data and entry synced.
durable() {
	printf '%s' "$2" >"$1" && sync "$1" "$(dirname "$1")"
}

# durable_dir DIR: a directory whose entry is synced.
durable_dir() {
	mkdir "$1" && sync "$1" "$(dirname "$1")"
}

content_is() {
	printf '%s' "$2" >"$TRASH/.expect" &&
	cat "$1" >"$TRASH/.actual" &&
	test_cmp "$TRASH/.expect" "$TRASH/.actual"
}

lfs_usable

# ------------------------------------------------------------------

test_expect_success 'usage: --help on stdout, exit 0; a usage error exits 2' '
	"$LOSSYFS" --help >out &&
	grep -q "^usage: lossyfs " out &&
	grep -q "crash \[MODE\] \[seed=N\]" out &&
	test_must_fail 2 "$LOSSYFS" only-one-arg 2>err &&
	grep -q "^usage: lossyfs " err &&
	test_must_fail 2 "$LOSSYFS" --crash-mode sideways b m 2>err &&
	grep -q "unknown mode .sideways." err &&
	test_must_fail 2 "$LOSSYFS" --seed x b m
'

test_expect_success 'an empty backing dir mounts empty; it is locked while mounted; a foreign one is refused' '
	lfs_mount e &&
	test_when_finished "lfs_cleanup e" &&
	test -z "$(ls -A e)" &&
	mkdir e2 &&
	test_must_fail timeout 20 "$LOSSYFS" "$TRASH/e.b" "$TRASH/e2" 2>err &&
	grep -q "mounted already" err &&
	lfs_umount e &&
	test -s e.b/lossyfs.ns &&
	mkdir foreign.b && echo x >foreign.b/file &&
	test_must_fail timeout 20 "$LOSSYFS" "$TRASH/foreign.b" "$TRASH/e2" \
		2>err &&
	grep -q "neither empty nor made by lossyfs" err &&
	test "$(ls foreign.b)" = file
'

test_expect_success 'reads see unsynced writes; an unsynced write is lost' '
	lfs_mount w &&
	test_when_finished "lfs_cleanup w" &&
	durable w/f old &&
	printf new >>w/f &&
	content_is w/f oldnew &&
	test "$(lfs_field w pending)" = 1 &&
	crash_check w "content_is w/f old" &&
	grep -q "mode=drop" w.crash
'

test_expect_success 'a write made durable by fsync survives' '
	lfs_mount s &&
	test_when_finished "lfs_cleanup s" &&
	durable s/f old &&
	printf new >>s/f &&
	sync s/f &&
	test "$(lfs_field s pending)" = 0 &&
	crash_check s "content_is s/f oldnew"
'

test_expect_success 'fdatasync makes data durable too (sync -d, dd conv=fdatasync)' '
	lfs_mount ds &&
	test_when_finished "lfs_cleanup ds" &&
	durable ds/f old &&
	durable ds/g "" &&
	printf new >>ds/f &&
	sync -d ds/f &&
	printf 12345 | dd of=ds/g conv=fdatasync status=none &&
	printf lost >>ds/f &&
	crash_check ds "content_is ds/f oldnew && content_is ds/g 12345"
'

test_expect_success 'an fsync through another handle makes the inode durable' '
	lfs_mount h &&
	test_when_finished "lfs_cleanup h" &&
	durable h/f old &&
	exec 5>>h/f &&
	printf x >&5 &&
	sync h/f &&
	printf y >&5 &&
	exec 5>&- &&
	crash_check h "content_is h/f oldx"
'

test_expect_success 'a truncate (shrinking or growing) is lost unless synced' '
	lfs_mount tr &&
	test_when_finished "lfs_cleanup tr" &&
	durable tr/f 0123456789 &&
	durable tr/g abc &&
	durable tr/k 0123456789 &&
	truncate -s 4 tr/f &&
	truncate -s 6 tr/g &&
	truncate -s 2 tr/k &&
	sync tr/k &&
	test "$(stat -c %s tr/f)" = 4 &&
	test "$(stat -c %s tr/g)" = 6 &&
	crash_check tr "content_is tr/f 0123456789 && content_is tr/g abc &&
		content_is tr/k 01"
'

test_expect_success 'O_TRUNC is a size change like ftruncate: lost unless synced' '
	lfs_mount ot &&
	test_when_finished "lfs_cleanup ot" &&
	durable ot/f old &&
	durable ot/g old &&
	durable ot/k old &&
	printf n >ot/f &&
	: >ot/g &&
	printf n >ot/k && sync ot/k &&
	crash_check ot "content_is ot/f old && content_is ot/g old &&
		content_is ot/k n"
'

test_expect_success 'a new file whose directory was not synced is gone, even with its data synced' '
	lfs_mount c &&
	test_when_finished "lfs_cleanup c" &&
	printf x >c/f &&
	sync c/f &&
	printf y >c/g &&
	crash_check c "! test -e c/f && ! test -e c/g && test -z \"\$(ls -A c)\""
'

test_expect_success 'a durable entry of a file whose data was never synced is an empty file' '
	lfs_mount ce &&
	test_when_finished "lfs_cleanup ce" &&
	printf x >ce/f &&
	sync ce &&
	crash_check ce "test -f ce/f && content_is ce/f \"\""
'

test_expect_success 'a new file with its data and its directory synced survives' '
	lfs_mount cs &&
	test_when_finished "lfs_cleanup cs" &&
	printf x >cs/f &&
	sync cs/f cs &&
	crash_check cs "content_is cs/f x"
'

test_expect_success 'a rename is undone unless its directory was synced' '
	lfs_mount r &&
	test_when_finished "lfs_cleanup r" &&
	durable r/a A &&
	durable r/b B &&
	durable r/c C &&
	mv r/a r/a2 &&
	mv r/b r/c &&
	test "$(ls r)" = "a2
c" &&
	crash_check r "content_is r/a A && content_is r/b B &&
		content_is r/c C && ! test -e r/a2"
'

test_expect_success 'a rename and an fsync of its directory: the new name' '
	lfs_mount rs &&
	test_when_finished "lfs_cleanup rs" &&
	durable rs/a A &&
	durable rs/b B &&
	durable rs/c C &&
	mv rs/a rs/a2 &&
	mv rs/b rs/c &&
	sync rs &&
	crash_check rs "content_is rs/a2 A && content_is rs/c B &&
		! test -e rs/a && ! test -e rs/b"
'

test_expect_success 'RENAME_EXCHANGE: undone unless the directory was synced' '
	test_when_finished "lfs_cleanup ex1; lfs_cleanup ex2" &&
	lfs_mount ex1 &&
	durable ex1/a A && durable ex1/b B &&
	"$FSPROBE" exchange ex1/a ex1/b &&
	content_is ex1/a B &&
	crash_check ex1 "content_is ex1/a A && content_is ex1/b B" &&
	lfs_mount ex2 &&
	durable_dir ex2/d &&
	durable ex2/a A && durable ex2/d/b B &&
	"$FSPROBE" exchange ex2/a ex2/d/b &&
	sync ex2 ex2/d &&
	crash_check ex2 "content_is ex2/a B && content_is ex2/d/b A"
'

test_expect_success 'write a temporary file, rename it over the old, sync the directory only: an empty file' '
	lfs_mount tmp &&
	test_when_finished "lfs_cleanup tmp" &&
	durable tmp/state old &&
	printf new >tmp/state.tmp &&
	mv tmp/state.tmp tmp/state &&
	sync tmp &&
	crash_check tmp "content_is tmp/state \"\" && ! test -e tmp/state.tmp"
'

# A rename from d1 to d2, then an fsync of: $1 (d1, d2 or both).
cross_rename() {
	local n=x$1
	lfs_mount $n &&
	durable_dir $n/d1 &&
	durable_dir $n/d2 &&
	durable $n/d1/f F &&
	mv $n/d1/f $n/d2/g &&
	case $1 in
	d1) sync $n/d1 ;;
	d2) sync $n/d2 ;;
	both) sync $n/d2 $n/d1 ;;
	esac
}

test_expect_success 'a rename between directories needs both synced: one of them is not enough' '
	test_when_finished "lfs_cleanup xd1; lfs_cleanup xd2" &&
	cross_rename d1 &&
	crash_check xd1 "content_is xd1/d1/f F && ! test -e xd1/d2/g" &&
	cross_rename d2 &&
	crash_check xd2 "content_is xd2/d1/f F && ! test -e xd2/d2/g"
'

test_expect_success 'a rename between directories with both synced: the new name only' '
	test_when_finished "lfs_cleanup xboth" &&
	cross_rename both &&
	crash_check xboth "content_is xboth/d2/g F && ! test -e xboth/d1/f"
'

test_expect_success 'an earlier unsynced change of a name is made durable with a later one' '
	lfs_mount j &&
	test_when_finished "lfs_cleanup j" &&
	durable_dir j/d1 &&
	durable_dir j/d2 &&
	durable j/d1/x X &&
	mv j/d1/x j/d2/y &&
	printf N >j/d1/x &&
	sync j/d1/x j/d1 &&
	crash_check j "content_is j/d1/x N && content_is j/d2/y X"
'

test_expect_success 'an unlinked file is back unless its directory was synced' '
	lfs_mount u &&
	test_when_finished "lfs_cleanup u" &&
	durable u/f F &&
	durable u/g G &&
	rm u/f u/g &&
	! test -e u/f &&
	crash_check u "content_is u/f F && content_is u/g G"
'

test_expect_success 'an unlink and an fsync of its directory: gone' '
	lfs_mount us &&
	test_when_finished "lfs_cleanup us" &&
	durable us/f F &&
	rm us/f &&
	sync us &&
	crash_check us "! test -e us/f"
'

test_expect_success 'mkdir: gone unless the parent was synced; then an empty dir until it is synced itself' '
	test_when_finished "lfs_cleanup m1; lfs_cleanup m2; lfs_cleanup m3" &&
	lfs_mount m1 &&
	mkdir m1/d && printf x >m1/d/f && sync m1/d/f m1/d &&
	crash_check m1 "! test -e m1/d" &&
	lfs_mount m2 &&
	mkdir m2/d && printf x >m2/d/f && sync m2/d/f m2 &&
	crash_check m2 "test -d m2/d && test -z \"\$(ls -A m2/d)\"" &&
	lfs_mount m3 &&
	mkdir m3/d && printf x >m3/d/f && sync m3/d/f m3/d m3 &&
	crash_check m3 "content_is m3/d/f x"
'

test_expect_success 'rmdir: the directory is back unless its parent was synced' '
	test_when_finished "lfs_cleanup rd1; lfs_cleanup rd2" &&
	lfs_mount rd1 &&
	durable_dir rd1/d &&
	rmdir rd1/d &&
	crash_check rd1 "test -d rd1/d" &&
	lfs_mount rd2 &&
	durable_dir rd2/d &&
	rmdir rd2/d &&
	sync rd2 &&
	crash_check rd2 "! test -e rd2/d"
'

test_expect_success 'hard links and symlinks are entries like others' '
	test_when_finished "lfs_cleanup l1; lfs_cleanup l2" &&
	lfs_mount l1 &&
	durable l1/f F &&
	ln l1/f l1/hard && ln -s f l1/soft &&
	test "$(stat -c %h l1/f)" = 2 &&
	crash_check l1 "! test -e l1/hard && ! test -L l1/soft &&
		test \"\$(stat -c %h l1/f)\" = 1" &&
	lfs_mount l2 &&
	durable l2/f F &&
	ln l2/f l2/hard && ln -s f l2/soft &&
	sync l2 &&
	crash_check l2 "content_is l2/hard F &&
		test \"\$(readlink l2/soft)\" = f && content_is l2/soft F"
'

test_expect_success 'chmod is durable on fsync of the file' '
	lfs_mount ch &&
	test_when_finished "lfs_cleanup ch" &&
	durable ch/f F &&
	durable ch/g G &&
	chmod 600 ch/f && sync ch/f &&
	chmod 640 ch/f ch/g &&
	sync ch/g &&
	crash_check ch "test \$(stat -c %a ch/f) = 600 &&
		test \$(stat -c %a ch/g) = 640"
'

test_expect_success 'fallocate that grows a file is a size change: lost unless synced' '
	lfs_mount fa &&
	test_when_finished "lfs_cleanup fa" &&
	durable fa/f F &&
	durable fa/g G &&
	"$FSPROBE" fallocate fa/f 0 4096 &&
	"$FSPROBE" fallocate fa/g 0 8192 &&
	test "$(stat -c %s fa/f)" = 4096 &&
	sync fa/g &&
	crash_check fa "test \$(stat -c %s fa/f) = 1 &&
		test \$(stat -c %s fa/g) = 8192"
'

# tear_run NAME SEED: two durable 2000-byte files of "a", then, unsynced,
# 1000 bytes of "b" at 0 and then 1000 digits at 500 in each; crashes in
# tear mode with SEED.
seq 1000 | tr -d "\n" | head -c 1000 >"$TRASH/digits"
tear_run() {
	lfs_mount $1 &&
	printf "%02000d" 0 | tr 0 a >$1/p && cp $1/p $1/q &&
	sync $1/p $1/q $1 &&
	for f in p q; do
		printf "%01000d" 0 | tr 0 b |
			dd of=$1/$f bs=1000 count=1 conv=notrunc status=none &&
		dd if="$TRASH/digits" of=$1/$f bs=1000 count=1 seek=500 \
			oflag=seek_bytes conv=notrunc status=none || return 1
	done &&
	test "$(lfs_field $1 pending)" = 4 &&
	lfs $1 crash tear seed=$2 >$1.crash &&
	grep -q "torn=2" $1.crash
}

# torn_ok FILE: 500 "a", a prefix of the digits, "a" up to 2000 bytes.
torn_ok() {
	local k
	k=$(tr -d a <"$1" | wc -c) &&
	{
		printf "%0500d" 0 | tr 0 a &&
		head -c $k "$TRASH/digits" &&
		printf "%0$((1500 - k))d" 0 | tr 0 a
	} >"$TRASH/.torn" &&
	cmp "$TRASH/.torn" "$1" &&
	echo "$1: kept $k of 1000 bytes"
}

test_expect_success 'tear: of each file only a prefix of its last unsynced write survives' '
	test_when_finished "lfs_cleanup t7" &&
	tear_run t7 7 &&
	torn_ok t7/p && torn_ok t7/q &&
	cp t7/p t7-p.first && cp t7/q t7-q.first &&
	lfs_remount t7 &&
	cmp t7-p.first t7/p && cmp t7-q.first t7/q &&
	! cmp -s t7/p t7/q
'

test_expect_success 'tear: the same seed tears the same; another seed tears elsewhere' '
	test_when_finished "lfs_cleanup t7b; lfs_cleanup t8" &&
	tear_run t7b 7 &&
	cmp t7-p.first t7b/p && cmp t7-q.first t7b/q &&
	tear_run t8 8 &&
	torn_ok t8/p && torn_ok t8/q &&
	! cmp -s t7-p.first t8/p
'

# prefix_run NAME SEED: durable empty files a and b; then unsynced, in
# this order: "1," appended to a, to b, "2," to a, to b ... up to 10, with
# c created holding "x" (two operations) after round 5: 22 operations.
# Crashes in prefix mode with SEED.
prefix_run() {
	local i
	lfs_mount $1 &&
	: >$1/a && : >$1/b && sync $1/a $1/b $1 &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf "$i," >>$1/a && printf "$i," >>$1/b || return 1
		if [ $i = 5 ]; then printf x >$1/c || return 1; fi
	done &&
	test "$(lfs_field $1 pending)" = 22 &&
	lfs $1 crash prefix seed=$2 >$1.crash &&
	sed -n "s/.* kept=\([0-9]*\) .*/\1/p" $1.crash >$1.kept &&
	test -s $1.kept
}

# prefix_ok NAME: what NAME serves is the first K of those 22 operations.
prefix_ok() {
	local k i op=0 a="" b="" c=none
	k=$(cat $1.kept)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		op=$((op + 1)); [ $op -le $k ] && a="$a$i,"
		op=$((op + 1)); [ $op -le $k ] && b="$b$i,"
		if [ $i = 5 ]; then
			op=$((op + 1)); [ $op -le $k ] && c=""
			op=$((op + 1)); [ $op -le $k ] && c=x
		fi
	done
	content_is $1/a "$a" && content_is $1/b "$b" &&
	if [ "$c" = none ]; then ! test -e $1/c; else content_is $1/c "$c"; fi
}

test_expect_success 'prefix: the first K unsynced changes survive, in their order, files and entries alike' '
	test_when_finished "lfs_cleanup p3" &&
	prefix_run p3 3 &&
	prefix_ok p3 &&
	lfs_remount p3 &&
	prefix_ok p3
'

test_expect_success 'prefix: the same seed keeps the same K; seeds differ' '
	test_when_finished "for s in 3 1 2 4 5; do lfs_cleanup q\$s; done" &&
	prefix_run q3 3 &&
	cmp p3.kept q3.kept &&
	prefix_ok q3 &&
	for s in 1 2 4 5; do
		prefix_run q$s $s && prefix_ok q$s || return 1
	done &&
	test $(cat q1.kept q2.kept q3.kept q4.kept q5.kept | sort -u | wc -l) -gt 1
'

test_expect_success 'SIGUSR1 crashes in the --crash-mode with the --seed' '
	lfs_mount sig --crash-mode prefix --seed 3 &&
	test_when_finished "lfs_cleanup sig" &&
	durable sig/f old &&
	printf new >>sig/f &&
	kill -USR1 "$(cat sig.pid)" &&
	i=0 &&
	while [ "$(lfs_field sig crashed)" != 1 ]; do
		i=$((i + 1)) && [ $i -lt 100 ] && sleep 0.05 || return 1
	done &&
	grep -q "SIGUSR1: crash mode=prefix seed=3 pending=1" sig.log
'

test_expect_success 'after a crash: reads serve what survived, changes fail, a second crash is refused' '
	lfs_mount ac &&
	test_when_finished "exec 6>&-; lfs_cleanup ac" &&
	durable ac/f old &&
	exec 6>>ac/f &&
	printf new >&6 &&
	lfs ac crash >/dev/null &&
	content_is ac/f old &&
	test_must_fail sh -c "printf more >&6" &&
	exec 6>&- &&
	test_must_fail sh -c "printf x >ac/g" &&
	test_must_fail mkdir ac/d &&
	test_must_fail mv ac/f ac/f2 &&
	test_must_fail rm ac/f &&
	test_must_fail sync ac/f &&
	test_must_fail lfs ac crash >out &&
	grep -q "^error crashed already" out &&
	test "$(lfs_field ac crashed)" = 1 &&
	test_must_fail lfs ac launch >out &&
	grep -q "^error unknown command" out
'

test_expect_success 'a file kept open and mapped across a crash reads what survived' '
	lfs_mount pc &&
	test_when_finished "lfs_cleanup pc" &&
	durable pc/f oldold &&
	printf NEW | dd of=pc/f conv=notrunc status=none &&
	"$FSPROBE" hold pc/f "$LOSSYFS" --ctl "$TRASH/pc.ctl" crash >out &&
	printf "before: NEWold\nok crash mode=drop seed=0 pending=1 kept=0 torn=0\npread: oldold\nmmap: oldold\n" >expect &&
	test_cmp expect out
'

test_expect_success 'state counts unsynced changes, list names them; "sync" makes all of them durable' '
	lfs_mount st &&
	test_when_finished "lfs_cleanup st" &&
	printf abc >st/f &&
	mkdir st/d &&
	mv st/f st/d/g &&
	cat >expect <<-\EOF &&
	ok 4
	link /f waits=/
	write /d/g off=0 len=3
	link /d waits=/
	rename /f -> /d/g waits=/,/d/
	EOF
	lfs st list >out &&
	test_cmp expect out &&
	mv st/d/g st/f &&
	test "$(lfs_field st pending)" = 5 &&
	rm st/f &&
	test "$(lfs_field st pending)" = 6 &&
	printf abc >st/f &&
	test "$(lfs_field st pending)" = 8 &&
	lfs st sync >out &&
	grep -q "^ok sync committed=8" out &&
	test "$(lfs_field st pending)" = 0 &&
	crash_check st "content_is st/f abc && test -d st/d"
'

test_expect_success 'counts: names, data and bytes are reported apart' '
	lfs_mount st2 &&
	test_when_finished "lfs_cleanup st2" &&
	printf abc >st2/f &&
	mkdir st2/d &&
	test "$(lfs_field st2 pending)" = 3 &&
	test "$(lfs_field st2 names)" = 2 &&
	test "$(lfs_field st2 data)" = 1 &&
	test "$(lfs_field st2 bytes)" = 3 &&
	test "$(lfs_field st2 committed sync)" = 3 &&
	test "$(lfs_field st2 pending)" = 0
'

test_expect_success 'an unmount without a crash drops what was never synced' '
	lfs_mount um &&
	test_when_finished "lfs_cleanup um" &&
	durable um/f old &&
	printf new >>um/f &&
	printf x >um/g &&
	lfs_remount um &&
	grep -q "unmounted: 3 unsynced changes dropped" um.log &&
	content_is um/f old &&
	! test -e um/g
'

test_expect_success 'through FUSE: sendfile, private mmap, O_DIRECT, copy_file_range, flock' '
	lfs_mount io &&
	test_when_finished "lfs_cleanup io" &&
	seq 100000 >io/f &&
	seq 100000 >expect &&
	"$FSPROBE" sendfile io/f >got && test_cmp expect got &&
	"$FSPROBE" mmap io/f >got && test_cmp expect got &&
	dd if=io/f iflag=direct bs=65536 status=none >got && test_cmp expect got &&
	dd if=expect of=io/g oflag=direct bs=65536 status=none &&
	test_cmp expect io/g &&
	cp io/f io/h && test_cmp expect io/h &&
	flock -n io/f -c "! flock -n io/f true" &&
	flock -n io/f true &&
	crash_check io "! test -e io/f && ! test -e io/g && ! test -e io/h"
'

test_expect_success 'vibes-iggyd runs with its data dir on lossyfs' '
	lfs_mount iggy &&
	test_when_finished "lfs_cleanup iggy" &&
	start_server "$TRASH/iggy/data" --fsync always &&
	vibes-test-tool -d "$TRASH/iggy/data" --no-autostart send s t m1 m2 &&
	vibes-test-tool -d "$TRASH/iggy/data" --no-autostart poll s t >got &&
	printf "m1\nm2\n" >expect &&
	test_cmp expect got &&
	stop_server &&
	test "$(lfs_field iggy crashed)" = 0
'

test_done
