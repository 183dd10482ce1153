# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for the output of one tool, as people paste it into tickets and forums.

``free`` (every procps layout and unit flag), ``slabtop -o``, some lines of
``/proc/meminfo``, ``ps`` and ``top -b`` listings, the kernel's OOM-killer
report, Windows event 2004 (Resource-Exhaustion-Detector) and ``systeminfo`` /
``ver`` / ``winver`` text. Pasted output carries prompts, command lines and
other tools' output around it: each parser finds its own lines and ignores the
rest, and raises :class:`ParseError` naming the line when its own lines are
malformed, or when none are there.

``text -> dict/list``, no I/O; sizes in bytes; a value the output does not
show is None. Standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

KIB = 1024
PAGE = 4096  # the OOM task table counts pages; 4 KiB on x86 and most arm64 kernels

_UNIT_FLAGS = (
    (re.compile(r"(?:^|\s)(?:-\w*b\w*|--bytes)\b"), "B"),
    (re.compile(r"(?:^|\s)(?:-\w*m\w*|--mebi|--mega)\b"), "MiB"),
    (re.compile(r"(?:^|\s)(?:-\w*g\w*|--gibi|--giga)\b"), "GiB"),
    (re.compile(r"(?:^|\s)(?:--tebi|--tera)\b"), "TiB"),
    (re.compile(r"(?:^|\s)(?:-\w*k\w*|--kibi|--kilo)\b"), "KiB"),
)
_UNIT_BYTES = {"B": 1, "KiB": KIB, "MiB": KIB ** 2, "GiB": KIB ** 3, "TiB": KIB ** 4}
_HUMAN = re.compile(r"^(\d+(?:[.,]\d+)?)([BKMGTP]?)(i?)B?$", re.I)


def _strip_prefix(line):
    """A line without the prompt, syslog/journal stamp or dmesg time in front of it."""
    line = re.sub(r"^\s*<\d+>", "", line)
    line = re.sub(r"^\s*\[\s*\d+\.\d+\]\s?", "", line)
    line = re.sub(r"^\s*\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\]\s?", "", line)
    return line


# --------------------------------------------------------------------------- free

def _free_unit(text):
    """The unit from the command line pasted above the output, else None."""
    for line in text.splitlines():
        match = re.search(r"(?:^|[\s$#>])free((?:\s+-{1,2}[\w-]+)*)\s*$", line.strip())
        if not match:
            continue
        flags = match.group(1)
        si = "--si" in flags
        if re.search(r"(?:^|\s)(?:-\w*h\w*|--human)\b", flags):
            return "human-si" if si else "human"
        for pattern, unit in _UNIT_FLAGS:
            if pattern.search(flags):
                return unit + ("-si" if si else "")
        return "KiB-si" if si else "KiB"
    return None


def _free_value(word, unit, source, lineno):
    """One free value in bytes: plain numbers in the command's unit, -h values with their suffix."""
    if word.isdigit() and not unit.startswith("human"):
        name, si = (unit[:-3], True) if unit.endswith("-si") else (unit, False)
        power = {"B": 0, "KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4}[name]
        return int(word) * (1000 if si else KIB) ** power
    match = _HUMAN.match(word)
    if not match:
        raise ParseError("free value is not a number: %r" % word, source, lineno)
    number = float(match.group(1).replace(",", "."))
    suffix = match.group(2).upper()
    base = 1000 if (unit == "human-si" and not match.group(3)) else KIB
    power = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}[suffix]
    return int(round(number * base ** power))


def _guess_free_unit(total_word):
    """free prints no unit: without the command line, judge from the size of MemTotal."""
    if not total_word.isdigit():
        return "human"
    total = int(total_word)
    if total >= 10 ** 10:
        return "B"
    if total >= 200000:
        return "KiB"
    if total >= 256:
        return "MiB"
    return "GiB"


