# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus textfile for one host: the diagnosis as gauges a textfile collector exposes.

node_exporter (``--collector.textfile.directory``) and windows_exporter (the
``textfile`` collector, ``--collector.textfile.directories``) read every
``*.prom`` file of a directory in the Prometheus text exposition format 0.0.4
and publish its samples with the host's own ``instance`` label. Their
conventions, followed here:

* plain text format (no OpenMetrics ``# EOF``, no ``info``/``stateset`` types:
  an info metric is a gauge ``..._info`` of value 1, a state set is one gauge
  per state, 1 for the current one and 0 for the others);
* no timestamps (the collectors reject them); the run time is a gauge,
  ``memleak_last_run_timestamp_seconds``, and the collectors add the file's
  mtime themselves (``node_textfile_mtime_seconds``);
* each family once, with HELP and TYPE, its samples together; no ``host``
  label (the scrape adds ``instance``);
* bounded label sets: ledger categories, the two pools, the top N series.

The role writes the file next to its final name and renames it (the copy
module's atomic move), so a collector never reads half a file.

Families (all gauges):

  memleak_verdict{verdict}                      1 for the current verdict, 0 for every other verdict id
  memleak_diagnosis_info{verdict, severity, culprit_kind, culprit, owner, version, next_step}   always 1
  memleak_severity                              0 ok, 1 info, 2 warning, 3 critical
  memleak_memory_bytes{kind}                    total, free, available, used, commit_used, commit_limit
  memleak_ledger_bytes{category}                the memory ledger (sums to total)
  memleak_pool_bytes{pool} / memleak_pool_limit_bytes{pool}   Windows nonpaged / paged pool
  memleak_series_bytes{series, kind, name}      largest slab caches, processes, tmpfs mounts, pool tags
  memleak_finding_bytes{finding, subject}       per finding
  memleak_finding_growth_bytes_per_hour{finding, subject}     when a rate was fitted
  memleak_finding_exhaustion_eta_hours{finding, subject}      when growth leads to exhaustion
  memleak_samples                               samples behind the trend (history + this run)
  memleak_last_run_timestamp_seconds            when the snapshot was read (Unix time)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.memleak.remediation.plugins.module_utils import series as _series
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.formats import host_row
from ansible_collections.memleak.remediation.plugins.module_utils.schema import SEVERITIES, VERDICTS
from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours

PREFIX = "memleak"
MEMORY_KINDS = ("total", "free", "available", "used", "commit_used", "commit_limit")
# Series prefix (series.py) -> kind label.
SERIES_KINDS = (("slab:", "slab_cache"), ("proc:", "process"), ("tmpfs:", "tmpfs"), ("tag.np:", "pool_tag_nonpaged"),
                ("tag.p:", "pool_tag_paged"))
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def _label_value(value):
    return ("" if value is None else str(value)).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help_text(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class _Families(object):
    """Families in the order they were declared; samples of one family stay together."""

    def __init__(self):
        self.order = []
        self.help = {}
        self.samples = {}

    def declare(self, name, text):
        full = "%s_%s" % (PREFIX, name)
        if not _NAME.match(full):
            raise ValueError("invalid metric name %r" % full)
        if full not in self.help:
            self.order.append(full)
            self.help[full] = text
            self.samples[full] = []
        return full

    def add(self, name, value, labels=None):
        if value is None:
            return
        full = "%s_%s" % (PREFIX, name)
        pairs = sorted((labels or {}).items())
        self.samples[full].append((tuple(pairs), value))

    def render(self):
        lines = []
        for full in self.order:
            if not self.samples[full]:
                continue
            lines.append("# HELP %s %s" % (full, _help_text(self.help[full])))
            lines.append("# TYPE %s gauge" % full)
            seen = set()
            for pairs, value in self.samples[full]:
                if pairs in seen:
                    continue
                seen.add(pairs)
                label_text = ",".join('%s="%s"' % (k, _label_value(v)) for k, v in pairs)
                lines.append("%s%s %s" % (full, "{%s}" % label_text if label_text else "", _number(value)))
        return "\n".join(lines) + "\n"


def _top_series(snapshot, top):
    """(series name, kind, name, bytes) of the largest tables in the snapshot, via series.compact_sample."""
    values = _series.compact_sample(snapshot, top=top)["s"]
    out = []
    for key, value in values.items():
        for prefix, kind in SERIES_KINDS:
            if key.startswith(prefix) and value > 0:
                out.append((key, kind, key[len(prefix):], value))
    out.sort(key=lambda item: (-item[3], item[0]))
    return out


def _pool_limits(snapshot):
    pools = ((snapshot.get("windows") or {}).get("pools") or {})
    limits = dict((pool, (pools.get(pool) or {}).get("limit")) for pool in ("nonpaged", "paged"))
    if None in limits.values() and pools:
        try:
            from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.pool_limits import (
                limits_for_snapshot)
            computed = limits_for_snapshot(snapshot) or {}
        except (ValueError, TypeError, KeyError, AttributeError):
            computed = {}
        for pool in limits:
            if limits[pool] is None:
                limits[pool] = computed.get(pool)
    return limits


def textfile(snapshot, diagnosis, top=10):
    """The textfile for one host (text format 0.0.4, ends with a newline)."""
    snapshot = snapshot or {}
    diagnosis = diagnosis or {}
    row = host_row(diagnosis)
    fam = _Families()

    fam.declare("verdict", "Verdict of the last memory diagnosis: 1 for the current verdict id, 0 for the others.")
    for vid in sorted(VERDICTS):
        fam.add("verdict", 1 if vid == row["verdict"] else 0, {"verdict": vid})
    fam.declare("diagnosis_info", "The last memory diagnosis: verdict, severity, culprit and next step as labels.")
    culprit = row["culprit"]
    fam.add("diagnosis_info", 1, {"verdict": row["verdict"], "severity": row["severity"],
                                  "culprit_kind": culprit["kind"], "culprit": culprit["name"] or "",
                                  "owner": culprit["owner"] or "", "version": culprit["version"] or "",
                                  "next_step": row["next_step"]})
    fam.declare("severity", "Severity of the last memory diagnosis: 0 ok, 1 info, 2 warning, 3 critical.")
    if row["severity"] in SEVERITIES:
        fam.add("severity", SEVERITIES.index(row["severity"]))

    fam.declare("memory_bytes", "Memory totals of the host in bytes (RAM, free, available, used, commit).")
    memory = snapshot.get("memory") or {}
    for kind in MEMORY_KINDS:
        if isinstance(memory.get(kind), int):
            fam.add("memory_bytes", memory[kind], {"kind": kind})

    fam.declare("ledger_bytes", "Memory ledger: where the RAM is, by category, in bytes (sums to total).")
    for entry in diagnosis.get("ledger") or []:
        if isinstance(entry, dict) and isinstance(entry.get("bytes"), int):
            fam.add("ledger_bytes", entry["bytes"], {"category": entry.get("category")})

    pools = ((snapshot.get("windows") or {}).get("pools") or {})
    fam.declare("pool_bytes", "Windows kernel pool usage in bytes.")
    fam.declare("pool_limit_bytes", "Windows kernel pool limit in bytes (as reported, else the published maximum).")
    if pools:
        limits = _pool_limits(snapshot)
        for pool in ("nonpaged", "paged"):
            used = (pools.get(pool) or {}).get("bytes")
            if isinstance(used, int):
                fam.add("pool_bytes", used, {"pool": pool})
            if isinstance(limits.get(pool), int):
                fam.add("pool_limit_bytes", limits[pool], {"pool": pool})

    fam.declare("series_bytes", "Largest slab caches, processes (PSS, else RSS), tmpfs mounts and pool tags, in bytes.")
    for key, kind, name, value in _top_series(snapshot, top):
        fam.add("series_bytes", value, {"series": key, "kind": kind, "name": name})

    fam.declare("finding_bytes", "Bytes held by the subject of each finding.")
    fam.declare("finding_growth_bytes_per_hour", "Fitted growth of each finding's series, bytes per hour.")
    fam.declare("finding_exhaustion_eta_hours", "Hours until memory (or the pool) runs out at the finding's rate.")
    for finding in diagnosis.get("findings") or []:
        if not isinstance(finding, dict):
            continue
        subject = finding.get("subject") or {}
        labels = {"finding": finding.get("id"), "subject": subject.get("name") or ""}
        fam.add("finding_bytes", finding.get("bytes"), labels)
        growth = finding.get("growth") if isinstance(finding.get("growth"), dict) else {}
        fam.add("finding_growth_bytes_per_hour", growth.get("bytes_per_hour"), labels)
        fam.add("finding_exhaustion_eta_hours", finding.get("exhaustion_eta_hours"), labels)

    fam.declare("samples", "Samples behind the trend: host history plus this run's samples.")
    fam.add("samples", len(snapshot.get("samples") or []))
    fam.declare("last_run_timestamp_seconds", "When the snapshot was read, Unix time in seconds.")
    try:
        fam.add("last_run_timestamp_seconds", round(to_hours(snapshot.get("collected_at")) * 3600.0, 3))
    except (AttributeError, TypeError, ValueError):
        pass
    return fam.render()
