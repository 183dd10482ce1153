# -*- coding: utf-8 -*-
"""linux_collect on captured trees (tests/fixtures/proc) and on this machine."""

import os
import re
import shutil

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect as lc
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "proc")
DEB = os.path.join(FIX, "debian12-firecracker-6.18")
SEED = os.path.join(FIX, "centos7-vmware-seed004")
KIB = 1024
MIB = 1024 * KIB


def sample(*parts):
    with open(os.path.join(FIX, "samples", *parts)) as handle:
        return handle.read()


def copy_tree(tmp_path, src, name="tree"):
    return materialize(src, str(tmp_path / name))


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


def test_captured_debian_tree(tmp_path):
    snap = lc.collect(copy_tree(tmp_path, DEB), top=5)
    assert snap["schema"] == 1 and snap["source"] == "capture" and snap["host"] == "vm"
    assert snap["boot_id"] and snap["os"]["kernel"] == "6.18.44-fc-v595"
    assert snap["os"]["name"] == "Debian GNU/Linux" and snap["os"]["arch"] == "x86_64"
    assert snap["memory"]["total"] == 24684096 * KIB
    assert snap["virt"]["platform"] == "kvm"  # kvm-clock, no DMI
    assert snap["virt"]["balloon"] == {"driver": "virtio_balloon", "loaded": True, "bytes": 0, "target_bytes": None}
    linux = snap["linux"]
    assert len(linux["slab"]) == 5
    assert linux["slab"] == sorted(linux["slab"], key=lambda c: c["bytes"], reverse=True)
    top = linux["processes"][0]
    assert (top["pid"], top["name"], top["pss"], top["anon"]) == (4661, "python3", 75151 * KIB, 72432 * KIB)
    assert [p["pid"] for p in linux["processes"]] == [4661, 4662]
    assert linux["deleted_open"] == [{"pid": 4661, "name": "python3", "path": "/dev/shm/memleak-fixture.dat",
                                      "bytes": None}]
    shm = [m for m in linux["tmpfs"] if m["mount"] == "/dev/shm"]
    assert shm == [{"mount": "/dev/shm", "used": None, "size": 24684096 * KIB}]
    assert linux["dentry_state"]["nr_negative"] is not None
    assert any(w.startswith("tmpfs: a captured tree has no usage") for w in snap["warnings"])
    assert not any("slabinfo" in w or "vmstat" in w for w in snap["warnings"])


def test_missing_slabinfo_is_a_warning(tmp_path):
    root = copy_tree(tmp_path, DEB)
    os.remove(os.path.join(root, "proc", "slabinfo"))
    snap = lc.collect(root)
    assert snap["linux"]["slab"] is None
    assert "slabinfo: %s/proc/slabinfo not present" % root in snap["warnings"]


def test_garbage_optional_file_is_a_warning(tmp_path):
    root = copy_tree(tmp_path, DEB)
    with open(os.path.join(root, "proc", "slabinfo"), "w") as handle:
        handle.write("slabinfo - version: 2.1\n# name <active_objs>\n")
    snap = lc.collect(root)
    assert snap["linux"]["slab"] is None
    assert any(w.startswith("slabinfo: ") and "no slab caches listed" in w and w.endswith("(ignored)")
               for w in snap["warnings"])


def test_meminfo_only_tree_of_seed_004():
    snap = lc.collect(SEED)
    assert snap["memory"]["used"] == (7994080 - 932412) * KIB
    assert snap["linux"]["meminfo"]["MemTotal"] == 7994080 * KIB
    assert snap["virt"]["platform"] == "unknown"
    # Not captured is None, never "none found"; captured lists the one file read.
    assert snap["linux"]["processes"] is None and snap["linux"]["slab"] is None
    assert snap["captured"] == {"meminfo": "proc/meminfo"}
    joined = "\n".join(snap["warnings"])
    for label in ("vmstat", "slabinfo", "dentry_state", "tmpfs", "processes"):
        assert label + ": " in joined


@pytest.mark.parametrize("content, line", [
    ("MemTotal:        7994080 kB\nMemFree:          125256 kB\nMemAvailable:     93", 3),
    ("\x7fELF\x02\x01\x01\n", 1),
])
def test_bad_meminfo_raises_with_file_and_line(tmp_path, content, line):
    root = copy_tree(tmp_path, SEED)
    with open(os.path.join(root, "proc", "meminfo"), "w") as handle:
        handle.write(content)
    with pytest.raises(ParseError) as err:
        lc.collect(root)
    assert str(err.value).startswith("%s/proc/meminfo line %d: " % (root, line))


