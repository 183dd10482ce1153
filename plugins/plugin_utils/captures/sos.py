# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux captures: a sosreport or /proc tree, or loose /proc files, through the same
``linux_collect`` the live module uses, completed from the report's command output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import tool_parsers as tp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import (
    SNIFF_BYTES, CaptureError, binary_reason, decode_text, file_time, now, size_text)


def _sos_text(root, rel, limits):
    """The text of a regular file of the report, never through a link; None otherwise."""
    try:
        data = linux_collect.read_under(root, rel, limits["max_file_bytes"])
    except (IOError, OSError):
        return None
    return decode_text(data) if data and not binary_reason(data[:SNIFF_BYTES]) else None


def _text_or_listed(root, rel, limits, result, kind):
    """The text of ``rel``; None when absent, or listed as skipped with the reason when it cannot be read
    (a link, too large, binary), so that a file the analysis wanted never goes unmentioned."""
    try:
        data = linux_collect.read_under(root, rel, limits["max_file_bytes"])
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        reason = "%s is above the %s limit for one file (max_file_mb)" % (
            "the file", size_text(limits["max_file_bytes"])) if exc.errno == errno.EFBIG else \
            "not read: %s" % (exc.strerror or exc)
        result["files"].append({"file": rel, "kind": kind, "status": "skipped", "reason": reason})
        return None
    reason = binary_reason(data[:SNIFF_BYTES]) if data else "empty file"
    if reason:
        result["files"].append({"file": rel, "kind": kind, "status": "skipped", "reason": reason})
        return None
    return decode_text(data)


def _sos_files(root, folder):
    try:
        return sorted(os.path.join(folder, n) for n in linux_collect.listdir_under(root, folder))
    except (IOError, OSError):
        return []


def analyze_tree(name, root, result, limits):
    """A sosreport or /proc tree -> linux_collect, completed from the report's command output."""
    notes = []
    collected_at = None
    for rel in ("sos_commands/date/date_--utc", "sos_commands/date/date"):
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        try:
            collected_at = sp.parse_date_utc(text, source=rel)
            result["files"].append({"file": rel, "kind": "date", "status": "used", "reason": "time of the report"})
            break
        except ParseError:
            continue
    if collected_at is None:
        collected_at, how = file_time(os.path.join(root, "proc", "meminfo"), "proc/meminfo")
        if collected_at is None:
            collected_at = now()
            notes.append("time of the capture unknown: the time of the analysis is used")
        else:
            notes.append("time of the capture taken from %s of proc/meminfo (no 'date --utc' output)" % how)
    free = None
    if not os.path.isfile(os.path.join(root, "proc", "meminfo")):
        meminfo_text, free = _free_meminfo(root, result, limits)
        if meminfo_text is None:
            raise CaptureError("%s has no proc/meminfo and no readable free output: the sosreport was taken without "
                               "the memory plugin or is incomplete" % name)
    else:
        meminfo_text = None
    snapshot = linux_collect.collect(proc_root=root, live=False, host=name, top=limits["top"],
                                     collected_at=collected_at, max_file_bytes=limits["max_file_bytes"],
                                     meminfo_text=meminfo_text, meminfo_source=free)
    snapshot["warnings"] = [w.replace(root + os.sep, "").replace(root, name) for w in snapshot["warnings"]]
    snapshot["source"] = "sosreport" if os.path.isdir(os.path.join(root, "sos_commands")) else "capture"
    if free is None:
        result["files"].append({"file": "proc/meminfo", "kind": "meminfo", "status": "used",
                                "reason": "read with the /proc tree (%s)" % snapshot["source"]})
    else:
        snapshot.setdefault("captured", {})["meminfo_partial"] = free
        snapshot["warnings"].append("meminfo: the report has no proc/meminfo: RAM, free, available, shared and swap "
                                    "taken from %s; the kernel's own figures (slab, page tables, ...) are unknown"
                                    % free)
    result["hostname"] = _first_line(root, "proc/sys/kernel/hostname") or _first_line(root, "etc/hostname")
    _sos_virt(root, snapshot, result, limits)
    _tree_caveats(root, snapshot)
    _sos_processes(root, snapshot, result, limits)
    _sos_deleted(root, snapshot, result, limits)
    _sos_tmpfs(root, snapshot, result, limits)
    _sos_sysctl(root, snapshot, result, limits)
    _sos_slabtop(root, snapshot, result, limits)
    _sos_oom(root, snapshot, result, limits)
    _sos_inventory(root, snapshot, result)
    snapshot["linux"].setdefault("sysctl", None)  # not captured: unknown, never a default policy
    snapshot["linux"].setdefault("oom_kills", None)
    snapshot["warnings"].extend(notes)
    _tree_captured(root, snapshot, result)
    return snapshot


