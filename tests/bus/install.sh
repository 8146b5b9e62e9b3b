#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install --destdir` puts every file of a real install (DESIGN.md
# §5) where the distribution expects it: the directories come from the
# build's own options when set, else from the pkg-config variables of
# dbus-1, polkit-gobject-1 and systemd; and each file says what it must.
. "$(dirname "$0")/lib.sh"

[ -n "${MEMCGD_BUILD_ROOT:-}" ] && [ -f "$MEMCGD_BUILD_ROOT/meson-info/meson-info.json" ] ||
        skip "MEMCGD_BUILD_ROOT is not a meson build directory (run through meson test)"
[ -x "${MEMCGD_BIN:-}" ] || skip "daemon binary ${MEMCGD_BIN:-} not built"
command -v meson >/dev/null || skip "meson not installed"
command -v pkg-config >/dev/null || skip "pkg-config not installed"

BUS_TMP=$(mktemp -d "/tmp/memcgd-bus-$BUS_TEST_NAME.XXXXXX")
trap bus_teardown EXIT
DEST=$BUS_TMP/dest

say "== meson install -C $MEMCGD_BUILD_ROOT --destdir $DEST"
t0=$SECONDS
# Without --no-rebuild: `meson test` builds only what the tests depend on,
# and an install needs every target (meson install runs ninja first).
if meson install -C "$MEMCGD_BUILD_ROOT" --destdir "$DEST" >"$BUS_TMP/install.log" 2>&1; then
        pass "meson install --destdir succeeds ($((SECONDS - t0)) s)"
else
        die "meson install --destdir succeeds" "$(tail -n 20 "$BUS_TMP/install.log")"
fi
say "installed files:"
(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort | sed 's/^/   /')

meson introspect --buildoptions "$MEMCGD_BUILD_ROOT" >"$BUS_TMP/options.json"
opt() { "$PYTHON" -c 'import json,sys; print(next((str(o["value"]) for o in json.load(open(sys.argv[1])) if o["name"] == sys.argv[2]), ""))' "$BUS_TMP/options.json" "$1"; }
PREFIX=$(opt prefix)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac; }
# dir OPTION PACKAGE VARIABLE [SUFFIX]: the build option when set, else
# the pkg-config variable (+ SUFFIX).
dir() {
        local v
        v=$(opt "$1")
        if [ -n "$v" ]; then echo "$v"; return; fi
        v=$(pkg-config --variable="$3" "$2" 2>/dev/null)
        [ -n "$v" ] && echo "$v${4:-}"
}
LIBEXECDIR=$(abs "$(opt libexecdir)")
SYSCONFDIR=$(abs "$(opt sysconfdir)")
# meson's rule: prefix /usr puts sysconfdir at /etc.
[ "$PREFIX" = /usr ] && [ "$(opt sysconfdir)" = etc ] && SYSCONFDIR=/etc
DBUSPOLICYDIR=$(dir dbuspolicydir dbus-1 datadir /dbus-1/system.d)
DBUSSERVICEDIR=$(dir dbussystemservicedir dbus-1 system_bus_services_dir)
POLKITDIR=$(dir polkitactiondir polkit-gobject-1 policydir)
UNITDIR=$(dir systemdsystemunitdir systemd systemdsystemunitdir)
# dbus/meson.build installs the XML to <datadir>/dbus-1/interfaces (under
# the prefix); dbus-1.pc's interfaces_dir is where tools look.
IFACEDIR=$(abs "$(opt datadir)")/dbus-1/interfaces
PC_IFACEDIR=$(pkg-config --variable=interfaces_dir dbus-1 2>/dev/null)
[ -n "$PC_IFACEDIR" ] && [ "$PC_IFACEDIR" != "$IFACEDIR" ] &&
        say "NOTE: the XML goes to $IFACEDIR, dbus-1.pc's interfaces_dir is $PC_IFACEDIR (same only with prefix=/usr)"
say "expected directories: prefix=$PREFIX libexecdir=$LIBEXECDIR sysconfdir=$SYSCONFDIR"
say "   dbus policy=$DBUSPOLICYDIR services=$DBUSSERVICEDIR interfaces=$IFACEDIR polkit=$POLKITDIR units=$UNITDIR"
for v in DBUSPOLICYDIR DBUSSERVICEDIR POLKITDIR UNITDIR IFACEDIR; do
        [ -n "${!v}" ] || fail "the expected directory $v is known (pkg-config file missing? .ci/deps.sh)"
