# -*- coding: utf-8 -*-
"""Parsers of Linux /proc text, on real captures (tests/fixtures/proc/README.md)."""

import os

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "proc")
DEB = os.path.join(FIX, "debian12-firecracker-6.18")
KIB = 1024


def text(*parts):
    with open(os.path.join(FIX, *parts)) as handle:
        return handle.read()


# --- meminfo -------------------------------------------------------------------------

def test_meminfo_every_field_in_bytes_on_a_6_18_kernel():
    raw = text("debian12-firecracker-6.18", "proc", "meminfo")
    info = lp.parse_meminfo(raw)
    assert len(info) == len(raw.splitlines()) == 54
    assert info["MemTotal"] == 24684096 * KIB
    assert info["Balloon"] == 0
    assert info["SecPageTables"] == 0
    assert info["HugePages_Total"] == 0 and info["Hugepagesize"] == 2048 * KIB
    for name, value in info.items():
        if not name.startswith("HugePages_"):
            assert value % KIB == 0, name


def test_meminfo_of_seed_004_and_used_from_memavailable():
    info = lp.parse_meminfo(text("centos7-vmware-seed004", "proc", "meminfo"))
    assert info["MemTotal"] == 7994080 * KIB
    assert info["VmallocTotal"] == 34359738367 * KIB
    mem = lp.memory_summary(info)
    assert mem["used"] == (7994080 - 932412) * KIB
    assert mem["commit_used"] == 2073776 * KIB and mem["commit_limit"] == 8154476 * KIB


def test_used_without_memavailable_uses_the_old_procps_formula():
    info = lp.parse_meminfo(text("centos7-perftools78", "proc", "meminfo"))
    assert "MemAvailable" not in info
    mem = lp.memory_summary(info)
    assert mem["available"] is None
    assert mem["used"] == (24592560 - 532324 - 236832 - 459252 - 14810428) * KIB


@pytest.mark.parametrize("raw, line, words", [
    ("MemTotal:        7994080 kB\nMemFree:          125256 MB\n", 2, "unknown unit"),
    ("MemTotal:        7994080 kB\n<html><body>502 Bad Gateway</body></html>\n", 2, "expected"),
    ("MemTotal:        7994080 kB\nMemFree:          12525", 2, "cut short"),
    ("MemTotal:        79x4080 kB\n", 1, "not a whole number"),
])
def test_meminfo_garbage_names_the_line(raw, line, words):
    with pytest.raises(ParseError) as err:
        lp.parse_meminfo(raw, source="/srv/capture/proc/meminfo")
    assert err.value.line == line
    assert str(err.value).startswith("/srv/capture/proc/meminfo line %d: " % line)
    assert words in str(err.value)


def test_meminfo_without_memtotal_is_truncated():
    with pytest.raises(ParseError, match="no MemTotal"):
        lp.parse_meminfo("")


# --- vmstat --------------------------------------------------------------------------

def test_vmstat_counters():
    stats = lp.parse_vmstat(text("debian12-firecracker-6.18", "proc", "vmstat"))
    assert len(stats) == 192
    assert stats["nr_balloon_pages"] == 0 and stats["balloon_inflate"] == 0
    assert all(isinstance(v, int) for v in stats.values())


def test_vmstat_garbage():
    with pytest.raises(ParseError) as err:
        lp.parse_vmstat("nr_free_pages 6059142\nnr_zone_inactive_anon\n")
    assert err.value.line == 2


# --- slabinfo ------------------------------------------------------------------------

def test_slabinfo_bytes_is_num_objs_times_objsize():
    raw = text("debian12-firecracker-6.18", "proc", "slabinfo")
    caches = lp.parse_slabinfo(raw)
    assert len(caches) == len(raw.splitlines()) - 2
    row = [line for line in raw.splitlines() if line.startswith("dentry ")][0].split()
    dentry = [c for c in caches if c["name"] == "dentry"][0]
    assert dentry == {"name": "dentry", "active_objs": int(row[1]), "num_objs": int(row[2]),
                      "objsize": int(row[3]), "bytes": int(row[2]) * int(row[3])}


def test_slabinfo_of_slub_and_slab_kernels():
    slub = lp.parse_slabinfo(text("samples", "slabinfo-slub-openzfs3302.txt"))
    xfs = [c for c in slub if c["name"] == "xfs_inode"][0]
    assert xfs["bytes"] == 28272 * 1024
    slab = lp.parse_slabinfo(text("samples", "slabinfo-slab-r8152-181.txt"))
    assert [c["bytes"] for c in slab if c["name"] == "cifs_inode_cache"] == [365 * 808]


def test_slabinfo_header_only_is_an_error():
    header = "\n".join(text("samples", "slabinfo-slub-openzfs3302.txt").splitlines()[:2]) + "\n"
    with pytest.raises(ParseError, match="no slab caches listed"):
        lp.parse_slabinfo(header, source="/proc/slabinfo")