_TREE_ARTIFACTS = (
    ("meminfo", ("proc/meminfo",)),
    ("vmstat", ("proc/vmstat",)),
    ("slabinfo", ("proc/slabinfo",)),
    ("modules", ("proc/modules", "sos_commands/kernel/lsmod")),
    ("tmpfs", ("proc/mounts",)),
    ("vmallocinfo", ("proc/vmallocinfo",)),
    ("allocinfo", ("proc/allocinfo",)),
    ("kmemleak", ("sys/kernel/debug/kmemleak",)),
    ("page_owner", ("sys/kernel/debug/page_owner",)),
    ("platform", ("sos_commands/hardware/dmidecode", "sys/class/dmi/id/sys_vendor")),
)


def _tree_captured(root, snapshot, result):
    """``captured``: each artifact the tree holds, by the first file that gives it (docs/data-contracts.md)."""
    captured = {}
    for artifact, rels in _TREE_ARTIFACTS:
        found = next((rel for rel in rels if os.path.isfile(os.path.join(root, rel))), None)
        if found:
            captured[artifact] = found
    used = dict((f["kind"], f["file"]) for f in result["files"] if f["status"] == "used")
    if snapshot["linux"].get("processes"):
        captured["processes"] = used.get("ps") or "proc/PID/status"
    elif "ps" not in used and not any(n.isdigit() for n in _listdir(os.path.join(root, "proc"))):
        snapshot["linux"]["processes"] = None
    if "vmware-toolbox-cmd stat balloon" in used:
        captured["balloon"] = used["vmware-toolbox-cmd stat balloon"]
    if "df" in used:
        captured["tmpfs"] = used["df"]
    snapshot["linux"].setdefault("oom_kills", None)
    captured.update(snapshot.get("captured") or {})  # what the readers above recorded (free, slabtop, oom, sysctl)
    snapshot["captured"] = captured


def _listdir(path):
    try:
        return os.listdir(path)
    except (IOError, OSError):
        return []


def _tree_caveats(root, snapshot):
    """Correct what linux_collect concludes from files a sosreport never copies."""
    if snapshot["source"] == "sosreport":
        snapshot["warnings"] = [
            "processes: the report keeps proc/PID/status only (no smaps_rollup): ranked by RSS"
            if w.startswith("processes: no smaps_rollup (kernel older than 4.14)") else w
            for w in snapshot["warnings"]]
    balloon = snapshot["virt"].get("balloon")
    has_modules = os.path.isfile(os.path.join(root, "proc", "modules")) or \
        os.path.isfile(os.path.join(root, "sos_commands", "kernel", "lsmod"))
    if balloon and not balloon.get("loaded") and not has_modules:
        snapshot["virt"]["balloon"] = None
        snapshot["warnings"].append("balloon: the capture has no module list (proc/modules or lsmod): "
                                    "whether %s is loaded is unknown" % balloon.get("driver"))


_TOOLS_VERSION = re.compile(r"^\s*(\d+(?:\.\d+){2,})\s+\(build-\d+\)\s*$")
_BALLOON_MB = re.compile(r"^\s*(\d+)\s*(MB|MHz)\s*$")


