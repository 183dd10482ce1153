# -*- coding: utf-8 -*-
"""meminfo_facts on a host that is not friendly: wrong arguments, a history directory others can write,
links planted in the history's name, a full disk. Run in-process as Ansible runs it, on the real /proc."""

import json
import os
import pwd
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import history, jsonl_file, series

from test_meminfo_facts import run_module  # noqa: F401 (the exit/fail patches are autouse fixtures there)
from test_meminfo_facts import _no_exit  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".tmp", "collections"))


@pytest.mark.parametrize("args, message", [
    ({"interval": float("inf")}, "interval must be between 0 and 600 seconds, got inf"),
    ({"interval": 1e300}, "interval must be between 0 and 600 seconds, got 1e+300"),
    ({"interval": float("nan")}, "interval must be between 0 and 600 seconds, got nan"),
    ({"interval": -1}, "interval must be between 0 and 600 seconds"),
    ({"samples": 0}, "samples must be between 1 and 60, got 0"),
    ({"history_max_age_days": -1}, "history_max_age_days must be 1 or more, got -1"),
    ({"history_max_samples": -1}, "history_max_samples must be 1 or more, got -1"),
    ({"history_max_samples": 0}, "history_max_samples must be 1 or more, got 0"),
])
def test_bad_arguments_fail_the_task_and_leave_the_history_alone(tmp_path, args, message):
    path = tmp_path / "history.jsonl"
    run_module({"top": 3, "history_path": str(path)})
    before = path.read_bytes()
    result = run_module(dict({"top": 3, "history_path": str(path)}, **args))
    assert result.get("failed") is True and message in result["msg"], result
    assert path.read_bytes() == before


def _sample(second):
    return {"v": 1, "t": "2026-01-01T00:00:%02dZ" % second, "boot": "b", "s": {"mem.used": second}}


@pytest.mark.parametrize("planted", ["history.jsonl", "history.jsonl.lock"])
def test_planted_links_are_not_followed(tmp_path, planted):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    store = tmp_path / "store"
    store.mkdir()
    os.symlink(str(victim), str(store / planted))
    with pytest.raises(OSError) as err:
        history.append(str(store / "history.jsonl"), _sample(1), series.to_hours)
    assert "symbolic link: not followed" in str(err.value)
    assert victim.read_text() == "precious\n"
    result = run_module({"top": 3, "history_path": str(store / "history.jsonl")})
    assert not result.get("failed") and victim.read_text() == "precious\n"
    assert any("symbolic link: not followed" in w for w in result["ansible_facts"]["memleak_snapshot"]["warnings"])


@pytest.mark.skipif(os.geteuid() != 0, reason="a directory owned by another user needs root to set up")
def test_a_directory_others_can_write_is_refused_with_a_clear_message(tmp_path):
    nobody = pwd.getpwnam("nobody").pw_uid
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    os.chown(str(shared), nobody, -1)
    with pytest.raises(OSError) as err:
        history.append(str(shared / "history.jsonl"), _sample(1), series.to_hours)
    assert "is writable by everyone and owned by uid %d, neither root nor this user" % nobody in str(err.value)
    assert os.listdir(str(shared)) == []
    os.chmod(str(shared), 0o755)  # owned by another user but writable only by it: not refused
    os.chown(str(shared), 0, -1)
    history.append(str(shared / "history.jsonl"), _sample(1), series.to_hours)


def test_a_short_write_leaves_no_torn_line_and_warns(tmp_path):
    """RLIMIT_FSIZE makes the kernel take only part of a write, as a full disk does."""
    path = tmp_path / "history.jsonl"
    window, _w = history.append(str(path), _sample(1), series.to_hours)
    before = path.read_bytes()
    script = textwrap.dedent("""
        import json, resource, signal, sys
        sys.path.insert(0, %r)
        from ansible_collections.memleak.remediation.plugins.module_utils import history, series
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))
        sample = {"v": 1, "t": "2026-01-01T00:00:02Z", "boot": "b", "s": {"mem.used": 2, "pad": "x" * 200}}
        print(json.dumps(history.append(%r, sample, series.to_hours)))
    """) % (COLLECTIONS, len(before) + 10, len(before) + 10, str(path))
    proc = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    kept, warnings = json.loads(proc.stdout)
    assert len(kept) == 1 and kept[0]["t"] == "2026-01-01T00:00:01Z"
    assert len(warnings) == 1 and "the new line was not kept: only 10 of" in warnings[0]
    assert path.read_bytes() == before  # no torn line


def test_write_all_reports_how_much_was_written(tmp_path):
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        with pytest.raises(OSError) as err:
            jsonl_file.write_all(write_end, b"x" * (1 << 22))  # more than a pipe holds
        assert "only " in str(err.value) and " of 4194304 bytes written" in str(err.value)
    finally:
        os.close(read_end)
        os.close(write_end)
