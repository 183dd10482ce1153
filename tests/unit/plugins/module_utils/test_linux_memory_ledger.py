"""The Linux memory ledger on real /proc/meminfo captures (tests/fixtures/meminfo/README.md)."""

import glob
import os
import random

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import memory_ledger as ledger
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "meminfo")
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# Kernel release of each capture (None where the source does not say).
KERNELS = {
    "centos7.4-3.10.0-693.el7-vmware.meminfo": "3.10.0-693.el7.x86_64",
    "rhel7.1-3.10-page-cache.meminfo": "3.10.0-229.el7.x86_64",
    "rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo": "4.18.0-80.11.2.el8_0.x86_64",
    "fedora-6.x-page-cache.meminfo": None,
    "debian12-6.18.44-firecracker-idle.meminfo": "6.18.44-fc-v595",
}


def meminfo(name):
    path = os.path.join(FIXTURES, name)
    with open(path) as handle:
        return parse_meminfo(handle.read(), path)


def snapshot(name, **virt):
    snap = schema.new_snapshot("host-" + name.split("-")[0], "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = KERNELS[name]
    snap["linux"]["meminfo"] = meminfo(name)
    snap["virt"].update(virt)
    return snap


def by_category(entries):
    return dict((e["category"], e["bytes"]) for e in entries)


def test_every_fixture_is_listed_with_its_kernel():
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIXTURES, "*.meminfo")))
    assert names == sorted(KERNELS)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_ledger_of_every_capture_sums_to_memtotal_and_nothing_is_negative(name):
    info = meminfo(name)
    entries = ledger.memory_ledger(info, KERNELS[name])
    assert [e["category"] for e in entries] == list(ledger.CATEGORY_NAMES)
    assert sum(e["bytes"] for e in entries) == info["MemTotal"]
    assert all(isinstance(e["bytes"], int) and e["bytes"] >= 0 for e in entries)
    assert all(e["description"] for e in entries)
    details = ledger.build_ledger(info, KERNELS[name])
    assert details["consistent"] and details["overshoot"] == 0


def test_seed_004_unaccounted_is_the_article_formula_on_3_10():
    info = meminfo("centos7.4-3.10.0-693.el7-vmware.meminfo")
    cats = by_category(ledger.memory_ledger(info, "3.10.0-693.el7.x86_64"))
    # MemTotal - MemFree - (Slab + KernelStack + PageTables) - (Active + Inactive + Unevictable)
    expected = (7994080 - 125256 - (143220 + 5360 + 7184) - (1182220 + 1213960 + 0)) * KIB
    assert cats["unaccounted"] == expected == 5316880 * KIB
    assert round(100.0 * cats["unaccounted"] / info["MemTotal"], 1) == 66.5
    assert cats["vmalloc"] == 0          # VmallocUsed 191584 kB is address space on 3.10
    assert cats["shmem"] == 8576 * KIB
    assert cats["page_cache"] == (488424 + 496804) * KIB
    assert cats["anon"] == (693796 + 717156 - 8576) * KIB


def test_vmalloc_address_space_is_recognised_without_a_kernel_version():
    info = meminfo("centos7.4-3.10.0-693.el7-vmware.meminfo")
    entries = ledger.memory_ledger(info)  # no kernel: VmallocChunk 34359310332 kB tells
    vmalloc = [e for e in entries if e["category"] == "vmalloc"][0]
    assert vmalloc["bytes"] == 0
    assert "VmallocChunk" in vmalloc["description"] and "address space" in vmalloc["description"]


def test_vmalloc_pages_on_6x_exclude_vmap_kernel_stacks():
    info = meminfo("fedora-6.x-page-cache.meminfo")
    cats = by_category(ledger.memory_ledger(info))
    assert cats["vmalloc"] == (69000 - 23616) * KIB
    assert cats["kernel_stack"] == 23616 * KIB
    assert cats["percpu"] == 6272 * KIB


def test_vmalloc_backported_to_4_18_is_counted_but_zero_is_harmless():
    info = meminfo("rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo")
    assert by_category(ledger.memory_ledger(info, "4.18.0-80.11.2.el8_0"))["vmalloc"] == 0
    # A later RHEL 8 kernel with the 5.3 change backported reports pages (derived from the capture).
    info["VmallocUsed"] = 90000 * KIB
    before = by_category(ledger.memory_ledger(meminfo("rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo"), "4.18.0"))
    after = by_category(ledger.memory_ledger(info, "4.18.0-305.el8.x86_64"))
    assert after["vmalloc"] == (90000 - 3648) * KIB
    assert after["unaccounted"] == before["unaccounted"] - after["vmalloc"]


