"""A fleet of hosts for the report tests, built from the real fixtures by the real filters.

Every host starts from a real capture (``tests/fixtures/meminfo`` for Linux,
``tests/fixtures/windows`` for Windows) and is diagnosed by the collection's
own ``leak_diagnosis`` filter. What a capture does not show is added the way
``tests/fixtures/meminfo/README.md`` allows: single meminfo fields changed in
the code below, each change keeping MemTotal balanced (what is added to one
counter is taken from MemFree). Numbers vary per host (sizes, growth rates,
history length, reboots) so that no two rows of the report look alike.

``fleet(n)`` returns ``[(snapshot, diagnosis)]`` covering every verdict id of
docs/architecture.md (Verdict ids) once n >= 12; hosts are spread over the recipes in turn.
"""

import copy
import json
import os

from ansible_collections.memleak.remediation.plugins.filter.leak_diagnosis import FilterModule as _Diagnosis
from ansible_collections.memleak.remediation.plugins.filter.memory_ledger import FilterModule as _Ledger
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo

HERE = os.path.dirname(os.path.abspath(__file__))
MEMINFO = os.path.join(HERE, "fixtures", "meminfo")
WINDOWS = os.path.join(HERE, "fixtures", "windows")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

leak_diagnosis = _Diagnosis().filters()["leak_diagnosis"]
memory_ledger = _Ledger().filters()["memory_ledger"]


def _meminfo(name):
    path = os.path.join(MEMINFO, name)
    with open(path) as handle:
        return parse_meminfo(handle.read(), path)


def _linux(host, name, kernel, when, boot):
    mi = _meminfo(name)
    snap = schema.new_snapshot(host, when)
    snap["boot_id"] = boot
    snap["os"].update(name="Debian GNU/Linux", version="12", kernel=kernel, arch="x86_64",
                      ram_bytes=mi["MemTotal"])
    snap["linux"]["meminfo"] = mi
    _totals(snap)
    return snap


def _totals(snap):
    mi = snap["linux"]["meminfo"]
    available = mi.get("MemAvailable", mi["MemFree"])
    snap["memory"].update(total=mi["MemTotal"], free=mi["MemFree"], available=available,
                          used=mi["MemTotal"] - available)


def _move(snap, size, *fields):
    """Put ``size`` bytes into ``fields`` and take them from MemFree and MemAvailable."""
    mi = snap["linux"]["meminfo"]
    for field in fields:
        mi[field] = mi.get(field, 0) + size
    mi["MemFree"] -= size
    if "MemAvailable" in mi:
        mi["MemAvailable"] = max(0, mi["MemAvailable"] - size)
    _totals(snap)


def _category(snap, name):
    return next(e["bytes"] for e in memory_ledger(snap) if e["category"] == name)


def _stamp(hour):
    day, hour = divmod(hour, 24)
    return "2024-05-%02dT%02d:00:00Z" % (day + 1, hour)


def _history(snap, name, now_value, rate, hours, reboot_at=None, noise=0):
    """Hourly compact samples ending with the snapshot; ``name`` grows by ``rate`` bytes per hour.

    Before ``reboot_at`` hours the host ran an earlier boot (its own boot id), where the
    series started lower: the report must break the line there.
    """
    last = series.compact_sample(snap, memory_ledger(snap))
    samples = []
    for index in range(hours):
        age = hours - 1 - index
        sample = copy.deepcopy(last)
        sample["t"] = _stamp(index)
        value = now_value - rate * age + (noise if index % 2 else 0)
        if reboot_at is not None and index < reboot_at:
            sample["boot"] = "%s-previous" % snap["boot_id"]
            value = now_value - rate * age + rate * 8
        sample["s"][name] = max(0, int(value))
        samples.append(sample)
    snap["samples"] = samples
    snap["collected_at"] = samples[-1]["t"]
    return snap


# -- Linux recipes: each returns a snapshot; i varies the numbers ------------------------------------

