# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by every test of the bus suite. Brings up, per test, a private
# system bus (dbus-daemon with the build's bus policy), the real polkitd on
# it, and memcgd; creates fresh v1 memcgs; tears all of it down on exit.
#
# Environment (set by tests/bus/meson.build):
#   MEMCGD_BIN           the daemon under test
#   MEMCGD_TEST_ALLOC    the memory hog (alloc.c)
#   MEMCGD_SOURCE_ROOT   the source tree
#   MEMCGD_BUILD_ROOT    the build tree
#   MEMCGD_BUS_POLICY    (optional) the bus policy file to include
#   MEMCGD_POLKIT_POLICY (optional) the polkit action file to install
#   MEMCGD_TEST_KEEP=1   keep the temporary directory for inspection
#   BUS_IMPL             dbus-daemon (default) or dbus-broker
#
# Every check prints one "PASS: ..." or "FAIL: ..." line; bus_finish exits
# 1 when any check failed. A test that cannot run here exits 77 and says
# why (not root, no v1 memory controller, no daemon binary...).

set -u

BUS_TEST_NAME=$(basename "$0" .sh)
BUS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUS_FAILS=0
BUS_PASSES=0
BUS_TMP=
BUS_PIDS=()
BUS_DBUS_PID=
BUS_BROKER_PID=
BUS_BROKER_BIN=
# The bus: dbus-daemon (Debian's system bus) or dbus-broker.
BUS_IMPL=${BUS_IMPL:-dbus-daemon}
BUS_POLKIT_PID=
BUS_MONITOR_PID=
MEMCGD_PID=
MEMCGD_ARGS=()
BUS_RULES=()
BUS_ACTION_INSTALLED=
BUS_SETUP_DONE=
# The unprivileged caller. A test that installs polkit rules for it uses a
# user of its own (BUS_USER_TEMPORARY=1: created here, deleted at exit),
# since every polkitd on the host reads the same rules directory.
BUS_USER=${BUS_USER:-memcgd-test}
BUS_USER_CREATED=
MEMCG_ROOT=
MEMCG_UNIFIED=/sys/fs/cgroup/unified
MEMCG_PREFIX="memcgd-bustest-$$"
BUS_NAME=org.memcgd1
BUS_MANAGER=/org/memcgd1
BUS_IFACE=org.memcgd1.Manager
BUS_CGROUP_IFACE=org.memcgd1.Cgroup
POLKITD=${POLKITD:-/usr/lib/polkit-1/polkitd}
# Debian's interpreter (.ci/deps.sh installs it), not the first python3 on
# PATH: a version manager's shim (pyenv's here) costs ~0.45 s a start
# against ~0.03 s, and the suites start Python thousands of times.
if [ -z "${PYTHON:-}" ]; then
        if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON
# Sanitizer builds start slower; every wait below is a poll with this cap.
BUS_WAIT=${BUS_WAIT:-20}
# An ASan build writes its report on exit; make it fail the exit status.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:exitcode=66:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=0}
export LC_ALL=C.UTF-8

say()  { printf '%s\n' "$*"; }
pass() { BUS_PASSES=$((BUS_PASSES + 1)); printf 'PASS: %s\n' "$1"; }
fail() {
        BUS_FAILS=$((BUS_FAILS + 1))
        printf 'FAIL: %s\n' "$1"
        shift
        local l
        for l in "$@"; do printf '      %s\n' "$l"; done
}
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
# skip_part REASON: a part of the test cannot run here; the rest goes on,
# and a test that otherwise passed ends as skipped (77), not as passed
# (under CI=true run-all.sh counts that as a failure).
BUS_PART_SKIPS=()
skip_part() { printf 'SKIP (part): %s\n' "$*"; BUS_PART_SKIPS+=("$*"); }
# A test that cannot go on (the daemon died, setup failed).
die() { fail "$@"; exit 1; }

# check DESC CMD...: PASS when CMD succeeds.
check() {
        local desc=$1; shift
        if "$@"; then pass "$desc"; else fail "$desc" "command failed: $*"; fi
}

assert_eq() {
        local desc=$1 expected=$2 actual=$3
        if [ "$expected" = "$actual" ]; then
                pass "$desc"
        else
                fail "$desc" "expected: '${expected:0:300}'" "actual:   '${actual:0:300}'"
        fi
}

assert_contains() {
        local desc=$1 haystack=$2 needle=$3
        if [[ "$haystack" == *"$needle"* ]]; then
                pass "$desc"
        else
                fail "$desc" "'${haystack:0:300}' does not contain '${needle:0:200}'"
        fi
}

# v1 writes "unlimited" as PAGE_COUNTER_MAX pages (9223372036854771712 with
# 4 KiB pages); the service may report it as UINT64_MAX, the value v2's
# "max" maps to. Either is the same limit.
V1_UNLIMITED=9223372036854771712
UINT64_MAX=18446744073709551615
assert_limit_value() {
        local desc=$1 file_value=$2 reported=$3
        if [ "$file_value" = "$reported" ]; then
                pass "$desc ($reported)"
        elif [ "$file_value" = "$V1_UNLIMITED" ] && [ "$reported" = "$UINT64_MAX" ]; then
                pass "$desc (v1 unlimited $V1_UNLIMITED reported as UINT64_MAX)"
        else
                fail "$desc" "limit file: $file_value" "reported:   $reported"
        fi
}

