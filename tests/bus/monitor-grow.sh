#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A monitored v1 memcg grows with its child instead of OOM-killing it;
# GetStats, ListMonitored and the ObjectManager show it; Unmonitor restores
# the original limits; removing the memcg ends the monitoring.
. "$(dirname "$0")/lib.sh"

MIB=1048576
INITIAL=$((64 * MIB))
# high_from_max(64 MiB) = 64 MiB - 8 MiB (DESIGN.md §1: below 108 MiB).
INITIAL_HIGH=$((56 * MIB))
GROW_TO_MIB=256
# The shrink timer would lower the fresh 64 MiB limit of the empty memcg
# after 1 s (to 18 MiB: max_from_high(0) + 10 MiB), racing the checks
# below on a loaded host; growth is what this test is about.
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}

bus_setup

memcg_create grow
CG=$MEMCG
OBJ=$(object_path_of "$CG")
# The unified twin of the path: on a hybrid host its memory.pressure is the
# cgroup's PSI (DESIGN.md §2), so GetStats should offer pressure_* for it.
if [ -e "$MEMCG_UNIFIED/cgroup.procs" ]; then
        mkdir "$MEMCG_UNIFIED$CG" 2>/dev/null || true
fi
ORIG_LIMIT=$(memcg_limit "$CG")
ORIG_SOFT=$(memcg_file "$CG" memory.soft_limit_in_bytes)
say "memcg $CG: limit_in_bytes $ORIG_LIMIT, soft_limit_in_bytes $ORIG_SOFT before Monitor"

say "== GetStats of a memcg nobody monitors"
out=$(stats root "$CG") && pass "GetStats works on an unmonitored memcg" ||
        fail "GetStats works on an unmonitored memcg" "$(cat "$BUS_TMP/last.err")"
load_stats "$out"
assert_eq "unmonitored: cgroup" "$CG" "${ST_VAL[cgroup]:-}"
assert_eq "unmonitored: backend" v1 "${ST_VAL[backend]:-}"
assert_eq "unmonitored: monitored" false "${ST_VAL[monitored]:-}"
assert_limit_value "unmonitored: max_limit_bytes is limit_in_bytes" "$ORIG_LIMIT" "${ST_VAL[max_limit_bytes]:-}"
check_stat_keys "unmonitored GetStats" "$CG" false

say "== Monitor($CG, 64 MiB)"
out=$(mgr root Monitor st "$CG" "$INITIAL") || die "Monitor $CG failed" "$(cat "$BUS_TMP/last.err")"
assert_eq "Monitor returns the cgroup's object path" "$OBJ" "$(jget data.0 <<<"$out")"
assert_eq "limit_in_bytes is the initial limit right after Monitor" "$INITIAL" "$(memcg_limit "$CG")"
assert_eq "soft_limit_in_bytes is high_from_max(initial)" "$INITIAL_HIGH" "$(memcg_file "$CG" memory.soft_limit_in_bytes)"
if wait_signal 5 LimitChanged "$CG" $'\t'"$INITIAL"$'\t'"$INITIAL_HIGH"$'\tinitial$'; then
        pass "LimitChanged($CG, $ORIG_LIMIT, $INITIAL, $INITIAL_HIGH, initial)"
        assert_limit_value "LimitChanged(initial) carries the old limit" "$ORIG_LIMIT" "$(signals LimitChanged "$CG" | grep -m1 $'\tinitial$' | cut -f2)"
else
        fail "LimitChanged($CG, ..., $INITIAL, $INITIAL_HIGH, initial)" "recorded: $(signals LimitChanged "$CG" | head -n 5)"
fi
if wait_signal 5 InterfacesAdded "$OBJ" 'org\.memcgd1\.Cgroup'; then
        pass "ObjectManager InterfacesAdded($OBJ, org.memcgd1.Cgroup)"
else
        fail "ObjectManager InterfacesAdded($OBJ, org.memcgd1.Cgroup)" "recorded: $(signals InterfacesAdded | head -n 3)"
