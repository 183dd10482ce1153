"""plugin_utils/diagnosis/host.py: what the diagnose_host action decides and computes in the worker.

The action must read a host with the right module and arguments, give the diagnosis the
leak_diagnosis and kb_annotate filters give, and write the host report the role wrote before.
"""

import json

import pytest
from ansible.plugins.filter.core import to_nice_json

from ansible_collections.memleak.remediation.plugins.filter.kb_annotate import FilterModule as KbFilter
from ansible_collections.memleak.remediation.plugins.filter.leak_diagnosis import FilterModule as DiagnosisFilter
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import host

import fleet_fixture

leak_diagnosis_filter = DiagnosisFilter().filters()["leak_diagnosis"]
kb_annotate_filter = KbFilter().filters()["kb_annotate"]


@pytest.mark.parametrize("connection, shell, expected", [
    ("ssh", "sh", host.LINUX_MODULE),
    ("paramiko", None, host.LINUX_MODULE),
    (None, None, host.LINUX_MODULE),
    ("winrm", "powershell", host.WINDOWS_MODULE),
    ("ansible.builtin.psrp", None, host.WINDOWS_MODULE),
    ("ssh", "powershell", host.WINDOWS_MODULE),  # OpenSSH on Windows
    ("ssh", "cmd", host.WINDOWS_MODULE),
])
def test_the_module_follows_the_connection(connection, shell, expected):
    assert host.gather_module("auto", connection, shell) == expected


def test_an_explicit_family_wins_and_a_wrong_one_is_named():
    assert host.gather_module("linux", "winrm", "powershell") == host.LINUX_MODULE
    assert host.gather_module("windows", "ssh", "sh") == host.WINDOWS_MODULE
    with pytest.raises(host.HostDiagnosisError, match="os_family must be auto, linux or windows, got 'bsd'"):
        host.gather_module("bsd")


def test_each_module_gets_only_its_options_and_omitted_ones_stay_out():
    options = {"host": "web1", "top": 7, "samples": 1, "interval": 5.0, "history": False, "history_path": None,
               "proc_root": "/captures/web1", "scan_drivers": 3, "pooltag_file": "/opt/pooltag.txt",
               "thresholds": {"process_share": 0.1}, "kb_files": [], "report_dir": "/tmp/r"}
    assert host.gather_args(host.LINUX_MODULE, options) == {
        "host": "web1", "top": 7, "samples": 1, "interval": 5.0, "history": False, "proc_root": "/captures/web1"}
    windows = host.gather_args(host.WINDOWS_MODULE, options)
    assert windows == {"host": "web1", "top": 7, "samples": 2, "interval": 5.0, "history": False, "scan_drivers": 3,
                       "pooltag_file": "/opt/pooltag.txt"}
    assert host.gather_args(host.WINDOWS_MODULE, dict(options, samples=5))["samples"] == 5


def test_the_diagnosis_is_the_filters_one_for_every_verdict():
    for snapshot, dummy, dummy_verdict in fleet_fixture.fleet(12):
        expected = kb_annotate_filter(leak_diagnosis_filter(snapshot, {}), snapshot=snapshot, kb_files=[],
                                      pooltag_file=None)
        assert host.diagnose_snapshot(snapshot, {}, kb_files=[], pooltag_file="") == expected, snapshot["host"]


def test_thresholds_reach_the_diagnosis():
    snapshot = [s for s, d, dummy in fleet_fixture.fleet(12) if d["verdict"]["id"] == "balloon_inflation"][0]
    assert host.diagnose_snapshot(snapshot, {})["verdict"]["id"] == "balloon_inflation"
    assert host.diagnose_snapshot(snapshot, {"balloon_share": 0.99, "balloon_min_bytes": 2 ** 50})["verdict"]["id"] == "healthy"


def test_bad_input_is_named_not_a_traceback():
    snapshot = fleet_fixture.fleet(1)[0][0]
    with pytest.raises(host.HostDiagnosisError, match="unknown threshold 'proces_share'"):
        host.diagnose_snapshot(snapshot, {"proces_share": 0.1})
    with pytest.raises(host.HostDiagnosisError, match="thresholds must be a dict, got list"):
        host.diagnose_snapshot(snapshot, [0.1])
    with pytest.raises(host.HostDiagnosisError, match="missing.yml"):
        host.diagnose_snapshot(snapshot, {}, kb_files=["/nonexistent/missing.yml"])


def test_the_host_report_is_what_to_nice_json_wrote():
    snapshot, diagnosis, dummy = fleet_fixture.fleet(3)[2]
    entry = host.host_report("db-01", snapshot, diagnosis)
    data = {"memleak_snapshot": snapshot, "memleak_diagnosis": diagnosis}
    assert entry["name"] == "db-01.json" and entry["mode"] == "0644"
    assert entry["content"] == to_nice_json(data, indent=2) + "\n"
    assert json.loads(entry["content"]) == data
