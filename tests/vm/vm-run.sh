#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vm-run.sh — run one command against real cgroup v2 memory inside a QEMU VM.
#
#   vm-run.sh [--file SRC[:DEST]]... [--env NAME=VALUE]... [--module NAME]...
#             [--timeout SEC] [--mem MB] [--append KERNEL-ARGS] -- COMMAND [ARGS...]
#
# The host (Debian 12, hybrid cgroups) has the memory controller on v1 only,
# so the v2 code paths are tested here: Debian's own kernel (the package
# linux-image-amd64 depends on, fetched with apt-get download) boots under
# QEMU (TCG) with a busybox initramfs whose /init mounts cgroup2 on
# /sys/fs/cgroup, enables +memory for the root's children, prints
#   MEMCGD-VM-BOOTED uptime=<s> kernel=<release>
# runs COMMAND as root with stdin from /dev/null, prints
#   MEMCGD-VM-EXIT=<code>
# on the serial console and powers off. This script streams the console to
# stdout (so meson's test log shows it) and exits with <code>: 0 pass, 77
# skip (passed through from inside), anything else a failure. It exits 1
# with a reason when no marker appeared (timeout, kernel panic), and 77 when
# the host cannot provide QEMU, busybox or the kernel package. A boot takes
# about 5 s (3.5-4 s of it the kernel's own boot), once the kernel is cached.
#
# Options
#   --file SRC[:DEST]  Copy SRC into the VM at DEST (default: SRC's absolute
#                      path; a DEST ending in / gets SRC's basename
#                      appended, for files and directories alike). SRC may
#                      be a directory: it is copied whole (cp -a, symlinks
#                      kept as they are). Every ELF file copied brings the
#                      shared libraries `ldd` lists and the dynamic loader,
#                      at their host paths. Libraries that are only
#                      dlopen()ed must be added with --file.
#   --env NAME=VALUE   Export NAME=VALUE to COMMAND.
#   --module NAME      insmod NAME (and what it depends on) from the kernel
#                      package before COMMAND. Debian's kernel has all that
#                      the default setup needs built in (8250 console,
#                      initramfs gzip, devtmpfs, tmpfs, cgroup2, memcg, PSI,
#                      unix sockets), so none is loaded by default. Soft
#                      dependencies are not followed: name them first.
#   --timeout SEC      Kill QEMU after SEC seconds (default 300).
#   --mem MB           Guest memory (default 512).
#   --append ARGS      Extra kernel command-line arguments.
#
# Environment
#   MEMCGD_VM_CACHE    Cache directory (default: tests/vm/cache beside this
#                      script, gitignored). Holds the kernel (vmlinuz,
#                      vmlinux, config, modules asked for) per package
#                      version and the busybox base layer of the initramfs,
#                      keyed by the busybox binary and this script's
#                      base-layer version. The package name resolved is
#                      reused for 12 h (resolving costs an apt-cache run).
#   MEMCGD_VM_ACCEL    QEMU accelerator (default tcg; kvm where it works).
#   MEMCGD_VM_PVH=0    Boot the compressed bzImage instead of the vmlinux
#                      extracted from it (PVH entry, 6 s faster under TCG).
#   MEMCGD_VM_KEEP=1   Keep the work directory (initramfs, console log).
#
# Inside the VM: PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,
# HOME=/root, TMPDIR=/tmp; /tmp and /run are tmpfs; /dev/pts and /dev/shm
# are mounted; loopback is up; no network otherwise (-nic none); no swap;
# /etc/passwd and /etc/group know root, messagebus, polkitd and nobody
# (with the host's ids; copied files keep their host owners when run as
# root); /etc/machine-id exists. COMMAND runs in the root cgroup with the
# memory controller enabled in /sys/fs/cgroup/cgroup.subtree_control, so it
# creates its own child cgroups there. Root has every capability. The
# kernel boots "quiet", but warnings (an OOM kill) still reach the console.
#
# For test writers: without swap the kernel cannot reclaim anonymous memory,
# so a cgroup above memory.high is throttled hard, and the more the longer:
# 1 MiB above a 16 MiB high took 1.5 s, 4 MiB above 32 MiB 10 s, 32 MiB
# above 32 MiB 235 s (TCG, kernel 6.1). A process that should run must not
# sit far above its high for long; the high counter of memory.events rises
# from the first throttle on.
#
# Running the memcgd D-Bus service in the VM (for a later suite; this
# exact setup was tried, with busctl and polkitd, on Debian 12). Copy the
# bus daemon, the service, its bus policy and polkit action, and a driver
# script that the suite ships:
#
#   vm-run.sh \
#     --file /usr/bin/dbus-daemon --file /usr/bin/busctl \
#     --file "$BUILD/service/memcgd:/usr/libexec/memcgd" \
#     --file "$SRC/dbus/org.memcgd1.conf:/etc/dbus-1/system.d/" \
#     --file /usr/lib/polkit-1 --file /usr/share/polkit-1 --file /etc/polkit-1 \
#     --file /usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf \
#     --file "$SRC/policy/org.memcgd1.policy:/usr/share/polkit-1/actions/" \
#     --file "$SRC/tests/bus/vm-bus.sh:/bin/vm-bus.sh" \
#     --env MEMCGD_TEST_FOO=bar \
#     -- /bin/vm-bus.sh
#
# (the polkit lines only if the suite needs polkit). vm-bus.sh, a busybox sh
# script, writes its own bus configuration — the default policy of
# Debian's /usr/share/dbus-1/system.conf, so the project's policy file is
# what opens the service up — and starts the bus, then the service:
#
#   mkdir -p /run/dbus
#   cat >/run/dbus/system.conf <<'EOF'
#   <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
#    "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
#   <busconfig>
#     <type>system</type>
#     <listen>unix:path=/run/dbus/system_bus_socket</listen>
#     <auth>EXTERNAL</auth>
#     <policy context="default">
#       <allow user="*"/>
#       <deny own="*"/>
#       <deny send_type="method_call"/>
#       <allow send_type="signal"/>
#       <allow send_requested_reply="true" send_type="method_return"/>
#       <allow send_requested_reply="true" send_type="error"/>
#       <allow receive_type="method_call"/>
#       <allow receive_type="method_return"/>
#       <allow receive_type="error"/>
#       <allow receive_type="signal"/>
#       <allow send_destination="org.freedesktop.DBus"/>
#     </policy>
#     <includedir>/usr/share/dbus-1/system.d</includedir>
#     <includedir>/etc/dbus-1/system.d</includedir>
#   </busconfig>
#   EOF
#   dbus-daemon --config-file=/run/dbus/system.conf --fork
#   export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
#   /usr/lib/polkit-1/polkitd --no-debug &      # drops to user polkitd
#   /usr/libexec/memcgd & ...
#   busctl --system call org.memcgd1 ...
#
# Without a <user> element the bus runs as root. Wait for a name with
# `until busctl --system status NAME >/dev/null 2>&1; do sleep 0.1; done`
# (bounded): polkitd took 0.7 s to appear. A daemon's exit code is what
# the script must turn into its own; the VM's exit code is the script's.

