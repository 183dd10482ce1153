"""Per-host cost of diagnosis over SSH, against `ansible -m setup` on the same hosts in the same run.

Hosts: --hosts loopback SSH hosts, each an address of its own (127.0.0.2, ...) served by a real sshd
(benchmarks/_loopback.py, built on tests/integration/integration_harness.py), logins as root. Every run
has pipelining on and ControlPersist on (Ansible's default ssh_args, `-C -o ControlMaster=auto -o
ControlPersist=60s`), forks 1 (each host measured without others competing for the CPUs), and starts
with no ControlPersist master open, as a scheduled run does; the "warm" rows start with the masters of
the previous run still open. Cases, in a rotated order each of --runs rounds (medians printed):
  * baseline: `ansible all -m setup`, Ansible's default fact gathering (all subsets);
  * gather: `ansible all -m memleak.remediation.meminfo_facts -a history=false`, the part of the
    diagnosis that replaces fact gathering (nothing written on the host);
  * diagnose: `ansible-playbook memleak.remediation.diagnose -e memleak_history=false`: the gather,
    the diagnosis and each host's JSON report (the diagnose_host action: the module on the host, the rest
    in the worker) and the fleet summary (summary.md, summary.json, index.html);
  * remediate: `ansible-playbook memleak.remediation.remediate` on the same hosts, a run where no step
    is due (the hosts are healthy; the ledger, in the run's directory, is empty);
  * with --compare / --compare-rev, both playbooks again from another copy of the collection (the
    version before a change), in the same rounds.
Figures per host:
  * wall / host: the run's wall time divided by the hosts (Ansible's own start, about 2 s, shared);
  * task / host: per host, from the worker's start to its result in the controller's main process
    (a small aggregate callback; Ansible's profile_tasks is not in ansible-core), summed over the
    host's tasks; the diagnose run also has the summary play's tasks (on localhost) shared over the hosts;
  * CPU (user + system): controller = ansible process, its workers, the modules it runs on localhost,
    the ssh clients and ControlPersist masters; target = everything under the sshd listeners, of
    which "module" is the module process (GNU time around the target's python3, AnsiballZ included).
    All hosts are this 2-CPU machine: controller and target CPU are counted apart, never summed into
    a wall time.
Target (issue "Performance and scale"): gather / setup <= 1.0 for the task time and for the CPU per host.
Targets (issue "Fleet cost"): each playbook / setup <= 0.8 in wall time, <= 1.0 in controller CPU and
<= 0.6 in target CPU per host; these ratios are also taken round by round (each round runs every
case once, so a playbook and setup of one round share the machine's load) and printed as the
median with the lowest and highest round.

Then the module's own run time on a host with ~1,000 processes: --procs `sleep` processes are started
for the measurement (killed at the end), and meminfo_facts and setup run --runs times each on one host
(forks 1). "module wall on target" is GNU time's elapsed time of the module's Python process on the
target: interpreter start, AnsiballZ, argument parsing, the collection and the JSON result; "task"
adds what the controller adds (worker, SSH session, result handling). Target: module < 0.5 s.

Last, where each playbook's time goes: the callback's time per task, summed over the hosts, in
the median run.

Usage: python benchmarks/ssh_cost.py [--hosts 4] [--runs 2] [--procs 1000] [--compare DIR[=LABEL]]
[--compare-rev REV[=LABEL]]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import _common
import _loopback
from _loopback import fmt, median, per_host

TARGET_RATIO = 1.0
TARGET_MODULE_SECONDS = 0.5
# Issue "Fleet cost": the diagnose playbook (and remediate with no step due) against setup, per host.
PLAYBOOK_TARGETS = {"wall": 0.8, "controller": 1.0, "target": 0.6}


def _cases(fleet, compare=()):
    """(label, tool, args, env options) of each case; ``compare``: (label, directory) of other copies of the collection."""
    gather = ["all", "-m", "memleak.remediation.meminfo_facts", "-a", "history=false"]
    diagnose = ["memleak.remediation.diagnose", "-e", "memleak_history=false", "-e", "memleak_report_dir=" + fleet.report_dir]
    remediate = ["memleak.remediation.remediate", "-e", "memleak_history=false", "-e", "memleak_report_dir=" + fleet.report_dir,
                 "-e", "memleak_ledger_path=" + fleet.ledger_path]
    cases = [
        ("setup", "adhoc", ["all", "-m", "setup"], {}),
        ("gather", "adhoc", gather, {}),
        ("diagnose", "playbook", diagnose, {}),
        ("remediate", "playbook", remediate, {}),
    ]
    for name, directory in compare:
        cases += [("diagnose (%s)" % name, "playbook", diagnose, {"collection": directory}),
                  ("remediate (%s)" % name, "playbook", remediate, {"collection": directory})]
    return cases


def _checkout(rev, directory):
    """The collection at git revision ``rev`` under directory/ansible_collections/memleak/remediation."""
    target = os.path.join(directory, "ansible_collections", "memleak", "remediation")
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", _common.ROOT, "archive", rev], check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return directory


def _host_task_seconds(result):
    """Median over the inventory hosts of the seconds of their tasks, plus localhost's tasks shared over them."""
    per = {}
    shared = 0.0
    for dummy_name, host, seconds, dummy_status in result.tasks:
        if host == "localhost":
            shared += seconds
        else:
            per[host] = per.get(host, 0.0) + seconds
    return median(list(per.values())) + shared / float(result.hosts) if per else None


