#!/bin/bash
test_description='meson install: layout, pkg-config, installed tools end to end'
# Two installs:
#  A. the build under test, `meson install --destdir` into $TRASH/dest:
#     every file where Debian expects it, pkg-config and a program built
#     against the installed library, and the installed tools end to end.
#     The daemon path baked into the tools (prefix/libexecdir/vibes) does
#     not exist under a DESTDIR, so these runs name the installed daemon
#     with VIBES_IGGY_SERVER.
#  B. a separate build configured with --prefix=$TRASH/prefix and installed
#     there for real: the installed tools must find the installed daemon
#     through the baked libexecdir path by themselves.
# Servers listen on kernel-chosen ports; the autostart runs (which try the
# default port 8090 first) run in a private network namespace.
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
SYS_PATH=/usr/local/bin:/usr/bin:/bin
TOOLS="vibes-append vibes-iggyctl vibes-poll vibes-seek vibes-topic"
D=$TRASH/dest

# build_option BUILDDIR NAME: a meson option of a configured build.
build_option() {
	meson introspect "$1" --buildoptions |
		python3 -c 'import json, sys
for o in json.load(sys.stdin):
    if o["name"] == sys.argv[1]:
        v = o["value"]
        print(",".join(v) if isinstance(v, list) else v)' "$2"
}
# abs_dir BUILDDIR NAME: prefix/NAME, or NAME when it is absolute.
abs_dir() {
	local prefix v
	prefix=$(build_option "$1" prefix) && v=$(build_option "$1" "$2") &&
	case $v in
	/*) echo "$v" ;;
	*) echo "$prefix/$v" ;;
	esac
}

# A program using the public headers: logs in, pings and prints the
# message count of the server's stats.
cat >"$TRASH/stats.c" <<'EOF'
#include <stdio.h>

#include <base/vb_exit.h>
#include <client/client.h>

int main(int argc, char **argv)
{
	struct vb_client c;
	struct vb_stats st;
	struct vb_err e;

	if (argc != 4) {
		fputs("usage: stats ADDR USER PASSWORD\n", stderr);
		return VB_EX_USAGE;
	}
	vb_client_init(&c);
	if (vb_client_set_addr(&c, argv[1], &e) || vb_client_connect(&c, &e) ||
	    vb_client_login(&c, argv[2], argv[3], NULL, &e) ||
	    vb_client_ping(&c, &e) || vb_client_get_stats(&c, &st, &e)) {
		fprintf(stderr, "stats: %s\n", e.msg);
		vb_client_release(&c);
		return vb_err_exit(&e);
	}
	printf("%llu\n", (unsigned long long)st.messages_count);
	vb_client_release(&c);
	return VB_EX_OK;
}
EOF

for i in $(seq 1 100); do
	printf '{"session_id":"s%d","n":%d}\n' $((i % 7)) "$i"
done >"$TRASH/events.jsonl"
sort "$TRASH/events.jsonl" >"$TRASH/events.sorted"

# check_layout ROOT BUILDDIR: the installed files of BUILDDIR under ROOT
# (the DESTDIR, or empty) are where Debian expects them.
check_layout() {
	local root=$1 b=$2 bindir libexecdir libdir includedir mandir datadir \
		f t bad=0
	bindir=$root$(abs_dir "$b" bindir) &&
	libexecdir=$root$(abs_dir "$b" libexecdir) &&
	libdir=$root$(abs_dir "$b" libdir) &&
	includedir=$root$(abs_dir "$b" includedir) &&
	mandir=$root$(abs_dir "$b" mandir) &&
	datadir=$root$(abs_dir "$b" datadir) || return 1
	for t in $TOOLS; do
		test -x "$bindir/$t" || { echo "missing $bindir/$t"; bad=1; }
	done
	for t in vibes-iggyd vibes-supervise; do
		test -x "$libexecdir/vibes/$t" ||
			{ echo "missing $libexecdir/vibes/$t"; bad=1; }
		test ! -e "$bindir/$t" ||
			{ echo "$t is in $bindir, not only in libexecdir"; bad=1; }
	done
	for f in man1/vibes-append.1 man1/vibes-poll.1 man1/vibes-seek.1 man1/vibes-topic.1 \
		 man1/vibes-iggyctl.1 man7/vibes.7 man8/vibes-iggyd.8 \
		 man8/vibes-supervise.8; do
		cmp "$VIBES_SOURCE_DIR/man/${f#*/}" "$mandir/$f" ||
			{ echo "missing or different: $mandir/$f"; bad=1; }
	done
	for t in $TOOLS vibes-iggyd; do
		cmp "$VIBES_SOURCE_DIR/completions/bash/$t" \
			"$datadir/bash-completion/completions/$t" &&
		cmp "$VIBES_SOURCE_DIR/completions/zsh/_$t" \
			"$datadir/zsh/vendor-completions/_$t" &&
		cmp "$VIBES_SOURCE_DIR/completions/fish/$t.fish" \
			"$datadir/fish/vendor_completions.d/$t.fish" ||
			{ echo "completion of $t missing or different"; bad=1; }
	done
	test "$(head -c 8 "$libdir/libvibes.a" 2>/dev/null)" = '!<arch>' ||
		{ echo "missing or not an archive: $libdir/libvibes.a"; bad=1; }
	for f in base/buf.h base/err.h base/vb_exit.h wire/wire.h \
		 wire/status.h client/client.h; do
		cmp "$VIBES_SOURCE_DIR/lib/$f" "$includedir/vibes/$f" ||
			{ echo "missing or different: $includedir/vibes/$f"; bad=1; }
	done
	test -f "$libdir/pkgconfig/vibes.pc" ||
		{ echo "missing $libdir/pkgconfig/vibes.pc"; bad=1; }
	return $bad
}

