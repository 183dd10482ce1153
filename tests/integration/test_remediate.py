"""Remediation over SSH: one step per run, recorded on the host, guarded, and quiet in check mode.

The host history is seeded with what earlier scheduled runs would have left (a process
growing hour after hour), so one playbook run finds a proven leak; everything else is
real: the SSH login, the modules on the host, the ledger file, apt, and the webhook,
a real HTTP server on 127.0.0.1 started by the test.
"""

import json
import os

import pytest

from integration_harness import Host, recap
from remediation_helpers import (MIB, Webhook, boot_id, digest, dpkg_list, read_jsonl, seed_history)

pytestmark = pytest.mark.integration

SERIES = "proc:memleak-seed[4242]"
CASE = "process_leak:process:memleak-seed"
TOKEN = "tok-5e5a1d-do-not-log"
# 1 GiB/h: memory runs out within a day on this machine, a critical finding that leads the diagnosis.
RATE = 1024 * MIB
# Other checks out of the way: only the seeded growth is a finding.
QUIET = {"unaccounted_share": 1.0, "process_share": 1.0, "shmem_share": 1.0, "slab_cache_share": 1.0,
         "slab_unreclaimable_share": 1.0, "hugepages_free_share": 1.0}


@pytest.fixture
def state(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    return {"history": str(directory / "history.jsonl"), "ledger": str(directory / "remediation.jsonl")}


def base_vars(report_dir, state, **more):
    extra = {"memleak_report_dir": report_dir, "memleak_history_path": state["history"],
             "memleak_thresholds": QUIET, "memleak_top": 5}
    extra.update(more)
    return extra


def decision(report_dir, host="rem"):
    with open(os.path.join(report_dir, "%s.remediation.json" % host)) as handle:
        return json.load(handle)


def test_escalation_opens_one_ticket_across_runs_and_never_logs_the_token(ansible, report_dir, state):
    hook = Webhook(fail_first=2)
    try:
        seed_history(state["history"], boot_id(), SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host("rem", "root", "ssh")])
        extra = base_vars(report_dir, state, memleak_sequence=["escalate"], memleak_restart_eta_hours=0,
                          memleak_escalation_url=hook.url, memleak_escalation_token=TOKEN,
                          memleak_escalation_backoff=0.2, memleak_escalation_retries=3)
        first = ansible.playbook(inventory, "memleak.remediation.remediate", extra, args=["-v"])
        assert first.rc == 0, first.explain()
        assert len(hook.requests) == 3, "two server errors retried, then the ticket"
        assert len(hook.tickets) == 1
        keys = set(r["headers"]["Idempotency-Key"] for r in hook.requests)
        assert len(keys) == 1
        assert all(r["headers"]["Authorization"] == "Bearer " + TOKEN for r in hook.requests)
        body = hook.requests[-1]["body"]
        assert body["case"] == CASE and body["host"] == "rem" and body["idempotency_key"] in keys
        assert body["verdict"]["id"] == "process_leak" and body["samples"] and body["versions"]["os"]["kernel"]
        ledger = read_jsonl(state["ledger"])
        assert [(e["step"], e["result"], e["ticket"]) for e in ledger] == [("escalate", "sent", "TCK-1")]
        assert ledger[0]["key"] in keys and ledger[0]["detail"]["attempts"] == 3

        second = ansible.playbook(inventory, "memleak.remediation.remediate", extra, args=["-v"])
        assert second.rc == 0, second.explain()
        assert len(hook.requests) == 3 and len(hook.tickets) == 1, "no second ticket"
        assert len(read_jsonl(state["ledger"])) == 1
        again = decision(report_dir)["decision"]
        assert again["step"] == "none" and again["action"] == "wait"
        changed = [line for line in second.stdout.splitlines() if line.startswith("changed:")]
        assert recap(second.output)["rem"]["failed"] == 0
        assert len(changed) == 2, "only the two controller reports change:\n%s" % "\n".join(changed)

        for run in (first, second):
            assert TOKEN not in run.output
        for name in os.listdir(report_dir):
            with open(os.path.join(report_dir, name)) as handle:
                assert TOKEN not in handle.read(), name
        with open(state["ledger"]) as handle:
            assert TOKEN not in handle.read()
    finally:
        hook.stop()


