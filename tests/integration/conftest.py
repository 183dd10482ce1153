"""Session fixtures of the integration tests: one real sshd on loopback for the whole run.

Every test gets its own work directory (inventory, report directory, Ansible's
local temp) under pytest's tmp_path; the sshd, its keys and its configuration
live in one temporary directory removed at the end of the session. The
unprivileged account ``memleak-test`` is created when missing and left in place.
"""

import pytest

from integration_harness import (TEST_USER, Ansible, Sshd, ensure_test_user, require_ansible,
                                 require_root, require_sshd)


@pytest.fixture(scope="session")
def sshd():
    require_root()
    require_sshd()
    require_ansible()
    ensure_test_user()
    server = Sshd()
    try:
        server.start(users=["root", TEST_USER])
        yield server
    finally:
        server.stop()


@pytest.fixture
def ansible(sshd, tmp_path):
    return Ansible(sshd, str(tmp_path))


@pytest.fixture
def report_dir(tmp_path):
    return str(tmp_path / "report")