def test_kernel_older_than_4_4_never_counts_vmalloc_even_if_chunk_is_zero():
    info = meminfo("rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo")
    info["VmallocUsed"] = 90000 * KIB
    cats = by_category(ledger.memory_ledger(info, "3.10.0-1160.el7.x86_64"))
    assert cats["vmalloc"] == 0


def test_shmem_is_counted_once_although_cached_and_anon_lru_contain_it():
    info = meminfo("rhel7.1-3.10-page-cache.meminfo")
    cats = by_category(ledger.memory_ledger(info, "3.10.0"))
    assert cats["shmem"] == 461316 * KIB
    assert cats["anon"] == (311596 + 505800 - 461316) * KIB
    user = cats["page_cache"] + cats["shmem"] + cats["anon"] + cats["unevictable"]
    assert user == (2841500 + 2565560 + 0) * KIB  # Active + Inactive + Unevictable, nothing twice


def test_without_lru_lines_buffers_cached_anonpages_is_used_minus_shmem():
    info = meminfo("rhel7.1-3.10-page-cache.meminfo")
    for name in ("Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)"):
        del info[name]
    details = ledger.build_ledger(info, "3.10.0")
    cats = by_category(details["entries"])
    assert details["method"] == "cache"
    assert cats["page_cache"] == (157048 + 4893932 - 461316) * KIB
    assert cats["anon"] == 355484 * KIB
    assert sum(cats.values()) == info["MemTotal"]


def test_hugetlb_wins_over_the_default_size_pool():
    # The idle capture with 2 GiB moved from MemFree into a huge page pool (derived).
    info = meminfo("debian12-6.18.44-firecracker-idle.meminfo")
    before = by_category(ledger.memory_ledger(info, "6.18"))
    info["MemFree"] -= 2 * GIB
    info["HugePages_Total"] = 512
    info["HugePages_Free"] = 512
    info["Hugetlb"] = 2 * GIB    # 512 x 2 MiB + 1 GiB page pools are not in HugePages_Total
    cats = by_category(ledger.memory_ledger(info, "6.18"))
    assert cats["hugepages"] == 2 * GIB
    assert cats["unaccounted"] == before["unaccounted"]
    del info["Hugetlb"]          # Linux < 4.16: only HugePages_Total x Hugepagesize is visible
    cats = by_category(ledger.memory_ledger(info, "4.14"))
    assert cats["hugepages"] == 1 * GIB
    assert cats["unaccounted"] == before["unaccounted"] + 1 * GIB


def test_balloon_inside_memtotal_is_capped_at_what_is_missing():
    snap = snapshot("centos7.4-3.10.0-693.el7-vmware.meminfo", platform="vmware",
                    balloon={"driver": "vmw_balloon", "loaded": True, "bytes": 6 * GIB, "target_bytes": None})
    details = ledger.build_ledger(snap)
    cats = by_category(details["entries"])
    assert cats["balloon"] == 5316880 * KIB
    assert cats["unaccounted"] == 0
    assert details["balloon"]["bytes"] == 6 * GIB and details["balloon"]["in_ledger"] == 5316880 * KIB
    assert any("larger than the memory missing" in note for note in details["notes"])


def test_balloon_meminfo_field_is_used_before_driver_statistics():
    info = meminfo("centos7.4-3.10.0-693.el7-vmware.meminfo")
    info["Balloon"] = 4 * GIB      # Linux >= 6.15 prints it (derived from the 3.10 capture)
    cats = by_category(ledger.memory_ledger(info, "6.15"))
    assert cats["balloon"] == 4 * GIB
    assert cats["unaccounted"] == 5316880 * KIB - 4 * GIB


def test_balloon_of_a_driver_that_lowers_memtotal_stays_out_of_the_ledger():
    snap = snapshot("rhcos-4.18.0-80.11.2.el8_0-hyperv.meminfo", platform="xen",
                    balloon={"driver": "xen_balloon", "loaded": True, "bytes": 2 * GIB, "target_bytes": None})
    details = ledger.build_ledger(snap)
    assert by_category(details["entries"])["balloon"] == 0
    assert details["balloon"]["lowers_memtotal"] is True
    assert ledger.balloon_lowers_memtotal("hv_balloon", (4, 18)) is False
    assert ledger.balloon_lowers_memtotal("hv_balloon", (5, 14)) is True
    assert ledger.balloon_lowers_memtotal("virtio_balloon", (6, 1)) is None
    assert ledger.balloon_lowers_memtotal("vmw_balloon") is False


