#!/bin/bash
test_description='every example of the man pages and the README does what its sentence says'
# Each example is taken from the page itself (man/*.[178]: the .Bd -literal
# blocks of the EXAMPLES section, mdoc escapes undone; README.md: its code
# blocks and the commands its prose gives), so the docs cannot drift from
# the tools.  It is run as written, in a scratch dir with a data dir of
# its own, against this build's binaries; then what the sentence before it
# claims is checked, and the sentence itself too (man_example CLAIM), so a
# changed claim needs a changed check.  Where the text run differs from the
# page (a path, the address of the upstream server), the test says so.
# The last tests check that every example has a check here (or in t4030,
# which runs the README's quick start, tour and upstream migration).
#
# Fixtures stand in for what the examples assume: my-producer, producer,
# handler and iggy-server on PATH; ./send-mails, ./handle,
# ./alert-on-errors, a.jsonl, b.jsonl and events.jsonl in the scratch dir;
# "the upstream Iggy server" iggy://iggy:secret@iggy.example.net:8090 is a
# second bundled server with those credentials on a kernel-chosen port.
#
# Several examples use the default port 8090 (a tool starting the server by
# itself, `vibes-iggyctl start` or `run` without --port), so the whole
# script runs in a private network namespace (as t4030 does for the tour)
# where one can be had; elsewhere those examples are skipped, and in CI
# (which has one) they fail.  Examples that use jq are skipped without it,
# and fail in CI, which installs it.

# Into a network namespace of our own, once: everything below runs there.
if [ -z "${VIBES_T4040_NETNS:-}" ]; then
	VIBES_T4040_NETNS=none
	export VIBES_T4040_NETNS
	if ip=$(PATH=$PATH:/usr/sbin:/sbin command -v ip); then
		for ns in "unshare -n" "unshare -rn"; do
			if $ns true 2>/dev/null; then
				VIBES_T4040_NETNS=$ns
				exec $ns bash -c '"$1" link set lo up && exec bash "$2"' \
					t4040 "$ip" "$0"
			fi
		done
	fi
fi

. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

export LC_ALL=C
README=$VIBES_SOURCE_DIR/README.md
MAN=$VIBES_SOURCE_DIR/man
CLOCK_SHIFT=$VIBES_BUILD_DIR/tests/tool/clock-shift.so
# That module goes before an ASan build's runtime in the preload order.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
if [ "$VIBES_T4040_NETNS" != none ]; then
	# As in a user's shell: the tools start the server by themselves.
	# Port 8090 is this namespace's own.
	unset VIBES_IGGY_AUTOSTART
fi
HAVE_JQ=
if command -v jq >/dev/null 2>&1; then
	HAVE_JQ=1
fi
HAVE_PROMTOOL=
if command -v promtool >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
	HAVE_PROMTOOL=1
fi

# ---- running tests that need a namespace, jq, or both -------------------

# test_expect_needs "netns jq" TITLE BODY: a test that needs a private
# network namespace and/or jq; skipped without them, failed in CI.
test_expect_needs() {
	local need missing=""
	for need in $1; do
		case $need in
		netns) [ "$VIBES_T4040_NETNS" != none ] ||
			missing="${missing:+$missing; }no private network namespace (unshare -n or -rn)" ;;
		jq) [ -n "$HAVE_JQ" ] ||
			missing="${missing:+$missing; }jq is missing (apt-get install jq; .ci/run installs it)" ;;
		promtool) [ -n "$HAVE_PROMTOOL" ] ||
			missing="${missing:+$missing; }promtool or curl is missing (apt-get install prometheus curl; .ci/run installs them)" ;;
		esac
	done
	if [ -z "$missing" ]; then
		test_expect_success "$2" "$3"
	elif [ -n "${CI:-}" ]; then
		test_expect_success "$2" "echo 'cannot run in CI: $missing'; false"
	else
		test_skip "$2" "$missing"
	fi
}

# ---- taking the examples out of the pages --------------------------------

EXAMPLES_SEEN=$TRASH/.examples-checked
: >"$EXAMPLES_SEEN"

# covers PAGE N: example N of man/PAGE has a check (the test that follows).
covers() {
	echo "$1:$2" >>"$EXAMPLES_SEEN"
}

# man_awk WHAT PAGE SECTION N: of the .Bd -literal blocks in section
# SECTION (a .Sh or .Ss title) of man/PAGE, prints block N (WHAT=block,
# mdoc escapes undone: \e \- \& ; any other escape is an error), the
# sentence before it (WHAT=claim, macros dropped, lines joined), or how
# many blocks there are (WHAT=count).
man_awk() {
	awk -v what="$1" -v want_sec="$3" -v want="${4:-0}" '
	function unesc(s,   out, c, d) {
		out = ""
		while (s != "") {
			c = substr(s, 1, 1)
			if (c != "\\") {
				out = out c
				s = substr(s, 2)
				continue
			}
			d = substr(s, 2, 1)
			if (d == "e")
				out = out "\\"
			else if (d == "-")
				out = out "-"
			else if (d != "&") {
				print "man_awk: unknown escape \\" d ": " $0 > "/dev/stderr"
				bad = 1
			}
			s = substr(s, 3)
		}
		return out
	}
	/^\.S[hs] / { in_sec = (substr($0, 5) == want_sec); claim = ""; next }
	!in_sec { next }
	/^\.Bd -literal/ {
		n++
		inblk = 1
		if (n == want && what == "claim")
			print claim
		next
	}
	/^\.Ed/ { inblk = 0; claim = ""; next }
	inblk { if (n == want && what == "block") print unesc($0); next }
	/^\.Pp/ || /^\.\\"/ { next }
	{
		line = $0
		if (line ~ /^\./)
			sub(/^\.[A-Za-z]+ ?/, "", line)
		claim = claim (claim == "" ? "" : " ") line
	}
	END {
		if (what == "count")
			print n + 0
		if (bad || (what != "count" && n < want))
			exit 1
	}' "$MAN/$2"
}

# man_block PAGE SECTION N CLAIM: block N of SECTION of man/PAGE, after
# checking that the sentence before it still says CLAIM.
man_block() {
	local claim
	claim=$(man_awk claim "$1" "$2" "$3") || {
		echo "man/$1: no example $3 in $2" >&2
		return 1
	}
	case $claim in
	*"$4"*) ;;
	*)
		echo "man/$1: the sentence before example $3 of $2 changed:" >&2
		echo "  now: $claim" >&2
		echo "  the check here is for: $4" >&2
		return 1 ;;
	esac
	man_awk block "$1" "$2" "$3"
}

# man_example PAGE N CLAIM: example N of the EXAMPLES of man/PAGE.
man_example() {
	man_block "$1" EXAMPLES "$2" "$3"
}

# readme_blocks: "N<TAB>SECTION" for every indented code block of the
# README (SECTION empty before the first "## ").
readme_blocks() {
	awk '
		/^## / { sec = substr($0, 4) }
		/^    / { if (!inb) print ++n "\t" sec; inb = 1; next }
		/^$/ { next }
		{ inb = 0 }
	' "$README"
}