# Numeric comparisons on exact (possibly 64-bit unsigned) decimal strings.
u64_cmp() { # A OP B, OP one of -lt -le -eq -ge -gt
        "$PYTHON" -c 'import sys; a, op, b = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]); sys.exit(0 if {"-lt": a < b, "-le": a <= b, "-eq": a == b, "-ge": a >= b, "-gt": a > b}[op] else 1)' "$1" "$2" "$3"
}
assert_u64() {
        local desc=$1 a=$2 op=$3 b=$4
        if [[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ ]] && u64_cmp "$a" "$op" "$b"; then
                pass "$desc"
        else
                fail "$desc" "expected $a $op $b"
        fi
}

jget()  { "$PYTHON" "$BUS_HERE/busjson.py" get "$@"; }
jkeys() { "$PYTHON" "$BUS_HERE/busjson.py" keys "$@"; }
object_path_of() { "$PYTHON" "$BUS_HERE/busjson.py" encode-path /org/memcgd1/cgroup "$1"; }

# ---------------------------------------------------------------------------
# Preconditions

bus_find_memcg_root() {
        # The v1 memory hierarchy: a "cgroup" mount with the memory option.
        # mountinfo: optional fields end with "-", then fstype, source, options.
        awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
               if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)memory(,|$)/) { print $5; exit } }' /proc/self/mountinfo
}

bus_require() {
        [ "$(id -u)" = 0 ] || skip "needs root (creates memcgs, a user, polkit rules)"
        MEMCG_ROOT=$(bus_find_memcg_root)
        [ -n "$MEMCG_ROOT" ] && [ -e "$MEMCG_ROOT/memory.limit_in_bytes" ] ||
                skip "no cgroup v1 memory controller mounted (the bus suite drives real v1 memcgs)"
        [ -n "${MEMCGD_BIN:-}" ] || skip "MEMCGD_BIN not set (run through meson test)"
        [ -x "$MEMCGD_BIN" ] || skip "daemon binary $MEMCGD_BIN not built"
        local t
        case $BUS_IMPL in
        dbus-daemon) t=dbus-daemon ;;
        dbus-broker)
                t=unshare
                if [ ! -x /usr/bin/dbus-broker-launch ]; then
                        BUS_BROKER_BIN=$BUS_HERE/cache/dbus-broker/usr/bin
                        [ -x "$BUS_BROKER_BIN/dbus-broker-launch" ] ||
                                skip "dbus-broker neither installed nor unpacked in $BUS_BROKER_BIN (.ci/deps.sh --tests)"
                fi ;;
        *) die "BUS_IMPL=$BUS_IMPL: expected dbus-daemon or dbus-broker" ;;
        esac
        for t in "$t" busctl dbus-send setpriv "$PYTHON"; do
                command -v "$t" >/dev/null || skip "$t not installed (.ci/deps.sh)"
        done
        [ -x "$POLKITD" ] || skip "$POLKITD not installed (.ci/deps.sh: polkitd)"
}

# ---------------------------------------------------------------------------
# Setup and teardown

bus_policy_file() {
        local f
        for f in "${MEMCGD_BUS_POLICY:-}" \
                 "${MEMCGD_BUILD_ROOT:-/nonexistent}/dbus/org.memcgd1.conf" \
                 "${MEMCGD_SOURCE_ROOT:-/nonexistent}/dbus/org.memcgd1.conf"; do
                [ -n "$f" ] && [ -f "$f" ] && { echo "$f"; return 0; }
        done
        return 1
}

polkit_action_file() {
        local f
        for f in "${MEMCGD_POLKIT_POLICY:-}" \
                 "${MEMCGD_BUILD_ROOT:-/nonexistent}/policy/org.memcgd1.policy" \
                 "${MEMCGD_SOURCE_ROOT:-/nonexistent}/policy/org.memcgd1.policy"; do
                [ -n "$f" ] && [ -f "$f" ] && { echo "$f"; return 0; }
        done
        return 1
}