fi
assert_eq "MonitoredCount is 1" 1 "$(mgr_property MonitoredCount)"
# (The shrink timer may lower it a second later: check the announcement.)
if wait_signal 5 PropertiesChanged org.memcgd1.Manager '"GrantedBytes":\{"type":"t","data":'"$INITIAL"'\}' "$BUS_MANAGER"; then
        pass "PropertiesChanged: GrantedBytes became the initial limit"
else
        fail "PropertiesChanged: GrantedBytes became the initial limit" "recorded: $(signals PropertiesChanged org.memcgd1.Manager | head -n 5)"
fi

say "== Monitor is idempotent"
n_initial=$(signals LimitChanged "$CG" | grep -c $'\tinitial$')
out=$(mgr root Monitor st "$CG" $((128 * MIB))) || fail "second Monitor succeeds" "$(cat "$BUS_TMP/last.err")"
assert_eq "a second Monitor returns the same object" "$OBJ" "$(jget data.0 <<<"$out")"
sleep 0.2
check "a second Monitor leaves the limits alone (limit is the last announced one)" limit_matches_last_signal "$CG"
assert_eq "a second Monitor announces nothing" "$n_initial" "$(signals LimitChanged "$CG" | grep -c $'\tinitial$')"

say "== ListMonitored and the ObjectManager"
check "ListMonitored lists ($CG, $OBJ)" is_listed "$CG"
check "ListMonitored works for user $BUS_USER" is_listed "$CG" user
mo=$(busctl --json=short call "$BUS_NAME" "$BUS_MANAGER" org.freedesktop.DBus.ObjectManager GetManagedObjects)
assert_eq "GetManagedObjects: Path of $OBJ" "$CG" "$(jget "[\"data\",0,\"$OBJ\",\"org.memcgd1.Cgroup\",\"Path\",\"data\"]" <<<"$mo" 2>&1)"
assert_eq "GetManagedObjects: Backend of $OBJ" v1 "$(jget "[\"data\",0,\"$OBJ\",\"org.memcgd1.Cgroup\",\"Backend\",\"data\"]" <<<"$mo" 2>&1)"
assert_eq "GetManagedObjects: MaxLimitBytes of $OBJ is limit_in_bytes" "$(memcg_limit "$CG")" \
        "$(jget "[\"data\",0,\"$OBJ\",\"org.memcgd1.Cgroup\",\"MaxLimitBytes\",\"data\"]" <<<"$mo" 2>&1)"
cg_prop() { busctl --json=short get-property "$BUS_NAME" "$OBJ" "$BUS_CGROUP_IFACE" "$1" 2>&1 | jget data 2>&1; }
assert_eq "Cgroup.Path" "$CG" "$(cg_prop Path)"
assert_eq "Cgroup.Backend" v1 "$(cg_prop Backend)"
assert_eq "Cgroup.MaxLimitBytes is limit_in_bytes" "$(memcg_limit "$CG")" "$(cg_prop MaxLimitBytes)"
assert_eq "Cgroup.HighLimitBytes is soft_limit_in_bytes" "$(memcg_file "$CG" memory.soft_limit_in_bytes)" "$(cg_prop HighLimitBytes)"
cur=$(cg_prop CurrentBytes)
if [[ "$cur" =~ ^[0-9]+$ ]]; then pass "Cgroup.CurrentBytes reads a number ($cur)"; else fail "Cgroup.CurrentBytes reads a number" "$cur"; fi

say "== a child grows to $GROW_TO_MIB MiB in ${BUS_GROW_STEP_MIB:-2} MiB steps, ${BUS_GROW_PAUSE_MS:-30} ms apart"
t0=$SECONDS
alloc_start "$CG" "$GROW_TO_MIB" "${BUS_GROW_STEP_MIB:-2}" "${BUS_GROW_PAUSE_MS:-30}"
HOG=$ALLOC_PID
wait_for "hog" 90 bash -c 'grep -q "^ready" "$0" || ! kill -0 "$1" 2>/dev/null' "$ALLOC_OUT" "$HOG"
if alloc_ready "$ALLOC_OUT"; then
        pass "the child touched $GROW_TO_MIB MiB inside $CG ($((SECONDS - t0)) s)"
