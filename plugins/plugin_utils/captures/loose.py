# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loose Linux files -> one snapshot, from whatever subset of them was captured.

A full ``/proc/meminfo`` goes through ``linux_collect`` (with ``slabinfo`` and
``vmstat`` beside it), as on a live host. Without it, the snapshot is built
from what the pasted tools show: ``free`` and meminfo lines give the memory
totals, ``slabtop`` the slab table, ``ps`` / ``top`` / ``/proc/PID/status`` the
processes, the OOM-killer report ``linux.oom_kills``. ``captured`` names each
artifact read and the file it came from; what is not there stays unknown
(None), never zero or absent (docs/data-contracts.md).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import KIND_TEXT, CaptureError, now

# A meminfo excerpt holding this many lines with MemTotal is the whole file pasted under a prompt.
_FULL_MEMINFO_LINES = 20
_SINGLE = ("meminfo", "slabinfo", "vmstat")
# Kernel call-site sources (docs/kernel-attribution.md), read by linux_collect from these paths.
_KERNEL_PATHS = (("allocinfo", "proc/allocinfo"), ("vmallocinfo", "proc/vmallocinfo"), ("modules", "proc/modules"),
                 ("kmemleak", "sys/kernel/debug/kmemleak"), ("page_owner", "sys/kernel/debug/page_owner"))


def loose_linux(name, parts, result, limits):
    """``parts`` ({kind, file, data, time, how, text}) of one host -> a snapshot with ``captured``."""
    by_kind = {}
    for part in parts:
        by_kind.setdefault(part["kind"], []).append(part)
    for kind in _SINGLE:
        if len(by_kind.get(kind, [])) > 1:
            found = by_kind[kind]
            raise CaptureError("two %s files (%s, %s): one capture holds one host at one time"
                               % (KIND_TEXT[kind], found[0]["file"], found[1]["file"]))
    for part in by_kind.get("meminfo_partial", []):
        if "MemTotal" in part["data"] and len(part["data"]) >= _FULL_MEMINFO_LINES and "meminfo" not in by_kind:
            by_kind["meminfo"] = [dict(part, kind="meminfo", promoted=True)]
            by_kind["meminfo_partial"].remove(part)
    if by_kind.get("meminfo"):
        snapshot = _from_proc_files(name, by_kind, limits)
    else:
        snapshot = _from_tools(name, by_kind)
    _add_tools(snapshot, by_kind, limits)
    return snapshot


