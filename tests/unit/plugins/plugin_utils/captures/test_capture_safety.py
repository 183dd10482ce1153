# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile captures stay in their box: no write or read outside the capture, no hang, no unbounded
memory or time. Each capture is built the way an attacker would mail it in, around the real sosreport
fixture of tests/fixtures/captures/sets; a sentinel outside the capture must stay untouched and unread."""

import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
import time

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline, sniff

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SOS = os.path.join(ROOT, "fixtures", "captures", "sets", "sos-debian12-vm-deleted-tmpfs")
SECRET = "root:$6$SENTINEL-SECRET-HASH:19000:0:99999:7:::"
MIB = 1024 * 1024


@pytest.fixture
def box(tmp_path):
    """A temporary root with a secret file and an empty folder outside every capture."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\n")
    return tmp_path


def _link(name, target, hard=False):
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _file(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _tar(path, first=(), root=SOS, arcname="sos", mode="w:xz"):
    """The fixture sosreport as ``arcname``, after the hostile members ``first`` (so that they win)."""
    with tarfile.open(str(path), mode) as tar:
        for info, data in first:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
        if root:
            tar.add(root, arcname=arcname)
    return str(path)


def _assert_contained(box, result):
    text = json.dumps(result)
    assert "SENTINEL-SECRET" not in text
    assert os.listdir(str(box / "outside")) == []


# ------------------------------------------------------------------ item 1: links chained in an archive

def test_links_chained_to_root_neither_write_nor_read_outside(box):
    """Each link passes a lexical 'stays inside' check (a -> ., a/a/.../up -> ../../..), together they
    name /: a member written through them would land in ``outside``, a hostname read through them
    would be the secret."""
    base = "sos/sys/module/vmw_balloon"
    deep = base + "/a" * 40
    outside = str(box / "outside").lstrip("/")
    secret = str(box / "shadow").lstrip("/")
    archive = _tar(box / "case.tar.xz", [
        _link(base + "/a", "."),
        _link(deep + "/up", "../" * 40),
        _file(base + "/up/" + outside + "/planted", b"planted\n"),
        _link("sos/proc/sys/kernel/hostname", "../../../sys/module/vmw_balloon/up/" + secret),
        _link("sos/etc/hostname", "../sys/module/vmw_balloon/up/" + secret),
    ])
    result = offline.analyze_capture(archive)
    _assert_contained(box, result)
    assert result["error"] is None and result["hostname"] != SECRET.split(":")[0]
    assert any("member(s) skipped" in w for w in result["snapshot"]["warnings"])


def test_a_link_to_a_file_of_the_archive_is_read_as_that_file(box):
    """sosreports link etc/os-release -> ../usr/lib/os-release: still read, as a copy, never as a link."""
    archive = _tar(box / "case.tar.xz", [
        _file("sos/usr/lib/os-release", b'NAME="Debian GNU/Linux"\nVERSION_ID="12"\n'),
        _link("sos/etc/os-release", "../usr/lib/os-release"),
        _link("sos/proc/sys/kernel/hostname", "../../../etc/hostname"),
    ])
    result = offline.analyze_capture(archive)
    assert result["error"] is None
    assert result["snapshot"]["os"]["version"] == "12"
    with open(os.path.join(SOS, "etc", "hostname")) as handle:
        assert result["hostname"] == handle.read().strip()


def test_hard_link_to_a_file_outside_is_not_followed(box):
    archive = _tar(box / "case.tar.xz", [_link("sos/proc/sys/kernel/hostname", str(box / "shadow"), hard=True)])
    result = offline.analyze_capture(archive)
    _assert_contained(box, result)


# ------------------------------------------------------------------ item 2: links in unpacked folders

def _folder(box):
    folder = box / "sos"
    shutil.copytree(SOS, str(folder))
    return folder


def test_links_in_a_folder_are_not_followed(box):
    folder = _folder(box)
    for rel in ("etc/hostname", "proc/sys/kernel/hostname"):
        os.unlink(str(folder / rel))
        os.symlink(str(box / "shadow"), str(folder / rel))
    result = offline.analyze_capture(str(folder))
    _assert_contained(box, result)
    assert result["error"] is None and result["hostname"] is None


def test_proc_linked_to_the_controllers_proc_is_not_the_capture(box):
    folder = box / "capture"
    folder.mkdir()
    os.symlink("/proc", str(folder / "proc"))
    result = offline.analyze_capture(str(folder))
    assert result["snapshot"] is None
    assert "symbolic link" in result["error"] or "no file of the capture" in result["error"]


def test_linux_collect_of_a_captured_tree_follows_no_link(box):
    folder = _folder(box)
    os.unlink(str(folder / "proc" / "slabinfo"))
    os.symlink("/proc/slabinfo", str(folder / "proc" / "slabinfo"))
    os.symlink("/proc/self", str(folder / "proc" / "4242"))
    snap = linux_collect.collect(proc_root=str(folder), live=False)
    assert snap["linux"]["slab"] is None or snap["linux"]["slab"] == []
    assert any("slabinfo" in w and "symbolic link" in w for w in snap["warnings"])
    assert 4242 not in [p["pid"] for p in snap["linux"]["processes"]]


# ------------------------------------------------------------------ item 3: FIFOs, devices, huge files

class _Alarm(object):
    """A hang (a FIFO opened for reading waits for a writer forever) fails the test instead."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def hung(*_args):
            raise AssertionError("hung for %d s" % self.seconds)
        self.previous = signal.signal(signal.SIGALRM, hung)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def test_fifo_and_device_links_neither_hang_nor_grow(box):
    folder = _folder(box)
    os.unlink(str(folder / "proc" / "vmstat"))
    os.mkfifo(str(folder / "proc" / "vmstat"))
    os.unlink(str(folder / "proc" / "slabinfo"))
    os.symlink("/dev/zero", str(folder / "proc" / "slabinfo"))
    started = time.time()
    with _Alarm(60):
        result = offline.analyze_capture(str(folder))
    assert time.time() - started < 30
    assert result["error"] is None
    warnings = " ".join(result["snapshot"]["warnings"])
    assert "not a regular file" in warnings and "symbolic link" in warnings


def test_loose_fifo_is_skipped_with_its_reason(box):
    folder = box / "loose"
    folder.mkdir()
    shutil.copyfile(os.path.join(SOS, "proc", "meminfo"), str(folder / "meminfo"))
    os.mkfifo(str(folder / "vmstat"))
    with _Alarm(60):
        result = offline.analyze_capture(str(folder))
    assert result["error"] is None
    assert {"file": "vmstat", "kind": None, "status": "skipped",
            "reason": "not a regular file (FIFO, device or socket): not read"} in result["files"]


def test_a_huge_meminfo_is_refused_unread(box):
    folder = _folder(box)
    with open(str(folder / "proc" / "meminfo"), "ab") as handle:
        handle.truncate(3 * MIB)
    result = offline.analyze_capture(str(folder), limits={"max_file_bytes": 2 * MIB})
    assert result["snapshot"] is None
    assert "proc/meminfo" in result["error"] and "limit" in result["error"]


def test_read_under_refuses_links_fifos_and_oversized_files(box):
    (box / "d").mkdir()
    (box / "d" / "f").write_bytes(b"x" * 100)
    os.symlink(str(box / "d"), str(box / "l"))
    os.mkfifo(str(box / "d" / "p"))
    assert linux_collect.read_under(str(box), "d/f") == b"x" * 100
    assert linux_collect.read_under(str(box), "d/f", 10, head=True) == b"x" * 10
    for rel, max_bytes in (("l/f", 1000), ("d/p", 1000), ("d/f", 10), ("d/../shadow", 1000)):
        with pytest.raises(OSError):
            linux_collect.read_under(str(box), rel, max_bytes)


# ------------------------------------------------------------------ item 4: many prompts, linear

def test_64_mib_of_debugger_prompts_parse_in_bounded_time():
    prompts = "kd> r\n" * (64 * MIB // 6)
    text = prompts + "kd> !vm\nPhysical Memory:      1048576 (   4194304 Kb)\n"
    started = time.time()
    with _Alarm(150):
        found = sniff.sections(text)
    elapsed = time.time() - started
    # A generous bound: recounting the lines for each prompt (quadratic) never finishes.
    assert elapsed < 120, elapsed
    assert [(kind, line) for kind, _section, line in found] == [("vm", prompts.count("\n") + 1)]


def test_section_line_numbers_count_every_prompt():
    text = ("kd> r\n" * 3 + "kd> !vm\nPhysical Memory: 1 ( 4 Kb)\n") * 2 + "kd> !POOLUSED 2\nx\n"
    assert [(kind, line) for kind, _s, line in sniff.sections(text)] == [("vm", 4), ("vm", 9), ("poolused", 11)]


# ------------------------------------------------------------------ item 13: nesting, lone bad file

def test_1200_nested_folders_are_no_recursion_error():
    folder = tempfile.mkdtemp(prefix="memleak-deep-")  # not tmp_path: pytest removes that recursively
    fd = os.open(str(folder), os.O_RDONLY)
    for _ in range(1200):  # os.makedirs itself recurses
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    shutil.copyfile(os.path.join(SOS, "proc", "meminfo"), os.path.join(folder, "meminfo"))
    try:
        result = offline.analyze_capture(folder)
    finally:
        _remove_chain(folder, 1200)
        shutil.rmtree(folder)
    assert result["error"] is None
    assert any("nested more than" in f["reason"] for f in result["files"])


def _remove_chain(folder, depth):
    """shutil.rmtree recurses too: remove the d/d/d... chain from the bottom up."""
    for level in range(depth, 0, -1):
        os.rmdir(os.path.join(folder, "/".join(["d"] * level)))


def test_deeply_nested_archive_members_are_no_recursion_error(box):
    deep = "sos/sys/module/vmw_balloon" + "/d" * 1200 + "/x"
    archive = _tar(box / "deep.tar.xz", [_file(deep, b"x\n")])
    result = offline.analyze_capture(archive)
    assert result["error"] is None


@pytest.mark.parametrize("data, reason", [(b"\x00\x01binary" * 100, "binary"), (b"x" * (2 * MIB), "limit")])
def test_a_folder_whose_only_file_is_unusable_says_why(box, data, reason):
    folder = box / "case"
    folder.mkdir()
    (folder / "capture.txt").write_bytes(data)
    captures, skipped = offline.find_captures(str(folder), {"max_file_bytes": MIB})
    assert captures == [("case", str(folder))] and skipped == []
    result = offline.analyze_capture(str(folder), limits={"max_file_bytes": MIB})
    assert result["files"][0]["file"] == "capture.txt" and reason in result["files"][0]["reason"]


# ------------------------------------------------------------------ item 15: tar bombs

def test_members_not_read_count_against_the_extract_limit(box):
    """An archive of a few KiB holding 64 MiB of zeros that the analysis never reads."""
    archive = str(box / "bomb.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(SOS, arcname="sos")
        info = tarfile.TarInfo("sos/var/log/huge.log")
        info.size = 64 * MIB
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    assert os.path.getsize(archive) < MIB
    result = offline.analyze_capture(archive, limits={"max_extract_bytes": 8 * MIB})
    assert result["snapshot"] is None
    assert "holds more than 8 MiB" in result["error"] and "not read" in result["error"]
