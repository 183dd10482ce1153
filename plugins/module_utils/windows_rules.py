# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings for a Windows snapshot: pool pressure, pool leaks, socket exhaustion, commit exhaustion.

Pure functions over the snapshot of design.md section 3 (as win_pool_facts emits
it, or as the offline parsers build it from poolmon / WinDbg text). Each finding
has the section 4 shape::

    {id, severity, subject: {kind, name, owner, version}, bytes, share,
     growth: {bytes_per_hour, samples, span_hours, confidence} | None,
     exhaustion_eta_hours, evidence: [str], kb: {id, title, fixed_in, reference} | None}

``share`` is the share of RAM (as report_text prints it). ``subject.version`` is
the version of the driver file behind a pool tag (None when not attributed).

In-run samples (``snapshot["samples"]``) carry, per sample,
``{collected_at, boot_id, source, pools: {nonpaged_bytes, paged_bytes},
tags: {TAG: {paged_allocs, paged_frees, paged_bytes, nonpaged_allocs,
nonpaged_frees, nonpaged_bytes}}}``; outstanding allocations are
(allocs - frees) mod 2**32 because the kernel counters are 32 bits wide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from datetime import datetime

from ansible_collections.memleak.remediation.plugins.module_utils.pool_limits import limits_for_snapshot

MiB = 1024 * 1024
WRAP = 1 << 32

DEFAULTS = {
    "pressure_warning": 0.80,       # pool bytes / pool limit
    "pressure_critical": 0.95,
    "commit_warning": 0.90,         # commit charge / commit limit
    "commit_critical": 0.97,
    "leak_min_samples": 3,          # samples in the current boot needed to call a tag leaking
    "leak_min_bytes_per_hour": 1 * MiB,
    "leak_critical_eta_hours": 168.0,
    "half_open_min": 500,           # SynReceived + SynSent
    "time_wait_min": 8000,          # half of the default dynamic port range (49152-65535)
    "socket_pool_share": 0.30,      # share of the pool held by AFD / TCP tags
    "top_tags": 3,                  # how many of the largest tags count as "dominating"
}

# Tags whose memory belongs to Winsock / the TCP stack. "Afd*" tags are afd.sys (pooltag.txt);
# a tag attributed to one of the files below counts too.
SOCKET_TAG_PREFIXES = ("Afd", "Tcp")
SOCKET_DRIVER_FILES = ("afd.sys", "tcpip.sys", "tcpip6.sys")

# Minimal knowledge used when the caller passes no knowledge base (options["kb"]).
# Facts from the collection's seed cases; the titles are our own words.
DEFAULT_KB = {
    "VFil": {"owner": "VMware Tools", "component": "vmware_tools",
             "kb": {"id": "VMware KB 2077302",
                    "title": "VFil / VNet nonpaged pool growth caused by VMware Tools drivers",
                    "fixed_in": "10.0.8", "reference": "https://kb.vmware.com/s/article/2077302"}},
    "VNet": {"owner": "VMware Tools", "component": "vmware_tools",
             "kb": {"id": "VMware KB 2077302",
                    "title": "VFil / VNet nonpaged pool growth caused by VMware Tools drivers",
                    "fixed_in": "10.0.8", "reference": "https://kb.vmware.com/s/article/2077302"}},
    "Afd*": {"owner": "Windows Winsock (afd.sys)", "component": "os", "kb": None},
    "MmSt": {"owner": "Windows memory manager (section prototype PTEs)", "component": "os", "kb": None},
    "Leak": {"owner": "Sysinternals NotMyFault (myfault.sys)", "component": "vendor_driver", "kb": None},
}

_SEVERITY_RANK = {"ok": 0, "info": 1, "warning": 2, "critical": 3}
# At equal severity the more specific finding leads: a proven leak names its tag, socket
# exhaustion explains pool pressure, and pool pressure explains a commit charge held by the kernel.
_PRIORITY = {"pool_leak": 0, "socket_exhaustion": 1, "pool_pressure": 2, "commit_exhaustion": 3}