set -euo pipefail

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SELF_DIR
readonly EXIT_MARKER=MEMCGD-VM-EXIT
readonly BOOT_MARKER=MEMCGD-VM-BOOTED
# Bump when the base layer's layout changes, so cached layers are rebuilt.
readonly BASE_LAYER_VERSION=2

die() { echo "vm-run: $*" >&2; exit 1; }
skip() { echo "vm-run: SKIP: $*" >&2; exit 77; }
note() { echo "vm-run: $*" >&2; }

usage() {
        sed -n '/^#   vm-run.sh \[/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,3\}//' >&2
        echo "(--help for the whole story)" >&2
        exit 2
}

# Single-quotes a word for the guest's busybox sh.
shquote() {
        local sq="'" esc="'\\''"
        printf "'%s'" "${1//$sq/$esc}"
}

files=() envs=() modules=() timeout_s=300 mem_mb=512 append=""
while [ $# -gt 0 ]; do
        case "$1" in
        --file) [ $# -ge 2 ] || usage; files+=("$2"); shift 2 ;;
        --file=*) files+=("${1#*=}"); shift ;;
        --env) [ $# -ge 2 ] || usage; envs+=("$2"); shift 2 ;;
        --env=*) envs+=("${1#*=}"); shift ;;
        --module) [ $# -ge 2 ] || usage; modules+=("$2"); shift 2 ;;
        --module=*) modules+=("${1#*=}"); shift ;;
        --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --mem) [ $# -ge 2 ] || usage; mem_mb=$2; shift 2 ;;
        --mem=*) mem_mb=${1#*=}; shift ;;
        --append) [ $# -ge 2 ] || usage; append=$2; shift 2 ;;
        --append=*) append=${1#*=}; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '3,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "vm-run: unknown option '$1'" >&2; usage ;;
        esac
done
[ $# -ge 1 ] || usage
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || die "--timeout wants seconds, got '$timeout_s'"
[[ $mem_mb =~ ^[0-9]+$ && $mem_mb -ge 128 ]] || die "--mem wants at least 128 (MB), got '$mem_mb'"
for e in ${envs[@]+"${envs[@]}"}; do
        [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$e'"
done
for m in ${modules[@]+"${modules[@]}"}; do
        [[ $m =~ ^[A-Za-z0-9_-]+$ ]] || die "--module wants a module name, got '$m'"
done

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found (Debian package qemu-system-x86)"
busybox=$(command -v busybox) || skip "busybox not found (Debian package busybox-static)"
for tool in cpio gzip dpkg-deb apt-get apt-cache flock sha256sum timeout ldd; do
        command -v "$tool" >/dev/null || skip "$tool not found"
done

cache=${MEMCGD_VM_CACHE:-$SELF_DIR/cache}
mkdir -p "$cache" || die "cannot create cache directory $cache"
cache=$(cd "$cache" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/memcgd-vm.XXXXXX")
qemu_pid=""
cleanup() {
        if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
        if [ "${MEMCGD_VM_KEEP:-0}" = 1 ]; then
                note "kept $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Serialises cache updates between concurrent runs (meson runs tests in
# parallel); released when the script exits.
exec 9>"$cache/.lock"
flock 9

# ---------------------------------------------------------------- kernel

# Prints "PACKAGE VERSION" of the package linux-image-amd64 depends on,
# e.g. "linux-image-6.1.0-56-amd64 6.1.192-2": its ABI number changes with
# security updates, so it is resolved, never written down. One apt-cache
# call (about 1.5 s where apt keeps no binary cache, as in Debian's
# container images).
resolve_kernel_pkg() {
        apt-cache show --no-all-versions linux-image-amd64 2>/dev/null | awk '
                $1 == "Depends:" {
                        for (i = 2; i <= NF; i++) {
                                if ($i !~ /^linux-image-[0-9]/) continue
                                ver = ($(i + 1) == "(=") ? $(i + 2) : ""
                                sub(/[),]+$/, "", ver); sub(/,$/, "", $i)
                                print $i, ver; exit
                        }
                }'
}

# Downloads package $1 (resolved here when empty) into $work/deb and prints
# the .deb's path. apt-get update runs only after a first failure (lists
# stale or missing); then the name is resolved again, unless $2 is "exact"
# ($1 is PACKAGE=VERSION, for the modules of a cached kernel).
download_kernel_pkg() {
        local want=${1:-} exact=${2:-} ver dl=$work/deb
        rm -rf "$dl"
        mkdir -p "$dl"
        # apt drops to the _apt user for downloads; let it write here.
        if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
                chmod 711 "$work"
                chown _apt "$dl"
        fi
        [ -n "$want" ] || read -r want ver < <(resolve_kernel_pkg) || true
        if [ -z "$want" ] || ! (cd "$dl" && apt-get download -q "$want" </dev/null >&2); then
                note "kernel package not available from the current apt lists; running apt-get update"
                apt-get update -q </dev/null >&2 || true
                [ "$exact" = exact ] || read -r want ver < <(resolve_kernel_pkg) || true
                [ -n "$want" ] || return 1
                (cd "$dl" && apt-get download -q "$want" </dev/null >&2) || return 1
        fi
        ls "$dl"/*.deb 2>/dev/null | head -n 1
}

# The bzImage decompresses itself under TCG in about 6 s. QEMU can instead
# boot the uncompressed ELF vmlinux through its PVH entry point (the kernel
# has CONFIG_PVH=y), which starts the kernel at once: the payload is cut out
# of the bzImage like the kernel's scripts/extract-vmlinux does.
extract_vmlinux() {
        local bz=$1 out=$2 off magic unpack
        grep -q '^CONFIG_PVH=y' "$(dirname "$out")/config" || return 1
        for magic in xz gzip zstd; do
                case $magic in
                xz) unpack="xz -dc"; command -v xz >/dev/null || unpack="$busybox xz -dc"; pat='\xfd7zXZ\x00' ;;
                gzip) unpack="gzip -dc"; pat='\x1f\x8b\x08' ;;
                zstd) command -v zstd >/dev/null || continue; unpack="zstd -dcq"; pat='\x28\xb5\x2f\xfd' ;;
                esac
                for off in $(LC_ALL=C grep -obUaP "$pat" "$bz" 2>/dev/null | cut -d: -f1 | head -n 3); do
                        # Trailing bytes after the payload make the
                        # decompressor complain; the ELF check decides.
                        tail -c "+$((off + 1))" "$bz" | $unpack >"$out" 2>/dev/null || true
                        if is_elf "$out"; then return 0; fi
                done
        done
        rm -f "$out"
        return 1
}

# Prints the kernel cache directory: vmlinuz, config, and vmlinux when PVH
# boot works; modules/ gathers the modules ever asked for (see add_module).
kernel_dir() {
        local pkg="" ver="" dir="" deb stamp=$cache/kernel/resolved
        # Resolving costs an apt-cache run: a resolution younger than 12 h
        # is reused.
        if [ -n "$(find "$stamp" -mmin -720 2>/dev/null)" ]; then
                read -r pkg ver <"$stamp" || true
        fi
        if [ -z "$pkg" ] || [ ! -f "$cache/kernel/${pkg}_${ver}/vmlinuz" ]; then
                read -r pkg ver < <(resolve_kernel_pkg) || true
        fi
        if [ -n "$pkg" ] && [ -n "$ver" ]; then
                dir=$cache/kernel/${pkg}_${ver}
        else
                # No apt lists (or no version pinned): the newest cached
                # kernel (of that package), if any.
                dir=$(ls -d "$cache/kernel/${pkg:-*}_"*/ 2>/dev/null | sort -V | tail -n 1)
                dir=${dir%/}
        fi
        if [ -n "$dir" ] && [ -f "$dir/vmlinuz" ]; then
                [ -n "$pkg" ] && echo "$pkg $ver" >"$stamp"
                echo "$dir"; return 0
        fi

        note "fetching Debian's kernel package (${pkg:-the dependency of linux-image-amd64})"
        deb=$(download_kernel_pkg "$pkg") && [ -n "$deb" ] ||
                skip "apt-get cannot provide the kernel package that linux-image-amd64 depends on"
        pkg=$(dpkg-deb -f "$deb" Package)
        ver=$(dpkg-deb -f "$deb" Version)
        dir=$cache/kernel/${pkg}_${ver}
        rm -rf "$work/kx" "$dir.new"
        mkdir -p "$work/kx" "$dir.new/modules"
        # Unpacked without maintainer scripts or install hooks; only what
        # is booted (the modules tree is 400 MB).
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kx" --wildcards './boot/vmlinuz-*' './boot/config-*'
        cp "$work/kx"/boot/vmlinuz-* "$dir.new/vmlinuz"
        cp "$work/kx"/boot/config-* "$dir.new/config"
        extract_vmlinux "$dir.new/vmlinuz" "$dir.new/vmlinux" ||
                note "no PVH-bootable vmlinux in $pkg: booting the bzImage (about 6 s slower)"
        rm -rf "$work/kx" "$dir"
        mv "$dir.new" "$dir"
        echo "$pkg $ver" >"$stamp"
        note "kernel $pkg $ver cached in $dir"
        echo "$dir"
}

# Makes sure every --module is in $1/modules, unpacking the package again
# (same version) for those that are not.
ensure_modules() {
        local dir=$1 name missing=0 deb pv
        for name in ${modules[@]+"${modules[@]}"}; do
                [ -f "$dir/modules/${name//-/_}.ko" ] || missing=1
        done
        [ "$missing" = 1 ] || return 0
        pv=$(basename "$dir")
        note "fetching modules from ${pv%%_*} ${pv#*_}"
        deb=$(download_kernel_pkg "${pv%%_*}=${pv#*_}" exact) && [ -n "$deb" ] ||
                skip "apt-get cannot provide ${pv%%_*} ${pv#*_} for its modules"
        rm -rf "$work/kx"
        mkdir -p "$work/kx" "$dir/modules"
        dpkg-deb -x "$deb" "$work/kx"
        for name in ${modules[@]+"${modules[@]}"}; do
                add_module "$work/kx" "$dir/modules" "$name"
        done
        rm -rf "$work/kx"
}

# Copies module $3 as $2/NAME.ko and the names of the modules it depends on
# to $2/NAME.deps, and does the same for those. The package ships no
# modules.dep (depmod makes it at install time): the dependencies are the
# .modinfo section's NUL-separated "depends=a,b" string. Soft dependencies
# ("softdep=pre: crc32c", often aliases) are not followed: name them too.
add_module() {
        local root=$1 out=$2 name=${3//-/_} ko dep deps
        [ -f "$out/$name.ko" ] && return 0
        ko=$(find "$root/lib/modules" -name '*.ko' | awk -v n="$name" '
                { b = $0; sub(/.*\//, "", b); sub(/\.ko$/, "", b); gsub(/-/, "_", b); if (b == n && !found) { print; found = 1 } }')
        [ -n "$ko" ] || die "module '$3' is not in the kernel package"
        deps=$(tr '\0' '\n' <"$ko" | awk -F= '$1 == "depends" && !d { gsub(/,/, " ", $2); print $2; d = 1 }')
        for dep in $deps; do
                add_module "$root" "$out" "$dep"
        done
        echo "$deps" >"$out/$name.deps"
        cp "$ko" "$out/$name.ko"
}

# Prints the modules to load for this run, each after its dependencies.
module_order() {
        local dir=$1/modules name
        declare -A seen=()
        visit() {
                local n=${1//-/_} d
                [ -n "${seen[$n]:-}" ] && return 0
                seen[$n]=1
                for d in $(cat "$dir/$n.deps"); do visit "$d"; done
                echo "$n"
        }
        for name in ${modules[@]+"${modules[@]}"}; do visit "$name"; done
}

# ------------------------------------------------------------- initramfs

# The initramfs is two concatenated gzip'd cpio archives (the kernel
# unpacks them in turn): a cached base layer with busybox, its applet
# links and /etc, and a per-run layer with /init, the files and modules.

# Directories that are symlinks on the host (merged /usr: /lib -> usr/lib)
# are symlinks in both layers too, so libraries land at the paths ldd names
# and the loader's default search path finds them.
make_skeleton() {
        local root=$1 d
        mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var}
        for d in lib lib32 lib64 libx32; do
                if [ -L "/$d" ]; then
                        ln -sfn "$(readlink "/$d")" "$root/$d"
                        mkdir -p "$root/$(readlink -f "/$d")"
                fi
        done
}

# Writes directory $1 as a cpio archive. Files keep their owners (the VM's
# /etc/passwd has the host's system users, so a daemon that drops to its
# user can still read its files); without root they all become root's.
pack() {
        local owner=()
        [ "$(id -u)" = 0 ] || owner=(-R 0:0)
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc ${owner[@]+"${owner[@]}"} --quiet)
}

# The users and groups daemons in the VM look up, with the host's ids.
write_passwd() {
        local root=$1 u g line name uid gid home shell
        for u in root:0:0:/root:/bin/sh messagebus:100:101:/nonexistent:/usr/sbin/nologin \
                 polkitd:996:996:/nonexistent:/usr/sbin/nologin nobody:65534:65534:/nonexistent:/usr/sbin/nologin; do
                IFS=: read -r name uid gid home shell <<<"$u"
                line=$(getent passwd "$name" 2>/dev/null) || line="$name:x:$uid:$gid::$home:$shell"
                echo "$line"
        done >"$root/etc/passwd"
        for g in root:0 messagebus:101 polkitd:996 nogroup:65534; do
                line=$(getent group "${g%%:*}" 2>/dev/null) || line="${g%%:*}:x:${g#*:}:"
                echo "$line"
        done >"$root/etc/group"
}

base_layer() {
        local key layer root applet
        key=$( { sha256sum "$busybox"; echo "base-$BASE_LAYER_VERSION"; } | sha256sum | cut -c1-16)
        layer=$cache/initramfs/base-$key.cpio.gz
        if [ -f "$layer" ]; then echo "$layer"; return 0; fi

        root=$work/base
        make_skeleton "$root"
        cp "$busybox" "$root/bin/busybox"
        copy_elf_deps "$root" "$busybox"
        for applet in $("$busybox" --list-full); do
                [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
        done
        ln -s ../run "$root/var/run"
        echo "passwd: files" >"$root/etc/nsswitch.conf"
        echo "group: files" >>"$root/etc/nsswitch.conf"
        echo memcgd-vm >"$root/etc/hostname"
        # sd-bus and dbus-daemon read it; any fixed 128-bit id will do.
        echo 6d656d6367642d766d2d6d6163686964 >"$root/etc/machine-id"

        mkdir -p "$cache/initramfs"
        rm -f "$cache"/initramfs/base-*.cpio.gz
        pack "$root" | gzip -6 >"$layer.tmp"
        mv "$layer.tmp" "$layer"
        echo "$layer"
}

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

# Copies the shared libraries and loader that ELF file $2 needs into $1.
copy_elf_deps() {
        local root=$1 elf=$2 line lib
        is_elf "$elf" || return 0
        while read -r line; do
                case "$line" in
                *"=> not found"*) die "$elf: shared library ${line%% *} not found" ;;
                *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
                /*) lib=${line%% (*} ;;
                *) continue ;;
                esac
                [ -e "$root$lib" ] && continue
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
        done < <(LC_ALL=C ldd "$elf" 2>/dev/null || true)
}

# Copies --file SRC[:DEST] into $1, with the libraries of every ELF file.
add_file() {
        local root=$1 spec=$2 src dest f
        src=${spec%%:*}
        if [ "$src" = "$spec" ]; then dest=""; else dest=${spec#*:}; fi
        [ -e "$src" ] || die "--file: $src does not exist"
        [ -n "$dest" ] || dest=$(realpath -s "$src")
        [[ $dest == */ ]] && dest=$dest$(basename "$src")
        [[ $dest == /* ]] || die "--file: destination '$dest' is not absolute"
        mkdir -p "$root$(dirname "$dest")"
        if [ -d "$src" ]; then
                mkdir -p "$root$dest"
                cp -a "$src/." "$root$dest/"
                while IFS= read -r -d '' f; do
                        copy_elf_deps "$root" "$f"
                done < <(find "$src" -type f -print0)
        else
                cp -L --preserve=mode "$src" "$root$dest"
                copy_elf_deps "$root" "$src"
        fi
}

write_init() {
        local init=$1 kdir=$2 e m cmd=""
        for e in "${@:3}"; do cmd+=" $(shquote "$e")"; done
        {
                cat <<'EOF'
#!/bin/sh
# Generated by vm-run.sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
# The kernel opens /dev/console before /init only if the initramfs has the
# node (it cannot without root on the host): take it from devtmpfs.
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1

finish() {
        echo
        echo "MEMCGD-VM-EXIT=$1"
        sync
        poweroff -f
        echo o >/proc/sysrq-trigger
}
fail() { echo "vm-run init: $*"; finish 1; }

mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || fail "mount /run"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
echo +memory >/sys/fs/cgroup/cgroup.subtree_control || fail "enable +memory"
hostname -F /etc/hostname
ip link set lo up
EOF
                for m in $(module_order "$kdir"); do
                        echo "insmod /lib/modules/vm-run/$m.ko || fail \"insmod $m\""
                done
                for e in ${envs[@]+"${envs[@]}"}; do
                        echo "export ${e%%=*}=$(shquote "${e#*=}")"
                done
                cat <<EOF
echo
echo "$BOOT_MARKER uptime=\$(cut -d' ' -f1 /proc/uptime) kernel=\$(uname -r)"
cd /
$cmd </dev/null
finish \$?
EOF
        } >"$init"
        chmod 755 "$init"
}

run_layer() {
        local kdir=$1 root=$work/run spec m
        shift
        make_skeleton "$root"
        write_passwd "$root"
        for spec in ${files[@]+"${files[@]}"}; do
                add_file "$root" "$spec"
        done
        mkdir -p "$root/lib/modules/vm-run"
        for m in $(module_order "$kdir"); do
                cp "$kdir/modules/$m.ko" "$root/lib/modules/vm-run/"
        done
        write_init "$root/init" "$kdir" "$@"
        pack "$root" | gzip -1 >"$work/run.cpio.gz"
}

t0=$(date +%s.%N)
kdir=$(kernel_dir)
ensure_modules "$kdir"
base=$(base_layer)
flock -u 9
run_layer "$kdir" "$@"
cat "$base" "$work/run.cpio.gz" >"$work/initramfs.gz"
t1=$(date +%s.%N)
note "kernel $(basename "$kdir"), initramfs $(( $(stat -c %s "$work/initramfs.gz") / 1024 )) KiB, prepared in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

# ------------------------------------------------------------------ qemu

# TCG by default: where /dev/kvm exists it may still not work (on the
# development machines QEMU aborts setting MSR 0x10a under nested KVM).
accel=${MEMCGD_VM_ACCEL:-tcg}

kernel=$kdir/vmlinuz
if [ -f "$kdir/vmlinux" ] && [ "${MEMCGD_VM_PVH:-1}" = 1 ]; then kernel=$kdir/vmlinux; fi

log=$work/console.log
: >"$log"
# stdin is /dev/null: with -nographic QEMU would otherwise put a terminal in
# raw mode and read keys from it; CI has no stdin at all. -nic none: the
# guest gets no network.
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
        -machine "q35,accel=$accel" -cpu max -smp 2 -m "$mem_mb" \
        -nographic -no-reboot -nic none \
        -kernel "$kernel" -initrd "$work/initramfs.gz" \
        -append "console=ttyS0 quiet panic=-1 $append" \
        </dev/null >"$log" 2>&1 &
qemu_pid=$!
# Stream the console as it comes, without the serial line's carriage returns.
tail -s 0.2 -n +1 -f --pid="$qemu_pid" "$log" | sed -u 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' &
tail_pid=$!
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=""
wait "$tail_pid" || true
t2=$(date +%s.%N)

boot=$(tr -d '\r' <"$log" | sed -n "s/^.*$BOOT_MARKER uptime=\([0-9.]*\).*/\1/p" | tail -n 1)
# Unanchored: a kernel message may share the line. The last marker counts,
# the one /init printed after the command.
code=$(tr -d '\r' <"$log" | sed -n "s/^.*$EXIT_MARKER=\([0-9][0-9]*\).*$/\1/p" | tail -n 1)
note "VM ran $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s (guest uptime at command start: ${boot:-?} s), qemu exit $rc"

if [ -n "$code" ]; then
        note "command exited $code"
        exit "$code"
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "vm-run: FAIL: timed out after $timeout_s s without an exit marker" >&2
else
        echo "vm-run: FAIL: QEMU exited $rc without an exit marker (kernel panic or init failure? see the console above)" >&2
fi
exit 1
