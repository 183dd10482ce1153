"""The reproductions of "Verdicts an operator can act on": thin history, one poolmon screen, an unknown
balloon and partial captures each give a verdict an operator can trust, with its confidence and the
captures that would settle what is unknown."""

import os

import pytest

from ansible_collections.memleak.remediation.plugins.filter.leak_diagnosis import _leak_diagnosis as leak_diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows import diagnose_windows
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge.base import annotate, load_knowledge

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures")
VMWARE_MEMINFO = os.path.join(FIXTURES, "meminfo", "centos7.4-3.10.0-693.el7-vmware.meminfo")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def commands(entries):
    return [entry["command"] for entry in entries]


def vmware_meminfo():
    with open(VMWARE_MEMINFO) as handle:
        return parse_meminfo(handle.read(), VMWARE_MEMINFO)


# -- 1. minutes of history do not make a critical ------------------------------------------

def idle_host_with_2_gib_unaccounted():
    """An 8 GiB host whose unaccounted memory reads 2 GiB now and rose from 0.8 GiB in 7 samples over
    2 minutes; nothing is short of memory."""
    meminfo = {"MemTotal": 8 * GIB, "MemFree": 4 * GIB, "MemAvailable": 5 * GIB, "Buffers": 0,
               "Cached": 1 * GIB, "Shmem": 0, "Active(anon)": 1 * GIB, "Inactive(anon)": 0,
               "Active(file)": 512 * MIB, "Inactive(file)": 512 * MIB, "Unevictable": 0, "SReclaimable": 0,
               "SUnreclaim": 0, "KernelStack": 0, "PageTables": 0}
    snap = schema.new_snapshot("idle01", "2026-11-30T10:02:00Z")
    snap["boot_id"] = "b1"
    snap["linux"]["meminfo"] = meminfo
    snap["captured"] = {"meminfo": "live", "modules": "live"}
    snap["virt"] = {"platform": "none", "tools": None, "balloon": None}
    assert memory_ledger(snap)[-1] == {"category": "unaccounted", "bytes": 2 * GIB,
                                       "description": memory_ledger(snap)[-1]["description"]}
    samples = []
    for i in range(7):
        sample = series.compact_sample(snap, memory_ledger(snap))
        sample["t"] = "2026-11-30T10:00:%02dZ" % (i * 20) if i < 3 else "2026-11-30T10:0%d:%02dZ" % (i * 20 // 60,
                                                                                                     i * 20 % 60)
        sample["s"]["ledger.unaccounted"] = int(0.8 * GIB + i * 0.2 * GIB)
        samples.append(sample)
    snap["samples"] = samples
    return snap


@pytest.mark.parametrize("run", [lambda s: leak_diagnosis(s, {}), lambda s: diagnosis.diagnose(s)],
                         ids=["leak_diagnosis filter", "diagnose"])
def test_seven_samples_over_two_minutes_are_not_proof(run):
    diag = run(idle_host_with_2_gib_unaccounted())
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    assert diag["verdict"]["severity"] != "critical"
    item = next(f for f in diag["findings"] if f["id"] == "unaccounted_kernel")
    assert item["exhaustion_eta_hours"] is None
    assert item["growth"]["samples"] == 7 and item["growth"]["proven"] is False
    assert any("rising, not proven yet (7 samples over 2.0 min)" in line for line in item["evidence"])
    assert item["confidence"] != "proven"
    assert "run the diagnose playbook every hour (it keeps the host's sample history)" in commands(item["missing"])


def test_the_same_rise_over_days_is_proven_but_not_extrapolated_past_the_evidence():
    snap = idle_host_with_2_gib_unaccounted()
    for i, sample in enumerate(snap["samples"]):
        sample["t"] = "2026-11-%02dT10:00:00Z" % (20 + i)  # a day apart instead of 20 s
    item = next(f for f in diagnosis.diagnose(snap)["findings"] if f["id"] == "unaccounted_kernel")
    assert item["confidence"] == "proven" and item["growth"]["proven"] is True
    # 0.2 GiB/day into 5 GiB available is 25 days away: more than 4 x the 6 days observed.
    assert item["exhaustion_eta_hours"] is None
    assert any("more than 4 x the 6.0 days observed" in line for line in item["evidence"])


