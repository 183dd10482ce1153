# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline analysis: captured files in, snapshots (docs/architecture.md, Data contracts) out.

A *capture* is what a support engineer holds for one host: a sosreport (a
folder or a ``.tar.xz``), a folder of Windows tool output (poolmon logs,
WinDbg ``!vm`` / ``!poolused`` / ``!memusage`` text, a counter CSV), or a
folder of loose ``/proc`` files. ``find_captures`` tells whether a directory is
one capture or a folder of captures; ``analyze_capture`` turns one capture into
a snapshot and a file list saying what was used, what was skipped and why.

Each job has its file in this package: ``sniff`` reads a file safely and tells
its format by content, ``archive`` unpacks, ``discovery`` finds the captures,
``sos`` assembles Linux captures and ``windows`` Windows ones; this module runs
one capture through them. Nothing here raises to the caller for bad input: a
capture that cannot be analysed comes back with ``error`` set to one sentence
naming the file and line.

Runs on the controller (called by the ``memleak_captures`` lookup). Standard
library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils import kernel_sources as ks
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import tool_parsers as tp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.archive import extract_archive, is_archive
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.discovery import capture_name, find_captures, sos_root
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import (
    DEFAULT_LIMITS, KIND_TEXT, LINUX_KINDS, LINUX_TOOL_KINDS, WINDOWS_KINDS, CaptureError, file_time, merge_limits,
    offset_error, read_text, sections)
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.loose import loose_linux
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sos import analyze_tree
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.windows import windows_snapshot

# What the lookup and callers use; the rest of capture handling is reached through this module.
__all__ = ["DEFAULT_LIMITS", "CaptureError", "analyze_capture", "capture_name", "find_captures", "read_text",
           "sections", "sos_root"]


def analyze_capture(path, name=None, limits=None):
    """Analyse one capture -> ``{name, path, snapshot, error, files, hostname}``.

    ``files`` lists every file looked at: ``{file, kind, status:
    used|skipped|error, reason}``. ``snapshot`` is None and ``error`` one
    sentence when nothing usable was found or a required file is malformed.
    """
    limits = merge_limits(limits)
    name = name or capture_name(path)
    result = {"name": name, "path": path, "snapshot": None, "error": None, "files": [], "hostname": None}
    work = None
    try:
        root = path
        notes = []
        if os.path.isfile(path) and is_archive(path):
            work = tempfile.mkdtemp(prefix="memleak-capture-")
            extract_archive(path, work, limits, notes)
            root = work
        if os.path.isfile(root):
            snapshot = _analyze_files(name, [(root, os.path.basename(root))], result, limits)
        else:
            tree = sos_root(root)
            if tree is not None:
                snapshot = analyze_tree(name, tree, result, limits)
            else:
                snapshot = _analyze_files(name, _list_files(root, limits, result), result, limits)
        snapshot["warnings"][:0] = notes
        result["snapshot"] = snapshot
    except (CaptureError, ParseError) as exc:
        result["error"] = _relative(str(exc), path)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
            _relabel(result, work, path)
    return result


def _relative(text, path):
    """Paths inside a capture folder are shown relative to it."""
    if os.path.isdir(path):
        return text.replace(os.path.join(path, ""), "")
    return text


def _relabel(result, work, archive):
    """Files unpacked from an archive are named relative to the archive, not the temporary folder."""
    label = os.path.basename(archive)

    def fix(text):
        return text.replace(work + os.sep, label + ":").replace(work, label) if isinstance(text, str) else text
    result["error"] = fix(result["error"])
    for item in result["files"]:
        item["file"] = fix(item["file"])
        item["reason"] = fix(item["reason"])
    if result["snapshot"]:
        result["snapshot"]["warnings"] = [fix(w) for w in result["snapshot"]["warnings"]]


MAX_DEPTH = 32  # folder levels under a capture's root that are looked into


