#!/bin/bash
# TLS on vibes-iggyd's TCP port and in the tools (issue 13 item 4), with a
# test CA made here by openssl: a good certificate, a wrong host, an
# expired one, an untrusted CA, a plain client on the TLS port and the
# reverse; the tools end to end over TLS against the real daemon.
test_description='vibes-iggyd and the tools over TLS'
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-tls.sh"

VIBES_IGGY_AUTOSTART=0
export VIBES_IGGY_AUTOSTART
CLOCK_SHIFT=$VIBES_BUILD_DIR/tests/tool/clock-shift.so

# tls_server NAME CERT: a daemon on data dir $TRASH/NAME with CERT on its
# port; sets ${NAME}_PID and ${NAME}_PORT (at top level, for test_done).
tls_server() {
	start_server "$TRASH/$1" --tls-cert "$TRASH/$2.pem" \
		--tls-key "$TRASH/$2.key" || return 1
	eval "$1_PID=\$SERVER_PID $1_PORT=\${SERVER_ADDR##*:}"
}

cd "$TRASH" || exit 1
mkca ca && mkca other &&
	mkcert good 'DNS:localhost,IP:127.0.0.1' &&
	mkcert wronghost 'DNS:elsewhere.example' &&
	mkcert untrusted 'DNS:localhost' other &&
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	VIBES_TEST_CLOCK_SHIFT=-259200 LD_PRELOAD=$CLOCK_SHIFT \
		mkcert expired 'DNS:localhost' || {
	cat openssl.log >&2
	exit 1
}
tls_server good good || exit 1
tls_server wrong wronghost || exit 1
tls_server expired expired || exit 1
tls_server untrusted untrusted || exit 1
# only plain clients: its log is not rate-limited by other failures
tls_server lonely good || exit 1
start_server "$TRASH/plain" || exit 1
plain_PORT=${SERVER_ADDR##*:}
cd - >/dev/null || exit 1
# the good server's credentials, for every --server below
VIBES_IGGY_USERNAME=iggy
VIBES_IGGY_PASSWORD=$(sed -n 's/^password=//p' "$TRASH/good/credentials")
export VIBES_IGGY_USERNAME VIBES_IGGY_PASSWORD
GOOD=iggys://localhost:$good_PORT

test_expect_success 'the server says it speaks TLS, and names the certificate' '
	grep -q "TLS on the TCP port: certificate /CN=good, valid until" \
		"$TRASH/good/server.log" &&
	grep -q "kernel TLS for sends: " "$TRASH/good/server.log" &&
	test "$(cat "$TRASH/good/server.tls")" = "$TRASH/good.pem" &&
	! test -e "$TRASH/plain/server.tls" &&
	! test -e "$TRASH/good/server.sock" &&
	test -S "$TRASH/plain/server.sock" &&
	grep -q "TLS on the TCP port: certificate /CN=expired, .*EXPIRED: clients will refuse it" \
		"$TRASH/expired/server.log"
'

test_expect_success 'a good certificate: the tools end to end over iggys://' '
	echo "{\"session_id\":\"s1\",\"n\":1}" |
		vibes-append --server "$GOOD" --tls-ca "$TRASH/ca.pem" --acks >acks &&
	grep -q "^{\"line\":1,\"partition\":3,\"offset\":0}$" acks &&
	vibes-poll -c r1 --server "$GOOD" --tls-ca "$TRASH/ca.pem" >out &&
	echo "{\"session_id\":\"s1\",\"n\":1}" >expect &&
	test_cmp expect out &&
	vibes-seek -c r1 --json -p 3 --server "$GOOD" \
		--tls-ca "$TRASH/ca.pem" >seek &&
	grep -q "\"partition\":3,.*\"hwm\":0" seek &&
	vibes-seek -c r1 --to start --server "$GOOD" --tls-ca "$TRASH/ca.pem" &&
	vibes-poll -c r1 --server "$GOOD" --tls-ca "$TRASH/ca.pem" >out &&
	test_cmp expect out &&
	vibes-topic create t2 --partitions 2 --server "$GOOD" \
		--tls-ca "$TRASH/ca.pem" &&
	vibes-topic list --json --server "$GOOD" --tls-ca "$TRASH/ca.pem" >topics &&
	grep -q "\"topic\":\"t2\"" topics &&
	vibes-topic delete t2 --yes --server "$GOOD" --tls-ca "$TRASH/ca.pem" &&
	vibes-topic list --server "$GOOD" --tls-ca "$TRASH/ca.pem" >topics &&
	! grep -q "t2" topics
'

test_expect_success 'the tools link no OpenSSL: it is loaded on the first TLS use' '
	for t in vibes-append vibes-poll vibes-seek vibes-topic vibes-iggyctl \
		vibes-supervise; do
		readelf -d "$VIBES_BUILD_DIR/cmd/$t" >dyn &&
		grep -q NEEDED dyn &&
		! grep -E "NEEDED.*lib(ssl|crypto)\." dyn || return 1
	done
'

test_expect_success 'OpenSSL that cannot be loaded: exit 78, the file and the reason' '
	test_must_fail 78 env VIBES_LIBSSL=$TRASH/no/libssl.so.3 \
		vibes-poll -c r1 --server "$GOOD" --tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-poll: TLS: cannot load OpenSSL 3 ($TRASH/no/libssl.so.3): .*No such file" err &&
	test_must_fail 78 env VIBES_LIBSSL=libc.so.6 \
		vibes-seek -c r1 --server "$GOOD" --tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-seek: TLS: libc.so.6 is not OpenSSL 3: it has no [A-Z]" err &&
	VIBES_LIBSSL=$TRASH/no/libssl.so.3 VIBES_IGGY_PASSWORD=$(sed -n \
		"s/^password=//p" "$TRASH/plain/credentials") \
		vibes-topic list --server iggy://127.0.0.1:$plain_PORT
'

test_expect_success 'an IP address in the subjectAltName, the CA from the environment' '
	echo "{\"n\":2}" | VIBES_IGGY_TLS_CA=$TRASH/ca.pem \
		vibes-append --server iggys://127.0.0.1:$good_PORT &&
	VIBES_IGGY_TLS_CA=$TRASH/ca.pem vibes-poll -c r2 \
		--server iggys://127.0.0.1:$good_PORT >out &&
	grep -q "{\"n\":2}" out
'

test_expect_success "upstream's connection string: ?tls=true&tls_domain=&tls_ca_file=" '
	vibes-poll -c r3 --server "iggy://iggy:$VIBES_IGGY_PASSWORD@127.0.0.1:$good_PORT?tls=true&tls_domain=localhost&tls_ca_file=$TRASH/ca.pem" >out &&
	grep -q "{\"n\":2}" out &&
	test_must_fail 2 vibes-poll -c r3 \
		--server "iggy://127.0.0.1:$good_PORT?tls=true&tls_validate_certificate=false" 2>err &&
	test_must_fail 2 vibes-poll -c r3 \
		--server "iggy://127.0.0.1:$good_PORT?tls=true&bogus=1" 2>err
'

test_expect_success 'the data dir: tools find the server and trust its server.tls' '
	VIBES_IGGY_DATA_DIR=$TRASH/good vibes-poll -c r4 >out &&
	grep -q "{\"n\":2}" out &&
	echo "{\"n\":3}" | VIBES_IGGY_DATA_DIR=$TRASH/good vibes-append &&
	VIBES_IGGY_DATA_DIR=$TRASH/good vibes-topic list >topics &&
	grep -q events topics
'

test_expect_success 'the system store does not know the test CA: exit 77' '
	test_must_fail 77 vibes-poll -c x --server "$GOOD" 2>err &&
	grep -q "^vibes-poll: TLS: certificate of localhost: unable to get local issuer certificate$" err
'

test_expect_success 'a certificate for another host: exit 77, hostname mismatch' '
	test_must_fail 77 vibes-poll -c x --server iggys://localhost:$wrong_PORT \
		--tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-poll: TLS: certificate of localhost: hostname mismatch$" err &&
	echo "{}" >in &&
	test_must_fail 77 vibes-append --server iggys://127.0.0.1:$wrong_PORT \
		--tls-ca "$TRASH/ca.pem" in 2>err &&
	grep -q "^vibes-append: TLS: certificate of 127.0.0.1: IP address mismatch$" err &&
	# tls_domain names the host the certificate must carry
	test_must_fail 77 vibes-poll -c x \
		--server "iggy://127.0.0.1:$good_PORT?tls=true&tls_domain=elsewhere.example&tls_ca_file=$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-poll: TLS: certificate of elsewhere.example: hostname mismatch$" err
'

test_expect_success 'an expired certificate: exit 77' '
	test_must_fail 77 vibes-seek -c x --server iggys://localhost:$expired_PORT \
		--tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-seek: TLS: certificate of localhost: certificate has expired$" err
'

test_expect_success 'a certificate of an untrusted CA: exit 77' '
	test_must_fail 77 vibes-topic list --server iggys://localhost:$untrusted_PORT \
		--tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-topic: TLS: certificate of localhost: unable to get local issuer certificate$" err &&
	# and the right CA for it works
	VIBES_IGGY_PASSWORD=$(sed -n "s/^password=//p" "$TRASH/untrusted/credentials") \
		vibes-topic list --server iggys://localhost:$untrusted_PORT \
		--tls-ca "$TRASH/other.pem"
'

test_expect_success 'a plain client on the TLS port: exit 69, the server logs it' '
	test_must_fail 69 vibes-poll -c x --server 127.0.0.1:$lonely_PORT 2>err &&
	grep -q "^vibes-poll: 127.0.0.1:$lonely_PORT speaks TLS: connect with iggys://127.0.0.1:$lonely_PORT" err &&
	# the server logs it once the client is gone: wait (10 s at most)
	i=0 &&
	while ! grep -q "TLS: 127.0.0.1:[0-9]* does not speak TLS (.*): a plain client on the TLS port" \
		"$TRASH/lonely/server.log"; do
		i=$((i + 1)); test $i -lt 200 || exit 1; sleep 0.05
	done
'

test_expect_success 'a TLS client on a plain port: exit 69' '
	test_must_fail 69 vibes-poll -c x --server iggys://localhost:$plain_PORT \
		--tls-ca "$TRASH/ca.pem" 2>err &&
	grep -q "^vibes-poll: TLS: .*does not speak TLS" err
'

test_expect_success 'TLS 1.2 and 1.3 only; openssl s_client verifies the chain' '
	openssl s_client -connect 127.0.0.1:$good_PORT -servername localhost \
		-CAfile "$TRASH/ca.pem" -verify_return_error -tls1_2 \
		</dev/null >sc 2>&1 &&
	grep -q "Verify return code: 0 (ok)" sc &&
	grep -q "Protocol  *: TLSv1.2" sc &&
	grep -q "Cipher  *: ECDHE-ECDSA-AES128-GCM-SHA256" sc &&
	test_must_fail openssl s_client -connect 127.0.0.1:$good_PORT \
		-tls1_1 </dev/null >sc 2>&1
'

test_expect_success 'a silent client in its handshake does not stall the others' '
	exec 7<>/dev/tcp/127.0.0.1/$good_PORT &&
	printf "\026\003\001\002\000\001" >&7 &&
	vibes-poll -c r5 --timeout 5s --server "$GOOD" --tls-ca "$TRASH/ca.pem" >out &&
	grep -q "{\"n\":2}" out &&
	exec 7>&-
'

test_expect_success 'vibes-iggyd: an unusable certificate or key is exit 78' '
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/bad" --addr 127.0.0.1:0 \
		--tls-cert "$TRASH/nonexistent.pem" 2>err &&
	grep -q "^vibes-iggyd: " err &&
	test_must_fail 78 vibes-iggyd --data-dir "$TRASH/bad" --addr 127.0.0.1:0 \
		--tls-cert "$TRASH/good.pem" --tls-key "$TRASH/other.key" 2>err &&
	grep -q "^vibes-iggyd: " err &&
	test_must_fail 2 vibes-iggyd --tls-key "$TRASH/good.key" 2>err &&
	grep -q "tls-key needs --tls-cert" err
'

test_expect_success 'vibes-iggyctl --tls-cert: a TLS server, env says iggys://' '
	d=$TRASH/ctl &&
	vibes-iggyctl --data-dir "$d" --port 0 --tls-cert "$TRASH/good.pem" \
		--tls-key "$TRASH/good.key" start &&
	test_when_finished "vibes-iggyctl --data-dir \"$d\" stop" &&
	test "$(cat "$d/server.tls")" = "$TRASH/good.pem" &&
	vibes-iggyctl --data-dir "$d" env >env &&
	grep -q "VIBES_IGGY_ADDR=.*iggys://127.0.0.1:[0-9]" env &&
	# status pings it over TLS (exit 0: it answers), as the supervisor
	# does: no plain client ever reached the TLS port
	vibes-iggyctl --data-dir "$d" status >st &&
	! grep "does not speak TLS" "$d/server.log" &&
	echo "{\"n\":9}" | VIBES_IGGY_DATA_DIR=$d \
		env -u VIBES_IGGY_USERNAME -u VIBES_IGGY_PASSWORD vibes-append &&
	VIBES_IGGY_DATA_DIR=$d env -u VIBES_IGGY_USERNAME -u VIBES_IGGY_PASSWORD \
		vibes-poll -c c1 >out &&
	grep -q "{\"n\":9}" out
'

test_done
