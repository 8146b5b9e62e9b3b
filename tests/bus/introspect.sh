#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Introspection shows the contract of DESIGN.md §4, and the introspection
# XML kept in dbus/ is what the running service prints.
. "$(dirname "$0")/lib.sh"

bus_setup

# The contract, transcribed from DESIGN.md §4. Output argument names are
# not part of it; input and signal argument names are.
cat >"$BUS_TMP/manager.spec" <<'EOF'
interface org.memcgd1.Manager
method Monitor in:s:cgroup in:t:initial_limit out:o
method Unmonitor in:s:cgroup
method SetInitialLimit in:s:cgroup in:t:limit
method GetStats in:s:cgroup out:a{sv}
method ListMonitored out:a(so)
signal LimitChanged s:cgroup t:old_max t:new_max t:new_high s:reason
signal Oom s:cgroup s:kind t:count a(us):tasks
signal BudgetExhausted s:cgroup t:requested t:granted
signal MonitorStopped s:cgroup s:reason
method SetOomPolicy in:s:cgroup in:s:policy
method ResolveOom in:s:cgroup in:s:decision in:t:bytes
signal TasksKilled s:cgroup a(us):tasks s:cause
method RegisterReclaimer in:s:cgroup in:t:chunk_size out:o
signal Pressure s:cgroup y:level
signal ReclaimRequested s:cgroup t:wanted_bytes t:asked_bytes u:reclaimers s:cause
property Version s read true|const
property BudgetBytes t read true
property GrantedBytes t read true
property MonitoredCount u read true
interface org.freedesktop.DBus.ObjectManager
method GetManagedObjects out:a{oa{sa{sv}}}
signal InterfacesAdded o:object_path a{sa{sv}}:interfaces_and_properties
signal InterfacesRemoved o:object_path as:interfaces
interface org.freedesktop.DBus.Properties
interface org.freedesktop.DBus.Introspectable
EOF
cat >"$BUS_TMP/cgroup.spec" <<'EOF'
interface org.memcgd1.Cgroup
method GetStats out:a{sv}
property Path s read true|const
property Backend s read true|const
property MaxLimitBytes t read true
property HighLimitBytes t read true
property CurrentBytes t read false
property OomPolicy s read true
property OomWaiting b read true
EOF
cat >"$BUS_TMP/reclaimer.spec" <<'EOF'
interface org.memcgd1.Reclaimer
method SetReclaimable in:t:chunks
method AddReclaimable in:x:delta
method Unregister
signal Reclaim t:chunks
property Cgroup s read true|const
property Owner s read true|const
property ChunkSize t read true|const
property ReclaimableChunks t read false
property RequestedChunks t read false
property Requests t read false
EOF


say "== the manager object /org/memcgd1"
busctl introspect --xml-interface "$BUS_NAME" "$BUS_MANAGER" >"$BUS_TMP/manager.xml" ||
        die "busctl introspect $BUS_NAME $BUS_MANAGER failed"
relay_checks "the manager's contract" "$PYTHON" "$BUS_HERE/busjson.py" contract "$BUS_TMP/manager.xml" "$BUS_TMP/manager.spec"

say "== a per-cgroup object"
memcg_create introspect
out=$(mgr root Monitor st "$MEMCG" $((64 << 20))) || die "Monitor $MEMCG failed: $(cat "$BUS_TMP/last.err" 2>/dev/null)"
obj=$(jget data.0 <<<"$out")
assert_eq "Monitor returns /org/memcgd1/cgroup/<sd_bus_path_encode(path)>" "$(object_path_of "$MEMCG")" "$obj"
busctl introspect --xml-interface "$BUS_NAME" "$obj" >"$BUS_TMP/cgroup.xml" ||
        die "busctl introspect $BUS_NAME $obj failed"
relay_checks "a cgroup's contract" "$PYTHON" "$BUS_HERE/busjson.py" contract "$BUS_TMP/cgroup.xml" "$BUS_TMP/cgroup.spec"

