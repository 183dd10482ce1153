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
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import evidence as evidence_mod
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
    ("pool_leak_min_span_hours", 3.0, "hours",
     "a pool tag's growth is proven only over at least this span (its allocations and bytes must both grow)"),
    ("pool_dominance_share", 0.50, "share",
     "one tag holding this share of its pool (of the pool) dominates it: a finding naming the tag, from one snapshot"),
    ("pool_dominance_ratio", 3.0, "factor", "and at least this many times the next tag"),
    ("pool_dominance_min_bytes", 64 * MiB, "bytes", "and at least this much"),
    ("pool_dominance_pressure_share", 0.50, "share",
     "a dominant tag is a warning when its pool is at this share of its limit or the limit is unknown, else info"),
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
    found += _pool_dominance(ctx, found)
    found += _commit_exhaustion(ctx)
    found += _low_memory_events(ctx, found)
    _debugger_alerts(ctx, found)
    pools = [f for f in found if f["finding"]["id"] != "commit_exhaustion" and f["finding"]["severity"] in _ABNORMAL]
    for item in found:
        finding = item["finding"]
        if finding["id"] == "commit_exhaustion" and finding["subject"]["kind"] == "kernel" and pools:
            cause = max(pools, key=_rank)["finding"]
            item["explained_by"] = "%s %s" % (cause["id"], cause["subject"]["name"])
            finding["evidence"].append("explained by the %s finding of %s: the pools are what holds the commit charge"
                                       % (cause["id"], cause["subject"]["name"]))
    for item in found:
        _confidence(ctx, item["finding"])
    found.sort(key=_order)
    return found


def _confidence(ctx, finding):
    """confidence and missing of a Windows finding (docs/data-contracts.md)."""
    if "confidence" not in finding:
        hard = finding["severity"] == "critical" and finding["id"] in ("pool_pressure", "commit_exhaustion")
        finding["confidence"] = "proven" if finding["id"] == "pool_leak" or hard else "likely"
    wanted = list(finding.get("missing") or [])
    if finding["id"] in ("pool_pressure", "pool_leak") and not (ctx.limits.get("nonpaged") and ctx.limits.get("paged")):
        wanted.append(evidence_mod.missing("systeminfo"))
    if not ctx.tags:
        wanted.append(evidence_mod.missing("poolused"))
    subject = finding.get("subject") or {}
    if subject.get("kind") == "pool_tag" and not ctx.drivers.get(subject.get("name")) and not subject.get("owner"):
        wanted.append(evidence_mod.missing("driver_tags", command="findstr /m /l %s C:\\Windows\\System32\\drivers\\*.sys"
                                           % (subject.get("name") or "TAG").strip()))
    if finding["confidence"] != "proven" and finding["id"] in ("pool_pressure", "pool_leak"):
        wanted.append(evidence_mod.missing("poolmon"))
    finding["missing"] = evidence_mod.merge_missing(wanted)


