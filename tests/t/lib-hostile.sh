# lib-hostile.sh - helpers for the tests of vibes-iggyd under hostile load
# (t1020, t1030), sourced after test-lib.sh.

PATH="$VIBES_BUILD_DIR/tests/tool:$PATH"
export PATH

# figures FILE: the lines of $TRASH/FILE as TAP comments (# ...), so the
# measured figures show in meson-logs/testlog.txt.  Called after a test.
figures() {
	[ -s "$TRASH/$1" ] && sed 's/^/# /' "$TRASH/$1"
	return 0
}

# wait_log FILE PATTERN SECONDS: until a line of FILE matches PATTERN.
wait_log() {
	local i=0
	while ! grep -q -- "$2" "$1"; do
		[ $i -lt $(($3 * 20)) ] || {
			echo "no line like '$2' in $1 within $3 s:"
			tail -n 20 "$1"
			return 1
		}
		sleep 0.05
		i=$((i + 1))
	done
}