def _summary(results):
    """Median figures per host of several runs of one case."""
    def med(func):
        values = [func(result) for result in results]
        values = [value for value in values if value is not None]
        return median(values) if values else None
    return {
        "wall": med(lambda r: r.wall / r.hosts),
        "task": med(_host_task_seconds),
        "controller": med(lambda r: per_host(r, "controller_cpu")),
        "target": med(lambda r: per_host(r, "target_cpu")),
        "module_cpu": med(lambda r: per_host(r, "module_cpu")),
        "module_wall": med(lambda r: median(r.module_walls)),
        "module_rss": med(lambda r: median(r.module_rss_kib)),
    }


def _row(label, fig):
    return (label, fmt(fig["wall"]), fmt(fig["task"]), fmt(fig["controller"]), fmt(fig["target"]),
            fmt(fig["module_cpu"]), fmt(fig["module_wall"]),
            fmt(fig["module_rss"] / 1024.0 if fig["module_rss"] else None, "MiB", 1))


def _ratio(ours, base, key):
    if ours[key] is None or not base[key]:
        return None
    return ours[key] / base[key]


def _ratio_row(label, ours, base):
    cells = [label]
    for key in ("wall", "task", "controller", "target", "module_cpu", "module_wall", "module_rss"):
        value = _ratio(ours, base, key)
        cells.append("-" if value is None else "%.2fx" % value)
    return tuple(cells)


def _round_ratios(results, label, key):
    """Per round, ``label``'s figure over setup's of the same round: (median, min, max) or None."""
    ratios = []
    for ours, base in zip(results.get(label, []), results["setup"]):
        ours_fig, base_fig = _summary([ours]), _summary([base])
        if ours_fig[key] is not None and base_fig[key]:
            ratios.append(ours_fig[key] / base_fig[key])
    if not ratios:
        return None
    return median(ratios), min(ratios), max(ratios)


