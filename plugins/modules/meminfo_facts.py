#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: meminfo_facts
short_description: Gather where the memory of a Linux host is, as a memleak snapshot
version_added: "0.1.0"
description:
  - Reads C(/proc) and C(/sys) of a Linux host (or a captured copy of them) and returns one
    snapshot in the collection's schema 1 as the fact C(memleak_snapshot).
  - "The snapshot holds every C(/proc/meminfo) field in bytes (C(HugePages_*) stay page counts),
    C(/proc/vmstat), the boot id, kernel and distribution, the virtualisation platform, the memory
    balloon driver and its size where readable, the largest slab caches, the largest processes by
    proportional set size (PSS), the usage of C(tmpfs), C(devtmpfs) and C(ramfs) mounts,
    deleted-but-open files on those mounts, and C(/proc/sys/fs/dentry-state)."
  - Nothing needs root. Without root, C(/proc/slabinfo), other users' C(smaps_rollup) and open
    files, and debugfs are unreadable; each such gap becomes one sentence in the snapshot's
    C(warnings) and the module still succeeds.
  - A process that exits during the scan is skipped and counted in C(warnings).
  - "The module fails, naming the file and the line, only when C(/proc/meminfo) is missing or is
    not meminfo text: every later step needs it."
  - The virtualisation platform is told without root from DMI (C(/sys/class/dmi/id)), the CPU's
    C(hypervisor) flag, C(/sys/hypervisor/type), C(/proc/xen), the clock sources and the VMBus;
    it is C(none) only when the host is positively bare metal, else C(unknown) when it cannot be named.
  - "The balloon size comes from C(/sys/kernel/debug/vmmemctl) (root) or C(vmware-toolbox-cmd stat
    balloon) on VMware, the C(nr_balloon_pages) or C(balloon_inflate) - C(balloon_deflate) counters
    of C(/proc/vmstat) for virtio_balloon, C(/sys/kernel/debug/hv-balloon) (root) for Hyper-V,
    C(/sys/devices/system/xen_memory) on Xen, and the C(Balloon:) line of meminfo (Linux 6.15 and
    later) otherwise."
  - "Who holds the kernel's memory, where the kernel can tell: the call sites of C(/proc/allocinfo)
    (Linux 6.10+ with C(CONFIG_MEM_ALLOC_PROFILING)), the vmalloc callers of C(/proc/vmallocinfo) (root),
    the objects C(kmemleak) reported (C(/sys/kernel/debug/kmemleak)), C(/sys/kernel/debug/page_owner)
    (at most 64 MiB read), and C(/proc/modules) with taint flags and C(/sys/module/NAME/version).
    Each is read only when present and readable; when none of the call-site sources is, one warning
    says how to turn one on. Lists keep the O(top) largest sites plus totals (docs/kernel-attribution.md)."
  - "O(trace_seconds) traces kernel allocations with bpftrace for kernels without C(/proc/allocinfo)."
  - Runs on the managed host with Python 3.8 or later and the standard library only.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  top:
    description:
      - How many slab caches, processes and deleted-but-open files to keep, largest first.
    type: int
    default: 15
  proc_root:
    description:
      - Directory that holds the C(proc/), C(sys/) and C(etc/) trees to read.
      - C(/) reads the live host. Any other path reads a captured tree (for example an unpacked
        sosreport); then no command is run, sizes of deleted files and C(tmpfs) usage are not
        measured (C(tmpfs) sizes come from the mount options), and page counts assume 4 KiB pages.
    type: path
    default: /
  host:
    description:
      - The name recorded in the snapshot.
      - Default is the host's node name for a live read, or the hostname stored in the captured tree.
    type: str
  samples:
    description:
      - How many times to read the host in this run, O(interval) seconds apart (like PoolMon's
        running diff). Growth within the run then shows in the trend without waiting for later runs.
      - 1 to 60.
    type: int
    default: 1
  interval:
    description: Seconds between two in-run samples, 0 to 600.
    type: float
    default: 5
  boot_id_command:
    description:
      - A command whose first output line is the boot identifier, used instead of
        C(/proc/sys/kernel/random/boot_id) on a live read. Series are cut at every change of it.
      - For hosts whose boot_id is not their own (some containers), and for tests that simulate a restart
        together with the C(remediate) role's C(memleak_boot_id_command). Run without a shell.
    type: str
  ledger:
    description:
      - "Also read the remediation ledger of M(memleak.remediation.remediation_ledger) and return it as the fact
        C(memleak_remediation_ledger) (C(path), C(entries), C(skipped)): the C(remediate) role gets the snapshot
        and the ledger from one module on the host. Only reads it."
    type: bool
    default: false
  ledger_path:
    description:
      - "The ledger file, with O(ledger). Default as for M(memleak.remediation.remediation_ledger): C(remediation.jsonl)
        beside O(history_path) when that is given, else beside the default history."
    type: path
  trace_seconds:
    description:
      - "Trace kernel allocations for this many seconds with bpftrace (needs root, C(bpftrace), the kmem
        tracepoints) and report the call sites whose outstanding bytes grew during the trace, with their
        module: the approach of bcc's C(memleak) tool. C(0) (the default) does not trace."
      - Capped at 300 seconds. The maps follow at most 131072 live objects; only the largest sites are
        printed; bpftrace is stopped by C(timeout) if it does not exit. It costs CPU in every allocation
        while it runs (docs/kernel-attribution.md gives measured figures).
      - Mounts tracefs on C(/sys/kernel/tracing) when it is not mounted, and says so in C(warnings).
      - Not run in check mode unless O(trace_in_check_mode=true).
    type: int
    default: 0
  trace_in_check_mode:
    description: Run the O(trace_seconds) trace in check mode too (it reads the kernel and changes nothing but the tracefs mount).
    type: bool
    default: false
  scan_kmemleak:
    description:
      - Ask kmemleak for a scan (write C(scan) to C(/sys/kernel/debug/kmemleak)) before its report is read.
      - A scan walks all kernel memory and can take seconds to minutes of CPU on large hosts; without it the
        report holds what the periodic scan (every 10 minutes) found. Skipped in check mode.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - memleak.remediation.history
