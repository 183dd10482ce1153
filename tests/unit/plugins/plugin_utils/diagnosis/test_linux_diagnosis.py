"""Verdicts on real meminfo captures: what an administrator reads first must be right."""

import copy
import os

import pytest

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo
from ansible_collections.memleak.remediation.plugins.plugin_utils.report.text import verdict_line

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "meminfo")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

SEED = "centos7.4-3.10.0-693.el7-vmware.meminfo"
SEED_UNACCOUNTED = 5316880 * KIB


def snapshot(name, kernel, host="db01", **virt):
    path = os.path.join(FIXTURES, name)
    with open(path) as handle:
        text = handle.read()
    snap = schema.new_snapshot(host, "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = kernel
    snap["linux"]["meminfo"] = parse_meminfo(text, path)
    snap["virt"].update(virt)
    return snap


def seed(**virt):
    return snapshot(SEED, "3.10.0-693.el7.x86_64", **virt)


def finding(diag, fid):
    found = [f for f in diag["findings"] if f["id"] == fid]
    assert found, "no %s finding in %s" % (fid, [f["id"] for f in diag["findings"]])
    return found[0]


def test_diagnosis_has_exactly_the_schema_1_keys():
    diag = diagnosis.diagnose(seed(platform="vmware"))
    assert sorted(diag) == ["culprit", "findings", "host", "ledger", "plan", "schema", "verdict"]
    assert diag["schema"] == 1 and diag["host"] == "db01"
    assert sorted(diag["verdict"]) == ["confidence", "id", "missing", "severity", "summary"]
    assert diag["verdict"]["confidence"] in schema.CONFIDENCES
    assert sorted(diag["culprit"]) == ["kind", "name", "owner", "version"]
    assert diag["culprit"]["kind"] in schema.CULPRIT_KINDS
    assert all(step["step"] in schema.PLAN_STEPS for step in diag["plan"])
    for item in diag["findings"]:
        assert sorted(item) == ["bytes", "confidence", "evidence", "exhaustion_eta_hours", "growth", "id", "kb",
                                "missing", "severity", "share", "subject"]
        assert all(sorted(entry) == ["command", "what"] for entry in item["missing"])
        assert item["growth"] is None and item["exhaustion_eta_hours"] is None and item["kb"] is None
        assert item["id"] in schema.VERDICTS and item["severity"] in schema.SEVERITIES


def test_seed_004_without_balloon_is_unaccounted_kernel_66_percent():
    snap = seed(platform="vmware", balloon={"driver": "vmw_balloon", "loaded": False,
                                            "bytes": None, "target_bytes": None})
    snap["captured"] = {"meminfo": "proc/meminfo", "modules": "proc/modules"}  # the module list proves it
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    assert diag["verdict"]["severity"] == "warning"
    assert "5.1 GiB (66.5 % of RAM)" in diag["verdict"]["summary"]
    assert diag["culprit"] == {"kind": "kernel", "name": "unaccounted", "owner": None,
                               "version": "3.10.0-693.el7.x86_64"}
    item = finding(diag, "unaccounted_kernel")
    assert item["bytes"] == SEED_UNACCOUNTED and item["share"] == pytest.approx(0.665, abs=0.001)
    assert item["evidence"][0] == ("MemTotal 7994080 kB; MemFree 125256 kB; counted 2551944 kB; "
                                   "unaccounted 5316880 kB (66.5 % of MemTotal)")
    assert any("VmallocUsed 191584 kB not counted" in line for line in item["evidence"])
    assert any("no balloon driver is loaded (the module list was read" in line for line in item["evidence"])
    assert item["confidence"] == "likely" and "lsmod" not in [m["command"] for m in item["missing"]]
    assert [step["step"] for step in diag["plan"]] == ["patch_os", "escalate"]
    assert verdict_line(diag) == ("db01: unaccounted_kernel [warning, likely] | kernel unaccounted (3.10.0-693.el7.x86_64)"
                                  " | kernel unaccounted 5.1 GiB (66.5 % of RAM)"
                                  " | next: patch_os (running kernel 3.10.0-693.el7.x86_64, update to the vendor's latest)"
                                  " | capture: slabtop -o")


def test_seed_004_with_a_5_gib_vmw_balloon_is_balloon_inflation():
    diag = diagnosis.diagnose(seed(platform="vmware", tools={"name": "VMware Tools", "version": "10.1.5"},
                                   balloon={"driver": "vmw_balloon", "loaded": True, "bytes": SEED_UNACCOUNTED,
                                            "target_bytes": SEED_UNACCOUNTED}))
    assert diag["verdict"]["id"] == "balloon_inflation"
    assert "not a leak inside the guest" in diag["verdict"]["summary"]
    assert diag["culprit"] == {"kind": "balloon", "name": "vmw_balloon", "owner": "VMware", "version": "10.1.5"}
    item = finding(diag, "balloon_inflation")
    assert item["bytes"] == SEED_UNACCOUNTED
    assert any("the balloon explains 5316880 kB of it (100.0 %); still unaccounted 0 kB" in line
               for line in item["evidence"])
    assert "the balloon size was read, not inferred" in item["evidence"] and item["confidence"] == "likely"
    assert [f["id"] for f in diag["findings"]] == ["balloon_inflation"]
    assert diag["plan"][0]["step"] == "escalate" and "VMware" in diag["plan"][0]["target"]
    ledger = dict((e["category"], e["bytes"]) for e in diag["ledger"])
    assert ledger["balloon"] == SEED_UNACCOUNTED and ledger["unaccounted"] == 0


def test_loaded_balloon_of_unknown_size_is_balloon_inflation_with_low_confidence():
    snap = seed(platform="vmware", balloon={"driver": "vmw_balloon", "loaded": True, "bytes": None,
                                            "target_bytes": None})
    snap["warnings"].append("balloon: vmw_balloon is loaded but its size is not readable here")
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "balloon_inflation"
    assert "balloon size not readable" in diag["verdict"]["summary"]
    item = finding(diag, "balloon_inflation")
    assert item["bytes"] == SEED_UNACCOUNTED
    assert any(line.startswith("confidence: suspected") for line in item["evidence"])
    assert item["confidence"] == "suspected" and diag["verdict"]["confidence"] == "suspected"
    assert [m["command"] for m in item["missing"]] == ["vmware-toolbox-cmd stat balloon"]
    assert any("its size is not readable here" in line for line in item["evidence"])


def test_small_balloon_leaves_the_rest_unaccounted_and_the_bigger_problem_wins():
    diag = diagnosis.diagnose(seed(platform="vmware", balloon={"driver": "vmw_balloon", "loaded": True,
                                                               "bytes": 1 * GIB, "target_bytes": None}))
    assert [f["id"] for f in diag["findings"]] == ["unaccounted_kernel", "balloon_inflation"]
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    assert finding(diag, "unaccounted_kernel")["bytes"] == SEED_UNACCOUNTED - 1 * GIB
    assert finding(diag, "balloon_inflation")["bytes"] == 1 * GIB


def test_hyperv_balloon_before_5_11_keeps_pages_in_memtotal_after_it_does_not():
    virt = {"platform": "hyperv", "balloon": {"driver": "hv_balloon", "loaded": True, "bytes": None,
                                              "target_bytes": None}}
    name = "rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo"
    old = diagnosis.diagnose(snapshot(name, "4.18.0-80.11.2.el8_0.x86_64", **copy.deepcopy(virt)))
    assert old["verdict"]["id"] == "balloon_inflation"
    assert old["culprit"]["owner"] == "Hyper-V"
    assert any("/sys/kernel/debug/hv-balloon" in line for line in finding(old, "balloon_inflation")["evidence"])
    new = diagnosis.diagnose(snapshot(name, "5.14.0-427.el9.x86_64", **copy.deepcopy(virt)))
    assert new["verdict"]["id"] == "unaccounted_kernel"
    assert any("lowers MemTotal" in line for line in finding(new, "unaccounted_kernel")["evidence"])


def test_page_cache_captures_are_page_cache_not_a_leak():
    for name, kernel in (("rhel7.1-3.10-page-cache.meminfo", "3.10.0-229.el7.x86_64"),
                         ("fedora-6.x-page-cache.meminfo", None)):
        diag = diagnosis.diagnose(snapshot(name, kernel))
        assert diag["verdict"]["id"] == "page_cache", name
        assert diag["verdict"]["severity"] == "ok"
        assert diag["culprit"]["kind"] == "none"
        assert diag["plan"] == [{"step": "none", "reason": "Page cache is given back on demand; nothing to do.",
                                 "target": None}]
        item = finding(diag, "page_cache")
        assert item["severity"] == "info"
        assert any(line.startswith("MemAvailable") for line in item["evidence"])
    fedora = diagnosis.diagnose(snapshot("fedora-6.x-page-cache.meminfo", None))
    assert "30.7 GiB (98.3 %) looks used, but 26.6 GiB" in fedora["verdict"]["summary"]


def test_idle_machine_is_healthy():
    diag = diagnosis.diagnose(snapshot("debian12-6.18.44-firecracker-idle.meminfo", "6.18.44-fc-v595"))
    assert diag["verdict"]["id"] == "healthy"
    assert diag["findings"] == [] and diag["culprit"]["kind"] == "none"
    assert diag["plan"][0]["step"] == "none"
    assert diag["verdict"]["summary"].startswith("No abnormal memory use: MemAvailable")


def test_seed_processes_are_listed_as_evidence_and_flagged_only_above_the_threshold():
    snap = seed(platform="vmware")
    # From the seed's top(1) output: java RES 1.734g, mysqld RES 233064 KiB (PSS not known there).
    snap["linux"]["processes"] = [
        {"pid": 3725, "name": "java", "rss": int(1.734 * GIB), "pss": None, "anon": None, "swap": None},
        {"pid": 1087, "name": "mysqld", "rss": 233064 * KIB, "pss": None, "anon": None, "swap": None}]
    diag = diagnosis.diagnose(snap)
    assert [f["id"] for f in diag["findings"]] == ["unaccounted_kernel"]
    assert any("the 2 largest processes hold" in line for line in diag["findings"][0]["evidence"])

    diag = diagnosis.diagnose(snap, options={"process_share": 0.2})
    assert diag["verdict"]["id"] == "unaccounted_kernel"          # 5.1 GiB beats 1.7 GiB
    item = finding(diag, "process_leak")
    assert item["subject"] == {"kind": "process", "name": "java (pid 3725)", "owner": None}
    assert item["evidence"][0].startswith("java (pid 3725): RSS (PSS not readable) ")

    diag = diagnosis.diagnose(snap, options={"process_share": 0.2, "unaccounted_share": 0.9})
    assert diag["verdict"]["id"] == "process_leak"
    assert diag["culprit"] == {"kind": "process", "name": "java", "owner": None, "version": None}
    assert [step["step"] for step in diag["plan"]] == ["restart", "escalate"]
    assert diag["plan"][0]["target"] == "java"


def test_thresholds_change_the_verdict():
    snap = seed(platform="vmware")
    assert diagnosis.diagnose(snap, options={"unaccounted_share": 0.7})["verdict"]["id"] == "healthy"
    assert diagnosis.diagnose(snap, options={"unaccounted_min_bytes": 6 * GIB})["verdict"]["id"] == "healthy"
    assert diagnosis.diagnose(snap, options={"unaccounted_share": "0.5"})["verdict"]["id"] == "unaccounted_kernel"


def test_short_of_memory_makes_the_finding_critical():
    diag = diagnosis.diagnose(seed(platform="vmware"), options={"critical_available_share": 0.2})
    assert diag["verdict"]["severity"] == "critical"
    assert any("MemAvailable 932412 kB" in line and "short of memory" in line
               for line in finding(diag, "unaccounted_kernel")["evidence"])


def test_a_large_dentry_cache_is_reclaimable_not_a_leak_until_its_growth_is_proven():
    snap = snapshot("rhel7.1-3.10-page-cache.meminfo", "3.10.0-229.el7.x86_64")
    # SReclaimable is 1945228 kB on this host; suppose slabinfo showed it is the dentry cache.
    snap["linux"]["slab"] = [
        {"name": "dentry", "active_objs": 9000000, "num_objs": 9300000, "objsize": 192, "bytes": 9300000 * 192},
        {"name": "inode_cache", "active_objs": 28026, "num_objs": 28200, "objsize": 656, "bytes": 28200 * 656}]
    snap["linux"]["dentry_state"] = {"nr_dentry": 9000000, "nr_unused": 8800000, "age_limit": 45,
                                     "want_pages": 0, "nr_negative": 8500000}
    diag = diagnosis.diagnose(snap)
    # The kernel shrinks the dentry cache under pressure (SLAB_RECLAIM_ACCOUNT): its size alone is no leak.
    assert diag["verdict"]["id"] == "page_cache"
    item = finding(diag, "slab_growth")
    assert item["severity"] == "info" and item["bytes"] == 9300000 * 192
    assert item["evidence"][0].startswith("slab cache dentry: 9300000 objects x 192 bytes = 1743750 kB")
    assert "dentry-state: 9000000 dentries, 8500000 of them negative (names that do not exist)" in item["evidence"]
    assert any("reclaimable cache" in line for line in item["evidence"])
    # Proven growth over a week (negative dentries piling up) makes it abnormal.
    snap["boot_id"] = "b1"
    size = 9300000 * 192
    snap["samples"] = [{"v": 1, "t": "2024-04-%02dT10:00:00Z" % (24 + day), "boot": "b1",
                        "s": {"slab:dentry": size - (7 - day) * 100 * MIB}} for day in range(8)]
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "slab_growth" and diag["verdict"]["confidence"] == "proven"
    assert diag["culprit"] == {"kind": "slab_cache", "name": "dentry", "owner": None, "version": None}
    assert [step["step"] for step in diag["plan"]] == ["patch_os", "escalate"]


def test_unreadable_slabinfo_is_evidence_not_a_crash():
    snap = seed(platform="vmware")
    snap["linux"]["slab"] = None
    snap["warnings"].append("slabinfo: permission denied (needs root)")
    diag = diagnosis.diagnose(snap, options={"slab_unreclaimable_share": 0.005, "slab_min_bytes": MIB,
                                             "unaccounted_share": 0.9})
    item = finding(diag, "slab_growth")
    assert item["subject"]["name"] == "unreclaimable slab"
    assert item["bytes"] == 56500 * KIB
    assert any("slabinfo: permission denied (needs root)" in line for line in item["evidence"])
    unaccounted = finding(diagnosis.diagnose(snap), "unaccounted_kernel")
    assert any("slabinfo: permission denied (needs root)" in line for line in unaccounted["evidence"])


def test_tmpfs_and_deleted_open_files_are_shmem_tmpfs_with_pid_and_path():
    snap = snapshot("debian12-6.18.44-firecracker-idle.meminfo", "6.18.44-fc-v595")
    shmem = snap["linux"]["meminfo"]["Shmem"]
    snap["linux"]["tmpfs"] = [{"mount": "/dev/shm", "used": 12 * MIB, "size": 12 * GIB},
                              {"mount": "/run", "used": 1 * MIB, "size": 2 * GIB}]
    snap["linux"]["deleted_open"] = [{"pid": 4242, "name": "python3", "path": "/dev/shm/blob", "bytes": 8 * MIB}]
    options = {"shmem_share": 0.0005, "shmem_min_bytes": MIB, "deleted_open_min_bytes": 4 * MIB}
    diag = diagnosis.diagnose(snap, options=options)
    assert diag["verdict"]["id"] == "shmem_tmpfs"
    assert diag["culprit"] == {"kind": "tmpfs", "name": "/dev/shm", "owner": None, "version": None}
    total = finding(diag, "shmem_tmpfs")
    assert total["bytes"] == shmem
    assert "tmpfs /dev/shm: 12288 kB used of 12582912 kB" in total["evidence"]
    assert "deleted but open: python3 (pid 4242) /dev/shm/blob 8192 kB" in total["evidence"]
    held = [f for f in diag["findings"] if f["subject"]["kind"] == "process"][0]
    assert held["evidence"][0].startswith("python3 (pid 4242) keeps the deleted file /dev/shm/blob open: 8192 kB")

    options["shmem_share"] = 0.5      # only the deleted file is over its threshold now
    diag = diagnosis.diagnose(snap, options=options)
    assert diag["verdict"]["id"] == "shmem_tmpfs"
    assert diag["culprit"]["kind"] == "process" and diag["culprit"]["name"] == "python3"
    assert diag["plan"][0]["step"] == "restart"


def test_unused_huge_page_pool_is_hugepages_reserved():
    snap = snapshot("debian12-6.18.44-firecracker-idle.meminfo", "6.18.44-fc-v595")
    info = snap["linux"]["meminfo"]   # 2 GiB moved from MemFree into a 2 MiB pool (derived)
    info["MemFree"] -= 2 * GIB
    info.update({"HugePages_Total": 1024, "HugePages_Free": 1000, "HugePages_Rsvd": 0, "Hugetlb": 2 * GIB})
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "hugepages_reserved"
    assert diag["culprit"]["name"] == "hugepages-2048kB"
    item = finding(diag, "hugepages_reserved")
    assert item["bytes"] == 1000 * 2 * MIB
    assert item["evidence"][0].startswith("HugePages_Total 1024, HugePages_Free 1000, HugePages_Rsvd 0")
    info["HugePages_Rsvd"] = 1000     # promised to a mapping: not idle
    assert diagnosis.diagnose(snap)["verdict"]["id"] == "healthy"


def test_given_ledger_is_used_and_checked():
    from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
    snap = seed(platform="vmware")
    entries = memory_ledger(snap)
    assert diagnosis.diagnose(snap, ledger=entries)["verdict"]["id"] == "unaccounted_kernel"
    with pytest.raises(diagnosis.DiagnosisError, match="adds up to .* MemTotal"):
        diagnosis.diagnose(snap, ledger=entries[:-1])
    with pytest.raises(diagnosis.DiagnosisError, match="list of"):
        diagnosis.diagnose(snap, ledger={"free": 1})


@pytest.mark.parametrize("options, message", [
    ({"proces_share": 0.2}, "unknown threshold 'proces_share'"),
    ({"process_share": 1.5}, "out of range"),
    ({"process_min_bytes": -1}, "out of range"),
    ({"process_share": "a lot"}, "must be a number"),
    ({"process_share": True}, "must be a number"),
    ("process_share=0.2", "must be a dict"),
])
def test_bad_thresholds_are_refused_with_the_reason(options, message):
    with pytest.raises(diagnosis.DiagnosisError, match=message):
        diagnosis.diagnose(seed(), options=options)


def test_non_linux_input_is_refused():
    with pytest.raises(diagnosis.DiagnosisError, match="not a memleak_snapshot"):
        diagnosis.diagnose({"MemTotal": 1})
    with pytest.raises(diagnosis.DiagnosisError, match="windows snapshot"):
        diagnosis.diagnose(schema.new_snapshot("win1", "2024-05-01T10:00:00Z", family="windows"))
    with pytest.raises(diagnosis.DiagnosisError, match="no linux.meminfo.MemTotal"):
        diagnosis.diagnose(schema.new_snapshot("web1", "2024-05-01T10:00:00Z"))


def test_same_snapshot_same_diagnosis_and_input_untouched():
    snap = seed(platform="vmware", balloon={"driver": "vmw_balloon", "loaded": True, "bytes": 1 * GIB,
                                            "target_bytes": None})
    before = copy.deepcopy(snap)
    assert diagnosis.diagnose(snap) == diagnosis.diagnose(snap)
    assert snap == before


def test_defaults_are_the_documented_ones():
    assert diagnosis.DEFAULTS["unaccounted_share"] == 0.20
    assert diagnosis.DEFAULTS["unaccounted_min_bytes"] == 512 * MIB
    assert diagnosis.resolve_options() == diagnosis.DEFAULTS


def test_shmem_outside_any_used_tmpfs_is_named_shmem_and_warnings_go_where_they_belong():
    snap = snapshot("debian12-6.18.44-firecracker-idle.meminfo", "6.18.44-fc-v595")
    snap["linux"]["tmpfs"] = [{"mount": "/dev", "used": 0, "size": 12 * GIB}]
    snap["linux"]["processes"] = [{"pid": 7, "name": "python", "rss": 101154816, "pss": 94465024,
                                   "anon": 93356032, "swap": 0}]
    snap["warnings"] = ["processes: smaps_rollup not readable for 1 of 25 processes (denied even to root)",
                        "deleted_open: open files of 1 of 25 processes not readable: denied even to root"]
    diag = diagnosis.diagnose(snap, options={"shmem_share": 0.0001, "shmem_min_bytes": 1,
                                             "process_share": 0.001, "process_min_bytes": 1})
    shmem = finding(diag, "shmem_tmpfs")
    assert shmem["subject"]["name"] == "Shmem"
    assert any("is not in any listed tmpfs mount" in line for line in shmem["evidence"])
    process = finding(diag, "process_leak")
    assert "processes: smaps_rollup not readable for 1 of 25 processes (denied even to root)" in process["evidence"]
    assert not any(line.startswith("deleted_open:") for line in process["evidence"])


def test_loaded_but_empty_balloon_does_not_explain_unaccounted_memory():
    diag = diagnosis.diagnose(seed(platform="vmware", balloon={"driver": "vmw_balloon", "loaded": True, "bytes": 0,
                                                               "target_bytes": 0}))
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    assert "balloon driver vmw_balloon is loaded but the balloon is empty (0 kB)" in \
        finding(diag, "unaccounted_kernel")["evidence"]
    snap = seed(platform="kvm", balloon={"driver": "virtio_balloon", "loaded": True, "bytes": None,
                                         "target_bytes": None})
    snap["linux"]["meminfo"]["Balloon"] = 0      # a 6.15+ kernel says so itself (derived)
    assert diagnosis.diagnose(snap)["verdict"]["id"] == "unaccounted_kernel"