def windows_findings(snapshot, options=None):
    """All findings for one Windows snapshot, most severe first (then largest)."""
    opts = dict(DEFAULTS)
    opts.update(options or {})
    kb = dict(DEFAULT_KB)
    kb.update(opts.get("kb") or {})
    windows = snapshot.get("windows") or {}
    context = _Context(snapshot, windows, opts, kb)
    findings = []
    findings += _pool_leak(context)
    findings += _socket_exhaustion(context)
    findings += _pool_pressure(context)
    findings += _commit_exhaustion(context)
    findings.sort(key=lambda f: (-_SEVERITY_RANK.get(f["severity"], 0), _PRIORITY.get(f["id"], 9),
                                 -(f["bytes"] or 0), f["subject"].get("name") or ""))
    return findings


def windows_plan(snapshot, findings, options=None):
    """Ordered next steps for the most severe finding (design section 8).

    Patch the OS first unless the culprit is a VMware Tools driver older than the version
    that fixes its known issue; then VMware Tools; then escalate with the evidence.
    """
    if not findings:
        return [{"step": "none", "reason": "No Windows pool, socket or commit problem found.", "target": None}]
    opts = dict(DEFAULTS)
    opts.update(options or {})
    kb = dict(DEFAULT_KB)
    kb.update(opts.get("kb") or {})
    top = findings[0]
    tools = _tools_version(snapshot)
    subject = top.get("subject") or {}
    entry = _kb_entry(kb, subject.get("name")) if subject.get("kind") == "pool_tag" else None
    component = (entry or {}).get("component")
    known = top.get("kb")
    os_name = ((snapshot.get("os") or {}).get("name")) or "Windows"

    if top["id"] == "commit_exhaustion":
        return [
            {"step": "restart", "reason": "Commit charge is near the limit; restarting %s frees its private bytes "
             "as a stop-gap." % (subject.get("name") or "the largest process"), "target": subject.get("name")},
            {"step": "escalate", "reason": "Send the process growth evidence to the owner of %s."
             % (subject.get("name") or "the process"), "target": subject.get("name")},
        ]
    if top["id"] == "socket_exhaustion":
        return [
            {"step": "escalate", "reason": "The pool is held by Winsock endpoints of abnormal TCP connections; "
             "find and limit the clients or peers creating them (the network owner).", "target": "network"},
            {"step": "patch_os", "reason": "If connection counts are normal again and AFD still grows, install "
             "the latest cumulative update of %s." % os_name, "target": os_name},
        ]

    plan = []
    fixed_in = (known or {}).get("fixed_in")
    if component == "vmware_tools" and fixed_in and tools and _version_lt(tools, fixed_in):
        plan.append({"step": "vmware_tools", "reason": "VMware Tools %s is older than %s, which fixes %s."
                     % (tools, fixed_in, known["id"]), "target": ">= %s" % fixed_in})
        plan.append({"step": "patch_os", "reason": "If the tag still grows after the VMware Tools upgrade, install "
                     "the latest cumulative update of %s." % os_name, "target": os_name})
    else:
        reason = "Install the latest cumulative update of %s first" % os_name
        if component == "vmware_tools" and fixed_in and tools:
            reason += ("; VMware Tools %s already includes the fix of %s (%s), so this is not that bug"
                       % (tools, known["id"], fixed_in))
        plan.append({"step": "patch_os", "reason": reason + ".", "target": os_name})
        if component == "vmware_tools" or (subject.get("owner") or "").lower().find("vmware") >= 0:
            plan.append({"step": "vmware_tools", "reason": "If the tag still grows on the patched OS, upgrade "
                         "VMware Tools to the newest release.", "target": "latest"})
    plan.append({"step": "escalate", "reason": "If the growth continues after these steps, open a case with "
                 "the driver's vendor with the tag samples and driver versions.",
                 "target": subject.get("owner") or subject.get("name")})
    return plan