attributes:
  check_mode:
    support: full
    details: The module only reads the host, apart from appending to the history file and the opt-in kmemleak
      scan, which check mode skips, and the opt-in trace (O(trace_in_check_mode)).
  diff_mode:
    support: none
    details: No file is shown as a diff; the history gains one line per run.
  facts:
    support: full
    details: Returns C(ansible_facts.memleak_snapshot).
  platform:
    platforms: posix
    details: Linux only.
notes:
  - "The module appends one line to the host history (O(history)) and still reports C(changed=false): the
    history is its own measurement log, not a setting of the host, and a change on every scheduled run would
    hide real changes. Check mode and O(history=false) do not write the history."
  - Only live reads are recorded in the history; a captured tree (O(proc_root)) is never written to.
  - Page counts of C(/proc/vmstat) are converted with the host's page size on a live read.
  - C(used) is C(MemTotal - MemAvailable), the definition of procps-ng 4; kernels older than 3.14
    have no C(MemAvailable) and get C(MemTotal - MemFree - Buffers - Cached - SReclaimable).
seealso:
  - name: The /proc filesystem
    description: Kernel documentation of meminfo, vmstat and smaps_rollup.
    link: https://docs.kernel.org/filesystems/proc.html
"""

EXAMPLES = r"""
- name: Gather the memory snapshot of every Linux host
  memleak.remediation.meminfo_facts:

- name: Show the processes holding the most memory
  ansible.builtin.debug:
    var: ansible_facts.memleak_snapshot.linux.processes

