# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux captures: a sosreport or /proc tree, or loose /proc files, through the same
``linux_collect`` the live module uses, completed from the report's command output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import sos_parsers as sp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import CaptureError, file_time, now, read_text


def _sos_text(root, rel, limits):
    full = os.path.join(root, rel)
    if not os.path.isfile(full):
        return None
    text, _reason = read_text(full, limits)
    return text


def _sos_files(root, folder):
    full = os.path.join(root, folder)
    try:
        return sorted(os.path.join(folder, n) for n in os.listdir(full) if os.path.isfile(os.path.join(full, n)))
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
    if not os.path.isfile(os.path.join(root, "proc", "meminfo")):
        raise CaptureError("%s has no proc/meminfo: the sosreport was taken without the memory plugin "
                           "or is incomplete" % name)
    snapshot = linux_collect.collect(proc_root=root, live=False, host=name, top=limits["top"],
                                     collected_at=collected_at)
    snapshot["warnings"] = [w.replace(root + os.sep, "").replace(root, name) for w in snapshot["warnings"]]
    snapshot["source"] = "sosreport" if os.path.isdir(os.path.join(root, "sos_commands")) else "capture"
    result["files"].append({"file": "proc/meminfo", "kind": "meminfo", "status": "used",
                            "reason": "read with the /proc tree (%s)" % snapshot["source"]})
    result["hostname"] = _first_line(root, "proc/sys/kernel/hostname") or _first_line(root, "etc/hostname")
    _sos_virt(root, snapshot, result, limits)
    _tree_caveats(root, snapshot)
    _sos_processes(root, snapshot, result, limits)
    _sos_deleted(root, snapshot, result, limits)
    _sos_tmpfs(root, snapshot, result, limits)
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


def _find_output(root, folder, prefix, parser, limits, result, what):
    for rel in _sos_files(root, folder):
        if not os.path.basename(rel).startswith(prefix):
            continue
        text = _sos_text(root, rel, limits)
        if text is None:
            continue
        try:
            rows = parser(text, source=rel)
        except ParseError as exc:
            result["files"].append({"file": rel, "kind": what, "status": "error", "reason": str(exc)})
            continue
        result["files"].append({"file": rel, "kind": what, "status": "used", "reason": what})
        return rows
    return None


def _sos_processes(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["processes"]:
        return
    rows = _find_output(root, "sos_commands/process", "ps_", sp.parse_ps, limits, result, "ps")
    if not rows:
        return
    rows.sort(key=lambda r: r["rss"], reverse=True)
    linux["processes"] = [{"pid": r["pid"], "name": r["name"], "rss": r["rss"], "pss": None, "anon": None,
                           "swap": None} for r in rows[:limits["top"]]]
    snapshot["warnings"].append("processes: no proc/PID/status in the report: taken from ps (RSS only)")


def _sos_deleted(root, snapshot, result, limits):
    linux = snapshot["linux"]
    if linux["deleted_open"]:
        return
    rows = _find_output(root, "sos_commands/process", "lsof", sp.parse_lsof, limits, result, "lsof")
    if not rows:
        return
    mounts_text = _sos_text(root, "proc/mounts", limits)
    try:
        mounts = lp.parse_mounts(mounts_text, source="proc/mounts") if mounts_text else []
    except ParseError:
        mounts = []
    memory = [m for m in mounts if m["fstype"] in lp.MEMORY_FSTYPES]
    names = dict((p["pid"], p["name"]) for p in linux["processes"])
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
        with open(os.path.join(root, rel), "rb") as handle:
            lines = handle.read(4096).decode("utf-8", "replace").strip().splitlines()
    except (IOError, OSError):
        return None
    return lines[0].strip() if lines else None


def _status_name(root, pid):
    try:
        with open(os.path.join(root, "proc", str(pid), "status"), "rb") as handle:
            head = handle.read(256).decode("utf-8", "replace")
    except (IOError, OSError):
        return None
    match = re.match(r"Name:\s*(.*)", head)
    return match.group(1).strip() if match else None


def _sos_tmpfs(root, snapshot, result, limits):
    linux = snapshot["linux"]
    unknown = [m for m in linux["tmpfs"] if m.get("used") is None]
    if not unknown:
        return
    rows = _find_output(root, "sos_commands/filesys", "df_", sp.parse_df, limits, result, "df")
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
