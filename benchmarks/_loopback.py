"""Loopback SSH test hosts and measured Ansible runs, shared by ssh_cost.py and fleet_throughput.py.

Every test host has an address of its own on the loopback network (127.0.0.2, 127.0.0.3, ...), all
served by real OpenSSH servers started from tests/integration/integration_harness.py (one sshd per
16 addresses: sshd listens on at most 16 sockets). To SSH and to Ansible they are distinct hosts:
one TCP connection, one known_hosts entry and one ControlPersist master each (Ansible's ControlPath
is a hash of address, port and user). They are all this machine, so the "target" work (sshd
sessions, the module's Python) runs on the same CPUs as the controller; the accounting keeps the
two apart:

* controller CPU: resource.getrusage(RUSAGE_CHILDREN) around the ansible / ansible-playbook process
  (the main process, its forked workers, the modules it runs on localhost and the ssh clients), plus
  the ControlPersist masters, which ssh detaches from its parent (their utime + stime from /proc).
  The main process's own CPU comes from getrusage(RUSAGE_SELF) at its exit (a small launcher
  runs Ansible's CLI in-process); the ssh clients' from GNU time wrapped around /usr/bin/ssh
  (ansible_ssh_executable).
* target CPU: utime + stime + cutime + cstime of every live process in the sshd trees (the listeners
  reap the sessions, the sessions reap the shells and the modules), read before and after a run.
  The module's share comes from GNU time wrapped around the target's /usr/bin/python3
  (ansible_python_interpreter): wall time, user + system CPU and peak RSS of each module process,
  AnsiballZ wrapper included.
* task times: an aggregate callback plugin written into the run's directory records, per task and
  host, the seconds from the worker's start to the result reaching the main process.
"""

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
sys.path.insert(0, os.path.join(_common.ROOT, "tests", "integration"))

import integration_harness as harness  # noqa: E402

PER_SSHD = 16
CLK_TCK = float(os.sysconf("SC_CLK_TCK"))
GNU_TIME = "/usr/bin/time"
RUN_TIMEOUT = 900
CPUS = os.cpu_count() or 1

LAUNCHER = r'''
import atexit, importlib, json, os, resource, sys
tool = sys.argv.pop(1)
out = os.environ["MEMLEAK_BENCH_MAIN_RUSAGE"]
pid = os.getpid()


def report():
    if os.getpid() == pid:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(out, "w") as handle:
            json.dump([usage.ru_utime, usage.ru_stime, usage.ru_maxrss], handle)


atexit.register(report)
sys.argv[0] = os.path.join(os.path.dirname(sys.executable), "ansible-playbook" if tool == "playbook" else "ansible")
sys.exit(importlib.import_module("ansible.cli." + tool).main())
'''

# Aggregate callback plugin: per task and host, seconds from the worker's start to the result reaching
# the controller's main process (Ansible's own profile_tasks lives in ansible.posix, not in core).
TIMER_CALLBACK = r'''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "memleak_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started = {}
        self.rows = []

    def v2_runner_on_start(self, host, task):
        self.started[(task._uuid, host.get_name())] = time.time()

    def _done(self, result, status):
        task, host = result.task, result.host.get_name()
        start = self.started.pop((task._uuid, host), None)
        if start is not None:
            self.rows.append([task.get_name(), host, time.time() - start, status])

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["MEMLEAK_BENCH_TASK_TIMES"], "w") as handle:
            json.dump(self.rows, handle)
'''


def _proc_table():
    """{pid: (ppid, comm, cpu seconds of the process and of its reaped children)} of every process."""
    table = {}
    for pid, (comm, fields) in harness.process_stats().items():
        # fields[0] is the state (stat field 3): utime, stime, cutime, cstime are stat fields 14-17.
        cpu = sum(int(value) for value in fields[11:15]) / CLK_TCK
        table[pid] = (int(fields[1]), comm, cpu)
    return table


def _read_times(path, columns):
    """Rows of numbers GNU time appended to ``path`` (lines such as 'Command exited ...' skipped)."""
    rows = []
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                try:
                    rows.append([float(part) for part in parts])
                except ValueError:
                    continue
    except OSError:
        pass
    return [row for row in rows if len(row) == columns]


def median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Sleepers(object):
    """``count`` idle `sleep` processes, so the host has ~1,000 processes; killed by stop()."""

    def __init__(self, count):
        self.procs = []
        try:
            for dummy in range(count):
                self.procs.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs = []


def count_processes():
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