- name: Read an unpacked sosreport on the controller instead of a live host
  memleak.remediation.meminfo_facts:
    proc_root: /srv/sosreports/sosreport-db01-2024-05-02
    host: db01
    top: 25
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: complex
  contains:
    memleak_snapshot:
      description:
        - One snapshot, schema 1. All sizes are integer bytes; values that could not be read are null.
      returned: always
      type: dict
      contains:
        schema:
          description: Snapshot schema version.
          type: int
          sample: 1
        host:
          description: Host name.
          type: str
          sample: db01
        collected_at:
          description: When the snapshot was taken, ISO-8601 UTC.
          type: str
          sample: "2024-05-02T10:14:07Z"
        boot_id:
          description: C(/proc/sys/kernel/random/boot_id); changes at every boot.
          type: str
          sample: 2fbde2b6-f0bb-4ed8-82f3-84adff2f1f68
        source:
          description: C(live) for a live read, C(capture) for a tree under I(proc_root).
          type: str
          sample: live
        os:
          description: What the host runs.
          type: dict
          contains:
            family:
              description: Always C(linux).
              type: str
            name:
              description: Distribution name from C(/etc/os-release).
              type: str
            version:
              description: Distribution version.
              type: str
            build:
              description: Kernel build string (C(/proc/sys/kernel/version)).
              type: str
            arch:
              description: Machine architecture.
              type: str
            kernel:
              description: Kernel release.
              type: str
            ram_bytes:
              description: RAM of the online memory blocks in bytes, null when C(/sys/devices/system/memory) is unreadable.
              type: int
          sample: {family: linux, name: CentOS Linux, version: "7", build: "#1 SMP Tue Aug 22 21:09:27 UTC 2017",
                   arch: x86_64, kernel: 3.10.0-693.el7.x86_64, ram_bytes: 8589934592}
        virt:
          description: The virtualisation platform, its guest tools and its memory balloon.
          type: dict
          contains:
            platform:
              description: One of C(vmware), C(kvm), C(hyperv), C(xen), C(none) (positively bare metal), C(unknown).
              type: str
            tools:
              description: C(name) and C(version) of the guest tools (VMware Tools), null when unknown.
              type: dict
            balloon:
              description:
                - C(driver), C(loaded), C(bytes) (ballooned now) and C(target_bytes); null when no balloon driver is
                  known for the platform. C(loaded) is false when the platform's driver is absent; C(bytes) and
                  C(target_bytes) are null when unreadable.
              type: dict
          sample: {platform: vmware, tools: {name: VMware Tools, version: 10.1.5.59732},
                   balloon: {driver: vmw_balloon, loaded: true, bytes: 18832424960, target_bytes: null}}
        memory:
          description: The memory totals in bytes.
          type: dict
          contains:
            total:
              description: RAM the OS manages (MemTotal; Windows TotalPhysicalMemory).
              type: int
            free:
              description: Free memory (MemFree; Windows free and zero page lists).
              type: int
            available:
              description: Memory available without swapping (MemAvailable; Windows Available Bytes).
              type: int
            used:
              description: C(total - available).
              type: int
            commit_used:
              description: Commit charge (Committed_AS; Windows Committed Bytes).
              type: int
            commit_limit:
              description: Commit limit (CommitLimit; Windows Commit Limit).
              type: int
          sample: {total: 8185937920, free: 128262144, available: 954789888, used: 7231148032,
                   commit_used: 2123546624, commit_limit: 8350183424}
        linux:
          description: The Linux details behind the totals.
          type: dict
          contains:
            meminfo:
              description: Every C(/proc/meminfo) field in bytes (C(HugePages_*) stay page counts).
              type: dict
              sample: {MemTotal: 8185937920, MemAvailable: 954789888, SUnreclaim: 5444485120}
            vmstat:
              description: Every C(/proc/vmstat) counter as printed.
              type: dict
            slab:
              description: The largest slab caches by C(num_objs * objsize) (C(name), C(active_objs), C(num_objs),
                C(objsize), C(bytes)); null when C(/proc/slabinfo) is unreadable.
              type: list
              elements: dict
            processes:
              description: The largest processes by PSS (C(pid), C(name), C(pss), C(rss), C(anon), C(swap)); C(pss) is
                null where only C(/proc/PID/status) was readable.
              type: list
              elements: dict
            tmpfs:
              description: Memory-backed mounts (tmpfs, devtmpfs, ramfs) with C(mount), C(used) and C(size) in bytes.
              type: list
              elements: dict
            deleted_open:
              description:
                - Unlinked files still open on those mounts (C(pid), C(name), C(path), C(bytes) allocated).
                - Empty without a scan when no such file can hold 16 MiB (C(Shmem) below that, no C(ramfs)
                  mount, no huge page in use), since the scan reads every open descriptor of every process.
              type: list
              elements: dict
            dentry_state:
              description: The counters of C(/proc/sys/fs/dentry-state) (C(nr_negative) from Linux 5.0).
              type: dict
            kernel_sources:
              description:
                - "C(allocinfo), C(vmallocinfo), C(kmemleak), C(page_owner) (each null when not read, else the top
                  call sites C({site, func, module, bytes}) with totals and bytes per module), C(modules) (name,
                  size, taint letters, version) and C(trace) (the O(trace_seconds) result)."
              type: dict
        samples:
          description:
            - "The history window followed by this run's samples, oldest first, in the compact form
              C({v, t, boot, s: {series: bytes}}) (series names in C(plugins/module_utils/series.py))."
            - Empty when O(history=false) and O(samples=1).
          type: list
          elements: dict
          sample: [{v: 1, t: "2026-11-23T06:00:00Z", boot: "2fbde2b6-...", s: {"ledger.unaccounted": 5444485120}}]
        captured:
          description:
            - "What was actually read: a dict of artifact name to where it was read, C(live) on the host, else the
              path in the captured tree. An artifact not listed was not read, so its facts are unknown, not absent
              (only a read C(modules) list proves that no balloon driver is loaded)."
            - Artifact names are listed in docs/data-contracts.md.
          type: dict
          sample: {"meminfo": "live", "vmstat": "live", "slabinfo": "live", "modules": "live", "processes": "live"}
        warnings:
          description: What could not be read, and why.
          type: list
          elements: str
          sample: ["slabinfo: /proc/slabinfo permission denied (needs root)"]
    memleak_remediation_ledger:
      description:
        - The remediation ledger, as M(memleak.remediation.remediation_ledger) returns it without an entry.
        - C(path) the file, C(entries) its entries oldest first (empty when it does not exist), C(skipped) lines
          that are not entries, with their line numbers.
      returned: when O(ledger=true)
      type: dict