class _Context(object):
    def __init__(self, snapshot, windows, opts, kb):
        self.snapshot = snapshot
        self.windows = windows
        self.opts = opts
        self.kb = kb
        self.ram = (snapshot.get("os") or {}).get("ram_bytes") or (snapshot.get("memory") or {}).get("total")
        self.tags = list(windows.get("tags") or [])
        self.drivers = windows.get("drivers") or {}
        self.tools = _tools_version(snapshot)
        self.limits, self.limit_note = self._limits()

    def _limits(self):
        pools = self.windows.get("pools") or {}
        limits = {"nonpaged": (pools.get("nonpaged") or {}).get("limit"),
                  "paged": (pools.get("paged") or {}).get("limit")}
        note = "as reported"
        if limits["nonpaged"] is None or limits["paged"] is None:
            try:
                computed = limits_for_snapshot(self.snapshot)
            except (ValueError, TypeError):
                computed = None
            if computed:
                note = "published maximum for this Windows release"
                for pool in ("nonpaged", "paged"):
                    if limits[pool] is None:
                        limits[pool] = computed[pool]
        return limits, note

    def pool_bytes(self, pool):
        pools = self.windows.get("pools") or {}
        return (pools.get(pool) or {}).get("bytes")

    def share(self, value):
        if value is None or not self.ram:
            return None
        return round(float(value) / self.ram, 4)

    def subject_for_tag(self, tag):
        files = self.drivers.get(tag) or self.drivers.get(tag.rstrip()) or []
        entry = _kb_entry(self.kb, tag)
        owner = None
        version = None
        if files:
            first = files[0]
            name = _basename(first.get("file"))
            owner = name
            if first.get("company"):
                owner = "%s (%s)" % (name, first["company"])
            version = first.get("version")
            if len(files) > 1:
                owner += " and %d other file(s)" % (len(files) - 1)
        elif entry:
            owner = entry.get("owner")
        return {"kind": "pool_tag", "name": tag, "owner": owner, "version": version}

    def tag_evidence(self, tag):
        lines = []
        for item in self.drivers.get(tag) or []:
            signed = item.get("signed")
            lines.append("tag %s found in %s, version %s, %s, %s" % (
                tag, item.get("file"), item.get("version") or "unknown", item.get("company") or "no company",
                "signed" if signed else ("not signed" if signed is False else "signature unknown")))
        return lines

    def kb_for_tag(self, tag):
        entry = _kb_entry(self.kb, tag)
        if not entry or not entry.get("kb"):
            return None, []
        known = dict(entry["kb"])
        evidence = []
        fixed_in = known.get("fixed_in")
        if entry.get("component") == "vmware_tools" and fixed_in:
            if self.tools is None:
                evidence.append("%s is fixed in VMware Tools %s; the installed version is unknown"
                                % (known["id"], fixed_in))
            elif _version_lt(self.tools, fixed_in):
                evidence.append("VMware Tools %s is older than %s: %s applies" % (self.tools, fixed_in, known["id"]))
            else:
                evidence.append("VMware Tools %s already includes the fix of %s (%s): not that bug"
                                % (self.tools, known["id"], fixed_in))
        return known, evidence


def _pool_pressure(ctx):
    findings = []
    for pool in ("nonpaged", "paged"):
        used = ctx.pool_bytes(pool)
        limit = ctx.limits.get(pool)
        if used is None or not limit:
            continue
        ratio = float(used) / limit
        if ratio < ctx.opts["pressure_warning"]:
            continue
        severity = "critical" if ratio >= ctx.opts["pressure_critical"] else "warning"
        key = "%s_bytes" % pool
        ranked = sorted(ctx.tags, key=lambda t: -(t.get(key) or 0))
        evidence = ["%s pool %s of %s (%.1f %%, limit %s)" % (
            pool, _mib(used), _mib(limit), 100 * ratio, ctx.limit_note)]
        top = [t for t in ranked[:ctx.opts["top_tags"]] if t.get(key)]
        for tag in top:
            evidence.append("tag %s holds %s of the %s pool (%.1f %%)" % (
                tag["tag"], _mib(tag[key]), pool, 100.0 * tag[key] / used if used else 0))
        kb = None
        if top:
            subject = ctx.subject_for_tag(top[0]["tag"])
            evidence += ctx.tag_evidence(top[0]["tag"])
            kb, kb_lines = ctx.kb_for_tag(top[0]["tag"])
            evidence += kb_lines
            size = top[0][key]
        else:
            subject = {"kind": "kernel", "name": "%s pool" % pool, "owner": None, "version": None}
            size = used
        findings.append(_finding("pool_pressure", severity, subject, size, ctx.share(size), None, None,
                                 evidence, kb))
    return findings