bus_write_config() {
        local policy=$1 extra=/nonexistent lmm=/nonexistent
        # BUS_LMM_POLICY=1: the LowMemoryMonitor policy memcgd installs
        # beside its own, from the build (or the source tree).
        if [ "${BUS_LMM_POLICY:-}" = 1 ]; then
                lmm=${MEMCGD_BUILD_ROOT:-/nonexistent}/dbus/org.freedesktop.LowMemoryMonitor-memcgd.conf
                [ -f "$lmm" ] || lmm=${MEMCGD_SOURCE_ROOT:-/nonexistent}/dbus/org.freedesktop.LowMemoryMonitor-memcgd.conf
                [ -f "$lmm" ] || die "BUS_LMM_POLICY=1 but no org.freedesktop.LowMemoryMonitor-memcgd.conf in the build or the source tree"
        fi
        # BUS_EXTRA_POLICY: <policy> elements a test adds (a benchmark's
        # own service).
        if [ -n "${BUS_EXTRA_POLICY:-}" ]; then
                extra=$BUS_TMP/extra-policy.conf
                printf '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n%s\n</busconfig>\n' \
                        "$BUS_EXTRA_POLICY" >"$extra"
        fi
        cat >"$BUS_TMP/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- A private system bus for $BUS_TEST_NAME: the default policy of
     /usr/share/dbus-1/system.conf (deny own, deny method calls, holes
     punched by the services' own files), no activation, no syslog. -->
<busconfig>
  <type>system</type>
  <listen>unix:path=$BUS_TMP/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <!-- polkitd's own policy (owned by user polkitd). -->
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
  <!-- The policy under test, from the build. -->
  <include>$policy</include>
  <include ignore_missing="yes">$lmm</include>
  <include ignore_missing="yes">$extra</include>
</busconfig>
EOF
}

bus_name_has_owner() {
        local out
        out=$(busctl --json=short call org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus NameHasOwner s "$1" 2>/dev/null) || return 1
        [ "$(jget data.0 <<<"$out" 2>/dev/null)" = true ]
}

# wait_for DESC SECONDS CMD...: polls CMD every 50 ms.
wait_for() {
        local desc=$1 secs=$2; shift 2
        local deadline=$((SECONDS + secs))
        while ! "$@"; do
                if [ "$SECONDS" -ge "$deadline" ]; then
                        return 1
                fi
                sleep 0.05
        done
        return 0
}

bus_start_dbus() {
        local policy
        policy=$(bus_policy_file) || die "bus policy dbus/org.memcgd1.conf found neither in the build nor in the source tree"
        bus_write_config "$policy"
        if [ "$BUS_IMPL" = dbus-broker ]; then
                bus_start_broker "$policy"
                return
        fi
        dbus-daemon --config-file="$BUS_TMP/bus.conf" --nofork --print-address \
                >"$BUS_TMP/bus.address" 2>"$BUS_TMP/dbus-daemon.log" &
        BUS_DBUS_PID=$!
        if ! wait_for "bus socket" "$BUS_WAIT" test -s "$BUS_TMP/bus.address"; then
                die "dbus-daemon did not start" "$(cat "$BUS_TMP/dbus-daemon.log")"
        fi
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$BUS_TMP/bus"
        # Nothing else may reach a session or the host's system bus.
        unset DBUS_SESSION_BUS_ADDRESS
        say "bus: dbus-daemon $BUS_DBUS_PID at $DBUS_SYSTEM_BUS_ADDRESS (policy $policy)"
}

# BUS_IMPL=dbus-broker: the same bus from dbus-broker, started by
# broker-launch.py in a mount namespace of its own: a tmpfs on
# /run/systemd/journal stands in for journald (the launcher logs there),
# and when the broker is only unpacked (BUS_BROKER_BIN, .ci/deps.sh) an
# overlay adds it to /usr/bin, where the launcher looks for the broker.
# BUS_DBUS_PID is the launcher's helper (stopping it stops the bus);
# BUS_BROKER_PID is the broker process itself, which routes the messages.
bus_start_broker() {
        local policy=$1 launcher=
        mkdir -p /run/systemd/journal || die "cannot create /run/systemd/journal (the broker's log mount point)"
        BUS_BROKER_BIN=${BUS_BROKER_BIN:-} unshare --mount --propagation private sh -c '
                mount -t tmpfs -o size=1m,mode=0755 memcgd-test-journal /run/systemd/journal || exit 1
                if [ -n "$BUS_BROKER_BIN" ]; then
                        mount -t overlay memcgd-test-broker -o "lowerdir=$BUS_BROKER_BIN:/usr/bin" /usr/bin || exit 1
                fi
                exec "$@"' sh \
                "$PYTHON" "$BUS_HERE/broker-launch.py" "$BUS_TMP/bus" "$BUS_TMP/bus.conf" \
                "$BUS_TMP/dbus-daemon.log" "$BUS_TMP/broker.pid" 2>>"$BUS_TMP/dbus-daemon.log" &
        BUS_DBUS_PID=$!
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$BUS_TMP/bus"
        unset DBUS_SESSION_BUS_ADDRESS
        if ! wait_for "dbus-broker" "$BUS_WAIT" bus_name_has_owner org.freedesktop.DBus; then
                die "dbus-broker did not start" "$(cat "$BUS_TMP/dbus-daemon.log")"
        fi
        launcher=$(cat "$BUS_TMP/broker.pid")
        BUS_BROKER_PID=$(pgrep -x -P "$launcher" dbus-broker | head -n 1)
        [ -n "$BUS_BROKER_PID" ] || die "no dbus-broker process under launcher $launcher"
        say "bus: dbus-broker $BUS_BROKER_PID (launcher $launcher) at $DBUS_SYSTEM_BUS_ADDRESS (policy $policy)"
}

# The action file is shared by every bus test running on this host (other
# build directories, other suites sourcing this file): each run registers
# itself as a holder under a lock; the file is put in place by the first
# holder and removed (or the original put back) by the last one.
BUS_SHARED=/run/memcgd-bustest
BUS_ACTION_DST=/usr/share/polkit-1/actions/org.memcgd1.policy

bus_shared_locked() { # CMD...: runs CMD holding the host-wide lock
        mkdir -p "$BUS_SHARED/holders"
        (
                flock -w 30 9 || exit 1
                "$@"
        ) 9>"$BUS_SHARED/lock"
}

polkit_action_acquire() {
        local src=$1 pid
        for pid in $(ls "$BUS_SHARED/holders"); do
                kill -0 "$pid" 2>/dev/null || rm -f "$BUS_SHARED/holders/$pid"
        done
        touch "$BUS_SHARED/holders/$$"
        if [ -f "$BUS_ACTION_DST" ] && cmp -s "$src" "$BUS_ACTION_DST"; then
                return 0
        fi
        # Save what a human installed, once; ours are recognised by the marker.
        if [ ! -e "$BUS_SHARED/installed" ]; then
                if [ -f "$BUS_ACTION_DST" ]; then
                        cp -p "$BUS_ACTION_DST" "$BUS_SHARED/original.policy"
                else
                        rm -f "$BUS_SHARED/original.policy"
                fi
                touch "$BUS_SHARED/installed"
        fi
        install -D -m 0644 "$src" "$BUS_ACTION_DST"
        echo "bus: installed $src as $BUS_ACTION_DST (removed by the last test using it)"
}

polkit_action_release() {
        local pid
        rm -f "$BUS_SHARED/holders/$$"
        for pid in $(ls "$BUS_SHARED/holders"); do
                kill -0 "$pid" 2>/dev/null || rm -f "$BUS_SHARED/holders/$pid"
        done
        [ -z "$(ls "$BUS_SHARED/holders")" ] || return 0
        [ -e "$BUS_SHARED/installed" ] || return 0
        if [ -f "$BUS_SHARED/original.policy" ]; then
                cp -p "$BUS_SHARED/original.policy" "$BUS_ACTION_DST"
                rm -f "$BUS_SHARED/original.policy"
        else
                rm -f "$BUS_ACTION_DST"
        fi
        rm -f "$BUS_SHARED/installed"
}

polkit_install_action() {
        local src
        src=$(polkit_action_file) || die "polkit action file policy/org.memcgd1.policy found neither in the build nor in the source tree"
        bus_shared_locked polkit_action_acquire "$src" || die "cannot install the polkit action file $BUS_ACTION_DST"
        BUS_ACTION_INSTALLED=1
}

polkit_start() {
        "$POLKITD" >"$BUS_TMP/polkitd.log" 2>&1 &
        BUS_POLKIT_PID=$!
        if ! wait_for "polkitd" "$BUS_WAIT" bus_name_has_owner org.freedesktop.PolicyKit1; then
                die "polkitd did not take org.freedesktop.PolicyKit1 on the private bus" "$(cat "$BUS_TMP/polkitd.log")"
        fi
        local backend
        backend=$(busctl --json=short call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
                org.freedesktop.DBus.Properties Get ss org.freedesktop.PolicyKit1.Authority BackendName | jget data.0.data)
        say "bus: polkitd $BUS_POLKIT_PID on the private bus (backend '$backend')"
}

polkit_stop() {
        if [ -n "$BUS_POLKIT_PID" ]; then
                kill "$BUS_POLKIT_PID" 2>/dev/null
                wait "$BUS_POLKIT_PID" 2>/dev/null
                BUS_POLKIT_PID=
        fi
}

# polkitd prints "Finished loading, compiling and executing N rules" after
# each (hot) reload of the rule directories.
polkit_rules_loaded() {
        grep -o 'Finished loading, compiling and executing [0-9]* rules' "$BUS_TMP/polkitd.log" | tail -n 1 | awk '{print $6}'
}

polkit_reload_count() { grep -c 'Finished loading, compiling and executing' "$BUS_TMP/polkitd.log"; }

# polkit_add_rule NAME JS: installs /etc/polkit-1/rules.d/NAME and waits
# until polkitd has reloaded with it.
polkit_add_rule() {
        local name=$1 js=$2 before
        before=$(polkit_reload_count)
        mkdir -p /etc/polkit-1/rules.d
        printf '%s\n' "$js" >"/etc/polkit-1/rules.d/$name.tmp"
        mv "/etc/polkit-1/rules.d/$name.tmp" "/etc/polkit-1/rules.d/$name"
        BUS_RULES+=("/etc/polkit-1/rules.d/$name")
        polkit_wait_reload "$before"
}

polkit_remove_rule() {
        local f=/etc/polkit-1/rules.d/$1 before
        before=$(polkit_reload_count)
        rm -f "$f"
        polkit_wait_reload "$before"
}

polkit_reloaded_since() { [ "$(polkit_reload_count)" -gt "$1" ]; }

polkit_wait_reload() {
        local before=$1 n
        # A rename shows up as several inotify events, each a reload: wait
        # for the first, then until no new one came for 300 ms.
        wait_for "polkit reload" 10 polkit_reloaded_since "$before" || return 1
        while :; do
                n=$(polkit_reload_count)
                sleep 0.3
                [ "$(polkit_reload_count)" = "$n" ] && break
        done
        return 0
}

bus_ensure_user() {
        if ! getent passwd "$BUS_USER" >/dev/null; then
                useradd --system --no-create-home --home-dir /nonexistent \
                        --shell /usr/sbin/nologin "$BUS_USER" ||
                        die "cannot create user $BUS_USER"
                BUS_USER_CREATED=1
                say "bus: created system user $BUS_USER"
        fi
        BUS_USER_UID=$(id -u "$BUS_USER")
}

# as_user CMD...: runs CMD as the unprivileged test user, same environment.
as_user() {
        setpriv --reuid="$BUS_USER" --regid="$BUS_USER" --clear-groups -- "$@"
}

monitor_start() {
        busctl monitor --json=short --match "type='signal',path_namespace='/org/memcgd1'" \
                >"$BUS_TMP/signals.jsonl" 2>"$BUS_TMP/monitor.log" &
        BUS_MONITOR_PID=$!
        wait_for "busctl monitor" "$BUS_WAIT" grep -qs Monitoring "$BUS_TMP/monitor.log" ||
                die "busctl monitor did not start" "$(cat "$BUS_TMP/monitor.log")"
}

memcgd_supports() { grep -q -- "$1" "$BUS_TMP/memcgd.help" 2>/dev/null; }

# memcgd_start [ARGS...]: starts the daemon with the test's state
# directory and config, plus MEMCGD_ARGS and ARGS, and waits for its name.
memcgd_start() {
        [ -f "$BUS_TMP/memcgd.help" ] || "$MEMCGD_BIN" --help >"$BUS_TMP/memcgd.help" 2>&1
        local extra=()
        # Tests that compare limits over time do not want the shrink timer
        # moving them: push its first firing far away (BUS_SHRINK_BASE=50s;
        # the daemon refuses a base above its 60 s cap, ShrinkMax).
        if [ -n "${BUS_SHRINK_BASE:-}" ] && memcgd_supports --shrink-base; then
                extra+=("--shrink-base=$BUS_SHRINK_BASE")
        fi
        say "bus: starting $MEMCGD_BIN --config=$BUS_TMP/memcgd.conf --state-directory=$BUS_TMP/state --log-level=debug ${extra[*]} ${MEMCGD_ARGS[*]} $*"
        echo "=== start $(date +%T.%N)" >>"$BUS_TMP/memcgd.log"
        "$MEMCGD_BIN" --config="$BUS_TMP/memcgd.conf" --state-directory="$BUS_TMP/state" \
                --log-level=debug "${extra[@]}" "${MEMCGD_ARGS[@]}" "$@" >>"$BUS_TMP/memcgd.log" 2>&1 &
        MEMCGD_PID=$!
        local deadline=$((SECONDS + BUS_WAIT))
        while ! bus_name_has_owner "$BUS_NAME"; do
                if ! kill -0 "$MEMCGD_PID" 2>/dev/null; then
                        wait "$MEMCGD_PID"
                        local rc=$?
                        MEMCGD_PID=
                        die "memcgd exited during start-up with status $rc" "$(tail -n 30 "$BUS_TMP/memcgd.log")"
                fi
                [ "$SECONDS" -lt "$deadline" ] ||
                        die "memcgd did not take $BUS_NAME within ${BUS_WAIT}s" "$(tail -n 30 "$BUS_TMP/memcgd.log")"
                sleep 0.05
        done
        say "bus: memcgd $MEMCGD_PID owns $BUS_NAME"
}

memcgd_alive() { [ -n "$MEMCGD_PID" ] && kill -0 "$MEMCGD_PID" 2>/dev/null && bus_name_has_owner "$BUS_NAME"; }

# Stops the daemon the way systemd does; it must exit 0 (DESIGN.md §3) and
# a sanitizer build must not have reported anything.
memcgd_stop() {
        [ -n "$MEMCGD_PID" ] || return 0
        local pid=$MEMCGD_PID rc
        MEMCGD_PID=
        if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid"; rc=$?
                fail "memcgd was still running at the end of the test" "it had exited with status $rc" "$(tail -n 20 "$BUS_TMP/memcgd.log")"
                return
        fi
        kill -TERM "$pid"
        local deadline=$((SECONDS + BUS_WAIT))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid"; wait "$pid" 2>/dev/null
                fail "memcgd exits on SIGTERM" "still running ${BUS_WAIT}s after SIGTERM; killed"
                return
        fi
        wait "$pid"; rc=$?
        assert_eq "memcgd exits with status 0 on SIGTERM" 0 "$rc"
}

memcgd_kill9() {
        [ -n "$MEMCGD_PID" ] || return 0
        kill -KILL "$MEMCGD_PID"
        wait "$MEMCGD_PID" 2>/dev/null
        MEMCGD_PID=
        wait_for "name released" "$BUS_WAIT" bus_name_gone || true
}

bus_name_gone() { ! bus_name_has_owner "$BUS_NAME"; }

sanitizer_check() {
        [ -f "$BUS_TMP/memcgd.log" ] || return 0
        if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$BUS_TMP/memcgd.log"; then
                fail "memcgd ran without sanitizer reports" \
                        "$(grep -E -A 15 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$BUS_TMP/memcgd.log" | head -n 60)"
        fi
}

