# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pending package updates from the simulation output of apt-get (``apt-get -s dist-upgrade``).

apt-get prints one ``Inst`` line per package it would install or upgrade::

    Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])

name, the installed version in brackets (absent for a new package), then in
parentheses the candidate version, the comma-separated origins
(``Origin:version/suite``) and the architecture. An update is a security update
when one of its origins is a security suite (``*-security``, or the origin
``Debian-Security``). Pure: text in, dict out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

_INST = re.compile(r"^Inst (?P<name>\S+)(?: \[(?P<current>[^\]]*)\])? \((?P<candidate>\S+) (?P<origins>.*?)"
                   r"(?: \[(?P<arch>[^\]]+)\])?\)(?: \[.*\])?$")


def _security(origins):
    for origin in origins:
        suite = origin.split("/", 1)[1] if "/" in origin else ""
        if suite.endswith("-security") or origin.split(":", 1)[0].lower().endswith("-security"):
            return True
    return False


def parse_apt_simulation(text, source="apt-get -s"):
    """{pending, security, packages: [{name, current, candidate, origins, arch, security}]}.

    Each package once (apt repeats ``Inst`` lines when it reorders the plan). Raises
    ParseError for an ``Inst`` line of an unknown shape.
    """
    packages = {}
    order = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.startswith("Inst "):
            continue
        match = _INST.match(line.rstrip())
        if match is None:
            raise ParseError("not an apt-get simulation 'Inst' line: %r" % line[:120], source, lineno)
        origins = [o.strip() for o in match.group("origins").split(",") if o.strip()]
        name = match.group("name")
        if name not in packages:
            order.append(name)
        packages[name] = {"name": name, "current": match.group("current"), "candidate": match.group("candidate"),
                          "origins": origins, "arch": match.group("arch"), "security": _security(origins)}
    listed = [packages[name] for name in order]
    return {"pending": len(listed), "security": sum(1 for p in listed if p["security"]), "packages": listed}