def _pool_leak(ctx):
    series = _tag_series(ctx.snapshot)
    if not series:
        return []
    findings = []
    for tag, points in sorted(series.items()):
        if len(points) < ctx.opts["leak_min_samples"]:
            continue
        for pool in ("nonpaged", "paged"):
            counts = [p[pool + "_outstanding"] for p in points]
            sizes = [p[pool + "_bytes"] for p in points]
            steps = [b - a for a, b in zip(counts, counts[1:])]
            if any(s < 0 for s in steps) or sum(1 for s in steps if s > 0) * 2 < len(steps):
                continue
            if sizes[-1] <= sizes[0]:
                continue
            hours = [p["hours"] for p in points]
            slope = _theil_sen(hours, sizes)
            if slope < ctx.opts["leak_min_bytes_per_hour"]:
                continue
            span = hours[-1] - hours[0]
            confidence = _confidence(len(points), span)
            limit = ctx.limits.get(pool)
            used = ctx.pool_bytes(pool)
            eta = None
            if limit and used is not None:
                eta = round(max(limit - used, 0) / slope, 1)
            severity = "critical" if (eta is not None and eta <= ctx.opts["leak_critical_eta_hours"]
                                      and confidence != "low") else "warning"
            subject = ctx.subject_for_tag(tag)
            evidence = ["tag %s %s outstanding allocations %d -> %d over %d samples (%s)" % (
                tag, pool, counts[0], counts[-1], len(points), _span_text(span)),
                "tag %s %s bytes %s -> %s, %s/hour (Theil-Sen)" % (
                tag, pool, _mib(sizes[0]), _mib(sizes[-1]), _mib(slope))]
            if eta is not None:
                evidence.append("%s pool %s of %s: full in about %s at this rate" % (
                    pool, _mib(used), _mib(limit), _span_text(eta)))
            evidence += ctx.tag_evidence(tag)
            kb, kb_lines = ctx.kb_for_tag(tag)
            evidence += kb_lines
            growth = {"bytes_per_hour": int(slope), "samples": len(points), "span_hours": round(span, 4),
                      "confidence": confidence}
            findings.append(_finding("pool_leak", severity, subject, sizes[-1], ctx.share(sizes[-1]), growth,
                                     eta, evidence, kb))
    return findings


