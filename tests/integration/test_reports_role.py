"""The diagnose role's reports over a real sshd: index.html, summary.json, junit.xml, the textfile.

The Prometheus textfile is written ON THE HOST (here the same machine, reached
over SSH as root) into memleak_textfile_dir, and only outside check mode; the
controller's reports are written in both.
"""

import json
import os
import xml.etree.ElementTree as ET

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration_harness import Host, recap

pytestmark = pytest.mark.integration


def _read(path):
    assert os.path.isfile(path), "missing %s; directory holds %s" % (path, sorted(os.listdir(os.path.dirname(path))))
    with open(path) as handle:
        return handle.read()


def test_reports_and_textfile(ansible, report_dir, tmp_path):
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    inventory = ansible.inventory([Host("web01", "root", "ssh")])
    run = ansible.playbook(inventory, extra_vars={
        "memleak_report_dir": report_dir, "memleak_textfile_dir": str(textfile_dir),
        "memleak_report_junit": True, "memleak_history_path": str(tmp_path / "history.jsonl")})
    assert run.rc == 0, run.explain()
    assert recap(run.stdout)["web01"]["failed"] == 0, run.explain()
    diag = json.loads(_read(os.path.join(report_dir, "web01.json")))["memleak_diagnosis"]
    verdict = diag["verdict"]["id"]

    summary = json.loads(_read(os.path.join(report_dir, "summary.json")))
    assert summary["schema"] == 1 and summary["hosts_total"] == 1 and summary["not_diagnosed"] == 0
    assert summary["hosts"][0]["host"] == "web01" and summary["hosts"][0]["verdict"] == verdict
    assert summary["counts"]["by_verdict"][verdict] == 1
    assert summary["generated_at"].endswith("Z") and summary["report_dir"] == report_dir

    page = _read(os.path.join(report_dir, "index.html"))
    assert page.count('<tr data-verdict="%s"' % verdict) == 1 and 'class="ledger"' in page

    suite = ET.fromstring(_read(os.path.join(report_dir, "junit.xml"))).find("testsuite")
    assert [case.get("name") for case in suite.findall("testcase")] == ["web01"]

    families = dict((f.name, f) for f in text_string_to_metric_families(_read(str(textfile_dir / "memleak.prom"))))
    current = [s.labels["verdict"] for s in families["memleak_verdict"].samples if s.value == 1]
    assert current == [verdict]
    assert "Report: %s/index.html" % report_dir in run.stdout


def test_check_mode_writes_reports_but_no_textfile(ansible, report_dir, tmp_path):
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    inventory = ansible.inventory([Host("web02", "root", "ssh")])
    run = ansible.playbook(inventory, extra_vars={
        "memleak_report_dir": report_dir, "memleak_textfile_dir": str(textfile_dir),
        "memleak_history_path": str(tmp_path / "history.jsonl")}, args=["--check"])
    assert run.rc == 0, run.explain()
    assert os.listdir(str(textfile_dir)) == [], "check mode wrote on the host"
    for name in ("index.html", "summary.json", "summary.md", "web02.json"):
        assert os.path.isfile(os.path.join(report_dir, name)), name
    assert not os.path.exists(os.path.join(report_dir, "junit.xml")), "junit.xml is written only when asked for"
