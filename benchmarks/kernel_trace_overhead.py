"""What the trace_seconds allocation trace costs: an allocation-heavy workload with and without it.

The workload opens and closes pipes with a page written into each (kmalloc, kmem_cache_alloc and a
page allocation per pipe, and their frees): the kind of code the kmem tracepoints slow down most.
It runs once without a trace (baseline), once while kernel_trace.run() traces, once without again;
the ratio to the mean baseline is the overhead on allocation-heavy code. bpftrace's own CPU time
(compile, attach, print) is printed too. Needs root and bpftrace; prints why when either is missing.

    sudo .venv/bin/python benchmarks/kernel_trace_overhead.py [--seconds 20]
"""

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

from _common import import_path

import_path()

from ansible_collections.memleak.remediation.plugins.module_utils import kernel_trace  # noqa: E402


def workload(seconds):
    """Pipes opened, written, closed per second over ``seconds`` seconds."""
    end = time.time() + seconds
    count = 0
    chunk = b"x" * 4096
    while time.time() < end:
        for dummy in range(200):
            r, w = os.pipe()
            os.write(w, chunk)
            os.close(r)
            os.close(w)
        count += 200
    return count / float(seconds)


def run_command(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("bpftrace"):
        print("kernel_trace_overhead: needs root and bpftrace; skipped")
        return 0
    base1 = workload(args.seconds)
    result = {}

    def trace():
        result["trace"], result["notes"] = kernel_trace.run(args.seconds + 8, run_command, shutil.which)

    thread = threading.Thread(target=trace)
    thread.start()
    time.sleep(6)  # bpftrace compiles and attaches
    traced = workload(args.seconds)
    thread.join()
    base2 = workload(args.seconds)
    baseline = (base1 + base2) / 2.0
    info = result.get("trace") or {}
    print("pipes/s without trace: %.0f and %.0f (mean %.0f)" % (base1, base2, baseline))
    print("pipes/s while tracing: %.0f -> %.2fx the baseline time per pipe" % (traced, baseline / traced))
    print("trace: %s events in %s s, bpftrace CPU %s s, notes %s" % (
        info.get("events"), info.get("seconds"), info.get("cpu_seconds"), result.get("notes")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