def _list_files(root, limits, result):
    """The regular files under ``root``, breadth first without recursion; links, special files and
    folders deeper than MAX_DEPTH are listed as skipped, never opened."""
    files = []
    pending = [("", 0)]
    while pending:
        rel_dir, depth = pending.pop(0)
        try:
            entries = sorted(os.scandir(os.path.join(root, rel_dir)), key=lambda e: e.name)
        except (IOError, OSError):
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = os.path.join(rel_dir, entry.name)
            if entry.is_symlink():
                reason = "symbolic link: not followed"
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_DEPTH:
                    reason = "folder nested more than %d levels deep: not looked into" % MAX_DEPTH
                else:
                    pending.append((rel, depth + 1))
                    continue
            elif not entry.is_file(follow_symlinks=False):
                reason = "not a regular file (FIFO, device or socket): not read"
            elif len(files) >= limits["max_files"]:
                reason = "more than %d files in the capture" % limits["max_files"]
            else:
                files.append((entry.path, rel))
                continue
            result["files"].append({"file": rel, "kind": None, "status": "skipped", "reason": reason})
    return files


def _analyze_files(name, files, result, limits):
    """Windows tool output or loose /proc files -> one snapshot."""
    parts = []
    for full, rel in files:
        if is_archive(full):
            result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                    "reason": "archive inside a capture: give it as a capture of its own"})
            continue
        text, reason = read_text(full, limits)
        if text is None:
            result["files"].append({"file": rel, "kind": None, "status": "skipped", "reason": reason})
            continue
        found = sections(text)
        if not found:
            result["files"].append({"file": rel, "kind": None, "status": "skipped",
                                    "reason": "not a recognised format (poolmon, WinDbg !vm / !poolused / "
                                              "!memusage, counter CSV, event 2004, systeminfo, /proc/meminfo, "
                                              "slabinfo, vmstat, free, slabtop, ps / top, /proc/PID/status, "
                                              "OOM-killer report)"})
            continue
        when, how = file_time(full, rel)
        for kind, section, first_line in found:
            parser = _PARSERS[kind]
            try:
                data = parser(section, source=rel)
            except ParseError as exc:
                result["files"].append({"file": rel, "kind": kind, "status": "error",
                                        "reason": str(offset_error(exc, first_line))})
                continue
            parts.append({"kind": kind, "file": rel, "full": full, "data": data, "time": when, "how": how,
                          "text": section if kind in LINUX_KINDS or kind in LINUX_TOOL_KINDS else None})
            result["files"].append({"file": rel, "kind": kind, "status": "used", "reason": KIND_TEXT[kind]})
    kinds = set(p["kind"] for p in parts)
    if not parts:
        errors = [f for f in result["files"] if f["status"] == "error"]
        if errors:
            raise CaptureError(errors[0]["reason"])
        dumps = [f for f in result["files"] if "crash dump" in (f["reason"] or "")]
        if dumps:
            raise CaptureError("%s is a %s" % (dumps[0]["file"], dumps[0]["reason"]))
        raise CaptureError("no file of the capture is in a recognised format (%d file(s) skipped)"
                           % len(result["files"]))
    linux = set(LINUX_KINDS) | set(LINUX_TOOL_KINDS)
    if kinds & set(WINDOWS_KINDS) and kinds & linux:
        weak = {"systeminfo", "meminfo_partial"}  # a line or two that either family's text can hold
        if kinds & set(WINDOWS_KINDS) - weak and kinds & linux - weak:
            raise CaptureError("the capture mixes Windows and Linux files: put each host in a folder of its own")
        drop = "systeminfo" if kinds & linux - weak else "meminfo_partial"
        parts = [p for p in parts if p["kind"] != drop]
        kinds.discard(drop)
    if kinds & linux:
        return loose_linux(name, parts, result, limits)
    return windows_snapshot(name, parts, limits)


_PARSERS = {
    "poolmon": wp.parse_poolmon,
    "vm": wp.parse_vm,
    "poolused": wp.parse_poolused,
    "memusage": wp.parse_memusage,
    "perfmon": wp.parse_perf_csv,
    "meminfo": lp.parse_meminfo,
    "slabinfo": lp.parse_slabinfo,
    "vmstat": lp.parse_vmstat,
    "allocinfo": ks.parse_allocinfo,
    "vmallocinfo": ks.parse_vmallocinfo,
    "kmemleak": ks.parse_kmemleak,
    "page_owner": ks.parse_page_owner,
    "modules": ks.parse_modules_detail,
    "free": tp.parse_free,
    "slabtop": tp.parse_slabtop,
    "meminfo_partial": tp.parse_meminfo_lines,
    "processes": tp.parse_process_listing,
    "status": lp.parse_status,
    "oom": tp.parse_oom_reports,
    "event_2004": tp.parse_event_2004,
    "systeminfo": tp.parse_systeminfo,
}
