"""The diagnose role's reports over a real sshd: index.html, summary.json, junit.xml, the textfile.

The Prometheus textfile is written ON THE HOST (here the same machine, reached
over SSH as root) into memleak_textfile_dir, and only outside check mode; the
controller's reports are written in both, by the report_files action, which
writes on the controller without a module or a connection.
"""

import json
import os
import stat
import xml.etree.ElementTree as ET

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration_harness import Host, free_port, recap

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
        assert stat.S_IMODE(os.stat(os.path.join(report_dir, name)).st_mode) == 0o644, name
    assert stat.S_IMODE(os.stat(report_dir).st_mode) == 0o755, "the report directory is created 0755"
    assert not os.path.exists(os.path.join(report_dir, "junit.xml")), "junit.xml is written only when asked for"
    assert "TASK [memleak.remediation.diagnose : Gather, diagnose and write the host report]" in run.stdout
    assert "TASK [memleak.remediation.diagnose : Write the fleet reports]" in run.stdout


# The reports themselves change with every run (collected_at, the counters), so "unchanged" is
# shown on fixed content: the tasks the roles use, run twice for a host that cannot be reached.
REPORT_FILES_PLAY = r"""
- name: Write report files for a host nobody can reach
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the host report
      memleak.remediation.report_files:
        dir: "{{ out }}"
        files:
          - name: "{{ inventory_hostname }}.json"
            content: "{{ {'host': inventory_hostname} | to_nice_json(indent=2) }}\n"
      register: first

    - name: Write the same report again
      memleak.remediation.report_files:
        dir: "{{ out }}"
        files:
          - name: "{{ inventory_hostname }}.json"
            content: "{{ {'host': inventory_hostname} | to_nice_json(indent=2) }}\n"
      register: second

    - name: Try another content in check mode
      memleak.remediation.report_files:
        dir: "{{ out }}"
        files:
          - name: "{{ inventory_hostname }}.json"
            content: "other"
      check_mode: true
      register: checked

    - name: Refuse a name with a path in it
      memleak.remediation.report_files:
        dir: "{{ out }}"
        files:
          - name: ../escape.json
            content: "x"
      register: refused
      ignore_errors: true

    - name: Check the results
      ansible.builtin.assert:
        that:
          - first is changed and first.written == [out ~ '/' ~ inventory_hostname ~ '.json']
          - second is not changed and second.written == []
          - checked is changed and checked.written == first.written
          - refused is failed
          - "refused.msg == \"files[0] ('../escape.json'): a plain file name is needed, without '/'\""
"""


def test_report_files_needs_no_connection_keeps_unchanged_files_and_honours_check_mode(ansible, tmp_path):
    out = str(tmp_path / "out")
    # Nothing listens on the host's port: a task that used the connection would be unreachable.
    inventory = ansible.inventory([Host("nowhere", "root", "ssh", port=free_port())])
    playbook = tmp_path / "report_files.yml"
    playbook.write_text(REPORT_FILES_PLAY)
    run = ansible.playbook(inventory, str(playbook), extra_vars={"out": out}, args=["--diff"])
    assert run.rc == 0, run.explain()
    counts = recap(run.stdout)["nowhere"]
    assert counts["unreachable"] == 0 and counts["failed"] == 0, run.explain()
    assert counts["changed"] == 2 and counts["ignored"] == 1, run.explain()
    assert _read(os.path.join(out, "nowhere.json")) == '{\n  "host": "nowhere"\n}\n'
    assert sorted(os.listdir(out)) == ["nowhere.json"] and not os.path.exists(str(tmp_path / "escape.json"))
    assert "+other" in run.stdout, "--diff shows what check mode would write:\n" + run.stdout[-3000:]
