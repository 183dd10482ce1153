# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Windows fixture through the leak_diagnosis filter: verdict, culprit, plan, ledger, verdict line."""

import copy
import json
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter import leak_diagnosis as plugin
from ansible_collections.memleak.remediation.plugins.module_utils import history
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import verdict_line
from ansible_collections.memleak.remediation.plugins.module_utils.schema import (
    CULPRIT_KINDS, PLAN_STEPS, SEVERITIES, VERDICTS)
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows import (
    LEDGER_CATEGORIES, WindowsDiagnosisError, diagnose_windows, windows_memory_ledger)
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import windows_findings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "windows")
leak_diagnosis = plugin.FilterModule().filters()["leak_diagnosis"]

# fixture -> (verdict, severity, culprit, first plan step, the line an administrator reads)
EXPECTED = {
    "seed000_vmware_vfil_vnet.json": (
        "pool_pressure", "critical",
        {"kind": "pool_tag", "name": "VFil", "owner": "vsepflt.sys (VMware, Inc.)", "version": "12.0.0.0"},
        "patch_os",
        "APP-VM01: pool_pressure [critical, proven] | pool_tag VFil (vsepflt.sys (VMware, Inc.), 12.0.0.0) | kernel pools"
        " 16.0 GiB (99.8 % of RAM) | next: patch_os (running Microsoft Windows Server 2016 Standard, update t"
        "o the vendor's latest)"),
    "seed001_windbg_nonpaged_max.json": (
        "pool_pressure", "critical",
        {"kind": "kernel", "name": "nonpaged pool", "owner": None, "version": None},
        "patch_os",
        "seed001-dump: pool_pressure [critical, proven] | kernel nonpaged pool | kernel nonpaged pool 122.5 MiB (3.7 "
        "% of RAM) | next: patch_os (running Windows, update to the vendor's latest) | capture: !poolused 2"),
    "seed003_isa_afd_half_open.json": (
        "socket_exhaustion", "critical",
        {"kind": "pool_tag", "name": "AfdE", "owner": "Windows Winsock (afd.sys)", "version": None},
        "escalate",
        "ISA01: socket_exhaustion [critical, likely] | pool_tag AfdE (Windows Winsock (afd.sys)) | pool_tag AfdE 151."
        "0 MiB (7.4 % of RAM) | next: escalate (network)"),
    "commit_exhaustion_java.json": (
        "commit_exhaustion", "critical",
        {"kind": "process", "name": "java", "owner": "pid 6120", "version": None},
        "restart",
        "BATCH02: commit_exhaustion [critical, proven] | process java (pid 6120) | process java 32.3 GiB (101.0 % of "
        "RAM) | next: restart (java)"),
    "healthy_hyperv.json": (
        "healthy", "ok", {"kind": "none", "name": "", "owner": None, "version": None}, "none",
        "WEB03: healthy [ok, likely] | no culprit | other 1.6 GiB (19.7 % of RAM) | next: none"),
}


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def ram(snap):
    return snap["memory"]["total"] or snap["os"]["ram_bytes"]


def test_every_windows_fixture_has_an_expected_verdict():
    assert sorted(EXPECTED) == sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_through_the_filter(name):
    vid, severity, culprit, step, line = EXPECTED[name]
    snap = load(name)
    diag = leak_diagnosis(snap, {})
    assert list(diag) == ["schema", "host", "verdict", "culprit", "ledger", "findings", "plan"]
    assert diag["schema"] == 1 and diag["host"] == snap["host"]
    assert (diag["verdict"]["id"], diag["verdict"]["severity"]) == (vid, severity)
    assert vid in VERDICTS and severity in SEVERITIES
    assert diag["verdict"]["summary"].endswith(".") and "\n" not in diag["verdict"]["summary"]
    assert diag["culprit"] == culprit and culprit["kind"] in CULPRIT_KINDS
    assert diag["plan"][0]["step"] == step and all(s["step"] in PLAN_STEPS for s in diag["plan"])
    assert diag["findings"] == windows_findings(snap)
    assert verdict_line(diag) == line


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ledger_sums_to_ram(name):
    snap = load(name)
    ledger = leak_diagnosis(snap)["ledger"]
    assert [e["category"] for e in ledger] == list(LEDGER_CATEGORIES)
    assert all(isinstance(e["bytes"], int) and e["bytes"] >= 0 for e in ledger)
    assert sum(e["bytes"] for e in ledger) == ram(snap)
    values = dict((e["category"], e["bytes"]) for e in ledger)
    assert values["available"] == snap["memory"]["available"]
    assert values["nonpaged_pool"] == snap["windows"]["pools"]["nonpaged"]["bytes"]