def _socket_exhaustion(ctx):
    tcp = (ctx.windows.get("tcp") or {}).get("states") or {}
    if not tcp:
        return []
    half_open = int(tcp.get("SynReceived") or 0) + int(tcp.get("SynSent") or 0)
    time_wait = int(tcp.get("TimeWait") or 0)
    abnormal = []
    if half_open >= ctx.opts["half_open_min"]:
        abnormal.append("%d half-open TCP connections (SynReceived %d, SynSent %d; threshold %d)" % (
            half_open, int(tcp.get("SynReceived") or 0), int(tcp.get("SynSent") or 0), ctx.opts["half_open_min"]))
    if time_wait >= ctx.opts["time_wait_min"]:
        abnormal.append("%d TCP connections in TimeWait (threshold %d)" % (time_wait, ctx.opts["time_wait_min"]))
    if not abnormal:
        return []
    socket_tags = [t for t in ctx.tags if _is_socket_tag(t["tag"], ctx.drivers)]
    if not socket_tags:
        return []
    socket_bytes = sum(_total(t) for t in socket_tags)
    pool_total = (ctx.pool_bytes("nonpaged") or 0) + (ctx.pool_bytes("paged") or 0)
    ranked = sorted(ctx.tags, key=lambda t: -_total(t))
    top_names = set(t["tag"] for t in ranked[:ctx.opts["top_tags"]])
    share_of_pool = float(socket_bytes) / pool_total if pool_total else None
    dominates = bool(top_names & set(t["tag"] for t in socket_tags)) or (
        share_of_pool is not None and share_of_pool >= ctx.opts["socket_pool_share"])
    if not dominates:
        return []
    largest = max(socket_tags, key=_total)
    evidence = list(abnormal)
    evidence.append("AFD/TCP tags hold %s%s: %s" % (
        _mib(socket_bytes),
        " (%.1f %% of pool)" % (100 * share_of_pool) if share_of_pool is not None else "",
        ", ".join("%s %s" % (t["tag"], _mib(_total(t))) for t in sorted(socket_tags, key=lambda t: -_total(t))[:5])))
    limit = ctx.limits.get("nonpaged")
    used = ctx.pool_bytes("nonpaged")
    severity = "warning"
    if limit and used is not None:
        ratio = float(used) / limit
        evidence.append("nonpaged pool %s of %s (%.1f %%)" % (_mib(used), _mib(limit), 100 * ratio))
        if ratio >= ctx.opts["pressure_warning"]:
            severity = "critical"
    states = ", ".join("%s %s" % (k, tcp[k]) for k in sorted(tcp))
    evidence.append("TCP states: %s" % states)
    subject = ctx.subject_for_tag(largest["tag"])
    if subject["owner"] is None:
        subject["owner"] = "Windows Winsock (afd.sys)" if largest["tag"].startswith("Afd") else "Windows TCP/IP (tcpip.sys)"
    return [_finding("socket_exhaustion", severity, subject, socket_bytes, ctx.share(socket_bytes), None, None,
                     evidence, None)]


def _commit_exhaustion(ctx):
    memory = ctx.snapshot.get("memory") or {}
    used = memory.get("commit_used")
    limit = memory.get("commit_limit")
    if used is None or not limit:
        return []
    ratio = float(used) / limit
    if ratio < ctx.opts["commit_warning"]:
        return []
    severity = "critical" if ratio >= ctx.opts["commit_critical"] else "warning"
    processes = sorted(ctx.windows.get("processes") or [], key=lambda p: -(p.get("private_bytes") or 0))
    evidence = ["commit charge %s of the %s commit limit (%.1f %%)" % (_mib(used), _mib(limit), 100 * ratio)]
    for proc in processes[:3]:
        evidence.append("process %s (pid %s) private bytes %s, %s handles" % (
            proc.get("name"), proc.get("pid"), _mib(proc.get("private_bytes") or 0), proc.get("handles")))
    pool_total = (ctx.pool_bytes("nonpaged") or 0) + (ctx.pool_bytes("paged") or 0)
    top = processes[0] if processes else None
    if top is not None and (top.get("private_bytes") or 0) >= pool_total:
        subject = {"kind": "process", "name": top.get("name"), "owner": "pid %s" % top.get("pid"), "version": None}
        size = top.get("private_bytes")
    else:
        subject = {"kind": "kernel", "name": "kernel pools", "owner": None, "version": None}
        size = pool_total or used
        if pool_total:
            evidence.append("the paged and nonpaged pools hold %s, more than any process" % _mib(pool_total))
    return [_finding("commit_exhaustion", severity, subject, size, ctx.share(size), None, None, evidence, None)]


# ---------------------------------------------------------------------------- helpers

def _finding(fid, severity, subject, size, share, growth, eta, evidence, kb):
    return {"id": fid, "severity": severity, "subject": subject, "bytes": int(size) if size is not None else None,
            "share": share, "growth": growth, "exhaustion_eta_hours": eta, "evidence": evidence, "kb": kb}


