"""Memory problems induced on this machine, then diagnosed over SSH as root.

Each scenario holds a few hundred MiB the way a real culprit would (a process's
anonymous memory, a file on a tmpfs, a deleted file kept open) and asserts what
the administrator reads: the verdict, the culprit and its size, and where the
snapshot shows it. Helpers are stopped and mounts removed even when a test fails.
"""

import os

import pytest

from integration_harness import (MIB, Background, Host, Tmpfs, anon_memory_script, deleted_open_script,
                                 host_lines, load_report)

pytestmark = pytest.mark.integration

HOG_BYTES = 512 * MIB
TMPFS_FILE_BYTES = 384 * MIB
DELETED_BYTES = 256 * MIB


def _memtotal():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def _lowered(check, induced):
    """Thresholds of one leak_diagnosis check set to half the induced size.

    A few hundred MiB is a small share of a test machine's RAM (2 % of 24 GiB),
    far below the defaults meant for production; only the check under test is
    lowered, so the rest of the machine is judged as usual.
    """
    return {"%s_share" % check: round(induced / 2.0 / _memtotal(), 6), "%s_min_bytes" % check: induced // 2}


def _diagnose(ansible, report_dir, thresholds, host="induced"):
    inventory = ansible.inventory([Host(host, "root", "ssh")])
    run = ansible.playbook(inventory, extra_vars={"memleak_report_dir": report_dir,
                                                  "memleak_thresholds": thresholds})
    assert run.rc == 0, run.explain()
    assert "Traceback" not in run.output, run.explain()
    report = load_report(report_dir, host)
    return run, report["memleak_snapshot"], report["memleak_diagnosis"]


def _findings(diag, kind, name):
    """Findings about ``name``; a process subject is named 'NAME (pid N)'."""
    return [f for f in diag["findings"] if f["subject"]["kind"] == kind
            and (f["subject"]["name"] == name or f["subject"]["name"].startswith(name + " ("))]


def _evidence(finding):
    return "\n".join(str(item) for item in finding.get("evidence") or [])


@pytest.fixture
def hog():
    proc = Background(anon_memory_script(HOG_BYTES), "memleak-hog")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def tmpfs():
    mount = Tmpfs(768 * MIB)
    try:
        yield mount
    finally:
        mount.stop()


def test_process_holding_anonymous_memory_is_named(ansible, report_dir, hog):
    run, snap, diag = _diagnose(ansible, report_dir, _lowered("process", HOG_BYTES))

    top = snap["linux"]["processes"][0]
    assert (top["pid"], top["name"]) == (hog.pid, "memleak-hog"), snap["linux"]["processes"][:3]
    assert top["rss"] >= HOG_BYTES and top["anon"] >= HOG_BYTES, top
    assert top["pss"] is not None and top["pss"] >= HOG_BYTES, top

    assert diag["verdict"]["id"] == "process_leak", diag["verdict"]
    assert diag["culprit"]["kind"] == "process" and diag["culprit"]["name"] == "memleak-hog", diag["culprit"]
    found = _findings(diag, "process", "memleak-hog")
    assert found, "no finding about memleak-hog: %s" % diag["findings"]
    assert found[0]["bytes"] >= HOG_BYTES, found[0]
    assert str(hog.pid) in _evidence(found[0]) + str(found[0]["subject"]), found[0]
    line = " ".join(host_lines(run.stdout, "induced"))
    assert "process_leak" in line and "memleak-hog" in line, run.stdout[-4000:]


def test_file_on_tmpfs_gives_shmem_tmpfs(ansible, report_dir, tmpfs):
    tmpfs.fill("fill.bin", TMPFS_FILE_BYTES)

    run, snap, diag = _diagnose(ansible, report_dir, _lowered("shmem", TMPFS_FILE_BYTES))

    mounts = [m for m in snap["linux"]["tmpfs"] if m["mount"] == tmpfs.mount]
    assert mounts, "mount %s missing from snapshot tmpfs: %s" % (tmpfs.mount, snap["linux"]["tmpfs"])
    assert mounts[0]["used"] >= TMPFS_FILE_BYTES and mounts[0]["size"] == 768 * MIB, mounts[0]
    assert snap["linux"]["meminfo"]["Shmem"] >= TMPFS_FILE_BYTES

    assert diag["verdict"]["id"] == "shmem_tmpfs", diag["verdict"]
    assert diag["culprit"]["kind"] == "tmpfs" and diag["culprit"]["name"] == tmpfs.mount, diag["culprit"]
    found = _findings(diag, "tmpfs", tmpfs.mount)
    assert found and found[0]["bytes"] >= TMPFS_FILE_BYTES, diag["findings"]
    line = " ".join(host_lines(run.stdout, "induced"))
    assert "shmem_tmpfs" in line and tmpfs.mount in line, run.stdout[-4000:]


def test_deleted_open_file_is_found_with_pid_and_path(ansible, report_dir, tmpfs):
    path = os.path.join(tmpfs.mount, "held.bin")
    holder = Background(deleted_open_script(path, DELETED_BYTES), "memleak-holder")
    try:
        assert not os.path.exists(path)
        # deleted_open_min_bytes defaults to 128 MiB: the 256 MiB file counts as it is.
        run, snap, diag = _diagnose(ansible, report_dir, _lowered("shmem", DELETED_BYTES))
    finally:
        holder.stop()

    held = [d for d in snap["linux"]["deleted_open"] if d["pid"] == holder.pid]
    assert held, "pid %d missing from deleted_open: %s" % (holder.pid, snap["linux"]["deleted_open"])
    assert held[0]["path"] == path and held[0]["name"] == "memleak-holder", held[0]
    assert held[0]["bytes"] >= DELETED_BYTES, held[0]

    assert diag["verdict"]["id"] == "shmem_tmpfs", diag["verdict"]
    assert diag["culprit"]["kind"] in ("tmpfs", "process"), diag["culprit"]
    assert diag["culprit"]["name"] in (tmpfs.mount, "memleak-holder"), diag["culprit"]
    mentioned = [f for f in diag["findings"] if str(holder.pid) in _evidence(f) and path in _evidence(f)]
    assert mentioned, "no finding's evidence names pid %d and %s: %s" % (holder.pid, path, diag["findings"])
    assert "shmem_tmpfs" in " ".join(host_lines(run.stdout, "induced")), run.stdout[-4000:]