def _pool_dominance(ctx, found):
    """One tag holding most of its pool, several times the next: named from a single snapshot
    (a lone poolmon screen or !poolused), with its knowledge-base entry; pressure is judged
    when the pool limit is known. Pools already judged under pressure are left to that finding."""
    judged = set(f["finding"]["subject"].get("name") for f in found if f["finding"]["subject"].get("kind") == "pool_tag")
    out = []
    for pool in ("nonpaged", "paged"):
        key = "%s_bytes" % pool
        ranked = sorted([t for t in ctx.tags if t.get(key)], key=lambda t: -t[key])
        if not ranked or ranked[0]["tag"] in judged:
            continue
        top, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        used = ctx.pool_bytes(pool)
        whole = used if used else sum(t[key] for t in ranked)
        share = float(top[key]) / whole if whole else 0.0
        if (top[key] < ctx.opts["pool_dominance_min_bytes"] or share < ctx.opts["pool_dominance_share"]
                or (second and top[key] < ctx.opts["pool_dominance_ratio"] * second[key])):
            continue
        evidence = ["tag %s holds %s, %.1f %% of the %s pool (%s%s)%s" % (
            top["tag"], _mib(top[key]), 100 * share, pool, _mib(whole), "" if used else ", the sum of the listed tags",
            "; %.1f x the next tag %s (%s)" % (float(top[key]) / second[key], second["tag"], _mib(second[key]))
            if second else "")]
        limit = ctx.limits.get(pool)
        severity = "warning"
        if limit and used:
            ratio = float(used) / limit
            evidence.append("%s pool %s of %s (%.1f %%, limit %s)" % (
                pool, _mib(used), _mib(limit), 100 * ratio, ctx.limit_note))
            if ratio < ctx.opts["pool_dominance_pressure_share"]:
                severity = "info"  # the tag is named, but its pool is far from full
                evidence.append("the pool is far from its limit: a large user, no pressure")
        else:
            evidence.append("the %s pool limit is not known: pressure cannot be judged" % pool)
        available = (ctx.snapshot.get("memory") or {}).get("available")
        if isinstance(available, int) and ctx.ram and available < 0.05 * ctx.ram:
            severity = "critical"
            evidence.append("available memory %s of %s: the host is short of memory" % (_mib(available), _mib(ctx.ram)))
        evidence += ctx.tag_evidence(top["tag"])
        kb, kb_lines = ctx.kb_for_tag(top["tag"])
        evidence += kb_lines
        evidence.append("one snapshot: dominance, not growth; poolmon samples over hours prove a leak")
        subject = ctx.subject_for_tag(top["tag"])
        finding = _finding("pool_pressure", severity, subject, top[key], ctx.share(top[key]), None, None, evidence, kb)
        finding["confidence"] = "likely"
        ctx.attach_growth(finding, "tag.%s:%s" % ("np" if pool == "nonpaged" else "p", top["tag"]), limit,
                          "tag %s" % top["tag"])
        summary = "Pool tag %s%s holds %s, %.1f %% of the %s pool%s." % (
            top["tag"], " (%s)" % subject["owner"] if subject.get("owner") else "", human_bytes(top[key]),
            100 * share, pool, ", %.1f x the next tag" % (float(top[key]) / second[key]) if second else "")
        out.append(_item(finding, summary))
    return out


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
                              "min_growth_share": 0.0, "min_growth_bytes": 0,
                              "min_span_hours": float(opts["pool_leak_min_span_hours"])}

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
        elif fit["leaking"]:
            finding["evidence"].append("%s grows %s (proven); %s" % (what, _rate_text(fit), _eta_withheld(fit)))
        elif fit["rising"]:
            finding["evidence"].append("%s: %s; %s" % (what, fit["reason"], _rate_text(fit)))
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
    found, rises = [], []
    for name in ctx.series.names:
        for short, pool in _POOL_SHORT:
            prefix = "tag.%s_out:" % short
            if not name.startswith(prefix):
                continue
            item = _tag_leak(ctx, name[len(prefix):], short, pool)
            if item:
                found.append(item)
                continue
            item = _tag_rise(ctx, name[len(prefix):], short, pool)
            if item:
                rises.append(item)
    _dominant_riser(ctx, rises)
    if not found and not rises:
        rises = _untimed_riser(ctx)
    return found + rises


def _untimed_riser(ctx):
    """Screens of one file without times (windows.screen_changes): the tag carrying most of the growth
    between the first and the last screen, several times the next, is a suspected leak."""
    changes = [c for c in ctx.windows.get("screen_changes") or [] if isinstance(c, dict) and c.get("bytes", 0) > 0]
    if not changes:
        return []
    changes.sort(key=lambda c: -c["bytes"])
    top, total = changes[0], sum(c["bytes"] for c in changes)
    second = changes[1]["bytes"] if len(changes) > 1 else 0
    if top["bytes"] < ctx.opts["pool_dominance_share"] * total or top["bytes"] < ctx.opts["pool_dominance_ratio"] * second:
        return []
    tag, pool = top["tag"], top["pool"]
    now = next((t.get("%s_bytes" % pool) for t in ctx.tags if t.get("tag") == tag), None) or top["bytes"]
    evidence = ["tag %s %s: +%d allocations, +%s bytes between the first and the last poolmon screen (times unknown)"
                % (tag, pool, top["allocations"], "{:,}".format(top["bytes"])),
                "%s carries %.0f %% of the growth of the rising tags" % (tag, 100.0 * top["bytes"] / total),
                "%s: screens without times give no rate; a trend needs %d samples over at least %s" % (
                    trend.RISING, ctx.trend_options["min_samples"], _span_text(ctx.trend_options["min_span_hours"]))]
    evidence += ctx.tag_evidence(tag)
    kb, kb_lines = ctx.kb_for_tag(tag)
    evidence += kb_lines
    finding = _finding("pool_leak", "warning", ctx.subject_for_tag(tag), now, ctx.share(now), None, None, evidence, kb)
    finding["confidence"] = "suspected"
    summary = ("Pool tag %s rose by %d allocations and %s bytes between two poolmon screens: a suspected leak, "
               "not proven yet." % (tag, top["allocations"], "{:,}".format(top["bytes"])))
    return [_item(finding, summary)]


