#!/bin/bash
test_description='bash, zsh and fish completions really complete what --help lists'
# Each completion is loaded into its shell and asked, as a user's TAB
# would: bash through COMP_WORDS/COMP_CWORD and the completion function,
# zsh through a pseudo-terminal (zsh/zpty) running compinit with a capturing
# compadd, fish through `complete -C`.  zsh and fish are checked when
# installed (.ci/run installs them); without them the checks show as
# skipped, and fail when $CI is set, so CI never skips them.
. "$(dirname "$0")/test-lib.sh"

export LC_ALL=C
COMP=$VIBES_SOURCE_DIR/completions
TOOLS="vibes-append vibes-poll vibes-seek vibes-topic vibes-iggyctl vibes-iggyd"

skip_test() {
	test_count=$((test_count + 1))
	printf 'ok %d - %s # skip %s\n' "$test_count" "$1" "$2"
}

# complete_bash TOOL WORD...: the candidates bash offers for the last WORD
# (which may be empty), one per line.
complete_bash() {
	bash -c '
		. "$1/bash/$2" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		fn=$(complete -p "$1" | sed -E "s/.*-F ([^ ]+) .*/\1/")
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$COMP" "$@" | grep . | sort -u
}

# complete_zsh TOOL WORD...: the same through a real interactive zsh.
cat >"$TRASH/capture.zsh" <<'EOF'
# capture.zsh COMPDIR LINE: prints the matches zsh's completion system
# offers for LINE followed by TAB, one per line.
zmodload zsh/zpty || exit 3
local compdir=$1 line=$2 out init=$PWD/.capture-init.$$.zsh
cat >$init <<INIT
PS1= PROMPT= RPROMPT=
fpath=(${(q)compdir} \$fpath)
autoload -Uz compinit && compinit -u -D
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd() {
	if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
		builtin compadd "\$@"
		return
	fi
	local -a hits
	builtin compadd -A hits "\$@"
	local h
	for h in \$hits; do print -r -- "<<match:\$h>>"; done
	builtin compadd "\$@"
}
_capture_done() { print -r -- '<<end>>'; exit 0 }
comppostfuncs=(_capture_done)
print -r -- '<<ready>>'
INIT
zpty z zsh -f -i
zpty -w z "source ${(q)init}"
while zpty -r z out; do
	[[ $out == *'<<ready>>'* ]] && break
