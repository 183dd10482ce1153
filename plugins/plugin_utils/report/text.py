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


def subject_text(kind, name):
    """'slab_cache dentry'; 'kernel pools', 'hugepages-2048kB': the kind only when the name does not start with it."""
    kind = (kind or "").strip()
    name = ("" if name is None else str(name)).strip()
    if not name:
        return kind or "?"
    if not kind or name.lower().startswith(kind.lower()):
        return name
    return "%s %s" % (kind, name)


def _culprit_text(diagnosis):
    culprit = diagnosis.get("culprit") or {}
    kind = culprit.get("kind") or "none"
    if kind == "none":
        return "no culprit"
    text = subject_text(kind, culprit.get("name") or "?")
    extra = [x for x in (culprit.get("owner"), culprit.get("version")) if x]
    if extra:
        text += " (%s)" % ", ".join(extra)
    return text


def step_target_text(step, target):
    """What a plan step's target means in words; a patch_os target is what runs now, not a version to install."""
    if not target:
        return ""
    target = str(target)
    if step == "patch_os":
        if target[:1].isdigit():
            return "running kernel %s, update to the vendor's latest" % target
        if target.startswith("the "):
            return "update %s to the vendor's latest" % target
        return "running %s, update to the vendor's latest" % target
    return target


def step_text(step):
    """'patch_os (running kernel 6.1.0, update to the vendor's latest)', 'escalate (OS vendor)', 'none'."""
    name = step.get("step") or "none"
    target = step_target_text(name, step.get("target"))
    return name + (" (%s)" % target if target else "")


def _next_step(diagnosis):
    plan = [p for p in diagnosis.get("plan") or [] if isinstance(p, dict)]
    if not plan:
        return "none"
    return step_text(plan[0])


# Snapshot warnings that mean "readable as root only" (linux_collect's wording).
_ROOT_ONLY = ("needs root", "not root")


def privilege_gaps(snapshot):
    """What this snapshot could not read for lack of root: ['slabinfo', 'processes'] (the warning labels)."""
    gaps = []
    for warning in (snapshot or {}).get("warnings") or []:
        if isinstance(warning, str) and any(marker in warning for marker in _ROOT_ONLY):
            label = warning.split(":", 1)[0].strip()
            if label and label not in gaps:
                gaps.append(label)
    return gaps


def partial_text(snapshot):
    """'partial diagnosis (slabinfo, processes unreadable without root): run with --become', or ''."""
    gaps = privilege_gaps(snapshot)
    if not gaps:
        return ""
    return "partial diagnosis (%s unreadable without root): run with --become" % ", ".join(gaps)


def biggest_consumer(diagnosis):
    """(bytes, share of RAM, name) of the biggest consumer: the largest finding with its subject, else the
    largest ledger category in use (not Linux's ``free`` nor Windows' ``available``); (None, None, None)."""
    findings = [f for f in diagnosis.get("findings") or [] if isinstance(f, dict) and isinstance(f.get("bytes"), int)]
    ledger = [e for e in diagnosis.get("ledger") or [] if isinstance(e, dict)]
    total = sum(e.get("bytes") or 0 for e in ledger)
    if findings:
        top = max(findings, key=lambda f: f["bytes"])
        subject = top.get("subject") or {}
        share = top.get("share")
        if share is None and total:
            share = round(float(top["bytes"]) / total, 4)
        return top["bytes"], share, subject_text(subject.get("kind"), subject.get("name")) if subject else top.get("id")
    used = [e for e in ledger if e.get("category") not in _NOT_IN_USE and e.get("bytes")]
    if not used:
        return None, None, None
    top = max(used, key=lambda e: e["bytes"])
    return top["bytes"], (round(float(top["bytes"]) / total, 4) if total else None), top["category"]


def _biggest(diagnosis):
    """'slab_cache dentry 2.1 GiB (26.0 % of RAM)': the biggest consumer, always with its name."""
    nbytes, share, name = biggest_consumer(diagnosis)
    if nbytes is None:
        return "n/a"
    return "%s %s%s" % (name, human_bytes(nbytes), " (%.1f %% of RAM)" % (100.0 * share) if share is not None else "")


# Public names for the other renderers (report_formats, report_html): one definition per number.
culprit_text = _culprit_text
next_step_text = _next_step
biggest_text = _biggest


