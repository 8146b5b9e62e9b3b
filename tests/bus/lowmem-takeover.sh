#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real low-memory-monitor takes org.freedesktop.LowMemoryMonitor over
# (service/lowmem-bus.c, README "org.freedesktop.LowMemoryMonitor": memcgd
# owns the name only while it is free and allows replacement).
#  1. memcgd owns the name (RequestName ALLOW_REPLACEMENT|DO_NOT_QUEUE).
#  2. A taker (a bare D-Bus client, rawcall.py's protocol code) requests it
#     with REPLACE_EXISTING: it becomes the primary owner, the bus sends
#     memcgd NameLost, memcgd logs the takeover, stays up and still answers
#     org.memcgd1.
#  3. Under host memory pressure afterwards (the thrashing workload of
#     pressure.sh) memcgd still sees the host level rise (its log) but
#     emits no LowMemoryWarning: the warnings are the new owner's.
#  4. The taker leaves: memcgd sees the name free (NameOwnerChanged) and
#     asks for it again, so GLib programs keep a publisher.
. "$(dirname "$0")/lib.sh"

LMM=org.freedesktop.LowMemoryMonitor
LMM_PATH=/org/freedesktop/LowMemoryMonitor
THRASH_FILE=${MEMCGD_THRASH_FILE:-/var/tmp/memcgd-test-thrash-90m.bin}
THRASH_MIB=90
THRASH_SECS=25
QUIET=2

[ -r /proc/pressure/memory ] || skip "no /proc/pressure/memory (kernel without PSI, or psi=0): memcgd does not publish $LMM"

# The private bus also takes the LowMemoryMonitor policy of the build
# (only root may own the name).
BUS_LMM_POLICY=1
BUS_NO_DAEMON=1 bus_setup
printf '[Pressure]\nQuietTime=%ss\nLowMemoryMonitor=yes\n' "$QUIET" >>"$BUS_TMP/memcgd.conf"

# Every signal on the LowMemoryMonitor path, the name's owner changes, and
# the NameLost the bus sends (unicast; a monitor sees it all the same).
busctl monitor --json=short \
        --match "type='signal',path='$LMM_PATH'" \
        --match "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'" \
        --match "type='signal',sender='org.freedesktop.DBus',member='NameLost'" \
        >"$BUS_TMP/lmm.jsonl" 2>"$BUS_TMP/lmm-monitor.log" &
BUS_PIDS+=($!)
wait_for "busctl monitor" "$BUS_WAIT" grep -qs Monitoring "$BUS_TMP/lmm-monitor.log" ||
        die "busctl monitor (LowMemoryMonitor) did not start" "$(cat "$BUS_TMP/lmm-monitor.log")"

memcgd_start

name_owner() {
        busctl --json=short call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                GetNameOwner s "$1" 2>/dev/null | jget data.0 2>/dev/null
}
log_has() { grep -qE -- "$1" "$BUS_TMP/memcgd.log"; }
# lmm_signals MEMBER: "sender<TAB>destination<TAB>payload..." of the
# recorded signals named MEMBER.
lmm_signals() {
        "$PYTHON" -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("type") == "signal" and m.get("member") == sys.argv[2]:
        data = (m.get("payload") or {}).get("data") or []
        print("\t".join([m.get("sender") or "", m.get("destination") or ""] + [str(x) for x in data]))
' "$BUS_TMP/lmm.jsonl" "$1"
}

say "== memcgd owns $LMM"
if ! wait_for "Publishing" "$BUS_WAIT" log_has "Publishing host memory pressure as $LMM"; then
        if log_has "Not publishing $LMM|No host memory pressure|is owned by another service"; then
                skip "memcgd does not publish $LMM here: $(grep -E "Not publishing|No host memory pressure|is owned by another" "$BUS_TMP/memcgd.log" | tail -n 1)"
        fi
        die "memcgd publishes $LMM" "$(grep -iE 'lowmemory|pressure' "$BUS_TMP/memcgd.log" | tail -n 5)"
fi
MEMCGD_UNIQUE=$(name_owner "$BUS_NAME")
[ -n "$MEMCGD_UNIQUE" ] || die "GetNameOwner($BUS_NAME) answers"
assert_eq "before the takeover $LMM is memcgd's ($BUS_NAME's owner)" "$MEMCGD_UNIQUE" "$(name_owner "$LMM")"