def per_host_cost(fleet, runs, compare=()):
    results = {}
    cases = _cases(fleet, compare)
    fleet.run("warm-up", "adhoc", ["all", "-m", "ping"], forks=1)  # known_hosts, byte-code caches
    for index in range(runs):
        for offset in range(len(cases)):
            label, tool, args, options = cases[(index + offset) % len(cases)]
            results.setdefault(label, []).append(fleet.run(label, tool, args, forks=1, **options))
            if tool == "adhoc":
                # Again with the ControlPersist masters of that run still open: no SSH handshake.
                results.setdefault(label + " (warm)", []).append(fleet.run(label, tool, args, forks=1, cold=False))
    figures = {label: _summary(items) for label, items in results.items()}
    headers = ("per host (forks 1, median of %d)" % runs, "wall / host", "task / host", "controller CPU",
               "target CPU", "of which module", "module wall on target", "module peak RSS")
    played = [label for label, dummy_tool, dummy_args, dummy_options in cases if label not in ("setup", "gather")]
    rows = [_row("baseline: ansible -m setup", figures["setup"]),
            _row("gather: ansible -m meminfo_facts", figures["gather"])]
    rows += [_row("%s playbook" % label, figures[label]) for label in played]
    rows.append(_ratio_row("**ratio gather / setup**", figures["gather"], figures["setup"]))
    rows += [_ratio_row("ratio %s playbook / setup" % label, figures[label], figures["setup"]) for label in played]
    rows += [_row("baseline, ControlPersist master open", figures["setup (warm)"]),
             _row("gather, ControlPersist master open", figures["gather (warm)"]),
             _ratio_row("ratio gather / setup, masters open", figures["gather (warm)"], figures["setup (warm)"])]
    gather_ratio = max(_ratio(figures["gather"], figures["setup"], key) or 0.0 for key in ("task", "controller", "target"))
    text = "%d hosts, %d processes on the machine\n" % (fleet.count, _loopback.count_processes())
    text += _common.table(headers, rows)
    text += ("\n\ngather / setup (task time and CPU per host, the worst of the three): %.2fx, target <= %.1f: %s"
             % (gather_ratio, TARGET_RATIO, "met" if gather_ratio <= TARGET_RATIO else "MISSED"))
    # The playbooks against setup, round by round (each round runs every case once, in a rotated order).
    spread_rows = []
    for label in played:
        cells = ["%s / setup" % label]
        verdicts = []
        for key, target in (("wall", PLAYBOOK_TARGETS["wall"]), ("task", None), ("controller", PLAYBOOK_TARGETS["controller"]),
                            ("target", PLAYBOOK_TARGETS["target"])):
            fig = _round_ratios(results, label, key)
            cells.append("-" if fig is None else "%.2fx (%.2f-%.2f)" % fig)
            if target is not None and fig is not None:
                verdicts.append("%s %s" % (key, "met" if fig[0] <= target else "MISSED"))
        cells.append(", ".join(verdicts))
        spread_rows.append(tuple(cells))
    text += "\n\nplaybooks / setup per round: median (min-max) of %d rounds; targets: wall <= %.1fx, controller CPU <= %.1fx, target CPU <= %.1fx\n" % (
        runs, PLAYBOOK_TARGETS["wall"], PLAYBOOK_TARGETS["controller"], PLAYBOOK_TARGETS["target"])
    text += _common.table(("playbook", "wall / host", "task / host", "controller CPU", "target CPU", "targets"), spread_rows)
    return text, results