def test_slabinfo_cut_row_names_the_line():
    raw = text("samples", "slabinfo-slub-openzfs3302.txt")
    cut = raw[:raw.index("xfs_inode ") + len("xfs_inode          28272")]
    with pytest.raises(ParseError) as err:
        lp.parse_slabinfo(cut)
    assert err.value.line == len(cut.splitlines())


def test_slabinfo_without_version_line():
    with pytest.raises(ParseError, match="version"):
        lp.parse_slabinfo("dentry 1 1 192 21 1 : tunables 0 0 0 : slabdata 1 1 0\n")
    with pytest.raises(ParseError, match="unsupported slabinfo version 1.1"):
        lp.parse_slabinfo("slabinfo - version: 1.1\nkmem_cache 60 78 100 2 2 1\n")


# --- smaps_rollup, smaps, status -----------------------------------------------------

def test_smaps_rollup_of_a_process_holding_64_mib():
    fields = lp.parse_smaps_rollup(text("debian12-firecracker-6.18", "proc", "4661", "smaps_rollup"))
    assert fields["Rss"] == 79184 * KIB
    assert fields["Pss"] == 75151 * KIB
    assert fields["Anonymous"] == 72432 * KIB
    assert fields["Swap"] == 0


def test_smaps_sums_every_mapping():
    raw = text("samples", "smaps-bash-debian12.txt")
    fields = lp.parse_smaps(raw)
    rss = sum(int(line.split()[1]) for line in raw.splitlines() if line.startswith("Rss:"))
    pss = sum(int(line.split()[1]) for line in raw.splitlines() if line.startswith("Pss:"))
    assert (fields["Rss"], fields["Pss"]) == (rss * KIB, pss * KIB) == (2076 * KIB, 477 * KIB)


def test_smaps_garbage():
    with pytest.raises(ParseError) as err:
        lp.parse_smaps_rollup("Rss:  12 kB\nthis is not smaps\n")
    assert err.value.line == 2
    with pytest.raises(ParseError, match="empty or truncated"):
        lp.parse_smaps_rollup("55a50d6d7000-7ffd0c45a000 ---p 00000000 00:00 0   [rollup]\n")


def test_status_of_user_process_and_kernel_thread():
    status = lp.parse_status(text("debian12-firecracker-6.18", "proc", "4661", "status"))
    assert status == {"name": "python3", "pid": 4661, "rss": 79184 * KIB, "anon": 72432 * KIB, "swap": 0}
    kthread = lp.parse_status(text("samples", "status-kthreadd-debian12.txt"))
    assert kthread["name"] == "kthreadd" and kthread["rss"] is None


def test_status_garbage():
    with pytest.raises(ParseError) as err:
        lp.parse_status("Name:\tbash\nVmRSS:\t  12 MB\n", source="/proc/7/status")
    assert str(err.value).startswith("/proc/7/status line 2:")


# --- mounts --------------------------------------------------------------------------

def test_mounts_and_tmpfs_size_option():
    mounts = lp.parse_mounts(text("debian12-firecracker-6.18", "proc", "mounts"))
    shm = [m for m in mounts if m["mount"] == "/dev/shm"]
    assert len(shm) == 2 and shm[0]["fstype"] == "tmpfs"
    assert lp.size_option_bytes(shm[0]["options"]) == 24684096 * KIB
    memory = [m["mount"] for m in mounts if m["fstype"] in lp.MEMORY_FSTYPES]
    assert "/dev" in memory and "/" not in memory


def test_mount_point_with_a_space():
    (entry,) = lp.parse_mounts(text("samples", "mounts-escaped-space-debian12.txt"))
    assert entry["mount"] == "/tmp/memleak test"
    assert lp.size_option_bytes(entry["options"]) == 16 * KIB * KIB


def test_mount_of_picks_the_longest_prefix():
    mounts = lp.parse_mounts(text("debian12-firecracker-6.18", "proc", "mounts"))
    assert lp.mount_of("/dev/shm/x", mounts)["mount"] == "/dev/shm"
    assert lp.mount_of("/dev/shmx", mounts)["mount"] == "/dev"
    memory = [m for m in mounts if m["fstype"] in lp.MEMORY_FSTYPES]
    assert lp.mount_of("/var/tmp/x", memory) is None


# --- dentry-state --------------------------------------------------------------------

def test_dentry_state_nr_negative_only_from_linux_5():
    raw = text("debian12-firecracker-6.18", "proc", "sys", "fs", "dentry-state")
    values = [int(v) for v in raw.split()]
    assert len(values) == 6
    new = lp.parse_dentry_state(raw, kernel="6.18.44-fc-v595")
    assert new["nr_dentry"] == values[0] and new["nr_negative"] == values[4]
    old = lp.parse_dentry_state(raw, kernel="3.10.0-693.el7.x86_64")
    assert old["nr_negative"] is None and old["age_limit"] == values[2]
    assert lp.parse_dentry_state(raw)["nr_negative"] is None


