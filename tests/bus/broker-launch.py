# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs dbus-broker (the system bus of Fedora, Arch and RHEL) as a private
bus for the tests, without systemd.

dbus-broker-launch takes its listening socket by socket activation
(LISTEN_FDS), logs to the journal's socket and connects back to its own
bus as a client. This script binds the bus socket, stands in for the
journal (a datagram socket whose MESSAGE fields it appends to a log file)
and execs the launcher with the socket as fd 3. It must run in a mount
namespace of its own where a tmpfs covers /run/systemd/journal, so that
no journald of the host is reached or replaced (tests/bus/lib.sh:
bus_start_broker).

    broker-launch.py SOCKET CONFIG LOG PIDFILE

PIDFILE receives the launcher's pid; the broker is its child. SIGTERM
stops the launcher, which takes the broker with it.
"""

import os
import select
import signal
import socket
import sys

JOURNAL = "/run/systemd/journal/socket"


def journal_messages(datagram):
    # The journal's native protocol: KEY=VALUE lines; a binary-safe field
    # is KEY\n<64-bit length><bytes>\n. Only MESSAGE matters here.
    out = []
    i = 0
    while i < len(datagram):
        nl = datagram.find(b"\n", i)
        if nl < 0:
            nl = len(datagram)
        line = datagram[i:nl]
        if b"=" not in line:
            if nl + 9 > len(datagram):
                break
            n = int.from_bytes(datagram[nl + 1:nl + 9], "little")
            value = datagram[nl + 9:nl + 9 + n]
            if line == b"MESSAGE":
                out.append(value)
            i = nl + 9 + n + 1
            continue
        key, _, value = line.partition(b"=")
        if key == b"MESSAGE":
            out.append(value)
        i = nl + 1
    return out


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    sock_path, config, log_path, pid_path = sys.argv[1:]

    for p in (sock_path, JOURNAL):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind(JOURNAL)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    os.chmod(sock_path, 0o666)
    listener.listen(256)

    pid = os.fork()
    if pid == 0:
        os.dup2(listener.fileno(), 3)
        os.set_inheritable(3, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        # The launcher talks to its own bus as a client (activation).
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=" + sock_path
        os.closerange(4, 4096)
        try:
            os.execvp("dbus-broker-launch",
                      ["dbus-broker-launch", "--scope", "system", "--config-file", config])
        except OSError as e:
            print(f"broker-launch: cannot run dbus-broker-launch: {e}", file=sys.stderr)
        os._exit(127)
    listener.close()
    with open(pid_path, "w") as f:
        f.write(f"{pid}\n")

    def stop(signum, frame):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    with open(log_path, "ab", buffering=0) as log:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            try:
                ready, _, _ = select.select([journal], [], [], 0.2)
            except InterruptedError:
                continue
            if ready:
                for m in journal_messages(journal.recv(1 << 20)):
                    log.write(m + b"\n")
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
