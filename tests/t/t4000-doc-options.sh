#!/bin/bash
test_description='--help, option tables, man pages and completions agree'
# git's t0450 idea (STYLE.md §2, §6 item 5): for every tool the long options
# named by `--help`, by the getopt_long tables in cmd/, by the man page's
# SYNOPSIS and OPTIONS list and by the bash, zsh and fish completions are
# the same set; a difference fails naming the tool, the option and where it
# is missing.  The same goes for short options, vibes-iggyctl's commands,
# environment variables (getenv in the code each tool runs), data-dir files
# and exit statuses.
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
SRC=$VIBES_SOURCE_DIR
TOOLS="vibes-append vibes-poll vibes-seek vibes-topic vibes-iggyctl vibes-iggyd"
# Programs in libexecdir that only other programs run: a man page, no
# completions.
INTERNAL="vibes-supervise"

man_of() {
	case $1 in
	vibes-iggyd | vibes-supervise) echo "$SRC/man/$1.8" ;;
	*) echo "$SRC/man/$1.1" ;;
	esac
}
# The sources of check_long for a tool.
sources_of() {
	case " $INTERNAL " in
	*" $1 "*) echo "help table synopsis manopts" ;;
	*) echo "help table synopsis manopts bash zsh fish" ;;
	esac
}

# Lines of the mdoc section $2 (e.g. SYNOPSIS) of man page $1.
man_section() {
	awk -v want="$2" '/^\.Sh / { in_sec = ($2 == want); next } in_sec' "$1"
}

# The options (--long and -s) that follow each Fl macro on stdin's lines.
fl_options() {
	awk '{
		for (i = 1; i <= NF; i++) {
			if ($i != "Fl" && $i != ".Fl")
				continue
			for (j = i + 1; j <= NF; j++) {
				t = $j
				sub(/[,;.]$/, "", t)
				if (t == "|" || t == "," || t == "")
					continue
				if (t ~ /^-[a-z][a-z0-9-]*$/)
					print "-" t
				else if (t ~ /^[A-Za-z0-9]$/)
					print "-" t
				else
					break
			}
		}
	}'
}

long_only() { grep -E -- '^--[a-z]' | sort -u; }
short_only() { grep -E -- '^-[A-Za-z0-9]$' | sort -u; }

# The option sources, each printing one option per line.
src_help() { "$1" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
src_table() {
	local f="$SRC/cmd/$1.c"
	{
		cat "$f"
		grep -q CLI_LONGOPTS "$f" && cat "$SRC/cmd/log-cli.h"
	} | sed -nE 's/.*\{ *"([a-z][a-z0-9-]*)", *(no|required|optional)_argument.*/--\1/p' |
		sort -u
}
# "--name required|no|optional" for every entry of the tables.
table_kinds() {
	local f="$SRC/cmd/$1.c"
	{
		cat "$f"
		grep -q CLI_LONGOPTS "$f" && cat "$SRC/cmd/log-cli.h"
	} | sed -nE 's/.*\{ *"([a-z][a-z0-9-]*)", *(no|required|optional)_argument.*/--\1 \2/p' |
		sort -u
}
src_synopsis() { man_section "$(man_of "$1")" SYNOPSIS | fl_options | long_only; }
src_manopts() {
	man_section "$(man_of "$1")" DESCRIPTION | grep '^\.It Fl ' |
		fl_options | long_only
}
comp_file() {
	case $2 in
	bash) echo "$SRC/completions/bash/$1" ;;
	zsh) echo "$SRC/completions/zsh/_$1" ;;
	fish) echo "$SRC/completions/fish/$1.fish" ;;
	esac
}
src_bash() {
	grep -v '^[[:space:]]*#' "$(comp_file "$1" bash)" |
		grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
src_zsh() {
	grep -v '^[[:space:]]*#' "$(comp_file "$1" zsh)" |
		grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
src_fish() {
	grep '^complete ' "$(comp_file "$1" fish)" |
		grep -oE -- ' -l [a-z][a-z0-9-]*' | sed 's/.*-l /--/' | sort -u
}

where() {
	case $2 in
	help) echo "'$1 --help'" ;;
	table) echo "the getopt_long table (cmd/$1.c)" ;;
	synopsis) echo "the man page SYNOPSIS (${3#$SRC/})" ;;
	manopts) echo "the man page OPTIONS list (${3#$SRC/})" ;;
	bash | zsh | fish) echo "the $2 completion (${3#$SRC/})" ;;
	esac
}

