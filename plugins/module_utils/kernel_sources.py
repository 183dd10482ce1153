# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers of the kernel's own allocation accounting: who allocated the kernel's memory.

Each takes the text of one file and returns plain data; none does I/O. A line that is not
in the expected format raises :class:`ParseError` naming the file and the line.

- ``/proc/allocinfo`` (Linux 6.10+, CONFIG_MEM_ALLOC_PROFILING): bytes and calls per
  allocation call site ``file:line [module] func:name`` (Documentation/mm/allocation-profiling.rst).
- ``/proc/vmallocinfo``: one line per vmalloc/vmap/ioremap area with its caller and module.
- ``/sys/kernel/debug/kmemleak``: objects no pointer refers to any more, with their backtraces
  (Documentation/dev-tools/kmemleak.rst).
- ``page_owner``: ``page_owner_sort`` summaries or the raw ``/sys/kernel/debug/page_owner``
  (Documentation/mm/page_owner.rst).
- ``/proc/modules`` with taint flags, ``/sys/module/NAME/version``.

Sites are reported as ``{"site", "func", "module", "bytes", ...}`` everywhere, so the
diagnosis compares them without knowing where they came from.
Runs on the target: standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

PAGE_SIZE = 4096

# numfmt --to=iec suffixes (the kernel documentation shows allocinfo through numfmt).
_IEC = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}

# ------------------------------------------------------------------------------------ allocinfo

_ALLOC_HEADER = re.compile(r"^allocinfo - version:\s*(\S+)\s*$")
_ALLOC_LINE = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)([KMGTP]?)(\*?)\s+(\d+)(\*?)\s+(\S+):(\d+)(?:\s+\[([^\]\s]+)\])?\s+func:(\S+)(.*)$")


def _iec_bytes(number, suffix):
    if suffix or "." in number:
        return int(round(float(number) * _IEC[suffix])), True
    return int(number), False


def parse_allocinfo(text, source="/proc/allocinfo"):
    """/proc/allocinfo -> {version, sites: [{site, func, module, bytes, calls, accurate, approx}], total}.

    ``total`` adds the positive byte counts. ``approx`` marks sizes read through ``numfmt``
    (``2.8M``); ``accurate`` is False where the kernel says so (format 2.0: ``*`` or
    ``accurate:no``).
    """
    version = None
    sites = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        header = _ALLOC_HEADER.match(stripped)
        if header:
            version = header.group(1)
            continue
        if stripped.startswith("#") or stripped.startswith("<size>"):
            continue
        match = _ALLOC_LINE.match(line)
        if not match:
            raise ParseError("expected '<bytes> <calls> file:line [module] func:name', got %r" % line[:120],
                             source, lineno)
        number, suffix, star1, calls, star2, path, line_no, module, func, rest = match.groups()
        nbytes, approx = _iec_bytes(number, suffix)
        sites.append({
            "site": "%s:%s" % (path, line_no),
            "func": func,
            "module": module,
            "bytes": nbytes,
            "calls": int(calls),
            "accurate": not (star1 or star2 or "accurate:no" in rest),
            "approx": approx,
        })
    if not sites and version is None:
        raise ParseError("no allocation site and no 'allocinfo - version' header", source)
    return {"version": version, "sites": sites, "total": sum(s["bytes"] for s in sites if s["bytes"] > 0)}


# ------------------------------------------------------------------------------------ vmallocinfo

_VMALLOC_LINE = re.compile(r"^\s*0x([0-9a-fA-F]+)-0x([0-9a-fA-F]+)\s+(\d+)\s*(.*)$")
_VMALLOC_FLAGS = ("ioremap", "vmalloc", "vmap", "user", "vpages", "dma-coherent", "vm_map_ram", "unpurged",
                  "vm_area", "sparse")


def _strip_offset(frame):
    """'amdgpu_vm_update_range+0x97/0x890' -> 'amdgpu_vm_update_range'."""
    return re.sub(r"\+0x[0-9a-fA-F]+(?:/0x[0-9a-fA-F]+)?$", "", frame)


def parse_vmallocinfo(text, source="/proc/vmallocinfo", page_size=PAGE_SIZE):
    """/proc/vmallocinfo -> {callers: [{site, func, module, bytes, areas}], total, areas}.

    Only areas with ``pages=`` hold RAM (``ioremap`` maps device memory): ``bytes`` is
    pages x page size per caller, largest first.
    """
    callers = {}
    areas = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _VMALLOC_LINE.match(line)
        if not match:
            raise ParseError("expected '0xSTART-0xEND SIZE caller ...', got %r" % line[:120], source, lineno)
        tokens = match.group(4).split()
        caller = None
        module = None
        pages = None
        for index, token in enumerate(tokens):
            if token.startswith("pages="):
                try:
                    pages = int(token[6:])
                except ValueError:
                    raise ParseError("pages= is not a number: %r" % token, source, lineno)
            elif token.startswith("[") and token.endswith("]") and len(token) > 2:
                module = token[1:-1]
            elif index == 0 and "=" not in token and token not in _VMALLOC_FLAGS:
                caller = token
        if pages is None:
            continue
        areas += 1
        func = _strip_offset(caller) if caller else "(no caller)"
        key = (func, module)
        entry = callers.get(key)
        if entry is None:
            entry = callers[key] = {"site": func, "func": func, "module": module, "bytes": 0, "areas": 0}
        entry["bytes"] += pages * page_size
        entry["areas"] += 1
    ranked = sorted(callers.values(), key=lambda e: (-e["bytes"], e["site"]))
    return {"callers": ranked, "total": sum(e["bytes"] for e in ranked), "areas": areas}


