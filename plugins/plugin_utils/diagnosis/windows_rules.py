# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings for a Windows snapshot: pool pressure, pool leaks, socket exhaustion, commit exhaustion.

Pure functions over the snapshot of docs/architecture.md (as win_pool_facts emits
it, or as the offline parsers build it from poolmon / WinDbg text). Each finding
has the diagnosis' shape::

    {id, severity, subject: {kind, name, owner, version}, bytes, share,
     growth: {bytes_per_hour, samples, span_hours, confidence} | None,
     exhaustion_eta_hours, evidence: [str], kb: {id, title, fixed_in, reference} | None}

``share`` is the share of RAM (as report_text prints it). ``subject.version`` is
the version of the driver file behind a pool tag (None when not attributed).

Growth comes from ``snapshot["samples"]``: the host history and the in-run
samples, in the one compact form of series.py (``{"v", "t", "boot", "s"}``,
series ``pool.nonpaged``, ``tag.np:TAG`` bytes, ``tag.np_out:TAG`` outstanding
allocations = (allocs - frees) mod 2**32, ...). Every series is fitted by
trend.fit (Theil-Sen slope, Mann-Kendall significance, step and plateau checks,
current boot only). In-run samples are few and seconds apart, so the Windows
calls pass their own options (``pool_leak_min_samples``, ``pool_leak_alpha``, no
growth floor as a share of the limit: ``pool_leak_min_bytes_per_hour`` is the
floor instead); trend.DEFAULTS, which the Linux diagnosis uses, stay as they are.

A ``pool_leak`` is poolmon's diff made rigorous: a tag whose outstanding
allocations *and* bytes both grow significantly in the current boot, at least
``pool_leak_min_bytes_per_hour``. Its ETA is the hours until the pool limit is
reached at the tag's rate.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.memleak.remediation.plugins.module_utils import series as _series
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend
from ansible_collections.memleak.remediation.plugins.module_utils.schema import severity_rank
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.pool_limits import limits_for_snapshot
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge.base import pool_tag_defaults
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import human_bytes

MiB = 1024 * 1024

# (name, default, kind, meaning), in the form of diagnosis.OPTIONS: kind "share" is a fraction
# between 0 and 1 of what the meaning names, "bytes" a size, "count" a number, "hours" a duration.
# The names do not clash with the Linux thresholds: one dict of thresholds serves a mixed fleet.
OPTIONS = (
    ("pool_pressure_warning", 0.80, "share", "a pool at this share of its limit is pool_pressure (warning)"),
    ("pool_pressure_critical", 0.95, "share", "a pool at this share of its limit is critical"),
    ("commit_warning", 0.90, "share", "commit charge at this share of the commit limit is commit_exhaustion"),
    ("commit_critical", 0.97, "share", "commit charge at this share of the commit limit is critical"),
    ("pool_leak_min_samples", 4, "count",
     "samples of the current boot a pool series needs before it is called growing or stable"),
    ("pool_leak_alpha", 0.05, "share",
     "Mann-Kendall significance a growing pool series must reach (one-sided p-value)"),
    ("pool_leak_min_bytes_per_hour", 1 * MiB, "bytes", "slowest growth of a tag's bytes that is a pool_leak"),
    ("pool_leak_critical_eta_hours", 168, "hours",
     "a growing pool finding is critical when its pool is full sooner than this at the fitted rate"),
    ("socket_half_open_min", 500, "count", "half-open TCP connections (SynReceived + SynSent) that are abnormal"),
    ("socket_time_wait_min", 8000, "count",
     "TCP connections in TimeWait that are abnormal (half of the default dynamic port range)"),
    ("socket_pool_share", 0.30, "share", "AFD / TCP tags holding this share of both pools dominate them"),
    ("pool_top_tags", 3, "count", "the largest tags that count as dominating a pool and are named as evidence"),
)
DEFAULTS = dict((option[0], option[1]) for option in OPTIONS)

# Tags whose memory belongs to Winsock / the TCP stack. "Afd*" tags are afd.sys (pooltag.txt);
# a tag attributed to one of the files below counts too.
SOCKET_TAG_PREFIXES = ("Afd", "Tcp")
SOCKET_DRIVER_FILES = ("afd.sys", "tcpip.sys", "tcpip6.sys")

# What the knowledge base (knowledge_base.yml) says about pool tags, used when the caller passes no
# knowledge (options["kb"], in the same form).
DEFAULT_KB = pool_tag_defaults()

