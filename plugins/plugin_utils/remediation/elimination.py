# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The elimination sequence (docs/architecture.md, Elimination): the ONE next remediation step of a host.

Input: the host's diagnosis (with the knowledge base's ``kb`` and plan order when
present), its remediation ledger (what was done, when, with what result), its
samples (history + this run) and the options. Output: one decision. Pure: no
I/O and no clock (``now`` is passed in), so every sequence can be replayed from
fixtures.

The rules, in the order they are applied
----------------------------------------
* A **case** is one problem on one host: ``<verdict id>:<culprit kind>:<culprit
  name>`` (a process case is named without its pid, so a restarted process is
  the same case). Remediation ledger entries carry the case; a ``close`` entry ends it.
* The **sequence** of a case comes from the plan: its ``patch_os``,
  ``vmware_tools`` and ``escalate`` steps in plan order (``restart`` is never a
  sequence step, only a stop-gap), ``escalate`` always last. On a VMware guest
  with a kernel-side culprit (pool tag, slab cache, kernel) ``vmware_tools``
  follows ``patch_os`` when the plan lacks it (a VMware guest whose nonpaged pool
  was eaten by VFil/VNet was cured by patching the OS; VMware Tools came next). Balloon inflation is not a guest problem: its only step is
  escalation to the virtualization owner.
* **Nothing is changed on a snapshot alone**: the first step needs proven
  growth (a finding with an exhaustion ETA, or a pool leak), unless
  ``require_growth`` is off. Balloon inflation is escalated without it.
* **One step per run, then observe.** A step is judged only when the samples
  taken after it cover ``observe_hours`` (and are at least ``min_samples``):
  the culprit's series still grows -> the next step of the sequence; it does not
  -> the case is closed. Fewer samples -> keep observing, change nothing.
  A step that found nothing to do (``result: unchanged``) is not observed: the
  next run goes on. A failed step is tried again up to ``max_attempts`` times,
  then skipped (escalation is retried every run with the same key: a ticket is
  never lost).
* **Restart is a stop-gap**, taken before any other step when memory runs out
  sooner than ``restart_eta_hours``, and only inside a maintenance window, for a
  host not on the protect list, within the fleet's reboot budget, and not again
  within ``observe_hours`` of the last restart. When it is wanted but not
  allowed, the case is escalated at once (if not escalated yet), with the reason.
* A closed case is reopened only when its series is proven growing again with
  samples taken after the close.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
from datetime import datetime, timedelta

from ansible_collections.memleak.remediation.plugins.module_utils.remediation_entry import (  # noqa: F401 (re-exported)
    LEDGER_FORMAT, LEDGER_STEPS, EliminationError, check_entry)
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend

SEQUENCE_STEPS = ("patch_os", "vmware_tools", "escalate")
_ACTED = ("done", "sent")
KERNEL_SIDE = ("pool_tag", "slab_cache", "kernel")
# Fit reasons that mean "not growing" (trend.fit): a series that only fails significance is undecided.
_NOT_GROWING = ("not growing", "growth too small", "growth has stopped", "one step")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DEFAULTS = {
    "observe_hours": 24.0,        # new samples a step needs before it is judged
    "min_samples": trend.DEFAULTS["min_samples"],
    "restart_eta_hours": 48.0,    # a restart is a stop-gap only when memory runs out sooner
    "maintenance_windows": [],    # [{days: [sat, sun] | daily, start: "22:00", end: "04:00"}] (UTC)
    "protected": False,           # host on the never-restart list
    "restart_budget": True,       # False when the fleet's share of restarts is used up
    "sequence": None,             # e.g. [patch_os, vmware_tools, escalate]; default from the plan
    "vmware_guest": False,        # add vmware_tools after patch_os for kernel-side culprits
    "require_growth": True,       # no step on a snapshot alone
    "max_attempts": 2,            # tries of a failing step before the sequence moves on
    "host": None,                 # for the idempotency key (default: the diagnosis' host)
}


# -- options ------------------------------------------------------------------------------

