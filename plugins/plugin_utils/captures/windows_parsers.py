# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for captured Windows memory text: ``text -> dict``, no I/O.

Support engineers hold the output of four tools when a Windows host cannot be
reached or has crashed:

* ``poolmon`` (WDK): the ``/n`` snapshot file (``poolsnap.log``), with or
  without the ``/g`` Mapped_Driver column, and copies of its screen, including
  copies whose runs of spaces were collapsed by a web page or a ticket system;
* the kernel debugger's ``!vm``, ``!poolused`` and ``!memusage`` extensions,
  XP-era and current forms, also when a forum or blog broke the lines apart;
* performance counter logs of the ``Memory`` object written as CSV by
  ``typeperf``, ``relog -f csv``, ``Export-Counter`` or
  ``Get-Counter | Export-Csv``.

Every parser returns plain dicts with sizes in bytes and raises
:class:`ParseError` naming the source and line for text that is not its
format; no other exception leaves this module (the property tests feed
random and mutated text to check it). Values the tool printed as 20-digit
unsigned numbers (an underflowed counter) are reported as unknown, never as
sixteen exbibytes.

Runs on the controller for offline analysis; standard library only,
Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import io
import math
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

KIB = 1024
# A 64-bit counter printed unsigned after going below zero reads 18446744073709551615 and
# similar; anything at or above 2**63 is such a value, not a size.
UNDERFLOW = 1 << 63

POOL_TYPES = {"Nonp": "nonpaged", "Paged": "paged"}


def _underflowed(value):
    return value >= UNDERFLOW


# --------------------------------------------------------------------------- poolmon

# "Memory: 16468560K" and the like: the first of each label on a line counts.
_PM_HEADER = re.compile(r"(Memory|Avail|Commit|Limit|Peak):\s*(\d+)\s*K\b")
_PM_HEADER_KEYS = {"Memory": "memory", "Avail": "available", "Commit": "commit", "Limit": "commit_limit",
                   "Peak": "commit_peak"}
_PM_POOLS = (("pool_nonpaged", re.compile(r"Pool\s+N:\s*(\d+)\s*K\b")),
             ("pool_paged", re.compile(r"Pool\s+N:\s*\d+\s*K\s*P:\s*(\d+)\s*K\b")))
_PM_MEMORY_LINE = re.compile(r"^\s*Memory:\s*\d+\s*K\b")
_PM_COMMIT_LINE = re.compile(r"^\s*Commit:\s*\d+\s*K\b")
_PM_COLUMNS = re.compile(r"^(\s*)Tag\s+Type\s+Allocs\b")
_PM_SCOPE = re.compile(r"^\s*(System|All sessions|Session\s+(\d+))\s+pool information\s*$", re.I)
_PM_DELTA = re.compile(r"\(\s*-?\d+\s*\)")


def _pm_header_values(line, header):
    found = {}
    for match in _PM_HEADER.finditer(line):
        found.setdefault(_PM_HEADER_KEYS[match.group(1)], int(match.group(2)) * KIB)
    if "Pool" in line:
        for key, pattern in _PM_POOLS:
            match = pattern.search(line)
            if match:
                found[key] = int(match.group(1)) * KIB
    header.update(found)


def _pm_tag(line, tagcol, tokens):
    """(tag, index of the type token) or (None, None) when the line is not a row."""
    if tagcol is not None and len(line) > tagcol + 5 and not line[:tagcol].strip() \
            and line[tagcol + 4] == " ":
        after = line[tagcol + 5:].split(None, 1)
        if after and after[0] in POOL_TYPES and line[tagcol:tagcol + 4].strip():
            tag = line[tagcol:tagcol + 4]
            # The type is the first token after the tag: count the tag's own words.
            return tag, len(tag.split())
    for index in range(1, min(len(tokens), 5)):
        if tokens[index] in POOL_TYPES:
            tag = " ".join(tokens[:index])
            if len(tag) <= 4:
                return tag.ljust(4), index
            break
    return None, None


_BAD_NUMBER = re.compile(r"(?![0-9])\d|[0-9]{21,}")


def _check_numbers(text, source):
    """ParseError naming the line of the first non-ASCII digit or of a number longer than any 64-bit
    value (WinDbg's underflowed 2**64 - 1 has 20 digits): neither is tool output, and both would be
    read as a number by int() and \\d."""
    match = _BAD_NUMBER.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        if match.group(0)[0] in "0123456789":
            raise ParseError("a number of %d digits: out of range for a count or a size" % len(match.group(0)),
                             source, line)
        raise ParseError("non-ASCII digit %r: not a number any Windows tool writes" % match.group(0), source, line)


