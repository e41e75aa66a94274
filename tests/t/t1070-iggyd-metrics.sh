#!/bin/bash
test_description='vibes-iggyd: GET /metrics in Prometheus text format, checked by promtool'
# What vibes-iggyd(8) promises under "Metrics": upstream's families and
# ours, with values that follow what was done over TCP and HTTP, a text
# that `promtool check metrics` accepts (odd names in labels included).
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
D=$VIBES_IGGY_DATA_DIR

if ! command -v curl >/dev/null || ! command -v promtool >/dev/null ||
   ! command -v jq >/dev/null; then
	echo "1..0 # SKIP curl, jq and promtool (Debian: prometheus) are needed"
	[ -n "${CI:-}" ] && exit 1
	exit 0
fi

base() { echo "http://$(cat "$D/http.addr")"; }
scrape() { curl -s -D hdrs -o metrics -w "%{http_code}" "$(base)/metrics"; }
# value SAMPLE: the value of the sample line that starts with SAMPLE.
value() { awk -v k="$1 " "index(\$0, k) == 1 { print \$NF; exit }" metrics; }
# sum PREFIX: the sum of the values of the samples whose line starts so.
sum() { awk -v k="$1" "index(\$0, k) == 1 { s += \$NF } END { print s + 0 }" metrics; }

test_expect_success 'a fresh server: 200 text/plain 0.0.4, no token needed, promtool is happy' '
	start_server "$D" --http 127.0.0.1:0 --fsync always &&
	test "$(scrape)" = 200 &&
	grep -qi "^content-type: text/plain; version=0.0.4; charset=utf-8" hdrs &&
	grep -qi "^access-control-allow-origin: \*" hdrs &&
	promtool check metrics <metrics &&
	for f in http_requests_total streams topics partitions segments messages users clients; do
		grep -q "^# TYPE $f " metrics || { echo "no family $f"; exit 1; }
	done &&
	test "$(value streams)" = 0 &&
	test "$(value users)" = 1 &&
	test "$(value http_requests_total)" -ge 1 &&
	up=$(value vibes_uptime_seconds) &&
	awk -v u="$up" "BEGIN { exit !(u > 0 && u < 600) }" &&
	test "$(value vibes_disk_used_bytes)" -gt 0
'

