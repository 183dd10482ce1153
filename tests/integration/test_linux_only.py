"""A Linux-only setup needs no Windows collection: the diagnose role with the Prometheus textfile runs
against a Linux host with ANSIBLE_COLLECTIONS_PATH holding this collection and nothing else."""

import os

import pytest

from integration_harness import Ansible, Host, recap

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class OnlyThisCollection(Ansible):
    def __init__(self, sshd, workdir):
        super(OnlyThisCollection, self).__init__(sshd, workdir)
        self.collections = os.path.join(workdir, "collections")
        os.makedirs(os.path.join(self.collections, "ansible_collections", "memleak"))
        os.symlink(ROOT, os.path.join(self.collections, "ansible_collections", "memleak", "remediation"))

    def env(self):
        env = super(OnlyThisCollection, self).env()
        env["ANSIBLE_COLLECTIONS_PATH"] = self.collections
        return env


def test_textfile_on_linux_without_ansible_windows(sshd, tmp_path):
    ansible = OnlyThisCollection(sshd, str(tmp_path))
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    inventory = ansible.inventory([Host("lin01", "root", "ssh")])
    run = ansible.playbook(inventory, extra_vars={
        "memleak_report_dir": str(tmp_path / "report"), "memleak_textfile_dir": str(textfile_dir),
        "memleak_history_path": str(tmp_path / "history.jsonl")})
    assert run.rc == 0, run.explain()
    assert recap(run.stdout)["lin01"]["failed"] == 0, run.explain()
    assert "ansible.windows" not in run.output
    assert os.listdir(str(textfile_dir)) == ["memleak.prom"]
