"""Fleet throughput of `ansible-playbook memleak.remediation.diagnose` from one controller.

Hosts: --hosts loopback SSH hosts, each an address of its own (127.0.0.2, ...; one sshd per 16
addresses, as sshd listens on at most 16 sockets) so that every host has its own TCP connection,
known_hosts entry and ControlPersist master (benchmarks/_loopback.py, built on
tests/integration/integration_harness.py). The playbook runs as users run it (default callback,
linear strategy, pipelining on, ControlPersist on, `memleak_history=false` so nothing is written
on the hosts), once per --forks value, each run starting with no ControlPersist master open (a
scheduled run). Then, on the first --variant-hosts hosts at --variant-forks forks, the same run
as a baseline and with one change each: `strategy = free`, pipelining off, ControlPersist off
(ssh_args `-C -o ControlMaster=no`).

This machine has 2 CPUs and every "host" is this machine: the targets' work (sshd sessions, the
module's Python) competes with the controller for the same 2 CPUs, so the hosts per minute here are
those of a controller that also carries its targets. The figures keep the two apart: controller CPU
per host (the ansible-playbook main process; its workers, which also write the report files, and
any module it runs on localhost; the ssh clients and ControlPersist masters) and target CPU per host (the
module process, and sshd + shell), each from getrusage / /proc (see _loopback.py). "CPUs busy" is
all of it over wall time x 2. The gather task time is, per host, from the worker's start to the
result in the main process; the module wall time is GNU time's, on the target.

On paper, from the controller CPU per additional host C (the run with the most hosts per minute
against a forks 1 run of 3 hosts, so that the fixed cost of a run is left out), the main process's
share M, and a host's time through its tasks L (gather + diagnosis + report, forks 1): one
controller whose targets are elsewhere runs at most about min(60 x cores / C, 60 / M) hosts per
minute (its CPUs, the single-threaded main process), with about rate x L / 60 forks in flight. AWX / Automation Platform job slicing (job_slice_count, AWX user
guide "Job Slicing") runs one ansible-playbook per slice, each on a part of the inventory, scheduled
in parallel on the cluster's execution nodes: S slices on S nodes give about S times one node's rate
(each slice has its own main process and forks), less each job's fixed start (the run's fixed CPU,
measured, plus the job's own start in AWX, not measured here).
Slices on one node share its CPUs and gain only where the main process was the limit. AWX's
capacity model counts a fork as 0.25 CPU (SYSTEM_TASK_FORKS_CPU = 4 forks per CPU) and a job as
forks + 1: the measured C tells how many forks a node's CPUs really carry for this playbook. Each
slice runs the summary play for its own hosts: give each slice its own report directory (for example
memleak_report_dir with the job id) and merge the per-host JSON files, or read the set_stats that
the workflow collects from every slice.

Sizing: for 1,000, 10,000 and 100,000 hosts per hour, the controller cores (rate x C / busy share),
how busy the main processes are (rate x M / busy share: above 1, one ansible-playbook cannot keep
up and the run must be sliced), and the AWX job slices, one per execution node of --node-cores
cores kept --busy busy: a slice carries min(cores / C, 1 / M) x busy hosts per second. The forks a
slice needs are the hosts in flight at its rate, rate x L; a network with more latency than
loopback needs more.

Usage: python benchmarks/fleet_throughput.py [--hosts 50] [--forks 10,25,50] [--variant-hosts 10]
[--variant-forks 10] [--node-cores 4] [--busy 0.8]
"""

import argparse
import sys

import _common
import _loopback
from _loopback import fmt, median, percentile

# The task that runs the module on the host (before diagnose_host: the gather task alone).
GATHER_TASKS = ("Gather, diagnose and write the host report", "Read the Linux memory snapshot")


def _diagnose_args(fleet):
    return ["memleak.remediation.diagnose", "-e", "memleak_history=false", "-e", "memleak_report_dir=" + fleet.report_dir]


def _host_times(result):
    """(gather task seconds per host, all of a host's task seconds per host) lists."""
    gather, total = {}, {}
    for name, host, seconds, dummy_status in result.tasks:
        if host == "localhost":
            continue
        total[host] = total.get(host, 0.0) + seconds
        if any(task in name for task in GATHER_TASKS):
            gather[host] = gather.get(host, 0.0) + seconds
    return list(gather.values()), list(total.values())


