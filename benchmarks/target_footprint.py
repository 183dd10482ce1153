"""Target footprint: what meminfo_facts' collection costs a host, against `ps -eo pid,rss,comm`.

Starts --procs extra processes (`sleep`, killed at the end) so the host has ~1,000 processes, then
runs, --runs times each and alternately:
  * the collection of meminfo_facts (linux_collect.collect() + the ledger and compact history
    sample the module adds) in a fresh Python process, as the module runs on a target;
  * the baseline `ps -eo pid,rss,comm`, the cheapest look at every process users know.
Each child's peak RSS and CPU time (user + system) come from GNU time (/usr/bin/time, else os.wait4()). The Python child also
reports the CPU time of the collection alone (time.process_time() around it), without the
interpreter's start. Ansible's module wrapper (AnsiballZ) is not included.
Target (issue "Performance and scale"): < 40 MB and < 0.3 s CPU with 1,000 processes.

Then the history file after a year of 6-hourly runs: 1460 compact samples of this host appended
through history.append() in a temporary directory (the module's own code path and bounds).

Usage: python benchmarks/target_footprint.py [--procs 1000] [--runs 5]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _common

_common.import_path()

from ansible_collections.memleak.remediation.plugins.module_utils import history  # noqa: E402
from ansible_collections.memleak.remediation.plugins.module_utils import series  # noqa: E402
from ansible_collections.memleak.remediation.plugins.plugin_utils.diagnosis import trend  # noqa: E402
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger  # noqa: E402
from ansible_collections.memleak.remediation.plugins.module_utils.linux_collect import collect  # noqa: E402

TARGET_MIB = 40.0
TARGET_CPU = 0.3
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, %r)
start = time.process_time()
from ansible_collections.memleak.remediation.plugins.module_utils.linux_collect import collect
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
from ansible_collections.memleak.remediation.plugins.module_utils.series import compact_sample
imported = time.process_time()
snap = collect(top=15)
sample = compact_sample(snap, memory_ledger(snap), 15)
done = time.process_time()
print(json.dumps({"import_cpu": imported - start, "collect_cpu": done - imported,
                  "processes": len(snap["linux"]["processes"]), "warnings": len(snap["warnings"])}))
"""


def _child(argv):
    """(stdout, peak RSS MiB, CPU seconds) of one child process.

    Run under GNU time when it is installed: a child forked straight from this (larger) process
    would report this process's size as its peak (Linux carries the pre-exec high-water mark).
    """
    gnu_time = "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        wrapped = [gnu_time, "-o", report.name, "-f", "%M %U %S"] + argv if os.path.exists(gnu_time) else argv
        proc = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = proc.stdout.read()
        proc.stdout.close()
        dummy_pid, status, usage = os.wait4(proc.pid, 0)
        if status:
            raise RuntimeError("%s failed (status %s)" % (argv[0], status))
        if wrapped is argv:
            return out, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime
        kib, user, system = report.read().split()[-3:]
        return out, int(kib) / 1024.0, float(user) + float(system)


def count_processes():
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def measure(procs, runs):
    sleepers = []
    try:
        for dummy in range(procs):
            sleepers.append(subprocess.Popen(["sleep", "900"], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        total = count_processes()
        ours, base = [], []
        code = CHILD % _common.COLLECTIONS
        for dummy in range(runs):
            out, rss, cpu = _child([sys.executable, "-c", code])
            info = json.loads(out)
            ours.append((rss, cpu, info["collect_cpu"], info["processes"]))
            out, rss, cpu = _child(["ps", "-eo", "pid,rss,comm"])
            base.append((rss, cpu, len(out.splitlines()) - 1))
        return total, ours, base
    finally:
        for proc in sleepers:
            proc.kill()
        for proc in sleepers:
            proc.wait()


def history_year(samples=1460):
    """Size of the history file after ``samples`` 6-hourly runs on this host."""
    snap = collect(top=15)
    ledger = memory_ledger(snap)
    base = series.compact_sample(snap, ledger, 15)
    start_hours = trend.to_hours(snap["collected_at"]) - 6 * samples
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "history.jsonl")
        started = time.perf_counter()
        for index in range(samples):
            sample = json.loads(json.dumps(base))
            hours = start_hours + 6 * index
            sample["t"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(hours * 3600))
            for name in sample["s"]:
                sample["s"][name] += index * 4096  # values change as they do between runs
            history.append(path, sample, trend.to_hours)
        took = time.perf_counter() - started
        size = os.path.getsize(path)
        kept = len(history.read(path)[0])
    return {"samples": samples, "kept": kept, "bytes": size, "per_sample": size / float(kept),
            "series": len(base["s"]), "last_append_s": took / samples}


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def run(procs, runs):
    total, ours, base = measure(procs, runs)
    rss, cpu = _median([o[0] for o in ours]), _median([o[1] for o in ours])
    collect_cpu = _median([o[2] for o in ours])
    b_rss, b_cpu = _median([b[0] for b in base]), _median([b[1] for b in base])
    rows = [
        ("meminfo_facts collection (python child)", "%d (top %d kept)" % (total, ours[0][3]), "%.1f MiB" % rss, "%.3f s" % cpu,
         "%.3f s" % collect_cpu, "met" if rss < TARGET_MIB and cpu < TARGET_CPU else "MISSED"),
        ("baseline: ps -eo pid,rss,comm", base[0][2], "%.1f MiB" % b_rss, "%.3f s" % b_cpu, "-", "-"),
        ("ratio collection / ps", "", "%.1fx" % (rss / b_rss), "%.1fx" % (cpu / b_cpu if b_cpu else float("inf")),
         "", ""),
    ]
    text = ("processes on the host during the runs: %d (%d sleep processes started); median of %d runs\n"
            % (total, procs, runs))
    text += _common.table(("what", "processes", "peak RSS", "CPU (user+sys, whole process)",
                           "CPU of the collection alone", "target < 40 MB, < 0.3 s"), rows)
    year = history_year()
    text += ("\n\nhistory after a year of 6-hourly runs: %d samples appended, %d kept, file %.0f KiB "
             "(%.0f bytes per sample of %d series; bound: %d samples, %d days); %.1f ms per append at the end"
             % (year["samples"], year["kept"], year["bytes"] / 1024.0, year["per_sample"], year["series"],
                history.MAX_SAMPLES, history.MAX_AGE_HOURS // 24, 1000 * year["last_append_s"]))
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("target footprint")
    print(run(args.procs, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