# server_exe DATADIR BINDIR: the executable of the server running on
# DATADIR, as its /proc entry says.
server_exe() {
	local pid
	pid=$("$2/vibes-iggyctl" -d "$1" status --json |
		sed -nE 's/.*"pid":([0-9]+).*/\1/p') &&
	test -n "$pid" &&
	readlink "/proc/$pid/exe"
}

# super_exe DATADIR: the executable of the supervisor of DATADIR.
super_exe() {
	readlink "/proc/$(cat "$1/supervise.lock")/exe"
}

# end_to_end BINDIR DAEMON DATADIR: with the installed tools of BINDIR
# only (no build dir in PATH), start a server on a kernel-chosen port,
# check it is DAEMON under the vibes-supervise installed next to it,
# append, read back with two consumers, check lag and stats, stop.
end_to_end() {
	local bin=$1 daemon=$2 dir=$3 user pass
	PATH=$bin:$SYS_PATH &&
	vibes-iggyctl -d "$dir" --port 0 start >out &&
	grep "^started: pid [0-9]*, 127.0.0.1:[0-9]*, data dir $dir$" out &&
	test "$(server_exe "$dir" "$bin")" = "$daemon" &&
	test "$(super_exe "$dir")" = "${daemon%/*}/vibes-supervise" &&
	vibes-append --data-dir "$dir" <"$TRASH/events.jsonl" &&
	vibes-poll --data-dir "$dir" -c one >got1 &&
	sort got1 | cmp - "$TRASH/events.sorted" &&
	vibes-poll --data-dir "$dir" -c two -n 40 >got2 &&
	test "$(wc -l <got2)" = 40 &&
	vibes-seek --data-dir "$dir" -c one --json >lag1 &&
	test "$(grep -c '"lag":0,' lag1)" = 8 &&
	vibes-seek --data-dir "$dir" -c two >lag2 &&
	grep -E '^total +60$' lag2 &&
	user=$(sed -n 's/^username=//p' "$dir/credentials") &&
	pass=$(sed -n 's/^password=//p' "$dir/credentials") &&
	# 100 events and the registry record of each of the two consumers
	test "$("$TRASH/stats" "$(cat "$dir/server.addr")" "$user" "$pass")" = 102 &&
	vibes-iggyctl -d "$dir" stop | grep "^stopped: data dir $dir$" &&
	test_must_fail 3 vibes-iggyctl -d "$dir" status
}

