# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for command output kept in a sosreport (``sos_commands/...``).

A sosreport holds copies of ``/proc`` files, which ``linux_collect`` reads, and
the output of commands run at capture time. This module reads the few command
outputs that carry what a copied ``/proc`` tree cannot: ``ps`` (processes when
no ``proc/PID/status`` was copied), ``lsof`` (files deleted but still open,
since ``/proc/PID/fd`` links are not copied), ``df`` (tmpfs usage, which needs
``statvfs`` on the live host) and ``date`` (when the report was taken).

``text -> list/dict``, no I/O; bad input raises :class:`ParseError` naming the
source and line. Standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import FOREIGN_DIGIT, ParseError, whole_number

KIB = 1024


def _header_spans(line):
    return [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", line)]


def parse_ps(text, source="ps"):
    """``ps aux``-style output (``ps auxwwwm``, ``ps alxwww``...) -> [{pid, name, rss, vsz}].

    Columns are found by the header (``PID``, ``RSS``, ``VSZ``, ``COMMAND`` or
    ``CMD``); sizes are KiB in ps and bytes here. Thread lines of ``ps m``
    (PID ``-``) and kernel threads (no RSS, ``[name]``) are left out; ``name``
    is the base name of the command's first word.
    """
    lines = [(n, l) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty ps output", source)
    head_no, head = lines[0]
    names = head.split()
    command = next((n for n in ("COMMAND", "CMD", "ARGS") if n in names), None)
    if "PID" not in names or "RSS" not in names or command is None or names[-1] != command:
        raise ParseError("first line is not a ps header with PID, RSS and COMMAND last: %r" % head[:100],
                         source, head_no)
    width = len(names)
    i_pid, i_rss = names.index("PID"), names.index("RSS")
    i_vsz = names.index("VSZ") if "VSZ" in names else None
    out = []
    for lineno, line in lines[1:]:
        fields = line.split(None, width - 1)
        if len(fields) < width:
            if len(fields) == width - 1:
                fields.append("")
            else:
                raise ParseError("ps row has %d of %d columns: %r" % (len(fields), width, line[:100]), source, lineno)
        if fields[i_pid] == "-":
            continue
        if not fields[i_pid].isdigit():
            raise ParseError("PID is not a number: %r" % fields[i_pid], source, lineno)
        rss = fields[i_rss]
        if rss == "-":
            continue
        if not rss.isdigit():
            raise ParseError("RSS is not a number: %r" % rss, source, lineno)
        cmd = fields[-1].strip()
        rss = whole_number(rss, "RSS", source, lineno, scale=KIB)
        pid = whole_number(fields[i_pid], "PID", source, lineno)
        if cmd.startswith("[") and rss == 0:
            continue
        first = cmd.split()[0] if cmd.split() else "?"
        vsz = fields[i_vsz] if i_vsz is not None else None
        out.append({"pid": pid, "name": first.rsplit("/", 1)[-1].strip("[]") or "?",
                    "rss": rss, "vsz": whole_number(vsz, "VSZ", source, lineno, scale=KIB)
                    if vsz and vsz.isdigit() else None})
    return out


def parse_lsof(text, source="lsof"):
    """``lsof`` output -> [{command, pid, fd, type, size, path, deleted}].

    Columns are matched to the header by position (lsof leaves DEVICE or
    SIZE/OFF empty for some files, so counting words is not enough). ``path``
    is the NAME column without lsof's `` (deleted)`` suffix; ``deleted`` is
    True for that suffix and for mapped files lsof lists with FD ``DEL``.
    ``size`` is None for offsets (``0t...``) and empty cells.
    """
    lines = [(n, l.rstrip("\n")) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty lsof output", source)
    head_no, head = lines[0]
    spans = _header_spans(head)
    labels = [s[0] for s in spans]
    if not labels or labels[0] != "COMMAND" or "PID" not in labels or labels[-1] != "NAME":
        raise ParseError("first line is not an lsof header (COMMAND PID ... NAME): %r" % head[:100], source, head_no)
    name_col = spans[-1][1]
    columns = spans[:-1]
    out = []
    for lineno, line in lines[1:]:
        if len(line) < name_col:
            raise ParseError("lsof row shorter than its NAME column: %r" % line[:100], source, lineno)
        cells = {}
        for match in re.finditer(r"\S+", line[:name_col]):
            start, end = match.span()
            best = None
            for label, h_start, h_end in columns:
                overlap = min(end, h_end) - max(start, h_start)
                distance = -overlap if overlap > 0 else min(abs(start - h_end), abs(h_start - end)) + 1
                if best is None or distance < best[0]:
                    best = (distance, label)
            cells.setdefault(best[1], match.group(0))
        pid = cells.get("PID")
        if pid is None or not pid.isdigit():
            raise ParseError("no process id in the PID column: %r" % line[:100], source, lineno)
        path = line[name_col:].strip()
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[:-len(" (deleted)")]
        size = cells.get("SIZE/OFF") or cells.get("SIZE")
        out.append({"command": cells.get("COMMAND"), "pid": whole_number(pid, "PID", source, lineno),
                    "fd": cells.get("FD"), "type": cells.get("TYPE"),
                    "size": whole_number(size, "SIZE", source, lineno) if size and size.isdigit() else None,
                    "path": path, "deleted": deleted or cells.get("FD") == "DEL"})
    return out


def parse_df(text, source="df"):
    """``df`` output in 1K blocks -> [{filesystem, size, used, mount}] (bytes).

    Accepts the header ``Filesystem 1K-blocks Used Available Use% Mounted on``
    (also ``1024-blocks``), the mount point may contain spaces, and a long
    file system name alone on its line (old ``df`` without ``-P``) joins the
    next line. Human-readable sizes (``df -h``) are refused.
    """
    lines = [(n, l) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty df output", source)
    head_no, head = lines[0]
    words = head.split()
    if not words or words[0] != "Filesystem" or not re.match(r"^(1K|1024)-blocks$", words[1] if len(words) > 1 else ""):
        raise ParseError("first line is not a df header with 1K-blocks: %r" % head[:100], source, head_no)
    out = []
    pending = None
    for lineno, line in lines[1:]:
        fields = line.split()
        if pending is not None:
            fields = [pending] + fields
            pending = None
        if len(fields) == 1:
            pending = fields[0]
            continue
        if len(fields) < 6 or not fields[1].isdigit() or not fields[2].isdigit():
            raise ParseError("df row is not 'filesystem blocks used available use%% mount': %r" % line[:100],
                             source, lineno)
        out.append({"filesystem": fields[0], "size": whole_number(fields[1], "size", source, lineno, scale=KIB),
                    "used": whole_number(fields[2], "used", source, lineno, scale=KIB),
                    "mount": " ".join(fields[5:])})
    if pending is not None:
        raise ParseError("last df row is cut short: %r" % pending[:100], source, lines[-1][0])
    return out


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), 1)}


def parse_date_utc(text, source="date --utc"):
    """``date`` output in UTC (``Mon Nov 23 13:06:17 UTC 2026``) -> ``2026-11-23T13:06:17Z``.

    Only UTC/GMT output is accepted: a local time without its offset cannot be
    placed on the time line.
    """
    words = text.split()
    if FOREIGN_DIGIT.search(text):
        raise ParseError("non-ASCII digits in %r" % text.strip()[:80], source, 1)
    if len(words) != 6 or words[4] not in ("UTC", "GMT") or words[1].lower()[:3] not in _MONTHS:
        raise ParseError("expected 'Day Mon DD hh:mm:ss UTC YYYY', got %r" % text.strip()[:80], source, 1)
    try:
        clock = datetime.datetime.strptime(words[3], "%H:%M:%S").time()
        moment = datetime.datetime(int(words[5]), _MONTHS[words[1].lower()[:3]], int(words[2]),
                                   clock.hour, clock.minute, clock.second)
    except ValueError as exc:
        raise ParseError("not a date: %s" % exc, source, 1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
