# -*- coding: utf-8 -*-
"""remediation_ledger as Ansible runs it: read, append, check mode, bad lines and bad entries."""

import json

import pytest

from ansible_collections.memleak.remediation.plugins.modules import remediation_ledger

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args):
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield

ENTRY = {"case": "unaccounted_kernel:kernel:unaccounted", "step": "patch_os", "result": "done",
         "reason": "First step of the elimination.", "detail": {"manager": "apt"}}


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            remediation_ledger.main()
    return json.loads(capsys.readouterr().out)


def test_the_ledger_lives_beside_the_history():
    assert remediation_ledger.default_path("/srv/memleak/history.jsonl") == "/srv/memleak/remediation.jsonl"


def test_append_then_read(tmp_path, capsys):
    path = tmp_path / "state" / "remediation.jsonl"
    out = run({"path": str(path), "entry": ENTRY}, capsys)
    assert out["changed"] is True and out["appended"]["v"] == 1 and out["appended"]["t"].endswith("Z")
    assert json.loads(path.read_text().splitlines()[0])["case"] == ENTRY["case"]
    read = run({"path": str(path)}, capsys)
    assert read["changed"] is False and [e["step"] for e in read["entries"]] == ["patch_os"]


def test_check_mode_writes_nothing_but_says_it_would(tmp_path, capsys):
    path = tmp_path / "remediation.jsonl"
    out = run({"path": str(path), "entry": ENTRY}, capsys, check_mode=True)
    assert out["changed"] is True and len(out["entries"]) == 1
    assert not path.exists() and not (tmp_path / "remediation.jsonl.lock").exists()


def test_torn_lines_are_named_and_compacted_away(tmp_path, capsys):
    path = tmp_path / "remediation.jsonl"
    good = dict(ENTRY, v=1, t="2026-03-02T06:00:00Z")
    path.write_text(json.dumps(good) + "\n" + '{"case": "x", "st' + "\n" + json.dumps(dict(good, step="reboot")) + "\n")
    out = run({"path": str(path), "entry": dict(ENTRY, step="vmware_tools")}, capsys)
    assert out["skipped"][0] == "%s line 2: not JSON (torn or corrupt), skipped" % path
    assert "line 3: step 'reboot' is not one of" in out["skipped"][1]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == ["patch_os", "vmware_tools"]


def test_a_bad_entry_fails_with_its_reason(tmp_path, capsys):
    out = run({"path": str(tmp_path / "r.jsonl"), "entry": {"case": "c", "step": "patch_os"}}, capsys)
    assert out["failed"] is True and out["msg"] == "entry lacks result"


def test_the_ledger_is_bounded(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    for number in range(5):
        out = run({"path": str(path), "max_entries": 3, "entry": dict(ENTRY, reason=str(number))}, capsys)
    assert [e["reason"] for e in out["entries"]] == ["2", "3", "4"]
    assert len(path.read_text().splitlines()) == 3
