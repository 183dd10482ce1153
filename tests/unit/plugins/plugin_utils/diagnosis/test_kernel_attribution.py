"""Naming the kernel's culprit: a module's call site from allocinfo, growth per site, no source at all."""

import copy
import os
import shutil

import pytest

from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge import base as kb

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures")
CAPTURE = os.path.join(FIX, "kernel_sources", "capture-module-leak")
SITE = "drivers/net/ethernet/leakmod/leakmod_main.c:412"
GIB = 1024 ** 3


def capture_snapshot(path=CAPTURE):
    result = offline.analyze_capture(path)
    assert result["snapshot"] is not None, result
    return result["snapshot"]


def finding(diag, fid):
    return [f for f in diag["findings"] if f["id"] == fid][0]


def test_capture_with_a_module_call_site_names_module_and_site():
    snap = capture_snapshot()
    assert snap["captured"]["allocinfo"] == "proc/allocinfo"
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "unaccounted_kernel"
    culprit = diag["culprit"]
    assert culprit["kind"] == "kernel_module" and culprit["kind"] in schema.CULPRIT_KINDS
    assert culprit["name"] == "leakmod" and SITE in culprit["site"] and "leakmod_rx_refill" in culprit["site"]
    assert "leakmod" in diag["verdict"]["summary"] and "4.8 GiB" in diag["verdict"]["summary"]
    attribution = finding(diag, "unaccounted_kernel")["attribution"]
    assert attribution["source"] == "allocinfo" and attribution["confidence"] == "likely"
    assert attribution["bytes"] == 5153960960 and attribution["share"] > 0.9
    evidence = "\n".join(finding(diag, "unaccounted_kernel")["evidence"])
    assert "94.7 % of the unaccounted memory" in evidence and "by module: leakmod 4.8 GiB" in evidence
    assert "one sample" in evidence  # growth per site unknown without history
    assert diag["plan"][0]["step"] == "patch_os" and "modprobe -r leakmod" in diag["plan"][0]["reason"]


def test_loose_files_are_sniffed_by_content(tmp_path):
    shutil.copy(os.path.join(CAPTURE, "proc", "meminfo"), str(tmp_path / "meminfo.txt"))
    shutil.copy(os.path.join(CAPTURE, "proc", "allocinfo"), str(tmp_path / "profile-2024-05-01.txt"))
    shutil.copy(os.path.join(FIX, "kernel_sources", "proc-modules-uac-262.txt"), str(tmp_path / "lsmod.out"))
    shutil.copy(os.path.join(FIX, "kernel_sources", "kmemleak-nd_btt-lore-2025.txt"), str(tmp_path / "leaks"))
    snap = capture_snapshot(str(tmp_path))
    assert snap["captured"]["allocinfo"] == "profile-2024-05-01.txt"
    assert snap["captured"]["modules"] == "lsmod.out" and snap["captured"]["kmemleak"] == "leaks"
    assert snap["linux"]["kernel_sources"]["modules"][0]["taint"] == "POE"
    diag = diagnosis.diagnose(snap)
    assert diag["culprit"]["name"] == "leakmod"
    evidence = "\n".join(finding(diag, "unaccounted_kernel")["evidence"])
    assert "nvdimm_namespace_attach_btt [nd_btt]" in evidence


def test_growth_per_site_from_history_proves_the_culprit():
    snap = capture_snapshot()
    snap["boot_id"] = "b1"
    samples = []
    for hour in range(8):
        samples.append({"v": 1, "t": "2024-05-01T%02d:00:00Z" % hour, "boot": "b1",
                        "s": {"ksite:" + SITE: 1 * GIB + hour * 512 * 1024 * 1024}})
    snap["samples"] = samples
    attribution = finding(diagnosis.diagnose(snap), "unaccounted_kernel")["attribution"]
    assert attribution["confidence"] == "proven"
    assert attribution["growth"]["bytes_per_hour"] == 512 * 1024 * 1024 and attribution["growth"]["samples"] == 8


