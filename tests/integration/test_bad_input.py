"""A broken /proc/meminfo under proc_root: a clear failure naming the file and the line, no traceback."""

import os

import pytest

from integration_harness import Host

pytestmark = pytest.mark.integration


def _live_meminfo_lines():
    with open("/proc/meminfo", "rb") as handle:
        return handle.read().splitlines(True)


def _truncated_mid_line():
    """This machine's meminfo cut inside the name on line 3, as a capture interrupted mid-write."""
    lines = _live_meminfo_lines()
    return b"".join(lines[:2]) + lines[2][:6], 3


def _garbage_line():
    """Line 5 of the real file overwritten with text that is not 'Name: value kB'."""
    lines = _live_meminfo_lines()
    return b"".join(lines[:4]) + b"#### 0xdeadbeef garbage ####\n" + b"".join(lines[5:]), 5


def _binary_line():
    """Line 4 replaced by bytes that are not UTF-8 (a disk block of something else)."""
    lines = _live_meminfo_lines()
    return b"".join(lines[:3]) + b"\xff\xfe\x00\x9c\x81 \xc3\x28:\x80\n" + b"".join(lines[4:]), 4


@pytest.mark.parametrize("make", [_truncated_mid_line, _garbage_line, _binary_line],
                         ids=["truncated", "garbage", "not-utf8"])
def test_broken_meminfo_fails_naming_file_and_line(ansible, tmp_path, make):
    content, bad_line = make()
    tree = tmp_path / "capture"
    (tree / "proc").mkdir(parents=True)
    meminfo = tree / "proc" / "meminfo"
    meminfo.write_bytes(content)
    os.chmod(str(tmp_path), 0o755)
    inventory = ansible.inventory([Host("broken", "root", "ssh")])

    run = ansible.adhoc(inventory, "broken", "memleak.remediation.meminfo_facts", "proc_root=%s" % tree)

    assert run.rc == 2, run.explain()  # ansible's exit code for a failed task
    assert "broken | FAILED!" in run.stdout, run.explain()
    assert "Traceback" not in run.output, run.explain()
    assert "MODULE FAILURE" not in run.output, run.explain()
    assert "%s line %d" % (meminfo, bad_line) in run.stdout, (
        "the failure does not name '%s line %d':\n%s" % (meminfo, bad_line, run.explain()))