def _row(label, result, base=None):
    n = float(result.hosts)
    gather, dummy_total = _host_times(result)
    cells = [label, result.hosts, result.forks, "%.1f s" % result.wall, "%.1f" % result.hosts_per_minute]
    if base is not None:
        cells.append("%+.0f %%" % (100.0 * (result.hosts_per_minute / base.hosts_per_minute - 1.0)))
    cells += [fmt(result.controller_cpu / n, "s", 2), fmt(result.main_cpu / n, "s", 2), fmt(result.workers_cpu / n, "s", 2),
              fmt(result.ssh_cpu / n, "s", 2), fmt(result.target_cpu / n, "s", 2),
              fmt(None if result.module_cpu is None else result.module_cpu / n, "s", 2), fmt(result.sshd_cpu / n, "s", 2),
              "%.0f %%" % (100.0 * result.busy),
              "%s / %s" % (fmt(median(gather), "s", 2), fmt(percentile(gather, 0.9), "s", 2)),
              "%s / %s" % (fmt(median(result.module_walls), "s", 2), fmt(percentile(result.module_walls, 0.9), "s", 2))]
    return tuple(cells)


HEADERS = ("run", "hosts", "forks", "wall", "hosts/min", "controller CPU / host", "main process", "workers + local modules",
           "ssh client", "target CPU / host", "module", "sshd + shell", "CPUs busy", "gather task median / p90",
           "module wall on target median / p90")


def sweep(fleet, forks_values):
    results = []
    for forks in forks_values:
        results.append(fleet.run("forks %d" % forks, "playbook", _diagnose_args(fleet), forks=forks))
    text = _common.table(HEADERS, [_row("diagnose, forks %d" % r.forks, r) for r in results])
    return text, results


def variants(fleet, hosts, forks, baseline=None):
    args = _diagnose_args(fleet)
    if baseline is None:
        baseline = fleet.run("baseline", "playbook", args, count=hosts, forks=forks)
    runs = [
        ("strategy free", fleet.run("free", "playbook", args, count=hosts, forks=forks, strategy="free")),
        ("pipelining off", fleet.run("no pipelining", "playbook", args, count=hosts, forks=forks, pipelining=False)),
        ("ControlPersist off", fleet.run("no ControlPersist", "playbook", args, count=hosts, forks=forks,
                                         control_persist=False)),
    ]
    headers = HEADERS[:5] + ("change",) + HEADERS[5:]
    rows = [_row("baseline (linear, pipelining, ControlPersist)", baseline, baseline)]
    rows += [_row(label, result, baseline) for label, result in runs]
    return _common.table(headers, rows), baseline, runs


def _marginal(big, small, attribute):
    """CPU per additional host and fixed CPU per run, from two runs with different host counts.

    With fewer than 10 hosts between them (quick runs) the difference is noise: the average per
    host of the larger run is returned instead, with no fixed part.
    """
    if big.hosts - small.hosts >= 10:
        per_host = (getattr(big, attribute) - getattr(small, attribute)) / float(big.hosts - small.hosts)
        if per_host > 0:
            return per_host, getattr(small, attribute) - per_host * small.hosts
    return getattr(big, attribute) / float(big.hosts), 0.0


TARGET_RATES = (1000, 10000, 100000)