def _is_number(word):
    """The words ``^-?\\d+$`` matches (\\d: any Unicode decimal digit, as int() reads)."""
    return word.isdecimal() or (word[:1] == "-" and word[1:].isdecimal())


def _pm_row(line, lineno, source, tagcol):
    """(tag, pool, allocs, frees, bytes, driver) of a poolmon row, None for a line that is not a row.

    ParseError for a broken row. Diff and Per Alloc are checked to be numbers but not kept:
    they follow from the others.
    """
    tokens = line.split()
    if len(tokens) < 2:
        return None
    if tokens[1] in POOL_TYPES and len(tokens[0]) == 4 and line.find(tokens[0]) == tagcol \
            and line[tagcol + 4] == " ":
        # The usual row: a four-letter tag in the tag column (it is the first word, so nothing but
        # spaces stands before it), then one space and the pool type.
        tag, index = tokens[0], 1
    else:
        tag, index = _pm_tag(line, tagcol, tokens)
        if tag is None:
            return None
    rest = tokens[index + 1:]
    if "(" in line:  # a screen copy's "(delta)" columns: drop them
        rest = _PM_DELTA.sub(" ", " ".join(rest)).split()
    numbers = rest[:5]
    if len(numbers) < 5 or not ("".join(numbers).isdecimal() or all(map(_is_number, numbers))):
        count = 0
        while count < min(5, len(rest)) and _is_number(rest[count]):
            count += 1
        raise ParseError("poolmon row of tag %r has %d of its 5 numbers (Allocs, Frees, Diff, Bytes, "
                         "Per Alloc): cut short or not poolmon output: %r"
                         % (tag, count, line.strip()[:100]), source, lineno)
    allocs, frees, size = int(numbers[0]), int(numbers[1]), int(numbers[3])
    if allocs < 0 or frees < 0 or size < 0:
        raise ParseError("negative count in poolmon row of tag %r: %r" % (tag, line.strip()[:100]),
                         source, lineno)
    driver = (" ".join(rest[5:]) or None) if len(rest) > 5 else None  # the Mapped_Driver column (/g)
    return tag, POOL_TYPES[tokens[index]], allocs, frees, size, driver


def _pm_new_frame(lineno):
    return {"line": lineno, "header": {}, "scope": None, "rows": [], "mapped_driver": False,
            "columns": False, "ignored": []}


def parse_poolmon(text, source="poolmon"):
    """poolmon text (``/n`` snapshot file or screen copy) -> ``{"frames": [frame, ...]}``.

    A screen copy may hold several refreshes; each ``Memory:`` header (or a
    column header without one) starts a new frame. A frame is
    ``{header: {memory, available, commit, commit_limit, commit_peak,
    pool_nonpaged, pool_paged} (bytes), scope: system|all_sessions|session N|
    None, tags: [...], pools_shown: [...], mapped_driver: bool, ignored: [line
    numbers]}``. ``tags`` merges the Nonp and Paged rows of one tag into the
    snapshot's tag entry (section 3 of the design), the Mapped_Driver text as
    its description; a pool the frame does not show (``/p``) is None, a pool it
    shows without a row for that tag is 0.

    Lines before the first header (the command line, tool messages) are
    skipped; inside a table, a line that starts like a row but lacks its
    numbers raises ParseError naming the line; other lines (``...``, notes)
    are listed in ``ignored``.
    """
    _check_numbers(text, source)
    if not isinstance(text, str):
        raise ParseError("poolmon text must be a string", source)
    frames = []
    frame = None
    tagcol = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.replace("\t", " ").rstrip()
        if not line:
            continue
        # Most lines are rows: the header patterns are only tried on lines that hold their words.
        if "Memory:" in line and _PM_MEMORY_LINE.match(line):
            frame = _pm_new_frame(lineno)
            frames.append(frame)
            tagcol = None
            _pm_header_values(line, frame["header"])
            continue
        if "Commit:" in line and _PM_COMMIT_LINE.match(line) and frame is not None and not frame["columns"]:
            _pm_header_values(line, frame["header"])
            continue
        scope = _PM_SCOPE.match(line) if line[-1] in "nN" else None  # "... pool information"
        if scope:
            if frame is None or frame["columns"]:
                frame = _pm_new_frame(lineno)
                frames.append(frame)
            word = scope.group(1).lower()
            frame["scope"] = "system" if word == "system" else (
                "all_sessions" if word.startswith("all") else "session %s" % scope.group(2))
            continue
        columns = _PM_COLUMNS.match(line) if "Tag" in line else None
        if columns:
            if frame is None or frame["columns"]:
                frame = _pm_new_frame(lineno)
                frames.append(frame)
            frame["columns"] = True
            frame["mapped_driver"] = "Mapped_Driver" in line
            tagcol = len(columns.group(1))
            continue
        row = _pm_row(line, lineno, source, tagcol)
        if row is None:
            if frame is not None and frame["columns"] and set(line.strip()) != {"."}:
                frame["ignored"].append(lineno)
            continue
        if frame is None:
            # A table pasted without its headers.
            frame = _pm_new_frame(lineno)
            frame["columns"] = True
            frames.append(frame)
        frame["rows"].append(row)
    frames = [f for f in frames if f["rows"] or f["header"]]
    if not frames:
        raise ParseError("no poolmon header ('Memory: ... Avail: ...') and no poolmon row "
                         "('TAG Nonp|Paged allocs frees diff bytes per-alloc')", source)
    for item in frames:
        item["tags"], item["pools_shown"] = _pm_tags(item.pop("rows"))
        del item["columns"]
    return {"frames": frames}