# check_long TOOL: every long option of any source is in every source.
check_long() {
	local tool=$1 s o bad=0 file
	for s in $(sources_of "$tool"); do
		"src_$s" "$tool" >"$s.opts" || {
			echo "$tool: cannot read options from $s"
			return 1
		}
		test -s "$s.opts" || {
			echo "$tool: no option found in $(where "$tool" $s "$(man_of "$tool")")"
			bad=1
		}
	done
	sort -u ./*.opts >all.opts
	for s in $(sources_of "$tool"); do
		case $s in
		synopsis | manopts) file=$(man_of "$tool") ;;
		bash | zsh | fish) file=$(comp_file "$tool" $s) ;;
		*) file= ;;
		esac
		for o in $(comm -23 all.opts "$s.opts"); do
			echo "$tool: $o missing from $(where "$tool" $s "$file")"
			bad=1
		done
	done
	rm -f ./*.opts
	return $bad
}

# check_short TOOL: the short options of the getopt strings and the
# "-x, --long" pairs of --help agree, and the man page OPTIONS list, the
# zsh and the fish completions give each short option with its long one.
check_short() {
	local tool=$1 f="$SRC/cmd/$1.c" cli letters pairs x long bad=0 man
	man=$(man_of "$tool")
	cli=$(sed -nE 's/^#define CLI_SHORTOPTS "(.*)"/\1/p' "$SRC/cmd/log-cli.h")
	letters=$(tr '\n' ' ' <"$f" |
		grep -oE 'getopt_long\([^,]*,[^,]*,[^,]*,' |
		sed -E "s/CLI_SHORTOPTS/\"$cli\"/g; s/getopt_long\([^,]*,[^,]*,//" |
		tr -d ' ":+,' | grep -oE '[A-Za-z0-9]' | sort -u)
	pairs=$("$tool" --help | sed -nE 's/^ +-([A-Za-z0-9]), (--[a-z][a-z0-9-]*).*/\1 \2/p')
	for x in $letters; do
		echo "$pairs" | grep -q "^$x " || {
			echo "$tool: -$x (getopt string in cmd/$tool.c) missing from '$tool --help' as '-$x, --long'"
			bad=1
		}
	done
	echo "$pairs" | while read -r x long; do
		[ -n "$x" ] || continue
		echo "$letters" | grep -qx -- "$x" || {
			echo "$tool: -$x ($long in --help) missing from the getopt string of cmd/$tool.c"
			exit 1
		}
		man_section "$man" DESCRIPTION | grep '^\.It Fl ' |
			grep -E -- "Fl $x( |$)" | grep -qE -- "Fl ${long#-}( |$)" || {
			echo "$tool: -$x missing from the man page OPTIONS list (${man#$SRC/}) next to $long"
			exit 1
		}
		grep -v '^[[:space:]]*#' "$(comp_file "$tool" zsh)" |
			grep -E -- "[{(' ]-$x[+,=} ]" | grep -q -- "$long[=\[},']" || {
			echo "$tool: -$x missing from the zsh completion next to $long"
			exit 1
		}
		grep -E -- "-s $x " "$(comp_file "$tool" fish)" |
			grep -q -- "-l ${long#--} " || {
			echo "$tool: -$x missing from the fish completion next to $long"
			exit 1
		}
	done || bad=1
	return $bad
}

