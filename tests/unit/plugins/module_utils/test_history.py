"""Host-side history: bounded, atomic, concurrent-safe, and forgiving of torn lines."""

import json
import multiprocessing
import os

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import history
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.trend import to_hours


def sample(day, value=1, boot="b1"):
    return {"v": 1, "t": "2026-01-%02dT00:00:00Z" % day, "boot": boot, "s": {"mem.used": value}}


def test_first_append_creates_the_directory_and_returns_the_window(tmp_path):
    path = str(tmp_path / "state" / "memleak" / "history.jsonl")
    window, warnings = history.append(path, sample(1), to_hours)
    assert window == [sample(1)] and warnings == []
    window, dummy = history.append(path, sample(2, 5), to_hours)
    assert [s["s"]["mem.used"] for s in window] == [1, 5]
    with open(path) as handle:
        assert [json.loads(line)["t"] for line in handle] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]


def test_history_is_bounded_by_count_and_age(tmp_path):
    path = str(tmp_path / "h.jsonl")
    for day in range(1, 11):
        window, dummy = history.append(path, sample(day), to_hours, max_samples=4)
    assert len(window) == 4 and window[0]["t"].startswith("2026-01-07")
    assert len(history.read(path)[0]) == 4
    window, dummy = history.append(path, sample(20), to_hours, max_samples=100, max_age_hours=5 * 24)
    assert [s["t"][:10] for s in window] == ["2026-01-20"]


def test_torn_and_foreign_lines_are_skipped_with_a_warning_and_compacted_away(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(sample(1)) + "\n" + '{"v": 1, "t": "2026-01-02T0' + "\n[1, 2]\n")
    samples, warnings = history.read(str(path))
    assert samples == [sample(1)]
    assert warnings == ["%s line 2: not JSON (torn or corrupt), skipped" % path,
                        "%s line 3: not a sample (needs 't' and 's'), skipped" % path]
    window, warnings = history.append(str(path), sample(3), to_hours)
    assert len(warnings) == 2 and [s["t"][:10] for s in window] == ["2026-01-01", "2026-01-03"]
    assert history.read(str(path)) == (window, [])


def _writer(args):
    path, worker = args
    for i in range(40):
        history.append(path, {"v": 1, "t": "2026-01-01T00:00:%02dZ" % (i % 60), "boot": "b",
                              "s": {"w%d" % worker: i, "pad": "x" * 3000}}, to_hours)


def test_concurrent_runs_do_not_interleave(tmp_path):
    path = str(tmp_path / "h.jsonl")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_writer, [(path, w) for w in range(4)])
    samples, warnings = history.read(path)
    assert warnings == [] and len(samples) == 160


def test_unreadable_history_is_a_warning(tmp_path):
    samples, warnings = history.read(str(tmp_path))  # a directory, not a file
    assert samples == [] and warnings and warnings[0].startswith("history: cannot read")


def test_history_that_cannot_be_read_is_never_overwritten(tmp_path):
    """A history that exists but cannot be read fails the append (meminfo_facts then warns and
    fits this run only) instead of being replaced by the new sample alone."""
    path = tmp_path / "h.jsonl"
    path.mkdir()
    (path / "keep").write_text("kept")
    with pytest.raises(OSError):
        history.append(str(path), sample(1), to_hours)
    assert (path / "keep").read_text() == "kept"


def test_default_path_root_and_user():
    assert history.default_path(0, {}) == "/var/lib/memleak/history.jsonl"
    assert history.default_path(1000, {"HOME": "/home/ann"}) == "/home/ann/.local/state/memleak/history.jsonl"
    assert history.default_path(1000, {"XDG_STATE_HOME": "/x"}) == "/x/memleak/history.jsonl"
    assert os.path.isabs(history.default_path())