# bus_setup [ARGS for memcgd]: the whole stack. BUS_NO_POLKIT=1 leaves
# polkitd out; BUS_NO_DAEMON=1 leaves memcgd out (started later).
bus_setup() {
        bus_require
        BUS_TMP=$(mktemp -d "/tmp/memcgd-bus-$BUS_TEST_NAME.XXXXXX")
        # polkitd and the test user connect to the socket inside.
        chmod 0755 "$BUS_TMP"
        trap bus_teardown EXIT
        trap 'exit 130' INT TERM HUP
        mkdir -m 0755 "$BUS_TMP/state"
        printf '# empty: defaults and command line only\n[Manager]\n' >"$BUS_TMP/memcgd.conf"
        say "bus: test $BUS_TEST_NAME, temporary directory $BUS_TMP"
        bus_ensure_user
        bus_start_dbus
        if [ -z "${BUS_NO_POLKIT:-}" ]; then
                polkit_install_action
                polkit_start
        fi
        monitor_start
        BUS_SETUP_DONE=1
        if [ -z "${BUS_NO_DAEMON:-}" ]; then
                memcgd_start "$@"
        fi
}

# memcg_create NAME: a fresh v1 memcg; sets MEMCG (its path from the root
# of the memory hierarchy, as the service takes it) and MEMCG_DIR.
memcg_create() {
        MEMCG="/$MEMCG_PREFIX-$1"
        MEMCG_DIR="$MEMCG_ROOT$MEMCG"
        mkdir "$MEMCG_DIR" || die "cannot create memcg $MEMCG_DIR"
}

