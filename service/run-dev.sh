#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds memcgd and runs it in the foreground, as root:
#   * on the system bus when one answers at /run/dbus/system_bus_socket
#     (the bus policy is installed into /usr/share/dbus-1/system.d and the
#     bus told to reload, since without it nobody may own org.memcgd1);
#   * else on a private system bus started here (dbus-daemon with the
#     build's dbus/system-dev.conf, which includes the build's
#     org.memcgd1.conf), with polkitd on it when installed. It prints the
#     DBUS_SYSTEM_BUS_ADDRESS to export in another shell.
# polkit reads actions only from /usr/share/polkit-1/actions: the script
# copies policy/org.memcgd1.policy there.
# Arguments are passed to memcgd (e.g. --budget=2G --log-level=debug).
# Ctrl-C stops memcgd and whatever the script started.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MEMCGD_BUILD_DIR:-$SRC/build}

if [ "$(id -u)" -ne 0 ]; then
        echo "run-dev.sh: run as root (memcgd writes cgroup limits and owns a system bus name)" >&2
        exit 1
fi

"$SRC/.ci/deps.sh"

if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$SRC"
fi
meson compile -C "$BUILD"

install -D -m 0644 "$SRC/policy/org.memcgd1.policy" /usr/share/polkit-1/actions/org.memcgd1.policy
echo "run-dev.sh: installed /usr/share/polkit-1/actions/org.memcgd1.policy for polkit" >&2

TMP=$(mktemp -d /tmp/memcgd-dev.XXXXXX)
# polkitd drops to its own user, and unprivileged clients must reach the
# socket too: the directory must be searchable by everyone.
chmod 0755 "$TMP"
PIDS=()
# memcgd first (it saves its state on SIGTERM), then polkitd, then the bus.
cleanup() {
        for pid in "${PIDS[@]}"; do
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SYSTEM_SOCKET=/run/dbus/system_bus_socket
if [ -S "$SYSTEM_SOCKET" ] &&
   busctl --address="unix:path=$SYSTEM_SOCKET" call org.freedesktop.DBus /org/freedesktop/DBus \
          org.freedesktop.DBus GetId >/dev/null 2>&1; then
        install -D -m 0644 "$SRC/dbus/org.memcgd1.conf" /usr/share/dbus-1/system.d/org.memcgd1.conf
        busctl --address="unix:path=$SYSTEM_SOCKET" call org.freedesktop.DBus /org/freedesktop/DBus \
               org.freedesktop.DBus ReloadConfig >/dev/null
        echo "run-dev.sh: using the system bus; installed /usr/share/dbus-1/system.d/org.memcgd1.conf" >&2
        unset DBUS_SYSTEM_BUS_ADDRESS
        ADDRESS="unix:path=$SYSTEM_SOCKET"
else
        ADDRESS="unix:path=$TMP/system_bus_socket"
        dbus-daemon --config-file="$BUILD/dbus/system-dev.conf" --address="$ADDRESS" \
                    --nofork --nopidfile --print-address=3 3>"$TMP/address" &
        PIDS+=($!)
        for _ in $(seq 100); do
                [ -s "$TMP/address" ] && break
                sleep 0.05
        done
        if [ ! -S "$TMP/system_bus_socket" ]; then
                echo "run-dev.sh: the private bus did not start" >&2
                exit 1
        fi
        export DBUS_SYSTEM_BUS_ADDRESS="$ADDRESS"

        POLKITD=/usr/lib/polkit-1/polkitd
        if [ -x "$POLKITD" ]; then
                "$POLKITD" --no-debug &
                PIDS=($! "${PIDS[@]}")
                for _ in $(seq 100); do
                        busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                               NameHasOwner s org.freedesktop.PolicyKit1 2>/dev/null | grep -q true && break
                        sleep 0.05
                done
        else
                echo "run-dev.sh: no polkitd: non-root callers will be denied every change" >&2
        fi
        echo "run-dev.sh: private system bus running. In another shell:" >&2
fi

cat >&2 <<EOF

    export DBUS_SYSTEM_BUS_ADDRESS=$ADDRESS
    busctl introspect org.memcgd1 /org/memcgd1
    mkdir -p /sys/fs/cgroup/memory/demo     # a v1 memcg; on cgroup v2: /sys/fs/cgroup/demo
    busctl call org.memcgd1 /org/memcgd1 org.memcgd1.Manager Monitor st /demo 67108864
    busctl call org.memcgd1 /org/memcgd1 org.memcgd1.Manager GetStats s /demo
    busctl monitor org.memcgd1

EOF

"$BUILD/service/memcgd" "$@" &
MEMCGD=$!
PIDS=("$MEMCGD" "${PIDS[@]}")
set +e
wait "$MEMCGD"
rc=$?
exit "$rc"