def parse_free(text, source=None):
    """``free`` output -> {total, used, free, shared, buff_cache, available, swap_total, swap_used, swap_free}.

    Both procps layouts: the old one (``buffers cached`` columns and a
    ``-/+ buffers/cache`` line; no ``available``) and the new one
    (``buff/cache available``, ``-w`` splitting ``buffers cache``). Units come
    from the command line when it was pasted (``free -m``, ``-g``, ``-b``,
    ``--si``, ``-h``); ``-h`` values carry their own (``7.7G``, ``1,2Gi``).
    Without a command line the unit is judged from MemTotal's size and
    ``unit_guessed`` says so. Also returned: ``buffers`` and ``cached`` when
    shown apart, ``used_excl_cache`` from the old ``-/+`` line and ``unit``.
    """
    lines = text.splitlines()
    header = None
    out = dict((k, None) for k in ("total", "used", "free", "shared", "buff_cache", "available",
                                   "swap_total", "swap_used", "swap_free", "buffers", "cached",
                                   "used_excl_cache"))
    unit = _free_unit(text)
    out["unit_guessed"] = unit is None
    seen_mem = False
    for lineno, raw in enumerate(lines, 1):
        line = _strip_prefix(raw)
        words = line.split()
        if words[:3] == ["total", "used", "free"]:
            header = [w.lower() for w in words]
            continue
        if header is None:
            continue
        if words and words[0] in ("Mem:", "Swap:", "Low:", "High:", "Total:", "Comm:"):
            values = words[1:]
            if words[0] == "Mem:":
                if seen_mem:
                    break  # a second screen (free -s): the first one is kept
                seen_mem = True
                if not values:
                    raise ParseError("Mem: line without values", source, lineno)
                if unit is None:
                    unit = _guess_free_unit(values[0])
                if len(values) > len(header):
                    raise ParseError("Mem: line has %d values for %d columns: %r" % (len(values), len(header), line[:100]),
                                     source, lineno)
                row = dict(zip(header, [_free_value(v, unit, source, lineno) for v in values]))
                out["total"], out["used"], out["free"] = row.get("total"), row.get("used"), row.get("free")
                out["shared"] = row.get("shared")
                out["available"] = row.get("available")
                out["buffers"] = row.get("buffers")
                out["cached"] = row.get("cached", row.get("cache"))
                if "buff/cache" in row:
                    out["buff_cache"] = row["buff/cache"]
                elif out["buffers"] is not None and out["cached"] is not None:
                    out["buff_cache"] = out["buffers"] + out["cached"]
            elif words[0] == "Swap:" and seen_mem:
                got = [_free_value(v, unit, source, lineno) for v in values[:3]]
                got += [None] * (3 - len(got))
                out["swap_total"], out["swap_used"], out["swap_free"] = got
        elif line.strip().startswith("-/+ buffers/cache:") and seen_mem:
            values = line.split(":", 1)[1].split()
            if values:
                out["used_excl_cache"] = _free_value(values[0], unit, source, lineno)
    if header is None:
        raise ParseError("no free header line ('total used free ...')", source)
    if not seen_mem or out["total"] is None:
        raise ParseError("no Mem: line after the free header", source)
    out["unit"] = unit
    return out


# --------------------------------------------------------------------------- slabtop

_SLABTOP_HEAD = re.compile(r"^\s*OBJS\s+ACTIVE\s+USE\s+OBJ\s+SIZE\s+SLABS\s+OBJ/SLAB\s+CACHE\s+SIZE\s+NAME\s*$")
_SLABTOP_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)%\s+(\d+(?:[.,]\d+)?)K\s+(\d+)\s+(\d+)\s+(\d+)K\s+(\S.*?)\s*$")


def parse_slabtop(text, source=None):
    """``slabtop -o`` -> [{name, active_objs, num_objs, objsize, bytes}] as parse_slabinfo's rows.

    ``objsize`` is slabtop's ``OBJ SIZE`` in bytes, rounded as slabtop prints it
    (two decimals of KiB), so ``bytes`` is slabtop's own ``CACHE SIZE`` (whole
    slabs, what the cache holds) rather than num_objs * objsize, which the
    rounding would skew by up to 5 % and reorder close caches. A screen copied
    twice keeps the first.
    """
    rows = []
    started = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_prefix(raw)
        if _SLABTOP_HEAD.match(line):
            if started:
                break
            started = True
            continue
        if not started or not line.strip():
            continue
        match = _SLABTOP_ROW.match(line)
        if not match:
            if re.match(r"^\s*\d", line):
                raise ParseError("slabtop row cut short or malformed: %r" % line[:100], source, lineno)
            if rows:
                break  # the prompt after the listing
            continue
        num, active = int(match.group(1)), int(match.group(2))
        objsize = int(round(float(match.group(4).replace(",", ".")) * KIB))
        rows.append({"name": match.group(8), "active_objs": active, "num_objs": num, "objsize": objsize,
                     "bytes": int(match.group(7)) * KIB})
    if not started:
        raise ParseError("no slabtop header ('OBJS ACTIVE USE OBJ SIZE ... NAME')", source)
    if not rows:
        raise ParseError("slabtop header without rows", source)
    return rows