# getenv() names in the given sources (string literals or macros).
getenv_names() {
	local n
	cat "$@" | grep -oE 'getenv\([^)]*\)' | sed -E 's/getenv\((.*)\)/\1/' |
		while read -r n; do
			case $n in
			\"*\") n=${n#\"}; echo "${n%\"}" ;;
			*) cat "$SRC"/lib/*/*.h |
				sed -nE "s/^#define $n \"(.*)\"/\\1/p" ;;
			esac
		done | sort -u
}
code_of() {
	case $1 in
	vibes-append | vibes-poll | vibes-seek | vibes-topic)
		echo "$SRC/cmd/$1.c $SRC/cmd/log-cli.h $SRC/lib/base/*.c" \
			"$SRC/lib/client/*.c $SRC/lib/log/*.c $SRC/lib/ctl/*.c"
		;;
	vibes-iggyctl)
		echo "$SRC/cmd/$1.c $SRC/lib/base/*.c $SRC/lib/client/*.c" \
			"$SRC/lib/ctl/*.c"
		;;
	vibes-iggyd)
		echo "$SRC/cmd/$1.c $SRC/lib/base/*.c $SRC/lib/broker/*.c" \
			"$SRC/lib/store/*.c"
		;;
	esac
}
# Read only by vb_ctl_connect and the server profiles, which
# vibes-iggyctl never uses.
not_read_by() {
	case $1 in
	vibes-iggyctl) echo "VIBES_IGGY_ADDR VIBES_IGGY_AUTOSTART XDG_CONFIG_HOME VIBES_IGGY_TLS_CA XDG_CACHE_HOME VIBES_IGGY_PROTOCOL" ;;
	esac
}

check_env() {
	local tool=$1 man n bad=0
	man=$(man_of "$tool")
	# shellcheck disable=SC2046
	getenv_names $(code_of "$tool") >env.code
	test -s env.code || { echo "$tool: no getenv() found in its code"; return 1; }
	man_section "$man" ENVIRONMENT | grep '^\.It Ev ' |
		grep -oE 'Ev [A-Z_][A-Z0-9_]*' | sed 's/^Ev //' | sort -u >env.man
	for n in $(comm -23 env.code env.man); do
		case " $(not_read_by "$tool") " in *" $n "*) continue ;; esac
		echo "$tool: \$$n (read by its code) missing from the ENVIRONMENT of ${man#$SRC/}"
		bad=1
	done
	for n in $(comm -13 env.code env.man); do
		echo "$tool: \$$n in the ENVIRONMENT of ${man#$SRC/} is read nowhere in its code"
		bad=1
	done
	return $bad
}

# Exit statuses: those --help lists, the VB_EX_* (and local EX_*) codes its
# main uses, and every code vb_err_exit() maps to when it uses that, must be
# the man page's EXIT STATUS entries, and the other way round.
exit_value() {
	sed -nE "s/^[[:space:]]*$1 = ([0-9]+),.*/\\1/p" "$SRC/lib/base/vb_exit.h"
}
check_exit() {
	local tool=$1 man f="$SRC/cmd/$1.c" n bad=0 files
	man=$(man_of "$tool")
	files=$f
	grep -q 'log-cli.h' "$f" && files="$files $SRC/cmd/log-cli.h"
	{
		"$tool" --help | sed -n '/^Exit status/,$p' |
			grep -oE '(^|[ ,:])[0-9]{1,3} ' | grep -oE '[0-9]+'
		# shellcheck disable=SC2086
		for n in $(cat $files | grep -oE 'VB_EX_[A-Z]+' | sort -u); do
			exit_value "$n"
		done
		sed -nE 's/^#define EX_[A-Z_]+ ([0-9]+)$/\1/p' "$f"
		# shellcheck disable=SC2086
		if grep -qE 'vb_err_exit|cli_die' $files; then
			for n in $(sed -n '/^int vb_err_exit/,/^}/p' "$SRC/lib/base/err.c" |
				   grep -oE 'VB_EX_[A-Z]+' | sort -u); do
				exit_value "$n"
			done
		fi
		# The daemon's "any other failure" is a literal 1 (daemon contract).
		[ "$tool" = vibes-iggyd ] && echo 1
	} | sort -un >exit.code
	man_section "$man" 'EXIT' | grep -E '^\.It [0-9]+$' |
		sed 's/^\.It //' | sort -un >exit.man
	test -s exit.man || { echo "$tool: no EXIT STATUS list in ${man#$SRC/}"; return 1; }
	for n in $(comm -23 exit.code exit.man); do
		echo "$tool: exit status $n missing from the EXIT STATUS of ${man#$SRC/}"
		bad=1
	done
	for n in $(comm -13 exit.code exit.man); do
		echo "$tool: exit status $n in the EXIT STATUS of ${man#$SRC/} is not in --help nor in cmd/$tool.c"
		bad=1
	done
	return $bad
}

# Data-dir files that --help names are in the man page's FILES.
check_files() {
	local tool=$1 man n bad=0
	man=$(man_of "$tool")
	for n in $("$tool" --help |
		   grep -oE '(server\.[a-z]+|ctl\.lock|supervise\.[a-z]+|credentials)' |
		   sort -u); do
		man_section "$man" FILES | grep -E '^\.It Pa ' | grep -q -- "$n" || {
			echo "$tool: $n (named by --help) missing from the FILES of ${man#$SRC/}"
			bad=1
		}
	done
	return $bad
}

for tool in $INTERNAL; do
	test_expect_success "$tool: --help, getopt table, man SYNOPSIS and OPTIONS list the same long options" "
		check_long $tool
	"
	test_expect_success "$tool: short options, files and exit statuses in the man page" "
		check_short $tool && check_files $tool && check_exit $tool
	"