def _sos_virt(root, snapshot, result, limits):
    virt = snapshot["virt"]
    for rel in _sos_files(root, "sos_commands/vmware"):
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        if _TOOLS_VERSION.match(text):
            virt["tools"] = {"name": "VMware Tools", "version": lp.parse_toolbox_version(text, source=rel)}
            result["files"].append({"file": rel, "kind": "vmware-toolbox-cmd -v", "status": "used",
                                    "reason": "VMware Tools version"})
            if virt["platform"] == "unknown":
                virt["platform"] = "vmware"
                snapshot["warnings"].append("virt: platform taken as VMware: VMware Tools answered in %s" % rel)
        elif _BALLOON_MB.match(text) and virt.get("balloon") and virt["balloon"].get("bytes") is None:
            virt["balloon"]["bytes"] = lp.parse_toolbox_balloon(text, source=rel)
            result["files"].append({"file": rel, "kind": "vmware-toolbox-cmd stat balloon", "status": "used",
                                    "reason": "balloon size"})
    if virt["platform"] == "unknown":
        text = _sos_text(root, "sos_commands/hardware/dmidecode", limits)
        if text:
            block = re.search(r"System Information\s*\n((?:[ \t]+.*\n?)+)", text)
            if block:
                vendor = re.search(r"Manufacturer:\s*(.+)", block.group(1))
                product = re.search(r"Product Name:\s*(.+)", block.group(1))
                platform = linux_collect.detect_platform(sys_vendor=vendor.group(1).strip() if vendor else None,
                                                         product_name=product.group(1).strip() if product else None)
                if platform not in ("unknown", "none"):
                    virt["platform"] = platform
                    result["files"].append({"file": "sos_commands/hardware/dmidecode", "kind": "dmidecode",
                                            "status": "used", "reason": "virtualisation platform"})


def _find_output(root, folder, prefix, parser, limits, result, what, snapshot=None):
    """The first output in ``folder`` named ``prefix...`` that ``parser`` reads; skipped rows go to the warnings."""
    for rel in _sos_files(root, folder):
        if not os.path.basename(rel).startswith(prefix):
            continue
        rows = _parse_output(root, rel, parser, limits, result, what, snapshot)
        if rows is not None:
            return rows
    return None


def _parse_output(root, rel, parser, limits, result, what, snapshot, **options):
    """One command output -> ``parser``'s rows, listed in ``result['files']``; None when unusable."""
    text = _text_or_listed(root, rel, limits, result, what)
    if text is None:
        return None
    skipped = []
    try:
        rows = parser(text, source=rel, warnings=skipped, **options)
    except ParseError as exc:
        if any(t in str(exc) for t in _NOT_THIS_LISTING):
            result["files"].append({"file": rel, "kind": what, "status": "skipped",
                                    "reason": "present, not read: %s" % exc})
        else:
            result["files"].append({"file": rel, "kind": what, "status": "error", "reason": str(exc)})
        return None
    reason = _GIVES.get(what, what)
    if skipped:
        reason += " (%d line(s) skipped, see the warnings)" % len(skipped)
    result["files"].append({"file": rel, "kind": what, "status": "used", "reason": reason})
    if snapshot is not None:
        snapshot["warnings"].extend(skipped[:_SKIPPED_SHOWN])
        if len(skipped) > _SKIPPED_SHOWN:
            snapshot["warnings"].append("%s: %d more line(s) skipped like the above" % (rel, len(skipped) - _SKIPPED_SHOWN))
    return rows


_SKIPPED_SHOWN = 3  # lines named one by one per file; an lsof full of "WARNING: can't stat()" lines stays readable


# What each command output gives, as the report's file list says it.
_GIVES = {"ps": "processes by RSS", "lsof": "files deleted but still open", "df": "tmpfs usage",
          "sysctl": "memory settings"}

# ParseError texts of outputs that are well formed but carry nothing the analysis reads (ps -ef, df -i).
_NOT_THIS_LISTING = ("no RSS column", "counts inodes")