def test_dentry_state_five_fields_and_garbage():
    assert lp.parse_dentry_state("10 5 45 0 0\n", kernel="5.14.0")["nr_negative"] == 0
    with pytest.raises(ParseError):
        lp.parse_dentry_state("10 5 45\n")
    with pytest.raises(ParseError):
        lp.parse_dentry_state("10 5 45 0 x 0\n")


# --- modules, lsmod, VMware tools, balloon debugfs -------------------------------------

def test_proc_modules():
    names = lp.parse_modules(text("samples", "proc-modules-rhel6-guide.txt"))
    assert names[:3] == ["nfs", "lockd", "nls_utf8"] and len(names) == 14
    with pytest.raises(ParseError):
        lp.parse_modules("Module                  Size  Used by\n")


def test_lsmod_with_and_without_header():
    names = lp.parse_lsmod(text("samples", "lsmod-open-vm-tools-528.txt"))
    assert "vmw_balloon" in names and "Module" not in names and len(names) == 34
    assert lp.parse_lsmod(text("samples", "lsmod-grep-balloon-megocollector.txt")) == ["vmw_balloon"]
    with pytest.raises(ParseError):
        lp.parse_lsmod("libkmod: ERROR: could not open /proc/modules\n")


def test_toolbox_balloon_size():
    assert lp.parse_toolbox_balloon(text("samples", "toolbox-stat-balloon-megocollector.txt")) == 17960 * KIB * KIB
    assert lp.parse_toolbox_balloon("0 MHz\n") == 0  # old open-vm-tools label
    with pytest.raises(ParseError):
        lp.parse_toolbox_balloon("Failed to get ballooned memory: VMGuestLib error\n")


def test_toolbox_version():
    # "x.y.z.w (build-N)" per vmware/ansible-vsphere-gos-validation PR 712
    assert lp.parse_toolbox_version("11.3.5.31214 (build-18557794)\n") == "11.3.5.31214"
    with pytest.raises(ParseError):
        lp.parse_toolbox_version("toolbox-cmd must be run inside a virtual machine.\n")


@pytest.mark.parametrize("name", ["vmmemctl-v3.10-format.txt", "vmmemctl-v6.x-format.txt"])
def test_vmmemctl_both_layouts(name):
    stats = lp.parse_vmmemctl(text("samples", "format-rendered", name))
    # the later 'target: 691200 (0 failed)' command counter must not win
    assert stats == {"target_pages": 4597760, "current_pages": 4597760}


def test_vmmemctl_garbage():
    with pytest.raises(ParseError, match="no 'current'"):
        lp.parse_vmmemctl("permission denied\n")


def test_hv_balloon():
    stats = lp.parse_hv_balloon(text("samples", "format-rendered", "hv-balloon-v6.x-format.txt"))
    assert stats == {"pages_ballooned": 262144, "page_size": 4096}
    with pytest.raises(ParseError):
        lp.parse_hv_balloon("host_version          : 2.0\n")


def test_xen_kb_value():
    # xen-balloon.c prints "%lu\n" of PAGES2KB(...)
    assert lp.parse_kb_value("2097152\n", "/sys/devices/system/xen_memory/xen_memory0/target_kb") == 2 * KIB ** 3
    with pytest.raises(ParseError):
        lp.parse_kb_value("???\n", "high_kb")


# --- fd targets, os-release, cpuinfo -------------------------------------------------

def test_fd_targets_as_captured():
    links = dict(line.rstrip("\n").split("\t", 1) for line in text("debian12-firecracker-6.18", "SYMLINKS").splitlines())
    targets = {path.rsplit("/", 1)[1]: target for path, target in links.items() if path.startswith("proc/4661/fd/")}
    assert lp.parse_fd_target(targets["3"]) == ("/dev/shm/memleak-fixture.dat", True)
    assert lp.parse_fd_target(targets["0"]) == ("/dev/null", False)
    assert lp.parse_fd_target(targets["251"]) == (None, False)  # pipe:[7473]
    assert lp.parse_fd_target("/memfd:sealed (deleted)") == ("/memfd:sealed", True)


def test_os_release_and_cpuinfo():
    release = lp.parse_os_release(text("debian12-firecracker-6.18", "etc", "os-release"))
    assert release["NAME"] == "Debian GNU/Linux" and release["VERSION_ID"] == "12"
    flags = lp.parse_cpuinfo_flags(text("debian12-firecracker-6.18", "proc", "cpuinfo"))
    assert "hypervisor" in flags
    assert lp.parse_cpuinfo_flags("processor\t: 0\nBogoMIPS\t: 50.00\n") is None
    assert lp.kernel_version("3.10.0-693.el7.x86_64") == (3, 10)