done

BIN=$LIBEXECDIR/memcgd
CONF=$DBUSPOLICYDIR/org.memcgd1.conf
SERVICE=$DBUSSERVICEDIR/org.memcgd1.service
POLICY=$POLKITDIR/org.memcgd1.policy
UNIT=$UNITDIR/memcgd.service
CFG=$SYSCONFDIR/memcgd/memcgd.conf

say "== every file at its place"
check "daemon: $BIN is executable" test -x "$DEST$BIN" -a -f "$DEST$BIN"
check "bus policy: $CONF" test -f "$DEST$CONF"
check "bus activation: $SERVICE" test -f "$DEST$SERVICE"
check "polkit actions: $POLICY" test -f "$DEST$POLICY"
check "systemd unit: $UNIT" test -f "$DEST$UNIT"
check "config file: $CFG" test -f "$DEST$CFG"
for iface in org.memcgd1.Manager org.memcgd1.Cgroup; do
        found=$(grep -l "interface name=\"$iface\"" "$DEST$IFACEDIR"/*.xml 2>/dev/null | sed "s|^$DEST||")
        if [ -n "$found" ]; then
                pass "introspection XML of $iface in $IFACEDIR (${found//$'\n'/ })"
        else
                fail "introspection XML of $iface in $IFACEDIR" "nothing there: $(ls "$DEST$IFACEDIR" 2>&1)"
        fi
done
for f in "$DEST$IFACEDIR"/*.xml; do
        [ -f "$f" ] || continue
        "$PYTHON" -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$f" 2>/dev/null &&
                pass "$(basename "$f") is well-formed XML" || fail "$(basename "$f") is well-formed XML"
done

say "== what the files say"
if [ -f "$DEST$SERVICE" ]; then
        s=$(cat "$DEST$SERVICE")
        check "bus activation: [D-BUS Service]" grep -q '^\[D-BUS Service\]' <<<"$s"
        check "bus activation: Name=org.memcgd1" grep -qx 'Name=org.memcgd1' <<<"$s"
        check "bus activation: User=root" grep -qx 'User=root' <<<"$s"
        check "bus activation: SystemdService=memcgd.service" grep -qx 'SystemdService=memcgd.service' <<<"$s"
        exec_line=$(sed -n 's/^Exec=//p' <<<"$s")
        if [ "$exec_line" = /bin/false ] || [[ "$exec_line" == "$BIN"* ]]; then
                pass "bus activation: Exec= is the installed daemon or /bin/false ($exec_line)"
        else
                fail "bus activation: Exec= is the installed daemon or /bin/false" "Exec=$exec_line"
        fi
fi
if [ -f "$DEST$UNIT" ]; then
        u=$(cat "$DEST$UNIT")
        check "unit: Type=notify" grep -qx 'Type=notify' <<<"$u"
        check "unit: BusName=org.memcgd1" grep -qx 'BusName=org.memcgd1' <<<"$u"
        es=$(sed -n 's/^ExecStart=//p' <<<"$u")
        if [[ "$es" == "$BIN"* ]]; then pass "unit: ExecStart= runs $BIN"; else fail "unit: ExecStart= runs $BIN" "ExecStart=$es"; fi
        check "unit: StateDirectory=memcgd (the state of /var/lib/memcgd)" grep -qx 'StateDirectory=memcgd' <<<"$u"
        for k in LimitNOFILE TasksMax; do
                v=$(sed -n "s/^$k=//p" <<<"$u" | tail -n 1)
                v=${v##*:}
                if [ "$v" = infinity ] || { [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 4096 ]; }; then
                        pass "unit: $k=$v (thousands of workers)"
                else
                        fail "unit: $k sized for thousands of workers" "$k=${v:-unset}"
                fi
        done
        # cgroupfs must stay writable under the hardening.
        if grep -qE '^ProtectControlGroups=(yes|true|strict)' <<<"$u"; then
                fail "unit: hardening leaves cgroupfs writable" "ProtectControlGroups is on: /sys/fs/cgroup becomes read-only"
        else
                pass "unit: hardening leaves cgroupfs writable (no ProtectControlGroups)"
        fi
        if command -v systemd-analyze >/dev/null; then
                # Missing ExecStart binary is expected in a destdir; report only syntax errors.
                sa=$(systemd-analyze verify "$DEST$UNIT" 2>&1 | grep -vE 'Command .* is not executable|No such file|Failed to prepare|Unit .* not found|System has not been booted|Failed to (connect|initialize)' )
                if [ -z "$sa" ]; then pass "unit: systemd-analyze verify reports nothing"; else
                        fail "unit: systemd-analyze verify reports nothing" "$sa"; fi
        else
                skip_part "no systemd-analyze: the unit is not verified"
        fi
fi
if [ -f "$DEST$CONF" ]; then
        r=$("$PYTHON" - "$DEST$CONF" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
problems = []
own = []
for pol in root.findall("policy"):
    ctx = dict(pol.attrib)
    for rule in pol:
        if rule.tag != "allow":
            continue
        if "own" in rule.attrib or "own_prefix" in rule.attrib:
            own.append(ctx)
            if ctx != {"user": "root"}:
                problems.append("allow own in <policy %s>" % ctx)
        if any(k.startswith("send_") for k in rule.attrib) and "send_destination" not in rule.attrib:
            problems.append("allow without send_destination: %s" % rule.attrib)
        if rule.attrib.get("send_destination") not in (None, "org.memcgd1"):
            problems.append("allow send to another name: %s" % rule.attrib)
if not own:
    problems.append("nobody may own org.memcgd1")
print("; ".join(problems) or "ok")
EOF
)
        assert_eq "bus policy: only root owns org.memcgd1, every allow names send_destination=org.memcgd1" ok "$r"
        check "bus policy: everyone may send to org.memcgd1" grep -qE '<policy context="default">' "$DEST$CONF"
fi
if [ -f "$DEST$POLICY" ]; then
        r=$("$PYTHON" - "$DEST$POLICY" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
want = {"allow_any": "no", "allow_inactive": "no", "allow_active": "auth_admin_keep"}
out = []
for aid in ("org.memcgd1.monitor", "org.memcgd1.set-limit"):
    a = [x for x in root.findall("action") if x.get("id") == aid]
    if not a:
        out.append("%s missing" % aid)
        continue
    d = a[0].find("defaults")
    got = {k: (d.findtext(k) or "").strip() for k in want} if d is not None else {}
    if got != want:
        out.append("%s defaults %s" % (aid, got))
    if not (a[0].findtext("description") or "").strip() or not (a[0].findtext("message") or "").strip():
        out.append("%s lacks description/message" % aid)
print("; ".join(out) or "ok")
EOF
)
        assert_eq "polkit: org.memcgd1.monitor and org.memcgd1.set-limit with defaults no/no/auth_admin_keep" ok "$r"
fi
if [ -f "$DEST$CFG" ]; then
        check "config: has a [Manager] group (or documents it)" grep -qE '^#? *\[Manager\]' "$DEST$CFG"
        check "config: documents Budget=" grep -qE '^#? *Budget=' "$DEST$CFG"
        check "config: has a [Limits] group (or documents it)" grep -qE '^#? *\[Limits\]' "$DEST$CFG"
        # The installed config must be accepted by the installed daemon: it
        # starts with it (--no-bus, nothing monitored) and stops cleanly.
        if [ "$(id -u)" = 0 ] && [ -n "$(bus_find_memcg_root)" ]; then
                "$DEST$BIN" --no-bus --config="$DEST$CFG" --state-directory="$BUS_TMP/installed-state" \
                        >"$BUS_TMP/installed.out" 2>&1 &
                ipid=$!
                sleep 1
                kill -TERM "$ipid" 2>/dev/null
                wait "$ipid"; irc=$?
                if [ "$irc" -eq 0 ] && ! grep -qiE 'error|invalid|unknown' "$BUS_TMP/installed.out"; then
                        pass "the installed daemon starts with the installed config and stops with status 0"
                else
                        fail "the installed daemon starts with the installed config and stops with status 0" \
                                "status $irc: $(tail -n 3 "$BUS_TMP/installed.out")"
                fi
        fi
fi

bus_finish
