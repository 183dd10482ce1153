"""Controller-side analysis: ledger + trend + diagnosis per host snapshot, against json.loads.

Hosts are built from the fleet of tests/fleet_fixture.py (real captures of tests/fixtures/meminfo
and tests/fixtures/windows, every verdict once), scaled up: each Windows snapshot carries 300 pool
tags, each Linux snapshot 300 processes, and every host 60 history samples of the current boot
(flat noisy series, slowly rising ones, a few leaking). Two cases:
  * defaults: the samples hold what the gather modules keep by default (top 20 tags for
    win_pool_facts, top 15 processes for meminfo_facts);
  * all 300: every sample holds all 300 tags / processes (the worst case: top: 300).
Each host is a JSON string as the controller receives it. The analysis is what the leak_diagnosis
filter runs on the parsed snapshot: the ledger (Linux) and the diagnosis with its trend fits. The
baseline is json.loads of the same string, timed separately for each host: Ansible parses a module's
result before any filter sees it, so it is a cost the analysis is compared with, not part of it.
CPU time of one process (one core); one host's snapshot in memory at a time.

Usage: python benchmarks/controller_analysis.py [--hosts N] [--stress-hosts N] [--profile]
"""

import argparse
import copy
import gc
import json
import random
import sys
import time

import _common

_common.import_path()

from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import linux as diagnosis  # noqa: E402
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import windows as windows_diagnosis  # noqa: E402
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger  # noqa: E402
import fleet_fixture  # noqa: E402

TAGS = 300
SAMPLES = 60
FLEET_HOSTS = 10000
TARGET_SECONDS = 10.0
TARGET_MIB = 2048.0
MIB = 1024 * 1024