def _dominant_riser(ctx, rises):
    """Among the tags rising over a few screens, one that carries most of the growth, several times the
    next, is what the screens were taken to show: its suspected leak is a warning, not info."""
    growth = sorted(rises, key=lambda i: -(i["finding"]["growth"] or {}).get("bytes_per_hour", 0))
    if not growth:
        return
    rates = [(i["finding"]["growth"] or {}).get("bytes_per_hour", 0) for i in growth]
    total = sum(r for r in rates if r > 0)
    top = growth[0]["finding"]
    second = rates[1] if len(rates) > 1 else 0
    if total and rates[0] >= ctx.opts["pool_dominance_share"] * total and rates[0] >= ctx.opts["pool_dominance_ratio"] * second:
        top["severity"] = "warning"
        top["evidence"].append("%s carries %.0f %% of the growth of the rising tags%s" % (
            top["subject"]["name"], 100.0 * rates[0] / total,
            "" if second == 0 else ", %.1f x the next" % (float(rates[0]) / second)))


def _tag_rise(ctx, tag, short, pool):
    """Two or three poolmon screens (too few for a trend): a tag whose outstanding allocations and bytes
    rose between every pair of screens is a suspected leak, named with its growth ("+6 allocations,
    +4,992 bytes in 3.0 min"); info, unless it carries most of the growth (``_dominant_riser``)."""
    counts = ctx.segment(ctx.points("tag.%s_out:%s" % (short, tag)))
    sizes = ctx.segment(ctx.points("tag.%s:%s" % (short, tag)))
    if not 2 <= len(counts) < ctx.trend_options["min_samples"] or len(sizes) != len(counts):
        return None
    if any(b[1] <= a[1] for a, b in zip(counts, counts[1:])) or any(b[1] <= a[1] for a, b in zip(sizes, sizes[1:])):
        return None
    hours = trend.to_hours(sizes[-1][0]) - trend.to_hours(sizes[0][0])
    if hours <= 0:
        return None
    rate = (sizes[-1][1] - sizes[0][1]) / hours
    allocs, grown = int(counts[-1][1] - counts[0][1]), int(sizes[-1][1] - sizes[0][1])
    severity = "info"  # a warning when it is the dominant riser (_dominant_riser)
    evidence = ["tag %s %s: +%d allocations, +%s bytes in %s over %d screens (outstanding %d -> %d)" % (
        tag, pool, allocs, "{:,}".format(grown), _span_text(hours), len(sizes), counts[0][1], counts[-1][1]),
        "%s (%d samples over %s): a trend needs %d samples over at least %s" % (
            trend.RISING, len(sizes), _span_text(hours), ctx.trend_options["min_samples"],
            _span_text(ctx.trend_options["min_span_hours"]))]
    evidence += ctx.tag_evidence(tag)
    kb, kb_lines = ctx.kb_for_tag(tag)
    evidence += kb_lines
    subject = ctx.subject_for_tag(tag)
    now = sizes[-1][1]
    finding = _finding("pool_leak", severity, subject, now, ctx.share(now),
                       {"bytes_per_hour": int(round(rate)), "samples": len(sizes), "span_hours": round(hours, 4),
                        "confidence": 0.0, "proven": False}, None, evidence, kb)
    finding["confidence"] = "suspected"
    summary = "Pool tag %s rose by %d allocations and %s bytes in %s (%d screens): a suspected leak, not proven yet." % (
        tag, allocs, "{:,}".format(grown), _span_text(hours), len(sizes))
    return _item(finding, summary)


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
    if not (count_fit["leaking"] or count_fit["rising"]):
        return None
    limit, used = ctx.limits.get(pool), ctx.pool_bytes(pool)
    now = ctx.segment(sizes)[-1][1]
    ceiling = now + max(limit - used, 0) if limit and used is not None else None
    size_fit = trend.fit(sizes, ceiling, ctx.trend_options)
    if not (size_fit["leaking"] or size_fit["rising"]) \
            or size_fit["bytes_per_hour"] < ctx.opts["pool_leak_min_bytes_per_hour"]:
        return None
    # Rising over minutes (in-run samples, two poolmon screens) is a suspected leak: no ETA, no critical.
    proven = count_fit["leaking"] and size_fit["leaking"]
    eta = size_fit["exhaustion_eta_hours"] if proven else None
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
    elif proven:
        evidence.append("growth proven; %s" % _eta_withheld(size_fit))
    else:
        evidence.append(next(f["reason"] for f in (count_fit, size_fit) if not f["leaking"]))
    if size_fit["dropped_other_boots"]:
        evidence.append("%d sample(s) of an earlier boot not fitted (a reboot empties the pools)"
                        % size_fit["dropped_other_boots"])
    evidence += ctx.tag_evidence(tag)
    kb, kb_lines = ctx.kb_for_tag(tag)
    evidence += kb_lines
    growth = _growth(size_fit)
    growth["confidence"] = min(count_fit["confidence"], size_fit["confidence"])
    growth["proven"] = proven
    subject = ctx.subject_for_tag(tag)
    detail = ", ".join(v for v in (subject["owner"], subject["version"]) if v)
    summary = "Pool tag %s%s grows %s/h in the %s pool (now %s)%s." % (
        tag, " (%s)" % detail if detail else "", human_bytes(size_fit["bytes_per_hour"]), pool, human_bytes(now),
        "; the pool is full in about %s at this rate" % _span_text(eta) if eta is not None else "")
    if not proven:
        summary = "Pool tag %s%s rises %s/h in the %s pool (now %s): a suspected leak, not proven yet (%d samples " \
                  "over %s)." % (tag, " (%s)" % detail if detail else "", human_bytes(size_fit["bytes_per_hour"]), pool,
                                 human_bytes(now), size_fit["samples"], _span_text(size_fit["span_hours"]))
    finding = _finding("pool_leak", severity, subject, now, ctx.share(now), growth, eta, evidence, kb)
    finding["confidence"] = "proven" if proven else "suspected"
    return _item(finding, summary)


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


