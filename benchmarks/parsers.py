"""Parser throughput (MB/s) on ~50 MB inputs made by repeating real fixtures, against split().

Each input repeats one real capture until it is about --mb megabytes (a format whose header
must come once, /proc/slabinfo, repeats its rows under one header; poolmon logs and !poolused
output repeat whole, as a log of several refreshes or a debugger session does). The baseline
is the least any line parser does: ``[line.split() for line in text.splitlines()]`` of the
same text. Target (issue "Performance and scale"): >= 20 MB/s for each parser. Best of 3, with the
garbage collector off while timing (as timeit does).

Usage: python benchmarks/parsers.py [--mb 50]
"""

import argparse
import gc
import os
import sys

import _common

_common.import_path()

from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers  # noqa: E402
from ansible_collections.memleak.remediation.plugins.plugin_utils.captures import windows_parsers  # noqa: E402

FIX = os.path.join(_common.ROOT, "tests", "fixtures")
TARGET_MBS = 20.0
INPUTS = (
    ("meminfo", os.path.join(FIX, "meminfo", "centos7.4-3.10.0-693.el7-vmware.meminfo"),
     linux_parsers.parse_meminfo, 0),
    ("slabinfo", os.path.join(FIX, "proc", "debian12-firecracker-6.18", "proc", "slabinfo"),
     linux_parsers.parse_slabinfo, 2),
    ("poolmon log (/n snapshot)", os.path.join(FIX, "captures", "samples", "poolmon", "snapshot-n-intel-mfd.log"),
     windows_parsers.parse_poolmon, 0),
    ("poolmon screen copy", os.path.join(FIX, "captures", "samples", "poolmon", "screen-msdocs-drsd-before.txt"),
     windows_parsers.parse_poolmon, 0),
    ("!poolused", os.path.join(FIX, "captures", "samples", "windbg", "poolused-msdocs-sort-tag.txt"),
     windows_parsers.parse_poolused, 0),
)


def make_input(path, header_lines, megabytes):
    with open(path) as handle:
        text = handle.read()
    lines = text.splitlines(True)
    head, body = "".join(lines[:header_lines]), "".join(lines[header_lines:])
    if not body.endswith("\n"):
        body += "\n"
    return head + body * max(1, int(megabytes * 1e6 // len(body)))


def baseline(text):
    return [line.split() for line in text.splitlines()]


def run(megabytes):
    rows = []
    results = []
    for name, path, parser, header_lines in INPUTS:
        text = make_input(path, header_lines, megabytes)
        size = len(text.encode("utf-8")) / 1e6
        gc.collect()
        took, dummy = _common.best_of(lambda: parser(text, path))
        gc.collect()
        base, dummy = _common.best_of(lambda: baseline(text))
        mbs, base_mbs = size / took, size / base
        results.append((name, mbs))
        rows.append((name, os.path.relpath(path, _common.ROOT), "%.1f" % size, "%.1f" % mbs, "%.1f" % base_mbs,
                     "%.1fx" % (took / base), "met" if mbs >= TARGET_MBS else "MISSED"))
        del text
        gc.collect()
    return _common.table(("parser", "real fixture repeated", "MB", "parser MB/s", "split() MB/s",
                          "parser / split() time", "target >= 20 MB/s"), rows), results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    args = parser.parse_args()
    print("parsers: %.0f MB inputs, best of 3, gc off while timing" % args.mb)
    print(run(args.mb)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
