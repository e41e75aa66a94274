#!/bin/bash
test_description='vibes-iggyctl: data dir not ours, not writable, read-only, full'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D="$TRASH/d"
NOBODY=65534

# as_nobody CMD...: runs CMD as uid/gid 65534 (only possible as root).
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		env HOME=/nonexistent "$@"
}
can_switch_user() {
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null
}

test_expect_success 'a data dir path through a file: exit 74, path named' '
	: >"$TRASH/afile" &&
	test_must_fail 74 vibes-iggyctl -d "$TRASH/afile/sub" --port 0 start 2>err &&
	grep "$TRASH/afile: not a directory" err
'

if can_switch_user; then
	test_expect_success 'a data dir owned by another user: exit 77, path named' '
		mkdir -p "$TRASH/foreign" &&
		chown $NOBODY:$NOBODY "$TRASH/foreign" &&
		test_must_fail 77 vibes-iggyctl -d "$TRASH/foreign" --port 0 start 2>err &&
		grep "^vibes-iggyctl: data dir $TRASH/foreign is owned by .* (uid $NOBODY), not by you (uid 0)$" err &&
		test_must_fail 77 vibes-iggyctl -d "$TRASH/foreign" --port 0 ensure &&
		test ! -e "$TRASH/foreign/server.log"
	'

	test_expect_success 'a data dir that is not writable: exit 77, path named' '
		chmod 755 "$TRASH" &&
		mkdir -p "$TRASH/ro" &&
		chown $NOBODY:$NOBODY "$TRASH/ro" &&
		chmod 500 "$TRASH/ro" &&
		test_must_fail 77 as_nobody vibes-iggyctl -d "$TRASH/ro" --port 0 start 2>err &&
		grep "^vibes-iggyctl: data dir $TRASH/ro is not writable: Permission denied$" err &&
		test_must_fail 77 as_nobody vibes-iggyctl -d "$TRASH/ro/sub" --port 0 start 2>err &&
		grep "cannot create directory $TRASH/ro/sub: Permission denied" err
	'

	test_expect_success 'status of a data dir we cannot read: unknown, exit 4' '
		chmod 755 "$TRASH" &&
		mkdir -p "$TRASH/secret" &&
		chmod 700 "$TRASH/secret" &&
		: >"$TRASH/secret/server.pid" &&
		test_must_fail 4 as_nobody vibes-iggyctl -d "$TRASH/secret" status 2>err &&
		grep "status unknown: cannot open $TRASH/secret/server.pid: Permission denied" err &&
		test_must_fail 4 as_nobody vibes-iggyctl -d "$TRASH/secret" status --json >out &&
		grep "^{\"state\":\"unknown\"," out
	'
else
	test_skip 'a data dir owned by another user' 'needs root to chown'
	test_skip 'a data dir that is not writable' 'needs root to switch user'
	test_skip 'status of a data dir we cannot read' 'needs root to switch user'
fi

# Read-only and full file systems: a small tmpfs in a private mount
# namespace (as root; skipped elsewhere).
if [ "$(id -u)" = 0 ] && have_mountns; then
	test_expect_success 'a read-only data dir: exit 74, path named' '
		mkdir -p "$TRASH/rofs" &&
		unshare -m sh -c "
			mount -t tmpfs -o ro,size=256k tmpfs \"$TRASH/rofs\" &&
			vibes-iggyctl -d \"$TRASH/rofs\" --port 0 start 2>err; echo \$? >rc
		" &&
		test "$(cat rc)" = 74 &&
		grep "^vibes-iggyctl: data dir $TRASH/rofs is not writable: read-only file system$" err
	'

	test_expect_success 'a full disk: exit 74 before and during startup' '
		mkdir -p "$TRASH/full" &&
		unshare -m sh -c "
			mount -t tmpfs -o size=256k tmpfs \"$TRASH/full\" &&
			dd if=/dev/zero of=\"$TRASH/full/fill\" bs=4k 2>/dev/null;
			vibes-iggyctl -d \"$TRASH/full\" --port 0 start 2>err1; echo \$? >rc1
			rm \"$TRASH/full/fill\" &&
			dd if=/dev/zero of=\"$TRASH/full/fill\" bs=1k count=248 2>/dev/null &&
			vibes-iggyctl -d \"$TRASH/full\" --port 0 start 2>err2; echo \$? >rc2
			vibes-iggyctl -d \"$TRASH/full\" stop >/dev/null 2>&1
		" &&
		test "$(cat rc1)" = 74 &&
		grep "^vibes-iggyctl: data dir $TRASH/full: no space left on device$" err1 &&
		test "$(cat rc2)" = 74 &&
		grep "^vibes-iggyctl: .*no space left on device" err2
	'
else
	test_skip 'a read-only data dir' 'needs root and mount namespaces'
	test_skip 'a full disk' 'needs root and mount namespaces'
fi

test_done
