"""The diagnose_host action over a real sshd: one task reads, diagnoses and reports a host.

It must give what the filters give (a play that composes meminfo_facts, leak_diagnosis and
kb_annotate gets the same verdict), honour module_defaults and check mode, and turn a host it
cannot reach into a failure whose reason the role keeps for the fleet summary.
"""

import json
import os

import pytest

from integration_harness import LINUX_VERDICTS, Host, free_port, recap

pytestmark = pytest.mark.integration

PLAY = """
- name: One task against the filters
  hosts: all
  gather_facts: false
  tasks:
    - name: Read, diagnose and report the host
      memleak.remediation.diagnose_host:
        history: false
        top: 5
        report_dir: "{{ out }}"
      register: action

    - name: The same with the public module and filters
      memleak.remediation.meminfo_facts:
        host: "{{ inventory_hostname }}"
        history: false
        top: 5
      register: gathered

    - name: Keep both
      ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname }}.compare.json"
        content: "{{ {'action': action, 'facts': {'snapshot': memleak_snapshot | default(none)},
                      'filters': gathered.ansible_facts.memleak_snapshot | memleak.remediation.leak_diagnosis
                                 | memleak.remediation.kb_annotate(snapshot=gathered.ansible_facts.memleak_snapshot)}
                     | to_json }}"
        mode: "0644"
      delegate_to: localhost
"""

DEFAULTS_PLAY = """
- name: module_defaults reach the gather module; an unreachable host is a failure with its reason
  hosts: all
  gather_facts: false
  module_defaults:
    memleak.remediation.meminfo_facts:
      top: 2
  tasks:
    - name: Read, diagnose and report the host
      memleak.remediation.diagnose_host:
        history: false
        report_dir: "{{ out }}"
      register: action
      ignore_errors: true

    - name: Keep the result
      ansible.builtin.copy:
        dest: "{{ out }}/{{ inventory_hostname }}.result.json"
        content: "{{ action | to_json }}"
        mode: "0644"
      delegate_to: localhost
      check_mode: false
"""


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def test_one_task_gives_what_the_filters_give(ansible, tmp_path):
    out = str(tmp_path / "out")
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    inventory = ansible.inventory([Host("box", "root", "ssh")])
    run = ansible.playbook(inventory, str(playbook), extra_vars={"out": out})
    assert run.rc == 0, run.explain()
    compare = _load(os.path.join(out, "box.compare.json"))
    action, filtered = compare["action"], compare["filters"]
    diagnosis = action["ansible_facts"]["memleak_diagnosis"]
    assert action["module"] == "memleak.remediation.meminfo_facts"
    assert diagnosis["host"] == "box" and diagnosis["verdict"]["id"] in LINUX_VERDICTS
    # The same host read twice a second apart: the verdict and the kinds of evidence agree.
    assert diagnosis["verdict"]["id"] == filtered["verdict"]["id"], (diagnosis["verdict"], filtered["verdict"])
    assert [f["id"] for f in diagnosis["findings"]] == [f["id"] for f in filtered["findings"]]
    assert [s["step"] for s in diagnosis["plan"]] == [s["step"] for s in filtered["plan"]]
    assert action["verdict_line"].startswith("box: %s" % diagnosis["verdict"]["id"]), action["verdict_line"]
    # The host report is what the role always wrote: snapshot and diagnosis, as to_nice_json(indent=2).
    path = os.path.join(out, "box.json")
    assert action["report"] == path
    with open(path) as handle:
        text = handle.read()
    report = json.loads(text)
    assert report["memleak_diagnosis"] == diagnosis
    assert report["memleak_snapshot"] == action["ansible_facts"]["memleak_snapshot"]
    assert len(report["memleak_snapshot"]["linux"]["processes"]) <= 5
    assert text.startswith('{\n  "memleak_diagnosis": {\n') and text.endswith("}\n")


def test_module_defaults_check_mode_and_unreachable(ansible, tmp_path):
    out = str(tmp_path / "out")
    playbook = tmp_path / "play.yml"
    playbook.write_text(DEFAULTS_PLAY)
    inventory = ansible.inventory([Host("box", "root", "ssh"), Host("gone", "root", "ssh", port=free_port())])
    run = ansible.playbook(inventory, str(playbook), extra_vars={"out": out}, args=["--check"])
    assert run.rc == 0, run.explain()
    counts = recap(run.stdout)
    assert counts["gone"]["unreachable"] == 0 and counts["gone"]["ignored"] == 1, run.explain()

    box = _load(os.path.join(out, "box.result.json"))
    snapshot = box["ansible_facts"]["memleak_snapshot"]
    assert len(snapshot["linux"]["processes"]) == 2, "module_defaults top: 2 not applied"
    # Check mode: the report on the controller is still written, nothing on the host.
    assert os.path.isfile(os.path.join(out, "box.json"))
    assert box["changed"] is True, "the report on the controller was written"

    gone = _load(os.path.join(out, "gone.result.json"))
    assert gone["failed"] is True
    assert gone["memleak_error"].startswith("unreachable: "), gone
    assert "ansible_facts" not in gone
    assert not os.path.exists(os.path.join(out, "gone.json"))
