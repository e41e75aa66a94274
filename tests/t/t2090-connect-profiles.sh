#!/bin/bash
test_description='--server NAME from $XDG_CONFIG_HOME/vibes/servers; connect errors that name the cause and the next step'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"

A="$TRASH/a"
TOOLS="vibes-append vibes-poll vibes-seek vibes-topic"
export XDG_CONFIG_HOME="$TRASH/config"
SERVERS=$XDG_CONFIG_HOME/vibes/servers

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

test_expect_success 'setup: a server with stream prof, its credentials in a file of the profiles dir' '
	vibes-iggyctl -d "$A" --port 0 start &&
	echo "{\"n\":0}" | vibes-append --data-dir "$A" -s prof &&
	mkdir -p "$XDG_CONFIG_HOME/vibes" &&
	cp "$A/credentials" "$XDG_CONFIG_HOME/vibes/a.credentials" &&
	chmod 600 "$XDG_CONFIG_HOME/vibes/a.credentials" &&
	cat >"$SERVERS" <<-EOF
	# NAME  URL  [CREDENTIALS-FILE]
	a       iggy://$(cat "$A/server.addr")   a.credentials
	a-abs   $(cat "$A/server.addr") $XDG_CONFIG_HOME/vibes/a.credentials  # absolute

	bare    iggy://$(cat "$A/server.addr")
	EOF
'

test_expect_success '--server NAME: every tool logs in with the profile'\''s address and credentials file' '
	# the data dir has no credentials, and nothing is started there
	for tool in $TOOLS; do
		run_tool $tool --data-dir "$TRASH/empty" --server a >out 2>err ||
			{ echo "$tool:"; cat err; exit 1; }
		run_tool $tool --data-dir "$TRASH/empty" --server a-abs >out 2>err ||
			{ echo "$tool:"; cat err; exit 1; }
	done &&
	vibes-poll --data-dir "$TRASH/empty" --server a -s prof -c check >got &&
	test "$(grep -c "\"n\":1" got)" = 2 &&
	test ! -e "$TRASH/empty" &&
	# without a credentials file, those of the data dir (here: none)
	test_must_fail 77 vibes-poll --data-dir "$TRASH/empty" --server bare -s prof -c p 2>err &&
	grep "login as .iggy. refused" err &&
	vibes-poll --data-dir "$A" --server bare -s prof -c p2 >got &&
	test "$(wc -l <got)" = 3 &&
	# options still come first
	test_must_fail 77 vibes-poll --data-dir "$TRASH/empty" --server a --user nobody -s prof -c p 2>err
'

test_expect_success 'profiles: ~/.config/vibes/servers without XDG_CONFIG_HOME' '
	mkdir -p "$HOME/.config/vibes" &&
	cp "$SERVERS" "$XDG_CONFIG_HOME/vibes/a.credentials" "$HOME/.config/vibes/" &&
	sed "s/^a /home /" "$SERVERS" >"$HOME/.config/vibes/servers" &&
	(unset XDG_CONFIG_HOME && vibes-seek --data-dir "$TRASH/empty" --server home -s prof -c p) &&
	test_must_fail 2 env XDG_CONFIG_HOME=relative vibes-seek --server nosuch -c p 2>err &&
	grep "no such server profile in $HOME/.config/vibes/servers" err
'

# with_line6 LINE NAME MESSAGE: with LINE added to the good servers file
# (as its line 6), --server NAME fails with exit 2 and SERVERS:6: MESSAGE.
with_line6() {
	cp servers.good "$SERVERS" && echo "$1" >>"$SERVERS" &&
	test_must_fail 2 vibes-seek --server "$2" -c p 2>err &&
	grep "^vibes-seek: $SERVERS:6: $3" err
}

test_expect_success 'profile errors name the file and the line (exit 2), or the credentials file (exit 77)' '
	test_must_fail 2 vibes-poll --server nosuch -c p 2>err &&
	grep "^vibes-poll: --server nosuch: no such server profile in $SERVERS (it has a, a-abs, bare); an address needs a port: HOST:PORT$" err &&
	test_must_fail 2 env XDG_CONFIG_HOME="$TRASH/none" vibes-poll --server a -c p 2>err &&
	grep "^vibes-poll: --server a: no such server profile: $TRASH/none/vibes/servers does not exist" err &&
	cp "$SERVERS" servers.good &&
	test_when_finished "cp servers.good \"$SERVERS\"" &&
	with_line6 "lonely" a "expected .NAME URL \[CREDENTIALS-FILE\]., found a name alone$" &&
	with_line6 "x y z w" a "expected .NAME URL \[CREDENTIALS-FILE\]., found more than 3 fields$" &&
	with_line6 "web http://127.0.0.1:3000" a "profile web: the scheme .http. is not supported (use iggy://HOST:PORT or HOST:PORT)$" &&
	with_line6 "b@d 127.0.0.1:1" a "profile name .b@d.: use letters, digits" &&
	with_line6 "a 127.0.0.1:1" a "profile a is already defined on line 2$" &&
	with_line6 "nofile 127.0.0.1:1 missing.credentials" nofile \
		"credentials file $XDG_CONFIG_HOME/vibes/missing.credentials: No such file or directory$" &&
	cp servers.good "$SERVERS" &&
	chmod 644 "$XDG_CONFIG_HOME/vibes/a.credentials" &&
	test_when_finished "chmod 600 \"$XDG_CONFIG_HOME/vibes/a.credentials\"" &&
	test_must_fail 77 vibes-seek --server a -c p 2>err &&
	grep "^vibes-seek: $SERVERS:2: credentials file $XDG_CONFIG_HOME/vibes/a.credentials can be read by others (mode 0644): chmod 600 $XDG_CONFIG_HOME/vibes/a.credentials$" err
'

test_expect_success 'an http:// or ftp:// address says which scheme works (exit 2), not "cannot resolve"' '
	for tool in $TOOLS; do
		test_must_fail 2 run_tool $tool --server http://127.0.0.1:3000 2>err &&
		grep "^$tool: --server .http://127.0.0.1:3000.: the scheme .http. is not supported: the vibes tools speak Iggy.s TCP protocol, not its HTTP API; use iggy://HOST:PORT or HOST:PORT with the server.s TCP port (8090 by default, not the HTTP port 3000)$" err ||
			{ cat err; exit 1; }
	done &&
	test_must_fail 2 env VIBES_IGGY_ADDR=https://h:443 vibes-poll -c p 2>err &&
	grep "^vibes-poll: VIBES_IGGY_ADDR=.https://h:443.: the scheme .https. is not supported" err &&
	test_must_fail 2 vibes-poll --server ftp://iggy:s3cret@h:8090 -c p 2>err &&
	grep "^vibes-poll: --server .ftp://h:8090.: the scheme .ftp. is not supported; use iggy://HOST:PORT, iggys://HOST:PORT (TLS) or HOST:PORT$" err &&
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