_PM_FIELDS = dict((pool, ("%s_allocs" % pool, "%s_frees" % pool, "%s_bytes" % pool))
                  for pool in ("paged", "nonpaged"))


def _pm_tags(rows):
    """Rows merged per tag (a tag has a Nonp and a Paged row), and the pools the frame shows."""
    shown = sorted(set(row[1] for row in rows))
    paged = 0 if "paged" in shown else None
    nonpaged = 0 if "nonpaged" in shown else None
    merged = {}
    for tag, pool, allocs, frees, size, driver in rows:
        entry = merged.get(tag)
        if entry is None:
            entry = merged[tag] = {
                "tag": tag, "protected": False, "description": None,
                "paged_allocs": paged, "paged_frees": paged, "paged_bytes": paged,
                "nonpaged_allocs": nonpaged, "nonpaged_frees": nonpaged, "nonpaged_bytes": nonpaged}
        keys = _PM_FIELDS[pool]
        entry[keys[0]] = allocs
        entry[keys[1]] = frees
        entry[keys[2]] = size
        if driver and not entry["description"]:
            entry["description"] = driver
    return list(merged.values()), shown


# --------------------------------------------------------------------------- !vm and !memusage

# "Label: pages ( kb Kb)" anywhere in the text, also when a forum broke the line after the
# colon or glued two entries together. The label may carry junk in front of it ("... Kb)
# Available Pages"); _vm_key resolves it by its known ending.
_PAIR = re.compile(r"([A-Za-z][A-Za-z0-9\s/]{0,80}?)\s*:\s*(\d+)\s*\(\s*(\d+)\s*kb\s*\)", re.I)

_VM_KNOWN = (
    "physicalmemory", "availablepages", "resavailpages", "lockediopages", "freesystemptes", "freenpptes",
    "freespecialnp", "modifiedpfpages", "modifiedpages", "nonpagedpoolnxusage", "nonpagedpoolusage",
    "nonpagedpoolmax", "nonpagedpoolmaximum", "pagedpoolusage", "pagedpoolmaximum", "pagedpoolmax",
    "sharedcommit", "specialpool", "sharedprocess", "pagedpoolcommit", "nonpagedpoolcommit", "drivercommit",
    "committedpages", "commitlimit", "totalprivate", "kernelstacks", "sessioncommit", "processorcommit",
    "bootcommit", "systempagetables", "pfnarraycommit", "pagesformdls", "pagesforawe", "contigmempages",
    "partitionpages", "misctransientcommit", "sumsystemcommit",
)
_VM_KNOWN_LONGEST = sorted(_VM_KNOWN, key=len, reverse=True)
_VM_POOL_N = re.compile(r"pagedpool(\d+)(usage)?$")

_MU_KNOWN = ("modifiednowrite", "activevalid", "slisttemp", "danglingyescommit", "danglingnocommit",
             "zeroed", "free", "standby", "modified", "transition", "bad", "unknown", "total")
_MU_KNOWN_LONGEST = sorted(_MU_KNOWN, key=len, reverse=True)


def _canon(label):
    return re.sub(r"[^a-z0-9]", "", label.lower())


def _known_key(label, known_longest):
    canon = _canon(label)
    for key in known_longest:
        if canon.endswith(key):
            return key
    return None


