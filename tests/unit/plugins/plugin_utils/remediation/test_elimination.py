"""The elimination sequence of seed 000, replayed run by run on timestamped histories.

Each simulated run does what the remediate role does: diagnose the snapshot (the real
diagnosis of the seed 004 meminfo, its history series driven by the scenario),
ask ``next_step`` for the one step, and append the ledger entry it would write. The
tests assert what an operator reads in the ledger afterwards.
"""

import os
from datetime import datetime, timedelta

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation import elimination
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.plugin_utils.remediation.elimination import EliminationError, next_step
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import windows_findings, windows_plan

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures")
MIB = 1024 * 1024
START = datetime(2026, 3, 2, 0, 0)  # a Monday
ALWAYS = [{"days": "daily", "start": "00:00", "end": "24:00"}]


def stamp(hours):
    return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed004_snapshot(at_hours, boot="boot-1"):
    path = os.path.join(FIXTURES, "meminfo", "centos7.4-3.10.0-693.el7-vmware.meminfo")
    with open(path) as handle:
        meminfo = parse_meminfo(handle.read(), path)
    snap = schema.new_snapshot("vm01", stamp(at_hours))
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    snap["boot_id"] = boot
    snap["virt"]["platform"] = "vmware"
    snap["linux"]["meminfo"] = meminfo
    return snap


