# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the cli tests: the bus suite's stack (tests/bus/lib.sh: a
# private system bus, polkitd, memcgd, fresh v1 memcgs), plus helpers that
# run memcgctl and check its exit status, stdout and stderr.
#
# Environment (set by tests/cli/meson.build): MEMCGCTL_BIN, and what
# tests/bus/lib.sh needs (MEMCGD_BIN, MEMCGD_TEST_ALLOC, ...).

source "$(dirname "${BASH_SOURCE[0]}")/../bus/lib.sh"

cli_require() {
        [ -x "${MEMCGCTL_BIN:-}" ] || skip "memcgctl not built (MEMCGCTL_BIN=${MEMCGCTL_BIN:-})"
        command -v jq >/dev/null || skip "jq not installed (.ci/deps.sh)"
}

# ctl [--user] ARGS...: runs memcgctl (as the unprivileged test user with
# --user) with stdin from /dev/null (no terminal: never interactive);
# sets OUT, ERR and RC.
ctl() {
        local runner=()
        if [ "${1:-}" = --user ]; then
                runner=(as_user)
                shift
        fi
        OUT=$("${runner[@]}" "$MEMCGCTL_BIN" "$@" </dev/null 2>"$BUS_TMP/ctl.err")
        RC=$?
        ERR=$(cat "$BUS_TMP/ctl.err")
}

# expect_rc DESC STATUS [--user] ARGS...: memcgctl ARGS exits with STATUS;
# a failure prints exactly one line on stderr.
expect_rc() {
        local desc=$1 want=$2; shift 2
        ctl "$@"
        if [ "$RC" != "$want" ]; then
                fail "$desc" "memcgctl $* exited $RC, expected $want" "stdout: ${OUT:0:300}" "stderr: ${ERR:0:300}"
                return 1
        fi
        if [ "$want" != 0 ] && [ "$(printf '%s\n' "$ERR" | wc -l)" != 1 ]; then
                fail "$desc" "exit $RC is right, but stderr is not one line:" "$ERR"
                return 1
        fi
        pass "$desc (exit $RC${ERR:+: ${ERR:0:160}})"
        return 0
}

# expect_err_contains DESC NEEDLE: the last memcgctl's stderr names NEEDLE.
expect_err_contains() { assert_contains "$1" "$ERR" "$2"; }

# jqv FILTER: jq -r FILTER on OUT (the last memcgctl's stdout).
jqv() { jq -r "$1" <<<"$OUT"; }

