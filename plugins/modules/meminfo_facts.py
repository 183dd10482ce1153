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
    type: int
    default: 1
  interval:
    description: Seconds between two in-run samples.
    type: float
    default: 5
  history:
    description:
      - Keep a compact sample of every run in a history file on the host and return the recent
        window in C(memleak_snapshot.samples), so scheduled runs prove growth with no external store.
      - Only live reads are recorded; in check mode the history is read but not written.
    type: bool
    default: true
  history_path:
    description:
      - The history file. Default C(/var/lib/memleak/history.jsonl) as root, else
        C($XDG_STATE_HOME/memleak/history.jsonl) (C(~/.local/state/memleak/history.jsonl)).
    type: path
  boot_id_command:
    description:
      - A command whose first output line is the boot identifier, used instead of
        C(/proc/sys/kernel/random/boot_id) on a live read. Series are cut at every change of it.
      - For hosts whose boot_id is not their own (some containers), and for tests that simulate a restart
        together with the C(remediate) role's C(memleak_boot_id_command). Run without a shell.
    type: str
  ledger:
    description:
      - Also read the remediation ledger of M(memleak.remediation.remediation_ledger) and return it as the fact
        C(memleak_remediation_ledger) (C(path), C(entries), C(skipped)): the C(remediate) role gets the snapshot
        and the ledger from one module on the host. Only reads it.
    type: bool
    default: false
  ledger_path:
    description:
      - The ledger file, with O(ledger). Default as for M(memleak.remediation.remediation_ledger): C(remediation.jsonl)
        beside O(history_path) when that is given, else beside the default history.
    type: path
  history_max_samples:
    description: Samples the history keeps (a year of 6-hourly runs is 1460).
    type: int
    default: 1500
  history_max_age_days:
    description: Samples older than this are dropped from the history.
    type: int
    default: 400
attributes:
  check_mode:
    support: full
    description: The module only reads the host, apart from appending to the history file, which check mode skips.
  diff_mode:
    support: none
    description: No file is shown as a diff; the history gains one line per run.
  facts:
    support: full
    description: Returns C(ansible_facts.memleak_snapshot).
  platform:
    support: full
    platforms: posix
    description: Linux only.
notes:
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
          description: Distribution (from os-release), kernel release and build, architecture, and
            the RAM of the online memory blocks in bytes.
          type: dict
          sample: {family: linux, name: CentOS Linux, version: "7", build: "#1 SMP Tue Aug 22 21:09:27 UTC 2017",
                   arch: x86_64, kernel: 3.10.0-693.el7.x86_64, ram_bytes: 8589934592}
        virt:
          description:
            - C(platform) is one of C(vmware), C(kvm), C(hyperv), C(xen), C(none), C(unknown).
            - C(tools) is the VMware Tools version when C(vmware-toolbox-cmd) answers, else null.
            - C(balloon) is null when no balloon driver is known for the platform; C(loaded) is false
              when the platform's driver is absent; C(bytes) and C(target_bytes) are null when unreadable.
          type: dict
          sample: {platform: vmware, tools: {name: VMware Tools, version: 10.1.5.59732},
                   balloon: {driver: vmw_balloon, loaded: true, bytes: 18832424960, target_bytes: null}}
        memory:
          description: MemTotal, MemFree, MemAvailable, used, Committed_AS and CommitLimit in bytes.
          type: dict
          sample: {total: 8185937920, free: 128262144, available: 954789888, used: 7231148032,
                   commit_used: 2123546624, commit_limit: 8350183424}
        linux:
          description:
            - C(meminfo) every field in bytes; C(vmstat) every counter as printed.
            - C(slab) the largest caches by C(num_objs * objsize), null when C(/proc/slabinfo) is unreadable.
            - C(processes) the largest by PSS (C(pss) null where only C(/proc/PID/status) was readable).
            - C(tmpfs) memory-backed mounts with C(used) and C(size).
            - C(deleted_open) unlinked files still open on those mounts (C(bytes) allocated). Empty
              without a scan when no such file can hold 16 MiB (C(Shmem) below that, no C(ramfs)
              mount, no huge page in use), since the scan reads every open descriptor of every process.
            - C(dentry_state) the dentry cache counters; C(nr_negative) from Linux 5.0.
          type: dict
        samples:
          description:
            - "The history window followed by this run's samples, oldest first, in the compact form
              C({v, t, boot, s: {series: bytes}}) (series names in C(plugins/module_utils/series.py))."
            - Empty when O(history=false) and O(samples=1).
          type: list
          elements: dict
          sample: [{v: 1, t: "2026-11-23T06:00:00Z", boot: "2fbde2b6-...", s: {"ledger.unaccounted": 5444485120}}]
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

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.memleak.remediation.plugins.module_utils import history as hist
from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
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

    if module.params["samples"] < 1 or module.params["interval"] < 0:
        module.fail_json(msg="samples must be 1 or more and interval 0 or more")

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