def resolve_options(options=None):
    opts = dict(DEFAULTS)
    if options is None:
        return opts
    if not isinstance(options, dict):
        raise EliminationError("options must be a dict, got %s" % type(options).__name__)
    for name, value in options.items():
        if name not in DEFAULTS:
            raise EliminationError("unknown option %r; known: %s" % (name, ", ".join(sorted(DEFAULTS))))
        if value is not None:
            opts[name] = value
    for name in ("observe_hours", "restart_eta_hours"):
        try:
            opts[name] = float(opts[name])
        except (TypeError, ValueError):
            raise EliminationError("%s must be a number of hours, got %r" % (name, opts[name]))
        if opts[name] < 0:
            raise EliminationError("%s must be 0 or more, got %r" % (name, opts[name]))
    for name in ("min_samples", "max_attempts"):
        try:
            opts[name] = int(opts[name])
        except (TypeError, ValueError):
            raise EliminationError("%s must be an integer, got %r" % (name, opts[name]))
        if opts[name] < 1:
            raise EliminationError("%s must be 1 or more, got %r" % (name, opts[name]))
    for name in ("protected", "restart_budget", "vmware_guest", "require_growth"):
        opts[name] = _bool(name, opts[name])
    opts["maintenance_windows"] = parse_windows(opts["maintenance_windows"])
    if opts["sequence"] is not None:
        seq = opts["sequence"]
        if isinstance(seq, str):
            seq = [s.strip() for s in seq.split(",") if s.strip()]
        bad = [s for s in seq if s not in SEQUENCE_STEPS]
        if not isinstance(seq, list) or bad or not seq:
            raise EliminationError("sequence must be a non-empty list of %s, got %r" % (
                ", ".join(SEQUENCE_STEPS), opts["sequence"]))
        opts["sequence"] = seq
    return opts