# ------------------------------------------------------------------------------------ backtraces

# Frames of the allocators themselves: the call site is the first frame below them.
_ALLOCATOR_FRAME = re.compile(
    r"^(kmemleak_\w+|create_object\w*|__?kmalloc\w*|kmalloc\w*|__?kmem_cache_alloc\w*|kmem_cache_alloc\w*|"
    r"kzalloc\w*|kcalloc\w*|krealloc\w*|kvrealloc\w*|__?kvmalloc\w*|kvzalloc\w*|__?vmalloc\w*|vzalloc\w*|"
    r"slab_\w+|__?slab_alloc\w*|___slab_alloc\w*|new_slab\w*|allocate_slab\w*|alloc_slab_page\w*|"
    r"__do_kmalloc\w*|kmalloc_trace\w*|kstrdup\w*|kstrndup\w*|kmemdup\w*|memdup_user\w*|strndup_user\w*|"
    r"kvasprintf\w*|kasprintf\w*|prep_new_page|post_alloc_hook\w*|get_page_from_freelist|__?alloc_pages\w*|"
    r"alloc_pages\w*|__?folio_alloc\w*|folio_alloc\w*|alloc_pages_mpol\w*|_?_?get_free_pages\w*|get_zeroed_page\w*|"
    r"__page_frag_alloc\w*|page_frag_alloc\w*|kasan_\w+|__alloc_frozen_pages\w*|alloc_frozen_pages\w*|"
    r"dump_stack\w*|stack_trace_save\w*|save_stack\w*|__set_page_owner\w*|set_page_owner\w*)$")
_FRAME_MODULE = re.compile(r"\[([A-Za-z0-9_.-]+)\]")


def _frame(line):
    """(function, module) of one backtrace line, or None for '...' and bare addresses."""
    text = re.sub(r"^\s*\[<[0-9a-fA-F]+>\]\s*", "", line).strip()
    if not text or text == "..." or text.startswith("0x"):
        return None
    word = text.split()[0]
    modules = [m for m in _FRAME_MODULE.findall(text) if m != "inline"]
    if text.endswith("[inline]"):
        return None  # syzbot's inlined frames repeat the real frame below them
    return _strip_offset(word), (modules[-1] if modules else None)


def call_site(frames):
    """(site function, module) of a backtrace: the first frame that is not an allocator.

    The module is the site's own, else that of the nearest frame below it that has one
    (a module calling a kernel helper that allocates is still the module's allocation).
    """
    site = None
    module = None
    for func, mod in frames:
        if site is None:
            if _ALLOCATOR_FRAME.match(func):
                continue
            site, module = func, mod
            if module:
                break
        elif mod:
            module = mod
            break
    if site is None and frames:
        site, module = frames[0]
    return site, module


def _aggregate(rows, key_fields=("site", "module")):
    merged = {}
    for row in rows:
        key = tuple(row[k] for k in key_fields)
        entry = merged.get(key)
        if entry is None:
            merged[key] = dict(row)
        else:
            for field in ("bytes", "objects", "pages", "times"):
                if field in row:
                    entry[field] = entry.get(field, 0) + row[field]
    return sorted(merged.values(), key=lambda e: (-e["bytes"], e["site"] or ""))


# ------------------------------------------------------------------------------------ kmemleak

_KMEMLEAK_HEAD = re.compile(r"^\s*unreferenced object 0x([0-9a-fA-F]+) \(size (\d+)\):\s*$")
_KMEMLEAK_COMM = re.compile(r'^\s*comm "(.*)", pid (\d+), jiffies (\d+)(?: \(age ([\d.]+)s\))?')