done
rm -f $init
zpty -w -n z "$line"$'\t'
while zpty -r z out; do
	[[ $out == *'<<end>>'* ]] && break
	[[ $out == *'<<match:'* ]] && { out=${out#*<<match:}; print -r -- ${out%%'>>'*}; }
done
zpty -d z
EOF
complete_zsh() {
	local tool=$1 line
	shift
	line="$tool $*"
	timeout 30 zsh -f "$TRASH/capture.zsh" "$COMP/zsh" "$line" |
		grep . | sort -u
}

# complete_fish TOOL WORD...: the same through fish's `complete -C`.
complete_fish() {
	local tool=$1 line
	shift
	line="$tool $*"
	fish -c 'source $argv[1]; complete -C $argv[2]' \
		"$COMP/fish/$tool.fish" "$line" | cut -f 1 | grep . | sort -u
}

# What --help lists: long options, short options, iggyctl's commands and
# its command options ("--opt cmd1 cmd2 ...").
help_longs() {
	if [ "$1" = vibes-iggyctl ]; then
		vibes-iggyctl --help | sed -n '/^Global options:/,/^$/p'
	else
		"$1" --help
	fi | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}
help_shorts() {
	if [ "$1" = vibes-iggyctl ]; then
		vibes-iggyctl --help | sed -n '/^Global options:/,/^$/p'
	else
		"$1" --help
	fi | sed -nE 's/^ +(-[A-Za-z0-9]), --.*/\1/p' | sort -u
}
ctl_commands() {
	vibes-iggyctl --help | sed -n '/^Commands:/,/^$/p' |
		sed -nE 's/^  ([a-z]+)( .*|$)/\1/p'
}
# "SHORT --LONG COMMAND..." for each command option of --help; SHORT is
# "-" for a long-only option.
ctl_command_options() {
	vibes-iggyctl --help | sed -n '/^Command options:/,/^$/p' |
		sed -nE 's/^ +((-[a-z]), )?(--[a-z-]+)( [A-Z]+)? +([a-z, ]+): .*/\2 \3 \5/p' |
		sed 's/^ /- /' | tr -d ,
}

# want_all SHELL DESCRIPTION EXPECTED-FILE: every line of EXPECTED-FILE
# is among the candidates in ./got.
want_all() {
	local w bad=0
	while read -r w; do
		grep -qxF -- "$w" got || {
			echo "$1: $2: $w not offered"
			bad=1
		}
	done <"$3"
	[ $bad = 0 ] || { echo "offered:"; cat got; }
	return $bad
}
# want_exactly SHELL DESCRIPTION WORD...: the candidates are these words
# (file names compared by their last component: bash gives the path, zsh
# the last component, fish the path with a slash after directories).
want_exactly() {
	local sh=$1 what=$2
	shift 2
	if [ $# = 0 ]; then
		: >want
	else
		printf '%s\n' "$@" | sort -u >want
	fi
	sed -E 's/^--[a-z-]+=//; s#/$##; s#.*/##' got | sort -u >got.values
	test_cmp want got.values || {
		echo "$sh: $what: expected exactly: $*"
		return 1
	}
}

# check_shell SHELL TOOL: the options, values and arguments of TOOL.
check_shell() {
	local sh=$1 tool=$2 c o cmds rc=0
	help_longs "$tool" >longs
	help_shorts "$tool" >shorts
	test -s longs || { echo "no option in $tool --help"; return 1; }
	if [ "$tool" = vibes-iggyctl ]; then
		"complete_$sh" "$tool" -- >got &&
			want_all "$sh" "'$tool --<TAB>'" longs || rc=1
		"complete_$sh" "$tool" - >got &&
			want_all "$sh" "'$tool -<TAB>'" shorts || rc=1
		ctl_commands >cmds
		test "$(wc -l <cmds)" -ge 8 || { echo "no commands in --help"; return 1; }
		"complete_$sh" "$tool" "" >got &&
			want_all "$sh" "'$tool <TAB>'" cmds || rc=1
		"complete_$sh" "$tool" -d "$TRASH" "" >got &&
			want_all "$sh" "'$tool -d DIR <TAB>'" cmds || rc=1
		"complete_$sh" "$tool" --data-dir "$TRASH" st >got &&
			want_exactly "$sh" "'$tool --data-dir DIR st<TAB>'" \
				start status stop || rc=1
		ctl_command_options >cmdopts
		test -s cmdopts || { echo "no command options in --help"; return 1; }
		while read -r short long cmds; do
			[ "$short" != - ] || short=
			for c in $cmds; do
				"complete_$sh" "$tool" "$c" -- >got &&
					echo "$long" >w &&
					want_all "$sh" "'$tool $c --<TAB>'" w || rc=1
				[ -z "$short" ] && continue
				"complete_$sh" "$tool" "$c" - >got &&
					echo "$short" >w &&
					want_all "$sh" "'$tool $c -<TAB>'" w || rc=1
			done
		done <cmdopts
		"complete_$sh" "$tool" --data-dir "$TRASH/di" >got &&
			want_exactly "$sh" "'$tool --data-dir DIR/di<TAB>'" \
				dirA || rc=1
		return $rc
	fi
	"complete_$sh" "$tool" -- >got &&
		want_all "$sh" "'$tool --<TAB>'" longs || rc=1
	if [ -s shorts ]; then
		"complete_$sh" "$tool" - >got &&
			want_all "$sh" "'$tool -<TAB>'" shorts || rc=1
	fi
	# A directory value: only directories.
	"complete_$sh" "$tool" --data-dir "$TRASH/di" >got &&
		want_exactly "$sh" "'$tool --data-dir DIR/di<TAB>'" \
			dirA || rc=1
	case $tool in
	vibes-append | vibes-poll | vibes-seek | vibes-topic)
		# the profile names of $XDG_CONFIG_HOME/vibes/servers
		"complete_$sh" "$tool" --server "" >got &&
			printf '%s\n' prof-one prof.two >w &&
			want_all "$sh" "'$tool --server <TAB>'" w || rc=1
		;;
	esac
	case $tool in
	vibes-append)
		"complete_$sh" "$tool" -v "$TRASH/fi" >got &&
			want_exactly "$sh" "'$tool FILE<TAB>'" fileB.jsonl ||
			rc=1
		"complete_$sh" "$tool" --key-field "" >got &&
			want_exactly "$sh" "'$tool --key-field <TAB>'" session_id ||
			rc=1
		;;
	vibes-poll)
		"complete_$sh" "$tool" --format "" >got &&
			want_exactly "$sh" "'$tool --format <TAB>'" raw json || rc=1
		"complete_$sh" "$tool" --format=j >got &&
			want_exactly "$sh" "'$tool --format=j<TAB>'" json || rc=1
		"complete_$sh" "$tool" --from "" >got &&
			want_exactly "$sh" "'$tool --from <TAB>'" \
				committed beginning end || rc=1
		"complete_$sh" "$tool" --handoff "" >got &&
			want_exactly "$sh" "'$tool --handoff <TAB>'" line block ||
			rc=1
		# No file arguments.
		"complete_$sh" "$tool" -c x "$TRASH/fi" >got &&
			want_exactly "$sh" "'$tool -c x FILE<TAB>'" || rc=1
		;;
	vibes-seek)
		"complete_$sh" "$tool" --to "" >got &&
			want_exactly "$sh" "'$tool --to <TAB>'" beginning end || rc=1
		"complete_$sh" "$tool" -c x "$TRASH/fi" >got &&
			want_exactly "$sh" "'$tool -c x FILE<TAB>'" || rc=1
		;;
	vibes-iggyd)
		"complete_$sh" "$tool" --fsync "" >got &&
			want_exactly "$sh" "'$tool --fsync <TAB>'" never always 1000 ||
			rc=1
		;;
	esac
	return $rc
}