test_expect_success 'messages and bytes in and out per partition follow vibes-append and vibes-poll' '
	addr=$(cat "$D/server.addr") &&
	for i in $(seq 1 20); do echo "{\"session_id\":\"s$((i % 4))\",\"n\":$i}"; done >events &&
	vibes-append --server "$addr" <events &&
	vibes-poll --server "$addr" -c reader >got &&
	test $(wc -l <got) = 20 &&
	test "$(scrape)" = 200 && promtool check metrics <metrics &&
	test "$(sum "vibes_partition_messages_in_total{stream=\"vibes\",topic=\"events\",")" = 20 &&
	test "$(sum "vibes_partition_messages_out_total{stream=\"vibes\",topic=\"events\",")" = 20 &&
	test "$(sum "vibes_partition_messages{stream=\"vibes\",topic=\"events\",")" = 20 &&
	test "$(grep -c "^vibes_partition_messages_in_total{stream=\"vibes\",topic=\"events\",partition=\"[0-7]\"}" metrics)" = 8 &&
	in=$(sum "vibes_partition_bytes_in_total{stream=\"vibes\",topic=\"events\",") &&
	out=$(sum "vibes_partition_bytes_out_total{stream=\"vibes\",topic=\"events\",") &&
	# each event: 64 bytes of header, its payload, its "key" header
	test "$in" -gt $((20 * 64 + $(tr -d "\n" <events | wc -c))) &&
	test "$(sum "vibes_partition_bytes{stream=\"vibes\",topic=\"events\",")" = "$in" &&
	# a poll may return a message more than once; never less than sent
	test "$out" -ge "$in" &&
	# upstream'\''s totals are the sums over every partition
	test "$(value messages)" = "$(sum "vibes_partition_messages{")" &&
	test "$(value partitions)" = "$(grep -c "^vibes_partition_segments{" metrics)" &&
	test "$(value segments)" = "$(sum "vibes_partition_segments{")" &&
	test "$(value streams)" = 1
'

test_expect_success 'requests per command and transport, errors, latency histograms' '
	test "$(value "vibes_requests_total{command=\"send_messages\",transport=\"tcp\"}")" -ge 1 &&
	test "$(value "vibes_requests_total{command=\"poll_messages\",transport=\"tcp\"}")" -ge 8 &&
	test "$(value "vibes_requests_total{command=\"login_user\",transport=\"tcp\"}")" -ge 2 &&
	# a poll over HTTP counts as an HTTP poll, a missing stream as an error
	code=$(curl -s -o /dev/null -w "%{http_code}" -K <(
		pass=$(sed -n "s/^password=//p" "$D/credentials") &&
		tok=$(curl -s -H "Content-Type: application/json" \
			-d "{\"username\":\"iggy\",\"password\":\"$pass\"}" \
			"$(base)/users/login" | jq -r .access_token.token) &&
		echo "header = \"Authorization: Bearer $tok\"") \
		"$(base)/streams/nope/topics/t/messages") &&
	test "$code" = 404 &&
	test "$(scrape)" = 200 && promtool check metrics <metrics &&
	test "$(value "vibes_requests_total{command=\"poll_messages\",transport=\"http\"}")" = 1 &&
	test "$(value "vibes_request_errors_total{command=\"poll_messages\",transport=\"http\"}")" = 1 &&
	test "$(value "vibes_requests_total{command=\"login_user\",transport=\"http\"}")" = 1 &&
	test "$(value "vibes_http_responses_total{code=\"4xx\"}")" -ge 1 &&
	# histograms: cumulative buckets, +Inf = _count
	n=$(value "vibes_request_duration_seconds_count{command=\"send_messages\"}") &&
	inf=$(value "vibes_request_duration_seconds_bucket{command=\"send_messages\",le=\"+Inf\"}") &&
	test "$n" -ge 1 && test "$n" = "$inf" &&
	grep "^vibes_request_duration_seconds_bucket{command=\"poll_messages\"" metrics |
		awk "{ if (\$NF < last) exit 1; last = \$NF }" &&
	grep -q "^vibes_request_duration_seconds_sum{command=\"send_messages\"} " metrics
'

test_expect_success 'fsync count and latency (--fsync always syncs before each acknowledgement)' '
	n=$(value vibes_fsync_total) &&
	test "$n" -ge 1 &&
	test "$(value "vibes_fsync_duration_seconds_count")" = "$n" &&
	test "$(value "vibes_fsync_duration_seconds_bucket{le=\"+Inf\"}")" = "$n" &&
	test "$(value vibes_fsync_failures_total)" = 0
'

test_expect_success 'connected clients and consumer-group members, as they come and go' '
	# (alone: "&" after an && chain would put the whole chain in the
	# background, and $! would not be vibes-poll)
	vibes-poll --server "$(cat "$D/server.addr")" -g workers -f \
		</dev/null >/dev/null 2>member.err &
	member=$!
	test_when_finished "kill $member" &&
	i=0 &&
	while ! { test "$(scrape)" = 200 &&
		  test "$(value "vibes_consumer_group_members{stream=\"vibes\",topic=\"events\",group=\"workers\"}")" = 1; }; do
		i=$((i + 1)); test $i -lt 200 || { cat member.err; exit 1; }
		sleep 0.05
	done &&
	test "$(value "vibes_connected_clients{transport=\"tcp\"}")" -ge 1 &&
	test "$(value clients)" -ge 1 &&
	test "$(value vibes_consumer_groups)" = 1 &&
	promtool check metrics <metrics &&
	kill $member && wait $member;
	i=0 &&
	while ! { test "$(scrape)" = 200 &&
		  test "$(value "vibes_consumer_group_members{stream=\"vibes\",topic=\"events\",group=\"workers\"}")" = 0; }; do
		i=$((i + 1))
		test $i -lt 200 || { grep "members{" metrics; cat member.err; exit 1; }
		sleep 0.05
	done
'

test_expect_success 'names with quotes, backslashes and newlines are escaped in labels' '
	addr=$(cat "$D/server.addr") &&
	echo "{\"n\":1}" | vibes-append --server "$addr" -s "we\"ird\\s" -t "new
line" --partitions 1 &&
	test "$(scrape)" = 200 &&
	promtool check metrics <metrics &&
	grep -F "vibes_partition_messages_in_total{stream=\"we\\\"ird\\\\s\",topic=\"new\\nline\",partition=\"0\"} 1" metrics
'

test_done