def _pairs(text, source):
    """Every (label, pages|None, kb|None, line) of the text; underflowed values become None."""
    out = []
    for match in _PAIR.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        pages = int(match.group(2))
        kb = int(match.group(3))
        out.append((match.group(1), None if _underflowed(pages) else pages,
                    None if _underflowed(kb) else kb, line, _underflowed(pages) or _underflowed(kb)))
    return out


def _kb_bytes(entry):
    if entry is None:
        return None
    if entry.get("kb") is not None:
        return entry["kb"] * KIB
    return None


def parse_vm(text, source="!vm"):
    """WinDbg ``!vm`` output -> dict.

    ``values`` maps each recognised label (``physicalmemory``,
    ``nonpagedpoolusage``, ``pagedpool_0``...) to ``{pages, kb}``; the summary
    fields are bytes: ``physical``, ``available``, ``nonpaged`` (NonPagedPool +
    NonPagedPoolNx usage), ``nonpaged_limit``, ``paged``, ``paged_limit``,
    ``commit_used``, ``commit_limit``. ``excessive`` lists the pools the
    debugger flagged (``Excessive NonPaged Pool Usage``), ``failed_allocations``
    the number in ``N pool allocations have failed``, ``underflowed`` the labels
    whose value was a 20-digit underflowed counter (reported as None).
    """
    _check_numbers(text, source)
    if not isinstance(text, str):
        raise ParseError("!vm text must be a string", source)
    values = {}
    underflowed = []
    for label, pages, kb, _line, wrapped in _pairs(text, source):
        key = _known_key(label, _VM_KNOWN_LONGEST)
        if key is None:
            pool_n = _VM_POOL_N.search(_canon(label))
            if not pool_n:
                continue
            key = "pagedpool_%s" % pool_n.group(1)
        if wrapped:
            underflowed.append(key)
        values[key] = {"pages": pages, "kb": kb}
    if not any(k in values for k in ("physicalmemory", "nonpagedpoolusage", "pagedpoolusage", "committedpages",
                                     "availablepages")):
        raise ParseError("no '!vm' figures ('Physical Memory:', 'NonPagedPool Usage:', 'Available Pages:' "
                         "followed by 'pages ( N Kb)')", source)
    excessive = sorted(set("nonpaged" if word.lower().startswith("non") else "paged" for word in re.findall(
        r"Excessive\s+(NonPaged|Paged)\s+Pool\s+Usage", text, re.I)))
    failed = re.search(r"(\d+)\s+pool\s+allocations?\s+have\s+failed", text, re.I)
    nonpaged = _kb_bytes(values.get("nonpagedpoolusage"))
    if "nonpagedpoolnxusage" in values:
        extra = _kb_bytes(values["nonpagedpoolnxusage"])
        nonpaged = None if nonpaged is None or extra is None else nonpaged + extra
    paged = _kb_bytes(values.get("pagedpoolusage"))
    if paged is None and "pagedpoolusage" not in values:
        parts = [_kb_bytes(v) for k, v in values.items() if k.startswith("pagedpool_")]
        if parts and None not in parts:
            paged = sum(parts)
    failed_count = int(failed.group(1)) if failed else None
    if failed_count is not None and _underflowed(failed_count):
        failed_count = None
    return {
        "values": values,
        "physical": _kb_bytes(values.get("physicalmemory")),
        "available": _kb_bytes(values.get("availablepages")),
        "nonpaged": nonpaged,
        "nonpaged_limit": _kb_bytes(values.get("nonpagedpoolmax") or values.get("nonpagedpoolmaximum")),
        "paged": paged,
        "paged_limit": _kb_bytes(values.get("pagedpoolmaximum") or values.get("pagedpoolmax")),
        "commit_used": _kb_bytes(values.get("committedpages")),
        "commit_limit": _kb_bytes(values.get("commitlimit")),
        "excessive": excessive,
        "failed_allocations": failed_count,
        "underflowed": sorted(set(underflowed)),
    }


def parse_memusage(text, source="!memusage"):
    """WinDbg ``!memusage`` summary -> bytes per page list.

    Keys: ``zeroed, free, standby, modified, modifiednowrite, activevalid,
    transition, slisttemp, bad, unknown, total`` (those printed), plus
    ``available`` = zeroed + free + standby, the pages Windows counts as
    available. The per-file usage table that follows is not read.
    """
    _check_numbers(text, source)
    if not isinstance(text, str):
        raise ParseError("!memusage text must be a string", source)
    lists = {}
    for label, _pages, kb, _line, _wrapped in _pairs(text, source):
        key = _known_key(label, _MU_KNOWN_LONGEST)
        if key is not None and key not in lists:
            lists[key] = None if kb is None else kb * KIB
    if "total" not in lists and not ("zeroed" in lists and "standby" in lists):
        raise ParseError("no '!memusage' page lists ('Zeroed:', 'Standby:', 'TOTAL:' followed by "
                         "'pages ( N kb)')", source)
    parts = [lists.get(k) for k in ("zeroed", "free", "standby")]
    lists["available"] = sum(parts) if None not in parts else None
    return lists


