# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for Linux /proc text: ``text -> dict``, no I/O.

They run on the target inside ``meminfo_facts`` (Python >= 3.8, stdlib only)
and on the controller for sosreports, so they must not read files themselves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

# Fields of /proc/meminfo that are page counts, not kB (they carry no unit).
_MEMINFO_COUNTS = ("HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp")


def parse_meminfo(text, source="/proc/meminfo"):
    """Every ``Name: value [kB]`` line, kB converted to bytes; HugePages_* stay counts.

    Raises ParseError naming the line for anything else, and when MemTotal is
    missing (a truncated capture would otherwise produce a silent wrong ledger).
    """
    fields = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not name.strip() or not parts or len(parts) > 2:
            raise ParseError("expected 'Name: value [kB]', got %r" % line[:80], source, lineno)
        try:
            value = int(parts[0])
        except ValueError:
            raise ParseError("value of %s is not a whole number: %r" % (name.strip(), parts[0]), source, lineno)
        if len(parts) == 2:
            if parts[1] != "kB":
                raise ParseError("unknown unit %r for %s" % (parts[1], name.strip()), source, lineno)
            value *= 1024
        fields[name.strip()] = value
    if "MemTotal" not in fields:
        raise ParseError("no MemTotal line: file is empty or truncated", source)
    return fields