memcg_file() { cat "$MEMCG_ROOT$1/$2"; }
memcg_limit() { cat "$MEMCG_ROOT$1/memory.limit_in_bytes"; }
memcg_oom_kills() { awk '$1 == "oom_kill" { print $2 }' "$MEMCG_ROOT$1/memory.oom_control"; }

# alloc_start CGROUP TOTAL_MIB [STEP_MIB [PAUSE_MS]]: the hog, in the
# background, joined to CGROUP; sets ALLOC_PID and ALLOC_OUT.
alloc_start() {
        local cg=$1 total=$2 step=${3:-4} pause=${4:-20}
        [ -x "${MEMCGD_TEST_ALLOC:-}" ] || die "alloc helper not built (MEMCGD_TEST_ALLOC=${MEMCGD_TEST_ALLOC:-})"
        ALLOC_OUT="$BUS_TMP/alloc.$RANDOM.out"
        "$MEMCGD_TEST_ALLOC" --cgroup-procs="$MEMCG_ROOT$cg/cgroup.procs" --total="$total" \
                --step="$step" --pause-ms="$pause" >"$ALLOC_OUT" 2>&1 &
        ALLOC_PID=$!
        BUS_PIDS+=("$ALLOC_PID")
}

alloc_ready() { grep -q '^ready' "$1"; }