# readme_block N CLAIM: code block N of the README, after checking that
# the paragraph before it still says CLAIM.
readme_block() {
	local claim
	claim=$(awk -v want="$1" '
		/^    / { if (!inb) { n++; if (n == want) { print para; exit } }
			inb = 1; next }
		/^$/ { gap = 1; next }
		{ if (gap || inb) para = ""; gap = inb = 0; para = para " " $0 }
	' "$README")
	case $claim in
	*"$2"*) ;;
	*)
		echo "README.md: the paragraph before code block $1 changed:" >&2
		echo "  now:$claim" >&2
		echo "  the check here is for: $2" >&2
		return 1 ;;
	esac
	awk -v want="$1" '
		/^    / { if (!inb) n++; inb = 1; if (n == want) print substr($0, 5); next }
		/^$/ { if (inb && n == want) print ""; next }
		{ inb = 0 }
	' "$README" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# readme_code TEXT CLAIM: the inline code span of the README that holds
# TEXT, after checking that its line or the two before say CLAIM.
readme_code() {
	grep -B 2 -F -- "$1" "$README" | tr '\n' ' ' | grep -qF -- "$2" || {
		echo "README.md: the sentence around '$1' no longer says: $2" >&2
		return 1
	}
	grep -o '`[^`]*`' "$README" | tr -d '`' | grep -F -- "$1"
}

# ---- fixtures -------------------------------------------------------------

mkdir -p "$TRASH/bin"
PATH="$TRASH/bin:$PATH"
export PATH

# my-producer: a program that makes events: three sessions, two each.
cat >"$TRASH/bin/my-producer" <<'EOF'
#!/bin/sh
for n in 1 2 3 4 5 6; do
	printf '{"session_id":"u%d","n":%d,"level":"info"}\n' $((n % 3)) "$n"
done
EOF

# producer (README): four events per run, tagged with the run's number.
cat >"$TRASH/bin/producer" <<'EOF'
#!/bin/sh
run=$(($(cat .producer-runs 2>/dev/null || echo 0) + 1))
echo "$run" >.producer-runs
for n in 1 2 3 4; do
	printf '{"session_id":"s%d","run":%d,"n":%d}\n' $((n % 2)) "$run" "$n"
done
EOF

# handler (README): handles each event by saying so.
cat >"$TRASH/bin/handler" <<'EOF'
#!/bin/sh
while IFS= read -r line; do
	printf 'handled %s\n' "$line"
done
EOF

# iggy-server: an upstream Iggy server as far as vibes-iggyctl can tell
# (t2050 has the full story): configured by IGGY_* variables only, it
# serves by exec'ing the bundled server on its own subdirectory.
cat >"$TRASH/bin/iggy-server" <<'EOF'
#!/bin/sh
if [ "${1:-}" = --version ]; then
	echo "iggy-server 0.8.0"
	exit 0
fi
for v in IGGY_SYSTEM_PATH IGGY_TCP_ADDRESS IGGY_ROOT_USERNAME IGGY_ROOT_PASSWORD; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "iggy-server: $v is not set" >&2
		exit 2
	fi
done
echo "iggy-server: tcp on $IGGY_TCP_ADDRESS, root $IGGY_ROOT_USERNAME" >&2
exec vibes-iggyd --data-dir "$IGGY_SYSTEM_PATH/upstream" --addr "$IGGY_TCP_ADDRESS"
EOF
chmod +x "$TRASH/bin/my-producer" "$TRASH/bin/producer" \
	"$TRASH/bin/handler" "$TRASH/bin/iggy-server"

# ./send-mails: "sends" each event by appending it to mails.log; its pid is
# in send-mails.pid.  With MAILS_MAX set it fails after that many mails
# (a handler that dies and is started again).
make_send_mails() {
	cat >send-mails <<-'EOF'
	#!/bin/sh
	echo $$ >send-mails.pid
	n=0
	while IFS= read -r line; do
		printf '%s\n' "$line" >>mails.log
		n=$((n + 1))
		if [ -n "${MAILS_MAX:-}" ] && [ "$n" -ge "$MAILS_MAX" ]; then
			exit 1
		fi
	done
	EOF
	chmod +x send-mails
}

# ./handle: does one event's work: records it in handled.log, with the pid
# of the process that did it.
make_handle() {
	# A few ms an event, as real work takes: a member that joined first
	# cannot have handled all 800 before the other two joined (on a loaded
	# machine starting them may take a while), so the shares say whether
	# the group shares its partitions, not which process started first.
	cat >handle <<-'EOF'
	#!/bin/sh
	while IFS= read -r line; do
		printf '%s %s\n' "$$" "$line" >>handled.log
		sleep 0.005
	done
	EOF
	chmod +x handle
}

# ./alert-on-errors: says ALERT for each event at level error.
make_alert_on_errors() {
	cat >alert-on-errors <<-'EOF'
	#!/bin/sh
	while IFS= read -r line; do
		case $line in
		*'"level":"error"'*) printf 'ALERT %s\n' "$line" ;;
		esac
	done
	EOF
	chmod +x alert-on-errors
}

# ./another-program: an "official Iggy SDK" program: it knows nothing but
# VIBES_IGGY_ADDR, VIBES_IGGY_USERNAME and VIBES_IGGY_PASSWORD (no data
# dir, another HOME) and appends one event.
make_another_program() {
	cat >another-program <<-'EOF'
	#!/bin/sh
	mkdir -p elsewhere
	echo '{"session_id":"sdk","n":1}' |
		env -u VIBES_IGGY_DATA_DIR HOME="$PWD/elsewhere" \
			XDG_DATA_HOME="$PWD/elsewhere" vibes-append
	EOF
	chmod +x another-program
}

# history.jsonl: events of which some are errors.
make_history() {
	cat >history.jsonl <<-'EOF'
	{"session_id":"s1","level":"error","n":1}
	{"session_id":"s2","level":"info","n":2}
	{"session_id":"s3","level":"error","n":3}
	{"session_id":"s1","level":"info","n":4}
	{"session_id":"s4","level":"info","n":5}
	EOF
}

# gen FROM TO [TAG]: events FROM..TO of five sessions.
gen() {
	local i
	for i in $(seq "$1" "$2"); do
		printf '{"session_id":"s%d","n":%d,"tag":"%s"}\n' $((i % 5)) "$i" "${3:-}"
	done
}

# fill_partitions N TAG: N events into each of the 8 partitions.
fill_partitions() {
	local p
	for p in 0 1 2 3 4 5 6 7; do
		gen 1 "$1" "$2-p$p" | vibes-append -p "$p" || return 1
	done
}

# ---- scratch dirs, servers, followers ------------------------------------

# scratch NAME: makes $TRASH/NAME the current dir, with its own data dir
# (NAME/data, in VIBES_IGGY_DATA_DIR) whose server is stopped at the end.
scratch() {
	mkdir "$TRASH/$1" && cd "$TRASH/$1" &&
	VIBES_IGGY_DATA_DIR="$TRASH/$1/data" &&
	export VIBES_IGGY_DATA_DIR &&
	stop_at_end "$VIBES_IGGY_DATA_DIR"
}

# serve: the bundled server for the scratch data dir, on a kernel-chosen
# port (for the examples that are not about starting it).
serve() {
	vibes-iggyctl --port 0 start >/dev/null
}

# upstream DIR: "the upstream Iggy server" (root iggy, password secret):
# another bundled server, data dir DIR, on a kernel-chosen port; sets UP
# to its address, for iggy.example.net:8090 in the examples run.
upstream() {
	IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD=secret \
		vibes-iggyctl -d "$1" --port 0 start >/dev/null &&
	stop_at_end "$1" &&
	UP=$(cat "$1/server.addr") &&
	test -n "$UP"
}

