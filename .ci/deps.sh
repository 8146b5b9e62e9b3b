#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs, from Debian's archive, everything memcgd needs to build, run
# and test on a fresh Debian 12 machine. Idempotent: installs only what is
# missing. Run as root.
set -euo pipefail

# deps.sh [--tests]: --tests (tests/run-all.sh) also unpacks dbus-broker
# for the tests, below.
tests=0
[ "${1:-}" = --tests ] && tests=1

PACKAGES=(
        # build
        gcc clang meson ninja-build pkg-config
        libsystemd-dev libglib2.0-dev libcmocka-dev libpolkit-gobject-1-dev
        libclang-rt-14-dev
        # run: the bus, polkit, systemd's busctl and pkg-config files
        dbus-daemon dbus-bin systemd polkitd pkexec
        # tests: the v2 VM (kernel package is fetched by the test itself)
        qemu-system-x86 busybox-static cpio gzip xz-utils
        # tests: scripts
        util-linux procps psmisc jq python3
        # tests: a D-Bus client that stays connected across a call whose
        # caller the test moves between cgroups (reclaim-polkit-once.sh)
        python3-dbus
        # tests: bus suite (dbus-send prints error names; dbus-1.pc says
        # where a distribution expects the bus files; useradd)
        libdbus-1-dev passwd
        # tests: cli suite (bash-completion.pc says where completions go;
        # the completion test uses its helpers; man checks memcgctl(1))
        bash-completion man-db
        # tests: gui suite (a desktop for memcg-notify: X server, session
        # notification server, screenshots, fonts for the popups)
        xvfb dunst imagemagick fonts-dejavu-core
        # benchmarks (tests/bench/run.sh): callgrind instruction counts
        # of the reaction path; perf and strace to find where time goes
        valgrind linux-perf strace
        # benchmarks: B4 also on dbus-broker, the libraries it links
        # (the broker itself is unpacked below, with --tests)
        libapparmor1 libaudit1 libcap-ng0 libexpat1 libselinux1 libsystemd0
        # tests: hardening suite (strace: the system calls memcgd makes,
        # checked against its unit's SystemCallFilter=; systemd-analyze
        # comes with systemd, setpriv with util-linux)
        strace
)

missing=()
for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
        echo "memcgd: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# dbus-broker (B4's second bus) is unpacked into tests/bus/cache, not
# installed: its package makes itself the host's system bus at the next
# boot. tests/bus/lib.sh runs it from there, in a mount namespace of its
# own where an overlay adds it to /usr/bin (the launcher starts the broker
# by that path).
if [ $tests = 1 ] && [ ! -x /usr/bin/dbus-broker-launch ]; then
        dest=$(cd "$(dirname "$0")/.." && pwd)/tests/bus/cache/dbus-broker
        if [ ! -x "$dest/usr/bin/dbus-broker-launch" ]; then
                echo "memcgd: unpacking dbus-broker into $dest" >&2
                dl=$(mktemp -d)
                # apt drops to the _apt user for downloads.
                id _apt >/dev/null 2>&1 && chown _apt "$dl"
                if ! (cd "$dl" && apt-get download -qq dbus-broker </dev/null); then
                        apt-get update -qq
                        (cd "$dl" && apt-get download -qq dbus-broker </dev/null)
                fi
                rm -rf "$dest.new"
                mkdir -p "$dest.new"
                dpkg-deb -x "$dl"/dbus-broker_*.deb "$dest.new"
                rm -rf "$dest" "$dl"
                mv "$dest.new" "$dest"
        fi
fi