# alloc_stop PID: asks the hog to free and exit; sets ALLOC_RC to its exit
# status (not in a subshell: only this shell can wait for it).
alloc_stop() {
        kill -USR1 "$1" 2>/dev/null
        wait "$1" 2>/dev/null; ALLOC_RC=$?
}

# ---------------------------------------------------------------------------
# Calls

# relay_checks DESC CMD...: runs a checking helper that prints PASS:/FAIL:
# lines and takes them as this test's checks. The helper must exit 0 and
# pass at least one check: one that crashed, or checked nothing, fails.
relay_checks() {
        local desc=$1 out rc line passes=0; shift
        out=$("$@" 2>&1); rc=$?
        while IFS= read -r line; do
                case "$line" in
                PASS:*) pass "${line#PASS: }"; passes=$((passes + 1)) ;;
                FAIL:*) fail "${line#FAIL: }" ;;
                *) [ -n "$line" ] && say "$line" ;;
                esac
        done <<<"$out"
        if [ "$rc" -ne 0 ] && ! grep -q '^FAIL:' <<<"$out"; then
                fail "$desc: the checker exited $rc without a failed check" "$(tail -n 5 <<<"$out")"
        elif [ "$passes" -eq 0 ] && [ "$rc" -eq 0 ]; then
                fail "$desc: the checker passed no check at all"
        fi
}

# mgr CALLER METHOD SIGNATURE ARGS...: busctl call on the manager, JSON on
# stdout; CALLER is "root" or "user".
mgr() {
        local who=$1; shift
        local cmd=(busctl --json=short --timeout=15 call "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" "$@")
        if [ "$who" = user ]; then
                as_user "${cmd[@]}" 2>"$BUS_TMP/last.err"
        else
                "${cmd[@]}" 2>"$BUS_TMP/last.err"
        fi
}

# dsend CALLER OBJECT IFACE.METHOD ARGS...: dbus-send, which (unlike
# busctl) prints the error *name*: "Error org.x.Y: message".
dsend() {
        local who=$1 obj=$2 method=$3; shift 3
        local cmd=(dbus-send --system --print-reply --reply-timeout=15000 --dest="$BUS_NAME" "$obj" "$method" "$@")
        if [ "$who" = user ]; then as_user "${cmd[@]}" 2>&1; else "${cmd[@]}" 2>&1; fi
}

# expect_error DESC ERROR_NAME NEEDLE CALLER METHOD ARGS...: the manager
# method must fail with exactly ERROR_NAME and a message containing NEEDLE
# (skipped when NEEDLE is empty).
expect_error() {
        local desc=$1 ename=$2 needle=$3 who=$4 method=$5; shift 5
        local out rc name msg
        out=$(dsend "$who" "$BUS_MANAGER" "$BUS_IFACE.$method" "$@"); rc=$?
        if [ $rc -eq 0 ]; then
                fail "$desc" "$method succeeded; expected $ename" "reply: ${out:0:300}"
                return
        fi
        if [[ "$out" =~ ^Error\ ([^:[:space:]]+):\ (.*)$ ]]; then
                name=${BASH_REMATCH[1]}; msg=${BASH_REMATCH[2]}
        else
                fail "$desc" "no D-Bus error reply: ${out:0:300}"
                return
        fi
        if [ "$name" != "$ename" ]; then
                fail "$desc" "error $name, expected $ename" "message: ${msg:0:300}"
        elif [ -n "$needle" ] && [[ "$msg" != *"$needle"* ]]; then
                fail "$desc" "error $name is right, but the message does not name '${needle:0:80}'" "message: ${msg:0:300}"
        else
                pass "$desc ($name: ${msg:0:120})"
        fi
}