def healthy(host, i):
    snap = _linux(host, "debian12-6.18.44-firecracker-idle.meminfo", "6.18.44", _stamp(0), "b-%s" % host)
    _move(snap, (200 + 37 * i) * MIB, "AnonPages", "Active(anon)")
    return _history(snap, "mem.used", snap["memory"]["used"], 0, 6 + i % 12, noise=4 * MIB)


def page_cache(host, i):
    name = ("rhel7.1-3.10-page-cache.meminfo", "fedora-6.x-page-cache.meminfo")[i % 2]
    snap = _linux(host, name, "3.10.0-229.el7.x86_64" if i % 2 == 0 else "6.5.6", _stamp(0), "b-%s" % host)
    return _history(snap, "mem.used", snap["memory"]["used"], 0, 4 + i % 8, noise=16 * MIB)


def unaccounted_kernel(host, i):
    snap = _linux(host, "centos7.4-3.10.0-693.el7-vmware.meminfo", "3.10.0-693.el7.x86_64", _stamp(0),
                  "b-%s" % host)
    snap["virt"].update(platform="vmware",
                        balloon={"driver": "vmw_balloon", "loaded": False, "bytes": None, "target_bytes": None})
    now = memory_ledger(snap)[-1]["bytes"]
    return _history(snap, "ledger.unaccounted", now, (16 + 3 * i) * MIB, 24 + 2 * i,
                    reboot_at=(6 + i % 5) if i % 2 else None)


def balloon_inflation(host, i):
    snap = _linux(host, "centos7.4-3.10.0-693.el7-vmware.meminfo", "3.10.0-693.el7.x86_64", _stamp(0),
                  "b-%s" % host)
    size = memory_ledger(snap)[-1]["bytes"] - (i % 4) * 64 * MIB
    snap["virt"].update(platform="vmware", tools={"name": "VMware Tools", "version": "10.%d.5" % (i % 4)},
                        balloon={"driver": "vmw_balloon", "loaded": True, "bytes": size, "target_bytes": size})
    return _history(snap, "balloon", size, 0, 3 + i % 6, noise=2 * MIB)