def test_server_errors_are_retried_then_reported_and_the_next_run_sends_the_same_case(ansible, report_dir, state):
    hook = Webhook(fail_first=-1, fail_status=503)
    try:
        seed_history(state["history"], boot_id(), SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host("rem", "root", "ssh")])
        extra = base_vars(report_dir, state, memleak_sequence=["escalate"], memleak_restart_eta_hours=0,
                          memleak_escalation_url=hook.url, memleak_escalation_token=TOKEN,
                          memleak_escalation_backoff=0.1, memleak_escalation_retries=2)
        failed = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
        assert failed.rc != 0, failed.explain()
        assert len(hook.requests) == 3 and not hook.tickets
        assert "escalate failed on rem" in failed.output and "last status 503" in failed.output
        ledger = read_jsonl(state["ledger"])
        assert [(e["step"], e["result"]) for e in ledger] == [("escalate", "failed")]
        assert "last status 503" in ledger[0]["detail"]

        hook.fail_first = 0
        retried = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
        assert retried.rc == 0, retried.explain()
        keys = [r["headers"]["Idempotency-Key"] for r in hook.requests]
        assert len(set(keys)) == 1, "the retry of the next run carries the same key"
        assert [(e["step"], e["result"]) for e in read_jsonl(state["ledger"])] == [
            ("escalate", "failed"), ("escalate", "sent")]
        assert TOKEN not in failed.output + retried.output
    finally:
        hook.stop()


def test_restart_path_with_simulated_reboot_and_new_boot_segment(ansible, report_dir, state, tmp_path):
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("sim-boot-A\n")
    seed_history(state["history"], "sim-boot-A", SERIES, 512 * MIB, RATE)
    inventory = ansible.inventory([Host("rem", "root", "ssh")])
    extra = base_vars(report_dir, state, memleak_maintenance_windows=["daily 00:00-24:00"],
                      memleak_boot_id_command="cat %s" % boot_file,
                      memleak_reboot_command="/bin/sh -c 'echo sim-boot-B > %s'" % boot_file,
                      memleak_reboot_timeout=60)
    first = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
    assert first.rc == 0, first.explain()
    assert boot_file.read_text().strip() == "sim-boot-B", "the reboot command ran"
    ledger = read_jsonl(state["ledger"])
    assert [(e["step"], e["result"], e["case"]) for e in ledger] == [("restart", "done", CASE)]
    assert ledger[0]["detail"]["boot_before"] == "sim-boot-A" and ledger[0]["detail"]["boot_after"] == "sim-boot-B"
    assert "memory runs out in about" in ledger[0]["reason"]

    boots = [s["boot"] for s in read_jsonl(state["history"])]
    assert boots[-3:] == ["sim-boot-A", "sim-boot-A", "sim-boot-B"], "diagnosed before and again after the restart"
    assert ledger[0]["boot"] == "sim-boot-A"

    second = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
    assert second.rc == 0, second.explain()
    boots = [s["boot"] for s in read_jsonl(state["history"])]
    assert boots[-2:] == ["sim-boot-B", "sim-boot-B"], "the next run goes on in the new boot segment"
    report = decision(report_dir)["decision"]
    assert report["action"] == "wait" and report["step"] == "none"
    assert report["judged"]["state"] == "observing" and "restart" in report["reason"]
    assert len(read_jsonl(state["ledger"])) == 1, "not restarted again"


