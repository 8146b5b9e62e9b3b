#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bus policy: statically (check-bus-policy.py on dbus/org.memcgd1.conf
# and the LowMemoryMonitor file it installs beside it: only root owns the
# name, every <allow> names the destination, no rule for any other
# destination) and on a live private bus that includes it: an
# unprivileged user cannot take org.memcgd1 (nor LowMemoryMonitor), and
# can call memcgd's reads.
. "$(dirname "$0")/../bus/lib.sh"

BUS_NO_POLKIT=1
BUS_NO_DAEMON=1
# The live bus takes both files under test: without the LowMemoryMonitor
# one, the bus's default deny of owning would make its check pass alone.
BUS_LMM_POLICY=1
HERE=$(cd "$(dirname "$0")" && pwd)

for f in "$MEMCGD_SOURCE_ROOT/dbus/org.memcgd1.conf:org.memcgd1" \
         "$MEMCGD_SOURCE_ROOT/dbus/org.freedesktop.LowMemoryMonitor-memcgd.conf:org.freedesktop.LowMemoryMonitor"; do
        file=${f%%:*} name=${f##*:}
        [ -f "$file" ] || { fail "the policy file $file exists"; continue; }
        if out=$("$PYTHON" "$HERE/check-bus-policy.py" "$file" "$name"); then
                echo "$out" | sed 's/^PASS: /   ok: /'
                pass "$(basename "$file"): only root owns $name, every <allow> names it, no other destination"
        else
                fail "$(basename "$file"): only root owns $name, every <allow> names it, no other destination" "$(grep '^FAIL' <<<"$out")"
        fi
done

bus_setup
for name in org.memcgd1 org.freedesktop.LowMemoryMonitor; do
        out=$(as_user dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.RequestName "string:$name" uint32:0 2>&1)
        assert_contains "user $BUS_USER cannot own $name on a bus with the policy" "$out" "org.freedesktop.DBus.Error.AccessDenied"
done
memcgd_start
out=$(as_user dbus-send --system --print-reply --dest=org.memcgd1 /org/memcgd1 org.memcgd1.Manager.ListMonitored 2>&1)
assert_contains "user $BUS_USER may call memcgd's reads" "$out" "method return"
out=$(as_user dbus-send --system --print-reply --dest=org.memcgd1 /org/memcgd1 org.freedesktop.DBus.Properties.Set \
        string:org.memcgd1.Manager string:BudgetBytes variant:uint64:1 2>&1)
assert_contains "user $BUS_USER may not send Properties.Set to memcgd (the policy allows Get/GetAll only)" "$out" "AccessDenied"
bus_finish
