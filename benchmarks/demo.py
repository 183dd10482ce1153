"""`make demo` as a new user meets it: wall time, what it installs, what it prints.

Runs `make demo` three times with the demo's own virtualenv in a scratch directory:
1. a fresh virtualenv (fills pip's cache if it is cold; reported, not judged);
2. a fresh virtualenv again: the figure the README promises, "on a warm pip cache";
3. the virtualenv kept: a repeated `make demo`.
For each: wall time, CPU time of everything make started (the figure a busy machine does not
stretch), and the lines printed (judged: one line per host, the report path, no
warning). Then the packages and megabytes of the demo virtualenv against the test toolchain's
(the project's .venv, what `make test` installs): the baseline measured in the same run.
"""

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET_SECONDS = 30.0


def _size_mib(path):
    total = 0
    for base, dummy, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_size
            except OSError:
                pass
    return total / 1048576.0


def _packages(site_packages):
    """name==version of every distribution installed in a site-packages directory (its .dist-info folders)."""
    found = []
    for name in sorted(os.listdir(site_packages)):
        if name.endswith(".dist-info"):
            found.append(name[:-len(".dist-info")].replace("-", "==", 1))
    return found


def _site_packages(venv):
    found = [os.path.join(base, "site-packages") for base, dirs, dummy in os.walk(os.path.join(venv, "lib"))
             if "site-packages" in dirs]
    return found[0] if found else venv


def run_demo(venv, report):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(["make", "--no-print-directory", "demo", "DEMO_VENV=%s" % venv, "REPORT_DIR=%s" % report],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.time() - start, cpu, proc.returncode, proc.stdout


def judge(rc, output):
    lines = [line for line in output.splitlines() if line.strip()]
    problems = []
    if rc != 0:
        problems.append("make demo failed (rc=%d)" % rc)
    if [line for line in lines if re.search(r"warning", line, re.IGNORECASE)]:
        problems.append("a warning was printed")
    hosts = [line for line in lines if re.match(r"^\S+: [a-z_]+ \[(ok|info|warning|critical)\] \| ", line)]
    if len(hosts) != 1:
        problems.append("%d host lines, expected 1" % len(hosts))
    if not lines or not lines[-1].startswith("Report: ") or not lines[-1].endswith("/index.html"):
        problems.append("the last line is not the report path")
    if len(lines) != len(hosts) + 1:
        problems.append("%d lines printed, expected %d" % (len(lines), len(hosts) + 1))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="memleak-demo-bench-", dir=os.path.join(ROOT, ".tmp"))
    rows = []
    failed = False
    try:
        venv = os.path.join(scratch, "venv")
        report = os.path.join(scratch, "report")
        output = ""
        for label, fresh in (("fresh venv (fills a cold pip cache)", True), ("fresh venv, warm pip cache", True),
                             ("venv kept (repeated make demo)", False)):
            if fresh:
                shutil.rmtree(venv, ignore_errors=True)
            seconds, cpu, rc, output = run_demo(venv, report)
            problems = judge(rc, output)
            judged = label.startswith("fresh venv, warm")
            if judged and seconds >= TARGET_SECONDS:
                problems.append("%.1f s >= %.0f s" % (seconds, TARGET_SECONDS))
            failed = failed or (bool(problems) and (judged or rc != 0))
            rows.append((label, seconds, cpu, len(output.strip().splitlines()), "; ".join(problems) or "ok"))
        demo_packages = _packages(_site_packages(venv))
        demo_mib = _size_mib(_site_packages(venv))
        test_venv = os.path.realpath(os.path.join(ROOT, ".venv"))
        test_packages = _packages(_site_packages(test_venv)) if os.path.isdir(test_venv) else []
        test_mib = _size_mib(_site_packages(test_venv)) if test_packages else 0.0
        print("make demo (target: < %.0f s on a warm pip cache; one line per host and the report path; no warning)"
              % TARGET_SECONDS)
        print("load average at the end: %.1f on %d CPUs (wall time stretches with it; CPU time does not)"
              % (os.getloadavg()[0], os.cpu_count() or 1))
        print("| run | wall time | CPU time (user+sys) | lines printed | verdict |")
        print("|---|---:|---:|---:|---|")
        for label, seconds, cpu, count, verdict in rows:
            print("| %s | %.1f s | %.1f s | %d | %s |" % (label, seconds, cpu, count, verdict))
        print()
        print("| virtualenv | packages | site-packages |")
        print("|---|---:|---:|")
        print("| demo (requirements.txt) | %d | %.0f MiB |" % (len(demo_packages), demo_mib))
        if test_packages:
            print("| tests (tests/requirements.txt, baseline) | %d | %.0f MiB |" % (len(test_packages), test_mib))
            ratios = (len(demo_packages) / float(len(test_packages)), demo_mib / test_mib if test_mib else 0.0)
            print("| ratio demo / tests | %.2f | %.2f |" % ratios)
        tools = [p for p in demo_packages if p.split("==")[0].lower() in ("pytest", "ansible-lint", "selenium", "sphinx")]
        if tools:
            print("test tools in the demo virtualenv: %s" % ", ".join(tools))
            failed = True
        print()
        print("What the last run printed:")
        print(output.rstrip())
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