def test_module_version_and_taint_lead_to_the_vendor_and_the_knowledge_base(tmp_path):
    snap = capture_snapshot()
    snap["linux"]["kernel_sources"]["modules"] = [
        {"name": "leakmod", "size": 65536, "refcount": 1, "used_by": [], "state": "Live", "taint": "OE",
         "taint_meaning": ["out-of-tree", "unsigned"], "version": "2.0.3"}]
    diag = diagnosis.diagnose(snap)
    assert diag["culprit"]["version"] == "2.0.3"
    assert diag["plan"][0]["step"] == "escalate" and "leakmod 2.0.3" in diag["plan"][0]["target"]
    user = tmp_path / "kb.yml"
    user.write_text(
        "schema: 1\nentries:\n  - kind: kernel_module\n    match: leakmod\n    title: a test NIC driver\n"
        "    owner: Example NIC vendor\n    component: vendor_driver\n    step: escalate\n"
        "    meaning: test entry\n    known_issues:\n      - id: LEAK-1\n        title: rx refill leak\n"
        "        reference: https://example.invalid/leak-1\n        fixed_in: \"2.1.0\"\n"
        "        component: vendor_driver\n"
        "    sources:\n      - https://example.invalid/leak-1\n")
    annotated = kb.annotate(diag, snap, kb.load_knowledge(user_files=[str(user)]))
    assert annotated["culprit"]["owner"] == "Example NIC vendor"
    assert "LEAK-1" in annotated["plan"][0]["reason"] and "2.0.3" in annotated["plan"][0]["reason"]


def test_slab_growth_gets_the_call_sites_too():
    snap = capture_snapshot()
    snap["linux"]["slab"] = [{"name": "kmalloc-2k", "num_objs": 2000000, "objsize": 2048, "bytes": 4096000000}]
    diag = diagnosis.diagnose(snap)
    slab = finding(diag, "slab_growth")
    assert slab["attribution"]["module"] == "leakmod"
    assert any("the slab memory" in line for line in slab["evidence"])


def test_without_any_source_it_says_how_to_enable_one():
    snap = capture_snapshot()
    snap["linux"]["kernel_sources"]["allocinfo"] = None
    snap["captured"].pop("allocinfo")
    diag = diagnosis.diagnose(snap)
    assert diag["culprit"]["kind"] == "kernel" and diag["culprit"]["name"] == "unaccounted"
    found = finding(diag, "unaccounted_kernel")
    assert "attribution" not in found
    text = "\n".join(found["evidence"])
    assert "kernel call sites unknown" in text
    assert "vm.mem_profiling=1" in text and "suitable for production" in text
    assert "trace_seconds" in text and "CONFIG_DEBUG_KMEMLEAK" in text and "page_owner=on" in text


def test_missing_is_filled_where_the_rules_keep_one():
    snap = capture_snapshot()
    snap["linux"]["kernel_sources"]["allocinfo"] = None
    from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import kernel_attribution
    diag = diagnosis.diagnose(snap)
    diag["missing"] = []
    kernel_attribution.attribute(snap, copy.deepcopy(diag))
    again = kernel_attribution.attribute(snap, dict(diag, findings=copy.deepcopy(diag["findings"])))
    assert {"what": "kernel allocation call sites (/proc/allocinfo)",
            "command": "sysctl vm.mem_profiling=1; cat /proc/allocinfo"} in again["missing"]


@pytest.mark.parametrize("bad", [None, {"allocinfo": {"sites": "x"}}, {"trace": {"sites": [{"bytes": True}]}}])
def test_garbled_kernel_sources_do_not_break_the_diagnosis(bad):
    snap = capture_snapshot()
    snap["linux"]["kernel_sources"] = bad
    diag = diagnosis.diagnose(snap)
    assert diag["verdict"]["id"] == "unaccounted_kernel"
