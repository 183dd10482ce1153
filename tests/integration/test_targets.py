"""The ansible-test integration targets (tests/integration/targets/<name>), run by ansible-playbook.

Each target's tasks/main.yml runs as a role against a host of the loopback sshd, as root and as an
unprivileged account where the target runs on the host, the way `ansible-test integration <name>`
would run it against a POSIX host. Windows targets need a Windows host and are listed, not run.
"""

import os

import pytest

from integration_harness import TEST_USER, Host

pytestmark = pytest.mark.integration

TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets")


def _aliases(name):
    with open(os.path.join(TARGETS, name, "aliases")) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


ALL = sorted(os.listdir(TARGETS))
POSIX = [name for name in ALL if not any(a.startswith(("windows/", "shippable/windows/")) for a in _aliases(name))]


def test_every_module_has_a_target_and_the_posix_ones_run_here():
    assert POSIX == ["meminfo_facts", "remediation_ledger", "report_files"]
    assert sorted(set(ALL) - set(POSIX)) == ["win_pool_facts"]


def _cases():
    for name in POSIX:
        users = ["root"]
        if "context/target" in _aliases(name):
            users.append(TEST_USER)
        for user in users:
            yield pytest.param(name, user, id="%s-as-%s" % (name, "user" if user == TEST_USER else user))


@pytest.mark.parametrize("target, user", list(_cases()))
def test_target(ansible, tmp_path, target, user):
    inventory = ansible.inventory([Host("target-host", user)])
    playbook = tmp_path / "run_target.yml"
    playbook.write_text("- name: Integration target %s\n  hosts: target-host\n  gather_facts: false\n"
                        "  roles:\n    - role: %s\n" % (target, os.path.join(TARGETS, target)))
    run = ansible.playbook(inventory, str(playbook))
    assert run.rc == 0, run.explain()
    assert "failed=0" in run.stdout and "unreachable=0" in run.stdout, run.explain()
    # Every assert of the target ran: none was skipped by a condition.
    assert run.stdout.count("TASK [") >= 8, run.explain()
