# -*- coding: utf-8 -*-
"""meminfo_facts as Ansible runs it: in-process with module args, and through `ansible`
as root and as the unprivileged user `nobody`."""

import json
import os
import pwd
import shutil
import subprocess
import sys

import pytest

from ansible.module_utils import basic

from ansible_collections.memleak.remediation.plugins.modules import meminfo_facts

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib
    from unittest import mock

    @contextlib.contextmanager
    def patch_module_args(args):
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIX = os.path.join(REPO, "tests", "fixtures", "proc")
DEB = os.path.join(FIX, "debian12-firecracker-6.18")
SEED = os.path.join(FIX, "centos7-vmware-seed004")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
COLLECTIONS = os.path.join(REPO, ".tmp", "collections")
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def materialize(src, dest):
    """Copy a fixture tree and recreate the symlinks listed in its SYMLINKS file."""
    shutil.copytree(src, dest)
    listing = os.path.join(src, "SYMLINKS")
    if os.path.exists(listing):
        with open(listing) as handle:
            for line in handle:
                if not line.strip():
                    continue
                rel, target = line.rstrip("\n").split("\t", 1)
                path = os.path.join(dest, rel)
                if not os.path.isdir(os.path.dirname(path)):
                    os.makedirs(os.path.dirname(path))
                os.symlink(target, path)
    return dest


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_exit(monkeypatch):
    def exit_json(self, **kwargs):
        raise AnsibleExitJson(kwargs)

    def fail_json(self, **kwargs):
        kwargs["failed"] = True
        raise AnsibleFailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run_module(args):
    with patch_module_args(args):
        try:
            meminfo_facts.main()
        except AnsibleExitJson as done:
            return done.args[0]
        except AnsibleFailJson as failed:
            return failed.args[0]
    raise AssertionError("the module neither exited nor failed")


def meminfo_kb_lines(root):
    with open(os.path.join(root, "proc", "meminfo")) as handle:
        return [line.split() for line in handle if line.strip()]


def test_every_meminfo_field_in_bytes(tmp_path):
    result = run_module({"proc_root": materialize(DEB, str(tmp_path / "tree")), "top": 3})
    assert result["changed"] is False and "failed" not in result
    snap = result["ansible_facts"]["memleak_snapshot"]
    meminfo = snap["linux"]["meminfo"]
    for words in meminfo_kb_lines(DEB):
        name = words[0].rstrip(":")
        expected = int(words[1]) * 1024 if words[-1] == "kB" else int(words[1])
        assert meminfo[name] == expected, name
    assert snap["memory"]["total"] == meminfo["MemTotal"]
    assert snap["memory"]["used"] == meminfo["MemTotal"] - meminfo["MemAvailable"]
    assert len(snap["linux"]["slab"]) == 3 and len(snap["linux"]["processes"]) <= 3


def test_check_mode_and_host_option():
    result = run_module({"proc_root": SEED, "host": "centos74-vm", "_ansible_check_mode": True})
    snap = result["ansible_facts"]["memleak_snapshot"]
    assert snap["host"] == "centos74-vm" and snap["source"] == "capture"


def test_unreadable_files_are_warnings_not_failures(tmp_path):
    root = materialize(DEB, str(tmp_path / "tree"))
    os.remove(os.path.join(root, "proc", "slabinfo"))
    os.remove(os.path.join(root, "proc", "sys", "fs", "dentry-state"))
    result = run_module({"proc_root": root})
    assert "failed" not in result
    snap = result["ansible_facts"]["memleak_snapshot"]
    assert snap["linux"]["slab"] is None and snap["linux"]["dentry_state"] is None
    assert "slabinfo: %s/proc/slabinfo not present" % root in snap["warnings"]
    assert "dentry_state: %s/proc/sys/fs/dentry-state not present" % root in snap["warnings"]


@pytest.mark.parametrize("content, line", [
    # seed 004's meminfo cut in the middle of its 12th line
    ("".join(open(os.path.join(SEED, "proc", "meminfo")).readlines()[:11]) + "Mlocked:        ", 12),
    ("MemTotal:        7994080 kB\n<!DOCTYPE html>\n", 2),
])
def test_bad_meminfo_fails_naming_file_and_line(tmp_path, content, line):
    root = tmp_path / "tree"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text(content)
    result = run_module({"proc_root": str(root)})
    assert result["failed"] is True
    assert result["msg"].startswith("%s/proc/meminfo line %d: " % (root, line))
    assert "Traceback" not in result["msg"]


def test_top_must_be_positive():
    result = run_module({"proc_root": SEED, "top": 0})
    assert result["failed"] is True and "top must be 1 or more" in result["msg"]


# --- the module as Ansible ships it to a host ------------------------------------------

def ansible_adhoc(args, extra=()):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_PIPELINING="true",
               ANSIBLE_NOCOLOR="1", ANSIBLE_REMOTE_TMP="/tmp/.ansible-meminfo-test")
    cmd = [ANSIBLE, "localhost", "-m", "memleak.remediation.meminfo_facts", "-a", args,
           "-e", "ansible_python_interpreter=%s" % SYSTEM_PYTHON] + list(extra)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, cwd=str(REPO), check=False)
    out = proc.stdout  # the ad-hoc 'minimal' output: "localhost | SUCCESS => {json}"
    assert " => {" in out, out + proc.stderr
    result = json.loads(out[out.index(" => {") + 4:])
    return proc, result, out + proc.stderr


needs_ansible = pytest.mark.skipif(not os.path.exists(ANSIBLE), reason="ansible CLI not installed here")
needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("su"),
                                reason="switching to nobody needs root and su")


