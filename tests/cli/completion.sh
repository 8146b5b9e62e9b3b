#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion of memcgctl offers its commands, options, JSON
# modes, sizes and cgroups (memory cgroup directories for monitor/status,
# the monitored ones - from a running memcgd - for unmonitor), a cgroup
# whose name holds a space as one quoted word. And the
# documentation agrees with the program: the man page renders without
# warnings and lists the same exit codes as --help.

source "$(dirname "$0")/lib.sh"

bus_require
cli_require
COMPLETION=${MEMCGCTL_COMPLETION:-$MEMCGD_SOURCE_ROOT/client/memcgctl.bash-completion}
MANPAGE=${MEMCGCTL_MANPAGE:-$MEMCGD_SOURCE_ROOT/client/memcgctl.1}
[ -f "$COMPLETION" ] || skip "no completion script at $COMPLETION"
bus_setup
trap cli_teardown EXIT

# The completion calls "memcgctl": the one under test.
mkdir -p "$BUS_TMP/bin"
ln -s "$MEMCGCTL_BIN" "$BUS_TMP/bin/memcgctl"
PATH="$BUS_TMP/bin:$PATH"

# bash-completion's helpers when installed (as on a real system), else the
# script's own fallback.
if [ -f /usr/share/bash-completion/bash_completion ]; then
        source /usr/share/bash-completion/bash_completion
        say "completion: with bash-completion's _init_completion"
fi
source "$COMPLETION"
complete -p memcgctl >/dev/null && pass "the script registers a completion for memcgctl" ||
        fail "the script registers a completion for memcgctl"

# complete_line LINE: the completions bash would offer at the end of LINE.
complete_line() {
        local line=$1
        read -r -a COMP_WORDS <<<"$line"
        [[ "$line" == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        _memcgctl memcgctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
        printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

assert_eq "commands" "list monitor oom-policy resolve set-limit status unmonitor watch" "$(complete_line "memcgctl ")"
assert_eq "a command's prefix" "set-limit status" "$(complete_line "memcgctl s")"
assert_eq "options" "--json --json=" "$(complete_line "memcgctl --js")"
assert_eq "JSON modes" "pretty short" "$(complete_line "memcgctl list --json=" | sed 's/off //')"
assert_contains "sizes after --limit" "$(complete_line "memcgctl monitor /x --limit ")" "512M"
memcg_create comp
assert_contains "monitor offers memory cgroups from the hierarchy's root" \
        "$(complete_line "memcgctl monitor /memcgd-bustest-")" "$MEMCG"
mkdir "$MEMCG_DIR/child"
assert_eq "one level at a time, like file names" "$MEMCG/child" "$(complete_line "memcgctl status $MEMCG/")"
assert_contains "set-limit offers sizes as its second argument" "$(complete_line "memcgctl set-limit $MEMCG ")" "1G"
assert_eq "... but not 'infinity' (a limit is finite)" "" "$(complete_line "memcgctl set-limit $MEMCG i")"
assert_eq "unmonitor offers nothing while nothing is monitored" "" "$(complete_line "memcgctl unmonitor ")"
"$MEMCGCTL_BIN" monitor "$MEMCG" --limit 64M </dev/null || fail "monitor (setup)"
assert_eq "unmonitor offers the monitored cgroups" "$MEMCG" "$(complete_line "memcgctl unmonitor ")"
assert_eq "nothing after the last argument" "" "$(complete_line "memcgctl unmonitor $MEMCG ")"
assert_eq "oom-policy offers the monitored cgroups" "$MEMCG" "$(complete_line "memcgctl oom-policy ")"
assert_eq "oom-policy offers the policies second" "freeze grow kill" "$(complete_line "memcgctl oom-policy $MEMCG ")"
assert_eq "... by prefix" "freeze" "$(complete_line "memcgctl oom-policy $MEMCG f")"
assert_eq "nothing after the policy" "" "$(complete_line "memcgctl oom-policy $MEMCG kill ")"
assert_eq "resolve offers only cgroups waiting for a decision (none here)" "" "$(complete_line "memcgctl resolve ")"
assert_eq "resolve offers the decisions second" "kill-all kill-largest raise" "$(complete_line "memcgctl resolve $MEMCG ")"
assert_contains "resolve raise offers sizes" "$(complete_line "memcgctl resolve $MEMCG raise ")" "256M"
assert_eq "nothing after kill-largest" "" "$(complete_line "memcgctl resolve $MEMCG kill-largest ")"
"$MEMCGCTL_BIN" unmonitor "$MEMCG" </dev/null
rmdir "$MEMCG_DIR/child"

# A cgroup named with a space: one word, quoted as the shell needs it.
# complete_words WORD...: COMP_WORDS as bash makes them (each word as typed,
# quotes and backslashes included), the last one being completed; prints
# the completions one a line.
complete_words() {
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _memcgctl memcgctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
        printf '%s\n' "${COMPREPLY[@]}" | sort
}
cli_memcg_create "spaced name"
SP=$MEMCG
SPQ=$(printf '%q' "$SP")
assert_eq "status offers a memcg whose name has a space, quoted" "$SPQ" \
        "$(complete_words memcgctl status "/$MEMCG_PREFIX-spa")"
"$MEMCGCTL_BIN" monitor "$SP" --limit 64M </dev/null || fail "monitor '$SP' (setup)"
assert_eq "unmonitor offers the monitored cgroup with a space as one quoted word" "$SPQ" \
        "$(complete_words memcgctl unmonitor "")"
assert_eq "... also after the typed part, with its backslash" "$SPQ" \
        "$(complete_words memcgctl unmonitor "/$MEMCG_PREFIX-spaced\\ n")"
assert_eq "oom-policy offers it too" "$SPQ" "$(complete_words memcgctl oom-policy "/$MEMCG_PREFIX-sp")"
assert_eq "set-limit offers it once (monitored and in the hierarchy)" "$SPQ" \
        "$(complete_words memcgctl set-limit "/$MEMCG_PREFIX-spa")"
eval "set -- $(complete_words memcgctl unmonitor "")"
[ $# = 1 ] && [ "$1" = "$SP" ] && pass "... and the shell reads the completion back as the path" ||
        fail "... and the shell reads the completion back as the path" "$# words: $*"
"$MEMCGCTL_BIN" unmonitor "$SP" </dev/null

# --- the man page -------------------------------------------------------

if command -v man >/dev/null && [ -f "$MANPAGE" ]; then
        warnings=$(MANWIDTH=80 man --warnings -l "$MANPAGE" 2>&1 >/dev/null)
        assert_eq "memcgctl(1) renders without warnings" "" "$warnings"
        page=$(MANWIDTH=200 man -l "$MANPAGE" 2>/dev/null)
        help=$("$MEMCGCTL_BIN" --help)
        missing=()
        for code in 0 1 2 3 4 5 6; do
                grep -qE "^ +$code +[[:alpha:]]" <<<"$page" || missing+=("man:$code")
                grep -qE "^  $code  " <<<"$help" || missing+=("help:$code")
        done
        assert_eq "memcgctl(1) and --help both document exit status 0-6" "" "${missing[*]}"
        missing=()
        for verb in monitor unmonitor set-limit status list watch oom-policy resolve; do
                grep -qE "^ +$verb" <<<"$page" || missing+=("$verb")
        done
        assert_eq "memcgctl(1) documents every command" "" "${missing[*]}"
else
        skip_part "man or the man page missing: its checks are left out"
fi

bus_finish
