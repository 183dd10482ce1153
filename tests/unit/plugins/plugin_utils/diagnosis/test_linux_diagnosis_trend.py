"""Growth over the host history turns "high" into "leaking", with a rate and an ETA."""

import os

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis
from ansible_collections.memleak.remediation.plugins.module_utils import schema
from ansible_collections.memleak.remediation.plugins.module_utils import series
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
from ansible_collections.memleak.remediation.plugins.module_utils.linux_parsers import parse_meminfo

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "meminfo")
MIB = 1024 * 1024
GIB = 1024 * MIB


def seed():
    path = os.path.join(FIXTURES, "centos7.4-3.10.0-693.el7-vmware.meminfo")
    with open(path) as handle:
        meminfo = parse_meminfo(handle.read(), path)
    snap = schema.new_snapshot("db01", "2024-05-08T00:00:00Z")
    snap["os"]["kernel"] = "3.10.0-693.el7.x86_64"
    snap["boot_id"] = "boot-1"
    snap["linux"]["meminfo"] = meminfo
    snap["linux"]["processes"] = [{"pid": 3725, "name": "java", "rss": 1818 * MIB, "pss": 1800 * MIB,
                                   "anon": 1790 * MIB, "swap": 0}]
    return snap


def history(snap, name, values, boot="boot-1"):
    """Daily samples of one series ending at the snapshot, shaped as meminfo_facts returns them."""
    samples = []
    for day, value in enumerate(values):
        samples.append({"v": 1, "t": "2024-05-%02dT00:00:00Z" % (day + 1), "boot": boot, "s": {name: value}})
    samples[-1] = series.compact_sample(snap, memory_ledger(snap))
    samples[-1]["s"][name] = values[-1]
    return samples


def finding(diag, fid):
    return next(f for f in diag["findings"] if f["id"] == fid)


def test_single_snapshot_says_growth_is_unproven():
    diag = diagnosis.diagnose(seed())
    item = finding(diag, "unaccounted_kernel")
    assert item["growth"] is None and item["exhaustion_eta_hours"] is None
    assert any(line.startswith("growth unproven") for line in item["evidence"])


def test_growing_unaccounted_memory_gets_rate_and_eta():
    snap = seed()
    now = memory_ledger(snap)[-1]["bytes"]
    assert memory_ledger(snap)[-1]["category"] == "unaccounted"
    snap["samples"] = history(snap, "ledger.unaccounted", [now - (7 - d) * 96 * MIB for d in range(8)])
    item = finding(diagnosis.diagnose(snap), "unaccounted_kernel")
    assert item["growth"]["bytes_per_hour"] == 4 * MIB and item["growth"]["samples"] == 8
    assert item["growth"]["span_hours"] == 168.0
    # MemAvailable 932412 kB lasts 227.6 h at 4 MiB/h.
    assert item["exhaustion_eta_hours"] == round(932412 * 1024 / (4.0 * MIB), 1)
    assert any("memory runs out in about" in line for line in item["evidence"])


def test_small_process_that_keeps_growing_is_named_before_it_is_big():
    snap = seed()
    snap["linux"]["processes"].append({"pid": 4242, "name": "leaky", "rss": 300 * MIB, "pss": 300 * MIB,
                                       "anon": 300 * MIB, "swap": 0})
    values = [20 * MIB + d * 40 * MIB for d in range(8)]
    snap["samples"] = history(snap, "proc:leaky[4242]", values)
    diag = diagnosis.diagnose(snap, options={"unaccounted_share": 1.0})
    assert diag["verdict"]["id"] == "process_leak"
    assert diag["culprit"]["kind"] == "process" and diag["culprit"]["name"] == "leaky"
    item = finding(diag, "process_leak")
    assert item["subject"]["name"] == "leaky (pid 4242)"
    assert item["growth"]["bytes_per_hour"] > 0 and item["exhaustion_eta_hours"] > 0
    assert diag["plan"][0]["step"] == "restart"


def test_big_but_stable_process_is_a_working_set_not_a_leak():
    snap = seed()
    snap["samples"] = history(snap, "proc:java[3725]", [1800 * MIB + (d % 2) * MIB for d in range(8)])
    diag = diagnosis.diagnose(snap, options={"process_share": 0.2, "unaccounted_share": 1.0})
    item = finding(diag, "process_leak")
    assert item["severity"] == "info" and item["exhaustion_eta_hours"] is None
    assert "stable over the window: a large working set, not a leak" in item["evidence"]
    assert diag["verdict"]["id"] != "process_leak"


def test_growth_before_a_reboot_does_not_count():
    snap = seed()
    values = [100 * MIB * d for d in range(1, 8)] + [50 * MIB]
    samples = history(snap, "proc:leaky[77]", values)
    for sample in samples[:-1]:
        sample["boot"] = "boot-0"
    snap["samples"] = samples
    diag = diagnosis.diagnose(snap, options={"unaccounted_share": 1.0})
    assert all(f["subject"]["name"] != "leaky (pid 77)" for f in diag["findings"])


def test_fast_growth_makes_the_finding_critical():
    snap = seed()
    now = memory_ledger(snap)[-1]["bytes"]
    snap["samples"] = history(snap, "ledger.unaccounted", [now - (7 - d) * 100 * MIB for d in range(8)])
    item = finding(diagnosis.diagnose(snap, options={"critical_eta_hours": 500}), "unaccounted_kernel")
    assert item["severity"] == "critical"


def test_short_rising_series_is_unproven_not_stable():
    # Five strictly rising samples cannot reach p < 0.01 yet: unproven, and never called stable.
    snap = seed()
    snap["samples"] = history(snap, "proc:java[3725]", [1000 * MIB + d * 200 * MIB for d in range(5)])
    diag = diagnosis.diagnose(snap, options={"process_share": 0.2, "unaccounted_share": 1.0})
    item = finding(diag, "process_leak")
    assert item["severity"] == "warning"
    assert any(line.startswith("growth unproven: no significant trend") for line in item["evidence"])


def test_series_last_seen_before_a_reboot_is_not_fitted():
    # A process that leaked until the restart and is gone now must not carry a growth and an ETA.
    snap = seed()
    samples = history(snap, "proc:leaky[77]", [100 * MIB * d for d in range(1, 9)])
    for sample in samples[:-1]:
        sample["boot"] = "boot-0"
    del samples[-1]["s"]["proc:leaky[77]"]
    snap["samples"] = samples
    diag = diagnosis.diagnose(snap, options={"unaccounted_share": 1.0})
    assert all("leaky" not in f["subject"]["name"] for f in diag["findings"])


def test_a_few_pages_of_pss_drift_is_still_stable():
    # Seen on a real host: PSS of an idle process rose by 1 and 6 KiB in the last two of six runs.
    snap = seed()
    values = [1800 * MIB] * 4 + [1800 * MIB + 1024, 1800 * MIB + 6144]
    snap["samples"] = history(snap, "proc:java[3725]", values)
    diag = diagnosis.diagnose(snap, options={"process_share": 0.2, "unaccounted_share": 1.0})
    item = finding(diag, "process_leak")
    assert item["severity"] == "info"
    assert "stable over the window: a large working set, not a leak" in item["evidence"]