def _from_proc_files(name, by_kind, limits):
    """A full meminfo (and slabinfo / vmstat beside it) through linux_collect, as live."""
    meminfo = by_kind["meminfo"][0]
    work = tempfile.mkdtemp(prefix="memleak-proc-")
    try:
        os.makedirs(os.path.join(work, "proc"))
        for kind in _SINGLE:
            for part in by_kind.get(kind, []):
                text = part["text"] if part.get("promoted") is None else _meminfo_text(part["data"])
                with open(os.path.join(work, "proc", kind), "w") as handle:
                    handle.write(text)
        for kind, rel in _KERNEL_PATHS:
            for part in by_kind.get(kind, [])[:1]:
                if not os.path.isdir(os.path.dirname(os.path.join(work, rel))):
                    os.makedirs(os.path.dirname(os.path.join(work, rel)))
                with open(os.path.join(work, rel), "w") as handle:
                    handle.write(part["text"])
        snapshot = linux_collect.collect(proc_root=work, live=False, host=name, top=limits["top"],
                                         collected_at=meminfo["time"] or now(),
                                         max_file_bytes=limits["max_file_bytes"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    snapshot["source"] = "capture"
    snapshot["warnings"] = [w.replace(work + os.sep, "").replace(work, "") for w in snapshot["warnings"]
                            if "holds no process directories" not in w]
    captured = {"meminfo": meminfo["file"]}
    for kind in ("slabinfo", "vmstat"):
        if by_kind.get(kind):
            captured[kind] = by_kind[kind][0]["file"]
    for kind, _rel in _KERNEL_PATHS:
        if by_kind.get(kind) and kind in (snapshot.get("captured") or {}):
            captured[kind] = by_kind[kind][0]["file"]
    if not by_kind.get("slabinfo"):
        snapshot["linux"]["slab"] = None
    snapshot["linux"]["processes"] = None
    snapshot["captured"] = captured
    balloon = snapshot["virt"].get("balloon")
    if balloon and not balloon.get("loaded") and not by_kind.get("modules"):
        snapshot["virt"]["balloon"] = None
        snapshot["warnings"].append("balloon: the capture has no module list (proc/modules or lsmod): "
                                    "whether %s is loaded is unknown" % balloon.get("driver"))
    if meminfo["how"]:
        snapshot["warnings"].append("time of %s taken from %s" % (meminfo["file"], meminfo["how"]))
    return snapshot


def _meminfo_text(fields):
    """meminfo lines found inside pasted text, written back as the file they came from."""
    return "".join("%s: %d\n" % (k, v) if k.startswith("HugePages_") else "%s: %d kB\n" % (k, v // 1024)
                   for k, v in fields.items())


def _from_tools(name, by_kind):
    """No full meminfo: an empty snapshot (every value unknown) filled by the tools' output."""
    parts = [p for found in by_kind.values() for p in found]
    times = sorted(p["time"] for p in parts if p["time"])
    snapshot = new_snapshot(name, times[-1] if times else now(), source="capture")
    snapshot["captured"] = {}
    linux = snapshot["linux"]
    linux["slab"] = None
    linux["processes"] = None
    meminfo = {}
    for part in by_kind.get("meminfo_partial", []):
        meminfo.update(part["data"])
        snapshot["captured"]["meminfo_partial"] = part["file"]
    if any(k.startswith("HugePages_") for k in meminfo):
        snapshot["captured"]["hugepages"] = by_kind["meminfo_partial"][0]["file"]
    free = by_kind.get("free", [])
    if free:
        latest = free[-1]
        data = latest["data"]
        linux["free"] = data
        snapshot["captured"]["free"] = latest["file"]
        for key, value in _free_meminfo(data).items():
            meminfo.setdefault(key, value)
        if data.get("unit_guessed"):
            snapshot["warnings"].append("%s: free printed no unit and no command line was pasted: read as %s "
                                        "from the size of the total" % (latest["file"], data["unit"]))
    linux["meminfo"] = meminfo
    memory = lp.memory_summary(meminfo) if "MemTotal" in meminfo else snapshot["memory"]
    if free and memory.get("used") is None:
        data = free[-1]["data"]
        memory["used"] = data["used_excl_cache"] if data["used_excl_cache"] is not None else data["used"]
    snapshot["memory"] = memory
    if memory["total"] is not None:
        snapshot["os"]["ram_bytes"] = memory["total"]
    if len(free) > 1:
        snapshot["samples"].extend(_memory_samples(free))
    snapshot["warnings"].append("partial capture: no full /proc/meminfo: only what the pasted output shows is "
                                "known (captured: %s)" % ", ".join(sorted(by_kind)))
    return snapshot


def _free_meminfo(data):
    """The meminfo lines that free's columns equal exactly (procps reads them from /proc/meminfo)."""
    out = {}
    pairs = [("MemTotal", "total"), ("MemFree", "free"), ("MemAvailable", "available"),
             ("SwapTotal", "swap_total"), ("SwapFree", "swap_free"), ("Buffers", "buffers")]
    if data.get("available") is not None:
        pairs.append(("Shmem", "shared"))  # the old layout's shared column is 0 or obsolete
    else:
        pairs.append(("Cached", "cached"))  # the new layout's -w cache adds SReclaimable
    for key, name in pairs:
        if data.get(name) is not None:
            out[key] = data[name]
    return out


def _memory_samples(free_parts):
    samples = []
    for part in free_parts:
        if not part["time"]:
            continue
        data = part["data"]
        mini = {"collected_at": part["time"], "boot_id": None,
                "memory": {"available": data["available"], "free": data["free"],
                           "used": data["used_excl_cache"] if data["used_excl_cache"] is not None else data["used"]}}
        samples.append(series.compact_sample(mini))
    return samples


def _add_tools(snapshot, by_kind, limits):
    """What the tools add next to meminfo: slab table, processes, OOM reports; growth between listings."""
    linux = snapshot["linux"]
    captured = snapshot["captured"]
    if by_kind.get("free"):
        captured.setdefault("free", by_kind["free"][-1]["file"])
    # slabinfo / vmstat without a full meminfo (a copied proc/ folder without meminfo): still read
    if by_kind.get("slabinfo") and linux.get("slab") is None:
        rows = sorted(by_kind["slabinfo"][0]["data"], key=lambda c: c["bytes"], reverse=True)
        linux["slab"] = rows[:limits["top"]]
        captured["slabinfo"] = by_kind["slabinfo"][0]["file"]
    if by_kind.get("vmstat") and not linux.get("vmstat"):
        linux["vmstat"] = by_kind["vmstat"][0]["data"]
        captured["vmstat"] = by_kind["vmstat"][0]["file"]
    slabtop = by_kind.get("slabtop", [])
    if slabtop and linux.get("slab") is None:
        rows = sorted(slabtop[-1]["data"], key=lambda c: c["bytes"], reverse=True)
        linux["slab"] = rows[:limits["top"]]
        captured["slabtop"] = slabtop[-1]["file"]
    listings = sorted(by_kind.get("processes", []), key=lambda p: (p["time"] or "", p["file"]))
    statuses = by_kind.get("status", [])
    if listings or statuses:
        rows = []
        if listings:
            latest = listings[-1]
            rows = [dict(p) for p in latest["data"]["processes"]]
            captured["processes"] = latest["file"]
            _fill_memory(snapshot, latest["data"]["memory"])
        for part in statuses:
            data = part["data"]
            if data["rss"] is None or any(r["pid"] == data["pid"] for r in rows):
                continue
            rows.append({"pid": data["pid"], "name": data["name"], "rss": data["rss"], "anon": data["anon"],
                         "swap": data["swap"]})
            captured.setdefault("processes", part["file"])
        rows.sort(key=lambda r: r["rss"], reverse=True)
        linux["processes"] = [{"pid": r["pid"], "name": r["name"], "rss": r["rss"], "pss": None,
                               "anon": r.get("anon"), "swap": r.get("swap"), "shared": r.get("shared")}
                              for r in rows[:limits["top"]]]
        if len(listings) > 1:
            snapshot["samples"].extend(_process_samples(listings, limits))
    oom = by_kind.get("oom", [])
    if oom:
        reports = []
        for part in oom:
            reports.extend(part["data"])
        linux["oom_kills"] = reports
        captured["oom"] = oom[0]["file"]
    elif "oom_kills" not in linux:
        linux["oom_kills"] = None
    snapshot["samples"].sort(key=lambda s: s["t"] or "")


def _fill_memory(snapshot, memory):
    """top's summary lines give the totals when nothing else did."""
    block = snapshot["memory"]
    for key in ("total", "free", "available"):
        if block.get(key) is None and memory.get(key) is not None:
            block[key] = memory[key]
    if block["used"] is None and block["total"] is not None and block["available"] is not None:
        block["used"] = block["total"] - block["available"]
    if snapshot["os"].get("ram_bytes") is None:
        snapshot["os"]["ram_bytes"] = block["total"]


def _process_samples(listings, limits):
    """One compact sample per timed listing: the same process (name and pid) across listings is one series."""
    keep = set()
    for part in listings:
        for row in sorted(part["data"]["processes"], key=lambda r: -r["rss"])[:limits["top"]]:
            keep.add((row["name"], row["pid"]))
    samples = []
    for part in listings:
        if not part["time"]:
            continue
        rows = [{"pid": r["pid"], "name": r["name"], "rss": r["rss"], "pss": None}
                for r in part["data"]["processes"] if (r["name"], r["pid"]) in keep]
        mini = {"collected_at": part["time"], "boot_id": None, "memory": {}, "linux": {"processes": rows}}
        samples.append(series.compact_sample(mini, top=max(len(rows), 1)))
    return samples
