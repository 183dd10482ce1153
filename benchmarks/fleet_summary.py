"""Cost of the diagnose role's fleet summary at 1, 50 and 1,000 hosts: it must stay flat per host.

The summary (roles/diagnose/tasks/summary.yml: summary.md, summary.json, index.html, set_stats and
the fleet's lines) runs once per run, on the controller, over every host the play covered. What
it reads is each host's memleak_snapshot and memleak_diagnosis. Here those come from
tests/fleet_fixture.py (real captures, every verdict in turn, histories of varied length) and are
given to each host as inventory variables, so that no host is contacted: the hosts use the local
connection and only the summary runs. Each size runs two playbooks over the same inventory, in
turn, --runs times:
  * summary: one play over all hosts that includes the role's summary.yml with run_once (as
    playbooks/diagnose.yml does);
  * baseline: the same play with one run_once debug task instead: Ansible's start, reading the
    inventory with every host's data, one task.
The summary's cost is the difference (wall time, and CPU of ansible-playbook and its workers from
getrusage), median of the rounds with the spread; per host is that divided by the hosts. Flat
means the cost per host at 1,000 hosts is no more than at 50 (quadratic work, such as a lookup in
a list for every host, would show as a growing cost per host).

Usage: python benchmarks/fleet_summary.py [--sizes 1,50,1000] [--runs 3]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import _common

_common.import_path()

import fleet_fixture  # noqa: E402

PLAYS = {
    "summary": """
- name: The fleet summary alone, over hosts diagnosed already
  hosts: all
  gather_facts: false
  tasks:
    - name: Write and show the fleet summary
      ansible.builtin.include_role:
        name: memleak.remediation.diagnose
        tasks_from: summary.yml
      run_once: true
""",
    "baseline": """
- name: The same play with one task
  hosts: all
  gather_facts: false
  tasks:
    - name: One task
      ansible.builtin.debug:
        msg: baseline
      run_once: true
""",
}


def _inventory(workdir, count):
    hosts = {}
    for snapshot, diagnosis, dummy_verdict in fleet_fixture.fleet(count):
        name = snapshot["host"]
        hosts[name] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                       "memleak_snapshot": snapshot, "memleak_diagnosis": diagnosis}
    path = os.path.join(workdir, "inventory-%d.json" % count)
    with open(path, "w") as handle:
        json.dump({"all": {"hosts": hosts}}, handle)
    return path, os.path.getsize(path)


def _env(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": _common.COLLECTIONS,
        "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_INVENTORY_ENABLED": "yaml",
        "ANSIBLE_FORKS": "10",
    })
    return env


def _run(workdir, playbook, inventory, report_dir):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook, "-i", inventory,
           "-e", "memleak_report_dir=" + report_dir, "-e", "memleak_awx_stats=true"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=_env(workdir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError("%s: rc=%d\n%s" % (" ".join(cmd), proc.returncode, proc.stdout[-4000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def measure(sizes, runs):
    workdir = tempfile.mkdtemp(prefix="memleak-summary-bench-")
    try:
        playbooks = {}
        for name, text in PLAYS.items():
            playbooks[name] = os.path.join(workdir, name + ".yml")
            with open(playbooks[name], "w") as handle:
                handle.write(text)
        rows, per_host = [], {}
        for count in sizes:
            inventory, size = _inventory(workdir, count)
            report_dir = os.path.join(workdir, "report-%d" % count)
            walls, cpus = [], []
            for index in range(runs):
                order = ("summary", "baseline") if index % 2 == 0 else ("baseline", "summary")
                got = {}
                for name in order:
                    got[name] = _run(workdir, playbooks[name], inventory, report_dir)
                walls.append(got["summary"][0] - got["baseline"][0])
                cpus.append(got["summary"][1] - got["baseline"][1])
            files = sorted(os.listdir(report_dir))
            wall, cpu = _median(walls), _median(cpus)
            per_host[count] = (wall / count, cpu / count)
            rows.append([count, "%.1f MB" % (size / 1e6), "%.2f s (%.2f-%.2f)" % (wall, min(walls), max(walls)),
                         "%.2f s (%.2f-%.2f)" % (cpu, min(cpus), max(cpus)), "%.1f ms" % (1000.0 * wall / count),
                         "%.1f ms" % (1000.0 * cpu / count), ", ".join(files)])
        reference = per_host.get(50) or per_host[sizes[len(sizes) // 2]]
        for row in rows:
            wall_host, cpu_host = per_host[row[0]]
            row.append("%.2fx / %.2fx" % (wall_host / reference[0], cpu_host / reference[1]))
        headers = ("hosts", "inventory (hosts' data)", "summary wall, median (min-max)", "summary CPU, median (min-max)",
                   "wall per host", "CPU per host", "files written", "per host vs 50 hosts (wall / CPU)")
        text = ("fleet summary: the role's summary.yml run once over N diagnosed hosts, minus the same play with one "
                "task; %d rounds, median (min-max)\n" % runs)
        text += _common.table(headers, [tuple(row) for row in rows])
        largest = max(sizes)
        if largest in per_host and 50 in per_host and largest > 50:
            flat = per_host[largest][1] <= 1.5 * per_host[50][1]
            text += ("\n\nCPU per host at %d hosts / at 50 hosts: %.2fx (flat: <= 1.5x, the spread of this machine): %s"
                     % (largest, per_host[largest][1] / per_host[50][1], "met" if flat else "MISSED"))
        return text
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,50,1000", help="comma-separated host counts")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(value) for value in args.sizes.split(",") if value.strip()]
    print(measure(sizes, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
