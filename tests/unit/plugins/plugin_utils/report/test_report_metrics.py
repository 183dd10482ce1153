"""The Prometheus textfile parses with the reference parser and says what the diagnosis says."""

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.memleak.remediation.plugins.plugin_utils.report import metrics as report_metrics
from ansible_collections.memleak.remediation.plugins.module_utils import schema

import fleet_fixture


@pytest.fixture(scope="module")
def fleet():
    return fleet_fixture.fleet(len(fleet_fixture.RECIPES))


def _parse(text):
    families = dict((f.name, f) for f in text_string_to_metric_families(text))
    samples = {}
    for family in families.values():
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value, sample.timestamp))
    return families, samples


def test_every_host_of_the_fleet_gives_a_valid_textfile(fleet):
    for snap, diag, _verdict in fleet:
        text = report_metrics.textfile(snap, diag)
        assert text.endswith("\n") and "# EOF" not in text
        families, samples = _parse(text)
        assert all(f.type == "gauge" for f in families.values()), snap["host"]
        assert all(ts is None for values in samples.values() for _l, _v, ts in values), "timestamps are rejected"
        # The verdict as a state set: exactly one 1, every verdict id present.
        states = dict((labels["verdict"], value) for labels, value, _ts in samples["memleak_verdict"])
        assert sorted(states) == sorted(schema.VERDICTS)
        assert [v for v, value in states.items() if value == 1] == [diag["verdict"]["id"]]
        info = samples["memleak_diagnosis_info"][0][0]
        assert info["severity"] == diag["verdict"]["severity"] and info["culprit_kind"] == diag["culprit"]["kind"]
        assert samples["memleak_severity"][0][1] == schema.SEVERITIES.index(diag["verdict"]["severity"])
        ledger = sum(value for _l, value, _ts in samples["memleak_ledger_bytes"])
        assert ledger == sum(e["bytes"] for e in diag["ledger"])
        total = dict((l["kind"], v) for l, v, _ts in samples["memleak_memory_bytes"])["total"]
        assert total == snap["memory"]["total"]


def test_windows_pools_and_limits_are_exported(fleet):
    snap, diag, _v = next(h for h in fleet if h[2] == "pool_leak")
    _families, samples = _parse(report_metrics.textfile(snap, diag))
    used = dict((l["pool"], v) for l, v, _ts in samples["memleak_pool_bytes"])
    limits = dict((l["pool"], v) for l, v, _ts in samples["memleak_pool_limit_bytes"])
    assert used["nonpaged"] == snap["windows"]["pools"]["nonpaged"]["bytes"]
    assert set(limits) == {"nonpaged", "paged"} and limits["nonpaged"] >= used["nonpaged"]
    tags = dict((l["name"], v) for l, v, _ts in samples["memleak_series_bytes"] if l["kind"] == "pool_tag_nonpaged")
    assert "VFil" in tags
    growth = [(l, v) for l, v, _ts in samples["memleak_finding_growth_bytes_per_hour"] if l["finding"] == "pool_leak"]
    assert growth and growth[0][1] > 0 and growth[0][0]["subject"] == "VFil"
    assert samples["memleak_finding_exhaustion_eta_hours"]


def test_linux_top_series_are_bounded_and_named(fleet):
    snap, diag, _v = next(h for h in fleet if h[2] == "process_leak")
    _families, samples = _parse(report_metrics.textfile(snap, diag, top=1))
    procs = [l for l, _v, _ts in samples["memleak_series_bytes"] if l["kind"] == "process"]
    assert len(procs) == 1 and re.match(r"proc:\w+\[\d+\]$", procs[0]["series"])
    assert samples["memleak_samples"][0][1] == len(snap["samples"])
    assert samples["memleak_last_run_timestamp_seconds"][0][1] > 1.7e9


def test_label_values_are_escaped():
    snap = {"schema": 1, "host": "h", "collected_at": "2024-05-01T00:00:00Z", "memory": {"total": 100},
            "linux": {"processes": [{"pid": 1, "name": 'we"ird\\name\nx', "pss": 50, "rss": 60}]}, "samples": []}
    diag = {"verdict": {"id": "process_leak", "severity": "warning"},
            "culprit": {"kind": "process", "name": 'we"ird\\name\nx', "owner": None, "version": None},
            "ledger": [{"category": "anon", "bytes": 60}, {"category": "free", "bytes": 40}],
            "findings": [{"id": "process_leak", "subject": {"name": 'we"ird'}, "bytes": 50}], "plan": []}
    text = report_metrics.textfile(snap, diag)
    _families, samples = _parse(text)
    assert samples["memleak_diagnosis_info"][0][0]["culprit"] == 'we"ird\\name\nx'
    assert samples["memleak_series_bytes"][0][0]["series"] == 'proc:we"ird\\name\nx[1]'
    assert all(line.startswith(("#", "memleak_")) for line in text.splitlines())
