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


# --------------------------------------------------------------------------- Windows installed updates

_KB = re.compile(r"^KB\d{6,8}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_kb(value):
    """'kb5034439', '5034439', ' KB5034439 ' -> 'KB5034439'; None when it is not a KB number."""
    text = str(value or "").strip().upper()
    if text.isdigit():
        text = "KB" + text
    return text if _KB.match(text) else None


def parse_windows_hotfixes(text, source="Get-HotFix"):
    """Installed updates from the lines the patch_os audit prints on Windows.

    One line per ``Win32_QuickFixEngineering`` entry (read through ``Get-HotFix``, whose ``InstalledOn``
    turns the class's locale-dependent date string into a date): ``HotFixID<TAB>Description<TAB>YYYY-MM-DD``,
    the date empty when Windows does not know it. Entries whose id is not a KB number (``File 1``, the
    placeholders of some pre-2008 hotfixes) are kept with ``id`` null and ``raw`` set, so a count is never
    silently short. Returns ``{updates: [{id, raw, description, installed_on}], count, newest}`` with
    ``newest`` the latest known date (``YYYY-MM-DDT00:00:00Z``) or None.
    """
    if not isinstance(text, str):
        raise ParseError("the installed-update list must be text", source)
    updates = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.rstrip("\r").split("\t")
        if len(cells) != 3:
            raise ParseError("expected 'HotFixID<TAB>Description<TAB>date', got %d field(s): %r"
                             % (len(cells), line[:80]), source, lineno)
        raw, description, day = (c.strip() for c in cells)
        if day and not _DAY.match(day):
            raise ParseError("installed date %r is not YYYY-MM-DD" % day[:40], source, lineno)
        updates.append({"id": normalize_kb(raw), "raw": raw, "description": description or None,
                        "installed_on": day or None})
    days = sorted(u["installed_on"] for u in updates if u["installed_on"])
    return {"updates": updates, "count": len(updates), "newest": (days[-1] + "T00:00:00Z") if days else None}


def missing_updates(installed, required):
    """The KB numbers of ``required`` (policy) that ``installed`` (parse_windows_hotfixes updates) lacks,
    in the policy's order. A required entry that is not a KB number raises ParseError naming it."""
    have = set(u["id"] for u in installed if u.get("id"))
    missing = []
    for entry in required or []:
        kb = normalize_kb(entry)
        if kb is None:
            raise ParseError("required update %r is not a KB number (KB1234567)" % (entry,), "memleak_policy_required_updates")
        if kb not in have and kb not in missing:
            missing.append(kb)
    return missing