say "== a real low-memory-monitor takes the name over"
# The taker: Hello, RequestName(NAME, FLAGS), prints "ready UNIQUE REPLY",
# then holds the name until it is killed or the bus goes away.
TAKER_PY='
import os, signal, struct, sys
sys.path.insert(0, sys.argv[1])
import rawcall
name, flags = sys.argv[2], sys.argv[3]
addr = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
path = addr.split("path=", 1)[1].split(",")[0].split(";")[0]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
conn = rawcall.Conn(path)
def call(serial, member, sig, args):
    conn.sock.sendall(rawcall.message(serial, "/org/freedesktop/DBus", "org.freedesktop.DBus", member,
                                      "org.freedesktop.DBus", sig, rawcall.marshal_body(sig, args)))
    while True:
        mtype, fields, body = conn.read_message()
        if fields.get(5) == serial:
            if mtype != rawcall.METHOD_RETURN:
                sys.exit("%s failed: %s %r" % (member, fields.get(4), body))
            return body
body = call(1, "Hello", "", [])
(n,) = struct.unpack("<I", body[:4])
unique = body[4:4 + n].decode()
(ret,) = struct.unpack("<I", call(2, "RequestName", "su", [name, flags])[:4])
print("ready", unique, ret, flush=True)
conn.sock.settimeout(None)
try:
    while True:
        conn.read_message()
except (EOFError, ConnectionResetError):
    pass
'
TAKER_OUT=$BUS_TMP/taker.out
# REPLACE_EXISTING (2), as a low-memory-monitor started after memcgd would.
"$PYTHON" -c "$TAKER_PY" "$BUS_HERE" "$LMM" 2 >"$TAKER_OUT" 2>&1 &
TAKER_PID=$!
BUS_PIDS+=("$TAKER_PID")
wait_for "taker" "$BUS_WAIT" grep -q '^ready' "$TAKER_OUT" || die "the taker requested $LMM" "$(cat "$TAKER_OUT")"
read -r _ TAKER_UNIQUE TAKER_RET <"$TAKER_OUT"
assert_eq "RequestName($LMM, REPLACE_EXISTING) makes the taker the primary owner (reply 1)" 1 "$TAKER_RET"
assert_eq "after the takeover GetNameOwner($LMM) is the taker ($TAKER_UNIQUE)" "$TAKER_UNIQUE" "$(name_owner "$LMM")"

taken_over_logged() { log_has "$LMM was taken over by another service; no longer publishing host pressure there"; }
if wait_for "takeover log" 10 taken_over_logged; then
        pass "memcgd logs the takeover: $(grep -o "$LMM was taken over.*" "$BUS_TMP/memcgd.log" | head -n 1)"
else
        fail "memcgd logs that $LMM was taken over" "$(grep -iE 'lowmemory' "$BUS_TMP/memcgd.log" | tail -n 5)"
fi
lost=$(lmm_signals NameLost | awk -F'\t' -v d="$MEMCGD_UNIQUE" -v n="$LMM" '$2 == d && $3 == n')
if [ -n "$lost" ]; then
        pass "the bus sent memcgd ($MEMCGD_UNIQUE) NameLost($LMM)"
else
        fail "the bus sent memcgd ($MEMCGD_UNIQUE) NameLost($LMM)" "NameLost seen: $(lmm_signals NameLost | tr '\n' ' ')"
fi
noc=$(lmm_signals NameOwnerChanged | awk -F'\t' -v n="$LMM" -v o="$MEMCGD_UNIQUE" -v t="$TAKER_UNIQUE" '$3 == n && $4 == o && $5 == t')
if [ -n "$noc" ]; then
        pass "NameOwnerChanged($LMM, $MEMCGD_UNIQUE -> $TAKER_UNIQUE)"
else
        fail "NameOwnerChanged($LMM, $MEMCGD_UNIQUE -> $TAKER_UNIQUE)" "seen: $(lmm_signals NameOwnerChanged | grep -F "$LMM" | tr '\n' ' ')"
fi
check "memcgd is still up after losing $LMM" memcgd_alive
if out=$(list_monitored root); then
        pass "memcgd still answers $BUS_IFACE.ListMonitored ($(jget data.0 <<<"$out"))"
else
        fail "memcgd still answers $BUS_IFACE.ListMonitored" "$(cat "$BUS_TMP/last.err")"
fi
assert_eq "memcgd still owns $BUS_NAME with the same connection" "$MEMCGD_UNIQUE" "$(name_owner "$BUS_NAME")"

say "== host memory pressure after the takeover"
if [ ! -s "$THRASH_FILE" ] || [ "$(stat -c %s "$THRASH_FILE")" -ne $((THRASH_MIB * 1048576)) ]; then
        # Renamed into place: another test may be reading it right now.
        # Written back before it is used (conv=fsync): the fadvise below
        # cannot drop dirty pages, and those stay charged to this shell's
        # memcg, where the readers would find them cached and never stall.
        dd if=/dev/urandom of="$THRASH_FILE.$$" bs=1M count=$THRASH_MIB conv=fsync status=none &&
                mv -f "$THRASH_FILE.$$" "$THRASH_FILE" ||
                skip "cannot write $THRASH_FILE"