# --------------------------------------------------------------------------- !poolused

_PU_SORT = re.compile(r"^\s*Sorting by\s+(.+?)\s*$", re.I)
_PU_COLUMNS = re.compile(r"^(\s*)Tag\s+Allocs\s+Used\s+Allocs\s+Used\s*$", re.I)
_PU_GROUPS = re.compile(r"^\s*(NonPaged|Paged)\s+(NonPaged|Paged)\s*$", re.I)
_PU_TOTAL = re.compile(r"^\s*TOTAL\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
_PU_GLUED = re.compile(r"^(\d+)(\D.*)?$")


def _pu_fixed(line, cuts):
    """The four numbers cut at the header's column ends, or None when the row does not align.

    ``cuts``: where the first number column starts and where each of the four ends. A cell is
    digits right-aligned to its end, so the row must reach the last column's end.
    """
    start, end1, end2, end3, end4 = cuts
    if len(line) < end4:
        return None
    cells = (line[start:end1].lstrip(), line[end1:end2].lstrip(), line[end2:end3].lstrip(), line[end3:end4].lstrip())
    if not all(cells) or not "".join(cells).isdecimal():
        return None
    return [int(cells[0]), int(cells[1]), int(cells[2]), int(cells[3])], line[end4:].strip() or None


def _pu_tokens(words):
    """Numbers from whitespace-separated words; the fourth may carry the description glued on."""
    if len(words) < 4:
        return None
    numbers = []
    for word in words[:3]:
        if not word.isdecimal():
            return None
        numbers.append(int(word))
    glued = _PU_GLUED.match(words[3])
    if not glued:
        return None
    digits, tail = glued.group(1), glued.group(2) or ""
    if numbers[2] == 0 and len(digits) > 1 and digits.startswith("0"):
        # No paged allocation means no paged bytes: the digits after the 0 start the
        # description ("01394 OHCI host controller driver").
        tail = digits[1:] + tail
        digits = "0"
    numbers.append(int(digits))
    description = " ".join([tail] + words[4:]).strip() or None
    return numbers, description


def parse_poolused(text, source="!poolused"):
    """WinDbg ``!poolused`` output (any sort mode) -> dict.

    ``{sort, order, tags: [{tag, nonpaged_allocs, nonpaged_bytes, paged_allocs,
    paged_bytes, description}], total: {...}|None, ignored: [line numbers]}``.
    The allocation counts are the allocations outstanding at the time of the
    dump (not cumulative like poolmon's). Columns are cut at the header's
    column ends, so a description glued to the last number (``0UNKNOWN
    pooltag``) is separated exactly; rows wider than the header fall back to
    splitting on spaces.
    """
    _check_numbers(text, source)
    if not isinstance(text, str):
        raise ParseError("!poolused text must be a string", source)
    sort = None
    order = ("nonpaged", "paged")
    tagcol = None
    ends = None
    tags = []
    total = None
    ignored = []
    cuts = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.replace("\t", " ").rstrip()
        if not line:
            continue
        if ends is None:
            match = _PU_SORT.match(line)
            if match:
                sort = match.group(1)
                continue
            match = _PU_GROUPS.match(line)
            if match:
                order = tuple("nonpaged" if g.lower() == "nonpaged" else "paged" for g in match.groups())
                if order[0] == order[1]:
                    raise ParseError("pool group header names the same pool twice: %r" % line.strip(), source, lineno)
                continue
        match = _PU_COLUMNS.match(line) if line[-1] in "dD" else None  # "... Allocs  Used"
        if match:
            tagcol = len(match.group(1))
            ends = [m.end() for m in re.finditer(r"\S+", line)][1:]
            cuts = [tagcol + 4] + ends
            keys = _pu_keys(order)
            continue
        if ends is None:
            continue
        match = _PU_TOTAL.match(line) if "TOTAL" in line else None
        if match:
            values = [int(v) for v in match.groups()]
            total = _pu_entry("TOTAL", values, keys, None)
            continue
        if line.lstrip()[:1] == "." and (line.split()[0] in ("...", "....", ".....")
                                         or not line.strip().strip(".")):
            continue  # an elision mark
        tag = None
        parsed = None
        if len(line) > tagcol + 4 and not line[:tagcol].strip() and line[tagcol:tagcol + 4].strip():
            tag = line[tagcol:tagcol + 4]
            parsed = _pu_fixed(line, cuts)
            if parsed is None:
                parsed = _pu_tokens(line[tagcol + 4:].split())
        if parsed is None:
            # Collapsed whitespace or a row indented differently: the tag is the first word.
            words = line.split()
            tag = words[0].ljust(4)
            parsed = _pu_tokens(words[1:])
            if parsed is None:
                if any(w.isdecimal() for w in words[1:3]):
                    raise ParseError("!poolused row of tag %r does not have four numbers (NonPaged Allocs, Used, "
                                     "Paged Allocs, Used): %r" % (tag, line.strip()[:100]), source, lineno)
                ignored.append(lineno)
                continue
        numbers, description = parsed
        tags.append(_pu_entry(tag, numbers, keys, description))
    if ends is None:
        raise ParseError("no '!poolused' column header ('Tag  Allocs  Used  Allocs  Used')", source)
    return {"sort": sort, "order": list(order), "tags": tags, "total": total, "ignored": ignored}


def _pu_keys(order):
    """Entry keys of the four numbers, in the column order of the pool group header."""
    return tuple("%s_%s" % (pool, field) for pool in order for field in ("allocs", "bytes"))


def _pu_entry(tag, numbers, keys, description):
    return {"tag": tag, "description": description, keys[0]: numbers[0], keys[1]: numbers[1],
            keys[2]: numbers[2], keys[3]: numbers[3]}


# --------------------------------------------------------------------------- performance counter CSV

# \Memory\<counter> -> (key, multiplier to bytes)
_MEMORY_COUNTERS = {
    "available bytes": ("available", 1),
    "available kbytes": ("available", KIB),
    "available mbytes": ("available", KIB * KIB),
    "committed bytes": ("commit_used", 1),
    "commit limit": ("commit_limit", 1),
    "pool nonpaged bytes": ("pool_nonpaged", 1),
    "pool paged bytes": ("pool_paged", 1),
    "pool paged resident bytes": ("pool_paged_resident", 1),
    "cache bytes": ("cache", 1),
    "free & zero page list bytes": ("free", 1),
}
# Localized names of the Memory object and of the counters above, as a de-DE or zh-CN host writes
# them in typeperf / Export-Counter / Get-Counter CSVs (counter paths are localized; the Perflib
# index that would translate them is on the host, not in the capture). Only names with a public
# source are listed (tests/fixtures/captures/README.md, "Localized counter names"):
# - de-DE: object "Arbeitsspeicher" (Windows 10 and later, e.g. "\\Arbeitsspeicher\\Verfügbare MB" in
#   Microsoft's de-DE SQL Server on Azure VM performance guidance) and "Speicher" (the DEU management
#   pack of Windows Server 2012 R2, "Speicher\\Verfügbare MB", "Speicher\\Verfügbare Bytes"); counters from
#   Microsoft's de-DE Azure autoscale metrics table (Verfügbare Bytes, Zugesicherte Bytes, Zusagegrenze,
#   Auslagerungsseiten (Bytes), Nicht-Auslagerungsseiten (Bytes)) and tecchannel.de's counter guide
#   (Committed Bytes = Zugesicherte Bytes, Commit Limit = Zusagegrenze).
# - zh-CN: object "内存", counter "可用字节" (Available Bytes), from Microsoft's zh-CN Azure monitoring
#   docs ("\\内存\\可用字节"). No sourced zh-CN name for the pool or commit counters: those columns are
#   reported as not understood.
_MEMORY_OBJECTS = {"memory": "en", "arbeitsspeicher": "de-DE", "speicher": "de-DE", "\u5185\u5b58": "zh-CN"}
_LOCALIZED_COUNTERS = {
    "de-DE": {
        "verfügbare bytes": "available bytes",
        "verfügbare kb": "available kbytes",
        "verfügbare mb": "available mbytes",
        "zugesicherte bytes": "committed bytes",
        "zusagegrenze": "commit limit",
        "nicht-auslagerungsseiten (bytes)": "pool nonpaged bytes",
        "auslagerungsseiten (bytes)": "pool paged bytes",
    },
    "zh-CN": {
        "\u53ef\u7528\u5b57\u8282": "available bytes",
    },
}
# Memory counters the analysis does not use: never reported as "not understood".
_IGNORED_MEMORY = ("% committed bytes in use", "zugesicherte verwendete bytes (%)", "pages/sec", "page faults/sec",
                   "seiten/s", "seitenfehler/s")


def _memory_counter(obj, counter):
    """(key, scale) of a Memory counter in English or a sourced localization; None when not understood."""
    language = _MEMORY_OBJECTS.get(obj)
    if language is None:
        return None
    name = _LOCALIZED_COUNTERS.get(language, {}).get(counter, counter)
    return _MEMORY_COUNTERS.get(name)


def not_understood_message(paths):
    """One sentence naming the Memory counter paths a CSV held but the parser could not read."""
    more = " and %d more" % (len(paths) - 8) if len(paths) > 8 else ""
    return ("counter(s) of the Memory object not understood (localized names without a sourced translation, "
            "or counters the analysis does not read): %s%s" % (", ".join(paths[:8]), more))


_PDH = re.compile(r"PDH-CSV\s+[\d.]+\)\s*(?:\(([^)]*)\))?\s*(?:\((-?\d+)\))?")
_COUNTER_PATH = re.compile(r"^\\\\([^\\]+)\\(.+)\\([^\\]+)$")
_COUNTER_PATH_LOCAL = re.compile(r"^\\(.+)\\([^\\]+)$")
_TIME_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S.%f",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S")