def _bool(name, value):
    """Booleans as extra vars bring them: true/false, yes/no, on/off, 1/0, as text or not."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "y"):
        return True
    if text in ("false", "no", "off", "0", "n", ""):
        return False
    raise EliminationError("%s must be true or false, got %r" % (name, value))


# -- maintenance windows ------------------------------------------------------------------

def _minutes(text, name):
    try:
        hours, minutes = str(text).strip().split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise EliminationError("maintenance window %s time %r is not HH:MM" % (name, text))
    if not 0 <= value <= 24 * 60:
        raise EliminationError("maintenance window %s time %r is out of 00:00..24:00" % (name, text))
    return value


def parse_windows(windows):
    """Normalise windows to [(set of weekday numbers, start minute, end minute)].

    A window is ``{days: [sat, sun] | "daily", start: "HH:MM", end: "HH:MM"}`` or the
    string ``"sat,sun 22:00-04:00"`` / ``"daily 01:00-03:00"``; times are UTC; a window
    whose end is not after its start runs past midnight and belongs to its start day.
    """
    if windows is None:
        return []
    if isinstance(windows, (str, dict)):
        windows = [windows]
    if not isinstance(windows, list):
        raise EliminationError("maintenance_windows must be a list, got %s" % type(windows).__name__)
    parsed = []
    for window in windows:
        if isinstance(window, tuple):
            parsed.append(window)
            continue
        if isinstance(window, str):
            try:
                days_text, span = window.split()
                start, end = span.split("-")
            except ValueError:
                raise EliminationError("maintenance window %r is not 'DAYS HH:MM-HH:MM'" % window)
            window = {"days": days_text.split(","), "start": start, "end": end}
        if not isinstance(window, dict) or "start" not in window or "end" not in window:
            raise EliminationError("maintenance window %r needs days, start and end" % (window,))
        days = window.get("days", "daily")
        if isinstance(days, str):
            days = [days]
        numbers = set()
        for day in days:
            day = str(day).strip().lower()[:3]
            if day in ("dai", "*", "all", "eve"):
                numbers.update(range(7))
            elif day in DAYS:
                numbers.add(DAYS.index(day))
            else:
                raise EliminationError("maintenance window day %r is not one of %s or daily" % (day, ", ".join(DAYS)))
        parsed.append((frozenset(numbers), _minutes(window["start"], "start"), _minutes(window["end"], "end")))
    return parsed


def _moment(stamp):
    text = stamp.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is not None:
        moment = (moment - moment.utcoffset()).replace(tzinfo=None)
    return moment


def in_window(now, windows):
    """True when the UTC time ``now`` (ISO text) falls inside one of the windows."""
    moment = _moment(now)
    minute = moment.hour * 60 + moment.minute
    for days, start, end in parse_windows(windows):
        if start < end:
            if moment.weekday() in days and start <= minute < end:
                return True
        else:  # past midnight: the part before midnight on a listed day, the rest the day after
            if moment.weekday() in days and minute >= start:
                return True
            if (moment - timedelta(days=1)).weekday() in days and minute < end:
                return True
    return False


# -- cases and series ---------------------------------------------------------------------

def top_finding(diagnosis):
    """The finding behind the verdict (same id, largest first), or None."""
    verdict = (diagnosis.get("verdict") or {}).get("id")
    findings = [f for f in diagnosis.get("findings") or [] if isinstance(f, dict)]
    same = [f for f in findings if f.get("id") == verdict]
    return (same or [None])[0]


def actionable(diagnosis):
    return (diagnosis.get("verdict") or {}).get("severity") in ("warning", "critical") and any(
        isinstance(p, dict) and p.get("step") not in (None, "none") for p in diagnosis.get("plan") or [])


def case_id(diagnosis):
    verdict = (diagnosis.get("verdict") or {}).get("id") or "unknown"
    culprit = diagnosis.get("culprit") or {}
    return "%s:%s:%s" % (verdict, culprit.get("kind") or "none", culprit.get("name") or "")


def series_selector(diagnosis):
    """The history series that shows whether the case still grows.

    ``proc:NAME[*]`` stands for every process called NAME (summed): the process
    keeps its case across restarts although its pid changes.
    """
    culprit = diagnosis.get("culprit") or {}
    kind, name = culprit.get("kind"), culprit.get("name") or ""
    finding = top_finding(diagnosis) or {}
    subject = finding.get("subject") or {}
    if kind == "process":
        return "proc:%s[*]" % name
    if kind == "slab_cache":
        return "slab:%s|ledger.slab_unreclaimable" % name
    if kind == "balloon":
        return "balloon"
    if kind == "tmpfs":
        return "ledger.shmem" if name == "Shmem" else "tmpfs:%s|ledger.shmem" % name
    if kind == "pool_tag":
        return "tag.np:%s|tag.p:%s" % (name, name)
    if kind == "kernel":
        return "ledger.%s" % (subject.get("name") or name or "unaccounted")
    return None


def points(samples, selector):
    """[(t, bytes, boot)] of the selected series: the first alternative present in the samples."""
    if not selector:
        return []
    for choice in selector.split("|"):
        found = []
        for sample in samples or []:
            if not isinstance(sample, dict):
                continue
            values = sample.get("s") or {}
            if choice.endswith("[*]"):
                prefix = choice[:-2]
                parts = [v for k, v in values.items() if k.startswith(prefix) and isinstance(v, (int, float))]
                value = sum(parts) if parts else None
            else:
                value = values.get(choice)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and sample.get("t"):
                found.append((sample["t"], value, sample.get("boot")))
        if found:
            return found
    return []


def judge(samples, selector, since, opts):
    """Does the case's series still grow in the samples taken after ``since``?

    Returns {state: growing|stopped|observing, samples, covered_hours, bytes_per_hour, reason}.
    Only the current boot's samples are fitted (a restart resets the memory).
    """
    after = [p for p in points(samples, selector) if trend.to_hours(p[0]) > trend.to_hours(since)]
    seg = trend.current_boot(sorted(after, key=lambda p: trend.to_hours(p[0])))
    covered = trend.to_hours(seg[-1][0]) - trend.to_hours(seg[0][0]) if len(seg) > 1 else 0.0
    out = {"state": "observing", "samples": len(seg), "covered_hours": round(covered, 2),
           "bytes_per_hour": None, "reason": ""}
    if len(seg) < opts["min_samples"] or covered < opts["observe_hours"]:
        out["reason"] = "%d sample(s) over %.1f h since the step; judged after %d over %.1f h" % (
            len(seg), covered, opts["min_samples"], opts["observe_hours"])
        return out
    fit = trend.fit(seg, options={"min_samples": opts["min_samples"]})
    out["bytes_per_hour"] = int(round(fit["bytes_per_hour"]))
    out["reason"] = fit["reason"]
    if fit["leaking"]:
        out["state"] = "growing"
    elif fit["bytes_per_hour"] <= 0 or fit["tau"] < 0.5 or fit["reason"].startswith(_NOT_GROWING):
        out["state"] = "stopped"
    else:  # rising, but not significantly yet: no verdict either way
        out["reason"] = "rising but not proven: %s" % fit["reason"]
    return out


def _in_current_boot(samples, selector):
    """Whether the series has a sample of the newest sample's boot (no samples: nothing to say)."""
    if not samples or not selector:
        return True
    newest = max(samples, key=lambda s: trend.to_hours(s["t"]) if s.get("t") else float("-inf"))
    return any(p[2] == newest.get("boot") for p in points(samples, selector))


