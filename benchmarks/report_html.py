"""HTML report for a fleet: render time and file size, against json.dumps of the same data.

The fleet comes from tests/fleet_fixture.py (real captures, every verdict, histories of varied
length), --hosts of them. Timed: report_html.render_index(diagnoses, snapshots), the code behind
the fleet_html filter the diagnose playbook writes index.html with. The baseline is
json.dumps(indent=2) of the same diagnoses and snapshots (what `to_nice_json` of the facts would
write): the cost of writing the data down at all. Best of 3.
Target (issue "Performance and scale"): 1,000 hosts in < 5 s, file < 4 MB.

Usage: python benchmarks/report_html.py [--hosts 1000]
"""

import argparse
import json
import sys

import _common

_common.import_path()

from ansible_collections.memleak.remediation.plugins.plugin_utils.report.html import render_index  # noqa: E402
import fleet_fixture  # noqa: E402

TARGET_SECONDS = 5.0
TARGET_MB = 4.0


def run(hosts):
    fleet = fleet_fixture.fleet(hosts)
    snapshots = [snap for snap, dummy_diag, dummy_verdict in fleet]
    diagnoses = [diag for dummy_snap, diag, dummy_verdict in fleet]
    stamp = "2026-11-23T12:00:00Z"
    took, html = _common.best_of(lambda: render_index(diagnoses, snapshots, generated_at=stamp))
    base, text = _common.best_of(lambda: json.dumps({"diagnoses": diagnoses, "snapshots": snapshots}, indent=2))
    size = len(html.encode("utf-8")) / 1e6
    json_size = len(text.encode("utf-8")) / 1e6
    rows = [
        ("render_index (index.html)", hosts, "%.2f s" % took, "%.2f MB" % size,
         "met" if took < TARGET_SECONDS and size < TARGET_MB else "MISSED"),
        ("baseline: json.dumps(indent=2)", hosts, "%.2f s" % base, "%.2f MB" % json_size, "-"),
        ("ratio HTML / JSON", "", "%.1fx" % (took / base), "%.2fx" % (size / json_size), ""),
    ]
    return _common.table(("what", "hosts", "time", "size", "target < 5 s, < 4 MB"), rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    args = parser.parse_args()
    print("HTML report, best of 3")
    print(run(args.hosts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
