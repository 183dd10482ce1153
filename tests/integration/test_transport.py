"""The test sshd itself: Ansible reaches it with both connection plugins, as root and unprivileged."""

import pytest

from integration_harness import TEST_USER, Host

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_ping_reaches_root_and_unprivileged_user(ansible, connection):
    inventory = ansible.inventory([Host("as-root", "root", connection),
                                   Host("as-user", TEST_USER, connection)])
    run = ansible.adhoc(inventory, "all", "ansible.builtin.command", "id -un")
    assert run.rc == 0, run.explain()
    assert "as-root | CHANGED | rc=0 >>\nroot" in run.stdout, run.explain()
    assert "as-user | CHANGED | rc=0 >>\n%s" % TEST_USER in run.stdout, run.explain()