def test_missing_meminfo(tmp_path):
    with pytest.raises(ParseError, match="meminfo: cannot read: not present"):
        lc.collect(str(tmp_path))


def test_vmware_guest_balloon_from_lsmod_and_toolbox(tmp_path):
    """Seed 004's meminfo with a VMware lsmod (sosreport layout) and the tools' answer."""
    root = copy_tree(tmp_path, SEED)
    os.makedirs(os.path.join(root, "sos_commands", "kernel"))
    with open(os.path.join(root, "sos_commands", "kernel", "lsmod"), "w") as handle:
        handle.write(sample("lsmod-open-vm-tools-528.txt"))
    os.makedirs(os.path.join(root, "sys", "class", "dmi", "id"))
    for name, value in (("sys_vendor", "VMware, Inc.\n"), ("product_name", "VMware Virtual Platform\n")):
        with open(os.path.join(root, "sys", "class", "dmi", "id", name), "w") as handle:
            handle.write(value)
    calls = []

    def run(argv):
        calls.append(argv[1:])
        if argv[1:] == ["stat", "balloon"]:
            return 0, sample("toolbox-stat-balloon-megocollector.txt"), ""
        return 0, "11.3.5.31214 (build-18557794)\n", ""

    snap = lc.collect(root, live=True, run_command=run, which=lambda name: "/usr/bin/" + name)
    assert snap["virt"]["platform"] == "vmware"
    assert snap["virt"]["balloon"] == {"driver": "vmw_balloon", "loaded": True,
                                       "bytes": 17960 * KIB * KIB, "target_bytes": None}
    assert snap["virt"]["tools"] == {"name": "VMware Tools", "version": "11.3.5.31214"}
    assert ["stat", "balloon"] in calls


def test_vmware_balloon_from_debugfs_and_missing_tools(tmp_path):
    root = copy_tree(tmp_path, SEED)
    os.makedirs(os.path.join(root, "sys", "kernel", "debug"))
    shutil.copy(os.path.join(FIX, "samples", "format-rendered", "vmmemctl-v6.x-format.txt"),
                os.path.join(root, "sys", "kernel", "debug", "vmmemctl"))
    snap = lc.collect(root, live=True, run_command=lambda argv: (0, "", ""), which=lambda name: None)
    assert snap["virt"]["balloon"]["bytes"] == snap["virt"]["balloon"]["target_bytes"] == 4597760 * 4096


def test_balloon_size_unreadable_is_a_warning(tmp_path):
    root = copy_tree(tmp_path, SEED)
    with open(os.path.join(root, "proc", "modules"), "w") as handle:
        handle.write(sample("proc-modules-rhel6-guide.txt") + "vmw_balloon 18190 0 - Live 0x00000000\n")
    snap = lc.collect(root)
    assert snap["virt"]["balloon"] == {"driver": "vmw_balloon", "loaded": True, "bytes": None, "target_bytes": None}
    assert "balloon: vmw_balloon is loaded but its size is not readable here" in snap["warnings"]


def test_platform_rules():
    assert lc.detect_platform("VMware, Inc.", "VMware7,1") == "vmware"
    assert lc.detect_platform("Microsoft Corporation", "Virtual Machine") == "hyperv"
    assert lc.detect_platform("Microsoft Corporation", "Surface Pro 7", cpu_flags={"fpu"}) == "none"
    assert lc.detect_platform("Xen", "HVM domU") == "xen"
    assert lc.detect_platform("QEMU", "Standard PC (i440FX + PIIX, 1996)") == "kvm"
    assert lc.detect_platform("Amazon EC2", "m5.large", cpu_flags={"fpu", "hypervisor"}) == "kvm"
    assert lc.detect_platform("Amazon EC2", "m5.metal", cpu_flags={"fpu"}) == "none"
    assert lc.detect_platform("innotek GmbH", "VirtualBox", cpu_flags={"hypervisor"}) == "unknown"
    assert lc.detect_platform(cpu_flags={"fpu", "hypervisor"}) == "unknown"
    assert lc.detect_platform(cpu_flags={"fpu"}, clocksources=["tsc", "kvm-clock"]) == "kvm"
    assert lc.detect_platform(proc_xen=True) == "xen"
    assert lc.detect_platform(vmbus=True) == "hyperv"
    assert lc.detect_platform("Dell Inc.", "PowerEdge R640", cpu_flags={"fpu"}) == "none"
    assert lc.detect_platform() == "unknown"  # nothing readable: never guess bare metal


