# lib-netns.sh - sourced first (before test-lib.sh) by the tests that need
# fixed ports such as the default 8090, or a tool that starts the server
# by itself (which tries 8090 first): the script runs again in a private
# network namespace of its own, where nothing else holds those ports and
# no other server answers on them.  VIBES_T_NETNS is set there; where no
# namespace can be had (neither as root nor in a user namespace) the
# script runs as it is, and netns_test skips what needs one.

if [ -z "${VIBES_T_NETNS:-}" ] &&
   _ip=$(PATH=$PATH:/usr/sbin:/sbin command -v ip); then
	for _ns in "unshare -n" "unshare -rn"; do
		if $_ns true 2>/dev/null; then
			VIBES_T_NETNS=$_ns exec $_ns bash -c \
				'"$1" link set lo up && exec bash "$0"' "$0" "$_ip"
		fi
	done
fi

# netns_test TITLE BODY: a test that needs the private namespace; skipped
# without one (and failed in CI, which has one).
netns_test() {
	if [ -n "${VIBES_T_NETNS:-}" ]; then
		test_expect_success "$1" "$2"
	elif [ -n "${CI:-}" ]; then
		test_expect_success "$1" "echo 'no private network namespace (unshare -n or -rn) in CI'; false"
	else
		test_count=$((test_count + 1))
		printf 'ok %d - %s # skip no private network namespace here\n' \
			"$test_count" "$1"
	fi
}
