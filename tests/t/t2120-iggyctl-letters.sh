#!/bin/bash
test_description='vibes-iggyctl: --addr, --port, --server-bin and --timeout are long only; the old letters say so'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

D=$TRASH/d
TAIL='(in the vibes tools -p is a partition, -s a stream, -t a topic)'

# old LETTER ARG LONG ARGS...: vibes-iggyctl -LETTER ARG ARGS... is a usage
# error (exit 2) naming LONG, and starts nothing.
old() {
	local letter=$1 arg=$2 long=$3
	shift 3
	test_must_fail 2 vibes-iggyctl -d "$D" "$@" 2>err &&
	grep -F "vibes-iggyctl: -$letter is long only now: $long $TAIL" err &&
	grep "^try .vibes-iggyctl --help.$" err &&
	test_must_fail 3 vibes-iggyctl -d "$D" status >/dev/null
}

test_expect_success '-p, -a, -s before the command and -t after it: exit 2, naming the long option' '
	stop_at_end "$D" &&
	old p 0 "--port PORT" -p 0 start &&
	old a 127.0.0.1:0 "--addr HOST:PORT" -a 127.0.0.1:0 start &&
	old s "$VIBES_BUILD_DIR/cmd/vibes-iggyd" "--server-bin PATH" \
		-s "$VIBES_BUILD_DIR/cmd/vibes-iggyd" start &&
	old t 5 "--timeout SECONDS" -t 5 start &&
	vibes-iggyctl -d "$D" --port 0 start >/dev/null &&
	test_must_fail 2 vibes-iggyctl -d "$D" stop -t 5 2>err &&
	grep -F "vibes-iggyctl: -t is long only now: --timeout SECONDS $TAIL" err &&
	grep "^vibes-iggyctl: stop: option .-t. not accepted$" err &&
	vibes-iggyctl -d "$D" status >/dev/null &&
	vibes-iggyctl -d "$D" stop --timeout 5 >/dev/null &&
	test_must_fail 3 vibes-iggyctl -d "$D" status >/dev/null
'

test_expect_success 'the long options work, and another letter is only an invalid option' '
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --addr 127.0.0.1:0 \
		--server-bin "$VIBES_BUILD_DIR/cmd/vibes-iggyd" start >out &&
	grep "^started: pid [0-9]*, 127.0.0.1:[0-9]*, data dir $D$" out &&
	vibes-iggyctl -d "$D" stop --timeout 5 >/dev/null &&
	test_must_fail 2 vibes-iggyctl -d "$D" -x start 2>err &&
	! grep "long only" err
'

test_done