history_path:
  description: The history file used, when O(history=true) and the read was live.
  returned: when history was used
  type: str
  sample: /var/lib/memleak/history.jsonl
"""

import errno
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memleak.remediation.plugins.module_utils import history as hist
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import kernel_trace
from ansible_collections.memleak.remediation.plugins.module_utils.memory_ledger import memory_ledger
from ansible_collections.memleak.remediation.plugins.module_utils.linux_collect import collect
from ansible_collections.memleak.remediation.plugins.module_utils.remediation_entry import ledger_default_path, read_ledger
from ansible_collections.memleak.remediation.plugins.module_utils.series import compact_sample
from ansible_collections.memleak.remediation.plugins.module_utils.series import to_hours


def _sample(snapshot, top):
    try:
        ledger = memory_ledger(snapshot)
    except (KeyError, TypeError, ValueError) as err:
        snapshot["warnings"].append("history: ledger not computed (%s), sample kept without it" % err)
        ledger = None
    return compact_sample(snapshot, ledger, top)


def _boot_id(module, command):
    rc, out, err = module.run_command(command, environ_update={"LANG": "C", "LC_ALL": "C"})
    lines = out.strip().splitlines()
    if rc != 0 or not lines:
        module.fail_json(msg="boot_id_command %r gave no boot id (rc=%d): %s" % (command, rc, err.strip()))
    return lines[0].strip()


def _record(module, snapshot, in_run):
    """Append the newest sample to the host history; returns (window, path). Never fails the run."""
    params = module.params
    path = params["history_path"] or hist.default_path()
    newest = in_run[-1]
    try:
        if module.check_mode:
            window, warnings = hist.read(path)
            window = window + [newest]
        else:
            window, warnings = hist.append(path, newest, to_hours, params["history_max_samples"],
                                           params["history_max_age_days"] * 24)
    except (IOError, OSError) as err:
        snapshot["warnings"].append("history: cannot write %s: %s; trend limited to this run"
                                    % (path, err.strerror or err))
        return list(in_run), None
    snapshot["warnings"].extend(warnings)
    # Earlier in-run samples are not stored (they would crowd the history) but are fitted now.
    return window[:-1] + list(in_run), path


def _validate(module):
    """The bounds win_pool_facts enforces: a wrong value fails the task, never a traceback or a wiped history."""
    params = module.params
    if not 1 <= params["samples"] <= 60:
        module.fail_json(msg="samples must be between 1 and 60, got %d" % params["samples"])
    interval = params["interval"]
    if not (0 <= interval <= 600):  # also false for nan
        module.fail_json(msg="interval must be between 0 and 600 seconds, got %r" % interval)
    if params["history_max_samples"] < 1:
        module.fail_json(msg="history_max_samples must be 1 or more, got %d" % params["history_max_samples"])
    if params["history_max_age_days"] < 1:
        module.fail_json(msg="history_max_age_days must be 1 or more, got %d" % params["history_max_age_days"])


KMEMLEAK = "/sys/kernel/debug/kmemleak"


def _scan_kmemleak(module):
    """Ask kmemleak for a scan now; returns the warning to add, or None."""
    if module.check_mode:
        return "kmemleak: scan_kmemleak skipped in check mode (the report holds the last periodic scan)"
    try:
        with open(KMEMLEAK, "w") as handle:
            handle.write("scan")
    except (IOError, OSError) as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return "kmemleak: scan_kmemleak asked, but %s is not present (CONFIG_DEBUG_KMEMLEAK, debugfs)" % KMEMLEAK
        return "kmemleak: scan of %s failed: %s" % (KMEMLEAK, err.strerror or err)
    return None


def _trace(module, run_command, which):
    """(trace or None, warnings) of the opt-in bpftrace trace."""
    seconds = module.params["trace_seconds"]
    if module.check_mode and not module.params["trace_in_check_mode"]:
        return None, ["trace: trace_seconds skipped in check mode (set trace_in_check_mode to trace anyway)"]

    def read(path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    return kernel_trace.run(seconds, run_command, which, top=module.params["top"], read=read)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            top=dict(type="int", default=15),
            proc_root=dict(type="path", default="/"),
            host=dict(type="str"),
            samples=dict(type="int", default=1),
            interval=dict(type="float", default=5),
            history=dict(type="bool", default=True),
            history_path=dict(type="path"),
            boot_id_command=dict(type="str"),
            ledger=dict(type="bool", default=False),
            ledger_path=dict(type="path"),
            history_max_samples=dict(type="int", default=hist.MAX_SAMPLES),
            history_max_age_days=dict(type="int", default=hist.MAX_AGE_HOURS // 24),
            trace_seconds=dict(type="int", default=0),
            trace_in_check_mode=dict(type="bool", default=False),
            scan_kmemleak=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    top = module.params["top"]
    if top < 1:
        module.fail_json(msg="top must be 1 or more, got %d" % top)

    def run_command(argv):
        return module.run_command(argv, environ_update={"LANG": "C", "LC_ALL": "C"})

    def which(name):
        return module.get_bin_path(name)

    _validate(module)

    if module.params["trace_seconds"] < 0:
        module.fail_json(msg="trace_seconds must be 0 (no trace) or more, got %d" % module.params["trace_seconds"])
    live = module.params["proc_root"] in ("/", None)
    notes = []
    if module.params["scan_kmemleak"] and live:
        note = _scan_kmemleak(module)
        if note:
            notes.append(note)
    trace = None
    if module.params["trace_seconds"] and live:
        trace, trace_notes = _trace(module, run_command, which)
        notes.extend(trace_notes)

    in_run = []
    try:
        for index in range(module.params["samples"]):
            if index:
                time.sleep(module.params["interval"])
            snapshot = collect(proc_root=module.params["proc_root"], top=top, host=module.params["host"],
                               run_command=run_command, which=which)
            if module.params["boot_id_command"] and snapshot["source"] == "live":
                snapshot["boot_id"] = _boot_id(module, module.params["boot_id_command"])
            in_run.append(_sample(snapshot, top))
    except ParseError as err:
        module.fail_json(msg=str(err))

    snapshot["warnings"].extend(notes)
    if trace is not None:
        snapshot["linux"]["kernel_sources"]["trace"] = trace
        snapshot.setdefault("captured", {})["kernel_trace"] = "live"
    result = {"changed": False}
    if module.params["history"] and snapshot["source"] == "live":
        snapshot["samples"], path = _record(module, snapshot, in_run)
        if path:
            result["history_path"] = path
    elif len(in_run) > 1:
        snapshot["samples"] = in_run
    facts = {"memleak_snapshot": snapshot}
    if module.params["ledger"]:
        facts["memleak_remediation_ledger"] = _ledger(module)
    module.exit_json(ansible_facts=facts, **result)


def _ledger(module):
    """The remediation ledger as remediation_ledger returns it without an entry: {path, entries, skipped}."""
    path = module.params["ledger_path"] or ledger_default_path(module.params["history_path"])
    try:
        entries, warnings = read_ledger(path)
    except (IOError, OSError) as err:
        module.fail_json(msg="remediation ledger %s: %s" % (path, err.strerror or err), path=path)
    for warning in warnings:
        module.warn(warning)
    return {"path": path, "entries": entries, "skipped": warnings}


if __name__ == "__main__":
    main()
