# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows findings on snapshots shaped as win_pool_facts emits them (tests/fixtures/windows)."""

import copy
import json
import os
import re

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import history
from ansible_collections.memleak.remediation.plugins.module_utils.schema import (
    CULPRIT_KINDS,
    PLAN_STEPS,
    CONFIDENCES,
    SEVERITIES,
)
from ansible_collections.memleak.remediation.plugins.module_utils.series import compact_sample
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import (
    DEFAULTS,
    OPTIONS,
    ranked_findings,
    windows_findings,
    windows_plan,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "windows")
MODULE_PS1 = os.path.join(ROOT, "plugins", "modules", "win_pool_facts.ps1")
ALL_FIXTURES = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
MiB = 1024 * 1024


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def ids(findings):
    return [f["id"] for f in findings]


# ------------------------------------------------------------------ output contract of the module

SNAPSHOT_KEYS = ["schema", "host", "collected_at", "boot_id", "source", "os", "virt", "memory", "windows",
                 "samples", "warnings"]
SECTION_KEYS = {
    "os": ["family", "name", "version", "build", "arch", "kernel", "ram_bytes"],
    "virt": ["platform", "tools", "balloon"],
    "memory": ["total", "free", "available", "used", "commit_used", "commit_limit"],
    "windows": ["pools", "tags", "drivers", "processes", "tcp", "bugchecks", "boot_options"],
}
TAG_KEYS = ["tag", "protected", "paged_allocs", "paged_frees", "paged_bytes", "nonpaged_allocs", "nonpaged_frees",
            "nonpaged_bytes", "description"]
DRIVER_KEYS = ["file", "version", "company", "signed"]
PROCESS_KEYS = ["pid", "name", "private_bytes", "working_set", "handles"]
BUGCHECK_KEYS = ["time", "code", "params", "dump"]
SAMPLE_KEYS = ["v", "t", "boot", "s"]
# The series an in-run sample of win_pool_facts holds (PoolTagSampler.CompactSample), as series.py names them.
SERIES = re.compile(r"^(mem\.(available|free|used|commit_used)|pool\.(paged|nonpaged)|tag\.(p|np)(_out)?:.{1,16})$")


