# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make eval`: the analyze playbook over every real capture of the corpus, scored against expected.yml.

Every capture folder of ``tests/fixtures/captures/corpus/`` and ``sets/`` is copied into one folder of
captures, ``ansible-playbook memleak.remediation.analyze`` runs once over it as a user runs it, and each
capture's JSON report is compared with ``tests/fixtures/captures/expected.yml``: the verdict id (one id,
or a list of ids that are equally right) and, when the table names one, the culprit. Prints ``N/M
correct``, a confusion table by verdict and every miss with what was expected; exits 1 below the pass
mark (95 % unless ``--min`` says otherwise) or when a capture of the table has no report.

Usage: run_eval.py [--min 0.95] [--keep DIR] [--only NAME ...]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAPTURES = os.path.join(ROOT, "tests", "fixtures", "captures")
FOLDERS = ("corpus", "sets")
EXPECTED = os.path.join(CAPTURES, "expected.yml")
PLAYBOOK_BIN = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")


def load_expected(path=EXPECTED):
    """{capture: {"verdicts": [ids], "culprit": name|None}} from the table; a malformed row is an error."""
    with open(path, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    out = {}
    for name, row in sorted((table or {}).get("captures", {}).items()):
        if not isinstance(row, dict) or "verdict" not in row:
            raise SystemExit("%s: capture %s has no 'verdict'" % (path, name))
        verdicts = row["verdict"] if isinstance(row["verdict"], list) else [row["verdict"]]
        out[name] = {"verdicts": [str(v) for v in verdicts], "culprit": row.get("culprit")}
    return out


def capture_folders():
    """{name: path} of every capture folder of the corpus."""
    found = {}
    for folder in FOLDERS:
        base = os.path.join(CAPTURES, folder)
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            if os.path.isdir(os.path.join(base, name)):
                found[name] = os.path.join(base, name)
    return found


def run_playbook(capture_dir, report_dir, work):
    """One analyze run over the folder of captures; its output is returned for the failure message."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update({"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_LOCAL_TEMP": os.path.join(work, "ansible-local"),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "False",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False"})
    proc = subprocess.run([PLAYBOOK_BIN, "memleak.remediation.analyze", "-e", "memleak_capture_dir=%s" % capture_dir,
                           "-e", "memleak_report_dir=%s" % report_dir], cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout


def outcome(report_dir, name):
    """(verdict id, culprit name, error) of one capture's report; a missing report is an error."""
    path = os.path.join(report_dir, name + ".json")
    if not os.path.isfile(path):
        return None, None, None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    diagnosis = data.get("memleak_diagnosis") or {}
    verdict = (diagnosis.get("verdict") or {}).get("id")
    culprit = (diagnosis.get("culprit") or {}).get("name")
    error = (data.get("memleak_capture") or {}).get("error")
    return verdict, culprit, error


def not_analysed(output):
    """{capture: reason} from the playbook's "NAME: NOT ANALYSED: reason" lines (it exits 2 when any)."""
    found = {}
    for match in re.finditer(r'"([^":]+): NOT ANALYSED: (.*?)",?$', output, re.M):
        found[match.group(1)] = match.group(2)
    return found


def score(expected, results):
    """[(name, ok, why)] for every capture of the table."""
    rows = []
    for name, want in sorted(expected.items()):
        verdict, culprit, error = results.get(name, (None, None, "not in the corpus"))
        if verdict is None:
            rows.append((name, False, "no verdict (%s)" % (error or "capture not read")))
            continue
        if verdict not in want["verdicts"]:
            rows.append((name, False, "verdict %s, expected %s" % (verdict, " or ".join(want["verdicts"]))))
            continue
        if want["culprit"] and (culprit or "").lower() != str(want["culprit"]).lower():
            rows.append((name, False, "culprit %s, expected %s" % (culprit, want["culprit"])))
            continue
        rows.append((name, True, ""))
    return rows


def confusion(expected, results):
    """Text table: expected verdict (first of its list) by verdict given."""
    pairs = []
    for name, want in expected.items():
        got = results.get(name, (None,))[0] or "(none)"
        pairs.append((got if got in want["verdicts"] else want["verdicts"][0], got))
    rows = sorted(set(p[0] for p in pairs))
    cols = sorted(set(p[1] for p in pairs))
    width = max([len(c) for c in cols + rows + ["expected \\ given"]])
    lines = ["%-*s %s" % (width, "expected \\ given", " ".join("%*s" % (max(len(c), 3), c) for c in cols))]
    for row in rows:
        counts = [sum(1 for p in pairs if p == (row, col)) for col in cols]
        lines.append("%-*s %s" % (width, row, " ".join("%*s" % (max(len(c), 3), n or ".") for c, n in zip(cols, counts))))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=0.95, help="pass mark, a fraction (default 0.95)")
    parser.add_argument("--keep", help="write the reports here and keep them")
    parser.add_argument("--only", nargs="*", help="score only these captures")
    args = parser.parse_args(argv)
    expected = load_expected()
    folders = capture_folders()
    if args.only:
        expected = dict((k, v) for k, v in expected.items() if k in args.only)
    unlisted = sorted(set(folders) - set(load_expected()))
    if not os.access(PLAYBOOK_BIN, os.X_OK):
        print("%s is missing: run `make venv collections` first" % PLAYBOOK_BIN)
        return 2
    work = tempfile.mkdtemp(prefix="memleak-eval-")
    try:
        capture_dir = os.path.join(work, "captures")
        os.makedirs(capture_dir)
        for name in expected:
            if name in folders:
                shutil.copytree(folders[name], os.path.join(capture_dir, name))
        report_dir = args.keep or os.path.join(work, "reports")
        rc, output = run_playbook(capture_dir, report_dir, work)
        if "Traceback" in output or not os.path.isfile(os.path.join(report_dir, "summary.md")):
            print(output)
            print("the analyze playbook failed (rc=%s) without writing its summary" % rc)
            return 1
        refused = not_analysed(output)
        results = {}
        for name in expected:
            verdict, culprit, error = outcome(report_dir, name)
            results[name] = (verdict, culprit, error or refused.get(name) or "no report written")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = score(expected, results)
    correct = sum(1 for r in rows if r[1])
    total = len(rows)
    print(confusion(expected, results))
    print("")
    for name, ok, why in rows:
        if not ok:
            print("MISS %-45s %s" % (name, why))
    if unlisted:
        print("captures with no row in expected.yml (not scored): %s" % ", ".join(unlisted))
    rate = float(correct) / total if total else 0.0
    print("%d/%d correct (%.0f %%, pass mark %.0f %%)" % (correct, total, rate * 100, args.min * 100))
    return 0 if total and rate >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
