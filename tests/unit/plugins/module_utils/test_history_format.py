# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Windows host history file is the Linux one: same lines, same reader.

tests/fixtures/windows/history_seed000.jsonl is what win_pool_facts (History.cs) leaves on
the seed 000 host after a week of daily runs; HistoryTests.TestHistoryFixtureLinesAreWrittenByteForByte
checks the C# writer against the same file.
"""

import json
import os
import re

from ansible_collections.memleak.remediation.plugins.module_utils import history
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.trend import to_hours

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "windows", "history_seed000.jsonl")
SERIES = re.compile(r"^(mem\.(available|free|used|commit_used)|pool\.(paged|nonpaged)|tag\.(p|np)(_out)?:.{1,16})$")


def lines():
    with open(FIXTURE, encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_every_line_is_written_as_history_py_writes_it():
    for number, line in enumerate(lines(), 1):
        sample = json.loads(line)
        assert json.dumps(sample, sort_keys=True, separators=(",", ":")) == line, "line %d" % number


def test_the_linux_reader_reads_every_line():
    samples, warnings = history.read(FIXTURE)
    assert warnings == [] and len(samples) == len(lines()) == 9
    for sample in samples:
        assert sorted(sample) == ["boot", "s", "t", "v"] and sample["v"] == 1
        assert all(SERIES.match(name) for name in sample["s"])
        to_hours(sample["t"])
    assert [s["boot"] for s in samples].count("2024-03-04T01:12:40Z") == 8, "one line from the previous boot"


def test_a_python_append_keeps_the_file_readable_by_both(tmp_path):
    path = str(tmp_path / "history.jsonl")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines()) + "\n")
    newest = json.loads(lines()[-1])
    newest["t"] = "2024-03-12T09:00:00Z"
    window, warnings = history.append(path, newest, to_hours, max_samples=5)
    assert warnings == [] and len(window) == 5 and window[-1] == newest
    with open(path, encoding="utf-8") as handle:
        assert handle.read().splitlines() == lines()[-4:] + [json.dumps(newest, sort_keys=True, separators=(",", ":"))]