_ABNORMAL = ("warning", "critical")
# Among findings of equal severity and size the more specific one leads: a proven leak names its
# tag, socket exhaustion explains pool pressure, pool pressure explains a commit charge.
_PRIORITY = {"pool_leak": 0, "socket_exhaustion": 1, "pool_pressure": 2, "commit_exhaustion": 3}
_POOL_SHORT = (("np", "nonpaged"), ("p", "paged"))


def windows_findings(snapshot, options=None):
    """All findings for one Windows snapshot, in the order ``ranked_findings`` gives."""
    return [item["finding"] for item in ranked_findings(snapshot, options)]


def ranked_findings(snapshot, options=None):
    """[{finding, summary, explained_by}] for one Windows snapshot, the verdict's finding first.

    Order: findings not explained by another first, then the most severe, then the most
    bytes, then the more specific id (pool_leak, socket_exhaustion, pool_pressure,
    commit_exhaustion). A commit charge held by the kernel pools is *explained* by an
    abnormal pool finding (``explained_by`` names it): fixing the pool fixes the commit.
    ``summary`` is one plain sentence for the verdict.
    """
    opts = dict(DEFAULTS)
    opts.update(options or {})
    kb = dict(DEFAULT_KB)
    kb.update(opts.get("kb") or {})
    windows = snapshot.get("windows") or {}
    ctx = _Context(snapshot, windows, opts, kb)
    found = []
    found += _pool_leak(ctx)
    found += _socket_exhaustion(ctx)
    found += _pool_pressure(ctx)
    found += _commit_exhaustion(ctx)
    _debugger_alerts(ctx, found)
    pools = [f for f in found if f["finding"]["id"] != "commit_exhaustion" and f["finding"]["severity"] in _ABNORMAL]
    for item in found:
        finding = item["finding"]
        if finding["id"] == "commit_exhaustion" and finding["subject"]["kind"] == "kernel" and pools:
            cause = max(pools, key=_rank)["finding"]
            item["explained_by"] = "%s %s" % (cause["id"], cause["subject"]["name"])
            finding["evidence"].append("explained by the %s finding of %s: the pools are what holds the commit charge"
                                       % (cause["id"], cause["subject"]["name"]))
    found.sort(key=_order)
    return found


def _rank(item):
    """Bigger is worse: severity, then bytes, then the more specific id."""
    finding = item["finding"]
    return (severity_rank(finding["severity"], 0), finding["bytes"] or 0, -_PRIORITY.get(finding["id"], 9))


def _order(item):
    severity, size, priority = _rank(item)
    return (item["explained_by"] is not None, -severity, -size, -priority, item["finding"]["subject"].get("name") or "")


