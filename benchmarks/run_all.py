"""Run every benchmark (each in its own process), print the tables, write benchmarks/results.md.

Usage: python benchmarks/run_all.py [--quick] [--only SCRIPT,...]   (`make bench` runs it without options)
--quick measures fewer hosts and smaller inputs: for trying a change, not for results.md figures.
--only runs the named scripts and replaces their sections in results.md, keeping the others (each
section says when it was measured).
"""

import argparse
import ast
import datetime
import os
import subprocess
import sys
import time

import _common

BENCHES = (
    ("Controller-side analysis (ledger + trend + diagnosis)", "controller_analysis.py", [],
     ["--hosts", "104", "--stress-hosts", "26"]),
    ("Parsers", "parsers.py", [], ["--mb", "5"]),
    ("Driver image scan of win_pool_facts (Mono)", "driver_scan.py", [], ["--mb", "16"]),
    ("Target footprint of meminfo_facts and its history file", "target_footprint.py", [], ["--runs", "2"]),
    ("HTML report", "report_html.py", [], ["--hosts", "200"]),
    ("Leak detection quality of the trend engine", "trend_detection.py", [], ["--trials", "300"]),
    # The "before" side: the collection before the diagnose_host action (benchmarks/NOTES.md, "Fleet cost").
    ("Per-host cost over SSH: diagnose against ansible -m setup", "ssh_cost.py",
     ["--hosts", "4", "--runs", "3", "--compare-rev", "04895b2=before"], ["--hosts", "2", "--runs", "1"]),
    ("Fleet summary at 1, 50 and 1,000 hosts", "fleet_summary.py", ["--sizes", "1,50,1000", "--runs", "3"],
     ["--sizes", "1,10,50", "--runs", "1"]),
    ("Fleet throughput from one controller", "fleet_throughput.py", ["--hosts", "50", "--forks", "10,25,50"],
     ["--hosts", "6", "--forks", "3,6", "--variant-hosts", "3", "--variant-forks", "3"]),
)


def section(title, script, argv, took, stdout, when):
    """The results.md section of one benchmark run: command, tables, other lines, the script's method."""
    doc = ast.get_docstring(ast.parse(open(os.path.join(_common.HERE, script)).read())) or ""
    return "## %s\n\n`python benchmarks/%s %s` (%.0f s, %s)\n\n%s\n\n%s\n\n### Method\n\n%s\n" % (
        title, script, " ".join(argv), took, when.strftime("%Y-%m-%d %H:%M UTC"),
        "\n".join(line for line in stdout.splitlines() if line.startswith("|")),
        "\n".join(line for line in stdout.splitlines() if line and not line.startswith("|")),
        doc.strip())


def _sections(path):
    """{title: section text} of an existing results.md, for the benchmarks of BENCHES."""
    titles = set(bench[0] for bench in BENCHES)
    found, current = {}, None
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("## ") and line[3:].strip() in titles:
                    current = line[3:].strip()
                    found[current] = line
                elif line.startswith("## "):
                    current = None
                elif current:
                    found[current] += line
    except OSError:
        pass
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=os.path.join(_common.HERE, "results.md"))
    parser.add_argument("--only", default="", help="comma-separated scripts to run; the other sections are kept")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    sections = []
    failed = []
    only = set(name.strip() for name in args.only.split(",") if name.strip())
    unknown = only - set(bench[1] for bench in BENCHES)
    if unknown:
        parser.error("--only: no benchmark %s" % ", ".join(sorted(unknown)))
    old_sections = _sections(args.output) if only else {}
    for title, script, full, quick in BENCHES:
        if only and script not in only:
            if title in old_sections:
                sections.append(old_sections[title])
            continue
        argv = [sys.executable, os.path.join(_common.HERE, script)] + (quick if args.quick else full)
        print("== %s (%s)" % (title, " ".join([script] + (quick if args.quick else full))), flush=True)
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              cwd=_common.ROOT, check=False)
        took = time.perf_counter() - start
        print(proc.stdout, flush=True)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            failed.append(script)
        sections.append(section(title, script, quick if args.quick else full, took, proc.stdout, started))
    header = ("# Benchmark results\n\nWritten by `make bench` (benchmarks/run_all.py%s). Figures of one run on one "
              "machine: compare ratios, not absolute times, between machines.\n\n- Date: %s\n- Machine: %s\n"
              "- Every baseline is measured in the same run as the figure it is compared with.\n"
              % (" --quick: reduced sizes" if args.quick else "",
                 started.strftime("%Y-%m-%d %H:%M UTC") + (" (%s re-run then; the other sections are from an earlier run)"
                                                           % ", ".join(sorted(only)) if only else ""),
                 _common.machine()))
    extra = ""
    notes = os.path.join(_common.HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as handle:
            extra = handle.read().strip() + "\n\n"
    with open(args.output, "w") as handle:
        handle.write(header + "\n" + extra + "\n".join(sections))
    print("wrote %s" % os.path.relpath(args.output, _common.ROOT))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
