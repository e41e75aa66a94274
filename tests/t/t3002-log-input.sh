#!/bin/bash
test_description='vibes-append: malformed input corpus, each with its documented result'
. "$(dirname "$0")/test-lib.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART

# Reads everything stream $1 holds, with a fresh consumer each time.
n=0
dump() {
	n=$((n + 1))
	# nothing was ever sent: the stream does not exist, nothing to show
	vibes-poll -c "dump$n" --stream "$1" 2>"$TRASH/dump.err" ||
		grep -q "^vibes-poll: stream $1 does not exist" "$TRASH/dump.err"
}

# at top level: start_server sets SERVER_PID for test_done's cleanup
start_server || exit 1

test_expect_success 'truncated JSON: reported as stdin:LINE, nothing of the batch sent, exit 65' '
	printf "%s\n" "{\"a\":1}" "{\"a\":2" "{\"a\":3}" >in &&
	test_must_fail 65 vibes-append --stream s1 <in 2>err &&
	grep "^vibes-append: stdin:2: unexpected end of line at byte 7$" err &&
	grep "^vibes-append: not stored: every line of stdin$" err &&
	test_must_fail grep "^vibes-append: stored:" err &&
	dump s1 >out &&
	test_must_fail test -s out
'

test_expect_success 'a named file is reported as FILE:LINE' '
	printf "%s\n" "{\"a\":1}" "[1,]" >bad.json &&
	test_must_fail 65 vibes-append --stream s2 bad.json 2>err &&
	grep "^vibes-append: bad.json:2: expected a JSON value at byte 4$" err
'

test_expect_success 'batches before the bad line are sent, its batch and the rest are not' '
	for i in 1 2 3 4; do echo "{\"i\":$i}"; done >in &&
	echo "{\"i\":5" >>in &&
	for i in 6 7 8 9; do echo "{\"i\":$i}"; done >>in &&
	test_must_fail 65 vibes-append --stream s3 --batch 3 <in 2>err &&
	grep "^vibes-append: stdin:5: unexpected end of line" err &&
	grep "^vibes-append: stored: lines 1-3 of stdin$" err &&
	grep "^vibes-append: not stored: lines 4- of stdin$" err &&
	dump s3 | sort >out &&
	head -n 3 in >expect &&
	test_cmp expect out
'

test_expect_success 'invalid UTF-8 and overlong forms are bad lines' '
	printf "{\"a\":\"\\377\"}\n" >in &&
	test_must_fail 65 vibes-append --stream s4 <in 2>err &&
	grep "stdin:1: invalid UTF-8 at byte 7" err &&
	printf "{\"a\":\"\\300\\257\"}\n" >in &&
	test_must_fail 65 vibes-append --stream s4 <in 2>err &&
	grep "stdin:1: invalid UTF-8 at byte 7" err &&
	printf "{\"a\":\"\\355\\240\\200\"}\n" >in &&
	test_must_fail 65 vibes-append --stream s4 <in 2>err &&
	grep "stdin:1: invalid UTF-8" err &&
	printf "{\"a\":\"caf\\303\\251 \\360\\237\\230\\200\"}\n" >good &&
	vibes-append --stream s4 <good &&
	dump s4 >out &&
	test_cmp good out
'

test_expect_success 'NUL bytes are bad lines, inside or outside strings' '
	printf "{\"a\":\"x\\000y\"}\n" >in &&
	test_must_fail 65 vibes-append --stream s5 <in 2>err &&
	grep "stdin:1: NUL byte at byte 8" err &&
	printf "{\"a\":1}\\000\n" >in &&
	test_must_fail 65 vibes-append --stream s5 <in 2>err &&
	grep "stdin:1: NUL byte at byte 8" err
'

test_expect_success 'empty and blank lines are skipped silently; line numbers still count them' '
	printf "\n{\"a\":1}\n\n   \n\t\n{\"a\":2}\n\n" >in &&
	vibes-append --stream s6 -v <in 2>err &&
	grep "7 lines read: 2 sent, 0 invalid, 5 blank" err &&
	dump s6 >out &&
	printf "{\"a\":1}\n{\"a\":2}\n" >expect &&
	test_cmp expect out &&
	printf "\n\n[1,\n" >in &&
	test_must_fail 65 vibes-append --stream s6 <in 2>err &&
	grep "stdin:3: unexpected end of line at byte 4" err
