#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exact helpers for the bus tests.

jq 1.6 (Debian 12) turns integers into doubles, so a limit such as
9223372036854771712 (v1's "unlimited") or UINT64_MAX comes out rounded.
Python's json keeps integers exact; the shell scripts call this instead.

  get PATH            value at PATH (dot separated keys / list indices, or a
                      JSON list of them) of the JSON on stdin; strings raw, booleans true/false, other
                      values as compact JSON; exit 2 when absent
  keys PATH           keys of the object at PATH, one a line, sorted
  dict [PATH]         an a{sv} (default at data.0): "key<TAB>type<TAB>value"
  signals FILE MEMBER [ARG0|- [OBJECT_PATH]]
                      payloads of the signals named MEMBER recorded by
                      `busctl monitor --json=short` in FILE (first argument
                      equal to ARG0 when given, sent from OBJECT_PATH when
                      given), one a line, fields
                      tab-separated (strings raw, the rest compact JSON)
  encode-path PREFIX STRING
                      sd_bus_path_encode(PREFIX, STRING)
  interfaces XMLFILE [--skip-standard]
                      a normalized, sorted text form of every interface in
                      an introspection document (arguments keep their
                      order; members and annotations are sorted)
"""

import json
import signal
import sys
import xml.etree.ElementTree as ET


def walk(value, path):
    if path in ("", "."):
        return value
    # Dotted ("data.0.key"), or a JSON list for keys holding dots or
    # slashes (["data", 0, "/org/x", "org.memcgd1.Cgroup"]).
    parts = json.loads(path) if path.startswith("[") else path.split(".")
    for part in parts:
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(part)
    return value


def show(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def cmd_get(args):
    data = json.load(sys.stdin)
    try:
        v = walk(data, args[0])
    except (KeyError, IndexError, ValueError):
        return 2
    print(show(v))
    return 0


def cmd_keys(args):
    data = json.load(sys.stdin)
    try:
        v = walk(data, args[0] if args else "")
    except (KeyError, IndexError, ValueError):
        return 2
    if not isinstance(v, dict):
        return 2
    for k in sorted(v):
        print(k)
    return 0


def cmd_dict(args):
    # An a{sv} reply of busctl --json=short: key, type, value per line.
    data = json.load(sys.stdin)
    d = walk(data, args[0] if args else "data.0")
    for k in sorted(d):
        print("%s\t%s\t%s" % (k, d[k]["type"], show(d[k]["data"])))
    return 0


def cmd_signals(args):
    fname, member = args[0], args[1]
    arg0 = args[2] if len(args) > 2 and args[2] != "-" else None
    opath = args[3] if len(args) > 3 else None
    with open(fname, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("type") != "signal" or m.get("member") != member:
                continue
            if opath is not None and m.get("path") != opath:
                continue
            data = (m.get("payload") or {}).get("data") or []
            if arg0 is not None and (not data or data[0] != arg0):
                continue
            print("\t".join(show(x) for x in data))
    return 0


def encode_path(prefix, s):
    # systemd's bus_label_escape(): everything but [A-Za-z0-9] becomes
    # _xx (lowercase hex), a leading digit too; "" becomes "_".
    if s == "":
        return prefix + "/_"
    out = []
    for i, b in enumerate(s.encode("utf-8", "surrogateescape")):
        c = chr(b)
        if (c.isascii() and c.isalpha()) or (i > 0 and c.isascii() and c.isdigit()):
            out.append(c)
        else:
            out.append("_%02x" % b)
    return prefix + "/" + "".join(out)


def cmd_encode_path(args):
    print(encode_path(args[0], args[1]))
    return 0


STANDARD = ("org.freedesktop.DBus.",)


def annotations(el):
    return sorted(
        "annotation %s=%s" % (a.get("name"), a.get("value"))
        for a in el.findall("annotation")
    )


def normalize_interface(iface):
    lines = []
    name = iface.get("name")
    lines.append("interface %s" % name)
    for a in annotations(iface):
        lines.append("  " + a)
    members = []
    for m in iface.findall("method"):
        block = ["  method %s" % m.get("name")]
        for arg in m.findall("arg"):
            block.append("    arg %s %s %s" % (arg.get("direction") or "in",
                                              arg.get("type"), arg.get("name") or "-"))
        block += ["    " + a for a in annotations(m)]
        members.append(block)
    for s in iface.findall("signal"):
        block = ["  signal %s" % s.get("name")]
        for arg in s.findall("arg"):
            block.append("    arg %s %s" % (arg.get("type"), arg.get("name") or "-"))
        block += ["    " + a for a in annotations(s)]
        members.append(block)
    for p in iface.findall("property"):
        block = ["  property %s %s %s" % (p.get("name"), p.get("type"), p.get("access"))]
        block += ["    " + a for a in annotations(p)]
        members.append(block)
    members.sort(key=lambda b: b[0])
    for b in members:
        lines += b
    return name, lines


def cmd_interfaces(args):
    fname = args[0]
    skip_standard = "--skip-standard" in args[1:]
    root = ET.parse(sys.stdin if fname == "-" else fname).getroot()
    result = []
    # A document may be one <interface> or a <node> holding several.
    ifaces = [root] if root.tag == "interface" else root.findall("interface")
    for iface in ifaces:
        name, lines = normalize_interface(iface)
        if skip_standard and name.startswith(STANDARD):
            continue
        result.append((name, lines))
    result.sort()
    for _, lines in result:
        print("\n".join(lines))
    return 0


def cmd_contract(args):
    """contract XMLFILE SPECFILE: checks an introspection document against a
    spec; prints PASS:/FAIL:/NOTE: lines. Spec lines:
      interface NAME
      method NAME [in:TYPE:NAME ...] [out:TYPE[:NAME] ...]
      signal NAME [TYPE:NAME ...]
      property NAME TYPE ACCESS EMITS[|EMITS...]   (EMITS: true false const invalidates)
    """
    root = ET.parse(sys.stdin if args[0] == "-" else args[0]).getroot()
    found = {i.get("name"): i for i in root.findall("interface")}
    iface = None
    expected = {}
    with open(args[1]) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            kind, name, rest = words[0], words[1], words[2:]
            if kind == "interface":
                iface = name
                expected.setdefault(iface, set())
                if name in found:
                    print("PASS: interface %s is present" % name)
                else:
                    print("FAIL: interface %s is missing (present: %s)" % (name, " ".join(sorted(found))))
                continue
            expected[iface].add((kind, name))
            el = found.get(iface)
            if el is None:
                print("FAIL: %s %s.%s: interface missing" % (kind, iface, name))
                continue
            nodes = [n for n in el.findall(kind) if n.get("name") == name]
            if not nodes:
                print("FAIL: %s %s.%s is missing" % (kind, iface, name))
                continue
            n = nodes[0]
            if kind == "method":
                want_in = [w.split(":") for w in rest if w.startswith("in:")]
                want_out = [w.split(":") for w in rest if w.startswith("out:")]
                args_in = [a for a in n.findall("arg") if (a.get("direction") or "in") == "in"]
                args_out = [a for a in n.findall("arg") if a.get("direction") == "out"]
                sig_in = "".join(a.get("type") for a in args_in)
                sig_out = "".join(a.get("type") for a in args_out)
                exp_in = "".join(w[1] for w in want_in)
                exp_out = "".join(w[1] for w in want_out)
                if (sig_in, sig_out) == (exp_in, exp_out):
                    print("PASS: method %s.%s has signature (%s) -> (%s)" % (iface, name, sig_in, sig_out))
                else:
                    print("FAIL: method %s.%s has signature (%s) -> (%s), contract says (%s) -> (%s)"
                          % (iface, name, sig_in, sig_out, exp_in, exp_out))
                names = [a.get("name") for a in args_in]
                exp_names = [w[2] for w in want_in]
                if names == exp_names:
                    if names:
                        print("PASS: method %s.%s names its arguments %s" % (iface, name, ", ".join(names)))
                else:
                    print("FAIL: method %s.%s names its arguments %s, contract says %s"
                          % (iface, name, names, exp_names))
            elif kind == "signal":
                want = [w.split(":") for w in rest]
                got = n.findall("arg")
                sig = "".join(a.get("type") for a in got)
                exp = "".join(w[0] for w in want)
                if sig == exp:
                    print("PASS: signal %s.%s has signature (%s)" % (iface, name, sig))
                else:
                    print("FAIL: signal %s.%s has signature (%s), contract says (%s)" % (iface, name, sig, exp))
                names = [a.get("name") for a in got]
                exp_names = [w[1] for w in want]
                if names == exp_names:
                    print("PASS: signal %s.%s names its arguments %s" % (iface, name, ", ".join(names)))
                else:
                    print("FAIL: signal %s.%s names its arguments %s, contract says %s"
                          % (iface, name, names, exp_names))
            elif kind == "property":
                typ, access, emits = rest[0], rest[1], rest[2].split("|")
                if (n.get("type"), n.get("access")) == (typ, access):
                    print("PASS: property %s.%s is %s, %s" % (iface, name, typ, access))
                else:
                    print("FAIL: property %s.%s is %s, %s; contract says %s, %s"
                          % (iface, name, n.get("type"), n.get("access"), typ, access))
                got = "true"
                for a in n.findall("annotation"):
                    if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
                        got = a.get("value")
                if got in emits:
                    print("PASS: property %s.%s EmitsChangedSignal=%s" % (iface, name, got))
                else:
                    print("FAIL: property %s.%s EmitsChangedSignal=%s, contract wants %s"
                          % (iface, name, got, " or ".join(emits)))
    for name, members in expected.items():
        el = found.get(name)
        if el is None or name.startswith(STANDARD):
            continue
        for kind in ("method", "signal", "property"):
            for n in el.findall(kind):
                if (kind, n.get("name")) not in members:
                    print("NOTE: %s %s.%s is not in DESIGN.md section 4" % (kind, name, n.get("name")))
    return 0


def main():
    # Readers like `grep -m1` may stop early.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {
        "get": cmd_get,
        "dict": cmd_dict,
        "keys": cmd_keys,
        "signals": cmd_signals,
        "encode-path": cmd_encode_path,
        "interfaces": cmd_interfaces,
        "contract": cmd_contract,
    }
    if cmd not in table:
        print("unknown command %s" % cmd, file=sys.stderr)
        return 64
    return table[cmd](args)


if __name__ == "__main__":
    sys.exit(main())