# spawn_example OUT ERR CMD...: runs CMD (an example, with the followers it
# leaves in the background) in a session of its own, output to OUT and
# ERR; sets EX_PID, also its process group, stopped at the end of the
# test.
spawn_example() {
	local out=$1 err=$2
	shift 2
	setsid "$@" >"$out" 2>"$err" &
	EX_PID=$!
	test_when_finished "stop_group $EX_PID"
}

# group_gone PGID: no live process (zombies aside) is in the group.
group_gone() {
	! ps -e -o pgid=,stat= |
		awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# stop_group PGID: SIGTERM to the group (a user's Ctrl-C would be SIGINT;
# vibes-poll -f handles both alike), waits until it is gone (10 s), then
# SIGKILL.
stop_group() {
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	if ! wait_for 10 group_gone "$1"; then
		kill -KILL -- "-$1" 2>/dev/null
		wait_for 5 group_gone "$1"
	fi
	wait "$1" 2>/dev/null
	return 0
}

# exited PID: the process is gone or a zombie.
exited() {
	local s
	s=$(ps -o stat= -p "$1") || return 0
	case $s in
	Z*) return 0 ;;
	esac
	return 1
}

# lines_at_least FILE N
lines_at_least() {
	test -f "$1" && test "$(wc -l <"$1")" -ge "$2"
}

# lag_is N SEEK-ARGS...: the total lag vibes-seek shows is N.
lag_is() {
	local want=$1
	shift
	test "$(vibes-seek "$@" | awk '$1 == "total" { print $2 }')" = "$want"
}

# messages_are N: the server holds N messages (all topics), read from its
# statistics, which creates nothing.
messages_are() {
	vibes-iggyctl status --json | grep -q "\"messages\":$1,"
}

# sorted_same A B: the same lines, in any order.
sorted_same() {
	sort "$1" >"$1.sorted" && sort "$2" >"$2.sorted" &&
	test_cmp "$1.sorted" "$2.sorted"
}

# in_session_order FILE: the n of each session_id grows line by line.
in_session_order() {
	sed -n 's/.*"session_id":"\([^"]*\)".*"n":\([0-9]*\).*/\1 \2/p' "$1" |
		awk '{ if (($1 in last) && $2 <= last[$1]) { print "out of order: " $0; bad = 1 }
		       last[$1] = $2 } END { exit bad }'
}

# seek_rows FILE: "PARTITION COMMITTED NEXT HWM LAG" of a vibes-seek table.
seek_rows() {
	awk '$1 ~ /^[0-9]+$/ { print $1, $2, $3, $4, $5 }' "$1"
}

# json_events FILE: "PARTITION OFFSET PAYLOAD" of vibes-poll --format json.
json_events() {
	sed -n 's/^{"partition":\([0-9]*\),"offset":\([0-9]*\),.*,"payload":\(.*\)}$/\1 \2 \3/p' "$1"
}

# ======================================================================
# vibes-append(1)

covers vibes-append.1 1
test_expect_needs netns 'vibes-append(1) 1: my-producer | vibes-append, the server starting by itself' '
	scratch append1 &&
	man_example vibes-append.1 1 "the server starts by itself if needed" >ex.sh &&
	test_must_fail 3 vibes-iggyctl status &&
	bash ex.sh &&
	vibes-iggyctl status >st &&
	grep "^state: *running$" st &&
	pid=$(cat data/server.pid) &&
	# "if needed": a second run uses the server that runs
	bash ex.sh &&
	test "$(cat data/server.pid)" = "$pid" &&
	vibes-poll -c check >got &&
	{ my-producer && my-producer; } >want &&
	sorted_same want got
'

make_ab() {
	printf '%s\n' '{"session_id":"a1","n":1}' 'not json' \
		'{"session_id":"a2","n":3}' >a.jsonl
	printf '%s\n' '{"session_id":"b1","n":1}' '' '{"session_id":"b2",' \
		'{"session_id":"b3","n":4}' >b.jsonl
}

# acks_expect: "PARTITION OFFSET LINE" for every ack in acks.jsonl, LINE
# taken from the file and line the ack names.
acks_expect() {
	sed -n 's/^{"file":"\([^"]*\)","line":\([0-9]*\),"partition":\([0-9]*\),"offset":\([0-9]*\)}$/\1 \2 \3 \4/p' acks.jsonl |
	while read -r f l p o; do
		printf '%s %s %s\n' "$p" "$o" "$(sed -n "${l}p" "$f")"
	done
}

covers vibes-append.1 2
test_expect_success 'vibes-append(1) 2: two files, bad lines skipped, acks say where each line went' '
	scratch append2 && serve &&
	make_ab &&
	man_example vibes-append.1 2 "Append two files, skipping bad lines, and keep where each line went" >ex.sh &&
	bash ex.sh 2>err &&
	# the bad lines are reported, by file and line, and skipped
	grep "^vibes-append: a.jsonl:2: " err &&
	grep "^vibes-append: b.jsonl:3: " err &&
	test $(grep -c "^vibes-append: " err) = 2 &&
	sed "s/,\"partition.*//" acks.jsonl >where &&
	printf "%s\n" "{\"file\":\"a.jsonl\",\"line\":1" "{\"file\":\"a.jsonl\",\"line\":3" \
		"{\"file\":\"b.jsonl\",\"line\":1" "{\"file\":\"b.jsonl\",\"line\":4" >want &&
	test_cmp want where &&
	# and each good line is at the partition and offset its ack names
	acks_expect >expect &&
	test $(wc -l <expect) = 4 &&
	vibes-poll -c look --format json >events &&
	json_events events >actual &&
	sorted_same expect actual
'

covers vibes-append.1 3
test_expect_success 'vibes-append(1) 3: tail -F | vibes-append -k user_id -t app --partitions 16' '
	scratch append3 && serve &&
	# The log followed is app.jsonl of the scratch dir, not /var/log/app.jsonl.
	man_example vibes-append.1 3 "Route by another member and write to a separate topic with 16" |
		sed "s#/var/log/app.jsonl#$PWD/app.jsonl#" >ex.sh &&
	grep -q "tail -F $PWD/app.jsonl |" ex.sh &&
	for n in 1 2 3 4 5 6 7 8; do
		printf "{\"session_id\":\"same\",\"user_id\":\"u%d\",\"n\":%d}\n" $((n % 4)) $n || exit 1
	done >app.jsonl &&
	spawn_example out err bash ex.sh &&
	wait_for 20 messages_are 8 &&
	# lines the application logs later follow
	for n in 9 10 11 12 13 14 15 16; do
		printf "{\"session_id\":\"same\",\"user_id\":\"u%d\",\"n\":%d}\n" $((n % 4)) $n || exit 1
	done >>app.jsonl &&
	wait_for 20 messages_are 16 &&
	stop_group $EX_PID &&
	vibes-seek -c look -t app >table &&
	seek_rows table >rows &&
	test $(wc -l <rows) = 16 &&
	test "$(tail -n 1 rows | cut -d" " -f1)" = 15 &&
	vibes-poll -c look -t app --format json >events &&
	test $(wc -l <events) = 16 &&
	# routed by user_id (all have the same session_id): one partition per
	# user, the four users in four partitions, each in its order
	json_events events | sed "s/ .*\"user_id\":\"\(u[0-9]\)\".*/ \1/" | sort -u >routes &&
	test $(wc -l <routes) = 4 &&
	test $(cut -d" " -f1 routes | sort -u | wc -l) = 4 &&
	sed "s/\"session_id\":\"same\"/\"session_id\":\"x\"/; s/\"user_id\"/\"session_id\"/" events >by_user &&
	in_session_order by_user &&
	# and nothing went to the default topic: it was not even made
	test_must_fail 2 vibes-seek -c look 2>err &&
	grep "topic vibes/events does not exist (topics of stream vibes: app;" err
