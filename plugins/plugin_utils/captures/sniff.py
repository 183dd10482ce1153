# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one captured file safely and telling what it holds, by content, never by name.

Binary and oversized files are refused after a ``stat`` and at most ``SNIFF_BYTES`` read. Limits,
the capture error and file times live here because every other part of capture handling uses them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import os
import re
import stat

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

MIB = 1024 * 1024

DEFAULT_LIMITS = {
    "max_file_bytes": 64 * MIB,        # one text file
    "max_files": 2000,                 # files examined in one capture folder
    "max_archive_bytes": 4096 * MIB,   # size of an archive on disk
    "max_extract_bytes": 1024 * MIB,   # bytes unpacked from one archive
    "max_members": 500000,             # members listed in one archive
    "top": 15,                         # slab caches, processes, deleted files kept
    "top_tags": 50,                    # pool tags kept per sample
}

SNIFF_BYTES = 8192

KIND_TEXT = {
    "poolmon": "poolmon output",
    "vm": "WinDbg !vm",
    "poolused": "WinDbg !poolused",
    "memusage": "WinDbg !memusage",
    "perfmon": "performance counter CSV",
    "meminfo": "/proc/meminfo",
    "slabinfo": "/proc/slabinfo",
    "vmstat": "/proc/vmstat",
    "allocinfo": "/proc/allocinfo",
    "vmallocinfo": "/proc/vmallocinfo",
    "kmemleak": "kmemleak report",
    "page_owner": "page_owner output",
    "modules": "/proc/modules",
    "free": "free output",
    "slabtop": "slabtop output",
    "meminfo_partial": "lines of /proc/meminfo",
    "processes": "ps / top listing",
    "status": "/proc/PID/status",
    "oom": "kernel OOM-killer report",
    "event_2004": "Windows event 2004 (Resource-Exhaustion-Detector)",
    "systeminfo": "systeminfo / ver / winver",
}
WINDOWS_KINDS = ("poolmon", "vm", "poolused", "memusage", "perfmon", "event_2004", "systeminfo")
LINUX_KINDS = ("meminfo", "slabinfo", "vmstat", "allocinfo", "vmallocinfo", "kmemleak", "page_owner", "modules")
# One tool's output as pasted into a ticket: several may share one file (free -m above grep Huge).
LINUX_TOOL_KINDS = ("free", "slabtop", "meminfo_partial", "processes", "status", "oom")


class CaptureError(Exception):
    """A capture that cannot be analysed; str() is the sentence for the report."""


# --------------------------------------------------------------------------- reading files

def read_text(path, limits):
    """(text, None) for a readable text file, (None, reason) otherwise.

    Size and content are checked before the whole file is read: a file above
    ``max_file_bytes`` or with binary content costs one ``stat`` and at most
    ``SNIFF_BYTES`` read. UTF-16 (with BOM) and UTF-8 (with or without BOM) are
    decoded; other bytes are read as Windows-1252 / Latin-1, as old tools wrote.
    """
    try:
        # No link is followed and nothing but a regular file read: a FIFO would hang the run, a link
        # to /dev/zero or /etc/shadow would read what is not the capture's.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (IOError, OSError) as exc:
        if exc.errno == errno.ELOOP:
            return None, "symbolic link: not followed"
        return None, "cannot read: %s" % (exc.strerror or exc)
    with os.fdopen(fd, "rb") as handle:
        return _read_open(handle, os.fstat(fd), limits)


def _read_open(handle, info, limits):
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file (FIFO, device or socket): not read"
    if info.st_size > limits["max_file_bytes"]:
        return None, "%s is above the %s limit for one file (max_file_mb)" % (
            size_text(info.st_size), size_text(limits["max_file_bytes"]))
    if info.st_size == 0:
        return None, "empty file"
    try:
        head = handle.read(SNIFF_BYTES)
        reason = binary_reason(head)
        if reason:
            return None, reason
        data = head + handle.read(limits["max_file_bytes"] + 1 - len(head))
    except (IOError, OSError) as exc:
        return None, "cannot read: %s" % (exc.strerror or exc)
    if len(data) > limits["max_file_bytes"]:
        return None, "grew above the %s limit for one file while read (max_file_mb)" % size_text(limits["max_file_bytes"])
    return decode_text(data), None


