#!/bin/bash
test_description='Iggy 0.9: which protocol the tools speak, mixed 0.8/0.9 runs, evictions'
. "$(dirname "$0")/test-lib.sh"

unset VIBES_IGGY_PROTOCOL
export VIBES_IGGY_AUTOSTART=0 XDG_CACHE_HOME="$TRASH/cache"
start_server || exit 1

test_expect_success 'auto: the data dir'\''s server, through its local socket: 0.8 (its native protocol), no probe' '
	echo "{\"n\":0}" >n0 &&
	vibes-append -t auto -v n0 2>err &&
	grep "^vibes-append: speaking Iggy 0.8 to $SERVER_ADDR through $VIBES_IGGY_DATA_DIR/server.sock$" err &&
	! test -e "$XDG_CACHE_HOME/vibes/protocols"
'

test_expect_success 'auto: a server named by its address is probed, and what it speaks remembered per address' '
	echo "{\"n\":1}" | VIBES_IGGY_ADDR=$SERVER_ADDR vibes-append -t auto -v 2>err &&
	grep "^vibes-append: speaking Iggy 0.8 to $SERVER_ADDR$" err &&
	grep "^$SERVER_ADDR 0.8$" "$XDG_CACHE_HOME/vibes/protocols" &&
	echo "{\"n\":1}" | VIBES_IGGY_ADDR=$SERVER_ADDR vibes-append -t auto2 -v 2>err &&
	grep "^vibes-append: speaking Iggy 0.8 to $SERVER_ADDR$" err &&
	test $(grep -c "^$SERVER_ADDR " "$XDG_CACHE_HOME/vibes/protocols") = 1
'

test_expect_success '--protocol 0.9, VIBES_IGGY_PROTOCOL=0.9 and ?protocol=0.9 speak 0.9' '
	echo "{\"n\":2}" >n2 &&
	vibes-append -t auto --protocol 0.9 -v n2 2>err &&
	grep "^vibes-append: speaking Iggy 0.9 to $SERVER_ADDR through $VIBES_IGGY_DATA_DIR/server.sock$" err &&
	VIBES_IGGY_PROTOCOL=0.9 vibes-poll -c c1 -t auto -v >out 2>err &&
	grep "^vibes-poll: speaking Iggy 0.9 to $SERVER_ADDR through $VIBES_IGGY_DATA_DIR/server.sock$" err &&
	printf "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n" >want && test_cmp want out &&
	pass=$(sed -n "s/^password=//p" "$VIBES_IGGY_DATA_DIR/credentials") &&
	VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=$pass vibes-seek -c c1 -t auto -v \
		--server "iggy://$SERVER_ADDR?protocol=0.9" >/dev/null 2>err &&
	grep "^vibes-seek: speaking Iggy 0.9 to $SERVER_ADDR$" err &&
	test_must_fail 2 vibes-poll -c c1 --protocol 1.0 2>err &&
	grep "^vibes-poll: --protocol: .1.0.: use 0.8, 0.9 or auto$" err &&
	VIBES_IGGY_PROTOCOL=0.7 test_must_fail 2 vibes-poll -c c1 2>err &&
	grep "VIBES_IGGY_PROTOCOL=.0.7.: use 0.8, 0.9 or auto" err
'

test_expect_success 'mixed: a 0.8 producer and a 0.9 consumer, then the reverse, byte for byte' '
	seq 1 2000 | sed "s/.*/{\"n\":&,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}/" >in &&
	vibes-append -t mix8 --protocol 0.8 --key n <in &&
	vibes-poll -c r -t mix8 --protocol 0.9 >got9 &&
	sort in >want && sort got9 >have && test_cmp want have &&
	vibes-append -t mix9 --protocol 0.9 --key n <in &&
	vibes-poll -c r -t mix9 --protocol 0.8 >got8 &&
	sort got8 >have && test_cmp want have &&
	for p in $(seq 0 7); do
		vibes-poll -c q -t mix8 -p $p --protocol 0.8 >a.$p &&
		vibes-poll -c q -t mix9 -p $p --protocol 0.9 >b.$p &&
		test_cmp a.$p b.$p || return 1
	done
'

test_expect_success 'mixed in one partition: 0.8 and 0.9 sends in turn, read in either, whole or a few at a time' '
	: >want &&
	for i in 1 2 3 4 5 6; do
		seq $((i * 100 - 99)) $((i * 100)) | sed "s/.*/{\"n\":&}/" >part &&
		cat part >>want &&
		proto=0.9 && [ $((i % 2)) = 0 ] || proto=0.8 &&
		vibes-append -t one -p 0 --batch 30 --protocol $proto <part ||
		return 1
	done &&
	vibes-poll -c a -t one -p 0 --protocol 0.8 >got && test_cmp want got &&
	vibes-poll -c b -t one -p 0 --protocol 0.9 >got && test_cmp want got &&
	for proto in 0.8 0.9; do
		: >got &&
		for k in $(seq 1 40); do
			vibes-poll -c "s$proto" -t one -p 0 --protocol $proto \
				--batch 7 -n 15 >>got || return 1
		done &&
		test_cmp want got || return 1
	done
'

test_expect_success '0.9 acks carry the offsets the server gave (send confirmations)' '
	printf "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n" |
		vibes-append -t acks -p 0 --protocol 0.9 --acks >acks &&
	cat acks &&
	test $(wc -l <acks) = 3 &&
	grep -c "\"offset\":[0-2]" acks | grep -q "^3$"
'

test_expect_success 'a refused 0.9 login is an eviction that says why (exit 77)' '
	echo "{\"n\":1}" | VIBES_IGGY_USERNAME=iggy VIBES_IGGY_PASSWORD=wrong-password \
		test_must_fail 77 vibes-append -t auto --protocol 0.9 2>err &&
	grep "evicted (invalid_credentials)" err
'

# An unknown user is refused at once (auth.c answers without the password
# worker): the Register is answered by that eviction alone (a merge once
# took the eviction for the login's answer and bound a session instead).
test_expect_success 'a 0.9 login as an unknown user is evicted at once and binds no session' '
	echo "{\"n\":1}" | VIBES_IGGY_USERNAME=nosuchuser VIBES_IGGY_PASSWORD=whatever \
		test_must_fail 77 vibes-append -t unknown --protocol 0.9 2>err &&
	grep "evicted (invalid_credentials)" err
'

test_expect_success 'a 0.9 group: members share the partitions, every event read once' '
	seq 1 400 | sed "s/.*/{\"n\":&}/" | vibes-append -t grp --protocol 0.9 &&
	vibes-poll -g g -t grp --protocol 0.9 -n 150 >one &&
	vibes-poll -g g -t grp --protocol 0.9 >two &&
	cat one two | sort >have &&
	seq 1 400 | sed "s/.*/{\"n\":&}/" | sort >want &&
	test_cmp want have
'

test_done