def proven_growth(diagnosis):
    """The verdict's finding grows and the trend proves it (a rise over minutes is not enough)."""
    finding = top_finding(diagnosis) or {}
    if finding.get("confidence") == "suspected":
        return False
    return (finding.get("confidence") == "proven" or bool((finding.get("growth") or {}).get("proven"))
            or finding.get("exhaustion_eta_hours") is not None or finding.get("id") == "pool_leak")


def eta_hours(diagnosis):
    values = [f.get("exhaustion_eta_hours") for f in diagnosis.get("findings") or []
              if isinstance(f, dict) and f.get("severity") in ("warning", "critical")]
    values = [v for v in values if isinstance(v, (int, float))]
    return min(values) if values else None


def sequence_for(diagnosis, opts):
    verdict = (diagnosis.get("verdict") or {}).get("id")
    if verdict == "balloon_inflation":
        return ["escalate"]
    if opts["sequence"]:
        return list(opts["sequence"]) + ([] if "escalate" in opts["sequence"] else ["escalate"])
    else:
        seq = []
        for item in diagnosis.get("plan") or []:
            step = item.get("step") if isinstance(item, dict) else None
            if step in SEQUENCE_STEPS and step not in seq:
                seq.append(step)
    kind = (diagnosis.get("culprit") or {}).get("kind")
    if opts["vmware_guest"] and kind in KERNEL_SIDE and "vmware_tools" not in seq:
        seq.insert(seq.index("patch_os") + 1 if "patch_os" in seq else 0, "vmware_tools")
    if "escalate" in seq:
        seq.remove("escalate")
    return seq + ["escalate"]


def plan_target(diagnosis, step):
    for item in diagnosis.get("plan") or []:
        if isinstance(item, dict) and item.get("step") == step:
            return item.get("target"), item.get("reason")
    return None, None


# -- the remediation ledger-----------------------------------------------------------------

def case_history(entries, case):
    """(entries of the case's open instance, the last close entry of the case or None)."""
    mine = [e for e in entries if e.get("case") == case]
    closes = [i for i, e in enumerate(mine) if e.get("step") == "close"]
    if not closes:
        return mine, None
    return mine[closes[-1] + 1:], mine[closes[-1]]


def open_cases(entries):
    """Cases with entries after their last close, most recent last."""
    order = []
    for entry in entries:
        if entry.get("case") in order:
            order.remove(entry["case"])
        order.append(entry.get("case"))
    return [c for c in order if case_history(entries, c)[0]]


def idempotency_key(host, case, opened_at):
    """One key per case instance: the same ticket however often escalation runs."""
    text = "memleak.remediation|%s|%s|%s" % (host or "", case, opened_at)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


# -- the decision -------------------------------------------------------------------------

def _decision(case, step, reason, action=None, **extra):
    out = {"case": case, "step": step, "action": action or ("run" if step != "none" else "none"),
           "reason": reason, "target": None, "sequence": [], "tried": [], "judged": None,
           "eta_hours": None, "series": None, "idempotency_key": None, "reboot_allowed": False,
           "restart_blocked": None, "opened_at": None}
    out.update(extra)
    return out


def _restart_gate(now, opts, last_restart):
    """None when a restart may run now, else why not."""
    if opts["protected"]:
        return "the host is on the protect list"
    if not opts["restart_budget"]:
        return "the fleet's share of restarts for this run is used up"
    if not opts["maintenance_windows"]:
        return "no maintenance window is configured"
    if not in_window(now, opts["maintenance_windows"]):
        return "outside the maintenance windows"
    if last_restart is not None and trend.to_hours(now) - trend.to_hours(last_restart["t"]) < opts["observe_hours"]:
        return "restarted %s, less than %.0f h ago" % (last_restart["t"], opts["observe_hours"])
    return None