def confidence_text(diagnosis):
    """', likely' to follow the severity in brackets; '' for a diagnosis from before confidences."""
    confidence = (diagnosis.get("verdict") or {}).get("confidence")
    return ", %s" % confidence if confidence else ""


def capture_text(diagnosis):
    """The commands to capture next, '; '-separated ('' when nothing is missing)."""
    missing = (diagnosis.get("verdict") or {}).get("missing") or []
    return "; ".join(m.get("command") for m in missing if isinstance(m, dict) and m.get("command"))


def verdict_line(diagnosis, host=None, snapshot=None):
    """'host: VERDICT [severity, confidence] | culprit | biggest | next step | capture: commands' on one line;
    the capture part only when evidence is missing. With the snapshot, a diagnosis made without root says so
    and how to complete it."""
    verdict = diagnosis.get("verdict") or {}
    capture = capture_text(diagnosis)
    line = "%s: %s [%s%s] | %s | %s | next: %s%s" % (
        host or diagnosis.get("host") or "?",
        verdict.get("id", "?"), verdict.get("severity", "?"), confidence_text(diagnosis),
        _culprit_text(diagnosis), _biggest(diagnosis), _next_step(diagnosis),
        " | capture: %s" % capture if capture else "")
    partial = partial_text(snapshot)
    return line + (" | " + partial if partial else "")


_ACTIONS = {"run": "run %s", "close": "close the case", "wait": "wait", "none": "nothing to do"}


def decision_line(decision, host=None, check_mode=False):
    """One remediation decision: 'web1: run patch_os (running kernel ..) [case]: reason', 'web2: wait [case]: reason',
    'web3: nothing to do: reason'; check mode says 'would run' / 'would close'."""
    action = decision.get("action") or "none"
    step = decision.get("step") or "none"
    text = _ACTIONS.get(action, action + " %s")
    if "%s" in text:
        text = text % step_text({"step": step, "target": decision.get("target")})
    if check_mode and action in ("run", "close"):
        text = "would " + text
    case = decision.get("case")
    return "%s: %s%s: %s" % (host or decision.get("host") or "?", text, " [%s]" % case if case else "",
                             decision.get("reason") or "")


def fleet_summary(diagnoses, missing=None, report_dir=None, snapshots=None):
    """Markdown fleet table, most severe first; hosts without a diagnosis are listed, never dropped.

    ``diagnoses`` is a list of diagnosis dicts; ``missing`` maps host -> reason
    (unreachable, failed) for hosts the play could not diagnose; ``snapshots`` (a list
    or {host: snapshot}) lets a diagnosis made without root say it is partial.
    """
    missing = missing or {}
    if isinstance(snapshots, dict):
        by_host = snapshots
    else:
        by_host = dict((s.get("host"), s) for s in snapshots or [] if isinstance(s, dict))
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
    lines += ["", "| host | verdict | severity | confidence | culprit | biggest | next step | capture next | summary |",
              "|---|---|---|---|---|---|---|---|---|"]
    for diag in rows:
        verdict = diag.get("verdict") or {}
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(
            _cell(x) for x in (diag.get("host"), verdict.get("id"), verdict.get("severity"),
                               verdict.get("confidence"), _culprit_text(diag), _biggest(diag), _next_step(diag),
                               capture_text(diag),
                               " ".join(x for x in (verdict.get("summary"),
                                                    _sentence(partial_text(by_host.get(diag.get("host"))))) if x))))
    for host in sorted(missing):
        lines.append("| %s | not diagnosed | unknown | | | | | | %s |" % (_cell(host), _cell(missing[host])))
    if report_dir:
        lines += ["", "Per-host details: `%s/<host>.json`." % report_dir]
    return "\n".join(lines) + "\n"


def _sentence(text):
    return text[:1].upper() + text[1:] + "." if text else ""


_CELL_ESCAPES = (("\\", "\\\\"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("![", "!\\["),
                 ("`", "\\`"), ("\r\n", " "), ("\r", " "), ("\n", " "))


def _cell(value):
    """A table cell that renders as the text it holds: host data (process names, capture text) is not
    Markdown or HTML, and no line break may end the row early."""
    text = "" if value is None else str(value)
    for old, new in _CELL_ESCAPES:
        text = text.replace(old, new)
    return "".join(c if c >= " " or c == "\t" else " " for c in text)