def _low_memory_events(ctx, found):
    """Event 2004 (Resource-Exhaustion-Detector): Windows ran low on virtual memory, a limit that was
    hit (proven); the process that consumed most names the culprit, likely when it dominates the
    event's list. Folded into a commit finding when the snapshot has one."""
    events = [e for e in ctx.windows.get("low_memory_events") or [] if isinstance(e, dict)]
    if not events:
        return []
    last = events[-1]
    procs = [p for p in last.get("processes") or [] if isinstance(p, dict) and isinstance(p.get("bytes"), int)]
    procs.sort(key=lambda p: -p["bytes"])
    lines = ["Windows reported a low virtual memory condition (event 2004) %d time(s)%s" % (
        len(events), ", last at %s" % last["time"] if last.get("time") else "")]
    lines += ["event 2004: %s (pid %s) consumed %s" % (p.get("name"), p.get("pid"), _mib(p["bytes"])) for p in procs[:3]]
    commit = [item for item in found if item["finding"]["id"] == "commit_exhaustion"]
    if commit:
        commit[0]["finding"]["evidence"].extend(lines)
        commit[0]["finding"]["severity"] = "critical"
        return []
    if not procs:
        return []
    top, second = procs[0], (procs[1] if len(procs) > 1 else None)
    dominant = second is None or top["bytes"] >= ctx.opts["pool_dominance_ratio"] * max(second["bytes"], 1)
    subject = {"kind": "process", "name": top.get("name"), "owner": "pid %s" % top.get("pid"), "version": None}
    finding = _finding("commit_exhaustion", "critical", subject, top["bytes"], ctx.share(top["bytes"]), None, None,
                       lines + (["%s consumed %.1f x the next process (%s)" % (
                           top.get("name"), float(top["bytes"]) / max(second["bytes"], 1), second.get("name"))]
                           if second else []), None)
    finding["confidence"] = "likely" if dominant else "suspected"
    finding["missing"] = [evidence_mod.missing("windows_processes")]
    summary = ("Windows ran out of virtual memory (event 2004); %s (pid %s) consumed the most, %s." % (
        top.get("name"), top.get("pid"), human_bytes(top["bytes"])))
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
            "span_hours": round(fit["span_hours"], 4), "confidence": fit["confidence"], "proven": bool(fit["leaking"])}


def _eta_withheld(fit):
    raw = fit.get("eta_beyond_evidence")
    if raw is None:
        return "no time to exhaustion (no limit known)"
    return "no time to exhaustion: at this rate it is %s away, more than %g x the %s observed" % (
        _span_text(raw), trend.DEFAULTS["eta_span_factor"], _span_text(fit["span_hours"]))


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
