#!/bin/bash
# HTTPS on vibes-iggyd's HTTP API with the TCP port's --tls-cert/--tls-key
# (issue 13 item 5), with a test CA made here by openssl: curl trusting
# the CA, a plain HTTP client and a wrong CA refused; vibes-iggyctl http's
# curl config over HTTPS; the upstream server's IGGY_HTTP_TLS_* variables.
test_description='vibes-iggyd: HTTPS on the HTTP API'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-iggyctl.sh"
. "$(dirname "$0")/lib-tls.sh"

if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
	echo "1..0 # SKIP curl and jq are needed (.ci/run installs them)"
	[ -n "${CI:-}" ] && exit 1
	exit 0
fi

cd "$TRASH" || exit 1
mkca ca && mkca other &&
	mkcert good 'DNS:localhost,IP:127.0.0.1' &&
	mkcert lhost 'DNS:localhost' &&
	mkcert elsewhere 'DNS:elsewhere.example' &&
	cat good.pem good.key >both.pem || {
	cat openssl.log >&2
	exit 1
}
start_server "$TRASH/s" --http 127.0.0.1:0 --tls-cert "$TRASH/good.pem" \
	--tls-key "$TRASH/good.key" || exit 1
S_PID=$SERVER_PID
H=$(cat "$TRASH/s/http.addr")
# the key in the certificate's file
start_server "$TRASH/both" --http 127.0.0.1:0 \
	--tls-cert "$TRASH/both.pem" || exit 1
BOTH_H=$(cat "$TRASH/both/http.addr")
cd - >/dev/null || exit 1
PASS=$(sed -n 's/^password=//p' "$TRASH/s/credentials")

test_expect_success 'the log says https://; /ping over HTTPS with the test CA' '
	grep -q "vibes-iggyd: HTTP API on https://$H$" "$TRASH/s/server.log" &&
	test "$(curl -sS --cacert "$TRASH/ca.pem" "https://$H/ping")" = pong &&
	# the certificate is for localhost too
	test "$(curl -sS --cacert "$TRASH/ca.pem" "https://localhost:${H##*:}/ping")" = pong &&
	test "$(curl -sS --cacert "$TRASH/ca.pem" "https://$BOTH_H/ping")" = pong
'

test_expect_success 'a login and a token route over HTTPS; TCP over TLS sees the same data' '
	curl -sS --cacert "$TRASH/ca.pem" -H "Content-Type: application/json" \
		-d "{\"username\":\"iggy\",\"password\":\"$PASS\"}" \
		"https://$H/users/login" >login &&
	tok=$(jq -r .access_token.token login) &&
	test -n "$tok" &&
	code=$(curl -sS --cacert "$TRASH/ca.pem" -o created -w "%{http_code}" \
		-H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
		-d "{\"name\":\"over-https\"}" "https://$H/streams") &&
	test "$code" = 200 && jq -e ".name == \"over-https\"" created &&
	curl -sS --cacert "$TRASH/ca.pem" -H "Authorization: Bearer $tok" \
		"https://$H/streams" >streams &&
	jq -e "map(.name) == [\"over-https\"]" streams &&
	# a message sent over TCP with TLS, seen over HTTPS
	echo "{\"n\":1}" | VIBES_IGGY_DATA_DIR=$TRASH/s vibes-append &&
	curl -sS --cacert "$TRASH/ca.pem" -H "Authorization: Bearer $tok" \
		"https://$H/streams/vibes/topics/events" >topic &&
	jq -e ".messages_count == 1" topic &&
	# no token: 401, as over HTTP
	code=$(curl -sS --cacert "$TRASH/ca.pem" -o /dev/null -w "%{http_code}" \
		"https://$H/streams") &&
	test "$code" = 401 &&
	curl -sS --cacert "$TRASH/ca.pem" -H "Authorization: Bearer $tok" \
		-X DELETE "https://$H/streams/over-https" -o /dev/null -w "%{http_code}" >del &&
	test "$(cat del)" = 204
'

test_expect_success 'plain HTTP to the HTTPS port gets no answer; the server goes on' '
	test_must_fail curl -sS --max-time 10 "http://$H/ping" >out 2>err &&
	! grep -q pong out &&
	test "$(curl -sS --cacert "$TRASH/ca.pem" "https://$H/ping")" = pong
'

test_expect_success 'a wrong CA: curl refuses the certificate' '
	test_must_fail curl -sS --cacert "$TRASH/other.pem" "https://$H/ping" 2>err &&
	grep -q "SSL certificate problem: unable to get local issuer certificate" err &&
	test_must_fail curl -sS "https://$H/ping" 2>err &&
	grep -q "SSL certificate problem" err &&
	kill -0 $S_PID