else
        wait "$HOG" 2>/dev/null; rc=$?
        fail "the child touched $GROW_TO_MIB MiB inside $CG" "exit status $rc (137 = SIGKILL, the OOM killer)" \
                "its last line: $(tail -n 1 "$ALLOC_OUT")" "limit now $(memcg_limit "$CG")"
fi
check "the child is alive" kill -0 "$HOG"
assert_eq "no OOM kill in $CG (memory.oom_control oom_kill)" 0 "$(memcg_oom_kills "$CG")"
ngrow=$(signals LimitChanged "$CG" | grep -c $'\tgrow$')
if [ "$ngrow" -ge 1 ]; then
        pass "LimitChanged(..., grow) seen $ngrow times"
else
        fail "LimitChanged(..., grow) seen" "none; recorded: $(signals LimitChanged "$CG" | tail -n 5)"
fi
bad=$(signals LimitChanged "$CG" | awk -F'\t' '$5 == "grow" && !($3 + 0 > $2 + 0 && $4 + 0 < $3 + 0)')
assert_eq "every grow raises max and keeps high below it" "" "$bad"
usage=$(memcg_file "$CG" memory.usage_in_bytes)
limit=$(memcg_limit "$CG")
assert_u64 "limit_in_bytes ($limit) holds the usage ($usage)" "$usage" -le "$limit"
assert_u64 "limit_in_bytes grew to at least $GROW_TO_MIB MiB" "$limit" -ge $((GROW_TO_MIB * MIB))
if wait_signal 3 PropertiesChanged org.memcgd1.Cgroup 'MaxLimitBytes' "$OBJ"; then
        pass "PropertiesChanged(org.memcgd1.Cgroup) on $OBJ announces MaxLimitBytes"
else
        fail "PropertiesChanged(org.memcgd1.Cgroup) on $OBJ announces MaxLimitBytes" \
                "recorded: $(signals PropertiesChanged - "$OBJ" | head -n 3)"
fi
check "GrantedBytes grew with the limit" u64_cmp "$(mgr_property GrantedBytes)" -gt "$INITIAL"

say "== GetStats of the monitored memcg, while the child holds $GROW_TO_MIB MiB"
lim_before=$(memcg_limit "$CG")
out=$(stats root "$CG") || fail "Manager.GetStats works" "$(cat "$BUS_TMP/last.err")"
lim_after=$(memcg_limit "$CG")
load_stats "$out"
check_stat_keys "Manager.GetStats" "$CG" true
assert_eq "cgroup" "$CG" "${ST_VAL[cgroup]:-}"
assert_eq "backend" v1 "${ST_VAL[backend]:-}"
assert_eq "monitored" true "${ST_VAL[monitored]:-}"
if [ "${ST_VAL[max_limit_bytes]:-}" = "$lim_before" ] || [ "${ST_VAL[max_limit_bytes]:-}" = "$lim_after" ]; then
        pass "max_limit_bytes is limit_in_bytes (${ST_VAL[max_limit_bytes]})"
else
        fail "max_limit_bytes is limit_in_bytes" "GetStats ${ST_VAL[max_limit_bytes]:-}, file $lim_before / $lim_after"
fi
assert_u64 "current_bytes covers the child's $GROW_TO_MIB MiB" "${ST_VAL[current_bytes]:-0}" -ge $((GROW_TO_MIB * MIB))
assert_u64 "peak_bytes >= current_bytes" "${ST_VAL[peak_bytes]:-0}" -ge "${ST_VAL[current_bytes]:-1}"
assert_u64 "high_limit_bytes < max_limit_bytes" "${ST_VAL[high_limit_bytes]:-0}" -lt "${ST_VAL[max_limit_bytes]:-0}"
assert_u64 "limit_increases counts the grows (>= $ngrow)" "${ST_VAL[limit_increases]:-0}" -ge "$ngrow"
assert_eq "events_oom_kill is 0" 0 "${ST_VAL[events_oom_kill]:-}"
assert_eq "granted_bytes is max_limit_bytes (the pool pays for the whole limit)" "${ST_VAL[max_limit_bytes]:-}" "${ST_VAL[granted_bytes]:-}"
declare -A MGR_TYPE
for k in "${!ST_TYPE[@]}"; do MGR_TYPE[$k]=${ST_TYPE[$k]}; done
out=$(busctl --json=short call "$BUS_NAME" "$OBJ" "$BUS_CGROUP_IFACE" GetStats 2>"$BUS_TMP/last.err") ||
        fail "Cgroup.GetStats works" "$(cat "$BUS_TMP/last.err")"
