# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for command output kept in a sosreport (``sos_commands/...``).

A sosreport holds copies of ``/proc`` files, which ``linux_collect`` reads, and
the output of commands run at capture time. This module reads the few command
outputs that carry what a copied ``/proc`` tree cannot: ``ps`` (processes when
no ``proc/PID/status`` was copied), ``lsof`` (files deleted but still open,
since ``/proc/PID/fd`` links are not copied), ``df`` (tmpfs usage, which needs
``statvfs`` on the live host), ``date`` (when the report was taken) and
``sysctl -a`` (the huge page, overcommit and free-memory-reserve settings).

sos merges a command's error output into the file: a header is searched for
where it is, and a line that cannot be a row is skipped and named (file and
line) in the ``warnings`` list the caller passes, so one bad line never costs
the rest of the file.

``text -> list/dict``, no I/O; input none of whose rows can be read raises
:class:`ParseError` naming the source and line. Standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import FOREIGN_DIGIT, ParseError, whole_number

KIB = 1024


def _header_spans(line):
    return [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", line)]


def _note(warnings, source, lineno, what):
    """One warning naming the file and line of something that was skipped."""
    if warnings is not None:
        warnings.append("%s line %d: %s" % (source, lineno, what))


def _find_header(lines, is_header, source, warnings, what):
    """Index of the header among ``lines`` (sos merges stderr into the output, so warnings may come first)."""
    for index, (lineno, line) in enumerate(lines):
        if is_header(line):
            for skipped_no, skipped in lines[:index]:
                _note(warnings, source, skipped_no, "not part of the %s table, skipped: %r" % (what, skipped.strip()[:100]))
            return index
    return None


_PS_COMMAND = ("COMMAND", "CMD", "ARGS")
_FOREST = re.compile(r"^[\s|]*\\_\s+")  # the tree art of ``ps f``: `` \_ sshd: root@pts/0``


def _ps_header(line):
    names = line.split()
    return "PID" in names and bool(names) and names[-1] in _PS_COMMAND


def parse_ps(text, source="ps", warnings=None, short_names=False):
    """``ps aux``-style output (``ps auxwwwm``, ``ps alxwww``...) -> [{pid, name, rss, vsz}].

    Columns are found by the header (``PID``, ``RSS``, ``VSZ``, ``COMMAND`` or
    ``CMD``), wherever it is: lines before it (``your 131072x1 screen size is
    bogus``) and rows that cannot be a process are skipped, each named in
    ``warnings``. Sizes are KiB in ps and bytes here. Thread lines of ``ps m``
    (PID ``-``) and kernel threads (RSS 0 and ``[name]``, or RSS 0 in the
    command-name-only output of ``ps c``, ``short_names``) are left out.
    ``name`` is the base name of the command's first word, a bracketed kernel
    thread name whole (``kworker/0:1``), or with ``short_names`` the whole
    command field (``NFSv4 callback``). A listing without an RSS column
    (``ps -ef``, ``ps -eo``) raises ParseError saying so.
    """
    lines = [(n, l) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty ps output", source)
    local = []
    at = _find_header(lines, _ps_header, source, local, "ps")
    if at is None:
        raise ParseError("no ps header with PID and COMMAND last: %r" % lines[0][1].strip()[:100], source, lines[0][0])
    head_no, head = lines[at]
    names = head.split()
    if "RSS" not in names:
        raise ParseError("no RSS column (%s): this listing cannot rank processes by memory" % " ".join(names),
                         source, head_no)
    width = len(names)
    i_pid, i_rss = names.index("PID"), names.index("RSS")
    i_vsz = names.index("VSZ") if "VSZ" in names else None
    out = []
    bad = []
    for lineno, line in lines[at + 1:]:
        fields = line.split(None, width - 1)
        if len(fields) == width - 1:
            fields.append("")
        if len(fields) < width:
            bad.append(lineno)
            _note(local, source, lineno, "ps row has %d of %d columns, skipped: %r" % (len(fields), width, line.strip()[:100]))
            continue
        if fields[i_pid] == "-":
            continue
        rss = fields[i_rss]
        if not fields[i_pid].isdigit() or not (rss.isdigit() or rss == "-"):
            bad.append(lineno)
            _note(local, source, lineno, "not a process row (PID %r, RSS %r), skipped: %r"
                  % (fields[i_pid], rss, line.strip()[:100]))
            continue
        if rss == "-":
            continue
        cmd = _FOREST.sub("", fields[-1].strip())
        vsz = fields[i_vsz] if i_vsz is not None else None
        try:
            rss = whole_number(rss, "RSS", source, lineno, scale=KIB)
            pid = whole_number(fields[i_pid], "PID", source, lineno)
            vsz = whole_number(vsz, "VSZ", source, lineno, scale=KIB) if vsz and vsz.isdigit() else None
        except ParseError as exc:
            bad.append(lineno)
            _note(local, source, lineno, "%s, skipped" % exc.message)
            continue
        if rss == 0 and (short_names or cmd.startswith("[")):
            continue
        if short_names:
            name = cmd or "?"
        elif cmd.startswith("[") and "]" in cmd:
            name = cmd[1:cmd.index("]")] or "?"
        else:
            first = cmd.split()[0] if cmd.split() else "?"
            name = first.rsplit("/", 1)[-1] if first.startswith(("/", "./", "../")) else first
            name = name or first
        out.append({"pid": pid, "name": name, "rss": rss, "vsz": vsz})
    if not out and bad:
        raise ParseError("no process row could be read: every row is malformed", source, bad[0])
    if warnings is not None:
        warnings.extend(local)
    return out


def _lsof_header(line):
    labels = line.split()
    return bool(labels) and labels[0] == "COMMAND" and "PID" in labels and labels[-1] == "NAME"


def parse_lsof(text, source="lsof", warnings=None):
    """``lsof`` output -> [{command, pid, fd, type, size, path, deleted}].

    Columns are matched to the header by position (lsof leaves DEVICE or
    SIZE/OFF empty for some files, so counting words is not enough). ``path``
    is the NAME column without lsof's `` (deleted)`` suffix; ``deleted`` is
    True for that suffix and for mapped files lsof lists with FD ``DEL``.
    ``size`` is None for offsets (``0t...``) and empty cells. Lines before
    the header (``lsof: WARNING: can't stat() ...``, which sos merges into the
    output) and rows that cannot be a file are skipped, each named in ``warnings``.
    """
    lines = [(n, l.rstrip("\n")) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty lsof output", source)
    local = []
    at = _find_header(lines, _lsof_header, source, local, "lsof")
    if at is None:
        raise ParseError("no lsof header (COMMAND PID ... NAME): %r" % lines[0][1].strip()[:100], source, lines[0][0])
    spans = _header_spans(lines[at][1])
    name_col = spans[-1][1]
    columns = spans[:-1]
    out = []
    bad = []
    for lineno, line in lines[at + 1:]:
        if len(line) < name_col:
            bad.append(lineno)
            _note(local, source, lineno, "lsof row shorter than its NAME column, skipped: %r" % line.strip()[:100])
            continue
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
            bad.append(lineno)
            _note(local, source, lineno, "no process id in the PID column, skipped: %r" % line.strip()[:100])
            continue
        path = line[name_col:].strip()
        deleted = path.endswith(" (deleted)")
        if deleted:
            path = path[:-len(" (deleted)")]
        size = cells.get("SIZE/OFF") or cells.get("SIZE")
        out.append({"command": cells.get("COMMAND"), "pid": whole_number(pid, "PID", source, lineno),
                    "fd": cells.get("FD"), "type": cells.get("TYPE"),
                    "size": whole_number(size, "SIZE", source, lineno) if size and size.isdigit() else None,
                    "path": path, "deleted": deleted or cells.get("FD") == "DEL"})
    if not out and bad:
        raise ParseError("no lsof row could be read: every row is malformed", source, bad[0])
    if warnings is not None:
        warnings.extend(local)
    return out


_DF_BLOCKS = re.compile(r"^(\d+)([KMGT]?)(B?)-blocks$")
_DF_UNITS = {"": 1, "K": 1, "M": 2, "G": 3, "T": 4}


def _df_header(line):
    words = line.split()
    return len(words) > 2 and words[0] == "Filesystem"


def _df_dash(fields):
    return len(fields) >= 6 and all(f == "-" for f in fields[1:4])


def parse_df(text, source="df", warnings=None):
    """``df`` output in blocks -> [{filesystem, size, used, mount}] (bytes).

    Accepts the header ``Filesystem 1K-blocks Used Available Use% Mounted on``
    (also ``1024-blocks``, ``2MB-blocks``: the size is read from the header),
    the mount point may contain spaces, and a long file system name alone on
    its line (old ``df`` without ``-P``) joins the next line. Lines before the
    header (``/bin/df: '/vobs/GEMS': No such file or directory``) and rows that
    cannot be a file system are skipped, each named in ``warnings``; rows of
    pseudo file systems without sizes (``systemd-1 - - - - /proc/...``) are left
    out quietly. Inode listings (``df -i``) and human-readable sizes (``df -h``)
    raise ParseError.
    """
    lines = [(n, l) for n, l in enumerate(text.splitlines(), 1) if l.strip()]
    if not lines:
        raise ParseError("empty df output", source)
    local = []
    at = _find_header(lines, _df_header, source, local, "df")
    if at is None:
        raise ParseError("no df header (Filesystem 1K-blocks ...): %r" % lines[0][1].strip()[:100], source, lines[0][0])
    head_no, head = lines[at]
    unit = _DF_BLOCKS.match(head.split()[1])
    if unit is None:
        what = "counts inodes, not sizes" if head.split()[1] == "Inodes" else "gives no block size"
        raise ParseError("df header %s: %r" % (what, head.strip()[:100]), source, head_no)
    number, prefix, si = unit.groups()
    block = int(number) * ((1000 if si else 1024) ** _DF_UNITS[prefix]) if prefix else int(number)
    out = []
    bad = []
    pending = None
    for lineno, line in lines[at + 1:]:
        fields = line.split()
        if pending is not None:
            fields = [pending[1]] + fields
            pending = None
        if len(fields) == 1:
            pending = (lineno, fields[0])
            continue
        if _df_dash(fields):
            continue
        if len(fields) < 6 or not fields[1].isdigit() or not fields[2].isdigit():
            bad.append(lineno)
            _note(local, source, lineno, "not 'filesystem blocks used available use%% mount', skipped: %r"
                  % line.strip()[:100])
            continue
        try:
            size = whole_number(fields[1], "size", source, lineno, scale=block)
            used = whole_number(fields[2], "used", source, lineno, scale=block)
        except ParseError as exc:
            bad.append(lineno)
            _note(local, source, lineno, "%s, skipped" % exc.message)
            continue
        out.append({"filesystem": fields[0], "size": size, "used": used,
                    "mount": " ".join(fields[5:])})
    if pending is not None:
        bad.append(pending[0])
        _note(local, source, pending[0], "last df row is cut short, skipped: %r" % pending[1][:100])
    if not out and bad:
        raise ParseError("no df row could be read: every row is malformed", source, bad[0])
    if warnings is not None:
        warnings.extend(local)
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


_SYSCTL_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/*@+-]*$")

# The memory policy a leak diagnosis needs from ``sysctl -a``: huge pages set aside at boot (taken
# from MemTotal but never used by processes), the overcommit policy (whether commit can exceed RAM
# plus swap) and the reserve the kernel keeps free.
SYSCTL_MEMORY_KEYS = ("vm.nr_hugepages", "vm.nr_overcommit_hugepages", "vm.overcommit_memory",
                      "vm.overcommit_ratio", "vm.overcommit_kbytes", "vm.min_free_kbytes")


def parse_sysctl(text, source="sysctl -a", warnings=None):
    """``sysctl -a`` output -> {key: value text}.

    ``key = value`` per line (``key=value`` too); the value keeps inner spaces
    and tabs; a key printed once per value has its values joined by newlines. Lines that are not a setting (``sysctl: permission denied on key
    ...``, ``sysctl: reading key ...``, which sos merges into the output) are
    skipped, each named in ``warnings``. Output without any setting raises
    ParseError.
    """
    out = {}
    seen = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        seen += 1
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _SYSCTL_KEY.match(key):
            _note(warnings, source, lineno, "not a 'key = value' setting, skipped: %r" % line.strip()[:100])
            continue
        # a key with several values is printed once per value (kernel.core_modes = file, = pipe, ...)
        out[key] = out[key] + "\n" + value.strip() if key in out else value.strip()
    if not out:
        raise ParseError("no 'key = value' setting in %d line(s)" % seen if seen else "empty sysctl output", source)
    return out


def sysctl_memory(settings):
    """The memory settings of :data:`SYSCTL_MEMORY_KEYS` as integers; None for a key absent or not a number."""
    out = {}
    for key in SYSCTL_MEMORY_KEYS:
        value = settings.get(key)
        out[key] = int(value) if value is not None and re.match(r"^-?\d+$", value) else None
    return out
