"""Shared helpers of the benchmarks: import path, timing, peak memory, machine description."""

import gc
import os
import platform
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")


def import_path():
    """Make ``ansible_collections.memleak.remediation`` and ``tests/`` importable."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "memleak")
    if not os.path.exists(os.path.join(link, "remediation")):
        os.makedirs(link, exist_ok=True)
        os.symlink(ROOT, os.path.join(link, "remediation"))
    for path in (COLLECTIONS, os.path.join(ROOT, "tests")):
        if path not in sys.path:
            sys.path.insert(0, path)


def peak_rss_mib():
    """Peak resident set of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def best_of(func, repeat=3):
    """Smallest wall time of ``repeat`` calls of func() (seconds) and the last result.

    The cyclic garbage collector is off while timing, as timeit does: building millions of small
    objects otherwise triggers full collections whose cost depends on everything else alive.
    """
    best, result = None, None
    for dummy in range(repeat):
        result = None
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = func()
            took = time.perf_counter() - start
        finally:
            gc.enable()
        best = took if best is None or took < best else best
    return best, result


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as handle:
            mem = "%.1f GiB RAM" % (int(handle.readline().split()[1]) / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %d CPU(s), %s, %s %s, Python %s" % (
        cpu, os.cpu_count() or 0, mem, platform.system(), platform.release(), platform.python_version())


def table(headers, rows):
    """A Markdown table as text."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)