say "== a reclaimer object (issue 5)"
RECLAIMER_XML=
if [ -x "${MEMCGD_TEST_RECLAIMER:-}" ]; then
        # A reclaimer lives as long as its connection: a client that holds
        # one registered (and allocates nothing much: one chunk of 4 KiB).
        "$MEMCGD_TEST_RECLAIMER" --cgroup="$MEMCG" --chunks=1 --chunk-size=4096 --seconds=30 >"$BUS_TMP/reclaimer.out" 2>&1 &
        BUS_PIDS+=($!)
        if wait_for "reclaimer" "$BUS_WAIT" grep -q '^ready' "$BUS_TMP/reclaimer.out"; then
                robj=$(awk '/^ready/ { print $2 }' "$BUS_TMP/reclaimer.out")
                busctl introspect --xml-interface "$BUS_NAME" "$robj" >"$BUS_TMP/reclaimer.xml" ||
                        die "busctl introspect $BUS_NAME $robj failed"
                relay_checks "a reclaimer's contract" "$PYTHON" "$BUS_HERE/busjson.py" contract "$BUS_TMP/reclaimer.xml" "$BUS_TMP/reclaimer.spec"
                RECLAIMER_XML=$BUS_TMP/reclaimer.xml
        else
                fail "a reclaimer registers for the introspection" "$(cat "$BUS_TMP/reclaimer.out")"
        fi
fi

say "== the node tree"
# /org/memcgd1 lists the cgroup node below it (enumerator), so tools can walk it.
tree=$(busctl tree --list "$BUS_NAME" 2>&1)
assert_contains "busctl tree lists the per-cgroup object" "$tree" "$obj"

say "== an unprivileged caller may introspect"
uxml=$(as_user busctl introspect --xml-interface "$BUS_NAME" "$BUS_MANAGER" 2>&1)
assert_contains "introspection works for user $BUS_USER" "$uxml" 'interface name="org.memcgd1.Manager"'

say "== dbus/*.xml matches the running service"
shopt -s nullglob
xmls=("$MEMCGD_SOURCE_ROOT"/dbus/*.xml)
shopt -u nullglob
if [ ${#xmls[@]} -eq 0 ]; then
        fail "the introspection XML is kept in dbus/" "no dbus/*.xml in $MEMCGD_SOURCE_ROOT"
else
        say "repository XML: ${xmls[*]}"
        for f in "${xmls[@]}"; do
                "$PYTHON" "$BUS_HERE/busjson.py" interfaces "$f" --skip-standard ||
                        fail "dbus/$(basename "$f") parses as XML"
        done >"$BUS_TMP/repo.txt"
        {
                "$PYTHON" "$BUS_HERE/busjson.py" interfaces "$BUS_TMP/manager.xml" --skip-standard
                "$PYTHON" "$BUS_HERE/busjson.py" interfaces "$BUS_TMP/cgroup.xml" --skip-standard
                [ -z "$RECLAIMER_XML" ] || "$PYTHON" "$BUS_HERE/busjson.py" interfaces "$RECLAIMER_XML" --skip-standard
        } >"$BUS_TMP/live.txt"
        # Both sorted by interface: re-sort the concatenations the same way.
        for side in repo live; do
                "$PYTHON" - "$BUS_TMP/$side.txt" >"$BUS_TMP/$side.sorted" <<'EOF'
import sys
blocks, cur = {}, None
for line in open(sys.argv[1]):
    if line.startswith("interface "):
        cur = line.split()[1]
        blocks[cur] = []
    blocks[cur].append(line)
for name in sorted(blocks):
    sys.stdout.write("".join(blocks[name]))
EOF
        done
        if diff -u "$BUS_TMP/repo.sorted" "$BUS_TMP/live.sorted" >"$BUS_TMP/xml.diff"; then
                pass "dbus/*.xml describes exactly the interfaces the service introspects ($(grep -c '^interface' "$BUS_TMP/live.sorted") interfaces, names, types, directions, annotations)"
        else
                fail "dbus/*.xml describes exactly the interfaces the service introspects" \
                        "diff (- repository, + running service):" "$(head -n 80 "$BUS_TMP/xml.diff")"
        fi
fi

check "the service is still up" memcgd_alive
bus_finish