def test_a_proven_rise_within_reach_gets_an_eta_and_raises_severity():
    snap = idle_host_with_2_gib_unaccounted()
    for i, sample in enumerate(snap["samples"]):
        sample["t"] = "2026-11-%02dT10:00:00Z" % (20 + i)
        sample["s"]["ledger.unaccounted"] = int(0.2 * GIB + i * 0.3 * GIB)  # 0.3 GiB a day
    snap["samples"][-1]["s"]["ledger.unaccounted"] = 2 * GIB
    snap["linux"]["meminfo"]["MemAvailable"] = GIB // 2  # 40 h at 0.3 GiB/day, within 4 x 6 days
    item = next(f for f in diagnosis.diagnose(snap)["findings"] if f["id"] == "unaccounted_kernel")
    assert item["confidence"] == "proven" and item["exhaustion_eta_hours"] is not None
    assert item["exhaustion_eta_hours"] < 72 and item["severity"] == "critical"


# -- 2. one poolmon screen names the dominant tag -------------------------------------------

# A poolmon screen in the layout of the PoolMon documentation's screens (tests/fixtures/captures/
# samples/poolmon/screen-msdocs-*.txt). Pool N:2203119K, VFil's Nonp bytes 1999887424 and
# Avail: 41532K are the figures of the issue's 4 GB Server 2016 VM; the other rows and header
# values are illustrative.
VFIL_SCREEN = """\
 Memory: 4193784K Avail:   41532K  PageFlts:  3104   InRam Krnl: 9124K P:161424K
 Commit:4361232K Limit:4979760K Peak:4401872K            Pool N:2203119K P:214560K
 Tag  Type        Allocs           Frees           Diff  Bytes           Per Alloc

 VFil Nonp    11923318 (  12)   4404120 (   2)  7519198 1999887424 (  2656)    265
 Ntfx Nonp      982213 (   1)    921877 (   1)    60336   54018400 (     0)    895
 Io   Nonp     1021112 (   1)   1020985 (   1)      127      91912 (     0)    723
 MmSt Paged     104112 (   3)     88123 (   2)    15989   93417728 (  1024)   5842
 CM31 Paged      38110 (   0)     10110 (   0)    28000   61731968 (     0)   2204
"""


def test_one_poolmon_screen_names_vfil_with_its_known_issue(tmp_path):
    path = tmp_path / "poolmon-screen.txt"
    path.write_text(VFIL_SCREEN)
    result = offline.analyze_capture(str(path))
    assert result["error"] is None, result["error"]
    diag = diagnose_windows(result["snapshot"])
    annotate(diag, result["snapshot"], load_knowledge())
    assert diag["verdict"]["id"] in ("pool_leak", "pool_pressure")
    assert diag["culprit"]["kind"] == "pool_tag" and diag["culprit"]["name"] == "VFil"
    assert diag["verdict"]["confidence"] == "likely"
    top = diag["findings"][0]
    assert top["subject"]["name"] == "VFil"
    assert "VMware KB 2077302" in str(top["kb"])
    assert any("88.6 % of the nonpaged pool" in line for line in top["evidence"])  # 1999887424 / 2203119K
    # One screen proves dominance, not growth; the release (pool limits) and samples over time are missing.
    assert {"systeminfo", "poolmon -b -n FILE"} <= set(commands(diag["verdict"]["missing"]))


# -- 3. a bare /proc/meminfo of a VMware guest: the balloon is unknown, not absent ---------

def test_bare_meminfo_leaves_the_balloon_unknown_and_says_what_to_capture(tmp_path):
    result = offline.analyze_capture(VMWARE_MEMINFO)
    snap = result["snapshot"]
    assert "modules" not in snap["captured"] and "meminfo" in snap["captured"]
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    assert diag["verdict"]["confidence"] == "suspected"
    assert {"lsmod", "vmware-toolbox-cmd stat balloon"} <= set(commands(diag["verdict"]["missing"]))
    text = " ".join([diag["verdict"]["summary"]] + diag["findings"][0]["evidence"]
                    + [e["description"] for e in diag["ledger"]]).lower()
    assert "balloon state unknown" in text
    for claim in ("no balloon driver", "not loaded", "no balloon explains"):
        assert claim not in text


def test_a_module_list_without_a_balloon_driver_proves_the_absence():
    snap = schema.new_snapshot("vm01", "2026-11-30T10:00:00Z")
    snap["linux"]["meminfo"] = vmware_meminfo()
    snap["virt"] = {"platform": "vmware", "tools": None,
                    "balloon": {"driver": "vmw_balloon", "loaded": False, "bytes": None, "target_bytes": None}}
    snap["captured"] = {"meminfo": "proc/meminfo", "modules": "proc/modules"}
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "unaccounted_kernel" and diag["verdict"]["confidence"] == "likely"
    assert "lsmod" not in commands(diag["verdict"]["missing"])
    assert any("no balloon driver is loaded (the module list was read" in line
               for line in diag["findings"][0]["evidence"])