def _counter(path):
    """(host, object, counter) of a counter path, lower-case object and counter; None if not a path."""
    path = path.strip()
    match = _COUNTER_PATH.match(path)
    if match:
        host, obj, counter = match.groups()
    else:
        match = _COUNTER_PATH_LOCAL.match(path)
        if not match:
            return None
        host = None
        obj, counter = match.groups()
    return host, obj.lower(), counter.lower()


def _parse_time(text, source, lineno):
    value = text.strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ParseError("timestamp %r is not in a known form (MM/DD/YYYY hh:mm:ss.fff)" % value[:40], source, lineno)


def _number(text, source, lineno, what):
    value = text.strip()
    if not value:
        return None
    try:
        number = float(value.replace(",", "")) if value.count(",") and "." in value else float(value.replace(",", "."))
    except ValueError:
        raise ParseError("%s is not a number: %r" % (what, value[:40]), source, lineno)
    if math.isnan(number) or math.isinf(number) or number < 0 or number >= UNDERFLOW:
        return None
    return int(round(number))


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_perf_csv(text, source="counters.csv"):
    """Memory counters from a performance counter CSV -> time series.

    Two layouts: the PDH form written by ``typeperf``, ``relog -f csv`` and
    ``Export-Counter`` (first cell ``(PDH-CSV 4.0) (time zone)(bias)``, one
    column per counter path, one row per sample), and the long form of
    ``Get-Counter | ... | Export-Csv`` (columns ``Path``, ``CookedValue``,
    ``Timestamp``). Only ``\\Memory\\...`` counters are read, under their English
    names or the sourced de-DE / zh-CN names (``_LOCALIZED_COUNTERS``).

    Returns ``{host, timezone_known, language, not_understood, rows: [{time,
    available, commit_used, commit_limit, pool_nonpaged, pool_paged,
    pool_paged_resident, cache, free}]}``: ``language`` of the Memory object's
    name (``en``, ``de-DE``, ``zh-CN``), ``not_understood`` the Memory counter
    paths that were skipped; ``time`` is ISO-8601 UTC when the PDH header gives the bias,
    otherwise the local time as written (``timezone_known`` False); values are
    bytes or None where the sample is empty.
    """
    _check_numbers(text, source)
    if not isinstance(text, str):
        raise ParseError("CSV text must be a string", source)
    try:
        rows = list(csv.reader(io.StringIO(text.replace("\x00", ""))))
    except csv.Error as exc:
        raise ParseError("not readable as CSV: %s" % exc, source)
    numbered = [(i, row) for i, row in enumerate(rows, 1) if row and any(cell.strip() for cell in row)]
    while numbered and numbered[0][1][0].startswith("#TYPE"):
        numbered.pop(0)
    if not numbered:
        raise ParseError("empty CSV", source)
    first_line, header = numbered[0]
    if "PDH-CSV" in header[0]:
        return _perf_wide(header, numbered[1:], source, first_line)
    lowered = [cell.strip().lower() for cell in header]
    if "path" in lowered and "cookedvalue" in lowered and "timestamp" in lowered:
        return _perf_long(lowered, numbered[1:], source)
    raise ParseError("first row is neither a PDH-CSV header ('(PDH-CSV 4.0)', counter paths) nor "
                     "'Path,CookedValue,Timestamp'", source, first_line)