def test_protected_host_is_not_restarted_but_escalated(ansible, report_dir, state, tmp_path):
    hook = Webhook()
    try:
        boot_file = tmp_path / "boot_id"
        boot_file.write_text("sim-boot-A\n")
        seed_history(state["history"], "sim-boot-A", SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host("rem", "root", "ssh")])
        extra = base_vars(report_dir, state, memleak_maintenance_windows=["daily 00:00-24:00"],
                          memleak_protected_hosts=["rem"], memleak_escalation_url=hook.url,
                          memleak_boot_id_command="cat %s" % boot_file,
                          memleak_reboot_command="/bin/sh -c 'echo sim-boot-B > %s'" % boot_file)
        run = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
        assert run.rc == 0, run.explain()
        assert boot_file.read_text().strip() == "sim-boot-A", "no restart"
        ledger = read_jsonl(state["ledger"])
        assert [(e["step"], e["result"]) for e in ledger] == [("escalate", "sent")]
        assert "the host is on the protect list" in ledger[0]["reason"]
        assert len(hook.tickets) == 1
    finally:
        hook.stop()


def test_check_mode_of_remediate_and_audit_changes_nothing(ansible, report_dir, state):
    seed_history(state["history"], boot_id(), SERIES, 512 * MIB, RATE)
    with open(state["ledger"], "w") as handle:  # an earlier case, closed: the ledger must stay as it is
        handle.write(json.dumps({"v": 1, "t": "2026-01-05T06:00:00Z", "case": "slab_growth:slab_cache:dentry",
                                 "step": "close", "result": "closed", "reason": "growth stopped"}) + "\n")
    inventory = ansible.inventory([Host("rem", "root", "ssh")])
    before = (digest(state["history"]), digest(state["ledger"]), dpkg_list())
    extra = base_vars(report_dir, state, memleak_sequence=["patch_os", "escalate"], memleak_restart_eta_hours=0)
    run = ansible.playbook(inventory, "memleak.remediation.remediate", extra, args=["--check"])
    assert run.rc == 0, run.explain()
    audit = ansible.playbook(inventory, "memleak.remediation.audit", {"memleak_report_dir": report_dir},
                             args=["--check"])
    assert audit.rc == 0, audit.explain()
    assert (digest(state["history"]), digest(state["ledger"]), dpkg_list()) == before

    report = decision(report_dir)
    assert report["check_mode"] is True
    assert report["decision"]["step"] == "patch_os" and report["decision"]["case"] == CASE
    assert "rem: would run patch_os [%s]" % CASE in run.stdout
    # apt ran in check mode: it says what it would upgrade and upgrades nothing.
    assert report["outcome"]["result"] == "done" and report["outcome"]["detail"]["check_mode"] is True
    assert report["outcome"]["detail"]["manager"] == "apt"

    with open(os.path.join(report_dir, "audit.json")) as handle:
        summary = json.load(handle)
    host = summary["hosts"][0]
    simulated = [line for line in run_apt_simulation().splitlines() if line.startswith("Inst ")]
    assert host["patch"]["manager"] == "apt" and host["patch"]["pending"] == len(set(
        line.split()[1] for line in simulated))
    assert host["patch"]["last_change"] and host["vmware_tools"]["platform"] != "vmware"
    with open(os.path.join(report_dir, "audit.md")) as handle:
        text = handle.read()
    assert "| rem |" in text and "host(s) compliant" in text


def run_apt_simulation():
    import subprocess
    return subprocess.run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"], check=True,
                          stdout=subprocess.PIPE, universal_newlines=True, env={"LANG": "C", "PATH": "/usr/bin:/bin"}
                          ).stdout