'

test_expect_success 'an input of only blank lines sends nothing and succeeds' '
	printf "\n\n" | vibes-append --stream s7 &&
	vibes-append --stream s7 </dev/null &&
	dump s7 >out &&
	test_must_fail test -s out
'

test_expect_success 'last line without a newline, CRLF lines and any JSON value are accepted as is' '
	printf "[1,2]\r\n\"text\"\r\n42\nnull\ntrue\n{\"z\":{}}" >in &&
	vibes-append --stream s8 --partition 0 <in &&
	dump s8 >out &&
	printf "[1,2]\r\n\"text\"\r\n42\nnull\ntrue\n{\"z\":{}}\n" >expect &&
	cmp expect out
'

test_expect_success 'a 10 MB line goes through byte-identical' '
	{ printf "{\"session_id\":\"big\",\"blob\":\""; head -c 10000000 /dev/zero | tr "\0" "x"; printf "\"}\n"; } >huge &&
	echo "{\"session_id\":\"big\",\"after\":1}" >>huge &&
	vibes-append --stream s9 <huge &&
	dump s9 >out &&
	cmp huge out
'

test_expect_success 'a line over 64000000 bytes is a bad line, reported without reading it whole' '
	{ echo "{\"i\":1}"; printf "\""; head -c 64000001 /dev/zero | tr "\0" "y"; printf "\"\n"; echo "{\"i\":3}"; } >toolong &&
	test_must_fail 65 vibes-append --stream s10 --linger 1m <toolong 2>err &&
	grep "stdin:2: line too long (the limit is 64000000 bytes) at byte 64000001" err &&
	grep "^vibes-append: not stored: every line of stdin$" err &&
	vibes-append --stream s10 --skip-invalid <toolong 2>err &&
	grep "stdin:2: line too long" err &&
	dump s10 >out &&
	printf "{\"i\":1}\n{\"i\":3}\n" >expect &&
	test_cmp expect out
'

test_expect_success '--skip-invalid reports every bad line, sends the rest, exits 0' '
	printf "%s\n" "{\"a\":1}" "nope" "{\"a\":2}" "{\"a\":" "{\"a\":3}" >in &&
	vibes-append --stream s11 --skip-invalid -v <in 2>err &&
	grep "stdin:2: invalid literal at byte 2" err &&
	grep "stdin:4: unexpected end of line at byte 6" err &&
	grep "5 lines read: 3 sent, 2 invalid, 0 blank" err &&
	dump s11 >out &&
	printf "%s\n" "{\"a\":1}" "{\"a\":2}" "{\"a\":3}" >expect &&
	test_cmp expect out
'

test_expect_success '--skip-invalid with nothing valid exits 65' '
	printf "%s\n" "x" "y" >in &&
	test_must_fail 65 vibes-append --stream s12 --skip-invalid <in 2>err &&
	test $(grep -c "expected a JSON value" err) = 2
'

test_expect_success 'several files: lines numbered per file, acks name the file' '
	printf "%s\n" "{\"f\":1}" "{\"f\":2}" >a.json &&
	printf "%s\n" "{\"f\":3}" >b.json &&
	vibes-append --stream s13 --partition 0 --acks a.json - b.json <a.json >acks &&
	sed -e "s/,\"offset\".*//" acks >got &&
	cat >expect <<-\EOT &&
	{"file":"a.json","line":1,"partition":0
	{"file":"a.json","line":2,"partition":0
	{"file":"-","line":1,"partition":0
	{"file":"-","line":2,"partition":0
	{"file":"b.json","line":1,"partition":0
	EOT
	test_cmp expect got &&
	dump s13 >out &&
	cat a.json a.json b.json >expect &&
	test_cmp expect out &&
	printf "%s\n" "{\"f\":1}" "oops" >c.json &&
	test_must_fail 65 vibes-append --stream s13 a.json c.json 2>err &&
	grep "^vibes-append: c.json:2: expected a JSON value at byte 1$" err
'

test_done