def windows_plan(snapshot, findings, options=None):
    """Ordered next steps for the most severe finding (docs/architecture.md, Elimination).

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


def snapshot_pool_limits(snapshot):
    """({nonpaged, paged} pool maxima, where they come from): the limit the snapshot reports (a
    debugger's ``!vm``), else the published maximum for its release, architecture and RAM; None
    when neither is known."""
    pools = (snapshot.get("windows") or {}).get("pools") or {}
    limits = {"nonpaged": (pools.get("nonpaged") or {}).get("limit"),
              "paged": (pools.get("paged") or {}).get("limit")}
    note = "as reported"
    if limits["nonpaged"] is None or limits["paged"] is None:
        try:
            computed = limits_for_snapshot(snapshot)
        except (ValueError, TypeError):
            computed = None
        if computed:
            note = "published maximum for this Windows release"
            for pool in ("nonpaged", "paged"):
                if limits[pool] is None:
                    limits[pool] = computed[pool]
    return limits, note


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
        self.limits, self.limit_note = snapshot_pool_limits(snapshot)
        self.series = _series.SeriesTable(snapshot.get("samples") or [], trend.to_hours)
        self.trend_options = {"min_samples": int(opts["pool_leak_min_samples"]),
                              "alpha": float(opts["pool_leak_alpha"]),
                              "min_growth_share": 0.0, "min_growth_bytes": 0}

    def pool_bytes(self, pool):
        pools = self.windows.get("pools") or {}
        return (pools.get(pool) or {}).get("bytes")

    def share(self, value):
        if value is None or not self.ram:
            return None
        return round(float(value) / self.ram, 4)

    def points(self, name):
        """The series' points whose time can be read and whose value is a number, oldest first."""
        return self.series.points(name)

    def segment(self, points):
        """The points trend.fit fits: the current boot's, the newest ``window`` of them."""
        return trend.current_boot(points)[-int(trend.DEFAULTS["window"]):]

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

    def attach_growth(self, finding, name, limit, what):
        """Fill growth and ETA of ``finding`` from the series ``name`` (a pool or commit total whose
        ceiling is ``limit``); a finding full within pool_leak_critical_eta_hours becomes critical."""
        points = self.points(name)
        if len(points) < 2:
            finding["evidence"].append("growth of %s unproven: %s (gather with samples > 1, or keep the host "
                                       "history)" % (what, "one sample" if points else "no samples"))
            return
        fit = trend.fit(points, limit, self.trend_options)
        finding["growth"] = _growth(fit)
        if fit["leaking"] and fit["bytes_per_hour"] >= self.opts["pool_leak_min_bytes_per_hour"] \
                and fit["exhaustion_eta_hours"] is not None:
            eta = round(fit["exhaustion_eta_hours"], 1)
            finding["exhaustion_eta_hours"] = eta
            finding["evidence"].append("%s grows %s: full in about %s at this rate" % (
                what, _rate_text(fit), _span_text(eta)))
            if eta <= self.opts["pool_leak_critical_eta_hours"] and finding["severity"] in _ABNORMAL:
                finding["severity"] = "critical"
        elif fit["samples"] >= self.trend_options["min_samples"]:
            reason = "" if fit["reason"] == "not growing" else ": " + fit["reason"]
            finding["evidence"].append("%s not growing%s; %s" % (what, reason, _rate_text(fit)))
        else:
            finding["evidence"].append("growth of %s unproven: %s" % (what, fit["reason"]))


def _pool_pressure(ctx):
    found = []
    for pool in ("nonpaged", "paged"):
        used = ctx.pool_bytes(pool)
        limit = ctx.limits.get(pool)
        if used is None or not limit:
            continue
        ratio = float(used) / limit
        if ratio < ctx.opts["pool_pressure_warning"]:
            continue
        severity = "critical" if ratio >= ctx.opts["pool_pressure_critical"] else "warning"
        key = "%s_bytes" % pool
        ranked = sorted(ctx.tags, key=lambda t: -(t.get(key) or 0))
        evidence = ["%s pool %s of %s (%.1f %%, limit %s)" % (
            pool, _mib(used), _mib(limit), 100 * ratio, ctx.limit_note)]
        top = [t for t in ranked[:int(ctx.opts["pool_top_tags"])] if t.get(key)]
        for tag in top:
            evidence.append("tag %s holds %s of the %s pool (%.1f %%)" % (
                tag["tag"], _mib(tag[key]), pool, 100.0 * tag[key] / used if used else 0))
        kb = None
        summary = "The %s pool holds %s, %.1f %% of its %s limit" % (
            pool, human_bytes(used), 100 * ratio, human_bytes(limit))
        if top:
            subject = ctx.subject_for_tag(top[0]["tag"])
            evidence += ctx.tag_evidence(top[0]["tag"])
            kb, kb_lines = ctx.kb_for_tag(top[0]["tag"])
            evidence += kb_lines
            size = top[0][key]
            summary += "; the largest tag is %s (%s)." % (top[0]["tag"], human_bytes(size))
        else:
            subject = {"kind": "kernel", "name": "%s pool" % pool, "owner": None, "version": None}
            size = used
            summary += "; no pool tags were listed."
        finding = _finding("pool_pressure", severity, subject, size, ctx.share(size), None, None, evidence, kb)
        ctx.attach_growth(finding, "pool." + pool, limit, "the %s pool" % pool)
        found.append(_item(finding, summary))
    return found


def _pool_leak(ctx):
    found = []
    for name in ctx.series.names:
        for short, pool in _POOL_SHORT:
            prefix = "tag.%s_out:" % short
            if not name.startswith(prefix):
                continue
            item = _tag_leak(ctx, name[len(prefix):], short, pool)
            if item:
                found.append(item)
    return found


def _tag_leak(ctx, tag, short, pool):
    counts = ctx.points("tag.%s_out:%s" % (short, tag))
    if len(counts) < 2:
        return None
    seg_counts = ctx.segment(counts)
    if seg_counts[-1][1] <= seg_counts[0][1]:
        return None  # no more allocations outstanding than at the start of the window: not a leak
    if not trend.may_leak(counts, ctx.trend_options):
        return None
    sizes = ctx.points("tag.%s:%s" % (short, tag))
    if len(sizes) < 2:
        return None
    count_fit = trend.fit(counts, None, ctx.trend_options)
    if not count_fit["leaking"]:
        return None
    limit, used = ctx.limits.get(pool), ctx.pool_bytes(pool)
    now = ctx.segment(sizes)[-1][1]
    ceiling = now + max(limit - used, 0) if limit and used is not None else None
    size_fit = trend.fit(sizes, ceiling, ctx.trend_options)
    if not size_fit["leaking"] or size_fit["bytes_per_hour"] < ctx.opts["pool_leak_min_bytes_per_hour"]:
        return None
    eta = size_fit["exhaustion_eta_hours"]
    eta = round(eta, 1) if eta is not None else None
    severity = "critical" if eta is not None and eta <= ctx.opts["pool_leak_critical_eta_hours"] else "warning"
    seg_counts, seg_sizes = ctx.segment(counts), ctx.segment(sizes)
    evidence = [
        "tag %s %s outstanding allocations %d -> %d over %d samples (%s), Mann-Kendall confidence %.3f" % (
            tag, pool, seg_counts[0][1], seg_counts[-1][1], count_fit["samples"], _span_text(count_fit["span_hours"]),
            count_fit["confidence"]),
        "tag %s %s bytes %s -> %s, %s/hour (Theil-Sen)" % (
            tag, pool, _mib(seg_sizes[0][1]), _mib(seg_sizes[-1][1]), _mib(size_fit["bytes_per_hour"]))]
    if eta is not None:
        evidence.append("%s pool %s of %s: full in about %s at this rate" % (
            pool, _mib(used), _mib(limit), _span_text(eta)))
    if size_fit["dropped_other_boots"]:
        evidence.append("%d sample(s) of an earlier boot not fitted (a reboot empties the pools)"
                        % size_fit["dropped_other_boots"])
    evidence += ctx.tag_evidence(tag)
    kb, kb_lines = ctx.kb_for_tag(tag)
    evidence += kb_lines
    growth = _growth(size_fit)
    growth["confidence"] = min(count_fit["confidence"], size_fit["confidence"])
    subject = ctx.subject_for_tag(tag)
    detail = ", ".join(v for v in (subject["owner"], subject["version"]) if v)
    summary = "Pool tag %s%s grows %s/h in the %s pool (now %s)%s." % (
        tag, " (%s)" % detail if detail else "", human_bytes(size_fit["bytes_per_hour"]), pool, human_bytes(now),
        "; the pool is full in about %s at this rate" % _span_text(eta) if eta is not None else "")
    return _item(_finding("pool_leak", severity, subject, now, ctx.share(now), growth, eta, evidence, kb), summary)


def _socket_exhaustion(ctx):
    tcp = (ctx.windows.get("tcp") or {}).get("states") or {}
    if not tcp:
        return []
    half_open = int(tcp.get("SynReceived") or 0) + int(tcp.get("SynSent") or 0)
    time_wait = int(tcp.get("TimeWait") or 0)
    abnormal = []
    if half_open >= ctx.opts["socket_half_open_min"]:
        abnormal.append("%d half-open TCP connections (SynReceived %d, SynSent %d; threshold %d)" % (
            half_open, int(tcp.get("SynReceived") or 0), int(tcp.get("SynSent") or 0),
            ctx.opts["socket_half_open_min"]))
    if time_wait >= ctx.opts["socket_time_wait_min"]:
        abnormal.append("%d TCP connections in TimeWait (threshold %d)" % (time_wait, ctx.opts["socket_time_wait_min"]))
    if not abnormal:
        return []
    socket_tags = [t for t in ctx.tags if _is_socket_tag(t["tag"], ctx.drivers)]
    if not socket_tags:
        return []
    socket_bytes = sum(_total(t) for t in socket_tags)
    pool_total = (ctx.pool_bytes("nonpaged") or 0) + (ctx.pool_bytes("paged") or 0)
    ranked = sorted(ctx.tags, key=lambda t: -_total(t))
    top_names = set(t["tag"] for t in ranked[:int(ctx.opts["pool_top_tags"])])
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
        if ratio >= ctx.opts["pool_pressure_warning"]:
            severity = "critical"
    states = ", ".join("%s %s" % (k, tcp[k]) for k in sorted(tcp))
    evidence.append("TCP states: %s" % states)
    subject = ctx.subject_for_tag(largest["tag"])
    if subject["owner"] is None:
        subject["owner"] = "Windows Winsock (afd.sys)" if largest["tag"].startswith("Afd") else "Windows TCP/IP (tcpip.sys)"
    causes = []
    if half_open >= ctx.opts["socket_half_open_min"]:
        causes.append("%d half-open TCP connections" % half_open)
    if time_wait >= ctx.opts["socket_time_wait_min"]:
        causes.append("%d connections in TimeWait" % time_wait)
    summary = ("Winsock and TCP pool tags hold %s (largest %s) with %s: the pool is spent on socket endpoints."
               % (human_bytes(socket_bytes), largest["tag"], " and ".join(causes)))
    return [_item(_finding("socket_exhaustion", severity, subject, socket_bytes, ctx.share(socket_bytes), None, None,
                           evidence, None), summary)]


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
    summary = "Commit charge is %.1f %% of the commit limit (%s of %s)" % (100 * ratio, human_bytes(used),
                                                                           human_bytes(limit))
    if top is not None and (top.get("private_bytes") or 0) >= pool_total:
        subject = {"kind": "process", "name": top.get("name"), "owner": "pid %s" % top.get("pid"), "version": None}
        size = top.get("private_bytes")
        summary += "; the largest holder is process %s (pid %s, %s private)." % (
            top.get("name"), top.get("pid"), human_bytes(size))
    else:
        subject = {"kind": "kernel", "name": "kernel pools", "owner": None, "version": None}
        size = pool_total or used
        if pool_total:
            evidence.append("the paged and nonpaged pools hold %s, more than any process" % _mib(pool_total))
            summary += "; the kernel pools hold %s, more than any process." % human_bytes(pool_total)
        else:
            summary += "."
    finding = _finding("commit_exhaustion", severity, subject, size, ctx.share(size), None, None, evidence, None)
    ctx.attach_growth(finding, "mem.commit_used", limit, "the commit charge")
    return [_item(finding, summary)]


def _debugger_alerts(ctx, found):
    """Fold the alarms of an offline ``!vm`` (windows.pool_alerts: "Excessive NonPaged Pool Usage",
    "N pool allocations have failed") into the pool findings; they prove exhaustion even when the
    pool limit is unknown, so without a pool finding they raise one. Failed allocations are critical."""
    alerts = ctx.windows.get("pool_alerts") or {}
    excessive = [p for p in alerts.get("excessive") or [] if p in ("nonpaged", "paged")]
    failed = int(alerts.get("failed_allocations") or 0)
    if not excessive and not failed:
        return
    where = " (%s)" % alerts["source"] if alerts.get("source") else ""
    lines = ["the debugger reported 'Excessive %s Pool Usage'%s" % ("NonPaged" if p == "nonpaged" else "Paged", where)
             for p in excessive]
    if failed:
        lines.append("%d pool allocation(s) had failed when the dump was taken%s" % (failed, where))
    pool_items = [item for item in found if item["finding"]["id"] in ("pool_pressure", "pool_leak", "socket_exhaustion")]
    for item in pool_items:
        item["finding"]["evidence"].extend(lines)
        if failed:
            item["finding"]["severity"] = "critical"
    if pool_items:
        return
    pool = excessive[0] if excessive else "nonpaged"
    used = ctx.pool_bytes(pool)
    evidence = ["%s pool %s (its limit is not known)" % (pool, _mib(used) if used is not None else "of unknown size")]
    subject = {"kind": "kernel", "name": "%s pool" % pool, "owner": None, "version": None}
    summary = "The debugger reports the %s pool exhausted%s." % (
        pool, " (%d allocations failed)" % failed if failed else "")
    found.append(_item(_finding("pool_pressure", "critical" if failed else "warning", subject, used, ctx.share(used),
                                None, None, evidence + lines, None), summary))


# ---------------------------------------------------------------------------- helpers

def _finding(fid, severity, subject, size, share, growth, eta, evidence, kb):
    return {"id": fid, "severity": severity, "subject": subject, "bytes": int(size) if size is not None else None,
            "share": share, "growth": growth, "exhaustion_eta_hours": eta, "evidence": evidence, "kb": kb}


def _item(finding, summary):
    return {"finding": finding, "summary": summary, "explained_by": None}


def _growth(fit):
    return {"bytes_per_hour": int(round(fit["bytes_per_hour"])), "samples": fit["samples"],
            "span_hours": round(fit["span_hours"], 4), "confidence": fit["confidence"]}


def _rate_text(fit):
    return "%s/hour over %d samples in %s (confidence %.3f)" % (
        _mib(fit["bytes_per_hour"]), fit["samples"], _span_text(fit["span_hours"]), fit["confidence"])


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