def test_live_read_of_this_machine():
    snap = lc.collect("/", top=5)
    assert snap["source"] == "live" and snap["memory"]["total"] > 0
    assert len(snap["linux"]["meminfo"]) > 30 and snap["linux"]["vmstat"]
    assert snap["os"]["arch"] and snap["os"]["kernel"]
    assert all(p["rss"] > 0 for p in snap["linux"]["processes"])
    assert os.getpid() not in [p["pid"] for p in snap["linux"]["processes"]]
    for mount in snap["linux"]["tmpfs"]:
        if mount["used"] is not None:
            assert 0 <= mount["used"] <= mount["size"]


def test_descriptors_are_not_scanned_when_no_deleted_file_can_hold_memory(tmp_path):
    """The captured tree holds a deleted /dev/shm file; with Shmem at 8 MiB it cannot matter."""
    root = copy_tree(tmp_path, DEB)
    meminfo = os.path.join(root, "proc", "meminfo")
    with open(meminfo) as handle:
        text = handle.read()
    with open(meminfo, "w") as handle:
        handle.write(re.sub(r"(?m)^Shmem: +\d+ kB$", "Shmem:              8192 kB", text))
    assert lc.collect(root, top=5)["linux"]["deleted_open"] == []


@pytest.mark.parametrize("fields, fstypes, scanned", [
    ({"Shmem": 8 * MIB}, ["tmpfs"], False),
    ({"Shmem": 16 * MIB}, ["tmpfs"], True),
    ({"Shmem": 8 * MIB}, ["tmpfs", "ramfs"], True),           # ramfs pages are not Shmem
    ({"Shmem": 8 * MIB, "HugePages_Total": 4, "HugePages_Free": 2}, [], True),  # a hugetlb memfd
    ({"Shmem": 8 * MIB, "HugePages_Total": 4, "HugePages_Free": 4}, [], False),
    ({}, ["tmpfs"], True),                                    # Shmem unknown: scan
])
def test_when_deleted_files_can_hold_memory(fields, fstypes, scanned):
    mounts = [{"fstype": fstype} for fstype in fstypes]
    assert lc._files_can_pin_memory(fields, mounts) is scanned


@pytest.mark.skipif(not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK),
                    reason="needs a writable /dev/shm")
def test_live_deleted_but_open_tmpfs_file_is_found(tmp_path):
    """A process keeps an unlinked 24 MiB file on /dev/shm open: pid, path and bytes are reported.

    24 MiB: with it Shmem is above the 16 MiB below which the descriptors are not scanned."""
    import subprocess
    import sys
    import time

    path = "/dev/shm/memleak-unit-%d.dat" % os.getpid()
    ready = str(tmp_path / "ready")
    code = ("import os, time\n"
            "fd = os.open(%r, os.O_CREAT | os.O_RDWR, 0o600)\n"
            "os.write(fd, b'x' * (24 * 1024 * 1024))\n"
            "os.unlink(%r)\n"
            "open(%r, 'w').close()\n"
            "time.sleep(30)\n") % (path, path, ready)
    holder = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 10
        while not os.path.exists(ready) and time.time() < deadline:
            time.sleep(0.05)
        snap = lc.collect("/", top=50)
        mine = [d for d in snap["linux"]["deleted_open"] if d["pid"] == holder.pid]
        assert [(d["path"], d["bytes"]) for d in mine] == [(path, 24 * 1024 * 1024)]
        assert mine[0]["name"].startswith("python")
    finally:
        holder.kill()
        holder.wait()


def test_container_is_told_apart_from_the_platform_below_it():
    assert lc.detect_container(dockerenv=True) == "docker"
    assert lc.detect_container(containerenv=True, dockerenv=True) == "podman"
    assert lc.detect_container(init_container="lxc") == "lxc"
    assert lc.detect_container(cgroup="12:pids:/kubepods/besteffort/pod1/abc\n") == "kubernetes"
    assert lc.detect_container(cgroup="9:memory:/docker/0123abcd\n") == "docker"
    assert lc.detect_container(cgroup="0::/\n") is None
    assert lc.detect_container() is None
    assert lc._init_container("PATH=/bin\0container=podman\0HOME=/") == "podman"


def test_a_container_on_a_kvm_guest_is_reported_as_both():
    from ansible_collections.memleak.remediation.plugins.module_utils.schema import platform_text
    assert platform_text({"platform": "kvm", "container": "docker"}) == "kvm, in a docker container"
    assert platform_text({"platform": "kvm", "container": None}) == "kvm"
    assert platform_text({"platform": "unknown", "container": "lxc"}) == "lxc container"
    # This machine, read live: in a docker container, the platform below is still detected.
    snap = lc.collect(proc_root="/", host="here")
    assert snap["virt"]["container"] == ("docker" if os.path.exists("/.dockerenv") else snap["virt"]["container"])
    assert snap["virt"]["platform"] != "docker"