class Host(object):
    """A host whose series follows ``rate(hours)`` (bytes per hour), sampled every 6 h."""

    def __init__(self, rate, name="ledger.unaccounted", start=3 * 1024 * MIB, every=6, boot="boot-1"):
        self.rate, self.name, self.every, self.boot = rate, name, every, boot
        self.value = float(start)
        self.hours = 0
        self.samples = [self._sample()]
        self.ledger = []

    def _sample(self):
        wobble = (self.hours // self.every % 2) * 64 * 1024  # measurement noise, far below the rates
        return {"v": 1, "t": stamp(self.hours), "boot": self.boot, "s": {self.name: int(self.value) + wobble}}

    def advance(self, hours):
        for dummy in range(0, hours, self.every):
            self.value += self.rate(self.hours) * self.every
            self.hours += self.every
            self.samples.append(self._sample())

    def diagnose(self, **thresholds):
        snap = seed004_snapshot(self.hours, self.boot)
        last = series.compact_sample(snap, memory_ledger(snap))
        last["s"][self.name] = self.samples[-1]["s"][self.name]
        snap["samples"] = self.samples[:-1] + [last]
        return diagnosis.diagnose(snap, options=thresholds or None), snap

    def run(self, options=None, outcome="done", diag=None):
        """One remediate run: decide, act (pretend), record. Returns the decision."""
        if diag is None:
            diag, dummy = self.diagnose()
        opts = {"vmware_guest": True, "observe_hours": 24}
        opts.update(options or {})
        decision = next_step(diag, self.ledger, self.samples, stamp(self.hours), opts)
        if decision["action"] == "run":
            result = "sent" if decision["step"] == "escalate" and outcome == "done" else outcome
            self.ledger.append(elimination.ledger_entry(decision, result, stamp(self.hours), boot=self.boot,
                                                        key=decision["idempotency_key"]))
        elif decision["action"] == "close":
            self.ledger.append(elimination.ledger_entry(decision, "closed", stamp(self.hours), boot=self.boot))
        return decision

    def steps(self):
        return [(e["step"], e["result"]) for e in self.ledger]


def steady_leak(hours):
    return 4 * MIB


def test_snapshot_alone_changes_nothing():
    host = Host(steady_leak)
    decision = host.run()
    assert decision["step"] == "none" and decision["action"] == "wait"
    assert "growth is not proven" in decision["reason"]
    assert host.ledger == []


def test_patch_then_tools_then_leak_stops_and_the_case_closes():
    # Seed 000: patch the OS; the leak goes on; upgrade VMware Tools; the leak stops.
    tools_at = []

    def rate(hours):
        return 0 if tools_at and hours >= tools_at[0] else 4 * MIB

    host = Host(rate)
    host.advance(30)                       # six rising samples: growth proven
    first = host.run()
    assert first["step"] == "patch_os" and first["sequence"] == ["patch_os", "vmware_tools", "escalate"]
    assert first["case"] == "unaccounted_kernel:kernel:unaccounted"
    assert host.steps() == [("patch_os", "done")]

    host.advance(12)                       # half the observation window: no judgment yet
    waiting = host.run()
    assert waiting["action"] == "wait" and waiting["judged"]["state"] == "observing"
    assert len(host.ledger) == 1

    host.advance(24)                       # 36 h of new samples, still rising
    second = host.run()
    assert second["step"] == "vmware_tools" and second["judged"]["state"] == "growing"
    assert second["judged"]["bytes_per_hour"] == 4 * MIB
    tools_at.append(host.hours)

    host.advance(36)
    closing = host.run()
    assert closing["action"] == "close", closing
    assert "Growth stopped after vmware_tools" in closing["reason"]
    assert host.steps() == [("patch_os", "done"), ("vmware_tools", "done"), ("close", "closed")]

    # The memory stays held (still a warning-size finding) but does not grow: nothing more to do.
    host.advance(48)
    for dummy in range(3):
        after = host.run()
        assert after["step"] == "none" and after["action"] == "none"
        assert after["reason"].startswith("Case closed")
    assert len(host.ledger) == 3


def test_patch_then_tools_then_leak_continues_so_it_is_escalated_once():
    host = Host(steady_leak)
    host.advance(30)
    assert host.run()["step"] == "patch_os"
    host.advance(36)
    assert host.run()["step"] == "vmware_tools"
    host.advance(36)
    escalation = host.run()
    assert escalation["step"] == "escalate" and escalation["judged"]["state"] == "growing"
    assert escalation["target"] == "OS vendor"
    key = escalation["idempotency_key"]
    assert host.ledger[-1]["key"] == key and host.ledger[-1]["result"] == "sent"
    # Later runs: the leak goes on, but the ticket exists: no second one, nothing else to try.
    for dummy in range(3):
        host.advance(36)
        later = host.run()
        assert later["step"] == "none" and later["action"] == "wait"
        assert "Escalated %s" % host.ledger[-1]["t"] in later["reason"] and key in later["reason"]
        assert later["idempotency_key"] == key
    assert host.steps() == [("patch_os", "done"), ("vmware_tools", "done"), ("escalate", "sent")]


def test_failed_escalation_is_retried_with_the_same_key_every_run():
    host = Host(steady_leak)
    host.advance(30)
    diag, dummy = host.diagnose()
    keys = []
    for dummy in range(3):
        decision = host.run({"sequence": ["escalate"]}, outcome="failed", diag=diag)
        assert decision["step"] == "escalate"
        keys.append(decision["idempotency_key"])
    assert len(set(keys)) == 1 and host.steps() == [("escalate", "failed")] * 3
    assert "failed 3 time(s)" in host.run({"sequence": ["escalate"]}, diag=diag)["reason"]


def test_failed_patch_is_retried_then_skipped():
    host = Host(steady_leak)
    host.advance(30)
    assert host.run(outcome="failed")["step"] == "patch_os"
    retry = host.run(outcome="failed")
    assert retry["step"] == "patch_os" and "failed 1 time(s)" in retry["reason"]
    moved = host.run()
    assert moved["step"] == "vmware_tools" and "patch_os failed 2 times; moving on" in moved["reason"]


def test_a_step_with_nothing_to_change_is_not_observed():
    host = Host(steady_leak)
    host.advance(30)
    assert host.run(outcome="unchanged")["step"] == "patch_os"
    nxt = host.run()
    assert nxt["step"] == "vmware_tools" and "patch_os found nothing to change" in nxt["reason"]


def fast_process():
    """A process leaking 256 MiB/h: MemAvailable (910 MiB) runs out within hours."""
    return Host(lambda hours: 256 * MIB, name="proc:leaky[4242]", start=300 * MIB, every=1)


def process_diagnosis(host):
    diag, snap = host.diagnose(unaccounted_share=1.0)
    assert diag["verdict"]["id"] == "process_leak" and diag["culprit"]["name"] == "leaky"
    return diag


def test_restart_is_a_stop_gap_only_inside_a_window_and_not_protected():
    host = fast_process()
    host.advance(5)
    diag = process_diagnosis(host)
    eta = elimination.eta_hours(diag)
    assert eta is not None and eta < 48

    outside = next_step(diag, [], host.samples, stamp(host.hours),
                        {"maintenance_windows": ["sat,sun 22:00-04:00"]})  # a Monday, 04:00
    assert outside["step"] == "escalate" and outside["restart_blocked"] == "outside the maintenance windows"
    assert "memory runs out in about" in outside["reason"]

    protected = next_step(diag, [], host.samples, stamp(host.hours),
                          {"maintenance_windows": ALWAYS, "protected": True})
    assert protected["step"] == "escalate" and protected["restart_blocked"] == "the host is on the protect list"

    no_window = next_step(diag, [], host.samples, stamp(host.hours))
    assert no_window["step"] == "escalate" and no_window["restart_blocked"] == "no maintenance window is configured"

    budget = next_step(diag, [], host.samples, stamp(host.hours),
                       {"maintenance_windows": ALWAYS, "restart_budget": False})
    assert budget["step"] == "escalate" and "fleet" in budget["restart_blocked"]

    inside = next_step(diag, [], host.samples, stamp(host.hours), {"maintenance_windows": ["mon 04:00-06:00"]})
    assert inside["step"] == "restart" and inside["reboot_allowed"] and inside["target"] == "vm01"

    # Far from exhaustion the restart is not taken even inside a window.
    calm = next_step(diag, [], host.samples, stamp(host.hours),
                     {"maintenance_windows": ALWAYS, "restart_eta_hours": 0.5})
    assert calm["step"] == "escalate" and calm["restart_blocked"] is None


def test_after_a_restart_the_new_boot_is_observed_and_not_restarted_again():
    host = fast_process()
    host.advance(5)
    decision = host.run({"maintenance_windows": ALWAYS}, diag=process_diagnosis(host))
    assert decision["step"] == "restart" and host.steps() == [("restart", "done")]
    # The restart resets the process: a new boot segment starts low and is observed.
    host.boot, host.value = "boot-2", 300 * MIB
    host.advance(1)
    diag, dummy = host.diagnose(unaccounted_share=1.0)
    observing = host.run({"maintenance_windows": ALWAYS}, diag=diag)
    assert observing["action"] == "wait" and observing["case"] == "process_leak:process:leaky"
    assert observing["judged"]["state"] == "observing" and observing["judged"]["samples"] == 1
    # It grows back fast: another restart is due, but not within 24 h of the last one: escalate instead.
    host.advance(5)
    urgent = host.run({"maintenance_windows": ALWAYS}, diag=process_diagnosis(host))
    assert urgent["step"] == "escalate"
    assert urgent["restart_blocked"] == "restarted %s, less than 24 h ago" % host.ledger[0]["t"]
    assert host.steps() == [("restart", "done"), ("escalate", "sent")]


def balloon_diagnosis():
    return {"schema": 1, "host": "vm02",
            "verdict": {"id": "balloon_inflation", "severity": "warning", "summary": "The hypervisor took back 4 GiB."},
            "culprit": {"kind": "balloon", "name": "vmw_balloon", "owner": "VMware", "version": None},
            "ledger": [], "findings": [{"id": "balloon_inflation", "severity": "warning",
                                        "subject": {"kind": "balloon", "name": "vmw_balloon", "owner": "VMware"},
                                        "bytes": 4 << 30, "share": 0.5, "growth": None,
                                        "exhaustion_eta_hours": None, "evidence": [], "kb": None}],
            "plan": [{"step": "escalate", "reason": "Ask the virtualization owner.",
                      "target": "virtualization owner (VMware)"}]}


def test_balloon_inflation_goes_to_the_virtualization_owner_not_the_os():
    decision = next_step(balloon_diagnosis(), [], [], "2026-03-02T10:00:00Z",
                         {"sequence": ["patch_os", "escalate"], "vmware_guest": True,
                          "maintenance_windows": ALWAYS})
    assert decision["step"] == "escalate" and decision["sequence"] == ["escalate"]
    assert decision["target"] == "virtualization owner (VMware)"
    bundle = elimination.evidence_bundle(balloon_diagnosis(), {"virt": {"platform": "vmware"}}, [], decision)
    assert bundle["audience"] == "virtualization owner"


def test_knowledge_base_order_is_followed_for_an_old_vmware_tools():
    # Seed 000 on a host with VMware Tools 9.10: the knowledge base puts VMware Tools first.
    import json
    with open(os.path.join(FIXTURES, "windows", "seed000_vmware_vfil_vnet.json")) as handle:
        snap = json.load(handle)
    snap["virt"]["tools"] = {"name": "VMware Tools", "version": "9.10.0"}
    findings = windows_findings(snap)
    plan = windows_plan(snap, findings)
    diag = {"schema": 1, "host": "win01", "verdict": {"id": findings[0]["id"], "severity": "critical",
                                                      "summary": "pool leak"},
            "culprit": {"kind": "pool_tag", "name": findings[0]["subject"]["name"], "owner": "VMware Tools"},
            "findings": findings, "plan": plan}
    decision = next_step(diag, [], snap.get("samples"), "2026-03-02T10:00:00Z",
                         {"vmware_guest": True, "restart_eta_hours": 0})
    assert decision["sequence"] == ["vmware_tools", "patch_os", "escalate"]
    assert decision["step"] == "vmware_tools" and decision["target"] == ">= 10.0.8"


def test_the_idempotency_key_is_stable_per_case_and_new_after_a_close():
    key = elimination.idempotency_key("vm01", "unaccounted_kernel:kernel:unaccounted", "2026-03-02T00:00:00Z")
    assert key == elimination.idempotency_key("vm01", "unaccounted_kernel:kernel:unaccounted",
                                              "2026-03-02T00:00:00Z")
    assert key != elimination.idempotency_key("vm02", "unaccounted_kernel:kernel:unaccounted",
                                              "2026-03-02T00:00:00Z")
    assert key != elimination.idempotency_key("vm01", "unaccounted_kernel:kernel:unaccounted",
                                              "2026-04-02T00:00:00Z")


def test_a_closed_case_reopens_only_when_it_grows_again():
    grows = [True]
    host = Host(lambda hours: 4 * MIB if grows[0] else 0)
    host.advance(30)
    assert host.run({"sequence": ["patch_os", "escalate"]})["step"] == "patch_os"
    grows[0] = False
    host.advance(30)
    assert host.run({"sequence": ["patch_os", "escalate"]})["action"] == "close"
    host.advance(30)
    assert host.run({"sequence": ["patch_os", "escalate"]})["action"] == "none"
    grows[0] = True
    host.advance(36)
    reopened = host.run({"sequence": ["patch_os", "escalate"]})
    assert reopened["step"] == "patch_os" and reopened["opened_at"] == stamp(host.hours)
    assert reopened["idempotency_key"] != host.ledger[0]["key"]


def test_healthy_host_without_open_case_needs_nothing():
    diag = {"schema": 1, "host": "h", "verdict": {"id": "healthy", "severity": "ok", "summary": "All fine."},
            "culprit": {"kind": "none", "name": ""}, "findings": [],
            "plan": [{"step": "none", "reason": "x", "target": None}]}
    decision = next_step(diag, [], [], "2026-03-02T00:00:00Z")
    assert decision == dict(decision, step="none", action="none", case=None)
    assert decision["reason"] == "Nothing to remediate: All fine."


@pytest.mark.parametrize("now, windows, inside", [
    ("2026-03-07T23:00:00Z", ["sat,sun 22:00-04:00"], True),     # Saturday evening
    ("2026-03-09T03:59:00Z", ["sat,sun 22:00-04:00"], True),     # Monday early: Sunday's window
    ("2026-03-09T04:00:00Z", ["sat,sun 22:00-04:00"], False),
    ("2026-03-06T23:00:00Z", ["sat,sun 22:00-04:00"], False),    # Friday
    ("2026-03-04T01:30:00Z", [{"days": "daily", "start": "01:00", "end": "03:00"}], True),
    ("2026-03-04T01:30:00+02:00", [{"days": "daily", "start": "01:00", "end": "03:00"}], False),
    ("2026-03-04T12:00:00Z", [], False),
])
def test_maintenance_windows_are_utc_and_may_cross_midnight(now, windows, inside):
    assert elimination.in_window(now, windows) is inside


@pytest.mark.parametrize("options, message", [
    ({"observe_hours": "soon"}, "observe_hours must be a number"),
    ({"maintenance_windows": ["someday 1-2"]}, "maintenance window day 'som'"),
    ({"maintenance_windows": [{"days": "mon", "start": "25:00", "end": "26:00"}]}, "out of 00:00..24:00"),
    ({"sequence": ["restart"]}, "sequence must be a non-empty list"),
    ({"colour": 1}, "unknown option 'colour'"),
    ({"protected": "maybe"}, "protected must be true or false"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(EliminationError, match=message):
        next_step(balloon_diagnosis(), [], [], "2026-03-02T00:00:00Z", options)


def test_a_bad_ledger_entry_is_named():
    with pytest.raises(EliminationError, match="ledger entry 2: step 'reboot'"):
        next_step(balloon_diagnosis(), [
            {"t": "2026-03-01T00:00:00Z", "case": "c", "step": "patch_os", "result": "done"},
            {"t": "2026-03-01T00:00:00Z", "case": "c", "step": "reboot", "result": "done"}],
            [], "2026-03-02T00:00:00Z")


def test_the_key_survives_a_ledger_entry_written_later_than_the_decision():
    host = Host(steady_leak)
    host.advance(30)
    diag, dummy = host.diagnose()
    first = next_step(diag, [], host.samples, stamp(host.hours), {"sequence": ["escalate"]})
    entry = elimination.ledger_entry(first, "failed", stamp(host.hours + 0.01), key=first["idempotency_key"])
    assert entry["opened"] == stamp(host.hours) != entry["t"]
    again = next_step(diag, [entry], host.samples, stamp(host.hours + 6), {"sequence": ["escalate"]})
    assert again["step"] == "escalate" and again["idempotency_key"] == first["idempotency_key"]


def test_booleans_from_extra_vars_are_read_as_booleans():
    host = fast_process()
    host.advance(5)
    diag = process_diagnosis(host)
    blocked = next_step(diag, [], host.samples, stamp(host.hours),
                        {"maintenance_windows": ALWAYS, "protected": "true", "require_growth": "false"})
    assert blocked["restart_blocked"] == "the host is on the protect list"
    allowed = next_step(diag, [], host.samples, stamp(host.hours), {"maintenance_windows": ALWAYS, "protected": "no"})
    assert allowed["step"] == "restart"
