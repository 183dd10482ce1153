"""Runs as an operator starts them: with --limit, with a host that cannot be read, without root.

- the fleet reports (index.html, summary.*, set_stats; audit.md; the remediation summary) cover
  exactly the hosts the run covered, under any --limit (AWX asks for a limit at launch);
- a host that could not be read fails diagnose, remediate and audit alike, unless
  memleak_fail_on_not_diagnosed=false;
- a diagnosis made without root says it is partial and that --become completes it;
- every test keeps its history apart: nothing is written to the host's default history.
"""

import json
import os

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from integration_harness import TEST_USER, Host, free_port, read_text, recap, state_paths

pytestmark = pytest.mark.integration


def _fleet(ansible):
    return ansible.inventory([Host("vm-a", "root"), Host("vm-b", "root"),
                              Host("gone", "root", port=free_port())])


def _summary_hosts(report_dir):
    with open(os.path.join(report_dir, "summary.json")) as handle:
        summary = json.load(handle)
    return (sorted(row["host"] for row in summary["hosts"]),
            sorted(row["host"] for row in summary["not_diagnosed_hosts"]))


def _messages(stdout, host):
    """The debug messages ('"msg": "HOST: ...') and message lists about one host."""
    found = []
    for line in stdout.splitlines():
        text = line.strip()
        if text.startswith('"msg": '):
            text = text[len('"msg": '):]
        text = text.strip('",')
        if text.startswith(host + ": "):
            found.append(text)
    return found


def test_diagnose_with_a_limit_reports_the_hosts_it_covered(ansible, report_dir):
    inventory = _fleet(ansible)

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir}, args=["-l", "vm-a"])

    assert run.rc == 0, run.explain()
    assert "no hosts matched" not in run.output, run.explain()
    assert _summary_hosts(report_dir) == (["vm-a"], []), run.explain()
    html = read_text(os.path.join(report_dir, "index.html"))
    assert 'id="h1"' in html and "vm-a" in html and "vm-b" not in html
    assert "vm-a" in read_text(os.path.join(report_dir, "summary.md"))
    assert any("Report: " in line for line in run.stdout.splitlines()), run.explain()
    assert list(recap(run.stdout)) == ["vm-a"], run.explain()


def test_diagnose_with_a_limit_still_fails_for_an_unreachable_host(ansible, report_dir):
    inventory = _fleet(ansible)

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir}, args=["-l", "vm-b,gone"])

    assert run.rc != 0, run.explain()
    assert _summary_hosts(report_dir) == (["vm-b"], ["gone"]), run.explain()
    assert "vm-a" not in read_text(os.path.join(report_dir, "summary.md"))


def test_remediate_fails_when_a_host_cannot_be_diagnosed_unless_told_not_to(ansible, report_dir, tmp_path):
    inventory = _fleet(ansible)
    extra = {"memleak_report_dir": report_dir}

    run = ansible.playbook(inventory, "memleak.remediation.remediate", extra, args=["-l", "vm-a,gone", "--check"])

    assert run.rc != 0, run.explain()
    assert '"gone: NO DECISION: unreachable' in run.stdout, run.explain()
    decided = [line for line in _messages(run.stdout, "vm-a") if "NO DECISION" not in line]
    assert decided and not [line for line in decided if " none none" in line or "wait none" in line], run.explain()
    assert "vm-b" not in run.stdout, run.explain()
    assert "Traceback" not in run.output, run.explain()

    lenient = ansible.playbook(inventory, "memleak.remediation.remediate",
                               dict(extra, memleak_fail_on_not_diagnosed=False), args=["-l", "vm-a,gone", "--check"])
    assert lenient.rc == 0, lenient.explain()
    assert '"gone: NO DECISION: unreachable' in lenient.stdout, lenient.explain()


def test_audit_with_a_limit_writes_the_compliance_summary(ansible, report_dir):
    inventory = _fleet(ansible)

    run = ansible.playbook(inventory, "memleak.remediation.audit", {"memleak_report_dir": report_dir},
                           args=["-l", "vm-a", "--check"])

    assert run.rc == 0, run.explain()
    with open(os.path.join(report_dir, "audit.json")) as handle:
        audit = json.load(handle)
    assert [h["host"] for h in audit["hosts"]] == ["vm-a"] and audit["not_audited"] == [], audit
    assert "vm-a" in read_text(os.path.join(report_dir, "audit.md"))
    # The platform as the diagnosis detects it (one place: linux_collect), a container and the
    # hypervisor below it both named; the host behind the sshd is this machine.
    here = linux_collect.collect(proc_root="/", host="here")["virt"]
    tools = audit["hosts"][0]["vmware_tools"]
    assert (tools["platform"], tools["container"]) == (here["platform"], here["container"]), tools
    if here["container"] and here["platform"] not in ("vmware", "unknown", "none"):
        assert "%s, in a %s container" % (here["platform"], here["container"]) in tools["status"], tools

    gone = ansible.playbook(inventory, "memleak.remediation.audit", {"memleak_report_dir": report_dir},
                            args=["-l", "vm-a,gone", "--check"])
    assert gone.rc != 0, gone.explain()


def test_a_diagnosis_without_root_says_it_is_partial(ansible, report_dir):
    inventory = ansible.inventory([Host("as-user", TEST_USER), Host("as-root", "root")])

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})

    assert run.rc == 0, run.explain()
    user = [line for line in _messages(run.stdout, "as-user") if "partial diagnosis" in line]
    assert user and all("run with --become" in line and "slabinfo" in line for line in user), run.explain()
    assert list(_messages(run.stdout, "as-root")), run.explain()
    assert not [line for line in _messages(run.stdout, "as-root") if "partial" in line], run.explain()
    summary = read_text(os.path.join(report_dir, "summary.md"))
    row = [line for line in summary.splitlines() if line.startswith("| as-user ")]
    assert row and "Partial diagnosis (slabinfo" in row[0] and "--become" in row[0], summary


def test_each_test_keeps_its_own_history(ansible, report_dir):
    """The harness gives every host a history of its own; the default one is left alone (conftest checks it too)."""
    hosts = [Host("own-root", "root"), Host("own-user", TEST_USER)]
    inventory = ansible.inventory(hosts)
    with open(inventory) as handle:
        paths = dict((name, entry["memleak_history_path"])
                     for name, entry in json.load(handle)["all"]["hosts"].items())
    assert len(set(paths.values())) == 2 and not [p for p in paths.values() if p.startswith("/var/lib/memleak")]

    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir})

    assert run.rc == 0, run.explain()
    for path in paths.values():
        assert len(read_text(path).splitlines()) == 1, path
    used = dict((entry["host"], entry["path"]) for entry in state_paths(ansible.workdir))
    assert used == paths, used


def test_the_check_catches_a_run_on_the_default_history(ansible, report_dir):
    """The check of conftest.py is real: a run told to use the default path is recorded as such."""
    inventory = ansible.inventory([Host("default", "root")])
    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir, "memleak_history": False})
    assert run.rc == 0, run.explain()
    assert state_paths(ansible.workdir) == [], "history=false must keep no history"
