"""The awx/ wrappers run by ansible-runner, the engine AWX runs every job with, as AWX lays a job out.

No AWX server runs here, but its job runner does: each job gets a private data directory with the
project checkout (project/, holding awx/ and collections/requirements.yml), the inventory AWX
writes (inventory/hosts), the template's extra variables (env/extravars), the limit asked at
launch, and for the audit template the job type check (--check). The hosts are the loopback sshd.
Asserted are what AWX reads back: the return code and status, the set_stats data in the
playbook_on_stats event (the job's artifacts, which workflows pass on), and the reports written.
"""

import glob
import json
import os
import shutil
import subprocess

import pytest
import yaml

from integration_harness import ROOT, VENV_BIN, Host, free_port

pytestmark = pytest.mark.integration

RUNNER = os.path.join(VENV_BIN, "ansible-runner")


@pytest.fixture
def job(ansible, tmp_path):
    """A function that runs one job: (wrapper, limit, extravars, check) -> its artifacts."""
    if not os.access(RUNNER, os.X_OK):
        pytest.fail("ansible-runner is missing from the virtualenv: pip install -r tests/requirements.txt",
                    pytrace=False)
    inventory = ansible.inventory([Host("vm-a", "root"), Host("vm-b", "root"), Host("gone", "root", port=free_port())])
    counter = [0]

    def run(wrapper, limit, extravars, check=False):
        counter[0] += 1
        data = tmp_path / ("job-%d" % counter[0])
        # What AWX puts in the private data dir of a job: the project, the inventory, env/.
        shutil.copytree(os.path.join(ROOT, "awx"), str(data / "project" / "awx"))
        shutil.copytree(os.path.join(ROOT, "collections"), str(data / "project" / "collections"))
        (data / "inventory").mkdir()
        shutil.copy(inventory, str(data / "inventory" / "hosts"))
        (data / "env").mkdir()
        (data / "env" / "extravars").write_text(yaml.safe_dump(extravars))
        # The execution environment has the collection installed: here, the checkout's link.
        env = ansible.env()
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # ansible-runner brings its own event callback
        (data / "env" / "envvars").write_text(yaml.safe_dump(
            dict((k, v) for k, v in env.items() if k.startswith("ANSIBLE_") or k == "MEMLEAK_STATE_PATHS_LOG")))
        cmd = [RUNNER, "run", str(data), "-p", wrapper, "--limit", limit, "--ident", "job"]
        if check:
            cmd.append("--cmdline=--check")
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=600, check=False)
        artifacts = data / "artifacts" / "job"
        events = []
        for path in glob.glob(str(artifacts / "job_events" / "*.json")):
            with open(path) as handle:
                events.append(json.load(handle))
        events.sort(key=lambda e: e.get("counter", 0))
        return {"proc": proc, "rc": int((artifacts / "rc").read_text()), "status": (artifacts / "status").read_text(),
                "events": events, "stdout": (artifacts / "stdout").read_text(), "data": data}

    return run


def _stats(result):
    stats = [e for e in result["events"] if e.get("event") == "playbook_on_stats"]
    assert stats, "no playbook_on_stats event:\n" + result["stdout"][-4000:]
    return stats[-1]["event_data"]


def test_diagnose_template_with_a_limit(job, tmp_path):
    reports = tmp_path / "reports"
    result = job("awx/diagnose.yml", "vm-a", {"memleak_report_dir": str(reports), "memleak_samples": 1})

    assert (result["rc"], result["status"]) == (0, "successful"), result["stdout"][-6000:]
    data = _stats(result)
    artifact = data.get("artifact_data") or {}
    assert artifact.get("memleak_hosts_total") == 1 and list(artifact.get("memleak_verdicts")) == ["vm-a"], data
    assert data["ok"].get("vm-a") and not data.get("failures"), data
    with open(str(reports / "summary.json")) as handle:
        assert [h["host"] for h in json.load(handle)["hosts"]] == ["vm-a"]
    assert (reports / "index.html").is_file() and (reports / "vm-a.json").is_file()


def test_diagnose_template_fails_the_job_for_a_host_it_cannot_read(job, tmp_path):
    reports = tmp_path / "reports"
    result = job("awx/diagnose.yml", "vm-a,gone", {"memleak_report_dir": str(reports)})

    assert result["rc"] != 0 and result["status"] == "failed", result["stdout"][-6000:]
    artifact = _stats(result).get("artifact_data") or {}
    assert list(artifact.get("memleak_not_diagnosed") or {}) == ["gone"], artifact
    with open(str(reports / "summary.json")) as handle:
        assert [h["host"] for h in json.load(handle)["not_diagnosed_hosts"]] == ["gone"]


def test_audit_template_in_check_mode(job, tmp_path):
    reports = tmp_path / "reports"
    result = job("awx/audit.yml", "vm-b", {"memleak_report_dir": str(reports)}, check=True)

    assert (result["rc"], result["status"]) == (0, "successful"), result["stdout"][-6000:]
    with open(str(result["data"] / "artifacts" / "job" / "command")) as handle:
        assert "--check" in json.load(handle)["command"]
    with open(str(reports / "audit.json")) as handle:
        assert [h["host"] for h in json.load(handle)["hosts"]] == ["vm-b"]
    assert (reports / "audit.md").is_file()
    assert "vm-b" in _stats(result)["ok"]


def test_remediate_template(job, tmp_path):
    reports = tmp_path / "reports"
    result = job("awx/remediate.yml", "vm-a", {"memleak_report_dir": str(reports), "memleak_maintenance_windows": []})

    assert (result["rc"], result["status"]) == (0, "successful"), result["stdout"][-6000:]
    with open(str(reports / "vm-a.remediation.json")) as handle:
        decision = json.load(handle)["decision"]
    assert decision["action"] in ("none", "wait"), decision  # a fresh history proves no growth: nothing is changed
    assert "vm-a: " in result["stdout"] and "none none" not in result["stdout"]