'

# failed_run: appends events.jsonl, but the server is stopped once lines
# 1-41235 are stored, and the run gives up (what a lost server looks like).
failed_run() {
	{
		head -n 41235 events.jsonl
		wait_for 30 messages_are 41235 >&2 &&
		vibes-iggyctl stop >/dev/null
		tail -n +41236 events.jsonl
	} | VIBES_IGGY_AUTOSTART=0 vibes-append --retry-timeout 1s 2>failed.err
}

covers vibes-append.1 4
test_expect_success 'vibes-append(1) 4: tail -n +41236 events.jsonl | vibes-append resends the rest' '
	scratch append4 && serve &&
	gen 1 41300 >events.jsonl &&
	test_must_fail 69 failed_run &&
	grep "^vibes-append: stored: lines 1-41235 of stdin$" failed.err &&
	grep "^vibes-append: not stored: lines 41236- of stdin$" failed.err &&
	! grep "^vibes-append: unknown:" failed.err &&
	serve &&
	man_example vibes-append.1 4 "Resend what a failed run did not get through, here from line 41236 on" >ex.sh &&
	bash ex.sh &&
	# every line of events.jsonl is in the log once
	vibes-poll -c check >got &&
	test $(wc -l <got) = 41300 &&
	sorted_same events.jsonl got
'

covers vibes-append.1 5
test_expect_success 'vibes-append(1) 5: --server iggy://iggy:secret@... < events.jsonl writes upstream' '
	scratch append5 &&
	upstream "$PWD/up" &&
	gen 1 20 >events.jsonl &&
	# The upstream stand-in is at $UP, not iggy.example.net:8090.
	man_example vibes-append.1 5 "Write to an upstream Iggy server" |
		sed "s/iggy.example.net:8090/$UP/" >ex.sh &&
	grep -q "iggy://iggy:secret@$UP " ex.sh &&
	bash ex.sh &&
	vibes-poll --server "iggy://iggy:secret@$UP" -c check >got &&
	sorted_same events.jsonl got &&
	# and no local server was started for it
	test_must_fail 3 vibes-iggyctl status
'

# ======================================================================
# vibes-iggyctl(1)

covers vibes-iggyctl.1 1
test_expect_success 'vibes-iggyctl(1) 1: a server on a kernel-chosen port for a test, used, stopped' '
	scratch ctl1 &&
	man_example vibes-iggyctl.1 1 "Start a server on a kernel-chosen port for a test, use it, stop it" >ex.sh &&
	# its mktemp -d makes the data dir here
	TMPDIR=$PWD bash -e -c ". ./ex.sh; echo \"\$VIBES_IGGY_DATA_DIR\" >datadir" >out &&
	d=$(cat datadir) &&
	case $d in "$PWD"/tmp.*) ;; *) false ;; esac &&
	stop_at_end "$d" &&
	sed -n 1p out >started &&
	grep -E "^started: pid [0-9]+, 127\.0\.0\.1:[0-9]+, data dir $d$" started &&
	port=$(sed "s/.*127\.0\.0\.1:\([0-9]*\),.*/\1/" started) &&
	test "$port" != 0 && test "$port" != 8090 &&
	sed -n 2p out >event &&
	echo "{\"session_id\":\"t\",\"n\":1}" >want &&
	test_cmp want event &&
	test "$(sed -n 3p out)" = "stopped: data dir $d" &&
	test $(wc -l <out) = 3 &&
	test_must_fail 3 vibes-iggyctl -d "$d" status &&
	# nothing ran on the data dir it had before
	test ! -e data/server.addr
'

covers vibes-iggyctl.1 2
test_expect_needs jq 'vibes-iggyctl(1) 2: status --json | jq -r .address: running, and where' '
	scratch ctl2 && serve &&
	man_example vibes-iggyctl.1 2 "Is it running, and on which port?" >ex.sh &&
	bash ex.sh >out &&
	test "$(cat out)" = "$(cat data/server.addr)" &&
	grep -E "^127\.0\.0\.1:[1-9][0-9]*$" out &&
	vibes-test-tool --server "$(cat out)" --no-autostart connect &&
	vibes-iggyctl stop >/dev/null &&
	bash ex.sh >out &&
	test "$(cat out)" = null
'

covers vibes-iggyctl.1 3
test_expect_success 'vibes-iggyctl(1) 3: eval "$(vibes-iggyctl env)" lets another program use the server' '
	scratch ctl3 && serve &&
	make_another_program &&
	man_example vibes-iggyctl.1 3 "Let another program, or an official Iggy SDK, use the same server" >ex.sh &&
	bash -e -c ". ./ex.sh && ./another-program" >out &&
	test "$(cat out)" = "$(cat data/server.addr) iggy" &&
	vibes-poll -c check >got &&
	echo "{\"session_id\":\"sdk\",\"n\":1}" >want &&
	test_cmp want got
'

covers vibes-iggyctl.1 4
test_expect_success 'vibes-iggyctl(1) 4: restart && logs -f shows the restart, then follows the log' '
	scratch ctl4 && serve &&
	old=$(cat data/server.pid) &&
	man_example vibes-iggyctl.1 4 "Restart it and watch its log" >ex.sh &&
	spawn_example out err bash ex.sh &&
	wait_for 20 grep -q "^started: pid" out &&
	new=$(sed -n "s/^started: pid \([0-9]*\),.*/\1/p" out) &&
	test "$new" != "$old" &&
	process_gone "$old" &&
	wait_for 10 grep -q "supervisor: started .* (pid $new)" out &&
	# what is logged from now on comes out as well
	vibes-iggyctl stop >/dev/null &&
	wait_for 10 grep -q "sending SIGTERM to pid $new$" out &&
	stop_group $EX_PID
'

covers vibes-iggyctl.1 5
test_expect_needs netns 'vibes-iggyctl(1) 5: an upstream iggy-server with its own data dir, used by the tools' '
	scratch ctl5 &&
	stop_at_end "$HOME/iggy-upstream" &&
	man_example vibes-iggyctl.1 5 "Run an upstream Iggy server, with its own data dir, instead of the bundled" >ex.sh &&
	bash -e -c ". ./ex.sh && my-producer | vibes-append && vibes-poll -c check" >out &&
	u=$HOME/iggy-upstream &&
	grep -E "^started: pid [0-9]+, 127\.0\.0\.1:8090, data dir $u$" out &&
	grep "starting $TRASH/bin/iggy-server (upstream)" "$u/server.log" &&
	# the process serving is what iggy-server became, on its own layout
	pid=$(cat "$u/server.pid") &&
	tr "\0" " " </proc/$pid/cmdline >cmdline &&
	grep -- "--data-dir $u/upstream " cmdline &&
	sed 1d out >got &&
	my-producer >want &&
	sorted_same want got &&
	# and the scratch data dir got no server of its own
	test_must_fail 3 vibes-iggyctl status
'

