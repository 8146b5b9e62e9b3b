#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A bare D-Bus client that marshals strings byte for byte.

busctl, dbus-send and gdbus all check UTF-8 before sending, so none of them
can put an invalid string on the wire; this one can, which is how the bus
tests find out what happens to one.

  rawcall.py DEST PATH INTERFACE MEMBER SIGNATURE [ARG...]

SIGNATURE is made of the basic types s, o, t, u (no containers). String
arguments take Python-style escapes (\\xff is the byte 0xff). The address is
DBUS_SYSTEM_BUS_ADDRESS (unix:path=... only). Prints one line:
  return                    a method return arrived
  error NAME: MESSAGE       an error reply arrived
  disconnected              the bus closed the connection without a reply
and exits 0; exits 1 when it cannot connect or authenticate.
"""

import os
import socket
import struct
import sys

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4


def pad(buf, n):
    while len(buf) % n:
        buf.append(0)


def put_string(buf, raw, code="s"):
    if code == "g":
        buf.append(len(raw))
        buf += raw + b"\0"
        return
    pad(buf, 4)
    buf += struct.pack("<I", len(raw))
    buf += raw + b"\0"


def unescape(s):
    # Python-style escapes to raw bytes; everything else as UTF-8.
    out = bytearray()
    i = 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        if b[i:i + 2] == b"\\x" and i + 4 <= len(b):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        elif b[i:i + 2] == b"\\\\":
            out.append(0x5c)
            i += 2
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def marshal_body(signature, args):
    body = bytearray()
    if len(signature) != len(args):
        raise SystemExit("signature %r needs %d arguments" % (signature, len(signature)))
    for code, arg in zip(signature, args):
        if code in "so":
            put_string(body, unescape(arg), code)
        elif code == "t":
            pad(body, 8)
            body += struct.pack("<Q", int(arg, 0))
        elif code == "u":
            pad(body, 4)
            body += struct.pack("<I", int(arg, 0))
        else:
            raise SystemExit("unsupported type %r" % code)
    return bytes(body)


def message(serial, path, interface, member, dest, signature, body):
    fields = bytearray()

    def field(code, sigchar, raw):
        pad(fields, 8)
        fields.append(code)
        put_string(fields, sigchar.encode(), "g")
        put_string(fields, raw, sigchar)

    field(1, "o", path.encode())
    if interface:
        field(2, "s", interface.encode())
    field(3, "s", member.encode())
    if dest:
        field(6, "s", dest.encode())
    if signature:
        field(8, "g", signature.encode())
    head = bytearray(b"l")
    head += struct.pack("<BBBII", METHOD_CALL, 0, 1, len(body), serial)
    head += struct.pack("<I", len(fields))
    head += fields
    pad(head, 8)
    return bytes(head) + body


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.sock.sendall(b"\0")
        uid = str(os.geteuid()).encode().hex().encode()
        self.sock.sendall(b"AUTH EXTERNAL " + uid + b"\r\n")
        line = self.readline()
        if not line.startswith(b"OK"):
            raise SystemExit("authentication refused: %r" % line)
        self.sock.sendall(b"BEGIN\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_message(self):
        fixed = self.read_exact(16)
        if fixed[0:1] != b"l":
            raise SystemExit("big-endian replies are not handled")
        mtype, _flags, _ver, body_len, _serial, fields_len = struct.unpack("<BBBIII", fixed[1:16])
        fields_raw = self.read_exact(fields_len)
        padding = (8 - (16 + fields_len) % 8) % 8
        self.read_exact(padding)
        body = self.read_exact(body_len)
        fields = parse_fields(fields_raw)
        return mtype, fields, body


def parse_fields(raw):
    # Offsets are relative to the message start: the array begins at 16.
    fields = {}
    i = 0
    base = 16
    while i < len(raw):
        while (base + i) % 8:
            i += 1
        if i >= len(raw):
            break
        code = raw[i]
        siglen = raw[i + 1]
        sig = raw[i + 2:i + 2 + siglen].decode()
        i += 2 + siglen + 1
        if sig in ("s", "o"):
            while (base + i) % 4:
                i += 1
            (n,) = struct.unpack("<I", raw[i:i + 4])
            fields[code] = raw[i + 4:i + 4 + n].decode("utf-8", "replace")
            i += 4 + n + 1
        elif sig == "g":
            n = raw[i]
            fields[code] = raw[i + 1:i + 1 + n].decode()
            i += 1 + n + 1
        elif sig == "u":
            while (base + i) % 4:
                i += 1
            (fields[code],) = struct.unpack("<I", raw[i:i + 4])
            i += 4
        else:
            raise SystemExit("unexpected header field type %r" % sig)
    return fields


def main():
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 64
    dest, path, interface, member, signature = sys.argv[1:6]
    args = sys.argv[6:]
    addr = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/system_bus_socket")
    sockpath = None
    for part in addr.split(";")[0].split(":", 1)[1].split(","):
        if part.startswith("path="):
            sockpath = part[5:]
    if not sockpath:
        print("rawcall: only unix:path= addresses are handled", file=sys.stderr)
        return 1
    try:
        conn = Conn(sockpath)
        conn.sock.sendall(message(1, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
                                  "org.freedesktop.DBus", "", b""))
        while True:
            mtype, fields, _ = conn.read_message()
            if mtype in (METHOD_RETURN, ERROR) and fields.get(5) == 1:
                break
        body = marshal_body(signature, args)
        conn.sock.sendall(message(2, path, interface, member, dest, signature, body))
        while True:
            mtype, fields, body = conn.read_message()
            if fields.get(5) != 2:
                continue
            if mtype == METHOD_RETURN:
                print("return")
            else:
                text = ""
                if fields.get(8, "").startswith("s") and len(body) >= 4:
                    (n,) = struct.unpack("<I", body[:4])
                    text = body[4:4 + n].decode("utf-8", "replace")
                print("error %s: %s" % (fields.get(4), text))
            return 0
    except (EOFError, ConnectionResetError, BrokenPipeError):
        print("disconnected")
        return 0
    except socket.timeout:
        print("timeout")
        return 0


if __name__ == "__main__":
    sys.exit(main())
