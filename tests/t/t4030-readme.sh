#!/bin/bash
test_description='the README tour and upstream migration run as written'
# The commands are taken from README.md itself, so the README cannot drift
# from the tools.  The tour lets the first tool start the server on the
# default port 8090, so it runs in a private network namespace.
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
README=$VIBES_SOURCE_DIR/README.md

# readme_blocks TITLE: the indented code of the README section TITLE.
readme_blocks() {
	awk -v want="## $1" '
		/^## / { in_sec = ($0 == want); next }
		in_sec && /^    / { print substr($0, 5) }
	' "$README"
}

NETNS=
if ip=$(PATH=$PATH:/usr/sbin:/sbin command -v ip); then
	if unshare -n true 2>/dev/null; then
		NETNS="unshare -n"
	elif unshare -rn true 2>/dev/null; then
		NETNS="unshare -rn"
	fi
fi

test_expect_success 'the README has the tour and the upstream section' '
	readme_blocks "60-second tour" >tour.sh &&
	grep -qx "export PATH=\$PWD/build/cmd:\$PATH" tour.sh &&
	grep -q "vibes-iggyctl restart" tour.sh &&
	grep -q "vibes-seek -c audit --to beginning" tour.sh &&
	readme_blocks "Moving to an upstream Iggy server" >upstream.sh &&
	grep -q "iggy.example.net:8090" upstream.sh &&
	grep -q "^export VIBES_IGGY_AUTOSTART=0$" upstream.sh
'

# The quick start's first command: the part after the build is the main
# job (pipe JSON lines in, poll them out); run it as written with this
# build's binaries, in a fresh data dir.
test_expect_success 'the quick start builds and runs the main job as written' '
	awk "/^## Quick start/ { q = 1; next } /^## / { q = 0 }
	     q && /^    / { print substr(\$0, 5) }" "$README" >quick.sh &&
	test $(wc -l <quick.sh) = 2 &&
	head -n 1 quick.sh >first.sh &&
	grep -q "^S=\$(\[ \"\$(id -u)\" = 0 \] || echo sudo); \$S apt-get update && \$S apt-get install -y " first.sh &&
	# the sudo prefix: none as root, sudo for anyone else
	S=$(eval "$(sed "s/; .*//" first.sh)" && echo "x$S") &&
	if [ "$(id -u)" = 0 ]; then test "$S" = x; else test "$S" = xsudo; fi &&
	grep -q " && meson setup build && ninja -C build && " first.sh &&
	sed -n 2p quick.sh | grep -qx "meson test -C build --print-errorlogs" &&
	sed -e "s/.* && ninja -C build && //" \
	    -e "s#build/cmd/#$VIBES_BUILD_DIR/cmd/#g" first.sh >job.sh &&
	! grep -q "apt-get\|meson" job.sh &&
	cat >runjob.sh <<-EOF &&
	export VIBES_IGGY_DATA_DIR="$TRASH/quick"
	bash ./job.sh >job.out
	rc=\$?
	vibes-iggyctl stop >/dev/null
	exit \$rc
	EOF
	if [ -n "$NETNS" ]; then
		$NETNS bash -c "$ip link set lo up && bash ./runjob.sh"
	else
		bash ./runjob.sh
	fi &&
	printf "%s\n" "{\"session_id\":\"demo\",\"n\":1}" \
		"{\"session_id\":\"demo\",\"n\":2}" >want &&
	test_cmp want job.out
'

if [ -n "$NETNS" ]; then
	# The tour with the tools of this build; then an "upstream" server
	# (another vibes-iggyd with the credentials the README uses) on a
	# kernel-chosen port stands in for iggy.example.net:8090.
	test_expect_success 'the 60-second tour and the migration to an upstream server' '
		sed "s#^export PATH=\$PWD/build/cmd:#export PATH=$VIBES_BUILD_DIR/cmd:#" \
			tour.sh >tour.run &&
		cat >run.sh <<-EOF &&
		set -e
		export TMPDIR="$TRASH"
		# the tour, as written (its mktemp -d lands in \$TMPDIR)
		. ./tour.run >tour.out
		echo "\$VIBES_IGGY_DATA_DIR" >tour.datadir
		# the upstream stand-in
		IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD=secret \
			vibes-iggyctl -d "$TRASH/upstream" --port 0 start >/dev/null
		up=\$(cat "$TRASH/upstream/server.addr")
		sed "s/iggy.example.net:8090/\$up/g" upstream.sh >upstream.run
		(. ./upstream.run) >upstream.out
		VIBES_IGGY_ADDR=\$up VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=secret \
			VIBES_IGGY_AUTOSTART=0 vibes-poll -c check >upstream.events
		vibes-iggyctl stop >/dev/null
		vibes-iggyctl -d "$TRASH/upstream" stop >/dev/null
		EOF
		$NETNS bash -c "$ip link set lo up && bash ./run.sh" &&
		grep "^{" tour.out >events &&
		test $(wc -l <events) = 12 &&
		grep -c "\"n\":6" events >n6 && test $(cat n6) = 2 &&
		grep -E "^total +3$" tour.out &&
		# the streams over HTTP, with curl -K <(vibes-iggyctl http ...)
		grep -x vibes tour.out &&
		grep -E "^total +6$" tour.out &&
		test "$(tail -n 2 tour.out | head -n 1)" = 6 &&
		tail -n 1 tour.out | grep "^stopped: data dir " &&
		sort upstream.events >got &&
		{
			for i in 1 2 3 4 5; do
				printf "{\"session_id\":\"s%d\",\"n\":%d}\n" $((i % 2)) $i
			done
			echo "{\"session_id\":\"s1\",\"n\":6}"
		} | sort >want &&
		test_cmp want got &&
		grep -E "^total +6$" upstream.out &&
		test_must_fail 3 vibes-iggyctl -d "$(cat tour.datadir)" status &&
		test_must_fail 3 vibes-iggyctl -d "$TRASH/upstream" status
	'
elif [ -n "${CI:-}" ]; then
	test_expect_success 'the 60-second tour' '
		echo "no private network namespace (unshare -n or -rn) in CI"
		false
	'
else
	test_count=$((test_count + 1))
	echo "ok $test_count - the 60-second tour # skip no private network namespace here"
fi

for dir in "$TRASH"/tmp.* "$TRASH/upstream"; do
	[ -d "$dir" ] && vibes-iggyctl -d "$dir" stop --timeout 5 >/dev/null 2>&1
done

test_done
