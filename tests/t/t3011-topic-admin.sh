#!/bin/bash
test_description='vibes-topic and vibes-seek --all / --delete: see and tidy everything'
. "$(dirname "$0")/test-lib.sh"

export VIBES_IGGY_AUTOSTART=0
start_server || exit 1

test_expect_success 'vibes-topic create, list (table and --json), set' '
	vibes-topic create app --partitions 4 --retention 168h &&
	vibes-topic create -s other audit --max-size 2G &&
	test_must_fail 1 vibes-topic create app 2>err &&
	grep "^vibes-topic: topic vibes/app exists already (vibes-topic set changes it)$" err &&
	for i in $(seq 1 12); do echo "{\"session_id\":\"s$i\"}"; done | vibes-append -t app &&
	vibes-topic list >table &&
	cat table &&
	grep -E "^vibes +app +4 +12 .* 168h +unlimited$" table &&
	grep -E "^other +audit +8 +0 +0 B +never +2.0 GiB$" table &&
	vibes-topic list --json -s vibes >json &&
	grep "^{\"stream\":\"vibes\",\"topic\":\"app\",\"id\":[0-9]*,\"partitions\":4,\"messages\":12,\"bytes\":[1-9][0-9]*,\"retention_us\":604800000000,\"max_size\":null}$" json &&
	test $(wc -l <json) = 1 &&
	vibes-topic set app --retention never --max-size 3G &&
	vibes-topic list --json -s vibes >json &&
	grep "\"retention_us\":null,\"max_size\":3221225472}$" json
'

test_expect_success 'readers never create: a missing topic names the ones there are' '
	test_must_fail 2 vibes-poll -c x -t evnets 2>err &&
	grep "^vibes-poll: topic vibes/evnets does not exist (topics of stream vibes: app; vibes-topic create evnets makes it)$" err &&
	test_must_fail 2 vibes-seek -c x -s nostream 2>err &&
	grep "^vibes-seek: stream nostream does not exist (streams: vibes, other; vibes-topic create -s nostream events makes it)$" err &&
	vibes-topic list >table &&
	test_must_fail grep evnets table
'

test_expect_success 'a follower of a topic that does not exist yet says so and waits' '
	vibes-poll -c late -t later -f >out 2>err &
	pid=$! &&
	i=0 && while ! grep -q "waiting for it" err; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1)); done &&
	grep "^vibes-poll: topic vibes/later does not exist (topics of stream vibes: app; vibes-topic create later makes it); waiting for it$" err &&
	echo "{\"n\":1}" | vibes-append -t later &&
	i=0 && while ! test -s out; do
		[ $i -lt 200 ] || exit 1; sleep 0.05; i=$((i + 1)); done &&
	kill $pid && wait $pid &&
	test "$(cat out)" = "{\"n\":1}"
'

test_expect_success 'vibes-seek --all: every consumer and group, positions, lag, members and owners' '
	vibes-poll -c reader -t app -n 5 >/dev/null &&
	vibes-poll -c done -t app >/dev/null &&
	vibes-poll -g workers -t app -n 3 >/dev/null &&
	vibes-seek --all -t app >all &&
	cat all &&
	grep "^consumer reader: lag 7$" all &&
	grep "^consumer done: lag 0$" all &&
	grep "^group workers: lag 9, 0 members$" all &&
	test $(grep -c "^total " all) = 3 &&
	vibes-seek --all -t app --json >json &&
	test $(wc -l <json) = 3 &&
	grep "^{\"kind\":\"consumer\",\"name\":\"reader\",\"lag\":7,\"partitions\":\[{\"partition\":0," json &&
	grep "^{\"kind\":\"group\",\"name\":\"workers\",\"lag\":9,\"members\":0,\"partitions\":\[.*\"owner\":null" json
'

test_expect_success 'vibes-seek --delete forgets a consumer (it starts anew) and deletes a group' '
	vibes-seek -c reader -t app --delete &&
	vibes-seek -g workers -t app --delete &&
	vibes-seek --all -t app >all &&
	test_must_fail grep "reader\|workers" all &&
	grep "^consumer done: lag 0$" all &&
	vibes-poll -c reader -t app >out &&
	test $(wc -l <out) = 12 &&
	test_must_fail 2 vibes-seek -g workers -t app --delete 2>err &&
	grep "^vibes-seek: group .workers. does not exist in vibes/app$" err &&
	test_must_fail 2 vibes-seek --all -c x 2>err &&
	grep "no -c, -g, --to, --delete or -p with it" err
'

test_expect_success 'purge and delete ask on a terminal, refuse without --yes elsewhere' '
	test_must_fail 2 vibes-topic purge app </dev/null 2>err &&
	grep "not a terminal: give --yes to purge topic vibes/app" err &&
	vibes-topic purge app --yes &&
	vibes-topic list --json -s vibes >json &&
	grep "\"topic\":\"app\",.*\"messages\":0," json &&
	vibes-topic delete app --yes &&
	test_must_fail 2 vibes-topic delete app --yes 2>err &&
	grep "topic vibes/app does not exist" err &&
	test_must_fail 2 vibes-topic frob 2>err &&
	grep "unknown command .frob. (use list, create, set, purge or delete)" err
'

test_done
