# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Machine-readable fleet reports: summary.json, JUnit XML and the AWX set_stats data.

Every renderer here starts from the same row per host (``host_row``), so the
HTML page, the JSON summary, the JUnit file and the AWX artifacts show the same
numbers in the same order: most severe first, then the host that runs out of
memory soonest, then the most bytes, then the host name.

The keys of ``fleet_json`` are stable (``SUMMARY_SCHEMA``): every key is always
present, unknown values are null, counts list every verdict id and severity
(zero included), so dashboards and workflow conditions can rely on them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import (
    biggest_consumer, biggest_text, capture_text, culprit_text, headline_finding, human_bytes, next_step_text,
    step_target_text, verdict_line)
from ansible_collections.memleak.remediation.plugins.module_utils.schema import SEVERITIES, VERDICTS, severity_rank

SUMMARY_SCHEMA = 1
# Severities that make a host "unhealthy": a JUnit failure and an entry of ``unhealthy``.
UNHEALTHY = ("warning", "critical")
NOT_DIAGNOSED = "not_diagnosed"


def biggest_number(diagnosis):
    """(bytes, share of RAM, name) of the biggest consumer (text.biggest_consumer: one definition)."""
    return biggest_consumer(diagnosis)


def rate_text(bytes_per_hour):
    """'+12.0 MiB/h', '-1.0 KiB/h', '' for None."""
    if bytes_per_hour is None:
        return ""
    sign = "+" if bytes_per_hour >= 0 else "-"
    return "%s%s/h" % (sign, human_bytes(abs(bytes_per_hour)))


def eta_text(hours):
    """'3.5 h', '2.1 d', '' for None."""
    if hours is None:
        return ""
    if hours < 48:
        return "%.1f h" % hours
    return "%.1f d" % (hours / 24.0)


def host_row(diagnosis, report_name=None):
    """One host as every fleet report shows it; all keys always present."""
    verdict = diagnosis.get("verdict") or {}
    culprit = diagnosis.get("culprit") or {}
    finding = headline_finding(diagnosis) or {}
    growth = finding.get("growth") if isinstance(finding.get("growth"), dict) else {}
    plan = [p for p in diagnosis.get("plan") or [] if isinstance(p, dict)]
    first = plan[0] if plan else {}
    nbytes, share, what = biggest_number(diagnosis)
    host = diagnosis.get("host")
    return {
        "host": host,
        "verdict": verdict.get("id"),
        "severity": verdict.get("severity"),
        "confidence": verdict.get("confidence"),
        "missing": [m for m in verdict.get("missing") or [] if isinstance(m, dict)],
        "capture_text": capture_text(diagnosis),
        "summary": verdict.get("summary"),
        "culprit": {"kind": culprit.get("kind") or "none", "name": culprit.get("name") or None,
                    "owner": culprit.get("owner"), "version": culprit.get("version")},
        "culprit_text": culprit_text(diagnosis),
        "biggest_bytes": nbytes,
        "biggest_share": share,
        "biggest_subject": what,
        "biggest_text": biggest_text(diagnosis),
        "growth_bytes_per_hour": growth.get("bytes_per_hour"),
        "growth_confidence": growth.get("confidence"),
        "exhaustion_eta_hours": finding.get("exhaustion_eta_hours"),
        "next_step": first.get("step") or "none",
        "next_target": first.get("target"),
        "next_reason": first.get("reason"),
        "next_text": next_step_text(diagnosis),
        "findings": len(diagnosis.get("findings") or []),
        "report": report_name if report_name is not None else ("%s.json" % host if host else None),
        "line": verdict_line(diagnosis),
    }


def _sort_key(row):
    eta = row["exhaustion_eta_hours"]
    rank = severity_rank(row["severity"])
    return (-rank, eta is None, eta or 0.0, -(row["biggest_bytes"] or 0), str(row["host"] or ""))


def fleet_rows(diagnoses):
    """host_row of every diagnosis, most severe first, then soonest exhaustion, most bytes, host name."""
    rows = [host_row(d) for d in diagnoses if isinstance(d, dict)]
    rows.sort(key=_sort_key)
    return rows


def _missing_rows(missing):
    return [{"host": host, "reason": str(missing[host])} for host in sorted(missing or {}, key=str)]


def fleet_json(diagnoses, missing=None, generated_at=None, report_dir=None):
    """The summary.json document (schema ``SUMMARY_SCHEMA``)."""
    rows = fleet_rows(diagnoses)
    not_diagnosed = _missing_rows(missing)
    by_verdict = dict((vid, 0) for vid in sorted(VERDICTS))
    by_severity = dict((sev, 0) for sev in SEVERITIES)
    for row in rows:
        if row["verdict"] in by_verdict:
            by_verdict[row["verdict"]] += 1
        if row["severity"] in by_severity:
            by_severity[row["severity"]] += 1
    return {
        "schema": SUMMARY_SCHEMA,
        "generated_at": generated_at,
        "report_dir": report_dir,
        "hosts_total": len(rows) + len(not_diagnosed),
        "diagnosed": len(rows),
        "not_diagnosed": len(not_diagnosed),
        "counts": {"by_verdict": by_verdict, "by_severity": by_severity},
        "unhealthy": [row["host"] for row in rows if row["severity"] in UNHEALTHY],
        "hosts": rows,
        "not_diagnosed_hosts": not_diagnosed,
    }