def _stamp(hour):
    return "2026-11-%02dT%02d:00:00Z" % (1 + hour // 24, hour % 24)


def _shape(rng, base, index, count):
    """One series value: mostly flat with noise, some slowly rising, a few leaking."""
    kind = count % 20
    noise = rng.gauss(0, 0.01) * base
    if kind == 0:        # leaking: +1 % of the base per sample
        return int(base * (1 + 0.01 * index) + noise)
    if kind < 8:         # drifting up and down (ends above the start half the time)
        return int(base * (1 + 0.002 * ((index * (kind + 3)) % 17 - 8)) + noise)
    return int(base + noise)


def windows_host(snap, rng, in_samples):
    snap = copy.deepcopy(snap)
    win = snap["windows"]
    tags = list(win.get("tags") or [])
    for number in range(len(tags), TAGS):
        nonpaged = number % 3 != 0
        size = rng.randint(4, 4000) * 4096
        allocs = rng.randint(1000, 10 ** 7)
        tags.append({"tag": "T%03d" % number, "protected": False,
                     "paged_allocs": 0 if nonpaged else allocs, "paged_frees": 0 if nonpaged else allocs // 2,
                     "paged_bytes": 0 if nonpaged else size,
                     "nonpaged_allocs": allocs if nonpaged else 0, "nonpaged_frees": allocs // 2 if nonpaged else 0,
                     "nonpaged_bytes": size if nonpaged else 0, "description": None})
    tags.sort(key=lambda t: -(t["paged_bytes"] + t["nonpaged_bytes"]))
    win["tags"] = tags
    boot = snap.get("boot_id") or "2026-10-30T00:00:00Z"
    snap["boot_id"] = boot
    memory = snap.get("memory") or {}
    samples = []
    for index in range(SAMPLES):
        values = {}
        for name in ("available", "free", "used", "commit_used"):
            if isinstance(memory.get(name), int):
                values["mem." + name] = _shape(rng, memory[name], index, 9)
        for pool in ("paged", "nonpaged"):
            size = ((win.get("pools") or {}).get(pool) or {}).get("bytes")
            if isinstance(size, int):
                values["pool." + pool] = _shape(rng, size, index, 9)
        for count, tag in enumerate(tags[:in_samples]):
            for short, pool in (("p", "paged"), ("np", "nonpaged")):
                size, outstanding = tag[pool + "_bytes"], tag[pool + "_allocs"] - tag[pool + "_frees"]
                values["tag.%s:%s" % (short, tag["tag"])] = _shape(rng, size, index, count) if size else 0
                values["tag.%s_out:%s" % (short, tag["tag"])] = \
                    _shape(rng, outstanding, index, count) if outstanding else 0
        samples.append({"v": 1, "t": _stamp(index), "boot": boot, "s": values})
    snap["samples"] = samples
    snap["collected_at"] = samples[-1]["t"]
    return snap


def linux_host(snap, rng, in_samples):
    snap = copy.deepcopy(snap)
    linux = snap["linux"]
    procs = list(linux.get("processes") or [])
    for number in range(len(procs), TAGS):
        rss = rng.randint(1, 40000) * 4096
        procs.append({"pid": 10000 + number, "name": "worker%d" % number, "rss": rss, "pss": rss // 2,
                      "anon": rss // 3, "swap": 0})
    procs.sort(key=lambda p: -(p["pss"] if p.get("pss") is not None else p["rss"]))
    linux["processes"] = procs
    boot = snap.get("boot_id") or "0b0b0b0b-0000-4000-8000-000000000000"
    snap["boot_id"] = boot
    ledger = memory_ledger(snap)
    memory = snap.get("memory") or {}
    samples = []
    for index in range(SAMPLES):
        values = {}
        for name in ("available", "free", "used"):
            if isinstance(memory.get(name), int):
                values["mem." + name] = _shape(rng, memory[name], index, 9)
        for entry in ledger:
            values["ledger." + entry["category"]] = _shape(rng, entry["bytes"], index, 9) if entry["bytes"] else 0
        for cache in (linux.get("slab") or [])[:15]:
            values["slab:" + cache["name"]] = _shape(rng, cache["bytes"], index, 9)
        for count, proc in enumerate(procs[:in_samples]):
            size = proc["pss"] if proc.get("pss") is not None else proc["rss"]
            # processes only drift here: a leaking one would be the verdict of every host
            values["proc:%s[%s]" % (proc["name"], proc["pid"])] = _shape(rng, size, index, 1 + count % 19)
        samples.append({"v": 1, "t": _stamp(index), "boot": boot, "s": values})
    snap["samples"] = samples
    snap["collected_at"] = samples[-1]["t"]
    return snap


def build(hosts, in_windows, in_linux, seed):
    rng = random.Random(seed)
    base = [snap for snap, dummy_diagnosis, dummy_verdict in fleet_fixture.fleet(len(fleet_fixture.RECIPES))]
    texts = []
    for number in range(hosts):
        snap = base[number % len(base)]
        if snap["os"]["family"] == "windows":
            host = windows_host(snap, rng, in_windows)
        else:
            host = linux_host(snap, rng, in_linux)
        host["host"] = "%s-%05d" % (host["host"], number)
        texts.append(json.dumps(host))
    return texts


def analyse(snap):
    """What the leak_diagnosis filter runs for one host (the ledger included for Linux)."""
    if snap["os"]["family"] == "windows":
        return windows_diagnosis.diagnose_windows(snap)
    return diagnosis.diagnose(snap, ledger=memory_ledger(snap))


def run_case(label, texts):
    """Time json.loads and the analysis of each host separately, one host in memory at a time."""
    gc.collect()
    size = sum(len(t) for t in texts)
    rss_before = _common.peak_rss_mib()
    loads = took = 0.0
    verdicts = {}
    for text in texts:
        start = time.process_time()
        snap = json.loads(text)
        middle = time.process_time()
        result = analyse(snap)
        end = time.process_time()
        loads += middle - start
        took += end - middle
        verdicts[result["verdict"]["id"]] = verdicts.get(result["verdict"]["id"], 0) + 1
    rss_after = _common.peak_rss_mib()
    n = len(texts)
    return {
        "case": label, "hosts": n, "mib_json": size / float(MIB), "seconds": took, "hosts_per_s": n / took,
        "fleet_s": took / n * FLEET_HOSTS, "baseline_fleet_s": loads / n * FLEET_HOSTS,
        "ratio": took / loads if loads else float("inf"),
        "peak_rss_mib": rss_after, "analysis_rss_growth_mib": rss_after - rss_before,
        "fleet_json_gib": size / float(n) * FLEET_HOSTS / (1024.0 * MIB), "verdicts": verdicts,
    }


def report(results):
    rows = []
    for r in results:
        rows.append((r["case"], r["hosts"], "%.1f" % (r["mib_json"] / r["hosts"] * 1024), "%.0f" % r["hosts_per_s"],
                     "%.1f s" % r["fleet_s"], "%.1f s" % r["baseline_fleet_s"], "%.1fx" % r["ratio"],
                     "%.1f s" % (r["fleet_s"] + r["baseline_fleet_s"]), "%.0f MiB" % r["peak_rss_mib"],
                     "met" if r["fleet_s"] < TARGET_SECONDS and r["peak_rss_mib"] < TARGET_MIB else "MISSED"))
    text = _common.table(("case", "hosts measured", "KiB JSON/host", "hosts/s (1 core)", "analysis, 10,000 hosts",
                          "json.loads, 10,000 hosts", "analysis / json.loads", "both, 10,000 hosts", "peak RSS",
                          "target < 10 s, < 2 GB"), rows)
    lines = [text, ""]
    for r in results:
        lines.append("%s: verdicts %s; analysis peak RSS growth %.0f MiB (one host at a time: "
                     "memory does not grow with the fleet)"
                     % (r["case"], ", ".join("%s %d" % kv for kv in sorted(r["verdicts"].items())),
                        r["analysis_rss_growth_mib"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=520, help="hosts measured in the defaults case")
    parser.add_argument("--stress-hosts", type=int, default=130, help="hosts measured in the all-300 case")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--profile", action="store_true", help="cProfile the defaults case instead")
    args = parser.parse_args()
    print("controller analysis: %d tags/processes per snapshot, %d history samples per host, "
          "extrapolated to %d hosts" % (TAGS, SAMPLES, FLEET_HOSTS))
    if args.profile:
        import cProfile
        import pstats
        texts = build(args.hosts, 20, 15, args.seed)
        snaps = [json.loads(t) for t in texts]
        cProfile.runctx("[analyse(s) for s in snaps]", globals(), {"snaps": snaps, "analyse": analyse}, "/tmp/ca.prof")
        pstats.Stats("/tmp/ca.prof").sort_stats("cumulative").print_stats(25)
        return 0
    results = [run_case("defaults (top 20 tags / 15 processes in samples)", build(args.hosts, 20, 15, args.seed))]
    results.append(run_case("all 300 tags / processes in every sample", build(args.stress_hosts, TAGS, TAGS, args.seed)))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