covers vibes-iggyctl.1 6
test_expect_needs jq 'vibes-iggyctl(1) 6: curl -K <(vibes-iggyctl http PATH): streams, the newest events, no token on a command line' '
	scratch ctl6 && serve &&
	for i in 1 2 3 4 5 6 7; do echo "{\"n\":$i}"; done |
		vibes-append --partitions 1 &&
	man_example vibes-iggyctl.1 6 "Look at the streams and the newest events of a partition over HTTP" >ex.sh &&
	grep -q "curl -s -K <(vibes-iggyctl http /streams)" ex.sh &&
	! grep -q "Bearer" ex.sh &&
	bash ex.sh >out &&
	printf "vibes\n5\n" >want &&
	test_cmp want out
'

covers vibes-iggyctl.1 7
test_expect_needs promtool 'vibes-iggyctl(1) 7: /metrics, no token, passes promtool check metrics' '
	scratch ctl7 && serve &&
	echo "{\"n\":1}" | vibes-append &&
	man_example vibes-iggyctl.1 7 "Check what it exports to Prometheus (no token needed)" >ex.sh &&
	bash ex.sh >out 2>&1 &&
	! grep -q "Bearer\|vibes-iggyctl http /" ex.sh &&
	curl -s "$(vibes-iggyctl http --url /metrics)" >metrics &&
	grep "^vibes_partition_messages_in_total{" metrics | grep -q " 1$"
'

# ======================================================================
# vibes-iggyd(8)

covers vibes-iggyd.8 1
test_expect_success 'vibes-iggyd(8) 1: a throw-away server: ready, used, stopped' '
	scratch iggyd1 &&
	# The daemon run is the one of this build, not
	# /usr/libexec/vibes/vibes-iggyd.
	man_example vibes-iggyd.8 1 "wait until it is ready" |
		sed "s#/usr/libexec/vibes/vibes-iggyd#$VIBES_BUILD_DIR/cmd/vibes-iggyd#" >ex.sh &&
	grep -q "^$VIBES_BUILD_DIR/cmd/vibes-iggyd --data-dir" ex.sh &&
	TMPDIR=$PWD bash -e -c ". ./ex.sh; echo \"\$d\" >d.path" &&
	d=$(cat d.path) &&
	case $d in "$PWD"/tmp.*) ;; *) false ;; esac &&
	grep -E "vibes-iggyd: listening on 127\.0\.0\.1:[1-9][0-9]*, data dir $d$" "$d/server.log" >listening &&
	! grep -q "127.0.0.1:8090," listening &&
	# stopped: it said so, and its lock is free
	grep "vibes-iggyd: stopped$" "$d/server.log" &&
	test_must_fail 3 vibes-iggyctl -d "$d" status &&
	# used: the event it was given is in its data dir
	stop_at_end "$d" &&
	vibes-iggyctl -d "$d" --port 0 start >/dev/null &&
	vibes-poll --data-dir "$d" -c check >got &&
	echo "{\"n\":1}" >want &&
	test_cmp want got
'

covers vibes-iggyd.8 2
test_expect_needs netns 'vibes-iggyd(8) 2: stop && run: the server in the foreground, its log on the terminal' '
	scratch iggyd2 &&
	vibes-iggyctl start >/dev/null &&
	old=$(cat data/server.pid) &&
	sup=$(cat data/supervise.lock) &&
	man_example vibes-iggyd.8 2 "to watch it in the foreground" >ex.sh &&
	spawn_example out err bash ex.sh &&
	wait_for 20 grep -q "vibes-iggyd: listening on 127.0.0.1:8090," err &&
	grep "^stopped: data dir $PWD/data$" out &&
	process_gone "$old" &&
	wait_for 10 process_gone "$sup" &&
	pid=$(cat data/server.pid) &&
	# in the foreground: in the process group of the shell that ran it,
	# and not supervised
	test "$(ps -o pgid= -p "$pid" | tr -d " ")" = "$EX_PID" &&
	vibes-iggyctl status >st &&
	grep "^pid: *$pid$" st &&
	! grep "^supervisor:" st &&
	my-producer | vibes-append &&
	# Ctrl-C (SIGINT to the foreground group) stops it, as it says there
	kill -INT -- -$EX_PID &&
	wait_for 10 group_gone $EX_PID &&
	wait $EX_PID &&
	grep "vibes-iggyd: stopped$" err &&
	test_must_fail 3 vibes-iggyctl status
'

covers vibes-iggyd.8 3
test_expect_needs netns 'vibes-iggyd(8) 3: IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD=iggy: what an SDK expects' '
	scratch iggyd3 &&
	man_example vibes-iggyd.8 3 "Give official Iggy SDKs the upstream default credentials" >ex.sh &&
	bash ex.sh >out &&
	grep -E "^started: pid [0-9]+, 127\.0\.0\.1:8090, " out &&
	printf "username=iggy\npassword=iggy\n" >want &&
	test_cmp want data/credentials &&
	# an SDK with its defaults (127.0.0.1:8090, iggy/iggy, no data dir)
	VIBES_IGGY_DATA_DIR=$PWD/none vibes-test-tool --server 127.0.0.1:8090 \
		--user iggy --password iggy --no-autostart connect
'

covers vibes-iggyd.8 4
test_expect_needs netns 'vibes-iggyd(8) 4: --tls-cert: a TLS port, a tool that checks the certificate against its CA' '
	scratch iggyd4 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj "/CN=t4040 CA" 2>>openssl.log &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout server.key -out server.csr -subj /CN=localhost 2>>openssl.log &&
	echo subjectAltName=DNS:localhost >ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
		-CAcreateserial -days 1 -extfile ext -out server.pem 2>>openssl.log &&
	man_example vibes-iggyd.8 4 "TLS with a certificate for localhost" >ex.sh &&
	sed -n 1p ex.sh >start.sh && sed -n 2p ex.sh >poll.sh &&
	bash start.sh >out &&
	grep -E "^started: pid [0-9]+, 127\.0\.0\.1:8090, " out &&
	test "$(cat data/server.tls)" = "$PWD/server.pem" &&
	echo "{\"n\":1}" | vibes-append --server iggys://localhost:8090 --tls-ca ca.pem &&
	bash poll.sh >got &&
	echo "{\"n\":1}" >want &&
	test_cmp want got &&
	# the port speaks only TLS
	test_must_fail 69 vibes-poll -c audit --server 127.0.0.1:8090 2>err &&
	grep -q "speaks TLS" err
'

# ======================================================================
# vibes-poll(1)

covers vibes-poll.1 1
test_expect_success 'vibes-poll(1) 1: vibes-poll -c mailer -f | ./send-mails: each event once across handler restarts' '
	scratch poll1 && serve &&
	gen 1 10 >all && vibes-append <all &&
	make_send_mails &&
	man_example vibes-poll.1 1 "Handle every event once, even across restarts of the handler" >ex.sh &&
	# the handler fails after four mails: the pipeline ends
	spawn_example out1 err1 env MAILS_MAX=4 bash ex.sh &&
	wait_for 20 exited $EX_PID &&
	test $(wc -l <mails.log) = 4 &&
	# started again, it goes on; then it is killed while it waits
	spawn_example out2 err2 bash ex.sh &&
	wait_for 20 lines_at_least mails.log 10 &&
	kill -9 $(cat send-mails.pid) &&
	gen 11 15 >>all && gen 11 15 | vibes-append &&
	wait_for 20 exited $EX_PID &&
	# and once more, while events come
	spawn_example out3 err3 bash ex.sh &&
	wait_for 20 lines_at_least mails.log 15 &&
	gen 16 20 >>all && gen 16 20 | vibes-append &&
	wait_for 20 lines_at_least mails.log 20 &&
	stop_group $EX_PID &&
	sorted_same all mails.log &&
	lag_is 0 -c mailer