def test_fleet_share_lets_one_host_restart_and_escalates_the_other(ansible, report_dir, tmp_path):
    hook = Webhook()
    try:
        for name in ("rem-a", "rem-b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "boot_id").write_text("sim-boot-A\n")
            seed_history(str(tmp_path / name / "history.jsonl"), "sim-boot-A", SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host("rem-a", "root", "ssh"), Host("rem-b", "root", "ssh")])
        where = str(tmp_path) + "/{{ inventory_hostname }}"
        extra = {"memleak_report_dir": report_dir, "memleak_thresholds": QUIET, "memleak_top": 5,
                 "memleak_history_path": where + "/history.jsonl",
                 "memleak_maintenance_windows": ["daily 00:00-24:00"], "memleak_max_reboot_share": 0.1,
                 "memleak_serial": 2, "memleak_escalation_url": hook.url,
                 "memleak_boot_id_command": "cat %s/boot_id" % where,
                 "memleak_reboot_command": "/bin/sh -c 'echo sim-boot-B > %s/boot_id'" % where}
        run = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
        assert run.rc == 0, run.explain()
        steps = {}
        for name in ("rem-a", "rem-b"):
            steps[name] = [(e["step"], e["result"]) for e in read_jsonl(str(tmp_path / name / "remediation.jsonl"))]
        assert steps == {"rem-a": [("restart", "done")], "rem-b": [("escalate", "sent")]}
        assert (tmp_path / "rem-b" / "boot_id").read_text().strip() == "sim-boot-A"
        reason = decision(report_dir, "rem-b")["decision"]["reason"]
        assert "the fleet's share of restarts for this run is used up" in reason
    finally:
        hook.stop()


VMWARE_PLAY = """
- name: Compare VMware Tools with what the knowledge base needs
  hosts: all
  gather_facts: false
  tasks:
    - name: Audit each case
      ansible.builtin.include_tasks: vmware-case.yml
      loop:
        - {label: old, have: 10.0.6.3560309, kb: ">= 10.0.8", floor: ""}
        - {label: fixed, have: 12.0.0.19345, kb: ">= 10.0.8", floor: ""}
        - {label: floor, have: 12.0.0.19345, kb: ">= 10.0.8", floor: 12.1.5}
    - name: Show the audits
      ansible.builtin.debug:
        msg: "AUDITS {{ audits | to_json }}"
"""

VMWARE_CASE = """
- name: Audit {{ item.label }}
  ansible.builtin.include_role:
    name: memleak.remediation.vmware_tools
    tasks_from: audit.yml
  vars:
    memleak_snapshot: {virt: {platform: vmware, tools: {name: VMware Tools, version: "{{ item.have }}"}}}
    memleak_vmware_tools_required: "{{ item.kb }}"
    memleak_vmware_tools_min_version: "{{ item.floor }}"
    memleak_vmware_tools_package: memleak-no-such-package
- name: Keep it
  ansible.builtin.set_fact:
    audits: "{{ audits | default([]) + [memleak_vmware_tools_audit] }}"
"""


def test_vmware_tools_version_against_the_knowledge_base_and_the_floor(ansible, tmp_path):
    (tmp_path / "vmware.yml").write_text(VMWARE_PLAY)
    (tmp_path / "vmware-case.yml").write_text(VMWARE_CASE)
    run = ansible.playbook(ansible.inventory([Host("vm", "root", "ssh")]), str(tmp_path / "vmware.yml"),
                           args=["--check"])
    assert run.rc == 0, run.explain()
    line = next(line for line in run.stdout.splitlines() if '"msg": "AUDITS ' in line)
    old, fixed, floor = json.loads(json.loads("{" + line.strip() + "}")["msg"][len("AUDITS "):])
    assert old["platform"] == "vmware" and old["installed"] == "10.0.6.3560309" and old["source"] == "snapshot"
    assert old["required"] == "10.0.8" and old["compliant"] is False and old["upgrade"] is True
    assert old["status"] == "10.0.6.3560309 < 10.0.8"
    assert fixed["compliant"] is True and fixed["upgrade"] is False and fixed["status"] == "12.0.0.19345 >= 10.0.8"
    assert floor["required"] == "12.1.5" and floor["compliant"] is False