# --------------------------------------------------------------------------- partial meminfo

_MEMINFO_LINE = re.compile(r"^\s*([A-Z][A-Za-z0-9_()]*):\s+(\d+)(?:\s+(kB))?\s*$")


def parse_meminfo_lines(text, source=None):
    """The ``Name: value [kB]`` lines of /proc/meminfo found in the text -> {name: bytes or count}.

    For pasted excerpts (``grep Huge /proc/meminfo`` next to ``free -m``):
    other lines are ignored; kB become bytes, HugePages_* stay counts.
    """
    fields = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        match = _MEMINFO_LINE.match(_strip_prefix(raw))
        if not match:
            continue
        name, value, unit = match.groups()
        if not unit and not name.startswith("HugePages_"):
            continue
        fields[name] = int(value) * (KIB if unit else 1)
    if not fields:
        raise ParseError("no /proc/meminfo lines ('Name: value kB')", source)
    return fields


# --------------------------------------------------------------------------- ps / top listings

_TOP_HEAD = re.compile(r"^\s*PID\s+USER\s+PR\s+NI\s+VIRT\s+RES\b")
_TOP_MEM = re.compile(r"^\s*(KiB|MiB|GiB|)\s*Mem\s*:(.*)$")
_TOP_SWAP = re.compile(r"^\s*(KiB|MiB|GiB|)\s*Swap\s*:(.*)$")
_RSS_NAMES = ("RSS", "RES", "RSZ")
_CMD_NAMES = ("COMMAND", "CMD", "ARGS", "COMM", "UCOMM")


def _top_size(word, scale, source, lineno):
    match = re.match(r"^(\d+(?:[.,]\d+)?)([kmgtpe]?)$", word, re.I)
    if not match:
        raise ParseError("size is not a number: %r" % word, source, lineno)
    number = float(match.group(1).replace(",", "."))
    suffix = match.group(2).lower()
    if suffix:
        return int(round(number * {"k": 1, "m": KIB, "g": KIB ** 2, "t": KIB ** 3, "p": KIB ** 4, "e": KIB ** 5}[suffix] * KIB))
    return int(round(number * scale))


def _top_summary(body, scale_name, source, lineno):
    scale = {"KiB": KIB, "MiB": KIB ** 2, "GiB": KIB ** 3, "": KIB}[scale_name]
    values = {}
    for number, name in re.findall(r"(\d+(?:[.,]\d+)?[kmgKMG]?)\s*([a-z/]+(?: [a-z]+)?)", body):
        suffix = number[-1].lower() if number[-1].isalpha() else ""
        base = float(number.rstrip("kmgKMG").replace(",", "."))
        size = base * {"k": KIB, "m": KIB ** 2, "g": KIB ** 3}[suffix] if suffix else base * scale
        values[name.strip().split()[0]] = int(round(size))
    return values