def _perf_wide(header, body, source, header_line):
    match = _PDH.search(header[0])
    bias = int(match.group(2)) if match and match.group(2) else None
    if bias is not None and abs(bias) > 24 * 60:
        raise ParseError("time zone bias of %d minutes is not a time zone" % bias, source, header_line)
    columns = {}
    host = None
    languages = set()
    skipped = []
    for index, cell in enumerate(header[1:], 1):
        parsed = _counter(cell)
        if parsed is None:
            continue
        cell_host, obj, counter = parsed
        known = _memory_counter(obj, counter)
        if known:
            columns[index] = known
            languages.add(_MEMORY_OBJECTS[obj])
            host = host or cell_host
        elif obj in _MEMORY_OBJECTS and counter not in _IGNORED_MEMORY:
            skipped.append(cell.strip())
    if not columns:
        raise ParseError("no \\Memory\\ counter among the %d columns (Available Bytes, Committed Bytes, "
                         "Commit Limit, Pool Nonpaged Bytes, Pool Paged Bytes, or their de-DE / zh-CN names)%s"
                         % (len(header) - 1, "; " + not_understood_message(skipped) if skipped else ""),
                         source, header_line)
    out = []
    for lineno, row in body:
        if len(row) < min(3, len(header)) and not re.match(r"^\s*\d", row[0]):
            continue  # typeperf's own messages when its screen output was saved ("Exiting, please wait...")
        if len(row) != len(header):
            if lineno == body[-1][0] and len(row) < len(header):
                raise ParseError("last row has %d of %d cells: the file is cut short" % (len(row), len(header)),
                                 source, lineno)
            raise ParseError("row has %d cells, the header %d" % (len(row), len(header)), source, lineno)
        moment = _parse_time(row[0], source, lineno)
        if bias is not None:
            try:
                moment = moment + datetime.timedelta(minutes=bias)
            except OverflowError:
                raise ParseError("timestamp %r is out of range" % row[0][:40], source, lineno)
        sample = {"time": _iso(moment)}
        for index, (key, scale) in columns.items():
            value = _number(row[index], source, lineno, header[index].strip())
            if value is not None:
                value *= scale
            if sample.get(key) is None:
                sample[key] = value
        out.append(sample)
    if not out:
        raise ParseError("header only: no sample rows", source, header_line)
    return {"host": host, "timezone_known": bias is not None, "language": _language(languages),
            "not_understood": skipped, "rows": _fill_keys(out)}