def sizing(ctl, main_cpu, fixed, latency, node_cores, busy):
    """Controller cores and AWX job slices for the hosts per hour of TARGET_RATES, from the measured CPU per host."""
    rows = []
    for rate in TARGET_RATES:
        per_second = rate / 3600.0
        cores = per_second * ctl / busy
        node_rate = busy * min(node_cores / ctl, 1.0 / main_cpu)  # hosts per second one slice on one node carries
        slices = max(1, int(-(-per_second // node_rate)))
        per_slice = per_second / slices
        forks = max(1, int(round(per_slice * latency + 0.5)))
        rows.append(("%d" % rate, "%.1f" % cores, "%.2f" % (per_second * main_cpu / busy), "%d" % slices,
                     "%d" % forks, "%.0f %%" % (100.0 * per_second * ctl / slices / node_cores)))
    text = ("sizing for targets elsewhere, from the measured controller CPU per host (%.2f s, of which %.2f s in the "
            "main process, which runs on one core) and a host's time through its tasks (%.1f s); assumption: AWX / "
            "Automation Platform execution nodes of %d cores each, kept %.0f %% busy, one job slice per node "
            "(job_slice_count), each slice one ansible-playbook; forks: hosts in flight at that rate (more where the "
            "network adds latency); each job also pays its fixed start (%s)\n"
            % (ctl, main_cpu, latency, node_cores, 100 * busy,
               "%.1f s CPU measured here" % fixed if fixed else "not separated in this run"))
    text += _common.table(("hosts per hour", "controller cores (CPU)", "main processes busy", "job slices = nodes of %d cores"
                           % node_cores, "forks per slice (at least)", "each node's CPUs busy"), rows)
    return text


def on_paper(results, serial, node_cores=4, busy=0.8):
    best = max(results, key=lambda r: r.hosts_per_minute)
    ctl, ctl_fixed = _marginal(best, serial, "controller_cpu")
    main_cpu, main_fixed = _marginal(best, serial, "main_cpu")
    dummy_gather, totals = _host_times(serial)
    latency = median(totals)
    if ctl_fixed or main_fixed:
        how = ("per additional host the controller spends %.2f s CPU, of which the main process %.2f s (from the forks "
               "%d run of %d hosts and the forks 1 run of %d hosts; fixed per run: %.1f s, main process %.1f s)"
               % (ctl, main_cpu, best.forks, best.hosts, serial.hosts, ctl_fixed, main_fixed))
    else:
        how = ("the controller spends %.2f s CPU per host, of which the main process %.2f s (averages of the forks %d "
               "run, fixed cost of a run included: too few hosts to separate it)" % (ctl, main_cpu, best.forks))
    lines = ["", "on paper, for targets elsewhere: %s; a host's per-host tasks take %.1f s (median, forks 1, no other "
             "host competing)" % (how, latency)]
    for cores in (2, 4, 8, 16):
        cpu_bound = 60.0 * cores / ctl
        rate = min(cpu_bound, 60.0 / main_cpu)
        lines.append("- one controller, %2d cores: <= %.0f hosts/min (CPU) and <= %.0f (main process): about %.0f "
                     "hosts/min, %.0f hosts per hour; forks needed to keep it busy: about %.0f"
                     % (cores, cpu_bound, 60.0 / main_cpu, rate, 60 * rate, rate * latency / 60.0))
    node_rate = min(60.0 * node_cores / ctl, 60.0 / main_cpu)
    lines.append("- AWX job slicing, S slices on S execution nodes of %d cores: about S x %.0f hosts/min (each slice its own "
                 "ansible-playbook), less each job's fixed start (the run's own: %s; AWX's: not measured); AWX's capacity "
                 "model (4 forks per CPU) would give such a node %d forks, while about %.0f forks already keep its CPUs "
                 "busy with this playbook" % (node_cores, node_rate, "%.1f s CPU here" % ctl_fixed if ctl_fixed else "not separated here",
                                              4 * node_cores, node_rate * latency / 60.0))
    lines.append("")
    lines.append(sizing(ctl, main_cpu, ctl_fixed, latency, node_cores, busy))
    lines.append("- on this machine the targets take %.2f s CPU per host of the same 2 CPUs, which real hosts would "
                 "carry themselves" % (best.target_cpu / float(best.hosts)))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", default="10,25,50", help="comma-separated forks values")
    parser.add_argument("--variant-hosts", type=int, default=10, help="hosts of the strategy / pipelining / ControlPersist runs")
    parser.add_argument("--variant-forks", type=int, default=10)
    parser.add_argument("--node-cores", type=int, default=4, help="cores of one AWX execution node (sizing assumption)")
    parser.add_argument("--busy", type=float, default=0.8, help="share of a node's CPUs the sizing plans to use")
    args = parser.parse_args()
    forks_values = [int(value) for value in args.forks.split(",") if value.strip()]
    variant_hosts = min(args.variant_hosts, args.hosts)
    fleet = _loopback.Fleet(args.hosts)
    try:
        fleet.start()
        fleet.run("warm-up", "adhoc", ["all", "-m", "ping"], forks=max(forks_values))  # known_hosts, byte code
        print("fleet throughput of the diagnose playbook: %d loopback hosts, %d CPUs shared by the controller and "
              "the targets, %d processes on the machine" % (args.hosts, _loopback.CPUS, _loopback.count_processes()))
        text, results = sweep(fleet, forks_values)
        print(text)
        baseline = None
        for result in results:
            if result.hosts == variant_hosts and result.forks == args.variant_forks:
                baseline = result
        print()
        print("what the strategy, pipelining and ControlPersist change (%d hosts, forks %d)"
              % (variant_hosts, args.variant_forks))
        text, baseline, dummy_runs = variants(fleet, variant_hosts, args.variant_forks, baseline)
        print(text)
        serial = fleet.run("latency", "playbook", _diagnose_args(fleet), count=min(3, args.hosts), forks=1)
        print(on_paper(results, serial, args.node_cores, args.busy))
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