# in_netns SCRIPT: runs bash -c SCRIPT in a private network namespace
# (as root, or as root of a new user namespace); fails if neither works.
NETNS=
if ip=$(PATH=$PATH:/usr/sbin:/sbin command -v ip); then
	if unshare -n true 2>/dev/null; then
		NETNS="unshare -n"
	elif unshare -rn true 2>/dev/null; then
		NETNS="unshare -rn"
	fi
fi
in_netns() {
	$NETNS bash -c "$ip link set lo up && $1"
}

# autostart BINDIR DAEMON DATADIR: in a private network namespace, the
# installed vibes-append starts DAEMON by itself; poll reads it back.
autostart() {
	local bin=$1 daemon=$2 dir=$3
	in_netns "
		set -e
		export PATH='$bin:$SYS_PATH'
		vibes-append --data-dir '$dir' <'$TRASH/events.jsonl'
		vibes-iggyctl -d '$dir' status --json >status.json
		readlink /proc/\$(sed -nE 's/.*\"pid\":([0-9]+).*/\\1/p' status.json)/exe >server.exe
		readlink /proc/\$(cat '$dir/supervise.lock')/exe >super.exe
		vibes-poll --data-dir '$dir' -c one >got
		vibes-iggyctl -d '$dir' stop
	" &&
	test "$(cat server.exe)" = "$daemon" &&
	test "$(cat super.exe)" = "${daemon%/*}/vibes-supervise" &&
	grep '"address":"127.0.0.1:8090"' status.json &&
	sort got | cmp - "$TRASH/events.sorted" &&
	test_must_fail 3 "$bin/vibes-iggyctl" -d "$dir" status
}

sanitize=$(build_option "$VIBES_BUILD_DIR" b_sanitize)

