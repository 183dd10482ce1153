# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows captures: poolmon, WinDbg and counter output parsed elsewhere, assembled into one snapshot."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers as wp
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures.sniff import merge_limits, now


def windows_snapshot(name, parts, limits=None):
    """Snapshot (docs/architecture.md, Data contracts: the ``windows:`` part) from parsed Windows tool output.

    ``parts`` are ``{kind, file, data, time, how}`` in any order. The latest
    poolmon frame gives the tag table, ``!vm`` the pool sizes with their
    limits, physical memory and commit; poolmon's header, the counter CSV's
    last row, ``!poolused``'s TOTAL row and ``!memusage`` fill what is still
    unknown, in that order. Every timed poolmon frame and counter row becomes a
    compact sample (series.py), so two poolmon logs an hour apart give a
    two-point series.
    """
    limits = merge_limits(limits)
    parts = sorted(parts, key=lambda p: (p["time"] or "", p["file"]))
    warnings = []
    snap = new_snapshot(name, None, source=_windows_source(parts), family="windows")
    memory = snap["memory"]
    windows = snap["windows"]
    pools = {"nonpaged": {"bytes": None, "limit": None}, "paged": {"bytes": None, "resident": None, "limit": None}}
    windows["pools"] = pools
    windows["pool_alerts"] = None
    frames = []
    times = [p["time"] for p in parts if p["time"]]
    snap["collected_at"] = max(times) if times else now()
    for part in parts:
        if part["how"] == "its modification time" and part["kind"] in ("poolmon", "vm", "poolused", "memusage"):
            warnings.append("time of %s taken from its modification time" % part["file"])
        if part["kind"] == "poolmon":
            frames.extend(_poolmon_frames(part, warnings))
            if len(part["data"]["frames"]) > 1:
                windows["screen_changes"] = screen_changes(part["data"]["frames"][0], part["data"]["frames"][-1])

    vm = _latest(parts, "vm")
    if vm:
        data = vm["data"]
        _fill(memory, "total", data["physical"])
        _fill(memory, "available", data["available"])
        _fill(memory, "commit_used", data["commit_used"])
        _fill(memory, "commit_limit", data["commit_limit"])
        _fill(pools["nonpaged"], "bytes", data["nonpaged"])
        _fill(pools["nonpaged"], "limit", data["nonpaged_limit"])
        _fill(pools["paged"], "bytes", data["paged"])
        _fill(pools["paged"], "limit", data["paged_limit"])
        windows["pool_alerts"] = {"excessive": data["excessive"], "failed_allocations": data["failed_allocations"],
                                  "source": vm["file"]}
        if data["underflowed"]:
            warnings.append("%s: %s printed as underflowed 20-digit values: treated as unknown"
                            % (vm["file"], ", ".join(data["underflowed"])))
        if data["excessive"]:
            warnings.append("%s: the debugger flagged excessive %s pool usage"
                            % (vm["file"], " and ".join(data["excessive"])))
        if data["failed_allocations"]:
            warnings.append("%s: %d pool allocations had failed when the dump was taken"
                            % (vm["file"], data["failed_allocations"]))

    system = [f for f in frames if f["scope"] in (None, "system")]
    chosen = system or frames
    if frames and not system:
        warnings.append("poolmon shows session pools only (%s): their tags are reported as the host's"
                        % chosen[-1]["scope"])
    latest = chosen[-1] if chosen else None
    if latest is not None:
        header = latest["header"]
        _fill(memory, "total", header.get("memory"))
        _fill(memory, "available", header.get("available"))
        _fill(memory, "commit_used", header.get("commit"))
        _fill(memory, "commit_limit", header.get("commit_limit"))
        _fill(pools["nonpaged"], "bytes", header.get("pool_nonpaged"))
        _fill(pools["paged"], "bytes", header.get("pool_paged"))

    perf_rows = []
    for part in parts:
        if part["kind"] == "perfmon":
            if not part["data"]["timezone_known"]:
                warnings.append("%s: local times without a time zone: read as UTC" % part["file"])
            if part["data"].get("not_understood"):
                warnings.append("%s: %s" % (part["file"], wp.not_understood_message(part["data"]["not_understood"])))
            perf_rows.extend(part["data"]["rows"])
    perf_rows.sort(key=lambda r: r["time"])
    if perf_rows:
        last = perf_rows[-1]
        _fill(memory, "available", last["available"])
        _fill(memory, "commit_used", last["commit_used"])
        _fill(memory, "commit_limit", last["commit_limit"])
        _fill(pools["nonpaged"], "bytes", last["pool_nonpaged"])
        _fill(pools["paged"], "bytes", last["pool_paged"])
        _fill(pools["paged"], "resident", last["pool_paged_resident"])
        _fill(memory, "free", last["free"])

    poolused = _latest(parts, "poolused")
    if poolused:
        total = poolused["data"]["total"]
        if total:
            _fill(pools["nonpaged"], "bytes", total["nonpaged_bytes"])
            _fill(pools["paged"], "bytes", total["paged_bytes"])

    info = _latest(parts, "systeminfo")
    if info:
        data = info["data"]
        for key in ("name", "version", "build", "arch"):
            _fill(snap["os"], key, data[key])
        _fill(memory, "total", data["ram_bytes"])
        _fill(memory, "available", data["available_bytes"])
        _fill(memory, "commit_limit", data["commit_limit"])
        _fill(memory, "commit_used", data["commit_used"])

    events = [p for p in parts if p["kind"] == "event_2004"]
    windows["low_memory_events"] = None
    if events:
        windows["low_memory_events"] = [e for p in events for e in p["data"]]
        if not windows["processes"]:
            latest_event = windows["low_memory_events"][-1]
            windows["processes"] = [{"pid": x["pid"], "name": x["name"], "private_bytes": x["bytes"],
                                     "working_set": None} for x in latest_event["processes"]]

    memusage = _latest(parts, "memusage")
    if memusage:
        data = memusage["data"]
        _fill(memory, "total", data.get("total"))
        _fill(memory, "available", data.get("available"))
        if data.get("zeroed") is not None and data.get("free") is not None:
            _fill(memory, "free", data["zeroed"] + data["free"])

    if latest is not None:
        windows["tags"] = _rank_tags(latest["tags"])[:limits["top_tags"]]
        if poolused:
            warnings.append("%s not used for the tag table: poolmon's counts are newer" % poolused["file"])
    elif poolused:
        tags = []
        for row in poolused["data"]["tags"]:
            entry = {"tag": row["tag"], "protected": False, "description": row["description"]}
            for pool in ("paged", "nonpaged"):
                entry["%s_allocs" % pool] = row["%s_allocs" % pool]
                entry["%s_frees" % pool] = 0
                entry["%s_bytes" % pool] = row["%s_bytes" % pool]
            tags.append(entry)
        windows["tags"] = _rank_tags(tags)[:limits["top_tags"]]
        warnings.append("%s: !poolused counts outstanding allocations; they are given as allocs with frees 0"
                        % poolused["file"])

    if memory["total"] is not None:
        snap["os"]["ram_bytes"] = memory["total"]
        if memory["available"] is not None:
            memory["used"] = max(memory["total"] - memory["available"], 0)
    if pools["nonpaged"]["limit"] is None or pools["paged"]["limit"] is None:
        warnings.append("pool limits unknown: the capture has no '!vm' with 'NonPagedPool Max' / 'PagedPool "
                        "Maximum' and no Windows version to compute them from")
    snap["samples"] = _windows_samples(chosen, perf_rows, limits)
    snap["warnings"] = warnings
    snap["captured"] = _captured(parts)
    return snap