# stats CALLER CGROUP: Manager.GetStats JSON.
stats() { mgr "$1" GetStats s "$2"; }

# load_stats JSON: fills the associative arrays ST_TYPE and ST_VAL.
declare -A ST_TYPE ST_VAL
load_stats() {
        local k t v
        ST_TYPE=(); ST_VAL=()
        while IFS=$'\t' read -r k t v; do
                ST_TYPE[$k]=$t
                ST_VAL[$k]=$v
        done < <("$PYTHON" "$BUS_HERE/busjson.py" dict <<<"$1")
}

# The GetStats keys this kernel offers for the v1 memcg CGROUP (DESIGN.md
# §4: absent only when the kernel does not offer the figure), "key:type".
expected_stat_keys() {
        local cg=$1 monitored=$2 d="$MEMCG_ROOT$1"
        echo cgroup:s backend:s monitored:b current_bytes:t max_limit_bytes:t high_limit_bytes:t
        [ -e "$d/memory.max_usage_in_bytes" ] && echo peak_bytes:t
        [ -e "$d/memory.memsw.usage_in_bytes" ] && echo swap_bytes:t
        [ -e "$d/memory.kmem.usage_in_bytes" ] && echo kmem_bytes:t
        [ -e "$d/memory.failcnt" ] && echo events_max:t
        grep -q '^oom_kill ' "$d/memory.oom_control" 2>/dev/null && echo events_oom_kill:t
        # On a hybrid host the unified twin of the path offers PSI.
        if [ -e "$MEMCG_UNIFIED$cg/memory.pressure" ]; then
                echo pressure_some_avg10:d pressure_full_avg10:d
        fi
        if [ "$monitored" = true ]; then
                echo limit_increases:t limit_decreases:t granted_bytes:t no_increase_count:u next_shrink_check_usec:t
                echo oom_policy:s oom_waiting:b emergency_grants:t
                # The worker's pressure level (PSI of the twin, else v1's
                # memory.pressure_level).
                if [ -e "$MEMCG_UNIFIED$cg/memory.pressure" ] || [ -e "$d/memory.pressure_level" ]; then
                        echo pressure_level:y
                fi
        fi
}