def parse_process_listing(text, source=None):
    """A ``ps`` or ``top -b`` listing -> {tool, processes: [{pid, name, rss, command, shared}], memory}.

    ``ps`` columns are found by the header wherever it is (``ps aux``, ``ps -eo
    rss,args``, ``ps -eo pid,rss,comm``...): a listing without a PID column
    gives pid None; without an RSS column it is an error (nothing to rank).
    ``top`` RES values take its unit suffixes, and its SHR column gives ``shared`` (None for ``ps``);
    its summary lines give
    ``memory`` ({total, free, used, buff_cache, available, swap_total, swap_free}
    in bytes, None when not shown). Kernel threads (RSS 0) are left out.
    """
    lines = [_strip_prefix(raw) for raw in text.splitlines()]
    memory = dict((k, None) for k in ("total", "free", "used", "buff_cache", "available",
                                      "swap_total", "swap_free"))
    head_no = None
    tool = None
    for lineno, line in enumerate(lines, 1):
        mem = _TOP_MEM.match(line)
        if mem and head_no is None:
            values = _top_summary(mem.group(2), mem.group(1), source, lineno)
            memory["total"] = values.get("total")
            memory["free"] = values.get("free")
            memory["used"] = values.get("used")
            memory["buff_cache"] = values.get("buff/cache")
            if values.get("buffers") is not None:
                memory["buff_cache"] = values["buffers"]
            continue
        swap = _TOP_SWAP.match(line)
        if swap and head_no is None:
            values = _top_summary(swap.group(2), swap.group(1), source, lineno)
            memory["swap_total"], memory["swap_free"] = values.get("total"), values.get("free")
            memory["available"] = values.get("avail")
            if values.get("cached") is not None and memory["buff_cache"] is not None:
                memory["buff_cache"] += values["cached"]
            continue
        words = line.split()
        if _TOP_HEAD.match(line):
            head_no, tool = lineno, "top"
            break
        if any(w in _RSS_NAMES for w in words) and words and words[-1] in _CMD_NAMES:
            head_no, tool = lineno, "ps"
            break
        if "PID" in words and words and words[-1] in _CMD_NAMES:
            raise ParseError("ps header has no RSS column: nothing to rank processes by", source, lineno)
    if head_no is None:
        raise ParseError("no ps or top header (PID ... RSS/RES ... COMMAND)", source)
    names = lines[head_no - 1].split()
    width = len(names)
    i_rss = next(names.index(n) for n in _RSS_NAMES if n in names)
    i_pid = names.index("PID") if "PID" in names else None
    i_shr = names.index("SHR") if "SHR" in names else None  # top: resident pages shared with others
    processes = []
    for lineno in range(head_no + 1, len(lines) + 1):
        line = lines[lineno - 1]
        if not line.strip():
            if tool == "top" and processes:
                break
            continue
        if tool == "top" and _TOP_HEAD.match(line) or re.match(r"^\s*top - \d", line):
            break  # the next screen of top -b -n 2
        fields = line.split(None, width - 1)
        if len(fields) < width - 1 or (i_pid is not None and not fields[i_pid].isdigit()):
            if processes and not re.match(r"^\s*\d", line):
                break  # the prompt after the listing
            if fields and fields[0].isdigit() or (i_pid is not None and len(fields) > i_pid
                                                  and fields[i_pid].isdigit()):
                raise ParseError("listing row has %d of %d columns: %r" % (len(fields), width, line[:100]),
                                 source, lineno)
            continue
        if len(fields) == width - 1:
            fields.append("?")
        rss = _top_size(fields[i_rss], KIB, source, lineno)
        command = fields[-1].strip()
        if rss == 0:
            continue
        first = command.split()[0] if command.split() else "?"
        name = first if first.startswith("[") else first.rsplit("/", 1)[-1]
        processes.append({"pid": int(fields[i_pid]) if i_pid is not None else None,
                          "name": name.rstrip(":") or "?", "rss": rss, "command": command,
                          "shared": _top_size(fields[i_shr], KIB, source, lineno) if i_shr is not None else None})
    if not processes:
        raise ParseError("%s header without process rows" % tool, source, head_no)
    return {"tool": tool, "processes": processes, "memory": memory}


# --------------------------------------------------------------------------- OOM killer

_OOM_START = re.compile(r"(\S+) invoked oom-killer:")
_OOM_TABLE = re.compile(r"\[\s*pid\s*\]\s+(.*\bname)\s*$")
_OOM_ROW = re.compile(r"\[\s*(\d+)\]\s+(.*\S)\s*$")
_OOM_KILLED = re.compile(r"Killed process (\d+),?(?: UID \d+,)? \(([^)]*)\)(.*)$")
_MONTHS = dict((m, i) for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                             "Oct", "Nov", "Dec"), 1))


