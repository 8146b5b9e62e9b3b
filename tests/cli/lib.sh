# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the cli tests: the bus suite's stack (tests/bus/lib.sh: a
# private system bus, polkitd, memcgd, fresh v1 memcgs), plus helpers that
# run memcgctl and check its exit status, stdout and stderr.
#
# Environment (set by tests/cli/meson.build): MEMCGCTL_BIN, and what
# tests/bus/lib.sh needs (MEMCGD_BIN, MEMCGD_TEST_ALLOC, ...).

source "$(dirname "${BASH_SOURCE[0]}")/../bus/lib.sh"

cli_require() {
        [ -x "${MEMCGCTL_BIN:-}" ] || skip "memcgctl not built (MEMCGCTL_BIN=${MEMCGCTL_BIN:-})"
        command -v jq >/dev/null || skip "jq not installed (.ci/deps.sh)"
}

# ctl [--user] ARGS...: runs memcgctl (as the unprivileged test user with
# --user) with stdin from /dev/null (no terminal: never interactive);
# sets OUT, ERR and RC.
ctl() {
        local runner=()
        if [ "${1:-}" = --user ]; then
                runner=(as_user)
                shift
        fi
        OUT=$("${runner[@]}" "$MEMCGCTL_BIN" "$@" </dev/null 2>"$BUS_TMP/ctl.err")
        RC=$?
        ERR=$(cat "$BUS_TMP/ctl.err")
}

# expect_rc DESC STATUS [--user] ARGS...: memcgctl ARGS exits with STATUS;
# a failure prints exactly one line on stderr.
expect_rc() {
        local desc=$1 want=$2; shift 2
        ctl "$@"
        if [ "$RC" != "$want" ]; then
                fail "$desc" "memcgctl $* exited $RC, expected $want" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:300}"
                return 1
        fi
        if [ "$want" != 0 ] && [ "$(printf '%s\n' "$ERR" | wc -l)" != 1 ]; then
                fail "$desc" "exit $RC is right, but stderr is not one line:" "$ERR"
                return 1
        fi
        pass "$desc (exit $RC${ERR:+: ${ERR:0:160}})"
        return 0
}

# expect_err_contains DESC NEEDLE: the last memcgctl's stderr names NEEDLE.
expect_err_contains() { assert_contains "$1" "$ERR" "$2"; }

# jqv FILTER: jq -r FILTER on OUT (the last memcgctl's stdout).
jqv() { jq -r "$1" <<<"$OUT"; }