# check_stat_keys DESC CGROUP MONITORED: every expected key present with
# its type (ST_* loaded).
check_stat_keys() {
        local desc=$1 cg=$2 mon=$3 kt k t missing=() wrong=()
        for kt in $(expected_stat_keys "$cg" "$mon"); do
                k=${kt%%:*}; t=${kt#*:}
                if [ -z "${ST_TYPE[$k]+x}" ]; then
                        missing+=("$k")
                elif [ "${ST_TYPE[$k]}" != "$t" ]; then
                        wrong+=("$k is '${ST_TYPE[$k]}', not '$t'")
                fi
        done
        if [ ${#missing[@]} -eq 0 ] && [ ${#wrong[@]} -eq 0 ]; then
                pass "$desc: every key the kernel offers, typed per contract ($(echo "${!ST_TYPE[@]}" | tr ' ' '\n' | sort | tr '\n' ' '))"
        else
                fail "$desc: every key the kernel offers, typed per contract" \
                        "missing: ${missing[*]:-none}" "wrong type: ${wrong[*]:-none}" \
                        "returned: $(echo "${!ST_TYPE[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')"
        fi
        local known=" cgroup backend monitored current_bytes max_limit_bytes high_limit_bytes peak_bytes swap_bytes kmem_bytes events_high events_max events_oom events_oom_kill limit_increases limit_decreases granted_bytes no_increase_count next_shrink_check_usec pressure_some_avg10 pressure_full_avg10 oom_policy oom_waiting emergency_grants last_oom_usec oom_decision_deadline_usec pressure_level "
        local extra=()
        for k in "${!ST_TYPE[@]}"; do [[ "$known" == *" $k "* ]] || extra+=("$k"); done
        if [ ${#extra[@]} -eq 0 ]; then
                pass "$desc: no key outside the contract"
        else
                fail "$desc: no key outside the contract" "unknown keys: ${extra[*]}"
        fi
}

list_monitored() { mgr "${1:-root}" ListMonitored; }

# Is CGROUP in ListMonitored with the expected object path?
is_listed() {
        local out cg=$1 obj
        obj=$(object_path_of "$cg")
        # A ListMonitored that fails is a failed check of its own: else
        # "not listed" would pass on a dead or hung daemon.
        if ! out=$(list_monitored "${2:-root}"); then
                fail "ListMonitored answers (asked whether $cg is listed)" "$(cat "$BUS_TMP/last.err" 2>/dev/null)"
                return 2
        fi
        "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if [sys.argv[1], sys.argv[2]] in d["data"][0] else 1)' "$cg" "$obj" <<<"$out"
}

mgr_property() { busctl --json=short get-property "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" "$1" | jget data; }

# ---------------------------------------------------------------------------
# Signals (recorded by busctl monitor since bus_setup)

# signals MEMBER [CGROUP]: payloads, one a line, tab-separated.
signals() { "$PYTHON" "$BUS_HERE/busjson.py" signals "$BUS_TMP/signals.jsonl" "$@"; }

# wait_signal SECS MEMBER ARG0 REGEX [OBJECT_PATH]: waits until a MEMBER
# signal whose first argument is ARG0 ("-": any) has a payload line
# matching the extended REGEX.
wait_signal() {
        local secs=$1 member=$2 arg0=$3 re=$4 opath=${5:-}
        local sel=("$arg0")
        [ -n "$opath" ] && sel+=("$opath")
        wait_for "$member" "$secs" bash -c '"$0" "$1" signals "$2" "$3" "${@:5}" | grep -qE -- "$4"' \
                "$PYTHON" "$BUS_HERE/busjson.py" "$BUS_TMP/signals.jsonl" "$member" "$re" "${sel[@]}"
}

# The limit of a monitored cgroup must equal the new_max of the last
# LimitChanged it announced (so nothing changed it behind the signals).
limit_matches_last_signal() {
        local cg=$1 last
        last=$(signals LimitChanged "$cg" | tail -n 1 | cut -f3)
        [ -n "$last" ] && [ "$last" = "$(memcg_limit "$cg")" ]
}

# assert_limit_kept DESC CGROUP EXPECTED: limit_in_bytes is EXPECTED, or
# only the shrink timer moved it since (its last LimitChanged is a
# "shrink" to the value now in the file) - for daemons without
# --shrink-base.
assert_limit_kept() {
        local desc=$1 cg=$2 expected=$3 now last
        now=$(memcg_limit "$cg")
        if [ "$now" = "$expected" ]; then
                pass "$desc ($now)"
                return
        fi
        last=$(signals LimitChanged "$cg" | tail -n 1)
        if [ "$(cut -f5 <<<"$last")" = shrink ] && [ "$(cut -f3 <<<"$last")" = "$now" ]; then
                pass "$desc (moved only by an announced shrink: $expected -> $now)"
        else
                fail "$desc" "limit_in_bytes $now, expected $expected" "last LimitChanged: ${last:-none}"
        fi
}

# ---------------------------------------------------------------------------

bus_teardown() {
        local rc=$? pid d f
        trap - EXIT INT TERM HUP
        set +e
        for pid in "${BUS_PIDS[@]}"; do
                kill -KILL "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        memcgd_stop
        sanitizer_check
        for pid in "$BUS_MONITOR_PID" "$BUS_POLKIT_PID" "$BUS_DBUS_PID"; do
                [ -n "$pid" ] || continue
                kill "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
        for f in "${BUS_RULES[@]}"; do rm -f "$f"; done
        if [ -n "$BUS_USER_CREATED" ] && [ "${BUS_USER_TEMPORARY:-}" = 1 ]; then
                userdel "$BUS_USER" 2>/dev/null || say "teardown: could not delete user $BUS_USER"
        fi
        if [ -n "$BUS_ACTION_INSTALLED" ]; then
                bus_shared_locked polkit_action_release
        fi
        # Mounts a test placed inside its memcgs first, then the memcgs,
        # deepest first, after moving any task left in them to the root.
        if [ -n "$MEMCG_ROOT" ]; then
                awk -v p="/$MEMCG_PREFIX-" 'index($5, p) { print $5 }' /proc/self/mountinfo | sort -r |
                        while read -r d; do umount "$d" 2>/dev/null || umount -l "$d"; done
                for d in $(find "$MEMCG_ROOT" "$MEMCG_UNIFIED" -maxdepth 3 -type d -path "*/$MEMCG_PREFIX-*" 2>/dev/null | sort -r); do
                        local root=$MEMCG_ROOT
                        [[ "$d" == "$MEMCG_UNIFIED"/* ]] && root=$MEMCG_UNIFIED
                        for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do
                                echo "$pid" >"$root/cgroup.procs" 2>/dev/null
                        done
                        rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; } ||
                                say "teardown: could not remove $d"
                done
        fi
        if [ -n "$BUS_TMP" ] && [ -d "$BUS_TMP" ]; then
                if [ "$BUS_FAILS" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
                        for f in memcgd.log polkitd.log dbus-daemon.log; do
                                [ -s "$BUS_TMP/$f" ] || continue
                                say "----- last lines of $f"
                                tail -n 40 "$BUS_TMP/$f"
                        done
                fi
                if [ "${MEMCGD_TEST_KEEP:-}" = 1 ]; then
                        say "bus: kept $BUS_TMP"
                else
                        rm -rf "$BUS_TMP"
                fi
        fi
        # A failed check is a failure, also when the script went on to
        # skip (a skip after memcgd_start still runs the teardown checks).
        if [ "$BUS_FAILS" -gt 0 ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; }; then rc=1; fi
        if [ "$rc" -eq 0 ] && [ "${#BUS_PART_SKIPS[@]}" -gt 0 ]; then
                say "SKIP: ${#BUS_PART_SKIPS[@]} part(s) could not run here: ${BUS_PART_SKIPS[*]}"
                rc=77
        fi
        if [ "$rc" -eq 77 ]; then exit 77; fi
        say "== $BUS_TEST_NAME: $BUS_PASSES passed, $BUS_FAILS failed"
        exit "$rc"
}

# The last line of every test.
bus_finish() {
        [ "$BUS_FAILS" -eq 0 ] && exit 0
        exit 1
}