def size_text(value):
    if value >= MIB:
        return "%.0f MiB" % (float(value) / MIB)
    if value >= 1024:
        return "%.0f KiB" % (value / 1024.0)
    return "%d bytes" % value


def binary_reason(head):
    if head.startswith((b"PAGEDU64", b"PAGEDUMP", b"MDMP")):
        return ("binary Windows crash dump: open it in WinDbg and save the output of !vm, !poolused 2 "
                "and !memusage 8 as text")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if head.startswith((b"\xfd7zXZ", b"\x1f\x8b", b"BZh", b"PK\x03\x04")):
        return "compressed file inside the capture: unpack it first"
    if b"\x00" in head:
        return "binary file (a .blg counter log? convert it with: relog FILE.blg -f csv -o FILE.csv)"
    control = sum(1 for b in bytearray(head) if b < 32 and b not in (9, 10, 12, 13, 27))
    if head and control * 10 > len(head):
        return "binary file (not text)"
    return None


def decode_text(data):
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


# --------------------------------------------------------------------------- recognising content

_KD_PROMPT = re.compile(r"^[ \t]*(?:\d+:[ \t]*)?kd>", re.M)
_KD_WANTED = re.compile(r"^[ \t]*(?:\d+:[ \t]*)?kd>[ \t]*(!(?:vm|poolused|memusage))(?![a-z.])", re.M | re.I)
_SIGNATURES = (
    ("perfmon", lambda t, first: "PDH-CSV" in first or ("path" in first.lower() and "cookedvalue" in first.lower())),
    ("meminfo", lambda t, first: re.match(r"^MemTotal:\s+\d+\s+kB", first) is not None),
    ("slabinfo", lambda t, first: first.startswith("slabinfo - version:")),
    ("vmstat", lambda t, first: re.match(r"^nr_[a-z_]+ \d+$", first.strip()) is not None),
    # kernel call-site sources (docs/kernel-attribution.md)
    ("allocinfo", lambda t, first: first.startswith("allocinfo - version:") or re.match(
        r"^\s*-?[\d.]+[KMGTP]?\*?\s+\d+\*?\s+\S+:\d+(?:\s+\[\S+\])?\s+func:\S+", first) is not None),
    ("vmallocinfo", lambda t, first: re.match(r"^0x[0-9a-f]+-0x[0-9a-f]+\s+\d+\s", first) is not None),
    ("kmemleak", lambda t, first: re.match(r"^\s*unreferenced object 0x[0-9a-f]+ \(size \d+\):", first) is not None),
    ("page_owner", lambda t, first: re.match(r"^\s*(\d+ times, \d+ pages|Page allocated via order \d+)", first)
     is not None),
    ("modules", lambda t, first: re.match(r"^\S+ \d+ (\d+|-) \S+ (Live|Loading|Unloading) 0x[0-9a-f]+", first)
     is not None),
    ("poolused", lambda t, first: re.search(r"Tag\s+Allocs\s+Used\s+Allocs\s+Used", t, re.I) is not None),
    ("vm", lambda t, first: re.search(r"Virtual Memory Usage|NonPagedPool\s*(Nx\s*)?Usage\s*:|"
                                      r"Physical Memory\s*:\s*\d+\s*\(", t, re.I) is not None),
    ("memusage", lambda t, first: "Compiling memory usage data" in t or (
        re.search(r"Zeroed\s*:\s*\d+", t) is not None and re.search(r"Standby\s*:\s*\d+", t) is not None)),
    ("poolmon", lambda t, first: re.search(r"^\s*Tag\s+Type\s+Allocs|Memory:\s*\d+\s*K\s+Avail:|"
                                           r"^\s*\S{1,4}(?: \S{1,3})?\s+(?:Nonp|Paged)\s+\d+\s", t, re.M) is not None),
)
_TOOL_SIGNATURES = (
    ("free", re.compile(r"^.*\btotal\s+used\s+free\s+shared\b.*\n(?:.*\n)?\s*(?:\S+\s+)?Mem:", re.M)),
    ("slabtop", re.compile(r"OBJS\s+ACTIVE\s+USE\s+OBJ\s+SIZE\s+SLABS")),
    ("oom", re.compile(r"invoked oom-killer:|Killed process \d+|Out of memory: Kill")),
    ("status", re.compile(r"^Name:\s+\S.*\n(?:[A-Za-z_]+:.*\n)*?VmRSS:\s+\d+ kB", re.M)),
    ("processes", re.compile(r"^\s*(?:\S+\s+)*(?:PID\s+(?:\S+\s+)*(?:RSS|RES|RSZ)|(?:RSS|RSZ)\s+(?:\S+\s+)*PID|"
                             r"RSS)\s+(?:\S+\s+)*(?:COMMAND|CMD|ARGS|COMM)\s*$", re.M)),
    ("meminfo_partial", re.compile(r"^\s*(?:HugePages_\w+:\s+\d+|[A-Z][A-Za-z_()]*:\s+\d+ kB)\s*$", re.M)),
    ("event_2004", re.compile(r"low virtual memory condition", re.I)),
    ("systeminfo", re.compile(r"^\s*(?:Total Physical Memory|OS Version):\s+\S|Microsoft Windows \[Version \d|"
                              r"\(OS Build \d+", re.M)),
)
_KD_KINDS = {"!vm": "vm", "!poolused": "poolused", "!memusage": "memusage"}