load_stats "$out"
check_stat_keys "Cgroup.GetStats" "$CG" true
assert_eq "Cgroup.GetStats has the keys of Manager.GetStats" \
        "$(echo "${!MGR_TYPE[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')" \
        "$(echo "${!ST_TYPE[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')"
out=$(stats user "$CG") && pass "GetStats works for user $BUS_USER" ||
        fail "GetStats works for user $BUS_USER" "$(cat "$BUS_TMP/last.err")"

say "== the child frees and exits"
alloc_stop "$HOG"
assert_eq "the child exits 0 after freeing" 0 "$ALLOC_RC"
assert_eq "still no OOM kill in $CG" 0 "$(memcg_oom_kills "$CG")"

say "== Unmonitor restores the original limits"
mgr root Unmonitor s "$CG" >/dev/null && pass "Unmonitor succeeds" ||
        fail "Unmonitor succeeds" "$(cat "$BUS_TMP/last.err")"
assert_eq "limit_in_bytes is back to its value before Monitor" "$ORIG_LIMIT" "$(memcg_limit "$CG")"
assert_eq "soft_limit_in_bytes is back to its value before Monitor" "$ORIG_SOFT" "$(memcg_file "$CG" memory.soft_limit_in_bytes)"
if wait_signal 5 MonitorStopped "$CG" $'\tunmonitored$'; then
        pass "MonitorStopped($CG, unmonitored)"
else
        fail "MonitorStopped($CG, unmonitored)" "recorded: $(signals MonitorStopped | head -n 3)"
fi
if [ -n "$(signals LimitChanged "$CG" | awk -F'\t' -v o="$ORIG_LIMIT" '($3 == o || ($3 == "18446744073709551615" && o == "9223372036854771712")) && $5 == "restore"')" ]; then
        pass "LimitChanged($CG, ..., $ORIG_LIMIT, ..., restore)"
else
        fail "LimitChanged($CG, ..., $ORIG_LIMIT, ..., restore)" "recorded: $(signals LimitChanged "$CG" | tail -n 3)"
fi
if wait_signal 5 InterfacesRemoved "$OBJ" 'org\.memcgd1\.Cgroup'; then
        pass "ObjectManager InterfacesRemoved($OBJ)"
else
        fail "ObjectManager InterfacesRemoved($OBJ)" "recorded: $(signals InterfacesRemoved | head -n 3)"
fi
if is_listed "$CG"; then fail "ListMonitored no longer lists $CG" "$(list_monitored)"; else pass "ListMonitored no longer lists $CG"; fi
out=$(stats root "$CG"); load_stats "$out"
assert_eq "GetStats says monitored=false" false "${ST_VAL[monitored]:-}"
assert_eq "MonitoredCount is 0" 0 "$(mgr_property MonitoredCount)"
assert_eq "GrantedBytes is 0" 0 "$(mgr_property GrantedBytes)"
expect_error "Unmonitor again: NotMonitored" org.memcgd1.Error.NotMonitored "$CG" root Unmonitor "string:$CG"

say "== Monitor right behind an Unmonitor: the cgroup ends up monitored"
# 20 rounds each way on one connection (rawcall.py's protocol code): the
# two calls sent back to back, so the Monitor is read while the Unmonitor
# is still being carried out; and Monitor sent the moment Unmonitor's
# reply arrives, before its worker is gone. The Monitor waits for that
# worker and then monitors anew: both calls succeed.
mgr root Monitor st "$CG" "$INITIAL" >/dev/null || fail "Monitor before the rounds" "$(cat "$BUS_TMP/last.err")"
res=$("$PYTHON" - "$BUS_HERE" "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" "$CG" "$INITIAL" <<'PY' 2>&1
import os, struct, sys
sys.path.insert(0, sys.argv[1])
import rawcall as rc
dest, obj, iface, cg, limit = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
sock = os.environ["DBUS_SYSTEM_BUS_ADDRESS"].split("path=", 1)[1].split(",")[0].split(";")[0]
conn = rc.Conn(sock)
serial = 0
def send(member, sig, args):
    global serial
    serial += 1
    conn.sock.sendall(rc.message(serial, obj if member != "Hello" else "/org/freedesktop/DBus",
                                 iface if member != "Hello" else "org.freedesktop.DBus", member,
                                 dest if member != "Hello" else "org.freedesktop.DBus", sig,
                                 rc.marshal_body(sig, args)))
    return serial
got = {}  # reply serial -> outcome, in whatever order the replies come
def reply(s):
    while s not in got:
        mtype, fields, body = conn.read_message()
        if mtype == rc.METHOD_RETURN:
            got[fields.get(5)] = "ok"
        elif mtype == rc.ERROR:
            text = ""
            if fields.get(8, "").startswith("s") and len(body) >= 4:
                (n,) = struct.unpack("<I", body[:4])
                text = body[4:4 + n].decode("utf-8", "replace")
            got[fields.get(5)] = "%s: %s" % (fields.get(4), text)
    return got.pop(s)
reply(send("Hello", "", []))
bad = {"pipelined": 0, "after the reply": 0}
for mode in bad:
    for i in range(20):
        u = send("Unmonitor", "s", [cg])
        if mode == "pipelined":
            m = send("Monitor", "st", [cg, limit])
            ru, rm = reply(u), reply(m)
        else:
            ru = reply(u)
            rm = reply(send("Monitor", "st", [cg, limit]))
        if ru != "ok" or rm != "ok":
            bad[mode] += 1
            print("%s round %d: Unmonitor %s, Monitor %s" % (mode, i, ru, rm))
print("failed rounds: pipelined %d, after the reply %d" % (bad["pipelined"], bad["after the reply"]))
PY
)
say "$(tail -n 3 <<<"$res")"
assert_eq "Unmonitor then Monitor, 20 rounds pipelined and 20 on the reply: every call succeeded" \
        "failed rounds: pipelined 0, after the reply 0" "$(tail -n 1 <<<"$res")"
check "$CG is monitored after the rounds" is_listed "$CG"
assert_eq "MonitoredCount is 1 after the rounds" 1 "$(mgr_property MonitoredCount)"
mgr root Unmonitor s "$CG" >/dev/null || fail "Unmonitor after the rounds" "$(cat "$BUS_TMP/last.err")"

say "== removing a monitored memcg ends its monitoring"
mgr root Monitor st "$CG" "$INITIAL" >/dev/null || fail "Monitor again succeeds" "$(cat "$BUS_TMP/last.err")"
check "monitored again" is_listed "$CG"
rmdir "$MEMCG_ROOT$CG" && pass "rmdir $MEMCG_ROOT$CG" || fail "rmdir $MEMCG_ROOT$CG"
if wait_signal 10 MonitorStopped "$CG" $'\tremoved$'; then
        pass "MonitorStopped($CG, removed)"
else
        fail "MonitorStopped($CG, removed) within 10 s" "recorded: $(signals MonitorStopped | head -n 3)"
fi
sleep 0.2
if is_listed "$CG"; then fail "ListMonitored forgets the removed memcg" "$(list_monitored)"; else pass "ListMonitored forgets the removed memcg"; fi
assert_eq "GrantedBytes is 0 again" 0 "$(mgr_property GrantedBytes)"
expect_error "GetStats of the removed memcg: NoSuchCgroup" org.memcgd1.Error.NoSuchCgroup "$CG" root GetStats "string:$CG"

check "the service is still up" memcgd_alive
bus_finish