fi
# pressure.sh's workload: a 72 MiB memcg, two readers of the 90 MiB file
# (forward and backward); its refaults stall the memcg's tasks, which the
# host's /proc/pressure/memory counts too.
# Only what memcgd sends from here on counts: before the takeover the name
# was its own, and pressure from anything else on the host may have made
# it warn then, rightly.
own_before=$(lmm_signals LowMemoryWarning | awk -F'\t' -v s="$MEMCGD_UNIQUE" '$1 == s' | wc -l)
memcg_create host
echo $((72 * 1048576)) >"$MEMCG_DIR/memory.limit_in_bytes"
"$PYTHON" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$THRASH_FILE"
log_mark=$(wc -l <"$BUS_TMP/memcgd.log")
host_rose() { tail -n +$((log_mark + 1)) "$BUS_TMP/memcgd.log" | grep -qE 'Host memory pressure [a-z]+ -> (low|medium|critical)'; }
t0=$SECONDS
bash -c 'echo $$ >"$1/cgroup.procs" || exit 1
         end=$((SECONDS + $2))
         while [ $SECONDS -lt $end ]; do cat "$3" >/dev/null & tac "$3" >/dev/null; wait; done' _ \
        "$MEMCG_DIR" "$THRASH_SECS" "$THRASH_FILE" &
THRASH_PID=$!
BUS_PIDS+=("$THRASH_PID")
if wait_for "host pressure" "$THRASH_SECS" host_rose; then
        say "host pressure rose after $((SECONDS - t0)) s: $(tail -n +$((log_mark + 1)) "$BUS_TMP/memcgd.log" | grep -E 'Host memory pressure' | head -n 1)"
        # A warning is due at once on a rise and again every quiet
        # period while the level holds: give it two of them.
        sleep $((QUIET * 2 + 1))
        rose=1
else
        rose=
fi
kill "$THRASH_PID" 2>/dev/null
wait "$THRASH_PID" 2>/dev/null
while read -r p; do kill "$p" 2>/dev/null; done <"$MEMCG_DIR/cgroup.procs"
# Anything already queued on the bus reaches the monitor first.
sleep 0.5
own=$(lmm_signals LowMemoryWarning | awk -F'\t' -v s="$MEMCGD_UNIQUE" '$1 == s' | tail -n +$((own_before + 1)))
if [ -n "$rose" ]; then
        if [ -z "$own" ]; then
                pass "no LowMemoryWarning from memcgd ($MEMCGD_UNIQUE) under host pressure after the takeover ($(tail -n +$((log_mark + 1)) "$BUS_TMP/memcgd.log" | grep -cE 'Host memory pressure') level changes logged)"
        else
                fail "no LowMemoryWarning from memcgd ($MEMCGD_UNIQUE) under host pressure after the takeover" \
                        "$(wc -l <<<"$own") sent, levels: $(cut -f3 <<<"$own" | tr '\n' ' ')"
        fi
else
        # Without a rise the check below would hold by default.
        [ -z "$own" ] || fail "no LowMemoryWarning from memcgd ($MEMCGD_UNIQUE) after the takeover" "$(wc -l <<<"$own") sent"
        skip_part "the thrashing workload raised no host memory pressure within $THRASH_SECS s (the LowMemoryWarning check)"
fi
check "memcgd is still up after the host pressure" memcgd_alive

say "== the taker leaves"
kill "$TAKER_PID" 2>/dev/null
wait "$TAKER_PID" 2>/dev/null
lmm_is_memcgds() { [ "$(name_owner "$LMM")" = "$MEMCGD_UNIQUE" ]; }
if wait_for "memcgd owns $LMM again" "$BUS_WAIT" lmm_is_memcgds; then
        pass "after the taker left, memcgd ($MEMCGD_UNIQUE) owns $LMM again"
else
        fail "after the taker left, memcgd ($MEMCGD_UNIQUE) owns $LMM again" "owner: $(name_owner "$LMM" 2>&1)"
fi
if grep -q "$LMM is free again" "$BUS_TMP/memcgd.log" &&
   [ "$(grep -c "Publishing host memory pressure as $LMM" "$BUS_TMP/memcgd.log")" -eq 2 ]; then
        pass "memcgd logs the name free again and publishing a second time"
else
        fail "memcgd logs the name free again and publishing a second time" "$(grep -i lowmemorymonitor "$BUS_TMP/memcgd.log")"
fi
check "memcgd is still up after the taker left" memcgd_alive
if out=$(list_monitored root); then
        pass "memcgd still answers $BUS_IFACE.ListMonitored after the taker left"
else
        fail "memcgd still answers $BUS_IFACE.ListMonitored after the taker left" "$(cat "$BUS_TMP/last.err")"
fi
bus_finish