'

covers vibes-poll.1 2
test_expect_success 'vibes-poll(1) 2: a live alerter skips the history, the nightly export gets what is new' '
	scratch poll2 && serve &&
	make_history && vibes-append <history.jsonl &&
	man_example vibes-poll.1 2 "a live alerter that skips the history, and a nightly export of everything new since the last run" >ex.sh &&
	spawn_example alerts err bash ex.sh &&
	# the export ran (the shell ends with it; the alerter stays)
	wait_for 20 exited $EX_PID &&
	ls export-*.jsonl >files &&
	test $(wc -l <files) = 1 &&
	grep -E "^export-[0-9]{4}-[0-9]{2}-[0-9]{2}\.jsonl$" files &&
	export=$(cat files) &&
	sorted_same history.jsonl "$export" &&
	# the alerter has taken its place at the end: new events come to it
	wait_for 20 lag_is 0 -c alerts &&
	printf "%s\n" "{\"session_id\":\"s2\",\"level\":\"error\",\"n\":6}" \
		"{\"session_id\":\"s3\",\"level\":\"info\",\"n\":7}" >live &&
	vibes-append <live &&
	wait_for 20 grep -q "\"n\":6" alerts &&
	head -n 1 live >want &&
	test_cmp want alerts &&
	# stopped and started again (the next night), the alerter gets what
	# came while it was away, the export only what is new
	stop_group $EX_PID &&
	printf "%s\n" "{\"session_id\":\"s4\",\"level\":\"error\",\"n\":8}" >away &&
	vibes-append <away &&
	spawn_example alerts2 err2 bash ex.sh &&
	wait_for 20 exited $EX_PID &&
	wait_for 20 grep -q "\"n\":8" alerts2 &&
	test_cmp away alerts2 &&
	cat history.jsonl live away >want &&
	sorted_same want "$export" &&
	stop_group $EX_PID
'

covers vibes-poll.1 3
test_expect_needs jq 'vibes-poll(1) 3: --from -5 --no-commit: the last 5 of every partition, nothing moved' '
	scratch poll3 && serve &&
	gen 1 8 p0 | vibes-append -p 0 &&
	gen 1 3 p1 | vibes-append -p 1 &&
	gen 1 6 p2 | vibes-append -p 2 &&
	man_example vibes-poll.1 3 "Look at the last 5 events of every partition without moving anything" >ex.sh &&
	# last 5 (all, where there are fewer) of each partition that has any
	printf "%s\n" "0 3" "0 4" "0 5" "0 6" "0 7" "1 0" "1 1" "1 2" \
		"2 1" "2 2" "2 3" "2 4" "2 5" >want &&
	vibes-seek -c peek >before &&
	bash ex.sh >out &&
	jq -r "\"\(.partition) \(.offset)\"" out | sort -n -k1 -k2 >got &&
	test_cmp want got &&
	vibes-seek -c peek >after &&
	test_cmp before after &&
	# the same for a consumer that has read some
	vibes-poll -c peek -n 3 >/dev/null &&
	vibes-seek -c peek >before &&
	bash ex.sh >out &&
	jq -r "\"\(.partition) \(.offset)\"" out | sort -n -k1 -k2 >got &&
	test_cmp want got &&
	vibes-seek -c peek >after &&
	test_cmp before after &&
	vibes-poll -c peek >rest &&
	test $(wc -l <rest) = 14
'

# groups_check: the "three processes" examples (vibes-poll(1) 4, vibes(7)
# 3), run as written in ex.sh: 800 events, 100 in each partition, then 80
# more while the three run; every event handled once.
groups_check() {
	fill_partitions 100 old &&
	make_handle &&
	spawn_example out err bash ex.sh &&
	wait_for 60 lines_at_least handled.log 800 &&
	fill_partitions 10 live &&
	wait_for 60 lines_at_least handled.log 880 &&
	stop_group $EX_PID &&
	cut -d" " -f2- handled.log | sort >events &&
	test "$(uniq -d events | wc -l)" = 0 &&
	test $(wc -l <events) = 880 &&
	test $(grep -c "\"tag\":\"old-p" events) = 800 &&
	cut -d" " -f1 handled.log | sort | uniq -c >shares &&
	cat shares &&
	# the three share the work: 3/3/2 of the 8 partitions, 25% to 42% each
	test $(wc -l <shares) = 3 &&
	awk "{ if (\$1 < 220 || \$1 > 370) { print \"unfair share: \" \$0; bad = 1 } }
	     END { exit bad }" shares
}

covers vibes-poll.1 4
test_expect_success 'vibes-poll(1) 4: three vibes-poll -g workers -f | ./handle: each event once' '
	scratch poll4 && serve &&
	man_example vibes-poll.1 4 "Share the work among three processes:" >ex.sh &&
	groups_check
'

covers vibes-poll.1 5
test_expect_success 'vibes-poll(1) 5: vibes-poll -c batch | head -n 10: ten, then the eleventh' '
	scratch poll5 && serve &&
	gen 1 25 | vibes-append &&
	# the order every consumer reads them in
	vibes-poll -c ref --no-commit >order &&
	test $(wc -l <order) = 25 &&
	man_example vibes-poll.1 5 "Take exactly ten events; the next run continues with the eleventh" >ex.sh &&
	bash ex.sh >out &&
	head -n 10 order >want &&
	test_cmp want out &&
	vibes-poll -c batch -n 1 >next &&
	sed -n 11p order >want &&
	test_cmp want next &&
	bash ex.sh >out &&
	sed -n 12,21p order >want &&
	test_cmp want out
'

covers vibes-poll.1 6
test_expect_success 'vibes-poll(1) 6: -c migrate --from beginning | vibes-append --server: the whole log upstream' '
	scratch poll6 && serve &&
	gen 1 12 >all && vibes-append <all &&
	# migrate has run before: --from beginning copies the whole log anyway
	vibes-poll -c migrate -n 5 >/dev/null &&
	upstream "$PWD/up" &&
	# The upstream stand-in is at $UP, not iggy.example.net:8090.
	man_example vibes-poll.1 6 "Copy the whole log to an upstream Iggy server" |
		sed "s/iggy.example.net:8090/$UP/" >ex.sh &&
	grep -q "iggy://iggy:secret@$UP$" ex.sh &&
	bash ex.sh &&
	vibes-poll --server "iggy://iggy:secret@$UP" -c check >got &&
	sorted_same all got &&
	in_session_order got
'

# ======================================================================
# vibes-seek(1)

covers vibes-seek.1 1
test_expect_success 'vibes-seek(1) 1: vibes-seek -c mailer: how far behind, per partition' '
	scratch seek1 && serve &&
	gen 1 10 | vibes-append &&
	vibes-poll -c mailer -n 4 >/dev/null &&
	man_example vibes-seek.1 1 "How far behind is consumer" >ex.sh &&
	bash ex.sh >out &&
	grep -E "^total +6$" out &&
	seek_rows out >rows &&
	test $(wc -l <rows) = 8 &&
	# LAG = HWM + 1 - NEXT (0 where empty), and they add up to the total
	awk "{ want = (\$4 == \"-\") ? 0 : \$4 + 1 - \$3; if (\$5 != want) bad = 1; sum += \$5 }
	     END { exit bad || sum != 6 }" rows
'