def _ps_rank(rel):
    """Sort key of a ps output by how well it names processes: full arguments first, wide before narrow.

    ``ps c`` prints the kernel's 15-character command name only (``redhat-access-i``), so it comes last;
    forest output (``f``) prefixes commands with tree art, so it comes after the flat listings.
    """
    options = os.path.basename(rel)[len("ps_"):].split("_")[0]
    bsd = not options.startswith("-")
    short = bsd and "c" in options
    forest = bsd and "f" in options
    return (short, forest, -min(options.count("w"), 2), rel)


def _ps_not_chosen(root, rel, chosen, limits):
    """Why a ps output was not used: it has no RSS column, or a better one was read."""
    text = _sos_text(root, rel, limits)
    try:
        sp.parse_ps(text or "", source=rel, warnings=None)
    except ParseError as exc:
        if "no RSS column" in str(exc):
            return "present, not read: %s" % exc
    return "present, not read: %s names the processes better" % chosen


def _sos_processes(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["processes"]:
        return
    candidates = sorted((rel for rel in _sos_files(root, "sos_commands/process")
                         if os.path.basename(rel).startswith("ps_")), key=_ps_rank)
    rows = None
    chosen = None
    for rel in candidates:
        if chosen is not None:
            result["files"].append({"file": rel, "kind": "ps", "status": "skipped",
                                    "reason": _ps_not_chosen(root, rel, chosen, limits)})
            continue
        rows = _parse_output(root, rel, sp.parse_ps, limits, result, "ps", snapshot, short_names=_ps_rank(rel)[0])
        if rows:
            chosen = rel
    if not chosen:
        return
    rows.sort(key=lambda r: r["rss"], reverse=True)
    linux["processes"] = [{"pid": r["pid"], "name": r["name"], "rss": r["rss"], "pss": None, "anon": None,
                           "swap": None} for r in rows[:limits["top"]]]
    snapshot.setdefault("captured", {})["processes"] = chosen
    snapshot["warnings"].append("processes: no proc/PID/status in the report: taken from %s (RSS only)" % chosen)
    if _ps_rank(chosen)[0]:
        snapshot["warnings"].append("processes: %s is 'ps c' output: names are the kernel's 15-character "
                                    "command names" % chosen)


def _sos_deleted(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["deleted_open"]:
        return
    rows = _find_output(root, "sos_commands/process", "lsof", sp.parse_lsof, limits, result, "lsof", snapshot)
    if not rows:
        return
    mounts_text = _sos_text(root, "proc/mounts", limits)
    try:
        mounts = lp.parse_mounts(mounts_text, source="proc/mounts") if mounts_text else []
    except ParseError:
        mounts = []
    memory = [m for m in mounts if m["fstype"] in lp.MEMORY_FSTYPES]
    names = dict((p["pid"], p["name"]) for p in linux["processes"] or [])
    found = {}
    for row in rows:
        if not row["deleted"] or not row["path"].startswith("/"):
            continue
        if not row["path"].startswith("/memfd:") and lp.mount_of(row["path"], memory) is None:
            continue
        key = (row["pid"], row["path"])
        size = row["size"]
        if key not in found or (size or 0) > (found[key]["bytes"] or 0):
            found[key] = {"pid": row["pid"], "name": names.get(row["pid"]) or _status_name(root, row["pid"])
                          or row["command"], "path": row["path"], "bytes": size}
    linux["deleted_open"] = sorted(found.values(), key=lambda d: (d["bytes"] or 0, d["pid"]),
                                   reverse=True)[:limits["top"]]


def _first_line(root, rel):
    try:
        lines = linux_collect.read_under(root, rel, 4096, head=True).decode("utf-8", "replace").strip().splitlines()
    except (IOError, OSError):
        return None
    return lines[0].strip() if lines else None


def _status_name(root, pid):
    try:
        head = linux_collect.read_under(root, "proc/%s/status" % pid, 256, head=True).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    match = re.match(r"Name:\s*(.*)", head)
    return match.group(1).strip() if match else None


def _sos_tmpfs(root, snapshot, result, limits):
    linux = snapshot["linux"]
    unknown = [m for m in linux["tmpfs"] if m.get("used") is None]
    if not unknown:
        if not linux["tmpfs"] and not os.path.isfile(os.path.join(root, "proc", "mounts")):
            _df_tmpfs(root, snapshot, result, limits)
        return
    rows = _find_output(root, "sos_commands/filesys", "df_", sp.parse_df, limits, result, "df", snapshot)
    if not rows:
        return
    by_mount = dict((r["mount"], r) for r in rows)
    filled = 0
    for entry in unknown:
        row = by_mount.get(entry["mount"])
        if row is not None:
            entry["used"] = row["used"]
            entry["size"] = row["size"]
            filled += 1
    if filled == len(unknown):
        snapshot["warnings"] = [w for w in snapshot["warnings"] if not w.startswith("tmpfs: a captured tree")]
    linux["tmpfs"].sort(key=lambda m: (m["used"] is not None, m["used"] or 0), reverse=True)


# df names the source of a mount, not its type (sos runs df without -T): the names tmpfs mounts carry
_DF_MEMORY_SOURCES = ("tmpfs", "devtmpfs", "ramfs", "shm", "shmfs")


def _df_tmpfs(root, snapshot, result, limits):
    """No proc/mounts in the report: the memory-backed mounts and their usage from df, by their source name."""
    rows = _find_output(root, "sos_commands/filesys", "df_", sp.parse_df, limits, result, "df", snapshot)
    if not rows:
        return
    found = [{"mount": r["mount"], "used": r["used"], "size": r["size"]} for r in rows
             if r["filesystem"] in _DF_MEMORY_SOURCES]
    found.sort(key=lambda m: m["used"], reverse=True)
    snapshot["linux"]["tmpfs"] = found
    snapshot["warnings"] = [w for w in snapshot["warnings"] if not w.startswith("tmpfs: ")]
    snapshot["warnings"].append("tmpfs: the report has no proc/mounts: memory-backed mounts taken from df by their "
                                "source name (%s)" % ", ".join(_DF_MEMORY_SOURCES))


def _sos_sysctl(root, snapshot, result, limits):
    """``sysctl -a`` -> ``linux.sysctl``: huge pages set aside, the overcommit policy, the free-memory reserve."""
    rel = "sos_commands/kernel/sysctl_-a"
    settings = _parse_output(root, rel, sp.parse_sysctl, limits, result, "sysctl", snapshot)
    if settings is None:
        return
    snapshot["linux"]["sysctl"] = sp.sysctl_memory(settings)
    snapshot.setdefault("captured", {})["sysctl"] = rel
    found = [k for k in sp.SYSCTL_MEMORY_KEYS if snapshot["linux"]["sysctl"][k] is not None]
    result["files"][-1]["reason"] = "memory settings: %s" % (", ".join(found) or "none of them in the output")


# Memory-relevant files a sosreport may hold (sos/report/plugins/{memory,process,kernel,filesys,logs,vmware}.py),
# by folder: (file name pattern, kind, what reading it gives or why it is not read). Files read by linux_collect
# with the /proc tree are "used"; any other file found here and not already listed is "skipped" (present, not
# read), so that the report says what the capture held. docs/offline-analysis.md has the same table for users.
_TREE = "read with the /proc tree"
_SOS_INVENTORY = (
    ("proc", (
        (r"vmstat", "vmstat", "used", _TREE),
        (r"slabinfo", "slabinfo", "used", _TREE),
        (r"swaps", "swaps", "used", _TREE),
        (r"modules", "modules", "used", _TREE),
        (r"mounts", "mounts", "used", _TREE),
        (r"cpuinfo", "cpuinfo", "used", _TREE + ": the hypervisor CPU flag"),
        (r"vmmemctl", "balloon", "used", _TREE + ": VMware balloon size"),
        (r"buddyinfo", "buddyinfo", "skipped", "present, not read: free pages per order tell fragmentation, not "
                                               "where memory went"),
        (r"zoneinfo", "zoneinfo", "skipped", "present, not read: per-zone watermarks, not where memory went"),
        (r"pagetypeinfo", "pagetypeinfo", "skipped", "present, not read: free pages by migrate type (fragmentation)"),
        (r"vmallocinfo|allocinfo", "kernel allocations", "skipped", "present, not read (see the warnings)"),
    )),
    ("proc/sys/fs", (
        (r"dentry-state", "dentry_state", "used", _TREE + ": unused dentries (reclaimable cache)"),
    )),
    ("sys/kernel/debug", (
        (r"vmmemctl|hv-balloon", "balloon", "used", _TREE + ": balloon size"),
        (r"kmemleak|page_owner", "kernel allocations", "skipped", "present, not read (see the warnings)"),
    )),
    ("sos_commands/memory", (
        (r"free(_.*)?", "free", "skipped", "present, not read: proc/meminfo or another free output was read"),
        (r"slabtop.*", "slabtop", "skipped", "present, not read: proc/slabinfo gives the caches in full"),
        (r"swapon.*", "swapon", "skipped", "present, not read: proc/swaps is read"),
        (r"lsmem.*", "lsmem", "skipped", "present, not read: memory block layout, not where memory went"),
        (r".+", "memory", "skipped", "present, not read: an output of sos's memory plugin this analysis does not "
                                     "know"),
    )),
    ("sos_commands/kernel", (
        (r"lsmod", "lsmod", "used", _TREE),
        (r"dmesg.*", "dmesg", "skipped", "present, not read"),
        (r"sysctl_-a", "sysctl", "skipped", "present, not read"),
    )),
    ("sos_commands/logs", (
        (r"journalctl_.*", "journal", "skipped", "present, not read"),
    )),
    ("var/log", (
        (r"messages|kern\.log|syslog|dmesg", "syslog", "skipped", "present, not read"),
        (r"(messages|kern\.log|syslog|dmesg)([-.]\d+.*)", "syslog", "skipped",
         "present, not read: a rotated log (the current logs are searched for OOM-killer reports)"),
    )),
    ("sos_commands/process", (
        (r"ps_.*", "ps", "skipped", "present, not read: proc/PID/status was read instead"),
        (r"lsof.*", "lsof", "skipped", "present, not read"),
        (r"pidstat.*", "pidstat", "skipped", "present, not read: per-process rates, not sizes"),
    )),
    ("sos_commands/filesys", (
        (r"df_.*", "df", "skipped", "present, not read: no tmpfs usage was missing, or another df output gave it"),
    )),
    ("sos_commands/vmware", (
        (r"vmware-toolbox-cmd.*", "vmware-toolbox-cmd", "skipped", "present, not read: no memory figure in it"),
    )),
    ("sos_commands/hardware", (
        (r"dmidecode", "dmidecode", "skipped", "present, not read: the tree names the platform, or dmidecode names "
                                               "none"),
    )),
    ("sys/kernel/mm/transparent_hugepage", (
        (r".+", "transparent_hugepage", "skipped", "present, not read: the THP policy (AnonHugePages in proc/meminfo "
                                                   "gives the size)"),
    )),
    ("sys/kernel/mm/ksm", (
        (r".+", "ksm", "skipped", "present, not read: page merging statistics"),
    )),
)


def _sos_inventory(root, snapshot, result):
    """List every memory-relevant file of the report that nothing above listed: read with the tree, or not read.

    A file that ``captured`` names (read by linux_collect for an artifact) is listed as read, whatever the table says.
    """
    listed = set(item["file"] for item in result["files"])
    read = dict((where.lstrip("/"), artifact) for artifact, where in (snapshot.get("captured") or {}).items()
                if isinstance(where, str))
    for folder, patterns in _SOS_INVENTORY:
        for rel in _sos_files(root, folder):
            if rel in listed or os.path.islink(os.path.join(root, rel)):
                continue
            base = os.path.basename(rel)
            for pattern, kind, status, reason in patterns:
                if re.match("^(?:%s)$" % pattern, base):
                    if rel in read and status != "used":
                        status, reason = "used", "%s: %s" % (_TREE, read[rel])
                    result["files"].append({"file": rel, "kind": kind, "status": status, "reason": reason})
                    break
    _sos_per_process(root, result)
    _sos_hugepages(root, result)


def _sos_per_process(root, result):
    """proc/PID/* files, one entry per file name (a report holds them for hundreds of processes)."""
    counts = {}
    try:
        pids = [n for n in os.listdir(os.path.join(root, "proc")) if n.isdigit()]
    except (IOError, OSError):
        return
    for pid in pids:
        for name in _sos_files(root, os.path.join("proc", pid)):
            base = os.path.basename(name)
            counts[base] = counts.get(base, 0) + 1
    for base, count in sorted(counts.items()):
        if base in ("status", "smaps_rollup"):
            status, reason = "used", "%s of %d process(es)" % (_TREE, count)
        else:
            status, reason = "skipped", "present, not read: in %d process folder(s)" % count
        result["files"].append({"file": "proc/[0-9]*/%s" % base, "kind": base, "status": status, "reason": reason})


def _sos_hugepages(root, result):
    """sys/kernel/mm/hugepages/hugepages-SIZE/*: one entry (proc/meminfo gives the default size's pages)."""
    found = []
    for size in sorted(d for d in _sos_dirs(root, "sys/kernel/mm/hugepages")):
        found.extend(_sos_files(root, size))
    if found:
        result["files"].append({"file": "sys/kernel/mm/hugepages/*", "kind": "hugepages", "status": "skipped",
                                "reason": "present, not read: %d files; proc/meminfo's HugePages_* lines give the "
                                          "default page size's pool" % len(found)})


def _sos_dirs(root, folder):
    full = os.path.join(root, folder)
    try:
        return [os.path.join(folder, n) for n in os.listdir(full)
                if os.path.isdir(os.path.join(full, n)) and not os.path.islink(os.path.join(full, n))]
    except (IOError, OSError):
        return []


# free output by preference: plain free prints KiB; -m and -h round.
_FREE_NAMES = ("free", "free_-b", "free_-k", "free_-m", "free_-h", "free_-g")


def _free_meminfo(root, result, limits):
    """(meminfo text, free file) when the report lacks proc/meminfo but holds free output, else (None, None).

    The text holds the meminfo lines free gives (MemTotal, MemFree, MemAvailable, Shmem, Buffers and Cached
    when free shows them apart, SwapTotal, SwapFree); the rest of the report is read as it is.
    """
    for base in _FREE_NAMES:
        rel = "sos_commands/memory/" + base
        text = _text_or_listed(root, rel, limits, result, "free")
        if text is None:
            continue
        command = base.replace("_", " ")  # sos names the file after the command: the unit comes from it
        try:
            free = tp.parse_free("%s\n%s" % (command, text), source=rel)
        except ParseError as exc:
            result["files"].append({"file": rel, "kind": "free", "status": "error", "reason": str(exc)})
            continue
        lines = []
        for key, value in (("MemTotal", free["total"]), ("MemFree", free["free"]), ("MemAvailable", free["available"]),
                           ("Buffers", free.get("buffers")), ("Cached", free.get("cached")), ("Shmem", free["shared"]),
                           ("SwapTotal", free["swap_total"]), ("SwapFree", free["swap_free"])):
            if value is not None:
                lines.append("%s: %d kB" % (key, value // 1024))
        result["files"].append({"file": rel, "kind": "free", "status": "used",
                                "reason": "memory totals (no proc/meminfo): %s" % ", ".join(line.split(":")[0] for line in lines)})
        return "\n".join(lines) + "\n", rel
    return None, None


def _sos_slabtop(root, snapshot, result, limits):
    """``slabtop -o`` when the report has no proc/slabinfo: the biggest caches, in slabtop's rounding."""
    linux = snapshot["linux"]
    if linux.get("slab") is not None:
        return
    for rel in _sos_files(root, "sos_commands/memory"):
        if not os.path.basename(rel).startswith("slabtop"):
            continue
        text = _text_or_listed(root, rel, limits, result, "slabtop")
        if text is None:
            continue
        try:
            rows = tp.parse_slabtop(text, source=rel)
        except ParseError as exc:
            result["files"].append({"file": rel, "kind": "slabtop", "status": "error", "reason": str(exc)})
            continue
        rows.sort(key=lambda r: r["bytes"], reverse=True)
        linux["slab"] = rows[:limits["top"]]
        snapshot.setdefault("captured", {})["slabtop"] = rel
        snapshot["warnings"] = [w for w in snapshot["warnings"] if not w.startswith("slabinfo: ")]
        snapshot["warnings"].append("slab: the report has no proc/slabinfo: caches taken from %s (object sizes "
                                    "rounded as slabtop prints them)" % rel)
        result["files"].append({"file": rel, "kind": "slabtop", "status": "used",
                                "reason": "slab caches (no proc/slabinfo): %d cache(s)" % len(rows)})
        return


# Where a sosreport keeps kernel messages, most complete first. The same OOM report is usually in several.
_KERNEL_LOGS = (("sos_commands/kernel", r"dmesg(_.*)?"), ("sos_commands/logs", r"journalctl_.*"),
                ("var/log", r"(messages|kern\.log|syslog)"), ("var/log", r"dmesg"))
_OOM_TASKS_KEPT = 15


def _merge_kill(kills, report):
    """One entry per kill: the same report in dmesg, the journal and syslog (the journal's copy may be cut short
    by rate limiting) keeps the longest task table and the first time found."""
    killed = report.get("killed")
    tasks = report.get("tasks") or []
    if killed:
        key = (killed["pid"], killed["name"])
    else:
        key = ("no kill line", report.get("time"), tuple(t["pid"] for t in tasks[:3]))
    known = kills.get(key)
    if known is None:
        kills[key] = {"time": report.get("time"), "killed": killed, "tasks": list(tasks)}
        return
    if known["time"] is None:
        known["time"] = report.get("time")
    if len(tasks) > len(known["tasks"]):
        known["tasks"] = list(tasks)


def _sos_oom(root, snapshot, result, limits):
    """Kernel OOM-killer reports from dmesg, the journal and syslog -> ``linux.oom_kills`` (one entry per kill)."""
    read = []
    kills = {}
    for folder, pattern in _KERNEL_LOGS:
        for rel in _sos_files(root, folder):
            if not re.match("^(?:%s)$" % pattern, os.path.basename(rel)):
                continue
            text = _text_or_listed(root, rel, limits, result, "kernel log")
            if text is None:
                continue
            try:
                reports = tp.parse_oom_reports(text, source=rel)
            except ParseError as exc:
                if "no OOM-killer report" in str(exc):
                    read.append(rel)
                    result["files"].append({"file": rel, "kind": "kernel log", "status": "used",
                                            "reason": "searched for OOM-killer reports: none"})
                else:
                    result["files"].append({"file": rel, "kind": "kernel log", "status": "error", "reason": str(exc)})
                continue
            read.append(rel)
            result["files"].append({"file": rel, "kind": "kernel log", "status": "used",
                                    "reason": "%d OOM-killer report(s)" % len(reports)})
            for report in reports:
                _merge_kill(kills, report)
    if not read:
        return
    out = []
    for report in kills.values():
        tasks = sorted(report.get("tasks") or [], key=lambda t: t["rss"] or 0, reverse=True)
        out.append({"time": report.get("time"), "killed": report.get("killed"), "tasks": tasks[:_OOM_TASKS_KEPT]})
    out.sort(key=lambda r: r["time"] or "")
    snapshot["linux"]["oom_kills"] = out
    snapshot.setdefault("captured", {})["oom"] = read[0]
    if out:
        snapshot["warnings"].append("oom: %d OOM-killer kill(s) in the kernel log (%s); task tables keep the %d "
                                    "biggest tasks" % (len(out), ", ".join(read), _OOM_TASKS_KEPT))