class Result(object):
    """Figures of one measured Ansible run (seconds; CPU as user + system)."""

    def __init__(self, label, hosts, forks, wall):
        self.label = label
        self.hosts = hosts
        self.forks = forks
        self.wall = wall
        self.main_cpu = 0.0        # ansible / ansible-playbook main process
        self.ssh_cpu = 0.0         # ssh clients and ControlPersist masters
        self.workers_cpu = 0.0     # forked workers, modules run on localhost (rest of the controller)
        self.module_cpu = None     # module processes on the targets (None without GNU time)
        self.target_cpu = 0.0      # everything under the sshd listeners
        self.module_walls = []     # wall time of each module process on a target
        self.module_rss_kib = []   # peak RSS of each module process on a target
        self.tasks = []            # (task name, host, seconds from worker start to result, status)
        self.stdout = ""

    @property
    def controller_cpu(self):
        return self.main_cpu + self.ssh_cpu + self.workers_cpu

    @property
    def sshd_cpu(self):
        """Target CPU that is not the module: sshd sessions, the shell, GNU time."""
        return self.target_cpu - (self.module_cpu or 0.0)

    @property
    def hosts_per_minute(self):
        return 60.0 * self.hosts / self.wall

    @property
    def busy(self):
        """Share of the machine's CPUs used during the run."""
        return (self.controller_cpu + self.target_cpu) / (self.wall * CPUS)


