#!/bin/bash
test_description='connect errors that name the cause and the next step'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

A="$TRASH/a"
TOOLS="vibes-append vibes-poll vibes-seek vibes-topic"

# run_tool TOOL ARGS...: TOOL doing something harmless that needs a login.
run_tool() {
	local tool=$1
	shift
	case $tool in
	vibes-append) echo '{"n":1}' | vibes-append -s prof "$@" ;;
	vibes-poll) vibes-poll -s prof -c p "$@" ;;
	vibes-seek) vibes-seek -s prof -c p "$@" ;;
	vibes-topic) vibes-topic -s prof list "$@" ;;
	esac
}

test_expect_success 'setup: a server with stream prof' '
	vibes-iggyctl -d "$A" --port 0 start &&
	echo "{\"n\":0}" | vibes-append --data-dir "$A" -s prof
'

test_expect_success 'an http:// or iggys:// address says which scheme works (exit 2), not "cannot resolve"' '
	for tool in $TOOLS; do
		test_must_fail 2 run_tool $tool --server http://127.0.0.1:3000 2>err &&
		grep "^$tool: --server .http://127.0.0.1:3000.: the scheme .http. is not supported: the vibes tools speak Iggy.s TCP protocol, not its HTTP API; use iggy://HOST:PORT or HOST:PORT with the server.s TCP port (8090 by default, not the HTTP port 3000)$" err ||
			{ cat err; exit 1; }
	done &&
	test_must_fail 2 env VIBES_IGGY_ADDR=https://h:443 vibes-poll -c p 2>err &&
	grep "^vibes-poll: VIBES_IGGY_ADDR=.https://h:443.: the scheme .https. is not supported" err &&
	test_must_fail 2 vibes-poll --server iggys://iggy:s3cret@h:8090 -c p 2>err &&
	grep "^vibes-poll: --server .iggys://h:8090.: iggys:// (TLS) is not supported by the vibes tools yet; use iggy://HOST:PORT (plain TCP)$" err &&
	! grep s3cret err &&
	! grep "cannot resolve" err
'

test_expect_success 'VIBES_IGGY_PASSWORD without VIBES_IGGY_USERNAME (or the other way round) is an error, exit 2' '
	for tool in $TOOLS; do
		(export VIBES_IGGY_PASSWORD=x &&
		 test_must_fail 2 run_tool $tool --data-dir "$A" 2>err) &&
		grep "^$tool: VIBES_IGGY_PASSWORD is set but VIBES_IGGY_USERNAME is not: set both, or unset VIBES_IGGY_PASSWORD to log in with $A/credentials$" err ||
			{ cat err; exit 1; }
	done &&
	test_must_fail 2 env VIBES_IGGY_USERNAME=iggy vibes-poll --data-dir "$A" -c p 2>err &&
	grep "^vibes-poll: VIBES_IGGY_USERNAME is set but VIBES_IGGY_PASSWORD is not" err &&
	# the other half from an option is fine
	pass=$(sed -n "s/^password=//p" "$A/credentials") &&
	VIBES_IGGY_PASSWORD=$pass vibes-poll --data-dir "$TRASH/empty" --server "$(cat "$A/server.addr")" \
		--user iggy -s prof -c p3 >/dev/null &&
	echo "$pass" >pw && chmod 600 pw &&
	VIBES_IGGY_USERNAME=iggy vibes-poll --data-dir "$TRASH/empty" --server "$(cat "$A/server.addr")" \
		--password-file pw -s prof -c p4 >/dev/null
'

test_expect_success 'a refused login that is really "your own server is not running" says so, with the next step' '
	B=$TRASH/b &&
	stop_at_end "$B" &&
	# B ran on a port that A holds now
	mkdir -p "$B" && cp "$A/server.addr" "$B/server.addr" &&
	test_must_fail 77 vibes-poll --data-dir "$B" -c p 2>err &&
	grep "^vibes-poll: login as .iggy. refused: .*; that is not the server of data dir $B, which is not running: start it with .vibes-iggyctl -d $B start. (VIBES_IGGY_AUTOSTART=0 keeps the tools from starting it)$" err &&
	test_must_fail 77 env VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=x \
		VIBES_IGGY_AUTOSTART=1 vibes-poll --data-dir "$B" -c p 2>err &&
	grep "; that is not the server of data dir $B, which is not running: start it with .vibes-iggyctl -d $B start.$" err &&
	vibes-iggyctl -d "$B" stop &&
	test_must_fail 77 vibes-poll --data-dir "$B" -c p 2>err &&
	grep "; that is not the server of data dir $B, which was stopped by vibes-iggyctl stop (pid [0-9]*) at [0-9TZ:-]*: start it with .vibes-iggyctl -d $B start.$" err &&
	# a server named explicitly is what the user meant: no such hint
	test_must_fail 77 vibes-poll --data-dir "$TRASH/empty" --server "$(cat "$A/server.addr")" -c p 2>err &&
	! grep "not the server of" err &&
	# nothing answers and the tools may not start it: say so too
	rm "$B/server.down" &&
	echo 127.0.0.1:1 >"$B/server.addr" &&
	test_must_fail 69 vibes-poll --data-dir "$B" -c p 2>err &&
	grep "^vibes-poll: cannot connect to 127.0.0.1:1: Connection refused; the server of data dir $B is not running: start it with .vibes-iggyctl -d $B start. (VIBES_IGGY_AUTOSTART=0 keeps the tools from starting it)$" err
'

vibes-iggyctl -d "$A" stop >/dev/null 2>&1

test_done