def test_a_balloon_not_loaded_without_a_module_list_is_still_unknown():
    """A snapshot that says loaded: false but never read a module list proves nothing."""
    snap = schema.new_snapshot("vm01", "2026-11-30T10:00:00Z")
    snap["linux"]["meminfo"] = vmware_meminfo()
    snap["virt"]["balloon"] = {"driver": "vmw_balloon", "loaded": False, "bytes": None, "target_bytes": None}
    snap["captured"] = {"meminfo": "proc/meminfo"}
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["confidence"] == "suspected"
    assert "balloon state unknown" in [e for e in diag["ledger"] if e["category"] == "balloon"][0]["description"]


# -- 4. partial captures: a verdict with a confidence for each -----------------------------

def linux_partial(captured, **linux):
    snap = schema.new_snapshot("part01", "2026-11-30T10:00:00Z", source="capture")
    snap["captured"] = captured
    snap["linux"]["processes"] = None
    for key, value in linux.items():
        snap["linux"][key] = value
    return snap


def slab(name, size):
    return {"name": name, "active_objs": size // 256, "num_objs": size // 256, "objsize": 256, "bytes": size}


def test_slab_listing_alone_names_the_dominant_unreclaimable_cache():
    snap = linux_partial({"slabtop": "slabtop.txt"},
                         slab=[slab("kmalloc-256", 3 * GIB), slab("dentry", 200 * MIB), slab("inode_cache", 90 * MIB)])
    diag = diagnosis.diagnose(snap)
    assert (diag["verdict"]["id"], diag["culprit"]["name"]) == ("slab_growth", "kmalloc-256")
    assert diag["verdict"]["confidence"] == "likely"
    assert "cat /proc/meminfo" in commands(diag["verdict"]["missing"])


def test_a_dominant_reclaimable_cache_is_not_a_leak():
    snap = linux_partial({"slabtop": "slabtop.txt"},
                         slab=[slab("dentry", 6 * GIB), slab("ext4_inode_cache", 400 * MIB), slab("kmalloc-64", 30 * MIB)])
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "healthy"
    item = diag["findings"][0]
    assert item["subject"]["name"] == "dentry" and item["severity"] == "info"
    assert any("reclaimable cache" in line and "SLAB_RECLAIM_ACCOUNT" in line for line in item["evidence"])


def test_process_listing_alone_names_the_dominant_process():
    procs = [{"pid": 811, "name": "java", "rss": 9 * GIB, "pss": None},
             {"pid": 1, "name": "systemd", "rss": 12 * MIB, "pss": None},
             {"pid": 640, "name": "sshd", "rss": 8 * MIB, "pss": None}]
    diag = diagnosis.diagnose(linux_partial({"processes": "ps-aux.txt"}, processes=procs))
    assert (diag["verdict"]["id"], diag["culprit"]["name"]) == ("process_leak", "java")
    assert diag["verdict"]["confidence"] == "likely" and diag["verdict"]["severity"] == "warning"


def test_free_alone_judges_shared_memory():
    """`free -m` gives MemTotal, MemFree, shared (Shmem), buff/cache and available only."""
    meminfo = {"MemTotal": 16 * GIB, "MemFree": 1 * GIB, "Shmem": 9 * GIB, "Cached": 11 * GIB, "Buffers": 0,
               "MemAvailable": 3 * GIB}
    snap = linux_partial({"free": "free-m.txt"}, meminfo=meminfo)
    snap["memory"]["total"] = 16 * GIB
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "shmem_tmpfs"
    assert diag["verdict"]["confidence"] in ("likely", "suspected")


def test_free_alone_of_a_quiet_host_is_healthy_with_what_is_missing():
    meminfo = {"MemTotal": 16 * GIB, "MemFree": 10 * GIB, "Shmem": 100 * MIB, "Cached": 3 * GIB, "Buffers": 0,
               "MemAvailable": 13 * GIB}
    diag = diagnosis.diagnose(linux_partial({"free": "free-h.txt"}, meminfo=meminfo))
    assert diag["verdict"]["id"] == "healthy" and diag["verdict"]["confidence"] == "suspected"
    assert {"cat /proc/meminfo", "slabtop -o", "ps aux --sort=-rss"} <= set(commands(diag["verdict"]["missing"]))


def test_oom_report_alone_names_the_task_that_held_the_memory():
    kills = [{"time": "2026-11-29T03:12:09", "killed": {"pid": 4242, "name": "leaky", "rss": 7 * GIB},
              "tasks": [{"pid": 4242, "name": "leaky", "rss": 7 * GIB}, {"pid": 1, "name": "systemd", "rss": 9 * MIB},
                        {"pid": 700, "name": "rsyslogd", "rss": 20 * MIB}]}]
    diag = diagnosis.diagnose(linux_partial({"oom": "dmesg.txt"}, oom_kills=kills))
    assert (diag["verdict"]["id"], diag["culprit"]["name"]) == ("process_leak", "leaky")
    assert diag["verdict"]["severity"] == "critical" and diag["verdict"]["confidence"] == "likely"


def windows_partial(captured, tags=None, processes=None, events=None):
    snap = schema.new_snapshot("win01", "2026-11-30T10:00:00Z", source="capture", family="windows")
    snap["captured"] = captured
    snap["windows"]["tags"] = tags or []
    snap["windows"]["processes"] = processes or []
    snap["windows"]["low_memory_events"] = events
    return snap


def test_poolused_table_alone_names_the_dominant_tag():
    tags = [{"tag": "Leak", "nonpaged_bytes": 900 * MIB, "paged_bytes": 0, "nonpaged_allocs": 9000, "paged_allocs": 0},
            {"tag": "File", "nonpaged_bytes": 30 * MIB, "paged_bytes": 0, "nonpaged_allocs": 100, "paged_allocs": 0},
            {"tag": "MmSt", "nonpaged_bytes": 0, "paged_bytes": 200 * MIB, "nonpaged_allocs": 0, "paged_allocs": 99}]
    diag = diagnose_windows(windows_partial({"poolused": "poolused.txt"}, tags=tags))
    assert (diag["verdict"]["id"], diag["culprit"]["name"]) == ("pool_pressure", "Leak")
    assert diag["verdict"]["confidence"] == "likely"
    assert "systeminfo" in commands(diag["verdict"]["missing"])


def test_event_2004_alone_names_the_process_that_consumed_the_most():
    events = [{"time": "2026-11-29T03:12:09Z", "processes": [
        {"name": "sqlservr.exe", "pid": 2212, "bytes": 14 * GIB}, {"name": "MsMpEng.exe", "pid": 3100, "bytes": 310 * MIB},
        {"name": "svchost.exe", "pid": 880, "bytes": 120 * MIB}]}]
    diag = diagnose_windows(windows_partial({"event_2004": "System.evtx.txt"}, events=events))
    assert (diag["verdict"]["id"], diag["culprit"]["name"]) == ("commit_exhaustion", "sqlservr.exe")
    assert diag["verdict"]["severity"] == "critical" and diag["verdict"]["confidence"] == "likely"


def test_two_poolmon_screens_minutes_apart_name_the_rising_tag_as_suspected(tmp_path):
    """The PoolMon documentation's Drsd screens before and after a repro, three minutes apart."""
    folder = tmp_path / "host"
    folder.mkdir()
    samples = os.path.join(FIXTURES, "captures", "samples", "poolmon")
    for name, stamp in (("screen-msdocs-drsd-before.txt", 1700000000), ("screen-msdocs-drsd-after.txt", 1700000180)):
        target = folder / ("poolmon-%d.txt" % stamp)
        target.write_text(open(os.path.join(samples, name)).read())
        os.utime(str(target), (stamp, stamp))
    diag = diagnose_windows(offline.analyze_capture(str(folder))["snapshot"])
    rise = next(f for f in diag["findings"] if f["id"] == "pool_leak")
    assert rise["subject"]["name"] == "Drsd" and rise["confidence"] == "suspected"
    assert rise["evidence"][0] == "tag Drsd paged: +6 allocations, +4,992 bytes in 3.0 min over 2 screens (outstanding 21 -> 27)"
    # The only tag that rose: what the screens were taken to show, a warning; no rate is proof yet.
    assert rise["exhaustion_eta_hours"] is None and rise["severity"] == "warning"
    assert diag["verdict"]["id"] == "pool_leak" and diag["culprit"]["name"] == "Drsd"
    assert diag["verdict"]["confidence"] == "suspected"
    assert "poolmon -b -n FILE" in commands(diag["verdict"]["missing"])