def test_ledger_of_the_isa_server_by_hand():
    values = dict((e["category"], e["bytes"]) for e in windows_memory_ledger(load("seed003_isa_afd_half_open.json")))
    assert values == {
        "nonpaged_pool": 263192576,
        "paged_pool_resident": 125829120,
        # wspsrv min(private 325058560, working set 293601280) + sqlservr min(125829120, 100663296) + System 0
        "process_private": 293601280 + 100663296,
        "available": 639631360,
        "other": 2146951168 - 263192576 - 125829120 - 394264576 - 639631360,
    }


def test_ledger_caps_categories_at_the_ram_left():
    snap = load("commit_exhaustion_java.json")
    values = dict((e["category"], e["bytes"]) for e in windows_memory_ledger(snap))
    # java's private bytes exceed RAM (they count the page file): the estimate takes what is left
    assert values["process_private"] == ram(snap) - values["available"] - values["nonpaged_pool"] \
        - values["paged_pool_resident"]
    assert values["other"] == 0
    snap["memory"]["available"] = 2 * ram(snap)
    values = dict((e["category"], e["bytes"]) for e in windows_memory_ledger(snap))
    assert values["available"] == ram(snap) and sum(values.values()) == ram(snap)


def test_unknown_paged_resident_stays_in_other():
    snap = load("seed001_windbg_nonpaged_max.json")
    values = dict((e["category"], e["bytes"]) for e in windows_memory_ledger(snap))
    assert values["paged_pool_resident"] == 0 and values["process_private"] == 0
    assert values["other"] == 3487416320 - 128487424 - 2348142592


def test_history_and_in_run_samples_through_the_filter():
    window, dummy = history.read(os.path.join(FIXTURES, "history_seed000.jsonl"))
    snap = load("seed000_vmware_vfil_vnet.json")
    snap["samples"] = window[:-1] + snap["samples"]
    diag = leak_diagnosis(snap)
    assert diag["verdict"]["id"] == "pool_leak" and diag["culprit"]["name"] == "VFil"
    assert diag["findings"][0]["growth"]["samples"] == 13
    assert "grows 27.5 MiB/h in the nonpaged pool" in diag["verdict"]["summary"]


def test_windows_thresholds_change_the_verdict():
    snap = load("healthy_hyperv.json")
    diag = leak_diagnosis(snap, {"commit_warning": 0.30})
    assert diag["verdict"]["id"] == "commit_exhaustion" and diag["verdict"]["severity"] == "warning"
    assert diag["culprit"]["name"] == "w3wp"
    snap = load("seed000_vmware_vfil_vnet.json")
    assert leak_diagnosis(snap, pool_leak_min_samples=7)["verdict"]["id"] == "pool_pressure"


def test_windows_ledger_argument_must_add_up():
    snap = load("healthy_hyperv.json")
    ledger = leak_diagnosis(snap)["ledger"]
    mine = [{"category": "everything", "bytes": ram(snap)}]
    assert leak_diagnosis(snap, ledger=mine)["ledger"] == mine
    with pytest.raises(AnsibleFilterError, match="ledger adds up to .* but the RAM is 8589398016"):
        leak_diagnosis(snap, ledger=ledger[:-1])


def test_diagnosis_errors():
    snap = load("healthy_hyperv.json")
    with pytest.raises(WindowsDiagnosisError, match="reads Windows snapshots only"):
        diagnose_windows(dict(snap, os=dict(snap["os"], family="linux")))
    with pytest.raises(WindowsDiagnosisError, match="unknown threshold 'process_share'"):
        diagnose_windows(snap, {"process_share": 0.1})
    with pytest.raises(WindowsDiagnosisError, match="must be a number"):
        diagnose_windows(snap, {"commit_warning": "high"})
    bare = copy.deepcopy(snap)
    bare["memory"]["total"] = None
    assert sum(e["bytes"] for e in diagnose_windows(bare)["ledger"]) == ram(snap), "os.ram_bytes is the fallback"
    bare["os"]["ram_bytes"] = None
    unknown = diagnose_windows(bare)
    assert unknown["ledger"] == [] and unknown["verdict"]["id"] == "healthy", "a capture without RAM still diagnoses"
    assert "pool limits unknown: pool pressure could not be judged" in unknown["verdict"]["summary"]
    with pytest.raises(WindowsDiagnosisError, match="holds no memory figure"):
        diagnose_windows(dict(bare, memory={}, windows={"pools": None, "tags": []}))
    with pytest.raises(WindowsDiagnosisError, match="ledger adds up to"):
        diagnose_windows(snap, ledger=[{"category": "x", "bytes": 1}])
    assert diagnose_windows(snap)["verdict"]["summary"] == (
        "No abnormal memory use: 5.0 GiB of 8.0 GiB (62.3 %) available; nonpaged pool 260.0 MiB.")


def test_diagnosis_is_json_and_does_not_change_the_snapshot():
    for name in EXPECTED:
        snap = load(name)
        before = copy.deepcopy(snap)
        json.dumps(diagnose_windows(snap))
        assert snap == before, name