done
for tool in $TOOLS; do
	test_expect_success "$tool: --help, getopt table, man SYNOPSIS and OPTIONS, bash, zsh, fish list the same long options" "
		check_long $tool
	"
	test_expect_success "$tool: short options agree with their long ones everywhere" "
		check_short $tool
	"
	test_expect_success "$tool: environment, files and exit statuses in the man page" "
		check_env $tool && check_files $tool && check_exit $tool
	"
done

# vibes-iggyctl's commands: --help, the man page (SYNOPSIS and the Commands
# list) and each completion name the same ones.
test_expect_success 'vibes-iggyctl: every command in --help, the man page and the completions' '
	man=$(man_of vibes-iggyctl) &&
	vibes-iggyctl --help | sed -n "/^Commands:/,/^$/p" |
		sed -nE "s/^  ([a-z]+)( .*|$)/\1/p" | sort -u >cmds.help &&
	test $(wc -l <cmds.help) -ge 8 &&
	man_section "$man" SYNOPSIS | grep -oE "Cm [a-z |]+" |
		sed "s/^Cm //" | tr " |" "\n\n" | grep . | sort -u >cmds.syn &&
	man_section "$man" DESCRIPTION | sed -nE "s/^\.It Cm ([a-z]+).*/\1/p" |
		sort -u >cmds.desc &&
	bad=0 &&
	for c in $(sort -u cmds.help cmds.syn cmds.desc); do
		for s in help syn desc; do
			grep -qx "$c" cmds.$s ||
			{ echo "vibes-iggyctl: command $c missing from $s"; bad=1; }
		done
		grep -v "^[[:space:]]*#" "$(comp_file vibes-iggyctl bash)" |
			grep "commands=" | grep -qw "$c" ||
			{ echo "vibes-iggyctl: command $c missing from the bash completion"; bad=1; }
		grep -q "^  .$c:" "$(comp_file vibes-iggyctl zsh)" ||
			{ echo "vibes-iggyctl: command $c missing from the zsh completion"; bad=1; }
		grep -q -- "-a $c " "$(comp_file vibes-iggyctl fish)" ||
			{ echo "vibes-iggyctl: command $c missing from the fish completion"; bad=1; }
	done &&
	test $bad = 0
'

# The binaries themselves know every option the docs name, with the right
# kind of argument: "--opt" alone must be refused for wanting an argument,
# "--opt=x" for a flag.  Nothing runs: getopt_long stops first.
iggyctl_cmd_for() {
	case $1 in
	--timeout) echo stop ;;
	--json) echo status ;;
	--follow | --lines) echo logs ;;
	--url) echo http ;;
	esac
}
check_probe() {
	local tool=$1 o kind cmd rc bad=0
	table_kinds "$tool" >kinds
	while read -r o kind; do
		cmd=
		[ "$tool" = vibes-iggyctl ] && cmd=$(iggyctl_cmd_for "$o")
		if [ "$kind" = required ]; then
			"$tool" $cmd "$o" </dev/null >out 2>err
			rc=$?
			want="option '$o' requires an argument"
		else
			"$tool" $cmd "$o=x" </dev/null >out 2>err
			rc=$?
			want="option '$o' doesn't allow an argument"
		fi
		if [ $rc != 2 ] || ! grep -qF -- "$want" err; then
			echo "$tool: ${cmd:+$cmd }$o: expected exit 2 and \"$want\", got exit $rc:"
			cat err
			bad=1
		fi
	done <kinds
	return $bad
}
for tool in $TOOLS $INTERNAL; do
	test_expect_success "$tool: the binary accepts every documented option with its kind of argument" "
		check_probe $tool
	"
done

# Task 5 of issue 6: --help and --version everywhere, usage errors exit 2.
for tool in $TOOLS $INTERNAL; do
	test_expect_success "$tool: --help on stdout exit 0, --version, usage errors exit 2" "
		$tool --help >out 2>err &&
		test ! -s err &&
		head -n 1 out | grep -q '^usage: $tool ' &&
		if test $tool = vibes-iggyd || test $tool = vibes-supervise; then
			test_must_fail 2 $tool -h 2>/dev/null
		else
			$tool -h >out2 && test_cmp out out2
		fi &&
		$tool --version >out 2>err &&
		test ! -s err &&
		grep -qE '^$tool [0-9]+\.[0-9]+' out &&
		test_must_fail 2 $tool --no-such-option </dev/null >out 2>err &&
		test ! -s out &&
		grep -q 'no-such-option' err &&
		test_must_fail 2 $tool --help=x </dev/null >out 2>err &&
		test ! -s out
	"
done

test_done
