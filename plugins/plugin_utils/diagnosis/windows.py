# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows diagnosis: a snapshot in, one memleak_diagnosis out.

The Windows twin of the Linux diagnosis (linux.diagnose), with the same output (docs/architecture.md,
Data contracts, schema 1: schema, host, verdict, culprit, ledger, findings, plan),
for live snapshots of win_pool_facts and offline ones (poolmon, ``!vm``).
Pure: no I/O, no clock.

How one verdict is chosen for a host (the Linux rule)
-----------------------------------------------------
windows_rules.ranked_findings lists every check over its threshold
(``OPTIONS``): pool_leak, socket_exhaustion, pool_pressure, commit_exhaustion
(plus the alarms of an offline ``!vm``). Findings of severity ``warning`` or
``critical`` are abnormal. The verdict is the abnormal finding with the highest
severity and, among equal severities, the most bytes (at equal bytes the more
specific id: pool_leak before socket_exhaustion before pool_pressure before
commit_exhaustion). One finding never competes: a commit charge held by the
kernel pools while a pool finding is abnormal, because the pool finding names
its cause. Without an abnormal finding the verdict is ``healthy``.

Memory ledger: where the RAM is
-------------------------------
Five categories that add up to the RAM Windows sees (``memory.total``, else
``os.ram_bytes``: Win32_ComputerSystem TotalPhysicalMemory, or ``!vm``'s
physical memory), listed in this order:

``nonpaged_pool``
    windows.pools.nonpaged.bytes (Pool Nonpaged Bytes). The nonpaged pool is
    never paged out, so all of it is in RAM.
``paged_pool_resident``
    windows.pools.paged.resident (Pool Paged Resident Bytes): the part of the
    paged pool that is in RAM now. When unknown it is 0 and that memory stays
    in ``other``.
``process_private``
    The private memory of the processes the snapshot lists (win_pool_facts
    lists the largest by private bytes and by handles): for each, its private
    bytes capped at its working set, because private bytes also count pages in
    the page file and only what is in the working set can be in RAM. An upper
    estimate of their private memory in RAM.
``available``
    memory.available (Available Bytes): the standby, free and zero page lists,
    memory Windows can hand out at once (the standby list is file cache).
``other``
    RAM minus the above: the modified list, the system cache working set and
    mapped files in use, driver and kernel images, page tables, shared pages of
    processes, processes not listed, and memory taken by a hypervisor balloon.

The measured categories are filled first, each capped at what is left of RAM:
available, nonpaged_pool, paged_pool_resident, then the process_private
estimate, and ``other`` is the rest. So the memory ledger always sums to RAM and no
category is negative, even when the counters were read moments apart. When the
RAM is not known (a capture without it) the memory ledger is empty.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.thresholds import resolve as resolve_thresholds
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import human_bytes
from ansible_collections.memleak.remediation.plugins.module_utils.schema import DIAGNOSIS_SCHEMA, VERDICTS
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import evidence as evidence_mod
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import (
    OPTIONS, ranked_findings, snapshot_pool_limits, windows_plan)

LEDGER_CATEGORIES = ("nonpaged_pool", "paged_pool_resident", "process_private", "available", "other")
DEFAULTS = dict((option[0], option[1]) for option in OPTIONS)

_ABNORMAL = ("warning", "critical")


class WindowsDiagnosisError(ValueError):
    """Input the Windows diagnosis cannot work with (not a Windows snapshot, no figures, bad option)."""


def resolve_options(options=None):
    """DEFAULTS overridden by ``options``; numbers may come as strings (extra vars)."""
    return resolve_thresholds(options, OPTIONS, WindowsDiagnosisError)


def ram_bytes(snapshot):
    """The RAM the memory ledger adds up to: memory.total, else os.ram_bytes; None when neither is known."""
    total = (snapshot.get("memory") or {}).get("total")
    if not _is_size(total):
        total = (snapshot.get("os") or {}).get("ram_bytes")
    return total if _is_size(total) and total > 0 else None


def windows_memory_ledger(snapshot):
    """[{category, bytes}] in LEDGER_CATEGORIES order, summing to ram_bytes(snapshot); [] when it is unknown."""
    total = ram_bytes(snapshot)
    if total is None:
        return []
    windows = snapshot.get("windows") or {}
    pools = windows.get("pools") or {}
    left = [total]

    def take(value):
        size = min(max(int(value), 0), left[0]) if _is_size(value) else 0
        left[0] -= size
        return size

    values = {}
    values["available"] = take((snapshot.get("memory") or {}).get("available"))
    values["nonpaged_pool"] = take((pools.get("nonpaged") or {}).get("bytes"))
    values["paged_pool_resident"] = take((pools.get("paged") or {}).get("resident"))
    private = 0
    for proc in windows.get("processes") or []:
        if not isinstance(proc, dict) or not _is_size(proc.get("private_bytes")):
            continue
        size = proc["private_bytes"]
        if _is_size(proc.get("working_set")):
            size = min(size, proc["working_set"])
        private += max(size, 0)
    values["process_private"] = take(private)
    values["other"] = left[0]
    return [{"category": name, "bytes": values[name]} for name in LEDGER_CATEGORIES]