def _language(languages):
    return ",".join(sorted(languages)) if languages else None


def _perf_long(lowered, body, source):
    index_path = lowered.index("path")
    index_value = lowered.index("cookedvalue")
    index_time = lowered.index("timestamp")
    width = max(index_path, index_value, index_time) + 1
    by_time = {}
    order = []
    host = None
    languages = set()
    skipped = []
    for lineno, row in body:
        if len(row) < width:
            raise ParseError("row has %d cells, at least %d expected" % (len(row), width), source, lineno)
        parsed = _counter(row[index_path])
        if parsed is None:
            raise ParseError("%r is not a counter path" % row[index_path][:80], source, lineno)
        cell_host, obj, counter = parsed
        known = _memory_counter(obj, counter)
        if not known:
            path = row[index_path].strip()
            if obj in _MEMORY_OBJECTS and counter not in _IGNORED_MEMORY and path not in skipped:
                skipped.append(path)
            continue
        languages.add(_MEMORY_OBJECTS[obj])
        moment = _parse_time(row[index_time], source, lineno)
        key, scale = known
        value = _number(row[index_value], source, lineno, "CookedValue")
        stamp = _iso(moment)
        if stamp not in by_time:
            by_time[stamp] = {"time": stamp}
            order.append(stamp)
        if by_time[stamp].get(key) is None:
            by_time[stamp][key] = None if value is None else value * scale
        host = host or cell_host
    if not order:
        raise ParseError("no \\Memory\\ counter rows (Available Bytes, Committed Bytes, Commit Limit, "
                         "Pool Nonpaged Bytes, Pool Paged Bytes, or their de-DE / zh-CN names)%s"
                         % ("; " + not_understood_message(skipped) if skipped else ""), source)
    return {"host": host, "timezone_known": False, "language": _language(languages), "not_understood": skipped,
            "rows": _fill_keys([by_time[s] for s in sorted(order)])}


def _fill_keys(rows):
    keys = sorted(set(k for k, _scale in _MEMORY_COUNTERS.values()))
    for row in rows:
        for key in keys:
            row.setdefault(key, None)
    return rows
