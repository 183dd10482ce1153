"""summary.json, JUnit XML and the AWX set_stats data: machine-readable, stable, complete."""

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.report import formats as report_formats
from ansible_collections.memleak.remediation.plugins.module_utils import schema

import fleet_fixture

HOST_KEYS = ["biggest_bytes", "biggest_share", "biggest_subject", "biggest_text", "capture_text", "confidence",
             "culprit", "culprit_text", "exhaustion_eta_hours", "findings", "growth_bytes_per_hour", "growth_confidence",
             "host", "line", "missing", "next_reason", "next_step", "next_target", "next_text", "report", "severity",
             "summary", "verdict"]
TOP_KEYS = ["counts", "diagnosed", "generated_at", "hosts", "hosts_total", "not_diagnosed", "not_diagnosed_hosts",
            "report_dir", "schema", "unhealthy"]


@pytest.fixture(scope="module")
def fleet():
    return [d for _s, d, _v in fleet_fixture.fleet(2 * len(fleet_fixture.RECIPES))]


def test_summary_json_keys_are_stable_whatever_the_fleet(fleet):
    empty = report_formats.fleet_json([])
    full = report_formats.fleet_json(fleet, {"gone": "unreachable"}, generated_at="2024-05-02T08:00:00Z",
                                     report_dir="/r")
    for summary in (empty, full):
        assert sorted(summary) == TOP_KEYS
        assert sorted(summary["counts"]["by_verdict"]) == sorted(schema.VERDICTS)
        assert list(summary["counts"]["by_severity"]) == list(schema.SEVERITIES)
        json.dumps(summary)
    for row in full["hosts"]:
        assert sorted(row) == HOST_KEYS
        assert sorted(row["culprit"]) == ["kind", "name", "owner", "version"]
    assert empty["counts"]["by_verdict"]["pool_leak"] == 0 and empty["hosts"] == []
    assert full["schema"] == 1 and full["generated_at"] == "2024-05-02T08:00:00Z" and full["report_dir"] == "/r"


def test_summary_counts_and_unhealthy_hosts(fleet):
    summary = report_formats.fleet_json(fleet, {"gone": "unreachable"})
    assert summary["hosts_total"] == len(fleet) + 1 and summary["diagnosed"] == len(fleet)
    assert summary["not_diagnosed_hosts"] == [{"host": "gone", "reason": "unreachable"}]
    for vid in schema.VERDICTS:
        assert summary["counts"]["by_verdict"][vid] == sum(1 for d in fleet if d["verdict"]["id"] == vid)
    assert all(v >= 1 for v in summary["counts"]["by_verdict"].values()), "the fixture fleet covers every verdict"
    expected = set(d["host"] for d in fleet if d["verdict"]["severity"] in ("warning", "critical"))
    assert set(summary["unhealthy"]) == expected


def test_rows_are_most_severe_first_then_soonest_exhaustion(fleet):
    rows = report_formats.fleet_rows(fleet)
    ranks = [schema.SEVERITIES.index(r["severity"]) for r in rows]
    assert ranks == sorted(ranks, reverse=True)
    critical = [r for r in rows if r["severity"] == "critical" and r["exhaustion_eta_hours"] is not None]
    assert [r["exhaustion_eta_hours"] for r in critical] == sorted(r["exhaustion_eta_hours"] for r in critical)


def test_row_of_a_leaking_process_carries_growth_and_eta(fleet):
    row = next(r for r in report_formats.fleet_rows(fleet) if r["verdict"] == "process_leak")
    assert row["culprit"]["kind"] == "process" and row["next_step"] == "restart"
    assert row["growth_bytes_per_hour"] > 0 and row["exhaustion_eta_hours"] > 0
    assert row["biggest_bytes"] > 0 and 0 < row["biggest_share"] < 1
    assert row["report"] == row["host"] + ".json"


def test_junit_fails_unhealthy_hosts_and_errors_hosts_not_diagnosed(fleet):
    text = report_formats.fleet_junit(fleet, {"gone": "unreachable: timed out"}, generated_at="2024-05-02T08:00:00Z")
    root = ET.fromstring(text.encode("utf-8"))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    unhealthy = [d for d in fleet if d["verdict"]["severity"] in ("warning", "critical")]
    assert len(cases) == len(fleet) + 1 == int(root.get("tests")) == int(suite.get("tests"))
    assert int(suite.get("failures")) == len(unhealthy) == len([c for c in cases if c.find("failure") is not None])
    assert int(suite.get("errors")) == 1
    assert suite.get("timestamp") == "2024-05-02T08:00:00"
    failure = next(c for c in cases if c.find("failure") is not None).find("failure")
    assert failure.get("type") in schema.VERDICTS and "[" in failure.get("message")
    assert "step 1:" in failure.text and "evidence:" in failure.text
    error = next(c for c in cases if c.get("name") == "gone").find("error")
    assert error.get("message") == "not diagnosed: unreachable: timed out"


def test_junit_fail_on_critical_only_and_bad_severity(fleet):
    root = ET.fromstring(report_formats.fleet_junit(fleet, fail_on=("critical",)))
    critical = sum(1 for d in fleet if d["verdict"]["severity"] == "critical")
    assert int(root.get("failures")) == critical
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        report_formats.fleet_junit(fleet, fail_on=("fatal",))


def test_set_stats_data_is_small_and_complete(fleet):
    stats = report_formats.fleet_stats(fleet, {"gone": "unreachable"})
    assert sorted(stats) == ["memleak_counts", "memleak_hosts_total", "memleak_not_diagnosed", "memleak_severities",
                             "memleak_severity_counts", "memleak_unhealthy", "memleak_verdicts"]
    assert stats["memleak_verdicts"] == dict((d["host"], d["verdict"]["id"]) for d in fleet)
    assert stats["memleak_counts"]["not_diagnosed"] == 1 and stats["memleak_hosts_total"] == len(fleet) + 1
    assert sum(stats["memleak_severity_counts"].values()) == len(fleet)
    assert len(json.dumps(stats)) < 200 * len(fleet) + 1000