def _tried(history):
    return [{"step": e["step"], "t": e["t"], "result": e["result"]} for e in history]


def next_step(diagnosis, entries=None, samples=None, now=None, options=None):
    """The ONE next step for a host. See the module docstring for the rules.

    Returns {case, step, action (run|wait|close|none), reason, target, sequence, tried,
    judged, eta_hours, series, idempotency_key, reboot_allowed, restart_blocked, opened_at}.
    ``action`` run: do ``step`` now and record it; close: record the case as closed;
    wait / none: change nothing.
    """
    if not isinstance(diagnosis, dict) or "verdict" not in diagnosis:
        raise EliminationError("input is not a memleak_diagnosis (no 'verdict' key)")
    opts = resolve_options(options)
    entries = [check_entry(e, "ledger entry %d" % (i + 1)) for i, e in enumerate(entries or [])]
    samples = [s for s in samples or [] if isinstance(s, dict)]
    if now is None:
        stamps = [s.get("t") for s in samples if s.get("t")]
        if not stamps:
            raise EliminationError("now is required when there are no samples")
        now = max(stamps, key=trend.to_hours)
    host = opts["host"] or diagnosis.get("host")
    window_open = bool(opts["maintenance_windows"]) and in_window(now, opts["maintenance_windows"])
    reboot_allowed = window_open and not opts["protected"] and bool(opts["restart_budget"])

    current = case_id(diagnosis) if actionable(diagnosis) else None
    if current is None:
        pending = open_cases(entries)
        if not pending:
            return _decision(None, "none", "Nothing to remediate: %s" % (
                (diagnosis.get("verdict") or {}).get("summary") or "no abnormal finding."),
                reboot_allowed=reboot_allowed)
        case = pending[-1]
    else:
        case = current
    state = _Case(diagnosis, case, current == case, entries, samples, now, host, opts, reboot_allowed)

    if state.closed is not None and not state.history:
        reopened = _reopen_closed(state)
        if reopened is not None:
            return reopened
    if not state.steps and state.last_restart is not None:
        return _judge_restart(state)
    if not state.steps:
        return _first_step(state)
    return _judge_last_step(state)


class _Case(object):
    """One case of one host as the phases of next_step see it: its history, sequence and series."""

    def __init__(self, diagnosis, case, mine, entries, samples, now, host, opts, reboot_allowed):
        self.diagnosis = diagnosis
        self.case = case
        self.mine = mine  # the diagnosis of this run shows this case (else an open case it no longer shows)
        self.samples = samples
        self.now = now
        self.host = host
        self.opts = opts
        self.history, self.closed = case_history(entries, case)
        selector = series_selector(diagnosis) if mine else None
        if selector is None:
            selector = next((e.get("series") for e in reversed(self.history) if e.get("series")), None)
        self.selector = selector
        if mine:
            self.sequence = sequence_for(diagnosis, opts)
        else:
            self.sequence = next((list(e.get("sequence")) for e in reversed(self.history) if e.get("sequence")),
                                 list(opts["sequence"] or SEQUENCE_STEPS))
        eta = eta_hours(diagnosis) if mine else None
        if eta is not None and not _in_current_boot(samples, selector):
            eta = None  # the growth was fitted on an earlier boot: stale after a restart
        self.eta = eta
        # The case's first entry keeps when it was opened: the idempotency key must not depend on
        # how late in the run the entry was written.
        opened_at = (self.history[0].get("opened") or self.history[0]["t"]) if self.history else now
        self.balloon = case.startswith("balloon_inflation:")
        self.base = {"sequence": self.sequence, "tried": _tried(self.history), "eta_hours": eta,
                     "series": selector, "opened_at": opened_at, "reboot_allowed": reboot_allowed,
                     "idempotency_key": idempotency_key(host, case, opened_at)}
        restarts = [e for e in self.history if e["step"] == "restart" and e["result"] in _ACTED]
        self.last_restart = restarts[-1] if restarts else None
        self.steps = [e for e in self.history if e["step"] in SEQUENCE_STEPS]
        self.escalated = [e for e in self.steps if e["step"] == "escalate" and e["result"] == "sent"]

    def decide(self, step, reason, action=None, **extra):
        fields = dict(self.base)
        fields.update(extra)
        if step in ("patch_os", "vmware_tools", "escalate") and fields.get("target") is None and self.mine:
            fields["target"] = plan_target(self.diagnosis, step)[0]
        return _decision(self.case, step, reason, action, **fields)

    def judge_since(self, since):
        return judge(self.samples, self.selector, since, self.opts)

    def stop_gap(self):
        """A restart (or an urgent escalation) when memory runs out too soon; else None."""
        opts, eta = self.opts, self.eta
        if self.balloon or eta is None or eta >= opts["restart_eta_hours"]:
            return None
        blocked = _restart_gate(self.now, opts, self.last_restart)
        urgent = "memory runs out in about %.1f h (restart threshold %.0f h)" % (eta, opts["restart_eta_hours"])
        if blocked is None:
            return self.decide("restart", "Restart as a stop-gap: %s; the leak itself is still being eliminated."
                               % urgent, target=self.host, reboot_allowed=True)
        if not self.escalated:
            return self.decide("escalate", "Escalate now: %s and a restart is not allowed (%s)." % (urgent, blocked),
                               restart_blocked=blocked)
        return None

    def next_in_sequence(self, after, why):
        """The first step of the sequence after ``after`` not taken yet; wait when none is left."""
        done = set(e["step"] for e in self.steps if e["result"] in _ACTED + ("unchanged",))
        sequence, escalated = self.sequence, self.escalated
        position = sequence.index(after) + 1 if after in sequence else 0
        for step in sequence[position:]:
            if (step == "escalate" and escalated) or (step != "escalate" and step in done):
                continue
            plan_reason = plan_target(self.diagnosis, step)[1] if self.mine else None
            return self.decide(step, "%s%s" % (why, (" " + plan_reason) if plan_reason else ""))
        if escalated:
            return self.decide("none", "%s Escalated %s (key %s): waiting for the owner; nothing else to try." % (
                why, escalated[-1]["t"], escalated[-1].get("key") or self.base["idempotency_key"]), action="wait")
        return self.decide("none", "%s No step left in the sequence." % why, action="wait")


