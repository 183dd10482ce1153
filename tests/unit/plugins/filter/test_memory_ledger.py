"""The memory_ledger filter: the pure ledger behind a clear Ansible error."""

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter.memory_ledger import FilterModule
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "meminfo",
                    "centos7.4-3.10.0-693.el7-vmware.meminfo")
memory_ledger = FilterModule().filters()["memory_ledger"]


def seed_meminfo():
    with open(SEED) as handle:
        return parse_meminfo(handle.read(), SEED)


def test_filter_accepts_a_snapshot_or_bare_meminfo_and_the_kernel_argument():
    snap = schema.new_snapshot("db01", "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    snap["linux"]["meminfo"] = seed_meminfo()
    from_snapshot = memory_ledger(snap)
    from_meminfo = memory_ledger(seed_meminfo(), "3.10.0-693.el7.x86_64")
    assert from_snapshot == from_meminfo
    assert sum(e["bytes"] for e in from_snapshot) == 7994080 * 1024
    assert [e["bytes"] for e in from_snapshot if e["category"] == "unaccounted"] == [5316880 * 1024]


@pytest.mark.parametrize("bad, message", [
    ({"verdict": {"id": "healthy"}}, "memory_ledger: expected a memleak_snapshot"),
    (["MemTotal: 1 kB"], "memory_ledger: expected a memleak_snapshot .* got list"),
    ({"MemTotal": 4096, "MemFree": "1 kB", "Cached": 0, "AnonPages": 0}, "MemFree is '1 kB'"),
])
def test_filter_turns_bad_input_into_an_ansible_error(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        memory_ledger(bad)


def test_filter_refuses_a_kernel_that_is_not_a_string():
    with pytest.raises(AnsibleFilterError, match="'kernel' must be a release string"):
        memory_ledger(seed_meminfo(), 3.10)