def _oom_time(raw):
    """ISO time of a report line when it carries a year (journal -o short-iso, dmesg -T), else None."""
    match = re.match(r"^\s*(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,]\d+)?\s*(Z|[+-]\d\d:?\d\d)?", raw)
    if match:
        zone = match.group(3) or "Z"
        try:
            moment = datetime.datetime.strptime("%s %s" % (match.group(1), match.group(2)), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        if zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            moment -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    match = re.match(r"^\s*\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\]", raw)
    if match and match.group(1) in _MONTHS:
        try:
            moment = datetime.datetime(int(match.group(6)), _MONTHS[match.group(1)], int(match.group(2)),
                                       int(match.group(3)), int(match.group(4)), int(match.group(5)))
        except ValueError:
            return None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _kb_field(rest, name):
    match = re.search(r"\b%s:\s*(\d+)\s*kB" % re.escape(name), rest)
    return int(match.group(1)) * KIB if match else None


def parse_oom_reports(text, source=None):
    """Every kernel OOM-killer report in dmesg / journal / syslog text -> [{time, killed, tasks}].

    ``killed`` is ``{pid, name, rss}`` from the ``Killed process`` line (rss =
    anon-rss + file-rss + shmem-rss, None on kernels that print no sizes);
    ``tasks`` the task table (``[ pid ] uid tgid total_vm rss ... name``), rss
    in bytes from pages of 4 KiB. ``time`` is ISO when the line carries a year,
    else None. A report cut before its ``Killed process`` line has killed None.
    """
    reports = []
    current = None
    columns = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw
        start = _OOM_START.search(line)
        if start:
            current = {"time": _oom_time(raw), "killed": None, "tasks": [], "trigger": start.group(1)}
            reports.append(current)
            columns = None
            continue
        table = _OOM_TABLE.search(line)
        if table:
            if current is None:
                current = {"time": _oom_time(raw), "killed": None, "tasks": [], "trigger": None}
                reports.append(current)
            columns = table.group(1).lower().split()
            continue
        killed = _OOM_KILLED.search(line)
        if killed:
            if current is None or current["killed"] is not None:
                current = {"time": _oom_time(raw), "killed": None, "tasks": [], "trigger": None}
                reports.append(current)
            rest = killed.group(3)
            sizes = [_kb_field(rest, n) for n in ("anon-rss", "file-rss", "shmem-rss")]
            rss = sum(s for s in sizes if s is not None) if any(s is not None for s in sizes) else None
            current["killed"] = {"pid": int(killed.group(1)), "name": killed.group(2), "rss": rss}
            columns = None
            continue
        if columns is not None:
            if _strip_prefix(re.sub(r"^.*?kernel:\s*", "", line)).strip() in ("...", "\u2026"):
                continue  # rows left out by whoever pasted the report
            row = _OOM_ROW.search(line)
            if not row or "rss" not in columns:
                columns = None
                continue
            values = row.group(2).split(None, len(columns) - 1)
            if len(values) < len(columns):
                raise ParseError("OOM task table row has %d of %d columns: %r" % (len(values) + 1, len(columns) + 1,
                                                                                  line.strip()[:100]), source, lineno)
            rss_word = values[columns.index("rss")]
            if not rss_word.isdigit():
                raise ParseError("OOM task table rss is not a number: %r" % rss_word, source, lineno)
            current["tasks"].append({"pid": int(row.group(1)), "name": values[-1].strip(),
                                     "rss": int(rss_word) * PAGE})
    if not reports:
        raise ParseError("no OOM-killer report ('invoked oom-killer', '[ pid ]' table or 'Killed process')", source)
    for report in reports:
        report.pop("trigger", None)
    return reports


# --------------------------------------------------------------------------- Windows event 2004

_EVENT_2004 = re.compile(r"low virtual memory condition", re.I)
_EVENT_PROC = re.compile(r"([^,:()]+?)\s*\((\d+)\)\s+consumed\s+([\d,.\s]+?)\s*bytes", re.I)
_EVENT_TIME = re.compile(r"(?:TimeCreated|Date|Logged)\s*:?\s+(\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\s+\d{1,2}:\d\d(?::\d\d)?"
                         r"(?:\s*[AP]M)?)", re.I)


def _event_time(text):
    match = _EVENT_TIME.search(text)
    if not match:
        return None
    value = re.sub(r"\s+", " ", match.group(1).strip())
    for form in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%d.%m.%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.datetime.strptime(value, form).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return None


def parse_event_2004(text, source=None):
    """Windows event 2004 (Resource-Exhaustion-Detector) -> [{time, processes: [{name, pid, bytes}]}].

    One entry per "low virtual memory condition" message, plain (Event
    Viewer's copy) or from ``Get-WinEvent | Format-List``; its time when a
    ``TimeCreated`` / ``Date`` line precedes it (local time, read as UTC),
    else None. Messages cut by ``Format-Table`` (``...``) keep the programs
    that are whole.
    """
    events = []
    starts = [m.start() for m in _EVENT_2004.finditer(text)]
    if not starts:
        raise ParseError("no 'low virtual memory condition' message (event 2004)", source)
    previous = 0
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        body = text[start:end]
        before = text[previous:start]
        previous = start
        processes = []
        for name, pid, size in _EVENT_PROC.findall(re.sub(r"\s+", " ", body)):
            digits = re.sub(r"[^\d]", "", size)
            if not digits:
                continue
            name = re.sub(r"^(?:and|und|et)\s+", "", name.strip())
            processes.append({"name": name, "pid": int(pid), "bytes": int(digits)})
        events.append({"time": _event_time(before) or _event_time(body), "processes": processes})
    if not any(e["processes"] for e in events):
        line = text.count("\n", 0, starts[0]) + 1
        raise ParseError("event 2004 names no program ('NAME (PID) consumed N bytes')", source, line)
    return events


# --------------------------------------------------------------------------- systeminfo / ver / winver

def _mb(value):
    digits = re.sub(r"[^\d]", "", value.split("MB")[0])
    return int(digits) * KIB * KIB if digits else None


def parse_systeminfo(text, source=None):
    """``systeminfo``, ``ver`` or ``winver`` text -> {name, version, build, arch, ram_bytes,
    available_bytes, commit_limit, commit_used} (None when not shown).

    systeminfo's sizes are ``N,NNN MB`` in the English layout; ``ver`` gives
    ``[Version 10.0.17763.1234]``; winver's copy ``Version 21H2 (OS Build 19044.1826)``.
    """
    out = dict((k, None) for k in ("name", "version", "build", "arch", "ram_bytes", "available_bytes",
                                   "commit_limit", "commit_used"))
    fields = {}
    for line in text.splitlines():
        match = re.match(r"^\s*([A-Za-z][A-Za-z ():]*):\s+([^:]*?)\s*$", line)
        if match:
            fields.setdefault(match.group(1).strip().lower(), match.group(2))
    if "os name" in fields:
        out["name"] = fields["os name"]
    if "os version" in fields:
        ver = re.match(r"(\d+\.\d+\.\d+)(?:.*Build (\d+))?", fields["os version"])
        if ver:
            out["version"] = ver.group(1)
            out["build"] = ver.group(2) or ver.group(1).split(".")[-1]
    if "system type" in fields:
        out["arch"] = fields["system type"]
    for key, name in (("total physical memory", "ram_bytes"), ("available physical memory", "available_bytes"),
                      ("virtual memory: max size", "commit_limit"), ("virtual memory: in use", "commit_used")):
        if key in fields:
            out[name] = _mb(fields[key])
    ver = re.search(r"Microsoft Windows \[Version (\d+\.\d+)\.(\d+)(?:\.(\d+))?\]", text)
    if ver and out["version"] is None:
        out["version"] = "%s.%s" % (ver.group(1), ver.group(2))
        out["build"] = ver.group(2)
        out["name"] = out["name"] or "Microsoft Windows"
    winver = re.search(r"Version (\w+) \(OS Build (\d+)(?:\.\d+)?\)", text)
    if winver and out["build"] is None:
        out["build"] = winver.group(2)
        out["version"] = "10.0.%s" % winver.group(2) if int(winver.group(2)) >= 10240 else None
        out["name"] = out["name"] or "Microsoft Windows %s" % winver.group(1)
    if out["name"] is None and out["version"] is None and out["ram_bytes"] is None:
        raise ParseError("no 'OS Name:', 'OS Version:', 'Total Physical Memory:' or '[Version x.y.z]' line", source)
    return out
