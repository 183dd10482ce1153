"""The same machine state gives the same verdict live and offline.

Live: the collector meminfo_facts runs (linux_collect.collect on a /proc tree). Offline: the analyze
playbook's path (captures.offline.analyze_capture) on the same files. Hypothesis varies the state of
each fixture tree of tests/fixtures/proc: memory moved from MemFree to where no counter sees it (the
unaccounted memory a driver or a balloon would hold), and a module list with or without a balloon
driver, so that both paths meet every balloon state (unknown, absent, loaded) and the thresholds.
"""

import os
import re
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.memleak.remediation.plugins.module_utils import linux_collect
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import offline
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis.linux import diagnose

PROC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "proc")
TREES = sorted(name for name in os.listdir(PROC) if os.path.isfile(os.path.join(PROC, name, "proc", "meminfo")))
# /proc/modules lines in the kernel's layout (name size refcount deps state address), as in
# tests/fixtures/proc/samples/proc-modules-rhel6-guide.txt.
MODULES = {
    "none": None,
    "no balloon": "e1000 134863 0 - Live 0xffffffffa0000000\n",
    "vmw_balloon": "vmw_balloon 18094 0 - Live 0xffffffffa0200000\ne1000 134863 0 - Live 0xffffffffa0000000\n",
}


def _shift(meminfo_text, kib):
    """Take ``kib`` kB from MemFree and MemAvailable: memory no counter accounts for any more."""
    def less(match):
        return "%s%d kB" % (match.group(1), max(0, int(match.group(2)) - kib))
    return re.sub(r"^((?:MemFree|MemAvailable):\s+)(\d+) kB", less, meminfo_text, flags=re.M)


def _essentials(diag):
    findings = [(f["id"], f["severity"], f["confidence"], f["bytes"], tuple(m["command"] for m in f["missing"]))
                for f in diag["findings"]]
    return diag["verdict"], diag["culprit"], diag["ledger"], findings


def test_every_proc_fixture_is_used():
    assert len(TREES) >= 3, TREES


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.sampled_from(TREES), share=st.floats(min_value=0.0, max_value=0.95),
       modules=st.sampled_from(sorted(MODULES)))
def test_live_and_offline_give_the_same_verdict(tree, share, modules):
    work = tempfile.mkdtemp(prefix="memleak-agree-")
    try:
        root = os.path.join(work, tree)
        shutil.copytree(os.path.join(PROC, tree), root, symlinks=True)
        path = os.path.join(root, "proc", "meminfo")
        with open(path) as handle:
            text = handle.read()
        free = int(re.search(r"^MemFree:\s+(\d+) kB", text, re.M).group(1))
        with open(path, "w") as handle:
            handle.write(_shift(text, int(free * share)))
        if MODULES[modules] is not None:
            with open(os.path.join(root, "proc", "modules"), "w") as handle:
                handle.write(MODULES[modules])

        live = linux_collect.collect(root, live=False)
        result = offline.analyze_capture(root)
        assert result["error"] is None, result["error"]
        captured = result["snapshot"]

        # Both say what was read (the paths may differ: proc vs proc/PID/status); the module list decides.
        for snap in (live, captured):
            assert "meminfo" in snap["captured"]
            assert ("modules" in snap["captured"]) == (MODULES[modules] is not None)
        assert _essentials(diagnose(live)) == _essentials(diagnose(captured))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _seed004(modules):
    work = tempfile.mkdtemp(prefix="memleak-agree-")
    root = os.path.join(work, "vm")
    shutil.copytree(os.path.join(PROC, "centos7-vmware-seed004"), root)
    if MODULES[modules] is not None:
        with open(os.path.join(root, "proc", "modules"), "w") as handle:
            handle.write(MODULES[modules])
    return work, root


def test_the_module_list_decides_the_balloon_state_on_both_paths():
    """Without a module list the balloon is unknown; a list without a balloon driver proves it absent;
    a loaded vmw_balloon of unreadable size makes the balloon the suspect."""
    expected = {"none": ("unaccounted_kernel", "suspected"), "no balloon": ("unaccounted_kernel", "likely"),
                "vmw_balloon": ("balloon_inflation", "suspected")}
    for modules, verdict in sorted(expected.items()):
        work, root = _seed004(modules)
        try:
            for snap in (linux_collect.collect(root, live=False), offline.analyze_capture(root)["snapshot"]):
                diag = diagnose(snap)
                assert (diag["verdict"]["id"], diag["verdict"]["confidence"]) == verdict, modules
                asked = [m["command"] for m in diag["verdict"]["missing"]]
                assert ("lsmod" in asked) == (modules == "none"), modules
        finally:
            shutil.rmtree(work, ignore_errors=True)
