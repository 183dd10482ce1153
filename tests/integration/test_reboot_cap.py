"""The fleet's reboot cap holds whatever the strategy: three hosts over the real sshd all want a stop-gap
restart, the cap is one of three, and exactly one restarts under `strategy: linear` and under
`strategy: free` (all hosts in one batch, four forks). Reboots after patching claim the same slots.

Restarts are simulated as in test_remediate.py: the boot id is a file per host that the reboot command
rewrites, so the role's reboot, boot-id check and post-diagnosis all run for real.
"""

import os

import pytest

from integration_harness import Ansible, Host
from remediation_helpers import MIB, Webhook, read_jsonl, seed_history

pytestmark = pytest.mark.integration

SERIES = "proc:memleak-seed[4242]"
RATE = 1024 * MIB
QUIET = {"unaccounted_share": 1.0, "process_share": 1.0, "shmem_share": 1.0, "slab_cache_share": 1.0,
         "slab_unreclaimable_share": 1.0, "hugepages_free_share": 1.0}
HOSTS = ("rem-a", "rem-b", "rem-c")


class StrategyAnsible(Ansible):
    """The harness' Ansible with a default strategy (ANSIBLE_STRATEGY), as a site's ansible.cfg sets it."""

    def __init__(self, sshd, workdir, strategy):
        super(StrategyAnsible, self).__init__(sshd, workdir)
        self.strategy = strategy

    def env(self):
        env = super(StrategyAnsible, self).env()
        env["ANSIBLE_STRATEGY"] = self.strategy
        return env


@pytest.mark.parametrize("strategy", ["linear", "free"])
def test_the_restart_cap_holds_under_every_strategy(sshd, tmp_path, strategy):
    ansible = StrategyAnsible(sshd, str(tmp_path), strategy)
    report_dir = str(tmp_path / "report")
    hook = Webhook()
    try:
        for name in HOSTS:
            (tmp_path / name).mkdir()
            (tmp_path / name / "boot_id").write_text("sim-boot-A\n")
            seed_history(str(tmp_path / name / "history.jsonl"), "sim-boot-A", SERIES, 512 * MIB, RATE)
        inventory = ansible.inventory([Host(name, "root", "ssh") for name in HOSTS])
        where = str(tmp_path) + "/{{ inventory_hostname }}"
        extra = {"memleak_report_dir": report_dir, "memleak_thresholds": QUIET, "memleak_top": 5,
                 "memleak_history_path": where + "/history.jsonl",
                 "memleak_maintenance_windows": ["daily 00:00-24:00"], "memleak_max_reboot_share": 0.34,
                 "memleak_serial": 3, "memleak_escalation_url": hook.url,
                 "memleak_boot_id_command": "cat %s/boot_id" % where,
                 "memleak_reboot_command": "/bin/sh -c 'echo sim-boot-B > %s/boot_id'" % where}
        run = ansible.playbook(inventory, "memleak.remediation.remediate", extra)
        assert run.rc == 0, run.explain()
        steps = dict((name, [(e["step"], e["result"]) for e in read_jsonl(str(tmp_path / name / "remediation.jsonl"))])
                     for name in HOSTS)
        restarted = sorted(n for n in HOSTS if (tmp_path / n / "boot_id").read_text().strip() == "sim-boot-B")
        assert len(restarted) == 1, (strategy, steps)
        assert sorted(n for n in HOSTS if steps[n] == [("restart", "done")]) == restarted
        assert sorted(n for n in HOSTS if steps[n] == [("escalate", "sent")]) == sorted(set(HOSTS) - set(restarted))
        if strategy == "linear":
            assert restarted == ["rem-a"], "by name order under the linear strategy"
    finally:
        hook.stop()


SLOTS_PLAY = """
- name: Every host wants a reboot, after a restart or a patch
  hosts: all
  gather_facts: false
  strategy: {strategy}
  tasks:
    - name: Claim for the restart
      memleak.remediation.reboot_slot:
        cap: 2
        host: "{{{{ inventory_hostname }}}}"
        reason: "{{{{ 'restart' if inventory_hostname in ['rem-a', 'rem-c'] else 'patch_reboot' }}}}"
      register: slot
    - name: Claim again (a task may repeat)
      memleak.remediation.reboot_slot:
        cap: 2
        host: "{{{{ inventory_hostname }}}}"
        reason: patch_reboot
      register: again
    - name: Show
      ansible.builtin.debug:
        msg: "SLOT {{{{ inventory_hostname }}}} {{{{ slot.granted }}}} {{{{ again.granted }}}} {{{{ again.used }}}}"
"""


@pytest.mark.parametrize("strategy", ["linear", "free"])
def test_restarts_and_reboots_after_patching_share_the_slots(sshd, tmp_path, strategy):
    ansible = Ansible(sshd, str(tmp_path))
    names = HOSTS + ("rem-d", "rem-e")
    inventory = ansible.inventory([Host(name, "root", "ssh") for name in names])
    (tmp_path / "slots.yml").write_text(SLOTS_PLAY.format(strategy=strategy))
    run = ansible.playbook(inventory, str(tmp_path / "slots.yml"))
    assert run.rc == 0, run.explain()
    lines = [line.split("SLOT ", 1)[1].strip('"') for line in run.stdout.splitlines() if '"msg": "SLOT ' in line]
    granted = dict((line.split()[0], (line.split()[1], line.split()[2])) for line in lines)
    assert len(granted) == 5, run.stdout
    assert sum(1 for first, _again in granted.values() if first == "True") == 2
    assert all(first == again for first, again in granted.values()), "a holder keeps its slot, no one else gets one"
    assert not os.path.exists(str(tmp_path / "ansible-local" / "memleak-reboot-slots.json"))
