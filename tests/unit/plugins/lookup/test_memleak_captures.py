"""The memleak_captures lookup, loaded by its name as a playbook loads it.

The lookup runs in a child Python that installs ansible-core's collection loader (as ansible-playbook
does), so that its options come from its DOCUMENTATION; the test session keeps its own imports.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
SETS = os.path.join(ROOT, "tests", "fixtures", "captures", "sets")

_CHILD = r"""
import json, sys
from ansible.errors import AnsibleError
from ansible.plugins.loader import init_plugin_loader, lookup_loader
init_plugin_loader([sys.argv[1]])
lookup = lookup_loader.get("memleak.remediation.memleak_captures")
try:
    print(json.dumps({"result": lookup.run(json.loads(sys.argv[2]), variables={}, **json.loads(sys.argv[3]))}))
except AnsibleError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def query(terms, **options):
    proc = subprocess.run([sys.executable, "-c", _CHILD, COLLECTIONS, json.dumps(terms), json.dumps(options)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_folder_of_captures_gives_one_diagnosable_snapshot_each():
    result = query([SETS])["result"]
    by_name = dict((e["name"], e) for e in result)
    assert sorted(by_name) == sorted(os.listdir(SETS))
    for name, entry in by_name.items():
        assert entry["error"] is None and entry["skipped"] is False, (name, entry["error"])
        family = entry["snapshot"]["os"]["family"]
        assert family == ("linux" if name.startswith("sos-") else "windows"), name
        # a sosreport's memory files that were not needed are listed as such, and kept off the messages
        assert entry["files"] and all(f["status"] == "used" or f["reason"].startswith("present, not read")
                                      for f in entry["files"]), name
        assert entry["messages"] == []


def test_a_bad_capture_is_reported_with_file_and_line_and_does_not_hide_the_others(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "meminfo").write_text("MemTotal: 100 kB\nMemFree: lots\n")
    (tmp_path / "notes.txt").write_text("not a capture\n")
    result = dict((e["name"], e) for e in query([str(tmp_path), os.path.join(SETS, "win-msdocs-commit")])["result"])
    assert result["broken"]["snapshot"] is None
    assert result["broken"]["error"] == "meminfo line 2: value of MemFree is not a whole number: 'lots'"
    assert result["broken"]["messages"] == ["broken: error meminfo: " + result["broken"]["error"]]
    assert result["notes.txt"]["skipped"] is True and "not a capture folder or archive" in result["notes.txt"]["error"]
    assert result["win-msdocs-commit"]["snapshot"]["os"]["family"] == "windows"


@pytest.mark.parametrize("terms, options, message", [
    (["/nonexistent/memleak-captures"], {}, "memleak_captures: /nonexistent/memleak-captures does not exist"),
    ([SETS], {"max_file_mb": 0}, "memleak_captures: max_file_mb must be a whole number of at least 1, got 0"),
])
def test_bad_terms_and_options_fail_the_lookup_with_a_sentence(terms, options, message):
    assert message in query(terms, **options)["error"]


def test_a_file_larger_than_max_file_mb_is_skipped_unread(tmp_path):
    capture = tmp_path / "win-msdocs-commit"
    shutil.copytree(os.path.join(SETS, "win-msdocs-commit"), str(capture))
    with open(str(capture / "poolmon-big.log"), "w") as handle:
        handle.write(" Memory: 4193716K Avail: 2101848K\n" + "x" * (1024 * 1024 + 1))
    entry = query([str(capture)], max_file_mb=1)["result"][0]
    assert entry["snapshot"]["os"]["family"] == "windows", "the rest of the capture is still read"
    big = [f for f in entry["files"] if f["file"] == "poolmon-big.log"]
    assert [f["status"] for f in big] == ["skipped"] and "above the 1 MiB limit for one file (max_file_mb)" in big[0]["reason"]
    assert any(m.startswith("win-msdocs-commit: skipped poolmon-big.log: ") for m in entry["messages"])
