# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The knowledge base: the shipped data, the loader's errors, matching, user overrides,
pooltag.txt, version comparison and annotate() on diagnoses shaped like the diagnosis of docs/architecture.md (Data contracts)."""

import copy
import json
import os
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.memleak.remediation.plugins.filter import kb_annotate as kb_filter
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as linux_diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.windows_rules import windows_findings, windows_plan
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge import base as knowledge
from ansible_collections.memleak.remediation.plugins.plugin_utils.knowledge.base import (
    BUILTIN_PATH, KnowledgeError, annotate, compare_versions, load_knowledge, parse_knowledge,
    parse_pooltag, version_key)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
WIN_FIXTURES = os.path.join(ROOT, "tests", "fixtures", "windows")
SEED004_MEMINFO = os.path.join(ROOT, "tests", "fixtures", "meminfo", "centos7.4-3.10.0-693.el7-vmware.meminfo")
GiB = 1024 ** 3

kb_annotate = kb_filter.FilterModule().filters()["kb_annotate"]


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def load_fixture(name):
    with open(os.path.join(WIN_FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------ the shipped data

def test_shipped_file_is_valid_and_large_enough(kb):
    with open(BUILTIN_PATH, encoding="utf-8") as handle:
        entries = parse_knowledge(handle.read(), BUILTIN_PATH)
    assert len(entries) >= 60
    assert len(kb) == len(entries)
    kinds = set(e["kind"] for e in entries)
    assert kinds == {"pool_tag", "slab_cache", "kernel_module", "balloon_driver"}


def test_every_shipped_entry_cites_a_public_source(kb):
    for entry in kb.builtin:
        assert entry["sources"], entry["match"]
        assert any(re.match(r"^https?://\S+$", s) for s in entry["sources"]), \
            "%s %r cites no URL" % (entry["kind"], entry["match"])
        for issue in entry["known_issues"]:
            assert re.match(r"^https?://\S+$", issue["reference"]), issue["id"]


def test_shipped_file_contains_no_pooltag_txt_lines():
    # pooltag.txt may not be redistributed: not one line of the shipped data is in its form.
    pooltag_line = re.compile(r"^\s*\S{1,4}\s+-\s+\S+\s+-\s+\S")
    with open(BUILTIN_PATH, encoding="utf-8") as handle:
        offending = [line for line in handle if pooltag_line.match(line)]
    assert offending == []


def test_seed_facts_are_in_the_data(kb):
    vfil = kb.pool_tag("VFil")
    assert vfil["component"] == "vmware_tools"
    issue = vfil["known_issues"][0]
    assert (issue["id"], issue["fixed_in"], issue["component"]) == ("VMware KB 2077302", "10.0.8", "vmware_tools")
    assert kb.pool_tag("VNet")["known_issues"][0]["id"] == "VMware KB 2077302"
    assert kb.pool_tag("MmSt")["known_issues"][0]["id"] == "Microsoft KB 304101"
    assert kb.pool_tag("Leak")["binary"] == "myfault.sys"
    assert kb.pool_tag("Afde")["binary"] == "afd.sys"
    for driver in ("vmw_balloon", "vmware_balloon", "vmmemctl", "virtio_balloon", "hv_balloon", "xen_balloon"):
        assert kb.balloon_driver(driver)["component"] == "virtualization", driver
    assert "negative" in kb.slab_cache("dentry")["meaning"]


# ------------------------------------------------------------------ validation errors

GOOD = """\
schema: 1
entries:
  - kind: pool_tag
    match: Zq1x
    title: a test tag
    meaning: Our test tag.
    component: vendor_driver
    step: escalate
    sources: [https://example.invalid/zq1x]
"""


@pytest.mark.parametrize("change, message", [
    (("component: vendor_driver", "component: vendordriver"),
     "kb.yml, line 3, entry 1 (pool_tag 'Zq1x'): field 'component': 'vendordriver' is not one of"),
    (("    step: escalate\n", "    step: escalate\n    colour: red\n"),
     "entry 1 (pool_tag 'Zq1x'): unknown field(s) 'colour'"),
    (("    sources: [https://example.invalid/zq1x]\n", ""),
     "entry 1 (pool_tag 'Zq1x'): field 'sources' is required"),
    (("    title: a test tag\n", ""), "entry 1 (pool_tag 'Zq1x'): field 'title' is required"),
    (("match: Zq1x", "match: TooLong"), "field 'match': 'TooLong' is not a valid pool tag"),
    (("    sources:",
      "    known_issues:\n      - {id: X-1, title: t, reference: r, component: os, fixed_in: 10.0}\n    sources:"),
     "known_issues[0]: field 'fixed_in' must be a string, got float (write it in quotes"),
    (("schema: 1", "schema: 2"), "kb.yml: schema 2 is not supported"),
])
def test_errors_name_file_entry_and_field(change, message):
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(KnowledgeError) as err:
        parse_knowledge(text, "kb.yml")
    assert message in str(err.value)


def test_duplicate_and_yaml_errors_name_the_line():
    twice = GOOD + GOOD.split("entries:\n", 1)[1]
    with pytest.raises(KnowledgeError, match=r"kb.yml, line 10, entry 2 \(pool_tag 'Zq1x'\): .*already defined by entry 1"):
        parse_knowledge(twice, "kb.yml")
    with pytest.raises(KnowledgeError, match=r"kb.yml line 3: not valid YAML"):
        parse_knowledge("schema: 1\nentries:\n  - kind: a: b\n", "kb.yml")
    with pytest.raises(KnowledgeError, match="expected a mapping with 'schema: 1' and an 'entries' list"):
        parse_knowledge("- just a list\n", "kb.yml")


def test_user_files_need_no_sources_but_are_still_checked(tmp_path):
    text = GOOD.replace("    sources: [https://example.invalid/zq1x]\n", "")
    path = write(tmp_path, "ours.yml", text)
    kb = load_knowledge([path], builtin=False)
    assert kb.pool_tag("Zq1x")["sources"] == []
    bad = write(tmp_path, "bad.yml", text.replace("step: escalate", "step: reboot"))
    with pytest.raises(KnowledgeError, match=r"bad.yml, line 3, entry 1 .*field 'step': 'reboot'"):
        load_knowledge([bad])


def test_reclaimable_slab_caches_are_marked_with_their_kernel_source(kb):
    """Caches the kernel creates with SLAB_RECLAIM_ACCOUNT shrink under pressure: not a leak by size alone."""
    for name in ("dentry", "inode_cache", "ext4_inode_cache", "xfs_inode", "buffer_head", "radix_tree_node",
                 "kmalloc-rcl-64"):
        entry = kb.slab_cache(name)
        assert entry["reclaimable"] is True, name
        assert any("github.com/torvalds/linux" in source for source in entry["sources"]), name
    for name in ("task_struct", "TCP", "nf_conntrack"):
        assert kb.slab_cache(name)["reclaimable"] is False, name
    assert kb.slab_cache("kmalloc-256")["reclaimable"] is None, "kmalloc caches hold anything: not said"


def test_reclaimable_is_a_slab_cache_boolean(tmp_path):
    bad = write(tmp_path, "bad.yml", GOOD.replace("    sources:", "    reclaimable: true\n    sources:", 1))
    with pytest.raises(KnowledgeError, match=r"bad.yml, line \d+, entry 1 .*field 'reclaimable'"):
        load_knowledge([bad])


# ------------------------------------------------------------------ matching

def test_pool_tag_wildcards_exactness_and_case(kb):
    assert kb.pool_tag("AfdE")["match"] == "Afd?"
    assert kb.pool_tag("afdE") is None                  # pool tags are case-sensitive
    assert kb.pool_tag("Afd")["match"] == "Afd?"        # a 3-letter tag is "Afd " and '?' takes the space
    assert kb.pool_tag("Af") is None                    # but "Af  " needs two characters after "Af"
    assert kb.pool_tag("WCsc")["match"] == "WCsc"       # the exact entry beats the WC?? family
    assert kb.pool_tag("WCse")["match"] == "WC??"
    assert kb.pool_tag("Irp ")["match"] == kb.pool_tag("Irp")["match"] == "Irp"    # short tags are padded


def test_wildcards_in_a_user_file(tmp_path):
    path = write(tmp_path, "ours.yml", """\
entries:
  - {kind: pool_tag, match: "CM??", title: registry, meaning: Our note., component: os, step: patch_os}
  - {kind: pool_tag, match: "CM3*", title: registry 3x, meaning: Our note., component: os, step: patch_os}
  - {kind: slab_cache, match: "ext4_*", title: ext4 caches, meaning: Our note., component: os, step: patch_os}
""")
    kb = load_knowledge([path])
    assert kb.pool_tag("CM25")["title"] == "registry"
    assert kb.pool_tag("CM31")["title"] == "registry 3x"  # more literal characters win
    assert kb.pool_tag("CX25") is None
    assert kb.slab_cache("ext4_extent_status")["title"] == "ext4 caches"
    assert kb.slab_cache("ext4_inode_cache")["title"] == "ext4 caches"   # the user's pattern beats the builtin exact entry


def test_module_names_ignore_case_dashes_and_suffixes(kb):
    assert kb.balloon_driver("xen-balloon")["match"] == "xen_balloon"
    assert kb.balloon_driver("VMW_BALLOON")["match"] == "vmw_balloon"
    assert kb.balloon_driver("vmware_vmmemctl")["match"] == "vmmemctl"   # alias
    assert kb.kernel_module("zram.ko")["match"] == "zram"
    assert kb.slab_cache("kmalloc-rcl-128")["match"] == "kmalloc-rcl-*"
    assert kb.slab_cache("kmalloc-128")["match"] == "kmalloc-*"
    assert kb.slab_cache("no_such_cache") is None


def test_user_entries_win(tmp_path):
    path = write(tmp_path, "ours.yml", """\
entries:
  - kind: pool_tag
    match: VFil
    title: our VMware filter driver
    owner: Our VMware team
    meaning: Our own note.
    component: vmware_tools
    step: vmware_tools
""")
    kb = load_knowledge([path])
    assert kb.pool_tag("VFil")["owner"] == "Our VMware team"
    assert kb.pool_tag("VNet")["owner"] == "VMware Tools"     # untouched builtin entry
    assert len(kb) == len(load_knowledge()) + 1


# ------------------------------------------------------------------ pooltag.txt

# The format is the one stated in the header of pooltag.txt itself ("rem The file has the following
# format: rem <PoolTag> - <binary-name> - <Description>"), quoted in public posts such as
# https://bbs.kanxue.com/thread-204829.htm and OSR's "Who Owns Which Pool Tag"
# (http://www.osronline.com/custom.cfm%5Ename=articlePrint.cfm&id=269.htm); PoolMon's /g option reads
# such a file (https://learn.microsoft.com/en-us/windows-hardware/drivers/devtest/poolmon-startup-command).
# The two rem lines below quote that header; every tag line describes tags made up for this test.
POOLTAG_SAMPLE = """\
//
// test data for memleak.remediation
//
rem
rem <PoolTag> - <binary-name> - <Description>
rem

Zq1? - zqdrv.sys     - zq test driver objects
Zq1a - zqdrv.sys     - zq test allocation A
Yy*  - yydrv.sys     - yy family of test tags
Ab   - <unknown>     - a two-letter test tag
Xq2a - nt!xq         - a kernel test component
Nb9s - nbdrv.sys     -no space after the dash
       continuation text that belongs to no tag
this line has no separator
MmSt - other.sys     - must not override the shipped entry
Ddk  - ddkowner.sys  - fills the binary of the shipped entry
"""


def test_pooltag_parse_documented_format():
    entries, skipped = parse_pooltag(POOLTAG_SAMPLE, "pooltag.txt")
    by_tag = dict((e["pattern"], e) for e in entries)
    assert list(by_tag) == ["Zq1?", "Zq1a", "Yy*", "Ab  ", "Xq2a", "Nb9s", "MmSt", "Ddk "]
    assert by_tag["Zq1?"] == {"pattern": "Zq1?", "binary": "zqdrv.sys", "description": "zq test driver objects",
                              "line": 8}
    assert by_tag["Ab  "]["binary"] is None
    assert by_tag["Nb9s"]["description"] == "no space after the dash"
    assert [item[0] for item in skipped] == [14, 15]
    assert "continuation" in skipped[0][1] and "separator" in skipped[1][1]


def test_pooltag_only_fills_gaps(tmp_path, kb):
    path = write(tmp_path, "pooltag.txt", POOLTAG_SAMPLE)
    with_file = load_knowledge(pooltag_file=path)
    assert with_file.pool_tag("Zq1a")["meaning"] == "zq test allocation A"       # exact line wins
    assert with_file.pool_tag("Zq1b")["meaning"] == "zq test driver objects"     # '?' line
    assert with_file.pool_tag("Yyzz")["binary"] == "yydrv.sys"                   # '*' line
    assert with_file.pool_tag("Ab")["id"] == "pooltag.txt:Ab"
    assert with_file.pool_tag("Xq2a")["component"] == "os"                       # nt!... is the kernel
    assert with_file.pool_tag("Zq1a")["component"] is None                       # a file name alone says nothing
    assert with_file.pool_tag("MmSt") == kb.pool_tag("MmSt")                     # shipped entries are not replaced
    ddk = with_file.pool_tag("Ddk")
    assert ddk["binary"] == "ddkowner.sys" and ddk["title"] == kb.pool_tag("Ddk")["title"]
    assert ddk["sources"][-1] == "%s line 17" % path
    assert with_file.pooltag_skipped == [(14, "starts with blank space (continuation or stray text)"),
                                         (15, "no ' - ' separator")]


def test_pooltag_file_refuses_binary_and_huge_files(tmp_path, monkeypatch):
    binary = tmp_path / "pooltag.bin"
    binary.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00")
    with pytest.raises(KnowledgeError, match="pooltag.bin: binary data"):
        load_knowledge(pooltag_file=str(binary))
    monkeypatch.setattr(knowledge, "MAX_POOLTAG_BYTES", 100)
    big = write(tmp_path, "big.txt", POOLTAG_SAMPLE)
    with pytest.raises(KnowledgeError, match="big.txt: .* too large"):
        load_knowledge(pooltag_file=big)
    with pytest.raises(KnowledgeError, match="missing.txt: cannot read"):
        load_knowledge(pooltag_file=str(tmp_path / "missing.txt"))


# ------------------------------------------------------------------ versions

@pytest.mark.parametrize("have, want, version_of, expected", [
    ("12.0.0", "10.0.8", None, 1),
    ("9.10.0", "10.0.8", None, -1),                     # numeric, not text, comparison
    ("10.0.8", "10.0.8", None, 0),
    ("10.0.8.3595377", "10.0.8", None, 1),
    ("12.0.0.19345655", "12.0.0 (build-19345655)", None, 0),
    ("10.0.6.3595377", "10.0.8", None, -1),
    ("3.10.0-693.el7.x86_64", "3.10.0-1160", "kernel", -1),
    ("3.10.0-693.11.6.el7", "3.10.0-693", "kernel", 1),
    ("10.0.14393.0", "10.0.14393.2273", "os_build", -1),
    ("14393.2273", "10.0.14393.2273", "os_build", 0),
    ("10.0.17763.1", "10.0.14393.2273", "os_build", 1),
    ("5.0.2195.1600", "5.0.2195.2096", "driver", -1),
    ("v4-1.24", "4.1.30", None, -1),
    ("unknown", "10.0.8", None, None),
    (None, "10.0.8", None, None),
])
def test_version_comparison(have, want, version_of, expected):
    assert compare_versions(have, want, version_of) == expected


def test_version_key_drops_distribution_suffixes():
    assert version_key("3.10.0-693.el7.x86_64") == (3, 10, 0, 693)
    assert version_key("12.0.0 (build-19345655)") == (12, 0, 0, 19345655)
    assert version_key("0.99-r9") == (0, 99)
    assert version_key("") is None


# ------------------------------------------------------------------ annotate: seed 000

def seed000_diagnosis(snapshot):
    """A Windows diagnosis of seed 000 in the section 4 shape, before the knowledge base stage:
    no kb, no owner, a plan that knows nothing of VMware Tools."""
    vfil = next(t for t in snapshot["windows"]["tags"] if t["tag"] == "VFil")
    return {
        "schema": 1,
        "host": snapshot["host"],
        "verdict": {"id": "pool_leak", "severity": "critical",
                    "summary": "Nonpaged pool tag VFil grows without bound."},
        "culprit": {"kind": "pool_tag", "name": "VFil", "owner": None, "version": None},
        "ledger": [{"category": "nonpaged_pool", "bytes": snapshot["windows"]["pools"]["nonpaged"]["bytes"]}],
        "findings": [
            {"id": "pool_leak", "severity": "critical", "subject": {"kind": "pool_tag", "name": "VFil", "owner": None},
             "bytes": vfil["nonpaged_bytes"], "share": 0.56,
             "growth": {"bytes_per_hour": 28800000, "samples": 6, "span_hours": 0.0833, "confidence": "medium"},
             "exhaustion_eta_hours": 20.0, "evidence": ["tag VFil nonpaged bytes grow"], "kb": None},
            {"id": "pool_leak", "severity": "critical", "subject": {"kind": "pool_tag", "name": "VNet", "owner": None},
             "bytes": 6444210944, "share": 0.37, "growth": None, "exhaustion_eta_hours": None,
             "evidence": [], "kb": None},
        ],
        "plan": [
            {"step": "patch_os", "reason": "Install the latest cumulative update.", "target": "Windows"},
            {"step": "escalate", "reason": "Open a case with the driver's vendor.", "target": "driver vendor"},
        ],
    }


def test_seed000_tools_12_is_not_kb_2077302_so_patch_the_os_first(kb):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    assert snap["virt"]["tools"]["version"] == "12.0.0"
    diagnosis = seed000_diagnosis(snap)
    before = copy.deepcopy(diagnosis)
    out = annotate(diagnosis, snap, kb)
    assert diagnosis == before                                   # the input is not changed
    leak = out["findings"][0]
    assert leak["kb"] == {"id": "VMware KB 2077302",
                          "title": "VFil/VNet nonpaged pool growth in VMware Tools drivers; upgrade VMware Tools",
                          "fixed_in": "10.0.8", "reference": "https://kb.vmware.com/s/article/2077302"}
    assert leak["subject"]["owner"] == "VMware Tools"
    assert "kb: VMware Tools 12.0.0 is not older than 10.0.8, which fixes VMware KB 2077302: not that bug" \
        in leak["evidence"]
    assert out["findings"][1]["kb"]["id"] == "VMware KB 2077302"
    assert out["culprit"]["owner"] == "VMware Tools"
    assert out["culprit"]["version"] == "12.0.0.0"               # vsepflt.sys file version from the driver scan
    assert [s["step"] for s in out["plan"]] == ["patch_os", "vmware_tools", "escalate"]
    assert out["plan"][0]["reason"].startswith("Install the latest cumulative update.")
    assert "not that bug" in out["plan"][0]["reason"]
    assert out["plan"][1]["target"] == "latest"


def test_seed000_with_tools_9_10_upgrades_vmware_tools_first(kb):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    snap["virt"]["tools"]["version"] = "9.10.0"
    out = annotate(seed000_diagnosis(snap), snap, kb)
    assert [s["step"] for s in out["plan"]] == ["vmware_tools", "patch_os", "escalate"]
    first = out["plan"][0]
    assert first["target"] == ">= 10.0.8"
    assert "VMware Tools 9.10.0 is older than 10.0.8, which fixes VMware KB 2077302" in first["reason"]
    assert "kb: VMware Tools 9.10.0 is older than 10.0.8, which fixes VMware KB 2077302: it applies" \
        in out["findings"][0]["evidence"]


def test_seed000_tools_version_unknown_is_said_not_assumed(kb):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    snap["virt"]["tools"] = None
    out = annotate(seed000_diagnosis(snap), snap, kb)
    assert out["plan"][0]["step"] == "patch_os"
    assert "the installed version is unknown" in out["plan"][0]["reason"]
    assert "kb: VMware KB 2077302 is fixed in VMware Tools 10.0.8; the installed version is unknown" \
        in out["findings"][0]["evidence"]


def test_annotating_the_windows_rules_output_keeps_its_order_and_adds_no_repeats(kb):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    findings = windows_findings(snap)
    verdict = {"id": findings[0]["id"], "severity": "critical", "summary": "VFil grows."}
    diagnosis = {"schema": 1, "host": snap["host"], "verdict": verdict,
                 "culprit": {"kind": "pool_tag", "name": "VFil", "owner": findings[0]["subject"]["owner"],
                             "version": findings[0]["subject"]["version"]},
                 "ledger": [], "findings": findings, "plan": windows_plan(snap, findings)}
    out = annotate(diagnosis, snap, kb)
    assert [s["step"] for s in out["plan"]] == ["patch_os", "vmware_tools", "escalate"]
    assert out["plan"][0] == diagnosis["plan"][0]      # already says "not that bug": nothing to add
    evidence = out["findings"][0]["evidence"]
    assert sum("not that bug" in line for line in evidence) == 1
    assert out["culprit"]["owner"] == "vsepflt.sys (VMware, Inc.)"    # the driver scan's owner is kept


# ------------------------------------------------------------------ annotate: unknown third-party tag

def unknown_tag_case(drivers):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    snap["windows"]["drivers"] = drivers
    diagnosis = {
        "schema": 1, "host": snap["host"],
        "verdict": {"id": "pool_leak", "severity": "critical", "summary": "Tag Zq9x grows."},
        "culprit": {"kind": "pool_tag", "name": "Zq9x", "owner": None, "version": None},
        "ledger": [],
        "findings": [{"id": "pool_leak", "severity": "critical",
                      "subject": {"kind": "pool_tag", "name": "Zq9x", "owner": None},
                      "bytes": 2 * GiB, "share": 0.12, "growth": None, "exhaustion_eta_hours": None,
                      "evidence": [], "kb": None}],
        "plan": [{"step": "patch_os", "reason": "Install the latest cumulative update.", "target": "Windows"}],
    }
    return snap, diagnosis


def test_unknown_third_party_tag_escalates_to_its_vendor_with_the_file_version(kb):
    snap, diagnosis = unknown_tag_case({"Zq9x": [{"file": "C:\\Windows\\system32\\drivers\\acmeflt.sys",
                                                  "version": "3.2.1.4", "company": "Acme Filter Corp",
                                                  "signed": True}]})
    out = annotate(diagnosis, snap, kb)
    first = out["plan"][0]
    assert first["step"] == "escalate"
    assert first["target"] == "Acme Filter Corp (acmeflt.sys 3.2.1.4)"
    assert "file version 3.2.1.4" in first["reason"] and "third party" in first["reason"]
    assert [s["step"] for s in out["plan"]] == ["escalate", "patch_os"]
    assert out["findings"][0]["kb"] is None                    # nothing is known: nothing is made up
    assert out["culprit"] == {"kind": "pool_tag", "name": "Zq9x", "owner": "acmeflt.sys (Acme Filter Corp)",
                              "version": "3.2.1.4"}


def test_unknown_tag_without_a_driver_asks_to_identify_it(kb):
    snap, diagnosis = unknown_tag_case({})
    out = annotate(diagnosis, snap, kb)
    assert [s["step"] for s in out["plan"]] == ["patch_os", "escalate"]
    assert "findstr /m /l Zq9x" in out["plan"][1]["reason"]
    assert out["plan"][1]["target"] == "driver vendor (unidentified)"


def test_known_vendor_driver_names_the_file_version(kb):
    snap, diagnosis = unknown_tag_case({"MFeS": [{"file": "C:\\Windows\\system32\\drivers\\mfeavfk.sys",
                                                  "version": "10.6.0.542", "company": "McAfee, LLC",
                                                  "signed": True}]})
    for item in (diagnosis["culprit"], diagnosis["findings"][0]["subject"]):
        item["name"] = "MFeS"
    out = annotate(diagnosis, snap, kb)
    assert out["findings"][0]["kb"]["fixed_in"] == "5.6.0"
    assert out["plan"][0]["step"] == "escalate"
    assert out["plan"][0]["target"] == "McAfee, LLC (mfeavfk.sys 10.6.0.542)"
    assert "10.6.0.542" in out["plan"][0]["reason"]


def test_pooltag_description_fills_a_gap_in_annotate(tmp_path):
    kb = load_knowledge(pooltag_file=write(tmp_path, "pooltag.txt", POOLTAG_SAMPLE))
    snap, diagnosis = unknown_tag_case({})
    for item in (diagnosis["culprit"], diagnosis["findings"][0]["subject"]):
        item["name"] = "Xq2a"
    out = annotate(diagnosis, snap, kb)
    assert out["findings"][0]["kb"]["id"] == "pooltag.txt:Xq2a"
    assert out["findings"][0]["kb"]["title"] == "a kernel test component"
    assert out["culprit"]["owner"] == "nt!xq"
    assert out["plan"][0]["step"] == "patch_os"


# ------------------------------------------------------------------ annotate: Linux

def test_slab_dentry_gets_its_kb(kb):
    snap = schema.new_snapshot("web01", "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    snap["linux"]["dentry_state"] = {"nr_dentry": 9575244, "nr_unused": 9500000, "age_limit": 45,
                                     "want_pages": 0, "nr_negative": 9400000}
    diagnosis = {
        "schema": 1, "host": "web01",
        "verdict": {"id": "slab_growth", "severity": "warning",
                    "summary": "Kernel slab cache dentry holds 1.7 GiB (22.8 % of RAM)."},
        "culprit": {"kind": "slab_cache", "name": "dentry", "owner": None, "version": None},
        "ledger": [{"category": "slab_reclaimable", "bytes": 1867628544}],
        "findings": [{"id": "slab_growth", "severity": "warning",
                      "subject": {"kind": "slab_cache", "name": "dentry", "owner": None},
                      "bytes": 1867628544, "share": 0.228, "growth": None, "exhaustion_eta_hours": None,
                      "evidence": ["slab cache dentry: 9575244 objects x 192 bytes"], "kb": None}],
        "plan": [{"step": "patch_os", "reason": "A slab cache growing without bound is a kernel or driver leak; "
                                                "update the kernel and drivers first.", "target": "dentry"},
                 {"step": "escalate", "reason": "Send /proc/slabinfo to the OS vendor.", "target": "OS vendor"}],
    }
    out = annotate(diagnosis, snap, kb)
    finding = out["findings"][0]
    assert finding["kb"] == {"id": "Red Hat Bugzilla 1720479", "title": kb.slab_cache("dentry")["known_issues"][0]["title"],
                             "fixed_in": "3.16.0", "reference": "https://lwn.net/Articles/894432/"}
    assert finding["subject"]["owner"] == "Linux VFS (fs/dcache.c)"
    assert any(line.startswith("kb: slab cache dentry is the directory entry cache") for line in finding["evidence"])
    assert out["culprit"]["owner"] == "Linux VFS (fs/dcache.c)"
    assert [s["step"] for s in out["plan"]] == ["patch_os", "escalate"]
    assert "nr_negative" in out["plan"][0]["reason"]          # the knowledge base's advice is added


def test_balloon_on_a_real_linux_diagnosis_escalates_to_the_virtualization_owner(kb):
    snap = schema.new_snapshot("db01", "2024-05-01T10:00:00Z")
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    with open(SEED004_MEMINFO, encoding="utf-8") as handle:
        snap["linux"]["meminfo"] = parse_meminfo(handle.read(), SEED004_MEMINFO)
    snap["virt"]["platform"] = "vmware"
    snap["virt"]["balloon"] = {"driver": "vmware_balloon", "loaded": True, "bytes": None, "target_bytes": None}
    diagnosis = linux_diagnosis.diagnose(snap)
    assert diagnosis["verdict"]["id"] == "balloon_inflation"
    out = annotate(diagnosis, snap, kb)
    assert out["findings"][0]["kb"]["id"] == "memleak-kb:balloon_driver/vmware_balloon"
    assert out["plan"][0]["step"] == "escalate"
    assert out["plan"][0]["target"] == "virtualization owner (VMware)"
    assert out["plan"][0]["reason"] == diagnosis["plan"][0]["reason"]   # the diagnosis's numbers are kept
    assert out["verdict"] == diagnosis["verdict"] and out["ledger"] == diagnosis["ledger"]


def test_healthy_diagnosis_is_left_alone(kb):
    healthy = {"schema": 1, "host": "h", "verdict": {"id": "healthy", "severity": "ok", "summary": "Fine."},
               "culprit": {"kind": "none", "name": "", "owner": None, "version": None}, "ledger": [],
               "findings": [], "plan": [{"step": "none", "reason": "Nothing abnormal was found.", "target": None}]}
    assert annotate(healthy, {}, kb) == healthy


def test_annotate_rejects_what_is_not_a_diagnosis(kb):
    with pytest.raises(KnowledgeError, match="must be a dict"):
        annotate(["not", "a", "diagnosis"], {}, kb)


# ------------------------------------------------------------------ the filter

def test_filter_documentation_is_valid_yaml():
    for block in (kb_filter.DOCUMENTATION, kb_filter.EXAMPLES, kb_filter.RETURN):
        assert yaml.safe_load(block)
    doc = yaml.safe_load(kb_filter.DOCUMENTATION)
    assert set(doc["options"]) == {"_input", "snapshot", "kb_files", "pooltag_file", "builtin"}


def test_filter_with_user_file_and_pooltag(tmp_path):
    snap = load_fixture("seed000_vmware_vfil_vnet.json")
    ours = write(tmp_path, "ours.yml", GOOD.replace("Zq1x", "VFil").replace("a test tag", "our own VFil note"))
    pooltag = write(tmp_path, "pooltag.txt", POOLTAG_SAMPLE)
    out = kb_annotate(seed000_diagnosis(snap), snapshot=snap, kb_files=[ours], pooltag_file=pooltag)
    assert out["findings"][0]["kb"]["title"] == "our own VFil note"      # the user's entry won
    assert out["plan"][0]["step"] == "escalate"                          # and so did its step
    assert out["findings"][1]["kb"]["id"] == "VMware KB 2077302"         # VNet still from the collection


def test_filter_errors_are_ansible_errors(tmp_path):
    bad = write(tmp_path, "bad.yml", GOOD.replace("step: escalate", "step: later"))
    with pytest.raises(AnsibleFilterError, match=r"kb_annotate: .*bad.yml, line 3, entry 1 .*'step'"):
        kb_annotate({"findings": []}, kb_files=[bad])
    with pytest.raises(AnsibleFilterError, match="kb_files must be a list of paths"):
        kb_annotate({"findings": []}, kb_files=[1])
    with pytest.raises(AnsibleFilterError, match="input must be a memleak_diagnosis dict"):
        kb_annotate("text")