def _reopen_closed(state):
    """Phase 1: a closed case comes back only with growth proven after the close (None: it is reopened)."""
    closed = state.closed
    again = state.judge_since(closed["t"])
    if again["state"] != "growing":
        return state.decide("none", "Case closed %s (%s); no growth proven since." % (
            closed["t"], closed.get("reason") or "growth stopped"), judged=again, idempotency_key=None)
    state.base["opened_at"] = state.now
    state.base["idempotency_key"] = idempotency_key(state.host, state.case, state.now)
    return None


def _judge_restart(state):
    """Phase 2: only a stop-gap restart so far: judge the new boot like a step."""
    last_restart = state.last_restart
    verdict = state.judge_since(last_restart["t"])
    if verdict["state"] == "stopped":
        return state.decide("none", "No growth after the restart of %s (%s over %.1f h): close the case." % (
            last_restart["t"], verdict["reason"], verdict["covered_hours"]), action="close", judged=verdict)
    gap = state.stop_gap()
    if gap is not None:
        gap["judged"] = verdict
        return gap
    if verdict["state"] == "observing":
        return state.decide("none", "Observing the restart of %s: %s." % (last_restart["t"], verdict["reason"]),
                            action="wait", judged=verdict)
    return state.decide(state.sequence[0], "Growth resumed after the restart of %s: first step of the elimination (%s)."
                        % (last_restart["t"], " -> ".join(state.sequence)), judged=verdict)


def _first_step(state):
    """Phase 3: no step taken yet: a stop-gap if memory runs out soon, else the first step once growth is proven."""
    gap = state.stop_gap()
    if gap is not None:
        return gap
    if not state.mine:
        return state.decide("none", "Case %s was opened but no step was taken; the diagnosis no longer shows it."
                            % state.case, action="wait")
    if state.opts["require_growth"] and not state.balloon and not proven_growth(state.diagnosis):
        return state.decide("none", "Abnormal, but growth is not proven yet: nothing is changed on a snapshot alone. "
                            "Keep running the diagnosis (scheduled) to build the trend.", action="wait")
    first = state.sequence[0]
    plan_reason = plan_target(state.diagnosis, first)[1]
    return state.decide(first, "First step of the elimination (%s)." % " -> ".join(state.sequence)
                        + ((" " + plan_reason) if plan_reason else ""))