def test_zram_from_vmstat_zspages_minus_zswap():
    snap = snapshot("debian12-6.18.44-firecracker-idle.meminfo")
    info = snap["linux"]["meminfo"]
    info["MemFree"] -= 300 * MIB
    info["Zswap"] = 100 * MIB
    snap["linux"]["vmstat"] = {"nr_free_pages": info["MemFree"] // 4096, "nr_zspages": (300 * MIB) // 4096}
    cats = by_category(ledger.memory_ledger(snap))
    assert cats["zswap"] == 100 * MIB
    assert cats["zram"] == 200 * MIB
    snap["linux"]["vmstat"]["nr_free_pages"] = 5   # page size cannot be told: nothing guessed
    assert by_category(ledger.memory_ledger(snap))["zram"] == 0


def test_small_overshoot_is_drift_large_one_is_called_inconsistent():
    info = meminfo("debian12-6.18.44-firecracker-idle.meminfo")
    slack = by_category(ledger.memory_ledger(info))["unaccounted"]
    info["Active(file)"] += slack + 8 * MIB
    details = ledger.build_ledger(info)
    cats = by_category(details["entries"])
    assert cats["unaccounted"] == 0 and sum(cats.values()) == info["MemTotal"]
    assert details["consistent"] and details["overshoot"] == 8 * MIB
    assert "drift" in [e for e in details["entries"] if e["category"] == "unaccounted"][0]["description"]

    info["Active(file)"] += 4 * GIB
    details = ledger.build_ledger(info)
    assert not details["consistent"]
    assert sum(e["bytes"] for e in details["entries"]) == info["MemTotal"]
    assert all(e["bytes"] >= 0 for e in details["entries"])
    assert any("not self-consistent" in note for note in details["notes"])


@pytest.mark.parametrize("bad, message", [
    ("MemTotal: 1 kB", "expected a memleak_snapshot"),
    ({"host": "x", "a": 1}, "expected a memleak_snapshot"),
    ({"MemTotal": 1024, "MemFree": -1, "Cached": 0, "AnonPages": 0}, "MemFree is -1"),
    ({"MemTotal": 1024, "MemFree": True, "Cached": 0, "AnonPages": 0}, "MemFree is True"),
    ({"MemTotal": 4096, "Cached": 0, "AnonPages": 0}, "no MemFree"),
    ({"MemTotal": 4096, "MemFree": 1024}, "user memory cannot be counted"),
    ({"MemTotal": 0, "MemFree": 0, "Cached": 0, "AnonPages": 0}, "MemTotal is 0"),
])
def test_bad_input_names_the_problem(bad, message):
    with pytest.raises(ledger.LedgerError, match=message):
        ledger.memory_ledger(bad)


def test_snapshot_without_meminfo_and_windows_snapshot_are_refused():
    snap = schema.new_snapshot("web1", "2024-05-01T10:00:00Z")
    with pytest.raises(ledger.LedgerError, match="web1 has no linux.meminfo.MemTotal"):
        ledger.memory_ledger(snap)
    with pytest.raises(ledger.LedgerError, match="Windows"):
        ledger.memory_ledger(schema.new_snapshot("win1", "2024-05-01T10:00:00Z", family="windows"))


# -- property checks: random but consistent meminfo, old and new kernels ------------------

def _pages(rng, low, high):
    return rng.randint(low, high) * 4096


def _consistent_meminfo(rng, modern):
    """A meminfo built from a known split of RAM, with the overlaps the kernel has.

    Returns (meminfo, truth): truth holds what each ledger category must be.
    """
    truth = {
        "free": _pages(rng, 0, 2000000),
        "page_cache": _pages(rng, 0, 2000000),
        "shmem": _pages(rng, 0, 300000),
        "anon": _pages(rng, 0, 2000000),
        "unevictable": _pages(rng, 0, 20000),
        "slab_reclaimable": _pages(rng, 0, 500000),
        "slab_unreclaimable": _pages(rng, 0, 300000),
        "kernel_stack": _pages(rng, 0, 20000),
        "page_tables": _pages(rng, 0, 50000),
        "vmalloc": _pages(rng, 0, 50000) if modern else 0,
        "percpu": _pages(rng, 0, 5000) if modern else 0,
        "hugepages": rng.randint(0, 500) * 2 * MIB,
        "zswap": _pages(rng, 0, 50000) if modern else 0,
        "unaccounted": _pages(rng, 0, 3000000),
    }
    if not modern:   # Percpu and vmalloc pages exist but have no counter: they are unaccounted.
        truth["unaccounted"] += _pages(rng, 0, 5000)
    total = sum(truth.values())
    buffers = min(truth["page_cache"], _pages(rng, 0, 10000))
    active_file = rng.randint(0, truth["page_cache"] // 4096) * 4096
    anon_lru = truth["anon"] + truth["shmem"]
    active_anon = rng.randint(0, anon_lru // 4096) * 4096
    info = {
        "MemTotal": total, "MemFree": truth["free"], "Buffers": buffers,
        "Cached": truth["page_cache"] - buffers + truth["shmem"], "SwapCached": _pages(rng, 0, 1000),
        "Active": active_anon + active_file,
        "Inactive": anon_lru - active_anon + truth["page_cache"] - active_file,
        "Active(anon)": active_anon, "Inactive(anon)": anon_lru - active_anon,
        "Active(file)": active_file, "Inactive(file)": truth["page_cache"] - active_file,
        "Unevictable": truth["unevictable"], "Mlocked": truth["unevictable"] // 2,
        "AnonPages": truth["anon"], "AnonHugePages": truth["anon"] // 3, "Shmem": truth["shmem"],
        "Slab": truth["slab_reclaimable"] + truth["slab_unreclaimable"],
        "SReclaimable": truth["slab_reclaimable"], "SUnreclaim": truth["slab_unreclaimable"],
        "KernelStack": truth["kernel_stack"], "PageTables": truth["page_tables"],
        "NFS_Unstable": 0, "Bounce": 0, "WritebackTmp": 0, "HardwareCorrupted": 0,
        "HugePages_Total": truth["hugepages"] // (2 * MIB), "HugePages_Free": 0, "HugePages_Rsvd": 0,
        "HugePages_Surp": 0, "Hugepagesize": 2 * MIB,
        "VmallocTotal": 34359738367 * KIB,
    }
    if modern:
        info.update({"VmallocUsed": truth["vmalloc"] + truth["kernel_stack"], "VmallocChunk": 0,
                     "Percpu": truth["percpu"], "Hugetlb": truth["hugepages"], "Zswap": truth["zswap"],
                     "Zswapped": truth["zswap"] * 3, "KReclaimable": truth["slab_reclaimable"],
                     "SecPageTables": 0})
    else:          # 3.10: VmallocUsed is address space, often larger than the RAM counted here.
        info.update({"VmallocUsed": _pages(rng, 0, 10000000), "VmallocChunk": 34359000000 * KIB})
    return info, truth


@pytest.mark.parametrize("modern, kernel", [(False, "3.10.0-1160.el7.x86_64"), (True, "5.14.0-427.el9.x86_64"),
                                            (True, "6.8.0-45-generic"), (False, None), (True, None)])
def test_random_consistent_meminfo_gives_back_the_split_it_was_built_from(modern, kernel):
    rng = random.Random(20240501 + int(modern))
    for case in range(300):
        info, truth = _consistent_meminfo(rng, modern)
        details = ledger.build_ledger(info, kernel)
        cats = by_category(details["entries"])
        assert sum(cats.values()) == info["MemTotal"]
        assert min(cats.values()) >= 0
        assert details["overshoot"] == 0
        for name, value in truth.items():
            assert cats[name] == value, (case, name, info)


def test_random_inconsistent_meminfo_never_yields_a_negative_category():
    rng = random.Random(7)
    for case in range(500):
        info = _consistent_meminfo(rng, rng.random() < 0.5)[0]
        for name in rng.sample(sorted(info), 5):
            if name != "MemTotal":
                info[name] = rng.randint(0, 2 * info["MemTotal"] // 4096) * 4096
        entries = ledger.memory_ledger(info, rng.choice(["3.10.0", "4.18.0", "5.14.0", "6.6.0", None]))
        assert sum(e["bytes"] for e in entries) == info["MemTotal"], case
        assert min(e["bytes"] for e in entries) >= 0, case