def _ps1_text():
    with open(MODULE_PS1, encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("key", sorted(set(SNAPSHOT_KEYS + sum(SECTION_KEYS.values(), []) + DRIVER_KEYS
                                           + PROCESS_KEYS + BUGCHECK_KEYS)
                                       - {"schema"}))
def test_module_emits_every_contract_key(key):
    """The .ps1 assigns each key of the contract the fixtures use (key = ... in an [ordered] table)."""
    assert re.search(r"[{;\s]%s\s*=" % re.escape(key), _ps1_text()), "win_pool_facts.ps1 never sets %r" % key


def test_tag_and_sample_keys_match_the_csharp_util():
    with open(os.path.join(ROOT, "plugins", "module_utils", "PoolTag.cs"), encoding="utf-8") as handle:
        source = handle.read()
    for key in TAG_KEYS + SAMPLE_KEYS:
        assert 'result["%s"]' % key in source, key
    for name in ("mem.available", "mem.free", "mem.used", "mem.commit_used", "pool.paged", "pool.nonpaged",
                 "tag.p:", "tag.p_out:", "tag.np:", "tag.np_out:"):
        assert '"%s"' % name in source, "PoolTag.cs does not name the series %s" % name


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_has_the_module_shape(name):
    snap = load(name)
    assert list(snap) == SNAPSHOT_KEYS
    for section, keys in SECTION_KEYS.items():
        assert list(snap[section]) == keys, section
    assert snap["schema"] == 1 and snap["os"]["family"] == "windows"
    win = snap["windows"]
    if win["pools"] is not None:
        assert list(win["pools"]) == ["nonpaged", "paged"]
        assert list(win["pools"]["nonpaged"]) == ["bytes", "limit"]
        assert list(win["pools"]["paged"]) == ["bytes", "resident", "limit"]
    for tag in win["tags"]:
        assert list(tag) == TAG_KEYS
    for files in win["drivers"].values():
        for item in files:
            assert list(item) == DRIVER_KEYS
    for proc in win["processes"]:
        assert list(proc) == PROCESS_KEYS
    for bug in win["bugchecks"]:
        assert list(bug) == BUGCHECK_KEYS
    for sample in snap["samples"]:
        assert list(sample) == SAMPLE_KEYS and sample["v"] == 1
        assert sample["boot"] == snap["boot_id"]
        assert sample["s"] and all(SERIES.match(name) for name in sample["s"]), sorted(sample["s"])
        assert all(isinstance(v, int) for v in sample["s"].values())
    if snap["samples"]:
        last = snap["samples"][-1]
        assert last["t"] == snap["collected_at"], "the snapshot is the last sample"
        # what series.compact_sample makes of the snapshot, with the module's tags, minus the balloon
        # (read once per run, not per sample)
        whole = copy.deepcopy(snap)
        whole["virt"]["balloon"] = None
        assert last == compact_sample(whole, top=len(win["tags"]))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_findings_have_the_diagnosis_shape(name):
    snap = load(name)
    for finding in windows_findings(snap):
        assert list(finding) == ["id", "severity", "subject", "bytes", "share", "growth", "exhaustion_eta_hours",
                                 "evidence", "kb", "confidence", "missing"]
        assert finding["confidence"] in CONFIDENCES
        assert all(sorted(entry) == ["command", "what"] for entry in finding["missing"])
        assert finding["severity"] in SEVERITIES
        assert finding["subject"]["kind"] in CULPRIT_KINDS
        assert isinstance(finding["bytes"], int)
        assert finding["evidence"] and all(isinstance(e, str) for e in finding["evidence"])
        if finding["growth"] is not None:
            assert set(finding["growth"]) == {"bytes_per_hour", "samples", "span_hours", "confidence", "proven"}
    for step in windows_plan(snap, windows_findings(snap)):
        assert step["step"] in PLAN_STEPS and step["reason"]
    json.dumps(windows_findings(snap))


# ------------------------------------------------------------------ seed 000: VFil / VNet on VMware

def test_seed000_vfil_vnet_leak_and_pressure():
    """Six in-run samples a minute apart: the pool at 96 % of its limit is proven (a hard limit), the
    tags' rise over 5 minutes is a suspected leak without an ETA."""
    snap = load("seed000_vmware_vfil_vnet.json")
    findings = windows_findings(snap)
    assert ids(findings) == ["pool_pressure", "pool_leak", "pool_leak", "commit_exhaustion"]
    pressure, leak = findings[0], findings[1]
    assert pressure["subject"]["name"] == "VFil" and pressure["severity"] == "critical"
    assert pressure["confidence"] == "proven"
    assert any("96.0 %" in line for line in pressure["evidence"])
    assert pressure["growth"]["bytes_per_hour"] == (1500 * 320 + 1100 * 320) * 60, "the whole nonpaged pool"
    assert pressure["exhaustion_eta_hours"] is None, "5 minutes of samples give no ETA"
    assert leak["subject"] == {"kind": "pool_tag", "name": "VFil", "owner": "vsepflt.sys (VMware, Inc.)",
                               "version": "12.0.0.0"}
    assert leak["severity"] == "warning" and leak["confidence"] == "suspected"
    assert leak["growth"]["samples"] == 6 and leak["growth"]["span_hours"] == round(5 / 60.0, 4)
    assert leak["growth"]["bytes_per_hour"] == 1500 * 320 * 60, "Theil-Sen slope of the tag's bytes"
    assert leak["growth"]["confidence"] > 0.99 and leak["growth"]["proven"] is False
    assert leak["exhaustion_eta_hours"] is None
    assert "tag VFil nonpaged outstanding allocations 30110000 -> 30117500 over 6 samples (5.0 min)" \
        in leak["evidence"][0]
    assert "rising, not proven yet (6 samples over 5.0 min): needs at least 3.0 h of samples" in leak["evidence"]
    assert "poolmon -b -n FILE" in [m["command"] for m in leak["missing"]]
    assert findings[2]["subject"]["name"] == "VNet"


def test_seed000_tools_12_is_not_the_kb_2077302_bug():
    snap = load("seed000_vmware_vfil_vnet.json")
    leak = windows_findings(snap)[0]
    assert leak["kb"]["id"] == "VMware KB 2077302" and leak["kb"]["fixed_in"] == "10.0.8"
    assert "VMware Tools 12.0.0 already includes the fix of VMware KB 2077302 (10.0.8): not that bug" in leak["evidence"]


def test_seed000_plan_patches_the_os_first():
    snap = load("seed000_vmware_vfil_vnet.json")
    plan = windows_plan(snap, windows_findings(snap))
    assert [s["step"] for s in plan] == ["patch_os", "vmware_tools", "escalate"]
    assert "not that bug" in plan[0]["reason"]
    assert plan[0]["target"] == "Microsoft Windows Server 2016 Standard"


def test_old_vmware_tools_are_upgraded_first():
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["virt"]["tools"]["version"] = "10.0.6.3595377"
    findings = windows_findings(snap)
    assert "VMware Tools 10.0.6.3595377 is older than 10.0.8: VMware KB 2077302 applies" in findings[0]["evidence"]
    plan = windows_plan(snap, findings)
    assert [s["step"] for s in plan] == ["vmware_tools", "patch_os", "escalate"]
    assert plan[0]["target"] == ">= 10.0.8"


def test_unknown_tools_version_is_said_not_assumed():
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["virt"]["tools"] = None
    leak = windows_findings(snap)[0]
    assert "VMware KB 2077302 is fixed in VMware Tools 10.0.8; the installed version is unknown" in leak["evidence"]
    assert windows_plan(snap, windows_findings(snap))[0]["step"] == "patch_os"


def test_seed000_commit_charge_is_blamed_on_the_pools_not_a_process():
    snap = load("seed000_vmware_vfil_vnet.json")
    commit = [f for f in windows_findings(snap) if f["id"] == "commit_exhaustion"][0]
    assert commit["subject"]["kind"] == "kernel"
    assert any("pools hold" in line for line in commit["evidence"])


def _set_tag(sample, tag, allocs, frees, nbytes, short="np"):
    sample["s"]["tag.%s:%s" % (short, tag)] = nbytes
    sample["s"]["tag.%s_out:%s" % (short, tag)] = (allocs - frees) % 2 ** 32


def test_steady_tag_is_pressure_not_leak():
    snap = load("seed000_vmware_vfil_vnet.json")
    first = snap["samples"][0]["s"]
    for sample in snap["samples"]:
        sample["s"] = dict(sample["s"], **dict((k, v) for k, v in first.items() if k.startswith("tag.")))
    found = ids(windows_findings(snap))
    assert "pool_leak" not in found and "pool_pressure" in found


def test_fewer_samples_than_the_minimum_are_not_enough_to_call_a_leak():
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["samples"] = snap["samples"][-3:]
    findings = windows_findings(snap)
    # Three screens: each rising tag is named with its growth, a suspected leak without an ETA.
    rises = [f for f in findings if f["id"] == "pool_leak"]
    assert [f["subject"]["name"] for f in rises] == ["VFil", "VNet"]
    assert all(f["confidence"] == "suspected" and f["exhaustion_eta_hours"] is None for f in rises)
    assert rises[0]["evidence"][0] == ("tag VFil nonpaged: +3000 allocations, +960,000 bytes in 2.0 min over 3 screens "
                                       "(outstanding 30114500 -> 30117500)")
    pressure = [f for f in findings if f["id"] == "pool_pressure"][0]
    assert pressure["exhaustion_eta_hours"] is None
    assert "growth of the nonpaged pool unproven: 3 samples: growth unproven (need 4)" in pressure["evidence"]
    # three rising samples are significant only at p < 0.15: the user may accept that
    loose = [f for f in windows_findings(snap, {"pool_leak_min_samples": 3, "pool_leak_alpha": 0.2})
             if f["id"] == "pool_leak"]
    assert loose and loose[0]["growth"]["samples"] == 3 and loose[0]["confidence"] == "suspected"


def test_four_rising_samples_are_enough_at_the_default_significance():
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["samples"] = snap["samples"][-4:]
    leak = [f for f in windows_findings(snap) if f["id"] == "pool_leak"][0]
    assert leak["growth"]["samples"] == 4 and leak["confidence"] == "suspected", "3 minutes prove nothing"
    assert 0.95 < leak["growth"]["confidence"] < 0.99


def test_slow_growth_is_not_a_leak():
    snap = load("seed000_vmware_vfil_vnet.json")
    assert "pool_leak" not in ids(windows_findings(snap, {"pool_leak_min_bytes_per_hour": 64 * MiB}))


def test_samples_of_another_boot_are_ignored():
    snap = load("seed000_vmware_vfil_vnet.json")
    for sample in snap["samples"][:-1]:
        sample["boot"] = "2024-01-01T00:00:00Z"
    assert "pool_leak" not in ids(windows_findings(snap))


def test_leak_detected_across_32_bit_counter_wrap():
    """Offline input: snapshots with raw counters, made compact by series.compact_sample."""
    snap = load("healthy_hyperv.json")
    allocs = [4294967000, 4294967200, 104, 400]      # wraps between the 2nd and 3rd sample
    frees = [4294966000, 4294966100, 4294966200, 4294966300]
    samples = []
    for i in range(4):
        step = copy.deepcopy(snap)
        step["collected_at"] = "2024-06-01T%02d:00:00Z" % (12 + i)
        step["windows"]["tags"].append({"tag": "Leak", "protected": False, "paged_allocs": 0, "paged_frees": 0,
                                        "paged_bytes": 0, "nonpaged_allocs": allocs[i], "nonpaged_frees": frees[i],
                                        "nonpaged_bytes": (200 + 500 * i) * MiB, "description": None})
        samples.append(compact_sample(step, top=10))
    assert [s["s"]["tag.np_out:Leak"] for s in samples] == [1000, 1100, 1200, 1396]
    snap["samples"] = samples
    snap["collected_at"] = samples[-1]["t"]
    leaks = [f for f in windows_findings(snap) if f["id"] == "pool_leak"]
    assert [f["subject"]["name"] for f in leaks] == ["Leak"]
    assert leaks[0]["subject"]["owner"] == "Sysinternals NotMyFault (myfault.sys)"
    assert leaks[0]["growth"]["bytes_per_hour"] == 500 * MiB
    assert leaks[0]["growth"]["samples"] == 4 and leaks[0]["growth"]["span_hours"] == 3.0
    assert any("outstanding allocations 1000 -> 1396" in line for line in leaks[0]["evidence"])
    # Proven over 3 h, but the pool is full in about 16 h: more than 4 x the span, so no ETA and no critical.
    assert leaks[0]["confidence"] == "proven" and leaks[0]["exhaustion_eta_hours"] is None
    assert leaks[0]["severity"] == "warning"
    assert any("more than 4 x the 3.0 h observed" in line for line in leaks[0]["evidence"])


def test_one_jump_in_outstanding_allocations_is_not_a_leak():
    snap = load("seed000_vmware_vfil_vnet.json")
    counts = [30110000, 30110090, 30110096, 30110396, 30110400, 30110402]   # one step holds most of the rise
    for sample, count in zip(snap["samples"], counts):
        sample["s"]["tag.np_out:VFil"] = count
    assert "VFil" not in [f["subject"]["name"] for f in windows_findings(snap) if f["id"] == "pool_leak"]


def test_bad_sample_times_are_skipped():
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["samples"][0]["t"] = "2024-06-01T12:60:00Z"
    snap["samples"][1]["t"] = None
    leak = [f for f in windows_findings(snap) if f["id"] == "pool_leak"][0]
    assert leak["growth"]["samples"] == 4
    assert leak["growth"]["span_hours"] == round(3 / 60.0, 4)


def test_noisy_tag_going_up_and_down_is_not_a_leak():
    snap = load("seed000_vmware_vfil_vnet.json")
    outstanding = [s["s"]["tag.np_out:Irp "] for s in snap["samples"]]
    assert outstanding != sorted(outstanding), "fixture: Irp must go up and down"
    assert "Irp " not in [f["subject"]["name"] for f in windows_findings(snap)]


def test_host_history_proves_the_leak_over_days():
    """The week of daily runs in history_seed000.jsonl, then this run's six in-run samples."""
    window, warnings = history.read(os.path.join(FIXTURES, "history_seed000.jsonl"))
    assert warnings == [] and len(window) == 9
    snap = load("seed000_vmware_vfil_vnet.json")
    assert window[-1] == snap["samples"][-1], "the history's newest line is this run's last sample"
    snap["samples"] = window[:-1] + snap["samples"]
    leak = windows_findings(snap)[0]
    assert leak["id"] == "pool_leak" and leak["subject"]["name"] == "VFil"
    assert leak["growth"]["samples"] == 7 + 6, "the sample of the previous boot is not fitted"
    assert 168 < leak["growth"]["span_hours"] < 169
    assert leak["growth"]["bytes_per_hour"] == 1500 * 320 * 60
    assert leak["growth"]["confidence"] > 0.9999
    assert "1 sample(s) of an earlier boot not fitted (a reboot empties the pools)" in leak["evidence"]


def test_options_are_named_apart_from_the_linux_thresholds():
    from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
    assert not set(DEFAULTS) & set(diagnosis.DEFAULTS)
    assert [o[0] for o in OPTIONS] == list(DEFAULTS)


def test_commit_held_by_the_pools_is_explained_by_the_pool_finding():
    snap = load("seed000_vmware_vfil_vnet.json")
    ranked = ranked_findings(snap)
    assert ranked[-1]["finding"]["id"] == "commit_exhaustion"
    assert ranked[-1]["explained_by"] == "pool_pressure VFil"
    assert all(item["explained_by"] is None for item in ranked[:-1])
    assert ranked[0]["summary"].startswith("The nonpaged pool holds 15.4 GiB, 96.0 % of its 16.0 GiB limit")
    assert ranked[1]["summary"].startswith("Pool tag VFil (vsepflt.sys (VMware, Inc.), 12.0.0.0) rises 27.5 MiB/h")


# ------------------------------------------------------------------ seed 001: !vm near the maximum

def test_seed001_nonpaged_near_max_is_critical_pressure():
    snap = load("seed001_windbg_nonpaged_max.json")
    findings = windows_findings(snap)
    assert ids(findings) == ["pool_pressure"]
    finding = findings[0]
    assert finding["severity"] == "critical"
    assert finding["subject"] == {"kind": "kernel", "name": "nonpaged pool", "owner": None, "version": None}
    assert finding["bytes"] == 125476 * 1024
    assert finding["evidence"][0] == "nonpaged pool 122.5 MiB of 124.9 MiB (98.1 %, limit as reported)"


def test_seed001_paged_pool_at_57_percent_is_fine():
    snap = load("seed001_windbg_nonpaged_max.json")
    assert all(f["subject"]["name"] != "paged pool" for f in windows_findings(snap))


def test_debugger_alarms_join_the_pool_finding():
    snap = load("seed001_windbg_nonpaged_max.json")
    snap["windows"]["pool_alerts"] = {"excessive": ["nonpaged"], "failed_allocations": 3, "source": "vm.txt"}
    snap["windows"]["pools"]["nonpaged"]["bytes"] = int(0.85 * snap["windows"]["pools"]["nonpaged"]["limit"])
    finding = windows_findings(snap)[0]
    assert finding["id"] == "pool_pressure" and finding["severity"] == "critical", "failed allocations are critical"
    assert "the debugger reported 'Excessive NonPaged Pool Usage' (vm.txt)" in finding["evidence"]
    assert "3 pool allocation(s) had failed when the dump was taken (vm.txt)" in finding["evidence"]


def test_debugger_alarms_prove_pressure_without_a_limit():
    snap = load("seed001_windbg_nonpaged_max.json")
    snap["windows"]["pools"]["nonpaged"]["limit"] = None
    snap["windows"]["pools"]["paged"]["limit"] = None
    assert windows_findings(snap) == [], "no limit, no alarm: nothing to judge"
    snap["windows"]["pool_alerts"] = {"excessive": ["nonpaged"], "failed_allocations": 0}
    ranked = ranked_findings(snap)
    finding = ranked[0]["finding"]
    assert (finding["id"], finding["severity"], finding["bytes"]) == ("pool_pressure", "warning", 125476 * 1024)
    assert finding["evidence"][0] == "nonpaged pool 122.5 MiB (its limit is not known)"
    assert ranked[0]["summary"] == "The debugger reports the nonpaged pool exhausted."


def test_pressure_thresholds():
    snap = load("seed001_windbg_nonpaged_max.json")
    snap["windows"]["pools"]["nonpaged"]["bytes"] = int(0.85 * snap["windows"]["pools"]["nonpaged"]["limit"])
    assert windows_findings(snap)[0]["severity"] == "warning"
    snap["windows"]["pools"]["nonpaged"]["bytes"] = int(0.5 * snap["windows"]["pools"]["nonpaged"]["limit"])
    assert windows_findings(snap) == []


def test_limit_computed_when_the_module_reports_none():
    snap = load("seed003_isa_afd_half_open.json")
    pressure = [f for f in windows_findings(snap) if f["id"] == "pool_pressure"][0]
    assert "251.0 MiB of 256.0 MiB (98.0 %, limit published maximum for this Windows release)" in pressure["evidence"][0]


# ------------------------------------------------------------------ seed 003: AFD + half-open connections

def test_seed003_afd_and_half_open_is_socket_exhaustion():
    snap = load("seed003_isa_afd_half_open.json")
    findings = windows_findings(snap)
    assert findings[0]["id"] == "socket_exhaustion"
    sock = findings[0]
    assert sock["severity"] == "critical"
    assert sock["subject"]["name"] == "AfdE" and sock["subject"]["owner"] == "Windows Winsock (afd.sys)"
    assert sock["bytes"] == (61 + 47 + 29 + 9 + 5) * MiB
    assert sock["evidence"][0].startswith("3859 half-open TCP connections (SynReceived 42, SynSent 3817")


def test_seed003_plan_escalates_to_the_network_owner():
    snap = load("seed003_isa_afd_half_open.json")
    plan = windows_plan(snap, windows_findings(snap))
    assert [s["step"] for s in plan] == ["escalate", "patch_os"]


def test_half_open_without_afd_in_the_pool_is_not_socket_exhaustion():
    snap = load("seed003_isa_afd_half_open.json")
    snap["windows"]["tags"] = [t for t in snap["windows"]["tags"] if not t["tag"].startswith("Afd")]
    assert "socket_exhaustion" not in ids(windows_findings(snap))


def test_afd_without_abnormal_connections_is_not_socket_exhaustion():
    snap = load("seed003_isa_afd_half_open.json")
    snap["windows"]["tcp"]["states"].update({"SynSent": 10, "SynReceived": 3, "TimeWait": 100})
    found = ids(windows_findings(snap))
    assert "socket_exhaustion" not in found and "pool_pressure" in found


def test_time_wait_flood_counts_as_abnormal():
    snap = load("seed003_isa_afd_half_open.json")
    snap["windows"]["tcp"]["states"].update({"SynSent": 0, "SynReceived": 0, "TimeWait": 15000})
    sock = windows_findings(snap)[0]
    assert sock["id"] == "socket_exhaustion"
    assert sock["evidence"][0] == "15000 TCP connections in TimeWait (threshold 8000)"


def test_tag_attributed_to_tcpip_counts_as_socket_memory():
    snap = load("seed003_isa_afd_half_open.json")
    tags = [t for t in snap["windows"]["tags"] if not t["tag"].startswith("Afd")]
    tags.insert(0, dict(tags[0], tag="TTcb", nonpaged_bytes=150 * MiB))
    snap["windows"]["tags"] = tags
    snap["windows"]["drivers"] = {"TTcb": [{"file": "C:\\Windows\\system32\\drivers\\tcpip.sys",
                                            "version": "5.2.3790.4573", "company": "Microsoft Corporation",
                                            "signed": True}]}
    sock = windows_findings(snap)[0]
    assert sock["id"] == "socket_exhaustion" and sock["subject"]["owner"] == "tcpip.sys (Microsoft Corporation)"


# ------------------------------------------------------------------ commit exhaustion and healthy

def test_commit_exhaustion_names_the_process():
    snap = load("commit_exhaustion_java.json")
    findings = windows_findings(snap)
    assert ids(findings) == ["commit_exhaustion"]
    assert findings[0]["subject"] == {"kind": "process", "name": "java", "owner": "pid 6120", "version": None}
    assert findings[0]["severity"] == "critical"
    plan = windows_plan(snap, findings)
    assert [s["step"] for s in plan] == ["restart", "escalate"] and plan[0]["target"] == "java"


def test_commit_below_threshold():
    snap = load("commit_exhaustion_java.json")
    snap["memory"]["commit_used"] = int(0.5 * snap["memory"]["commit_limit"])
    assert windows_findings(snap) == []


def test_healthy_host_has_no_findings():
    snap = load("healthy_hyperv.json")
    assert windows_findings(snap) == []
    assert windows_plan(snap, []) == [{"step": "none", "reason": "No Windows pool, socket or commit problem found.",
                                       "target": None}]


def test_snapshot_missing_everything_gives_no_findings():
    snap = {"schema": 1, "os": {"family": "windows"}, "memory": {}, "windows": {}, "samples": []}
    assert windows_findings(snap) == []


def test_caller_knowledge_overrides_the_default():
    snap = load("seed000_vmware_vfil_vnet.json")
    kb = {"VFil": {"owner": "Guest Introspection file driver", "component": "vmware_tools",
                   "kb": {"id": "TEST-1", "title": "t", "fixed_in": "13.0.0", "reference": None}}}
    findings = windows_findings(snap, {"kb": kb})
    assert findings[0]["kb"]["id"] == "TEST-1"
    assert windows_plan(snap, findings, {"kb": kb})[0]["step"] == "vmware_tools"