covers vibes-seek.1 2
test_expect_success 'vibes-seek(1) 2: --to beginning, then vibes-poll | ./send-mails: everything again' '
	scratch seek2 && serve &&
	gen 1 10 >all && vibes-append <all &&
	vibes-poll -c mailer >/dev/null &&
	make_send_mails &&
	man_example vibes-seek.1 2 "Replay everything for it" >ex.sh &&
	bash ex.sh >out &&
	sorted_same all mails.log &&
	lag_is 0 -c mailer
'

# stored_long_ago FILE SECONDS: the first event of vibes-poll --format json
# output FILE was stored more than SECONDS ago.
stored_long_ago() {
	local ts
	ts=$(sed -n '1s/.*"timestamp":\([0-9]*\),.*/\1/p' "$1")
	test -n "$ts" && test "$ts" -lt $((($(date +%s) - $2) * 1000000))
}

# two_hours_of_events: six events stored two hours ago (the server's wall
# clock shifted by the clock-shift module), then six now (in "recent").
two_hours_of_events() {
	VIBES_TEST_CLOCK_SHIFT=-7200 LD_PRELOAD=$CLOCK_SHIFT \
		vibes-iggyctl --port 0 start >/dev/null &&
	gen 1 6 old | VIBES_TEST_CLOCK_SHIFT=-7200 LD_PRELOAD=$CLOCK_SHIFT vibes-append &&
	vibes-iggyctl stop >/dev/null &&
	serve &&
	gen 7 12 recent >recent &&
	vibes-append <recent &&
	vibes-poll -c look --no-commit --format json >stored &&
	stored_long_ago stored 5400
}

covers vibes-seek.1 3
test_expect_success 'vibes-seek(1) 3: --to @(1 hour ago): the events of the last hour again' '
	scratch seek3 &&
	two_hours_of_events &&
	vibes-poll -c mailer >/dev/null &&
	man_example vibes-seek.1 3 "Reprocess the events of the last hour" >ex.sh &&
	bash ex.sh >out &&
	grep -E "^total +6$" out &&
	vibes-poll -c mailer >got &&
	sorted_same recent got
'

covers vibes-seek.1 4
test_expect_success 'vibes-seek(1) 4: -p 3 --to -100: back over the last 100 of partition 3 only' '
	scratch seek4 && serve &&
	gen 1 150 p3 | vibes-append -p 3 &&
	gen 151 180 | vibes-append &&
	vibes-poll -c mailer >/dev/null &&
	vibes-seek -c mailer >before &&
	man_example vibes-seek.1 4 "Step back over the last 100 events of partition 3 only" >ex.sh &&
	bash ex.sh >out &&
	vibes-seek -c mailer >after &&
	seek_rows before >b && seek_rows after >a &&
	grep -v "^3 " b >want && grep -v "^3 " a >got &&
	test_cmp want got &&
	b3=$(grep "^3 " b) && a3=$(grep "^3 " a) &&
	set -- $b3 && bnext=$3 && blag=$5 &&
	set -- $a3 && test "$3" = $((bnext - 100)) && test "$5" = $((blag + 100)) &&
	# the next read is those 100 events, in their order
	vibes-poll -c ref --no-commit --format json >all &&
	json_events all | sed -n "s/^3 [0-9]* //p" | tail -n 100 >want &&
	vibes-poll -c mailer >got &&
	test_cmp want got
'

covers vibes-seek.1 5
test_expect_needs jq 'vibes-seek(1) 5: -g workers --to end, then the total lag: 0, the backlog skipped' '
	scratch seek5 && serve &&
	gen 1 20 | vibes-append &&
	# the group has read some: a backlog of 15
	vibes-poll -g workers -n 5 >/dev/null &&
	lag_is 15 -g workers &&
	man_example vibes-seek.1 5 "backlog, then print its total lag" >ex.sh &&
	bash ex.sh >out &&
	test "$(tail -n 1 out)" = 0 &&
	vibes-poll -g workers >got &&
	test ! -s got &&
	gen 21 23 | vibes-append &&
	sed -n 2p ex.sh >lag.sh &&
	bash lag.sh >lag &&
	test "$(cat lag)" = 3
'

# ======================================================================
# vibes-topic(1)

covers vibes-topic.1 1
test_expect_success 'vibes-topic(1) 1: vibes-topic list: what is there' '
	scratch topic1 && serve &&
	gen 1 7 | vibes-append &&
	gen 1 3 | vibes-append -s other -t audit &&
	vibes-poll -c reader >/dev/null &&
	man_example vibes-topic.1 1 "What is there:" >ex.sh &&
	bash ex.sh >out &&
	cat out &&
	test $(wc -l <out) = 3 &&
	grep -E "^vibes +events +8 +7 " out &&
	grep -E "^other +audit +8 +3 " out &&
	test_must_fail grep __vibes out
'

covers vibes-topic.1 2
test_expect_success 'vibes-topic(1) 2: create app --partitions 16 --retention 168h --max-size 10G' '
	scratch topic2 && serve &&
	man_example vibes-topic.1 2 "events, kept a week and at most 10 GiB" >ex.sh &&
	bash ex.sh &&
	vibes-topic list --json >out &&
	grep "^{\"stream\":\"vibes\",\"topic\":\"app\",\"id\":[0-9]*,\"partitions\":16,\"messages\":0,\"bytes\":0,\"retention_us\":604800000000,\"max_size\":10737418240}$" out &&
	echo "{\"session_id\":\"s\"}" | vibes-append -t app &&
	vibes-poll -c one -t app >got && test $(wc -l <got) = 1
'

covers vibes-topic.1 3
test_expect_success 'vibes-topic(1) 3: purge events --yes: an empty log, without being asked' '
	scratch topic3 && serve &&
	gen 1 9 | vibes-append &&
	vibes-poll -c reader -n 4 >/dev/null &&
	man_example vibes-topic.1 3 "Start over with an empty log, without being asked:" >ex.sh &&
	bash ex.sh </dev/null &&
	vibes-topic list --json >out &&
	grep "\"topic\":\"events\",.*\"messages\":0," out &&
	lag_is 0 -c reader &&
	gen 10 12 | vibes-append &&
	vibes-poll -c reader >got &&
	test $(wc -l <got) = 3
'

# ======================================================================
# vibes(7)

covers vibes.7 1
test_expect_needs jq 'vibes(7) 1: my-producer | vibes-append; vibes-poll -c audit | jq .' '
	scratch vibes1 && serve &&
	man_example vibes.7 1 "Record the events of a program and read them back" >ex.sh &&
	bash ex.sh >out &&
	jq -c . out >got &&
	my-producer >want &&
	sorted_same want got &&
	in_session_order got
'

covers vibes.7 2
test_expect_success 'vibes(7) 2: a live consumer and one replaying, each at its own pace' '
	scratch vibes2 && serve &&
	make_history && vibes-append <history.jsonl &&
	make_alert_on_errors &&
	# backfill has run before: it replays everything anyway
	vibes-poll -c backfill -n 2 >/dev/null &&
	man_example vibes.7 2 "Two consumers at their own pace, one live and one replaying" >ex.sh &&
	spawn_example alerts err bash ex.sh &&
	wait_for 20 exited $EX_PID &&
	sorted_same history.jsonl all-events.jsonl &&
	wait_for 20 lag_is 0 -c alerts &&
	printf "%s\n" "{\"session_id\":\"s2\",\"level\":\"info\",\"n\":6}" \
		"{\"session_id\":\"s3\",\"level\":\"error\",\"n\":7}" | vibes-append &&
	wait_for 20 grep -q "\"n\":7" alerts &&
	echo "ALERT {\"session_id\":\"s3\",\"level\":\"error\",\"n\":7}" >want &&
	test_cmp want alerts &&
	stop_group $EX_PID