mkdir -p "$TRASH/dirA" && : >"$TRASH/fileB.jsonl"
export XDG_CONFIG_HOME="$TRASH/config"
mkdir -p "$XDG_CONFIG_HOME/vibes" &&
printf '# profiles\nprof-one iggy://h:1\n\n  prof.two 127.0.0.1:2 c.cred\n' \
	>"$XDG_CONFIG_HOME/vibes/servers"

# bash splits "--opt=value" at '=' (COMP_WORDBREAKS): check that form too.
test_expect_success 'bash: --opt=value as bash splits it and as one word' '
	complete_bash vibes-poll --format = j >got &&
	want_exactly bash "--format = j" json &&
	complete_bash vibes-poll --format = "" >got &&
	want_exactly bash "--format =" raw json &&
	complete_bash vibes-poll --format=r >got &&
	grep -qx -- --format=raw got &&
	complete_bash vibes-iggyctl --data-dir = "$TRASH" st >got &&
	want_exactly bash "--data-dir = DIR st" start status stop
'

for sh in bash zsh fish; do
	for tool in $TOOLS; do
		title="$sh: $tool completes every option of --help and its values"
		if ! command -v $sh >/dev/null; then
			if [ -n "${CI:-}" ]; then
				test_expect_success "$title" "
					echo '$sh is not installed; CI must install it (.ci/run)'
					false
				"
			else
				skip_test "$title" "$sh is not installed"
			fi
			continue
		fi
		test_expect_success "$title" "check_shell $sh $tool"
	done
done

test_done