def diagnose_windows(snapshot, options=None, ledger=None):
    """memleak_diagnosis (schema 1) for one Windows snapshot.

    ``options`` overrides thresholds of windows_rules.OPTIONS; ``ledger`` is a
    memory ledger for this snapshot (computed when None; it must sum to its RAM).
    Raises WindowsDiagnosisError for input that is not a Windows snapshot, a
    snapshot without any memory figure, a bad option or a memory ledger of another
    snapshot.
    """
    if not isinstance(snapshot, dict) or "schema" not in snapshot or "os" not in snapshot:
        raise WindowsDiagnosisError("input is not a memleak_snapshot (no 'schema'/'os' keys)")
    family = (snapshot.get("os") or {}).get("family")
    if family != "windows" or not isinstance(snapshot.get("windows"), dict):
        raise WindowsDiagnosisError("snapshot of %s is a %s snapshot: this diagnosis reads Windows snapshots only"
                                    % (snapshot.get("host", "?"), family or "non-Windows"))
    if not _has_figures(snapshot):
        raise WindowsDiagnosisError("snapshot of %s holds no memory figure (RAM, pools, pool tags, commit): "
                                    "nothing to diagnose; see its warnings" % snapshot.get("host", "?"))
    opts = resolve_options(options)
    computed = windows_memory_ledger(snapshot)
    entries = computed if ledger is None else _check_ledger(ledger, ram_bytes(snapshot))

    ranked = ranked_findings(snapshot, opts)
    findings = [item["finding"] for item in ranked]
    eligible = [item for item in ranked if item["finding"]["severity"] in _ABNORMAL and not item["explained_by"]]
    if eligible:
        winner = eligible[0]
        finding = winner["finding"]
        verdict = {"id": finding["id"], "severity": finding["severity"], "summary": winner["summary"]}
        subject = finding["subject"]
        culprit = {"kind": subject.get("kind"), "name": subject.get("name"), "owner": subject.get("owner"),
                   "version": subject.get("version")}
        plan = windows_plan(snapshot, findings, opts)  # findings[0] is the winner: ranked_findings' order
        verdict["confidence"], verdict["missing"] = finding.get("confidence", "likely"), list(finding.get("missing") or [])
    else:
        verdict = {"id": "healthy", "severity": VERDICTS["healthy"], "summary": _healthy_summary(snapshot)}
        culprit = {"kind": "none", "name": "", "owner": None, "version": None}
        plan = windows_plan(snapshot, [], opts)
        verdict["confidence"], verdict["missing"] = _healthy_evidence(snapshot, findings)
    return {
        "schema": DIAGNOSIS_SCHEMA,
        "host": snapshot.get("host"),
        "verdict": verdict,
        "culprit": culprit,
        "ledger": entries,
        "findings": findings,
        "plan": plan,
    }


def _has_figures(snapshot):
    windows = snapshot.get("windows") or {}
    pools = windows.get("pools") or {}
    memory = snapshot.get("memory") or {}
    return bool(ram_bytes(snapshot) or windows.get("tags") or _is_size(memory.get("commit_used"))
                or windows.get("low_memory_events")
                or any(_is_size((pools.get(p) or {}).get("bytes")) for p in ("nonpaged", "paged"))
                or (windows.get("pool_alerts") or {}).get("failed_allocations"))


def _healthy_summary(snapshot):
    total = ram_bytes(snapshot)
    available = (snapshot.get("memory") or {}).get("available")
    text = "No abnormal memory use"
    if _is_size(available) and total:
        text += ": %s of %s (%.1f %%) available" % (human_bytes(available), human_bytes(total),
                                                    100.0 * available / total)
    nonpaged = ((snapshot.get("windows") or {}).get("pools") or {}).get("nonpaged") or {}
    if _is_size(nonpaged.get("bytes")):
        text += "; nonpaged pool %s" % human_bytes(nonpaged["bytes"])
    limits = snapshot_pool_limits(snapshot)[0]
    if not limits["nonpaged"] or not limits["paged"]:
        text += " (pool limits unknown: pool pressure could not be judged)"
    return text + "."


def _healthy_evidence(snapshot, findings):
    """A healthy Windows verdict is likely when pools, their limits and tags were seen and nothing is
    suspected, else suspected; it asks for what its findings miss as well."""
    windows = snapshot.get("windows") or {}
    limits = snapshot_pool_limits(snapshot)[0]
    wanted = evidence_mod.merge_missing(*[f.get("missing") for f in findings])
    if not windows.get("tags"):
        wanted.append(evidence_mod.missing("poolused"))
    if not (limits["nonpaged"] and limits["paged"]):
        wanted.append(evidence_mod.missing("systeminfo"))
    wanted = evidence_mod.merge_missing(wanted)
    return ("suspected" if wanted else "likely"), wanted


def _check_ledger(ledger, total):
    if not isinstance(ledger, list) or not all(
            isinstance(e, dict) and isinstance(e.get("category"), str) and _is_size(e.get("bytes"))
            and e["bytes"] >= 0 for e in ledger):
        raise WindowsDiagnosisError("ledger must be a list of {category, bytes} with bytes >= 0")
    added = sum(e["bytes"] for e in ledger)
    if total is not None and added != total:
        raise WindowsDiagnosisError("ledger adds up to %d bytes but the RAM is %d: it belongs to another snapshot"
                                    % (added, total))
    return ledger


def _is_size(value):
    return isinstance(value, int) and not isinstance(value, bool)