test_expect_success 'A: meson install --destdir puts every file where Debian expects it' '
	meson install -C "$VIBES_BUILD_DIR" --destdir "$D" --no-rebuild \
		--quiet >install.log 2>&1 ||
		{ cat install.log; false; } &&
	check_layout "$D" "$VIBES_BUILD_DIR" &&
	mandoc -Tlint -Wwarning "$D$(abs_dir "$VIBES_BUILD_DIR" mandir)"/man?/*
'

test_expect_success 'A: pkg-config with PKG_CONFIG_PATH into DESTDIR; a program using <client/client.h> builds' '
	libdir=$(abs_dir "$VIBES_BUILD_DIR" libdir) &&
	includedir=$(abs_dir "$VIBES_BUILD_DIR" includedir) &&
	export PKG_CONFIG_PATH="$D$libdir/pkgconfig" &&
	pkg-config --exists vibes &&
	pkg-config --modversion vibes >version &&
	vibes-append --version | grep -qx "vibes-append $(cat version)" &&
	pkg-config --cflags --libs vibes >flags &&
	grep -q -- "-I$includedir/vibes" flags &&
	grep -q -- "-L$libdir -lvibes" flags &&
	grep -q -- "-lbsd" flags && grep -q -- "-lxxhash" flags &&
	san= &&
	if [ "$sanitize" != none ]; then san="-fsanitize=$sanitize"; fi &&
	export PKG_CONFIG_SYSROOT_DIR="$D" &&
	cc -std=c17 -Wall -Wextra -Werror $san $(pkg-config --cflags vibes) \
		"$TRASH/stats.c" -o "$TRASH/stats" $(pkg-config --libs vibes) &&
	test_must_fail 2 "$TRASH/stats"
'

test_expect_success 'A: the tools look for the daemon in the libexecdir they were configured with' '
	libexecdir=$(abs_dir "$VIBES_BUILD_DIR" libexecdir) &&
	bindir=$(abs_dir "$VIBES_BUILD_DIR" bindir) &&
	for t in $TOOLS; do
		grep -qaF "$libexecdir/vibes" "$D$bindir/$t" ||
			{ echo "$t: $libexecdir/vibes not in the binary"; exit 1; }
	done
'

test_expect_success 'A: installed tools end to end (VIBES_IGGY_SERVER = the installed daemon)' '
	export VIBES_IGGY_SERVER="$D$(abs_dir "$VIBES_BUILD_DIR" libexecdir)/vibes/vibes-iggyd" &&
	end_to_end "$D$(abs_dir "$VIBES_BUILD_DIR" bindir)" "$VIBES_IGGY_SERVER" \
		"$TRASH/data-a"
'

if [ -n "$NETNS" ]; then
	test_expect_success 'A: the installed vibes-append autostarts the installed daemon' '
		export VIBES_IGGY_SERVER="$D$(abs_dir "$VIBES_BUILD_DIR" libexecdir)/vibes/vibes-iggyd" &&
		autostart "$D$(abs_dir "$VIBES_BUILD_DIR" bindir)" \
			"$VIBES_IGGY_SERVER" "$TRASH/data-a-auto"
	'
fi

P=$TRASH/prefix
B=$TRASH/build
# B is the README's Install command itself, with the prefix, the build
# dir and the source dir of this test (and no sudo).
test_expect_success 'B: the README Install command, with --prefix=$TRASH/prefix, installs there' '
	awk "/^## / { in_sec = (\$0 == \"## Install\"); next }
	     in_sec && /^    / { print substr(\$0, 5) }" \
		"$VIBES_SOURCE_DIR/README.md" >install.sh &&
	test "$(cat install.sh)" = "meson setup build --prefix=/usr/local && ninja -C build && \$S meson install -C build" &&
	sed -e "s#meson setup build --prefix=/usr/local#meson setup $B $VIBES_SOURCE_DIR --prefix=$P -Dtests=false#" \
	    -e "s#-C build#-C $B#g" -e "s#\$S ##" install.sh >install.run &&
	bash install.run >install.log 2>&1 || { tail -n 40 install.log; false; } &&
	check_layout "" "$B" &&
	test "$(abs_dir "$B" libexecdir)" = "$P/libexec" &&
	test "$(abs_dir "$B" bindir)" = "$P/bin" &&
	test "$(abs_dir "$B" mandir)" = "$P/share/man" &&
	test -x "$P/libexec/vibes/vibes-iggyd" &&
	test -x "$P/libexec/vibes/vibes-supervise" &&
	test -f "$P/share/bash-completion/completions/vibes-poll" &&
	test -f "$P/share/zsh/vendor-completions/_vibes-poll" &&
	test -f "$P/share/fish/vendor_completions.d/vibes-poll.fish"
'

test_expect_success 'B: pkg-config and a program using the installed library, no sysroot' '
	export PKG_CONFIG_PATH="$(abs_dir "$B" libdir)/pkgconfig" &&
	cc -std=c17 -Wall -Wextra -Werror $(pkg-config --cflags vibes) \
		"$TRASH/stats.c" -o "$TRASH/stats" $(pkg-config --libs vibes) &&
	test_must_fail 2 "$TRASH/stats"
'

test_expect_success 'B: installed tools find the installed daemon by themselves, end to end' '
	unset VIBES_IGGY_SERVER &&
	end_to_end "$P/bin" "$P/libexec/vibes/vibes-iggyd" "$TRASH/data-b"
'

if [ -n "$NETNS" ]; then
	test_expect_success 'B: the installed vibes-append autostarts the installed daemon by itself' '
		unset VIBES_IGGY_SERVER &&
		autostart "$P/bin" "$P/libexec/vibes/vibes-iggyd" "$TRASH/data-b-auto"
	'
elif [ -n "${CI:-}" ]; then
	test_expect_success 'autostart of the installed daemon' '
		echo "no private network namespace (unshare -n or -rn) in CI"
		false
	'
else
	test_count=$((test_count + 1))
	echo "ok $test_count - autostart of the installed daemon # skip no private network namespace here"
fi

# Whatever a failed test left running.
for dir in "$TRASH"/data-*; do
	[ -d "$dir" ] && vibes-iggyctl -d "$dir" stop --timeout 5 >/dev/null 2>&1
done

test_done
