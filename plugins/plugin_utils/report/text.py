# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain-text renderings of diagnoses: the one line per host and the fleet summary.

Kept out of the role's templates so that every number printed has one
definition, testable without running a play.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.memleak.remediation.plugins.module_utils.schema import SEVERITIES, severity_rank

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_NOT_IN_USE = ("free", "available")


def human_bytes(value):
    """1536 -> '1.5 KiB'; None -> 'n/a'. Binary units, as free(1) -h prints."""
    if value is None:
        return "n/a"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return "%d B" % int(size)
            return "%.1f %s" % (size, unit)
        size /= 1024.0
    return "%d B" % int(value)  # pragma: no cover


def headline_finding(diagnosis):
    """The finding behind the verdict: same id, else the largest by bytes."""
    findings = diagnosis.get("findings") or []
    verdict_id = (diagnosis.get("verdict") or {}).get("id")
    same = [f for f in findings if f.get("id") == verdict_id]
    pool = same or findings
    if not pool:
        return None
    return max(pool, key=lambda f: f.get("bytes") or 0)


def _culprit_text(diagnosis):
    culprit = diagnosis.get("culprit") or {}
    kind = culprit.get("kind") or "none"
    if kind == "none":
        return "no culprit"
    text = "%s %s" % (kind, culprit.get("name") or "?")
    extra = [x for x in (culprit.get("owner"), culprit.get("version")) if x]
    if extra:
        text += " (%s)" % ", ".join(extra)
    return text


def _next_step(diagnosis):
    plan = diagnosis.get("plan") or []
    if not plan:
        return "none"
    step = plan[0]
    target = step.get("target")
    return step.get("step", "none") + (" %s" % target if target else "")


def _biggest(diagnosis):
    """Bytes of the finding behind the verdict; with no finding, the largest ledger category in use
    (not Linux's ``free`` nor Windows' ``available``)."""
    finding = headline_finding(diagnosis)
    if finding and finding.get("bytes") is not None:
        text = human_bytes(finding["bytes"])
        if finding.get("share") is not None:
            text += " (%.1f %% of RAM)" % (100.0 * finding["share"])
        return text
    ledger = [e for e in diagnosis.get("ledger") or []
              if e.get("category") not in _NOT_IN_USE and e.get("bytes")]
    if not ledger:
        return "n/a"
    total = sum(e.get("bytes") or 0 for e in diagnosis.get("ledger") or [])
    top = max(ledger, key=lambda e: e["bytes"])
    return "%s %s (%.1f %% of RAM)" % (top["category"], human_bytes(top["bytes"]), 100.0 * top["bytes"] / total)


# Public names for the other renderers (report_formats, report_html): one definition per number.
culprit_text = _culprit_text
next_step_text = _next_step
biggest_text = _biggest


def verdict_line(diagnosis, host=None):
    """'host: VERDICT [severity] | culprit | biggest | next step' on one line."""
    verdict = diagnosis.get("verdict") or {}
    return "%s: %s [%s] | %s | %s | next: %s" % (
        host or diagnosis.get("host") or "?",
        verdict.get("id", "?"), verdict.get("severity", "?"),
        _culprit_text(diagnosis), _biggest(diagnosis), _next_step(diagnosis))


def fleet_summary(diagnoses, missing=None, report_dir=None):
    """Markdown fleet table, most severe first; hosts without a diagnosis are listed, never dropped.

    ``diagnoses`` is a list of diagnosis dicts; ``missing`` maps host -> reason
    (unreachable, failed) for hosts the play could not diagnose.
    """
    missing = missing or {}
    rows = sorted(diagnoses, key=lambda d: (-severity_rank((d.get("verdict") or {}).get("severity"), len(SEVERITIES)),
                                           d.get("host") or ""))
    lines = ["# Memory diagnosis summary", ""]
    counts = {}
    for diag in rows:
        vid = (diag.get("verdict") or {}).get("id", "?")
        counts[vid] = counts.get(vid, 0) + 1
    overview = ", ".join("%s %d" % (k, counts[k]) for k in sorted(counts))
    lines.append("%d host(s) diagnosed%s; %d not diagnosed." % (
        len(rows), (" (" + overview + ")") if overview else "", len(missing)))
    lines += ["", "| host | verdict | severity | culprit | biggest | next step | summary |",
              "|---|---|---|---|---|---|---|"]
    for diag in rows:
        verdict = diag.get("verdict") or {}
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % tuple(
            _cell(x) for x in (diag.get("host"), verdict.get("id"), verdict.get("severity"),
                               _culprit_text(diag), _biggest(diag), _next_step(diag),
                               verdict.get("summary"))))
    for host in sorted(missing):
        lines.append("| %s | not diagnosed | unknown | | | | %s |" % (_cell(host), _cell(missing[host])))
    if report_dir:
        lines += ["", "Per-host details: `%s/<host>.json`." % report_dir]
    return "\n".join(lines) + "\n"


def _cell(value):
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")