def _total(tag):
    """Paged + nonpaged bytes of one tag entry."""
    return (tag.get("nonpaged_bytes") or 0) + (tag.get("paged_bytes") or 0)


def _kb_entry(kb, tag):
    """Exact tag first, then 'Xyz*' prefix entries (longest prefix wins)."""
    if not tag:
        return None
    for key in (tag, tag.rstrip()):
        if key in kb:
            return kb[key]
    best = None
    for key, value in kb.items():
        if key.endswith("*") and tag.startswith(key[:-1]):
            if best is None or len(key) > len(best[0]):
                best = (key, value)
    return best[1] if best else None


def _is_socket_tag(tag, drivers):
    if tag.startswith(SOCKET_TAG_PREFIXES):
        return True
    for item in drivers.get(tag) or []:
        if _basename(item.get("file")).lower() in SOCKET_DRIVER_FILES:
            return True
    return False


def _tools_version(snapshot):
    virt = snapshot.get("virt") or {}
    tools = virt.get("tools") or {}
    return tools.get("version") if virt.get("platform") == "vmware" else None


def _version_tuple(text):
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:4])


def _version_lt(have, want):
    a, b = _version_tuple(have), _version_tuple(want)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) < b + (0,) * (width - len(b))


def _basename(path):
    if not path:
        return "?"
    return re.split(r"[\\/]", path)[-1]


def _parse_time(text):
    if not text:
        return None
    value = str(text).replace("Z", "+00:00")
    match = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?", value)
    if not match:
        return None
    try:
        stamp = datetime.strptime(match.group(1) + "T" + match.group(2), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    fraction = float(match.group(3)) if match.group(3) else 0.0
    return stamp, fraction


def _tag_series(snapshot):
    """TAG -> [{hours, nonpaged_outstanding, nonpaged_bytes, paged_outstanding, paged_bytes}] for the
    samples of the snapshot's boot, oldest first."""
    boot = snapshot.get("boot_id")
    usable = []
    for sample in snapshot.get("samples") or []:
        if not isinstance(sample, dict) or not isinstance(sample.get("tags"), dict):
            continue
        if boot is not None and sample.get("boot_id") not in (None, boot):
            continue
        when = _parse_time(sample.get("collected_at"))
        if when is None:
            continue
        usable.append((when, sample))
    if len(usable) < 2:
        return {}
    usable.sort(key=lambda item: item[0])
    origin = usable[0][0]
    series = {}
    for (stamp, fraction), sample in usable:
        hours = ((stamp - origin[0]).total_seconds() + fraction - origin[1]) / 3600.0
        for tag, row in sample["tags"].items():
            series.setdefault(tag, []).append({
                "hours": hours,
                "nonpaged_outstanding": _outstanding(row.get("nonpaged_allocs"), row.get("nonpaged_frees")),
                "nonpaged_bytes": int(row.get("nonpaged_bytes") or 0),
                "paged_outstanding": _outstanding(row.get("paged_allocs"), row.get("paged_frees")),
                "paged_bytes": int(row.get("paged_bytes") or 0),
            })
    return series


def _outstanding(allocs, frees):
    return (int(allocs or 0) - int(frees or 0)) % WRAP


def _theil_sen(xs, ys):
    slopes = []
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            if xs[j] != xs[i]:
                slopes.append((ys[j] - ys[i]) / (xs[j] - xs[i]))
    if not slopes:
        return 0.0
    slopes.sort()
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2.0


def _confidence(samples, span_hours):
    if samples >= 5 and span_hours >= 1.0:
        return "high"
    if samples >= 3 and span_hours >= 5.0 / 60:
        return "medium"
    return "low"


def _mib(value):
    return "%.1f MiB" % (float(value) / MiB)


def _span_text(hours):
    if hours < 1.0 / 60:
        return "%d s" % round(hours * 3600)
    if hours < 1:
        return "%.1f min" % (hours * 60)
    if hours < 48:
        return "%.1f h" % hours
    return "%.1f days" % (hours / 24)
