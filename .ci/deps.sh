#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs, from Debian's archive, everything memcgd needs to build, run
# and test on a fresh Debian 12 machine. Idempotent: installs only what is
# missing. Run as root.
set -euo pipefail

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