'

covers vibes.7 3
test_expect_success 'vibes(7) 3: three vibes-poll -g workers -f | ./handle: each event once' '
	scratch vibes3 && serve &&
	man_example vibes.7 3 "Share the work among three processes of a group" >ex.sh &&
	groups_check
'

covers vibes.7 4
test_expect_success 'vibes(7) 4: --to @(1 hour ago), then vibes-poll: the last hour again' '
	scratch vibes4 &&
	two_hours_of_events &&
	vibes-poll -c audit >/dev/null &&
	man_example vibes.7 4 "Replay the last hour for one consumer" >ex.sh &&
	bash ex.sh >out &&
	grep -E "^total +6$" out &&
	grep "^{" out >got &&
	sorted_same recent got
'

test_expect_success 'vibes(7) Moving to an upstream Iggy server: copy the history, point the tools at it' '
	scratch vibes-up && serve &&
	gen 1 8 >all && vibes-append <all &&
	upstream "$PWD/up" &&
	sec="Moving to an upstream Iggy server" &&
	# old:8090 is the local server, new:8090 and iggy.example.net:8090
	# the upstream stand-in.
	man_block vibes.7 "$sec" 2 "To copy history, replay it from the old server into the new one" |
		sed -e "s/old:8090/$(cat data/server.addr)/" -e "s/new:8090/$UP/" >copy.sh &&
	man_block vibes.7 "$sec" 1 "Point the tools at it and give its credentials" |
		sed "s/iggy.example.net:8090/$UP/" >point.sh &&
	bash copy.sh &&
	bash -e -c ". ./point.sh && vibes-poll -c check" >got &&
	sorted_same all got &&
	in_session_order got
'

# ======================================================================
# README.md (t4030 runs the quick start, the tour and the migration)

test_expect_success 'README 1: producer | vibes-append, vibes-poll -c NAME | handler: consumers at their own positions' '
	scratch readme1 && serve &&
	readme_block 1 "several independent consumers read, each at its own pace and position" >block &&
	test $(wc -l <block) = 1 &&
	# the two pipelines side by side, NAME a consumer of our choosing
	awk -F "   +" "{ print \$1 }" block >produce.sh &&
	awk -F "   +" "{ print \$2 }" block >consume.sh &&
	grep -qx "producer | vibes-append" produce.sh &&
	grep -qx "vibes-poll -c NAME | handler" consume.sh &&
	sed "s/NAME/audit/" consume.sh >audit.sh &&
	sed "s/NAME/alerts/" consume.sh >alerts.sh &&
	bash produce.sh &&
	bash audit.sh >audit1 &&
	test $(grep -c "^handled {.*\"run\":1," audit1) = 4 &&
	test $(wc -l <audit1) = 4 &&
	bash audit.sh >audit2 &&
	test ! -s audit2 &&
	bash produce.sh &&
	# durable: a restart keeps the events and the positions
	vibes-iggyctl restart >/dev/null &&
	bash alerts.sh >alerts1 &&
	test $(wc -l <alerts1) = 8 &&
	bash audit.sh >audit3 &&
	test $(grep -c "^handled {.*\"run\":2," audit3) = 4 &&
	test $(wc -l <audit3) = 4
'

test_expect_needs netns 'README: vibes-iggyctl -d ~/iggy --server-bin /path/to/iggy-server start' '
	scratch readme2 &&
	stop_at_end "$HOME/iggy" &&
	readme_code "--server-bin /path/to/iggy-server start" \
		"binary locally under the same supervision instead, give it its own data dir" >ex.sh &&
	test $(wc -l <ex.sh) = 1 &&
	# The binary is the stand-in, not /path/to/iggy-server.
	sed -i "s#/path/to/iggy-server#$TRASH/bin/iggy-server#" ex.sh &&
	bash ex.sh >out &&
	grep -E "^started: pid [0-9]+, 127\.0\.0\.1:8090, data dir $HOME/iggy$" out &&
	grep "starting $TRASH/bin/iggy-server (upstream)" "$HOME/iggy/server.log" &&
	# under the same supervision
	sup=$(cat "$HOME/iggy/supervise.lock") &&
	test "$(lock_holders "$HOME/iggy/server.pid")" = "$sup" &&
	my-producer | vibes-append --data-dir "$HOME/iggy" &&
	vibes-poll --data-dir "$HOME/iggy" -c check >got &&
	my-producer >want &&
	sorted_same want got
'

test_expect_success 'README: vibes-seek -c NAME --to end before a first run upstream' '
	scratch readme3 &&
	upstream "$PWD/up" &&
	gen 1 5 | vibes-append --server "iggy://iggy:secret@$UP" &&
	readme_code "vibes-seek -c NAME --to end" \
		"Consumer positions live in the server, so consumers start over upstream" |
		sed "s/NAME/audit/" >ex.sh &&
	test "$(cat ex.sh)" = "vibes-seek -c audit --to end" &&
	# pointed at the upstream server as that README section says
	export VIBES_IGGY_ADDR=$UP VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=secret &&
	export VIBES_IGGY_AUTOSTART=0 &&
	bash ex.sh >out &&
	vibes-poll -c audit >got &&
	test ! -s got &&
	gen 6 6 >new && vibes-append <new &&
	vibes-poll -c audit >got &&
	test_cmp new got
'

# ======================================================================
# Every example has its check

test_expect_success 'every example of the EXAMPLES sections has a check here' '
	for f in "$MAN"/*.[178]; do
		page=${f##*/} &&
		n=$(man_awk count "$page" EXAMPLES) || exit 1
		i=1
		while [ $i -le $n ]; do
			grep -qx "$page:$i" "$EXAMPLES_SEEN" || {
				echo "man/$page: example $i has no check in t4040"
				exit 1
			}
			i=$((i + 1))
		done
	done &&
	# and nothing checked is gone
	while IFS=: read -r page i; do
		n=$(man_awk count "$page" EXAMPLES) &&
		test "$i" -le "$n" || { echo "man/$page: no example $i"; exit 1; }
	done <"$EXAMPLES_SEEN"
'

test_expect_success 'every code block of the README is run here or by t4030' '
	t4030=$VIBES_SOURCE_DIR/tests/t/t4030-readme.sh &&
	readme_blocks >blocks &&
	test -s blocks &&
	while IFS="	" read -r n sec; do
		case $sec in
		"")
			# the pipeline at the top: run here (README 1)
			test "$n" = 1 || { echo "README block $n before the first section"; exit 1; } ;;
		"Quick start (fresh Debian 12)"|"60-second tour"|"Moving to an upstream Iggy server")
			grep -qF "${sec%% (*}" "$t4030" ||
				{ echo "t4030 no longer runs README section: $sec"; exit 1; } ;;
		Install)
			# run by t4020, with its own prefix
			grep -qF "the README Install command" \
				"$VIBES_SOURCE_DIR/tests/t/t4020-install.sh" ||
				{ echo "t4020 no longer runs README section: $sec"; exit 1; } ;;
		*)
			echo "README block $n (section $sec) is run by no test"
			exit 1 ;;
		esac
	done <blocks
'

for pidfile in $(find "$TRASH" -name server.pid -o -name supervise.lock 2>/dev/null); do
	vibes-iggyctl -d "$(dirname "$pidfile")" stop --timeout 5 >/dev/null 2>&1
done

test_done
