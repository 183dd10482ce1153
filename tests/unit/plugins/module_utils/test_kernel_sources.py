# -*- coding: utf-8 -*-
"""Parsers of the kernel's allocation accounting, on real outputs (tests/fixtures/kernel_sources/README.md)."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.module_utils import kernel_sources as ks
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "kernel_sources")
MIB = 1024 * 1024


def text(name):
    with open(os.path.join(FIX, name)) as handle:
        return handle.read()


# --- allocinfo -----------------------------------------------------------------------

def test_allocinfo_header_and_sites_of_the_version_patch():
    info = ks.parse_allocinfo(text("allocinfo-v1-head.txt"))
    assert info["version"] == "1.0"
    assert len(info["sites"]) == 9
    rapl = info["sites"][7]
    assert rapl == {"site": "arch/x86/events/rapl.c:681", "func": "init_rapl_pmus", "module": None,
                    "bytes": 512, "calls": 1, "accurate": True, "approx": False}
    assert info["total"] == 640


def test_allocinfo_through_numfmt_as_the_kernel_documentation_shows_it():
    info = ks.parse_allocinfo(text("allocinfo-kernel-doc-numfmt.txt"))
    assert info["version"] is None
    by_site = dict((s["site"], s) for s in info["sites"])
    ctag = by_site["drivers/staging/ctagmod/ctagmod.c:20"]
    assert ctag["module"] == "ctagmod" and ctag["bytes"] == 4 * MIB and ctag["approx"]
    assert by_site["mm/page_ext.c:270"]["bytes"] == 122 * MIB


def test_allocinfo_format_2_marks_inaccurate_sites():
    raw = ("allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n"
           "       4096*       1* mm/slub.c:2259 func:alloc_slab_page \n"
           "        128        1 lib/x.c:1 func:f accurate:no \n")
    sites = ks.parse_allocinfo(raw)["sites"]
    assert [s["accurate"] for s in sites] == [False, False]


def test_allocinfo_garbage_names_the_line():
    with pytest.raises(ParseError) as err:
        ks.parse_allocinfo("allocinfo - version: 1.0\nMemTotal: 1 kB\n", source="proc/allocinfo")
    assert "proc/allocinfo" in str(err.value) and "line 2" in str(err.value)


# --- vmallocinfo ---------------------------------------------------------------------

def test_vmallocinfo_module_callers_of_open_cas_issue():
    info = ks.parse_vmallocinfo(text("vmallocinfo-opencas-410.txt"))
    top = info["callers"][0]
    assert top["site"] == "_raw_ram_init" and top["module"] == "cas_cache"
    assert top["bytes"] == (293 * 2 + 5306 * 2 + 3534 + 7539 + 442) * 4096
    assert top["areas"] == 7
    assert info["areas"] == 11


def test_vmallocinfo_leaves_ioremap_out_of_ram():
    info = ks.parse_vmallocinfo(text("vmallocinfo-lkml-2008.txt"))
    assert [c["site"] for c in info["callers"]] == ["alloc_large_system_hash"]
    assert info["total"] == (2048 + 4 + 1024 + 2) * 4096


def test_vmallocinfo_of_this_build_machine():
    info = ks.parse_vmallocinfo(text("vmallocinfo-debian12-6.18.txt"))
    assert info["areas"] > 50 and info["total"] > 0
    assert all(c["module"] is None for c in info["callers"])  # no loadable modules on that kernel
    assert any(c["site"] == "kernel_clone" for c in info["callers"])


# --- kmemleak ------------------------------------------------------------------------

def test_kmemleak_names_the_module_below_the_allocator():
    info = ks.parse_kmemleak(text("kmemleak-rocm-amdgpu-173.txt"))
    assert info["objects"] == 1 and info["bytes"] == 32
    site = info["sites"][0]
    assert site["site"] == "amdgpu_vm_update_range" and site["module"] == "amdgpu"
    assert site["comm"] == "osu_bibw" and site["backtrace"][0] == "kmalloc_trace"


def test_kmemleak_crc_format_without_addresses():
    site = ks.parse_kmemleak(text("kmemleak-nd_btt-lore-2025.txt"))["sites"][0]
    assert (site["site"], site["module"], site["bytes"]) == ("nvdimm_namespace_attach_btt", "nd_btt", 32)


def test_kmemleak_groups_objects_by_call_site():
    info = ks.parse_kmemleak(text("kmemleak-openwrt-10254.txt"))
    assert info["objects"] == 2 and info["bytes"] == 256
    assert sorted(s["site"] for s in info["sites"]) == ["kobject_set_name_vargs", "load_module"]


def test_kmemleak_empty_report_is_zero_objects():
    assert ks.parse_kmemleak("") == {"objects": 0, "bytes": 0, "sites": []}


# --- page_owner ----------------------------------------------------------------------

def test_page_owner_sort_block():
    info = ks.parse_page_owner(text("page_owner_sort-lkml-cull.txt"))
    assert info["pages"] == 2 and info["bytes"] == 8192
    assert info["sites"][0]["site"] == "__page_cache_alloc"


def test_page_owner_raw_blocks_are_counted_by_order():
    info = ks.parse_page_owner(text("page_owner-raw-lkml.txt"))
    assert info["pages"] == 2 and info["sites"] == [dict(info["sites"][0], times=2, pages=2, bytes=8192)]
    assert info["sites"][0]["site"] == "__page_cache_alloc"


# --- modules -------------------------------------------------------------------------

def test_modules_taint_flags():
    mods = ks.parse_modules_detail(text("proc-modules-uac-262.txt"))
    assert mods == [{"name": "taint_module", "size": 12288, "refcount": 0, "used_by": [], "state": "Live",
                     "taint": "POE", "taint_meaning": ["proprietary", "out-of-tree", "unsigned"]}]
    lab = ks.parse_modules_detail(text("proc-modules-kernel-labs-136.txt"))[0]
    assert lab["taint"] == "O" and lab["size"] == 16384


def test_module_version():
    assert ks.parse_module_version("1.9.0\n") == "1.9.0"
    assert ks.parse_module_version("\n") is None


# --- fuzz ----------------------------------------------------------------------------

_PARSERS = [ks.parse_allocinfo, ks.parse_vmallocinfo, ks.parse_kmemleak, ks.parse_page_owner,
            ks.parse_modules_detail]
_SEEDS = ["allocinfo-v1-head.txt", "vmallocinfo-opencas-410.txt", "kmemleak-rocm-amdgpu-173.txt",
          "page_owner_sort-lkml-cull.txt", "proc-modules-uac-262.txt"]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(_PARSERS))), st.text(max_size=400))
def test_fuzz_any_text_parses_or_names_the_problem(index, junk):
    try:
        out = _PARSERS[index](junk, source="fuzz")
    except ParseError as err:
        assert "fuzz" in str(err)
        return
    assert isinstance(out, (dict, list))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(_PARSERS))), st.integers(min_value=0, max_value=2000), st.text(max_size=40))
def test_fuzz_real_text_cut_or_spliced(index, cut, insert):
    raw = text(_SEEDS[index])
    mutated = raw[:cut] + insert + raw[cut:]
    try:
        out = _PARSERS[index](mutated, source="fuzz")
    except ParseError as err:
        assert "fuzz" in str(err)
        return
    if isinstance(out, dict):
        for key in ("total", "bytes"):
            if key in out:
                assert isinstance(out[key], int)


# --- collection from a tree ----------------------------------------------------------

def _tree(tmp_path, files):
    for rel, content in files.items():
        path = tmp_path.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return str(tmp_path)


def test_collect_reads_every_source_present_with_module_versions(tmp_path):
    from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
    capture = os.path.join(FIX, "capture-module-leak", "proc")
    with open(os.path.join(capture, "meminfo")) as handle:
        meminfo = handle.read()
    with open(os.path.join(capture, "allocinfo")) as handle:
        allocinfo = handle.read()
    root = _tree(tmp_path, {
        "proc/meminfo": meminfo, "proc/allocinfo": allocinfo,
        "proc/vmallocinfo": text("vmallocinfo-opencas-410.txt"),
        "proc/modules": text("proc-modules-uac-262.txt"),
        "sys/module/taint_module/version": "0.3\n",
        "sys/kernel/debug/kmemleak": text("kmemleak-nd_btt-lore-2025.txt"),
        "sys/kernel/debug/page_owner": text("page_owner_sort-lkml-cull.txt"),
    })
    snap = linux_collect.collect(proc_root=root, live=False, top=3)
    sources = snap["linux"]["kernel_sources"]
    assert sources["allocinfo"]["count"] == 10 and len(sources["allocinfo"]["sites"]) == 3
    assert sources["allocinfo"]["modules"] == [{"module": "leakmod", "bytes": 5153960960}]
    assert sources["vmallocinfo"]["modules"][0]["module"] == "cas_cache"
    assert sources["kmemleak"]["sites"][0]["module"] == "nd_btt"
    assert sources["page_owner"]["pages"] == 2 and sources["page_owner"]["truncated"] is False
    assert sources["modules"][0]["version"] == "0.3" and sources["modules"][0]["taint"] == "POE"
    assert sources["trace"] is None
    kernel = dict((k, v) for k, v in snap["captured"].items()
                  if k in ("allocinfo", "vmallocinfo", "kmemleak", "page_owner", "modules"))
    assert kernel == {"allocinfo": "proc/allocinfo", "vmallocinfo": "proc/vmallocinfo",
                      "kmemleak": "sys/kernel/debug/kmemleak", "page_owner": "sys/kernel/debug/page_owner",
                      "modules": "proc/modules"}
    assert snap["captured"]["meminfo"] == "proc/meminfo"  # the collector lists the rest of what it read too
    assert not [w for w in snap["warnings"] if w.startswith("kernel_sources")]


def test_collect_without_sources_warns_how_to_enable_one(tmp_path):
    from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
    with open(os.path.join(FIX, "capture-module-leak", "proc", "meminfo")) as handle:
        root = _tree(tmp_path, {"proc/meminfo": handle.read(), "proc/allocinfo": "MemTotal: 1 kB\n"})
    snap = linux_collect.collect(proc_root=root, live=False)
    assert snap["linux"]["kernel_sources"]["allocinfo"] is None
    warned = [w for w in snap["warnings"] if w.startswith(("kernel_sources", "allocinfo"))]
    assert warned[0].startswith("allocinfo: ") and "line 1" in warned[0] and "(ignored)" in warned[0]
    root2 = _tree(tmp_path / "bare", {"proc/meminfo": "MemTotal: 1000 kB\nMemFree: 10 kB\n"})
    snap = linux_collect.collect(proc_root=root2, live=False)
    line = [w for w in snap["warnings"] if w.startswith("kernel_sources")][0]
    assert "CONFIG_MEM_ALLOC_PROFILING" in line and "vm.mem_profiling=1" in line and "page_owner=on" in line
    assert "trace_seconds" in line