def fleet_stats(diagnoses, missing=None):
    """Small data for AWX ``set_stats`` (workflow conditions, notifications): verdicts and counts only."""
    summary = fleet_json(diagnoses, missing)
    return {
        "memleak_verdicts": dict((row["host"], row["verdict"]) for row in summary["hosts"]),
        "memleak_severities": dict((row["host"], row["severity"]) for row in summary["hosts"]),
        "memleak_counts": dict(summary["counts"]["by_verdict"], **{NOT_DIAGNOSED: summary["not_diagnosed"]}),
        "memleak_severity_counts": summary["counts"]["by_severity"],
        "memleak_unhealthy": summary["unhealthy"],
        "memleak_not_diagnosed": dict((m["host"], m["reason"]) for m in summary["not_diagnosed_hosts"]),
        "memleak_hosts_total": summary["hosts_total"],
    }


def fleet_junit(diagnoses, missing=None, fail_on=UNHEALTHY, generated_at=None, suite="memleak.remediation.diagnose"):
    """JUnit XML: one test case per host; hosts whose severity is in ``fail_on`` fail, hosts not diagnosed error."""
    unknown = [s for s in fail_on or () if s not in SEVERITIES]
    if unknown:
        raise ValueError("fail_on: unknown severity %s (known: %s)"
                         % (", ".join(map(repr, unknown)), ", ".join(SEVERITIES)))
    by_host = dict((d.get("host"), d) for d in diagnoses if isinstance(d, dict))
    rows = fleet_rows(diagnoses)
    not_diagnosed = _missing_rows(missing)
    failures = [r for r in rows if r["severity"] in (fail_on or ())]
    root = ET.Element("testsuites", {"name": "memleak", "tests": str(len(rows) + len(not_diagnosed)),
                                     "failures": str(len(failures)), "errors": str(len(not_diagnosed)),
                                     "time": "0"})
    attrs = {"name": suite, "tests": root.get("tests"), "failures": root.get("failures"),
             "errors": root.get("errors"), "skipped": "0", "time": "0"}
    if generated_at:
        attrs["timestamp"] = str(generated_at).rstrip("Z")
    testsuite = ET.SubElement(root, "testsuite", attrs)
    for row in rows:
        case = ET.SubElement(testsuite, "testcase", _case_attrs(row["host"]))
        text = _case_text(row, by_host.get(row["host"]) or {})
        if row["severity"] in (fail_on or ()):
            failure = ET.SubElement(case, "failure", {
                "message": "%s [%s]: %s" % (row["verdict"], row["severity"], row["summary"] or ""),
                "type": str(row["verdict"])})
            failure.text = text
        else:
            out = ET.SubElement(case, "system-out")
            out.text = text
    for item in not_diagnosed:
        case = ET.SubElement(testsuite, "testcase", _case_attrs(item["host"]))
        error = ET.SubElement(case, "error", {"message": "not diagnosed: %s" % item["reason"],
                                              "type": NOT_DIAGNOSED})
        error.text = item["reason"]
    _xml_safe(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# Characters XML 1.0 forbids even as references: a process name may hold them (prctl PR_SET_NAME).
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value):
    """``value`` with every character XML 1.0 forbids shown as ``\\xNN`` / ``\\uNNNN``."""
    return _XML_FORBIDDEN.sub(lambda m: "\\x%02x" % ord(m.group(0)) if ord(m.group(0)) < 256
                              else "\\u%04x" % ord(m.group(0)), value)


def _xml_safe(root):
    for element in root.iter():
        if element.text:
            element.text = xml_text(element.text)
        for key, value in list(element.attrib.items()):
            element.set(key, xml_text(value))


def _case_attrs(host):
    return {"classname": "memleak.diagnose", "name": str(host), "time": "0"}


def _case_text(row, diagnosis):
    lines = ["verdict: %s [%s]" % (row["verdict"], row["severity"]),
             "summary: %s" % (row["summary"] or ""),
             "culprit: %s" % row["culprit_text"],
             "biggest: %s" % row["biggest_text"]]
    if row["growth_bytes_per_hour"] is not None:
        lines.append("growth: %s" % rate_text(row["growth_bytes_per_hour"]))
    if row["exhaustion_eta_hours"] is not None:
        lines.append("memory runs out in: %s" % eta_text(row["exhaustion_eta_hours"]))
    for number, step in enumerate(diagnosis.get("plan") or [], 1):
        if isinstance(step, dict):
            target = step_target_text(step.get("step"), step.get("target"))
            target = " (%s)" % target if target else ""
            lines.append("step %d: %s%s: %s" % (number, step.get("step"), target, step.get("reason") or ""))
    finding = headline_finding(diagnosis) or {}
    lines.extend("evidence: %s" % line for line in finding.get("evidence") or [] if isinstance(line, str))
    return "\n".join(lines)