def parse_kmemleak(text, source="/sys/kernel/debug/kmemleak", max_frames=8):
    """kmemleak report -> {objects, bytes, sites: [{site, func, module, bytes, objects, comm, backtrace}]}.

    An empty report (no leak found, or not scanned yet) gives zero objects.
    """
    objects = []
    current = None
    in_trace = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head = _KMEMLEAK_HEAD.match(line)
        if head:
            current = {"size": int(head.group(2)), "comm": None, "frames": []}
            objects.append(current)
            in_trace = False
            continue
        if current is None:
            raise ParseError("expected 'unreferenced object 0x... (size N):', got %r" % line[:120], source, lineno)
        stripped = line.strip()
        comm = _KMEMLEAK_COMM.match(line)
        if comm and current["comm"] is None:
            current["comm"] = comm.group(1)
        elif stripped.startswith("backtrace"):
            in_trace = True
        elif stripped.startswith("hex dump"):
            in_trace = False
        elif in_trace:
            frame = _frame(line)
            if frame:
                current["frames"].append(frame)
    rows = []
    for obj in objects:
        site, module = call_site(obj["frames"])
        rows.append({"site": site or "(no backtrace)", "func": site, "module": module, "bytes": obj["size"],
                     "objects": 1, "comm": obj["comm"],
                     "backtrace": [f + (" [%s]" % m if m else "") for f, m in obj["frames"][:max_frames]]})
    return {"objects": len(objects), "bytes": sum(o["size"] for o in objects), "sites": _aggregate(rows)}


# ------------------------------------------------------------------------------------ page_owner

_PO_SORTED = re.compile(r"^\s*(\d+) times, (\d+) pages")
_PO_ALLOC = re.compile(r"^\s*Page allocated via order (\d+)")
_PO_SKIP = re.compile(r"^\s*(PFN |ts |Page |page last|page_owner|Memory cgroup|Charged|\(?mask )")


def parse_page_owner(text, source="page_owner", page_size=PAGE_SIZE, max_frames=8):
    """page_owner_sort output or raw /sys/kernel/debug/page_owner -> {pages, bytes, sites: [...]}.

    Sorted blocks start with ``N times, M pages:``; raw blocks with ``Page allocated via order
    K`` (2**K pages each). Frames are the indented lines that follow.
    """
    blocks = []
    current = None
    sorted_form = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head = _PO_SORTED.match(line)
        alloc = _PO_ALLOC.match(line)
        if head and sorted_form is not False:
            sorted_form = True
            current = {"times": int(head.group(1)), "pages": int(head.group(2)), "frames": []}
            blocks.append(current)
            continue
        if alloc and sorted_form is not True:
            sorted_form = False
            current = {"times": 1, "pages": 1 << min(int(alloc.group(1)), 20), "frames": []}
            blocks.append(current)
            continue
        if current is None:
            raise ParseError("expected 'N times, M pages:' or 'Page allocated via order N', got %r" % line[:120],
                             source, lineno)
        if alloc or _PO_SKIP.match(line) or not line[:1].isspace():
            continue
        frame = _frame(line)
        if frame and re.match(r"^[A-Za-z_.$][\w.$]*$", frame[0]):
            current["frames"].append(frame)
    if not blocks:
        raise ParseError("no page_owner block found", source)
    rows = []
    for block in blocks:
        site, module = call_site(block["frames"])
        rows.append({"site": site or "(no stack)", "func": site, "module": module, "pages": block["pages"],
                     "times": block["times"], "bytes": block["pages"] * page_size,
                     "backtrace": [f + (" [%s]" % m if m else "") for f, m in block["frames"][:max_frames]]})
    pages = sum(b["pages"] for b in blocks)
    return {"pages": pages, "bytes": pages * page_size, "sites": _aggregate(rows)}


# ------------------------------------------------------------------------------------ modules

# Documentation/admin-guide/tainted-kernels.rst: the letters a module itself can carry.
TAINT_LETTERS = {
    "P": "proprietary", "O": "out-of-tree", "E": "unsigned", "F": "force-loaded", "C": "staging",
    "X": "externally supported", "K": "live patch", "T": "struct randomisation",
}
_MODULE_LINE = re.compile(r"^(\S+)\s+(\d+)\s+(-|\d+)\s+(\S+)\s+(Live|Loading|Unloading)\s+(0x[0-9a-fA-F]+)?"
                          r"\s*(?:\(([A-Z]+)\))?\s*$")


def parse_modules_detail(text, source="/proc/modules"):
    """/proc/modules -> [{name, size, refcount, used_by, state, taint, taint_meaning}] in file order."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _MODULE_LINE.match(line.strip())
        if not match:
            raise ParseError("expected 'name size refcount deps state address [(taint)]', got %r" % line[:120],
                             source, lineno)
        name, size, refs, deps, state, _addr, taint = match.groups()
        out.append({
            "name": name,
            "size": int(size),
            "refcount": None if refs == "-" else int(refs),
            "used_by": [d for d in deps.split(",") if d and d != "-"],
            "state": state,
            "taint": taint,
            "taint_meaning": [TAINT_LETTERS.get(c, c) for c in taint] if taint else [],
        })
    return out


def parse_module_version(text, source="/sys/module/NAME/version"):
    """First line of a module's version file; None when empty."""
    lines = text.strip().splitlines()
    value = lines[0].strip() if lines else ""
    return value or None