def _judge_last_step(state):
    """Phase 4: retry a failed step, pass one that found nothing, else judge the growth since the last step."""
    steps, opts = state.steps, state.opts
    last = steps[-1]
    if last["result"] == "failed":
        attempts = 0
        for entry in reversed(steps):
            if entry["step"] != last["step"] or entry["result"] != "failed":
                break
            attempts += 1
        if last["step"] == "escalate" or attempts < opts["max_attempts"]:
            return state.decide(last["step"], "Try %s again: it failed %d time(s), last %s (%s)." % (
                last["step"], attempts, last["t"], last.get("detail") or "no detail"))
        return state.next_in_sequence(last["step"], "%s failed %d times; moving on." % (last["step"], attempts))
    if last["result"] == "unchanged":
        return state.next_in_sequence(last["step"], "%s found nothing to change (%s)." % (
            last["step"], last.get("detail") or "already current"))

    since = last["t"]
    last_restart = state.last_restart
    if last_restart is not None and trend.to_hours(last_restart["t"]) > trend.to_hours(since):
        since = last_restart["t"]
    verdict = state.judge_since(since)
    if verdict["state"] == "stopped":
        return state.decide("none", "Growth stopped after %s on %s (%s over %.1f h): close the case." % (
            last["step"], last["t"], verdict["reason"], verdict["covered_hours"]), action="close",
            judged=verdict)
    gap = state.stop_gap()
    if gap is not None:
        gap["judged"] = verdict
        return gap
    if verdict["state"] == "observing":
        return state.decide("none", "Observing %s of %s: %s." % (last["step"], last["t"], verdict["reason"]),
                            action="wait", judged=verdict)
    result = state.next_in_sequence(last["step"], "Growth continues after %s (%s/h)." % (
        last["step"], verdict["bytes_per_hour"]))
    result["judged"] = verdict
    return result


def ledger_entry(decision, result, now, boot=None, detail=None, key=None, ticket=None):
    """The line to append to the remediation ledger for a decision that was acted on."""
    step = "close" if decision.get("action") == "close" else decision["step"]
    if step not in LEDGER_STEPS:
        raise EliminationError("decision step %r is not recorded in the ledger" % step)
    entry = {"v": LEDGER_FORMAT, "t": now, "case": decision["case"], "step": step,
             "result": "closed" if step == "close" else result, "reason": decision.get("reason"),
             "boot": boot, "series": decision.get("series"), "sequence": decision.get("sequence"),
             "opened": decision.get("opened_at")}
    if detail:
        entry["detail"] = detail
    if key:
        entry["key"] = key
    if ticket:
        entry["ticket"] = ticket
    return check_entry(entry)


def evidence_bundle(diagnosis, snapshot, entries, decision, max_samples=200):
    """The JSON body of an escalation: what an owner needs to act without asking back."""
    snapshot = snapshot or {}
    virt = snapshot.get("virt") or {}
    versions = {"os": snapshot.get("os"), "virt_platform": virt.get("platform"), "tools": virt.get("tools"),
                "balloon": virt.get("balloon"),
                "drivers": (snapshot.get("windows") or {}).get("drivers") or None}
    case = decision.get("case")
    return {
        "schema": 1,
        "kind": "memleak.remediation/escalation",
        "host": diagnosis.get("host"),
        "case": case,
        "idempotency_key": decision.get("idempotency_key"),
        "opened_at": decision.get("opened_at"),
        "audience": "virtualization owner" if (case or "").startswith("balloon_inflation:") else "owner of "
        + ((diagnosis.get("culprit") or {}).get("owner") or (diagnosis.get("culprit") or {}).get("name") or "host"),
        "reason": decision.get("reason"),
        "target": decision.get("target"),
        "verdict": diagnosis.get("verdict"),
        "culprit": diagnosis.get("culprit"),
        "eta_hours": decision.get("eta_hours"),
        "diagnosis": diagnosis,
        "versions": versions,
        "steps_tried": [e for e in entries or [] if isinstance(e, dict) and e.get("case") == case],
        "samples": list(snapshot.get("samples") or [])[-max_samples:],
        "collected_at": snapshot.get("collected_at"),
        "boot_id": snapshot.get("boot_id"),
    }