@needs_ansible
def test_live_run_through_ansible():
    proc, result, text = ansible_adhoc("top=5 history=false")
    assert proc.returncode == 0, text
    snap = result["ansible_facts"]["memleak_snapshot"]
    assert snap["source"] == "live" and snap["linux"]["meminfo"]["MemTotal"] > 0
    assert "Traceback" not in text


@needs_ansible
@needs_root
def test_unprivileged_user_gets_warnings_not_failure():
    pwd.getpwnam("nobody")
    proc, result, text = ansible_adhoc(
        "top=5 history=false",
        ["-b", "--become-user", "nobody", "--become-method", "su", "-e", "ansible_become_flags='-s /bin/sh'"])
    assert proc.returncode == 0, text
    snap = result["ansible_facts"]["memleak_snapshot"]
    assert snap["linux"]["meminfo"]["MemTotal"] > 0
    assert snap["linux"]["slab"] is None
    assert "slabinfo: /proc/slabinfo permission denied (needs root)" in snap["warnings"]
    assert any(w.startswith("processes: smaps_rollup not readable for ") and "(not root)" in w
               for w in snap["warnings"])
    assert snap["linux"]["processes"], "status files stay readable without root"
    assert "Traceback" not in text


@needs_ansible
def test_garbage_meminfo_through_ansible_fails_cleanly(tmp_path):
    root = tmp_path / "tree"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text("MemTotal:        7994080 kB\nMemFree:   lots kB\n")
    proc, result, text = ansible_adhoc("proc_root=%s" % root)
    assert proc.returncode != 0
    assert "localhost | FAILED! =>" in text
    assert result["msg"] == "%s/proc/meminfo line 2: value of MemFree is not a whole number: 'lots'" % root
    assert "Traceback" not in text


# --- history on the host ---------------------------------------------------------------

def _lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def test_live_runs_append_one_sample_and_return_the_window(tmp_path):
    path = str(tmp_path / "state" / "history.jsonl")
    first = run_module({"top": 3, "history_path": path, "samples": 3, "interval": 0})
    assert first["history_path"] == path
    snap = first["ansible_facts"]["memleak_snapshot"]
    assert len(snap["samples"]) == 3, "three in-run samples are fitted"
    assert len(_lines(path)) == 1, "only the newest in-run sample is stored"
    newest = snap["samples"][-1]
    assert newest["t"] == snap["collected_at"] and newest["boot"] == snap["boot_id"]
    assert newest["s"]["ledger.unaccounted"] >= 0 and newest["s"]["mem.available"] > 0
    second = run_module({"top": 3, "history_path": path})["ansible_facts"]["memleak_snapshot"]
    assert len(second["samples"]) == 2 and len(_lines(path)) == 2


def test_check_mode_reads_history_but_writes_nothing(tmp_path):
    path = tmp_path / "history.jsonl"
    run_module({"top": 3, "history_path": str(path)})
    before = path.read_bytes()
    result = run_module({"top": 3, "history_path": str(path), "_ansible_check_mode": True})
    assert path.read_bytes() == before
    assert len(result["ansible_facts"]["memleak_snapshot"]["samples"]) == 2


def test_history_can_be_disabled_and_captures_are_never_recorded(tmp_path):
    path = tmp_path / "history.jsonl"
    live = run_module({"top": 3, "history": False, "history_path": str(path)})
    assert live["ansible_facts"]["memleak_snapshot"]["samples"] == [] and not path.exists()
    capture = run_module({"proc_root": SEED, "history_path": str(path)})
    assert "history_path" not in capture and not path.exists()


def test_unwritable_history_is_a_warning_not_a_failure(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_module({"top": 3, "history_path": str(blocker / "history.jsonl")})
    assert not result.get("failed"), result
    snap = result["ansible_facts"]["memleak_snapshot"]
    assert any(w.startswith("history: cannot write %s" % blocker) for w in snap["warnings"])
    assert len(snap["samples"]) == 1


def test_ledger_is_read_with_the_snapshot_in_one_module_run(tmp_path):
    """The remediate role reads the snapshot and the remediation ledger from one module on the host."""
    ledger = tmp_path / "remediation.jsonl"
    entry = {"v": 1, "t": "2026-11-20T06:00:00Z", "case": "c1", "step": "patch_os", "result": "done"}
    ledger.write_text(json.dumps(entry) + "\n{torn\n")
    history = str(tmp_path / "history.jsonl")
    result = run_module({"proc_root": SEED, "ledger": True, "history_path": history, "_ansible_check_mode": True})
    got = result["ansible_facts"]["memleak_remediation_ledger"]
    assert got["path"] == str(ledger), "the ledger beside history_path, as remediation_ledger finds it"
    assert got["entries"] == [entry]
    assert len(got["skipped"]) == 1 and "line 2" in got["skipped"][0], got["skipped"]
    assert not os.path.exists(history) and ledger.read_text().count("\n") == 2, "only read"

    missing = run_module({"proc_root": SEED, "ledger": True, "ledger_path": str(tmp_path / "none.jsonl")})
    assert missing["ansible_facts"]["memleak_remediation_ledger"]["entries"] == []
    assert "memleak_remediation_ledger" not in run_module({"proc_root": SEED})["ansible_facts"]

    unreadable = run_module({"proc_root": SEED, "ledger": True, "ledger_path": str(tmp_path)})
    assert unreadable["failed"] and unreadable["msg"].startswith("remediation ledger %s: " % tmp_path), unreadable