def thousand_processes(fleet, runs, procs):
    sleepers = _loopback.Sleepers(procs)
    results = {}
    try:
        total = _loopback.count_processes()
        cases = _cases(fleet)[:2]
        for index in range(runs):
            for offset in range(len(cases)):
                label, tool, args, dummy_options = cases[(index + offset) % len(cases)]
                results.setdefault(label, []).append(fleet.run(label, tool, args, count=1, forks=1))
    finally:
        sleepers.stop()
    rows = []
    figures = {}
    for label, name in (("setup", "baseline: setup"), ("gather", "meminfo_facts")):
        items = results[label]
        walls = [wall for result in items for wall in result.module_walls]
        cpus = [(result.module_cpu or 0.0) for result in items]
        tasks = [_host_task_seconds(result) for result in items]
        rss = [kib for result in items for kib in result.module_rss_kib]
        figures[label] = median(walls)
        verdict = "-"
        if label == "gather" and walls:
            verdict = "met" if median(walls) < TARGET_MODULE_SECONDS else "MISSED"
        rows.append((name, total, "%s (max %s)" % (fmt(median(walls)), fmt(max(walls) if walls else None)),
                     fmt(median(cpus)), fmt(median(rss) / 1024.0 if rss else None, "MiB", 1), fmt(median(tasks)),
                     verdict))
    if figures.get("gather") and figures.get("setup"):
        rows.append(("ratio meminfo_facts / setup", "", "%.2fx" % (figures["gather"] / figures["setup"]), "", "", "", ""))
    text = ("one host with ~1,000 processes (%d sleep processes started for the measurement), %d runs each, median\n"
            % (procs, runs))
    text += _common.table(("module", "processes", "module wall on target", "module CPU", "module peak RSS",
                           "task (controller view)", "target < 0.5 s"), rows)
    return text


def where_time_goes(label, runs):
    result = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
    order, totals = [], {}
    for name, host, seconds, status in result.tasks:
        key = (name.split(" : ", 1)[-1], "localhost" if host == "localhost" else "each host")
        if key not in totals:
            order.append(key)
            totals[key] = [0, 0.0, set()]
        totals[key][0] += 1
        totals[key][1] += seconds
        totals[key][2].add(status)
    rows = []
    for key in order:
        count, seconds, statuses = totals[key]
        if seconds < 0.005 * result.wall:
            continue
        rows.append((key[0], key[1], count, "/".join(sorted(statuses)), "%.2f s" % seconds,
                     "%.2f s" % (seconds / result.hosts), "%.0f %%" % (100.0 * seconds / result.wall)))
    text = ("where the %s playbook's time goes (median run: %d hosts, forks 1, wall %.1f s; "
            "controller CPU %.1f s = main process %.1f + workers and local modules %.1f + ssh %.1f; "
            "target CPU %.1f s of which module %.1f; tasks under 0.5 %% of the wall not shown)\n"
            % (label, result.hosts, result.wall, result.controller_cpu, result.main_cpu, result.workers_cpu, result.ssh_cpu,
               result.target_cpu, result.module_cpu or 0.0))
    text += _common.table(("task", "runs on", "results", "status", "seconds (sum)", "per host", "share of wall"), rows)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--procs", type=int, default=1000)
    parser.add_argument("--compare", action="append", default=[], metavar="DIR[=LABEL]",
                        help="a directory holding another copy of the collection (ansible_collections/memleak/remediation), "
                        "for example the version before a change: its playbooks are measured in the same rounds; repeatable")
    parser.add_argument("--compare-rev", action="append", default=[], metavar="REV[=LABEL]",
                        help="as --compare, with the collection as it was at a git revision of this repository")
    args = parser.parse_args()
    compare = []
    for item in args.compare:
        directory, dummy, name = item.partition("=")
        compare.append((name or "before", directory))
    scratch = tempfile.mkdtemp(prefix="memleak-bench-revs-")
    for item in args.compare_rev:
        rev, dummy, name = item.partition("=")
        compare.append((name or rev, _checkout(rev, os.path.join(scratch, str(len(compare))))))
    fleet = _loopback.Fleet(args.hosts)
    try:
        fleet.start()
        for name, directory in compare:
            print("%s: %s" % (name, directory))
        print("per-host cost over SSH (pipelining on, ControlPersist on)")
        text, results = per_host_cost(fleet, args.runs, compare)
        print(text)
        print()
        print(thousand_processes(fleet, args.runs, args.procs))
        for label in sorted(label for label in results if label.startswith(("diagnose", "remediate"))):
            print()
            print(where_time_goes(label, results[label]))
    finally:
        fleet.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