# fake_memcgd_emit < SPEC: takes the name org.memcgd1 on the test's bus
# (memcgd stopped first) and sends the signals of SPEC, a JSON array of
# [path, interface, member, signature, [args...]], then leaves the bus.
# So watch can be shown every signal of the contract, with arguments no
# real kernel gives on demand (a level, a process name with escape codes).
# Plain Python speaking the D-Bus wire protocol (no python3-gi or dbus
# module needed): signatures of y b u t s o g and arrays and structs.
fake_memcgd_emit() {
        "$PYTHON" -c '
import json, os, socket, struct, sys

def split_types(sig):
    out, i = [], 0
    while i < len(sig):
        j = i
        depth = 0
        while True:
            c = sig[j]
            if c == "a":
                j += 1
                continue
            if c in "({":
                depth += 1
            elif c in ")}":
                depth -= 1
            j += 1
            if depth == 0:
                break
        out.append(sig[i:j])
        i = j
    return out

ALIGN = {"y": 1, "g": 1, "b": 4, "u": 4, "s": 4, "o": 4, "a": 4, "t": 8, "(": 8, "{": 8, "v": 1}

class W:
    def __init__(self, b=b""):
        self.b = bytearray(b)
    def pad(self, n):
        while len(self.b) % n:
            self.b.append(0)
    def put(self, t, v):
        c = t[0]
        self.pad(ALIGN[c])
        if c == "y":
            self.b += struct.pack("<B", v)
        elif c in "bu":
            self.b += struct.pack("<I", int(v))
        elif c == "t":
            self.b += struct.pack("<Q", v)
        elif c in "so":
            e = v.encode()
            self.b += struct.pack("<I", len(e)) + e + b"\0"
        elif c == "g":
            e = v.encode()
            self.b += struct.pack("<B", len(e)) + e + b"\0"
        elif c == "v":
            self.put("g", v[0])
            self.put(v[0], v[1])
        elif c == "a":
            at = len(self.b)
            self.b += b"\0\0\0\0"
            self.pad(ALIGN[t[1]])
            start = len(self.b)
            for e in v:
                self.put(t[1:], e)
            struct.pack_into("<I", self.b, at, len(self.b) - start)
        elif c in "({":
            for ft, fv in zip(split_types(t[1:-1]), v):
                self.put(ft, fv)
        else:
            raise SystemExit("type " + t + " not supported")

serial = 0
def message(kind, path, iface, member, sig, args, dest=None):
    global serial
    serial += 1
    body = W()
    for t, v in zip(split_types(sig), args):
        body.put(t, v)
    fields = [(1, ["o", path]), (3, ["s", member])]
    if iface:
        fields.append((2, ["s", iface]))
    if dest:
        fields.append((6, ["s", dest]))
    if sig:
        fields.append((8, ["g", sig]))
    h = W(b"l" + bytes([kind, 0, 1]) + struct.pack("<II", len(body.b), serial))
    h.put("a(yv)", fields)
    h.pad(8)
    return bytes(h.b + body.b)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("the bus closed the connection")
        b += c
    return b

def recv_message(s):
    fixed = recv_exact(s, 16)
    body_len, = struct.unpack_from("<I", fixed, 4)
    fields_len, = struct.unpack_from("<I", fixed, 12)
    rest = recv_exact(s, (fields_len + 7) // 8 * 8 + body_len)
    return fixed[1], rest[len(rest) - body_len:]

addr = os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
s = socket.socket(socket.AF_UNIX)
s.connect(addr.split("unix:path=", 1)[1].split(",")[0])
s.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
line = b""
while not line.endswith(b"\r\n"):
    line += s.recv(1)
if not line.startswith(b"OK "):
    raise SystemExit("authentication refused: %r" % line)
s.sendall(b"BEGIN\r\n")
bus = ("/org/freedesktop/DBus", "org.freedesktop.DBus")
s.sendall(message(1, bus[0], bus[1], "Hello", "", [], dest=bus[1]))
s.sendall(message(1, bus[0], bus[1], "RequestName", "su", ["org.memcgd1", 4], dest=bus[1]))
replies = []
while len(replies) < 2:
    kind, body = recv_message(s)
    if kind == 3:
        raise SystemExit("the bus answered with an error")
    if kind == 2:
        replies.append(body)
if struct.unpack_from("<I", replies[1], 0)[0] != 1:
    raise SystemExit("org.memcgd1 is taken")
for path, iface, member, sig, args in json.load(sys.stdin):
    s.sendall(message(4, path, iface, member, sig, args))
# A last call answered by the bus: every signal before it has been routed.
s.sendall(message(1, bus[0], bus[1], "GetId", "", [], dest=bus[1]))
while recv_message(s)[0] not in (2, 3):
    pass
'
}

# CLI_DIRS: memcgs a test created beyond memcg_create's (names with spaces,
# which bus_teardown's word-split find does not remove); cli_teardown
# removes them, then runs bus_teardown.
CLI_DIRS=()
cli_memcg_create() {
        memcg_create "$1"
        CLI_DIRS+=("$MEMCG_DIR")
}
cli_teardown() {
        local rc=$? d pid
        for d in "${CLI_DIRS[@]}"; do
                [ -d "$d" ] || continue
                for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do
                        echo "$pid" >"$MEMCG_ROOT/cgroup.procs" 2>/dev/null
                done
                rmdir "$d" 2>/dev/null || say "teardown: could not remove $d"
        done
        (exit "$rc")
        bus_teardown
}
