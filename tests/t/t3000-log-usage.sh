#!/bin/bash
test_description='vibes-append, vibes-poll, vibes-seek: help, version, usage errors'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'help of every tool goes to stdout, exit 0, names the options' '
	vibes-append --help >out &&
	for w in --key-field --key --partition --balanced --batch --linger \
		 --buffer --retry-timeout --skip-invalid --acks --progress \
		 --server --user --password-file --data-dir --stream --topic \
		 --partitions --timeout --verbose --version " 65 " " 69 "; do
		grep -q -e "$w" out || { echo "append: missing $w"; exit 1; }
	done &&
	vibes-poll --help >out &&
	for w in --consumer --group --from --count --follow --interval \
		 --format --no-commit --handoff --batch --server --stream \
		 committed beginning end @TIMESTAMP " 74 "; do
		grep -q -e "$w" out || { echo "poll: missing $w"; exit 1; }
	done &&
	vibes-seek --help >out &&
	for w in --consumer --group --to --partition --json LAG HWM \
		 COMMITTED --server; do
		grep -q -e "$w" out || { echo "seek: missing $w"; exit 1; }
	done
'

test_expect_success 'version' '
	vibes-append --version | grep "^vibes-append [0-9]" &&
	vibes-poll --version | grep "^vibes-poll [0-9]" &&
	vibes-seek --version | grep "^vibes-seek [0-9]" &&
	for t in vibes-append vibes-poll vibes-seek vibes-topic; do
		$t -V | grep "^$t [0-9]" || exit 1
	done
'

test_expect_success 'usage errors exit 2 with prog: what: why' '
	test_must_fail 2 vibes-append --bogus 2>err &&
	test_must_fail 2 vibes-append --key k --partition 1 2>err &&
	grep "^vibes-append: --key-field, --key, --partition and --balanced exclude each other" err &&
	test_must_fail 2 vibes-append --batch 0 2>err &&
	grep "^vibes-append: --batch: invalid number .0.: smaller than 1" err &&
	test_must_fail 2 vibes-append --linger 5x 2>err &&
	grep "unknown unit" err &&
	test_must_fail 2 vibes-append --buffer 1T 2>err &&
	test_must_fail 2 vibes-append --partitions 0 2>err &&
	test_must_fail 2 vibes-poll 2>err &&
	grep "^vibes-poll: give exactly one of -c NAME and -g NAME" err &&
	test_must_fail 2 vibes-poll -c a -g b 2>err &&
	test_must_fail 2 vibes-poll -c a --from yesterday 2>err &&
	grep "invalid position .yesterday." err &&
	test_must_fail 2 vibes-poll -c a --from @2024-13-01 2>err &&
	grep "no such date" err &&
	test_must_fail 2 vibes-poll -c a --format xml 2>err &&
	test_must_fail 2 vibes-poll -g a --no-commit 2>err &&
	test_must_fail 2 vibes-poll -c a extra 2>err &&
	test_must_fail 2 vibes-seek 2>err &&
	test_must_fail 2 vibes-seek -c a --to committed 2>err &&
	test_must_fail 2 vibes-seek -c a -p x 2>err
'

test_expect_success 'a file that cannot be opened: exit 74' '
	test_must_fail 74 vibes-append "$TRASH/nope.json" 2>err &&
	grep "^vibes-append: cannot open .*nope.json.: No such file" err
'

test_expect_success 'no server and no autostart: poll and seek exit 69' '
	VIBES_IGGY_AUTOSTART=0 &&
	export VIBES_IGGY_AUTOSTART &&
	test_must_fail 69 vibes-poll -c a --server 127.0.0.1:1 2>err &&
	grep "^vibes-poll: " err &&
	test_must_fail 69 vibes-seek -c a --server 127.0.0.1:1 2>err
'

test_expect_success 'no server: append retries for --retry-timeout, then exits 69 and says no line was stored' '
	echo "{\"a\":1}" >in &&
	test_must_fail 69 vibes-append --server 127.0.0.1:1 --retry-timeout 300ms in 2>err &&
	grep "^vibes-append: server unavailable" err &&
	grep "^vibes-append: not stored: every line of in$" err
'

test_expect_success 'a password is never an option: --password-file reads it, --password is refused, a URL password is warned about' '
	start_server &&
	test_when_finished "stop_server" &&
	sed -n "s/^password=//p" "$VIBES_IGGY_DATA_DIR/credentials" >pass &&
	echo "{\"a\":1}" | vibes-append --server "$SERVER_ADDR" --user iggy \
		--password-file pass 2>err &&
	test_must_fail test -s err &&
	test_must_fail 2 vibes-poll -c x --password secret 2>err &&
	grep "^vibes-poll: --password: a password on the command line is visible to every user of this machine (ps, /proc); use --password-file FILE or VIBES_IGGY_PASSWORD$" err &&
	test_must_fail 2 vibes-append --password=secret 2>err &&
	grep "^vibes-append: --password: a password on the command line" err &&
	test_must_fail 74 vibes-seek -c x --password-file nope 2>err &&
	grep "^vibes-seek: --password-file: .*nope" err &&
	vibes-poll -c x --no-commit --server "iggy://iggy:$(cat pass)@$SERVER_ADDR" >out 2>err &&
	grep "^vibes-poll: warning: the password in --server is visible to every user of this machine (ps, /proc); use VIBES_IGGY_PASSWORD or --password-file$" err &&
	test $(wc -l <out) = 1
'

test_expect_success 'credentials from the environment: both or neither; a password the server cannot hold is refused with 77' '
	start_server &&
	test_when_finished "stop_server" &&
	sed -n "s/^password=//p" "$VIBES_IGGY_DATA_DIR/credentials" >pass &&
	echo "{\"a\":1}" >in &&
	test_must_fail 2 env VIBES_IGGY_PASSWORD="$(cat pass)" vibes-append <in 2>err &&
	grep "^vibes-append: VIBES_IGGY_PASSWORD is set but VIBES_IGGY_USERNAME is not: set both, or unset VIBES_IGGY_PASSWORD to log in with $VIBES_IGGY_DATA_DIR/credentials$" err &&
	test_must_fail 2 env VIBES_IGGY_USERNAME=iggy vibes-poll -c x 2>err &&
	grep "^vibes-poll: VIBES_IGGY_USERNAME is set but VIBES_IGGY_PASSWORD is not" err &&
	VIBES_IGGY_PASSWORD="$(cat pass)" vibes-append --user iggy <in &&
	VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD="$(cat pass)" vibes-poll -c x >out &&
	test $(wc -l <out) = 2 &&
	test_must_fail 77 env VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=ab vibes-append <in 2>err &&
	grep "^vibes-append: login as .iggy. refused: 127.0.0.1:[0-9]* takes no such password (status 44, invalid_password: Iggy passwords have 3 to 100 bytes); check the password given$" err &&
	test_must_fail 77 env VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=ab vibes-seek -c x 2>err &&
	grep "^vibes-seek: login as .iggy. refused" err
'

test_done