def slab_growth(host, i):
    snap = _linux(host, "debian12-6.18.44-firecracker-idle.meminfo", "6.18.44", _stamp(0), "b-%s" % host)
    size = (3 + i % 5) * GIB
    _move(snap, size, "SReclaimable", "Slab", "KReclaimable")
    snap["linux"]["slab"] = [{"name": "dentry", "active_objs": size // 192, "num_objs": size // 192,
                              "objsize": 192, "bytes": size // 192 * 192},
                             {"name": "inode_cache", "active_objs": 9000, "num_objs": 9100, "objsize": 600,
                              "bytes": 9100 * 600}]
    snap["linux"]["dentry_state"] = {"nr_dentry": size // 192, "nr_unused": size // 200, "age_limit": 45,
                                     "want_pages": 0, "nr_negative": size // 210}
    return _history(snap, "slab:dentry", size // 192 * 192, (40 + 7 * i) * MIB, 30 + i % 20,
                    reboot_at=10 if i % 3 == 0 else None)


def process_leak(host, i):
    snap = _linux(host, "debian12-6.18.44-firecracker-idle.meminfo", "6.18.44", _stamp(0), "b-%s" % host)
    size = (7 + i % 6) * GIB
    _move(snap, size, "AnonPages", "Active(anon)")
    pid = 4000 + i
    name = ("java", "node", "python3", "postgres")[i % 4]
    snap["linux"]["processes"] = [{"pid": pid, "name": name, "rss": size + 20 * MIB, "pss": size, "anon": size,
                                   "swap": 0}]
    return _history(snap, "proc:%s[%d]" % (name, pid), size, (400 + 11 * i) * MIB, 20 + i % 30,
                    reboot_at=(5 + i % 4) if i % 2 == 0 else None)


def shmem_tmpfs(host, i):
    snap = _linux(host, "debian12-6.18.44-firecracker-idle.meminfo", "6.18.44", _stamp(0), "b-%s" % host)
    size = (6 + i % 4) * GIB
    _move(snap, size, "Shmem", "Cached", "Inactive(anon)")
    snap["linux"]["tmpfs"] = [{"mount": "/dev/shm", "used": size, "size": 12 * GIB}]
    return _history(snap, "ledger.shmem", _category(snap, "shmem"), (20 + i) * MIB, 12 + i % 10)


def hugepages_reserved(host, i):
    snap = _linux(host, "debian12-6.18.44-firecracker-idle.meminfo", "6.18.44", _stamp(0), "b-%s" % host)
    count = 2048 + 256 * (i % 4)
    mi = snap["linux"]["meminfo"]
    mi.update(HugePages_Total=count, HugePages_Free=count, HugePages_Rsvd=0)
    _move(snap, count * mi["Hugepagesize"], "Hugetlb")
    return _history(snap, "ledger.hugepages", count * mi["Hugepagesize"], 0, 5)


# -- Windows recipes ---------------------------------------------------------------------------------

def _windows(name, host):
    with open(os.path.join(WINDOWS, name)) as handle:
        snap = json.load(handle)
    snap["host"] = host
    return snap


def _compact(snap, hour):
    sample = series.compact_sample(snap)
    sample["t"] = _stamp(hour)
    return sample


def pool_leak(host, i):
    """Seed 000 with a day of hourly samples in which VFil keeps allocating."""
    snap = _windows("seed000_vmware_vfil_vnet.json", host)
    tags = dict((t["tag"], t) for t in snap["windows"]["tags"])
    rate = (30 + 5 * i) * MIB
    hours = 24 + i % 12
    samples = []
    for index in range(hours):
        age = hours - 1 - index
        earlier = copy.deepcopy(snap)
        vfil = dict((t["tag"], t) for t in earlier["windows"]["tags"])["VFil"]
        vfil["nonpaged_bytes"] = tags["VFil"]["nonpaged_bytes"] - rate * age
        vfil["nonpaged_allocs"] = tags["VFil"]["nonpaged_allocs"] - 2000 * age
        earlier["windows"]["pools"]["nonpaged"]["bytes"] -= rate * age
        samples.append(_compact(earlier, index))
    snap["samples"] = samples
    snap["collected_at"] = samples[-1]["t"]
    return snap


def pool_pressure(host, i):
    return _windows("seed001_windbg_nonpaged_max.json", host)


def socket_exhaustion(host, i):
    snap = _windows("seed003_isa_afd_half_open.json", host)
    states = snap["windows"]["tcp"]["states"]
    states["SynReceived"] = states.get("SynReceived", 0) + 40 * i
    return snap


def commit_exhaustion(host, i):
    return _windows("commit_exhaustion_java.json", host)


def windows_healthy(host, i):
    return _windows("healthy_hyperv.json", host)


RECIPES = (
    ("healthy", healthy), ("page_cache", page_cache), ("unaccounted_kernel", unaccounted_kernel),
    ("balloon_inflation", balloon_inflation), ("slab_growth", slab_growth), ("process_leak", process_leak),
    ("shmem_tmpfs", shmem_tmpfs), ("hugepages_reserved", hugepages_reserved), ("pool_leak", pool_leak),
    ("pool_pressure", pool_pressure), ("socket_exhaustion", socket_exhaustion),
    ("commit_exhaustion", commit_exhaustion), ("healthy", windows_healthy),
)


def diagnose(snapshot):
    """The collection's diagnosis of a snapshot, through the leak_diagnosis filter."""
    return leak_diagnosis(snapshot)


def fleet(count):
    """[(snapshot, diagnosis, recipe verdict)] for ``count`` hosts, recipes taken in turn."""
    hosts = []
    for index in range(count):
        verdict, recipe = RECIPES[index % len(RECIPES)]
        number = index // len(RECIPES)
        prefix = "win" if recipe in (pool_leak, pool_pressure, socket_exhaustion, commit_exhaustion,
                                     windows_healthy) else "lnx"
        host = "%s-%s-%02d" % (prefix, verdict.replace("_", "-"), number)
        snap = recipe(host, number)
        hosts.append((snap, diagnose(snap), verdict))
    return hosts
