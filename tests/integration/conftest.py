"""Session fixtures of the integration tests: one real sshd on loopback for the whole run.

Every test gets its own work directory (inventory, report directory, Ansible's
local temp) under pytest's tmp_path; the sshd, its keys and its configuration
live in one temporary directory removed at the end of the session. The
unprivileged account ``memleak-test`` is created when missing and left in place.
"""

import pytest

from integration_harness import (DEFAULT_STATE_PREFIXES, TEST_USER, Ansible, Sshd, ensure_test_user, require_ansible,
                                 require_root, require_sshd, state_paths)


@pytest.fixture(autouse=True)
def default_history_untouched(tmp_path):
    """Every integration test keeps its own history and ledger: no module may have used the default ones."""
    yield
    used = [entry for entry in state_paths(str(tmp_path))
            if any(prefix in entry["path"] for prefix in DEFAULT_STATE_PREFIXES)]
    assert not used, "this test used the default history / ledger: %s" % used


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