class Fleet(object):
    """``count`` loopback SSH hosts (root logins) and an Ansible environment that measures runs on them."""

    def __init__(self, count):
        if not 1 <= count <= 250:
            raise ValueError("between 1 and 250 hosts (127.0.0.2 .. 127.0.0.251)")
        self.count = count
        self.workdir = tempfile.mkdtemp(prefix="memleak-bench-")
        self.control_dir = os.path.join(self.workdir, "cp")
        self.module_log = os.path.join(self.workdir, "module-times.log")
        self.ssh_log = os.path.join(self.workdir, "ssh-times.log")
        self.main_log = os.path.join(self.workdir, "main-rusage.json")
        self.launcher = os.path.join(self.workdir, "launch_ansible.py")
        self.task_log = os.path.join(self.workdir, "task-times.json")
        self.callback_dir = os.path.join(self.workdir, "callbacks")
        self.report_dir = os.path.join(self.workdir, "report")
        self.ledger_path = os.path.join(self.workdir, "remediation-ledger.jsonl")  # read by remediate, on the hosts
        self.timed = os.access(GNU_TIME, os.X_OK)
        self.servers = []
        self.hosts = []  # (name, address, server)

    def start(self):
        harness.require_root()
        harness.require_sshd()
        harness.require_ansible()
        os.makedirs(self.control_dir, mode=0o700)
        addresses = ["127.0.0.%d" % (index + 2) for index in range(self.count)]
        for first in range(0, self.count, PER_SSHD):
            server = harness.Sshd(addresses[first:first + PER_SSHD])
            self.servers.append(server)
            server.start(users=["root"])
            for address in server.addresses:
                self.hosts.append(("host%03d" % (len(self.hosts) + 1), address, server))
        self._write_helpers()
        return self

    def _write_helpers(self):
        timer = GNU_TIME + " -a -o %s -f '%s' "
        scripts = {
            "target-python": (timer % (self.module_log, "%e %U %S %M") if self.timed else "") + harness.TARGET_PYTHON,
            "ssh": (timer % (self.ssh_log, "%e %U %S") if self.timed else "") + harness.SSH,
        }
        for name, command in scripts.items():
            path = os.path.join(self.workdir, name)
            with open(path, "w") as handle:
                handle.write('#!/bin/sh\nexec %s "$@"\n' % command)
            os.chmod(path, 0o755)
        with open(self.launcher, "w") as handle:
            handle.write(LAUNCHER)
        os.makedirs(self.callback_dir)
        with open(os.path.join(self.callback_dir, "memleak_bench_timer.py"), "w") as handle:
            handle.write(TIMER_CALLBACK)

    def inventory(self, count=None):
        """Inventory file of the first ``count`` hosts (all by default)."""
        entries = {}
        for name, address, server in self.hosts[:count or self.count]:
            entries[name] = {
                "ansible_host": address,
                "ansible_port": server.port,
                "ansible_user": "root",
                "ansible_connection": "ssh",
                "ansible_ssh_private_key_file": server.client_key,
                "ansible_python_interpreter": os.path.join(self.workdir, "target-python"),
                "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=no -o ConnectTimeout=30"
                                           % server.known_hosts,
            }
        path = os.path.join(self.workdir, "inventory-%d.json" % len(entries))
        with open(path, "w") as handle:
            json.dump({"all": {"hosts": entries}}, handle, indent=2)
        return path

    def env(self, forks, pipelining=True, control_persist=True, strategy="linear", collection=None):
        """Ansible's environment for a run; ``collection``: a directory holding another copy of
        ansible_collections/memleak/remediation (an earlier version), found before this checkout."""
        env = harness.Ansible(self.servers[0], self.workdir).env()
        if collection:
            env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([collection, env["ANSIBLE_COLLECTIONS_PATH"]])
        # As on a controller after its first run: plugins' byte code cached (__pycache__ is ignored by git).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update({
            "ANSIBLE_FORKS": str(forks),
            "ANSIBLE_PIPELINING": str(bool(pipelining)),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": self.control_dir,
            "ANSIBLE_SSH_EXECUTABLE": os.path.join(self.workdir, "ssh"),
            "ANSIBLE_STRATEGY": strategy,
            "ANSIBLE_TIMEOUT": "60",
            "MEMLEAK_BENCH_MAIN_RUSAGE": self.main_log,
            "MEMLEAK_BENCH_TASK_TIMES": self.task_log,
            "ANSIBLE_CALLBACK_PLUGINS": self.callback_dir,
            "ANSIBLE_CALLBACKS_ENABLED": "memleak_bench_timer",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",  # ad hoc runs load callbacks only when asked
        })
        if not control_persist:
            # Ansible adds a ControlPath only when the ssh arguments ask for ControlPersist.
            env["ANSIBLE_SSH_ARGS"] = "-C -o ControlMaster=no"
        return env

    def _masters(self, table=None):
        """{pid: cpu} of the ControlPersist masters (detached ssh processes using our control dir)."""
        table = table or _proc_table()
        masters = {}
        for pid, (dummy_ppid, comm, cpu) in table.items():
            if comm != "ssh":
                continue
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            if self.control_dir.encode() in cmdline:
                masters[pid] = cpu
        return masters

    def _target_cpu(self, table):
        roots = {server.proc.pid for server in self.servers if server.proc is not None}
        children = {}
        for pid, (ppid, dummy_comm, dummy_cpu) in table.items():
            children.setdefault(ppid, []).append(pid)
        total, todo = 0.0, list(roots)
        while todo:
            pid = todo.pop()
            if pid in table:
                total += table[pid][2]
            todo.extend(children.get(pid, ()))
        return total

    def _sessions(self):
        roots = {server.proc.pid for server in self.servers if server.proc is not None}
        return [pid for pid, (ppid, dummy_comm, dummy_cpu) in _proc_table().items() if ppid in roots]

    def close_masters(self):
        """Stop every ControlPersist master and wait until the sshd sessions they held have ended."""
        for name in os.listdir(self.control_dir):
            subprocess.run([harness.SSH, "-o", "ControlPath=%s" % os.path.join(self.control_dir, name), "-O", "exit",
                            "127.0.0.1"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        deadline = time.time() + 20
        while (self._masters() or self._sessions()) and time.time() < deadline:
            time.sleep(0.05)

    def run(self, label, tool, args, count=None, forks=1, cold=True, prefix=(), **env_options):
        """Run ``ansible`` (tool "adhoc") or ``ansible-playbook`` (tool "playbook") on the first ``count`` hosts.

        cold: no ControlPersist master is open when the run starts (as for a scheduled run).
        prefix: command the run is started under (a profiler); its figures then include the profiler's cost.
        """
        count = count or self.count
        if cold:
            self.close_masters()
        inventory = self.inventory(count)
        for path in (self.module_log, self.ssh_log, self.main_log, self.task_log):
            if os.path.exists(path):
                os.unlink(path)
        shutil.rmtree(self.report_dir, ignore_errors=True)
        env = self.env(forks, **env_options)
        cmd = list(prefix) + [sys.executable, self.launcher, tool] + list(args) + ["-i", inventory]
        table = _proc_table()
        target_before, masters_before = self._target_cpu(table), self._masters(table)
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, check=False, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=RUN_TIMEOUT)
        wall = time.perf_counter() - start
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        table = _proc_table()
        target_after, masters_after = self._target_cpu(table), self._masters(table)
        if proc.returncode != 0:
            tail = (proc.stdout[-6000:], proc.stderr[-3000:])
            raise RuntimeError("%s: rc=%d\n%s\n%s" % ((" ".join(cmd), proc.returncode) + tail))
        result = Result(label, count, forks, wall)
        result.stdout = proc.stdout
        children = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
        with open(self.main_log) as handle:
            user, system, dummy_rss = json.load(handle)
        result.main_cpu = user + system
        clients = sum(row[1] + row[2] for row in _read_times(self.ssh_log, 3))
        masters = sum(cpu - masters_before.get(pid, 0.0) for pid, cpu in masters_after.items())
        result.ssh_cpu = clients + masters
        result.workers_cpu = max(0.0, children - result.main_cpu - clients)
        result.target_cpu = target_after - target_before
        modules = _read_times(self.module_log, 4)
        if self.timed:
            result.module_cpu = sum(row[1] + row[2] for row in modules)
            result.module_walls = [row[0] for row in modules]
            result.module_rss_kib = [row[3] for row in modules]
        with open(self.task_log) as handle:
            result.tasks = [tuple(row) for row in json.load(handle)]
        return result

    def stop(self):
        try:
            if os.path.isdir(self.control_dir):
                self.close_masters()
        finally:
            for server in self.servers:
                server.stop()
            shutil.rmtree(self.workdir, ignore_errors=True)


def per_host(result, attribute):
    value = getattr(result, attribute)
    return None if value is None else value / float(result.hosts)


def fmt(value, unit="s", digits=3):
    return "-" if value is None else ("%.*f %s" % (digits, value, unit)).strip()