def _captured(parts):
    """``captured``: artifact -> the (latest) file it was read from."""
    out = {}
    for part in parts:
        out[part["kind"]] = part["file"]
    return out


def _windows_source(parts):
    kinds = set(p["kind"] for p in parts)
    if kinds & {"vm", "poolused", "memusage"}:
        return "windbg"
    if "poolmon" in kinds:
        return "poolmon"
    if "perfmon" in kinds:
        return "perfmon"
    return "capture"


def _latest(parts, kind):
    found = [p for p in parts if p["kind"] == kind]
    return found[-1] if found else None


def _fill(block, key, value):
    if block.get(key) is None and value is not None:
        block[key] = value


def _poolmon_frames(part, warnings):
    frames = part["data"]["frames"]
    if len(frames) > 1:
        warnings.append("%s holds %d poolmon screens without times: the last one is used%s"
                        % (part["file"], len(frames), _screen_changes(frames[0], frames[-1])))
    frame = dict(frames[-1])
    frame["time"] = part["time"]
    frame["file"] = part["file"]
    return [frame]


def screen_changes(first, last):
    """[{tag, pool, allocations, bytes}] of the tags whose outstanding allocations and bytes both grew
    between two screens of one file (times unknown), largest growth first."""
    before = dict((t["tag"], t) for t in first["tags"])
    grew = []
    for tag in last["tags"]:
        old = before.get(tag["tag"])
        if old is None:
            continue
        for pool in ("nonpaged", "paged"):
            try:
                now = tag["%s_allocs" % pool] - tag["%s_frees" % pool]
                allocs = now - (old["%s_allocs" % pool] - old["%s_frees" % pool])
                change = tag["%s_bytes" % pool] - old["%s_bytes" % pool]
            except TypeError:
                continue
            if change > 0 and allocs > 0:
                grew.append({"tag": tag["tag"], "pool": pool, "allocations": allocs, "bytes": change})
    grew.sort(key=lambda g: -g["bytes"])
    return grew


