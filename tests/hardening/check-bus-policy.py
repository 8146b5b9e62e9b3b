#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks a D-Bus system bus policy file of memcgd.

  check-bus-policy.py FILE NAME

  * only root may own NAME: an <allow own=NAME> (or own_prefix covering
    it) appears only in <policy user="root">, and the default context
    does not allow owning anything;
  * every <allow> names the destination: send_destination=NAME, or it
    is an own= rule for NAME; no <allow> without one (a bare
    send_interface=, receive_*, user=, ... would open other services);
  * no rule concerns another destination or name (send_destination,
    own, own_prefix, receive_sender other than NAME);
  * no send_destination="*" wildcard, no <policy at_console=...>, and
    <deny> rules only narrow NAME.
Prints one PASS/FAIL line per rule checked and exits 1 on any failure.
"""

import sys
import xml.etree.ElementTree as ET

NAME_ATTRS = ("send_destination", "own", "own_prefix", "receive_sender")


def main():
    path, name = sys.argv[1], sys.argv[2]
    fails = 0
    checked = 0

    def fail(msg):
        nonlocal fails
        fails += 1
        print(f"FAIL: {msg}")

    tree = ET.parse(path)
    root = tree.getroot()
    if root.tag != "busconfig":
        fail(f"{path}: root element is <{root.tag}>, not <busconfig>")
    owners = []
    for policy in root.iter("policy"):
        ctx = dict(policy.attrib)
        where = " ".join(f'{k}="{v}"' for k, v in ctx.items()) or "(no attributes)"
        if set(ctx) - {"user", "group", "context"}:
            fail(f"<policy {where}>: only user=, group= or context= policies are expected")
        for rule in policy:
            if not isinstance(rule.tag, str):
                continue  # a comment
            checked += 1
            a = dict(rule.attrib)
            desc = f"<policy {where}> <{rule.tag} " + " ".join(f'{k}="{v}"' for k, v in a.items()) + "/>"
            if rule.tag not in ("allow", "deny"):
                fail(f"{desc}: unexpected element")
                continue
            for k in NAME_ATTRS:
                if k in a and a[k] != name:
                    fail(f"{desc}: concerns {a[k]!r}, not {name}")
            if a.get("send_destination") == "*":
                fail(f"{desc}: wildcard destination")
            if rule.tag == "allow":
                if "own" in a or "own_prefix" in a:
                    owners.append((ctx, desc))
                    if ctx != {"user": "root"}:
                        fail(f"{desc}: lets someone other than root own {name}")
                    elif set(a) - {"own"}:
                        fail(f"{desc}: an own rule with other attributes")
                    else:
                        print(f"PASS: {desc}: only root may own {name}")
                elif a.get("send_destination") != name:
                    fail(f"{desc}: an <allow> without send_destination=\"{name}\"")
                else:
                    print(f"PASS: {desc}: names its destination")
            else:
                if not any(k in a for k in NAME_ATTRS):
                    fail(f"{desc}: a <deny> that does not name {name} changes the whole bus")
                else:
                    print(f"PASS: {desc}: narrows {name} only")
    if not owners:
        fail(f"no <allow own=\"{name}\"/> for root: the service could not take its name")
    # The default context must say no to owning the name explicitly or
    # leave it to the bus default (deny); it may not allow it.
    for policy in root.iter("policy"):
        if policy.attrib.get("context") == "default":
            for rule in policy:
                if isinstance(rule.tag, str) and rule.tag == "allow" and ("own" in rule.attrib or "own_prefix" in rule.attrib):
                    fail("the default context allows owning a name")
    print(f"{path}: {checked} rules checked, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