'

test_expect_success 'vibes-iggyctl --tls-cert start, then curl -K <(vibes-iggyctl http /streams)' '
	D=$TRASH/ctl &&
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --http 127.0.0.1:0 \
		--tls-cert "$TRASH/good.pem" --tls-key "$TRASH/good.key" start &&
	h=$(cat "$D/http.addr") &&
	vibes-iggyctl -d "$D" http /streams >cfg 2>err &&
	test ! -s err &&
	test $(wc -l <cfg) = 4 &&
	sed -n 3p cfg | grep -x "cacert = \"$TRASH/good.pem\"" &&
	sed -n 4p cfg | grep -x "url = \"https://$h/streams\"" &&
	curl -sS -K <(vibes-iggyctl -d "$D" http /streams) | jq -e ". == []" &&
	curl -sS -K <(vibes-iggyctl -d "$D" http /stats) |
		jq -e ".iggy_server_version == \"0.8.0\"" &&
	test "$(vibes-iggyctl -d "$D" http --url /ping)" = "https://$h/ping" &&
	vibes-iggyctl -d "$D" status >st &&
	grep -x "http: *https://$h" st &&
	# without the config the certificate is not trusted
	test_must_fail curl -sS "https://$h/ping" 2>/dev/null
'

test_expect_success 'a certificate for localhost only: the URL says localhost; for another name: a warning' '
	D=$TRASH/lh &&
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --http 127.0.0.1:0 \
		--tls-cert "$TRASH/lhost.pem" --tls-key "$TRASH/lhost.key" start &&
	h=$(cat "$D/http.addr") &&
	test "$(vibes-iggyctl -d "$D" http --url)" = "https://localhost:${h##*:}" &&
	curl -sS -K <(vibes-iggyctl -d "$D" http /streams) | jq -e ". == []" &&
	D=$TRASH/el &&
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --http 127.0.0.1:0 \
		--tls-cert "$TRASH/elsewhere.pem" --tls-key "$TRASH/elsewhere.key" start &&
	h=$(cat "$D/http.addr") &&
	vibes-iggyctl -d "$D" http --url >url 2>err &&
	test "$(cat url)" = "https://$h" &&
	grep -x "vibes-iggyctl: the certificate $TRASH/elsewhere.pem names neither the HTTP API'"'"'s address nor localhost: curl will refuse it (use curl'"'"'s --connect-to with a name it carries)" err &&
	# and its login (the certificate pinned, whatever its name) works
	vibes-iggyctl -d "$D" http /streams >cfg 2>/dev/null &&
	grep -q "^header = \"Authorization: Bearer " cfg
'

test_expect_success 'an upstream server gets IGGY_HTTP_TLS_* with the certificate options' '
	D=$TRASH/up &&
	mkdir -p "$TRASH/bin" &&
	cat >"$TRASH/bin/iggy-server" <<-\EOF &&
	#!/bin/sh
	if [ "${1:-}" = --version ]; then echo "iggy-server 0.8.0"; exit 0; fi
	env | grep "^IGGY_.*TLS" | sort >"$IGGY_SYSTEM_PATH/../up.env"
	exec vibes-iggyd --data-dir "$IGGY_SYSTEM_PATH/upstream" \
		--addr "$IGGY_TCP_ADDRESS" --no-http \
		--tls-cert "$IGGY_TCP_TLS_CERT_FILE" --tls-key "$IGGY_TCP_TLS_KEY_FILE"
	EOF
	chmod +x "$TRASH/bin/iggy-server" &&
	stop_at_end "$D" &&
	vibes-iggyctl -d "$D" --port 0 --server-bin "$TRASH/bin/iggy-server" \
		--tls-cert "$TRASH/both.pem" start &&
	cat >expect <<-EOF &&
	IGGY_HTTP_TLS_CERT_FILE=$TRASH/both.pem
	IGGY_HTTP_TLS_ENABLED=true
	IGGY_HTTP_TLS_KEY_FILE=$TRASH/both.pem
	IGGY_TCP_TLS_CERT_FILE=$TRASH/both.pem
	IGGY_TCP_TLS_ENABLED=true
	IGGY_TCP_TLS_KEY_FILE=$TRASH/both.pem
	IGGY_TCP_TLS_SELF_SIGNED=false
	EOF
	test_cmp expect "$TRASH/up.env" &&
	VIBES_IGGY_DATA_DIR=$D vibes-topic list >/dev/null &&
	vibes-iggyctl -d "$D" stop
'

test_done