def _screen_changes(first, last):
    """'; between the first and last screen: Drsd paged +6 allocations, +4,992 bytes' for the tags that grew."""
    grew = screen_changes(first, last)
    if not grew:
        return ""
    return "; between the first and last screen (times unknown): " + "; ".join(
        "%s %s %+d allocations, %+d bytes" % (g["tag"], g["pool"], g["allocations"], g["bytes"]) for g in grew[:5])


def _rank_tags(tags):
    return sorted(tags, key=lambda t: -((t.get("nonpaged_bytes") or 0) + (t.get("paged_bytes") or 0)))


def _windows_samples(frames, perf_rows, limits):
    """One compact sample (series.compact_sample: ``{v, t, boot, s}``) per timed poolmon frame and counter row.

    The tags kept are those among the largest ``top_tags`` of any frame, so a tag
    that grows into the top keeps its earlier points.
    """
    keep = set()
    for frame in frames:
        for tag in _rank_tags(frame["tags"])[:limits["top_tags"]]:
            keep.add(tag["tag"])
    samples = []
    for frame in frames:
        if not frame.get("time"):
            continue
        header = frame["header"]
        tags = [t for t in frame["tags"] if t["tag"] in keep]
        samples.append(_compact(frame["time"], header.get("available"), header.get("commit"),
                                header.get("pool_nonpaged"), header.get("pool_paged"), tags, len(keep)))
    for row in perf_rows:
        samples.append(_compact(row["time"], row["available"], row["commit_used"], row["pool_nonpaged"],
                                row["pool_paged"], [], 0))
    samples.sort(key=lambda s: s["t"])
    return samples


def _compact(when, available, commit, nonpaged, paged, tags, top):
    mini = {"collected_at": when, "boot_id": None,
            "memory": {"available": available, "commit_used": commit},
            "windows": {"pools": {"nonpaged": {"bytes": nonpaged}, "paged": {"bytes": paged}}, "tags": tags}}
    return series.compact_sample(mini, top=max(top, 1))