def sections(text):
    """[(kind, text, first line number)] found in one file's text; [] when nothing is known.

    A debugger log is cut at each ``kd>`` prompt and every section is typed by
    its command (``!vm``, ``!poolused``, ``!memusage``; other commands are
    ignored); other text is typed by its content as a whole.
    """
    # Only the prompts of the three commands read are looked for, each section ending at the next prompt
    # of any command: one pass over the text however many prompts it holds.
    out = []
    line, counted = 1, 0
    for match in _KD_WANTED.finditer(text):
        if match.start() < counted:
            continue
        following = _KD_PROMPT.search(text, match.end())
        end = following.start() if following else len(text)
        line += text.count("\n", counted, match.start())
        counted = match.start()
        out.append((_KD_KINDS[match.group(1).lower()], text[match.start():end], line))
    if out:
        return out
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#TYPE")), "")
    for kind, test in _SIGNATURES:
        if test(text, first):
            return [(kind, text, 1)]
    found = [(kind, text, 1) for kind, pattern in _TOOL_SIGNATURES if pattern.search(text)]
    if any(kind == "status" for kind, _t, _l in found):
        found = [f for f in found if f[0] != "meminfo_partial"]  # VmRSS: N kB lines are not meminfo
    return found


def offset_error(err, first_line):
    """A ParseError from a section parser, with the line number made relative to the file."""
    if err.line is not None and first_line > 1:
        return ParseError(err.message, err.source, err.line + first_line - 1)
    return err


# --------------------------------------------------------------------------- times

_NAME_TIME = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)(?:[T _.-]?([0-2]\d)[-_.:]?([0-5]\d)"
                        r"(?:[-_.:]?([0-5]\d))?)?")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_from_name(name):
    """ISO time from a timestamp in a file name (``poolmon-2024-03-11_0900.log``), else None."""
    for match in _NAME_TIME.finditer(name):
        parts = [int(p) if p else 0 for p in match.groups()]
        try:
            return _iso(datetime.datetime(*parts))
        except ValueError:
            continue
    return None


def file_time(path, rel):
    """(iso, how) for a file: its name's timestamp, else its modification time (UTC)."""
    named = time_from_name(os.path.basename(rel))
    if named:
        return named, "its name"
    try:
        moment = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
    except (IOError, OSError, OverflowError, ValueError):
        return None, None
    return _iso(moment), "its modification time"


def now():
    return _iso(datetime.datetime.now(datetime.timezone.utc))


def merge_limits(limits):
    merged = dict(DEFAULT_LIMITS)
    merged.update(dict((k, v) for k, v in (limits or {}).items() if v is not None))
    return merged
